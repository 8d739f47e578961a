/* ctl-report: puljectl report — the caseworkers' HTML report and its files. */
#include "ctl-common.h"
#include "datetime.h"
#include "file.h"
#include "report.h"
#include "term.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- report ---- */

struct report_msg_ctx {
	struct store *st;
	const struct config *cfg; /* for the records' why */
	const struct ctl_filter *f;
	const struct config_call *call; /* the call being collected */
	GStringChunk *text;             /* every string of the model */
	GPtrArray *msgs;                /* struct report_message * (owned, atts g_free'd) */
	GHashTable *by_id;              /* id -> struct report_message * */
	int64_t counts[RECORD_N_STATUS];
	int64_t unrelated;
	int dirfd;
	const char *dir;
	int error; /* an exit status once something failed */
};

static char *chunk(GStringChunk *c, const char *s)
{
	return s ? g_string_chunk_insert(c, s) : NULL;
}

/* Creates (or opens) the directory NAME in DIRFD, never through a link. */
static int subdir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0750) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct report_att_ctx {
	struct report_msg_ctx *c;
	int64_t id;
	int dirfd;    /* attachments/ID, opened on the first attachment */
	GArray *atts; /* struct report_attachment */
};

static int report_attachment(const struct store_attachment *a, void *userdata)
{
	struct report_att_ctx *ac = userdata;
	struct report_msg_ctx *c = ac->c;
	if (ac->dirfd < 0) {
		int top = subdir(c->dirfd, "attachments");
		if (top < 0)
			return top;
		char name[24];
		g_snprintf(name, sizeof(name), "%" G_GINT64_FORMAT, ac->id);
		ac->dirfd = subdir(top, name);
		close(top);
		if (ac->dirfd < 0)
			return ac->dirfd;
	}
	g_autofree char *fallback = g_strdup_printf("attachment-%d", a->seq);
	g_autofree char *safe = term_safe_filename(a->filename, fallback);
	g_autofree char *used = NULL;
	int r = file_write_new(ac->dirfd, safe, 0640, a->data, (size_t)a->size, &used);
	if (r < 0) {
		fprintf(stderr, "puljectl: report: cannot write attachments/%" G_GINT64_FORMAT "/%s in %s: %s\n",
			ac->id, safe, c->dir, g_strerror(-r));
		return r;
	}
	g_autofree char *escaped = g_uri_escape_string(used, NULL, FALSE);
	g_autofree char *href = g_strdup_printf("attachments/%" G_GINT64_FORMAT "/%s", ac->id, escaped);
	struct report_attachment ra = {
		.filename = chunk(c->text, a->filename),
		.href = chunk(c->text, href),
		.size = a->size,
		.sha256 = chunk(c->text, a->sha256),
		.form = a->form,
		.signature = a->signature,
		.signer = chunk(c->text, a->signer),
		.modified = a->modified_after_signing == 1,
		.untrusted = a->signer_trusted == 0,
		.reason = chunk(c->text, a->signature_reason),
	};
	g_array_append_val(ac->atts, ra);
	return 0;
}

static int report_eml(const struct store_message *m, void *userdata)
{
	struct report_msg_ctx *c = userdata;
	struct report_message *rm = g_hash_table_lookup(c->by_id, &m->id);
	if (!rm || !m->raw)
		return 0;
	int dirfd = subdir(c->dirfd, "messages");
	if (dirfd < 0)
		return dirfd;
	char name[32];
	g_snprintf(name, sizeof(name), "%" G_GINT64_FORMAT ".eml", m->id);
	g_autofree char *used = NULL;
	int r = file_write_new(dirfd, name, 0640, m->raw, m->raw_size, &used);
	close(dirfd);
	if (r < 0) {
		fprintf(stderr, "puljectl: report: cannot write messages/%s in %s: %s\n", name, c->dir, g_strerror(-r));
		return r;
	}
	g_autofree char *href = g_strdup_printf("messages/%s", used);
	rm->eml_href = chunk(c->text, href);
	return 0;
}

static int report_message(const struct store_message *m, void *userdata)
{
	struct report_msg_ctx *c = userdata;
	if (!ctl_filter_message(c->f, m, false))
		return 0;
	if (!m->call) {
		if (m->status == RULES_UNRELATED)
			c->unrelated++;
		return 0;
	}
	if (strcmp(m->call, c->call->id))
		return 0;
	if (m->duplicate_of)
		return 0;
	if ((unsigned)m->status < RECORD_N_STATUS)
		c->counts[m->status]++;
	struct report_message *rm = g_new0(struct report_message, 1);
	rm->id = m->id;
	rm->received_at = chunk(c->text, m->received_at);
	rm->has_received = m->has_received;
	rm->received = m->received_epoch;
	rm->status = m->status;
	rm->from = chunk(c->text, m->from_addr);
	rm->subject = chunk(c->text, m->subject);
	rm->edge = (struct report_edge){ chunk(c->text, m->edge_received_at), rm->received_at,
					 chunk(c->text, m->decided_by), chunk(c->text, m->deadline_basis),
					 chunk(c->text, m->edge_why) };
	rm->smime = (struct report_signature){ .signature = m->smime, .reason = chunk(c->text, m->smime_reason) };
	g_autofree char *why = ctl_why(c->st, c->cfg, m);
	rm->why = chunk(c->text, why);
	g_ptr_array_add(c->msgs, rm);
	g_hash_table_insert(c->by_id, &rm->id, rm);
	struct report_att_ctx ac = { c, m->id, -1, g_array_new(FALSE, TRUE, sizeof(struct report_attachment)) };
	int r = store_foreach_attachment(c->st, m->id, true, report_attachment, &ac);
	if (ac.dirfd >= 0)
		close(ac.dirfd);
	rm->n_atts = ac.atts->len;
	rm->atts = (struct report_attachment *)(void *)g_array_free(ac.atts, FALSE);
	if (r == -EUCLEAN)
		fprintf(stderr, "puljectl: report: %s\n", store_errmsg(c->st));
	if (r != 0)
		c->error = CTL_EXIT_FAILURE;
	return r;
}

static void report_message_free(gpointer p)
{
	struct report_message *m = p;
	g_free((void *)m->atts);
	g_free(m);
}

/* Every decision on application A's messages, oldest first, the times in
 * CALL's zone, the strings in TEXT; *RET_DECISIONS is g_free'd. */
static int report_decisions(struct store *st, const struct apps_app *a, const struct config_call *call,
			    GStringChunk *text, struct report_decision **ret_decisions, size_t *ret_n)
{
	g_autoptr(GArray) got = NULL;
	int r = ctl_decisions(st, (const int64_t *)(void *)a->ids->data, a->ids->len, &got);
	if (r < 0)
		return r;
	struct report_decision *ds = g_new0(struct report_decision, got->len + 1);
	for (guint i = 0; i < got->len; i++) {
		const struct ctl_decision *d = &g_array_index(got, struct ctl_decision, i);
		g_autofree char *at = datetime_format(d->at, call->tz);
		ds[i] = (struct report_decision){ chunk(text, d->decision), chunk(text, d->note), chunk(text, d->user),
						  chunk(text, at) };
	}
	*ret_decisions = ds;
	*ret_n = got->len;
	return 0;
}

/* DIR ready for the report: created, or existing and empty.  Returns an
 * open descriptor or a negative errno (-ENOTEMPTY when not empty). */
static int report_dir(const char *dir)
{
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		int e = errno;
		if (dup_fd >= 0)
			close(dup_fd);
		close(fd);
		return -e;
	}
	struct dirent *e;
	bool empty = true;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	if (!empty) {
		close(fd);
		return -ENOTEMPTY;
	}
	return fd;
}

/* "2022-07-04 10:00 (Europe/Copenhagen)": now, in ZONE, the zone of the
 * page's other times, and named (the server's own zone, often UTC, would
 * be an hour or two off, unlabelled). */
static char *generated_at(const char *zone)
{
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(zone);
	g_autoptr(GDateTime) now = tz ? g_date_time_new_now(tz) : g_date_time_new_now_utc();
	g_autofree char *text = g_date_time_format(now, "%Y-%m-%d %H:%M");
	return g_strdup_printf("%s (%s)", text, tz ? zone : "UTC");
}

int ctl_report(struct store *st, const struct config *cfg, FILE *out, const char *dir, const struct ctl_filter *f)
{
	int dirfd = report_dir(dir);
	if (dirfd < 0) {
		fprintf(stderr, "puljectl: report: %s: %s%s\n", dir, g_strerror(-dirfd),
			dirfd == -ENOTEMPTY ? " (give a new or empty directory; nothing is overwritten)" : "");
		return CTL_EXIT_FAILURE;
	}
	int code = CTL_EXIT_OK;
	GStringChunk *text = g_string_chunk_new(4096);
	GArray *calls = g_array_new(FALSE, TRUE, sizeof(struct report_call));
	GPtrArray *keep = g_ptr_array_new_with_free_func(g_free); /* arrays the model points into */
	GPtrArray *ctxs = g_ptr_array_new();
	struct apps *apps = ctl_collect_apps(st, cfg, f);
	GPtrArray *app_list = apps ? apps_finish(apps) : NULL;
	int64_t unrelated = 0;
	struct summary *overview = NULL;
	char *generated = NULL, *html = NULL, *used = NULL;
	if (!apps) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		code = CTL_EXIT_FAILURE;
		goto out;
	}
	for (size_t i = 0; i < cfg->n_calls; i++) {
		const struct config_call *call = &cfg->calls[i];
		if (f->call && strcmp(call->id, f->call))
			continue;
		struct report_msg_ctx *c = g_new0(struct report_msg_ctx, 1);
		*c = (struct report_msg_ctx){ .st = st,
					      .cfg = cfg,
					      .f = f,
					      .call = call,
					      .text = text,
					      .msgs = g_ptr_array_new_with_free_func(report_message_free),
					      .by_id = g_hash_table_new(g_int64_hash, g_int64_equal),
					      .dirfd = dirfd,
					      .dir = dir };
		g_ptr_array_add(ctxs, c);
		int r = store_foreach_message(st, 0, false, report_message, c);
		/* The raw messages one by one: one in memory at a time. */
		for (guint k = 0; r == 0 && k < c->msgs->len; k++)
			r = store_foreach_message(st, ((struct report_message *)g_ptr_array_index(c->msgs, k))->id,
						  true, report_eml, c);
		if (r != 0 || c->error) {
			if (r < 0 && !c->error)
				fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
			code = CTL_EXIT_FAILURE;
			goto out;
		}
		if (ctxs->len == 1)
			unrelated = c->unrelated;
		/* The applications of this call, their messages in the model. */
		GArray *rapps = g_array_new(FALSE, TRUE, sizeof(struct report_application));
		for (guint k = 0; k < app_list->len; k++) {
			const struct apps_app *a = g_ptr_array_index(app_list, k);
			if (strcmp(a->call, call->id) || !ctl_filter_app(f, a))
				continue;
			const struct report_message **ms = g_new0(const struct report_message *, a->ids->len + 1);
			size_t n = 0;
			for (guint j = 0; j < a->ids->len; j++) {
				const struct report_message *m =
					g_hash_table_lookup(c->by_id, &g_array_index(a->ids, int64_t, j));
				if (m)
					ms[n++] = m;
			}
			g_ptr_array_add(keep, ms);
			struct report_decision *ds = NULL;
			size_t n_ds = 0;
			if (report_decisions(st, a, call, text, &ds, &n_ds) < 0) {
				fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
				g_array_free(rapps, TRUE);
				code = CTL_EXIT_FAILURE;
				goto out;
			}
			g_ptr_array_add(keep, ds);
			struct report_application ra = {
				.applicant = a->applicant,
				.status = a->status,
				.on_time = a->on_time,
				.first_arrival = a->first,
				.form = a->form,
				.form_signature = a->form_signature,
				.signer = a->signer,
				.decision = a->decision,
				.decision_note = a->decision_note,
				.msgs = ms,
				.n_msgs = n,
				.form_modified = a->form_modified,
				.form_untrusted = a->form_untrusted,
				.form_reason = a->form_reason,
				.decisions = ds,
				.n_decisions = n_ds,
				.why = a->why,
			};
			g_array_append_val(rapps, ra);
		}
		g_autofree char *deadline = datetime_format(call->deadline_last + call->grace, call->tz);
		struct report_call rc = {
			.id = call->id,
			.subject = call->subject,
			.deadline = chunk(text, deadline),
			.deadline_t = call->deadline_last + call->grace,
			.timezone = call->timezone,
			.basis_edge = call->basis_edge,
			.n_apps = rapps->len,
			.msgs = (const struct report_message *const *)c->msgs->pdata,
			.n_msgs = c->msgs->len,
		};
		memcpy(rc.counts, c->counts, sizeof(rc.counts));
		rc.apps = (const struct report_application *)(void *)g_array_free(rapps, FALSE);
		g_ptr_array_add(keep, (void *)rc.apps);
		g_array_append_val(calls, rc);
	}
	generated = generated_at(ctl_zone(cfg, f->call));
	overview = summary_new(app_list);
	struct report model = { generated, (const struct report_call *)(void *)calls->data, calls->len, unrelated,
				overview };
	html = report_html(&model);
	int r = file_write_new(dirfd, "index.html", 0640, (const uint8_t *)html, strlen(html), &used);
	if (r < 0 || strcmp(used, "index.html")) {
		fprintf(stderr, "puljectl: report: cannot write %s/index.html: %s\n", dir,
			g_strerror(r < 0 ? -r : EEXIST));
		code = CTL_EXIT_FAILURE;
		goto out;
	}
	size_t n_apps = 0;
	for (guint i = 0; i < calls->len; i++)
		n_apps += g_array_index(calls, struct report_call, i).n_apps;
	fprintf(out, "%s/index.html: %u call%s, %zu application%s\n", dir, calls->len, calls->len == 1 ? "" : "s",
		n_apps, n_apps == 1 ? "" : "s");
out:
	for (guint i = 0; i < ctxs->len; i++) {
		struct report_msg_ctx *c = g_ptr_array_index(ctxs, i);
		g_hash_table_destroy(c->by_id);
		g_ptr_array_free(c->msgs, TRUE);
		g_free(c);
	}
	g_ptr_array_free(ctxs, TRUE);
	g_ptr_array_free(keep, TRUE);
	g_array_free(calls, TRUE);
	summary_free(overview);
	apps_free(apps);
	g_string_chunk_free(text);
	g_free(generated);
	g_free(html);
	g_free(used);
	close(dirfd);
	return code;
}
