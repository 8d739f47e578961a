/* apps: recorded messages grouped into applications, one per call and
 * applicant.  Pure: fed message rows by the caller, no I/O.
 *
 * Grouping: messages of the same call whose applicants are equal after
 * NFKC, case folding and collapsing white space are one application.  A
 * message that names no applicant joins the application of the same call
 * that has its sender address, else stands alone.  Unrelated messages and
 * duplicates (duplicate_of) are not applications and are ignored.
 *
 * An application's status is the best of its messages' (accepted, review,
 * late); it is on time when any message was; its decision is the latest
 * operator decision on any of its messages; its form is the best-signed
 * form among them (valid, invalid, none). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "store.h"

/* The form attachment of one message, as the caller found it. */
struct apps_form {
	bool found;
	enum cms_status signature;
	const char *signer;
	bool modified;      /* changed after signing */
	bool untrusted;     /* a trust_file is set and the signer does not chain to it */
	const char *reason; /* why invalid, or NULL */
	const char *why;    /* the message's why (why.h), or NULL */
};

/* Owned by the struct apps it came from; valid until apps_free(). */
struct apps_app {
	char *call;
	char *applicant;    /* as first written; NULL when no message named one */
	GArray *ids;        /* int64_t record ids, in the order added */
	GPtrArray *from;    /* sender addresses (char *), case-insensitively unique */
	char *first, *last; /* ISO 8601 arrival of the first and last message */
	int64_t first_t, last_t;
	int on_time;                    /* 1, 0, -1 = unknown */
	bool form;                      /* a message carries a form */
	enum cms_status form_signature; /* of the best form; only with one */
	char *signer;
	bool form_modified, form_untrusted; /* of that form (apps_form) */
	char *form_reason;
	enum rules_status status;
	char *why; /* the why of the message that gave the status, or NULL */
	char *decision, *decision_note, *decision_user;
	int64_t decision_at;
	char *key; /* private: the normalised applicant */
};

struct apps;

struct apps *apps_new(void);
void apps_free(struct apps *a);
/* g_autoptr(Apps) frees with apps_free(). */
typedef struct apps Apps;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Apps, apps_free)

/* Adds message M (only its fields are read; nothing is kept) with its
 * form FORM (may be NULL: no form). */
void apps_add(struct apps *a, const struct store_message *m, const struct apps_form *form);

/* Joins the messages without an applicant, sorts by call then first
 * arrival, and returns the applications (struct apps_app *, owned by A).
 * Call once, after the last apps_add(). */
GPtrArray *apps_finish(struct apps *a);
