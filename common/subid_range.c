#include "config.h"

#include <stdlib.h>

#include "subid_range.h"

bool
subid_range_end(uint64_t start, uint64_t count, uint64_t *end)
{
	if (count == 0 || start > SUBID_ID_LIMIT || count > SUBID_ID_LIMIT - start)
		return false;
	*end = start + count;
	return true;
}

bool
subid_interval_overlap(const struct subid_interval *a, const struct subid_interval *b)
{
	return a->start < b->end && b->start < a->end;
}

static int
cmp_interval(const void *pa, const void *pb)
{
	const struct subid_interval *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return 0;
}

size_t
subid_intervals_normalize(struct subid_interval *v, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_interval);
	for (size_t i = 1; i < n; i++) {
		if (v[i].start <= v[out].end) {
			if (v[i].end > v[out].end)
				v[out].end = v[i].end;
		} else {
			v[++out] = v[i];
		}
	}
	return out + 1;
}

struct by_start {
	uint64_t start;
	size_t i;
};

/* by start, then by position: the order a stable sort of v by start gives */
static int
cmp_by_start(const void *pa, const void *pb)
{
	const struct by_start *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i ? 1 : 0;
}

int
subid_intervals_each_overlap(const struct subid_interval *v, size_t n, int (*fn)(size_t a, size_t b, void *ctx),
			     void *ctx)
{
	struct by_start *s;
	size_t *open, nopen = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	s = calloc(n, sizeof(*s));
	open = calloc(n, sizeof(*open));
	if (s == NULL || open == NULL) {
		free(s);
		free(open);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (struct by_start){ v[i].start, i };
	qsort(s, n, sizeof(*s), cmp_by_start);
	/* the open set: intervals begun before this one that have not ended yet */
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct subid_interval *b = &v[s[i].i];
		size_t k = 0;

		for (size_t j = 0; j < nopen; j++)
			if (v[open[j]].end > b->start)
				open[k++] = open[j];
		nopen = k;
		for (size_t j = 0; j < nopen && rc == 0; j++)
			rc = fn(open[j], s[i].i, ctx);
		open[nopen++] = s[i].i;
	}
	free(s);
	free(open);
	return rc;
}

bool
subid_intervals_cover(const struct subid_interval *v, size_t n, uint64_t start, uint64_t count)
{
	uint64_t end, pos;
	bool progress = true;

	if (!subid_range_end(start, count, &end))
		return false;
	/*
	 * Walk forward from start, each round extending the covered prefix with
	 * any interval that begins inside it.  n is small (a handful of ranges
	 * per owner), so O(n^2) is fine and needs no copy.
	 */
	pos = start;
	while (pos < end && progress) {
		progress = false;
		for (size_t i = 0; i < n; i++) {
			if (v[i].start <= pos && v[i].end > pos) {
				pos = v[i].end;
				progress = true;
			}
		}
	}
	return pos >= end;
}

/* Smallest x >= v with x ≡ base (mod align); false when it would pass 2^64. */
static bool
align_up(uint64_t v, uint64_t base, uint64_t align, uint64_t *out)
{
	uint64_t phase = base % align, r = v % align, add;

	add = r <= phase ? phase - r : align - (r - phase);
	if (add > UINT64_MAX - v)
		return false;
	*out = v + add;
	return true;
}

bool
subid_first_fit(uint64_t lo, uint64_t hi, uint64_t base, uint64_t align, uint64_t count,
		const struct subid_interval *taken, size_t ntaken, uint64_t *out)
{
	uint64_t s;
	size_t i, a = 0, b = ntaken;

	if (count == 0 || align == 0 || lo >= hi)
		return false;
	/* first taken interval whose end is past lo (binary search) */
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (taken[m].end <= lo)
			a = m + 1;
		else
			b = m;
	}
	i = a;
	if (!align_up(lo, base, align, &s))
		return false;
	for (;;) {
		if (s > hi || count > hi - s)
			return false;
		/* skip taken intervals wholly before s */
		while (i < ntaken && taken[i].end <= s)
			i++;
		if (i == ntaken || taken[i].start >= s + count) {
			*out = s;
			return true;
		}
		if (!align_up(taken[i].end, base, align, &s))
			return false;
	}
}
