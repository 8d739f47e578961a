/* export: CSV and JSON writers for puljectl export — pure text formatting
 * over rows of strings.  CSV as Danish Excel opens it: UTF-8 with a BOM,
 * ';' between fields, RFC 4180 quoting (a field with ';', '"', CR or LF,
 * or leading/trailing space, is quoted, '"' doubled), CRLF line ends.
 * Fields starting with = + - @ (or TAB/CR) are prefixed with a ' so that a
 * spreadsheet never evaluates them as formulas (CSV injection).  Strings
 * returned are newly allocated (g_free). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <glib.h>

/* One CSV field, quoted as needed.  NULL is the empty field. */
char *export_csv_field(const char *value);

/* Appends one CSV record (N fields, CRLF-terminated) to OUT. */
void export_csv_record(GString *out, const char *const *fields, size_t n);

/* The UTF-8 byte order mark Excel needs to read UTF-8. */
#define EXPORT_CSV_BOM "\xEF\xBB\xBF"
