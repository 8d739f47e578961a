/* attempt: a note beside the database naming the message being parsed.
 *
 * A message whose parse kills the process (the kernel's OOM killer, a
 * crash in a library) would kill it again at every start: the daemon would
 * never get past it.  Before each parse the note names the message and how
 * many parses of it have begun; after the parse it is cleared.  So when
 * the process dies in a parse, the next one finds the note: a message whose
 * parse has begun ATTEMPT_MAX times without ending is not parsed again
 * (ingest records its raw bytes, flagged "unparsed").
 *
 * The note is one fixed-size record at the start of DATABASE".parsing",
 * written with pwrite (no fsync: it must outlive the process, not the
 * machine); the file is removed when it is closed with nothing pending. */
#pragma once
#include <stdint.h>
#include <glib.h>

#define ATTEMPT_MAX 2

struct attempt;

/* Opens (creates) the note beside DATABASE and reads it.  NULL when it
 * cannot be opened or its name is a symlink (refused, as the lock and the
 * run record are): then nothing is counted. */
struct attempt *attempt_open(const char *database);

/* A parse of message (MAILBOX, UIDVALIDITY, UID) begins: which attempt it
 * is (1 for the first; the note's count plus one when the note names it). */
unsigned attempt_begin(struct attempt *a, const char *mailbox, uint32_t uidvalidity, uint32_t uid);

/* The parse ended. */
void attempt_end(struct attempt *a);

void attempt_close(struct attempt *a);
/* g_autoptr(Attempt) frees with attempt_close(). */
typedef struct attempt Attempt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Attempt, attempt_close)

/* Removes the note beside DATABASE when it names no message: a process
 * killed between two parses (after its last commit, say) left it, and a
 * run with nothing new opens no pipeline to remove it.  A pending note
 * stays: it counts.  Called when a poll ended well. */
void attempt_tidy(const char *database);
