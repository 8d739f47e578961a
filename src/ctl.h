/* ctl: puljectl's commands over a store.  Output goes to the FILE* in the
 * struct ctl_output handed in; errors to stderr.  Each command returns an
 * exit status (enum ctl_exit). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "store.h"

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILURE = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_NOT_FOUND = 3,
};

/* How a command prints: JSON, or a table of WIDTH columns, coloured when
 * COLOR. */
struct ctl_output {
	FILE *out;
	bool json;
	bool color;
	unsigned width;
	const struct config *cfg; /* the calls (for the why's detail), or NULL */
};

/* Which records a listing shows.  Zero values show everything. */
struct ctl_filter {
	const char *call;  /* only this call */
	unsigned statuses; /* CTL_STATUS_* bits; 0 = all */
	bool has_since;
	int64_t since; /* only what arrived at or after (Unix time) */
};

enum {
	CTL_STATUS_ACCEPTED = 1 << 0,
	CTL_STATUS_LATE = 1 << 1,
	CTL_STATUS_REVIEW = 1 << 2,
	CTL_STATUS_UNRELATED = 1 << 3,
};

/* Parses "accepted,late" into CTL_STATUS_* bits; -EINVAL names nothing
 * known (the bad word is left in *BAD, pointing into LIST's copy: g_free). */
int ctl_parse_statuses(const char *list, unsigned *bits, char **bad);

/* Parses --since: "YYYY-MM-DD" (the start of that day in TZ) or an ISO
 * 8601 timestamp (read in TZ without an offset).  -EINVAL otherwise. */
int ctl_parse_since(const char *text, const char *tz, int64_t *since);

/* The zone a caseworker's output shows its times in: CALL's (or, without
 * CALL, the first call's) time zone, else CTL_ZONE_DEFAULT. */
#define CTL_ZONE_DEFAULT "Europe/Copenhagen"
const char *ctl_zone(const struct config *cfg, const char *call);
/* The time zone (IANA name) the human output of status, show and
 * decisions writes its times in, labelled ("CEST"): puljectl sets the
 * calls' zone, as the records' times are written in.  Not --json's. */
void ctl_set_zone(const char *name);

/* Exits CTL_EXIT_FAILURE when the last successful poll is older than
 * three POLL_INTERVALs (or there was none), for monitoring.  DATABASE
 * names the daemon's run record beside it (its last crash). */
int ctl_status(struct store *st, const struct ctl_output *o, unsigned poll_interval, const char *database);
int ctl_list(struct store *st, const struct ctl_output *o, const struct ctl_filter *f);
int ctl_show(struct store *st, const struct ctl_output *o, int64_t id);
/* Writes record ID's stored raw message, byte for byte and checked against
 * its SHA-256, to OUT, or with OUTPUT to that new file (never overwriting,
 * never through a link).  CTL_EXIT_FAILURE for a record stored without
 * its message. */
int ctl_raw(struct store *st, FILE *out, int64_t id, const char *output);
/* Writes the attachments of record ID into the existing directory DIR,
 * under sanitized names, never overwriting and never following links. */
int ctl_extract(struct store *st, FILE *out, int64_t id, const char *dir);
/* One row per call and applicant (see apps.h for the grouping).  The
 * filter's call and since select messages; its statuses the applications. */
int ctl_applications(struct store *st, const struct ctl_output *o, const struct ctl_filter *f);
/* The pool overview per call (summary.h): applications by status, on
 * time or late, with or without a form, its signature, by day received,
 * and those that need a person.  The filter's call and since select
 * messages (as for applications). */
int ctl_summary(struct store *st, const struct ctl_output *o, const struct ctl_filter *f);
/* Re-runs CFG's rules over every stored message; writes unless DRY_RUN. */
int ctl_reclassify(struct store *st, const struct config *cfg, const struct ctl_output *o, bool dry_run);
/* Compares the server's UIDs with the records: messages at or below the
 * watermark never recorded (exit 1), not polled yet, records whose
 * message is gone from the server, and records under an earlier
 * UIDVALIDITY never re-keyed (their message did not come back). */
int ctl_reconcile(struct store *st, const struct config *cfg, const struct ctl_output *o);
/* Every receipt (actions-receipt.c): due, sent, failed, skipped, with why. */
int ctl_receipts(struct store *st, const struct ctl_output *o);
/* Queues record ID's receipt at an operator's request (AGAIN: even when
 * sent); the daemon sends it at its next poll.  CFG (may be NULL) says
 * whether receipts are on. */
int ctl_receipt_send(struct store *st, const struct config *cfg, FILE *out, int64_t id, bool again);
/* Records an operator's decision ("accept"/"reject") on record ID. */
int ctl_decide(struct store *st, FILE *out, int64_t id, const char *decision, const char *note);

struct ctl_export_options {
	bool json;          /* else CSV (see export.h) */
	bool messages;      /* one row per message, else per application */
	const char *output; /* a file (replaced atomically), else OUT */
	struct ctl_filter filter;
	const struct config *cfg; /* the calls (for the why's detail), or NULL */
};
int ctl_export(struct store *st, FILE *out, const struct ctl_export_options *o);

/* Writes the caseworkers' report into DIR (created when missing; must be
 * empty when it exists): index.html, messages/ID.eml, attachments/ID/NAME.
 * CFG gives the calls and their deadlines; FILTER's call, one of CFG's (the
 * caller checks: puljectl refuses an unknown --call), picks one. */
int ctl_report(struct store *st, const struct config *cfg, FILE *out, const char *dir, const struct ctl_filter *f);

/* The list of received applications (ledger.h) an authority publishes:
 * every record but the unrelated, of the call CALL (one of O's
 * configuration's: the caller checks) or of every call, made at NOW.  On
 * O's terminal as a table, or with OUTPUT to that new file (never
 * overwritten, never through a link), HTML or CSV by its name (see
 * ctl_ledger_format; CTL_EXIT_USAGE for another). */
int ctl_ledger(struct store *st, const struct ctl_output *o, const char *call, const char *output, int64_t now);
/* Whether OUTPUT names a file ledger writes: *RET_HTML for .html or .htm,
 * else .csv (any case); false for any other name. */
bool ctl_ledger_format(const char *output, bool *ret_html);

/* Checks every stored raw message and attachment against its recorded
 * SHA-256, and the database with SQLite's integrity_check and
 * foreign_key_check: one line (or JSON object) per difference and a
 * summary; CTL_EXIT_FAILURE when anything differs. */
int ctl_verify(struct store *st, const struct ctl_output *o);
