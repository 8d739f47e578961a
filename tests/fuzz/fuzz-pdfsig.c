/* libFuzzer target over PDF signatures: the input as a PDF (pdfsig finds
 * every signature dictionary and verifies its CMS over the byte ranges,
 * document timestamps against their message imprint), and as a CMS
 * signature itself (cms, encapsulated and detached).  Seeds: the signed
 * PDFs tests/gen/pdfsign.py writes and the signatures in them
 * (tests/fuzz/run.py), the S/MIME signatures of fixtures/mime.  With
 * PULJED_FUZZ_TRUST set to a PEM file, signer trust is checked too. */
#include "cms.h"
#include "pdfsig.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static struct cms_trust *trust;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *pem = g_getenv("PULJED_FUZZ_TRUST");
	if (pem && !(trust = cms_trust_load(pem))) {
		fprintf(stderr, "fuzz: cannot load %s\n", pem);
		abort();
	}
	return 0;
}

static void check_cms(const struct cms_result *r)
{
	if (r->status != CMS_VALID && r->status != CMS_INVALID)
		abort(); /* cms_verify never says "none" */
	if (r->status == CMS_INVALID && !r->why)
		abort(); /* every refusal says why */
	if ((r->content == NULL) != (r->content_len == 0))
		abort();
}

/* Signatures are judged at a fixed arrival (2022-06-15 10:00 UTC), so
 * that the time checks run and a run does not depend on today. */
static const struct cms_when arrival = { .known = true, .at = 1655287200, .source = CMS_TIME_ARRIVAL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdfsig_result p;
	/* GMime hands over an empty part as NULL, 0. */
	pdfsig_check(size ? data : NULL, size, trust, &arrival, &p);
	if (p.status == CMS_INVALID && !p.why)
		abort();
	if (p.status == CMS_VALID && p.n_signatures == 0)
		abort(); /* a verdict needs a signature */
	if (p.n_signatures > PDFSIG_MAX_SIGNATURES)
		abort();
	pdfsig_result_clear(&p);
	(void)pdfsig_mentions_form(data, size);

	/* The bytes as a CMS: encapsulated content, then detached over a
	 * fixed text (parsing and the signer lookup run either way). */
	static const uint8_t detached[] = "%PDF-1.7 signed ranges";
	struct cms_result r;
	cms_verify(data, size, NULL, 0, trust, &arrival, &r);
	check_cms(&r);
	cms_result_clear(&r);
	cms_verify(data, size, detached, sizeof(detached) - 1, trust, &arrival, &r);
	check_cms(&r);
	if (r.content)
		abort(); /* detached: nothing encapsulated comes back */
	cms_result_clear(&r);
	return 0;
}
