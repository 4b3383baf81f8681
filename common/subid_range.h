/*
 * Range arithmetic.  IDs are 32-bit (uid_t); 4294967295 is (uid_t)-1 and
 * never valid, so every range must end at or below SUBID_ID_LIMIT.
 * Ranges are half-open: [start, start + count).
 */
#ifndef SUBID_RANGE_H
#define SUBID_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUBID_ID_LIMIT UINT64_C(4294967295)

/*
 * What every module and back end returns (as an int): 0 done, 1 "none" (no
 * such owner, entry or range: an answer, not an error), negative errors,
 * each logged where it happened.
 */
enum subid_result {
	SUBID_OK = 0,
	SUBID_NONE = 1,		/* no such owner, entry or range; or nothing granted yet */
	SUBID_CONFLICT = 2,	/* an import would overlap or replace something (not logged) */
	SUBID_ERR = -1,		/* refused, unsafe, malformed, bad credentials, out of memory */
	SUBID_FULL = -2,	/* the pool is exhausted */
	SUBID_DOWN = -3,	/* the directory did not answer (unreachable or timed out) */
};

enum subid_kind {
	SUBID_KIND_UID = 1,	/* same values as libsubid's enum subid_type */
	SUBID_KIND_GID = 2,
};

/* One owner's range of one kind: [start, start + count). */
struct subid_grant {
	uint64_t start;
	uint64_t count;
};

/* Where allocations come from: [min, max), count IDs per owner. */
struct subid_pool {
	uint64_t min, max, count;
};

struct subid_interval {
	uint64_t start;
	uint64_t end;		/* exclusive */
};

/* end = start + count; false when count is 0, it overflows, or passes the ID limit. */
bool subid_range_end(uint64_t start, uint64_t count, uint64_t *end);

bool subid_interval_overlap(const struct subid_interval *a, const struct subid_interval *b);

/* Sort by start and merge overlapping or adjacent intervals in place; returns new length. */
size_t subid_intervals_normalize(struct subid_interval *v, size_t n);

/*
 * Every pair of v[0..n) that overlaps, each met once: fn(a, b, ctx) with a
 * the one that starts first (the earlier in v when both start together), as
 * indices into v, which is not modified.  A sweep by start over the
 * intervals still open: O(n log n) unless many overlap one another.  fn's
 * nonzero return stops the sweep and is returned; -1 out of memory.
 */
int subid_intervals_each_overlap(const struct subid_interval *v, size_t n, int (*fn)(size_t a, size_t b, void *ctx),
				 void *ctx);

/*
 * True when [start, start+count) is wholly covered by the union of v[0..n)
 * (adjacent intervals together may cover it).  False on overflow, count 0,
 * or any gap.  v need not be sorted; it is not modified.
 */
bool subid_intervals_cover(const struct subid_interval *v, size_t n, uint64_t start, uint64_t count);

/*
 * First fit: the lowest s with s ≡ base (mod align), lo <= s, s + count <= hi,
 * and [s, s+count) disjoint from every taken interval (taken must be
 * normalized: sorted, merged).  Returns true and sets *out when found.
 * Cost is O(log n + k) where k is the number of taken intervals inside [lo, hi).
 */
bool subid_first_fit(uint64_t lo, uint64_t hi, uint64_t base, uint64_t align, uint64_t count,
		     const struct subid_interval *taken, size_t ntaken, uint64_t *out);

#endif
