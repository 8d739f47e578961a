/* actions-receipt: the receipt to the applicant as an action kind
 * (actions.h).  Promised with every new record while [receipts] send =
 * yes; carried out one by one after the commit: the record and its raw
 * header are read back, receipt.h decides whether and to whom (RFC 3834),
 * the per-sender cap is counted in the store, the message is composed
 * (and signed) and sent over one SMTP session opened when first needed.
 *
 *  - 250 to the end of DATA: done, with the recipient and the Message-ID
 *    (derived from the record, so a second copy after a crash between the
 *    250 and the mark is the same message).
 *  - SMTP unreachable, 4xx, a lost connection: pending, next try after a
 *    backoff (retry_min doubling up to retry_max); given up ('failed')
 *    once give_up has passed since the promise.
 *  - 5xx: failed, with the server's words.
 *  - A rule says never: skipped, with why.
 *  - max_per_minute sent in the last 60 s: the rest wait, untried,
 *    until the earliest of those is a minute old (a steady stream, not a
 *    burst a server throttles).
 * No logging: each settlement goes back to the caller (the daemon's log). */
#include "actions.h"
#include "config.h"
#include "crashpoint.h"
#include "receipt.h"
#include "sign.h"
#include "smtp.h"

#include <errno.h>
#include <string.h>

/* max_per_minute counts the sends of the last RATE_WINDOW seconds. */
#define RATE_WINDOW 60

/* What a run shares: the SMTP session (opened at the first receipt that
 * is to be sent), the signer, and the strings of the last verdict. */
struct receipt_run {
	const struct config *cfg;
	Smtp *smtp;
	char *down; /* the SMTP session could not be opened (or was lost): why; the rest wait */
	Sign *signer;
	char *sign_error;
	bool sign_loaded;
	/* The last verdict's strings (valid until the next run_one). */
	char *target, *detail, *error;
};

static bool receipt_chosen(const struct config *cfg)
{
	return cfg->receipts.send;
}

static void *receipt_begin(const struct actions_context *c)
{
	struct receipt_run *run = g_new0(struct receipt_run, 1);
	run->cfg = c->cfg;
	return run;
}

static void clear_verdict(struct receipt_run *run)
{
	g_clear_pointer(&run->target, g_free);
	g_clear_pointer(&run->detail, g_free);
	g_clear_pointer(&run->error, g_free);
}

static void receipt_end(void *state)
{
	struct receipt_run *run = state;
	if (!run)
		return;
	clear_verdict(run);
	g_clear_pointer(&run->smtp, smtp_close);
	g_clear_pointer(&run->signer, sign_free);
	g_free(run->sign_error);
	g_free(run->down);
	g_free(run);
}

/* When a pending receipt is tried next: retry_min doubled per attempt,
 * at most retry_max. */
static int64_t next_try(const struct config_receipts *rc, int64_t attempts, int64_t now)
{
	int64_t wait = rc->retry_min > 0 ? rc->retry_min : 1;
	for (int64_t i = 1; i < attempts && wait < rc->retry_max; i++)
		wait *= 2;
	if (rc->retry_max > 0 && wait > rc->retry_max)
		wait = rc->retry_max;
	return now + wait;
}

/* Pending (tried again later) or, once give_up has passed since the
 * promise, failed — with ERROR either way. */
static void defer(struct receipt_run *run, const struct actions_context *c, const struct store_action *a,
		  const char *error, struct actions_verdict *v)
{
	const struct config_receipts *rc = &c->cfg->receipts;
	run->error = g_strdup(error);
	v->how.attempted = true;
	v->how.error = run->error;
	if (rc->give_up > 0 && c->now - a->created_at >= rc->give_up) {
		g_free(run->error);
		run->error =
			g_strdup_printf("given up after %" G_GINT64_FORMAT " attempt(s): %s", a->attempts + 1, error);
		v->how.error = run->error;
		v->how.state = STORE_ACTION_FAILED;
		return;
	}
	v->how.state = STORE_ACTION_PENDING;
	v->how.next_at = next_try(rc, a->attempts + 1, c->now);
}

static enum smtp_auth smtp_auth_of(enum config_auth auth)
{
	switch (auth) {
	case CONFIG_AUTH_LOGIN:
		return SMTP_AUTH_LOGIN;
	case CONFIG_AUTH_XOAUTH2:
		return SMTP_AUTH_XOAUTH2;
	case CONFIG_AUTH_PLAIN:
		break;
	}
	return SMTP_AUTH_PLAIN;
}

/* The SMTP session, opened now if not yet: 0, or -1 with run->down set. */
static int ensure_smtp(struct receipt_run *run, const struct actions_context *c)
{
	if (run->smtp && smtp_usable(run->smtp))
		return 0;
	g_clear_pointer(&run->smtp, smtp_close);
	if (run->down)
		return -1;
	const struct config_receipts *rc = &c->cfg->receipts;
	char *secret = NULL;
	g_autofree char *error = NULL;
	if (rc->username && config_read_smtp_secret(c->cfg, &secret, &error) < 0) {
		run->down = g_steal_pointer(&error);
		return -1;
	}
	struct smtp_settings s = {
		.host = rc->smtp_host,
		.port = rc->smtp_port,
		.security = rc->security == CONFIG_SECURITY_TLS ? SMTP_TLS : SMTP_STARTTLS,
		.ca_file = rc->ca_file,
		.priority = rc->tls_priority,
		.timeout_ms = (int)MIN(rc->timeout, 3600u) * 1000,
		.auth = smtp_auth_of(rc->auth),
		.username = rc->username,
		.secret = secret,
		.cancel = c->cancel,
	};
	int r = smtp_open(&s, &run->smtp, &error);
	if (secret)
		config_password_free(secret);
	if (r < 0) {
		run->down = g_strdup_printf("SMTP %s:%u: %s", rc->smtp_host, rc->smtp_port, error ? error : "failed");
		return -1;
	}
	return 0;
}

/* The signer, loaded at the first receipt: NULL when none is configured
 * or it cannot be loaded (then run->sign_error). */
static const struct sign *signer(struct receipt_run *run, const struct config_receipts *rc)
{
	if (!run->sign_loaded && rc->sign_cert && rc->sign_key) {
		run->sign_loaded = true;
		g_autofree char *error = NULL;
		if (sign_load(rc->sign_cert, rc->sign_key, &run->signer, &error) < 0)
			run->sign_error = g_strdup_printf("[receipts] sign_cert/sign_key: %s", error ? error : "?");
	}
	return run->signer;
}

/* What one run_one reads from the store about its record. */
struct record_read {
	const struct actions_context *c;
	struct receipt_run *run;
	const struct store_action *a;
	struct actions_verdict *v;
	bool seen;
	bool counted; /* the attempt is in the store already (store_action_attempting) */
};

struct attachments {
	GArray *list; /* struct receipt_attachment, strings owned by STRINGS */
	GPtrArray *strings;
	struct receipt_signature form;
	bool has_form;
};

static int add_attachment(const struct store_attachment *sa, void *userdata)
{
	struct attachments *at = userdata;
	char *name = g_strdup(sa->filename), *sha = g_strdup(sa->sha256);
	g_ptr_array_add(at->strings, name);
	g_ptr_array_add(at->strings, sha);
	struct receipt_attachment ra = { .filename = name, .size = sa->size, .sha256 = sha, .is_form = sa->form };
	g_array_append_val(at->list, ra);
	if (sa->form && !at->has_form) {
		at->has_form = true;
		char *signer = g_strdup(sa->signer), *reason = g_strdup(sa->signature_reason);
		g_ptr_array_add(at->strings, signer);
		g_ptr_array_add(at->strings, reason);
		at->form = (struct receipt_signature){ .status = sa->signature,
						       .signer = signer,
						       .modified = sa->modified_after_signing == 1,
						       .untrusted = sa->signer_trusted == 0,
						       .reason = reason };
	}
	return 0;
}

static const struct config_call *find_call(const struct config *cfg, const char *id)
{
	for (size_t i = 0; id && i < cfg->n_calls; i++)
		if (!strcmp(cfg->calls[i].id, id))
			return &cfg->calls[i];
	return NULL;
}

/* The time that decided the deadline, and which clock it is. */
static int64_t deciding_time(const struct store_message *m, enum rules_basis *ret_clock)
{
	if (m->decided_by && !strcmp(m->decided_by, "edge") && m->has_edge_received) {
		*ret_clock = RULES_BASIS_EDGE;
		return m->edge_received_epoch;
	}
	if (m->decided_by && !strcmp(m->decided_by, "date-header") && m->date_header) {
		g_autoptr(GDateTime) d = g_date_time_new_from_iso8601(m->date_header, NULL);
		if (d) {
			*ret_clock = RULES_BASIS_DATE_HEADER;
			return g_date_time_to_unix(d);
		}
	}
	*ret_clock = RULES_BASIS_ARRIVAL;
	return m->received_epoch;
}

static void skip(struct receipt_run *run, struct actions_verdict *v, enum receipt_skip why, char *words, const char *to)
{
	run->error = words;
	run->target = g_strdup(to);
	v->how.state = STORE_ACTION_SKIPPED;
	v->how.why = receipt_skip_name(why);
	v->how.error = run->error;
	v->how.target = run->target;
}

static int on_record(const struct store_message *m, void *userdata)
{
	struct record_read *rr = userdata;
	const struct actions_context *c = rr->c;
	const struct config_receipts *rc = &c->cfg->receipts;
	struct receipt_run *run = rr->run;
	struct actions_verdict *v = rr->v;
	rr->seen = true;

	g_auto(ReceiptFacts) facts = { 0 };
	if (m->raw)
		receipt_facts_parse(m->raw, m->raw_size, &facts);
	const char *account =
		c->cfg->imap.username && strchr(c->cfg->imap.username, '@') ? c->cfg->imap.username : NULL;
	struct receipt_policy p = {
		/* An operator's request overrides the configured statuses. */
		.statuses = rr->a->requested ? (1u << RULES_ACCEPTED) | (1u << RULES_LATE) | (1u << RULES_REVIEW)
					     : rc->statuses,
		.from_addr = rc->from_addr,
		.account_addr = account,
		.max_per_sender = rc->max_per_sender,
	};
	struct receipt_record r = {
		.status = m->status,
		.kind = m->has_kind ? m->kind : RULES_KIND_APPLICATION,
		.flags = m->flags,
		.duplicate_of = rr->a->requested ? 0 : m->duplicate_of,
	};
	const char *to = NULL;
	enum receipt_skip why = receipt_decide(&p, &r, &facts, &to);
	if (why == RECEIPT_SEND && !rr->a->requested && rc->max_per_sender > 0) {
		int64_t n = 0;
		if (store_actions_done_to(c->store, STORE_RECEIPT_PROMISE, to, c->now - 24 * 3600, &n, NULL) < 0)
			return -EIO;
		if (n >= rc->max_per_sender)
			why = RECEIPT_SKIP_RATE_LIMIT;
	}
	if (why != RECEIPT_SEND) {
		skip(run, v, why, receipt_skip_why(why, &p, &r, &facts),
		     why == RECEIPT_SKIP_RATE_LIMIT ? to : receipt_recipient(&facts));
		return 0;
	}

	/* The whole rate: the rest of this run waits until the earliest send
	 * in the window leaves it.  Counted from that send, not from now, so
	 * that a run in between (new mail, IDLE's keepalive) does not push
	 * the wait back a minute each time. */
	if (rc->max_per_minute > 0) {
		int64_t n = 0, first = 0;
		if (store_actions_done_to(c->store, STORE_RECEIPT_PROMISE, NULL, c->now - (RATE_WINDOW - 1), &n,
					  &first) < 0)
			return -EIO;
		if (n >= rc->max_per_minute) {
			v->wait = true;
			v->wait_until = first + RATE_WINDOW;
			return 0;
		}
	}

	/* What it says. */
	struct attachments at = { .list = g_array_new(FALSE, FALSE, sizeof(struct receipt_attachment)),
				  .strings = g_ptr_array_new_with_free_func(g_free) };
	int sr = store_foreach_attachment(c->store, m->id, false, add_attachment, &at);
	const struct config_call *call = find_call(c->cfg, m->call);
	struct receipt_content content = {
		.call_title = call ? call->subject : NULL,
		.call_id = m->call,
		.subject = m->subject,
		.from = m->from_addr,
		.timezone = call ? call->timezone : NULL,
		.status = m->status,
		.on_time = m->on_time,
		.has_deadline = call != NULL,
		.deadline_last = call ? call->deadline_last : 0,
		.attachments = (const struct receipt_attachment *)(void *)at.list->data,
		.n_attachments = at.list->len,
		.has_form = at.has_form,
		.form_signature = at.form,
		.record_id = m->id,
		.message_sha256 = m->raw_sha256,
	};
	content.arrival = deciding_time(m, &content.clock);
	g_autofree char *mid = receipt_message_id(m->uidvalidity, m->uid, m->call, rc->from_domain);
	struct receipt_headers h = {
		.from_name = rc->from_name,
		.from_addr = rc->from_addr,
		.to = to,
		.subject = m->subject,
		.message_id = mid,
		.in_reply_to = facts.message_id,
		.references = facts.references,
		.timezone = call ? call->timezone : NULL,
	};
	g_autofree char *msg = NULL, *error = NULL;
	size_t len = 0;
	const struct sign *sg = signer(run, rc);
	int r2 = sr < 0            ? -EIO
		 : run->sign_error ? -EINVAL
				   : receipt_compose(&content, &h, rc->template, sg, c->now, &msg, &len, &error);
	g_array_unref(at.list);
	g_ptr_array_unref(at.strings);
	if (sr < 0)
		return sr;
	if (r2 < 0) {
		/* A template or signing key the operator must fix: kept pending. */
		defer(run, c, rr->a, run->sign_error ? run->sign_error : error ? error : "cannot compose", v);
		return 0;
	}

	if (ensure_smtp(run, c) < 0) {
		defer(run, c, rr->a, run->down, v);
		return 0;
	}
	/* Sent only if the store can take a write now: one that cannot mark
	 * it sent afterwards (disk full, locked) would have it sent again at
	 * every run, not just once more. */
	if (store_action_attempting(c->store, rr->a->id, c->now) < 0) {
		g_autofree char *e =
			g_strdup_printf("not sent: the database cannot note the attempt: %s", store_errmsg(c->store));
		defer(run, c, rr->a, e, v);
		return 0;
	}
	rr->counted = true;
	crashpoint("receipt: composed, about to send");
	int sent = smtp_send(run->smtp, rc->from_addr, to, msg, len);
	run->target = g_strdup(to);
	v->how.target = run->target;
	v->how.kind = "receipt";
	if (sent == SMTP_OK) {
		run->detail = g_strdup(mid);
		v->how.state = STORE_ACTION_DONE;
		v->how.detail = run->detail;
		v->how.attempted = true;
		return 0;
	}
	g_autofree char *words = g_strdup(smtp_errmsg(run->smtp));
	if (sent == SMTP_E_PERMANENT) {
		run->error = g_steal_pointer(&words);
		v->how.state = STORE_ACTION_FAILED;
		v->how.error = run->error;
		v->how.attempted = true;
		return 0;
	}
	if (!smtp_usable(run->smtp)) {
		/* Lost: the rest of this run waits for the next one. */
		g_free(run->down);
		run->down = g_strdup(words);
	}
	defer(run, c, rr->a, words, v);
	return 0;
}

static void receipt_run_one(void *state, const struct actions_context *c, const struct store_action *a,
			    struct actions_verdict *v)
{
	struct receipt_run *run = state;
	clear_verdict(run);
	struct record_read rr = { .c = c, .run = run, .a = a, .v = v };
	int r = store_foreach_message(c->store, a->message, true, on_record, &rr);
	if (r < 0 && v->how.state == STORE_ACTION_PENDING && !v->how.error) {
		/* The record or its bytes could not be read: try again later. */
		g_autofree char *e = g_strdup_printf("cannot read record %" G_GINT64_FORMAT ": %s", a->message,
						     store_errmsg(c->store));
		defer(run, c, a, e, v);
	}
	if (rr.counted)
		v->how.attempted = false; /* counted before the send */
}

const struct actions_kind actions_receipt = {
	.name = "receipt",
	.promise = STORE_RECEIPT_PROMISE,
	.needs = 0,
	.chosen = receipt_chosen,
	.wanted = NULL,
	.target = NULL, /* each settlement names its own recipient */
	.run = NULL,
	.begin = receipt_begin,
	.run_one = receipt_run_one,
	.end = receipt_end,
};
