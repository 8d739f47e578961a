#include "imap.h"
#include "file.h"
#include "frame.h"
#include "lastrun.h"
#include "net.h"
#include "tls.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libetpan/libetpan.h>

#define COMMAND_BUDGET (4u << 20)  /* bytes any ordinary response may take */
#define META_BYTES_PER_MESSAGE 256 /* "* n FETCH (UID .. INTERNALDATE .. RFC822.SIZE ..)" */
#define BODY_SLACK (64u << 10)     /* the FETCH line around a body literal */

struct stream {
	int fd; /* borrowed from struct imap */
	atomic_int *cancel;
	bool cancelled;
	struct tls *tls;    /* owned; NULL for the plaintext before STARTTLS */
	uint64_t budget;    /* bytes the current response may still take */
	gint64 deadline;    /* monotonic µs by which it must be complete; 0: none */
	struct frame frame; /* lines and literals seen so far */
	bool timed_out;
	bool over_budget;
	bool eof;
	const char *refused; /* what frame_scan refused (see frame.h) */
};

struct imap {
	mailimap *session;
	atomic_int *cancel;
	bool idling;
	struct stream *stream; /* the driver data of the current low stream */
	int fd;
	bool broken;           /* a read failed or was cut short: no LOGOUT */
	unsigned timeout;      /* seconds per network step; an ordinary command gets twice that in all */
	unsigned command_time; /* seconds a message's FETCH may take in all */
	char *mailbox;         /* the selected mailbox, modified UTF-7; NULL: none */
	uint32_t uidnext;      /* the server's UIDNEXT as last asked; 0: not said */
	char err[512];
};

/* ---- the mailstream_low driver ---- */

static ssize_t stream_read(mailstream_low *low, void *buf, size_t len)
{
	struct stream *s = low->data;
	if (s->refused)
		return -1; /* frame's state ends with what it refused */
	if (s->budget == 0) {
		s->over_budget = true;
		return -1;
	}
	/* A server that drips a byte at a time never trips the per-read
	 * timeout: the whole response has a deadline too. */
	if (s->deadline && g_get_monotonic_time() > s->deadline) {
		s->timed_out = true;
		return -1;
	}
	if (len > s->budget)
		len = (size_t)s->budget;
	ssize_t n;
	if (s->tls) {
		tls_set_deadline(s->tls, s->deadline); /* also inside a record */
		n = tls_read(s->tls, buf, len);
	} else {
		do
			n = recv(s->fd, buf, len, 0);
		while (n < 0 && errno == EINTR && !(s->cancel && *s->cancel));
	}
	if (n < 0) {
		s->timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
		s->cancelled = errno == EINTR;
	}
	if (n <= 0) {
		s->eof = n == 0;
		return -1; /* libetpan's literal reader loops on 0 */
	}
	s->budget -= (uint64_t)n;
	/* A literal larger than the response may be, and spellings that
	 * crash libetpan, are refused before libetpan sees them (frame.h). */
	switch (frame_scan(&s->frame, buf, (size_t)n, s->budget)) {
	case FRAME_OK:
		return n;
	case FRAME_TOO_LARGE:
		s->over_budget = true;
		return -1;
	case FRAME_REFUSED:
		s->refused = s->frame.why;
		return -1;
	}
	return -1;
}

static ssize_t stream_write(mailstream_low *low, const void *buf, size_t len)
{
	struct stream *s = low->data;
	if (s->tls) {
		tls_set_deadline(s->tls, 0); /* a command: each wait bounded by the timeout */
		return tls_write(s->tls, buf, len);
	}
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(s->fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			s->timed_out = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int stream_close(mailstream_low *low)
{
	return 0; /* the fd belongs to struct imap */
}

static int stream_get_fd(mailstream_low *low)
{
	struct stream *s = low->data;
	return s->fd;
}

static void stream_free(mailstream_low *low)
{
	struct stream *s = low->data;
	if (s) {
		tls_free(s->tls);
		free(s);
	}
	free(low);
}

static mailstream_low_driver stream_driver = {
	.mailstream_read = stream_read,
	.mailstream_write = stream_write,
	.mailstream_close = stream_close,
	.mailstream_get_fd = stream_get_fd,
	.mailstream_free = stream_free,
};

static mailstream_low *stream_new(struct imap *im, struct tls *tls)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = im->fd;
	s->tls = tls;
	s->cancel = im->cancel;
	s->budget = COMMAND_BUDGET;
	mailstream_low *low = mailstream_low_new(s, &stream_driver);
	if (!low) {
		free(s);
		return NULL;
	}
	im->stream = s;
	return low;
}

static void budget(struct imap *im, uint64_t bytes)
{
	im->stream->budget = bytes;
	im->stream->deadline = im->timeout ? g_get_monotonic_time() + 2 * (gint64)im->timeout * G_USEC_PER_SEC : 0;
	im->stream->over_budget = false;
	im->stream->timed_out = false;
	im->stream->cancelled = false;
	im->stream->eof = false;
}

/* ---- errors ---- */

const char *imap_error_name(int err)
{
	switch (err) {
	case IMAP_OK:
		return "ok";
	case IMAP_E_CONNECT:
		return "connection failed";
	case IMAP_E_TLS:
		return "TLS failed";
	case IMAP_E_CERTIFICATE:
		return "certificate refused";
	case IMAP_E_STARTTLS:
		return "STARTTLS failed";
	case IMAP_E_AUTH:
		return "login failed";
	case IMAP_E_PROTOCOL:
		return "protocol error";
	case IMAP_E_TIMEOUT:
		return "timed out";
	case IMAP_E_TOO_LARGE:
		return "message too large";
	case IMAP_E_MAILBOX:
		return "mailbox unavailable";
	case IMAP_E_GONE:
		return "message gone";
	case IMAP_E_CANCELLED:
		return "interrupted";
	case IMAP_E_UNSUPPORTED:
		return "not supported";
	case IMAP_E_SPOOL:
		return "cannot spool";
	}
	return "error";
}

const char *imap_errmsg(struct imap *im)
{
	return im->err;
}

bool imap_usable(struct imap *im)
{
	return im && !im->broken;
}

static const char *server_text(struct imap *im)
{
	const char *t = im->session ? im->session->imap_response : NULL;
	return t && *t ? t : "no reason given";
}

/* Maps a libetpan result to our error, marking the session broken when
 * the stream can no longer be trusted. */
static int fail(struct imap *im, int r, int fallback, const char *what)
{
	struct stream *s = im->stream;
	int e = fallback;

	switch (r) {
	case MAILIMAP_ERROR_STREAM:
		im->broken = true;
		if (s && s->cancelled) {
			e = IMAP_E_CANCELLED;
			snprintf(im->err, sizeof(im->err), "%s: interrupted", what);
		} else if (s && s->refused) {
			e = IMAP_E_PROTOCOL;
			snprintf(im->err, sizeof(im->err), "%s: refused the server's response: %s", what, s->refused);
		} else if (s && s->over_budget) {
			e = IMAP_E_PROTOCOL;
			snprintf(im->err, sizeof(im->err), "%s: the server's response exceeded its size limit", what);
		} else if (s && s->timed_out) {
			e = IMAP_E_TIMEOUT;
			snprintf(im->err, sizeof(im->err), "%s: timed out waiting for the server", what);
		} else {
			e = IMAP_E_CONNECT;
			snprintf(im->err, sizeof(im->err), "%s: connection lost", what);
		}
		return e;
	case MAILIMAP_ERROR_PARSE:
	case MAILIMAP_ERROR_PROTOCOL:
	case MAILIMAP_ERROR_FATAL:
	case MAILIMAP_ERROR_MEMORY:
		im->broken = true;
		snprintf(im->err, sizeof(im->err), "%s: %s", what,
			 r == MAILIMAP_ERROR_FATAL    ? "the server closed the session (BYE)"
			 : r == MAILIMAP_ERROR_MEMORY ? "response aborted"
						      : "unexpected response from the server");
		return r == MAILIMAP_ERROR_MEMORY ? fallback : IMAP_E_PROTOCOL;
	default:
		snprintf(im->err, sizeof(im->err), "%s: %s", what, server_text(im));
		return e;
	}
}

/* ---- connect ---- */

static int refresh_capabilities(struct imap *im)
{
	struct mailimap_capability_data *cap = NULL;
	lastrun_phase("parsing the server's response to CAPABILITY");
	budget(im, COMMAND_BUDGET);
	int r = mailimap_capability(im->session, &cap);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, "CAPABILITY");
	mailimap_capability_data_free(cap);
	return IMAP_OK;
}

static int start_tls(struct imap *im, const struct imap_options *o)
{
	g_autofree char *why = NULL;
	g_autoptr(Tls) tls = NULL;
	int r = tls_client_new(im->fd, o->host, o->ca_file, o->tls_priority, (int)o->timeout * 1000, im->cancel, &tls,
			       &why);
	if (r != TLS_OK) {
		snprintf(im->err, sizeof(im->err), "%s", why);
		im->broken = true;
		return r == TLS_E_CERTIFICATE ? IMAP_E_CERTIFICATE
		       : r == TLS_E_TIMEOUT   ? IMAP_E_TIMEOUT
		       : r == TLS_E_CANCELLED ? IMAP_E_CANCELLED
					      : IMAP_E_TLS;
	}
	mailstream_low *low = stream_new(im, tls);
	if (!low) {
		snprintf(im->err, sizeof(im->err), "out of memory");
		return IMAP_E_TLS;
	}
	tls = NULL; /* the stream owns it */
	if (im->session->imap_stream) {
		mailstream_low *old = mailstream_get_low(im->session->imap_stream);
		mailstream_set_low(im->session->imap_stream, low);
		mailstream_low_free(old);
	} else {
		mailstream *ms = mailstream_new(low, 8192);
		if (!ms) {
			mailstream_low_free(low);
			snprintf(im->err, sizeof(im->err), "out of memory");
			return IMAP_E_TLS;
		}
		im->session->imap_stream = ms;
	}
	return IMAP_OK;
}

static int greeting(struct imap *im, mailstream *ms, bool *preauth)
{
	lastrun_phase("parsing the server's greeting");
	budget(im, COMMAND_BUDGET);
	int r = mailimap_connect(im->session, ms);
	if (r == MAILIMAP_NO_ERROR_AUTHENTICATED) {
		*preauth = true;
		return IMAP_OK;
	}
	if (r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED || r == MAILIMAP_NO_ERROR) {
		*preauth = false;
		return IMAP_OK;
	}
	return fail(im, r, IMAP_E_PROTOCOL, "greeting");
}

static int do_starttls(struct imap *im, const struct imap_options *o)
{
	mailstream_low *low = stream_new(im, NULL);
	mailstream *ms = low ? mailstream_new(low, 8192) : NULL;
	bool preauth = false;
	int r;

	if (!ms) {
		if (low)
			mailstream_low_free(low);
		snprintf(im->err, sizeof(im->err), "out of memory");
		return IMAP_E_CONNECT;
	}
	if ((r = greeting(im, ms, &preauth)) != IMAP_OK)
		return r;
	if (preauth) {
		im->broken = true;
		snprintf(im->err, sizeof(im->err),
			 "the server pre-authenticated a plaintext connection; "
			 "refusing to continue without TLS");
		return IMAP_E_STARTTLS;
	}
	if ((r = refresh_capabilities(im)) != IMAP_OK)
		return r;
	if (!mailimap_has_extension(im->session, "STARTTLS")) {
		im->broken = true;
		snprintf(im->err, sizeof(im->err),
			 "the server does not offer STARTTLS; "
			 "refusing to continue without TLS");
		return IMAP_E_STARTTLS;
	}
	lastrun_phase("parsing the server's response to STARTTLS");
	budget(im, COMMAND_BUDGET);
	r = mailimap_starttls(im->session);
	if (r != MAILIMAP_NO_ERROR) {
		im->broken = true;
		int e = fail(im, r, IMAP_E_STARTTLS,
			     "STARTTLS failed (refused, or data injected after the server's reply)");
		/* BAD comes back as a protocol error: still no TLS (exit 4). */
		return e == IMAP_E_PROTOCOL ? IMAP_E_STARTTLS : e;
	}
	/* Anything the plaintext server sent after its OK is an injection. */
	if (im->session->imap_stream->read_buffer_len != 0) {
		im->broken = true;
		snprintf(im->err, sizeof(im->err), "data after the STARTTLS response (injection attempt); refusing");
		return IMAP_E_STARTTLS;
	}
	if ((r = start_tls(im, o)) != IMAP_OK)
		return r;
	/* The pre-TLS capability list must not be trusted. */
	return refresh_capabilities(im);
}

static int do_implicit_tls(struct imap *im, const struct imap_options *o)
{
	bool preauth = false;
	int r = start_tls(im, o);
	if (r != IMAP_OK)
		return r;
	mailstream *ms = im->session->imap_stream;
	im->session->imap_stream = NULL;
	if ((r = greeting(im, ms, &preauth)) != IMAP_OK)
		return r;
	if (preauth) {
		snprintf(im->err, sizeof(im->err),
			 "the server pre-authenticated the session; refusing (cannot log in as the configured user)");
		return IMAP_E_AUTH;
	}
	return IMAP_OK;
}

static const char *auth_name(enum imap_auth a)
{
	return a == IMAP_AUTH_XOAUTH2 ? "AUTHENTICATE XOAUTH2" : a == IMAP_AUTH_PLAIN ? "AUTHENTICATE PLAIN" : "LOGIN";
}

/* libetpan writes each command into the stream's write buffer and only
 * moves its end back after sending: the LOGIN or AUTHENTICATE line (with
 * the password or token) would stay in it, behind the shorter commands
 * that follow, for the whole session. */
static void forget_credentials(struct imap *im)
{
	mailstream *ms = im->session->imap_stream;
	if (ms && ms->write_buffer && ms->buffer_max_size > ms->write_buffer_len)
		explicit_bzero(ms->write_buffer + ms->write_buffer_len, ms->buffer_max_size - ms->write_buffer_len);
}

/* AUTHENTICATE PLAIN (RFC 4616: no authorization identity, the user, the
 * password) without Cyrus SASL: libetpan's SASL glue and the PLAIN plugin
 * each copy the password into memory they free unwiped, where a core of
 * the idle daemon still showed it.  Here every copy is ours, and wiped. */
static int authenticate_plain(struct imap *im, const char *user, const char *password)
{
	mailimap *s = im->session;
	size_t ulen = strlen(user), plen = strlen(password), n = ulen + plen + 2;
	size_t cap = (n / 3 + 2) * 4 + 2;
	char *raw = g_malloc(n), *enc = g_malloc(cap);
	gint state = 0, save = 0;

	raw[0] = '\0';
	memcpy(raw + 1, user, ulen + 1);
	memcpy(raw + ulen + 2, password, plen);
	size_t e = g_base64_encode_step((const guchar *)raw, n, FALSE, enc, &state, &save);
	e += g_base64_encode_close(FALSE, enc + e, &state, &save);
	memcpy(enc + e, "\r\n", 2);
	e += 2;
	explicit_bzero(raw, n);
	explicit_bzero(&save, sizeof(save));
	g_free(raw);

	int r = mailimap_send_current_tag(s);
	static const char cmd[] = "AUTHENTICATE PLAIN\r\n";
	if (r == MAILIMAP_NO_ERROR && (mailstream_write(s->imap_stream, cmd, sizeof(cmd) - 1) != sizeof(cmd) - 1 ||
				       mailstream_flush(s->imap_stream) < 0))
		r = MAILIMAP_ERROR_STREAM;
	if (r == MAILIMAP_NO_ERROR) {
		const char *line = mailimap_read_line(s);
		/* "+": the server waits for the credentials; anything else is
		 * its answer already (parsed below). */
		if (!line)
			r = MAILIMAP_ERROR_STREAM;
		else if (line[0] == '+' && (mailstream_write(s->imap_stream, enc, e) != (ssize_t)e ||
					    mailstream_flush(s->imap_stream) < 0 || !mailimap_read_line(s)))
			r = MAILIMAP_ERROR_STREAM;
	}
	explicit_bzero(enc, cap);
	g_free(enc);
	if (r != MAILIMAP_NO_ERROR)
		return r;
	struct mailimap_response *resp = NULL;
	if ((r = mailimap_parse_response(s, &resp)) != MAILIMAP_NO_ERROR)
		return r;
	bool ok = resp->rsp_resp_done->rsp_type == MAILIMAP_RESP_DONE_TYPE_TAGGED &&
		  resp->rsp_resp_done->rsp_data.rsp_tagged->rsp_cond_state->rsp_type == MAILIMAP_RESP_COND_STATE_OK;
	bool bye = resp->rsp_resp_done->rsp_type == MAILIMAP_RESP_DONE_TYPE_FATAL;
	mailimap_response_free(resp);
	if (!ok)
		return bye ? MAILIMAP_ERROR_FATAL : MAILIMAP_ERROR_LOGIN;
	s->imap_state = MAILIMAP_STATE_AUTHENTICATED;
	return MAILIMAP_NO_ERROR;
}

static int login(struct imap *im, const struct imap_options *o)
{
	int r;

	switch (o->auth) {
	case IMAP_AUTH_LOGIN:
		if (mailimap_has_extension(im->session, "LOGINDISABLED")) {
			snprintf(im->err, sizeof(im->err), "the server disallows LOGIN on this connection");
			return IMAP_E_AUTH;
		}
		lastrun_phase("parsing the server's response to LOGIN");
		budget(im, COMMAND_BUDGET);
		r = mailimap_login(im->session, o->username, o->password);
		break;
	case IMAP_AUTH_PLAIN:
		if (!mailimap_has_authentication(im->session, "PLAIN")) {
			snprintf(im->err, sizeof(im->err), "the server does not offer AUTH=PLAIN (try auth = login)");
			return IMAP_E_AUTH;
		}
		lastrun_phase("parsing the server's response to AUTHENTICATE");
		budget(im, COMMAND_BUDGET);
		r = authenticate_plain(im, o->username, o->password);
		break;
	case IMAP_AUTH_XOAUTH2:
		if (!mailimap_has_xoauth2(im->session)) {
			snprintf(im->err, sizeof(im->err), "the server does not offer AUTH=XOAUTH2");
			return IMAP_E_AUTH;
		}
		lastrun_phase("parsing the server's response to AUTHENTICATE");
		budget(im, COMMAND_BUDGET);
		r = mailimap_oauth2_authenticate(im->session, o->username, o->password);
		break;
	default:
		snprintf(im->err, sizeof(im->err), "unknown authentication method");
		return IMAP_E_AUTH;
	}
	forget_credentials(im);
	if (r == MAILIMAP_NO_ERROR)
		/* Capabilities may change after authentication (MOVE, UIDPLUS). */
		return refresh_capabilities(im);
	if (r == MAILIMAP_ERROR_LOGIN) {
		snprintf(im->err, sizeof(im->err), "%s as \"%s\" refused: %s", auth_name(o->auth), o->username,
			 server_text(im));
		return IMAP_E_AUTH;
	}
	return fail(im, r, IMAP_E_AUTH, auth_name(o->auth));
}

/* imap_connect() failed with R: the session is not to be used (no
 * LOGOUT), and the reason goes to the caller. */
static int connect_failed(struct imap *im, int r, char **ret_error)
{
	im->broken = true;
	*ret_error = g_strdup(im->err);
	return r;
}

int imap_connect(const struct imap_options *o, struct imap **ret, char **ret_error)
{
	g_autoptr(Imap) im = calloc(1, sizeof(*im));
	int r;

	if (!im) {
		*ret_error = g_strdup("out of memory");
		return IMAP_E_CONNECT;
	}
	im->fd = -1;
	im->cancel = o->cancel;
	im->timeout = o->timeout;
	im->command_time = o->command_time;
	g_autofree char *why = NULL;
	r = net_connect(o->host, o->port, (int)o->timeout * 1000, o->cancel, &im->fd, &why);
	if (r < 0) {
		snprintf(im->err, sizeof(im->err), "%s", why);
		return connect_failed(im, r == -EINTR ? IMAP_E_CANCELLED : IMAP_E_CONNECT, ret_error);
	}
	im->session = mailimap_new(0, NULL);
	if (!im->session) {
		snprintf(im->err, sizeof(im->err), "out of memory");
		return connect_failed(im, IMAP_E_CONNECT, ret_error);
	}
	mailimap_set_timeout(im->session, o->timeout);
	r = o->starttls ? do_starttls(im, o) : do_implicit_tls(im, o);
	if (r == IMAP_OK)
		r = login(im, o);
	if (r != IMAP_OK)
		return connect_failed(im, r, ret_error);
	*ret = g_steal_pointer(&im);
	return IMAP_OK;
}

void imap_free(struct imap *im)
{
	if (!im)
		return;
	if (im->session) {
		if (im->session->imap_stream && !im->broken && im->idling)
			imap_idle_done(im);
		if (im->session->imap_stream && !im->broken) {
			lastrun_phase("parsing the server's response to LOGOUT");
			budget(im, COMMAND_BUDGET);
			mailimap_logout(im->session);
		}
		if (im->session->imap_stream) {
			mailstream_close(im->session->imap_stream);
			im->session->imap_stream = NULL;
		}
		mailimap_free(im->session);
	}
	if (im->fd >= 0)
		close(im->fd);
	g_free(im->mailbox);
	free(im);
}

int imap_idle_done(struct imap *im);

/* ---- mailbox ---- */

static bool is_mutf7_encoded(const char *name)
{
	/* ASCII with at least one well-formed "&…-" shift: already encoded. */
	bool shift = false;
	for (const char *p = name; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			return false;
		if (*p == '&') {
			const char *q = p + 1;
			while (g_ascii_isalnum(*q) || *q == '+' || *q == ',')
				q++;
			if (*q != '-')
				return false;
			shift = shift || q > p + 1;
			p = q;
		}
	}
	return shift;
}

char *imap_mailbox_encode(const char *utf8)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	if (is_mutf7_encoded(utf8))
		return g_strdup(utf8);
	GString *out = g_string_new(NULL);
	const char *p = utf8;
	while (*p) {
		gunichar c = g_utf8_get_char_validated(p, -1);
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_free(out, TRUE);
			return NULL;
		}
		if (c >= 0x20 && c <= 0x7e) {
			g_string_append(out, c == '&' ? "&-" : (char[]){ (char)c, 0 });
			p++;
			continue;
		}
		/* A run of non-printable-ASCII characters, as UTF-16BE in
		 * modified base64. */
		const char *end = p;
		while (*end) {
			gunichar d = g_utf8_get_char(end);
			if (d >= 0x20 && d <= 0x7e)
				break;
			end = g_utf8_next_char(end);
		}
		glong n16 = 0;
		gunichar2 *u16 = g_utf8_to_utf16(p, end - p, NULL, &n16, NULL);
		g_string_append_c(out, '&');
		uint32_t bits = 0;
		int nbits = 0;
		for (glong i = 0; i < n16; i++) {
			for (int k = 1; k >= 0; k--) {
				bits = (bits << 8) | ((u16[i] >> (8 * k)) & 0xff);
				nbits += 8;
				while (nbits >= 6) {
					nbits -= 6;
					g_string_append_c(out, b64[(bits >> nbits) & 0x3f]);
				}
			}
		}
		if (nbits > 0)
			g_string_append_c(out, b64[(bits << (6 - nbits)) & 0x3f]);
		g_string_append_c(out, '-');
		g_free(u16);
		p = end;
	}
	return g_string_free(out, FALSE);
}

static int open_mailbox(struct imap *im, const char *mailbox, bool write, struct imap_mailbox *info)
{
	const char *cmd = write ? "SELECT" : "EXAMINE";
	g_autofree char *encoded = imap_mailbox_encode(mailbox);
	if (!encoded) {
		snprintf(im->err, sizeof(im->err), "mailbox name is not valid UTF-8");
		return IMAP_E_MAILBOX;
	}
	lastrun_phase("parsing the server's response to SELECT or EXAMINE");
	budget(im, COMMAND_BUDGET);
	int r = write ? mailimap_select(im->session, encoded) : mailimap_examine(im->session, encoded);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_MAILBOX, cmd);
	struct mailimap_selection_info *sel = im->session->imap_selection_info;
	if (!sel || sel->sel_uidvalidity == 0) {
		snprintf(im->err, sizeof(im->err), "%s %s: the server sent no UIDVALIDITY", cmd, mailbox);
		return IMAP_E_PROTOCOL;
	}
	info->uidvalidity = sel->sel_uidvalidity;
	info->uidnext = sel->sel_uidnext;
	im->uidnext = sel->sel_uidnext;
	g_free(im->mailbox);
	im->mailbox = g_steal_pointer(&encoded);
	info->exists = sel->sel_has_exists ? sel->sel_exists : 0;
	info->read_only = !write || sel->sel_perm == MAILIMAP_MAILBOX_READONLY;
	if (write && info->read_only) {
		snprintf(im->err, sizeof(im->err),
			 "SELECT %s: the server grants only read-only access "
			 "(after_ingest needs to change the mailbox)",
			 mailbox);
		return IMAP_E_MAILBOX;
	}
	return IMAP_OK;
}

int imap_examine(struct imap *im, const char *mailbox, struct imap_mailbox *info)
{
	return open_mailbox(im, mailbox, false, info);
}

int imap_select(struct imap *im, const char *mailbox, struct imap_mailbox *info)
{
	return open_mailbox(im, mailbox, true, info);
}

/* ---- after-ingest actions ---- */

#define ACTION_CHUNK 500 /* UIDs per command: keeps command lines short */

/* A UID set with runs collapsed ("3:7,9"); UIDS ascending. */
static struct mailimap_set *uid_set(const uint32_t *uids, size_t n)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (mailimap_set_add_interval(set, uids[i], uids[j]) != MAILIMAP_NO_ERROR) {
			mailimap_set_free(set);
			return NULL;
		}
		i = j + 1;
	}
	return set;
}

static bool keyword_permitted(struct imap *im, const char *keyword)
{
	struct mailimap_selection_info *sel = im->session->imap_selection_info;
	if (!sel || !sel->sel_perm_flags)
		return true; /* no PERMANENTFLAGS: RFC 3501 says all flags are permanent */
	for (clistiter *it = clist_begin(sel->sel_perm_flags); it; it = clist_next(it)) {
		struct mailimap_flag_perm *fp = clist_content(it);
		if (!fp)
			continue;
		if (fp->fl_type == MAILIMAP_FLAG_PERM_ALL)
			return true;
		if (fp->fl_flag && fp->fl_flag->fl_type == MAILIMAP_FLAG_KEYWORD && fp->fl_flag->fl_data.fl_keyword &&
		    !g_ascii_strcasecmp(fp->fl_flag->fl_data.fl_keyword, keyword))
			return true;
	}
	return false;
}

/* UID STORE +FLAGS.SILENT (FLAG) where FLAG is a keyword, or \Deleted
 * when KEYWORD is NULL. */
static int store_flag(struct imap *im, struct mailimap_set *set, const char *keyword)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	struct mailimap_flag *f =
		keyword ? mailimap_flag_new_flag_keyword(strdup(keyword)) : mailimap_flag_new_deleted();
	if (!fl || !f || mailimap_flag_list_add(fl, f) != MAILIMAP_NO_ERROR) {
		if (f)
			mailimap_flag_free(f);
		if (fl)
			mailimap_flag_list_free(fl);
		snprintf(im->err, sizeof(im->err), "out of memory");
		return IMAP_E_PROTOCOL;
	}
	struct mailimap_store_att_flags *sa = mailimap_store_att_flags_new_add_flags_silent(fl);
	lastrun_phase("parsing the server's response to UID STORE");
	budget(im, COMMAND_BUDGET);
	int r = mailimap_uid_store(im->session, set, sa);
	mailimap_store_att_flags_free(sa);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, keyword ? "UID STORE (keyword)" : "UID STORE (\\Deleted)");
	return IMAP_OK;
}

struct chunk_op {
	const char *keyword; /* add this keyword … */
	const char *encoded; /* … or move here (modified UTF-7) */
	const char *folder;  /* as configured, for messages */
	bool move;           /* UID MOVE; else UIDPLUS COPY + \Deleted + UID EXPUNGE */
};

static int move_chunk(struct imap *im, struct mailimap_set *set, const struct chunk_op *op);

/* Applies OP to the UIDs in chunks of ACTION_CHUNK. */
static int each_chunk(struct imap *im, const uint32_t *uids, size_t n, const struct chunk_op *op)
{
	for (size_t i = 0; i < n; i += ACTION_CHUNK) {
		struct mailimap_set *set = uid_set(uids + i, MIN(ACTION_CHUNK, n - i));
		if (!set) {
			snprintf(im->err, sizeof(im->err), "out of memory");
			return IMAP_E_PROTOCOL;
		}
		int r = op->keyword ? store_flag(im, set, op->keyword) : move_chunk(im, set, op);
		mailimap_set_free(set);
		if (r != IMAP_OK)
			return r;
	}
	return IMAP_OK;
}

int imap_add_keyword(struct imap *im, const uint32_t *uids, size_t n, const char *keyword)
{
	if (!keyword_permitted(im, keyword)) {
		snprintf(im->err, sizeof(im->err), "the mailbox's PERMANENTFLAGS do not allow the keyword %s", keyword);
		return IMAP_E_UNSUPPORTED;
	}
	return each_chunk(im, uids, n, &(struct chunk_op){ .keyword = keyword });
}

static int move_chunk(struct imap *im, struct mailimap_set *set, const struct chunk_op *op)
{
	const char *encoded = op->encoded, *folder = op->folder;
	int r;
	lastrun_phase("parsing the server's response to UID MOVE or COPY");
	budget(im, COMMAND_BUDGET);
	if (op->move) {
		r = mailimap_uid_move(im->session, set, encoded);
		if (r == MAILIMAP_ERROR_UID_MOVE) {
			snprintf(im->err, sizeof(im->err), "UID MOVE to \"%s\" refused: %s", folder, server_text(im));
			return IMAP_E_MAILBOX;
		}
		return r == MAILIMAP_NO_ERROR ? IMAP_OK : fail(im, r, IMAP_E_PROTOCOL, "UID MOVE");
	}
	r = mailimap_uid_copy(im->session, set, encoded);
	if (r == MAILIMAP_ERROR_UID_COPY) {
		snprintf(im->err, sizeof(im->err), "UID COPY to \"%s\" refused: %s", folder, server_text(im));
		return IMAP_E_MAILBOX;
	}
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, "UID COPY");
	if ((r = store_flag(im, set, NULL)) != IMAP_OK)
		return r;
	lastrun_phase("parsing the server's response to UID EXPUNGE");
	budget(im, COMMAND_BUDGET);
	r = mailimap_uid_expunge(im->session, set);
	return r == MAILIMAP_NO_ERROR ? IMAP_OK : fail(im, r, IMAP_E_PROTOCOL, "UID EXPUNGE");
}

int imap_move(struct imap *im, const uint32_t *uids, size_t n, const char *folder)
{
	bool move = mailimap_has_extension(im->session, "MOVE");
	if (!move && !mailimap_has_uidplus(im->session)) {
		snprintf(im->err, sizeof(im->err),
			 "the server offers neither MOVE nor UIDPLUS; "
			 "refusing to move with a plain EXPUNGE (use after_ingest = keyword)");
		return IMAP_E_UNSUPPORTED;
	}
	g_autofree char *encoded = imap_mailbox_encode(folder);
	if (!encoded) {
		snprintf(im->err, sizeof(im->err), "folder name is not valid UTF-8");
		return IMAP_E_MAILBOX;
	}
	return each_chunk(im, uids, n, &(struct chunk_op){ .encoded = encoded, .folder = folder, .move = move });
}

static void set_internaldate(struct imap_meta *m, const struct mailimap_date_time *dt)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	if (!dt || dt->dt_month < 1 || dt->dt_month > 12 || dt->dt_day < 1 || dt->dt_day > 31 || dt->dt_hour > 23 ||
	    dt->dt_min > 59 || dt->dt_sec > 60)
		return;
	int z = dt->dt_zone, az = abs(z);
	if (az % 100 > 59 || az / 100 > 23)
		return;
	int offset = (z < 0 ? -1 : 1) * ((az / 100) * 60 + az % 100);
	struct tm tm = {
		.tm_year = dt->dt_year - 1900,
		.tm_mon = dt->dt_month - 1,
		.tm_mday = dt->dt_day,
		.tm_hour = dt->dt_hour,
		.tm_min = dt->dt_min,
		.tm_sec = dt->dt_sec,
	};
	m->internaldate = (int64_t)timegm(&tm) - (int64_t)offset * 60;
	m->internaldate_offset = offset;
	m->has_internaldate = true;
	snprintf(m->internaldate_raw, sizeof(m->internaldate_raw), "%02d-%s-%04d %02d:%02d:%02d %c%04d", dt->dt_day,
		 months[dt->dt_month - 1], dt->dt_year, dt->dt_hour, dt->dt_min, dt->dt_sec, z < 0 ? '-' : '+', az);
}

/* The server's UIDNEXT for the selected mailbox, asked afresh (STATUS):
 * new mail raises it during a session, and a UID at or above the one
 * it told at SELECT is believed only once it says so again. */
static int refresh_uidnext(struct imap *im)
{
	struct mailimap_status_att_list *atts = mailimap_status_att_list_new_empty();
	struct mailimap_mailbox_data_status *st = NULL;
	if (!atts || mailimap_status_att_list_add(atts, MAILIMAP_STATUS_ATT_UIDNEXT) != MAILIMAP_NO_ERROR) {
		mailimap_status_att_list_free(atts);
		snprintf(im->err, sizeof(im->err), "STATUS: out of memory");
		return IMAP_E_PROTOCOL;
	}
	budget(im, COMMAND_BUDGET);
	int r = mailimap_status(im->session, im->mailbox, atts, &st);
	mailimap_status_att_list_free(atts);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, "STATUS (UIDNEXT)");
	uint32_t uidnext = 0;
	for (clistiter *it = st && st->st_info_list ? clist_begin(st->st_info_list) : NULL; it; it = clist_next(it)) {
		struct mailimap_status_info *info = clist_content(it);
		if (info && info->st_att == MAILIMAP_STATUS_ATT_UIDNEXT)
			uidnext = info->st_value;
	}
	mailimap_mailbox_data_status_free(st);
	/* UIDNEXT never goes down within a UIDVALIDITY. */
	if (uidnext > im->uidnext)
		im->uidnext = uidnext;
	return IMAP_OK;
}

/* A protocol error the server's own answers prove: the session is
 * dropped (no LOGOUT), nothing of the answer is used. */
static int lied(struct imap *im, const char *what, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int lied(struct imap *im, const char *what, const char *fmt, ...)
{
	char why[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(im->err, sizeof(im->err), "%s: protocol error: %s", what, why);
	im->broken = true;
	return IMAP_E_PROTOCOL;
}

/* Every UID of UIDS[0..N) (any order) must lie below the server's
 * UIDNEXT: a UID the server has not shown to exist is never believed.
 * Above the UIDNEXT known, it is asked again once. */
static int check_below_uidnext(struct imap *im, const char *what, const uint32_t *uids, size_t n)
{
	uint32_t top = 0;
	for (size_t i = 0; i < n; i++)
		top = MAX(top, uids[i]);
	if (n == 0 || (im->uidnext && top < im->uidnext))
		return IMAP_OK;
	int r = refresh_uidnext(im);
	if (r != IMAP_OK)
		return r;
	if (!im->uidnext)
		return lied(im, what, "the server names UID %u but does not tell its UIDNEXT", top);
	if (top >= im->uidnext)
		return lied(im, what, "the server names UID %u, at or above its UIDNEXT %u", top, im->uidnext);
	return IMAP_OK;
}

struct seq_uid {
	uint32_t seq, uid;
	struct imap_meta meta;
};

static int cmp_seq(const void *a, const void *b)
{
	const struct seq_uid *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_meta(const void *a, const void *b)
{
	const struct imap_meta *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The FETCH responses V[0..N) of one UID FETCH must be possible: each
 * message number within the mailbox's EXISTS (as it was before or after
 * the command), UIDs rising with message numbers, every UID below the
 * server's UIDNEXT.  V is sorted by message number. */
static int check_meta(struct imap *im, const char *what, struct seq_uid *v, size_t n, uint32_t exists)
{
	qsort(v, n, sizeof(*v), cmp_seq);
	for (size_t i = 0; i < n; i++) {
		if (v[i].seq == 0 || v[i].seq > exists)
			return lied(im, what, "a FETCH response for message %u (UID %u), but the mailbox has %u",
				    v[i].seq, v[i].uid, exists);
		if (i > 0 && (v[i].seq == v[i - 1].seq ? v[i].uid != v[i - 1].uid : v[i].uid <= v[i - 1].uid))
			return lied(im, what,
				    "message %u has UID %u and message %u UID %u: UIDs do not rise with "
				    "message numbers",
				    v[i - 1].seq, v[i - 1].uid, v[i].seq, v[i].uid);
	}
	g_autofree uint32_t *uids = g_new(uint32_t, n + 1);
	for (size_t i = 0; i < n; i++)
		uids[i] = v[i].uid;
	return check_below_uidnext(im, what, uids, n);
}

/* UID FETCH SET (UID INTERNALDATE RFC822.SIZE), checked as a whole: the
 * messages with a UID >= FIRST and, when WANT is given, in WANT[0..NWANT)
 * (ascending), ascending and each once. */
static int fetch_meta(struct imap *im, struct mailimap_set *set, uint32_t first, const uint32_t *want, size_t nwant,
		      struct imap_meta **ret_list, size_t *ret_n)
{
	static const char what[] = "UID FETCH (metadata)";
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	clist *res = NULL;
	uint32_t exists = imap_exists(im);

	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_internaldate());
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size());
	lastrun_phase("parsing the server's response to UID FETCH (metadata)");
	budget(im, COMMAND_BUDGET + (uint64_t)exists * META_BYTES_PER_MESSAGE);
	int r = mailimap_uid_fetch(im->session, set, ft, &res);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, what);
	/* An EXPUNGE may come with a UID FETCH's responses (RFC 3501 7.4.1):
	 * a message number is possible up to the larger EXISTS. */
	exists = MAX(exists, imap_exists(im));

	struct seq_uid *v = g_new0(struct seq_uid, clist_count(res) + 1);
	size_t count = 0;
	for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
		struct mailimap_msg_att *att = clist_content(it);
		struct imap_meta m = { 0 };
		for (clistiter *i2 = clist_begin(att->att_list); i2; i2 = clist_next(i2)) {
			struct mailimap_msg_att_item *item = clist_content(i2);
			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			struct mailimap_msg_att_static *st = item->att_data.att_static;
			switch (st->att_type) {
			case MAILIMAP_MSG_ATT_UID:
				m.uid = st->att_data.att_uid;
				break;
			case MAILIMAP_MSG_ATT_INTERNALDATE:
				set_internaldate(&m, st->att_data.att_internal_date);
				break;
			case MAILIMAP_MSG_ATT_RFC822_SIZE:
				m.size = st->att_data.att_rfc822_size;
				break;
			default:
				break;
			}
		}
		/* A FETCH without a UID is an unsolicited flag update. */
		if (m.uid != 0)
			v[count++] = (struct seq_uid){ .seq = att->att_number, .uid = m.uid, .meta = m };
	}
	mailimap_fetch_list_free(res);
	if ((r = check_meta(im, what, v, count, exists)) != IMAP_OK) {
		g_free(v);
		return r;
	}
	struct imap_meta *out = g_new0(struct imap_meta, count + 1);
	size_t w = 0;
	for (size_t i = 0; i < count; i++) {
		/* "n:*" also returns the newest message when its UID is below n. */
		if (v[i].uid < first || (want && !bsearch(&v[i].uid, want, nwant, sizeof(*want), cmp_u32)))
			continue;
		out[w++] = v[i].meta;
	}
	g_free(v);
	/* In UID order already (checked above); a UID repeated is kept once. */
	qsort(out, w, sizeof(*out), cmp_meta);
	size_t k = 0;
	for (size_t i = 0; i < w; i++)
		if (k == 0 || out[k - 1].uid != out[i].uid)
			out[k++] = out[i];
	*ret_list = out;
	*ret_n = k;
	return IMAP_OK;
}

int imap_fetch_meta(struct imap *im, uint32_t first, struct imap_meta **ret_list, size_t *ret_n)
{
	return fetch_meta(im, mailimap_set_new_interval(first ? first : 1, 0), first, NULL, 0, ret_list, ret_n);
}

int imap_fetch_meta_uids(struct imap *im, const uint32_t *uids, size_t n, struct imap_meta **ret_list,
			 size_t *ret_count)
{
	if (n == 0) {
		*ret_list = g_new0(struct imap_meta, 1);
		*ret_count = 0;
		return IMAP_OK;
	}
	struct mailimap_set *set = uid_set(uids, n);
	if (!set) {
		snprintf(im->err, sizeof(im->err), "UID FETCH (metadata): out of memory");
		return IMAP_E_PROTOCOL;
	}
	return fetch_meta(im, set, 0, uids, n, ret_list, ret_count);
}

#define SEARCH_BYTES_PER_MESSAGE 12 /* " 4294967295" */

int imap_search_all(struct imap *im, uint32_t **ret_uids, size_t *ret_n)
{
	static const char what[] = "UID SEARCH ALL";
	clist *res = NULL;
	struct mailimap_search_key *key = mailimap_search_key_new_all();
	budget(im, COMMAND_BUDGET + (uint64_t)imap_exists(im) * SEARCH_BYTES_PER_MESSAGE);
	int r = mailimap_uid_search(im->session, NULL, key, &res);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, what);
	uint32_t *out = g_new(uint32_t, clist_count(res) + 1);
	size_t count = 0;
	for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
		uint32_t *uid = clist_content(it);
		if (uid && *uid)
			out[count++] = *uid;
	}
	mailimap_search_result_free(res);
	qsort(out, count, sizeof(*out), cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < count; i++)
		if (k == 0 || out[k - 1] != out[i])
			out[k++] = out[i];
	if ((r = check_below_uidnext(im, what, out, k)) != IMAP_OK) {
		g_free(out);
		return r;
	}
	*ret_uids = out;
	*ret_n = k;
	return IMAP_OK;
}

struct body_ctx {
	GByteArray *out; /* the bytes go here while there are at most mem_max … */
	int fd;          /* … then, from the first byte, to this file */
	uint64_t mem_max;
	uint64_t max;
	uint64_t got;
	bool spooled; /* the body is in FD, not OUT */
	bool too_large;
	int write_error; /* errno of a write to FD that failed; 0: none */
	bool called;
};

static bool on_body(int att_type, struct mailimap_msg_att_body_section *section, const char *bytes, size_t len,
		    void *userdata)
{
	struct body_ctx *c = userdata;
	c->called = true;
	if (c->got + len > c->max) {
		c->too_large = true;
		return false;
	}
	if (!c->spooled && c->got + len > c->mem_max) {
		/* Longer than may stay in memory: what came so far goes to
		 * the file first. */
		int e = file_write_all(c->fd, c->out->data, c->out->len);
		if (e < 0) {
			c->write_error = -e;
			return false;
		}
		g_byte_array_set_size(c->out, 0);
		c->spooled = true;
	}
	if (c->spooled) {
		int e = file_write_all(c->fd, bytes, len);
		if (e < 0) {
			c->write_error = -e;
			return false;
		}
	} else {
		g_byte_array_append(c->out, (const guint8 *)bytes, (guint)len);
	}
	c->got += len;
	return true;
}

/* The UID a FETCH response names (0: none), and whether it has a body section. */
static void att_uid_body(struct mailimap_msg_att *att, uint32_t *uid, bool *body)
{
	*uid = 0;
	*body = false;
	for (clistiter *it = clist_begin(att->att_list); it; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		if (item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_BODY_SECTION)
			*body = true;
		else if (item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID)
			*uid = item->att_data.att_static->att_data.att_uid;
	}
}

static bool has_body_section(clist *res, uint32_t uid)
{
	for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
		bool body;
		uint32_t got_uid;
		att_uid_body(clist_content(it), &got_uid, &body);
		if (body && got_uid == uid)
			return true;
	}
	return false;
}

static int fetch_section(struct imap *im, uint32_t uid, uint64_t max, bool header_only, GByteArray *out,
			 uint64_t mem_max, int fd, bool *spooled)
{
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_set *set = mailimap_set_new_single(uid);
	struct body_ctx ctx = { .out = out, .fd = fd, .mem_max = fd >= 0 ? mem_max : UINT64_MAX, .max = max };
	clist *res = NULL;

	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	if (header_only)
		/* BODY.PEEK[HEADER]<0.max>: a partial fetch, so no more than MAX
		 * bytes are even asked for. */
		mailimap_fetch_type_new_fetch_att_list_add(
			ft, mailimap_fetch_att_new_body_peek_section_partial(mailimap_section_new_header(), 0,
									     (uint32_t)max));
	else
		mailimap_fetch_type_new_fetch_att_list_add(
			ft, mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
	mailimap_set_msg_body_handler(im->session, on_body, &ctx);
	lastrun_phase("parsing the server's response to UID FETCH (a body)");
	budget(im, max + BODY_SLACK);
	/* A message may take longer than an ordinary command: its own limit. */
	im->stream->deadline =
		im->command_time ? g_get_monotonic_time() + (gint64)im->command_time * G_USEC_PER_SEC : 0;
	int r = mailimap_uid_fetch(im->session, set, ft, &res);
	mailimap_set_msg_body_handler(im->session, NULL, NULL);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (spooled)
		*spooled = ctx.spooled;

	if (ctx.write_error) {
		im->broken = true;
		if (res)
			mailimap_fetch_list_free(res);
		snprintf(im->err, sizeof(im->err), "UID %u: cannot spool the body: %s", uid,
			 g_strerror(ctx.write_error));
		return IMAP_E_SPOOL;
	}
	if (ctx.too_large || (r == MAILIMAP_ERROR_STREAM && im->stream->over_budget)) {
		im->broken = true;
		if (res)
			mailimap_fetch_list_free(res);
		snprintf(im->err, sizeof(im->err), "UID %u: body larger than %" G_GUINT64_FORMAT " bytes", uid, max);
		return IMAP_E_TOO_LARGE;
	}
	if (r != MAILIMAP_NO_ERROR) {
		if (r == MAILIMAP_ERROR_UID_FETCH) {
			snprintf(im->err, sizeof(im->err), "UID %u: no longer on the server", uid);
			return IMAP_E_GONE;
		}
		return fail(im, r, IMAP_E_PROTOCOL, "UID FETCH (body)");
	}
	bool found = has_body_section(res, uid);
	mailimap_fetch_list_free(res);
	if (!found) {
		snprintf(im->err, sizeof(im->err), "UID %u: the server returned no body", uid);
		return IMAP_E_GONE;
	}
	return IMAP_OK;
}

int imap_fetch_body(struct imap *im, uint32_t uid, uint64_t max, GByteArray *out)
{
	return fetch_section(im, uid, max, false, out, UINT64_MAX, -1, NULL);
}

int imap_fetch_body_spool(struct imap *im, uint32_t uid, uint64_t max, GByteArray *out, uint64_t mem_max, int fd,
			  bool *spooled)
{
	return fetch_section(im, uid, max, false, out, mem_max, fd, spooled);
}

int imap_fetch_header(struct imap *im, uint32_t uid, uint64_t max, GByteArray *out)
{
	return fetch_section(im, uid, max, true, out, UINT64_MAX, -1, NULL);
}

/* ---- several bodies in one command ---- */

struct bodies_ctx {
	struct imap *im;
	struct body_ctx body; /* the body being received */
	struct imap_body_target *target;
	imap_body_done *done;
	void *ud;
	uint64_t max;
	bool stopped; /* DONE said stop: the next byte aborts */
};

/* A fresh byte budget and deadline for the next message of a range: each
 * has what a FETCH of it alone would have. */
static void rearm(struct imap *im, uint64_t bytes)
{
	im->stream->budget = bytes;
	im->stream->over_budget = false;
	im->stream->deadline =
		im->command_time ? g_get_monotonic_time() + (gint64)im->command_time * G_USEC_PER_SEC : 0;
}

static void point_at(struct bodies_ctx *c)
{
	c->body = (struct body_ctx){ .out = c->target->out,
				     .fd = c->target->fd,
				     .mem_max = c->target->fd >= 0 ? c->target->mem_max : UINT64_MAX,
				     .max = c->max };
}

static bool on_range_body(int att_type, struct mailimap_msg_att_body_section *section, const char *bytes, size_t len,
			  void *userdata)
{
	struct bodies_ctx *c = userdata;
	if (c->stopped || !c->body.out) /* no target: no body was expected */
		return false;
	return on_body(att_type, section, bytes, len, &c->body);
}

/* One FETCH response, parsed (libetpan frees it afterwards). */
static void on_range_att(struct mailimap_msg_att *att, void *userdata)
{
	struct bodies_ctx *c = userdata;
	uint32_t uid;
	bool body;
	att_uid_body(att, &uid, &body);
	if (c->stopped)
		return;
	/* A response with no body (a flag change, say) carried no bytes. */
	if (!body && !c->body.called)
		return;
	if (!c->done(uid, body, c->body.spooled, c->body.got, c->ud)) {
		c->stopped = true;
		return;
	}
	point_at(c);
	rearm(c->im, c->max + BODY_SLACK);
}

static void progress_none(size_t current, size_t maximum, void *context)
{
	(void)current;
	(void)maximum;
	(void)context;
}

int imap_fetch_bodies(struct imap *im, const uint32_t *uids, size_t n, uint64_t max, struct imap_body_target *target,
		      imap_body_done *done, void *ud)
{
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_set *set = mailimap_set_new_empty();
	struct bodies_ctx ctx = { .im = im, .target = target, .done = done, .ud = ud, .max = max };
	clist *res = NULL;

	for (size_t i = 0; i < n; i++)
		mailimap_set_add_single(set, uids[i]);
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
		ft, mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
	point_at(&ctx);
	/* Each response goes to on_range_att as soon as it is parsed; libetpan
	 * honours that handler only while a progress callback is set. */
	mailimap_set_msg_body_handler(im->session, on_range_body, &ctx);
	mailimap_set_msg_att_handler(im->session, on_range_att, &ctx);
	mailimap_set_progress_callback(im->session, progress_none, progress_none, NULL);
	lastrun_phase("parsing the server's response to UID FETCH (bodies)");
	budget(im, max + BODY_SLACK);
	rearm(im, max + BODY_SLACK);
	int r = mailimap_uid_fetch(im->session, set, ft, &res);
	mailimap_set_progress_callback(im->session, NULL, NULL, NULL);
	mailimap_set_msg_att_handler(im->session, NULL, NULL);
	mailimap_set_msg_body_handler(im->session, NULL, NULL);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (res)
		mailimap_fetch_list_free(res);

	if (ctx.body.write_error) {
		im->broken = true;
		snprintf(im->err, sizeof(im->err), "cannot spool a body: %s", g_strerror(ctx.body.write_error));
		return IMAP_E_SPOOL;
	}
	if (ctx.body.too_large || (r == MAILIMAP_ERROR_STREAM && im->stream->over_budget)) {
		im->broken = true;
		snprintf(im->err, sizeof(im->err), "a body larger than %" G_GUINT64_FORMAT " bytes", max);
		return IMAP_E_TOO_LARGE;
	}
	if (ctx.stopped) {
		im->broken = true;
		snprintf(im->err, sizeof(im->err), "the server's FETCH responses did not match the UIDs asked for");
		return IMAP_E_PROTOCOL;
	}
	/* NO with no message at all: what was not delivered is the caller's to ask again. */
	if (r != MAILIMAP_NO_ERROR && r != MAILIMAP_ERROR_UID_FETCH)
		return fail(im, r, IMAP_E_PROTOCOL, "UID FETCH (bodies)");
	return IMAP_OK;
}

/* ---- IDLE ---- */

int imap_idle_start(struct imap *im)
{
	if (!mailimap_has_idle(im->session)) {
		snprintf(im->err, sizeof(im->err), "the server does not offer IDLE");
		return IMAP_E_UNSUPPORTED;
	}
	lastrun_phase("parsing the server's response to IDLE");
	budget(im, COMMAND_BUDGET);
	int r = mailimap_idle(im->session);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, "IDLE");
	im->idling = true;
	return IMAP_OK;
}

/* Bytes already read past the last response, or decrypted and waiting
 * in GnuTLS, would never wake poll(). */
static bool buffered(struct imap *im)
{
	return im->session->imap_stream->read_buffer_len > 0 || (im->stream->tls && tls_pending(im->stream->tls) > 0);
}

bool imap_pending(struct imap *im)
{
	if (!im->session || !im->session->imap_stream || !im->stream)
		return false;
	struct pollfd p = { .fd = im->fd, .events = POLLIN };
	return buffered(im) || poll(&p, 1, 0) > 0;
}

int imap_idle_wait(struct imap *im, int ms)
{
	if (buffered(im))
		return 1;
	struct pollfd p = { .fd = im->fd, .events = POLLIN };
	int r = poll(&p, 1, ms);
	if (r < 0 && errno == EINTR)
		return im->cancel && *im->cancel ? IMAP_E_CANCELLED : 0;
	if (r < 0) {
		snprintf(im->err, sizeof(im->err), "IDLE: %s", strerror(errno));
		im->broken = true;
		return IMAP_E_CONNECT;
	}
	return r > 0;
}

int imap_idle_done(struct imap *im)
{
	if (!im->idling)
		return IMAP_OK;
	im->idling = false;
	lastrun_phase("parsing the server's response to IDLE (DONE)");
	budget(im, COMMAND_BUDGET);
	int r = mailimap_idle_done(im->session);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, "IDLE DONE");
	return IMAP_OK;
}

int imap_noop(struct imap *im)
{
	lastrun_phase("parsing the server's response to NOOP");
	budget(im, COMMAND_BUDGET);
	int r = mailimap_noop(im->session);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, IMAP_E_PROTOCOL, "NOOP");
	return IMAP_OK;
}

uint32_t imap_exists(struct imap *im)
{
	struct mailimap_selection_info *sel = im->session ? im->session->imap_selection_info : NULL;
	return sel ? sel->sel_exists : 0;
}
