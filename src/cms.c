#include "cms.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

struct cms_trust {
	gnutls_x509_trust_list_t list;
};

struct cms_trust *cms_trust_load(const char *pem_file)
{
	g_autoptr(CmsTrust) t = calloc(1, sizeof(*t));
	if (!t || gnutls_x509_trust_list_init(&t->list, 0) < 0 ||
	    gnutls_x509_trust_list_add_trust_file(t->list, pem_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <= 0)
		return NULL;
	return g_steal_pointer(&t);
}

void cms_trust_free(struct cms_trust *t)
{
	if (!t)
		return;
	gnutls_x509_trust_list_deinit(t->list, 1);
	free(t);
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

/* The Unix time of 00:00 UTC on Y-M-D (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void cms_format_time(int64_t t, char *buf, size_t size)
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), secs = t - days * 86400;
	/* civil_from_days */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d, (unsigned)(secs / 3600),
		 (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

const char *cms_time_source_name(enum cms_time_source s)
{
	return s == CMS_TIME_ARRIVAL ? "arrival" : s == CMS_TIME_TIMESTAMP ? "timestamp" : NULL;
}

/* Appends a phrase to OUT->reason, "; "-separated. */
static void add_reason(struct cms_result *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_reason(struct cms_result *out, const char *fmt, ...)
{
	size_t n = strlen(out->reason);
	if (n && n + 2 < sizeof(out->reason)) {
		memcpy(out->reason + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason + n, sizeof(out->reason) - n, fmt, ap);
	va_end(ap);
}

/* One DER TLV at *P (before END): its tag, contents and length; *P moves
 * past it.  Definite lengths of at most 4 bytes only. */
static bool der_tlv(const uint8_t **p, const uint8_t *end, uint8_t *tag, const uint8_t **val, size_t *len)
{
	const uint8_t *q = *p;
	if (!q || end - q < 2)
		return false;
	*tag = q[0];
	size_t l = q[1];
	q += 2;
	if (l & 0x80) {
		unsigned n = l & 0x7f;
		if (n == 0 || n > 4 || (size_t)(end - q) < n)
			return false;
		l = 0;
		for (unsigned i = 0; i < n; i++)
			l = (l << 8) | *q++;
	}
	if ((size_t)(end - q) < l)
		return false;
	*val = q;
	*len = l;
	*p = q + l;
	return true;
}

/* GeneralizedTime "YYYYMMDDHHMMSS[.fff]Z" as Unix time. */
static bool generalized_time(const uint8_t *v, size_t len, int64_t *out)
{
	if (len < 15 || v[len - 1] != 'Z')
		return false;
	unsigned f[6];
	const unsigned width[6] = { 4, 2, 2, 2, 2, 2 };
	const uint8_t *q = v;
	for (int k = 0; k < 6; k++) {
		f[k] = 0;
		for (unsigned d = 0; d < width[k]; d++, q++) {
			if (*q < '0' || *q > '9')
				return false;
			f[k] = f[k] * 10 + (unsigned)(*q - '0');
		}
	}
	if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60)
		return false;
	*out = days_from_civil(f[0], f[1], f[2]) * 86400 + f[3] * 3600 + f[4] * 60 + f[5];
	return true;
}

static gnutls_digest_algorithm_t digest_by_oid(const uint8_t *oid, size_t len)
{
	static const struct {
		uint8_t oid[9];
		size_t len;
		gnutls_digest_algorithm_t alg;
	} algs[] = {
		{ { 0x2B, 0x0E, 0x03, 0x02, 0x1A }, 5, GNUTLS_DIG_SHA1 },
		{ { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 }, 9, GNUTLS_DIG_SHA256 },
		{ { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 }, 9, GNUTLS_DIG_SHA384 },
		{ { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 }, 9, GNUTLS_DIG_SHA512 },
	};
	for (size_t k = 0; k < sizeof(algs) / sizeof(algs[0]); k++)
		if (len == algs[k].len && !memcmp(oid, algs[k].oid, len))
			return algs[k].alg;
	return GNUTLS_DIG_UNKNOWN;
}

/* A TSTInfo: its messageImprint's digest of DATA matches (*MATCH), and
 * its genTime.  False when it cannot be read or names a digest we do not
 * know. */
static bool read_tstinfo(const uint8_t *tst, size_t len, const uint8_t *data, size_t data_len, bool *match,
			 int64_t *gen)
{
	/* TSTInfo ::= SEQUENCE { version, policy, messageImprint SEQUENCE {
	 * AlgorithmIdentifier SEQUENCE { OID, ... }, OCTET STRING },
	 * serialNumber, genTime GeneralizedTime, ... } */
	const uint8_t *p = tst, *end = tst ? tst + len : NULL, *v, *mi, *alg, *oid, *hash, *q, *qe, *m, *a;
	size_t l, mil, algl, oidl, hashl;
	uint8_t tag;
	if (!der_tlv(&p, end, &tag, &v, &l) || tag != 0x30)
		return false;
	q = v;
	qe = v + l;
	if (!der_tlv(&q, qe, &tag, &v, &l) || tag != 0x02 || !der_tlv(&q, qe, &tag, &v, &l) || tag != 0x06 ||
	    !der_tlv(&q, qe, &tag, &mi, &mil) || tag != 0x30)
		return false;
	m = mi;
	if (!der_tlv(&m, mi + mil, &tag, &alg, &algl) || tag != 0x30 || !der_tlv(&m, mi + mil, &tag, &hash, &hashl) ||
	    tag != 0x04)
		return false;
	a = alg;
	if (!der_tlv(&a, alg + algl, &tag, &oid, &oidl) || tag != 0x06)
		return false;
	if (!der_tlv(&q, qe, &tag, &v, &l) || tag != 0x02 || !der_tlv(&q, qe, &tag, &v, &l) || tag != 0x18 ||
	    !generalized_time(v, l, gen))
		return false;
	gnutls_digest_algorithm_t dig = digest_by_oid(oid, oidl);
	uint8_t d[64];
	if (dig == GNUTLS_DIG_UNKNOWN || gnutls_hash_get_len(dig) != hashl || data_len > UINT32_MAX ||
	    gnutls_hash_fast(dig, data, data_len, d) < 0)
		return false;
	*match = !memcmp(d, hash, hashl);
	return true;
}

/* Whether CRT may sign timestamps (extendedKeyUsage id-kp-timeStamping,
 * RFC 3161 2.3): any other certificate's "timestamp" would let a signer
 * date their own signature. */
static bool time_stamping(gnutls_x509_crt_t crt)
{
	for (unsigned i = 0; i < 32; i++) {
		char oid[128];
		size_t size = sizeof(oid);
		unsigned critical = 0;
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, &critical) < 0)
			return false;
		if (!strcmp(oid, GNUTLS_KP_TIME_STAMPING))
			return true;
	}
	return false;
}

static bool valid_at(gnutls_x509_crt_t crt, int64_t t)
{
	time_t nb = gnutls_x509_crt_get_activation_time(crt), na = gnutls_x509_crt_get_expiration_time(crt);
	return nb != (time_t)-1 && na != (time_t)-1 && t >= (int64_t)nb && t <= (int64_t)na;
}

#define CHAIN_MAX 8

/* Whether SIGNER chains through the CMS's certificates to TRUST, every
 * certificate of the chain valid at T (when HAS_T). */
static bool chain_trusted(gnutls_pkcs7_t p7, gnutls_x509_crt_t signer, const struct cms_trust *trust, bool has_t,
			  int64_t t)
{
	gnutls_x509_crt_t certs[64], chain[CHAIN_MAX];
	unsigned n_certs = 0, n = 0;
	int count = gnutls_pkcs7_get_crt_count(p7);
	for (int i = 0; i < count && n_certs < 64; i++) {
		gnutls_datum_t raw = { 0 };
		gnutls_x509_crt_t c = NULL;
		if (gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &raw) == 0 && gnutls_x509_crt_init(&c) == 0) {
			if (gnutls_x509_crt_import(c, &raw, GNUTLS_X509_FMT_DER) == 0)
				certs[n_certs++] = c;
			else
				gnutls_x509_crt_deinit(c);
		}
		gnutls_free(raw.data);
	}
	chain[n++] = signer;
	gnutls_x509_crt_t anchor = NULL;
	while (n < CHAIN_MAX) {
		gnutls_x509_crt_t cur = chain[n - 1], next = NULL;
		if (gnutls_x509_trust_list_get_issuer(trust->list, cur, &anchor, 0) == 0)
			break; /* owned by the list */
		anchor = NULL;
		for (unsigned i = 0; i < n_certs && !next; i++) {
			bool used = false;
			for (unsigned k = 0; k < n; k++)
				used = used || gnutls_x509_crt_equals(chain[k], certs[i]);
			if (!used && gnutls_x509_crt_check_issuer(cur, certs[i]))
				next = certs[i];
		}
		if (!next)
			break;
		chain[n++] = next;
	}
	unsigned status = 0;
	bool ok = gnutls_x509_trust_list_verify_crt2(trust->list, chain, n, NULL, 0,
						     GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
							     GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
						     &status, NULL) == 0 &&
		  status == 0;
	for (unsigned k = 0; ok && has_t && k < n; k++)
		ok = valid_at(chain[k], t);
	if (ok && has_t && anchor)
		ok = valid_at(anchor, t);
	for (unsigned i = 0; i < n_certs; i++)
		gnutls_x509_crt_deinit(certs[i]);
	return ok;
}

/* The signed messageDigest attribute's octets, into D (gnutls_free). */
static bool message_digest_attr(gnutls_pkcs7_attrs_t attrs, gnutls_datum_t *d)
{
	for (unsigned i = 0; i < 64; i++) {
		char *oid = NULL;
		gnutls_datum_t v = { 0 };
		if (gnutls_pkcs7_get_attr(attrs, i, &oid, &v, 0) < 0)
			return false;
		const uint8_t *p = v.data, *val;
		size_t len;
		uint8_t tag;
		bool found = oid && !strcmp(oid, "1.2.840.113549.1.9.4") &&
			     der_tlv(&p, v.data + v.size, &tag, &val, &len) && tag == 0x04 && len <= 64;
		if (found) {
			d->data = gnutls_malloc(len ? len : 1);
			if (!d->data)
				found = false;
			else {
				memcpy(d->data, val, len);
				d->size = (unsigned)len;
			}
		}
		gnutls_free(v.data);
		if (found)
			return true;
	}
	return false;
}

/* The digest algorithm of the signature: GnuTLS names it only for some
 * signature algorithms (not for plain rsaEncryption), so else by the
 * length of the signed messageDigest.  UNKNOWN without either. */
static gnutls_digest_algorithm_t signature_digest(const gnutls_pkcs7_signature_info_st *info)
{
	gnutls_digest_algorithm_t dig = gnutls_sign_get_hash_algorithm(info->algo);
	gnutls_datum_t md = { 0 };
	if (dig == GNUTLS_DIG_UNKNOWN && message_digest_attr(info->signed_attrs, &md)) {
		dig = md.size == 16   ? GNUTLS_DIG_MD5
		      : md.size == 20 ? GNUTLS_DIG_SHA1
		      : md.size == 28 ? GNUTLS_DIG_SHA224
		      : md.size == 32 ? GNUTLS_DIG_SHA256
		      : md.size == 48 ? GNUTLS_DIG_SHA384
		      : md.size == 64 ? GNUTLS_DIG_SHA512
				      : GNUTLS_DIG_UNKNOWN;
	}
	gnutls_free(md.data);
	return dig;
}

/* Why a signature that does not verify fails: the signed messageDigest is
 * not the digest of the data, or the signature itself. */
static const char *verify_failure(const gnutls_pkcs7_signature_info_st *info, const gnutls_datum_t *data)
{
	gnutls_digest_algorithm_t dig = signature_digest(info);
	gnutls_datum_t md = { 0 };
	uint8_t d[64];
	const char *why = "signature does not verify";
	if (dig != GNUTLS_DIG_UNKNOWN && message_digest_attr(info->signed_attrs, &md) &&
	    gnutls_hash_fast(dig, data->data, data->size, d) == 0 &&
	    (md.size != gnutls_hash_get_len(dig) || memcmp(md.data, d, md.size) != 0))
		why = "digest mismatch";
	gnutls_free(md.data);
	return why;
}

/* SHA-1 signatures are acceptable until the end of 2013 (NIST SP
 * 800-131A: disallowed for digital signature generation after 2013). */
#define SHA1_ACCEPTABLE_UNTIL INT64_C(1388534399)

static void verify(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len,
		   const struct cms_trust *trust, const struct cms_when *when, unsigned depth, struct cms_result *out);

enum cms_status cms_timestamp_check(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len,
				    const struct cms_trust *trust, int64_t *ret_gen_time, const char **ret_why)
{
	g_auto(CmsResult) r = { 0 };
	bool match = false;
	int64_t gen = 0;
	enum cms_status st = CMS_NONE;
	verify(der, der_len, NULL, 0, NULL, NULL, 1, &r);
	if (!read_tstinfo(r.content, r.content_len, data, data_len, &match, &gen)) {
		*ret_why = "timestamp cannot be read";
	} else if (!match) {
		st = CMS_INVALID;
		*ret_why = "timestamp does not match what it stamps";
	} else {
		/* The TSA's signature, at genTime. */
		struct cms_when w = { .known = true, .at = gen, .source = CMS_TIME_TIMESTAMP };
		cms_result_clear(&r);
		verify(der, der_len, NULL, 0, trust, &w, 1, &r);
		if (r.status != CMS_VALID)
			*ret_why = !strcmp(r.reason, "not signed by a time-stamping authority")
					   ? "not signed by a time-stamping authority"
					   : "timestamp signature does not verify";
		else if (trust && r.trusted != 1)
			*ret_why = "timestamp authority not trusted";
		else {
			st = CMS_VALID;
			*ret_gen_time = gen;
		}
	}
	return st;
}

/* The earliest verified signature timestamp (unsigned attribute
 * id-aa-signatureTimeStampToken over the signature value). */
static bool signature_timestamp(const gnutls_pkcs7_signature_info_st *info, const struct cms_trust *trust, int64_t *gen,
				char *note, size_t note_size)
{
	bool found = false;
	for (unsigned i = 0; i < 16; i++) {
		char *oid = NULL;
		gnutls_datum_t v = { 0 };
		if (gnutls_pkcs7_get_attr(info->unsigned_attrs, i, &oid, &v, 0) < 0)
			break;
		if (oid && !strcmp(oid, "1.2.840.113549.1.9.16.2.14")) {
			int64_t t = 0;
			const char *why = NULL;
			if (cms_timestamp_check(v.data, v.size, info->sig.data, info->sig.size, trust, &t, &why) ==
			    CMS_VALID) {
				if (!found || t < *gen)
					*gen = t;
				found = true;
			} else {
				snprintf(note, note_size, "signature timestamp ignored: %s", why ? why : "unreadable");
			}
		}
		gnutls_free(v.data);
	}
	return found;
}

static bool public_key_readable(gnutls_x509_crt_t crt)
{
	gnutls_pubkey_t key = NULL;
	bool ok = gnutls_pubkey_init(&key) == 0 && gnutls_pubkey_import_x509(key, crt, 0) == 0;
	if (key)
		gnutls_pubkey_deinit(key);
	return ok;
}

static void verify(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len,
		   const struct cms_trust *trust, const struct cms_when *when, unsigned depth, struct cms_result *out)
{
	gnutls_pkcs7_t p7 = NULL;
	gnutls_x509_crt_t signer = NULL;
	gnutls_pkcs7_signature_info_st info;
	bool have_info = false;
	gnutls_datum_t embedded = { 0 };
	char t1[32], t2[32], t3[32];
	char ts_note[128] = ""; /* a signature timestamp that proves nothing, and why */

	memset(out, 0, sizeof(*out));
	out->status = CMS_INVALID;
	out->trusted = -1;
	if (!der || der_len == 0 || der_len > UINT32_MAX) {
		out->why = "empty signature";
		goto out;
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
	if (depth > 0 && !time_stamping(signer)) {
		out->why = "not signed by a time-stamping authority";
		goto out;
	}
	gnutls_datum_t d = data ? (gnutls_datum_t){ (unsigned char *)data, (unsigned)data_len } : embedded;
	/* The mathematics alone: times and algorithms are judged below, at
	 * the validation time, not by GnuTLS against today's clock. */
	if (gnutls_pkcs7_verify_direct(p7, signer, 0, &d,
				       GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
					       GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1 | GNUTLS_VERIFY_ALLOW_SIGN_RSA_MD5 |
					       GNUTLS_VERIFY_ALLOW_BROKEN) != 0) {
		out->why = verify_failure(&info, &d);
		goto out;
	}
	/* The validation time: the earliest proof of existence. */
	if (when && when->known) {
		out->has_validated_at = true;
		out->validated_at = when->at;
		out->time_source = when->source;
	}
	int64_t ts = 0;
	if (depth == 0 && signature_timestamp(&info, trust, &ts, ts_note, sizeof(ts_note)) &&
	    (!out->has_validated_at || ts < out->validated_at)) {
		out->has_validated_at = true;
		out->validated_at = ts;
		out->time_source = CMS_TIME_TIMESTAMP;
	}
	int64_t t = out->validated_at;
	bool has_t = out->has_validated_at;
	if (has_t)
		cms_format_time(t, t1, sizeof(t1));
	gnutls_digest_algorithm_t dig = signature_digest(&info);
	if (dig == GNUTLS_DIG_MD5 || dig == GNUTLS_DIG_MD2) {
		out->why = dig == GNUTLS_DIG_MD5 ? "weak digest algorithm md5" : "weak digest algorithm md2";
		goto out;
	}
	if (dig == GNUTLS_DIG_SHA1 && (!has_t || t > SHA1_ACCEPTABLE_UNTIL)) {
		out->why = "weak digest algorithm sha1";
		goto out;
	}
	time_t nb = gnutls_x509_crt_get_activation_time(signer), na = gnutls_x509_crt_get_expiration_time(signer);
	cms_format_time(nb, t2, sizeof(t2));
	cms_format_time(na, t3, sizeof(t3));
	if (has_t && !valid_at(signer, t)) {
		snprintf(out->reason, sizeof(out->reason), "certificate not valid at %s (valid %s to %s)", t1, t2, t3);
		out->why = out->reason;
		goto out;
	}
	if (out->has_time && !valid_at(signer, out->signed_at)) {
		char ts_[32];
		cms_format_time(out->signed_at, ts_, sizeof(ts_));
		snprintf(out->reason, sizeof(out->reason),
			 "certificate not valid at the claimed signing time %s (valid %s to %s)", ts_, t2, t3);
		out->why = out->reason;
		goto out;
	}
	out->status = CMS_VALID;
	if (!has_t)
		add_reason(out, "validity period not checked: no time known");
	if (dig == GNUTLS_DIG_SHA1)
		add_reason(out, "sha1 digest, acceptable at %s", t1);
	if (has_t && out->has_time && out->signed_at > t) {
		char ts_[32];
		cms_format_time(out->signed_at, ts_, sizeof(ts_));
		add_reason(out, "claimed signing time %s is after the %s %s", ts_,
			   out->time_source == CMS_TIME_TIMESTAMP ? "timestamp" : "arrival", t1);
	}
	if (has_t && when && when->has_now && (int64_t)na < when->now)
		add_reason(out, "certificate expired since (validated at %s)",
			   out->time_source == CMS_TIME_TIMESTAMP ? "timestamp" : "arrival");
	if (trust)
		out->trusted = chain_trusted(p7, signer, trust, has_t, t);
out:
	if (out->status == CMS_INVALID && out->why && out->why != out->reason)
		snprintf(out->reason, sizeof(out->reason), "%s", out->why);
	if (ts_note[0])
		add_reason(out, "%s", ts_note);
	if (out->status == CMS_INVALID)
		out->why = out->reason;
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

void cms_verify(const uint8_t *der, size_t der_len, const uint8_t *data, size_t data_len, const struct cms_trust *trust,
		const struct cms_when *when, struct cms_result *ret)
{
	verify(der, der_len, data, data_len, trust, when, 0, ret);
}

void cms_result_clear(struct cms_result *r)
{
	free(r->signer);
	free(r->content);
	memset(r, 0, sizeof(*r));
	r->trusted = -1;
}
