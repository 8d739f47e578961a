/* libFuzzer target over configuration parsing: the input is written to a
 * temporary file and loaded with config_load() (GKeyFile, inline
 * comments, every key's validation, calls with deadlines and time zones),
 * and its first line is read as a size (config_parse_size).  Checks what
 * config.h promises: a failure is a one-line message naming the file, a
 * success a configuration with an [imap] host.  Seeds: conf/puljed.conf
 * and fixtures/fuzz-config/; tests/fuzz/config.dict has the keys. */
#include "config.h"
#include "rules.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/puljed-fuzz-config-XXXXXX";
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = mkstemp(path);
	if (fd < 0) {
		perror("fuzz: mkstemp");
		abort();
	}
	atexit(remove_file);
	return 0;
}

/* What config.h promises of a loaded [receipts]. */
static void check_receipts(const struct config_receipts *rc)
{
	if (rc->send && (!rc->smtp_host || !rc->from))
		abort();
	if (rc->from) {
		/* from_addr is local@from_domain, the domain in lower case. */
		if (!rc->from_addr || !rc->from_domain || (rc->from_name && !*rc->from_name))
			abort();
		const char *at = strrchr(rc->from_addr, '@');
		if (!at || at == rc->from_addr || strcmp(at + 1, rc->from_domain) != 0)
			abort();
		for (const char *p = rc->from_domain; *p; p++)
			if (g_ascii_isupper(*p))
				abort();
	} else if (rc->from_addr || rc->from_domain || rc->from_name) {
		abort();
	}
	if (!rc->statuses || (rc->statuses & (1u << RULES_UNRELATED)) || rc->statuses >= (1u << 4))
		abort();
	if (!!rc->sign_cert != !!rc->sign_key || !!rc->template != !!rc->template_path)
		abort();
	if (rc->template && (strlen(rc->template) > CONFIG_TEMPLATE_MAX || !g_utf8_validate(rc->template, -1, NULL)))
		abort();
	if (rc->timeout < 1 || rc->retry_min < 1 || rc->retry_max < rc->retry_min || rc->give_up < rc->retry_max)
		abort();
	if (rc->auth == CONFIG_AUTH_XOAUTH2 && (!rc->token_file || !rc->username))
		abort();
	if (rc->smtp_port == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz: write");
		abort();
	}
	struct config *cfg = NULL;
	char *error = NULL;
	int r = config_load(path, &cfg, &error);
	if (r < 0) {
		if (cfg || !error || strchr(error, '\n') || !g_str_has_prefix(error, path))
			abort(); /* "PATH: [group] key: reason", one line */
	} else {
		if (r != 0 || error || !cfg || !cfg->imap.host)
			abort();
		check_receipts(&cfg->receipts);
		config_free(cfg);
	}
	g_free(error);

	g_autofree char *line = g_strndup((const char *)data, size);
	line[strcspn(line, "\n")] = '\0';
	uint64_t v = 0;
	(void)config_parse_size(line, &v);
	return 0;
}
