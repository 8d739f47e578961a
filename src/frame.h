/* frame: follows the framing of an IMAP server's byte stream — lines,
 * quoted strings and {N} literals — as it passes through our stream
 * driver, before libetpan parses it.  Pure: bytes in, a verdict out; it
 * never changes a byte and never allocates.
 *
 * It exists for faults of Debian's libetpan 1.9.4 that a hostile or
 * broken server could trigger; a response that would reach one is refused
 * (FRAME_REFUSED: the session is dropped as a protocol error) before
 * libetpan sees its bytes:
 *  - a literal announced larger than the response may be ({4294967296}
 *    wraps to 0 in its 32-bit parser; {4294967295} makes it allocate
 *    4 GiB): FRAME_TOO_LARGE;
 *  - NULL lists it dereferences: a PERMANENTFLAGS code whose list does not
 *    start with a flag ("(%)", "(\)"), a CAPABILITY code or response with
 *    no capability ("[CAPABILITY]", "* CAPABILITY"), a BADCHARSET code
 *    with a list (its second one in a response frees a NULL or freed list).
 *
 * To see the tokens libetpan will see, it reads a line as libetpan does:
 * spaces and tabs wherever libetpan skips them, keywords in any case;
 * status responses ("* OK", "tag NO", "* BYE", "+ …") carry text, in which
 * "{N}" is not a literal; in other responses a '{' outside a quoted string
 * must be exactly "{digits}" ending the line (a literal), and a quoted
 * string must end on its line.  Every spelling libetpan reads otherwise
 * (its "{ N }", "{N}text", quoted strings across lines) is refused, so the
 * two never disagree on where a literal's bytes are. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum frame_verdict {
	FRAME_OK = 0,
	FRAME_TOO_LARGE, /* a literal larger than the response may be */
	FRAME_REFUSED,   /* a spelling libetpan would crash on, or read otherwise */
};

struct frame {
	uint64_t literal_left; /* bytes of the current literal still to come */
	uint64_t literal_size; /* the digits of a "{N}" being read */
	const char *why;       /* after FRAME_REFUSED: what was refused */
	char head[48];         /* the start of a line, until its kind is known */
	unsigned char head_len;
	char word[16]; /* a keyword being read */
	unsigned char word_len;
	bool word_long;      /* longer than word */
	unsigned char kind;  /* the current line's kind */
	unsigned char state; /* where in that line */
	unsigned char digits;
};

/* Scans BUF[0..LEN).  ALLOWED is how many bytes may still follow BUF in
 * this response.  Once it returned other than FRAME_OK, the stream must be
 * dropped. */
enum frame_verdict frame_scan(struct frame *f, const char *buf, size_t len, uint64_t allowed);
