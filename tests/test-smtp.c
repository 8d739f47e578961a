/* Unit tests for smtp's pure parts: reply parsing (single and multi-line,
 * malformed and oversized replies refused), what EHLO announces, CRLF
 * normalisation with dot-stuffing, the AUTH encodings, addresses that
 * could inject a command. */
#include "smtp.h"

#include <glib.h>
#include <string.h>

/* Feeds the lines of TEXT ('\n'-separated) into R; the last result. */
static int feed(struct smtp_reply *r, const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	int v = 0;
	for (char **l = lines; *l; l++) {
		v = smtp_reply_line(r, *l, strlen(*l));
		if (v != 0)
			break;
	}
	return v;
}

static void test_reply_single(void)
{
	struct smtp_reply r = { 0 };
	g_assert_cmpint(feed(&r, "250 2.0.0 Ok: queued as 4Q1x"), ==, 1);
	g_assert_cmpint(r.code, ==, 250);
	g_assert_cmpstr(r.text->str, ==, "2.0.0 Ok: queued as 4Q1x");
	g_assert_true(r.done);
	/* Nothing may follow a last line. */
	g_assert_cmpint(smtp_reply_line(&r, "250 more", 8), ==, SMTP_E_PROTOCOL);
	smtp_reply_clear(&r);

	/* A bare code is a complete reply with no text. */
	g_assert_cmpint(feed(&r, "354"), ==, 1);
	g_assert_cmpint(r.code, ==, 354);
	g_assert_cmpstr(r.text->str, ==, "");
	smtp_reply_clear(&r);
}

static void test_reply_multiline(void)
{
	struct smtp_reply r = { 0 };
	g_assert_cmpint(smtp_reply_line(&r, "250-mx.example.org", 18), ==, 0);
	g_assert_false(r.done);
	g_assert_cmpint(smtp_reply_line(&r, "250-PIPELINING", 14), ==, 0);
	g_assert_cmpint(smtp_reply_line(&r, "250 STARTTLS", 12), ==, 1);
	g_assert_cmpint(r.lines, ==, 3);
	g_assert_cmpstr(r.text->str, ==, "mx.example.org\nPIPELINING\nSTARTTLS");
	smtp_reply_clear(&r);

	/* The code may not change between the lines of one reply. */
	g_assert_cmpint(smtp_reply_line(&r, "250-a", 5), ==, 0);
	g_assert_cmpint(smtp_reply_line(&r, "550 b", 5), ==, SMTP_E_PROTOCOL);
	smtp_reply_clear(&r);
}

static void test_reply_malformed(void)
{
	static const char *const bad[] = {
		"",         "25",     "abc hello", "199 too low", "600 too high", "2x0 x",
		"250xtext", "250_ok", " 250",      "250\tok",     "099 x",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct smtp_reply r = { 0 };
		if (smtp_reply_line(&r, bad[i], strlen(bad[i])) != SMTP_E_PROTOCOL)
			g_error("accepted malformed reply line \"%s\"", bad[i]);
		smtp_reply_clear(&r);
	}
	/* A NUL inside the line. */
	struct smtp_reply r = { 0 };
	g_assert_cmpint(smtp_reply_line(&r, "250 a\0b", 7), ==, SMTP_E_PROTOCOL);
	smtp_reply_clear(&r);
}

static void test_reply_bounds(void)
{
	struct smtp_reply r = { 0 };
	/* The longest line allowed (with its CRLF: SMTP_MAX_LINE), and one more. */
	g_autofree char *line = g_strnfill(SMTP_MAX_LINE - 2, 'x');
	memcpy(line, "250 ", 4);
	g_assert_cmpint(smtp_reply_line(&r, line, strlen(line)), ==, 1);
	smtp_reply_clear(&r);
	g_autofree char *longer = g_strnfill(SMTP_MAX_LINE - 1, 'x');
	memcpy(longer, "250 ", 4);
	g_assert_cmpint(smtp_reply_line(&r, longer, strlen(longer)), ==, SMTP_E_PROTOCOL);
	smtp_reply_clear(&r);

	/* SMTP_MAX_LINES lines, and not one more. */
	for (unsigned i = 0; i + 1 < SMTP_MAX_LINES; i++)
		g_assert_cmpint(smtp_reply_line(&r, "250-x", 5), ==, 0);
	g_assert_cmpint(smtp_reply_line(&r, "250 x", 5), ==, 1);
	smtp_reply_clear(&r);
	for (unsigned i = 0; i < SMTP_MAX_LINES; i++)
		g_assert_cmpint(smtp_reply_line(&r, "250-x", 5), ==, 0);
	g_assert_cmpint(smtp_reply_line(&r, "250 x", 5), ==, SMTP_E_PROTOCOL);
	smtp_reply_clear(&r);

	/* Long lines run into the byte bound before the line bound. */
	g_autofree char *cont = g_strnfill(SMTP_MAX_LINE - 2, 'y');
	memcpy(cont, "250-", 4);
	unsigned fit = SMTP_MAX_REPLY / SMTP_MAX_LINE, i;
	int v = 0;
	for (i = 0; i < SMTP_MAX_LINES && (v = smtp_reply_line(&r, cont, strlen(cont))) == 0; i++)
		;
	g_assert_cmpint(v, ==, SMTP_E_PROTOCOL);
	g_assert_cmpuint(i, ==, fit);
	g_assert_cmpuint(r.bytes, <=, SMTP_MAX_REPLY);
	smtp_reply_clear(&r);
}

static void test_ehlo_caps(void)
{
	g_assert_cmpuint(smtp_ehlo_caps("mx.example.org\nPIPELINING\nSIZE 10240000\nSTARTTLS\n8BITMIME"), ==,
			 SMTP_CAP_STARTTLS | SMTP_CAP_8BITMIME);
	g_assert_cmpuint(smtp_ehlo_caps("mx\nAUTH PLAIN LOGIN\nSMTPUTF8"), ==,
			 SMTP_CAP_AUTH_PLAIN | SMTP_CAP_AUTH_LOGIN | SMTP_CAP_SMTPUTF8);
	g_assert_cmpuint(smtp_ehlo_caps("mx\nauth=login xoauth2"), ==, SMTP_CAP_AUTH_LOGIN | SMTP_CAP_AUTH_XOAUTH2);
	g_assert_cmpuint(smtp_ehlo_caps("mx\nAUTH CRAM-MD5 PLAINX"), ==, 0);
	/* The first line is the server's name, not a keyword. */
	g_assert_cmpuint(smtp_ehlo_caps("STARTTLS"), ==, 0);
	g_assert_cmpuint(smtp_ehlo_caps("mx\nSTARTTLSX\nXSTARTTLS"), ==, 0);
	g_assert_cmpuint(smtp_ehlo_caps(""), ==, 0);
}

static void expect_stuffed(const char *in, const char *out)
{
	size_t n;
	g_autofree char *got = smtp_dot_stuff(in, strlen(in), &n);
	g_assert_cmpuint(n, ==, strlen(out));
	if (memcmp(got, out, n) != 0)
		g_error("dot-stuffing \"%s\": got \"%.*s\"", in, (int)n, got);
}

static void test_dot_stuff(void)
{
	expect_stuffed("a\nb\n", "a\r\nb\r\n.\r\n");
	expect_stuffed("a\r\nb\r\n", "a\r\nb\r\n.\r\n");
	expect_stuffed("a\nb", "a\r\nb\r\n.\r\n");
	expect_stuffed("", ".\r\n");
	expect_stuffed(".\n", "..\r\n.\r\n");
	expect_stuffed("x\n.hidden\n..two\n", "x\r\n..hidden\r\n...two\r\n.\r\n");
	expect_stuffed(".first", "..first\r\n.\r\n");
	/* Only at the start of a line. */
	expect_stuffed("a.b\n a\n", "a.b\r\n a\r\n.\r\n");
	/* A lone CR is a line end too (a bare CR may not reach the server). */
	expect_stuffed("a\rb\r\n\r\n", "a\r\nb\r\n\r\n.\r\n");
	expect_stuffed("a\r.b", "a\r\n..b\r\n.\r\n");
	/* The end-of-data line can never be produced by the message. */
	expect_stuffed("a\r\n.\r\nRCPT TO:<x@y>\r\n", "a\r\n..\r\nRCPT TO:<x@y>\r\n.\r\n");
	/* Bytes other than line ends pass unchanged, 8-bit and NUL included. */
	static const char bin[] = "\xc3\xa6\xc3\xb8\0z\n";
	size_t n;
	g_autofree char *got = smtp_dot_stuff(bin, sizeof(bin) - 1, &n);
	g_assert_cmpuint(n, ==, 6 + 2 + 3);
	g_assert_cmpmem(got, n, "\xc3\xa6\xc3\xb8\0z\r\n.\r\n", 11);
}

static void test_auth(void)
{
	char *s = smtp_auth_plain("user@example.org", "hunter2");
	gsize n;
	g_autofree guchar *raw = g_base64_decode(s, &n);
	g_assert_cmpmem(raw, n, "\0user@example.org\0hunter2", 25);
	/* RFC 4616's example. */
	smtp_secret_free(s);
	s = smtp_auth_plain("tim", "tanstaaftanstaaf");
	g_assert_cmpstr(s, ==, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	smtp_secret_free(s);

	/* Google's XOAUTH2 example. */
	s = smtp_auth_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	g_assert_cmpstr(s, ==,
			"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52"
			"YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	smtp_secret_free(s);

	s = smtp_auth_base64("username");
	g_assert_cmpstr(s, ==, "dXNlcm5hbWU=");
	smtp_secret_free(s);
	s = smtp_auth_base64("");
	g_assert_cmpstr(s, ==, "");
	smtp_secret_free(s);
	smtp_secret_free(NULL);
}

static void test_address(void)
{
	g_assert_true(smtp_address_ok("ansoeger@example.org"));
	g_assert_true(smtp_address_ok("")); /* the null reverse-path */
	g_assert_true(smtp_address_ok("\"odd\"@example.org"));
	g_assert_false(smtp_address_ok("a@b>\r\nRCPT TO:<c@d"));
	g_assert_false(smtp_address_ok("a@b\n"));
	g_assert_false(smtp_address_ok("a b@c"));
	g_assert_false(smtp_address_ok("<a@b>"));
	g_assert_false(smtp_address_ok("a@b\x7f"));
	g_autofree char *longest = g_strnfill(SMTP_MAX_ADDRESS, 'a');
	g_assert_true(smtp_address_ok(longest));
	g_autofree char *too_long = g_strnfill(SMTP_MAX_ADDRESS + 1, 'a');
	g_assert_false(smtp_address_ok(too_long));
}

static void test_open_bad_settings(void)
{
	struct smtp_settings s = { .host = "127.0.0.1", .port = 1, .timeout_ms = 1000, .helo = "bad helo" };
	struct smtp *c = (struct smtp *)0x1;
	char *why = NULL;
	g_assert_cmpint(smtp_open(&s, &c, &why), ==, SMTP_E_PROTOCOL);
	g_assert_true(c == (struct smtp *)0x1);
	g_assert_nonnull(strstr(why, "EHLO"));
	g_free(why);
	why = NULL;
	s.helo = NULL;
	s.username = "u";
	s.auth = SMTP_AUTH_PLAIN;
	s.secret = "pw\r\nQUIT";
	g_assert_cmpint(smtp_open(&s, &c, &why), ==, SMTP_E_PROTOCOL);
	g_assert_null(strstr(why, "pw"));
	g_free(why);
	g_assert_cmpstr(smtp_errmsg(NULL), ==, "");
	g_assert_cmpint(smtp_last_code(NULL), ==, 0);
	g_assert_false(smtp_usable(NULL));
	smtp_close(NULL);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smtp/reply/single", test_reply_single);
	g_test_add_func("/smtp/reply/multiline", test_reply_multiline);
	g_test_add_func("/smtp/reply/malformed", test_reply_malformed);
	g_test_add_func("/smtp/reply/bounds", test_reply_bounds);
	g_test_add_func("/smtp/ehlo-caps", test_ehlo_caps);
	g_test_add_func("/smtp/dot-stuff", test_dot_stuff);
	g_test_add_func("/smtp/auth", test_auth);
	g_test_add_func("/smtp/address", test_address);
	g_test_add_func("/smtp/open-bad-settings", test_open_bad_settings);
	return g_test_run();
}
