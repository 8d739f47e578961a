/* ctl-verify: puljectl verify — the stored bytes against their SHA-256. */
#include "ctl-common.h"
#include "term.h"

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
		ctl_json_add_str(b, "what", d->what);
		ctl_json_add_int_or_null(b, "id", d->message, d->message > 0);
		ctl_json_add_int_or_null(b, "attachment", d->seq, d->attachment > 0);
		ctl_json_add_int_or_null(b, "attachment_id", d->attachment, d->attachment > 0);
		ctl_json_add_str(b, "why", d->why);
		ctl_json_add_str(b, "expected_sha256", d->expected);
		ctl_json_add_str(b, "actual_sha256", d->actual);
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
		ctl_json_add_int(b, "messages", n.messages);
		ctl_json_add_int(b, "raw_messages", n.bodies);
		ctl_json_add_int(b, "attachments", n.attachments);
		ctl_json_add_int(b, "bytes", n.bytes);
		json_builder_set_member_name(b, "ok");
		json_builder_add_boolean_value(b, n.differences == 0);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		ctl_json_print(o->out, root);
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
