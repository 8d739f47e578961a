/* PDF signatures: fixtures made at test time by tests/gen/pdfsign.py
 * (openssl cms over real /ByteRange spans), checked by pdfsig_check and
 * cross-checked against poppler's pdfsig where it gives a verdict. */
#include "pdfsig.h"
#include "record.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static JsonObject *poppler; /* name -> {verdict} */
/* The fixtures are made when the test starts, with certificates valid
 * from then on for 20 years: they "arrive" a minute after. */
static struct cms_when arrival;

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
	pdfsig_check((const uint8_t *)pdf, len, trust, &arrival, &r);
	g_test_message("%s: %s signer=%s covers=%d trusted=%d modified=%d reason=%s source=%s", name,
		       record_signature_name(r.status), r.signer ? r.signer : "-", r.covers_whole_file, r.trusted,
		       r.modified, r.reason,
		       cms_time_source_name(r.time_source) ? cms_time_source_name(r.time_source) : "-");
	g_assert_cmpstr(record_signature_name(r.status), ==, record_signature_name(want));
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
			g_assert_cmpstr(json_node_get_string(v), ==, record_signature_name(r.status));
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

static void load_check(const char *name, const struct cms_trust *trust, const struct cms_when *when,
		       struct pdfsig_result *r)
{
	g_autofree char *path = g_strdup_printf("%s/%s.pdf", dir, name);
	g_autofree char *pdf = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &pdf, &len, NULL));
	pdfsig_check((const uint8_t *)pdf, len, trust, when, r);
}

static int64_t signed_at(const char *name)
{
	g_autofree char *path = g_strdup_printf("%s/%s.pdf", dir, name);
	g_autofree char *pdf = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &pdf, &len, NULL));
	struct pdfsig_result r;
	pdfsig_check((const uint8_t *)pdf, len, NULL, &arrival, &r);
	g_assert_true(r.has_time);
	int64_t t = r.signed_at;
	pdfsig_result_clear(&r);
	return t;
}

static void test_valid(void)
{
	check("signed_valid", CMS_VALID, "Mette Hansen", 1, true, 1);
}
static void test_single(void)
{
	check("signed_single", CMS_VALID, "Mette Hansen", 1, false, -1);
}
static void test_tampered(void)
{
	check("signed_tampered", CMS_INVALID, NULL, 0, false, -1);
}
static void test_appended(void)
{
	check("signed_appended", CMS_VALID, "Mette Hansen", 0, true, 1);
}
static void test_mallory(void)
{
	check("signed_mallory", CMS_VALID, "Mallory", 1, true, 0);
}
static void test_unsigned(void)
{
	check("unsigned", CMS_NONE, NULL, 0, false, -1);
}
static void test_lying(void)
{
	check("byterange_lying", CMS_INVALID, NULL, 0, false, -1);
}
static void test_huge(void)
{
	check("byterange_huge", CMS_INVALID, NULL, 0, false, -1);
}
static void test_truncated(void)
{
	check("contents_truncated", CMS_INVALID, NULL, 0, false, -1);
}

/* /ByteRange in /Info's strings is no signature (pdfsig: none). */
static void test_title_byterange(void)
{
	check("unsigned_title_byterange", CMS_NONE, NULL, 0, false, -1);
}

/* /Contents before /ByteRange with nearly 2 MiB of hex reserved: the key
 * is found that far back. */
static void test_big_contents_first(void)
{
	check("signed_big_contents_first", CMS_VALID, "Mette Hansen", 1, true, 1);
}

/* adbe.pkcs7.sha1: the CMS signs the SHA-1 digest of the ranges — with
 * SHA-1, not acceptable for a signature made after 2013: invalid (poppler
 * does not judge algorithms and says valid). */
static void test_subfilter_sha1(void)
{
	check2("signed_subfilter_sha1", CMS_INVALID, "Mette Hansen", 1, false, -1,
	       "poppler accepts SHA-1 signatures whenever they were made");
	struct pdfsig_result r;
	load_check("signed_subfilter_sha1", NULL, &arrival, &r);
	g_assert_cmpstr(r.reason, ==, "weak digest algorithm sha1");
	pdfsig_result_clear(&r);
}

/* What was appended after signing, judged like a PDF reader: a second
 * signature or a document timestamp keeps the verdict, a new /Info is a
 * change. */
static void test_modified_after_signing(void)
{
	static const struct {
		const char *name;
		bool modified;
	} cases[] = {
		{ "signed_valid", false },         { "signed_single", false },  { "two_signatures", false },
		{ "signed_doc_timestamp", false }, { "signed_appended", true }, { "byterange_short", false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct pdfsig_result r;
		load_check(cases[i].name, NULL, &arrival, &r);
		g_test_message("%s: modified=%d", cases[i].name, r.modified);
		g_assert_cmpint(r.status, ==, CMS_VALID);
		g_assert_cmpint(r.modified, ==, cases[i].modified);
		pdfsig_result_clear(&r);
	}
}

/* Incremental updates after the signature, judged like a PDF reader:
 * validation data, a further signature's field and the page gaining its
 * widget keep the verdict; other changes make it "modified after
 * signing", and a string cannot pass for a signature's key. */
static void test_appended_updates(void)
{
	static const struct {
		const char *what, *update;
		bool modified;
	} cases[] = {
		{ "DSS with its streams and a catalog pointing at it",
		  "20 0 obj\n<< /Certs [21 0 R] /OCSPs [] /CRLs [] /VRI << /ABC << /Cert [21 0 R] >> >> >>\nendobj\n"
		  "21 0 obj\n<< /Length 3 >>\nstream\nabc\nendstream\nendobj\n"
		  "1 0 obj\n<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[7 0 R]/SigFlags 3>>/DSS 20 0 R>>\nendobj\n",
		  false },
		{ "the page gaining a second signature widget",
		  "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
		  "/Contents 5 0 R /Annots [7 0 R 9 0 R] >>\nendobj\n"
		  "9 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature2) /Rect [0 0 0 0] /P 3 0 R >>\nendobj\n",
		  false },
		{ "the page content rewritten", "5 0 obj\n<< /Length 12 >>\nstream\nBT (x) Tj ET\nendstream\nendobj\n",
		  true },
		{ "a catalog with other pages",
		  "1 0 obj\n<< /Type /Catalog /Pages 30 0 R >>\nendobj\n30 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
		  true },
		{ "the page pointing at new content",
		  "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
		  "/Contents 41 0 R /Annots [7 0 R] >>\nendobj\n41 0 obj\n<< /Length 3 >>\nstream\nabc\nendstream\nendobj\n",
		  true },
		{ "the catalog gaining an action",
		  "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [7 0 R] /SigFlags 3 >> "
		  "/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>\nendobj\n",
		  true },
		{ "the catalog gaining PAdES extensions",
		  "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Extensions << /ESIC << /BaseVersion /1.7 /ExtensionLevel 2 >> >> "
		  "/AcroForm << /Fields [7 0 R] /SigFlags 3 >> >>\nendobj\n",
		  false },
		{ "a signature widget with its appearance (a form XObject and a font)",
		  "9 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature2) /Rect [0 0 90 30] /P 3 0 R "
		  "/AP << /N 10 0 R >> >>\nendobj\n"
		  "10 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 90 30] /Resources << /Font << /F 11 0 R >> >> "
		  "/Length 21 >>\nstream\nBT /F 8 Tf (MH) Tj ET\nendstream\nendobj\n"
		  "11 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n",
		  false },
		{ "an object the signed part refers to, filled in after signing",
		  "4 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>\nendobj\n", true },
		{ "an object stream",
		  "40 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Length 5 >>\nstream\nxxxxx\nendstream\nendobj\n", true },
		{ "/Info rewritten, its title posing as a signature field",
		  "6 0 obj\n<< /Title (/FT /Sig /Type /Sig) /Subject <2F46542F536967> >>\nendobj\n", true },
	};
	g_autofree char *path = g_strdup_printf("%s/signed_valid.pdf", dir);
	g_autofree char *base = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &base, &len, NULL));
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GString) pdf = g_string_new_len(base, (gssize)len);
		g_string_append_printf(pdf,
				       "%s%s xref\n0 0\ntrailer\n<< /Size 50 /Root 1 0 R /Info 6 0 R >>\n"
				       "startxref\n%zu\n%%%%EOF\n",
				       pdf->str[pdf->len - 1] == '\n' ? "" : "\n", cases[i].update, len);
		struct pdfsig_result r;
		pdfsig_check((const uint8_t *)pdf->str, pdf->len, NULL, &arrival, &r);
		g_test_message("%s: %s, modified=%d", cases[i].what, record_signature_name(r.status), r.modified);
		g_assert_cmpint(r.status, ==, CMS_VALID);
		g_assert_false(r.covers_whole_file);
		if (r.modified != cases[i].modified)
			g_error("%s: modified after signing %d, want %d", cases[i].what, r.modified, cases[i].modified);
		pdfsig_result_clear(&r);
	}
	/* A reference the signed page left dangling, filled in after
	 * signing: new content on the page without rewriting it. */
	g_autofree char *dpath = g_strdup_printf("%s/signed_dangling.pdf", dir);
	g_autofree char *dangling = NULL;
	g_assert_true(g_file_get_contents(dpath, &dangling, &len, NULL));
	g_autoptr(GString) filled = g_string_new_len(dangling, (gssize)len);
	g_string_append(filled,
			"45 0 obj\n<< /Length 24 >>\nstream\nBT (bewilligt) Tj ET   \nendstream\nendobj\n"
			"xref\n0 0\ntrailer\n<< /Size 50 /Root 1 0 R /Info 6 0 R >>\nstartxref\n0\n%%EOF\n");
	struct pdfsig_result r;
	pdfsig_check((const uint8_t *)dangling, len, NULL, &arrival, &r);
	g_assert_cmpint(r.status, ==, CMS_VALID);
	g_assert_false(r.modified);
	pdfsig_result_clear(&r);
	pdfsig_check((const uint8_t *)filled->str, filled->len, NULL, &arrival, &r);
	g_assert_cmpint(r.status, ==, CMS_VALID);
	g_assert_true(r.modified);
	pdfsig_result_clear(&r);
}

/* A verified document timestamp over the signature is its proof of
 * existence: the validation time is the timestamp's, before the arrival;
 * without one it is the arrival. */
static void test_validation_time(void)
{
	struct pdfsig_result r;
	load_check("signed_doc_timestamp", NULL, &arrival, &r);
	g_assert_cmpint(r.status, ==, CMS_VALID);
	g_assert_true(r.has_validated_at);
	g_assert_cmpint(r.time_source, ==, CMS_TIME_TIMESTAMP);
	g_assert_cmpint(r.validated_at, <, arrival.at);
	pdfsig_result_clear(&r);
	load_check("signed_valid", NULL, &arrival, &r);
	g_assert_cmpint(r.time_source, ==, CMS_TIME_ARRIVAL);
	g_assert_cmpint(r.validated_at, ==, arrival.at);
	pdfsig_result_clear(&r);
	/* The same file "arriving" before its certificate existed (issued
	 * 2020-01-01, tests/gen/pdfsign.py): invalid, and saying why. */
	struct cms_when early = { .known = true, .at = 1546300800 /* 2019-01-01 */, .source = CMS_TIME_ARRIVAL };
	load_check("signed_valid", NULL, &early, &r);
	g_assert_cmpint(r.status, ==, CMS_INVALID);
	g_assert_true(g_str_has_prefix(r.reason, "certificate not valid at "));
	pdfsig_result_clear(&r);
}

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

/* Signatures made in the past (tests/gen/pastsig.py, openssl under
 * faketime): judged at the arrival or at a signature timestamp, never by
 * today's clock; the verdict agrees with openssl cms -verify -attime at
 * the same time, and is the same ten years on. */
static void test_past_signatures(void)
{
	g_autofree char *mpath = g_strdup_printf("%s/past/manifest.json", dir);
	g_autofree char *root = g_strdup_printf("%s/past/pki/root.pem", dir);
	g_autoptr(JsonParser) p = json_parser_new();
	g_assert_true(json_parser_load_from_file(p, mpath, NULL));
	JsonObject *cases = json_node_get_object(json_parser_get_root(p));
	struct cms_trust *trust = cms_trust_load(root);
	g_assert_nonnull(trust);
	g_autoptr(GList) names = json_object_get_members(cases);
	g_assert_cmpuint(g_list_length(names), >=, 9);
	int64_t now = g_get_real_time() / G_USEC_PER_SEC;
	for (GList *l = names; l; l = l->next) {
		JsonObject *c = json_object_get_object_member(cases, l->data);
		g_autofree char *pdf = NULL;
		gsize len = 0;
		g_assert_true(g_file_get_contents(json_object_get_string_member(c, "pdf"), &pdf, &len, NULL));
		struct cms_when when = { .known = true,
					 .at = json_object_get_int_member(c, "arrival"),
					 .source = CMS_TIME_ARRIVAL,
					 .has_now = true,
					 .now = now };
		struct pdfsig_result r;
		pdfsig_check((const uint8_t *)pdf, len, trust, &when, &r);
		char at[32];
		cms_format_time(r.validated_at, at, sizeof(at));
		g_test_message("%s: %s (%s) validated at %s by %s, trusted %d; openssl at %" G_GINT64_FORMAT ": %s",
			       (const char *)l->data, record_signature_name(r.status), r.reason, at,
			       cms_time_source_name(r.time_source), r.trusted,
			       json_object_get_int_member(c, "openssl_attime"),
			       json_object_get_boolean_member(c, "openssl") ? "verifies" : "fails");
		g_assert_cmpstr(record_signature_name(r.status), ==, json_object_get_string_member(c, "want"));
		const char *reason = json_object_get_string_member(c, "reason");
		if (*reason && !strstr(r.reason, reason))
			g_error("%s: reason \"%s\" does not say \"%s\"", (const char *)l->data, r.reason, reason);
		g_assert_true(r.has_validated_at);
		g_assert_cmpstr(cms_time_source_name(r.time_source), ==, json_object_get_string_member(c, "source"));
		/* The independent oracle, at the time puljed validates at. */
		if (json_object_get_boolean_member(c, "oracle"))
			g_assert_cmpint(r.status == CMS_VALID, ==, json_object_get_boolean_member(c, "openssl"));
		if (r.time_source == CMS_TIME_TIMESTAMP) {
			int64_t ts = json_object_get_int_member(c, "openssl_attime");
			g_assert_cmpint(r.validated_at, >=, ts - 5);
			g_assert_cmpint(r.validated_at, <=, ts + 60);
			g_assert_cmpint(r.validated_at, <, when.at);
		} else {
			g_assert_cmpint(r.validated_at, ==, when.at);
		}
		if (r.status == CMS_VALID)
			g_assert_cmpint(r.trusted, ==, 1); /* the chain, at the validation time */
		/* Ten years on, and without "now" at all: the same verdict. */
		enum cms_status first = r.status;
		pdfsig_result_clear(&r);
		when.now = now + 10 * 366 * 86400;
		pdfsig_check((const uint8_t *)pdf, len, trust, &when, &r);
		g_assert_cmpint(r.status, ==, first);
		pdfsig_result_clear(&r);
		when.has_now = false;
		pdfsig_check((const uint8_t *)pdf, len, trust, &when, &r);
		g_assert_cmpint(r.status, ==, first);
		pdfsig_result_clear(&r);
	}
	cms_trust_free(trust);
}

/* A PDF of N_REPEAT copies of PIECE, inside one content stream (STREAM)
 * or as they are. */
static GString *repeated_pdf(const char *piece, int n_repeat, bool stream)
{
	GString *g = g_string_new(
		"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
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
	pdfsig_check((const uint8_t *)pdf->str, pdf->len, NULL, &arrival, &r);
	gint64 t1 = g_get_monotonic_time();
	g_test_message("%s: %.1f MB in %.1f ms: %s (%s)", what, (double)pdf->len / 1e6, (double)(t1 - t0) / 1e3,
		       record_signature_name(r.status), r.why ? r.why : "-");
	enum cms_status st = r.status;
	static char reason[CMS_REASON_MAX]; /* the result's own goes with it */
	g_strlcpy(reason, r.reason, sizeof(reason));
	*why = reason;
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
	g_autoptr(GString) nine =
		repeated_pdf("<< /ByteRange [0 1 2 3] /Contents <30> >>\n", PDFSIG_MAX_SIGNATURES + 1, false);
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
		{ "(Ans\xc3\xb8gning om tilskud)", true },
		{ "(ans\xc3\xb8gning)", true },
		{ "(ANS\xc3\x98GNING)", true },
		{ "(Ans\\370gning)", true },
		{ "(ans\xf8gning)", true },
		{ "(Ansoegning)", true },
		{ "(Skema)", true },
		{ "(SKEMA)", true },
		{ "(udfyld skemaet)", true },
		{ "(Application form)", true },
		{ "(application form)", true },
		{ "Ansoegning", true },
		{ "(Bns\xc3\xb8gning) (xkema) (Bpplication form)", false },
		{ "(sKEMA) (aNSOEGNING) (Application Form)", false },
		{ "(xkema) (skema)", true },                             /* a false start, then the word */
		{ "nsoegning kema", false },                             /* tails without a first letter */
		{ "skema", true },                                       /* the first letter at the very start */
		{ "(Angning) (sgning) (Kema) (Ansxgning) (kem", false }, /* anchors without their word */
		{ "gning GNING kema KEMA pplication form", false },      /* anchors alone */
		{ "Ans\xc3\xb8gnin", false },                            /* cut short by the end */
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
			data[k] = text ? (uint8_t) "abcdefghijklmnopqrstuvwxyz ()\n"[g_rand_int_range(rng, 0, 30)]
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
		"%PDF-1.4\n<< /ByteRange [",
		"%PDF-1.4\n<< /ByteRange [0 1 2 3]",
		"%PDF-1.4\n<< /ByteRange [0 10 20 5] /Contents <00>",
		"%PDF\r<< /ByteRange [0 5 9 0] /Contents <30> >>",
		"%PDF\n<< /ByteRange [0 0 0 0] >>",
		"<< /ByteRange [0 999999999999999999999 0 0] >>",
		"<< /ByteRange [0 -1 2 3] >>",
		"<< /ByteRange [0 1 2] >>",
		"<</ByteRange[0 1 2 3]/Contents<30>>>",
		"<< /V << /ByteRange [0 1 2 3] >> >>",
		"<< /ByteRange [0 1 2 3] (unterminated",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
		struct pdfsig_result r;
		pdfsig_check((const uint8_t *)inputs[i], strlen(inputs[i]), NULL, &arrival, &r);
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
		pdfsig_check((const uint8_t *)none[i], strlen(none[i]), NULL, &arrival, &r);
		if (r.status != CMS_NONE)
			g_error("\"%s\": %s (%s)", none[i], record_signature_name(r.status), r.why);
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
	pdfsig_check(pdf, len, NULL, NULL, &r);
	g_assert_cmpint(r.status, ==, CMS_NONE);
	g_assert_cmpint(r.n_signatures, ==, 0);
	pdfsig_result_clear(&r);
}

/* An empty PDF part: GMime gives NULL, 0 (UBSan: memmem with NULL). */
static void test_fuzz_empty(void)
{
	struct pdfsig_result r;
	pdfsig_check(NULL, 0, NULL, NULL, &r);
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
	cms_verify(der, len, data, sizeof(data) - 1, NULL, NULL, &r);
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
	if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
			  &err) ||
	    !g_spawn_check_wait_status(status, NULL))
		g_error("generating the PDF fixtures failed: %s", err ? err->message : "non-zero exit");
	g_autofree char *past_gen = g_build_filename(g_getenv("PULJED_SRCDIR"), "tests", "gen", "pastsig.py", NULL);
	g_autofree char *past_dir = g_build_filename(dir, "past", NULL);
	const char *past_args[] = { "/usr/bin/python3", past_gen, past_dir, NULL };
	if (!g_spawn_sync(NULL, (char **)past_args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
			  &err) ||
	    !g_spawn_check_wait_status(status, NULL))
		g_error("generating the past signatures (faketime) failed: %s", err ? err->message : "non-zero exit");
	arrival = (struct cms_when){ .known = true,
				     .at = g_get_real_time() / G_USEC_PER_SEC + 60,
				     .source = CMS_TIME_ARRIVAL };
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
	g_test_add_func("/pdfsig/modified-after-signing", test_modified_after_signing);
	g_test_add_func("/pdfsig/validation-time", test_validation_time);
	g_test_add_func("/pdfsig/past-signatures", test_past_signatures);
	g_test_add_func("/pdfsig/appended-updates", test_appended_updates);
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
