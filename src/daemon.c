#include "daemon.h"
#include "cms.h"
#include "ingest.h"
#include "log.h"
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

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking read or sleep returns EINTR at once. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* One daemon per database: an exclusive flock on a lock file beside it
 * (SQLite's own locks are POSIX locks and do not interact). */
static int take_lock(const char *db, int *fd_out)
{
	g_autofree char *path = g_strconcat(db, ".lock", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		log_error("cannot open lock file %s: %s", path, g_strerror(errno));
		return -errno;
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

static void on_event(const struct ingest_event *ev, void *userdata)
{
	switch (ev->kind) {
	case INGEST_EVENT_RECORDED: {
		const struct store_message *m = ev->msg;
		g_autofree char *uid = g_strdup_printf("PULJED_UID=%u", m->uid);
		g_autofree char *id = g_strdup_printf("PULJED_RECORD=%" G_GINT64_FORMAT, m->id);
		g_autofree char *call = field("PULJED_CALL", m->call);
		g_autofree char *status = field("PULJED_STATUS", m->status);
		g_autofree char *app = field("PULJED_APPLICANT", m->applicant);
		g_autofree char *mid = field("PULJED_MESSAGE_ID", m->message_id);
		const char *fields[] = { uid, id, call, status, app, mid, NULL };
		log_fields(m->flags ? LOG_WARNING : LOG_INFO, fields,
			   "recorded UID %u as #%" G_GINT64_FORMAT ": %s%s%s, %zu attachment(s)%s%s", m->uid, m->id,
			   m->status, m->applicant ? " — " : "", m->applicant ? m->applicant : "", ev->n_attachments,
			   m->flags ? ", flagged: " : "", m->flags ? m->flags : "");
		break;
	}
	case INGEST_EVENT_UIDVALIDITY_CHANGED:
		log_warning("UIDVALIDITY changed from %u to %u: the mailbox was recreated; fetching it again "
			    "(messages already recorded are marked duplicate_of)",
			    ev->old_uidvalidity, ev->new_uidvalidity);
		break;
	case INGEST_EVENT_RECONNECT:
		log_warning("%s; reconnecting", ev->detail);
		break;
	}
}

static int exit_code(int r)
{
	switch (r) {
	case INGEST_OK:
	case INGEST_E_INTERRUPTED: return DAEMON_EXIT_OK;
	case INGEST_E_NETWORK: return DAEMON_EXIT_NETWORK;
	case INGEST_E_TLS: return DAEMON_EXIT_TLS;
	case INGEST_E_AUTH: return DAEMON_EXIT_AUTH;
	default: return DAEMON_EXIT_FAILURE;
	}
}

/* Sleeps up to SECONDS, returning early when a stop is requested. */
static void sleep_interruptible(unsigned seconds)
{
	struct timespec end, now;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	while (!stop_requested) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		struct timespec d = { 1, 0 };
		nanosleep(&d, NULL);
	}
}

int daemon_run(const struct config *cfg, bool once)
{
	g_autofree char *password = NULL;
	g_autofree char *error = NULL;
	struct store *st = NULL;
	struct cms_trust *trust = NULL;
	int lock_fd = -1, code = DAEMON_EXIT_OK;

	setup_signals();
	if (config_check_files(cfg, &error) < 0 || config_read_password(cfg, &password, &error) < 0) {
		log_error("%s", error);
		return DAEMON_EXIT_CONFIG;
	}
	if (cfg->trust_file && !(trust = cms_trust_load(cfg->trust_file))) {
		log_error("%s: [signatures] trust_file: no certificates could be read from \"%s\"", cfg->path,
			  cfg->trust_file);
		config_password_free(g_steal_pointer(&password));
		return DAEMON_EXIT_CONFIG;
	}
	if (take_lock(cfg->database, &lock_fd) < 0) {
		code = DAEMON_EXIT_FAILURE;
		goto out;
	}
	if (store_open(cfg->database, STORE_READ_WRITE, &st, &error) < 0) {
		log_error("%s", error);
		code = DAEMON_EXIT_FAILURE;
		goto out;
	}
	sd_notify(0, "READY=1\nSTATUS=Starting first poll");

	for (;;) {
		struct ingest_stats stats;
		char err[600];
		struct ingest_ctx ctx = {
			.cfg = cfg, .store = st, .password = password, .trust = trust,
			.stop = &stop_requested, .on_event = on_event,
		};
		int r = ingest_cycle(&ctx, &stats, err, sizeof(err));
		char when[16];
		time_t now = time(NULL);
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
		if (r == INGEST_OK || r == INGEST_E_INTERRUPTED) {
			log_info("poll of %s@%s/%s done: %zu new, %zu recorded, %zu flagged; watermark %u/%u",
				 cfg->imap.username, cfg->imap.host, cfg->imap.mailbox, stats.seen, stats.recorded,
				 stats.flagged, stats.uidvalidity, stats.watermark);
			sd_notifyf(0, "STATUS=Idle — %zu recorded this poll, last poll %s", stats.recorded, when);
		} else {
			log_error("poll of %s@%s/%s failed: %s", cfg->imap.username, cfg->imap.host, cfg->imap.mailbox, err);
			sd_notifyf(0, "STATUS=Last poll %s failed: %s", when, err);
		}
		if (once || r == INGEST_E_INTERRUPTED || stop_requested) {
			code = once ? exit_code(r) : DAEMON_EXIT_OK;
			break;
		}
		sleep_interruptible(cfg->poll_interval);
		if (stop_requested)
			break;
	}
	sd_notify(0, "STOPPING=1");
out:
	config_password_free(g_steal_pointer(&password));
	store_close(st);
	cms_trust_free(trust);
	if (lock_fd >= 0)
		close(lock_fd);
	return code;
}
