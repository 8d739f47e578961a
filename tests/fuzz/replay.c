/* Runs the fuzz target's code over files, without libFuzzer: every crash
 * the fuzzer ever found is a file in fixtures/fuzz/, replayed by the
 * normal test suite (and under ASan/UBSan and valgrind). */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
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
