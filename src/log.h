/* log: journald when stderr is connected to it ($JOURNAL_STREAM names
 * stderr's device and inode), with structured fields and the caller's
 * CODE_FILE/CODE_LINE/CODE_FUNC; else plain "puljed: " lines on stderr.
 * "<N>" level prefixes only on the journal's stream, when the native
 * protocol fails.  Callers never pass secrets. */
#pragma once
#include <syslog.h>
#include <glib.h>

void log_setup(const char *ident);

/* FIELDS: NULL or a NULL-terminated array of "NAME=value" strings. FILE,
 * LINE and FUNC name the caller (the log_* macros pass them). */
void log_fields_at(int priority, const char *file, int line, const char *func, const char *const *fields,
		   const char *fmt, ...) G_GNUC_PRINTF(6, 7);

/* The journal entry log_fields_at() sends for MSG: MESSAGE, PRIORITY,
 * SYSLOG_IDENTIFIER, CODE_FILE, CODE_LINE, CODE_FUNC, then FIELDS (cleaned
 * as MSG is).  A NULL-terminated array; g_strfreev. */
char **log_journal_entry(int priority, const char *file, int line, const char *func, const char *const *fields,
			 const char *msg);

#define log_fields(priority, ...) log_fields_at(priority, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_error(...) log_fields(LOG_ERR, NULL, __VA_ARGS__)
#define log_warning(...) log_fields(LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_fields(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_fields(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_fields(LOG_DEBUG, NULL, __VA_ARGS__)
