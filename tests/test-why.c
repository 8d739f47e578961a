/* Unit tests for why: every reason the classifier can write has a Danish
 * sentence, and the sentences a caseworker reads. */
#include "why.h"
#include "record.h"
#include "rules.h"

#include <glib.h>
#include <string.h>

#define CALL "Puljeopslag 2022: Styrkelse af digitale kompetencer"

/* The sentence for STATUS and the NULL-terminated REASONS. */
static char *why_of(enum rules_status status, const char *typo, bool untrusted, const char *const *reasons)
{
	size_t n = 0;
	while (reasons[n])
		n++;
	struct why_input in = { status, reasons, n, typo, untrusted };
	return why_text(&in);
}

/* REASON has a sentence of its own, and it is not the raw string. */
static void assert_mapped(const char *reason)
{
	if (!why_reason_known(reason))
		g_error("reason without a sentence: %s", reason);
	g_autofree char *t = why_reason_text(reason);
	g_assert_nonnull(t);
	g_assert_cmpstr(t, !=, WHY_UNKNOWN);
	g_assert_null(strstr(t, reason));
	g_assert_null(strchr(t, ':'));
}

/* Every reason literal in src/rules.c and src/assess.c, and every reason
 * they format, expanded over the values it can take. */
static void test_every_reason_in_the_code(void)
{
	static const char *const formats[] = { "subject:%s(%.2f)", "kind:%s",           "reply-to:%s",
					       "quotes:%s",        "deadline:%s(%s)%s", "attachments:%zu" };
	static const char *const files[] = { "rules.c", "assess.c" };
	g_autoptr(GRegex) lit = g_regex_new("\"([a-z-]+:[a-z][a-z+()-]*)\"", 0, 0, NULL);
	g_autoptr(GRegex) fmt = g_regex_new("\"([a-z-]+:[^\"]*%[^\"]*)\"", 0, 0, NULL);
	size_t n_lit = 0, n_fmt = 0;
	for (size_t f = 0; f < G_N_ELEMENTS(files); f++) {
		g_autofree char *path = g_build_filename(g_getenv("PULJED_SRCDIR"), "src", files[f], NULL);
		g_autofree char *text = NULL;
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		g_autoptr(GMatchInfo) mi = NULL;
		for (g_regex_match(lit, text, 0, &mi); g_match_info_matches(mi); g_match_info_next(mi, NULL)) {
			g_autofree char *r = g_match_info_fetch(mi, 1);
			assert_mapped(r);
			n_lit++;
		}
		g_autoptr(GMatchInfo) mf = NULL;
		for (g_regex_match(fmt, text, 0, &mf); g_match_info_matches(mf); g_match_info_next(mf, NULL)) {
			g_autofree char *r = g_match_info_fetch(mf, 1);
			bool known = false;
			for (size_t k = 0; k < G_N_ELEMENTS(formats); k++)
				known = known || !strcmp(r, formats[k]);
			if (!known)
				g_error("a formatted reason this test does not expand: %s", r);
			n_fmt++;
		}
	}
	g_assert_cmpuint(n_lit, >=, 19);
	g_assert_cmpuint(n_fmt, >=, G_N_ELEMENTS(formats));

	/* The formats' values. */
	static const char *const formatted[] = {
		"subject:fuzzy(0.91)",
		"subject:partial(0.80)",
		"reply-to:auto-reply",
		"reply-to:delivery-report",
		"quotes:pulje-2022",
		"deadline:on-time(-3h12m)",
		"deadline:late(+1s)",
		"deadline:on-time(-2d)[date-header]",
		"deadline:late(+2h13m)[date-header]",
		"deadline:late(+45s)[edge]",
		"attachments:1",
		"attachments:3",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(formatted); i++)
		assert_mapped(formatted[i]);
	for (int k = RULES_KIND_APPLICATION; k <= RULES_KIND_OTHER; k++) {
		g_autofree char *r = g_strdup_printf("kind:%s", record_kind_name(k));
		assert_mapped(r);
	}
}

/* Every reason rules_classify() writes over a grid of inputs. */
static void test_every_reason_classified(void)
{
	const struct rules_call call = { "pulje-2022", CALL, 1656712799, RULES_BASIS_ARRIVAL, 0 };
	const struct rules_call by_date = { "pulje-2022", CALL, 1656712799, RULES_BASIS_DATE_HEADER, 0 };
	const struct rules_call by_edge = { "pulje-2022", CALL, 1656712799, RULES_BASIS_EDGE, 0 };
	const struct rules_call *calls[] = { &call, &by_date, &by_edge };
	static const char *const subjects[] = {
		NULL,
		CALL " - Region X",
		"Puljeopslag 2022: Styrkelse af digitale kompetancer - Region X",
		"Styrkelse af digitale kompetencer - Region X",
		"Automatisk svar: " CALL,
		"Spørgsmål til " CALL,
		"Frokost på fredag",
		"Undeliverable: " CALL,
	};
	size_t seen = 0;
	for (size_t c = 0; c < G_N_ELEMENTS(calls); c++)
		for (size_t s = 0; s < G_N_ELEMENTS(subjects); s++)
			for (unsigned hints = 0; hints < (1u << 9); hints = hints ? hints << 1 : 1)
				for (unsigned flags = 0; flags < 8; flags++)
					for (int v = 0; v < 6; v++) {
						struct rules_input in = {
							.subject = subjects[s],
							.from_name = v & 1 ? "Region X" : NULL,
							.has_arrival = v != 5,
							.arrival = v & 2 ? 1656712800 : 1655000000,
							.n_attachments = (size_t)(v % 3),
							.has_form = v % 3 == 1,
							.form_signature = (enum rules_form_signature)(v % 3),
							.hints = hints,
							.flags = flags,
						};
						g_auto(RulesResult) res = { 0 };
						rules_classify(calls[c], 1, NULL, &in, &res);
						for (size_t i = 0; i < res.n_reasons; i++) {
							if (!why_reason_known(res.reasons[i]))
								g_error("classifier reason without a sentence: %s",
									res.reasons[i]);
							seen++;
						}
						struct why_input wi = { res.status, res.reasons, res.n_reasons, NULL,
									false };
						g_autofree char *w = why_text(&wi);
						if (res.status != RULES_ACCEPTED)
							g_assert_nonnull(w);
						for (size_t i = 0; w && i < res.n_reasons; i++)
							g_assert_null(strstr(w, res.reasons[i]));
					}
	g_assert_cmpuint(seen, >, 1000);
}

static void test_examples(void)
{
	const char *fuzzy[] = { "subject:fuzzy(0.96)", "applicant:from", "deadline:on-time(-14d3h)", "attachments:1",
				NULL };
	g_autofree char *a = why_of(RULES_REVIEW, "kompetancer", false, fuzzy);
	g_assert_cmpstr(a, ==,
			"Emnet ligner opslaget (stavefejl: 'kompetancer'), vurder manuelt; ansøgeren er læst fra "
			"afsenderen, ikke fra emnet");
	const char *fuzzy_only[] = { "subject:fuzzy(0.96)", "deadline:on-time(-14d3h)", "attachments:1", NULL };
	g_autofree char *a1 = why_of(RULES_REVIEW, "kompetancer", false, fuzzy_only);
	g_assert_cmpstr(a1, ==, "Emnet ligner opslaget (stavefejl: 'kompetancer'), vurder manuelt");
	g_autofree char *a2 = why_of(RULES_REVIEW, NULL, false, fuzzy_only);
	g_assert_cmpstr(a2, ==, "Emnet ligner opslaget (lighed 0,96), vurder manuelt");

	const char *no_form[] = { "subject:exact", "deadline:on-time(-2h)", "attachments:1", "form:none", NULL };
	g_autofree char *b = why_of(RULES_REVIEW, NULL, false, no_form);
	g_assert_cmpstr(b, ==, "Intet ansøgningsskema vedhæftet");

	const char *late[] = { "subject:exact", "deadline:late(+1s)", "attachments:1", NULL };
	g_autofree char *c = why_of(RULES_LATE, NULL, false, late);
	g_assert_cmpstr(c, ==, "Modtaget 1 sekund efter fristen");

	/* An automatic reply quoting the call: what it is, never its score. */
	const char *auto_reply[] = { "subject:fuzzy(1.00)", "kind:auto-reply",  "reply-to:auto-reply",
				     "quotes:pulje-2022",   "attachments:none", NULL };
	g_autofree char *d = why_of(RULES_UNRELATED, NULL, false, auto_reply);
	g_assert_cmpstr(d, ==, "Automatisk svar (fraværsbesked)");
}

static void test_accepted(void)
{
	const char *plain[] = { "subject:exact", "deadline:on-time(-3h12m)", "attachments:1", NULL };
	g_assert_null(why_of(RULES_ACCEPTED, NULL, false, plain));
	g_autofree char *u = why_of(RULES_ACCEPTED, NULL, true, plain);
	g_assert_cmpstr(u, ==, "Ansøgningsskemaet er underskrevet, men underskriveren er ikke betroet");
	/* Before the lesser caveat of an applicant taken from the sender. */
	const char *from[] = { "subject:exact", "applicant:from", "deadline:on-time(-3h12m)", "attachments:1", NULL };
	g_autofree char *f = why_of(RULES_ACCEPTED, NULL, true, from);
	g_assert_cmpstr(f, ==, "Ansøgningsskemaet er underskrevet, men underskriveren er ikke betroet");
	g_autofree char *f2 = why_of(RULES_ACCEPTED, NULL, false, from);
	g_assert_cmpstr(f2, ==, "Ansøgeren er læst fra afsenderen, ikke fra emnet");
	/* Untrusted is a caveat of an acceptance only. */
	const char *late[] = { "subject:exact", "deadline:late(+1s)", "attachments:1", NULL };
	g_autofree char *l = why_of(RULES_LATE, NULL, true, late);
	g_assert_cmpstr(l, ==, "Modtaget 1 sekund efter fristen");
	/* Not plainly accepted with nothing said: a generic sentence. */
	g_autofree char *r = why_of(RULES_REVIEW, NULL, false, plain);
	g_assert_cmpstr(r, ==, WHY_UNKNOWN);
}

static void test_unknown(void)
{
	g_assert_false(why_reason_known("list:precedence-bulk"));
	g_autofree char *t = why_reason_text("list:precedence-bulk");
	g_assert_cmpstr(t, ==, WHY_UNKNOWN);
	const char *r[] = { "list:precedence-bulk", NULL };
	g_autofree char *w = why_of(RULES_UNRELATED, NULL, false, r);
	g_assert_cmpstr(w, ==, WHY_UNKNOWN);
	g_assert_null(strstr(w, "list:"));
}

static void test_delta(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "+1s", "1 sekund" },
		{ "+45s", "45 sekunder" },
		{ "+1m", "1 minut" },
		{ "+2h13m", "2 timer og 13 minutter" },
		{ "-14d3h", "14 dage og 3 timer" },
		{ "+1d1h1m", "1 dag, 1 time og 1 minut" },
		{ "1s", NULL },
		{ "+", NULL },
		{ "+3x", NULL },
		{ "+1s2h", NULL },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *t = why_delta_text(cases[i].in);
		g_assert_cmpstr(t, ==, cases[i].out);
	}
	const char *late[] = { "deadline:late(+2h13m)[date-header]", NULL };
	g_autofree char *w = why_of(RULES_LATE, NULL, false, late);
	g_assert_cmpstr(w, ==, "Sendt 2 timer og 13 minutter efter fristen (ifølge afsenderens dato)");
}

static void test_typo(void)
{
	g_autofree char *t =
		rules_subject_typo("Puljeopslag 2022: Styrkelse af digitale kompetancer - Region X", CALL, NULL);
	g_assert_cmpstr(t, ==, "kompetancer");
	g_autofree char *u = rules_subject_typo("SV: puljeopslag 2022: STYRKELSE af digitale Kompetenser", CALL, NULL);
	g_assert_cmpstr(u, ==, "Kompetenser");
	g_assert_null(rules_subject_typo(CALL " - Region X", CALL, NULL));
	g_assert_null(rules_subject_typo("Puljeopslag 2023: Styrkelse af digitale kompet", CALL, NULL));
	g_assert_null(rules_subject_typo(NULL, CALL, NULL));
}

/* One rounding everywhere: the reasons' "fuzzy(0.96)" and show's and
 * --json's score are the same number. */
static void test_score(void)
{
	g_assert_cmpfloat(record_score(0.969), ==, 0.96);
	g_assert_cmpfloat(record_score(0.96), ==, 0.96);
	g_assert_cmpfloat(record_score(0.29), ==, 0.29);
	g_assert_cmpfloat(record_score(1.0), ==, 1.0);
	g_autofree char *s = why_score_text(0.969);
	g_assert_cmpstr(s, ==, "0,96");

	const struct rules_call call = { "pulje-2022", CALL, 1656712799, RULES_BASIS_ARRIVAL, 0 };
	struct rules_input in = { .subject = "Puljeopslag 2022: Styrkelse af digitale kompetancer - Region X",
				  .has_arrival = true,
				  .arrival = 1655000000,
				  .n_attachments = 1,
				  .has_form = true };
	g_auto(RulesResult) res = { 0 };
	rules_classify(&call, 1, NULL, &in, &res);
	g_assert_cmpint(res.match, ==, RULES_MATCH_FUZZY);
	g_autofree char *shown = g_strdup_printf("subject:fuzzy(%.2f)", record_score(res.score));
	g_assert_cmpstr(res.reasons[0], ==, shown);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/why/every-reason-in-the-code", test_every_reason_in_the_code);
	g_test_add_func("/why/every-reason-classified", test_every_reason_classified);
	g_test_add_func("/why/examples", test_examples);
	g_test_add_func("/why/accepted", test_accepted);
	g_test_add_func("/why/unknown", test_unknown);
	g_test_add_func("/why/delta", test_delta);
	g_test_add_func("/why/typo", test_typo);
	g_test_add_func("/why/score", test_score);
	return g_test_run();
}
