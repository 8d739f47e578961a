#include "table.h"
#include "term.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <glib.h>
#include <libsmartcols.h>

struct table {
	struct libscols_table *tb;
	size_t n;
};

struct table *table_new(const struct table_column *cols, size_t n, bool color, unsigned width)
{
	struct libscols_table *tb = scols_new_table();
	if (!tb)
		return NULL;
	struct table *t = g_new0(struct table, 1);
	t->tb = tb;
	t->n = n;
	scols_table_enable_colors(tb, color);
	/* Cells are cleaned here already; the rest of UTF-8 is text. */
	scols_table_enable_noencoding(tb, 1);
	/* Fit WIDTH on a terminal and in a pipe alike. */
	scols_table_set_termforce(tb, SCOLS_TERMFORCE_ALWAYS);
	scols_table_set_termwidth(tb, width);
	for (size_t i = 0; i < n; i++) {
		int flags = (cols[i].right ? SCOLS_FL_RIGHT : 0) | (cols[i].trunc ? SCOLS_FL_TRUNC : 0) |
			    (cols[i].hidden ? SCOLS_FL_HIDDEN : 0);
		scols_table_new_column(tb, cols[i].name, cols[i].width_hint, flags);
	}
	return t;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	scols_unref_table(t->tb);
	g_free(t);
}

void table_add(struct table *t, const char *const *cells, size_t color_column, const char *cell_color)
{
	struct libscols_line *ln = scols_table_new_line(t->tb, NULL);
	if (!ln)
		return;
	for (size_t i = 0; i < t->n; i++) {
		char *clean = term_clean(cells[i] ? cells[i] : "-");
		scols_line_refer_data(ln, i, clean ? strdup(clean) : NULL);
		g_free(clean);
	}
	if (cell_color && color_column < t->n)
		scols_cell_set_color(scols_line_get_cell(ln, color_column), cell_color);
}

int table_print(struct table *t, FILE *out)
{
	scols_table_set_stream(t->tb, out);
	int r = scols_print_table(t->tb);
	return r < 0 ? r : 0;
}

bool table_want_color(const char *when, int fd)
{
	if (!when || !strcmp(when, "auto")) {
		const char *no = getenv("NO_COLOR");
		return !(no && *no) && isatty(fd);
	}
	return !strcmp(when, "always");
}

unsigned table_width(int fd)
{
	struct winsize ws;
	if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}
