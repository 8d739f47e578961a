#include "tnef.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <glib.h>

#define TNEF_SIGNATURE 0x223E9F78u
#define LVL_MESSAGE 1
#define LVL_ATTACHMENT 2
#define ATT_ATTACH_RENDDATA 0x00069002u
#define ATT_ATTACH_TITLE 0x00018010u
#define ATT_ATTACH_DATA 0x0006800Fu
#define ATT_ATTACHMENT 0x00069005u /* MAPI properties of the attachment */
#define PR_ATTACH_LONG_FILENAME 0x3707u
#define PT_STRING8 0x001Eu
#define PT_UNICODE 0x001Fu
#define MV_FLAG 0x1000u

struct reader {
	const uint8_t *p, *end;
};

static bool take(struct reader *r, size_t n, const uint8_t **out)
{
	if ((size_t)(r->end - r->p) < n)
		return false;
	*out = r->p;
	r->p += n;
	return true;
}

static bool u16(struct reader *r, uint32_t *v)
{
	const uint8_t *b;
	if (!take(r, 2, &b))
		return false;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8;
	return true;
}

static bool u32(struct reader *r, uint32_t *v)
{
	const uint8_t *b;
	if (!take(r, 4, &b))
		return false;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return true;
}

static char *text_cp1252(const uint8_t *s, size_t n)
{
	size_t len = strnlen((const char *)s, n);
	if (g_utf8_validate((const char *)s, (gssize)len, NULL))
		return g_strndup((const char *)s, len);
	char *u = g_convert((const char *)s, (gssize)len, "UTF-8", "WINDOWS-1252", NULL, NULL, NULL);
	return u ? u : g_utf8_make_valid((const char *)s, (gssize)len);
}

static char *text_utf16(const uint8_t *s, size_t n)
{
	size_t units = n / 2;
	gunichar2 *w = g_new(gunichar2, units + 1);
	size_t k = 0;
	for (; k < units; k++) {
		w[k] = (gunichar2)(s[2 * k] | s[2 * k + 1] << 8);
		if (!w[k])
			break;
	}
	char *u = g_utf16_to_utf8(w, (glong)k, NULL, NULL, NULL);
	g_free(w);
	return u;
}

/* A value of a variable-length MAPI type: count, then length + padded data. */
static bool skip_or_read_var(struct reader *r, bool want, uint32_t type, char **out)
{
	uint32_t count, len;
	const uint8_t *d;
	if (!u32(r, &count) || count > 1024)
		return false;
	for (uint32_t i = 0; i < count; i++) {
		if (!u32(r, &len) || !take(r, len, &d) || !take(r, (4 - len % 4) % 4, &(const uint8_t *){ NULL }))
			return false;
		if (want && i == 0 && !*out)
			*out = type == PT_UNICODE ? text_utf16(d, len) : text_cp1252(d, len);
	}
	return true;
}

static size_t fixed_size(uint32_t type)
{
	switch (type & ~MV_FLAG) {
	case 0x0002:
	case 0x0003:
	case 0x0004:
	case 0x000A:
	case 0x000B:
		return 4; /* padded to 4 */
	case 0x0005:
	case 0x0006:
	case 0x0007:
	case 0x0014:
	case 0x0040:
		return 8;
	case 0x0048:
		return 16;
	default:
		return 0;
	}
}

/* attAttachment: the MAPI property list; we want PR_ATTACH_LONG_FILENAME. */
static char *long_filename(const uint8_t *p, size_t len)
{
	struct reader r = { p, p + len };
	uint32_t count;
	char *name = NULL;
	if (!u32(&r, &count) || count > 4096)
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t type, id;
		if (!u16(&r, &type) || !u16(&r, &id))
			break;
		if (id >= 0x8000) { /* named property: GUID, kind, id or name */
			const uint8_t *guid;
			uint32_t kind, v;
			if (!take(&r, 16, &guid) || !u32(&r, &kind) || !u32(&r, &v))
				break;
			if (kind == 1 && (!take(&r, v, &guid) || !take(&r, (4 - v % 4) % 4, &guid)))
				break;
		}
		uint32_t base = type & ~MV_FLAG;
		if (base == PT_STRING8 || base == PT_UNICODE || base == 0x0102 /* binary */ || base == 0x000D) {
			if (!skip_or_read_var(&r, id == PR_ATTACH_LONG_FILENAME && base != 0x0102 && base != 0x000D,
					      base, &name))
				break;
			continue;
		}
		size_t size = fixed_size(type);
		if (!size)
			break; /* a type we do not know: stop reading, keep what we have */
		uint32_t n = 1;
		if ((type & MV_FLAG) && (!u32(&r, &n) || n > 4096))
			break;
		const uint8_t *skip;
		if (!take(&r, (size_t)n * size, &skip))
			break;
	}
	return name;
}

int tnef_parse(const uint8_t *in, size_t len, struct tnef_result *ret, const char **ret_why)
{
	uint32_t sig, key;
	struct tnef_file *cur = NULL;

	memset(ret, 0, sizeof(*ret));
	*ret_why = NULL;
	if (len == 0) { /* an empty part comes as NULL, 0: no pointer arithmetic on it */
		*ret_why = "not TNEF";
		return -EBADMSG;
	}
	struct reader r = { in, in + len };
	if (!u32(&r, &sig) || sig != TNEF_SIGNATURE || !u16(&r, &key)) {
		*ret_why = "not TNEF";
		return -EBADMSG;
	}
	while (r.p < r.end) {
		const uint8_t *lvl, *data;
		uint32_t id, length, checksum;
		if (!take(&r, 1, &lvl) || !u32(&r, &id) || !u32(&r, &length)) {
			*ret_why = "truncated attribute header";
			return -EBADMSG;
		}
		if (!take(&r, length, &data)) {
			*ret_why = "attribute longer than the file";
			return -EBADMSG;
		}
		if (!u16(&r, &checksum)) {
			*ret_why = "truncated attribute";
			return -EBADMSG;
		}
		uint32_t sum = 0;
		for (uint32_t i = 0; i < length; i++)
			sum += data[i];
		if ((sum & 0xffff) != checksum)
			ret->bad_checksums++; /* recorded, not fatal: the bounds decide */
		if (*lvl != LVL_ATTACHMENT)
			continue;
		if (id == ATT_ATTACH_RENDDATA) {
			if (ret->n_files == TNEF_MAX_FILES) {
				*ret_why = "too many attachments";
				return -EBADMSG;
			}
			cur = &ret->files[ret->n_files++];
		} else if (cur && id == ATT_ATTACH_TITLE && !cur->name) {
			cur->name = text_cp1252(data, length);
		} else if (cur && id == ATT_ATTACH_DATA) {
			cur->data = data;
			cur->size = length;
		} else if (cur && id == ATT_ATTACHMENT) {
			char *lfn = long_filename(data, length);
			if (lfn && *lfn) {
				g_free(cur->name);
				cur->name = lfn;
			} else {
				g_free(lfn);
			}
		}
	}
	return 0;
}

void tnef_result_clear(struct tnef_result *r)
{
	for (size_t i = 0; i < r->n_files; i++)
		g_free(r->files[i].name);
	memset(r, 0, sizeof(*r));
}
