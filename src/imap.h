/* imap: an IMAP client session on libetpan (read-only unless the caller
 * SELECTs for the after-ingest actions), over our own stream
 * driver (net + tls) so that the certificate is verified before the
 * greeting is parsed, every read and write has a timeout, and no response
 * can grow past a byte budget.  No logging.
 * Errors: enum imap_error; the reason (never the password) is in
 * imap_errmsg(), or for imap_connect() in *ret_error. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <glib.h>

enum imap_error {
	IMAP_OK = 0,
	IMAP_E_CONNECT = -1,     /* TCP, connection lost */
	IMAP_E_TLS = -2,         /* handshake failed */
	IMAP_E_CERTIFICATE = -3, /* the server's certificate was refused */
	IMAP_E_STARTTLS = -4,    /* STARTTLS unavailable or refused: no plaintext fallback */
	IMAP_E_AUTH = -5,        /* login refused */
	IMAP_E_PROTOCOL = -6,    /* unparseable, BAD, BYE, oversize response */
	IMAP_E_TIMEOUT = -7,
	IMAP_E_TOO_LARGE = -8,    /* a body exceeded its limit; the session is dropped */
	IMAP_E_MAILBOX = -9,      /* EXAMINE refused */
	IMAP_E_GONE = -10,        /* the message is no longer on the server */
	IMAP_E_CANCELLED = -11,   /* *cancel was set while waiting */
	IMAP_E_UNSUPPORTED = -12, /* the server lacks the extension */
	IMAP_E_SPOOL = -13,       /* the local spool file refused a write */
};

enum imap_auth {
	IMAP_AUTH_LOGIN,   /* LOGIN */
	IMAP_AUTH_PLAIN,   /* AUTHENTICATE PLAIN */
	IMAP_AUTH_XOAUTH2, /* AUTHENTICATE XOAUTH2; password is the access token */
};

struct imap_options {
	const char *host;
	uint16_t port;
	bool starttls;            /* false: implicit TLS */
	const char *ca_file;      /* NULL: system trust store */
	const char *tls_priority; /* GnuTLS priority string; NULL: TLS_DEFAULT_PRIORITY */
	const char *username;
	enum imap_auth auth;
	const char *password;  /* borrowed; not kept after imap_connect (the token for XOAUTH2) */
	unsigned timeout;      /* seconds, for every network step; an ordinary command
				  * (greeting, LOGIN, EXAMINE …) may take twice that in all */
	unsigned command_time; /* seconds the FETCH of one message may take in all, however
				  * the server trickles it; 0: no limit */
	atomic_int *cancel;    /* may be NULL: set by a signal handler, it ends any wait */
};

struct imap_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext; /* 0 when the server did not say */
	uint32_t exists;
	bool read_only; /* EXAMINE, or the server granted only READ-ONLY */
};

struct imap_meta {
	uint32_t uid;
	bool has_internaldate;
	int64_t internaldate;      /* Unix time */
	int internaldate_offset;   /* minutes east of UTC, as the server sent it */
	char internaldate_raw[40]; /* "15-Jun-2022 10:12:00 +0200" */
	uint64_t size;             /* RFC822.SIZE as announced (not trusted) */
};

struct imap;

/* Connects, verifies TLS and logs in.  On failure *ret is untouched and
 * *ret_error is a newly allocated reason (g_free). */
int imap_connect(const struct imap_options *opts, struct imap **ret, char **ret_error);
/* Sends LOGOUT when the session is healthy; frees everything. */
void imap_free(struct imap *im);
/* g_autoptr(Imap) frees with imap_free(). */
typedef struct imap Imap;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Imap, imap_free)

const char *imap_errmsg(struct imap *im);
/* False once the stream can no longer be trusted (lost, timed out, out of
 * step): the session must be dropped.  A plain NO leaves it usable. */
bool imap_usable(struct imap *im);
const char *imap_error_name(int err);

/* EXAMINE (read-only) MAILBOX, given in UTF-8. */
int imap_examine(struct imap *im, const char *mailbox, struct imap_mailbox *info);

/* SELECT (read-write) MAILBOX, for the after-ingest actions;
 * IMAP_E_MAILBOX when the server grants it read-only. */
int imap_select(struct imap *im, const char *mailbox, struct imap_mailbox *info);

/* UID STORE +FLAGS.SILENT (KEYWORD) on the N UIDs of the selected mailbox.
 * IMAP_E_UNSUPPORTED when its PERMANENTFLAGS do not allow the keyword. */
int imap_add_keyword(struct imap *im, const uint32_t *uids, size_t n, const char *keyword);

/* Moves the N UIDs of the selected mailbox to FOLDER (UTF-8): UID MOVE
 * (RFC 6851) when offered, else UID COPY + \Deleted + UID EXPUNGE of just
 * those UIDs (UIDPLUS); IMAP_E_UNSUPPORTED when the server has neither
 * (never a plain EXPUNGE: it would remove other people's deletions).
 * UIDs no longer in the mailbox are skipped by the server: retrying is
 * harmless.  IMAP_E_MAILBOX when FOLDER is refused (e.g. does not exist). */
int imap_move(struct imap *im, const uint32_t *uids, size_t n, const char *folder);

/* UID, INTERNALDATE and RFC822.SIZE of every message with UID >= FIRST,
 * ascending.  *ret_list is newly allocated (g_free).  The answer is checked
 * as a whole before any of it is used: a message number beyond EXISTS,
 * UIDs that do not rise with message numbers, or a UID at or above the
 * server's UIDNEXT (asked again with STATUS before a jump is believed)
 * is IMAP_E_PROTOCOL, and the session is unusable. */
int imap_fetch_meta(struct imap *im, uint32_t first, struct imap_meta **ret_list, size_t *ret_n);
/* The same for the N UIDS (ascending) alone: those of them the server
 * has, ascending. */
int imap_fetch_meta_uids(struct imap *im, const uint32_t *uids, size_t n, struct imap_meta **ret_list,
			 size_t *ret_count);
/* UID SEARCH ALL: every UID of the selected mailbox, ascending, each
 * below the server's UIDNEXT (checked as above).  *ret_uids is newly
 * allocated (g_free). */
int imap_search_all(struct imap *im, uint32_t **ret_uids, size_t *ret_n);

/* BODY.PEEK[] of UID into OUT (appended), never more than MAX bytes in
 * memory.  IMAP_E_TOO_LARGE when the body is longer (the session is then
 * unusable), IMAP_E_GONE when the server returned no body. */
int imap_fetch_body(struct imap *im, uint32_t uid, uint64_t max, GByteArray *out);

/* The same, into OUT (empty) while the body is at most MEM_MAX bytes; a
 * longer one is written to the file FD (the caller's spool, at its
 * start) as it arrives, what had come before included, and OUT is left
 * empty: it is never all in memory.  *SPOOLED says where it went (set
 * whenever the fetch got as far as the body).  IMAP_E_SPOOL when FD
 * refuses. */
int imap_fetch_body_spool(struct imap *im, uint32_t uid, uint64_t max, GByteArray *out, uint64_t mem_max, int fd,
			  bool *spooled);

/* IDLE (RFC 2177).  imap_idle_start() sends IDLE and waits for the
 * continuation; imap_idle_wait() waits up to MS for the server to say
 * anything (1) or not (0), or is cancelled (IMAP_E_CANCELLED);
 * imap_idle_done() sends DONE and reads what came, updating the mailbox's
 * EXISTS.  IMAP_E_UNSUPPORTED when the server does not offer IDLE. */
int imap_idle_start(struct imap *im);
/* True when the server has sent something no command has read yet
 * (between commands: an unsolicited EXISTS, say).  Sending IDLE then
 * would put it before IDLE's continuation, which Debian's libetpan cannot
 * parse; a NOOP reads it. */
bool imap_pending(struct imap *im);
int imap_idle_wait(struct imap *im, int ms);
int imap_idle_done(struct imap *im);

/* The selected mailbox's message count as the server last said it. */
uint32_t imap_exists(struct imap *im);

/* NOOP: keeps the session alive and collects untagged updates. */
int imap_noop(struct imap *im);

/* Where imap_fetch_bodies() puts the next body: into OUT (empty) while
 * it is at most MEM_MAX bytes, then into the file FD (at its start), as
 * imap_fetch_body_spool() does; FD -1: all in OUT.  Owned by the caller. */
struct imap_body_target {
	GByteArray *out;
	int fd;
	uint64_t mem_max;
};

/* Called after each FETCH response that brought a body, with the UID the
 * response named (0: none) and where the body went (SPOOLED: the
 * target's file; LEN bytes).  It may point the target elsewhere for the
 * next body (OUT NULL: no more bodies are expected, and one would end
 * the fetch).  False: stop (the fetch ends with IMAP_E_PROTOCOL and the
 * session is unusable). */
typedef bool imap_body_done(uint32_t uid, bool body, bool spooled, uint64_t len, void *ud);

/* BODY.PEEK[] of the N UIDS in one command (the server does not go idle
 * between messages), each body handed to DONE as its response ends, never
 * more than MAX bytes each.  Each body is attributed by the UID in its own
 * response, never by its position: a UID the server did not deliver is
 * simply not reported, for the caller to ask again alone.  IMAP_OK once
 * the command ended (OK or NO); IMAP_E_TOO_LARGE (the body in progress
 * is longer than MAX), IMAP_E_SPOOL, or a network or protocol error:
 * the session is then unusable, and the bodies already reported stand. */
int imap_fetch_bodies(struct imap *im, const uint32_t *uids, size_t n, uint64_t max, struct imap_body_target *target,
		      imap_body_done *done, void *ud);

/* BODY.PEEK[HEADER] of UID, at most MAX bytes (a partial fetch). */
int imap_fetch_header(struct imap *im, uint32_t uid, uint64_t max, GByteArray *out);

/* A UTF-8 mailbox name in IMAP's modified UTF-7 ("Ansøgninger" ->
 * "Ans&APg-gninger"); a name that is already modified UTF-7 is kept.
 * Newly allocated; NULL when NAME is not valid UTF-8. */
char *imap_mailbox_encode(const char *utf8);
