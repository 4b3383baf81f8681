/* Unit tests for common/subid_range.c: range arithmetic and first fit. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "subid_range.h"
#include "test_common.h"

#define U64MAX UINT64_MAX
#define P2_32 UINT64_C(4294967296)

/* ---- subid_range_end ------------------------------------------------------ */

static void
test_range_end(void **state)
{
	static const struct {
		uint64_t start, count;
		bool ok;
		uint64_t end;
	} t[] = {
		{ 100000, 65536, true, 165536 },
		{ 2147483648u, 65536, true, 2147549184u },
		{ 0, 1, true, 1 },
		{ 0, 0, false, 0 },				/* count 0 */
		{ 100, 0, false, 0 },
		{ U64MAX, 1, false, 0 },			/* wraps to 0 */
		{ UINT64_C(1) << 63, UINT64_C(1) << 63, false, 0 },	/* exactly 2^64 */
		{ 1, U64MAX, false, 0 },
		{ U64MAX, U64MAX, false, 0 },
		{ 4294967295u, 1, false, 0 },			/* end 2^32 > limit */
		{ 4294967294u, 1, true, 4294967295u },		/* end == limit */
		{ 0, 4294967295u, true, 4294967295u },		/* whole ID space */
		{ 0, P2_32, false, 0 },
		{ 4294836224u, 131071, true, 4294967295u },
		{ 4294836224u, 131072, false, 0 },
		{ P2_32, 1, false, 0 },				/* start past limit */
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		uint64_t end = 12345;
		bool ok = subid_range_end(t[i].start, t[i].count, &end);

		if (ok != t[i].ok)
			print_error("case %zu: start=%ju count=%ju\n", i, (uintmax_t)t[i].start,
				    (uintmax_t)t[i].count);
		assert_int_equal(ok, t[i].ok);
		if (t[i].ok)
			assert_int_equal(end, t[i].end);
	}
}

/* ---- subid_interval_overlap --------------------------------------------- */

static void
test_interval_overlap(void **state)
{
	static const struct {
		struct subid_interval a, b;
		bool overlap;
	} t[] = {
		{ { 0, 10 }, { 10, 20 }, false },	/* touching */
		{ { 0, 10 }, { 9, 20 }, true },		/* one ID shared */
		{ { 0, 10 }, { 2, 3 }, true },		/* contained */
		{ { 5, 6 }, { 5, 6 }, true },		/* identical */
		{ { 0, 10 }, { 20, 30 }, false },	/* apart */
		{ { 100000, 165536 }, { 165535, 165536 }, true },
		{ { 0, U64MAX }, { U64MAX - 1, U64MAX }, true },
		{ { 2147483648u, 2147549184u }, { 2147549184u, 2147614720u }, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (subid_interval_overlap(&t[i].a, &t[i].b) != t[i].overlap ||
		    subid_interval_overlap(&t[i].b, &t[i].a) != t[i].overlap)
			print_error("case %zu\n", i);
		/* symmetric */
		assert_int_equal(subid_interval_overlap(&t[i].a, &t[i].b), t[i].overlap);
		assert_int_equal(subid_interval_overlap(&t[i].b, &t[i].a), t[i].overlap);
	}
}

/* ---- subid_intervals_normalize ----------------------------------------- */

struct norm_case {
	const char *name;
	size_t n;
	struct subid_interval in[6];
	size_t nout;
	struct subid_interval out[6];
};

static void
test_intervals_normalize(void **state)
{
	static const struct norm_case t[] = {
		{ "empty", 0, { { 0, 0 } }, 0, { { 0, 0 } } },
		{ "single", 1, { { 10, 20 } }, 1, { { 10, 20 } } },
		{ "unsorted disjoint", 3, { { 30, 40 }, { 10, 20 }, { 50, 60 } },
		  3, { { 10, 20 }, { 30, 40 }, { 50, 60 } } },
		{ "overlapping", 2, { { 15, 25 }, { 10, 20 } }, 1, { { 10, 25 } } },
		{ "adjacent", 2, { { 20, 30 }, { 10, 20 } }, 1, { { 10, 30 } } },
		{ "contained", 2, { { 10, 100 }, { 20, 30 } }, 1, { { 10, 100 } } },
		{ "duplicates", 3, { { 10, 20 }, { 10, 20 }, { 10, 20 } }, 1, { { 10, 20 } } },
		{ "gap of one kept", 2, { { 21, 30 }, { 10, 20 } }, 2, { { 10, 20 }, { 21, 30 } } },
		{ "chain", 5, { { 50, 60 }, { 10, 20 }, { 15, 50 }, { 70, 80 }, { 60, 65 } },
		  2, { { 10, 65 }, { 70, 80 } } },
		{ "same start, longer second", 2, { { 10, 20 }, { 10, 40 } }, 1, { { 10, 40 } } },
		{ "near the ID limit", 3,
		  { { 4294901760u, 4294967295u }, { 100000, 165536 }, { 4294836224u, 4294901760u } },
		  2, { { 100000, 165536 }, { 4294836224u, 4294967295u } } },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		struct subid_interval v[6];
		size_t n;

		memcpy(v, t[i].in, sizeof(v));
		n = subid_intervals_normalize(v, t[i].n);
		if (n != t[i].nout)
			print_error("case \"%s\": %zu intervals, want %zu\n", t[i].name, n, t[i].nout);
		assert_int_equal(n, t[i].nout);
		for (j = 0; j < n; j++) {
			if (v[j].start != t[i].out[j].start || v[j].end != t[i].out[j].end)
				print_error("case \"%s\" [%zu]: [%ju,%ju) want [%ju,%ju)\n", t[i].name, j,
					    (uintmax_t)v[j].start, (uintmax_t)v[j].end,
					    (uintmax_t)t[i].out[j].start, (uintmax_t)t[i].out[j].end);
			assert_int_equal(v[j].start, t[i].out[j].start);
			assert_int_equal(v[j].end, t[i].out[j].end);
		}
	}
}

/* ---- subid_intervals_cover ----------------------------------------------- */

static void
check_cover(const struct subid_interval *v, size_t n, uint64_t start, uint64_t count, bool want)
{
	struct subid_interval copy[8];
	bool got;

	assert_true(n <= ARRAY_SIZE(copy));
	memcpy(copy, v, n * sizeof(*v));
	got = subid_intervals_cover(v, n, start, count);
	if (got != want)
		print_error("cover(start=%ju, count=%ju) = %d, want %d\n", (uintmax_t)start,
			    (uintmax_t)count, got, want);
	assert_int_equal(got, want);
	/* v is not modified */
	assert_memory_equal(copy, v, n * sizeof(*v));
}

static void
test_intervals_cover_pieces(void **state)
{
	/* deliberately unsorted: [100,200) [200,300) are adjacent, then a gap to 400 */
	static const struct subid_interval v[] = { { 400, 500 }, { 200, 300 }, { 100, 200 } };
	static const struct {
		uint64_t start, count;
		bool covered;
	} t[] = {
		{ 100, 100, true },	/* exactly one piece */
		{ 100, 200, true },	/* two adjacent pieces together */
		{ 150, 100, true },	/* across the seam */
		{ 100, 1, true },
		{ 299, 1, true },
		{ 300, 1, false },	/* first ID of the gap */
		{ 99, 1, false },	/* just before */
		{ 99, 2, false },	/* starts outside */
		{ 250, 200, false },	/* spans the gap */
		{ 100, 400, false },	/* whole span, gap inside */
		{ 400, 100, true },
		{ 450, 51, false },	/* runs past the end */
		{ 500, 1, false },
		{ 150, 0, false },	/* count 0 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++)
		check_cover(v, ARRAY_SIZE(v), t[i].start, t[i].count, t[i].covered);
}

static void
test_intervals_cover_overlapping_pieces(void **state)
{
	static const struct subid_interval v[] = { { 200, 300 }, { 100, 250 }, { 120, 130 } };

	(void)state;
	check_cover(v, ARRAY_SIZE(v), 100, 200, true);
	check_cover(v, ARRAY_SIZE(v), 100, 201, false);
	check_cover(v, ARRAY_SIZE(v), 125, 150, true);
}

static void
test_intervals_cover_limits(void **state)
{
	/* raw arithmetic would say these cover anything below 2^64 - 1 */
	static const struct subid_interval all[] = { { 0, U64MAX } };
	static const struct subid_interval high[] = { { P2_32, P2_32 + 100 } };
	static const struct subid_interval pool[] = { { 2147483648u, 4294836224u } };

	(void)state;
	check_cover(all, 1, 0, 1, true);
	check_cover(all, 1, 4294967294u, 1, true);	/* last valid ID */
	check_cover(all, 1, 0, 4294967295u, true);	/* whole ID space */
	check_cover(all, 1, 4294967295u, 1, false);	/* (uid_t)-1 */
	check_cover(all, 1, 0, P2_32, false);
	check_cover(all, 1, P2_32, 10, false);		/* start beyond 2^32 */
	check_cover(all, 1, U64MAX - 1, 2, false);	/* start + count wraps to 0 */
	check_cover(all, 1, U64MAX, 1, false);		/* wraps to 0 */
	check_cover(all, 1, 10, U64MAX, false);		/* wraps to 9 */
	check_cover(all, 1, 10, 0, false);		/* count 0 */
	check_cover(high, 1, P2_32, 10, false);
	check_cover(pool, 1, 2147483648u, 65536, true);
	check_cover(pool, 1, 4294836224u - 65536, 65536, true);
	check_cover(pool, 1, 4294836224u - 65536, 65537, false);
	/* nothing to cover with */
	check_cover(pool, 0, 2147483648u, 1, false);
}

/* ---- subid_first_fit ---------------------------------------------------------- */

struct fit_case {
	const char *name;
	uint64_t lo, hi, base, align, count;
	size_t ntaken;
	struct subid_interval taken[4];
	bool found;
	uint64_t out;
};

static void
test_first_fit_table(void **state)
{
	static const struct fit_case t[] = {
		{ "empty pool start", 1000, 2000, 1000, 100, 100, 0, { { 0, 0 } }, true, 1000 },
		{ "lo rounded up to the alignment", 1050, 2000, 1000, 100, 100, 0, { { 0, 0 } }, true, 1100 },
		{ "base above lo sets the phase", 1000, 2000, 1030, 100, 100, 0, { { 0, 0 } }, true, 1030 },
		{ "base below lo sets the phase", 1000, 2000, 30, 100, 100, 0, { { 0, 0 } }, true, 1030 },
		{ "base far above lo sets only the phase", 1000, 2000, 1530, 100, 100, 0, { { 0, 0 } }, true, 1030 },
		{ "first slot taken", 1000, 2000, 1000, 100, 100, 1, { { 1000, 1100 } }, true, 1100 },
		{ "unaligned taken in first slot", 1000, 2000, 1000, 100, 100, 1, { { 1010, 1020 } }, true, 1100 },
		{ "partial overlap of two slots", 1000, 2000, 1000, 100, 100, 1, { { 1099, 1101 } }, true, 1200 },
		{ "taken ends unaligned: next aligned start", 1000, 2000, 1000, 100, 100, 1, { { 1000, 1150 } }, true, 1200 },
		{ "taken straddles lo", 1000, 2000, 1000, 100, 100, 1, { { 950, 1050 } }, true, 1100 },
		{ "taken ends exactly at lo", 1000, 2000, 1000, 100, 100, 1, { { 900, 1000 } }, true, 1000 },
		{ "taken starts exactly at s+count", 1000, 2000, 1000, 100, 100, 1, { { 1100, 1200 } }, true, 1000 },
		{ "taken outside [lo,hi)", 1000, 2000, 1000, 100, 100, 2, { { 0, 500 }, { 5000, 6000 } }, true, 1000 },
		{ "hole between taken", 1000, 2000, 1000, 100, 200, 2, { { 1000, 1100 }, { 1300, 1400 } }, true, 1100 },
		{ "hole too small, next one", 1000, 2000, 1000, 100, 300, 2, { { 1000, 1100 }, { 1300, 1400 } }, true, 1400 },
		{ "several taken, hole late", 1000, 2000, 1000, 100, 100, 3,
		  { { 1000, 1250 }, { 1300, 1500 }, { 1600, 1900 } }, true, 1500 },
		{ "last slot fits exactly (s+count == hi)", 1000, 1200, 1000, 100, 100, 1, { { 1000, 1100 } }, true, 1100 },
		{ "hi unaligned: last slot too short", 1000, 1199, 1000, 100, 100, 1, { { 1000, 1100 } }, false, 0 },
		{ "all taken", 1000, 2000, 1000, 100, 100, 1, { { 1000, 2000 } }, false, 0 },
		{ "all taken by a wider interval", 1000, 2000, 1000, 100, 100, 1, { { 0, 3000 } }, false, 0 },
		{ "pool of two slots, both taken", 1000, 1200, 1000, 100, 100, 1, { { 1000, 1200 } }, false, 0 },
		{ "count bigger than the pool", 1000, 2000, 1000, 100, 1001, 0, { { 0, 0 } }, false, 0 },
		{ "count equal to the pool", 1000, 2000, 1000, 100, 1000, 0, { { 0, 0 } }, true, 1000 },
		{ "huge count overflows", 1000, U64MAX, 1000, 100, U64MAX, 0, { { 0, 0 } }, false, 0 },
		{ "huge count 2^63", 1000, U64MAX, 1000, 100, UINT64_C(1) << 63, 0, { { 0, 0 } }, true, 1000 },
		{ "empty pool lo == hi", 1000, 1000, 1000, 100, 100, 0, { { 0, 0 } }, false, 0 },
		{ "inverted pool lo > hi", 2000, 1000, 1000, 100, 100, 0, { { 0, 0 } }, false, 0 },
		{ "align 1", 1000, 2000, 0, 1, 10, 1, { { 1000, 1005 } }, true, 1005 },
		{ "aligned start near 2^64 fits", U64MAX - 50, U64MAX, 0, 100, 10, 0, { { 0, 0 } }, true,
		  UINT64_C(18446744073709551600) },
		{ "aligned start near 2^64 too short", U64MAX - 50, U64MAX, 0, 100, 20, 0, { { 0, 0 } }, false, 0 },
		{ "aligned start would wrap past 2^64", U64MAX - 5, U64MAX, 0, 100, 1, 0, { { 0, 0 } }, false, 0 },
		{ "next slot after taken would wrap", U64MAX - 150, U64MAX, 0, 100, 10, 1,
		  { { UINT64_C(18446744073709551500), U64MAX } }, false, 0 },
		{ "default pool, first slot", 2147483648u, 4294836224u, 2147483648u, 65536, 65536, 0, { { 0, 0 } },
		  true, 2147483648u },
		{ "default pool, one ID of the first slot taken", 2147483648u, 4294836224u, 2147483648u, 65536,
		  65536, 1, { { 2147483649u, 2147483650u } }, true, 2147549184u },
		{ "default pool, only the last slot free", 2147483648u, 4294836224u, 2147483648u, 65536, 65536, 1,
		  { { 2147483648u, 4294770688u } }, true, 4294770688u },
		{ "default pool, full", 2147483648u, 4294836224u, 2147483648u, 65536, 65536, 2,
		  { { 100000, 165536 }, { 2147483648u, 4294836224u } }, false, 0 },
	};
	size_t i, failed = 0;

	(void)state;
	/* run every case, report each failure, then fail once */
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		uint64_t out = 4242;
		bool found = subid_first_fit(t[i].lo, t[i].hi, t[i].base, t[i].align, t[i].count,
					     t[i].ntaken ? t[i].taken : NULL, t[i].ntaken, &out);

		if (found != t[i].found || (found && out != t[i].out)) {
			print_error("case \"%s\": found=%d out=%ju, want found=%d out=%ju\n", t[i].name,
				    found, (uintmax_t)out, t[i].found, (uintmax_t)t[i].out);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Many taken slots, one hole far away; then no hole at all. */
static void
test_first_fit_many_taken(void **state)
{
	enum { SLOTS = 5000, HOLE = 4321 };
	const uint64_t lo = 2147483648u, count = 65536;
	struct subid_interval *taken;
	size_t n = 0, i;
	uint64_t out = 0;

	(void)state;
	taken = calloc(SLOTS, sizeof(*taken));
	assert_non_null(taken);
	/* every slot taken by a small unaligned interval, except slot HOLE */
	for (i = 0; i < SLOTS; i++) {
		if (i == HOLE)
			continue;
		taken[n].start = lo + i * count + 7;
		taken[n].end = lo + i * count + 9;
		n++;
	}
	assert_true(subid_first_fit(lo, lo + SLOTS * count, lo, count, count, taken, n, &out));
	assert_int_equal(out, lo + HOLE * count);

	/* the same with lo inside the taken list (skipping what lies below lo) */
	assert_true(subid_first_fit(lo + 100 * count, lo + SLOTS * count, lo, count, count, taken, n, &out));
	assert_int_equal(out, lo + HOLE * count);

	/* lo past the hole: nothing left */
	assert_false(subid_first_fit(lo + (HOLE + 1) * count, lo + SLOTS * count, lo, count, count, taken, n,
				     &out));

	/* slot HOLE is taken too: pool exhausted */
	taken[n].start = lo + HOLE * count + 65535;
	taken[n].end = lo + HOLE * count + 65536;
	n = subid_intervals_normalize(taken, n + 1);
	assert_int_equal(n, SLOTS);
	assert_false(subid_first_fit(lo, lo + SLOTS * count, lo, count, count, taken, n, &out));
	free(taken);
}

struct pairs {
	size_t n;
	size_t a[16], b[16];
};

static int
record_pair(size_t a, size_t b, void *ctx)
{
	struct pairs *p = ctx;

	assert_true(p->n < 16);
	p->a[p->n] = a;
	p->b[p->n] = b;
	p->n++;
	return 0;
}

static int
stop_at_first(size_t a, size_t b, void *ctx)
{
	(void)a;
	(void)b;
	(*(int *)ctx)++;
	return 7;
}

/* Every overlapping pair once, earlier start first, as indices into the untouched input. */
static void
test_intervals_each_overlap(void **state)
{
	/* 0 and 2 overlap, 1 touches 0 only at its end (no overlap), 3 lies inside 2, 4 stands alone */
	const struct subid_interval v[] = { { 100, 200 }, { 200, 300 }, { 150, 400 }, { 160, 170 }, { 500, 600 } };
	const struct subid_interval same[] = { { 10, 20 }, { 10, 30 } };
	struct pairs p = { 0 };
	int calls = 0;

	(void)state;
	assert_int_equal(subid_intervals_each_overlap(v, 5, record_pair, &p), 0);
	assert_int_equal(p.n, 4);
	/* by start: 0 (100), 2 (150), 3 (160), 1 (200) */
	assert_int_equal(p.a[0], 0);
	assert_int_equal(p.b[0], 2);
	assert_int_equal(p.a[1], 0);
	assert_int_equal(p.b[1], 3);
	assert_int_equal(p.a[2], 2);
	assert_int_equal(p.b[2], 3);
	assert_int_equal(p.a[3], 2);
	assert_int_equal(p.b[3], 1);
	assert_int_equal(v[0].start, 100);	/* not sorted in place */
	assert_int_equal(v[1].start, 200);

	/* equal starts: the earlier one in v comes first */
	p.n = 0;
	assert_int_equal(subid_intervals_each_overlap(same, 2, record_pair, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.a[0], 0);
	assert_int_equal(p.b[0], 1);

	/* none, and the callback's stop */
	p.n = 0;
	assert_int_equal(subid_intervals_each_overlap(v + 4, 1, record_pair, &p), 0);
	assert_int_equal(subid_intervals_each_overlap(NULL, 0, record_pair, &p), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(subid_intervals_each_overlap(v, 5, stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_end),
		cmocka_unit_test(test_interval_overlap),
		cmocka_unit_test(test_intervals_normalize),
		cmocka_unit_test(test_intervals_cover_pieces),
		cmocka_unit_test(test_intervals_cover_overlapping_pieces),
		cmocka_unit_test(test_intervals_cover_limits),
		cmocka_unit_test(test_first_fit_table),
		cmocka_unit_test(test_first_fit_many_taken),
		cmocka_unit_test(test_intervals_each_overlap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
