/* Unit tests for rules: subject matching, applicant, deadline, status. */
#include "rules.h"
#include "datetime.h"

#include <glib.h>
#include <string.h>

#define CALL "Puljeopslag 2022: Styrkelse af digitale kompetencer"

#define E RULES_MATCH_EXACT
#define F RULES_MATCH_FUZZY
#define N RULES_MATCH_NONE

static const struct {
	const char *subject;
	enum rules_match match;
	const char *applicant;
} subjects[] = {
	{ CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ CALL " – Region Sjælland", E, "Region Sjælland" },
	{ CALL " — Københavns Kommune", E, "Københavns Kommune" },
	{ CALL ": Aarhus Universitetshospital", E, "Aarhus Universitetshospital" },
	{ CALL ", Rigshospitalet", E, "Rigshospitalet" },
	{ CALL " (Professionshøjskolen Absalon)", E, "Professionshøjskolen Absalon" },
	{ CALL " - Region Midtjylland (Psykiatrien)", E, "Region Midtjylland (Psykiatrien)" },
	{ CALL " - (Region Midtjylland (Psykiatrien))", E, "Region Midtjylland (Psykiatrien)" },
	{ CALL " (Region Nordjylland", E, "Region Nordjylland" },
	{ CALL " - Region Nordjylland)", E, "Region Nordjylland" },
	{ CALL " [Gladsaxe Kommune]", E, "Gladsaxe Kommune" },
	{ CALL " \"Danske Patienter\"", E, "Danske Patienter" },
	{ CALL " “Ærø Kommune”", E, "Ærø Kommune" },
	{ CALL " Odense Universitetshospital", E, "Odense Universitetshospital" },
	{ CALL, E, NULL },
	{ CALL " - ", E, NULL },
	{ "Re: " CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ "SV: " CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ "VS: " CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ "Fwd: " CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ "FW: " CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ "AW: " CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ "WG: " CALL " - Region Midtjylland", E, "Region Midtjylland" },
	{ "RE: SV: Fwd: " CALL " - Gentofte", E, "Gentofte" },
	{ "Re[2]: " CALL " - Gentofte", E, "Gentofte" },
	{ "sv:" CALL " - Gentofte", E, "Gentofte" },
	{ "\"" CALL " - Herlev\"", E, "Herlev" },
	{ "“" CALL " - Herlev”", E, "Herlev" },
	{ "„" CALL " - Herlev“", E, "Herlev" },
	{ "SV: \"" CALL " - Herlev\"", E, "Herlev" },
	{ "puljeopslag 2022: styrkelse af digitale kompetencer - Region Hovedstaden", E, "Region Hovedstaden" },
	{ "PULJEOPSLAG 2022: STYRKELSE AF DIGITALE KOMPETENCER - REGION HOVEDSTADEN", E, "REGION HOVEDSTADEN" },
	{ "Puljeopslag  2022:   Styrkelse af\tdigitale  kompetencer  -  Region  Hovedstaden", E, "Region Hovedstaden" },
	{ "  Puljeopslag 2022: Styrkelse af digitale kompetencer - Vejle  ", E, "Vejle" },
	{ "Puljeopslag\u00a02022: Styrkelse af digitale kompetencer - Vejle", E, "Vejle" },
	{ "[EKSTERN] " CALL " - Vejle", E, "Vejle" },
	/* NFD input (ø as o + combining stroke does not exist; use å = a + ring) */
	{ CALL " - A\xcc\x8a" "rhus", E, "Århus" },
	{ CALL " - Region\x01Midt", E, "RegionMidt" },
	/* must not match */
	{ "Puljeopslag 2022: Styrkelse af digitale kompetencerne i regionen", F, "i regionen" },
	{ "Puljeopslag 2022", N, NULL },
	{ "Spørgsmål vedr. puljen " CALL, F, NULL },
	{ "Nyhedsbrev: digitale kompetencer", N, NULL },
	{ "", N, NULL },
	{ NULL, N, NULL },
	{ "Puljeopslag 2021: Styrkelse af digitale kompetencer - Region Midt", F, "Region Midt" },
	{ "Automatisk svar: " CALL, F, NULL },
	{ "Puljeopslag 2022 - Styrkelse af digitale kompetencer - Region Midt", E, "Region Midt" },
	{ "Puljeopslag 2022 Styrkelse af digitale kompetencer, Region Midt", E, "Region Midt" },
	{ "Puljeopslag: Styrkelse af digitale kompetencer - Region Midt", F, "Region Midt" },
	{ "Puljeopslag 2022: Styrkelse af digitale kompetancer - Region Midt", F, "Region Midt" },
	{ "Puljeopslag 2022: Styrkelse af digital kompetencer - Region Midt", F, "Region Midt" },
	{ "Styrkelse af digitale kompetencer - Puljeopslag 2022 - Region Midt", F, "Region Midt" },
	{ "Puljeopslag 2022: Styrkelse af digitale - Region Midt", F, "Region Midt" },
	{ "Ansøgning: Puljeopslag 2022: Styrkelse af digitale kompetencer - Region Midt", F, "Region Midt" },
	{ "Puljeopslag 2022: Styrkelse af psykiatrien - Region Midt", N, NULL },
	{ "Digitale kompetencer i sundhedsvæsenet - nyhedsbrev", N, NULL },
};

static void test_subjects(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(subjects); i++) {
		char *applicant = NULL;
		double score = 0;
		enum rules_match m = rules_subject_match(subjects[i].subject, CALL, RULES_DEFAULT_FUZZY_THRESHOLD, &score,
							 &applicant);
		if (m != subjects[i].match || g_strcmp0(applicant, subjects[i].applicant) != 0)
			g_test_message("case %zu: \"%s\" -> match %d (%.2f) applicant \"%s\"", i,
				       subjects[i].subject ? subjects[i].subject : "(null)", m, score,
				       applicant ? applicant : "(null)");
		g_assert_cmpint(m, ==, subjects[i].match);
		g_assert_cmpstr(applicant, ==, subjects[i].applicant);
		g_free(applicant);
	}
}

static void test_normalize(void)
{
	char *n = rules_normalize_subject("SV: Re:  “Puljeopslag\t2022:  STYRKELSE”  ");
	g_assert_cmpstr(n, ==, "puljeopslag 2022: styrkelse");
	g_free(n);
	n = rules_normalize_subject("Straße");
	g_assert_cmpstr(n, ==, "strasse");
	g_free(n);
	n = rules_normalize_subject("\xff\xfe broken");
	g_assert_true(g_utf8_validate(n, -1, NULL));
	g_free(n);
}

static int64_t deadline(const char *text)
{
	GTimeZone *tz = g_time_zone_new_identifier("Europe/Copenhagen");
	int64_t t = 0;
	g_assert_cmpint(datetime_parse_deadline(text, tz, &t), ==, 0);
	g_time_zone_unref(tz);
	return t;
}

static int64_t iso(const char *text)
{
	GDateTime *dt = g_date_time_new_from_iso8601(text, NULL);
	g_assert_nonnull(dt);
	int64_t t = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

static void classify(const char *subject, const char *arrival, size_t n_att, unsigned flags,
		     enum rules_status want, int want_on_time)
{
	struct rules_call call = { "digitale-kompetencer-2022", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 };
	struct rules_input in = {
		.subject = subject, .has_arrival = arrival != NULL, .arrival = arrival ? iso(arrival) : 0,
		.n_attachments = n_att, .flags = flags,
	};
	struct rules_result res;
	rules_classify(&call, 1, NULL, &in, &res);
	g_assert_cmpstr(rules_status_name(res.status), ==, rules_status_name(want));
	g_assert_cmpint(res.on_time, ==, want_on_time);
	g_assert_cmpint(res.n_reasons, >, 0);
	rules_result_clear(&res);
}

static void test_deadline_edges(void)
{
	const char *s = CALL " - Region Midtjylland";
	/* 1 July 2022 is summer time (+02:00) in Copenhagen. */
	classify(s, "2022-07-01T23:59:59+02:00", 1, 0, RULES_ACCEPTED, 1);
	classify(s, "2022-07-02T00:00:00+02:00", 1, 0, RULES_LATE, 0);
	classify(s, "2022-07-01T21:59:59Z", 1, 0, RULES_ACCEPTED, 1);
	classify(s, "2022-07-01T22:00:00Z", 1, 0, RULES_LATE, 0);
	classify(s, "2022-07-01T17:59:59-04:00", 1, 0, RULES_ACCEPTED, 1);
	classify(s, "2022-07-01T18:00:00-04:00", 1, 0, RULES_LATE, 0);
	classify(s, "2022-07-02T03:29:59+05:30", 1, 0, RULES_ACCEPTED, 1);
	classify(s, "2022-07-02T03:30:00+05:30", 1, 0, RULES_LATE, 0);
	classify(s, "2022-06-15T10:12:00+02:00", 0, 0, RULES_REVIEW, 1);
	classify(s, "2022-07-05T10:12:00+02:00", 0, 0, RULES_LATE, 0);
	classify(s, NULL, 1, 0, RULES_REVIEW, -1);
	classify(s, "2022-06-15T10:12:00+02:00", 1, RULES_IN_BROKEN, RULES_REVIEW, 1);
	classify(s, "2022-06-15T10:12:00+02:00", 0, RULES_IN_TOO_LARGE, RULES_REVIEW, 1);
	classify("Nyhedsbrev", "2022-06-15T10:12:00+02:00", 3, 0, RULES_UNRELATED, -1);
	classify(NULL, "2022-06-15T10:12:00+02:00", 3, 0, RULES_UNRELATED, -1);
	classify(NULL, "2022-06-15T10:12:00+02:00", 0, RULES_IN_TOO_LARGE, RULES_REVIEW, -1);
	classify("Nyhedsbrev", "2022-06-15T10:12:00+02:00", 0, RULES_IN_TOO_LARGE, RULES_UNRELATED, -1);
}

static void test_deadline_parse(void)
{
	/* Date: through the end of that day, local time. */
	g_assert_cmpint(deadline("2022-07-01"), ==, iso("2022-07-01T23:59:59+02:00"));
	/* Winter: +01:00. */
	g_assert_cmpint(deadline("2022-01-15"), ==, iso("2022-01-15T23:59:59+01:00"));
	/* The day summer time starts (23 hours) and ends (25 hours). */
	g_assert_cmpint(deadline("2022-03-27"), ==, iso("2022-03-27T23:59:59+02:00"));
	g_assert_cmpint(deadline("2022-10-30"), ==, iso("2022-10-30T23:59:59+01:00"));
	g_assert_cmpint(deadline("2022-07-01T12:00:00+02:00"), ==, iso("2022-07-01T12:00:00+02:00"));
	g_assert_cmpint(deadline("2022-07-01T12:00:00Z"), ==, iso("2022-07-01T14:00:00+02:00"));
	g_assert_cmpint(deadline("2022-07-01T12:00"), ==, iso("2022-07-01T12:00:00+02:00"));
	g_assert_cmpint(deadline("2022-07-01 12:00:00"), ==, iso("2022-07-01T12:00:00+02:00"));
	g_assert_cmpint(deadline("2022-12-01T12:00:00"), ==, iso("2022-12-01T12:00:00+01:00"));

	GTimeZone *tz = g_time_zone_new_identifier("Europe/Copenhagen");
	int64_t t;
	g_assert_cmpint(datetime_parse_deadline("2022-02-30", tz, &t), <, 0);
	g_assert_cmpint(datetime_parse_deadline("1 July 2022", tz, &t), <, 0);
	g_assert_cmpint(datetime_parse_deadline("2022-07-01X", tz, &t), <, 0);
	g_assert_cmpint(datetime_parse_deadline("", tz, &t), <, 0);
	g_time_zone_unref(tz);
}

static void test_format(void)
{
	GTimeZone *tz = g_time_zone_new_identifier("Europe/Copenhagen");
	char *s = datetime_format(iso("2022-06-15T08:12:00Z"), tz);
	g_assert_cmpstr(s, ==, "2022-06-15T10:12:00+02:00");
	g_free(s);
	s = datetime_format(iso("2022-12-15T08:12:00Z"), tz);
	g_assert_cmpstr(s, ==, "2022-12-15T09:12:00+01:00");
	g_free(s);
	s = datetime_format_offset(iso("2022-06-15T08:12:00Z"), -330);
	g_assert_cmpstr(s, ==, "2022-06-15T02:42:00-05:30");
	g_free(s);
	g_time_zone_unref(tz);
}

static void test_first_call_wins(void)
{
	struct rules_call calls[] = {
		{ "a", "Puljeopslag 2023: Styrkelse af psykiatrien", deadline("2023-01-01"), RULES_BASIS_ARRIVAL, 0 },
		{ "b", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 },
	};
	struct rules_input in = { .subject = CALL " - X", .has_arrival = true, .arrival = iso("2022-06-01T00:00:00Z"),
				  .n_attachments = 1 };
	struct rules_result res;
	rules_classify(calls, 2, NULL, &in, &res);
	g_assert_cmpint(res.call, ==, 1);
	g_assert_cmpstr(res.applicant, ==, "X");
	g_assert_cmpint(res.status, ==, RULES_ACCEPTED);
	rules_result_clear(&res);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/rules/subjects", test_subjects);
	g_test_add_func("/rules/normalize", test_normalize);
	g_test_add_func("/rules/deadline-edges", test_deadline_edges);
	g_test_add_func("/rules/first-call-wins", test_first_call_wins);
	g_test_add_func("/datetime/parse-deadline", test_deadline_parse);
	g_test_add_func("/datetime/format", test_format);
	return g_test_run();
}
