/*
 * Unit tests for common/subid_store.c against a real SQLite database in a
 * scratch directory (owner_uid = getuid()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "subid_config.h"
#include "subid_store.h"
#include "test_common.h"


/* the default pool */
#define M UINT64_C(2147483648)
#define C UINT64_C(65536)
static const struct subid_pool pool10 = { M, M + 10 * C, C };
static const struct subid_pool pool_default = { M, UINT64_C(4294836224), C };


/* A read-write open with the index where the configuration would put it (dir/ranges.idx). */
static int
rw_open(struct subid_store **st, const char *path, uid_t owner, const struct subid_log *log)
{
	char *idx = subid_default_index_path(path);
	int rc;

	assert_non_null(idx);
	rc = subid_store_open_rw(st, path, idx, owner, log);
	free(idx);
	return rc;
}

static struct subid_store *
open_rw(struct fx *fx, const char *path)
{
	struct subid_store *st = NULL;
	int rc = rw_open(&st, path, getuid(), &fx->tl.log);

	if (rc != SUBID_OK)
		test_log_dump(&fx->tl);
	assert_int_equal(rc, SUBID_OK);
	assert_non_null(st);
	return st;
}

static struct subid_store *
open_ro(struct fx *fx, const char *path)
{
	struct subid_store *st = NULL;
	int rc = subid_store_open_ro(&st, path, getuid(), &fx->tl.log);

	if (rc != SUBID_OK)
		test_log_dump(&fx->tl);
	assert_int_equal(rc, SUBID_OK);
	assert_non_null(st);
	return st;
}

/* ensure() that must succeed; returns the (equal) start of both ranges. */
static uint64_t
ensure_ok(struct fx *fx, struct subid_store *st, uid_t uid, const struct subid_pool *pool,
	  const struct subid_interval *taken, size_t ntaken, bool want_granted)
{
	struct subid_grant u = { 1, 1 }, g = { 2, 2 };
	bool granted = !want_granted;
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "user%u", (unsigned)uid);
	rc = subid_store_ensure(st, uid, name, pool, taken, ntaken, &u, &g, &granted);
	if (rc != SUBID_OK) {
		print_error("ensure(uid %u) = %d\n", (unsigned)uid, rc);
		test_log_dump(&fx->tl);
	}
	assert_int_equal(rc, SUBID_OK);
	assert_int_equal(granted, want_granted);
	/* both ranges of one owner start at the same number */
	assert_int_equal(u.start, g.start);
	assert_int_equal(u.count, g.count);
	return u.start;
}

static void
assert_grant(struct subid_store *st, uid_t uid, uint64_t start, uint64_t count)
{
	struct subid_grant gr;

	memset(&gr, 0, sizeof(gr));
	assert_int_equal(subid_store_get(st, uid, SUBID_KIND_UID, &gr), SUBID_OK);
	assert_int_equal(gr.start, start);
	assert_int_equal(gr.count, count);
	memset(&gr, 0, sizeof(gr));
	assert_int_equal(subid_store_get(st, uid, SUBID_KIND_GID, &gr), SUBID_OK);
	assert_int_equal(gr.start, start);
	assert_int_equal(gr.count, count);
}

static void
assert_no_grant(struct subid_store *st, uid_t uid)
{
	struct subid_grant gr;

	assert_int_equal(subid_store_get(st, uid, SUBID_KIND_UID, &gr), SUBID_NONE);
	assert_int_equal(subid_store_get(st, uid, SUBID_KIND_GID, &gr), SUBID_NONE);
}

static void
assert_owner(struct subid_store *st, uint64_t id, int want_rc, uid_t want_uid)
{
	static const enum subid_kind kinds[] = { SUBID_KIND_UID, SUBID_KIND_GID };
	size_t k;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		uid_t uid = (uid_t)-2;
		int rc = subid_store_owner_of(st, kinds[k], id, &uid);

		if (rc != want_rc || (rc == SUBID_OK && uid != want_uid))
			print_error("owner_of(kind %d, %ju) = %d uid %u\n", kinds[k], (uintmax_t)id, rc,
				    (unsigned)uid);
		assert_int_equal(rc, want_rc);
		if (want_rc == SUBID_OK)
			assert_int_equal(uid, want_uid);
	}
}

static mode_t
mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, getuid());
	return sb.st_mode & 07777;
}

static bool
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* ---- open: creation, modes, refusals ------------------------------------------ */

static void
check_create_modes(struct fx *fx, mode_t mask)
{
	struct subid_store *st;
	mode_t old = umask(mask);
	char *idx = test_path(fx->dir, "ranges.idx");

	assert_false(exists(fx->libdir));
	st = open_rw(fx, fx->db);
	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	subid_store_close(st);
	umask(old);
	if (mode_of(fx->libdir) != 0700 || mode_of(fx->db) != 0600)
		print_error("umask %03o: dir %03o db %03o\n", (unsigned)mask, (unsigned)mode_of(fx->libdir),
			    (unsigned)mode_of(fx->db));
	/* the writer store is root's alone; the index beside its directory is everyone's to read */
	assert_int_equal(mode_of(fx->libdir), 0700);
	assert_int_equal(mode_of(fx->db), 0600);
	assert_int_equal(mode_of(idx), 0644);
	free(idx);
}

static void
test_create_modes_umask077(void **state)
{
	check_create_modes(*state, 077);
}

static void
test_create_modes_umask000(void **state)
{
	check_create_modes(*state, 0);
}

/* Rollback journal (not WAL): unprivileged readers need no write access. */
static void
test_rollback_journal(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	unsigned char hdr[100];
	char *wal;
	int fd;

	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	subid_store_close(st);
	fd = open(fx->db, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, hdr, sizeof(hdr)), sizeof(hdr));
	close(fd);
	assert_memory_equal(hdr, "SQLite format 3", 16);
	/* file format write/read version: 1 = rollback journal, 2 = WAL */
	assert_int_equal(hdr[18], 1);
	assert_int_equal(hdr[19], 1);
	assert_true(asprintf(&wal, "%s-wal", fx->db) > 0);
	assert_false(exists(wal));
	free(wal);
}

/* Reopening finds what was written. */
static void
test_reopen_persists(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);

	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M);
	subid_store_close(st);
	st = open_rw(fx, fx->db);
	assert_grant(st, 2001, M, C);
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, false), M);
	subid_store_close(st);
	st = open_ro(fx, fx->db);
	assert_grant(st, 2001, M, C);
	subid_store_close(st);
}

static void
test_open_ro_missing(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = NULL;
	char *db2;

	/* neither the directory nor the database exists */
	assert_int_equal(subid_store_open_ro(&st, fx->db, getuid(), &fx->tl.log), SUBID_NONE);
	assert_false(exists(fx->libdir));
	assert_false(exists(fx->db));

	/* the directory exists, the database does not: still nothing created */
	assert_int_equal(mkdir(fx->libdir, 0755), 0);
	assert_int_equal(subid_store_open_ro(&st, fx->db, getuid(), &fx->tl.log), SUBID_NONE);
	assert_false(exists(fx->db));

	/* same next to an existing database */
	st = open_rw(fx, fx->db);
	subid_store_close(st);
	db2 = test_path(fx->libdir, "other.db");
	st = NULL;
	assert_int_equal(subid_store_open_ro(&st, db2, getuid(), &fx->tl.log), SUBID_NONE);
	assert_false(exists(db2));
	free(db2);
}

static void
expect_open_err(struct fx *fx, const char *what, bool rw, uid_t owner)
{
	struct subid_store *st = NULL;
	int rc;

	test_log_reset(&fx->tl);
	rc = rw ? rw_open(&st, fx->db, owner, &fx->tl.log)
		: subid_store_open_ro(&st, fx->db, owner, &fx->tl.log);
	if (rc != SUBID_ERR)
		print_error("%s (%s): rc %d\n", what, rw ? "rw" : "ro", rc);
	assert_int_equal(rc, SUBID_ERR);
	assert_true(fx->tl.n > 0);	/* ERR is logged */
	if (rc == SUBID_OK)
		subid_store_close(st);
}

static void
test_open_unsafe(void **state)
{
	static const struct {
		const char *what;
		mode_t dbmode, dirmode;
		bool uid_plus_one;
	} t[] = {
		{ "group-writable db", 0664, 0755, false },
		{ "world-writable db", 0646, 0755, false },
		{ "db mode 0666", 0666, 0755, false },
		{ "db owned by someone else", 0644, 0755, true },
	};
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	size_t i;

	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	subid_store_close(st);

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		uid_t owner = getuid() + (t[i].uid_plus_one ? 1 : 0);

		assert_int_equal(chmod(fx->db, t[i].dbmode), 0);
		assert_int_equal(chmod(fx->libdir, t[i].dirmode), 0);
		expect_open_err(fx, t[i].what, false, owner);
		expect_open_err(fx, t[i].what, true, owner);
		/* rw did not "repair" an unsafe file behind our back */
		assert_int_equal(mode_of(fx->db), t[i].dbmode);
	}

	/* a group-writable directory is refused for writing */
	assert_int_equal(chmod(fx->db, 0644), 0);
	assert_int_equal(chmod(fx->libdir, 0775), 0);
	expect_open_err(fx, "group-writable directory", true, getuid());
	assert_int_equal(chmod(fx->libdir, 0757), 0);
	expect_open_err(fx, "world-writable directory", true, getuid());

	/* and all is well again once fixed */
	assert_int_equal(chmod(fx->libdir, 0755), 0);
	st = open_ro(fx, fx->db);
	assert_grant(st, 2001, M, C);
	subid_store_close(st);
}

/* ---- ensure / get / owner_of / release ----------------------------------------- */

static void
test_ensure_basic(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);

	/* first owner: the first slot of the pool, both kinds */
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M);
	assert_grant(st, 2001, M, C);

	/* owner_of: first and last ID of the range; just outside is nobody's */
	assert_owner(st, M, SUBID_OK, 2001);
	assert_owner(st, M + C - 1, SUBID_OK, 2001);
	assert_owner(st, M + C, SUBID_NONE, 0);
	assert_owner(st, M - 1, SUBID_NONE, 0);
	assert_owner(st, 0, SUBID_NONE, 0);

	/* again: same ranges, nothing written */
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, false), M);
	assert_grant(st, 2001, M, C);

	/* next owner: the next aligned slot */
	assert_int_equal(ensure_ok(fx, st, 2002, &pool10, NULL, 0, true), M + C);
	assert_grant(st, 2002, M + C, C);
	assert_owner(st, M + C, SUBID_OK, 2002);
	assert_owner(st, M + 2 * C - 1, SUBID_OK, 2002);
	assert_owner(st, M + 2 * C, SUBID_NONE, 0);
	assert_owner(st, M + C - 1, SUBID_OK, 2001);

	/* unknown owner */
	assert_no_grant(st, 2003);
	subid_store_close(st);
}

static void
test_release_reuse(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);

	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M);
	assert_int_equal(ensure_ok(fx, st, 2002, &pool10, NULL, 0, true), M + C);

	assert_int_equal(subid_store_release(st, 2001), SUBID_OK);
	assert_no_grant(st, 2001);
	assert_owner(st, M, SUBID_NONE, 0);
	assert_owner(st, M + C - 1, SUBID_NONE, 0);
	assert_int_equal(subid_store_release(st, 2001), SUBID_NONE);
	assert_int_equal(subid_store_release(st, 4242), SUBID_NONE);
	/* 2002 untouched */
	assert_grant(st, 2002, M + C, C);

	/* first fit: the hole left by 2001 */
	assert_int_equal(ensure_ok(fx, st, 2003, &pool10, NULL, 0, true), M);
	assert_owner(st, M, SUBID_OK, 2003);
	/* and then past 2002 */
	assert_int_equal(ensure_ok(fx, st, 2004, &pool10, NULL, 0, true), M + 2 * C);
	/* 2001 comes back: a new range, not its old one (now 2003's) */
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M + 3 * C);
	subid_store_close(st);
}

/* taken[] (e.g. /etc/subuid entries) is never handed out. */
static void
test_taken_skipped(void **state)
{
	static const struct {
		const char *what;
		size_t n;
		struct subid_interval taken[3];
		uint64_t start;
	} t[] = {
		{ "nothing taken", 0, { { 0, 0 } }, M },
		{ "first slot exactly", 1, { { M, M + C } }, M + C },
		{ "one ID inside the first slot", 1, { { M + C - 1, M + C } }, M + C },
		{ "unaligned inside the first slot", 1, { { M + 10, M + 20 } }, M + C },
		{ "partial overlap of two slots", 1, { { M + C - 1, M + C + 1 } }, M + 2 * C },
		{ "straddles the pool start", 1, { { M - 100, M + 1 } }, M + C },
		{ "ends exactly at the pool start", 1, { { M - 100, M } }, M },
		{ "second slot only", 1, { { M + C, M + 2 * C } }, M },
		{ "outside the pool", 2, { { 100000, 165536 }, { M + 20 * C, M + 21 * C } }, M },
		{ "first three slots, in pieces", 3, { { M, M + 1 }, { M + C, M + C + 1 }, { M + 2 * C + 5, M + 2 * C + 6 } },
		  M + 3 * C },
	};
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		char name[48];
		char *db;
		struct subid_store *st;
		uint64_t s;

		/* a store and index of its own per case: takenN/private/subid.db, takenN/ranges.idx */
		snprintf(name, sizeof(name), "taken%zu/private/subid.db", i);
		db = test_path(fx->dir, name);
		st = open_rw(fx, db);
		s = ensure_ok(fx, st, 2001, &pool10, t[i].n ? t[i].taken : NULL, t[i].n, true);
		if (s != t[i].start)
			print_error("case \"%s\": start %ju, want %ju\n", t[i].what, (uintmax_t)s,
				    (uintmax_t)t[i].start);
		assert_int_equal(s, t[i].start);
		/* the next owner, with the same taken[], goes past both */
		s = ensure_ok(fx, st, 2002, &pool10, t[i].n ? t[i].taken : NULL, t[i].n, true);
		assert_true(s >= M && s + C <= M + 10 * C);
		assert_true(s != t[i].start);
		for (size_t j = 0; j < t[i].n; j++)
			assert_true(s + C <= t[i].taken[j].start || s >= t[i].taken[j].end);
		subid_store_close(st);
		free(db);
	}
}

/*
 * taken[] as a caller naturally builds it: /etc/subuid and /etc/subgid
 * entries appended in file order, so unsorted and overlapping (ensure(),
 * unlike subid_first_fit(), does not require normalized input).
 */
static void
test_taken_unsorted(void **state)
{
	static const struct subid_interval taken[] = {
		{ M + C, M + 2 * C },		/* subuid: bob */
		{ M, M + 1 },			/* subuid: alice, first slot */
		{ M + C, M + 2 * C },		/* subgid: bob again */
		{ M + 2 * C + 7, M + 2 * C + 9 },	/* subgid: carol, third slot */
	};
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	uint64_t s;

	s = ensure_ok(fx, st, 2001, &pool10, taken, ARRAY_SIZE(taken), true);
	if (s != M + 3 * C)
		print_error("unsorted taken[]: got start %ju, want %ju\n", (uintmax_t)s, (uintmax_t)(M + 3 * C));
	assert_int_equal(s, M + 3 * C);
	subid_store_close(st);
}

/* An existing owner keeps its ranges whatever taken[] or the pool now say. */
static void
test_existing_owner_stable(void **state)
{
	static const struct subid_interval over_first[] = { { M, M + C } };
	static const struct subid_pool elsewhere = { M + 5 * C, M + 10 * C, C };
	static const struct subid_pool smaller = { M, M + 10 * C, 4096 };
	static const struct subid_pool bigger = { M, M + 10 * C, 2 * C };
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);

	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M);
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, over_first, 1, false), M);
	assert_int_equal(ensure_ok(fx, st, 2001, &elsewhere, NULL, 0, false), M);
	assert_int_equal(ensure_ok(fx, st, 2001, &smaller, NULL, 0, false), M);
	assert_int_equal(ensure_ok(fx, st, 2001, &bigger, NULL, 0, false), M);
	assert_grant(st, 2001, M, C);
	subid_store_close(st);
}

/* A read-only handle can look but never write. */
static void
test_readonly_cannot_write(void **state)
{
	struct fx *fx = *state;
	struct subid_store *rw = open_rw(fx, fx->db);
	struct subid_store *ro;
	struct subid_grant u, g;
	bool granted = true;
	int rc;

	ensure_ok(fx, rw, 2001, &pool10, NULL, 0, true);
	subid_store_close(rw);

	ro = open_ro(fx, fx->db);
	assert_grant(ro, 2001, M, C);
	assert_owner(ro, M + 5, SUBID_OK, 2001);

	/* a new owner: cannot be allocated */
	test_log_reset(&fx->tl);
	rc = subid_store_ensure(ro, 2002, "user2002", &pool10, NULL, 0, &u, &g, &granted);
	assert_int_equal(rc, SUBID_ERR);
	assert_true(fx->tl.n > 0);
	assert_no_grant(ro, 2002);

	/* release cannot remove anything either */
	assert_true(subid_store_release(ro, 2001) != SUBID_OK);
	subid_store_close(ro);

	ro = open_ro(fx, fx->db);
	assert_grant(ro, 2001, M, C);
	assert_no_grant(ro, 2002);
	subid_store_close(ro);
}

/* A handle opened before another one writes sees the other's grants. */
static void
test_two_handles(void **state)
{
	struct fx *fx = *state;
	struct subid_store *a = open_rw(fx, fx->db);
	struct subid_store *b = open_rw(fx, fx->db);
	struct subid_store *ro = open_ro(fx, fx->db);

	assert_int_equal(ensure_ok(fx, a, 2001, &pool10, NULL, 0, true), M);
	assert_int_equal(ensure_ok(fx, b, 2002, &pool10, NULL, 0, true), M + C);
	assert_int_equal(ensure_ok(fx, a, 2003, &pool10, NULL, 0, true), M + 2 * C);
	assert_int_equal(ensure_ok(fx, b, 2001, &pool10, NULL, 0, false), M);
	assert_grant(ro, 2003, M + 2 * C, C);
	assert_owner(ro, M + C, SUBID_OK, 2002);
	subid_store_close(a);
	subid_store_close(b);
	subid_store_close(ro);
}

/* ---- pool exhaustion and pool changes ------------------------------------------- */

static void
test_pool_full(void **state)
{
	static const struct subid_pool two = { M, M + 2 * C, C };
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_grant u, g;
	bool granted = false;
	int rc;

	assert_int_equal(ensure_ok(fx, st, 2001, &two, NULL, 0, true), M);
	assert_int_equal(ensure_ok(fx, st, 2002, &two, NULL, 0, true), M + C);

	test_log_reset(&fx->tl);
	rc = subid_store_ensure(st, 2003, "user2003", &two, NULL, 0, &u, &g, &granted);
	assert_int_equal(rc, SUBID_FULL);
	assert_true(fx->tl.n > 0);	/* logged */
	assert_no_grant(st, 2003);	/* nothing written, not even half */
	assert_grant(st, 2001, M, C);
	assert_grant(st, 2002, M + C, C);

	/* existing owners are still served from a full pool */
	assert_int_equal(ensure_ok(fx, st, 2002, &two, NULL, 0, false), M + C);

	/* a release makes room again */
	assert_int_equal(subid_store_release(st, 2002), SUBID_OK);
	assert_int_equal(ensure_ok(fx, st, 2003, &two, NULL, 0, true), M + C);
	rc = subid_store_ensure(st, 2004, "user2004", &two, NULL, 0, &u, &g, &granted);
	assert_int_equal(rc, SUBID_FULL);
	assert_no_grant(st, 2004);
	subid_store_close(st);
}

/* taken[] can fill the pool too. */
static void
test_pool_full_by_taken(void **state)
{
	static const struct subid_pool two = { M, M + 2 * C, C };
	static const struct subid_interval taken[] = { { M + C + 100, M + C + 101 } };
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_grant u, g;
	bool granted;

	assert_int_equal(ensure_ok(fx, st, 2001, &two, taken, 1, true), M);
	assert_int_equal(subid_store_ensure(st, 2002, "user2002", &two, taken, 1, &u, &g, &granted),
			 SUBID_FULL);
	assert_no_grant(st, 2002);
	/* without the taken interval, the slot is free */
	assert_int_equal(ensure_ok(fx, st, 2002, &two, NULL, 0, true), M + C);
	subid_store_close(st);
}

static bool
ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Pool settings change between calls: new grants never overlap old ones. */
static void
test_pool_change(void **state)
{
	static const struct subid_pool shifted = { M + C / 2, M + 10 * C, C };
	static const struct subid_pool small = { M, M + 10 * C, 1000 };
	static const struct subid_pool moved = { M + 100 * C, M + 110 * C, C };
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	uint64_t s1, s2, s3, s4, s5;

	s1 = ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	assert_int_equal(s1, M);

	/* slots now start half-way into 2001's range: the first one collides */
	s2 = ensure_ok(fx, st, 2002, &shifted, NULL, 0, true);
	assert_int_equal(s2, M + C / 2 + C);
	assert_false(ranges_overlap(s1, C, s2, C));

	/* smaller ranges: fit between/after the existing ones, in the pool */
	s3 = ensure_ok(fx, st, 2003, &small, NULL, 0, true);
	assert_grant(st, 2003, s3, 1000);
	assert_true(s3 >= M && s3 + 1000 <= M + 10 * C);
	assert_false(ranges_overlap(s1, C, s3, 1000));
	assert_false(ranges_overlap(s2, C, s3, 1000));

	/* the pool moves elsewhere entirely */
	s4 = ensure_ok(fx, st, 2004, &moved, NULL, 0, true);
	assert_int_equal(s4, M + 100 * C);

	/* and back: the old pool's free space is found again, no overlaps */
	s5 = ensure_ok(fx, st, 2005, &pool10, NULL, 0, true);
	assert_true(s5 >= M && s5 + C <= M + 10 * C);
	assert_false(ranges_overlap(s1, C, s5, C));
	assert_false(ranges_overlap(s2, C, s5, C));
	assert_false(ranges_overlap(s3, 1000, s5, C));

	/* nobody moved */
	assert_grant(st, 2001, s1, C);
	assert_grant(st, 2002, s2, C);
	assert_grant(st, 2003, s3, 1000);
	assert_grant(st, 2004, s4, C);
	assert_grant(st, 2005, s5, C);
	subid_store_close(st);
}

/* ---- scale and concurrency ------------------------------------------------------ */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Checks n sorted-by-copy starts of count-sized ranges are pairwise disjoint. */
static void
assert_disjoint(const uint64_t *starts, size_t n, uint64_t count)
{
	uint64_t *s = malloc(n * sizeof(*s));
	size_t i;

	assert_non_null(s);
	memcpy(s, starts, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u64);
	for (i = 1; i < n; i++) {
		if (s[i - 1] + count > s[i])
			print_error("ranges at %ju and %ju overlap\n", (uintmax_t)s[i - 1], (uintmax_t)s[i]);
		assert_true(s[i - 1] + count <= s[i]);
	}
	free(s);
}

static void
test_many_owners(void **state)
{
	enum { N = 2000 };
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	uint64_t *starts = calloc(N, sizeof(*starts));
	size_t i;

	assert_non_null(starts);
	for (i = 0; i < N; i++) {
		starts[i] = ensure_ok(fx, st, (uid_t)(10000 + i), &pool_default, NULL, 0, true);
		/* first fit on a fresh store packs the pool from the bottom */
		assert_int_equal(starts[i], M + i * C);
	}
	assert_disjoint(starts, N, C);
	/* every owner still has exactly what it was given; owner_of agrees */
	for (i = 0; i < N; i += 97) {
		assert_grant(st, (uid_t)(10000 + i), starts[i], C);
		assert_owner(st, starts[i] + C / 2, SUBID_OK, (uid_t)(10000 + i));
	}
	free(starts);
	subid_store_close(st);
}

/* Parallel logins (separate processes, separate handles): no overlap, no failure. */
static void
test_concurrent_processes(void **state)
{
	enum { PROCS = 4, PER = 40 };
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	uint64_t starts[PROCS * PER];
	pid_t pid[PROCS];
	int p, i;

	subid_store_close(st);	/* created; the children open their own handles */
	for (p = 0; p < PROCS; p++) {
		pid[p] = fork();
		assert_true(pid[p] >= 0);
		if (pid[p] == 0) {
			struct subid_store *cst = NULL;
			int bad = 0;

			if (rw_open(&cst, fx->db, getuid(), NULL) != SUBID_OK)
				_exit(2);
			for (i = 0; i < PER; i++) {
				struct subid_grant u, g;
				bool granted;

				if (subid_store_ensure(cst, (uid_t)(20000 + p * PER + i), "x", &pool_default, NULL, 0,
						       &u, &g, &granted) != SUBID_OK ||
				    !granted || u.start != g.start)
					bad++;
			}
			subid_store_close(cst);
			_exit(bad ? 1 : 0);
		}
	}
	for (p = 0; p < PROCS; p++) {
		int status;

		assert_int_equal(waitpid(pid[p], &status, 0), pid[p]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			print_error("child %d: status %#x\n", p, status);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	st = open_ro(fx, fx->db);
	for (i = 0; i < PROCS * PER; i++) {
		struct subid_grant gr;

		assert_int_equal(subid_store_get(st, (uid_t)(20000 + i), SUBID_KIND_UID, &gr), SUBID_OK);
		assert_int_equal(gr.count, C);
		starts[i] = gr.start;
	}
	assert_disjoint(starts, PROCS * PER, C);
	/* first fit with no releases: exactly the lowest PROCS * PER slots */
	qsort(starts, PROCS * PER, sizeof(starts[0]), cmp_u64);
	for (i = 0; i < PROCS * PER; i++)
		assert_int_equal(starts[i], M + (uint64_t)i * C);
	subid_store_close(st);
}

/* ---- locking ------------------------------------------------------------------------ */

/*
 * Holds a lock on the database from a child process: BEGIN IMMEDIATE
 * (another writer in the middle of an allocation) or BEGIN EXCLUSIVE (a
 * writer committing).  Returns the child's pid once the lock is held; the
 * child lets go after hold_ms.
 */
static pid_t
hold_lock(const char *db, const char *begin, int hold_ms)
{
	int pfd[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *h = NULL;
		struct timespec ts = { hold_ms / 1000, (long)(hold_ms % 1000) * 1000000L };

		close(pfd[0]);
		if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
		    sqlite3_exec(h, begin, NULL, NULL, NULL) != SQLITE_OK)
			_exit(3);
		if (write(pfd[1], "x", 1) != 1)
			_exit(4);
		nanosleep(&ts, NULL);
		sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(h);
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	return pid;
}

static void
reap(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * The common login path (owner already has ranges) takes no write lock: it
 * succeeds while another writer holds the database's RESERVED lock for
 * longer than the store's busy timeout for writers (15 s), so an ensure that needed the
 * lock would give up and fail.
 */
static void
test_existing_owner_no_write_lock(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	pid_t pid;

	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	pid = hold_lock(fx->db, "BEGIN IMMEDIATE", 60000);
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, false), M);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	subid_store_close(st);
}

/* A reader that meets a writer's exclusive lock waits instead of failing. */
static void
test_reader_waits_for_writer(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_store *ro;
	struct subid_grant gr;
	pid_t pid;
	uid_t owner = 0;

	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	subid_store_close(st);
	ro = open_ro(fx, fx->db);
	pid = hold_lock(fx->db, "BEGIN EXCLUSIVE", 300);
	assert_int_equal(subid_store_get(ro, 2001, SUBID_KIND_UID, &gr), SUBID_OK);
	assert_int_equal(gr.start, M);
	reap(pid);

	pid = hold_lock(fx->db, "BEGIN EXCLUSIVE", 300);
	assert_int_equal(subid_store_owner_of(ro, SUBID_KIND_GID, M + 1, &owner), SUBID_OK);
	assert_int_equal(owner, 2001);
	reap(pid);
	subid_store_close(ro);

	/* opening read-only while a writer holds the lock also waits */
	pid = hold_lock(fx->db, "BEGIN EXCLUSIVE", 300);
	ro = open_ro(fx, fx->db);
	assert_grant(ro, 2001, M, C);
	reap(pid);
	subid_store_close(ro);
}

static void
sql(const char *db, const char *stmt)
{
	sqlite3 *h = NULL;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, stmt, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/*
 * A database of another schema version, or an SQLite file that is not ours
 * at all, is refused by readers (the plugin fails closed) and writers.
 */
static void
test_foreign_schema(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);

	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	subid_store_close(st);
	sql(fx->db, "UPDATE meta SET value = 2 WHERE key = 'schema'");
	expect_open_err(fx, "schema version 2", false, getuid());
	assert_log_prefix(&fx->tl, "store error");
	expect_open_err(fx, "schema version 2", true, getuid());
	sql(fx->db, "UPDATE meta SET value = 1 WHERE key = 'schema'");
	st = open_ro(fx, fx->db);
	assert_grant(st, 2001, M, C);
	subid_store_close(st);

	sql(fx->db, "DROP TABLE meta; DROP TABLE free; DROP TABLE ranges; CREATE TABLE notours(x);");
	expect_open_err(fx, "a database that is not ours", false, getuid());
	expect_open_err(fx, "a database that is not ours", true, getuid());
}

/* A second allocating writer waits for the first instead of failing. */
static void
test_writer_waits_for_writer(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	pid_t pid;

	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	pid = hold_lock(fx->db, "BEGIN IMMEDIATE", 300);
	assert_int_equal(ensure_ok(fx, st, 2002, &pool10, NULL, 0, true), M + C);
	reap(pid);
	subid_store_close(st);
}

/* count_fn: counts rows, checks they come ordered by owner then kind */
struct count_ctx {
	size_t n;
	int64_t last;
};

static int
count_fn(const struct subid_row *r, void *vctx)
{
	struct count_ctx *c = vctx;
	int64_t key = (int64_t)r->uid * 4 + (int64_t)r->kind;

	assert_true(key > c->last);
	assert_true(r->granted > 0);
	c->last = key;
	c->n++;
	return 0;
}

static int
stop_fn(const struct subid_row *r, void *vctx)
{
	(void)r;
	(*(int *)vctx)++;
	return 42;
}

static void
test_foreach(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct count_ctx c = { 0, -1 };
	int calls = 0;

	assert_int_equal(subid_store_foreach(st, count_fn, &c), SUBID_OK);
	assert_int_equal(c.n, 0);
	ensure_ok(fx, st, 2002, &pool10, NULL, 0, true);
	ensure_ok(fx, st, 2001, &pool10, NULL, 0, true);
	c.last = -1;
	assert_int_equal(subid_store_foreach(st, count_fn, &c), SUBID_OK);
	assert_int_equal(c.n, 4);
	/* fn's non-zero value stops the walk and is returned */
	assert_int_equal(subid_store_foreach(st, stop_fn, &calls), 42);
	assert_int_equal(calls, 1);
	subid_store_close(st);
}

static void
test_import(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_grant u = { 100000, 65536 }, g = { 100000, 65536 };
	struct subid_grant u2 = { 165536, 65536 }, g2 = { 200000, 1000 };
	struct subid_grant in_pool = { M + C, C };
	bool changed = true;

	/* outside the pool (useradd's), different starts per kind */
	assert_int_equal(subid_store_import(st, 3001, "imp1", &u, &g, &changed), SUBID_OK);
	assert_true(changed);
	assert_grant(st, 3001, 100000, 65536);
	/* the same again: nothing written */
	assert_int_equal(subid_store_import(st, 3001, "imp1", &u, &g, &changed), SUBID_OK);
	assert_false(changed);
	/* other ranges for an owner already there: conflict, never replaced */
	assert_int_equal(subid_store_import(st, 3001, "imp1", &u2, &g2, &changed), SUBID_CONFLICT);
	assert_false(changed);
	assert_grant(st, 3001, 100000, 65536);
	/* another owner whose subgid overlaps 3001's subuid: conflict (owners never share IDs) */
	assert_int_equal(subid_store_import(st, 3002, "imp2", &u2, &u, &changed), SUBID_CONFLICT);
	assert_no_grant(st, 3002);
	assert_int_equal(subid_store_import(st, 3002, "imp2", &u2, &g2, &changed), SUBID_OK);
	assert_owner(st, 200500, SUBID_OK, 3002);	/* in both of 3002's ranges */
	/* an imported range inside the pool is stepped over by the allocator */
	assert_int_equal(subid_store_import(st, 3003, "imp3", &in_pool, &in_pool, &changed), SUBID_OK);
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M);
	assert_int_equal(ensure_ok(fx, st, 2002, &pool10, NULL, 0, true), M + 2 * C);
	/* and an import never lands on an allocation */
	assert_int_equal(subid_store_import(st, 3004, "imp4", &(struct subid_grant){ M + 100, 10 },
					    &(struct subid_grant){ 300000, 10 }, &changed), SUBID_CONFLICT);
	subid_store_close(st);
}

static int64_t
generation(struct fx *fx)
{
	int64_t g = -1;

	assert_int_equal(subid_store_generation_at(fx->db, getuid(), &fx->tl.log, &g), SUBID_OK);
	return g;
}

/* Rows of the meta table under key: 1 when the free-span index is built for a pool. */
static int
meta_rows(const char *db, const char *key)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	int n = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM meta WHERE key = ?1", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return n;
}

/*
 * A batch import is one transaction and one published index; each owner
 * is decided on its own (earlier owners of the batch included); the
 * free-span index is kept, so the next allocation steps over the imported
 * range without rebuilding it.
 */
static void
test_import_many(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_import v[] = {
		{ .uid = 3001, .name = "new", .r = { { M + 3 * C, C }, { M + 3 * C, C } } },
		/* overlaps 3001's subuid with its subgid: the batch's own owners count */
		{ .uid = 3002, .name = "late", .r = { { 100000, 10 }, { M + 3 * C + 5, 10 } } },
		/* exactly what 2001 holds: nothing to do */
		{ .uid = 2001, .name = "user2001", .r = { { M, C }, { M, C } } },
		/* over 2001's range */
		{ .uid = 3003, .name = "over", .r = { { M + 10, 1 }, { 300000, 1 } } },
		/* outside the pool */
		{ .uid = 3004, .name = "useradd", .r = { { 100000, 65536 }, { 200000, 65536 } } },
	};
	int64_t g0;

	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M);
	assert_int_equal(meta_rows(fx->db, "pool_min"), 1);
	g0 = generation(fx);
	assert_int_equal(subid_store_import_many(st, v, ARRAY_SIZE(v), NULL), SUBID_OK);
	assert_int_equal(v[0].rc, SUBID_OK);
	assert_true(v[0].changed);
	assert_int_equal(v[1].rc, SUBID_CONFLICT);
	assert_false(v[1].changed);
	assert_int_equal(v[2].rc, SUBID_OK);
	assert_false(v[2].changed);
	assert_int_equal(v[3].rc, SUBID_CONFLICT);
	assert_int_equal(v[4].rc, SUBID_OK);
	assert_true(v[4].changed);
	assert_int_equal(generation(fx), g0 + 1);
	assert_grant(st, 3001, M + 3 * C, C);
	assert_no_grant(st, 3002);
	assert_no_grant(st, 3003);
	/* the free-span index was kept, not dropped for a rebuild */
	assert_int_equal(meta_rows(fx->db, "pool_min"), 1);
	assert_int_equal(ensure_ok(fx, st, 2002, &pool10, NULL, 0, true), M + C);
	assert_int_equal(ensure_ok(fx, st, 2003, &pool10, NULL, 0, true), M + 2 * C);
	assert_int_equal(ensure_ok(fx, st, 2004, &pool10, NULL, 0, true), M + 4 * C);
	/* nothing to write: no new generation */
	assert_int_equal(subid_store_import_many(st, &v[2], 1, NULL), SUBID_OK);
	assert_int_equal(generation(fx), g0 + 4);
	subid_store_close(st);
}

/* An import into a store that never allocated builds the free-span index for the pool it is given. */
static void
test_import_builds_free_index(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_import v = { .uid = 3001, .name = "imp", .r = { { M, C }, { M, C } } };

	assert_int_equal(subid_store_import_many(st, &v, 1, &pool10), SUBID_OK);
	assert_true(v.changed);
	assert_int_equal(meta_rows(fx->db, "pool_min"), 1);
	assert_int_equal(ensure_ok(fx, st, 2001, &pool10, NULL, 0, true), M + C);
	subid_store_close(st);
}

/* Releasing many owners is one transaction and one published index; their space is free again. */
static void
test_release_many(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	uid_t uids[] = { 2001, 9999, 2003, 2001 };
	bool held[ARRAY_SIZE(uids)];
	size_t released = 99;
	int64_t g0;

	for (uid_t u = 2001; u <= 2004; u++)
		ensure_ok(fx, st, u, &pool10, NULL, 0, true);
	g0 = generation(fx);
	assert_int_equal(subid_store_release_many(st, uids, ARRAY_SIZE(uids), &released, held), SUBID_OK);
	assert_int_equal(released, 2);
	assert_true(held[0]);
	assert_false(held[1]);
	assert_true(held[2]);
	assert_false(held[3]);	/* released already, by the first entry */
	assert_int_equal(generation(fx), g0 + 1);
	assert_no_grant(st, 2001);
	assert_no_grant(st, 2003);
	assert_grant(st, 2002, M + C, C);
	/* the free space is found again, lowest first */
	assert_int_equal(ensure_ok(fx, st, 2005, &pool10, NULL, 0, true), M);
	assert_int_equal(ensure_ok(fx, st, 2006, &pool10, NULL, 0, true), M + 2 * C);
	assert_int_equal(ensure_ok(fx, st, 2007, &pool10, NULL, 0, true), M + 4 * C);
	/* none held: nothing written */
	assert_int_equal(subid_store_release_many(st, &uids[1], 1, &released, NULL), SUBID_OK);
	assert_int_equal(released, 0);
	assert_int_equal(generation(fx), g0 + 4);
	subid_store_close(st);
}

/* The overlap query over many rows: the lowest-starting row of another owner, found by an index seek. */
static void
test_overlap_many_rows(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_grant g;
	uid_t other = 0;

	for (uid_t u = 2001; u <= 2010; u++)
		ensure_ok(fx, st, u, &pool10, NULL, 0, true);
	/* a query covering every row: the first */
	assert_int_equal(subid_store_overlap(st, 0, M - 5, 11 * C, 0, &other, &g), SUBID_OK);
	assert_int_equal(other, 2001);
	assert_int_equal(g.start, M);
	/* the first is the one excepted: the next */
	assert_int_equal(subid_store_overlap(st, SUBID_KIND_GID, M, 3 * C, 2001, &other, &g), SUBID_OK);
	assert_int_equal(other, 2002);
	/* the last ID of a range and the first of the next */
	assert_int_equal(subid_store_overlap(st, SUBID_KIND_UID, M + 5 * C - 1, 2, 0, &other, NULL), SUBID_OK);
	assert_int_equal(other, 2005);
	assert_int_equal(subid_store_overlap(st, SUBID_KIND_UID, M + 5 * C - 1, 2, 2005, &other, NULL),
			 SUBID_OK);
	assert_int_equal(other, 2006);
	/* just past the last range, just before the first */
	assert_int_equal(subid_store_overlap(st, 0, M + 10 * C, C, 0, NULL, NULL), SUBID_NONE);
	assert_int_equal(subid_store_overlap(st, 0, M - C, C, 0, NULL, NULL), SUBID_NONE);
	subid_store_close(st);
}

/*
 * The store's directory is made with mkdir() and then given its mode.  Here
 * mkdir() loses a race to another process that puts a symbolic link to a
 * file of root's where the directory should be (as in a sticky /tmp): the
 * mode must not reach the link's target.  mkdir is wrapped (-Wl,--wrap).
 */
int __real_mkdir(const char *path, mode_t mode);
int __wrap_mkdir(const char *path, mode_t mode);
static const char *mkdir_plants_link_to;

int
__wrap_mkdir(const char *path, mode_t mode)
{
	if (mkdir_plants_link_to == NULL)
		return __real_mkdir(path, mode);
	if (symlink(mkdir_plants_link_to, path) != 0)
		return -1;
	errno = EEXIST;
	return -1;
}

static void
test_mkdir_race_symlink(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = NULL;
	char *victim = test_path(fx->dir, "victim");
	struct stat sb;

	test_write_file(victim, "secret\n", 0600);
	mkdir_plants_link_to = victim;
	assert_int_equal(rw_open(&st, fx->db, getuid(), &fx->tl.log), SUBID_ERR);
	mkdir_plants_link_to = NULL;
	assert_null(st);
	assert_int_equal(lstat(victim, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(lstat(fx->libdir, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	free(victim);
}

/* A replica update never drops or changes another owner's rows: it is refused, naming him. */
static void
test_put_never_displaces(void **state)
{
	struct fx *fx = *state;
	struct subid_store *st = open_rw(fx, fx->db);
	struct subid_grant a = { M, C }, b = { M + C, C }, half = { M + C / 2, C }, g;
	bool changed = true;
	uid_t other = 0;

	assert_int_equal(subid_store_put(st, 2001, "alice", &a, &a, &changed, &other), SUBID_OK);
	assert_true(changed);
	/* both kinds, and a range that only partly covers alice's */
	assert_int_equal(subid_store_put(st, 2002, "bob", &a, &b, &changed, &other), SUBID_CONFLICT);
	assert_false(changed);
	assert_int_equal(other, 2001);
	other = 0;
	assert_int_equal(subid_store_put(st, 2002, "bob", &b, &half, &changed, &other), SUBID_CONFLICT);
	assert_int_equal(other, 2001);
	assert_grant(st, 2001, M, C);
	assert_no_grant(st, 2002);
	/* an owner's own rows are replaced */
	assert_int_equal(subid_store_put(st, 2002, "bob", &b, &b, &changed, NULL), SUBID_OK);
	assert_int_equal(subid_store_put(st, 2001, "alice", &(struct subid_grant){ M + 2 * C, C },
					 &(struct subid_grant){ M + 2 * C, C }, &changed, NULL), SUBID_OK);
	assert_grant(st, 2001, M + 2 * C, C);
	assert_grant(st, 2002, M + C, C);
	/* the overlap query: of another owner only, by kind or any kind */
	assert_int_equal(subid_store_overlap(st, 0, M + C + 5, 1, 2001, &other, &g), SUBID_OK);
	assert_int_equal(other, 2002);
	assert_int_equal(g.start, M + C);
	assert_int_equal(subid_store_overlap(st, SUBID_KIND_GID, M + C, 2 * C, 2002, &other, NULL), SUBID_OK);
	assert_int_equal(other, 2001);
	assert_int_equal(subid_store_overlap(st, 0, M + C, C, 2002, NULL, NULL), SUBID_NONE);
	assert_int_equal(subid_store_overlap(st, 0, M, C, 2001, NULL, NULL), SUBID_NONE);
	assert_int_equal(subid_store_overlap(st, 0, UINT64_MAX, 2, 1, NULL, NULL), SUBID_NONE);
	subid_store_close(st);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_modes_umask077),
		T(test_create_modes_umask000),
		T(test_rollback_journal),
		T(test_reopen_persists),
		T(test_open_ro_missing),
		T(test_open_unsafe),
		T(test_ensure_basic),
		T(test_release_reuse),
		T(test_taken_skipped),
		T(test_taken_unsorted),
		T(test_existing_owner_stable),
		T(test_readonly_cannot_write),
		T(test_two_handles),
		T(test_pool_full),
		T(test_pool_full_by_taken),
		T(test_pool_change),
		T(test_many_owners),
		T(test_concurrent_processes),
		T(test_existing_owner_no_write_lock),
		T(test_reader_waits_for_writer),
		T(test_writer_waits_for_writer),
		T(test_foreign_schema),
		T(test_foreach),
		T(test_import),
		T(test_import_many),
		T(test_import_builds_free_index),
		T(test_release_many),
		T(test_overlap_many_rows),
		T(test_mkdir_race_symlink),
		T(test_put_never_displaces),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
