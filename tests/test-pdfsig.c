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

/* POPPLER_DIFFERS: why pdfsig's verdict is known to differ (then it is
 * only reported), or NULL. */
static void check2(const char *name, enum cms_status want, const char *signer, int covers, bool trusted_known,
		   int trusted, const char *poppler_differs)
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
		if (v && !JSON_NODE_HOLDS_NULL(v) && !poppler_differs)
			g_assert_cmpstr(json_node_get_string(v), ==, cms_status_name(r.status));
		else if (v && !JSON_NODE_HOLDS_NULL(v))
			g_test_message("%s: pdfsig says %s (%s)", name, json_node_get_string(v), poppler_differs);
	}
	pdfsig_result_clear(&r);
	cms_trust_free(trust);
}

static void check(const char *name, enum cms_status want, const char *signer, int covers, bool trusted_known,
		  int trusted)
{
	check2(name, want, signer, covers, trusted_known, trusted, NULL);
}

static int64_t signed_at(const char *name)
{
	g_autofree char *path = g_strdup_printf("%s/%s.pdf", dir, name);
	g_autofree char *pdf = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &pdf, &len, NULL));
	struct pdfsig_result r;
	pdfsig_check((const uint8_t *)pdf, len, NULL, &r);
	g_assert_true(r.has_time);
	int64_t t = r.signed_at;
	pdfsig_result_clear(&r);
	return t;
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

/* /ByteRange in /Info's strings is no signature (pdfsig: none). */
static void test_title_byterange(void) { check("unsigned_title_byterange", CMS_NONE, NULL, 0, false, -1); }

/* /Contents before /ByteRange with nearly 2 MiB of hex reserved: the key
 * is found that far back. */
static void test_big_contents_first(void)
{
	check("signed_big_contents_first", CMS_VALID, "Mette Hansen", 1, true, 1);
}

/* adbe.pkcs7.sha1: the CMS signs the SHA-1 digest of the ranges. */
static void test_subfilter_sha1(void) { check("signed_subfilter_sha1", CMS_VALID, "Mette Hansen", 1, true, 1); }

/* PAdES-LTA: a document timestamp after the signature is not a signer; the
 * signer's range no longer reaches the end (as pdfsig says).  A timestamp
 * whose message imprint does not match the file makes it invalid (pdfsig
 * does not verify timestamps and says valid). */
static void test_doc_timestamp(void)
{
	check("signed_doc_timestamp", CMS_VALID, "Mette Hansen", 0, true, 1);
	check2("signed_doc_timestamp_altered", CMS_INVALID, "Mette Hansen", 0, false, -1,
	       "pdfsig does not verify document timestamps");
}

/* The signer named by subjectKeyIdentifier among three certificates. */
static void test_keyid(void)
{
	check2("signed_keyid_chain", CMS_VALID, "Mette Hansen", 1, true, 1,
	       "NSS does not find a signer named by subjectKeyIdentifier");
}

/* The CMS in indefinite-length BER (openssl cms -stream): verified like
 * DER (openssl cms -verify agrees); one byte altered: invalid. */
static void test_ber(void)
{
	check2("signed_ber", CMS_VALID, "Mette Hansen", 1, true, 1,
	       "poppler reports a digest mismatch for indefinite-length CMS; openssl cms -verify says valid");
	check("signed_ber_tampered", CMS_INVALID, NULL, 0, false, -1);
}

/* No signingTime attribute: signed_at is the dictionary's /M,
 * D:20220615101200+02'00'; with one, the CMS signingTime. */
static void test_signed_at_from_m(void)
{
	g_assert_cmpint(signed_at("signed_noattr"), ==, 1655280720); /* 2022-06-15T08:12:00Z */
	g_assert_cmpint(signed_at("signed_valid"), !=, 1655280720);
}

/* A PDF of N_REPEAT copies of PIECE, inside one content stream (STREAM)
 * or as they are. */
static GString *repeated_pdf(const char *piece, int n_repeat, bool stream)
{
	GString *g = g_string_new("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
				  "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
				  "3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n");
	size_t body = strlen(piece) * (size_t)n_repeat;
	if (stream)
		g_string_append_printf(g, "4 0 obj\n<< /Length %zu >>\nstream\n", body);
	for (int i = 0; i < n_repeat; i++)
		g_string_append(g, piece);
	if (stream)
		g_string_append(g, "\nendstream\nendobj\n");
	g_string_append(g, "trailer\n<< /Root 1 0 R >>\n%%EOF\n");
	return g;
}

static enum cms_status timed_check(const char *what, GString *pdf, const char **why)
{
	struct pdfsig_result r;
	gint64 t0 = g_get_monotonic_time();
	pdfsig_check((const uint8_t *)pdf->str, pdf->len, NULL, &r);
	gint64 t1 = g_get_monotonic_time();
	g_test_message("%s: %.1f MB in %.1f ms: %s (%s)", what, (double)pdf->len / 1e6, (double)(t1 - t0) / 1e3,
		       cms_status_name(r.status), r.why ? r.why : "-");
	enum cms_status st = r.status;
	*why = r.why;
	pdfsig_result_clear(&r);
	return st;
}

/* The audit's denial of service: an unsigned PDF whose content stream
 * shows "/ByteRange [0 1 2 3]" 150,000 times took 85 s (every /ByteRange
 * rescanned the file from its start).  One pass now; the time is printed,
 * not asserted. */
static void test_dos_byterange_in_stream(void)
{
	const char *why;
	g_autoptr(GString) pdf = repeated_pdf("BT /ByteRange [0 1 2 3] /Contents <30> TJ ET\n", 150000, true);
	g_assert_cmpuint(pdf->len, >, 6000000);
	g_assert_cmpint(timed_check("150,000 /ByteRange in a stream", pdf, &why), ==, CMS_NONE);
	/* The same in strings, outside any stream. */
	g_autoptr(GString) str = repeated_pdf("5 0 obj\n<< /Title (/ByteRange [0 1 2 3]) >>\nendobj\n", 150000, false);
	g_assert_cmpint(timed_check("150,000 /ByteRange in strings", str, &why), ==, CMS_NONE);
	/* As keys of dictionaries: signatures, too many of them. */
	g_autoptr(GString) keys = repeated_pdf("<< /ByteRange [0 1 2 3] /Contents <30> >>\n", 150000, false);
	g_assert_cmpint(timed_check("150,000 /ByteRange keys", keys, &why), ==, CMS_INVALID);
	g_assert_cmpstr(why, ==, "too many /ByteRange");
	/* Names that are no keys count against the cap all the same. */
	g_autoptr(GString) names = repeated_pdf("<< /Names [/ByteRange /ByteRange] >>\n", 100000, false);
	g_assert_cmpint(timed_check("200,000 /ByteRange names", names, &why), ==, CMS_INVALID);
	g_assert_cmpstr(why, ==, "too many /ByteRange");
	/* Nine signature dictionaries, under the name cap: too many signatures. */
	g_autoptr(GString) nine = repeated_pdf("<< /ByteRange [0 1 2 3] /Contents <30> >>\n", PDFSIG_MAX_SIGNATURES + 1,
					       false);
	g_assert_cmpint(timed_check("nine signature dictionaries", nine, &why), ==, CMS_INVALID);
	g_assert_cmpstr(why, ==, "too many signatures");
}

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

	/* Every spelling, where a file says it, and what only looks like one. */
	static const struct {
		const char *text;
		bool form;
	} cases[] = {
		{ "(Ans\xc3\xb8gning om tilskud)", true },  { "(ans\xc3\xb8gning)", true },
		{ "(ANS\xc3\x98GNING)", true },	       { "(Ans\\370gning)", true },
		{ "(ans\xf8gning)", true },		       { "(Ansoegning)", true },
		{ "(Skema)", true },			       { "(SKEMA)", true },
		{ "(udfyld skemaet)", true },		       { "(Application form)", true },
		{ "(application form)", true },		       { "Ansoegning", true },
		{ "(Bns\xc3\xb8gning) (xkema) (Bpplication form)", false },
		{ "(sKEMA) (aNSOEGNING) (Application Form)", false },
		{ "(xkema) (skema)", true },		       /* a false start, then the word */
		{ "nsoegning kema", false },		       /* tails without a first letter */
		{ "skema", true },			       /* the first letter at the very start */
		{ "(Angning) (sgning) (Kema) (Ansxgning) (kem", false }, /* anchors without their word */
		{ "gning GNING kema KEMA pplication form", false },      /* anchors alone */
		{ "Ans\xc3\xb8gnin", false },		       /* cut short by the end */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *t = cases[i].text;
		if (pdfsig_mentions_form((const uint8_t *)t, strlen(t)) != cases[i].form)
			g_error("\"%s\": expected %s", t, cases[i].form ? "a form" : "no form");
	}
	/* Speed, printed (not asserted): 64 MB of random bytes, as in
	 * compressed streams, and of lower-case text, in 256 KB files. */
	for (int text = 0; text <= 1; text++) {
		size_t file = 256u << 10, files = 256;
		g_autofree uint8_t *data = g_malloc(file);
		GRand *rng = g_rand_new_with_seed(7);
		for (size_t k = 0; k < file; k++)
			data[k] = text ? (uint8_t)"abcdefghijklmnopqrstuvwxyz ()\n"[g_rand_int_range(rng, 0, 30)]
				       : (uint8_t)g_rand_int_range(rng, 0, 256);
		g_rand_free(rng);
		size_t hits = 0;
		gint64 t0 = g_get_monotonic_time();
		for (size_t f = 0; f < files; f++)
			hits += pdfsig_mentions_form(data, file);
		double s = (double)(g_get_monotonic_time() - t0) / 1e6;
		g_test_message("mentions_form on %s: %.0f MB/s (%zu of %zu files)", text ? "text" : "random bytes",
			       (double)(file * files) / 1e6 / (s > 0 ? s : 1e-9), hits, files);
	}
	/* Only the first 256 KB count, and a word cut by that edge does not. */
	size_t big = 256u << 10;
	g_autofree char *buf = g_malloc0(big + 64);
	memset(buf, 'x', big + 64);
	memcpy(buf + big - 5, "skema", 5);
	g_assert_true(pdfsig_mentions_form((const uint8_t *)buf, big + 64));
	memset(buf, 'x', big + 64);
	memcpy(buf + big - 4, "skema", 5);
	g_assert_false(pdfsig_mentions_form((const uint8_t *)buf, big + 64));
}

static void test_garbage(void)
{
	/* Signature dictionaries that are broken: invalid. */
	static const char *const inputs[] = {
		"%PDF-1.4\n<< /ByteRange [", "%PDF-1.4\n<< /ByteRange [0 1 2 3]",
		"%PDF-1.4\n<< /ByteRange [0 10 20 5] /Contents <00>", "%PDF\r<< /ByteRange [0 5 9 0] /Contents <30> >>",
		"%PDF\n<< /ByteRange [0 0 0 0] >>", "<< /ByteRange [0 999999999999999999999 0 0] >>",
		"<< /ByteRange [0 -1 2 3] >>", "<< /ByteRange [0 1 2] >>", "<</ByteRange[0 1 2 3]/Contents<30>>>",
		"<< /V << /ByteRange [0 1 2 3] >> >>", "<< /ByteRange [0 1 2 3] (unterminated",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
		struct pdfsig_result r;
		pdfsig_check((const uint8_t *)inputs[i], strlen(inputs[i]), NULL, &r);
		g_assert_cmpint(r.status, ==, CMS_INVALID);
		pdfsig_result_clear(&r);
	}
	/* A /ByteRange that is no key of a dictionary with an array value,
	 * or sits in a string, a comment or a stream: no signature. */
	static const char *const none[] = {
		"%PDF-1.4\n/ByteRange",
		"%PDF-1.4\n/ByteRange [0 1 2 3]",
		"%PDF-1.4 << /ByteRange [0 1 2 3] >>",
		"<< /Title (How to fill /ByteRange and /Contents) >>",
		"<< /Subject (/ByteRange [0 1 2 3] \\) /ByteRange [0 1 2 3]) >>",
		"<< /Subject (a (nested) /ByteRange [0 1 2 3]) >>",
		"<< /ByteRange /Foo >>",
		"<< /Names [/ByteRange [0 1 2 3]] >>",
		"<< /Foo /ByteRange [0 1 2 3] >>",
		"% << /ByteRange [0 1 2 3] >>\n",
		"<< /Length 30 >>\nstream\n<< /ByteRange [0 1 2 3] >>\nendstream",
		"<< /Hex <2F427974655261616E6765> /ByteRangeX [0 1 2 3] >>",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(none); i++) {
		struct pdfsig_result r;
		pdfsig_check((const uint8_t *)none[i], strlen(none[i]), NULL, &r);
		if (r.status != CMS_NONE)
			g_error("\"%s\": %s (%s)", none[i], cms_status_name(r.status), r.why);
		pdfsig_result_clear(&r);
	}
}

/* Found by fuzz-pdfsig and fuzz-ingest (inputs in fixtures/fuzz-pdfsig/
 * and fixtures/fuzz/). */
static void *fixture(const char *name, gsize *len)
{
	g_autofree char *path = g_build_filename(g_getenv("PULJED_FIXTURES"), "fuzz-pdfsig", name, NULL);
	char *data = NULL;
	g_assert_true(g_file_get_contents(path, &data, len, NULL));
	return data;
}

/* A document timestamp whose token is a SEQUENCE but no CMS: it proves
 * nothing either way (UBSan: "applying zero offset to null pointer" at
 * the token's missing content). */
static void test_fuzz_timestamp_not_cms(void)
{
	gsize len = 0;
	g_autofree uint8_t *pdf = fixture("doctimestamp-not-cms.pdf", &len);
	struct pdfsig_result r;
	pdfsig_check(pdf, len, NULL, &r);
	g_assert_cmpint(r.status, ==, CMS_NONE);
	g_assert_cmpint(r.n_signatures, ==, 0);
	pdfsig_result_clear(&r);
}

/* An empty PDF part: GMime gives NULL, 0 (UBSan: memmem with NULL). */
static void test_fuzz_empty(void)
{
	struct pdfsig_result r;
	pdfsig_check(NULL, 0, NULL, &r);
	g_assert_cmpint(r.status, ==, CMS_NONE);
	pdfsig_result_clear(&r);
	g_assert_false(pdfsig_mentions_form(NULL, 0));
}

/* A signer certificate whose public key GnuTLS cannot read: refused
 * before gnutls_pkcs7_verify_direct(), which would leak 512 bytes. */
static void test_fuzz_signer_key_unreadable(void)
{
	gsize len = 0;
	g_autofree uint8_t *der = fixture("cms-signer-key-unreadable.der", &len);
	static const uint8_t data[] = "signed ranges";
	struct cms_result r;
	cms_verify(der, len, data, sizeof(data) - 1, NULL, &r);
	g_assert_cmpint(r.status, ==, CMS_INVALID);
	g_assert_cmpstr(r.why, ==, "the signer's certificate has no readable public key");
	cms_result_clear(&r);
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
	g_test_add_func("/pdfsig/title-byterange", test_title_byterange);
	g_test_add_func("/pdfsig/big-contents-first", test_big_contents_first);
	g_test_add_func("/pdfsig/subfilter-sha1", test_subfilter_sha1);
	g_test_add_func("/pdfsig/doc-timestamp", test_doc_timestamp);
	g_test_add_func("/pdfsig/keyid", test_keyid);
	g_test_add_func("/pdfsig/ber", test_ber);
	g_test_add_func("/pdfsig/signed-at-from-m", test_signed_at_from_m);
	g_test_add_func("/pdfsig/dos-byterange-in-stream", test_dos_byterange_in_stream);
	g_test_add_func("/pdfsig/fuzz/timestamp-not-cms", test_fuzz_timestamp_not_cms);
	g_test_add_func("/pdfsig/fuzz/empty", test_fuzz_empty);
	g_test_add_func("/pdfsig/fuzz/signer-key-unreadable", test_fuzz_signer_key_unreadable);
	int r = g_test_run();
	g_object_unref(p);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		r = 1;
	g_free(dir);
	return r;
}
