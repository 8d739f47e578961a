/* ctl-ledger: puljectl ledger — the list of received applications an
 * authority publishes during a call (ledger.h), on the terminal or as a
 * new HTML or CSV file. */
#include "ctl-common.h"
#include "file.h"
#include "ledger.h"
#include "table.h"

#include <fcntl.h>
#include <string.h>

/* ---- ledger ---- */

/* The rows of one call, or of no call (ID NULL). */
struct ledger_group {
	const char *id;
	GArray *rows; /* struct ledger_row */
};

struct ledger_ctx {
	const char *call;   /* --call, or NULL: every call */
	GStringChunk *text; /* the rows' hashes */
	GPtrArray *groups;  /* struct ledger_group *, in the order first seen */
};

static struct ledger_group *group_of(struct ledger_ctx *c, const char *id)
{
	for (guint i = 0; i < c->groups->len; i++) {
		struct ledger_group *g = g_ptr_array_index(c->groups, i);
		if (g_strcmp0(g->id, id) == 0)
			return g;
	}
	struct ledger_group *g = g_new0(struct ledger_group, 1);
	g->id = id ? g_string_chunk_insert_const(c->text, id) : NULL;
	g->rows = g_array_new(FALSE, TRUE, sizeof(struct ledger_row));
	g_ptr_array_add(c->groups, g);
	return g;
}

static void group_free(gpointer p)
{
	struct ledger_group *g = p;
	g_array_free(g->rows, TRUE);
	g_free(g);
}

/* The time that decided M's deadline, and its clock; else its arrival. */
static bool deciding_time(const struct store_message *m, int64_t *ret_time, enum ledger_clock *ret_clock)
{
	const char *by = m->decided_by ? m->decided_by : "";
	if (!strcmp(by, "edge") && m->has_edge_received) {
		*ret_time = m->edge_received_epoch;
		*ret_clock = LEDGER_CLOCK_EDGE;
		return true;
	}
	g_autoptr(GDateTime) date = !strcmp(by, "date-header") && m->date_header
					    ? g_date_time_new_from_iso8601(m->date_header, NULL)
					    : NULL;
	if (date) {
		*ret_time = g_date_time_to_unix(date);
		*ret_clock = LEDGER_CLOCK_DATE_HEADER;
		return true;
	}
	if (m->has_received) {
		*ret_time = m->received_epoch;
		*ret_clock = LEDGER_CLOCK_ARRIVAL;
		return true;
	}
	return false;
}

static int ledger_message(const struct store_message *m, void *userdata)
{
	struct ledger_ctx *c = userdata;
	if (m->status == RULES_UNRELATED)
		return 0;
	if (c->call && g_strcmp0(m->call, c->call))
		return 0;
	struct ledger_row r = {
		.id = m->id,
		.verdict = ledger_verdict(m->status, m->on_time),
		.sha256 = m->raw_sha256 ? g_string_chunk_insert_const(c->text, m->raw_sha256) : NULL,
		.body = m->raw_sha256                          ? LEDGER_BODY_STORED
			: m->flags && strstr(m->flags, "gone") ? LEDGER_BODY_GONE
							       : LEDGER_BODY_TOO_LARGE,
		.duplicate_of = m->duplicate_of,
	};
	r.has_time = deciding_time(m, &r.time, &r.clock);
	g_array_append_val(group_of(c, m->call)->rows, r);
	return 0;
}

/* The list's calls: CFG's (the one asked for, or all, in the
 * configuration's order, each even without a row), then calls the
 * records name that the configuration no longer does, then the rows of
 * no call.  Points into CFG and C. */
static GArray *ledger_calls(const struct config *cfg, struct ledger_ctx *c)
{
	GArray *calls = g_array_new(FALSE, TRUE, sizeof(struct ledger_call));
	for (size_t i = 0; cfg && i < cfg->n_calls; i++) {
		const struct config_call *call = &cfg->calls[i];
		if (c->call && strcmp(call->id, c->call))
			continue;
		struct ledger_group *g = group_of(c, call->id);
		struct ledger_call lc = {
			.id = call->id,
			.subject = call->subject,
			.timezone = call->timezone,
			.has_deadline = true,
			.deadline = call->deadline_last + call->grace,
			.rows = (const struct ledger_row *)(void *)g->rows->data,
			.n_rows = g->rows->len,
		};
		g_array_append_val(calls, lc);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (guint i = 0; i < c->groups->len; i++) {
			struct ledger_group *g = g_ptr_array_index(c->groups, i);
			bool known = false;
			for (size_t k = 0; g->id && cfg && k < cfg->n_calls; k++)
				known |= !strcmp(cfg->calls[k].id, g->id);
			/* Pass 0: calls gone from the configuration; pass 1: no call. */
			if (known || (pass == 0) != (g->id != NULL))
				continue;
			struct ledger_call lc = { .id = g->id,
						  .timezone = ctl_zone(cfg, NULL),
						  .rows = (const struct ledger_row *)(void *)g->rows->data,
						  .n_rows = g->rows->len };
			g_array_append_val(calls, lc);
		}
	}
	return calls;
}

/* The list on the terminal: one line per message, in order of arrival. */
static int ledger_table(const struct ctl_output *o, const struct ledger_call *calls, size_t n)
{
	struct table_column cols[] = {
		{ "REFERENCE", 10, false, false }, { "CALL", 0.25, false, true },   { "RECEIVED", 23, false, false },
		{ "BY", 7, false, false },         { "ON TIME", 13, false, false }, { "SHA-256/16", 16, false, false },
		{ "NOTE", 0.25, false, true },
	};
	cols[1].hidden = n < 2;
	g_autoptr(Table) t = table_new(cols, G_N_ELEMENTS(cols), o->color, o->width);
	/* Which clock gave the time, in the words of show. */
	static const char *const clocks[] = { [LEDGER_CLOCK_ARRIVAL] = "mailbox",
					      [LEDGER_CLOCK_EDGE] = "server",
					      [LEDGER_CLOCK_DATE_HEADER] = "Date:" };
	static const char
		*const colors[] = { [LEDGER_ON_TIME] = "green", [LEDGER_LATE] = "red", [LEDGER_ASSESSED] = "yellow" };
	for (size_t i = 0; i < n; i++) {
		g_autofree struct ledger_row *rows = g_memdup2(calls[i].rows, calls[i].n_rows * sizeof(*rows));
		ledger_sort(rows, calls[i].n_rows);
		for (size_t k = 0; k < calls[i].n_rows; k++) {
			const struct ledger_row *r = &rows[k];
			g_autofree char *ref = record_reference(r->id);
			g_autofree char *when = r->has_time ? ctl_human_time(r->time) : NULL;
			g_autofree char *hash = ledger_hash_prefix(r->sha256);
			g_autofree char *dup = r->duplicate_of ? record_reference(r->duplicate_of) : NULL;
			g_autofree char *note = g_strdup_printf("%s%s%s%s",
								r->body == LEDGER_BODY_TOO_LARGE ? "too large, no hash"
								: r->body == LEDGER_BODY_GONE    ? "gone, no hash"
												 : "",
								r->body != LEDGER_BODY_STORED && dup ? "; " : "",
								dup ? "same as " : "", dup ? dup : "");
			const char *cells[] = { ref,
						calls[i].id ? calls[i].id : "(none)",
						when,
						r->has_time && (unsigned)r->clock < G_N_ELEMENTS(clocks)
							? clocks[r->clock]
							: NULL,
						ledger_verdict_label(r->verdict),
						hash,
						*note ? note : NULL };
			table_add(t, cells, 4, (unsigned)r->verdict < G_N_ELEMENTS(colors) ? colors[r->verdict] : NULL);
		}
	}
	return table_print(t, o->out);
}

bool ctl_ledger_format(const char *output, bool *ret_html)
{
	const char *dot = output ? strrchr(output, '.') : NULL;
	if (!dot || strchr(dot, '/'))
		return false;
	bool html = !g_ascii_strcasecmp(dot, ".html") || !g_ascii_strcasecmp(dot, ".htm");
	if (!html && g_ascii_strcasecmp(dot, ".csv"))
		return false;
	*ret_html = html;
	return true;
}

/* The list as a new HTML or CSV file OUTPUT. */
static int ledger_file(const struct ctl_output *o, const struct ledger *l, const char *output)
{
	bool html = false;
	if (!ctl_ledger_format(output, &html)) {
		fprintf(stderr, "puljectl: ledger: %s: the file's name ends in .html, .htm or .csv\n", output);
		return CTL_EXIT_USAGE;
	}
	g_autofree char *text = html ? ledger_html(l) : ledger_csv(l);
	int r = file_write_exclusive(AT_FDCWD, output, 0644, text, strlen(text));
	if (r < 0) {
		fprintf(stderr, "puljectl: ledger: cannot write %s: %s%s\n", output, g_strerror(-r),
			r == -EEXIST ? " (nothing is overwritten: give a new file)" : "");
		return CTL_EXIT_FAILURE;
	}
	size_t n = 0;
	for (size_t i = 0; i < l->n_calls; i++)
		n += l->calls[i].n_rows;
	fprintf(o->out, "%s: %zu call%s, %zu message%s received\n", output, l->n_calls, l->n_calls == 1 ? "" : "s", n,
		n == 1 ? "" : "s");
	return CTL_EXIT_OK;
}

int ctl_ledger(struct store *st, const struct ctl_output *o, const char *call, const char *output, int64_t now)
{
	struct ledger_ctx c = { .call = call,
				.text = g_string_chunk_new(4096),
				.groups = g_ptr_array_new_with_free_func(group_free) };
	int code = CTL_EXIT_OK;
	int r = store_foreach_message(st, 0, false, ledger_message, &c);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		code = CTL_EXIT_FAILURE;
	} else {
		GArray *calls = ledger_calls(o->cfg, &c);
		struct ledger l = { now, ctl_zone(o->cfg, call), (const struct ledger_call *)(void *)calls->data,
				    calls->len };
		if (output) {
			code = ledger_file(o, &l, output);
		} else if ((r = ledger_table(o, l.calls, l.n_calls)) < 0) {
			fprintf(stderr, "puljectl: ledger: %s\n", g_strerror(-r));
			code = CTL_EXIT_FAILURE;
		}
		g_array_free(calls, TRUE);
	}
	g_ptr_array_free(c.groups, TRUE);
	g_string_chunk_free(c.text);
	return code;
}
