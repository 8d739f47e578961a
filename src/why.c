#include "why.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* How a reason's sentence is made. */
enum why_form {
	WHY_FIXED, /* the text as it stands */
	WHY_SCORE, /* "subject:fuzzy(0.91)": the text with the typo or the score */
	WHY_LATE,  /* "deadline:late(+1s)[edge]": the delay in words */
	WHY_COUNT, /* "attachments:2": the text with the number */
};

#define WHY_UNTRUSTED_REASON "form:signer-untrusted"

/* Every reason the classifier (rules.c) and assess.c write, and its
 * sentence.  PREFIX entries match a reason that starts with them ("kind:"
 * entries are whole reasons; "quotes:" takes the call's id).  RANK orders
 * the sentences, lowest first; 0 is informational and never a why on its
 * own. */
/* clang-format off */
static const struct why_entry {
	const char *reason;
	bool prefix;
	int rank;
	enum why_form form;
	const char *text;
} why_table[] = {
	{ "mime:unparsed",                    false, 1, WHY_FIXED, "Beskeden kunne ikke læses; åbn den rå besked" },
	{ "size:too-large",                   false, 1, WHY_FIXED, "Beskeden er for stor til at blive hentet; se den på mailserveren" },
	{ "fetch:gone",                       false, 1, WHY_FIXED, "Beskeden var slettet fra mailserveren, før den kunne hentes" },
	{ "subject:unknown",                  false, 1, WHY_FIXED, "Emnet kunne ikke læses" },
	{ "kind:auto-reply",                  false, 2, WHY_FIXED, "Automatisk svar (fraværsbesked)" },
	{ "kind:delivery-report",             false, 2, WHY_FIXED, "Fejlmeddelelse om levering (returneret mail)" },
	{ "kind:list",                        false, 2, WHY_FIXED, "Massemail fra en mailingliste eller et nyhedsbrev" },
	{ "kind:question",                    false, 2, WHY_FIXED, "Et spørgsmål, ikke en ansøgning" },
	{ "kind:other",                       false, 2, WHY_FIXED, "Ligner ikke en ansøgning" },
	{ "kind:application",                 false, 0, WHY_FIXED, "En ansøgning" },
	{ "deadline:late(",                   true,  3, WHY_LATE,  NULL },
	{ "subject:none+form",                false, 4, WHY_FIXED, "Emnet nævner ikke opslaget, men et ansøgningsskema er vedhæftet; vurder manuelt" },
	{ "subject:missing+form",             false, 4, WHY_FIXED, "Beskeden har intet emne, men et ansøgningsskema er vedhæftet; vurder manuelt" },
	{ "subject:none",                     false, 4, WHY_FIXED, "Emnet nævner ikke opslaget" },
	{ "subject:missing",                  false, 4, WHY_FIXED, "Beskeden har intet emne" },
	{ "subject:fuzzy(",                   true,  4, WHY_SCORE, "Emnet ligner opslaget" },
	{ "subject:partial(",                 true,  4, WHY_SCORE, "Emnet ligner kun opslagets titel" },
	{ "reply-to:auto-reply",              false, 4, WHY_FIXED, "Emnet begynder som et automatisk svar" },
	{ "reply-to:delivery-report",         false, 4, WHY_FIXED, "Emnet begynder som en fejlmeddelelse om levering" },
	{ "form:none",                        false, 5, WHY_FIXED, "Intet ansøgningsskema vedhæftet" },
	{ "attachments:none",                 false, 5, WHY_FIXED, "Ingen vedhæftede filer" },
	{ "form:signature-invalid",           false, 5, WHY_FIXED, "Ansøgningsskemaets digitale signatur holder ikke" },
	{ "form:modified-after-signing",      false, 5, WHY_FIXED, "Ansøgningsskemaet er ændret, efter det blev underskrevet" },
	{ "mime:broken",                      false, 6, WHY_FIXED, "Beskedens opbygning er beskadiget; kontroller de vedhæftede filer" },
	{ "deadline:unknown",                 false, 7, WHY_FIXED, "Modtagelsestidspunktet er ukendt, så fristen kan ikke vurderes" },
	{ "deadline:no-date-header(arrival)", false, 7, WHY_FIXED, "Beskeden har ingen dato; fristen er vurderet ud fra modtagelsestidspunktet" },
	{ "deadline:no-edge(arrival)",        false, 7, WHY_FIXED, "Vores mailserver har ikke noteret modtagelsen; fristen er vurderet ud fra postkassens modtagelsestid" },
	{ "arrival:invalid-internaldate",     false, 7, WHY_FIXED, "Mailserverens modtagelsestidspunkt er ugyldigt" },
	{ "applicant:from",                   false, 8, WHY_FIXED, "Ansøgeren er læst fra afsenderen, ikke fra emnet" },
	/* Not a stored reason: the caveat of why_input.signer_untrusted. */
	{ WHY_UNTRUSTED_REASON,               false, 5, WHY_FIXED, "Ansøgningsskemaet er underskrevet, men underskriveren er ikke betroet" },
	{ "subject:exact",                    false, 0, WHY_FIXED, "Emnet er opslagets" },
	{ "deadline:on-time(",                true,  0, WHY_FIXED, "Modtaget inden fristen" },
	{ "attachments:",                     true,  0, WHY_COUNT, "vedhæftede filer" },
	{ "quotes:",                          true,  0, WHY_FIXED, "Citerer opslaget" },
};
/* clang-format on */

#define WHY_UNKNOWN_RANK 6 /* after the known problems, before the notes */
#define WHY_MAX_SENTENCES 2

static const struct why_entry *why_find(const char *reason)
{
	if (!reason)
		return NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(why_table); i++) {
		const struct why_entry *e = &why_table[i];
		if (e->prefix ? g_str_has_prefix(reason, e->reason) && reason[strlen(e->reason)]
			      : !strcmp(reason, e->reason))
			return e;
	}
	return NULL;
}

bool why_reason_known(const char *reason)
{
	return why_find(reason) != NULL;
}

char *why_score_text(double score)
{
	/* Two decimals, cut (not rounded) as the reasons write them, so that
	 * 0.749 is never shown as the threshold 0.75. */
	char *s = g_strdup_printf("%.2f", floor(score * 100 + 1e-9) / 100);
	char *dot = strchr(s, '.');
	if (dot)
		*dot = ',';
	return s;
}

char *why_delta_text(const char *delta)
{
	static const struct {
		char unit;
		const char *one, *many;
	} units[] = { { 'd', "dag", "dage" },
		      { 'h', "time", "timer" },
		      { 'm', "minut", "minutter" },
		      { 's', "sekund", "sekunder" } };
	if (!delta || (*delta != '+' && *delta != '-'))
		return NULL;
	const char *p = delta + 1;
	g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
	size_t next = 0;
	while (*p) {
		if (!g_ascii_isdigit(*p))
			return NULL;
		char *end;
		unsigned long long n = strtoull(p, &end, 10);
		size_t u = next;
		while (u < G_N_ELEMENTS(units) && units[u].unit != *end)
			u++;
		if (u == G_N_ELEMENTS(units))
			return NULL;
		g_ptr_array_add(parts, g_strdup_printf("%llu %s", n, n == 1 ? units[u].one : units[u].many));
		next = u + 1;
		p = end + 1;
	}
	if (parts->len == 0)
		return NULL;
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < parts->len; i++)
		g_string_append_printf(s, "%s%s",
				       i == 0                ? ""
				       : i + 1 == parts->len ? " og "
							     : ", ",
				       (char *)g_ptr_array_index(parts, i));
	return g_string_free(s, FALSE);
}

/* "deadline:late(+1s)[edge]": "Modtaget 1 sekund efter fristen". */
static char *late_text(const char *reason)
{
	const char *open = strchr(reason, '('), *close = open ? strchr(open, ')') : NULL;
	if (!close)
		return NULL;
	g_autofree char *delta = g_strndup(open + 1, (size_t)(close - open - 1));
	g_autofree char *words = why_delta_text(delta);
	if (!words)
		return NULL;
	if (!strcmp(close + 1, "[date-header]"))
		return g_strdup_printf("Sendt %s efter fristen (ifølge afsenderens dato)", words);
	return g_strdup_printf("Modtaget %s efter fristen", words);
}

/* "subject:fuzzy(0.91)": the entry's text with the typo, else the score. */
static char *score_text(const struct why_entry *e, const char *reason, const char *typo)
{
	if (typo)
		return g_strdup_printf("%s (stavefejl: '%s'), vurder manuelt", e->text, typo);
	char *end = NULL;
	double score = g_ascii_strtod(reason + strlen(e->reason), &end);
	if (!end || *end != ')')
		return g_strdup_printf("%s, vurder manuelt", e->text);
	g_autofree char *s = why_score_text(score);
	return g_strdup_printf("%s (lighed %s), vurder manuelt", e->text, s);
}

static char *entry_text(const struct why_entry *e, const char *reason, const char *typo)
{
	char *s = NULL;
	if (!e)
		return g_strdup(WHY_UNKNOWN);
	switch (e->form) {
	case WHY_SCORE:
		s = score_text(e, reason, typo);
		break;
	case WHY_LATE:
		s = late_text(reason);
		break;
	case WHY_COUNT: {
		unsigned long long n = strtoull(reason + strlen(e->reason), NULL, 10);
		s = g_strdup_printf(n == 1 ? "1 vedhæftet fil" : "%llu %s", n, e->text);
		break;
	}
	case WHY_FIXED:
		s = g_strdup(e->text);
		break;
	}
	return s ? s : g_strdup(WHY_UNKNOWN);
}

char *why_reason_text(const char *reason)
{
	return entry_text(why_find(reason), reason, NULL);
}

/* S with its first letter in lower case, for a sentence after "; ". */
static char *lower_first(const char *s)
{
	const char *next = g_utf8_next_char(s);
	g_autofree char *first = g_utf8_strdown(s, next - s);
	return g_strconcat(first, next, NULL);
}

char *why_text(const struct why_input *in)
{
	const char *best[WHY_MAX_SENTENCES] = { 0 };
	const struct why_entry *best_e[WHY_MAX_SENTENCES] = { 0 };
	int best_rank[WHY_MAX_SENTENCES] = { 0 };
	size_t n = 0;
	bool not_application = false;

	/* The reasons, and an accepted record's untrusted signer. */
	bool untrusted = in->status == RULES_ACCEPTED && in->signer_untrusted;
	for (size_t i = 0; i < in->n_reasons + untrusted; i++) {
		const char *reason = i < in->n_reasons ? in->reasons[i] : WHY_UNTRUSTED_REASON;
		const struct why_entry *e = why_find(reason);
		int rank = e ? e->rank : WHY_UNKNOWN_RANK;
		if (rank == 0)
			continue;
		if (e && g_str_has_prefix(e->reason, "kind:"))
			not_application = true;
		/* Insert in rank order (stable: the first recorded of equals). */
		size_t at = n;
		while (at > 0 && best_rank[at - 1] > rank)
			at--;
		if (at >= WHY_MAX_SENTENCES)
			continue;
		for (size_t k = MIN(n, WHY_MAX_SENTENCES - 1); k > at; k--) {
			best[k] = best[k - 1];
			best_e[k] = best_e[k - 1];
			best_rank[k] = best_rank[k - 1];
		}
		best[at] = reason;
		best_e[at] = e;
		best_rank[at] = rank;
		n = MIN(n + 1, WHY_MAX_SENTENCES);
	}
	if (n == 0)
		return in->status == RULES_ACCEPTED ? NULL : g_strdup(WHY_UNKNOWN);
	/* Mail that is no application says only what it is: an automatic
	 * reply's subject resemblance is beside the point. */
	if (not_application || in->status != RULES_REVIEW)
		n = 1;

	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < n; i++) {
		g_autofree char *t = entry_text(best_e[i], best[i], in->typo);
		if (i == 0) {
			g_string_append(s, t);
		} else {
			g_autofree char *l = lower_first(t);
			g_string_append_printf(s, "; %s", l);
		}
	}
	return g_string_free(s, FALSE);
}
