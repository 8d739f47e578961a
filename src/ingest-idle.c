/* ingest-idle: the daemon's wait between polls, IMAP IDLE (ingest_wait()). */
#include "ingest-internal.h"

#include <stdio.h>
#include <time.h>

#define IDLE_RENEW_SECONDS (25 * 60) /* RFC 2177: servers may drop IDLE after 29 minutes */

int ingest_idle_leave(struct ingest_session *is)
{
	if (!is->idle_since)
		return INGEST_OK;
	is->idle_since = 0;
	int r = imap_idle_done(is->s.im);
	if (r != IMAP_OK) {
		snprintf(is->err, sizeof(is->err), "%s", imap_errmsg(is->s.im));
		return from_imap(r);
	}
	return INGEST_OK;
}

int ingest_wait(struct ingest_session *is, int ms)
{
	char *err = is->err;
	size_t errlen = sizeof(is->err);
	if (is->idle_unsupported) {
		/* No IDLE: a plain wait; the poll interval finds new mail. */
		struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };
		nanosleep(&d, NULL);
		return is->ctx->stop && *is->ctx->stop ? INGEST_E_INTERRUPTED : 0;
	}
	if (is->idle_since && g_get_monotonic_time() - is->idle_since > (gint64)IDLE_RENEW_SECONDS * G_USEC_PER_SEC) {
		int r = ingest_idle_leave(is);
		if (r != INGEST_OK)
			return r;
	}
	if (!is->idle_since) {
		/* Something came after the last response: sync (its NOOP reads
		 * it) rather than send IDLE behind it. */
		if (imap_pending(is->s.im))
			return 1;
		int r = imap_idle_start(is->s.im);
		if (r == IMAP_E_UNSUPPORTED) {
			is->idle_unsupported = true;
			return ingest_wait(is, ms);
		}
		if (r != IMAP_OK) {
			snprintf(err, errlen, "%s", imap_errmsg(is->s.im));
			return r == IMAP_E_CANCELLED ? INGEST_E_INTERRUPTED : from_imap(r);
		}
		is->idle_since = g_get_monotonic_time();
	}
	/* An EXISTS that came with the sync's own responses (mail arriving
	 * while it fetched) or before IDLE's continuation is not announced
	 * again in IDLE: sync now rather than wait for the next poll. */
	if (imap_exists(is->s.im) != is->synced_exists)
		return 1;
	int r = imap_idle_wait(is->s.im, ms);
	if (r == IMAP_E_CANCELLED)
		return INGEST_E_INTERRUPTED;
	if (r < 0) {
		snprintf(err, errlen, "%s", imap_errmsg(is->s.im));
		return from_imap(r);
	}
	return r; /* 1: the server spoke (EXISTS, EXPUNGE …): sync */
}
