/* ctl-common: what the command files (ctl-*.c) share, defined in ctl.c
 * and ctl-json.c.  Private to them; puljectl uses ctl.h. */
#pragma once
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "apps.h"
#include "ctl.h"
#include "store.h"

/* ---- JSON (ctl-json.c) ---- */

/* TEXT (JSON) with every character a terminal must not see raw written
 * as a \\u escape. */
char *ctl_json_terminal_safe(const char *text);
/* NODE, pretty and terminal-safe, and a newline on OUT. */
void ctl_json_print(FILE *out, JsonNode *node);
void ctl_json_add_str(JsonBuilder *b, const char *name, const char *value);
void ctl_json_add_int(JsonBuilder *b, const char *name, int64_t value);
void ctl_json_add_int_or_null(JsonBuilder *b, const char *name, int64_t value, bool present);
/* V < 0 is null, else a boolean. */
void ctl_json_add_tristate(JsonBuilder *b, const char *name, int v);
/* "reasons": the stored JSON array, or [] */
void ctl_json_add_reasons(JsonBuilder *b, const char *reasons);
void ctl_json_add_decision(JsonBuilder *b, const char *decision, const char *note, const char *user, int64_t at);

struct ctl_json_ctx {
	struct store *st;
	const struct config *cfg; /* the calls, for the why's spelling detail; NULL without */
	JsonBuilder *b;
	bool detail; /* show: everything we know */
};
/* One record as a JSON object, with its attachments (and parts when
 * detailed): a store_foreach_message callback on a struct ctl_json_ctx. */
int ctl_json_add_message(const struct store_message *m, void *userdata);

/* ---- filters, times, applications (ctl.c) ---- */

/* Who acts (decide, receipt send): the real user, never an environment
 * variable alone; under sudo "root (sudo by mette)" when SUDO_UID and
 * SUDO_USER agree.  Newly allocated. */
char *ctl_operator(void);

/* ---- a record's receipt (ctl-receipts.c) ---- */

/* "receipt": {"state", "to", "message_id", "sent_at", "why", …} of record
 * ID ("none" when none was promised). */
int ctl_receipt_json(JsonBuilder *b, struct store *st, int64_t id);
/* One line for show, or NULL when no receipt was promised. */
char *ctl_receipt_line(struct store *st, int64_t id);

/* The exit status for R, a store function's result about record ID:
 * CTL_EXIT_OK when R >= 0, else after a message on stderr
 * CTL_EXIT_NOT_FOUND (-ENOENT) or CTL_EXIT_FAILURE. */
int ctl_record_exit(struct store *st, int64_t id, int r);

/* "2022-06-15T10:12:00+02:00" in the local zone; NULL for 0. */
char *ctl_iso_local(int64_t t);
/* "2022-06-15 10:12:00 CEST" in the zone of ctl_set_zone() (else the
 * local zone), or "never" for 0. */
char *ctl_human_time(int64_t t);
/* "2022-06-15T10:12:00+02:00" -> "2022-06-15 10:12" (NULL stays NULL). */
char *ctl_short_time(const char *iso);
/* NULL, "yes" or "no" for a tristate. */
const char *ctl_yes_no(int v);
/* The CTL_STATUS_* bit of a status. */
unsigned ctl_status_bit(enum rules_status status);
/* The colour a status is shown in on a terminal. */
const char *ctl_status_color(enum rules_status status);
bool ctl_filter_message(const struct ctl_filter *f, const struct store_message *m, bool with_status);
bool ctl_filter_app(const struct ctl_filter *f, const struct apps_app *a);
/* The applications of the records F selects; CFG (may be NULL) for their why. */
struct apps *ctl_collect_apps(struct store *st, const struct config *cfg, const struct ctl_filter *f);

/* The form attachment of a message, for applications and exports. */
struct ctl_form_info {
	bool found;
	enum cms_status signature;
	char *signer;
	bool modified, untrusted;
	char *reason;
};
/* A store_foreach_attachment callback filling a struct ctl_form_info. */
int ctl_find_form(const struct store_attachment *a, void *userdata);
char *ctl_form_info_text(const struct ctl_form_info *f);
void ctl_form_info_clear(struct ctl_form_info *f);
typedef struct ctl_form_info CtlFormInfo;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtlFormInfo, ctl_form_info_clear)

/* Record M's why (why.h) from its status, reasons and form, newly
 * allocated; NULL for a plainly accepted record.  CFG (may be NULL) gives
 * M's call subject, for the misspelled word of a fuzzy subject. */
char *ctl_why(struct store *st, const struct config *cfg, const struct store_message *m);
/* M's why with its form's valid signature by a signer not trusted or not
 * (SIGNER_UNTRUSTED) given rather than read from the store: a record not
 * yet written (reclassify's new verdict). */
char *ctl_why_signer(const struct config *cfg, const struct store_message *m, bool signer_untrusted);

/* ---- the decisions on records (ctl.c) ---- */

/* One operator decision, owned (a copy of a struct store_decision). */
struct ctl_decision {
	int64_t id;
	int64_t record;
	char *decision, *note, *user;
	int64_t at;
};
/* Every decision on the N records IDS, oldest first: *RET_DECISIONS is a
 * GArray of struct ctl_decision (g_array_unref frees them).  A negative
 * errno from the store (store_errmsg) on failure. */
int ctl_decisions(struct store *st, const int64_t *ids, size_t n, GArray **ret_decisions);
/* "accept by mette at 2022-07-04 10:00:00 CEST: the note" */
char *ctl_decision_text(const struct ctl_decision *d);
/* "decisions": [{"record", "decision", "note", "user", "at"}, …], oldest
 * first: every decision, the latest last (ctl-json.c). */
void ctl_json_add_decisions(JsonBuilder *b, const GArray *decisions);

/* ---- the human layout of status and show (ctl.c) ---- */

struct ctl_show_ctx {
	FILE *out;
	size_t width; /* columns; every line fits */
	struct store *st;
	const struct config *cfg; /* for the why's detail, or NULL */
};

#define CTL_SHOW_LABEL 14 /* "Deadline:     " */

void ctl_show_field(const struct ctl_show_ctx *c, const char *label, const char *value);
