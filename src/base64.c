#include "base64.h"

#include <string.h>

enum { WS = 64, PAD = 65, BAD = 255 };

/* The sextet of each byte, or WS, PAD, BAD. */
static const uint8_t *rank(void)
{
	static uint8_t t[256];
	static gsize done = 0;
	if (g_once_init_enter(&done)) {
		static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		memset(t, BAD, sizeof(t));
		for (unsigned i = 0; i < 64; i++)
			t[(uint8_t)alphabet[i]] = (uint8_t)i;
		/* g_ascii_isspace(): what GMime's decoder skips and mail puts in. */
		t[' '] = t['\t'] = t['\n'] = t['\r'] = t['\v'] = t['\f'] = WS;
		t['='] = PAD;
		g_once_init_leave(&done, 1);
	}
	return t;
}

void base64_decoder_init(struct base64_decoder *d)
{
	*d = (struct base64_decoder){ 0 };
	rank();
}

bool base64_decoder_step(struct base64_decoder *d, const uint8_t *in, size_t len, GByteArray *out)
{
	const uint8_t *t = rank();
	if (d->bad)
		return false;
	size_t base = out->len;
	g_byte_array_set_size(out, (guint)(base + len / 4 * 3 + 3));
	uint8_t *o = out->data + base;
	const uint8_t *p = in, *e = in + len;
	uint32_t acc = d->acc;
	unsigned n = d->n;

	while (p < e) {
		if (n == 0 && !d->need && !d->ended) {
			/* Whole quartets of the alphabet: the bulk of every line. */
			while (e - p >= 4) {
				uint8_t a = t[p[0]], b = t[p[1]], c = t[p[2]], x = t[p[3]];
				if ((a | b | c | x) & 0xc0)
					break;
				uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | x;
				o[0] = (uint8_t)(v >> 16);
				o[1] = (uint8_t)(v >> 8);
				o[2] = (uint8_t)v;
				o += 3;
				p += 4;
			}
			if (p == e)
				break;
		}
		uint8_t v = t[*p++];
		if (v == WS)
			continue;
		if (v < 64 && !d->need && !d->ended) {
			acc = acc << 6 | v;
			if (++n == 4) {
				o[0] = (uint8_t)(acc >> 16);
				o[1] = (uint8_t)(acc >> 8);
				o[2] = (uint8_t)acc;
				o += 3;
				n = 0;
				acc = 0;
			}
		} else if (v == PAD && d->need) {
			/* "xx==": the second '='. */
			d->need = 0;
			d->ended = true;
		} else if (v == PAD && !d->ended && (n == 2 || n == 3)) {
			/* "xx=" owes one more '='; "xxx=" is complete. */
			if (n == 2) {
				*o++ = (uint8_t)(acc >> 4);
				d->need = 1;
			} else {
				*o++ = (uint8_t)(acc >> 10);
				*o++ = (uint8_t)(acc >> 2);
				d->ended = true;
			}
			n = 0;
			acc = 0;
		} else {
			d->bad = true;
			break;
		}
	}
	d->acc = acc;
	d->n = n;
	g_byte_array_set_size(out, (guint)(o - out->data));
	return !d->bad;
}

bool base64_decoder_finish(const struct base64_decoder *d)
{
	return !d->bad && d->n == 0 && !d->need;
}
