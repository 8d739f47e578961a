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
static char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	return pw ? g_strdup(pw->pw_name) : g_strdup_printf("uid %u", (unsigned)uid);
}

/* Who decides: the real user (getuid(), never an environment variable
 * alone).  Under sudo, "root (sudo by mette)": the invoking user is added
 * only when SUDO_UID names an account whose name is SUDO_USER, a user
 * other than the real one. */
static char *decider(void)
{
	uid_t uid = getuid();
	g_autofree char *real = user_name(uid);
	const char *sudo_user = getenv("SUDO_USER"), *sudo_uid = getenv("SUDO_UID");
	if (!sudo_user || !*sudo_user || !sudo_uid || !*sudo_uid)
		return g_steal_pointer(&real);
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(sudo_uid, &end, 10);
	if (errno || *end || sudo_uid[0] == '-' || v == uid || v != (uid_t)v)
		return g_steal_pointer(&real);
	struct passwd *pw = getpwuid((uid_t)v);
	if (!pw || strcmp(pw->pw_name, sudo_user))
		return g_steal_pointer(&real);
	return g_strdup_printf("%s (sudo by %s)", real, pw->pw_name);
}

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
	g_autofree char *user = decider();
	int r = store_decide(st, id, decision, trimmed, user, (int64_t)time(NULL));
	if (r < 0)
		return ctl_record_exit(st, id, r);
	g_autofree char *u = term_clean(user);
	fprintf(out, "record %" G_GINT64_FORMAT ": %s, recorded for %s (the machine's classification is kept)\n", id,
		decision, u);
	return CTL_EXIT_OK;
}
