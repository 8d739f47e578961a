/* ctl-decide: puljectl decide — an operator's decision on a record. */
#include "ctl-common.h"
#include "term.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- decide ---- */

/* The name of UID, or "uid N" when it has none. */
int ctl_decide(struct store *st, FILE *out, int64_t id, const char *decision, const char *note)
{
	g_autofree char *trimmed = g_strstrip(g_strdup(note ? note : ""));
	if (!*trimmed) {
		fprintf(stderr,
			"puljectl: decide: --note TEXT is required: say why (\"%s\" on record %" G_GINT64_FORMAT
			" is kept with the note, who and when)\n",
			decision, id);
		return CTL_EXIT_USAGE;
	}
	g_autofree char *user = ctl_operator();
	int r = store_decide(st, id, decision, trimmed, user, (int64_t)time(NULL));
	if (r < 0)
		return ctl_record_exit(st, id, r);
	g_autofree char *u = term_clean(user);
	fprintf(out, "record %" G_GINT64_FORMAT ": %s, recorded for %s (the machine's classification is kept)\n", id,
		decision, u);
	return CTL_EXIT_OK;
}
