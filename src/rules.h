/* rules: subject matching, message kind, applicant, deadline and status —
 * pure functions over plain structs, time passed in.  No I/O, no logging,
 * no global state. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* The longest applicant name kept, in characters (a 1 MB subject does
 * not make a 1 MB name); longer ones end in "…". */
#define RULES_APPLICANT_MAX 200

#define RULES_MAX_REASONS 10
#define RULES_DEFAULT_FUZZY_THRESHOLD 0.75
#define RULES_DEFAULT_WORD_SIMILARITY 0.6
#define RULES_DEFAULT_TITLE_THRESHOLD 0.85

enum rules_status {
	RULES_ACCEPTED,  /* exact match, on time, has an attachment */
	RULES_LATE,      /* matches a call, decided after its deadline */
	RULES_REVIEW,    /* matches a call but needs a person */
	RULES_UNRELATED, /* matches no call, or is not an application */
};

enum rules_match {
	RULES_MATCH_NONE,
	RULES_MATCH_EXACT, /* the call's words, in order, at the start */
	RULES_MATCH_FUZZY, /* close enough: typos, year, order, cut short */
};

enum rules_kind {
	RULES_KIND_APPLICATION,
	RULES_KIND_AUTO_REPLY,
	RULES_KIND_DELIVERY_REPORT,
	RULES_KIND_LIST,
	RULES_KIND_QUESTION,
	RULES_KIND_OTHER,
};

enum rules_basis {
	RULES_BASIS_ARRIVAL,     /* the server's INTERNALDATE (default) */
	RULES_BASIS_DATE_HEADER, /* the sender's Date: (falls back to arrival) */
	RULES_BASIS_EDGE,        /* the authority's mail server (falls back to arrival) */
};

enum rules_applicant_source {
	RULES_APPLICANT_NONE,
	RULES_APPLICANT_SUBJECT,
	RULES_APPLICANT_FROM, /* derived from Organization: or the From name */
};

struct rules_call {
	const char *id;
	const char *subject;   /* the call's subject text, as configured */
	int64_t deadline_last; /* last on-time second, Unix time, inclusive */
	enum rules_basis basis;
	int64_t grace; /* seconds added to the deadline */
};

/* A value of 0 (or less) means the default, so a partly filled struct works. */
struct rules_settings {
	double fuzzy_threshold; /* a score at or above this is a fuzzy match */
	double word_similarity; /* a call word and a subject word this alike (0..1) are partners */
	double title_threshold; /* the call's title (after its first colon) alone at or above
				 * this: a partial match, fuzzy with reason subject:partial */
};

/* Header facts that tell an application from other mail. */
enum rules_hints {
	RULES_HINT_AUTO_SUBMITTED = 1u << 0,  /* Auto-Submitted: other than "no" */
	RULES_HINT_AUTOREPLY = 1u << 1,       /* X-Autoreply, X-Autorespond, X-Auto-Response-Suppress */
	RULES_HINT_PRECEDENCE_AUTO = 1u << 2, /* Precedence: auto_reply */
	RULES_HINT_PRECEDENCE_BULK = 1u << 3, /* Precedence: bulk, list, junk */
	RULES_HINT_LIST = 1u << 4,            /* List-Id, List-Unsubscribe */
	RULES_HINT_REPORT = 1u << 5,          /* Content-Type: multipart/report */
	RULES_HINT_BOUNCE = 1u << 6,          /* From mailer-daemon@/postmaster@, or X-Failed-Recipients */
	RULES_HINT_CALENDAR = 1u << 7,        /* a text/calendar part (an invitation, a reply to one) */
	RULES_HINT_BULK_SENDER = 1u << 8,     /* From a bulk-mail service's domain (a newsletter's sender) */
};

/* The form's digital signature, as it bears on acceptance. */
enum rules_form_signature {
	RULES_FORM_SIG_OK,       /* none, or valid and covering what was signed */
	RULES_FORM_SIG_INVALID,  /* a signature that does not hold: review (form:signature-invalid) */
	RULES_FORM_SIG_MODIFIED, /* valid, but the document was changed after signing: review
				  * (form:modified-after-signing) */
};

enum rules_input_flags {
	RULES_IN_BROKEN = 1u << 0,    /* the MIME structure is damaged */
	RULES_IN_TOO_LARGE = 1u << 1, /* body not fetched: over the size limit */
	RULES_IN_UNPARSED = 1u << 2,  /* not parsed (its parse killed the process before) */
};

struct rules_input {
	const char *subject;      /* decoded UTF-8, or NULL when absent */
	const char *from_name;    /* From display name, or NULL */
	const char *organization; /* Organization: header, or NULL */
	bool has_arrival;
	int64_t arrival; /* the server's INTERNALDATE, Unix time */
	bool has_date;
	int64_t date; /* the Date: header, Unix time */
	bool has_edge;
	int64_t edge; /* the edge arrival (received_edge), Unix time */
	size_t n_attachments;
	bool has_form;                            /* a PDF or DOCX among them (rules_pick_form) */
	enum rules_form_signature form_signature; /* of that form */
	unsigned hints;                           /* enum rules_hints */
	unsigned flags;                           /* enum rules_input_flags */
};

struct rules_result {
	int call; /* index into the calls array, -1 for none */
	enum rules_match match;
	bool partial; /* fuzzy on the call's title alone (reason subject:partial) */
	double score; /* 0..1 for the chosen call; 1 for exact */
	enum rules_kind kind;
	char *applicant; /* owned, NULL when unknown */
	enum rules_applicant_source applicant_source;
	int on_time;  /* 1 on time, 0 late, -1 unknown / not applicable */
	bool decided; /* a deadline decision was made */
	enum rules_basis decided_by;
	int64_t delta; /* deciding time minus deadline (incl. grace), seconds */
	enum rules_status status;
	const char *reasons[RULES_MAX_REASONS]; /* owned strings */
	size_t n_reasons;
};

/* Classifies one message against the calls: the best-matching call wins
 * (exact beats fuzzy, a longer exact call beats a shorter one, then the
 * higher score, then the earlier call).  A message that matches no call
 * but is an application with a form goes to review under the call it
 * resembles most (reason subject:none+form).
 * SETTINGS may be NULL for the defaults.  Fills *out; release it with
 * rules_result_clear(). */
void rules_classify(const struct rules_call *calls, size_t n_calls, const struct rules_settings *settings,
		    const struct rules_input *in, struct rules_result *out);
void rules_result_clear(struct rules_result *res);
typedef struct rules_result RulesResult;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(RulesResult, rules_result_clear)

const char *rules_basis_name(enum rules_basis basis);
const char *rules_applicant_source_name(enum rules_applicant_source src); /* NULL for none */

/* Normalizes a subject for comparison: NFC, case-folded, whitespace
 * collapsed, reply/forward prefixes (Re:, SV:, VS:, Fwd:, Fw:, AW:, WG: …),
 * gateway tags and surrounding quotes stripped.  Newly allocated. */
char *rules_normalize_subject(const char *subject);

/* Scores SUBJECT against CALL_SUBJECT: RULES_MATCH_EXACT (score 1),
 * FUZZY (score >= threshold) or NONE.  When it matches and APPLICANT is not
 * NULL, *applicant is the rest of the subject after the call's words, in
 * its original case, trimmed of separators (newly allocated, or NULL). */
enum rules_match rules_subject_match(const char *subject, const char *call_subject, double threshold, double *score,
				     char **applicant);

/* The same with all settings (NULL: defaults) and everything it found. */
struct rules_subject_result {
	enum rules_match match;
	double score;          /* the whole call's score, also when it does not match */
	bool partial;          /* matched on the call's title (after its first colon) alone */
	size_t call_words;     /* words in the call's subject (a longer exact match wins) */
	char *applicant;       /* owned, or NULL */
	bool applicant_before; /* the applicant stands before the call's words */
	char *remainder;       /* owned: the subject's text outside the call's words, or NULL */
};
enum rules_match rules_subject_match_full(const char *subject, const char *call_subject,
					  const struct rules_settings *settings, struct rules_subject_result *out);
void rules_subject_result_clear(struct rules_subject_result *r);
typedef struct rules_subject_result RulesSubjectResult;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(RulesSubjectResult, rules_subject_result_clear)

/* The first word of SUBJECT that is a misspelling of a word of
 * CALL_SUBJECT (alike as SETTINGS' word_similarity, NULL: default, but not
 * equal, nor a number, nor cut short), in its original case: newly
 * allocated, or NULL when there is none. */
char *rules_subject_typo(const char *subject, const char *call_subject, const struct rules_settings *settings);

/* The kind of message from its hints and subject, before any call match. */
enum rules_kind rules_message_kind(const char *subject, unsigned hints);

/* "-3h12m", "+2h13m", "+45s", "-14d3h": a compact signed duration. */
char *rules_format_delta(int64_t seconds);

/* An attachment as a candidate for "the application form". */
struct rules_form_candidate {
	const char *filename;
	bool is_pdf, is_docx;
	bool signature_valid; /* a PDF with a valid digital signature */
	bool mentions_form;   /* its first page says ansøgning/skema */
};

/* The attachment most likely to be the form: a validly signed PDF, else a
 * PDF or DOCX whose name or first page says ansøgning/skema, else the only
 * PDF, else the only DOCX; the first of equals.  -1 when none is. */
int rules_pick_form(const struct rules_form_candidate *c, size_t n);
