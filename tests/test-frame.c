/* Unit tests for frame: literals followed across arbitrary read splits,
 * oversized literals refused, every spelling of the responses Debian's
 * libetpan 1.9.4 crashes on refused (in any case, with the spaces and tabs
 * it skips, tagged, untagged and continuation), the same text inside a
 * literal or as status text left alone, bytes never changed. */
#include "frame.h"

#include <glib.h>
#include <string.h>

/* Feeds TEXT in pieces of SPLIT bytes with BUDGET bytes allowed in all;
 * returns the verdict.  The bytes must come out unchanged. */
static enum frame_verdict feed(const char *text, size_t split, uint64_t budget)
{
	struct frame f = { 0 };
	size_t len = strlen(text);
	g_autofree char *copy = g_strdup(text);
	enum frame_verdict v = FRAME_OK;
	for (size_t i = 0; i < len && v == FRAME_OK; i += split) {
		size_t n = MIN(split, len - i);
		budget -= n;
		v = frame_scan(&f, copy + i, n, budget);
	}
	g_assert_cmpstr(copy, ==, text);
	if (v == FRAME_REFUSED)
		g_assert_nonnull(f.why);
	return v;
}

/* TEXT gets verdict V at every split. */
static void expect(const char *text, enum frame_verdict v)
{
	for (size_t split = 1; split <= strlen(text); split++) {
		enum frame_verdict got = feed(text, split, 1000);
		if (got != v)
			g_error("%s (split %zu): verdict %d, expected %d", text, split, got, v);
	}
}

static void test_literals(void)
{
	/* the {99} inside the literal is message text */
	expect("* 1 FETCH (UID 7 BODY[] {12}\r\nHello {99}\r\n)\r\nA5 OK done\r\n", FRAME_OK);
	expect("* 1 FETCH (UID 7 BODY[] {4294967296}\r\nxxxx", FRAME_TOO_LARGE);
	expect("* 1 FETCH (BODY[] {99999999999999999999999}\r\n", FRAME_TOO_LARGE);
	g_assert_cmpint(feed("* 1 FETCH (BODY[] {5}\r\nabcde)\r\n", 4, 30), ==, FRAME_OK);
	g_assert_cmpint(feed("* 1 FETCH (BODY[] {5}\r\nabcde)\r\n", 4, 26), ==, FRAME_TOO_LARGE);
	/* A bare LF ends a literal's line for libetpan too. */
	expect("* 1 FETCH (BODY[] {3}\n{9}\r\n)\r\n", FRAME_OK);
	/* Spellings libetpan reads as literals, or reads otherwise. */
	expect("* 1 FETCH (BODY[] {2000+}\r\n", FRAME_REFUSED);
	expect("* 1 FETCH (BODY[] { 5}\r\nabcde)\r\n", FRAME_REFUSED);
	expect("* 1 FETCH (BODY[] {5 }\r\nabcde)\r\n", FRAME_REFUSED);
	expect("* 1 FETCH (BODY[] {5} \r\nabcde)\r\n", FRAME_REFUSED);
	expect("* 1 FETCH (BODY[] {-5}\r\n)\r\n", FRAME_REFUSED);
	expect("* 1 FETCH (BODY[] {5}abcde)\r\n", FRAME_REFUSED);
	expect("* 1 FETCH (BODY[] {}\r\n)\r\n", FRAME_REFUSED);
}

static void test_quoted(void)
{
	expect("* 1 FETCH (ENVELOPE (\"a {5}\\\" b\" NIL))\r\n", FRAME_OK);
	/* libetpan reads a quoted string across lines: the {33} is not a
	 * literal for it and the next line is parsed. */
	expect("* LIST () \"/\" \"a {33}\r\nb\"\r\n* OK [PERMANENTFLAGS (%)] x\r\n", FRAME_REFUSED);
	expect("* LIST () \"/\" \"a\\\r\nb\"\r\n", FRAME_REFUSED);
	/* In a status line quotes and braces are text. */
	expect("A5 NO \"INBOX.x\" {3}\r\n* OK [PERMANENTFLAGS ()] ok\r\n", FRAME_OK);
}

static void test_text_is_not_a_literal(void)
{
	/* libetpan reads "{31}" at the end of a status line as text and
	 * parses the next line: so must frame. */
	expect("* OK hello {31}\r\n* OK [PERMANENTFLAGS (%)] x\r\n", FRAME_REFUSED);
	expect("A1 OK done {31}\r\n* OK [PERMANENTFLAGS (%)] x\r\n", FRAME_REFUSED);
	expect("+ go on {31}\r\n* OK [PERMANENTFLAGS (%)] x\r\n", FRAME_REFUSED);
	expect("* BYE bye {5}\r\n* OK [CAPABILITY] x\r\n", FRAME_REFUSED);
}

static void test_permanentflags(void)
{
	const char *good[] = {
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted.\r\n",
		"* OK [PERMANENTFLAGS ()] Flags permitted.\r\n",
		"* OK [PERMANENTFLAGS ( \\Seen\t$X )] x\r\n",
		"* OK [UIDNEXT 5] x\r\n",
		"* OK PERMANENTFLAGS (%) is only text\r\n",
		"* OK hello * OK [PERMANENTFLAGS (%)] x\r\n",
		"* 1 FETCH (BODY[] {29}\r\n* OK [PERMANENTFLAGS (%)] x\r\n)\r\n",
	};
	for (size_t k = 0; k < G_N_ELEMENTS(good); k++)
		expect(good[k], FRAME_OK);
	/* Every spelling libetpan reads as the code whose list it frees while
	 * NULL, and the tagged and continuation forms. */
	const char *bad[] = {
		"* OK [PERMANENTFLAGS (%)] x\r\n",        "* ok [permanentflags (%)] x\r\n",
		"*  OK [PERMANENTFLAGS (%)] x\r\n",       "*\tOK\t[PERMANENTFLAGS\t(%)] x\r\n",
		" * OK  [  PERMANENTFLAGS  ( %)] x\r\n",  "* NO [PERMANENTFLAGS (%)] x\r\n",
		"* BYE [PERMANENTFLAGS (%)] x\r\n",       "* PREAUTH [PERMANENTFLAGS (%)] x\r\n",
		"A7 OK [PERMANENTFLAGS (%)] x\r\n",       "A7 bad [PermanentFlags (%)] x\r\n",
		"+ [PERMANENTFLAGS (%)] x\r\n",           "+[PERMANENTFLAGS (%)] x\r\n",
		"* OK [PERMANENTFLAGS (\\)] x\r\n",       "* OK [PERMANENTFLAGS (\\*x)] x\r\n",
		"* OK [PERMANENTFLAGS (a{b\"c]d)] x\r\n", "* OK [PERMANENTFLAGS (\r\n",
		"* OK [PERMANENTFLAGS(%)] x\r\n",         "* OK [PERMANENTFLAGSX (%)] x\r\n",
	};
	for (size_t k = 0; k < G_N_ELEMENTS(bad); k++)
		expect(bad[k], FRAME_REFUSED);
}

static void test_capability(void)
{
	expect("* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] Dovecot ready.\r\n", FRAME_OK);
	expect("* CAPABILITY IMAP4rev1 IDLE\r\n", FRAME_OK);
	expect("* capability\tAUTH=PLAIN\r\n", FRAME_OK);
	expect("A1 OK [CAPABILITY IMAP4rev1 MOVE] Logged in\r\n", FRAME_OK);
	const char *bad[] = {
		"* OK [CAPABILITY] ready\r\n",
		"* OK [capability ] ready\r\n",
		"* OK [CAPABILITY AUTH=] ready\r\n",
		"* OK [CAPABILITY (x)] ready\r\n",
		"A1 OK [CAPABILITY] Logged in\r\n",
		"* CAPABILITY\r\n",
		"* CAPABILITY \r\n",
		"*  Capability\t\r\n",
		"* CAPABILITY AUTH=\r\n",
	};
	for (size_t k = 0; k < G_N_ELEMENTS(bad); k++)
		expect(bad[k], FRAME_REFUSED);
}

static void test_badcharset(void)
{
	expect("A3 NO [BADCHARSET] unknown charset\r\n", FRAME_OK);
	expect("A3 NO [BADCHARSET (UTF-8)] unknown charset\r\n", FRAME_REFUSED);
	expect("* NO [BADCHARSET (\"a\r\nb\")] x\r\n", FRAME_REFUSED);
	expect("* NO [BADCHARSETS] x\r\n", FRAME_REFUSED);
}

static void test_dovecot_session(void)
{
	/* What Dovecot sends in a session, at every split. */
	expect("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n"
	       "A1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT MOVE UIDPLUS] Logged in\r\n"
	       "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n"
	       "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n"
	       "* 3 EXISTS\r\n* 0 RECENT\r\n"
	       "* OK [UIDVALIDITY 1655280000] UIDs valid\r\n"
	       "* OK [UIDNEXT 4] Predicted next UID\r\n"
	       "A2 OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).\r\n"
	       "* SEARCH 1 2 3\r\nA3 OK Search completed.\r\n"
	       "* 1 FETCH (UID 1 INTERNALDATE \"15-Jun-2022 10:00:00 +0200\" RFC822.SIZE 7 FLAGS ())\r\n"
	       "* 1 FETCH (UID 1 BODY[] {7}\r\nab\r\n{3}\r\n)\r\nA4 OK Fetch completed.\r\n"
	       "+ idling\r\n* 4 EXISTS\r\nA5 OK Idle completed.\r\n"
	       "* BYE Logging out\r\nA6 OK Logout completed.\r\n",
	       FRAME_OK);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/frame/literals", test_literals);
	g_test_add_func("/frame/quoted", test_quoted);
	g_test_add_func("/frame/text-is-not-a-literal", test_text_is_not_a_literal);
	g_test_add_func("/frame/permanentflags", test_permanentflags);
	g_test_add_func("/frame/capability", test_capability);
	g_test_add_func("/frame/badcharset", test_badcharset);
	g_test_add_func("/frame/dovecot-session", test_dovecot_session);
	return g_test_run();
}
