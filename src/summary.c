#include "summary.h"

#include <string.h>

static void call_free(gpointer p)
{
	struct summary_call *c = p;
	g_free(c->call);
	g_array_free(c->days, TRUE);
	g_array_free(c->attention, TRUE);
	g_free(c);
}

static struct summary_call *call_get(struct summary *s, const char *call)
{
	struct summary_call *c = (struct summary_call *)summary_find(s, call);
	if (c)
		return c;
	c = g_new0(struct summary_call, 1);
	c->call = g_strdup(call);
	c->days = g_array_new(FALSE, TRUE, sizeof(struct summary_day));
	c->attention = g_array_new(FALSE, TRUE, sizeof(struct summary_person));
	g_ptr_array_add(s->calls, c);
	return c;
}

static void count_day(struct summary_call *c, const char *first)
{
	char day[11] = "unknown";
	if (first && strlen(first) >= 10) {
		memcpy(day, first, 10);
		day[10] = 0;
	}
	guint i = 0;
	for (; i < c->days->len; i++) {
		struct summary_day *d = &g_array_index(c->days, struct summary_day, i);
		int cmp = strcmp(d->day, day);
		if (!cmp) {
			d->applications++;
			return;
		}
		if (cmp > 0)
			break;
	}
	struct summary_day d = { .applications = 1 };
	memcpy(d.day, day, sizeof(day));
	g_array_insert_val(c->days, i, d);
}

/* Review first; the rest keep the list's order (first arrival). */
static void add_person(struct summary_call *c, const struct apps_app *a)
{
	struct summary_person p = { .id = a->ids->len ? g_array_index(a->ids, int64_t, 0) : 0,
				    .applicant = a->applicant,
				    .status = a->status,
				    .decision = a->decision,
				    .why = a->why };
	guint at = c->attention->len;
	if (a->status == RULES_REVIEW)
		for (at = 0; at < c->attention->len; at++)
			if (g_array_index(c->attention, struct summary_person, at).status != RULES_REVIEW)
				break;
	g_array_insert_val(c->attention, at, p);
}

struct summary *summary_new(const GPtrArray *apps)
{
	struct summary *s = g_new0(struct summary, 1);
	s->calls = g_ptr_array_new_with_free_func(call_free);
	for (guint i = 0; apps && i < apps->len; i++) {
		const struct apps_app *a = g_ptr_array_index(apps, i);
		struct summary_call *c = call_get(s, a->call);
		c->applications++;
		if ((unsigned)a->status < RECORD_N_STATUS)
			c->by_status[a->status]++;
		if (a->on_time > 0)
			c->on_time++;
		else if (a->on_time == 0)
			c->late++;
		else
			c->on_time_unknown++;
		if (!a->form)
			c->without_form++;
		else {
			c->with_form++;
			if (a->form_signature == CMS_VALID)
				c->form_valid++;
			else if (a->form_signature == CMS_INVALID)
				c->form_invalid++;
			else
				c->form_unsigned++;
		}
		count_day(c, a->first);
		if (a->status == RULES_REVIEW || !a->decision)
			add_person(c, a);
	}
	return s;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	g_ptr_array_free(s->calls, TRUE);
	g_free(s);
}

const struct summary_call *summary_find(const struct summary *s, const char *call)
{
	for (guint i = 0; call && i < s->calls->len; i++) {
		const struct summary_call *c = g_ptr_array_index(s->calls, i);
		if (!strcmp(c->call, call))
			return c;
	}
	return NULL;
}
