/* Unit tests for apps: messages grouped into applications — by normalised
 * applicant, by sender for messages naming none — with the best status,
 * the best-signed form and the latest decision. */
#include "apps.h"

#include <string.h>
#include <glib.h>

static struct store_message msg(int64_t id, const char *call, const char *applicant, const char *from, int64_t received,
				enum rules_status status, int on_time)
{
	static char iso[16][32];
	g_snprintf(iso[id % 16], sizeof(iso[0]), "t%" G_GINT64_FORMAT, received);
	return (struct store_message){ .id = id,
				       .call = call,
				       .applicant = applicant,
				       .from_addr = from,
				       .has_received = true,
				       .received_epoch = received,
				       .received_at = iso[id % 16],
				       .status = status,
				       .on_time = on_time };
}

static const struct apps_app *find(GPtrArray *list, const char *call, const char *applicant)
{
	for (guint i = 0; i < list->len; i++) {
		const struct apps_app *a = g_ptr_array_index(list, i);
		if (!strcmp(a->call, call) && !g_strcmp0(a->applicant, applicant))
			return a;
	}
	return NULL;
}

static void test_grouping(void)
{
	struct apps *a = apps_new();
	struct store_message m[] = {
		msg(1, "c", "Ærø Kommune", "a@aeroe.dk", 100, RULES_REVIEW, 1),
		msg(2, "c", "ÆRØ  kommune", "b@aeroe.dk", 200, RULES_ACCEPTED, 1), /* same, other case and spaces */
		msg(3, "c", "Region Sjælland", "r@regionsj.dk", 50, RULES_LATE, 0),
		msg(4, "d", "Ærø Kommune", "a@aeroe.dk", 300, RULES_ACCEPTED, 1),   /* another call: apart */
		msg(5, "c", NULL, "A@AEROE.DK", 400, RULES_REVIEW, 1),              /* no applicant: joins by sender */
		msg(6, "c", NULL, "x@nowhere.dk", 500, RULES_REVIEW, 1),            /* no applicant, unknown sender */
		msg(7, "c", "Ærø Kommune", "a@aeroe.dk", 600, RULES_UNRELATED, -1), /* not an application */
		msg(8, NULL, NULL, "n@news.dk", 700, RULES_UNRELATED, -1),
	};
	m[1].duplicate_of = 0;
	struct store_message dup = msg(9, "c", "Ærø Kommune", "a@aeroe.dk", 800, RULES_ACCEPTED, 1);
	dup.duplicate_of = 2;
	for (size_t i = 0; i < G_N_ELEMENTS(m); i++)
		apps_add(a, &m[i], NULL);
	apps_add(a, &dup, NULL);
	GPtrArray *list = apps_finish(a);
	g_assert_cmpuint(list->len, ==, 4);

	const struct apps_app *aeroe = find(list, "c", "Ærø Kommune");
	g_assert_nonnull(aeroe);
	g_assert_cmpuint(aeroe->ids->len, ==, 3); /* 1, 2 and 5 */
	g_assert_cmpint(g_array_index(aeroe->ids, int64_t, 0), ==, 1);
	g_assert_cmpint(g_array_index(aeroe->ids, int64_t, 1), ==, 2);
	g_assert_cmpint(g_array_index(aeroe->ids, int64_t, 2), ==, 5);
	g_assert_cmpint(aeroe->status, ==, RULES_ACCEPTED);
	g_assert_cmpint(aeroe->first_t, ==, 100);
	g_assert_cmpint(aeroe->last_t, ==, 400);
	g_assert_cmpuint(aeroe->from->len, ==, 2); /* A@AEROE.DK is a@aeroe.dk */

	/* Sorted by call, then first arrival. */
	const struct apps_app *first = g_ptr_array_index(list, 0);
	g_assert_cmpstr(first->applicant, ==, "Region Sjælland");
	g_assert_cmpint(first->on_time, ==, 0);
	g_assert_cmpint(first->status, ==, RULES_LATE);
	const struct apps_app *last = g_ptr_array_index(list, 3);
	g_assert_cmpstr(last->call, ==, "d");

	const struct apps_app *unnamed = find(list, "c", NULL);
	g_assert_nonnull(unnamed);
	g_assert_cmpuint(unnamed->ids->len, ==, 1);
	g_assert_cmpint(g_array_index(unnamed->ids, int64_t, 0), ==, 6);
	apps_free(a);
}

static void test_form_and_decision(void)
{
	struct apps *a = apps_new();
	struct store_message m1 = msg(1, "c", "Region Midtjylland", "m@rm.dk", 100, RULES_ACCEPTED, 1);
	struct store_message m2 = msg(2, "c", "Region Midtjylland", "m@rm.dk", 200, RULES_ACCEPTED, 1);
	struct store_message m3 = msg(3, "c", "Region Midtjylland", "m@rm.dk", 300, RULES_REVIEW, 1);
	m1.decision = "reject";
	m1.decision_at = 50;
	m2.decision = "accept";
	m2.decision_note = "rettet skema";
	m2.decision_at = 60;
	struct apps_form none = { true, CMS_NONE, NULL };
	struct apps_form valid = { true, CMS_VALID, "CN=Mette Hansen" };
	struct apps_form invalid = { true, CMS_INVALID, "CN=Nogen" };
	apps_add(a, &m1, &none);
	apps_add(a, &m2, &valid);
	apps_add(a, &m3, &invalid);
	GPtrArray *list = apps_finish(a);
	g_assert_cmpuint(list->len, ==, 1);
	const struct apps_app *app = g_ptr_array_index(list, 0);
	g_assert_true(app->form);
	g_assert_cmpint(app->form_signature, ==, CMS_VALID);
	g_assert_cmpstr(app->signer, ==, "CN=Mette Hansen");
	g_assert_cmpstr(app->decision, ==, "accept");
	g_assert_cmpstr(app->decision_note, ==, "rettet skema");
	apps_free(a);

	/* Without any form: no form, no signature. */
	a = apps_new();
	apps_add(a, &m1, NULL);
	list = apps_finish(a);
	app = g_ptr_array_index(list, 0);
	g_assert_false(app->form);
	g_assert_cmpint(app->form_signature, ==, CMS_NONE);
	apps_free(a);

	/* Of two valid forms, the one that holds for a caseworker: not the
	 * one changed after signing, whichever came first. */
	struct apps_form changed = { true, CMS_VALID, "CN=Mette Hansen", true, false, NULL };
	for (int order = 0; order < 2; order++) {
		a = apps_new();
		apps_add(a, &m1, order ? &valid : &changed);
		apps_add(a, &m2, order ? &changed : &valid);
		list = apps_finish(a);
		app = g_ptr_array_index(list, 0);
		g_assert_cmpint(app->form_signature, ==, CMS_VALID);
		g_assert_false(app->form_modified);
		apps_free(a);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/apps/grouping", test_grouping);
	g_test_add_func("/apps/form-and-decision", test_form_and_decision);
	return g_test_run();
}
