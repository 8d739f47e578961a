#include "log.h"
#include "term.h"

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

/* Text from a server or a mail header never reaches the journal or a
 * terminal with controls in it: C0, DEL, C1 (U+0080-U+009F, e.g. CSI
 * U+009B), bidi overrides and isolates (U+202E …) become spaces and invalid
 * UTF-8 is repaired, as puljectl does for terminals (term_clean). */
static char *scrub(const char *s)
{
	return term_clean(s);
}

void log_fields(int priority, const char *const *fields, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *raw = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *msg = scrub(raw);

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
		g_auto(GStrv) clean = g_new0(char *, n + 1);
		for (size_t i = 0; i < n; i++) {
			clean[i] = scrub(fields[i]);
			iov[3 + i] = (struct iovec){ clean[i], strlen(clean[i]) };
		}
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
