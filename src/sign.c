#include "sign.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

/* At most this many certificates in the certificate file (the signer and
 * its intermediates). */
#define SIGN_MAX_CERTS 16

/* signingTime (RFC 5652 §11.3). */
#define OID_SIGNING_TIME "1.2.840.113549.1.9.5"

struct sign {
	gnutls_x509_crt_t *certs; /* certs[0] signs */
	unsigned n_certs;
	gnutls_privkey_t key;
	char *subject;
};

void sign_free(struct sign *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n_certs; i++)
		gnutls_x509_crt_deinit(s->certs[i]);
	gnutls_free(s->certs);
	if (s->key)
		gnutls_privkey_deinit(s->key);
	g_free(s->subject);
	g_free(s);
}

const char *sign_subject(const struct sign *s)
{
	return s->subject;
}

/* The file's bytes into *RET (a GnuTLS datum owned by GLib). */
static int read_file(const char *what, const char *path, gchar **ret, gsize *ret_len, char **ret_error)
{
	g_autoptr(GError) err = NULL;
	if (!path || !*path) {
		*ret_error = g_strdup_printf("%s: no file given", what);
		return -EINVAL;
	}
	if (!g_file_get_contents(path, ret, ret_len, &err)) {
		*ret_error = g_strdup_printf("%s %s: %s", what, path, err->message);
		return err->domain == G_FILE_ERROR && err->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
	}
	return 0;
}

/* The key id of a public key, for comparing a certificate with a key. */
static int key_id(gnutls_pubkey_t pub, unsigned char id[64], size_t *len)
{
	*len = 64;
	return gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id, len);
}

int sign_load(const char *cert_file, const char *key_file, struct sign **ret, char **ret_error)
{
	g_autofree gchar *cert_pem = NULL, *key_pem = NULL;
	gsize cert_len = 0, key_len = 0;
	int r = read_file("sign_cert", cert_file, &cert_pem, &cert_len, ret_error);
	if (r < 0)
		return r;
	r = read_file("sign_key", key_file, &key_pem, &key_len, ret_error);
	if (r < 0)
		return r;

	g_autoptr(Sign) s = g_new0(struct sign, 1);
	gnutls_datum_t d = { (unsigned char *)cert_pem, (unsigned)cert_len };
	r = gnutls_x509_crt_list_import2(&s->certs, &s->n_certs, &d, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || s->n_certs == 0) {
		s->n_certs = 0;
		*ret_error = g_strdup_printf("sign_cert %s: no PEM certificate in it (%s)", cert_file,
					     r < 0 ? gnutls_strerror(r) : "empty");
		return -EINVAL;
	}
	if (s->n_certs > SIGN_MAX_CERTS) {
		*ret_error = g_strdup_printf("sign_cert %s: %u certificates, at most %d", cert_file, s->n_certs,
					     SIGN_MAX_CERTS);
		return -EINVAL;
	}

	gnutls_x509_privkey_t xkey = NULL;
	d = (gnutls_datum_t){ (unsigned char *)key_pem, (unsigned)key_len };
	if (gnutls_x509_privkey_init(&xkey) < 0 ||
	    (r = gnutls_x509_privkey_import2(xkey, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN)) < 0) {
		if (xkey)
			gnutls_x509_privkey_deinit(xkey);
		*ret_error = g_strdup_printf("sign_key %s: no unencrypted PEM private key in it (%s)", key_file,
					     gnutls_strerror(r));
		return -EINVAL;
	}
	if (gnutls_privkey_init(&s->key) < 0 ||
	    gnutls_privkey_import_x509(s->key, xkey, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
		gnutls_x509_privkey_deinit(xkey);
		*ret_error = g_strdup_printf("sign_key %s: cannot use the key", key_file);
		return -EINVAL;
	}

	/* The key must be the certificate's. */
	gnutls_pubkey_t from_key = NULL, from_cert = NULL;
	unsigned char a[64], b[64];
	size_t a_len = 0, b_len = 0;
	bool match = gnutls_pubkey_init(&from_key) >= 0 && gnutls_pubkey_init(&from_cert) >= 0 &&
		     gnutls_pubkey_import_privkey(from_key, s->key, 0, 0) >= 0 &&
		     gnutls_pubkey_import_x509(from_cert, s->certs[0], 0) >= 0 && key_id(from_key, a, &a_len) >= 0 &&
		     key_id(from_cert, b, &b_len) >= 0 && a_len == b_len && !memcmp(a, b, a_len);
	if (from_key)
		gnutls_pubkey_deinit(from_key);
	if (from_cert)
		gnutls_pubkey_deinit(from_cert);
	if (!match) {
		*ret_error = g_strdup_printf("sign_key %s: not the key of the certificate in sign_cert %s", key_file,
					     cert_file);
		return -EINVAL;
	}

	gnutls_datum_t dn = { NULL, 0 };
	if (gnutls_x509_crt_get_dn3(s->certs[0], &dn, 0) >= 0) {
		s->subject = g_strndup((const char *)dn.data, dn.size);
		gnutls_free(dn.data);
	} else {
		s->subject = g_strdup("?");
	}
	*ret = g_steal_pointer(&s);
	return 0;
}

/* The DER of a signingTime value (RFC 5652 §11.3): UTCTime for
 * 1950–2049, GeneralizedTime otherwise. */
static GByteArray *der_time(int64_t t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
	GByteArray *out = g_byte_array_new();
	if (!dt)
		return out;
	int year = g_date_time_get_year(dt);
	g_autofree char *rest = g_date_time_format(dt, "%m%d%H%M%SZ");
	bool utc = year >= 1950 && year < 2050;
	guint8 tag = utc ? 0x17 : 0x18;
	g_autofree char *text =
		utc ? g_strdup_printf("%02d%s", year % 100, rest) : g_strdup_printf("%04d%s", year, rest);
	guint8 head[2] = { tag, (guint8)strlen(text) };
	g_byte_array_append(out, head, 2);
	g_byte_array_append(out, (const guint8 *)text, (guint)strlen(text));
	return out;
}

int sign_entity(const struct sign *s, const char *entity, size_t len, int64_t now, char **ret, size_t *ret_len,
		char **ret_error)
{
	if (len > G_MAXUINT32) {
		*ret_error = g_strdup("sign: entity too large");
		return -EFBIG;
	}
	gnutls_pkcs7_t p7 = NULL;
	gnutls_pkcs7_attrs_t attrs = NULL;
	gnutls_datum_t der = { NULL, 0 };
	g_autoptr(GByteArray) when = der_time(now);
	gnutls_datum_t when_d = { when->data, when->len };
	gnutls_datum_t data = { (unsigned char *)entity, (unsigned)len };
	int r = gnutls_pkcs7_init(&p7);
	if (r >= 0)
		r = gnutls_pkcs7_add_attr(&attrs, OID_SIGNING_TIME, &when_d, 0);
	for (unsigned i = 1; r >= 0 && i < s->n_certs; i++)
		r = gnutls_pkcs7_set_crt(p7, s->certs[i]);
	if (r >= 0)
		r = gnutls_pkcs7_sign(p7, s->certs[0], s->key, &data, attrs, NULL, GNUTLS_DIG_SHA256,
				      GNUTLS_PKCS7_INCLUDE_CERT);
	if (r >= 0)
		r = gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &der);
	gnutls_pkcs7_attrs_deinit(attrs);
	gnutls_pkcs7_deinit(p7);
	if (r < 0) {
		*ret_error = g_strdup_printf("sign: %s", gnutls_strerror(r));
		return -EIO;
	}

	g_autofree char *digest = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)entity, len);
	g_autofree char *b64 = g_base64_encode(der.data, der.size);
	gnutls_free(der.data);
	GString *out = g_string_sized_new(len + strlen(b64) + 512);
	g_string_append_printf(out,
			       "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
			       " micalg=sha-256; boundary=\"=_signed_%.24s\"\r\n"
			       "\r\n"
			       "This is an S/MIME signed message.\r\n"
			       "\r\n--=_signed_%.24s\r\n",
			       digest, digest);
	g_string_append_len(out, entity, (gssize)len);
	g_string_append_printf(out,
			       "\r\n--=_signed_%.24s\r\n"
			       "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
			       "Content-Transfer-Encoding: base64\r\n"
			       "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
			       "\r\n",
			       digest);
	for (size_t i = 0, n = strlen(b64); i < n; i += 76) {
		g_string_append_len(out, b64 + i, (gssize)MIN((size_t)76, n - i));
		g_string_append(out, "\r\n");
	}
	g_string_append_printf(out, "\r\n--=_signed_%.24s--\r\n", digest);
	*ret_len = out->len;
	*ret = g_string_free(out, FALSE);
	return 0;
}
