/* rules: subject matching, deadline and status — pure functions over plain
 * structs, time passed in.  No I/O, no logging, no global state. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RULES_MAX_REASONS 8

enum rules_status {
	RULES_ACCEPTED,  /* matches a call, on time, has an attachment */
	RULES_LATE,      /* matches a call, arrived after its deadline */
	RULES_REVIEW,    /* matches a call but needs a person */
	RULES_UNRELATED, /* matches no call */
};

struct rules_call {
	const char *id;
	const char *subject;    /* the call's subject text, as configured */
	int64_t deadline_last;  /* last on-time second, Unix time, inclusive */
};

enum rules_input_flags {
	RULES_IN_BROKEN = 1u << 0,    /* the MIME structure is damaged */
	RULES_IN_TOO_LARGE = 1u << 1, /* body not fetched: over the size limit */
};

struct rules_input {
	const char *subject;   /* decoded UTF-8, or NULL when absent */
	bool has_arrival;
	int64_t arrival;       /* the server's INTERNALDATE, Unix time */
	size_t n_attachments;
	unsigned flags;        /* enum rules_input_flags */
};

struct rules_result {
	int call;              /* index into the calls array, -1 for none */
	char *applicant;       /* owned, NULL when unknown */
	int on_time;           /* 1 on time, 0 late, -1 unknown / not applicable */
	enum rules_status status;
	const char *reasons[RULES_MAX_REASONS]; /* owned strings */
	size_t n_reasons;
};

/* Classifies one message against the calls; the first call whose subject
 * the message's subject starts with wins.  Fills *out; release it with
 * rules_result_clear(). */
void rules_classify(const struct rules_call *calls, size_t n_calls,
		    const struct rules_input *in, struct rules_result *out);
void rules_result_clear(struct rules_result *res);

const char *rules_status_name(enum rules_status status);

/* Normalizes a subject for comparison: NFC, case-folded, whitespace
 * collapsed, reply/forward prefixes (Re:, SV:, VS:, Fwd:, Fw:, AW:, WG: …)
 * and surrounding quotes stripped.  Returns a newly allocated string. */
char *rules_normalize_subject(const char *subject);

/* True when SUBJECT, normalized, starts with CALL_SUBJECT, normalized, at a
 * word boundary.  When it does and APPLICANT is not NULL, *applicant is the
 * rest of the subject in its original case, trimmed of separators, or NULL
 * when nothing is left (newly allocated). */
bool rules_subject_match(const char *subject, const char *call_subject, char **applicant);
