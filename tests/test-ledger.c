/* Unit tests for ledger: the public list of received applications — its
 * words, the hash prefix, the order of arrival, escaping, and that no
 * cell of the page or the CSV can hold anything but a reference, a time,
 * a verdict, a hash prefix or one of the list's own notes. */
#include "ledger.h"

#include <string.h>
#include <glib.h>

/* 2022-07-01 23:59:59 CEST, the last on-time second of a call. */
#define DEADLINE INT64_C(1656712799)

#define HASH_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_B "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210"

/* What would identify an applicant, were it to reach the list. */
static const char *const markers[] = { "Ærø Kommune",   "ansoeger@example.org",       "Puljeopslag 2022",
				       "ansøgning.pdf", "<CAF1234@mail.example.org>", "example.org" };

static void test_verdict(void)
{
	g_assert_cmpint(ledger_verdict(RULES_ACCEPTED, 1), ==, LEDGER_ON_TIME);
	g_assert_cmpint(ledger_verdict(RULES_LATE, 0), ==, LEDGER_LATE);
	g_assert_cmpint(ledger_verdict(RULES_ACCEPTED, 0), ==, LEDGER_LATE);
	/* Review is for a person to assess, whatever the clock said; so is an
	 * unknown time. */
	g_assert_cmpint(ledger_verdict(RULES_REVIEW, 1), ==, LEDGER_ASSESSED);
	g_assert_cmpint(ledger_verdict(RULES_REVIEW, 0), ==, LEDGER_ASSESSED);
	g_assert_cmpint(ledger_verdict(RULES_ACCEPTED, -1), ==, LEDGER_ASSESSED);
	g_assert_cmpstr(ledger_verdict_label(LEDGER_ON_TIME), ==, "inden fristen");
	g_assert_cmpstr(ledger_verdict_label(LEDGER_LATE), ==, "efter fristen");
	g_assert_cmpstr(ledger_verdict_label(LEDGER_ASSESSED), ==, "vurderes");
	g_assert_cmpstr(ledger_verdict_label((enum ledger_verdict)77), ==, "vurderes");
	g_assert_cmpstr(ledger_clock_label(LEDGER_CLOCK_EDGE), ==, "mailserveren");
	g_assert_cmpstr(ledger_clock_label(LEDGER_CLOCK_ARRIVAL), ==, "postkassen");
	g_assert_cmpstr(ledger_clock_label(LEDGER_CLOCK_DATE_HEADER), ==, "afsenderens Date-felt");
}

static void test_hash_prefix(void)
{
	g_autofree char *a = ledger_hash_prefix(HASH_A);
	g_autofree char *b = ledger_hash_prefix(HASH_B);
	g_assert_cmpstr(a, ==, "0123456789abcdef");
	g_assert_cmpstr(b, ==, "fedcba9876543210");
	g_assert_cmpuint(strlen(a), ==, LEDGER_HASH_DIGITS);
	static const char *const bad[] = {
		NULL,
		"",
		"0123456789abcdef",
		HASH_A "0",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
		"<b>Ærø Kommune</b> ansoeger@example.org 0123456789abcdef0123456789abcdef0123",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_null(ledger_hash_prefix(bad[i]));
}

/* Rows given out of order: by time, ties by id, rows without a time last. */
static const struct ledger_row rows[] = {
	{ .id = 7,
	  .has_time = true,
	  .time = DEADLINE + 60,
	  .clock = LEDGER_CLOCK_EDGE,
	  .verdict = LEDGER_LATE,
	  .sha256 = HASH_B },
	{ .id = 3, .has_time = true, .time = DEADLINE - 3600, .verdict = LEDGER_ON_TIME, .sha256 = HASH_A },
	{ .id = 12, .has_time = false, .verdict = LEDGER_ASSESSED, .body = LEDGER_BODY_GONE },
	{ .id = 5,
	  .has_time = true,
	  .time = DEADLINE - 7200,
	  .verdict = LEDGER_ASSESSED,
	  .body = LEDGER_BODY_TOO_LARGE },
	{ .id = 4,
	  .has_time = true,
	  .time = DEADLINE - 3600,
	  .verdict = LEDGER_ON_TIME,
	  .sha256 = HASH_A,
	  .duplicate_of = 3 },
	/* A "hash" that is a name and an address: shown as no hash. */
	{ .id = 1000001,
	  .has_time = true,
	  .time = DEADLINE - 10,
	  .clock = LEDGER_CLOCK_DATE_HEADER,
	  .verdict = LEDGER_ON_TIME,
	  .sha256 = "Ærø Kommune <ansoeger@example.org>" },
};
static const char *const order[] = { "PJ-000005", "PJ-000003", "PJ-000004", "PJ-1000001", "PJ-000007", "PJ-000012" };

static struct ledger_call call_of(const struct ledger_row *r, size_t n)
{
	return (struct ledger_call){ .id = "digitale-kompetencer-2022",
				     .subject = "Styrkelse af digitale kompetencer",
				     .timezone = "Europe/Copenhagen",
				     .has_deadline = true,
				     .deadline = DEADLINE,
				     .rows = r,
				     .n_rows = n };
}

/* The rows' references appear in ORDER, each once, as BEFORE ref AFTER. */
static void assert_in_order(const char *text, const char *before, const char *after)
{
	const char *at = text;
	for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
		g_autofree char *word = g_strconcat(before, order[i], after, NULL);
		const char *p = strstr(at, word);
		if (!p)
			g_error("%s is missing, or not after %s, in:\n%s", word, i ? order[i - 1] : "the start", text);
		g_assert_null(strstr(p + 1, word)); /* once */
		at = p;
	}
}

static void assert_no_marker(const char *text)
{
	for (size_t i = 0; i < G_N_ELEMENTS(markers); i++)
		if (strstr(text, markers[i]))
			g_error("\"%s\" reached the list:\n%s", markers[i], text);
	g_autofree char *lower = g_utf8_strdown(text, -1);
	g_assert_null(strstr(lower, "godkendt"));
}

/* The notes a row may have: why it has no hash, the record it repeats
 * (in HTML kept on one line). */
#define NOTE_BODY                                                                 \
	"(Beskeden var for stor til at blive hentet og har derfor ingen hash\\.|" \
	"Beskeden blev fjernet fra postkassen, før den blev hentet, og har derfor ingen hash\\.)?"
#define NOTE NOTE_BODY "( ?Samme besked som PJ-[0-9]{6,}, modtaget igen\\.)?"
#define NOTE_HTML NOTE_BODY "( ?Samme besked som <span class=\"nb\">PJ-[0-9]{6,}</span>, modtaget igen\\.)?"

/* Every <td> of the table holds one of the list's own values. */
static void assert_cells(const char *html, size_t n_rows)
{
	g_autoptr(GRegex) td = g_regex_new("<td class=\"([a-z -]+)\">(.*?)</td>", 0, 0, NULL);
	static const struct {
		const char *cls, *pattern;
	} allowed[] = {
		{ "ref", "PJ-[0-9]{6,}" },
		{ "t", "([0-9]{1,2}\\. [a-z]+ [0-9]{4} kl\\. [0-9]{2}:[0-9]{2}:[0-9]{2}|ukendt)" },
		{ "clock", "(mailserveren|postkassen|afsenderens Date-felt|)" },
		{ "v v-on-time", "inden fristen" },
		{ "v v-late", "efter fristen" },
		{ "v v-assessed", "vurderes" },
		{ "sha", "([0-9a-f]{16}|—)" },
		{ "note", NOTE_HTML },
	};
	g_autoptr(GMatchInfo) m = NULL;
	size_t cells = 0;
	g_regex_match(td, html, 0, &m);
	for (; g_match_info_matches(m); g_match_info_next(m, NULL), cells++) {
		g_autofree char *cls = g_match_info_fetch(m, 1);
		g_autofree char *value = g_match_info_fetch(m, 2);
		bool ok = false;
		for (size_t i = 0; i < G_N_ELEMENTS(allowed); i++) {
			if (strcmp(cls, allowed[i].cls))
				continue;
			g_autofree char *anchored = g_strdup_printf("^%s$", allowed[i].pattern);
			ok = g_regex_match_simple(anchored, value, 0, 0);
		}
		if (!ok)
			g_error("cell class=\"%s\" holds \"%s\"", cls, value);
	}
	g_assert_cmpuint(cells, ==, 6 * n_rows);
}

static void test_html(void)
{
	struct ledger_call c = call_of(rows, G_N_ELEMENTS(rows));
	struct ledger l = { .generated = DEADLINE - 86400, .timezone = "Europe/Copenhagen", .calls = &c, .n_calls = 1 };
	g_autofree char *html = ledger_html(&l);
	assert_in_order(html, "<td class=\"ref\">", "</td>");
	assert_no_marker(html);
	assert_cells(html, G_N_ELEMENTS(rows));
	/* Self-contained: no script, no external resource. */
	g_assert_null(strstr(html, "<script"));
	g_assert_null(strstr(html, "src="));
	g_assert_null(strstr(html, "href"));
	g_assert_null(strstr(html, "url("));
	g_assert_null(strstr(html, "http"));
	g_assert_true(g_str_has_prefix(html, "<!DOCTYPE html>\n<html lang=\"da\">"));
	/* The title names the call; "dannet" in Danish time, labelled. */
	g_assert_nonnull(strstr(html, "<title>Modtagne ansøgninger: Styrkelse af digitale kompetencer</title>"));
	g_assert_nonnull(strstr(html, "Listen er dannet 30. juni 2022 kl. 23:59 (Europe/Copenhagen)."));
	g_assert_nonnull(strstr(html, "<dd class=\"deadline\">1. juli 2022 kl. 23:59:59 (Europe/Copenhagen)</dd>"));
	g_assert_nonnull(strstr(html, "<dd class=\"count\">6</dd>"));
	g_assert_nonnull(strstr(html, "<th>Modtaget (Europe/Copenhagen)</th>"));
	g_assert_nonnull(strstr(html, "Listen er ikke en afgørelse."));
	g_assert_nonnull(strstr(html, "(dansk tid)"));
	/* The rows: time in Danish, verdict, hash prefix or a dash with a note. */
	g_assert_nonnull(strstr(html,
				"<td class=\"ref\">PJ-000007</td><td class=\"t\">2. juli 2022 kl. 00:00:59</td>"
				"<td class=\"clock\">mailserveren</td><td class=\"v v-late\">efter fristen</td>"
				"<td class=\"sha\">fedcba9876543210</td>"));
	g_assert_nonnull(strstr(html,
				"<td class=\"ref\">PJ-000005</td><td class=\"t\">1. juli 2022 kl. 21:59:59</td>"
				"<td class=\"clock\">postkassen</td><td class=\"v v-assessed\">vurderes</td>"
				"<td class=\"sha\">—</td><td class=\"note\">Beskeden var for stor til at blive "
				"hentet og har derfor ingen hash.</td>"));
	g_assert_nonnull(strstr(html, "<td class=\"ref\">PJ-000012</td><td class=\"t\">ukendt</td>"));
	g_assert_nonnull(strstr(html, "Samme besked som <span class=\"nb\">PJ-000003</span>, modtaget igen."));
	g_assert_nonnull(strstr(html,
				"<td class=\"ref\">PJ-1000001</td><td class=\"t\">1. juli 2022 kl. 23:59:49</td>"
				"<td class=\"clock\">afsenderens Date-felt</td><td class=\"v v-on-time\">inden "
				"fristen</td><td class=\"sha\">—</td>"));
	/* The full hash is not given away either: 16 digits, no more. */
	g_assert_null(strstr(html, "0123456789abcdef0"));
}

/* Hostile call names and ids are escaped; an unknown zone is never
 * echoed (the default zone is used and named). */
static void test_escaping(void)
{
	struct ledger_call c[2] = { call_of(rows, 2), call_of(rows + 2, 1) };
	c[0].subject = "<script>alert(\"x\")</script> & \"Æ\"\x1b[31m";
	c[0].id = "a\"><img src=x onerror=alert(1)>";
	c[1].id = NULL; /* rows of no call */
	c[1].subject = NULL;
	c[1].timezone = "<b>Mars/Olympus</b>";
	struct ledger l = { .generated = DEADLINE, .timezone = "Bad/<i>Zone", .calls = c, .n_calls = 2 };
	g_autofree char *html = ledger_html(&l);
	g_assert_null(strstr(html, "<script"));
	g_assert_null(strstr(html, "<img"));
	g_assert_null(strstr(html, "<b>Mars"));
	g_assert_null(strstr(html, "Zone"));
	g_assert_null(strstr(html, "Mars"));
	g_assert_null(strstr(html, "\x1b"));
	g_assert_nonnull(strstr(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Æ&quot;"));
	g_assert_nonnull(strstr(html, "data-call=\"a&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\""));
	g_assert_nonnull(strstr(html, "Beskeder, der ikke kunne knyttes til et opslag"));
	/* Two calls: the page's title names none. */
	g_assert_nonnull(strstr(html, "<title>Modtagne ansøgninger</title>"));
	g_assert_nonnull(strstr(html, "(Europe/Copenhagen)."));
	assert_no_marker(html);

	g_autofree char *csv = ledger_csv(&l);
	g_assert_null(strstr(csv, "\x1b"));
	g_assert_null(strstr(csv, "Zone"));
	g_assert_nonnull(strstr(csv, "\"a\"\"><img src=x onerror=alert(1)>\""));
}

static void test_empty(void)
{
	struct ledger_call c = call_of(NULL, 0);
	struct ledger l = { .generated = DEADLINE, .timezone = "Europe/Copenhagen", .calls = &c, .n_calls = 1 };
	g_autofree char *html = ledger_html(&l);
	g_assert_nonnull(strstr(html, "<dd class=\"count\">0</dd>"));
	g_assert_nonnull(strstr(html, "Der er endnu ikke modtaget nogen ansøgninger."));
	g_assert_null(strstr(html, "<table"));
	g_autofree char *csv = ledger_csv(&l);
	g_assert_cmpstr(csv, ==,
			"\xEF\xBB\xBF"
			"Referencenummer;Opslag;Modtaget (Europe/Copenhagen);Modtaget, ISO 8601;Tidspunkt ifølge;"
			"Fristen;SHA-256, første 16 tegn;Bemærkning\r\n");
}

/* Every field of every CSV record holds one of the list's own values. */
static void test_csv(void)
{
	struct ledger_call c = call_of(rows, G_N_ELEMENTS(rows));
	struct ledger l = { .generated = DEADLINE, .timezone = "Europe/Copenhagen", .calls = &c, .n_calls = 1 };
	g_autofree char *csv = ledger_csv(&l);
	g_assert_true(g_str_has_prefix(csv, "\xEF\xBB\xBF"));
	assert_in_order(csv, "\r\n", ";");
	assert_no_marker(csv);
	g_assert_true(g_str_has_suffix(csv, "\r\n"));
	g_auto(GStrv) lines = g_strsplit(csv + 3, "\r\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, G_N_ELEMENTS(rows) + 2); /* header, rows, "" after the last */
	g_assert_cmpstr(lines[0], ==,
			"Referencenummer;Opslag;Modtaget (Europe/Copenhagen);Modtaget, ISO 8601;Tidspunkt ifølge;"
			"Fristen;SHA-256, første 16 tegn;Bemærkning");
	/* Exactly the row of the message that came last but one. */
	g_assert_cmpstr(lines[5], ==,
			"PJ-000007;digitale-kompetencer-2022;2022-07-02 00:00:59;2022-07-02T00:00:59+02:00;"
			"mailserveren;efter fristen;fedcba9876543210;");
	g_assert_cmpstr(lines[6], ==,
			"PJ-000012;digitale-kompetencer-2022;;;;vurderes;;Beskeden blev fjernet fra postkassen, "
			"før den blev hentet, og har derfor ingen hash.");
	static const char *const patterns[] = {
		"PJ-[0-9]{6,}",
		"digitale-kompetencer-2022",
		"(20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}|)",
		"(20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\+02:00|)",
		"(mailserveren|postkassen|afsenderens Date-felt|)",
		"(inden fristen|efter fristen|vurderes)",
		"([0-9a-f]{16}|)",
		NOTE,
		NULL,
	};
	g_autofree char *row_pattern = g_strjoinv(";", (char **)patterns);
	g_autofree char *anchored = g_strdup_printf("^%s$", row_pattern);
	for (size_t i = 1; lines[i][0]; i++)
		if (!g_regex_match_simple(anchored, lines[i], 0, 0))
			g_error("CSV record %zu is not the list's: %s", i, lines[i]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ledger/verdict", test_verdict);
	g_test_add_func("/ledger/hash-prefix", test_hash_prefix);
	g_test_add_func("/ledger/html", test_html);
	g_test_add_func("/ledger/escaping", test_escaping);
	g_test_add_func("/ledger/empty", test_empty);
	g_test_add_func("/ledger/csv", test_csv);
	return g_test_run();
}
