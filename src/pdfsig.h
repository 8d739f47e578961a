/* pdfsig: finds the signature dictionaries of a PDF (/ByteRange,
 * /Contents) and verifies each CMS signature over its byte ranges (cms).
 * Pure and bounded: at most PDFSIG_MAX_SIGNATURES dictionaries, /Contents
 * of at most PDFSIG_MAX_CONTENTS bytes, byte ranges checked against the
 * file before anything is read.  Owns the strings it returns. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cms.h"

#define PDFSIG_MAX_SIGNATURES 8
#define PDFSIG_MAX_CONTENTS (1u << 20)

struct pdfsig_result {
	enum cms_status status; /* none; valid when every signature verifies; else invalid */
	int n_signatures;
	char *signer;           /* of the last signature that verified */
	bool has_time;
	int64_t signed_at;
	bool covers_whole_file; /* some signature's /ByteRange covers every byte of the file */
	int trusted;            /* of that signer: 1, 0, -1 unknown */
	const char *why;        /* static text when invalid */
};

void pdfsig_check(const uint8_t *pdf, size_t len, const struct cms_trust *trust, struct pdfsig_result *out);
void pdfsig_result_clear(struct pdfsig_result *r);

/* True when the PDF's first page text (uncompressed content) or its
 * metadata mentions an application form ("ansøgning", "skema"). */
bool pdfsig_mentions_form(const uint8_t *pdf, size_t len);
