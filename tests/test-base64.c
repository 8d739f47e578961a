/* base64: the strict decoder against GLib's encoder and GMime's own
 * decoder (the one it stands in for), on random data, line shapes and
 * piece boundaries; and every kind of text it must leave to GMime. */
#include "base64.h"

#include <string.h>
#include <gmime/gmime.h>

/* GMime's decoding, as a part's data wrapper does it. */
static GByteArray *gmime_decode(const char *text, size_t len)
{
	GByteArray *out = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(out);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	GMimeStream *f = g_mime_stream_filter_new(mem);
	GMimeFilter *b = g_mime_filter_basic_new(GMIME_CONTENT_ENCODING_BASE64, FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), b);
	g_object_unref(b);
	g_mime_stream_write(f, text, len);
	g_mime_stream_flush(f);
	g_object_unref(f);
	g_object_unref(mem);
	return out;
}

/* Ours, fed in pieces cut at random; NULL when it refuses the text. */
static GByteArray *strict_decode(const char *text, size_t len, GRand *rng)
{
	struct base64_decoder d;
	base64_decoder_init(&d);
	GByteArray *out = g_byte_array_new();
	size_t off = 0;
	while (off < len) {
		size_t piece = (size_t)g_rand_int_range(rng, 1, 200); /* not inside MIN(): evaluated twice */
		piece = MIN(piece, len - off);
		base64_decoder_step(&d, (const uint8_t *)text + off, piece, out);
		off += piece;
	}
	if (!base64_decoder_finish(&d)) {
		g_byte_array_free(out, TRUE);
		return NULL;
	}
	return out;
}

/* Both decoders gave DATA; frees their results. */
static void assert_both_decoded(GByteArray *ours, GByteArray *theirs, const guchar *data, size_t n)
{
	g_assert_cmpmem(ours->data, ours->len, data, n);
	g_assert_cmpmem(theirs->data, theirs->len, data, n);
	g_byte_array_free(ours, TRUE);
	g_byte_array_free(theirs, TRUE);
}

/* TEXT wrapped the way some mail client might. */
static GString *wrap(const char *b64, GRand *rng)
{
	static const char *const eols[] = { "\r\n", "\n", " \r\n", "\t\n", "\r\n\r\n" };
	int width = g_rand_boolean(rng) ? 76 : g_rand_int_range(rng, 1, 120);
	const char *eol = eols[g_rand_int_range(rng, 0, G_N_ELEMENTS(eols))];
	GString *s = g_string_new(NULL);
	size_t n = strlen(b64);
	for (size_t i = 0; i < n; i += (size_t)width) {
		g_string_append_len(s, b64 + i, (gssize)MIN((size_t)width, n - i));
		g_string_append(s, eol);
	}
	return s;
}

/* A last group without its '=' padding gives its bytes, as Python's
 * email package, GLib and munpack read it; a lone sextet loses bits. */
static void test_unpadded_end(void)
{
	static const struct {
		const char *text, *bytes;
		bool whole;
	} cases[] = {
		{ "QUJ", "AB", true },          { "QQ", "A", true },          { "QQ=", "A", true },
		{ "QUJDQQ\r\n", "ABCA", true }, { "QUJDQUI", "ABCAB", true }, { "QUJD", "ABC", true },
		{ "QUJDQ", "ABC", false },      { "Q", "", false },           { "QUJD!", "", false },
	};
	GRand *rng = g_rand_new_with_seed(9);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct base64_decoder d;
		base64_decoder_init(&d);
		GByteArray *out = g_byte_array_new();
		const char *t = cases[i].text;
		for (size_t off = 0, len = strlen(t); off < len;) {
			size_t piece = MIN((size_t)g_rand_int_range(rng, 1, 4), len - off);
			base64_decoder_step(&d, (const uint8_t *)t + off, piece, out);
			off += piece;
		}
		g_assert_cmpint(base64_decoder_end(&d, out), ==, cases[i].whole);
		if (!strchr(t, '!'))
			g_assert_cmpmem(out->data, out->len, cases[i].bytes, strlen(cases[i].bytes));
		g_byte_array_free(out, TRUE);
	}
	g_rand_free(rng);
}

/* The last group GMime's lenient decoder drops: what it holds. */
static void test_lenient_tail(void)
{
	static const struct {
		const char *text, *bytes;
		bool whole;
	} cases[] = {
		{ "QU!JDQQ", "A", true }, { "QUJD!QUI\r\n", "AB", true }, { "QUJD*", "", true },
		{ "QUJD!Q", "", false },  { "QUJD=QQ", "", true }, /* a '=': GMime's rules decide */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct base64_tail t;
		base64_tail_init(&t);
		const char *text = cases[i].text;
		for (size_t k = 0; text[k]; k++)
			base64_tail_step(&t, (const uint8_t *)text + k, 1);
		GByteArray *out = g_byte_array_new();
		g_assert_cmpint(base64_tail_end(&t, out), ==, cases[i].whole);
		g_assert_cmpmem(out->data, out->len, cases[i].bytes, strlen(cases[i].bytes));
		g_byte_array_free(out, TRUE);
	}
}

static void test_random_round_trip(void)
{
	GRand *rng = g_rand_new_with_seed(2022);
	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)g_rand_int_range(rng, 0, round < 2900 ? 600 : 70000);
		guchar *data = g_malloc(n + 1);
		for (size_t i = 0; i < n; i++)
			data[i] = (guchar)g_rand_int_range(rng, 0, 256);
		char *b64 = g_base64_encode(data, n);
		GString *text = wrap(b64, rng);
		GByteArray *ours = strict_decode(text->str, text->len, rng);
		GByteArray *theirs = gmime_decode(text->str, text->len);
		if (!ours)
			g_error("refused %zu bytes of base64 of %zu bytes: \"%.200s\"", text->len, n, text->str);
		assert_both_decoded(ours, theirs, data, n);
		g_string_free(text, TRUE);
		g_free(b64);
		g_free(data);
	}
	g_rand_free(rng);
}

/* Texts GMime must decide about: ours says no, whatever the pieces. */
static void test_refuses_what_is_not_strict(void)
{
	static const char *const texts[] = {
		"QUJD!REVG", /* a byte outside the alphabet */
		"QUJD\x80",  /* 8-bit */
		"QQ==QUJD",  /* data after the padding */
		"QUI=QUI=",  /* two padded quartets glued */
		"QQ=",       /* one '=' still owed */
		"QQ=x",      /* data where the second '=' belongs */
		"QUJ",       /* an incomplete quartet */
		"Q",         /* one sextet */
		"Q===",      /* '=' after a single sextet */
		"=QUJD",     /* '=' first */
		"QUJD=",     /* '=' on a quartet boundary */
		"QQ===",     /* three '=' */
		"QUJD-_",    /* the URL-safe alphabet */
	};
	GRand *rng = g_rand_new_with_seed(7);
	for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
		for (int k = 0; k < 20; k++) {
			GByteArray *r = strict_decode(texts[i], strlen(texts[i]), rng);
			if (r)
				g_error("accepted \"%s\"", texts[i]);
		}
	}
	g_rand_free(rng);
}

/* Padding and white space where mail puts them. */
static void test_accepts_padding_and_space(void)
{
	static const struct {
		const char *text, *bytes;
	} cases[] = {
		{ "", "" },
		{ "\r\n", "" },
		{ "QQ==", "A" },
		{ "QQ=\r\n=", "A" },
		{ "QUI=", "AB" },
		{ "QUJD", "ABC" },
		{ " Q U J D \f\v", "ABC" },
		{ "QUJDRA==\r\n\r\n", "ABCD" },
	};
	GRand *rng = g_rand_new_with_seed(8);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GByteArray *r = strict_decode(cases[i].text, strlen(cases[i].text), rng);
		g_assert_nonnull(r);
		g_assert_cmpmem(r->data, r->len, cases[i].bytes, strlen(cases[i].bytes));
		GByteArray *g = gmime_decode(cases[i].text, strlen(cases[i].text));
		g_assert_cmpmem(g->data, g->len, cases[i].bytes, strlen(cases[i].bytes));
		g_byte_array_free(g, TRUE);
		g_byte_array_free(r, TRUE);
	}
	g_rand_free(rng);
}

/* Figures, not a pass mark: the two decoders over 32 MB of mail-shaped base64. */
static void test_speed(void)
{
	size_t n = 24u << 20;
	guchar *data = g_malloc(n);
	GRand *rng = g_rand_new_with_seed(9);
	for (size_t i = 0; i < n; i++)
		data[i] = (guchar)g_rand_int(rng);
	char *b64 = g_base64_encode(data, n);
	GString *text = g_string_new(NULL);
	size_t bl = strlen(b64);
	for (size_t i = 0; i < bl; i += 76) {
		g_string_append_len(text, b64 + i, (gssize)MIN((size_t)76, bl - i));
		g_string_append(text, "\r\n");
	}
	gint64 t0 = g_get_monotonic_time();
	struct base64_decoder d;
	base64_decoder_init(&d);
	GByteArray *ours = g_byte_array_sized_new((guint)n + 3);
	for (size_t off = 0; off < text->len; off += 65536)
		base64_decoder_step(&d, (const uint8_t *)text->str + off, MIN((size_t)65536, text->len - off), ours);
	g_assert_true(base64_decoder_finish(&d));
	gint64 t1 = g_get_monotonic_time();
	GByteArray *theirs = gmime_decode(text->str, text->len);
	gint64 t2 = g_get_monotonic_time();
	g_test_message("%.1f MB of base64: strict decoder %.0f MB/s, GMime's %.0f MB/s", text->len / 1e6,
		       text->len / (double)(t1 - t0), text->len / (double)(t2 - t1));
	assert_both_decoded(ours, theirs, data, n);
	g_string_free(text, TRUE);
	g_free(b64);
	g_free(data);
	g_rand_free(rng);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	g_test_add_func("/base64/random-round-trip", test_random_round_trip);
	g_test_add_func("/base64/refuses-what-is-not-strict", test_refuses_what_is_not_strict);
	g_test_add_func("/base64/padding-and-space", test_accepts_padding_and_space);
	g_test_add_func("/base64/unpadded-end", test_unpadded_end);
	g_test_add_func("/base64/lenient-tail", test_lenient_tail);
	g_test_add_func("/base64/speed", test_speed);
	int r = g_test_run();
	g_mime_shutdown();
	return r;
}
