/* term: text that is safe and fits on an operator's terminal.  Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

/* S with C0/C1 controls, DEL, bidi overrides and marks and the Unicode
 * line and paragraph separators replaced by a space and invalid UTF-8
 * repaired.  Newly allocated (g_free). */
char *term_clean(const char *s);

/* Whether term_clean() replaces C. */
bool term_unsafe(gunichar c);

/* Display width of a clean UTF-8 string (wide CJK counts 2). */
size_t term_width(const char *s);

/* S cleaned and cut to WIDTH columns ("…" marks a cut), padded with spaces
 * to exactly WIDTH when PAD.  Newly allocated. */
char *term_fit(const char *s, size_t width, int pad);

/* S cleaned and wrapped to lines of at most WIDTH columns for a value that
 * starts at column INDENT: lines break at spaces, continuation lines start
 * with INDENT spaces, and a word longer than WIDTH - INDENT is cut across
 * lines.  No trailing newline.  Newly allocated. */
char *term_wrap(const char *s, size_t width, size_t indent);

/* A file name safe to create in a directory: no path separators, no "..",
 * no control characters, no leading dot or dash, not a Windows device
 * name, at most 180 bytes.  FALLBACK when nothing usable is left.
 * Newly allocated. */
char *term_safe_filename(const char *name, const char *fallback);
