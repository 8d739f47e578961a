#include "ctl.h"
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

static const char *const status_names[] = { "accepted", "late", "review", "unrelated" };

static void print_json(FILE *out, JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_indent(gen, 2);
	json_generator_set_root(gen, node);
	g_autofree char *text = json_generator_to_data(gen, NULL);
	fprintf(out, "%s\n", text);
}

static void add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void add_int(JsonBuilder *b, const char *name, int64_t value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static void add_int_or_null(JsonBuilder *b, const char *name, int64_t value, bool present)
{
	json_builder_set_member_name(b, name);
	if (present)
		json_builder_add_int_value(b, value);
	else
		json_builder_add_null_value(b);
}

static char *iso_local(int64_t t)
{
	if (!t)
		return NULL;
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	return dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z") : NULL;
}

/* ---- JSON of one record ---- */

struct json_ctx {
	struct store *st;
	JsonBuilder *b;
	bool detail; /* show: everything we know */
};

static int add_attachment(const struct store_attachment *a, void *userdata)
{
	struct json_ctx *c = userdata;
	JsonBuilder *b = c->b;
	json_builder_begin_object(b);
	add_str(b, "filename", a->filename);
	add_str(b, "content_type", a->content_type);
	add_int(b, "size", (int64_t)a->size);
	add_str(b, "sha256", a->sha256);
	if (c->detail)
		add_str(b, "part", a->part_path);
	json_builder_end_object(b);
	return 0;
}

static void add_reasons(JsonBuilder *b, const char *reasons)
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

static int add_message(const struct store_message *m, void *userdata)
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
	add_int(b, "size", (int64_t)(m->raw ? m->raw_size : m->server_size));
	add_str(b, "sha256", m->raw_sha256);
	if (c->detail) {
		add_str(b, "internaldate", m->internaldate);
		add_int(b, "server_size", (int64_t)m->server_size);
		add_int(b, "raw_size", (int64_t)m->raw_size);
		g_autofree char *rec = iso_local(m->recorded_at);
		add_str(b, "recorded_at", rec);
	}
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_array(b);
	int r = store_foreach_attachment(c->st, m->id, false, add_attachment, c);
	json_builder_end_array(b);
	json_builder_end_object(b);
	return r;
}

/* ---- status ---- */

struct mb_ctx {
	JsonBuilder *b;
	FILE *out;
};

static int status_mailbox(const struct store_mailbox *mb, void *userdata)
{
	struct mb_ctx *c = userdata;
	if (c->b) {
		json_builder_begin_object(c->b);
		add_str(c->b, "mailbox", mb->mailbox);
		add_int(c->b, "uidvalidity", mb->uidvalidity);
		add_int(c->b, "last_uid", mb->last_uid);
		json_builder_end_object(c->b);
	} else {
		g_autofree char *name = term_clean(mb->mailbox);
		fprintf(c->out, "Watermark:    %s UIDVALIDITY %u, every UID up to %u recorded\n", name, mb->uidvalidity,
			mb->last_uid);
	}
	return 0;
}

static char *human_time(int64_t t)
{
	if (!t)
		return g_strdup("never");
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %Z");
}

int ctl_status(struct store *st, FILE *out, bool json)
{
	struct store_status s;
	if (store_get_status(st, &s) < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	int r;
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		add_int(b, "total", s.total);
		json_builder_set_member_name(b, "by_status");
		json_builder_begin_object(b);
		for (size_t i = 0; i < G_N_ELEMENTS(status_names); i++)
			add_int(b, status_names[i], s.by_status[i]);
		json_builder_end_object(b);
		add_int(b, "duplicates", s.duplicates);
		g_autofree char *lp = iso_local(s.last_poll_at);
		g_autofree char *ls = iso_local(s.last_success_at);
		add_str(b, "last_poll", lp);
		add_str(b, "last_success", ls);
		add_str(b, "last_error", s.last_error);
		json_builder_set_member_name(b, "mailboxes");
		json_builder_begin_array(b);
		struct mb_ctx c = { .b = b };
		r = store_foreach_mailbox(st, status_mailbox, &c);
		json_builder_end_array(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		if (r == 0)
			print_json(out, root);
	} else {
		fprintf(out, "Messages:     %" G_GINT64_FORMAT " recorded", s.total);
		if (s.duplicates)
			fprintf(out, " (%" G_GINT64_FORMAT " duplicate deliveries)", s.duplicates);
		fprintf(out, "\n");
		for (size_t i = 0; i < G_N_ELEMENTS(status_names); i++)
			fprintf(out, "  %-10s  %" G_GINT64_FORMAT "\n", status_names[i], s.by_status[i]);
		struct mb_ctx c = { .out = out };
		r = store_foreach_mailbox(st, status_mailbox, &c);
		g_autofree char *lp = human_time(s.last_poll_at);
		g_autofree char *ls = human_time(s.last_success_at);
		fprintf(out, "Last poll:    %s%s\n", lp, s.last_poll_at && !s.last_error ? " (ok)" : "");
		if (s.last_error) {
			g_autofree char *e = term_clean(s.last_error);
			fprintf(out, "Last success: %s\nLast error:   %s\n", ls, e);
		}
	}
	g_free(s.last_error);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

/* ---- list ---- */

#define COL_ID 5
#define COL_WHEN 16
#define COL_STATUS 9
#define COL_ATT 3
#define TABLE_WIDTH 80

static int list_row(const struct store_message *m, void *userdata)
{
	FILE *out = userdata;
	char id[16];
	g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, m->id);
	/* "2022-06-15T10:12:00+02:00" -> "2022-06-15 10:12" */
	char when[COL_WHEN + 1] = "-";
	if (m->received_at && strlen(m->received_at) >= 16) {
		memcpy(when, m->received_at, 16);
		when[10] = ' ';
		when[16] = '\0';
	}
	g_autofree char *status = g_strdup_printf("%s%s", m->status, m->duplicate_of ? "*" : "");
	const char *who = m->applicant ? m->applicant : m->subject ? m->subject : "(no subject)";
	size_t rest = TABLE_WIDTH - (COL_ID + 1 + COL_WHEN + 1 + COL_STATUS + 1 + COL_ATT + 1);
	g_autofree char *who_fit = term_fit(who, rest, 0);
	fprintf(out, "%*s %-*s %-*s %*zu %s\n", COL_ID, id, COL_WHEN, when, COL_STATUS, status, COL_ATT,
		m->n_attachments, who_fit);
	return 0;
}

int ctl_list(struct store *st, FILE *out, bool json)
{
	int r;
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		struct json_ctx c = { .st = st, .b = b };
		json_builder_begin_array(b);
		r = store_foreach_message(st, 0, false, add_message, &c);
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		if (r == 0)
			print_json(out, root);
	} else {
		fprintf(out, "%*s %-*s %-*s %*s %s\n", COL_ID, "ID", COL_WHEN, "RECEIVED", COL_STATUS, "STATUS",
			COL_ATT, "ATT", "APPLICANT / SUBJECT");
		r = store_foreach_message(st, 0, false, list_row, out);
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

/* ---- show ---- */

struct show_ctx {
	FILE *out;
};

static void show_line(FILE *out, const char *label, const char *value)
{
	g_autofree char *v = term_clean(value ? value : "-");
	fprintf(out, "%-13s %s\n", label, v);
}

static int show_attachment(const struct store_attachment *a, void *userdata)
{
	FILE *out = userdata;
	g_autofree char *name = term_clean(a->filename ? a->filename : "(no name)");
	g_autofree char *type = term_clean(a->content_type);
	fprintf(out, "  %d. %s\n     %s, %" G_GUINT64_FORMAT " bytes, part %s\n     sha256 %s\n", a->seq, name, type,
		a->size, a->part_path ? a->part_path : "-", a->sha256);
	return 0;
}

static int show_human(const struct store_message *m, void *userdata)
{
	struct show_ctx *c = userdata;
	FILE *out = c->out;
	char buf[64];
	g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, m->id);
	show_line(out, "Record:", buf);
	show_line(out, "Status:", m->status);
	show_line(out, "Call:", m->call);
	show_line(out, "Applicant:", m->applicant);
	show_line(out, "On time:", m->on_time < 0 ? "-" : m->on_time ? "yes" : "no");
	show_line(out, "Reasons:", m->reasons);
	if (m->flags)
		show_line(out, "Flags:", m->flags);
	if (m->duplicate_of) {
		g_snprintf(buf, sizeof(buf), "record %" G_GINT64_FORMAT " (same raw bytes)", m->duplicate_of);
		show_line(out, "Duplicate of:", buf);
	}
	show_line(out, "Subject:", m->subject);
	g_autofree char *from = m->from_name ? g_strdup_printf("%s <%s>", m->from_name, m->from_addr ? m->from_addr : "")
					     : g_strdup(m->from_addr);
	show_line(out, "From:", from);
	show_line(out, "Message-ID:", m->message_id);
	show_line(out, "Arrived:", m->received_at);
	show_line(out, "INTERNALDATE:", m->internaldate);
	show_line(out, "Date header:", m->date_header);
	g_autofree char *where = g_strdup_printf("%s, UIDVALIDITY %u, UID %u", m->mailbox, m->uidvalidity, m->uid);
	show_line(out, "Mailbox:", where);
	g_autofree char *size = m->raw ? g_strdup_printf("%zu bytes, sha256 %s", m->raw_size, m->raw_sha256)
				       : g_strdup_printf("not stored (server size %" G_GUINT64_FORMAT " bytes)", m->server_size);
	show_line(out, "Raw message:", size);
	g_autofree char *rec = human_time(m->recorded_at);
	show_line(out, "Recorded:", rec);
	fprintf(out, "Attachments:  %zu\n", m->n_attachments);
	return 0;
}

int ctl_show(struct store *st, FILE *out, int64_t id, bool json)
{
	int r;
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		struct json_ctx c = { .st = st, .b = b, .detail = true };
		r = store_foreach_message(st, id, false, add_message, &c);
		g_autoptr(JsonNode) root = r == 0 ? json_builder_get_root(b) : NULL;
		if (root)
			print_json(out, root);
	} else {
		struct show_ctx c = { .out = out };
		r = store_foreach_message(st, id, false, show_human, &c);
		if (r == 0)
			r = store_foreach_attachment(st, id, false, show_attachment, out);
	}
	if (r == -ENOENT) {
		fprintf(stderr, "puljectl: no record with id %" G_GINT64_FORMAT "\n", id);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

/* ---- extract ---- */

struct extract_ctx {
	int dirfd;
	FILE *out;
	const char *dir;
	int written;
};

static int write_all(int fd, const uint8_t *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates NAME in the directory, or "stem (2).ext", "stem (3).ext" … when
 * it exists: O_EXCL never overwrites, O_NOFOLLOW never follows a link. */
static int create_unique(int dirfd, const char *name, char **used)
{
	const char *dot = strrchr(name, '.');
	g_autofree char *stem = dot && dot != name ? g_strndup(name, (gsize)(dot - name)) : g_strdup(name);
	const char *ext = dot && dot != name ? dot : "";
	for (int i = 1; i < 1000; i++) {
		g_autofree char *try = i == 1 ? g_strdup(name) : g_strdup_printf("%s (%d)%s", stem, i, ext);
		int fd = openat(dirfd, try, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd >= 0) {
			*used = g_steal_pointer(&try);
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int extract_one(const struct store_attachment *a, void *userdata)
{
	struct extract_ctx *c = userdata;
	g_autofree char *fallback = g_strdup_printf("attachment-%d", a->seq);
	g_autofree char *name = term_safe_filename(a->filename, fallback);
	g_autofree char *used = NULL;
	int fd = create_unique(c->dirfd, name, &used);
	if (fd < 0) {
		fprintf(stderr, "puljectl: cannot create %s in %s: %s\n", name, c->dir, g_strerror(-fd));
		return CTL_EXIT_FAILURE;
	}
	int r = write_all(fd, a->data, (size_t)a->size);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "puljectl: cannot write %s/%s: %s\n", c->dir, used, g_strerror(-r));
		unlinkat(c->dirfd, used, 0);
		return CTL_EXIT_FAILURE;
	}
	g_autofree char *shown = term_clean(used);
	fprintf(c->out, "%s/%s\t%" G_GUINT64_FORMAT " bytes\tsha256 %s\n", c->dir, shown, a->size, a->sha256);
	c->written++;
	return 0;
}

static int check_exists(const struct store_message *m, void *userdata)
{
	return 0;
}

int ctl_extract(struct store *st, FILE *out, int64_t id, const char *dir)
{
	int r = store_foreach_message(st, id, false, check_exists, NULL);
	if (r == -ENOENT) {
		fprintf(stderr, "puljectl: no record with id %" G_GINT64_FORMAT "\n", id);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "puljectl: cannot open directory %s: %s\n", dir, g_strerror(errno));
		return CTL_EXIT_FAILURE;
	}
	struct extract_ctx c = { .dirfd = dirfd, .out = out, .dir = dir };
	r = store_foreach_attachment(st, id, true, extract_one, &c);
	close(dirfd);
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	if (r > 0)
		return r;
	if (c.written == 0)
		fprintf(stderr, "puljectl: record %" G_GINT64_FORMAT " has no attachments\n", id);
	return CTL_EXIT_OK;
}
