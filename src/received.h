/* received: when the authority's own mail servers first had a message —
 * the "edge arrival" — from its Received: headers.  Pure functions: the
 * header values, the trusted relays and INTERNALDATE are passed in.
 *
 * Received: headers are prepended, so they are walked from the top (the
 * newest).  A header is trusted only while it was stamped ("by") by a
 * trusted relay and every header above it took the message "from" a trusted
 * relay.  The edge is the last trusted header: the one in which a trusted
 * relay took the message from outside (or the bottom one, when every hop
 * was inside).  Everything below it was written by the sender's side, even
 * a header that names a trusted host, and is never read for the edge. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* [evidence] max_edge_skew: how far the edge time may lie after
 * INTERNALDATE (clocks of two servers) before it is not believed. */
#define RECEIVED_DEFAULT_MAX_SKEW 300

enum received_why {
	RECEIVED_EDGE,          /* found: the edge time is set */
	RECEIVED_NO_RELAYS,     /* no trusted relays configured */
	RECEIVED_NO_HEADERS,    /* the message has no Received: header */
	RECEIVED_UNTRUSTED_TOP, /* the newest Received: was not stamped by a trusted relay */
	RECEIVED_BAD_DATE,      /* the edge header's date is missing or cannot be read */
	RECEIVED_AFTER_ARRIVAL, /* the edge header's date lies after INTERNALDATE beyond the skew */
	RECEIVED_NO_ARRIVAL,    /* no INTERNALDATE to check the edge time against */
};

struct received_edge {
	enum received_why why;
	size_t index; /* the edge header (0 = topmost), also when its date failed */
	int64_t when; /* with RECEIVED_EDGE: Unix time */
	int offset;   /* its UTC offset, minutes east */
};

/* Walks VALUES (N Received: header values, topmost first; folded or not)
 * against PATTERNS (NULL-terminated shell globs, '*' and '?', matched
 * case-insensitively against host names; NULL or empty: none trusted).
 * ARRIVAL is INTERNALDATE when HAS_ARRIVAL; an edge time more than MAX_SKEW
 * seconds after it is refused.  Always fills *RET; never fails. */
void received_edge(const char *const *values, size_t n, const char *const *patterns, bool has_arrival, int64_t arrival,
		   int64_t max_skew, struct received_edge *ret);

/* "no-trusted-relays", "no-received", "untrusted-top", "bad-date",
 * "after-arrival", "no-arrival"; NULL for RECEIVED_EDGE. */
const char *received_why_name(enum received_why why);

/* Whether HOST (a trailing dot ignored) matches the glob PATTERN,
 * case-insensitively. */
bool received_host_match(const char *pattern, const char *host);

/* Whether PATTERN is a usable host name pattern: letters, digits, '-',
 * '_', '.', '*' and '?', not empty. */
bool received_pattern_valid(const char *pattern);

/* The date of an RFC 5322 date-time ("Fri, 1 Jul 2022 23:59:40 +0000",
 * the day name optional, seconds optional, obsolete zone names UT, GMT,
 * Z, EST … PDT; a trailing comment such as "(CEST)" ignored).  Strict:
 * anything else is refused (-EINVAL), never guessed.  0 on success. */
int received_parse_date(const char *text, int64_t *ret_when, int *ret_offset);

/* The parts of one Received: value the walk reads.  BY and FROM are the
 * host names (newly allocated, lower case, or NULL when absent or not a
 * name); FROM is the name the receiving server verified where it wrote
 * one in the comment after the HELO name, else the HELO name (Exim puts
 * the verified name first and "helo=" in the comment).
 * FROM_UNVERIFIED: the server said it could not verify the sender
 * ("unknown", "may be forged"). */
struct received_hop {
	char *by;
	char *from;
	bool from_unverified;
	char *date; /* the text after the last ';' outside comments, or NULL */
};
void received_parse_hop(const char *value, struct received_hop *ret_hop);
void received_hop_clear(struct received_hop *hop);
typedef struct received_hop ReceivedHop;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ReceivedHop, received_hop_clear)
