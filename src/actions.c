#include "actions.h"
#include "crashpoint.h"

#include <errno.h>
#include <glib.h>

/* Every kind, in the order their batches run. */
static const struct actions_kind *const kinds[] = {
	&actions_imap_keyword,
	&actions_imap_move,
	&actions_receipt,
};

bool actions_enabled(const struct config *cfg)
{
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		if (kinds[i]->chosen(cfg))
			return true;
	return false;
}

unsigned actions_needs(const struct config *cfg)
{
	unsigned needs = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		if (kinds[i]->chosen(cfg))
			needs |= kinds[i]->needs;
	return needs;
}

void actions_promise(const struct config *cfg, struct store_message *msg, bool fetched)
{
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
		const struct actions_kind *k = kinds[i];
		if (!k->chosen(cfg) || (k->wanted && !k->wanted(cfg, msg, fetched)))
			continue;
		bool have = false;
		for (size_t j = 0; j < msg->n_promises && !have; j++)
			have = !g_strcmp0(msg->promises[j], k->promise);
		g_assert(have || msg->n_promises < G_N_ELEMENTS(msg->promises));
		if (!have)
			msg->promises[msg->n_promises++] = k->promise;
	}
}

/* AT's time moves on with C's clock, never back. */
static void tick(const struct actions_context *c, struct actions_context *at)
{
	if (c->clock) {
		int64_t now = c->clock();
		at->now = MAX(at->now, now);
	}
}

/* A run_one kind: each due action carried out and settled before the
 * next; the store refusing to settle stops the run (what was carried out
 * and not marked is carried out again next time, as for a batch). */
static int run_each(const struct actions_context *c, const struct actions_kind *k, actions_cb cb, void *userdata)
{
	g_autofree struct store_action *due = NULL;
	size_t n = 0;
	if ((k->needs & ACTIONS_NEED_MAILBOX) && !c->im)
		return ACTIONS_OK;
	if (store_actions_due(c->store, k->promise, (k->needs & ACTIONS_NEED_MAILBOX) ? c->mailbox : NULL,
			      c->uidvalidity, c->now, &due, &n) < 0)
		return ACTIONS_E_STORE;
	if (n == 0)
		return ACTIONS_OK;
	void *state = k->begin ? k->begin(c) : NULL;
	struct actions_context at = *c; /* each action at its own time (c->clock) */
	int r = ACTIONS_OK;
	for (size_t i = 0; i < n && r == ACTIONS_OK; i++) {
		if (c->cancel && atomic_load(c->cancel))
			break;
		struct actions_verdict v = { .how = { .state = STORE_ACTION_PENDING } };
		tick(c, &at);
		crashpoint("action: about to carry out");
		k->run_one(state, &at, &due[i], &v);
		if (v.wait) {
			if (c->ret_wait_until && v.wait_until > *c->ret_wait_until)
				*c->ret_wait_until = v.wait_until;
			break;
		}
		if (v.how.state == STORE_ACTION_DONE)
			crashpoint("action: carried out, not yet marked");
		tick(c, &at);
		if (store_action_settle(c->store, due[i].id, &v.how, at.now) < 0) {
			r = ACTIONS_E_STORE;
			break;
		}
		struct actions_outcome o = { .kind = k,
					     .target = v.how.target,
					     .n = 1,
					     .done = v.how.state == STORE_ACTION_DONE,
					     .error = v.how.error,
					     .record = due[i].message,
					     .how = &v.how };
		if (cb)
			cb(&o, userdata);
	}
	if (k->end)
		k->end(state);
	return r;
}

/* One kind's batch: carried out, then marked. */
static int run_kind(const struct actions_context *c, const struct actions_kind *k, actions_cb cb, void *userdata)
{
	if (k->run_one)
		return run_each(c, k, cb, userdata);
	g_autofree struct store_action *batch = NULL;
	size_t n = 0;
	if ((k->needs & ACTIONS_NEED_MAILBOX) && !c->im)
		return ACTIONS_OK;
	if (store_actions_pending(c->store, k->promise, c->mailbox, c->uidvalidity, &batch, &n) < 0)
		return ACTIONS_E_STORE;
	if (n == 0)
		return ACTIONS_OK;
	g_autofree int64_t *ids = g_new(int64_t, n);
	for (size_t i = 0; i < n; i++)
		ids[i] = batch[i].id;
	const char *target = k->target(c->cfg), *error = NULL;
	bool stop = false;
	crashpoint("action: about to carry out");
	int r = k->run(c, batch, n, &error, &stop);
	struct actions_outcome o = { .kind = k, .target = target, .n = n, .done = r == 0 };
	if (r != 0) {
		o.error = error ? error : "failed";
		if (cb)
			cb(&o, userdata);
		/* Still pending whether or not this note is written. */
		store_actions_failed(c->store, ids, n, o.error, c->now);
		return stop ? r : ACTIONS_OK;
	}
	crashpoint("action: carried out, not yet marked");
	/* Not marked: still pending, carried out again (harmlessly) next time. */
	if (store_actions_done(c->store, ids, n, k->name, target, c->now) < 0)
		return ACTIONS_E_STORE;
	if (cb)
		cb(&o, userdata);
	return ACTIONS_OK;
}

int actions_run_kinds(const struct actions_context *c, const struct actions_kind *const *table, size_t n, actions_cb cb,
		      void *userdata)
{
	for (size_t i = 0; i < n; i++) {
		if (!table[i]->chosen(c->cfg))
			continue;
		int r = run_kind(c, table[i], cb, userdata);
		if (r != ACTIONS_OK)
			return r;
	}
	return ACTIONS_OK;
}

int actions_next_due_kinds(const struct config *cfg, struct store *st, const struct actions_kind *const *table,
			   size_t n, int64_t *ret_at)
{
	int64_t first = INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		int64_t at;
		if (!table[i]->run_one || !table[i]->chosen(cfg))
			continue;
		int r = store_actions_next_at(st, table[i]->promise, &at);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		first = MIN(first, at);
	}
	if (first == INT64_MAX)
		return -ENOENT;
	*ret_at = first;
	return 0;
}

int actions_next_due(const struct config *cfg, struct store *st, int64_t *ret_at)
{
	return actions_next_due_kinds(cfg, st, kinds, G_N_ELEMENTS(kinds), ret_at);
}

int actions_run(const struct actions_context *c, actions_cb cb, void *userdata)
{
	return actions_run_kinds(c, kinds, G_N_ELEMENTS(kinds), cb, userdata);
}
