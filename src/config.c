#include "config.h"
#include "datetime.h"
#include "received.h"
#include "record.h"
#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>

#define CALL_PREFIX "call "
#define PASSWORD_MAX 4096
#define TOKEN_MAX (64 * 1024)            /* Microsoft 365 access tokens run to a few KB */
#define CONFIG_MAX_BYTES (1024u * 1024u) /* a config is a few KB; a bigger file is a mistake */

struct key_spec {
	const char *group;
	const char *key;
};

static const struct key_spec known_keys[] = {
	{ "imap", "host" },
	{ "imap", "port" },
	{ "imap", "security" },
	{ "imap", "ca_file" },
	{ "imap", "username" },
	{ "imap", "password_file" },
	{ "imap", "mailbox" },
	{ "imap", "timeout" },
	{ "imap", "auth" },
	{ "imap", "token_file" },
	{ "imap", "tls_priority" },
	{ "imap", "after_ingest" },
	{ "imap", "after_ingest_keyword" },
	{ "imap", "after_ingest_folder" },
	{ "daemon", "poll_interval" },
	{ "daemon", "gap_check_interval" },
	{ "store", "database" },
	{ "store", "wal_limit" },
	{ "store", "commit_batch" },
	{ "limits", "max_message_size" },
	{ "limits", "max_header_size" },
	{ "limits", "max_mime_depth" },
	{ "limits", "max_mime_parts" },
	{ "limits", "max_message_time" },
	{ "limits", "max_header_field" },
	{ "limits", "max_header_fields" },
	{ "limits", "prefetch" },
	{ "limits", "max_header_fields_total" },
	{ "limits", "max_header_bytes_total" },
	{ "call", "subject" },
	{ "call", "deadline" },
	{ "call", "timezone" },
	{ "call", "deadline_basis" },
	{ "call", "grace" },
	{ "match", "fuzzy_threshold" },
	{ "match", "word_similarity" },
	{ "match", "title_threshold" },
	{ "signatures", "trust_file" },
	{ "evidence", "trusted_relays" },
	{ "evidence", "max_edge_skew" },
	{ "receipts", "send" },
	{ "receipts", "smtp_host" },
	{ "receipts", "smtp_port" },
	{ "receipts", "security" },
	{ "receipts", "ca_file" },
	{ "receipts", "tls_priority" },
	{ "receipts", "username" },
	{ "receipts", "password_file" },
	{ "receipts", "auth" },
	{ "receipts", "token_file" },
	{ "receipts", "from" },
	{ "receipts", "statuses" },
	{ "receipts", "max_per_sender" },
	{ "receipts", "template" },
	{ "receipts", "sign_cert" },
	{ "receipts", "sign_key" },
	{ "receipts", "timeout" },
	{ "receipts", "retry_min" },
	{ "receipts", "retry_max" },
	{ "receipts", "give_up" },
};

struct loader {
	GKeyFile *kf;
	const char *path;
	char *error;
};

static int fail(struct loader *l, const char *group, const char *key, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static int fail(struct loader *l, const char *group, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (key)
		l->error = g_strdup_printf("%s: [%s] %s: %s", l->path, group, key, why);
	else
		l->error = g_strdup_printf("%s: [%s]: %s", l->path, group, why);
	return -EINVAL;
}

/* A raw value with an inline comment (" # ...") removed and whitespace
 * trimmed; "\#" stands for a '#' that starts no comment.  GKeyFile itself
 * only knows whole-line comments. */
static char *get_value(struct loader *l, const char *group, const char *key)
{
	char *raw = g_key_file_get_value(l->kf, group, key, NULL);
	if (!raw)
		return NULL;
	char *w = raw;
	for (const char *p = raw; *p; p++) {
		/* GKeyFile has already dropped the spaces before the value, so a
		 * '#' that starts it starts a comment too ("host = # set me"). */
		if (*p == '#' && (p == raw || p[-1] == ' ' || p[-1] == '\t'))
			break;
		if (p[0] == '\\' && p[1] == '#')
			p++;
		*w++ = *p;
	}
	*w = '\0';
	return g_strstrip(raw);
}

/* Whether LINE (without its newline) is blank or a whole-line comment. */
static bool line_is_blank(const char *line)
{
	while (*line == ' ' || *line == '\t' || *line == '\r')
		line++;
	return *line == '\0' || *line == '#';
}

/* The text of PATH as GKeyFile should see it, or an error naming the file,
 * the line and the group: a group header may carry a comment ("[call x]  #
 * ..."), which GKeyFile would refuse; a line that is neither a group, a key
 * nor a comment, a key before any group, and a key set twice in one group
 * (GKeyFile would silently keep the last) are errors. */
static int config_preprocess(struct loader *l, const char *text, GString *out)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autofree char *group = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (size_t n = 0; lines[n]; n++) {
		char *line = lines[n];
		size_t lineno = n + 1;
		if (line_is_blank(line)) {
			g_string_append_printf(out, "%s\n", line);
			continue;
		}
		char *start = line + strspn(line, " \t");
		if (*start == '[') {
			char *close = strchr(start, ']');
			if (!close || !line_is_blank(close + 1)) {
				l->error = g_strdup_printf(
					"%s:%zu: a group header is \"[name]\", optionally followed by a "
					"comment",
					l->path, lineno);
				return -EINVAL;
			}
			g_free(group);
			group = g_strndup(start + 1, (size_t)(close - start - 1));
			g_string_append_printf(out, "[%s]\n", group);
			continue;
		}
		char *eq = strchr(start, '=');
		g_autofree char *key = eq ? g_strstrip(g_strndup(start, (size_t)(eq - start))) : NULL;
		if (!key || !*key) {
			l->error = g_strdup_printf("%s:%zu: [%s]: expected \"key = value\", a [group] or a # comment",
						   l->path, lineno, group ? group : "");
			return -EINVAL;
		}
		if (!group) {
			l->error = g_strdup_printf("%s:%zu: %s: a key before the first [group]", l->path, lineno, key);
			return -EINVAL;
		}
		if (strpbrk(key, "[]")) {
			/* GKeyFile would file "host[da]" as a translation, unseen. */
			l->error = g_strdup_printf("%s:%zu: [%s] %s: unknown key (no translated keys here)", l->path,
						   lineno, group, key);
			return -EINVAL;
		}
		char *id = g_strdup_printf("%s\n%s", group, key);
		size_t first = GPOINTER_TO_SIZE(g_hash_table_lookup(seen, id));
		if (first) {
			l->error = g_strdup_printf("%s:%zu: [%s] %s: set twice (first on line %zu)", l->path, lineno,
						   group, key, first);
			g_free(id);
			return -EINVAL;
		}
		g_hash_table_insert(seen, id, GSIZE_TO_POINTER(lineno));
		g_string_append_printf(out, "%s\n", line);
	}
	return 0;
}

static int get_string(struct loader *l, const char *group, const char *shown, const char *key, bool required,
		      const char *def, char **out)
{
	char *v = get_value(l, group, key);
	if (!v || !*v) {
		g_free(v);
		if (required)
			return fail(l, shown, key, "required key is missing");
		*out = def ? g_strdup(def) : NULL;
		return 0;
	}
	if (!g_utf8_validate(v, -1, NULL)) {
		g_free(v);
		return fail(l, shown, key, "value is not valid UTF-8");
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			g_free(v);
			return fail(l, shown, key, "value contains a control character");
		}
	}
	*out = v;
	return 0;
}

static int get_uint(struct loader *l, const char *group, const char *key, unsigned def, unsigned min, unsigned max,
		    unsigned *out)
{
	g_autofree char *v = get_value(l, group, key);
	if (!v || !*v) {
		*out = def;
		return 0;
	}
	char *end = NULL;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
		return fail(l, group, key, "must be a whole number from %u to %u, got \"%s\"", min, max, v);
	*out = (unsigned)n;
	return 0;
}

int config_parse_size(const char *text, uint64_t *ret_size)
{
	char *end = NULL;
	if (!text || !g_ascii_isdigit(text[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	uint64_t mult = 1;
	switch (g_ascii_toupper(*end)) {
	case '\0':
		break;
	case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (mult > 1 && n > UINT64_MAX / mult))
		return -EINVAL;
	*ret_size = (uint64_t)n * mult;
	return 0;
}

int config_parse_duration(const char *text, int64_t *ret_seconds)
{
	char *end = NULL;
	if (!text || !g_ascii_isdigit(*text))
		return -EINVAL;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	int64_t mult = 1;
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0':
		if (n != 0)
			return -EINVAL;
		break; /* a bare number is ambiguous, bar 0 */
	case 's':
		mult = 1;
		end++;
		break;
	case 'm':
		mult = 60;
		end++;
		break;
	case 'h':
		mult = 3600;
		end++;
		break;
	case 'd':
		mult = 86400;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end || n > (unsigned long long)(INT64_MAX / mult) || n * (unsigned long long)mult > 366ULL * 86400)
		return -EINVAL;
	*ret_seconds = (int64_t)n * mult;
	return 0;
}

static bool valid_call_id(const char *id)
{
	if (!*id)
		return false;
	for (const char *p = id; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

static int check_known_keys(struct loader *l)
{
	gsize n_groups = 0;
	g_auto(GStrv) groups = g_key_file_get_groups(l->kf, &n_groups);
	for (gsize i = 0; i < n_groups; i++) {
		const char *g = groups[i];
		const char *kind = g;
		if (g_str_has_prefix(g, CALL_PREFIX) || strcmp(g, "call") == 0) {
			kind = "call";
			const char *id = g_str_has_prefix(g, CALL_PREFIX) ? g + strlen(CALL_PREFIX) : "";
			if (!valid_call_id(id))
				return fail(
					l, g, NULL,
					"a call group is named [call ID] with an ID of letters, digits, '-', '_' or '.'");
		} else if (strcmp(g, "imap") && strcmp(g, "daemon") && strcmp(g, "store") && strcmp(g, "limits") &&
			   strcmp(g, "match") && strcmp(g, "signatures") && strcmp(g, "evidence") &&
			   strcmp(g, "receipts")) {
			return fail(l, g, NULL,
				    "unknown group (known: [imap], [daemon], [store], [limits], [match], "
				    "[signatures], [evidence], [receipts], [call ID])");
		}
		gsize n_keys = 0;
		g_auto(GStrv) keys = g_key_file_get_keys(l->kf, g, &n_keys, NULL);
		for (gsize k = 0; k < n_keys; k++) {
			bool ok = false;
			for (size_t s = 0; s < G_N_ELEMENTS(known_keys); s++)
				if (!strcmp(known_keys[s].group, kind) && !strcmp(known_keys[s].key, keys[k]))
					ok = true;
			if (!ok)
				return fail(l, g, keys[k], "unknown key");
		}
	}
	return 0;
}

/* auth and token_file of GROUP ([imap] or [receipts]). */
static int load_auth(struct loader *l, const char *group, const char *def, enum config_auth *ret_auth,
		     char **ret_token_file)
{
	g_autofree char *auth = NULL;
	int r;

	if ((r = get_string(l, group, group, "auth", false, def, &auth)) < 0)
		return r;
	if (!strcmp(auth, "login"))
		*ret_auth = CONFIG_AUTH_LOGIN;
	else if (!strcmp(auth, "plain"))
		*ret_auth = CONFIG_AUTH_PLAIN;
	else if (!strcmp(auth, "xoauth2"))
		*ret_auth = CONFIG_AUTH_XOAUTH2;
	else
		return fail(l, group, "auth", "must be \"login\", \"plain\" or \"xoauth2\", got \"%s\"", auth);
	if ((r = get_string(l, group, group, "token_file", false, NULL, ret_token_file)) < 0)
		return r;
	if (*ret_auth == CONFIG_AUTH_XOAUTH2 && !*ret_token_file)
		return fail(l, group, "token_file",
			    "required with auth = xoauth2 (the file an OAuth2 token helper writes)");
	if (*ret_auth != CONFIG_AUTH_XOAUTH2 && *ret_token_file)
		return fail(l, group, "token_file", "only used with auth = xoauth2 (auth is \"%s\")", auth);
	if (*ret_token_file && !g_path_is_absolute(*ret_token_file))
		return fail(l, group, "token_file", "must be an absolute path, got \"%s\"", *ret_token_file);
	return 0;
}

/* An IMAP flag keyword: an atom, no '\\' (system flags are not ours to set). */
static bool valid_keyword(const char *k)
{
	if (!*k || strlen(k) > 100)
		return false;
	for (const char *p = k; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("(){%*\"\\]", *p))
			return false;
	return true;
}

static int load_after_ingest(struct loader *l, struct config_imap *imap)
{
	g_autofree char *after = NULL;
	int r;

	if ((r = get_string(l, "imap", "imap", "after_ingest", false, "none", &after)) < 0)
		return r;
	if (!strcmp(after, "none"))
		imap->after_ingest = CONFIG_AFTER_NONE;
	else if (!strcmp(after, "keyword"))
		imap->after_ingest = CONFIG_AFTER_KEYWORD;
	else if (!strcmp(after, "move"))
		imap->after_ingest = CONFIG_AFTER_MOVE;
	else
		return fail(l, "imap", "after_ingest", "must be \"none\", \"keyword\" or \"move\", got \"%s\"", after);
	if ((r = get_string(l, "imap", "imap", "after_ingest_keyword", false, CONFIG_DEFAULT_KEYWORD,
			    &imap->after_ingest_keyword)) < 0)
		return r;
	if (!valid_keyword(imap->after_ingest_keyword))
		return fail(
			l, "imap", "after_ingest_keyword",
			"must be an IMAP keyword such as $Puljed (printable ASCII, no spaces, no \\ ( ) { %% * \" ]), got \"%s\"",
			imap->after_ingest_keyword);
	if ((r = get_string(l, "imap", "imap", "after_ingest_folder", false, NULL, &imap->after_ingest_folder)) < 0)
		return r;
	if (imap->after_ingest == CONFIG_AFTER_MOVE && !imap->after_ingest_folder)
		return fail(l, "imap", "after_ingest_folder", "required with after_ingest = move");
	if (imap->after_ingest_folder && imap->after_ingest != CONFIG_AFTER_MOVE)
		return fail(l, "imap", "after_ingest_folder",
			    "only used with after_ingest = move (after_ingest is \"%s\")", after);
	if (imap->after_ingest_folder &&
	    (!strcmp(imap->after_ingest_folder, imap->mailbox) ||
	     (!g_ascii_strcasecmp(imap->after_ingest_folder, "INBOX") && !g_ascii_strcasecmp(imap->mailbox, "INBOX"))))
		return fail(l, "imap", "after_ingest_folder", "must differ from [imap] mailbox (\"%s\")",
			    imap->mailbox);
	return 0;
}

/* An absolute path, or NULL when KEY is unset. */
static int get_path(struct loader *l, const char *group, const char *key, char **out)
{
	int r = get_string(l, group, group, key, false, NULL, out);
	if (r < 0)
		return r;
	if (*out && !g_path_is_absolute(*out))
		return fail(l, group, key, "must be an absolute path, got \"%s\"", *out);
	return 0;
}

/* tls_priority of GROUP, checked by GnuTLS itself; NULL when unset. */
static int get_tls_priority(struct loader *l, const char *group, char **out)
{
	int r = get_string(l, group, group, "tls_priority", false, NULL, out);
	if (r < 0 || !*out)
		return r;
	gnutls_priority_t prio = NULL;
	const char *at = NULL;
	if (gnutls_priority_init(&prio, *out, &at) < 0)
		return fail(l, group, "tls_priority", "not a GnuTLS priority string (the error is at \"%s\")",
			    at ? at : *out);
	gnutls_priority_deinit(prio);
	return 0;
}

static int load_imap(struct loader *l, struct config_imap *imap)
{
	int r;
	g_autofree char *security = NULL;

	if ((r = get_string(l, "imap", "imap", "host", true, NULL, &imap->host)) < 0)
		return r;
	if ((r = get_string(l, "imap", "imap", "security", false, "tls", &security)) < 0)
		return r;
	if (!strcmp(security, "tls"))
		imap->security = CONFIG_SECURITY_TLS;
	else if (!strcmp(security, "starttls"))
		imap->security = CONFIG_SECURITY_STARTTLS;
	else
		return fail(l, "imap", "security", "must be \"tls\" or \"starttls\", got \"%s\"", security);
	unsigned port;
	if ((r = get_uint(l, "imap", "port", imap->security == CONFIG_SECURITY_TLS ? 993 : 143, 1, 65535, &port)) < 0)
		return r;
	imap->port = (uint16_t)port;
	if ((r = get_string(l, "imap", "imap", "ca_file", false, NULL, &imap->ca_file)) < 0)
		return r;
	if (imap->ca_file && !g_path_is_absolute(imap->ca_file))
		return fail(l, "imap", "ca_file", "must be an absolute path, got \"%s\"", imap->ca_file);
	if ((r = get_tls_priority(l, "imap", &imap->tls_priority)) < 0)
		return r;
	if ((r = get_string(l, "imap", "imap", "username", true, NULL, &imap->username)) < 0)
		return r;
	if ((r = get_string(l, "imap", "imap", "password_file", false, NULL, &imap->password_file)) < 0)
		return r;
	if (imap->password_file && !g_path_is_absolute(imap->password_file))
		return fail(l, "imap", "password_file", "must be an absolute path, got \"%s\"", imap->password_file);
	if ((r = get_string(l, "imap", "imap", "mailbox", false, "INBOX", &imap->mailbox)) < 0)
		return r;
	if ((r = get_uint(l, "imap", "timeout", 60, 1, 3600, &imap->timeout)) < 0)
		return r;
	if ((r = load_auth(l, "imap", "login", &imap->auth, &imap->token_file)) < 0)
		return r;
	return load_after_ingest(l, imap);
}

static int get_size(struct loader *l, const char *group, const char *key, uint64_t def, uint64_t min, uint64_t max,
		    const char *example, uint64_t *out)
{
	g_autofree char *v = get_value(l, group, key);
	*out = def;
	if (!v || !*v)
		return 0;
	if (config_parse_size(v, out) < 0 || *out < min || *out > max)
		return fail(l, group, key,
			    "must be a size from %" G_GUINT64_FORMAT "K to %" G_GUINT64_FORMAT
			    "M such as %s, got \"%s\"",
			    min >> 10, max >> 20, example, v);
	return 0;
}

static int load_limits(struct loader *l, struct config_limits *lim)
{
	int r;
	if ((r = get_size(l, "limits", "max_message_size", 64ULL << 20, 1ULL << 10, 2ULL << 30, "64M",
			  &lim->max_message_size)) < 0 ||
	    (r = get_size(l, "limits", "max_header_size", 256ULL << 10, 1ULL << 10, 64ULL << 20, "256K",
			  &lim->max_header_size)) < 0)
		return r;
	if ((r = get_uint(l, "limits", "max_mime_depth", 32, 2, 1000, &lim->max_mime_depth)) < 0)
		return r;
	if ((r = get_uint(l, "limits", "max_mime_parts", 1000, 1, 1000000, &lim->max_mime_parts)) < 0)
		return r;
	if ((r = get_uint(l, "limits", "max_message_time", 300, 5, 86400, &lim->max_message_time)) < 0 ||
	    (r = get_uint(l, "limits", "max_header_fields", 1000, 10, 1000000, &lim->max_header_fields)) < 0)
		return r;
	if ((r = get_size(l, "limits", "prefetch", 8ULL << 20, 0, 1ULL << 30, "8M", &lim->prefetch)) < 0)
		return r;
	/* What GMime may build of one message's headers, all together: it keeps
	 * each field at about 500 bytes plus 3.4 times its text. */
	if ((r = get_uint(l, "limits", "max_header_fields_total", 20000, 100, 100000000,
			  &lim->max_header_fields_total)) < 0 ||
	    (r = get_size(l, "limits", "max_header_bytes_total", 8ULL << 20, 64ULL << 10, 2ULL << 30, "8M",
			  &lim->max_header_bytes_total)) < 0)
		return r;
	return get_size(l, "limits", "max_header_field", 32ULL << 10, 1ULL << 10, 64ULL << 20, "32K",
			&lim->max_header_field);
}

/* [evidence]: the authority's own mail servers, for deadline_basis = edge.
 * trusted_relays is a list of host name globs separated by ';', ',' or
 * whitespace. */
static int load_evidence(struct loader *l, struct config *cfg)
{
	g_autofree char *relays = get_value(l, "evidence", "trusted_relays");
	if (relays && *relays) {
		g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
		g_auto(GStrv) parts = g_strsplit_set(relays, ";, \t", -1);
		for (size_t i = 0; parts[i]; i++) {
			if (!*parts[i])
				continue;
			if (!received_pattern_valid(parts[i]))
				return fail(
					l, "evidence", "trusted_relays",
					"\"%s\" is not a host name pattern (letters, digits, '-', '_', '.', and '*' or '?' "
					"as wildcards; patterns separated by ';', ',' or spaces)",
					parts[i]);
			g_ptr_array_add(list, g_ascii_strdown(parts[i], -1));
		}
		if (list->len) {
			g_ptr_array_add(list, NULL);
			g_ptr_array_set_free_func(list, NULL);
			cfg->trusted_relays = (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
		}
	}
	g_autofree char *skew = get_value(l, "evidence", "max_edge_skew");
	cfg->max_edge_skew = RECEIVED_DEFAULT_MAX_SKEW;
	if (skew && *skew && (config_parse_duration(skew, &cfg->max_edge_skew) < 0 || cfg->max_edge_skew > 3600))
		return fail(l, "evidence", "max_edge_skew",
			    "must be a duration from 0 to 1h such as 90s or 5m, got \"%s\"", skew);
	return 0;
}

/* [receipts] security: never plaintext, no fallback. */
static int get_smtp_security(struct loader *l, enum config_security *out)
{
	g_autofree char *security = NULL;
	int r = get_string(l, "receipts", "receipts", "security", false, "starttls", &security);
	if (r < 0)
		return r;
	if (!strcmp(security, "starttls"))
		*out = CONFIG_SECURITY_STARTTLS;
	else if (!strcmp(security, "tls"))
		*out = CONFIG_SECURITY_TLS;
	else if (!g_ascii_strcasecmp(security, "none") || !g_ascii_strcasecmp(security, "plain") ||
		 !g_ascii_strcasecmp(security, "plaintext") || !g_ascii_strcasecmp(security, "no"))
		return fail(l, "receipts", "security",
			    "\"%s\" refused: receipts are never sent in plain text, and there is no fallback "
			    "(\"starttls\" or \"tls\")",
			    security);
	else
		return fail(l, "receipts", "security", "must be \"starttls\" or \"tls\", got \"%s\"", security);
	return 0;
}

/* A [receipts] duration from MIN to 366 days, DEF when unset. */
static int get_duration(struct loader *l, const char *key, int64_t def, int64_t min, int64_t *out)
{
	g_autofree char *v = get_value(l, "receipts", key);
	int64_t d = def;
	if (v && *v && (config_parse_duration(v, &d) < 0 || d < min))
		return fail(l, "receipts", key,
			    "must be a duration of at least %" G_GINT64_FORMAT
			    "s such as 90s, 15m, 2h or 1d (at most a year), got \"%s\"",
			    min, v);
	*out = d;
	return 0;
}

/* A dot-atom (RFC 5322) local part, ASCII. */
static bool valid_local_part(const char *s, size_t len)
{
	if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && s[i + 1] == '.')
			return false;
		if (!g_ascii_isalnum(c) && !strchr(".!#$%&'*+-/=?^_`{|}~", c))
			return false;
	}
	return true;
}

/* A DNS name of at least two labels: letters, digits and '-' (an IDN as
 * xn--), no label starting or ending with '-', a top label not all
 * digits. */
static bool valid_domain(const char *s)
{
	size_t len = strlen(s), labels = 0;
	if (len == 0 || len > 253)
		return false;
	const char *p = s;
	for (;;) {
		size_t n = strcspn(p, ".");
		if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!g_ascii_isalnum(p[i]) && p[i] != '-')
				return false;
		labels++;
		if (!p[n]) {
			bool digits = true;
			for (size_t i = 0; i < n; i++)
				digits = digits && g_ascii_isdigit(p[i]);
			return labels >= 2 && !digits;
		}
		p += n + 1;
	}
}

/* FROM is "Name <addr@domain>", "\"Name\" <addr@domain>", "<addr@domain>"
 * or "addr@domain".  Fills the parts (newly allocated) or returns why not. */
static const char *parse_from(const char *from, char **ret_name, char **ret_addr, char **ret_domain)
{
	g_autofree char *name = NULL;
	g_autofree char *addr = NULL;
	const char *lt = strchr(from, '<');
	if (lt) {
		const char *gt = strchr(lt, '>');
		if (!gt || !line_is_blank(gt + 1) || strchr(lt + 1, '<'))
			return "the address goes between one '<' and one '>' at the end";
		addr = g_strstrip(g_strndup(lt + 1, (size_t)(gt - lt - 1)));
		name = g_strstrip(g_strndup(from, (size_t)(lt - from)));
		size_t n = strlen(name);
		if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
			/* A quoted string: \x stands for x. */
			GString *u = g_string_new(NULL);
			for (size_t i = 1; i < n - 1; i++) {
				if (name[i] == '\\' && i + 1 < n - 1)
					i++;
				else if (name[i] == '"') {
					g_string_free(u, TRUE);
					return "a quoted display name has a '\"' inside it (write it as \\\")";
				}
				g_string_append_c(u, name[i]);
			}
			g_free(name);
			name = g_strstrip(g_string_free(u, FALSE));
		} else if (strpbrk(name, "\"<>")) {
			return "the display name has a stray '\"', '<' or '>'";
		}
		/* Runs of spaces in the name are one space. */
		g_auto(GStrv) words = g_strsplit_set(name, " \t", -1);
		g_autoptr(GString) joined = g_string_new(NULL);
		for (size_t i = 0; words[i]; i++)
			if (*words[i])
				g_string_append_printf(joined, "%s%s", joined->len ? " " : "", words[i]);
		g_free(name);
		name = joined->len ? g_strdup(joined->str) : NULL;
	} else {
		if (strchr(from, '>'))
			return "a '>' without '<'";
		addr = g_strstrip(g_strdup(from));
	}
	const char *at = strrchr(addr, '@');
	if (!at || strchr(addr, '@') != at)
		return "not an e-mail address (one '@' between the mailbox and the domain)";
	if (!valid_local_part(addr, (size_t)(at - addr)))
		return "the part before '@' is not a plain ASCII mailbox name (letters, digits, and "
		       ".!#$%&'*+-/=?^_`{|}~, no leading, trailing or double dot)";
	g_autofree char *domain = g_ascii_strdown(at + 1, -1);
	if (!valid_domain(domain))
		return "the part after '@' is not a domain name such as sum.dk (ASCII; an IDN as xn--)";
	*ret_addr = g_strdup_printf("%.*s@%s", (int)(at - addr), addr, domain);
	*ret_domain = g_steal_pointer(&domain);
	*ret_name = g_steal_pointer(&name);
	return NULL;
}

/* statuses: a comma-separated list of accepted, review and late. */
static int get_statuses(struct loader *l, unsigned *out)
{
	g_autofree char *v = get_value(l, "receipts", "statuses");
	if (!v) {
		*out = (1u << RULES_ACCEPTED) | (1u << RULES_REVIEW) | (1u << RULES_LATE);
		return 0;
	}
	unsigned mask = 0;
	g_auto(GStrv) parts = g_strsplit_set(v, ", \t", -1);
	for (size_t i = 0; parts[i]; i++) {
		enum rules_status st;
		if (!*parts[i])
			continue;
		if (!record_status_parse(parts[i], &st))
			return fail(l, "receipts", "statuses",
				    "\"%s\" is not a status (a comma-separated list of accepted, review and late)",
				    parts[i]);
		if (st == RULES_UNRELATED)
			return fail(l, "receipts", "statuses", "unrelated mail never gets a receipt");
		mask |= 1u << st;
	}
	if (!mask)
		return fail(l, "receipts", "statuses",
			    "empty (a comma-separated list of accepted, review and late; to send none, send = no)");
	*out = mask;
	return 0;
}

/* The template file, read now: a regular file of UTF-8 text without NUL,
 * at most CONFIG_TEMPLATE_MAX bytes. */
static int read_template(struct loader *l, const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		fail(l, "receipts", "template", "cannot read \"%s\": %s", path, g_strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(l, "receipts", "template", "\"%s\" is not a regular file", path);
	}
	g_autofree char *buf = g_malloc(CONFIG_TEMPLATE_MAX + 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_TEMPLATE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			fail(l, "receipts", "template", "cannot read \"%s\": %s", path, g_strerror(e));
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_TEMPLATE_MAX) {
			close(fd);
			return fail(l, "receipts", "template", "\"%s\" is larger than %u bytes (64K)", path,
				    CONFIG_TEMPLATE_MAX);
		}
	}
	close(fd);
	buf[len] = '\0';
	if (len == 0)
		return fail(l, "receipts", "template", "\"%s\" is empty", path);
	if (memchr(buf, '\0', len))
		return fail(l, "receipts", "template", "\"%s\" holds a NUL byte (not a text file)", path);
	const char *bad = NULL;
	if (!g_utf8_validate(buf, (gssize)len, &bad))
		return fail(l, "receipts", "template", "\"%s\" is not valid UTF-8 (at byte %zu)", path,
			    (size_t)(bad - buf));
	*out = g_steal_pointer(&buf);
	return 0;
}

static int load_receipts(struct loader *l, struct config_receipts *rc)
{
	const char *G = "receipts";
	int r;

	g_autofree char *send = get_value(l, G, "send");
	if (!send || !*send || !strcmp(send, "no"))
		rc->send = false;
	else if (!strcmp(send, "yes"))
		rc->send = true;
	else
		return fail(l, G, "send", "must be \"yes\" or \"no\", got \"%s\"", send);
	if ((r = get_string(l, G, G, "smtp_host", rc->send, NULL, &rc->smtp_host)) < 0)
		return r;
	if ((r = get_smtp_security(l, &rc->security)) < 0)
		return r;
	unsigned port;
	if ((r = get_uint(l, G, "smtp_port", rc->security == CONFIG_SECURITY_TLS ? 465 : 587, 1, 65535, &port)) < 0)
		return r;
	rc->smtp_port = (uint16_t)port;
	if ((r = get_path(l, G, "ca_file", &rc->ca_file)) < 0 || (r = get_tls_priority(l, G, &rc->tls_priority)) < 0 ||
	    (r = get_string(l, G, G, "username", false, NULL, &rc->username)) < 0 ||
	    (r = get_path(l, G, "password_file", &rc->password_file)) < 0)
		return r;
	g_autofree char *auth = get_value(l, G, "auth");
	if ((r = load_auth(l, G, "plain", &rc->auth, &rc->token_file)) < 0)
		return r;
	if (!rc->username) {
		if (rc->password_file)
			return fail(l, G, "password_file", "only used with a username (unset username: no AUTH)");
		if (rc->auth == CONFIG_AUTH_XOAUTH2)
			return fail(l, G, "username", "required with auth = xoauth2");
		if (auth && *auth)
			return fail(l, G, "auth", "only used with a username (unset username: no AUTH)");
	}
	if (rc->auth == CONFIG_AUTH_XOAUTH2 && rc->password_file)
		return fail(l, G, "password_file", "not used with auth = xoauth2 (the token is in token_file)");

	if ((r = get_string(l, G, G, "from", rc->send, NULL, &rc->from)) < 0)
		return r;
	if (rc->from) {
		const char *why = parse_from(rc->from, &rc->from_name, &rc->from_addr, &rc->from_domain);
		if (why)
			return fail(l, G, "from", "\"%s\": %s", rc->from, why);
	}
	if ((r = get_statuses(l, &rc->statuses)) < 0)
		return r;
	if ((r = get_uint(l, G, "max_per_sender", 10, 0, 1000000, &rc->max_per_sender)) < 0)
		return r;
	if ((r = get_path(l, G, "template", &rc->template_path)) < 0)
		return r;
	if (rc->template_path && (r = read_template(l, rc->template_path, &rc->template)) < 0)
		return r;
	if ((r = get_path(l, G, "sign_cert", &rc->sign_cert)) < 0 ||
	    (r = get_path(l, G, "sign_key", &rc->sign_key)) < 0)
		return r;
	if (rc->sign_cert && !rc->sign_key)
		return fail(l, G, "sign_key", "required with sign_cert (both or neither)");
	if (rc->sign_key && !rc->sign_cert)
		return fail(l, G, "sign_cert", "required with sign_key (both or neither)");
	int64_t timeout;
	if ((r = get_duration(l, "timeout", 30, 1, &timeout)) < 0)
		return r;
	if (timeout > 3600) {
		g_autofree char *v = get_value(l, G, "timeout");
		return fail(l, G, "timeout", "must be a duration from 1s to 1h such as 30s or 2m, got \"%s\"", v);
	}
	rc->timeout = (unsigned)timeout;
	if ((r = get_duration(l, "retry_min", 60, 1, &rc->retry_min)) < 0 ||
	    (r = get_duration(l, "retry_max", 3600, 1, &rc->retry_max)) < 0 ||
	    (r = get_duration(l, "give_up", 5 * 86400, 1, &rc->give_up)) < 0)
		return r;
	if (rc->retry_max < rc->retry_min)
		return fail(l, G, "retry_max", "must be at least retry_min (%" G_GINT64_FORMAT "s)", rc->retry_min);
	if (rc->give_up < rc->retry_max)
		return fail(l, G, "give_up", "must be at least retry_max (%" G_GINT64_FORMAT "s)", rc->retry_max);
	return 0;
}

static int load_call(struct loader *l, const char *group, struct config_call *c, const struct config *cfg)
{
	int r;
	c->id = g_strdup(group + strlen(CALL_PREFIX));
	if ((r = get_string(l, group, group, "subject", true, NULL, &c->subject)) < 0)
		return r;
	if (g_utf8_strlen(c->subject, -1) < 3)
		return fail(l, group, "subject", "too short to match on");
	if ((r = get_string(l, group, group, "timezone", false, CONFIG_DEFAULT_TIMEZONE, &c->timezone)) < 0)
		return r;
	c->tz = g_time_zone_new_identifier(c->timezone);
	if (!c->tz)
		return fail(l, group, "timezone", "unknown IANA time zone \"%s\"", c->timezone);
	if ((r = get_string(l, group, group, "deadline", true, NULL, &c->deadline)) < 0)
		return r;
	r = datetime_parse_deadline(c->deadline, c->tz, &c->deadline_last);
	if (r == -ERANGE)
		return fail(l, group, "deadline",
			    "\"%s\" does not exist or happens twice in %s (daylight saving); give a UTC offset",
			    c->deadline, c->timezone);
	if (r < 0)
		return fail(
			l, group, "deadline",
			"must be a date (2022-07-01) or an ISO 8601 timestamp (2022-07-01T12:00:00+02:00), got \"%s\"",
			c->deadline);
	g_autofree char *basis = get_value(l, group, "deadline_basis");
	if (basis && *basis && strcmp(basis, "arrival") && strcmp(basis, "date-header") && strcmp(basis, "edge"))
		return fail(l, group, "deadline_basis", "must be \"arrival\", \"date-header\" or \"edge\", got \"%s\"",
			    basis);
	c->basis_date_header = basis && !strcmp(basis, "date-header");
	c->basis_edge = basis && !strcmp(basis, "edge");
	if (c->basis_edge && !cfg->trusted_relays)
		return fail(l, group, "deadline_basis",
			    "\"edge\" needs the authority's mail servers in [evidence] trusted_relays");
	g_autofree char *grace = get_value(l, group, "grace");
	if (grace && *grace && config_parse_duration(grace, &c->grace) < 0)
		return fail(l, group, "grace",
			    "must be a duration such as 90s, 15m, 2h or 1d (at most a year), got \"%s\"", grace);
	return 0;
}

/* A [match] number above 0 and at most 1. */
static int get_fraction(struct loader *l, const char *key, double def, double *out)
{
	g_autofree char *text = get_value(l, "match", key);
	*out = def;
	if (!text || !*text)
		return 0;
	char *end = NULL;
	double v = g_ascii_strtod(text, &end);
	if (!end || *end || !(v > 0.0 && v <= 1.0))
		return fail(l, "match", key, "must be a number above 0 and at most 1 such as %.2g, got \"%s\"", def,
			    text);
	*out = v;
	return 0;
}

int config_load(const char *path, struct config **ret_config, char **ret_error)
{
	struct loader l = { .path = path };
	g_autoptr(GError) gerr = NULL;
	g_auto(GStrv) groups = NULL;
	g_autoptr(Config) cfg = g_new0(struct config, 1);
	g_autofree char *text = NULL;
	gsize len = 0;
	g_autoptr(GString) clean = g_string_new(NULL);
	int r = 0;

	cfg->path = g_strdup(path);
	l.kf = g_key_file_new();
	if (!g_file_get_contents(path, &text, &len, &gerr)) {
		l.error = g_strdup_printf("%s: %s", path, gerr->message);
		r = -ENOENT;
		goto out;
	}
	if (len > CONFIG_MAX_BYTES || memchr(text, '\0', len)) {
		l.error = g_strdup_printf("%s: not a configuration file (binary or over %u bytes)", path,
					  CONFIG_MAX_BYTES);
		r = -EINVAL;
		goto out;
	}
	/* A UTF-8 byte order mark, as some Windows editors write one. */
	if ((r = config_preprocess(&l, len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? text + 3 : text, clean)) < 0)
		goto out;
	if (!g_key_file_load_from_data(l.kf, clean->str, clean->len, G_KEY_FILE_NONE, &gerr)) {
		l.error = g_strdup_printf("%s: %s", path, gerr->message);
		r = -EINVAL;
		goto out;
	}
	if ((r = check_known_keys(&l)) < 0)
		goto out;
	if (!g_key_file_has_group(l.kf, "imap")) {
		r = fail(&l, "imap", NULL, "required group is missing");
		goto out;
	}
	if ((r = load_imap(&l, &cfg->imap)) < 0)
		goto out;
	if ((r = get_uint(&l, "daemon", "gap_check_interval", 3600, 1, 7 * 86400, &cfg->gap_check_interval)) < 0)
		goto out;
	if ((r = get_uint(&l, "daemon", "poll_interval", 60, 1, 86400, &cfg->poll_interval)) < 0)
		goto out;
	if ((r = get_string(&l, "store", "store", "database", false, CONFIG_DEFAULT_DATABASE, &cfg->database)) < 0)
		goto out;
	if (!g_path_is_absolute(cfg->database)) {
		r = fail(&l, "store", "database", "must be an absolute path, got \"%s\"", cfg->database);
		goto out;
	}
	if ((r = get_size(&l, "store", "wal_limit", 64ULL << 20, 0, 1ULL << 30, "64M", &cfg->wal_limit)) < 0)
		goto out;
	if ((r = get_uint(&l, "store", "commit_batch", 16, 1, 1000, &cfg->commit_batch)) < 0)
		goto out;
	if ((r = load_limits(&l, &cfg->limits)) < 0)
		goto out;
	if ((r = get_string(&l, "signatures", "signatures", "trust_file", false, NULL, &cfg->trust_file)) < 0)
		goto out;
	if (cfg->trust_file && !g_path_is_absolute(cfg->trust_file)) {
		r = fail(&l, "signatures", "trust_file", "must be an absolute path, got \"%s\"", cfg->trust_file);
		goto out;
	}
	if ((r = get_fraction(&l, "fuzzy_threshold", RULES_DEFAULT_FUZZY_THRESHOLD, &cfg->fuzzy_threshold)) < 0 ||
	    (r = get_fraction(&l, "word_similarity", RULES_DEFAULT_WORD_SIMILARITY, &cfg->word_similarity)) < 0 ||
	    (r = get_fraction(&l, "title_threshold", RULES_DEFAULT_TITLE_THRESHOLD, &cfg->title_threshold)) < 0)
		goto out;

	if ((r = load_evidence(&l, cfg)) < 0)
		goto out;
	if ((r = load_receipts(&l, &cfg->receipts)) < 0)
		goto out;

	groups = g_key_file_get_groups(l.kf, NULL);
	for (size_t i = 0; groups[i]; i++) {
		if (!g_str_has_prefix(groups[i], CALL_PREFIX))
			continue;
		cfg->calls = g_renew(struct config_call, cfg->calls, cfg->n_calls + 1);
		memset(&cfg->calls[cfg->n_calls], 0, sizeof(struct config_call));
		cfg->n_calls++;
		if ((r = load_call(&l, groups[i], &cfg->calls[cfg->n_calls - 1], cfg)) < 0)
			goto out;
	}
	if (cfg->n_calls == 0) {
		l.error = g_strdup_printf(
			"%s: [call ID]: no call is configured (add a [call ID] group with subject and deadline)", path);
		r = -EINVAL;
		goto out;
	}
out:
	g_key_file_free(l.kf);
	if (r < 0) {
		*ret_error = l.error;
		return r;
	}
	*ret_config = g_steal_pointer(&cfg);
	return 0;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	g_free(cfg->path);
	g_free(cfg->imap.host);
	g_free(cfg->imap.ca_file);
	g_free(cfg->imap.tls_priority);
	g_free(cfg->imap.username);
	g_free(cfg->imap.password_file);
	g_free(cfg->imap.mailbox);
	g_free(cfg->imap.token_file);
	g_free(cfg->imap.after_ingest_keyword);
	g_free(cfg->imap.after_ingest_folder);
	struct config_receipts *rc = &cfg->receipts;
	g_free(rc->smtp_host);
	g_free(rc->ca_file);
	g_free(rc->tls_priority);
	g_free(rc->username);
	g_free(rc->password_file);
	g_free(rc->token_file);
	g_free(rc->from);
	g_free(rc->from_name);
	g_free(rc->from_addr);
	g_free(rc->from_domain);
	g_free(rc->template_path);
	g_free(rc->template);
	g_free(rc->sign_cert);
	g_free(rc->sign_key);
	g_free(cfg->database);
	g_free(cfg->trust_file);
	g_strfreev(cfg->trusted_relays);
	for (size_t i = 0; i < cfg->n_calls; i++) {
		struct config_call *c = &cfg->calls[i];
		g_free(c->id);
		g_free(c->subject);
		g_free(c->deadline);
		g_free(c->timezone);
		if (c->tz)
			g_time_zone_unref(c->tz);
	}
	g_free(cfg->calls);
	g_free(cfg);
}

/* Whether PATH (set under [GROUP] KEY) can be read; the error names them. */
static int check_readable(const struct config *cfg, const char *group, const char *key, const char *path,
			  char **ret_error)
{
	if (!path || access(path, R_OK) == 0)
		return 0;
	int e = errno;
	*ret_error = g_strdup_printf("%s: [%s] %s: cannot read \"%s\": %s", cfg->path, group, key, path, g_strerror(e));
	return -e;
}

int config_check_files(const struct config *cfg, char **ret_error)
{
	const struct config_receipts *rc = &cfg->receipts;
	int r;
	if ((r = check_readable(cfg, "imap", "ca_file", cfg->imap.ca_file, ret_error)) < 0 ||
	    (r = check_readable(cfg, "signatures", "trust_file", cfg->trust_file, ret_error)) < 0)
		return r;
	if (!rc->send)
		return 0;
	if ((r = check_readable(cfg, "receipts", "ca_file", rc->ca_file, ret_error)) < 0 ||
	    (r = check_readable(cfg, "receipts", "sign_cert", rc->sign_cert, ret_error)) < 0 ||
	    (r = check_readable(cfg, "receipts", "sign_key", rc->sign_key, ret_error)) < 0)
		return r;
	return 0;
}

enum config_file_verdict config_judge_secret_file(const struct stat *st, uid_t service_uid, char **ret_why)
{
	unsigned mode = st->st_mode & 07777;
	if (!S_ISREG(st->st_mode)) {
		*ret_why = g_strdup("is not a regular file");
		return CONFIG_FILE_REFUSE;
	}
	if (st->st_uid != service_uid && st->st_uid != 0) {
		*ret_why = g_strdup_printf(
			"is owned by uid %u, not by the service user (uid %u) or root: "
			"chown it to one of them",
			(unsigned)st->st_uid, (unsigned)service_uid);
		return CONFIG_FILE_REFUSE;
	}
	if (mode & S_IWOTH) {
		*ret_why = g_strdup_printf("is writable by everyone (mode %04o): chmod go-w it", mode);
		return CONFIG_FILE_REFUSE;
	}
	if (mode & S_IWGRP) {
		*ret_why = g_strdup_printf("is writable by its group (gid %u, mode %04o): chmod g-w it",
					   (unsigned)st->st_gid, mode);
		return CONFIG_FILE_REFUSE;
	}
	if (mode & S_IROTH) {
		*ret_why = g_strdup_printf("is readable by everyone (mode %04o): chmod o-r it", mode);
		return CONFIG_FILE_WARN;
	}
	return CONFIG_FILE_OK;
}

/* Where a secret comes from: [GROUP] password_file, else the systemd
 * credential CREDENTIAL; with auth = xoauth2 [GROUP] token_file. */
struct secret_source {
	const char *group;
	const char *password_file;
	const char *token_file;
	enum config_auth auth;
	const char *credential;
};

static struct secret_source imap_source(const struct config *cfg)
{
	return (struct secret_source){ "imap", cfg->imap.password_file, cfg->imap.token_file, cfg->imap.auth,
				       "imap-password" };
}

static struct secret_source smtp_source(const struct config *cfg)
{
	return (struct secret_source){ "receipts", cfg->receipts.password_file, cfg->receipts.token_file,
				       cfg->receipts.auth, "smtp-password" };
}

/* Reads the secret SRC names, and in *RET_WARNING (may be NULL) what is
 * wrong but allowed about its file. */
static int read_secret(const struct config *cfg, const struct secret_source *src, char **ret_password,
		       char **ret_warning, char **ret_error)
{
	g_autofree char *cred = NULL;
	g_autofree char *what = g_strdup_printf("[%s] password_file", src->group);
	const char *path = src->password_file;
	size_t max = PASSWORD_MAX;

	if (src->auth == CONFIG_AUTH_XOAUTH2) {
		path = src->token_file;
		g_free(what);
		what = g_strdup_printf("[%s] token_file", src->group);
		max = TOKEN_MAX;
	} else if (!path) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir || !*dir) {
			*ret_error = g_strdup_printf(
				"%s: [%s] password_file: not set, and no systemd credential "
				"\"%s\" ($CREDENTIALS_DIRECTORY is unset)",
				cfg->path, src->group, src->credential);
			return -ENOENT;
		}
		path = cred = g_build_filename(dir, src->credential, NULL);
		g_free(what);
		what = g_strdup_printf("systemd credential %s", src->credential);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		*ret_error = g_strdup_printf("%s: %s: cannot read \"%s\": %s", cfg->path, what, path, g_strerror(e));
		return -e;
	}
	/* Judged by what was opened (a symlink's target), before a byte of
	 * it is read: a file that someone else could have written is not
	 * the operator's secret. */
	struct stat st;
	g_autofree char *why = NULL;
	enum config_file_verdict verdict = CONFIG_FILE_REFUSE;
	if (fstat(fd, &st) == 0)
		verdict = config_judge_secret_file(&st, geteuid(), &why);
	else
		why = g_strdup_printf("cannot be examined: %s", g_strerror(errno));
	if (verdict == CONFIG_FILE_REFUSE) {
		close(fd);
		*ret_error = g_strdup_printf("%s: %s: \"%s\" %s", cfg->path, what, path, why);
		return -EPERM;
	}
	char *buf = g_malloc0(max + 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, max - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			config_password_free(buf);
			*ret_error =
				g_strdup_printf("%s: %s: cannot read \"%s\": %s", cfg->path, what, path, g_strerror(e));
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == max) {
			close(fd);
			config_password_free(buf);
			*ret_error = g_strdup_printf("%s: %s: \"%s\" is larger than %zu bytes", cfg->path, what, path,
						     max - 1);
			return -EFBIG;
		}
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   (max == TOKEN_MAX && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))))
		buf[--len] = '\0';
	if (len == 0 && cred) {
		/* The unit's empty default (SetCredential=) when the file
		 * behind LoadCredential= is missing. */
		config_password_free(buf);
		*ret_error = g_strdup_printf(
			"%s: %s: \"%s\" is empty: set [%s] password_file, or put the password in the file the "
			"unit's LoadCredential=%s: names",
			cfg->path, what, path, src->group, src->credential);
		return -EINVAL;
	}
	if (len == 0 || memchr(buf, '\0', len)) {
		config_password_free(buf);
		*ret_error = g_strdup_printf("%s: %s: \"%s\" is empty or holds a NUL byte", cfg->path, what, path);
		return -EINVAL;
	}
	*ret_password = buf;
	if (ret_warning && verdict == CONFIG_FILE_WARN)
		*ret_warning = g_strdup_printf("%s: %s: \"%s\" %s", cfg->path, what, path, why);
	return 0;
}

int config_read_password(const struct config *cfg, char **ret_password, char **ret_error)
{
	struct secret_source src = imap_source(cfg);
	return read_secret(cfg, &src, ret_password, NULL, ret_error);
}

int config_read_smtp_secret(const struct config *cfg, char **ret_secret, char **ret_error)
{
	if (!cfg->receipts.username) {
		*ret_error =
			g_strdup_printf("%s: [receipts] username: not set, so no AUTH and no SMTP secret", cfg->path);
		return -EINVAL;
	}
	struct secret_source src = smtp_source(cfg);
	return read_secret(cfg, &src, ret_secret, NULL, ret_error);
}

int config_check_secret(const struct config *cfg, char **ret_warning, char **ret_error)
{
	char *secret = NULL;
	g_autofree char *imap_warning = NULL, *smtp_warning = NULL;
	struct secret_source imap = imap_source(cfg), smtp = smtp_source(cfg);
	int r = read_secret(cfg, &imap, &secret, &imap_warning, ret_error);
	config_password_free(secret);
	secret = NULL;
	if (r == 0 && cfg->receipts.send && cfg->receipts.username) {
		r = read_secret(cfg, &smtp, &secret, &smtp_warning, ret_error);
		config_password_free(secret);
	}
	if (ret_warning && (imap_warning || smtp_warning))
		*ret_warning = imap_warning && smtp_warning ? g_strdup_printf("%s; %s", imap_warning, smtp_warning)
							    : g_strdup(imap_warning ? imap_warning : smtp_warning);
	return r;
}

void config_password_free(char *password)
{
	if (!password)
		return;
	/* The buffer is zeroed past the secret (g_malloc0, newline cleared). */
	explicit_bzero(password, strlen(password));
	g_free(password);
}
