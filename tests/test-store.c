/* Unit tests for store: schema, transactional record + watermark,
 * exactly-once, duplicate detection, read-only access, file modes. */
#include "store.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

static char *tmpdir;

static char *db_path(const char *name)
{
	return g_build_filename(tmpdir, name, NULL);
}

static struct store *open_rw(const char *path)
{
	struct store *st = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_WRITE, &st, &err), ==, 0);
	return st;
}

/* A fresh database with mailbox INBOX at UIDVALIDITY 42. */
static struct store *open_inbox(const char *path)
{
	struct store *st = open_rw(path);
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 42), ==, 0);
	return st;
}

static struct store_message msg(uint32_t uid, const char *raw)
{
	static char sha[65];
	g_autofree char *s = g_compute_checksum_for_string(G_CHECKSUM_SHA256, raw, -1);
	g_strlcpy(sha, s, sizeof(sha));
	return (struct store_message){
		.mailbox = "INBOX",
		.uidvalidity = 42,
		.uid = uid,
		.has_received = true,
		.received_epoch = 1655280720,
		.received_at = "2022-06-15T10:12:00+02:00",
		.internaldate = "15-Jun-2022 10:12:00 +0200",
		.server_size = strlen(raw),
		.raw = (const uint8_t *)raw,
		.raw_size = strlen(raw),
		.raw_sha256 = sha,
		.subject = "Puljeopslag 2022: Styrkelse af digitale kompetencer - Region Midtjylland",
		.call = "digitale-kompetencer-2022",
		.applicant = "Region Midtjylland",
		.on_time = 1,
		.status = RULES_ACCEPTED,
		.reasons = "[\"subject:exact\"]",
	};
}

static char *sha_of(const void *data, size_t size)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);
}

static int count_cb(const struct store_message *m, void *userdata)
{
	GPtrArray *seen = userdata;
	g_ptr_array_add(seen, g_strdup_printf("%u:%s:%" G_GINT64_FORMAT, m->uid, record_status_name(m->status),
					      m->duplicate_of));
	return 0;
}

static void test_record_and_watermark(void)
{
	g_autofree char *path = db_path("a.db");
	struct store *st = open_rw(path);
	uint32_t uv = 0, last = 0;
	g_assert_cmpint(store_mailbox_get(st, "INBOX", &uv, &last), ==, -ENOENT);
	/* A record without mailbox state is refused: the watermark must move
	 * in the same transaction. */
	struct store_message m = msg(1, "raw one");
	int64_t id = -7;
	enum store_outcome inserted = STORE_REKEYED;
	g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &inserted), ==, -ESTALE);
	/* Not reported as inserted: the out-parameters stay as the caller set
	 * them (they were set to STORE_EXISTED before the error convention). */
	g_assert_cmpint(inserted, !=, STORE_INSERTED);
	g_assert_cmpint(inserted, ==, STORE_REKEYED);
	g_assert_cmpint(id, ==, -7);

	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 42), ==, 0);
	const uint8_t pdf[] = "%PDF-1.4 test";
	struct store_attachment_in att = { "Ansøgning.pdf",
					   "application/pdf",
					   "2",
					   pdf,
					   sizeof(pdf) - 1,
					   "d663640088750cf16276d623c2588d7233f2b84b45f4b2e20832f47b16aa5618" };
	g_assert_cmpint(store_record(st, &m, &att, 1, &id, &inserted), ==, 0);
	g_assert_true(inserted);
	g_assert_cmpint(id, >, 0);
	g_assert_cmpint(store_mailbox_get(st, "INBOX", &uv, &last), ==, 0);
	g_assert_cmpuint(uv, ==, 42);
	g_assert_cmpuint(last, ==, 1);

	/* The same UID again: nothing changes. */
	int64_t id2 = 0;
	g_assert_cmpint(store_record(st, &m, &att, 1, &id2, &inserted), ==, 0);
	g_assert_false(inserted);

	/* Same raw bytes under another UID: a duplicate delivery. */
	struct store_message m3 = msg(3, "raw one");
	g_assert_cmpint(store_record(st, &m3, NULL, 0, &id2, &inserted), ==, 0);
	g_assert_true(inserted);
	struct store_message m2 = msg(2, "raw two");
	g_assert_cmpint(store_record(st, &m2, NULL, 0, &id2, &inserted), ==, 0);
	/* The watermark never goes back. */
	g_assert_cmpint(store_mailbox_get(st, "INBOX", &uv, &last), ==, 0);
	g_assert_cmpuint(last, ==, 3);

	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(st, 0, false, count_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "1:accepted:0");
	g_autofree char *dup = g_strdup_printf("3:accepted:%" G_GINT64_FORMAT, id);
	g_assert_cmpstr(g_ptr_array_index(seen, 1), ==, dup);
	g_assert_cmpstr(g_ptr_array_index(seen, 2), ==, "2:accepted:0");
	g_ptr_array_free(seen, TRUE);

	/* A new UIDVALIDITY starts the watermark again; old records stay. */
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 43), ==, 0);
	g_assert_cmpint(store_mailbox_get(st, "INBOX", &uv, &last), ==, 0);
	g_assert_cmpuint(uv, ==, 43);
	g_assert_cmpuint(last, ==, 0);

	struct store_status s;
	g_assert_cmpint(store_poll_done(st, 1000, NULL, 7), ==, 0);
	g_assert_cmpint(store_poll_done(st, 2000, "connection refused", -1), ==, 0);
	g_assert_cmpint(store_get_status(st, &s), ==, 0);
	g_assert_cmpint(s.total, ==, 3);
	g_assert_cmpint(s.by_status[0], ==, 3);
	g_assert_cmpint(s.duplicates, ==, 1);
	g_assert_cmpint(s.last_poll_at, ==, 2000);
	g_assert_cmpint(s.last_success_at, ==, 1000);
	g_assert_cmpstr(s.last_error, ==, "connection refused");
	g_assert_cmpint(s.server_exists, ==, 7);
	g_assert_cmpint(s.recorded_current, ==, 0); /* UIDVALIDITY 43 has no records yet */
	g_free(s.last_error);
	store_close(st);

	/* File mode: never world-readable. */
	struct stat sb;
	g_assert_cmpint(stat(path, &sb), ==, 0);
	g_assert_cmpint(sb.st_mode & 0007, ==, 0);
}

static int attachment_cb(const struct store_attachment *a, void *userdata)
{
	GString *s = userdata;
	g_string_append_printf(s, "%s|%s|%" G_GUINT64_FORMAT "|%.*s", a->filename, a->content_type, a->size,
			       (int)a->size, (const char *)a->data);
	return 0;
}

static int sig_facts_cb(const struct store_attachment *a, void *userdata)
{
	GString *s = userdata;
	g_string_append_printf(s, "%d:%s|%s|%s|%s|%d;", a->seq, record_signature_name(a->signature),
			       a->signature_reason ? a->signature_reason : "-",
			       a->signature_validated_at ? a->signature_validated_at : "-",
			       a->signature_time_source ? a->signature_time_source : "-", a->modified_after_signing);
	return 0;
}

/* Schema 8: how each verdict was reached, kept beside the attachment,
 * replaced by a reclassification, and the S/MIME facts on the message. */
static void test_signature_facts(void)
{
	g_autofree char *path = db_path("sig.db");
	struct store *st = open_inbox(path);
	struct store_message m = msg(1, "raw signed");
	m.has_smime = true;
	m.smime = CMS_INVALID;
	m.smime_reason = "certificate not valid at 2022-06-15T10:31:00Z";
	m.smime_validated_at = "2022-06-15T12:31:00+02:00";
	m.smime_time_source = "arrival";
	const uint8_t pdf[] = "%PDF-1.4 signed";
	g_autofree char *sha = sha_of(pdf, sizeof(pdf) - 1);
	struct store_attachment_in att[2] = {
		{ "a.pdf", "application/pdf", "2", pdf, sizeof(pdf) - 1, sha, .signature = CMS_VALID,
		  .signature_reason = "certificate expired since (validated at arrival)",
		  .signature_validated_at = "2022-06-15T12:31:00+02:00", .signature_time_source = "arrival",
		  .modified_after_signing = 0, .covers_whole_file = 1, .signer_trusted = -1 },
		{ "b.txt", "text/plain", "3", pdf, 4, sha, .signature = CMS_NONE, .modified_after_signing = -1,
		  .covers_whole_file = -1, .signer_trusted = -1 },
	};
	int64_t id = 0;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, att, 2, &id, &out), ==, 0);
	g_autoptr(GString) got = g_string_new(NULL);
	g_assert_cmpint(store_foreach_attachment(st, id, false, sig_facts_cb, got), ==, 0);
	g_assert_cmpstr(got->str, ==,
			"1:valid|certificate expired since (validated at arrival)|2022-06-15T12:31:00+02:00|arrival|0;"
			"2:none|-|-|-|-1;");
	att[0].signature = CMS_INVALID;
	att[0].signature_reason = "digest mismatch";
	att[0].signature_validated_at = NULL;
	att[0].signature_time_source = NULL;
	att[0].modified_after_signing = 1;
	m.smime = CMS_VALID;
	m.smime_reason = NULL;
	m.smime_time_source = "timestamp";
	g_assert_cmpint(store_begin(st), ==, 0);
	g_assert_cmpint(store_update_classification(st, id, &m, att, 2), ==, 0);
	g_assert_cmpint(store_commit(st), ==, 0);
	g_string_truncate(got, 0);
	g_assert_cmpint(store_foreach_attachment(st, id, false, sig_facts_cb, got), ==, 0);
	g_assert_cmpstr(got->str, ==, "1:invalid|digest mismatch|-|-|1;2:none|-|-|-|-1;");
	store_close(st);
}

static void test_read_only(void)
{
	g_autofree char *path = db_path("b.db");
	struct store *st = open_rw(path);
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 7), ==, 0);
	struct store_message m = msg(5, "raw five");
	m.uidvalidity = 7;
	const uint8_t pdf[] = "%PDF-1.4 x";
	g_autofree char *sha = sha_of(pdf, sizeof(pdf) - 1);
	struct store_attachment_in att = { "a.pdf", "application/pdf", "1", pdf, sizeof(pdf) - 1, sha };
	int64_t id;
	enum store_outcome ins;
	g_assert_cmpint(store_record(st, &m, &att, 1, &id, &ins), ==, 0);

	/* A reader while the writer is open (WAL). */
	struct store *ro = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_ONLY, &ro, &err), ==, 0);
	GString *s = g_string_new(NULL);
	g_assert_cmpint(store_foreach_attachment(ro, id, true, attachment_cb, s), ==, 0);
	g_assert_cmpstr(s->str, ==, "a.pdf|application/pdf|10|%PDF-1.4 x");
	g_string_free(s, TRUE);
	g_assert_cmpint(store_foreach_message(ro, 999, false, count_cb, NULL), ==, -ENOENT);
	/* The reader cannot write. */
	g_assert_cmpint(store_mailbox_reset(ro, "INBOX", 1), <, 0);
	store_close(ro);
	store_close(st);

	/* Not a puljed database. */
	g_autofree char *missing = db_path("nothing.db");
	g_autofree char *err2 = NULL;
	g_assert_cmpint(store_open(missing, STORE_READ_ONLY, &ro, &err2), <, 0);
	g_assert_nonnull(err2);
}

/* The error convention: on failure *ret_store stays as the caller set it
 * and *ret_error is set; on success *ret_error is not touched. */
static void test_open_out_parameters(void)
{
	struct store *const sentinel = (struct store *)&sentinel;
	struct store *st = sentinel;
	g_autofree char *missing = db_path("missing.db");
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(missing, STORE_READ_ONLY, &st, &err), ==, -ENOENT);
	g_assert_true(st == sentinel);
	g_assert_nonnull(err);

	g_autofree char *path = db_path("out.db");
	char *const no_error = (char *)"untouched";
	char *err2 = no_error;
	g_assert_cmpint(store_open(path, STORE_READ_WRITE, &st, &err2), ==, 0);
	g_assert_true(st != sentinel);
	g_assert_true(err2 == no_error);
	store_close(st);

	char *err3 = NULL;
	g_assert_cmpint(store_create_at_version(path, 0, &err3), <, 0);
	g_assert_nonnull(err3);
	g_free(err3);
}

static void test_schema_version(void)
{
	g_autofree char *path = db_path("c.db");
	store_close(open_rw(path));
	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	sqlite3_stmt *s;
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int(s, 0), ==, STORE_SCHEMA_VERSION);
	sqlite3_finalize(s);
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpstr((const char *)sqlite3_column_text(s, 0), ==, "wal");
	sqlite3_finalize(s);
	/* A database from the future is refused, not damaged. */
	g_assert_cmpint(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	struct store *st = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_WRITE, &st, &err), <, 0);
	g_assert_nonnull(strstr(err, "99"));
}

static void test_rollback_on_failure(void)
{
	/* An attachment insert that fails leaves neither the message nor the
	 * watermark behind. */
	g_autofree char *path = db_path("d.db");
	struct store *st = open_inbox(path);
	struct store_message m = msg(9, "raw nine");
	struct store_attachment_in bad = { "x", NULL /* content_type NOT NULL */, "1", (const uint8_t *)"x", 1, "h" };
	/* Out-parameters stay as the caller set them on failure. */
	int64_t id = -7;
	enum store_outcome ins = STORE_REKEYED;
	g_assert_cmpint(store_record(st, &m, &bad, 1, &id, &ins), <, 0);
	g_assert_cmpint(ins, !=, STORE_INSERTED);
	g_assert_cmpint(ins, ==, STORE_REKEYED);
	g_assert_cmpint(id, ==, -7);
	uint32_t uv, last;
	g_assert_cmpint(store_mailbox_get(st, "INBOX", &uv, &last), ==, 0);
	g_assert_cmpuint(last, ==, 0);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(st, 0, false, count_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 0);
	g_ptr_array_free(seen, TRUE);
	store_close(st);
}

static size_t count_records(const char *path)
{
	/* Through a connection of its own: what a reader (puljectl) sees. */
	struct store *ro = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_ONLY, &ro, &err), ==, 0);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(ro, 0, false, count_cb, seen), ==, 0);
	size_t n = seen->len;
	g_ptr_array_free(seen, TRUE);
	store_close(ro);
	return n;
}

static void test_batch(void)
{
	/* Records in a batch (store_begin): none is seen by a reader, nor is
	 * the watermark moved, before store_commit(); a record that fails is
	 * undone alone and the batch's earlier ones commit; a batch rolled
	 * back leaves nothing. */
	g_autofree char *path = db_path("batch.db");
	struct store *st = open_inbox(path);
	int64_t id;
	enum store_outcome out;
	uint32_t uv, last;
	g_assert_cmpint(store_begin(st), ==, 0);
	struct store_message m1 = msg(1, "batch one");
	g_assert_cmpint(store_record(st, &m1, NULL, 0, &id, &out), ==, 0);
	g_assert_cmpint(out, ==, STORE_INSERTED);
	struct store_message m2 = msg(2, "batch two");
	g_assert_cmpint(store_record(st, &m2, NULL, 0, &id, &out), ==, 0);
	g_assert_cmpuint(count_records(path), ==, 0);
	struct store_message m3 = msg(3, "batch three");
	struct store_attachment_in bad = { "x", NULL /* content_type NOT NULL */, "1", (const uint8_t *)"x", 1, "h" };
	g_assert_cmpint(store_record(st, &m3, &bad, 1, &id, &out), <, 0);
	g_assert_cmpint(store_commit(st), ==, 0);
	g_assert_cmpuint(count_records(path), ==, 2);
	g_assert_cmpint(store_mailbox_get(st, "INBOX", &uv, &last), ==, 0);
	g_assert_cmpuint(last, ==, 2);

	g_assert_cmpint(store_begin(st), ==, 0);
	g_assert_cmpint(store_record(st, &m3, NULL, 0, &id, &out), ==, 0);
	store_rollback(st);
	g_assert_cmpuint(count_records(path), ==, 2);
	g_assert_cmpint(store_mailbox_get(st, "INBOX", &uv, &last), ==, 0);
	g_assert_cmpuint(last, ==, 2);
	/* Nothing open: a commit says so instead of succeeding. */
	g_assert_cmpint(store_commit(st), <, 0);
	/* Outside a batch, a record still commits itself. */
	g_assert_cmpint(store_record(st, &m3, NULL, 0, &id, &out), ==, 0);
	g_assert_cmpuint(count_records(path), ==, 3);
	store_close(st);
}

static int action_cb(const struct store_message *m, void *userdata)
{
	GPtrArray *seen = userdata;
	g_ptr_array_add(seen, g_strdup_printf("%u:%s:%s:%s:%d", m->uid, m->server_action ? m->server_action : "-",
					      m->server_action_kind ? m->server_action_kind : "-",
					      m->server_action_target ? m->server_action_target : "-",
					      m->server_action_at != 0));
	return 0;
}

static void test_actions(void)
{
	/* The promise of a server action is committed with the record; only
	 * store_actions_done() fulfils it, for that mailbox and UIDVALIDITY. */
	g_autofree char *path = db_path("e.db");
	struct store *st = open_inbox(path);
	int64_t id;
	enum store_outcome ins;
	for (uint32_t uid = 1; uid <= 4; uid++) {
		g_autofree char *raw = g_strdup_printf("raw %u", uid);
		struct store_message m = msg(uid, raw);
		if (uid != 3) /* 3: recorded without body */
			m.promises[m.n_promises++] = STORE_SERVER_ACTION_PROMISE;
		g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &ins), ==, 0);
	}
	g_autofree struct store_action *pending = NULL;
	size_t n = 0;
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 42, &pending, &n), ==, 0);
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmpuint(pending[0].uid, ==, 1);
	g_assert_cmpuint(pending[1].uid, ==, 2);
	g_assert_cmpuint(pending[2].uid, ==, 4);
	g_autofree struct store_action *other = NULL;
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 43, &other, &n), ==, 0);
	g_assert_cmpuint(n, ==, 0);

	struct store_status status;
	const int64_t all[] = { pending[0].id, pending[1].id, pending[2].id };
	g_assert_cmpint(store_actions_failed(st, all, 3, "UID MOVE refused: no such folder", 1699999999), ==, 0);
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.actions_pending, ==, 3);
	g_assert_cmpstr(status.last_action_error, ==, "UID MOVE refused: no such folder");
	g_free(status.last_error);
	g_free(status.last_action_error);

	/* Done for 1 and 4 (2 stays pending); a repeat is harmless. */
	const int64_t done[] = { pending[0].id, pending[2].id };
	g_assert_cmpint(store_actions_done(st, done, 2, "move", "Behandlet", 1700000000), ==, 0);
	g_assert_cmpint(store_actions_done(st, done, 2, "move", "Andet", 1700000001), ==, 0);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(st, 0, false, action_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 4);
	g_assert_cmpstr(seen->pdata[0], ==, "1:done:move:Behandlet:1");
	g_assert_cmpstr(seen->pdata[1], ==, "2:pending:-:-:0");
	g_assert_cmpstr(seen->pdata[2], ==, "3:-:-:-:0");
	g_assert_cmpstr(seen->pdata[3], ==, "4:done:move:Behandlet:1");
	g_ptr_array_free(seen, TRUE);
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.actions_pending, ==, 1);
	g_assert_null(status.last_action_error); /* cleared by success */
	g_free(status.last_error);
	store_close(st);
}

static void test_rekey(void)
{
	/* The mailbox is recreated: the same messages come back under a new
	 * UIDVALIDITY with new UIDs.  Each keeps its one record; a message
	 * delivered twice pairs off one to one; new mail is a new record. */
	g_autofree char *path = db_path("g.db");
	struct store *st = open_rw(path);
	int64_t id, first = 0;
	enum store_outcome out;
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 42), ==, 0);
	const char *raws[] = { "alpha", "beta", "alpha" };
	for (uint32_t i = 0; i < 3; i++) {
		struct store_message m = msg(10 + i, raws[i]);
		g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
		g_assert_cmpint(out, ==, STORE_INSERTED);
		if (!first)
			first = id;
	}
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 77), ==, 0);
	const char *again[] = { "beta", "alpha", "alpha", "gamma" };
	const enum store_outcome want[] = { STORE_REKEYED, STORE_REKEYED, STORE_REKEYED, STORE_INSERTED };
	for (uint32_t i = 0; i < 4; i++) {
		struct store_message m = msg(1 + i, again[i]);
		m.uidvalidity = 77;
		g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
		g_assert_cmpint(out, ==, want[i]);
		if (i == 1)
			g_assert_cmpint(id, ==, first); /* the oldest "alpha" first */
	}
	/* Once re-keyed, the same UID again is simply known. */
	struct store_message m = msg(2, "alpha");
	m.uidvalidity = 77;
	g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
	g_assert_cmpint(out, ==, STORE_EXISTED);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(st, 0, false, count_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 4); /* alpha, beta, alpha (dup), gamma */
	g_ptr_array_free(seen, TRUE);
	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	sqlite3_stmt *s;
	sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM messages WHERE uidvalidity = 77 AND prior_keys LIKE '42:%'", -1,
			   &s, NULL);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int(s, 0), ==, 3);
	sqlite3_finalize(s);
	sqlite3_close(db);
	store_close(st);
}

static int raw_cb(const struct store_message *m, void *userdata)
{
	GPtrArray *seen = userdata;
	g_ptr_array_add(
		seen, g_strdup_printf("%u:%.*s:%s:%s", m->uid, (int)m->raw_size, m->raw ? (const char *)m->raw : "",
				      m->server_action ? m->server_action : "-", m->prior_keys ? m->prior_keys : "-"));
	return 0;
}

static int att_cb(const struct store_attachment *a, void *userdata)
{
	GPtrArray *seen = userdata;
	g_ptr_array_add(seen, g_strdup_printf("%s:%.*s:%s", a->filename, (int)a->size, (const char *)a->data,
					      record_signature_name(a->signature)));
	return 0;
}

/* One stored record's verdicts as "status|match|kind|smime;signature". */
static int verdicts_cb(const struct store_message *m, void *userdata)
{
	g_string_append_printf(userdata, "%s|%s|%s|%s;", record_status_name(m->status),
			       m->match == RULES_MATCH_NONE ? "-" : record_match_name(m->match),
			       m->has_kind ? record_kind_name(m->kind) : "-",
			       m->has_smime ? record_signature_name(m->smime) : "-");
	return 0;
}

static int sig_cb(const struct store_attachment *a, void *userdata)
{
	g_string_append(userdata, record_signature_name(a->signature));
	return 0;
}

/* The verdicts are enums in the structs and the same words as ever in
 * the database; a row with words not ours (a newer puljed's, an edited
 * database) or none (from before schema 2 and 3) is still read, the
 * cautious way: a kind not ours as not recorded, a match as none, a
 * signature as invalid; NULL kind and S/MIME as not recorded, a NULL
 * attachment signature as none. */
static void test_verdict_words(void)
{
	g_autofree char *path = db_path("words.db");
	struct store *st = open_inbox(path);
	struct store_message m = msg(1, "raw words");
	m.status = RULES_LATE;
	m.match = RULES_MATCH_FUZZY;
	m.match_score = 0.8;
	m.has_kind = true;
	m.kind = RULES_KIND_AUTO_REPLY;
	m.has_smime = true;
	m.smime = CMS_VALID;
	const uint8_t pdf[] = "%PDF-1.4";
	g_autofree char *sha = sha_of(pdf, sizeof(pdf) - 1);
	struct store_attachment_in att = { "a.pdf",
					   "application/pdf",
					   "2",
					   pdf,
					   sizeof(pdf) - 1,
					   sha,
					   .signature = CMS_INVALID,
					   .modified_after_signing = -1,
					   .covers_whole_file = -1,
					   .signer_trusted = -1 };
	int64_t id = 0;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, &att, 1, &id, &out), ==, 0);
	struct store_message n = msg(2, "raw none"); /* no kind, match or S/MIME verdict */
	int64_t id2 = 0;
	g_assert_cmpint(store_record(st, &n, NULL, 0, &id2, &out), ==, 0);
	store_close(st);

	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	sqlite3_stmt *q;
	g_assert_cmpint(
		sqlite3_prepare_v2(db,
				   "SELECT m.status || '|' || m.match || '|' || m.kind || '|' || m.smime || ';' || "
				   "a.signature FROM messages m JOIN attachments a ON a.message = m.id",
				   -1, &q, NULL),
		==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
	g_assert_cmpstr((const char *)sqlite3_column_text(q, 0), ==, "late|fuzzy|auto-reply|valid;invalid");
	sqlite3_finalize(q);
	g_assert_cmpint(sqlite3_prepare_v2(db,
					   "SELECT quote(match) || quote(kind) || quote(smime) FROM messages "
					   "WHERE uid = 2",
					   -1, &q, NULL),
			==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
	g_assert_cmpstr((const char *)sqlite3_column_text(q, 0), ==, "NULLNULLNULL");
	sqlite3_finalize(q);

	st = open_rw(path);
	g_autoptr(GString) got = g_string_new(NULL);
	g_assert_cmpint(store_foreach_message(st, 0, false, verdicts_cb, got), ==, 0);
	g_assert_cmpint(store_foreach_attachment(st, id, false, sig_cb, got), ==, 0);
	g_assert_cmpstr(got->str, ==, "late|fuzzy|auto-reply|valid;accepted|-|-|-;invalid");
	store_close(st);

	g_autofree char *err = NULL;
	g_assert_cmpint(sqlite3_exec(db,
				     "UPDATE messages SET match = 'approximate', kind = 'receipt', smime = 'maybe' "
				     "WHERE uid = 1;"
				     "UPDATE attachments SET signature = 'unchecked';"
				     "UPDATE messages SET status = 'review' WHERE uid = 2;",
				     NULL, NULL, &err),
			==, SQLITE_OK);
	st = open_rw(path);
	g_string_truncate(got, 0);
	g_assert_cmpint(store_foreach_message(st, 0, false, verdicts_cb, got), ==, 0);
	g_assert_cmpint(store_foreach_attachment(st, id, false, sig_cb, got), ==, 0);
	g_assert_cmpstr(got->str, ==, "late|-|-|invalid;review|-|-|-;invalid");
	struct store_status status;
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.total, ==, 2);
	g_assert_cmpint(status.by_status[RULES_LATE], ==, 1);
	g_assert_cmpint(status.by_status[RULES_REVIEW], ==, 1);
	g_free(status.last_error);
	g_free(status.last_action_error);
	g_free(status.gap_uids);
	store_close(st);

	/* A NULL attachment signature (before schema 3) is none. */
	g_assert_cmpint(sqlite3_exec(db, "UPDATE attachments SET signature = NULL;", NULL, NULL, &err), ==, SQLITE_OK);
	sqlite3_close(db);
	st = open_rw(path);
	g_string_truncate(got, 0);
	g_assert_cmpint(store_foreach_attachment(st, id, false, sig_cb, got), ==, 0);
	g_assert_cmpstr(got->str, ==, "none");
	store_close(st);
}

static void test_migrate_v3(void)
{
	/* A version-3 database (raw bytes in messages, an attachment's bytes
	 * mid-row) is migrated to the current schema: the bytes move (bodies,
	 * attachments rebuilt with data last), the new columns are NULL, and
	 * everything reads back as it was. */
	g_autofree char *path = db_path("f.db");
	g_autofree char *err = NULL;
	g_assert_cmpint(store_create_at_version(path, 3, &err), ==, 0);
	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_autofree char *raw_sha = sha_of("old one", 7), *pdf_sha = sha_of("%PDF", 4);
	g_autofree char *sql = g_strdup_printf(
		"INSERT INTO mailboxes VALUES ('INBOX', 42, 1, 0);"
		"INSERT INTO messages (id, mailbox, uidvalidity, uid, recorded_at, server_size, raw, "
		"raw_size, raw_sha256, status, reasons) VALUES (1, 'INBOX', 42, 1, 0, 7, "
		"CAST('old one' AS BLOB), 7, '%s', 'accepted', '[]');"
		"INSERT INTO attachments (message, seq, filename, content_type, size, sha256, data, "
		"signature, form) VALUES (1, 1, 'a.pdf', 'application/pdf', 4, '%s', "
		"CAST('%%PDF' AS BLOB), 'valid', 1);",
		raw_sha, pdf_sha);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, &err), ==, SQLITE_OK);
	sqlite3_close(db);
	struct store *st = open_rw(path);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(st, 0, true, raw_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 1);
	g_assert_cmpstr(seen->pdata[0], ==, "1:old one:-:-");
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(store_foreach_attachment(st, 1, true, att_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 1);
	g_assert_cmpstr(seen->pdata[0], ==, "a.pdf:%PDF:valid");
	g_ptr_array_free(seen, TRUE);
	store_close(st);
}

static void test_migration_all_or_nothing(void)
{
	/* An upgrade that fails part way (here the v4 step: its index name is
	 * taken) leaves the version it found, not one in between; the
	 * database still opens read-only as what it was. */
	g_autofree char *path = db_path("m.db");
	g_autofree char *err = NULL;
	g_assert_cmpint(store_create_at_version(path, 2, &err), ==, 0);
	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, "CREATE TABLE messages_action_pending (x)", NULL, NULL, &err), ==, SQLITE_OK);
	sqlite3_close(db);
	struct store *st = NULL;
	g_autofree char *oerr = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_WRITE, &st, &oerr), <, 0);
	g_assert_null(st);
	g_assert_nonnull(oerr);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	sqlite3_stmt *s = NULL;
	g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int(s, 0), ==, 2);
	sqlite3_finalize(s);
	/* Nor is any table of the later steps left behind. */
	g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('parts', 'bodies')",
					   -1, &s, NULL),
			==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int(s, 0), ==, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	int v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static int data_cb(const struct store_attachment *a, void *userdata)
{
	GPtrArray *seen = userdata;
	g_ptr_array_add(seen, g_strdup_printf("%s:%.*s", a->filename, (int)a->size, (const char *)a->data));
	return 0;
}

static int difference_cb(const struct store_difference *d, void *userdata)
{
	GPtrArray *seen = userdata;
	g_ptr_array_add(seen, g_strdup_printf("%s:%" G_GINT64_FORMAT ":%d:%s:%s:%s", d->what, d->message, d->seq,
					      d->why, d->expected ? d->expected : "-", d->actual ? d->actual : "-"));
	return 0;
}

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		g_error("%s: %s", sql, err);
	sqlite3_close(db);
}

/* Every schema released: the migrations (tests/data/schema, each as it
 * landed, generated from git history by tests/gen/schema_fixtures.py) a
 * database of it ran. */
static const struct release {
	const char *name;
	const char *steps[8];
	int version; /* 0: the number of steps */
} releases[] = {
	{ "1", { "1" } },
	{ "2", { "1", "2" } },
	{ "3", { "1", "2", "3" } },
	{ "4-early", { "1", "2", "3", "4-early" } }, /* before prior_keys was added to 4 */
	{ "4", { "1", "2", "3", "4" } },
	{ "5-from-4-early", { "1", "2", "3", "4-early", "5" } },
	{ "5", { "1", "2", "3", "4", "5" } },
	{ "8", { "1", "2", "3", "4", "5", "7", "8" }, 8 }, /* 6 is a no-op where prior_keys exists */
};

/* Makes PATH a database of release REL, empty; its version. */
static int make_release(const struct release *rel, const char *path)
{
	const char *src = g_getenv("PULJED_SRCDIR");
	g_assert_nonnull(src);
	int version = 0;
	for (; version < (int)G_N_ELEMENTS(rel->steps) && rel->steps[version]; version++) {
		g_autofree char *file =
			g_strdup_printf("%s/tests/data/schema/migration-%s.sql", src, rel->steps[version]);
		g_autofree char *ddl = NULL;
		g_assert_true(g_file_get_contents(file, &ddl, NULL, NULL));
		exec_sql(path, ddl);
	}
	if (rel->version)
		version = rel->version;
	g_autofree char *set = g_strdup_printf("PRAGMA user_version = %d", version);
	exec_sql(path, set);
	return version;
}

/* A database made by each released schema, holding a record, opens with
 * the current store and is used: read back with its bytes checked,
 * re-keyed (prior_keys), a new record, verify.  "4-early" and
 * "5-from-4-early" failed with "no such column: prior_keys" before schema
 * 6. */
static void test_upgrade(gconstpointer data)
{
	const struct release *rel = data;
	g_autofree char *dbname = g_strdup_printf("upgrade-%s.db", rel->name);
	g_autofree char *path = db_path(dbname);
	bool bodies = make_release(rel, path) >= 5;
	g_autofree char *raw_sha = sha_of("old one", 7), *pdf_sha = sha_of("%PDF", 4);
	g_autofree char *rows = g_strdup_printf(
		"INSERT INTO mailboxes VALUES ('INBOX', 42, 1, 0);"
		"INSERT INTO messages (id, mailbox, uidvalidity, uid, recorded_at, server_size, raw, raw_size, "
		"raw_sha256, status, reasons) VALUES (1, 'INBOX', 42, 1, 0, 7, %s, 7, '%s', 'accepted', '[]');"
		"%s"
		"INSERT INTO attachments (message, seq, filename, content_type, size, sha256, data) "
		"VALUES (1, 1, 'a.pdf', 'application/pdf', 4, '%s', CAST('%%PDF' AS BLOB));",
		bodies ? "NULL" : "CAST('old one' AS BLOB)", raw_sha,
		bodies ? "INSERT INTO bodies VALUES (1, CAST('old one' AS BLOB));" : "", pdf_sha);
	exec_sql(path, rows);

	struct store *st = open_rw(path);
	g_assert_cmpint(user_version(path), ==, STORE_SCHEMA_VERSION);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(st, 0, true, raw_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 1);
	g_assert_cmpstr(seen->pdata[0], ==, "1:old one:-:-");
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(store_foreach_attachment(st, 1, true, data_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 1);
	g_assert_cmpstr(seen->pdata[0], ==, "a.pdf:%PDF");
	/* The mailbox recreated: the message comes back, re-keyed. */
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 43), ==, 0);
	struct store_message m = msg(9, "old one");
	m.uidvalidity = 43;
	int64_t id;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
	g_assert_cmpint(out, ==, STORE_REKEYED);
	g_assert_cmpint(id, ==, 1);
	struct store_message n = msg(10, "new one");
	n.uidvalidity = 43;
	const uint8_t pdf[] = "%PDF-1.7 new";
	g_autofree char *new_sha = sha_of(pdf, sizeof(pdf) - 1);
	struct store_attachment_in att = { "b.pdf", "application/pdf", "2", pdf, sizeof(pdf) - 1, new_sha };
	g_assert_cmpint(store_record(st, &n, &att, 1, &id, &out), ==, 0);
	g_assert_cmpint(out, ==, STORE_INSERTED);
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(store_foreach_message(st, 0, true, raw_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 2);
	g_assert_cmpstr(seen->pdata[0], ==, "9:old one:-:42:1");
	g_assert_cmpstr(seen->pdata[1], ==, "10:new one:-:-");
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(store_foreach_attachment(st, id, true, data_cb, seen), ==, 0);
	g_assert_cmpstr(seen->pdata[0], ==, "b.pdf:%PDF-1.7 new");
	g_ptr_array_set_size(seen, 0);
	struct store_verify_counts counts;
	g_assert_cmpint(store_verify(st, difference_cb, seen, &counts), ==, 0);
	g_assert_cmpuint(seen->len, ==, 0);
	g_assert_cmpint(counts.messages, ==, 2);
	g_assert_cmpint(counts.bodies, ==, 2);
	g_assert_cmpint(counts.attachments, ==, 2);
	store_close(st);
	/* And puljectl reads it. */
	struct store *ro = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_ONLY, &ro, &err), ==, 0);
	store_close(ro);
	g_ptr_array_free(seen, TRUE);
}

/* A schema-8 database whose records carry after-ingest server actions
 * (pending, done, none) upgrades to the action queue (schema 9): every
 * record reads back as before, the pending one is still to do, and the
 * old columns are gone. */
static void test_upgrade_actions(void)
{
	g_autofree char *path = db_path("upgrade-actions.db");
	g_assert_cmpint(make_release(&releases[G_N_ELEMENTS(releases) - 1], path), ==, 8);
	exec_sql(path,
		 "INSERT INTO mailboxes VALUES ('INBOX', 42, 3, 0);"
		 "INSERT INTO messages (id, mailbox, uidvalidity, uid, recorded_at, server_size, raw_size, status, "
		 "reasons, server_action, server_action_kind, server_action_target, server_action_at) VALUES "
		 "(1, 'INBOX', 42, 1, 0, 1, 0, 'accepted', '[]', 'done', 'move', 'Behandlet', 1700000000),"
		 "(2, 'INBOX', 42, 2, 0, 1, 0, 'accepted', '[]', 'pending', NULL, NULL, NULL),"
		 "(3, 'INBOX', 42, 3, 0, 1, 0, 'review', '[]', NULL, NULL, NULL, NULL);"
		 "INSERT INTO state VALUES ('last_action_error', 'UID MOVE refused');");
	struct store *st = open_rw(path);
	g_assert_cmpint(user_version(path), ==, STORE_SCHEMA_VERSION);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(st, 0, false, action_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, 3);
	g_assert_cmpstr(seen->pdata[0], ==, "1:done:move:Behandlet:1");
	g_assert_cmpstr(seen->pdata[1], ==, "2:pending:-:-:0");
	g_assert_cmpstr(seen->pdata[2], ==, "3:-:-:-:0");
	struct store_status status;
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.actions_pending, ==, 1);
	g_assert_cmpstr(status.last_action_error, ==, "UID MOVE refused");
	g_free(status.last_error);
	g_free(status.last_action_error);
	g_autofree struct store_action *p = NULL;
	size_t n = 0;
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 42, &p, &n), ==, 0);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpint(p[0].message, ==, 2);
	g_assert_cmpint(store_actions_done(st, &p[0].id, 1, "move", "Behandlet", 1700000100), ==, 0);
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(store_foreach_message(st, 2, false, action_cb, seen), ==, 0);
	g_assert_cmpstr(seen->pdata[0], ==, "2:done:move:Behandlet:1");
	store_close(st);
	g_ptr_array_free(seen, TRUE);
	sqlite3 *db;
	sqlite3_stmt *s;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db,
					   "SELECT COUNT(*) FROM pragma_table_info('messages') "
					   "WHERE name LIKE 'server_action%'",
					   -1, &s, NULL),
			==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int(s, 0), ==, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* Bytes changed behind the store's back are never handed out: each
 * reader gets -EUCLEAN naming the record and both hashes, and verify
 * lists every difference. */
static void test_mismatch(void)
{
	g_autofree char *path = db_path("mismatch.db");
	struct store *st = open_inbox(path);
	const uint8_t pdf[] = "%PDF-1.4 signed form";
	g_autofree char *pdf_sha = sha_of(pdf, sizeof(pdf) - 1);
	struct store_attachment_in att = { "a.pdf", "application/pdf", "2", pdf, sizeof(pdf) - 1, pdf_sha };
	struct store_message m = msg(1, "raw one");
	g_autofree char *raw_sha = g_strdup(m.raw_sha256);
	int64_t id;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, &att, 1, &id, &out), ==, 0);
	struct store_message m2 = msg(2, "raw two");
	g_assert_cmpint(store_record(st, &m2, NULL, 0, &id, &out), ==, 0);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	struct store_verify_counts counts;
	g_assert_cmpint(store_verify(st, difference_cb, seen, &counts), ==, 0);
	g_assert_cmpuint(seen->len, ==, 0);
	g_assert_cmpint(counts.differences, ==, 0);
	g_assert_cmpint(counts.bytes, ==, 7 + 7 + (int64_t)sizeof(pdf) - 1);

	/* Same sizes, other bytes. */
	exec_sql(path,
		 "UPDATE bodies SET raw = CAST('raw onE' AS BLOB) WHERE message = 1;"
		 "UPDATE attachments SET data = CAST('%PDF-1.4 signed furm' AS BLOB) WHERE message = 1;");
	g_autofree char *now_raw = sha_of("raw onE", 7), *now_pdf = sha_of("%PDF-1.4 signed furm", 20);
	g_assert_cmpint(store_foreach_message(st, 0, true, raw_cb, seen), ==, -EUCLEAN);
	g_assert_cmpuint(seen->len, ==, 0); /* nothing of it reached the reader */
	g_assert_nonnull(strstr(store_errmsg(st), "record 1: the stored raw message"));
	g_assert_nonnull(strstr(store_errmsg(st), raw_sha));
	g_assert_nonnull(strstr(store_errmsg(st), now_raw));
	g_assert_cmpint(store_foreach_message(st, 2, true, raw_cb, seen), ==, 0);    /* the other record is intact */
	g_assert_cmpint(store_foreach_message(st, 0, false, count_cb, seen), ==, 0); /* no bytes, nothing to check */
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(store_foreach_attachment(st, 1, true, data_cb, seen), ==, -EUCLEAN);
	g_assert_cmpuint(seen->len, ==, 0);
	g_assert_nonnull(strstr(store_errmsg(st), "record 1: the stored attachment 1"));
	g_assert_nonnull(strstr(store_errmsg(st), now_pdf));
	g_assert_cmpint(store_foreach_attachment(st, 1, false, data_cb, seen), ==, 0);
	g_ptr_array_set_size(seen, 0);

	/* verify: each difference, then the database checks; a body gone
	 * and a part whose record is gone too. */
	exec_sql(path,
		 "DELETE FROM bodies WHERE message = 2;"
		 "INSERT INTO parts (message, seq, part, size, action) VALUES (99, 1, '1', 0, 'kept');");
	g_assert_cmpint(store_verify(st, difference_cb, seen, &counts), ==, 0);
	g_assert_cmpint(counts.differences, ==, 4);
	g_assert_cmpuint(seen->len, ==, 4);
	g_autofree char *d1 = g_strdup_printf("raw message:1:0:SHA-256 differs:%s:%s", raw_sha, now_raw);
	g_autofree char *two_sha = sha_of("raw two", 7);
	g_autofree char *d2 = g_strdup_printf("raw message:2:0:missing:%s:-", two_sha);
	g_autofree char *d3 = g_strdup_printf("attachment:1:1:SHA-256 differs:%s:%s", pdf_sha, now_pdf);
	g_assert_cmpstr(seen->pdata[0], ==, d1);
	g_assert_cmpstr(seen->pdata[1], ==, d2);
	g_assert_cmpstr(seen->pdata[2], ==, d3);
	g_assert_true(g_str_has_prefix(seen->pdata[3], "foreign_key_check:0:0:parts "));
	g_assert_cmpint(counts.messages, ==, 2);
	g_assert_cmpint(counts.bodies, ==, 1);
	g_ptr_array_free(seen, TRUE);
	store_close(st);
}

static bool exists_file(const char *path, const char *suffix)
{
	g_autofree char *p = g_strconcat(path, suffix, NULL);
	return g_file_test(p, G_FILE_TEST_EXISTS);
}

/* A zero-length database file is refused by every mode, not taken for a
 * new database; a new one is made whole under PATH.new and linked in, and
 * a PATH.new left by a killed start is made again. */
static void test_empty_file(void)
{
	g_autofree char *path = db_path("empty.db");
	g_assert_true(g_file_set_contents(path, "", 0, NULL));
	const enum store_mode modes[] = { STORE_READ_WRITE, STORE_READ_ONLY, STORE_UPDATE };
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		struct store *st = NULL;
		g_autofree char *err = NULL;
		g_assert_cmpint(store_open(path, modes[i], &st, &err), ==, -ENODATA);
		g_assert_null(st);
		g_assert_nonnull(strstr(err, "empty (0 bytes)"));
	}
	struct stat sb;
	g_assert_cmpint(stat(path, &sb), ==, 0);
	g_assert_cmpint(sb.st_size, ==, 0);
	g_assert_false(exists_file(path, "-wal"));

	g_autofree char *fresh = db_path("fresh.db");
	g_autofree char *stale = g_strconcat(fresh, ".new", NULL);
	g_assert_true(g_file_set_contents(stale, "half", 4, NULL));
	struct store *st = open_inbox(fresh);
	g_assert_false(g_file_test(stale, G_FILE_TEST_EXISTS));
	g_assert_cmpint(user_version(fresh), ==, STORE_SCHEMA_VERSION);
	g_assert_cmpint(stat(fresh, &sb), ==, 0);
	g_assert_cmpint(sb.st_mode & 0777, ==, 0640);
	store_close(st);

	/* A database without a schema is not given one by an update. */
	g_autofree char *other = db_path("other.db");
	exec_sql(other, "CREATE TABLE t (x)");
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(other, STORE_UPDATE, &st, &err), ==, -EPROTONOSUPPORT);
	g_assert_cmpint(user_version(other), ==, 0);
}

/* puljectl on a read-only (0444) database while puljed is stopped: the
 * -wal and -shm it needs are left writable by the database's owner, who
 * then writes (SQLite alone made them 0444, and the daemon failed with
 * "attempt to write a readonly database"). */
static void test_read_only_file(void)
{
	g_autofree char *path = db_path("ro.db");
	struct store *st = open_inbox(path);
	store_close(st);
	g_assert_false(exists_file(path, "-shm"));
	g_assert_cmpint(chmod(path, 0444), ==, 0);
	struct store *ro = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_ONLY, &ro, &err), ==, 0);
	g_assert_cmpint(store_foreach_message(ro, 0, true, count_cb, NULL), ==, 0);
	store_close(ro);
	const char *suffixes[] = { "-wal", "-shm" };
	for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *p = g_strconcat(path, suffixes[i], NULL);
		struct stat sb;
		g_assert_cmpint(stat(p, &sb), ==, 0);
		g_assert_cmpint(sb.st_mode & 0777, ==, 0640);
	}
	g_assert_cmpint(chmod(path, 0640), ==, 0);
	st = open_rw(path);
	struct store_message m = msg(1, "after");
	int64_t id;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
	store_close(st);
}

static void test_large_blobs(void)
{
	/* Blobs past the in-row limit are written in place; they read back
	 * byte for byte. */
	g_autofree char *path = db_path("h.db");
	struct store *st = open_inbox(path);
	size_t n = (3u << 20) + 12345;
	uint8_t *raw = g_malloc(n + 1), *pdf = g_malloc(n / 2);
	for (size_t i = 0; i < n; i++)
		raw[i] = (uint8_t)('a' + i % 23);
	raw[n] = 0;
	for (size_t i = 0; i < n / 2; i++)
		pdf[i] = (uint8_t)(i * 7);
	struct store_message m = msg(5, "x");
	m.raw = raw;
	m.raw_size = n;
	g_autofree char *pdf_sha = sha_of(pdf, n / 2);
	struct store_attachment_in att = { "big.pdf", "application/pdf", "2", pdf, n / 2, pdf_sha };
	int64_t id;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, &att, 1, &id, &out), ==, 0);
	store_close(st);
	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	sqlite3_stmt *s;
	sqlite3_prepare_v2(db, "SELECT raw FROM bodies WHERE message = ?", -1, &s, NULL);
	sqlite3_bind_int64(s, 1, id);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_bytes(s, 0), ==, (int)n);
	g_assert_true(memcmp(sqlite3_column_blob(s, 0), raw, n) == 0);
	sqlite3_finalize(s);
	sqlite3_prepare_v2(db, "SELECT data FROM attachments WHERE message = ?", -1, &s, NULL);
	sqlite3_bind_int64(s, 1, id);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_bytes(s, 0), ==, (int)(n / 2));
	g_assert_true(memcmp(sqlite3_column_blob(s, 0), pdf, n / 2) == 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	g_free(raw);
	g_free(pdf);
}

static int page_size_of(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	int size = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return size;
}

static void test_page_size(void)
{
	/* A database the daemon creates has STORE_NEW_PAGE_SIZE pages; one
	 * created with SQLite's default (here at schema 4) keeps its pages
	 * through the migration and takes records as before. */
	g_autofree char *fresh = db_path("p-new.db"), *old = db_path("p-old.db");
	g_autofree char *err = NULL;
	struct store *st = open_rw(fresh);
	store_close(st);
	g_assert_cmpint(page_size_of(fresh), ==, STORE_NEW_PAGE_SIZE);
	g_assert_cmpint(store_create_at_version(old, 4, &err), ==, 0);
	int before = page_size_of(old);
	g_assert_cmpint(before, !=, STORE_NEW_PAGE_SIZE);
	st = open_rw(old);
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 42), ==, 0);
	struct store_message m = msg(7, "old pages");
	int64_t id;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
	g_assert_cmpint(out, ==, STORE_INSERTED);
	store_close(st);
	g_assert_cmpint(page_size_of(old), ==, before);
}

static int stop_after_first(const struct store_message *m, void *userdata)
{
	(void)m;
	++*(int *)userdata;
	return 1;
}

static void test_statement_reuse(void)
{
	/* Statements are kept from one use to the next: one left after its
	 * first row must start again from the top, with its new bindings. */
	g_autofree char *path = db_path("i.db");
	struct store *st = open_inbox(path);
	const char *raws[] = { "first", "second", "third" };
	for (uint32_t u = 1; u <= 3; u++) {
		struct store_message m = msg(u, raws[u - 1]);
		int64_t id;
		enum store_outcome out;
		g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
		g_assert_true(out == STORE_INSERTED);
	}
	for (int round = 0; round < 3; round++) {
		int calls = 0;
		g_assert_cmpint(store_foreach_message(st, 0, false, stop_after_first, &calls), ==, 1);
		g_assert_cmpint(calls, ==, 1);
		GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
		g_assert_cmpint(store_foreach_message(st, 0, false, count_cb, seen), ==, 0);
		g_assert_cmpuint(seen->len, ==, 3);
		g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "1:accepted:0");
		g_ptr_array_free(seen, TRUE);
		/* The same statement with another binding: one row. */
		seen = g_ptr_array_new_with_free_func(g_free);
		g_assert_cmpint(store_foreach_message(st, 2, false, count_cb, seen), ==, 0);
		g_assert_cmpuint(seen->len, ==, 1);
		g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "2:accepted:0");
		g_ptr_array_free(seen, TRUE);
	}
	store_close(st);
}

static goffset file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* Records N messages of SIZE bytes with checkpoints in the background
 * (SOFT, HARD bytes); *MOST: the largest the WAL was after a commit. */
static void record_with_checkpointer(const char *path, uint64_t soft, uint64_t hard, goffset *most)
{
	enum { N = 80, SIZE = 40000 };
	g_autofree char *wal = g_strconcat(path, "-wal", NULL);
	struct store *st = open_rw(path);
	g_assert_cmpint(store_checkpoint_in_background(st, soft, hard), ==, 0);
	g_assert_cmpint(store_checkpoint_in_background(st, soft, hard), ==, -EALREADY);
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 42), ==, 0);
	goffset db0 = file_size(path);
	char *raw = g_malloc(SIZE + 1);
	*most = 0;
	for (uint32_t u = 1; u <= N; u++) {
		for (size_t i = 0; i < SIZE; i++)
			raw[i] = (char)('a' + (i * u) % 26);
		raw[SIZE] = 0;
		struct store_message m = msg(u, raw);
		int64_t id;
		enum store_outcome out;
		g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
		*most = MAX(*most, file_size(wal));
	}
	/* The thread copies into the database with no further commit. */
	for (int i = 0; i < 1000 && file_size(path) < db0 + (goffset)N * SIZE; i++)
		g_usleep(10000);
	g_assert_cmpint(file_size(path), >=, db0 + (goffset)N * SIZE);
	/* A reader on its own connection sees every record meanwhile. */
	struct store *ro = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(path, STORE_READ_ONLY, &ro, &err), ==, 0);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(store_foreach_message(ro, 0, false, count_cb, seen), ==, 0);
	g_assert_cmpuint(seen->len, ==, N);
	g_ptr_array_free(seen, TRUE);
	store_close(ro);
	store_close(st);
	g_assert_false(g_file_test(wal, G_FILE_TEST_EXISTS));
	sqlite3 *db;
	sqlite3_stmt *s;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	sqlite3_prepare_v2(db, "SELECT COUNT(*), SUM(length(raw)) FROM bodies", -1, &s, NULL);
	g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int64(s, 0), ==, N);
	g_assert_cmpint(sqlite3_column_int64(s, 1), ==, (sqlite3_int64)N * SIZE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	g_free(raw);
}

static void test_background_checkpoints(void)
{
	/* Never in the committer (HARD out of reach): the database still
	 * fills, and every record is there, whole, after close. */
	g_autofree char *path = db_path("j.db");
	goffset most;
	record_with_checkpointer(path, 16 * 4096, G_MAXUINT64, &most);
	g_assert_cmpint(most, >, 0);
}

/* The gap check's two sides in the store: the UIDs recorded under one
 * UIDVALIDITY, ascending, and what the last check left, for status. */
static void test_gaps(void)
{
	g_autofree char *path = db_path("gaps.db");
	struct store *st = open_inbox(path);
	const uint32_t uids[] = { 7, 2, 5 };
	for (size_t i = 0; i < G_N_ELEMENTS(uids); i++) {
		g_autofree char *raw = g_strdup_printf("raw %u", uids[i]);
		struct store_message m = msg(uids[i], raw);
		int64_t id = 0;
		enum store_outcome o;
		g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &o), ==, 0);
	}
	g_autofree uint32_t *got = NULL;
	size_t n = 0;
	g_assert_cmpint(store_recorded_uids(st, "INBOX", 42, &got, &n), ==, 0);
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmpuint(got[0], ==, 2);
	g_assert_cmpuint(got[1], ==, 5);
	g_assert_cmpuint(got[2], ==, 7);
	g_autofree uint32_t *none = NULL;
	g_assert_cmpint(store_recorded_uids(st, "INBOX", 43, &none, &n), ==, 0);
	g_assert_cmpuint(n, ==, 0);

	int64_t at = -1;
	g_assert_cmpint(store_gaps_checked_at(st, &at), ==, 0);
	g_assert_cmpint(at, ==, 0);
	g_assert_cmpint(store_gaps_noted(st, 5000, 2, "3 4"), ==, 0);
	g_assert_cmpint(store_gaps_checked_at(st, &at), ==, 0);
	g_assert_cmpint(at, ==, 5000);
	struct store_status s;
	g_assert_cmpint(store_get_status(st, &s), ==, 0);
	g_assert_cmpint(s.gaps_checked_at, ==, 5000);
	g_assert_cmpint(s.gaps, ==, 2);
	g_assert_cmpstr(s.gap_uids, ==, "3 4");
	g_free(s.gap_uids);
	g_free(s.last_error);
	g_free(s.last_action_error);
	g_assert_cmpint(store_gaps_noted(st, 6000, 0, NULL), ==, 0);
	g_assert_cmpint(store_get_status(st, &s), ==, 0);
	g_assert_cmpint(s.gaps, ==, 0);
	g_assert_null(s.gap_uids);
	g_free(s.last_error);
	g_free(s.last_action_error);
	store_close(st);
}

static void test_wal_bounded(void)
{
	/* However far behind the thread falls, the WAL starts again from its
	 * top by HARD frames, passed by one record at most (a record is
	 * 40000/4096 pages and a few more). */
	g_autofree char *path = db_path("k.db");
	const int hard = 64;
	goffset most;
	record_with_checkpointer(path, 16 * 4096, hard * 4096, &most);
	g_assert_cmpint(most, >, 0);
	g_assert_cmpint(most, <=, 32 + (goffset)(hard + 2 * (40000 / 4096 + 8)) * (4096 + 24));
}

/* A full disk while the database is being created is reported as a full
 * disk, not as what SQLite said when the rollback after it found no
 * transaction. Needs root (a small tmpfs, in a mount namespace of this
 * process's own, gone when it exits). */
static void test_create_disk_full(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
		g_test_skip("needs root to mount a small tmpfs");
		return;
	}
	static const char *const sizes[] = { "size=8k", "size=16k", "size=32k", "size=48k", "size=64k" };
	unsigned full = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autofree char *dir = g_dir_make_tmp("test-store-full-XXXXXX", NULL);
		g_assert_nonnull(dir);
		g_assert_cmpint(mount("tmpfs", dir, "tmpfs", 0, sizes[i]), ==, 0);
		g_autofree char *path = g_build_filename(dir, "puljed.db", NULL);
		g_autoptr(Store) st = NULL;
		g_autofree char *err = NULL;
		int r = store_open(path, STORE_READ_WRITE, &st, &err);
		g_test_message("%s: %d %s", sizes[i], r, err ? err : "");
		if (r < 0) {
			full++;
			g_assert_nonnull(strstr(err, "disk full"));
			g_assert_null(strstr(err, "rollback"));
			g_assert_cmpint(r, ==, -ENOSPC);
			g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
		}
		g_clear_pointer(&st, store_close);
		g_assert_cmpint(umount2(dir, MNT_DETACH), ==, 0);
		g_rmdir(dir);
	}
	g_assert_cmpuint(full, >, 0);
}

static int count_rows(const struct store_action_row *row, void *userdata)
{
	(*(int *)userdata)++;
	g_assert_cmpstr(row->promise, ==, STORE_RECEIPT_PROMISE);
	return 0;
}

/* Schema 10: receipts settle one by one — done with recipient and
 * Message-ID, pending with a next attempt (not due before it), skipped
 * with why, failed — and an operator may ask for one again. */
static void test_receipt_actions(void)
{
	g_autofree char *path = db_path("receipts.db");
	struct store *st = open_inbox(path);
	int64_t ids[5];
	enum store_outcome ins;
	for (uint32_t uid = 1; uid <= 5; uid++) {
		g_autofree char *raw = g_strdup_printf("receipt raw %u", uid);
		struct store_message m = msg(uid, raw);
		m.recorded_at = 1700000000;
		if (uid <= 4)
			m.promises[m.n_promises++] = STORE_RECEIPT_PROMISE;
		if (uid == 1)
			m.promises[m.n_promises++] = STORE_SERVER_ACTION_PROMISE;
		g_assert_cmpint(store_record(st, &m, NULL, 0, &ids[uid - 1], &ins), ==, 0);
	}
	const int64_t now = 1700000100;
	g_autofree struct store_action *due = NULL;
	size_t n = 0;
	g_assert_cmpint(store_actions_due(st, STORE_RECEIPT_PROMISE, NULL, 0, now, &due, &n), ==, 0);
	g_assert_cmpuint(n, ==, 4);
	g_assert_cmpint(due[0].created_at, ==, 1700000000);
	g_assert_false(due[0].requested);

	struct store_action_settlement sent = { .state = STORE_ACTION_DONE,
						.kind = "receipt",
						.target = "Ansoeger@Example.org",
						.detail = "<receipt.42.1.c@sum.dk>",
						.attempted = true };
	struct store_action_settlement later = { .state = STORE_ACTION_PENDING,
						 .error = "SMTP: 451 4.3.0 try later",
						 .next_at = now + 60,
						 .attempted = true };
	struct store_action_settlement skipped = { .state = STORE_ACTION_SKIPPED,
						   .why = "list",
						   .error = "postlister får aldrig kvittering" };
	struct store_action_settlement refused = { .state = STORE_ACTION_FAILED,
						   .target = "x@example.org",
						   .error = "RCPT TO: 550 5.1.1 no such user",
						   .attempted = true };
	g_assert_cmpint(store_action_settle(st, due[0].id, &sent, now), ==, 0);
	g_assert_cmpint(store_action_settle(st, due[1].id, &later, now), ==, 0);
	g_assert_cmpint(store_action_settle(st, due[2].id, &skipped, now), ==, 0);
	g_assert_cmpint(store_action_settle(st, due[3].id, &refused, now), ==, 0);
	/* Settled once: a second settlement of a done action changes nothing. */
	g_assert_cmpint(store_action_settle(st, due[0].id, &refused, now + 1), ==, 0);

	g_autofree struct store_action *again = NULL;
	g_assert_cmpint(store_actions_due(st, STORE_RECEIPT_PROMISE, NULL, 0, now + 59, &again, &n), ==, 0);
	g_assert_cmpuint(n, ==, 0);
	g_autofree struct store_action *later_due = NULL;
	g_assert_cmpint(store_actions_due(st, STORE_RECEIPT_PROMISE, NULL, 0, now + 60, &later_due, &n), ==, 0);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpint(later_due[0].message, ==, ids[1]);
	g_assert_cmpint(later_due[0].attempts, ==, 1);

	int64_t count = -1, first = -1;
	g_assert_cmpint(
		store_actions_done_to(st, STORE_RECEIPT_PROMISE, "ansoeger@example.ORG", now - 86400, &count, &first),
		==, 0);
	g_assert_cmpint(count, ==, 1);
	g_assert_cmpint(first, ==, now); /* settled at NOW, not at the second, refused settlement */
	g_assert_cmpint(store_actions_done_to(st, STORE_RECEIPT_PROMISE, NULL, now - 59, &count, NULL), ==, 0);
	g_assert_cmpint(count, ==, 1);
	g_assert_cmpint(
		store_actions_done_to(st, STORE_RECEIPT_PROMISE, "ansoeger@example.org", now + 1, &count, &first), ==,
		0);
	g_assert_cmpint(count, ==, 0);
	g_assert_cmpint(first, ==, 0);

	/* An attempt counted before it is made: always a change to the row
	 * (the same time twice still counts); not for an action settled. */
	g_assert_cmpint(store_action_attempting(st, due[0].id, now + 5), ==, -ENOENT);
	for (int k = 0; k < 2; k++)
		g_assert_cmpint(store_action_attempting(st, due[1].id, now + 5), ==, 0);
	{
		g_auto(StoreActionRow) pending = { 0 };
		g_assert_cmpint(store_action_get(st, ids[1], STORE_RECEIPT_PROMISE, &pending), ==, 0);
		g_assert_cmpint(pending.state, ==, STORE_ACTION_PENDING);
		g_assert_cmpint(pending.attempts, ==, 3);
		g_assert_cmpint(pending.last_attempt_at, ==, now + 5);
	}

	g_auto(StoreActionRow) row = { 0 };
	g_assert_cmpint(store_action_get(st, ids[0], STORE_RECEIPT_PROMISE, &row), ==, 0);
	g_assert_cmpint(row.state, ==, STORE_ACTION_DONE);
	g_assert_cmpstr(row.target, ==, "Ansoeger@Example.org");
	g_assert_cmpstr(row.detail, ==, "<receipt.42.1.c@sum.dk>");
	g_assert_cmpint(row.done_at, ==, now);
	g_assert_null(row.last_error);
	store_action_row_clear(&row);
	g_assert_cmpint(store_action_get(st, ids[2], STORE_RECEIPT_PROMISE, &row), ==, 0);
	g_assert_cmpint(row.state, ==, STORE_ACTION_SKIPPED);
	g_assert_cmpstr(row.why, ==, "list");
	g_assert_cmpint(row.attempts, ==, 0);
	store_action_row_clear(&row);
	struct store_action_row untouched = { .id = 77 };
	g_assert_cmpint(store_action_get(st, ids[4], STORE_RECEIPT_PROMISE, &untouched), ==, -ENOENT);
	g_assert_cmpint(untouched.id, ==, 77);

	struct store_status status;
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.receipts[STORE_ACTION_DONE], ==, 1);
	g_assert_cmpint(status.receipts[STORE_ACTION_PENDING], ==, 1);
	g_assert_cmpint(status.receipts[STORE_ACTION_SKIPPED], ==, 1);
	g_assert_cmpint(status.receipts[STORE_ACTION_FAILED], ==, 1);
	g_assert_cmpint(status.actions_pending, ==, 1); /* the server action only */
	g_assert_nonnull(status.last_receipt_error);
	g_free(status.last_error);
	g_free(status.last_action_error);
	g_free(status.last_receipt_error);
	g_free(status.gap_uids);

	/* An operator asks: a sent one only with again; a new one for a record
	 * that had none; never for a record that does not exist. */
	g_assert_cmpint(store_action_request(st, ids[0], STORE_RECEIPT_PROMISE, "mette", false, now + 5, &row), ==,
			-EALREADY);
	g_assert_cmpint(row.state, ==, STORE_ACTION_DONE);
	store_action_row_clear(&row);
	g_assert_cmpint(store_action_request(st, ids[0], STORE_RECEIPT_PROMISE, "mette", true, now + 5, NULL), ==, 0);
	g_assert_cmpint(store_action_request(st, ids[2], STORE_RECEIPT_PROMISE, "mette", false, now + 5, NULL), ==, 0);
	g_assert_cmpint(store_action_request(st, ids[4], STORE_RECEIPT_PROMISE, "mette", false, now + 5, NULL), ==, 0);
	g_assert_cmpint(store_action_request(st, ids[1], STORE_RECEIPT_PROMISE, "mette", false, now + 5, NULL), ==,
			-EALREADY);
	g_assert_cmpint(store_action_request(st, 999, STORE_RECEIPT_PROMISE, "mette", false, now + 5, NULL), ==,
			-ENOENT);
	g_autofree struct store_action *asked = NULL;
	g_assert_cmpint(store_actions_due(st, STORE_RECEIPT_PROMISE, NULL, 0, now + 5, &asked, &n), ==, 0);
	g_assert_cmpuint(n, ==, 3);
	for (size_t i = 0; i < n; i++)
		g_assert_true(asked[i].requested);
	g_assert_cmpint(store_action_get(st, ids[4], STORE_RECEIPT_PROMISE, &row), ==, 0);
	g_assert_cmpstr(row.requested_by, ==, "mette");
	g_assert_cmpint(row.created_at, ==, now + 5);
	store_action_row_clear(&row);
	int rows = 0;
	g_assert_cmpint(store_foreach_action(st, STORE_RECEIPT_PROMISE, count_rows, &rows), ==, 0);
	g_assert_cmpint(rows, ==, 5);
	store_close(st);
}

/* A schema-9 database's actions survive the rebuild of schema 10: ids,
 * states, targets and attempts; the new states are allowed after it. */
static void test_upgrade_receipts(void)
{
	g_autofree char *path = db_path("upgrade-v9.db");
	g_autofree char *err = NULL;
	g_assert_cmpint(store_create_at_version(path, 9, &err), ==, 0);
	exec_sql(
		path,
		"INSERT INTO mailboxes VALUES ('INBOX', 42, 2, 0);"
		"INSERT INTO messages (id, mailbox, uidvalidity, uid, recorded_at, server_size, raw_size, status, "
		"reasons) VALUES (1, 'INBOX', 42, 1, 1600000000, 1, 0, 'accepted', '[]'),"
		"(2, 'INBOX', 42, 2, 1600000001, 1, 0, 'accepted', '[]');"
		"INSERT INTO actions (id, message, promise, state, kind, target, done_at, attempts, last_error) VALUES "
		"(7, 1, 'after_ingest', 'done', 'move', 'Behandlet', 1600000005, 1, NULL),"
		"(8, 2, 'after_ingest', 'pending', NULL, NULL, NULL, 3, 'no such folder');");
	struct store *st = open_rw(path);
	g_assert_cmpint(user_version(path), ==, STORE_SCHEMA_VERSION);
	g_auto(StoreActionRow) row = { 0 };
	g_assert_cmpint(store_action_get(st, 2, STORE_SERVER_ACTION_PROMISE, &row), ==, 0);
	g_assert_cmpint(row.id, ==, 8);
	g_assert_cmpint(row.state, ==, STORE_ACTION_PENDING);
	g_assert_cmpint(row.attempts, ==, 3);
	g_assert_cmpstr(row.last_error, ==, "no such folder");
	g_assert_cmpint(row.created_at, ==, 1600000001); /* the record's commit */
	store_action_row_clear(&row);
	g_assert_cmpint(store_action_get(st, 1, STORE_SERVER_ACTION_PROMISE, &row), ==, 0);
	g_assert_cmpint(row.state, ==, STORE_ACTION_DONE);
	g_assert_cmpstr(row.target, ==, "Behandlet");
	g_autofree struct store_action *p = NULL;
	size_t n = 0;
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 42, &p, &n), ==, 0);
	g_assert_cmpuint(n, ==, 1);
	struct store_action_settlement skipped = { .state = STORE_ACTION_SKIPPED, .why = "test" };
	g_assert_cmpint(store_action_settle(st, 8, &skipped, 1600000100), ==, 0);
	store_action_row_clear(&row);
	g_assert_cmpint(store_action_get(st, 2, STORE_SERVER_ACTION_PROMISE, &row), ==, 0);
	g_assert_cmpint(row.state, ==, STORE_ACTION_SKIPPED);
	store_close(st);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	tmpdir = g_dir_make_tmp("puljed-store-XXXXXX", NULL);
	g_test_add_func("/store/record-and-watermark", test_record_and_watermark);
	g_test_add_func("/store/read-only", test_read_only);
	g_test_add_func("/store/open-out-parameters", test_open_out_parameters);
	g_test_add_func("/store/signature-facts", test_signature_facts);
	g_test_add_func("/store/schema-version", test_schema_version);
	g_test_add_func("/store/rollback", test_rollback_on_failure);
	g_test_add_func("/store/batch", test_batch);
	g_test_add_func("/store/actions", test_actions);
	g_test_add_func("/store/receipt-actions", test_receipt_actions);
	g_test_add_func("/store/upgrade/receipts", test_upgrade_receipts);
	g_test_add_func("/store/verdict-words", test_verdict_words);
	g_test_add_func("/store/migrate-v3", test_migrate_v3);
	g_test_add_func("/store/rekey", test_rekey);
	g_test_add_func("/store/migration-all-or-nothing", test_migration_all_or_nothing);
	g_test_add_func("/store/large-blobs", test_large_blobs);
	for (size_t i = 0; i < G_N_ELEMENTS(releases); i++) {
		g_autofree char *name = g_strdup_printf("/store/upgrade/schema-%s", releases[i].name);
		g_test_add_data_func(name, &releases[i], test_upgrade);
	}
	g_test_add_func("/store/upgrade/actions", test_upgrade_actions);
	g_test_add_func("/store/mismatch", test_mismatch);
	g_test_add_func("/store/empty-file", test_empty_file);
	g_test_add_func("/store/read-only-file", test_read_only_file);
	g_test_add_func("/store/page-size", test_page_size);
	g_test_add_func("/store/statement-reuse", test_statement_reuse);
	g_test_add_func("/store/background-checkpoints", test_background_checkpoints);
	g_test_add_func("/store/wal-bounded", test_wal_bounded);
	g_test_add_func("/store/gaps", test_gaps);
	g_test_add_func("/store/create-disk-full", test_create_disk_full);
	int r = g_test_run();
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		r = 1;
	g_free(tmpdir);
	return r;
}
