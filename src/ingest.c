#include "ingest.h"
#include "account.h"
#include "actions.h"
#include "assess.h"
#include "attempt.h"
#include "imap.h"
#include "ingest-gaps.h"
#include "ingest-pipeline.h"
#include "lastrun.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int ingest_connect(const struct ingest_ctx *ctx, struct ingest_connection *c, char *err, size_t errlen)
{
	g_autofree char *error = NULL;
	enum account_open how = actions_needs(ctx->cfg) & ACTIONS_NEED_MAILBOX ? ACCOUNT_SELECT : ACCOUNT_EXAMINE;
	int r = account_connect(ctx->cfg, how, ctx->stop, &c->im, &c->box, &error);
	if (r == IMAP_OK)
		return IMAP_OK;
	snprintf(err, errlen, "%s", error);
	return r == ACCOUNT_E_SECRET ? IMAP_E_AUTH : r;
}

void ingest_assess_one(const struct ingest_ctx *ctx, uint32_t uidvalidity, const struct imap_meta *meta,
		       GByteArray *raw, int spool, const char *raw_sha256, uint64_t raw_len, enum fetch_outcome outcome,
		       int64_t started, bool unparsed, struct assessment *a)
{
	struct assess_input in = {
		.mailbox = ctx->cfg->imap.mailbox,
		.uidvalidity = uidvalidity,
		.uid = meta->uid,
		.has_arrival = meta->has_internaldate,
		.arrival = meta->internaldate,
		.internaldate = meta->has_internaldate ? meta->internaldate_raw : NULL,
		.server_size = meta->size,
		.raw = raw,
		.spooled = spool >= 0,
		.raw_fd = spool,
		.raw_sha256 = raw_sha256,
		.raw_len = raw_len,
		.body_missing = outcome == FETCHED ? NULL
				: outcome == GONE  ? "gone"
						   : "too-large",
		.trust = ctx->trust,
		.now = (int64_t)time(NULL),
		.clock = g_get_monotonic_time,
		.started = started,
		.stop = ctx->stop,
		.unparsed = unparsed,
	};
	lastrun_phase("parsing and classifying a message (MIME, attachments, signatures)");
	assess_message(ctx->cfg, &in, a);
	/* Promised in the record's own transaction (actions.h). */
	actions_promise(ctx->cfg, &a->msg, outcome == FETCHED);
}

/* A message recorded in the open batch, reported once the batch is
 * committed: what the report needs, copied out of its assessment. */
struct batched_record {
	enum store_outcome outcome;
	int64_t id, duplicate_of;
	uint32_t uid;
	size_t n_attachments;
	char *call, *applicant, *message_id, *flags;
	enum rules_status status;
};

/* The recorder's open transaction: at most [store] commit_batch records. */
struct batch {
	bool open;
	size_t n;
	struct batched_record *recs; /* [store] commit_batch of them */
};

/* Records an assessed message in the open batch; it is reported when the
 * batch commits.  A failure undoes this record alone. */
static int record_one(const struct ingest_ctx *ctx, const struct imap_meta *meta, struct assessment *a, struct batch *b,
		      char *err, size_t errlen)
{
	int64_t id = 0;
	enum store_outcome outcome_db = STORE_EXISTED;
	a->msg.recorded_at = (int64_t)time(NULL);
	lastrun_phase("recording a message in the database");
	int r = store_record(ctx->store, &a->msg, a->atts, a->n_atts, &id, &outcome_db);
	if (r < 0) {
		snprintf(err, errlen, "cannot record UID %u: %s", meta->uid, store_errmsg(ctx->store));
		return INGEST_E_STORE;
	}
	b->recs[b->n++] = (struct batched_record){
		.outcome = outcome_db,
		.id = id,
		.uid = meta->uid,
		.n_attachments = a->n_atts,
		.duplicate_of = store_last_duplicate_of(ctx->store),
		.call = g_strdup(a->msg.call),
		.status = a->msg.status,
		.applicant = g_strdup(a->msg.applicant),
		.message_id = g_strdup(a->msg.message_id),
		.flags = g_strdup(a->msg.flags),
	};
	return INGEST_OK;
}

static void report_one(const struct ingest_ctx *ctx, const struct batched_record *d, struct ingest_stats *stats)
{
	/* A gap below the watermark, fetched late, does not move it back. */
	stats->watermark = MAX(stats->watermark, d->uid);
	if (d->outcome == STORE_REKEYED) {
		stats->rekeyed++;
		struct ingest_event ev = { .kind = INGEST_EVENT_REKEYED, .record = d->id, .uid = d->uid };
		emit(ctx, &ev);
	} else if (d->outcome == STORE_INSERTED) {
		stats->recorded++;
		if (d->flags)
			stats->flagged++;
		struct store_message m = { .uid = d->uid,
					   .id = d->id,
					   .call = d->call,
					   .status = d->status,
					   .applicant = d->applicant,
					   .message_id = d->message_id,
					   .flags = d->flags,
					   .duplicate_of = d->duplicate_of };
		struct ingest_event ev = { .kind = INGEST_EVENT_RECORDED,
					   .msg = &m,
					   .n_attachments = d->n_attachments };
		emit(ctx, &ev);
	}
}

/* Commits the open batch, if any, and only then reports its records and
 * moves the watermark in STATS; when the commit fails, none of them was
 * recorded (the next cycle fetches them again). */
static int batch_commit(const struct ingest_ctx *ctx, struct batch *b, struct ingest_stats *stats, char *err,
			size_t errlen)
{
	if (!b->open)
		return INGEST_OK;
	b->open = false;
	int result = INGEST_OK;
	if (store_commit(ctx->store) < 0) {
		if (b->n > 1)
			snprintf(err, errlen, "cannot record UIDs %u to %u: %s", b->recs[0].uid, b->recs[b->n - 1].uid,
				 store_errmsg(ctx->store));
		else if (b->n == 1)
			snprintf(err, errlen, "cannot record UID %u: %s", b->recs[0].uid, store_errmsg(ctx->store));
		else
			snprintf(err, errlen, "%s", store_errmsg(ctx->store));
		store_rollback(ctx->store);
		result = INGEST_E_STORE;
	}
	for (size_t k = 0; k < b->n; k++) {
		struct batched_record *d = &b->recs[k];
		if (result == INGEST_OK)
			report_one(ctx, d, stats);
		g_free(d->call);
		g_free(d->applicant);
		g_free(d->message_id);
		g_free(d->flags);
	}
	b->n = 0;
	return result;
}

/* Opens the session and settles the mailbox's state in the store. */
static int open_mailbox(const struct ingest_ctx *ctx, struct ingest_connection *s, struct ingest_stats *stats,
			uint32_t *last_uid, char *err, size_t errlen)
{
	const struct config *cfg = ctx->cfg;
	uint32_t uidvalidity = 0;
	int r;

	/* Before the server is changed, every commit must be on the disk. */
	if (store_set_durable(ctx->store, actions_enabled(cfg)) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(ctx->store));
		return INGEST_E_STORE;
	}
	if ((r = ingest_connect(ctx, s, err, errlen)) != IMAP_OK)
		return from_imap(r);
	stats->uidvalidity = s->box.uidvalidity;
	stats->server_exists = s->box.exists;
	r = store_mailbox_get(ctx->store, cfg->imap.mailbox, &uidvalidity, last_uid);
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
		*last_uid = 0;
	}
	stats->watermark = *last_uid;
	return INGEST_OK;
}

/* Fetches and records the N messages METAS (ascending UIDs; taken),
 * through the pipeline (ingest-pipeline.h): this thread is the recorder,
 * committing in UID order. */
int ingest_record_metas(const struct ingest_ctx *ctx, struct ingest_connection *s, struct imap_meta *metas, size_t n,
			struct ingest_stats *stats, char *err, size_t errlen)
{
	if (n == 0) {
		g_free(metas);
		return INGEST_OK;
	}
	struct ingest_pipeline *p = ingest_pipeline_start(ctx, s, stats->uidvalidity, metas, n);
	int result = INGEST_OK;
	struct batch batch = { .recs = g_new0(struct batched_record, ctx->cfg->commit_batch) };
	for (size_t i = 0; i < n; i++) {
		struct ingest_fetched m = ingest_pipeline_next(p, i);
		if (m.reconnected) {
			/* Reported in order: the batch before it first. */
			if ((result = batch_commit(ctx, &batch, stats, err, errlen)) != INGEST_OK)
				break;
			struct ingest_event ev = { .kind = INGEST_EVENT_RECONNECT, .detail = m.reconnected };
			emit(ctx, &ev);
		}
		if (ctx->stop && *ctx->stop) {
			snprintf(err, errlen, "interrupted");
			result = INGEST_E_INTERRUPTED;
			break;
		}
		if (m.result != INGEST_OK) {
			snprintf(err, errlen, "%s", m.error);
			result = m.result;
			break;
		}
		if (!batch.open) {
			if (store_begin(ctx->store) < 0) {
				snprintf(err, errlen, "%s", store_errmsg(ctx->store));
				result = INGEST_E_STORE;
				break;
			}
			batch.open = true;
		}
		if ((result = record_one(ctx, m.meta, m.a, &batch, err, errlen)) != INGEST_OK)
			break;
		bool next_ready = false;
		if ((result = ingest_pipeline_release(p, i, &next_ready)) != INGEST_OK) {
			snprintf(err, errlen, "%s", ingest_pipeline_errmsg(p));
			break;
		}
		/* Group commit: while the next message is ready, it joins the
		 * batch; the recorder never waits with a batch open. */
		if ((!next_ready || batch.n >= ctx->cfg->commit_batch) &&
		    (result = batch_commit(ctx, &batch, stats, err, errlen)) != INGEST_OK)
			break;
	}
	/* However the loop ended, what the batch holds was recorded whole. */
	char cerr[512];
	int cr = batch_commit(ctx, &batch, stats, cerr, sizeof(cerr));
	if (cr != INGEST_OK && result == INGEST_OK) {
		snprintf(err, errlen, "%s", cerr);
		result = cr;
	}
	g_free(batch.recs);
	ingest_pipeline_stop(p);
	g_free(metas);
	return result;
}

/* Fetches and records every message with a UID above LAST_UID. */
static int fetch_new(const struct ingest_ctx *ctx, struct ingest_connection *s, uint32_t last_uid,
		     struct ingest_stats *stats, char *err, size_t errlen)
{
	struct imap_meta *metas = NULL;
	size_t n = 0;
	int r;

	stats->watermark = last_uid;
	if ((r = imap_fetch_meta(s->im, last_uid + 1, &metas, &n)) != IMAP_OK) {
		snprintf(err, errlen, "%s", imap_errmsg(s->im));
		return r == IMAP_E_CANCELLED ? INGEST_E_INTERRUPTED : from_imap(r);
	}
	stats->seen = n;
	return ingest_record_metas(ctx, s, metas, n, stats, err, errlen);
}

int ingest_check_gaps(struct ingest_session *is, struct ingest_stats *stats)
{
	is->err[0] = '\0';
	memset(stats, 0, sizeof(*stats));
	stats->uidvalidity = is->s.box.uidvalidity;
	stats->watermark = is->last_uid;
	int r = ingest_idle_leave(is);
	if (r == INGEST_OK)
		r = ingest_gaps_check(is->ctx, &is->s, is->last_uid, stats, is->err, sizeof(is->err));
	return r;
}

/* Where the outcome of an action batch goes. */
struct acting {
	const struct ingest_ctx *ctx;
	struct ingest_stats *stats;
};

static void on_action(const struct actions_outcome *o, void *userdata)
{
	struct acting *a = userdata;
	if (o->how) {
		a->stats->settled[o->how->state]++;
		struct ingest_event ev = { .kind = INGEST_EVENT_ACTION_SETTLED,
					   .record = o->record,
					   .action_kind = o->kind->name,
					   .how = o->how };
		emit(a->ctx, &ev);
		return;
	}
	*(o->done ? &a->stats->actions_done : &a->stats->actions_failed) += o->n;
	struct ingest_event ev = { .kind = o->done ? INGEST_EVENT_ACTIONS_DONE : INGEST_EVENT_ACTIONS_FAILED,
				   .n_actions = o->n,
				   .detail = o->done ? o->target : o->error };
	emit(a->ctx, &ev);
}

static int64_t unix_now(void)
{
	return (int64_t)time(NULL);
}

/* Carries out every pending action of the mailbox (actions.h): those
 * promised by this sync and any a crash left behind.  A refusal (no such
 * folder, no MOVE/UIDPLUS) leaves them pending, is noted in the store and
 * reported, and does not stop the recording; a lost connection is a
 * network error. */
static int run_actions(const struct ingest_ctx *ctx, struct ingest_connection *s, struct ingest_stats *stats, char *err,
		       size_t errlen)
{
	struct actions_context c = { .cfg = ctx->cfg,
				     .store = ctx->store,
				     .im = s->im,
				     .mailbox = ctx->cfg->imap.mailbox,
				     .uidvalidity = s->box.uidvalidity,
				     .now = (int64_t)time(NULL),
				     .clock = unix_now,
				     .cancel = ctx->stop,
				     .ret_wait_until = &stats->actions_wait_until };
	struct acting a = { ctx, stats };
	int r = actions_run(&c, on_action, &a);
	if (r == ACTIONS_OK)
		return INGEST_OK;
	if (r == ACTIONS_E_STORE) {
		snprintf(err, errlen, "%s", store_errmsg(ctx->store));
		return INGEST_E_STORE;
	}
	if (r == IMAP_E_CANCELLED)
		return INGEST_E_INTERRUPTED;
	snprintf(err, errlen, "%s", imap_errmsg(s->im));
	return from_imap(r);
}

/* After a sync whose result is R: whatever was committed gets its server
 * action, even after a failed fetch.  The sync's own error comes first. */
static int after_sync(const struct ingest_ctx *ctx, struct ingest_connection *s, int r, struct ingest_stats *stats,
		      char *err, size_t errlen)
{
	if (!s->im || !imap_usable(s->im) || r == INGEST_E_INTERRUPTED)
		return r;
	char aerr[512] = "";
	int ar = run_actions(ctx, s, stats, aerr, sizeof(aerr));
	if (r == INGEST_OK && ar != INGEST_OK) {
		snprintf(err, errlen, "%s", aerr);
		r = ar;
	}
	return r;
}

static int cycle(const struct ingest_ctx *ctx, struct ingest_connection *s, struct ingest_stats *stats, char *err,
		 size_t errlen)
{
	uint32_t last_uid = 0;
	int r = open_mailbox(ctx, s, stats, &last_uid, err, errlen);
	if (r != INGEST_OK)
		return r;
	/* Nothing new: no work proportional to the mailbox size. */
	if (s->box.exists != 0 && !(s->box.uidnext && s->box.uidnext - 1 <= last_uid))
		r = fetch_new(ctx, s, last_uid, stats, err, errlen);
	/* The gap check, when the last one is [daemon] gap_check_interval ago. */
	if (r == INGEST_OK && ingest_gaps_due(ctx))
		r = ingest_gaps_check(ctx, s, stats->watermark, stats, err, errlen);
	return after_sync(ctx, s, r, stats, err, errlen);
}

int ingest_cycle(const struct ingest_ctx *ctx, struct ingest_stats *stats, char **ret_error)
{
	struct ingest_connection s = { 0 };
	char err[600] = "";
	memset(stats, 0, sizeof(*stats));
	int r = cycle(ctx, &s, stats, err, sizeof(err));
	int64_t exists = r == INGEST_OK && s.im ? (int64_t)imap_exists(s.im) : -1;
	if (s.im)
		imap_free(s.im);
	/* Even a store error is noted, if the database still takes this small write. */
	if (r != INGEST_E_INTERRUPTED)
		store_poll_done(ctx->store, (int64_t)time(NULL), r == INGEST_OK ? NULL : err, exists);
	if (r == INGEST_OK)
		attempt_tidy(ctx->cfg->database);
	else
		*ret_error = g_strdup(err);
	return r;
}

int ingest_open(const struct ingest_ctx *ctx, struct ingest_session **ret_session, char **ret_error)
{
	g_autoptr(ingest_session) is = g_new0(struct ingest_session, 1);
	struct ingest_stats stats = { 0 };
	is->ctx = ctx;
	int r = open_mailbox(ctx, &is->s, &stats, &is->last_uid, is->err, sizeof(is->err));
	/* Promises a crash left pending are kept before anything new. */
	if (r == INGEST_OK)
		r = run_actions(ctx, &is->s, &stats, is->err, sizeof(is->err));
	if (r != INGEST_OK) {
		/* Noted even for a store error, if the database takes this small write. */
		store_poll_done(ctx->store, (int64_t)time(NULL), is->err, -1);
		*ret_error = g_strdup(is->err);
		return r;
	}
	*ret_session = g_steal_pointer(&is);
	return INGEST_OK;
}

int ingest_sync(struct ingest_session *is, struct ingest_stats *stats)
{
	char *err = is->err;
	size_t errlen = sizeof(is->err);
	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	bool was_idle = is->idle_since != 0;
	int r = ingest_idle_leave(is);
	/* Without IDLE's updates, NOOP collects the server's EXISTS. */
	if (r == INGEST_OK && !was_idle && (r = imap_noop(is->s.im)) != IMAP_OK) {
		snprintf(err, errlen, "%s", imap_errmsg(is->s.im));
		r = from_imap(r);
	}
	stats->server_exists = imap_exists(is->s.im);
	is->synced_exists = stats->server_exists;
	if (r == INGEST_OK && stats->server_exists == 0) {
		stats->uidvalidity = is->s.box.uidvalidity;
		stats->watermark = is->last_uid;
	} else if (r == INGEST_OK) {
		stats->uidvalidity = is->s.box.uidvalidity;
		r = fetch_new(is->ctx, &is->s, is->last_uid, stats, err, errlen);
		is->last_uid = stats->watermark;
	}
	r = after_sync(is->ctx, &is->s, r, stats, err, errlen);
	if (r != INGEST_E_INTERRUPTED)
		store_poll_done(is->ctx->store, (int64_t)time(NULL), r == INGEST_OK ? NULL : err,
				r == INGEST_OK ? (int64_t)imap_exists(is->s.im) : -1);
	if (r == INGEST_OK)
		attempt_tidy(is->ctx->cfg->database);
	return r;
}

void ingest_close(struct ingest_session *is)
{
	if (!is)
		return;
	if (is->s.im)
		imap_free(is->s.im);
	g_free(is);
}

const char *ingest_errmsg(const struct ingest_session *is)
{
	return is->err;
}
