/* pdfsig: finds the signature dictionaries of a PDF (/ByteRange,
 * /Contents) and verifies each CMS signature over its byte ranges (cms).
 * One forward pass over the file, linear in its size: strings, comments
 * and streams are stepped over, so a /ByteRange counts only as a key of a
 * dictionary with an array value, outside strings and streams.  Pure and
 * bounded: at most PDFSIG_MAX_SIGNATURES dictionaries, at most
 * PDFSIG_MAX_BYTERANGE_NAMES /ByteRange names looked at, /Contents of at
 * most PDFSIG_MAX_CONTENTS bytes, byte ranges checked against the file
 * before anything is read.  Document timestamps (/Type /DocTimeStamp,
 * /SubFilter /ETSI.RFC3161) are not signatures: their message imprint is
 * compared with the byte ranges, and a verified one is the proof of
 * existence of every signature it covers (its validation time, when
 * earlier than the time passed in).  What was appended after a signature
 * is judged as a PDF reader does: further signatures, document timestamps
 * and validation data (/DSS) keep the verdict; any other change (a
 * rewritten page, content, /Info, an object stream we cannot look into)
 * is "modified after signing".  Owns the strings it returns. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cms.h"

#define PDFSIG_MAX_SIGNATURES 8
#define PDFSIG_MAX_CONTENTS (1u << 20)
/* /ByteRange names (outside strings, comments and streams) looked at in
 * one file, whether or not they turn out to be a signature's: a file with
 * more is "invalid" (too many /ByteRange).  Text inside streams is never
 * looked at, so it costs nothing but the pass over it. */
#define PDFSIG_MAX_BYTERANGE_NAMES 1024
/* How deep an indefinite-length (BER) signature in /Contents may nest:
 * CMS SignedData needs about 12 levels. */
#define PDFSIG_MAX_BER_DEPTH 32

struct pdfsig_result {
	enum cms_status status; /* none; valid when every signature verifies; else invalid */
	int n_signatures;       /* signature dictionaries (document timestamps not counted) */
	char *signer;           /* of the last signature that verified */
	bool has_time;
	int64_t signed_at;      /* CMS signingTime, else the dictionary's /M */
	bool covers_whole_file; /* some signature's /ByteRange covers every byte of the file */
	int trusted;            /* of that signer: 1, 0, -1 unknown */
	const char *why;        /* when invalid: = reason */
	bool modified;          /* content other than signatures, timestamps and validation
				 * data was appended after a signature */
	/* Why invalid, or a note on a valid verdict (cms_result.reason); "". */
	char reason[CMS_REASON_MAX];
	bool has_validated_at; /* of the reported signature (the signer's) */
	int64_t validated_at;
	enum cms_time_source time_source;
};

/* WHEN: the proof of existence from outside the file (the message's
 * arrival), or NULL.  Always fills *RET (pdfsig_result_clear() it). */
void pdfsig_check(const uint8_t *pdf, size_t len, const struct cms_trust *trust, const struct cms_when *when,
		  struct pdfsig_result *ret);
void pdfsig_result_clear(struct pdfsig_result *r);
typedef struct pdfsig_result PdfsigResult;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PdfsigResult, pdfsig_result_clear)

/* True when the PDF's first page text (uncompressed content) or its
 * metadata mentions an application form ("ansøgning", "skema"). */
bool pdfsig_mentions_form(const uint8_t *pdf, size_t len);
