/* Unit tests for log: what a server or a mail header says reaches stderr
 * (and so the journal) without terminal controls — C0, DEL, C1 such as
 * CSI (U+009B) and bidi overrides (U+202E) — and with valid UTF-8. */
#include "log.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What log_error(FMT, ARG) writes to stderr (not a terminal, no journal). */
static char *logged(const char *arg)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("test-log-XXXXXX", &path, NULL);
	g_assert_cmpint(fd, >=, 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
	g_unsetenv("JOURNAL_STREAM");
	log_setup("test-log");
	log_error("LOGIN refused: %s", arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	char *out = NULL;
	g_assert_true(g_file_get_contents(path, &out, NULL, NULL));
	g_unlink(path);
	return out;
}

static void test_controls(void)
{
	/* CSI as the C1 byte pair (U+009B), an ESC sequence, a bidi override,
	 * a bidi isolate, DEL, a bare C1 byte (invalid UTF-8) and a newline. */
	g_autofree char *out = logged("a\xc2\x9b" "2Jb\x1b[31mc\xe2\x80\xae" "d\xe2\x81\xa6" "e\x7f" "f\x9bg\nh");
	g_assert_true(g_utf8_validate(out, -1, NULL));
	g_assert_null(strstr(out, "\xc2\x9b"));
	g_assert_null(strstr(out, "\xe2\x80\xae"));
	g_assert_null(strstr(out, "\xe2\x81\xa6"));
	g_assert_null(strchr(out, 0x1b));
	g_assert_null(strchr(out, 0x7f));
	g_assert_true(g_str_has_prefix(out, "<3>LOGIN refused: a 2Jb [31mc d e f"));
	g_assert_true(g_str_has_suffix(out, "g h\n"));
	/* One line: the embedded newline did not start a forged one. */
	g_assert_cmpint(strchr(out, '\n') - out, ==, (long)strlen(out) - 1);
}

static void test_text_kept(void)
{
	g_autofree char *out = logged("Ansøgning — «Été» 申请");
	g_assert_cmpstr(out, ==, "<3>LOGIN refused: Ansøgning — «Été» 申请\n");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/log/controls", test_controls);
	g_test_add_func("/log/text-kept", test_text_kept);
	return g_test_run();
}
