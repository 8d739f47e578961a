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
	g_autofree char *b = term_clean("ok \xc2\x9b" "31m"); /* C1 CSI */
	g_assert_null(strstr(b, "\xc2\x9b"));
	g_autofree char *c = term_clean("abc\xe2\x80\xae" "fdp.exe"); /* RLO */
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
	{ "a\nb\x01" "c.pdf", "a b c.pdf" },
	{ "what?.pdf", "what_.pdf" },
	{ "a:b*c|d<e>f\".pdf", "a_b_c_d_e_f_.pdf" },
	{ "trailing dots...", "trailing dots" },
};

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
	return g_test_run();
}
