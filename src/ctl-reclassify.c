/* ctl-reclassify: puljectl reclassify — the rules again over stored mail. */
#include "ctl-common.h"
#include "assess.h"
#include "term.h"

#include <string.h>

/* ---- reclassify ---- */

struct reclass_ctx {
	struct store *st;
	const struct config *cfg;
	const struct cms_trust *trust;
	FILE *out;
	JsonBuilder *json; /* the changes as JSON, else lines on OUT */
	bool dry_run;
	size_t seen, changed, updated; /* records read; printed; written */
	int error;
};

static bool differs(const char *a, const char *b)
{
	return g_strcmp0(a, b) != 0;
}

/* Whether the kinds differ, a kind not recorded being one of its own. */
static bool kind_differs(const struct store_message *a, const struct store_message *b)
{
	return a->has_kind != b->has_kind || (a->has_kind && a->kind != b->kind);
}

/* Whether the S/MIME verdicts differ, not verified being one of its own. */
static bool smime_differs(const struct store_message *a, const struct store_message *b)
{
	return a->has_smime != b->has_smime || (a->has_smime && a->smime != b->smime);
}

/* A record's stored signature facts, per attachment. */
struct stored_sig {
	enum cms_status signature;
	char *reason, *validated_at, *time_source;
	int modified;
};

static int collect_sig(const struct store_attachment *a, void *userdata)
{
	GArray *sigs = userdata;
	struct stored_sig g = { a->signature, g_strdup(a->signature_reason), g_strdup(a->signature_validated_at),
				g_strdup(a->signature_time_source), a->modified_after_signing };
	g_array_append_val(sigs, g);
	return 0;
}

static void stored_sig_clear(gpointer p)
{
	struct stored_sig *g = p;
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
		if (o->signature == n->signature && modified_now == modified_was)
			continue;
		g_autofree char *why = n->signature_reason ? term_clean(n->signature_reason) : NULL;
		g_string_append_printf(
			g, ", signature %zu %s%s -> %s%s%s%s%s", i + 1, record_signature_name(o->signature),
			modified_was ? " (modified after signing)" : "", record_signature_name(n->signature),
			modified_now ? " (modified after signing)" : "", why ? " (" : "", why ? why : "",
			why ? ")" : "");
	}
	return g_string_free(g, FALSE);
}

/* Whether the signature facts besides the verdict (reason, validation
 * time) differ: written, not printed. */
static bool signature_facts_differ(const GArray *was, const struct assessment *a, const struct store_message *m)
{
	if (differs(m->smime_reason, a->msg.smime_reason) ||
	    differs(m->smime_validated_at, a->msg.smime_validated_at) ||
	    differs(m->smime_time_source, a->msg.smime_time_source))
		return a->msg.has_smime;
	for (size_t i = 0; i < a->n_atts && i < was->len; i++) {
		const struct stored_sig *o = &g_array_index(was, struct stored_sig, i);
		const struct store_attachment_in *n = &a->atts[i];
		if (differs(o->reason, n->signature_reason) || differs(o->validated_at, n->signature_validated_at) ||
		    differs(o->time_source, n->signature_time_source))
			return true;
	}
	return false;
}

/* Whether the form (the first form attachment) carries a valid signature
 * by a signer not trusted: the caveat in a record's why. */
static bool form_signer_untrusted(const struct store_attachment_in *atts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (atts[i].form)
			return atts[i].signature == CMS_VALID && atts[i].signer_trusted == 0;
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
		.now = (int64_t)time(NULL),
	};
	g_auto(Assessment) a = { 0 };
	assess_message(c->cfg, &in, &a);
	c->seen++;
	const struct store_message *n = &a.msg;
	g_autoptr(GArray) sigs = g_array_new(FALSE, TRUE, sizeof(struct stored_sig));
	g_array_set_clear_func(sigs, stored_sig_clear);
	if (store_foreach_attachment(c->st, m->id, false, collect_sig, sigs) < 0) {
		c->error = 1;
		return 1;
	}
	/* The attachments' verdicts count only when they are the same
	 * attachments (a record without its bytes keeps its own). */
	bool same_atts = a.n_atts == m->n_attachments && sigs->len == a.n_atts;
	g_autofree char *sig_changes = same_atts ? signature_changes(sigs, &a) : g_strdup("");
	bool replace_atts = a.n_atts == m->n_attachments;
	g_auto(CtlFormInfo) form = { 0 };
	if (store_foreach_attachment(c->st, m->id, false, ctl_find_form, &form) < 0) {
		c->error = 1;
		return 1;
	}
	bool was_untrusted = form.found && form.signature == CMS_VALID && form.untrusted;
	g_autofree char *old_why = ctl_why_signer(c->cfg, m, was_untrusted);
	g_autofree char *new_why =
		ctl_why_signer(c->cfg, n, replace_atts ? form_signer_untrusted(a.atts, a.n_atts) : was_untrusted);
	bool smime_changed = n->has_smime && m->has_smime && m->smime != n->smime;
	/* What a caseworker sees changed: printed.  Anything else that
	 * differs (reasons, times, the applicant) is written quietly. */
	bool shown = m->status != n->status || smime_changed || *sig_changes || differs(old_why, new_why);
	bool changed = shown || differs(m->call, n->call) || differs(m->applicant, n->applicant) ||
		       m->on_time != n->on_time || differs(m->reasons, n->reasons) || m->match != n->match ||
		       kind_differs(m, n) || differs(m->received_at, n->received_at) || smime_differs(m, n) ||
		       differs(m->decided_by, n->decided_by) || differs(m->deadline_basis, n->deadline_basis) ||
		       differs(m->edge_received_at, n->edge_received_at) || differs(m->edge_why, n->edge_why) ||
		       !m->has_smime;
	/* New facts behind an unchanged verdict (a database from before
	 * schema 8 has none) are written without a word. */
	bool quietly = !changed && same_atts && signature_facts_differ(sigs, &a, m);
	if (quietly)
		c->updated++;
	if (quietly && !c->dry_run && store_update_classification(c->st, m->id, n, a.atts, a.n_atts) < 0) {
		c->error = 1;
		return 1;
	}
	if (changed)
		c->updated++;
	if (shown) {
		c->changed++;
		if (c->json) {
			JsonBuilder *b = c->json;
			json_builder_begin_object(b);
			ctl_json_add_int(b, "id", m->id);
			const char *names[] = { "status", "call", "applicant" };
			const char *was[] = { record_status_name(m->status), m->call, m->applicant };
			const char *now[] = { record_status_name(n->status), n->call, n->applicant };
			for (size_t k = 0; k < G_N_ELEMENTS(names); k++) {
				json_builder_set_member_name(b, names[k]);
				json_builder_begin_object(b);
				ctl_json_add_str(b, "was", was[k]);
				ctl_json_add_str(b, "now", now[k]);
				json_builder_end_object(b);
			}
			json_builder_set_member_name(b, "why");
			json_builder_begin_object(b);
			ctl_json_add_str(b, "was", old_why);
			ctl_json_add_str(b, "now", new_why);
			json_builder_end_object(b);
			ctl_json_add_tristate(b, "on_time", n->on_time);
			ctl_json_add_reasons(b, n->reasons);
			if (smime_changed) {
				json_builder_set_member_name(b, "smime");
				json_builder_begin_object(b);
				ctl_json_add_str(b, "was", record_signature_name(m->smime));
				ctl_json_add_str(b, "now", record_signature_name(n->smime));
				ctl_json_add_str(b, "reason", n->smime_reason);
				json_builder_end_object(b);
			}
			if (*sig_changes) {
				json_builder_set_member_name(b, "signatures");
				json_builder_begin_array(b);
				for (size_t i = 0; i < a.n_atts; i++) {
					const struct stored_sig *o = &g_array_index(sigs, struct stored_sig, i);
					json_builder_begin_object(b);
					ctl_json_add_int(b, "seq", (int64_t)i + 1);
					ctl_json_add_str(b, "was", record_signature_name(o->signature));
					ctl_json_add_str(b, "now", record_signature_name(a.atts[i].signature));
					ctl_json_add_tristate(b, "modified_after_signing",
							      a.atts[i].modified_after_signing);
					ctl_json_add_str(b, "reason", a.atts[i].signature_reason);
					json_builder_end_object(b);
				}
				json_builder_end_array(b);
			}
			json_builder_end_object(b);
		} else {
			g_autofree char *old_app = term_clean(m->applicant ? m->applicant : "-");
			g_autofree char *new_app = term_clean(n->applicant ? n->applicant : "-");
			fprintf(c->out, "#%" G_GINT64_FORMAT ": %s -> %s", m->id, record_status_name(m->status),
				record_status_name(n->status));
			if (differs(m->call, n->call))
				fprintf(c->out, ", call %s -> %s", m->call ? m->call : "-", n->call ? n->call : "-");
			if (differs(m->applicant, n->applicant))
				fprintf(c->out, ", applicant %s -> %s", old_app, new_app);
			if (smime_changed) {
				g_autofree char *why = n->smime_reason ? term_clean(n->smime_reason) : NULL;
				fprintf(c->out, ", S/MIME %s -> %s%s%s%s", record_signature_name(m->smime),
					record_signature_name(n->smime), why ? " (" : "", why ? why : "",
					why ? ")" : "");
			}
			g_autofree char *why = new_why ? term_clean(new_why) : NULL;
			fprintf(c->out, "%s  %s%s%s\n", sig_changes, n->reasons, why ? "  " : "", why ? why : "");
		}
	}
	if (changed) {
		if (!c->dry_run &&
		    store_update_classification(c->st, m->id, n, replace_atts ? a.atts : NULL, a.n_atts) < 0) {
			c->error = 1;
			return 1;
		}
	}
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
	struct reclass_ctx c = { st, cfg, trust, out, b, dry_run, 0, 0, 0, 0 };
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
		ctl_json_add_int(b, "records", (int64_t)c.seen);
		ctl_json_add_int(b, "changed", (int64_t)c.changed);
		ctl_json_add_int(b, "updated", (int64_t)c.updated);
		json_builder_set_member_name(b, "dry_run");
		json_builder_add_boolean_value(b, dry_run);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		ctl_json_print(out, root);
		return CTL_EXIT_OK;
	}
	fprintf(out, "%zu record%s re-classified, %zu changed", c.seen, c.seen == 1 ? "" : "s", c.changed);
	if (c.updated > c.changed)
		fprintf(out, ", %zu more with details updated", c.updated - c.changed);
	fprintf(out, "%s\n", dry_run ? " (dry run: nothing written)" : "");
	return CTL_EXIT_OK;
}
