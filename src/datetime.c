#include "datetime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int datetime_parse_deadline(const char *text, GTimeZone *tz, int64_t *ret_last_second)
{
	int y, m, d, n = 0;

	if (!text || !tz)
		return -EINVAL;
	if (sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && text[n] == '\0' && n == 10) {
		if (!g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
			return -EINVAL;
		g_autoptr(GDateTime) day = g_date_time_new(tz, y, m, d, 0, 0, 0);
		if (!day)
			return -EINVAL;
		g_autoptr(GDateTime) next = g_date_time_add_days(day, 1);
		if (!next)
			return -EINVAL;
		*ret_last_second = g_date_time_to_unix(next) - 1;
		return 0;
	}

	/* GLib wants a 'T' between date and time; accept a space too. */
	g_autofree char *copy = g_strdup(text);
	if (strlen(copy) > 10 && copy[10] == ' ')
		copy[10] = 'T';
	if (strlen(copy) <= 10 || copy[10] != 'T')
		return -EINVAL;
	if (copy[strlen(copy) - 1] == 'z')
		copy[strlen(copy) - 1] = 'Z';
	/* ... and seconds; "T12:00" means "T12:00:00". */
	if (strlen(copy) >= 16 && copy[13] == ':' && (copy[16] == '\0' || strchr("Zz+-", copy[16]))) {
		char *with = g_strdup_printf("%.16s:00%s", copy, copy + 16);
		g_free(copy);
		copy = with;
	}
	g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(copy, tz);
	if (!dt)
		return -EINVAL;
	/* A local time (no offset) must name one instant: not one skipped when
	 * the clocks go forward, nor one that happens twice when they go back. */
	const char *t = copy + 11;
	bool has_offset = strpbrk(t, "Z+-") != NULL;
	if (!has_offset) {
		int h = 0, mi = 0;
		if (sscanf(t, "%d:%d", &h, &mi) != 2)
			return -EINVAL;
		if (g_date_time_get_hour(dt) != h || g_date_time_get_minute(dt) != mi)
			return -ERANGE; /* in the gap */
		gint64 local = g_date_time_to_unix(dt) + g_date_time_get_utc_offset(dt) / G_TIME_SPAN_SECOND;
		gint std = g_time_zone_find_interval(tz, G_TIME_TYPE_STANDARD, local);
		gint dst = g_time_zone_find_interval(tz, G_TIME_TYPE_DAYLIGHT, local);
		if (std >= 0 && dst >= 0 && std != dst)
			return -ERANGE; /* ambiguous */
	}
	*ret_last_second = g_date_time_to_unix(dt);
	return 0;
}

static char *format_dt(GDateTime *dt)
{
	if (!dt)
		return NULL;
	GTimeSpan off = g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	g_autofree char *base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
	return g_strdup_printf("%s%c%02d:%02d", base, sign, (int)(off / 60), (int)(off % 60));
}

char *datetime_format(int64_t unix_time, GTimeZone *tz)
{
	g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(unix_time);
	if (!utc)
		return NULL;
	g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, tz);
	return format_dt(local);
}

char *datetime_format_offset(int64_t unix_time, int offset_minutes)
{
	g_autoptr(GTimeZone) tz = g_time_zone_new_offset(offset_minutes * 60);
	return datetime_format(unix_time, tz);
}
