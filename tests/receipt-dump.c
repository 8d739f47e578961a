/* receipt-dump: composes a receipt from fixed inputs and writes it to
 * standard output, for tests/test_receipt.py (Python's email package
 * reads it back; openssl verifies the signed one).
 *
 *   receipt-dump [--template FILE] [--sign CERT KEY] [--render] [--now UNIX]
 *
 * --render writes the rendered template text instead of the message. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "receipt.h"

static const struct receipt_attachment attachments[] = {
	{ "Ansøgningsskema – Aarhus.pdf", 1234567, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	  true },
	{ "budget æøå ÆØÅ.xlsx", 2048, "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", false },
};

int main(int argc, char **argv)
{
	const char *template_file = NULL, *cert = NULL, *key = NULL;
	bool render = false;
	int64_t now = 1656677000; /* 2022-07-01 12:03:20 UTC */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--template") && i + 1 < argc) {
			template_file = argv[++i];
		} else if (!strcmp(argv[i], "--sign") && i + 2 < argc) {
			cert = argv[++i];
			key = argv[++i];
		} else if (!strcmp(argv[i], "--render")) {
			render = true;
		} else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
			now = g_ascii_strtoll(argv[++i], NULL, 10);
		} else {
			fprintf(stderr,
				"usage: receipt-dump [--template FILE] [--sign CERT KEY] [--render] [--now UNIX]\n");
			return 2;
		}
	}
	g_autofree char *template = NULL;
	if (template_file && !g_file_get_contents(template_file, &template, NULL, NULL)) {
		fprintf(stderr, "cannot read %s\n", template_file);
		return 1;
	}
	const struct receipt_content c = {
		.call_title = "Pulje til styrket indsats for ældre 2022",
		.call_id = "pulje-2022",
		.subject =
			"Ansøgning: Pulje til styrket indsats for ældre 2022 – Aarhus Kommune, Sundhed og Omsorg "
			"(ansøgning nr. 2 af 2, med bilag)",
		.from = "anna.hansen@aarhus.example",
		.timezone = "Europe/Copenhagen",
		.arrival = 1656676992, /* 14:03:12 in Copenhagen */
		.clock = RULES_BASIS_EDGE,
		.status = RULES_ACCEPTED,
		.on_time = 1,
		.has_deadline = true,
		.deadline_last = 1656712799,
		.attachments = attachments,
		.n_attachments = G_N_ELEMENTS(attachments),
		.has_form = true,
		.form_signature = { CMS_VALID, "Mette Ørsted Hansen", false, false, NULL },
		.record_id = 42,
		.message_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	};
	const struct receipt_headers h = {
		.from_name = "Sundhedsstyrelsen – Puljesekretariatet",
		.from_addr = "puljer@sum.example",
		.to = "anna.hansen@aarhus.example",
		.subject = c.subject,
		.message_id = "<receipt.1656666000.42.pulje-2022@sum.example>",
		.in_reply_to = "<app.42@aarhus.example>",
		.references = "<earlier.1@aarhus.example>",
		.timezone = "Europe/Copenhagen",
	};
	g_autofree char *error = NULL;
	if (render) {
		g_autofree char *text = receipt_render(&c, template, &error);
		if (!text) {
			fprintf(stderr, "%s\n", error);
			return 1;
		}
		fputs(text, stdout);
		return 0;
	}
	g_autoptr(Sign) signer = NULL;
	if (cert && sign_load(cert, key, &signer, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		return 1;
	}
	g_autofree char *msg = NULL;
	size_t len = 0;
	if (receipt_compose(&c, &h, template, signer, now, &msg, &len, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		return 1;
	}
	fwrite(msg, 1, len, stdout);
	return 0;
}
