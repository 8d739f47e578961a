/* puljectl: the operator's CLI — options, then one ctl_* command on a
 * read-only store. */
#include "config.h"
#include "ctl.h"
#include "puljed-build.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: puljectl [--config FILE | --db FILE] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  status [--json]         counts by status, watermark, last poll\n"
		"  list [--json]           every recorded message\n"
		"  show ID [--json]        one record in full\n"
		"  extract ID DIR          write record ID's attachments into DIR\n"
		"\n"
		"  -c, --config FILE   read the database path from FILE (default %s)\n"
		"  -d, --db FILE       use this database directly\n"
		"  -h, --help          show this help\n",
		PULJED_DEFAULT_CONFIG);
}

static int parse_id(const char *s, int64_t *id)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || !*s || *end || v <= 0)
		return -EINVAL;
	*id = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = NULL, *db = NULL;
	bool json = false;
	int c;

	/* Options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'd': db = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return CTL_EXIT_OK;
		default: usage(stderr); return CTL_EXIT_USAGE;
		}
	}
	if (config_path && db) {
		fprintf(stderr, "puljectl: give --config or --db, not both\n");
		return CTL_EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	char **args = argv + optind + 1;
	int nargs = argc - optind - 1;

	struct config *cfg = NULL;
	if (!db) {
		g_autofree char *error = NULL;
		if (config_load(config_path ? config_path : PULJED_DEFAULT_CONFIG, &cfg, &error) < 0) {
			fprintf(stderr, "puljectl: %s\n", error);
			return CTL_EXIT_USAGE;
		}
		db = cfg->database;
	}

	int64_t id = 0;
	int want_args = !strcmp(cmd, "show") ? 1 : !strcmp(cmd, "extract") ? 2 : 0;
	if (strcmp(cmd, "status") && strcmp(cmd, "list") && strcmp(cmd, "show") && strcmp(cmd, "extract")) {
		fprintf(stderr, "puljectl: unknown command \"%s\"\n", cmd);
		usage(stderr);
		config_free(cfg);
		return CTL_EXIT_USAGE;
	}
	if (nargs != want_args || (want_args && parse_id(args[0], &id) < 0)) {
		fprintf(stderr, "puljectl: %s: %s\n", cmd,
			want_args == 0 ? "takes no arguments" : want_args == 1 ? "needs a record ID" : "needs a record ID and a directory");
		config_free(cfg);
		return CTL_EXIT_USAGE;
	}

	struct store *st = NULL;
	g_autofree char *error = NULL;
	if (store_open(db, STORE_READ_ONLY, &st, &error) < 0) {
		fprintf(stderr, "puljectl: %s\n", error);
		config_free(cfg);
		return CTL_EXIT_FAILURE;
	}
	int r;
	if (!strcmp(cmd, "status"))
		r = ctl_status(st, stdout, json);
	else if (!strcmp(cmd, "list"))
		r = ctl_list(st, stdout, json);
	else if (!strcmp(cmd, "show"))
		r = ctl_show(st, stdout, id, json);
	else
		r = ctl_extract(st, stdout, id, args[1]);
	store_close(st);
	config_free(cfg);
	if (fflush(stdout) != 0 && r == CTL_EXIT_OK)
		r = CTL_EXIT_FAILURE;
	return r;
}
