/* base64: a strict and fast decoder for base64 as mail clients write it
 * (RFC 2045): the alphabet, white space anywhere, whole quartets, and at
 * most two '=' that end the text.  Fed in pieces; at the end it says
 * whether the text was all of that.  Anything else is left to a lenient
 * decoder (GMime's), which decides what broken base64 means.  Pure: no
 * I/O, no allocation but the caller's array. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

struct base64_decoder {
	uint32_t acc;  /* bits of the quartet so far */
	unsigned n;    /* its sextets, 0..3 */
	unsigned need; /* '=' still owed after the first one */
	bool ended;    /* the padding is complete: only white space may follow */
	bool bad;      /* not strict base64: what was decoded is not to be used */
};

void base64_decoder_init(struct base64_decoder *d);

/* Decodes IN[0..LEN) and appends the bytes to OUT.  False once the text
 * is known not to be strict base64 (feeding more is then pointless). */
bool base64_decoder_step(struct base64_decoder *d, const uint8_t *in, size_t len, GByteArray *out);

/* True when everything fed was strict base64 and ended on a whole
 * quartet: OUT then holds exactly the encoded bytes. */
bool base64_decoder_finish(const struct base64_decoder *d);

/* After the last step, for text that is strict but for its end: the
 * bytes of a last group that lacks its '=' padding ("QUI" gives "AB";
 * "QQ" and "QQ=" give "A"), as every mainstream decoder reads it, are
 * appended to OUT, and the decoder is then finished.  False when bits
 * are lost: a last group of one sextet (no whole byte), or text that is
 * not strict base64 (nothing is appended). */
bool base64_decoder_end(struct base64_decoder *d, GByteArray *out);

/* The last group of a text that is not strict base64 and has no '=' at
 * all, as GMime's lenient decoder counts groups (anything outside the
 * alphabet skipped): GMime drops a last group that is not whole; its
 * bytes are what the other decoders (Python's email, GLib) make of it.
 * Where a '=' stands, GMime's padding rules decide. */
struct base64_tail {
	uint8_t last[3]; /* the group's characters so far */
	unsigned n;      /* how many, 0..3 */
	bool pad;        /* a '=' was seen */
};

void base64_tail_init(struct base64_tail *t);
void base64_tail_step(struct base64_tail *t, const uint8_t *in, size_t len);
/* Appends the last group's bytes (0 to 2) to OUT (none after a '=');
 * false when bits are lost (one character of data in it). */
bool base64_tail_end(const struct base64_tail *t, GByteArray *out);
