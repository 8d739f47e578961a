#include "crashpoint.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

static bool armed;
static unsigned long kill_at;
static atomic_ulong steps; /* writes and syncs come from the checkpoint thread too */
/* The arming thread's share: the recording thread's steps follow from the
 * mail alone, the checkpoint thread's from when it happens to be woken. */
static atomic_ulong own_steps;
static pthread_t armer;
static uint64_t disk_limit;
/* The disk fills at the step named fill_after: every later write fails. */
static const char *fill_after;
static atomic_bool disk_full;

void crashpoint(const char *what)
{
	if (!armed)
		return;
	if (fill_after && !strcmp(what, fill_after))
		atomic_store(&disk_full, true);
	unsigned long step = atomic_fetch_add(&steps, 1) + 1;
	if (pthread_equal(pthread_self(), armer))
		atomic_fetch_add(&own_steps, 1);
	if (kill_at && step == kill_at) {
		/* One line for the test's log, then die without any cleanup. */
		char line[128];
		int n = snprintf(line, sizeof(line), "crashpoint: killed at step %lu (%s)\n", step, what);
		if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* nothing to do */
		}
		raise(SIGKILL);
	}
}

unsigned long crashpoint_steps(void)
{
	return atomic_load(&steps);
}

unsigned long crashpoint_steps_own(void)
{
	return atomic_load(&own_steps);
}

/* ---- the shim VFS: every write and fsync is a step ---- */

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct in the same allocation */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_methods;

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int shim_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int shim_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	if (atomic_load(&disk_full))
		return SQLITE_FULL;
	if (disk_limit && (uint64_t)off + (uint64_t)amt > disk_limit) {
		sqlite3_int64 size = 0;
		/* Overwriting within the current size needs no new space. */
		if (REAL(f)->pMethods->xFileSize(REAL(f), &size) != SQLITE_OK || off + amt > size)
			return SQLITE_FULL;
	}
	crashpoint("sqlite write");
	return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	crashpoint("sqlite truncate");
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int shim_sync(sqlite3_file *f, int flags)
{
	crashpoint("fsync");
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int shim_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int shim_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int shim_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int shim_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int shim_device_characteristics(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int shim_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
	(void)vfs;
	struct shim_file *f = (struct shim_file *)file;
	f->real = (sqlite3_file *)(f + 1);
	int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK || !f->real->pMethods) {
		f->base.pMethods = NULL;
		return rc;
	}
	shim_methods.iVersion = f->real->pMethods->iVersion;
	f->base.pMethods = &shim_methods;
	return SQLITE_OK;
}

int crashpoint_arm(unsigned long n, uint64_t limit)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (!real_vfs)
		return -ENOENT;
	shim_methods = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = shim_close,
		.xRead = shim_read,
		.xWrite = shim_write,
		.xTruncate = shim_truncate,
		.xSync = shim_sync,
		.xFileSize = shim_file_size,
		.xLock = shim_lock,
		.xUnlock = shim_unlock,
		.xCheckReservedLock = shim_check_reserved,
		.xFileControl = shim_file_control,
		.xSectorSize = shim_sector_size,
		.xDeviceCharacteristics = shim_device_characteristics,
		.xShmMap = shim_shm_map,
		.xShmLock = shim_shm_lock,
		.xShmBarrier = shim_shm_barrier,
		.xShmUnmap = shim_shm_unmap,
		.xFetch = shim_fetch,
		.xUnfetch = shim_unfetch,
	};
	shim_vfs = *real_vfs;
	shim_vfs.zName = "puljed-crashpoint";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.xOpen = shim_open;
	shim_vfs.pNext = NULL;
	if (sqlite3_vfs_register(&shim_vfs, 1) != SQLITE_OK)
		return -EIO;
	kill_at = n;
	disk_limit = limit;
	armer = pthread_self();
	armed = true;
	return 0;
}

void crashpoint_fill_disk_after(const char *what)
{
	fill_after = what;
}
