/* Unit tests for received: the edge arrival from Received: headers. */
#include "received.h"

#include <glib.h>

/* Danish summer time: 23:59:40 +0200 on the deadline day. */
#define T_EDGE 1656712780    /* 2022-07-01T23:59:40+02:00 */
#define T_ARRIVAL 1656712862 /* 2022-07-02T00:01:02+02:00, INTERNALDATE */

static const char *const relays[] = { "*.prod.outlook.com", "mx*.sum.dk", NULL };

/* Exchange Online: the mailbox server from a server of the same tenant,
 * which took it from the front end, which took it from outside. */
#define EXO_MAILBOX                                                                                    \
	"from AM6PR02MB1111.eurprd02.prod.outlook.com (2603:10a6:20b:ac::30) by\r\n"                   \
	" AM0PR02MB2222.eurprd02.prod.outlook.com (2603:10a6:208:12::14) with Microsoft SMTP\r\n"      \
	" Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.5395.17;\r\n" \
	" Sat, 2 Jul 2022 00:01:01 +0200"
#define EXO_EDGE                                                                                                \
	"from mail-eopbgr80050.outbound.protection.outlook.com (40.107.8.50) by\r\n"                            \
	" AM6PR02MB1111.eurprd02.prod.outlook.com (2603:10a6:20b:ac::30) with Microsoft SMTP Server\r\n"        \
	" (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.5395.17; Fri, 1 Jul 2022\r\n" \
	" 21:59:40 +0000"
/* The sender's own servers: written before the hand-over, whatever they name. */
#define SENDER_FORGED \
	"from pc.example.org (pc.example.org [192.0.2.7]) by mx9.sum.dk (Postfix) with ESMTP id 1; Fri, 1 Jul 2022 20:00:00 +0200"
#define SENDER "from pc.example.org by smtp.example.org (Postfix) with ESMTP id 2; Fri, 1 Jul 2022 23:59:30 +0200"

/* Postfix on the authority's MX, from outside, then an internal hop. */
#define PF_INNER \
	"from mx1.sum.dk (mx1.sum.dk [10.0.0.5])\r\n\tby imap.sum.dk (Postfix) with ESMTPS id 4LZ; Sat,  2 Jul 2022 00:01:00 +0200 (CEST)"
#define PF_EDGE                                                                                                                            \
	"from smtp.example.org (smtp.example.org [192.0.2.25])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n" \
	"\tby mx1.sum.dk (Postfix) with ESMTPS id 4LY\r\n\tfor <puljer@sum.dk>; Fri,  1 Jul 2022 23:59:40 +0200 (CEST)"

static const char *const pf_relays[] = { "mx*.sum.dk", "imap.sum.dk", NULL };

struct walk_case {
	const char *name;
	const char *const *relays;
	const char *headers[5];
	bool has_arrival;
	int64_t arrival;
	enum received_why why;
	size_t index;
	int64_t when;
};

static const struct walk_case walk_cases[] = {
	/* Exchange: trusted chain down to the hand-over from outside. */
	{ "exo-chain", relays, { EXO_MAILBOX, EXO_EDGE, SENDER }, true, T_ARRIVAL, RECEIVED_EDGE, 1, T_EDGE },
	/* A forged header naming a trusted host below the hand-over is the sender's claim. */
	{ "exo-forged-below",
	  relays,
	  { EXO_MAILBOX, EXO_EDGE, SENDER_FORGED },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  1,
	  T_EDGE },
	/* Postfix: mx1 took it from outside; imap from mx1 (verified name). */
	{ "postfix-chain", pf_relays, { PF_INNER, PF_EDGE, SENDER }, true, T_ARRIVAL, RECEIVED_EDGE, 1, T_EDGE },
	/* An untrusted header on top stops the walk at once. */
	{ "untrusted-top", relays, { SENDER, EXO_MAILBOX, EXO_EDGE }, true, T_ARRIVAL, RECEIVED_UNTRUSTED_TOP, 0, 0 },
	/* The sender forged a trusted-looking header below its own (untrusted) one:
	 * the top one stamped by a trusted relay took it from smtp.example.org. */
	{ "forged-below-untrusted",
	  relays,
	  { "from smtp.example.org (smtp.example.org [192.0.2.25]) by mx1.sum.dk (Postfix); Fri, 1 Jul 2022 23:59:50 +0200",
	    SENDER_FORGED },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  0,
	  T_EDGE + 10 },
	/* The verified name in parentheses decides over the HELO name. */
	{ "helo-lies",
	  relays,
	  { "from mx2.sum.dk (smtp.example.org [192.0.2.25]) by mx1.sum.dk (Postfix); Fri, 1 Jul 2022 23:59:40 +0200",
	    "from a by mx3.sum.dk; Fri, 1 Jul 2022 20:00:00 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  0,
	  T_EDGE },
	{ "verified-trusted",
	  relays,
	  { "from helo.example (mx2.sum.dk [10.0.0.2]) by mx1.sum.dk (Postfix); Fri, 1 Jul 2022 23:59:45 +0200",
	    "from smtp.example.org (smtp.example.org [192.0.2.25]) by mx2.sum.dk (Postfix); Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  1,
	  T_EDGE },
	/* "unknown": the server could not verify the HELO name; it is not believed. */
	{ "unknown-not-trusted",
	  relays,
	  { "from mx2.sum.dk (unknown [192.0.2.25]) by mx1.sum.dk (Postfix); Fri, 1 Jul 2022 23:59:40 +0200",
	    "from a by mx2.sum.dk; Fri, 1 Jul 2022 20:00:00 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  0,
	  T_EDGE },
	/* Exim: the verified name first, helo= in the comment. */
	{ "exim",
	  relays,
	  { "from mx2.sum.dk ([10.0.0.2] helo=whatever) by mx1.sum.dk with esmtp (Exim 4.96) id 1; Fri, 1 Jul 2022 23:59:45 +0200",
	    "from [192.0.2.25] (helo=mx7.sum.dk) by mx2.sum.dk with esmtp (Exim 4.96) id 2; Fri, 1 Jul 2022 23:59:40 +0200",
	    SENDER_FORGED },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  1,
	  T_EDGE },
	/* The bottom header is still inside: the edge is that header. */
	{ "all-inside",
	  relays,
	  { "by mx1.sum.dk (Postfix, from userid 0) id 9; Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  0,
	  T_EDGE },
	{ "unparseable-date",
	  relays,
	  { "from a.example by mx1.sum.dk; yesterday at midnight" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_BAD_DATE,
	  0,
	  0 },
	{ "no-date", relays, { "from a.example by mx1.sum.dk id 4" }, true, T_ARRIVAL, RECEIVED_BAD_DATE, 0, 0 },
	/* The edge time may not lie after INTERNALDATE by more than the skew (300 s). */
	{ "after-arrival",
	  relays,
	  { "from a.example by mx1.sum.dk; Sat, 2 Jul 2022 00:06:03 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_AFTER_ARRIVAL,
	  0,
	  0 },
	{ "within-skew",
	  relays,
	  { "from a.example by mx1.sum.dk; Sat, 2 Jul 2022 00:06:02 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  0,
	  T_ARRIVAL + 300 },
	{ "no-arrival", relays, { PF_EDGE }, false, 0, RECEIVED_NO_ARRIVAL, 0, 0 },
	{ "no-headers", relays, { NULL }, true, T_ARRIVAL, RECEIVED_NO_HEADERS, 0, 0 },
	{ "no-relays", NULL, { PF_EDGE }, true, T_ARRIVAL, RECEIVED_NO_RELAYS, 0, 0 },
	/* A header without "by" (or with an address literal) is not stamped by a trusted relay. */
	{ "no-by",
	  relays,
	  { "from mx1.sum.dk; Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_UNTRUSTED_TOP,
	  0,
	  0 },
	{ "by-literal",
	  relays,
	  { "from a.example by [10.0.0.1]; Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_UNTRUSTED_TOP,
	  0,
	  0 },
	/* "by" inside a comment is not the stamp; case does not matter. */
	{ "by-in-comment",
	  relays,
	  { "FROM a.example (x by mx1.sum.dk) BY MX1.SUM.DK.; Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_EDGE,
	  0,
	  T_EDGE },
	{ "by-only-in-comment",
	  relays,
	  { "from a.example (by mx1.sum.dk) via x; Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_UNTRUSTED_TOP,
	  0,
	  0 },
	/* The glob: '*' does not make "sum.dk" match "mx*.sum.dk"'s tail alone. */
	{ "glob-miss",
	  relays,
	  { "from a.example by sum.dk; Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_UNTRUSTED_TOP,
	  0,
	  0 },
	{ "glob-lookalike",
	  relays,
	  { "from a.example by mx1.sum.dk.evil.example; Fri, 1 Jul 2022 23:59:40 +0200" },
	  true,
	  T_ARRIVAL,
	  RECEIVED_UNTRUSTED_TOP,
	  0,
	  0 },
};

static void test_walk(gconstpointer data)
{
	const struct walk_case *c = data;
	size_t n = 0;
	while (n < G_N_ELEMENTS(c->headers) && c->headers[n])
		n++;
	struct received_edge e;
	received_edge(c->headers, n, c->relays, c->has_arrival, c->arrival, RECEIVED_DEFAULT_MAX_SKEW, &e);
	g_assert_cmpstr(received_why_name(e.why), ==, received_why_name(c->why));
	if (c->why == RECEIVED_EDGE || c->why == RECEIVED_BAD_DATE || c->why == RECEIVED_AFTER_ARRIVAL)
		g_assert_cmpuint(e.index, ==, c->index);
	if (c->why == RECEIVED_EDGE)
		g_assert_cmpint(e.when, ==, c->when);
}

struct date_case {
	const char *text;
	int64_t when; /* 0: refused */
	int offset;
};

static const struct date_case date_cases[] = {
	{ "Fri, 1 Jul 2022 21:59:40 +0000", T_EDGE, 0 },
	{ " Fri,  1 Jul 2022 23:59:40 +0200 (CEST)", T_EDGE, 120 },
	{ "1 Jul 2022 23:59:40 +0200", T_EDGE, 120 },
	{ "Fri, 01 Jul 2022 17:59:40 EDT", T_EDGE, -240 },
	{ "Fri, 1 Jul 2022 21:59:40 GMT", T_EDGE, 0 },
	{ "Fri, 1 Jul 22 21:59:40 -0000", T_EDGE, 0 },
	{ "fri, 1 JUL 2022 21:59 +0000", T_EDGE - 40, 0 },
	{ "Fri, 1 Jul 2022 21:59:40 +0000 (UTC) ", T_EDGE, 0 },
	{ "Thu, 29 Feb 2024 12:00:00 +0100", 1709204400, 60 },
	/* refused */
	{ "Fri, 1 Jul 2022 23:59:40 CEST", 0, 0 },
	{ "Fri, 31 Jun 2022 12:00:00 +0000", 0, 0 },
	{ "Thu, 29 Feb 2023 12:00:00 +0000", 0, 0 },
	{ "Fri, 1 Jul 2022 24:00:00 +0000", 0, 0 },
	{ "Fri, 1 Jul 2022 23:59:40 +0260", 0, 0 },
	{ "Fri, 1 Jul 2022 23:59:40", 0, 0 },
	{ "Fri, 1 Jul 2022 23:59:40 +0000 garbage", 0, 0 },
	{ "Fri 1 Jul 2022 23:59:40 +0000", 0, 0 },
	{ "Fry, 1 Jul 2022 23:59:40 +0000", 0, 0 },
	{ "2022-07-01T23:59:40+02:00", 0, 0 },
	{ "", 0, 0 },
	{ "(unclosed", 0, 0 },
	{ "Fri, 1 Jul 2022 23:59:40 +0000 (unclosed", 0, 0 },
};

static void test_dates(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(date_cases); i++) {
		const struct date_case *c = &date_cases[i];
		int64_t when = 42;
		int offset = 42;
		int r = received_parse_date(c->text, &when, &offset);
		g_test_message("date \"%s\"", c->text);
		if (c->when) {
			g_assert_cmpint(r, ==, 0);
			g_assert_cmpint(when, ==, c->when);
			g_assert_cmpint(offset, ==, c->offset);
		} else {
			g_assert_cmpint(r, <, 0);
			g_assert_cmpint(when, ==, 42); /* untouched on failure */
		}
	}
	int64_t when;
	int offset;
	g_assert_cmpint(received_parse_date(NULL, &when, &offset), <, 0);
}

static void test_hop(void)
{
	struct received_hop h;
	received_parse_hop(EXO_EDGE, &h);
	g_assert_cmpstr(h.from, ==, "mail-eopbgr80050.outbound.protection.outlook.com");
	g_assert_cmpstr(h.by, ==, "am6pr02mb1111.eurprd02.prod.outlook.com");
	g_assert_false(h.from_unverified);
	g_assert_cmpstr(h.date, ==, " Fri, 1 Jul 2022 21:59:40 +0000");
	received_hop_clear(&h);
	received_parse_hop(PF_EDGE, &h);
	g_assert_cmpstr(h.from, ==, "smtp.example.org");
	g_assert_cmpstr(h.by, ==, "mx1.sum.dk");
	received_hop_clear(&h);
	received_parse_hop("from helo (ident@real.example [192.0.2.1] (may be forged)) by x.example; date", &h);
	g_assert_null(h.from);
	g_assert_true(h.from_unverified);
	g_assert_cmpstr(h.by, ==, "x.example");
	received_hop_clear(&h);
	received_parse_hop("from helo (ident@real.example [192.0.2.1]) by x.example", &h);
	g_assert_cmpstr(h.from, ==, "real.example");
	g_assert_null(h.date);
	received_hop_clear(&h);
	received_parse_hop("", &h);
	g_assert_null(h.from);
	g_assert_null(h.by);
	received_hop_clear(&h);
	received_parse_hop(NULL, &h);
	g_assert_null(h.by);
	/* Hostile: deep and unbalanced parentheses, many words. */
	GString *s = g_string_new("from ");
	for (int i = 0; i < 5000; i++)
		g_string_append(s, "(a ");
	g_string_append(s, "by mx1.sum.dk; Fri, 1 Jul 2022 23:59:40 +0200");
	received_parse_hop(s->str, &h);
	g_assert_null(h.by);
	received_hop_clear(&h);
	g_string_assign(s, "");
	for (int i = 0; i < 5000; i++)
		g_string_append(s, "w ");
	g_string_append(s, "by mx1.sum.dk; Fri, 1 Jul 2022 23:59:40 +0200");
	received_parse_hop(s->str, &h);
	g_assert_cmpstr(h.by, ==, "mx1.sum.dk"); /* however many words come first */
	received_hop_clear(&h);
	g_string_free(s, TRUE);
}

static void test_glob(void)
{
	g_assert_true(received_host_match("*.prod.outlook.com", "AM0PR02MB2222.eurprd02.PROD.outlook.com"));
	g_assert_true(received_host_match("*.prod.outlook.com", "a.prod.outlook.com."));
	g_assert_false(received_host_match("*.prod.outlook.com", "prod.outlook.com"));
	g_assert_false(received_host_match("*.prod.outlook.com", "a.prod.outlook.com.evil"));
	g_assert_true(received_host_match("mx?.sum.dk", "mx1.sum.dk"));
	g_assert_false(received_host_match("mx?.sum.dk", "mx12.sum.dk"));
	g_assert_true(received_host_match("mx*.sum.dk", "mx12.sum.dk"));
	g_assert_true(received_host_match("*", "anything"));
	g_assert_true(received_host_match("a**b", "ab"));
	g_assert_false(received_host_match("mx1.sum.dk", NULL));
	g_assert_true(received_pattern_valid("*.prod.outlook.com"));
	g_assert_false(received_pattern_valid("mx1.sum.dk;"));
	g_assert_false(received_pattern_valid("[10.0.0.1]"));
	g_assert_false(received_pattern_valid(""));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(walk_cases); i++) {
		g_autofree char *path = g_strdup_printf("/received/walk/%s", walk_cases[i].name);
		g_test_add_data_func(path, &walk_cases[i], test_walk);
	}
	g_test_add_func("/received/dates", test_dates);
	g_test_add_func("/received/hop", test_hop);
	g_test_add_func("/received/glob", test_glob);
	return g_test_run();
}
