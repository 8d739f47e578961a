#include "ctl.h"
#include "apps.h"
#include "datetime.h"
#include "export.h"
#include "report.h"
#include "table.h"
#include "account.h"
#include "assess.h"
#include "imap.h"
#include "lastrun.h"
#include "rules.h"
#include "term.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

static const char *const status_names[] = { "accepted", "late", "review", "unrelated" };

/* TEXT (JSON) with every character a terminal must not see raw written
 * as a \\u escape: the same JSON data, safe to print. */
static char *json_terminal_safe(const char *text)
{
	GString *out = g_string_sized_new(strlen(text));
	for (const char *p = text; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		/* Below 0x20 json-glib escapes already (and emits no raw newline
		 * inside strings); outside strings only layout whitespace occurs. */
		if (c >= 0x20 && term_unsafe(c))
			g_string_append_printf(out, "\\u%04x", c);
		else
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
	}
	return g_string_free(out, FALSE);
}

static void print_json(FILE *out, JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_indent(gen, 2);
	json_generator_set_root(gen, node);
	g_autofree char *text = json_generator_to_data(gen, NULL);
	g_autofree char *safe = json_terminal_safe(text);
	fprintf(out, "%s\n", safe);
}

static void add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void add_int(JsonBuilder *b, const char *name, int64_t value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static void add_int_or_null(JsonBuilder *b, const char *name, int64_t value, bool present)
{
	json_builder_set_member_name(b, name);
	if (present)
		json_builder_add_int_value(b, value);
	else
		json_builder_add_null_value(b);
}

static char *iso_local(int64_t t)
{
	if (!t)
		return NULL;
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	return dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z") : NULL;
}

/* ---- filters ---- */

static unsigned status_bit(const char *status)
{
	for (size_t i = 0; status && i < G_N_ELEMENTS(status_names); i++)
		if (!strcmp(status, status_names[i]))
			return 1u << i;
	return 0;
}

int ctl_parse_statuses(const char *list, unsigned *bits, char **bad)
{
	g_auto(GStrv) words = g_strsplit(list, ",", -1);
	*bits = 0;
	for (size_t i = 0; words[i]; i++) {
		g_strstrip(words[i]);
		unsigned b = status_bit(words[i]);
		if (!b) {
			*bad = g_strdup(words[i]);
			return -EINVAL;
		}
		*bits |= b;
	}
	if (!*bits) {
		*bad = g_strdup(list);
		return -EINVAL;
	}
	return 0;
}

int ctl_parse_since(const char *text, const char *tz_name, int64_t *since)
{
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(tz_name ? tz_name : "Europe/Copenhagen");
	if (!tz)
		return -EINVAL;
	int y, m, d;
	char end;
	/* A day starts at its midnight; datetime_parse_deadline reads a bare
	 * date as the day's end. */
	if (sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &end) == 3 && strlen(text) == 10) {
		g_autofree char *midnight = g_strdup_printf("%sT00:00:00", text);
		return datetime_parse_deadline(midnight, tz, since) < 0 ? -EINVAL : 0;
	}
	return datetime_parse_deadline(text, tz, since) < 0 ? -EINVAL : 0;
}

/* Whether message M passes F (STATUSES too when WITH_STATUS). */
static bool filter_message(const struct ctl_filter *f, const struct store_message *m, bool with_status)
{
	if (!f)
		return true;
	if (f->call && g_strcmp0(m->call, f->call))
		return false;
	if (f->has_since && (!m->has_received || m->received_epoch < f->since))
		return false;
	if (with_status && f->statuses && !(f->statuses & status_bit(m->status)))
		return false;
	return true;
}

/* The colour a status is shown in on a terminal. */
static const char *status_color(const char *status)
{
	static const char *const colors[] = { "green", "red", "yellow", "gray" };
	for (size_t i = 0; status && i < G_N_ELEMENTS(status_names); i++)
		if (!strcmp(status, status_names[i]))
			return colors[i];
	return NULL;
}

/* "2022-06-15T10:12:00+02:00" -> "2022-06-15 10:12" (NULL stays NULL). */
static char *short_time(const char *iso)
{
	if (!iso || strlen(iso) < 16)
		return NULL;
	char *s = g_strndup(iso, 16);
	s[10] = ' ';
	return s;
}

/* The form attachment of a message, for applications and exports. */
struct form_info {
	bool found;
	char *signature; /* "valid", "invalid", "none" */
	char *signer;
	bool modified, untrusted;
	char *reason;
};

static int find_form(const struct store_attachment *a, void *userdata)
{
	struct form_info *f = userdata;
	if (!a->form || f->found)
		return 0;
	f->found = true;
	f->signature = g_strdup(a->signature ? a->signature : "none");
	f->signer = g_strdup(a->signer);
	f->modified = a->modified_after_signing == 1;
	f->untrusted = a->signer_trusted == 0;
	f->reason = g_strdup(a->signature_reason);
	return 0;
}

/* The form's signature in a caseworker's words (report_signature_text). */
static char *form_info_text(const struct form_info *f)
{
	if (!f->found)
		return NULL;
	struct report_signature sig = { f->signature, f->signer, f->modified, f->untrusted, f->reason };
	return report_signature_text(&sig, NULL);
}

static void form_info_clear(struct form_info *f)
{
	g_free(f->signature);
	g_free(f->signer);
	g_free(f->reason);
	memset(f, 0, sizeof(*f));
}

/* The applications among the messages that pass F's call and since
 * (NULL on a store error); its statuses are the caller's to apply. */
struct collect_ctx {
	struct store *st;
	const struct ctl_filter *f;
	struct apps *apps;
};

static int collect_app(const struct store_message *m, void *userdata)
{
	struct collect_ctx *c = userdata;
	if (!filter_message(c->f, m, false))
		return 0;
	struct form_info fi = { 0 };
	int r = store_foreach_attachment(c->st, m->id, false, find_form, &fi);
	struct apps_form form = { fi.found, fi.signature, fi.signer, fi.modified, fi.untrusted, fi.reason };
	apps_add(c->apps, m, &form);
	form_info_clear(&fi);
	return r;
}

static struct apps *collect_apps(struct store *st, const struct ctl_filter *f)
{
	struct collect_ctx c = { st, f, apps_new() };
	if (store_foreach_message(st, 0, false, collect_app, &c) < 0) {
		apps_free(c.apps);
		return NULL;
	}
	return c.apps;
}

static bool filter_app(const struct ctl_filter *f, const struct apps_app *a)
{
	return !f || !f->statuses || (f->statuses & status_bit(a->status));
}

/* ---- JSON of one record ---- */

struct json_ctx {
	struct store *st;
	JsonBuilder *b;
	bool detail; /* show: everything we know */
};

static void add_tristate(JsonBuilder *b, const char *name, int v)
{
	json_builder_set_member_name(b, name);
	if (v < 0)
		json_builder_add_null_value(b);
	else
		json_builder_add_boolean_value(b, v);
}

static int add_attachment(const struct store_attachment *a, void *userdata)
{
	struct json_ctx *c = userdata;
	JsonBuilder *b = c->b;
	json_builder_begin_object(b);
	add_str(b, "filename", a->filename);
	add_str(b, "content_type", a->content_type);
	add_int(b, "size", (int64_t)a->size);
	add_str(b, "sha256", a->sha256);
	add_str(b, "part", a->part_path);
	add_str(b, "source", a->source ? a->source : "mime");
	add_str(b, "signature", a->signature ? a->signature : "none");
	add_str(b, "signer", a->signer);
	add_str(b, "signed_at", a->signed_at);
	add_tristate(b, "signature_covers_whole_file", a->covers_whole_file);
	add_tristate(b, "signature_modified_after_signing", a->modified_after_signing);
	add_str(b, "signature_reason", a->signature_reason);
	add_str(b, "signature_validated_at", a->signature_validated_at);
	add_str(b, "signature_time_source", a->signature_time_source);
	add_tristate(b, "signer_trusted", a->signer_trusted);
	json_builder_set_member_name(b, "form");
	json_builder_add_boolean_value(b, a->form);
	json_builder_end_object(b);
	return 0;
}

static int add_part(const struct store_part *p, void *userdata)
{
	JsonBuilder *b = userdata;
	json_builder_begin_object(b);
	add_str(b, "part", p->part_path);
	add_str(b, "content_type", p->content_type);
	add_str(b, "filename", p->filename);
	add_int(b, "size", (int64_t)p->size);
	add_str(b, "action", p->action);
	add_str(b, "why", p->why);
	json_builder_end_object(b);
	return 0;
}

static void add_reasons(JsonBuilder *b, const char *reasons)
{
	json_builder_set_member_name(b, "reasons");
	g_autoptr(JsonParser) p = json_parser_new();
	if (reasons && json_parser_load_from_data(p, reasons, -1, NULL) && json_parser_get_root(p) &&
	    JSON_NODE_HOLDS_ARRAY(json_parser_get_root(p)))
		json_builder_add_value(b, json_node_copy(json_parser_get_root(p)));
	else {
		json_builder_begin_array(b);
		json_builder_end_array(b);
	}
}

/* "decision": null or {"decision", "note", "user", "at"}. */
static void add_decision(JsonBuilder *b, const char *decision, const char *note, const char *user, int64_t at)
{
	json_builder_set_member_name(b, "decision");
	if (!decision) {
		json_builder_add_null_value(b);
		return;
	}
	json_builder_begin_object(b);
	add_str(b, "decision", decision);
	add_str(b, "note", note);
	add_str(b, "user", user);
	g_autofree char *when = iso_local(at);
	add_str(b, "at", when);
	json_builder_end_object(b);
}

static int add_message(const struct store_message *m, void *userdata)
{
	struct json_ctx *c = userdata;
	JsonBuilder *b = c->b;
	json_builder_begin_object(b);
	add_int(b, "id", m->id);
	add_str(b, "mailbox", m->mailbox);
	add_int(b, "uidvalidity", m->uidvalidity);
	add_int(b, "uid", m->uid);
	add_str(b, "message_id", m->message_id);
	add_str(b, "from", m->from_addr);
	add_str(b, "from_name", m->from_name);
	add_str(b, "subject", m->subject);
	add_str(b, "received_at", m->received_at);
	add_str(b, "date_header", m->date_header);
	add_str(b, "call", m->call);
	add_str(b, "applicant", m->applicant);
	json_builder_set_member_name(b, "on_time");
	if (m->on_time < 0)
		json_builder_add_null_value(b);
	else
		json_builder_add_boolean_value(b, m->on_time);
	add_str(b, "status", m->status);
	add_int_or_null(b, "duplicate_of", m->duplicate_of, m->duplicate_of != 0);
	add_reasons(b, m->reasons);
	add_str(b, "flags", m->flags);
	add_int(b, "size", (int64_t)(m->raw_sha256 ? m->raw_size : m->server_size));
	add_str(b, "sha256", m->raw_sha256);
	add_str(b, "match", m->match);
	json_builder_set_member_name(b, "match_score");
	if (m->match_score >= 0)
		json_builder_add_double_value(b, floor(m->match_score * 100 + 0.5) / 100);
	else
		json_builder_add_null_value(b);
	add_str(b, "kind", m->kind);
	add_str(b, "applicant_source", m->applicant_source);
	add_str(b, "received_header", m->received_header);
	add_str(b, "deadline_basis", m->deadline_basis);
	add_str(b, "decided_by", m->decided_by);
	add_str(b, "edge_received_at", m->edge_received_at);
	add_str(b, "edge_why", m->edge_why);
	add_int_or_null(b, "deadline_delta", m->deadline_delta, m->has_delta);
	add_str(b, "smime", m->smime ? m->smime : "none");
	add_str(b, "smime_reason", m->smime_reason);
	add_str(b, "smime_validated_at", m->smime_validated_at);
	add_str(b, "smime_time_source", m->smime_time_source);
	add_str(b, "server_action", m->server_action);
	add_decision(b, m->decision, m->decision_note, m->decision_user, m->decision_at);
	if (c->detail) {
		add_str(b, "internaldate", m->internaldate);
		add_int(b, "server_size", (int64_t)m->server_size);
		add_int(b, "raw_size", (int64_t)m->raw_size);
		g_autofree char *rec = iso_local(m->recorded_at);
		add_str(b, "recorded_at", rec);
		add_str(b, "prior_keys", m->prior_keys);
		add_str(b, "server_action_kind", m->server_action_kind);
		add_str(b, "server_action_target", m->server_action_target);
		g_autofree char *done = m->server_action_at ? iso_local(m->server_action_at) : NULL;
		add_str(b, "server_action_at", done);
	}
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_array(b);
	int r = store_foreach_attachment(c->st, m->id, false, add_attachment, c);
	json_builder_end_array(b);
	if (r == 0 && c->detail) {
		json_builder_set_member_name(b, "parts");
		json_builder_begin_array(b);
		r = store_foreach_part(c->st, m->id, add_part, b);
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
	return r;
}

/* ---- status ---- */

struct show_ctx {
	FILE *out;
	size_t width; /* columns; every line fits */
};

#define SHOW_LABEL 14 /* "Deadline:     " */

/* "Label:  value", the value wrapped under itself to the width. */
static void show_field(const struct show_ctx *c, const char *label, const char *value)
{
	g_autofree char *v = term_wrap(value ? value : "-", c->width, SHOW_LABEL);
	fprintf(c->out, "%-*s%s\n", SHOW_LABEL, label, v);
}

struct mb_ctx {
	JsonBuilder *b;
	const struct show_ctx *show;
};

static int status_mailbox(const struct store_mailbox *mb, void *userdata)
{
	struct mb_ctx *c = userdata;
	if (c->b) {
		json_builder_begin_object(c->b);
		add_str(c->b, "mailbox", mb->mailbox);
		add_int(c->b, "uidvalidity", mb->uidvalidity);
		add_int(c->b, "last_uid", mb->last_uid);
		json_builder_end_object(c->b);
	} else {
		g_autofree char *line = g_strdup_printf("%s UIDVALIDITY %u, every UID up to %u recorded", mb->mailbox,
							 mb->uidvalidity, mb->last_uid);
		show_field(c->show, "Watermark:", line);
	}
	return 0;
}

static char *human_time(int64_t t)
{
	if (!t)
		return g_strdup("never");
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %Z");
}

/* The daemon's latest unclean end from its run record beside DATABASE:
 * false when there was none.  *WHEN is 0 when unknown. */
static bool last_crash(const char *database, int64_t *when, unsigned *in_a_row, char *reason, size_t size)
{
	g_autofree char *path = lastrun_path(database);
	struct lastrun r;
	if (lastrun_read(path, &r) < 0)
		return false;
	/* Not yet found by a new start: the record itself tells. */
	bool alive = r.pid > 0 && (kill((pid_t)r.pid, 0) == 0 || errno == EPERM);
	if (!(strcmp(r.state, "running") == 0 && alive) && lastrun_unclean(&r, reason, size)) {
		*when = !strcmp(r.state, "crashed") ? r.signal_time : 0;
		*in_a_row = r.crashes + 1;
		return true;
	}
	if (!r.last_crash)
		return false;
	*when = r.last_crash;
	*in_a_row = r.crashes;
	g_strlcpy(reason, r.last_reason, size);
	return true;
}

int ctl_status(struct store *st, const struct ctl_output *o, unsigned poll_interval, const char *database)
{
	FILE *out = o->out;
	bool json = o->json;
	struct store_status s;
	if (store_get_status(st, &s) < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	int64_t age = s.last_success_at ? (int64_t)time(NULL) - s.last_success_at : -1;
	bool fresh = age >= 0 && age <= 3 * (int64_t)poll_interval;
	/* Mail at or below the watermark without a record is not "ok",
	 * however recent the last poll. */
	bool healthy = fresh && s.gaps == 0;
	int64_t crash_at = 0;
	unsigned crashes = 0;
	char crash_reason[400];
	bool crashed = database && last_crash(database, &crash_at, &crashes, crash_reason, sizeof(crash_reason));
	int r;
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		add_int(b, "total", s.total);
		json_builder_set_member_name(b, "by_status");
		json_builder_begin_object(b);
		for (size_t i = 0; i < G_N_ELEMENTS(status_names); i++)
			add_int(b, status_names[i], s.by_status[i]);
		json_builder_end_object(b);
		add_int(b, "duplicates", s.duplicates);
		g_autofree char *lp = iso_local(s.last_poll_at);
		g_autofree char *ls = iso_local(s.last_success_at);
		add_str(b, "last_poll", lp);
		add_str(b, "last_success", ls);
		add_str(b, "last_error", s.last_error);
		add_int_or_null(b, "server_messages", s.server_exists, s.server_exists >= 0);
		add_int(b, "recorded_current", s.recorded_current);
		add_int(b, "actions_pending", s.actions_pending);
		add_str(b, "last_action_error", s.last_action_error);
		g_autofree char *gc = iso_local(s.gaps_checked_at);
		add_str(b, "gaps_checked", gc);
		add_int(b, "gaps", s.gaps);
		json_builder_set_member_name(b, "gap_uids");
		json_builder_begin_array(b);
		g_auto(GStrv) gap_uids = g_strsplit(s.gap_uids ? s.gap_uids : "", " ", -1);
		for (char **u = gap_uids; *u; u++)
			if (g_ascii_isdigit(**u))
				json_builder_add_int_value(b, g_ascii_strtoll(*u, NULL, 10));
		json_builder_end_array(b);
		json_builder_set_member_name(b, "last_crash");
		if (crashed) {
			g_autofree char *t = crash_at ? iso_local(crash_at) : NULL;
			json_builder_begin_object(b);
			add_str(b, "time", t);
			add_str(b, "reason", crash_reason);
			add_int(b, "in_a_row", crashes);
			json_builder_end_object(b);
		} else {
			json_builder_add_null_value(b);
		}
		json_builder_set_member_name(b, "healthy");
		json_builder_add_boolean_value(b, healthy);
		json_builder_set_member_name(b, "mailboxes");
		json_builder_begin_array(b);
		struct mb_ctx c = { .b = b };
		r = store_foreach_mailbox(st, status_mailbox, &c);
		json_builder_end_array(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		if (r == 0)
			print_json(out, root);
	} else {
		struct show_ctx sc = { .out = out, .width = o->width > 40 ? (size_t)o->width : 40 };
		g_autofree char *total = g_strdup_printf("%" G_GINT64_FORMAT " recorded", s.total);
		if (s.duplicates) {
			char *t = g_strdup_printf("%s (%" G_GINT64_FORMAT " duplicate deliveries)", total, s.duplicates);
			g_free(total);
			total = t;
		}
		show_field(&sc, "Messages:", total);
		for (size_t i = 0; i < G_N_ELEMENTS(status_names); i++)
			fprintf(out, "  %-10s  %" G_GINT64_FORMAT "\n", status_names[i], s.by_status[i]);
		struct mb_ctx c = { .show = &sc };
		r = store_foreach_mailbox(st, status_mailbox, &c);
		if (s.server_exists >= 0) {
			g_autofree char *line = g_strdup_printf("%" G_GINT64_FORMAT " messages in the mailbox at the last poll, %"
								G_GINT64_FORMAT " recorded under its UIDVALIDITY",
								s.server_exists, s.recorded_current);
			show_field(&sc, "Server:", line);
		}
		if (s.actions_pending || s.last_action_error) {
			g_autofree char *line = g_strdup_printf(
				"%" G_GINT64_FORMAT " recorded message(s) wait for the after-ingest action%s%s", s.actions_pending,
				s.last_action_error ? ": " : "", s.last_action_error ? s.last_action_error : "");
			show_field(&sc, "Actions:", line);
		}
		g_autofree char *lp = human_time(s.last_poll_at);
		g_autofree char *ls = human_time(s.last_success_at);
		g_autofree char *poll = g_strdup_printf("%s%s", lp, s.last_poll_at && !s.last_error ? " (ok)" : "");
		show_field(&sc, "Last poll:", poll);
		if (s.last_error) {
			show_field(&sc, "Last success:", ls);
			show_field(&sc, "Last error:", s.last_error);
		}
		g_autofree char *gc = human_time(s.gaps_checked_at);
		g_autofree char *gu = term_clean(s.gap_uids ? s.gap_uids : "");
		g_autofree char *gaps = s.gaps ? g_strdup_printf("%" G_GINT64_FORMAT " message(s) on the server at or below "
								 "the watermark have no record (UIDs %s); checked %s",
								 s.gaps, gu, gc)
					       : g_strdup_printf("none (checked %s)", gc);
		show_field(&sc, "Gaps:", gaps);
		g_autofree char *health = healthy ? g_strdup_printf("ok (last success %" G_GINT64_FORMAT " s ago)", age)
				      : fresh ? g_strdup_printf("GAPS: %" G_GINT64_FORMAT " message(s) not recorded (see "
								"\"puljectl reconcile\")", s.gaps)
				      : age < 0 ? g_strdup("STALE: no successful poll yet")
						: g_strdup_printf("STALE: last success %" G_GINT64_FORMAT
								  " s ago, more than 3 poll intervals (%u s)", age,
								  3 * poll_interval);
		if (crashed) {
			g_autofree char *t = crash_at ? human_time(crash_at) : g_strdup("time unknown");
			g_autofree char *row = crashes > 1 ? g_strdup_printf(" (%u in a row)", crashes) : g_strdup("");
			g_autofree char *line = g_strdup_printf("%s: %s%s", t, crash_reason, row);
			show_field(&sc, "Last crash:", line);
		}
		show_field(&sc, "Health:", health);
	}
	g_free(s.last_error);
	g_free(s.last_action_error);
	g_free(s.gap_uids);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return healthy ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

/* ---- list ---- */

struct list_ctx {
	struct json_ctx json;
	struct table *table;
	const struct ctl_filter *f;
};

static int list_row(const struct store_message *m, void *userdata)
{
	struct list_ctx *c = userdata;
	if (!filter_message(c->f, m, true))
		return 0;
	if (!c->table)
		return add_message(m, &c->json);
	char id[24], att[24];
	g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, m->id);
	g_snprintf(att, sizeof(att), "%zu", m->n_attachments);
	g_autofree char *when = short_time(m->received_at);
	g_autofree char *status = g_strdup_printf("%s%s", m->status, m->duplicate_of ? "*" : "");
	const char *who = m->applicant ? m->applicant : m->subject ? m->subject : "(no subject)";
	const char *cells[] = { id, when, status, att, m->decision, who };
	table_add(c->table, cells, 2, status_color(m->status));
	return 0;
}

int ctl_list(struct store *st, const struct ctl_output *o, const struct ctl_filter *f)
{
	static const struct table_column cols[] = {
		{ "ID", 5, true, false },	  { "RECEIVED", 16, false, false }, { "STATUS", 9, false, false },
		{ "ATT", 3, true, false },	  { "DECIDED", 7, false, false },   { "APPLICANT / SUBJECT", 0.5, false, true },
	};
	g_autoptr(JsonBuilder) b = o->json ? json_builder_new() : NULL;
	struct list_ctx c = { .json = { .st = st, .b = b }, .f = f };
	if (!o->json)
		c.table = table_new(cols, G_N_ELEMENTS(cols), o->color, o->width);
	else
		json_builder_begin_array(b);
	int r = store_foreach_message(st, 0, false, list_row, &c);
	if (r == 0 && o->json) {
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		print_json(o->out, root);
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

/* ---- show ---- */

/* An indented line of the attachment or part lists, wrapped likewise. */
static void show_indented(const struct show_ctx *c, size_t indent, const char *text)
{
	g_autofree char *v = term_wrap(text, c->width, indent);
	fprintf(c->out, "%*s%s\n", (int)indent, "", v);
}

/* How a signature verdict was reached, in one line: the reason or note,
 * the validation time and its source, a change after signing, and that
 * revocation is not checked. */
static char *signature_how(const char *reason, const char *validated_at, const char *source, int modified)
{
	GString *g = g_string_new(NULL);
	if (reason)
		g_string_append_printf(g, "%s; ", reason);
	if (modified == 1)
		g_string_append(g, "changed after signing (other content appended); ");
	if (validated_at)
		g_string_append_printf(g, "validated at %s (%s)", validated_at,
				       source && !strcmp(source, "timestamp") ? "the time a timestamp proves"
									      : "the server's arrival time");
	else
		g_string_append(g, "no validation time recorded (run puljectl reclassify)");
	g_string_append(g, "; revocation not checked");
	return g_string_free(g, FALSE);
}

static int show_attachment(const struct store_attachment *a, void *userdata)
{
	const struct show_ctx *c = userdata;
	g_autofree char *head = g_strdup_printf("%d. %s%s", a->seq, a->filename ? a->filename : "(no name)",
						a->form ? "   [the form]" : "");
	show_indented(c, 2, head);
	bool other_source = a->source && strcmp(a->source, "mime");
	g_autofree char *what = g_strdup_printf("%s, %" G_GUINT64_FORMAT " bytes, part %s%s%s", a->content_type, a->size,
						a->part_path ? a->part_path : "-", other_source ? " from " : "",
						other_source ? a->source : "");
	show_indented(c, 5, what);
	g_autofree char *sha = g_strdup_printf("sha256 %s", a->sha256);
	show_indented(c, 5, sha);
	if (a->signature && strcmp(a->signature, "none")) {
		g_autofree char *sig = g_strdup_printf(
			"signature %s by %s%s%s%s%s", a->signature, a->signer ? a->signer : "unknown signer",
			a->signed_at ? ", claims signed " : "", a->signed_at ? a->signed_at : "",
			a->covers_whole_file == 0 ? ", content added after signing" : "",
			a->signer_trusted == 1 ? ", signer trusted" : a->signer_trusted == 0 ? ", signer NOT trusted" : "");
		show_indented(c, 5, sig);
		g_autofree char *how = signature_how(a->signature_reason, a->signature_validated_at,
						     a->signature_time_source, a->modified_after_signing);
		show_indented(c, 5, how);
		struct report_signature rs = { a->signature, a->signer, a->modified_after_signing == 1,
					       a->signer_trusted == 0, a->signature_reason };
		g_autofree char *words = report_signature_text(&rs, NULL);
		g_autofree char *meaning = g_strdup_printf("for the caseworker: %s", words);
		show_indented(c, 5, meaning);
	}
	return 0;
}

static int show_part(const struct store_part *p, void *userdata)
{
	const struct show_ctx *c = userdata;
	g_autofree char *path = term_width(p->part_path) > 10 ? term_clean(p->part_path) /* never cut */
							       : term_fit(p->part_path, 10, 1);
	g_autofree char *action = term_fit(p->action, 12, 1);
	g_autofree char *rest = g_strdup_printf("%s%s%s%s — %s", p->content_type, p->filename ? " \"" : "",
						p->filename ? p->filename : "", p->filename ? "\"" : "", p->why);
	g_autofree char *v = term_wrap(rest, c->width, 26);
	fprintf(c->out, "  %s %s %s\n", path, action, v);
	return 0;
}

static int show_human(const struct store_message *m, void *userdata)
{
	const struct show_ctx *c = userdata;
	char buf[64];
	g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, m->id);
	show_field(c, "Record:", buf);
	show_field(c, "Status:", m->status);
	show_field(c, "Call:", m->call);
	bool from_sender = m->applicant && m->applicant_source && !strcmp(m->applicant_source, "from");
	g_autofree char *applicant = from_sender
		? g_strdup_printf("%s (from the sender: the subject names none)", m->applicant) : NULL;
	show_field(c, "Applicant:", from_sender ? applicant : m->applicant);
	show_field(c, "On time:", m->on_time < 0 ? "-" : m->on_time ? "yes" : "no");
	if (m->has_delta && m->decided_by) {
		g_autofree char *how = rules_describe_delta(m->deadline_delta);
		bool by_date = !strcmp(m->decided_by, "date-header"), by_edge = !strcmp(m->decided_by, "edge");
		bool fell_back = m->deadline_basis && strcmp(m->deadline_basis, m->decided_by);
		bool wanted_edge = m->deadline_basis && !strcmp(m->deadline_basis, "edge");
		g_autofree char *line = g_strdup_printf(
			"%s — decided by %s %s%s", how,
			by_date ? "the sender's Date:" : by_edge ? "the authority's mail server" : "the server's arrival time",
			by_date ? m->date_header : by_edge ? m->edge_received_at : m->received_at,
			!fell_back ? "" : wanted_edge ? " (no edge time; arrival used)" : " (no Date: header; arrival used)");
		show_field(c, "Deadline:", line);
	}
	struct report_edge edge = { m->edge_received_at, m->received_at, m->decided_by, m->deadline_basis, m->edge_why };
	g_autofree char *edge_line = report_edge_sentence(&edge);
	if (edge_line)
		show_field(c, "Modtaget:", edge_line);
	if (m->match) {
		g_autofree char *match = g_strdup_printf("%s (score %.2f)", m->match, m->match_score);
		show_field(c, "Match:", match);
	}
	show_field(c, "Kind:", m->kind);
	if (m->smime && strcmp(m->smime, "none")) {
		g_autofree char *how = signature_how(m->smime_reason, m->smime_validated_at, m->smime_time_source, -1);
		g_autofree char *line = g_strdup_printf("%s — %s", m->smime, how);
		show_field(c, "S/MIME:", line);
	}
	show_field(c, "Reasons:", m->reasons);
	if (m->decision) {
		g_autofree char *at = human_time(m->decision_at);
		g_autofree char *d = g_strdup_printf("%s by %s at %s%s%s", m->decision, m->decision_user, at,
						      m->decision_note ? ": " : "", m->decision_note ? m->decision_note : "");
		show_field(c, "Decision:", d);
	}
	if (m->flags)
		show_field(c, "Flags:", m->flags);
	if (m->duplicate_of) {
		g_snprintf(buf, sizeof(buf), "record %" G_GINT64_FORMAT " (same raw bytes)", m->duplicate_of);
		show_field(c, "Duplicate of:", buf);
	}
	show_field(c, "Subject:", m->subject);
	g_autofree char *from = m->from_name ? g_strdup_printf("%s <%s>", m->from_name, m->from_addr ? m->from_addr : "")
					     : g_strdup(m->from_addr);
	show_field(c, "From:", from);
	show_field(c, "Message-ID:", m->message_id);
	show_field(c, "Arrived:", m->received_at);
	show_field(c, "INTERNALDATE:", m->internaldate);
	show_field(c, "Received:", m->received_header);
	show_field(c, "Edge:", m->edge_received_at);
	show_field(c, "Date header:", m->date_header);
	g_autofree char *where = g_strdup_printf("%s, UIDVALIDITY %u, UID %u", m->mailbox, m->uidvalidity, m->uid);
	show_field(c, "Mailbox:", where);
	if (m->prior_keys) {
		g_autofree char *prior = g_strdup_printf("%s (UIDVALIDITY:UID before the mailbox was recreated)",
							 m->prior_keys);
		show_field(c, "Earlier keys:", prior);
	}
	g_autofree char *size = m->raw_sha256 ? g_strdup_printf("%zu bytes, sha256 %s", m->raw_size, m->raw_sha256)
				       : g_strdup_printf("not stored (server size %" G_GUINT64_FORMAT " bytes)", m->server_size);
	show_field(c, "Raw message:", size);
	g_autofree char *rec = human_time(m->recorded_at);
	show_field(c, "Recorded:", rec);
	if (m->server_action) {
		g_autofree char *at = human_time(m->server_action_at);
		bool move = m->server_action_kind && !strcmp(m->server_action_kind, "move");
		g_autofree char *action = !strcmp(m->server_action, "done")
			? g_strdup_printf("%s %s at %s", move ? "moved to" : "flagged", m->server_action_target, at)
			: g_strdup("pending (recorded; the server action is retried at every poll)");
		show_field(c, "On server:", action);
	}
	fprintf(c->out, "%-*s%zu\n", SHOW_LABEL, "Attachments:", m->n_attachments);
	return 0;
}

int ctl_show(struct store *st, const struct ctl_output *o, int64_t id)
{
	FILE *out = o->out;
	bool json = o->json;
	int r;
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		struct json_ctx c = { .st = st, .b = b, .detail = true };
		r = store_foreach_message(st, id, false, add_message, &c);
		g_autoptr(JsonNode) root = r == 0 ? json_builder_get_root(b) : NULL;
		if (root)
			print_json(out, root);
	} else {
		struct show_ctx c = { .out = out, .width = o->width > 40 ? (size_t)o->width : 40 };
		r = store_foreach_message(st, id, false, show_human, &c);
		if (r == 0)
			r = store_foreach_attachment(st, id, false, show_attachment, &c);
		if (r == 0) {
			fprintf(out, "Parts:\n");
			r = store_foreach_part(st, id, show_part, &c);
		}
	}
	if (r == -ENOENT) {
		fprintf(stderr, "puljectl: no record with id %" G_GINT64_FORMAT "\n", id);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

/* ---- extract ---- */

struct extract_ctx {
	int dirfd;
	FILE *out;
	const char *dir;
	int written;
};

static int write_all(int fd, const uint8_t *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates NAME in the directory, or "stem (2).ext", "stem (3).ext" … when
 * it exists: O_EXCL never overwrites, O_NOFOLLOW never follows a link. */
static int create_unique(int dirfd, const char *name, char **used)
{
	const char *dot = strrchr(name, '.');
	g_autofree char *stem = dot && dot != name ? g_strndup(name, (gsize)(dot - name)) : g_strdup(name);
	const char *ext = dot && dot != name ? dot : "";
	for (int i = 1; i < 1000; i++) {
		g_autofree char *try = i == 1 ? g_strdup(name) : g_strdup_printf("%s (%d)%s", stem, i, ext);
		int fd = openat(dirfd, try, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd >= 0) {
			*used = g_steal_pointer(&try);
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int extract_one(const struct store_attachment *a, void *userdata)
{
	struct extract_ctx *c = userdata;
	g_autofree char *fallback = g_strdup_printf("attachment-%d", a->seq);
	g_autofree char *name = term_safe_filename(a->filename, fallback);
	g_autofree char *used = NULL;
	int fd = create_unique(c->dirfd, name, &used);
	if (fd < 0) {
		fprintf(stderr, "puljectl: cannot create %s in %s: %s\n", name, c->dir, g_strerror(-fd));
		return CTL_EXIT_FAILURE;
	}
	int r = write_all(fd, a->data, (size_t)a->size);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "puljectl: cannot write %s/%s: %s\n", c->dir, used, g_strerror(-r));
		unlinkat(c->dirfd, used, 0);
		return CTL_EXIT_FAILURE;
	}
	g_autofree char *shown = term_clean(used);
	fprintf(c->out, "%s/%s\t%" G_GUINT64_FORMAT " bytes\tsha256 %s\n", c->dir, shown, a->size, a->sha256);
	c->written++;
	return 0;
}

static int check_exists(const struct store_message *m, void *userdata)
{
	return 0;
}

int ctl_extract(struct store *st, FILE *out, int64_t id, const char *dir)
{
	int r = store_foreach_message(st, id, false, check_exists, NULL);
	if (r == -ENOENT) {
		fprintf(stderr, "puljectl: no record with id %" G_GINT64_FORMAT "\n", id);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "puljectl: cannot open directory %s: %s\n", dir, g_strerror(errno));
		return CTL_EXIT_FAILURE;
	}
	struct extract_ctx c = { .dirfd = dirfd, .out = out, .dir = dir };
	r = store_foreach_attachment(st, id, true, extract_one, &c);
	close(dirfd);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	if (r > 0)
		return r;
	if (c.written == 0)
		fprintf(stderr, "puljectl: record %" G_GINT64_FORMAT " has no attachments\n", id);
	return CTL_EXIT_OK;
}

/* ---- applications ---- */

static void add_app(JsonBuilder *b, const struct apps_app *a)
{
	json_builder_begin_object(b);
	add_str(b, "call", a->call);
	add_str(b, "applicant", a->applicant);
	add_int(b, "messages", a->ids->len);
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
	add_str(b, "first_arrival", a->first);
	add_str(b, "last_arrival", a->last);
	add_tristate(b, "on_time", a->on_time);
	json_builder_set_member_name(b, "form_attached");
	json_builder_add_boolean_value(b, a->form);
	add_str(b, "form_signature", a->form_signature);
	struct report_signature rs = { a->form_signature, a->signer, a->form_modified, a->form_untrusted, a->form_reason };
	g_autofree char *words = a->form ? report_signature_text(&rs, NULL) : NULL;
	add_str(b, "form_signature_text", words);
	add_str(b, "signer", a->signer);
	add_str(b, "status", a->status);
	add_decision(b, a->decision, a->decision_note, a->decision_user, a->decision_at);
	json_builder_end_object(b);
}

static const char *yes_no(int v)
{
	return v < 0 ? NULL : v ? "yes" : "no";
}

int ctl_applications(struct store *st, const struct ctl_output *o, const struct ctl_filter *f)
{
	struct table_column cols[] = {
		{ "CALL", 0.2, false, true },	   { "APPLICANT", 0.4, false, true }, { "MSGS", 4, true, false },
		{ "FIRST ARRIVAL", 16, false, false }, { "ON TIME", 7, false, false }, { "FORM", 7, false, false },
		{ "STATUS", 8, false, false },	   { "DECIDED", 7, false, false },
	};
	struct apps *apps = collect_apps(st, f);
	if (!apps) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	GPtrArray *list = apps_finish(apps);
	int r = 0;
	if (o->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < list->len; i++)
			if (filter_app(f, g_ptr_array_index(list, i)))
				add_app(b, g_ptr_array_index(list, i));
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		print_json(o->out, root);
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
			if (!filter_app(f, a))
				continue;
			char msgs[16];
			g_snprintf(msgs, sizeof(msgs), "%u", a->ids->len);
			g_autofree char *first = short_time(a->first);
			/* FORM: "signed" for a valid signature, else yes/no. */
			const char *form = !a->form ? "no"
					   : g_strcmp0(a->form_signature, "valid") == 0   ? "signed"
					   : g_strcmp0(a->form_signature, "invalid") == 0 ? "INVALID"
											  : "yes";
			const char *cells[] = { a->call, a->applicant ? a->applicant : "(not named)", msgs, first,
						yes_no(a->on_time), form, a->status, a->decision };
			table_add(t, cells, 6, status_color(a->status));
		}
		r = table_print(t, o->out);
		table_free(t);
	}
	apps_free(apps);
	return r < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

/* ---- reclassify ---- */

struct reclass_ctx {
	struct store *st;
	const struct config *cfg;
	const struct cms_trust *trust;
	FILE *out;
	JsonBuilder *json; /* the changes as JSON, else lines on OUT */
	bool dry_run;
	size_t seen, changed;
	int error;
};

static bool differs(const char *a, const char *b)
{
	return g_strcmp0(a, b) != 0;
}

/* A record's stored signature facts, per attachment. */
struct stored_sig {
	char *signature, *reason, *validated_at, *time_source;
	int modified;
};

static int collect_sig(const struct store_attachment *a, void *userdata)
{
	GArray *sigs = userdata;
	struct stored_sig g = { g_strdup(a->signature ? a->signature : "none"), g_strdup(a->signature_reason),
				g_strdup(a->signature_validated_at), g_strdup(a->signature_time_source),
				a->modified_after_signing };
	g_array_append_val(sigs, g);
	return 0;
}

static void stored_sig_clear(gpointer p)
{
	struct stored_sig *g = p;
	g_free(g->signature);
	g_free(g->reason);
	g_free(g->validated_at);
	g_free(g->time_source);
}

/* ", signature 2 valid -> invalid (why)" for each attachment whose
 * verdict changed; "" when none did. */
static char *signature_changes(const GArray *was, const struct assessment *a)
{
	GString *g = g_string_new(NULL);
	for (size_t i = 0; i < a->n_atts && i < was->len; i++) {
		const struct stored_sig *o = &g_array_index(was, struct stored_sig, i);
		const struct store_attachment_in *n = &a->atts[i];
		bool modified_now = n->modified_after_signing == 1, modified_was = o->modified == 1;
		if (!differs(o->signature, n->signature) && modified_now == modified_was)
			continue;
		g_autofree char *why = n->signature_reason ? term_clean(n->signature_reason) : NULL;
		g_string_append_printf(g, ", signature %zu %s%s -> %s%s%s%s%s", i + 1, o->signature,
				       modified_was ? " (modified after signing)" : "", n->signature,
				       modified_now ? " (modified after signing)" : "", why ? " (" : "", why ? why : "",
				       why ? ")" : "");
	}
	return g_string_free(g, FALSE);
}

/* Whether the signature facts besides the verdict (reason, validation
 * time) differ: written, not printed. */
static bool signature_facts_differ(const GArray *was, const struct assessment *a, const struct store_message *m)
{
	if (differs(m->smime_reason, a->msg.smime_reason) || differs(m->smime_validated_at, a->msg.smime_validated_at) ||
	    differs(m->smime_time_source, a->msg.smime_time_source))
		return a->msg.smime != NULL;
	for (size_t i = 0; i < a->n_atts && i < was->len; i++) {
		const struct stored_sig *o = &g_array_index(was, struct stored_sig, i);
		const struct store_attachment_in *n = &a->atts[i];
		if (differs(o->reason, n->signature_reason) || differs(o->validated_at, n->signature_validated_at) ||
		    differs(o->time_source, n->signature_time_source))
			return true;
	}
	return false;
}

static int reclassify_one(const struct store_message *m, void *userdata)
{
	struct reclass_ctx *c = userdata;
	GByteArray raw = { .data = (guint8 *)m->raw, .len = (guint)m->raw_size };
	struct assess_input in = {
		.mailbox = m->mailbox,
		.uidvalidity = m->uidvalidity,
		.uid = m->uid,
		.has_arrival = m->has_received,
		.arrival = m->received_epoch,
		.internaldate = m->internaldate,
		.server_size = m->server_size,
		.raw = m->raw_sha256 ? &raw : NULL,
		.body_missing = m->raw_sha256 ? NULL : (m->flags && strstr(m->flags, "gone") ? "gone" : "too-large"),
		.stored = m,
		.trust = c->trust,
	};
	struct assessment a;
	assess_message(c->cfg, &in, &a);
	c->seen++;
	const struct store_message *n = &a.msg;
	g_autoptr(GArray) sigs = g_array_new(FALSE, TRUE, sizeof(struct stored_sig));
	g_array_set_clear_func(sigs, stored_sig_clear);
	if (store_foreach_attachment(c->st, m->id, false, collect_sig, sigs) < 0) {
		c->error = 1;
		assess_clear(&a);
		return 1;
	}
	/* The attachments' verdicts count only when they are the same
	 * attachments (a record without its bytes keeps its own). */
	bool same_atts = a.n_atts == m->n_attachments && sigs->len == a.n_atts;
	g_autofree char *sig_changes = same_atts ? signature_changes(sigs, &a) : g_strdup("");
	bool changed = differs(m->status, n->status) || differs(m->call, n->call) || differs(m->applicant, n->applicant) ||
		       m->on_time != n->on_time || differs(m->reasons, n->reasons) || differs(m->match, n->match) ||
		       differs(m->kind, n->kind) || differs(m->received_at, n->received_at) ||
		       differs(m->smime, n->smime) || differs(m->decided_by, n->decided_by) ||
		       differs(m->deadline_basis, n->deadline_basis) || differs(m->edge_received_at, n->edge_received_at) ||
		       differs(m->edge_why, n->edge_why) || !m->smime || *sig_changes;
	/* New facts behind an unchanged verdict (a database from before
	 * schema 8 has none) are written without a word. */
	bool quietly = !changed && same_atts && signature_facts_differ(sigs, &a, m);
	if (quietly && !c->dry_run &&
	    store_update_classification(c->st, m->id, n, a.atts, a.n_atts) < 0) {
		c->error = 1;
		assess_clear(&a);
		return 1;
	}
	if (changed) {
		c->changed++;
		if (c->json) {
			JsonBuilder *b = c->json;
			json_builder_begin_object(b);
			add_int(b, "id", m->id);
			const char *names[] = { "status", "call", "applicant" };
			const char *was[] = { m->status, m->call, m->applicant };
			const char *now[] = { n->status, n->call, n->applicant };
			for (size_t k = 0; k < G_N_ELEMENTS(names); k++) {
				json_builder_set_member_name(b, names[k]);
				json_builder_begin_object(b);
				add_str(b, "was", was[k]);
				add_str(b, "now", now[k]);
				json_builder_end_object(b);
			}
			add_tristate(b, "on_time", n->on_time);
			add_reasons(b, n->reasons);
			if (n->smime && m->smime && differs(m->smime, n->smime)) {
				json_builder_set_member_name(b, "smime");
				json_builder_begin_object(b);
				add_str(b, "was", m->smime);
				add_str(b, "now", n->smime);
				add_str(b, "reason", n->smime_reason);
				json_builder_end_object(b);
			}
			if (*sig_changes) {
				json_builder_set_member_name(b, "signatures");
				json_builder_begin_array(b);
				for (size_t i = 0; i < a.n_atts; i++) {
					const struct stored_sig *o = &g_array_index(sigs, struct stored_sig, i);
					json_builder_begin_object(b);
					add_int(b, "seq", (int64_t)i + 1);
					add_str(b, "was", o->signature);
					add_str(b, "now", a.atts[i].signature);
					add_tristate(b, "modified_after_signing", a.atts[i].modified_after_signing);
					add_str(b, "reason", a.atts[i].signature_reason);
					json_builder_end_object(b);
				}
				json_builder_end_array(b);
			}
			json_builder_end_object(b);
		} else {
			g_autofree char *old_app = term_clean(m->applicant ? m->applicant : "-");
			g_autofree char *new_app = term_clean(n->applicant ? n->applicant : "-");
			fprintf(c->out, "#%" G_GINT64_FORMAT ": %s -> %s", m->id, m->status, n->status);
			if (differs(m->call, n->call))
				fprintf(c->out, ", call %s -> %s", m->call ? m->call : "-", n->call ? n->call : "-");
			if (differs(m->applicant, n->applicant))
				fprintf(c->out, ", applicant %s -> %s", old_app, new_app);
			if (n->smime && m->smime && differs(m->smime, n->smime)) {
				g_autofree char *why = n->smime_reason ? term_clean(n->smime_reason) : NULL;
				fprintf(c->out, ", S/MIME %s -> %s%s%s%s", m->smime, n->smime, why ? " (" : "", why ? why : "",
					why ? ")" : "");
			}
			fprintf(c->out, "%s  %s\n", sig_changes, n->reasons);
		}
		if (!c->dry_run && store_update_classification(c->st, m->id, n, a.n_atts == m->n_attachments ? a.atts : NULL,
							       a.n_atts) < 0) {
			c->error = 1;
			assess_clear(&a);
			return 1;
		}
	}
	assess_clear(&a);
	return 0;
}

int ctl_reclassify(struct store *st, const struct config *cfg, const struct ctl_output *o, bool dry_run)
{
	FILE *out = o->out;
	struct cms_trust *trust = NULL;
	if (cfg->trust_file && !(trust = cms_trust_load(cfg->trust_file))) {
		fprintf(stderr, "puljectl: %s: [signatures] trust_file: no certificates could be read from \"%s\"\n",
			cfg->path, cfg->trust_file);
		return CTL_EXIT_USAGE;
	}
	g_autoptr(JsonBuilder) b = o->json ? json_builder_new() : NULL;
	struct reclass_ctx c = { st, cfg, trust, out, b, dry_run, 0, 0, 0 };
	if (b) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "changes");
		json_builder_begin_array(b);
	}
	if (!dry_run && store_begin(st) < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	int r = store_foreach_message(st, 0, true, reclassify_one, &c);
	if (r != 0 || c.error || (!dry_run && store_commit(st) < 0)) {
		fprintf(stderr, "puljectl: reclassify: %s; nothing was changed\n", store_errmsg(st));
		if (!dry_run)
			store_rollback(st);
		cms_trust_free(trust);
		return CTL_EXIT_FAILURE;
	}
	cms_trust_free(trust);
	if (b) {
		json_builder_end_array(b);
		add_int(b, "records", (int64_t)c.seen);
		add_int(b, "changed", (int64_t)c.changed);
		json_builder_set_member_name(b, "dry_run");
		json_builder_add_boolean_value(b, dry_run);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		print_json(out, root);
		return CTL_EXIT_OK;
	}
	fprintf(out, "%zu record%s re-classified, %zu changed%s\n", c.seen, c.seen == 1 ? "" : "s", c.changed,
		dry_run ? " (dry run: nothing written)" : "");
	return CTL_EXIT_OK;
}

/* ---- decide ---- */

int ctl_decide(struct store *st, FILE *out, int64_t id, const char *decision, const char *note)
{
	const char *user = getenv("SUDO_USER");
	struct passwd *pw = NULL;
	char uidbuf[32];
	if (!user || !*user) {
		pw = getpwuid(getuid());
		if (pw)
			user = pw->pw_name;
		else {
			g_snprintf(uidbuf, sizeof(uidbuf), "uid %u", (unsigned)getuid());
			user = uidbuf;
		}
	}
	int r = store_decide(st, id, decision, note, user, (int64_t)time(NULL));
	if (r == -ENOENT) {
		fprintf(stderr, "puljectl: no record with id %" G_GINT64_FORMAT "\n", id);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	g_autofree char *u = term_clean(user);
	fprintf(out, "record %" G_GINT64_FORMAT ": %s, recorded for %s (the machine's classification is kept)\n", id,
		decision, u);
	return CTL_EXIT_OK;
}

/* ---- reconcile ---- */

struct recorded_ctx {
	const char *mailbox;
	uint32_t uidvalidity;
	GHashTable *uids; /* uid -> record id */
};

static int collect_recorded(const struct store_message *m, void *userdata)
{
	struct recorded_ctx *c = userdata;
	/* A record puljed itself moved away is not expected on the server. */
	bool moved = m->server_action && !strcmp(m->server_action, "done") && m->server_action_kind &&
		     !strcmp(m->server_action_kind, "move");
	if (!strcmp(m->mailbox, c->mailbox) && m->uidvalidity == c->uidvalidity && !moved)
		g_hash_table_insert(c->uids, GUINT_TO_POINTER(m->uid), g_memdup2(&m->id, sizeof(m->id)));
	return 0;
}

static gint cmp_uint(gconstpointer a, gconstpointer b)
{
	guint x = GPOINTER_TO_UINT(*(gconstpointer const *)a), y = GPOINTER_TO_UINT(*(gconstpointer const *)b);
	return x < y ? -1 : x > y;
}

int ctl_reconcile(struct store *st, const struct config *cfg, const struct ctl_output *oo)
{
	FILE *out = oo->out;
	bool json = oo->json;
	g_autofree char *error = NULL;
	struct imap *im = NULL;
	struct imap_meta *metas = NULL;
	size_t n = 0;
	int code = CTL_EXIT_FAILURE;

	/* As the daemon: no core of a process that holds the password. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (config_check_files(cfg, &error) < 0) {
		fprintf(stderr, "puljectl: %s\n", error);
		return CTL_EXIT_USAGE;
	}
	struct imap_mailbox box;
	int r = account_connect(cfg, ACCOUNT_EXAMINE, NULL, &im, &box, &error);
	if (r == ACCOUNT_E_SECRET) {
		fprintf(stderr, "puljectl: %s\n", error);
		return CTL_EXIT_USAGE;
	}
	if (r != IMAP_OK) {
		fprintf(stderr, "puljectl: reconcile: %s\n", error);
		return CTL_EXIT_FAILURE;
	}
	if (box.exists > 0 && (r = imap_fetch_meta(im, 1, &metas, &n)) != IMAP_OK) {
		fprintf(stderr, "puljectl: reconcile: %s\n", imap_errmsg(im));
		imap_free(im);
		return CTL_EXIT_FAILURE;
	}
	imap_free(im);

	uint32_t uidvalidity = 0, watermark = 0;
	bool known = store_mailbox_get(st, cfg->imap.mailbox, &uidvalidity, &watermark) == 0 &&
		     uidvalidity == box.uidvalidity;
	if (!known)
		watermark = 0;
	struct recorded_ctx rc = { cfg->imap.mailbox, box.uidvalidity,
				   g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free) };
	if (store_foreach_message(st, 0, false, collect_recorded, &rc) < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		goto out;
	}
	GPtrArray *missing = g_ptr_array_new(), *pending = g_ptr_array_new(), *gone = g_ptr_array_new();
	GHashTable *on_server = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (size_t i = 0; i < n; i++) {
		g_hash_table_add(on_server, GUINT_TO_POINTER(metas[i].uid));
		if (g_hash_table_contains(rc.uids, GUINT_TO_POINTER(metas[i].uid)))
			continue;
		g_ptr_array_add(metas[i].uid <= watermark ? missing : pending, GUINT_TO_POINTER(metas[i].uid));
	}
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, rc.uids);
	while (g_hash_table_iter_next(&it, &key, &value))
		if (!g_hash_table_contains(on_server, key))
			g_ptr_array_add(gone, key);
	g_ptr_array_sort(gone, cmp_uint);

	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		add_str(b, "mailbox", cfg->imap.mailbox);
		add_int(b, "uidvalidity", box.uidvalidity);
		add_int(b, "server_messages", (int64_t)n);
		add_int(b, "recorded", g_hash_table_size(rc.uids));
		add_int(b, "watermark", watermark);
		GPtrArray *lists[] = { missing, pending };
		const char *names[] = { "missing", "pending" };
		for (size_t l = 0; l < 2; l++) {
			json_builder_set_member_name(b, names[l]);
			json_builder_begin_array(b);
			for (guint i = 0; i < lists[l]->len; i++)
				json_builder_add_int_value(b, GPOINTER_TO_UINT(g_ptr_array_index(lists[l], i)));
			json_builder_end_array(b);
		}
		json_builder_set_member_name(b, "gone");
		json_builder_begin_array(b);
		for (guint i = 0; i < gone->len; i++) {
			gpointer uid = g_ptr_array_index(gone, i);
			json_builder_begin_object(b);
			add_int(b, "uid", GPOINTER_TO_UINT(uid));
			add_int(b, "id", *(int64_t *)g_hash_table_lookup(rc.uids, uid));
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		print_json(out, root);
	} else {
		g_autofree char *mb = term_clean(cfg->imap.mailbox);
		fprintf(out, "%s, UIDVALIDITY %u: %zu on the server, %u recorded, watermark %u%s\n", mb, box.uidvalidity, n,
			g_hash_table_size(rc.uids), watermark, known ? "" : " (the mailbox is new to this database)");
		fprintf(out, "On the server, not recorded, at or below the watermark: %u%s", missing->len,
			missing->len ? "  UIDs" : "");
		for (guint i = 0; i < missing->len; i++)
			fprintf(out, " %u", GPOINTER_TO_UINT(g_ptr_array_index(missing, i)));
		fprintf(out, "\nOn the server, not polled yet: %u%s", pending->len, pending->len ? "  UIDs" : "");
		for (guint i = 0; i < pending->len && i < 50; i++)
			fprintf(out, " %u", GPOINTER_TO_UINT(g_ptr_array_index(pending, i)));
		fprintf(out, "%s\nRecorded, no longer on the server (moved or deleted by a person): %u%s",
			pending->len > 50 ? " …" : "", gone->len, gone->len ? "  records" : "");
		for (guint i = 0; i < gone->len; i++)
			fprintf(out, " #%" G_GINT64_FORMAT, *(int64_t *)g_hash_table_lookup(rc.uids, g_ptr_array_index(gone, i)));
		fprintf(out, "\n");
	}
	/* A message at or below the watermark that was never recorded would be
	 * a lost application: that is the failure to report. */
	code = missing->len ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
	g_ptr_array_free(missing, TRUE);
	g_ptr_array_free(pending, TRUE);
	g_ptr_array_free(gone, TRUE);
	g_hash_table_destroy(on_server);
out:
	g_hash_table_destroy(rc.uids);
	g_free(metas);
	return code;
}


/* ---- export ---- */

static const char *const message_columns[] = { "id", "call", "applicant", "status", "on_time", "arrival", "from",
					       "subject", "form", "form_signature", "signer", "decision", "duplicate_of",
					       "received_at", "edge_received_at", "decided_by", "form_signature_text" };
static const char *const application_columns[] = { "call", "applicant", "messages", "ids", "status", "on_time",
						   "first_arrival", "last_arrival", "form", "form_signature",
						   "signer", "decision", "form_signature_text" };

struct export_ctx {
	struct store *st;
	const struct ctl_filter *f;
	GPtrArray *rows; /* of GPtrArray (char *, NULL for an empty field), one per row */
};

static int export_message(const struct store_message *m, void *userdata)
{
	struct export_ctx *c = userdata;
	if (!filter_message(c->f, m, true))
		return 0;
	struct form_info f = { 0 };
	int r = store_foreach_attachment(c->st, m->id, false, find_form, &f);
	if (r < 0) {
		form_info_clear(&f);
		return r;
	}
	/* Fields may be NULL, so a row is a GPtrArray, never a GStrv. */
	GPtrArray *row = g_ptr_array_new_full(G_N_ELEMENTS(message_columns), g_free);
	g_ptr_array_add(row, g_strdup_printf("%" G_GINT64_FORMAT, m->id));
	g_ptr_array_add(row, g_strdup(m->call));
	g_ptr_array_add(row, g_strdup(m->applicant));
	g_ptr_array_add(row, g_strdup(m->status));
	g_ptr_array_add(row, g_strdup(yes_no(m->on_time)));
	g_ptr_array_add(row, g_strdup(m->received_at));
	g_ptr_array_add(row, g_strdup(m->from_addr));
	g_ptr_array_add(row, g_strdup(m->subject));
	g_ptr_array_add(row, g_strdup(f.found ? "yes" : "no"));
	char *form_text = form_info_text(&f);
	g_ptr_array_add(row, g_steal_pointer(&f.signature));
	g_ptr_array_add(row, g_steal_pointer(&f.signer));
	g_ptr_array_add(row, g_strdup(m->decision));
	g_ptr_array_add(row, m->duplicate_of ? g_strdup_printf("%" G_GINT64_FORMAT, m->duplicate_of) : NULL);
	g_ptr_array_add(row, g_strdup(m->received_at));
	g_ptr_array_add(row, g_strdup(m->edge_received_at));
	g_ptr_array_add(row, g_strdup(m->decided_by));
	g_ptr_array_add(row, form_text);
	g_assert(row->len == G_N_ELEMENTS(message_columns));
	g_ptr_array_add(c->rows, row);
	form_info_clear(&f); /* what was not moved into the row */
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
	g_ptr_array_add(row, g_strdup(a->status));
	g_ptr_array_add(row, g_strdup(yes_no(a->on_time)));
	g_ptr_array_add(row, g_strdup(a->first));
	g_ptr_array_add(row, g_strdup(a->last));
	g_ptr_array_add(row, g_strdup(a->form ? "yes" : "no"));
	g_ptr_array_add(row, g_strdup(a->form_signature));
	g_ptr_array_add(row, g_strdup(a->signer));
	g_ptr_array_add(row, g_strdup(a->decision));
	struct report_signature rs = { a->form_signature, a->signer, a->form_modified, a->form_untrusted, a->form_reason };
	g_ptr_array_add(row, a->form ? report_signature_text(&rs, NULL) : NULL);
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
				add_str(b, cols[k], g_ptr_array_index(row, k));
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		g_autoptr(JsonGenerator) gen = json_generator_new();
		json_generator_set_root(gen, root);
		json_generator_set_pretty(gen, TRUE);
		g_autofree char *text = json_generator_to_data(gen, NULL);
		g_autofree char *safe = json_terminal_safe(text);
		g_string_append(s, safe);
		g_string_append_c(s, '\n');
		return;
	}
	g_string_append(s, EXPORT_CSV_BOM);
	export_csv_record(s, cols, ncols);
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
	struct export_ctx c = { st, &o->filter, g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref) };
	const char *const *cols = o->messages ? message_columns : application_columns;
	size_t ncols = o->messages ? G_N_ELEMENTS(message_columns) : G_N_ELEMENTS(application_columns);
	int r = 0;
	if (o->messages) {
		r = store_foreach_message(st, 0, false, export_message, &c);
	} else {
		struct apps *apps = collect_apps(st, &o->filter);
		if (!apps) {
			r = -EIO;
		} else {
			GPtrArray *list = apps_finish(apps);
			for (guint i = 0; i < list->len; i++)
				if (filter_app(&o->filter, g_ptr_array_index(list, i)))
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

/* ---- report ---- */

struct report_msg_ctx {
	struct store *st;
	const struct ctl_filter *f;
	const struct config_call *call; /* the call being collected */
	GStringChunk *text;             /* every string of the model */
	GPtrArray *msgs;                /* struct report_message * (owned, atts g_free'd) */
	GHashTable *by_id;              /* id -> struct report_message * */
	int64_t counts[4];
	int64_t unrelated;
	int dirfd;
	const char *dir;
	int error;                      /* an exit status once something failed */
};

static char *chunk(GStringChunk *c, const char *s)
{
	return s ? g_string_chunk_insert(c, s) : NULL;
}

/* Creates (or opens) the directory NAME in DIRFD, never through a link. */
static int subdir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0750) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Writes DATA to a new file NAME (or "NAME (2)" …) in DIRFD; stores the
 * name used in *USED. */
static int write_new(int dirfd, const char *name, const uint8_t *data, size_t len, char **used)
{
	int fd = create_unique(dirfd, name, used);
	if (fd < 0)
		return fd;
	int r = write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, *used, 0);
	return r;
}

struct report_att_ctx {
	struct report_msg_ctx *c;
	int64_t id;
	int dirfd; /* attachments/ID, opened on the first attachment */
	GArray *atts; /* struct report_attachment */
};

static int report_attachment(const struct store_attachment *a, void *userdata)
{
	struct report_att_ctx *ac = userdata;
	struct report_msg_ctx *c = ac->c;
	if (ac->dirfd < 0) {
		int top = subdir(c->dirfd, "attachments");
		if (top < 0)
			return top;
		char name[24];
		g_snprintf(name, sizeof(name), "%" G_GINT64_FORMAT, ac->id);
		ac->dirfd = subdir(top, name);
		close(top);
		if (ac->dirfd < 0)
			return ac->dirfd;
	}
	g_autofree char *fallback = g_strdup_printf("attachment-%d", a->seq);
	g_autofree char *safe = term_safe_filename(a->filename, fallback);
	g_autofree char *used = NULL;
	int r = write_new(ac->dirfd, safe, a->data, (size_t)a->size, &used);
	if (r < 0) {
		fprintf(stderr, "puljectl: report: cannot write attachments/%" G_GINT64_FORMAT "/%s in %s: %s\n", ac->id,
			safe, c->dir, g_strerror(-r));
		return r;
	}
	g_autofree char *escaped = g_uri_escape_string(used, NULL, FALSE);
	g_autofree char *href = g_strdup_printf("attachments/%" G_GINT64_FORMAT "/%s", ac->id, escaped);
	struct report_attachment ra = {
		.filename = chunk(c->text, a->filename),
		.href = chunk(c->text, href),
		.size = a->size,
		.sha256 = chunk(c->text, a->sha256),
		.form = a->form,
		.signature = chunk(c->text, a->signature ? a->signature : "none"),
		.signer = chunk(c->text, a->signer),
		.modified = a->modified_after_signing == 1,
		.untrusted = a->signer_trusted == 0,
		.reason = chunk(c->text, a->signature_reason),
	};
	g_array_append_val(ac->atts, ra);
	return 0;
}

static int report_eml(const struct store_message *m, void *userdata)
{
	struct report_msg_ctx *c = userdata;
	struct report_message *rm = g_hash_table_lookup(c->by_id, &m->id);
	if (!rm || !m->raw)
		return 0;
	int dirfd = subdir(c->dirfd, "messages");
	if (dirfd < 0)
		return dirfd;
	char name[32];
	g_snprintf(name, sizeof(name), "%" G_GINT64_FORMAT ".eml", m->id);
	g_autofree char *used = NULL;
	int r = write_new(dirfd, name, m->raw, m->raw_size, &used);
	close(dirfd);
	if (r < 0) {
		fprintf(stderr, "puljectl: report: cannot write messages/%s in %s: %s\n", name, c->dir, g_strerror(-r));
		return r;
	}
	g_autofree char *href = g_strdup_printf("messages/%s", used);
	rm->eml_href = chunk(c->text, href);
	return 0;
}

static int report_message(const struct store_message *m, void *userdata)
{
	struct report_msg_ctx *c = userdata;
	if (!filter_message(c->f, m, false))
		return 0;
	if (!m->call) {
		if (!g_strcmp0(m->status, "unrelated"))
			c->unrelated++;
		return 0;
	}
	if (strcmp(m->call, c->call->id))
		return 0;
	if (m->duplicate_of)
		return 0;
	unsigned bit = status_bit(m->status);
	for (int i = 0; i < 4; i++)
		if (bit == 1u << i)
			c->counts[i]++;
	struct report_message *rm = g_new0(struct report_message, 1);
	rm->id = m->id;
	rm->received_at = chunk(c->text, m->received_at);
	rm->has_received = m->has_received;
	rm->received = m->received_epoch;
	rm->status = chunk(c->text, m->status);
	rm->from = chunk(c->text, m->from_addr);
	rm->subject = chunk(c->text, m->subject);
	rm->edge = (struct report_edge){ chunk(c->text, m->edge_received_at), rm->received_at,
					 chunk(c->text, m->decided_by), chunk(c->text, m->deadline_basis),
					 chunk(c->text, m->edge_why) };
	rm->smime = (struct report_signature){ .signature = chunk(c->text, m->smime),
					       .reason = chunk(c->text, m->smime_reason) };
	g_ptr_array_add(c->msgs, rm);
	g_hash_table_insert(c->by_id, &rm->id, rm);
	struct report_att_ctx ac = { c, m->id, -1, g_array_new(FALSE, TRUE, sizeof(struct report_attachment)) };
	int r = store_foreach_attachment(c->st, m->id, true, report_attachment, &ac);
	if (ac.dirfd >= 0)
		close(ac.dirfd);
	rm->n_atts = ac.atts->len;
	rm->atts = (struct report_attachment *)(void *)g_array_free(ac.atts, FALSE);
	if (r == -EUCLEAN)
		fprintf(stderr, "puljectl: report: %s\n", store_errmsg(c->st));
	if (r != 0)
		c->error = CTL_EXIT_FAILURE;
	return r;
}

static void report_message_free(gpointer p)
{
	struct report_message *m = p;
	g_free((void *)m->atts);
	g_free(m);
}

/* DIR ready for the report: created, or existing and empty.  Returns an
 * open descriptor or a negative errno (-ENOTEMPTY when not empty). */
static int report_dir(const char *dir)
{
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		int e = errno;
		if (dup_fd >= 0)
			close(dup_fd);
		close(fd);
		return -e;
	}
	struct dirent *e;
	bool empty = true;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	if (!empty) {
		close(fd);
		return -ENOTEMPTY;
	}
	return fd;
}

int ctl_report(struct store *st, const struct config *cfg, FILE *out, const char *dir, const struct ctl_filter *f)
{
	int dirfd = report_dir(dir);
	if (dirfd < 0) {
		fprintf(stderr, "puljectl: report: %s: %s%s\n", dir, g_strerror(-dirfd),
			dirfd == -ENOTEMPTY ? " (give a new or empty directory; nothing is overwritten)" : "");
		return CTL_EXIT_FAILURE;
	}
	int code = CTL_EXIT_OK;
	GStringChunk *text = g_string_chunk_new(4096);
	GArray *calls = g_array_new(FALSE, TRUE, sizeof(struct report_call));
	GPtrArray *keep = g_ptr_array_new_with_free_func(g_free); /* arrays the model points into */
	GPtrArray *ctxs = g_ptr_array_new();
	struct apps *apps = collect_apps(st, f);
	GPtrArray *app_list = apps ? apps_finish(apps) : NULL;
	int64_t unrelated = 0;
	GDateTime *now = NULL;
	char *generated = NULL, *html = NULL, *used = NULL;
	if (!apps) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		code = CTL_EXIT_FAILURE;
		goto out;
	}
	for (size_t i = 0; i < cfg->n_calls; i++) {
		const struct config_call *call = &cfg->calls[i];
		if (f->call && strcmp(call->id, f->call))
			continue;
		struct report_msg_ctx *c = g_new0(struct report_msg_ctx, 1);
		*c = (struct report_msg_ctx){ .st = st, .f = f, .call = call, .text = text,
					      .msgs = g_ptr_array_new_with_free_func(report_message_free),
					      .by_id = g_hash_table_new(g_int64_hash, g_int64_equal), .dirfd = dirfd,
					      .dir = dir };
		g_ptr_array_add(ctxs, c);
		int r = store_foreach_message(st, 0, false, report_message, c);
		/* The raw messages one by one: one in memory at a time. */
		for (guint k = 0; r == 0 && k < c->msgs->len; k++)
			r = store_foreach_message(st, ((struct report_message *)g_ptr_array_index(c->msgs, k))->id, true,
						  report_eml, c);
		if (r != 0 || c->error) {
			if (r < 0 && !c->error)
				fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
			code = CTL_EXIT_FAILURE;
			goto out;
		}
		if (ctxs->len == 1)
			unrelated = c->unrelated;
		/* The applications of this call, their messages in the model. */
		GArray *rapps = g_array_new(FALSE, TRUE, sizeof(struct report_application));
		for (guint k = 0; k < app_list->len; k++) {
			const struct apps_app *a = g_ptr_array_index(app_list, k);
			if (strcmp(a->call, call->id) || !filter_app(f, a))
				continue;
			const struct report_message **ms = g_new0(const struct report_message *, a->ids->len + 1);
			size_t n = 0;
			for (guint j = 0; j < a->ids->len; j++) {
				const struct report_message *m = g_hash_table_lookup(c->by_id, &g_array_index(a->ids, int64_t, j));
				if (m)
					ms[n++] = m;
			}
			g_ptr_array_add(keep, ms);
			struct report_application ra = {
				.applicant = a->applicant, .status = a->status, .on_time = a->on_time,
				.first_arrival = a->first, .form = a->form, .form_signature = a->form_signature,
				.signer = a->signer, .decision = a->decision, .decision_note = a->decision_note,
				.msgs = ms, .n_msgs = n, .form_modified = a->form_modified,
				.form_untrusted = a->form_untrusted, .form_reason = a->form_reason,
			};
			g_array_append_val(rapps, ra);
		}
		g_autofree char *deadline = datetime_format(call->deadline_last + call->grace, call->tz);
		struct report_call rc = {
			.id = call->id, .subject = call->subject, .deadline = chunk(text, deadline),
			.deadline_t = call->deadline_last + call->grace, .timezone = call->timezone,
			.basis_edge = call->basis_edge, .n_apps = rapps->len, .msgs = (const struct report_message *const *)c->msgs->pdata,
			.n_msgs = c->msgs->len,
		};
		memcpy(rc.counts, c->counts, sizeof(rc.counts));
		rc.apps = (const struct report_application *)(void *)g_array_free(rapps, FALSE);
		g_ptr_array_add(keep, (void *)rc.apps);
		g_array_append_val(calls, rc);
	}
	now = g_date_time_new_now_local();
	generated = g_date_time_format(now, "%Y-%m-%d %H:%M");
	struct report model = { generated, (const struct report_call *)(void *)calls->data, calls->len, unrelated };
	html = report_html(&model);
	int r = write_new(dirfd, "index.html", (const uint8_t *)html, strlen(html), &used);
	if (r < 0 || strcmp(used, "index.html")) {
		fprintf(stderr, "puljectl: report: cannot write %s/index.html: %s\n", dir, g_strerror(r < 0 ? -r : EEXIST));
		code = CTL_EXIT_FAILURE;
		goto out;
	}
	size_t n_apps = 0;
	for (guint i = 0; i < calls->len; i++)
		n_apps += g_array_index(calls, struct report_call, i).n_apps;
	fprintf(out, "%s/index.html: %u call%s, %zu application%s\n", dir, calls->len, calls->len == 1 ? "" : "s", n_apps,
		n_apps == 1 ? "" : "s");
out:
	for (guint i = 0; i < ctxs->len; i++) {
		struct report_msg_ctx *c = g_ptr_array_index(ctxs, i);
		g_hash_table_destroy(c->by_id);
		g_ptr_array_free(c->msgs, TRUE);
		g_free(c);
	}
	g_ptr_array_free(ctxs, TRUE);
	g_ptr_array_free(keep, TRUE);
	g_array_free(calls, TRUE);
	apps_free(apps);
	g_string_chunk_free(text);
	if (now)
		g_date_time_unref(now);
	g_free(generated);
	g_free(html);
	g_free(used);
	close(dirfd);
	return code;
}

/* ---- verify ---- */

struct verify_ctx {
	FILE *out;
	JsonBuilder *json; /* the differences as JSON, else lines on OUT */
};

static int verify_difference(const struct store_difference *d, void *userdata)
{
	struct verify_ctx *c = userdata;
	if (c->json) {
		JsonBuilder *b = c->json;
		json_builder_begin_object(b);
		add_str(b, "what", d->what);
		add_int_or_null(b, "id", d->message, d->message > 0);
		add_int_or_null(b, "attachment", d->seq, d->attachment > 0);
		add_int_or_null(b, "attachment_id", d->attachment, d->attachment > 0);
		add_str(b, "why", d->why);
		add_str(b, "expected_sha256", d->expected);
		add_str(b, "actual_sha256", d->actual);
		json_builder_end_object(b);
		return 0;
	}
	g_autofree char *why = term_clean(d->why);
	if (!d->message) {
		fprintf(c->out, "database: %s: %s\n", d->what, why);
		return 0;
	}
	fprintf(c->out, "record %" G_GINT64_FORMAT ": ", d->message);
	if (d->attachment)
		fprintf(c->out, "attachment %d (id %" G_GINT64_FORMAT ")", d->seq, d->attachment);
	else
		fprintf(c->out, "%s", d->what);
	fprintf(c->out, ": %s (recorded sha256 %s, now %s)\n", why, d->expected ? d->expected : "-",
		d->actual ? d->actual : "-");
	return 0;
}

int ctl_verify(struct store *st, const struct ctl_output *o)
{
	g_autoptr(JsonBuilder) b = o->json ? json_builder_new() : NULL;
	struct verify_ctx c = { o->out, b };
	struct store_verify_counts n;
	if (b) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "differences");
		json_builder_begin_array(b);
	}
	if (store_verify(st, verify_difference, &c, &n) < 0) {
		fprintf(stderr, "puljectl: verify: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	if (b) {
		json_builder_end_array(b);
		add_int(b, "messages", n.messages);
		add_int(b, "raw_messages", n.bodies);
		add_int(b, "attachments", n.attachments);
		add_int(b, "bytes", n.bytes);
		json_builder_set_member_name(b, "ok");
		json_builder_add_boolean_value(b, n.differences == 0);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		print_json(o->out, root);
	} else {
		fprintf(o->out,
			"%" G_GINT64_FORMAT " record%s, %" G_GINT64_FORMAT " raw message%s, %" G_GINT64_FORMAT
			" attachment%s, %" G_GINT64_FORMAT " bytes checked: %s",
			n.messages, n.messages == 1 ? "" : "s", n.bodies, n.bodies == 1 ? "" : "s", n.attachments,
			n.attachments == 1 ? "" : "s", n.bytes, n.differences ? "" : "all intact\n");
		if (n.differences)
			fprintf(o->out, "%" G_GINT64_FORMAT " difference%s\n", n.differences,
				n.differences == 1 ? "" : "s");
	}
	return n.differences ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}
