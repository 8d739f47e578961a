#include "mime.h"
#include "base64.h"
#include "pdfsig.h"
#include "record.h"
#include "tnef.h"

#include "mimescan.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gmime/gmime.h>
#include <gnutls/crypto.h>

struct walk {
	const struct mime_limits *limits;
	GMimeStream *raw;             /* the message as received (borrowed); NULL inside decoded content */
	GMimeStream *parsed;          /* what the tree being walked was parsed from (borrowed) */
	GMimeHeaderList *top_headers; /* its message's own header fields, or NULL */
	const char *boundary;         /* of the innermost multipart around what is walked, in PARSED; or NULL */
	unsigned encoded_messages;    /* transfer-encoded message/rfc822 parts being walked */
	struct mime_message *msg;
	GPtrArray *atts;               /* struct mime_attachment* */
	GPtrArray *notes;              /* struct mime_part_note* */
	uint64_t fields, header_bytes; /* header fields and bytes the pre-scans let the parser build */
};

static void mime_init_once(void)
{
	static gsize done;
	if (g_once_init_enter(&done)) {
		g_mime_init();
		g_once_init_leave(&done, 1);
	}
}

/* SHA-256 with GnuTLS (twice GLib's speed here: a third of a full
 * ingest's CPU went to hashing). */
static void hex_digest(gnutls_hash_hd_t h, char out[65])
{
	unsigned char d[32];
	gnutls_hash_deinit(h, d);
	for (int i = 0; i < 32; i++)
		g_snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int mime_sha256_fd(int fd, uint64_t *len, char out[65])
{
	gnutls_hash_hd_t h;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -ENOMEM;
	/* Under the daemon's mmap threshold: no mmap() and page faults per message. */
	uint8_t *buf = g_malloc(128 * 1024);
	uint64_t total = 0;
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, 128 * 1024, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			gnutls_hash_deinit(h, NULL);
			g_free(buf);
			return -e;
		}
		if (n == 0)
			break;
		gnutls_hash(h, buf, (size_t)n);
		off += n;
		total += (uint64_t)n;
	}
	g_free(buf);
	hex_digest(h, out);
	*len = total;
	return 0;
}

void mime_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	gnutls_hash_hd_t h;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		/* Cannot happen short of memory exhaustion; GLib then. */
		g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
		g_checksum_update(ck, data, len);
		g_strlcpy(out, g_checksum_get_string(ck), 65);
		return;
	}
	gnutls_hash(h, data, len);
	hex_digest(h, out);
}

/* The parse ended in the middle of something (GMime's "malformed
 * message"): malformed, unless the pre-scan ended it there. */
#define ENDED_IN_ERROR (1u << 31)

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user)
{
	unsigned *flags = user;
	switch (code) {
	case GMIME_WARN_TRUNCATED_MESSAGE:
		*flags |= MIME_TRUNCATED;
		break;
	case GMIME_WARN_MALFORMED_MESSAGE:
		*flags |= ENDED_IN_ERROR;
		break;
	case GMIME_WARN_MALFORMED_MULTIPART:
		/* A multipart that ends at its parent's delimiter: its own
		 * closing delimiter is missing. */
		*flags |= MIME_TRUNCATED | MIME_MALFORMED;
		break;
	case GMIME_CRIT_INVALID_HEADER_NAME:
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
		*flags |= MIME_MALFORMED;
		break;
	case GMIME_CRIT_NESTING_OVERFLOW:
		*flags |= MIME_TOO_DEEP;
		break;
	default:
		break; /* 8-bit headers, duplicates: everyday mail */
	}
}

static GMimeParserOptions *parser_options(unsigned *flags)
{
	GMimeParserOptions *opts = g_mime_parser_options_new();
	const char *charsets[] = { "utf-8", "windows-1252", NULL };
	g_mime_parser_options_set_fallback_charsets(opts, charsets);
	g_mime_parser_options_set_warning_callback(opts, on_warning, flags);
	return opts;
}

/* The header fields GMime builds, against what the pre-scan counted: a
 * parse that builds more than it (they read the bytes differently) reads
 * no further. */
struct header_guard {
	GMimeStream *stream;
	uint64_t seen, allowed;
	unsigned *flags;
};

static void guard_header(GMimeParser *parser, const char *name, const char *value, gint64 offset, gpointer user)
{
	(void)parser, (void)name, (void)value, (void)offset;
	struct header_guard *g = user;
	if (++g->seen == g->allowed + 1) {
		*g->flags |= MIME_TOO_MANY_HEADERS;
		g_mime_stream_set_bounds(g->stream, g->stream->bound_start, g_mime_stream_tell(g->stream));
	}
}

/* A file stream whose reads find the end of the file once *stop is
 * set: GMime's parser, which cannot be told to stop, then ends within a
 * buffer.  Its substreams (the parts' contents) are plain file streams. */
typedef struct {
	GMimeStreamFs fs;
	const atomic_int *stop;
} StopStream;
typedef GMimeStreamFsClass StopStreamClass;
GType stop_stream_get_type(void);
G_DEFINE_TYPE(StopStream, stop_stream, GMIME_TYPE_STREAM_FS)

static ssize_t stop_stream_read(GMimeStream *stream, char *buf, size_t len)
{
	const atomic_int *stop = ((StopStream *)stream)->stop;
	if (stop && atomic_load(stop))
		return 0;
	return GMIME_STREAM_CLASS(stop_stream_parent_class)->read(stream, buf, len);
}

static void stop_stream_class_init(StopStreamClass *klass)
{
	GMIME_STREAM_CLASS(klass)->read = stop_stream_read;
}

static void stop_stream_init(StopStream *s)
{
	(void)s;
}

/* As g_mime_stream_fs_new(FD), taking FD; reads watch *STOP. */
static GMimeStream *stop_stream_new(int fd, const atomic_int *stop)
{
	StopStream *s = g_object_new(stop_stream_get_type(), NULL);
	s->fs.fd = fd;
	s->fs.owner = TRUE;
	s->fs.eos = FALSE;
	s->stop = stop;
	g_mime_stream_construct(GMIME_STREAM(s), lseek(fd, 0, SEEK_CUR), -1);
	return GMIME_STREAM(s);
}

struct mapping {
	const char *base;
	size_t len;
	size_t dropped; /* bytes at BASE given back */
};

/* The scan is past OFFSET: the mapped pages well before it leave the
 * process (they stay in the file; touched again, they come back). */
static void drop_pages(size_t offset, void *data)
{
	struct mapping *m = data;
	long page = sysconf(_SC_PAGESIZE);
	size_t keep = 1u << 20;
	if (page <= 0 || offset < keep)
		return;
	size_t upto = (offset - keep) / (size_t)page * (size_t)page;
	if (upto > m->dropped && madvise((void *)(m->base + m->dropped), upto - m->dropped, MADV_DONTNEED) == 0)
		m->dropped = upto;
}

/* Pre-scans the LEN bytes at DATA, which STREAM reads, as KIND before
 * GMime parses them: the limits' flags go to *FLAGS, and STREAM ends
 * where the first part or field past a limit begins.  DEPTH and PARTS:
 * where the walker is; FIELDS and BYTES: header counts so far.  False
 * when *stop was set: nothing is to be parsed. */
static bool prescan(const char *data, size_t len, enum mimescan_kind kind, const struct mime_limits *lim,
		    unsigned depth, unsigned parts, uint64_t fields, uint64_t bytes, GMimeParserOptions *opts,
		    GMimeStream *stream, struct mapping *map, unsigned *flags, struct mimescan_result *r)
{
	struct mimescan_limits sl = {
		.max_depth = lim->max_depth,
		.max_parts = lim->max_parts,
		.max_fields = lim->max_header_fields,
		.max_fields_total = lim->max_header_fields_total,
		.max_header_bytes = lim->max_header_bytes_total,
		.depth = depth,
		.parts = parts,
		.fields = fields,
		.header_bytes = bytes,
		.stop = lim->stop,
		.passed = map ? drop_pages : NULL,
		.passed_data = map,
	};
	mimescan(data, len, kind, &sl, opts, r);
	if (r->flags & MIMESCAN_TOO_DEEP)
		*flags |= MIME_TOO_DEEP;
	if (r->flags & MIMESCAN_TOO_MANY_PARTS)
		*flags |= MIME_TOO_MANY_PARTS;
	if (r->flags & MIMESCAN_TOO_MANY_HEADERS)
		*flags |= MIME_TOO_MANY_HEADERS;
	if (r->flags & MIMESCAN_STOPPED) {
		*flags |= MIME_STOPPED;
		return false;
	}
	if (r->cut < len)
		g_mime_stream_set_bounds(stream, stream->bound_start, stream->bound_start + (gint64)r->cut);
	return true;
}

static char *lower_type(GMimeContentType *ct)
{
	if (!ct)
		return g_strdup("application/octet-stream");
	const char *t = g_mime_content_type_get_media_type(ct);
	const char *s = g_mime_content_type_get_media_subtype(ct);
	g_autofree char *joined = g_strdup_printf("%s/%s", t ? t : "application", s ? s : "octet-stream");
	return g_ascii_strdown(joined, -1);
}

static bool type_is(GMimeObject *o, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	return ct && g_mime_content_type_is_type(ct, type, subtype);
}

static bool is_smime_signature(GMimeObject *o)
{
	return type_is(o, "application", "pkcs7-signature") || type_is(o, "application", "x-pkcs7-signature");
}

static bool is_signature_part(GMimeObject *o)
{
	return is_smime_signature(o) || type_is(o, "application", "pgp-signature");
}

/* Strict base64 (nearly every attachment) in one pass over the encoded
 * text, without GMime's filter stream; NULL when the text is not strict,
 * and GMime decodes it.  A last group without its '=' padding is decoded
 * as every mainstream decoder does; *LOST is set when bits are lost there
 * (a last group of one character). */
static GByteArray *decode_strict_base64(GMimeStream *src, gint64 encoded, bool *lost)
{
	struct base64_decoder d;
	base64_decoder_init(&d);
	GByteArray *arr = g_byte_array_sized_new(
		encoded > 0 && encoded / 4 * 3 + 3 < G_MAXUINT ? (guint)(encoded / 4 * 3 + 3) : 0);
	uint8_t *buf = g_malloc(64 * 1024);
	bool ok = g_mime_stream_reset(src) == 0;
	ssize_t n;
	while (ok && (n = g_mime_stream_read(src, (char *)buf, 64 * 1024)) > 0)
		ok = base64_decoder_step(&d, buf, (size_t)n, arr);
	g_free(buf);
	g_mime_stream_reset(src);
	if (!ok || d.bad) {
		g_byte_array_free(arr, TRUE);
		return NULL;
	}
	*lost = !base64_decoder_end(&d, arr);
	return arr;
}

/* GMime's lenient base64 decoder drops a last group that is not whole;
 * its bytes are appended to ARR, as the other decoders read them. */
static void base64_lenient_tail(GMimeStream *src, GByteArray *arr)
{
	struct base64_tail t;
	base64_tail_init(&t);
	char buf[16384];
	ssize_t n;
	g_mime_stream_reset(src);
	while ((n = g_mime_stream_read(src, buf, sizeof(buf))) > 0)
		base64_tail_step(&t, (const uint8_t *)buf, (size_t)n);
	g_mime_stream_reset(src);
	base64_tail_end(&t, arr);
}

/* The next uuencoded block in TEXT[*POS..LEN), from a "begin MODE NAME"
 * line to "end", each line read to the length its first character
 * declares: a line that lost its trailing spaces (mail gateways strip
 * them; a space encodes zero bits) is padded, as uudecode does.  NULL
 * when no "begin" line follows.  *POS moves past the block; *NAME (may
 * be NULL) gets the name, *CUT is set when the text ends before "end". */
static GByteArray *uu_block(const char *text, size_t len, size_t *pos, char **name, bool *cut)
{
	GByteArray *out = NULL;
	*cut = true;
	while (*pos < len) {
		const char *line = text + *pos;
		const char *nl = memchr(line, '\n', len - *pos);
		size_t n = nl ? (size_t)(nl - line) : len - *pos;
		*pos += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			n--;
		if (!out) {
			/* "begin", an octal mode, a space, the name. */
			size_t m = 6;
			while (m < n && line[m] >= '0' && line[m] <= '7')
				m++;
			if (n > 6 && !memcmp(line, "begin ", 6) && m > 6 && m + 1 < n && line[m] == ' ') {
				out = g_byte_array_new();
				if (name)
					*name = g_strndup(line + m + 1, n - m - 1);
			}
			continue;
		}
		size_t t = n;
		while (t && (line[t - 1] == ' ' || line[t - 1] == '\t'))
			t--;
		if (t == 3 && !memcmp(line, "end", 3)) {
			*cut = false;
			break;
		}
		if (n == 0)
			continue;
		unsigned count = ((unsigned)(unsigned char)line[0] - 32) & 63;
		uint8_t q[4], bytes[3];
		for (unsigned i = 0, k = 1; i < count; i += 3) {
			for (unsigned j = 0; j < 4; j++, k++)
				q[j] = k < n ? (uint8_t)(((unsigned char)line[k] - 32) & 63) : 0;
			bytes[0] = (uint8_t)(q[0] << 2 | q[1] >> 4);
			bytes[1] = (uint8_t)(q[1] << 4 | q[2] >> 2);
			bytes[2] = (uint8_t)(q[2] << 6 | q[3]);
			g_byte_array_append(out, bytes, MIN(3u, count - i));
		}
	}
	return out;
}

/* x-uuencode: the first block of the part (NULL without one: GMime then
 * decodes it); *CUT as uu_block's. */
static GByteArray *decode_uu(GMimeStream *src, bool *cut)
{
	GByteArray *text = g_byte_array_new();
	char buf[16384];
	ssize_t n;
	g_mime_stream_reset(src);
	while ((n = g_mime_stream_read(src, buf, sizeof(buf))) > 0)
		g_byte_array_append(text, (const guint8 *)buf, (guint)n);
	g_mime_stream_reset(src);
	size_t pos = 0;
	GByteArray *out = uu_block((const char *)text->data, text->len, &pos, NULL, cut);
	g_byte_array_free(text, TRUE);
	return out;
}

/* The CRLF before a delimiter belongs to the delimiter (RFC 2046), but
 * where the closing delimiter ends the message without a line break
 * GMime leaves the CR in the part: SRC (the part's content) is made to
 * end before it. */
static void drop_delimiter_cr(GMimeStream *src)
{
	gint64 start = src->bound_start, end = src->bound_end;
	char tail[4];
	if (end < 0 || end - start < 1)
		return;
	/* GMime's memory stream reads up to its bounds, past its data. */
	if (GMIME_IS_STREAM_MEM(src) && g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(src))->len < (guint64)end + 3)
		return;
	g_mime_stream_set_bounds(src, start, end + 3);
	bool cr = g_mime_stream_seek(src, end - 1, GMIME_STREAM_SEEK_SET) == end - 1 &&
		  g_mime_stream_read(src, tail, 4) == 4 && !memcmp(tail, "\r\n--", 4);
	g_mime_stream_set_bounds(src, start, cr ? end - 1 : end);
	g_mime_stream_reset(src);
}

static bool bad_base64(GMimePart *part);

/* The part's content, transfer-decoded.  *BAD_ENCODING (may be NULL) is
 * set when its base64 holds anything but the alphabet, white space and
 * final padding. */
static GByteArray *decode_part(GMimePart *part, bool *bad_encoding)
{
	if (bad_encoding)
		*bad_encoding = false;
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	if (!w)
		return g_byte_array_new();
	GMimeStream *src = g_mime_data_wrapper_get_stream(w);
	if (src)
		drop_delimiter_cr(src);
	gint64 encoded = src ? g_mime_stream_length(src) : -1;
	GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
	bool base64 = enc == GMIME_CONTENT_ENCODING_BASE64;
	bool lost = false;
	if (base64 && src) {
		GByteArray *fast = decode_strict_base64(src, encoded, &lost);
		if (fast) {
			if (bad_encoding)
				*bad_encoding = lost;
			return fast;
		}
		if (bad_encoding)
			*bad_encoding = bad_base64(part);
	}
	if (enc == GMIME_CONTENT_ENCODING_UUENCODE && src) {
		GByteArray *uu = decode_uu(src, &lost);
		if (uu) {
			if (bad_encoding)
				*bad_encoding = lost;
			return uu;
		}
	}
	/* Sized from the encoded length (never below the decoded one), so
	 * that a large attachment is not grown by doubling. */
	if (encoded > 0 && base64)
		encoded = encoded / 4 * 3 + 3;
	GByteArray *arr = g_byte_array_sized_new(encoded > 0 && encoded < G_MAXUINT ? (guint)encoded : 0);
	GMimeStream *out = g_mime_stream_mem_new_with_byte_array(arr);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
	g_mime_data_wrapper_write_to_stream(w, out);
	g_object_unref(out);
	if (base64 && src)
		base64_lenient_tail(src, arr);
	return arr;
}

/* True when the part's base64 text holds anything but the alphabet,
 * whitespace and final padding: the decoded bytes are then not what the
 * sender attached. */
static bool bad_base64(GMimePart *part)
{
	/* 1: the alphabet, 2: whitespace, 3: '=', 0: anything else. */
	static unsigned char cls[256];
	static gsize init = 0;
	if (g_once_init_enter(&init)) {
		for (int c = 0; c < 256; c++)
			cls[c] = g_ascii_isalnum(c) || c == '+' || c == '/' ? 1
				 : g_ascii_isspace(c)                       ? 2
				 : c == '='                                 ? 3
									    : 0;
		g_once_init_leave(&init, 1);
	}
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	if (!w || g_mime_data_wrapper_get_encoding(w) != GMIME_CONTENT_ENCODING_BASE64)
		return false;
	GMimeStream *src = g_mime_data_wrapper_get_stream(w);
	if (!src)
		return false;
	g_mime_stream_reset(src);
	char *buf = g_malloc(64 * 1024);
	bool padding = false, bad = false;
	ssize_t n;
	while (!bad && (n = g_mime_stream_read(src, buf, 64 * 1024)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			unsigned char k = cls[(unsigned char)buf[i]];
			if (k == 3)
				padding = true;
			else if (k != 2 && (k == 0 || padding)) {
				bad = true;
				break;
			}
		}
	}
	g_free(buf);
	g_mime_stream_reset(src);
	return bad;
}

static char *decode_unstructured(const char *raw);

/* The raw value of parameter NAME ("filename") in header value HEADER,
 * unquoted; NULL when absent.  RFC 2231 forms (NAME*=) are not NAME. */
static char *raw_param(const char *header, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = header ? strchr(header, ';') : NULL; p; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			q++;
		if (g_ascii_strncasecmp(q, name, n))
			continue;
		q += n;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			q++;
		GString *v = g_string_new(NULL);
		if (*q == '"') {
			for (q++; *q && *q != '"'; q++) {
				if (*q == '\\' && q[1])
					q++;
				g_string_append_c(v, *q);
			}
		} else {
			for (; *q && *q != ';' && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n'; q++)
				g_string_append_c(v, *q);
		}
		return g_string_free(v, FALSE);
	}
	return NULL;
}

/* The part's file name.  GMime decodes RFC 2231 and RFC 2047, but loses
 * the rest of a name whose encoded words split a character (Outlook does
 * this); such names are decoded here, as the subject is. */
static char *part_filename(GMimeObject *obj, const char *decoded)
{
	static const struct {
		const char *header, *param;
	} where[] = {
		{ "Content-Disposition", "filename" },
		{ "Content-Type", "name" },
	};
	GMimeHeaderList *headers = g_mime_object_get_header_list(obj);
	for (size_t i = 0; headers && i < G_N_ELEMENTS(where); i++) {
		GMimeHeader *h = g_mime_header_list_get_header(headers, where[i].header);
		const char *value = h ? g_mime_header_get_raw_value(h) : NULL;
		g_autofree char *star = g_strconcat(where[i].param, "*", NULL);
		g_autofree char *raw = raw_param(value, where[i].param);
		g_autofree char *rfc2231 = raw_param(value, star);
		if (raw && !rfc2231 && strstr(raw, "=?") && strstr(raw, "?=")) {
			char *name = decode_unstructured(raw);
			if (name && *name && g_utf8_validate(name, -1, NULL))
				return name;
			g_free(name);
		}
		if (raw || rfc2231)
			break;
	}
	return NULL;
}

static char *clean_filename(const char *name)
{
	if (!name || !*name)
		return NULL;
	/* GMime decodes RFC 2231 and RFC 2047; the result may still be raw
	 * 8-bit in an unknown charset. */
	if (g_utf8_validate(name, -1, NULL))
		return g_strdup(name);
	return g_convert(name, -1, "UTF-8", "WINDOWS-1252", NULL, NULL, NULL);
}

/* Records what was done with the part at PATH ("" is the message's top
 * level, shown as "top"). */
static bool has_suffix_ci(const char *name, const char *suffix)
{
	if (!name)
		return false;
	g_autofree char *lower = g_utf8_strdown(name, -1);
	return g_str_has_suffix(lower, suffix);
}

/* A content type for a file that came without one (inside TNEF). */
static const char *guess_type(const char *filename)
{
	static const struct {
		const char *suffix, *type;
	} types[] = {
		{ ".pdf", "application/pdf" },
		{ ".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
		{ ".doc", "application/msword" },
		{ ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
		{ ".xls", "application/vnd.ms-excel" },
		{ ".zip", "application/zip" },
		{ ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" },
		{ ".png", "image/png" },
		{ ".txt", "text/plain" },
		{ ".rtf", "application/rtf" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
		if (has_suffix_ci(filename, types[i].suffix))
			return types[i].type;
	return "application/octet-stream";
}

static void note(struct walk *w, const char *path, GMimeObject *obj, const char *filename, size_t size,
		 const char *action, char *why /* taken */)
{
	if (w->notes->len >= w->limits->max_parts) {
		g_free(why);
		return;
	}
	struct mime_part_note *n = g_new0(struct mime_part_note, 1);
	n->part_path = g_strdup(*path ? path : "top");
	n->content_type = obj ? lower_type(g_mime_object_get_content_type(obj)) : g_strdup(guess_type(filename));
	n->filename = g_strdup(filename);
	n->size = size;
	n->action = action;
	n->why = why;
	g_ptr_array_add(w->notes, n);
}

/* Adds DATA (taken) as an attachment, checking PDFs' signatures. */
static void add_attachment(struct walk *w, const char *path, const char *filename, const char *ctype,
			   const char *source, GByteArray *data, bool is_pdf)
{
	struct mime_attachment *a = g_new0(struct mime_attachment, 1);
	a->filename = g_strdup(filename);
	a->content_type = g_strdup(ctype);
	a->part_path = g_strdup(*path ? path : "1");
	a->source = source;
	a->size = data->len;
	mime_sha256_hex(data->data, data->len, a->sha256);
	a->is_pdf = is_pdf || (data->len >= 5 && memcmp(data->data, "%PDF-", 5) == 0);
	a->is_docx = !strcmp(ctype, "application/vnd.openxmlformats-officedocument.wordprocessingml.document") ||
		     has_suffix_ci(filename, ".docx");
	a->signer_trusted = -1;
	if (a->is_pdf) {
		/* An empty array may have no buffer at all. */
		static const uint8_t none[1];
		const uint8_t *bytes = data->len ? data->data : none;
		struct pdfsig_result r;
		pdfsig_check(bytes, data->len, w->limits->trust, &w->limits->when, &r);
		a->signature = r.status;
		a->modified_after_signing = r.modified;
		a->signature_reason = r.reason[0] ? g_strdup(r.reason) : NULL;
		a->has_validated_at = r.has_validated_at;
		a->validated_at = r.validated_at;
		a->time_source = r.time_source;
		a->signer = r.signer ? g_strdup(r.signer) : NULL;
		a->has_signed_at = r.has_time;
		a->signed_at = r.signed_at;
		a->covers_whole_file = r.covers_whole_file;
		a->signer_trusted = r.trusted;
		a->mentions_form = pdfsig_mentions_form(bytes, data->len);
		pdfsig_result_clear(&r);
	}
	a->data = g_byte_array_free(data, FALSE);
	g_ptr_array_add(w->atts, a);
}

static void walk(struct walk *w, GMimeObject *obj, GMimeObject *parent, const char *path, unsigned depth,
		 const char *source);

/* Whether M has a header field at all: GMime files the MIME ones
 * (Content-*) under its top part, not the message. */
static bool has_headers(GMimeMessage *m)
{
	GMimeObject *top = g_mime_message_get_mime_part(m);
	GMimeHeaderList *mine = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GMimeHeaderList *mime = top ? g_mime_object_get_header_list(top) : NULL;
	return (mine && g_mime_header_list_get_count(mine) > 0) || (mime && g_mime_header_list_get_count(mime) > 0);
}

/* winmail.dat: the files inside become attachments; when it cannot be
 * read it is kept as it is. */
static bool unpack_tnef(struct walk *w, GMimeObject *obj, const char *path, const char *filename, GByteArray *data)
{
	g_auto(TnefResult) t = { 0 };
	const char *why = NULL;
	int r = tnef_parse(data->data, data->len, &t, &why);
	if (r < 0 || t.n_files == 0) {
		note(w, path, obj, filename, data->len, "attachment",
		     g_strdup_printf("TNEF container that could not be unpacked (%s): kept as it is",
				     why ? why : "no files inside"));
		return false;
	}
	note(w, path, obj, filename, data->len, "tnef",
	     g_strdup_printf("TNEF container unpacked: %zu file%s", t.n_files, t.n_files == 1 ? "" : "s"));
	for (size_t i = 0; i < t.n_files; i++) {
		g_autofree char *sub = g_strdup_printf("%s:tnef.%zu", *path ? path : "1", i + 1);
		GByteArray *d = g_byte_array_new();
		if (t.files[i].data)
			g_byte_array_append(d, t.files[i].data, (guint)t.files[i].size);
		bool pdf = has_suffix_ci(t.files[i].name, ".pdf");
		const char *ctype = guess_type(t.files[i].name);
		note(w, sub, NULL, t.files[i].name, d->len, "attachment", g_strdup("file inside the TNEF container"));
		add_attachment(w, sub, t.files[i].name, ctype, "tnef", d, pdf);
	}
	return true;
}

/* uuencoded files in a text body ("begin 644 name" … "end", as old
 * clients and some gateways send them): each becomes an attachment
 * (source "uuencode", part PATH:uu.N). */
static void unpack_uuencoded(struct walk *w, const char *path, const GByteArray *text)
{
	const char *t = (const char *)text->data;
	size_t pos = 0;
	if (text->len < 6 || !memmem(t, text->len, "begin ", 6))
		return;
	for (unsigned i = 1;; i++) {
		char *name = NULL;
		bool cut = false;
		GByteArray *data = uu_block(t, text->len, &pos, &name, &cut);
		if (!data)
			return;
		if (cut)
			w->msg->flags |= MIME_BAD_ENCODING;
		g_autofree char *clean = clean_filename(name);
		g_free(name);
		g_autofree char *sub = g_strdup_printf("%s:uu.%u", *path ? path : "1", i);
		note(w, sub, NULL, clean, data->len, "attachment", g_strdup("uuencoded file inside the text body"));
		add_attachment(w, sub, clean, guess_type(clean), "uuencode", data, has_suffix_ci(clean, ".pdf"));
	}
}

/* Walks OBJ, parsed from decoded bytes (pre-scanned: SCAN; HEADERS the
 * header fields of the message they are, or NULL): the raw
 * message does not hold them as they are, and the header fields of its
 * tree count, while it is held, against the totals of any parsed
 * inside it. */
static void walk_decoded(struct walk *w, const struct mimescan_result *scan, GMimeStream *parsed,
			 GMimeHeaderList *headers, GMimeObject *obj, GMimeObject *parent, const char *path,
			 unsigned depth, const char *source)
{
	GMimeStream *raw = w->raw, *outer = w->parsed;
	uint64_t fields = w->fields, bytes = w->header_bytes;
	GMimeHeaderList *top = w->top_headers;
	const char *boundary = w->boundary;
	w->raw = NULL;
	w->parsed = parsed;
	w->top_headers = headers;
	w->boundary = NULL;
	w->fields = scan->fields;
	w->header_bytes = scan->header_bytes;
	walk(w, obj, parent, path, depth, source);
	w->fields = fields;
	w->header_bytes = bytes;
	w->raw = raw;
	w->parsed = outer;
	w->top_headers = top;
	w->boundary = boundary;
}

/* The message's S/MIME verdict with R's: an invalid one wins, else the
 * first; its reason and validation time go with it. */
static void smime_verdict(struct mime_message *msg, const struct cms_result *r)
{
	if (!(r->status == CMS_INVALID && msg->smime != CMS_INVALID) && msg->smime != CMS_NONE)
		return;
	msg->smime = r->status == CMS_NONE ? CMS_INVALID : r->status;
	g_free(msg->smime_reason);
	msg->smime_reason = r->reason[0] ? g_strdup(r->reason) : NULL;
	msg->smime_has_validated_at = r->has_validated_at;
	msg->smime_validated_at = r->validated_at;
	msg->smime_time_source = r->time_source;
}

/* application/pkcs7-mime signed-data: verify, then walk the content. */
static bool unwrap_pkcs7(struct walk *w, GMimeObject *obj, const char *path, const char *filename, GByteArray *data,
			 unsigned depth)
{
	g_auto(CmsResult) r = { 0 };
	cms_verify(data->data, data->len, NULL, 0, w->limits->trust, &w->limits->when, &r);
	if (!r.content) {
		/* Encrypted (enveloped-data): nothing to say of a signature.
		 * Declared signed-data that cannot be read: a signature that does
		 * not verify.  Either way the part is kept as it is. */
		if (GMIME_IS_APPLICATION_PKCS7_MIME(obj) &&
		    g_mime_application_pkcs7_mime_get_smime_type(GMIME_APPLICATION_PKCS7_MIME(obj)) !=
			    GMIME_SECURE_MIME_TYPE_ENVELOPED_DATA &&
		    g_mime_application_pkcs7_mime_get_smime_type(GMIME_APPLICATION_PKCS7_MIME(obj)) !=
			    GMIME_SECURE_MIME_TYPE_COMPRESSED_DATA)
			smime_verdict(w->msg, &r);
		return false;
	}
	smime_verdict(w->msg, &r);
	note(w, path, obj, filename, data->len, "pkcs7",
	     g_strdup_printf("S/MIME signed-data: content unwrapped; signature %s%s%s%s",
			     record_signature_name(r.status), r.signer ? " by " : "", r.signer ? r.signer : "",
			     r.status == CMS_INVALID && r.why ? r.why : ""));
	GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)r.content, r.content_len);
	struct mimescan_result scan;
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeObject *inner =
		prescan((const char *)r.content, r.content_len, MIMESCAN_PART, w->limits, depth + 1,
			(unsigned)w->msg->n_parts, w->fields, w->header_bytes, NULL, st, NULL, &w->msg->flags, &scan)
			? g_mime_parser_construct_part(p, NULL)
			: NULL;
	if (inner) {
		/* Inside the signed-data the raw message says nothing about the
		 * bytes: a multipart/signed in here is checked as GMime reads it. */
		g_autofree char *sub = g_strdup_printf("%s:p7", *path ? path : "1");
		walk_decoded(w, &scan, st, NULL, inner, NULL, sub, depth + 1, "pkcs7");
		g_object_unref(inner);
	}
	g_object_unref(p);
	g_object_unref(st);
	return true;
}

/* A message/rfc822 (or message/global) part that a client sent with a
 * transfer encoding (base64, quoted-printable: RFC 2046 forbids it, some
 * clients and gateways do it anyway): GMime leaves it a leaf, so it is
 * decoded and parsed here, and walked like any forwarded message.  False
 * when it is no message: it is then kept as an attachment. */
static bool unwrap_encoded_message(struct walk *w, GMimeObject *obj, const char *path, const char *filename,
				   GByteArray *data, unsigned depth, const char *source)
{
	if (data->len == 0)
		return false;
	/* The decoded bytes are parsed in place, not copied. */
	GMimeStream *st = g_mime_stream_mem_new_with_byte_array(data);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	struct mimescan_result scan;
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *inner =
		prescan((const char *)data->data, data->len, MIMESCAN_MESSAGE, w->limits, depth + 1,
			(unsigned)w->msg->n_parts, w->fields, w->header_bytes, NULL, st, NULL, &w->msg->flags, &scan)
			? g_mime_parser_construct_message(p, NULL)
			: NULL;
	/* Bytes without a header are no message, whatever their label says. */
	bool ok = inner && g_mime_message_get_mime_part(inner) && has_headers(inner);
	if (ok) {
		note(w, path, obj, filename, data->len, "message",
		     g_strdup("forwarded message (transfer-encoded): decoded and walked inside"));
		w->encoded_messages++;
		walk_decoded(w, &scan, st, g_mime_object_get_header_list(GMIME_OBJECT(inner)),
			     g_mime_message_get_mime_part(inner), obj, path, depth + 1, source);
		w->encoded_messages--;
	}
	if (inner)
		g_object_unref(inner);
	g_object_unref(p);
	g_object_unref(st);
	return ok;
}

/* The first part of the multipart with BOUNDARY exactly as received: the
 * bytes after the first delimiter line up to the CRLF before the next
 * (RFC 1847).  Read from the raw stream in chunks; NULL when not found or
 * over MAX bytes. */
static GByteArray *signed_part_raw(GMimeStream *raw, const char *boundary, size_t max)
{
	if (!raw || !boundary || !*boundary)
		return NULL;
	g_autofree char *delim = g_strconcat("\n--", boundary, NULL);
	size_t dlen = strlen(delim);
	GByteArray *buf = g_byte_array_new(); /* the text searched, from the first delimiter on */
	GByteArray *out = NULL;
	bool in_part = false;
	size_t start = 0;
	char chunk[65536];
	if (g_mime_stream_seek(raw, 0, GMIME_STREAM_SEEK_SET) < 0)
		goto done;
	g_byte_array_append(buf, (const guint8 *)"\n", 1); /* a delimiter may open the stream */
	for (;;) {
		ssize_t n = g_mime_stream_read(raw, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		size_t from = buf->len >= dlen ? buf->len - dlen + 1 : 0;
		g_byte_array_append(buf, (const guint8 *)chunk, (guint)n);
		for (;;) {
			const guint8 *hit = memmem(buf->data + from, buf->len - from, delim, dlen);
			if (!hit)
				break;
			size_t at = (size_t)(hit - buf->data);
			if (!in_part) {
				/* The part starts after the end of the delimiter line. */
				const guint8 *eol = memchr(hit + dlen, '\n', buf->len - at - dlen);
				if (!eol)
					break; /* the line continues in the next chunk */
				start = (size_t)(eol - buf->data) + 1;
				in_part = true;
				from = start;
				continue;
			}
			/* The CRLF (or LF) before the delimiter belongs to it. */
			size_t end = at > start && buf->data[at - 1] == '\r' ? at - 1 : at;
			if (end < start)
				end = start;
			out = g_byte_array_sized_new((guint)(end - start));
			g_byte_array_append(out, buf->data + start, (guint)(end - start));
			goto done;
		}
		if (!in_part) {
			/* Keep only a tail that may hold the start of a delimiter. */
			if (buf->len > dlen) {
				g_byte_array_remove_range(buf, 0, buf->len - dlen);
			}
		} else if (buf->len - start > max) {
			goto done;
		}
	}
done:
	g_byte_array_free(buf, TRUE);
	return out;
}

/* BYTES with every bare LF made CRLF, as S/MIME signs them. */
static GByteArray *to_crlf(const GByteArray *bytes)
{
	GByteArray *out = g_byte_array_sized_new(bytes->len + bytes->len / 32 + 2);
	for (guint i = 0; i < bytes->len; i++) {
		if (bytes->data[i] == '\n' && (i == 0 || bytes->data[i - 1] != '\r'))
			g_byte_array_append(out, (const guint8 *)"\r", 1);
		g_byte_array_append(out, bytes->data + i, 1);
	}
	return out;
}

/* OBJ as GMime writes it, with CRLF line ends. */
static GByteArray *serialise_crlf(GMimeObject *obj)
{
	GByteArray *bytes = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(bytes);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	GMimeStream *filtered = g_mime_stream_filter_new(mem);
	GMimeFilter *crlf = g_mime_filter_unix2dos_new(FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), crlf);
	g_object_unref(crlf);
	g_mime_object_write_to_stream(obj, NULL, filtered);
	g_mime_stream_flush(filtered);
	g_object_unref(filtered);
	g_object_unref(mem);
	return bytes;
}

/* Whether RECEIVED (a candidate first part found in the raw message) is the
 * part GMime walks, whose serialisation is WALKED: read on its own it must
 * serialise to the same bytes.  A decoy copy of a genuinely signed part
 * elsewhere in the message (a preamble, another multipart) is not. */
static bool same_part(const GByteArray *received, const GByteArray *walked)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)received->data, received->len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeObject *obj = g_mime_parser_construct_part(p, NULL);
	bool same = false;
	if (obj) {
		GByteArray *again = serialise_crlf(obj);
		same = again->len == walked->len && memcmp(again->data, walked->data, walked->len) == 0;
		g_byte_array_free(again, TRUE);
		g_object_unref(obj);
	}
	g_object_unref(p);
	g_object_unref(st);
	return same;
}

/* multipart/signed with an S/MIME signature: the first part, with CRLF
 * line ends, is what was signed — as received; GMime's re-serialisation
 * of it is tried too (it differs after a forwarded message, or when a
 * delimiter line has trailing space). */
static void verify_multipart_signed(struct walk *w, GMimeMultipart *mp, const char *path)
{
	GMimeObject *content = g_mime_multipart_get_part(mp, 0);
	GMimeObject *sig = g_mime_multipart_get_part(mp, 1);
	if (!content || !sig || !GMIME_IS_PART(sig) || !is_smime_signature(sig))
		return;
	GByteArray *signed_bytes = serialise_crlf(content);
	GByteArray *der = decode_part(GMIME_PART(sig), NULL);
	g_auto(CmsResult) r = { 0 };
	GByteArray *as_received = signed_part_raw(w->raw, g_mime_multipart_get_boundary(mp), G_MAXSIZE);
	if (as_received && !same_part(as_received, signed_bytes)) {
		g_byte_array_free(as_received, TRUE);
		as_received = NULL;
	}
	GByteArray *received_crlf = as_received ? to_crlf(as_received) : NULL;
	if (received_crlf) {
		cms_verify(der->data, der->len, received_crlf->data, received_crlf->len, w->limits->trust,
			   &w->limits->when, &r);
		if (r.status != CMS_VALID && !strcmp(r.reason, "digest mismatch")) {
			/* Not these bytes: GMime's; a verdict on the bytes that
			 * were signed (the digest matched) stands. */
			g_auto(CmsResult) r2 = { 0 };
			cms_verify(der->data, der->len, signed_bytes->data, signed_bytes->len, w->limits->trust,
				   &w->limits->when, &r2);
			if (r2.status == CMS_VALID || strcmp(r2.reason, "digest mismatch")) {
				cms_result_clear(&r);
				r = r2;
				r2 = (struct cms_result){ 0 }; /* moved into r */
				if (r.status == CMS_INVALID)
					r.why = r.reason; /* the copy's own */
			}
		}
	} else {
		cms_verify(der->data, der->len, signed_bytes->data, signed_bytes->len, w->limits->trust,
			   &w->limits->when, &r);
	}
	if (as_received)
		g_byte_array_free(as_received, TRUE);
	if (received_crlf)
		g_byte_array_free(received_crlf, TRUE);
	smime_verdict(w->msg, &r);
	g_autofree char *sub = g_strdup_printf("%s%s2", path, *path ? "." : "");
	note(w, sub, sig, g_mime_part_get_filename(GMIME_PART(sig)), der->len, "signature",
	     g_strdup_printf("S/MIME signature of part %s%s1: %s%s%s%s%s", path, *path ? "." : "",
			     record_signature_name(r.status), r.signer ? " by " : "", r.signer ? r.signer : "",
			     r.status == CMS_INVALID ? ", " : "", r.status == CMS_INVALID && r.why ? r.why : ""));
	g_byte_array_free(der, TRUE);
	g_byte_array_free(signed_bytes, TRUE);
}

/* A part whose body follows its header with no blank line: GMime reads
 * the body's lines as (invalid) header fields and drops them; Python's
 * email and MimeKit keep them as the body.  The part is one of multipart
 * PARENT, or the single part of a message (the top one, PARENT NULL; a
 * forwarded one, PARENT its message part).  The body is read back from
 * the parsed bytes (after the part's last header field, or its message's,
 * up to the CRLF before the next delimiter of the innermost multipart
 * around it, or the end) and made the part's content.  True when there
 * was such a body. */
static bool recover_body(struct walk *w, GMimePart *part, GMimeObject *parent)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *cs = content ? g_mime_data_wrapper_get_stream(content) : NULL;
	GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(part));
	int n = list ? g_mime_header_list_get_count(list) : 0;
	const char *boundary = w->boundary;
	if (!w->parsed || (parent && GMIME_IS_MULTIPART(parent) && !boundary) || n == 0 ||
	    (cs && g_mime_stream_length(cs) > 0))
		return false;
	gint64 off = -1;
	for (int i = 0; i < n; i++)
		off = MAX(off, g_mime_header_get_offset(g_mime_header_list_get_header_at(list, i)));
	/* A message's own fields (From, Subject…) come before its part's. */
	GMimeHeaderList *top = NULL;
	if (parent && GMIME_IS_MESSAGE_PART(parent)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(parent));
		top = m ? g_mime_object_get_header_list(GMIME_OBJECT(m)) : NULL;
	} else if (!parent || !GMIME_IS_MULTIPART(parent)) {
		top = w->top_headers;
	}
	for (int i = 0, k = top ? g_mime_header_list_get_count(top) : 0; i < k; i++)
		off = MAX(off, g_mime_header_get_offset(g_mime_header_list_get_header_at(top, i)));
	if (off < 0 || g_mime_stream_seek(w->parsed, off, GMIME_STREAM_SEEK_SET) != off)
		return false;
	g_autofree char *delim = boundary ? g_strconcat("\n--", boundary, NULL) : NULL;
	size_t dlen = delim ? strlen(delim) : 0;
	GByteArray *buf = g_byte_array_new();
	const guint8 *hit = NULL;
	char chunk[65536];
	ssize_t got;
	while (!hit && (got = g_mime_stream_read(w->parsed, chunk, sizeof(chunk))) > 0) {
		size_t from = buf->len > dlen ? buf->len - dlen : 0;
		g_byte_array_append(buf, (const guint8 *)chunk, (guint)got);
		hit = delim ? memmem(buf->data + from, buf->len - from, delim, dlen) : NULL;
	}
	size_t end = hit ? (size_t)(hit - buf->data) : buf->len;
	if (end == 0) {
		g_byte_array_free(buf, TRUE);
		return false;
	}
	/* Past the last field: its line and the lines folded into it. */
	size_t p = 0;
	do {
		const guint8 *nl = memchr(buf->data + p, '\n', end - p);
		p = nl ? (size_t)(nl - buf->data) + 1 : end;
	} while (p < end && (buf->data[p] == ' ' || buf->data[p] == '\t'));
	bool body =
		p < end && buf->data[p] != '\n' && !(buf->data[p] == '\r' && p + 1 < end && buf->data[p + 1] == '\n');
	if (body) {
		if (hit && end > p && buf->data[end - 1] == '\r')
			end--;
		GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)buf->data + p, end - p);
		GMimeDataWrapper *wrapper =
			g_mime_data_wrapper_new_with_stream(st, g_mime_part_get_content_encoding(part));
		g_mime_part_set_content(part, wrapper);
		g_object_unref(wrapper);
		g_object_unref(st);
	}
	g_byte_array_free(buf, TRUE);
	return body;
}

/* Whether an HTML part in MP (a multipart/related; its alternatives
 * too) refers to IMAGE: "cid:" and its Content-ID, or its
 * Content-Location.  An image nothing refers to is an attachment. */
static bool html_refers_to(GMimeMultipart *mp, GMimeObject *image)
{
	const char *cid = g_mime_object_get_content_id(image);
	const char *loc = g_mime_object_get_header(image, "Content-Location");
	g_autofree char *url = cid && *cid ? g_strconcat("cid:", cid, NULL) : NULL;
	g_autofree char *where = loc ? g_strstrip(g_strdup(loc)) : NULL;
	if (!url && (!where || !*where))
		return false;
	bool found = false;
	for (int i = 0; !found && i < g_mime_multipart_get_count(mp); i++) {
		GMimeObject *o = g_mime_multipart_get_part(mp, i);
		if (GMIME_IS_MULTIPART(o) && !GMIME_IS_MULTIPART_SIGNED(o)) {
			found = html_refers_to(GMIME_MULTIPART(o), image);
		} else if (GMIME_IS_PART(o) && type_is(o, "text", "html")) {
			GByteArray *html = decode_part(GMIME_PART(o), NULL);
			found = html->len && ((url && memmem(html->data, html->len, url, strlen(url))) ||
					      (where && *where && memmem(html->data, html->len, where, strlen(where))));
			g_byte_array_free(html, TRUE);
		}
	}
	return found;
}

static void leaf(struct walk *w, GMimeObject *obj, GMimeObject *parent, const char *path, unsigned depth,
		 const char *source)
{
	if (!GMIME_IS_PART(obj))
		return;
	GMimePart *part = GMIME_PART(obj);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *method = ct ? g_mime_content_type_get_parameter(ct, "method") : NULL;
	if (type_is(obj, "text", "calendar") || type_is(obj, "application", "ics") ||
	    (method && (!g_ascii_strcasecmp(method, "REQUEST") || !g_ascii_strcasecmp(method, "CANCEL"))))
		w->msg->facts |= MIME_FACT_CALENDAR;
	g_autofree char *filename = part_filename(obj, NULL);
	if (!filename)
		filename = clean_filename(g_mime_part_get_filename(part));
	if (is_signature_part(obj)) {
		/* S/MIME signatures are noted by their multipart/signed. */
		if (!is_smime_signature(obj) || !parent || !GMIME_IS_MULTIPART_SIGNED(parent))
			note(w, path, obj, filename, 0, "signature",
			     g_strdup(is_smime_signature(obj)
					      ? "S/MIME signature outside multipart/signed: not verified"
					      : "PGP signature: not verified"));
		return;
	}
	const char *disp = g_mime_object_get_disposition(obj);
	bool disp_attachment = disp && !g_ascii_strcasecmp(disp, GMIME_DISPOSITION_ATTACHMENT);
	g_autofree char *ctype = lower_type(g_mime_object_get_content_type(obj));
	bool is_text = type_is(obj, "text", "*");
	bool is_image = type_is(obj, "image", "*");
	bool pdf_by_type = !strcmp(ctype, "application/pdf");
	bool pdf_by_name = has_suffix_ci(filename, ".pdf");
	GByteArray *data = NULL;
	const char *why = NULL;

	bool wanted = true;
	if (pdf_by_type || pdf_by_name)
		why = pdf_by_type ? "PDF (by content type)" : "PDF (by file name)";
	else if (is_image && parent && type_is(parent, "multipart", "related") && !disp_attachment &&
		 html_refers_to(GMIME_MULTIPART(parent), obj))
		wanted = false; /* inline image referenced by an HTML body */
	else if (disp_attachment)
		why = "Content-Disposition: attachment";
	else if (filename)
		why = "has a file name";
	else if (is_text)
		wanted = false; /* body text */
	else if (is_image)
		why = "image outside multipart/related (a photographed or scanned page)";
	else
		why = "unnamed non-text content";

	if (recover_body(w, part, parent)) {
		w->msg->flags |= MIME_MALFORMED;
		/* The message's header "ran to its end": that was its body. */
		if (!parent && w->raw)
			w->msg->flags &= ~MIME_TRUNCATED;
	}
	bool bad_encoding = false;
	data = decode_part(part, &bad_encoding);
	if (bad_encoding)
		w->msg->flags |= MIME_BAD_ENCODING;
	if (!wanted) {
		/* Recognise PDFs by content whatever they are called. */
		if (data->len >= 5 && memcmp(data->data, "%PDF-", 5) == 0) {
			wanted = true;
			why = "PDF (recognised by its content)";
		} else {
			note(w, path, obj, filename, data->len, is_text ? "body" : "inline-image",
			     g_strdup(is_text ? "text body" : "image referenced by the HTML body"));
			if (is_text)
				unpack_uuencoded(w, path, data);
			g_byte_array_free(data, TRUE);
			return;
		}
	}
	bool tnef = type_is(obj, "application", "ms-tnef") || type_is(obj, "application", "vnd.ms-tnef") ||
		    (filename && !g_ascii_strcasecmp(filename, "winmail.dat"));
	if (tnef && unpack_tnef(w, obj, path, filename, data)) {
		g_byte_array_free(data, TRUE);
		return;
	}
	bool message = type_is(obj, "message", "rfc822") || type_is(obj, "message", "global");
	if (message && depth < w->limits->max_depth && w->encoded_messages < MIME_MAX_ENCODED_MESSAGES &&
	    unwrap_encoded_message(w, obj, path, filename, data, depth, source)) {
		g_byte_array_free(data, TRUE);
		return;
	}
	bool p7 = type_is(obj, "application", "pkcs7-mime") || type_is(obj, "application", "x-pkcs7-mime");
	if (p7 && depth < w->limits->max_depth && unwrap_pkcs7(w, obj, path, filename, data, depth)) {
		g_byte_array_free(data, TRUE);
		return;
	}
	if (!tnef)
		note(w, path, obj, filename, data->len, "attachment",
		     g_strdup(p7 ? "S/MIME content that could not be unwrapped (encrypted or unreadable): kept as it is"
				 : why));
	add_attachment(w, path, filename, ctype, source, data, pdf_by_type || pdf_by_name);
}

static void walk(struct walk *w, GMimeObject *obj, GMimeObject *parent, const char *path, unsigned depth,
		 const char *source)
{
	if (!obj)
		return;
	if (depth > w->limits->max_depth) {
		w->msg->flags |= MIME_TOO_DEEP;
		return;
	}
	if (w->msg->n_parts >= w->limits->max_parts) {
		w->msg->flags |= MIME_TOO_MANY_PARTS;
		return;
	}
	if (w->limits->clock && w->limits->clock() > w->limits->deadline) {
		w->msg->flags |= MIME_TIME_LIMIT;
		return;
	}
	if (w->limits->stop && atomic_load(w->limits->stop)) {
		w->msg->flags |= MIME_STOPPED;
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		w->msg->n_parts++;
		g_autofree char *ct = lower_type(g_mime_object_get_content_type(obj));
		note(w, path, obj, NULL, 0, "container",
		     g_strdup_printf("%s with %d part%s", ct, n, n == 1 ? "" : "s"));
		if (GMIME_IS_MULTIPART_SIGNED(obj))
			verify_multipart_signed(w, mp, path);
		const char *around = w->boundary;
		w->boundary = g_mime_multipart_get_boundary(mp);
		for (int i = 0; i < n; i++) {
			g_autofree char *sub =
				*path ? g_strdup_printf("%s.%d", path, i + 1) : g_strdup_printf("%d", i + 1);
			walk(w, g_mime_multipart_get_part(mp, i), obj, sub, depth + 1, source);
		}
		w->boundary = around;
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		w->msg->n_parts++;
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		note(w, path, obj, NULL, 0, "message",
		     g_strdup(inner ? "forwarded message: walked inside" : "empty message part"));
		if (inner)
			walk(w, g_mime_message_get_mime_part(inner), obj, path, depth + 1, source);
		return;
	}
	w->msg->n_parts++;
	leaf(w, obj, parent, *path ? path : "1", depth, source);
}

/* Raw 8-bit header text: UTF-8 when it is valid, else Windows-1252. */
static char *text_8bit(const char *s, size_t len)
{
	if (g_utf8_validate(s, (gssize)len, NULL))
		return g_strndup(s, len);
	char *out = g_convert(s, (gssize)len, "UTF-8", "WINDOWS-1252", NULL, NULL, NULL);
	return out ? out : g_utf8_make_valid(s, (gssize)len);
}

static char *charset_to_utf8(const char *charset, const GByteArray *bytes)
{
	if (bytes->len == 0)
		return g_strdup("");
	char *out = g_convert((const char *)bytes->data, bytes->len, "UTF-8", charset, NULL, NULL, NULL);
	if (!out && (!g_ascii_strcasecmp(charset, "iso-8859-1") || !g_ascii_strcasecmp(charset, "us-ascii")))
		out = g_convert((const char *)bytes->data, bytes->len, "UTF-8", "WINDOWS-1252", NULL, NULL, NULL);
	return out ? out : text_8bit((const char *)bytes->data, bytes->len);
}

/* One encoded word at P ("=?charset?B|Q?text?="): appends its bytes to
 * OUT, stores its charset, and returns the end, or NULL if P is not one. */
static const char *encoded_word(const char *p, char **charset, GByteArray *out)
{
	if (p[0] != '=' || p[1] != '?')
		return NULL;
	const char *cs = p + 2;
	const char *q1 = strchr(cs, '?');
	if (!q1 || q1 == cs || !q1[1] || q1[2] != '?')
		return NULL;
	char enc = g_ascii_toupper(q1[1]);
	const char *text = q1 + 3;
	const char *end = strstr(text, "?=");
	if (!end || (enc != 'B' && enc != 'Q') || memchr(cs, ' ', (size_t)(end - cs)))
		return NULL;
	g_autofree char *name = g_strndup(cs, (size_t)(q1 - cs));
	char *star = strchr(name, '*'); /* RFC 2231 language: utf-8*da */
	if (star)
		*star = '\0';
	if (enc == 'B') {
		g_autofree char *b64 = g_strndup(text, (size_t)(end - text));
		gsize n = 0;
		guchar *dec = g_base64_decode(b64, &n);
		g_byte_array_append(out, dec, (guint)n);
		g_free(dec);
	} else {
		for (const char *t = text; t < end; t++) {
			if (*t == '_') {
				g_byte_array_append(out, (const guint8 *)" ", 1);
			} else if (*t == '=' && t + 2 < end + 1 && g_ascii_isxdigit(t[1]) && g_ascii_isxdigit(t[2])) {
				guint8 b = (guint8)(g_ascii_xdigit_value(t[1]) * 16 + g_ascii_xdigit_value(t[2]));
				g_byte_array_append(out, &b, 1);
				t += 2;
			} else {
				g_byte_array_append(out, (const guint8 *)t, 1);
			}
		}
	}
	*charset = g_steal_pointer(&name);
	return end + 2;
}

/* RFC 2047 decoding of an unstructured header (Subject), unfolded.  Each
 * encoded word is decoded on its own (Outlook pads every B word), and the
 * bytes of adjacent words in one charset are joined before conversion so
 * that a character split across words survives.  Whitespace between
 * encoded words is dropped, as the RFC says. */
static char *decode_unstructured(const char *raw)
{
	GString *out = g_string_new(NULL);
	GByteArray *pending = g_byte_array_new();
	g_autofree char *pending_cs = NULL;
	const char *p = raw;

	while (*p) {
		char *cs = NULL;
		GByteArray *word = g_byte_array_new();
		const char *end = encoded_word(p, &cs, word);
		if (end) {
			if (pending_cs && g_ascii_strcasecmp(pending_cs, cs) != 0) {
				g_autofree char *t = charset_to_utf8(pending_cs, pending);
				g_string_append(out, t);
				g_byte_array_set_size(pending, 0);
			}
			g_free(pending_cs);
			pending_cs = cs;
			g_byte_array_append(pending, word->data, word->len);
			g_byte_array_free(word, TRUE);
			/* Skip whitespace only when another encoded word follows. */
			const char *q = end;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				q++;
			char *cs2 = NULL;
			GByteArray *probe = g_byte_array_new();
			p = encoded_word(q, &cs2, probe) ? q : end;
			g_free(cs2);
			g_byte_array_free(probe, TRUE);
			continue;
		}
		g_byte_array_free(word, TRUE);
		if (pending_cs) {
			g_autofree char *t = charset_to_utf8(pending_cs, pending);
			g_string_append(out, t);
			g_byte_array_set_size(pending, 0);
			g_clear_pointer(&pending_cs, g_free);
		}
		/* Plain text up to the next possible encoded word. */
		const char *next = strstr(p + 1, "=?");
		size_t len = next ? (size_t)(next - p) : strlen(p);
		g_autofree char *t = text_8bit(p, len);
		g_string_append(out, t);
		p += len;
	}
	if (pending_cs) {
		g_autofree char *t = charset_to_utf8(pending_cs, pending);
		g_string_append(out, t);
	}
	g_byte_array_free(pending, TRUE);
	/* Unfold: CR and LF go; folding whitespace stays as a space or tab. */
	GString *clean = g_string_sized_new(out->len);
	for (const char *c = out->str; *c; c++)
		if (*c != '\r' && *c != '\n')
			g_string_append_c(clean, *c);
	g_string_free(out, TRUE);
	return g_strstrip(g_string_free(clean, FALSE));
}

static const char *header_raw(GMimeHeaderList *headers, const char *name)
{
	GMimeHeader *h = headers ? g_mime_header_list_get_header(headers, name) : NULL;
	return h ? g_mime_header_get_raw_value(h) : NULL;
}

static bool header_has_word(GMimeHeaderList *headers, const char *name, const char *const *words)
{
	const char *v = header_raw(headers, name);
	if (!v)
		return false;
	g_autofree char *lower = g_ascii_strdown(v, -1);
	g_strstrip(lower);
	for (size_t i = 0; words[i]; i++)
		if (g_str_has_prefix(lower, words[i]))
			return true;
	return false;
}

/* Zone names GMime does not know (it reads them as UTC): Europe's.  It
 * knows UT, GMT, Z and RFC 822's EST/EDT/CST/CDT/MST/MDT/PST/PDT. */
static const struct {
	const char *name;
	int minutes;
} zone_names[] = {
	{ "CET", 60 },   { "CEST", 120 }, { "MET", 60 },  { "MEST", 120 }, { "EET", 120 },
	{ "EEST", 180 }, { "WET", 0 },    { "WEST", 60 }, { "BST", 60 },   { "UTC", 0 },
};

/* A date header (RFC 5322, obsolete forms too) as Unix time and its UTC
 * offset in minutes.  A trailing zone name ("… 23:30:00 CEST", comments
 * aside) that GMime reads as UTC is applied here. */
static bool decode_date(const char *raw, int64_t *when, int *offset)
{
	GDateTime *dt = g_mime_utils_header_decode_date(raw);
	if (!dt)
		return false;
	*when = g_date_time_to_unix(dt);
	*offset = (int)(g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE);
	g_date_time_unref(dt);
	/* The last word outside comments. */
	g_autofree char *copy = g_strdup(raw);
	int depth = 0;
	for (char *p = copy; *p; p++) {
		if (*p == '(')
			depth++;
		if (depth > 0 || *p == '\r' || *p == '\n' || *p == '\t')
			*p = depth > 0 && *p == ')' ? (depth--, ' ') : ' ';
	}
	g_strstrip(copy);
	const char *last = strrchr(copy, ' ');
	last = last ? last + 1 : copy;
	for (size_t i = 0; i < G_N_ELEMENTS(zone_names); i++) {
		if (!g_ascii_strcasecmp(last, zone_names[i].name) && *offset == 0) {
			*when -= (int64_t)zone_names[i].minutes * 60;
			*offset = zone_names[i].minutes;
			break;
		}
	}
	return true;
}

static void read_facts(struct mime_message *m, GMimeMessage *gm, GMimeHeaderList *headers)
{
	static const char *const replied[] = { "auto-replied", NULL };
	static const char *const no[] = { "no", NULL };
	static const char *const prec_auto[] = { "auto_reply", "auto-reply", NULL };
	static const char *const prec_bulk[] = { "bulk", "list", "junk", NULL };
	const char *as = header_raw(headers, "Auto-Submitted");

	if ((as && !header_has_word(headers, "Auto-Submitted", no)) || header_raw(headers, "X-Auto-Response-Suppress"))
		m->facts |= MIME_FACT_AUTO_SUBMITTED;
	if (header_has_word(headers, "Auto-Submitted", replied) || header_raw(headers, "X-Autoreply") ||
	    header_raw(headers, "X-Autorespond"))
		m->facts |= MIME_FACT_AUTOREPLY;
	if (header_has_word(headers, "Precedence", prec_auto))
		m->facts |= MIME_FACT_PRECEDENCE_AUTO;
	if (header_has_word(headers, "Precedence", prec_bulk))
		m->facts |= MIME_FACT_PRECEDENCE_BULK;
	if (header_raw(headers, "List-Id") || header_raw(headers, "List-Unsubscribe"))
		m->facts |= MIME_FACT_LIST;
	GMimeObject *top = g_mime_message_get_mime_part(gm);
	if (top && type_is(top, "multipart", "report"))
		m->facts |= MIME_FACT_REPORT;
	if (header_raw(headers, "X-Failed-Recipients"))
		m->facts |= MIME_FACT_FAILED_RECIPIENTS;

	/* The newest Received: is the first one; its date follows the last ';'. */
	const char *received = header_raw(headers, "Received");
	const char *semi = received ? strrchr(received, ';') : NULL;
	if (semi) {
		int offset;
		if (decode_date(semi + 1, &m->received, &offset))
			m->has_received = true;
	}
	/* All of them, in order, for the edge arrival (received_edge). */
	GPtrArray *all = g_ptr_array_new();
	for (int i = 0, n = headers ? g_mime_header_list_get_count(headers) : 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
		const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
		if (v && !g_ascii_strcasecmp(g_mime_header_get_name(h), "Received"))
			g_ptr_array_add(all, g_strdup(v));
	}
	m->n_received_headers = all->len;
	g_ptr_array_add(all, NULL);
	m->received_headers = (char **)g_ptr_array_free(all, FALSE);
	const char *org = header_raw(headers, "Organization");
	if (org)
		m->organization = decode_unstructured(org);
}

static void read_headers(struct mime_message *m, GMimeMessage *gm)
{
	GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(gm));
	GMimeHeader *h = headers ? g_mime_header_list_get_header(headers, "Subject") : NULL;
	const char *raw_subject = h ? g_mime_header_get_raw_value(h) : NULL;
	if (raw_subject)
		m->subject = decode_unstructured(raw_subject);
	const char *mid = g_mime_message_get_message_id(gm);
	if (mid && *mid)
		m->message_id = g_utf8_make_valid(mid, -1);
	InternetAddressList *from = g_mime_message_get_from(gm);
	for (int i = 0; from && i < internet_address_list_length(from); i++) {
		InternetAddress *ia = internet_address_list_get_address(from, i);
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		const char *name = internet_address_get_name(ia);
		if (addr && *addr)
			m->from_addr = g_utf8_make_valid(addr, -1);
		if (name && *name)
			m->from_name = g_utf8_make_valid(name, -1);
		break;
	}
	const char *date = header_raw(headers, "Date");
	if (date && decode_date(date, &m->date, &m->date_offset))
		m->has_date = true;
	read_facts(m, gm, headers);
}

/* Header damage the parser accepts silently. */
static void check_header(struct mime_message *m, GMimeObject *obj, const struct mime_limits *lim)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(obj);
	int n = list ? g_mime_header_list_get_count(list) : 0;
	if (lim->max_header_fields && n > 0 && (unsigned)n > lim->max_header_fields)
		m->flags |= MIME_TOO_MANY_HEADERS;
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *name = h ? g_mime_header_get_name(h) : NULL;
		for (const unsigned char *p = (const unsigned char *)name; p && *p; p++)
			if (*p < 33 || *p > 126 || *p == ':')
				m->flags |= MIME_BAD_HEADER;
		const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
		if (lim->max_header_field && raw && strlen(raw) > lim->max_header_field)
			m->flags |= MIME_LONG_HEADER;
	}
}

static void parse_stream(GMimeStream *stream, const char *data, size_t len, struct mapping *map,
			 const struct mime_limits *limits, struct mime_message **out);

int mime_parse(GByteArray *raw, const struct mime_limits *limits, struct mime_message **out)
{
	mime_init_once();
	GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(raw);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	parse_stream(stream, (const char *)raw->data, raw->len, NULL, limits, out);
	return 0;
}

int mime_parse_fd(int fd, const struct mime_limits *limits, struct mime_message **out)
{
	mime_init_once();
	struct stat st;
	int own = dup(fd);
	if (own < 0 || lseek(own, 0, SEEK_SET) < 0 || fstat(own, &st) < 0) {
		int e = errno;
		if (own >= 0)
			close(own);
		return -e;
	}
	/* The pre-scan reads the bytes where they are; the parser's parts
	 * refer to ranges of the file: the message is never copied whole. */
	size_t len = (size_t)st.st_size;
	void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, own, 0) : NULL;
	if (map == MAP_FAILED) {
		int e = errno;
		close(own);
		return -e;
	}
	struct mapping m = { map, len, 0 };
	if (map)
		madvise(map, len, MADV_SEQUENTIAL);
	/* Unmapped once scanned. */
	parse_stream(stop_stream_new(own, limits->stop), map ? map : "", len, map ? &m : NULL, limits, out);
	return 0;
}

/* Takes STREAM, which reads the LEN bytes at DATA (mapped: MAP). */
static void parse_stream(GMimeStream *stream, const char *data, size_t len, struct mapping *map,
			 const struct mime_limits *limits, struct mime_message **out)
{
	struct mime_message *m = g_new0(struct mime_message, 1);
	GMimeParserOptions *opts = parser_options(&m->flags);
	struct mimescan_result scan;
	bool go = prescan(data, len, MIMESCAN_MESSAGE, limits, 0, 0, 0, 0, opts, stream, map, &m->flags, &scan);
	if (map)
		munmap((void *)map->base, map->len);
	if (!go) {
		g_mime_parser_options_free(opts);
		g_object_unref(stream);
		*out = m;
		return;
	}
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	struct header_guard guard = { stream, 0, scan.fields, &m->flags };
	g_mime_parser_set_header_regex(parser, "^", guard_header, &guard);

	GMimeMessage *gm = g_mime_parser_construct_message(parser, opts);
	/* Where the parse was made to stop, the end it finds is no damage. */
	if (scan.cut < len)
		m->flags &= ~MIME_TRUNCATED;
	else if (m->flags & ENDED_IN_ERROR)
		m->flags |= MIME_MALFORMED;
	m->flags &= ~ENDED_IN_ERROR;
	if (!gm || !has_headers(gm))
		m->flags |= MIME_NO_HEADERS;
	if (gm) {
		struct walk w = { .limits = limits,
				  .raw = stream,
				  .parsed = stream,
				  .top_headers = g_mime_object_get_header_list(GMIME_OBJECT(gm)),
				  .msg = m,
				  .atts = g_ptr_array_new(),
				  .notes = g_ptr_array_new(),
				  .fields = scan.fields,
				  .header_bytes = scan.header_bytes };
		read_headers(m, gm);
		check_header(m, GMIME_OBJECT(gm), limits);
		walk(&w, g_mime_message_get_mime_part(gm), NULL, "", 0, "mime");
		m->n_attachments = w.atts->len;
		m->attachments = g_new0(struct mime_attachment, w.atts->len ? w.atts->len : 1);
		for (guint i = 0; i < w.atts->len; i++) {
			struct mime_attachment *a = g_ptr_array_index(w.atts, i);
			m->attachments[i] = *a;
			g_free(a);
		}
		m->n_notes = w.notes->len;
		m->notes = g_new0(struct mime_part_note, w.notes->len ? w.notes->len : 1);
		for (guint i = 0; i < w.notes->len; i++) {
			struct mime_part_note *n = g_ptr_array_index(w.notes, i);
			m->notes[i] = *n;
			g_free(n);
		}
		g_ptr_array_free(w.atts, TRUE);
		g_ptr_array_free(w.notes, TRUE);
		g_object_unref(gm);
	}
	g_mime_parser_options_free(opts);
	g_object_unref(parser);
	g_object_unref(stream);
	*out = m;
}

void mime_message_free(struct mime_message *msg)
{
	if (!msg)
		return;
	g_free(msg->smime_reason);
	g_free(msg->subject);
	g_free(msg->from_addr);
	g_free(msg->from_name);
	g_free(msg->message_id);
	g_free(msg->organization);
	g_strfreev(msg->received_headers);
	for (size_t i = 0; i < msg->n_attachments; i++) {
		g_free(msg->attachments[i].filename);
		g_free(msg->attachments[i].content_type);
		g_free(msg->attachments[i].part_path);
		g_free(msg->attachments[i].data);
		g_free(msg->attachments[i].signer);
		g_free(msg->attachments[i].signature_reason);
	}
	g_free(msg->attachments);
	for (size_t i = 0; i < msg->n_notes; i++) {
		g_free(msg->notes[i].part_path);
		g_free(msg->notes[i].content_type);
		g_free(msg->notes[i].filename);
		g_free(msg->notes[i].why);
	}
	g_free(msg->notes);
	g_free(msg);
}

char *mime_flags_describe(unsigned flags)
{
	static const struct {
		unsigned flag;
		const char *name;
	} names[] = {
		{ MIME_NO_HEADERS, "no-headers" },
		{ MIME_TRUNCATED, "truncated" },
		{ MIME_MALFORMED, "malformed" },
		{ MIME_TOO_DEEP, "too-deep" },
		{ MIME_TOO_MANY_PARTS, "too-many-parts" },
		{ MIME_BAD_ENCODING, "bad-encoding" },
		{ MIME_TIME_LIMIT, "time-limit" },
		{ MIME_BAD_HEADER, "bad-header" },
		{ MIME_LONG_HEADER, "long-header" },
		{ MIME_TOO_MANY_HEADERS, "too-many-headers" },
		{ MIME_STOPPED, "stopped" },
		{ MIME_UNPARSED, "unparsed" },
	};
	if (!flags)
		return NULL;
	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (!(flags & names[i].flag))
			continue;
		if (s->len)
			g_string_append_c(s, ',');
		g_string_append(s, names[i].name);
	}
	return g_string_free(s, FALSE);
}
