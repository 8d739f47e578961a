/* Unit tests for rules: subject matching, applicant, deadline, status. */
#include "rules.h"
#include "record.h"

#include <errno.h>
#include "datetime.h"

#include <glib.h>
#include <stdlib.h>
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
	{ CALL " - A\xcc\x8a"
	       "rhus",
	  E, "Århus" },
	{ CALL " - Region\x01Midt", E, "RegionMidt" },
	/* must not match */
	{ "Puljeopslag 2022: Styrkelse af digitale kompetencerne i regionen", F, NULL }, /* continues the call name */
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
		enum rules_match m = rules_subject_match(subjects[i].subject, CALL, RULES_DEFAULT_FUZZY_THRESHOLD,
							 &score, &applicant);
		if (m != subjects[i].match || g_strcmp0(applicant, subjects[i].applicant) != 0)
			g_test_message("case %zu: \"%s\" -> match %d (%.2f) applicant \"%s\"", i,
				       subjects[i].subject ? subjects[i].subject : "(null)", m, score,
				       applicant ? applicant : "(null)");
		g_assert_cmpint(m, ==, subjects[i].match);
		g_assert_cmpstr(applicant, ==, subjects[i].applicant);
		g_free(applicant);
	}
}

static void test_applicant_bounds(void)
{
	/* Bidi overrides never reach a name; a 1 MB name is cut at
	 * RULES_APPLICANT_MAX characters with an ellipsis. */
	char *applicant = NULL;
	double score = 0;
	rules_subject_match(CALL " - Region \u202eNordjylland\u202c", CALL, RULES_DEFAULT_FUZZY_THRESHOLD, &score,
			    &applicant);
	g_assert_cmpstr(applicant, ==, "Region Nordjylland");
	g_free(applicant);
	GString *s = g_string_new(CALL " - ");
	for (int i = 0; i < 100000; i++)
		g_string_append(s, "Kø ");
	rules_subject_match(s->str, CALL, RULES_DEFAULT_FUZZY_THRESHOLD, &score, &applicant);
	g_assert_cmpuint(g_utf8_strlen(applicant, -1), ==, RULES_APPLICANT_MAX + 1);
	g_assert_true(g_str_has_suffix(applicant, "…"));
	g_free(applicant);
	g_string_free(s, TRUE);
}

/* The table's escapes: \t, \n, \\ and \uXXXX. */
static char *unescape(const char *s)
{
	GString *out = g_string_new(NULL);
	for (const char *p = s; *p; p++) {
		if (*p != '\\' || !p[1]) {
			g_string_append_c(out, *p);
			continue;
		}
		p++;
		if (*p == 't')
			g_string_append_c(out, '\t');
		else if (*p == 'n')
			g_string_append_c(out, '\n');
		else if (*p == 'u' && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2]) && g_ascii_isxdigit(p[3]) &&
			 g_ascii_isxdigit(p[4])) {
			char hex[5] = { p[1], p[2], p[3], p[4], 0 };
			g_string_append_unichar(out, (gunichar)strtoul(hex, NULL, 16));
			p += 4;
		} else
			g_string_append_c(out, *p);
	}
	return g_string_free(out, FALSE);
}

/* tests/data/subjects.tsv: subject TAB exact|fuzzy|none TAB applicant|- */
static void test_subject_table(void)
{
	g_autofree char *path = g_build_filename(g_getenv("PULJED_SRCDIR"), "tests", "data", "subjects.tsv", NULL);
	g_autofree char *text = NULL;
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	size_t cases = 0, failed = 0;
	for (size_t i = 0; lines[i]; i++) {
		if (!*lines[i] || lines[i][0] == '#')
			continue;
		g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
		g_assert_cmpuint(g_strv_length(f), ==, 3);
		enum rules_match want = !strcmp(f[1], "exact") ? E : !strcmp(f[1], "fuzzy") ? F : N;
		g_assert_true(!strcmp(f[1], "exact") || !strcmp(f[1], "fuzzy") || !strcmp(f[1], "none"));
		g_autofree char *subject = unescape(f[0]);
		g_autofree char *want_app = strcmp(f[2], "-") ? unescape(f[2]) : NULL;
		char *applicant = NULL;
		double score = 0;
		enum rules_match got =
			rules_subject_match(subject, CALL, RULES_DEFAULT_FUZZY_THRESHOLD, &score, &applicant);
		cases++;
		if (got != want || (want != N && g_strcmp0(applicant, want_app))) {
			g_test_message("line %zu: \"%s\": want %s \"%s\", got %s (%.2f) \"%s\"", i + 1, f[0], f[1],
				       want_app ? want_app : "-",
				       got == E   ? "exact"
				       : got == F ? "fuzzy"
						  : "none",
				       score, applicant ? applicant : "-");
			failed++;
		}
		g_free(applicant);
	}
	g_test_message("%zu subject cases, %zu wrong", cases, failed);
	g_assert_cmpuint(cases, >=, 100);
	g_assert_cmpuint(failed, ==, 0);
}

static unsigned parse_hints(const char *text)
{
	static const struct {
		const char *name;
		unsigned hint;
	} names[] = {
		{ "report", RULES_HINT_REPORT },
		{ "bounce", RULES_HINT_BOUNCE },
		{ "calendar", RULES_HINT_CALENDAR },
		{ "autoreply", RULES_HINT_AUTOREPLY },
		{ "auto-submitted", RULES_HINT_AUTO_SUBMITTED },
		{ "list", RULES_HINT_LIST },
		{ "bulk", RULES_HINT_PRECEDENCE_BULK },
		{ "bulk-sender", RULES_HINT_BULK_SENDER },
	};
	unsigned h = 0;
	if (!strcmp(text, "-"))
		return 0;
	g_auto(GStrv) parts = g_strsplit(text, ",", -1);
	for (size_t i = 0; parts[i]; i++) {
		bool found = false;
		for (size_t k = 0; k < G_N_ELEMENTS(names); k++)
			if (!strcmp(parts[i], names[k].name)) {
				h |= names[k].hint;
				found = true;
			}
		g_assert_true(found);
	}
	return h;
}

static int64_t deadline(const char *text);
static int64_t iso(const char *text);

/* tests/data/classify.tsv: subject, hints, form, status, kind, applicant
 * through rules_classify(), arriving on time with one attachment. */
static void test_classify_table(void)
{
	g_autofree char *path = g_build_filename(g_getenv("PULJED_SRCDIR"), "tests", "data", "classify.tsv", NULL);
	g_autofree char *text = NULL;
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	struct rules_call call = { "c", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 };
	size_t cases = 0, failed = 0;
	for (size_t i = 0; lines[i]; i++) {
		if (!*lines[i] || lines[i][0] == '#')
			continue;
		g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
		g_assert_cmpuint(g_strv_length(f), ==, 6);
		g_autofree char *subject = unescape(f[0]);
		g_autofree char *want_app = strcmp(f[5], "-") ? unescape(f[5]) : NULL;
		struct rules_input in = { .subject = subject,
					  .has_arrival = true,
					  .arrival = iso("2022-06-15T10:00:00+02:00"),
					  .n_attachments = 1,
					  .has_form = !strcmp(f[2], "yes"),
					  .hints = parse_hints(f[1]) };
		struct rules_result r;
		rules_classify(&call, 1, NULL, &in, &r);
		cases++;
		const char *status = record_status_name(r.status), *kind = record_kind_name(r.kind);
		if (strcmp(status, f[3]) || strcmp(kind, f[4]) || g_strcmp0(r.applicant, want_app)) {
			GString *reasons = g_string_new(NULL);
			for (size_t k = 0; k < r.n_reasons; k++)
				g_string_append_printf(reasons, " %s", r.reasons[k]);
			g_test_message("line %zu: \"%s\": want %s %s \"%s\", got %s %s \"%s\" (%s )", i + 1, f[0], f[3],
				       f[4], want_app ? want_app : "-", status, kind, r.applicant ? r.applicant : "-",
				       reasons->str);
			g_string_free(reasons, TRUE);
			failed++;
		}
		/* The contract, whatever the line says. */
		g_assert_true(!(r.status == RULES_ACCEPTED && r.kind != RULES_KIND_APPLICATION));
		rules_result_clear(&r);
	}
	g_test_message("%zu classify cases, %zu wrong", cases, failed);
	g_assert_cmpuint(cases, >=, 100);
	g_assert_cmpuint(failed, ==, 0);
}

static void test_kinds(void)
{
	static const struct {
		const char *subject;
		unsigned hints;
		enum rules_kind kind;
	} kinds[] = {
		{ CALL " - X", 0, RULES_KIND_APPLICATION },
		{ "Automatisk svar: " CALL " - X", 0, RULES_KIND_AUTO_REPLY },
		{ "Autosvar: " CALL, 0, RULES_KIND_AUTO_REPLY },
		{ "Out of Office: " CALL, 0, RULES_KIND_AUTO_REPLY },
		{ "Automatic reply: " CALL, 0, RULES_KIND_AUTO_REPLY },
		{ "Fraværende: " CALL, 0, RULES_KIND_AUTO_REPLY },
		/* A person's reply to an auto-reply or a bounce quotes its subject:
		 * without automatic-mail headers it is the person's mail. */
		{ "SV: Automatisk svar: " CALL, 0, RULES_KIND_APPLICATION },
		{ "RE: Automatic reply: " CALL, 0, RULES_KIND_APPLICATION },
		{ "RE: Undeliverable: " CALL, 0, RULES_KIND_APPLICATION },
		{ "Fwd: Undeliverable: " CALL, 0, RULES_KIND_APPLICATION },
		{ "SV: Automatisk svar: " CALL, RULES_HINT_AUTOREPLY, RULES_KIND_AUTO_REPLY },
		{ "SV: Automatisk svar: " CALL, RULES_HINT_AUTO_SUBMITTED, RULES_KIND_AUTO_REPLY },
		{ "Fwd: Undeliverable: " CALL, RULES_HINT_BOUNCE, RULES_KIND_DELIVERY_REPORT },
		{ "[EKSTERN] Automatisk svar: " CALL, 0, RULES_KIND_AUTO_REPLY },
		/* Bounces that are not multipart/report: From mailer-daemon@ or
		 * postmaster@, X-Failed-Recipients (assess.c sets the hint). */
		{ CALL " - X", RULES_HINT_BOUNCE, RULES_KIND_DELIVERY_REPORT },
		{ "Mail delivery failed: returning message to sender", RULES_HINT_BOUNCE, RULES_KIND_DELIVERY_REPORT },
		{ "Delivery has failed to these recipients or groups", 0, RULES_KIND_DELIVERY_REPORT },
		/* A calendar invitation (a text/calendar part). */
		{ CALL " - informationsmøde", RULES_HINT_CALENDAR, RULES_KIND_OTHER },
		{ CALL, RULES_HINT_AUTOREPLY, RULES_KIND_AUTO_REPLY },
		{ CALL, RULES_HINT_AUTO_SUBMITTED, RULES_KIND_AUTO_REPLY },
		{ CALL, RULES_HINT_PRECEDENCE_AUTO, RULES_KIND_AUTO_REPLY },
		{ "Undeliverable: " CALL, 0, RULES_KIND_DELIVERY_REPORT },
		{ "Returned mail: see transcript for details", 0, RULES_KIND_DELIVERY_REPORT },
		{ "Kan ikke leveres: " CALL, 0, RULES_KIND_DELIVERY_REPORT },
		{ CALL, RULES_HINT_REPORT, RULES_KIND_DELIVERY_REPORT },
		{ CALL, RULES_HINT_LIST, RULES_KIND_LIST },
		{ CALL, RULES_HINT_PRECEDENCE_BULK, RULES_KIND_LIST },
		{ "Spørgsmål vedr. puljen " CALL, 0, RULES_KIND_QUESTION },
		{ "SV: Spørgsmål til ansøgningsskemaet", 0, RULES_KIND_QUESTION },
		{ "Question about the call", 0, RULES_KIND_QUESTION },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		g_assert_cmpstr(record_kind_name(rules_message_kind(kinds[i].subject, kinds[i].hints)), ==,
				record_kind_name(kinds[i].kind));
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

static void classify(const char *subject, const char *arrival, size_t n_att, unsigned flags, enum rules_status want,
		     int want_on_time)
{
	struct rules_call call = { "digitale-kompetencer-2022", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 };
	struct rules_input in = {
		.subject = subject,
		.has_arrival = arrival != NULL,
		.arrival = arrival ? iso(arrival) : 0,
		.n_attachments = n_att,
		.has_form = n_att > 0,
		.flags = flags,
	};
	struct rules_result res;
	rules_classify(&call, 1, NULL, &in, &res);
	g_assert_cmpstr(record_status_name(res.status), ==, record_status_name(want));
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
	classify(s, "2022-07-01T23:59:59.999+02:00", 1, 0, RULES_ACCEPTED, 1);
	classify(s, "2022-07-02T09:59:59+10:00", 1, 0, RULES_LATE, 0);
	classify(s, "2022-07-01T11:59:59-10:00", 1, 0, RULES_ACCEPTED, 1);
	classify(s, "2022-07-02T03:30:00+05:30", 1, 0, RULES_LATE, 0);
	classify(s, "2022-06-15T10:12:00+02:00", 0, 0, RULES_REVIEW, 1);
	classify(s, "2022-07-05T10:12:00+02:00", 0, 0, RULES_LATE, 0);
	classify(s, NULL, 1, 0, RULES_REVIEW, -1);
	classify(s, "2022-06-15T10:12:00+02:00", 1, RULES_IN_BROKEN, RULES_REVIEW, 1);
	classify(s, "2022-06-15T10:12:00+02:00", 0, RULES_IN_TOO_LARGE, RULES_REVIEW, 1);
	classify("Nyhedsbrev", "2022-06-15T10:12:00+02:00", 3, 0, RULES_UNRELATED, -1);
	/* No subject, but a form: the safety net, a person looks. */
	classify(NULL, "2022-06-15T10:12:00+02:00", 3, 0, RULES_REVIEW, 1);
	classify(NULL, "2022-06-15T10:12:00+02:00", 0, 0, RULES_UNRELATED, -1);
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
	/* Offsets in every form. */
	g_assert_cmpint(deadline("2022-07-01T12:00:00-05:00"), ==, iso("2022-07-01T17:00:00Z"));
	g_assert_cmpint(deadline("2022-07-01T12:00:00+05:30"), ==, iso("2022-07-01T06:30:00Z"));
	g_assert_cmpint(deadline("2022-07-01T12:00:00+0200"), ==, iso("2022-07-01T10:00:00Z"));
	g_assert_cmpint(deadline("2022-07-01T12:00:00z"), ==, iso("2022-07-01T12:00:00Z"));
	g_assert_cmpint(deadline("2022-07-01T12:00Z"), ==, iso("2022-07-01T12:00:00Z"));
	/* Daylight saving: on 27 March 2022 02:00-03:00 does not exist in
	 * Copenhagen; on 30 October 02:00-03:00 happens twice.  A local
	 * timestamp in those hours is still read, deterministically. */
	g_assert_cmpint(deadline("2022-03-27T01:59:59"), ==, iso("2022-03-27T00:59:59Z"));
	g_assert_cmpint(deadline("2022-03-27T03:00:00"), ==, iso("2022-03-27T01:00:00Z"));
	g_assert_cmpint(deadline("2022-10-30T01:59:59"), ==, iso("2022-10-29T23:59:59Z"));
	g_assert_cmpint(deadline("2022-10-30T03:00:00"), ==, iso("2022-10-30T02:00:00Z"));
	GTimeZone *cph = g_time_zone_new_identifier("Europe/Copenhagen");
	int64_t x;
	g_assert_cmpint(datetime_parse_deadline("2022-03-27T02:30:00", cph, &x), ==, -ERANGE);
	g_assert_cmpint(datetime_parse_deadline("2022-10-30T02:30:00", cph, &x), ==, -ERANGE);
	/* With an offset they are instants like any other. */
	g_assert_cmpint(datetime_parse_deadline("2022-10-30T02:30:00+02:00", cph, &x), ==, 0);
	g_assert_cmpint(x, ==, iso("2022-10-30T00:30:00Z"));
	g_assert_cmpint(datetime_parse_deadline("2022-10-30T02:30:00+01:00", cph, &x), ==, 0);
	g_assert_cmpint(x, ==, iso("2022-10-30T01:30:00Z"));
	g_time_zone_unref(cph);

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

static struct rules_result run(const struct rules_input *in, enum rules_basis basis, int64_t grace)
{
	struct rules_call call = { "c", CALL, deadline("2022-07-01"), basis, grace };
	struct rules_result res;
	rules_classify(&call, 1, NULL, in, &res);
	return res;
}

static bool has_reason(const struct rules_result *r, const char *prefix)
{
	for (size_t i = 0; i < r->n_reasons; i++)
		if (g_str_has_prefix(r->reasons[i], prefix))
			return true;
	return false;
}

static void test_not_applications(void)
{
	/* Automatic replies and bounces quoting the call, even with a PDF:
	 * never accepted. */
	struct rules_input in = { .subject = "Automatisk svar: " CALL " - Region X",
				  .has_arrival = true,
				  .arrival = iso("2022-06-15T10:00:00+02:00"),
				  .n_attachments = 1,
				  .has_form = true };
	struct rules_result r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_UNRELATED);
	g_assert_cmpint(r.kind, ==, RULES_KIND_AUTO_REPLY);
	g_assert_true(has_reason(&r, "kind:auto-reply"));
	/* unrelated: no call, no applicant, on_time null; the quoted call
	 * is kept as a reason, and no deadline is claimed. */
	g_assert_cmpint(r.call, ==, -1);
	g_assert_null(r.applicant);
	g_assert_cmpint(r.on_time, ==, -1);
	g_assert_true(has_reason(&r, "quotes:c"));
	g_assert_true(has_reason(&r, "attachments:1"));
	for (size_t i = 0; i < r.n_reasons; i++)
		g_assert_false(g_str_has_prefix(r.reasons[i], "deadline:"));
	rules_result_clear(&r);

	in.subject = CALL " - Region X";
	in.hints = RULES_HINT_REPORT;
	in.arrival = iso("2022-07-15T10:00:00+02:00"); /* a late bounce is not "late" */
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_UNRELATED);
	g_assert_cmpint(r.call, ==, -1);
	g_assert_cmpint(r.on_time, ==, -1);
	g_assert_null(r.applicant);
	rules_result_clear(&r);
	in.arrival = iso("2022-06-15T10:00:00+02:00");

	/* Machine-generated (Auto-Submitted: auto-generated) but an exact
	 * application with a form: a person looks. */
	in.hints = RULES_HINT_AUTO_SUBMITTED;
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_REVIEW);
	rules_result_clear(&r);

	/* List mail quoting the call, even with a form: no application, no
	 * applicant, no call; a person's reply through the list is looked at. */
	in.hints = RULES_HINT_LIST;
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_UNRELATED);
	g_assert_cmpint(r.kind, ==, RULES_KIND_LIST);
	g_assert_cmpint(r.call, ==, -1);
	g_assert_null(r.applicant);
	rules_result_clear(&r);
	in.subject = "SV: " CALL " - Region X";
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_REVIEW);
	g_assert_cmpint(r.kind, ==, RULES_KIND_LIST);
	rules_result_clear(&r);
	in.subject = CALL " - Region X";

	in.hints = 0;
	in.subject = "Spørgsmål vedr. puljen " CALL;
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, !=, RULES_ACCEPTED);
	rules_result_clear(&r);

	in.subject = "Nyhedsbrev fra Sundhedsstyrelsen";
	in.hints = RULES_HINT_LIST;
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_UNRELATED);
	g_assert_cmpint(r.kind, ==, RULES_KIND_LIST);
	rules_result_clear(&r);
}

static void test_fuzzy_is_review(void)
{
	struct rules_input in = { .subject = "Puljeopslag 2022: Styrkelse af digitale kompetancer - Region X",
				  .has_arrival = true,
				  .arrival = iso("2022-06-15T10:00:00+02:00"),
				  .n_attachments = 1 };
	struct rules_result r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.match, ==, RULES_MATCH_FUZZY);
	g_assert_cmpint(r.status, ==, RULES_REVIEW);
	g_assert_cmpstr(r.applicant, ==, "Region X");
	g_assert_true(has_reason(&r, "subject:fuzzy(0."));
	rules_result_clear(&r);
	/* Fuzzy and late: late. */
	in.arrival = iso("2022-07-03T10:00:00+02:00");
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_LATE);
	rules_result_clear(&r);
}

static void test_applicant_from_sender(void)
{
	struct rules_input in = { .subject = CALL,
				  .from_name = "Region Nordjylland",
				  .has_arrival = true,
				  .arrival = iso("2022-06-15T10:00:00+02:00"),
				  .n_attachments = 1 };
	struct rules_result r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpstr(r.applicant, ==, "Region Nordjylland");
	g_assert_cmpint(r.applicant_source, ==, RULES_APPLICANT_FROM);
	g_assert_true(has_reason(&r, "applicant:from"));
	rules_result_clear(&r);
	in.organization = "Aalborg Universitetshospital";
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpstr(r.applicant, ==, "Aalborg Universitetshospital");
	rules_result_clear(&r);
	/* An address is no name. */
	in.organization = NULL;
	in.from_name = "post@rn.dk";
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_null(r.applicant);
	g_assert_cmpint(r.applicant_source, ==, RULES_APPLICANT_NONE);
	rules_result_clear(&r);
	/* The subject's applicant wins. */
	in.subject = CALL " - Region Midtjylland";
	in.from_name = "Mette Hansen";
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpstr(r.applicant, ==, "Region Midtjylland");
	g_assert_cmpint(r.applicant_source, ==, RULES_APPLICANT_SUBJECT);
	rules_result_clear(&r);
}

static void test_basis_and_grace(void)
{
	struct rules_input in = { .subject = CALL " - X",
				  .n_attachments = 1,
				  .has_form = true,
				  .has_arrival = true,
				  .arrival = iso("2022-07-02T00:10:00+02:00"),
				  .has_date = true,
				  .date = iso("2022-07-01T23:50:00+02:00") };
	/* Arrival decides by default: late by 10 min (the deadline is 2022-07-02T00:00:00+02:00). */
	struct rules_result r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.on_time, ==, 0);
	g_assert_cmpint(r.delta, ==, 600);
	g_assert_cmpint(r.decided_by, ==, RULES_BASIS_ARRIVAL);
	g_assert_true(has_reason(&r, "deadline:late(+10m0s)"));
	rules_result_clear(&r);
	/* The Date: header decides when configured. */
	r = run(&in, RULES_BASIS_DATE_HEADER, 0);
	g_assert_cmpint(r.on_time, ==, 1);
	g_assert_cmpint(r.delta, ==, -600);
	g_assert_cmpint(r.decided_by, ==, RULES_BASIS_DATE_HEADER);
	g_assert_cmpint(r.status, ==, RULES_ACCEPTED);
	rules_result_clear(&r);
	/* Grace of 15 minutes. */
	r = run(&in, RULES_BASIS_ARRIVAL, 15 * 60);
	g_assert_cmpint(r.on_time, ==, 1);
	g_assert_cmpint(r.delta, ==, -300);
	rules_result_clear(&r);
	/* No Date: header: arrival decides, and says so. */
	in.has_date = false;
	r = run(&in, RULES_BASIS_DATE_HEADER, 0);
	g_assert_cmpint(r.decided_by, ==, RULES_BASIS_ARRIVAL);
	g_assert_cmpint(r.on_time, ==, 0);
	g_assert_true(has_reason(&r, "deadline:no-date-header"));
	rules_result_clear(&r);
	/* The edge (the authority's mail server) decides when configured and known. */
	in.has_edge = true;
	in.edge = iso("2022-07-01T23:59:40+02:00");
	r = run(&in, RULES_BASIS_EDGE, 0);
	g_assert_cmpint(r.decided_by, ==, RULES_BASIS_EDGE);
	g_assert_cmpint(r.on_time, ==, 1);
	g_assert_cmpint(r.delta, ==, -20);
	g_assert_true(has_reason(&r, "deadline:on-time(-20s)[edge]"));
	g_assert_cmpstr(rules_basis_name(r.decided_by), ==, "edge");
	rules_result_clear(&r);
	/* ... never under another basis ... */
	r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.decided_by, ==, RULES_BASIS_ARRIVAL);
	g_assert_cmpint(r.on_time, ==, 0);
	rules_result_clear(&r);
	/* ... and without one, arrival decides and says so. */
	in.has_edge = false;
	r = run(&in, RULES_BASIS_EDGE, 0);
	g_assert_cmpint(r.decided_by, ==, RULES_BASIS_ARRIVAL);
	g_assert_cmpint(r.on_time, ==, 0);
	g_assert_true(has_reason(&r, "deadline:no-edge(arrival)"));
	rules_result_clear(&r);
}

static void test_durations(void)
{
	static const struct {
		int64_t s;
		const char *compact;
	} d[] = {
		{ -11520, "-3h12m" }, { 7980, "+2h13m" },           { 10, "+10s" }, { 0, "+0s" }, { -1, "-1s" },
		{ -90, "-1m30s" },    { 1209600 + 3600, "+14d1h" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(d); i++) {
		g_autofree char *c = rules_format_delta(d[i].s);
		g_assert_cmpstr(c, ==, d[i].compact);
	}
}

static void test_best_call(void)
{
	struct rules_call calls[] = {
		{ "fuzzy-first", "Puljeopslag 2022: Styrkelse af digitale kompetencer i kommunerne",
		  deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 },
		{ "exact", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 },
		{ "other", "Puljeopslag 2023: Styrkelse af psykiatrien", deadline("2023-03-01"), RULES_BASIS_ARRIVAL,
		  0 },
	};
	struct rules_input in = { .subject = CALL " - Region X",
				  .has_arrival = true,
				  .arrival = iso("2022-06-01T00:00:00Z"),
				  .n_attachments = 1 };
	struct rules_result r;
	rules_classify(calls, 3, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 1);
	g_assert_cmpint(r.match, ==, RULES_MATCH_EXACT);
	rules_result_clear(&r);
	in.subject = "Puljeopslag 2023: Styrkelse af psykiatrien - Region Y";
	in.arrival = iso("2023-02-01T00:00:00Z");
	rules_classify(calls, 3, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 2);
	g_assert_cmpstr(r.applicant, ==, "Region Y");
	rules_result_clear(&r);
}

static void test_pick_form(void)
{
	struct rules_form_candidate c[] = {
		{ "logo.png", false, false, false, false },
		{ "bilag.pdf", true, false, false, false },
		{ "Ansøgningsskema.pdf", true, false, false, false },
		{ "scan.pdf", true, false, true, false },
	};
	g_assert_cmpint(rules_pick_form(c, 4), ==, 3);  /* signed */
	g_assert_cmpint(rules_pick_form(c, 3), ==, 2);  /* the name says so */
	g_assert_cmpint(rules_pick_form(c, 2), ==, 1);  /* the only PDF */
	g_assert_cmpint(rules_pick_form(c, 1), ==, -1); /* no PDF or DOCX */
	struct rules_form_candidate d[] = {
		{ "budget.xlsx", false, false, false, false },
		{ "beskrivelse.docx", false, true, false, false },
		{ "x.pdf", true, false, false, true }, /* first page says ansøgning */
		{ "y.pdf", true, false, false, false },
	};
	g_assert_cmpint(rules_pick_form(d, 2), ==, 1); /* the only DOCX */
	g_assert_cmpint(rules_pick_form(d, 4), ==, 2);
	struct rules_form_candidate e[] = {
		{ "ANSOEGNING.DOCX", false, true, false, false },
		{ "x.pdf", true, false, false, false },
	};
	g_assert_cmpint(rules_pick_form(e, 2), ==, 0);

	/* A matching message with attachments but no form: review. */
	struct rules_input in = { .subject = CALL " - X",
				  .has_arrival = true,
				  .arrival = iso("2022-06-01T00:00:00Z"),
				  .n_attachments = 1,
				  .has_form = false };
	struct rules_result r = run(&in, RULES_BASIS_ARRIVAL, 0);
	g_assert_cmpint(r.status, ==, RULES_REVIEW);
	g_assert_true(has_reason(&r, "form:none"));
	rules_result_clear(&r);
}

/* A form whose signature does not hold, or that was changed after
 * signing, is no clean acceptance: review, saying why.  Late stays late. */
static void test_form_signature(void)
{
	static const struct {
		enum rules_form_signature sig;
		const char *arrival;
		enum rules_status status;
		const char *reason;
	} cases[] = {
		{ RULES_FORM_SIG_OK, "2022-06-01T00:00:00Z", RULES_ACCEPTED, NULL },
		{ RULES_FORM_SIG_INVALID, "2022-06-01T00:00:00Z", RULES_REVIEW, "form:signature-invalid" },
		{ RULES_FORM_SIG_MODIFIED, "2022-06-01T00:00:00Z", RULES_REVIEW, "form:modified-after-signing" },
		{ RULES_FORM_SIG_INVALID, "2022-08-01T00:00:00Z", RULES_LATE, "form:signature-invalid" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct rules_input in = { .subject = CALL " - X",
					  .has_arrival = true,
					  .arrival = iso(cases[i].arrival),
					  .n_attachments = 1,
					  .has_form = true,
					  .form_signature = cases[i].sig };
		struct rules_result r = run(&in, RULES_BASIS_ARRIVAL, 0);
		g_assert_cmpint(r.status, ==, cases[i].status);
		if (cases[i].reason)
			g_assert_true(has_reason(&r, cases[i].reason));
		g_assert_false(has_reason(&r, cases[i].sig == RULES_FORM_SIG_MODIFIED ? "form:signature-invalid"
										      : "form:modified-after-signing"));
		rules_result_clear(&r);
	}
}

static void test_first_call_wins(void)
{
	struct rules_call calls[] = {
		{ "a", "Puljeopslag 2023: Styrkelse af psykiatrien", deadline("2023-01-01"), RULES_BASIS_ARRIVAL, 0 },
		{ "b", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 },
	};
	struct rules_input in = { .subject = CALL " - X",
				  .has_arrival = true,
				  .arrival = iso("2022-06-01T00:00:00Z"),
				  .n_attachments = 1,
				  .has_form = true };
	struct rules_result res;
	rules_classify(calls, 2, NULL, &in, &res);
	g_assert_cmpint(res.call, ==, 1);
	g_assert_cmpstr(res.applicant, ==, "X");
	g_assert_cmpint(res.status, ==, RULES_ACCEPTED);
	rules_result_clear(&res);
}

static void test_longer_exact_wins(void)
{
	struct rules_call calls[] = {
		{ "kort", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 },
		{ "lang", CALL " i ældreplejen", deadline("2022-08-01"), RULES_BASIS_ARRIVAL, 0 },
	};
	struct rules_input in = { .subject = CALL " i ældreplejen - Viborg Kommune",
				  .has_arrival = true,
				  .arrival = iso("2022-06-01T00:00:00Z"),
				  .n_attachments = 1,
				  .has_form = true };
	struct rules_result r;
	rules_classify(calls, 2, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 1);
	g_assert_cmpint(r.match, ==, RULES_MATCH_EXACT);
	g_assert_cmpstr(r.applicant, ==, "Viborg Kommune");
	rules_result_clear(&r);
	/* Either order. */
	struct rules_call swapped[] = { calls[1], calls[0] };
	rules_classify(swapped, 2, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 0);
	rules_result_clear(&r);
	/* The shorter call's own subject still goes to the shorter call. */
	in.subject = CALL " - Viborg Kommune";
	rules_classify(calls, 2, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 0);
	g_assert_cmpint(r.match, ==, RULES_MATCH_EXACT);
	rules_result_clear(&r);
}

static void test_form_safety_net(void)
{
	struct rules_call calls[] = {
		{ "psyk", "Puljeopslag 2023: Styrkelse af psykiatrien", deadline("2023-03-01"), RULES_BASIS_ARRIVAL,
		  0 },
		{ "digi", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 },
	};
	struct rules_input in = { .subject = "Grant call 2022: Strengthening digital competencies - DTU",
				  .has_arrival = true,
				  .arrival = iso("2022-06-01T00:00:00Z"),
				  .n_attachments = 1,
				  .has_form = true };
	struct rules_result r;
	/* One call: that call, so on_time is decided. */
	rules_classify(&calls[1], 1, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 0);
	g_assert_cmpint(r.status, ==, RULES_REVIEW);
	g_assert_cmpint(r.match, ==, RULES_MATCH_NONE);
	g_assert_cmpint(r.on_time, ==, 1);
	g_assert_true(has_reason(&r, "subject:none+form"));
	g_assert_cmpstr(r.applicant, ==, "DTU");
	rules_result_clear(&r);
	/* Several: the one it resembles most ("digitale kompetencer"). */
	in.subject = "Ansøgning: Digitale kompetencer 2022 - Svendborg Kommune";
	rules_classify(calls, 2, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 1);
	g_assert_cmpint(r.status, ==, RULES_REVIEW);
	rules_result_clear(&r);
	/* Nothing alike at all: the first. */
	in.subject = "Faktura 2022-0613";
	rules_classify(calls, 2, NULL, &in, &r);
	g_assert_cmpint(r.call, ==, 0);
	g_assert_cmpint(r.status, ==, RULES_REVIEW);
	rules_result_clear(&r);
	/* Late: late. */
	in.arrival = iso("2023-06-01T00:00:00Z");
	rules_classify(&calls[1], 1, NULL, &in, &r);
	g_assert_cmpint(r.status, ==, RULES_LATE);
	rules_result_clear(&r);
	/* No form, or not an application: unrelated as before. */
	in.arrival = iso("2022-06-01T00:00:00Z");
	in.has_form = false;
	rules_classify(calls, 2, NULL, &in, &r);
	g_assert_cmpint(r.status, ==, RULES_UNRELATED);
	g_assert_cmpint(r.call, ==, -1);
	rules_result_clear(&r);
	in.has_form = true;
	in.hints = RULES_HINT_BOUNCE;
	rules_classify(calls, 2, NULL, &in, &r);
	g_assert_cmpint(r.status, ==, RULES_UNRELATED);
	rules_result_clear(&r);
}

static void test_settings(void)
{
	double score = 0;
	char *app = NULL;
	struct rules_subject_result r;
	/* word_similarity: "kompetenser" (0.91 like "kompetencer") pairs at
	 * 0.6, not at 0.95. */
	const char *typo = "Styrkelse af digitale kompetenser - Puljeopslag 2022 - Viborg Kommune";
	struct rules_settings strict = { RULES_DEFAULT_FUZZY_THRESHOLD, 0.95, 0 };
	g_assert_cmpint(rules_subject_match_full(typo, CALL, NULL, &r), ==, RULES_MATCH_FUZZY);
	double loose_score = r.score;
	rules_subject_result_clear(&r);
	rules_subject_match_full(typo, CALL, &strict, &r);
	g_assert_cmpfloat(r.score, <, loose_score);
	rules_subject_result_clear(&r);
	/* title_threshold: the title alone ("Styrkelse af digitale kompetencer")
	 * is a partial match at the default, none at 1 with a typo in it. */
	const char *title = "Styrkelse af digitale kompetancer - Region Sjælland";
	g_assert_cmpint(rules_subject_match_full(title, CALL, NULL, &r), ==, RULES_MATCH_FUZZY);
	g_assert_true(r.partial);
	g_assert_cmpfloat(r.score, <, RULES_DEFAULT_FUZZY_THRESHOLD);
	g_assert_cmpstr(r.applicant, ==, "Region Sjælland");
	rules_subject_result_clear(&r);
	struct rules_settings exact_title = { 0, 0, 1.0 };
	g_assert_cmpint(rules_subject_match_full(title, CALL, &exact_title, &r), ==, RULES_MATCH_NONE);
	rules_subject_result_clear(&r);
	/* A call without a colon has no title part. */
	g_assert_cmpint(rules_subject_match("Styrkelse af digitale kompetencer - X",
					    "Puljeopslag 2022 Styrkelse af digitale kompetencer",
					    RULES_DEFAULT_FUZZY_THRESHOLD, &score, &app),
			==, RULES_MATCH_NONE);
	g_assert_null(app);
	/* The reason says partial, with the share of the whole call. */
	struct rules_call call = { "c", CALL, deadline("2022-07-01"), RULES_BASIS_ARRIVAL, 0 };
	struct rules_input in = { .subject = "Styrkelse af digitale kompetencer - Region Sjælland",
				  .has_arrival = true,
				  .arrival = iso("2022-06-01T00:00:00Z"),
				  .n_attachments = 1,
				  .has_form = true };
	struct rules_result res;
	rules_classify(&call, 1, NULL, &in, &res);
	g_assert_cmpint(res.status, ==, RULES_REVIEW);
	g_assert_true(has_reason(&res, "subject:partial(0.6"));
	rules_result_clear(&res);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/rules/subjects", test_subjects);
	g_test_add_func("/rules/applicant-bounds", test_applicant_bounds);
	g_test_add_func("/rules/subject-table", test_subject_table);
	g_test_add_func("/rules/classify-table", test_classify_table);
	g_test_add_func("/rules/kinds", test_kinds);
	g_test_add_func("/rules/not-applications", test_not_applications);
	g_test_add_func("/rules/fuzzy-is-review", test_fuzzy_is_review);
	g_test_add_func("/rules/applicant-from-sender", test_applicant_from_sender);
	g_test_add_func("/rules/basis-and-grace", test_basis_and_grace);
	g_test_add_func("/rules/durations", test_durations);
	g_test_add_func("/rules/best-call", test_best_call);
	g_test_add_func("/rules/pick-form", test_pick_form);
	g_test_add_func("/rules/normalize", test_normalize);
	g_test_add_func("/rules/deadline-edges", test_deadline_edges);
	g_test_add_func("/rules/first-call-wins", test_first_call_wins);
	g_test_add_func("/rules/longer-exact-wins", test_longer_exact_wins);
	g_test_add_func("/rules/form-safety-net", test_form_safety_net);
	g_test_add_func("/rules/settings", test_settings);
	g_test_add_func("/rules/form-signature", test_form_signature);
	g_test_add_func("/datetime/parse-deadline", test_deadline_parse);
	g_test_add_func("/datetime/format", test_format);
	return g_test_run();
}
