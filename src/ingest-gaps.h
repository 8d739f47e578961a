/* ingest-gaps: the gap check, the cheap half of reconcile, from the
 * daemon: every UID the server has at or below the watermark must have a
 * record.  One that has none (a record lost, a server that once skipped
 * it) is a gap: reported, then fetched and recorded like new mail.  What
 * is still missing after that stays in the store's state for status.
 * Private to the ingest library. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "ingest-internal.h"

/* UID SEARCH ALL on C against the records of its mailbox's UIDVALIDITY:
 * a UID at or below WATERMARK without a record is reported
 * (INGEST_EVENT_GAPS_FOUND), fetched and recorded; what is still missing
 * then is reported (INGEST_EVENT_GAPS_LEFT) and noted in the store
 * (store_gaps_noted()).  STATS gets the gap figures; ERR the reason of a
 * failure. */
int ingest_gaps_check(const struct ingest_ctx *ctx, struct ingest_connection *c, uint32_t watermark,
		      struct ingest_stats *stats, char *err, size_t errlen);
/* Whether the gap check is due: the last one in the store is [daemon]
 * gap_check_interval ago. */
bool ingest_gaps_due(const struct ingest_ctx *ctx);
