/* table: aligned terminal tables through libsmartcols (as lsblk and
 * findmnt draw theirs).  Cells are cleaned of control characters and bidi
 * overrides (term_clean) before they reach the terminal.  The table owns
 * copies of everything handed to it.  Widths are measured in the LC_CTYPE
 * locale, which must be UTF-8 (puljectl sets one). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <glib.h>

struct table_column {
	const char *name;
	double width_hint; /* < 1: a fraction of the width; >= 1: columns */
	bool right;        /* align right (numbers) */
	bool trunc;        /* may be cut to fit */
	bool hidden;       /* kept out of the output */
};

struct table;

/* COLOR: colour the cells given a colour; WIDTH: the width to fit. */
struct table *table_new(const struct table_column *cols, size_t n, bool color, unsigned width);
void table_free(struct table *t);
/* g_autoptr(Table) frees with table_free(). */
typedef struct table Table;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Table, table_free)

/* One row of N cells (NULL prints "-"); CELL_COLOR (may be NULL) names a
 * colour for the whole row's COLOR_COLUMN cell ("green", "red", …). */
void table_add(struct table *t, const char *const *cells, size_t color_column, const char *cell_color);

/* Prints the table to OUT.  Returns 0 or a negative errno. */
int table_print(struct table *t, FILE *out);

/* Whether to colour: WHEN is "auto" (colour when FD is a terminal and
 * NO_COLOR is unset or empty), "always" or "never". */
bool table_want_color(const char *when, int fd);

/* The width to fit: the terminal's when FD is one, else 80. */
unsigned table_width(int fd);
