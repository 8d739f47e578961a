/* Unit tests for record: every verdict's name and back, and what a name
 * not ours does. */
#include "record.h"

#include <string.h>
#include <glib.h>

/* Every value has its own name, which parses back to it; the names are
 * the ones the database, JSON, CSV and HTML have always held. */
static void test_round_trip(void)
{
	static const char *const statuses[] = { "accepted", "late", "review", "unrelated" };
	g_assert_cmpuint(G_N_ELEMENTS(statuses), ==, RECORD_N_STATUS);
	for (int i = RULES_ACCEPTED; i <= RULES_UNRELATED; i++) {
		enum rules_status v = RULES_REVIEW == (enum rules_status)i ? RULES_ACCEPTED : RULES_REVIEW;
		g_assert_cmpstr(record_status_name((enum rules_status)i), ==, statuses[i]);
		g_assert_true(record_status_parse(statuses[i], &v));
		g_assert_cmpint(v, ==, i);
	}

	static const char *const matches[] = { NULL, "exact", "fuzzy" };
	for (int i = RULES_MATCH_NONE; i <= RULES_MATCH_FUZZY; i++) {
		g_assert_cmpstr(record_match_name((enum rules_match)i), ==, matches[i]);
		enum rules_match v = RULES_MATCH_NONE;
		g_assert_cmpint(record_match_parse(matches[i], &v), ==, matches[i] != NULL);
		g_assert_cmpint(v, ==, i);
	}

	static const char *const kinds[] = {
		"application", "auto-reply", "delivery-report", "list", "question", "other"
	};
	for (int i = RULES_KIND_APPLICATION; i <= RULES_KIND_OTHER; i++) {
		enum rules_kind v = i == RULES_KIND_OTHER ? RULES_KIND_APPLICATION : RULES_KIND_OTHER;
		g_assert_cmpstr(record_kind_name((enum rules_kind)i), ==, kinds[i]);
		g_assert_true(record_kind_parse(kinds[i], &v));
		g_assert_cmpint(v, ==, i);
	}

	static const char *const signatures[] = { "none", "valid", "invalid" };
	for (int i = CMS_NONE; i <= CMS_INVALID; i++) {
		enum cms_status v = i == CMS_INVALID ? CMS_NONE : CMS_INVALID;
		g_assert_cmpstr(record_signature_name((enum cms_status)i), ==, signatures[i]);
		g_assert_true(record_signature_parse(signatures[i], &v));
		g_assert_cmpint(v, ==, i);
	}
}

/* A name not ours, another case, or NULL parses to nothing and leaves the
 * value alone. */
static void test_unknown(void)
{
	static const char *const bad[] = { NULL, "", "Accepted", "receipt", "valid ", "none\n", "auto_reply" };
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		enum rules_status s = RULES_LATE;
		enum rules_match m = RULES_MATCH_FUZZY;
		enum rules_kind k = RULES_KIND_LIST;
		enum cms_status c = CMS_VALID;
		g_assert_false(record_status_parse(bad[i], &s));
		g_assert_false(record_match_parse(bad[i], &m));
		g_assert_false(record_kind_parse(bad[i], &k));
		g_assert_false(record_signature_parse(bad[i], &c));
		g_assert_cmpint(s, ==, RULES_LATE);
		g_assert_cmpint(m, ==, RULES_MATCH_FUZZY);
		g_assert_cmpint(k, ==, RULES_KIND_LIST);
		g_assert_cmpint(c, ==, CMS_VALID);
	}
	/* The name of one enum is not a name of another. */
	enum rules_status s = RULES_LATE;
	enum rules_kind k = RULES_KIND_LIST;
	g_assert_false(record_status_parse("exact", &s));
	g_assert_false(record_kind_parse("accepted", &k));
}

/* The reference number: "PJ-", the id zero-padded to six digits, more
 * digits when the id needs them. */
static void test_reference(void)
{
	static const struct {
		int64_t id;
		const char *want;
	} cases[] = {
		{ 1, "PJ-000001" },
		{ 42, "PJ-000042" },
		{ 999999, "PJ-999999" },
		{ 1000000, "PJ-1000000" },
		{ INT64_MAX, "PJ-9223372036854775807" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *r = record_reference(cases[i].id);
		g_assert_cmpstr(r, ==, cases[i].want);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/record/round-trip", test_round_trip);
	g_test_add_func("/record/unknown", test_unknown);
	g_test_add_func("/record/reference", test_reference);
	return g_test_run();
}
