#include "smtp.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "tls.h"

/* ---- pure parts ---- */

void smtp_reply_clear(struct smtp_reply *r)
{
	if (r->text)
		g_string_free(r->text, TRUE);
	*r = (struct smtp_reply){ 0 };
}

int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len)
{
	if (r->done || len + 2 > SMTP_MAX_LINE || r->lines >= SMTP_MAX_LINES || r->bytes + len + 2 > SMTP_MAX_REPLY)
		return SMTP_E_PROTOCOL;
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
	    line[2] > '9')
		return SMTP_E_PROTOCOL;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return SMTP_E_PROTOCOL;
	if (memchr(line, '\0', len))
		return SMTP_E_PROTOCOL;
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code)
		return SMTP_E_PROTOCOL;
	if (!r->text)
		r->text = g_string_new(NULL);
	if (r->lines > 0)
		g_string_append_c(r->text, '\n');
	if (len > 4)
		g_string_append_len(r->text, line + 4, (gssize)(len - 4));
	r->code = code;
	r->lines++;
	r->bytes += len + 2;
	r->done = len == 3 || line[3] == ' ';
	return r->done ? 1 : 0;
}

static bool word_is(const char *w, size_t n, const char *name)
{
	return strlen(name) == n && g_ascii_strncasecmp(w, name, n) == 0;
}

unsigned smtp_ehlo_caps(const char *text)
{
	unsigned caps = 0;
	const char *p = strchr(text, '\n'); /* the first line is the server's name */
	while (p) {
		const char *line = p + 1;
		p = strchr(line, '\n');
		size_t n = p ? (size_t)(p - line) : strlen(line);
		size_t k = strcspn(line, " =\n");
		if (k > n)
			k = n;
		if (word_is(line, k, "STARTTLS"))
			caps |= SMTP_CAP_STARTTLS;
		else if (word_is(line, k, "8BITMIME"))
			caps |= SMTP_CAP_8BITMIME;
		else if (word_is(line, k, "SMTPUTF8"))
			caps |= SMTP_CAP_SMTPUTF8;
		else if (word_is(line, k, "AUTH")) {
			/* "AUTH PLAIN LOGIN" and the old "AUTH=PLAIN LOGIN" */
			size_t i = k;
			while (i < n) {
				while (i < n && (line[i] == ' ' || line[i] == '='))
					i++;
				size_t j = i;
				while (j < n && line[j] != ' ')
					j++;
				if (word_is(line + i, j - i, "PLAIN"))
					caps |= SMTP_CAP_AUTH_PLAIN;
				else if (word_is(line + i, j - i, "LOGIN"))
					caps |= SMTP_CAP_AUTH_LOGIN;
				else if (word_is(line + i, j - i, "XOAUTH2"))
					caps |= SMTP_CAP_AUTH_XOAUTH2;
				i = j;
			}
		}
	}
	return caps;
}

char *smtp_dot_stuff(const void *msg, size_t len, size_t *ret_len)
{
	const char *m = msg;
	/* At worst every byte is a line of its own ("." → "..\r\n"). */
	GString *out = g_string_sized_new(len + len / 16 + 8);
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		char ch = m[i];
		if (ch == '\r' || ch == '\n') {
			if (ch == '\r' && i + 1 < len && m[i + 1] == '\n')
				i++;
			g_string_append_len(out, "\r\n", 2);
			bol = true;
			continue;
		}
		if (bol && ch == '.')
			g_string_append_c(out, '.');
		g_string_append_c(out, ch);
		bol = false;
	}
	if (!bol)
		g_string_append_len(out, "\r\n", 2);
	g_string_append_len(out, ".\r\n", 3);
	*ret_len = out->len;
	return g_string_free(out, FALSE);
}

/* base64 of LEN bytes of RAW, into memory only we have seen. */
static char *encode_secret(const char *raw, size_t len)
{
	size_t cap = (len / 3 + 2) * 4 + 1;
	char *enc = g_malloc(cap);
	gint state = 0, save = 0;
	size_t e = g_base64_encode_step((const guchar *)raw, len, FALSE, enc, &state, &save);
	e += g_base64_encode_close(FALSE, enc + e, &state, &save);
	enc[e] = '\0';
	explicit_bzero(&save, sizeof(save));
	return enc;
}

static char *encode_parts(const char *const *parts, const size_t *lens, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i];
	char *raw = g_malloc(total + 1);
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(raw + at, parts[i], lens[i]);
		at += lens[i];
	}
	char *enc = encode_secret(raw, total);
	explicit_bzero(raw, total);
	g_free(raw);
	return enc;
}

char *smtp_auth_plain(const char *user, const char *secret)
{
	const char *parts[] = { "", user, "", secret };
	size_t lens[] = { 1, strlen(user), 1, strlen(secret) };
	return encode_parts(parts, lens, 4);
}

char *smtp_auth_xoauth2(const char *user, const char *secret)
{
	const char *parts[] = { "user=", user, "\001auth=Bearer ", secret, "\001\001" };
	size_t lens[] = { 5, strlen(user), 13, strlen(secret), 2 };
	return encode_parts(parts, lens, 5);
}

char *smtp_auth_base64(const char *s)
{
	return encode_secret(s, strlen(s));
}

void smtp_secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	g_free(s);
}

bool smtp_address_ok(const char *addr)
{
	size_t n = strlen(addr);
	if (n > SMTP_MAX_ADDRESS)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)addr[i];
		if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>')
			return false;
	}
	return true;
}

/* ---- the session ---- */

struct smtp {
	int fd;
	struct tls *tls; /* NULL before STARTTLS */
	int timeout_ms;
	atomic_int *cancel;
	char host[256];
	/* Read from the connection, not yet parsed: [rpos, rlen). */
	char rbuf[4096];
	size_t rpos, rlen;
	unsigned caps;
	int last_code;
	bool broken;
	char err[1024];
	struct smtp_reply reply; /* the last reply read */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The server's words as one line of printable ASCII (bounded by err's
 * size): control characters become spaces, other bytes '?', so that the
 * message is safe in a terminal, the journal and JSON. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s == 0x7f)
			*s = ' ';
		else if ((unsigned char)*s > 0x7f)
			*s = '?';
}

static int fail(struct smtp *c, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int fail(struct smtp *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	printable(c->err);
	if (code != SMTP_E_TEMPORARY && code != SMTP_E_PERMANENT && code != SMTP_E_AUTH)
		c->broken = true;
	return code;
}

/* Fills rbuf with what has arrived, waiting until DEADLINE (monotonic ms). */
static int fill(struct smtp *c, int64_t deadline, const char *what)
{
	if (!c->tls || tls_pending(c->tls) == 0) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r;
		for (;;) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				r = 0;
				break;
			}
			r = poll(&p, 1, (int)left);
			if (r >= 0 || errno != EINTR)
				break;
			if (c->cancel && *c->cancel)
				return fail(c, SMTP_E_CANCELLED, "interrupted while waiting for the reply to %s", what);
		}
		if (r == 0)
			return fail(c, SMTP_E_TIMEOUT, "no reply to %s within %d ms", what, c->timeout_ms);
		if (r < 0)
			return fail(c, SMTP_E_NETWORK, "waiting for the reply to %s: %s", what, g_strerror(errno));
	}
	ssize_t n;
	if (c->tls) {
		tls_set_deadline(c->tls, deadline * 1000); /* also inside a record */
		n = tls_read(c->tls, c->rbuf, sizeof(c->rbuf));
	} else {
		do
			n = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
		while (n < 0 && errno == EINTR && !(c->cancel && *c->cancel));
	}
	if (n > 0) {
		c->rpos = 0;
		c->rlen = (size_t)n;
		return SMTP_OK;
	}
	if (n < 0 && errno == EINTR)
		return fail(c, SMTP_E_CANCELLED, "interrupted while waiting for the reply to %s", what);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return fail(c, SMTP_E_TIMEOUT, "no reply to %s within %d ms", what, c->timeout_ms);
	if (n == 0 || errno == 0)
		return fail(c, SMTP_E_NETWORK, "the server closed the connection (waiting for the reply to %s)", what);
	return fail(c, SMTP_E_NETWORK, "connection lost waiting for the reply to %s: %s", what, g_strerror(errno));
}

/* Reads one whole reply into c->reply; WHAT names the command for errors.
 * The reply must complete within the timeout, however the server trickles
 * it. */
static int read_reply(struct smtp *c, const char *what, int timeout_ms)
{
	smtp_reply_clear(&c->reply);
	int64_t deadline = now_ms() + timeout_ms;
	char line[SMTP_MAX_LINE];
	size_t len = 0;
	for (;;) {
		if (c->rpos == c->rlen) {
			int r = fill(c, deadline, what);
			if (r != SMTP_OK)
				return r;
		}
		char *nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);
		size_t take = nl ? (size_t)(nl - (c->rbuf + c->rpos)) : c->rlen - c->rpos;
		if (len + take > sizeof(line) - 1)
			return fail(c, SMTP_E_PROTOCOL, "a reply line to %s is longer than %d bytes", what,
				    SMTP_MAX_LINE);
		memcpy(line + len, c->rbuf + c->rpos, take);
		len += take;
		c->rpos += take;
		if (!nl)
			continue;
		c->rpos++; /* the '\n' */
		if (len > 0 && line[len - 1] == '\r')
			len--;
		int r = smtp_reply_line(&c->reply, line, len);
		len = 0;
		if (r < 0)
			return fail(c, SMTP_E_PROTOCOL,
				    "malformed or oversized reply to %s (at most %d lines of %d bytes, %d in all)",
				    what, SMTP_MAX_LINES, SMTP_MAX_LINE, SMTP_MAX_REPLY);
		c->last_code = c->reply.code;
		if (r == 1)
			return SMTP_OK;
	}
}

static int send_raw(struct smtp *c, const void *buf, size_t len, const char *what)
{
	const char *p = buf;
	size_t done = 0;
	if (c->tls) /* the whole of it, however slowly the server reads */
		tls_set_deadline(c->tls, (now_ms() + c->timeout_ms) * 1000);
	while (done < len) {
		ssize_t n;
		if (c->tls) {
			n = tls_write(c->tls, p + done, len - done);
		} else {
			do
				n = send(c->fd, p + done, len - done, MSG_NOSIGNAL);
			while (n < 0 && errno == EINTR && !(c->cancel && *c->cancel));
		}
		if (n < 0) {
			if (errno == EINTR)
				return fail(c, SMTP_E_CANCELLED, "interrupted while sending %s", what);
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return fail(c, SMTP_E_TIMEOUT, "sending %s took longer than %d ms", what,
					    c->timeout_ms);
			return fail(c, SMTP_E_NETWORK, "connection lost while sending %s: %s", what, g_strerror(errno));
		}
		done += (size_t)n;
	}
	return SMTP_OK;
}

/* The reply's text as one line, for messages. */
static const char *reply_text(struct smtp *c)
{
	if (!c->reply.text)
		return "";
	for (gsize i = 0; i < c->reply.text->len; i++)
		if (c->reply.text->str[i] == '\n')
			c->reply.text->str[i] = ' ';
	return c->reply.text->str;
}

/* Sends LINE (without CRLF) and reads the reply.  WHAT names it in errors
 * (never the line itself: it may carry a credential). */
static int command(struct smtp *c, const char *line, const char *what)
{
	g_autofree char *l = g_strconcat(line, "\r\n", NULL);
	int r = send_raw(c, l, strlen(l), what);
	if (r == SMTP_OK)
		r = read_reply(c, what, c->timeout_ms);
	return r;
}

/* A reply other than EXPECT: 4xx temporary, 5xx permanent, else protocol. */
static int refused(struct smtp *c, const char *what)
{
	int code = c->reply.code;
	return fail(c,
		    code >= 500   ? SMTP_E_PERMANENT
		    : code >= 400 ? SMTP_E_TEMPORARY
				  : SMTP_E_PROTOCOL,
		    "%s: %d %s", what, code, reply_text(c));
}

static int ehlo(struct smtp *c, const char *helo)
{
	g_autofree char *cmd = g_strconcat("EHLO ", helo, NULL);
	int r = command(c, cmd, "EHLO");
	if (r != SMTP_OK)
		return r;
	if (c->reply.code != 250)
		return fail(c, SMTP_E_PROTOCOL, "EHLO: %d %s", c->reply.code, reply_text(c));
	c->caps = smtp_ehlo_caps(c->reply.text ? c->reply.text->str : "");
	return SMTP_OK;
}

static int handshake(struct smtp *c, const struct smtp_settings *s)
{
	g_autofree char *why = NULL;
	int r = tls_client_new(c->fd, s->host, s->ca_file, s->priority, s->timeout_ms, s->cancel, &c->tls, &why);
	if (r == TLS_OK)
		return SMTP_OK;
	return fail(c,
		    r == TLS_E_CERTIFICATE ? SMTP_E_CERTIFICATE
		    : r == TLS_E_TIMEOUT   ? SMTP_E_TIMEOUT
		    : r == TLS_E_CANCELLED ? SMTP_E_CANCELLED
					   : SMTP_E_TLS,
		    "%s", why);
}

static int starttls(struct smtp *c, const struct smtp_settings *s)
{
	if (!(c->caps & SMTP_CAP_STARTTLS))
		return fail(c, SMTP_E_PROTOCOL, "%s does not offer STARTTLS; refusing to continue without TLS",
			    s->host);
	int r = command(c, "STARTTLS", "STARTTLS");
	if (r != SMTP_OK)
		return r;
	if (c->reply.code != 220)
		return fail(c, SMTP_E_PROTOCOL, "STARTTLS: %d %s", c->reply.code, reply_text(c));
	/* Bytes after the 220 were sent in plaintext before the handshake: a
	 * man in the middle injecting replies (CVE-2011-0411 style). */
	if (c->rpos != c->rlen)
		return fail(c, SMTP_E_PROTOCOL, "the server sent data after its STARTTLS reply, before TLS");
	return handshake(c, s);
}

static const char *auth_name(enum smtp_auth a)
{
	return a == SMTP_AUTH_PLAIN ? "PLAIN" : a == SMTP_AUTH_LOGIN ? "LOGIN" : "XOAUTH2";
}

/* Sends a line that carries a credential, and wipes our copy. */
static int command_secret(struct smtp *c, const char *prefix, char *secret, const char *what)
{
	size_t n = strlen(prefix) + strlen(secret) + 3;
	char *l = g_malloc(n);
	snprintf(l, n, "%s%s\r\n", prefix, secret);
	smtp_secret_free(secret);
	int r = send_raw(c, l, n - 1, what);
	explicit_bzero(l, n);
	g_free(l);
	if (r == SMTP_OK)
		r = read_reply(c, what, c->timeout_ms);
	return r;
}

static int authenticate(struct smtp *c, const struct smtp_settings *s)
{
	unsigned need = s->auth == SMTP_AUTH_PLAIN   ? SMTP_CAP_AUTH_PLAIN
			: s->auth == SMTP_AUTH_LOGIN ? SMTP_CAP_AUTH_LOGIN
						     : SMTP_CAP_AUTH_XOAUTH2;
	const char *what = s->auth == SMTP_AUTH_PLAIN   ? "AUTH PLAIN"
			   : s->auth == SMTP_AUTH_LOGIN ? "AUTH LOGIN"
							: "AUTH XOAUTH2";
	if (!(c->caps & need))
		return fail(c, SMTP_E_AUTH, "%s does not offer AUTH %s", s->host, auth_name(s->auth));
	const char *secret = s->secret ? s->secret : "";
	int r;
	switch (s->auth) {
	case SMTP_AUTH_PLAIN:
		r = command_secret(c, "AUTH PLAIN ", smtp_auth_plain(s->username, secret), what);
		break;
	case SMTP_AUTH_LOGIN:
		r = command(c, "AUTH LOGIN", what);
		if (r == SMTP_OK && c->reply.code == 334)
			r = command_secret(c, "", smtp_auth_base64(s->username), what);
		if (r == SMTP_OK && c->reply.code == 334)
			r = command_secret(c, "", smtp_auth_base64(secret), what);
		break;
	default:
		r = command_secret(c, "AUTH XOAUTH2 ", smtp_auth_xoauth2(s->username, secret), what);
		/* A 334 carries the error as base64 JSON; an empty line ends it
		 * and the server answers with its final code. */
		if (r == SMTP_OK && c->reply.code == 334)
			r = command(c, "", what);
		break;
	}
	if (r != SMTP_OK)
		return r;
	if (c->reply.code == 235)
		return SMTP_OK;
	if (c->reply.code == 334)
		return fail(c, SMTP_E_PROTOCOL, "%s: the server asked for more than the mechanism has", what);
	return fail(c, SMTP_E_AUTH, "%s as %s refused: %d %s", what, s->username, c->reply.code, reply_text(c));
}

static int settings_ok(const struct smtp_settings *s, char **ret_error)
{
	const char *helo = s->helo;
	if (!s->host || !*s->host) {
		*ret_error = g_strdup("no SMTP host given");
		return SMTP_E_PROTOCOL;
	}
	if (s->security != SMTP_STARTTLS && s->security != SMTP_TLS) {
		*ret_error = g_strdup("SMTP security must be STARTTLS or TLS");
		return SMTP_E_PROTOCOL;
	}
	if (s->timeout_ms <= 0) {
		*ret_error = g_strdup("SMTP timeout must be positive");
		return SMTP_E_PROTOCOL;
	}
	if (helo && (!*helo || !smtp_address_ok(helo))) {
		*ret_error = g_strdup("the EHLO name may not be empty or contain spaces or control characters");
		return SMTP_E_PROTOCOL;
	}
	if (s->username && s->auth != SMTP_AUTH_NONE &&
	    (strpbrk(s->username, "\r\n") || (s->secret && strpbrk(s->secret, "\r\n")))) {
		*ret_error = g_strdup("the SMTP user name or secret contains a line break");
		return SMTP_E_PROTOCOL;
	}
	return SMTP_OK;
}

static void smtp_free(struct smtp *c)
{
	tls_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	smtp_reply_clear(&c->reply);
	g_free(c);
}

int smtp_open(const struct smtp_settings *s, struct smtp **ret, char **ret_error)
{
	int r = settings_ok(s, ret_error);
	if (r != SMTP_OK)
		return r;
	struct smtp *c = g_new0(struct smtp, 1);
	c->fd = -1;
	c->timeout_ms = s->timeout_ms;
	c->cancel = s->cancel;
	g_strlcpy(c->host, s->host, sizeof(c->host));

	g_autofree char *why = NULL;
	r = net_connect(s->host, s->port, s->timeout_ms, s->cancel, &c->fd, &why);
	if (r < 0) {
		r = fail(c,
			 r == -EINTR       ? SMTP_E_CANCELLED
			 : r == -ETIMEDOUT ? SMTP_E_TIMEOUT
					   : SMTP_E_CONNECT,
			 "%s", why);
		goto out;
	}
	if (s->security == SMTP_TLS && (r = handshake(c, s)) != SMTP_OK)
		goto out;
	if ((r = read_reply(c, "the greeting", c->timeout_ms)) != SMTP_OK)
		goto out;
	if (c->reply.code != 220) {
		r = refused(c, "greeting");
		c->broken = true;
		goto out;
	}
	const char *helo = s->helo ? s->helo : g_get_host_name();
	if (!smtp_address_ok(helo) || !*helo)
		helo = "localhost";
	if ((r = ehlo(c, helo)) != SMTP_OK)
		goto out;
	if (s->security == SMTP_STARTTLS) {
		if ((r = starttls(c, s)) != SMTP_OK || (r = ehlo(c, helo)) != SMTP_OK)
			goto out;
	}
	/* Only here, after a verified handshake, may a credential be sent. */
	if (s->username && s->auth != SMTP_AUTH_NONE && (r = authenticate(c, s)) != SMTP_OK) {
		c->broken = true;
		goto out;
	}
	c->err[0] = '\0';
	*ret = c;
	return SMTP_OK;
out:
	*ret_error = g_strdup(c->err);
	smtp_free(c);
	return r;
}

/* After a refusal in a transaction: RSET, so that the session stays usable. */
static int reset(struct smtp *c, int refusal)
{
	char saved[sizeof(c->err)];
	int code = c->last_code;
	memcpy(saved, c->err, sizeof(saved));
	int r = command(c, "RSET", "RSET");
	if (r == SMTP_OK && c->reply.code != 250)
		c->broken = true;
	memcpy(c->err, saved, sizeof(saved));
	c->last_code = code;
	return refusal;
}

static bool has_8bit(const void *msg, size_t len)
{
	const unsigned char *m = msg;
	for (size_t i = 0; i < len; i++)
		if (m[i] & 0x80)
			return true;
	return false;
}

int smtp_send(struct smtp *c, const char *mail_from, const char *rcpt_to, const void *msg, size_t len)
{
	if (!c)
		return SMTP_E_PROTOCOL;
	if (c->broken)
		return fail(c, SMTP_E_NETWORK, "the SMTP session is no longer usable");
	if (!mail_from || !rcpt_to || !*rcpt_to || !smtp_address_ok(mail_from) || !smtp_address_ok(rcpt_to)) {
		snprintf(c->err, sizeof(c->err), "not a usable address for MAIL FROM / RCPT TO");
		printable(c->err);
		return SMTP_E_PROTOCOL;
	}
	c->err[0] = '\0';
	const char *body = (c->caps & SMTP_CAP_8BITMIME) && has_8bit(msg, len) ? " BODY=8BITMIME" : "";
	g_autofree char *mail = g_strdup_printf("MAIL FROM:<%s>%s", mail_from, body);
	int r = command(c, mail, "MAIL FROM");
	if (r != SMTP_OK)
		return r;
	if (c->reply.code != 250)
		return reset(c, refused(c, "MAIL FROM"));
	g_autofree char *rcpt = g_strdup_printf("RCPT TO:<%s>", rcpt_to);
	if ((r = command(c, rcpt, "RCPT TO")) != SMTP_OK)
		return r;
	if (c->reply.code != 250 && c->reply.code != 251)
		return reset(c, refused(c, "RCPT TO"));
	if ((r = command(c, "DATA", "DATA")) != SMTP_OK)
		return r;
	if (c->reply.code != 354)
		return reset(c, refused(c, "DATA"));
	size_t n;
	g_autofree char *data = smtp_dot_stuff(msg, len, &n);
	if ((r = send_raw(c, data, n, "the message")) != SMTP_OK)
		return r;
	if ((r = read_reply(c, "end of DATA", c->timeout_ms)) != SMTP_OK)
		return r;
	if (c->reply.code != 250) {
		/* After the end of DATA the transaction is over either way. */
		return refused(c, "end of DATA");
	}
	c->err[0] = '\0';
	return SMTP_OK;
}

const char *smtp_errmsg(const struct smtp *c)
{
	return c ? c->err : "";
}

int smtp_last_code(const struct smtp *c)
{
	return c ? c->last_code : 0;
}

bool smtp_usable(const struct smtp *c)
{
	return c && !c->broken;
}

void smtp_close(struct smtp *c)
{
	if (!c)
		return;
	if (!c->broken) {
		static const char quit[] = "QUIT\r\n";
		if (send_raw(c, quit, sizeof(quit) - 1, "QUIT") == SMTP_OK)
			read_reply(c, "QUIT", MIN(c->timeout_ms, SMTP_QUIT_WAIT_MS));
	}
	smtp_free(c);
}
