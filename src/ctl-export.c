/* ctl-export: puljectl export — CSV or JSON rows for a spreadsheet. */
#include "ctl-common.h"
#include "export.h"
#include "report.h"
#include "term.h"

#include <errno.h>
#include <string.h>

/* ---- export ---- */

/* How a column is written in the CSV; JSON always has the stored string. */
enum csv_kind {
	CSV_TEXT,
	CSV_STATUS,     /* the report's Danish status words */
	CSV_YES_NO,     /* ja/nej */
	CSV_SIGNATURE,  /* gyldig/ugyldig/ingen */
	CSV_DECISION,   /* Godkendt/Afvist */
	CSV_DECIDED_BY, /* which time decided the deadline, as the report says it */
	CSV_DATE,       /* two columns: a date a spreadsheet reads, in the zone, and ISO 8601 */
	CSV_NONE,       /* JSON only: the CSV has it already (an ISO column) */
};

struct column {
	const char *key; /* the JSON key */
	const char *csv; /* the CSV header (a date's zone is added) */
	enum csv_kind kind;
};

/* clang-format off */
static const struct column message_columns[] = {
	{ "id",                  "Id",                        CSV_TEXT },
	{ "call",                "Opslag",                    CSV_TEXT },
	{ "applicant",           "Ansøger",                   CSV_TEXT },
	{ "status",              "Status",                    CSV_STATUS },
	{ "on_time",             "Rettidig",                  CSV_YES_NO },
	{ "arrival",             "Ankomst",                   CSV_DATE },
	{ "from",                "Afsender",                  CSV_TEXT },
	{ "subject",             "Emne",                      CSV_TEXT },
	{ "form",                "Skema",                     CSV_YES_NO },
	{ "form_signature",      "Skemaets underskrift",      CSV_SIGNATURE },
	{ "signer",              "Underskriver",              CSV_TEXT },
	{ "decision",            "Afgørelse",                 CSV_DECISION },
	{ "duplicate_of",        "Dublet af",                 CSV_TEXT },
	{ "received_at",         NULL,                        CSV_NONE }, /* = arrival */
	{ "edge_received_at",    "Mailserverens modtagelse",  CSV_DATE },
	{ "decided_by",          "Fristen afgjort af",        CSV_DECIDED_BY },
	{ "form_signature_text", "Underskriften vurderet",    CSV_TEXT },
	{ "why",                 "Begrundelse",               CSV_TEXT },
};
static const struct column application_columns[] = {
	{ "call",                "Opslag",                    CSV_TEXT },
	{ "applicant",           "Ansøger",                   CSV_TEXT },
	{ "messages",            "Beskeder",                  CSV_TEXT },
	{ "ids",                 "Id'er",                     CSV_TEXT },
	{ "status",              "Status",                    CSV_STATUS },
	{ "on_time",             "Rettidig",                  CSV_YES_NO },
	{ "first_arrival",       "Første ankomst",            CSV_DATE },
	{ "last_arrival",        "Seneste ankomst",           CSV_DATE },
	{ "form",                "Skema",                     CSV_YES_NO },
	{ "form_signature",      "Skemaets underskrift",      CSV_SIGNATURE },
	{ "signer",              "Underskriver",              CSV_TEXT },
	{ "decision",            "Afgørelse",                 CSV_DECISION },
	{ "form_signature_text", "Underskriften vurderet",    CSV_TEXT },
	{ "why",                 "Begrundelse",               CSV_TEXT },
};
/* clang-format on */

/* One stored word in Danish, by a table of { stored, Danish } pairs; an
 * unknown word stays as it is. */
static const char *danish(const char *const (*map)[2], size_t n, const char *v)
{
	for (size_t i = 0; v && i < n; i++)
		if (!strcmp(map[i][0], v))
			return map[i][1];
	return v;
}

static const char *csv_word(enum csv_kind kind, const char *v)
{
	static const char *const yes_no[][2] = { { "yes", "ja" }, { "no", "nej" } };
	static const char *const signature[][2] = { { "valid", "gyldig" },
						    { "invalid", "ugyldig" },
						    { "none", "ingen" } };
	static const char *const decision[][2] = { { "accept", "Godkendt" }, { "reject", "Afvist" } };
	static const char *const decided_by[][2] = { { "edge", "mailserverens tid" },
						     { "date-header", "afsenderens Date-felt" },
						     { "arrival", "postkassens tid" } };
	switch (kind) {
	case CSV_STATUS:
		for (unsigned i = 0; v && i < RECORD_N_STATUS; i++)
			if (!strcmp(v, record_status_name(i)))
				return report_status_label(i);
		return v;
	case CSV_YES_NO:
		return danish(yes_no, G_N_ELEMENTS(yes_no), v);
	case CSV_SIGNATURE:
		return danish(signature, G_N_ELEMENTS(signature), v);
	case CSV_DECISION:
		return danish(decision, G_N_ELEMENTS(decision), v);
	case CSV_DECIDED_BY:
		return danish(decided_by, G_N_ELEMENTS(decided_by), v);
	default:
		return v;
	}
}

/* ISO 8601 as stored -> "2022-07-01 23:59:59" in TZ (what a Danish Excel
 * or LibreOffice reads as a date and time) and ISO 8601 with TZ's offset.
 * Both NULL for NULL; text that is no time stays in the ISO column. */
static void csv_date(const char *iso, GTimeZone *tz, char **ret_date, char **ret_iso)
{
	g_autoptr(GDateTime) t = iso ? g_date_time_new_from_iso8601(iso, NULL) : NULL;
	g_autoptr(GDateTime) z = t ? g_date_time_to_timezone(t, tz) : NULL;
	*ret_date = z ? g_date_time_format(z, "%Y-%m-%d %H:%M:%S") : NULL;
	*ret_iso = z ? g_date_time_format(z, "%Y-%m-%dT%H:%M:%S%:z") : g_strdup(iso);
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

/* The rows as JSON objects of strings (null for an empty field), or CSV
 * with Danish headers and words and its dates in TZ_NAME. */
static void write_rows(GString *s, const struct column *cols, size_t ncols, GPtrArray *rows, bool json,
		       const char *tz_name)
{
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < rows->len; i++) {
			GPtrArray *row = g_ptr_array_index(rows, i);
			json_builder_begin_object(b);
			for (size_t k = 0; k < ncols; k++)
				ctl_json_add_str(b, cols[k].key, g_ptr_array_index(row, k));
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
	/* The zone is named in each date column's header: a line above the
	 * header would be a record of its own to Excel and to csv readers. */
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(tz_name);
	if (!tz) {
		tz = g_time_zone_new_utc();
		tz_name = "UTC";
	}
	g_string_append(s, EXPORT_CSV_BOM);
	g_autoptr(GPtrArray) header = g_ptr_array_new_with_free_func(g_free);
	for (size_t k = 0; k < ncols; k++) {
		if (cols[k].kind == CSV_DATE) {
			g_ptr_array_add(header, g_strdup_printf("%s (%s)", cols[k].csv, tz_name));
			g_ptr_array_add(header, g_strdup_printf("%s, ISO 8601", cols[k].csv));
		} else if (cols[k].kind != CSV_NONE) {
			g_ptr_array_add(header, g_strdup(cols[k].csv));
		}
	}
	export_csv_record(s, (const char *const *)header->pdata, header->len);
	/* A spreadsheet has no use for control characters from mail headers,
	 * and a terminal must not see them: they become spaces. */
	for (guint i = 0; i < rows->len; i++) {
		GPtrArray *row = g_ptr_array_index(rows, i);
		g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
		for (size_t k = 0; k < ncols; k++) {
			const char *v = g_ptr_array_index(row, k);
			if (cols[k].kind == CSV_DATE) {
				char *date, *iso;
				csv_date(v, tz, &date, &iso);
				g_ptr_array_add(fields, date);
				g_ptr_array_add(fields, iso ? term_clean(iso) : NULL);
				g_free(iso);
			} else if (cols[k].kind != CSV_NONE) {
				const char *w = csv_word(cols[k].kind, v);
				g_ptr_array_add(fields, w ? term_clean(w) : NULL);
			}
		}
		g_assert(fields->len == header->len);
		export_csv_record(s, (const char *const *)fields->pdata, fields->len);
	}
}

int ctl_export(struct store *st, FILE *out, const struct ctl_export_options *o)
{
	struct export_ctx c = { st, o->cfg, &o->filter,
				g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref) };
	const struct column *cols = o->messages ? message_columns : application_columns;
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
	write_rows(s, cols, ncols, c.rows, o->json, ctl_zone(o->cfg, o->filter.call));
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
