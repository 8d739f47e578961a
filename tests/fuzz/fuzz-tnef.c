/* libFuzzer target over the TNEF (winmail.dat) decoder.  Seeds: the
 * winmail.dat files tests/gen/tnef.py writes (tests/fuzz/run.py).  Checks
 * what tnef.h promises: every file lies inside the input, names are
 * UTF-8, an error says why. */
#include "tnef.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnef_result *r = g_new(struct tnef_result, 1);
	const char *why = NULL;
	/* GMime hands over an empty part as NULL, 0. */
	int rc = tnef_parse(size ? data : NULL, size, r, &why);
	if (rc != 0 && !why)
		abort();
	if (r->n_files > TNEF_MAX_FILES)
		abort();
	for (size_t i = 0; i < r->n_files; i++) {
		const struct tnef_file *f = &r->files[i];
		if (f->data && (f->data < data || f->size > size || (size_t)(f->data - data) > size - f->size))
			abort(); /* data must point into the input */
		if (!f->data && f->size)
			abort();
		if (f->name && !g_utf8_validate(f->name, -1, NULL))
			abort();
	}
	tnef_result_clear(r);
	g_free(r);
	return 0;
}
