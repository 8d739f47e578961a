#include "received.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#define HOST_MAX 253

static const char *const why_names[] = {
	[RECEIVED_EDGE] = NULL,
	[RECEIVED_NO_RELAYS] = "no-trusted-relays",
	[RECEIVED_NO_HEADERS] = "no-received",
	[RECEIVED_UNTRUSTED_TOP] = "untrusted-top",
	[RECEIVED_BAD_DATE] = "bad-date",
	[RECEIVED_AFTER_ARRIVAL] = "after-arrival",
	[RECEIVED_NO_ARRIVAL] = "no-arrival",
};

const char *received_why_name(enum received_why why)
{
	return (size_t)why < G_N_ELEMENTS(why_names) ? why_names[why] : NULL;
}

/* ---- host names and patterns ---- */

static bool host_char(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_';
}

bool received_pattern_valid(const char *pattern)
{
	if (!pattern || !*pattern || strlen(pattern) > HOST_MAX)
		return false;
	for (const char *p = pattern; *p; p++)
		if (!host_char(*p) && *p != '*' && *p != '?')
			return false;
	return true;
}

bool received_host_match(const char *pattern, const char *host)
{
	if (!pattern || !host)
		return false;
	size_t hn = strlen(host);
	if (hn && host[hn - 1] == '.')
		hn--;
	/* Iterative glob: on a mismatch, let the last '*' take one more character. */
	const char *p = pattern, *star = NULL;
	size_t h = 0, star_h = 0;
	while (h < hn) {
		if (*p == '*') {
			star = ++p;
			star_h = h;
		} else if (*p && (*p == '?' || g_ascii_tolower(*p) == g_ascii_tolower(host[h]))) {
			p++;
			h++;
		} else if (star) {
			p = star;
			h = ++star_h;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* TOKEN as a host name (lower case, no trailing dot), or NULL when it is
 * not one: an address literal, an IP address, anything with other
 * characters.  A name has at least one letter. */
static char *host_name(const char *token, size_t len)
{
	if (len && token[len - 1] == '.')
		len--;
	if (len == 0 || len > HOST_MAX)
		return NULL;
	bool letter = false;
	for (size_t i = 0; i < len; i++) {
		if (!host_char(token[i]))
			return NULL;
		letter |= g_ascii_isalpha(token[i]);
	}
	return letter ? g_ascii_strdown(token, (gssize)len) : NULL;
}

/* ---- one Received: value ---- */

struct item {
	const char *text; /* a word, or a comment's inside */
	size_t len;
	bool comment;
};

/* The words and top-level comments of TEXT[0..LEN) into OUT. */
static void items(const char *text, size_t len, GArray *out)
{
	size_t i = 0;
	while (i < len) {
		struct item it;
		if (text[i] == ' ') {
			i++;
			continue;
		}
		if (text[i] == '(') {
			size_t start = ++i;
			int depth = 1;
			for (; i < len && depth > 0; i++) {
				if (text[i] == '\\' && i + 1 < len)
					i++;
				else if (text[i] == '(')
					depth++;
				else if (text[i] == ')')
					depth--;
			}
			it = (struct item){ text + start, i - start - (depth == 0), true };
		} else {
			size_t start = i;
			while (i < len && text[i] != ' ' && text[i] != '(')
				i++;
			it = (struct item){ text + start, i - start, false };
		}
		g_array_append_val(out, it);
	}
}

/* The verified name in the comment after the HELO name: Postfix
 * "(name [ip])", sendmail "(ident@name [ip])"; "unknown" or "forged" say
 * it could not be verified.  Address literals, bare IP addresses (as
 * Exchange writes them) and key=value words (Exim's helo=) are no name. */
static char *verified_name(const struct item *c, bool *unverified)
{
	g_autofree char *text = g_strndup(c->text, c->len);
	char *lower = g_ascii_strdown(text, -1);
	bool forged = strstr(lower, "forged") != NULL;
	g_free(lower);
	if (forged) {
		*unverified = true;
		return NULL;
	}
	/* Nested comments are not the name. */
	int depth = 0;
	for (char *p = text; *p; p++) {
		if (*p == '(')
			depth++;
		if (depth > 0) {
			if (*p == ')')
				depth--;
			*p = ' ';
		}
	}
	g_auto(GStrv) words = g_strsplit(text, " ", -1);
	for (size_t i = 0; words[i]; i++) {
		const char *w = words[i];
		if (!*w || *w == '[' || strchr(w, '='))
			continue;
		if (!g_ascii_strcasecmp(w, "unknown")) {
			*unverified = true;
			return NULL;
		}
		const char *at = strrchr(w, '@');
		if (at)
			w = at + 1;
		char *name = host_name(w, strlen(w));
		if (name)
			return name;
	}
	return NULL;
}

void received_parse_hop(const char *value, struct received_hop *ret_hop)
{
	memset(ret_hop, 0, sizeof(*ret_hop));
	if (!value)
		return;
	/* Unfolded: line breaks removed, tabs as spaces. */
	g_autofree char *text = g_malloc(strlen(value) + 1);
	char *w = text;
	for (const char *p = value; *p; p++)
		if (*p != '\r' && *p != '\n')
			*w++ = *p == '\t' ? ' ' : *p;
	*w = '\0';
	/* The date follows the last ';' outside comments. */
	size_t len = strlen(text), semi = len;
	int depth = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\\' && i + 1 < len)
			i++;
		else if (text[i] == '(')
			depth++;
		else if (text[i] == ')' && depth > 0)
			depth--;
		else if (text[i] == ';' && depth == 0)
			semi = i;
	}
	if (semi < len)
		ret_hop->date = g_strdup(text + semi + 1);

	g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(struct item));
	items(text, semi, list);
	const struct item *it = (const struct item *)(void *)list->data;
	size_t n = list->len;
	bool seen_from = false;
	for (size_t i = 0; i < n; i++) {
		if (it[i].comment)
			continue;
		bool is_from = it[i].len == 4 && !g_ascii_strncasecmp(it[i].text, "from", 4);
		bool is_by = it[i].len == 2 && !g_ascii_strncasecmp(it[i].text, "by", 2);
		if (is_from && !seen_from && !ret_hop->by) {
			/* "from" comes before "by" (RFC 5321 4.4). */
			seen_from = true;
			if (i + 1 < n && !it[i + 1].comment) {
				ret_hop->from = host_name(it[i + 1].text, it[i + 1].len);
				if (i + 2 < n && it[i + 2].comment) {
					char *v = verified_name(&it[i + 2], &ret_hop->from_unverified);
					if (v || ret_hop->from_unverified) {
						g_free(ret_hop->from);
						ret_hop->from = v;
					}
				}
			}
		} else if (is_by && !ret_hop->by) {
			if (i + 1 < n && !it[i + 1].comment)
				ret_hop->by = host_name(it[i + 1].text, it[i + 1].len);
			break;
		}
	}
}

void received_hop_clear(struct received_hop *hop)
{
	g_free(hop->by);
	g_free(hop->from);
	g_free(hop->date);
	memset(hop, 0, sizeof(*hop));
}

/* ---- the date ---- */

static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		const char *open = p;
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
			return open; /* an unclosed comment: nothing that follows can be read */
	}
}

static int digits(const char **p, size_t min, size_t max, int *value)
{
	size_t n = 0;
	int v = 0;
	while (g_ascii_isdigit((*p)[n]) && n < max)
		v = v * 10 + ((*p)[n++] - '0');
	if (n < min || g_ascii_isdigit((*p)[n]))
		return -EINVAL;
	*p += n;
	*value = v;
	return (int)n;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

int received_parse_date(const char *text, int64_t *ret_when, int *ret_offset)
{
	static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
	static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
					      "jul", "aug", "sep", "oct", "nov", "dec" };
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "UT", 0 },     { "GMT", 0 },    { "Z", 0 },      { "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	};
	if (!text)
		return -EINVAL;
	const char *p = skip_cfws(text);
	if (g_ascii_isalpha(*p)) {
		bool ok = false;
		for (size_t i = 0; i < G_N_ELEMENTS(days) && !ok; i++)
			ok = !g_ascii_strncasecmp(p, days[i], 3) && !g_ascii_isalpha(p[3]);
		if (!ok)
			return -EINVAL;
		p = skip_cfws(p + 3);
		if (*p++ != ',')
			return -EINVAL;
		p = skip_cfws(p);
	}
	int day, mon = 0, year, hour, min, sec = 0, n;
	if (digits(&p, 1, 2, &day) < 0)
		return -EINVAL;
	p = skip_cfws(p);
	for (size_t i = 0; i < G_N_ELEMENTS(months) && !mon; i++)
		if (!g_ascii_strncasecmp(p, months[i], 3) && !g_ascii_isalpha(p[3]))
			mon = (int)i + 1;
	if (!mon)
		return -EINVAL;
	p = skip_cfws(p + 3);
	if ((n = digits(&p, 2, 4, &year)) < 0)
		return -EINVAL;
	if (n == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (n == 3)
		year += 1900;
	p = skip_cfws(p);
	if (digits(&p, 2, 2, &hour) < 0 || *p++ != ':' || digits(&p, 2, 2, &min) < 0)
		return -EINVAL;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, 2, &sec) < 0)
			return -EINVAL;
	}
	if (day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	p = skip_cfws(p);
	int zone;
	if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, hhmm;
		if (digits(&p, 4, 4, &hhmm) < 0 || hhmm / 100 > 23 || hhmm % 100 > 59)
			return -EINVAL;
		zone = sign * (hhmm / 100 * 60 + hhmm % 100);
	} else {
		size_t len = 0;
		while (g_ascii_isalpha(p[len]))
			len++;
		size_t i = 0;
		while (i < G_N_ELEMENTS(zones) &&
		       !(strlen(zones[i].name) == len && !g_ascii_strncasecmp(p, zones[i].name, len)))
			i++;
		if (i == G_N_ELEMENTS(zones))
			return -EINVAL;
		zone = zones[i].minutes;
		p += len;
	}
	if (*skip_cfws(p))
		return -EINVAL;
	*ret_when = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec - (int64_t)zone * 60;
	*ret_offset = zone;
	return 0;
}

/* ---- the walk ---- */

static bool trusted(const char *host, const char *const *patterns)
{
	for (size_t i = 0; host && patterns[i]; i++)
		if (received_host_match(patterns[i], host))
			return true;
	return false;
}

void received_edge(const char *const *values, size_t n, const char *const *patterns, bool has_arrival, int64_t arrival,
		   int64_t max_skew, struct received_edge *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!patterns || !patterns[0]) {
		ret->why = RECEIVED_NO_RELAYS;
		return;
	}
	if (n == 0) {
		ret->why = RECEIVED_NO_HEADERS;
		return;
	}
	struct received_hop edge = { 0 };
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		struct received_hop hop;
		received_parse_hop(values[i], &hop);
		if (!trusted(hop.by, patterns)) {
			received_hop_clear(&hop);
			break;
		}
		received_hop_clear(&edge);
		edge = hop;
		found = true;
		ret->index = i;
		/* Taken from outside: the hand-over; what lies below is the sender's. */
		if (edge.from_unverified || !trusted(edge.from, patterns))
			break;
	}
	if (!found) {
		ret->why = RECEIVED_UNTRUSTED_TOP;
		return;
	}
	int64_t when;
	int offset;
	if (received_parse_date(edge.date, &when, &offset) < 0)
		ret->why = RECEIVED_BAD_DATE;
	else if (!has_arrival)
		ret->why = RECEIVED_NO_ARRIVAL;
	else if (when > arrival + max_skew)
		ret->why = RECEIVED_AFTER_ARRIVAL;
	else {
		ret->why = RECEIVED_EDGE;
		ret->when = when;
		ret->offset = offset;
	}
	received_hop_clear(&edge);
}
