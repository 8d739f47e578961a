#include "attempt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#define NOTE_SIZE 512

struct attempt {
	int fd;
	char *path;
	char key[NOTE_SIZE]; /* "UIDVALIDITY UID MAILBOX" of the note, or "" */
	unsigned count;      /* parses of it begun */
};

static void write_note(struct attempt *a)
{
	char buf[NOTE_SIZE];
	memset(buf, ' ', sizeof(buf));
	int n = a->key[0] ? snprintf(buf, sizeof(buf), "%u %s\n", a->count, a->key) : 0;
	if (n >= 0 && (size_t)n < sizeof(buf))
		buf[n] = ' ';
	buf[sizeof(buf) - 1] = '\n';
	ssize_t w;
	do
		w = pwrite(a->fd, buf, sizeof(buf), 0);
	while (w < 0 && errno == EINTR);
}

/* The note in A->fd into A's key and count (none: an empty key). */
static void read_note(struct attempt *a)
{
	char buf[NOTE_SIZE + 1];
	ssize_t n = pread(a->fd, buf, NOTE_SIZE, 0);
	buf[n > 0 ? n : 0] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	char *end;
	unsigned long count = strtoul(buf, &end, 10);
	if (end != buf && *end == ' ' && count > 0 && count < 1000) {
		a->count = (unsigned)count;
		g_strlcpy(a->key, end + 1, sizeof(a->key));
		g_strchomp(a->key);
	}
}

struct attempt *attempt_open(const char *database)
{
	g_autofree char *path = g_strconcat(database, ".parsing", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return NULL;
	struct attempt *a = g_new0(struct attempt, 1);
	a->fd = fd;
	a->path = g_steal_pointer(&path);
	read_note(a);
	return a;
}

unsigned attempt_begin(struct attempt *a, const char *mailbox, uint32_t uidvalidity, uint32_t uid)
{
	if (!a)
		return 1;
	char key[NOTE_SIZE];
	/* Room for the count before it; a longer mailbox name is cut short. */
	snprintf(key, sizeof(key) - 16, "%u %u %s", uidvalidity, uid, mailbox ? mailbox : "");
	for (char *p = key; *p; p++)
		if (*p == '\n')
			*p = ' ';
	g_strchomp(key);
	if (strcmp(key, a->key) != 0) {
		g_strlcpy(a->key, key, sizeof(a->key));
		a->count = 0;
	}
	a->count++;
	write_note(a);
	return a->count;
}

void attempt_end(struct attempt *a)
{
	if (!a)
		return;
	a->key[0] = '\0';
	a->count = 0;
	write_note(a);
}

void attempt_close(struct attempt *a)
{
	if (!a)
		return;
	/* Nothing pending: no file is left beside the database. */
	if (!a->key[0])
		unlink(a->path);
	close(a->fd);
	g_free(a->path);
	g_free(a);
}

void attempt_tidy(const char *database)
{
	g_autofree char *path = g_strconcat(database, ".parsing", NULL);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	struct attempt a = { .fd = fd };
	read_note(&a);
	close(fd);
	if (!a.key[0])
		unlink(path);
}
