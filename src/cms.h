/* cms: verifies a CMS/PKCS#7 SignedData (S/MIME, PDF signatures) with
 * GnuTLS, the AdES way (ETSI EN 319 102-1): at the validation time, the
 * earliest trustworthy time the signature is known to have existed — a
 * verified RFC 3161 signature timestamp inside it, or the time the caller
 * passes (a document timestamp over it, or the server's arrival time).
 * "valid" means the digest of the signed data matches, the signature
 * verifies with the signer's own certificate, carried in the CMS, that
 * certificate was valid at the validation time (and at a claimed
 * signingTime) and the digest algorithm was acceptable then; whether that
 * certificate chains to a trusted root at the same time is reported
 * separately.  Revocation is not checked.  Pure: no I/O, no logging, no
 * clock (every time is passed in).  Strings in struct cms_result are owned
 * by it; release with cms_result_clear(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

enum cms_status {
	CMS_NONE, /* no signature */
	CMS_VALID,
	CMS_INVALID, /* does not verify, or is not a readable signature */
};

struct cms_trust;

/* Where the validation time came from. */
enum cms_time_source {
	CMS_TIME_NONE,      /* no time known: validity periods not checked */
	CMS_TIME_ARRIVAL,   /* the server's arrival time of the message */
	CMS_TIME_TIMESTAMP, /* a verified RFC 3161 timestamp (in the CMS, or a document timestamp) */
};

/* A time at which the signed bytes are known to have existed, from
 * outside the CMS; NOW (optional) only adds the note that a certificate
 * has expired since, never changes a verdict. */
struct cms_when {
	bool known;
	int64_t at; /* Unix time */
	enum cms_time_source source;
	bool has_now;
	int64_t now;
};

#define CMS_REASON_MAX 256

struct cms_result {
	enum cms_status status;
	char *signer; /* the signer certificate's CN (else its DN), or NULL */
	bool has_time;
	int64_t signed_at; /* signingTime attribute, Unix time */
	int trusted;       /* 1, 0, or -1 when no trust store was given */
	uint8_t *content;  /* encapsulated content (opaque S/MIME), or NULL */
	size_t content_len;
	const char *why; /* static text when INVALID (= reason) */
	/* Why INVALID ("digest mismatch", "certificate not valid at …"), or a
	 * note on a VALID one ("certificate expired since (validated at
	 * arrival)"); "" when there is nothing to say. */
	char reason[CMS_REASON_MAX];
	bool has_validated_at;
	int64_t validated_at; /* the validation time */
	enum cms_time_source time_source;
};

/* A trust store from a PEM file of root certificates; NULL on failure. */
struct cms_trust *cms_trust_load(const char *pem_file);
void cms_trust_free(struct cms_trust *t);
/* g_autoptr(CmsTrust) frees with cms_trust_free(). */
typedef struct cms_trust CmsTrust;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CmsTrust, cms_trust_free)

/* Verifies DER.  DATA is the detached signed data, or NULL when the
 * content is encapsulated (then it is returned in ->content).  TRUST may be
 * NULL.  WHEN (may be NULL) is the proof of existence from outside. */
void cms_verify(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len, const struct cms_trust *trust,
		const struct cms_when *when, struct cms_result *ret);

/* An RFC 3161 timestamp token (a CMS SignedData over a TSTInfo) over
 * DATA: CMS_VALID with *RET_GEN_TIME when its signature verifies, its
 * messageImprint is the digest of DATA, the TSA's certificate was valid at
 * genTime and, with TRUST, chains to it then; CMS_INVALID when the
 * imprint does not match DATA; CMS_NONE when it proves nothing (cannot be
 * read, does not verify, untrusted).  *RET_WHY (static; set only when not
 * valid) says why. */
enum cms_status cms_timestamp_check(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len,
				    const struct cms_trust *trust, int64_t *ret_gen_time, const char **ret_why);

/* "2022-06-15T10:30:00Z" into BUF (at least 21 bytes). */
void cms_format_time(int64_t t, char *buf, size_t size);
const char *cms_time_source_name(enum cms_time_source s); /* NULL, "arrival", "timestamp" */
void cms_result_clear(struct cms_result *r);
/* g_auto(CmsResult) r = { 0 }; clears with cms_result_clear(). */
typedef struct cms_result CmsResult;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CmsResult, cms_result_clear)
