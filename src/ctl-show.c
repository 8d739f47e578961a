/* ctl-show: puljectl show — one record in full. */
#include "ctl-common.h"
#include "report.h"
#include "rules.h"
#include "term.h"

#include <string.h>

/* ---- show ---- */

/* An indented line of the attachment or part lists, wrapped likewise. */
static void show_indented(const struct ctl_show_ctx *c, size_t indent, const char *text)
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
	const struct ctl_show_ctx *c = userdata;
	g_autofree char *head = g_strdup_printf("%d. %s%s", a->seq, a->filename ? a->filename : "(no name)",
						a->form ? "   [the form]" : "");
	show_indented(c, 2, head);
	bool other_source = a->source && strcmp(a->source, "mime");
	g_autofree char *what = g_strdup_printf("%s, %" G_GUINT64_FORMAT " bytes, part %s%s%s", a->content_type,
						a->size, a->part_path ? a->part_path : "-",
						other_source ? " from " : "", other_source ? a->source : "");
	show_indented(c, 5, what);
	g_autofree char *sha = g_strdup_printf("sha256 %s", a->sha256);
	show_indented(c, 5, sha);
	if (a->signature != CMS_NONE) {
		g_autofree char *sig =
			g_strdup_printf("signature %s by %s%s%s%s%s", record_signature_name(a->signature),
					a->signer ? a->signer : "unknown signer",
					a->signed_at ? ", claims signed " : "", a->signed_at ? a->signed_at : "",
					a->covers_whole_file == 0 ? ", content added after signing" : "",
					a->signer_trusted == 1   ? ", signer trusted"
					: a->signer_trusted == 0 ? ", signer NOT trusted"
								 : "");
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
	const struct ctl_show_ctx *c = userdata;
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
	const struct ctl_show_ctx *c = userdata;
	char buf[64];
	g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, m->id);
	ctl_show_field(c, "Record:", buf);
	ctl_show_field(c, "Status:", record_status_name(m->status));
	g_autofree char *why = ctl_why(c->st, c->cfg, m);
	ctl_show_field(c, "Why:", why);
	ctl_show_field(c, "Call:", m->call);
	bool from_sender = m->applicant && m->applicant_source && !strcmp(m->applicant_source, "from");
	g_autofree char *applicant =
		from_sender ? g_strdup_printf("%s (from the sender: the subject names none)", m->applicant) : NULL;
	ctl_show_field(c, "Applicant:", from_sender ? applicant : m->applicant);
	ctl_show_field(c, "On time:", m->on_time < 0 ? "-" : m->on_time ? "yes" : "no");
	if (m->has_delta && m->decided_by) {
		g_autofree char *how = report_describe_delta(m->deadline_delta);
		bool by_date = !strcmp(m->decided_by, "date-header"), by_edge = !strcmp(m->decided_by, "edge");
		bool fell_back = m->deadline_basis && strcmp(m->deadline_basis, m->decided_by);
		bool wanted_edge = m->deadline_basis && !strcmp(m->deadline_basis, "edge");
		g_autofree char *line = g_strdup_printf("%s — decided by %s %s%s", how,
							by_date   ? "the sender's Date:"
							: by_edge ? "the authority's mail server"
								  : "the server's arrival time",
							by_date   ? m->date_header
							: by_edge ? m->edge_received_at
								  : m->received_at,
							!fell_back    ? ""
							: wanted_edge ? " (no edge time; arrival used)"
								      : " (no Date: header; arrival used)");
		ctl_show_field(c, "Deadline:", line);
	}
	struct report_edge edge = { m->edge_received_at, m->received_at, m->decided_by, m->deadline_basis,
				    m->edge_why };
	g_autofree char *edge_line = report_edge_sentence(&edge);
	if (edge_line)
		ctl_show_field(c, "Modtaget:", edge_line);
	if (m->match != RULES_MATCH_NONE) {
		g_autofree char *match =
			g_strdup_printf("%s (score %.2f)", record_match_name(m->match), record_score(m->match_score));
		ctl_show_field(c, "Match:", match);
	}
	ctl_show_field(c, "Kind:", m->has_kind ? record_kind_name(m->kind) : NULL);
	if (m->smime != CMS_NONE) {
		g_autofree char *how = signature_how(m->smime_reason, m->smime_validated_at, m->smime_time_source, -1);
		g_autofree char *line = g_strdup_printf("%s — %s", record_signature_name(m->smime), how);
		ctl_show_field(c, "S/MIME:", line);
	}
	ctl_show_field(c, "Reasons:", m->reasons);
	if (m->decision) {
		struct ctl_decision latest = { 0,
					       m->id,
					       (char *)m->decision,
					       (char *)m->decision_note,
					       (char *)m->decision_user,
					       m->decision_at };
		g_autofree char *d = ctl_decision_text(&latest);
		ctl_show_field(c, "Decision:", d);
	}
	if (m->flags)
		ctl_show_field(c, "Flags:", m->flags);
	if (m->duplicate_of) {
		g_snprintf(buf, sizeof(buf), "record %" G_GINT64_FORMAT " (same raw bytes)", m->duplicate_of);
		ctl_show_field(c, "Duplicate of:", buf);
	}
	ctl_show_field(c, "Subject:", m->subject);
	g_autofree char *from = m->from_name
					? g_strdup_printf("%s <%s>", m->from_name, m->from_addr ? m->from_addr : "")
					: g_strdup(m->from_addr);
	ctl_show_field(c, "From:", from);
	ctl_show_field(c, "Message-ID:", m->message_id);
	ctl_show_field(c, "Arrived:", m->received_at);
	ctl_show_field(c, "INTERNALDATE:", m->internaldate);
	ctl_show_field(c, "Received:", m->received_header);
	ctl_show_field(c, "Edge:", m->edge_received_at);
	ctl_show_field(c, "Date header:", m->date_header);
	g_autofree char *where = g_strdup_printf("%s, UIDVALIDITY %u, UID %u", m->mailbox, m->uidvalidity, m->uid);
	ctl_show_field(c, "Mailbox:", where);
	if (m->prior_keys) {
		g_autofree char *prior =
			g_strdup_printf("%s (UIDVALIDITY:UID before the mailbox was recreated)", m->prior_keys);
		ctl_show_field(c, "Earlier keys:", prior);
	}
	g_autofree char *size =
		m->raw_sha256 ? g_strdup_printf("%zu bytes, sha256 %s", m->raw_size, m->raw_sha256)
			      : g_strdup_printf("not stored (server size %" G_GUINT64_FORMAT " bytes)", m->server_size);
	ctl_show_field(c, "Raw message:", size);
	g_autofree char *rec = ctl_human_time(m->recorded_at);
	ctl_show_field(c, "Recorded:", rec);
	if (m->server_action) {
		g_autofree char *at = ctl_human_time(m->server_action_at);
		bool move = m->server_action_kind && !strcmp(m->server_action_kind, "move");
		g_autofree char *action =
			!strcmp(m->server_action, "done")
				? g_strdup_printf("%s %s at %s", move ? "moved to" : "flagged", m->server_action_target,
						  at)
				: g_strdup("pending (recorded; the server action is retried at every poll)");
		ctl_show_field(c, "On server:", action);
	}
	g_autofree char *receipt = c->st ? ctl_receipt_line(c->st, m->id) : NULL;
	if (receipt)
		ctl_show_field(c, "Receipt:", receipt);
	fprintf(c->out, "%-*s%zu\n", CTL_SHOW_LABEL, "Attachments:", m->n_attachments);
	return 0;
}

/* Every decision on the record, oldest first, the latest last. */
static int show_decisions(struct store *st, const struct ctl_show_ctx *c, int64_t id)
{
	g_autoptr(GArray) ds = NULL;
	int r = ctl_decisions(st, &id, 1, &ds);
	if (r < 0 || ds->len == 0)
		return r;
	fprintf(c->out, "Decisions:\n");
	for (guint i = 0; i < ds->len; i++) {
		g_autofree char *d = ctl_decision_text(&g_array_index(ds, struct ctl_decision, i));
		g_autofree char *line = g_strdup_printf("%u. %s", i + 1, d);
		g_autofree char *v = term_wrap(line, c->width, 5);
		fprintf(c->out, "  %s\n", v);
	}
	return 0;
}

int ctl_show(struct store *st, const struct ctl_output *o, int64_t id)
{
	FILE *out = o->out;
	bool json = o->json;
	int r;
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		struct ctl_json_ctx c = { .st = st, .cfg = o->cfg, .b = b, .detail = true };
		r = store_foreach_message(st, id, false, ctl_json_add_message, &c);
		g_autoptr(JsonNode) root = r == 0 ? json_builder_get_root(b) : NULL;
		if (root)
			ctl_json_print(out, root);
	} else {
		struct ctl_show_ctx c = { .out = out,
					  .width = o->width > 40 ? (size_t)o->width : 40,
					  .st = st,
					  .cfg = o->cfg };
		r = store_foreach_message(st, id, false, show_human, &c);
		if (r == 0)
			r = store_foreach_attachment(st, id, false, show_attachment, &c);
		if (r == 0) {
			fprintf(out, "Parts:\n");
			r = store_foreach_part(st, id, show_part, &c);
		}
		if (r == 0)
			r = show_decisions(st, &c, id);
	}
	return ctl_record_exit(st, id, r);
}
