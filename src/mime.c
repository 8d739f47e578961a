#include "mime.h"

#include <errno.h>
#include <string.h>
#include <gmime/gmime.h>

struct walk {
	const struct mime_limits *limits;
	struct mime_message *msg;
	GPtrArray *atts; /* struct mime_attachment* */
};

static void mime_init_once(void)
{
	static gsize done;
	if (g_once_init_enter(&done)) {
		g_mime_init();
		g_once_init_leave(&done, 1);
	}
}

void mime_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(ck, data, len);
	g_strlcpy(out, g_checksum_get_string(ck), 65);
}

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user)
{
	unsigned *flags = user;
	switch (code) {
	case GMIME_WARN_TRUNCATED_MESSAGE:
		*flags |= MIME_TRUNCATED;
		break;
	case GMIME_WARN_MALFORMED_MULTIPART:
	case GMIME_WARN_MALFORMED_MESSAGE:
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

static bool is_signature_part(GMimeObject *o)
{
	return type_is(o, "application", "pkcs7-signature") || type_is(o, "application", "x-pkcs7-signature") ||
	       type_is(o, "application", "pgp-signature");
}

static GByteArray *decode_part(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GByteArray *arr = g_byte_array_new();
	if (!w)
		return arr;
	GMimeStream *out = g_mime_stream_mem_new_with_byte_array(arr);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
	g_mime_data_wrapper_write_to_stream(w, out);
	g_object_unref(out);
	return arr;
}

/* True when the part's base64 text holds anything but the alphabet,
 * whitespace and final padding: the decoded bytes are then not what the
 * sender attached. */
static bool bad_base64(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	if (!w || g_mime_data_wrapper_get_encoding(w) != GMIME_CONTENT_ENCODING_BASE64)
		return false;
	GMimeStream *src = g_mime_data_wrapper_get_stream(w);
	if (!src)
		return false;
	g_mime_stream_reset(src);
	char buf[4096];
	bool padding = false;
	ssize_t n;
	while ((n = g_mime_stream_read(src, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (c == '=')
				padding = true;
			else if (g_ascii_isspace(c))
				continue;
			else if (padding || !(g_ascii_isalnum(c) || c == '+' || c == '/'))
				return true;
		}
	}
	g_mime_stream_reset(src);
	return false;
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

static void leaf(struct walk *w, GMimeObject *obj, GMimeObject *parent, const char *path)
{
	if (!GMIME_IS_PART(obj) || is_signature_part(obj))
		return;
	GMimePart *part = GMIME_PART(obj);
	const char *disp = g_mime_object_get_disposition(obj);
	bool disp_attachment = disp && !g_ascii_strcasecmp(disp, GMIME_DISPOSITION_ATTACHMENT);
	g_autofree char *filename = clean_filename(g_mime_part_get_filename(part));
	g_autofree char *ctype = lower_type(g_mime_object_get_content_type(obj));
	bool is_text = type_is(obj, "text", "*");
	bool is_image = type_is(obj, "image", "*");
	g_autofree char *lower_name = filename ? g_utf8_strdown(filename, -1) : NULL;
	bool is_pdf = !strcmp(ctype, "application/pdf") || (lower_name && g_str_has_suffix(lower_name, ".pdf"));
	GByteArray *data = NULL;

	bool wanted;
	if (is_pdf)
		wanted = true;
	else if (is_image && parent && type_is(parent, "multipart", "related") && !disp_attachment)
		wanted = false; /* inline image referenced by an HTML body */
	else if (disp_attachment || filename)
		wanted = true;
	else if (is_text || is_image)
		wanted = false; /* body text, or an unnamed inline image */
	else
		wanted = true; /* unnamed application/audio/video content */

	if (!wanted) {
		if (is_text)
			return;
		/* Recognise PDFs by content whatever they are called. */
		data = decode_part(part);
		if (data->len < 5 || memcmp(data->data, "%PDF-", 5) != 0) {
			g_byte_array_free(data, TRUE);
			return;
		}
	}
	if (!data)
		data = decode_part(part);
	if (bad_base64(part))
		w->msg->flags |= MIME_BAD_ENCODING;

	struct mime_attachment *a = g_new0(struct mime_attachment, 1);
	a->filename = g_steal_pointer(&filename);
	a->content_type = g_steal_pointer(&ctype);
	a->part_path = g_strdup(path);
	a->size = data->len;
	mime_sha256_hex(data->data, data->len, a->sha256);
	a->data = g_byte_array_free(data, FALSE);
	g_ptr_array_add(w->atts, a);
}

static void walk(struct walk *w, GMimeObject *obj, GMimeObject *parent, const char *path, unsigned depth)
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
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++) {
			g_autofree char *sub = *path ? g_strdup_printf("%s.%d", path, i + 1) : g_strdup_printf("%d", i + 1);
			walk(w, g_mime_multipart_get_part(mp, i), obj, sub, depth + 1);
		}
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner)
			walk(w, g_mime_message_get_mime_part(inner), obj, path, depth + 1);
		return;
	}
	w->msg->n_parts++;
	leaf(w, obj, parent, *path ? path : "1");
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

	/* The newest Received: is the first one; its date follows the last ';'. */
	const char *received = header_raw(headers, "Received");
	const char *semi = received ? strrchr(received, ';') : NULL;
	if (semi) {
		GDateTime *dt = g_mime_utils_header_decode_date(semi + 1);
		if (dt) {
			m->has_received = true;
			m->received = g_date_time_to_unix(dt);
			g_date_time_unref(dt);
		}
	}
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
	GDateTime *date = g_mime_message_get_date(gm);
	if (date) {
		m->has_date = true;
		m->date = g_date_time_to_unix(date);
		m->date_offset = (int)(g_date_time_get_utc_offset(date) / G_TIME_SPAN_MINUTE);
	}
	read_facts(m, gm, headers);
}

int mime_parse(GByteArray *raw, const struct mime_limits *limits, struct mime_message **out)
{
	mime_init_once();
	struct mime_message *m = g_new0(struct mime_message, 1);
	GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(raw);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeParserOptions *opts = g_mime_parser_options_new();
	const char *charsets[] = { "utf-8", "windows-1252", NULL };
	g_mime_parser_options_set_fallback_charsets(opts, charsets);
	g_mime_parser_options_set_warning_callback(opts, on_warning, &m->flags);

	GMimeMessage *gm = g_mime_parser_construct_message(parser, opts);
	if (!gm || !g_mime_object_get_header_list(GMIME_OBJECT(gm)) ||
	    g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(gm))) == 0) {
		m->flags |= MIME_NO_HEADERS;
	}
	if (gm) {
		struct walk w = { .limits = limits, .msg = m, .atts = g_ptr_array_new() };
		read_headers(m, gm);
		walk(&w, g_mime_message_get_mime_part(gm), NULL, "", 0);
		m->n_attachments = w.atts->len;
		m->attachments = g_new0(struct mime_attachment, w.atts->len ? w.atts->len : 1);
		for (guint i = 0; i < w.atts->len; i++) {
			struct mime_attachment *a = g_ptr_array_index(w.atts, i);
			m->attachments[i] = *a;
			g_free(a);
		}
		g_ptr_array_free(w.atts, TRUE);
		g_object_unref(gm);
	}
	g_mime_parser_options_free(opts);
	g_object_unref(parser);
	g_object_unref(stream);
	*out = m;
	return 0;
}

void mime_message_free(struct mime_message *msg)
{
	if (!msg)
		return;
	g_free(msg->subject);
	g_free(msg->from_addr);
	g_free(msg->from_name);
	g_free(msg->message_id);
	g_free(msg->organization);
	for (size_t i = 0; i < msg->n_attachments; i++) {
		g_free(msg->attachments[i].filename);
		g_free(msg->attachments[i].content_type);
		g_free(msg->attachments[i].part_path);
		g_free(msg->attachments[i].data);
	}
	g_free(msg->attachments);
	g_free(msg);
}

char *mime_flags_describe(unsigned flags)
{
	static const struct { unsigned flag; const char *name; } names[] = {
		{ MIME_NO_HEADERS, "no-headers" },
		{ MIME_TRUNCATED, "truncated" },
		{ MIME_MALFORMED, "malformed" },
		{ MIME_TOO_DEEP, "too-deep" },
		{ MIME_TOO_MANY_PARTS, "too-many-parts" },
		{ MIME_BAD_ENCODING, "bad-encoding" },
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
