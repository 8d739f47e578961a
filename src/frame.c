#include "frame.h"

#include <string.h>

#define PERMFLAGS "* OK [PERMANENTFLAGS ("

/* What may appear in a flag list: atom characters, '\' and '*' (flag-perm
 * "\*"), and the spaces between flags. */
static bool flag_char(unsigned char c)
{
	if (c <= 0x1f || c >= 0x7f)
		return false;
	return !strchr("(){%\"]", c);
}

/* "{123}" or "{123+}" at the end of the line's tail: the announced size. */
static bool literal_size(const struct frame *f, uint64_t *n)
{
	size_t end = f->tail_len;
	if (end < 3 || f->tail[end - 1] != '}')
		return false;
	size_t i = end - 1;
	if (i > 0 && f->tail[i - 1] == '+')
		i--;
	size_t digits_end = i;
	while (i > 0 && f->tail[i - 1] >= '0' && f->tail[i - 1] <= '9')
		i--;
	if (i == 0 && digits_end > 0 && f->tail_overflow) {
		*n = UINT64_MAX; /* more digits than the tail holds: absurd */
		return true;
	}
	if (i == 0 || f->tail[i - 1] != '{' || i == digits_end)
		return false;
	uint64_t v = 0;
	for (size_t k = i; k < digits_end; k++) {
		if (v > (UINT64_MAX - 9) / 10) {
			v = UINT64_MAX; /* absurd: larger than anything allowed */
			break;
		}
		v = v * 10 + (uint64_t)(f->tail[k] - '0');
	}
	*n = v;
	return true;
}

bool frame_scan(struct frame *f, char *buf, size_t len, uint64_t allowed)
{
	size_t i = 0;
	while (i < len) {
		if (f->literal_left) {
			size_t skip = f->literal_left < len - i ? (size_t)f->literal_left : len - i;
			f->literal_left -= skip;
			i += skip;
			continue;
		}
		unsigned char c = (unsigned char)buf[i];
		if (f->in_permflags) {
			if (c == ')' || c == '\r' || c == '\n')
				f->in_permflags = false;
			else if (!flag_char(c))
				buf[i] = 'X', c = 'X';
		}
		if (f->head_len < sizeof(f->head)) {
			f->head[f->head_len++] = (char)c;
			if (f->head_len == strlen(PERMFLAGS) && !memcmp(f->head, PERMFLAGS, f->head_len))
				f->in_permflags = true;
		}
		if (f->tail_len == sizeof(f->tail)) {
			memmove(f->tail, f->tail + 1, sizeof(f->tail) - 1);
			f->tail_len--;
			f->tail_overflow = true;
		}
		f->tail[f->tail_len++] = (char)c;
		i++;
		if (c != '\n')
			continue;
		/* End of a line: a literal follows when it ended in {N}. */
		uint64_t n = 0;
		f->tail_len -= f->tail_len >= 2 && f->tail[f->tail_len - 2] == '\r' ? 2 : 1;
		bool lit = literal_size(f, &n);
		f->tail_len = 0;
		f->tail_overflow = false;
		f->in_permflags = false;
		if (lit) {
			if (n > allowed + (len - i))
				return false;
			f->literal_left = n;
			f->head_len = sizeof(f->head) + 1; /* the line goes on after the literal */
		} else {
			f->head_len = 0;
		}
	}
	return true;
}
