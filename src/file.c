#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>

int file_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_create_new(int dirfd, const char *name, mode_t mode)
{
	/* O_EXCL fails on any existing name, a link included; O_NOFOLLOW
	 * says the same again. */
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	return fd < 0 ? -errno : fd;
}

int file_create_unique(int dirfd, const char *name, mode_t mode, char **ret_name)
{
	const char *dot = strrchr(name, '.');
	g_autofree char *stem = dot && dot != name ? g_strndup(name, (gsize)(dot - name)) : g_strdup(name);
	const char *ext = dot && dot != name ? dot : "";
	for (int i = 1; i < 1000; i++) {
		g_autofree char *try = i == 1 ? g_strdup(name) : g_strdup_printf("%s (%d)%s", stem, i, ext);
		int fd = file_create_new(dirfd, try, mode);
		if (fd >= 0) {
			*ret_name = g_steal_pointer(&try);
			return fd;
		}
		if (fd != -EEXIST)
			return fd;
	}
	return -EEXIST;
}

int file_write_new(int dirfd, const char *name, mode_t mode, const void *data, size_t len, char **ret_name)
{
	g_autofree char *used = NULL;
	int fd = file_create_unique(dirfd, name, mode, &used);
	if (fd < 0)
		return fd;
	int r = file_write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, used, 0);
		return r;
	}
	*ret_name = g_steal_pointer(&used);
	return 0;
}

int file_write_exclusive(int dirfd, const char *name, mode_t mode, const void *data, size_t len)
{
	int fd = file_create_new(dirfd, name, mode);
	if (fd < 0)
		return fd;
	int r = file_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, name, 0);
	return r;
}
