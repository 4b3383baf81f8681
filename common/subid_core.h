/*
 * What the three front ends do, over config + store + files + NSS.
 * pam_subid calls subid_core_ensure(); the libsubid plugin calls the
 * subid_core_{list,has,owners}() functions.
 */
#ifndef SUBID_CORE_H
#define SUBID_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <shadow/subid.h>

#include "subid_config.h"
#include "subid_log.h"
#include "subid_store.h"

/* Where the core looks; production uses the compiled-in paths and owner 0. */
struct subid_paths {
	const char *conf;
	const char *login_defs;
	const char *subuid;
	const char *subgid;
	uid_t trusted_uid;	/* owner required of config and store files */
};

extern const struct subid_paths subid_default_paths;

enum subid_ensure_rc {
	SUBID_ENSURE_OK = 0,		/* user owns both ranges now */
	SUBID_ENSURE_OK_UNMIRRORED,	/* ... but mirror_files could not write them (logged) */
	SUBID_ENSURE_SKIPPED,		/* root, below uid_min, skip_users/skip_groups */
	SUBID_ENSURE_REFUSED,		/* a name of digits: never granted (logged) */
	SUBID_ENSURE_UNKNOWN_USER,
	SUBID_ENSURE_ERROR,		/* config, store, NSS or pool problem; logged */
};

/* The pool a local allocation takes ranges from (range_min, range_max, range_count). */
void subid_core_pool(const struct subid_config *cfg, struct subid_pool *pool);

/* subid_core_ensure() flags */
/* also serve an account a login skips (below uid_min, skip_users, skip_groups); never root */
#define SUBID_ENSURE_FORCE 0x1

enum subid_ensure_rc subid_core_ensure(const struct subid_config *cfg, const struct subid_paths *paths,
				       const char *user, unsigned flags, const struct subid_log *log,
				       struct subid_grant *uid_range, struct subid_grant *gid_range);

/*
 * Drop uid's ranges: from the directory (entry and slot claim) with store =
 * ldap, and from the local store.  0 released, 1 uid had none, -1 error (logged).
 */
int subid_core_release(const struct subid_config *cfg, const struct subid_paths *paths, uid_t uid,
		       const struct subid_log *log);

/*
 * subid_core_release() for every uid in uids (subidctl reclaim), the local
 * store's part in one transaction and one published index.  0 (*released:
 * how many had ranges; each[i], when each is not NULL, whether uids[i] had)
 * or -1 (logged; the local store unchanged).
 */
int subid_core_release_many(const struct subid_config *cfg, const struct subid_paths *paths, const uid_t *uids,
			    size_t n, const struct subid_log *log, size_t *released, bool *each);

/* libsubid plugin semantics (see DESIGN.md, "The libsubid plugin contract"). */
enum subid_status subid_core_list(const struct subid_paths *paths, const struct subid_log *log,
				  const char *owner, enum subid_type type,
				  struct subid_range **ranges, int *count);
/*
 * caller: inside a setuid caller (newuidmap), the calling UID: an owner
 * that is not that UID (by name or decimal UID) has nothing.  NULL elsewhere.
 */
enum subid_status subid_core_has(const struct subid_paths *paths, const struct subid_log *log,
				 const char *owner, unsigned long start, unsigned long count,
				 enum subid_type type, const uid_t *caller, bool *result);
enum subid_status subid_core_owners(const struct subid_paths *paths, const struct subid_log *log,
				    unsigned long id, enum subid_type type, uid_t **uids, int *count);

#endif
