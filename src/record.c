#include "record.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <glib.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const status_names[] = {
	[RULES_ACCEPTED] = "accepted",
	[RULES_LATE] = "late",
	[RULES_REVIEW] = "review",
	[RULES_UNRELATED] = "unrelated",
};
_Static_assert(N(status_names) == RECORD_N_STATUS, "a name for every status");

static const char *const match_names[] = {
	[RULES_MATCH_NONE] = NULL, /* stored as NULL */
	[RULES_MATCH_EXACT] = "exact",
	[RULES_MATCH_FUZZY] = "fuzzy",
};

static const char *const kind_names[] = {
	[RULES_KIND_APPLICATION] = "application",
	[RULES_KIND_AUTO_REPLY] = "auto-reply",
	[RULES_KIND_DELIVERY_REPORT] = "delivery-report",
	[RULES_KIND_LIST] = "list",
	[RULES_KIND_QUESTION] = "question",
	[RULES_KIND_OTHER] = "other",
};

static const char *const signature_names[] = {
	[CMS_NONE] = "none",
	[CMS_VALID] = "valid",
	[CMS_INVALID] = "invalid",
};

/* NAMES[V], or FALLBACK for a value outside the table. */
static const char *name_of(const char *const *names, size_t n, unsigned v, const char *fallback)
{
	return v < n ? names[v] : fallback;
}

/* The index of NAME in NAMES, or -1. */
static int index_of(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (names[i] && !strcmp(names[i], name))
			return (int)i;
	return -1;
}

const char *record_status_name(enum rules_status status)
{
	return name_of(status_names, N(status_names), status, "review");
}

const char *record_match_name(enum rules_match match)
{
	return name_of(match_names, N(match_names), match, NULL);
}

const char *record_kind_name(enum rules_kind kind)
{
	return name_of(kind_names, N(kind_names), kind, "other");
}

const char *record_signature_name(enum cms_status sig)
{
	return name_of(signature_names, N(signature_names), sig, "none");
}

bool record_status_parse(const char *name, enum rules_status *ret)
{
	int i = index_of(status_names, N(status_names), name);
	if (i >= 0)
		*ret = (enum rules_status)i;
	return i >= 0;
}

bool record_match_parse(const char *name, enum rules_match *ret)
{
	int i = index_of(match_names, N(match_names), name);
	if (i >= 0)
		*ret = (enum rules_match)i;
	return i >= 0;
}

bool record_kind_parse(const char *name, enum rules_kind *ret)
{
	int i = index_of(kind_names, N(kind_names), name);
	if (i >= 0)
		*ret = (enum rules_kind)i;
	return i >= 0;
}

bool record_signature_parse(const char *name, enum cms_status *ret)
{
	int i = index_of(signature_names, N(signature_names), name);
	if (i >= 0)
		*ret = (enum cms_status)i;
	return i >= 0;
}

double record_score(double score)
{
	return floor(score * 100 + 1e-9) / 100;
}

char *record_reference(int64_t id)
{
	return g_strdup_printf("PJ-%06" PRId64, id);
}
