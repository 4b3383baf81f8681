/*
 * The read index: what every reader of subid's ranges uses (the libsubid
 * plugin, also inside setuid newuidmap; the later-login check of
 * pam_subid; subidctl run by users).  One immutable file, e.g.
 * /var/lib/subid/ranges.idx, 0644 and root's, that the writer publishes
 * after each committed change by writing a new file and rename(2)-ing it
 * over the old one: readers never lock anything and never see a half-written
 * state, and no reader can slow a writer down.
 *
 * Layout (native byte order, recorded and checked):
 *
 *   header   64 bytes: magic "SUBIDIX\0", version, byte-order mark,
 *            generation (the writer store's, to detect a publish that a
 *            crash cut off), the counts of the three sections, the file's
 *            size, and a checksum of the header;
 *   owners   n records of 48 bytes, sorted by uid (strictly): uid, a
 *            checksum of the record, a hash of the owner's name, subuid
 *            start and count, subgid start and count (count 0: no range
 *            of that kind);
 *   subuid   nu spans of 24 bytes, sorted by start, never overlapping:
 *            start, count, uid, checksum;
 *   subgid   ng spans, the same.
 *
 * A reader maps the file read-only, checks the header (magic, version, byte
 * order, checksum, counts against the size) and, on every lookup, the
 * records it touches: their checksums, their ranges, and that the binary
 * search only ever sees keys in order.  Anything malformed is an error, and
 * the plugin fails closed on it.  subid_index_verify() checks the whole
 * file (subidctl check).
 */
#ifndef SUBID_INDEX_H
#define SUBID_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "subid_log.h"
#include "subid_range.h"

/* Functions return a subid_result: SUBID_OK, SUBID_NONE (no such owner or range; no index file: nothing granted yet) or SUBID_ERR (unsafe, unreadable or malformed: logged when a log was given). */

/*
 * One owner: r[0] the subuid range, r[1] the subgid range (count 0: none);
 * name_hash tells a later login whether the owner was renamed since (the
 * mirror's lines carry the name).
 */
struct subid_index_owner {
	uid_t uid;
	uint32_t name_hash;
	struct subid_grant r[2];
};

/* The name_hash of a name (0 for none). */
uint32_t subid_index_name_hash(const char *name);

struct subid_index;

/*
 * Map and check the index at path: a regular file owned by owner_uid, not
 * writable by group or others, in directories only root (or owner_uid) can
 * change.  OK, NOTFOUND when there is no file, or ERR (logged).
 */
int subid_index_open(struct subid_index **ix, const char *path, uid_t owner_uid, const struct subid_log *log);

/* The same checks on a buffer (kept by reference, not copied): tests and the fuzzer. */
int subid_index_from_buffer(struct subid_index **ix, const void *buf, size_t len);

void subid_index_close(struct subid_index *ix);

uint64_t subid_index_generation(const struct subid_index *ix);
size_t subid_index_count(const struct subid_index *ix);

/* kind: 1 subuid, 2 subgid (enum subid_kind).  OK / NOTFOUND / ERR. */
int subid_index_get(const struct subid_index *ix, uid_t uid, int kind, struct subid_grant *out);

/* Both ranges of uid (counts 0 for a kind it lacks): OK / NOTFOUND / ERR. */
int subid_index_owner(const struct subid_index *ix, uid_t uid, struct subid_index_owner *out);

/* The owner whose range of kind holds id: OK / NOTFOUND / ERR. */
int subid_index_owner_of(const struct subid_index *ix, int kind, uint64_t id, uid_t *uid);

/*
 * A range of an owner other than except that overlaps [start, start +
 * count), of kind (0: either): OK (*uid, *range set when not NULL) /
 * NOTFOUND / ERR.
 */
int subid_index_overlap(const struct subid_index *ix, int kind, uint64_t start, uint64_t count, uid_t except,
			uid_t *uid, struct subid_grant *range);

/* The i-th owner in uid order (i < subid_index_count()): OK / ERR. */
int subid_index_owner_at(const struct subid_index *ix, size_t i, struct subid_index_owner *out);

/* Every record, span and order checked: OK, or ERR with a reason in why. */
int subid_index_verify(const struct subid_index *ix, char *why, size_t whylen);

/* ---- the writer (root, under the writer store's lock) ---- */

/*
 * A change to publish: uid now owns r (a count 0 means no range of that
 * kind; both 0: uid is gone).
 */
typedef struct subid_index_owner subid_index_change;

/*
 * Publish a new index at path with this generation: old (may be NULL: an
 * empty one) with the changes applied (any order, one per uid), derived by
 * copying the old sections around the changed records, never by reading
 * every owner again.  The new file is written beside path, synced, renamed
 * over it, and the directory synced.  OK or ERR (logged).
 */
int subid_index_publish(const char *path, const struct subid_index *old, const subid_index_change *ch, size_t nch,
			uint64_t generation, const struct subid_log *log);

/*
 * Remove the temporary files (".<name>.XXXXXX" beside path) of writers that
 * stopped between creating one and renaming it.  Only under the writer lock.
 */
void subid_index_clean(const char *path, const struct subid_log *log);

#endif
