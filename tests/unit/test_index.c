/*
 * Unit tests for common/subid_index.c: publish (derived from the previous
 * index plus a change) against a model, lookups, and damaged files.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "subid_index.h"
#include "test_common.h"

#define M UINT64_C(2147483648)
#define C UINT64_C(65536)
#define SLOTS 64
#define UIDS 48

/* the model: uid u (0..UIDS-1, real uid 5000+u) owns slot[u] (-1: none) */
struct model {
	int slot[UIDS];
};

static char *
ix_path(struct fx *fx)
{
	return test_path(fx->dir, "ranges.idx");
}

static struct subid_index *
open_ok(struct fx *fx, const char *path)
{
	struct subid_index *ix = NULL;
	int rc = subid_index_open(&ix, path, getuid(), &fx->tl.log);

	if (rc != SUBID_OK)
		test_log_dump(&fx->tl);
	assert_int_equal(rc, SUBID_OK);
	return ix;
}

static void
assert_matches(struct subid_index *ix, const struct model *m)
{
	char why[200];
	size_t n = 0;

	if (subid_index_verify(ix, why, sizeof(why)) != SUBID_OK)
		fail_msg("verify: %s", why);
	for (int u = 0; u < UIDS; u++) {
		struct subid_grant g;
		int rc = subid_index_get(ix, 5000 + u, 1, &g);

		if (m->slot[u] < 0) {
			assert_int_equal(rc, SUBID_NONE);
			continue;
		}
		n++;
		assert_int_equal(rc, SUBID_OK);
		assert_int_equal(g.start, M + (uint64_t)m->slot[u] * C);
		assert_int_equal(g.count, C);
		assert_int_equal(subid_index_get(ix, 5000 + u, 2, &g), SUBID_OK);
		assert_int_equal(g.start, M + (uint64_t)m->slot[u] * C);
	}
	assert_int_equal(subid_index_count(ix), n);
	for (int s = 0; s < SLOTS; s++) {
		int owner = -1;
		uid_t uid = 0;

		for (int u = 0; u < UIDS; u++)
			if (m->slot[u] == s)
				owner = u;
		for (int k = 1; k <= 2; k++) {
			int rc = subid_index_owner_of(ix, k, M + (uint64_t)s * C + C / 2, &uid);

			if (owner < 0) {
				assert_int_equal(rc, SUBID_NONE);
			} else {
				assert_int_equal(rc, SUBID_OK);
				assert_int_equal(uid, 5000 + owner);
			}
			rc = subid_index_overlap(ix, k, M + (uint64_t)s * C + 7, 1, (uid_t)-1, &uid, NULL);
			assert_int_equal(rc, owner < 0 ? SUBID_NONE : SUBID_OK);
			if (owner >= 0)
				assert_int_equal(subid_index_overlap(ix, k, M + (uint64_t)s * C, C, 5000 + owner, NULL, NULL),
						 SUBID_NONE);
		}
	}
}

/* Random grants, moves and releases, a few at a time, each publish derived from the last. */
static void
test_publish_model(void **state)
{
	struct fx *fx = *state;
	char *path = ix_path(fx);
	struct model m;
	struct subid_index *ix = NULL;
	uint64_t gen = 0;
	unsigned seed = 12345;

	for (int u = 0; u < UIDS; u++)
		m.slot[u] = -1;
	assert_int_equal(mkdir(fx->libdir, 0755), 0);
	/* no file yet: nothing granted */
	assert_int_equal(subid_index_open(&ix, path, getuid(), &fx->tl.log), SUBID_NONE);
	assert_int_equal(subid_index_publish(path, NULL, NULL, 0, gen, &fx->tl.log), SUBID_OK);
	for (int round = 0; round < 300; round++) {
		subid_index_change ch[4];
		size_t nch = 0, want = 1 + (size_t)(rand_r(&seed) % 4);
		struct subid_index *next;

		ix = open_ok(fx, path);
		assert_int_equal(subid_index_generation(ix), gen);
		assert_matches(ix, &m);
		while (nch < want) {
			int u = rand_r(&seed) % UIDS, s = rand_r(&seed) % SLOTS;
			bool dup = false, used = false;

			for (size_t i = 0; i < nch; i++)
				dup = dup || ch[i].uid == (uid_t)(5000 + u);
			for (int v = 0; v < UIDS; v++)
				used = used || m.slot[v] == s;
			if (dup || (used && m.slot[u] != s))
				continue;
			memset(&ch[nch], 0, sizeof(ch[nch]));
			ch[nch].uid = 5000 + u;
			ch[nch].name_hash = (uint32_t)round;
			if (rand_r(&seed) % 3 == 0) {
				m.slot[u] = -1;	/* released */
			} else {
				m.slot[u] = s;
				ch[nch].r[0] = ch[nch].r[1] = (struct subid_grant){ M + (uint64_t)s * C, C };
			}
			nch++;
		}
		if (subid_index_publish(path, ix, ch, nch, ++gen, &fx->tl.log) != SUBID_OK) {
			test_log_dump(&fx->tl);
			for (size_t i = 0; i < nch; i++)
				print_message("change uid %u start %llu count %llu\n", (unsigned)ch[i].uid, (unsigned long long)ch[i].r[0].start, (unsigned long long)ch[i].r[0].count);
			fail();
		}
		subid_index_close(ix);
		next = open_ok(fx, path);
		assert_int_equal(subid_index_generation(next), gen);
		subid_index_close(next);
	}
	ix = open_ok(fx, path);
	assert_matches(ix, &m);
	subid_index_close(ix);
	free(path);
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void *
slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	void *p;

	assert_true(fd >= 0);
	*len = (size_t)file_size(path);
	p = malloc(*len);
	assert_non_null(p);
	assert_int_equal(read(fd, p, *len), (ssize_t)*len);
	close(fd);
	return p;
}

/* Every single damaged byte and every truncation: an error, or a checked answer; never a crash. */
static void
test_damage(void **state)
{
	struct fx *fx = *state;
	char *path = ix_path(fx);
	subid_index_change ch[3] = {
		{ 5001, 1, { { M, C }, { M, C } } },
		{ 5002, 2, { { M + C, C }, { M + C, C } } },
		{ 5003, 3, { { M + 2 * C, C }, { 0, 0 } } },
	};
	size_t len;
	unsigned char *good, *bad;
	size_t wrong = 0;

	assert_int_equal(mkdir(fx->libdir, 0755), 0);
	assert_int_equal(subid_index_publish(path, NULL, ch, 3, 7, &fx->tl.log), SUBID_OK);
	good = slurp(path, &len);
	bad = malloc(len);
	assert_non_null(bad);
	for (size_t t = 0; t < len; t++) {
		struct subid_index *ix;

		assert_int_equal(subid_index_from_buffer(&ix, good, t), SUBID_ERR);
	}
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct subid_index *ix;
			struct subid_grant g;
			uid_t uid;
			char why[100];

			memcpy(bad, good, len);
			bad[i] ^= (unsigned char)(1u << bit);
			if (subid_index_from_buffer(&ix, bad, len) != SUBID_OK)
				continue;
			/* a damaged record is never served as an owner's range */
			assert_int_equal(subid_index_verify(ix, why, sizeof(why)), SUBID_ERR);
			if (subid_index_get(ix, 5001, 1, &g) == SUBID_OK && (g.start != M || g.count != C))
				wrong++;
			if (subid_index_get(ix, 5002, 2, &g) == SUBID_OK && (g.start != M + C || g.count != C))
				wrong++;
			if (subid_index_owner_of(ix, 1, M + 5, &uid) == SUBID_OK && uid != 5001)
				wrong++;
			(void)subid_index_overlap(ix, 0, M, 3 * C, 5001, &uid, NULL);
			subid_index_close(ix);
		}
	}
	assert_int_equal(wrong, 0);
	free(bad);
	free(good);
	free(path);
}

/* An index another user could change is refused, as a symlink is. */
static void
test_unsafe(void **state)
{
	struct fx *fx = *state;
	char *path = ix_path(fx), *link = test_path(fx->dir, "link.idx");
	struct subid_index *ix = NULL;

	assert_int_equal(mkdir(fx->libdir, 0755), 0);
	assert_int_equal(subid_index_publish(path, NULL, NULL, 0, 1, &fx->tl.log), SUBID_OK);
	assert_int_equal(file_size(path), 64);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(subid_index_open(&ix, path, getuid(), &fx->tl.log), SUBID_ERR);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(subid_index_open(&ix, link, getuid(), &fx->tl.log), SUBID_ERR);
	assert_int_equal(subid_index_open(&ix, path, getuid() + 1, &fx->tl.log), SUBID_ERR);
	ix = open_ok(fx, path);
	assert_int_equal(subid_index_count(ix), 0);
	subid_index_close(ix);
	free(link);
	free(path);
}

/* A change that does not fit the old index (a removal of a span it lacks) publishes nothing. */
static void
test_inconsistent_change(void **state)
{
	struct fx *fx = *state;
	char *path = ix_path(fx);
	subid_index_change a = { 5001, 0, { { M, C }, { M, C } } }, twice[2] = { a, a };
	struct subid_index *ix;

	assert_int_equal(mkdir(fx->libdir, 0755), 0);
	assert_int_equal(subid_index_publish(path, NULL, &a, 1, 1, &fx->tl.log), SUBID_OK);
	ix = open_ok(fx, path);
	assert_int_equal(subid_index_publish(path, ix, twice, 2, 2, &fx->tl.log), SUBID_ERR);
	subid_index_close(ix);
	ix = open_ok(fx, path);
	assert_int_equal(subid_index_generation(ix), 1);
	subid_index_close(ix);
	free(path);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_publish_model),
		T(test_damage),
		T(test_unsafe),
		T(test_inconsistent_change),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
