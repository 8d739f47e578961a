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

void log_setup(const char *ident)
{
	log_ident = ident;
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
		to_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Text from a server or a mail header never reaches the journal or a
 * terminal with controls in it: C0, DEL, C1 (U+0080-U+009F, e.g. CSI
 * U+009B), bidi overrides and isolates (U+202E …) become spaces and invalid
 * UTF-8 is repaired, as puljectl does for terminals (term_clean). */
static char *scrub(const char *s)
{
	return term_clean(s);
}

char **log_journal_entry(int priority, const char *file, int line, const char *func, const char *const *fields,
			 const char *msg)
{
	size_t n = 0;
	while (fields && fields[n])
		n++;
	char **entry = g_new0(char *, n + 7);
	g_autofree char *clean = scrub(msg);
	entry[0] = g_strconcat("MESSAGE=", clean, NULL);
	entry[1] = g_strdup_printf("PRIORITY=%d", priority);
	entry[2] = g_strconcat("SYSLOG_IDENTIFIER=", log_ident, NULL);
	entry[3] = g_strconcat("CODE_FILE=", file, NULL);
	entry[4] = g_strdup_printf("CODE_LINE=%d", line);
	entry[5] = g_strconcat("CODE_FUNC=", func, NULL);
	for (size_t i = 0; i < n; i++)
		entry[6 + i] = scrub(fields[i]);
	return entry;
}

void log_fields_at(int priority, const char *file, int line, const char *func, const char *const *fields,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *raw = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	if (to_journal) {
		g_auto(GStrv) entry = log_journal_entry(priority, file, line, func, fields, raw);
		int n = (int)g_strv_length(entry);
		/* CODE_FILE and CODE_LINE (entry[3], entry[4]) and FUNC go as the
		 * location: plain sd_journal_sendv() would name this file. */
		g_autofree struct iovec *iov = g_new0(struct iovec, n);
		int k = 0;
		for (int i = 0; i < n; i++)
			if (i < 3 || i > 5)
				iov[k++] = (struct iovec){ entry[i], strlen(entry[i]) };
		if (sd_journal_sendv_with_location(entry[3], entry[4], func, iov, k) >= 0)
			return;
	}
	g_autofree char *msg = scrub(raw);
	/* "<N>" only where journald reads it: its stream, when the native
	 * socket refused; a terminal, a file or a pipe gets plain lines. */
	if (to_journal)
		fprintf(stderr, "<%d>%s\n", priority, msg);
	else
		fprintf(stderr, "%s: %s\n", log_ident, msg);
}
