/* ctl-reconcile: puljectl reconcile — the server's UIDs against the
 * records.  The only ctl file that talks IMAP (through account.h). */
#include "ctl-common.h"
#include "account.h"
#include "imap.h"
#include "term.h"

#include <string.h>
#include <sys/prctl.h>

/* ---- reconcile ---- */

/* A record of the mailbox under an earlier UIDVALIDITY, not re-keyed. */
struct earlier_record {
	int64_t id;
	uint32_t uidvalidity, uid;
};

struct recorded_ctx {
	const char *mailbox;
	uint32_t uidvalidity;
	GHashTable *uids; /* uid -> record id */
	GArray *earlier;  /* struct earlier_record, by id */
};

static int collect_recorded(const struct store_message *m, void *userdata)
{
	struct recorded_ctx *c = userdata;
	/* A record puljed itself moved away is not expected on the server. */
	bool moved = m->server_action && !strcmp(m->server_action, "done") && m->server_action_kind &&
		     !strcmp(m->server_action_kind, "move");
	if (moved || strcmp(m->mailbox, c->mailbox))
		return 0;
	if (m->uidvalidity == c->uidvalidity)
		g_hash_table_insert(c->uids, GUINT_TO_POINTER(m->uid), g_memdup2(&m->id, sizeof(m->id)));
	else {
		/* The mailbox was recreated since: a record whose message came
		 * back was re-keyed to the current UIDVALIDITY by the poll that
		 * saw it; one still under an old key was not seen again. */
		struct earlier_record e = { m->id, m->uidvalidity, m->uid };
		g_array_append_val(c->earlier, e);
	}
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
				   g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free),
				   g_array_new(FALSE, FALSE, sizeof(struct earlier_record)) };
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
	/* Records under an earlier UIDVALIDITY whose message may yet be
	 * re-keyed: the next poll has messages to look at. */
	bool may_rekey = rc.earlier->len && (!known || pending->len);

	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		ctl_json_add_str(b, "mailbox", cfg->imap.mailbox);
		ctl_json_add_int(b, "uidvalidity", box.uidvalidity);
		ctl_json_add_int(b, "server_messages", (int64_t)n);
		ctl_json_add_int(b, "recorded", g_hash_table_size(rc.uids));
		ctl_json_add_int(b, "watermark", watermark);
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
			ctl_json_add_int(b, "uid", GPOINTER_TO_UINT(uid));
			ctl_json_add_int(b, "id", *(int64_t *)g_hash_table_lookup(rc.uids, uid));
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_set_member_name(b, "earlier");
		json_builder_begin_array(b);
		for (guint i = 0; i < rc.earlier->len; i++) {
			const struct earlier_record *e = &g_array_index(rc.earlier, struct earlier_record, i);
			json_builder_begin_object(b);
			ctl_json_add_int(b, "id", e->id);
			ctl_json_add_int(b, "uidvalidity", e->uidvalidity);
			ctl_json_add_int(b, "uid", e->uid);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_set_member_name(b, "earlier_may_rekey");
		json_builder_add_boolean_value(b, may_rekey);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		ctl_json_print(out, root);
	} else {
		g_autofree char *mb = term_clean(cfg->imap.mailbox);
		fprintf(out, "%s, UIDVALIDITY %u: %zu on the server, %u recorded, watermark %u%s\n", mb,
			box.uidvalidity, n, g_hash_table_size(rc.uids), watermark,
			known ? "" : " (the mailbox is new to this database)");
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
			fprintf(out, " #%" G_GINT64_FORMAT,
				*(int64_t *)g_hash_table_lookup(rc.uids, g_ptr_array_index(gone, i)));
		fprintf(out,
			"\nRecorded under an earlier UIDVALIDITY, not on the server since the mailbox was "
			"recreated: %u%s",
			rc.earlier->len, rc.earlier->len ? "  records" : "");
		for (guint i = 0; i < rc.earlier->len; i++) {
			const struct earlier_record *e = &g_array_index(rc.earlier, struct earlier_record, i);
			fprintf(out, " #%" G_GINT64_FORMAT " (%u:%u)", e->id, e->uidvalidity, e->uid);
		}
		if (may_rekey)
			fprintf(out,
				"\n  (the next poll re-keys those whose message is among the ones not polled yet)");
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
	g_array_free(rc.earlier, TRUE);
	g_free(metas);
	return code;
}
