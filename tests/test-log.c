/* Unit tests for log: what a server or a mail header says reaches stderr
 * (and so the journal) without terminal controls — C0, DEL, C1 such as
 * CSI (U+009B) and bidi overrides (U+202E) — and with valid UTF-8. */
#include "log.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What log_error(FMT, ARG) writes to stderr (a file) with $JOURNAL_STREAM
 * set to JS (NULL: unset; "SELF": stderr's own device and inode). */
static char *logged_with(const char *js, const char *arg)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("test-log-XXXXXX", &path, NULL);
	g_assert_cmpint(fd, >=, 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
	struct stat st;
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	g_autofree char *self =
		g_strdup_printf("%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (js)
		g_setenv("JOURNAL_STREAM", g_str_equal(js, "SELF") ? self : js, TRUE);
	else
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

static char *logged(const char *arg)
{
	return logged_with(NULL, arg);
}

static void test_controls(void)
{
	/* CSI as the C1 byte pair (U+009B), an ESC sequence, a bidi override,
	 * a bidi isolate, DEL, a bare C1 byte (invalid UTF-8) and a newline. */
	g_autofree char *out =
		logged("a\xc2\x9b"
		       "2Jb\x1b[31mc\xe2\x80\xae"
		       "d\xe2\x81\xa6"
		       "e\x7f"
		       "f\x9bg\nh");
	g_assert_true(g_utf8_validate(out, -1, NULL));
	g_assert_null(strstr(out, "\xc2\x9b"));
	g_assert_null(strstr(out, "\xe2\x80\xae"));
	g_assert_null(strstr(out, "\xe2\x81\xa6"));
	g_assert_null(strchr(out, 0x1b));
	g_assert_null(strchr(out, 0x7f));
	g_assert_true(g_str_has_prefix(out, "test-log: LOGIN refused: a 2Jb [31mc d e f"));
	g_assert_true(g_str_has_suffix(out, "g h\n"));
	/* One line: the embedded newline did not start a forged one. */
	g_assert_cmpint(strchr(out, '\n') - out, ==, (long)strlen(out) - 1);
}

static void test_text_kept(void)
{
	g_autofree char *out = logged("Ansøgning — «Été» 申请");
	g_assert_cmpstr(out, ==, "test-log: LOGIN refused: Ansøgning — «Été» 申请\n");
}

/* Not a terminal is not the journal: "<N>" prefixes only when
 * $JOURNAL_STREAM names stderr itself (journald's stream reads them, as
 * when the native socket is not there); a file, a pipe or another stream's
 * name gets the plain lines a terminal gets. */
static void test_journal_stream(void)
{
	g_autofree char *plain = logged_with("1:1", "x");
	g_assert_cmpstr(plain, ==, "test-log: LOGIN refused: x\n");
	g_autofree char *junk = logged_with("nonsense", "x");
	g_assert_cmpstr(junk, ==, "test-log: LOGIN refused: x\n");
	/* Stderr is the journal: the native protocol if journald listens
	 * (nothing on stderr), else the stream form with the level. */
	g_autofree char *journal = logged_with("SELF", "x");
	if (*journal)
		g_assert_cmpstr(journal, ==, "<3>LOGIN refused: x\n");
	g_unsetenv("JOURNAL_STREAM");
	log_setup("test-log");
}

/* The journal entry names the caller (CODE_FILE/LINE/FUNC), not log.c,
 * and carries the fields cleaned as the message is. */
static void test_journal_entry(void)
{
	const char *fields[] = { "MESSAGE_ID=abc", "PULJED_SUBJECT=a\x1b[2Jb", NULL };
	g_auto(GStrv) e = log_journal_entry(LOG_WARNING, "../src/daemon.c", 42, "on_event", fields, "hi\nthere");
	g_assert_cmpuint(g_strv_length(e), ==, 8);
	g_assert_cmpstr(e[0], ==, "MESSAGE=hi there");
	g_assert_cmpstr(e[1], ==, "PRIORITY=4");
	g_assert_true(g_str_has_prefix(e[2], "SYSLOG_IDENTIFIER="));
	g_assert_cmpstr(e[3], ==, "CODE_FILE=../src/daemon.c");
	g_assert_cmpstr(e[4], ==, "CODE_LINE=42");
	g_assert_cmpstr(e[5], ==, "CODE_FUNC=on_event");
	g_assert_cmpstr(e[6], ==, "MESSAGE_ID=abc");
	g_assert_cmpstr(e[7], ==, "PULJED_SUBJECT=a [2Jb");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/log/controls", test_controls);
	g_test_add_func("/log/text-kept", test_text_kept);
	g_test_add_func("/log/journal-stream", test_journal_stream);
	g_test_add_func("/log/journal-entry", test_journal_entry);
	return g_test_run();
}
