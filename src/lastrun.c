#include "lastrun.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

/* This run's record as written, kept for the signal handler. */
static int rec_fd = -1;
static char rec[1024];
static size_t rec_len;
static struct lastrun current;
static struct sigaction old_actions[G_N_ELEMENTS(fatal_signals)];
static _Thread_local const char *thread_phase;
/* The main thread's handler runs here, so that a stack overflow is
 * recorded too. */
static char alt_stack[64 * 1024];

char *lastrun_path(const char *database)
{
	return g_strconcat(database, ".run", NULL);
}

static void copy_value(char *dst, size_t size, const char *v)
{
	g_strlcpy(dst, v, size);
}

int lastrun_read(const char *path, struct lastrun *ret)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) e = NULL;
	if (!g_file_get_contents(path, &text, NULL, &e))
		return e->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
	struct lastrun r = { 0 };
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		char *eq = strchr(*l, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *k = *l, *v = eq + 1;
		if (!strcmp(k, "state"))
			copy_value(r.state, sizeof(r.state), v);
		else if (!strcmp(k, "pid"))
			r.pid = g_ascii_strtoll(v, NULL, 10);
		else if (!strcmp(k, "started"))
			r.started = g_ascii_strtoll(v, NULL, 10);
		else if (!strcmp(k, "crashes"))
			r.crashes = (unsigned)g_ascii_strtoull(v, NULL, 10);
		else if (!strcmp(k, "last_crash"))
			r.last_crash = g_ascii_strtoll(v, NULL, 10);
		else if (!strcmp(k, "last_reason"))
			copy_value(r.last_reason, sizeof(r.last_reason), v);
		else if (!strcmp(k, "signal"))
			r.signal = (int)g_ascii_strtoll(v, NULL, 10);
		else if (!strcmp(k, "time"))
			r.signal_time = g_ascii_strtoll(v, NULL, 10);
		else if (!strcmp(k, "phase"))
			copy_value(r.phase, sizeof(r.phase), v);
	}
	*ret = r;
	return 0;
}

bool lastrun_unclean(const struct lastrun *r, char *reason, size_t size)
{
	if (!strcmp(r->state, "crashed")) {
		const char *abbrev = sigabbrev_np(r->signal);
		snprintf(reason, size, "signal %d (SIG%s) while %s", r->signal, abbrev ? abbrev : "?",
			 r->phase[0] ? r->phase : "starting");
		return true;
	}
	if (!strcmp(r->state, "running")) {
		snprintf(reason, size, "killed without a chance to record it (SIGKILL, out of memory or a power cut)");
		return true;
	}
	return false;
}

/* The record of R, its first line "state=running" (the handler changes
 * "running" to "crashed", of the same length, in place). */
static size_t format(const struct lastrun *r, char *buf, size_t size)
{
	/* A reason never holds a newline: it would end the value. */
	char reason[sizeof(r->last_reason)];
	g_strlcpy(reason, r->last_reason, sizeof(reason));
	g_strdelimit(reason, "\r\n", ' ');
	int n = snprintf(buf, size,
			 "state=%s\npid=%" G_GINT64_FORMAT "\nstarted=%" G_GINT64_FORMAT
			 "\ncrashes=%u\n"
			 "last_crash=%" G_GINT64_FORMAT "\nlast_reason=%s\n",
			 r->state, r->pid, r->started, r->crashes, r->last_crash, reason);
	return n < 0 ? 0 : MIN((size_t)n, size - 1);
}

/* Writes the record of CURRENT through rec_fd (not from a handler). */
static void rewrite(void)
{
	if (rec_fd < 0)
		return;
	char buf[sizeof(rec)];
	size_t n = format(&current, buf, sizeof(buf));
	memcpy(rec, buf, n);
	rec_len = n;
	if (pwrite(rec_fd, rec, rec_len, 0) == (ssize_t)rec_len)
		(void)!ftruncate(rec_fd, (off_t)rec_len);
	fdatasync(rec_fd);
}

/* ---- the signal handler: async-signal-safe calls only ---- */

/* S at BUF[AT..SIZE); with LINE, a newline in it becomes a space. */
static size_t put_str(char *buf, size_t at, size_t size, const char *s, bool line)
{
	for (; s && *s && at < size; s++)
		buf[at++] = line && *s == '\n' ? ' ' : *s;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t size, int64_t v)
{
	char digits[24];
	size_t n = 0;
	uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
	do
		digits[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < sizeof(digits));
	if (v < 0 && at < size)
		buf[at++] = '-';
	while (n && at < size)
		buf[at++] = digits[--n];
	return at;
}

static void on_fatal(int sig)
{
	int saved = errno;
	if (rec_fd >= 0 && rec_len > 12) {
		char buf[sizeof(rec) + 256];
		size_t n = rec_len;
		memcpy(buf, rec, n);
		memcpy(buf + strlen("state="), "crashed", strlen("crashed"));
		struct timespec ts = { 0 };
		clock_gettime(CLOCK_REALTIME, &ts);
		n = put_str(buf, n, sizeof(buf), "signal=", false);
		n = put_num(buf, n, sizeof(buf), sig);
		n = put_str(buf, n, sizeof(buf), "\ntime=", false);
		n = put_num(buf, n, sizeof(buf), (int64_t)ts.tv_sec);
		n = put_str(buf, n, sizeof(buf) - 1, "\nphase=", false);
		n = put_str(buf, n, sizeof(buf) - 1, thread_phase ? thread_phase : "starting", true);
		buf[n++] = '\n';
		if (pwrite(rec_fd, buf, n, 0) == (ssize_t)n)
			(void)!ftruncate(rec_fd, (off_t)n);
		fdatasync(rec_fd);
	}
	/* SA_RESETHAND made the disposition the default again: the signal
	 * kills as it would have without us (also under a sanitizer, whose
	 * own report of a wild SEGV is the price of that). */
	errno = saved;
	raise(sig);
}

/* ---- the daemon's side ---- */

int lastrun_begin(const char *database, int64_t now, struct lastrun *ret_prev, struct lastrun *ret_cur)
{
	g_autofree char *path = lastrun_path(database);
	struct lastrun p = { 0 };
	int r = lastrun_read(path, &p);
	if (r < 0 && r != -ENOENT)
		memset(&p, 0, sizeof(p));
	struct lastrun c = { .pid = getpid(), .started = now, .crashes = p.crashes, .last_crash = p.last_crash };
	g_strlcpy(c.state, "running", sizeof(c.state));
	g_strlcpy(c.last_reason, p.last_reason, sizeof(c.last_reason));
	char reason[sizeof(c.last_reason)];
	if (lastrun_unclean(&p, reason, sizeof(reason))) {
		c.crashes = p.crashes + 1;
		c.last_crash = !strcmp(p.state, "crashed") && p.signal_time ? p.signal_time : now;
		g_strlcpy(c.last_reason, reason, sizeof(c.last_reason));
	}
	*ret_prev = p;
	*ret_cur = c;
	current = c;

	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	rec_fd = fd;
	rewrite();
	stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof(alt_stack) };
	bool alt = sigaltstack(&ss, NULL) == 0;
	struct sigaction sa = { .sa_handler = on_fatal,
				.sa_flags = SA_NODEFER | SA_RESETHAND | (alt ? SA_ONSTACK : 0) };
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < G_N_ELEMENTS(fatal_signals); k++)
		sigaction(fatal_signals[k], &sa, &old_actions[k]);
	return 0;
}

void lastrun_phase(const char *what)
{
	thread_phase = what;
}

void lastrun_healthy(void)
{
	if (current.crashes == 0)
		return;
	current.crashes = 0;
	rewrite();
}

void lastrun_end(void)
{
	if (rec_fd < 0)
		return;
	g_strlcpy(current.state, "stopped", sizeof(current.state));
	rewrite();
	for (size_t k = 0; k < G_N_ELEMENTS(fatal_signals); k++)
		sigaction(fatal_signals[k], &old_actions[k], NULL);
	close(rec_fd);
	rec_fd = -1;
}
