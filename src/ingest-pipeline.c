#include "ingest-pipeline.h"
#include "attempt.h"
#include "mime.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PIPE_SLOTS 16 /* at most this many messages fetched and not yet recorded */

struct slot {
	const struct imap_meta *meta;
	enum fetch_outcome outcome;
	GByteArray *raw; /* the header of a message not fetched, or the whole
				 * message when it is not spooled */
	int spool;       /* a spool file, or -1 */
	bool spooled;    /* the message is in SPOOL: larger than may be held in memory */
	bool hashed;
	char raw_sha256[65];
	uint64_t raw_len;
	int64_t started;     /* monotonic µs: its fetch began (max_message_time counts from here) */
	char *reconnected;   /* why the session was opened again for it, or NULL */
	struct assessment a; /* once assessed */
	bool assessed;
	int result; /* INGEST_OK, or why the fetcher stopped here */
	char err[512];
};

struct ingest_pipeline {
	const struct ingest_ctx *ctx;
	struct ingest_connection *s;
	uint32_t uidvalidity;
	const struct imap_meta *metas;
	size_t n;
	/* pthread, not GMutex: GLib's futex locks are invisible to ThreadSanitizer. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t fetched;      /* slots filled, in order … */
	size_t assessed;     /* … assessed … */
	size_t released;     /* … and handed back by the recorder */
	struct attempt *att; /* the note of the message being parsed (the assessor's) */
	uint64_t held_bytes; /* of the slots filled and not yet handed back */
	bool quit;           /* the recorder stopped: fetch and assess no more */
	bool fetcher_done;   /* the fetcher thread has returned */
	struct slot slots[PIPE_SLOTS];
	/* A stage without its thread runs in the recorder, one message at a time. */
	bool fetch_threaded, assess_threaded;
	pthread_t fetch_th, assess_th;
	char err[512]; /* why ingest_pipeline_release() failed */
};

#define STOP_SLICE_MS 100 /* how often the recorder looks at *stop while it waits */

/* One wait on P's condition, P's lock held.  The recorder passes the
 * fetcher's thread FETCH_TH (others NULL): a stop signal may be handled on
 * any thread, and a condition wait does not end for it, so the recorder
 * waits in slices of STOP_SLICE_MS and looks at *stop after each.  Once
 * it is set, the fetcher is sent stop_signal every slice until it has
 * returned: a signal sent just before it went into poll() would be lost. */
static void wait_once(struct ingest_pipeline *p, const pthread_t *fetch_th)
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
static bool wait_past(struct ingest_pipeline *p, const size_t *count, size_t i, const pthread_t *fetch_th)
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
static void join_fetcher(struct ingest_pipeline *p, pthread_t fetch_th)
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

/* The server sent more than it announced and the stream is out of step:
 * a new session on the same mailbox, which must keep its UIDVALIDITY.
 * Runs in the fetcher; the recorder reports the reconnection. */
static int reopen(const struct ingest_ctx *ctx, struct ingest_connection *s, uint32_t uidvalidity, char *err,
		  size_t errlen)
{
	imap_free(s->im);
	s->im = NULL;
	int r = ingest_connect(ctx, s, err, errlen);
	if (r != IMAP_OK)
		return from_imap(r);
	if (s->box.uidvalidity != uidvalidity) {
		snprintf(err, errlen, "UIDVALIDITY changed during the cycle");
		return INGEST_E_NETWORK;
	}
	return INGEST_OK;
}

/* Completes SL after its body fetch ended with R (IMAP_OK when it was
 * not fetched at all, SL's outcome saying why): a body too large gets a
 * new session and the header alone, a lost one nothing. */
static void fetch_finish(struct ingest_pipeline *p, struct slot *sl, int r)
{
	const struct ingest_ctx *ctx = p->ctx;
	const struct config *cfg = ctx->cfg;
	struct ingest_connection *s = p->s;
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
			     : r == IMAP_E_SPOOL   ? INGEST_E_STORE
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
				if ((sl->result = reopen(ctx, s, p->uidvalidity, sl->err, sizeof(sl->err))) !=
				    INGEST_OK)
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
static void fetch_one(struct ingest_pipeline *p, struct slot *sl, const struct imap_meta *meta)
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
static int publish(struct ingest_pipeline *p, struct slot *sl)
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
static int fill_slot(struct ingest_pipeline *p, size_t i)
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

/* One UID FETCH of several bodies into consecutive slots. */
struct range_fetch {
	struct ingest_pipeline *p;
	size_t first, k; /* messages first … first + k - 1 */
	size_t next;     /* the first not handed on */
	size_t at;       /* the slot the target points into (run index), k: none */
	bool filled[FETCH_RANGE];
	bool mismatch;     /* range_body_done() stopped the command: a response out of step */
	bool spool_failed; /* range_body_done() stopped it: a spool file refused (its slot says) */
	struct imap_body_target target;
};

static struct slot *range_slot(struct range_fetch *rf, size_t j)
{
	return &rf->p->slots[(rf->first + j) % PIPE_SLOTS];
}

/* Exchanges the storage (buffer, spool file) and start times of A and B:
 * the body that went into A is B's. */
static void swap_storage(struct slot *a, struct slot *b)
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
static bool range_aim(struct range_fetch *rf)
{
	const struct config_limits *lim = &rf->p->ctx->cfg->limits;
	while (rf->at < rf->k && rf->filled[rf->at])
		rf->at++;
	if (rf->at == rf->k) {
		rf->target = (struct imap_body_target){ .out = NULL, .fd = -1 };
		return true;
	}
	struct slot *sl = range_slot(rf, rf->at);
	sl->started = g_get_monotonic_time();
	g_byte_array_set_size(sl->raw, 0);
	if (!spool_reset(sl))
		return false;
	rf->target =
		(struct imap_body_target){ .out = sl->raw, .fd = sl->spool, .mem_max = lim->prefetch / PIPE_SLOTS };
	return true;
}

static bool range_body_done(uint32_t uid, bool body, bool spooled, uint64_t len, void *ud)
{
	struct range_fetch *rf = ud;
	(void)len;
	size_t m = rf->at;
	/* The run's UIDs ascend: look from the slot the body went into on. */
	while (m < rf->k && rf->p->metas[rf->first + m].uid != uid)
		m++;
	if (!body || rf->at == rf->k || m == rf->k || rf->filled[m]) {
		rf->mismatch = true; /* not a body of this run, or one already had */
		return false;
	}
	struct slot *got = range_slot(rf, rf->at), *sl = range_slot(rf, m);
	if (m != rf->at)
		swap_storage(got, sl);
	sl->outcome = FETCHED;
	sl->spooled = spooled;
	slot_hash(sl);
	rf->filled[m] = true;
	while (rf->next < rf->k && rf->filled[rf->next])
		publish(rf->p, range_slot(rf, rf->next++));
	if (!range_aim(rf)) {
		rf->spool_failed = true;
		return false;
	}
	return true;
}

/* Fetches messages FIRST … FIRST + K - 1, whose slots are free, and hands
 * them on: the number handed on, all K unless the fetcher is to stop
 * (*STOP; the last one handed on says why). */
static size_t fetch_range(struct ingest_pipeline *p, size_t first, size_t k, bool *stop)
{
	const struct ingest_ctx *ctx = p->ctx;
	struct ingest_connection *s = p->s;
	uint32_t uids[FETCH_RANGE];
	struct range_fetch rf = { .p = p, .first = first, .k = k };

	*stop = false;
	for (size_t j = 0; j < k; j++) {
		slot_reset(range_slot(&rf, j), &p->metas[first + j]);
		uids[j] = p->metas[first + j].uid;
	}
	int r = IMAP_E_SPOOL;
	if (range_aim(&rf))
		r = imap_fetch_bodies(s->im, uids, k, ctx->cfg->limits.max_message_size, &rf.target, range_body_done,
				      &rf);
	else
		rf.spool_failed = true;
	if (rf.next == k)
		return k;
	struct slot *sl = range_slot(&rf, rf.next);
	if (rf.spool_failed) {
		/* range_aim() wrote why into the slot it was preparing. */
		const struct slot *why = range_slot(&rf, MIN(rf.at, k - 1));
		if (why != sl)
			g_strlcpy(sl->err, why->err, sizeof(sl->err));
		sl->result = INGEST_E_STORE;
		*stop = true;
		publish(p, sl);
		return rf.next + 1;
	}
	if (r != IMAP_OK && r != IMAP_E_TOO_LARGE && !(rf.mismatch && r == IMAP_E_PROTOCOL)) {
		/* Lost, timed out, interrupted, refused: as a fetch of the first
		 * one not handed on would have ended, and the fetcher stops. */
		fetch_finish(p, sl, r);
		*stop = true;
		publish(p, sl);
		return rf.next + 1;
	}
	/* Out of step, too large, or not delivered: a new session when this
	 * one is spent, then the rest alone, in order. */
	if (!imap_usable(s->im)) {
		g_clear_pointer(&sl->reconnected, g_free);
		sl->reconnected = g_strdup(imap_errmsg(s->im));
		if ((sl->result = reopen(ctx, s, p->uidvalidity, sl->err, sizeof(sl->err))) != INGEST_OK) {
			*stop = true;
			publish(p, sl);
			return rf.next + 1;
		}
	}
	for (size_t j = rf.next; j < k; j++) {
		struct slot *sj = range_slot(&rf, j);
		if (!rf.filled[j]) {
			char *why = j == rf.next ? g_steal_pointer(&sj->reconnected) : NULL;
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
static int assess_slot(struct ingest_pipeline *p, size_t i)
{
	struct slot *sl = &p->slots[i % PIPE_SLOTS];
	/* Read before the slot is passed on: once recorded, the fetcher may reuse it. */
	int result = sl->result;
	if (result == INGEST_OK) {
		/* A message whose parse killed the process ATTEMPT_MAX times is
		 * recorded unparsed: the daemon gets past it. */
		bool body = sl->outcome == FETCHED;
		unsigned n = body ? attempt_begin(p->att, p->ctx->cfg->imap.mailbox, p->uidvalidity, sl->meta->uid) : 0;
		ingest_assess_one(p->ctx, p->uidvalidity, sl->meta, sl->raw, body && sl->spooled ? sl->spool : -1,
				  sl->hashed ? sl->raw_sha256 : NULL, sl->raw_len, sl->outcome, sl->started,
				  n > ATTEMPT_MAX, &sl->a);
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
	struct ingest_pipeline *p = data;
	for (size_t i = 0; i < p->n; i++) {
		if (!wait_past(p, &p->fetched, i, NULL) || assess_slot(p, i) != INGEST_OK)
			break;
	}
	return NULL;
}

static void *fetcher(void *data)
{
	struct ingest_pipeline *p = data;
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
		i += fetch_range(p, i, k, &stop);
		if (stop)
			break;
	}
	pthread_mutex_lock(&p->lock);
	p->fetcher_done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct ingest_pipeline *ingest_pipeline_start(const struct ingest_ctx *ctx, struct ingest_connection *s,
					      uint32_t uidvalidity, const struct imap_meta *metas, size_t n)
{
	struct ingest_pipeline *p = g_new0(struct ingest_pipeline, 1);
	*p = (struct ingest_pipeline){ .ctx = ctx,
				       .s = s,
				       .uidvalidity = uidvalidity,
				       .metas = metas,
				       .n = n,
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
	p->fetch_threaded = pthread_create(&p->fetch_th, NULL, fetcher, p) == 0;
	if (p->fetch_threaded)
		pthread_setname_np(p->fetch_th, "puljed-fetch");
	p->assess_threaded = pthread_create(&p->assess_th, NULL, assessor, p) == 0;
	if (p->assess_threaded)
		pthread_setname_np(p->assess_th, "puljed-assess");
	return p;
}

struct ingest_fetched ingest_pipeline_next(struct ingest_pipeline *p, size_t i)
{
	const pthread_t *fetch_ref = p->fetch_threaded ? &p->fetch_th : NULL; /* for the recorder's waits */
	if (!p->fetch_threaded)
		fill_slot(p, i);
	if (!p->assess_threaded) {
		wait_past(p, &p->fetched, i, fetch_ref);
		assess_slot(p, i);
	}
	wait_past(p, &p->assessed, i, fetch_ref);
	struct slot *sl = &p->slots[i % PIPE_SLOTS];
	return (struct ingest_fetched){ .meta = sl->meta,
					.a = &sl->a,
					.reconnected = sl->reconnected,
					.result = sl->result,
					.error = sl->err };
}

int ingest_pipeline_release(struct ingest_pipeline *p, size_t i, bool *ret_next_ready)
{
	struct slot *sl = &p->slots[i % PIPE_SLOTS];
	assess_clear(&sl->a);
	sl->assessed = false;
	/* In the transaction: its bytes leave memory now, not when the slot comes round again. */
	if (sl->spooled && ftruncate(sl->spool, 0) < 0) {
		snprintf(p->err, sizeof(p->err), "cannot reset the message spool: %s", g_strerror(errno));
		return INGEST_E_STORE;
	}
	pthread_mutex_lock(&p->lock);
	p->released++;
	p->held_bytes -= slot_bytes(sl);
	*ret_next_ready = p->assessed > i + 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return INGEST_OK;
}

const char *ingest_pipeline_errmsg(const struct ingest_pipeline *p)
{
	return p->err;
}

void ingest_pipeline_stop(struct ingest_pipeline *p)
{
	if (!p)
		return;
	/* Stopped early: the fetcher ends after the message it is on, with
	 * the session between commands. */
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->fetch_threaded)
		join_fetcher(p, p->fetch_th);
	if (p->assess_threaded)
		pthread_join(p->assess_th, NULL);

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
}
