/* libFuzzer target over frame_scan(), the IMAP framing our stream driver
 * follows before libetpan parses a byte.  Input: one byte whose low four
 * bits are a count K, K chunk lengths (one byte each), then the server's
 * bytes.  They are scanned whole, one byte at a time and in the chunks
 * chosen, with the rest of the input as the response's budget, and:
 *  - the verdict and the bytes passed on are the same however the stream
 *    was cut into reads;
 *  - scanning the result again changes nothing;
 *  - a byte is changed only to 'X', only in a line that starts with
 *    "* OK [PERMANENTFLAGS" (any case), never inside a literal;
 *  - a literal that runs past the budget is always refused.
 * Literals are found by a reference parser below on the bytes libetpan
 * would see (refusing more than it, e.g. a size of 30 digits, is allowed:
 * that is the safe side).  Seeds: fixtures/fuzz-frame/. */
#include "frame.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PERMFLAGS "* OK [PERMANENTFLAGS"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scans a copy of IN[0..N) in reads of LENS[0..K) bytes (then the rest
 * in one); returns the verdict. */
static bool scan(const uint8_t *in, size_t n, const uint8_t *lens, size_t k, char *out)
{
	struct frame f = { 0 };
	memcpy(out, in, n);
	size_t off = 0;
	for (size_t c = 0; c <= k; c++) {
		size_t len = c < k ? MIN((size_t)lens[c], n - off) : n - off;
		if (!frame_scan(&f, out + off, len, n - off - len))
			return false;
		off += len;
	}
	return true;
}

/* A literal "{N}" or "{N+}" ending the line LINE[0..LEN) (its CR LF
 * removed): its size, saturated. */
static bool ref_literal(const char *line, size_t len, uint64_t *n)
{
	if (len < 3 || line[len - 1] != '}')
		return false;
	size_t i = len - 1;
	if (line[i - 1] == '+')
		i--;
	size_t end = i;
	while (i > 0 && g_ascii_isdigit(line[i - 1]))
		i--;
	if (i == 0 || i == end || line[i - 1] != '{')
		return false;
	uint64_t v = 0;
	for (size_t j = i; j < end; j++)
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (uint64_t)(line[j] - '0');
	*n = v;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t k = MIN((size_t)(data[0] & 0x0f), size - 1);
	const uint8_t *lens = data + 1, *in = data + 1 + k;
	size_t n = size - 1 - k;
	char *whole = g_malloc(n + 1), *bytes = g_malloc(n + 1), *chunks = g_malloc(n + 1), *again = g_malloc(n + 1);
	bool ok = scan(in, n, NULL, 0, whole);
	/* One byte per read. */
	struct frame f = { 0 };
	bool ok_bytes = true;
	memcpy(bytes, in, n);
	for (size_t i = 0; i < n && ok_bytes; i++)
		ok_bytes = frame_scan(&f, bytes + i, 1, n - i - 1);
	if (ok_bytes != ok || memcmp(bytes, whole, n))
		abort(); /* depends on how the stream was cut */
	if (scan(in, n, lens, k, chunks) != ok || memcmp(chunks, whole, n))
		abort();
	if (scan((const uint8_t *)whole, n, NULL, 0, again) != ok || memcmp(again, whole, n))
		abort(); /* not idempotent */

	/* The reference framing of what libetpan gets. */
	bool *literal = g_new0(bool, n + 1), *permline = g_new0(bool, n + 1);
	bool line_start = true, oversize = false;
	size_t pos = 0;
	while (pos < n) {
		const char *nl = memchr(whole + pos, '\n', n - pos);
		size_t e = nl ? (size_t)(nl - whole) : n;
		bool perm = line_start && e - pos >= strlen(PERMFLAGS) &&
			    !g_ascii_strncasecmp(whole + pos, PERMFLAGS, strlen(PERMFLAGS));
		for (size_t i = pos; i < e; i++)
			permline[i] = perm;
		if (!nl)
			break;
		size_t cl = e - pos - (e > pos && whole[e - 1] == '\r');
		uint64_t lit = 0;
		bool has_lit = ref_literal(whole + pos, cl, &lit);
		pos = e + 1;
		line_start = !has_lit;
		if (has_lit) {
			if (lit > n - pos) {
				oversize = true;
				break;
			}
			for (size_t i = pos; i < pos + lit; i++)
				literal[i] = true;
			pos += (size_t)lit;
		}
	}
	if (oversize && ok)
		abort(); /* a literal past the budget reached libetpan */
	for (size_t i = 0; i < n; i++) {
		if (whole[i] == (char)in[i])
			continue;
		if (whole[i] != 'X' || literal[i] || !permline[i])
			abort(); /* changed what it must not */
	}
	g_free(literal);
	g_free(permline);
	g_free(whole);
	g_free(bytes);
	g_free(chunks);
	g_free(again);
	return 0;
}
