#include "pdfsig.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>

#define DICT_WINDOW (64u << 10) /* /Contents is looked for this far around /ByteRange */

static const uint8_t *find(const uint8_t *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	if (len < n)
		return NULL;
	return memmem(hay, len, needle, n);
}

/* "[ 0 123 456 789 ]" at P (within END): four non-negative integers. */
static bool parse_byterange(const uint8_t *p, const uint8_t *end, uint64_t br[4])
{
	while (p < end && (*p == ' ' || *p == '\r' || *p == '\n' || *p == '\t'))
		p++;
	if (p >= end || *p != '[')
		return false;
	p++;
	for (int i = 0; i < 4; i++) {
		while (p < end && g_ascii_isspace(*p))
			p++;
		int digits = 0;
		uint64_t v = 0;
		while (p < end && g_ascii_isdigit(*p)) {
			if (++digits > 15)
				return false; /* no PDF is a petabyte */
			v = v * 10 + (uint64_t)(*p - '0');
			p++;
		}
		if (!digits)
			return false;
		br[i] = v;
	}
	while (p < end && g_ascii_isspace(*p))
		p++;
	return p < end && *p == ']';
}

/* The DER length of a SEQUENCE at DER, or 0. */
static size_t der_length(const uint8_t *der, size_t len)
{
	if (len < 2 || der[0] != 0x30)
		return 0;
	if (der[1] < 0x80)
		return 2u + der[1] <= len ? 2u + der[1] : 0;
	unsigned n = der[1] & 0x7f;
	if (n == 0 || n > 4 || len < 2u + n)
		return 0;
	size_t l = 0;
	for (unsigned i = 0; i < n; i++)
		l = (l << 8) | der[2 + i];
	return 2u + n + l <= len ? 2u + n + l : 0;
}

/* One signature whose /ByteRange starts at AT. */
static void check_one(const uint8_t *pdf, size_t len, const uint8_t *at, const struct cms_trust *trust,
		      struct cms_result *res, bool *covers)
{
	uint64_t br[4];
	memset(res, 0, sizeof(*res));
	res->status = CMS_INVALID;
	res->trusted = -1;
	*covers = false;
	const uint8_t *end = pdf + len;
	if (!parse_byterange(at + strlen("/ByteRange"), MIN(end, at + 200), br)) {
		res->why = "unreadable /ByteRange";
		return;
	}
	if (br[0] != 0 || br[1] == 0 || br[2] < br[1] || br[2] > len || br[3] > len - br[2]) {
		res->why = "/ByteRange does not fit the file";
		return;
	}
	/* The gap between the two ranges must be exactly the /Contents hex
	 * string, "<…>". */
	const uint8_t *lt = pdf + br[1], *gt = pdf + br[2] - 1;
	if (br[2] - br[1] < 2 || *lt != '<' || *gt != '>' || br[2] - br[1] > 2u * PDFSIG_MAX_CONTENTS + 2) {
		res->why = "/ByteRange does not frame the /Contents";
		return;
	}
	/* The /Contents key must belong to this dictionary: near the range. */
	size_t from = (size_t)MAX((int64_t)(at - pdf) - (int64_t)DICT_WINDOW, 0);
	const uint8_t *key = NULL;
	for (const uint8_t *q = pdf + from; (q = find(q, (size_t)(MIN(end, at + DICT_WINDOW) - q), "/Contents"));
	     q++) {
		const uint8_t *v = q + strlen("/Contents");
		while (v < end && g_ascii_isspace(*v))
			v++;
		if (v == lt) {
			key = q;
			break;
		}
	}
	if (!key) {
		res->why = "/Contents is not where /ByteRange says";
		return;
	}
	size_t hexlen = (size_t)(gt - lt - 1);
	uint8_t *der = g_malloc(hexlen / 2 + 1);
	size_t n = 0;
	int hi = -1;
	for (const uint8_t *h = lt + 1; h < gt; h++) {
		if (g_ascii_isspace(*h))
			continue;
		int v = g_ascii_xdigit_value((char)*h);
		if (v < 0) {
			g_free(der);
			res->why = "/Contents is not hexadecimal";
			return;
		}
		if (hi < 0) {
			hi = v;
		} else {
			der[n++] = (uint8_t)(hi * 16 + v);
			hi = -1;
		}
	}
	size_t dlen = der_length(der, n);
	if (!dlen) {
		g_free(der);
		res->why = "/Contents holds no complete signature";
		return;
	}
	size_t data_len = (size_t)(br[1] + br[3]);
	uint8_t *data = g_malloc(data_len ? data_len : 1);
	memcpy(data, pdf, (size_t)br[1]);
	memcpy(data + br[1], pdf + br[2], (size_t)br[3]);
	*covers = br[2] + br[3] == len; /* what the range claims, whatever the verdict */
	cms_verify(der, dlen, data, data_len, trust, res);
	g_free(data);
	g_free(der);
}

/* True when AT lies inside a content stream ("stream" … "endstream"):
 * text that merely shows a signature dictionary is none. */
static bool inside_stream(const uint8_t *pdf, const uint8_t *at)
{
	const uint8_t *last_open = NULL, *last_close = NULL;
	for (const uint8_t *q = pdf; (q = find(q, (size_t)(at - q), "stream")); q += 6) {
		/* The keywords as PDF writes them, not the same bytes inside
		 * compressed data: "endstream" after a line end, "stream" after
		 * the dictionary and followed by a line end. */
		bool after_space = q > pdf && (g_ascii_isspace(q[-1]) || q[-1] == '>');
		bool line_follows = q + 6 < at && (q[6] == '\r' || q[6] == '\n');
		if (q >= pdf + 4 && !memcmp(q - 3, "end", 3) && g_ascii_isspace(q[-4]))
			last_close = q;
		else if (after_space && line_follows)
			last_open = q;
	}
	return last_open && (!last_close || last_open > last_close);
}

void pdfsig_check(const uint8_t *pdf, size_t len, const struct cms_trust *trust, struct pdfsig_result *out)
{
	memset(out, 0, sizeof(*out));
	out->status = CMS_NONE;
	out->trusted = -1;
	const uint8_t *p = pdf;
	const uint8_t *end = pdf + len;
	while ((p = find(p, (size_t)(end - p), "/ByteRange")) && out->n_signatures < PDFSIG_MAX_SIGNATURES) {
		if (inside_stream(pdf, p)) {
			p += strlen("/ByteRange");
			continue;
		}
		struct cms_result r;
		bool covers = false;
		check_one(pdf, len, p, trust, &r, &covers);
		out->n_signatures++;
		if (r.status == CMS_VALID) {
			if (out->status == CMS_NONE)
				out->status = CMS_VALID;
			free(out->signer);
			out->signer = r.signer ? strdup(r.signer) : NULL;
			out->has_time = r.has_time;
			out->signed_at = r.signed_at;
			out->trusted = r.trusted;
			out->covers_whole_file = out->covers_whole_file || covers;
		} else {
			out->status = CMS_INVALID;
			out->why = r.why;
			out->covers_whole_file = out->covers_whole_file || covers;
			if (!out->signer && r.signer)
				out->signer = strdup(r.signer);
		}
		cms_result_clear(&r);
		p += strlen("/ByteRange");
	}
	if (p && out->n_signatures >= PDFSIG_MAX_SIGNATURES) {
		out->status = CMS_INVALID;
		out->why = "too many signatures";
	}
}

void pdfsig_result_clear(struct pdfsig_result *r)
{
	free(r->signer);
	memset(r, 0, sizeof(*r));
}

bool pdfsig_mentions_form(const uint8_t *pdf, size_t len)
{
	/* Text in uncompressed content streams and metadata, as PDF writes
	 * it: literal UTF-8, Latin-1 (\370 = ø) or octal escapes.  One pass:
	 * only where a word could start is anything compared. */
	static const char *const words[] = { "Ansøgning", "ansøgning", "ANSØGNING", "Ans\\370gning", "ans\\370gning",
					     "Ans\xf8gning", "ans\xf8gning", "Ansoegning", "ansoegning", "skema", "Skema",
					     "SKEMA", "Application form", "application form" };
	size_t n = MIN(len, (size_t)(256u << 10));
	for (size_t i = 0; i < n; i++) {
		uint8_t c = pdf[i];
		if (c != 'A' && c != 'a' && c != 'S' && c != 's')
			continue;
		for (size_t k = 0; k < G_N_ELEMENTS(words); k++) {
			size_t wl = strlen(words[k]);
			if ((uint8_t)words[k][0] == c && n - i >= wl && !memcmp(pdf + i, words[k], wl))
				return true;
		}
	}
	return false;
}
