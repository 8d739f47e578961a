/* record: the words a record's verdicts are written in — its status,
 * subject match, kind and signature verdict — in the database, in JSON,
 * CSV and HTML and on the terminal.  The values are the enums of the
 * modules that decide them (rules.h: status, match, kind; cms.h: a
 * signature); this is the one place their names are spelled.  Pure: no
 * I/O; the names are static (a record's reference number is allocated). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "cms.h"
#include "rules.h"

/* The statuses, RULES_ACCEPTED … RULES_UNRELATED in this order (the
 * order of store_status.by_status and of the status tables). */
#define RECORD_N_STATUS 4

const char *record_status_name(enum rules_status status); /* "accepted", "late", "review", "unrelated" */
const char *record_match_name(enum rules_match match);    /* "exact", "fuzzy"; NULL for none */
const char *record_kind_name(enum rules_kind kind);       /* "application", "auto-reply", … */
const char *record_signature_name(enum cms_status sig);   /* "none", "valid", "invalid" */

/* The value NAME names into *RET; false, *RET untouched, when NAME is NULL
 * or none of ours. */
bool record_status_parse(const char *name, enum rules_status *ret);
bool record_match_parse(const char *name, enum rules_match *ret);
bool record_kind_parse(const char *name, enum rules_kind *ret);
bool record_signature_parse(const char *name, enum cms_status *ret);

/* A match score as every output shows it: two decimals, cut rather than
 * rounded (0.749 never shows as a threshold of 0.75), the same in the
 * reasons ("subject:fuzzy(0.96)"), show and --json. */
double record_score(double score);

/* A record's reference number, as the receipt and the list of received
 * applications give it to the applicant: "PJ-" and the record id,
 * zero-padded to at least 6 digits ("PJ-000042", "PJ-1234567").  Newly
 * allocated (g_free). */
char *record_reference(int64_t id);
