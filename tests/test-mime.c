/* MIME extraction over every fixtures/mime message, checked against
 * fixtures/mime/expected.json, written by an independent oracle
 * (tests/oracle/expected.py, Python's email package).  Also checks the
 * subject rule against the oracle's "matches"/"applicant". */
#include "cms.h"
#include "mime.h"
#include "record.h"
#include "rules.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define CALL "Puljeopslag 2022: Styrkelse af digitale kompetencer"

static const struct mime_limits limits = { 32, 1000 };

static const char *member_str(JsonObject *o, const char *name)
{
	if (!json_object_has_member(o, name) || json_object_get_null_member(o, name))
		return NULL;
	return json_object_get_string_member(o, name);
}

static char *collapse(const char *s)
{
	/* Unfolding may keep a tab; compare with whitespace collapsed. */
	if (!s)
		return NULL;
	g_auto(GStrv) words = g_strsplit_set(s, " \t\r\n", -1);
	GString *out = g_string_new(NULL);
	for (size_t i = 0; words[i]; i++) {
		if (!*words[i])
			continue;
		if (out->len)
			g_string_append_c(out, ' ');
		g_string_append(out, words[i]);
	}
	return g_string_free(out, FALSE);
}

static void check_fixture(gconstpointer data)
{
	JsonObject *exp = (JsonObject *)data;
	const char *file = json_object_get_string_member(exp, "file");
	g_autofree char *path = g_build_filename(g_getenv("PULJED_FIXTURES"), "mime", file, NULL);
	g_autofree char *raw = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &raw, &len, NULL));
	GByteArray *arr = g_byte_array_new();
	g_byte_array_append(arr, (const guint8 *)raw, (guint)len);

	struct mime_message *m = NULL;
	g_assert_cmpint(mime_parse(arr, &limits, &m), ==, 0);
	g_assert_nonnull(m);
	bool broken = json_object_get_boolean_member(exp, "broken");

	g_autofree char *want_subject = collapse(member_str(exp, "subject"));
	g_autofree char *got_subject = collapse(m->subject);
	g_assert_cmpstr(got_subject, ==, want_subject);
	g_assert_cmpstr(m->from_addr, ==, member_str(exp, "from"));
	if (json_object_has_member(exp, "from_name"))
		g_assert_cmpstr(m->from_name, ==, member_str(exp, "from_name"));
	g_assert_cmpstr(m->message_id, ==, member_str(exp, "message_id"));

	JsonNode *atts = json_object_get_member(exp, "attachments");
	if (!JSON_NODE_HOLDS_NULL(atts)) {
		JsonArray *a = json_node_get_array(atts);
		if (json_array_get_length(a) != m->n_attachments) {
			for (size_t i = 0; i < m->n_attachments; i++)
				g_test_message("got %s %s %zu", m->attachments[i].filename,
					       m->attachments[i].content_type, m->attachments[i].size);
		}
		g_assert_cmpuint(json_array_get_length(a), ==, m->n_attachments);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			JsonObject *w = json_array_get_object_element(a, i);
			const struct mime_attachment *g = &m->attachments[i];
			g_assert_cmpstr(g->filename, ==, member_str(w, "filename"));
			g_assert_cmpstr(g->content_type, ==, member_str(w, "content_type"));
			g_assert_cmpuint(g->size, ==, (guint64)json_object_get_int_member(w, "size"));
			g_assert_cmpstr(g->sha256, ==, member_str(w, "sha256"));
		}
	} else {
		g_assert_true(broken);
	}
	if (broken && JSON_NODE_HOLDS_NULL(atts))
		g_assert_cmpuint(m->flags, !=, 0); /* damage is reported, never silent */
	if (!broken) {
		g_autofree char *flags = mime_flags_describe(m->flags);
		g_assert_cmpstr(flags, ==, NULL); /* everyday mail is not flagged */
	}

	/* The oracle implements the foundation's rule: an exact match. */
	char *applicant = NULL;
	enum rules_match match = rules_subject_match(m->subject, CALL, RULES_DEFAULT_FUZZY_THRESHOLD, NULL, &applicant);
	if (json_object_get_boolean_member(exp, "matches"))
		g_assert_cmpint(match, ==, RULES_MATCH_EXACT);
	else
		g_assert_cmpint(match, !=, RULES_MATCH_EXACT);
	if (match != RULES_MATCH_EXACT)
		g_clear_pointer(&applicant, g_free);
	g_assert_cmpstr(applicant, ==, member_str(exp, "applicant"));
	g_free(applicant);

	mime_message_free(m);
	g_byte_array_free(arr, TRUE);
}

static void test_garbage(void)
{
	/* Whatever the bytes, parsing returns and reports. */
	static const char *const inputs[] = {
		"",
		"\r\n",
		"garbage without headers",
		"Subject: only\r\n",
		"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
		GByteArray *arr = g_byte_array_new();
		g_byte_array_append(arr, (const guint8 *)inputs[i], (guint)strlen(inputs[i]));
		struct mime_message *m = NULL;
		g_assert_cmpint(mime_parse(arr, &limits, &m), ==, 0);
		g_assert_nonnull(m);
		mime_message_free(m);
		g_byte_array_free(arr, TRUE);
	}
}

static void test_dates(void)
{
	/* The Date: and Received: times in the forms real mail uses. */
	static const struct {
		const char *header;
		const char *iso;
	} dates[] = {
		{ "Fri, 01 Jul 2022 23:59:51 +0200", "2022-07-01T21:59:51Z" },
		{ "Fri, 1 Jul 2022 21:59:51 +0000", "2022-07-01T21:59:51Z" },
		{ "Fri, 01 Jul 2022 21:59:51 -0000", "2022-07-01T21:59:51Z" },
		{ "Fri, 01 Jul 2022 21:59:51 GMT", "2022-07-01T21:59:51Z" },
		{ "Fri, 01 Jul 2022 21:59:51 UT", "2022-07-01T21:59:51Z" },
		{ "Fri, 01 Jul 2022 17:59:51 EDT", "2022-07-01T21:59:51Z" },
		{ "1 Jul 2022 16:29:51 -0530", "2022-07-01T21:59:51Z" },
		{ "Sat, 02 Jul 2022 03:29:51 +0530", "2022-07-01T21:59:51Z" },
		{ "Fri, 01 Jul 2022 23:59:51 +0200 (CEST)", "2022-07-01T21:59:51Z" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(dates); i++) {
		g_autofree char *raw = g_strdup_printf(
			"Received: from mx.example.dk by mail.example.dk with ESMTPS id 4x; %s\r\n"
			"Date: %s\r\nSubject: t\r\n\r\nbody\r\n",
			dates[i].header, dates[i].header);
		GByteArray *arr = g_byte_array_new();
		g_byte_array_append(arr, (const guint8 *)raw, (guint)strlen(raw));
		struct mime_message *m = NULL;
		mime_parse(arr, &limits, &m);
		GDateTime *want = g_date_time_new_from_iso8601(dates[i].iso, NULL);
		g_assert_true(m->has_date);
		g_assert_cmpint(m->date, ==, g_date_time_to_unix(want));
		g_assert_true(m->has_received);
		g_assert_cmpint(m->received, ==, g_date_time_to_unix(want));
		g_date_time_unref(want);
		mime_message_free(m);
		g_byte_array_free(arr, TRUE);
	}
}

static void test_facts(void)
{
	static const struct {
		const char *headers;
		unsigned facts;
	} cases[] = {
		{ "Auto-Submitted: auto-replied\r\n", MIME_FACT_AUTO_SUBMITTED | MIME_FACT_AUTOREPLY },
		{ "Auto-Submitted: auto-generated\r\n", MIME_FACT_AUTO_SUBMITTED },
		{ "Auto-Submitted: no\r\n", 0 },
		{ "X-Autoreply: yes\r\n", MIME_FACT_AUTOREPLY },
		{ "X-Auto-Response-Suppress: All\r\n", MIME_FACT_AUTO_SUBMITTED },
		{ "Precedence: auto_reply\r\n", MIME_FACT_PRECEDENCE_AUTO },
		{ "Precedence: bulk\r\n", MIME_FACT_PRECEDENCE_BULK },
		{ "List-Id: <nyhedsbrev.sum.dk>\r\n", MIME_FACT_LIST },
		{ "List-Unsubscribe: <mailto:u@x.dk>\r\n", MIME_FACT_LIST },
		{ "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n", MIME_FACT_REPORT },
		{ "Organization: =?utf-8?Q?=C3=86r=C3=B8_Kommune?=\r\n", 0 },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *raw =
			g_strdup_printf("%sSubject: t\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n", cases[i].headers);
		GByteArray *arr = g_byte_array_new();
		g_byte_array_append(arr, (const guint8 *)raw, (guint)strlen(raw));
		struct mime_message *m = NULL;
		mime_parse(arr, &limits, &m);
		g_assert_cmpuint(m->facts, ==, cases[i].facts);
		if (strstr(cases[i].headers, "Organization"))
			g_assert_cmpstr(m->organization, ==, "Ærø Kommune");
		mime_message_free(m);
		g_byte_array_free(arr, TRUE);
	}
}

static void test_limits(void)
{
	/* 50 nested multiparts with a PDF at the bottom, walked with a depth
	 * limit of 10: flagged too deep, nothing below the limit extracted. */
	GString *s = g_string_new("Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n");
	for (int i = 0; i < 50; i++)
		g_string_append_printf(s, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i + 1);
	g_string_append(s, "--b50\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n--b50--\r\n");
	for (int i = 49; i >= 0; i--)
		g_string_append_printf(s, "--b%d--\r\n", i);
	GByteArray *arr = g_byte_array_new_take((guint8 *)s->str, s->len);
	g_string_free(s, FALSE);
	struct mime_limits lim = { 10, 1000 };
	struct mime_message *m = NULL;
	mime_parse(arr, &lim, &m);
	g_assert_true(m->flags & MIME_TOO_DEEP);
	g_assert_cmpuint(m->n_attachments, ==, 0);
	mime_message_free(m);
	lim.max_depth = 100;
	mime_parse(arr, &lim, &m);
	g_assert_false(m->flags & MIME_TOO_DEEP);
	g_assert_cmpuint(m->n_attachments, ==, 1);
	mime_message_free(m);
	g_byte_array_free(arr, TRUE);

	/* 30 parts with a part limit of 10: the multipart itself is one. */
	s = g_string_new("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 30; i++)
		g_string_append_printf(s, "--b\r\nContent-Type: application/pdf; name=p%d.pdf\r\n\r\n%%PDF-1.4 %d\r\n",
				       i, i);
	g_string_append(s, "--b--\r\n");
	arr = g_byte_array_new_take((guint8 *)s->str, s->len);
	g_string_free(s, FALSE);
	lim = (struct mime_limits){ 10, 10 };
	mime_parse(arr, &lim, &m);
	g_assert_true(m->flags & MIME_TOO_MANY_PARTS);
	g_assert_cmpuint(m->n_attachments, ==, 9);
	mime_message_free(m);
	g_byte_array_free(arr, TRUE);
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now += 1000; /* every look at the clock costs 1 ms */
}

static unsigned parse_flags(const char *text, const struct mime_limits *lim)
{
	GByteArray *arr = g_byte_array_new();
	g_byte_array_append(arr, (const guint8 *)text, (guint)strlen(text));
	struct mime_message *m = NULL;
	mime_parse(arr, lim, &m);
	unsigned flags = m->flags;
	mime_message_free(m);
	g_byte_array_free(arr, TRUE);
	return flags;
}

static void test_header_limits(void)
{
	struct mime_limits lim = { 32, 1000, .max_header_field = 1024, .max_header_fields = 20 };
	const char *fine = "From: a@example.dk\r\nSubject: ok\r\n\r\nbody\r\n";
	g_assert_cmpuint(parse_flags(fine, &lim), ==, 0);

	/* A 5 KB subject, folded: flagged long-header, and only that. */
	GString *s = g_string_new("From: a@example.dk\r\nSubject: Puljeopslag");
	for (int i = 0; i < 100; i++)
		g_string_append(s, "\r\n x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x");
	g_string_append(s, "\r\n\r\nbody\r\n");
	g_assert_cmpuint(parse_flags(s->str, &lim), ==, MIME_LONG_HEADER);
	g_string_free(s, TRUE);

	/* 30 Received: fields with a limit of 20: a loop. */
	s = g_string_new(NULL);
	for (int i = 0; i < 30; i++)
		g_string_append_printf(s, "Received: from hop%d by hop%d; Wed, 15 Jun 2022 10:00:00 +0200\r\n", i,
				       i + 1);
	g_string_append(s, "Subject: loop\r\n\r\nbody\r\n");
	g_assert_cmpuint(parse_flags(s->str, &lim), ==, MIME_TOO_MANY_HEADERS);
	g_string_free(s, TRUE);

	/* An 8-bit byte in a field name (what Dovecot serves for a NUL). */
	g_assert_true(parse_flags("From: a@example.dk\r\nX-Nul\x80Name: v\r\nSubject: x\r\n\r\nb\r\n", &lim) &
		      MIME_BAD_HEADER);

	/* The time budget: a clock that has run past the deadline stops the
	 * walk at once; a generous one does not. */
	const char *multi =
		"Subject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n--b--\r\n";
	fake_now = 0;
	lim.clock = fake_clock;
	lim.deadline = 500; /* already past at the first look */
	GByteArray *arr = g_byte_array_new();
	g_byte_array_append(arr, (const guint8 *)multi, (guint)strlen(multi));
	struct mime_message *m = NULL;
	mime_parse(arr, &lim, &m);
	g_assert_true(m->flags & MIME_TIME_LIMIT);
	g_assert_cmpuint(m->n_attachments, ==, 0);
	mime_message_free(m);
	fake_now = 0;
	lim.deadline = 1000000;
	mime_parse(arr, &lim, &m);
	g_assert_cmpuint(m->flags, ==, 0);
	g_assert_cmpuint(m->n_attachments, ==, 1);
	g_autofree char *names =
		mime_flags_describe(MIME_TIME_LIMIT | MIME_LONG_HEADER | MIME_BAD_HEADER | MIME_TOO_MANY_HEADERS);
	g_assert_cmpstr(names, ==, "time-limit,bad-header,long-header,too-many-headers");
	mime_message_free(m);
	g_byte_array_free(arr, TRUE);
}

static struct mime_message *parse_text(const char *text)
{
	GByteArray *arr = g_byte_array_new();
	g_byte_array_append(arr, (const guint8 *)text, (guint)strlen(text));
	struct mime_message *m = NULL;
	g_assert_cmpint(mime_parse(arr, &limits, &m), ==, 0);
	g_byte_array_free(arr, TRUE);
	return m;
}

/* no-headers means what it says: MIME fields (which GMime files under
 * the top part, not the message) are header fields. */
static void test_no_headers(void)
{
	static const struct {
		const char *text;
		bool none;
	} cases[] = {
		{ "Content-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n", false },
		{ "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n", false },
		{ "Subject: x\r\n\r\nbody\r\n", false },
		{ "garbage without headers\r\nmore\r\n", true },
		{ "\r\n\r\nbody\r\n", true },
		{ "", true },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mime_message *m = parse_text(cases[i].text);
		g_test_message("%zu: flags %x", i, m->flags);
		g_assert_cmpint(!!(m->flags & MIME_NO_HEADERS), ==, cases[i].none);
		mime_message_free(m);
	}
}

/* Outlook splits a long RFC 2047 file name into words that may cut a
 * UTF-8 character in two; GMime then loses the rest of the name. */
static void test_filename_split_character(void)
{
	/* "Ansøgning.pdf": "Ans\xc3" | "\xb8gning.pdf" */
	struct mime_message *m = parse_text(
		"From: a@x.dk\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nhej\r\n"
		"--b\r\nContent-Type: application/pdf\r\n"
		"Content-Disposition: attachment;\r\n filename=\"=?utf-8?B?QW5zww==?= =?utf-8?B?uGduaW5nLnBkZg==?=\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n");
	g_assert_cmpuint(m->n_attachments, ==, 1);
	g_assert_cmpstr(m->attachments[0].filename, ==, "Ansøgning.pdf");
	mime_message_free(m);

	/* The same in Content-Type's name, and an RFC 2231 name left to GMime. */
	m = parse_text(
		"From: a@x.dk\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		"--b\r\nContent-Type: application/octet-stream;\r\n name=\"=?utf-8?Q?=C3=86r=C3?= =?utf-8?Q?=B8.pdf?=\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
		"--b\r\nContent-Type: application/pdf\r\n"
		"Content-Disposition: attachment; filename*=iso-8859-1''%C6r%F8.pdf\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n");
	g_assert_cmpuint(m->n_attachments, ==, 2);
	g_assert_cmpstr(m->attachments[0].filename, ==, "Ærø.pdf");
	g_assert_cmpstr(m->attachments[1].filename, ==, "Ærø.pdf");
	mime_message_free(m);
}

/* A PDF is an attachment whatever its part claims, text/plain too. */
static void test_pdf_in_text_part(void)
{
	struct mime_message *m = parse_text(
		"From: a@x.dk\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nhej\r\n"
		"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n"
		"--b--\r\n");
	g_assert_cmpuint(m->n_attachments, ==, 1);
	g_assert_true(m->attachments[0].is_pdf);
	mime_message_free(m);
}

/* The text of fixtures/smime/NAME.  Newly allocated. */
static char *smime_fixture(const char *name)
{
	g_autofree char *path = g_build_filename(g_getenv("PULJED_FIXTURES"), "smime", name, NULL);
	char *raw = NULL;
	g_assert_true(g_file_get_contents(path, &raw, NULL, NULL));
	return raw;
}

/* S/MIME clear-signed mail is verified over the first part as received:
 * GMime's re-serialisation differs after a forwarded message and when a
 * delimiter line carries trailing space (RFC 2046 allows it). */
static void test_smime_as_received(void)
{
	static const char *const files[] = { "forwarded-inside-detached.eml", "trailing-space-after-boundary.eml" };
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *raw = smime_fixture(files[i]);
		struct mime_message *m = parse_text(raw);
		g_assert_cmpstr(record_signature_name(m->smime), ==, "valid");
		mime_message_free(m);

		/* One byte of the signed part changed: invalid. */
		char *body = strstr(raw, "\r\n\r\n");
		g_assert_nonnull(body);
		char *mark = strstr(body + 4, "--");
		g_assert_nonnull(mark);
		char *line = strstr(mark, "\r\n\r\n");
		g_assert_nonnull(line);
		line[4] ^= 0x01;
		m = parse_text(raw);
		g_assert_cmpstr(record_signature_name(m->smime), ==, "invalid");
		mime_message_free(m);
	}
}

/* A forwarded message sent base64-encoded (message/rfc822 with a
 * Content-Transfer-Encoding RFC 2046 forbids, yet gateways write) is
 * decoded and walked: the PDF inside comes out, not an opaque .eml. */
static void test_encoded_forward(void)
{
	static const char pdf[] = "%PDF-1.4\nhello pdf\n%%EOF\n";
	g_autofree char *pdf64 = g_base64_encode((const guchar *)pdf, strlen(pdf));
	g_autofree char *inner = g_strdup_printf(
		"From: a@b.dk\r\nSubject: Puljeopslag\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=IN\r\n\r\n"
		"--IN\r\nContent-Type: text/plain\r\n\r\nhej\r\n"
		"--IN\r\nContent-Type: application/pdf; name=\"Ans=?utf-8?Q?=C3=B8?=gning.pdf\"\r\n"
		"Content-Disposition: attachment; filename*=utf-8''Ans%%C3%%B8gning.pdf\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--IN--\r\n",
		pdf64);
	g_autofree char *inner64 = g_base64_encode((const guchar *)inner, strlen(inner));
	static const char *const encodings[] = { "base64", "quoted-printable" };
	for (size_t i = 0; i < G_N_ELEMENTS(encodings); i++) {
		g_autofree char *body = i == 0 ? g_strdup(inner64) : g_strdup(inner); /* plain text is valid QP */
		g_autofree char *raw = g_strdup_printf(
			"From: x@y.dk\r\nSubject: Fwd: Puljeopslag\r\nMIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
			"--OUT\r\nContent-Type: text/plain\r\n\r\nse vedhaeftet\r\n"
			"--OUT\r\nContent-Type: message/rfc822; name=\"fwd.eml\"\r\n"
			"Content-Transfer-Encoding: %s\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n"
			"%s\r\n--OUT--\r\n",
			encodings[i], body);
		struct mime_message *m = parse_text(raw);
		g_assert_cmpuint(m->n_attachments, ==, 1);
		g_assert_cmpstr(m->attachments[0].filename, ==, "Ansøgning.pdf");
		g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)pdf, strlen(pdf));
		g_assert_cmpstr(m->attachments[0].sha256, ==, sha);
		g_assert_true(m->attachments[0].is_pdf);
		bool noted = false;
		for (size_t k = 0; k < m->n_notes; k++)
			noted |= !strcmp(m->notes[k].action, "message") && strstr(m->notes[k].why, "transfer-encoded");
		g_assert_true(noted);
		mime_message_free(m);
	}

	/* Not a message at all: kept as the attachment it claims to be. */
	struct mime_message *m = parse_text(
		"From: x@y.dk\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
		"--OUT\r\nContent-Type: message/rfc822; name=\"x.eml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		"AAECAwQ=\r\n--OUT--\r\n");
	g_assert_cmpuint(m->n_attachments, ==, 1);
	g_assert_cmpuint(m->attachments[0].size, ==, 5);
	mime_message_free(m);
}

/* A genuinely signed first part copied where GMime does not walk it (an
 * outer preamble; outside a base64 forward whose multipart/signed carries
 * other content) must not lend its signature to the part that is walked. */
static void test_smime_decoy(void)
{
	static const char *const files[] = { "decoy-in-preamble.eml", "decoy-outside-encoded-forward.eml" };
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *raw = smime_fixture(files[i]);
		struct mime_message *m = parse_text(raw);
		g_test_message("%s: %s", files[i], record_signature_name(m->smime));
		g_assert_cmpstr(record_signature_name(m->smime), ==, "invalid");
		g_assert_cmpuint(m->n_attachments, ==, 1);
		g_assert_cmpstr(m->attachments[0].filename, ==, "evil.pdf");
		mime_message_free(m);
	}
}

/* Transfer-encoded forwards inside one another: one level is decoded, a
 * deeper one is kept whole as an attachment (quoted-printable does not
 * shrink, so each level would hold another copy of the message). */
static void test_encoded_forward_nesting(void)
{
	g_autofree char *msg = g_strdup(
		"From: a@b.dk\r\nSubject: inner\r\nMIME-Version: 1.0\r\n"
		"Content-Type: application/pdf; name=\"a.pdf\"\r\n\r\n%PDF-1.4\r\n");
	for (int level = 0; level < 3; level++) {
		char *outer = g_strdup_printf(
			"From: x@y.dk\r\nSubject: level %d\r\nMIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=L%d\r\n\r\n"
			"--L%d\r\nContent-Type: message/rfc822\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n--L%d--\r\n",
			level, level, level, msg, level);
		g_free(msg);
		msg = outer;
	}
	struct mime_message *m = parse_text(msg);
	g_assert_cmpuint(m->n_attachments, ==, 1);
	g_assert_cmpstr(m->attachments[0].content_type, ==, "message/rfc822");
	g_assert_nonnull(
		g_strstr_len((const char *)m->attachments[0].data, (gssize)m->attachments[0].size, "Subject: level 0"));
	mime_message_free(m);
}

/* The pre-scan stops the parse at the first part past max_parts: the
 * parts before it parsed as always, no damage reported for the cut, and
 * a message really cut short still said to be. */
static void test_prescan_cut(void)
{
	struct mime_limits lim = { 32,
				   10,
				   .max_header_field = 1024,
				   .max_header_fields = 100,
				   .max_header_fields_total = 1000,
				   .max_header_bytes_total = 1 << 20 };
	GString *s = g_string_new("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 30; i++)
		g_string_append_printf(s,
				       "--b\r\nContent-Type: application/octet-stream; name=\"f%02d.bin\"\r\n\r\n"
				       "part %d\r\n",
				       i, i);
	g_string_append(s, "--b--\r\n");
	GByteArray *arr = g_byte_array_new();
	g_byte_array_append(arr, (const guint8 *)s->str, (guint)s->len);
	struct mime_message *m = NULL;
	mime_parse(arr, &lim, &m);
	g_assert_cmpuint(m->flags, ==, MIME_TOO_MANY_PARTS);
	g_assert_cmpuint(m->n_parts, ==, 10);
	g_assert_cmpuint(m->n_attachments, ==, 9);
	g_assert_cmpstr(m->attachments[8].filename, ==, "f08.bin");
	g_assert_cmpuint(m->attachments[8].size, ==, strlen("part 8"));
	mime_message_free(m);

	/* Within the limits, the missing end is reported. */
	lim.max_parts = 100;
	g_byte_array_set_size(arr, arr->len - strlen("--b--\r\n"));
	mime_parse(arr, &lim, &m);
	g_assert_cmpuint(m->flags, ==, MIME_TRUNCATED);
	g_assert_cmpuint(m->n_attachments, ==, 30);
	mime_message_free(m);

	/* The stop flag: nothing is parsed, the result says so. */
	atomic_int stop = 1;
	lim.stop = &stop;
	mime_parse(arr, &lim, &m);
	g_assert_cmpuint(m->flags & MIME_STOPPED, !=, 0);
	g_assert_cmpuint(m->n_attachments, ==, 0);
	mime_message_free(m);
	g_byte_array_free(arr, TRUE);
	g_string_free(s, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_autofree char *path = g_build_filename(g_getenv("PULJED_FIXTURES"), "mime", "expected.json", NULL);
	g_autoptr(JsonParser) p = json_parser_new();
	g_autoptr(GError) err = NULL;
	if (!json_parser_load_from_file(p, path, &err))
		g_error("%s: %s", path, err->message);
	JsonArray *all = json_node_get_array(json_parser_get_root(p));
	g_assert_cmpuint(json_array_get_length(all), >=, 24);
	for (guint i = 0; i < json_array_get_length(all); i++) {
		JsonObject *o = json_array_get_object_element(all, i);
		g_autofree char *name = g_strdup_printf("/mime/fixture/%s", json_object_get_string_member(o, "file"));
		g_test_add_data_func(name, o, check_fixture);
	}
	g_test_add_func("/mime/garbage", test_garbage);
	g_test_add_func("/mime/limits", test_limits);
	g_test_add_func("/mime/header-limits", test_header_limits);
	g_test_add_func("/mime/dates", test_dates);
	g_test_add_func("/mime/facts", test_facts);
	g_test_add_func("/mime/filename-split-character", test_filename_split_character);
	g_test_add_func("/mime/no-headers", test_no_headers);
	g_test_add_func("/mime/pdf-in-text-part", test_pdf_in_text_part);
	g_test_add_func("/mime/smime-as-received", test_smime_as_received);
	g_test_add_func("/mime/encoded-forward", test_encoded_forward);
	g_test_add_func("/mime/encoded-forward-nesting", test_encoded_forward_nesting);
	g_test_add_func("/mime/smime-decoy", test_smime_decoy);
	g_test_add_func("/mime/prescan-cut", test_prescan_cut);
	return g_test_run();
}
