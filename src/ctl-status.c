/* ctl-status: puljectl status. */
#include "ctl-common.h"
#include "lastrun.h"
#include "term.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* ---- status ---- */

struct mb_ctx {
	JsonBuilder *b;
	const struct ctl_show_ctx *show;
};

static int status_mailbox(const struct store_mailbox *mb, void *userdata)
{
	struct mb_ctx *c = userdata;
	if (c->b) {
		json_builder_begin_object(c->b);
		ctl_json_add_str(c->b, "mailbox", mb->mailbox);
		ctl_json_add_int(c->b, "uidvalidity", mb->uidvalidity);
		ctl_json_add_int(c->b, "last_uid", mb->last_uid);
		json_builder_end_object(c->b);
	} else {
		g_autofree char *line = g_strdup_printf("%s UIDVALIDITY %u, every UID up to %u recorded", mb->mailbox,
							mb->uidvalidity, mb->last_uid);
		ctl_show_field(c->show, "Watermark:", line);
	}
	return 0;
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
		ctl_json_add_int(b, "total", s.total);
		json_builder_set_member_name(b, "by_status");
		json_builder_begin_object(b);
		for (int i = 0; i < RECORD_N_STATUS; i++)
			ctl_json_add_int(b, record_status_name((enum rules_status)i), s.by_status[i]);
		json_builder_end_object(b);
		ctl_json_add_int(b, "duplicates", s.duplicates);
		g_autofree char *lp = ctl_iso_local(s.last_poll_at);
		g_autofree char *ls = ctl_iso_local(s.last_success_at);
		ctl_json_add_str(b, "last_poll", lp);
		ctl_json_add_str(b, "last_success", ls);
		ctl_json_add_str(b, "last_error", s.last_error);
		ctl_json_add_int_or_null(b, "server_messages", s.server_exists, s.server_exists >= 0);
		ctl_json_add_int(b, "recorded_current", s.recorded_current);
		ctl_json_add_int(b, "actions_pending", s.actions_pending);
		ctl_json_add_int(b, "action_attempts", s.action_attempts);
		ctl_json_add_str(b, "last_action_error", s.last_action_error);
		json_builder_set_member_name(b, "receipts");
		json_builder_begin_object(b);
		ctl_json_add_int(b, "pending", s.receipts[STORE_ACTION_PENDING]);
		ctl_json_add_int(b, "sent", s.receipts[STORE_ACTION_DONE]);
		ctl_json_add_int(b, "failed", s.receipts[STORE_ACTION_FAILED]);
		ctl_json_add_int(b, "skipped", s.receipts[STORE_ACTION_SKIPPED]);
		ctl_json_add_str(b, "last_error", s.last_receipt_error);
		json_builder_end_object(b);
		g_autofree char *gc = ctl_iso_local(s.gaps_checked_at);
		ctl_json_add_str(b, "gaps_checked", gc);
		ctl_json_add_int(b, "gaps", s.gaps);
		json_builder_set_member_name(b, "gap_uids");
		json_builder_begin_array(b);
		g_auto(GStrv) gap_uids = g_strsplit(s.gap_uids ? s.gap_uids : "", " ", -1);
		for (char **u = gap_uids; *u; u++)
			if (g_ascii_isdigit(**u))
				json_builder_add_int_value(b, g_ascii_strtoll(*u, NULL, 10));
		json_builder_end_array(b);
		json_builder_set_member_name(b, "last_crash");
		if (crashed) {
			g_autofree char *t = crash_at ? ctl_iso_local(crash_at) : NULL;
			json_builder_begin_object(b);
			ctl_json_add_str(b, "time", t);
			ctl_json_add_str(b, "reason", crash_reason);
			ctl_json_add_int(b, "in_a_row", crashes);
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
			ctl_json_print(out, root);
	} else {
		struct ctl_show_ctx sc = { .out = out, .width = o->width > 40 ? (size_t)o->width : 40 };
		g_autofree char *total = g_strdup_printf("%" G_GINT64_FORMAT " recorded", s.total);
		if (s.duplicates) {
			char *t =
				g_strdup_printf("%s (%" G_GINT64_FORMAT " duplicate deliveries)", total, s.duplicates);
			g_free(total);
			total = t;
		}
		ctl_show_field(&sc, "Messages:", total);
		for (int i = 0; i < RECORD_N_STATUS; i++)
			fprintf(out, "  %-10s  %" G_GINT64_FORMAT "\n", record_status_name((enum rules_status)i),
				s.by_status[i]);
		struct mb_ctx c = { .show = &sc };
		r = store_foreach_mailbox(st, status_mailbox, &c);
		if (s.server_exists >= 0) {
			g_autofree char *line = g_strdup_printf(
				"%" G_GINT64_FORMAT " messages in the mailbox at the last poll, %" G_GINT64_FORMAT
				" recorded under its UIDVALIDITY",
				s.server_exists, s.recorded_current);
			ctl_show_field(&sc, "Server:", line);
		}
		if (s.actions_pending || s.last_action_error) {
			g_autofree char *line = g_strdup_printf(
				"%" G_GINT64_FORMAT " recorded message(s) wait for the after-ingest action%s%s",
				s.actions_pending, s.last_action_error ? ": " : "",
				s.last_action_error ? s.last_action_error : "");
			ctl_show_field(&sc, "Actions:", line);
		}
		if (s.receipts[STORE_ACTION_PENDING] || s.receipts[STORE_ACTION_DONE] ||
		    s.receipts[STORE_ACTION_FAILED] || s.receipts[STORE_ACTION_SKIPPED]) {
			g_autofree char *line = g_strdup_printf(
				"%" G_GINT64_FORMAT " sent, %" G_GINT64_FORMAT " pending, %" G_GINT64_FORMAT
				" failed, %" G_GINT64_FORMAT " skipped%s%s",
				s.receipts[STORE_ACTION_DONE], s.receipts[STORE_ACTION_PENDING],
				s.receipts[STORE_ACTION_FAILED], s.receipts[STORE_ACTION_SKIPPED],
				s.last_receipt_error ? "; last error: " : "",
				s.last_receipt_error ? s.last_receipt_error : "");
			g_autofree char *clean = term_clean(line);
			ctl_show_field(&sc, "Receipts:", clean);
		}
		g_autofree char *lp = ctl_human_time(s.last_poll_at);
		g_autofree char *ls = ctl_human_time(s.last_success_at);
		g_autofree char *poll = g_strdup_printf("%s%s", lp, s.last_poll_at && !s.last_error ? " (ok)" : "");
		ctl_show_field(&sc, "Last poll:", poll);
		if (s.last_error) {
			ctl_show_field(&sc, "Last success:", ls);
			ctl_show_field(&sc, "Last error:", s.last_error);
		}
		g_autofree char *gc = ctl_human_time(s.gaps_checked_at);
		g_autofree char *gu = term_clean(s.gap_uids ? s.gap_uids : "");
		g_autofree char *gaps = s.gaps ? g_strdup_printf("%" G_GINT64_FORMAT
								 " message(s) on the server at or below "
								 "the watermark have no record (UIDs %s); checked %s",
								 s.gaps, gu, gc)
					       : g_strdup_printf("none (checked %s)", gc);
		ctl_show_field(&sc, "Gaps:", gaps);
		g_autofree char *health = healthy ? g_strdup_printf("ok (last success %" G_GINT64_FORMAT " s ago)", age)
					  : fresh ? g_strdup_printf("GAPS: %" G_GINT64_FORMAT
								    " message(s) not recorded (see "
								    "\"puljectl reconcile\")",
								    s.gaps)
					  : age < 0 ? g_strdup("STALE: no successful poll yet")
						    : g_strdup_printf("STALE: last success %" G_GINT64_FORMAT
								      " s ago, more than 3 poll intervals (%u s)",
								      age, 3 * poll_interval);
		if (crashed) {
			g_autofree char *t = crash_at ? ctl_human_time(crash_at) : g_strdup("time unknown");
			g_autofree char *row = crashes > 1 ? g_strdup_printf(" (%u in a row)", crashes) : g_strdup("");
			g_autofree char *line = g_strdup_printf("%s: %s%s", t, crash_reason, row);
			ctl_show_field(&sc, "Last crash:", line);
		}
		ctl_show_field(&sc, "Health:", health);
	}
	g_free(s.last_error);
	g_free(s.last_action_error);
	g_free(s.last_receipt_error);
	g_free(s.gap_uids);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return healthy ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}
