/* mimescan: what the pre-scan counts, where it cuts, and that it reads
 * structure as GMime's parser does (compared with GMime itself). */
#include "mimescan.h"

#include <string.h>

static const struct mimescan_limits wide = { .max_depth = 1000, .max_parts = 1000000 };

static void scan(const char *raw, const struct mimescan_limits *lim, struct mimescan_result *r)
{
	mimescan(raw, strlen(raw), MIMESCAN_MESSAGE, lim, NULL, r);
}

/* Parts as mime's walker counts them, in the tree GMime builds: each
 * multipart, message part and leaf, and each forwarded message's part. */
static unsigned gmime_parts(GMimeObject *o)
{
	if (!o)
		return 0;
	if (GMIME_IS_MULTIPART(o)) {
		unsigned n = 1;
		for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); i++)
			n += gmime_parts(g_mime_multipart_get_part(GMIME_MULTIPART(o), i));
		return n;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		return 1 + (m ? gmime_parts(g_mime_message_get_mime_part(m)) : 0);
	}
	return 1;
}

static unsigned parsed_parts(const char *raw)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(raw, strlen(raw));
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
	unsigned n = m ? gmime_parts(g_mime_message_get_mime_part(m)) : 0;
	if (m)
		g_object_unref(m);
	g_object_unref(p);
	g_object_unref(st);
	return n;
}

#define HEAD "From: a@example.org\r\nSubject: s\r\n"

static const char *const shapes[] = {
	/* plain multipart */
	HEAD
	"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\r\none\r\n--b\r\n"
	"Content-Type: text/plain\r\n\r\ntwo\r\n--b--\r\nepi\r\n",
	/* nested, the inner closed by the outer boundary */
	HEAD
	"Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: multipart/alternative; "
	"boundary=i\r\n\r\n--i\r\n\r\nx\r\n--o\r\n\r\ny\r\n--o--\r\n",
	/* a boundary line inside a part's header: that part has no body, and
	 * its multipart type holds nonetheless */
	HEAD
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n"
	"--b\r\nX-A: 1\r\n\r\n--c\r\n\r\n1\r\n--c\r\n\r\n2\r\n--c--\r\n--b--\r\n",
	/* multipart/digest: parts without a type are forwarded messages */
	HEAD
	"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: in\r\n\r\nbody\r\n--d\r\n"
	"\r\nSubject: in2\r\nContent-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\n\r\nz\r\n--e--\r\n--d--\r\n",
	/* a forwarded message GMime enters, and one it does not (encoded) */
	HEAD
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
	"Subject: fwd\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\na\r\n--x--\r\n--b\r\n"
	"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp4\r\n--b--\r\n",
	/* an mbox From line first; bare LF; a boundary with trailing blanks */
	"From someone Mon Jan  1 00:00:00 2024\nSubject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b  \n"
	"\nx\n--b\t\nContent-Type: text/html\n\ny\n--b--\n",
	/* no closing boundary; an empty boundary parameter */
	HEAD "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\na\r\n--\r\n\r\nb\r\n",
	/* duplicated boundary lines: no empty parts */
	HEAD "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\na\r\n--b\r\n--b--\r\n",
	/* the first line is no header: GMime builds nothing */
	"this is not a header\r\nSubject: s\r\n\r\nbody\r\n",
	/* a boundary folded onto a second line, in a comment-laden type */
	HEAD "Content-Type: (c) multipart (d) / mixed;\r\n boundary=\"q\"\r\n\r\n--q\r\n\r\na\r\n--q--\r\n",
};

static void test_agrees_with_gmime(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(shapes); i++) {
		struct mimescan_result r;
		scan(shapes[i], &wide, &r);
		g_test_message("shape %zu: scan %u parts, GMime %u", i, r.parts, parsed_parts(shapes[i]));
		g_assert_cmpuint(r.parts, ==, parsed_parts(shapes[i]));
		g_assert_cmpuint(r.flags, ==, 0);
		g_assert_cmpuint(r.cut, ==, strlen(shapes[i]));
	}
}

static char *many_parts(unsigned n)
{
	GString *s = g_string_new(HEAD "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (unsigned i = 0; i < n; i++)
		g_string_append_printf(s, "--b\r\nContent-Type: text/plain\r\n\r\npart %u\r\n", i);
	g_string_append(s, "--b--\r\n");
	return g_string_free(s, FALSE);
}

static void test_too_many_parts(void)
{
	g_autofree char *raw = many_parts(10);
	struct mimescan_limits lim = wide;
	struct mimescan_result r;
	lim.max_parts = 11; /* the container and ten parts: within */
	scan(raw, &lim, &r);
	g_assert_cmpuint(r.flags, ==, 0);
	g_assert_cmpuint(r.parts, ==, 11);
	lim.max_parts = 5;
	scan(raw, &lim, &r);
	g_assert_cmpuint(r.flags, ==, MIMESCAN_TOO_MANY_PARTS);
	g_assert_cmpuint(r.parts, ==, 5);
	/* Cut where the fifth leaf's header begins, after its boundary line. */
	const char *fifth = strstr(raw, "part 3\r\n--b\r\n") + strlen("part 3\r\n--b\r\n");
	g_assert_cmpuint(r.cut, ==, (size_t)(fifth - raw));
	/* What is left parses into exactly the parts allowed. */
	g_autofree char *head = g_strndup(raw, r.cut);
	g_assert_cmpuint(parsed_parts(head), ==, 5);
}

static char *deep(unsigned levels)
{
	GString *s = g_string_new(HEAD "Content-Type: multipart/mixed; boundary=b0\r\n\r\n");
	for (unsigned i = 0; i < levels; i++)
		g_string_append_printf(s, "--b%u\r\nContent-Type: multipart/mixed; boundary=b%u\r\n\r\n", i, i + 1);
	g_string_append_printf(s, "--b%u\r\n\r\nleaf\r\n", levels);
	for (unsigned i = levels + 1; i-- > 0;)
		g_string_append_printf(s, "--b%u--\r\n", i);
	return g_string_free(s, FALSE);
}

static void test_too_deep(void)
{
	g_autofree char *raw = deep(40);
	struct mimescan_limits lim = wide;
	struct mimescan_result r;
	scan(raw, &lim, &r);
	g_assert_cmpuint(r.flags, ==, 0);
	g_assert_cmpuint(r.depth, ==, 41);
	lim.max_depth = 32;
	scan(raw, &lim, &r);
	g_assert_cmpuint(r.flags, ==, MIMESCAN_TOO_DEEP);
	g_assert_cmpuint(r.depth, ==, 32);
	/* Cut at the header of the part 33 levels down. */
	const char *at = strstr(raw, "--b32\r\n") + strlen("--b32\r\n");
	g_assert_cmpuint(r.cut, ==, (size_t)(at - raw));
}

static void test_header_limits(void)
{
	GString *s = g_string_new(NULL);
	for (unsigned i = 0; i < 50; i++)
		g_string_append_printf(s, "X-Loop-%u: hop %u\r\n\tfolded\r\n", i, i);
	g_string_append(s, "Subject: late\r\n\r\nbody\r\n");
	struct mimescan_limits lim = wide;
	struct mimescan_result r;
	scan(s->str, &lim, &r);
	g_assert_cmpuint(r.flags, ==, 0);
	g_assert_cmpuint(r.fields, ==, 51); /* folded lines are no fields */
	lim.max_fields = 20;
	scan(s->str, &lim, &r);
	g_assert_cmpuint(r.flags, ==, MIMESCAN_TOO_MANY_HEADERS);
	g_assert_cmpuint(r.cut, ==, (size_t)(strstr(s->str, "X-Loop-20:") - s->str));
	/* The same limit in a part's header. */
	g_autofree char *part =
		g_strconcat(HEAD "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n", s->str, "--b--\r\n", NULL);
	scan(part, &lim, &r);
	g_assert_cmpuint(r.flags, ==, MIMESCAN_TOO_MANY_HEADERS);
	g_assert_cmpuint(r.cut, ==, (size_t)(strstr(part, "X-Loop-20:") - part));
	/* Totals over all headers: three in the message's, one in each of
	 * ten parts' (13), none of them over max_fields. */
	g_autofree char *parts = many_parts(10);
	lim = wide;
	lim.max_fields = 5;
	lim.max_fields_total = 13;
	scan(parts, &lim, &r);
	g_assert_cmpuint(r.flags, ==, 0);
	g_assert_cmpuint(r.fields, ==, 13);
	lim.max_fields_total = 8;
	scan(parts, &lim, &r);
	g_assert_cmpuint(r.flags, ==, MIMESCAN_TOO_MANY_HEADERS);
	g_assert_cmpuint(r.parts, ==, 6);
	lim = wide;
	lim.max_header_bytes = 200;
	scan(parts, &lim, &r);
	g_assert_cmpuint(r.flags, ==, MIMESCAN_TOO_MANY_HEADERS);
	g_assert_cmpuint(r.header_bytes, <=, 200 + 64);
	g_string_free(s, TRUE);
}

static void test_stop(void)
{
	g_autofree char *raw = many_parts(20000);
	atomic_int stop = 1;
	struct mimescan_limits lim = wide;
	lim.stop = &stop;
	struct mimescan_result r;
	scan(raw, &lim, &r);
	g_assert_cmpuint(r.flags & MIMESCAN_STOPPED, !=, 0);
	g_assert_cmpuint(r.cut, <, strlen(raw));
}

/* Linear: 300,000 header fields take about what 30,000 take, times ten. */
static void test_linear(void)
{
	GString *a = g_string_new(NULL), *b = g_string_new(NULL);
	for (unsigned i = 0; i < 300000; i++)
		g_string_append_printf(i < 30000 ? a : b, "X-F-%u: v\r\n", i);
	g_string_prepend(b, a->str);
	g_string_append(a, "\r\nx\r\n");
	g_string_append(b, "\r\nx\r\n");
	struct mimescan_result r;
	gint64 t0 = g_get_monotonic_time();
	scan(a->str, &wide, &r);
	gint64 t1 = g_get_monotonic_time();
	scan(b->str, &wide, &r);
	gint64 t2 = g_get_monotonic_time();
	g_test_message("30,000 fields: %" G_GINT64_FORMAT " us; 300,000: %" G_GINT64_FORMAT " us", t1 - t0, t2 - t1);
	g_assert_cmpuint(r.fields, ==, 300000);
	g_assert_cmpint(t2 - t1, <, 40 * (t1 - t0) + 20000);
	g_string_free(a, TRUE);
	g_string_free(b, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	g_test_add_func("/mimescan/agrees-with-gmime", test_agrees_with_gmime);
	g_test_add_func("/mimescan/too-many-parts", test_too_many_parts);
	g_test_add_func("/mimescan/too-deep", test_too_deep);
	g_test_add_func("/mimescan/header-limits", test_header_limits);
	g_test_add_func("/mimescan/stop", test_stop);
	g_test_add_func("/mimescan/linear", test_linear);
	int r = g_test_run();
	g_mime_shutdown();
	return r;
}
