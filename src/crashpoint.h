/* crashpoint: a test-only fault injector for the durable steps.
 *
 * Production code marks each durable step with crashpoint("what"): every
 * commit (record + watermark, poll state, action state), and just before
 * and after each change on the server.  That is a no-op unless a test
 * binary (puljed-crashtest, never installed) armed it: then the N-th step
 * kills the process with SIGKILL, as a power cut or the OOM killer would,
 * and every SQLite write and fsync counts as a step too (through a shim
 * VFS).  The same shim can make the disk "full": a write that would grow a
 * database file past a size limit fails with SQLITE_FULL, as ENOSPC does.
 * Nothing is allocated; nothing is returned that needs freeing. */
#pragma once
#include <stdint.h>

void crashpoint(const char *what);

/* Arms the injector: kill at step N (0: never), fail writes that would
 * grow a file past DISK_LIMIT bytes (0: no limit).  Registers the shim as
 * SQLite's default VFS; call before any database is opened.  0 or a
 * negative errno. */
int crashpoint_arm(unsigned long n, uint64_t disk_limit);

/* Steps counted so far (armed only), in all threads. */
unsigned long crashpoint_steps(void);

/* Of those, the steps taken in the thread that armed the injector (the
 * recording thread): unlike the checkpoint thread's, their number does
 * not depend on timing when each message commits alone. */
unsigned long crashpoint_steps_own(void);

/* Armed only: from the step named WHAT on (the string is kept, not
 * copied), every SQLite write fails with SQLITE_FULL, as when the disk
 * fills up at that moment and stays full. */
void crashpoint_fill_disk_after(const char *what);
