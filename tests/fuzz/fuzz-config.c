/* libFuzzer target over configuration parsing: the input is written to a
 * temporary file and loaded with config_load() (GKeyFile, inline
 * comments, every key's validation, calls with deadlines and time zones),
 * and its first line is read as a size (config_parse_size).  Checks what
 * config.h promises: a failure is a one-line message naming the file, a
 * success a configuration with an [imap] host.  Seeds: conf/puljed.conf
 * and fixtures/fuzz-config/; tests/fuzz/config.dict has the keys. */
#include "config.h"

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
		config_free(cfg);
	}
	g_free(error);

	g_autofree char *line = g_strndup((const char *)data, size);
	line[strcspn(line, "\n")] = '\0';
	uint64_t v = 0;
	(void)config_parse_size(line, &v);
	return 0;
}
