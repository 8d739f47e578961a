/* mimescan: a linear pre-scan of a raw message's structure, before GMime
 * builds it.  GMime keeps every header field and part of a message in
 * memory at tens of times the bytes that make them; the scan follows the
 * bytes as GMime's parser reads them — header blocks, the boundaries of the enclosing multiparts,
 * forwarded message/rfc822 parts that GMime goes into — and counts what
 * the parser would build and what mime's walker would visit, without
 * building it.  When a limit would be passed it says where: the parser
 * is then given only the bytes before that offset (mime.c).
 *
 * Counting follows GMime at line granularity and errs on the side of
 * more: every line that starts a header field counts as a field (GMime
 * drops some invalid ones).  Pure: bytes in, counts out; no I/O.  Uses
 * GMime's own parsers for Content-Type values, so that boundaries are
 * read as GMime reads them (its options: OPTIONS). */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gmime/gmime.h>

struct mimescan_limits {
	unsigned max_depth;            /* a part deeper than this: MIMESCAN_TOO_DEEP */
	unsigned max_parts;            /* parts (as mime's walker counts them) beyond this: MIMESCAN_TOO_MANY_PARTS */
	unsigned max_fields;           /* fields in one header (the message's or a part's); 0: none */
	uint64_t max_fields_total;     /* fields in all the headers together; 0: none */
	uint64_t max_header_bytes;     /* bytes of all the headers together; 0: none */
	unsigned depth;                /* depth of the first part (the walker's, for content inside a part) */
	unsigned parts;                /* parts the walker has counted before this content */
	uint64_t fields, header_bytes; /* header fields and bytes already counted (for the totals) */
	const atomic_int *stop;        /* when set, the scan ends (MIMESCAN_STOPPED); may be NULL */
	/* Told now and then that the scan has gone past OFFSET: the caller
	 * may drop mapped pages before it (the scan may still look back, it
	 * never writes).  May be NULL. */
	void (*passed)(size_t offset, void *data);
	void *passed_data;
};

enum mimescan_flags {
	MIMESCAN_TOO_DEEP = 1u << 0,
	MIMESCAN_TOO_MANY_PARTS = 1u << 1,
	MIMESCAN_TOO_MANY_HEADERS = 1u << 2,
	MIMESCAN_STOPPED = 1u << 3, /* *stop was set: the counts are partial */
};

struct mimescan_result {
	unsigned flags;        /* enum mimescan_flags */
	size_t cut;            /* the parser may see bytes [0, cut): the length when nothing was exceeded */
	unsigned parts;        /* parts counted before the cut (including limits->parts) */
	unsigned depth;        /* the deepest part counted */
	uint64_t fields;       /* header fields before the cut */
	uint64_t header_bytes; /* header bytes before the cut */
};

enum mimescan_kind {
	MIMESCAN_MESSAGE, /* g_mime_parser_construct_message() */
	MIMESCAN_PART,    /* g_mime_parser_construct_part() */
};

/* Scans LEN bytes at DATA as GMime's parser would read them as KIND.
 * OPTIONS are the parser options GMime will use (may be NULL). */
void mimescan(const char *data, size_t len, enum mimescan_kind kind, const struct mimescan_limits *limits,
	      GMimeParserOptions *options, struct mimescan_result *out);
