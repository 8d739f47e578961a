/* ctl-json: the commands' JSON — helpers, and one record in full. */
#include "ctl-common.h"
#include "term.h"

#include <math.h>
#include <string.h>

/* TEXT (JSON) with every character a terminal must not see raw written
 * as a \\u escape: the same JSON data, safe to print. */
char *ctl_json_terminal_safe(const char *text)
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

void ctl_json_print(FILE *out, JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_indent(gen, 2);
	json_generator_set_root(gen, node);
	g_autofree char *text = json_generator_to_data(gen, NULL);
	g_autofree char *safe = ctl_json_terminal_safe(text);
	fprintf(out, "%s\n", safe);
}

void ctl_json_add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

void ctl_json_add_int(JsonBuilder *b, const char *name, int64_t value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

void ctl_json_add_int_or_null(JsonBuilder *b, const char *name, int64_t value, bool present)
{
	json_builder_set_member_name(b, name);
	if (present)
		json_builder_add_int_value(b, value);
	else
		json_builder_add_null_value(b);
}

void ctl_json_add_tristate(JsonBuilder *b, const char *name, int v)
{
	json_builder_set_member_name(b, name);
	if (v < 0)
		json_builder_add_null_value(b);
	else
		json_builder_add_boolean_value(b, v);
}

static int add_attachment(const struct store_attachment *a, void *userdata)
{
	struct ctl_json_ctx *c = userdata;
	JsonBuilder *b = c->b;
	json_builder_begin_object(b);
	ctl_json_add_str(b, "filename", a->filename);
	ctl_json_add_str(b, "content_type", a->content_type);
	ctl_json_add_int(b, "size", (int64_t)a->size);
	ctl_json_add_str(b, "sha256", a->sha256);
	ctl_json_add_str(b, "part", a->part_path);
	ctl_json_add_str(b, "source", a->source ? a->source : "mime");
	ctl_json_add_str(b, "signature", record_signature_name(a->signature));
	ctl_json_add_str(b, "signer", a->signer);
	ctl_json_add_str(b, "signed_at", a->signed_at);
	ctl_json_add_tristate(b, "signature_covers_whole_file", a->covers_whole_file);
	ctl_json_add_tristate(b, "signature_modified_after_signing", a->modified_after_signing);
	ctl_json_add_str(b, "signature_reason", a->signature_reason);
	ctl_json_add_str(b, "signature_validated_at", a->signature_validated_at);
	ctl_json_add_str(b, "signature_time_source", a->signature_time_source);
	ctl_json_add_tristate(b, "signer_trusted", a->signer_trusted);
	json_builder_set_member_name(b, "form");
	json_builder_add_boolean_value(b, a->form);
	json_builder_end_object(b);
	return 0;
}

static int add_part(const struct store_part *p, void *userdata)
{
	JsonBuilder *b = userdata;
	json_builder_begin_object(b);
	ctl_json_add_str(b, "part", p->part_path);
	ctl_json_add_str(b, "content_type", p->content_type);
	ctl_json_add_str(b, "filename", p->filename);
	ctl_json_add_int(b, "size", (int64_t)p->size);
	ctl_json_add_str(b, "action", p->action);
	ctl_json_add_str(b, "why", p->why);
	json_builder_end_object(b);
	return 0;
}

void ctl_json_add_reasons(JsonBuilder *b, const char *reasons)
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
void ctl_json_add_decision(JsonBuilder *b, const char *decision, const char *note, const char *user, int64_t at)
{
	json_builder_set_member_name(b, "decision");
	if (!decision) {
		json_builder_add_null_value(b);
		return;
	}
	json_builder_begin_object(b);
	ctl_json_add_str(b, "decision", decision);
	ctl_json_add_str(b, "note", note);
	ctl_json_add_str(b, "user", user);
	g_autofree char *when = ctl_iso_local(at);
	ctl_json_add_str(b, "at", when);
	json_builder_end_object(b);
}

void ctl_json_add_decisions(JsonBuilder *b, const GArray *decisions)
{
	json_builder_set_member_name(b, "decisions");
	json_builder_begin_array(b);
	for (guint i = 0; i < decisions->len; i++) {
		const struct ctl_decision *d = &g_array_index(decisions, struct ctl_decision, i);
		json_builder_begin_object(b);
		ctl_json_add_int(b, "record", d->record);
		ctl_json_add_str(b, "decision", d->decision);
		ctl_json_add_str(b, "note", d->note);
		ctl_json_add_str(b, "user", d->user);
		g_autofree char *when = ctl_iso_local(d->at);
		ctl_json_add_str(b, "at", when);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

int ctl_json_add_message(const struct store_message *m, void *userdata)
{
	struct ctl_json_ctx *c = userdata;
	JsonBuilder *b = c->b;
	json_builder_begin_object(b);
	ctl_json_add_int(b, "id", m->id);
	ctl_json_add_str(b, "mailbox", m->mailbox);
	ctl_json_add_int(b, "uidvalidity", m->uidvalidity);
	ctl_json_add_int(b, "uid", m->uid);
	ctl_json_add_str(b, "message_id", m->message_id);
	ctl_json_add_str(b, "from", m->from_addr);
	ctl_json_add_str(b, "from_name", m->from_name);
	ctl_json_add_str(b, "subject", m->subject);
	ctl_json_add_str(b, "received_at", m->received_at);
	ctl_json_add_str(b, "date_header", m->date_header);
	ctl_json_add_str(b, "call", m->call);
	ctl_json_add_str(b, "applicant", m->applicant);
	json_builder_set_member_name(b, "on_time");
	if (m->on_time < 0)
		json_builder_add_null_value(b);
	else
		json_builder_add_boolean_value(b, m->on_time);
	ctl_json_add_str(b, "status", record_status_name(m->status));
	ctl_json_add_int_or_null(b, "duplicate_of", m->duplicate_of, m->duplicate_of != 0);
	ctl_json_add_reasons(b, m->reasons);
	g_autofree char *why = ctl_why(c->st, c->cfg, m);
	ctl_json_add_str(b, "why", why);
	ctl_json_add_str(b, "flags", m->flags);
	ctl_json_add_int(b, "size", (int64_t)(m->raw_sha256 ? m->raw_size : m->server_size));
	ctl_json_add_str(b, "sha256", m->raw_sha256);
	ctl_json_add_str(b, "match", record_match_name(m->match));
	json_builder_set_member_name(b, "match_score");
	if (m->match_score >= 0)
		json_builder_add_double_value(b, record_score(m->match_score));
	else
		json_builder_add_null_value(b);
	ctl_json_add_str(b, "kind", m->has_kind ? record_kind_name(m->kind) : NULL);
	ctl_json_add_str(b, "applicant_source", m->applicant_source);
	ctl_json_add_str(b, "received_header", m->received_header);
	ctl_json_add_str(b, "deadline_basis", m->deadline_basis);
	ctl_json_add_str(b, "decided_by", m->decided_by);
	ctl_json_add_str(b, "edge_received_at", m->edge_received_at);
	ctl_json_add_str(b, "edge_why", m->edge_why);
	ctl_json_add_int_or_null(b, "deadline_delta", m->deadline_delta, m->has_delta);
	ctl_json_add_str(b, "smime", record_signature_name(m->smime));
	ctl_json_add_str(b, "smime_reason", m->smime_reason);
	ctl_json_add_str(b, "smime_validated_at", m->smime_validated_at);
	ctl_json_add_str(b, "smime_time_source", m->smime_time_source);
	ctl_json_add_str(b, "server_action", m->server_action);
	ctl_json_add_decision(b, m->decision, m->decision_note, m->decision_user, m->decision_at);
	g_autoptr(GArray) decisions = NULL;
	int r = ctl_decisions(c->st, &m->id, 1, &decisions);
	if (r < 0) {
		json_builder_end_object(b);
		return r;
	}
	ctl_json_add_decisions(b, decisions);
	if (c->detail) {
		ctl_json_add_str(b, "internaldate", m->internaldate);
		ctl_json_add_int(b, "server_size", (int64_t)m->server_size);
		ctl_json_add_int(b, "raw_size", (int64_t)m->raw_size);
		g_autofree char *rec = ctl_iso_local(m->recorded_at);
		ctl_json_add_str(b, "recorded_at", rec);
		ctl_json_add_str(b, "prior_keys", m->prior_keys);
		ctl_json_add_str(b, "server_action_kind", m->server_action_kind);
		ctl_json_add_str(b, "server_action_target", m->server_action_target);
		g_autofree char *done = m->server_action_at ? ctl_iso_local(m->server_action_at) : NULL;
		ctl_json_add_str(b, "server_action_at", done);
	}
	if (c->detail && (r = ctl_receipt_json(b, c->st, m->id)) < 0) {
		json_builder_end_object(b);
		return r;
	}
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_array(b);
	r = store_foreach_attachment(c->st, m->id, false, add_attachment, c);
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
