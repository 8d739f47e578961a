/* puljectl: the operator's CLI — options, then one ctl_* command. */
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
		"  status [--json]                   counts, watermark, last poll; exit 1 when stale\n"
		"  list [--json]                     every recorded message\n"
		"  show ID [--json]                  one record in full, with its evidence\n"
		"  applications [--json]             one row per call and applicant\n"
		"  extract ID DIR                    write record ID's attachments into DIR\n"
		"  reclassify [--dry-run]            re-run the configured rules over stored mail\n"
		"  decide ID accept|reject --note T  record an operator's decision\n"
		"  reconcile [--json]                compare the server's messages with the records\n"
		"  export [--format csv|json] [--call ID] [--messages] [--output FILE]\n"
		"                                    one row per application (or message)\n"
		"\n"
		"  -c, --config FILE   read the database path (and rules) from FILE\n"
		"                      (default %s)\n"
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

struct command {
	const char *name;
	int nargs;             /* positional arguments after the name */
	bool writes;           /* opens the database for writing */
	bool needs_config;     /* needs the rules, not just the database */
	const char *args_help;
};

static const struct command commands[] = {
	{ "status", 0, false, false, "takes no arguments" },
	{ "list", 0, false, false, "takes no arguments" },
	{ "show", 1, false, false, "needs a record ID" },
	{ "applications", 0, false, false, "takes no arguments" },
	{ "extract", 2, false, false, "needs a record ID and a directory" },
	{ "reclassify", 0, true, true, "takes no arguments" },
	{ "decide", 2, true, false, "needs a record ID and accept or reject" },
	{ "reconcile", 0, false, true, "takes no arguments" },
	{ "export", 0, false, false, "takes options only" },
};

int main(int argc, char **argv)
{
	enum { OPT_DRY_RUN = 256, OPT_NOTE, OPT_FORMAT, OPT_CALL, OPT_MESSAGES, OPT_OUTPUT };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "call", required_argument, NULL, OPT_CALL },
		{ "messages", no_argument, NULL, OPT_MESSAGES },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = NULL, *db = NULL, *note = NULL;
	struct ctl_export_options ex = { 0 };
	bool json = false, dry_run = false;
	int c;

	/* Options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'd': db = optarg; break;
		case 'j': json = true; break;
		case OPT_DRY_RUN: dry_run = true; break;
		case OPT_NOTE: note = optarg; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "csv") && strcmp(optarg, "json")) {
				fprintf(stderr, "puljectl: --format is csv or json, not \"%s\"\n", optarg);
				return CTL_EXIT_USAGE;
			}
			ex.json = !strcmp(optarg, "json");
			break;
		case OPT_CALL: ex.call = optarg; break;
		case OPT_MESSAGES: ex.messages = true; break;
		case OPT_OUTPUT: ex.output = optarg; break;
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
	const char *name = argv[optind];
	char **args = argv + optind + 1;
	int nargs = argc - optind - 1;
	const struct command *cmd = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (!strcmp(commands[i].name, name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "puljectl: unknown command \"%s\"\n", name);
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	int64_t id = 0;
	if (nargs != cmd->nargs || (cmd->nargs && parse_id(args[0], &id) < 0)) {
		fprintf(stderr, "puljectl: %s: %s\n", name, cmd->args_help);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(name, "decide") && strcmp(args[1], "accept") && strcmp(args[1], "reject")) {
		fprintf(stderr, "puljectl: decide: the decision is \"accept\" or \"reject\", not \"%s\"\n", args[1]);
		return CTL_EXIT_USAGE;
	}
	if (cmd->needs_config && db) {
		fprintf(stderr, "puljectl: %s needs the configuration: give --config, not --db\n", name);
		return CTL_EXIT_USAGE;
	}

	struct config *cfg = NULL;
	if (!db) {
		g_autofree char *error = NULL;
		if (config_load(config_path ? config_path : PULJED_DEFAULT_CONFIG, &cfg, &error) < 0) {
			fprintf(stderr, "puljectl: %s\n", error);
			return CTL_EXIT_USAGE;
		}
		db = cfg->database;
	}

	struct store *st = NULL;
	g_autofree char *error = NULL;
	if (store_open(db, cmd->writes ? STORE_UPDATE : STORE_READ_ONLY, &st, &error) < 0) {
		fprintf(stderr, "puljectl: %s\n", error);
		config_free(cfg);
		return CTL_EXIT_FAILURE;
	}
	int r;
	if (!strcmp(name, "status"))
		r = ctl_status(st, stdout, json, cfg ? cfg->poll_interval : 60);
	else if (!strcmp(name, "list"))
		r = ctl_list(st, stdout, json);
	else if (!strcmp(name, "show"))
		r = ctl_show(st, stdout, id, json);
	else if (!strcmp(name, "applications"))
		r = ctl_applications(st, stdout, json);
	else if (!strcmp(name, "extract"))
		r = ctl_extract(st, stdout, id, args[1]);
	else if (!strcmp(name, "reclassify"))
		r = ctl_reclassify(st, cfg, stdout, dry_run);
	else if (!strcmp(name, "export"))
		r = ctl_export(st, stdout, &ex);
	else if (!strcmp(name, "reconcile"))
		r = ctl_reconcile(st, cfg, stdout, json);
	else
		r = ctl_decide(st, stdout, id, args[1], note);
	store_close(st);
	config_free(cfg);
	if (fflush(stdout) != 0 && r == CTL_EXIT_OK)
		r = CTL_EXIT_FAILURE;
	return r;
}
