/* Unit tests for report: a self-contained page (no scripts, no external
 * assets), everything from mail escaped, Danish text, and a timeline with
 * one mark per message on the right side of the deadline. */
#include "report.h"

#include <string.h>
#include <glib.h>

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* 2022-07-01T23:59:59+02:00 */
#define DEADLINE 1656712799

static void test_page(void)
{
	struct report_attachment atts[] = {
		{ "Ansøgningsskema <b>.pdf", "attachments/1/Ans%C3%B8gningsskema.pdf", 48211, "ab12", true, CMS_VALID,
		  "CN=Mette \"M\" Hansen" },
	};
	struct report_message m1 = { 1,
				     "2022-06-15T10:12:00+02:00",
				     true,
				     DEADLINE - 86400 * 16,
				     RULES_ACCEPTED,
				     "a@x.dk",
				     "s",
				     "messages/1.eml",
				     atts,
				     1 };
	struct report_message m2 = {
		2, "2022-07-02T00:00:10+02:00", true, DEADLINE + 11, RULES_LATE, "b@x.dk", "s", NULL, NULL, 0
	};
	struct report_message m3 = { 3,
				     "2022-06-20T09:00:00+02:00",
				     true,
				     DEADLINE - 86400 * 11,
				     RULES_REVIEW,
				     "c@x.dk",
				     "s",
				     "messages/3.eml",
				     NULL,
				     0 };
	const struct report_message *ms1[] = { &m1 }, *ms2[] = { &m2 }, *ms3[] = { &m3 };
	const struct report_message *all[] = { &m1, &m2, &m3 };
	struct report_application apps[] = {
		{ "Ærø <script>alert(1)</script> Kommune", RULES_ACCEPTED, 1, m1.received_at, true, CMS_VALID,
		  "CN=Mette \"M\" Hansen", "accept", "ok & fint", ms1, 1 },
		{ "Region Sjælland\x1b[31m", RULES_LATE, 0, m2.received_at, false, CMS_NONE, NULL, NULL, NULL, ms2, 1 },
		{ NULL, RULES_REVIEW, 1, m3.received_at, true, CMS_INVALID, NULL, "reject", NULL, ms3, 1 },
	};
	struct report_call call = { "digitale-kompetencer-2022",
				    "Puljeopslag 2022: Styrkelse af digitale kompetencer",
				    "2022-07-01T23:59:59+02:00",
				    DEADLINE,
				    "Europe/Copenhagen",
				    { 1, 1, 1, 0 },
				    apps,
				    3,
				    all,
				    3 };
	/* The mail gateway's time decided m2: said under it, and for the call. */
	m2.edge = (struct report_edge){ "2022-07-01T23:59:50+02:00", m2.received_at, "edge", "edge", NULL };
	call.basis_edge = true;
	/* A message's own S/MIME signature is said in words too. */
	m3.smime = (struct report_signature){ .signature = CMS_INVALID, .reason = "weak digest algorithm md5" };
	m1.smime = (struct report_signature){ .signature = CMS_NONE };
	struct report r = { "2026-11-22 12:00", &call, 1, 4 };
	g_autofree char *html = report_html(&r);
	g_assert_nonnull(strstr(html,
				"modtaget af ministeriets mailserver 23:59:50, i postkassen 00:00:10; "
				"fristen afgøres af mailserverens tid"));
	g_assert_nonnull(strstr(html, "ministeriets mailservers modtagelsestid afgør"));
	g_assert_cmpuint(count(html, "class=\"edge\""), ==, 1);
	g_assert_cmpuint(count(html, "class=\"smime\""), ==, 1);
	g_assert_nonnull(
		strstr(html, "Beskeden er S/MIME-underskrevet: <span class=\"sig-invalid\">UGYLDIG underskrift"));
	g_assert_nonnull(strstr(html, "weak digest algorithm md5"));

	g_assert_true(g_str_has_prefix(html, "<!DOCTYPE html>"));
	g_assert_nonnull(strstr(html, "<meta charset=\"utf-8\">"));
	g_assert_true(g_utf8_validate(html, -1, NULL));
	/* Self-contained: no scripts, no external references. */
	g_assert_null(strstr(html, "<script"));
	g_assert_null(strstr(html, "<link"));
	g_assert_null(strstr(html, "src="));
	g_assert_null(strstr(html, "href=\"http"));
	g_assert_null(strstr(html, "url("));
	/* Mail text escaped, controls gone. */
	g_assert_nonnull(strstr(html, "Ærø &lt;script&gt;alert(1)&lt;/script&gt; Kommune"));
	g_assert_nonnull(strstr(html, "Ansøgningsskema &lt;b&gt;.pdf"));
	g_assert_nonnull(strstr(html, "CN=Mette &quot;M&quot; Hansen"));
	g_assert_nonnull(strstr(html, "ok &amp; fint"));
	g_assert_null(strchr(html, '\x1b'));
	/* Danish labels, the deadline, the links. */
	g_assert_nonnull(strstr(html, "1. juli 2022 kl. 23:59:59"));
	g_assert_nonnull(strstr(html, "For sent"));
	g_assert_nonnull(strstr(html, "Godkendt: ok &amp; fint"));
	g_assert_nonnull(strstr(html, "Afvist"));
	g_assert_nonnull(strstr(html, "(ikke angivet)"));
	g_assert_nonnull(strstr(html, "intet skema"));
	g_assert_nonnull(strstr(html, "UGYLDIG underskrift"));
	g_assert_nonnull(strstr(html, "href=\"attachments/1/Ans%C3%B8gningsskema.pdf\""));
	g_assert_nonnull(strstr(html, "href=\"messages/1.eml\""));
	g_assert_nonnull(strstr(html, "Besked #2 (ikke gemt)"));
	g_assert_nonnull(strstr(html, "Beskeder der ikke hører til et opslag: 4"));
	g_assert_cmpuint(count(html, "<svg"), ==, 1);
	g_assert_cmpuint(count(html, "<tr data-status="), ==, 3);
	/* Printable. */
	g_assert_nonnull(strstr(html, "@media print"));
}

/* "gyldig" only for an intact signature over the whole document by a
 * trusted signer (or with no trust_file to judge by); else what holds. */
static void test_signature_words(void)
{
	static const struct {
		struct report_signature sig;
		enum report_sig_kind kind;
		const char *text;
	} cases[] = {
		{ { CMS_VALID, "Mette Hansen", false, false, NULL },
		  REPORT_SIG_VALID,
		  "gyldig underskrift af Mette Hansen" },
		{ { CMS_VALID, "Mallory", false, true, NULL },
		  REPORT_SIG_UNTRUSTED,
		  "underskriften af Mallory er intakt, men underskriveren er ikke betroet" },
		{ { CMS_VALID, "Mette Hansen", true, false, NULL },
		  REPORT_SIG_MODIFIED,
		  "dokumentet er ændret efter underskrift (underskriften af Mette Hansen er intakt)" },
		{ { CMS_VALID, "Mette Hansen", true, true, NULL },
		  REPORT_SIG_MODIFIED,
		  "dokumentet er ændret efter underskrift" },
		{ { CMS_INVALID, "Mette Hansen", false, false, "digest mismatch" },
		  REPORT_SIG_INVALID,
		  "UGYLDIG underskrift af Mette Hansen: indholdet svarer ikke til det underskrevne (digest mismatch)" },
		{ { CMS_INVALID, NULL, false, false, "certificate not valid at 2022-06-15T10:31:00Z" },
		  REPORT_SIG_INVALID,
		  "UGYLDIG underskrift: certifikatet var ikke gyldigt på valideringstidspunktet" },
		{ { CMS_NONE, NULL, false, false, NULL }, REPORT_SIG_NONE, "ingen digital underskrift" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		enum report_sig_kind kind;
		g_autofree char *t = report_signature_text(&cases[i].sig, &kind);
		g_assert_cmpint(kind, ==, cases[i].kind);
		g_assert_true(g_str_has_prefix(t, cases[i].text));
		g_assert_true((strstr(t, "gyldig underskrift") == t) == (kind == REPORT_SIG_VALID));
	}
	/* On the page: the untrusted form is not called valid. */
	struct report_attachment atts[] = { { "a.pdf", NULL, 10, "ab", true, CMS_VALID, "Mallory", false, true,
					      NULL } };
	struct report_message m = {
		1, "2022-06-15T10:12:00+02:00", true, DEADLINE - 86400, RULES_ACCEPTED, "a@x.dk", "s", NULL, atts, 1
	};
	const struct report_message *ms[] = { &m };
	struct report_application app = { "X",       RULES_ACCEPTED, 1,    m.received_at, true,
					  CMS_VALID, "Mallory",      NULL, NULL,          ms,
					  1,         false,          true, NULL };
	struct report_call call = {
		"c", "s", "2022-07-01T23:59:59+02:00", DEADLINE, "Europe/Copenhagen", { 1, 0, 0, 0 }, &app, 1, ms, 1
	};
	struct report r = { "2026-11-22 12:00", &call, 1, 0 };
	g_autofree char *html = report_html(&r);
	g_assert_null(strstr(html, "gyldig underskrift"));
	g_assert_cmpuint(count(html, "men underskriveren er ikke betroet"), ==, 2);
	g_assert_nonnull(strstr(html, "Spærring (revokation) af certifikater kontrolleres ikke"));
}

/* The x of the mark with CLASS "s-STATUS" whose title starts "#ID". */
static double mark_x(const char *svg, int64_t id)
{
	g_autofree char *title = g_strdup_printf("<title>#%" G_GINT64_FORMAT " ", id);
	const char *t = strstr(svg, title);
	g_assert_nonnull(t);
	const char *c = t;
	while (c > svg && strncmp(c, "<circle", 7))
		c--;
	const char *cx = strstr(c, "cx=\"");
	g_assert_nonnull(cx);
	return g_ascii_strtod(cx + 4, NULL);
}

static double deadline_x(const char *svg)
{
	const char *d = strstr(svg, "class=\"deadline\" x1=\"");
	g_assert_nonnull(d);
	return g_ascii_strtod(d + strlen("class=\"deadline\" x1=\""), NULL);
}

static void test_timeline(void)
{
	struct report_message ms[] = {
		{ 1, "2022-06-01T08:00:00+02:00", true, DEADLINE - 86400 * 30, RULES_ACCEPTED, NULL, NULL, NULL, NULL,
		  0 },
		{ 2, "2022-07-01T23:59:30+02:00", true, DEADLINE - 29, RULES_ACCEPTED, NULL, NULL, NULL, NULL, 0 },
		{ 3, "2022-07-02T00:00:10+02:00", true, DEADLINE + 11, RULES_LATE, NULL, NULL, NULL, NULL, 0 },
		{ 4, "2022-07-20T00:00:10+02:00", true, DEADLINE + 86400 * 19, RULES_LATE, NULL, NULL, NULL, NULL, 0 },
		{ 5, NULL, false, 0, RULES_REVIEW, NULL, NULL, NULL, NULL, 0 }, /* no arrival: no mark */
		{ 6, "2022-06-10T08:00:00+02:00", true, DEADLINE - 86400 * 21, RULES_UNRELATED, NULL, NULL, NULL, NULL,
		  0 },
	};
	const struct report_message *all[G_N_ELEMENTS(ms)];
	for (size_t i = 0; i < G_N_ELEMENTS(ms); i++)
		all[i] = &ms[i];
	struct report_call call = { "c",
				    "s",
				    "2022-07-01T23:59:59+02:00",
				    DEADLINE,
				    "Europe/Copenhagen",
				    { 0 },
				    NULL,
				    0,
				    all,
				    G_N_ELEMENTS(ms) };
	g_autofree char *svg = report_timeline_svg(&call);
	g_assert_true(g_str_has_prefix(svg, "<svg"));
	g_assert_cmpuint(count(svg, "<circle"), ==, 4);
	double dx = deadline_x(svg);
	g_assert_cmpfloat(mark_x(svg, 1), <, mark_x(svg, 2));
	g_assert_cmpfloat(mark_x(svg, 2), <=, dx);
	g_assert_cmpfloat(mark_x(svg, 3), >=, dx);
	g_assert_cmpfloat(mark_x(svg, 4), >, mark_x(svg, 3));
	/* Every mark inside the drawing. */
	for (int64_t id = 1; id <= 4; id++) {
		g_assert_cmpfloat(mark_x(svg, id), >=, 0);
		g_assert_cmpfloat(mark_x(svg, id), <=, 900);
	}
	g_assert_nonnull(strstr(svg, "Frist 1. juli 2022"));

	/* No messages: the deadline and a note. */
	struct report_call empty = { "c", "s", "x", DEADLINE, "Europe/Copenhagen", { 0 }, NULL, 0, NULL, 0 };
	g_autofree char *svg2 = report_timeline_svg(&empty);
	g_assert_cmpuint(count(svg2, "<circle"), ==, 0);
	g_assert_nonnull(strstr(svg2, "Ingen ansøgninger modtaget"));
	g_assert_nonnull(strstr(svg2, "class=\"deadline\""));
}

/* Which time decided the deadline, in one Danish sentence. */
static void test_edge_sentence(void)
{
	struct report_edge e = { "2022-07-01T23:59:40+02:00", "2022-07-02T00:01:02+02:00", "edge", "edge", NULL };
	g_autofree char *s1 = report_edge_sentence(&e);
	g_assert_cmpstr(s1, ==,
			"modtaget af ministeriets mailserver 23:59:40, i postkassen 00:01:02; "
			"fristen afgøres af mailserverens tid");
	e.decided_by = e.basis = "arrival";
	g_autofree char *s2 = report_edge_sentence(&e);
	g_assert_cmpstr(s2, ==,
			"modtaget af ministeriets mailserver 23:59:40, i postkassen 00:01:02; "
			"fristen afgøres af postkassens tid");
	e = (struct report_edge){ NULL, "2022-07-02T00:01:02+02:00", "arrival", "edge", "untrusted-top" };
	g_autofree char *s3 = report_edge_sentence(&e);
	g_assert_cmpstr(s3, ==,
			"ingen tid fra ministeriets mailserver (det øverste Received-felt er ikke skrevet af "
			"ministeriets mailserver); fristen afgøres af postkassens tid 00:01:02");
	/* Nothing to say without an edge time under another basis. */
	e = (struct report_edge){ NULL, "2022-07-02T00:01:02+02:00", "arrival", "arrival", "no-received" };
	g_assert_null(report_edge_sentence(&e));
}

static void test_describe_delta(void)
{
	static const struct {
		int64_t s;
		const char *words;
	} d[] = {
		{ -11520, "on time, 3 h 12 min before the deadline" },
		{ 7980, "late by 2 h 13 min" },
		{ 10, "late by 10 s" },
		{ 0, "late by 0 s" },
		{ -1, "on time, 1 s before the deadline" },
		{ -90, "on time, 1 min 30 s before the deadline" },
		{ 1209600 + 3600, "late by 14 d 1 h" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(d); i++) {
		g_autofree char *w = report_describe_delta(d[i].s);
		g_assert_cmpstr(w, ==, d[i].words);
	}
}

/* The pool overview heads the page: counts per call, then the
 * applications that need a person, review first, the name escaped. */
static void test_overview(void)
{
	g_autoptr(Apps) a = apps_new();
	struct store_message m[] = {
		{ .id = 7,
		  .call = "c",
		  .applicant = "Fanø & Co",
		  .received_at = "2022-06-30T23:00:00+02:00",
		  .received_epoch = 1656622800,
		  .status = RULES_ACCEPTED,
		  .on_time = 1 },
		{ .id = 8,
		  .call = "c",
		  .applicant = "Læsø",
		  .received_at = "2022-07-01T08:00:00+02:00",
		  .received_epoch = 1656655200,
		  .status = RULES_REVIEW,
		  .on_time = 1 },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(m); i++)
		apps_add(a, &m[i], NULL);
	g_autoptr(Summary) s = summary_new(apps_finish(a));
	struct report_call call = { .id = "c",
				    .subject = "Opslaget",
				    .deadline = "2022-07-01T23:59:59+02:00",
				    .deadline_t = DEADLINE,
				    .timezone = "Europe/Copenhagen" };
	struct report r = { "2026-11-22 12:00", &call, 1, 0, s };
	g_autofree char *html = report_html(&r);
	const char *over = strstr(html, "<section class=\"overview\" id=\"overblik\">");
	g_assert_nonnull(over);
	g_assert_true(over < strstr(html, "<section class=\"call\">"));
	g_assert_nonnull(strstr(over, "data-k=\"applications\">2<"));
	g_assert_nonnull(strstr(over, "data-k=\"status-review\">1<"));
	g_assert_nonnull(strstr(over, "data-k=\"without_form\">2<"));
	g_assert_nonnull(strstr(over, "data-day=\"2022-06-30\">1<"));
	g_assert_nonnull(strstr(over, "data-day=\"2022-07-01\">1<"));
	g_assert_nonnull(strstr(over, "Kræver en sagsbehandler: 2"));
	const char *review = strstr(over, "<tr data-id=\"8\">"), *undecided = strstr(over, "<tr data-id=\"7\">");
	g_assert_nonnull(review);
	g_assert_nonnull(undecided);
	g_assert_true(review < undecided);
	g_assert_nonnull(strstr(undecided, "Fanø &amp; Co"));
	/* Without a summary, no overview. */
	r.summary = NULL;
	g_autofree char *plain = report_html(&r);
	g_assert_null(strstr(plain, "overblik"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/report/edge-sentence", test_edge_sentence);
	g_test_add_func("/report/page", test_page);
	g_test_add_func("/report/overview", test_overview);
	g_test_add_func("/report/signature-words", test_signature_words);
	g_test_add_func("/report/timeline", test_timeline);
	g_test_add_func("/report/describe-delta", test_describe_delta);
	return g_test_run();
}
