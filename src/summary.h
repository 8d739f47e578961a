/* summary: the pool overview — per call, the applications counted by
 * status, on time or late, with or without a form, how the form is
 * signed, by day received, and the applications that need a person.
 * Pure: built from apps_finish()'s list, no I/O.
 *
 * Counts are of applications (apps.h's grouping: unrelated records and
 * duplicates are not applications).  The day of an application is the
 * date of its first arrival as stored, which is written in its call's
 * time zone.  An application needs a person when its status is review or
 * no operator decision is recorded on it; review comes first, then by
 * first arrival. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "apps.h"
#include "record.h"

struct summary_day {
	char day[11]; /* "2022-07-01" */
	unsigned applications;
};

struct summary_person {
	int64_t id;            /* the application's first record */
	const char *applicant; /* NULL: not named (owned by the apps list) */
	enum rules_status status;
	const char *decision; /* NULL: undecided */
	const char *why;      /* why it is not plainly accepted (why.h), or NULL; owned by the apps list */
};

struct summary_call {
	char *call;
	unsigned applications;
	unsigned by_status[RECORD_N_STATUS];
	unsigned on_time, late, on_time_unknown;
	unsigned with_form, without_form;
	unsigned form_valid, form_invalid, form_unsigned; /* of those with a form */
	GArray *days;                                     /* struct summary_day, oldest first */
	GArray *attention;                                /* struct summary_person */
};

struct summary {
	GPtrArray *calls; /* struct summary_call *, in the order of the list */
};

/* The overview of APPS (struct apps_app *, as apps_finish() returns them,
 * sorted by call); only the calls with an application appear.  Points
 * into APPS, which must outlive it.  Newly allocated (summary_free). */
struct summary *summary_new(const GPtrArray *apps);
void summary_free(struct summary *s);
typedef struct summary Summary;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Summary, summary_free)

/* The call CALL's overview, or NULL. */
const struct summary_call *summary_find(const struct summary *s, const char *call);
