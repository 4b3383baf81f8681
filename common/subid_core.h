/*
 * What the three front ends do, over config + store + files + NSS.
 * pam_subid calls subid_core_ensure(); the libsubid plugin calls the
 * subid_core_{list,has,owners}() functions.
 */
#ifndef SUBID_CORE_H
#define SUBID_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "subid_config.h"
#include "subid_files.h"
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

/*
 * Does a file line name this account?  An owner of digits names a UID, any
 * other owner a user name: a name of digits is never taken for the account
 * it spells (such names are refused anyway), nor a UID for a name.  name
 * may be NULL (an account NSS does not know), has_uid false (nor its UID).
 */
bool subid_line_names(const struct subid_file_entry *e, const char *name, bool has_uid, uid_t uid);

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

/*
 * subidctl import: owners taken over from shadow's files into the writer
 * store, in one transaction and one published index, as the back end
 * allows (subid_store_import_many(): see each v[i].rc).  SUBID_OK or
 * SUBID_ERR (logged; nothing written).
 */
int subid_core_import(const struct subid_config *cfg, const struct subid_paths *paths, struct subid_import *v,
		      size_t n, const struct subid_log *log);

/* subidctl reindex: the read index published again from every row.  SUBID_OK (*owners) or SUBID_ERR. */
int subid_core_reindex(const struct subid_config *cfg, const struct subid_paths *paths, const struct subid_log *log,
		       size_t *owners);

/*
 * Every row of the writer store (root), as subid_store_foreach(): SUBID_OK,
 * fn's value, SUBID_NONE (no store yet), or SUBID_ERR.
 */
int subid_core_rows(const struct subid_config *cfg, const struct subid_paths *paths, const struct subid_log *log,
		    int (*fn)(const struct subid_row *row, void *ctx), void *ctx);

/*
 * The libsubid plugin's questions (see DESIGN.md, "The libsubid plugin
 * contract"), in the core's own types: nss_subid.c translates them to
 * libsubid's.  Each returns SUBID_OK, SUBID_NONE (an owner nobody knows:
 * UNKNOWN_USER), SUBID_DOWN (the back end asked on an index miss did not
 * answer and the files have nothing either: ERROR_CONN) or SUBID_ERR.
 * kind is SUBID_KIND_UID or SUBID_KIND_GID (anything else: SUBID_ERR).
 */

/* Every range of owner (a name, or a decimal UID): *ranges malloc'ed (NULL when none). */
int subid_core_list(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
		    enum subid_kind kind, struct subid_grant **ranges, size_t *count);
/*
 * Is [start, start + count) within owner's ranges?  caller: inside a setuid
 * caller (newuidmap), the calling UID: an owner that is not that UID (by
 * name or decimal UID) has nothing.  NULL elsewhere.
 */
int subid_core_has(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
		   uint64_t start, uint64_t count, enum subid_kind kind, const uid_t *caller, bool *result);
/* The owners of id: *uids malloc'ed (NULL when none). */
int subid_core_owners(const struct subid_paths *paths, const struct subid_log *log, uint64_t id,
		      enum subid_kind kind, uid_t **uids, size_t *count);

#endif
