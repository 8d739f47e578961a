#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* Bytes read from the socket at once.  GnuTLS asks for each record's
 * 5-byte header and then its body, and a server may send records of a
 * few KB: without this, two recv() and a poll() per record. */
#define TLS_RECV_BUFFER (64 * 1024)

struct tls {
	gnutls_session_t session;
	int fd;
	/* Read from the socket, not yet handed to GnuTLS: [rpos, rlen). */
	uint8_t rbuf[TLS_RECV_BUFFER];
	size_t rpos, rlen;
	int timeout_ms;
	int64_t deadline; /* monotonic µs by which a read or write must end; 0: none */
	bool timed_out;   /* a wait of the transport ran out of time */
	atomic_int *cancel;
	gnutls_certificate_credentials_t creds;
	char *host;
};

void tls_free(struct tls *t)
{
	if (!t)
		return;
	if (t->session)
		gnutls_deinit(t->session);
	if (t->creds)
		gnutls_certificate_free_credentials(t->creds);
	free(t->host);
	free(t);
}

/* How long the next wait may take: the per-wait timeout, cut to what is
 * left of the deadline; 0 when that has passed, -1 for no limit. */
static int wait_budget_ms(const struct tls *t)
{
	int ms = t->timeout_ms > 0 ? t->timeout_ms : -1;
	if (t->deadline) {
		int64_t left = t->deadline - g_get_monotonic_time();
		if (left <= 0)
			return 0;
		if (ms < 0 || left / 1000 + 1 < ms)
			ms = (int)MIN(left / 1000 + 1, INT_MAX);
	}
	return ms;
}

/* Waits until the socket is ready for EVENTS: 0, or -1 with errno EAGAIN
 * (the wait or the deadline ran out; t->timed_out), EINTR (*cancel set)
 * or poll()'s own. */
static int wait_ready(struct tls *t, short events)
{
	struct pollfd p = { .fd = t->fd, .events = events };
	for (;;) {
		if (t->cancel && *t->cancel) {
			errno = EINTR;
			return -1;
		}
		int ms = wait_budget_ms(t);
		int r = ms == 0 ? 0 : poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0) {
			t->timed_out = true;
			errno = EAGAIN;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Our transport for GnuTLS: the socket, read through rbuf.  Every wait
 * is bounded by the timeout and the deadline and ends when *cancel is
 * set, also in the middle of a record: a server that trickles a record a
 * byte at a time cannot hold a read past its deadline (GnuTLS itself
 * would wait for the whole record).  A recv() returns what has arrived,
 * up to the buffer's size. */
static ssize_t transport_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct tls *t = ptr;
	while (t->rpos == t->rlen) {
		if (wait_ready(t, POLLIN) < 0)
			return -1; /* GnuTLS: AGAIN (time) or INTERRUPTED (cancel) */
		ssize_t n = recv(t->fd, t->rbuf, sizeof(t->rbuf), MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -1;
		}
		t->rpos = 0;
		t->rlen = (size_t)n;
	}
	size_t k = t->rlen - t->rpos < len ? t->rlen - t->rpos : len;
	memcpy(buf, t->rbuf + t->rpos, k);
	t->rpos += k;
	return (ssize_t)k;
}

static ssize_t transport_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct tls *t = ptr;
	for (;;) {
		ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR && !(t->cancel && *t->cancel))
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_ready(t, POLLOUT) < 0)
			return -1;
	}
}

static int transport_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
	struct tls *t = ptr;
	if (t->rpos < t->rlen)
		return 1;
	struct pollfd p = { .fd = t->fd, .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
		if (r >= 0 || errno != EINTR || (t->cancel && *t->cancel))
			return r;
	}
}

static bool is_ip_literal(const char *host)
{
	return strspn(host, "0123456789.") == strlen(host) || strchr(host, ':') != NULL;
}

int tls_client_new(int fd, const char *host, const char *ca_file, const char *priority, int timeout_ms,
		   atomic_int *cancel, struct tls **ret, char **ret_error)
{
	g_autoptr(Tls) t = calloc(1, sizeof(*t));
	int r;

	if (!t) {
		*ret_error = g_strdup("out of memory");
		return TLS_E_SETUP;
	}
	t->fd = fd;
	t->timeout_ms = timeout_ms;
	t->cancel = cancel;
	t->host = strdup(host);
	if (!t->host || gnutls_certificate_allocate_credentials(&t->creds) < 0) {
		*ret_error = g_strdup("out of memory");
		return TLS_E_SETUP;
	}
	if (ca_file)
		r = gnutls_certificate_set_x509_trust_file(t->creds, ca_file, GNUTLS_X509_FMT_PEM);
	else
		r = gnutls_certificate_set_x509_system_trust(t->creds);
	if (r <= 0) {
		*ret_error = g_strdup_printf("no trusted certificates loaded from %s%s%s",
					     ca_file ? ca_file : "the system trust store", r < 0 ? ": " : "",
					     r < 0 ? gnutls_strerror(r) : "");
		return TLS_E_SETUP;
	}
	if (gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL) < 0 ||
	    gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->creds) < 0) {
		*ret_error = g_strdup("cannot set up a TLS session");
		return TLS_E_SETUP;
	}
	/* Versions, key exchanges and ciphers, and (%PROFILE_...) the least
	 * key size the certificate check accepts. */
	const char *bad = NULL;
	if ((r = gnutls_priority_set_direct(t->session, priority ? priority : TLS_DEFAULT_PRIORITY, &bad)) < 0) {
		*ret_error = g_strdup_printf("TLS priority string not accepted at \"%s\": %s", bad ? bad : "",
					     gnutls_strerror(r));
		return TLS_E_SETUP;
	}
	if (!is_ip_literal(host))
		gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, host, strlen(host));
	/* Chain to a trusted root, validity, key purpose and the host name (DNS
	 * name or IP address SAN) are checked during the handshake. */
	gnutls_session_set_verify_cert(t->session, host, 0);
	gnutls_transport_set_ptr(t->session, t);
	gnutls_transport_set_pull_function(t->session, transport_pull);
	gnutls_transport_set_push_function(t->session, transport_push);
	gnutls_transport_set_pull_timeout_function(t->session, transport_pull_timeout);
	gnutls_handshake_set_timeout(t->session, (unsigned)timeout_ms);

	do
		r = gnutls_handshake(t->session);
	while (r < 0 && !gnutls_error_is_fatal(r) && r != GNUTLS_E_AGAIN && !(cancel && *cancel));

	if (r < 0 && cancel && *cancel) {
		*ret_error = g_strdup_printf("TLS handshake with %s interrupted", host);
		return TLS_E_CANCELLED;
	}
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		unsigned status = gnutls_session_get_verify_cert_status(t->session);
		gnutls_datum_t txt = { 0 };
		gnutls_certificate_type_t type = gnutls_certificate_type_get(t->session);
		const char *hint =
			status & GNUTLS_CERT_INSECURE_ALGORITHM
				? " (a key under 2048 bits or a weak signature: see tls_priority in puljed.conf(5))"
				: "";
		if (gnutls_certificate_verification_status_print(status, type, &txt, 0) == 0) {
			*ret_error =
				g_strdup_printf("certificate of %s not accepted: %s%s", host, (char *)txt.data, hint);
			gnutls_free(txt.data);
		} else {
			*ret_error = g_strdup_printf("certificate of %s not accepted", host);
		}
		return TLS_E_CERTIFICATE;
	}
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_TIMEDOUT) {
		*ret_error = g_strdup_printf("TLS handshake with %s timed out", host);
		return TLS_E_TIMEOUT;
	}
	if (r < 0) {
		*ret_error = g_strdup_printf(
			"TLS handshake with %s failed: %s (a server that offers only TLS 1.0/1.1 or "
			"static-RSA key exchange is refused: see tls_priority in puljed.conf(5))",
			host, gnutls_strerror(r));
		return TLS_E_HANDSHAKE;
	}
	*ret = g_steal_pointer(&t);
	return TLS_OK;
}

void tls_set_deadline(struct tls *t, int64_t deadline)
{
	t->deadline = deadline;
}

/* After GnuTLS said AGAIN or INTERRUPTED: -1 with errno when it was our
 * transport giving up (cancelled, or out of time), 0 to go on. */
static int gave_up(struct tls *t)
{
	if (t->cancel && *t->cancel) {
		errno = EINTR;
		return -1;
	}
	if (t->timed_out) {
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

ssize_t tls_read(struct tls *t, void *buf, size_t len)
{
	t->timed_out = false;
	for (;;) {
		if (tls_pending(t) == 0 && wait_ready(t, POLLIN) < 0)
			return -1; /* errno: EAGAIN (timeout) or EINTR (cancelled) */
		ssize_t n = gnutls_record_recv(t->session, buf, len);
		if (n > 0)
			return n;
		/* TLS 1.3 session tickets and other non-data records make a read
		 * return AGAIN with nothing for us: wait for more. */
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN) {
			if (gave_up(t) < 0)
				return -1;
			continue;
		}
		errno = n == 0 ? 0 : EPROTO;
		return -1;
	}
}

ssize_t tls_write(struct tls *t, const void *buf, size_t len)
{
	size_t done = 0;
	t->timed_out = false;
	while (done < len) {
		ssize_t n = gnutls_record_send(t->session, (const char *)buf + done, len - done);
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN) {
			if (gave_up(t) < 0)
				return -1;
			continue;
		}
		if (n <= 0) {
			errno = EPIPE;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

size_t tls_pending(struct tls *t)
{
	return gnutls_record_check_pending(t->session) + (t->rlen - t->rpos);
}
