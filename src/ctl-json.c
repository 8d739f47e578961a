/* ctl-json: the commands' JSON — helpers, and one record in full. */
#include "ctl-common.h"
#include "term.h"

#include <math.h>
#include <string.h>

/* TEXT (JSON) with every character a terminal must not see raw written
 * as a \\u escape: the same JSON data, safe to print. */
char *json_terminal_safe(const char *text)
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

void print_json(FILE *out, JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_indent(gen, 2);
	json_generator_set_root(gen, node);
	g_autofree char *text = json_generator_to_data(gen, NULL);
	g_autofree char *safe = json_terminal_safe(text);
	fprintf(out, "%s\n", safe);
}

void add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

void add_int(JsonBuilder *b, const char *name, int64_t value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

void add_int_or_null(JsonBuilder *b, const char *name, int64_t value, bool present)
{
	json_builder_set_member_name(b, name);
	if (present)
		json_builder_add_int_value(b, value);
	else
		json_builder_add_null_value(b);
}

void add_tristate(JsonBuilder *b, const char *name, int v)
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

void add_reasons(JsonBuilder *b, const char *reasons)
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
void add_decision(JsonBuilder *b, const char *decision, const char *note, const char *user, int64_t at)
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

int add_message(const struct store_message *m, void *userdata)
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
