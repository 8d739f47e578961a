/* ctl-receipts: the receipts to applicants (actions-receipt.c) as the
 * operator sees them — `receipts` (every one, with its state and why),
 * `receipt send ID` (an operator asks: queued for the daemon, which sends
 * it at its next poll), and a record's receipt in show. */
#include "ctl-common.h"
#include "term.h"

#include <errno.h>
#include <string.h>

/* The state as the contract names it: a done receipt was sent. */
static const char *state_word(enum store_action_state state)
{
	return state == STORE_ACTION_DONE ? "sent" : store_action_state_name(state);
}

/* Why it is not sent (yet): a skipped receipt's rule in words, a failed
 * or pending one's last error; NULL for a sent one. */
static const char *row_why(const struct store_action_row *row)
{
	switch (row->state) {
	case STORE_ACTION_SKIPPED:
		/* The sentence written when it was skipped, with its detail. */
		return row->last_error ? row->last_error : row->why;
	case STORE_ACTION_FAILED:
	case STORE_ACTION_PENDING:
		return row->last_error;
	case STORE_ACTION_DONE:
		break;
	}
	return NULL;
}

static void add_row(JsonBuilder *b, const struct store_action_row *row, bool with_record)
{
	json_builder_begin_object(b);
	if (with_record)
		ctl_json_add_int(b, "record", row->message);
	ctl_json_add_str(b, "state", state_word(row->state));
	ctl_json_add_str(b, "to", row->target);
	ctl_json_add_str(b, "message_id", row->state == STORE_ACTION_DONE ? row->detail : NULL);
	g_autofree char *sent = row->state == STORE_ACTION_DONE ? ctl_iso_local(row->done_at) : NULL;
	ctl_json_add_str(b, "sent_at", sent);
	ctl_json_add_str(b, "why", row_why(row));
	ctl_json_add_str(b, "rule", row->state == STORE_ACTION_SKIPPED ? row->why : NULL);
	ctl_json_add_int(b, "attempts", row->attempts);
	g_autofree char *next =
		row->state == STORE_ACTION_PENDING && row->next_attempt_at ? ctl_iso_local(row->next_attempt_at) : NULL;
	ctl_json_add_str(b, "next_attempt_at", next);
	ctl_json_add_str(b, "requested_by", row->requested_by);
	json_builder_end_object(b);
}

int ctl_receipt_json(JsonBuilder *b, struct store *st, int64_t id)
{
	g_auto(StoreActionRow) row = { 0 };
	int r = store_action_get(st, id, STORE_RECEIPT_PROMISE, &row);
	json_builder_set_member_name(b, "receipt");
	if (r == -ENOENT) {
		json_builder_begin_object(b);
		ctl_json_add_str(b, "state", "none");
		ctl_json_add_str(b, "to", NULL);
		ctl_json_add_str(b, "message_id", NULL);
		ctl_json_add_str(b, "sent_at", NULL);
		ctl_json_add_str(b, "why",
				 "ingen kvittering er lovet: modtaget før kvitteringer blev slået til, "
				 "eller de er slået fra ([receipts] send)");
		json_builder_end_object(b);
		return 0;
	}
	if (r < 0) {
		json_builder_add_null_value(b);
		return r;
	}
	add_row(b, &row, false);
	return 0;
}

char *ctl_receipt_line(struct store *st, int64_t id)
{
	g_auto(StoreActionRow) row = { 0 };
	int r = store_action_get(st, id, STORE_RECEIPT_PROMISE, &row);
	if (r == -ENOENT)
		return NULL;
	if (r < 0)
		return g_strdup_printf("unknown (%s)", store_errmsg(st));
	g_autofree char *when = ctl_human_time(row.state == STORE_ACTION_DONE ? row.done_at : row.last_attempt_at);
	g_autofree char *line = NULL;
	switch (row.state) {
	case STORE_ACTION_DONE:
		line = g_strdup_printf("sent to %s at %s, %s", row.target, when, row.detail ? row.detail : "");
		break;
	case STORE_ACTION_PENDING:
		line = g_strdup_printf("pending%s%s (%" G_GINT64_FORMAT " attempt(s))", row.last_error ? ": " : "",
				       row.last_error ? row.last_error : "", row.attempts);
		break;
	case STORE_ACTION_FAILED:
		line = g_strdup_printf("failed%s%s: %s", row.target ? " to " : "", row.target ? row.target : "",
				       row.last_error ? row.last_error : "?");
		break;
	case STORE_ACTION_SKIPPED:
		line = g_strdup_printf("skipped: %s", row_why(&row) ? row_why(&row) : "?");
		break;
	}
	return term_clean(line);
}

struct list_ctx {
	JsonBuilder *b;
	FILE *out;
	int64_t counts[4];
};

static int list_row(const struct store_action_row *row, void *userdata)
{
	struct list_ctx *c = userdata;
	c->counts[row->state]++;
	if (c->b) {
		add_row(c->b, row, true);
		return 0;
	}
	int64_t t = row->state == STORE_ACTION_DONE ? row->done_at
		    : row->last_attempt_at          ? row->last_attempt_at
						    : row->created_at;
	g_autofree char *when = ctl_human_time(t);
	const char *why = row->state == STORE_ACTION_DONE ? row->detail : row_why(row);
	g_autofree char *line =
		g_strdup_printf("%6" G_GINT64_FORMAT "  %-8s %-32s %s  %s", row->message, state_word(row->state),
				row->target ? row->target : "-", when, why ? why : "");
	g_autofree char *clean = term_clean(line);
	fprintf(c->out, "%s\n", clean);
	return 0;
}

int ctl_receipts(struct store *st, const struct ctl_output *o)
{
	struct list_ctx c = { .out = o->out };
	g_autoptr(JsonBuilder) b = NULL;
	if (o->json) {
		b = json_builder_new();
		c.b = b;
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "receipts");
		json_builder_begin_array(b);
	} else {
		fprintf(o->out, "%6s  %-8s %-32s %-23s  %s\n", "RECORD", "STATE", "TO", "WHEN", "MESSAGE-ID / WHY");
	}
	int r = store_foreach_action(st, STORE_RECEIPT_PROMISE, list_row, &c);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	if (o->json) {
		json_builder_end_array(b);
		json_builder_set_member_name(b, "counts");
		json_builder_begin_object(b);
		ctl_json_add_int(b, "due", c.counts[STORE_ACTION_PENDING]);
		ctl_json_add_int(b, "sent", c.counts[STORE_ACTION_DONE]);
		ctl_json_add_int(b, "failed", c.counts[STORE_ACTION_FAILED]);
		ctl_json_add_int(b, "skipped", c.counts[STORE_ACTION_SKIPPED]);
		json_builder_end_object(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		ctl_json_print(o->out, root);
	} else {
		fprintf(o->out,
			"%" G_GINT64_FORMAT " due, %" G_GINT64_FORMAT " sent, %" G_GINT64_FORMAT
			" failed, %" G_GINT64_FORMAT " skipped\n",
			c.counts[STORE_ACTION_PENDING], c.counts[STORE_ACTION_DONE], c.counts[STORE_ACTION_FAILED],
			c.counts[STORE_ACTION_SKIPPED]);
	}
	return CTL_EXIT_OK;
}

int ctl_receipt_send(struct store *st, const struct config *cfg, FILE *out, int64_t id, bool again)
{
	g_autofree char *user = ctl_operator();
	g_auto(StoreActionRow) old = { 0 };
	int r = store_action_request(st, id, STORE_RECEIPT_PROMISE, user, again, (int64_t)time(NULL), &old);
	if (r == -EALREADY) {
		if (old.state == STORE_ACTION_DONE) {
			g_autofree char *at = ctl_human_time(old.done_at);
			g_autofree char *line =
				g_strdup_printf("puljectl: receipt send: record %" G_GINT64_FORMAT
						"'s receipt was sent to %s at %s (%s); --again sends it once more, "
						"with the same Message-ID",
						id, old.target ? old.target : "?", at, old.detail ? old.detail : "?");
			g_autofree char *clean = term_clean(line);
			fprintf(stderr, "%s\n", clean);
		} else {
			fprintf(stderr,
				"puljectl: receipt send: record %" G_GINT64_FORMAT
				"'s receipt is already pending; puljed sends it when it falls due\n",
				id);
		}
		return CTL_EXIT_FAILURE;
	}
	if (r < 0)
		return ctl_record_exit(st, id, r);
	fprintf(out,
		"record %" G_GINT64_FORMAT
		": receipt queued by %s; puljed sends it within seconds (--once: at its next run)\n",
		id, user);
	if (cfg && !cfg->receipts.send)
		fprintf(stderr,
			"puljectl: note: receipts are switched off in %s ([receipts] send = no): it waits until "
			"they are switched on\n",
			cfg->path);
	return CTL_EXIT_OK;
}
