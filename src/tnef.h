/* tnef: a small, bounded decoder for Outlook's TNEF (winmail.dat,
 * application/ms-tnef) that takes out the attached files.  Pure: it reads
 * only the bytes it is given, every length is checked against what is
 * left, and nothing is allocated in proportion to a length field.
 * Returned data points into the input; names are owned by the result. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define TNEF_MAX_FILES 256

struct tnef_file {
	char *name;          /* the long file name when given, else the 8.3 title; UTF-8 */
	const uint8_t *data; /* into the input */
	size_t size;
};

struct tnef_result {
	struct tnef_file files[TNEF_MAX_FILES];
	size_t n_files;
	size_t bad_checksums; /* attributes whose checksum did not match (read anyway) */
};

/* 0 when TNEF was read to its end; -EBADMSG (with *ret_why set) when it is
 * not TNEF, is truncated or lies about a length; the files read so far are
 * kept either way.  A per-attribute checksum that does not match (some
 * writers leave them zero) is counted in ->bad_checksums, not refused, as
 * libytnef does: every length is still checked against what is left. */
int tnef_parse(const uint8_t *in, size_t len, struct tnef_result *ret, const char **ret_why);
void tnef_result_clear(struct tnef_result *r);
typedef struct tnef_result TnefResult;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TnefResult, tnef_result_clear)
