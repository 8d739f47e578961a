#include "rules.h"

#include <string.h>
#include <glib.h>

static const char *const reply_prefixes[] = {
	"re", "sv", "vs", "fwd", "fw", "aw", "wg", "tr", "antw", "odp", "rv", "vb",
};

/* Opening and closing characters trimmed around the subject and applicant. */
static const gunichar quote_chars[] = { '"', 0x201C, 0x201D, 0x201E, 0x00AB, 0x00BB, '\'' };
static const gunichar separator_chars[] = { '-', 0x2013, 0x2014, ':', ',', ';', '/' };

static bool in_set(gunichar c, const gunichar *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == c)
			return true;
	return false;
}

static const char *skip_space(const char *p)
{
	while (*p && g_unichar_isspace(g_utf8_get_char(p)))
		p = g_utf8_next_char(p);
	return p;
}

/* "Re:", "RE :", "Re[2]:", "SV: " … at P: returns what follows, or NULL. */
static const char *skip_reply_prefix(const char *p)
{
	for (size_t i = 0; i < G_N_ELEMENTS(reply_prefixes); i++) {
		size_t n = strlen(reply_prefixes[i]);
		if (g_ascii_strncasecmp(p, reply_prefixes[i], n) != 0)
			continue;
		const char *q = p + n;
		if (*q == '[' || *q == '(') {
			char close = *q == '[' ? ']' : ')';
			q++;
			while (g_ascii_isdigit(*q))
				q++;
			if (*q != close)
				continue;
			q++;
		}
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == ':')
			return skip_space(q + 1);
		if (g_str_has_prefix(q, "\xEF\xBC\x9A")) /* fullwidth colon */
			return skip_space(q + 3);
	}
	return NULL;
}

/* A leading tag such as "[EKSTERN] " or "[External]" added by a gateway. */
static const char *skip_tag(const char *p)
{
	if (*p != '[')
		return NULL;
	const char *end = strchr(p, ']');
	if (!end || end - p > 24 || end - p < 2)
		return NULL;
	for (const char *q = p + 1; q < end; q++)
		if (!g_ascii_isalpha(*q) && *q != ' ' && *q != '-')
			return NULL;
	return skip_space(end + 1);
}

/* Strips reply prefixes, gateway tags and opening quotes, in any order. */
static const char *strip_leading(const char *p)
{
	p = skip_space(p);
	for (;;) {
		const char *q;
		if ((q = skip_reply_prefix(p)) || (q = skip_tag(p))) {
			p = q;
			continue;
		}
		gunichar c = g_utf8_get_char(p);
		if (c && in_set(c, quote_chars, G_N_ELEMENTS(quote_chars))) {
			p = skip_space(g_utf8_next_char(p));
			continue;
		}
		return p;
	}
}

static char *valid_nfc(const char *s)
{
	g_autofree char *valid = g_utf8_make_valid(s ? s : "", -1);
	char *nfc = g_utf8_normalize(valid, -1, G_NORMALIZE_NFC);
	return nfc ? nfc : g_strdup(valid);
}

/* Case-folds and collapses whitespace of S (already NFC). */
static char *fold_collapse(const char *s)
{
	GString *out = g_string_new(NULL);
	bool space = false;
	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_isspace(c) || c == 0xA0) {
			space = out->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(out, ' ');
		space = false;
		g_autofree char *f = g_utf8_casefold(p, g_utf8_next_char(p) - p);
		g_string_append(out, f);
	}
	return g_string_free(out, FALSE);
}

char *rules_normalize_subject(const char *subject)
{
	g_autofree char *nfc = valid_nfc(subject);
	g_autofree char *folded = fold_collapse(strip_leading(nfc));
	/* Trailing closing quotes belong to the surrounding-quote pair. */
	size_t len = strlen(folded);
	while (len > 0) {
		const char *last = g_utf8_find_prev_char(folded, folded + len);
		gunichar c = g_utf8_get_char(last);
		if (!in_set(c, quote_chars, G_N_ELEMENTS(quote_chars)) && !g_unichar_isspace(c))
			break;
		len = (size_t)(last - folded);
	}
	folded[len] = '\0';
	return g_steal_pointer(&folded);
}

static bool is_trimmed(gunichar c)
{
	return g_unichar_isspace(c) || c == 0xA0 || in_set(c, separator_chars, G_N_ELEMENTS(separator_chars)) ||
	       in_set(c, quote_chars, G_N_ELEMENTS(quote_chars));
}

static bool brackets_balanced(const char *start, const char *end)
{
	int depth = 0;
	for (const char *p = start; p < end; p++) {
		if (*p == '(' || *p == '[')
			depth++;
		else if ((*p == ')' || *p == ']') && --depth < 0)
			return false;
	}
	return depth == 0;
}

/* The applicant: separators and quotes trimmed from both ends; an
 * enclosing pair of brackets "(…)" removed, or a lone unmatched bracket at
 * either end, but never the closing bracket of "Region X (Psykiatrien)". */
static char *trim_applicant(const char *s)
{
	const char *start = s;
	const char *end = s + strlen(s);
	for (;;) {
		while (*start && is_trimmed(g_utf8_get_char(start)))
			start = g_utf8_next_char(start);
		while (end > start && is_trimmed(g_utf8_get_char(g_utf8_find_prev_char(start, end))))
			end = g_utf8_find_prev_char(start, end);
		if (end <= start)
			return NULL;
		bool open = *start == '(' || *start == '[';
		bool close = end[-1] == ')' || end[-1] == ']';
		if (open && close && end - start >= 2 && brackets_balanced(start + 1, end - 1)) {
			start++;
			end--;
		} else if (open && !brackets_balanced(start, end) && brackets_balanced(start + 1, end)) {
			start++;
		} else if (close && !brackets_balanced(start, end) && brackets_balanced(start, end - 1)) {
			end--;
		} else {
			break;
		}
	}
	/* Collapse inner whitespace; drop control characters. */
	GString *out = g_string_new(NULL);
	bool space = false;
	for (const char *p = start; p < end; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_isspace(c) || c == 0xA0) {
			space = true;
			continue;
		}
		if (g_unichar_iscntrl(c))
			continue;
		if (space && out->len)
			g_string_append_c(out, ' ');
		space = false;
		g_string_append_unichar(out, c);
	}
	if (out->len == 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

bool rules_subject_match(const char *subject, const char *call_subject, char **applicant)
{
	if (applicant)
		*applicant = NULL;
	if (!subject || !call_subject)
		return false;
	g_autofree char *pattern = rules_normalize_subject(call_subject);
	if (!*pattern)
		return false;
	g_autofree char *nfc = valid_nfc(subject);
	const char *p = strip_leading(nfc);
	size_t pi = 0, plen = strlen(pattern);

	/* Walk the original text, folding as rules_normalize_subject would, so
	 * that the end of the match is known in the original. */
	while (pi < plen) {
		if (!*p)
			return false;
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_isspace(c) || c == 0xA0) {
			p = skip_space(g_utf8_next_char(p));
			while (*p && g_utf8_get_char(p) == 0xA0)
				p = skip_space(g_utf8_next_char(p));
			if (pattern[pi] != ' ')
				return false;
			pi++;
			continue;
		}
		g_autofree char *f = g_utf8_casefold(p, g_utf8_next_char(p) - p);
		size_t flen = strlen(f);
		if (flen > plen - pi || memcmp(pattern + pi, f, flen) != 0)
			return false;
		pi += flen;
		p = g_utf8_next_char(p);
	}
	if (*p && g_unichar_isalnum(g_utf8_get_char(p)))
		return false; /* "kompetencerne": not the call's text */
	if (applicant)
		*applicant = trim_applicant(p);
	return true;
}

static void add_reason(struct rules_result *res, char *reason)
{
	if (res->n_reasons < RULES_MAX_REASONS)
		res->reasons[res->n_reasons++] = reason;
	else
		g_free(reason);
}

void rules_classify(const struct rules_call *calls, size_t n_calls,
		    const struct rules_input *in, struct rules_result *out)
{
	memset(out, 0, sizeof(*out));
	out->call = -1;
	out->on_time = -1;

	for (size_t i = 0; i < n_calls && out->call < 0; i++)
		if (rules_subject_match(in->subject, calls[i].subject, &out->applicant))
			out->call = (int)i;

	if (out->call < 0 && !in->subject && (in->flags & RULES_IN_TOO_LARGE)) {
		/* Not even the header could be read: a person must look. */
		out->status = RULES_REVIEW;
		add_reason(out, g_strdup("subject:unknown"));
		add_reason(out, g_strdup("size:too-large"));
	} else if (out->call < 0) {
		out->status = RULES_UNRELATED;
		add_reason(out, g_strdup(in->subject ? "subject:none" : "subject:missing"));
	} else {
		const struct rules_call *c = &calls[out->call];
		add_reason(out, g_strdup("subject:exact"));
		if (!in->has_arrival) {
			add_reason(out, g_strdup("deadline:unknown"));
		} else {
			int64_t delta = in->arrival - c->deadline_last;
			out->on_time = delta <= 0;
			add_reason(out, g_strdup_printf("deadline:%s(%+" G_GINT64_FORMAT "s)",
						       out->on_time ? "on-time" : "late", delta));
		}
		if (in->flags & RULES_IN_TOO_LARGE)
			add_reason(out, g_strdup("size:too-large"));
		if (in->flags & RULES_IN_BROKEN)
			add_reason(out, g_strdup("mime:broken"));
		if (in->n_attachments == 0 && !(in->flags & RULES_IN_TOO_LARGE))
			add_reason(out, g_strdup("attachments:none"));
		else if (in->n_attachments)
			add_reason(out, g_strdup_printf("attachments:%zu", in->n_attachments));

		if (out->on_time == 0)
			out->status = RULES_LATE;
		else if (out->on_time < 0 || (in->flags & (RULES_IN_TOO_LARGE | RULES_IN_BROKEN)) ||
			 in->n_attachments == 0)
			out->status = RULES_REVIEW;
		else
			out->status = RULES_ACCEPTED;
	}
}

void rules_result_clear(struct rules_result *res)
{
	g_free(res->applicant);
	for (size_t i = 0; i < res->n_reasons; i++)
		g_free((char *)res->reasons[i]);
	memset(res, 0, sizeof(*res));
	res->call = -1;
	res->on_time = -1;
}

const char *rules_status_name(enum rules_status status)
{
	switch (status) {
	case RULES_ACCEPTED: return "accepted";
	case RULES_LATE: return "late";
	case RULES_REVIEW: return "review";
	case RULES_UNRELATED: return "unrelated";
	}
	return "review";
}
