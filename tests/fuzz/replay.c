/* Runs a fuzz target's code over files, without libFuzzer: every crash
 * the fuzzers ever found is a file in fixtures/fuzz/ (ingest) or
 * fixtures/fuzz-NAME/, replayed by the normal test suite (and under
 * ASan/UBSan and valgrind) as fuzz-replay-NAME. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

/* Optional, as for libFuzzer: a target without state has none. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	int n = 0;
	for (int i = 1; i < argc; i++) {
		g_autofree char *data = NULL;
		gsize len = 0;
		g_autoptr(GError) err = NULL;
		if (!g_file_get_contents(argv[i], &data, &len, &err)) {
			fprintf(stderr, "replay: %s\n", err->message);
			return 1;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)data, len);
		n++;
	}
	printf("replayed %d input(s)\n", n);
	return n > 0 ? 0 : 1;
}
