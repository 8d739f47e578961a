/* libFuzzer target over frame_scan(), the IMAP framing our stream driver
 * follows before libetpan parses a byte.  Input: one byte whose low four
 * bits are a count K, K chunk lengths (one byte each), then the server's
 * bytes.  They are scanned whole, one byte at a time and in the chunks
 * chosen, with the rest of the input as the response's budget (a scan
 * stops at the first verdict other than FRAME_OK, as the driver drops the
 * stream then), and:
 *  - the verdict is the same however the stream was cut into reads;
 *  - a refusal always says why;
 *  - a FETCH data line ending in a literal "{N}" that runs past the budget
 *    is never passed on (the first line of the input, checked by a
 *    reference reading of it: the scanner may refuse more, which is the
 *    safe side).
 * frame_scan() never changes a byte (its buffer is const).  Seeds:
 * fixtures/fuzz-frame/. */
#include "frame.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scans IN[0..N) in reads of LENS[0..K) bytes (then the rest in one). */
static enum frame_verdict scan(const char *in, size_t n, const uint8_t *lens, size_t k)
{
	struct frame f = { 0 };
	size_t off = 0;
	for (size_t c = 0; c <= k && off <= n; c++) {
		size_t len = c < k ? MIN((size_t)lens[c], n - off) : n - off;
		enum frame_verdict v = frame_scan(&f, in + off, len, n - off - len);
		if (v != FRAME_OK) {
			if (v == FRAME_REFUSED && !f.why)
				abort(); /* a refusal without a reason */
			return v;
		}
		off += len;
		if (off == n)
			break;
	}
	return FRAME_OK;
}

/* "* NUMBER FETCH ... {N}" as the first line of IN[0..N): whether its
 * literal runs past the rest of the input. */
static bool first_fetch_literal_too_large(const char *in, size_t n)
{
	const char *nl = memchr(in, '\n', n);
	if (!nl)
		return false;
	size_t e = (size_t)(nl - in), cl = e - (e > 0 && in[e - 1] == '\r');
	size_t i = 0;
	if (cl < 2 || in[0] != '*' || in[1] != ' ')
		return false;
	for (i = 2; i < cl && g_ascii_isdigit(in[i]); i++)
		;
	if (i == 2 || i + 7 > cl || memcmp(in + i, " FETCH ", 7) != 0)
		return false;
	if (in[cl - 1] != '}')
		return false;
	size_t j = cl - 1, end = j;
	while (j > 0 && g_ascii_isdigit(in[j - 1]))
		j--;
	if (j == 0 || j == end || in[j - 1] != '{' || end - j > 18)
		return false;
	uint64_t lit = g_ascii_strtoull(in + j, NULL, 10);
	return lit > n - (e + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t k = MIN((size_t)(data[0] & 0x0f), size - 1);
	const uint8_t *lens = data + 1;
	const char *in = (const char *)data + 1 + k;
	size_t n = size - 1 - k;
	enum frame_verdict whole = scan(in, n, NULL, 0);
	/* One byte per read. */
	struct frame f = { 0 };
	enum frame_verdict bytes = FRAME_OK;
	for (size_t i = 0; i < n && bytes == FRAME_OK; i++)
		bytes = frame_scan(&f, in + i, 1, n - i - 1);
	if (bytes != whole)
		abort(); /* depends on how the stream was cut */
	if (scan(in, n, lens, k) != whole)
		abort();
	if (whole == FRAME_OK && first_fetch_literal_too_large(in, n))
		abort(); /* a literal past the budget reached libetpan */
	return 0;
}
