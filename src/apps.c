#include "apps.h"

#include <string.h>

struct pending {
	char *call, *from;
	struct apps_app one; /* the message as an application of its own */
};

struct apps {
	GPtrArray *apps;    /* struct apps_app * */
	GPtrArray *pending; /* struct pending *: messages without an applicant */
};

/* Best first. */
static int status_rank(enum rules_status s)
{
	return s == RULES_ACCEPTED ? 0 : s == RULES_REVIEW ? 1 : s == RULES_LATE ? 2 : 3;
}

static int signature_rank(enum cms_status s)
{
	return s == CMS_VALID ? 0 : s == CMS_INVALID ? 1 : 2;
}

static void app_clear(struct apps_app *a)
{
	g_free(a->call);
	g_free(a->applicant);
	g_free(a->key);
	if (a->ids)
		g_array_free(a->ids, TRUE);
	if (a->from)
		g_ptr_array_free(a->from, TRUE);
	g_free(a->first);
	g_free(a->last);
	g_free(a->signer);
	g_free(a->form_reason);
	g_free(a->why);
	g_free(a->decision);
	g_free(a->decision_note);
	g_free(a->decision_user);
}

static void app_free(gpointer p)
{
	app_clear(p);
	g_free(p);
}

static void pending_free(gpointer p)
{
	struct pending *q = p;
	g_free(q->call);
	g_free(q->from);
	app_clear(&q->one);
	g_free(q);
}

static char *applicant_key(const char *applicant)
{
	if (!applicant)
		return NULL;
	g_autofree char *nfc = g_utf8_normalize(applicant, -1, G_NORMALIZE_NFKC);
	g_autofree char *folded = g_utf8_casefold(nfc ? nfc : applicant, -1);
	g_auto(GStrv) words = g_strsplit_set(folded, " \t", -1);
	GString *k = g_string_new(NULL);
	for (size_t i = 0; words[i]; i++) {
		if (!*words[i])
			continue;
		if (k->len)
			g_string_append_c(k, ' ');
		g_string_append(k, words[i]);
	}
	return g_string_free(k, FALSE);
}

static bool has_from(const struct apps_app *a, const char *from)
{
	for (guint i = 0; from && i < a->from->len; i++)
		if (!g_ascii_strcasecmp(g_ptr_array_index(a->from, i), from))
			return true;
	return false;
}

static void app_init(struct apps_app *a, const char *call, const char *applicant)
{
	memset(a, 0, sizeof(*a));
	a->call = g_strdup(call);
	a->applicant = g_strdup(applicant);
	a->key = applicant_key(applicant);
	a->ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	a->from = g_ptr_array_new_with_free_func(g_free);
	a->on_time = -1;
	a->status = RULES_UNRELATED; /* none yet: any message's is better */
}

static void set_str(char **dst, const char *v)
{
	g_free(*dst);
	*dst = g_strdup(v);
}

/* Folds SRC (one message, or an application) into A. */
static void merge(struct apps_app *a, const struct apps_app *src)
{
	g_array_append_vals(a->ids, src->ids->data, src->ids->len);
	for (guint i = 0; i < src->from->len; i++)
		if (!has_from(a, g_ptr_array_index(src->from, i)))
			g_ptr_array_add(a->from, g_strdup(g_ptr_array_index(src->from, i)));
	if (src->first && (!a->first || src->first_t < a->first_t)) {
		set_str(&a->first, src->first);
		a->first_t = src->first_t;
	}
	if (src->last && (!a->last || src->last_t >= a->last_t)) {
		set_str(&a->last, src->last);
		a->last_t = src->last_t;
	}
	if (src->on_time == 1)
		a->on_time = 1;
	else if (src->on_time == 0 && a->on_time < 0)
		a->on_time = 0;
	int src_rank = src->form ? signature_rank(src->form_signature) : 0,
	    a_rank = a->form ? signature_rank(a->form_signature) : 0;
	/* Of two valid signatures, one that holds for a caseworker (not
	 * modified after signing, not by an untrusted signer) is better. */
	bool src_holds = !src->form_modified && !src->form_untrusted, a_holds = !a->form_modified && !a->form_untrusted;
	if (src->form && (!a->form || src_rank < a_rank || (src_rank == a_rank && src_holds && !a_holds))) {
		a->form = true;
		a->form_signature = src->form_signature;
		set_str(&a->signer, src->signer);
		set_str(&a->form_reason, src->form_reason);
		a->form_modified = src->form_modified;
		a->form_untrusted = src->form_untrusted;
	}
	if (status_rank(src->status) < status_rank(a->status)) {
		a->status = src->status;
		set_str(&a->why, src->why);
	}
	if (src->decision && src->decision_at >= a->decision_at) {
		set_str(&a->decision, src->decision);
		set_str(&a->decision_note, src->decision_note);
		set_str(&a->decision_user, src->decision_user);
		a->decision_at = src->decision_at;
	}
}

/* Message M as an application of its own. */
static void from_message(struct apps_app *one, const struct store_message *m, const struct apps_form *form)
{
	app_init(one, m->call, m->applicant);
	g_array_append_val(one->ids, m->id);
	if (m->from_addr)
		g_ptr_array_add(one->from, g_strdup(m->from_addr));
	if (m->received_at) {
		one->first = g_strdup(m->received_at);
		one->last = g_strdup(m->received_at);
		one->first_t = one->last_t = m->received_epoch;
	}
	one->on_time = m->on_time;
	if (form && form->found) {
		one->form = true;
		one->form_signature = form->signature;
		one->signer = g_strdup(form->signer);
		one->form_modified = form->modified;
		one->form_untrusted = form->untrusted;
		one->form_reason = g_strdup(form->reason);
	}
	one->status = m->status;
	one->why = form ? g_strdup(form->why) : NULL;
	if (m->decision) {
		one->decision = g_strdup(m->decision);
		one->decision_note = g_strdup(m->decision_note);
		one->decision_user = g_strdup(m->decision_user);
		one->decision_at = m->decision_at;
	}
}

struct apps *apps_new(void)
{
	struct apps *a = g_new0(struct apps, 1);
	a->apps = g_ptr_array_new_with_free_func(app_free);
	a->pending = g_ptr_array_new_with_free_func(pending_free);
	return a;
}

void apps_free(struct apps *a)
{
	if (!a)
		return;
	g_ptr_array_free(a->apps, TRUE);
	g_ptr_array_free(a->pending, TRUE);
	g_free(a);
}

void apps_add(struct apps *a, const struct store_message *m, const struct apps_form *form)
{
	if (!m->call || m->status == RULES_UNRELATED || m->duplicate_of)
		return;
	if (!m->applicant) {
		struct pending *p = g_new0(struct pending, 1);
		p->call = g_strdup(m->call);
		p->from = g_strdup(m->from_addr);
		from_message(&p->one, m, form);
		g_ptr_array_add(a->pending, p);
		return;
	}
	g_autofree char *key = applicant_key(m->applicant);
	struct apps_app *app = NULL;
	for (guint i = 0; i < a->apps->len && !app; i++) {
		struct apps_app *c = g_ptr_array_index(a->apps, i);
		if (!strcmp(c->call, m->call) && c->key && !strcmp(c->key, key))
			app = c;
	}
	if (!app) {
		app = g_new0(struct apps_app, 1);
		app_init(app, m->call, m->applicant);
		g_ptr_array_add(a->apps, app);
	}
	struct apps_app one;
	from_message(&one, m, form);
	merge(app, &one);
	app_clear(&one);
}

static gint app_cmp(gconstpointer x, gconstpointer y)
{
	const struct apps_app *a = *(const struct apps_app *const *)x, *b = *(const struct apps_app *const *)y;
	int c = strcmp(a->call, b->call);
	if (c)
		return c;
	return a->first_t < b->first_t ? -1 : a->first_t > b->first_t;
}

GPtrArray *apps_finish(struct apps *a)
{
	for (guint i = 0; i < a->pending->len; i++) {
		struct pending *p = g_ptr_array_index(a->pending, i);
		struct apps_app *app = NULL;
		for (guint j = 0; j < a->apps->len && !app; j++) {
			struct apps_app *c = g_ptr_array_index(a->apps, j);
			if (!strcmp(c->call, p->call) && p->from && has_from(c, p->from))
				app = c;
		}
		if (!app) {
			app = g_new0(struct apps_app, 1);
			app_init(app, p->call, NULL);
			g_ptr_array_add(a->apps, app);
		}
		merge(app, &p->one);
	}
	g_ptr_array_set_size(a->pending, 0);
	g_ptr_array_sort(a->apps, app_cmp);
	return a->apps;
}
