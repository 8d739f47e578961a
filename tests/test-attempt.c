/* attempt: the note of the message being parsed outlives the process. */
#include "attempt.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

/* A blank note (the process was killed between two parses) is tidied
 * away; a pending one stays: it counts the attempts. */
static void test_tidy(void)
{
	g_autofree char *dir = g_dir_make_tmp("attempt-XXXXXX", NULL);
	g_autofree char *db = g_build_filename(dir, "puljed.db", NULL);
	g_autofree char *note = g_strconcat(db, ".parsing", NULL);
	attempt_tidy(db); /* none: nothing to do */
	struct attempt *a = attempt_open(db);
	attempt_begin(a, "INBOX", 7, 41);
	attempt_close(a); /* killed in the parse */
	attempt_tidy(db);
	g_assert_true(g_file_test(note, G_FILE_TEST_EXISTS));
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "INBOX", 7, 41), ==, 2);
	attempt_end(a);
	/* Killed before closing: the blank note stays (kept aside here). */
	g_autofree char *kept = g_strconcat(note, ".kept", NULL);
	g_assert_cmpint(link(note, kept), ==, 0);
	attempt_close(a);
	g_assert_cmpint(g_rename(kept, note), ==, 0);
	attempt_tidy(db);
	g_assert_false(g_file_test(note, G_FILE_TEST_EXISTS));
	g_rmdir(dir);
}

/* The note is refused when its name is a symlink, as the lock and the
 * run record beside the database are: a link planted there would have the
 * daemon write (and tidy read) whatever file it points at. */
static void test_symlink(void)
{
	g_autofree char *dir = g_dir_make_tmp("attempt-XXXXXX", NULL);
	g_autofree char *db = g_build_filename(dir, "puljed.db", NULL);
	g_autofree char *note = g_strconcat(db, ".parsing", NULL);
	g_autofree char *victim = g_build_filename(dir, "victim", NULL);
	static const char text[] = "not the daemon's\n";
	g_assert_true(g_file_set_contents(victim, text, -1, NULL));
	g_assert_cmpint(symlink(victim, note), ==, 0);

	struct attempt *a = attempt_open(db);
	g_assert_null(a);
	g_assert_cmpuint(attempt_begin(a, "INBOX", 7, 41), ==, 1); /* nothing counted */
	attempt_close(a);
	g_autofree char *after = NULL;
	g_assert_true(g_file_get_contents(victim, &after, NULL, NULL));
	g_assert_cmpstr(after, ==, text);

	/* Tidying neither follows it nor takes it for a blank note. */
	attempt_tidy(db);
	g_assert_true(g_file_test(note, G_FILE_TEST_IS_SYMLINK));
	g_unlink(note);
	g_unlink(victim);
	g_rmdir(dir);
}

static void test_counts_across_restarts(void)
{
	g_autofree char *dir = g_dir_make_tmp("attempt-XXXXXX", NULL);
	g_autofree char *db = g_build_filename(dir, "puljed.db", NULL);
	g_autofree char *note = g_strconcat(db, ".parsing", NULL);

	/* A parse that ends leaves nothing to count. */
	struct attempt *a = attempt_open(db);
	g_assert_nonnull(a);
	g_assert_cmpuint(attempt_begin(a, "INBOX", 7, 41), ==, 1);
	attempt_end(a);
	attempt_close(a);
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "INBOX", 7, 41), ==, 1);
	attempt_close(a); /* the process "dies" in the parse */

	/* The next process finds it: the second attempt, then the third. */
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "INBOX", 7, 41), ==, 2);
	attempt_close(a);
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "INBOX", 7, 41), ==, 3);
	g_assert_cmpuint(3, >, ATTEMPT_MAX);
	attempt_end(a);
	attempt_close(a);

	/* Another message, mailbox or UIDVALIDITY starts again at 1. */
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "INBOX", 7, 42), ==, 1);
	attempt_close(a);
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "Arkiv", 7, 42), ==, 1);
	attempt_close(a);
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "Arkiv", 8, 42), ==, 1);
	attempt_close(a);

	/* No note can be kept: every parse is a first one. */
	g_assert_null(attempt_open("/nonexistent-dir/puljed.db"));
	g_assert_cmpuint(attempt_begin(NULL, "INBOX", 1, 1), ==, 1);
	attempt_end(NULL);

	/* Closed with nothing pending: no file is left. */
	a = attempt_open(db);
	g_assert_cmpuint(attempt_begin(a, "Arkiv", 8, 42), ==, 2);
	attempt_end(a);
	attempt_close(a);
	g_assert_false(g_file_test(note, G_FILE_TEST_EXISTS));
	g_rmdir(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/attempt/counts-across-restarts", test_counts_across_restarts);
	g_test_add_func("/attempt/tidy", test_tidy);
	g_test_add_func("/attempt/symlink", test_symlink);
	return g_test_run();
}
