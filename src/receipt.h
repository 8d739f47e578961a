/* receipt: the receipt an applicant gets back for an application — whom
 * it goes to, whether one may be sent at all (RFC 3834 §2 and §4), its
 * text from a template, and the whole RFC 5322 message (plain text,
 * UTF-8, quoted-printable; S/MIME signed through sign.h when a signer is
 * given).  Pure: no I/O, no logging; the time is passed in.  The queue
 * kind that reads a record, sends the message and records the outcome is
 * actions-receipt.c.  doc/receipts.md says what a receipt says. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "cms.h"
#include "rules.h"
#include "sign.h"

/* Bounds on what is taken from the application's header. */
#define RECEIPT_HEADER_MAX (256 * 1024) /* bytes of the top-level header read */
#define RECEIPT_ADDR_MAX 254            /* an addr-spec longer than this is unusable (RFC 5321 path) */
#define RECEIPT_ID_MAX 250              /* a Message-ID or one References entry, bytes (longer: dropped) */
#define RECEIPT_REFERENCES_MAX 20       /* References entries kept (the first and the newest) */
#define RECEIPT_SUBJECT_MAX 400         /* characters of the subject as received, in the receipt */

/* ---- what the application's header says -------------------------------- */

/* Facts read from the application's raw top-level header.  Strings are
 * newly allocated, trimmed, free of control characters; NULL when the
 * header is absent. */
struct receipt_facts {
	char *return_path;      /* the addr-spec inside the first Return-Path:; "" for <> */
	char *from_addr;        /* the first addr-spec of From: */
	char *auto_submitted;   /* Auto-Submitted: value, lower-case, without parameters */
	char *precedence;       /* Precedence: value, lower-case */
	char *list_header;      /* the name of the first List-* header (List-Id, List-Post, …) */
	bool report;            /* Content-Type multipart/report or message/delivery-status */
	char *autoreply_header; /* "X-Autoreply" or "X-Autorespond" when present */
	char *suppress;         /* X-Auto-Response-Suppress: value when it covers auto-replies
				   * (All, AutoReply, OOF), else NULL */
	char *message_id;       /* "<…>", or NULL when absent or unusable */
	char *references;       /* References: as "<a> <b>", at most RECEIPT_REFERENCES_MAX ids */
};

/* Parses the top-level header of RAW (up to the first empty line, at
 * most RECEIPT_HEADER_MAX bytes; folded lines unfolded; junk lines
 * skipped) into *RET.  Always fills *RET (clear it on every path);
 * returns 0, or -EINVAL when RAW has no header at all. */
int receipt_facts_parse(const uint8_t *raw, size_t len, struct receipt_facts *ret);
void receipt_facts_clear(struct receipt_facts *f);
typedef struct receipt_facts ReceiptFacts;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ReceiptFacts, receipt_facts_clear)

/* ---- whether a receipt may be sent ------------------------------------- */

/* Why a receipt is not sent (RECEIPT_SEND: it is).  Each value has a
 * stable token (receipt_skip_name) and one Danish sentence
 * (receipt_skip_why).  receipt_decide() checks them in this order. */
enum receipt_skip {
	RECEIPT_SEND,
	RECEIPT_SKIP_NULL_SENDER, /* "null-sender": Return-Path: <> (a bounce or other automatic mail) */
	RECEIPT_SKIP_AUTOMATIC,   /* "automatic": Auto-Submitted other than no, X-Autoreply/X-Autorespond,
				   * X-Auto-Response-Suppress covering auto-replies, Precedence: auto_reply,
				   * or kind auto-reply */
	RECEIPT_SKIP_REPORT,      /* "report": a delivery or other report (multipart/report, kind delivery-report) */
	RECEIPT_SKIP_LIST,        /* "list": List-* headers, or kind list */
	RECEIPT_SKIP_BULK,        /* "bulk": Precedence: bulk, junk or list */
	RECEIPT_SKIP_UNRELATED,   /* "unrelated": not an application (whatever the configured statuses) */
	RECEIPT_SKIP_STATUS,      /* "status": the record's status is not among the configured ones */
	RECEIPT_SKIP_TOO_LARGE,   /* "too-large": the body was not fetched */
	RECEIPT_SKIP_GONE,        /* "gone": the message left the mailbox before it was read */
	RECEIPT_SKIP_DUPLICATE,   /* "duplicate": the same message as an earlier record */
	RECEIPT_SKIP_NO_ADDRESS,  /* "no-address": neither Return-Path nor From */
	RECEIPT_SKIP_BAD_ADDRESS, /* "bad-address": the address is not a usable addr-spec */
	RECEIPT_SKIP_OWN_ADDRESS, /* "own-address": our own address or domain */
	RECEIPT_SKIP_RATE_LIMIT,  /* "rate-limit": max_per_sender reached (decided by the caller) */
};
#define RECEIPT_N_SKIP (RECEIPT_SKIP_RATE_LIMIT + 1)

/* The configuration the decision needs.  Strings are borrowed. */
struct receipt_policy {
	unsigned statuses;              /* 1u << enum rules_status: which outcomes get a receipt */
	const char *from_addr;          /* the receipts' From address */
	const char *account_addr;       /* the mailbox account's address, or NULL */
	const char *const *own_domains; /* further domains of ours (lower or any case), or NULL */
	size_t n_own_domains;
	unsigned max_per_sender; /* for receipt_skip_why's rate-limit sentence */
};

/* The record's side of the decision. */
struct receipt_record {
	enum rules_status status;
	enum rules_kind kind;
	const char *flags;    /* as stored: comma-separated ("too-large", "gone", …), or NULL */
	int64_t duplicate_of; /* 0: not a duplicate */
};

/* Whether a receipt for the record R with header facts F may be sent
 * under P, RFC 3834 §2 and §4: the first reason not to in the enum's
 * order, or RECEIPT_SEND and *RET_TO (borrowed from F: the Return-Path
 * addr-spec, else From's) — the caller still applies the rate cap.
 * RET_TO may be NULL; it is set only for RECEIPT_SEND. */
enum receipt_skip receipt_decide(const struct receipt_policy *p, const struct receipt_record *r,
				 const struct receipt_facts *f, const char **ret_to);

/* The recipient a receipt would go to (Return-Path's addr-spec, else
 * From's; NULL for <> or neither), whatever the decision: borrowed. */
const char *receipt_recipient(const struct receipt_facts *f);

/* The stable token of SKIP ("automatic", "null-sender", …; "send" for
 * RECEIPT_SEND), static; "unknown" outside the enum. */
const char *receipt_skip_name(enum receipt_skip skip);

/* The value token NAME names into *RET; false, *RET untouched, when it
 * names none. */
bool receipt_skip_parse(const char *name, enum receipt_skip *ret);

/* One Danish sentence for the operator, with the detail that decided
 * ("automatisk post (Auto-Submitted: auto-replied) får aldrig
 * kvittering"), newly allocated.  P, R and F may be NULL (then without
 * the detail). */
char *receipt_skip_why(enum receipt_skip skip, const struct receipt_policy *p, const struct receipt_record *r,
		       const struct receipt_facts *f);

/* True when ADDR is a usable addr-spec for a receipt: local@domain, one
 * @, printable ASCII without spaces, quotes or brackets, a dotted domain
 * of letters, digits and hyphens, at most RECEIPT_ADDR_MAX bytes. */
bool receipt_address_ok(const char *addr);

/* ---- what it says ------------------------------------------------------- */

/* "<receipt.UIDVALIDITY.UID.CALL@DOMAIN>", newly allocated; characters of
 * CALL other than letters, digits, '-' and '_' become '-' (CALL NULL or
 * empty: "none"); DOMAIN lower-cased ("invalid" when NULL or empty). */
char *receipt_message_id(uint32_t uidvalidity, uint32_t uid, const char *call, const char *domain);

/* One attachment as the receipt lists it.  Strings borrowed. */
struct receipt_attachment {
	const char *filename; /* as sent; NULL: "(uden navn)" */
	uint64_t size;        /* bytes, decoded */
	const char *sha256;   /* hex, or NULL */
	bool is_form;         /* the application form */
};

/* The form's digital signature as the receipt words it (report.h's
 * report_signature_text: "gyldig underskrift af …" only for a signature
 * that holds, covers the document and whose signer is trusted). */
struct receipt_signature {
	enum cms_status status;
	const char *signer; /* or NULL */
	bool modified;      /* the document was changed after signing */
	bool untrusted;     /* the signer does not chain to trust_file */
	const char *reason; /* why invalid, or NULL */
};

/* Everything a template can say.  Strings are borrowed; those that come
 * from mail (subject, from, filenames, signer) are cleaned of control
 * characters and bounded when rendered. */
struct receipt_content {
	const char *call_title;   /* the call's subject/title as configured, or NULL */
	const char *call_id;      /* the call's id, or NULL */
	const char *subject;      /* the application's subject as received (decoded), or NULL */
	const char *from;         /* the application's From address, or NULL */
	const char *timezone;     /* the call's IANA zone; NULL: Europe/Copenhagen */
	int64_t arrival;          /* the deciding arrival time (the clock below), Unix time */
	enum rules_basis clock;   /* which clock that is (decided_by) */
	enum rules_status status; /* the record's status */
	int on_time;              /* 1 on time, 0 late, -1 not decided */
	bool has_deadline;
	int64_t deadline_last; /* the last on-time second, grace included */
	const struct receipt_attachment *attachments;
	size_t n_attachments;
	bool has_form; /* a form was found (then form_signature applies) */
	struct receipt_signature form_signature;
	int64_t record_id;          /* for {reference} (record_reference) */
	const char *message_sha256; /* the received message's SHA-256, hex, or NULL */
};

/* The template placeholders, in the order doc/receipts.md lists them:
 * call, call_id, subject, from, arrival, clock, verdict, deadline,
 * attachments, signature, reference, message_sha256.  "{{" and "}}" are
 * literal braces. */

/* Checks TEMPLATE: 0, or -EINVAL and *RET_ERROR naming the first unknown
 * placeholder or unbalanced brace and its line ("unknown placeholder
 * {foo} on line 3"). */
int receipt_template_check(const char *text, char **ret_error);

/* The built-in Danish template (conf/kvittering.txt holds the same text). */
const char *receipt_template_default(void);

/* The text of TEMPLATE (NULL: the built-in one) for C, newly allocated,
 * LF line ends; NULL and *RET_ERROR when TEMPLATE does not pass
 * receipt_template_check(). */
char *receipt_render(const struct receipt_content *c, const char *template, char **ret_error);

/* The words of one placeholder for C (without braces, e.g. "verdict"),
 * newly allocated; NULL when NAME is none. */
char *receipt_placeholder(const struct receipt_content *c, const char *name);

/* ---- the message -------------------------------------------------------- */

/* The receipt's header fields.  Strings borrowed. */
struct receipt_headers {
	const char *from_name;   /* display name (UTF-8, RFC 2047-encoded when not ASCII), or NULL */
	const char *from_addr;   /* the receipts' From address */
	const char *to;          /* the recipient (receipt_decide's *ret_to) */
	const char *subject;     /* the application's subject as received, or NULL */
	const char *message_id;  /* receipt_message_id() */
	const char *in_reply_to; /* the application's Message-ID ("<…>"), or NULL */
	const char *references;  /* the application's References ("<a> <b>"), or NULL */
	const char *timezone;    /* the Date field's zone; NULL: Europe/Copenhagen */
};

/* The whole receipt: an RFC 5322 message with CRLF line ends — From, To,
 * Subject "Kvittering: <subject>" (RFC 2047, folded), Date (NOW),
 * Message-ID, In-Reply-To and References, Auto-Submitted: auto-replied,
 * X-Auto-Response-Suppress: All, MIME-Version, and a text/plain UTF-8
 * quoted-printable body rendered from TEMPLATE (NULL: built-in) — signed
 * as S/MIME by SIGNER when it is not NULL.  0 and *RET, *RET_LEN on
 * success; negative and *RET_ERROR (a bad template, a header that cannot
 * be written, signing) on failure. */
int receipt_compose(const struct receipt_content *c, const struct receipt_headers *h, const char *template,
		    const struct sign *signer, int64_t now, char **ret, size_t *ret_len, char **ret_error);

/* The body text as quoted-printable (RFC 2045 §6.7), CRLF line ends,
 * lines at most 76 characters; TEXT's LF or CRLF are line breaks.  Newly
 * allocated. */
char *receipt_qp_encode(const char *text);

/* A header value as RFC 2047 encoded-words (UTF-8, B) when it is not
 * printable ASCII, folded to lines of at most 78 characters after a field
 * name of NAME_LEN characters.  Newly allocated; no trailing CRLF. */
char *receipt_header_encode(const char *value, size_t name_len);
