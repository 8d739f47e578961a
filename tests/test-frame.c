/* Unit tests for frame: literals followed across arbitrary read splits,
 * oversized literals refused, PERMANENTFLAGS repaired outside literals and
 * message bytes never touched. */
#include "frame.h"

#include <glib.h>
#include <string.h>

/* Feeds TEXT in pieces of SPLIT bytes; returns the (possibly repaired)
 * bytes, or NULL when a literal was refused. */
static char *feed(const char *text, size_t split, uint64_t budget)
{
	struct frame f = { 0 };
	size_t len = strlen(text);
	char *buf = g_strdup(text);
	for (size_t i = 0; i < len; i += split) {
		size_t n = MIN(split, len - i);
		budget -= n;
		if (!frame_scan(&f, buf + i, n, budget)) {
			g_free(buf);
			return NULL;
		}
	}
	return buf;
}

static void test_literals(void)
{
	const char *ok = "* 1 FETCH (UID 7 BODY[] {12}\r\nHello {99}\r\n)\r\nA5 OK done\r\n";
	for (size_t split = 1; split <= strlen(ok); split++) {
		g_autofree char *out = feed(ok, split, 1000);
		g_assert_cmpstr(out, ==, ok); /* the {99} inside the literal is message text */
	}
	/* 4 GiB announced, 1000 bytes allowed: refused, at any split. */
	const char *huge = "* 1 FETCH (UID 7 BODY[] {4294967296}\r\nxxxx";
	for (size_t split = 1; split <= strlen(huge); split++)
		g_assert_null(feed(huge, split, 1000));
	g_assert_null(feed("* 1 FETCH (BODY[] {99999999999999999999999}\r\n", 7, 1000));
	g_assert_null(feed("* 1 FETCH (BODY[] {2000+}\r\n", 3, 1000));
	/* A literal that just fits. */
	g_autofree char *fits = feed("* 1 FETCH (BODY[] {5}\r\nabcde)\r\n", 4, 30);
	g_assert_nonnull(fits);
}

static void test_permanentflags(void)
{
	for (size_t split = 1; split < 12; split++) {
		g_autofree char *bad = feed("* OK [PERMANENTFLAGS (%)] x\r\n", split, 1000);
		g_assert_cmpstr(bad, ==, "* OK [PERMANENTFLAGS (X)] x\r\n");
		g_autofree char *good = feed("* OK [PERMANENTFLAGS (\\Seen $Puljed \\*)] Flags permitted.\r\n", split, 1000);
		g_assert_cmpstr(good, ==, "* OK [PERMANENTFLAGS (\\Seen $Puljed \\*)] Flags permitted.\r\n");
		g_autofree char *nested = feed("* OK [PERMANENTFLAGS (a{b\"c]d)] x\r\n", split, 1000);
		g_assert_cmpstr(nested, ==, "* OK [PERMANENTFLAGS (aXbXcXd)] x\r\n");
	}
	/* The same text inside a message is the sender's, untouched. */
	const char *lit = "* 1 FETCH (BODY[] {29}\r\n* OK [PERMANENTFLAGS (%)] x\r\n)\r\n";
	g_autofree char *out = feed(lit, 5, 1000);
	g_assert_cmpstr(out, ==, lit);
	/* Only at the start of a line. */
	const char *mid = "* OK hello * OK [PERMANENTFLAGS (%)] x\r\n";
	g_autofree char *out2 = feed(mid, 3, 1000);
	g_assert_cmpstr(out2, ==, mid);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/frame/literals", test_literals);
	g_test_add_func("/frame/permanentflags", test_permanentflags);
	return g_test_run();
}
