/* ingest-internal: what ingest.c shares with its parts, ingest-pipeline.c
 * (fetch-ahead), ingest-gaps.c (the gap check) and ingest-idle.c (the
 * wait between polls).  Private to the ingest library. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assess.h"
#include "imap.h"
#include "ingest.h"

/* The IMAP session and the state of its open mailbox. */
struct ingest_connection {
	struct imap *im;
	struct imap_mailbox box;
};

/* What became of a message's body. */
enum fetch_outcome {
	FETCHED,
	TOO_LARGE,
	GONE,
};

/* Reports EV to the caller; only ever from the calling (recording) thread. */
static inline void emit(const struct ingest_ctx *ctx, const struct ingest_event *ev)
{
	if (ctx->on_event)
		ctx->on_event(ev, ctx->userdata);
}

/* An enum imap_error as an enum ingest_result. */
static inline int from_imap(int r)
{
	switch (r) {
	case IMAP_OK:
		return INGEST_OK;
	case IMAP_E_CERTIFICATE:
	case IMAP_E_TLS:
	case IMAP_E_STARTTLS:
		return INGEST_E_TLS;
	case IMAP_E_AUTH:
		return INGEST_E_AUTH;
	case IMAP_E_CANCELLED:
		return INGEST_E_INTERRUPTED;
	default:
		return INGEST_E_NETWORK;
	}
}

/* The daemon's session, open between polls. */
struct ingest_session {
	const struct ingest_ctx *ctx;
	struct ingest_connection s;
	uint32_t last_uid;
	uint32_t synced_exists; /* the server's EXISTS when the last sync looked for new mail */
	bool idle_unsupported;
	gint64 idle_since; /* monotonic µs; 0 when not idling */
	char err[600];     /* why the last call failed, for ingest_errmsg() */
};

/* Ends IDLE, if on (ingest-idle.c): an enum ingest_result, a failure's
 * reason in IS's err. */
int ingest_idle_leave(struct ingest_session *is);

/* From ingest.c, for its parts. */

/* Logs in and opens the configured mailbox into C (EXAMINE, or SELECT
 * when an after-ingest action is configured): an enum imap_error, the
 * reason in ERR. */
int ingest_connect(const struct ingest_ctx *ctx, struct ingest_connection *c, char *err, size_t errlen);
/* Assesses one message (parse, hash, classify): pure, no store.  When
 * the body was not fetched (OUTCOME says why) RAW holds its header only,
 * or nothing; when it was, it is in SPOOL (>= 0; RAW_SHA256 its hash when
 * already taken, or NULL) or else in RAW.  A borrows from META and RAW,
 * and refers to SPOOL, until it is cleared. */
void ingest_assess_one(const struct ingest_ctx *ctx, uint32_t uidvalidity, const struct imap_meta *meta,
		       GByteArray *raw, int spool, const char *raw_sha256, uint64_t raw_len, enum fetch_outcome outcome,
		       int64_t started, bool unparsed, struct assessment *a);

/* Fetches and records the N messages METAS (ascending UIDs; taken) of the
 * mailbox open in C; the reason in ERR. */
int ingest_record_metas(const struct ingest_ctx *ctx, struct ingest_connection *c, struct imap_meta *metas, size_t n,
			struct ingest_stats *stats, char *err, size_t errlen);
