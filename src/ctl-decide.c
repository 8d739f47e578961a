/* ctl-decide: puljectl decide — an operator's decision on a record. */
#include "ctl-common.h"
#include "term.h"

#include <pwd.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* ---- decide ---- */

int ctl_decide(struct store *st, FILE *out, int64_t id, const char *decision, const char *note)
{
	const char *user = getenv("SUDO_USER");
	struct passwd *pw = NULL;
	char uidbuf[32];
	if (!user || !*user) {
		pw = getpwuid(getuid());
		if (pw)
			user = pw->pw_name;
		else {
			g_snprintf(uidbuf, sizeof(uidbuf), "uid %u", (unsigned)getuid());
			user = uidbuf;
		}
	}
	int r = store_decide(st, id, decision, note, user, (int64_t)time(NULL));
	if (r < 0)
		return ctl_record_exit(st, id, r);
	g_autofree char *u = term_clean(user);
	fprintf(out, "record %" G_GINT64_FORMAT ": %s, recorded for %s (the machine's classification is kept)\n", id,
		decision, u);
	return CTL_EXIT_OK;
}
