#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

static const char *log_ident = "puljed";
static bool to_journal;
static bool to_tty;

void log_setup(const char *ident)
{
	log_ident = ident;
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
		to_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	to_tty = isatty(STDERR_FILENO);
}

/* Control characters (from mail headers) never reach a log line. */
static void scrub(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

void log_fields(int priority, const char *const *fields, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	scrub(msg);

	if (to_journal) {
		size_t n = 0;
		while (fields && fields[n])
			n++;
		struct iovec *iov = g_new0(struct iovec, n + 3);
		g_autofree char *m = g_strconcat("MESSAGE=", msg, NULL);
		g_autofree char *p = g_strdup_printf("PRIORITY=%d", priority);
		g_autofree char *id = g_strconcat("SYSLOG_IDENTIFIER=", log_ident, NULL);
		iov[0] = (struct iovec){ m, strlen(m) };
		iov[1] = (struct iovec){ p, strlen(p) };
		iov[2] = (struct iovec){ id, strlen(id) };
		for (size_t i = 0; i < n; i++)
			iov[3 + i] = (struct iovec){ (void *)fields[i], strlen(fields[i]) };
		int r = sd_journal_sendv(iov, (int)(n + 3));
		g_free(iov);
		if (r >= 0)
			return;
	}
	if (to_tty)
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	else
		fprintf(stderr, "<%d>%s\n", priority, msg);
}
