/* ingest-pipeline: fetching, assessing and recording overlap, in three
 * threads.  The fetcher, which alone uses the IMAP session while the
 * pipeline runs, fetches the messages in UID order into slots (a spool
 * file each) and hashes them; the assessor parses and classifies each
 * slot (pure, no store); the caller (the recorder) takes the slots in the
 * same order with ingest_pipeline_next(), commits them and hands each
 * one back with ingest_pipeline_release().  The order of the commits, and
 * so the watermark, is exactly that of a plain loop; the fetcher only
 * runs ahead by [limits] prefetch bytes.  The server is never changed
 * here.  Private to the ingest library: ingest.c is its only user. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest-internal.h"

struct ingest_pipeline;

/* Message I as the pipeline hands it to the recorder. */
struct ingest_fetched {
	const struct imap_meta *meta;
	struct assessment *a;    /* assessed, when RESULT is INGEST_OK */
	const char *reconnected; /* why the session was opened again for it, or NULL */
	int result;              /* INGEST_OK, or why the fetcher stopped here … */
	const char *error;       /* … and the one-line reason */
};

/* Starts fetching and assessing the N messages METAS (ascending UIDs;
 * borrowed until ingest_pipeline_stop()) over C, whose mailbox has
 * UIDVALIDITY.  Where a thread cannot be started, its stage runs in
 * ingest_pipeline_next(). */
struct ingest_pipeline *ingest_pipeline_start(const struct ingest_ctx *ctx, struct ingest_connection *c,
					      uint32_t uidvalidity, const struct imap_meta *metas, size_t n);
/* Waits until message I (0, 1, … in turn) is fetched and assessed; what
 * it returns is valid until the message is released or the pipeline
 * stopped.  While it waits, a set *stop is passed on to the fetcher
 * thread as the context's stop_signal. */
struct ingest_fetched ingest_pipeline_next(struct ingest_pipeline *p, size_t i);
/* Hands message I, recorded, back: its slot is free for the fetcher.
 * *RET_NEXT_READY says whether message I + 1 is assessed already.
 * INGEST_E_STORE (ingest_pipeline_errmsg() says why) when its spool file
 * cannot be emptied. */
int ingest_pipeline_release(struct ingest_pipeline *p, size_t i, bool *ret_next_ready);
const char *ingest_pipeline_errmsg(const struct ingest_pipeline *p);
/* Stops fetching and assessing (the fetcher ends after the message it is
 * on, at once when *stop is set), joins the threads, frees P. */
void ingest_pipeline_stop(struct ingest_pipeline *p);
