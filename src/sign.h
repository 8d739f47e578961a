/* sign: S/MIME signing with the authority's certificate (RFC 8551): a
 * MIME entity in, a multipart/signed entity out, its signature a
 * detached CMS SignedData (SHA-256, the certificate and the signing time
 * included) made with GnuTLS.  Reads the certificate and key files once,
 * in sign_load(); signing itself is pure, the signing time passed in. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

struct sign;

/* Loads the signer: CERT_FILE holds the certificate in PEM (the signer's
 * first, then any intermediates, which go into every signature too);
 * KEY_FILE its private key in PEM (PKCS#8 or PKCS#1, unencrypted).  The
 * key must belong to the first certificate.  0 and *RET on success;
 * a negative errno and *RET_ERROR naming the file on failure. */
int sign_load(const char *cert_file, const char *key_file, struct sign **ret, char **ret_error);

/* Frees S (NULL is fine). */
void sign_free(struct sign *s);
typedef struct sign Sign;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Sign, sign_free)

/* The signer certificate's subject DN (borrowed, for the operator). */
const char *sign_subject(const struct sign *s);

/* Wraps ENTITY — a MIME entity: its Content-* header lines, an empty
 * line and its body, CRLF line ends throughout, 7-bit — into a
 * multipart/signed entity (protocol="application/pkcs7-signature",
 * micalg=sha-256): its Content-Type header line, an empty line and the
 * body (ENTITY as the first part, byte for byte, then the base64 DER
 * signature).  NOW is the signingTime attribute (Unix time).  The
 * boundary is derived from ENTITY's digest, so one entity signed twice
 * at one time gives the same bytes.  0 and *RET (NUL-terminated, newly
 * allocated) and *RET_LEN on success; negative and *RET_ERROR on
 * failure. */
int sign_entity(const struct sign *s, const char *entity, size_t len, int64_t now, char **ret, size_t *ret_len,
		char **ret_error);
