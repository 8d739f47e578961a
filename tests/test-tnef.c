/* TNEF: winmail.dat made at test time by tests/gen/tnef.py (an
 * MS-OXTNEF writer); the decoder must find both files with their long
 * names and exact bytes, refuse corrupt input, accept checksums that do
 * not match (counted), and survive mutations. */
#include "tnef.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static char *slurp(const char *name, gsize *len)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	char *data = NULL;
	g_assert_true(g_file_get_contents(path, &data, len, NULL));
	return data;
}

static void test_files(void)
{
	gsize len, blen;
	g_autofree char *dat = slurp("winmail.dat", &len);
	g_autofree char *budget = slurp("budget.xlsx", &blen);
	struct tnef_result r;
	const char *why = NULL;
	g_assert_cmpint(tnef_parse((const uint8_t *)dat, len, &r, &why), ==, 0);
	g_assert_cmpuint(r.n_files, ==, 2);
	g_assert_cmpstr(r.files[0].name, ==, "Ansøgningsskema.pdf");
	g_assert_true(r.files[0].size > 5 && !memcmp(r.files[0].data, "%PDF-", 5));
	g_assert_cmpstr(r.files[1].name, ==, "Budget 2022.xlsx");
	g_assert_cmpuint(r.files[1].size, ==, blen);
	g_assert_true(!memcmp(r.files[1].data, budget, blen));
	tnef_result_clear(&r);
}

/* Checksums written as zero (some writers do; libytnef only warns): the
 * files come out all the same, and the mismatches are counted. */
static void test_zero_checksum(void)
{
	gsize len, glen, blen;
	g_autofree char *dat = slurp("winmail_zero_checksum.dat", &len);
	g_autofree char *good = slurp("winmail.dat", &glen);
	g_autofree char *budget = slurp("budget.xlsx", &blen);
	g_assert_cmpuint(len, ==, glen);
	struct tnef_result r, g;
	const char *why = NULL;
	g_assert_cmpint(tnef_parse((const uint8_t *)good, glen, &g, &why), ==, 0);
	g_assert_cmpuint(g.bad_checksums, ==, 0);
	g_assert_cmpint(tnef_parse((const uint8_t *)dat, len, &r, &why), ==, 0);
	g_assert_null(why);
	g_assert_cmpuint(r.bad_checksums, >, 0);
	g_test_message("winmail_zero_checksum.dat: %zu files, %zu checksums did not match", r.n_files, r.bad_checksums);
	g_assert_cmpuint(r.n_files, ==, 2);
	g_assert_cmpstr(r.files[0].name, ==, "Ansøgningsskema.pdf");
	g_assert_cmpuint(r.files[0].size, ==, g.files[0].size);
	g_assert_true(!memcmp(r.files[0].data, g.files[0].data, g.files[0].size));
	g_assert_cmpstr(r.files[1].name, ==, "Budget 2022.xlsx");
	g_assert_cmpuint(r.files[1].size, ==, blen);
	g_assert_true(!memcmp(r.files[1].data, budget, blen));
	tnef_result_clear(&r);
	tnef_result_clear(&g);
	/* The bounds stay strict: a lying length with zero checksums is
	 * still refused. */
	gsize llen;
	g_autofree char *lying = slurp("winmail_lying.dat", &llen);
	for (gsize i = 6; i + 9 <= llen;) {
		uint32_t n = (uint32_t)(uint8_t)lying[i + 5] | (uint32_t)(uint8_t)lying[i + 6] << 8 |
			     (uint32_t)(uint8_t)lying[i + 7] << 16 | (uint32_t)(uint8_t)lying[i + 8] << 24;
		if (n > llen - i - 9 - 2)
			break;
		lying[i + 9 + n] = lying[i + 9 + n + 1] = 0;
		i += 9 + n + 2;
	}
	g_assert_cmpint(tnef_parse((const uint8_t *)lying, llen, &r, &why), <, 0);
	g_assert_nonnull(why);
	tnef_result_clear(&r);
}

static void test_corrupt(void)
{
	const char *names[] = { "winmail_truncated.dat", "winmail_lying.dat" };
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		gsize len;
		g_autofree char *dat = slurp(names[i], &len);
		struct tnef_result r;
		const char *why = NULL;
		g_assert_cmpint(tnef_parse((const uint8_t *)dat, len, &r, &why), <, 0);
		g_assert_nonnull(why);
		tnef_result_clear(&r);
	}
	struct tnef_result r;
	const char *why;
	g_assert_cmpint(tnef_parse((const uint8_t *)"", 0, &r, &why), <, 0);
	g_assert_cmpint(tnef_parse((const uint8_t *)"\x78\x9f\x3e\x22", 4, &r, &why), <, 0);
}

static void test_mutations(void)
{
	/* Every prefix, and 20,000 seeded random byte mutations: the decoder
	 * returns, within the input, every time (ASan checks the reads). */
	gsize len;
	g_autofree char *dat = slurp("winmail.dat", &len);
	for (gsize cut = 0; cut < len; cut++) {
		uint8_t *copy = g_memdup2(dat, cut ? cut : 1);
		struct tnef_result r;
		const char *why;
		tnef_parse(copy, cut, &r, &why);
		tnef_result_clear(&r);
		g_free(copy);
	}
	GRand *rand = g_rand_new_with_seed(20220701);
	for (int i = 0; i < 20000; i++) {
		uint8_t *copy = g_memdup2(dat, len);
		int n = g_rand_int_range(rand, 1, 8);
		for (int k = 0; k < n; k++)
			copy[g_rand_int_range(rand, 0, (gint32)len)] = (uint8_t)g_rand_int_range(rand, 0, 256);
		struct tnef_result r;
		const char *why;
		tnef_parse(copy, len, &r, &why);
		for (size_t f = 0; f < r.n_files; f++)
			g_assert_true(!r.files[f].data ||
				      (r.files[f].data >= copy && r.files[f].data + r.files[f].size <= copy + len));
		tnef_result_clear(&r);
		g_free(copy);
	}
	g_rand_free(rand);
}

/* An empty TNEF part, as GMime gives it: NULL, 0 (found by fuzz-ingest,
 * fixtures/fuzz/tnef-part-empty.eml; UBSan: "applying zero offset to
 * null pointer"). */
static void test_empty(void)
{
	struct tnef_result r;
	const char *why = NULL;
	g_assert_cmpint(tnef_parse(NULL, 0, &r, &why), ==, -EBADMSG);
	g_assert_cmpstr(why, ==, "not TNEF");
	g_assert_cmpuint(r.n_files, ==, 0);
	tnef_result_clear(&r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	dir = g_dir_make_tmp("puljed-tnef-XXXXXX", NULL);
	g_autofree char *gen = g_build_filename(g_getenv("PULJED_SRCDIR"), "tests", "gen", "tnef.py", NULL);
	const char *args[] = { "/usr/bin/python3", gen, dir, NULL };
	int status = 0;
	if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
			  NULL) ||
	    !g_spawn_check_wait_status(status, NULL))
		g_error("generating the TNEF fixtures failed");
	g_test_add_func("/tnef/files", test_files);
	g_test_add_func("/tnef/zero-checksum", test_zero_checksum);
	g_test_add_func("/tnef/corrupt", test_corrupt);
	g_test_add_func("/tnef/mutations", test_mutations);
	g_test_add_func("/tnef/empty", test_empty);
	int r = g_test_run();
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		r = 1;
	g_free(dir);
	return r;
}
