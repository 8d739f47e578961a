/* Unit tests for export: CSV quoting as Excel and Python's csv module read
 * it, and formula injection neutralised. */
#include "export.h"

#include <glib.h>

static void test_fields(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ NULL, "" },
		{ "", "" },
		{ "Region Midtjylland", "Region Midtjylland" },
		{ "Københavns Kommune", "Københavns Kommune" },
		{ "a;b", "\"a;b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\r\nlines", "\"two\r\nlines\"" },
		{ " padded ", "\" padded \"" },
		{ "=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"" },
		{ "+45 12345678", "'+45 12345678" },
		{ "-1", "'-1" },
		{ "@SUM(A1)", "'@SUM(A1)" },
		{ "2022-07-01T23:59:59+02:00", "2022-07-01T23:59:59+02:00" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *f = export_csv_field(cases[i].in);
		g_assert_cmpstr(f, ==, cases[i].out);
	}
}

static void test_record(void)
{
	GString *s = g_string_new(EXPORT_CSV_BOM);
	const char *row[] = { "Ærø Kommune", "accepted", NULL, "a;b" };
	export_csv_record(s, row, G_N_ELEMENTS(row));
	g_assert_cmpstr(s->str, ==,
			"\xEF\xBB\xBF"
			"Ærø Kommune;accepted;;\"a;b\"\r\n");
	g_string_free(s, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/export/fields", test_fields);
	g_test_add_func("/export/record", test_record);
	return g_test_run();
}
