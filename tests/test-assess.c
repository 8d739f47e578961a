/* assess: one table of messages (raw bytes built here, an arrival time
 * around the call's deadline) and what assess_message() must make of
 * them: status, match, kind, on time and the reasons, exactly.  The
 * configuration is a real puljed.conf read by config_load(). */
#include "assess.h"
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define CALL_SUBJECT "Puljeopslag 2022: Styrkelse af digitale kompetencer"

static const char conf_text[] =
	"[imap]\nhost = imap.example.dk\nusername = puljer\n"
	"[call digitale-kompetencer-2022]\n"
	"subject = " CALL_SUBJECT
	"\n"
	"deadline = 2022-07-01\n";

enum attachment {
	ATT_NONE,
	ATT_FORM,        /* Ansoegningsskema.pdf, unsigned */
	ATT_FORM_BADSIG, /* Ansoegningsskema.pdf with a signature that does not hold */
	ATT_TEXT,        /* budget.txt: an attachment that is no form */
};

/* A PDF whose signature dictionary's /ByteRange and /Contents hold no
 * CMS at all: pdfsig's "invalid". */
static const char pdf_plain[] = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
static const char pdf_badsig[] =
	"%PDF-1.4\n1 0 obj\n<< /Type /Sig /ByteRange [0 10 20 5] /Contents <3000> >>\n"
	"endobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

static GByteArray *make_message(const char *subject, const char *extra_headers, enum attachment att)
{
	GString *m = g_string_new(NULL);
	g_string_append(m,
			"From: \"Mette Hansen\" <mette.hansen@rm.dk>\r\n"
			"To: puljer@example.dk\r\n"
			"Date: Fri, 01 Jul 2022 12:00:00 +0200\r\n"
			"Message-ID: <assess-test@rm.dk>\r\n");
	g_string_append_printf(m, "Subject: %s\r\n%sMIME-Version: 1.0\r\n", subject, extra_headers);
	if (att == ATT_NONE) {
		g_string_append(m, "Content-Type: text/plain; charset=utf-8\r\n\r\nHej.\r\n");
	} else {
		const char *name = att == ATT_TEXT ? "budget.txt" : "Ansoegningsskema.pdf";
		const char *type = att == ATT_TEXT ? "text/plain" : "application/pdf";
		const char *data = att == ATT_TEXT ? "Budget: 100.000 kr.\n" : att == ATT_FORM ? pdf_plain : pdf_badsig;
		g_autofree char *b64 = g_base64_encode((const guchar *)data, strlen(data));
		g_string_append_printf(
			m,
			"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
			"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHej, her er ansøgningen.\r\n"
			"--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
			"Content-Disposition: attachment; filename=\"%s\"\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b1--\r\n",
			type, name, name, b64);
	}
	GByteArray *raw = g_byte_array_new();
	g_byte_array_append(raw, (const guint8 *)m->str, (guint)m->len);
	g_string_free(m, TRUE);
	return raw;
}

static const struct row {
	const char *name;
	const char *subject;
	const char *extra_headers;
	enum attachment att;
	int64_t arrival;                   /* seconds after the call's last on-time second */
	const char *status, *match, *kind; /* match NULL: none */
	int on_time;
	const char *reasons; /* the JSON array, exactly */
} rows[] = {
	{ "accepted/at the last second", CALL_SUBJECT " - Region Midtjylland", "", ATT_FORM, 0, "accepted", "exact",
	  "application", 1, "[\"subject:exact\",\"deadline:on-time(-1s)\",\"attachments:1\"]" },
	{ "late/by one second", CALL_SUBJECT " - Region Midtjylland", "", ATT_FORM, 1, "late", "exact", "application",
	  0, "[\"subject:exact\",\"deadline:late(+0s)\",\"attachments:1\"]" },
	{ "review/fuzzy subject", "Puljeopslag 2022: Styrkelse af digital kompetence - Region Midtjylland", "",
	  ATT_FORM, -3600, "review", "fuzzy", "application", 1,
	  "[\"subject:fuzzy(0.97)\",\"deadline:on-time(-1h0m)\",\"attachments:1\"]" },
	{ "review/no form", CALL_SUBJECT " - Region Midtjylland", "", ATT_TEXT, -3600, "review", "exact", "application",
	  1, "[\"subject:exact\",\"deadline:on-time(-1h0m)\",\"attachments:1\",\"form:none\"]" },
	{ "review/no attachment", CALL_SUBJECT " - Region Midtjylland", "", ATT_NONE, -3600, "review", "exact",
	  "application", 1, "[\"subject:exact\",\"deadline:on-time(-1h0m)\",\"attachments:none\"]" },
	{ "review/invalid signature", CALL_SUBJECT " - Region Midtjylland", "", ATT_FORM_BADSIG, -3600, "review",
	  "exact", "application", 1,
	  "[\"subject:exact\",\"deadline:on-time(-1h0m)\",\"attachments:1\",\"form:signature-invalid\"]" },
	{ "unrelated/auto-reply", "Automatisk svar: " CALL_SUBJECT,
	  "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n", ATT_NONE, -3600, "unrelated", NULL, "auto-reply", -1,
	  "[\"subject:fuzzy(1.00)\",\"kind:auto-reply\",\"quotes:digitale-kompetencer-2022\",\"attachments:none\"]" },
	{ "unrelated/list mail", "Nyhedsbrev: " CALL_SUBJECT, "List-Id: <nyheder.example.dk>\r\nPrecedence: list\r\n",
	  ATT_NONE, -3600, "unrelated", NULL, "list", -1,
	  "[\"subject:fuzzy(1.00)\",\"kind:list\",\"quotes:digitale-kompetencer-2022\",\"attachments:none\"]" },
};

static struct config *cfg;

static void test_row(gconstpointer data)
{
	const struct row *r = data;
	g_autoptr(GByteArray) raw = make_message(r->subject, r->extra_headers, r->att);
	struct assess_input in = {
		.mailbox = "INBOX",
		.uidvalidity = 1,
		.uid = 1,
		.has_arrival = true,
		.arrival = cfg->calls[0].deadline_last + r->arrival,
		.raw = raw,
	};
	struct assessment a;
	assess_message(cfg, &in, &a);
	const char *kind = a.msg.has_kind ? record_kind_name(a.msg.kind) : NULL;
	g_test_message("%s: status %s, match %s, kind %s, on_time %d, reasons %s", r->name,
		       record_status_name(a.msg.status), record_match_name(a.msg.match), kind, a.msg.on_time,
		       a.msg.reasons);
	g_assert_cmpstr(record_status_name(a.msg.status), ==, r->status);
	g_assert_cmpstr(record_match_name(a.msg.match), ==, r->match);
	g_assert_cmpstr(kind, ==, r->kind);
	g_assert_cmpint(a.msg.on_time, ==, r->on_time);
	g_assert_cmpstr(a.msg.reasons, ==, r->reasons);
	/* A message that matches the call names it; one that does not, none. */
	g_assert_cmpstr(a.msg.call, ==, r->match ? "digitale-kompetencer-2022" : NULL);
	/* The record holds the bytes it was given. */
	g_assert_true(a.msg.raw == raw->data && a.msg.raw_size == raw->len);
	assess_clear(&a);
}

/* Time is an input: the note that the signer's certificate has expired
 * since the arrival is judged against the NOW passed in, not the clock.
 * The message is tests/gen/pastsig.py's "expired_since" S/MIME case: a
 * certificate valid 2022-06-01 to 06-30, signed and arrived 15 June. */
static void test_now(void)
{
	g_autofree char *dir = g_dir_make_tmp("puljed-test-assess-XXXXXX", NULL);
	g_assert_nonnull(dir);
	g_autofree char *gen = g_build_filename(g_getenv("PULJED_SRCDIR"), "tests", "gen", "pastsig.py", NULL);
	const char *args[] = { "/usr/bin/python3", gen, dir, NULL };
	int status = 0;
	g_autoptr(GError) err = NULL;
	if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
			  &err) ||
	    !g_spawn_check_wait_status(status, NULL))
		g_error("generating the past signatures (faketime) failed: %s", err ? err->message : "non-zero exit");
	g_autofree char *eml = g_build_filename(dir, "expired_since.eml", NULL);
	g_autofree char *text = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(eml, &text, &len, NULL));
	g_autoptr(GByteArray) raw = g_byte_array_new();
	g_byte_array_append(raw, (const guint8 *)text, (guint)len);
	const int64_t arrival = 1655289060; /* 2022-06-15 10:31:00 UTC */
	const int64_t nows[] = { arrival + 86400, arrival + 10 * 366 * 86400 };
	for (size_t i = 0; i < G_N_ELEMENTS(nows); i++) {
		struct assess_input in = {
			.mailbox = "INBOX",
			.uidvalidity = 1,
			.uid = 1,
			.has_arrival = true,
			.arrival = arrival,
			.raw = raw,
			.now = nows[i],
		};
		g_auto(Assessment) a = { 0 };
		assess_message(cfg, &in, &a);
		g_test_message("now %" G_GINT64_FORMAT ": S/MIME note %s", nows[i],
			       a.msg.smime_reason ? a.msg.smime_reason : "-");
		bool expired = a.msg.smime_reason && strstr(a.msg.smime_reason, "certificate expired since");
		g_assert_cmpint(expired, ==, i == 1);
		g_assert_cmpint(a.msg.recorded_at, ==, nows[i]);
	}
	const char *rm[] = { "/bin/rm", "-rf", dir, NULL };
	g_assert_true(g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, NULL, NULL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_autofree char *path = NULL;
	g_autoptr(GError) gerr = NULL;
	int fd = g_file_open_tmp("puljed-test-assess-XXXXXX.conf", &path, &gerr);
	g_assert_no_error(gerr);
	g_assert_true(write(fd, conf_text, sizeof(conf_text) - 1) == (ssize_t)(sizeof(conf_text) - 1));
	close(fd);
	g_autofree char *error = NULL;
	g_assert_cmpint(config_load(path, &cfg, &error), ==, 0);
	g_unlink(path);
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *test_path = g_strdup_printf("/assess/%s", rows[i].name);
		g_strdelimit(test_path, " ", '-');
		g_test_add_data_func(test_path, &rows[i], test_row);
	}
	g_test_add_func("/assess/now", test_now);
	int ret = g_test_run();
	config_free(cfg);
	return ret;
}
