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
	size_t at;        /* offset of its /ByteRange key */
	size_t contents;  /* offset + 1 of its /Contents hex string's '<', 0 if none */
	const uint8_t *m; /* its /M string (without parentheses), or NULL */
	size_t m_len;
	bool timestamp; /* /Type /DocTimeStamp or /SubFilter /ETSI.RFC3161 */
	bool sha1;      /* /SubFilter /adbe.pkcs7.sha1 */
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
		f->key = token_is(t, n, "/Type")        ? K_TYPE
			 : token_is(t, n, "/SubFilter") ? K_SUBFILTER
			 : token_is(t, n, "/ByteRange") ? K_BYTERANGE
			 : token_is(t, n, "/Contents")  ? K_CONTENTS
			 : token_is(t, n, "/M")         ? K_M
							: K_OTHER;
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

/* The literal string whose '(' is at PDF[OPEN] (nested parentheses,
 * backslash escapes): the index just past its closing ')', or END when it
 * runs to END; *CLOSED (may be NULL) says which. */
static size_t string_end(const uint8_t *pdf, size_t open, size_t end, bool *closed)
{
	size_t i = open + 1;
	int nest = 1;
	while (i < end && nest) {
		if (pdf[i] == '\\')
			i++;
		else if (pdf[i] == '(')
			nest++;
		else if (pdf[i] == ')')
			nest--;
		i++;
	}
	if (closed)
		*closed = nest == 0;
	return MIN(i, end);
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
			size_t from = i + 1;
			bool closed;
			i = string_end(pdf, i, len, &closed);
			struct frame *f = top(s);
			if (f && f->dict && f->want_value && f->key == K_M && closed) {
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

/* The bytes of the two ranges, one after the other (g_free). */
static uint8_t *ranges_copy(const uint8_t *pdf, const uint64_t br[4], size_t *len)
{
	*len = (size_t)(br[1] + br[3]);
	uint8_t *data = g_malloc(*len ? *len : 1);
	memcpy(data, pdf, (size_t)br[1]);
	if (br[3])
		memcpy(data + br[1], pdf + br[2], (size_t)br[3]);
	return data;
}

/* One signature dictionary. */
/* What check_one() found of one dictionary besides its verdict. */
struct checked {
	bool covers;   /* its /ByteRange reaches the end of the file */
	uint64_t end;  /* where its second range ends (0: unreadable) */
	bool ts_valid; /* a document timestamp that verifies: genTime */
	int64_t ts_time;
};

static void check_one(const uint8_t *pdf, size_t len, const struct candidate *c, const struct cms_trust *trust,
		      const struct cms_when *when, struct cms_result *res, struct checked *k)
{
	uint64_t br[4];
	memset(res, 0, sizeof(*res));
	res->status = CMS_INVALID;
	res->trusted = -1;
	memset(k, 0, sizeof(*k));
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
	k->covers = br[2] + br[3] == len; /* what the range claims, whatever the verdict */
	k->end = br[2] + br[3];
	if (c->timestamp) {
		/* Only a timestamp whose imprint does not match the file is a
		 * verdict; one that verifies is a proof of existence. */
		size_t data_len;
		uint8_t *data = ranges_copy(pdf, br, &data_len);
		const char *why = NULL;
		enum cms_status st = cms_timestamp_check(der, dlen, data, data_len, trust, &k->ts_time, &why);
		g_free(data);
		g_free(der);
		k->ts_valid = st == CMS_VALID;
		res->status = st == CMS_INVALID ? CMS_INVALID : CMS_NONE;
		res->why = st == CMS_INVALID ? "the document timestamp does not match the file" : NULL;
		return;
	}
	if (c->sha1) {
		/* adbe.pkcs7.sha1: the signed content is the SHA-1 digest of the
		 * byte ranges, encapsulated in the CMS. */
		uint8_t d[64];
		size_t dl = digest_ranges(G_CHECKSUM_SHA1, pdf, br, d);
		cms_verify(der, dlen, NULL, 0, trust, when, res);
		if (res->status == CMS_VALID && (res->content_len != dl || memcmp(res->content, d, dl))) {
			res->status = CMS_INVALID;
			res->trusted = -1;
			g_strlcpy(res->reason, "digest mismatch", sizeof(res->reason));
			res->why = res->reason;
		}
	} else {
		size_t data_len;
		uint8_t *data = ranges_copy(pdf, br, &data_len);
		cms_verify(der, dlen, data, data_len, trust, when, res);
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

/* ---- What was appended after a signature ----
 *
 * An object is "N G obj … endobj"; its dictionary text (before "stream")
 * is looked at as a skeleton: strings dropped, white space collapsed, a
 * space before every name, so "/Type/Sig" and "/Type  /Sig" read alike
 * and a string cannot pose as a key. */

#define MAX_OBJECTS (1u << 20) /* object definitions indexed before the signed part counts as unknown */

struct pdf_object {
	size_t start; /* of "N G obj" */
	uint64_t num;
	size_t dict, dict_end; /* the text after "obj", up to "stream" or "endobj" */
	bool stream;
	size_t next; /* after "endobj" */
};

static bool is_regular(uint8_t c)
{
	return !is_space(c) && !is_delim(c);
}

/* Digits at *I (up to END): their value; *I moves past them. */
static bool read_uint(const uint8_t *pdf, size_t *i, size_t end, uint64_t *v)
{
	size_t k = *i;
	*v = 0;
	while (k < end && g_ascii_isdigit(pdf[k]) && k - *i < 15)
		*v = *v * 10 + (uint64_t)(pdf[k++] - '0');
	if (k == *i || (k < end && is_regular(pdf[k])))
		return false;
	*i = k;
	return true;
}

static void skip_space(const uint8_t *pdf, size_t *i, size_t end)
{
	while (*i < end && is_space(pdf[*i]))
		(*i)++;
}

/* "N G obj" at I: the object. */
static bool object_at(const uint8_t *pdf, size_t i, size_t end, struct pdf_object *o)
{
	uint64_t num, gen;
	size_t start = i;
	if (!read_uint(pdf, &i, end, &num))
		return false;
	skip_space(pdf, &i, end);
	if (!read_uint(pdf, &i, end, &gen))
		return false;
	skip_space(pdf, &i, end);
	if (end - i < 3 || memcmp(pdf + i, "obj", 3) || (i + 3 < end && is_regular(pdf[i + 3])))
		return false;
	o->num = num;
	o->dict = i + 3;
	o->start = start;
	const uint8_t *eo = memmem(pdf + o->dict, end - o->dict, "endobj", 6);
	const uint8_t *st = memmem(pdf + o->dict, (eo ? (size_t)(eo - pdf) : end) - o->dict, "stream", 6);
	/* "stream" that is not the end of "endstream" */
	while (st && st > pdf + o->dict && st[-1] == 'd')
		st = memmem(st + 6, (eo ? (size_t)(eo - pdf) : end) - (size_t)(st + 6 - pdf), "stream", 6);
	o->stream = st != NULL;
	if (st) {
		o->dict_end = (size_t)(st - pdf);
		const uint8_t *es = memmem(st + 6, end - (size_t)(st + 6 - pdf), "endstream", 9);
		size_t after = es ? (size_t)(es - pdf) + 9 : end;
		eo = memmem(pdf + after, end - after, "endobj", 6);
	} else {
		o->dict_end = eo ? (size_t)(eo - pdf) : end;
	}
	o->next = eo ? (size_t)(eo - pdf) + 6 : end;
	return true;
}

/* The next object from *I (before END), *I past it; false at the end.
 * Text between objects (xref tables, trailers, comments) is stepped over;
 * TRAILER gets the last "trailer" dictionary seen on the way. */
static bool next_object(const uint8_t *pdf, size_t *i, size_t end, struct pdf_object *o, size_t *trailer)
{
	size_t k = *i;
	while (k < end) {
		uint8_t c = pdf[k];
		if (c == '%') {
			while (k < end && pdf[k] != '\r' && pdf[k] != '\n')
				k++;
		} else if (g_ascii_isdigit(c) && (k == 0 || !is_regular(pdf[k - 1])) && object_at(pdf, k, end, o)) {
			*i = o->next;
			return true;
		} else if (c == 't' && end - k >= 7 && !memcmp(pdf + k, "trailer", 7)) {
			if (trailer)
				*trailer = k + 7;
			k += 7;
		} else {
			k++;
		}
	}
	*i = end;
	return false;
}

/* The skeleton of DICT..DICT_END (see above); g_free. */
static char *skeleton(const uint8_t *pdf, size_t from, size_t to)
{
	GString *g = g_string_sized_new(MIN(to - from, 4096u) + 1);
	for (size_t i = from; i < to && g->len < (64u << 10); i++) {
		uint8_t c = pdf[i];
		if (c == '(') {
			i = string_end(pdf, i, to, NULL) - 1;
			g_string_append(g, " ()");
		} else if (c == '<' && i + 1 < to && pdf[i + 1] != '<' && (i == 0 || pdf[i - 1] != '<')) {
			while (i < to && pdf[i] != '>')
				i++;
			g_string_append(g, " <>");
		} else if (is_space(c)) {
			if (g->len && g->str[g->len - 1] != ' ')
				g_string_append_c(g, ' ');
		} else {
			if ((c == '/' || c == '[' || c == ']' || c == '<' || c == '>') && g->len &&
			    g->str[g->len - 1] != ' ' && !(c == '<' && g->str[g->len - 1] == '<') &&
			    !(c == '>' && g->str[g->len - 1] == '>'))
				g_string_append_c(g, ' ');
			g_string_append_c(g, (char)c);
			if (c == '[' || c == ']')
				g_string_append_c(g, ' ');
		}
	}
	g_string_append_c(g, ' ');
	return g_string_free(g, FALSE);
}

/* SKEL has NAME (with the space the skeleton puts after a token). */
static bool has(const char *skel, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(skel, name); p; p = strstr(p + 1, name))
		if (p[n] == ' ' || p[n] == '/' || p[n] == '<' || p[n] == '[' || p[n] == '>')
			return true;
	return false;
}

/* The "N G R" after KEY in SKEL, as text (g_free), or NULL. */
static char *ref_after(const char *skel, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = strstr(skel, key); p; p = strstr(p + 1, key)) {
		if (p[n] != ' ')
			continue;
		const char *q = p + n + 1, *e = q;
		int parts = 0;
		while (*e && parts < 3) {
			const char *w = e;
			while (*e && *e != ' ')
				e++;
			if (e == w)
				break;
			parts++;
			if (*e)
				e++;
		}
		return parts == 3 ? g_strndup(q, (size_t)(e - q)) : NULL;
	}
	return NULL;
}

/* SKEL without its KEY entries (the name and its value: a reference, a
 * name or number, an array or a dictionary, nested); g_free. */
static char *without_key(const char *skel, const char *key)
{
	GString *g = g_string_new(skel);
	g_autofree char *pat = g_strdup_printf(" %s ", key);
	for (char *p = strstr(g->str, pat); p; p = strstr(g->str, pat)) {
		size_t at = (size_t)(p - g->str), e = at + strlen(pat);
		if (g->str[e] == '[' || (g->str[e] == '<' && g->str[e + 1] == '<')) {
			int depth = 0;
			do {
				if (g->str[e] == '[' || (g->str[e] == '<' && g->str[e + 1] == '<'))
					depth++;
				else if (g->str[e] == ']' || (g->str[e] == '>' && g->str[e + 1] == '>'))
					depth--;
				e += g->str[e] == '<' || g->str[e] == '>' ? 2 : 1;
			} while (depth > 0 && e < g->len);
		} else {
			/* "N G R", or one token */
			size_t ends[3], k = e;
			int n = 0;
			for (; n < 3 && k < g->len; n++) {
				size_t from = k;
				while (k < g->len && g->str[k] != ' ')
					k++;
				ends[n] = k;
				if (k == from)
					break;
				while (k < g->len && g->str[k] == ' ')
					k++;
			}
			bool ref = n == 3 && ends[2] >= 1 && g->str[ends[2] - 1] == 'R' && g_ascii_isdigit(g->str[e]);
			e = ref ? ends[2] : n ? ends[0] : e;
		}
		while (e < g->len && g->str[e] == ' ')
			e++;
		g_string_erase(g, (gssize)at + 1, (gssize)(MIN(e, g->len) - at - 1));
	}
	return g_string_free(g, FALSE);
}

/* A catalog without what signing adds to it: the form (/AcroForm), the
 * validation data (/DSS) and the PAdES extensions (/Extensions). */
static char *catalog_core(const char *skel)
{
	g_autofree char *a = without_key(skel, "/AcroForm");
	g_autofree char *b = without_key(a, "/DSS");
	return without_key(b, "/Extensions");
}

/* A signature, document timestamp, signature field or validation data
 * (/DSS, /VRI and the streams they list). */
static bool signature_kind(const char *skel)
{
	static const char *const names[] = { "/Sig", "/DocTimeStamp", "/DSS", "/VRI" };
	for (size_t k = 0; k < G_N_ELEMENTS(names); k++) {
		g_autofree char *t = g_strdup_printf("/Type %s", names[k]);
		if (has(skel, t))
			return true;
	}
	return has(skel, "/FT /Sig") || has(skel, "/Certs") || has(skel, "/OCSPs") || has(skel, "/CRLs") ||
	       has(skel, "/VRI") || has(skel, "/Cert") || has(skel, "/OCSP") || has(skel, "/CRL");
}

struct signed_part {
	GHashTable *defs; /* object number -> offset of its last definition in the signed part */
	char *catalog;    /* the catalog there, without what signing adds (catalog_core) */
	GHashTable *refs; /* object numbers its dictionaries refer to ("N G R") */
	char *info;       /* the trailer's /Info there */
	bool overflow;    /* more objects than indexed */
	size_t end;       /* of the signed part */
};

/* Adds to REFS every object number SKEL refers to ("N G R"). */
static void add_refs(const char *skel, GHashTable *refs)
{
	const char *w[3] = { NULL, NULL, NULL };
	for (const char *p = skel; *p && g_hash_table_size(refs) < MAX_OBJECTS;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		w[0] = w[1];
		w[1] = w[2];
		w[2] = p;
		while (*p && *p != ' ')
			p++;
		if (w[0] && w[2][0] == 'R' && w[2] + 1 == p && g_ascii_isdigit(w[0][0]) && g_ascii_isdigit(w[1][0])) {
			gint64 *key = g_new(gint64, 1);
			*key = g_ascii_strtoll(w[0], NULL, 10);
			g_hash_table_add(refs, key);
		}
	}
}

static void index_signed(const uint8_t *pdf, size_t end, struct signed_part *sp)
{
	struct pdf_object o;
	size_t i = 0, trailer = 0;
	sp->defs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	sp->refs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	sp->end = end;
	while (next_object(pdf, &i, end, &o, &trailer)) {
		if (g_hash_table_size(sp->defs) >= MAX_OBJECTS) {
			sp->overflow = true;
			break;
		}
		gint64 *key = g_new(gint64, 1);
		*key = (gint64)o.num;
		g_hash_table_replace(sp->defs, key, GSIZE_TO_POINTER(o.start));
		g_autofree char *sk = skeleton(pdf, o.dict, o.dict_end);
		add_refs(sk, sp->refs);
		if (has(sk, "/Type /Catalog")) {
			g_free(sp->catalog);
			sp->catalog = catalog_core(sk);
		}
		if (has(sk, "/Type /XRef") && strstr(sk, "/Info ")) {
			g_free(sp->info);
			sp->info = ref_after(sk, "/Info");
		}
	}
	if (trailer) {
		const uint8_t *e = memmem(pdf + trailer, end - trailer, ">>", 2);
		g_autofree char *sk = skeleton(pdf, trailer, e ? (size_t)(e - pdf) + 2 : end);
		g_free(sp->info);
		sp->info = ref_after(sk, "/Info");
	}
}

/* Whether OBJ, appended after the signed part, is a change a PDF reader
 * accepts after a signature. */
static bool allowed_update(const uint8_t *pdf, const struct pdf_object *o, const char *sk, struct signed_part *sp)
{
	gint64 key = (gint64)o->num;
	gpointer prev_at = NULL;
	bool redefines = g_hash_table_lookup_extended(sp->defs, &key, NULL, &prev_at) || sp->overflow;
	if (has(sk, "/Type /ObjStm"))
		return false; /* compressed objects: cannot tell what they change */
	if (has(sk, "/Type /XRef"))
		return true;
	if (has(sk, "/Type /Catalog")) {
		/* Only the form, /DSS and extensions may change. */
		g_autofree char *core = catalog_core(sk);
		return sp->catalog && !strcmp(core, sp->catalog);
	}
	if (!redefines) {
		/* A new object the signed document already referred to (a
		 * dangling "N 0 R" filled in later) changes what it shows. */
		if (g_hash_table_contains(sp->refs, &key))
			return false;
		/* Signatures and validation data, and what a signature widget's
		 * appearance is drawn with (inert unless a page or a widget
		 * refers to them: a page that does is a change). */
		return signature_kind(sk) || has(sk, "/Fields") || has(sk, "/Type /XObject") ||
		       has(sk, "/Type /Font") || has(sk, "/Type /FontDescriptor") || has(sk, "/Type /Encoding") ||
		       (o->stream && !has(sk, "/Type") && !has(sk, "/Subtype")) ||
		       (o->stream && (has(sk, "/Subtype /Form") || has(sk, "/Subtype /Image")));
	}
	if (sp->overflow)
		return false;
	/* A redefinition: a page that only gains a signature widget, or a
	 * signature field or form dictionary updated. */
	struct pdf_object before;
	if (!object_at(pdf, GPOINTER_TO_SIZE(prev_at), sp->end, &before))
		return false;
	g_autofree char *was = skeleton(pdf, before.dict, before.dict_end);
	if (o->stream || before.stream)
		return false;
	if (has(sk, "/Type /Page") && has(was, "/Type /Page")) {
		g_autofree char *a = without_key(sk, "/Annots"), *b = without_key(was, "/Annots");
		return !strcmp(a, b);
	}
	return (has(sk, "/FT /Sig") && has(was, "/FT /Sig")) || (has(sk, "/Fields") && has(was, "/Fields"));
}

/* Whether anything but signatures, timestamps and validation data was
 * written after the signed part PDF[0..END). */
static bool modified_after(const uint8_t *pdf, size_t len, size_t end)
{
	struct signed_part sp = { 0 };
	index_signed(pdf, end, &sp);
	struct pdf_object o;
	size_t i = end, trailer = 0;
	bool modified = false;
	while (!modified && next_object(pdf, &i, len, &o, &trailer)) {
		g_autofree char *sk = skeleton(pdf, o.dict, o.dict_end);
		modified = !allowed_update(pdf, &o, sk, &sp);
		if (!modified && has(sk, "/Type /XRef") && strstr(sk, "/Info ")) {
			g_autofree char *info = ref_after(sk, "/Info");
			modified = g_strcmp0(info, sp.info) != 0;
		}
	}
	/* Each trailer appended: the same /Info as the signed part's. */
	for (size_t k = end; !modified && k + 7 <= len;) {
		const uint8_t *t = memmem(pdf + k, len - k, "trailer", 7);
		if (!t)
			break;
		size_t from = (size_t)(t - pdf) + 7;
		const uint8_t *e = memmem(pdf + from, len - from, ">>", 2);
		g_autofree char *sk = skeleton(pdf, from, e ? (size_t)(e - pdf) + 2 : len);
		g_autofree char *info = ref_after(sk, "/Info");
		modified = g_strcmp0(info, sp.info) != 0;
		k = from;
	}
	g_hash_table_destroy(sp.defs);
	g_hash_table_destroy(sp.refs);
	g_free(sp.catalog);
	g_free(sp.info);
	return modified;
}

void pdfsig_check(const uint8_t *pdf, size_t len, const struct cms_trust *trust, const struct cms_when *when,
		  struct pdfsig_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->status = CMS_NONE;
	ret->trusted = -1;
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
	int n = MIN(s->n_cands, PDFSIG_MAX_SIGNATURES);
	/* Document timestamps first: each verified one is a proof of
	 * existence of what it covers. */
	struct checked ts[PDFSIG_MAX_SIGNATURES];
	memset(ts, 0, sizeof(ts));
	for (int k = 0; k < n; k++) {
		if (!s->cands[k].timestamp)
			continue;
		g_auto(CmsResult) r = { 0 };
		check_one(pdf, len, &s->cands[k], trust, when, &r, &ts[k]);
		if (r.status == CMS_INVALID) {
			/* Not the signer's: only a timestamp that does not match
			 * the file counts. */
			ret->status = CMS_INVALID;
			g_strlcpy(ret->reason, r.why ? r.why : "", sizeof(ret->reason));
		}
	}
	uint64_t first_end = 0;
	bool any_end = false;
	for (int k = 0; k < n; k++) {
		if (s->cands[k].timestamp)
			continue;
		/* The proof of existence: the earliest of WHEN and the
		 * document timestamps after this signature that cover it. */
		struct cms_when w = when ? *when : (struct cms_when){ 0 };
		g_auto(CmsResult) r = { 0 };
		struct checked ck;
		check_one(pdf, len, &s->cands[k], trust, &w, &r, &ck);
		bool redo = false;
		for (int t = k + 1; t < n; t++) {
			if (ts[t].ts_valid && ck.end && ts[t].end >= ck.end && (!w.known || ts[t].ts_time < w.at)) {
				w.known = true;
				w.at = ts[t].ts_time;
				w.source = CMS_TIME_TIMESTAMP;
				redo = true;
			}
		}
		if (redo) {
			cms_result_clear(&r);
			check_one(pdf, len, &s->cands[k], trust, &w, &r, &ck);
		}
		if (ck.end && (!any_end || ck.end < first_end)) {
			first_end = ck.end;
			any_end = true;
		}
		ret->n_signatures++;
		ret->covers_whole_file = ret->covers_whole_file || ck.covers;
		if (r.status == CMS_VALID) {
			if (ret->status == CMS_NONE)
				ret->status = CMS_VALID;
			free(ret->signer);
			ret->signer = r.signer ? strdup(r.signer) : NULL;
			ret->has_time = r.has_time;
			ret->signed_at = r.signed_at;
			ret->trusted = r.trusted;
			ret->has_validated_at = r.has_validated_at;
			ret->validated_at = r.validated_at;
			ret->time_source = r.time_source;
			if (ret->status == CMS_VALID)
				g_strlcpy(ret->reason, r.reason, sizeof(ret->reason));
		} else {
			if (ret->status != CMS_INVALID)
				g_strlcpy(ret->reason, r.why ? r.why : "", sizeof(ret->reason));
			ret->status = CMS_INVALID;
			if (!ret->signer && r.signer)
				ret->signer = strdup(r.signer);
			if (!ret->has_validated_at) {
				ret->has_validated_at = r.has_validated_at;
				ret->validated_at = r.validated_at;
				ret->time_source = r.time_source;
			}
		}
	}
	if (s->n_cands > PDFSIG_MAX_SIGNATURES) {
		ret->status = CMS_INVALID;
		g_strlcpy(ret->reason, "too many signatures", sizeof(ret->reason));
	}
	if (s->names > PDFSIG_MAX_BYTERANGE_NAMES) {
		ret->status = CMS_INVALID;
		g_strlcpy(ret->reason, "too many /ByteRange", sizeof(ret->reason));
	}
	if (ret->n_signatures && any_end && first_end < len)
		ret->modified = modified_after(pdf, len, (size_t)first_end);
	if (ret->status == CMS_INVALID)
		ret->why = ret->reason;
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
#define W(firsts, tail, anchor)                        \
	{                                              \
		firsts, tail, sizeof(tail) - 1, anchor \
	}
	static const struct {
		const char *firsts, *tail;
		size_t len;
		size_t anchor; /* index into anchors */
	} words[] = {
		W("Aa", "ns\xc3\xb8gning", 0),
		W("Aa", "ns\\370gning", 0),
		W("Aa", "ns\xf8gning", 0),
		W("Aa", "nsoegning", 0),
		W("A", "NS\xc3\x98GNING", 1),
		W("Ss", "kema", 2),
		W("S", "KEMA", 3),
		W("Aa", "pplication form", 4),
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
