/*
 * The writer store: one SQLite database, rollback journal, root's alone
 * (0600 in a 0700 directory, e.g. /var/lib/subid/private/subid.db): only root
 * writers (pam_subid, subidctl) and root's tools open it, so no other process
 * can hold a lock that stalls a login.  Keyed by owner uid; one subuid and one
 * subgid range per owner.  Readers use the read index (subid_index.h), which
 * every write publishes: each write takes the writer lock (<store>.lock),
 * commits, and publishes the index derived from the previous one before it
 * lets go, under the store's next generation; a write that finds the index
 * behind the store (a writer stopped between commit and publish) republishes
 * it first.
 *
 * libsqlite3 is not linked: the first open of a store loads it (dlopen);
 * when it cannot, the open fails (SUBID_ERR, logged).
 *
 * Tables: ranges(uid, kind, start, count, name, granted) and free(start, end),
 * the free-span index over the pool that makes allocation cost independent
 * of the number of owners.  free is derived from ranges and the pool; it is
 * rebuilt in the allocating transaction whenever the pool settings change.
 */
#ifndef SUBID_STORE_H
#define SUBID_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "subid_log.h"
#include "subid_range.h"

struct subid_store;

/*
 * Read-write open (root): creates index_path's directory 0755, the store's
 * directory 0700 and the database 0600 when missing (and makes an existing
 * store and directory so), and the schema.  A store of the layout before
 * the index (0644, at <index's directory>/<store's name>) is moved in first,
 * with a log line.  Refuses a database or directory that is not owned by
 * owner_uid or is group/other-writable, and a store in the index's
 * directory.
 */
int subid_store_open_rw(struct subid_store **st, const char *path, const char *index_path, uid_t owner_uid,
			const struct subid_log *log);

/*
 * Read-only open (root's tools: subidctl list/show/export/check; tests):
 * never creates or writes.  The same checks of the path as a read-write
 * open, then a plain read-only SQLite connection by name.
 * SUBID_NONE when the database does not exist or is empty (no
 * grants yet), SUBID_ERR when it is unsafe or unreadable, or holds a
 * hot journal (a writer died mid-transaction: the next read-write open
 * rolls it back).  Waits on a writer's lock (busy timeout).
 */
int subid_store_open_ro(struct subid_store **st, const char *path, uid_t owner_uid,
			const struct subid_log *log);

void subid_store_close(struct subid_store *st);

/* The store's generation (0 before the first write): OK / NOTFOUND (no store) / ERR. */
int subid_store_generation_at(const char *path, uid_t owner_uid, const struct subid_log *log, int64_t *generation);

/* Publish the read index again from every row (subidctl reindex): OK (*owners set) or ERR (logged). */
int subid_store_publish(struct subid_store *st, size_t *owners);

/* OK / NOTFOUND / ERR. */
int subid_store_get(struct subid_store *st, uid_t uid, enum subid_kind kind, struct subid_grant *out);

/*
 * The name recorded for uid (as NSS named the owner at the last grant or
 * login): OK with *name malloc'ed (NULL when none was recorded), NOTFOUND,
 * ERR.
 */
int subid_store_name(struct subid_store *st, uid_t uid, char **name);

/* Owner whose range of kind contains id: OK / NOTFOUND / ERR. */
int subid_store_owner_of(struct subid_store *st, enum subid_kind kind, uint64_t id, uid_t *uid);

/*
 * Make sure uid owns one range of each kind, allocating the missing ones in
 * one BEGIN IMMEDIATE transaction with first fit over the pool, never
 * overlapping another owner's range (of either kind) or any interval in
 * taken[] (the /etc/subuid, /etc/subgid entries and reserved intervals; any
 * order).  Both
 * ranges of a new owner start at the same number.  *granted tells whether
 * anything was written.  OK / ERR / FULL.
 */
int subid_store_ensure(struct subid_store *st, uid_t uid, const char *name, const struct subid_pool *pool,
		       const struct subid_interval *taken, size_t ntaken,
		       struct subid_grant *uid_range, struct subid_grant *gid_range, bool *granted);

/*
 * Replica of an authority (the LDAP store): make uid own exactly these two
 * ranges, replacing what the replica held for uid.  Another owner's row is
 * never dropped or changed: when either range overlaps one (of either
 * kind), nothing is written and CONFLICT is returned with that owner in
 * *conflict (when not NULL).  *changed tells whether anything was written.
 * OK / CONFLICT / ERR.
 */
int subid_store_put(struct subid_store *st, uid_t uid, const char *name, const struct subid_grant *uid_range,
		    const struct subid_grant *gid_range, bool *changed, uid_t *conflict);

/*
 * A range of an owner other than except that overlaps [start, start +
 * count), of kind (0: either kind): OK with its owner in *uid and the range
 * in *range (either may be NULL), NOTFOUND, or ERR.
 */
int subid_store_overlap(struct subid_store *st, int kind, uint64_t start, uint64_t count, uid_t except,
			uid_t *uid, struct subid_grant *range);

/* One stored range, as subid_store_foreach() hands it out. */
struct subid_row {
	uid_t uid;
	enum subid_kind kind;
	struct subid_grant range;
	const char *name;	/* as NSS named the owner when granted; may be NULL */
	int64_t granted;	/* seconds since the epoch */
};

/*
 * Call fn for every range, ordered by owner then kind, in one read
 * transaction.  fn returns 0 to go on, anything else to stop (returned).
 * OK, fn's value, or ERR.
 */
int subid_store_foreach(struct subid_store *st, int (*fn)(const struct subid_row *row, void *ctx), void *ctx);

/* One owner for subid_store_import_many(). */
struct subid_import {
	uid_t uid;
	const char *name;
	struct subid_grant r[2];	/* [0] subuid, [1] subgid */
	/* results */
	int rc;			/* OK (imported, or held exactly these already), CONFLICT, or ERR */
	bool changed;		/* imported by this call */
};

/*
 * Take over existing allocations (subidctl import), all in one write
 * transaction and one published index: each owner gets exactly its two
 * ranges, unless it already holds other ranges or either range overlaps
 * another owner's (of either kind, earlier owners of v included): that
 * owner's rc is CONFLICT and the others go on.  Overlap checks are index
 * seeks and the free-span index is kept (built for pool, when not NULL
 * and it was not), so the cost grows with n log(owners), and the next
 * allocation does not rebuild anything.  The caller checks the pool and
 * reserved intervals; imports may lie outside the pool.  OK (see each rc)
 * or ERR (nothing written; every rc ERR).
 */
int subid_store_import_many(struct subid_store *st, struct subid_import *v, size_t n,
			    const struct subid_pool *pool);

/* One owner: OK (also when uid holds exactly these already, *changed false), CONFLICT, or ERR. */
int subid_store_import(struct subid_store *st, uid_t uid, const char *name, const struct subid_grant *uid_range,
		       const struct subid_grant *gid_range, bool *changed);

/* Drop both ranges of uid (they become free again).  OK / NOTFOUND / ERR. */
int subid_store_release(struct subid_store *st, uid_t uid);

/*
 * Drop the ranges of every uid in uids (subidctl reclaim), in one write
 * transaction and one published index.  OK (*released: how many held
 * ranges; held[i], when held is not NULL, whether uids[i] did) or ERR
 * (nothing released).
 */
int subid_store_release_many(struct subid_store *st, const uid_t *uids, size_t n, size_t *released, bool *held);

#endif
