#include "config.h"
#include "datetime.h"
#include "received.h"
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
			   strcmp(g, "match") && strcmp(g, "signatures") && strcmp(g, "evidence")) {
			return fail(l, g, NULL,
				    "unknown group (known: [imap], [daemon], [store], [limits], [match], "
				    "[signatures], [evidence], [call ID])");
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

static int load_auth(struct loader *l, struct config_imap *imap)
{
	g_autofree char *auth = NULL;
	int r;

	if ((r = get_string(l, "imap", "imap", "auth", false, "login", &auth)) < 0)
		return r;
	if (!strcmp(auth, "login"))
		imap->auth = CONFIG_AUTH_LOGIN;
	else if (!strcmp(auth, "plain"))
		imap->auth = CONFIG_AUTH_PLAIN;
	else if (!strcmp(auth, "xoauth2"))
		imap->auth = CONFIG_AUTH_XOAUTH2;
	else
		return fail(l, "imap", "auth", "must be \"login\", \"plain\" or \"xoauth2\", got \"%s\"", auth);
	if ((r = get_string(l, "imap", "imap", "token_file", false, NULL, &imap->token_file)) < 0)
		return r;
	if (imap->auth == CONFIG_AUTH_XOAUTH2 && !imap->token_file)
		return fail(l, "imap", "token_file",
			    "required with auth = xoauth2 (the file an OAuth2 token helper writes)");
	if (imap->auth != CONFIG_AUTH_XOAUTH2 && imap->token_file)
		return fail(l, "imap", "token_file", "only used with auth = xoauth2 (auth is \"%s\")", auth);
	if (imap->token_file && !g_path_is_absolute(imap->token_file))
		return fail(l, "imap", "token_file", "must be an absolute path, got \"%s\"", imap->token_file);
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
	if ((r = get_string(l, "imap", "imap", "tls_priority", false, NULL, &imap->tls_priority)) < 0)
		return r;
	if (imap->tls_priority) {
		gnutls_priority_t prio = NULL;
		const char *at = NULL;
		if (gnutls_priority_init(&prio, imap->tls_priority, &at) < 0)
			return fail(l, "imap", "tls_priority", "not a GnuTLS priority string (the error is at \"%s\")",
				    at ? at : imap->tls_priority);
		gnutls_priority_deinit(prio);
	}
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
	if ((r = load_auth(l, imap)) < 0)
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

int config_check_files(const struct config *cfg, char **ret_error)
{
	if (cfg->imap.ca_file && access(cfg->imap.ca_file, R_OK) < 0) {
		int e = errno;
		*ret_error = g_strdup_printf("%s: [imap] ca_file: cannot read \"%s\": %s", cfg->path, cfg->imap.ca_file,
					     g_strerror(e));
		return -e;
	}
	if (cfg->trust_file && access(cfg->trust_file, R_OK) < 0) {
		int e = errno;
		*ret_error = g_strdup_printf("%s: [signatures] trust_file: cannot read \"%s\": %s", cfg->path,
					     cfg->trust_file, g_strerror(e));
		return -e;
	}
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

/* config_read_password(), and in *RET_WARNING (may be NULL) what is wrong but
 * allowed about the file. */
static int read_secret(const struct config *cfg, char **ret_password, char **ret_warning, char **ret_error)
{
	g_autofree char *cred = NULL;
	const char *path = cfg->imap.password_file;
	const char *what = "[imap] password_file";
	size_t max = PASSWORD_MAX;

	if (cfg->imap.auth == CONFIG_AUTH_XOAUTH2) {
		path = cfg->imap.token_file;
		what = "[imap] token_file";
		max = TOKEN_MAX;
	} else if (!path) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir || !*dir) {
			*ret_error = g_strdup_printf(
				"%s: [imap] password_file: not set, and no systemd credential "
				"\"imap-password\" ($CREDENTIALS_DIRECTORY is unset)",
				cfg->path);
			return -ENOENT;
		}
		path = cred = g_build_filename(dir, "imap-password", NULL);
		what = "systemd credential imap-password";
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
	return read_secret(cfg, ret_password, NULL, ret_error);
}

int config_check_secret(const struct config *cfg, char **ret_warning, char **ret_error)
{
	char *secret = NULL;
	int r = read_secret(cfg, &secret, ret_warning, ret_error);
	config_password_free(secret);
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
