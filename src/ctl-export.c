/* ctl-export: puljectl export — CSV or JSON rows for a spreadsheet. */
#include "ctl-common.h"
#include "export.h"
#include "report.h"
#include "term.h"

#include <errno.h>
#include <string.h>

/* ---- export ---- */

static const char *const message_columns[] = { "id",
					       "call",
					       "applicant",
					       "status",
					       "on_time",
					       "arrival",
					       "from",
					       "subject",
					       "form",
					       "form_signature",
					       "signer",
					       "decision",
					       "duplicate_of",
					       "received_at",
					       "edge_received_at",
					       "decided_by",
					       "form_signature_text",
					       "why" };
static const char *const application_columns[] = { "call",
						   "applicant",
						   "messages",
						   "ids",
						   "status",
						   "on_time",
						   "first_arrival",
						   "last_arrival",
						   "form",
						   "form_signature",
						   "signer",
						   "decision",
						   "form_signature_text",
						   "why" };

/* A column's name in the CSV header where it differs from its JSON key:
 * the caseworker's why is "Begrundelse" in a spreadsheet. */
static const char *csv_name(const char *col)
{
	return !strcmp(col, "why") ? "Begrundelse" : col;
}

struct export_ctx {
	struct store *st;
	const struct config *cfg;
	const struct ctl_filter *f;
	GPtrArray *rows; /* of GPtrArray (char *, NULL for an empty field), one per row */
};

static int export_message(const struct store_message *m, void *userdata)
{
	struct export_ctx *c = userdata;
	if (!ctl_filter_message(c->f, m, true))
		return 0;
	struct ctl_form_info f = { 0 };
	int r = store_foreach_attachment(c->st, m->id, false, ctl_find_form, &f);
	if (r < 0) {
		ctl_form_info_clear(&f);
		return r;
	}
	/* Fields may be NULL, so a row is a GPtrArray, never a GStrv. */
	GPtrArray *row = g_ptr_array_new_full(G_N_ELEMENTS(message_columns), g_free);
	g_ptr_array_add(row, g_strdup_printf("%" G_GINT64_FORMAT, m->id));
	g_ptr_array_add(row, g_strdup(m->call));
	g_ptr_array_add(row, g_strdup(m->applicant));
	g_ptr_array_add(row, g_strdup(record_status_name(m->status)));
	g_ptr_array_add(row, g_strdup(ctl_yes_no(m->on_time)));
	g_ptr_array_add(row, g_strdup(m->received_at));
	g_ptr_array_add(row, g_strdup(m->from_addr));
	g_ptr_array_add(row, g_strdup(m->subject));
	g_ptr_array_add(row, g_strdup(f.found ? "yes" : "no"));
	char *form_text = ctl_form_info_text(&f);
	g_ptr_array_add(row, f.found ? g_strdup(record_signature_name(f.signature)) : NULL);
	g_ptr_array_add(row, g_steal_pointer(&f.signer));
	g_ptr_array_add(row, g_strdup(m->decision));
	g_ptr_array_add(row, m->duplicate_of ? g_strdup_printf("%" G_GINT64_FORMAT, m->duplicate_of) : NULL);
	g_ptr_array_add(row, g_strdup(m->received_at));
	g_ptr_array_add(row, g_strdup(m->edge_received_at));
	g_ptr_array_add(row, g_strdup(m->decided_by));
	g_ptr_array_add(row, form_text);
	g_ptr_array_add(row, ctl_why(c->st, c->cfg, m));
	g_assert(row->len == G_N_ELEMENTS(message_columns));
	g_ptr_array_add(c->rows, row);
	ctl_form_info_clear(&f); /* what was not moved into the row */
	return 0;
}

static GPtrArray *application_row(const struct apps_app *a)
{
	GString *ids = g_string_new(NULL);
	for (guint k = 0; k < a->ids->len; k++)
		g_string_append_printf(ids, "%s%" G_GINT64_FORMAT, k ? " " : "", g_array_index(a->ids, int64_t, k));
	GPtrArray *row = g_ptr_array_new_full(G_N_ELEMENTS(application_columns), g_free);
	g_ptr_array_add(row, g_strdup(a->call));
	g_ptr_array_add(row, g_strdup(a->applicant));
	g_ptr_array_add(row, g_strdup_printf("%u", a->ids->len));
	g_ptr_array_add(row, g_string_free(ids, FALSE));
	g_ptr_array_add(row, g_strdup(record_status_name(a->status)));
	g_ptr_array_add(row, g_strdup(ctl_yes_no(a->on_time)));
	g_ptr_array_add(row, g_strdup(a->first));
	g_ptr_array_add(row, g_strdup(a->last));
	g_ptr_array_add(row, g_strdup(a->form ? "yes" : "no"));
	g_ptr_array_add(row, a->form ? g_strdup(record_signature_name(a->form_signature)) : NULL);
	g_ptr_array_add(row, g_strdup(a->signer));
	g_ptr_array_add(row, g_strdup(a->decision));
	struct report_signature rs = { a->form_signature, a->signer, a->form_modified, a->form_untrusted,
				       a->form_reason };
	g_ptr_array_add(row, a->form ? report_signature_text(&rs, NULL) : NULL);
	g_ptr_array_add(row, g_strdup(a->why));
	g_assert(row->len == G_N_ELEMENTS(application_columns));
	return row;
}

/* The rows as JSON objects of strings (null for an empty field), or CSV. */
static void write_rows(GString *s, const char *const *cols, size_t ncols, GPtrArray *rows, bool json)
{
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < rows->len; i++) {
			GPtrArray *row = g_ptr_array_index(rows, i);
			json_builder_begin_object(b);
			for (size_t k = 0; k < ncols; k++)
				ctl_json_add_str(b, cols[k], g_ptr_array_index(row, k));
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		g_autoptr(JsonGenerator) gen = json_generator_new();
		json_generator_set_root(gen, root);
		json_generator_set_pretty(gen, TRUE);
		g_autofree char *text = json_generator_to_data(gen, NULL);
		g_autofree char *safe = ctl_json_terminal_safe(text);
		g_string_append(s, safe);
		g_string_append_c(s, '\n');
		return;
	}
	g_string_append(s, EXPORT_CSV_BOM);
	g_autofree const char **header = g_new(const char *, ncols);
	for (size_t k = 0; k < ncols; k++)
		header[k] = csv_name(cols[k]);
	export_csv_record(s, header, ncols);
	/* A spreadsheet has no use for control characters from mail headers,
	 * and a terminal must not see them: they become spaces. */
	for (guint i = 0; i < rows->len; i++) {
		GPtrArray *row = g_ptr_array_index(rows, i);
		for (size_t k = 0; k < ncols; k++) {
			char *field = g_ptr_array_index(row, k);
			if (field) {
				g_ptr_array_index(row, k) = term_clean(field);
				g_free(field);
			}
		}
		export_csv_record(s, (const char *const *)row->pdata, ncols);
	}
}

int ctl_export(struct store *st, FILE *out, const struct ctl_export_options *o)
{
	struct export_ctx c = { st, o->cfg, &o->filter,
				g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref) };
	const char *const *cols = o->messages ? message_columns : application_columns;
	size_t ncols = o->messages ? G_N_ELEMENTS(message_columns) : G_N_ELEMENTS(application_columns);
	int r = 0;
	if (o->messages) {
		r = store_foreach_message(st, 0, false, export_message, &c);
	} else {
		struct apps *apps = ctl_collect_apps(st, o->cfg, &o->filter);
		if (!apps) {
			r = -EIO;
		} else {
			GPtrArray *list = apps_finish(apps);
			for (guint i = 0; i < list->len; i++)
				if (ctl_filter_app(&o->filter, g_ptr_array_index(list, i)))
					g_ptr_array_add(c.rows, application_row(g_ptr_array_index(list, i)));
			apps_free(apps);
		}
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		g_ptr_array_free(c.rows, TRUE);
		return CTL_EXIT_FAILURE;
	}
	GString *s = g_string_new(NULL);
	write_rows(s, cols, ncols, c.rows, o->json);
	g_ptr_array_free(c.rows, TRUE);
	int code = CTL_EXIT_OK;
	if (o->output) {
		/* Written beside and renamed: a reader never sees half a file. */
		GError *err = NULL;
		if (!g_file_set_contents_full(o->output, s->str, (gssize)s->len, G_FILE_SET_CONTENTS_CONSISTENT, 0640,
					      &err)) {
			fprintf(stderr, "puljectl: export: %s\n", err->message);
			g_error_free(err);
			code = CTL_EXIT_FAILURE;
		}
	} else if (fwrite(s->str, 1, s->len, out) != s->len) {
		code = CTL_EXIT_FAILURE;
	}
	g_string_free(s, TRUE);
	return code;
}
