#include "pdfsig.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>

/* The /Contents value must start within this distance of its /ByteRange
 * key, either way: the largest /Contents (PDFSIG_MAX_CONTENTS bytes, twice
 * that in hex digits) plus the rest of a dictionary. */
#define DICT_WINDOW (2u * PDFSIG_MAX_CONTENTS + (64u << 10))
#define MAX_NESTING 32 /* dictionaries and arrays tracked; deeper ones are only counted */

/* "[ 0 123 456 789 ]" at P (within END): four non-negative integers. */
static bool parse_byterange(const uint8_t *p, const uint8_t *end, uint64_t br[4])
{
	while (p < end && g_ascii_isspace(*p))
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

/* One DER TLV at *P (before END): its tag, contents and length; *P moves
 * past it.  Definite lengths of at most 4 bytes only. */
static bool der_tlv(const uint8_t **p, const uint8_t *end, uint8_t *tag, const uint8_t **val, size_t *len)
{
	const uint8_t *q = *p;
	if (end - q < 2)
		return false;
	*tag = q[0];
	size_t l = q[1];
	q += 2;
	if (l & 0x80) {
		unsigned n = l & 0x7f;
		if (n == 0 || n > 4 || (size_t)(end - q) < n)
			return false;
		l = 0;
		for (unsigned i = 0; i < n; i++)
			l = (l << 8) | *q++;
	}
	if ((size_t)(end - q) < l)
		return false;
	*val = q;
	*len = l;
	*p = q + l;
	return true;
}

/* The length of the BER TLV at P: a definite length (at most 4 bytes), or
 * an indefinite one (constructed, ending with the end-of-contents 00 00)
 * as "openssl cms -stream" and some signing libraries write it.  0 when it
 * is neither, runs past LEN or nests deeper than DEPTH.  Each byte is
 * looked at once per nesting level it sits in: linear for a bounded
 * depth. */
static size_t ber_length(const uint8_t *p, size_t len, unsigned depth)
{
	if (len < 2 || depth == 0 || (p[0] & 0x1f) == 0x1f) /* CMS has no high tag numbers */
		return 0;
	size_t l = p[1], hdr = 2;
	if (l == 0x80) {
		if (!(p[0] & 0x20))
			return 0; /* only a constructed encoding may be indefinite */
		for (size_t off = 2;;) {
			if (len - off < 2)
				return 0;
			if (p[off] == 0 && p[off + 1] == 0)
				return off + 2;
			size_t n = ber_length(p + off, len - off, depth - 1);
			if (!n)
				return 0;
			off += n;
		}
	}
	if (l & 0x80) {
		unsigned k = l & 0x7f;
		if (k == 0 || k > 4 || len - 2 < k)
			return 0;
		l = 0;
		for (unsigned i = 0; i < k; i++)
			l = (l << 8) | p[2 + i];
		hdr = 2 + k;
	}
	return len - hdr < l ? 0 : hdr + l;
}

/* The length of the SEQUENCE (DER or BER) at DER, or 0. */
static size_t der_length(const uint8_t *der, size_t len)
{
	if (len < 2 || der[0] != 0x30)
		return 0;
	return ber_length(der, len, PDFSIG_MAX_BER_DEPTH);
}

/* What one pass finds of a signature dictionary. */
struct candidate {
	size_t at;                 /* offset of its /ByteRange key */
	size_t contents;           /* offset + 1 of its /Contents hex string's '<', 0 if none */
	const uint8_t *m;          /* its /M string (without parentheses), or NULL */
	size_t m_len;
	bool timestamp;            /* /Type /DocTimeStamp or /SubFilter /ETSI.RFC3161 */
	bool sha1;                 /* /SubFilter /adbe.pkcs7.sha1 */
};

enum key { K_OTHER, K_TYPE, K_SUBFILTER, K_BYTERANGE, K_CONTENTS, K_M };

struct frame {
	bool dict;
	bool want_value; /* dict: the next object is the value of KEY */
	enum key key;
	size_t key_at;
	struct candidate c;
	bool has_byterange;
};

struct scan {
	const uint8_t *pdf;
	size_t len;
	struct frame stack[MAX_NESTING];
	int depth;
	size_t deeper; /* open containers beyond the stack */
	struct candidate cands[PDFSIG_MAX_SIGNATURES + 1];
	int n_cands;
	unsigned names; /* /ByteRange names seen */
};

static struct frame *top(struct scan *s)
{
	return s->depth > 0 && !s->deeper ? &s->stack[s->depth - 1] : NULL;
}

/* An object ended at the current level: a dictionary's value is done. */
static void value_done(struct scan *s)
{
	struct frame *f = top(s);
	if (f && f->dict)
		f->want_value = false;
}

static void push(struct scan *s, bool dict)
{
	if (s->deeper || s->depth == MAX_NESTING) {
		s->deeper++;
		return;
	}
	s->stack[s->depth++] = (struct frame){ .dict = dict };
}

static void pop(struct scan *s)
{
	if (s->deeper) {
		s->deeper--;
		return;
	}
	if (!s->depth)
		return;
	struct frame *f = &s->stack[--s->depth];
	if (f->dict && f->has_byterange && s->n_cands < (int)G_N_ELEMENTS(s->cands))
		s->cands[s->n_cands++] = f->c;
	value_done(s);
}

/* Closes what is open (at "obj", "endobj", "stream" and the end). */
static void pop_all(struct scan *s)
{
	s->deeper = 0;
	while (s->depth)
		pop(s);
}

static bool is_delim(uint8_t c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' || c == '}' ||
	       c == '/' || c == '%';
}

/* PDF white space: NUL, tab, LF, FF, CR, space. */
static bool is_space(uint8_t c)
{
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

static bool token_is(const uint8_t *t, size_t n, const char *word)
{
	return n == strlen(word) && !memcmp(t, word, n);
}

static void on_name(struct scan *s, size_t at, size_t n)
{
	const uint8_t *t = s->pdf + at;
	if (token_is(t, n, "/ByteRange"))
		s->names++;
	struct frame *f = top(s);
	if (!f || !f->dict)
		return;
	if (!f->want_value) {
		f->key = token_is(t, n, "/Type")	 ? K_TYPE :
			 token_is(t, n, "/SubFilter") ? K_SUBFILTER :
			 token_is(t, n, "/ByteRange") ? K_BYTERANGE :
			 token_is(t, n, "/Contents")  ? K_CONTENTS :
			 token_is(t, n, "/M")	 ? K_M :
							K_OTHER;
		f->key_at = at;
		f->want_value = true;
		return;
	}
	if ((f->key == K_TYPE && token_is(t, n, "/DocTimeStamp")) ||
	    (f->key == K_SUBFILTER && token_is(t, n, "/ETSI.RFC3161")))
		f->c.timestamp = true;
	if (f->key == K_SUBFILTER && token_is(t, n, "/adbe.pkcs7.sha1"))
		f->c.sha1 = true;
	f->want_value = false;
}

/* One forward pass: every dictionary with a /ByteRange key whose value is
 * an array becomes a candidate.  Linear: every byte is looked at once,
 * streams are stepped over with one search for "endstream". */
static void scan_pdf(struct scan *s)
{
	const uint8_t *pdf = s->pdf;
	size_t len = s->len, i = 0;
	while (i < len && s->names <= PDFSIG_MAX_BYTERANGE_NAMES) {
		uint8_t c = pdf[i];
		if (is_space(c)) {
			i++;
		} else if (c == '%') { /* comment, to the end of the line */
			while (i < len && pdf[i] != '\r' && pdf[i] != '\n')
				i++;
		} else if (c == '(') { /* literal string: nested parentheses, escapes */
			size_t from = ++i;
			int nest = 1;
			while (i < len && nest) {
				if (pdf[i] == '\\')
					i++;
				else if (pdf[i] == '(')
					nest++;
				else if (pdf[i] == ')')
					nest--;
				i++;
			}
			struct frame *f = top(s);
			if (f && f->dict && f->want_value && f->key == K_M && !nest) {
				f->c.m = pdf + from;
				f->c.m_len = i - from - 1;
			}
			value_done(s);
		} else if (c == '<' && i + 1 < len && pdf[i + 1] == '<') {
			push(s, true);
			i += 2;
		} else if (c == '>' && i + 1 < len && pdf[i + 1] == '>') {
			/* Closes the innermost dictionary (and any array left open in it). */
			while (top(s) && !top(s)->dict)
				pop(s);
			pop(s);
			i += 2;
		} else if (c == '<') { /* hex string */
			struct frame *f = top(s);
			if (f && f->dict && f->want_value && f->key == K_CONTENTS)
				f->c.contents = i + 1;
			const uint8_t *gt = memchr(pdf + i, '>', len - i);
			i = gt ? (size_t)(gt - pdf) + 1 : len;
			value_done(s);
		} else if (c == '[') {
			struct frame *f = top(s);
			if (f && f->dict && f->want_value && f->key == K_BYTERANGE && !f->has_byterange) {
				f->has_byterange = true;
				f->c.at = f->key_at;
			}
			push(s, false);
			i++;
		} else if (c == ']') {
			if (s->deeper || (top(s) && !top(s)->dict))
				pop(s);
			i++;
		} else if (c == '/') {
			size_t at = i++;
			while (i < len && !is_space(pdf[i]) && !is_delim(pdf[i]))
				i++;
			on_name(s, at, i - at);
		} else if (is_delim(c)) { /* stray ')', '>', '{', '}' */
			i++;
		} else {
			size_t at = i;
			while (i < len && !is_space(pdf[i]) && !is_delim(pdf[i]))
				i++;
			const uint8_t *t = pdf + at;
			size_t n = i - at;
			if (token_is(t, n, "stream") && i < len && (pdf[i] == '\r' || pdf[i] == '\n')) {
				/* The stream's bytes are data, never a dictionary. */
				pop_all(s);
				const uint8_t *e = memmem(pdf + i, len - i, "endstream", 9);
				i = e ? (size_t)(e - pdf) + 9 : len;
			} else if (token_is(t, n, "obj") || token_is(t, n, "endobj")) {
				pop_all(s);
			} else {
				/* A number, "R", true, null ...: in a dictionary's key
				 * position (the "0 R" of "6 0 R") it is ignored. */
				value_done(s);
			}
		}
	}
	pop_all(s);
}

/* Unix time of a PDF date, "D:YYYYMMDDHHmmSSOHH'mm'" (everything after
 * the year optional). */
static bool pdf_date(const uint8_t *p, size_t n, int64_t *out)
{
	char buf[40];
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	const char *q = buf;
	if (!strncmp(q, "D:", 2))
		q += 2;
	int v[6] = { 0, 1, 1, 0, 0, 0 };
	const int width[6] = { 4, 2, 2, 2, 2, 2 };
	for (int k = 0; k < 6; k++) {
		if (!g_ascii_isdigit(*q)) {
			if (k == 0)
				return false;
			break;
		}
		int x = 0;
		for (int d = 0; d < width[k]; d++, q++) {
			if (!g_ascii_isdigit(*q))
				return false;
			x = x * 10 + (*q - '0');
		}
		v[k] = x;
	}
	int offset = 0;
	if (*q == '+' || *q == '-') {
		int sign = *q++ == '-' ? -1 : 1;
		int hh = 0, mm = 0;
		if (!g_ascii_isdigit(q[0]) || !g_ascii_isdigit(q[1]))
			return false;
		hh = (q[0] - '0') * 10 + (q[1] - '0');
		q += 2;
		if (*q == '\'')
			q++;
		if (g_ascii_isdigit(q[0]) && g_ascii_isdigit(q[1]))
			mm = (q[0] - '0') * 10 + (q[1] - '0');
		if (hh > 23 || mm > 59)
			return false;
		offset = sign * (hh * 3600 + mm * 60);
	}
	GTimeZone *tz = g_time_zone_new_offset(offset);
	GDateTime *dt = g_date_time_new(tz, v[0], v[1], v[2], v[3], v[4], v[5]);
	g_time_zone_unref(tz);
	if (!dt)
		return false;
	*out = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return true;
}

/* The digest of the two byte ranges, into OUT (at least 64 bytes). */
static size_t digest_ranges(GChecksumType type, const uint8_t *pdf, const uint64_t br[4], uint8_t *out)
{
	GChecksum *ck = g_checksum_new(type);
	g_checksum_update(ck, pdf + br[0], (gssize)br[1]);
	g_checksum_update(ck, pdf + br[2], (gssize)br[3]);
	gsize n = 64;
	g_checksum_get_digest(ck, out, &n);
	g_checksum_free(ck);
	return n;
}

/* A timestamp token (CMS over a TSTInfo): *MISMATCH when its
 * messageImprint is not the digest of the byte ranges.  A token that
 * cannot be read, or with a digest we do not know, proves nothing either
 * way: no mismatch. */
static void check_timestamp(const uint8_t *der, size_t dlen, const uint8_t *pdf, const uint64_t br[4],
			    bool *mismatch)
{
	static const struct {
		uint8_t oid[9];
		size_t len;
		GChecksumType type;
	} algs[] = {
		{ { 0x2B, 0x0E, 0x03, 0x02, 0x1A }, 5, G_CHECKSUM_SHA1 },
		{ { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 }, 9, G_CHECKSUM_SHA256 },
		{ { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 }, 9, G_CHECKSUM_SHA384 },
		{ { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 }, 9, G_CHECKSUM_SHA512 },
	};
	*mismatch = false;
	struct cms_result r;
	cms_verify(der, dlen, NULL, 0, NULL, &r);
	/* TSTInfo ::= SEQUENCE { version, policy, messageImprint SEQUENCE {
	 * AlgorithmIdentifier SEQUENCE { OID, ... }, OCTET STRING }, ... } */
	const uint8_t *p = r.content, *end = r.content ? r.content + r.content_len : NULL, *v, *mi, *alg, *oid, *hash;
	size_t l, mil, algl, oidl, hashl;
	uint8_t tag;
	if (r.content && der_tlv(&p, end, &tag, &v, &l) && tag == 0x30) {
		const uint8_t *q = v, *qe = v + l;
		if (der_tlv(&q, qe, &tag, &v, &l) && tag == 0x02 && der_tlv(&q, qe, &tag, &v, &l) && tag == 0x06 &&
		    der_tlv(&q, qe, &tag, &mi, &mil) && tag == 0x30) {
			const uint8_t *m = mi, *me = mi + mil;
			if (der_tlv(&m, me, &tag, &alg, &algl) && tag == 0x30 && der_tlv(&m, me, &tag, &hash, &hashl) &&
			    tag == 0x04) {
				const uint8_t *a = alg;
				if (der_tlv(&a, alg + algl, &tag, &oid, &oidl) && tag == 0x06) {
					for (size_t k = 0; k < G_N_ELEMENTS(algs); k++) {
						if (oidl != algs[k].len || memcmp(oid, algs[k].oid, oidl))
							continue;
						uint8_t d[64];
						size_t n = digest_ranges(algs[k].type, pdf, br, d);
						*mismatch = n != hashl || memcmp(d, hash, n) != 0;
					}
				}
			}
		}
	}
	cms_result_clear(&r);
}

/* One signature dictionary. */
static void check_one(const uint8_t *pdf, size_t len, const struct candidate *c, const struct cms_trust *trust,
		      struct cms_result *res, bool *covers)
{
	uint64_t br[4];
	memset(res, 0, sizeof(*res));
	res->status = CMS_INVALID;
	res->trusted = -1;
	*covers = false;
	const uint8_t *end = pdf + len, *at = pdf + c->at;
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
	/* ... and that string the value of this dictionary's /Contents, near
	 * its /ByteRange either way. */
	size_t dist = br[1] > c->at ? (size_t)br[1] - c->at : c->at - (size_t)br[1];
	if (c->contents != br[1] + 1 || dist > DICT_WINDOW) {
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
	*covers = br[2] + br[3] == len; /* what the range claims, whatever the verdict */
	if (c->timestamp) {
		bool mismatch;
		check_timestamp(der, dlen, pdf, br, &mismatch);
		g_free(der);
		res->status = mismatch ? CMS_INVALID : CMS_NONE;
		res->why = mismatch ? "the document timestamp does not match the file" : NULL;
		return;
	}
	if (c->sha1) {
		/* adbe.pkcs7.sha1: the signed content is the SHA-1 digest of the
		 * byte ranges, encapsulated in the CMS. */
		uint8_t d[64];
		size_t dl = digest_ranges(G_CHECKSUM_SHA1, pdf, br, d);
		cms_verify(der, dlen, NULL, 0, trust, res);
		if (res->status == CMS_VALID && (res->content_len != dl || memcmp(res->content, d, dl))) {
			res->status = CMS_INVALID;
			res->trusted = -1;
			res->why = "the signed SHA-1 digest does not match the byte ranges";
		}
	} else {
		size_t data_len = (size_t)(br[1] + br[3]);
		uint8_t *data = g_malloc(data_len ? data_len : 1);
		memcpy(data, pdf, (size_t)br[1]);
		memcpy(data + br[1], pdf + br[2], (size_t)br[3]);
		cms_verify(der, dlen, data, data_len, trust, res);
		g_free(data);
	}
	g_free(der);
	/* Without a signingTime attribute, the time the dictionary states. */
	if (!res->has_time && c->m && pdf_date(c->m, c->m_len, &res->signed_at))
		res->has_time = true;
}

static int by_offset(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

void pdfsig_check(const uint8_t *pdf, size_t len, const struct cms_trust *trust, struct pdfsig_result *out)
{
	memset(out, 0, sizeof(*out));
	out->status = CMS_NONE;
	out->trusted = -1;
	/* Without the name anywhere there is no signature dictionary: one
	 * memmem() instead of the scan, for the many unsigned files.  An
	 * empty part comes as NULL, 0 (memmem() must not see NULL). */
	if (len == 0 || !memmem(pdf, len, "/ByteRange", 10))
		return;
	struct scan *s = g_new0(struct scan, 1);
	s->pdf = pdf;
	s->len = len;
	scan_pdf(s);
	qsort(s->cands, (size_t)s->n_cands, sizeof(s->cands[0]), by_offset);
	for (int k = 0; k < s->n_cands && k < PDFSIG_MAX_SIGNATURES; k++) {
		struct cms_result r;
		bool covers = false;
		check_one(pdf, len, &s->cands[k], trust, &r, &covers);
		if (s->cands[k].timestamp) {
			/* Not the signer's: only a timestamp that does not match
			 * the file counts. */
			if (r.status == CMS_INVALID) {
				out->status = CMS_INVALID;
				out->why = r.why;
			}
			cms_result_clear(&r);
			continue;
		}
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
	}
	if (s->n_cands > PDFSIG_MAX_SIGNATURES) {
		out->status = CMS_INVALID;
		out->why = "too many signatures";
	}
	if (s->names > PDFSIG_MAX_BYTERANGE_NAMES) {
		out->status = CMS_INVALID;
		out->why = "too many /ByteRange";
	}
	g_free(s);
}

void pdfsig_result_clear(struct pdfsig_result *r)
{
	free(r->signer);
	memset(r, 0, sizeof(*r));
}

bool pdfsig_mentions_form(const uint8_t *pdf, size_t len)
{
	/* Text in uncompressed content streams and metadata, as PDF writes
	 * it: literal UTF-8, Latin-1 (\370 = ø) or octal escapes.  A word is
	 * a first letter, which may vary in case, and a tail.  Each tail is
	 * found through an anchor, a part of it whose first byte is rare in
	 * text and in compressed streams: memchr() for that byte (one pass
	 * per distinct anchor, no byte-by-byte loop), then the anchor, then
	 * the word whole (test-pdfsig prints the speed). */
	static const char *const anchors[] = { "gning", "GNING", "kema", "KEMA", "pplication form" };
	/* Each anchor is the end of its words' tails. */
#define W(firsts, tail, anchor) { firsts, tail, sizeof(tail) - 1, anchor }
	static const struct {
		const char *firsts, *tail;
		size_t len;
		size_t anchor; /* index into anchors */
	} words[] = {
		W("Aa", "ns\xc3\xb8gning", 0), W("Aa", "ns\\370gning", 0), W("Aa", "ns\xf8gning", 0),
		W("Aa", "nsoegning", 0),	W("A", "NS\xc3\x98GNING", 1),  W("Ss", "kema", 2),
		W("S", "KEMA", 3),		W("Aa", "pplication form", 4),
	};
#undef W
	size_t n = MIN(len, (size_t)(256u << 10));
	if (n < 2)
		return false;
	const uint8_t *end = pdf + n;
	for (size_t k = 0; k < G_N_ELEMENTS(anchors); k++) {
		size_t al = strlen(anchors[k]);
		const uint8_t *from = pdf, *hit;
		while (from < end && (hit = memchr(from, anchors[k][0], (size_t)(end - from)))) {
			from = hit + 1;
			if ((size_t)(end - hit) < al || memcmp(hit, anchors[k], al) != 0)
				continue;
			for (size_t w = 0; w < G_N_ELEMENTS(words); w++) {
				if (words[w].anchor != k)
					continue;
				size_t off = words[w].len - al; /* the tail starts this far before its anchor */
				if ((size_t)(hit - pdf) < off + 1)
					continue; /* no room for the first letter */
				const uint8_t *t = hit - off;
				if (t[-1] && strchr(words[w].firsts, t[-1]) && !memcmp(t, words[w].tail, words[w].len))
					return true;
			}
		}
	}
	return false;
}
