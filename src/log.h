/* log: journald when stderr is connected to it (native protocol with
 * structured fields), else stderr — "<N>" level prefixes when stderr is not
 * a terminal, plain "puljed: " lines when it is.  Callers never pass
 * secrets. */
#pragma once
#include <syslog.h>
#include <glib.h>

void log_setup(const char *ident);

/* FIELDS: NULL or a NULL-terminated array of "NAME=value" strings. */
void log_fields(int priority, const char *const *fields, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#define log_error(...) log_fields(LOG_ERR, NULL, __VA_ARGS__)
#define log_warning(...) log_fields(LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_fields(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_fields(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_fields(LOG_DEBUG, NULL, __VA_ARGS__)
