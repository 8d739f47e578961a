/* puljed: the daemon's entry point — options, configuration, then daemon_run(). */
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "puljed-build.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#ifdef PULJED_CRASHTEST
#include "crashpoint.h"

/* puljed-crashtest only (never installed): PULJED_CRASH_AT=N kills the
 * process at the N-th durable step, PULJED_DISK_LIMIT=BYTES makes the
 * database's disk "full" (PULJED_DISK_FULL_AFTER=NAME: from the step of
 * that name on), PULJED_CRASH_REPORT=1 prints the step count at
 * exit, PULJED_DUMPABLE=1 leaves the process dumpable (the test that looks
 * for the password in a core of the running daemon). */
static void report_steps(void)
{
	fprintf(stderr, "crashpoint: %lu steps, %lu in the recording thread\n", crashpoint_steps(),
		crashpoint_steps_own());
}

static void arm_crashpoints(void)
{
	const char *at = getenv("PULJED_CRASH_AT"), *limit = getenv("PULJED_DISK_LIMIT");
	if (crashpoint_arm(at ? strtoul(at, NULL, 10) : 0, limit ? strtoull(limit, NULL, 10) : 0) < 0) {
		fprintf(stderr, "crashpoint: cannot arm\n");
		exit(1);
	}
	if (getenv("PULJED_DISK_FULL_AFTER"))
		crashpoint_fill_disk_after(getenv("PULJED_DISK_FULL_AFTER"));
	if (getenv("PULJED_CRASH_REPORT"))
		atexit(report_steps);
}
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: puljed [--config FILE] [--once | --check-config]\n"
		"\n"
		"Records every message of a grant call's IMAP mailbox in SQLite.\n"
		"\n"
		"  -c, --config FILE   configuration (default %s)\n"
		"      --once          run one poll cycle, then exit\n"
		"      --check-config  validate the configuration and exit (no network)\n"
		"  -h, --help          show this help\n"
		"      --version       show the version\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 configuration, 3 connection, 4 TLS, 5 login.\n",
		PULJED_DEFAULT_CONFIG);
}

/* No core dump, no ptrace by the same user, /proc/PID/mem and environ
 * closed: whatever the process holds in memory stays in it.  Before the
 * configuration and the secret are read. */
static void make_undumpable(void)
{
#ifdef PULJED_CRASHTEST
	const char *keep = getenv("PULJED_DUMPABLE");
	if (keep && !strcmp(keep, "1"))
		return;
#endif
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_warning("cannot make the process non-dumpable: %m");
}

int main(int argc, char **argv)
{
	enum { OPT_ONCE = 256, OPT_CHECK, OPT_VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },       { "once", no_argument, NULL, OPT_ONCE },
		{ "check-config", no_argument, NULL, OPT_CHECK }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },    { 0 },
	};
	const char *path = PULJED_DEFAULT_CONFIG;
	bool once = false, check = false;
	int c;

	log_setup("puljed");
	make_undumpable();
	/* Large buffers (a message, an attachment) come from mmap and go back
	 * to the system when freed, instead of glibc raising its threshold and
	 * keeping the peak of the largest message for the process's life. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
#ifdef PULJED_CRASHTEST
	arm_crashpoints();
#endif
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case OPT_ONCE:
			once = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("puljed %s\n", PULJED_VERSION);
			return 0;
		default:
			usage(stderr);
			return DAEMON_EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "puljed: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return DAEMON_EXIT_CONFIG;
	}

	struct config *cfg = NULL;
	g_autofree char *error = NULL;
	if (config_load(path, &cfg, &error) < 0) {
		log_error("%s", error);
		return DAEMON_EXIT_CONFIG;
	}
	if (check) {
		g_autofree char *perr = NULL, *warning = NULL;
		int r = config_check_files(cfg, &perr);
		if (r == 0)
			r = config_check_secret(cfg, &warning, &perr);
		if (r == 0)
			r = daemon_check_receipts(cfg, &perr);
		if (warning)
			log_warning("%s", warning);
		if (r < 0) {
			log_error("%s", perr);
			config_free(cfg);
			return DAEMON_EXIT_CONFIG;
		}
		printf("%s: ok (%zu call%s, database %s)\n", path, cfg->n_calls, cfg->n_calls == 1 ? "" : "s",
		       cfg->database);
		config_free(cfg);
		return 0;
	}
	int code = daemon_run(path, &cfg, once);
	config_free(cfg);
	return code;
}
