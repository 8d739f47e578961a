/* Unit tests for the pure parts of imap: mailbox name encoding. */
#include "imap.h"

#include <glib.h>

static const struct {
	const char *in, *out;
} names[] = {
	{ "INBOX", "INBOX" },
	{ "Puljer/Ansøgninger 2022", "Puljer/Ans&APg-gninger 2022" },
	{ "Ærø", "&AMY-r&APg-" },
	{ "A&B", "A&-B" },
	{ "日本語", "&ZeVnLIqe-" },
	{ "Ans&APg-gninger", "Ans&APg-gninger" }, /* already encoded: kept */
	{ "\xf0\x9f\x93\x8e", "&2D3czg-" },       /* outside the BMP: a surrogate pair */
};

static void test_mailbox_encode(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *got = imap_mailbox_encode(names[i].in);
		g_assert_cmpstr(got, ==, names[i].out);
	}
	g_assert_null(imap_mailbox_encode("\xff"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/mailbox-encode", test_mailbox_encode);
	return g_test_run();
}
