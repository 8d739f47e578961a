#include "cms.h"

#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

struct cms_trust {
	gnutls_x509_trust_list_t list;
};

struct cms_trust *cms_trust_load(const char *pem_file)
{
	struct cms_trust *t = calloc(1, sizeof(*t));
	if (!t || gnutls_x509_trust_list_init(&t->list, 0) < 0) {
		free(t);
		return NULL;
	}
	if (gnutls_x509_trust_list_add_trust_file(t->list, pem_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <= 0) {
		cms_trust_free(t);
		return NULL;
	}
	return t;
}

void cms_trust_free(struct cms_trust *t)
{
	if (!t)
		return;
	gnutls_x509_trust_list_deinit(t->list, 1);
	free(t);
}

const char *cms_status_name(enum cms_status s)
{
	return s == CMS_VALID ? "valid" : s == CMS_INVALID ? "invalid" : "none";
}

static char *signer_name(gnutls_x509_crt_t crt)
{
	char buf[512];
	size_t size = sizeof(buf);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) == 0)
		return strndup(buf, size);
	gnutls_datum_t dn = { 0 };
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		char *s = strndup((const char *)dn.data, dn.size);
		gnutls_free(dn.data);
		return s;
	}
	return NULL;
}

/* The certificate named by the signer info: issuer and serial, or
 * subjectKeyIdentifier. */
static gnutls_x509_crt_t find_signer(gnutls_pkcs7_t p7, const gnutls_pkcs7_signature_info_st *info)
{
	int n = gnutls_pkcs7_get_crt_count(p7);
	for (int i = 0; i < n && i < 64; i++) {
		gnutls_datum_t raw = { 0 };
		gnutls_x509_crt_t crt = NULL;
		if (gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &raw) < 0)
			continue;
		bool match = false;
		if (gnutls_x509_crt_init(&crt) == 0 && gnutls_x509_crt_import(crt, &raw, GNUTLS_X509_FMT_DER) == 0) {
			unsigned char serial[128];
			size_t slen = sizeof(serial);
			gnutls_datum_t issuer = { 0 };
			if (gnutls_x509_crt_get_serial(crt, serial, &slen) == 0 &&
			    gnutls_x509_crt_get_raw_issuer_dn(crt, &issuer) == 0) {
				match = slen == info->signer_serial.size &&
					!memcmp(serial, info->signer_serial.data, slen) &&
					issuer.size == info->issuer_dn.size &&
					!memcmp(issuer.data, info->issuer_dn.data, issuer.size);
			}
			gnutls_free(issuer.data); /* allocated by GnuTLS */
			/* A signer identified by its subjectKeyIdentifier instead
			 * (openssl cms -keyid): the certificate with that key id. */
			if (!match && info->signer_serial.size == 0 && info->issuer_keyid.size > 0) {
				unsigned char ski[128];
				size_t skilen = sizeof(ski);
				unsigned critical = 0;
				match = gnutls_x509_crt_get_subject_key_id(crt, ski, &skilen, &critical) == 0 &&
					skilen == info->issuer_keyid.size &&
					!memcmp(ski, info->issuer_keyid.data, skilen);
			}
			/* ... or by a key id none matches: try the only cert (the
			 * signature then decides). */
			if (!match && info->signer_serial.size == 0 && n == 1)
				match = true;
		}
		gnutls_free(raw.data);
		if (match)
			return crt;
		if (crt)
			gnutls_x509_crt_deinit(crt);
	}
	return NULL;
}

static bool public_key_readable(gnutls_x509_crt_t crt)
{
	gnutls_pubkey_t key = NULL;
	bool ok = gnutls_pubkey_init(&key) == 0 && gnutls_pubkey_import_x509(key, crt, 0) == 0;
	if (key)
		gnutls_pubkey_deinit(key);
	return ok;
}

void cms_verify(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len,
		const struct cms_trust *trust, struct cms_result *out)
{
	gnutls_pkcs7_t p7 = NULL;
	gnutls_x509_crt_t signer = NULL;
	gnutls_pkcs7_signature_info_st info;
	bool have_info = false;
	gnutls_datum_t embedded = { 0 };

	memset(out, 0, sizeof(*out));
	out->status = CMS_INVALID;
	out->trusted = -1;
	if (!der || der_len == 0 || der_len > UINT32_MAX) {
		out->why = "empty signature";
		return;
	}
	gnutls_datum_t in = { (unsigned char *)der, (unsigned)der_len };
	if (gnutls_pkcs7_init(&p7) < 0 || gnutls_pkcs7_import(p7, &in, GNUTLS_X509_FMT_DER) < 0) {
		out->why = "not a readable CMS signature";
		goto out;
	}
	if (gnutls_pkcs7_get_signature_count(p7) < 1 || gnutls_pkcs7_get_signature_info(p7, 0, &info) < 0) {
		out->why = "no signer in the signature";
		goto out;
	}
	have_info = true;
	/* The encapsulated content comes out whatever the verdict: an
	 * application inside a broken signature is still an application. */
	if (!data && gnutls_pkcs7_get_embedded_data(p7, 0, &embedded) < 0) {
		out->why = "no signed content";
		goto out;
	}
	if (info.signing_time != (time_t)-1 && info.signing_time > 0) {
		out->has_time = true;
		out->signed_at = (int64_t)info.signing_time;
	}
	signer = find_signer(p7, &info);
	if (!signer) {
		out->why = "the signer's certificate is not in the signature";
		goto out;
	}
	out->signer = signer_name(signer);
	/* GnuTLS 3.7.9 leaks 512 bytes in gnutls_pkcs7_verify_direct() for
	 * each certificate whose public key it cannot read (found by
	 * fuzz-pdfsig): such a signer is refused here instead. */
	if (!public_key_readable(signer)) {
		out->why = "the signer's certificate has no readable public key";
		goto out;
	}
	gnutls_datum_t d = data ? (gnutls_datum_t){ (unsigned char *)data, (unsigned)data_len } : embedded;
	if (gnutls_pkcs7_verify_direct(p7, signer, 0, &d, 0) != 0) {
		out->why = "the signature does not match the signed data";
		goto out;
	}
	out->status = CMS_VALID;
	if (trust)
		out->trusted = gnutls_pkcs7_verify(p7, trust->list, NULL, 0, 0, &d, 0) == 0;
out:
	if (embedded.data && embedded.size) {
		out->content = malloc(embedded.size);
		if (out->content) {
			memcpy(out->content, embedded.data, embedded.size);
			out->content_len = embedded.size;
		}
	}
	if (embedded.data)
		gnutls_free(embedded.data);
	if (have_info)
		gnutls_pkcs7_signature_info_deinit(&info);
	if (signer)
		gnutls_x509_crt_deinit(signer);
	if (p7)
		gnutls_pkcs7_deinit(p7);
}

void cms_result_clear(struct cms_result *r)
{
	free(r->signer);
	free(r->content);
	memset(r, 0, sizeof(*r));
	r->trusted = -1;
}
