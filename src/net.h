/* net: TCP connections with timeouts.  No logging; errors are negative
 * errno, with a newly allocated message in *ret_error (g_free). */
#pragma once
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

/* Connects to HOST:PORT (every address getaddrinfo returns, in order),
 * waiting at most TIMEOUT_MS for each.  The socket is blocking, close-on-
 * exec, and has SO_RCVTIMEO/SO_SNDTIMEO of TIMEOUT_MS so that no later
 * read or write waits longer.  -EINTR when *CANCEL (may be NULL) is set
 * while waiting.  The caller owns *ret_fd.  On failure *ret_fd is
 * untouched and *ret_error says why. */
int net_connect(const char *host, uint16_t port, int timeout_ms, atomic_int *cancel, int *ret_fd, char **ret_error);
