#include "daemon.h"
#include "actions.h"
#include "cms.h"
#include "config.h"
#include "ingest.h"
#include "lastrun.h"
#include "log.h"
#include "receipt.h"
#include "record.h"
#include "sign.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

/* journald MESSAGE_IDs, one per event kind (systemd/puljed.catalog). */
#define MSGID_STARTED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a01"
#define MSGID_STOPPED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a02"
#define MSGID_RECORDED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a03"
#define MSGID_POLL_FAILED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a04"
#define MSGID_LOGIN_FAILED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a05"
#define MSGID_UIDVALIDITY "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a06"
#define MSGID_CONFIG_REJECTED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a07"
#define MSGID_ACTION_FAILED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a08"
#define MSGID_GAPS "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a20"
#define MSGID_CRASHED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a09"
#define MSGID_RECEIPT_SENT "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a30"
#define MSGID_RECEIPT_DEFERRED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a31"
#define MSGID_RECEIPT_FAILED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a32"
#define MSGID_RECEIPT_SKIPPED "5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a33"

/* Atomic, not volatile sig_atomic_t: the ingest's fetcher thread reads
 * stop_requested while the handler may set it on the main thread, and
 * only a lock-free atomic is both a race-free shared flag and safe to set
 * from a signal handler. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flags are set from a signal handler");
static atomic_int stop_requested;
static atomic_int reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking read or sleep returns EINTR at once. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* One daemon per database: an exclusive flock on a lock file beside it
 * (SQLite's own locks are POSIX locks and do not interact). */
static int take_lock(const char *db, int *fd_out)
{
	g_autofree char *path = g_strconcat(db, ".lock", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		int r = -errno;
		log_error("cannot open lock file %s: %s", path, g_strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK)
			log_error("another puljed is already running on %s (lock %s is held)", db, path);
		else
			log_error("cannot lock %s: %s", path, g_strerror(e));
		close(fd);
		return -e;
	}
	*fd_out = fd;
	return 0;
}

static char *field(const char *name, const char *value)
{
	g_autofree char *v = g_strdup(value ? value : "");
	for (char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return g_strconcat(name, "=", v, NULL);
}

/* One receipt (or another one-by-one action) settled: its own MESSAGE_ID
 * per outcome, the record and the recipient as fields. */
static void log_settled(const struct ingest_event *ev)
{
	static const char *const ids[] = {
		[STORE_ACTION_PENDING] = "MESSAGE_ID=" MSGID_RECEIPT_DEFERRED,
		[STORE_ACTION_DONE] = "MESSAGE_ID=" MSGID_RECEIPT_SENT,
		[STORE_ACTION_FAILED] = "MESSAGE_ID=" MSGID_RECEIPT_FAILED,
		[STORE_ACTION_SKIPPED] = "MESSAGE_ID=" MSGID_RECEIPT_SKIPPED,
	};
	static const int levels[] = { LOG_WARNING, LOG_INFO, LOG_ERR, LOG_INFO };
	const struct store_action_settlement *how = ev->how;
	g_autofree char *rec = g_strdup_printf("PULJED_RECORD=%" G_GINT64_FORMAT, ev->record);
	/* A field without a value is left out, not sent empty. */
	g_autofree char *to = how->target ? field("PULJED_RECEIPT_TO", how->target) : NULL;
	g_autofree char *mid = how->detail ? field("PULJED_RECEIPT_MESSAGE_ID", how->detail) : NULL;
	g_autofree char *why = how->why ? field("PULJED_RECEIPT_RULE", how->why) : NULL;
	const char *fields[6] = { ids[how->state], rec };
	size_t n = 2;
	if (to)
		fields[n++] = to;
	if (mid)
		fields[n++] = mid;
	if (why)
		fields[n++] = why;
	const char *kind = ev->action_kind ? ev->action_kind : "action";
	switch (how->state) {
	case STORE_ACTION_DONE:
		log_fields(levels[how->state], fields, "%s for #%" G_GINT64_FORMAT " sent to %s: %s", kind, ev->record,
			   how->target ? how->target : "?", how->detail ? how->detail : "");
		break;
	case STORE_ACTION_PENDING:
		log_fields(levels[how->state], fields, "%s for #%" G_GINT64_FORMAT " not sent, kept pending: %s", kind,
			   ev->record, how->error ? how->error : "?");
		break;
	case STORE_ACTION_FAILED:
		log_fields(levels[how->state], fields, "%s for #%" G_GINT64_FORMAT " failed%s%s: %s", kind, ev->record,
			   how->target ? " to " : "", how->target ? how->target : "", how->error ? how->error : "?");
		break;
	case STORE_ACTION_SKIPPED:
		log_fields(levels[how->state], fields, "%s for #%" G_GINT64_FORMAT " skipped: %s", kind, ev->record,
			   how->error ? how->error
			   : how->why ? how->why
				      : "?");
		break;
	}
}

static void on_event(const struct ingest_event *ev, void *userdata)
{
	switch (ev->kind) {
	case INGEST_EVENT_RECORDED: {
		const struct store_message *m = ev->msg;
		g_autofree char *uid = g_strdup_printf("PULJED_UID=%u", m->uid);
		g_autofree char *id = g_strdup_printf("PULJED_RECORD=%" G_GINT64_FORMAT, m->id);
		g_autofree char *call = field("PULJED_CALL", m->call);
		g_autofree char *status = field("PULJED_STATUS", record_status_name(m->status));
		g_autofree char *app = field("PULJED_APPLICANT", m->applicant);
		g_autofree char *mid = field("PULJED_MESSAGE_ID", m->message_id);
		g_autofree char *dup =
			m->duplicate_of ? g_strdup_printf("PULJED_DUPLICATE_OF=%" G_GINT64_FORMAT, m->duplicate_of)
					: NULL;
		g_autofree char *dup_text =
			m->duplicate_of ? g_strdup_printf(", duplicate of #%" G_GINT64_FORMAT, m->duplicate_of) : NULL;
		const char *fields[] = { "MESSAGE_ID=" MSGID_RECORDED, uid, id, call, status, app, mid, dup, NULL };
		log_fields(m->flags ? LOG_WARNING : LOG_INFO, fields,
			   "recorded UID %u as #%" G_GINT64_FORMAT ": %s%s%s%s, %zu attachment(s)%s%s", m->uid, m->id,
			   record_status_name(m->status), m->applicant ? " — " : "", m->applicant ? m->applicant : "",
			   dup_text ? dup_text : "", ev->n_attachments, m->flags ? ", flagged: " : "",
			   m->flags ? m->flags : "");
		break;
	}
	case INGEST_EVENT_UIDVALIDITY_CHANGED:
		log_fields(LOG_WARNING, (const char *const[]){ "MESSAGE_ID=" MSGID_UIDVALIDITY, NULL },
			   "UIDVALIDITY changed from %u to %u: the mailbox was recreated; fetching it again "
			   "(messages already recorded keep their record, re-keyed to their new UID)",
			   ev->old_uidvalidity, ev->new_uidvalidity);
		break;
	case INGEST_EVENT_RECONNECT:
		log_warning("%s; reconnecting", ev->detail);
		break;
	case INGEST_EVENT_REKEYED:
		log_info("UID %u is the message of record #%" G_GINT64_FORMAT
			 " (recorded before the mailbox was "
			 "recreated): re-keyed, not recorded again",
			 ev->uid, ev->record);
		break;
	case INGEST_EVENT_ACTIONS_DONE:
		log_info("after-ingest action done on %zu message(s): %s", ev->n_actions, ev->detail);
		break;
	case INGEST_EVENT_GAPS_FOUND:
		log_fields(LOG_WARNING, (const char *const[]){ "MESSAGE_ID=" MSGID_GAPS, NULL },
			   "gap check: %zu message(s) on the server at or below the watermark have no record "
			   "(UIDs %s); fetching them now",
			   ev->n_actions, ev->detail);
		break;
	case INGEST_EVENT_GAPS_LEFT:
		log_fields(LOG_ERR, (const char *const[]){ "MESSAGE_ID=" MSGID_GAPS, NULL },
			   "gap check: %zu message(s) on the server at or below the watermark still have no record "
			   "(UIDs %s); see \"puljectl reconcile\"",
			   ev->n_actions, ev->detail);
		break;
	case INGEST_EVENT_ACTION_SETTLED:
		log_settled(ev);
		break;
	case INGEST_EVENT_ACTIONS_FAILED:
		log_fields(LOG_WARNING, (const char *const[]){ "MESSAGE_ID=" MSGID_ACTION_FAILED, NULL },
			   "after-ingest action on %zu recorded message(s) not done, kept pending: %s", ev->n_actions,
			   ev->detail);
		break;
	}
}

static int exit_code(int r)
{
	switch (r) {
	case INGEST_OK:
	case INGEST_E_INTERRUPTED:
		return DAEMON_EXIT_OK;
	case INGEST_E_NETWORK:
		return DAEMON_EXIT_NETWORK;
	case INGEST_E_TLS:
		return DAEMON_EXIT_TLS;
	case INGEST_E_AUTH:
		return DAEMON_EXIT_AUTH;
	default:
		return DAEMON_EXIT_FAILURE;
	}
}

/* ---- the service loop ---- */

#define BACKOFF_FIRST 2 /* seconds after the first network failure */
#define BACKOFF_MAX 300
#define BACKOFF_AUTH_FIRST 120 /* a refused login: never hammer (account lockout) */
#define BACKOFF_AUTH_MAX 3600
#define CRASH_BACKOFF_FIRST 10 /* after an unclean end, before connecting; doubles per crash in a row */
#define CRASH_BACKOFF_MAX 1800

struct service {
	const char *path;
	struct config **cfg;
	struct store *store;
	struct cms_trust *trust;
	uint64_t watchdog_usec; /* 0: no watchdog */
	unsigned backoff;       /* seconds of the last wait, 0 after success */
};

static void watchdog_ping(const struct service *sv)
{
	if (sv->watchdog_usec)
		sd_notify(0, "WATCHDOG=1");
}

static void on_event_ping(const struct ingest_event *ev, void *userdata)
{
	on_event(ev, NULL);
	watchdog_ping(userdata); /* each recorded message is progress */
}

/* The next wait after a failure: doubling, capped, with ±20 % jitter so
 * that many daemons do not reconnect in step. */
static unsigned next_backoff(struct service *sv, bool auth)
{
	unsigned first = auth ? BACKOFF_AUTH_FIRST : BACKOFF_FIRST;
	unsigned max = auth ? BACKOFF_AUTH_MAX : BACKOFF_MAX;
	unsigned b = sv->backoff ? MIN(sv->backoff * 2, max) : first;
	if (auth && b < first)
		b = first;
	sv->backoff = b;
	unsigned jitter = b / 5;
	return jitter ? b - jitter + (unsigned)g_random_int_range(0, (gint32)(2 * jitter + 1)) : b;
}

/* Sleeps SECONDS in slices, pinging the watchdog; false when a stop or
 * reload was requested. */
static bool wait_seconds(const struct service *sv, unsigned seconds)
{
	gint64 end = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	while (!stop_requested && !reload_requested) {
		gint64 now = g_get_monotonic_time();
		if (now >= end)
			return true;
		watchdog_ping(sv);
		gint64 slice = MIN(end - now, (gint64)G_USEC_PER_SEC / 2);
		struct timespec d = { (time_t)(slice / G_USEC_PER_SEC), (long)(slice % G_USEC_PER_SEC) * 1000 };
		nanosleep(&d, NULL);
	}
	return false;
}

static void status_idle(const struct service *sv, const char *how)
{
	struct store_status st;
	char when[16];
	time_t now = time(NULL);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	bool ok = store_get_status(sv->store, &st) == 0;
	int64_t total = ok ? st.total : -1;
	if (ok && st.gaps > 0)
		sd_notifyf(0,
			   "STATUS=%s — %" G_GINT64_FORMAT " recorded, last poll %s; %" G_GINT64_FORMAT
			   " message(s) below the watermark without a record (UIDs %s)",
			   how, total, when, st.gaps, st.gap_uids ? st.gap_uids : "?");
	else
		sd_notifyf(0, "STATUS=%s — %" G_GINT64_FORMAT " recorded, last poll %s", how, total, when);
	if (ok) {
		g_free(st.last_error);
		g_free(st.last_action_error);
		g_free(st.last_receipt_error);
		g_free(st.gap_uids);
	}
}

/* The password (or token) file is read, judged and wiped: each connect
 * reads it again, so that no copy stays in memory between connects. */
static int check_secret(const struct config *cfg, char **ret_error)
{
	g_autofree char *warning = NULL;
	int r = config_check_secret(cfg, &warning, ret_error);
	if (warning)
		log_warning("%s", warning);
	return r;
}

int daemon_check_receipts(const struct config *cfg, char **ret_error)
{
	const struct config_receipts *rc = &cfg->receipts;
	if (!rc->send)
		return 0;
	g_autofree char *error = NULL;
	if (rc->template && receipt_template_check(rc->template, &error) < 0) {
		*ret_error = g_strdup_printf("%s: [receipts] template: %s: %s", cfg->path, rc->template_path, error);
		return -EINVAL;
	}
	if (rc->sign_cert && rc->sign_key) {
		g_autoptr(Sign) sg = NULL;
		if (sign_load(rc->sign_cert, rc->sign_key, &sg, &error) < 0) {
			*ret_error = g_strdup_printf("%s: [receipts] sign_cert: %s", cfg->path, error);
			return -EINVAL;
		}
	}
	return 0;
}

static bool reload(struct service *sv)
{
	struct config *fresh = NULL;
	g_autofree char *error = NULL;
	struct cms_trust *trust = NULL;

	sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
	if (config_load(sv->path, &fresh, &error) < 0 || config_check_files(fresh, &error) < 0 ||
	    check_secret(fresh, &error) < 0 || daemon_check_receipts(fresh, &error) < 0 ||
	    (fresh->trust_file && !(trust = cms_trust_load(fresh->trust_file)))) {
		log_fields(LOG_ERR, (const char *const[]){ "MESSAGE_ID=" MSGID_CONFIG_REJECTED, NULL },
			   "new configuration not used, keeping the old one: %s",
			   error ? error : "[signatures] trust_file: no certificates could be read");
		config_free(fresh);
		sd_notify(0, "READY=1");
		return false;
	}
	if (strcmp(fresh->database, (*sv->cfg)->database) != 0)
		log_warning("[store] database changed in the configuration; it takes effect at the next restart");
	g_free(fresh->database);
	fresh->database = g_strdup((*sv->cfg)->database);
	config_free(*sv->cfg);
	*sv->cfg = fresh;
	cms_trust_free(sv->trust);
	sv->trust = trust;
	log_notice("configuration reloaded from %s", sv->path);
	sd_notify(0, "READY=1");
	return true;
}

/* The wait before connecting after CRASHES unclean ends in a row: a
 * server whose response crashes the daemon is not hammered, and systemd
 * (which never gives up on the unit) restarts it more and more slowly. */
static unsigned crash_backoff(unsigned crashes)
{
	unsigned b = CRASH_BACKOFF_FIRST;
	for (unsigned k = 1; k < crashes && b < CRASH_BACKOFF_MAX; k++)
		b *= 2;
	return MIN(b, CRASH_BACKOFF_MAX);
}

/* Reads how the previous run ended, records this one, and when the
 * previous one crashed logs it and returns the seconds to wait. */
static unsigned after_crash(const struct config *cfg)
{
	struct lastrun prev, cur;
	int r = lastrun_begin(cfg->database, (int64_t)time(NULL), &prev, &cur);
	if (r < 0)
		log_warning("cannot write %s.run: %s; a crash of this run would not be known at the next start",
			    cfg->database, g_strerror(-r));
	char reason[400];
	if (!lastrun_unclean(&prev, reason, sizeof(reason)))
		return 0;
	unsigned wait = crash_backoff(cur.crashes);
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(cur.last_crash);
	g_autofree char *iso = when ? g_date_time_format_iso8601(when) : g_strdup("?");
	g_autofree char *n = g_strdup_printf("PULJED_CRASHES=%u", cur.crashes);
	g_autofree char *sig = g_strdup_printf("PULJED_CRASH_SIGNAL=%d", prev.signal);
	log_fields(LOG_ERR, (const char *const[]){ "MESSAGE_ID=" MSGID_CRASHED, n, sig, NULL },
		   "the previous run (pid %" G_GINT64_FORMAT
		   ") did not stop cleanly: %s, at %s "
		   "(%u unclean end%s in a row); waiting %u s before connecting",
		   prev.pid, reason, iso, cur.crashes, cur.crashes == 1 ? "" : "s", wait);
	return wait;
}

/* Waits SECONDS after a crash, feeding the watchdog, reloading on SIGHUP
 * and ending at once on SIGTERM. */
static void crash_wait(struct service *sv, unsigned seconds)
{
	gint64 end = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	sd_notifyf(0, "STATUS=Waiting %u s before connecting: the previous run crashed (see the journal)", seconds);
	lastrun_phase("waiting after a crash");
	while (!stop_requested) {
		gint64 left = end - g_get_monotonic_time();
		if (left <= 0)
			break;
		if (!wait_seconds(sv, (unsigned)((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC)) && reload_requested) {
			reload_requested = 0;
			reload(sv);
		}
	}
}

/* When the poll loop should wake for a one-by-one action (a receipt's
 * next attempt, an operator's request, the end of a rate's wait) sooner
 * than the next poll: a monotonic time, or 0 for none.  Not before
 * NOT_BEFORE (Unix time): the end of the last poll's rate wait, and a
 * second after the poll, so that an action a poll could not settle does
 * not make the loop spin. */
static gint64 actions_wake(const struct service *sv, int64_t not_before)
{
	int64_t at;
	if (actions_next_due(*sv->cfg, sv->store, &at) < 0)
		return 0; /* none pending, or the store cannot say: the poll will */
	int64_t now = (int64_t)time(NULL);
	at = MAX(at, not_before);
	return g_get_monotonic_time() + MAX(at - now, 0) * G_USEC_PER_SEC;
}

static int serve(struct service *sv)
{
	struct ingest_session *session = NULL;
	char err[600];
	gint64 next_gap_check = 0; /* monotonic µs; 0: at the first good sync */

	while (!stop_requested) {
		if (reload_requested) {
			reload_requested = 0;
			if (reload(sv)) {
				ingest_close(session); /* the next round connects with the new settings */
				session = NULL;
				sv->backoff = 0;
			}
		}
		const struct config *cfg = *sv->cfg;
		struct ingest_ctx ctx = {
			.cfg = cfg,
			.store = sv->store,
			.trust = sv->trust,
			.stop = &stop_requested,
			.stop_signal = SIGTERM,
			.on_event = on_event_ping,
			.userdata = sv,
		};
		int r = INGEST_OK;
		struct ingest_stats stats;
		g_autofree char *error = NULL;
		if (!session && (r = ingest_open(&ctx, &session, &error)) != INGEST_OK)
			g_strlcpy(err, error, sizeof(err));
		if (r == INGEST_OK)
			r = ingest_sync(session, &stats);
		/* At start and every [daemon] gap_check_interval: no UID at or
		 * below the watermark without a record. */
		if (r == INGEST_OK && !stop_requested && g_get_monotonic_time() >= next_gap_check) {
			struct ingest_stats gaps;
			r = ingest_check_gaps(session, &gaps);
			if (r == INGEST_OK) {
				next_gap_check =
					g_get_monotonic_time() + (gint64)cfg->gap_check_interval * G_USEC_PER_SEC;
				if (gaps.gaps_found)
					log_notice("gap check: %zu of %zu missing message(s) recorded now",
						   gaps.gaps_recorded, gaps.gaps_found);
			}
		}
		if (r != INGEST_OK && session) /* the open session's sync or gap check failed */
			g_strlcpy(err, ingest_errmsg(session), sizeof(err));
		if (r == INGEST_E_INTERRUPTED || stop_requested)
			break;
		if (r != INGEST_OK) {
			ingest_close(session);
			session = NULL;
			bool auth = r == INGEST_E_AUTH;
			unsigned wait = next_backoff(sv, auth);
			log_fields(LOG_ERR,
				   (const char *const[]){ auth ? "MESSAGE_ID=" MSGID_LOGIN_FAILED
							       : "MESSAGE_ID=" MSGID_POLL_FAILED,
							  NULL },
				   "%s %s@%s failed: %s; retrying in %u s", auth ? "login as" : "poll of",
				   cfg->imap.username, cfg->imap.host, err, wait);
			sd_notifyf(0, "STATUS=%s in %u s: %s", auth ? "Login refused; retrying" : "Reconnecting", wait,
				   err);
			wait_seconds(sv, wait);
			continue;
		}
		sv->backoff = 0;
		lastrun_healthy();
		watchdog_ping(sv);
		if (stats.recorded)
			log_info("poll of %s@%s/%s: %zu new, %zu recorded, %zu flagged; watermark %u/%u",
				 cfg->imap.username, cfg->imap.host, cfg->imap.mailbox, stats.seen, stats.recorded,
				 stats.flagged, stats.uidvalidity, stats.watermark);
		status_idle(sv, "Idle");

		/* Until the next poll: IDLE, waking in slices for the watchdog,
		 * and sooner when a receipt falls due. */
		lastrun_phase("waiting for the next poll (IDLE)");
		gint64 next_poll = g_get_monotonic_time() + (gint64)cfg->poll_interval * G_USEC_PER_SEC;
		int64_t not_before = MAX(stats.actions_wait_until, (int64_t)time(NULL) + 1);
		int slice_ms = sv->watchdog_usec ? (int)MIN(sv->watchdog_usec / 3000, 1000) : 1000;
		while (!stop_requested && !reload_requested) {
			gint64 wake = actions_enabled(cfg) ? actions_wake(sv, not_before) : 0;
			gint64 left = (wake ? MIN(next_poll, wake) : next_poll) - g_get_monotonic_time();
			if (left <= 0)
				break;
			int w = ingest_wait(session, (int)MIN((gint64)slice_ms, left / 1000 + 1));
			if (w == INGEST_E_INTERRUPTED)
				break;
			if (w < 0) {
				log_warning("connection lost while idle: %s; reconnecting", ingest_errmsg(session));
				ingest_close(session);
				session = NULL;
				break;
			}
			watchdog_ping(sv);
			if (w > 0)
				break; /* the server announced something: sync now */
		}
	}
	sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
	ingest_close(session);
	return DAEMON_EXIT_OK;
}

int daemon_run(const char *path, struct config **cfgp, bool once)
{
	struct service sv = { .path = path, .cfg = cfgp };
	g_autofree char *error = NULL;
	const struct config *cfg = *cfgp;
	int lock_fd = -1, code = DAEMON_EXIT_OK;

	setup_signals();
	if (config_check_files(cfg, &error) < 0 || check_secret(cfg, &error) < 0 ||
	    daemon_check_receipts(cfg, &error) < 0) {
		log_error("%s", error);
		return DAEMON_EXIT_CONFIG;
	}
	if (cfg->trust_file && !(sv.trust = cms_trust_load(cfg->trust_file))) {
		log_error("%s: [signatures] trust_file: no certificates could be read from \"%s\"", cfg->path,
			  cfg->trust_file);
		return DAEMON_EXIT_CONFIG;
	}
	if (take_lock(cfg->database, &lock_fd) < 0) {
		code = DAEMON_EXIT_FAILURE;
		goto out;
	}
	if (store_open(cfg->database, STORE_READ_WRITE, &sv.store, &error) < 0) {
		log_error("%s", error);
		code = DAEMON_EXIT_FAILURE;
		goto out;
	}
	if (cfg->wal_limit) {
		int ck = store_checkpoint_in_background(sv.store, MIN(4ULL << 20, cfg->wal_limit / 2), cfg->wal_limit);
		if (ck < 0)
			log_warning("checkpoints stay in the recording thread: %s", g_strerror(-ck));
	}
	if (once) {
		struct ingest_stats stats;
		g_autofree char *err = NULL;
		struct ingest_ctx ctx = {
			.cfg = cfg,
			.store = sv.store,
			.trust = sv.trust,
			.stop = &stop_requested,
			.stop_signal = SIGTERM,
			.on_event = on_event,
		};
		int r = ingest_cycle(&ctx, &stats, &err);
		if (r == INGEST_OK || r == INGEST_E_INTERRUPTED)
			log_info("poll of %s@%s/%s done: %zu new, %zu recorded, %zu flagged; watermark %u/%u",
				 cfg->imap.username, cfg->imap.host, cfg->imap.mailbox, stats.seen, stats.recorded,
				 stats.flagged, stats.uidvalidity, stats.watermark);
		else
			log_fields(LOG_ERR,
				   (const char *const[]){ r == INGEST_E_AUTH ? "MESSAGE_ID=" MSGID_LOGIN_FAILED
									     : "MESSAGE_ID=" MSGID_POLL_FAILED,
							  NULL },
				   "poll of %s@%s/%s failed: %s", cfg->imap.username, cfg->imap.host, cfg->imap.mailbox,
				   err);
		code = exit_code(r);
		if (r == INGEST_OK && stats.gaps_left) {
			log_fields(LOG_ERR, (const char *const[]){ "MESSAGE_ID=" MSGID_GAPS, NULL },
				   "%zu message(s) on the server at or below the watermark have no record "
				   "(see \"puljectl reconcile\")",
				   stats.gaps_left);
			code = DAEMON_EXIT_FAILURE;
		}
		if (r == INGEST_OK && stats.actions_failed) {
			log_fields(LOG_ERR, (const char *const[]){ "MESSAGE_ID=" MSGID_ACTION_FAILED, NULL },
				   "%zu recorded message(s) still wait for their after-ingest action "
				   "(see \"puljectl status\")",
				   stats.actions_failed);
			code = DAEMON_EXIT_FAILURE;
		}
		goto out;
	}
	if (sd_watchdog_enabled(0, &sv.watchdog_usec) <= 0)
		sv.watchdog_usec = 0;
	unsigned crashed_wait = after_crash(cfg);
	/* Ready once the configuration is valid and the database open: an
	 * unreachable server is retried, not waited for. */
	sd_notify(0, "READY=1\nSTATUS=Connecting");
	log_fields(LOG_INFO, (const char *const[]){ "MESSAGE_ID=" MSGID_STARTED, NULL },
		   "puljed started: %s@%s/%s into %s, polling every %u s", cfg->imap.username, cfg->imap.host,
		   cfg->imap.mailbox, cfg->database, cfg->poll_interval);
	if (crashed_wait)
		crash_wait(&sv, crashed_wait);
	code = serve(&sv);
	log_fields(LOG_INFO, (const char *const[]){ "MESSAGE_ID=" MSGID_STOPPED, NULL }, "puljed stopped");
	lastrun_end();
out:
	store_close(sv.store);
	cms_trust_free(sv.trust);
	if (lock_fd >= 0)
		close(lock_fd);
	return code;
}
