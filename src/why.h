/* why: the one short Danish sentence that tells a caseworker why a record
 * is not plainly accepted, built from its status and its machine reasons
 * (rules.c, assess.c) through one table.  No raw reason string ever
 * reaches the sentence: a reason the table does not know reads as a
 * generic sentence.  Pure: no I/O, no logging. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "rules.h"

/* What the sentence is built from.  Strings are borrowed. */
struct why_input {
	enum rules_status status;
	const char *const *reasons; /* the machine reasons, in the order recorded */
	size_t n_reasons;
	const char *typo;      /* the misspelled subject word (rules_subject_typo), or NULL */
	bool signer_untrusted; /* the form's valid signature is by a signer not trusted */
};

/* The sentence for INPUT, newly allocated; NULL for a plainly accepted
 * record (accepted, and nothing a caseworker should know). */
char *why_text(const struct why_input *input);

/* The sentence for one reason on its own, newly allocated: the table's,
 * or the generic sentence (why_unknown) for a reason it does not know. */
char *why_reason_text(const char *reason);

/* True when the table knows REASON. */
bool why_reason_known(const char *reason);

/* A delta as rules_format_delta writes it ("+1s", "-2h13m", "+14d3h") in
 * Danish words ("1 sekund", "2 timer og 13 minutter"), without its sign;
 * NULL when it is not one. */
char *why_delta_text(const char *delta);

/* A score shown with two decimals, in Danish ("0,91"). */
char *why_score_text(double score);

/* The generic sentence for a reason the table does not know. */
#define WHY_UNKNOWN "Kræver manuel vurdering (se detaljerne)"
