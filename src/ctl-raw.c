/* ctl-raw: puljectl raw — a record's raw message, byte for byte. */
#include "ctl-common.h"
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- raw ---- */

struct raw_ctx {
	FILE *out;
	const char *output; /* a new file, else OUT */
	int error;          /* an exit status once something failed */
};

/* Writes the raw bytes of M (checked against their SHA-256 by the store
 * before they reach here) to a new file PATH: never over an existing one,
 * never through a link; a file not written whole is removed. */
static int raw_to_file(const struct store_message *m, const char *path)
{
	int r = file_write_exclusive(AT_FDCWD, path, 0640, m->raw, m->raw_size);
	if (r < 0) {
		fprintf(stderr, "puljectl: raw: cannot write %s: %s%s\n", path, g_strerror(-r),
			r == -EEXIST ? " (nothing is overwritten: give a new file)" : "");
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

static int raw_one(const struct store_message *m, void *userdata)
{
	struct raw_ctx *c = userdata;
	if (!m->raw) {
		fprintf(stderr,
			"puljectl: raw: record %" G_GINT64_FORMAT
			" was recorded without its message (server "
			"size %" G_GUINT64_FORMAT
			" bytes: too large to fetch, or gone before it was fetched); "
			"there is nothing to write\n",
			m->id, m->server_size);
		c->error = CTL_EXIT_FAILURE;
		return 0;
	}
	if (c->output)
		c->error = raw_to_file(m, c->output);
	else if (fwrite(m->raw, 1, m->raw_size, c->out) != m->raw_size || fflush(c->out) != 0) {
		fprintf(stderr, "puljectl: raw: cannot write to standard output: %s\n", g_strerror(errno));
		c->error = CTL_EXIT_FAILURE;
	}
	return 0;
}

int ctl_raw(struct store *st, FILE *out, int64_t id, const char *output)
{
	struct raw_ctx c = { .out = out, .output = output };
	int r = store_foreach_message(st, id, true, raw_one, &c);
	if (r < 0)
		return ctl_record_exit(st, id, r);
	return c.error;
}
