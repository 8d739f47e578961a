/* report: the caseworkers' HTML page — pure rendering of a model the
 * caller fills (ctl writes the files).  One self-contained page: inline
 * CSS and SVG, no scripts, no external assets; Danish labels; printable.
 * Every string from mail is cleaned of control characters and escaped. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "record.h"
#include "summary.h"

struct report_attachment {
	const char *filename; /* the sender's name, shown */
	const char *href;     /* relative link to the written file, or NULL */
	uint64_t size;
	const char *sha256;
	bool form;
	enum cms_status signature;
	const char *signer;
	bool modified;      /* changed after signing (other content appended) */
	bool untrusted;     /* a trust_file is set and the signer does not chain to it */
	const char *reason; /* why invalid (English), or NULL */
};

/* A status in the page's Danish: "Modtaget", "For sent", "Til vurdering",
 * "Ikke en ansøgning" (static). */
const char *report_status_label(enum rules_status status);

/* What a caseworker may conclude from a signature. */
enum report_sig_kind {
	REPORT_SIG_NONE,      /* no digital signature */
	REPORT_SIG_VALID,     /* intact, covers the document, signer trusted (or no trust_file) */
	REPORT_SIG_UNTRUSTED, /* intact, but the signer is not trusted */
	REPORT_SIG_MODIFIED,  /* intact, but the document was changed after signing */
	REPORT_SIG_INVALID,   /* does not hold */
};

struct report_signature {
	enum cms_status signature;
	const char *signer;
	bool modified;
	bool untrusted;
	const char *reason;
};

/* The signature in Danish words: "gyldig underskrift af Mette Hansen"
 * only when it is intact, covers the document and (with a trust_file) the
 * signer is trusted; else exactly what holds ("underskriften af … er
 * intakt, men underskriveren er ikke betroet", "dokumentet er ændret
 * efter underskrift …", "UGYLDIG underskrift …: <why>").  Plain text,
 * newly allocated (g_free); KIND (may be NULL) gets its kind. */
char *report_signature_text(const struct report_signature *s, enum report_sig_kind *kind);

/* The times behind a message's deadline decision. */
struct report_edge {
	const char *edge_at;     /* the authority's mail server's time (ISO 8601), or NULL */
	const char *received_at; /* INTERNALDATE, ISO 8601, or NULL */
	const char *decided_by;  /* "edge", "arrival", "date-header" or NULL */
	const char *basis;       /* the call's deadline_basis, or NULL */
	const char *why;         /* why there is no edge time, or NULL */
};

struct report_message {
	int64_t id;
	const char *received_at; /* ISO 8601 in the call's zone, or NULL */
	bool has_received;
	int64_t received; /* Unix time */
	enum rules_status status;
	const char *from;
	const char *subject;
	const char *eml_href; /* relative link to the raw message, or NULL */
	const struct report_attachment *atts;
	size_t n_atts;
	struct report_edge edge;       /* which time decided the deadline */
	struct report_signature smime; /* the message's own S/MIME signature */
	const char *why;               /* the caseworker's why (why.h), or NULL */
};

/* One operator decision on an application's messages. */
struct report_decision {
	const char *decision; /* "accept" or "reject" */
	const char *note;
	const char *user;
	const char *at; /* ISO 8601 in the call's zone */
};

struct report_application {
	const char *applicant; /* NULL: not named */
	enum rules_status status;
	int on_time; /* 1, 0, -1 */
	const char *first_arrival;
	bool form;
	enum cms_status form_signature;
	const char *signer;
	const char *decision; /* "accept", "reject" or NULL */
	const char *decision_note;
	const struct report_message *const *msgs; /* its messages */
	size_t n_msgs;
	bool form_modified; /* the form's signature: as in report_attachment */
	bool form_untrusted;
	const char *form_reason;
	const struct report_decision *decisions; /* every decision, oldest first */
	size_t n_decisions;
	const char *why; /* the why of the message that gave the status, or NULL */
};

struct report_call {
	const char *id;
	const char *subject;
	const char *deadline; /* the last on-time second, ISO 8601 in the call's zone */
	int64_t deadline_t;   /* Unix time */
	const char *timezone;
	int64_t counts[RECORD_N_STATUS]; /* messages by enum rules_status */
	const struct report_application *apps;
	size_t n_apps;
	const struct report_message *const *msgs; /* every message of the call, for the timeline */
	size_t n_msgs;
	bool basis_edge; /* deadline_basis = edge: the authority's mail server decides */
};

struct report {
	const char *generated_at; /* "2022-07-04 10:00 (Europe/Copenhagen)" */
	const struct report_call *calls;
	size_t n_calls;
	int64_t unrelated; /* messages that match no call */
	/* The pool overview at the top of the page (summary.h), per call of
	 * CALLS; NULL: none. */
	const struct summary *summary;
};

/* One Danish sentence on which time decided the deadline when the
 * authority's mail server's time is known or was asked for: "modtaget af
 * ministeriets mailserver 23:59:40, i postkassen 00:01:02; fristen afgøres
 * af mailserverens tid".  NULL when there is nothing to say.  Newly
 * allocated (g_free); shown by puljectl show as well. */
char *report_edge_sentence(const struct report_edge *e);

/* S (NULL: nothing) cleaned of control characters (term_clean), then
 * escaped for HTML text and attribute values, appended to OUT. */
void report_escape(GString *out, const char *s);

/* T in the zone TZ_NAME (NULL: Europe/Copenhagen) in Danish: "1. juli
 * 2022 kl. 23:59:59", without the seconds unless SECONDS; "?" for a time
 * or zone GLib cannot hold.  Newly allocated (g_free). */
char *report_danish_time(int64_t t, const char *tz_name, bool seconds);

/* A deadline delta in words: "late by 2 h 13 min", "on time, 3 h 12 min
 * before the deadline" (English, for puljectl show).  Newly allocated. */
char *report_describe_delta(int64_t seconds);

/* The page, newly allocated (g_free). */
char *report_html(const struct report *r);

/* The timeline of C's arrivals against its deadline as an SVG element,
 * newly allocated (g_free).  Exposed for tests. */
char *report_timeline_svg(const struct report_call *c);
