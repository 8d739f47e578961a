#include "rules.h"
#include "record.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#define MAX_TOKENS 64 /* subject words looked at: bounded work */
#define MAX_TOKEN_CHARS 64
#define WINDOW_EXTRA 4 /* subject words beyond the call's length in one window */

static const char *const reply_prefixes[] = {
	"re",   "sv",  "vs", "fwd", "fw",         "aw",          "wg",     "tr",
	"antw", "odp", "rv", "vb",  "videresend", "videresendt", "doorst", "ynt",
};

/* Opening and closing characters trimmed around the subject and applicant. */
static const gunichar quote_chars[] = { '"', 0x201C, 0x201D, 0x201E, 0x00AB, 0x00BB, '\'' };
/* Separators trimmed at both ends of an applicant: hyphen-minus, the
 * Unicode hyphens and dashes (U+2010..U+2015), minus (U+2212), bullets. */
static const gunichar separator_chars[] = { '-',    0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015,
					    0x2212, ':',    ',',    ';',    '/',    '.',    '|',
					    '>',    '_',    '~',    '*',    '!',    0x2022, 0x00B7 };

static bool in_set(gunichar c, const gunichar *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == c)
			return true;
	return false;
}

static bool word_in(const char *word, const char *const *set)
{
	for (size_t i = 0; set[i]; i++)
		if (!strcmp(word, set[i]))
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

/* Words that make a leading "[…]" a mail gateway's tag rather than a name. */
static const char *const gateway_words[] = {
	"ekstern",  "eksternt",    "external",  "extern",       "ext",        "spam",     "secure",
	"sikker",   "encrypted",   "krypteret", "suspicious",   "phishing",   "warning",  "caution",
	"advarsel", "mistænkelig", "fortrolig", "confidential", "unverified", "afsender", "sender",
	"email",    "mail",        "post",      NULL,
};

/* A leading tag such as "[EKSTERN] " or "[External]" added by a gateway,
 * or "[Region Hovedstaden]" put there by the sender.  *GATEWAY says which. */
static const char *skip_tag(const char *p, bool *gateway)
{
	if (*p != '[')
		return NULL;
	const char *end = strchr(p, ']');
	if (!end || end - p > 24 || end - p < 2)
		return NULL;
	for (const char *q = p + 1; q < end; q++)
		if (!g_ascii_isalpha(*q) && *q != ' ' && *q != '-')
			return NULL;
	*gateway = false;
	g_autofree char *inner = g_ascii_strdown(p + 1, end - p - 1);
	g_auto(GStrv) words = g_strsplit_set(inner, " -", -1);
	for (size_t i = 0; words[i]; i++)
		if (*words[i] && word_in(words[i], gateway_words))
			*gateway = true;
	return skip_space(end + 1);
}

/* What strip_leading() took away. */
struct leading {
	bool replied;              /* a reply or forward prefix */
	const char *tag, *tag_end; /* the last tag that is not a gateway's, or NULL */
};

/* Strips reply prefixes, gateway tags and opening quotes, in any order. */
static const char *strip_leading_info(const char *p, struct leading *info)
{
	struct leading dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	p = skip_space(p);
	for (;;) {
		const char *q;
		bool gateway = true;
		if ((q = skip_reply_prefix(p))) {
			info->replied = true;
			p = q;
			continue;
		}
		if ((q = skip_tag(p, &gateway))) {
			if (!gateway) {
				info->tag = p + 1;
				info->tag_end = strchr(p, ']');
			}
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

static const char *strip_leading(const char *p)
{
	return strip_leading_info(p, NULL);
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
	       in_set(c, quote_chars, G_N_ELEMENTS(quote_chars)) || g_unichar_type(c) == G_UNICODE_FORMAT ||
	       g_unichar_iscntrl(c);
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
		if (*start == ')' || *start == ']') {
			start++; /* "(Puljeopslag 2022) - X": the call's own bracket */
		} else if (open && close && end - start >= 2 && brackets_balanced(start + 1, end - 1)) {
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
	/* Collapse inner whitespace; drop control and format characters
	 * (bidi overrides); cut an absurdly long name short. */
	GString *out = g_string_new(NULL);
	bool space = false;
	size_t chars = 0;
	for (const char *p = start; p < end; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_isspace(c) || c == 0xA0) {
			space = true;
			continue;
		}
		if (g_unichar_iscntrl(c) || g_unichar_type(c) == G_UNICODE_FORMAT)
			continue;
		if (++chars + (space && out->len) > RULES_APPLICANT_MAX) {
			g_string_append(out, "…");
			break;
		}
		if (space && out->len) {
			g_string_append_c(out, ' ');
			chars++;
		}
		space = false;
		g_string_append_unichar(out, c);
	}
	if (out->len == 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* ---- words ---- */

struct token {
	const char *start, *end; /* in the NFC subject */
	gunichar *folded;        /* case-folded characters */
	glong len;
	bool numeric;
};

struct tokens {
	struct token t[MAX_TOKENS];
	size_t n;
};

static void tokens_clear(struct tokens *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		g_free(ts->t[i].folded);
	ts->n = 0;
}

/* Splits TEXT into words: runs of letters and digits. */
static void tokenize(const char *text, struct tokens *ts)
{
	ts->n = 0;
	const char *p = text;
	while (*p && ts->n < MAX_TOKENS) {
		while (*p && !g_unichar_isalnum(g_utf8_get_char(p)) && !g_unichar_ismark(g_utf8_get_char(p)))
			p = g_utf8_next_char(p);
		if (!*p)
			break;
		const char *start = p;
		bool numeric = true;
		while (*p && (g_unichar_isalnum(g_utf8_get_char(p)) || g_unichar_ismark(g_utf8_get_char(p)))) {
			numeric = numeric && g_unichar_isdigit(g_utf8_get_char(p));
			p = g_utf8_next_char(p);
		}
		g_autofree char *f = g_utf8_casefold(start, p - start);
		struct token *t = &ts->t[ts->n++];
		t->start = start;
		t->end = p;
		t->numeric = numeric;
		t->folded = g_utf8_to_ucs4_fast(f, -1, &t->len);
		if (t->len > MAX_TOKEN_CHARS)
			t->len = MAX_TOKEN_CHARS;
	}
}

static bool token_eq(const struct token *a, const struct token *b)
{
	return a->len == b->len && memcmp(a->folded, b->folded, (size_t)a->len * sizeof(gunichar)) == 0;
}

/* Levenshtein distance over characters; both at most a few hundred. */
static size_t levenshtein(const gunichar *a, size_t na, const gunichar *b, size_t nb)
{
	size_t *prev = g_new(size_t, nb + 1), *cur = g_new(size_t, nb + 1);
	for (size_t j = 0; j <= nb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= na; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = MIN(sub, MIN(del, ins));
		}
		size_t *tmp = prev;
		prev = cur;
		cur = tmp;
	}
	size_t d = prev[nb];
	g_free(prev);
	g_free(cur);
	return d;
}

/* How alike a call word C and a subject word S are, 0..1. */
static double word_similarity(const struct token *c, const struct token *s)
{
	if (token_eq(c, s))
		return 1.0;
	if (c->numeric && s->numeric)
		return 0.5; /* another year */
	if (c->numeric || s->numeric)
		return 0.0;
	if (s->len >= 3 && s->len < c->len && memcmp(c->folded, s->folded, (size_t)s->len * sizeof(gunichar)) == 0)
		return 0.5 + 0.5 * (double)s->len / (double)c->len; /* cut short: "kompet" */
	size_t d = levenshtein(c->folded, (size_t)c->len, s->folded, (size_t)s->len);
	double sim = 1.0 - (double)d / (double)MAX(c->len, s->len);
	return sim < 0 ? 0 : sim;
}

/* Words of TS from FIRST on, joined by single spaces, as characters; at
 * most CAP characters. */
static gunichar *joined(const struct tokens *ts, size_t first, size_t n, size_t cap, size_t *len)
{
	size_t total = 0, end = first;
	for (; end < first + n && end < ts->n && total < cap; end++)
		total += (size_t)ts->t[end].len + 1;
	gunichar *out = g_new(gunichar, total + 1);
	size_t k = 0;
	for (size_t i = first; i < end; i++) {
		if (k)
			out[k++] = ' ';
		memcpy(out + k, ts->t[i].folded, (size_t)ts->t[i].len * sizeof(gunichar));
		k += (size_t)ts->t[i].len;
	}
	*len = MIN(k, cap);
	return out;
}

/* Where in the subject the call's words were found. */
struct span {
	double score;
	bool any;           /* at least one word matched (word score) or the characters did */
	size_t first, last; /* subject words: the first and the last matched */
};

/* Word score of call words [C0, C1): each call word's best unused partner
 * (similarity at least MIN_SIM) among a run of subject words as long as
 * that part of the call plus WINDOW_EXTRA, in any order, weighted by the
 * call word's length.  The run may start at any subject word: the best one
 * counts.  SIM[i * ss->n + j]: call word i against subject word j. */
static void word_window(const struct tokens *cs, size_t c0, size_t c1, const struct tokens *ss, const double *sim,
			double min_sim, struct span *best)
{
	memset(best, 0, sizeof(*best));
	double weight = 0;
	for (size_t i = c0; i < c1; i++)
		weight += (double)cs->t[i].len;
	if (c1 <= c0 || ss->n == 0 || weight <= 0)
		return;
	for (size_t s0 = 0; s0 < ss->n; s0++) {
		size_t s1 = MIN(ss->n, s0 + (c1 - c0) + WINDOW_EXTRA);
		bool used[MAX_TOKENS] = { false };
		double sum = 0;
		bool any = false;
		size_t first = 0, last = 0;
		for (size_t i = c0; i < c1; i++) {
			double b = 0;
			size_t bj = 0;
			for (size_t j = s0; j < s1; j++) {
				if (!used[j] && sim[i * ss->n + j] > b) {
					b = sim[i * ss->n + j];
					bj = j;
				}
			}
			if (b >= min_sim && b > 0) {
				used[bj] = true;
				sum += b * (double)cs->t[i].len;
				first = any ? MIN(first, bj) : bj;
				last = any ? MAX(last, bj) : bj;
				any = true;
			}
		}
		double score = sum / weight;
		if (any && score > best->score) {
			*best = (struct span){ score, true, first, last };
			if (score >= 1.0)
				break;
		}
		if (s1 == ss->n)
			break; /* later runs are part of this one */
	}
}

/* Character score of call words [C0, C1): 1 − the edit distance between
 * them and as many characters of the subject's words from some word on,
 * over their length; the best start counts.  Covers "puljeopslag2022…". */
static void char_window(const struct tokens *cs, size_t c0, size_t c1, const struct tokens *ss, struct span *best)
{
	memset(best, 0, sizeof(*best));
	size_t clen = 0;
	if (c1 <= c0 || ss->n == 0)
		return;
	g_autofree gunichar *cj = joined(cs, c0, c1 - c0, SIZE_MAX, &clen);
	if (!clen)
		return;
	for (size_t s0 = 0; s0 < ss->n; s0++) {
		size_t slen = 0;
		g_autofree gunichar *sj = joined(ss, s0, ss->n - s0, clen, &slen);
		double score = 1.0 - (double)levenshtein(cj, clen, sj, slen) / (double)clen;
		if (score > best->score) {
			/* The applicant follows the words the compared characters cover. */
			size_t k = 0, last;
			for (last = s0; last < ss->n; last++) {
				k += (size_t)ss->t[last].len + (last > s0 ? 1 : 0);
				if (k >= clen)
					break;
			}
			*best = (struct span){ score, true, s0, MIN(last, ss->n - 1) };
		}
	}
}

/* ---- the applicant ---- */

/* Words that, on their own, say something about the message and not who
 * sends it: "- ansøgning", "(rettet)", "- version 2", "[1/2]", "bilag 2 af 3". */
static const char *const qualifier_words[] = {
	"ansøgning",
	"ansøgningen",
	"ansøgninger",
	"ansøgningsskema",
	"ansøgningsskemaet",
	"ansogning",
	"ansoegning",
	"ansøgningsmateriale",
	"puljeansøgning",
	"application",
	"applications",
	"form",
	"skema",
	"bilag",
	"bilagene",
	"vedhæftet",
	"vedhæftede",
	"vedlagt",
	"attached",
	"attachment",
	"attachments",
	"rettet",
	"rettelse",
	"rettede",
	"korrigeret",
	"korrektur",
	"opdateret",
	"opdatering",
	"revideret",
	"revision",
	"version",
	"ver",
	"ny",
	"nyt",
	"nye",
	"endelig",
	"endelige",
	"final",
	"updated",
	"update",
	"corrected",
	"revised",
	"new",
	"ekstern",
	"external",
	"extern",
	"med",
	"underskrift",
	"underskrevet",
	"signed",
	"signeret",
	"af",
	"of",
	"del",
	"part",
	"genfremsendt",
	"genfremsendelse",
	"genfremsendes",
	"eftersendt",
	"eftersendes",
	"kopi",
	"copy",
	"hermed",
	"fremsendes",
	"fremsender",
	"fremsendt",
	"vores",
	"vor",
	"our",
	NULL,
};
/* Words that never stand before the call in an applicant's name. */
static const char *const preamble_words[] = {
	"kvittering",
	"invitation",
	"accepteret",
	"accepted",
	"spørgsmål",
	"spm",
	"question",
	"automatisk",
	"automatic",
	"svar",
	"reply",
	"autosvar",
	"undeliverable",
	"sagsnr",
	"sag",
	"nr",
	"ref",
	"journalnr",
	"fraværende",
	"office",
	"læst",
	"read",
	"leveret",
	"delivered",
	"pool",
	"notice",
	"grant",
	"call",
	"tilsagn",
	"afslag",
	"nyhedsbrev",
	"newsletter",
	"pulje",
	"puljen",
	"puljeopslag",
	"vedr",
	"vedrørende",
	"regarding",
	"re",
	"fwd",
	"sv",
	"vs",
	"ferie",
	"abwesend",
	"abwesenheitsnotiz",
	"automatische",
	"antwort",
	"réponse",
	"automatique",
	"frånvaro",
	"fraværsmeddelelse",
	"auto",
	"autoreply",
	"response",
	"autoresponse",
	"ikke",
	"stede",
	"leveres",
	"levering",
	"mislykkedes",
	"forsinket",
	"delivery",
	"delayed",
	"unzustellbar",
	"remis",
	"return",
	"receipt",
	"displayed",
	"afrapportering",
	"rapport",
	"tilsagnsbrev",
	"påmindelse",
	"reminder",
	"status",
	NULL,
};
/* Words that join a name to the call: "Ansøgning fra X til Puljeopslag …". */
static const char *const connector_words[] = {
	"til", "to", "for", "vedr", "vedrørende", "om", "regarding", "about", "re", "angående", "ang", NULL,
};

/* The words of S[0..LEN), case-folded. */
static GPtrArray *folded_words(const char *s, size_t len)
{
	GPtrArray *w = g_ptr_array_new_with_free_func(g_free);
	const char *end = s + len;
	const char *p = s;
	while (p < end) {
		while (p < end && !g_unichar_isalnum(g_utf8_get_char(p)) && !g_unichar_ismark(g_utf8_get_char(p)))
			p = g_utf8_next_char(p);
		if (p >= end)
			break;
		const char *start = p;
		while (p < end && (g_unichar_isalnum(g_utf8_get_char(p)) || g_unichar_ismark(g_utf8_get_char(p))))
			p = g_utf8_next_char(p);
		g_autofree char *nfc = g_utf8_normalize(start, p - start, G_NORMALIZE_NFC);
		g_ptr_array_add(w, g_utf8_casefold(nfc ? nfc : "", -1));
	}
	return w;
}

static bool is_qualifier(const char *w)
{
	if (word_in(w, qualifier_words))
		return true;
	const char *p = w + (w[0] == 'v' && w[1]);
	while (g_ascii_isdigit(*p))
		p++;
	return *p == '\0'; /* a number, "v2" */
}

/* S[0..LEN) says nothing about who sends it (no words at all counts too). */
static bool only_qualifiers(const char *s, size_t len)
{
	g_autoptr(GPtrArray) w = folded_words(s, len);
	for (guint i = 0; i < w->len; i++)
		if (!is_qualifier(g_ptr_array_index(w, i)))
			return false;
	return true;
}

static bool any_word_in(const char *s, size_t len, const char *const *set)
{
	g_autoptr(GPtrArray) w = folded_words(s, len);
	for (guint i = 0; i < w->len; i++)
		if (word_in(g_ptr_array_index(w, i), set))
			return true;
	return false;
}

static bool is_sep_char(gunichar c)
{
	return in_set(c, separator_chars, G_N_ELEMENTS(separator_chars)) && c != '.' && c != '!' && c != '*';
}

/* Top-level separators in S[B..E): a run of separator characters with
 * space on both sides (" - ", " – ", " | ", " >> "), or ",", ":", ";"
 * followed by a space; never inside brackets.  Fills RUNS with byte pairs
 * (start, end) including the surrounding space. */
static size_t find_separators(const char *s, size_t b, size_t e, size_t runs[][2], size_t max)
{
	size_t n = 0;
	int depth = 0;
	const char *end = s + e;
	for (const char *p = s + b; p < end && n < max;) {
		gunichar c = g_utf8_get_char(p);
		if (c == '(' || c == '[') {
			depth++;
		} else if ((c == ')' || c == ']') && depth > 0) {
			depth--;
		} else if (depth == 0 && is_sep_char(c)) {
			const char *q = p;
			while (q < end && is_sep_char(g_utf8_get_char(q)))
				q = g_utf8_next_char(q);
			bool space_before = p == s + b || g_unichar_isspace(g_utf8_get_char(g_utf8_prev_char(p)));
			bool space_after = q == end || g_unichar_isspace(g_utf8_get_char(q));
			bool punct = c == ',' || c == ':' || c == ';';
			if (space_after && (space_before || punct)) {
				const char *rs = p, *re = q;
				while (rs > s + b && g_unichar_isspace(g_utf8_get_char(g_utf8_prev_char(rs))))
					rs = g_utf8_prev_char(rs);
				while (re < end && g_unichar_isspace(g_utf8_get_char(re)))
					re = g_utf8_next_char(re);
				runs[n][0] = (size_t)(rs - s);
				runs[n][1] = (size_t)(re - s);
				n++;
			}
			p = q;
			continue;
		}
		p = g_utf8_next_char(p);
	}
	return n;
}

/* The bracket that closes the one opening at S[B] within S[B..E), or E. */
static size_t matching_bracket(const char *s, size_t b, size_t e)
{
	int depth = 0;
	for (size_t i = b; i < e; i++) {
		if (s[i] == '(' || s[i] == '[')
			depth++;
		else if ((s[i] == ')' || s[i] == ']') && --depth == 0)
			return i;
	}
	return e;
}

static bool starts_with_words(const char *s, size_t b, size_t e, const char *const *first, const char *const *second,
			      size_t *after)
{
	g_autoptr(GPtrArray) w = folded_words(s + b, e - b);
	if (w->len < (second ? 2u : 1u) || !word_in(g_ptr_array_index(w, 0), first) ||
	    (second && !word_in(g_ptr_array_index(w, 1), second)))
		return false;
	/* Skip as many words in the text. */
	const char *p = s + b, *end = s + e;
	for (int k = 0; k < (second ? 2 : 1); k++) {
		while (p < end && !g_unichar_isalnum(g_utf8_get_char(p)))
			p = g_utf8_next_char(p);
		while (p < end && (g_unichar_isalnum(g_utf8_get_char(p)) || g_unichar_ismark(g_utf8_get_char(p))))
			p = g_utf8_next_char(p);
	}
	*after = (size_t)(p - s);
	return true;
}

static void trim_range(const char *s, size_t *b, size_t *e)
{
	while (*b < *e && is_trimmed(g_utf8_get_char(s + *b)))
		*b = (size_t)(g_utf8_next_char(s + *b) - s);
	while (*e > *b && is_trimmed(g_utf8_get_char(g_utf8_find_prev_char(s + *b, s + *e))))
		*e = (size_t)(g_utf8_find_prev_char(s + *b, s + *e) - s);
}

/* An applicant's name from text beside the call: "Ansøgning fra X" and
 * "application from X" are X; leading and trailing parts that only
 * qualify the message ("ansøgning – X", "X (rettet)", "X - version 2",
 * "X [1/2]", "X [EKSTERN]") go, and so does a reply that follows
 * ("X - SV: mangler bilag").  NULL when nothing names anyone. */
static char *clean_name(const char *s)
{
	static const char *const appl[] = { "ansøgning", "ansogning", "ansoegning", "application", NULL };
	static const char *const from[] = { "fra", "from", NULL };
	size_t b = 0, e = strlen(s);
	for (int round = 0; round < 16; round++) {
		trim_range(s, &b, &e);
		if (b >= e)
			return NULL;
		size_t runs[16][2];
		size_t n = find_separators(s, b, e, runs, G_N_ELEMENTS(runs));
		size_t at;
		bool changed = false;
		if (starts_with_words(s, b, e, appl, from, &at) || starts_with_words(s, b, e, from, NULL, &at)) {
			b = at;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (skip_reply_prefix(s + runs[i][1])) {
				e = runs[i][0];
				changed = true;
				break;
			}
		}
		if (changed)
			continue;
		if (n && only_qualifiers(s + b, runs[0][0] - b)) {
			b = runs[0][1];
			continue;
		}
		if (n && only_qualifiers(s + runs[n - 1][1], e - runs[n - 1][1])) {
			e = runs[n - 1][0];
			continue;
		}
		if (s[b] == '(' || s[b] == '[') {
			size_t close = matching_bracket(s, b, e);
			if (close < e && close + 1 < e && only_qualifiers(s + b + 1, close - b - 1)) {
				b = close + 1;
				continue;
			}
		}
		if (s[e - 1] == ')' || s[e - 1] == ']') {
			/* the opening bracket of a trailing group */
			int depth = 0;
			size_t open = e;
			for (size_t i = e; i-- > b;) {
				if (s[i] == ')' || s[i] == ']')
					depth++;
				else if ((s[i] == '(' || s[i] == '[') && --depth == 0) {
					open = i;
					break;
				}
			}
			if (open > b && open < e && only_qualifiers(s + open + 1, e - open - 2)) {
				e = open;
				continue;
			}
		}
		if (only_qualifiers(s + b, e - b))
			return NULL;
		/* A trailing version word: "Vejle Kommune v2". */
		size_t w = e;
		while (w > b && g_ascii_isdigit(s[w - 1]))
			w--;
		if (w < e && w >= b + 2 && (s[w - 1] == 'v' || s[w - 1] == 'V') && s[w - 2] == ' ') {
			e = w - 2;
			continue;
		}
		break;
	}
	g_autofree char *part = g_strndup(s + b, e - b);
	return trim_applicant(part);
}

/* The applicant from the text after the call's last word.  When that text
 * goes on in lower case ("… kompetencer i sundhedsvæsenet - Region
 * Sjælland") it continues the call's name: the part up to the first
 * separator is dropped, and with no separator nothing names anyone —
 * unless the subject has no capitals at all (then case says nothing). */
static char *name_after(const char *after, bool case_used)
{
	static const char *const from[] = { "fra", "from", NULL };
	const char *p = skip_space(after);
	size_t at;
	if (p != after && starts_with_words(p, 0, strlen(p), from, NULL, &at))
		return clean_name(p + at);
	if (p != after && case_used && g_unichar_islower(g_utf8_get_char(p))) {
		size_t runs[1][2];
		if (find_separators(p, 0, strlen(p), runs, 1) == 0)
			return NULL;
		return clean_name(p + runs[0][1]);
	}
	return clean_name(after);
}

/* The applicant from the text before the call ("Region Midtjylland -
 * Puljeopslag …", "Ansøgning fra X til Puljeopslag …", "Danske Patienter
 * – ansøgning til …"): connectors at its end go; text that reads as a
 * preamble ("Rettelse:", "Kvittering:", "Sagsnr. 22/01234 -") names no one. */
static char *name_before(const char *before)
{
	g_autofree char *s = g_strdup(before);
	for (int round = 0; round < 8; round++) {
		size_t b = 0, e = strlen(s);
		trim_range(s, &b, &e);
		s[e] = '\0';
		const char *last = s + e;
		while (last > s + b && (g_unichar_isalnum(g_utf8_get_char(g_utf8_prev_char(last))) ||
					g_unichar_ismark(g_utf8_get_char(g_utf8_prev_char(last)))))
			last = g_utf8_prev_char(last);
		g_autofree char *nfc = g_utf8_normalize(last, -1, G_NORMALIZE_NFC);
		g_autofree char *w = g_utf8_casefold(nfc ? nfc : "", -1);
		if (!*w || !word_in(w, connector_words))
			break;
		*(char *)last = '\0';
	}
	char *name = clean_name(s);
	if (name &&
	    (any_word_in(name, strlen(name), preamble_words) || any_word_in(name, strlen(name), qualifier_words))) {
		g_free(name);
		return NULL;
	}
	return name;
}

/* For a subject that matches no call: the part after its last dash
 * (" - ", " – ", " — "), "Application: … - University of Copenhagen". */
static char *name_last_dash(const char *text)
{
	size_t runs[32][2];
	size_t n = find_separators(text, 0, strlen(text), runs, G_N_ELEMENTS(runs));
	while (n-- > 0) {
		gunichar c = g_utf8_get_char(skip_space(text + runs[n][0]));
		if (c == '-' || (c >= 0x2010 && c <= 0x2015) || c == 0x2212)
			return clean_name(text + runs[n][1]);
	}
	return NULL;
}

static bool has_upper(const char *s)
{
	for (const char *p = s; *p; p = g_utf8_next_char(p))
		if (g_unichar_isupper(g_utf8_get_char(p)))
			return true;
	return false;
}

static double setting(double v, double def)
{
	return v > 0 ? v : def;
}

static struct rules_settings resolve_settings(const struct rules_settings *in)
{
	struct rules_settings s = { RULES_DEFAULT_FUZZY_THRESHOLD, RULES_DEFAULT_WORD_SIMILARITY,
				    RULES_DEFAULT_TITLE_THRESHOLD };
	if (in) {
		s.fuzzy_threshold = setting(in->fuzzy_threshold, s.fuzzy_threshold);
		s.word_similarity = setting(in->word_similarity, s.word_similarity);
		s.title_threshold = setting(in->title_threshold, s.title_threshold);
	}
	return s;
}

void rules_subject_result_clear(struct rules_subject_result *r)
{
	g_free(r->applicant);
	g_free(r->remainder);
	memset(r, 0, sizeof(*r));
}

enum rules_match rules_subject_match_full(const char *subject, const char *call_subject,
					  const struct rules_settings *settings, struct rules_subject_result *out)
{
	struct rules_settings set = resolve_settings(settings);
	struct tokens cs = { 0 }, ss = { 0 };
	g_autofree double *sim = NULL;
	struct span span = { 0 };
	enum rules_match match = RULES_MATCH_NONE;
	double score = 0;
	bool partial = false;

	memset(out, 0, sizeof(*out));
	if (!subject || !call_subject)
		return RULES_MATCH_NONE;
	g_autofree char *call_nfc = valid_nfc(call_subject);
	g_autofree char *nfc = valid_nfc(subject);
	struct leading lead;
	const char *text = strip_leading_info(nfc, &lead);
	const char *call_text = strip_leading(call_nfc);
	tokenize(call_text, &cs);
	tokenize(text, &ss);
	out->call_words = cs.n;
	if (cs.n == 0 || ss.n == 0)
		goto out;

	/* Exact: the subject's first words are the call's words. */
	bool exact = ss.n >= cs.n;
	for (size_t i = 0; exact && i < cs.n; i++)
		exact = token_eq(&cs.t[i], &ss.t[i]);
	if (exact) {
		match = RULES_MATCH_EXACT;
		score = 1.0;
		span = (struct span){ 1.0, true, 0, cs.n - 1 };
		goto out;
	}

	sim = g_new(double, cs.n *ss.n);
	for (size_t i = 0; i < cs.n; i++)
		for (size_t j = 0; j < ss.n; j++)
			sim[i * ss.n + j] = word_similarity(&cs.t[i], &ss.t[j]);

	/* The whole call, anywhere in the subject. */
	struct span words, chars;
	word_window(&cs, 0, cs.n, &ss, sim, set.word_similarity, &words);
	char_window(&cs, 0, cs.n, &ss, &chars);
	score = MAX(words.score, chars.score);
	if (words.any && score >= set.fuzzy_threshold) {
		match = RULES_MATCH_FUZZY;
		span = words;
	} else if (!words.any && chars.score >= set.fuzzy_threshold) {
		match = RULES_MATCH_FUZZY;
		span = chars;
	}

	/* The call's title (after its first colon) on its own: "Styrkelse af
	 * digitale kompetencer - Region Sjælland", "Ansøgning til puljen …". */
	const char *colon = strchr(call_text, ':');
	size_t k = 0;
	while (colon && k < cs.n && cs.t[k].start < colon)
		k++;
	if (match == RULES_MATCH_NONE && colon && k > 0 && k < cs.n) {
		struct span tw, tc;
		word_window(&cs, k, cs.n, &ss, sim, set.word_similarity, &tw);
		char_window(&cs, k, cs.n, &ss, &tc);
		double tscore = MAX(tw.score, tc.score);
		double all = 0, part = 0;
		for (size_t i = 0; i < cs.n; i++) {
			all += (double)cs.t[i].len;
			if (i >= k)
				part += (double)cs.t[i].len;
		}
		/* Honest: the share of the whole call that the title matched. */
		score = MAX(score, all > 0 ? tscore * part / all : 0);
		if (tscore >= set.title_threshold && (tw.any || tc.any)) {
			match = RULES_MATCH_FUZZY;
			partial = true;
			span = tw.any && tw.score >= tc.score ? tw : tc;
		}
	}
out:
	if (match != RULES_MATCH_NONE) {
		g_autofree char *before = g_strndup(text, (size_t)(ss.t[span.first].start - text));
		size_t bb = 0, be = strlen(before);
		trim_range(before, &bb, &be);
		if (bb >= be && lead.tag) {
			g_free(before);
			before = g_strndup(lead.tag, (size_t)(lead.tag_end - lead.tag));
		}
		const char *after = ss.t[span.last].end;
		out->applicant = name_after(after, has_upper(nfc));
		if (!out->applicant) {
			out->applicant = name_before(before);
			out->applicant_before = out->applicant != NULL;
		}
		out->remainder = g_strconcat(before, " ", after, NULL);
	} else {
		out->remainder = g_strdup(text);
	}
	out->match = match;
	out->score = score;
	out->partial = partial;
	tokens_clear(&cs);
	tokens_clear(&ss);
	return match;
}

char *rules_subject_typo(const char *subject, const char *call_subject, const struct rules_settings *settings)
{
	struct rules_settings set = resolve_settings(settings);
	struct tokens cs = { 0 }, ss = { 0 };
	char *typo = NULL;
	if (!subject || !call_subject)
		return NULL;
	g_autofree char *call_nfc = valid_nfc(call_subject);
	g_autofree char *nfc = valid_nfc(subject);
	tokenize(strip_leading(call_nfc), &cs);
	tokenize(strip_leading(nfc), &ss);
	for (size_t j = 0; !typo && j < ss.n; j++) {
		const struct token *s = &ss.t[j];
		bool equal = false, alike = false;
		for (size_t i = 0; !equal && i < cs.n; i++) {
			const struct token *c = &cs.t[i];
			equal = token_eq(c, s);
			bool cut = s->len < c->len && !memcmp(c->folded, s->folded, (size_t)s->len * sizeof(gunichar));
			alike = alike ||
				(!s->numeric && !c->numeric && !cut && word_similarity(c, s) >= set.word_similarity);
		}
		if (!equal && alike)
			typo = g_strndup(s->start, (size_t)(s->end - s->start));
	}
	tokens_clear(&cs);
	tokens_clear(&ss);
	return typo;
}

enum rules_match rules_subject_match(const char *subject, const char *call_subject, double threshold, double *score_out,
				     char **applicant)
{
	struct rules_settings set = { threshold, 0, 0 };
	struct rules_subject_result r;
	enum rules_match m = rules_subject_match_full(subject, call_subject, &set, &r);
	if (score_out)
		*score_out = r.score;
	if (applicant)
		*applicant = m != RULES_MATCH_NONE ? g_steal_pointer(&r.applicant) : NULL;
	rules_subject_result_clear(&r);
	return m;
}

/* ---- kinds ---- */

static bool starts_with_any(const char *folded, const char *const *prefixes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g_str_has_prefix(folded, prefixes[i]))
			return true;
	return false;
}

static bool contains_any(const char *folded, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(folded, words[i]))
			return true;
	return false;
}

static const char *const auto_prefixes[] = {
	"automatisk svar",
	"autosvar",
	"auto-svar",
	"out of office",
	"automatic reply",
	"autoreply",
	"auto-reply",
	"auto:",
	"fraværende",
	"ikke til stede",
	"abwesenheitsnotiz",
	"automatische antwort",
	"réponse automatique",
	"frånvaro",
	"fravær",
	"auto reply",
	"auto response",
	"autoresponse",
	"abwesend",
};
static const char *const report_prefixes[] = {
	"undeliverable",        "undelivered mail",        "returned mail",       "delivery status notification",
	"mail delivery failed", "delivery failure",        "failure notice",      "kan ikke leveres",
	"ikke leveret",         "levering mislykkedes",    "unzustellbar",        "non remis",
	"mail delivery system", "mail delivery subsystem", "delivery has failed", "message not delivered",
	"delivery delayed",     "forsinket levering",
};
static const char *const question_words[] = {
	"spørgsmål", "question", "forespørgsel", "spm.", "henvendelse vedr",
};

/* Words at word boundaries in the subject's text outside the call: a
 * question ("?" counts too), or other mail about the call. */
static const char *const question_remainder_words[] = {
	"spørgsmål", "spørgsmaal", "sporgsmal", "sporgsmaal", "spoergsmaal",  "spoergsmål",
	"spm",       "query",      "queries",   "inquiry",    "enquiry",      "hvornår",
	"hvornaar",  "hvornar",    "question",  "questions",  "forespørgsel", NULL,
};
static const char *const other_remainder_words[] = {
	"kvittering",       "tilsagn",  "tilsagnsbrev", "afslag",  "nyhedsbrev", "newsletter",
	"informationsmøde", "infomøde", "invitation",   "webinar", "receipt",    NULL,
};

struct kind_info {
	enum rules_kind kind;
	bool strong;          /* an automatic reply, a bounce or list mail: never an application */
	const char *reply_to; /* a person's reply to one: "auto-reply", "delivery-report" */
};

static void message_kind(const char *subject, unsigned hints, struct kind_info *ki)
{
	g_autofree char *nfc = valid_nfc(subject);
	struct leading lead;
	g_autofree char *folded = fold_collapse(strip_leading_info(nfc, &lead));
	bool report_prefix = starts_with_any(folded, report_prefixes, G_N_ELEMENTS(report_prefixes));
	bool auto_prefix = starts_with_any(folded, auto_prefixes, G_N_ELEMENTS(auto_prefixes));
	/* "SV: Automatisk svar: …", "Fwd: Undeliverable: …" without any
	 * automatic-mail header: a person replying to (or forwarding) one. */
	bool person = lead.replied && !(hints & (RULES_HINT_AUTO_SUBMITTED | RULES_HINT_AUTOREPLY |
						 RULES_HINT_PRECEDENCE_AUTO | RULES_HINT_REPORT | RULES_HINT_BOUNCE));
	memset(ki, 0, sizeof(*ki));
	if ((hints & (RULES_HINT_REPORT | RULES_HINT_BOUNCE)) || (report_prefix && !person)) {
		ki->kind = RULES_KIND_DELIVERY_REPORT;
		ki->strong = true;
	} else if ((hints & (RULES_HINT_AUTOREPLY | RULES_HINT_PRECEDENCE_AUTO)) || (auto_prefix && !person)) {
		ki->kind = RULES_KIND_AUTO_REPLY;
		ki->strong = true;
	} else if (hints & RULES_HINT_AUTO_SUBMITTED) {
		ki->kind = RULES_KIND_AUTO_REPLY; /* weak: generated mail may be an application */
	} else if (hints & (RULES_HINT_LIST | RULES_HINT_PRECEDENCE_BULK | RULES_HINT_BULK_SENDER)) {
		ki->kind = RULES_KIND_LIST;
		/* List mail (a reminder, a newsletter) quoting the call is no
		 * application; a person's reply through the list may be. */
		ki->strong = !lead.replied;
	} else if (hints & RULES_HINT_CALENDAR) {
		ki->kind = RULES_KIND_OTHER;
	} else if (contains_any(folded, question_words, G_N_ELEMENTS(question_words))) {
		ki->kind = RULES_KIND_QUESTION;
	} else {
		ki->kind = RULES_KIND_APPLICATION;
		ki->reply_to = report_prefix ? "delivery-report" : auto_prefix ? "auto-reply" : NULL;
	}
}

enum rules_kind rules_message_kind(const char *subject, unsigned hints)
{
	struct kind_info ki;
	message_kind(subject, hints, &ki);
	return ki.kind;
}

/* Question or other mail about the call, from the subject's text outside
 * the call's words (so that neither the call nor a word inside another
 * word counts); else an application. */
static enum rules_kind remainder_kind(const char *text)
{
	if (!text)
		return RULES_KIND_APPLICATION;
	int depth = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']' && depth > 0)
			depth--;
		else if ((*p == '?' && depth == 0))
			return RULES_KIND_QUESTION; /* not "[SPAM?]" */
	}
	g_autoptr(GPtrArray) w = folded_words(text, strlen(text));
	for (guint i = 0; i < w->len; i++) {
		const char *word = g_ptr_array_index(w, i);
		const char *next = i + 1 < w->len ? g_ptr_array_index(w, i + 1) : "";
		if (word_in(word, question_remainder_words) ||
		    (!strcmp(word, "kan") && (!strcmp(next, "vi") || !strcmp(next, "man"))))
			return RULES_KIND_QUESTION;
	}
	for (guint i = 0; i < w->len; i++) {
		const char *word = g_ptr_array_index(w, i);
		const char *next = i + 1 < w->len ? g_ptr_array_index(w, i + 1) : "";
		if (word_in(word, other_remainder_words) || (!strcmp(word, "info") && !strcmp(next, "møde")))
			return RULES_KIND_OTHER;
	}
	return RULES_KIND_APPLICATION;
}

/* ---- durations ---- */

char *rules_format_delta(int64_t seconds)
{
	char sign = seconds < 0 ? '-' : '+';
	uint64_t s = seconds < 0 ? (uint64_t)(-(seconds + 1)) + 1 : (uint64_t)seconds;
	uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
	if (d)
		return g_strdup_printf("%c%" G_GUINT64_FORMAT "d%" G_GUINT64_FORMAT "h", sign, d, h);
	if (h)
		return g_strdup_printf("%c%" G_GUINT64_FORMAT "h%" G_GUINT64_FORMAT "m", sign, h, m);
	if (m)
		return g_strdup_printf("%c%" G_GUINT64_FORMAT "m%" G_GUINT64_FORMAT "s", sign, m, sec);
	return g_strdup_printf("%c%" G_GUINT64_FORMAT "s", sign, sec);
}

/* ---- the form ---- */

static bool name_says_form(const char *filename)
{
	static const char *const words[] = { "ansøg", "ansog", "ansoeg", "skema", "application", "ansogning" };
	if (!filename)
		return false;
	g_autofree char *nfc = valid_nfc(filename);
	g_autofree char *folded = g_utf8_casefold(nfc, -1);
	return contains_any(folded, words, G_N_ELEMENTS(words));
}

int rules_pick_form(const struct rules_form_candidate *c, size_t n)
{
	int pdfs = 0, docxs = 0, only_pdf = -1, only_docx = -1;
	for (size_t i = 0; i < n; i++)
		if (c[i].is_pdf && c[i].signature_valid)
			return (int)i;
	for (size_t i = 0; i < n; i++)
		if ((c[i].is_pdf || c[i].is_docx) && (c[i].mentions_form || name_says_form(c[i].filename)))
			return (int)i;
	for (size_t i = 0; i < n; i++) {
		if (c[i].is_pdf && pdfs++ == 0)
			only_pdf = (int)i;
		if (c[i].is_docx && docxs++ == 0)
			only_docx = (int)i;
	}
	if (pdfs == 1)
		return only_pdf;
	if (pdfs == 0 && docxs == 1)
		return only_docx;
	if (pdfs > 1)
		return only_pdf; /* several PDFs, none telling: the first */
	return docxs ? only_docx : -1;
}

/* ---- classification ---- */

static void add_reason(struct rules_result *res, char *reason)
{
	if (res->n_reasons < RULES_MAX_REASONS)
		res->reasons[res->n_reasons++] = reason;
	else
		g_free(reason);
}

/* The applicant when the subject names none: the Organization header,
 * else the sender's display name (when it is a name, not an address). */
static char *applicant_from_sender(const struct rules_input *in)
{
	const char *cands[] = { in->organization, in->from_name };
	for (size_t i = 0; i < G_N_ELEMENTS(cands); i++) {
		if (!cands[i] || strchr(cands[i], '@'))
			continue;
		g_autofree char *nfc = valid_nfc(cands[i]);
		char *a = trim_applicant(nfc);
		if (a)
			return a;
	}
	return NULL;
}

static void decide_deadline(const struct rules_call *c, const struct rules_input *in, struct rules_result *out)
{
	int64_t t;
	if (c->basis == RULES_BASIS_DATE_HEADER && in->has_date) {
		t = in->date;
		out->decided_by = RULES_BASIS_DATE_HEADER;
	} else if (c->basis == RULES_BASIS_EDGE && in->has_edge) {
		t = in->edge;
		out->decided_by = RULES_BASIS_EDGE;
	} else if (in->has_arrival) {
		t = in->arrival;
		out->decided_by = RULES_BASIS_ARRIVAL;
		if (c->basis == RULES_BASIS_DATE_HEADER)
			add_reason(out, g_strdup("deadline:no-date-header(arrival)"));
		if (c->basis == RULES_BASIS_EDGE)
			add_reason(out, g_strdup("deadline:no-edge(arrival)"));
	} else {
		add_reason(out, g_strdup("deadline:unknown"));
		return;
	}
	/* The deadline is the first second that is too late. */
	out->decided = true;
	out->delta = t - (c->deadline_last + 1 + c->grace);
	out->on_time = out->delta < 0;
	g_autofree char *d = rules_format_delta(out->delta);
	add_reason(out, g_strdup_printf("deadline:%s(%s)%s", out->on_time ? "on-time" : "late", d,
					out->decided_by == RULES_BASIS_DATE_HEADER ? "[date-header]"
					: out->decided_by == RULES_BASIS_EDGE      ? "[edge]"
										   : ""));
}

static void add_attachment_reasons(const struct rules_input *in, struct rules_result *out)
{
	if (in->n_attachments)
		add_reason(out, g_strdup_printf("attachments:%zu", in->n_attachments));
	else if (!(in->flags & RULES_IN_TOO_LARGE))
		add_reason(out, g_strdup("attachments:none"));
	if (in->n_attachments && !in->has_form)
		add_reason(out, g_strdup("form:none"));
	if (in->has_form && in->form_signature == RULES_FORM_SIG_INVALID)
		add_reason(out, g_strdup("form:signature-invalid"));
	if (in->has_form && in->form_signature == RULES_FORM_SIG_MODIFIED)
		add_reason(out, g_strdup("form:modified-after-signing"));
}

void rules_classify(const struct rules_call *calls, size_t n_calls, const struct rules_settings *settings,
		    const struct rules_input *in, struct rules_result *out)
{
	struct rules_settings set = resolve_settings(settings);
	g_autofree char *remainder = NULL;
	size_t call_words = 0;
	bool applicant_before = false;
	int resembles = -1; /* the call the subject is most like, even without a match */
	double resemblance = 0;
	bool by_form = false;

	memset(out, 0, sizeof(*out));
	out->call = -1;
	out->on_time = -1;

	for (size_t i = 0; i < n_calls; i++) {
		struct rules_subject_result r;
		enum rules_match m = rules_subject_match_full(in->subject, calls[i].subject, &set, &r);
		if (resembles < 0 || r.score > resemblance) {
			resembles = (int)i;
			resemblance = r.score;
		}
		/* Exact beats fuzzy; of two exact calls the longer ("… kompetencer
		 * i ældreplejen" over "… kompetencer"); else the higher score. */
		bool better =
			m != RULES_MATCH_NONE &&
			(out->call < 0 || (m == RULES_MATCH_EXACT && out->match != RULES_MATCH_EXACT) ||
			 (m == RULES_MATCH_EXACT && out->match == RULES_MATCH_EXACT && r.call_words > call_words) ||
			 (m == out->match && m != RULES_MATCH_EXACT && r.score > out->score));
		if (better) {
			g_free(out->applicant);
			out->applicant = g_steal_pointer(&r.applicant);
			applicant_before = r.applicant_before;
			g_free(remainder);
			remainder = g_steal_pointer(&r.remainder);
			out->call = (int)i;
			out->match = m;
			out->partial = r.partial;
			out->score = r.score;
			call_words = r.call_words;
		}
		rules_subject_result_clear(&r);
	}

	struct kind_info ki;
	message_kind(in->subject, in->hints, &ki);
	enum rules_kind kind = ki.kind;
	if (kind == RULES_KIND_APPLICATION && in->subject) {
		if (out->call >= 0) {
			kind = remainder_kind(remainder);
		} else {
			g_autofree char *nfc = valid_nfc(in->subject);
			kind = remainder_kind(strip_leading(nfc));
		}
	}

	if (out->call < 0) {
		out->kind = kind == RULES_KIND_APPLICATION ? RULES_KIND_OTHER : kind;
		out->score = 0;
		if (!in->subject && (in->flags & (RULES_IN_TOO_LARGE | RULES_IN_UNPARSED))) {
			/* Not even the header could be read: a person must look. */
			out->status = RULES_REVIEW;
			add_reason(out, g_strdup("subject:unknown"));
			add_reason(out, g_strdup(in->flags & RULES_IN_TOO_LARGE ? "size:too-large" : "mime:unparsed"));
			return;
		}
		if (kind != RULES_KIND_APPLICATION || !in->has_form || n_calls == 0) {
			out->status = RULES_UNRELATED;
			add_reason(out, g_strdup(in->subject ? "subject:none" : "subject:missing"));
			if (out->kind != RULES_KIND_OTHER)
				add_reason(out, g_strdup_printf("kind:%s", record_kind_name(out->kind)));
			return;
		}
		/* The safety net: an application with a form whose subject matches
		 * no call (another language, a subject of its own) is not lost — a
		 * person looks, under the call it resembles most. */
		by_form = true;
		out->call = resembles >= 0 ? resembles : 0;
		out->kind = RULES_KIND_APPLICATION;
		out->score = resemblance;
		add_reason(out, g_strdup(in->subject ? "subject:none+form" : "subject:missing+form"));
		if (in->subject) {
			g_autofree char *nfc = valid_nfc(in->subject);
			out->applicant = name_last_dash(strip_leading(nfc));
		}
	}

	if (applicant_before && (kind != RULES_KIND_APPLICATION || ki.reply_to)) {
		/* "Invitation: Puljeopslag …", "Automatisk svar: Puljeopslag …":
		 * what stands before the call is a label, not a name. */
		g_free(out->applicant);
		out->applicant = NULL;
	}
	const struct rules_call *c = &calls[out->call];
	if (!by_form) {
		out->kind = kind;
		if (out->match == RULES_MATCH_EXACT)
			add_reason(out, g_strdup("subject:exact"));
		else
			add_reason(out, g_strdup_printf("subject:%s(%.2f)", out->partial ? "partial" : "fuzzy",
							record_score(out->score)));
	}
	if (kind != RULES_KIND_APPLICATION)
		add_reason(out, g_strdup_printf("kind:%s", record_kind_name(kind)));
	if (ki.reply_to)
		add_reason(out, g_strdup_printf("reply-to:%s", ki.reply_to));
	if (ki.strong) {
		/* An automatic reply, a bounce or list mail quoting the call is no application:
		 * it belongs to no call, names no applicant and meets no deadline
		 * (on_time unknown); the call it quotes stays in the reasons. */
		add_reason(out, g_strdup_printf("quotes:%s", c->id));
		add_attachment_reasons(in, out);
		g_free(out->applicant);
		out->applicant = NULL;
		out->call = -1;
		out->match = RULES_MATCH_NONE;
		out->partial = false;
		out->score = 0;
		out->status = RULES_UNRELATED;
		return;
	}
	if (out->applicant) {
		out->applicant_source = RULES_APPLICANT_SUBJECT;
	} else if ((out->applicant = applicant_from_sender(in))) {
		out->applicant_source = RULES_APPLICANT_FROM;
		add_reason(out, g_strdup("applicant:from"));
	}
	decide_deadline(c, in, out);
	if (in->flags & RULES_IN_TOO_LARGE)
		add_reason(out, g_strdup("size:too-large"));
	if (in->flags & RULES_IN_BROKEN)
		add_reason(out, g_strdup("mime:broken"));
	add_attachment_reasons(in, out);

	if (kind != RULES_KIND_APPLICATION)
		out->status = RULES_REVIEW; /* a list, a question, other mail, machine-generated mail */
	else if (out->on_time == 0)
		out->status = RULES_LATE;
	else if (out->match != RULES_MATCH_EXACT || by_form || ki.reply_to || out->on_time < 0 ||
		 (in->flags & (RULES_IN_TOO_LARGE | RULES_IN_BROKEN)) || in->n_attachments == 0 || !in->has_form ||
		 in->form_signature != RULES_FORM_SIG_OK)
		out->status = RULES_REVIEW; /* a form whose signature does not hold is no clean acceptance */
	else
		out->status = RULES_ACCEPTED;
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

const char *rules_basis_name(enum rules_basis basis)
{
	return basis == RULES_BASIS_DATE_HEADER ? "date-header" : basis == RULES_BASIS_EDGE ? "edge" : "arrival";
}

const char *rules_applicant_source_name(enum rules_applicant_source src)
{
	return src == RULES_APPLICANT_SUBJECT ? "subject" : src == RULES_APPLICANT_FROM ? "from" : NULL;
}
