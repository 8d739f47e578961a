/* libFuzzer target over the receipt: an application's raw bytes become
 * its header facts (receipt_facts_parse), the decision and its sentence,
 * and — with its Message-ID, References, From and the first line of its
 * body as the subject and a file name — a composed receipt.  Checked:
 *  - every string of the facts is free of control characters;
 *  - the decision's recipient, when it sends, is a usable address;
 *  - the receipt is 7-bit, CRLF only, every header line is one of ours
 *    or a continuation (nothing from the input becomes a header), header
 *    lines within 998 bytes and body lines within 76.
 * Seeds: fixtures/mime/. */
#include "receipt.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ours[] = {
	"From: ",
	"To: ",
	"Subject: ",
	"Date: ",
	"Message-ID: ",
	"In-Reply-To: ",
	"References: ",
	"Auto-Submitted: ",
	"X-Auto-Response-Suppress: ",
	"MIME-Version: ",
	"Content-Type: ",
	"Content-Transfer-Encoding: ",
};

static void check_message(const char *msg, size_t len)
{
	bool head = true;
	const char *line = msg;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)msg[i] >= 0x80 || msg[i] == '\0')
			abort(); /* not 7-bit */
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			abort(); /* a bare LF */
		if (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n'))
			abort(); /* a bare CR */
		if (msg[i] != '\n')
			continue;
		size_t n = (size_t)(msg + i - 1 - line);
		if (head && n == 0) {
			head = false;
		} else if (head) {
			bool known = line[0] == ' ';
			for (size_t k = 0; !known && k < G_N_ELEMENTS(ours); k++)
				known = !strncmp(line, ours[k], strlen(ours[k]));
			if (!known || n > 998)
				abort(); /* a header line not ours */
		} else if (n > 76) {
			abort(); /* a body line too long for quoted-printable */
		}
		line = msg + i + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_auto(ReceiptFacts) f = { 0 };
	(void)receipt_facts_parse(data, size, &f);
	const char *const strings[] = { f.return_path,      f.from_addr, f.auto_submitted, f.precedence, f.list_header,
					f.autoreply_header, f.suppress,  f.message_id,     f.references };
	for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
		for (const char *p = strings[i]; p && *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();

	static const char *const own[] = { "sst.example" };
	const struct receipt_policy policy = { .statuses = 7u,
					       .from_addr = "puljer@sum.example",
					       .account_addr = "ind@sum.example",
					       .own_domains = own,
					       .n_own_domains = 1,
					       .max_per_sender = 10 };
	const struct receipt_record record = { .status = RULES_REVIEW, .kind = RULES_KIND_APPLICATION };
	const char *to = NULL;
	enum receipt_skip skip = receipt_decide(&policy, &record, &f, &to);
	if (skip == RECEIPT_SEND && !receipt_address_ok(to))
		abort();
	g_autofree char *why = receipt_skip_why(skip, &policy, &record, &f);
	if (!why || !g_utf8_validate(why, -1, NULL))
		abort();

	/* The body's first line as the subject and a file name. */
	const char *body = g_strstr_len((const char *)data, (gssize)size, "\n\n");
	g_autofree char *subject = NULL;
	if (body) {
		const char *s = body + 2, *end = (const char *)data + size;
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		subject = g_strndup(s, (size_t)((nl ? nl : end) - s));
	}
	const struct receipt_attachment att = { subject, size, "00", true };
	const struct receipt_content c = { .call_title = "Pulje",
					   .subject = subject,
					   .from = f.from_addr,
					   .arrival = (int64_t)size * 1000,
					   .on_time = (int)(size % 3) - 1,
					   .has_deadline = size % 2,
					   .deadline_last = 1656712799,
					   .attachments = &att,
					   .n_attachments = 1,
					   .has_form = true,
					   .form_signature = { CMS_INVALID, f.from_addr, false, false, subject },
					   .record_id = (int64_t)size };
	const struct receipt_headers h = { .from_name = subject,
					   .from_addr = "puljer@sum.example",
					   .to = to ? to : "x@y.example",
					   .subject = subject,
					   .message_id = "<receipt.1.2.x@sum.example>",
					   .in_reply_to = f.message_id,
					   .references = f.references };
	g_autofree char *msg = NULL, *error = NULL;
	size_t len = 0;
	if (receipt_compose(&c, &h, NULL, NULL, 1656677000, &msg, &len, &error) != 0)
		abort(); /* the built-in template and our own headers always compose */
	check_message(msg, len);
	return 0;
}
