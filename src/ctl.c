/* ctl: what the commands share — filters, times, the applications and
 * the human layout.  Each command family has its file (ctl-*.c).  */
#include "ctl-common.h"
#include "datetime.h"
#include "report.h"
#include "term.h"
#include "why.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *ctl_iso_local(int64_t t)
{
	if (!t)
		return NULL;
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	return dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z") : NULL;
}

const char *ctl_zone(const struct config *cfg, const char *call)
{
	for (size_t i = 0; cfg && i < cfg->n_calls; i++)
		if (!call || !strcmp(cfg->calls[i].id, call))
			return cfg->calls[i].timezone ? cfg->calls[i].timezone : CTL_ZONE_DEFAULT;
	return CTL_ZONE_DEFAULT;
}

int ctl_record_exit(struct store *st, int64_t id, int r)
{
	if (r == -ENOENT) {
		fprintf(stderr, "puljectl: no record with id %" G_GINT64_FORMAT "\n", id);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "puljectl: %s\n", store_errmsg(st));
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

/* ---- filters ---- */

_Static_assert(CTL_STATUS_ACCEPTED == 1u << RULES_ACCEPTED && CTL_STATUS_LATE == 1u << RULES_LATE &&
		       CTL_STATUS_REVIEW == 1u << RULES_REVIEW && CTL_STATUS_UNRELATED == 1u << RULES_UNRELATED,
	       "a status's bit is 1 << its value");

unsigned ctl_status_bit(enum rules_status status)
{
	return (unsigned)status < RECORD_N_STATUS ? 1u << status : 0;
}

int ctl_parse_statuses(const char *list, unsigned *bits, char **bad)
{
	g_auto(GStrv) words = g_strsplit(list, ",", -1);
	*bits = 0;
	for (size_t i = 0; words[i]; i++) {
		g_strstrip(words[i]);
		enum rules_status status;
		if (!record_status_parse(words[i], &status)) {
			*bad = g_strdup(words[i]);
			return -EINVAL;
		}
		*bits |= ctl_status_bit(status);
	}
	if (!*bits) {
		*bad = g_strdup(list);
		return -EINVAL;
	}
	return 0;
}

int ctl_parse_since(const char *text, const char *tz_name, int64_t *since)
{
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(tz_name ? tz_name : "Europe/Copenhagen");
	if (!tz)
		return -EINVAL;
	int y, m, d;
	char end;
	/* A day starts at its midnight; datetime_parse_deadline reads a bare
	 * date as the day's end. */
	if (sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &end) == 3 && strlen(text) == 10) {
		g_autofree char *midnight = g_strdup_printf("%sT00:00:00", text);
		return datetime_parse_deadline(midnight, tz, since) < 0 ? -EINVAL : 0;
	}
	return datetime_parse_deadline(text, tz, since) < 0 ? -EINVAL : 0;
}

/* Whether message M passes F (STATUSES too when WITH_STATUS). */
bool ctl_filter_message(const struct ctl_filter *f, const struct store_message *m, bool with_status)
{
	if (!f)
		return true;
	if (f->call && g_strcmp0(m->call, f->call))
		return false;
	if (f->has_since && (!m->has_received || m->received_epoch < f->since))
		return false;
	if (with_status && f->statuses && !(f->statuses & ctl_status_bit(m->status)))
		return false;
	return true;
}

/* The colour a status is shown in on a terminal. */
const char *ctl_status_color(enum rules_status status)
{
	static const char *const colors[] = { [RULES_ACCEPTED] = "green",
					      [RULES_LATE] = "red",
					      [RULES_REVIEW] = "yellow",
					      [RULES_UNRELATED] = "gray" };
	return (unsigned)status < G_N_ELEMENTS(colors) ? colors[status] : NULL;
}

/* "2022-06-15T10:12:00+02:00" -> "2022-06-15 10:12" (NULL stays NULL). */
char *ctl_short_time(const char *iso)
{
	if (!iso || strlen(iso) < 16)
		return NULL;
	char *s = g_strndup(iso, 16);
	s[10] = ' ';
	return s;
}

int ctl_find_form(const struct store_attachment *a, void *userdata)
{
	struct ctl_form_info *f = userdata;
	if (!a->form || f->found)
		return 0;
	f->found = true;
	f->signature = a->signature;
	f->signer = g_strdup(a->signer);
	f->modified = a->modified_after_signing == 1;
	f->untrusted = a->signer_trusted == 0;
	f->reason = g_strdup(a->signature_reason);
	return 0;
}

/* The form's signature in a caseworker's words (report_signature_text). */
char *ctl_form_info_text(const struct ctl_form_info *f)
{
	if (!f->found)
		return NULL;
	struct report_signature sig = { f->signature, f->signer, f->modified, f->untrusted, f->reason };
	return report_signature_text(&sig, NULL);
}

/* M's why, its form's signer untrusted or not (UNTRUSTED). */
static char *why_of(const struct config *cfg, const struct store_message *m, bool untrusted)
{
	g_autoptr(JsonParser) p = json_parser_new();
	g_autoptr(GPtrArray) reasons = g_ptr_array_new();
	bool fuzzy = false;
	if (m->reasons && json_parser_load_from_data(p, m->reasons, -1, NULL) && json_parser_get_root(p) &&
	    JSON_NODE_HOLDS_ARRAY(json_parser_get_root(p))) {
		JsonArray *a = json_node_get_array(json_parser_get_root(p));
		for (guint i = 0; i < json_array_get_length(a); i++) {
			const char *r = json_node_get_string(json_array_get_element(a, i));
			if (!r)
				continue;
			g_ptr_array_add(reasons, (gpointer)r);
			fuzzy = fuzzy || g_str_has_prefix(r, "subject:fuzzy(") ||
				g_str_has_prefix(r, "subject:partial(");
		}
	}
	g_autofree char *typo = NULL;
	for (size_t i = 0; fuzzy && cfg && m->call && i < cfg->n_calls; i++)
		if (!strcmp(cfg->calls[i].id, m->call)) {
			struct rules_settings set = { cfg->fuzzy_threshold, cfg->word_similarity,
						      cfg->title_threshold };
			typo = rules_subject_typo(m->subject, cfg->calls[i].subject, &set);
		}
	struct why_input in = {
		.status = m->status,
		.reasons = (const char *const *)reasons->pdata,
		.n_reasons = reasons->len,
		.typo = typo,
		.signer_untrusted = untrusted,
	};
	return why_text(&in);
}

char *ctl_why(struct store *st, const struct config *cfg, const struct store_message *m)
{
	g_auto(CtlFormInfo) form = { 0 };
	if (m->status == RULES_ACCEPTED && st)
		(void)store_foreach_attachment(st, m->id, false, ctl_find_form, &form); /* a caveat, not a verdict */
	return why_of(cfg, m, form.found && form.signature == CMS_VALID && form.untrusted);
}

char *ctl_why_signer(const struct config *cfg, const struct store_message *m, bool signer_untrusted)
{
	return why_of(cfg, m, signer_untrusted);
}

void ctl_form_info_clear(struct ctl_form_info *f)
{
	g_free(f->signer);
	g_free(f->reason);
	memset(f, 0, sizeof(*f));
}

/* The applications among the messages that pass F's call and since
 * (NULL on a store error); its statuses are the caller's to apply. */
struct collect_ctx {
	struct store *st;
	const struct config *cfg;
	const struct ctl_filter *f;
	struct apps *apps;
};

static int collect_app(const struct store_message *m, void *userdata)
{
	struct collect_ctx *c = userdata;
	if (!ctl_filter_message(c->f, m, false))
		return 0;
	struct ctl_form_info fi = { 0 };
	int r = store_foreach_attachment(c->st, m->id, false, ctl_find_form, &fi);
	g_autofree char *why = why_of(c->cfg, m, fi.found && fi.signature == CMS_VALID && fi.untrusted);
	struct apps_form form = { fi.found, fi.signature, fi.signer, fi.modified, fi.untrusted, fi.reason, why };
	apps_add(c->apps, m, &form);
	ctl_form_info_clear(&fi);
	return r;
}

struct apps *ctl_collect_apps(struct store *st, const struct config *cfg, const struct ctl_filter *f)
{
	struct collect_ctx c = { st, cfg, f, apps_new() };
	if (store_foreach_message(st, 0, false, collect_app, &c) < 0) {
		apps_free(c.apps);
		return NULL;
	}
	return c.apps;
}

bool ctl_filter_app(const struct ctl_filter *f, const struct apps_app *a)
{
	return !f || !f->statuses || (f->statuses & ctl_status_bit(a->status));
}

/* ---- the human layout of status and show ---- */

/* "Label:  value", the value wrapped under itself to the width. */
void ctl_show_field(const struct ctl_show_ctx *c, const char *label, const char *value)
{
	g_autofree char *v = term_wrap(value ? value : "-", c->width, CTL_SHOW_LABEL);
	fprintf(c->out, "%-*s%s\n", CTL_SHOW_LABEL, label, v);
}

/* The zone of the human output's times (ctl_set_zone); NULL: local. */
static GTimeZone *human_zone;

void ctl_set_zone(const char *name)
{
	g_clear_pointer(&human_zone, g_time_zone_unref);
	human_zone = name ? g_time_zone_new_identifier(name) : NULL;
}

char *ctl_human_time(int64_t t)
{
	if (!t)
		return g_strdup("never");
	g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
	g_autoptr(GDateTime) dt = human_zone ? g_date_time_to_timezone(utc, human_zone) : g_date_time_to_local(utc);
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %Z");
}

const char *ctl_yes_no(int v)
{
	return v < 0 ? NULL : v ? "yes" : "no";
}

/* ---- decisions ---- */

static void decision_clear(gpointer p)
{
	struct ctl_decision *d = p;
	g_free(d->decision);
	g_free(d->note);
	g_free(d->user);
}

static int decision_add(const struct store_decision *d, void *userdata)
{
	struct ctl_decision c = {
		d->id, d->message, g_strdup(d->decision), g_strdup(d->note), g_strdup(d->user), d->at
	};
	g_array_append_val((GArray *)userdata, c);
	return 0;
}

static gint decision_cmp(gconstpointer a, gconstpointer b)
{
	int64_t x = ((const struct ctl_decision *)a)->id, y = ((const struct ctl_decision *)b)->id;
	return x < y ? -1 : x > y;
}

int ctl_decisions(struct store *st, const int64_t *ids, size_t n, GArray **ret)
{
	g_autoptr(GArray) ds = g_array_new(FALSE, TRUE, sizeof(struct ctl_decision));
	g_array_set_clear_func(ds, decision_clear);
	for (size_t i = 0; i < n; i++) {
		int r = store_foreach_decision(st, ids[i], decision_add, ds);
		if (r < 0)
			return r;
	}
	g_array_sort(ds, decision_cmp);
	*ret = g_steal_pointer(&ds);
	return 0;
}

char *ctl_decision_text(const struct ctl_decision *d)
{
	g_autofree char *at = ctl_human_time(d->at);
	return g_strdup_printf("%s by %s at %s%s%s", d->decision, d->user, at, d->note ? ": " : "",
			       d->note ? d->note : "");
}

static char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	return pw ? g_strdup(pw->pw_name) : g_strdup_printf("uid %u", (unsigned)uid);
}

/* Who acts: the real user (getuid(), never an environment variable
 * alone).  Under sudo, "root (sudo by mette)": the invoking user is added
 * only when SUDO_UID names an account whose name is SUDO_USER, a user
 * other than the real one. */
char *ctl_operator(void)
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
