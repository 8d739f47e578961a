/* libFuzzer target over the whole pure path of one message: raw bytes ->
 * parse (mime) -> classify (rules) -> extract -> insert into a database
 * (store, in memory), exactly as ingest does after a fetch.  Built with
 * clang -fsanitize=fuzzer,address,undefined (meson -Dfuzz=true); seeded
 * from fixtures/mime.  Any crash it finds becomes a fixture. */
#include "assess.h"
#include "config.h"
#include "store.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct config *cfg;
static struct store *st;
static uint32_t next_uid = 1;

static const char conf_text[] =
	"[imap]\nhost = fuzz.invalid\nusername = fuzz\n"
	"[limits]\nmax_message_time = 60\n"
	"[evidence]\ntrusted_relays = *.example.com; mx*.example.dk; *.prod.outlook.com\n"
	"[call digitale-kompetencer-2022]\n"
	"subject = Puljeopslag 2022: Styrkelse af digitale kompetencer\n"
	"deadline = 2022-07-01\ndeadline_basis = edge\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fresh in-memory database every so many messages: it keeps every
 * message it records, and a long run would otherwise end at libFuzzer's
 * memory limit (1.3 GB after 90,000 runs). */
#define MESSAGES_PER_STORE 5000

static void open_store(void)
{
	g_autofree char *error = NULL;
	if (store_open(":memory:", STORE_READ_WRITE, &st, &error) < 0 || store_mailbox_reset(st, "INBOX", 1) < 0) {
		fprintf(stderr, "fuzz: %s\n", error ? error : store_errmsg(st));
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char path[] = "/tmp/puljed-fuzz-XXXXXX";
	int fd = mkstemp(path);
	g_autofree char *error = NULL;
	if (fd < 0 || write(fd, conf_text, sizeof(conf_text) - 1) != (ssize_t)(sizeof(conf_text) - 1)) {
		perror("fuzz: config");
		abort();
	}
	close(fd);
	if (config_load(path, &cfg, &error) < 0) {
		fprintf(stderr, "fuzz: %s\n", error);
		abort();
	}
	unlink(path);
	open_store();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (next_uid % MESSAGES_PER_STORE == 0) {
		store_close(st);
		open_store();
	}
	GByteArray *raw = g_byte_array_sized_new((guint)size);
	g_byte_array_append(raw, data, (guint)size);
	struct assess_input in = {
		.mailbox = "INBOX",
		.uidvalidity = 1,
		.uid = next_uid++,
		.has_arrival = true,
		.arrival = 1655280000 + (int64_t)(size % 5000000), /* either side of the deadline */
		.now = 1796083200,                                 /* 2026-12-01: an input replays alike */
		.internaldate = "15-Jun-2022 10:00:00 +0200",
		.server_size = size,
		.raw = raw,
		.clock = g_get_monotonic_time,
		.started = g_get_monotonic_time(),
	};
	struct assessment a;
	assess_message(cfg, &in, &a);
	int64_t id = 0;
	enum store_outcome outcome;
	if (store_record(st, &a.msg, a.atts, a.n_atts, &id, &outcome) < 0) {
		fprintf(stderr, "fuzz: store_record: %s\n", store_errmsg(st));
		abort(); /* every message must be recordable */
	}
	assess_clear(&a);
	g_byte_array_free(raw, TRUE);
	return 0;
}
