/* store: the SQLite database — every message, its raw bytes, its
 * attachments and the per-mailbox UID watermark.
 * Errors: negative errno (-EIO for SQLite failures, -ENOSPC when full,
 * -EBUSY when locked, -EUCLEAN when stored bytes are no longer the ones
 * recorded); store_errmsg() has the detail.  Strings handed to
 * callbacks are owned by the store and valid only during the callback. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "record.h"

#define STORE_SCHEMA_VERSION 10

/* The page size of a database the daemon creates.  Messages and
 * attachments are blobs of tens to hundreds of KB: 16 KiB pages write them
 * in a quarter of the pieces (kernel write, WAL checksum, checkpoint and
 * writeback work is per page).  An existing database keeps the page size
 * it was created with. */
#define STORE_NEW_PAGE_SIZE 16384

struct store;

/* Promises one record may carry (store_message.promises). */
#define STORE_MAX_PROMISES 4
/* The promise whose row store_message's server_action* fields show. */
#define STORE_SERVER_ACTION_PROMISE "after_ingest"
/* The promise of a receipt to the applicant (actions-receipt.c). */
#define STORE_RECEIPT_PROMISE "receipt"

enum store_mode {
	STORE_READ_WRITE, /* the daemon: creates and migrates the database */
	STORE_READ_ONLY,  /* puljectl */
	STORE_UPDATE,     /* puljectl reclassify/decide: an existing database, written */
};

struct store_attachment_in {
	const char *filename;
	const char *content_type;
	const char *part_path;
	const uint8_t *data;
	size_t size;
	const char *sha256;
	const char *source; /* "mime", "pkcs7", "tnef" */
	enum cms_status signature;
	const char *signer;
	const char *signed_at; /* ISO 8601 or NULL */
	int covers_whole_file; /* 1, 0, -1 = null */
	int signer_trusted;    /* 1, 0, -1 = null */
	bool form;
	/* How the signature verdict was reached. */
	const char *signature_reason;       /* why invalid, or a note on a valid one; NULL */
	const char *signature_validated_at; /* the validation time, ISO 8601, or NULL */
	const char *signature_time_source;  /* "timestamp", "arrival" or NULL */
	int modified_after_signing;         /* 1, 0, -1 = null (no signature) */
};

/* What was done with one MIME part. */
struct store_part {
	int seq;
	const char *part_path;
	const char *content_type;
	const char *filename;
	uint64_t size;
	const char *action;
	const char *why;
};

/* One message as recorded.  NULL / has_* false where unknown. */
struct store_message {
	int64_t id;
	const char *mailbox;
	uint32_t uidvalidity;
	uint32_t uid;
	int64_t recorded_at; /* Unix time of the commit */
	bool has_received;
	int64_t received_epoch;   /* INTERNALDATE, Unix time */
	const char *received_at;  /* INTERNALDATE, ISO 8601 in the call's zone */
	const char *internaldate; /* INTERNALDATE exactly as the server sent it */
	uint64_t server_size;     /* RFC822.SIZE */
	const uint8_t *raw;       /* NULL when not fetched (too large) or spooled */
	size_t raw_size;
	bool raw_spooled; /* on write: the raw bytes are in the file RAW_FD (borrowed) */
	int raw_fd;
	const char *raw_sha256;
	const char *message_id;
	const char *from_addr;
	const char *from_name;
	const char *subject;
	const char *date_header; /* ISO 8601 */
	const char *call;
	const char *applicant;
	int on_time;              /* 1, 0, -1 = null */
	enum rules_status status; /* a word not ours reads as review */
	const char *reasons;      /* JSON array of strings */
	const char *flags;        /* comma-separated, NULL when none */
	int64_t duplicate_of;     /* 0 = none */
	/* Classification details. */
	enum rules_match match; /* none is stored as NULL; a word not ours reads as none */
	double match_score;     /* < 0 = null */
	bool has_kind;          /* false: not recorded (NULL), or a word not ours */
	enum rules_kind kind;
	const char *applicant_source; /* "subject", "from" or NULL */
	bool has_received_header;
	int64_t received_header_epoch;
	const char *received_header; /* newest Received: date, ISO 8601 */
	const char *deadline_basis;  /* the call's: "arrival" or "date-header" */
	const char *decided_by;      /* which time decided, or NULL */
	bool has_delta;
	int64_t deadline_delta;         /* deciding time minus deadline, seconds */
	bool has_smime;                 /* false: not verified (NULL), or not changed on update */
	enum cms_status smime;          /* the S/MIME signature; a word not ours reads as invalid */
	const char *smime_reason;       /* why invalid, or a note on a valid one */
	const char *smime_validated_at; /* the validation time, ISO 8601 */
	const char *smime_time_source;  /* "timestamp", "arrival" or NULL */
	/* On write: the promises (actions.h) committed with a new record,
	 * pending until carried out; borrowed. */
	const char *promises[STORE_MAX_PROMISES];
	size_t n_promises;
	/* Read only: the after-ingest server action (the promise
	 * STORE_SERVER_ACTION_PROMISE): "pending", "done" or NULL (none
	 * promised), and once done what was done. */
	const char *server_action;
	const char *server_action_kind;   /* "keyword" or "move" once done */
	const char *server_action_target; /* the keyword or the folder */
	int64_t server_action_at;         /* when it was done, 0 = not yet */
	const char *prior_keys;           /* read only: "UIDVALIDITY:UID,…" before a re-key, or NULL */
	/* The edge arrival: when the authority's own mail server
	 * took the message from outside (received_edge), or why not known. */
	bool has_edge_received;
	int64_t edge_received_epoch;
	const char *edge_received_at;   /* ISO 8601 in the call's zone */
	const char *edge_why;           /* NULL with an edge time or no [evidence] trusted_relays; else
					   * "no-received", "untrusted-top", "bad-date", "after-arrival", … */
	const struct store_part *parts; /* on write: every MIME part; NULL on read */
	size_t n_parts;
	/* Filled on read only. */
	size_t n_attachments;
	const char *decision; /* latest operator decision: "accept"/"reject" or NULL */
	const char *decision_note;
	const char *decision_user;
	int64_t decision_at;
};

struct store_attachment {
	int64_t id;
	int64_t message;
	int seq;
	const char *filename;
	const char *content_type;
	const char *part_path;
	uint64_t size;
	const char *sha256;
	const uint8_t *data; /* only from store_foreach_attachment(.., true) */
	const char *source;
	enum cms_status signature; /* NULL (before schema 3) reads as none, a word not ours as invalid */
	const char *signer;
	const char *signed_at;
	int covers_whole_file; /* 1, 0, -1 */
	int signer_trusted;    /* 1, 0, -1 */
	bool form;
	const char *signature_reason; /* as in store_attachment_in */
	const char *signature_validated_at;
	const char *signature_time_source;
	int modified_after_signing; /* 1, 0, -1 */
};

struct store_mailbox {
	const char *mailbox;
	uint32_t uidvalidity;
	uint32_t last_uid; /* the watermark: every UID up to it is recorded */
	int64_t updated_at;
};

struct store_status {
	int64_t total;
	int64_t by_status[RECORD_N_STATUS]; /* by enum rules_status */
	int64_t duplicates;
	int64_t last_poll_at;     /* 0 = never */
	int64_t last_success_at;  /* 0 = never */
	char *last_error;         /* owned by the caller: g_free(); NULL if the last poll succeeded */
	int64_t server_exists;    /* messages in the mailbox at the last good poll; -1 unknown */
	int64_t recorded_current; /* records under the mailbox's current UIDVALIDITY */
	int64_t actions_pending;  /* promised server actions not done yet (every promise but receipts) */
	int64_t receipts[4];      /* receipts by enum store_action_state */
	char *last_receipt_error; /* owned by the caller: g_free(); the newest error of a pending or failed receipt */
	int64_t action_attempts;  /* the most attempts any of them has had; 0: none tried yet */
	char *last_action_error;  /* owned by the caller: g_free(); NULL when the last attempt succeeded */
	int64_t gaps_checked_at;  /* the last gap check; 0 = never */
	int64_t gaps;             /* UIDs it left without a record at or below the watermark */
	char *gap_uids;           /* owned by the caller: g_free(); the first of them, or NULL */
};

/* Opens (creating and migrating in READ_WRITE mode) the database at PATH
 * (":memory:": a private in-memory database, for the fuzz target).
 * A new database is made whole under PATH.new (0640) and linked into
 * place; an empty (zero-length) PATH is refused in every mode (-ENODATA),
 * never taken for a new database.  READ_ONLY and UPDATE never create a
 * schema; where puljed left no -wal/-shm they make them owned by the
 * database's owner and writable by it, or refuse (-EACCES) when this user
 * may not.  On failure *ret_error holds a newly allocated message. */
int store_open(const char *path, enum store_mode mode, struct store **ret_store, char **ret_error);
void store_close(struct store *st);
/* g_autoptr(Store) frees with store_close(). */
typedef struct store Store;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_close)

/* Moves checkpoints to a thread of their own, on a connection of its own,
 * until store_close(): a commit that leaves SOFT bytes or more in the WAL
 * wakes the thread; one that leaves HARD or more waits for the thread's
 * round and checkpoints the rest itself, so that the WAL starts again
 * from its top.  -EALREADY when started, -EINVAL in memory, -EIO when the
 * thread or its connection cannot be had (SQLite's own checkpoints stay). */
int store_checkpoint_in_background(struct store *st, uint64_t soft, uint64_t hard);
/* For migration tests: creates PATH with the schema as it was at VERSION. */
int store_create_at_version(const char *path, int version, char **ret_error);
const char *store_errmsg(struct store *st);

/* The watermark of MAILBOX; -ENOENT when the mailbox was never seen. */
int store_mailbox_get(struct store *st, const char *mailbox, uint32_t *ret_uidvalidity, uint32_t *ret_last_uid);
/* Starts MAILBOX afresh under a new UIDVALIDITY (watermark 0).  Records
 * made under the old UIDVALIDITY stay. */
int store_mailbox_reset(struct store *st, const char *mailbox, uint32_t uidvalidity);

enum store_outcome {
	STORE_EXISTED = 0,  /* (mailbox, uidvalidity, uid) was already recorded: nothing changed */
	STORE_INSERTED = 1, /* a new record */
	STORE_REKEYED = 2,  /* the mailbox was recreated (new UIDVALIDITY): the record of the same
			     * message under the old one now carries the new key — recorded once */
};

/* Records MSG and its attachments and advances the watermark of its
 * mailbox to its UID, in one transaction; inside store_begin() in the
 * caller's, where a failure undoes this record alone (or, when SQLite
 * rolled everything back, all of it: store_commit() then fails).
 * Nothing recorded in a batch is on the disk, or seen by readers, before
 * store_commit() returns 0.  duplicate_of and id in MSG are
 * ignored: a message whose raw bytes equal an earlier record's gets
 * duplicate_of set here — unless that record was made under an earlier
 * UIDVALIDITY of the same mailbox, in which case it is re-keyed instead
 * (STORE_REKEYED, *ret_id its id). */
int store_record(struct store *st, const struct store_message *msg, const struct store_attachment_in *atts,
		 size_t n_atts, int64_t *ret_id, enum store_outcome *ret_outcome);

/* The record the last successful store_record() found the same raw bytes
 * in (the new record's duplicate_of); 0: none, or nothing inserted. */
int64_t store_last_duplicate_of(const struct store *st);

/* Explicit transactions around several updates (reclassify) or records
 * (a batch).  On a failed store_commit() the caller calls store_rollback(). */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* Replaces the machine's classification of record ID (reclassify): call,
 * applicant, on_time, status, reasons and the schema-2 details of MSG;
 * with ATTS (N_ATTS must equal the stored count) also the attachments'
 * signature verdicts and form flags, and MSG's parts when it has them. */
int store_update_classification(struct store *st, int64_t id, const struct store_message *msg,
				const struct store_attachment_in *atts, size_t n_atts);

/* Records an operator's DECISION ("accept" or "reject") on record ID,
 * beside the machine's classification.  -ENOENT when there is no record. */
int store_decide(struct store *st, int64_t id, const char *decision, const char *note, const char *user, int64_t at);

/* Notes the end of a poll: OK, or the error text (no secrets in it), and
 * the server's message count when known (SERVER_EXISTS < 0: unknown). */
int store_poll_done(struct store *st, int64_t when, const char *error, int64_t server_exists);

int store_get_status(struct store *st, struct store_status *ret_status);

/* Notes a gap check at WHEN: LEFT UIDs at or below the watermark still
 * without a record (UIDS: the first of them, space-separated, or NULL). */
int store_gaps_noted(struct store *st, int64_t when, int64_t left, const char *uids);
/* When the last gap check ran (0: never). */
int store_gaps_checked_at(struct store *st, int64_t *ret_when);
/* Every UID recorded under MAILBOX/UIDVALIDITY, ascending; *ret_uids is newly
 * allocated (g_free). */
int store_recorded_uids(struct store *st, const char *mailbox, uint32_t uidvalidity, uint32_t **ret_uids,
			size_t *ret_n);

/* synchronous = FULL (every commit reaches the disk before the server is
 * touched: the after-ingest actions) or NORMAL (the default). */
int store_set_durable(struct store *st, bool full);

/* A promised action (schema 9: a row of actions), as the queue sees it. */
struct store_action {
	int64_t id;         /* the action's */
	int64_t message;    /* its record */
	uint32_t uid;       /* the record's UID */
	int64_t attempts;   /* tried so far */
	int64_t created_at; /* when it was promised (or requested); before schema 10: the record's commit */
	bool requested;     /* an operator asked for it (store_action_request) */
};

/* The states of an action (schema 10; the order of store_status.receipts). */
enum store_action_state {
	STORE_ACTION_PENDING,
	STORE_ACTION_DONE,
	STORE_ACTION_FAILED,  /* given up: refused for good */
	STORE_ACTION_SKIPPED, /* a rule said never: why */
};
const char *store_action_state_name(enum store_action_state state); /* "pending", "done", "failed", "skipped" */

/* How one action settled (store_action_settle). */
struct store_action_settlement {
	enum store_action_state state;
	const char *kind;   /* done: how ("receipt") */
	const char *target; /* done, failed: with what or to whom (the recipient); skipped: may be NULL */
	const char *detail; /* done: what identifies it (the receipt's Message-ID); may be NULL */
	const char *error;  /* pending, failed: why not (no secrets) */
	const char *why;    /* skipped: the rule's token */
	int64_t next_at;    /* pending: not before (Unix time); 0: at the next run */
	bool attempted;     /* the attempt counts (false: settled without trying, e.g. skipped) */
};

/* The pending actions of PROMISE due at NOW (no next attempt set, or one
 * at or before NOW), oldest record first; MAILBOX NULL: of every mailbox
 * (then UIDVALIDITY is ignored).  *ret_actions is newly allocated. */
int store_actions_due(struct store *st, const char *promise, const char *mailbox, uint32_t uidvalidity, int64_t now,
		      struct store_action **ret_actions, size_t *ret_n);
/* When the next pending action of PROMISE is due (Unix time; 0: one is
 * due now, without a next attempt set): 0 and *ret_at, or -ENOENT when
 * none is pending (*ret_at untouched). */
int store_actions_next_at(struct store *st, const char *promise, int64_t *ret_at);
/* Settles the pending action ID at AT as HOW says, in one transaction
 * (its error is the action's own: status shows a receipt's apart from the
 * server actions').  An action no longer pending is left as it is. */
int store_action_settle(struct store *st, int64_t id, const struct store_action_settlement *how, int64_t at);
/* Counts an attempt of action ID at AT, in its own durable transaction,
 * before it is carried out (its settlement then says attempted = false):
 * an action whose effect cannot be undone (a receipt) is carried out only
 * when the store can take a write now, so that a store that cannot mark
 * it done afterwards (disk full, locked) does not have it carried out
 * again at every run.  The count always changes the row: a write that
 * changed nothing would not reach the disk and prove nothing.  -ENOENT:
 * no longer pending. */
int store_action_attempting(struct store *st, int64_t id, int64_t at);
/* How many actions of PROMISE were done to TARGET (case-insensitive; NULL:
 * to anyone) at or after SINCE: a per-recipient rate, or the whole rate;
 * with RET_FIRST (may be NULL), when the earliest of them was done (0:
 * none), i.e. when a rolling window starting at SINCE loses one. */
int store_actions_done_to(struct store *st, const char *promise, const char *target, int64_t since, int64_t *ret_n,
			  int64_t *ret_first);

/* One action as puljectl shows it; strings owned (store_action_row_clear). */
struct store_action_row {
	int64_t id;
	int64_t message;
	char *promise;
	enum store_action_state state;
	char *kind, *target, *detail, *why, *last_error, *requested_by;
	int64_t attempts;
	int64_t created_at, last_attempt_at, done_at, next_attempt_at; /* 0: none */
};
void store_action_row_clear(struct store_action_row *row);
typedef struct store_action_row StoreActionRow;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(StoreActionRow, store_action_row_clear)
/* The action of PROMISE on record MESSAGE: 0 and *ret_row filled, or
 * -ENOENT (none promised), *ret_row untouched. */
int store_action_get(struct store *st, int64_t message, const char *promise, struct store_action_row *ret_row);
typedef int (*store_action_row_cb)(const struct store_action_row *row, void *userdata);
/* The actions of PROMISE by record; a non-zero return from CB stops the walk. */
int store_foreach_action(struct store *st, const char *promise, store_action_row_cb cb, void *userdata);
/* An operator asks for the action of PROMISE on record MESSAGE (puljectl
 * receipt send): a new pending action, or an existing skipped or failed
 * one made pending again (AGAIN: a done one too), noted with USER and AT.
 * -ENOENT no such record; -EALREADY it is pending or (without AGAIN)
 * done: *ret_row (may be NULL) then holds it. */
int store_action_request(struct store *st, int64_t message, const char *promise, const char *user, bool again,
			 int64_t at, struct store_action_row *ret_row);

/* The pending actions of PROMISE on records of MAILBOX/UIDVALIDITY, by
 * UID; *ret_actions is newly allocated (g_free). */
int store_actions_pending(struct store *st, const char *promise, const char *mailbox, uint32_t uidvalidity,
			  struct store_action **ret_actions, size_t *ret_n);
/* Marks the pending actions IDS done at AT (KIND how, TARGET with what:
 * "keyword"/"move", the keyword or the folder), counts the attempt and
 * clears the last action error, in one transaction.  One not pending is
 * left as it is: a repeat changes nothing. */
int store_actions_done(struct store *st, const int64_t *ids, size_t n, const char *kind, const char *target,
		       int64_t at);
/* Notes a failed attempt at the pending actions IDS at AT: each counts
 * it and keeps ERROR (no secrets in it), stays pending, and ERROR is the
 * last action error status shows; in one transaction. */
int store_actions_failed(struct store *st, const int64_t *ids, size_t n, const char *error, int64_t at);

typedef int (*store_message_cb)(const struct store_message *msg, void *userdata);
typedef int (*store_mailbox_cb)(const struct store_mailbox *mb, void *userdata);
typedef int (*store_attachment_cb)(const struct store_attachment *att, void *userdata);
typedef int (*store_part_cb)(const struct store_part *part, void *userdata);

/* Messages in id order; ID > 0 selects one (-ENOENT if absent).  Raw
 * bytes are included only when WITH_RAW.  The latest decision comes along.  A non-zero return from CB stops
 * the walk and is returned.
 * Stored bytes (WITH_RAW, and WITH_DATA below) reach CB only after their
 * SHA-256 and size were checked against the ones recorded: the walk stops
 * at the first record whose bytes differ, with -EUCLEAN (store_errmsg()
 * names the record, both hashes). */
int store_foreach_message(struct store *st, int64_t id, bool with_raw, store_message_cb cb, void *userdata);
int store_foreach_mailbox(struct store *st, store_mailbox_cb cb, void *userdata);
int store_foreach_attachment(struct store *st, int64_t message, bool with_data, store_attachment_cb cb, void *userdata);
int store_foreach_part(struct store *st, int64_t message, store_part_cb cb, void *userdata);

/* One difference store_verify() found. */
struct store_difference {
	const char *what;     /* "raw message", "attachment", "integrity_check", "foreign_key_check" */
	int64_t message;      /* the record, 0 for the database as a whole */
	int64_t attachment;   /* the attachment's id, 0 otherwise */
	int seq;              /* the attachment's number in its record */
	const char *why;      /* "SHA-256 differs", "size differs", "missing", … or SQLite's text */
	const char *expected; /* the SHA-256 recorded, NULL when none */
	const char *actual;   /* the SHA-256 of the bytes now, NULL when absent */
};
typedef int (*store_difference_cb)(const struct store_difference *d, void *userdata);

struct store_verify_counts {
	int64_t messages, bodies, attachments, bytes, differences;
};

/* Checks every stored raw message and attachment against its SHA-256
 * and size, then SQLite's integrity_check and foreign_key_check; CB is
 * called for each difference (a non-zero return stops and is returned).
 * 0 when the walk finished, whatever it found (COUNTS says). */
int store_verify(struct store *st, store_difference_cb cb, void *userdata, struct store_verify_counts *ret_counts);

/* One operator decision (store_decide), as recorded: every decision is
 * kept, a later one beside the earlier ones. */
struct store_decision {
	int64_t id;           /* ascending in the order they were made */
	int64_t message;      /* the record */
	const char *decision; /* "accept" or "reject" */
	const char *note;
	const char *user;
	int64_t at; /* Unix time */
};
typedef int (*store_decision_cb)(const struct store_decision *d, void *userdata);
/* Every decision on record MESSAGE (0: on every record), oldest first.  A
 * non-zero return from CB stops the walk and is returned. */
int store_foreach_decision(struct store *st, int64_t message, store_decision_cb cb, void *userdata);
