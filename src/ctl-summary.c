/* ctl-summary: puljectl summary — the pool overview per call (summary.h):
 * applications by status, on time or late, forms and their signatures,
 * by day received, and those that need a person. */
#include "ctl-common.h"
#include "summary.h"

#include <string.h>

/* "accepted 2, review 1, late 0" */
static char *by_status_text(const struct summary_call *c)
{
	static const enum rules_status order[] = { RULES_ACCEPTED, RULES_REVIEW, RULES_LATE };
	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(order); i++)
		g_string_append_printf(s, "%s%s %u", i ? ", " : "", record_status_name(order[i]),
				       c->by_status[order[i]]);
	return g_string_free(s, FALSE);
}

static void print_call(FILE *out, const struct ctl_output *o, const struct summary_call *c)
{
	struct ctl_show_ctx sc = { .out = out, .width = o->width > 40 ? (size_t)o->width : 40 };
	ctl_show_field(&sc, "Call:", c->call);
	g_autofree char *apps = g_strdup_printf("%u", c->applications);
	ctl_show_field(&sc, "Applications:", apps);
	g_autofree char *status = by_status_text(c);
	ctl_show_field(&sc, "By status:", status);
	g_autofree char *time =
		g_strdup_printf("on time %u, late %u, unknown %u", c->on_time, c->late, c->on_time_unknown);
	ctl_show_field(&sc, "Deadline:", time);
	g_autofree char *form = g_strdup_printf("with %u, without %u", c->with_form, c->without_form);
	ctl_show_field(&sc, "Form:", form);
	g_autofree char *sig =
		g_strdup_printf("valid %u, invalid %u, unsigned %u", c->form_valid, c->form_invalid, c->form_unsigned);
	ctl_show_field(&sc, "Signature:", sig);
	GString *days = g_string_new(NULL);
	for (guint i = 0; i < c->days->len; i++) {
		const struct summary_day *d = &g_array_index(c->days, struct summary_day, i);
		g_string_append_printf(days, "%s%s: %u", i ? ", " : "", d->day, d->applications);
	}
	ctl_show_field(&sc, "By day:", days->str);
	g_string_free(days, TRUE);
	g_autofree char *n = g_strdup_printf("%u", c->attention->len);
	ctl_show_field(&sc, "Attention:", n);
	for (guint i = 0; i < c->attention->len; i++) {
		const struct summary_person *p = &g_array_index(c->attention, struct summary_person, i);
		g_autofree char *line = g_strdup_printf(
			"#%" G_GINT64_FORMAT " %s, %s, %s%s%s%s", p->id, p->applicant ? p->applicant : "(not named)",
			record_status_name(p->status), p->decision ? "decided: " : "undecided",
			p->decision ? p->decision : "", p->why ? ": " : "", p->why ? p->why : "");
		ctl_show_field(&sc, "", line);
	}
}

static void add_call(JsonBuilder *b, const struct summary_call *c)
{
	json_builder_begin_object(b);
	ctl_json_add_str(b, "call", c->call);
	ctl_json_add_int(b, "applications", c->applications);
	json_builder_set_member_name(b, "by_status");
	json_builder_begin_object(b);
	for (int st = 0; st < RECORD_N_STATUS; st++)
		if (st != RULES_UNRELATED)
			ctl_json_add_int(b, record_status_name(st), c->by_status[st]);
	json_builder_end_object(b);
	ctl_json_add_int(b, "on_time", c->on_time);
	ctl_json_add_int(b, "late", c->late);
	ctl_json_add_int(b, "on_time_unknown", c->on_time_unknown);
	ctl_json_add_int(b, "with_form", c->with_form);
	ctl_json_add_int(b, "without_form", c->without_form);
	json_builder_set_member_name(b, "form_signature");
	json_builder_begin_object(b);
	ctl_json_add_int(b, record_signature_name(CMS_VALID), c->form_valid);
	ctl_json_add_int(b, record_signature_name(CMS_INVALID), c->form_invalid);
	ctl_json_add_int(b, record_signature_name(CMS_NONE), c->form_unsigned);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "by_day");
	json_builder_begin_array(b);
	for (guint i = 0; i < c->days->len; i++) {
		const struct summary_day *d = &g_array_index(c->days, struct summary_day, i);
		json_builder_begin_object(b);
		ctl_json_add_str(b, "day", d->day);
		ctl_json_add_int(b, "applications", d->applications);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "need_a_person");
	json_builder_begin_array(b);
	for (guint i = 0; i < c->attention->len; i++) {
		const struct summary_person *p = &g_array_index(c->attention, struct summary_person, i);
		json_builder_begin_object(b);
		ctl_json_add_int(b, "id", p->id);
		ctl_json_add_str(b, "applicant", p->applicant);
		ctl_json_add_str(b, "status", record_status_name(p->status));
		ctl_json_add_str(b, "decision", p->decision);
		ctl_json_add_str(b, "why", p->why);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

int ctl_summary(struct store *st, const struct ctl_output *o, const struct ctl_filter *f)
{
	g_autoptr(Apps) apps = ctl_collect_apps(st, o->cfg, f);
	if (!apps) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	g_autoptr(Summary) s = summary_new(apps_finish(apps));
	if (o->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < s->calls->len; i++)
			add_call(b, g_ptr_array_index(s->calls, i));
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		ctl_json_print(o->out, root);
		return CTL_EXIT_OK;
	}
	if (!s->calls->len)
		fprintf(o->out, "No applications.\n");
	for (guint i = 0; i < s->calls->len; i++) {
		if (i)
			fputc('\n', o->out);
		print_call(o->out, o, g_ptr_array_index(s->calls, i));
	}
	return CTL_EXIT_OK;
}
