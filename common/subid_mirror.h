/*
 * Mirror of allocated ranges into shadow's /etc/subuid and /etc/subgid, so
 * that useradd, usermod --add-subuids and newusers see them and never hand
 * the same IDs out again.
 *
 * Both calls lock the file the way shadow-utils' lib/commonio.c does (a
 * "<path>.lock" hard link holding the holder's pid, and /etc/.pwd.lock first
 * for files directly in /etc), so they and a running shadow tool exclude each
 * other; they wait up to 15 s for a lock.  The file is replaced atomically
 * (temporary file, fsync, rename, fsync of the directory); every byte of the
 * lines they do not add or remove is kept.
 *
 * path must be absolute and name a regular file or nothing (a symlink is
 * refused).  A new file is created 0644 root:root; an existing one keeps its
 * mode, owner and group.
 */
#ifndef SUBID_MIRROR_H
#define SUBID_MIRROR_H

#include <stdint.h>

#include "subid_log.h"

/*
 * Make path (shadow's /etc/subuid or /etc/subgid format) hold the line
 * "owner:start:count": added at the end unless that exact line is present.
 * 0 done (or already there), -1 error (logged, file unchanged).
 */
int subid_mirror_add(const char *path, const char *owner, uint64_t start, uint64_t count,
		     const struct subid_log *log);

/*
 * Remove every line that is exactly "owner:start:count" (only lines subid
 * could have written); 0 done (also when absent), -1 error (logged, file
 * unchanged).
 */
int subid_mirror_remove(const char *path, const char *owner, uint64_t start, uint64_t count,
			const struct subid_log *log);

#endif
