#include "base64.h"

#include <string.h>

enum { WS = 64, PAD = 65, BAD = 255 };

/* The sextet of each byte, or WS, PAD, BAD; and the same sextet already
 * in its place in a quartet's 24 bits (QUAD[k] for its k-th character),
 * with NOT_SEXTET for anything but the alphabet. */
#define NOT_SEXTET 0x80000000u
static struct tables {
	uint8_t rank[256];
	uint32_t quad[4][256];
} tables;

static const struct tables *tables_get(void)
{
	static gsize done = 0;
	if (g_once_init_enter(&done)) {
		static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		memset(tables.rank, BAD, sizeof(tables.rank));
		for (unsigned i = 0; i < 64; i++)
			tables.rank[(uint8_t)alphabet[i]] = (uint8_t)i;
		/* g_ascii_isspace(): what GMime's decoder skips and mail puts in. */
		tables.rank[' '] = tables.rank['\t'] = tables.rank['\n'] = tables.rank['\r'] = tables.rank['\v'] =
			tables.rank['\f'] = WS;
		tables.rank['='] = PAD;
		for (unsigned c = 0; c < 256; c++)
			for (unsigned k = 0; k < 4; k++)
				tables.quad[k][c] =
					tables.rank[c] < 64 ? (uint32_t)tables.rank[c] << (18 - 6 * k) : NOT_SEXTET;
		g_once_init_leave(&done, 1);
	}
	return &tables;
}

void base64_decoder_init(struct base64_decoder *d)
{
	*d = (struct base64_decoder){ 0 };
	tables_get();
}

bool base64_decoder_step(struct base64_decoder *d, const uint8_t *in, size_t len, GByteArray *out)
{
	const struct tables *tb = tables_get();
	const uint8_t *t = tb->rank;
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
			/* Whole quartets of the alphabet, and the line ends between
			 * them: the bulk of every text. */
			for (;;) {
				while (e - p >= 4) {
					uint32_t v = tb->quad[0][p[0]] | tb->quad[1][p[1]] | tb->quad[2][p[2]] |
						     tb->quad[3][p[3]];
					if (v & NOT_SEXTET)
						break;
					o[0] = (uint8_t)(v >> 16);
					o[1] = (uint8_t)(v >> 8);
					o[2] = (uint8_t)v;
					o += 3;
					p += 4;
				}
				if (p == e || t[*p] != WS)
					break;
				while (p < e && t[*p] == WS)
					p++;
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

bool base64_decoder_end(struct base64_decoder *d, GByteArray *out)
{
	if (d->bad)
		return false;
	uint8_t b[2] = { (uint8_t)(d->acc >> 10), (uint8_t)(d->acc >> 2) };
	bool whole = d->n != 1;
	if (d->n == 2)
		b[0] = (uint8_t)(d->acc >> 4);
	if (d->n >= 2)
		g_byte_array_append(out, b, d->n - 1);
	d->n = 0;
	d->acc = 0;
	d->need = 0;
	d->ended = true;
	return whole;
}

void base64_tail_init(struct base64_tail *t)
{
	*t = (struct base64_tail){ 0 };
	tables_get();
}

void base64_tail_step(struct base64_tail *t, const uint8_t *in, size_t len)
{
	const uint8_t *rank = tables_get()->rank;
	for (size_t i = 0; i < len; i++) {
		if (rank[in[i]] == PAD)
			t->pad = true;
		if (rank[in[i]] >= 64)
			continue;
		if (t->n == 3)
			t->n = 0;
		else
			t->last[t->n++] = in[i];
	}
}

bool base64_tail_end(const struct base64_tail *t, GByteArray *out)
{
	const uint8_t *rank = tables_get()->rank;
	unsigned k = t->pad ? 0 : t->n;
	uint32_t acc = 0;
	for (unsigned i = 0; i < k; i++)
		acc = acc << 6 | rank[t->last[i]];
	if (k == 2) {
		uint8_t b = (uint8_t)(acc >> 4);
		g_byte_array_append(out, &b, 1);
	} else if (k == 3) {
		uint8_t b[2] = { (uint8_t)(acc >> 10), (uint8_t)(acc >> 2) };
		g_byte_array_append(out, b, 2);
	}
	return k != 1;
}
