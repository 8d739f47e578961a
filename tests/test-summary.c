/* Unit tests for summary: the pool overview counted over a list of
 * applications built with apps, every count exact. */
#include "summary.h"

#include <string.h>
#include <glib.h>

static struct store_message msg(int64_t id, const char *call, const char *applicant, const char *received_at,
				int64_t received, enum rules_status status, int on_time)
{
	return (struct store_message){ .id = id,
				       .call = call,
				       .applicant = applicant,
				       .from_addr = "x@example.dk",
				       .has_received = true,
				       .received_epoch = received,
				       .received_at = received_at,
				       .status = status,
				       .on_time = on_time };
}

static void test_counts(void)
{
	g_autoptr(Apps) a = apps_new();
	struct store_message m[] = {
		/* call c: five applications over two days (Danish time) */
		msg(1, "c", "Ærø Kommune", "2022-06-30T23:30:00+02:00", 1656624600, RULES_ACCEPTED, 1),
		msg(2, "c", "Region Sjælland", "2022-07-01T00:10:00+02:00", 1656627000, RULES_REVIEW, 1),
		msg(3, "c", "Fanø Kommune", "2022-07-01T10:00:00+02:00", 1656662400, RULES_LATE, 0),
		msg(4, "c", "Læsø Kommune", "2022-07-01T11:00:00+02:00", 1656666000, RULES_ACCEPTED, 1),
		msg(5, "c", "Samsø Kommune", "2022-07-01T12:00:00+02:00", 1656669600, RULES_REVIEW, -1),
		/* a second message of Ærø: the same application */
		msg(6, "c", "ÆRØ kommune", "2022-07-02T09:00:00+02:00", 1656745200, RULES_REVIEW, 1),
		/* call d: one application; an unrelated record and a duplicate */
		msg(7, "d", "Ærø Kommune", "2022-08-01T08:00:00+02:00", 1659333600, RULES_ACCEPTED, 1),
		msg(8, "d", "Nyhedsbrev", "2022-08-01T09:00:00+02:00", 1659337200, RULES_UNRELATED, -1),
	};
	struct store_message dup = msg(9, "d", "Ærø Kommune", "2022-08-03T08:00:00+02:00", 1659506400, RULES_LATE, 0);
	dup.duplicate_of = 7;
	m[3].decision = "accept"; /* Læsø decided */
	m[3].decision_at = 1;
	m[6].decision = "reject"; /* d's only application decided */
	m[6].decision_at = 1;
	struct apps_form valid = { .found = true, .signature = CMS_VALID, .signer = "Mette" };
	struct apps_form invalid = { .found = true, .signature = CMS_INVALID, .reason = "digest" };
	struct apps_form none = { .found = true, .signature = CMS_NONE };
	const struct apps_form *forms[] = { &valid, &invalid, NULL, &none, &none, NULL, &valid, NULL };
	for (size_t i = 0; i < G_N_ELEMENTS(m); i++)
		apps_add(a, &m[i], forms[i]);
	apps_add(a, &dup, &invalid);
	GPtrArray *list = apps_finish(a);
	g_autoptr(Summary) s = summary_new(list);

	g_assert_cmpuint(s->calls->len, ==, 2);
	g_assert_null(summary_find(s, "unknown"));
	const struct summary_call *c = summary_find(s, "c");
	g_assert_nonnull(c);
	g_assert_cmpuint(c->applications, ==, 5);
	g_assert_cmpuint(c->by_status[RULES_ACCEPTED], ==, 2); /* Ærø (best of accepted, review), Læsø */
	g_assert_cmpuint(c->by_status[RULES_REVIEW], ==, 2);
	g_assert_cmpuint(c->by_status[RULES_LATE], ==, 1);
	g_assert_cmpuint(c->by_status[RULES_UNRELATED], ==, 0);
	g_assert_cmpuint(c->on_time, ==, 3);
	g_assert_cmpuint(c->late, ==, 1);
	g_assert_cmpuint(c->on_time_unknown, ==, 1);
	g_assert_cmpuint(c->with_form, ==, 4);
	g_assert_cmpuint(c->without_form, ==, 1);
	g_assert_cmpuint(c->form_valid, ==, 1);
	g_assert_cmpuint(c->form_invalid, ==, 1);
	g_assert_cmpuint(c->form_unsigned, ==, 2);
	/* by the day of the first arrival, as written in the call's zone */
	g_assert_cmpuint(c->days->len, ==, 2);
	g_assert_cmpstr(g_array_index(c->days, struct summary_day, 0).day, ==, "2022-06-30");
	g_assert_cmpuint(g_array_index(c->days, struct summary_day, 0).applications, ==, 1);
	g_assert_cmpstr(g_array_index(c->days, struct summary_day, 1).day, ==, "2022-07-01");
	g_assert_cmpuint(g_array_index(c->days, struct summary_day, 1).applications, ==, 4);
	/* review first (by first arrival), then the undecided; Læsø decided */
	g_assert_cmpuint(c->attention->len, ==, 4);
	const struct summary_person *p = (const struct summary_person *)(void *)c->attention->data;
	g_assert_cmpint(p[0].id, ==, 2);
	g_assert_cmpstr(p[0].applicant, ==, "Region Sjælland");
	g_assert_cmpint(p[0].status, ==, RULES_REVIEW);
	g_assert_cmpint(p[1].id, ==, 5);
	g_assert_cmpint(p[1].status, ==, RULES_REVIEW);
	g_assert_cmpint(p[2].id, ==, 1);
	g_assert_cmpint(p[2].status, ==, RULES_ACCEPTED);
	g_assert_null(p[2].decision);
	g_assert_cmpint(p[3].id, ==, 3);
	g_assert_cmpint(p[3].status, ==, RULES_LATE);

	const struct summary_call *d = summary_find(s, "d");
	g_assert_nonnull(d);
	g_assert_cmpuint(d->applications, ==, 1); /* not the unrelated record, not the duplicate */
	g_assert_cmpuint(d->by_status[RULES_ACCEPTED], ==, 1);
	g_assert_cmpuint(d->by_status[RULES_LATE], ==, 0);
	g_assert_cmpuint(d->form_valid, ==, 1);
	g_assert_cmpuint(d->form_invalid, ==, 0);
	g_assert_cmpuint(d->attention->len, ==, 0);
}

static void test_empty(void)
{
	g_autoptr(Apps) a = apps_new();
	g_autoptr(Summary) s = summary_new(apps_finish(a));
	g_assert_cmpuint(s->calls->len, ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/summary/counts", test_counts);
	g_test_add_func("/summary/empty", test_empty);
	return g_test_run();
}
