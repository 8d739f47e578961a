#include "store.h"
#include "crashpoint.h"
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <gnutls/crypto.h>
#include <sqlite3.h>

struct store {
	sqlite3 *db;
	enum store_mode mode;
	char errbuf[512];
	uint8_t *copy_buf;         /* BLOB_CHUNK bytes for copying a spool file in, kept from one message to the next */
	GHashTable *stmts;         /* SQL text -> a prepared statement not in use, reset; NULL: none kept */
	struct checkpointer *ckpt; /* NULL: SQLite's own checkpoints, in the committing thread */
	int64_t last_duplicate_of; /* of the last store_record(); 0: none */
};

/* Checkpoints in a thread of its own, on a connection of its own, so that
 * a commit never waits for the copy into the database and its fsync. */
struct checkpointer {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want, quit;
	bool busy;      /* a checkpoint is running, in the thread or the committer */
	int soft, hard; /* WAL frames: ask the thread; checkpoint in the committer */
};

/* Prepared statements kept for reuse, at most: every statement of
 * recording a message is prepared once per connection, not per message. */
#define STMT_CACHE_MAX 64

static const char schema_v1[] =
	"CREATE TABLE mailboxes (\n"
	"  mailbox TEXT PRIMARY KEY,\n"
	"  uidvalidity INTEGER NOT NULL,\n"
	"  last_uid INTEGER NOT NULL DEFAULT 0,\n"
	"  updated_at INTEGER NOT NULL\n"
	");\n"
	"CREATE TABLE messages (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  mailbox TEXT NOT NULL,\n"
	"  uidvalidity INTEGER NOT NULL,\n"
	"  uid INTEGER NOT NULL,\n"
	"  recorded_at INTEGER NOT NULL,\n"
	"  received_epoch INTEGER,\n"
	"  received_at TEXT,\n"
	"  internaldate TEXT,\n"
	"  server_size INTEGER NOT NULL,\n"
	"  raw BLOB,\n"
	"  raw_size INTEGER NOT NULL,\n"
	"  raw_sha256 TEXT,\n"
	"  message_id TEXT,\n"
	"  from_addr TEXT,\n"
	"  from_name TEXT,\n"
	"  subject TEXT,\n"
	"  date_header TEXT,\n"
	"  call TEXT,\n"
	"  applicant TEXT,\n"
	"  on_time INTEGER,\n"
	"  status TEXT NOT NULL CHECK (status IN ('accepted','late','review','unrelated')),\n"
	"  reasons TEXT NOT NULL,\n"
	"  flags TEXT,\n"
	"  duplicate_of INTEGER REFERENCES messages(id),\n"
	"  UNIQUE (mailbox, uidvalidity, uid)\n"
	");\n"
	"CREATE INDEX messages_raw_sha256 ON messages(raw_sha256);\n"
	"CREATE TABLE attachments (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  seq INTEGER NOT NULL,\n"
	"  filename TEXT,\n"
	"  content_type TEXT NOT NULL,\n"
	"  part_path TEXT,\n"
	"  size INTEGER NOT NULL,\n"
	"  sha256 TEXT NOT NULL,\n"
	"  data BLOB NOT NULL,\n"
	"  UNIQUE (message, seq)\n"
	");\n"
	"CREATE TABLE state (\n"
	"  key TEXT PRIMARY KEY,\n"
	"  value\n"
	");\n";

/* Schema 2: how a record was classified, and operators' decisions. */
static const char schema_v2[] =
	"ALTER TABLE messages ADD COLUMN match TEXT;\n"
	"ALTER TABLE messages ADD COLUMN match_score REAL;\n"
	"ALTER TABLE messages ADD COLUMN kind TEXT;\n"
	"ALTER TABLE messages ADD COLUMN applicant_source TEXT;\n"
	"ALTER TABLE messages ADD COLUMN received_header_epoch INTEGER;\n"
	"ALTER TABLE messages ADD COLUMN received_header TEXT;\n"
	"ALTER TABLE messages ADD COLUMN deadline_basis TEXT;\n"
	"ALTER TABLE messages ADD COLUMN decided_by TEXT;\n"
	"ALTER TABLE messages ADD COLUMN deadline_delta INTEGER;\n"
	"CREATE TABLE decisions (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  message INTEGER NOT NULL REFERENCES messages(id),\n"
	"  decision TEXT NOT NULL CHECK (decision IN ('accept','reject')),\n"
	"  note TEXT,\n"
	"  user TEXT NOT NULL,\n"
	"  at INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX decisions_message ON decisions(message);\n";

/* Schema 3: signatures, the form, and what became of every MIME part. */
static const char schema_v3[] =
	"ALTER TABLE messages ADD COLUMN smime TEXT;\n"
	"ALTER TABLE attachments ADD COLUMN source TEXT;\n"
	"ALTER TABLE attachments ADD COLUMN signature TEXT;\n"
	"ALTER TABLE attachments ADD COLUMN signer TEXT;\n"
	"ALTER TABLE attachments ADD COLUMN signed_at TEXT;\n"
	"ALTER TABLE attachments ADD COLUMN covers_whole_file INTEGER;\n"
	"ALTER TABLE attachments ADD COLUMN signer_trusted INTEGER;\n"
	"ALTER TABLE attachments ADD COLUMN form INTEGER NOT NULL DEFAULT 0;\n"
	"CREATE TABLE parts (\n"
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  seq INTEGER NOT NULL,\n"
	"  part TEXT NOT NULL,\n"
	"  content_type TEXT,\n"
	"  filename TEXT,\n"
	"  size INTEGER NOT NULL,\n"
	"  action TEXT NOT NULL,\n"
	"  why TEXT,\n"
	"  PRIMARY KEY (message, seq)\n"
	");\n";

/* Schema 4: the after-ingest server action, promised in the record's own
 * transaction ('pending') and marked 'done' once the server did it. */
static const char schema_v4[] =
	"ALTER TABLE messages ADD COLUMN server_action TEXT CHECK (server_action IN ('pending','done'));\n"
	"ALTER TABLE messages ADD COLUMN server_action_kind TEXT;\n"
	"ALTER TABLE messages ADD COLUMN server_action_target TEXT;\n"
	"ALTER TABLE messages ADD COLUMN server_action_at INTEGER;\n"
	"CREATE INDEX messages_action_pending ON messages(mailbox, uidvalidity, uid) "
	"WHERE server_action = 'pending';\n"
	/* Earlier (UIDVALIDITY:UID) keys of a record re-keyed after the
	 * mailbox was recreated, comma-separated. */
	"ALTER TABLE messages ADD COLUMN prior_keys TEXT;\n";

/* Schema 5: large blobs written in place.  The raw message moves to its
 * own table and an attachment's bytes to the end of its row, so that each
 * is the last column: inserted as a zeroblob and filled piece by piece,
 * SQLite never builds a row the size of the message in memory. */
static const char schema_v5[] =
	"CREATE TABLE bodies (\n"
	"  message INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  raw BLOB NOT NULL\n"
	");\n"
	"INSERT INTO bodies (message, raw) SELECT id, raw FROM messages WHERE raw IS NOT NULL;\n"
	"UPDATE messages SET raw = NULL WHERE raw IS NOT NULL;\n"
	"CREATE TABLE attachments_v5 (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  seq INTEGER NOT NULL,\n"
	"  filename TEXT,\n"
	"  content_type TEXT NOT NULL,\n"
	"  part_path TEXT,\n"
	"  size INTEGER NOT NULL,\n"
	"  sha256 TEXT NOT NULL,\n"
	"  source TEXT,\n"
	"  signature TEXT,\n"
	"  signer TEXT,\n"
	"  signed_at TEXT,\n"
	"  covers_whole_file INTEGER,\n"
	"  signer_trusted INTEGER,\n"
	"  form INTEGER NOT NULL DEFAULT 0,\n"
	"  data BLOB NOT NULL,\n"
	"  UNIQUE (message, seq)\n"
	");\n"
	"INSERT INTO attachments_v5 (id, message, seq, filename, content_type, part_path, size, sha256, source, "
	"signature, signer, signed_at, covers_whole_file, signer_trusted, form, data) "
	"SELECT id, message, seq, filename, content_type, part_path, size, sha256, source, signature, signer, "
	"signed_at, covers_whole_file, signer_trusted, form, data FROM attachments;\n"
	"DROP TABLE attachments;\n"
	"ALTER TABLE attachments_v5 RENAME TO attachments;\n";

/* Schema 6: a repair.  prior_keys was added to schema 4 after schema 4
 * had been released: a database made or upgraded by that first release
 * says version 4 (or 5, upgraded since) and has no such column.  A
 * released migration is never changed; this one adds what is missing. */
static int migrate_v6(struct store *st);

/* Schema 7: the edge arrival — when the authority's own mail server took
 * the message from outside ([evidence] trusted_relays), and why not. */
static const char schema_v7[] =
	"ALTER TABLE messages ADD COLUMN edge_received_epoch INTEGER;\n"
	"ALTER TABLE messages ADD COLUMN edge_received_at TEXT;\n"
	"ALTER TABLE messages ADD COLUMN edge_why TEXT;\n";

/* Schema 8: how each signature verdict was reached — its reason, the
 * validation time and where that time came from, and whether a PDF was
 * changed after signing.  Attachments keep their bytes as the last column
 * (schema 5), so their facts go to a table of their own. */
static const char schema_v8[] =
	"ALTER TABLE messages ADD COLUMN smime_reason TEXT;\n"
	"ALTER TABLE messages ADD COLUMN smime_validated_at TEXT;\n"
	"ALTER TABLE messages ADD COLUMN smime_time_source TEXT;\n"
	"CREATE TABLE signatures (\n"
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  seq INTEGER NOT NULL,\n"
	"  reason TEXT,\n"
	"  validated_at TEXT,\n"
	"  time_source TEXT,\n"
	"  modified_after_signing INTEGER,\n"
	"  PRIMARY KEY (message, seq)\n"
	");\n";

/* Schema 9: the side-effect queue (actions.h).  A promise made with its
 * record is a row of its own, whatever it promises; the after-ingest
 * server action (schema 4's columns in messages) is the first, promise
 * 'after_ingest' (STORE_SERVER_ACTION_PROMISE; spelled out here, as a
 * released step never changes).  Each row counts its attempts and keeps
 * the last error. */
static const char schema_v9[] =
	"CREATE TABLE actions (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  promise TEXT NOT NULL,\n"
	"  state TEXT NOT NULL CHECK (state IN ('pending','done','failed')),\n"
	"  kind TEXT,\n"
	"  target TEXT,\n"
	"  done_at INTEGER,\n"
	"  attempts INTEGER NOT NULL DEFAULT 0,\n"
	"  last_attempt_at INTEGER,\n"
	"  last_error TEXT,\n"
	"  UNIQUE (message, promise)\n"
	");\n"
	"CREATE INDEX actions_pending ON actions(promise, message) WHERE state = 'pending';\n"
	"INSERT INTO actions (message, promise, state, kind, target, done_at) "
	"SELECT id, 'after_ingest', server_action, server_action_kind, server_action_target, "
	"server_action_at FROM messages WHERE server_action IS NOT NULL ORDER BY id;\n"
	"DROP INDEX messages_action_pending;\n"
	"ALTER TABLE messages DROP COLUMN server_action;\n"
	"ALTER TABLE messages DROP COLUMN server_action_kind;\n"
	"ALTER TABLE messages DROP COLUMN server_action_target;\n"
	"ALTER TABLE messages DROP COLUMN server_action_at;\n";

/* Schema 10: actions that settle one by one (a receipt): 'skipped' with
 * why (a rule said never), what identifies what was done (a receipt's
 * Message-ID), when a pending one is next due (backoff), when it was
 * promised and, for an operator's request, by whom.  SQLite cannot change
 * a CHECK constraint in place, so the table is rebuilt; ids are kept. */
static const char schema_v10[] =
	"CREATE TABLE actions_v10 (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  promise TEXT NOT NULL,\n"
	"  state TEXT NOT NULL CHECK (state IN ('pending','done','failed','skipped')),\n"
	"  kind TEXT,\n"
	"  target TEXT,\n"
	"  done_at INTEGER,\n"
	"  attempts INTEGER NOT NULL DEFAULT 0,\n"
	"  last_attempt_at INTEGER,\n"
	"  last_error TEXT,\n"
	"  detail TEXT,\n"
	"  why TEXT,\n"
	"  next_attempt_at INTEGER,\n"
	"  created_at INTEGER,\n"
	"  requested_by TEXT,\n"
	"  UNIQUE (message, promise)\n"
	");\n"
	"INSERT INTO actions_v10 (id, message, promise, state, kind, target, done_at, attempts, last_attempt_at, "
	"last_error) SELECT id, message, promise, state, kind, target, done_at, attempts, last_attempt_at, last_error "
	"FROM actions ORDER BY id;\n"
	"DROP TABLE actions;\n"
	"ALTER TABLE actions_v10 RENAME TO actions;\n"
	"CREATE INDEX actions_pending ON actions(promise, message) WHERE state = 'pending';\n"
	"CREATE INDEX actions_done_to ON actions(promise, target, done_at) WHERE state = 'done';\n";

/* Append only: a database records the number of the last step it ran. */
static const struct migration {
	const char *sql;
	int (*run)(struct store *st);
} migrations[] = {
	{ schema_v1, NULL },  { schema_v2, NULL }, { schema_v3, NULL }, { schema_v4, NULL }, { schema_v5, NULL },
	{ NULL, migrate_v6 }, { schema_v7, NULL }, { schema_v8, NULL }, { schema_v9, NULL }, { schema_v10, NULL },
};
G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == STORE_SCHEMA_VERSION);

static int fail(struct store *st, int err, const char *what)
{
	g_snprintf(st->errbuf, sizeof(st->errbuf), "%s: %s", what, st->db ? sqlite3_errmsg(st->db) : "no database");
	return err;
}

static int sql_error(struct store *st, int rc, const char *what)
{
	int e = -EIO;
	switch (rc & 0xff) {
	case SQLITE_FULL:
		e = -ENOSPC;
		break;
	case SQLITE_IOERR:
		if (sqlite3_system_errno(st->db) == ENOSPC)
			e = -ENOSPC;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		e = -EBUSY;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		e = -EACCES;
		break;
	case SQLITE_NOMEM:
		e = -ENOMEM;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		e = -EBADMSG;
		break;
	default:
		break;
	}
	if (e == -ENOSPC) { /* SQLite says "database or disk is full" or "disk I/O error" */
		g_snprintf(st->errbuf, sizeof(st->errbuf), "%s: disk full", what);
		return e;
	}
	return fail(st, e, what);
}

/* After a failed step of a transaction: SQLite may have rolled it back
 * itself (a full disk); a ROLLBACK then would only replace the error. */
static void rollback_quietly(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

const char *store_errmsg(struct store *st)
{
	return st->errbuf;
}

/* A statement for SQL: one kept from an earlier use, or a new one.  Give
 * it back with finalize(). */
static int prepare(struct store *st, const char *sql, sqlite3_stmt **stmt)
{
	gpointer key, value;
	if (st->stmts && g_hash_table_steal_extended(st->stmts, sql, &key, &value)) {
		g_free(key);
		*stmt = value;
		return 0;
	}
	int rc = sqlite3_prepare_v3(st->db, sql, -1, st->stmts ? SQLITE_PREPARE_PERSISTENT : 0, stmt, NULL);
	return rc == SQLITE_OK ? 0 : sql_error(st, rc, "prepare");
}

/* Ends a use of *S: reset and kept for the next, or finalized. */
static void finalize(struct store *st, sqlite3_stmt **s)
{
	if (!*s)
		return;
	const char *sql = sqlite3_sql(*s);
	if (st->stmts && sql && g_hash_table_size(st->stmts) < STMT_CACHE_MAX &&
	    !g_hash_table_contains(st->stmts, sql)) {
		sqlite3_reset(*s);
		sqlite3_clear_bindings(*s);
		g_hash_table_insert(st->stmts, g_strdup(sql), *s);
	} else {
		sqlite3_finalize(*s);
	}
	*s = NULL;
}

/* Runs a script of several statements (a migration). */
static int exec_script(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sql_error(st, rc, sql);
}

/* Runs one statement, through the kept ones. */
static int exec(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, sql, &s), rc;
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	r = rc == SQLITE_DONE ? 0 : sql_error(st, rc, sql);
	finalize(st, &s);
	return r;
}

/* COMMIT, and a durable step for the crash tests. */
static int commit(struct store *st)
{
	int r = exec(st, "COMMIT");
	if (r == 0)
		crashpoint("commit");
	return r;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static int migrate_to(struct store *st, int target);

static int migrate(struct store *st)
{
	return migrate_to(st, STORE_SCHEMA_VERSION);
}

int store_create_at_version(const char *path, int version, char **ret_error)
{
	struct store st = { 0 };
	int r = -EINVAL;
	if (version < 1 || version > STORE_SCHEMA_VERSION) {
		*ret_error = g_strdup_printf("no schema version %d", version);
		return r;
	}
	if (sqlite3_open(path, &st.db) == SQLITE_OK)
		r = migrate_to(&st, version);
	else
		r = -EIO;
	if (r < 0)
		*ret_error = g_strdup_printf("database %s: %s", path, st.db ? sqlite3_errmsg(st.db) : "cannot open");
	sqlite3_close(st.db);
	return r;
}

static int migrate_to(struct store *st, int target)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "PRAGMA user_version", &s);
	if (r < 0)
		return r;
	int version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	finalize(st, &s);
	if (version > STORE_SCHEMA_VERSION) {
		g_snprintf(st->errbuf, sizeof(st->errbuf),
			   "database schema version %d is newer than this puljed understands (%d)", version,
			   STORE_SCHEMA_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (version >= target)
		return 0;
	/* Every step in one transaction: a process killed while it creates
	 * or upgrades the schema leaves the version it found, never one in
	 * between (which puljectl would refuse). */
	if ((r = exec(st, "BEGIN IMMEDIATE")) < 0)
		return r;
	for (int v = version; v < target; v++) {
		const struct migration *m = &migrations[v];
		if ((r = m->run ? m->run(st) : exec_script(st, m->sql)) < 0) {
			rollback_quietly(st);
			return r;
		}
	}
	g_autofree char *set = g_strdup_printf("PRAGMA user_version = %d", target);
	if ((r = exec(st, set)) < 0 || (r = commit(st)) < 0) {
		rollback_quietly(st);
		return r;
	}
	return 0;
}

static int migrate_v6(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'prior_keys'", &s);
	if (r < 0)
		return r;
	int rc = sqlite3_step(s);
	bool has = rc == SQLITE_ROW && sqlite3_column_int(s, 0) > 0;
	finalize(st, &s);
	if (rc != SQLITE_ROW)
		return sql_error(st, rc, "look for messages.prior_keys");
	return has ? 0 : exec(st, "ALTER TABLE messages ADD COLUMN prior_keys TEXT");
}

/* The daemon's settings and the schema, on a connection that writes. */
static int setup_writer(struct store *st)
{
	/* Statement journals and the savepoint of each record in a
	 * batch (store_record) in memory, not in files under /var/tmp:
	 * they hold only pages that existed before the statement or
	 * record (a blob's new pages are not journaled); in files, a 4
	 * byte and a page-sized pwrite() per page, 273,552 pwrite()
	 * calls instead of 164,086 for 2,000 messages (strace).
	 * The page size before anything is written: a no-op on an
	 * existing database.  WAL with synchronous=NORMAL: a crash of
	 * the process never loses a commit; a power loss may lose the
	 * newest commits, watermark included, so those messages are
	 * fetched again — never lost. */
	int r;
	if ((r = exec(st, "PRAGMA temp_store = MEMORY")) < 0 ||
	    (r = exec(st, "PRAGMA page_size = " G_STRINGIFY(STORE_NEW_PAGE_SIZE))) < 0 ||
	    (r = exec(st, "PRAGMA journal_mode = WAL")) < 0 || (r = exec(st, "PRAGMA synchronous = NORMAL")) < 0 ||
	    (r = exec(st, "PRAGMA foreign_keys = ON")) < 0 || (r = migrate(st)) < 0)
		return r;
	return 0;
}

static void unlink_with_wal(const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *p = g_strconcat(path, suffixes[i], NULL);
		unlink(p);
	}
}

/* A new database at PATH, whole or not at all: made and given its schema
 * under PATH.new, then linked into place.  A process killed on the way
 * leaves PATH.new (removed by the next try), never an empty or half-made
 * PATH — so an empty PATH was not made here and is refused. */
static int create_database(const char *path, char *errbuf, size_t errlen)
{
	g_autofree char *tmp = g_strconcat(path, ".new", NULL);
	unlink_with_wal(tmp);
	/* Created here so that it is never world-readable; SQLite gives
	 * -wal and -shm the same mode. */
	int fd = file_create_new(AT_FDCWD, tmp, 0640);
	if (fd < 0) {
		g_snprintf(errbuf, errlen, "cannot create %s: %s", tmp, g_strerror(-fd));
		return fd;
	}
	close(fd);
	fd = -1;
	struct store *st = g_new0(struct store, 1);
	st->mode = STORE_READ_WRITE;
	int r, rc = sqlite3_open_v2(tmp, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK)
		r = sql_error(st, rc, tmp);
	else
		r = setup_writer(st);
	if (r < 0)
		g_strlcpy(errbuf, st->errbuf, errlen);
	store_close(st); /* the last connection: checkpoints and removes tmp-wal */
	if (r == 0 && ((fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fsync(fd) < 0)) {
		r = -errno;
		g_snprintf(errbuf, errlen, "cannot sync %s: %s", tmp, g_strerror(-r));
	}
	if (fd >= 0)
		close(fd);
	/* link() never replaces: a file that appeared meanwhile stays. */
	if (r == 0 && link(tmp, path) < 0 && errno != EEXIST) {
		r = -errno;
		g_snprintf(errbuf, errlen, "cannot create %s: %s", path, g_strerror(-r));
	}
	unlink_with_wal(tmp);
	if (r == 0) {
		g_autofree char *dir = g_path_get_dirname(path);
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return r;
}

/* Whether the database file at PATH says it is in WAL mode (header
 * bytes 18 and 19). */
static bool header_says_wal(int fd)
{
	uint8_t h[20];
	return pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) && !memcmp(h, "SQLite format 3", 16) && h[18] == 2;
}

/* Before a puljectl connection (read-only or update) opens a WAL database
 * whose -wal or -shm is missing (the daemon is stopped: its last
 * connection removed them).  SQLite would create them with the database
 * file's mode, under this process's user: a 0444 database gets a 0444 -shm
 * and a root puljectl a root one, which the daemon cannot write later (it
 * then fails with "attempt to write a readonly database").  As the
 * database's owner, or as root for it, they are made here writable by the
 * owner and owned by it; any other user is told what to do instead of
 * leaving files behind that only it could write. */
static const char *const wal_suffixes[] = { "-wal", "-shm" };

static int prepare_wal_files(const char *path, const struct stat *db, int fd, unsigned *made, char *errbuf,
			     size_t errlen)
{
	*made = 0;
	if (!header_says_wal(fd))
		return 0;
	const char *const *suffixes = wal_suffixes;
	bool owner = geteuid() == 0 || geteuid() == db->st_uid;
	for (size_t i = 0; i < G_N_ELEMENTS(wal_suffixes); i++) {
		g_autofree char *p = g_strconcat(path, suffixes[i], NULL);
		struct stat sb;
		if (lstat(p, &sb) == 0)
			continue;
		if (errno != ENOENT) {
			int e = errno;
			g_snprintf(errbuf, errlen, "cannot read the database: %s: %s", p, g_strerror(e));
			return -e;
		}
		if (!owner) {
			struct passwd *pw = getpwuid(db->st_uid);
			g_autofree char *who =
				pw ? g_strdup(pw->pw_name) : g_strdup_printf("uid %u", (unsigned)db->st_uid);
			g_snprintf(
				errbuf, errlen,
				"cannot read the database while puljed is stopped: SQLite needs %s, which only the "
				"database's owner may create; run puljectl as %s (sudo -u %s puljectl ...) or start puljed",
				p, who, who);
			return -EACCES;
		}
		int wfd = file_create_new(AT_FDCWD, p, (db->st_mode & 0660) | S_IRUSR | S_IWUSR);
		if (wfd < 0) {
			if (wfd == -EEXIST)
				continue; /* the daemon, starting */
			g_snprintf(errbuf, errlen, "cannot read the database: cannot create %s: %s", p,
				   g_strerror(-wfd));
			return wfd;
		}
		/* open() applied the umask. */
		int r = fchmod(wfd, (db->st_mode & 0660) | S_IRUSR | S_IWUSR);
		if (r == 0 && geteuid() != db->st_uid)
			r = fchown(wfd, db->st_uid, db->st_gid);
		if (r < 0) {
			int e = errno;
			close(wfd);
			unlink(p);
			g_snprintf(errbuf, errlen, "cannot read the database: %s: %s", p, g_strerror(e));
			return -e;
		}
		close(wfd);
		*made |= 1u << i;
	}
	return 0;
}

/* SQLite gives an empty -wal or -shm it opens the database's mode again
 * (0444 for a read-only file): once it has them open, the files made by
 * prepare_wal_files() (bits of MADE) get the owner's write bit back. */
static void restore_wal_modes(const char *path, const struct stat *db, unsigned made)
{
	for (size_t i = 0; i < G_N_ELEMENTS(wal_suffixes); i++) {
		g_autofree char *p = g_strconcat(path, wal_suffixes[i], NULL);
		if (made & (1u << i))
			chmod(p, (db->st_mode & 0660) | S_IRUSR | S_IWUSR);
	}
}

/* The daemon's own -wal and -shm without the owner's write bit (left so
 * by a puljectl before schema 6) get it back: SQLite would open them
 * read-only and every write would fail. */
static void repair_wal_modes(const char *path)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *p = g_strconcat(path, suffixes[i], NULL);
		struct stat sb;
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() && !(sb.st_mode & S_IWUSR))
			chmod(p, (sb.st_mode & 07777) | S_IWUSR);
	}
}

/* An existing file at PATH that can hold a database: not empty.  FD open
 * on it; *SB its status. */
static int check_file(const char *path, int fd, struct stat *sb, char *errbuf, size_t errlen)
{
	if (fstat(fd, sb) < 0) {
		int e = errno;
		g_snprintf(errbuf, errlen, "%s", g_strerror(e));
		return -e;
	}
	if (!S_ISREG(sb->st_mode)) {
		g_snprintf(errbuf, errlen, "not a regular file");
		return -EINVAL;
	}
	if (sb->st_size == 0) {
		g_snprintf(errbuf, errlen,
			   "the file is empty (0 bytes): not a puljed database, and not taken for a new one (that "
			   "would record the whole mailbox again); puljed creates its database where no file is — "
			   "remove the empty file if a new database is what you want");
		return -ENODATA;
	}
	return 0;
}

int store_open(const char *path, enum store_mode mode, struct store **ret_store, char **ret_error)
{
	g_autoptr(Store) st = g_new0(struct store, 1);
	int r, flags;

	st->mode = mode;
	st->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	bool memory = !strcmp(path, ":memory:"); /* the fuzz target */
	struct stat sb;
	unsigned made = 0; /* -wal, -shm made here */
	if (mode == STORE_READ_WRITE)
		flags = SQLITE_OPEN_READWRITE | (memory ? SQLITE_OPEN_CREATE : 0);
	else
		flags = mode == STORE_UPDATE ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	if (!memory) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT && mode == STORE_READ_WRITE) {
			if ((r = create_database(path, st->errbuf, sizeof(st->errbuf))) < 0)
				goto fail;
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		}
		if (fd < 0) {
			r = -errno;
			g_snprintf(st->errbuf, sizeof(st->errbuf), "cannot open: %s%s", g_strerror(-r),
				   r == -ENOENT ? " (has puljed run?)" : "");
			goto fail;
		}
		r = check_file(path, fd, &sb, st->errbuf, sizeof(st->errbuf));
		if (r == 0 && mode != STORE_READ_WRITE)
			r = prepare_wal_files(path, &sb, fd, &made, st->errbuf, sizeof(st->errbuf));
		else if (r == 0) {
			/* A creator killed after linking PATH in, before removing
			 * PATH.new (the daemon's lock is held: no one else is
			 * creating it). */
			g_autofree char *tmp = g_strconcat(path, ".new", NULL);
			unlink_with_wal(tmp);
			repair_wal_modes(path);
		}
		close(fd);
		if (r < 0)
			goto fail;
	}
	int rc = sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		r = sql_error(st, rc, path);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 10000);
	if (mode == STORE_READ_WRITE) {
		if ((r = setup_writer(st)) < 0)
			goto fail;
	} else {
		sqlite3_stmt *s = NULL;
		if ((r = prepare(st, "PRAGMA user_version", &s)) < 0)
			goto fail;
		rc = sqlite3_step(s);
		int v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
		finalize(st, &s);
		if (made)
			restore_wal_modes(path, &sb, made);
		if (rc != SQLITE_ROW) {
			r = sql_error(st, rc, "cannot read the database");
			if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY)
				g_strlcat(st->errbuf,
					  " (puljed is stopped and its WAL needs recovery, which only the database's "
					  "owner can do: run puljectl as that user or start puljed)",
					  sizeof(st->errbuf));
			goto fail;
		}
		/* An update brings an older schema up to date; it never makes
		 * one from nothing. */
		if (mode == STORE_UPDATE && v > 0 && v < STORE_SCHEMA_VERSION) {
			if ((r = exec(st, "PRAGMA foreign_keys = ON")) < 0 || (r = migrate(st)) < 0)
				goto fail;
			v = STORE_SCHEMA_VERSION;
		} else if (mode == STORE_UPDATE && (r = exec(st, "PRAGMA foreign_keys = ON")) < 0) {
			goto fail;
		}
		if (v != STORE_SCHEMA_VERSION) {
			g_snprintf(st->errbuf, sizeof(st->errbuf),
				   v == 0 ? "not a puljed database (no schema yet; has puljed run?)"
				   : v > STORE_SCHEMA_VERSION
					   ? "database schema version %d is newer than this puljectl reads (%d)"
					   : "database schema version %d; this puljectl reads version %d "
					     "(puljed upgrades it when it starts)",
				   v, STORE_SCHEMA_VERSION);
			r = -EPROTONOSUPPORT;
			goto fail;
		}
	}
	*ret_store = g_steal_pointer(&st);
	return 0;
fail:
	*ret_error = g_strdup_printf("database %s: %s", path, st->errbuf);
	return r;
}

static void checkpointer_stop(struct store *st);

void store_close(struct store *st)
{
	if (!st)
		return;
	checkpointer_stop(st);
	if (st->stmts) {
		GHashTableIter it;
		gpointer stmt;
		g_hash_table_iter_init(&it, st->stmts);
		while (g_hash_table_iter_next(&it, NULL, &stmt))
			sqlite3_finalize(stmt);
		g_hash_table_destroy(st->stmts);
	}
	if (st->db)
		sqlite3_close_v2(st->db);
	g_free(st->copy_buf);
	g_free(st);
}

int store_mailbox_get(struct store *st, const char *mailbox, uint32_t *ret_uidvalidity, uint32_t *ret_last_uid)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "SELECT uidvalidity, last_uid FROM mailboxes WHERE mailbox = ?", &s);
	if (r < 0)
		return r;
	bind_text(s, 1, mailbox);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret_uidvalidity = (uint32_t)sqlite3_column_int64(s, 0);
		*ret_last_uid = (uint32_t)sqlite3_column_int64(s, 1);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = sql_error(st, rc, "read watermark");
	}
	finalize(st, &s);
	return r;
}

int store_mailbox_reset(struct store *st, const char *mailbox, uint32_t uidvalidity)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"INSERT INTO mailboxes (mailbox, uidvalidity, last_uid, updated_at) VALUES (?1, ?2, 0, ?3) "
			"ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = ?2, last_uid = 0, updated_at = ?3",
			&s);
	if (r < 0)
		return r;
	bind_text(s, 1, mailbox);
	sqlite3_bind_int64(s, 2, uidvalidity);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
	int rc = sqlite3_step(s);
	r = rc == SQLITE_DONE ? 0 : sql_error(st, rc, "reset watermark");
	finalize(st, &s);
	if (r == 0)
		crashpoint("watermark reset");
	return r;
}

static int find_original(struct store *st, const char *sha, int64_t *orig)
{
	sqlite3_stmt *s = NULL;
	*orig = 0;
	if (!sha)
		return 0;
	int r = prepare(st, "SELECT id FROM messages WHERE raw_sha256 = ? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
			&s);
	if (r < 0)
		return r;
	bind_text(s, 1, sha);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*orig = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		r = sql_error(st, rc, "look for duplicates");
	finalize(st, &s);
	return r;
}

/* The schema-2 details of M at parameters FIRST .. FIRST+8. */
static void bind_details(sqlite3_stmt *s, int first, const struct store_message *m)
{
	bind_text(s, first, record_match_name(m->match));
	if (m->match_score >= 0)
		sqlite3_bind_double(s, first + 1, m->match_score);
	bind_text(s, first + 2, m->has_kind ? record_kind_name(m->kind) : NULL);
	bind_text(s, first + 3, m->applicant_source);
	if (m->has_received_header)
		sqlite3_bind_int64(s, first + 4, m->received_header_epoch);
	bind_text(s, first + 5, m->received_header);
	bind_text(s, first + 6, m->deadline_basis);
	bind_text(s, first + 7, m->decided_by);
	if (m->has_delta)
		sqlite3_bind_int64(s, first + 8, m->deadline_delta);
}

/* The schema-7 edge arrival of M at parameters FIRST .. FIRST+2. */
static void bind_edge(sqlite3_stmt *s, int first, const struct store_message *m)
{
	if (m->has_edge_received)
		sqlite3_bind_int64(s, first, m->edge_received_epoch);
	bind_text(s, first + 1, m->edge_received_at);
	bind_text(s, first + 2, m->edge_why);
}

/* The schema-8 S/MIME facts of M at parameters FIRST .. FIRST+2. */
static void bind_smime(sqlite3_stmt *s, int first, const struct store_message *m)
{
	bind_text(s, first, m->smime_reason);
	bind_text(s, first + 1, m->smime_validated_at);
	bind_text(s, first + 2, m->smime_time_source);
}

/* Whether MSG carries its raw bytes (in memory or spooled). */
static bool has_body(const struct store_message *m)
{
	return m->raw || m->raw_spooled;
}

#define BLOB_INLINE_MAX (64u << 10) /* larger blobs are written in place, piece by piece */
#define BLOB_CHUNK (1u << 20)

/* Binds DATA at I, the row's last column: small blobs directly; a large
 * one as a zeroblob that write_blob() fills after the insert — SQLite
 * would otherwise build the whole row in one more buffer. */
static void bind_blob(sqlite3_stmt *s, int i, const void *data, size_t size)
{
	if (size > BLOB_INLINE_MAX)
		sqlite3_bind_zeroblob64(s, i, size);
	else
		sqlite3_bind_blob64(s, i, size ? data : "", size, SQLITE_STATIC);
}

static int write_blob(struct store *st, const char *table, const char *column, int64_t row, const uint8_t *data,
		      size_t size)
{
	if (size <= BLOB_INLINE_MAX)
		return 0;
	sqlite3_blob *b = NULL;
	int rc = sqlite3_blob_open(st->db, "main", table, column, row, 1, &b);
	for (size_t off = 0; rc == SQLITE_OK && off < size; off += BLOB_CHUNK)
		rc = sqlite3_blob_write(b, data + off, (int)MIN(BLOB_CHUNK, size - off), (int)off);
	int rc2 = sqlite3_blob_close(b);
	if (rc == SQLITE_OK)
		rc = rc2;
	return rc == SQLITE_OK ? 0 : sql_error(st, rc, "write blob");
}

/* The raw message, from memory (RAW) or from the file FD (>= 0). */
static int insert_body(struct store *st, int64_t id, const uint8_t *raw, int fd, size_t size)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "INSERT INTO bodies (message, raw) VALUES (?1, ?2)", &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	if (fd >= 0)
		sqlite3_bind_zeroblob64(s, 2, size);
	else
		bind_blob(s, 2, raw, size);
	int rc = sqlite3_step(s);
	finalize(st, &s);
	if (rc != SQLITE_DONE)
		return sql_error(st, rc, "insert message body");
	if (fd < 0)
		return write_blob(st, "bodies", "raw", id, raw, size);
	sqlite3_blob *b = NULL;
	/* One buffer for every message: a fresh one is an mmap() and page
	 * faults each time. */
	if (!st->copy_buf)
		st->copy_buf = g_malloc(BLOB_CHUNK);
	uint8_t *buf = st->copy_buf;
	rc = sqlite3_blob_open(st->db, "main", "bodies", "raw", id, 1, &b);
	for (size_t off = 0; rc == SQLITE_OK && off < size;) {
		ssize_t n = pread(fd, buf, MIN(BLOB_CHUNK, size - off), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = SQLITE_IOERR; /* the spool is shorter than it was */
			break;
		}
		rc = sqlite3_blob_write(b, buf, (int)n, (int)off);
		off += (size_t)n;
	}
	int rc2 = sqlite3_blob_close(b);
	if (rc == SQLITE_OK)
		rc = rc2;
	return rc == SQLITE_OK ? 0 : sql_error(st, rc, "write message body");
}

static int insert_message(struct store *st, const struct store_message *m, int64_t dup, int64_t *id)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"INSERT INTO messages (mailbox, uidvalidity, uid, recorded_at, received_epoch, received_at, "
			"internaldate, server_size, raw, raw_size, raw_sha256, message_id, from_addr, from_name, "
			"subject, date_header, call, applicant, on_time, status, reasons, flags, duplicate_of, "
			"match, match_score, kind, applicant_source, received_header_epoch, received_header, "
			"deadline_basis, decided_by, deadline_delta, smime, edge_received_epoch, "
			"edge_received_at, edge_why, smime_reason, smime_validated_at, smime_time_source) "
			"VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,"
			"?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38,?39)",
			&s);
	if (r < 0)
		return r;
	bind_text(s, 1, m->mailbox);
	sqlite3_bind_int64(s, 2, m->uidvalidity);
	sqlite3_bind_int64(s, 3, m->uid);
	sqlite3_bind_int64(s, 4, m->recorded_at ? m->recorded_at : (sqlite3_int64)time(NULL));
	if (m->has_received)
		sqlite3_bind_int64(s, 5, m->received_epoch);
	bind_text(s, 6, m->received_at);
	bind_text(s, 7, m->internaldate);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)m->server_size);
	/* column 9, raw, stays NULL: the bytes go to bodies (schema 5) */
	sqlite3_bind_int64(s, 10, (sqlite3_int64)m->raw_size);
	bind_text(s, 11, m->raw_sha256);
	bind_text(s, 12, m->message_id);
	bind_text(s, 13, m->from_addr);
	bind_text(s, 14, m->from_name);
	bind_text(s, 15, m->subject);
	bind_text(s, 16, m->date_header);
	bind_text(s, 17, m->call);
	bind_text(s, 18, m->applicant);
	if (m->on_time >= 0)
		sqlite3_bind_int(s, 19, m->on_time);
	bind_text(s, 20, record_status_name(m->status));
	bind_text(s, 21, m->reasons ? m->reasons : "[]");
	bind_text(s, 22, m->flags);
	if (dup)
		sqlite3_bind_int64(s, 23, dup);
	bind_details(s, 24, m);
	bind_text(s, 33, m->has_smime ? record_signature_name(m->smime) : NULL);
	bind_edge(s, 34, m);
	bind_smime(s, 37, m);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(st->db);
		r = 0;
	} else {
		r = sql_error(st, rc, "insert message");
	}
	finalize(st, &s);
	if (r == 0 && has_body(m))
		r = insert_body(st, *id, m->raw, m->raw_spooled ? m->raw_fd : -1, m->raw_size);
	return r;
}

static void bind_tristate(sqlite3_stmt *s, int i, int v)
{
	if (v >= 0)
		sqlite3_bind_int(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

/* source .. form of A at parameters FIRST .. FIRST+6. */
static void bind_att_details(sqlite3_stmt *s, int first, const struct store_attachment_in *a)
{
	bind_text(s, first, a->source ? a->source : "mime");
	bind_text(s, first + 1, record_signature_name(a->signature));
	bind_text(s, first + 2, a->signer);
	bind_text(s, first + 3, a->signed_at);
	bind_tristate(s, first + 4, a->covers_whole_file);
	bind_tristate(s, first + 5, a->signer_trusted);
	sqlite3_bind_int(s, first + 6, a->form);
}

/* The schema-8 facts of each signed attachment of message ID (replacing
 * what was there). */
static int put_signatures(struct store *st, int64_t id, const struct store_attachment_in *a, size_t n)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "DELETE FROM signatures WHERE message = ?", &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	r = rc == SQLITE_DONE ? 0 : sql_error(st, rc, "delete signatures");
	finalize(st, &s);
	if (r < 0 || (r = prepare(st,
				  "INSERT INTO signatures (message, seq, reason, validated_at, time_source, "
				  "modified_after_signing) VALUES (?1,?2,?3,?4,?5,?6)",
				  &s)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (a[i].signature == CMS_NONE)
			continue;
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)i + 1);
		bind_text(s, 3, a[i].signature_reason);
		bind_text(s, 4, a[i].signature_validated_at);
		bind_text(s, 5, a[i].signature_time_source);
		bind_tristate(s, 6, a[i].modified_after_signing);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			r = sql_error(st, rc, "insert signature");
	}
	finalize(st, &s);
	return r;
}

static int insert_attachments(struct store *st, int64_t id, const struct store_attachment_in *a, size_t n)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"INSERT INTO attachments (message, seq, filename, content_type, part_path, size, sha256, "
			"source, signature, signer, signed_at, covers_whole_file, signer_trusted, form, data) "
			"VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
			&s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)i + 1);
		bind_text(s, 3, a[i].filename);
		bind_text(s, 4, a[i].content_type);
		bind_text(s, 5, a[i].part_path);
		sqlite3_bind_int64(s, 6, (sqlite3_int64)a[i].size);
		bind_text(s, 7, a[i].sha256);
		bind_att_details(s, 8, &a[i]);
		bind_blob(s, 15, a[i].data, a[i].size);
		int rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			r = sql_error(st, rc, "insert attachment");
		else
			r = write_blob(st, "attachments", "data", sqlite3_last_insert_rowid(st->db), a[i].data,
				       a[i].size);
	}
	finalize(st, &s);
	return r == 0 ? put_signatures(st, id, a, n) : r;
}

static int insert_parts(struct store *st, int64_t id, const struct store_part *p, size_t n)
{
	sqlite3_stmt *s = NULL;
	if (n == 0)
		return 0;
	int r = prepare(st,
			"INSERT OR REPLACE INTO parts (message, seq, part, content_type, filename, size, action, why) "
			"VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
			&s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)i + 1);
		bind_text(s, 3, p[i].part_path);
		bind_text(s, 4, p[i].content_type);
		bind_text(s, 5, p[i].filename);
		sqlite3_bind_int64(s, 6, (sqlite3_int64)p[i].size);
		bind_text(s, 7, p[i].action);
		bind_text(s, 8, p[i].why);
		int rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			r = sql_error(st, rc, "insert part");
	}
	finalize(st, &s);
	return r;
}

/* The promises of a new record (schema 9), pending until carried out. */
static int insert_promises(struct store *st, int64_t id, const char *const *promises, size_t n, int64_t at)
{
	sqlite3_stmt *s = NULL;
	if (n == 0)
		return 0;
	int r = prepare(st, "INSERT INTO actions (message, promise, state, created_at) VALUES (?1, ?2, 'pending', ?3)",
			&s);
	for (size_t i = 0; i < n && r == 0; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		bind_text(s, 2, promises[i]);
		sqlite3_bind_int64(s, 3, at);
		int rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			r = sql_error(st, rc, "promise an action");
	}
	finalize(st, &s);
	return r;
}

static int advance_watermark(struct store *st, const char *mailbox, uint32_t uidvalidity, uint32_t uid)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"UPDATE mailboxes SET last_uid = MAX(last_uid, ?3), updated_at = ?4 "
			"WHERE mailbox = ?1 AND uidvalidity = ?2",
			&s);
	if (r < 0)
		return r;
	bind_text(s, 1, mailbox);
	sqlite3_bind_int64(s, 2, uidvalidity);
	sqlite3_bind_int64(s, 3, uid);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = sql_error(st, rc, "advance watermark");
	else if (sqlite3_changes(st->db) != 1) {
		g_snprintf(st->errbuf, sizeof(st->errbuf),
			   "advance watermark: mailbox %s has no state for UIDVALIDITY %u", mailbox, uidvalidity);
		r = -ESTALE;
	}
	finalize(st, &s);
	return r;
}

static int exists(struct store *st, const struct store_message *m, bool *found)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "SELECT 1 FROM messages WHERE mailbox = ? AND uidvalidity = ? AND uid = ?", &s);
	if (r < 0)
		return r;
	bind_text(s, 1, m->mailbox);
	sqlite3_bind_int64(s, 2, m->uidvalidity);
	sqlite3_bind_int64(s, 3, m->uid);
	int rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sql_error(st, rc, "look up message");
	finalize(st, &s);
	return r;
}

/* A record of MSG made under an earlier UIDVALIDITY of its mailbox and
 * not yet re-keyed to the current one: the same raw bytes, or — recorded
 * without a body — the same Message-ID and size.  The oldest first, so
 * that repeated deliveries pair off one to one. */
static int find_rekey(struct store *st, const struct store_message *m, int64_t *old)
{
	sqlite3_stmt *s = NULL;
	*old = 0;
	bool body = has_body(m);
	if (!body && !m->message_id)
		return 0;
	int r = prepare(
		st,
		body ? "SELECT id FROM messages WHERE mailbox = ?1 AND uidvalidity != ?2 AND raw_sha256 = ?3 "
		       "ORDER BY id LIMIT 1"
		     : "SELECT id FROM messages WHERE mailbox = ?1 AND uidvalidity != ?2 AND raw_sha256 IS NULL "
		       "AND message_id = ?4 AND server_size = ?5 ORDER BY id LIMIT 1",
		&s);
	if (r < 0)
		return r;
	bind_text(s, 1, m->mailbox);
	sqlite3_bind_int64(s, 2, m->uidvalidity);
	if (body)
		bind_text(s, 3, m->raw_sha256);
	else {
		bind_text(s, 4, m->message_id);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)m->server_size);
	}
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*old = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		r = sql_error(st, rc, "look for a record to re-key");
	finalize(st, &s);
	return r;
}

/* Moves record ID to MSG's (UIDVALIDITY, UID), remembering the old key.
 * Its evidence — raw bytes, first INTERNALDATE, classification — stays. */
static int rekey(struct store *st, int64_t id, const struct store_message *m)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(
		st,
		"UPDATE messages SET prior_keys = COALESCE(prior_keys || ',', '') || uidvalidity || ':' || uid, "
		"uidvalidity = ?1, uid = ?2 WHERE id = ?3",
		&s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, m->uidvalidity);
	sqlite3_bind_int64(s, 2, m->uid);
	sqlite3_bind_int64(s, 3, id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = sql_error(st, rc, "re-key a record");
	finalize(st, &s);
	return r;
}

int store_record(struct store *st, const struct store_message *msg, const struct store_attachment_in *atts,
		 size_t n_atts, int64_t *ret_id, enum store_outcome *ret_outcome)
{
	int r;
	bool found = false;
	int64_t dup = 0, old = 0, id = 0;

	st->last_duplicate_of = 0;
	/* In a batch (store_begin()): a savepoint, so that a failure undoes
	 * this record alone and leaves the batch's earlier ones to commit. */
	bool batch = !sqlite3_get_autocommit(st->db);
	if ((r = exec(st, batch ? "SAVEPOINT record" : "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = exists(st, msg, &found)) < 0)
		goto rollback;
	if (!found && (r = find_rekey(st, msg, &old)) < 0)
		goto rollback;
	if (old) {
		if ((r = rekey(st, old, msg)) < 0)
			goto rollback;
		id = old;
	} else if (!found) {
		if ((r = find_original(st, has_body(msg) ? msg->raw_sha256 : NULL, &dup)) < 0 ||
		    (r = insert_message(st, msg, dup, &id)) < 0 || (r = insert_attachments(st, id, atts, n_atts)) < 0 ||
		    (r = insert_parts(st, id, msg->parts, msg->n_parts)) < 0 ||
		    (r = insert_promises(st, id, msg->promises, msg->n_promises,
					 msg->recorded_at ? msg->recorded_at : (int64_t)time(NULL))) < 0)
			goto rollback;
	}
	if ((r = advance_watermark(st, msg->mailbox, msg->uidvalidity, msg->uid)) < 0)
		goto rollback;
	if ((r = batch ? exec(st, "RELEASE record") : commit(st)) < 0)
		goto rollback;
	*ret_id = id;
	*ret_outcome = old ? STORE_REKEYED : found ? STORE_EXISTED : STORE_INSERTED;
	st->last_duplicate_of = dup;
	return 0;
rollback:
	/* SQLite may have rolled the whole transaction back already (a full
	 * disk, an I/O error): then the savepoint is gone, and so is the
	 * batch, which store_commit() reports. */
	if (batch && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK TO record; RELEASE record", NULL, NULL, NULL);
	else if (!batch)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int64_t store_last_duplicate_of(const struct store *st)
{
	return st->last_duplicate_of;
}

int store_begin(struct store *st)
{
	return exec(st, "BEGIN IMMEDIATE");
}

int store_commit(struct store *st)
{
	if (sqlite3_get_autocommit(st->db)) {
		g_snprintf(st->errbuf, sizeof(st->errbuf), "the transaction was rolled back");
		return -EIO;
	}
	return commit(st);
}

void store_rollback(struct store *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int update_attachments(struct store *st, int64_t id, const struct store_attachment_in *a, size_t n)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"UPDATE attachments SET source = ?1, signature = ?2, signer = ?3, signed_at = ?4, "
			"covers_whole_file = ?5, signer_trusted = ?6, form = ?7 WHERE message = ?8 AND seq = ?9",
			&s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		sqlite3_reset(s);
		bind_att_details(s, 1, &a[i]);
		sqlite3_bind_int64(s, 8, id);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)i + 1);
		int rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			r = sql_error(st, rc, "update attachment");
	}
	finalize(st, &s);
	return r == 0 ? put_signatures(st, id, a, n) : r;
}

int store_update_classification(struct store *st, int64_t id, const struct store_message *m,
				const struct store_attachment_in *atts, size_t n_atts)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(
		st,
		"UPDATE messages SET call = ?1, applicant = ?2, on_time = ?3, status = ?4, reasons = ?5, "
		"match = ?6, match_score = ?7, kind = ?8, applicant_source = ?9, received_header_epoch = ?10, "
		"received_header = ?11, deadline_basis = ?12, decided_by = ?13, deadline_delta = ?14, "
		"received_at = ?15, date_header = ?16, smime = COALESCE(?18, smime), edge_received_epoch = ?19, "
		"edge_received_at = ?20, edge_why = ?21, smime_reason = CASE WHEN ?18 IS NULL THEN smime_reason "
		"ELSE ?22 END, smime_validated_at = CASE WHEN ?18 IS NULL THEN smime_validated_at ELSE ?23 END, "
		"smime_time_source = CASE WHEN ?18 IS NULL THEN smime_time_source ELSE ?24 END WHERE id = ?17",
		&s);
	if (r < 0)
		return r;
	bind_text(s, 1, m->call);
	bind_text(s, 2, m->applicant);
	if (m->on_time >= 0)
		sqlite3_bind_int(s, 3, m->on_time);
	bind_text(s, 4, record_status_name(m->status));
	bind_text(s, 5, m->reasons ? m->reasons : "[]");
	bind_details(s, 6, m);
	bind_text(s, 15, m->received_at);
	bind_text(s, 16, m->date_header);
	sqlite3_bind_int64(s, 17, id);
	bind_text(s, 18, m->has_smime ? record_signature_name(m->smime) : NULL);
	bind_edge(s, 19, m);
	bind_smime(s, 22, m);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = sql_error(st, rc, "update classification");
	else if (sqlite3_changes(st->db) != 1) {
		g_snprintf(st->errbuf, sizeof(st->errbuf), "no message with id %" G_GINT64_FORMAT, id);
		r = -ENOENT;
	}
	finalize(st, &s);
	if (r == 0 && atts)
		r = update_attachments(st, id, atts, n_atts);
	if (r == 0 && m->parts) {
		/* Bound, not printed into the SQL: one kept statement for every message. */
		if ((r = prepare(st, "DELETE FROM parts WHERE message = ?", &s)) < 0)
			return r;
		sqlite3_bind_int64(s, 1, id);
		int del = sqlite3_step(s);
		r = del == SQLITE_DONE ? 0 : sql_error(st, del, "delete parts");
		finalize(st, &s);
		if (r == 0)
			r = insert_parts(st, id, m->parts, m->n_parts);
	}
	return r;
}

int store_decide(struct store *st, int64_t id, const char *decision, const char *note, const char *user, int64_t at)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"INSERT INTO decisions (message, decision, note, user, at) "
			"SELECT id, ?2, ?3, ?4, ?5 FROM messages WHERE id = ?1",
			&s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, decision);
	bind_text(s, 3, note);
	bind_text(s, 4, user);
	sqlite3_bind_int64(s, 5, at);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = sql_error(st, rc, "record decision");
	else if (sqlite3_changes(st->db) != 1) {
		g_snprintf(st->errbuf, sizeof(st->errbuf), "no message with id %" G_GINT64_FORMAT, id);
		r = -ENOENT;
	}
	finalize(st, &s);
	return r;
}

static int set_state(struct store *st, sqlite3_stmt *s, const char *key, int64_t ival, const char *sval, bool is_text)
{
	sqlite3_reset(s);
	bind_text(s, 1, key);
	if (is_text)
		bind_text(s, 2, sval);
	else
		sqlite3_bind_int64(s, 2, ival);
	int rc = sqlite3_step(s);
	return rc == SQLITE_DONE ? 0 : sql_error(st, rc, "write state");
}

/* Ends the transaction: COMMIT when R is 0, else ROLLBACK and R. */
static int end_transaction(struct store *st, sqlite3_stmt **s, int r)
{
	finalize(st, s);
	if (r == 0)
		return commit(st);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int store_poll_done(struct store *st, int64_t when, const char *error, int64_t server_exists)
{
	sqlite3_stmt *s = NULL;
	int r;
	if ((r = exec(st, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = prepare(st, "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", &s)) < 0 ||
	    (r = set_state(st, s, "last_poll_at", when, NULL, false)) < 0 ||
	    (r = set_state(st, s, "last_error", 0, error, true)) < 0 ||
	    (!error && (r = set_state(st, s, "last_success_at", when, NULL, false)) < 0) ||
	    (!error && server_exists >= 0 && (r = set_state(st, s, "server_exists", server_exists, NULL, false)) < 0))
		return end_transaction(st, &s, r);
	return end_transaction(st, &s, 0);
}

int store_gaps_noted(struct store *st, int64_t when, int64_t left, const char *uids)
{
	sqlite3_stmt *s = NULL;
	int r;
	if ((r = exec(st, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = prepare(st, "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", &s)) < 0 ||
	    (r = set_state(st, s, "gaps_checked_at", when, NULL, false)) < 0 ||
	    (r = set_state(st, s, "gaps", left, NULL, false)) < 0 ||
	    (r = set_state(st, s, "gap_uids", 0, uids, true)) < 0)
		return end_transaction(st, &s, r);
	return end_transaction(st, &s, 0);
}

int store_gaps_checked_at(struct store *st, int64_t *ret_when)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "SELECT value FROM state WHERE key = 'gaps_checked_at'", &s);
	if (r < 0)
		return r;
	int rc = sqlite3_step(s);
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	finalize(st, &s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_error(st, rc, "read state");
	*ret_when = v;
	return 0;
}

/* The UIDs SQL (a SELECT of uid, ?1 the mailbox and ?2 the UIDVALIDITY)
 * gives, into a newly allocated array; WHAT names it in an error. */
static int select_uids(struct store *st, const char *sql, const char *what, const char *mailbox, uint32_t uidvalidity,
		       uint32_t **uids, size_t *n)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, sql, &s), rc;
	if (r < 0)
		return r;
	bind_text(s, 1, mailbox);
	sqlite3_bind_int64(s, 2, uidvalidity);
	GArray *a = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(s, 0);
		g_array_append_val(a, uid);
	}
	finalize(st, &s);
	if (rc != SQLITE_DONE) {
		g_array_free(a, TRUE);
		return sql_error(st, rc, what);
	}
	*n = a->len;
	*uids = (uint32_t *)(void *)g_array_free(a, FALSE);
	return 0;
}

int store_recorded_uids(struct store *st, const char *mailbox, uint32_t uidvalidity, uint32_t **ret_uids, size_t *ret_n)
{
	return select_uids(st, "SELECT uid FROM messages WHERE mailbox = ?1 AND uidvalidity = ?2 ORDER BY uid",
			   "read recorded UIDs", mailbox, uidvalidity, ret_uids, ret_n);
}

int store_set_durable(struct store *st, bool full)
{
	return exec(st, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

int store_actions_pending(struct store *st, const char *promise, const char *mailbox, uint32_t uidvalidity,
			  struct store_action **ret_actions, size_t *ret_n)
{
	return store_actions_due(st, promise, mailbox, uidvalidity, INT64_MAX, ret_actions, ret_n);
}

/* One attempt at the pending actions IDS: done (ERROR NULL: KIND, TARGET
 * and AT noted) or not (ERROR noted, still pending); either way counted,
 * and ERROR becomes the last action error status shows. */
static int actions_attempted(struct store *st, const int64_t *ids, size_t n, const char *kind, const char *target,
			     int64_t at, const char *error)
{
	sqlite3_stmt *s = NULL;
	int r;
	if ((r = exec(st, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = prepare(
		     st,
		     error ? "UPDATE actions SET attempts = attempts + 1, last_attempt_at = ?2, last_error = ?3 "
			     "WHERE id = ?1 AND state = 'pending'"
			   : "UPDATE actions SET attempts = attempts + 1, last_attempt_at = ?2, last_error = NULL, "
			     "state = 'done', kind = ?4, target = ?5, done_at = ?2 WHERE id = ?1 AND state = 'pending'",
		     &s)) < 0)
		return end_transaction(st, &s, r);
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, at);
		if (error)
			bind_text(s, 3, error);
		else {
			bind_text(s, 4, kind);
			bind_text(s, 5, target);
		}
		int rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			return end_transaction(st, &s, sql_error(st, rc, "note an action's attempt"));
	}
	finalize(st, &s);
	if ((r = prepare(st, "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", &s)) < 0 ||
	    (r = set_state(st, s, "last_action_error", 0, error, true)) < 0)
		return end_transaction(st, &s, r);
	return end_transaction(st, &s, 0);
}

int store_actions_done(struct store *st, const int64_t *ids, size_t n, const char *kind, const char *target, int64_t at)
{
	return actions_attempted(st, ids, n, kind, target, at, NULL);
}

int store_actions_failed(struct store *st, const int64_t *ids, size_t n, const char *error, int64_t at)
{
	return actions_attempted(st, ids, n, NULL, NULL, at, error ? error : "failed");
}

static const char *col_text(sqlite3_stmt *s, int i);

static const char *const action_state_names[] = { "pending", "done", "failed", "skipped" };

const char *store_action_state_name(enum store_action_state state)
{
	return (unsigned)state < G_N_ELEMENTS(action_state_names) ? action_state_names[state] : "pending";
}

static enum store_action_state col_action_state(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	for (size_t k = 0; t && k < G_N_ELEMENTS(action_state_names); k++)
		if (!strcmp(t, action_state_names[k]))
			return (enum store_action_state)k;
	return STORE_ACTION_PENDING;
}

int store_actions_due(struct store *st, const char *promise, const char *mailbox, uint32_t uidvalidity, int64_t now,
		      struct store_action **ret_actions, size_t *ret_n)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"SELECT a.id, a.message, m.uid, a.attempts, COALESCE(a.created_at, m.recorded_at), "
			"a.requested_by IS NOT NULL FROM actions a JOIN messages m ON m.id = a.message "
			"WHERE a.promise = ?1 AND a.state = 'pending' "
			"AND (?2 IS NULL OR (m.mailbox = ?2 AND m.uidvalidity = ?3)) "
			"AND (a.next_attempt_at IS NULL OR a.next_attempt_at <= ?4) "
			"ORDER BY CASE WHEN ?2 IS NULL THEN a.message ELSE m.uid END",
			&s),
	    rc;
	if (r < 0)
		return r;
	bind_text(s, 1, promise);
	bind_text(s, 2, mailbox);
	sqlite3_bind_int64(s, 3, uidvalidity);
	sqlite3_bind_int64(s, 4, now);
	g_autoptr(GArray) a = g_array_new(FALSE, FALSE, sizeof(struct store_action));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_action one = {
			.id = sqlite3_column_int64(s, 0),
			.message = sqlite3_column_int64(s, 1),
			.uid = (uint32_t)sqlite3_column_int64(s, 2),
			.attempts = sqlite3_column_int64(s, 3),
			.created_at = sqlite3_column_int64(s, 4),
			.requested = sqlite3_column_int(s, 5) != 0,
		};
		g_array_append_val(a, one);
	}
	finalize(st, &s);
	if (rc != SQLITE_DONE)
		return sql_error(st, rc, "read due actions");
	*ret_n = a->len;
	*ret_actions = (struct store_action *)(void *)g_array_free(g_steal_pointer(&a), FALSE);
	return 0;
}

int store_actions_next_at(struct store *st, const char *promise, int64_t *ret_at)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			/* The rows store_actions_due() could return: with their record. */
			"SELECT MIN(COALESCE(a.next_attempt_at, 0)) FROM actions a JOIN messages m ON m.id = a.message "
			"WHERE a.promise = ?1 AND a.state = 'pending'",
			&s),
	    rc;
	if (r < 0)
		return r;
	bind_text(s, 1, promise);
	rc = sqlite3_step(s);
	bool none = rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_NULL;
	int64_t at = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	finalize(st, &s);
	if (rc != SQLITE_ROW)
		return sql_error(st, rc, "read the next due action");
	if (none)
		return -ENOENT;
	*ret_at = at;
	return 0;
}

int store_action_settle(struct store *st, int64_t id, const struct store_action_settlement *how, int64_t at)
{
	sqlite3_stmt *s = NULL;
	int r;
	if ((r = exec(st, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = prepare(st,
			 "UPDATE actions SET state = ?2, attempts = attempts + ?3, "
			 "last_attempt_at = CASE WHEN ?3 THEN ?4 ELSE last_attempt_at END, "
			 "last_error = ?5, kind = COALESCE(?6, kind), target = COALESCE(?7, target), "
			 "detail = COALESCE(?8, detail), why = ?9, "
			 "done_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?4 END, "
			 "next_attempt_at = CASE WHEN ?2 = 'pending' AND ?10 > 0 THEN ?10 ELSE NULL END "
			 "WHERE id = ?1 AND state = 'pending'",
			 &s)) < 0)
		return end_transaction(st, &s, r);
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, store_action_state_name(how->state));
	sqlite3_bind_int(s, 3, how->attempted ? 1 : 0);
	sqlite3_bind_int64(s, 4, at);
	bind_text(s, 5, how->error);
	bind_text(s, 6, how->kind);
	bind_text(s, 7, how->target);
	bind_text(s, 8, how->detail);
	bind_text(s, 9, how->why);
	sqlite3_bind_int64(s, 10, how->next_at);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return end_transaction(st, &s, sql_error(st, rc, "settle an action"));
	return end_transaction(st, &s, 0);
}

int store_action_attempting(struct store *st, int64_t id, int64_t at)
{
	sqlite3_stmt *s = NULL;
	int r;
	if ((r = exec(st, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = prepare(st,
			 "UPDATE actions SET attempts = attempts + 1, last_attempt_at = ?2 "
			 "WHERE id = ?1 AND state = 'pending'",
			 &s)) < 0)
		return end_transaction(st, &s, r);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, at);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return end_transaction(st, &s, sql_error(st, rc, "note an action's attempt"));
	if (sqlite3_changes(st->db) != 1) {
		g_snprintf(st->errbuf, sizeof(st->errbuf), "action %" G_GINT64_FORMAT " is no longer pending", id);
		return end_transaction(st, &s, -ENOENT);
	}
	return end_transaction(st, &s, 0);
}

int store_actions_done_to(struct store *st, const char *promise, const char *target, int64_t since, int64_t *ret_n,
			  int64_t *ret_first)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"SELECT COUNT(*), COALESCE(MIN(done_at), 0) FROM actions WHERE promise = ?1 AND state = 'done' "
			"AND (?2 IS NULL OR target = ?2 COLLATE NOCASE) AND done_at >= ?3",
			&s);
	if (r < 0)
		return r;
	bind_text(s, 1, promise);
	bind_text(s, 2, target);
	sqlite3_bind_int64(s, 3, since);
	int rc = sqlite3_step(s);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	int64_t first = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
	finalize(st, &s);
	if (rc != SQLITE_ROW)
		return sql_error(st, rc, "count done actions");
	*ret_n = n;
	if (ret_first)
		*ret_first = first;
	return 0;
}

void store_action_row_clear(struct store_action_row *row)
{
	g_free(row->promise);
	g_free(row->kind);
	g_free(row->target);
	g_free(row->detail);
	g_free(row->why);
	g_free(row->last_error);
	g_free(row->requested_by);
	memset(row, 0, sizeof(*row));
}

#define ACTION_ROW_COLUMNS                                                                                       \
	"a.id, a.message, a.promise, a.state, a.kind, a.target, a.detail, a.why, a.last_error, a.requested_by, " \
	"a.attempts, COALESCE(a.created_at, m.recorded_at), a.last_attempt_at, a.done_at, a.next_attempt_at "

static void col_action_row(sqlite3_stmt *s, struct store_action_row *row)
{
	*row = (struct store_action_row){
		.id = sqlite3_column_int64(s, 0),
		.message = sqlite3_column_int64(s, 1),
		.promise = g_strdup(col_text(s, 2)),
		.state = col_action_state(s, 3),
		.kind = g_strdup(col_text(s, 4)),
		.target = g_strdup(col_text(s, 5)),
		.detail = g_strdup(col_text(s, 6)),
		.why = g_strdup(col_text(s, 7)),
		.last_error = g_strdup(col_text(s, 8)),
		.requested_by = g_strdup(col_text(s, 9)),
		.attempts = sqlite3_column_int64(s, 10),
		.created_at = sqlite3_column_int64(s, 11),
		.last_attempt_at = sqlite3_column_int64(s, 12),
		.done_at = sqlite3_column_int64(s, 13),
		.next_attempt_at = sqlite3_column_int64(s, 14),
	};
}

int store_action_get(struct store *st, int64_t message, const char *promise, struct store_action_row *ret_row)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"SELECT " ACTION_ROW_COLUMNS
			"FROM actions a JOIN messages m ON m.id = a.message "
			"WHERE a.message = ?1 AND a.promise = ?2",
			&s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, message);
	bind_text(s, 2, promise);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		col_action_row(s, ret_row);
	finalize(st, &s);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : sql_error(st, rc, "read an action");
}

int store_foreach_action(struct store *st, const char *promise, store_action_row_cb cb, void *userdata)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"SELECT " ACTION_ROW_COLUMNS
			"FROM actions a JOIN messages m ON m.id = a.message "
			"WHERE a.promise = ?1 ORDER BY a.message",
			&s),
	    rc;
	if (r < 0)
		return r;
	bind_text(s, 1, promise);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		g_auto(StoreActionRow) row = { 0 };
		col_action_row(s, &row);
		if ((r = cb(&row, userdata)) != 0) {
			finalize(st, &s);
			return r;
		}
	}
	finalize(st, &s);
	return rc == SQLITE_DONE ? 0 : sql_error(st, rc, "read actions");
}

int store_action_request(struct store *st, int64_t message, const char *promise, const char *user, bool again,
			 int64_t at, struct store_action_row *ret_row)
{
	sqlite3_stmt *s = NULL;
	int r;
	if ((r = exec(st, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = prepare(st, "SELECT COUNT(*) FROM messages WHERE id = ?1", &s)) < 0)
		return end_transaction(st, &s, r);
	sqlite3_bind_int64(s, 1, message);
	int rc = sqlite3_step(s);
	bool exists = rc == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0;
	finalize(st, &s);
	if (rc != SQLITE_ROW)
		return end_transaction(st, &s, sql_error(st, rc, "find the record"));
	if (!exists) {
		g_snprintf(st->errbuf, sizeof(st->errbuf), "no record %" G_GINT64_FORMAT, message);
		return end_transaction(st, &s, -ENOENT);
	}
	g_auto(StoreActionRow) old = { 0 };
	r = store_action_get(st, message, promise, &old);
	if (r < 0 && r != -ENOENT)
		return end_transaction(st, &s, r);
	bool have = r == 0;
	if (have && (old.state == STORE_ACTION_PENDING || (old.state == STORE_ACTION_DONE && !again))) {
		if (ret_row) {
			*ret_row = old;
			memset(&old, 0, sizeof(old));
		}
		g_snprintf(st->errbuf, sizeof(st->errbuf), "record %" G_GINT64_FORMAT ": the %s is already %s", message,
			   promise,
			   store_action_state_name(old.state == STORE_ACTION_PENDING ? STORE_ACTION_PENDING
										     : STORE_ACTION_DONE));
		return end_transaction(st, &s, -EALREADY);
	}
	if ((r = prepare(
		     st,
		     have ? "UPDATE actions SET state = 'pending', why = NULL, last_error = NULL, next_attempt_at = NULL, "
			    "done_at = NULL, created_at = ?3, requested_by = ?4 WHERE message = ?1 AND promise = ?2"
			  : "INSERT INTO actions (message, promise, state, created_at, requested_by) "
			    "VALUES (?1, ?2, 'pending', ?3, ?4)",
		     &s)) < 0)
		return end_transaction(st, &s, r);
	sqlite3_bind_int64(s, 1, message);
	bind_text(s, 2, promise);
	sqlite3_bind_int64(s, 3, at);
	bind_text(s, 4, user);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return end_transaction(st, &s, sql_error(st, rc, "request an action"));
	return end_transaction(st, &s, 0);
}

static int read_status(struct store *st, struct store_status *out)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	memset(out, 0, sizeof(*out));
	out->server_exists = -1;
	if ((r = prepare(st, "SELECT status, COUNT(*), COUNT(duplicate_of) FROM messages GROUP BY status", &s)) < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		enum rules_status status;
		int64_t n = sqlite3_column_int64(s, 1);
		out->total += n;
		out->duplicates += sqlite3_column_int64(s, 2);
		if (record_status_parse((const char *)sqlite3_column_text(s, 0), &status))
			out->by_status[status] = n;
	}
	finalize(st, &s);
	if (rc != SQLITE_DONE)
		return sql_error(st, rc, "count messages");
	if ((r = prepare(st, "SELECT key, value FROM state", &s)) < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		if (!key)
			continue;
		if (!strcmp(key, "last_poll_at"))
			out->last_poll_at = sqlite3_column_int64(s, 1);
		else if (!strcmp(key, "last_success_at"))
			out->last_success_at = sqlite3_column_int64(s, 1);
		else if (!strcmp(key, "last_error") && sqlite3_column_type(s, 1) != SQLITE_NULL)
			out->last_error = g_strdup((const char *)sqlite3_column_text(s, 1));
		else if (!strcmp(key, "server_exists"))
			out->server_exists = sqlite3_column_int64(s, 1);
		else if (!strcmp(key, "last_action_error") && sqlite3_column_type(s, 1) != SQLITE_NULL)
			out->last_action_error = g_strdup((const char *)sqlite3_column_text(s, 1));
		else if (!strcmp(key, "gaps_checked_at"))
			out->gaps_checked_at = sqlite3_column_int64(s, 1);
		else if (!strcmp(key, "gaps"))
			out->gaps = sqlite3_column_int64(s, 1);
		else if (!strcmp(key, "gap_uids") && sqlite3_column_type(s, 1) != SQLITE_NULL)
			out->gap_uids = g_strdup((const char *)sqlite3_column_text(s, 1));
	}
	finalize(st, &s);
	if (rc != SQLITE_DONE)
		return sql_error(st, rc, "read state");
	if ((r = prepare(st,
			 "SELECT COUNT(*), COALESCE(MAX(attempts), 0) FROM actions WHERE state = 'pending' "
			 "AND promise != 'receipt'",
			 &s)) < 0)
		return r;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->actions_pending = sqlite3_column_int64(s, 0);
		out->action_attempts = sqlite3_column_int64(s, 1);
	}
	finalize(st, &s);
	if (rc != SQLITE_ROW)
		return sql_error(st, rc, "count pending actions");
	if ((r = prepare(st, "SELECT state, COUNT(*) FROM actions WHERE promise = ?1 GROUP BY state", &s)) < 0)
		return r;
	bind_text(s, 1, STORE_RECEIPT_PROMISE);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->receipts[col_action_state(s, 0)] += sqlite3_column_int64(s, 1);
	}
	finalize(st, &s);
	if (rc != SQLITE_DONE)
		return sql_error(st, rc, "count receipts");
	if ((r = prepare(st,
			 "SELECT last_error FROM actions WHERE promise = ?1 AND last_error IS NOT NULL "
			 "AND state IN ('pending', 'failed') ORDER BY last_attempt_at DESC, id DESC LIMIT 1",
			 &s)) < 0)
		return r;
	bind_text(s, 1, STORE_RECEIPT_PROMISE);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		out->last_receipt_error = g_strdup(col_text(s, 0));
	finalize(st, &s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_error(st, rc, "read the last receipt error");
	if ((r = prepare(st,
			 "SELECT COUNT(*) FROM messages m JOIN mailboxes b "
			 "ON m.mailbox = b.mailbox AND m.uidvalidity = b.uidvalidity",
			 &s)) < 0)
		return r;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		out->recorded_current = sqlite3_column_int64(s, 0);
	finalize(st, &s);
	return rc == SQLITE_ROW ? 0 : sql_error(st, rc, "count current records");
}

/* Into a local, so that *RET_STATUS is untouched on failure and the
 * strings read before it are not lost. */
int store_get_status(struct store *st, struct store_status *ret_status)
{
	struct store_status status;
	int r = read_status(st, &status);
	if (r < 0) {
		g_free(status.last_error);
		g_free(status.last_action_error);
		g_free(status.last_receipt_error);
		g_free(status.gap_uids);
		return r;
	}
	*ret_status = status;
	return 0;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

/* A record's verdicts, stored as their names (record.h).  A word not ours
 * (a newer puljed's, an edited database) reads the cautious way: a status
 * as review, a signature as invalid, a match as none; a kind as not
 * recorded (col_kind false). */
static enum rules_status col_status(sqlite3_stmt *s, int i)
{
	enum rules_status v = RULES_REVIEW;
	record_status_parse(col_text(s, i), &v);
	return v;
}

static enum rules_match col_match(sqlite3_stmt *s, int i)
{
	enum rules_match v = RULES_MATCH_NONE;
	record_match_parse(col_text(s, i), &v);
	return v;
}

static bool col_kind(sqlite3_stmt *s, int i, enum rules_kind *ret)
{
	return record_kind_parse(col_text(s, i), ret);
}

/* NULL (a record from before schema 3) is none. */
static enum cms_status col_signature(sqlite3_stmt *s, int i)
{
	enum cms_status v = CMS_INVALID;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return CMS_NONE;
	record_signature_parse(col_text(s, i), &v);
	return v;
}

/* SHA-256 in hex, with GnuTLS as the daemon hashes (mime.c). */
static void sha256_hex(const void *data, size_t size, char out[65])
{
	uint8_t d[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, size ? data : "", size, d) < 0) {
		g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
		g_checksum_update(ck, data, size);
		g_strlcpy(out, g_checksum_get_string(ck), 65);
		return;
	}
	for (int i = 0; i < 32; i++)
		g_snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Whether stored bytes (column I of S; SIZE the size and SHA the hash
 * recorded with them) are still what was recorded.  NULL when they are,
 * else what differs; ACTUAL gets their hash now ("" when absent). */
static const char *check_bytes(sqlite3_stmt *s, int i, uint64_t size, const char *sha, char actual[65])
{
	actual[0] = 0;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return "missing";
	const void *data = sqlite3_column_blob(s, i);
	uint64_t n = (uint64_t)sqlite3_column_bytes(s, i);
	sha256_hex(data, (size_t)n, actual);
	if (!sha)
		return "no SHA-256 recorded";
	if (n != size)
		return "size differs";
	if (g_ascii_strcasecmp(sha, actual))
		return "SHA-256 differs";
	return NULL;
}

/* The error of a reader that met changed bytes: record ID's WHAT. */
static int mismatch(struct store *st, int64_t id, const char *what, const char *why, const char *sha,
		    const char *actual)
{
	g_snprintf(st->errbuf, sizeof(st->errbuf),
		   "record %" G_GINT64_FORMAT
		   ": the stored %s is not what was recorded (%s: recorded sha256 %s, "
		   "now %s); nothing of it was used — run puljectl verify",
		   id, what, why, sha ? sha : "-", *actual ? actual : "-");
	return -EUCLEAN;
}

int store_foreach_message(struct store *st, int64_t id, bool with_raw, store_message_cb cb, void *userdata)
{
	sqlite3_stmt *s = NULL;
	g_autofree char *sql = g_strdup_printf(
		"SELECT m.id, m.mailbox, uidvalidity, uid, recorded_at, received_epoch, received_at, internaldate, "
		"server_size, %s, raw_size, raw_sha256, message_id, from_addr, from_name, subject, date_header, "
		"call, applicant, on_time, status, reasons, flags, duplicate_of, "
		"(SELECT COUNT(*) FROM attachments a WHERE a.message = m.id), "
		"match, match_score, m.kind, applicant_source, received_header_epoch, received_header, "
		"deadline_basis, decided_by, deadline_delta, d.decision, d.note, d.user, d.at, smime, "
		"a.state, a.kind, a.target, a.done_at, prior_keys, "
		"edge_received_epoch, edge_received_at, edge_why, smime_reason, smime_validated_at, smime_time_source "
		"FROM messages m LEFT JOIN decisions d ON d.id = "
		"(SELECT MAX(id) FROM decisions WHERE message = m.id) "
		"LEFT JOIN actions a ON a.message = m.id AND a.promise = '" STORE_SERVER_ACTION_PROMISE
		"' "
		"WHERE ?1 = 0 OR m.id = ?1 ORDER BY m.id",
		with_raw ? "(SELECT raw FROM bodies b WHERE b.message = m.id)" : "NULL");
	int r = prepare(st, sql, &s), rc;
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	bool any = false;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_message m = {
			.id = sqlite3_column_int64(s, 0),
			.mailbox = col_text(s, 1),
			.uidvalidity = (uint32_t)sqlite3_column_int64(s, 2),
			.uid = (uint32_t)sqlite3_column_int64(s, 3),
			.recorded_at = sqlite3_column_int64(s, 4),
			.has_received = sqlite3_column_type(s, 5) != SQLITE_NULL,
			.received_epoch = sqlite3_column_int64(s, 5),
			.received_at = col_text(s, 6),
			.internaldate = col_text(s, 7),
			.server_size = (uint64_t)sqlite3_column_int64(s, 8),
			.raw = sqlite3_column_blob(s, 9),
			.raw_size = (size_t)sqlite3_column_int64(s, 10),
			.raw_sha256 = col_text(s, 11),
			.message_id = col_text(s, 12),
			.from_addr = col_text(s, 13),
			.from_name = col_text(s, 14),
			.subject = col_text(s, 15),
			.date_header = col_text(s, 16),
			.call = col_text(s, 17),
			.applicant = col_text(s, 18),
			.on_time = sqlite3_column_type(s, 19) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 19),
			.status = col_status(s, 20),
			.reasons = col_text(s, 21),
			.flags = col_text(s, 22),
			.duplicate_of = sqlite3_column_int64(s, 23),
			.n_attachments = (size_t)sqlite3_column_int64(s, 24),
			.match = col_match(s, 25),
			.match_score = sqlite3_column_type(s, 26) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 26),
			.applicant_source = col_text(s, 28),
			.has_received_header = sqlite3_column_type(s, 29) != SQLITE_NULL,
			.received_header_epoch = sqlite3_column_int64(s, 29),
			.received_header = col_text(s, 30),
			.deadline_basis = col_text(s, 31),
			.decided_by = col_text(s, 32),
			.has_delta = sqlite3_column_type(s, 33) != SQLITE_NULL,
			.deadline_delta = sqlite3_column_int64(s, 33),
			.decision = col_text(s, 34),
			.decision_note = col_text(s, 35),
			.decision_user = col_text(s, 36),
			.decision_at = sqlite3_column_int64(s, 37),
			.has_smime = sqlite3_column_type(s, 38) != SQLITE_NULL,
			.smime = col_signature(s, 38),
			.server_action = col_text(s, 39),
			.server_action_kind = col_text(s, 40),
			.server_action_target = col_text(s, 41),
			.server_action_at = sqlite3_column_int64(s, 42),
			.prior_keys = col_text(s, 43),
			.has_edge_received = sqlite3_column_type(s, 44) != SQLITE_NULL,
			.edge_received_epoch = sqlite3_column_int64(s, 44),
			.edge_received_at = col_text(s, 45),
			.edge_why = col_text(s, 46),
			.smime_reason = col_text(s, 47),
			.smime_validated_at = col_text(s, 48),
			.smime_time_source = col_text(s, 49),
		};
		m.has_kind = col_kind(s, 27, &m.kind);
		any = true;
		char actual[65];
		const char *why;
		if (with_raw && (m.raw_sha256 || sqlite3_column_type(s, 9) != SQLITE_NULL) &&
		    (why = check_bytes(s, 9, m.raw_size, m.raw_sha256, actual))) {
			r = mismatch(st, m.id, "raw message", why, m.raw_sha256, actual);
			break;
		}
		if ((r = cb(&m, userdata)) != 0)
			break;
	}
	finalize(st, &s);
	if (r != 0)
		return r;
	if (rc != SQLITE_DONE)
		return sql_error(st, rc, "read messages");
	if (id > 0 && !any) {
		g_snprintf(st->errbuf, sizeof(st->errbuf), "no message with id %" G_GINT64_FORMAT, id);
		return -ENOENT;
	}
	return 0;
}

int store_foreach_mailbox(struct store *st, store_mailbox_cb cb, void *userdata)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, "SELECT mailbox, uidvalidity, last_uid, updated_at FROM mailboxes ORDER BY mailbox", &s),
	    rc;
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_mailbox mb = {
			.mailbox = col_text(s, 0),
			.uidvalidity = (uint32_t)sqlite3_column_int64(s, 1),
			.last_uid = (uint32_t)sqlite3_column_int64(s, 2),
			.updated_at = sqlite3_column_int64(s, 3),
		};
		if ((r = cb(&mb, userdata)) != 0)
			break;
	}
	finalize(st, &s);
	if (r != 0)
		return r;
	return rc == SQLITE_DONE ? 0 : sql_error(st, rc, "read mailboxes");
}

int store_foreach_attachment(struct store *st, int64_t message, bool with_data, store_attachment_cb cb, void *userdata)
{
	sqlite3_stmt *s = NULL;
	g_autofree char *sql = g_strdup_printf(
		"SELECT a.id, a.message, a.seq, filename, content_type, part_path, size, sha256, %s, "
		"source, signature, signer, signed_at, covers_whole_file, signer_trusted, form, "
		"g.reason, g.validated_at, g.time_source, g.modified_after_signing "
		"FROM attachments a LEFT JOIN signatures g ON g.message = a.message AND g.seq = a.seq "
		"WHERE a.message = ? ORDER BY a.seq",
		with_data ? "a.data" : "NULL");
	int r = prepare(st, sql, &s), rc;
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, message);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_attachment a = {
			.id = sqlite3_column_int64(s, 0),
			.message = sqlite3_column_int64(s, 1),
			.seq = sqlite3_column_int(s, 2),
			.filename = col_text(s, 3),
			.content_type = col_text(s, 4),
			.part_path = col_text(s, 5),
			.size = (uint64_t)sqlite3_column_int64(s, 6),
			.sha256 = col_text(s, 7),
			.data = sqlite3_column_blob(s, 8),
			.source = col_text(s, 9),
			.signature = col_signature(s, 10),
			.signer = col_text(s, 11),
			.signed_at = col_text(s, 12),
			.covers_whole_file = sqlite3_column_type(s, 13) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 13),
			.signer_trusted = sqlite3_column_type(s, 14) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 14),
			.form = sqlite3_column_int(s, 15) != 0,
			.signature_reason = col_text(s, 16),
			.signature_validated_at = col_text(s, 17),
			.signature_time_source = col_text(s, 18),
			.modified_after_signing =
				sqlite3_column_type(s, 19) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 19),
		};
		char actual[65];
		const char *why = with_data ? check_bytes(s, 8, a.size, a.sha256, actual) : NULL;
		if (why) {
			g_autofree char *what = g_strdup_printf("attachment %d", a.seq);
			r = mismatch(st, a.message, what, why, a.sha256, actual);
			break;
		}
		if ((r = cb(&a, userdata)) != 0)
			break;
	}
	finalize(st, &s);
	if (r != 0)
		return r;
	return rc == SQLITE_DONE ? 0 : sql_error(st, rc, "read attachments");
}

int store_foreach_part(struct store *st, int64_t message, store_part_cb cb, void *userdata)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(
		    st,
		    "SELECT seq, part, content_type, filename, size, action, why FROM parts WHERE message = ? ORDER BY seq",
		    &s),
	    rc;
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, message);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_part p = {
			.seq = sqlite3_column_int(s, 0),
			.part_path = col_text(s, 1),
			.content_type = col_text(s, 2),
			.filename = col_text(s, 3),
			.size = (uint64_t)sqlite3_column_int64(s, 4),
			.action = col_text(s, 5),
			.why = col_text(s, 6),
		};
		if ((r = cb(&p, userdata)) != 0)
			break;
	}
	finalize(st, &s);
	if (r != 0)
		return r;
	return rc == SQLITE_DONE ? 0 : sql_error(st, rc, "read parts");
}

int store_foreach_decision(struct store *st, int64_t message, store_decision_cb cb, void *userdata)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st,
			"SELECT id, message, decision, note, user, at FROM decisions "
			"WHERE ?1 = 0 OR message = ?1 ORDER BY id",
			&s),
	    rc;
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, message);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_decision d = {
			.id = sqlite3_column_int64(s, 0),
			.message = sqlite3_column_int64(s, 1),
			.decision = col_text(s, 2),
			.note = col_text(s, 3),
			.user = col_text(s, 4),
			.at = sqlite3_column_int64(s, 5),
		};
		if ((r = cb(&d, userdata)) != 0)
			break;
	}
	finalize(st, &s);
	if (r != 0)
		return r;
	return rc == SQLITE_DONE ? 0 : sql_error(st, rc, "read decisions");
}

/* A row of a PRAGMA check (integrity_check, foreign_key_check) as a
 * difference in *D, its text in TEXT; integrity_check's single "ok" is
 * none (false). */
static bool pragma_difference(sqlite3_stmt *s, GString *text, struct store_difference *d)
{
	int n = sqlite3_column_count(s);
	for (int i = 0; i < n; i++)
		g_string_append_printf(text, "%s%s", i ? " " : "",
				       sqlite3_column_type(s, i) == SQLITE_NULL ? "-" : col_text(s, i));
	d->why = text->str;
	return n != 1 || strcmp(text->str, "ok");
}

/* A row of record, attachment id (0 for a raw message), seq, size and
 * SHA-256 recorded, the bytes: whether they differ, as *D (ACTUAL holds
 * their hash).  *PRESENT counts the rows with bytes. */
static bool bytes_difference(sqlite3_stmt *s, struct store_verify_counts *counts, int64_t *present,
			     struct store_difference *d, char actual[65])
{
	const char *sha = col_text(s, 4);
	if (!sha && sqlite3_column_type(s, 5) == SQLITE_NULL)
		return false; /* a message recorded without its body (too large, gone) */
	const char *why = check_bytes(s, 5, (uint64_t)sqlite3_column_int64(s, 3), sha, actual);
	if (*actual) {
		(*present)++;
		counts->bytes += sqlite3_column_bytes(s, 5);
	}
	d->message = sqlite3_column_int64(s, 0);
	d->attachment = sqlite3_column_int64(s, 1);
	d->seq = sqlite3_column_int(s, 2);
	d->why = why;
	d->expected = sha;
	d->actual = *actual ? actual : NULL;
	return why != NULL;
}

/* The rows of SQL as differences named WHAT: stored bytes (PRESENT not
 * NULL, see bytes_difference()) or a PRAGMA's findings.  ROWS counts the
 * rows. */
static int verify_walk(struct store *st, const char *sql, const char *what, store_difference_cb cb, void *userdata,
		       struct store_verify_counts *counts, int64_t *rows, int64_t *present)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(st, sql, &s), rc;
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_difference d = { .what = what };
		char actual[65];
		g_autoptr(GString) text = g_string_new(NULL);
		(*rows)++;
		if (present ? !bytes_difference(s, counts, present, &d, actual) : !pragma_difference(s, text, &d))
			continue;
		counts->differences++;
		if ((r = cb(&d, userdata)) != 0)
			break;
	}
	finalize(st, &s);
	if (r != 0)
		return r;
	return rc == SQLITE_DONE ? 0 : sql_error(st, rc, what);
}

static int verify_all(struct store *st, store_difference_cb cb, void *userdata, struct store_verify_counts *counts)
{
	int r;
	int64_t stored_attachments = 0, checks = 0;
	memset(counts, 0, sizeof(*counts));
	/* One record's bytes in memory at a time. */
	if ((r = verify_walk(
		     st,
		     "SELECT m.id, 0, 0, m.raw_size, m.raw_sha256, (SELECT raw FROM bodies b WHERE b.message = m.id) "
		     "FROM messages m ORDER BY m.id",
		     "raw message", cb, userdata, counts, &counts->messages, &counts->bodies)) != 0 ||
	    (r = verify_walk(st, "SELECT message, id, seq, size, sha256, data FROM attachments ORDER BY message, seq",
			     "attachment", cb, userdata, counts, &counts->attachments, &stored_attachments)) != 0 ||
	    (r = verify_walk(st, "PRAGMA integrity_check", "integrity_check", cb, userdata, counts, &checks, NULL)) !=
		    0)
		return r;
	return verify_walk(st, "PRAGMA foreign_key_check", "foreign_key_check", cb, userdata, counts, &checks, NULL);
}

int store_verify(struct store *st, store_difference_cb cb, void *userdata, struct store_verify_counts *ret_counts)
{
	struct store_verify_counts counts;
	int r = verify_all(st, cb, userdata, &counts);
	if (r >= 0)
		*ret_counts = counts;
	return r;
}

static void *checkpointer_main(void *data)
{
	struct checkpointer *c = data;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		/* Asked, and not while the committer checkpoints itself. */
		while ((!c->want || c->busy) && !c->quit)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->quit)
			break;
		c->want = false;
		c->busy = true;
		pthread_mutex_unlock(&c->lock);
		/* PASSIVE: never waits for the writer; frames committed meanwhile
		 * are the next round's. */
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->lock);
		c->busy = false;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* After each commit, in the committing thread. */
static int checkpointer_hook(void *data, sqlite3 *db, const char *name, int frames)
{
	struct checkpointer *c = data;
	if (frames < c->soft)
		return SQLITE_OK;
	pthread_mutex_lock(&c->lock);
	if (frames >= c->hard) {
		/* The WAL only starts again from its top once a checkpoint has
		 * copied all of it, and the thread, a round behind, never has:
		 * after its round, the rest here, as SQLite would. */
		while (c->busy)
			pthread_cond_wait(&c->cond, &c->lock);
		c->busy = true;
		pthread_mutex_unlock(&c->lock);
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->lock);
		c->busy = false;
		pthread_cond_broadcast(&c->cond);
	} else {
		c->want = true;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return SQLITE_OK;
}

int store_checkpoint_in_background(struct store *st, uint64_t soft, uint64_t hard)
{
	const char *path = sqlite3_db_filename(st->db, "main");
	if (st->ckpt)
		return -EALREADY;
	if (!path || !*path)
		return -EINVAL; /* in memory */
	sqlite3_stmt *s = NULL;
	int64_t page = 4096;
	if (prepare(st, "PRAGMA page_size", &s) == 0 && sqlite3_step(s) == SQLITE_ROW)
		page = MAX(512, sqlite3_column_int64(s, 0));
	finalize(st, &s);
	struct checkpointer *c = g_new0(struct checkpointer, 1);
	c->soft = (int)MAX(1, MIN(soft / (uint64_t)page, (uint64_t)G_MAXINT - 1));
	c->hard = (int)MAX((uint64_t)c->soft + 1, MIN(hard / (uint64_t)page, (uint64_t)G_MAXINT));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK && pthread_create(&c->thread, NULL, checkpointer_main, c) != 0)
		rc = SQLITE_ERROR;
	if (rc != SQLITE_OK) {
		sqlite3_close(c->db);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		g_free(c);
		return -EIO;
	}
	pthread_setname_np(c->thread, "puljed-ckpt");
	st->ckpt = c;
	sqlite3_wal_hook(st->db, checkpointer_hook, c);
	return 0;
}

static void checkpointer_stop(struct store *st)
{
	struct checkpointer *c = st->ckpt;
	if (!c)
		return;
	sqlite3_wal_autocheckpoint(st->db, 1000); /* SQLite's own again */
	pthread_mutex_lock(&c->lock);
	c->quit = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	g_free(c);
	st->ckpt = NULL;
}
