#include "ingest-gaps.h"

#include <stdio.h>
#include <time.h>

#define GAP_UIDS_NOTED 20 /* the first UIDs of what is left, for status */

/* The UIDs of SERVER[0..NS) at or below WATERMARK that RECORDED[0..NR)
 * (both ascending) lacks, into OUT (NS long): how many. */
static size_t find_gaps(const uint32_t *server, size_t ns, const uint32_t *recorded, size_t nr, uint32_t watermark,
			uint32_t *out)
{
	size_t k = 0, j = 0;
	for (size_t i = 0; i < ns && server[i] <= watermark; i++) {
		while (j < nr && recorded[j] < server[i])
			j++;
		if (j == nr || recorded[j] != server[i])
			out[k++] = server[i];
	}
	return k;
}

static int gaps_now(const struct ingest_ctx *ctx, uint32_t uidvalidity, const uint32_t *server, size_t ns,
		    uint32_t watermark, uint32_t *out, size_t *n, char *err, size_t errlen)
{
	g_autofree uint32_t *recorded = NULL;
	size_t nr = 0;
	if (store_recorded_uids(ctx->store, ctx->cfg->imap.mailbox, uidvalidity, &recorded, &nr) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(ctx->store));
		return INGEST_E_STORE;
	}
	*n = find_gaps(server, ns, recorded, nr, watermark, out);
	return INGEST_OK;
}

static char *uid_list(const uint32_t *uids, size_t n, size_t most)
{
	GString *g = g_string_new(NULL);
	for (size_t i = 0; i < n && i < most; i++)
		g_string_append_printf(g, "%s%u", i ? " " : "", uids[i]);
	if (n > most)
		g_string_append_printf(g, " … (%zu more)", n - most);
	return g_string_free(g, FALSE);
}

int ingest_gaps_check(const struct ingest_ctx *ctx, struct ingest_connection *s, uint32_t watermark,
		      struct ingest_stats *stats, char *err, size_t errlen)
{
	g_autofree uint32_t *server = NULL, *found = NULL;
	g_autofree char *left = NULL;
	size_t ns = 0, nfound = 0, nleft = 0;
	uint32_t uidvalidity = s->box.uidvalidity;
	int r;

	if ((r = imap_search_all(s->im, &server, &ns)) != IMAP_OK)
		goto imap_error;
	found = g_new(uint32_t, ns + 1);
	if ((r = gaps_now(ctx, uidvalidity, server, ns, watermark, found, &nfound, err, errlen)) != INGEST_OK)
		return r;
	stats->gaps_found = nfound;
	if (nfound) {
		g_autofree char *list = uid_list(found, nfound, GAP_UIDS_NOTED);
		struct ingest_event ev = { .kind = INGEST_EVENT_GAPS_FOUND, .n_actions = nfound, .detail = list };
		emit(ctx, &ev);
		struct imap_meta *metas = NULL;
		size_t n = 0;
		r = imap_fetch_meta_uids(s->im, found, nfound, &metas, &n);
		if (r != IMAP_OK)
			goto imap_error;
		struct ingest_stats st = { .uidvalidity = uidvalidity, .watermark = watermark };
		r = ingest_record_metas(ctx, s, metas, n, &st, err, errlen);
		stats->gaps_recorded = st.recorded + st.rekeyed;
		stats->recorded += st.recorded;
		stats->rekeyed += st.rekeyed;
		stats->flagged += st.flagged;
		if (r != INGEST_OK)
			return r;
		/* What the store still lacks: one expunged meanwhile is no gap. */
		g_clear_pointer(&server, g_free);
		if ((r = imap_search_all(s->im, &server, &ns)) != IMAP_OK)
			goto imap_error;
		g_free(found);
		found = g_new(uint32_t, ns + 1);
		if ((r = gaps_now(ctx, uidvalidity, server, ns, watermark, found, &nleft, err, errlen)) != INGEST_OK)
			return r;
	}
	stats->gaps_left = nleft;
	stats->gaps_checked = true;
	if (nleft) {
		left = uid_list(found, nleft, GAP_UIDS_NOTED);
		struct ingest_event ev = { .kind = INGEST_EVENT_GAPS_LEFT, .n_actions = nleft, .detail = left };
		emit(ctx, &ev);
	}
	if (store_gaps_noted(ctx->store, (int64_t)time(NULL), (int64_t)nleft, left) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(ctx->store));
		return INGEST_E_STORE;
	}
	return INGEST_OK;
imap_error:
	snprintf(err, errlen, "%s", imap_errmsg(s->im));
	return r == IMAP_E_CANCELLED ? INGEST_E_INTERRUPTED : from_imap(r);
}

bool ingest_gaps_due(const struct ingest_ctx *ctx)
{
	int64_t at = 0;
	if (store_gaps_checked_at(ctx->store, &at) < 0)
		return true;
	int64_t now = (int64_t)time(NULL);
	return at <= 0 || now < at || now - at >= (int64_t)ctx->cfg->gap_check_interval;
}
