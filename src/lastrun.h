/* lastrun: how the daemon's last run ended, in a small text file beside
 * the database ("<database>.run", key=value lines), so that a crash is
 * known at the next start and shown by "puljectl status".
 *
 * A run writes "state=running" when it starts and "state=stopped" when it
 * stops cleanly.  A fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT) is caught by a handler that only makes async-signal-safe calls:
 * it writes "state=crashed" with the signal, the time and the phase the
 * crashing thread was in (lastrun_phase), then lets the signal kill the
 * process as before.  A run found still "running" was killed without a
 * chance to say so (SIGKILL, the OOM killer, a power cut).  Consecutive
 * unclean ends are counted until a run proves healthy (lastrun_healthy).
 * No database migration: the file is separate from the database. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lastrun {
	char state[16]; /* "running", "crashed", "stopped"; "" when there is no file */
	int64_t pid;
	int64_t started;       /* unix seconds */
	unsigned crashes;      /* consecutive unclean ends, up to this run's start */
	int64_t last_crash;    /* when the latest unclean end happened or was found; 0: never */
	char last_reason[400]; /* how it ended */
	int signal;            /* state "crashed": the signal ... */
	int64_t signal_time;   /* ... when ... */
	char phase[160];       /* ... and what the thread was doing */
};

/* "<database>.run".  Newly allocated (g_free). */
char *lastrun_path(const char *database);

/* Reads the record at PATH into *RET: 0, -ENOENT when there is none, or
 * a negative errno.  Unknown keys are ignored. */
int lastrun_read(const char *path, struct lastrun *ret);

/* Whether the run recorded in R ended without a clean stop; REASON gets
 * how (e.g. "signal 11 (SIGSEGV) while parsing the server's response to
 * EXAMINE"). */
bool lastrun_unclean(const struct lastrun *r, char *reason, size_t size);

/* Starts this run: reads the previous record (*RET_PREV, zeroed when none),
 * counts an unclean end of it, writes this run's "running" record (NOW:
 * unix seconds) and installs the fatal-signal handlers.  0 or a negative
 * errno (the run goes on without a record then): not a failure of the
 * reading, so *RET_PREV and *RET_CUR are set whatever it returns. */
int lastrun_begin(const char *database, int64_t now, struct lastrun *ret_prev, struct lastrun *ret_cur);

/* What the calling thread is doing, for the record of a crash: a static
 * string ("parsing the server's response to EXAMINE").  Async-signal-safe
 * to read; costs a thread-local store. */
void lastrun_phase(const char *what);

/* A successful poll: the count of consecutive crashes starts again. */
void lastrun_healthy(void);

/* A clean stop: "state=stopped". */
void lastrun_end(void);
