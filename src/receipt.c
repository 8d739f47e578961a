#include "receipt.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "record.h"
#include "report.h"
#include "term.h"

#define DEFAULT_TZ "Europe/Copenhagen"

/* ---- small text helpers ------------------------------------------------- */

/* S cleaned of control characters, CR/LF, bidi marks and invalid UTF-8
 * (term_clean), trimmed, cut to MAX characters ("…" added); NULL for
 * NULL. */
static char *clean(const char *s, size_t max)
{
	if (!s)
		return NULL;
	g_autofree char *c = term_clean(s);
	g_strstrip(c);
	if (g_utf8_strlen(c, -1) <= (glong)max)
		return g_steal_pointer(&c);
	g_autofree char *cut = g_utf8_substring(c, 0, (glong)max);
	return g_strconcat(cut, "…", NULL);
}

/* The bytes [P, P+N) as a NUL-terminated string with every byte below
 * 0x20 and DEL dropped. */
static char *strip_controls(const char *p, size_t n)
{
	GString *out = g_string_sized_new(n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x20 && p[i] != 0x7f)
			g_string_append_c(out, p[i]);
	return g_string_free(out, FALSE);
}

/* ---- the application's header ------------------------------------------ */

void receipt_facts_clear(struct receipt_facts *f)
{
	g_clear_pointer(&f->return_path, g_free);
	g_clear_pointer(&f->from_addr, g_free);
	g_clear_pointer(&f->auto_submitted, g_free);
	g_clear_pointer(&f->precedence, g_free);
	g_clear_pointer(&f->list_header, g_free);
	g_clear_pointer(&f->autoreply_header, g_free);
	g_clear_pointer(&f->suppress, g_free);
	g_clear_pointer(&f->message_id, g_free);
	g_clear_pointer(&f->references, g_free);
	f->report = false;
}

/* The address inside an address field's value: the first <…> outside
 * quotes and comments, else the first comma-separated item with its
 * comments removed; a source route ("@a,@b:") dropped.  Newly allocated,
 * trimmed; "" for "<>". */
static char *address_of(const char *v)
{
	GString *bare = g_string_new(NULL);
	int depth = 0;
	bool quoted = false;
	for (const char *p = v; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = false;
			continue;
		}
		if (depth > 0) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			continue;
		}
		if (*p == '"') {
			quoted = true;
			g_string_append_c(bare, '"');
		} else if (*p == '(') {
			depth = 1;
		} else if (*p == '<') {
			const char *end = strchr(p + 1, '>');
			g_string_free(bare, TRUE);
			const char *start = p + 1;
			size_t n = end ? (size_t)(end - start) : strlen(start);
			g_autofree char *inner = g_strndup(start, n);
			g_strstrip(inner);
			/* A source route: "@a,@b:local@domain". */
			char *colon = inner[0] == '@' ? strchr(inner, ':') : NULL;
			return g_strdup(colon ? g_strstrip(colon + 1) : inner);
		} else if (*p == ',' || *p == ';') {
			break;
		} else {
			g_string_append_c(bare, *p);
		}
	}
	g_autofree char *b = g_string_free(bare, FALSE);
	/* A group ("name: a@b;") keeps what follows the colon. */
	char *colon = strchr(b, ':');
	return g_strdup(g_strstrip(colon ? colon + 1 : b));
}

/* The first word of V (up to ';', white space or a comment), lower-case. */
static char *token_of(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strcspn(v, "; \t(");
	return g_ascii_strdown(v, (gssize)n);
}

/* The msg-ids of V ("<…>", printable ASCII without space, at most
 * RECEIPT_ID_MAX bytes) appended to IDS. */
static void ids_of(const char *v, GPtrArray *ids)
{
	for (const char *p = v; (p = strchr(p, '<'));) {
		size_t n = strcspn(p + 1, "<> \t\"");
		if (p[1 + n] == '>' && n > 0 && n + 2 <= RECEIPT_ID_MAX) {
			bool ok = true;
			for (size_t i = 1; i <= n; i++)
				ok &= (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f;
			if (ok)
				g_ptr_array_add(ids, g_strndup(p, n + 2));
		}
		p += 1 + n;
	}
}

/* Whether the X-Auto-Response-Suppress value V covers auto-replies. */
static bool suppresses(const char *v)
{
	g_auto(GStrv) parts = g_strsplit_set(v, ", \t", -1);
	for (char **p = parts; *p; p++)
		if (!g_ascii_strcasecmp(*p, "All") || !g_ascii_strcasecmp(*p, "AutoReply") ||
		    !g_ascii_strcasecmp(*p, "OOF"))
			return true;
	return false;
}

/* One unfolded header field NAME: VALUE into F (the first of each kind
 * counts). */
static void take_field(struct receipt_facts *f, const char *name, const char *value)
{
	if (!g_ascii_strcasecmp(name, "Return-Path")) {
		if (!f->return_path)
			f->return_path = address_of(value);
	} else if (!g_ascii_strcasecmp(name, "From")) {
		if (!f->from_addr) {
			g_autofree char *a = address_of(value);
			if (*a)
				f->from_addr = g_steal_pointer(&a);
		}
	} else if (!g_ascii_strcasecmp(name, "Auto-Submitted")) {
		if (!f->auto_submitted)
			f->auto_submitted = token_of(value);
	} else if (!g_ascii_strcasecmp(name, "Precedence")) {
		if (!f->precedence)
			f->precedence = token_of(value);
	} else if (!g_ascii_strncasecmp(name, "List-", 5)) {
		if (!f->list_header)
			f->list_header = g_strdup(name);
	} else if (!g_ascii_strcasecmp(name, "Content-Type")) {
		g_autofree char *type = token_of(value);
		if (!strcmp(type, "multipart/report") || !strcmp(type, "message/delivery-status"))
			f->report = true;
	} else if (!g_ascii_strcasecmp(name, "X-Autoreply") || !g_ascii_strcasecmp(name, "X-Autorespond")) {
		if (!f->autoreply_header)
			f->autoreply_header = g_ascii_strcasecmp(name, "X-Autoreply") ? g_strdup("X-Autorespond")
										      : g_strdup("X-Autoreply");
	} else if (!g_ascii_strcasecmp(name, "X-Auto-Response-Suppress")) {
		if (!f->suppress && suppresses(value))
			f->suppress = clean(value, 100);
	} else if (!g_ascii_strcasecmp(name, "Message-ID")) {
		if (!f->message_id) {
			g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
			ids_of(value, ids);
			if (ids->len)
				f->message_id = g_strdup(ids->pdata[0]);
		}
	} else if (!g_ascii_strcasecmp(name, "References")) {
		if (!f->references) {
			g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
			ids_of(value, ids);
			/* Too many: the first and the newest (RFC 5322 §3.6.4). */
			while (ids->len > RECEIPT_REFERENCES_MAX)
				g_ptr_array_remove_index(ids, 1);
			g_ptr_array_add(ids, NULL);
			if (ids->len > 1)
				f->references = g_strjoinv(" ", (char **)ids->pdata);
		}
	}
}

/* The field in LINE (unfolded, without line end) into F; junk (no colon,
 * a name that is not printable ASCII) is skipped. */
static void take_line(struct receipt_facts *f, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	if (!colon || colon == line)
		return;
	for (const char *p = line; p < colon; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			/* "Name :" is obsolete syntax but read; other junk is not. */
			bool trailing_ws = true;
			for (const char *q = p; q < colon; q++)
				trailing_ws &= *q == ' ' || *q == '\t';
			if (!trailing_ws)
				return;
			colon = p; /* the name ends here */
			break;
		}
	g_autofree char *name = g_strndup(line, (size_t)(colon - line));
	const char *vstart = memchr(line, ':', n) + 1;
	g_autofree char *value = strip_controls(vstart, n - (size_t)(vstart - line));
	take_field(f, name, g_strstrip(value));
}

int receipt_facts_parse(const uint8_t *raw, size_t len, struct receipt_facts *ret)
{
	memset(ret, 0, sizeof(*ret));
	const char *p = (const char *)raw, *end = p + MIN(len, (size_t)RECEIPT_HEADER_MAX);
	GString *field = g_string_new(NULL);
	bool any = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n = (size_t)(le - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break; /* the empty line: the body follows */
		if ((*p == ' ' || *p == '\t') && field->len) {
			g_string_append_len(field, p, (gssize)n); /* a folded line */
		} else {
			if (field->len)
				take_line(ret, field->str, field->len);
			g_string_truncate(field, 0);
			g_string_append_len(field, p, (gssize)n);
			any = true;
		}
		p = nl ? nl + 1 : end;
	}
	if (field->len)
		take_line(ret, field->str, field->len);
	g_string_free(field, TRUE);
	return any ? 0 : -EINVAL;
}

/* ---- the decision -------------------------------------------------------- */

/* clang-format off */
static const char *const skip_names[] = {
	[RECEIPT_SEND] = "send",
	[RECEIPT_SKIP_NULL_SENDER] = "null-sender",
	[RECEIPT_SKIP_AUTOMATIC] = "automatic",
	[RECEIPT_SKIP_REPORT] = "report",
	[RECEIPT_SKIP_LIST] = "list",
	[RECEIPT_SKIP_BULK] = "bulk",
	[RECEIPT_SKIP_UNRELATED] = "unrelated",
	[RECEIPT_SKIP_STATUS] = "status",
	[RECEIPT_SKIP_TOO_LARGE] = "too-large",
	[RECEIPT_SKIP_GONE] = "gone",
	[RECEIPT_SKIP_DUPLICATE] = "duplicate",
	[RECEIPT_SKIP_NO_ADDRESS] = "no-address",
	[RECEIPT_SKIP_BAD_ADDRESS] = "bad-address",
	[RECEIPT_SKIP_OWN_ADDRESS] = "own-address",
	[RECEIPT_SKIP_RATE_LIMIT] = "rate-limit",
};
/* clang-format on */
_Static_assert(G_N_ELEMENTS(skip_names) == RECEIPT_N_SKIP, "a name for every reason");

const char *receipt_skip_name(enum receipt_skip skip)
{
	return (unsigned)skip < RECEIPT_N_SKIP ? skip_names[skip] : "unknown";
}

bool receipt_skip_parse(const char *name, enum receipt_skip *ret)
{
	for (unsigned i = 0; name && i < RECEIPT_N_SKIP; i++)
		if (!strcmp(name, skip_names[i])) {
			*ret = (enum receipt_skip)i;
			return true;
		}
	return false;
}

const char *receipt_recipient(const struct receipt_facts *f)
{
	if (f->return_path)
		return *f->return_path ? f->return_path : NULL;
	return f->from_addr;
}

/* Whether the comma-separated FLAGS hold FLAG. */
static bool has_flag(const char *flags, const char *flag)
{
	if (!flags)
		return false;
	g_auto(GStrv) parts = g_strsplit_set(flags, ", ", -1);
	return g_strv_contains((const char *const *)parts, flag);
}

static bool domain_char(char c)
{
	return g_ascii_isalnum(c) || c == '-';
}

bool receipt_address_ok(const char *addr)
{
	if (!addr || strlen(addr) > RECEIPT_ADDR_MAX)
		return false;
	const char *at = strchr(addr, '@');
	if (!at || at == addr || strchr(at + 1, '@'))
		return false;
	for (const char *p = addr; p < at; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("\"(),:;<>[\\]", *p))
			return false;
	if (addr[0] == '.' || at[-1] == '.' || strstr(addr, ".."))
		return false;
	/* The domain: labels of letters, digits and hyphens, at least two. */
	const char *d = at + 1;
	size_t labels = 0, label_len = 0;
	for (const char *p = d;; p++) {
		if (*p == '.' || !*p) {
			if (label_len == 0 || label_len > 63 || p[-1] == '-' || *(p - label_len) == '-')
				return false;
			labels++;
			label_len = 0;
			if (!*p)
				break;
		} else if (domain_char(*p)) {
			label_len++;
		} else {
			return false;
		}
	}
	return labels >= 2;
}

/* The domain of ADDR (after its last @), or NULL. */
static const char *domain_of(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	return at ? at + 1 : NULL;
}

/* Whether DOMAIN is OURS or below it, ignoring case. */
static bool in_domain(const char *domain, const char *ours)
{
	if (!domain || !ours || !*ours)
		return false;
	size_t n = strlen(domain), m = strlen(ours);
	if (n < m || g_ascii_strcasecmp(domain + n - m, ours))
		return false;
	return n == m || domain[n - m - 1] == '.';
}

/* Whether TO is one of our own addresses or domains under P. */
static bool own_address(const struct receipt_policy *p, const char *to)
{
	if ((p->from_addr && !g_ascii_strcasecmp(to, p->from_addr)) ||
	    (p->account_addr && !g_ascii_strcasecmp(to, p->account_addr)))
		return true;
	const char *d = domain_of(to);
	if (in_domain(d, domain_of(p->from_addr)) || in_domain(d, domain_of(p->account_addr)))
		return true;
	for (size_t i = 0; i < p->n_own_domains; i++) {
		const char *own = p->own_domains[i];
		if (own && own[0] == '@')
			own++;
		if (in_domain(d, own))
			return true;
	}
	return false;
}

/* Whether F marks the message as automatic. */
static bool automatic(const struct receipt_record *r, const struct receipt_facts *f)
{
	return (f->auto_submitted && strcmp(f->auto_submitted, "no")) || f->autoreply_header || f->suppress ||
	       (f->precedence && !strcmp(f->precedence, "auto_reply")) || r->kind == RULES_KIND_AUTO_REPLY;
}

static bool bulk(const struct receipt_facts *f)
{
	return f->precedence &&
	       (!strcmp(f->precedence, "bulk") || !strcmp(f->precedence, "junk") || !strcmp(f->precedence, "list"));
}

enum receipt_skip receipt_decide(const struct receipt_policy *p, const struct receipt_record *r,
				 const struct receipt_facts *f, const char **ret_to)
{
	if (f->return_path && !*f->return_path)
		return RECEIPT_SKIP_NULL_SENDER;
	if (automatic(r, f))
		return RECEIPT_SKIP_AUTOMATIC;
	if (f->report || r->kind == RULES_KIND_DELIVERY_REPORT)
		return RECEIPT_SKIP_REPORT;
	/* The headers before the classifier's kind, which counts
	 * Precedence: bulk as list mail: the rule names what was seen. */
	if (f->list_header)
		return RECEIPT_SKIP_LIST;
	if (bulk(f))
		return RECEIPT_SKIP_BULK;
	if (r->kind == RULES_KIND_LIST)
		return RECEIPT_SKIP_LIST;
	if (r->status == RULES_UNRELATED)
		return RECEIPT_SKIP_UNRELATED;
	if ((unsigned)r->status >= 32 || !(p->statuses & (1u << r->status)))
		return RECEIPT_SKIP_STATUS;
	if (has_flag(r->flags, "too-large"))
		return RECEIPT_SKIP_TOO_LARGE;
	if (has_flag(r->flags, "gone"))
		return RECEIPT_SKIP_GONE;
	if (r->duplicate_of != 0)
		return RECEIPT_SKIP_DUPLICATE;
	const char *to = receipt_recipient(f);
	if (!to || !*to)
		return RECEIPT_SKIP_NO_ADDRESS;
	if (!receipt_address_ok(to))
		return RECEIPT_SKIP_BAD_ADDRESS;
	if (own_address(p, to))
		return RECEIPT_SKIP_OWN_ADDRESS;
	if (ret_to)
		*ret_to = to;
	return RECEIPT_SEND;
}

/* What made F automatic, for the sentence. */
static char *automatic_detail(const struct receipt_record *r, const struct receipt_facts *f)
{
	if (f && f->auto_submitted && strcmp(f->auto_submitted, "no"))
		return g_strdup_printf("Auto-Submitted: %s", f->auto_submitted);
	if (f && f->autoreply_header)
		return g_strdup(f->autoreply_header);
	if (f && f->suppress)
		return g_strdup_printf("X-Auto-Response-Suppress: %s", f->suppress);
	if (f && f->precedence && !strcmp(f->precedence, "auto_reply"))
		return g_strdup("Precedence: auto_reply");
	if (r && r->kind == RULES_KIND_AUTO_REPLY)
		return g_strdup("genkendt som autosvar");
	return NULL;
}

/* "TEXT (DETAIL) REST", or "TEXT REST" without a detail. */
static char *with_detail(const char *text, char *detail, const char *rest)
{
	g_autofree char *d = detail;
	g_autofree char *c = clean(d, 120);
	return c && *c ? g_strdup_printf("%s (%s) %s", text, c, rest) : g_strdup_printf("%s %s", text, rest);
}

char *receipt_skip_why(enum receipt_skip skip, const struct receipt_policy *p, const struct receipt_record *r,
		       const struct receipt_facts *f)
{
	static const char never[] = "får aldrig kvittering";
	switch (skip) {
	case RECEIPT_SEND:
		return g_strdup("kvittering sendes");
	case RECEIPT_SKIP_NULL_SENDER:
		return g_strdup("post med tom afsender (Return-Path: <>), som fejlmeddelelser, får aldrig kvittering");
	case RECEIPT_SKIP_AUTOMATIC:
		return with_detail("automatisk post", automatic_detail(r, f), never);
	case RECEIPT_SKIP_REPORT:
		return with_detail("en leveringsrapport eller fejlmeddelelse",
				   f && f->report ? g_strdup("multipart/report")
				   : r            ? g_strdup("genkendt som leveringsrapport")
						  : NULL,
				   never);
	case RECEIPT_SKIP_LIST:
		return with_detail("post fra en postliste",
				   f && f->list_header ? g_strdup(f->list_header)
				   : r                 ? g_strdup("genkendt som listepost")
						       : NULL,
				   never);
	case RECEIPT_SKIP_BULK:
		return with_detail("massepost",
				   f && f->precedence ? g_strdup_printf("Precedence: %s", f->precedence) : NULL, never);
	case RECEIPT_SKIP_UNRELATED:
		return g_strdup("beskeden er ikke en ansøgning til en pulje og får aldrig kvittering");
	case RECEIPT_SKIP_STATUS:
		if (r)
			return g_strdup_printf("status «%s» er ikke blandt dem, der får kvittering (statuses)",
					       report_status_label(r->status));
		return g_strdup("beskedens status er ikke blandt dem, der får kvittering (statuses)");
	case RECEIPT_SKIP_TOO_LARGE:
		return g_strdup(
			"beskeden var for stor til at blive hentet, så der kan ikke kvitteres for dens indhold");
	case RECEIPT_SKIP_GONE:
		return g_strdup(
			"beskeden forsvandt fra postkassen, før den blev læst, så der kan ikke kvitteres for dens indhold");
	case RECEIPT_SKIP_DUPLICATE:
		if (r && r->duplicate_of)
			return g_strdup_printf("beskeden er en kopi af post #%" PRId64
					       " og får ikke en kvittering mere",
					       r->duplicate_of);
		return g_strdup("beskeden er en kopi af en tidligere og får ikke en kvittering mere");
	case RECEIPT_SKIP_NO_ADDRESS:
		return g_strdup(
			"beskeden har hverken Return-Path eller From, så der er ingen at sende kvitteringen til");
	case RECEIPT_SKIP_BAD_ADDRESS: {
		g_autofree char *a = f ? clean(receipt_recipient(f), 80) : NULL;
		if (a)
			return g_strdup_printf("afsenderadressen «%s» kan ikke bruges som modtager", a);
		return g_strdup("afsenderadressen kan ikke bruges som modtager");
	}
	case RECEIPT_SKIP_OWN_ADDRESS: {
		g_autofree char *a = f ? clean(receipt_recipient(f), 80) : NULL;
		return g_strdup_printf(
			"%s%s er myndighedens egen adresse eller i dens domæne; dertil sendes aldrig "
			"kvittering (det kunne give en løkke)",
			a ? "adressen " : "adressen", a ? a : "");
	}
	case RECEIPT_SKIP_RATE_LIMIT:
		if (p && p->max_per_sender)
			return g_strdup_printf(
				"der er allerede sendt %u kvitteringer til samme adresse det seneste døgn "
				"(max_per_sender); flere sendes ikke, så en løkke eller en strøm af post "
				"stopper her",
				p->max_per_sender);
		return g_strdup(
			"der er allerede sendt det højeste antal kvitteringer til samme adresse det seneste døgn "
			"(max_per_sender); flere sendes ikke, så en løkke eller en strøm af post stopper her");
	}
	return g_strdup("ukendt grund");
}

/* ---- Message-ID ---------------------------------------------------------- */

char *receipt_message_id(uint32_t uidvalidity, uint32_t uid, const char *call, const char *domain)
{
	g_autofree char *c = g_strdup(call && *call ? call : "none");
	for (char *p = c; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
			*p = '-';
	g_autofree char *d = g_ascii_strdown(domain && *domain ? domain : "invalid", -1);
	for (char *p = d; *p; p++)
		if (!domain_char(*p) && *p != '.')
			*p = '-';
	return g_strdup_printf("<receipt.%" PRIu32 ".%" PRIu32 ".%s@%s>", uidvalidity, uid, c, d);
}

/* ---- the template ---------------------------------------------------------- */

static const char *const placeholders[] = {
	"call",    "call_id",  "subject",     "from",      "arrival",   "clock",
	"verdict", "deadline", "attachments", "signature", "reference", "message_sha256",
};

/* The built-in text: conf/kvittering.txt holds the same (test-receipt
 * checks). */
static const char default_template[] =
	"Kvittering for modtagelse\n"
	"\n"
	"Vi har modtaget din e-mail til puljen\n"
	"{call}\n"
	"\n"
	"Emne:        {subject}\n"
	"Afsender:    {from}\n"
	"Modtaget:    {arrival} (dansk tid, ifølge {clock})\n"
	"Frist:       {deadline}\n"
	"Status:      {verdict}\n"
	"Reference:   {reference}\n"
	"\n"
	"Vedhæftede filer (navn, størrelse, SHA-256):\n"
	"{attachments}\n"
	"\n"
	"Ansøgningsskemaets digitale underskrift: {signature}\n"
	"\n"
	"Hele den modtagne e-mails SHA-256:\n"
	"{message_sha256}\n"
	"\n"
	"Denne kvittering bekræfter alene, at vi har modtaget din e-mail og\n"
	"dens vedhæftede filer som anført ovenfor. Den er ikke en vurdering\n"
	"af ansøgningen. Gem kvitteringen; med referencen og SHA-256-værdierne\n"
	"kan du senere vise, hvad vi modtog og hvornår.\n"
	"\n"
	"Kontakt os, hvis noget ovenfor ikke svarer til det, du sendte.\n"
	"\n"
	"Denne e-mail er sendt automatisk.\n";

const char *receipt_template_default(void)
{
	return default_template;
}

static bool known_placeholder(const char *name, size_t n)
{
	for (size_t i = 0; i < G_N_ELEMENTS(placeholders); i++)
		if (strlen(placeholders[i]) == n && !memcmp(placeholders[i], name, n))
			return true;
	return false;
}

/* Walks TEXT: literal runs to OUT (when not NULL) and each placeholder
 * rendered for C.  0, or -EINVAL and *RET_ERROR. */
static int walk(const char *text, const struct receipt_content *c, GString *out, char **ret_error)
{
	unsigned line = 1;
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			line++;
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '}') {
			if (p[1] != '}') {
				*ret_error = g_strdup_printf("unbalanced brace } on line %u (write }} for a literal })",
							     line);
				return -EINVAL;
			}
			if (out)
				g_string_append_c(out, '}');
			p++;
			continue;
		}
		if (*p != '{') {
			if (out)
				g_string_append_c(out, *p);
			continue;
		}
		if (p[1] == '{') {
			if (out)
				g_string_append_c(out, '{');
			p++;
			continue;
		}
		size_t n = strcspn(p + 1, "{}\n");
		if (p[1 + n] != '}') {
			*ret_error = g_strdup_printf("unbalanced brace { on line %u (write {{ for a literal {)", line);
			return -EINVAL;
		}
		if (!known_placeholder(p + 1, n)) {
			g_autofree char *raw = g_strndup(p + 1, MIN(n, (size_t)60));
			g_autofree char *name = clean(raw, 60);
			*ret_error = g_strdup_printf("unknown placeholder {%s} on line %u", name, line);
			return -EINVAL;
		}
		if (out) {
			g_autofree char *name = g_strndup(p + 1, n);
			g_autofree char *value = receipt_placeholder(c, name);
			g_string_append(out, value);
		}
		p += n + 1;
	}
	return 0;
}

int receipt_template_check(const char *text, char **ret_error)
{
	return walk(text, NULL, NULL, ret_error);
}

char *receipt_render(const struct receipt_content *c, const char *template, char **ret_error)
{
	GString *out = g_string_new(NULL);
	if (walk(template ? template : default_template, c, out, ret_error) < 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* 1234567 -> "1.234.567". */
static char *danish_count(uint64_t n)
{
	g_autofree char *digits = g_strdup_printf("%" PRIu64, n);
	GString *out = g_string_new(NULL);
	size_t len = strlen(digits);
	for (size_t i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			g_string_append_c(out, '.');
		g_string_append_c(out, digits[i]);
	}
	return g_string_free(out, FALSE);
}

static char *attachments_text(const struct receipt_content *c)
{
	if (c->n_attachments == 0)
		return g_strdup("- (ingen vedhæftede filer)");
	GString *out = g_string_new(NULL);
	for (size_t i = 0; i < c->n_attachments; i++) {
		const struct receipt_attachment *a = &c->attachments[i];
		g_autofree char *name = clean(a->filename, 200);
		g_autofree char *size = danish_count(a->size);
		g_autofree char *sha = clean(a->sha256, 64);
		g_string_append_printf(out, "%s- %s%s (%s bytes)\n  SHA-256 %s", i ? "\n" : "",
				       name && *name ? name : "(uden navn)", a->is_form ? " — ansøgningsskema" : "",
				       size, sha && *sha ? sha : "(ukendt)");
	}
	return g_string_free(out, FALSE);
}

static const char *clock_words(enum rules_basis clock)
{
	switch (clock) {
	case RULES_BASIS_EDGE:
		return "myndighedens mailserver";
	case RULES_BASIS_DATE_HEADER:
		return "afsenderens Date-felt";
	case RULES_BASIS_ARRIVAL:
		break;
	}
	return "postkassens server";
}

static char *verdict_text(const struct receipt_content *c)
{
	if (c->on_time == 0 && c->has_deadline) {
		g_autofree char *d = report_danish_time(c->deadline_last, c->timezone, true);
		return g_strdup_printf("modtaget efter fristen %s", d);
	}
	if (c->on_time == 0)
		return g_strdup("modtaget efter fristen");
	if (c->status == RULES_REVIEW)
		return g_strdup(c->on_time == 1 ? "modtaget inden fristen — vil blive vurderet manuelt"
						: "modtaget — vil blive vurderet manuelt");
	if (c->on_time == 1)
		return g_strdup("modtaget inden fristen");
	return g_strdup("modtaget — vil blive vurderet manuelt");
}

static char *signature_text(const struct receipt_content *c)
{
	if (!c->has_form)
		return g_strdup("intet ansøgningsskema fundet");
	g_autofree char *signer = clean(c->form_signature.signer, 200);
	g_autofree char *reason = clean(c->form_signature.reason, 300);
	struct report_signature s = {
		.signature = c->form_signature.status,
		.signer = signer,
		.modified = c->form_signature.modified,
		.untrusted = c->form_signature.untrusted,
		.reason = reason,
	};
	return report_signature_text(&s, NULL);
}

/* TEXT cleaned and bounded, or FALLBACK when empty. */
static char *or_else(const char *text, size_t max, const char *fallback)
{
	g_autofree char *c = clean(text, max);
	return c && *c ? g_steal_pointer(&c) : g_strdup(fallback);
}

char *receipt_placeholder(const struct receipt_content *c, const char *name)
{
	if (!strcmp(name, "call"))
		return or_else(c->call_title, 300, "(ukendt pulje)");
	if (!strcmp(name, "call_id"))
		return or_else(c->call_id, 100, "(ingen)");
	if (!strcmp(name, "subject"))
		return or_else(c->subject, RECEIPT_SUBJECT_MAX, "(intet emne)");
	if (!strcmp(name, "from"))
		return or_else(c->from, RECEIPT_ADDR_MAX, "(ukendt)");
	if (!strcmp(name, "arrival"))
		return report_danish_time(c->arrival, c->timezone, true);
	if (!strcmp(name, "clock"))
		return g_strdup(clock_words(c->clock));
	if (!strcmp(name, "verdict"))
		return verdict_text(c);
	if (!strcmp(name, "deadline"))
		return c->has_deadline ? report_danish_time(c->deadline_last, c->timezone, true)
				       : g_strdup("ingen frist");
	if (!strcmp(name, "attachments"))
		return attachments_text(c);
	if (!strcmp(name, "signature"))
		return signature_text(c);
	if (!strcmp(name, "reference"))
		return record_reference(c->record_id);
	if (!strcmp(name, "message_sha256"))
		return or_else(c->message_sha256, 64, "(ukendt)");
	return NULL;
}

/* ---- encodings ------------------------------------------------------------- */

char *receipt_qp_encode(const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	GString *out = g_string_new(NULL);
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n && p[n - 1] == '\r')
			n--;
		size_t col = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char b = (unsigned char)p[i];
			bool last = i + 1 == n;
			size_t limit = last ? 76u : 75u;
			bool literal = (b >= 33 && b <= 126 && b != '=') || ((b == ' ' || b == '\t') && !last);
			/* "From " at the start of an encoded line (a text line's,
			 * or after a soft break) is written =46rom: mbox munging
			 * would break a signature. */
			if (literal && b == 'F' && (col == 0 || col + 1 > limit) && n - i >= 5 &&
			    !strncmp(p + i, "From ", 5))
				literal = false;
			size_t w = literal ? 1 : 3;
			if (col + w > limit) {
				g_string_append(out, "=\r\n");
				col = 0;
			}
			if (literal) {
				g_string_append_c(out, (char)b);
			} else {
				g_string_append_c(out, '=');
				g_string_append_c(out, hex[b >> 4]);
				g_string_append_c(out, hex[b & 15]);
			}
			col += w;
		}
		g_string_append(out, "\r\n");
		p = nl ? nl + 1 : p + strlen(p);
	}
	return g_string_free(out, FALSE);
}

/* Whether VALUE can go into a header as it is. */
static bool plain_ascii(const char *value)
{
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return !strstr(value, "=?");
}

/* VALUE (printable ASCII) folded at spaces before a word that would
 * pass column 78, after a field name of NAME_LEN characters, into OUT. */
static void fold_ascii(GString *out, const char *value, size_t name_len)
{
	size_t col = name_len + 2; /* "Name: " */
	g_auto(GStrv) words = g_strsplit(value, " ", -1);
	for (char **w = words; *w; w++) {
		size_t n = strlen(*w);
		if (w != words) {
			if (col + 1 + n > 78 && col > 1) {
				g_string_append(out, "\r\n ");
				col = 1;
			} else {
				g_string_append_c(out, ' ');
				col++;
			}
		}
		g_string_append(out, *w);
		col += n;
	}
}

char *receipt_header_encode(const char *value, size_t name_len)
{
	GString *out = g_string_new(NULL);
	size_t col = name_len + 2; /* "Name: " */
	if (plain_ascii(value)) {
		fold_ascii(out, value, name_len);
		return g_string_free(out, FALSE);
	}
	/* Encoded words of whole UTF-8 characters, at most 45 bytes each
	 * (60 base64 characters, 72 with "=?UTF-8?B?" and "?="), as many on
	 * a line as fit in 78 columns. */
	const char *p = value;
	bool first = true;
	while (*p) {
		size_t sep = first ? 0 : 1;
		size_t avail = col + sep + 12 < 78 ? 78 - col - sep - 12 : 0;
		size_t budget = MIN((size_t)45, avail / 4 * 3);
		if (budget < 6) { /* not even one character: the next line */
			g_string_append(out, "\r\n");
			col = 0;
			sep = 1;
			budget = 45;
		}
		const char *q = p;
		while (*q) {
			const char *next = g_utf8_next_char(q);
			if ((size_t)(next - p) > budget)
				break;
			q = next;
		}
		if (q == p)
			q = g_utf8_next_char(p);
		g_autofree char *b64 = g_base64_encode((const guchar *)p, (gsize)(q - p));
		if (sep)
			g_string_append_c(out, ' ');
		g_string_append_printf(out, "=?UTF-8?B?%s?=", b64);
		col += sep + strlen(b64) + 12;
		first = false;
		p = q;
	}
	return g_string_free(out, FALSE);
}

/* ---- the message ----------------------------------------------------------- */

/* The From field's value: the display name (quoted or encoded) and the
 * address. */
static char *from_value(const char *name, const char *addr)
{
	g_autofree char *n = clean(name, 200);
	if (!n || !*n)
		return g_strdup(addr);
	if (plain_ascii(n)) {
		GString *q = g_string_new("\"");
		for (const char *p = n; *p; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(q, '\\');
			g_string_append_c(q, *p);
		}
		g_string_append(q, "\"");
		g_autofree char *quoted = g_string_free(q, FALSE);
		return g_strdup_printf("%s <%s>", quoted, addr);
	}
	g_autofree char *enc = receipt_header_encode(n, 4);
	return g_strdup_printf("%s\r\n <%s>", enc, addr);
}

/* NOW as an RFC 5322 date in TZ_NAME: "Fri, 01 Jul 2022 23:59:59 +0200". */
static char *rfc5322_date(int64_t now, const char *tz_name)
{
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(tz_name ? tz_name : DEFAULT_TZ);
	if (!tz)
		tz = g_time_zone_new_utc();
	g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(now);
	if (!utc)
		return NULL;
	g_autoptr(GDateTime) dt = g_date_time_to_timezone(utc, tz);
	int64_t off = g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE;
	int64_t a = off < 0 ? -off : off;
	return g_strdup_printf("%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", days[g_date_time_get_day_of_week(dt) - 1],
			       g_date_time_get_day_of_month(dt), months[g_date_time_get_month(dt) - 1],
			       g_date_time_get_year(dt), g_date_time_get_hour(dt), g_date_time_get_minute(dt),
			       g_date_time_get_second(dt), off < 0 ? '-' : '+', (int)(a / 60), (int)(a % 60));
}

/* Appends "NAME: VALUE" folded at spaces, CRLF. */
static void field(GString *out, const char *name, const char *value)
{
	g_autofree char *v = receipt_header_encode(value, strlen(name));
	g_string_append_printf(out, "%s: %s\r\n", name, v);
}

int receipt_compose(const struct receipt_content *c, const struct receipt_headers *h, const char *template,
		    const struct sign *signer, int64_t now, char **ret, size_t *ret_len, char **ret_error)
{
	if (!receipt_address_ok(h->from_addr)) {
		*ret_error = g_strdup_printf("the receipts' From address is not usable: %s",
					     h->from_addr ? h->from_addr : "(none)");
		return -EINVAL;
	}
	if (!receipt_address_ok(h->to)) {
		*ret_error = g_strdup("the recipient is not a usable address");
		return -EINVAL;
	}
	g_autoptr(GPtrArray) mid = g_ptr_array_new_with_free_func(g_free);
	ids_of(h->message_id ? h->message_id : "", mid);
	if (mid->len != 1) {
		*ret_error = g_strdup("the receipt's Message-ID is not usable");
		return -EINVAL;
	}
	g_autofree char *text = receipt_render(c, template, ret_error);
	if (!text)
		return -EINVAL;
	g_autofree char *date = rfc5322_date(now, h->timezone);
	if (!date) {
		*ret_error = g_strdup_printf("the time %" PRId64 " cannot be written as a date", now);
		return -EINVAL;
	}

	GString *out = g_string_new(NULL);
	g_autofree char *from = from_value(h->from_name, h->from_addr);
	g_string_append_printf(out, "From: %s\r\n", from);
	g_string_append_printf(out, "To: %s\r\n", h->to);
	g_autofree char *subject = or_else(h->subject, RECEIPT_SUBJECT_MAX, "(intet emne)");
	g_autofree char *subject_line = g_strconcat("Kvittering: ", subject, NULL);
	field(out, "Subject", subject_line);
	g_string_append_printf(out, "Date: %s\r\n", date);
	g_string_append_printf(out, "Message-ID: %s\r\n", (const char *)mid->pdata[0]);

	/* In-Reply-To: the application; References: its References and it. */
	g_autoptr(GPtrArray) parent = g_ptr_array_new_with_free_func(g_free);
	ids_of(h->in_reply_to ? h->in_reply_to : "", parent);
	g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func(g_free);
	ids_of(h->references ? h->references : "", refs);
	while (refs->len >= RECEIPT_REFERENCES_MAX)
		g_ptr_array_remove_index(refs, refs->len > 1 ? 1 : 0);
	if (parent->len) {
		g_string_append_printf(out, "In-Reply-To: %s\r\n", (const char *)parent->pdata[0]);
		g_ptr_array_add(refs, g_strdup(parent->pdata[0]));
	}
	if (refs->len) {
		g_ptr_array_add(refs, NULL);
		g_autofree char *all = g_strjoinv(" ", (char **)refs->pdata);
		/* msg-ids are never encoded words, whatever they hold. */
		g_string_append(out, "References: ");
		fold_ascii(out, all, strlen("References"));
		g_string_append(out, "\r\n");
	}
	g_string_append(out,
			"Auto-Submitted: auto-replied\r\n"
			"X-Auto-Response-Suppress: All\r\n"
			"MIME-Version: 1.0\r\n");

	g_autofree char *qp = receipt_qp_encode(text);
	g_autofree char *entity = g_strconcat(
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n",
		qp, NULL);
	if (signer) {
		g_autofree char *signed_entity = NULL;
		size_t signed_len = 0;
		int r = sign_entity(signer, entity, strlen(entity), now, &signed_entity, &signed_len, ret_error);
		if (r < 0) {
			g_string_free(out, TRUE);
			return r;
		}
		g_string_append_len(out, signed_entity, (gssize)signed_len);
	} else {
		g_string_append(out, entity);
	}
	*ret_len = out->len;
	*ret = g_string_free(out, FALSE);
	return 0;
}
