/* cms: verifies a CMS/PKCS#7 SignedData (S/MIME, PDF signatures) with
 * GnuTLS.  "valid" means the digest of the signed data matches and the
 * signature verifies with the signer's own certificate, carried in the
 * CMS; whether that certificate chains to a trusted root is reported
 * separately.  Pure: no I/O, no logging.  Strings in struct cms_result are
 * owned by it; release with cms_result_clear(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cms_status {
	CMS_NONE,    /* no signature */
	CMS_VALID,
	CMS_INVALID, /* does not verify, or is not a readable signature */
};

struct cms_trust;

struct cms_result {
	enum cms_status status;
	char *signer;        /* the signer certificate's CN (else its DN), or NULL */
	bool has_time;
	int64_t signed_at;   /* signingTime attribute, Unix time */
	int trusted;         /* 1, 0, or -1 when no trust store was given */
	uint8_t *content;    /* encapsulated content (opaque S/MIME), or NULL */
	size_t content_len;
	const char *why;     /* static text when INVALID */
};

/* A trust store from a PEM file of root certificates; NULL on failure. */
struct cms_trust *cms_trust_load(const char *pem_file);
void cms_trust_free(struct cms_trust *t);

/* Verifies DER.  DATA is the detached signed data, or NULL when the
 * content is encapsulated (then it is returned in ->content).  TRUST may be
 * NULL. */
void cms_verify(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len,
		const struct cms_trust *trust, struct cms_result *out);
void cms_result_clear(struct cms_result *r);

const char *cms_status_name(enum cms_status s);
