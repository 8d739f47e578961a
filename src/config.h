/* config: loads and validates puljed.conf (GKeyFile/INI).
 * Everything returned is owned by the struct config; free it with
 * config_free().  No network, no logging: errors come back as text that
 * names the file, the [group] and the key. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <glib.h>

#define CONFIG_DEFAULT_DATABASE "/var/lib/puljed/puljed.db"
#define CONFIG_DEFAULT_TIMEZONE "Europe/Copenhagen"
#define CONFIG_DEFAULT_KEYWORD "$Puljed"

enum config_security {
	CONFIG_SECURITY_TLS,      /* implicit TLS (port 993) */
	CONFIG_SECURITY_STARTTLS, /* plain connect, STARTTLS required */
};

struct config_call {
	char *id;              /* the name after "call " */
	char *subject;         /* as written in the file */
	char *deadline;        /* as written in the file */
	int64_t deadline_last; /* last on-time second, Unix time, inclusive */
	char *timezone;        /* IANA name */
	GTimeZone *tz;
	bool basis_date_header; /* deadline_basis = date-header */
	bool basis_edge;        /* deadline_basis = edge: the authority's mail server's time */
	int64_t grace;          /* seconds */
};

enum config_auth {
	CONFIG_AUTH_LOGIN,   /* IMAP LOGIN; SMTP AUTH LOGIN */
	CONFIG_AUTH_PLAIN,   /* AUTHENTICATE PLAIN / AUTH PLAIN (SASL) */
	CONFIG_AUTH_XOAUTH2, /* AUTHENTICATE XOAUTH2 / AUTH XOAUTH2 with an access token from token_file */
};

enum config_after_ingest {
	CONFIG_AFTER_NONE,    /* EXAMINE: the mailbox is never changed */
	CONFIG_AFTER_KEYWORD, /* UID STORE +FLAGS.SILENT (keyword) */
	CONFIG_AFTER_MOVE,    /* UID MOVE, or UIDPLUS COPY + \Deleted + UID EXPUNGE */
};

struct config_imap {
	char *host;
	uint16_t port;
	enum config_security security;
	char *ca_file;      /* NULL: system trust store */
	char *tls_priority; /* GnuTLS priority string; NULL: tls.h's TLS_DEFAULT_PRIORITY */
	char *username;
	char *password_file; /* NULL: systemd credential "imap-password" */
	char *mailbox;
	unsigned timeout; /* seconds, every network step */
	enum config_auth auth;
	char *token_file; /* xoauth2: the access token, re-read at every connect */
	enum config_after_ingest after_ingest;
	char *after_ingest_keyword; /* default "$Puljed" */
	char *after_ingest_folder;  /* move: the destination, UTF-8 */
};

struct config_limits {
	uint64_t max_message_size; /* bytes; larger messages are recorded without body */
	uint64_t max_header_size;  /* bytes of header fetched for a message over the limit */
	unsigned max_mime_depth;
	unsigned max_mime_parts;
	unsigned max_message_time;        /* seconds for one message: fetching it (any one command) and walking it */
	uint64_t max_header_field;        /* bytes of one header field; longer: flagged long-header */
	unsigned max_header_fields;       /* fields in a message's header; more: flagged too-many-headers */
	uint64_t prefetch;                /* bytes of messages fetched ahead of the one being recorded; 0: none */
	unsigned max_header_fields_total; /* fields in all of a message's headers together */
	uint64_t max_header_bytes_total;  /* bytes of all of a message's headers together */
};

#define CONFIG_TEMPLATE_MAX (64u * 1024u) /* bytes of a receipt template */

/* [receipts]: the receipt mailed to an applicant (doc/puljed.conf.5.scd).
 * Every key is validated whether or not send is on; smtp_host and from
 * are required only with send = yes. */
struct config_receipts {
	bool send; /* default no */
	char *smtp_host;
	uint16_t smtp_port;            /* default 587 with starttls, 465 with tls */
	enum config_security security; /* default starttls; never plaintext */
	char *ca_file;                 /* NULL: system trust store */
	char *tls_priority;            /* NULL: tls.h's TLS_DEFAULT_PRIORITY */
	char *username;                /* NULL: no AUTH */
	char *password_file;           /* NULL: systemd credential "smtp-password" */
	enum config_auth auth;         /* default CONFIG_AUTH_PLAIN */
	char *token_file;              /* xoauth2: the access token */
	char *from;                    /* as written */
	char *from_name;               /* display name, unquoted, or NULL */
	char *from_addr;               /* local@domain, the domain lower-cased */
	char *from_domain;             /* lower-case */
	unsigned statuses;             /* bitmask of 1u << enum rules_status; never RULES_UNRELATED */
	unsigned max_per_sender;       /* per address per rolling 24 h; 0: no cap */
	unsigned max_per_minute;       /* receipts sent within any 60 s, all addresses; 0: no limit */
	char *template_path;           /* NULL: the built-in text */
	char *template;                /* the file's text (UTF-8, no NUL, <= CONFIG_TEMPLATE_MAX), or NULL */
	char *sign_cert;               /* S/MIME: both or neither */
	char *sign_key;
	unsigned timeout;  /* seconds, every SMTP step; default 30 */
	int64_t retry_min; /* seconds; default 60 */
	int64_t retry_max; /* seconds, >= retry_min; default 3600 */
	int64_t give_up;   /* seconds after the first try; default 5 days */
};

struct config {
	char *path;
	struct config_imap imap;
	struct config_receipts receipts;
	unsigned poll_interval;      /* seconds */
	unsigned gap_check_interval; /* seconds between gap checks */
	char *database;
	uint64_t
		wal_limit; /* [store] wal_limit: bytes the WAL may reach before a commit checkpoints; 0: SQLite's own */
	unsigned commit_batch; /* [store] commit_batch: messages one transaction may record; 1: one each */
	struct config_limits limits;
	double fuzzy_threshold; /* [match] fuzzy_threshold */
	double word_similarity; /* [match] word_similarity */
	double title_threshold; /* [match] title_threshold */
	char *trust_file;       /* [signatures] trust_file: PEM roots for signer_trusted, or NULL */
	char **trusted_relays;  /* [evidence] trusted_relays: host name globs, NULL-terminated, or NULL */
	int64_t max_edge_skew;  /* [evidence] max_edge_skew: seconds an edge time may lie after INTERNALDATE */
	struct config_call *calls;
	size_t n_calls;
};

/* Loads PATH.  On failure returns a negative errno and sets *ret_error to a
 * newly allocated one-line message "PATH: [group] key: reason". */
int config_load(const char *path, struct config **ret_config, char **ret_error);
void config_free(struct config *cfg);
/* g_autoptr(Config) frees with config_free(). */
typedef struct config Config;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Config, config_free)

/* Checks that the files the daemon needs besides the password (ca_file,
 * trust_file; with [receipts] send = yes its ca_file, sign_cert and
 * sign_key) are readable; puljectl does not need them. */
int config_check_files(const struct config *cfg, char **ret_error);

/* Reads the IMAP secret: with auth = xoauth2 the access token from
 * token_file; otherwise the password from password_file, or from the
 * systemd credential "imap-password" in $CREDENTIALS_DIRECTORY.  The file
 * is refused (-EPERM) when config_judge_secret_file() refuses it.  A trailing
 * newline is removed.  *ret_password is newly allocated; wipe and free it with
 * config_password_free().  Errors name the key, never the secret. */
int config_read_password(const struct config *cfg, char **ret_password, char **ret_error);
void config_password_free(char *password);

/* Reads the SMTP secret for [receipts] as config_read_password() does for
 * IMAP: with auth = xoauth2 the token from token_file; otherwise
 * password_file, or the systemd credential "smtp-password".  An empty
 * credential (the unit's empty default when no file was loaded) is an
 * error naming it.  -EINVAL when [receipts] username is unset (no AUTH,
 * no secret).  Wipe and free *ret_secret with config_password_free(). */
int config_read_smtp_secret(const struct config *cfg, char **ret_secret, char **ret_error);

/* Reads the secrets as config_read_password() and, with [receipts]
 * send = yes and a username, config_read_smtp_secret() do, and wipes them
 * at once: whether the daemon will be able to log in.  *ret_warning (newly allocated,
 * may stay NULL) says what is allowed but unwise, e.g. a file everyone
 * may read. */
int config_check_secret(const struct config *cfg, char **ret_warning, char **ret_error);

enum config_file_verdict {
	CONFIG_FILE_OK,
	CONFIG_FILE_WARN,   /* allowed, with a warning: everyone may read it */
	CONFIG_FILE_REFUSE, /* someone else could have written it */
};

/* Judges a password or token file by its stat (of what open() reached, so
 * a symlink's target) for a daemon running as SERVICE_UID: refused when it
 * is not a regular file, is owned by neither SERVICE_UID nor root, or is
 * writable by its group or everyone; a warning when everyone may read it.
 * *ret_why (newly allocated; for OK untouched) says which, and what to do. */
enum config_file_verdict config_judge_secret_file(const struct stat *st, uid_t service_uid, char **ret_why);

/* Parses "123", "64k", "25M", "1G" (binary multiples). */
int config_parse_size(const char *text, uint64_t *ret_size);

/* Parses "90s", "15m", "2h", "1d", "0" into seconds (at most 366 days).
 * 0 or -EINVAL; *ret_seconds untouched on failure. */
int config_parse_duration(const char *text, int64_t *ret_seconds);
