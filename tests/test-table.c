/* Unit tests for table: libsmartcols tables that fit the width, keep
 * control characters off the terminal, and colour only when asked. */
#include "table.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

static char *render(bool color, unsigned width, const char *const *cells)
{
	static const struct table_column cols[] = {
		{ "ID", 5, true, false, false },
		{ "STATUS", 9, false, false, false },
		{ "APPLICANT / SUBJECT", 0.5, false, true, false },
		{ "HIDDEN", 5, false, false, true },
	};
	struct table *t = table_new(cols, G_N_ELEMENTS(cols), color, width);
	g_assert_nonnull(t);
	table_add(t, cells, 1, "green");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	g_assert_cmpint(table_print(t, f), ==, 0);
	fclose(f);
	table_free(t);
	return buf;
}

static void test_fit_and_clean(void)
{
	static const char long_subject[] =
		"Ærø Kommune \x1b[31mrød\x1b[0m \u202Eevil\u202C og en meget lang tekst "
		"der ikke kan være på én linje i en terminal med firs kolonner, slet ikke";
	const char *cells[] = { "12", "accepted", long_subject, "secret" };
	char *out = render(false, 80, cells);
	g_assert_nonnull(strstr(out, "ID"));
	g_assert_nonnull(strstr(out, "Ærø Kommune"));
	g_assert_null(strchr(out, '\x1b'));
	g_assert_null(strstr(out, "\u202E"));
	g_assert_null(strstr(out, "secret"));
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	for (size_t i = 0; lines[i]; i++)
		g_assert_cmpuint(g_utf8_strlen(lines[i], -1), <=, 80);
	free(out);

	/* NULL cells print "-". */
	const char *sparse[] = { "1", NULL, NULL, NULL };
	out = render(false, 80, sparse);
	g_assert_nonnull(strstr(out, " -"));
	free(out);
}

static void test_color(void)
{
	const char *cells[] = { "1", "accepted", "Region Midtjylland", "x" };
	char *plain = render(false, 80, cells);
	char *colored = render(true, 80, cells);
	g_assert_null(strchr(plain, '\x1b'));
	g_assert_nonnull(strstr(colored, "\x1b[32m"));
	free(plain);
	free(colored);

	g_assert_true(table_want_color("always", -1));
	g_assert_false(table_want_color("never", 1));
	setenv("NO_COLOR", "1", 1);
	g_assert_false(table_want_color("auto", 1));
	g_assert_true(table_want_color("always", 1));
	unsetenv("NO_COLOR");
	/* Not a terminal: no colour, width 80. */
	g_assert_false(table_want_color("auto", -1));
	g_assert_cmpuint(table_width(-1), ==, 80);
}

int main(int argc, char **argv)
{
	setlocale(LC_CTYPE, "C.UTF-8");
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/table/fit-and-clean", test_fit_and_clean);
	g_test_add_func("/table/color", test_color);
	return g_test_run();
}
