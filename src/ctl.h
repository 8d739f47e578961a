/* ctl: puljectl's commands over a read-only store.  Output goes to the
 * FILE* handed in; errors to stderr.  Returns an exit status. */
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

/* Exits CTL_EXIT_FAILURE when the last successful poll is older than
 * three POLL_INTERVALs (or there was none), for monitoring. */
int ctl_status(struct store *st, FILE *out, bool json, unsigned poll_interval);
int ctl_list(struct store *st, FILE *out, bool json);
int ctl_show(struct store *st, FILE *out, int64_t id, bool json);
/* Writes the attachments of record ID into the existing directory DIR,
 * under sanitized names, never overwriting and never following links. */
int ctl_extract(struct store *st, FILE *out, int64_t id, const char *dir);
/* One row per call and applicant (see the README for the grouping). */
int ctl_applications(struct store *st, FILE *out, bool json);

struct ctl_export_options {
	bool json;          /* JSON array; else CSV for Danish Excel */
	bool messages;      /* one row per message; else per application */
	const char *call;   /* only this call, or NULL */
	const char *output; /* a file, or NULL: OUT */
};
/* puljectl export (WIP, issue 8). */
int ctl_export(struct store *st, FILE *out, const struct ctl_export_options *o);
/* Re-runs CFG's rules over every stored message; writes unless DRY_RUN. */
int ctl_reclassify(struct store *st, const struct config *cfg, FILE *out, bool dry_run);
/* Compares the server's UIDs with the records: messages at or below the
 * watermark never recorded (exit 1), not polled yet, and records whose
 * message is gone from the server. */
int ctl_reconcile(struct store *st, const struct config *cfg, FILE *out, bool json);
/* Records an operator's decision ("accept"/"reject") on record ID. */
int ctl_decide(struct store *st, FILE *out, int64_t id, const char *decision, const char *note);
