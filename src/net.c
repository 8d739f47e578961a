#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>

static int connect_one(const struct addrinfo *ai, int timeout_ms, atomic_int *cancel, int *out)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (r < 0 && errno != EINPROGRESS) {
		r = -errno;
		goto fail;
	}
	if (r < 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR && !(cancel && *cancel));
		if (r < 0 && errno == EINTR) {
			r = -EINTR;
			goto fail;
		}
		if (r == 0) {
			r = -ETIMEDOUT;
			goto fail;
		}
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
			r = -errno;
			goto fail;
		}
		if (soerr) {
			r = -soerr;
			goto fail;
		}
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0) {
		r = -errno;
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	return 0;
fail:
	close(fd);
	return r;
}

int net_connect(const char *host, uint16_t port, int timeout_ms, atomic_int *cancel, int *ret_fd, char **ret_error)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	int g = getaddrinfo(host, service, &hints, &res);
	if (g != 0) {
		*ret_error = g_strdup_printf("cannot resolve %s: %s", host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	int r = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		r = connect_one(ai, timeout_ms, cancel, ret_fd);
		if (r == 0 || r == -EINTR)
			break;
	}
	freeaddrinfo(res);
	if (r < 0)
		*ret_error = g_strdup_printf("cannot connect to %s port %u: %s", host, port, g_strerror(-r));
	return r;
}
