/* datetime: civil-time helpers over GLib's time zone database.
 * Pure functions; no I/O beyond GLib reading the tz database. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* Parses a deadline: "YYYY-MM-DD" means through the end of that day in tz;
 * an ISO 8601 timestamp ("2022-07-01T12:00", optional seconds, optional
 * offset; a space may replace the T) is that instant, read in tz when it has
 * no offset.  On success stores the last on-time second (inclusive, Unix
 * time) and returns 0; -ERANGE for a local time that does not exist or
 * happens twice in tz (daylight saving), -EINVAL for anything else. */
int datetime_parse_deadline(const char *text, GTimeZone *tz, int64_t *ret_last_second);

/* Formats a Unix time as ISO 8601 with a numeric offset in tz, e.g.
 * "2022-06-15T10:12:00+02:00".  Returns a newly allocated string (g_free). */
char *datetime_format(int64_t unix_time, GTimeZone *tz);

/* Formats an instant that carries its own UTC offset (minutes east). */
char *datetime_format_offset(int64_t unix_time, int offset_minutes);
