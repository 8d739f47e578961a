/* Unit tests for lastrun: a fatal signal's handler records the signal,
 * the time and the crashing thread's phase; the next run finds the
 * unclean end (also one killed by SIGKILL), counts crashes in a row until
 * a healthy poll, and a clean stop is not a crash. */
#include "lastrun.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir, *db, *path;

/* A run in a child process that ends with SIG (0: a clean stop). */
static pid_t run_child(int sig, const char *phase)
{
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct lastrun prev, cur;
		if (lastrun_begin(db, 1000, &prev, &cur) < 0)
			_exit(99);
		lastrun_phase(phase);
		if (sig == SIGSEGV) {
			/* A real fault, not a sent signal (and none a sanitizer
			 * would catch first): a store to a page with no access. */
			int *volatile page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (page != MAP_FAILED)
				*page = 1;
		}
		if (sig)
			raise(sig);
		lastrun_end();
		_exit(0);
	}
	int status = 0;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	if (sig) {
		g_assert_true(WIFSIGNALED(status)); /* the handler still lets the signal kill */
		g_assert_cmpint(WTERMSIG(status), ==, sig);
	} else {
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	}
	return pid;
}

static void test_crash_recorded(void)
{
	struct lastrun r;
	g_unlink(path);
	g_assert_cmpint(lastrun_read(path, &r), ==, -ENOENT);

	pid_t pid = run_child(SIGSEGV, "parsing the server's response to EXAMINE");
	g_assert_cmpint(lastrun_read(path, &r), ==, 0);
	g_assert_cmpstr(r.state, ==, "crashed");
	g_assert_cmpint(r.signal, ==, SIGSEGV);
	g_assert_cmpint(r.pid, ==, pid);
	g_assert_cmpstr(r.phase, ==, "parsing the server's response to EXAMINE");
	g_assert_cmpint(r.signal_time, >, 1700000000);
	char reason[400];
	g_assert_true(lastrun_unclean(&r, reason, sizeof(reason)));
	g_assert_cmpstr(reason, ==, "signal 11 (SIGSEGV) while parsing the server's response to EXAMINE");

	/* The next run finds it: one crash; then an abort: two in a row. */
	struct lastrun prev, cur;
	g_assert_cmpint(lastrun_begin(db, 2000, &prev, &cur), ==, 0);
	g_assert_cmpstr(prev.state, ==, "crashed");
	g_assert_cmpuint(cur.crashes, ==, 1);
	g_assert_cmpint(cur.last_crash, ==, r.signal_time);
	g_assert_cmpstr(cur.last_reason, ==, reason);
	lastrun_end();
	/* A clean stop in between (say, during the wait) is not a crash and
	 * does not end the series. */
	g_assert_cmpint(lastrun_read(path, &r), ==, 0);
	g_assert_cmpstr(r.state, ==, "stopped");
	g_assert_cmpuint(r.crashes, ==, 1);
	run_child(SIGABRT, "recording a message in the database");
	g_assert_cmpint(lastrun_begin(db, 3000, &prev, &cur), ==, 0);
	g_assert_cmpuint(cur.crashes, ==, 2);
	g_assert_nonnull(strstr(cur.last_reason, "signal 6 (SIGABRT) while recording a message"));
	/* A healthy poll ends the series; the last crash stays on record. */
	lastrun_healthy();
	g_assert_cmpint(lastrun_read(path, &r), ==, 0);
	g_assert_cmpstr(r.state, ==, "running");
	g_assert_cmpuint(r.crashes, ==, 0);
	g_assert_nonnull(strstr(r.last_reason, "SIGABRT"));
	lastrun_end();
	g_assert_cmpint(lastrun_begin(db, 4000, &prev, &cur), ==, 0);
	g_assert_false(lastrun_unclean(&prev, reason, sizeof(reason)));
	g_assert_cmpuint(cur.crashes, ==, 0);
	lastrun_end();
}

static void test_killed(void)
{
	g_unlink(path);
	run_child(SIGKILL, "waiting for the next poll (IDLE)");
	struct lastrun r;
	g_assert_cmpint(lastrun_read(path, &r), ==, 0);
	g_assert_cmpstr(r.state, ==, "running");
	char reason[400];
	g_assert_true(lastrun_unclean(&r, reason, sizeof(reason)));
	g_assert_nonnull(strstr(reason, "SIGKILL"));
	struct lastrun prev, cur;
	g_assert_cmpint(lastrun_begin(db, 5000, &prev, &cur), ==, 0);
	g_assert_cmpuint(cur.crashes, ==, 1);
	g_assert_cmpint(cur.last_crash, ==, 5000); /* when it was found */
	lastrun_end();
}

static void test_clean(void)
{
	g_unlink(path);
	run_child(0, "starting");
	struct lastrun r;
	g_assert_cmpint(lastrun_read(path, &r), ==, 0);
	g_assert_cmpstr(r.state, ==, "stopped");
	char reason[400];
	g_assert_false(lastrun_unclean(&r, reason, sizeof(reason)));
	g_assert_cmpint(r.last_crash, ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	dir = g_dir_make_tmp("test-lastrun-XXXXXX", NULL);
	db = g_build_filename(dir, "puljed.db", NULL);
	path = lastrun_path(db);
	g_test_add_func("/lastrun/crash-recorded", test_crash_recorded);
	g_test_add_func("/lastrun/killed", test_killed);
	g_test_add_func("/lastrun/clean", test_clean);
	int r = g_test_run();
	g_unlink(path);
	g_rmdir(dir);
	return r;
}
