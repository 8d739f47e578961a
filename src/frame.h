/* frame: follows the framing of an IMAP server's byte stream — lines and
 * {N} literals — as it passes through our stream driver, before libetpan
 * parses it.  Pure: bytes in, a verdict out; no allocation.
 *
 * It exists for two faults of Debian's libetpan 1.9.4 that a hostile or
 * broken server could trigger:
 *  - a literal announced larger than the response may be ({4294967296}
 *    wraps to 0 in its 32-bit parser; {4294967295} makes it allocate
 *    4 GiB): frame_scan() reports it before libetpan sees it;
 *  - "* OK [PERMANENTFLAGS (%)]" (an invalid flag) makes its parser free a
 *    NULL list and crash: bytes that cannot be in a flag there are
 *    replaced with 'X' — only in that response code, never in a literal
 *    (message bytes are never touched). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame {
	uint64_t literal_left;  /* bytes of the current literal still to come */
	char head[24];          /* the first bytes of the current line */
	size_t head_len;        /* sizeof(head) + 1: not at a line start (after a literal) */
	char tail[32];          /* the last bytes of the current line */
	size_t tail_len;
	bool tail_overflow;     /* the line was longer than tail */
	bool in_permflags;      /* inside the list of "* OK [PERMANENTFLAGS (" */
};

/* Scans BUF[0..LEN) (modifying it only as described above).  ALLOWED is
 * how many bytes may still follow BUF in this response.  Returns false
 * when a literal announced in BUF is larger than that. */
bool frame_scan(struct frame *f, char *buf, size_t len, uint64_t allowed);
