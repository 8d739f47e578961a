#include "export.h"

#include <string.h>

static bool needs_quotes(const char *v)
{
	size_t n = strlen(v);
	if (n && (v[0] == ' ' || v[n - 1] == ' '))
		return true;
	return strpbrk(v, ";\"\r\n") != NULL;
}

char *export_csv_field(const char *value)
{
	if (!value)
		return g_strdup("");
	/* A formula in disguise is written as text. */
	bool formula = strchr("=+-@\t\r", value[0]) && value[0];
	g_autofree char *v = formula ? g_strconcat("'", value, NULL) : g_strdup(value);
	if (!needs_quotes(v))
		return g_steal_pointer(&v);
	GString *s = g_string_sized_new(strlen(v) + 2);
	g_string_append_c(s, '"');
	for (const char *p = v; *p; p++) {
		if (*p == '"')
			g_string_append_c(s, '"');
		g_string_append_c(s, *p);
	}
	g_string_append_c(s, '"');
	return g_string_free(s, FALSE);
}

void export_csv_record(GString *out, const char *const *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		g_autofree char *f = export_csv_field(fields[i]);
		if (i)
			g_string_append_c(out, ';');
		g_string_append(out, f);
	}
	g_string_append(out, "\r\n");
}
