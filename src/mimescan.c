#include "mimescan.h"

#include <string.h>

/* What follows GMime 3.2's parser (gmime-parser.c), line by line:
 * - a header block ends at an empty line, at a line that is a boundary of
 *   an enclosing multipart, or at the end;
 * - a field starts at a line that does not begin with a blank; a field
 *   whose name is invalid while no valid field came before is skipped (at
 *   the top of a message: the parse fails, unless it is a "From " line);
 * - a line is a boundary when it is "--" and the boundary of one of the
 *   open multiparts, innermost first, then only linear white space
 *   (the closing form ends in "--");
 * - the type is the last Content-Type field's (type/subtype read from the
 *   raw value); the boundary is that field's decoded value's parameter;
 *   without a (readable) Content-Type a part of multipart/digest is
 *   message/rfc822, any other text/plain;
 * - message/rfc822, rfc2822, global and news are entered unless the first
 *   Content-Transfer-Encoding says base64, quoted-printable or uuencode;
 * - nesting stops at GMime's 1024 levels (a multipart that deep keeps its
 *   body as text; a message part, as an attachment). */

#define GMIME_MAX_LEVEL 1024
#define STOP_EVERY 4096        /* lines between looks at *stop */
#define SCAN_WINDOW (1u << 20) /* bytes of content skipped between looks at it */

enum bnd { B_NONE, B_EOS, B_IMM, B_IMM_END, B_PARENT, B_PARENT_END };

struct bound {
	char *text; /* "--" boundary "--" */
	size_t len; /* of "--" boundary */
	size_t lenfinal;
};

/* A field's text: its lines. */
struct field {
	size_t start, end;
};

struct block {
	size_t start;
	unsigned valid;  /* fields GMime parses as valid */
	uint64_t fields; /* lines that start a field */
	uint64_t bytes;
	size_t over_at; /* the first line past a limit, or SIZE_MAX */
	char *ct, *cte; /* raw values of the last Content-Type, the first Content-Transfer-Encoding */
};

struct scan {
	const char *d;
	size_t n, pos;
	const struct mimescan_limits *lim;
	GMimeParserOptions *opts;
	struct mimescan_result *r;
	GArray *bounds;    /* struct bound */
	enum bnd boundary; /* what the last content or header scan stopped at */
	bool done;         /* cut, or stopped */
	unsigned long lines;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_ctrl(char c)
{
	unsigned char u = (unsigned char)c;
	return u < 32 || u == 127;
}

/* RFC 2045 token characters (GMime's is_ttoken). */
static bool is_ttoken(char c)
{
	unsigned char u = (unsigned char)c;
	if (u >= 128)
		return true;
	return !is_ctrl(c) && !is_lwsp(c) && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* The end of the line at POS: after its '\n', or the end of the data. */
static size_t line_end(const struct scan *s, size_t pos)
{
	const char *nl = memchr(s->d + pos, '\n', s->n - pos);
	return nl ? (size_t)(nl - s->d) + 1 : s->n;
}

/* Tells the caller how far the scan is (at OFFSET) and looks at *stop. */
static bool poll_now(struct scan *s, size_t offset)
{
	if (s->lim->passed)
		s->lim->passed(offset, s->lim->passed_data);
	if (s->lim->stop && atomic_load_explicit(s->lim->stop, memory_order_relaxed)) {
		s->r->flags |= MIMESCAN_STOPPED;
		s->r->cut = offset;
		s->done = true;
	}
	return s->done;
}

static bool stopped(struct scan *s)
{
	if (s->done)
		return true;
	return ++s->lines % STOP_EVERY == 0 && poll_now(s, s->pos);
}

static void cut(struct scan *s, size_t at, unsigned flag)
{
	s->r->flags |= flag;
	s->r->cut = at;
	s->done = true;
}

static bool all_lwsp(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lwsp(p[i]))
			return false;
	return true;
}

/* The line [START, END) against the open multiparts' boundaries,
 * innermost first; for each, GMime tries the closing form, then the
 * plain one: "--" boundary ["--"], then only linear white space. */
static enum bnd check_boundary(const struct scan *s, size_t start, size_t end)
{
	const char *text = s->d + start;
	size_t len = end - start;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len < 2 || text[0] != '-' || text[1] != '-')
		return B_NONE;
	guint nb = s->bounds->len;
	for (guint i = nb; i-- > 0;) {
		const struct bound *b = &g_array_index(s->bounds, struct bound, i);
		if (len < b->len || memcmp(text + 2, b->text + 2, b->len - 2) != 0)
			continue;
		const char *rest = text + b->len;
		size_t n = len - b->len;
		if (n >= 2 && rest[0] == '-' && rest[1] == '-' && all_lwsp(rest + 2, n - 2))
			return i == nb - 1 ? B_IMM_END : B_PARENT_END;
		if (all_lwsp(rest, n))
			return i == nb - 1 ? B_IMM : B_PARENT;
	}
	return B_NONE;
}

static void push_boundary(struct scan *s, const char *boundary)
{
	struct bound b;
	b.text = g_strdup_printf("--%s--", boundary);
	b.len = strlen(boundary) + 2;
	b.lenfinal = b.len + 2;
	g_array_append_val(s->bounds, b);
}

static void pop_boundary(struct scan *s)
{
	if (s->bounds->len == 0)
		return;
	g_free(g_array_index(s->bounds, struct bound, s->bounds->len - 1).text);
	g_array_set_size(s->bounds, s->bounds->len - 1);
}

/* GMime's field-name check over TEXT (up to LEN): 1 valid, 0 invalid,
 * -1 the text ended first. */
static int name_valid(const char *text, size_t len)
{
	bool blank = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == ':')
			return 1;
		if (is_blank(c))
			blank = true;
		else if (blank || is_ctrl(c))
			return 0;
	}
	return -1;
}

static bool is_from_line(const char *text, size_t len)
{
	if (len > 0 && text[0] == '>') {
		text++;
		len--;
	}
	return len >= 5 && !memcmp(text, "From ", 5);
}

/* Is field F's name (trailing blanks dropped) NAME, any case?  *VALID:
 * whether GMime keeps the field at all. */
static bool field_is(const struct scan *s, const struct field *f, const char *name, bool *valid)
{
	size_t len = f->end - f->start;
	const char *t = s->d + f->start;
	/* At the end of the text GMime finds its own ':'. */
	*valid = name_valid(t, len) != 0;
	if (!*valid)
		return false;
	const char *colon = memchr(t, ':', len);
	size_t n = colon ? (size_t)(colon - t) : len;
	while (n > 0 && is_blank(t[n - 1]))
		n--;
	return n == strlen(name) && !g_ascii_strncasecmp(t, name, n);
}

/* The raw value of field F (after its ':'), as GMime copies it: up to a
 * NUL.  Newly allocated. */
static char *field_value(const struct scan *s, const struct field *f)
{
	g_autofree char *t = g_strndup(s->d + f->start, f->end - f->start);
	const char *colon = strchr(t, ':');
	return g_strdup(colon ? colon + 1 : "");
}

/* A field ended (GMime parses it): counts it and keeps the values the
 * part's type depends on. */
static void field_done(struct scan *s, struct block *h, const struct field *f)
{
	bool valid;
	if (h->over_at != SIZE_MAX) {
		/* Past a limit the block is cut: its type is never needed (and a
		 * huge value is not copied). */
		if (name_valid(s->d + f->start, f->end - f->start) != 0)
			h->valid++;
		return;
	}
	if (field_is(s, f, "Content-Type", &valid)) {
		g_free(h->ct);
		h->ct = field_value(s, f);
	} else if (!h->cte && valid && field_is(s, f, "Content-Transfer-Encoding", &valid)) {
		h->cte = field_value(s, f);
	}
	if (valid)
		h->valid++;
}

static void block_clear(struct block *h)
{
	g_clear_pointer(&h->ct, g_free);
	g_clear_pointer(&h->cte, g_free);
}

enum hstate { H_CONTENT, H_BOUNDARY, H_ERROR };

/* Notes a line [START, END) of header block H; the limits on it. */
static void count_line(struct scan *s, struct block *h, size_t start, size_t end, bool field_start)
{
	const struct mimescan_limits *lim = s->lim;
	if (field_start)
		h->fields++;
	h->bytes += end - start;
	if (h->over_at != SIZE_MAX)
		return;
	if ((field_start && lim->max_fields && h->fields > lim->max_fields) ||
	    (lim->max_fields_total && s->r->fields + h->fields > lim->max_fields_total) ||
	    (lim->max_header_bytes && s->r->header_bytes + h->bytes > lim->max_header_bytes))
		h->over_at = start;
}

/* One header block from s->pos, as GMime's parser steps through it.
 * TOPLEVEL: the first block of what is parsed (MESSAGE: of a message). */
static enum hstate scan_headers(struct scan *s, bool toplevel, bool message, struct block *h)
{
	*h = (struct block){ .start = s->pos, .over_at = SIZE_MAX };
	bool scanning_name = true, check_folded = false, valid = true;
	bool have_field = false;
	struct field f = { 0 };

	if (s->pos >= s->n)
		return H_ERROR;
	while (s->pos < s->n) {
		if (stopped(s))
			return H_ERROR;
		size_t start = s->pos, end = line_end(s, start);
		const char *p = s->d + start;
		size_t len = end - start;
		bool complete = p[len - 1] == '\n';
		bool field_start = false;

		if (check_folded && !is_blank(p[0])) {
			field_done(s, h, &f);
			have_field = false;
			f = (struct field){ 0 };
			scanning_name = true;
			check_folded = false;
			valid = true;
		}
		bool eoln = p[0] == '\n' || (p[0] == '\r' && len > 1 && p[1] == '\n');
		if (scanning_name && !eoln) {
			int v = name_valid(p, len);
			if (v < 0) {
				/* The data ends inside a field name: GMime fails. */
				s->pos = s->n;
				return H_ERROR;
			}
			valid = v == 1;
			if (!valid && h->valid == 0 && toplevel && (!message || !is_from_line(p, len)))
				return H_ERROR;
		}
		scanning_name = false;
		if (complete && eoln) {
			if (have_field)
				field_done(s, h, &f);
			s->pos = end;
			return H_CONTENT;
		}
		/* (A field before it was parsed at the start of this line.) */
		enum bnd b = check_boundary(s, start, end);
		if (b != B_NONE) {
			s->boundary = b;
			s->pos = start;
			return H_BOUNDARY;
		}
		if (!valid && h->valid == 0) {
			/* Skipped (GMime keeps the first as the "preheader"). */
			scanning_name = true;
			check_folded = false;
			valid = true;
			h->bytes += len;
		} else {
			if (!have_field) {
				field_start = true;
				have_field = true;
				f.start = start;
			}
			f.end = end;
			check_folded = true;
			count_line(s, h, start, end, field_start);
		}
		s->pos = end;
	}
	/* The end of the data inside the block: GMime parses what it has. */
	if (have_field)
		field_done(s, h, &f);
	return H_CONTENT;
}

/* Content up to the next boundary line (left unread), or the end.  Only
 * a line that starts with "--" can be one: the others are skipped. */
static enum bnd scan_content(struct scan *s)
{
	if (s->bounds->len == 0) {
		s->pos = s->n;
		return B_EOS;
	}
	while (s->pos < s->n) {
		if (stopped(s))
			return B_EOS;
		if (s->n - s->pos >= 2 && s->d[s->pos] == '-' && s->d[s->pos + 1] == '-') {
			size_t end = line_end(s, s->pos);
			enum bnd b = check_boundary(s, s->pos, end);
			if (b != B_NONE)
				return b;
			s->pos = end;
			continue;
		}
		/* The next "--" at a line's start, from one '-' to the next
		 * (glibc's memchr is vectorised, its memmem is not), a window at
		 * a time: between them the caller hears of the progress and the
		 * stop flag is looked at. */
		const char *p = s->d + s->pos + 1, *end = s->d + s->n;
		for (;;) {
			const char *limit = (size_t)(end - p) > SCAN_WINDOW ? p + SCAN_WINDOW : end;
			const char *q = p;
			while ((q = memchr(q, '-', (size_t)(limit - q))) &&
			       !(q[-1] == '\n' && q + 1 < end && q[1] == '-'))
				q++;
			if (q || limit == end) {
				p = q;
				break;
			}
			p = limit;
			if (poll_now(s, (size_t)(p - s->d)))
				return B_EOS;
		}
		s->pos = p ? (size_t)(p - s->d) : s->n;
	}
	return B_EOS;
}

/* Past the line at s->pos; false at the end of the data without a '\n'. */
static bool skip_line(struct scan *s)
{
	size_t end = line_end(s, s->pos);
	bool complete = end > s->pos && s->d[end - 1] == '\n';
	s->pos = end;
	return complete;
}

struct ctype {
	bool multipart, digest, message;
	char *boundary; /* multipart: its boundary parameter, or NULL */
};

/* GMime's reading of type/subtype from a raw value (skipping comments). */
static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (is_lwsp(*p))
			p++;
		if (*p != '(')
			return p;
		int depth = 0;
		do {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
		} while (*p && depth > 0);
		if (depth > 0)
			return p; /* an unclosed comment: GMime gives up there */
	}
}

static bool parse_type(const char *value, char **type, char **subtype)
{
	const char *p = skip_cfws(value), *t = p;
	while (*p && is_ttoken(*p))
		p++;
	size_t tlen = (size_t)(p - t);
	p = skip_cfws(p);
	if (*p++ != '/')
		return false;
	p = skip_cfws(p);
	const char *st = p;
	while (*p && is_ttoken(*p))
		p++;
	if (p == st)
		return false;
	*type = g_strndup(t, tlen);
	*subtype = g_strndup(st, (size_t)(p - st));
	return true;
}

static bool is_rfc822(const char *subtype)
{
	return !g_ascii_strcasecmp(subtype, "rfc822") || !g_ascii_strcasecmp(subtype, "rfc2822") ||
	       !g_ascii_strcasecmp(subtype, "global") || !g_ascii_strcasecmp(subtype, "news");
}

/* The type of the part whose header is H (PARENT_DIGEST: its parent is a
 * multipart/digest), as the parser decides it and as the object's content
 * type says it (the boundary, and digest for its children). */
static bool is_ascii_text(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 128 || (p[0] == '=' && p[1] == '?'))
			return false;
	return true;
}

/* GMime's unfolding (linear white space trimmed at both ends, CR and LF
 * dropped), in place. */
static void unfold(char *v)
{
	char *start = v, *end, *out = v;
	while (is_lwsp(*start))
		start++;
	end = start + strlen(start);
	while (end > start && is_lwsp(end[-1]))
		end--;
	for (char *p = start; p < end; p++)
		if (*p != '\r' && *p != '\n')
			*out++ = *p;
	*out = '\0';
}

/* The type of the part whose header is H (PARENT_DIGEST: its parent is a
 * multipart/digest), as the parser decides it and as the object's content
 * type says it (the boundary, and digest for its children).  Uses up
 * H's Content-Type value. */
static void block_type(struct scan *s, struct block *h, bool parent_digest, struct ctype *ct)
{
	*ct = (struct ctype){ 0 };
	g_autofree char *type = NULL, *subtype = NULL;
	if (!h->ct || !parse_type(h->ct, &type, &subtype)) {
		type = g_strdup(parent_digest ? "message" : "text");
		subtype = g_strdup(parent_digest ? "rfc822" : "plain");
	}
	ct->multipart = !g_ascii_strcasecmp(type, "multipart");
	if (!g_ascii_strcasecmp(type, "message") && is_rfc822(subtype)) {
		ct->message = true;
		if (h->cte) {
			GMimeContentEncoding e = g_mime_content_encoding_from_string(h->cte);
			if (e == GMIME_CONTENT_ENCODING_BASE64 || e == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
			    e == GMIME_CONTENT_ENCODING_UUENCODE)
				ct->message = false;
		}
	}
	if (h->ct && ct->multipart) {
		/* The object's content type: the value unfolded and decoded (a
		 * plain ASCII value decodes to itself: no copy of a long one). */
		unfold(h->ct);
		char *decoded = is_ascii_text(h->ct) ? NULL : g_mime_utils_header_decode_text(s->opts, h->ct);
		if (decoded)
			g_clear_pointer(&h->ct, g_free);
		GMimeContentType *obj = g_mime_content_type_parse(s->opts, decoded ? decoded : h->ct);
		g_free(decoded);
		g_clear_pointer(&h->ct, g_free);
		if (obj) {
			const char *b = g_mime_content_type_get_parameter(obj, "boundary");
			if (b)
				ct->boundary = g_strdup(b);
			ct->digest = g_mime_content_type_is_type(obj, "multipart", "digest");
			g_object_unref(obj);
		}
	}
}

static void scan_entity(struct scan *s, struct block *h, bool parent_digest, unsigned depth, int gdepth);

/* Counts the part whose header block H GMime has just read, at the
 * walker's DEPTH; false (and the scan cut) when it may not be built. */
static bool admit(struct scan *s, const struct block *h, unsigned depth)
{
	const struct mimescan_limits *lim = s->lim;
	if (depth > lim->max_depth) {
		cut(s, h->start, MIMESCAN_TOO_DEEP);
		return false;
	}
	if (s->r->parts >= lim->max_parts) {
		cut(s, h->start, MIMESCAN_TOO_MANY_PARTS);
		return false;
	}
	if (h->over_at != SIZE_MAX) {
		/* The fields before the cut are built (counted: all of them). */
		s->r->fields += h->fields;
		s->r->header_bytes += h->bytes;
		cut(s, h->over_at, MIMESCAN_TOO_MANY_HEADERS);
		return false;
	}
	s->r->parts++;
	if (depth > s->r->depth)
		s->r->depth = depth;
	s->r->fields += h->fields;
	s->r->header_bytes += h->bytes;
	return true;
}

/* The body of a multipart (its header read; CT its type). */
static void scan_multipart(struct scan *s, const struct ctype *ct, unsigned depth, int gdepth)
{
	if (!ct->boundary || gdepth >= GMIME_MAX_LEVEL) {
		s->boundary = scan_content(s); /* all of it is the prologue */
		return;
	}
	push_boundary(s, ct->boundary);
	s->boundary = scan_content(s);
	while (!s->done && s->boundary == B_IMM) {
		if (!skip_line(s)) {
			s->boundary = B_EOS;
			break;
		}
		struct block h;
		enum hstate st = scan_headers(s, false, false, &h);
		if (s->done || st == H_ERROR) {
			block_clear(&h);
			if (!s->done)
				s->boundary = B_EOS;
			break;
		}
		if (st == H_BOUNDARY && h.valid == 0) {
			/* No part: GMime goes on at the boundary, or stops. */
			block_clear(&h);
			if (s->boundary == B_IMM)
				continue;
			break;
		}
		if (st == H_CONTENT)
			s->boundary = B_NONE;
		if (admit(s, &h, depth + 1))
			scan_entity(s, &h, ct->digest, depth + 1, gdepth + 1);
		block_clear(&h);
	}
	if (s->done) {
		pop_boundary(s);
		return;
	}
	if (s->boundary == B_IMM_END) {
		skip_line(s);
		pop_boundary(s);
		s->boundary = scan_content(s); /* the epilogue */
		return;
	}
	pop_boundary(s);
	if (s->boundary == B_PARENT_END || s->boundary == B_PARENT) {
		/* Against the parent's boundary now: IMMEDIATE for it. */
		enum bnd again = check_boundary(s, s->pos, line_end(s, s->pos));
		if (s->boundary == B_PARENT_END && again == B_IMM_END)
			s->boundary = B_IMM_END;
		else if (s->boundary == B_PARENT && again == B_IMM)
			s->boundary = B_IMM;
	}
}

/* A forwarded message's content: its header block and its one part. */
static void scan_message_part(struct scan *s, unsigned depth, int gdepth)
{
	if (s->bounds->len > 0) {
		if (s->pos >= s->n) {
			s->boundary = B_EOS;
			return;
		}
		size_t end = line_end(s, s->pos);
		enum bnd b = check_boundary(s, s->pos, end);
		s->boundary = b;
		if (b == B_IMM_END || b == B_IMM || b == B_PARENT)
			return;
		if (b == B_PARENT_END && (end - s->pos < 5 || memcmp(s->d + s->pos, "From ", 5) != 0))
			return;
	}
	struct block h;
	enum hstate st = scan_headers(s, false, false, &h);
	if (!s->done && st == H_ERROR)
		s->boundary = B_EOS;
	if (!s->done && st != H_ERROR) {
		if (st == H_CONTENT)
			s->boundary = B_NONE;
		if (admit(s, &h, depth + 1))
			scan_entity(s, &h, false, depth + 1, gdepth + 1);
	}
	block_clear(&h);
}

/* The part whose header block H was read (and admitted). */
static void scan_entity(struct scan *s, struct block *h, bool parent_digest, unsigned depth, int gdepth)
{
	struct ctype ct;
	block_type(s, h, parent_digest, &ct);
	/* A header block a boundary ended has no content (a multipart
	 * looks for its boundary all the same). */
	bool content = s->boundary == B_NONE;
	if (ct.multipart) {
		scan_multipart(s, &ct, depth, gdepth);
	} else if (ct.message && gdepth < GMIME_MAX_LEVEL) {
		if (content)
			scan_message_part(s, depth, gdepth + 1);
	} else if (content) {
		s->boundary = scan_content(s);
	}
	g_free(ct.boundary);
}

void mimescan(const char *data, size_t len, enum mimescan_kind kind, const struct mimescan_limits *limits,
	      GMimeParserOptions *options, struct mimescan_result *out)
{
	*out = (struct mimescan_result){ .cut = len,
					 .parts = limits->parts,
					 .depth = limits->depth,
					 .fields = limits->fields,
					 .header_bytes = limits->header_bytes };
	struct scan s = { .d = data,
			  .n = len,
			  .lim = limits,
			  .opts = options,
			  .r = out,
			  .bounds = g_array_new(FALSE, FALSE, sizeof(struct bound)) };
	struct block h;
	enum hstate st = scan_headers(&s, true, kind == MIMESCAN_MESSAGE, &h);
	if (!s.done && st != H_ERROR) {
		s.boundary = B_NONE;
		if (admit(&s, &h, limits->depth))
			scan_entity(&s, &h, false, limits->depth, 0);
	}
	block_clear(&h);
	while (s.bounds->len)
		pop_boundary(&s);
	g_array_free(s.bounds, TRUE);
}
