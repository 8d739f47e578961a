/* tls: a GnuTLS client session over a connected socket, with the server's
 * certificate chain and host name verified inside the handshake (it fails
 * before any application byte is exchanged).  No logging. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>

struct tls;

enum tls_error {
	TLS_OK = 0,
	TLS_E_HANDSHAKE = -1,   /* protocol failure, alert, reset */
	TLS_E_CERTIFICATE = -2, /* chain or host name did not verify */
	TLS_E_TIMEOUT = -3,
	TLS_E_SETUP = -4,     /* could not load the trust store */
	TLS_E_CANCELLED = -5, /* *cancel was set during the handshake */
};

/* What a session offers and accepts unless told otherwise: TLS 1.2 or
 * newer, no static-RSA key exchange, ciphers of 128 bits or more, and a
 * certificate chain whose keys give at least 112-bit security (RSA and DH
 * 2048 bits, ECDSA 224 bits), checked with the chain. */
#define TLS_DEFAULT_PRIORITY "SECURE128:-VERS-TLS1.0:-VERS-TLS1.1:-RSA:%PROFILE_MEDIUM"

/* Performs the handshake on FD (borrowed: the caller closes it) for HOST,
 * trusting CA_FILE or, when NULL, the system trust store, with the GnuTLS
 * PRIORITY string (NULL: TLS_DEFAULT_PRIORITY).  On failure *ret is
 * untouched and *ret_error is a newly allocated one-line reason (g_free).
 * TIMEOUT_MS bounds the handshake and
 * every later wait for data.  When *CANCEL (may be NULL) becomes non-zero —
 * a signal handler sets it — the handshake or a waiting read ends at once
 * (TLS_E_CANCELLED, or -1 with errno EINTR). */
int tls_client_new(int fd, const char *host, const char *ca_file, const char *priority, int timeout_ms,
		   atomic_int *cancel, struct tls **ret, char **ret_error);
void tls_free(struct tls *t);
/* g_autoptr(Tls) frees with tls_free(). */
typedef struct tls Tls;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Tls, tls_free)

/* Read/write: bytes transferred, or -1 on error, timeout or end of stream,
 * with errno EAGAIN for a timeout, EINTR when *cancel was set.  Each wait
 * for the socket is bounded by the timeout, and the whole call by the
 * deadline (tls_set_deadline), however the server trickles a record. */
ssize_t tls_read(struct tls *t, void *buf, size_t len);
ssize_t tls_write(struct tls *t, const void *buf, size_t len);
/* The monotonic time (g_get_monotonic_time(), µs) by which later reads
 * and writes must end; 0: none, only the per-wait timeout. */
void tls_set_deadline(struct tls *t, int64_t deadline);
/* Bytes waiting that poll() on the socket would not announce: decrypted
 * in GnuTLS, or read from the socket and not yet decrypted. */
size_t tls_pending(struct tls *t);
