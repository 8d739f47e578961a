#include "frame.h"

#include <string.h>
#include <strings.h>

/* The kind of the current line. */
enum {
	K_HEAD,   /* its start, kept in head until the kind is known */
	K_STATUS, /* "* OK|NO|BAD|BYE|PREAUTH", "tag OK|NO|BAD", "+": resp-text */
	K_DATA,   /* anything else */
};

/* Where in the line (status lines, then data lines). */
enum {
	S_SP,         /* after the status word: spaces, then "[" opens a code */
	S_CODE_SP,    /* after "[": spaces, then the code's keyword */
	S_CODE_WORD,  /* the keyword */
	S_PERM_SP,    /* after PERMANENTFLAGS: at least one space */
	S_PERM_OPEN,  /* spaces, then "(" */
	S_PERM_ITEM,  /* spaces, then a flag or ")" */
	S_PERM_BS,    /* after "\": "*" or an atom */
	S_PERM_ATOM,  /* in a flag */
	S_PERM_STAR,  /* after "\*" */
	S_CAP_SP,     /* after CAPABILITY: at least one space */
	S_CAP_FIRST,  /* spaces, then the first capability */
	S_CAP_WORD,   /* the first capability */
	S_BADCS,      /* after BADCHARSET: spaces, then "]" */
	S_TEXT,       /* the rest of a status line: text */
	D_NORMAL,     /* a data line outside quoted strings */
	D_QUOTE,      /* in a quoted string */
	D_QUOTE_ESC,  /* after "\" in a quoted string */
	D_LIT_DIGITS, /* after "{" */
	D_LIT_CR,     /* after "{N}" */
	D_LIT_LF,     /* after "{N}\r" */
};

#define DIGITS_MAX 19 /* more is absurd: larger than anything allowed */

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* libetpan's ATOM-CHAR (it takes any byte but NUL as a CHAR). */
static bool is_atom(unsigned char c)
{
	return c > 0x1f && !strchr("(){ %*\"\\]", c);
}

/* libetpan's tag characters: ASTRING-CHAR except "+". */
static bool is_tag(unsigned char c)
{
	return c == ']' || (is_atom(c) && c != '+');
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static enum frame_verdict refuse(struct frame *f, const char *why)
{
	f->why = why;
	return FRAME_REFUSED;
}

/* Does the letters-only word at P (LEN bytes, followed by a space) name
 * one of WORDS?  libetpan matches its keywords as prefixes and then wants
 * a space, so only an exact word followed by a space counts. */
static bool word_in(const char *p, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && !strncasecmp(p, *words, len))
			return true;
	return false;
}

#define UNDECIDED ((size_t)-1)

/* The kind of the line whose start is in f->head; returns where its
 * scanning starts (the byte after the status word, or 0), or UNDECIDED
 * while more bytes are needed.  This follows libetpan's
 * cont_req_or_resp_data / response_data / response_tagged. */
static size_t classify(struct frame *f, unsigned char *kind)
{
	static const char *const untagged[] = { "OK", "NO", "BAD", "BYE", "PREAUTH", NULL };
	static const char *const tagged[] = { "OK", "NO", "BAD", NULL };
	const unsigned char *h = (const unsigned char *)f->head;
	size_t n = f->head_len, i = 0;

	while (i < n && is_ws(h[i]))
		i++;
	if (i == n)
		return UNDECIDED;
	*kind = K_DATA;
	if (h[i] == '+') { /* continue-req: "+" [SP] (base64 / resp-text) */
		*kind = K_STATUS;
		return i + 1;
	}
	const char *const *words = untagged;
	if (h[i] == '*') {
		i++;
	} else {
		size_t t = i;
		while (i < n && is_tag(h[i]))
			i++;
		if (i == n)
			return UNDECIDED;
		if (i == t)
			return 0; /* libetpan cannot parse it */
		words = tagged;
	}
	size_t w = i;
	while (i < n && is_ws(h[i]))
		i++;
	if (i == n)
		return UNDECIDED;
	if (i == w)
		return 0;
	w = i;
	while (i < n && is_alpha(h[i]))
		i++;
	if (i == n)
		return UNDECIDED;
	if (is_ws(h[i]) && word_in(f->head + w, i - w, words)) {
		*kind = K_STATUS;
		return i;
	}
	if (words == untagged && i - w == strlen("CAPABILITY") && !strncasecmp(f->head + w, "CAPABILITY", i - w)) {
		f->state = S_CAP_SP; /* a data line that must list a capability */
		return i;
	}
	return 0;
}

/* Does the keyword read so far start with KEYWORD? */
static bool word_starts(const struct frame *f, const char *keyword)
{
	size_t k = strlen(keyword);
	return f->word_len >= k && !strncasecmp(f->word, keyword, k);
}

static bool word_is(const struct frame *f, const char *keyword)
{
	return !f->word_long && f->word_len == strlen(keyword) && word_starts(f, keyword);
}

static void word_add(struct frame *f, unsigned char c)
{
	if (f->word_len < sizeof(f->word))
		f->word[f->word_len++] = (char)c;
	else
		f->word_long = true;
}

static void line_end(struct frame *f)
{
	f->kind = K_HEAD;
	f->head_len = 0;
}

static enum frame_verdict step(struct frame *f, unsigned char c, uint64_t room);

/* The code keyword has ended at C: checks the codes libetpan crashes on. */
static enum frame_verdict code_word_end(struct frame *f, unsigned char c, uint64_t room)
{
	static const struct {
		const char *word;
		unsigned char next;
	} codes[] = {
		{ "PERMANENTFLAGS", S_PERM_SP },
		{ "CAPABILITY", S_CAP_SP },
		{ "BADCHARSET", S_BADCS },
	};
	f->state = S_TEXT;
	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
		if (!word_starts(f, codes[k].word))
			continue;
		if (!word_is(f, codes[k].word))
			return refuse(f, "a malformed response code");
		f->state = codes[k].next;
	}
	return step(f, c, room);
}

/* One byte of a line whose kind is known.  ROOM: how many bytes may still
 * follow it in this response. */
static enum frame_verdict step(struct frame *f, unsigned char c, uint64_t room)
{
	switch (f->state) {
	case S_SP:
		if (is_ws(c))
			return FRAME_OK;
		f->state = c == '[' ? S_CODE_SP : S_TEXT;
		return c == '[' ? FRAME_OK : step(f, c, room);
	case S_CODE_SP:
		if (is_ws(c))
			return FRAME_OK;
		f->word_len = 0;
		f->word_long = false;
		f->state = S_CODE_WORD;
		/* fall through */
	case S_CODE_WORD:
		if (is_atom(c)) {
			word_add(f, c);
			return FRAME_OK;
		}
		return code_word_end(f, c, room);
	case S_PERM_SP:
		if (!is_ws(c))
			return refuse(f, "a malformed PERMANENTFLAGS code");
		f->state = S_PERM_OPEN;
		return FRAME_OK;
	case S_PERM_OPEN:
		if (is_ws(c))
			return FRAME_OK;
		if (c != '(')
			return refuse(f, "a malformed PERMANENTFLAGS code");
		f->state = S_PERM_ITEM;
		return FRAME_OK;
	case S_PERM_ITEM:
	case S_PERM_ATOM:
	case S_PERM_STAR:
		if (c == ')') {
			f->state = S_TEXT;
			return FRAME_OK;
		}
		if (is_ws(c)) {
			f->state = S_PERM_ITEM;
			return FRAME_OK;
		}
		if (f->state == S_PERM_ITEM && c == '\\') {
			f->state = S_PERM_BS;
			return FRAME_OK;
		}
		if (f->state != S_PERM_STAR && is_atom(c)) {
			f->state = S_PERM_ATOM;
			return FRAME_OK;
		}
		return refuse(f, "an invalid flag in a PERMANENTFLAGS code");
	case S_PERM_BS:
		if (c == '*' || is_atom(c)) {
			f->state = c == '*' ? S_PERM_STAR : S_PERM_ATOM;
			return FRAME_OK;
		}
		return refuse(f, "an invalid flag in a PERMANENTFLAGS code");
	case S_CAP_SP:
		if (!is_ws(c))
			return refuse(f, "a CAPABILITY list without capabilities");
		f->state = S_CAP_FIRST;
		return FRAME_OK;
	case S_CAP_FIRST:
		if (is_ws(c))
			return FRAME_OK;
		if (!is_atom(c))
			return refuse(f, "a CAPABILITY list without capabilities");
		f->word_len = 0;
		f->word_long = false;
		f->state = S_CAP_WORD;
		/* fall through */
	case S_CAP_WORD:
		if (is_atom(c)) {
			word_add(f, c);
			return FRAME_OK;
		}
		if (word_is(f, "AUTH="))
			return refuse(f, "a CAPABILITY list without capabilities");
		f->state = f->kind == K_STATUS ? S_TEXT : D_NORMAL;
		return step(f, c, room);
	case S_BADCS:
		if (is_ws(c))
			return FRAME_OK;
		if (c != ']')
			return refuse(f, "a BADCHARSET code with a list");
		f->state = S_TEXT;
		return FRAME_OK;
	case S_TEXT:
		if (c == '\n')
			line_end(f);
		return FRAME_OK;
	case D_NORMAL:
		if (c == '"')
			f->state = D_QUOTE;
		else if (c == '{')
			f->state = D_LIT_DIGITS, f->digits = 0, f->literal_size = 0;
		else if (c == '\n')
			line_end(f);
		return FRAME_OK;
	case D_QUOTE:
		if (c == '\r' || c == '\n')
			return refuse(f, "a quoted string across lines");
		f->state = c == '\\' ? D_QUOTE_ESC : c == '"' ? D_NORMAL : D_QUOTE;
		return FRAME_OK;
	case D_QUOTE_ESC:
		if (c == '\r' || c == '\n')
			return refuse(f, "a quoted string across lines");
		f->state = D_QUOTE;
		return FRAME_OK;
	case D_LIT_DIGITS:
		if (c >= '0' && c <= '9') {
			if (f->digits < DIGITS_MAX)
				f->literal_size = f->literal_size * 10 + (c - '0');
			else
				f->literal_size = UINT64_MAX;
			f->digits += f->digits < DIGITS_MAX;
			return FRAME_OK;
		}
		if (c != '}' || f->digits == 0)
			return refuse(f, "a literal not spelt {N} at the end of a line");
		f->state = D_LIT_CR;
		return FRAME_OK;
	case D_LIT_CR:
	case D_LIT_LF:
		if (c == '\r' && f->state == D_LIT_CR) {
			f->state = D_LIT_LF;
			return FRAME_OK;
		}
		if (c != '\n')
			return refuse(f, "a literal not spelt {N} at the end of a line");
		if (f->literal_size > room)
			return FRAME_TOO_LARGE;
		f->literal_left = f->literal_size;
		f->state = D_NORMAL; /* the line goes on after the literal */
		return FRAME_OK;
	}
	return refuse(f, "an internal error");
}

/* One byte at the start of a line: kept until the line's kind is known,
 * then the kept bytes are scanned. */
static enum frame_verdict head_byte(struct frame *f, unsigned char c, uint64_t room)
{
	if (f->head_len == sizeof(f->head))
		return refuse(f, "a response line that starts with too long a tag");
	f->head[f->head_len++] = (char)c;
	unsigned char kind = K_DATA;
	f->state = D_NORMAL;
	size_t from = classify(f, &kind);
	if (from == UNDECIDED) {
		if (c == '\n') /* a blank line */
			line_end(f);
		return FRAME_OK;
	}
	f->kind = kind;
	if (kind == K_STATUS)
		f->state = S_SP;
	/* Only the last byte kept can end the line or announce a literal, so
	 * the room after each kept byte is ROOM. */
	for (size_t k = from; k < f->head_len && f->kind != K_HEAD; k++) {
		enum frame_verdict v = step(f, (unsigned char)f->head[k], room);
		if (v != FRAME_OK)
			return v;
	}
	return FRAME_OK;
}

enum frame_verdict frame_scan(struct frame *f, const char *buf, size_t len, uint64_t allowed)
{
	size_t i = 0;
	while (i < len) {
		if (f->literal_left) {
			size_t skip = f->literal_left < len - i ? (size_t)f->literal_left : len - i;
			f->literal_left -= skip;
			i += skip;
			continue;
		}
		unsigned char c = (unsigned char)buf[i++];
		uint64_t room = allowed + (len - i);
		enum frame_verdict v = f->kind == K_HEAD ? head_byte(f, c, room) : step(f, c, room);
		if (v != FRAME_OK)
			return v;
	}
	return FRAME_OK;
}
