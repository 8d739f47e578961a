#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#define MAX_TOKENS 64          /* subject words looked at: bounded work */
#define MAX_TOKEN_CHARS 64
#define MIN_TOKEN_SIMILARITY 0.6
#define WINDOW_EXTRA 4          /* subject words beyond the call's length searched */

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

/* The call's words joined by single spaces, as characters. */
static gunichar *joined(const struct tokens *ts, size_t first, size_t n, size_t *len)
{
	size_t total = 0;
	for (size_t i = first; i < first + n && i < ts->n; i++)
		total += (size_t)ts->t[i].len + 1;
	gunichar *out = g_new(gunichar, total + 1);
	size_t k = 0;
	for (size_t i = first; i < first + n && i < ts->n; i++) {
		if (k)
			out[k++] = ' ';
		memcpy(out + k, ts->t[i].folded, (size_t)ts->t[i].len * sizeof(gunichar));
		k += (size_t)ts->t[i].len;
	}
	*len = k;
	return out;
}

enum rules_match rules_subject_match(const char *subject, const char *call_subject, double threshold,
				     double *score_out, char **applicant)
{
	struct tokens cs = { 0 }, ss = { 0 };
	g_autofree gunichar *cj = NULL, *sj = NULL;
	enum rules_match match = RULES_MATCH_NONE;
	double score = 0;
	size_t last = 0;

	if (applicant)
		*applicant = NULL;
	if (score_out)
		*score_out = 0;
	if (!subject || !call_subject)
		return RULES_MATCH_NONE;
	g_autofree char *call_nfc = valid_nfc(call_subject);
	g_autofree char *nfc = valid_nfc(subject);
	const char *text = strip_leading(nfc);
	tokenize(strip_leading(call_nfc), &cs);
	tokenize(text, &ss);
	if (cs.n == 0 || ss.n == 0)
		goto out;

	/* Exact: the subject's first words are the call's words. */
	bool exact = ss.n >= cs.n;
	for (size_t i = 0; exact && i < cs.n; i++)
		exact = token_eq(&cs.t[i], &ss.t[i]);
	if (exact) {
		match = RULES_MATCH_EXACT;
		score = 1.0;
		last = cs.n - 1;
		goto out;
	}

	/* Word score: each call word's best partner among the first words of
	 * the subject, in any order, weighted by the call word's length. */
	size_t window = MIN(ss.n, cs.n + WINDOW_EXTRA);
	bool used[MAX_TOKENS] = { false };
	double sum = 0, weight = 0;
	bool any = false;
	for (size_t i = 0; i < cs.n; i++) {
		double best = 0;
		size_t best_j = 0;
		for (size_t j = 0; j < window; j++) {
			if (used[j])
				continue;
			double sim = word_similarity(&cs.t[i], &ss.t[j]);
			if (sim > best) {
				best = sim;
				best_j = j;
			}
		}
		weight += (double)cs.t[i].len;
		if (best >= MIN_TOKEN_SIMILARITY) {
			used[best_j] = true;
			sum += best * (double)cs.t[i].len;
			last = any ? MAX(last, best_j) : best_j;
			any = true;
		}
	}
	double word_score = weight > 0 ? sum / weight : 0;

	/* Character score: edit distance between the call's words and as many
	 * characters of the subject's words. */
	size_t clen = 0, slen = 0;
	cj = joined(&cs, 0, cs.n, &clen);
	sj = joined(&ss, 0, ss.n, &slen);
	double char_score = clen ? 1.0 - (double)levenshtein(cj, clen, sj, MIN(slen, clen)) / (double)clen : 0;
	if (!any && char_score >= threshold) {
		/* No word matched on its own ("puljeopslag2022styrkelse…"): the
		 * applicant follows the words the compared characters cover. */
		size_t k = 0;
		for (last = 0; last < ss.n; last++) {
			k += (size_t)ss.t[last].len + (last ? 1 : 0);
			if (k >= clen)
				break;
		}
		last = MIN(last, ss.n - 1);
		any = true;
	}
	score = MAX(word_score, char_score);
	if (any && score >= threshold)
		match = RULES_MATCH_FUZZY;
out:
	if (match != RULES_MATCH_NONE && applicant)
		*applicant = trim_applicant(ss.t[last].end);
	if (score_out)
		*score_out = score;
	tokens_clear(&cs);
	tokens_clear(&ss);
	return match;
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
	"automatisk svar", "autosvar", "auto-svar", "out of office", "automatic reply", "autoreply",
	"auto-reply", "auto:", "fraværende", "ikke til stede", "abwesenheitsnotiz", "automatische antwort",
	"réponse automatique", "frånvaro", "fravær",
};
static const char *const report_prefixes[] = {
	"undeliverable", "undelivered mail", "returned mail", "delivery status notification",
	"mail delivery failed", "delivery failure", "failure notice", "kan ikke leveres", "ikke leveret",
	"levering mislykkedes", "unzustellbar", "non remis", "mail delivery system",
};
static const char *const question_words[] = {
	"spørgsmål", "question", "forespørgsel", "spm.", "henvendelse vedr",
};

/* Strong evidence of an automatic reply, as opposed to mail that a
 * system merely generated (which may be an application). */
static bool strong_auto(const char *folded, unsigned hints)
{
	return (hints & (RULES_HINT_AUTOREPLY | RULES_HINT_PRECEDENCE_AUTO)) ||
	       starts_with_any(folded, auto_prefixes, G_N_ELEMENTS(auto_prefixes));
}

static char *fold_subject(const char *subject)
{
	g_autofree char *nfc = valid_nfc(subject);
	/* Reply prefixes first: "SV: Automatisk svar: …" is still automatic. */
	return fold_collapse(strip_leading(nfc));
}

enum rules_kind rules_message_kind(const char *subject, unsigned hints)
{
	g_autofree char *folded = fold_subject(subject);
	if ((hints & RULES_HINT_REPORT) || starts_with_any(folded, report_prefixes, G_N_ELEMENTS(report_prefixes)))
		return RULES_KIND_DELIVERY_REPORT;
	if (strong_auto(folded, hints) || (hints & RULES_HINT_AUTO_SUBMITTED))
		return RULES_KIND_AUTO_REPLY;
	if (hints & (RULES_HINT_LIST | RULES_HINT_PRECEDENCE_BULK))
		return RULES_KIND_LIST;
	if (contains_any(folded, question_words, G_N_ELEMENTS(question_words)))
		return RULES_KIND_QUESTION;
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

char *rules_describe_delta(int64_t seconds)
{
	uint64_t s = seconds < 0 ? (uint64_t)(-(seconds + 1)) + 1 : (uint64_t)seconds;
	uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
	g_autofree char *amount = NULL;
	if (d)
		amount = g_strdup_printf("%" G_GUINT64_FORMAT " d %" G_GUINT64_FORMAT " h", d, h);
	else if (h)
		amount = g_strdup_printf("%" G_GUINT64_FORMAT " h %" G_GUINT64_FORMAT " min", h, m);
	else if (m)
		amount = sec ? g_strdup_printf("%" G_GUINT64_FORMAT " min %" G_GUINT64_FORMAT " s", m, sec)
			     : g_strdup_printf("%" G_GUINT64_FORMAT " min", m);
	else
		amount = g_strdup_printf("%" G_GUINT64_FORMAT " s", sec);
	return seconds >= 0 ? g_strdup_printf("late by %s", amount)
			    : g_strdup_printf("on time, %s before the deadline", amount);
}

int rules_parse_duration(const char *text, int64_t *seconds)
{
	char *end = NULL;
	if (!text || !g_ascii_isdigit(*text))
		return -EINVAL;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	int64_t mult = 1;
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0': if (n != 0) return -EINVAL; break; /* a bare number is ambiguous, bar 0 */
	case 's': mult = 1; end++; break;
	case 'm': mult = 60; end++; break;
	case 'h': mult = 3600; end++; break;
	case 'd': mult = 86400; end++; break;
	default: return -EINVAL;
	}
	if (*end || n > (unsigned long long)(INT64_MAX / mult) || n * (unsigned long long)mult > 366ULL * 86400)
		return -EINVAL;
	*seconds = (int64_t)n * mult;
	return 0;
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
	} else if (in->has_arrival) {
		t = in->arrival;
		out->decided_by = RULES_BASIS_ARRIVAL;
		if (c->basis == RULES_BASIS_DATE_HEADER)
			add_reason(out, g_strdup("deadline:no-date-header(arrival)"));
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
				       out->decided_by == RULES_BASIS_DATE_HEADER ? "[date-header]" : ""));
}

void rules_classify(const struct rules_call *calls, size_t n_calls, const struct rules_settings *settings,
		    const struct rules_input *in, struct rules_result *out)
{
	double threshold = settings ? settings->fuzzy_threshold : RULES_DEFAULT_FUZZY_THRESHOLD;

	memset(out, 0, sizeof(*out));
	out->call = -1;
	out->on_time = -1;

	for (size_t i = 0; i < n_calls; i++) {
		double score = 0;
		char *applicant = NULL;
		enum rules_match m = rules_subject_match(in->subject, calls[i].subject, threshold, &score, &applicant);
		bool better = m != RULES_MATCH_NONE &&
			      (out->call < 0 || (m == RULES_MATCH_EXACT && out->match != RULES_MATCH_EXACT) ||
			       (m == out->match && score > out->score));
		if (better) {
			g_free(out->applicant);
			out->applicant = applicant;
			out->call = (int)i;
			out->match = m;
			out->score = score;
		} else {
			g_free(applicant);
		}
	}

	enum rules_kind kind = rules_message_kind(in->subject, in->hints);
	g_autofree char *folded = fold_subject(in->subject);
	bool strong = kind == RULES_KIND_DELIVERY_REPORT ||
		      (kind == RULES_KIND_AUTO_REPLY && strong_auto(folded, in->hints));

	if (out->call < 0) {
		out->kind = kind == RULES_KIND_APPLICATION ? RULES_KIND_OTHER : kind;
		out->score = 0;
		if (!in->subject && (in->flags & RULES_IN_TOO_LARGE)) {
			/* Not even the header could be read: a person must look. */
			out->status = RULES_REVIEW;
			add_reason(out, g_strdup("subject:unknown"));
			add_reason(out, g_strdup("size:too-large"));
		} else {
			out->status = RULES_UNRELATED;
			add_reason(out, g_strdup(in->subject ? "subject:none" : "subject:missing"));
			if (out->kind != RULES_KIND_OTHER)
				add_reason(out, g_strdup_printf("kind:%s", rules_kind_name(out->kind)));
		}
		return;
	}

	const struct rules_call *c = &calls[out->call];
	out->kind = kind;
	if (out->match == RULES_MATCH_EXACT)
		add_reason(out, g_strdup("subject:exact"));
	else
		add_reason(out, g_strdup_printf("subject:fuzzy(%.2f)", floor(out->score * 100) / 100));
	if (kind != RULES_KIND_APPLICATION)
		add_reason(out, g_strdup_printf("kind:%s", rules_kind_name(kind)));
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
	if (in->n_attachments)
		add_reason(out, g_strdup_printf("attachments:%zu", in->n_attachments));
	else if (!(in->flags & RULES_IN_TOO_LARGE))
		add_reason(out, g_strdup("attachments:none"));
	if (in->n_attachments && !in->has_form)
		add_reason(out, g_strdup("form:none"));

	if (strong)
		out->status = RULES_UNRELATED; /* an automatic reply or a bounce quoting the call */
	else if (kind != RULES_KIND_APPLICATION)
		out->status = RULES_REVIEW;    /* a list, a question, machine-generated mail */
	else if (out->on_time == 0)
		out->status = RULES_LATE;
	else if (out->match != RULES_MATCH_EXACT || out->on_time < 0 ||
		 (in->flags & (RULES_IN_TOO_LARGE | RULES_IN_BROKEN)) || in->n_attachments == 0 || !in->has_form)
		out->status = RULES_REVIEW;
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

const char *rules_match_name(enum rules_match match)
{
	return match == RULES_MATCH_EXACT ? "exact" : match == RULES_MATCH_FUZZY ? "fuzzy" : NULL;
}

const char *rules_kind_name(enum rules_kind kind)
{
	switch (kind) {
	case RULES_KIND_APPLICATION: return "application";
	case RULES_KIND_AUTO_REPLY: return "auto-reply";
	case RULES_KIND_DELIVERY_REPORT: return "delivery-report";
	case RULES_KIND_LIST: return "list";
	case RULES_KIND_QUESTION: return "question";
	case RULES_KIND_OTHER: return "other";
	}
	return "other";
}

const char *rules_basis_name(enum rules_basis basis)
{
	return basis == RULES_BASIS_DATE_HEADER ? "date-header" : "arrival";
}

const char *rules_applicant_source_name(enum rules_applicant_source src)
{
	return src == RULES_APPLICANT_SUBJECT ? "subject" : src == RULES_APPLICANT_FROM ? "from" : NULL;
}
