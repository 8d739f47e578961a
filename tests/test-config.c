/* Unit tests for config: the contract keys, defaults, and errors that name
 * file, group and key. */
#include "config.h"
#include "rules.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static char *tmpdir;

static const char good[] =
	"[imap]\n"
	"host = imap.example.dk\n"
	"port = 993\n"
	"security = tls              # tls (implicit, default) | starttls\n"
	"username = rbj\n"
	"password_file = @DIR@/pw   # comment\n"
	"mailbox = INBOX             # default INBOX\n"
	"\n"
	"[daemon]\n"
	"poll_interval = 60          # seconds; default 60\n"
	"\n"
	"[store]\n"
	"database = /var/lib/puljed/puljed.db\n"
	"\n"
	"[call digitale-kompetencer-2022]\n"
	"subject = Puljeopslag 2022: Styrkelse af digitale kompetencer\n"
	"deadline = 2022-07-01       # a date means through the end of that day\n"
	"timezone = Europe/Copenhagen   # IANA name\n";

static char *write_conf(const char *text)
{
	static int n;
	g_autofree char *body = NULL;
	GString *s = g_string_new(text);
	g_string_replace(s, "@DIR@", tmpdir, 0);
	body = g_string_free(s, FALSE);
	char *path = g_strdup_printf("%s/conf-%d.conf", tmpdir, n++);
	g_assert_true(g_file_set_contents(path, body, -1, NULL));
	return path;
}

static char *replace(const char *text, const char *from, const char *to)
{
	GString *s = g_string_new(text);
	g_assert_cmpuint(g_string_replace(s, from, to, 1), ==, 1);
	return g_string_free(s, FALSE);
}

static void test_good(void)
{
	g_autofree char *path = write_conf(good);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_null(err);
	g_assert_cmpstr(cfg->imap.host, ==, "imap.example.dk");
	g_assert_cmpint(cfg->imap.port, ==, 993);
	g_assert_cmpint(cfg->imap.security, ==, CONFIG_SECURITY_TLS);
	g_assert_null(cfg->imap.ca_file);
	g_assert_cmpstr(cfg->imap.username, ==, "rbj");
	g_autofree char *pw = g_strdup_printf("%s/pw", tmpdir);
	g_assert_cmpstr(cfg->imap.password_file, ==, pw);
	g_assert_cmpstr(cfg->imap.mailbox, ==, "INBOX");
	g_assert_cmpint(cfg->poll_interval, ==, 60);
	g_assert_cmpstr(cfg->database, ==, "/var/lib/puljed/puljed.db");
	g_assert_cmpuint(cfg->n_calls, ==, 1);
	g_assert_cmpstr(cfg->calls[0].id, ==, "digitale-kompetencer-2022");
	g_assert_cmpstr(cfg->calls[0].subject, ==, "Puljeopslag 2022: Styrkelse af digitale kompetencer");
	g_assert_cmpstr(cfg->calls[0].timezone, ==, "Europe/Copenhagen");
	/* 2022-07-01T23:59:59+02:00 */
	g_assert_cmpint(cfg->calls[0].deadline_last, ==, 1656712799);

	char *password = NULL;
	g_autofree char *perr = NULL;
	g_autofree char *pwfile = g_strdup_printf("%s/pw", tmpdir);
	g_assert_true(g_file_set_contents(pwfile, "s3cret æøå\n", -1, NULL));
	g_assert_cmpint(config_read_password(cfg, &password, &perr), ==, 0);
	g_assert_cmpstr(password, ==, "s3cret æøå");
	config_password_free(password);
	config_free(cfg);
}

static void test_defaults(void)
{
	g_autofree char *path = write_conf(
		"[imap]\nhost=h\nusername=u\nsecurity=starttls\n"
		"[call x]\nsubject=Puljeopslag\ndeadline=2022-07-01\n");
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpint(cfg->imap.port, ==, 143);
	g_assert_cmpstr(cfg->imap.mailbox, ==, "INBOX");
	g_assert_cmpint(cfg->poll_interval, ==, 60);
	g_assert_cmpstr(cfg->database, ==, CONFIG_DEFAULT_DATABASE);
	g_assert_cmpstr(cfg->calls[0].timezone, ==, "Europe/Copenhagen");
	g_assert_cmpuint(cfg->limits.max_message_size, ==, 64u << 20);
	g_assert_cmpuint(cfg->limits.max_header_size, ==, 256u << 10);
	g_assert_cmpuint(cfg->limits.max_mime_depth, ==, 32);
	g_assert_cmpuint(cfg->limits.max_mime_parts, ==, 1000);
	g_assert_cmpuint(cfg->limits.prefetch, ==, 8u << 20);
	g_assert_cmpuint(cfg->wal_limit, ==, 64u << 20);
	g_assert_cmpuint(cfg->commit_batch, ==, 16);
	g_assert_false(cfg->calls[0].basis_date_header);
	g_assert_cmpint(cfg->calls[0].grace, ==, 0);
	g_assert_cmpfloat(cfg->fuzzy_threshold, ==, 0.75);
	g_assert_cmpfloat(cfg->word_similarity, ==, 0.6);
	g_assert_cmpfloat(cfg->title_threshold, ==, 0.85);
	g_assert_cmpint(cfg->imap.auth, ==, CONFIG_AUTH_LOGIN);
	g_assert_null(cfg->imap.token_file);
	g_assert_cmpint(cfg->imap.after_ingest, ==, CONFIG_AFTER_NONE);
	g_assert_cmpstr(cfg->imap.after_ingest_keyword, ==, "$Puljed");
	g_assert_null(cfg->imap.after_ingest_folder);

	/* No password_file and no credentials directory: a clear error. */
	g_unsetenv("CREDENTIALS_DIRECTORY");
	char *password = NULL;
	g_autofree char *perr = NULL;
	g_assert_cmpint(config_read_password(cfg, &password, &perr), <, 0);
	g_assert_nonnull(strstr(perr, "[imap] password_file"));
	/* The systemd credential. */
	g_autofree char *cred = g_strdup_printf("%s/imap-password", tmpdir);
	g_assert_true(g_file_set_contents(cred, "fromcred", -1, NULL));
	g_setenv("CREDENTIALS_DIRECTORY", tmpdir, TRUE);
	g_assert_cmpint(config_read_password(cfg, &password, NULL), ==, 0);
	g_assert_cmpstr(password, ==, "fromcred");
	config_password_free(password);
	g_unsetenv("CREDENTIALS_DIRECTORY");
	config_free(cfg);
}

static const struct {
	const char *from, *to;   /* edit of the good config */
	const char *group, *key; /* what the error must name */
} bad[] = {
	{ "host = imap.example.dk\n", "", "[imap]", "host" },
	{ "username = rbj\n", "", "[imap]", "username" },
	{ "port = 993", "port = 99999", "[imap]", "port" },
	{ "port = 993", "port = abc", "[imap]", "port" },
	{ "port = 993", "port = -1", "[imap]", "port" },
	{ "security = tls ", "security = ssl ", "[imap]", "security" },
	{ "mailbox = INBOX", "mailbox = INBOX\nfolder = x", "[imap]", "folder" },
	{ "[daemon]\n", "[deamon]\n", "[deamon]", NULL },
	{ "poll_interval = 60", "poll_interval = 0", "[daemon]", "poll_interval" },
	{ "poll_interval = 60", "poll_interval = 1m", "[daemon]", "poll_interval" },
	{ "database = /var/lib/puljed/puljed.db", "database = relative.db", "[store]", "database" },
	{ "deadline = 2022-07-01 ", "deadline = 1. juli 2022 ", "[call digitale-kompetencer-2022]", "deadline" },
	{ "deadline = 2022-07-01 ", "deadline = 2022-02-30 ", "[call digitale-kompetencer-2022]", "deadline" },
	{ "deadline = 2022-07-01 ", "deadline = 2022-10-30T02:30 ", "[call digitale-kompetencer-2022]", "deadline" },
	{ "timezone = Europe/Copenhagen", "timezone = Europe/Copenhagen\ngrace = 15",
	  "[call digitale-kompetencer-2022]", "grace" },
	{ "timezone = Europe/Copenhagen", "timezone = Europe/Copenhagen\ndeadline_basis = sent",
	  "[call digitale-kompetencer-2022]", "deadline_basis" },
	{ "[store]", "[match]\nfuzzy_threshold = 1.5\n[store]", "[match]", "fuzzy_threshold" },
	{ "[store]", "[match]\nword_similarity = 0\n[store]", "[match]", "word_similarity" },
	{ "[store]", "[match]\nword_similarity = high\n[store]", "[match]", "word_similarity" },
	{ "[store]", "[match]\ntitle_threshold = 1.01\n[store]", "[match]", "title_threshold" },
	{ "[store]", "[match]\ntitle_threshold = 0.9x\n[store]", "[match]", "title_threshold" },
	{ "[store]", "[match]\nword_threshold = 0.5\n[store]", "[match]", "word_threshold" },
	{ "deadline = 2022-07-01       # a date means through the end of that day\n", "",
	  "[call digitale-kompetencer-2022]", "deadline" },
	{ "subject = Puljeopslag 2022: Styrkelse af digitale kompetencer\n", "", "[call digitale-kompetencer-2022]",
	  "subject" },
	{ "timezone = Europe/Copenhagen", "timezone = Europe/Kobenhavn", "[call digitale-kompetencer-2022]",
	  "timezone" },
	{ "[call digitale-kompetencer-2022]", "[call ]", "[call ]", NULL },
	{ "[call digitale-kompetencer-2022]", "[call a/b]", "[call a/b]", NULL },
	{ "[call digitale-kompetencer-2022]", "[calls x]", "[calls x]", NULL },
	{ "timezone = Europe/Copenhagen", "timezone = Europe/Copenhagen\nreminder = 1",
	  "[call digitale-kompetencer-2022]", "reminder" },
	{ "password_file = @DIR@/pw", "password_file = pw", "[imap]", "password_file" },
	{ "[store]", "[limits]\nmax_message_size = 10Q\n[store]", "[limits]", "max_message_size" },
	{ "[store]", "[limits]\nmax_header_size = 100\n[store]", "[limits]", "max_header_size" },
	{ "[store]", "[limits]\nprefetch = 2G\n[store]", "[limits]", "prefetch" },
	{ "[store]", "[limits]\nprefetch = -1\n[store]", "[limits]", "prefetch" },
	{ "[store]", "[store]\nwal_limit = 2G", "[store]", "wal_limit" },
	{ "[store]", "[store]\nwal_limit = lots", "[store]", "wal_limit" },
	{ "[store]", "[store]\ncommit_batch = 0", "[store]", "commit_batch" },
	{ "[store]", "[store]\ncommit_batch = 1001", "[store]", "commit_batch" },
	{ "[store]", "[store]\ncommit_batch = many", "[store]", "commit_batch" },
	{ "[store]", "[limits]\nmax_mime_depth = 0\n[store]", "[limits]", "max_mime_depth" },
	{ "mailbox = INBOX", "mailbox = INBOX\nca_file = ca.pem", "[imap]", "ca_file" },
	{ "mailbox = INBOX", "mailbox = INBOX\nauth = oauth", "[imap]", "auth" },
	{ "mailbox = INBOX", "mailbox = INBOX\ntls_priority = SECURE128:+NO-SUCH-THING", "[imap]", "tls_priority" },
	{ "mailbox = INBOX", "mailbox = INBOX\ntls_priority = NORMAL:-VERS-TLS1.4", "[imap]", "tls_priority" },
	{ "mailbox = INBOX", "mailbox = INBOX\nauth = xoauth2", "[imap]", "token_file" },
	{ "mailbox = INBOX", "mailbox = INBOX\ntoken_file = /run/token", "[imap]", "token_file" },
	{ "password_file = @DIR@/pw", "auth = xoauth2\ntoken_file = token", "[imap]", "token_file" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = delete", "[imap]", "after_ingest" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = move", "[imap]", "after_ingest_folder" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = move\nafter_ingest_folder = INBOX", "[imap]",
	  "after_ingest_folder" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = move\nafter_ingest_folder = inbox", "[imap]",
	  "after_ingest_folder" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest_folder = Behandlet", "[imap]", "after_ingest_folder" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = keyword\nafter_ingest_keyword = \\Seen", "[imap]",
	  "after_ingest_keyword" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = keyword\nafter_ingest_keyword = $A B", "[imap]",
	  "after_ingest_keyword" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = keyword\nafter_ingest_keyword = a(b", "[imap]",
	  "after_ingest_keyword" },
	{ "mailbox = INBOX", "mailbox = INBOX\nafter_ingest = keyword\nafter_ingest_keyword = æø", "[imap]",
	  "after_ingest_keyword" },
	{ "[store]", "[evidence]\ntrusted_relays = mx1.sum.dk; [10.0.0.1]\n[store]", "[evidence]", "trusted_relays" },
	{ "[store]", "[evidence]\ntrusted_relay = mx1.sum.dk\n[store]", "[evidence]", "trusted_relay" },
	{ "[store]", "[evidence]\nmax_edge_skew = 2h\n[store]", "[evidence]", "max_edge_skew" },
	{ "[store]", "[evidence]\nmax_edge_skew = soon\n[store]", "[evidence]", "max_edge_skew" },
	{ "timezone = Europe/Copenhagen", "timezone = Europe/Copenhagen\ndeadline_basis = edge",
	  "[call digitale-kompetencer-2022]", "trusted_relays" },
};

/* [evidence]: patterns split on ';', ',' and whitespace, lower-cased;
 * deadline_basis = edge with them. */
static void test_evidence(void)
{
	g_autofree char *text = replace(good, "[store]",
					"[evidence]\ntrusted_relays = *.prod.OUTLOOK.com;mx*.sum.dk, "
					"mail?.sum.dk  relay.sum.dk ;\nmax_edge_skew = 90s\n[store]");
	g_autofree char *text2 =
		replace(text, "timezone = Europe/Copenhagen", "timezone = Europe/Copenhagen\ndeadline_basis = edge");
	g_autofree char *path = write_conf(text2);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_nonnull(cfg->trusted_relays);
	g_assert_cmpuint(g_strv_length(cfg->trusted_relays), ==, 4);
	g_assert_cmpstr(cfg->trusted_relays[0], ==, "*.prod.outlook.com");
	g_assert_cmpstr(cfg->trusted_relays[1], ==, "mx*.sum.dk");
	g_assert_cmpstr(cfg->trusted_relays[2], ==, "mail?.sum.dk");
	g_assert_cmpstr(cfg->trusted_relays[3], ==, "relay.sum.dk");
	g_assert_cmpint(cfg->max_edge_skew, ==, 90);
	g_assert_true(cfg->calls[0].basis_edge);
	g_assert_false(cfg->calls[0].basis_date_header);
	config_free(cfg);
	/* Defaults: none trusted, 5 minutes. */
	g_autofree char *path2 = write_conf(good);
	cfg = NULL;
	g_assert_cmpint(config_load(path2, &cfg, &err), ==, 0);
	g_assert_null(cfg->trusted_relays);
	g_assert_cmpint(cfg->max_edge_skew, ==, 300);
	g_assert_false(cfg->calls[0].basis_edge);
	config_free(cfg);
}

static void test_match_settings(void)
{
	g_autofree char *text = replace(good, "[store]",
					"[match]\nfuzzy_threshold = 0.8\nword_similarity = 0.7   # typos\n"
					"title_threshold = 1\n[store]");
	g_autofree char *path = write_conf(text);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpfloat(cfg->fuzzy_threshold, ==, 0.8);
	g_assert_cmpfloat(cfg->word_similarity, ==, 0.7);
	g_assert_cmpfloat(cfg->title_threshold, ==, 1.0);
	config_free(cfg);
	/* The error names the file, the group and the key, with an example. */
	g_autofree char *bad_text = replace(good, "[store]", "[match]\nword_similarity = 1.5\n[store]");
	g_autofree char *bad_path = write_conf(bad_text);
	g_autofree char *bad_err = NULL;
	g_assert_cmpint(config_load(bad_path, &cfg, &bad_err), <, 0);
	g_autofree char *want = g_strdup_printf(
		"%s: [match] word_similarity: must be a number above 0 and at most 1 "
		"such as 0.6, got \"1.5\"",
		bad_path);
	g_assert_cmpstr(bad_err, ==, want);
}

static void test_bad(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = replace(good, bad[i].from, bad[i].to);
		g_autofree char *path = write_conf(text);
		struct config *cfg = NULL;
		g_autofree char *err = NULL;
		int r = config_load(path, &cfg, &err);
		if (r == 0 || !strstr(err, path) || !strstr(err, bad[i].group) ||
		    (bad[i].key && !strstr(err, bad[i].key)))
			g_test_message("case %zu: r=%d err=%s", i, r, err ? err : "(null)");
		g_assert_cmpint(r, <, 0);
		g_assert_null(cfg);
		/* Out-parameters stay as the caller set them on failure. */
		struct config *const sentinel = (struct config *)&sentinel;
		struct config *kept = sentinel;
		g_autofree char *err2 = NULL;
		g_assert_cmpint(config_load(path, &kept, &err2), ==, r);
		g_assert_true(kept == sentinel);
		g_assert_cmpstr(err2, ==, err);
		g_assert_nonnull(strstr(err, path));
		g_assert_nonnull(strstr(err, bad[i].group));
		if (bad[i].key)
			g_assert_nonnull(strstr(err, bad[i].key));
		g_assert_null(strchr(err, '\n'));
	}
}

/* The issue's own example puts comments on group lines; a '#' that is
 * data is written "\#"; a key set twice, a key outside a group and a line
 * that is nothing are errors that name file, line, group and key. */
static void test_syntax(void)
{
	g_autofree char *commented = replace(good, "[call digitale-kompetencer-2022]\n",
					     "  [call digitale-kompetencer-2022]      # one group per call\n");
	g_autofree char *t1 = replace(commented, "[store]\n", "[store]\t# all state\r\n");
	g_autofree char *t2 = replace(t1, "Styrkelse af digitale kompetencer\n",
				      "Styrkelse af digitale kompetencer \\#2   # a comment\n");
	g_autofree char *path = write_conf(t2);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_null(err);
	g_assert_cmpuint(cfg->n_calls, ==, 1);
	g_assert_cmpstr(cfg->calls[0].id, ==, "digitale-kompetencer-2022");
	g_assert_cmpstr(cfg->calls[0].subject, ==, "Puljeopslag 2022: Styrkelse af digitale kompetencer #2");
	g_assert_cmpstr(cfg->database, ==, "/var/lib/puljed/puljed.db");
	config_free(cfg);

	/* A byte order mark loads; a value that is only a comment is empty,
	 * so a required key is missing. */
	g_autofree char *bom = g_strconcat("\xef\xbb\xbf", good, NULL);
	g_autofree char *bom_path = write_conf(bom);
	g_autofree char *bom_err = NULL;
	g_assert_cmpint(config_load(bom_path, &cfg, &bom_err), ==, 0);
	config_free(cfg);
	g_autofree char *unset = replace(good, "host = imap.example.dk\n", "host = # set me\n");
	g_autofree char *unset_path = write_conf(unset);
	g_autofree char *unset_err = NULL;
	cfg = NULL;
	g_assert_cmpint(config_load(unset_path, &cfg, &unset_err), <, 0);
	g_test_message("%s", unset_err);
	g_assert_nonnull(strstr(unset_err, "[imap] host"));

	static const struct {
		const char *from, *to, *want1, *want2;
	} cases[] = {
		{ "username = rbj\n", "username = rbj\nhost = other.example.dk\n", ":6: [imap] host",
		  "first on line 2" },
		{ "[imap]\n", "poll_interval = 5\n[imap]\n", ":1: poll_interval", "before the first [group]" },
		{ "[daemon]\n", "[daemon] poll_interval = 5\n", ":9:", "group header" },
		{ "[store]\n", "[store\n", ":12:", "group header" },
		{ "username = rbj\n", "username rbj\n", ":5: [imap]", "key = value" },
		{ "[daemon]\n", "[imap]\nhost = again.example.dk\n[daemon]\n", ":10: [imap] host", "set twice" },
		{ "username = rbj\n", "username = rbj\nhost[da] = x.example.dk\n", ":6: [imap] host[da]",
		  "unknown key" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = replace(good, cases[i].from, cases[i].to);
		g_autofree char *p = write_conf(text);
		g_autofree char *e = NULL;
		cfg = NULL;
		int r = config_load(p, &cfg, &e);
		g_test_message("case %zu: r=%d err=%s", i, r, e ? e : "(null)");
		g_assert_cmpint(r, ==, -EINVAL);
		g_assert_null(cfg);
		g_assert_true(g_str_has_prefix(e, p));
		g_assert_nonnull(strstr(e, cases[i].want1));
		g_assert_nonnull(strstr(e, cases[i].want2));
		g_assert_null(strchr(e, '\n'));
	}
}

static void test_auth_and_actions(void)
{
	g_autofree char *token = g_strdup_printf("%s/token", tmpdir);
	g_autofree char *text = replace(good, "password_file = @DIR@/pw   # comment\n",
					"auth = xoauth2\ntoken_file = @DIR@/token\n"
					"after_ingest = move\nafter_ingest_folder = Behandlede ansøgninger\n");
	g_autofree char *path = write_conf(text);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpint(cfg->imap.auth, ==, CONFIG_AUTH_XOAUTH2);
	g_assert_cmpstr(cfg->imap.token_file, ==, token);
	g_assert_cmpint(cfg->imap.after_ingest, ==, CONFIG_AFTER_MOVE);
	g_assert_cmpstr(cfg->imap.after_ingest_folder, ==, "Behandlede ansøgninger");

	/* The token comes from token_file (never the credential), without the
	 * trailing newline, and may be far longer than a password. */
	char *secret = NULL;
	g_autofree char *perr = NULL;
	g_assert_cmpint(config_read_password(cfg, &secret, &perr), <, 0);
	g_assert_nonnull(strstr(perr, "[imap] token_file"));
	GString *big = g_string_new(NULL);
	for (int i = 0; i < 3000; i++)
		g_string_append(big, "eyJ0");
	g_string_append(big, " \n");
	g_assert_true(g_file_set_contents(token, big->str, -1, NULL));
	g_assert_cmpint(config_read_password(cfg, &secret, NULL), ==, 0);
	g_assert_cmpuint(strlen(secret), ==, 12000);
	g_assert_true(g_str_has_suffix(secret, "eyJ0"));
	config_password_free(secret);
	g_string_free(big, TRUE);
	config_free(cfg);

	g_autofree char *kw = replace(good, "mailbox = INBOX",
				      "mailbox = INBOX\nauth = plain\n"
				      "after_ingest = keyword\nafter_ingest_keyword = $Behandlet");
	g_autofree char *kpath = write_conf(kw);
	g_assert_cmpint(config_load(kpath, &cfg, NULL), ==, 0);
	g_assert_cmpint(cfg->imap.auth, ==, CONFIG_AUTH_PLAIN);
	g_assert_cmpint(cfg->imap.after_ingest, ==, CONFIG_AFTER_KEYWORD);
	g_assert_cmpstr(cfg->imap.after_ingest_keyword, ==, "$Behandlet");
	config_free(cfg);
}

static void test_check_files(void)
{
	g_autofree char *text = replace(good, "mailbox = INBOX", "mailbox = INBOX\nca_file = /nonexistent/ca.pem");
	g_autofree char *path = write_conf(text);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	/* Loads (puljectl needs no CA file) but the daemon's check names it. */
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpint(config_check_files(cfg, &err), <, 0);
	g_assert_nonnull(strstr(err, path));
	g_assert_nonnull(strstr(err, "[imap] ca_file"));
	config_free(cfg);
}

static void test_missing_file(void)
{
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load("/nonexistent/puljed.conf", &cfg, &err), <, 0);
	g_assert_nonnull(strstr(err, "/nonexistent/puljed.conf"));
	g_autofree char *path = write_conf("this is not an ini file\n");
	g_autofree char *err2 = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err2), <, 0);
	g_assert_nonnull(strstr(err2, path));
}

static void test_sizes(void)
{
	uint64_t v;
	g_assert_cmpint(config_parse_size("25M", &v), ==, 0);
	g_assert_cmpuint(v, ==, 25u << 20);
	g_assert_cmpint(config_parse_size("64k", &v), ==, 0);
	g_assert_cmpuint(v, ==, 64u << 10);
	g_assert_cmpint(config_parse_size("1GB", &v), ==, 0);
	g_assert_cmpuint(v, ==, 1u << 30);
	g_assert_cmpint(config_parse_size("12", &v), ==, 0);
	g_assert_cmpint(config_parse_size("-1", &v), <, 0);
	g_assert_cmpint(config_parse_size("10X", &v), <, 0);
	g_assert_cmpint(config_parse_size("99999999999999999999G", &v), <, 0);
}

static void test_prefetch(void)
{
	/* 0 turns the overlap off; a size in between is taken as written. */
	static const struct {
		const char *value;
		uint64_t bytes;
	} cases[] = { { "0", 0 }, { "512K", 512u << 10 }, { "1G", 1u << 30 } };
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = g_strdup_printf(
			"[imap]\nhost=h\nusername=u\n[limits]\nprefetch = %s\n"
			"[call x]\nsubject=Puljeopslag\ndeadline=2022-07-01\n",
			cases[i].value);
		g_autofree char *path = write_conf(text);
		struct config *cfg = NULL;
		g_autofree char *err = NULL;
		g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
		g_assert_cmpuint(cfg->limits.prefetch, ==, cases[i].bytes);
		config_free(cfg);
	}
}

static void test_tls_priority(void)
{
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_autofree char *path = write_conf(good);
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_null(cfg->imap.tls_priority); /* tls.c's default */
	config_free(cfg);
	cfg = NULL;
	g_autofree char *text =
		replace(good, "mailbox = INBOX", "mailbox = INBOX\ntls_priority = NORMAL:-VERS-ALL:+VERS-TLS1.0");
	g_autofree char *path2 = write_conf(text);
	g_assert_cmpint(config_load(path2, &cfg, &err), ==, 0);
	g_assert_cmpstr(cfg->imap.tls_priority, ==, "NORMAL:-VERS-ALL:+VERS-TLS1.0");
	config_free(cfg);
	/* The error points at the bad element. */
	g_autofree char *bad_text =
		replace(good, "mailbox = INBOX", "mailbox = INBOX\ntls_priority = SECURE128:+BOGUS:-RSA");
	g_autofree char *path3 = write_conf(bad_text);
	cfg = NULL;
	g_assert_cmpint(config_load(path3, &cfg, &err), <, 0);
	g_assert_nonnull(strstr(err, "[imap] tls_priority"));
	g_assert_nonnull(strstr(err, "\"+BOGUS:-RSA\""));
}

/* The verdict on a password or token file, from its stat alone. */
static void test_judge_secret_file(void)
{
	static const struct {
		unsigned mode;
		uid_t uid;
		enum config_file_verdict verdict;
		const char *why; /* in *why */
	} cases[] = {
		{ S_IFREG | 0600, 1000, CONFIG_FILE_OK, NULL },
		{ S_IFREG | 0400, 1000, CONFIG_FILE_OK, NULL },
		{ S_IFREG | 0640, 1000, CONFIG_FILE_OK, NULL }, /* group may read */
		{ S_IFREG | 0440, 0, CONFIG_FILE_OK, NULL },    /* root's */
		{ S_IFREG | 0644, 1000, CONFIG_FILE_WARN, "readable by everyone (mode 0644)" },
		{ S_IFREG | 0604, 0, CONFIG_FILE_WARN, "readable by everyone" },
		{ S_IFREG | 0620, 1000, CONFIG_FILE_REFUSE, "writable by its group (gid 50, mode 0620)" },
		{ S_IFREG | 0660, 0, CONFIG_FILE_REFUSE, "writable by its group" },
		{ S_IFREG | 0602, 1000, CONFIG_FILE_REFUSE, "writable by everyone (mode 0602)" },
		{ S_IFREG | 0666, 1000, CONFIG_FILE_REFUSE, "writable by everyone" },
		{ S_IFREG | 0600, 1001, CONFIG_FILE_REFUSE,
		  "owned by uid 1001, not by the service user (uid 1000) or root" },
		{ S_IFREG | 0600, 65534, CONFIG_FILE_REFUSE, "owned by uid 65534" },
		{ S_IFDIR | 0700, 1000, CONFIG_FILE_REFUSE, "not a regular file" },
		{ S_IFIFO | 0600, 1000, CONFIG_FILE_REFUSE, "not a regular file" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct stat st = { .st_mode = cases[i].mode, .st_uid = cases[i].uid, .st_gid = 50 };
		g_autofree char *why = NULL;
		enum config_file_verdict v = config_judge_secret_file(&st, 1000, &why);
		if (v != cases[i].verdict || (cases[i].why && (!why || !strstr(why, cases[i].why))))
			g_test_message("case %zu: verdict %d, why %s", i, v, why ? why : "(null)");
		g_assert_cmpint(v, ==, cases[i].verdict);
		if (cases[i].why)
			g_assert_nonnull(strstr(why, cases[i].why));
		else
			g_assert_null(why);
	}
}

/* The file as opened: a symlink is judged by its target, and a refused
 * file is named with the key, never read. */
static void test_secret_file_refused(void)
{
	g_autofree char *pw = g_build_filename(tmpdir, "pw", NULL);
	g_autofree char *target = g_build_filename(tmpdir, "shared-pw", NULL);
	g_autofree char *link = g_build_filename(tmpdir, "link-pw", NULL);
	g_assert_true(g_file_set_contents(pw, "hunter2\n", -1, NULL));
	g_assert_true(g_file_set_contents(target, "hunter2\n", -1, NULL));
	g_assert_cmpint(symlink(target, link), ==, 0);
	g_autofree char *path = write_conf(good);
	g_autofree char *ltext = replace(good, "password_file = @DIR@/pw", "password_file = @DIR@/link-pw");
	g_autofree char *lpath = write_conf(ltext);
	struct config *cfg = NULL, *lcfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpint(config_load(lpath, &lcfg, &err), ==, 0);

	char *secret = NULL;
	g_autofree char *warning = NULL;
	g_assert_cmpint(g_chmod(pw, 0600), ==, 0);
	g_assert_cmpint(config_check_secret(cfg, &warning, &err), ==, 0);
	g_assert_null(warning);
	g_assert_cmpint(g_chmod(pw, 0644), ==, 0);
	g_assert_cmpint(config_check_secret(cfg, &warning, &err), ==, 0);
	g_assert_nonnull(strstr(warning, "[imap] password_file"));
	g_assert_nonnull(strstr(warning, "readable by everyone"));
	g_assert_cmpint(g_chmod(pw, 0620), ==, 0);
	g_assert_cmpint(config_read_password(cfg, &secret, &err), ==, -EPERM);
	g_assert_null(secret);
	g_assert_nonnull(strstr(err, path));
	g_assert_nonnull(strstr(err, "[imap] password_file"));
	g_assert_nonnull(strstr(err, pw));
	g_assert_nonnull(strstr(err, "writable by its group"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(g_chmod(pw, 0600), ==, 0);

	g_assert_cmpint(g_chmod(target, 0602), ==, 0);
	g_assert_cmpint(config_read_password(lcfg, &secret, &err), ==, -EPERM);
	g_assert_nonnull(strstr(err, "writable by everyone"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(g_chmod(target, 0600), ==, 0);
	g_assert_cmpint(config_read_password(lcfg, &secret, &err), ==, 0);
	g_assert_cmpstr(secret, ==, "hunter2");
	config_password_free(secret);
	config_free(cfg);
	config_free(lcfg);
}

static void test_shipped(void)
{
	/* conf/puljed.conf ships the call and loads (bar the password). */
	g_autofree char *path = g_build_filename(g_getenv("PULJED_SRCDIR"), "conf", "puljed.conf", NULL);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpuint(cfg->n_calls, ==, 1);
	g_assert_cmpstr(cfg->calls[0].id, ==, "digitale-kompetencer-2022");
	g_assert_cmpstr(cfg->calls[0].subject, ==, "Puljeopslag 2022: Styrkelse af digitale kompetencer");
	config_free(cfg);
}

static void test_durations(void)
{
	int64_t s;
	g_assert_cmpint(config_parse_duration("15m", &s), ==, 0);
	g_assert_cmpint(s, ==, 900);
	g_assert_cmpint(config_parse_duration("90s", &s), ==, 0);
	g_assert_cmpint(s, ==, 90);
	g_assert_cmpint(config_parse_duration("2h", &s), ==, 0);
	g_assert_cmpint(s, ==, 7200);
	g_assert_cmpint(config_parse_duration("1d", &s), ==, 0);
	g_assert_cmpint(config_parse_duration("0", &s), ==, 0);
	g_assert_cmpint(s, ==, 0);
	g_assert_cmpint(config_parse_duration("15", &s), <, 0);
	g_assert_cmpint(config_parse_duration("-5m", &s), <, 0);
	g_assert_cmpint(config_parse_duration("5y", &s), <, 0);
	g_assert_cmpint(config_parse_duration("400d", &s), <, 0);
}

/* ---- [receipts] ---- */

/* The good config with a [receipts] group of BODY ("@DIR@" is tmpdir). */
static char *receipts_conf(const char *body)
{
	g_autofree char *text = g_strdup_printf("%s\n[receipts]\n%s", good, body);
	return write_conf(text);
}

static struct config *load_receipts_ok(const char *body)
{
	g_autofree char *path = receipts_conf(body);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	int r = config_load(path, &cfg, &err);
	if (r < 0)
		g_test_message("%s", err);
	g_assert_cmpint(r, ==, 0);
	g_assert_null(err);
	return cfg;
}

#define MINIMAL "send = yes\nsmtp_host = smtp.example.dk\nfrom = puljer@sum.dk\n"

static void test_receipts_defaults(void)
{
	/* No [receipts] group at all: off, every default. */
	g_autofree char *path = write_conf(good);
	g_autoptr(Config) cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, 0);
	const struct config_receipts *rc = &cfg->receipts;
	g_assert_false(rc->send);
	g_assert_null(rc->smtp_host);
	g_assert_cmpuint(rc->smtp_port, ==, 587);
	g_assert_cmpint(rc->security, ==, CONFIG_SECURITY_STARTTLS);
	g_assert_null(rc->ca_file);
	g_assert_null(rc->tls_priority);
	g_assert_null(rc->username);
	g_assert_null(rc->password_file);
	g_assert_cmpint(rc->auth, ==, CONFIG_AUTH_PLAIN);
	g_assert_null(rc->token_file);
	g_assert_null(rc->from);
	g_assert_null(rc->from_name);
	g_assert_null(rc->from_addr);
	g_assert_null(rc->from_domain);
	g_assert_cmpuint(rc->statuses, ==, (1u << RULES_ACCEPTED) | (1u << RULES_REVIEW) | (1u << RULES_LATE));
	g_assert_cmpuint(rc->max_per_sender, ==, 10);
	g_assert_null(rc->template_path);
	g_assert_null(rc->template);
	g_assert_null(rc->sign_cert);
	g_assert_null(rc->sign_key);
	g_assert_cmpuint(rc->timeout, ==, 30);
	g_assert_cmpint(rc->retry_min, ==, 60);
	g_assert_cmpint(rc->retry_max, ==, 3600);
	g_assert_cmpint(rc->give_up, ==, 5 * 86400);

	/* An empty group is the same; send = no needs neither host nor from. */
	g_autoptr(Config) off = load_receipts_ok("send = no\n");
	g_assert_false(off->receipts.send);
	g_assert_null(off->receipts.smtp_host);

	/* The minimal receipts config; port 465 follows security = tls. */
	g_autoptr(Config) on = load_receipts_ok(MINIMAL);
	g_assert_true(on->receipts.send);
	g_assert_cmpstr(on->receipts.smtp_host, ==, "smtp.example.dk");
	g_assert_cmpuint(on->receipts.smtp_port, ==, 587);
	g_autoptr(Config) tls = load_receipts_ok(MINIMAL "security = tls\n");
	g_assert_cmpint(tls->receipts.security, ==, CONFIG_SECURITY_TLS);
	g_assert_cmpuint(tls->receipts.smtp_port, ==, 465);
}

static void test_receipts_full(void)
{
	g_autofree char *tpl = g_build_filename(tmpdir, "kvittering.txt", NULL);
	g_assert_true(g_file_set_contents(tpl, "Kære ansøger,\n{reference}\n", -1, NULL));
	g_autoptr(Config) cfg = load_receipts_ok(
		"send = yes                    # on\n"
		"smtp_host = smtp.sum.dk\n"
		"smtp_port = 2525\n"
		"security = tls\n"
		"ca_file = /etc/puljed/smtp-ca.pem\n"
		"tls_priority = NORMAL:%PROFILE_MEDIUM\n"
		"username = puljer@sum.dk\n"
		"password_file = /etc/puljed/smtp-pw\n"
		"auth = login\n"
		"from = Puljesekretariatet <puljer@SUM.dk>\n"
		"statuses = accepted,late\n"
		"max_per_sender = 0\n"
		"template = @DIR@/kvittering.txt\n"
		"sign_cert = /etc/puljed/cert.pem\n"
		"sign_key = /etc/puljed/key.pem\n"
		"timeout = 2m\n"
		"retry_min = 30s\n"
		"retry_max = 2h\n"
		"give_up = 1d\n");
	const struct config_receipts *rc = &cfg->receipts;
	g_assert_true(rc->send);
	g_assert_cmpstr(rc->smtp_host, ==, "smtp.sum.dk");
	g_assert_cmpuint(rc->smtp_port, ==, 2525);
	g_assert_cmpint(rc->security, ==, CONFIG_SECURITY_TLS);
	g_assert_cmpstr(rc->ca_file, ==, "/etc/puljed/smtp-ca.pem");
	g_assert_cmpstr(rc->tls_priority, ==, "NORMAL:%PROFILE_MEDIUM");
	g_assert_cmpstr(rc->username, ==, "puljer@sum.dk");
	g_assert_cmpstr(rc->password_file, ==, "/etc/puljed/smtp-pw");
	g_assert_cmpint(rc->auth, ==, CONFIG_AUTH_LOGIN);
	g_assert_null(rc->token_file);
	g_assert_cmpstr(rc->from, ==, "Puljesekretariatet <puljer@SUM.dk>");
	g_assert_cmpstr(rc->from_name, ==, "Puljesekretariatet");
	g_assert_cmpstr(rc->from_addr, ==, "puljer@sum.dk");
	g_assert_cmpstr(rc->from_domain, ==, "sum.dk");
	g_assert_cmpuint(rc->statuses, ==, (1u << RULES_ACCEPTED) | (1u << RULES_LATE));
	g_assert_cmpuint(rc->max_per_sender, ==, 0);
	g_assert_cmpstr(rc->template_path, ==, tpl);
	g_assert_cmpstr(rc->template, ==, "Kære ansøger,\n{reference}\n");
	g_assert_cmpstr(rc->sign_cert, ==, "/etc/puljed/cert.pem");
	g_assert_cmpstr(rc->sign_key, ==, "/etc/puljed/key.pem");
	g_assert_cmpuint(rc->timeout, ==, 120);
	g_assert_cmpint(rc->retry_min, ==, 30);
	g_assert_cmpint(rc->retry_max, ==, 7200);
	g_assert_cmpint(rc->give_up, ==, 86400);
	/* The IMAP side keeps its own defaults. */
	g_assert_cmpint(cfg->imap.auth, ==, CONFIG_AUTH_LOGIN);
	g_assert_null(cfg->imap.token_file);

	g_autoptr(Config) x = load_receipts_ok(MINIMAL
					       "username = u@sum.dk\nauth = xoauth2\n"
					       "token_file = /var/lib/puljed/smtp-token\n");
	g_assert_cmpint(x->receipts.auth, ==, CONFIG_AUTH_XOAUTH2);
	g_assert_cmpstr(x->receipts.token_file, ==, "/var/lib/puljed/smtp-token");
}

static const struct {
	const char *body;   /* the [receipts] group */
	const char *key;    /* the error must say "[receipts] KEY: " */
	const char *reason; /* and this, or NULL */
} bad_receipts[] = {
	{ "send = true\n", "send", "\"yes\" or \"no\"" },
	{ "send = yes\nfrom = a@sum.dk\n", "smtp_host", "required" },
	{ "send = yes\nsmtp_host = smtp.sum.dk\n", "from", "required" },
	{ MINIMAL "smtp_port = 0\n", "smtp_port", NULL },
	{ MINIMAL "smtp_port = 65536\n", "smtp_port", NULL },
	{ MINIMAL "smtp_port = submission\n", "smtp_port", NULL },
	{ MINIMAL "security = none\n", "security", "never sent in plain text" },
	{ MINIMAL "security = plain\n", "security", "never sent in plain text" },
	{ MINIMAL "security = plaintext\n", "security", "no fallback" },
	{ MINIMAL "security = ssl\n", "security", "\"starttls\" or \"tls\"" },
	{ "security = none\n", "security", "never sent in plain text" }, /* refused with send = no too */
	{ MINIMAL "ca_file = ca.pem\n", "ca_file", "absolute" },
	{ MINIMAL "tls_priority = NORMAL:+NO-SUCH-THING\n", "tls_priority", "GnuTLS" },
	{ MINIMAL "password_file = /etc/pw\n", "password_file", "username" },
	{ MINIMAL "username = u\npassword_file = pw\n", "password_file", "absolute" },
	{ MINIMAL "username = u\nauth = cram-md5\n", "auth", NULL },
	{ MINIMAL "auth = login\n", "auth", "username" },
	{ MINIMAL "username = u\nauth = xoauth2\n", "token_file", "required with auth = xoauth2" },
	{ MINIMAL "username = u\ntoken_file = /run/t\n", "token_file", "only used with auth = xoauth2" },
	{ MINIMAL "username = u\nauth = xoauth2\ntoken_file = t\n", "token_file", "absolute" },
	{ MINIMAL "auth = xoauth2\ntoken_file = /run/t\n", "username", "xoauth2" },
	{ MINIMAL "username = u\nauth = xoauth2\ntoken_file = /run/t\npassword_file = /etc/pw\n", "password_file",
	  "xoauth2" },
	{ "send = yes\nsmtp_host = h\nfrom = puljer\n", "from", "one '@'" },
	{ "send = yes\nsmtp_host = h\nfrom = puljer@localhost\n", "from", "domain" },
	{ "send = yes\nsmtp_host = h\nfrom = puljer@sum..dk\n", "from", "domain" },
	{ "send = yes\nsmtp_host = h\nfrom = puljer@-sum.dk\n", "from", "domain" },
	{ "send = yes\nsmtp_host = h\nfrom = puljer@10.0.0.1\n", "from", "domain" },
	{ "send = yes\nsmtp_host = h\nfrom = pul jer@sum.dk\n", "from", "mailbox" },
	{ "send = yes\nsmtp_host = h\nfrom = .puljer@sum.dk\n", "from", "mailbox" },
	{ "send = yes\nsmtp_host = h\nfrom = pu..ljer@sum.dk\n", "from", "mailbox" },
	{ "send = yes\nsmtp_host = h\nfrom = puljær@sum.dk\n", "from", "mailbox" },
	{ "send = yes\nsmtp_host = h\nfrom = a@b@sum.dk\n", "from", "one '@'" },
	{ "send = yes\nsmtp_host = h\nfrom = Puljer <puljer@sum.dk\n", "from", "'<'" },
	{ "send = yes\nsmtp_host = h\nfrom = Puljer <puljer@sum.dk> x\n", "from", "'<'" },
	{ "send = yes\nsmtp_host = h\nfrom = Puljer <a@sum.dk> <b@sum.dk>\n", "from", "'<'" },
	{ "send = yes\nsmtp_host = h\nfrom = Pul\"jer <a@sum.dk>\n", "from", "display name" },
	{ "send = yes\nsmtp_host = h\nfrom = puljer@sum.dk>\n", "from", "'>'" },
	{ "send = yes\nsmtp_host = h\nfrom = <>\n", "from", "'@'" },
	{ "from = nobody\n", "from", NULL }, /* checked with send = no too */
	{ MINIMAL "statuses = unrelated\n", "statuses", "unrelated mail never gets a receipt" },
	{ MINIMAL "statuses = accepted, unrelated\n", "statuses", "unrelated mail never gets a receipt" },
	{ MINIMAL "statuses =\n", "statuses", "empty" },
	{ MINIMAL "statuses = , ,\n", "statuses", "empty" },
	{ MINIMAL "statuses = accepted, godkendt\n", "statuses", "\"godkendt\" is not a status" },
	{ MINIMAL "statuses = Accepted\n", "statuses", "not a status" },
	{ MINIMAL "max_per_sender = -1\n", "max_per_sender", NULL },
	{ MINIMAL "max_per_sender = ten\n", "max_per_sender", NULL },
	{ MINIMAL "template = kvittering.txt\n", "template", "absolute" },
	{ MINIMAL "template = /nonexistent/kvittering.txt\n", "template", "cannot read" },
	{ MINIMAL "sign_cert = /etc/puljed/cert.pem\n", "sign_key", "both or neither" },
	{ MINIMAL "sign_key = /etc/puljed/key.pem\n", "sign_cert", "both or neither" },
	{ MINIMAL "sign_cert = cert.pem\nsign_key = /k.pem\n", "sign_cert", "absolute" },
	{ MINIMAL "timeout = 30\n", "timeout", "duration" },
	{ MINIMAL "timeout = 0\n", "timeout", NULL },
	{ MINIMAL "timeout = 2h\n", "timeout", "1h" },
	{ MINIMAL "retry_min = soon\n", "retry_min", NULL },
	{ MINIMAL "retry_min = 0\n", "retry_min", NULL },
	{ MINIMAL "retry_min = 2h\n", "retry_max", "retry_min" },
	{ MINIMAL "retry_max = 30s\n", "retry_max", "retry_min" },
	{ MINIMAL "give_up = 30m\n", "give_up", "retry_max" },
	{ MINIMAL "give_up = 400d\n", "give_up", NULL },
	{ MINIMAL "reply_to = a@sum.dk\n", "reply_to", "unknown key" },
	{ MINIMAL "smtp_host = again.sum.dk\n", "smtp_host", "set twice" },
	{ MINIMAL "smtp_host[da] = x\n", "smtp_host[da]", "unknown key" },
};

/* Each refusal is one line "PATH: [receipts] KEY: reason" (or, for what
 * the file's syntax refuses, "PATH:LINE: [receipts] KEY: reason"). */
static void test_receipts_bad(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad_receipts); i++) {
		g_autofree char *path = receipts_conf(bad_receipts[i].body);
		struct config *cfg = NULL;
		g_autofree char *err = NULL;
		g_autofree char *want = g_strdup_printf("[receipts] %s: ", bad_receipts[i].key);
		int r = config_load(path, &cfg, &err);
		if (r == 0 || !strstr(err, want) || (bad_receipts[i].reason && !strstr(err, bad_receipts[i].reason)))
			g_test_message("case %zu (%s): r=%d err=%s", i, bad_receipts[i].body, r, err ? err : "(null)");
		g_assert_cmpint(r, <, 0);
		g_assert_null(cfg);
		g_assert_true(g_str_has_prefix(err, path));
		g_assert_nonnull(strstr(err, want));
		if (bad_receipts[i].reason)
			g_assert_nonnull(strstr(err, bad_receipts[i].reason));
		g_assert_null(strchr(err, '\n'));
	}
	/* The exact line for the plaintext refusal, as the daemon prints it. */
	g_autofree char *path = receipts_conf(MINIMAL "security = none\n");
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(path, &cfg, &err), ==, -EINVAL);
	g_autofree char *line = g_strdup_printf(
		"%s: [receipts] security: \"none\" refused: receipts are never sent in plain text, and there is no "
		"fallback (\"starttls\" or \"tls\")",
		path);
	g_assert_cmpstr(err, ==, line);
}

static void test_receipts_from(void)
{
	static const struct {
		const char *from, *name, *addr, *domain;
	} cases[] = {
		{ "puljer@sum.dk", NULL, "puljer@sum.dk", "sum.dk" },
		{ "Puljesekretariatet <puljer@sum.dk>", "Puljesekretariatet", "puljer@sum.dk", "sum.dk" },
		{ "  Puljesekretariatet    i   SUM   <  puljer@sum.dk  >  ", "Puljesekretariatet i SUM",
		  "puljer@sum.dk", "sum.dk" },
		{ "Puljesekretariatet<puljer@sum.dk>", "Puljesekretariatet", "puljer@sum.dk", "sum.dk" },
		{ "<puljer@sum.dk>", NULL, "puljer@sum.dk", "sum.dk" },
		{ "Puljer@SUM.DK", NULL, "Puljer@sum.dk", "sum.dk" },
		{ "Sundhedsministeriet <Puljer.Sekretariat@Sum.Dk>", "Sundhedsministeriet", "Puljer.Sekretariat@sum.dk",
		  "sum.dk" },
		{ "\"Sundheds- og Ældreministeriet, puljer\" <puljer@sum.dk>", "Sundheds- og Ældreministeriet, puljer",
		  "puljer@sum.dk", "sum.dk" },
		{ "\"Say \\\"hej\\\"\" <a+b@mail.xn--ldreministeriet-ekb.dk>", "Say \"hej\"",
		  "a+b@mail.xn--ldreministeriet-ekb.dk", "mail.xn--ldreministeriet-ekb.dk" },
		{ "Styrelsen — Puljer <no-reply_2@sub.sst.dk>", "Styrelsen — Puljer", "no-reply_2@sub.sst.dk",
		  "sub.sst.dk" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GString *body = g_string_new("send = yes\nsmtp_host = smtp.sum.dk\nfrom = ");
		/* '#' is not in any case; the value is written as is. */
		g_string_append_printf(body, "%s\n", cases[i].from);
		g_autofree char *text = g_string_free(body, FALSE);
		g_autoptr(Config) cfg = load_receipts_ok(text);
		const struct config_receipts *rc = &cfg->receipts;
		g_test_message("case %zu: %s", i, cases[i].from);
		g_assert_cmpstr(rc->from_name, ==, cases[i].name);
		g_assert_cmpstr(rc->from_addr, ==, cases[i].addr);
		g_assert_cmpstr(rc->from_domain, ==, cases[i].domain);
		g_assert_nonnull(rc->from);
	}
}

static void test_receipts_statuses(void)
{
	static const struct {
		const char *text;
		unsigned mask;
	} cases[] = {
		{ "accepted", 1u << RULES_ACCEPTED },
		{ "review", 1u << RULES_REVIEW },
		{ "late", 1u << RULES_LATE },
		{ "accepted, review, late", (1u << RULES_ACCEPTED) | (1u << RULES_REVIEW) | (1u << RULES_LATE) },
		{ "late,accepted", (1u << RULES_ACCEPTED) | (1u << RULES_LATE) },
		{ " review ,, review ", 1u << RULES_REVIEW },
		{ "accepted review   # a space separates too", (1u << RULES_ACCEPTED) | (1u << RULES_REVIEW) },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *body = g_strdup_printf(MINIMAL "statuses = %s\n", cases[i].text);
		g_autoptr(Config) cfg = load_receipts_ok(body);
		g_assert_cmpuint(cfg->receipts.statuses, ==, cases[i].mask);
		g_assert_cmpuint(cfg->receipts.statuses & (1u << RULES_UNRELATED), ==, 0);
	}
}

/* The template is read at load: a regular file of UTF-8 text, no NUL, at
 * most 64K. */
static void test_receipts_template(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "tpl.txt", NULL);
	g_autofree char *body = g_strdup_printf(MINIMAL "template = %s\n", path);
	g_autofree char *conf = receipts_conf(body);
	struct {
		const char *what;
		char *text;
		size_t len;
		const char *reason; /* NULL: loads */
	} cases[] = {
		{ "exactly 64K", g_strnfill(CONFIG_TEMPLATE_MAX, 'a'), CONFIG_TEMPLATE_MAX, NULL },
		{ "one byte over 64K", g_strnfill(CONFIG_TEMPLATE_MAX + 1, 'a'), CONFIG_TEMPLATE_MAX + 1,
		  "larger than 65536 bytes" },
		{ "a NUL", g_memdup2("Kære\0ansøger", sizeof("Kære\0ansøger")), sizeof("Kære\0ansøger") - 1, "NUL" },
		{ "Latin-1", g_strdup("K\xe6re ans\xf8ger"), 11, "not valid UTF-8 (at byte 1)" },
		{ "empty", g_strdup(""), 0, "empty" },
		{ "UTF-8", g_strdup("Kære ansøger — modtaget\n"), strlen("Kære ansøger — modtaget\n"), NULL },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("template: %s", cases[i].what);
		g_assert_true(g_file_set_contents(path, cases[i].text, (gssize)cases[i].len, NULL));
		struct config *cfg = NULL;
		g_autofree char *err = NULL;
		int r = config_load(conf, &cfg, &err);
		if (!cases[i].reason) {
			g_assert_cmpint(r, ==, 0);
			g_assert_cmpstr(cfg->receipts.template_path, ==, path);
			g_assert_cmpuint(strlen(cfg->receipts.template), ==, cases[i].len);
			g_assert_cmpmem(cfg->receipts.template, cases[i].len, cases[i].text, cases[i].len);
			config_free(cfg);
		} else {
			g_assert_cmpint(r, <, 0);
			g_assert_null(cfg);
			g_assert_nonnull(strstr(err, "[receipts] template: "));
			g_assert_nonnull(strstr(err, path));
			g_assert_nonnull(strstr(err, cases[i].reason));
		}
		g_free(cases[i].text);
	}
	/* Not a regular file: a directory, and a FIFO (which must not block). */
	g_autofree char *dir_body = g_strdup_printf(MINIMAL "template = %s\n", tmpdir);
	g_autofree char *dir_conf = receipts_conf(dir_body);
	struct config *cfg = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_load(dir_conf, &cfg, &err), <, 0);
	g_assert_nonnull(strstr(err, "[receipts] template: "));
	g_assert_nonnull(strstr(err, "not a regular file"));
	g_autofree char *fifo = g_build_filename(tmpdir, "tpl.fifo", NULL);
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	g_autofree char *fifo_body = g_strdup_printf(MINIMAL "template = %s\n", fifo);
	g_autofree char *fifo_conf = receipts_conf(fifo_body);
	g_autofree char *err2 = NULL;
	g_assert_cmpint(config_load(fifo_conf, &cfg, &err2), <, 0);
	g_assert_nonnull(strstr(err2, "not a regular file"));
}

/* config_check_files(): with send = yes, [receipts] ca_file, sign_cert and
 * sign_key must be readable; with send = no they are not looked at. */
static void test_receipts_check_files(void)
{
	g_autofree char *cert = g_build_filename(tmpdir, "sign-cert.pem", NULL);
	g_autofree char *key = g_build_filename(tmpdir, "sign-key.pem", NULL);
	g_assert_true(g_file_set_contents(cert, "cert", -1, NULL));
	g_assert_true(g_file_set_contents(key, "key", -1, NULL));
	static const struct {
		const char *body, *key;
	} cases[] = {
		{ MINIMAL "ca_file = /nonexistent/smtp-ca.pem\n", "ca_file" },
		{ MINIMAL "sign_cert = /nonexistent/cert.pem\nsign_key = @DIR@/sign-key.pem\n", "sign_cert" },
		{ MINIMAL "sign_cert = @DIR@/sign-cert.pem\nsign_key = /nonexistent/key.pem\n", "sign_key" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(Config) cfg = load_receipts_ok(cases[i].body);
		g_autofree char *err = NULL;
		g_autofree char *want = g_strdup_printf("%s: [receipts] %s: cannot read ", cfg->path, cases[i].key);
		g_assert_cmpint(config_check_files(cfg, &err), ==, -ENOENT);
		g_assert_true(g_str_has_prefix(err, want));
		/* Off: not needed, not checked. */
		cfg->receipts.send = false;
		g_autofree char *err2 = NULL;
		g_assert_cmpint(config_check_files(cfg, &err2), ==, 0);
		g_assert_null(err2);
	}
	g_autoptr(Config) ok =
		load_receipts_ok(MINIMAL "sign_cert = @DIR@/sign-cert.pem\nsign_key = @DIR@/sign-key.pem\n");
	g_autofree char *err = NULL;
	g_assert_cmpint(config_check_files(ok, &err), ==, 0);
	g_assert_null(err);
}

/* The SMTP secret: password_file, the systemd credential "smtp-password",
 * or with xoauth2 the token; the same judgement of the file as for IMAP. */
static void test_receipts_secret(void)
{
	g_autofree char *pw = g_build_filename(tmpdir, "smtp-pw", NULL);
	g_assert_true(g_file_set_contents(pw, "smtp s3cret\n", -1, NULL));
	g_assert_cmpint(g_chmod(pw, 0600), ==, 0);
	g_autofree char *imap_pw = g_build_filename(tmpdir, "pw", NULL);
	g_assert_true(g_file_set_contents(imap_pw, "imap-secret\n", -1, NULL));
	g_assert_cmpint(g_chmod(imap_pw, 0600), ==, 0);

	/* From password_file. */
	g_autoptr(Config) file = load_receipts_ok(MINIMAL "username = puljer@sum.dk\npassword_file = @DIR@/smtp-pw\n");
	char *secret = NULL;
	g_autofree char *err = NULL;
	g_assert_cmpint(config_read_smtp_secret(file, &secret, &err), ==, 0);
	g_assert_cmpstr(secret, ==, "smtp s3cret");
	config_password_free(secret);
	secret = NULL;
	/* The IMAP password is still the IMAP one. */
	g_assert_cmpint(config_read_password(file, &secret, &err), ==, 0);
	g_assert_cmpstr(secret, ==, "imap-secret");
	config_password_free(secret);
	secret = NULL;
	/* Judged like the IMAP file: group-writable is refused, naming the key. */
	g_assert_cmpint(g_chmod(pw, 0620), ==, 0);
	g_assert_cmpint(config_read_smtp_secret(file, &secret, &err), ==, -EPERM);
	g_assert_null(secret);
	g_autofree char *want =
		g_strdup_printf("%s: [receipts] password_file: \"%s\" is writable by its group", file->path, pw);
	g_assert_true(g_str_has_prefix(err, want));
	g_clear_pointer(&err, g_free);
	/* config_check_secret() checks it too when send = yes... */
	g_autofree char *warning = NULL;
	g_assert_cmpint(config_check_secret(file, &warning, &err), ==, -EPERM);
	g_assert_nonnull(strstr(err, "[receipts] password_file"));
	g_clear_pointer(&err, g_free);
	/* ... and not when send = no. */
	file->receipts.send = false;
	g_assert_cmpint(config_check_secret(file, &warning, &err), ==, 0);
	file->receipts.send = true;
	/* Everyone may read it: allowed, with a warning naming the key. */
	g_assert_cmpint(g_chmod(pw, 0644), ==, 0);
	g_assert_cmpint(config_check_secret(file, &warning, &err), ==, 0);
	g_assert_nonnull(strstr(warning, "[receipts] password_file"));
	g_assert_nonnull(strstr(warning, "readable by everyone"));
	g_assert_cmpint(g_chmod(pw, 0600), ==, 0);

	/* From the systemd credential. */
	g_autoptr(Config) cred = load_receipts_ok(MINIMAL "username = puljer@sum.dk\n");
	g_autofree char *credir = g_build_filename(tmpdir, "creds", NULL);
	g_assert_cmpint(g_mkdir(credir, 0700), ==, 0);
	g_unsetenv("CREDENTIALS_DIRECTORY");
	g_assert_cmpint(config_read_smtp_secret(cred, &secret, &err), ==, -ENOENT);
	g_assert_nonnull(strstr(err, "[receipts] password_file: not set, and no systemd credential \"smtp-password\""));
	g_clear_pointer(&err, g_free);
	g_setenv("CREDENTIALS_DIRECTORY", credir, TRUE);
	g_assert_cmpint(config_read_smtp_secret(cred, &secret, &err), ==, -ENOENT);
	g_assert_nonnull(strstr(err, "systemd credential smtp-password: cannot read"));
	g_clear_pointer(&err, g_free);
	/* The unit's stand-in when no file was loaded: a lone newline. */
	g_autofree char *credfile = g_build_filename(credir, "smtp-password", NULL);
	g_assert_true(g_file_set_contents(credfile, "\n", -1, NULL));
	g_assert_cmpint(g_chmod(credfile, 0400), ==, 0);
	g_assert_cmpint(config_read_smtp_secret(cred, &secret, &err), ==, -EINVAL);
	g_assert_nonnull(strstr(err, "systemd credential smtp-password: "));
	g_assert_nonnull(strstr(err, "is empty"));
	g_assert_nonnull(strstr(err, "LoadCredential=smtp-password:"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(g_chmod(credfile, 0600), ==, 0);
	g_assert_true(g_file_set_contents(credfile, "from-credential", -1, NULL));
	g_assert_cmpint(config_read_smtp_secret(cred, &secret, &err), ==, 0);
	g_assert_cmpstr(secret, ==, "from-credential");
	config_password_free(secret);
	secret = NULL;
	g_unsetenv("CREDENTIALS_DIRECTORY");

	/* xoauth2: the token file, trailing whitespace trimmed. */
	g_autofree char *tok = g_build_filename(tmpdir, "smtp-token", NULL);
	g_assert_true(g_file_set_contents(tok, "eyJ0eXAi.smtp-token \n", -1, NULL));
	g_assert_cmpint(g_chmod(tok, 0600), ==, 0);
	g_autoptr(Config) x =
		load_receipts_ok(MINIMAL "username = puljer@sum.dk\nauth = xoauth2\ntoken_file = @DIR@/smtp-token\n");
	g_assert_cmpint(config_read_smtp_secret(x, &secret, &err), ==, 0);
	g_assert_cmpstr(secret, ==, "eyJ0eXAi.smtp-token");
	config_password_free(secret);
	secret = NULL;
	g_assert_cmpint(g_chmod(tok, 0666), ==, 0);
	g_assert_cmpint(config_read_smtp_secret(x, &secret, &err), ==, -EPERM);
	g_assert_nonnull(strstr(err, "[receipts] token_file: "));
	g_clear_pointer(&err, g_free);

	/* No username: no AUTH, no secret. */
	g_autoptr(Config) anon = load_receipts_ok(MINIMAL);
	char *const sentinel = (char *)&sentinel;
	secret = sentinel;
	g_assert_cmpint(config_read_smtp_secret(anon, &secret, &err), ==, -EINVAL);
	g_assert_true(secret == sentinel);
	g_assert_nonnull(strstr(err, "[receipts] username: "));
	g_clear_pointer(&err, g_free);
	/* ... and the daemon's check needs only the IMAP secret. */
	g_assert_cmpint(config_check_secret(anon, &warning, &err), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	tmpdir = g_dir_make_tmp("puljed-config-XXXXXX", NULL);
	g_test_add_func("/config/good", test_good);
	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/bad", test_bad);
	g_test_add_func("/config/syntax", test_syntax);
	g_test_add_func("/config/match-settings", test_match_settings);
	g_test_add_func("/config/evidence", test_evidence);
	g_test_add_func("/config/auth-and-actions", test_auth_and_actions);
	g_test_add_func("/config/missing-file", test_missing_file);
	g_test_add_func("/config/check-files", test_check_files);
	g_test_add_func("/config/sizes", test_sizes);
	g_test_add_func("/config/durations", test_durations);
	g_test_add_func("/config/prefetch", test_prefetch);
	g_test_add_func("/config/shipped", test_shipped);
	g_test_add_func("/config/tls-priority", test_tls_priority);
	g_test_add_func("/config/judge-secret-file", test_judge_secret_file);
	g_test_add_func("/config/secret-file-refused", test_secret_file_refused);
	g_test_add_func("/config/receipts/defaults", test_receipts_defaults);
	g_test_add_func("/config/receipts/full", test_receipts_full);
	g_test_add_func("/config/receipts/bad", test_receipts_bad);
	g_test_add_func("/config/receipts/from", test_receipts_from);
	g_test_add_func("/config/receipts/statuses", test_receipts_statuses);
	g_test_add_func("/config/receipts/template", test_receipts_template);
	g_test_add_func("/config/receipts/check-files", test_receipts_check_files);
	g_test_add_func("/config/receipts/secret", test_receipts_secret);
	int r = g_test_run();
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		r = 1;
	g_free(tmpdir);
	return r;
}
