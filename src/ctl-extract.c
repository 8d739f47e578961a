/* ctl-extract: puljectl extract — a record's attachments into a directory. */
#include "ctl-common.h"
#include "file.h"
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- extract ---- */

struct extract_ctx {
	int dirfd;
	FILE *out;
	const char *dir;
	int written;
};

static int extract_one(const struct store_attachment *a, void *userdata)
{
	struct extract_ctx *c = userdata;
	g_autofree char *fallback = g_strdup_printf("attachment-%d", a->seq);
	g_autofree char *name = term_safe_filename(a->filename, fallback);
	g_autofree char *used = NULL;
	int fd = file_create_unique(c->dirfd, name, 0640, &used);
	if (fd < 0) {
		fprintf(stderr, "puljectl: cannot create %s in %s: %s\n", name, c->dir, g_strerror(-fd));
		return CTL_EXIT_FAILURE;
	}
	int r = file_write_all(fd, a->data, (size_t)a->size);
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
	if (r < 0)
		return ctl_record_exit(st, id, r);
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
