/* mime: parses one raw message with GMime and walks every part.
 * Input is a byte buffer (mime_parse) or a file descriptor it reads with
 * pread (mime_parse_fd, mime_sha256_fd); no other I/O.  Output is plain
 * structs.  Time is passed in (struct mime_limits: clock, when).
 * Everything returned is owned by the struct mime_message; free it with
 * mime_message_free(). */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "cms.h"

/* Transfer-encoded message/rfc822 parts (RFC 2046 forbids the encoding)
 * decoded inside one another: each level holds its decoded copy while the
 * next is walked, and quoted-printable does not shrink, so nesting them
 * would multiply the memory of one large message.  A deeper one is kept
 * as the attachment it is. */
#define MIME_MAX_ENCODED_MESSAGES 1

struct mime_limits {
	unsigned max_depth;            /* nesting of multiparts and forwarded messages */
	unsigned max_parts;            /* parts walked before giving up */
	const struct cms_trust *trust; /* for signer_trusted; may be NULL */
	/* The time budget: once CLOCK() passes DEADLINE the walk stops
	 * (MIME_TIME_LIMIT).  CLOCK NULL: no budget.  Time is passed in. */
	int64_t (*clock)(void);
	int64_t deadline;
	size_t max_header_field;    /* a longer (unfolded) header field: MIME_LONG_HEADER; 0: none */
	unsigned max_header_fields; /* more fields in one header (the message's or a part's):
				    * MIME_TOO_MANY_HEADERS; 0: none */
	/* Before GMime builds the tree, a pre-scan of the bytes (mimescan)
	 * enforces max_depth, max_parts, max_header_fields and these two: the
	 * parser then reads only the bytes before the first part or field past
	 * a limit.  0: none. */
	uint64_t max_header_fields_total; /* fields in all the message's headers together */
	uint64_t max_header_bytes_total;  /* bytes of all its headers together */
	/* When *STOP is set, the scan and the walk end (MIME_STOPPED): the
	 * result is partial and must not be recorded.  May be NULL. */
	const atomic_int *stop;
	/* Signatures are judged at the message's arrival (the server held
	 * these bytes then) unless a timestamp proves an earlier time. */
	struct cms_when when;
};

enum mime_flags {
	MIME_NO_HEADERS = 1u << 0,       /* not a message at all */
	MIME_TRUNCATED = 1u << 1,        /* missing closing boundary, cut short */
	MIME_MALFORMED = 1u << 2,        /* structure the parser had to guess at */
	MIME_TOO_DEEP = 1u << 3,         /* max_depth reached: deeper parts not walked (nor parsed, nor
					* anything after them: the pre-scan stops the parse there) */
	MIME_TOO_MANY_PARTS = 1u << 4,   /* max_parts reached: later parts not walked (nor parsed) */
	MIME_BAD_ENCODING = 1u << 5,     /* an attachment's base64 is corrupt */
	MIME_TIME_LIMIT = 1u << 6,       /* max_message_time ran out: later parts not walked */
	MIME_BAD_HEADER = 1u << 7,       /* a header field name that is not printable ASCII (NUL, 8-bit) */
	MIME_LONG_HEADER = 1u << 8,      /* a header field longer than max_header_field */
	MIME_TOO_MANY_HEADERS = 1u << 9, /* more header fields than max_header_fields (a mail loop?),
					  * or than the totals: the parse stopped before them */
	MIME_STOPPED = 1u << 10,         /* *limits->stop was set: partial, not to be recorded */
	MIME_UNPARSED = 1u << 11,        /* not parsed at all (set by the caller: see attempt.h) */
};

struct mime_attachment {
	char *filename;     /* decoded, UTF-8; NULL when the part names none */
	char *content_type; /* lower-case "type/subtype" as declared */
	char *part_path;    /* "1.2", "2.1.1": where it sits in the tree */
	const char *source; /* "mime", "pkcs7" (inside S/MIME signed-data), "tnef",
			      * "uuencode" (a "begin 644 name" block in a text body) */
	uint8_t *data;      /* decoded content */
	size_t size;
	char sha256[65]; /* hex of data */
	bool is_pdf;     /* by type, name or content */
	bool is_docx;
	bool mentions_form;        /* a PDF whose text says ansøgning/skema */
	enum cms_status signature; /* PDFs: their digital signature */
	char *signer;
	bool has_signed_at;
	int64_t signed_at;
	bool covers_whole_file;
	int signer_trusted;          /* 1, 0, -1 unknown */
	bool modified_after_signing; /* other content appended after the signature */
	char *signature_reason;      /* why invalid, or a note on a valid one; NULL */
	bool has_validated_at;
	int64_t validated_at; /* the signature's validation time */
	enum cms_time_source time_source;
};

/* What was done with each MIME part, and why. */
struct mime_part_note {
	char *part_path;
	char *content_type;
	char *filename;
	size_t size;
	const char *action; /* attachment, body, inline-image, signature, container, tnef, pkcs7, message */
	char *why;
};

/* Header facts that tell automatic mail from a person's. */
enum mime_facts {
	MIME_FACT_AUTO_SUBMITTED = 1u << 0,    /* Auto-Submitted: other than "no", X-Auto-Response-Suppress */
	MIME_FACT_AUTOREPLY = 1u << 1,         /* Auto-Submitted: auto-replied, X-Autoreply, X-Autorespond */
	MIME_FACT_PRECEDENCE_AUTO = 1u << 2,   /* Precedence: auto_reply */
	MIME_FACT_PRECEDENCE_BULK = 1u << 3,   /* Precedence: bulk, list, junk */
	MIME_FACT_LIST = 1u << 4,              /* List-Id, List-Unsubscribe */
	MIME_FACT_REPORT = 1u << 5,            /* top-level multipart/report */
	MIME_FACT_FAILED_RECIPIENTS = 1u << 6, /* X-Failed-Recipients (Exim, Postfix bounces) */
	MIME_FACT_CALENDAR = 1u << 7,          /* a text/calendar (or application/ics) part: an invitation */
};

struct mime_message {
	char *subject;    /* decoded UTF-8 or NULL */
	char *from_addr;  /* first From mailbox address or NULL */
	char *from_name;  /* its display name, decoded, or NULL */
	char *message_id; /* without <> or NULL */
	bool has_date;
	int64_t date;    /* Date: header, Unix time (named zones such as CEST read with their offset) */
	int date_offset; /* its UTC offset in minutes */
	bool has_received;
	int64_t received;        /* date of the newest (topmost) Received: header */
	char **received_headers; /* every Received: value, topmost first, raw (folded), NULL-terminated */
	size_t n_received_headers;
	char *organization; /* Organization: header, decoded, or NULL */
	unsigned facts;     /* enum mime_facts */
	struct mime_attachment *attachments;
	size_t n_attachments;
	unsigned flags;        /* enum mime_flags */
	size_t n_parts;        /* leaf parts seen */
	enum cms_status smime; /* the S/MIME signature(s) of the message */
	char *smime_reason;    /* why invalid, or a note on a valid one; NULL */
	bool smime_has_validated_at;
	int64_t smime_validated_at;
	enum cms_time_source smime_time_source;
	struct mime_part_note *notes;
	size_t n_notes;
};

/* Parses RAW (borrowed, not modified; parts are decoded without copying
 * the message).  Never fails on bad input: damage is reported in ->flags.
 * Returns 0. */
int mime_parse(GByteArray *raw, const struct mime_limits *limits, struct mime_message **out);
/* The same over the file FD (read from its start; the caller keeps FD):
 * the message's bytes stay in the file. 0 or a negative errno. */
int mime_parse_fd(int fd, const struct mime_limits *limits, struct mime_message **out);
/* SHA-256 of all of FD's bytes (pread from 0) and their count. */
int mime_sha256_fd(int fd, uint64_t *len, char out[65]);
void mime_message_free(struct mime_message *msg);
/* g_autoptr(MimeMessage) frees with mime_message_free(). */
typedef struct mime_message MimeMessage;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MimeMessage, mime_message_free)

/* "broken", "truncated", … for each flag set, comma-separated; NULL if none.
 * Newly allocated. */
char *mime_flags_describe(unsigned flags);

/* Hex SHA-256 of DATA into OUT (65 bytes). */
void mime_sha256_hex(const uint8_t *data, size_t len, char out[65]);
