#include "term.h"

#include <string.h>
#include <glib.h>

static int is_unsafe(gunichar c)
{
	return c < 0x20 || (c >= 0x7f && c < 0xa0) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
	       c == 0x200e || c == 0x200f || c == 0x061c || c == 0x2028 || c == 0x2029;
}

bool term_unsafe(gunichar c)
{
	return is_unsafe(c);
}

char *term_clean(const char *s)
{
	g_autofree char *valid = g_utf8_make_valid(s ? s : "", -1);
	GString *out = g_string_sized_new(strlen(valid));
	for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (is_unsafe(c))
			g_string_append_c(out, ' ');
		else
			g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

static size_t char_width(gunichar c)
{
	if (g_unichar_iszerowidth(c))
		return 0;
	return g_unichar_iswide(c) ? 2 : 1;
}

size_t term_width(const char *s)
{
	size_t w = 0;
	for (const char *p = s; *p; p = g_utf8_next_char(p))
		w += char_width(g_utf8_get_char(p));
	return w;
}

char *term_fit(const char *s, size_t width, int pad)
{
	g_autofree char *clean = term_clean(s);
	GString *out = g_string_new(NULL);
	size_t w = 0;
	if (term_width(clean) <= width) {
		g_string_append(out, clean);
		w = term_width(clean);
	} else if (width > 0) {
		for (const char *p = clean; *p; p = g_utf8_next_char(p)) {
			gunichar c = g_utf8_get_char(p);
			size_t cw = char_width(c);
			if (w + cw > width - 1)
				break;
			g_string_append_unichar(out, c);
			w += cw;
		}
		g_string_append(out, "\u2026");
		w++;
	}
	while (pad && w < width) {
		g_string_append_c(out, ' ');
		w++;
	}
	return g_string_free(out, FALSE);
}

/* Appends WORD (of display width W) to OUT, where the current line holds
 * *COL columns; breaks the line first when the word does not fit. */
static void wrap_word(GString *out, const char *word, size_t len, size_t w, size_t width, size_t indent, size_t *col)
{
	size_t room = width > indent ? width - indent : 1;
	if (*col > indent && *col + 1 + w > width) {
		g_string_append_c(out, '\n');
		for (size_t i = 0; i < indent; i++)
			g_string_append_c(out, ' ');
		*col = indent;
	} else if (*col > indent) {
		g_string_append_c(out, ' ');
		(*col)++;
	}
	for (const char *p = word; p < word + len; p = g_utf8_next_char(p)) {
		size_t cw = char_width(g_utf8_get_char(p));
		if (*col + cw > width && *col > indent && w > room) {
			g_string_append_c(out, '\n');
			for (size_t i = 0; i < indent; i++)
				g_string_append_c(out, ' ');
			*col = indent;
		}
		g_string_append_len(out, p, g_utf8_next_char(p) - p);
		*col += cw;
	}
}

char *term_wrap(const char *s, size_t width, size_t indent)
{
	g_autofree char *clean = term_clean(s);
	GString *out = g_string_new(NULL);
	size_t col = indent;
	const char *p = clean;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *end = p;
		size_t w = 0;
		while (*end && *end != ' ') {
			w += char_width(g_utf8_get_char(end));
			end = g_utf8_next_char(end);
		}
		wrap_word(out, p, (size_t)(end - p), w, width, indent, &col);
		p = end;
	}
	return g_string_free(out, FALSE);
}

static int is_device_name(const char *name)
{
	static const char *const devices[] = { "con", "prn", "aux", "nul", "clock$", "conin$", "conout$" };
	g_autofree char *lower = g_ascii_strdown(name, -1);
	char *dot = strchr(lower, '.');
	if (dot)
		*dot = '\0';
	g_strchomp(lower);
	for (size_t i = 0; i < G_N_ELEMENTS(devices); i++)
		if (!strcmp(lower, devices[i]))
			return 1;
	if ((g_str_has_prefix(lower, "com") || g_str_has_prefix(lower, "lpt")) && strlen(lower) == 4 &&
	    g_ascii_isdigit(lower[3]))
		return 1;
	return 0;
}

char *term_safe_filename(const char *name, const char *fallback)
{
	g_autofree char *clean = term_clean(name ? name : "");
	/* Only the last path component of either flavour counts. */
	const char *base = clean;
	for (const char *p = clean; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	GString *out = g_string_new(NULL);
	for (const char *p = base; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x80 && strchr("<>:\"|?*", (int)c))
			g_string_append_c(out, '_');
		else
			g_string_append_unichar(out, c);
	}
	/* No leading dots, dashes or spaces; no trailing dots or spaces. */
	size_t lead = strspn(out->str, ". -");
	g_string_erase(out, 0, (gssize)lead);
	while (out->len && (out->str[out->len - 1] == '.' || out->str[out->len - 1] == ' '))
		g_string_truncate(out, out->len - 1);
	if (out->len > 180) {
		const char *ext = strrchr(out->str, '.');
		g_autofree char *keep_ext = ext && strlen(ext) <= 16 ? g_strdup(ext) : g_strdup("");
		const char *cut = out->str + 180 - strlen(keep_ext);
		while (cut > out->str && (((unsigned char)*cut & 0xC0) == 0x80))
			cut--;
		g_string_truncate(out, (gsize)(cut - out->str));
		g_string_append(out, keep_ext);
	}
	if (out->len == 0) {
		g_string_free(out, TRUE);
		return g_strdup(fallback);
	}
	if (is_device_name(out->str))
		g_string_prepend_c(out, '_');
	return g_string_free(out, FALSE);
}
