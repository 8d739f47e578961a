/* Unit tests for receipt: the header facts, the decision (every reason
 * never to send), its words, the Message-ID, the template and its
 * placeholders, quoted-printable and RFC 2047, and the composed message. */
#include "receipt.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#include "record.h"

static void parse(const char *raw, struct receipt_facts *f)
{
	g_assert_cmpint(receipt_facts_parse((const uint8_t *)raw, strlen(raw), f), ==, 0);
}

/* ---- facts ---------------------------------------------------------------- */

static void test_facts(void)
{
	g_auto(ReceiptFacts) f = { 0 };
	parse("Return-Path: <Anna@Kommune.example>\r\n"
	      "Received: from x\r\n"
	      "\tby y; Fri, 1 Jul 2022 10:00:00 +0200\r\n"
	      "junk line without a colon\r\n"
	      "From: \"Hansen, Anna <chef>\" (Kommunen) <anna.hansen@kommune.example>\r\n"
	      "Auto-Submitted: Auto-Replied; owner-email=\"x@y\"\r\n"
	      "Precedence: Bulk\r\n"
	      "List-Unsubscribe: <mailto:u@l.example>\r\n"
	      "Content-Type: multipart/report;\r\n"
	      " report-type=delivery-status; boundary=x\r\n"
	      "X-Autoreply: yes\r\n"
	      "X-Auto-Response-Suppress: DR, AutoReply\r\n"
	      "Message-ID: <abc.123@kommune.example>\r\n"
	      "References: <r1@x> junk <r2@x>\r\n"
	      "\t<r3@x>\r\n"
	      "Return-Path: <second@example.org>\r\n"
	      "\r\n"
	      "List-Id: in the body, not a header\r\n",
	      &f);
	g_assert_cmpstr(f.return_path, ==, "Anna@Kommune.example");
	g_assert_cmpstr(f.from_addr, ==, "anna.hansen@kommune.example");
	g_assert_cmpstr(f.auto_submitted, ==, "auto-replied");
	g_assert_cmpstr(f.precedence, ==, "bulk");
	g_assert_cmpstr(f.list_header, ==, "List-Unsubscribe");
	g_assert_true(f.report);
	g_assert_cmpstr(f.autoreply_header, ==, "X-Autoreply");
	g_assert_cmpstr(f.suppress, ==, "DR, AutoReply");
	g_assert_cmpstr(f.message_id, ==, "<abc.123@kommune.example>");
	g_assert_cmpstr(f.references, ==, "<r1@x> <r2@x> <r3@x>");
	g_assert_cmpstr(receipt_recipient(&f), ==, "Anna@Kommune.example");

	/* Nothing of the kind: all absent. */
	g_auto(ReceiptFacts) g = { 0 };
	parse("From: plain@example.org (Plain Person)\nSubject: x\nContent-Type: text/plain\n"
	      "X-Auto-Response-Suppress: DR\nMessage-ID: not an id\n\nbody\n",
	      &g);
	g_assert_null(g.return_path);
	g_assert_cmpstr(g.from_addr, ==, "plain@example.org");
	g_assert_null(g.auto_submitted);
	g_assert_null(g.precedence);
	g_assert_null(g.list_header);
	g_assert_false(g.report);
	g_assert_null(g.autoreply_header);
	g_assert_null(g.suppress);
	g_assert_null(g.message_id);
	g_assert_null(g.references);
	g_assert_cmpstr(receipt_recipient(&g), ==, "plain@example.org");

	/* A null sender; a group; a source route. */
	g_auto(ReceiptFacts) h = { 0 };
	parse("Return-Path: <>\nFrom: Team: a@b.example, c@d.example;\nMessage-ID: <m@x>\n", &h);
	g_assert_cmpstr(h.return_path, ==, "");
	g_assert_null(receipt_recipient(&h));
	g_assert_cmpstr(h.from_addr, ==, "a@b.example");
	g_auto(ReceiptFacts) k = { 0 };
	parse("Return-Path: <@relay.example:user@host.example>\n\n", &k);
	g_assert_cmpstr(k.return_path, ==, "user@host.example");

	/* A msg-id longer than RECEIPT_ID_MAX is dropped. */
	g_autofree char *local = g_strnfill(RECEIPT_ID_MAX, 'i');
	g_autofree char *long_id =
		g_strdup_printf("Message-ID: <%s@x>\r\nReferences: <%s@x> <ok@x>\r\n\r\n", local, local);
	g_auto(ReceiptFacts) l = { 0 };
	parse(long_id, &l);
	g_assert_null(l.message_id);
	g_assert_cmpstr(l.references, ==, "<ok@x>");

	/* No header at all. */
	g_auto(ReceiptFacts) e = { 0 };
	g_assert_cmpint(receipt_facts_parse((const uint8_t *)"\r\nbody", 6, &e), ==, -EINVAL);
	g_assert_null(e.from_addr);

	/* Control characters and CR inside values do not survive. */
	g_auto(ReceiptFacts) c = { 0 };
	parse("X-Auto-Response-Suppress: All,\x01\x1b[31m\r\nFrom: <a\x07@b.example>\r\n\r\n", &c);
	g_assert_cmpstr(c.suppress, ==, "All,[31m");
	g_assert_cmpstr(c.from_addr, ==, "a@b.example");
}

/* Only the first RECEIPT_HEADER_MAX bytes are read; more references than
 * kept keep the first and the newest. */
static void test_facts_bounds(void)
{
	GString *raw = g_string_new("From: a@b.example\r\nReferences:");
	for (int i = 0; i < 100; i++)
		g_string_append_printf(raw, " <r%d@x>", i);
	g_string_append(raw, "\r\n");
	while (raw->len < RECEIPT_HEADER_MAX)
		g_string_append(raw, "X-Filler: 0123456789012345678901234567890123456789\r\n");
	g_string_append(raw, "Auto-Submitted: auto-generated\r\n\r\n");
	g_auto(ReceiptFacts) f = { 0 };
	g_assert_cmpint(receipt_facts_parse((const uint8_t *)raw->str, raw->len, &f), ==, 0);
	g_assert_null(f.auto_submitted);
	g_auto(GStrv) refs = g_strsplit(f.references, " ", -1);
	g_assert_cmpuint(g_strv_length(refs), ==, RECEIPT_REFERENCES_MAX);
	g_assert_cmpstr(refs[0], ==, "<r0@x>");
	g_assert_cmpstr(refs[RECEIPT_REFERENCES_MAX - 1], ==, "<r99@x>");
	g_string_free(raw, TRUE);
}

/* Every message of the corpus (fixtures/mime, fixtures/fuzz): its facts
 * parse, and no string holds a control character. */
static void test_facts_corpus(void)
{
	const char *fixtures = g_getenv("PULJED_FIXTURES");
	g_assert_nonnull(fixtures);
	static const char *const dirs[] = { "mime", "fuzz" };
	size_t n = 0;
	for (size_t d = 0; d < G_N_ELEMENTS(dirs); d++) {
		g_autofree char *path = g_build_filename(fixtures, dirs[d], NULL);
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		g_assert_nonnull(dir);
		for (const char *name; (name = g_dir_read_name(dir));) {
			g_autofree char *file = g_build_filename(path, name, NULL);
			g_autofree char *raw = NULL;
			gsize len = 0;
			if (!g_file_test(file, G_FILE_TEST_IS_REGULAR) || !g_file_get_contents(file, &raw, &len, NULL))
				continue;
			g_auto(ReceiptFacts) f = { 0 };
			(void)receipt_facts_parse((const uint8_t *)raw, len, &f);
			const char *const strings[] = { f.return_path, f.from_addr,   f.auto_submitted,
							f.precedence,  f.list_header, f.autoreply_header,
							f.suppress,    f.message_id,  f.references };
			for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
				for (const char *p = strings[i]; p && *p; p++)
					if ((unsigned char)*p < 0x20 || *p == 0x7f)
						g_error("%s: a control character in field %zu", file, i);
			n++;
		}
	}
	g_test_message("%zu messages", n);
	g_assert_cmpuint(n, >, 50);
}

/* ---- the decision ---------------------------------------------------------- */

#define ALL_DEFAULT ((1u << RULES_ACCEPTED) | (1u << RULES_REVIEW) | (1u << RULES_LATE))

static void test_decide(void)
{
	static const char *const own[] = { "Styrelsen.example", "@sst.example" };
	const struct receipt_policy policy = {
		.statuses = ALL_DEFAULT,
		.from_addr = "puljer@sum.example",
		.account_addr = "ansoegning@mailhost.example",
		.own_domains = own,
		.n_own_domains = G_N_ELEMENTS(own),
		.max_per_sender = 10,
	};
	const struct receipt_record ok = { .status = RULES_ACCEPTED, .kind = RULES_KIND_APPLICATION };
	static const char base[] = "Return-Path: <anna@kommune.example>\r\nFrom: Anna <from@kommune.example>\r\n";
	/* clang-format off */
	static const struct {
		const char *header; /* after base, or the whole header when it starts with '!' */
		struct receipt_record r;
		unsigned statuses; /* 0: the policy's */
		enum receipt_skip want;
		const char *to;
		const char *why; /* a part of the sentence */
	} cases[] = {
		{ "", { RULES_ACCEPTED, RULES_KIND_APPLICATION, NULL, 0 }, 0, RECEIPT_SEND, "anna@kommune.example", "sendes" },
		{ "!From: Anna <from@kommune.example>\r\n", { RULES_LATE, RULES_KIND_APPLICATION, "broken", 0 }, 0,
		  RECEIPT_SEND, "from@kommune.example", NULL },
		{ "Auto-Submitted: no\r\n", { RULES_REVIEW, RULES_KIND_APPLICATION, NULL, 0 }, 0, RECEIPT_SEND,
		  "anna@kommune.example", NULL },
		{ "!Return-Path: <>\r\nFrom: a@b.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_NULL_SENDER,
		  NULL, "Return-Path: <>" },
		{ "Auto-Submitted: auto-replied\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_AUTOMATIC, NULL,
		  "automatisk post (Auto-Submitted: auto-replied) får aldrig kvittering" },
		{ "Auto-Submitted: auto-generated\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_AUTOMATIC, NULL,
		  "auto-generated" },
		{ "X-Autorespond: yes\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_AUTOMATIC, NULL, "X-Autorespond" },
		{ "X-Auto-Response-Suppress: All\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_AUTOMATIC, NULL,
		  "X-Auto-Response-Suppress: All" },
		{ "", { RULES_ACCEPTED, RULES_KIND_AUTO_REPLY, NULL, 0 }, 0, RECEIPT_SKIP_AUTOMATIC, NULL, "autosvar" },
		{ "Precedence: auto_reply\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_AUTOMATIC, NULL,
		  "Precedence: auto_reply" },
		{ "Content-Type: multipart/report; report-type=delivery-status\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0,
		  RECEIPT_SKIP_REPORT, NULL, "multipart/report" },
		{ "", { RULES_UNRELATED, RULES_KIND_DELIVERY_REPORT, NULL, 0 }, 0, RECEIPT_SKIP_REPORT, NULL, "leveringsrapport" },
		{ "List-Id: <pulje.lists.example>\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_LIST, NULL, "List-Id" },
		{ "List-Post: <mailto:l@lists.example>\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_LIST, NULL,
		  "List-Post" },
		{ "", { RULES_ACCEPTED, RULES_KIND_LIST, NULL, 0 }, 0, RECEIPT_SKIP_LIST, NULL, "listepost" },
		{ "Precedence: bulk\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BULK, NULL, "Precedence: bulk" },
		{ "Precedence: JUNK\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BULK, NULL, "Precedence: junk" },
		{ "Precedence: list\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BULK, NULL, "massepost" },
		{ "Precedence: first-class\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SEND, "anna@kommune.example", NULL },
		{ "", { RULES_UNRELATED, RULES_KIND_OTHER, NULL, 0 }, 0, RECEIPT_SKIP_UNRELATED, NULL, "ikke en ansøgning" },
		/* unrelated even when an operator lists it */
		{ "", { RULES_UNRELATED, RULES_KIND_OTHER, NULL, 0 }, ALL_DEFAULT | (1u << RULES_UNRELATED),
		  RECEIPT_SKIP_UNRELATED, NULL, NULL },
		{ "", { RULES_LATE, 0, NULL, 0 }, (1u << RULES_ACCEPTED), RECEIPT_SKIP_STATUS, NULL, "«For sent»" },
		{ "", { RULES_REVIEW, 0, NULL, 0 }, (1u << RULES_ACCEPTED), RECEIPT_SKIP_STATUS, NULL, "statuses" },
		{ "", { RULES_REVIEW, 0, "unparsed,too-large", 0 }, 0, RECEIPT_SKIP_TOO_LARGE, NULL, "for stor" },
		{ "", { RULES_REVIEW, 0, "gone", 0 }, 0, RECEIPT_SKIP_GONE, NULL, "forsvandt" },
		{ "", { RULES_REVIEW, 0, "gone-ish", 0 }, 0, RECEIPT_SEND, "anna@kommune.example", NULL },
		{ "", { RULES_ACCEPTED, 0, NULL, 17 }, 0, RECEIPT_SKIP_DUPLICATE, NULL, "post #17" },
		{ "!Subject: x\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_NO_ADDRESS, NULL, "hverken" },
		{ "!Return-Path: <not an address>\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BAD_ADDRESS, NULL,
		  "«not an address»" },
		{ "!From: localuser\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BAD_ADDRESS, NULL, NULL },
		{ "!From: a@b@c.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BAD_ADDRESS, NULL, NULL },
		{ "!From: a@-x.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BAD_ADDRESS, NULL, NULL },
		{ "!From: a@localhost\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_BAD_ADDRESS, NULL, NULL },
		{ "!Return-Path: <PULJER@SUM.EXAMPLE>\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_OWN_ADDRESS, NULL,
		  "PULJER@SUM.EXAMPLE" },
		{ "!Return-Path: <kollega@Sum.Example>\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_OWN_ADDRESS, NULL,
		  "egen" },
		{ "!From: x@post.sum.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_OWN_ADDRESS, NULL, NULL },
		{ "!From: x@notsum.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SEND, "x@notsum.example", NULL },
		{ "!From: ansoegning@mailhost.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_OWN_ADDRESS, NULL,
		  NULL },
		{ "!From: x@styrelsen.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_OWN_ADDRESS, NULL, NULL },
		{ "!From: x@SST.example\r\n", { RULES_ACCEPTED, 0, NULL, 0 }, 0, RECEIPT_SKIP_OWN_ADDRESS, NULL, NULL },
	};
	/* clang-format on */
	bool seen[RECEIPT_N_SKIP] = { false };
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *raw = cases[i].header[0] == '!' ? g_strconcat(cases[i].header + 1, "\r\n", NULL)
								 : g_strconcat(base, cases[i].header, "\r\n", NULL);
		g_auto(ReceiptFacts) f = { 0 };
		parse(raw, &f);
		struct receipt_policy p = policy;
		if (cases[i].statuses)
			p.statuses = cases[i].statuses;
		const char *to = "untouched";
		enum receipt_skip got = receipt_decide(&p, &cases[i].r, &f, &to);
		g_test_message("case %zu: %s", i, receipt_skip_name(got));
		g_assert_cmpstr(receipt_skip_name(got), ==, receipt_skip_name(cases[i].want));
		g_assert_cmpstr(to, ==, cases[i].to ? cases[i].to : "untouched");
		g_autofree char *why = receipt_skip_why(got, &p, &cases[i].r, &f);
		g_assert_true(g_utf8_validate(why, -1, NULL));
		if (cases[i].why && !strstr(why, cases[i].why))
			g_error("case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].why);
		seen[got] = true;
	}
	(void)ok;
	/* The rate cap is the caller's; every other value was reached. */
	for (unsigned v = 0; v < RECEIPT_N_SKIP; v++)
		if (v != RECEIPT_SKIP_RATE_LIMIT && !seen[v])
			g_error("no case gives %s", receipt_skip_name((enum receipt_skip)v));
	g_autofree char *rate = receipt_skip_why(RECEIPT_SKIP_RATE_LIMIT, &policy, &ok, NULL);
	g_assert_nonnull(strstr(rate, "allerede sendt 10 kvitteringer"));
}

/* Every value: a distinct token that parses back, a distinct Danish
 * sentence also without the details. */
static void test_skip_words(void)
{
	g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) whys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	static const char *const tokens[] = { "send",      "null-sender", "automatic",   "report",      "list",
					      "bulk",      "unrelated",   "status",      "too-large",   "gone",
					      "duplicate", "no-address",  "bad-address", "own-address", "rate-limit" };
	g_assert_cmpuint(G_N_ELEMENTS(tokens), ==, RECEIPT_N_SKIP);
	for (unsigned v = 0; v < RECEIPT_N_SKIP; v++) {
		const char *name = receipt_skip_name((enum receipt_skip)v);
		g_assert_cmpstr(name, ==, tokens[v]);
		g_assert_true(g_hash_table_add(names, (char *)name));
		enum receipt_skip back = v == 0 ? RECEIPT_SKIP_GONE : RECEIPT_SEND;
		g_assert_true(receipt_skip_parse(name, &back));
		g_assert_cmpint(back, ==, v);
		char *why = receipt_skip_why((enum receipt_skip)v, NULL, NULL, NULL);
		g_assert_true(g_utf8_validate(why, -1, NULL));
		g_assert_cmpuint(strlen(why), >, 10);
		g_assert_true(g_hash_table_add(whys, why));
	}
	enum receipt_skip s = RECEIPT_SKIP_LIST;
	g_assert_false(receipt_skip_parse("Automatic", &s));
	g_assert_false(receipt_skip_parse(NULL, &s));
	g_assert_cmpint(s, ==, RECEIPT_SKIP_LIST);
	g_assert_cmpstr(receipt_skip_name((enum receipt_skip)99), ==, "unknown");
}

static void test_address_ok(void)
{
	static const char *const good[] = { "a@b.dk", "anna.hansen+pulje@kommune.example", "x_y@sub.domain-1.example" };
	static const char *const bad[] = { "",         "a",         "@b.dk",      "a@",         "a@b",
					   "a b@c.dk", "a@b..dk",   "a@-b.dk",    "a@b-.dk",    ".a@b.dk",
					   "a.@b.dk",  "a..b@c.dk", "a@b.dk\r\n", "\"a\"@b.dk", "a@[1.2.3.4]",
					   "a@b_c.dk", "æ@b.dk" };
	for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(receipt_address_ok(good[i]));
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		if (receipt_address_ok(bad[i]))
			g_error("accepted \"%s\"", bad[i]);
	g_assert_false(receipt_address_ok(NULL));
	g_autofree char *local = g_strnfill(RECEIPT_ADDR_MAX, 'a');
	g_autofree char *longer = g_strdup_printf("%s@b.dk", local);
	g_assert_false(receipt_address_ok(longer));
}

static void test_message_id(void)
{
	g_autofree char *a = receipt_message_id(1656666000u, 42, "pulje-2022", "Sum.Example");
	g_assert_cmpstr(a, ==, "<receipt.1656666000.42.pulje-2022@sum.example>");
	g_autofree char *b = receipt_message_id(4294967295u, 0, "a.b c>", NULL);
	g_assert_cmpstr(b, ==, "<receipt.4294967295.0.a-b-c-@invalid>");
	g_autofree char *c = receipt_message_id(1, 2, NULL, "x.example");
	g_assert_cmpstr(c, ==, "<receipt.1.2.none@x.example>");
}

/* ---- the template ------------------------------------------------------------ */

static void test_template_check(void)
{
	static const struct {
		const char *text;
		const char *error; /* NULL: passes */
	} cases[] = {
		{ "Tak.\n", NULL },
		{ "{call}{call_id}{subject}{from}{arrival}{clock}{verdict}{deadline}{attachments}{signature}"
		  "{reference}{message_sha256}",
		  NULL },
		{ "{{literal}} and {{ and }}\n", NULL },
		{ "line 1\nline 2\nHej {foo} igen\n", "unknown placeholder {foo} on line 3" },
		{ "{Call}", "unknown placeholder {Call} on line 1" },
		{ "a\n{call\n}", "unbalanced brace { on line 2" },
		{ "a {", "unbalanced brace { on line 1" },
		{ "a\r\nb }\r\n", "unbalanced brace } on line 2" },
		{ "{}", "unknown placeholder {} on line 1" },
		{ "{call {call}}", "unbalanced brace { on line 1" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *error = NULL;
		int r = receipt_template_check(cases[i].text, &error);
		if (!cases[i].error) {
			g_assert_cmpint(r, ==, 0);
			g_assert_null(error);
		} else {
			g_assert_cmpint(r, ==, -EINVAL);
			g_assert_nonnull(error);
			if (!g_str_has_prefix(error, cases[i].error))
				g_error("case %zu: \"%s\", wanted \"%s\"", i, error, cases[i].error);
		}
	}
	g_autofree char *error = NULL;
	g_assert_cmpint(receipt_template_check(receipt_template_default(), &error), ==, 0);
}

/* The built-in text and conf/kvittering.txt are the same. */
static void test_template_file(void)
{
	const char *src = g_getenv("PULJED_SRCDIR");
	g_assert_nonnull(src);
	g_autofree char *path = g_build_filename(src, "conf", "kvittering.txt", NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) err = NULL;
	if (!g_file_get_contents(path, &text, NULL, &err))
		g_error("%s", err->message);
	g_assert_cmpstr(text, ==, receipt_template_default());
}

static const struct receipt_attachment attachments[] = {
	{ "Ansøgningsskema.pdf", 1234567, "aa11", true },
	{ "budget\r\nBcc: x@y.example.xlsx", 512, "bb22", false },
	{ NULL, 0, NULL, false },
};

/* A content with every field; 2022-07-01 12:03:12 UTC = 14:03:12 in
 * Copenhagen, the deadline 2022-07-01 23:59:59 there. */
static struct receipt_content content(void)
{
	return (struct receipt_content){
		.call_title = "Pulje til styrket indsats",
		.call_id = "pulje-2022",
		.subject = "Ansøgning: Pulje til styrket indsats – Aarhus Kommune",
		.from = "anna@kommune.example",
		.timezone = "Europe/Copenhagen",
		.arrival = 1656676992,
		.clock = RULES_BASIS_EDGE,
		.status = RULES_ACCEPTED,
		.on_time = 1,
		.has_deadline = true,
		.deadline_last = 1656712799,
		.attachments = attachments,
		.n_attachments = G_N_ELEMENTS(attachments),
		.has_form = true,
		.form_signature = { CMS_VALID, "Mette Hansen", false, false, NULL },
		.record_id = 42,
		.message_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	};
}

static char *ph(const struct receipt_content *c, const char *name)
{
	char *v = receipt_placeholder(c, name);
	g_assert_nonnull(v);
	return v;
}

#define ASSERT_PH(c, name, want)                   \
	do {                                       \
		g_autofree char *v_ = ph(c, name); \
		g_assert_cmpstr(v_, ==, want);     \
	} while (0)

static void test_placeholders(void)
{
	struct receipt_content c = content();
	ASSERT_PH(&c, "call", "Pulje til styrket indsats");
	ASSERT_PH(&c, "call_id", "pulje-2022");
	ASSERT_PH(&c, "subject", "Ansøgning: Pulje til styrket indsats – Aarhus Kommune");
	ASSERT_PH(&c, "from", "anna@kommune.example");
	ASSERT_PH(&c, "arrival", "1. juli 2022 kl. 14:03:12");
	ASSERT_PH(&c, "clock", "myndighedens mailserver");
	ASSERT_PH(&c, "verdict", "modtaget inden fristen");
	ASSERT_PH(&c, "deadline", "1. juli 2022 kl. 23:59:59");
	ASSERT_PH(&c, "attachments",
		  "- Ansøgningsskema.pdf — ansøgningsskema (1.234.567 bytes)\n  SHA-256 aa11\n"
		  "- budget  Bcc: x@y.example.xlsx (512 bytes)\n  SHA-256 bb22\n"
		  "- (uden navn) (0 bytes)\n  SHA-256 (ukendt)");
	ASSERT_PH(&c, "signature", "gyldig underskrift af Mette Hansen");
	ASSERT_PH(&c, "reference", "PJ-000042");
	ASSERT_PH(&c, "message_sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	g_assert_null(receipt_placeholder(&c, "nope"));

	c.clock = RULES_BASIS_ARRIVAL;
	ASSERT_PH(&c, "clock", "postkassens server");
	c.clock = RULES_BASIS_DATE_HEADER;
	ASSERT_PH(&c, "clock", "afsenderens Date-felt");

	/* The verdict: neutral words, never "godkendt". */
	c.status = RULES_LATE;
	c.on_time = 0;
	ASSERT_PH(&c, "verdict", "modtaget efter fristen 1. juli 2022 kl. 23:59:59");
	c.status = RULES_REVIEW;
	c.on_time = -1;
	ASSERT_PH(&c, "verdict", "modtaget — vil blive vurderet manuelt");
	c.on_time = 1;
	ASSERT_PH(&c, "verdict", "modtaget inden fristen — vil blive vurderet manuelt");
	c.has_deadline = false;
	ASSERT_PH(&c, "deadline", "ingen frist");

	/* The signature: "gyldig" only for one that holds. */
	c.form_signature = (struct receipt_signature){ CMS_VALID, "Mette", false, true, NULL };
	ASSERT_PH(&c, "signature", "underskriften af Mette er intakt, men underskriveren er ikke betroet");
	c.form_signature = (struct receipt_signature){ CMS_VALID, NULL, true, false, NULL };
	ASSERT_PH(&c, "signature", "dokumentet er ændret efter underskrift (underskriften er intakt)");
	c.form_signature = (struct receipt_signature){ CMS_INVALID, NULL, false, false, "digest mismatch" };
	ASSERT_PH(&c, "signature", "UGYLDIG underskrift: indholdet svarer ikke til det underskrevne (digest mismatch)");
	c.form_signature = (struct receipt_signature){ CMS_NONE, NULL, false, false, NULL };
	ASSERT_PH(&c, "signature", "ingen digital underskrift");
	c.has_form = false;
	ASSERT_PH(&c, "signature", "intet ansøgningsskema fundet");

	/* Absent values. */
	struct receipt_content e = { .arrival = 0, .on_time = -1, .status = RULES_REVIEW };
	ASSERT_PH(&e, "call", "(ukendt pulje)");
	ASSERT_PH(&e, "subject", "(intet emne)");
	ASSERT_PH(&e, "attachments", "- (ingen vedhæftede filer)");
	ASSERT_PH(&e, "arrival", "1. januar 1970 kl. 01:00:00");
	ASSERT_PH(&e, "reference", "PJ-000000");

	/* A hostile subject: no line breaks or escapes, bounded. */
	g_autofree char *longsubj = g_strnfill(5000, 'x');
	e.subject = longsubj;
	g_autofree char *s = ph(&e, "subject");
	g_assert_cmpint(g_utf8_strlen(s, -1), ==, RECEIPT_SUBJECT_MAX + 1);
	e.subject = "Hej\r\nBcc: evil@x.example\x1b]0;x\x07";
	g_autofree char *h = ph(&e, "subject");
	g_assert_null(strchr(h, '\n'));
	g_assert_null(strchr(h, '\r'));
	g_assert_null(strchr(h, '\x1b'));
}

/* No combination of status and on_time words the verdict "godkendt". */
static void test_never_approved(void)
{
	struct receipt_content c = content();
	for (int s = RULES_ACCEPTED; s <= RULES_UNRELATED; s++)
		for (int t = -1; t <= 1; t++) {
			c.status = (enum rules_status)s;
			c.on_time = t;
			g_autofree char *text = receipt_render(&c, NULL, NULL);
			g_autofree char *lower = g_utf8_strdown(text, -1);
			g_assert_null(strstr(lower, "godkend"));
			g_assert_nonnull(strstr(text, "modtaget"));
		}
}

static void test_render(void)
{
	struct receipt_content c = content();
	g_autofree char *error = NULL;
	g_autofree char *r = receipt_render(&c, "{{{reference}}} {call_id}\r\nfra {from} }} {{\n{verdict}", &error);
	g_assert_null(error);
	g_assert_cmpstr(r, ==, "{PJ-000042} pulje-2022\nfra anna@kommune.example } {\nmodtaget inden fristen");
	g_autofree char *bad = receipt_render(&c, "{x}", &error);
	g_assert_null(bad);
	g_assert_cmpstr(error, ==, "unknown placeholder {x} on line 1");
}

/* ---- encodings ------------------------------------------------------------------- */

/* A quoted-printable decoder for the test (RFC 2045 §6.7). */
static char *qp_decode(const char *qp)
{
	GString *out = g_string_new(NULL);
	for (const char *p = qp; *p; p++) {
		if (*p == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 2;
		} else if (*p == '=') {
			g_assert_true(g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2]));
			g_string_append_c(out, (char)(g_ascii_xdigit_value(p[1]) * 16 + g_ascii_xdigit_value(p[2])));
			p += 2;
		} else if (*p == '\r' && p[1] == '\n') {
			g_string_append_c(out, '\n');
			p++;
		} else {
			g_string_append_c(out, *p);
		}
	}
	return g_string_free(out, FALSE);
}

/* Every line of TEXT (CRLF) at most MAX characters; no bare CR or LF. */
static void assert_lines(const char *text, size_t max)
{
	size_t col = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\r') {
			g_assert_cmpint(p[1], ==, '\n');
			col = 0;
			p++;
			continue;
		}
		g_assert_cmpint(*p, !=, '\n');
		if (++col > max)
			g_error("line longer than %zu: ...%.40s", max, p - 40 > text ? p - 40 : text);
	}
}

static void test_qp(void)
{
	GString *t = g_string_new(NULL);
	g_string_append(t, "Hej æøå ÆØÅ, kvittering = tak.\n");
	g_string_append(t, "trailing space \n");
	g_string_append(t, "trailing tab\t\n");
	g_string_append(t, "From the start\n");
	g_string_append(t, ".\n\n");
	for (int i = 0; i < 60; i++)
		g_string_append(t, "æ");
	g_string_append(t, "\n");
	for (int i = 0; i < 200; i++)
		g_string_append_c(t, (char)('a' + i % 26));
	g_string_append(t, "\n");
	for (int i = 0; i < 74; i++)
		g_string_append_c(t, 'y');
	g_string_append(t, "=\n");
	for (int i = 0; i < 75; i++)
		g_string_append_c(t, 'z');
	g_string_append(t, " \n");
	/* "From " just after a soft break, and one at a line's start with
	 * spaces before it that are not at the start. */
	for (int i = 0; i < 75; i++)
		g_string_append_c(t, 'f');
	g_string_append(t, "From here on\n  From there\n");
	g_string_append(t, "no newline at end");
	g_autofree char *text = g_string_free(t, FALSE);
	g_autofree char *qp = receipt_qp_encode(text);
	assert_lines(qp, 76);
	g_assert_nonnull(strstr(qp, "Hej =C3=A6=C3=B8=C3=A5 =C3=86=C3=98=C3=85, kvittering =3D tak.\r\n"));
	g_assert_nonnull(strstr(qp, "trailing space=20\r\n"));
	g_assert_nonnull(strstr(qp, "trailing tab=09\r\n"));
	g_assert_nonnull(strstr(qp, "=46rom the start\r\n"));
	g_assert_nonnull(strstr(qp, "=\r\n=46rom here on\r\n"));
	g_assert_nonnull(strstr(qp, "\r\n  From there\r\n"));
	/* No encoded line starts with "From ". */
	g_assert_false(g_str_has_prefix(qp, "From "));
	g_assert_null(strstr(qp, "\nFrom "));
	/* No soft break splits an =XX. */
	for (const char *p = qp; (p = strstr(p, "=\r\n")); p += 3)
		g_assert_true(p == qp || p[-1] != '=');
	g_autofree char *back = qp_decode(qp);
	g_autofree char *want = g_strconcat(text, "\n", NULL);
	g_assert_cmpstr(back, ==, want);
}

/* Decodes the RFC 2047 B words of an encoded header value (the test's). */
static char *words_decode(const char *v)
{
	GString *out = g_string_new(NULL);
	g_auto(GStrv) parts = g_strsplit_set(v, " \r\n", -1);
	for (char **p = parts; *p; p++) {
		if (!**p)
			continue;
		g_assert_true(g_str_has_prefix(*p, "=?UTF-8?B?") && g_str_has_suffix(*p, "?="));
		g_assert_cmpuint(strlen(*p), <=, 75);
		g_autofree char *b64 = g_strndup(*p + 10, strlen(*p) - 12);
		gsize n = 0;
		g_autofree guchar *raw = g_base64_decode(b64, &n);
		g_assert_true(g_utf8_validate((const char *)raw, (gssize)n, NULL)); /* whole characters */
		g_string_append_len(out, (const char *)raw, (gssize)n);
	}
	return g_string_free(out, FALSE);
}

static void test_header_encode(void)
{
	g_autofree char *ascii = receipt_header_encode("Kvittering: plain words only", 7);
	g_assert_cmpstr(ascii, ==, "Kvittering: plain words only");
	GString *lw = g_string_new(NULL);
	for (int i = 0; i < 40; i++)
		g_string_append(lw, "ord ");
	g_autofree char *long_words = g_string_free(lw, FALSE);
	g_autofree char *folded = receipt_header_encode(long_words, 7);
	g_autofree char *line = g_strconcat("Subject: ", folded, "\r\n", NULL);
	assert_lines(line, 78);
	g_assert_nonnull(strstr(folded, "\r\n "));

	const char *da =
		"Kvittering: Ansøgning til Puljen for æøå — ÆØÅ og mere tekst, der gør linjen lang nok til flere "
		"ord";
	g_autofree char *enc = receipt_header_encode(da, 7);
	g_autofree char *eline = g_strconcat("Subject: ", enc, "\r\n", NULL);
	assert_lines(eline, 78);
	g_autofree char *dec = words_decode(enc);
	g_assert_cmpstr(dec, ==, da);

	/* "=?" in plain ASCII is encoded (it would read as a word). */
	g_autofree char *q = receipt_header_encode("=?UTF-8?B?aGVq?=", 7);
	g_autofree char *qd = words_decode(q);
	g_assert_cmpstr(qd, ==, "=?UTF-8?B?aGVq?=");
}

/* ---- the message ------------------------------------------------------------------ */

static const struct receipt_headers headers = {
	.from_name = "Sundhedsstyrelsen, Puljesekretariatet",
	.from_addr = "puljer@sum.example",
	.to = "anna@kommune.example",
	.subject = "Ansøgning: Pulje til styrket indsats\r\nBcc: evil@x.example",
	.message_id = "<receipt.1656666000.42.pulje-2022@sum.example>",
	.in_reply_to = "<abc.123@kommune.example>",
	.references = "<r1@x> <r2@x>",
	.timezone = "Europe/Copenhagen",
};

/* The value of header NAME in MSG (its first line), newly allocated. */
static char *header_line(const char *msg, const char *name)
{
	g_autofree char *needle = g_strconcat("\r\n", name, ": ", NULL);
	const char *p = g_str_has_prefix(msg, needle + 2) ? msg + strlen(needle) - 2 : strstr(msg, needle);
	if (!p)
		return NULL;
	if (p != msg + strlen(needle) - 2)
		p += strlen(needle);
	return g_strndup(p, strcspn(p, "\r"));
}

static void test_compose(void)
{
	struct receipt_content c = content();
	g_autofree char *msg = NULL, *error = NULL;
	size_t len = 0;
	/* 2022-07-01 12:03:20 UTC */
	g_assert_cmpint(receipt_compose(&c, &headers, NULL, NULL, 1656677000, &msg, &len, &error), ==, 0);
	g_assert_null(error);
	g_assert_cmpuint(len, ==, strlen(msg));
	assert_lines(msg, 78);

	static const char *const want[][2] = {
		{ "From", "\"Sundhedsstyrelsen, Puljesekretariatet\" <puljer@sum.example>" },
		{ "To", "anna@kommune.example" },
		{ "Date", "Fri, 01 Jul 2022 14:03:20 +0200" },
		{ "Message-ID", "<receipt.1656666000.42.pulje-2022@sum.example>" },
		{ "In-Reply-To", "<abc.123@kommune.example>" },
		{ "References", "<r1@x> <r2@x> <abc.123@kommune.example>" },
		{ "Auto-Submitted", "auto-replied" },
		{ "X-Auto-Response-Suppress", "All" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=utf-8" },
		{ "Content-Transfer-Encoding", "quoted-printable" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
		g_autofree char *v = header_line(msg, want[i][0]);
		g_assert_cmpstr(v, ==, want[i][1]);
	}
	/* The injected header did not become one. */
	g_assert_null(header_line(msg, "Bcc"));
	g_assert_null(strstr(msg, "\nBcc"));

	/* The subject decodes to "Kvittering: " and the cleaned subject. */
	const char *s = strstr(msg, "\r\nSubject: ") + 11;
	const char *end = s;
	while (!(end[0] == '\r' && end[1] == '\n' && end[2] != ' '))
		end++;
	g_autofree char *enc = g_strndup(s, (size_t)(end - s));
	g_autofree char *subject = words_decode(enc);
	g_assert_cmpstr(subject, ==, "Kvittering: Ansøgning: Pulje til styrket indsats  Bcc: evil@x.example");

	/* The body is the rendered default template. */
	const char *body = strstr(msg, "\r\n\r\n") + 4;
	g_autofree char *decoded = qp_decode(body);
	g_autofree char *text = receipt_render(&c, NULL, NULL);
	g_assert_cmpstr(decoded, ==, text);
	g_assert_nonnull(strstr(decoded, "Ansøgningsskema.pdf"));

	/* A non-ASCII display name is encoded; without one, the address. */
	struct receipt_headers h2 = headers;
	h2.from_name = "Sundhedsstyrelsen – Puljer";
	h2.in_reply_to = NULL;
	h2.references = NULL;
	g_autofree char *m2 = NULL;
	g_assert_cmpint(receipt_compose(&c, &h2, "x\n", NULL, 1656677000, &m2, &len, &error), ==, 0);
	g_assert_true(g_str_has_prefix(m2, "From: =?UTF-8?B?"));
	g_assert_nonnull(strstr(m2, "?=\r\n <puljer@sum.example>\r\n"));
	g_assert_null(header_line(m2, "In-Reply-To"));
	g_assert_null(header_line(m2, "References"));
	h2.from_name = NULL;
	g_autofree char *m3 = NULL;
	g_assert_cmpint(receipt_compose(&c, &h2, "x\n", NULL, 1656677000, &m3, &len, &error), ==, 0);
	g_assert_true(g_str_has_prefix(m3, "From: puljer@sum.example\r\n"));
	/* A msg-id with "=?" in it is written as it is, never encoded. */
	h2.in_reply_to = "<=?x?=@y>";
	h2.references = "<a=?b@c>";
	g_autofree char *m5 = NULL;
	g_assert_cmpint(receipt_compose(&c, &h2, "x\n", NULL, 1656677000, &m5, &len, &error), ==, 0);
	g_autofree char *r5 = header_line(m5, "References");
	g_assert_cmpstr(r5, ==, "<a=?b@c> <=?x?=@y>");
	/* Only the application's id: References is it alone. */
	h2.references = NULL;
	h2.in_reply_to = "<only@x>";
	g_autofree char *m4 = NULL;
	g_assert_cmpint(receipt_compose(&c, &h2, "x\n", NULL, 1656677000, &m4, &len, &error), ==, 0);
	g_autofree char *r4 = header_line(m4, "References");
	g_assert_cmpstr(r4, ==, "<only@x>");
}

static void test_compose_errors(void)
{
	struct receipt_content c = content();
	static const struct {
		const char *to, *from, *mid, *template, *error;
	} cases[] = {
		{ "a b@c.example", "puljer@sum.example", "<a@b>", NULL, "the recipient is not a usable address" },
		{ "a@c.example\r\nBcc: x@y.example", "puljer@sum.example", "<a@b>", NULL, "the recipient" },
		{ "a@c.example", "puljer", "<a@b>", NULL, "the receipts' From address" },
		{ "a@c.example", "puljer@sum.example", "no id", NULL, "the receipt's Message-ID" },
		{ "a@c.example", "puljer@sum.example", "<a@b>", "{nope}", "unknown placeholder {nope} on line 1" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct receipt_headers h = headers;
		h.to = cases[i].to;
		h.from_addr = cases[i].from;
		h.message_id = cases[i].mid;
		char *msg = (char *)"untouched";
		size_t len = 7;
		g_autofree char *error = NULL;
		g_assert_cmpint(receipt_compose(&c, &h, cases[i].template, NULL, 1656677000, &msg, &len, &error), ==,
				-EINVAL);
		g_assert_cmpstr(msg, ==, "untouched");
		g_assert_cmpuint(len, ==, 7);
		g_assert_true(g_str_has_prefix(error, cases[i].error));
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/receipt/facts", test_facts);
	g_test_add_func("/receipt/facts-bounds", test_facts_bounds);
	g_test_add_func("/receipt/facts-corpus", test_facts_corpus);
	g_test_add_func("/receipt/decide", test_decide);
	g_test_add_func("/receipt/skip-words", test_skip_words);
	g_test_add_func("/receipt/address-ok", test_address_ok);
	g_test_add_func("/receipt/message-id", test_message_id);
	g_test_add_func("/receipt/template-check", test_template_check);
	g_test_add_func("/receipt/template-file", test_template_file);
	g_test_add_func("/receipt/placeholders", test_placeholders);
	g_test_add_func("/receipt/never-approved", test_never_approved);
	g_test_add_func("/receipt/render", test_render);
	g_test_add_func("/receipt/qp", test_qp);
	g_test_add_func("/receipt/header-encode", test_header_encode);
	g_test_add_func("/receipt/compose", test_compose);
	g_test_add_func("/receipt/compose-errors", test_compose_errors);
	return g_test_run();
}
