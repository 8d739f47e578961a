/* ctl-list: puljectl list and applications — one row per record or per
 * application. */
#include "ctl-common.h"
#include "report.h"
#include "table.h"

#include <string.h>

/* ---- list ---- */

struct list_ctx {
	struct ctl_json_ctx json;
	struct table *table;
	const struct ctl_filter *f;
};

static int list_row(const struct store_message *m, void *userdata)
{
	struct list_ctx *c = userdata;
	if (!ctl_filter_message(c->f, m, true))
		return 0;
	if (!c->table)
		return ctl_json_add_message(m, &c->json);
	char id[24], att[24];
	g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, m->id);
	g_snprintf(att, sizeof(att), "%zu", m->n_attachments);
	g_autofree char *when = ctl_short_time(m->received_at);
	g_autofree char *status = g_strdup_printf("%s%s", record_status_name(m->status), m->duplicate_of ? "*" : "");
	const char *who = m->applicant ? m->applicant : m->subject ? m->subject : "(no subject)";
	g_autofree char *why = ctl_why(c->json.st, c->json.cfg, m);
	const char *cells[] = { id, when, status, att, m->decision, who, why };
	table_add(c->table, cells, 2, ctl_status_color(m->status));
	return 0;
}

int ctl_list(struct store *st, const struct ctl_output *o, const struct ctl_filter *f)
{
	static const struct table_column cols[] = {
		{ "ID", 5, true, false },       { "RECEIVED", 16, false, false },
		{ "STATUS", 9, false, false },  { "ATT", 3, true, false },
		{ "DECIDED", 7, false, false }, { "APPLICANT / SUBJECT", 0.5, false, true },
		{ "WHY", 0.5, false, true },
	};
	g_autoptr(JsonBuilder) b = o->json ? json_builder_new() : NULL;
	struct list_ctx c = { .json = { .st = st, .cfg = o->cfg, .b = b }, .f = f };
	if (!o->json)
		c.table = table_new(cols, G_N_ELEMENTS(cols), o->color, o->width);
	else
		json_builder_begin_array(b);
	int r = store_foreach_message(st, 0, false, list_row, &c);
	if (r == 0 && o->json) {
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		ctl_json_print(o->out, root);
	} else if (r == 0) {
		r = table_print(c.table, o->out);
	}
	table_free(c.table);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

/* ---- applications ---- */

static int add_app(JsonBuilder *b, struct store *st, const struct apps_app *a)
{
	g_autoptr(GArray) decisions = NULL;
	int r = ctl_decisions(st, (const int64_t *)(void *)a->ids->data, a->ids->len, &decisions);
	if (r < 0)
		return r;
	json_builder_begin_object(b);
	ctl_json_add_str(b, "call", a->call);
	ctl_json_add_str(b, "applicant", a->applicant);
	ctl_json_add_int(b, "messages", a->ids->len);
	json_builder_set_member_name(b, "ids");
	json_builder_begin_array(b);
	for (guint k = 0; k < a->ids->len; k++)
		json_builder_add_int_value(b, g_array_index(a->ids, int64_t, k));
	json_builder_end_array(b);
	json_builder_set_member_name(b, "from");
	json_builder_begin_array(b);
	for (guint k = 0; k < a->from->len; k++)
		json_builder_add_string_value(b, g_ptr_array_index(a->from, k));
	json_builder_end_array(b);
	ctl_json_add_str(b, "first_arrival", a->first);
	ctl_json_add_str(b, "last_arrival", a->last);
	ctl_json_add_tristate(b, "on_time", a->on_time);
	json_builder_set_member_name(b, "form_attached");
	json_builder_add_boolean_value(b, a->form);
	ctl_json_add_str(b, "form_signature", a->form ? record_signature_name(a->form_signature) : NULL);
	struct report_signature rs = { a->form_signature, a->signer, a->form_modified, a->form_untrusted,
				       a->form_reason };
	g_autofree char *words = a->form ? report_signature_text(&rs, NULL) : NULL;
	ctl_json_add_str(b, "form_signature_text", words);
	ctl_json_add_str(b, "signer", a->signer);
	ctl_json_add_str(b, "status", record_status_name(a->status));
	ctl_json_add_str(b, "why", a->why);
	ctl_json_add_decision(b, a->decision, a->decision_note, a->decision_user, a->decision_at);
	ctl_json_add_decisions(b, decisions);
	json_builder_end_object(b);
	return 0;
}

int ctl_applications(struct store *st, const struct ctl_output *o, const struct ctl_filter *f)
{
	struct table_column cols[] = {
		{ "CALL", 0.2, false, true },          { "APPLICANT", 0.4, false, true }, { "MSGS", 4, true, false },
		{ "FIRST ARRIVAL", 16, false, false }, { "ON TIME", 7, false, false },    { "FORM", 7, false, false },
		{ "STATUS", 8, false, false },         { "DECIDED", 7, false, false },    { "WHY", 0.4, false, true },
	};
	struct apps *apps = ctl_collect_apps(st, o->cfg, f);
	if (!apps) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	GPtrArray *list = apps_finish(apps);
	int r = 0;
	if (o->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; r == 0 && i < list->len; i++)
			if (ctl_filter_app(f, g_ptr_array_index(list, i)))
				r = add_app(b, st, g_ptr_array_index(list, i));
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = r == 0 ? json_builder_get_root(b) : NULL;
		if (root)
			ctl_json_print(o->out, root);
		else
			fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
	} else {
		/* The call column only when there is more than one call. */
		cols[0].hidden = true;
		for (guint i = 1; i < list->len; i++)
			if (strcmp(((struct apps_app *)g_ptr_array_index(list, 0))->call,
				   ((struct apps_app *)g_ptr_array_index(list, i))->call))
				cols[0].hidden = false;
		struct table *t = table_new(cols, G_N_ELEMENTS(cols), o->color, o->width);
		for (guint i = 0; i < list->len; i++) {
			struct apps_app *a = g_ptr_array_index(list, i);
			if (!ctl_filter_app(f, a))
				continue;
			char msgs[16];
			g_snprintf(msgs, sizeof(msgs), "%u", a->ids->len);
			g_autofree char *first = ctl_short_time(a->first);
			/* FORM: "signed" for a valid signature, else yes/no. */
			const char *form = !a->form                           ? "no"
					   : a->form_signature == CMS_VALID   ? "signed"
					   : a->form_signature == CMS_INVALID ? "INVALID"
									      : "yes";
			const char *cells[] = { a->call,
						a->applicant ? a->applicant : "(not named)",
						msgs,
						first,
						ctl_yes_no(a->on_time),
						form,
						record_status_name(a->status),
						a->decision,
						a->why };
			table_add(t, cells, 6, ctl_status_color(a->status));
		}
		r = table_print(t, o->out);
		table_free(t);
	}
	apps_free(apps);
	return r < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}
