/* Unit tests for sign: a receipt signed with a certificate made here by
 * the openssl command line tool verifies with `openssl cms -verify`
 * against that CA; one byte changed and it does not; a key that is not
 * the certificate's, or a missing file, is an error naming the file. */
#include "sign.h"

#include <string.h>
#include <time.h>
#include <glib.h>
#include <glib/gstdio.h>

static char *dir;

/* Runs ARGV (NULL-terminated) in dir; its exit status, its output in *OUT. */
static int run(const char *const *argv, char **out)
{
	g_autoptr(GError) err = NULL;
	int status = -1;
	g_autofree char *o = NULL, *e = NULL;
	if (!g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e, &status, &err))
		g_error("%s: %s", argv[0], err->message);
	if (out)
		*out = g_strconcat(o, e, NULL);
	return g_spawn_check_wait_status(status, NULL) ? 0 : 1;
}

static void openssl(const char *const *args)
{
	g_autofree char *out = NULL;
	if (run(args, &out) != 0)
		g_error("openssl failed: %s", out);
}

/* A CA, a signer certificate for S/MIME signed by it, and a second key. */
static void make_certs(void)
{
	g_autofree char *ext = g_build_filename(dir, "leaf.ext", NULL);
	g_assert_true(g_file_set_contents(ext,
					  "basicConstraints=CA:FALSE\n"
					  "keyUsage=digitalSignature,nonRepudiation\n"
					  "extendedKeyUsage=emailProtection\n"
					  "subjectAltName=email:puljer@sum.example\n",
					  -1, NULL));
	openssl((const char *const[]){ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
				       "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA", NULL });
	openssl((const char *const[]){ "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out",
				       "leaf.csr", "-subj", "/CN=Puljesekretariatet", NULL });
	openssl((const char *const[]){ "openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey",
				       "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile",
				       "leaf.ext", NULL });
	openssl((const char *const[]){ "openssl", "genpkey", "-algorithm", "RSA", "-out", "other.key", NULL });
	/* An ECDSA signer (self-signed), its key also encrypted; an RSA key
	 * in PKCS#1 ("BEGIN RSA PRIVATE KEY"). */
	openssl((const char *const[]){ "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
				       "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key", "-out", "ec.pem",
				       "-days", "2", "-subj", "/CN=EC signer", "-addext",
				       "extendedKeyUsage=emailProtection", NULL });
	openssl((const char *const[]){ "openssl", "pkey", "-in", "ec.key", "-aes256", "-passout", "pass:x", "-out",
				       "ec-encrypted.key", NULL });
	openssl((const char *const[]){ "openssl", "genrsa", "-traditional", "-out", "pkcs1.key", "2048", NULL });
	openssl((const char *const[]){ "openssl", "req", "-x509", "-new", "-key", "pkcs1.key", "-out", "pkcs1.pem",
				       "-days", "2", "-subj", "/CN=PKCS1 signer", "-addext",
				       "extendedKeyUsage=emailProtection", NULL });
}

static char *path(const char *name)
{
	return g_build_filename(dir, name, NULL);
}

static const char entity[] =
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Kvittering for ans=C3=B8gningen.\r\n"
	"Reference: PJ-000042\r\n";

/* The whole message around the signed entity. */
static char *message(const char *signed_entity)
{
	return g_strconcat(
		"From: Puljesekretariatet <puljer@sum.example>\r\n"
		"To: a@b.example\r\n"
		"Subject: Kvittering\r\n"
		"MIME-Version: 1.0\r\n",
		signed_entity, NULL);
}

/* openssl cms -verify on MSG: 0 when it verifies against the test CA. */
static int verify(const char *msg, char **out)
{
	g_autofree char *p = path("msg.eml");
	g_assert_true(g_file_set_contents(p, msg, -1, NULL));
	return run((const char *const[]){ "openssl", "cms", "-verify", "-CAfile", "ca.pem", "-in", "msg.eml", "-out",
					  "content.out", NULL },
		   out);
}

static void test_verifies(void)
{
	g_autofree char *cert = path("leaf.pem"), *key = path("leaf.key");
	g_autoptr(Sign) s = NULL;
	g_autofree char *error = NULL;
	g_assert_cmpint(sign_load(cert, key, &s, &error), ==, 0);
	g_assert_null(error);
	g_assert_nonnull(strstr(sign_subject(s), "CN=Puljesekretariatet"));

	int64_t now = (int64_t)time(NULL);
	g_autofree char *signed_entity = NULL;
	size_t len = 0;
	g_assert_cmpint(sign_entity(s, entity, strlen(entity), now, &signed_entity, &len, &error), ==, 0);
	g_assert_cmpuint(len, ==, strlen(signed_entity));
	g_assert_true(g_str_has_prefix(signed_entity,
				       "Content-Type: multipart/signed; "
				       "protocol=\"application/pkcs7-signature\";\r\n micalg=sha-256;"));
	/* The entity is the first part, byte for byte. */
	g_assert_nonnull(strstr(signed_entity, entity));
	/* Every line ends in CRLF. */
	for (const char *p = signed_entity; (p = strchr(p, '\n')); p++)
		g_assert_cmpint(p[-1], ==, '\r');

	/* The same entity at the same time: the same bytes (no randomness
	 * in RSA PKCS#1 v1.5 signatures nor in the boundary). */
	g_autofree char *again = NULL;
	size_t again_len = 0;
	g_assert_cmpint(sign_entity(s, entity, strlen(entity), now, &again, &again_len, &error), ==, 0);
	g_assert_cmpstr(again, ==, signed_entity);

	g_autofree char *msg = message(signed_entity);
	g_autofree char *out = NULL;
	int r = verify(msg, &out);
	if (r != 0)
		g_test_message("openssl: %s", out);
	g_assert_cmpint(r, ==, 0);
	g_assert_nonnull(strstr(out, "Verification successful"));
	g_autofree char *content_path = path("content.out"), *content = NULL;
	g_assert_true(g_file_get_contents(content_path, &content, NULL, NULL));
	g_assert_nonnull(strstr(content, "ans=C3=B8gningen"));

	/* The signing time is NOW. */
	g_autofree char *p7 = NULL;
	g_assert_cmpint(
		run((const char *const[]){ "openssl", "cms", "-cmsout", "-print", "-in", "msg.eml", NULL }, &p7), ==,
		0);
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(now);
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	g_autofree char *stamp =
		g_strdup_printf("UTCTIME:%s %2d %02d:%02d:%02d %d GMT", mon[g_date_time_get_month(dt) - 1],
				g_date_time_get_day_of_month(dt), g_date_time_get_hour(dt), g_date_time_get_minute(dt),
				g_date_time_get_second(dt), g_date_time_get_year(dt));
	g_assert_nonnull(strstr(p7, "signingTime"));
	g_assert_nonnull(strstr(p7, stamp));

	/* One byte of the body changed ("PJ-000042" -> "PJ-000043"). */
	g_autofree char *bad = g_strdup(msg);
	char *at = strstr(bad, "PJ-000042");
	g_assert_nonnull(at);
	at[8] = '3';
	g_autofree char *bad_out = NULL;
	g_assert_cmpint(verify(bad, &bad_out), !=, 0);
	g_assert_null(strstr(bad_out, "Verification successful"));
}

/* ECDSA and a PKCS#1 RSA key sign too; a verifier trusting the
 * self-signed certificate accepts them. */
static void test_other_keys(void)
{
	static const char *const pairs[][2] = { { "ec.pem", "ec.key" }, { "pkcs1.pem", "pkcs1.key" } };
	for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
		g_autofree char *cert = path(pairs[i][0]), *key = path(pairs[i][1]);
		g_autoptr(Sign) s = NULL;
		g_autofree char *error = NULL, *signed_entity = NULL, *out = NULL;
		size_t len = 0;
		g_assert_cmpint(sign_load(cert, key, &s, &error), ==, 0);
		g_assert_cmpint(
			sign_entity(s, entity, strlen(entity), (int64_t)time(NULL), &signed_entity, &len, &error), ==,
			0);
		g_autofree char *msg = message(signed_entity);
		g_autofree char *p = path("msg.eml");
		g_assert_true(g_file_set_contents(p, msg, -1, NULL));
		int r = run((const char *const[]){ "openssl", "cms", "-verify", "-CAfile", pairs[i][0], "-in",
						   "msg.eml", "-out", "content.out", NULL },
			    &out);
		if (r != 0)
			g_error("%s: %s", pairs[i][0], out);
	}
	/* An encrypted key is refused, named. */
	g_autofree char *cert = path("ec.pem"), *key = path("ec-encrypted.key");
	Sign *s = NULL;
	g_autofree char *error = NULL;
	g_assert_cmpint(sign_load(cert, key, &s, &error), <, 0);
	g_assert_null(s);
	g_assert_true(g_str_has_prefix(error, "sign_key "));
	g_assert_nonnull(strstr(error, "ec-encrypted.key"));
}

static void test_load_errors(void)
{
	g_autofree char *cert = path("leaf.pem"), *key = path("leaf.key"), *other = path("other.key"),
			*missing = path("missing.pem"), *ca = path("ca.pem");
	Sign *s = NULL;
	g_autofree char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;

	g_assert_cmpint(sign_load(cert, other, &s, &e1), <, 0);
	g_assert_null(s);
	g_assert_true(g_str_has_prefix(e1, "sign_key "));
	g_assert_nonnull(strstr(e1, "not the key of the certificate"));

	g_assert_cmpint(sign_load(missing, key, &s, &e2), ==, -ENOENT);
	g_assert_true(g_str_has_prefix(e2, "sign_cert "));
	g_assert_nonnull(strstr(e2, "missing.pem"));

	/* A certificate where the key should be. */
	g_assert_cmpint(sign_load(cert, ca, &s, &e3), <, 0);
	g_assert_true(g_str_has_prefix(e3, "sign_key "));

	/* A key where the certificate should be. */
	g_assert_cmpint(sign_load(key, key, &s, &e4), <, 0);
	g_assert_true(g_str_has_prefix(e4, "sign_cert "));
	g_assert_null(s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	dir = g_dir_make_tmp("test-sign-XXXXXX", NULL);
	g_assert_nonnull(dir);
	make_certs();
	g_test_add_func("/sign/verifies", test_verifies);
	g_test_add_func("/sign/other-keys", test_other_keys);
	g_test_add_func("/sign/load-errors", test_load_errors);
	int r = g_test_run();
	g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);
	(void)!system(rm);
	g_free(dir);
	return r;
}
