#include "ingest.h"
#include "actions.h"
#include "attempt.h"
#include "assess.h"
#include "imap.h"
#include "lastrun.h"
#include "mime.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
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
	case IMAP_E_CANCELLED: return INGEST_E_INTERRUPTED;
	default: return INGEST_E_NETWORK;
	}
}

static void emit(const struct ingest_ctx *ctx, const struct ingest_event *ev)
{
	if (ctx->on_event)
		ctx->on_event(ev, ctx->userdata);
}

#define IDLE_RENEW_SECONDS (25 * 60) /* RFC 2177: servers may drop IDLE after 29 minutes */

struct session {
	struct imap *im;
	struct imap_mailbox box;
};

struct ingest_session {
	const struct ingest_ctx *ctx;
	struct session s;
	uint32_t last_uid;
	uint32_t synced_exists; /* the server's EXISTS when the last sync looked for new mail */
	bool idle_unsupported;
	gint64 idle_since;  /* monotonic µs; 0 when not idling */
};

void ingest_imap_options(const struct config *cfg, const char *secret, atomic_int *cancel,
			 struct imap_options *o)
{
	const struct config_imap *c = &cfg->imap;
	*o = (struct imap_options){
		.host = c->host,
		.port = c->port,
		.starttls = c->security == CONFIG_SECURITY_STARTTLS,
		.ca_file = c->ca_file,
		.tls_priority = c->tls_priority,
		.username = c->username,
		.auth = c->auth == CONFIG_AUTH_XOAUTH2 ? IMAP_AUTH_XOAUTH2
			: c->auth == CONFIG_AUTH_PLAIN ? IMAP_AUTH_PLAIN
						       : IMAP_AUTH_LOGIN,
		.password = secret,
		.timeout = c->timeout,
		.command_time = cfg->limits.max_message_time,
		.cancel = cancel,
	};
}

static int session_open(const struct ingest_ctx *ctx, struct session *s, char *err, size_t errlen)
{
	const struct config_imap *c = &ctx->cfg->imap;
	char *secret = NULL, *why = NULL;
	/* The password (or OAuth2 access token, which its helper rewrites
	 * before it expires) is read afresh at every connect and wiped once
	 * the login is over: between connects no copy is in memory. */
	if (config_read_password(ctx->cfg, &secret, &why) < 0) {
		snprintf(err, errlen, "%s", why);
		g_free(why);
		return IMAP_E_AUTH;
	}
	struct imap_options o;
	ingest_imap_options(ctx->cfg, secret, ctx->stop, &o);
	int r = imap_connect(&o, &s->im, &why);
	config_password_free(secret);
	if (r != IMAP_OK) {
		snprintf(err, errlen, "%s", why);
		g_free(why);
		return r;
	}
	r = !(actions_needs(ctx->cfg) & ACTIONS_NEED_MAILBOX) ? imap_examine(s->im, c->mailbox, &s->box)
							      : imap_select(s->im, c->mailbox, &s->box);
	if (r != IMAP_OK) {
		snprintf(err, errlen, "%s", imap_errmsg(s->im));
		imap_free(s->im);
		s->im = NULL;
	}
	return r;
}

static int leave_idle(struct ingest_session *is, char *err, size_t errlen);

enum fetch_outcome {
	FETCHED,
	TOO_LARGE,
	GONE,
};

/* Assesses one message (parse, hash, classify): pure, no store.  When
 * the body was not fetched (OUTCOME says why) RAW holds its header only,
 * or nothing; when it was, it is in SPOOL (>= 0; RAW_SHA256 its hash when
 * already taken, or NULL) or else in RAW.  A borrows from META and RAW,
 * and refers to SPOOL, until it is cleared. */
static void assess_one(const struct ingest_ctx *ctx, uint32_t uidvalidity, const struct imap_meta *meta,
		       GByteArray *raw, int spool, const char *raw_sha256, uint64_t raw_len,
		       enum fetch_outcome outcome, int64_t started, bool unparsed, struct assessment *a)
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
		.body_missing = outcome == FETCHED ? NULL : outcome == GONE ? "gone" : "too-large",
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
struct done {
	enum store_outcome outcome;
	int64_t id;
	uint32_t uid;
	size_t n_attachments;
	char *call, *status, *applicant, *message_id, *flags;
};

/* The recorder's open transaction: at most [store] commit_batch records. */
struct batch {
	bool open;
	size_t n;
	struct done *done; /* [store] commit_batch of them */
};

/* Records an assessed message in the open batch; it is reported when the
 * batch commits.  A failure undoes this record alone. */
static int record_one(const struct ingest_ctx *ctx, const struct imap_meta *meta, struct assessment *a,
		      struct batch *b, char *err, size_t errlen)
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
	b->done[b->n++] = (struct done){
		.outcome = outcome_db, .id = id, .uid = meta->uid, .n_attachments = a->n_atts,
		.call = g_strdup(a->msg.call), .status = g_strdup(a->msg.status),
		.applicant = g_strdup(a->msg.applicant), .message_id = g_strdup(a->msg.message_id),
		.flags = g_strdup(a->msg.flags),
	};
	return INGEST_OK;
}

static void report_one(const struct ingest_ctx *ctx, const struct done *d, struct ingest_stats *stats)
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
		struct store_message m = { .uid = d->uid, .id = d->id, .call = d->call, .status = d->status,
					   .applicant = d->applicant, .message_id = d->message_id, .flags = d->flags };
		struct ingest_event ev = { .kind = INGEST_EVENT_RECORDED, .msg = &m, .n_attachments = d->n_attachments };
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
			snprintf(err, errlen, "cannot record UIDs %u to %u: %s", b->done[0].uid, b->done[b->n - 1].uid,
				 store_errmsg(ctx->store));
		else if (b->n == 1)
			snprintf(err, errlen, "cannot record UID %u: %s", b->done[0].uid, store_errmsg(ctx->store));
		else
			snprintf(err, errlen, "%s", store_errmsg(ctx->store));
		store_rollback(ctx->store);
		result = INGEST_E_STORE;
	}
	for (size_t k = 0; k < b->n; k++) {
		struct done *d = &b->done[k];
		if (result == INGEST_OK)
			report_one(ctx, d, stats);
		g_free(d->call);
		g_free(d->status);
		g_free(d->applicant);
		g_free(d->message_id);
		g_free(d->flags);
	}
	b->n = 0;
	return result;
}

/* The server sent more than it announced and the stream is out of step:
 * a new session on the same mailbox, which must keep its UIDVALIDITY.
 * Runs in the fetcher; the recorder reports the reconnection. */
static int reopen(const struct ingest_ctx *ctx, struct session *s, uint32_t uidvalidity, char *err, size_t errlen)
{
	imap_free(s->im);
	s->im = NULL;
	int r = session_open(ctx, s, err, errlen);
	if (r != IMAP_OK)
		return from_imap(r);
	if (s->box.uidvalidity != uidvalidity) {
		snprintf(err, errlen, "UIDVALIDITY changed during the cycle");
		return INGEST_E_NETWORK;
	}
	return INGEST_OK;
}

/* Opens the session and settles the mailbox's state in the store. */
static int open_mailbox(const struct ingest_ctx *ctx, struct session *s, struct ingest_stats *stats,
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
	if ((r = session_open(ctx, s, err, errlen)) != IMAP_OK)
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

/* Fetching, assessing and recording overlap, in three threads: the
 * fetcher, which alone uses the IMAP session while the cycle lasts,
 * fetches the messages in UID order into slots (a spool file each) and
 * hashes them; the assessor parses and classifies each slot (pure, no
 * store); this thread commits the slots in the same order and hands each
 * one back.  The order of the commits, and so the watermark, is exactly
 * that of the plain loop; the fetcher only runs ahead by [limits] prefetch
 * bytes.  The server is never changed here. */

#define PIPE_SLOTS 16 /* at most this many messages fetched and not yet recorded */

struct slot {
	const struct imap_meta *meta;
	enum fetch_outcome outcome;
	GByteArray *raw;        /* the header of a message not fetched, or the whole
				 * message when it is not spooled */
	int spool;              /* a spool file, or -1 */
	bool spooled;           /* the message is in SPOOL: larger than may be held in memory */
	bool hashed;
	char raw_sha256[65];
	uint64_t raw_len;
	int64_t started;        /* monotonic µs: its fetch began (max_message_time counts from here) */
	char *reconnected;      /* why the session was opened again for it, or NULL */
	struct assessment a;    /* once assessed */
	bool assessed;
	int result;             /* INGEST_OK, or why the fetcher stopped here */
	char err[512];
};

struct pipe {
	const struct ingest_ctx *ctx;
	struct session *s;
	uint32_t uidvalidity;
	const struct imap_meta *metas;
	size_t n;
	/* pthread, not GMutex: GLib's futex locks are invisible to ThreadSanitizer. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t fetched;         /* slots filled, in order … */
	size_t assessed;        /* … assessed … */
	size_t released;        /* … and handed back by the recorder */
	struct attempt *att;    /* the note of the message being parsed (the assessor's) */
	uint64_t held_bytes;    /* of the slots filled and not yet handed back */
	bool quit;              /* the recorder stopped: fetch and assess no more */
	bool fetcher_done;      /* the fetcher thread has returned */
	struct slot slots[PIPE_SLOTS];
};

#define STOP_SLICE_MS 100 /* how often the recorder looks at *stop while it waits */

/* One wait on P's condition, P's lock held.  The recorder passes the
 * fetcher's thread FETCH_TH (others NULL): a stop signal may be handled on
 * any thread, and a condition wait does not end for it, so the recorder
 * waits in slices of STOP_SLICE_MS and looks at *stop after each.  Once
 * it is set, the fetcher is sent stop_signal every slice until it has
 * returned: a signal sent just before it went into poll() would be lost. */
static void wait_once(struct pipe *p, const pthread_t *fetch_th)
{
	const struct ingest_ctx *ctx = p->ctx;
	if (!fetch_th || !ctx->stop || ctx->stop_signal <= 0) {
		pthread_cond_wait(&p->cond, &p->lock);
		return;
	}
	if (*ctx->stop && !p->fetcher_done)
		pthread_kill(*fetch_th, ctx->stop_signal);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += STOP_SLICE_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&p->cond, &p->lock, &until);
}

/* Waits until COUNT (one of P's counters) is past I: false when the
 * recorder stopped the pipeline first (only the recorder sets quit). */
static bool wait_past(struct pipe *p, const size_t *count, size_t i, const pthread_t *fetch_th)
{
	pthread_mutex_lock(&p->lock);
	while (!p->quit && *count <= i)
		wait_once(p, fetch_th);
	bool go = !p->quit;
	pthread_mutex_unlock(&p->lock);
	return go;
}

/* After quit: the fetcher ends after the message it is on, or at once
 * when *stop is set. */
static void join_fetcher(struct pipe *p, pthread_t fetch_th)
{
	pthread_mutex_lock(&p->lock);
	while (!p->fetcher_done)
		wait_once(p, &fetch_th);
	pthread_mutex_unlock(&p->lock);
	pthread_join(fetch_th, NULL);
}

static uint64_t slot_bytes(const struct slot *sl)
{
	return sl->outcome == FETCHED ? sl->raw_len : 0;
}

/* Makes SL ready to receive message META. */
static void slot_reset(struct slot *sl, const struct imap_meta *meta)
{
	sl->meta = meta;
	sl->started = g_get_monotonic_time();
	sl->outcome = FETCHED;
	sl->hashed = false;
	sl->spooled = false;
	sl->raw_len = 0;
	sl->result = INGEST_OK;
	sl->err[0] = '\0';
	g_clear_pointer(&sl->reconnected, g_free);
	g_byte_array_set_size(sl->raw, 0);
}

/* Empties SL's spool file for a new body: false (SL says why) when it refuses. */
static bool spool_reset(struct slot *sl)
{
	if (sl->spool >= 0 && (ftruncate(sl->spool, 0) < 0 || lseek(sl->spool, 0, SEEK_SET) < 0)) {
		snprintf(sl->err, sizeof(sl->err), "cannot reset the message spool: %s", g_strerror(errno));
		sl->result = INGEST_E_STORE;
		return false;
	}
	return true;
}

/* The raw hash here, on the fetcher's side: it overlaps the recording of
 * the message before.  Unreadable spool: assess says so. */
static void slot_hash(struct slot *sl)
{
	if (sl->outcome == FETCHED && sl->spooled) {
		sl->hashed = mime_sha256_fd(sl->spool, &sl->raw_len, sl->raw_sha256) == 0;
	} else if (sl->outcome == FETCHED) {
		mime_sha256_hex(sl->raw->data, sl->raw->len, sl->raw_sha256);
		sl->hashed = true;
		sl->raw_len = sl->raw->len;
	}
}

/* Completes SL after its body fetch ended with R (IMAP_OK when it was
 * not fetched at all, SL's outcome saying why): a body too large gets a
 * new session and the header alone, a lost one nothing. */
static void fetch_finish(struct pipe *p, struct slot *sl, int r)
{
	const struct ingest_ctx *ctx = p->ctx;
	const struct config *cfg = ctx->cfg;
	struct session *s = p->s;
	bool resync = false;

	if (r == IMAP_E_TOO_LARGE) {
		sl->outcome = TOO_LARGE;
		resync = true;
	} else if (r == IMAP_E_GONE) {
		sl->outcome = GONE;
		/* Whatever came was not this message's body. */
		g_byte_array_set_size(sl->raw, 0);
	} else if (r != IMAP_OK) {
		snprintf(sl->err, sizeof(sl->err), "%s", imap_errmsg(s->im));
		sl->result = r == IMAP_E_CANCELLED ? INGEST_E_INTERRUPTED
			     : r == IMAP_E_SPOOL    ? INGEST_E_STORE
						    : from_imap(r);
		return;
	}
	if (resync) {
		sl->reconnected = g_strdup(imap_errmsg(s->im));
		if ((sl->result = reopen(ctx, s, p->uidvalidity, sl->err, sizeof(sl->err))) != INGEST_OK)
			return;
	}
	if (sl->outcome == TOO_LARGE) {
		g_byte_array_set_size(sl->raw, 0);
		r = imap_fetch_header(s->im, sl->meta->uid, cfg->limits.max_header_size, sl->raw);
		if (r == IMAP_E_GONE || r == IMAP_E_TOO_LARGE) {
			g_byte_array_set_size(sl->raw, 0);
			if (r == IMAP_E_TOO_LARGE) {
				g_free(sl->reconnected);
				sl->reconnected = g_strdup(imap_errmsg(s->im));
				if ((sl->result = reopen(ctx, s, p->uidvalidity, sl->err, sizeof(sl->err))) != INGEST_OK)
					return;
			}
		} else if (r != IMAP_OK) {
			snprintf(sl->err, sizeof(sl->err), "%s", imap_errmsg(s->im));
			sl->result = from_imap(r);
			return;
		}
	}
	slot_hash(sl);
}

/* Fills SL with message META alone; runs in the fetcher. */
static void fetch_one(struct pipe *p, struct slot *sl, const struct imap_meta *meta)
{
	const struct config *cfg = p->ctx->cfg;

	slot_reset(sl, meta);
	if (meta->size > cfg->limits.max_message_size) {
		sl->outcome = TOO_LARGE;
		fetch_finish(p, sl, IMAP_OK);
		return;
	}
	/* In memory while it is within its share of the prefetch budget,
	 * else into the spool file when there is one: a large message is
	 * never all in memory. */
	if (!spool_reset(sl))
		return;
	int r = imap_fetch_body_spool(p->s->im, meta->uid, cfg->limits.max_message_size, sl->raw,
				      cfg->limits.prefetch / PIPE_SLOTS, sl->spool, &sl->spooled);
	fetch_finish(p, sl, r);
}

/* Hands the filled slot SL on to the assessor: its RESULT, read before. */
static int publish(struct pipe *p, struct slot *sl)
{
	int result = sl->result; /* read before the slot is passed on */
	pthread_mutex_lock(&p->lock);
	p->fetched++;
	p->held_bytes += slot_bytes(sl);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return result;
}

/* Fills the slot of message I alone: in the fetcher, or in the recorder
 * itself when no thread could be started. */
static int fill_slot(struct pipe *p, size_t i)
{
	struct slot *sl = &p->slots[i % PIPE_SLOTS];
	if (p->ctx->stop && *p->ctx->stop) {
		g_clear_pointer(&sl->reconnected, g_free);
		snprintf(sl->err, sizeof(sl->err), "interrupted");
		sl->result = INGEST_E_INTERRUPTED;
	} else {
		fetch_one(p, sl, &p->metas[i]);
	}
	return publish(p, sl);
}

/* ---- several bodies in one command ----
 * The server answers a command for each message with its own round trip
 * and goes idle in between; for a run of messages, one UID FETCH asks for
 * up to FETCH_RANGE bodies.  Their slots are free before it is sent (the
 * fetcher waits for room for all of them), so each body goes straight
 * into a slot: into the first one not yet filled, moved to its own when
 * its response names another of the run's UIDs.  A body is attributed by
 * the UID in its own response, never by its position; the slots are
 * handed on in UID order as before.  What the command did not deliver
 * (an expunged message, a response out of step, a body too large, …) is
 * asked for again alone, through fetch_one(), which decides what it is. */

#define FETCH_RANGE (PIPE_SLOTS / 2)

struct run {
	struct pipe *p;
	size_t first, k;               /* messages first … first + k - 1 */
	size_t next;                   /* the first not handed on */
	size_t at;                     /* the slot the target points into (run index), k: none */
	bool filled[FETCH_RANGE];
	bool mismatch;                 /* run_done() stopped the command: a response out of step */
	bool spool_failed;             /* run_done() stopped it: a spool file refused (its slot says) */
	struct imap_body_target target;
};

static struct slot *run_slot(struct run *rn, size_t j)
{
	return &rn->p->slots[(rn->first + j) % PIPE_SLOTS];
}

static void swap_store(struct slot *a, struct slot *b)
{
	GByteArray *raw = a->raw;
	int spool = a->spool;
	int64_t started = a->started;
	a->raw = b->raw;
	a->spool = b->spool;
	a->started = b->started;
	b->raw = raw;
	b->spool = spool;
	b->started = started;
}

/* Points the target into the first slot not filled, or at nothing. */
static bool run_aim(struct run *rn)
{
	const struct config_limits *lim = &rn->p->ctx->cfg->limits;
	while (rn->at < rn->k && rn->filled[rn->at])
		rn->at++;
	if (rn->at == rn->k) {
		rn->target = (struct imap_body_target){ .out = NULL, .fd = -1 };
		return true;
	}
	struct slot *sl = run_slot(rn, rn->at);
	sl->started = g_get_monotonic_time();
	g_byte_array_set_size(sl->raw, 0);
	if (!spool_reset(sl))
		return false;
	rn->target = (struct imap_body_target){ .out = sl->raw, .fd = sl->spool, .mem_max = lim->prefetch / PIPE_SLOTS };
	return true;
}

static bool run_done(uint32_t uid, bool body, bool spooled, uint64_t len, void *ud)
{
	struct run *rn = ud;
	(void)len;
	size_t m = rn->at;
	/* The run's UIDs ascend: look from the slot the body went into on. */
	while (m < rn->k && rn->p->metas[rn->first + m].uid != uid)
		m++;
	if (!body || rn->at == rn->k || m == rn->k || rn->filled[m]) {
		rn->mismatch = true; /* not a body of this run, or one already had */
		return false;
	}
	struct slot *got = run_slot(rn, rn->at), *sl = run_slot(rn, m);
	if (m != rn->at)
		swap_store(got, sl);
	sl->outcome = FETCHED;
	sl->spooled = spooled;
	slot_hash(sl);
	rn->filled[m] = true;
	while (rn->next < rn->k && rn->filled[rn->next])
		publish(rn->p, run_slot(rn, rn->next++));
	if (!run_aim(rn)) {
		rn->spool_failed = true;
		return false;
	}
	return true;
}

/* Fetches messages FIRST … FIRST + K - 1, whose slots are free, and hands
 * them on: the number handed on, all K unless the fetcher is to stop
 * (*STOP; the last one handed on says why). */
static size_t fetch_run(struct pipe *p, size_t first, size_t k, bool *stop)
{
	const struct ingest_ctx *ctx = p->ctx;
	struct session *s = p->s;
	uint32_t uids[FETCH_RANGE];
	struct run rn = { .p = p, .first = first, .k = k };

	*stop = false;
	for (size_t j = 0; j < k; j++) {
		slot_reset(run_slot(&rn, j), &p->metas[first + j]);
		uids[j] = p->metas[first + j].uid;
	}
	int r = IMAP_E_SPOOL;
	if (run_aim(&rn))
		r = imap_fetch_bodies(s->im, uids, k, ctx->cfg->limits.max_message_size, &rn.target, run_done, &rn);
	else
		rn.spool_failed = true;
	if (rn.next == k)
		return k;
	struct slot *sl = run_slot(&rn, rn.next);
	if (rn.spool_failed) {
		/* run_aim() wrote why into the slot it was preparing. */
		const struct slot *why = run_slot(&rn, MIN(rn.at, k - 1));
		if (why != sl)
			g_strlcpy(sl->err, why->err, sizeof(sl->err));
		sl->result = INGEST_E_STORE;
		*stop = true;
		publish(p, sl);
		return rn.next + 1;
	}
	if (r != IMAP_OK && r != IMAP_E_TOO_LARGE && !(rn.mismatch && r == IMAP_E_PROTOCOL)) {
		/* Lost, timed out, interrupted, refused: as a fetch of the first
		 * one not handed on would have ended, and the fetcher stops. */
		fetch_finish(p, sl, r);
		*stop = true;
		publish(p, sl);
		return rn.next + 1;
	}
	/* Out of step, too large, or not delivered: a new session when this
	 * one is spent, then the rest alone, in order. */
	if (!imap_usable(s->im)) {
		g_clear_pointer(&sl->reconnected, g_free);
		sl->reconnected = g_strdup(imap_errmsg(s->im));
		if ((sl->result = reopen(ctx, s, p->uidvalidity, sl->err, sizeof(sl->err))) != INGEST_OK) {
			*stop = true;
			publish(p, sl);
			return rn.next + 1;
		}
	}
	for (size_t j = rn.next; j < k; j++) {
		struct slot *sj = run_slot(&rn, j);
		if (!rn.filled[j]) {
			char *why = j == rn.next ? g_steal_pointer(&sj->reconnected) : NULL;
			if (ctx->stop && *ctx->stop) {
				snprintf(sj->err, sizeof(sj->err), "interrupted");
				sj->result = INGEST_E_INTERRUPTED;
			} else {
				fetch_one(p, sj, &p->metas[first + j]);
			}
			if (why && sj->reconnected) {
				char *both = g_strdup_printf("%s; then %s", why, sj->reconnected);
				g_free(sj->reconnected);
				sj->reconnected = both;
			} else if (why) {
				sj->reconnected = g_steal_pointer(&why);
			}
			g_free(why);
		}
		if (publish(p, sj) != INGEST_OK) {
			*stop = true;
			return j + 1;
		}
	}
	return k;
}

/* Assesses the slot of message I: in the assessor, or in the recorder
 * itself when no thread could be started.  A slot the fetcher gave up on
 * is passed on as it is. */
static int assess_slot(struct pipe *p, size_t i)
{
	struct slot *sl = &p->slots[i % PIPE_SLOTS];
	/* Read before the slot is passed on: once recorded, the fetcher may reuse it. */
	int result = sl->result;
	if (result == INGEST_OK) {
		/* A message whose parse killed the process ATTEMPT_MAX times is
		 * recorded unparsed: the daemon gets past it. */
		bool body = sl->outcome == FETCHED;
		unsigned n = body ? attempt_begin(p->att, p->ctx->cfg->imap.mailbox, p->uidvalidity, sl->meta->uid) : 0;
		assess_one(p->ctx, p->uidvalidity, sl->meta, sl->raw, body && sl->spooled ? sl->spool : -1,
			   sl->hashed ? sl->raw_sha256 : NULL, sl->raw_len, sl->outcome, sl->started, n > ATTEMPT_MAX,
			   &sl->a);
		if (body)
			attempt_end(p->att);
		sl->assessed = true;
	}
	pthread_mutex_lock(&p->lock);
	p->assessed++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return result;
}

static void *assessor(void *data)
{
	struct pipe *p = data;
	for (size_t i = 0; i < p->n; i++) {
		if (!wait_past(p, &p->fetched, i, NULL) || assess_slot(p, i) != INGEST_OK)
			break;
	}
	return NULL;
}

static void *fetcher(void *data)
{
	struct pipe *p = data;
	const struct config_limits *lim = &p->ctx->cfg->limits;
	for (size_t i = 0; i < p->n;) {
		const struct imap_meta *meta = &p->metas[i];
		size_t want = MIN((size_t)FETCH_RANGE, p->n - i), k = 1;
		pthread_mutex_lock(&p->lock);
		/* Room for one more: nothing held, or within the prefetch
		 * budget; and, so that a run can be asked for at once, free
		 * slots for WANT. */
		while (!p->quit && p->fetched > p->released &&
		       (PIPE_SLOTS - (p->fetched - p->released) < want ||
			p->held_bytes + MIN(meta->size, lim->max_message_size) > lim->prefetch))
			pthread_cond_wait(&p->cond, &p->lock);
		bool quit = p->quit;
		/* The run: as many as fit in the free slots and the budget,
		 * none too large to be fetched. */
		uint64_t held = p->held_bytes + meta->size;
		size_t free_slots = PIPE_SLOTS - (p->fetched - p->released);
		while (meta->size <= lim->max_message_size && k < want && k < free_slots &&
		       meta[k].size <= lim->max_message_size && held + meta[k].size <= lim->prefetch)
			held += meta[k++].size;
		pthread_mutex_unlock(&p->lock);
		if (quit)
			break;
		/* Alone, and when stopping: fill_slot() hands on the "interrupted". */
		if (k == 1 || (p->ctx->stop && *p->ctx->stop)) {
			if (fill_slot(p, i++) != INGEST_OK)
				break;
			continue;
		}
		bool stop;
		i += fetch_run(p, i, k, &stop);
		if (stop)
			break;
	}
	pthread_mutex_lock(&p->lock);
	p->fetcher_done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Fetches and records the N messages METAS (ascending UIDs; taken). */
static int record_metas(const struct ingest_ctx *ctx, struct session *s, struct imap_meta *metas, size_t n,
			struct ingest_stats *stats, char *err, size_t errlen)
{
	if (n == 0) {
		g_free(metas);
		return INGEST_OK;
	}
	struct pipe *p = g_new0(struct pipe, 1);
	*p = (struct pipe){ .ctx = ctx, .s = s, .uidvalidity = stats->uidvalidity, .metas = metas, .n = n,
			    .att = attempt_open(ctx->cfg->database) };
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t cattr;
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC); /* wait_once()'s slices */
	pthread_cond_init(&p->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	for (size_t k = 0; k < PIPE_SLOTS; k++) {
		p->slots[k].raw = g_byte_array_new();
		/* The spool: an anonymous file in memory that the kernel may
		 * swap, outside the process's own heap.  Without it, memory. */
		p->slots[k].spool = memfd_create("puljed-message", MFD_CLOEXEC);
	}
	pthread_t fetch_th, assess_th;
	bool fetch_threaded = pthread_create(&fetch_th, NULL, fetcher, p) == 0;
	const pthread_t *fetch_ref = fetch_threaded ? &fetch_th : NULL; /* for the recorder's waits */
	if (fetch_threaded)
		pthread_setname_np(fetch_th, "puljed-fetch");
	bool assess_threaded = pthread_create(&assess_th, NULL, assessor, p) == 0;
	if (assess_threaded)
		pthread_setname_np(assess_th, "puljed-assess");

	int result = INGEST_OK;
	struct batch batch = { .done = g_new0(struct done, ctx->cfg->commit_batch) };
	for (size_t i = 0; i < n; i++) {
		/* A stage without its thread runs here, one message at a time. */
		if (!fetch_threaded)
			fill_slot(p, i);
		if (!assess_threaded) {
			wait_past(p, &p->fetched, i, fetch_ref);
			assess_slot(p, i);
		}
		wait_past(p, &p->assessed, i, fetch_ref);
		struct slot *sl = &p->slots[i % PIPE_SLOTS];
		if (sl->reconnected) {
			/* Reported in order: the batch before it first. */
			if ((result = batch_commit(ctx, &batch, stats, err, errlen)) != INGEST_OK)
				break;
			struct ingest_event ev = { .kind = INGEST_EVENT_RECONNECT, .detail = sl->reconnected };
			emit(ctx, &ev);
		}
		if (ctx->stop && *ctx->stop) {
			snprintf(err, errlen, "interrupted");
			result = INGEST_E_INTERRUPTED;
			break;
		}
		if (sl->result != INGEST_OK) {
			snprintf(err, errlen, "%s", sl->err);
			result = sl->result;
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
		result = record_one(ctx, sl->meta, &sl->a, &batch, err, errlen);
		assess_clear(&sl->a);
		sl->assessed = false;
		if (result != INGEST_OK)
			break;
		/* In the transaction: its bytes leave memory now, not when the slot comes round again. */
		if (sl->spooled && ftruncate(sl->spool, 0) < 0) {
			snprintf(err, errlen, "cannot reset the message spool: %s", g_strerror(errno));
			result = INGEST_E_STORE;
			break;
		}
		pthread_mutex_lock(&p->lock);
		p->released++;
		p->held_bytes -= slot_bytes(sl);
		bool next_ready = p->assessed > i + 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
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
	g_free(batch.done);
	/* Stopped early: the fetcher ends after the message it is on, with
	 * the session between commands. */
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (fetch_threaded)
		join_fetcher(p, fetch_th);
	if (assess_threaded)
		pthread_join(assess_th, NULL);

	for (size_t k = 0; k < PIPE_SLOTS; k++) {
		if (p->slots[k].assessed)
			assess_clear(&p->slots[k].a);
		if (p->slots[k].spool >= 0)
			close(p->slots[k].spool);
		g_byte_array_free(p->slots[k].raw, TRUE);
		g_free(p->slots[k].reconnected);
	}
	attempt_close(p->att);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	g_free(p);
	g_free(metas);
	return result;
}

/* Fetches and records every message with a UID above LAST_UID. */
static int fetch_new(const struct ingest_ctx *ctx, struct session *s, uint32_t last_uid, struct ingest_stats *stats,
		     char *err, size_t errlen)
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
	return record_metas(ctx, s, metas, n, stats, err, errlen);
}

/* ---- the gap check ----
 * The cheap half of reconcile, from the daemon: every UID the server has
 * at or below the watermark must have a record.  One that has none (a
 * record lost, a server that once skipped it) is a gap: reported, then
 * fetched and recorded like new mail.  What is still missing after that
 * stays in the store's state for status. */

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

static int check_gaps(const struct ingest_ctx *ctx, struct session *s, uint32_t watermark, struct ingest_stats *stats,
		      char *err, size_t errlen)
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
		r = record_metas(ctx, s, metas, n, &st, err, errlen);
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

/* Whether the gap check is due by the time of the last one in the store. */
static bool gaps_due(const struct ingest_ctx *ctx)
{
	int64_t at = 0;
	if (store_gaps_checked_at(ctx->store, &at) < 0)
		return true;
	int64_t now = (int64_t)time(NULL);
	return at <= 0 || now < at || now - at >= (int64_t)ctx->cfg->gap_check_interval;
}

int ingest_check_gaps(struct ingest_session *is, struct ingest_stats *stats, char *err, size_t errlen)
{
	err[0] = '\0';
	memset(stats, 0, sizeof(*stats));
	stats->uidvalidity = is->s.box.uidvalidity;
	stats->watermark = is->last_uid;
	int r = leave_idle(is, err, errlen);
	if (r == INGEST_OK)
		r = check_gaps(is->ctx, &is->s, is->last_uid, stats, err, errlen);
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
	*(o->done ? &a->stats->actions_done : &a->stats->actions_failed) += o->n;
	struct ingest_event ev = { .kind = o->done ? INGEST_EVENT_ACTIONS_DONE : INGEST_EVENT_ACTIONS_FAILED,
				   .n_actions = o->n, .detail = o->done ? o->target : o->error };
	emit(a->ctx, &ev);
}

/* Carries out every pending action of the mailbox (actions.h): those
 * promised by this sync and any a crash left behind.  A refusal (no such
 * folder, no MOVE/UIDPLUS) leaves them pending, is noted in the store and
 * reported, and does not stop the recording; a lost connection is a
 * network error. */
static int run_actions(const struct ingest_ctx *ctx, struct session *s, struct ingest_stats *stats, char *err,
		       size_t errlen)
{
	struct actions_context c = { .cfg = ctx->cfg, .store = ctx->store, .im = s->im,
				     .mailbox = ctx->cfg->imap.mailbox, .uidvalidity = s->box.uidvalidity,
				     .now = (int64_t)time(NULL) };
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
static int after_sync(const struct ingest_ctx *ctx, struct session *s, int r, struct ingest_stats *stats, char *err,
		      size_t errlen)
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

static int cycle(const struct ingest_ctx *ctx, struct session *s, struct ingest_stats *stats, char *err, size_t errlen)
{
	uint32_t last_uid = 0;
	int r = open_mailbox(ctx, s, stats, &last_uid, err, errlen);
	if (r != INGEST_OK)
		return r;
	/* Nothing new: no work proportional to the mailbox size. */
	if (s->box.exists != 0 && !(s->box.uidnext && s->box.uidnext - 1 <= last_uid))
		r = fetch_new(ctx, s, last_uid, stats, err, errlen);
	/* The gap check, when the last one is [daemon] gap_check_interval ago. */
	if (r == INGEST_OK && gaps_due(ctx))
		r = check_gaps(ctx, s, stats->watermark, stats, err, errlen);
	return after_sync(ctx, s, r, stats, err, errlen);
}

int ingest_cycle(const struct ingest_ctx *ctx, struct ingest_stats *stats, char *err, size_t errlen)
{
	struct session s = { 0 };
	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	int r = cycle(ctx, &s, stats, err, errlen);
	int64_t exists = r == INGEST_OK && s.im ? (int64_t)imap_exists(s.im) : -1;
	if (s.im)
		imap_free(s.im);
	/* Even a store error is noted, if the database still takes this small write. */
	if (r != INGEST_E_INTERRUPTED)
		store_poll_done(ctx->store, (int64_t)time(NULL), r == INGEST_OK ? NULL : err, exists);
	if (r == INGEST_OK)
		attempt_tidy(ctx->cfg->database);
	return r;
}

int ingest_open(const struct ingest_ctx *ctx, struct ingest_session **out, char *err, size_t errlen)
{
	struct ingest_session *is = g_new0(struct ingest_session, 1);
	struct ingest_stats stats = { 0 };
	is->ctx = ctx;
	err[0] = '\0';
	int r = open_mailbox(ctx, &is->s, &stats, &is->last_uid, err, errlen);
	/* Promises a crash left pending are kept before anything new. */
	if (r == INGEST_OK)
		r = run_actions(ctx, &is->s, &stats, err, errlen);
	if (r != INGEST_OK) {
		/* Noted even for a store error, if the database takes this small write. */
		store_poll_done(ctx->store, (int64_t)time(NULL), err, -1);
		ingest_close(is);
		return r;
	}
	*out = is;
	return INGEST_OK;
}

static int leave_idle(struct ingest_session *is, char *err, size_t errlen)
{
	if (!is->idle_since)
		return INGEST_OK;
	is->idle_since = 0;
	int r = imap_idle_done(is->s.im);
	if (r != IMAP_OK) {
		snprintf(err, errlen, "%s", imap_errmsg(is->s.im));
		return from_imap(r);
	}
	return INGEST_OK;
}

int ingest_sync(struct ingest_session *is, struct ingest_stats *stats, char *err, size_t errlen)
{
	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	bool was_idle = is->idle_since != 0;
	int r = leave_idle(is, err, errlen);
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

int ingest_wait(struct ingest_session *is, int ms, char *err, size_t errlen)
{
	if (is->idle_unsupported) {
		/* No IDLE: a plain wait; the poll interval finds new mail. */
		struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };
		nanosleep(&d, NULL);
		return is->ctx->stop && *is->ctx->stop ? INGEST_E_INTERRUPTED : 0;
	}
	if (is->idle_since && g_get_monotonic_time() - is->idle_since > (gint64)IDLE_RENEW_SECONDS * G_USEC_PER_SEC) {
		int r = leave_idle(is, err, errlen);
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
			return ingest_wait(is, ms, err, errlen);
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

void ingest_close(struct ingest_session *is)
{
	if (!is)
		return;
	if (is->s.im)
		imap_free(is->s.im);
	g_free(is);
}
