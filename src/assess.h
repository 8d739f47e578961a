/* assess: turns one message — its bytes and what the server said of it —
 * into a record: parse (mime), classify (rules), render the evidence times
 * in the call's time zone (datetime).  No network, no database, no
 * logging, no clock (the time is NOW in its input); it reads, for a
 * spooled message, the file RAW_FD it is handed.  Used by ingest for
 * new mail and by puljectl reclassify for stored mail, so that both decide
 * alike.  Everything in struct assessment is owned by it; release it with
 * assess_clear(). */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "cms.h"
#include "config.h"
#include "store.h"

struct assess_input {
	const char *mailbox;
	uint32_t uidvalidity;
	uint32_t uid;
	bool has_arrival;
	int64_t arrival;          /* INTERNALDATE, Unix time */
	const char *internaldate; /* as the server sent it */
	uint64_t server_size;     /* RFC822.SIZE */
	GByteArray *raw;          /* the whole message, or only its header when
				      * body_missing, or NULL (borrowed) */
	bool spooled;             /* the whole message is in the file RAW_FD instead of RAW
				      * (the daemon's spool; borrowed) */
	int raw_fd;
	const char *raw_sha256;             /* of the whole message (in RAW or spooled), when the
				      * caller has hashed it already (hex, borrowed), or NULL */
	uint64_t raw_len;                   /* the spooled message's length, with raw_sha256 */
	const char *body_missing;           /* NULL, or why the body is absent: "too-large", "gone" */
	const struct store_message *stored; /* reclassify without raw bytes: the
					     * headers recorded before (may be NULL) */
	const struct cms_trust *trust;      /* [signatures] trust_file, or NULL */
	int64_t now;                        /* Unix time the message is judged at: the record's
					     * recorded_at, and the note on a signer certificate
					     * expired since the arrival */
	int64_t (*clock)(void);             /* monotonic µs, for [limits] max_message_time; NULL: no budget */
	int64_t started;                    /* CLOCK() when the message's fetch began */
	bool unparsed;                      /* record the body's bytes without parsing them (its
					     * parse killed the process before): flagged "unparsed" */
	const atomic_int *stop;             /* set: stop parsing (the assessment is then not to be
					     * recorded: flagged "stopped"); may be NULL */
};

struct assessment {
	struct store_message msg; /* points into the fields below */
	struct store_attachment_in *atts;
	size_t n_atts;
	/* owned */
	struct mime_message *mime;
	char *received_at, *date_header, *received_header, *reasons, *flags, *applicant;
	char *edge_received_at; /* the edge arrival (received_edge), ISO 8601, or NULL */
	char **signed_at;       /* per attachment, ISO 8601 */
	char **validated_at;    /* per attachment: its signature's validation time */
	char *smime_validated_at;
	struct store_part *parts;
	char raw_sha256[65];
};

void assess_message(const struct config *cfg, const struct assess_input *in, struct assessment *out);
void assess_clear(struct assessment *a);
/* g_auto(Assessment) a = { 0 }; clears with assess_clear(). */
typedef struct assessment Assessment;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Assessment, assess_clear)
