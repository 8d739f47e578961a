#include "assess.h"
#include "datetime.h"
#include "mime.h"
#include "received.h"
#include "rules.h"

#include <string.h>
#include <time.h>

/* A bounce that is not multipart/report: From mailer-daemon@ or
 * postmaster@ (any case), or an X-Failed-Recipients header. */
static bool from_bounce_address(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	size_t n = at ? (size_t)(at - addr) : addr ? strlen(addr) : 0;
	return addr && ((n == 13 && !g_ascii_strncasecmp(addr, "mailer-daemon", n)) ||
			(n == 10 && !g_ascii_strncasecmp(addr, "postmaster", n)));
}

/* From a bulk-mail service's own domain (or one below it): the sending
 * infrastructure of newsletters, never of a person's mail.  Local parts
 * such as noreply@ are not enough: a form portal may send from one. */
static bool from_bulk_service(const char *addr)
{
	static const char *const domains[] = {
		"mcsv.net",         "mcdlv.net",        "rsgsv.net",
		"mailchimpapp.net", "mandrillapp.com",  "sendgrid.net",
		"mailgun.org",      "amazonses.com",    "sparkpostmail.com",
		"createsend.com",   "cmail19.com",      "cmail20.com",
		"exacttarget.com",  "hubspotemail.net", "heyloyalty.com",
		"ubivox.com",       "mailjet.com",      NULL,
	};
	const char *at = addr ? strrchr(addr, '@') : NULL;
	if (!at)
		return false;
	const char *dom = at + 1;
	size_t n = strlen(dom);
	for (size_t i = 0; domains[i]; i++) {
		size_t k = strlen(domains[i]);
		if (n >= k && !g_ascii_strcasecmp(dom + n - k, domains[i]) && (n == k || dom[n - k - 1] == '.'))
			return true;
	}
	return false;
}

static unsigned hints_from_facts(unsigned facts, const char *from_addr)
{
	unsigned h = 0;
	if (from_bulk_service(from_addr))
		h |= RULES_HINT_BULK_SENDER;
	if ((facts & MIME_FACT_FAILED_RECIPIENTS) || from_bounce_address(from_addr))
		h |= RULES_HINT_BOUNCE;
	if (facts & MIME_FACT_CALENDAR)
		h |= RULES_HINT_CALENDAR;
	if (facts & MIME_FACT_AUTO_SUBMITTED)
		h |= RULES_HINT_AUTO_SUBMITTED;
	if (facts & MIME_FACT_AUTOREPLY)
		h |= RULES_HINT_AUTOREPLY;
	if (facts & MIME_FACT_PRECEDENCE_AUTO)
		h |= RULES_HINT_PRECEDENCE_AUTO;
	if (facts & MIME_FACT_PRECEDENCE_BULK)
		h |= RULES_HINT_PRECEDENCE_BULK;
	if (facts & MIME_FACT_LIST)
		h |= RULES_HINT_LIST;
	if (facts & MIME_FACT_REPORT)
		h |= RULES_HINT_REPORT;
	return h;
}

/* The rules' reasons, then the N_EXTRA of EXTRA that are not NULL. */
static char *reasons_json(const struct rules_result *res, const char *const *extra, size_t n_extra)
{
	GString *s = g_string_new("[");
	for (size_t i = 0; i < res->n_reasons; i++)
		g_string_append_printf(s, "%s\"%s\"", i ? "," : "", res->reasons[i]); /* our own ASCII tokens */
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i])
			g_string_append_printf(s, "%s\"%s\"", s->len > 1 ? "," : "", extra[i]);
	g_string_append_c(s, ']');
	return g_string_free(s, FALSE);
}

static enum rules_basis call_basis(const struct config_call *c)
{
	return c->basis_edge ? RULES_BASIS_EDGE : c->basis_date_header ? RULES_BASIS_DATE_HEADER : RULES_BASIS_ARRIVAL;
}

/* The edge arrival from MM's Received: headers; without them (a record
 * reclassified without its bytes) what was recorded before. */
static void find_edge(const struct config *cfg, const struct assess_input *in, const struct mime_message *mm,
		      struct received_edge *e, const char **why)
{
	*why = NULL;
	memset(e, 0, sizeof(*e));
	e->why = RECEIVED_NO_RELAYS;
	if (!cfg->trusted_relays)
		return;
	if (mm) {
		received_edge((const char *const *)mm->received_headers, mm->n_received_headers,
			      (const char *const *)cfg->trusted_relays, in->has_arrival, in->arrival,
			      cfg->max_edge_skew, e);
		*why = received_why_name(e->why);
	} else if (in->stored && (in->stored->has_edge_received || in->stored->edge_why)) {
		e->why = in->stored->has_edge_received ? RECEIVED_EDGE : RECEIVED_BAD_DATE;
		e->when = in->stored->edge_received_epoch;
		*why = in->stored->edge_why;
	}
}

/* The last second of year 9999: GLib's dates end there. */
#define ARRIVAL_MAX INT64_C(253402300799)

void assess_message(const struct config *cfg, const struct assess_input *in, struct assessment *a)
{
	int64_t now = in->now;
	/* An INTERNALDATE before 1970 or past 9999 (a server's year 0000) is
	 * no time a message arrived: no arrival, and a reason that says so. */
	bool has_arrival = in->has_arrival && in->arrival >= 0 && in->arrival <= ARRIVAL_MAX;
	bool bad_arrival = in->has_arrival && !has_arrival;
	/* Signatures are judged at the arrival (ETSI EN 319 102-1: the
	 * earliest proof of existence, unless a timestamp has an earlier
	 * one); NOW only notes a certificate that has expired since. */
	struct mime_limits lim = { cfg->limits.max_mime_depth,
				   cfg->limits.max_mime_parts,
				   in->trust,
				   in->clock,
				   in->started + (int64_t)cfg->limits.max_message_time * 1000000,
				   (size_t)cfg->limits.max_header_field,
				   cfg->limits.max_header_fields,
				   cfg->limits.max_header_fields_total,
				   cfg->limits.max_header_bytes_total,
				   in->stop,
				   { has_arrival, in->arrival, CMS_TIME_ARRIVAL, true, now } };
	const struct store_message *old = in->stored;
	unsigned in_flags = 0;

	memset(a, 0, sizeof(*a));
	/* An empty body (a server may send a {0} literal) is parsed too: it
	 * comes out flagged no-headers, never unexamined. */
	bool spooled = !in->body_missing && in->spooled;
	uint64_t spooled_len = 0;
	if (spooled) {
		int hashed = 0;
		if (in->raw_sha256) {
			g_strlcpy(a->raw_sha256, in->raw_sha256, sizeof(a->raw_sha256));
			spooled_len = in->raw_len;
		} else {
			hashed = mime_sha256_fd(in->raw_fd, &spooled_len, a->raw_sha256);
		}
		if (hashed < 0 || (!in->unparsed && mime_parse_fd(in->raw_fd, &lim, &a->mime) < 0)) {
			/* The spool cannot be read back: say so rather than guess. */
			g_clear_pointer(&a->mime, mime_message_free);
			GByteArray empty = { 0 };
			mime_parse(&empty, &lim, &a->mime);
			a->mime->flags |= MIME_MALFORMED;
		}
	} else if (in->raw && (in->raw->len > 0 || !in->body_missing) && !(in->unparsed && !in->body_missing)) {
		mime_parse(in->raw, &lim, &a->mime);
		if (in->body_missing)
			a->mime->n_attachments = 0; /* a header alone has none */
	}
	if (in->unparsed && !in->body_missing && !a->mime) {
		/* Its parse killed the process before: the bytes, not parsed. */
		GByteArray empty = { 0 };
		mime_parse(&empty, &lim, &a->mime);
		a->mime->flags = MIME_UNPARSED;
	}
	const struct mime_message *mm = a->mime;
	if (!in->body_missing) {
		if (!spooled && in->raw_sha256)
			g_strlcpy(a->raw_sha256, in->raw_sha256, sizeof(a->raw_sha256));
		else if (!spooled)
			mime_sha256_hex(in->raw->data, in->raw->len, a->raw_sha256);
		a->flags = mime_flags_describe(mm->flags);
		if (mm->flags)
			in_flags |= RULES_IN_BROKEN;
		if (mm->flags & MIME_UNPARSED)
			in_flags |= RULES_IN_UNPARSED;
	} else {
		in_flags |= RULES_IN_TOO_LARGE;
		a->flags = g_strdup(in->body_missing);
	}

	struct rules_call *calls = g_new0(struct rules_call, cfg->n_calls);
	for (size_t i = 0; i < cfg->n_calls; i++) {
		const struct config_call *c = &cfg->calls[i];
		calls[i] = (struct rules_call){ c->id, c->subject, c->deadline_last, call_basis(c), c->grace };
	}
	struct rules_settings settings = { cfg->fuzzy_threshold, cfg->word_similarity, cfg->title_threshold };
	/* Which attachment is the form. */
	size_t n_atts = mm ? mm->n_attachments : 0;
	int form = -1;
	enum rules_form_signature form_sig = RULES_FORM_SIG_OK;
	if (n_atts) {
		struct rules_form_candidate *cand = g_new0(struct rules_form_candidate, n_atts);
		for (size_t i = 0; i < n_atts; i++) {
			const struct mime_attachment *m = &mm->attachments[i];
			cand[i] = (struct rules_form_candidate){ m->filename, m->is_pdf, m->is_docx,
								 m->signature == CMS_VALID, m->mentions_form };
		}
		form = rules_pick_form(cand, n_atts);
		g_free(cand);
	}
	if (form >= 0 && mm->attachments[form].is_pdf) {
		const struct mime_attachment *f = &mm->attachments[form];
		form_sig = f->signature == CMS_INVALID                              ? RULES_FORM_SIG_INVALID
			   : f->signature == CMS_VALID && f->modified_after_signing ? RULES_FORM_SIG_MODIFIED
										    : RULES_FORM_SIG_OK;
	}
	struct received_edge edge;
	const char *edge_why;
	find_edge(cfg, in, mm, &edge, &edge_why);
	struct rules_input ri = {
		.subject = mm    ? mm->subject
			   : old ? old->subject
				 : NULL,
		.from_name = mm    ? mm->from_name
			     : old ? old->from_name
				   : NULL,
		.organization = mm ? mm->organization : NULL,
		.has_arrival = has_arrival,
		.arrival = in->arrival,
		.has_date = mm && mm->has_date,
		.date = mm ? mm->date : 0,
		.has_edge = edge.why == RECEIVED_EDGE,
		.edge = edge.when,
		.n_attachments = n_atts,
		.has_form = form >= 0,
		.form_signature = form_sig,
		.hints = mm ? hints_from_facts(mm->facts, mm->from_addr) : 0,
		.flags = in_flags,
	};
	g_auto(RulesResult) res = { 0 };
	rules_classify(calls, cfg->n_calls, &settings, &ri, &res);
	g_free(calls);

	const struct config_call *call = res.call >= 0 ? &cfg->calls[res.call] : &cfg->calls[0];
	if (has_arrival)
		a->received_at = datetime_format(in->arrival, call->tz);
	if (mm && mm->has_date)
		a->date_header = datetime_format(mm->date, call->tz);
	else if (!mm && old && old->date_header)
		a->date_header = g_strdup(old->date_header);
	if (mm && mm->has_received)
		a->received_header = datetime_format(mm->received, call->tz);
	if (mm && mm->smime != CMS_NONE && mm->smime_has_validated_at)
		a->smime_validated_at = datetime_format(mm->smime_validated_at, call->tz);
	if (ri.has_edge)
		a->edge_received_at = datetime_format(edge.when, call->tz);
	const char *extra[] = { in->body_missing && !strcmp(in->body_missing, "gone") ? "fetch:gone" : NULL,
				bad_arrival ? "arrival:invalid-internaldate" : NULL };
	a->reasons = reasons_json(&res, extra, G_N_ELEMENTS(extra));
	a->applicant = g_steal_pointer(&res.applicant);

	a->msg = (struct store_message){
		.mailbox = in->mailbox,
		.uidvalidity = in->uidvalidity,
		.uid = in->uid,
		.recorded_at = now,
		.has_received = has_arrival,
		.received_epoch = in->arrival,
		.received_at = a->received_at,
		.internaldate = in->internaldate,
		.server_size = in->server_size,
		.raw = in->body_missing || spooled ? NULL : in->raw->data,
		.raw_size = in->body_missing ? 0
			    : spooled        ? (size_t)spooled_len
					     : in->raw->len,
		.raw_spooled = spooled,
		.raw_fd = spooled ? in->raw_fd : -1,
		.raw_sha256 = in->body_missing ? NULL : a->raw_sha256,
		.message_id = mm    ? mm->message_id
			      : old ? old->message_id
				    : NULL,
		.from_addr = mm    ? mm->from_addr
			     : old ? old->from_addr
				   : NULL,
		.from_name = mm    ? mm->from_name
			     : old ? old->from_name
				   : NULL,
		.subject = ri.subject,
		.date_header = a->date_header,
		.call = res.call >= 0 ? call->id : NULL,
		.applicant = a->applicant,
		.on_time = res.on_time,
		.status = res.status,
		.reasons = a->reasons,
		.flags = a->flags,
		.match = res.match,
		.match_score = res.call >= 0 ? res.score : -1,
		.has_kind = true,
		.kind = res.kind,
		.applicant_source = rules_applicant_source_name(res.applicant_source),
		.has_received_header = mm && mm->has_received,
		.received_header_epoch = mm ? mm->received : 0,
		.received_header = a->received_header,
		.deadline_basis = res.call >= 0 ? rules_basis_name(call_basis(call)) : NULL,
		.decided_by = res.decided ? rules_basis_name(res.decided_by) : NULL,
		.has_delta = res.decided,
		.deadline_delta = res.delta,
		.has_smime = mm != NULL,
		.smime = mm ? mm->smime : CMS_NONE,
		.smime_reason = mm ? mm->smime_reason : NULL,
		.smime_validated_at = a->smime_validated_at,
		.smime_time_source = mm ? cms_time_source_name(mm->smime_time_source) : NULL,
		.has_edge_received = ri.has_edge,
		.edge_received_epoch = ri.has_edge ? edge.when : 0,
		.edge_received_at = a->edge_received_at,
		.edge_why = edge_why,
	};
	a->n_atts = n_atts;
	a->atts = g_new0(struct store_attachment_in, n_atts ? n_atts : 1);
	a->signed_at = g_new0(char *, n_atts ? n_atts : 1);
	a->validated_at = g_new0(char *, n_atts ? n_atts : 1);
	for (size_t i = 0; i < n_atts; i++) {
		const struct mime_attachment *m = &mm->attachments[i];
		bool signed_pdf = m->is_pdf && m->signature != CMS_NONE;
		if (m->has_signed_at)
			a->signed_at[i] = datetime_format(m->signed_at, call->tz);
		if (signed_pdf && m->has_validated_at)
			a->validated_at[i] = datetime_format(m->validated_at, call->tz);
		a->atts[i] = (struct store_attachment_in){
			.filename = m->filename,
			.content_type = m->content_type,
			.part_path = m->part_path,
			.data = m->data,
			.size = m->size,
			.sha256 = m->sha256,
			.source = m->source,
			.signature = m->signature,
			.signer = m->signer,
			.signed_at = a->signed_at[i],
			.covers_whole_file = signed_pdf ? m->covers_whole_file : -1,
			.signer_trusted = signed_pdf && m->signature == CMS_VALID ? m->signer_trusted : -1,
			.form = (int)i == form,
			.signature_reason = signed_pdf ? m->signature_reason : NULL,
			.signature_validated_at = a->validated_at[i],
			.signature_time_source = signed_pdf ? cms_time_source_name(m->time_source) : NULL,
			.modified_after_signing = signed_pdf ? m->modified_after_signing : -1,
		};
	}
	size_t n_notes = mm ? mm->n_notes : 0;
	a->parts = g_new0(struct store_part, n_notes ? n_notes : 1);
	for (size_t i = 0; i < n_notes; i++) {
		const struct mime_part_note *n = &mm->notes[i];
		a->parts[i] = (struct store_part){ (int)i + 1, n->part_path, n->content_type, n->filename,
						   n->size,    n->action,    n->why };
	}
	a->msg.parts = mm ? a->parts : NULL;
	a->msg.n_parts = n_notes;
}

void assess_clear(struct assessment *a)
{
	mime_message_free(a->mime);
	g_free(a->atts);
	g_free(a->received_at);
	g_free(a->date_header);
	g_free(a->received_header);
	g_free(a->edge_received_at);
	g_free(a->reasons);
	g_free(a->flags);
	g_free(a->applicant);
	for (size_t i = 0; a->signed_at && i < a->n_atts; i++)
		g_free(a->signed_at[i]);
	g_free(a->signed_at);
	for (size_t i = 0; a->validated_at && i < a->n_atts; i++)
		g_free(a->validated_at[i]);
	g_free(a->validated_at);
	g_free(a->smime_validated_at);
	g_free(a->parts);
	memset(a, 0, sizeof(*a));
}
