/*
 * Inside the core: the rules the allocation path (subid_alloc.c), the
 * plugin's queries (subid_query.c) and the back ends (subid_backend_*.c)
 * share, defined once in subid_core.c.  Not for the front ends: they use
 * subid_core.h.
 */
#ifndef SUBID_CORE_INT_H
#define SUBID_CORE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "subid_core.h"
#include "subid_files.h"
#include "subid_index.h"
#include "subid_store.h"
#include "subid_user.h"

/* "subuid" or "subgid", for logs */
const char *subid_kind_name(enum subid_kind k);

/*
 * Who holds which IDs: the writer store (pam_subid's writer path, subidctl
 * as root) or the read index (the plugin, the later-login check).  Either
 * may be absent (nothing granted yet).
 */
struct subid_holders {
	struct subid_store *st;
	const struct subid_index *ix;
};

/*
 * Another owner than except holding any of [start, start + count), of kind
 * (0: either): SUBID_OK (*uid and *range set when not NULL), SUBID_NONE or
 * SUBID_ERR.
 */
int subid_holder_overlap(const struct subid_holders *h, int kind, uint64_t start, uint64_t count, uid_t except,
			 uid_t *uid, struct subid_grant *range);

/*
 * Is the line the account's own: it names the account, and no part of it is
 * another owner's (a line the mirror wrote for an owner since renamed or
 * deleted stays his, whoever has his old name now).  1 yes, 0 no, -1 error
 * (logged).
 */
int subid_line_is_owners(const struct subid_holders *h, const struct subid_file_entry *e, const char *name,
			 bool has_uid, uid_t uid);

/* Does f hold a line that is u's own?  1 yes, 0 no, -1 error. */
int subid_file_has_own_line(const struct subid_holders *h, const struct subid_file *f, const struct subid_user *u);

/*
 * The intervals an allocation must avoid, sorted and merged: every line of
 * the files, the reserved intervals and the real account IDs.  0, or -1
 * (out of memory).
 */
int subid_taken_intervals(const struct subid_config *cfg, const struct subid_file *fu, const struct subid_file *fg,
			  struct subid_interval **taken, size_t *ntaken);

/*
 * mirror_files: remove the lines of uid's stored ranges from the files,
 * under the name the store recorded and the one NSS gives now.  0 or -1
 * (logged).
 */
int subid_unmirror_owner(struct subid_store *st, const struct subid_paths *paths, uid_t uid,
			 const struct subid_log *log);

#endif
