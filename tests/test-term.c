/* Unit tests for term: what reaches the terminal, and extract's names. */
#include "term.h"

#include <glib.h>
#include <string.h>

static void test_clean(void)
{
	g_autofree char *a = term_clean("Region\x1b]0;pwned\x07 Midt\r\n");
	g_assert_null(strchr(a, 0x1b));
	g_assert_null(strchr(a, 0x07));
	g_assert_null(strchr(a, '\r'));
	g_autofree char *b = term_clean(
		"ok \xc2\x9b"
		"31m"); /* C1 CSI */
	g_assert_null(strstr(b, "\xc2\x9b"));
	g_autofree char *c = term_clean(
		"abc\xe2\x80\xae"
		"fdp.exe"); /* RLO */
	g_assert_null(strstr(c, "\xe2\x80\xae"));
	g_autofree char *d = term_clean("\xff\xfe");
	g_assert_true(g_utf8_validate(d, -1, NULL));
	g_autofree char *e = term_clean("Ærø Kommune");
	g_assert_cmpstr(e, ==, "Ærø Kommune");
}

static void test_fit(void)
{
	g_autofree char *a = term_fit("Ærø Kommune", 20, 1);
	g_assert_cmpuint(term_width(a), ==, 20);
	g_autofree char *b = term_fit("Professionshøjskolen Absalon", 10, 0);
	g_assert_cmpuint(term_width(b), ==, 10);
	g_assert_true(g_str_has_suffix(b, "\u2026"));
	g_autofree char *c = term_fit("日本語テキスト", 5, 0);
	g_assert_cmpuint(term_width(c), <=, 5);
}

static const struct {
	const char *in, *out;
} names[] = {
	{ "Ansøgningsskema.pdf", "Ansøgningsskema.pdf" },
	{ "../../etc/passwd", "passwd" },
	{ "/etc/shadow", "shadow" },
	{ "..\\..\\windows\\system32\\cmd.exe", "cmd.exe" },
	{ "..", "fallback" },
	{ ".", "fallback" },
	{ "", "fallback" },
	{ NULL, "fallback" },
	{ ".bashrc", "bashrc" },
	{ "-rf", "rf" },
	{ "CON", "_CON" },
	{ "con.pdf", "_con.pdf" },
	{ "LPT1.txt", "_LPT1.txt" },
	{ "COM9", "_COM9" },
	{ "a\nb\x01"
	  "c.pdf",
	  "a b c.pdf" },
	{ "what?.pdf", "what_.pdf" },
	{ "a:b*c|d<e>f\".pdf", "a_b_c_d_e_f_.pdf" },
	{ "trailing dots...", "trailing dots" },
};

/* Every line of S at most WIDTH columns, continuation lines indented. */
static void assert_wrapped(const char *s, size_t width, size_t indent)
{
	g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
	for (size_t i = 0; lines[i]; i++) {
		g_assert_cmpuint((i ? 0 : indent) + term_width(lines[i]), <=, width);
		if (i) {
			g_assert_cmpuint(strspn(lines[i], " "), ==, indent);
			g_assert_cmpint(lines[i][indent], !=, ' ');
		}
	}
}

static void test_wrap(void)
{
	const char *deadline =
		"on time, 16 d 13 h before the deadline — decided by the server's arrival time "
		"2022-06-15T10:12:00+02:00";
	g_autofree char *a = term_wrap(deadline, 80, 14);
	assert_wrapped(a, 80, 14);
	g_assert_cmpstr(a, ==,
			"on time, 16 d 13 h before the deadline — decided by the server's\n"
			"              arrival time 2022-06-15T10:12:00+02:00");
	/* Words survive whole when they fit on a line of their own. */
	g_autofree char *b = term_wrap(
		"8665 bytes, sha256 268c2251eb7ba628d34627bd00e301928fe9b93d91e6ba55491c9bca654b1b16", 80, 14);
	assert_wrapped(b, 80, 14);
	g_assert_nonnull(strstr(b, "\n              268c2251eb7ba628d34627bd00e301928fe9b93d91e6ba55491c9bca654b1b16"));
	/* A word longer than a line is cut across lines, nothing is lost. */
	const char *mid = "DB9PR02MB40374C2D73908617677D3A2546B@DB9PR02MB4037.eurprd02.prod.outlook.com";
	g_autofree char *c = term_wrap(mid, 80, 14);
	assert_wrapped(c, 80, 14);
	g_autofree char *joined = g_strdup(c);
	GString *j = g_string_new(NULL);
	g_auto(GStrv) parts = g_strsplit(joined, "\n", -1);
	for (size_t i = 0; parts[i]; i++)
		g_string_append(j, g_strchug(parts[i]));
	g_assert_cmpstr(j->str, ==, mid);
	g_string_free(j, TRUE);
	/* Control characters are cleaned; short text is unchanged; wide
	 * characters count two columns. */
	g_autofree char *d = term_wrap("Ærø\x1b[2J Kommune", 80, 14);
	g_assert_cmpstr(d, ==, "Ærø [2J Kommune");
	g_autofree char *e = term_wrap("日本語 日本語 日本語 日本語", 20, 8);
	assert_wrapped(e, 20, 8);
	g_autofree char *f = term_wrap("", 80, 14);
	g_assert_cmpstr(f, ==, "");
}

static void test_filenames(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *got = term_safe_filename(names[i].in, "fallback");
		g_assert_cmpstr(got, ==, names[i].out);
		g_assert_null(strchr(got, '/'));
	}
	GString *longname = g_string_new(NULL);
	for (int i = 0; i < 100; i++)
		g_string_append(longname, "ø");
	g_string_append(longname, ".pdf");
	g_autofree char *got = term_safe_filename(longname->str, "f");
	g_assert_cmpuint(strlen(got), <=, 180);
	g_assert_true(g_utf8_validate(got, -1, NULL));
	g_assert_true(g_str_has_suffix(got, ".pdf"));
	g_string_free(longname, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/term/clean", test_clean);
	g_test_add_func("/term/fit", test_fit);
	g_test_add_func("/term/filenames", test_filenames);
	g_test_add_func("/term/wrap", test_wrap);
	return g_test_run();
}
