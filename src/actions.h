/* actions: the side-effect queue — record first, then act.
 *
 * Whatever puljed does outside its database because a message was
 * recorded (flag or move it on the server; later: mail a receipt) is a
 * promise first and an action after:
 *
 *  1. Promise.  actions_promise() names the promises a new record carries
 *     (store_message.promises); store_record() writes them, 'pending', in
 *     the record's own transaction.  No record without its promises, no
 *     promise without its record.  A record re-keyed or already known
 *     gets none: its promises were made when it was first recorded.
 *  2. Commit.  ingest makes commits durable (synchronous = FULL) when
 *     any kind is chosen (actions_enabled()): nothing is done for a record
 *     a power cut could still take back.
 *  3. Act.  actions_run(), after the commit, hands each chosen kind the
 *     pending actions of its promise, oldest UID first, as one batch.
 *  4. Mark.  Done: marked 'done' with what was done (kind, target, time)
 *     in one transaction.  Not done: each action counts the attempt and
 *     keeps the error, stays 'pending', and is tried again at the next
 *     actions_run() (the next poll) — never given up on, never blocking a
 *     record.  status shows the pending count, the most attempts and the
 *     last error.  A kind that settles one by one (a receipt) may
 *     also give up ('failed': refused for good, with the server's words),
 *     settle without acting ('skipped': a rule said never, with why), or
 *     ask not to be tried again before a time (backoff); a daemon asks
 *     actions_next_due() when that is, and polls then.
 *
 * Ordering: promises are made in UID order with their records and carried
 * out after them, each kind in table order, a batch in UID order.  A kind
 * acts only on records of the mailbox and UIDVALIDITY of the context.
 *
 * Idempotence: a crash (or a lost connection) after an action was carried
 * out and before it was marked leaves it pending, and it is carried out
 * again.  For keyword and move that is harmless: adding a keyword the
 * message already has changes nothing, and a message already moved is no
 * longer in the mailbox, so UID STORE/MOVE of its UID names nothing (a
 * crash inside the UIDPLUS fallback, between UID COPY and UID EXPUNGE,
 * can leave a second copy in the folder: never a loss).  A
 * new kind must guarantee the same of a second run — e.g. a receipt keeps
 * its Message-ID derived from the record, so a second copy is the same
 * message, recognisable as such — or must say what the window costs.
 *
 * A promise is kept by whichever kind the configuration chooses for it
 * when it runs (after_ingest: keyword or move), as before the queue had a
 * table; while none is chosen (after_ingest = none) its actions wait,
 * pending.  Adding a kind: a file actions-<what>.c with its struct
 * actions_kind, its extern below, one entry in actions.c's table, and the
 * file in src/meson.build.  No logging here: outcomes go to the caller. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

struct imap;

enum actions_result {
	ACTIONS_OK = 0,
	/* The store refused to read or mark actions: store_errmsg().  Below
	 * every kind's own codes (an enum imap_error for the IMAP kinds). */
	ACTIONS_E_STORE = -1000,
};

/* What a kind needs from its context. */
enum actions_need {
	ACTIONS_NEED_MAILBOX = 1 << 0, /* the IMAP session, the mailbox SELECTed (read-write) */
};

/* Where the actions are carried out. */
struct actions_context {
	const struct config *cfg;
	struct store *store;
	struct imap *im;      /* ACTIONS_NEED_MAILBOX; NULL: those kinds wait */
	const char *mailbox;  /* the records' mailbox */
	uint32_t uidvalidity; /* the mailbox's now; records of another wait */
	int64_t now;          /* Unix time, noted with each attempt */
	/* May be NULL: the whole run happens at NOW.  Else a run_one kind's
	 * actions are each carried out at CLOCK()'s time (Unix time) and
	 * settled at its time once carried out: a receipt's Date, its sent
	 * time and the rate count the moment of each, not the run's start. */
	int64_t (*clock)(void);
	atomic_int *cancel; /* may be NULL: set by a signal handler, ends a run_one kind's loop */
	/* May be NULL: set when a run_one kind's run ended on a wait, to when
	 * the wait ends (Unix time; the latest of them). */
	int64_t *ret_wait_until;
};

/* How one action of a run_one kind settled: the store's settlement
 * (strings borrowed until the next run_one or end), and for the caller's
 * log the record it was for. */
struct actions_verdict {
	struct store_action_settlement how;
	/* Not settled, not tried: the action is left as it is and the run of
	 * this kind ends here (a rate reached); the rest wait for the next,
	 * not before WAIT_UNTIL (Unix time; 0: at the next run). */
	bool wait;
	int64_t wait_until;
};

/* An action kind: how one promise is kept.  Stateless. */
struct actions_kind {
	const char *name;    /* stored with a done action: "keyword", "move" */
	const char *promise; /* the promise it keeps (a store row's promise) */
	unsigned needs;      /* enum actions_need */
	/* Whether CFG chooses this kind (at most one kind per promise). */
	bool (*chosen)(const struct config *cfg);
	/* Whether a new record MSG gets the promise; FETCHED: its body was
	 * fetched.  NULL: always. */
	bool (*wanted)(const struct config *cfg, const struct store_message *msg, bool fetched);
	/* What it acts with, noted when done (the keyword, the folder); a
	 * batch kind's only (run_one kinds name it in each settlement). */
	const char *(*target)(const struct config *cfg);
	/* Carries out BATCH (N >= 1 actions).  0, or the kind's own negative
	 * code with *RET_ERROR (borrowed, valid until the next call on the
	 * context); *RET_STOP set when the context can no longer be used (only
	 * ACTIONS_NEED_MAILBOX kinds, with an enum imap_error). */
	int (*run)(const struct actions_context *c, const struct store_action *batch, size_t n, const char **ret_error,
		   bool *ret_stop);

	/* A kind whose actions settle one by one (run NULL; a receipt): each
	 * due action (store_actions_due: backoff) goes to run_one, and is
	 * settled as it says at once, in its own transaction, before the
	 * next.  begin (may be NULL) makes the state they share (e.g. one
	 * SMTP session, opened when first needed), end frees it. */
	void *(*begin)(const struct actions_context *c);
	void (*run_one)(void *state, const struct actions_context *c, const struct store_action *a,
			struct actions_verdict *ret);
	void (*end)(void *state);
};

/* The kinds (one file each). */
extern const struct actions_kind actions_imap_keyword; /* actions-imap.c */
extern const struct actions_kind actions_imap_move;    /* actions-imap.c */
extern const struct actions_kind actions_receipt;      /* actions-receipt.c */

/* Whether CFG chooses any kind: then commits must be durable first. */
bool actions_enabled(const struct config *cfg);
/* What the kinds CFG chooses need, together (enum actions_need). */
unsigned actions_needs(const struct config *cfg);
/* Adds to MSG (a new record; FETCHED: its body was fetched) the promises
 * of the kinds CFG chooses that want it. */
void actions_promise(const struct config *cfg, struct store_message *msg, bool fetched);

/* The outcome of one batch, for the caller's events and logs. */
struct actions_outcome {
	const struct actions_kind *kind;
	const char *target; /* what it acted with */
	size_t n;           /* actions in the batch (a run_one kind: 1) */
	bool done;          /* carried out and marked; else kept pending (or, one by one, settled otherwise) */
	const char *error;  /* why not */
	/* A run_one kind's action: its record and how it settled. */
	int64_t record;                            /* 0 for a batch */
	const struct store_action_settlement *how; /* NULL for a batch */
};
typedef void (*actions_cb)(const struct actions_outcome *o, void *userdata);

/* Carries out every pending action C can: each chosen kind's batch,
 * reported through CB (may be NULL) once marked.  ACTIONS_OK when every
 * batch was tried (those refused stay pending); ACTIONS_E_STORE; or the
 * code of a kind that left the context unusable (the rest wait). */
int actions_run(const struct actions_context *c, actions_cb cb, void *userdata);
/* When the next pending action of a chosen run_one kind is due (Unix
 * time; 0: one is due now): 0 and *ret_at, -ENOENT when none is pending
 * (*ret_at untouched), or a negative errno.  For a daemon that waits
 * between polls: a receipt's next attempt need not wait for the poll. */
int actions_next_due(const struct config *cfg, struct store *st, int64_t *ret_at);
/* actions_next_due() over the N kinds of TABLE. */
int actions_next_due_kinds(const struct config *cfg, struct store *st, const struct actions_kind *const *table,
			   size_t n, int64_t *ret_at);
/* actions_run() over the N kinds of TABLE instead of the built-in ones
 * (the unit tests' own kinds). */
int actions_run_kinds(const struct actions_context *c, const struct actions_kind *const *table, size_t n, actions_cb cb,
		      void *userdata);
