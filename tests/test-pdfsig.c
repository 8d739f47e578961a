/* PDF signatures: fixtures made at test time by tests/gen/pdfsign.py
 * (openssl cms over real /ByteRange spans), checked by pdfsig_check and
 * cross-checked against poppler's pdfsig where it gives a verdict. */
#include "pdfsig.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static JsonObject *poppler; /* name -> {verdict} */

static void check(const char *name, enum cms_status want, const char *signer, int covers, bool trusted_known,
		  int trusted)
{
	g_autofree char *path = g_strdup_printf("%s/%s.pdf", dir, name);
	g_autofree char *pdf = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &pdf, &len, NULL));
	g_autofree char *root = g_strdup_printf("%s/pki/root.pem", dir);
	struct cms_trust *trust = trusted_known ? cms_trust_load(root) : NULL;
	if (trusted_known)
		g_assert_nonnull(trust);
	struct pdfsig_result r;
	pdfsig_check((const uint8_t *)pdf, len, trust, &r);
	g_test_message("%s: %s signer=%s covers=%d trusted=%d why=%s", name, cms_status_name(r.status),
		       r.signer ? r.signer : "-", r.covers_whole_file, r.trusted, r.why ? r.why : "-");
	g_assert_cmpstr(cms_status_name(r.status), ==, cms_status_name(want));
	if (signer)
		g_assert_cmpstr(r.signer, ==, signer);
	if (want == CMS_VALID) {
		g_assert_true(r.has_time);
		g_assert_cmpint(r.covers_whole_file, ==, covers);
	}
	if (trusted_known)
		g_assert_cmpint(r.trusted, ==, trusted);
	/* poppler agrees wherever it gives a verdict. */
	if (poppler && json_object_has_member(poppler, name)) {
		JsonObject *p = json_object_get_object_member(poppler, name);
		JsonNode *v = json_object_get_member(p, "verdict");
		if (v && !JSON_NODE_HOLDS_NULL(v))
			g_assert_cmpstr(json_node_get_string(v), ==, cms_status_name(r.status));
	}
	pdfsig_result_clear(&r);
	cms_trust_free(trust);
}

static void test_valid(void) { check("signed_valid", CMS_VALID, "Mette Hansen", 1, true, 1); }
static void test_single(void) { check("signed_single", CMS_VALID, "Mette Hansen", 1, false, -1); }
static void test_tampered(void) { check("signed_tampered", CMS_INVALID, NULL, 0, false, -1); }
static void test_appended(void) { check("signed_appended", CMS_VALID, "Mette Hansen", 0, true, 1); }
static void test_mallory(void) { check("signed_mallory", CMS_VALID, "Mallory", 1, true, 0); }
static void test_unsigned(void) { check("unsigned", CMS_NONE, NULL, 0, false, -1); }
static void test_lying(void) { check("byterange_lying", CMS_INVALID, NULL, 0, false, -1); }
static void test_huge(void) { check("byterange_huge", CMS_INVALID, NULL, 0, false, -1); }
static void test_truncated(void) { check("contents_truncated", CMS_INVALID, NULL, 0, false, -1); }

static void test_mentions_form(void)
{
	g_autofree char *path = g_strdup_printf("%s/form.pdf", dir);
	g_autofree char *pdf = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &pdf, &len, NULL));
	g_assert_true(pdfsig_mentions_form((const uint8_t *)pdf, len));
	/* A scan has no text to say so. */
	g_autofree char *scan = g_strdup_printf("%s/unsigned.pdf", dir);
	g_autofree char *spdf = NULL;
	g_assert_true(g_file_get_contents(scan, &spdf, &len, NULL));
	g_assert_false(pdfsig_mentions_form((const uint8_t *)spdf, len));
	g_assert_false(pdfsig_mentions_form((const uint8_t *)"%PDF-1.4 nothing here", 21));
}

static void test_garbage(void)
{
	/* Fragments that look like signatures but are not. */
	static const char *const inputs[] = {
		"%PDF-1.4 /ByteRange", "%PDF-1.4 /ByteRange [", "%PDF-1.4 /ByteRange [0 1 2 3]",
		"%PDF-1.4 /ByteRange [0 10 20 5] /Contents <00>", "%PDF /ByteRange [0 5 9 0] /Contents <30>",
		"%PDF /ByteRange [0 0 0 0]", "/ByteRange [0 999999999999999999999 0 0]",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
		struct pdfsig_result r;
		pdfsig_check((const uint8_t *)inputs[i], strlen(inputs[i]), NULL, &r);
		g_assert_cmpint(r.status, ==, CMS_INVALID);
		pdfsig_result_clear(&r);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	dir = g_dir_make_tmp("puljed-pdfsig-XXXXXX", NULL);
	g_autofree char *gen = g_build_filename(g_getenv("PULJED_SRCDIR"), "tests", "gen", "pdfsign.py", NULL);
	g_autofree char *pdfsig_tool = g_find_program_in_path("pdfsig");
	const char *cross = pdfsig_tool ? NULL : "--no-pdfsig";
	const char *args[] = { "/usr/bin/python3", gen, dir, cross, NULL };
	int status = 0;
	g_autoptr(GError) err = NULL;
	if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &err) ||
	    !g_spawn_check_wait_status(status, NULL))
		g_error("generating the PDF fixtures failed: %s", err ? err->message : "non-zero exit");
	g_autofree char *vpath = g_strdup_printf("%s/verdicts.json", dir);
	JsonParser *p = json_parser_new();
	if (!cross && json_parser_load_from_file(p, vpath, NULL))
		poppler = json_node_get_object(json_parser_get_root(p));
	g_test_add_func("/pdfsig/valid", test_valid);
	g_test_add_func("/pdfsig/single-revision", test_single);
	g_test_add_func("/pdfsig/tampered", test_tampered);
	g_test_add_func("/pdfsig/appended", test_appended);
	g_test_add_func("/pdfsig/untrusted-signer", test_mallory);
	g_test_add_func("/pdfsig/unsigned", test_unsigned);
	g_test_add_func("/pdfsig/byterange-lying", test_lying);
	g_test_add_func("/pdfsig/byterange-huge", test_huge);
	g_test_add_func("/pdfsig/contents-truncated", test_truncated);
	g_test_add_func("/pdfsig/mentions-form", test_mentions_form);
	g_test_add_func("/pdfsig/garbage", test_garbage);
	int r = g_test_run();
	g_object_unref(p);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		r = 1;
	g_free(dir);
	return r;
}
