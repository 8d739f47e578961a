/* smtp: a small SMTP submission client (RFC 5321, 3207, 4954) over our
 * own net + tls, so that the server's certificate chain and host name are
 * verified inside the handshake — the same code the IMAP side uses —
 * before any credential or mail is sent.  Never plaintext: STARTTLS is
 * required when asked for (no fallback) or the session is implicit TLS.
 * Every wait has the timeout; everything the server sends is bounded by
 * the constants below.  No logging.
 * Errors: enum smtp_error; the reason, with the server's reply text (never
 * the secret), is in smtp_errmsg(), or for smtp_open() in *ret_error. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* Bounds on what a (hostile) server may send in one reply.  RFC 5321
 * 4.5.3.1.5 allows a reply line of 512 octets; real servers stay well
 * under it, but some put long texts in their rejections. */
#define SMTP_MAX_LINE 2048         /* one reply line, with its CRLF */
#define SMTP_MAX_LINES 64          /* lines of one (multi-line) reply */
#define SMTP_MAX_REPLY (16 * 1024) /* bytes of one reply in all */
/* The longest a QUIT at smtp_close() is waited for, in ms. */
#define SMTP_QUIT_WAIT_MS 2000
/* Longest local part + domain we put in MAIL FROM / RCPT TO (RFC 5321
 * 4.5.3.1.3: a path of 256 octets). */
#define SMTP_MAX_ADDRESS 254

enum smtp_security {
	SMTP_STARTTLS, /* plain connect, STARTTLS required before anything else */
	SMTP_TLS,      /* implicit TLS (port 465) */
};

enum smtp_auth {
	SMTP_AUTH_NONE,
	SMTP_AUTH_PLAIN,   /* AUTH PLAIN with the initial response (RFC 4616) */
	SMTP_AUTH_LOGIN,   /* AUTH LOGIN: user, then password, each base64 */
	SMTP_AUTH_XOAUTH2, /* AUTH XOAUTH2; secret is the access token */
};

enum smtp_error {
	SMTP_OK = 0,
	SMTP_E_CONNECT = -1,     /* TCP connect failed (server down, refused, no route) */
	SMTP_E_TIMEOUT = -2,     /* a wait ran out */
	SMTP_E_TLS = -3,         /* handshake failed, or the trust store could not be loaded */
	SMTP_E_CERTIFICATE = -4, /* the server's certificate chain or host name was refused */
	SMTP_E_PROTOCOL = -5,    /* bad or oversized reply, STARTTLS not offered, bad argument */
	SMTP_E_AUTH = -6,        /* AUTH refused or the mechanism not offered */
	SMTP_E_TEMPORARY = -7,   /* 4xx to the greeting, MAIL, RCPT or DATA */
	SMTP_E_PERMANENT = -8,   /* 5xx to the greeting, MAIL, RCPT or DATA */
	SMTP_E_NETWORK = -9,     /* the connection was lost */
	SMTP_E_CANCELLED = -10,  /* *cancel was set while waiting */
};

struct smtp_settings {
	const char *host;
	uint16_t port;
	enum smtp_security security;
	const char *ca_file;  /* NULL: the system trust store */
	const char *priority; /* GnuTLS priority string; NULL: TLS_DEFAULT_PRIORITY */
	int timeout_ms;       /* every wait: connect, handshake, each reply */
	const char *helo;     /* NULL: the local host name */
	enum smtp_auth auth;
	const char *username; /* NULL: no AUTH (whatever auth says) */
	const char *secret;   /* password or access token; borrowed, not kept */
	atomic_int *cancel;   /* may be NULL: set by a signal handler, it ends any wait */
};

struct smtp;

/* Connects, reads the greeting, EHLO, STARTTLS (SMTP_STARTTLS: required,
 * refused with SMTP_E_PROTOCOL when not offered), EHLO again, and AUTH
 * when S->username is set.  On success *ret is a session ready for
 * smtp_send(); on failure *ret is untouched and *ret_error (g_free) says
 * why, with the server's words when it answered. */
int smtp_open(const struct smtp_settings *s, struct smtp **ret, char **ret_error);

/* MAIL FROM:<MAIL_FROM> (may be ""), RCPT TO:<RCPT_TO>, DATA and the
 * message MSG of LEN bytes (lines ending in LF or CRLF; normalised to CRLF
 * and dot-stuffed here; "." CRLF appended).  SMTP_OK only when the server
 * answered 250 to the end of DATA.  On a 4xx/5xx the session is RSET and
 * stays usable; on a network, timeout or protocol error it is not. */
int smtp_send(struct smtp *c, const char *mail_from, const char *rcpt_to, const void *msg, size_t len);

/* The last error, e.g. "RCPT TO: 550 5.1.1 <x@y>: Recipient address
 * rejected"; "" when none.  One line of printable ASCII (the server's
 * control characters made spaces, other bytes '?'), at most 1023 bytes.
 * Valid until the next call on C. */
const char *smtp_errmsg(const struct smtp *c);
/* The code of the last reply read, 0 when none. */
int smtp_last_code(const struct smtp *c);
/* False after an error that left the connection unusable. */
bool smtp_usable(const struct smtp *c);
/* QUIT (waiting at most SMTP_QUIT_WAIT_MS) when usable, close, free.
 * NULL is fine. */
void smtp_close(struct smtp *c);
/* g_autoptr(Smtp) closes with smtp_close(). */
typedef struct smtp Smtp;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Smtp, smtp_close)

/* ---- the pure parts, exported for tests/test-smtp.c ---- */

/* One reply being read, line by line. */
struct smtp_reply {
	int code;       /* 0 until the first line */
	unsigned lines; /* lines so far */
	size_t bytes;   /* bytes so far */
	GString *text;  /* the lines' texts after "NNN " / "NNN-", joined by '\n' */
	bool done;      /* the last line ("NNN " or "NNN") has been read */
};
void smtp_reply_clear(struct smtp_reply *r);
/* Feeds one reply LINE of LEN bytes without its line end.  Returns 1 when
 * the reply is complete, 0 when more lines follow, SMTP_E_PROTOCOL when the
 * line is malformed (no 3-digit code 2xx–5xx, a code that changes between
 * lines, a separator other than ' ' or '-', a NUL) or a bound above would
 * be exceeded. */
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len);

/* What EHLO's reply announces (its text, as in struct smtp_reply). */
enum {
	SMTP_CAP_STARTTLS = 1u << 0,
	SMTP_CAP_AUTH_PLAIN = 1u << 1,
	SMTP_CAP_AUTH_LOGIN = 1u << 2,
	SMTP_CAP_AUTH_XOAUTH2 = 1u << 3,
	SMTP_CAP_8BITMIME = 1u << 4,
	SMTP_CAP_SMTPUTF8 = 1u << 5,
};
unsigned smtp_ehlo_caps(const char *text);

/* MSG with every line end (CRLF, LF or a lone CR) made CRLF, a '.' put
 * before each line that starts with '.', a CRLF added after a last line
 * that lacks one, and the terminating ".\r\n".  Newly allocated (g_free);
 * its length in *ret_len. */
char *smtp_dot_stuff(const void *msg, size_t len, size_t *ret_len);

/* base64 of "\0USER\0SECRET" (AUTH PLAIN), of "user=USER\1auth=Bearer
 * SECRET\1\1" (XOAUTH2), and of S (each step of AUTH LOGIN).  Newly
 * allocated; free with smtp_secret_free(), which wipes it first. */
char *smtp_auth_plain(const char *user, const char *secret);
char *smtp_auth_xoauth2(const char *user, const char *secret);
char *smtp_auth_base64(const char *s);
void smtp_secret_free(char *s);

/* True when ADDR can go between < and > in MAIL FROM / RCPT TO: at most
 * SMTP_MAX_ADDRESS bytes, printable, no space, '<', '>' or control
 * character (nothing that could end the command and start another). */
bool smtp_address_ok(const char *addr);
