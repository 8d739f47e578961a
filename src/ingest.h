/* ingest: one poll cycle — joins imap, assess (mime + rules) and store.
 * Connects (account_connect()), EXAMINEs (SELECTs when an after-ingest
 * action is configured), fetches every message above the watermark,
 * parses, classifies and records each one.  Records are committed in
 * batches of at most [store] commit_batch: one transaction holds each
 * record, its attachments, the watermark and the promise of the server
 * action, and a failed commit undoes the whole batch (the next cycle
 * fetches it again).  A fetcher thread, alone on the connection while it
 * runs, and an assessor thread work ahead of the recording ([limits]
 * prefetch; ingest-pipeline.h); the commits keep UID order.  Only then,
 * and for pending promises left by a crash, the server action runs and is
 * marked done.  No logging: events go to the caller's callback, always
 * from the calling thread.
 * Errors: an enum ingest_result; the reason through ingest_errmsg() for a
 * session, *ret_error (g_free) for ingest_cycle() and ingest_open(). */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cms.h"
#include "config.h"
#include "store.h"

#include <glib.h>

enum ingest_result {
	INGEST_OK = 0,
	INGEST_E_NETWORK = -1,     /* connect, timeout, protocol, mailbox */
	INGEST_E_TLS = -2,         /* certificate refused, TLS or STARTTLS failure */
	INGEST_E_AUTH = -3,        /* login refused */
	INGEST_E_STORE = -4,       /* the database refused a write */
	INGEST_E_INTERRUPTED = -5, /* *stop was set; everything committed is consistent */
};

enum ingest_event_kind {
	INGEST_EVENT_RECORDED,
	INGEST_EVENT_UIDVALIDITY_CHANGED,
	INGEST_EVENT_RECONNECT,
	INGEST_EVENT_REKEYED,        /* record's message found again under a new UIDVALIDITY */
	INGEST_EVENT_ACTIONS_DONE,   /* n_actions messages flagged or moved */
	INGEST_EVENT_ACTIONS_FAILED, /* n_actions stay pending; detail says why */
	INGEST_EVENT_ACTION_SETTLED, /* one action of a one-by-one kind (a receipt): record, kind, how */
	INGEST_EVENT_GAPS_FOUND,     /* n_actions UIDs at or below the watermark have no record
				      * (detail: the first of them); they are fetched now */
	INGEST_EVENT_GAPS_LEFT,      /* n_actions of them still have none after that */
};

struct ingest_event {
	enum ingest_event_kind kind;
	const struct store_message *msg; /* RECORDED */
	size_t n_attachments;            /* RECORDED */
	uint32_t old_uidvalidity, new_uidvalidity;
	const char *detail;
	size_t n_actions;                          /* ACTIONS_* */
	int64_t record;                            /* REKEYED, ACTION_SETTLED */
	const char *action_kind;                   /* ACTION_SETTLED: the kind's name ("receipt") */
	const struct store_action_settlement *how; /* ACTION_SETTLED */
	uint32_t uid;                              /* REKEYED: its new UID */
};

typedef void (*ingest_event_cb)(const struct ingest_event *ev, void *userdata);

struct ingest_stats {
	size_t seen; /* messages above the watermark */
	size_t recorded;
	size_t duplicates;
	size_t rekeyed; /* already recorded under an earlier UIDVALIDITY */
	size_t flagged; /* broken, too large or gone */
	uint32_t uidvalidity;
	uint32_t watermark;
	uint32_t server_exists;
	size_t actions_done;
	size_t actions_failed;      /* left pending: the server refused or cannot */
	size_t settled[4];          /* one-by-one actions (receipts) by enum store_action_state */
	int64_t actions_wait_until; /* the one-by-one actions left waiting (a rate) until then (Unix time); 0: none */
	bool gaps_checked;          /* the gap check ran (and its figures are these:) */
	size_t gaps_found;          /* UIDs on the server at or below the watermark without a record */
	size_t gaps_recorded;       /* of them, recorded now */
	size_t gaps_left;           /* still without a record */
};

struct ingest_ctx {
	const struct config *cfg;
	struct store *store;
	const struct cms_trust *trust; /* [signatures] trust_file, or NULL */
	atomic_int *stop;              /* may be NULL; set (by a signal handler) to end the cycle */
	/* A signal whose handler sets *stop and does not restart system
	 * calls: once *stop is set, it is sent to the thread fetching, so
	 * that a wait on the network ends there too.  0: none. */
	int stop_signal;
	ingest_event_cb on_event; /* may be NULL */
	void *userdata;
};

/* Runs one cycle: open, sync, close.  On failure *RET_ERROR holds a
 * one-line reason.  The poll's outcome is also written to the store
 * (store_poll_done).  The gap check (ingest_check_gaps()) runs in it too
 * when the last one in the store is [daemon] gap_check_interval ago. */
int ingest_cycle(const struct ingest_ctx *ctx, struct ingest_stats *stats, char **ret_error);

/* A session that stays open between polls (the daemon).  Its functions
 * return an enum ingest_result (ingest_wait() also 0 and 1); after a
 * failure ingest_errmsg() says why. */
typedef struct ingest_session ingest_session;

/* Connects, logs in, EXAMINEs, and checks UIDVALIDITY against the store. */
int ingest_open(const struct ingest_ctx *ctx, struct ingest_session **ret_session, char **ret_error);
/* Records every message above the watermark; notes the poll in the store. */
int ingest_sync(struct ingest_session *s, struct ingest_stats *stats);
/* The gap check: UID SEARCH ALL against the records of the mailbox's
 * UIDVALIDITY.  A UID at or below the watermark without a record is
 * reported (INGEST_EVENT_GAPS_FOUND), fetched and recorded; what is still
 * missing then is reported (INGEST_EVENT_GAPS_LEFT) and noted in the
 * store for status (store_gaps_noted()).  STATS holds the gap figures. */
int ingest_check_gaps(struct ingest_session *s, struct ingest_stats *stats);
/* Waits up to MS for the server to announce something (IMAP IDLE; a plain
 * wait when the server has no IDLE): 1 when it did, 0 when not, <0 on
 * error or when *stop was set.  IDLE is re-issued every 25 minutes. */
int ingest_wait(struct ingest_session *s, int ms);
/* Why the session's last call failed: a one-line reason. */
const char *ingest_errmsg(const struct ingest_session *s);
/* Leaves IDLE, logs out, frees. */
void ingest_close(struct ingest_session *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ingest_session, ingest_close)
