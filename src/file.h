/* file: writing files safely — every byte or an error, and a new file in a
 * directory that never replaces what is there and never follows a link.
 * Each function returns 0 (or a descriptor) or a negative errno; errno is
 * not to be read afterwards. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Writes all LEN bytes of DATA to FD, writing again after a short write or
 * an interrupted one. */
int file_write_all(int fd, const void *data, size_t len);

/* Creates NAME in the directory DIRFD (AT_FDCWD: the working directory)
 * with MODE (less the umask) and returns it open for writing.  -EEXIST
 * when NAME exists, whether a file or a link (dangling or not): nothing is
 * overwritten and no link followed. */
int file_create_new(int dirfd, const char *name, mode_t mode);

/* As file_create_new, trying "stem (2).ext", "stem (3).ext" … while NAME
 * exists; *RET_NAME is the name created (g_free), set only on success. */
int file_create_unique(int dirfd, const char *name, mode_t mode, char **ret_name);

/* Writes DATA to a new file made by file_create_unique and closes it; a
 * file that could not be written whole is removed. */
int file_write_new(int dirfd, const char *name, mode_t mode, const void *data, size_t len, char **ret_name);

/* Writes DATA to the new file NAME (file_create_new: nothing is
 * overwritten, no link followed), flushed to disk and closed; a file
 * that could not be written whole is removed. */
int file_write_exclusive(int dirfd, const char *name, mode_t mode, const void *data, size_t len);
