#include "ingest.h"
#include "assess.h"
#include "imap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int from_imap(int r)
{
	switch (r) {
	case IMAP_OK: return INGEST_OK;
	case IMAP_E_CERTIFICATE:
	case IMAP_E_TLS:
	case IMAP_E_STARTTLS: return INGEST_E_TLS;
	case IMAP_E_AUTH: return INGEST_E_AUTH;
	default: return INGEST_E_NETWORK;
	}
}

static void emit(const struct ingest_ctx *ctx, const struct ingest_event *ev)
{
	if (ctx->on_event)
		ctx->on_event(ev, ctx->userdata);
}

struct session {
	struct imap *im;
	struct imap_mailbox box;
};

static int session_open(const struct ingest_ctx *ctx, struct session *s, char *err, size_t errlen)
{
	const struct config_imap *c = &ctx->cfg->imap;
	struct imap_options o = {
		.host = c->host,
		.port = c->port,
		.starttls = c->security == CONFIG_SECURITY_STARTTLS,
		.ca_file = c->ca_file,
		.username = c->username,
		.password = ctx->password,
		.timeout = c->timeout,
	};
	int r = imap_connect(&o, &s->im, err, errlen);
	if (r != IMAP_OK)
		return r;
	r = imap_examine(s->im, c->mailbox, &s->box);
	if (r != IMAP_OK) {
		snprintf(err, errlen, "%s", imap_errmsg(s->im));
		imap_free(s->im);
		s->im = NULL;
	}
	return r;
}

enum fetch_outcome {
	FETCHED,
	TOO_LARGE,
	GONE,
};

/* Assesses and records one message.  When the body was not fetched
 * (OUTCOME says why) RAW holds its header only, or nothing. */
static int record_one(const struct ingest_ctx *ctx, const struct imap_mailbox *box, const struct imap_meta *meta,
		      GByteArray *raw, enum fetch_outcome outcome, struct ingest_stats *stats, char *err, size_t errlen)
{
	struct assess_input in = {
		.mailbox = ctx->cfg->imap.mailbox,
		.uidvalidity = box->uidvalidity,
		.uid = meta->uid,
		.has_arrival = meta->has_internaldate,
		.arrival = meta->internaldate,
		.internaldate = meta->has_internaldate ? meta->internaldate_raw : NULL,
		.server_size = meta->size,
		.raw = raw,
		.body_missing = outcome == FETCHED ? NULL : outcome == GONE ? "gone" : "too-large",
		.trust = ctx->trust,
	};
	struct assessment a;
	assess_message(ctx->cfg, &in, &a);
	int64_t id = 0;
	bool inserted = false;
	int r = store_record(ctx->store, &a.msg, a.atts, a.n_atts, &id, &inserted);
	if (r < 0) {
		snprintf(err, errlen, "cannot record UID %u: %s", meta->uid, store_errmsg(ctx->store));
		assess_clear(&a);
		return INGEST_E_STORE;
	}
	stats->watermark = meta->uid;
	if (inserted) {
		stats->recorded++;
		if (a.msg.flags)
			stats->flagged++;
		a.msg.id = id;
		struct ingest_event ev = { .kind = INGEST_EVENT_RECORDED, .msg = &a.msg, .n_attachments = a.n_atts };
		emit(ctx, &ev);
	}
	assess_clear(&a);
	return INGEST_OK;
}

/* The server sent more than it announced and the stream is out of step:
 * a new session on the same mailbox, which must keep its UIDVALIDITY. */
static int reopen(const struct ingest_ctx *ctx, struct session *s, const struct ingest_stats *stats,
		  char *err, size_t errlen)
{
	struct ingest_event ev = { .kind = INGEST_EVENT_RECONNECT, .detail = imap_errmsg(s->im) };
	emit(ctx, &ev);
	imap_free(s->im);
	s->im = NULL;
	int r = session_open(ctx, s, err, errlen);
	if (r != IMAP_OK)
		return from_imap(r);
	if (s->box.uidvalidity != stats->uidvalidity) {
		snprintf(err, errlen, "UIDVALIDITY changed during the cycle");
		return INGEST_E_NETWORK;
	}
	return INGEST_OK;
}

static int cycle(const struct ingest_ctx *ctx, struct session *s, struct ingest_stats *stats, char *err, size_t errlen)
{
	const struct config *cfg = ctx->cfg;
	uint32_t uidvalidity = 0, last_uid = 0;
	int r;

	if ((r = session_open(ctx, s, err, errlen)) != IMAP_OK)
		return from_imap(r);
	stats->uidvalidity = s->box.uidvalidity;
	stats->server_exists = s->box.exists;

	r = store_mailbox_get(ctx->store, cfg->imap.mailbox, &uidvalidity, &last_uid);
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errlen, "%s", store_errmsg(ctx->store));
		return INGEST_E_STORE;
	}
	if (r == -ENOENT || uidvalidity != s->box.uidvalidity) {
		if (r == 0) {
			struct ingest_event ev = { .kind = INGEST_EVENT_UIDVALIDITY_CHANGED,
						   .old_uidvalidity = uidvalidity,
						   .new_uidvalidity = s->box.uidvalidity };
			emit(ctx, &ev);
		}
		if (store_mailbox_reset(ctx->store, cfg->imap.mailbox, s->box.uidvalidity) < 0) {
			snprintf(err, errlen, "%s", store_errmsg(ctx->store));
			return INGEST_E_STORE;
		}
		last_uid = 0;
	}
	stats->watermark = last_uid;
	/* Nothing new: no work proportional to the mailbox size. */
	if (s->box.exists == 0 || (s->box.uidnext && s->box.uidnext - 1 <= last_uid))
		return INGEST_OK;

	struct imap_meta *metas = NULL;
	size_t n = 0;
	if ((r = imap_fetch_meta(s->im, last_uid + 1, &metas, &n)) != IMAP_OK) {
		snprintf(err, errlen, "%s", imap_errmsg(s->im));
		return from_imap(r);
	}
	stats->seen = n;
	GByteArray *raw = g_byte_array_new();
	int result = INGEST_OK;
	for (size_t i = 0; i < n; i++) {
		if (ctx->stop && *ctx->stop) {
			snprintf(err, errlen, "interrupted");
			result = INGEST_E_INTERRUPTED;
			break;
		}
		const struct imap_meta *meta = &metas[i];
		enum fetch_outcome outcome = FETCHED;
		bool resync = false;
		g_byte_array_set_size(raw, 0);
		if (meta->size > cfg->limits.max_message_size) {
			outcome = TOO_LARGE;
		} else {
			r = imap_fetch_body(s->im, meta->uid, cfg->limits.max_message_size, raw);
			if (r == IMAP_E_TOO_LARGE) {
				outcome = TOO_LARGE;
				resync = true;
			} else if (r == IMAP_E_GONE) {
				outcome = GONE;
			} else if (r != IMAP_OK) {
				snprintf(err, errlen, "%s", imap_errmsg(s->im));
				result = from_imap(r);
				break;
			}
		}
		if (resync && (result = reopen(ctx, s, stats, err, errlen)) != INGEST_OK)
			break;
		if (outcome == TOO_LARGE) {
			g_byte_array_set_size(raw, 0);
			r = imap_fetch_header(s->im, meta->uid, cfg->limits.max_header_size, raw);
			if (r == IMAP_E_GONE || r == IMAP_E_TOO_LARGE) {
				g_byte_array_set_size(raw, 0);
				if (r == IMAP_E_TOO_LARGE && (result = reopen(ctx, s, stats, err, errlen)) != INGEST_OK)
					break;
			} else if (r != IMAP_OK) {
				snprintf(err, errlen, "%s", imap_errmsg(s->im));
				result = from_imap(r);
				break;
			}
		}
		result = record_one(ctx, &s->box, meta, raw, outcome, stats, err, errlen);
		if (result != INGEST_OK)
			break;
	}
	g_byte_array_free(raw, TRUE);
	g_free(metas);
	return result;
}

int ingest_cycle(const struct ingest_ctx *ctx, struct ingest_stats *stats, char *err, size_t errlen)
{
	struct session s = { 0 };
	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	int r = cycle(ctx, &s, stats, err, errlen);
	if (s.im)
		imap_free(s.im);
	if (r != INGEST_E_STORE && r != INGEST_E_INTERRUPTED)
		store_poll_done(ctx->store, (int64_t)time(NULL), r == INGEST_OK ? NULL : err);
	return r;
}
