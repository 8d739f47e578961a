/* actions-imap: the after-ingest server action ([imap] after_ingest) as
 * two action kinds, keyword and move, on the session's SELECTed mailbox. */
#include "actions.h"
#include "imap.h"

#include <glib.h>

static bool keyword_chosen(const struct config *cfg)
{
	return cfg->imap.after_ingest == CONFIG_AFTER_KEYWORD;
}

static bool move_chosen(const struct config *cfg)
{
	return cfg->imap.after_ingest == CONFIG_AFTER_MOVE;
}

/* A message recorded without its body (too large, gone) stays untouched
 * on the server. */
static bool wanted(const struct config *cfg, const struct store_message *msg, bool fetched)
{
	(void)cfg;
	(void)msg;
	return fetched;
}

static const char *keyword_target(const struct config *cfg)
{
	return cfg->imap.after_ingest_keyword;
}

static const char *move_target(const struct config *cfg)
{
	return cfg->imap.after_ingest_folder;
}

/* The IMAP command of a kind on UIDS of the selected mailbox. */
typedef int (*command)(struct imap *im, const uint32_t *uids, size_t n, const char *target);

static int run(const struct actions_context *c, command cmd, const char *target, const struct store_action *batch,
	       size_t n, const char **ret_error, bool *ret_stop)
{
	g_autofree uint32_t *uids = g_new(uint32_t, n);
	for (size_t i = 0; i < n; i++)
		uids[i] = batch[i].uid;
	int r = cmd(c->im, uids, n, target);
	if (r != IMAP_OK) {
		*ret_error = imap_errmsg(c->im);
		*ret_stop = r == IMAP_E_CANCELLED || !imap_usable(c->im);
	}
	return r;
}

static int keyword_run(const struct actions_context *c, const struct store_action *batch, size_t n,
		       const char **ret_error, bool *ret_stop)
{
	return run(c, imap_add_keyword, keyword_target(c->cfg), batch, n, ret_error, ret_stop);
}

static int move_run(const struct actions_context *c, const struct store_action *batch, size_t n, const char **ret_error,
		    bool *ret_stop)
{
	return run(c, imap_move, move_target(c->cfg), batch, n, ret_error, ret_stop);
}

const struct actions_kind actions_imap_keyword = {
	.name = "keyword",
	.promise = STORE_SERVER_ACTION_PROMISE,
	.needs = ACTIONS_NEED_MAILBOX,
	.chosen = keyword_chosen,
	.wanted = wanted,
	.target = keyword_target,
	.run = keyword_run,
};

const struct actions_kind actions_imap_move = {
	.name = "move",
	.promise = STORE_SERVER_ACTION_PROMISE,
	.needs = ACTIONS_NEED_MAILBOX,
	.chosen = move_chosen,
	.wanted = wanted,
	.target = move_target,
	.run = move_run,
};
