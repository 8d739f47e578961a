/* Unit tests for actions, the side-effect queue, over a real SQLite store
 * in a temporary directory: promises committed with their record (and
 * rolled back with it), carried out in UID order, marked done, retried
 * with attempts and the last error counted, shown by status. */
#include "actions.h"

#include <errno.h>
#include <glib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static char *tmpdir;

static struct store *open_inbox(const char *name, char **path)
{
	*path = g_build_filename(tmpdir, name, NULL);
	struct store *st = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(store_open(*path, STORE_READ_WRITE, &st, &err), ==, 0);
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 42), ==, 0);
	return st;
}

static struct config config_with(enum config_after_ingest after)
{
	return (struct config){ .imap = { .mailbox = (char *)"INBOX",
					  .after_ingest = after,
					  .after_ingest_keyword = (char *)"$Puljed",
					  .after_ingest_folder =
						  after == CONFIG_AFTER_MOVE ? (char *)"Behandlet" : NULL } };
}

/* Records UID (its raw bytes RAW) under UIDVALIDITY with the promises
 * CFG makes for a fetched message. */
static int64_t record(struct store *st, const struct config *cfg, uint32_t uidvalidity, uint32_t uid, const char *raw)
{
	g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, raw, -1);
	struct store_message m = {
		.mailbox = "INBOX",
		.uidvalidity = uidvalidity,
		.uid = uid,
		.server_size = strlen(raw),
		.raw = (const uint8_t *)raw,
		.raw_size = strlen(raw),
		.raw_sha256 = sha,
		.on_time = -1,
		.status = RULES_REVIEW,
		.reasons = "[]",
	};
	actions_promise(cfg, &m, true);
	int64_t id = 0;
	enum store_outcome out;
	g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &out), ==, 0);
	return id;
}

/* "uid:state:kind:target:done" of every record, in id order. */
static int seen_cb(const struct store_message *m, void *userdata)
{
	g_string_append_printf(userdata, "%s%u:%s:%s:%s:%d", ((GString *)userdata)->len ? " " : "", m->uid,
			       m->server_action ? m->server_action : "-",
			       m->server_action_kind ? m->server_action_kind : "-",
			       m->server_action_target ? m->server_action_target : "-", m->server_action_at != 0);
	return 0;
}

static char *seen(struct store *st)
{
	GString *g = g_string_new(NULL);
	g_assert_cmpint(store_foreach_message(st, 0, false, seen_cb, g), ==, 0);
	return g_string_free(g, FALSE);
}

/* "attempts/last_error" of each action, in id order. */
static char *attempts(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT attempts, last_error, last_attempt_at FROM actions ORDER BY id",
					   -1, &s, NULL),
			==, SQLITE_OK);
	GString *g = g_string_new(NULL);
	while (sqlite3_step(s) == SQLITE_ROW)
		g_string_append_printf(g, "%s%d/%s@%lld", g->len ? " " : "", sqlite3_column_int(s, 0),
				       sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "-",
				       (long long)sqlite3_column_int64(s, 2));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return g_string_free(g, FALSE);
}

/* A kind of the tests' own: it notes the UIDs of each batch and fails
 * while `fail` is set (stopping the run when `stop` is). */
static struct {
	GString *calls;
	bool fail, stop;
} probe;

static bool probe_chosen(const struct config *cfg)
{
	return cfg->imap.after_ingest != CONFIG_AFTER_NONE;
}

static const char *probe_target(const struct config *cfg)
{
	(void)cfg;
	return "there";
}

static int probe_run(const struct actions_context *c, const struct store_action *batch, size_t n, const char **error,
		     bool *stop)
{
	(void)c;
	g_string_append(probe.calls, "[");
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(probe.calls, "%s%u", i ? "," : "", batch[i].uid);
	g_string_append(probe.calls, "]");
	if (!probe.fail)
		return 0;
	*error = "refused: no such folder";
	*stop = probe.stop;
	return -7;
}

static const struct actions_kind probe_kind = {
	.name = "probe",
	.promise = STORE_SERVER_ACTION_PROMISE,
	.chosen = probe_chosen,
	.target = probe_target,
	.run = probe_run,
};

/* A second kind of another promise: runs after the probe, if at all. */
static int second_run(const struct actions_context *c, const struct store_action *batch, size_t n, const char **error,
		      bool *stop)
{
	(void)c, (void)batch, (void)error, (void)stop;
	g_string_append_printf(probe.calls, "second:%zu", n);
	return 0;
}

static const struct actions_kind second_kind = {
	.name = "second",
	.promise = "receipt",
	.chosen = probe_chosen,
	.target = probe_target,
	.run = second_run,
};

static const struct actions_kind mailbox_kind = {
	.name = "probe",
	.promise = STORE_SERVER_ACTION_PROMISE,
	.needs = ACTIONS_NEED_MAILBOX,
	.chosen = probe_chosen,
	.target = probe_target,
	.run = probe_run,
};

static void on_outcome(const struct actions_outcome *o, void *userdata)
{
	g_string_append_printf(userdata, "%s%s %zu %s %s", ((GString *)userdata)->len ? "; " : "", o->kind->name, o->n,
			       o->done ? "done" : "kept", o->done ? o->target : o->error);
}

static void reset_probe(void)
{
	if (probe.calls)
		g_string_free(probe.calls, TRUE);
	probe.calls = g_string_new(NULL);
	probe.fail = probe.stop = false;
}

static int run(struct store *st, const struct config *cfg, uint32_t uidvalidity, int64_t now, GString *outcomes)
{
	static const struct actions_kind *const table[] = { &probe_kind };
	struct actions_context c = { .cfg = cfg,
				     .store = st,
				     .mailbox = "INBOX",
				     .uidvalidity = uidvalidity,
				     .now = now };
	return actions_run_kinds(&c, table, G_N_ELEMENTS(table), on_outcome, outcomes);
}

/* The built-in kinds: after_ingest chooses one, which needs the mailbox
 * read-write, and a message is promised it only when its body was
 * fetched — once, however often asked. */
static void test_promise(void)
{
	struct config none = config_with(CONFIG_AFTER_NONE), kw = config_with(CONFIG_AFTER_KEYWORD),
		      mv = config_with(CONFIG_AFTER_MOVE);
	g_assert_false(actions_enabled(&none));
	g_assert_true(actions_enabled(&kw));
	g_assert_true(actions_enabled(&mv));
	g_assert_cmpuint(actions_needs(&none), ==, 0);
	g_assert_cmpuint(actions_needs(&kw), ==, ACTIONS_NEED_MAILBOX);
	g_assert_cmpuint(actions_needs(&mv), ==, ACTIONS_NEED_MAILBOX);
	struct store_message m = { 0 };
	actions_promise(&none, &m, true);
	g_assert_cmpuint(m.n_promises, ==, 0);
	actions_promise(&kw, &m, false); /* recorded without its body: left alone on the server */
	g_assert_cmpuint(m.n_promises, ==, 0);
	actions_promise(&kw, &m, true);
	actions_promise(&mv, &m, true);
	g_assert_cmpuint(m.n_promises, ==, 1);
	g_assert_cmpstr(m.promises[0], ==, STORE_SERVER_ACTION_PROMISE);
	g_assert_cmpstr(actions_imap_keyword.name, ==, "keyword");
	g_assert_cmpstr(actions_imap_move.name, ==, "move");
	g_assert_cmpstr(actions_imap_keyword.target(&kw), ==, "$Puljed");
	g_assert_cmpstr(actions_imap_move.target(&mv), ==, "Behandlet");
}

/* A promise lives and dies with its record's transaction. */
static void test_record_first(void)
{
	g_autofree char *path = NULL;
	struct store *st = open_inbox("first.db", &path);
	struct config kw = config_with(CONFIG_AFTER_KEYWORD);
	g_assert_cmpint(store_begin(st), ==, 0);
	record(st, &kw, 42, 1, "one");
	store_rollback(st);
	g_autofree struct store_action *p = NULL;
	size_t n = 9;
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 42, &p, &n), ==, 0);
	g_assert_cmpuint(n, ==, 0);
	g_free(g_steal_pointer(&p));
	g_assert_cmpint(store_begin(st), ==, 0);
	int64_t id = record(st, &kw, 42, 1, "one");
	g_assert_cmpint(store_commit(st), ==, 0);
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 42, &p, &n), ==, 0);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpint(p[0].message, ==, id);
	g_assert_cmpuint(p[0].uid, ==, 1);
	g_assert_cmpint(p[0].attempts, ==, 0);
	g_free(g_steal_pointer(&p));
	/* The same message again (already recorded), or under a new
	 * UIDVALIDITY (re-keyed): no second promise; the first follows the
	 * record to its new key. */
	record(st, &kw, 42, 1, "one");
	g_assert_cmpint(store_mailbox_reset(st, "INBOX", 43), ==, 0);
	record(st, &kw, 43, 7, "one");
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 43, &p, &n), ==, 0);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(p[0].uid, ==, 7);
	g_assert_cmpint(p[0].message, ==, id);
	struct store_status status;
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.actions_pending, ==, 1);
	g_free(status.last_error);
	store_close(st);
}

/* Carried out once, in UID order, then marked with what was done; a
 * second run finds nothing.  Records of another UIDVALIDITY wait. */
static void test_done(void)
{
	g_autofree char *path = NULL;
	struct store *st = open_inbox("done.db", &path);
	struct config kw = config_with(CONFIG_AFTER_KEYWORD);
	reset_probe();
	record(st, &kw, 42, 5, "five");
	record(st, &kw, 42, 2, "two");
	record(st, &kw, 42, 9, "nine");
	g_autoptr(GString) out = g_string_new(NULL);
	g_assert_cmpint(run(st, &kw, 41, 1700000000, out), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "");
	g_assert_cmpint(run(st, &kw, 42, 1700000000, out), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "[2,5,9]");
	g_assert_cmpstr(out->str, ==, "probe 3 done there");
	g_autofree char *s = seen(st);
	g_assert_cmpstr(s, ==, "5:done:probe:there:1 2:done:probe:there:1 9:done:probe:there:1");
	g_autofree char *a = attempts(path);
	g_assert_cmpstr(a, ==, "1/-@1700000000 1/-@1700000000 1/-@1700000000");
	g_assert_cmpint(run(st, &kw, 42, 1700000001, out), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "[2,5,9]");
	/* Not chosen (after_ingest = none): nothing is carried out. */
	struct config none = config_with(CONFIG_AFTER_NONE);
	record(st, &kw, 42, 10, "ten");
	g_assert_cmpint(run(st, &none, 42, 1700000002, out), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "[2,5,9]");
	store_close(st);
}

/* Refused: kept pending with the attempt and the error counted, shown by
 * status, and tried again at the next run until it is done. */
static void test_retried(void)
{
	g_autofree char *path = NULL;
	struct store *st = open_inbox("retry.db", &path);
	struct config mv = config_with(CONFIG_AFTER_MOVE);
	reset_probe();
	record(st, &mv, 42, 1, "one");
	record(st, &mv, 42, 2, "two");
	g_autoptr(GString) out = g_string_new(NULL);
	probe.fail = true;
	g_assert_cmpint(run(st, &mv, 42, 100, out), ==, ACTIONS_OK);
	g_assert_cmpint(run(st, &mv, 42, 200, out), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "[1,2][1,2]");
	g_assert_cmpstr(out->str, ==, "probe 2 kept refused: no such folder; probe 2 kept refused: no such folder");
	g_autofree char *a1 = attempts(path);
	g_assert_cmpstr(a1, ==, "2/refused: no such folder@200 2/refused: no such folder@200");
	g_autofree char *s1 = seen(st);
	g_assert_cmpstr(s1, ==, "1:pending:-:-:0 2:pending:-:-:0");
	struct store_status status;
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.actions_pending, ==, 2);
	g_assert_cmpint(status.action_attempts, ==, 2);
	g_assert_cmpstr(status.last_action_error, ==, "refused: no such folder");
	g_free(status.last_error);
	g_free(status.last_action_error);

	probe.fail = false;
	g_assert_cmpint(run(st, &mv, 42, 300, out), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "[1,2][1,2][1,2]");
	g_autofree char *a2 = attempts(path);
	g_assert_cmpstr(a2, ==, "3/-@300 3/-@300");
	g_autofree char *s2 = seen(st);
	g_assert_cmpstr(s2, ==, "1:done:probe:there:1 2:done:probe:there:1");
	g_assert_cmpint(store_get_status(st, &status), ==, 0);
	g_assert_cmpint(status.actions_pending, ==, 0);
	g_assert_cmpint(status.action_attempts, ==, 0);
	g_assert_null(status.last_action_error);
	g_free(status.last_error);
	store_close(st);
}

/* A kind that leaves its context unusable stops the run with its code:
 * the kinds after it wait.  One that needs the mailbox waits without it. */
static void test_stop(void)
{
	g_autofree char *path = NULL;
	struct store *st = open_inbox("stop.db", &path);
	struct config kw = config_with(CONFIG_AFTER_KEYWORD);
	reset_probe();
	struct store_message m = { .mailbox = "INBOX",
				   .uidvalidity = 42,
				   .uid = 3,
				   .raw_size = 0,
				   .on_time = -1,
				   .status = RULES_REVIEW,
				   .reasons = "[]",
				   .promises = { STORE_SERVER_ACTION_PROMISE, "receipt" },
				   .n_promises = 2 };
	int64_t id;
	enum store_outcome o;
	g_assert_cmpint(store_record(st, &m, NULL, 0, &id, &o), ==, 0);
	static const struct actions_kind *const table[] = { &probe_kind, &second_kind };
	struct actions_context c = { .cfg = &kw, .store = st, .mailbox = "INBOX", .uidvalidity = 42, .now = 5 };
	g_autoptr(GString) out = g_string_new(NULL);
	probe.fail = probe.stop = true;
	g_assert_cmpint(actions_run_kinds(&c, table, 2, on_outcome, out), ==, -7);
	g_assert_cmpstr(probe.calls->str, ==, "[3]");
	g_assert_cmpstr(out->str, ==, "probe 1 kept refused: no such folder");
	probe.fail = probe.stop = false;
	g_assert_cmpint(actions_run_kinds(&c, table, 2, on_outcome, out), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "[3][3]second:1");
	/* Both promises done; the server_action fields show only their own. */
	g_autofree char *s = seen(st);
	g_assert_cmpstr(s, ==, "3:done:probe:there:1");

	static const struct actions_kind *const needs[] = { &mailbox_kind };
	record(st, &kw, 42, 4, "four");
	g_assert_cmpint(actions_run_kinds(&c, needs, 1, NULL, NULL), ==, ACTIONS_OK);
	g_assert_cmpstr(probe.calls->str, ==, "[3][3]second:1");
	g_autofree struct store_action *p = NULL;
	size_t n = 0;
	g_assert_cmpint(store_actions_pending(st, STORE_SERVER_ACTION_PROMISE, "INBOX", 42, &p, &n), ==, 0);
	g_assert_cmpuint(n, ==, 1);
	store_close(st);
}

/* A kind that settles one by one, as the receipt does: each UID's verdict
 * comes from a script; a "wait" ends the run and leaves the rest untried. */
static struct {
	GString *calls;
	int begun, ended;
} each;

static void *each_begin(const struct actions_context *c)
{
	(void)c;
	each.begun++;
	return &each;
}

static void each_end(void *state)
{
	g_assert_true(state == &each);
	each.ended++;
}

static void each_run_one(void *state, const struct actions_context *c, const struct store_action *a,
			 struct actions_verdict *v)
{
	(void)state;
	g_string_append_printf(each.calls, "%s%u", each.calls->len ? "," : "", a->uid);
	switch (a->uid) {
	case 1:
		v->how = (struct store_action_settlement){ .state = STORE_ACTION_DONE,
							   .kind = "each",
							   .target = "a@x.dk",
							   .detail = "<1@x>",
							   .attempted = true };
		break;
	case 2:
		v->how = (struct store_action_settlement){ .state = STORE_ACTION_PENDING,
							   .error = "451 later",
							   .next_at = c->now + 100,
							   .attempted = true };
		break;
	case 3:
		v->how = (struct store_action_settlement){ .state = STORE_ACTION_SKIPPED, .why = "list" };
		break;
	case 4:
		v->how = (struct store_action_settlement){ .state = STORE_ACTION_FAILED,
							   .error = "550 no",
							   .attempted = true };
		break;
	default:
		/* 5 waits while c->now is below 1000, then is done. */
		if (c->now < 1000) {
			v->wait = true;
			v->wait_until = 1000;
		} else
			v->how = (struct store_action_settlement){ .state = STORE_ACTION_DONE, .attempted = true };
		break;
	}
}

static bool each_chosen(const struct config *cfg)
{
	(void)cfg;
	return true;
}

static const struct actions_kind each_kind = {
	.name = "each",
	.promise = STORE_RECEIPT_PROMISE,
	.chosen = each_chosen,
	.begin = each_begin,
	.run_one = each_run_one,
	.end = each_end,
};

static void count_outcome(const struct actions_outcome *o, void *userdata)
{
	g_assert_nonnull(o->how);
	g_string_append_printf(userdata, "%s%" G_GINT64_FORMAT ":%s", ((GString *)userdata)->len ? " " : "", o->record,
			       store_action_state_name(o->how->state));
}

static enum store_action_state state_of(struct store *st, int64_t id)
{
	g_auto(StoreActionRow) row = { 0 };
	g_assert_cmpint(store_action_get(st, id, STORE_RECEIPT_PROMISE, &row), ==, 0);
	return row.state;
}

static void test_one_by_one(void)
{
	g_autofree char *path = NULL;
	struct store *st = open_inbox("each.db", &path);
	struct config cfg = config_with(CONFIG_AFTER_NONE);
	int64_t ids[7];
	cfg.receipts.send = true; /* the built-in receipt kind promises "receipt" */
	for (uint32_t uid = 1; uid <= 6; uid++) {
		g_autofree char *raw = g_strdup_printf("each %u", uid);
		ids[uid] = record(st, &cfg, 42, uid, raw);
	}
	static const struct actions_kind *const table[] = { &each_kind };
	each.calls = g_string_new(NULL);
	g_autoptr(GString) outcomes = g_string_new(NULL);
	int64_t wait_until = 0, due = -1;
	/* Before any run: all six are due now. */
	g_assert_cmpint(actions_next_due_kinds(&cfg, st, table, 1, &due), ==, 0);
	g_assert_cmpint(due, ==, 0);
	struct actions_context c = { .cfg = &cfg, .store = st, .now = 600, .ret_wait_until = &wait_until };
	g_assert_cmpint(actions_run_kinds(&c, table, 1, count_outcome, outcomes), ==, ACTIONS_OK);
	/* The run ended on 5's wait, which said until when. */
	g_assert_cmpint(wait_until, ==, 1000);
	/* 5 waited: 6 was never tried; each settled one was reported. */
	g_assert_cmpstr(each.calls->str, ==, "1,2,3,4,5");
	g_assert_cmpint(each.begun, ==, 1);
	g_assert_cmpint(each.ended, ==, 1);
	g_autofree char *want = g_strdup_printf("%" G_GINT64_FORMAT ":done %" G_GINT64_FORMAT
						":pending %" G_GINT64_FORMAT ":skipped %" G_GINT64_FORMAT ":failed",
						ids[1], ids[2], ids[3], ids[4]);
	g_assert_cmpstr(outcomes->str, ==, want);
	g_assert_cmpint(state_of(st, ids[1]), ==, STORE_ACTION_DONE);
	g_assert_cmpint(state_of(st, ids[2]), ==, STORE_ACTION_PENDING);
	g_assert_cmpint(state_of(st, ids[3]), ==, STORE_ACTION_SKIPPED);
	g_assert_cmpint(state_of(st, ids[4]), ==, STORE_ACTION_FAILED);
	g_assert_cmpint(state_of(st, ids[5]), ==, STORE_ACTION_PENDING);
	g_auto(StoreActionRow) row = { 0 };
	g_assert_cmpint(store_action_get(st, ids[5], STORE_RECEIPT_PROMISE, &row), ==, 0);
	g_assert_cmpint(row.attempts, ==, 0); /* waiting is no attempt */
	/* 5 and 6 are still due now (untried); 2 at 700. */
	g_assert_cmpint(actions_next_due_kinds(&cfg, st, table, 1, &due), ==, 0);
	g_assert_cmpint(due, ==, 0);

	/* At 650, 2 is not due yet (its next attempt is at 700) and 5 waits
	 * again; at 1000 all three are tried; at 1001 none is due (2 is
	 * pending until 1100, 5 and 6 are done). */
	g_string_truncate(each.calls, 0);
	c.now = 650;
	g_assert_cmpint(actions_run_kinds(&c, table, 1, NULL, NULL), ==, ACTIONS_OK);
	g_assert_cmpstr(each.calls->str, ==, "5");
	g_string_truncate(each.calls, 0);
	c.now = 1000;
	g_assert_cmpint(actions_run_kinds(&c, table, 1, NULL, NULL), ==, ACTIONS_OK);
	g_assert_cmpstr(each.calls->str, ==, "2,5,6");
	/* Left: 2, pending until 1100. */
	g_assert_cmpint(actions_next_due_kinds(&cfg, st, table, 1, &due), ==, 0);
	g_assert_cmpint(due, ==, 1100);
	g_string_truncate(each.calls, 0);
	c.now = 1001;
	g_assert_cmpint(actions_run_kinds(&c, table, 1, NULL, NULL), ==, ACTIONS_OK);
	g_assert_cmpstr(each.calls->str, ==, "");
	g_assert_cmpint(state_of(st, ids[6]), ==, STORE_ACTION_DONE);
	/* At 1100, 2 is tried and put off again, to 1200.  A kind not
	 * chosen is not asked; a promise with nothing pending has no time. */
	c.now = 1100;
	g_assert_cmpint(actions_run_kinds(&c, table, 1, NULL, NULL), ==, ACTIONS_OK);
	g_assert_cmpint(state_of(st, ids[2]), ==, STORE_ACTION_PENDING); /* 2 says "451" again */
	g_assert_cmpint(actions_next_due_kinds(&cfg, st, table, 1, &due), ==, 0);
	g_assert_cmpint(due, ==, 1200);
	cfg.receipts.send = false;
	g_assert_cmpint(actions_next_due(&cfg, st, &due), ==, -ENOENT);
	g_assert_cmpint(due, ==, 1200); /* untouched */
	g_assert_cmpint(store_actions_next_at(st, "after_ingest", &due), ==, -ENOENT);
	g_assert_cmpint(due, ==, 1200);
	g_string_free(each.calls, TRUE);
	store_close(st);
}

/* A clock that moves 7 s each time it is read. */
static int64_t ticks;
static int64_t ticking_clock(void)
{
	return ticks += 7;
}

/* With a clock, each one-by-one action is carried out at its own time
 * and settled at the time after it: a receipt's sent time is when the
 * server took it, not when the run began. */
static void test_one_by_one_clock(void)
{
	g_autofree char *path = NULL;
	struct store *st = open_inbox("each-clock.db", &path);
	struct config cfg = config_with(CONFIG_AFTER_NONE);
	cfg.receipts.send = true;
	int64_t ids[3];
	for (uint32_t uid = 1; uid <= 2; uid++) {
		g_autofree char *raw = g_strdup_printf("clock %u", uid);
		ids[uid] = record(st, &cfg, 42, uid, raw);
	}
	static const struct actions_kind *const table[] = { &each_kind };
	each.calls = g_string_new(NULL);
	ticks = 5000;
	struct actions_context c = { .cfg = &cfg, .store = st, .now = 4000, .clock = ticking_clock };
	g_assert_cmpint(actions_run_kinds(&c, table, 1, NULL, NULL), ==, ACTIONS_OK);
	g_assert_cmpstr(each.calls->str, ==, "1,2");
	/* 1: carried out at 5007, settled done at 5014; 2: carried out at
	 * 5021 (its next attempt 100 s after that), settled at 5028. */
	g_auto(StoreActionRow) one = { 0 };
	g_assert_cmpint(store_action_get(st, ids[1], STORE_RECEIPT_PROMISE, &one), ==, 0);
	g_assert_cmpint(one.state, ==, STORE_ACTION_DONE);
	g_assert_cmpint(one.done_at, ==, 5014);
	g_auto(StoreActionRow) two = { 0 };
	g_assert_cmpint(store_action_get(st, ids[2], STORE_RECEIPT_PROMISE, &two), ==, 0);
	g_assert_cmpint(two.state, ==, STORE_ACTION_PENDING);
	g_assert_cmpint(two.next_attempt_at, ==, 5121);
	g_assert_cmpint(two.last_attempt_at, ==, 5028);
	/* A clock behind NOW does not take the run back in time. */
	ticks = 0;
	c.now = 6000;
	g_string_truncate(each.calls, 0);
	g_assert_cmpint(actions_run_kinds(&c, table, 1, NULL, NULL), ==, ACTIONS_OK);
	g_assert_cmpstr(each.calls->str, ==, "2");
	g_auto(StoreActionRow) again = { 0 };
	g_assert_cmpint(store_action_get(st, ids[2], STORE_RECEIPT_PROMISE, &again), ==, 0);
	g_assert_cmpint(again.next_attempt_at, ==, 6100);
	g_assert_cmpint(again.last_attempt_at, ==, 6000);
	g_string_free(each.calls, TRUE);
	store_close(st);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	tmpdir = g_dir_make_tmp("test-actions-XXXXXX", NULL);
	g_test_add_func("/actions/promise", test_promise);
	g_test_add_func("/actions/record-first", test_record_first);
	g_test_add_func("/actions/done", test_done);
	g_test_add_func("/actions/retried", test_retried);
	g_test_add_func("/actions/stop", test_stop);
	g_test_add_func("/actions/one-by-one", test_one_by_one);
	g_test_add_func("/actions/one-by-one-clock", test_one_by_one_clock);
	int r = g_test_run();
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		r = 1;
	g_free(tmpdir);
	if (probe.calls)
		g_string_free(probe.calls, TRUE);
	return r;
}
