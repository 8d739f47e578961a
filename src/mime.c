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

static void read_headers(struct mime_message *m, GMimeMessage *gm)
{
	const char *subject = g_mime_message_get_subject(gm);
	if (subject)
		m->subject = g_utf8_make_valid(subject, -1);
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
