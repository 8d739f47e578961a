#include "ledger.h"
#include "export.h"
#include "report.h"
#include "term.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>

#define DEFAULT_ZONE "Europe/Copenhagen"

/* clang-format off */
static const char *const verdict_labels[] = {
	[LEDGER_ON_TIME] = "inden fristen",
	[LEDGER_LATE] = "efter fristen",
	[LEDGER_ASSESSED] = "vurderes",
};
static const char *const clock_labels[] = {
	[LEDGER_CLOCK_ARRIVAL] = "postkassen",
	[LEDGER_CLOCK_EDGE] = "mailserveren",
	[LEDGER_CLOCK_DATE_HEADER] = "afsenderens Date-felt",
};
/* Why a row has no hash, in the list's words. */
static const char *const body_notes[] = {
	[LEDGER_BODY_STORED] = NULL,
	[LEDGER_BODY_TOO_LARGE] = "Beskeden var for stor til at blive hentet og har derfor ingen hash.",
	[LEDGER_BODY_GONE] = "Beskeden blev fjernet fra postkassen, før den blev hentet, og har derfor ingen hash.",
};
/* clang-format on */

enum ledger_verdict ledger_verdict(enum rules_status status, int on_time)
{
	if (status == RULES_REVIEW || on_time < 0)
		return LEDGER_ASSESSED;
	if (status == RULES_LATE || on_time == 0)
		return LEDGER_LATE;
	return LEDGER_ON_TIME;
}

const char *ledger_verdict_label(enum ledger_verdict v)
{
	return (unsigned)v < G_N_ELEMENTS(verdict_labels) ? verdict_labels[v] : verdict_labels[LEDGER_ASSESSED];
}

const char *ledger_clock_label(enum ledger_clock c)
{
	return (unsigned)c < G_N_ELEMENTS(clock_labels) ? clock_labels[c] : clock_labels[LEDGER_CLOCK_ARRIVAL];
}

char *ledger_hash_prefix(const char *sha256)
{
	if (!sha256 || strlen(sha256) != 64)
		return NULL;
	for (const char *p = sha256; *p; p++)
		if (!g_ascii_isxdigit(*p))
			return NULL;
	return g_ascii_strdown(sha256, LEDGER_HASH_DIGITS);
}

/* The note beside a row, or NULL: why it has no hash, or the record it
 * repeats.  In HTML (HTML) a reference is kept on one line; the note is
 * our own words and a generated reference, nothing to escape.  Newly
 * allocated. */
static char *row_note(const struct ledger_row *r, bool html)
{
	const char *body = (unsigned)r->body < G_N_ELEMENTS(body_notes) ? body_notes[r->body] : NULL;
	g_autofree char *ref = r->duplicate_of ? record_reference(r->duplicate_of) : NULL;
	g_autofree char *dup =
		!ref   ? NULL
		: html ? g_strdup_printf("Samme besked som <span class=\"nb\">%s</span>, modtaget igen.", ref)
		       : g_strdup_printf("Samme besked som %s, modtaget igen.", ref);
	if (body && dup)
		return g_strconcat(body, " ", dup, NULL);
	return g_strdup(body ? body : dup);
}

static int compare_rows(const struct ledger_row *a, const struct ledger_row *b)
{
	if (a->has_time != b->has_time)
		return a->has_time ? -1 : 1;
	if (a->has_time && a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static int compare_values(const void *a, const void *b)
{
	return compare_rows(a, b);
}

static int compare_pointers(const void *a, const void *b)
{
	return compare_rows(*(const struct ledger_row *const *)a, *(const struct ledger_row *const *)b);
}

void ledger_sort(struct ledger_row *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(*rows), compare_values);
}

/* C's rows in order of arrival, without touching them; g_free. */
static const struct ledger_row **sorted(const struct ledger_call *c)
{
	const struct ledger_row **v = g_new0(const struct ledger_row *, c->n_rows + 1);
	for (size_t i = 0; i < c->n_rows; i++)
		v[i] = &c->rows[i];
	if (c->n_rows > 1)
		qsort(v, c->n_rows, sizeof(*v), compare_pointers);
	return v;
}

static const char *zone_of(const char *tz)
{
	if (!tz)
		return DEFAULT_ZONE;
	g_autoptr(GTimeZone) z = g_time_zone_new_identifier(tz);
	return z ? tz : DEFAULT_ZONE;
}

/* ---- the page ---- */

static const char style[] =
	"body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1a1a1a;margin:2em;max-width:1000px}"
	"h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.3em;margin-top:1.6em;border-bottom:2px solid #1a1a1a}"
	".meta{color:#555;font-size:.9em}.about{max-width:46em}.about p{margin:.5em 0}"
	"dl.call{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.call dt{font-weight:bold}"
	"dl.call dd{margin:0}"
	"table{border-collapse:collapse;width:100%;margin:1em 0;font-size:.92em}"
	"th,td{border:1px solid #999;padding:.35em .5em;text-align:left;vertical-align:top}"
	"th{background:#eee}tr{page-break-inside:avoid;break-inside:avoid}thead{display:table-header-group}"
	"td.ref,td.t,td.clock,td.sha,td.v,.nb{white-space:nowrap}"
	"td.ref,td.sha{font-family:'DejaVu Sans Mono',monospace}td.note,td.clock{font-size:.85em;color:#333}"
	".v-late{color:#c62828}.v-assessed{color:#b26a00}"
	"@media print{body{margin:0;max-width:none}"
	"th{background:#eee;-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

static void about(GString *out, const struct ledger *l)
{
	g_string_append(
		out,
		"<section class=\"about\">\n"
		"<p>Listen viser hver e-mail, der er modtaget i puljens postkasse til opslaget: én linje pr. "
		"modtaget besked. Der står ingen navne, adresser eller emner på listen.</p>\n"
		"<p><b>Sådan finder du din ansøgning.</b> Har du fået en kvittering for din ansøgning, står der et "
		"referencenummer (fx PJ-000042) og beskedens SHA-256 i den. Find linjen med dit referencenummer, og "
		"se, at de første 16 tegn af SHA-256 er de samme som i kvitteringen. Uden kvittering kan du lede "
		"efter det tidspunkt, du sendte ansøgningen: den står lidt derefter. Har du sendt flere e-mails, "
		"står hver på sin egen linje.</p>\n"
		"<p><b>Hvad er SHA-256?</b> Et digitalt fingeraftryk af hele den e-mail, vi modtog: ændres blot ét "
		"tegn, bliver fingeraftrykket et helt andet. Det er beregnet af beskeden, som vores mailserver "
		"leverede den til postkassen, og kan derfor afvige fra et fingeraftryk af kopien i din egen "
		"udbakke. Fingeraftrykket afslører intet om indholdet.</p>\n"
		"<p><b>Tidspunktet</b> er det, der afgør fristen: normalt da vores mailserver eller postkasse "
		"modtog beskeden. Det er angivet i opslagets tidszone, ");
	/* Name the zone of every call once. */
	g_autoptr(GPtrArray) zones = g_ptr_array_new();
	for (size_t i = 0; i < l->n_calls; i++) {
		const char *z = zone_of(l->calls[i].timezone);
		bool seen = false;
		for (guint k = 0; k < zones->len; k++)
			seen |= !strcmp(g_ptr_array_index(zones, k), z);
		if (!seen)
			g_ptr_array_add(zones, (gpointer)z);
	}
	if (!zones->len)
		g_ptr_array_add(zones, (gpointer)zone_of(l->timezone));
	for (guint k = 0; k < zones->len; k++) {
		const char *z = g_ptr_array_index(zones, k);
		if (k)
			g_string_append(out, k + 1 == zones->len ? " og " : ", ");
		report_escape(out, z);
		if (!strcmp(z, DEFAULT_ZONE))
			g_string_append(out, " (dansk tid)");
	}
	g_string_append(out,
			".</p>\n"
			"<p><b>Listen er ikke en afgørelse.</b> Den viser, hvad der er modtaget, og om det kom inden "
			"fristen. Om en ansøgning opfylder puljens krav, afgøres senere. \"Vurderes\" betyder, at en "
			"medarbejder ser nærmere på beskeden.</p>\n"
			"<p><b>Mangler din ansøgning?</b> Kontakt os hurtigst muligt, gerne før fristen, med "
			"dokumentation for, hvornår og hvortil du sendte den.</p>\n"
			"</section>\n");
}

static void call_section(GString *out, const struct ledger_call *c)
{
	const char *zone = zone_of(c->timezone);
	g_string_append(out, "<section class=\"call\"");
	if (c->id) {
		g_string_append(out, " data-call=\"");
		report_escape(out, c->id);
		g_string_append(out, "\"");
	}
	g_string_append(out, ">\n<h2>");
	if (c->id)
		report_escape(out, c->subject ? c->subject : c->id);
	else
		g_string_append(out, "Beskeder, der ikke kunne knyttes til et opslag");
	g_string_append(out, "</h2>\n<dl class=\"call\">");
	if (c->id) {
		g_string_append(out, "<dt>Opslag</dt><dd>");
		report_escape(out, c->id);
		g_string_append(out, "</dd>");
	}
	if (c->has_deadline) {
		g_autofree char *deadline = report_danish_time(c->deadline, zone, true);
		g_string_append(out, "<dt>Frist</dt><dd class=\"deadline\">");
		report_escape(out, deadline);
		g_string_append(out, " (");
		report_escape(out, zone);
		g_string_append(out, ")</dd>");
	}
	g_string_append_printf(out, "<dt>Modtagne ansøgninger</dt><dd class=\"count\">%zu</dd></dl>\n", c->n_rows);
	if (!c->n_rows) {
		g_string_append(out, "<p>Der er endnu ikke modtaget nogen ansøgninger.</p>\n</section>\n");
		return;
	}
	g_string_append(out, "<table class=\"ledger\"><thead><tr><th>Referencenummer</th><th>Modtaget (");
	report_escape(out, zone);
	g_string_append(out,
			")</th><th>Tidspunkt ifølge</th><th>Fristen</th><th>SHA-256, første 16 tegn</th>"
			"<th>Bemærkning</th></tr></thead><tbody>\n");
	g_autofree const struct ledger_row **rows = sorted(c);
	for (size_t i = 0; i < c->n_rows; i++) {
		const struct ledger_row *r = rows[i];
		g_autofree char *ref = record_reference(r->id);
		g_autofree char *when = r->has_time ? report_danish_time(r->time, zone, true) : NULL;
		g_autofree char *hash = ledger_hash_prefix(r->sha256);
		g_autofree char *note = row_note(r, true);
		static const char *const classes[] = { "on-time", "late", "assessed" };
		unsigned v = (unsigned)r->verdict < G_N_ELEMENTS(classes) ? r->verdict : LEDGER_ASSESSED;
		g_string_append(out, "<tr><td class=\"ref\">");
		report_escape(out, ref);
		g_string_append(out, "</td><td class=\"t\">");
		report_escape(out, when ? when : "ukendt");
		g_string_append(out, "</td><td class=\"clock\">");
		if (r->has_time)
			report_escape(out, ledger_clock_label(r->clock));
		g_string_append_printf(out, "</td><td class=\"v v-%s\">%s</td><td class=\"sha\">", classes[v],
				       ledger_verdict_label(v));
		g_string_append(out, hash ? hash : "—");
		g_string_append(out, "</td><td class=\"note\">");
		if (note)
			g_string_append(out, note);
		g_string_append(out, "</td></tr>\n");
	}
	g_string_append(out, "</tbody></table>\n</section>\n");
}

char *ledger_html(const struct ledger *l)
{
	GString *out = g_string_new(NULL);
	g_string_append(out,
			"<!DOCTYPE html>\n<html lang=\"da\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			"<title>Modtagne ansøgninger");
	if (l->n_calls == 1 && l->calls[0].id) {
		g_string_append(out, ": ");
		report_escape(out, l->calls[0].subject ? l->calls[0].subject : l->calls[0].id);
	}
	g_string_append_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Modtagne ansøgninger</h1>\n",
			       style);
	if (l->n_calls == 1 && l->calls[0].id) {
		g_string_append(out, "<p class=\"lead\">");
		report_escape(out, l->calls[0].subject ? l->calls[0].subject : l->calls[0].id);
		g_string_append(out, "</p>\n");
	}
	const char *zone = zone_of(l->timezone);
	g_autofree char *made = report_danish_time(l->generated, zone, false);
	g_string_append(out, "<p class=\"meta generated\">Listen er dannet ");
	report_escape(out, made);
	g_string_append(out, " (");
	report_escape(out, zone);
	g_string_append(out, ").</p>\n");
	about(out, l);
	for (size_t i = 0; i < l->n_calls; i++)
		call_section(out, &l->calls[i]);
	g_string_append(out, "</body>\n</html>\n");
	return g_string_free(out, FALSE);
}

/* ---- the CSV ---- */

enum { CSV_COLUMNS = 8 };

char *ledger_csv(const struct ledger *l)
{
	const char *zone = zone_of(l->timezone);
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(zone);
	GString *out = g_string_new(EXPORT_CSV_BOM);
	g_autofree char *when_header = g_strdup_printf("Modtaget (%s)", zone);
	/* The reference first: it is what an applicant looks for. */
	const char *header[CSV_COLUMNS] = {
		"Referencenummer",         "Opslag",           when_header,
		"Modtaget, ISO 8601",      "Tidspunkt ifølge", "Fristen",
		"SHA-256, første 16 tegn", "Bemærkning",
	};
	export_csv_record(out, header, CSV_COLUMNS);
	for (size_t i = 0; i < l->n_calls; i++) {
		const struct ledger_call *c = &l->calls[i];
		g_autofree const struct ledger_row **rows = sorted(c);
		g_autofree char *call = c->id ? term_clean(c->id) : NULL;
		for (size_t k = 0; k < c->n_rows; k++) {
			const struct ledger_row *r = rows[k];
			g_autofree char *ref = record_reference(r->id);
			g_autoptr(GDateTime) utc = r->has_time ? g_date_time_new_from_unix_utc(r->time) : NULL;
			g_autoptr(GDateTime) local = utc ? g_date_time_to_timezone(utc, tz) : NULL;
			g_autofree char *date = local ? g_date_time_format(local, "%Y-%m-%d %H:%M:%S") : NULL;
			g_autofree char *iso = local ? g_date_time_format(local, "%Y-%m-%dT%H:%M:%S%:z") : NULL;
			g_autofree char *hash = ledger_hash_prefix(r->sha256);
			g_autofree char *note = row_note(r, false);
			const char *fields[CSV_COLUMNS] = {
				ref,
				call,
				date,
				iso,
				local ? ledger_clock_label(r->clock) : NULL,
				ledger_verdict_label(r->verdict),
				hash,
				note,
			};
			export_csv_record(out, fields, CSV_COLUMNS);
		}
	}
	return g_string_free(out, FALSE);
}
