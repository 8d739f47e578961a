/* puljectl: the operator's CLI — options, then one ctl_* command. */
#include "config.h"
#include "ctl.h"
#include "puljed-build.h"
#include "store.h"
#include "table.h"

#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: puljectl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  status [--json]                    counts, watermark, last poll; exit 1 when stale\n"
		"  list [--json] [FILTERS]            recorded messages, one row each\n"
		"  show ID [--json]                   one record in full, with its evidence\n"
		"  applications [--json] [FILTERS]    one row per call and applicant\n"
		"  summary [--json] [--call ID]       the pool overview per call: applications by\n"
		"                                     status, deadline, form, signature and day,\n"
		"                                     and those that need a person\n"
		"  raw ID [--output FILE]             record ID's raw message, byte for byte, to\n"
		"                                     standard output or a new FILE (-o FILE)\n"
		"  extract ID DIR                     write record ID's attachments into DIR\n"
		"  reclassify [--dry-run] [--json]    re-run the configured rules over stored mail\n"
		"  decide ID accept|reject --note TEXT\n"
		"                                     record an operator's decision\n"
		"  reconcile [--json]                 compare the server's messages with the records\n"
		"  export [--format csv|json] [--messages] [--output FILE] [FILTERS]\n"
		"                                     one row per application (or per message)\n"
		"  report --output DIR [--call ID]    an HTML report with the attachments and raw\n"
		"                                     messages, for caseworkers\n"
		"  ledger [--call ID] [--output FILE]\n"
		"                                     the list of received applications to publish:\n"
		"                                     reference, arrival, on time, SHA-256 prefix,\n"
		"                                     no names; a new FILE.html or FILE.csv\n"
		"  verify [--json]                    check every stored message and attachment\n"
		"                                     against its SHA-256, and the database;\n"
		"                                     exit 1 on any difference\n"
		"  receipts [--json]                  the receipts to applicants: due, sent,\n"
		"                                     failed and skipped, with why\n"
		"  receipt send ID [--again]          queue record ID's receipt (one made before\n"
		"                                     receipts were on, or skipped or failed);\n"
		"                                     the daemon sends it within seconds\n"
		"\n"
		"Filters:\n"
		"      --status LIST   only these statuses: accepted, late, review, unrelated\n"
		"                      (comma-separated)\n"
		"      --call ID       only this call\n"
		"      --since DATE    only what arrived at or after DATE (2022-06-01, in the\n"
		"                      call's time zone, or an ISO 8601 timestamp)\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   read the database path (and rules) from FILE\n"
		"                      (default %s)\n"
		"  -d, --db FILE       use this database directly\n"
		"      --color WHEN    colour in tables: auto (on a terminal, unless NO_COLOR\n"
		"                      is set), always, never\n"
		"  -h, --help          show this help\n"
		"      --version       show the version\n"
		"\n"
		"Exit status: 0 ok, 1 failure (status: stale; reconcile: messages missing;\n"
		"verify: a difference),\n"
		"2 usage or configuration, 3 no such record.\n",
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

/* What each command takes besides its positional arguments. */
enum {
	TAKES_JSON = 1 << 0,
	TAKES_FILTERS = 1 << 1, /* --status --call --since */
	TAKES_DRY_RUN = 1 << 2,
	TAKES_NOTE = 1 << 3,
	TAKES_EXPORT = 1 << 4, /* --format --messages --output */
	TAKES_OUTPUT = 1 << 5, /* --output */
	TAKES_CALL = 1 << 6,   /* --call alone */
	TAKES_AGAIN = 1 << 7,  /* --again */
};

/* What a command's handler gets: the open store, the configuration (NULL
 * with --db) and the options and arguments given. */
struct invocation {
	struct store *st;
	const struct config *cfg;
	const char *db;
	const struct ctl_output *o;
	const struct ctl_export_options *ex;
	char **args;
	int64_t id; /* the first argument, when the command takes one */
	bool dry_run;
	bool again;
	const char *note;
};

static int cmd_status(const struct invocation *c)
{
	return ctl_status(c->st, c->o, c->cfg ? c->cfg->poll_interval : 60, c->db);
}

static int cmd_list(const struct invocation *c)
{
	return ctl_list(c->st, c->o, &c->ex->filter);
}

static int cmd_show(const struct invocation *c)
{
	return ctl_show(c->st, c->o, c->id);
}

static int cmd_applications(const struct invocation *c)
{
	return ctl_applications(c->st, c->o, &c->ex->filter);
}

static int cmd_summary(const struct invocation *c)
{
	return ctl_summary(c->st, c->o, &c->ex->filter);
}

static int cmd_raw(const struct invocation *c)
{
	return ctl_raw(c->st, c->o->out, c->id, c->ex->output);
}

static int cmd_extract(const struct invocation *c)
{
	return ctl_extract(c->st, c->o->out, c->id, c->args[1]);
}

static int cmd_reclassify(const struct invocation *c)
{
	return ctl_reclassify(c->st, c->cfg, c->o, c->dry_run);
}

static int check_decide(char **args, const struct ctl_export_options *ex)
{
	if (strcmp(args[1], "accept") && strcmp(args[1], "reject")) {
		fprintf(stderr, "puljectl: decide: the decision is \"accept\" or \"reject\", not \"%s\"\n", args[1]);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int cmd_decide(const struct invocation *c)
{
	return ctl_decide(c->st, c->o->out, c->id, c->args[1], c->note);
}

static int cmd_reconcile(const struct invocation *c)
{
	return ctl_reconcile(c->st, c->cfg, c->o);
}

static int cmd_export(const struct invocation *c)
{
	return ctl_export(c->st, c->o->out, c->ex);
}

static int check_report(char **args, const struct ctl_export_options *ex)
{
	if (!ex->output) {
		fprintf(stderr, "puljectl: report needs --output DIR\n");
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int cmd_report(const struct invocation *c)
{
	return ctl_report(c->st, c->cfg, c->o->out, c->ex->output, &c->ex->filter);
}

static int cmd_receipts(const struct invocation *c)
{
	return ctl_receipts(c->st, c->o);
}

static int check_receipt(char **args, const struct ctl_export_options *ex)
{
	if (strcmp(args[0], "send")) {
		fprintf(stderr, "puljectl: receipt: the subcommand is \"send\" (receipt send ID), not \"%s\"\n",
			args[0]);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int cmd_receipt(const struct invocation *c)
{
	return ctl_receipt_send(c->st, c->cfg, c->o->out, c->id, c->again);
}

static int check_ledger(char **args, const struct ctl_export_options *ex)
{
	bool html;
	if (ex->output && !ctl_ledger_format(ex->output, &html)) {
		fprintf(stderr,
			"puljectl: ledger: --output %s: the name ends in .html, .htm or .csv (the format "
			"follows it)\n",
			ex->output);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int cmd_ledger(const struct invocation *c)
{
	return ctl_ledger(c->st, c->o, c->ex->filter.call, c->ex->output, (int64_t)time(NULL));
}

static int cmd_verify(const struct invocation *c)
{
	return ctl_verify(c->st, c->o);
}

struct command {
	const char *name;
	int nargs;         /* positional arguments after the name */
	bool writes;       /* opens the database for writing */
	bool needs_config; /* needs the rules, not just the database */
	unsigned takes;
	const char *args_help;
	int (*run)(const struct invocation *c);
	/* Checks the arguments further before anything is opened (or NULL):
	 * CTL_EXIT_OK, or an exit status after a message. */
	int (*check)(char **args, const struct ctl_export_options *ex);
	int id_arg; /* which positional argument is the record ID (when nargs > 0) */
};

static const struct command commands[] = {
	{ "status", 0, false, false, TAKES_JSON, "takes no arguments", cmd_status, NULL },
	{ "list", 0, false, false, TAKES_JSON | TAKES_FILTERS, "takes no arguments", cmd_list, NULL },
	{ "show", 1, false, false, TAKES_JSON, "needs a record ID", cmd_show, NULL },
	{ "applications", 0, false, false, TAKES_JSON | TAKES_FILTERS, "takes no arguments", cmd_applications, NULL },
	{ "summary", 0, false, false, TAKES_JSON | TAKES_CALL, "takes no arguments", cmd_summary, NULL },
	{ "raw", 1, false, false, TAKES_OUTPUT, "needs a record ID", cmd_raw, NULL },
	{ "extract", 2, false, false, 0, "needs a record ID and a directory", cmd_extract, NULL },
	{ "reclassify", 0, true, true, TAKES_JSON | TAKES_DRY_RUN, "takes no arguments", cmd_reclassify, NULL },
	{ "decide", 2, true, false, TAKES_NOTE, "needs a record ID and accept or reject", cmd_decide, check_decide },
	{ "reconcile", 0, false, true, TAKES_JSON, "takes no arguments", cmd_reconcile, NULL },
	{ "export", 0, false, false, TAKES_EXPORT | TAKES_FILTERS, "takes options only", cmd_export, NULL },
	{ "report", 0, false, true, TAKES_OUTPUT | TAKES_CALL, "takes options only (--output DIR)", cmd_report,
	  check_report },
	{ "ledger", 0, false, true, TAKES_OUTPUT | TAKES_CALL, "takes options only", cmd_ledger, check_ledger },
	{ "verify", 0, false, false, TAKES_JSON, "takes no arguments", cmd_verify, NULL },
	{ "receipts", 0, false, false, TAKES_JSON, "takes no arguments", cmd_receipts, NULL },
	{ "receipt", 2, true, false, TAKES_AGAIN, "needs \"send\" and a record ID", cmd_receipt, check_receipt, 1 },
};

/* Which TAKES_* bit an option needs, and its name for the error. */
struct given {
	unsigned bit;
	const char *name;
};

int main(int argc, char **argv)
{
	enum {
		OPT_DRY_RUN = 256,
		OPT_AGAIN,
		OPT_NOTE,
		OPT_FORMAT,
		OPT_CALL,
		OPT_MESSAGES,
		OPT_OUTPUT,
		OPT_STATUS,
		OPT_SINCE,
		OPT_COLOR,
		OPT_VERSION
	};
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "again", no_argument, NULL, OPT_AGAIN },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "call", required_argument, NULL, OPT_CALL },
		{ "messages", no_argument, NULL, OPT_MESSAGES },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "colour", required_argument, NULL, OPT_COLOR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	const char *config_path = NULL, *db = NULL, *note = NULL, *since = NULL, *color = "auto";
	struct ctl_export_options ex = { 0 };
	bool json = false, dry_run = false, again = false;
	struct given given[16];
	size_t n_given = 0;
	int c;

	/* Tables measure text by the character set: UTF-8, as everything
	 * puljed stores is, whatever the caller's locale. */
	if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8"))
		setlocale(LC_CTYPE, "C.UTF-8");
	/* Options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "c:d:ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'j':
			json = true;
			given[n_given++] = (struct given){ TAKES_JSON, "--json" };
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			given[n_given++] = (struct given){ TAKES_DRY_RUN, "--dry-run" };
			break;
		case OPT_AGAIN:
			again = true;
			given[n_given++] = (struct given){ TAKES_AGAIN, "--again" };
			break;
		case OPT_NOTE:
			note = optarg;
			given[n_given++] = (struct given){ TAKES_NOTE, "--note" };
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "csv") && strcmp(optarg, "json")) {
				fprintf(stderr, "puljectl: --format is csv or json, not \"%s\"\n", optarg);
				return CTL_EXIT_USAGE;
			}
			ex.json = !strcmp(optarg, "json");
			given[n_given++] = (struct given){ TAKES_EXPORT, "--format" };
			break;
		case OPT_CALL:
			ex.filter.call = optarg;
			given[n_given++] = (struct given){ TAKES_FILTERS | TAKES_CALL, "--call" };
			break;
		case OPT_MESSAGES:
			ex.messages = true;
			given[n_given++] = (struct given){ TAKES_EXPORT, "--messages" };
			break;
		case 'o':
		case OPT_OUTPUT:
			ex.output = optarg;
			given[n_given++] = (struct given){ TAKES_EXPORT | TAKES_OUTPUT, "--output" };
			break;
		case OPT_STATUS: {
			g_autofree char *bad = NULL;
			if (ctl_parse_statuses(optarg, &ex.filter.statuses, &bad) < 0) {
				fprintf(stderr,
					"puljectl: --status: \"%s\" is not one of accepted, late, review, unrelated\n",
					bad);
				return CTL_EXIT_USAGE;
			}
			given[n_given++] = (struct given){ TAKES_FILTERS, "--status" };
			break;
		}
		case OPT_SINCE:
			since = optarg;
			given[n_given++] = (struct given){ TAKES_FILTERS, "--since" };
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never")) {
				fprintf(stderr, "puljectl: --color is auto, always or never, not \"%s\"\n", optarg);
				return CTL_EXIT_USAGE;
			}
			color = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case OPT_VERSION:
			printf("puljectl %s\n", PULJED_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
		if (n_given == G_N_ELEMENTS(given)) {
			fprintf(stderr, "puljectl: too many options\n");
			return CTL_EXIT_USAGE;
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
	/* An option the command does not take is an error, not ignored. */
	for (size_t i = 0; i < n_given; i++)
		if (!(cmd->takes & given[i].bit)) {
			fprintf(stderr, "puljectl: %s does not take %s\n", name, given[i].name);
			return CTL_EXIT_USAGE;
		}
	int64_t id = 0;
	if (nargs != cmd->nargs || (cmd->nargs && parse_id(args[cmd->id_arg], &id) < 0)) {
		fprintf(stderr, "puljectl: %s: %s\n", name, cmd->args_help);
		return CTL_EXIT_USAGE;
	}
	if (cmd->check) {
		int r = cmd->check(args, &ex);
		if (r != CTL_EXIT_OK)
			return r;
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
	if (cfg && ex.filter.call) {
		/* A mistyped call would give an empty export or report that looks
		 * like "no applications"; records of a call since removed from the
		 * configuration are still reached with --db. */
		bool known = false;
		g_autoptr(GString) ids = g_string_new(NULL);
		for (size_t i = 0; i < cfg->n_calls; i++) {
			known |= !strcmp(ex.filter.call, cfg->calls[i].id);
			g_string_append_printf(ids, "%s%s", i ? ", " : "", cfg->calls[i].id);
		}
		if (!known) {
			fprintf(stderr,
				"puljectl: --call: no call \"%s\" in %s (its calls: %s; --db reaches records of "
				"other calls)\n",
				ex.filter.call, cfg->path, ids->str);
			config_free(cfg);
			return CTL_EXIT_USAGE;
		}
	}
	if (since) {
		/* A date is read in the call's zone: the one given, else the first. */
		const char *tz = NULL;
		for (size_t i = 0; cfg && i < cfg->n_calls; i++)
			if (!tz || (ex.filter.call && !strcmp(ex.filter.call, cfg->calls[i].id)))
				tz = cfg->calls[i].timezone;
		if (ctl_parse_since(since, tz, &ex.filter.since) < 0) {
			fprintf(stderr,
				"puljectl: --since: \"%s\" is not a date (2022-06-01) or an ISO 8601 timestamp\n",
				since);
			config_free(cfg);
			return CTL_EXIT_USAGE;
		}
		ex.filter.has_since = true;
	}

	struct store *st = NULL;
	g_autofree char *error = NULL;
	int so = store_open(db, cmd->writes ? STORE_UPDATE : STORE_READ_ONLY, &st, &error);
	if (so < 0) {
		/* Before the first poll there is no file: say so, not why SQLite
		 * could not open it. */
		if (so == -ENOENT)
			fprintf(stderr, "puljectl: no database yet at %s — puljed has not run\n", db);
		else
			fprintf(stderr, "puljectl: %s\n", error);
		config_free(cfg);
		return CTL_EXIT_FAILURE;
	}
	ctl_set_zone(ctl_zone(cfg, ex.filter.call));
	struct ctl_output o = { stdout, json, table_want_color(color, STDOUT_FILENO), table_width(STDOUT_FILENO), cfg };
	ex.cfg = cfg;
	struct invocation inv = { st, cfg, db, &o, &ex, args, id, dry_run, again, note };
	int r = cmd->run(&inv);
	ctl_set_zone(NULL);
	store_close(st);
	config_free(cfg);
	if (fflush(stdout) != 0 && r == CTL_EXIT_OK)
		r = CTL_EXIT_FAILURE;
	return r;
}
