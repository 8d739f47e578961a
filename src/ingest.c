#include "ingest.h"
#include "datetime.h"
#include "imap.h"
#include "mime.h"
#include "rules.h"

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

static char *reasons_json(const struct rules_result *res, const char *extra)
{
	GString *s = g_string_new("[");
	for (size_t i = 0; i < res->n_reasons; i++) {
		if (i)
			g_string_append_c(s, ',');
		g_string_append_printf(s, "\"%s\"", res->reasons[i]); /* our own ASCII tokens */
	}
	if (extra)
		g_string_append_printf(s, "%s\"%s\"", res->n_reasons ? "," : "", extra);
	g_string_append_c(s, ']');
	return g_string_free(s, FALSE);
}

enum fetch_outcome {
	FETCHED,
	TOO_LARGE,
	GONE,
};

/* Parses, classifies and records one message.  When the body was not
 * fetched (OUTCOME says why) RAW holds its header only, or nothing. */
static int record_one(const struct ingest_ctx *ctx, const struct imap_mailbox *box, const struct imap_meta *meta,
		      GByteArray *raw, enum fetch_outcome outcome, struct ingest_stats *stats, char *err, size_t errlen)
{
	const struct config *cfg = ctx->cfg;
	struct mime_message *mm = NULL;
	struct mime_limits lim = { cfg->limits.max_mime_depth, cfg->limits.max_mime_parts };
	char raw_sha[65] = "";
	unsigned in_flags = 0;
	g_autofree char *flags = NULL;

	if (outcome == FETCHED) {
		mime_parse(raw, &lim, &mm);
		mime_sha256_hex(raw->data, raw->len, raw_sha);
		flags = mime_flags_describe(mm->flags);
		if (mm->flags)
			in_flags |= RULES_IN_BROKEN;
	} else {
		/* Subject, From, Date and Message-ID from the header alone, so
		 * that an application over the size limit still shows as one. */
		if (raw->len > 0) {
			mime_parse(raw, &lim, &mm);
			mm->n_attachments = 0;
		}
		in_flags |= RULES_IN_TOO_LARGE;
		flags = g_strdup(outcome == GONE ? "gone" : "too-large");
	}

	struct rules_call *calls = g_new0(struct rules_call, cfg->n_calls);
	for (size_t i = 0; i < cfg->n_calls; i++)
		calls[i] = (struct rules_call){ cfg->calls[i].id, cfg->calls[i].subject, cfg->calls[i].deadline_last };
	struct rules_input in = {
		.subject = mm ? mm->subject : NULL,
		.has_arrival = meta->has_internaldate,
		.arrival = meta->internaldate,
		.n_attachments = mm ? mm->n_attachments : 0,
		.flags = in_flags,
	};
	struct rules_result res;
	rules_classify(calls, cfg->n_calls, &in, &res);
	g_free(calls);

	const struct config_call *call = res.call >= 0 ? &cfg->calls[res.call] : &cfg->calls[0];
	g_autofree char *received_at = meta->has_internaldate ? datetime_format(meta->internaldate, call->tz) : NULL;
	g_autofree char *date_header = mm && mm->has_date ? datetime_format(mm->date, call->tz) : NULL;
	g_autofree char *reasons = reasons_json(&res, outcome == GONE ? "fetch:gone" : NULL);

	struct store_message m = {
		.mailbox = cfg->imap.mailbox,
		.uidvalidity = box->uidvalidity,
		.uid = meta->uid,
		.recorded_at = (int64_t)time(NULL),
		.has_received = meta->has_internaldate,
		.received_epoch = meta->internaldate,
		.received_at = received_at,
		.internaldate = meta->has_internaldate ? meta->internaldate_raw : NULL,
		.server_size = meta->size,
		.raw = outcome == FETCHED ? raw->data : NULL,
		.raw_size = outcome == FETCHED ? raw->len : 0,
		.raw_sha256 = outcome == FETCHED ? raw_sha : NULL,
		.message_id = mm ? mm->message_id : NULL,
		.from_addr = mm ? mm->from_addr : NULL,
		.from_name = mm ? mm->from_name : NULL,
		.subject = mm ? mm->subject : NULL,
		.date_header = date_header,
		.call = res.call >= 0 ? call->id : NULL,
		.applicant = res.applicant,
		.on_time = res.on_time,
		.status = rules_status_name(res.status),
		.reasons = reasons,
		.flags = flags,
	};
	size_t n_atts = mm ? mm->n_attachments : 0;
	struct store_attachment_in *atts = g_new0(struct store_attachment_in, n_atts ? n_atts : 1);
	for (size_t i = 0; i < n_atts; i++) {
		const struct mime_attachment *a = &mm->attachments[i];
		atts[i] = (struct store_attachment_in){ a->filename, a->content_type, a->part_path,
							a->data, a->size, a->sha256 };
	}
	int64_t id = 0;
	bool inserted = false;
	int r = store_record(ctx->store, &m, atts, n_atts, &id, &inserted);
	g_free(atts);
	if (r < 0) {
		snprintf(err, errlen, "cannot record UID %u: %s", meta->uid, store_errmsg(ctx->store));
		rules_result_clear(&res);
		mime_message_free(mm);
		return INGEST_E_STORE;
	}
	stats->watermark = meta->uid;
	if (inserted) {
		stats->recorded++;
		if (flags)
			stats->flagged++;
		m.id = id;
		struct ingest_event ev = { .kind = INGEST_EVENT_RECORDED, .msg = &m, .n_attachments = n_atts };
		emit(ctx, &ev);
	}
	rules_result_clear(&res);
	mime_message_free(mm);
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
