#include "report.h"
#include "record.h"
#include "term.h"

#include <string.h>
#include <glib.h>

/* The statuses' Danish labels and their colours (dark enough to print on
 * white), by enum rules_status. */
static const char *const status_labels[] = { "Modtaget", "For sent", "Til vurdering", "Ikke en ansøgning" };
static const char *const status_colors[] = { "#2e7d32", "#c62828", "#b26a00", "#616161" };
_Static_assert(G_N_ELEMENTS(status_labels) == RECORD_N_STATUS && G_N_ELEMENTS(status_colors) == RECORD_N_STATUS,
	       "a label and a colour for every status");

static int status_index(enum rules_status status)
{
	return (unsigned)status < RECORD_N_STATUS ? (int)status : RULES_UNRELATED;
}

const char *report_status_label(enum rules_status status)
{
	return status_labels[status_index(status)];
}

static const char *status_code(enum rules_status status)
{
	return record_status_name((enum rules_status)status_index(status));
}

void report_escape(GString *out, const char *s)
{
	if (!s)
		return;
	g_autofree char *clean = term_clean(s);
	g_autofree char *e = g_markup_escape_text(clean, -1);
	g_string_append(out, e);
}

static void esc(GString *out, const char *s)
{
	report_escape(out, s);
}

/* The why beside a status badge, when there is one. */
static void why_line(GString *out, const char *why)
{
	if (!why)
		return;
	g_string_append(out, "<div class=\"why\">");
	esc(out, why);
	g_string_append(out, "</div>");
}

static void status_badge(GString *out, enum rules_status status)
{
	int i = status_index(status);
	g_string_append_printf(out, "<span class=\"badge s-%s\">%s</span>", status_code(status), status_labels[i]);
}

static const char *const months[] = { "januar", "februar", "marts",     "april",   "maj",      "juni",
				      "juli",   "august",  "september", "oktober", "november", "december" };

/* "1. juli 2022 kl. 23:59:59" in TZ (report.h). */
char *report_danish_time(int64_t t, const char *tz_name, bool seconds)
{
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(tz_name ? tz_name : "Europe/Copenhagen");
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
	g_autoptr(GDateTime) local = tz && dt ? g_date_time_to_timezone(dt, tz) : NULL;
	if (!local)
		return g_strdup("?");
	return g_strdup_printf(seconds ? "%d. %s %d kl. %02d:%02d:%02d" : "%d. %s %d kl. %02d:%02d",
			       g_date_time_get_day_of_month(local), months[g_date_time_get_month(local) - 1],
			       g_date_time_get_year(local), g_date_time_get_hour(local), g_date_time_get_minute(local),
			       g_date_time_get_second(local));
}

/* "2022-06-15T10:12:00+02:00" -> "2022-06-15 10:12". */
static void short_time(GString *out, const char *iso)
{
	if (!iso || strlen(iso) < 16) {
		g_string_append(out, "–");
		return;
	}
	g_autofree char *s = g_strndup(iso, 16);
	s[10] = ' ';
	esc(out, s);
}

static void human_size(GString *out, uint64_t n)
{
	if (n < 1024)
		g_string_append_printf(out, "%" G_GUINT64_FORMAT " B", n);
	else if (n < 1024 * 1024)
		g_string_append_printf(out, "%.0f KB", (double)n / 1024);
	else
		g_string_append_printf(out, "%.1f MB", (double)n / (1024 * 1024));
}

/* ---- timeline ---- */

#define SVG_W 900
#define SVG_H 230
#define PLOT_X0 20
#define PLOT_X1 880
#define AXIS_Y 200

static double scale(int64_t t, int64_t t0, int64_t t1)
{
	return PLOT_X0 + (double)(t - t0) * (PLOT_X1 - PLOT_X0) / (double)(t1 - t0);
}

char *report_timeline_svg(const struct report_call *c)
{
	/* The span: every arrival and the deadline, at least a week before
	 * it and a day after it. */
	int64_t t0 = c->deadline_t - 7 * 86400, t1 = c->deadline_t + 86400;
	for (size_t i = 0; i < c->n_msgs; i++) {
		if (!c->msgs[i]->has_received)
			continue;
		t0 = MIN(t0, c->msgs[i]->received);
		t1 = MAX(t1, c->msgs[i]->received);
	}
	int64_t pad = (t1 - t0) / 40 + 1;
	t0 -= pad;
	t1 += pad;
	/* Rows: on time (accepted), review, late; unrelated never appear. */
	static const int row_of[] = { 0, 2, 1, 1 };
	static const char *const row_labels[] = { "Modtaget", "Til vurdering", "For sent" };
	static const int row_status[] = { 0, 2, 1 };
	const int row_y[] = { 70, 115, 160 };

	GString *s = g_string_new(NULL);
	g_autofree char *deadline = report_danish_time(c->deadline_t, c->timezone, true);
	g_string_append_printf(s,
			       "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" viewBox=\"0 0 %d %d\" "
			       "role=\"img\" aria-label=\"Ankomster i forhold til fristen\">\n",
			       SVG_W, SVG_H);
	g_string_append(s, "<title>Ankomster i forhold til fristen</title>\n");
	for (int r = 0; r < 3; r++) {
		g_string_append_printf(s,
				       "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#e0e0e0\" />\n"
				       "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>\n",
				       PLOT_X0, row_y[r], PLOT_X1, row_y[r], PLOT_X0, row_y[r] - 12,
				       status_colors[row_status[r]], row_labels[r]);
	}
	/* The axis and its ticks, at a step that gives at most ten. */
	static const int64_t steps[] = { 3600,       6 * 3600,   86400,      2 * 86400,  7 * 86400,
					 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400 };
	int64_t step = steps[G_N_ELEMENTS(steps) - 1];
	for (size_t i = 0; i < G_N_ELEMENTS(steps); i++)
		if ((t1 - t0) / steps[i] <= 10) {
			step = steps[i];
			break;
		}
	g_string_append_printf(s, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\" />\n", PLOT_X0, AXIS_Y,
			       PLOT_X1, AXIS_Y);
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(c->timezone ? c->timezone : "Europe/Copenhagen");
	/* Ticks at local midnights (or whole hours) of the call's zone. */
	g_autoptr(GDateTime) start_utc = g_date_time_new_from_unix_utc(t0);
	/* No ticks for a time GLib cannot hold (a record of a year-0000 INTERNALDATE). */
	g_autoptr(GDateTime) start = !start_utc ? NULL
				     : tz       ? g_date_time_to_timezone(start_utc, tz)
						: g_date_time_ref(start_utc);
	g_autoptr(GDateTime) tick =
		!start ? NULL
		: step < 86400
			? g_date_time_new(g_date_time_get_timezone(start), g_date_time_get_year(start),
					  g_date_time_get_month(start), g_date_time_get_day_of_month(start),
					  g_date_time_get_hour(start), 0, 0)
			: g_date_time_new(g_date_time_get_timezone(start), g_date_time_get_year(start),
					  g_date_time_get_month(start), g_date_time_get_day_of_month(start), 0, 0, 0);
	for (int n = 0; tick && n < 40; n++) {
		int64_t t = g_date_time_to_unix(tick);
		if (t > t1)
			break;
		if (t >= t0) {
			double x = scale(t, t0, t1);
			g_autofree char *label = step < 86400
							 ? g_date_time_format(tick, "%H:%M")
							 : g_strdup_printf("%d/%d", g_date_time_get_day_of_month(tick),
									   g_date_time_get_month(tick));
			g_string_append_printf(s,
					       "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" />"
					       "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
					       "fill=\"#333\">%s</text>\n",
					       x, AXIS_Y, x, AXIS_Y + 5, x, AXIS_Y + 18, label);
		}
		GDateTime *next = step < 86400 ? g_date_time_add_hours(tick, (gint)(step / 3600))
					       : g_date_time_add_days(tick, (gint)(step / 86400));
		g_date_time_unref(tick);
		tick = next;
	}
	/* The deadline. */
	double dx = scale(c->deadline_t, t0, t1);
	g_string_append_printf(
		s,
		"<line class=\"deadline\" x1=\"%.1f\" y1=\"30\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c62828\" "
		"stroke-width=\"2\" stroke-dasharray=\"6 4\" />\n"
		"<text x=\"%.1f\" y=\"22\" font-size=\"12\" text-anchor=\"%s\" fill=\"#c62828\">Frist %s</text>\n",
		dx, dx, AXIS_Y, dx, dx > SVG_W / 2 ? "end" : "start", deadline);
	/* One mark per message. */
	for (size_t i = 0; i < c->n_msgs; i++) {
		const struct report_message *m = c->msgs[i];
		int si = status_index(m->status);
		if (!m->has_received || si == 3)
			continue;
		double x = scale(m->received, t0, t1);
		int y = row_y[row_of[si]] + (int)(m->id % 5) * 4 - 8;
		g_string_append_printf(s, "<circle class=\"mark s-%s\" cx=\"%.1f\" cy=\"%d\" r=\"5\" fill=\"%s\">",
				       status_code(m->status), x, y, status_colors[si]);
		g_string_append_printf(s, "<title>#%" G_GINT64_FORMAT " ", m->id);
		short_time(s, m->received_at);
		g_string_append(s, "</title></circle>\n");
	}
	if (c->n_msgs == 0)
		g_string_append_printf(
			s,
			"<text x=\"%d\" y=\"115\" font-size=\"14\" text-anchor=\"middle\" fill=\"#616161\">"
			"Ingen ansøgninger modtaget</text>\n",
			SVG_W / 2);
	g_string_append(s, "</svg>\n");
	return g_string_free(s, FALSE);
}

/* ---- the page ---- */

static const char style[] =
	"body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1a1a1a;margin:2em;max-width:1100px}"
	"h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.3em;margin-top:1.6em;border-bottom:2px solid #1a1a1a}"
	".meta{color:#555;font-size:.9em}"
	"dl.call{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.call dt{font-weight:bold}"
	"dl.call dd{margin:0}"
	"table{border-collapse:collapse;width:100%;margin:1em 0;font-size:.92em}"
	"th,td{border:1px solid #999;padding:.35em .5em;text-align:left;vertical-align:top}"
	"th{background:#eee}tr{page-break-inside:avoid;break-inside:avoid}td.t{white-space:nowrap}"
	"table.counts{width:auto}table.counts td.n{text-align:right}"
	"table.overview{width:auto}table.overview td.n{text-align:right}"
	".badge{font-weight:bold;white-space:nowrap}"
	".s-accepted{color:#2e7d32}.s-late{color:#c62828}.s-review{color:#b26a00}.s-unrelated{color:#616161}"
	".timeline{width:100%;height:auto;border:1px solid #ccc;margin:1em 0}"
	"ul.files,ol.decisions{margin:.2em 0;padding-left:1.2em}ol.decisions{font-size:.85em}.sha{font-family:'DejaVu Sans Mono',monospace;font-size:.75em;"
	"color:#555;word-break:break-all}.edge,.why{font-size:.85em;color:#333}"
	".sig-valid{color:#2e7d32}.sig-invalid{color:#c62828;font-weight:bold}.sig-untrusted{color:#b26a00;font-weight:bold}"
	"@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}"
	"h2{page-break-before:auto}th{background:#eee;-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/* Every decision on an application, oldest first: what, who, when, note. */
static void decision_history(GString *out, const struct report_application *a)
{
	if (a->n_decisions == 0)
		return;
	g_string_append(out, "<ol class=\"decisions\">");
	for (size_t i = 0; i < a->n_decisions; i++) {
		const struct report_decision *d = &a->decisions[i];
		g_string_append(out, "<li>");
		g_string_append(out, !strcmp(d->decision, "accept") ? "Godkendt" : "Afvist");
		g_string_append(out, " af ");
		esc(out, d->user);
		g_string_append(out, ", <span class=\"t\">");
		short_time(out, d->at);
		g_string_append(out, "</span>");
		if (d->note) {
			g_string_append(out, ": ");
			esc(out, d->note);
		}
		g_string_append(out, "</li>");
	}
	g_string_append(out, "</ol>");
}

/* A verdict's English reason in Danish words (the detail kept). */
static void danish_reason(GString *out, const char *reason)
{
	static const struct {
		const char *prefix, *da;
	} map[] = {
		{ "digest mismatch", "indholdet svarer ikke til det underskrevne" },
		{ "signature does not verify", "underskriften kan ikke verificeres" },
		{ "certificate not valid at the claimed signing time",
		  "certifikatet var ikke gyldigt på det angivne underskriftstidspunkt" },
		{ "certificate not valid at", "certifikatet var ikke gyldigt på valideringstidspunktet" },
		{ "weak digest algorithm", "for svag hash-algoritme" },
	};
	for (size_t i = 0; reason && i < G_N_ELEMENTS(map); i++) {
		if (g_str_has_prefix(reason, map[i].prefix)) {
			g_string_append_printf(out, "%s (%s)", map[i].da, reason);
			return;
		}
	}
	g_string_append(out, reason && *reason ? reason : "underskriften holder ikke");
}

char *report_signature_text(const struct report_signature *s, enum report_sig_kind *kind)
{
	GString *out = g_string_new(NULL);
	enum report_sig_kind k = s->signature == CMS_NONE    ? REPORT_SIG_NONE
				 : s->signature != CMS_VALID ? REPORT_SIG_INVALID
				 : s->modified               ? REPORT_SIG_MODIFIED
				 : s->untrusted              ? REPORT_SIG_UNTRUSTED
							     : REPORT_SIG_VALID;
	g_autofree char *by = s->signer ? g_strdup_printf(" af %s", s->signer) : g_strdup("");
	switch (k) {
	case REPORT_SIG_NONE:
		g_string_append(out, "ingen digital underskrift");
		break;
	case REPORT_SIG_VALID:
		g_string_append_printf(out, "gyldig underskrift%s", by);
		break;
	case REPORT_SIG_UNTRUSTED:
		g_string_append_printf(out, "underskriften%s er intakt, men underskriveren er ikke betroet", by);
		break;
	case REPORT_SIG_MODIFIED:
		g_string_append_printf(out, "dokumentet er ændret efter underskrift (underskriften%s er intakt)", by);
		break;
	case REPORT_SIG_INVALID:
		g_string_append_printf(out, "UGYLDIG underskrift%s: ", by);
		danish_reason(out, s->reason);
		break;
	}
	if (kind)
		*kind = k;
	return g_string_free(out, FALSE);
}

static void signature_text(GString *out, const struct report_signature *sig)
{
	enum report_sig_kind kind;
	g_autofree char *text = report_signature_text(sig, &kind);
	if (kind == REPORT_SIG_NONE) {
		g_string_append(out, text);
		return;
	}
	g_string_append_printf(out, "<span class=\"sig-%s\">",
			       kind == REPORT_SIG_VALID       ? "valid"
			       : kind == REPORT_SIG_UNTRUSTED ? "untrusted"
							      : "invalid");
	esc(out, text);
	g_string_append(out, "</span>");
}

/* "23:59:40" of an ISO 8601 time, or the whole text when it is not one. */
static const char *clock_time(const char *iso, char buf[9])
{
	if (!iso || strlen(iso) < 19 || iso[10] != 'T')
		return iso ? iso : "?";
	memcpy(buf, iso + 11, 8);
	buf[8] = '\0';
	return buf;
}

static const char *why_danish(const char *why)
{
	static const struct {
		const char *why, *text;
	} texts[] = {
		{ "no-received", "beskeden har ingen Received-felter" },
		{ "untrusted-top", "det øverste Received-felt er ikke skrevet af ministeriets mailserver" },
		{ "bad-date", "tiden i mailserverens Received-felt kan ikke læses" },
		{ "after-arrival", "tiden i mailserverens Received-felt ligger efter ankomsten til postkassen" },
		{ "no-arrival", "der er ingen ankomsttid at holde den op imod" },
	};
	for (size_t i = 0; why && i < G_N_ELEMENTS(texts); i++)
		if (!strcmp(why, texts[i].why))
			return texts[i].text;
	return why ? why : "ukendt grund";
}

char *report_edge_sentence(const struct report_edge *e)
{
	char a[9], b[9];
	const char *by = !e->decided_by                          ? NULL
			 : !strcmp(e->decided_by, "edge")        ? "mailserverens tid"
			 : !strcmp(e->decided_by, "date-header") ? "afsenderens Date-felt"
								 : "postkassens tid";
	if (e->edge_at) {
		g_autofree char *s = g_strdup_printf("modtaget af ministeriets mailserver %s, i postkassen %s",
						     clock_time(e->edge_at, a), clock_time(e->received_at, b));
		return by ? g_strdup_printf("%s; fristen afgøres af %s", s, by) : g_steal_pointer(&s);
	}
	if (!e->basis || strcmp(e->basis, "edge"))
		return NULL;
	return g_strdup_printf("ingen tid fra ministeriets mailserver (%s); fristen afgøres af %s %s",
			       why_danish(e->why), by ? by : "postkassens tid", clock_time(e->received_at, b));
}

static void message_cell(GString *out, const struct report_message *m)
{
	g_string_append(out, "<div class=\"msg\">");
	if (m->eml_href) {
		g_string_append(out, "<a href=\"");
		esc(out, m->eml_href);
		g_string_append_printf(out, "\">Besked #%" G_GINT64_FORMAT "</a>", m->id);
	} else {
		g_string_append_printf(out, "Besked #%" G_GINT64_FORMAT " (ikke gemt)", m->id);
	}
	g_string_append(out, ", ");
	short_time(out, m->received_at);
	g_string_append(out, ", ");
	status_badge(out, m->status);
	why_line(out, m->why);
	g_autofree char *edge = report_edge_sentence(&m->edge);
	if (edge) {
		g_string_append(out, "<div class=\"edge\">");
		esc(out, edge);
		g_string_append(out, "</div>");
	}
	if (m->smime.signature != CMS_NONE) {
		g_string_append(out, "<div class=\"smime\">Beskeden er S/MIME-underskrevet: ");
		signature_text(out, &m->smime);
		g_string_append(out, "</div>");
	}
	if (m->n_atts) {
		g_string_append(out, "<ul class=\"files\">");
		for (size_t k = 0; k < m->n_atts; k++) {
			const struct report_attachment *a = &m->atts[k];
			g_string_append(out, "<li>");
			if (a->href) {
				g_string_append(out, "<a href=\"");
				esc(out, a->href);
				g_string_append(out, "\">");
			}
			esc(out, a->filename ? a->filename : "(uden navn)");
			if (a->href)
				g_string_append(out, "</a>");
			g_string_append(out, " (");
			human_size(out, a->size);
			g_string_append(out, ")");
			if (a->form)
				g_string_append(out, " <b>ansøgningsskema</b>");
			if (a->signature != CMS_NONE) {
				g_string_append(out, ", ");
				struct report_signature sig = { a->signature, a->signer, a->modified, a->untrusted,
								a->reason };
				signature_text(out, &sig);
			}
			g_string_append(out, "<div class=\"sha\">SHA-256 ");
			esc(out, a->sha256);
			g_string_append(out, "</div></li>");
		}
		g_string_append(out, "</ul>");
	}
	g_string_append(out, "</div>");
}

static void call_section(GString *out, const struct report_call *c)
{
	g_string_append(out, "<section class=\"call\">\n<h2>");
	esc(out, c->subject);
	g_string_append(out, "</h2>\n<dl class=\"call\"><dt>Opslag</dt><dd>");
	esc(out, c->id);
	g_autofree char *deadline = report_danish_time(c->deadline_t, c->timezone, true);
	g_string_append(out, "</dd><dt>Frist</dt><dd class=\"deadline\">");
	esc(out, deadline);
	g_string_append(out, " (");
	esc(out, c->timezone);
	g_string_append(out, c->basis_edge ? "); ministeriets mailservers modtagelsestid afgør, ellers postkassens"
					   : "); serverens ankomsttid afgør");
	g_string_append(out, "</dd><dt>Ansøgere</dt><dd>");
	g_string_append_printf(out, "%zu</dd></dl>\n", c->n_apps);

	g_string_append(out, "<table class=\"counts\"><tr><th>Status</th><th>Beskeder</th></tr>");
	for (size_t i = 0; i < 3; i++) {
		g_string_append(out, "<tr><td>");
		status_badge(out, (enum rules_status)i);
		g_string_append_printf(out, "</td><td class=\"n\" data-status=\"%s\">%" G_GINT64_FORMAT "</td></tr>",
				       record_status_name((enum rules_status)i), c->counts[i]);
	}
	g_string_append(out, "</table>\n");

	g_autofree char *svg = report_timeline_svg(c);
	g_string_append(out, svg);

	g_string_append(out,
			"<table class=\"apps\"><thead><tr><th>#</th><th>Ansøger</th><th>Status</th>"
			"<th>Rettidig</th><th>Første ankomst</th><th>Skema</th><th>Afgørelse</th>"
			"<th>Beskeder og bilag</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < c->n_apps; i++) {
		const struct report_application *a = &c->apps[i];
		g_string_append_printf(out, "<tr data-status=\"%s\"><td>%zu</td><td>", status_code(a->status), i + 1);
		esc(out, a->applicant ? a->applicant : "(ikke angivet)");
		g_string_append(out, "</td><td>");
		status_badge(out, a->status);
		why_line(out, a->why);
		g_string_append_printf(out, "</td><td>%s</td><td class=\"t\">",
				       a->on_time < 0 ? "–"
				       : a->on_time   ? "ja"
						      : "nej");
		short_time(out, a->first_arrival);
		g_string_append(out, "</td><td>");
		struct report_signature form_sig = { a->form_signature, a->signer, a->form_modified, a->form_untrusted,
						     a->form_reason };
		if (a->form)
			signature_text(out, &form_sig);
		else
			g_string_append(out, "<b>intet skema</b>");
		g_string_append(out, "</td><td>");
		if (a->decision) {
			g_string_append(out, !strcmp(a->decision, "accept") ? "Godkendt" : "Afvist");
			if (a->decision_note) {
				g_string_append(out, ": ");
				esc(out, a->decision_note);
			}
		} else {
			g_string_append(out, "–");
		}
		decision_history(out, a);
		g_string_append(out, "</td><td>");
		for (size_t k = 0; k < a->n_msgs; k++)
			message_cell(out, a->msgs[k]);
		g_string_append(out, "</td></tr>\n");
	}
	if (c->n_apps == 0)
		g_string_append(out, "<tr><td colspan=\"8\">Ingen ansøgninger.</td></tr>\n");
	g_string_append(out, "</tbody></table>\n</section>\n");
}

static void overview_row(GString *out, const char *label, const char *key, unsigned n)
{
	g_string_append(out, "<tr><th>");
	g_string_append(out, label);
	g_string_append_printf(out, "</th><td class=\"n\" data-k=\"%s\">%u</td></tr>", key, n);
}

/* The overview of call C (S's, NULL when it has no application). */
static void overview_call(GString *out, const struct report_call *c, const struct summary_call *s)
{
	static const struct summary_call none = { 0 };
	const struct summary_call *o = s ? s : &none;
	g_string_append(out, "<h3>");
	esc(out, c->subject);
	g_string_append(out, "</h3>\n<table class=\"overview\" data-call=\"");
	esc(out, c->id);
	g_string_append(out, "\">");
	overview_row(out, "Ansøgninger", "applications", o->applications);
	for (size_t i = 0; i < 3; i++) {
		g_string_append(out, "<tr><th>");
		status_badge(out, (enum rules_status)i);
		g_string_append_printf(out, "</th><td class=\"n\" data-k=\"status-%s\">%u</td></tr>",
				       record_status_name((enum rules_status)i), o->by_status[i]);
	}
	overview_row(out, "Rettidige", "on_time", o->on_time);
	overview_row(out, "For sene", "late", o->late);
	overview_row(out, "Rettidighed ukendt", "on_time_unknown", o->on_time_unknown);
	overview_row(out, "Med ansøgningsskema", "with_form", o->with_form);
	overview_row(out, "Uden ansøgningsskema", "without_form", o->without_form);
	overview_row(out, "Skema med gyldig underskrift", "form-valid", o->form_valid);
	overview_row(out, "Skema med ugyldig underskrift", "form-invalid", o->form_invalid);
	overview_row(out, "Skema uden underskrift", "form-none", o->form_unsigned);
	g_string_append(out, "</table>\n");
	if (s && s->days->len) {
		g_string_append(out, "<table class=\"overview days\"><tr><th>Modtaget dag (");
		esc(out, c->timezone);
		g_string_append(out, ")</th><th>Ansøgninger</th></tr>");
		for (guint i = 0; i < s->days->len; i++) {
			const struct summary_day *d = &g_array_index(s->days, struct summary_day, i);
			g_string_append_printf(out, "<tr><td>%s</td><td class=\"n\" data-day=\"%s\">%u</td></tr>",
					       d->day, d->day, d->applications);
		}
		g_string_append(out, "</table>\n");
	}
	g_string_append_printf(out, "<h4>Kræver en sagsbehandler: %u</h4>\n", s ? s->attention->len : 0);
	if (!s || !s->attention->len)
		return;
	g_string_append(out,
			"<table class=\"attention\"><tr><th>#</th><th>Ansøger</th><th>Status</th>"
			"<th>Begrundelse</th><th>Afgørelse</th></tr>");
	for (guint i = 0; i < s->attention->len; i++) {
		const struct summary_person *p = &g_array_index(s->attention, struct summary_person, i);
		g_string_append_printf(out, "<tr data-id=\"%" G_GINT64_FORMAT "\"><td>%" G_GINT64_FORMAT "</td><td>",
				       p->id, p->id);
		if (p->applicant)
			esc(out, p->applicant);
		else
			g_string_append(out, "<em>ikke angivet</em>");
		g_string_append(out, "</td><td>");
		status_badge(out, p->status);
		g_string_append(out, "</td><td>");
		if (p->why)
			esc(out, p->why);
		g_string_append(out, "</td><td>");
		g_string_append(out, !p->decision ? "mangler" : !strcmp(p->decision, "accept") ? "Godkendt" : "Afvist");
		g_string_append(out, "</td></tr>");
	}
	g_string_append(out, "</table>\n");
}

/* The pool overview, first on the page: every call, the applications
 * that need a person listed first. */
static void overview_section(GString *out, const struct report *r)
{
	if (!r->summary)
		return;
	g_string_append(out, "<section class=\"overview\" id=\"overblik\">\n<h2>Overblik</h2>\n");
	for (size_t i = 0; i < r->n_calls; i++)
		overview_call(out, &r->calls[i], summary_find(r->summary, r->calls[i].id));
	g_string_append(out, "</section>\n");
}

char *report_html(const struct report *r)
{
	GString *out = g_string_new(NULL);
	g_string_append(out,
			"<!DOCTYPE html>\n<html lang=\"da\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Ansøgninger");
	if (r->n_calls == 1) {
		g_string_append(out, ": ");
		esc(out, r->calls[0].subject);
	}
	g_string_append_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Ansøgninger</h1>\n", style);
	g_string_append(out, "<p class=\"meta\">Udtræk fra puljed, dannet ");
	esc(out, r->generated_at);
	g_string_append(out,
			". Hver besked er gemt uændret (.eml) med serverens ankomsttid; bilagene ligger ved siden "
			"af denne side med deres SHA-256.</p>\n");
	overview_section(out, r);
	for (size_t i = 0; i < r->n_calls; i++)
		call_section(out, &r->calls[i]);
	g_string_append_printf(out,
			       "<p class=\"meta\">Beskeder der ikke hører til et opslag: %" G_GINT64_FORMAT "</p>\n",
			       r->unrelated);
	g_string_append(out,
			"<p class=\"meta sig-note\">Digitale underskrifter vurderes på det tidligste sikre tidspunkt, "
			"hvor underskriften vides at have eksisteret: et verificeret tidsstempel, ellers serverens "
			"ankomsttid. Et certifikat, der er udløbet senere, gør ikke underskriften ugyldig. "
			"\"Gyldig\" betyder: underskriften er intakt, dækker dokumentet og (når der er angivet "
			"betroede certifikater) underskriveren er betroet. Spærring (revokation) af certifikater "
			"kontrolleres ikke.</p>\n");
	g_string_append(out, "</body>\n</html>\n");
	return g_string_free(out, FALSE);
}

char *report_describe_delta(int64_t seconds)
{
	uint64_t s = seconds < 0 ? (uint64_t)(-(seconds + 1)) + 1 : (uint64_t)seconds;
	uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
	g_autofree char *amount = NULL;
	if (d)
		amount = g_strdup_printf("%" G_GUINT64_FORMAT " d %" G_GUINT64_FORMAT " h", d, h);
	else if (h)
		amount = g_strdup_printf("%" G_GUINT64_FORMAT " h %" G_GUINT64_FORMAT " min", h, m);
	else if (m)
		amount = sec ? g_strdup_printf("%" G_GUINT64_FORMAT " min %" G_GUINT64_FORMAT " s", m, sec)
			     : g_strdup_printf("%" G_GUINT64_FORMAT " min", m);
	else
		amount = g_strdup_printf("%" G_GUINT64_FORMAT " s", sec);
	return seconds >= 0 ? g_strdup_printf("late by %s", amount)
			    : g_strdup_printf("on time, %s before the deadline", amount);
}
