/*
 * Unit tests for common/subid_ldap.c, the LDAP back end, against the
 * in-memory directory of fake_ldap.h: libldap's table is filled with fakes
 * through -Wl,--wrap=dlopen,--wrap=dlsym, so no server, network or root is
 * needed.  Also wrapped:
 *   clock_gettime  CLOCK_MONOTONIC runs ahead by fake_clock_ms, so a test
 *                  can make a directory "take" seconds to answer;
 *   nanosleep      the wait for a contended owner's entry costs no time;
 *   subid_open_trusted  the bind password file must be root's: the test
 *                  sees that root was asked for, then lets the file of the
 *                  user running the test stand in.
 *
 * The pool is 10 slots of 1000 IDs from 1000000 (SLOT(0) .. SLOT(9)).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "subid_config.h"
#include "subid_ldap.h"
#include "fake_ldap.h"
#include "test_common.h"

#define POOL_MIN UINT64_C(1000000)
#define COUNT UINT64_C(1000)
#define SLOTS 10
#define POOL_MAX (POOL_MIN + SLOTS * COUNT)
#define SLOT(i) (POOL_MIN + (uint64_t)(i) * COUNT)

#define BIND_DN "cn=host1,ou=hosts," FL_SUFFIX
#define CLAIMS_FILTER "(objectClass=applicationProcess)"

static const char base_conf[] =
	"store = ldap\n"
	"ldap_uri = ldap://ldap.example.org\n"
	"ldap_base = " FL_BASE "\n"
	"range_min = 1000000\n"
	"range_max = 1010000\n"
	"range_count = 1000\n";

/* ---- wrapped functions ------------------------------------------------------------ */

static int64_t fake_clock_ms;	/* how far CLOCK_MONOTONIC runs ahead */
static unsigned nanosleeps;
static unsigned pw_opens;	/* opens of the bind password file */
static uid_t pw_owner_asked;	/* the owner subid_ldap.c required of it */

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);
int __real_subid_open_trusted(const char *path, uid_t owner_uid);
int __wrap_subid_open_trusted(const char *path, uid_t owner_uid);

int
__wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc = __real_clock_gettime(id, ts);

	if (rc == 0 && id == CLOCK_MONOTONIC) {
		ts->tv_sec += (time_t)(fake_clock_ms / 1000);
		ts->tv_nsec += (long)(fake_clock_ms % 1000) * 1000000;
		if (ts->tv_nsec >= 1000000000) {
			ts->tv_sec++;
			ts->tv_nsec -= 1000000000;
		}
	}
	return rc;
}

int
__wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)rem;
	nanosleeps++;
	fake_clock_ms += (int64_t)req->tv_sec * 1000 + req->tv_nsec / 1000000;
	return 0;
}

int
__wrap_subid_open_trusted(const char *path, uid_t owner_uid)
{
	if (path != NULL && strstr(path, "/bindpw") != NULL) {
		pw_opens++;
		pw_owner_asked = owner_uid;
		owner_uid = getuid();
	}
	return __real_subid_open_trusted(path, owner_uid);
}

/* ---- fixture ------------------------------------------------------------------------ */

struct lfx {
	struct fx *fx;
	struct subid_config cfg;
	bool loaded;
};

/* The config: base_conf, then extra lines (a later key wins). */
static void
load_cfg(struct lfx *x, const char *extra)
{
	char *conf = test_path(x->fx->dir, "subid.conf"), *text;

	if (x->loaded)
		subid_config_free(&x->cfg);
	assert_true(asprintf(&text, "%s%s", base_conf, extra) > 0);
	test_write_file(conf, text, 0644);
	if (subid_config_load(&x->cfg, conf, "/nonexistent/login.defs", getuid(), &x->fx->tl.log) != 0) {
		test_log_dump(&x->fx->tl);
		fail_msg("config refused:\n%s", text);
	}
	x->loaded = true;
	free(text);
	free(conf);
	test_log_reset(&x->fx->tl);
}

/* A write bind as BIND_DN with the password in pw_path. */
static void
load_cfg_bind(struct lfx *x, const char *pw_path)
{
	char *extra;

	assert_true(asprintf(&extra, "ldap_bind_dn = " BIND_DN "\nldap_bind_pw_file = %s\n", pw_path) > 0);
	load_cfg(x, extra);
	free(extra);
}

static int
lfx_setup(void **state)
{
	struct lfx *x = calloc(1, sizeof(*x));
	void *fx;

	assert_non_null(x);
	fx_setup(&fx);
	x->fx = fx;
	fl_reset();
	fl_standard();
	fl_add_account("alice", 5001);
	fl_add_account("bob", 5002);
	fake_clock_ms = 0;
	nanosleeps = 0;
	pw_opens = 0;
	pw_owner_asked = (uid_t)-1;
	load_cfg(x, "");
	*state = x;
	return 0;
}

static int
lfx_teardown(void **state)
{
	struct lfx *x = *state;
	void *fx = x->fx;

	if (x->loaded)
		subid_config_free(&x->cfg);
	fl_reset();
	fx_teardown(&fx);
	free(x);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

#define assert_logged(x, needle)                                                        \
	do {                                                                            \
		if (test_log_count_substr(&(x)->fx->tl, (needle)) == 0) {               \
			print_error("no log line contains \"%s\"\n", (needle));        \
			test_log_dump(&(x)->fx->tl);                                    \
			fail();                                                         \
		}                                                                       \
	} while (0)

/* The entry at dn has want as (first) value of attr. */
#define assert_value(dn, attr, want)                                                    \
	do {                                                                            \
		const char *v_ = fl_value((dn), (attr));                                \
		if (v_ == NULL)                                                         \
			fail_msg("%s has no %s", (dn), (attr));                         \
		assert_string_equal(v_, (want));                                        \
	} while (0)

/* The API, and after each call: every connection it opened is unbound, whatever happened. */
static int
ensure_t(struct lfx *x, uid_t uid, const char *name, const struct subid_interval *taken, size_t ntaken,
	 struct subid_grant *ur, struct subid_grant *gr, bool *granted)
{
	int rc;

	memset(ur, 0, sizeof(*ur));
	memset(gr, 0, sizeof(*gr));
	*granted = true;
	rc = subid_ldap_ensure(&x->cfg, uid, name, taken, ntaken, ur, gr, granted, &x->fx->tl.log);
	assert_int_equal(fl.open, 0);
	if (rc != SUBID_OK)
		assert_false(*granted);
	return rc;
}

static int
lookup_t(struct lfx *x, uid_t uid, struct subid_grant *ur, struct subid_grant *gr)
{
	int rc = subid_ldap_lookup(&x->cfg, uid, ur, gr, &x->fx->tl.log);

	assert_int_equal(fl.open, 0);
	return rc;
}

static int
release_t(struct lfx *x, uid_t uid)
{
	int rc = subid_ldap_release(&x->cfg, uid, &x->fx->tl.log);

	assert_int_equal(fl.open, 0);
	return rc;
}

/* A new owner is granted the slot at start: both ranges there, and the entry in the directory says so. */
static void
expect_granted(struct lfx *x, uid_t uid, const char *name, const struct subid_interval *taken, size_t ntaken,
	       uint64_t start)
{
	struct subid_grant ur, gr;
	bool granted;
	char num[24];
	int rc = ensure_t(x, uid, name, taken, ntaken, &ur, &gr, &granted);

	if (rc != SUBID_OK)
		test_log_dump(&x->fx->tl);
	assert_int_equal(rc, SUBID_OK);
	assert_true(granted);
	assert_int_equal(ur.start, start);
	assert_int_equal(gr.start, start);
	assert_int_equal(ur.count, COUNT);
	assert_int_equal(gr.count, COUNT);
	snprintf(num, sizeof(num), "%" PRIu64, start);
	assert_value(fl_entry_dn(uid), "subUidNumber", num);
	assert_value(fl_entry_dn(uid), "subGidNumber", num);
	assert_non_null(fl_find(fl_claim_dn(start)));
}

/* The owner's entry is found: not granted, these ranges. */
static void
expect_found(struct lfx *x, uid_t uid, const char *name, uint64_t ustart, uint64_t gstart)
{
	struct subid_grant ur, gr;
	bool granted;
	int rc = ensure_t(x, uid, name, NULL, 0, &ur, &gr, &granted);

	if (rc != SUBID_OK)
		test_log_dump(&x->fx->tl);
	assert_int_equal(rc, SUBID_OK);
	assert_false(granted);
	assert_int_equal(ur.start, ustart);
	assert_int_equal(gr.start, gstart);
}

static void
expect_ensure_rc(struct lfx *x, uid_t uid, const char *name, int want)
{
	struct subid_grant ur, gr;
	bool granted;
	int rc = ensure_t(x, uid, name, NULL, 0, &ur, &gr, &granted);

	if (rc != want) {
		print_error("ensure(uid %u) = %d, want %d\n", (unsigned)uid, rc, want);
		test_log_dump(&x->fx->tl);
	}
	assert_int_equal(rc, want);
}

/* The claim on the slot at start, written for uid. */
static void
assert_claimed_for(uint64_t start, uid_t uid)
{
	const char *d = fl_value(fl_claim_dn(start), "description");
	char want[64];

	assert_non_null(d);
	snprintf(want, sizeof(want), "subid slot claimed for uid %u at ", (unsigned)uid);
	assert_memory_equal(d, want, strlen(want));
}

static size_t
writes(void)
{
	return fl.calls[FL_ADD] + fl.calls[FL_MODIFY] + fl.calls[FL_DELETE];
}

/* ---- loading libldap (each in a child: libldap is loaded once per process) ------------- */

/*
 * Run fn in a child that has not loaded libldap yet; the test passes when
 * fn returns 0.  Must run before anything in this process loads it.
 */
static void
in_fresh_process(struct lfx *x, int (*fn)(struct lfx *x))
{
	pid_t pid;
	int status;

	if (fl_dlopen_total > 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(x));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child failed check %d", WEXITSTATUS(status));
}

static int
child_no_library(struct lfx *x)
{
	struct subid_grant ur, gr;
	bool granted = true;

	fl.dlopen_fails = true;
	if (subid_ldap_lookup(&x->cfg, 5001, &ur, &gr, &x->fx->tl.log) != SUBID_ERR)
		return 1;
	if (subid_ldap_ensure(&x->cfg, 5001, "alice", NULL, 0, &ur, &gr, &granted, &x->fx->tl.log) != SUBID_ERR ||
	    granted)
		return 2;
	if (subid_ldap_release(&x->cfg, 5001, &x->fx->tl.log) != SUBID_ERR)
		return 3;
	if (test_log_count_substr(&x->fx->tl, "cannot load " SUBID_LDAP_SONAME) != 3)
		return 4;
	/* tried once per process, and no directory was contacted */
	return fl_dlopen_total != 1 ? 5 : fl.calls[FL_INIT] != 0 ? 6 : 0;
}

/* Without libldap, store = ldap is an error (logged: it needs OpenLDAP's library), never a crash. */
static void
test_load_no_library(void **state)
{
	in_fresh_process(*state, child_no_library);
}

static int
child_missing_symbol(struct lfx *x)
{
	struct subid_grant ur, gr;

	fl.missing_sym = "ldap_value_free_len";
	if (subid_ldap_lookup(&x->cfg, 5001, &ur, &gr, &x->fx->tl.log) != SUBID_ERR)
		return 1;
	if (test_log_count_substr(&x->fx->tl, "has no ldap_value_free_len") != 1)
		return 2;
	return fl.calls[FL_INIT] != 0 ? 3 : 0;
}

/* A libldap without one of the functions is refused as a whole: no half-filled table is used. */
static void
test_load_missing_symbol(void **state)
{
	in_fresh_process(*state, child_missing_symbol);
}

/* ---- allocation ------------------------------------------------------------------------ */

/*
 * A new owner: the first slot of the pool, both ranges starting there,
 * the entry as SSSD reads it (uidNumber, uid, subidRangeOwner = the
 * account's DN), a claim of the slot, and the allocator's cursor after it.
 */
static void
test_alloc_new_owner(void **state)
{
	struct lfx *x = *state;

	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_value(fl_entry_dn(5001), "objectClass", "subordinateIdEntry");
	assert_value(fl_entry_dn(5001), "subUidCount", "1000");
	assert_value(fl_entry_dn(5001), "subGidCount", "1000");
	assert_value(fl_entry_dn(5001), "uidNumber", "5001");
	assert_value(fl_entry_dn(5001), "uid", "alice");
	assert_value(fl_entry_dn(5001), "subidRangeOwner", "uid=alice," FL_PEOPLE);
	assert_claimed_for(SLOT(0), 5001);
	assert_value(fl_claim_dn(SLOT(0)), "objectClass", "applicationProcess");
	assert_value(FL_ALLOC, "subidNextStart", "1001000");
	/* LDAPv3, and with no ldap_bind_dn an anonymous bind */
	assert_int_equal(fl.protocol, LDAP_VERSION3);
	assert_int_equal(fl.calls[FL_BIND], 1);
	assert_null(fl.bind_dn);
	assert_int_equal(fl.calls[FL_STARTTLS], 0);
}

/* Owners get the slots in turn, disjoint and inside the pool; then the pool is full (logged). */
static void
test_alloc_fills_pool_then_full(void **state)
{
	struct lfx *x = *state;

	for (unsigned i = 0; i < SLOTS; i++)
		expect_granted(x, 6000 + i, NULL, NULL, 0, SLOT(i));
	assert_int_equal(fl_count(FL_ALLOC, CLAIMS_FILTER), SLOTS);
	expect_ensure_rc(x, 6100, NULL, SUBID_FULL);
	assert_logged(x, "ldap full uid=6100 reason=\"pool [1000000, 1010000) exhausted\"");
	/* nothing written for the one who got nothing */
	assert_null(fl_find(fl_entry_dn(6100)));
	assert_int_equal(fl_count(FL_ALLOC, CLAIMS_FILTER), SLOTS);
}

/* taken[] intervals (files, reserved, real IDs: the core's) are never allocated, in any order. */
static void
test_alloc_skips_taken(void **state)
{
	struct lfx *x = *state;
	const struct subid_interval unsorted[] = { { SLOT(1), SLOT(2) }, { SLOT(0) + 999, SLOT(0) + 1000 } };
	const struct subid_interval one_id[] = { { SLOT(3) + 500, SLOT(3) + 501 } };

	expect_granted(x, 5001, "alice", unsorted, ARRAY_SIZE(unsorted), SLOT(2));
	expect_granted(x, 5002, "bob", one_id, ARRAY_SIZE(one_id), SLOT(4));
}

/* A hand-made entry that straddles two slots keeps both of them from new owners. */
static void
test_alloc_skips_unaligned_entry(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("handmade", 9000, NULL, SLOT(0) + 500, COUNT, SLOT(0) + 500, COUNT);
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(2));
}

/* An entry longer than range_count that starts below the window is still seen (the "longer" clause). */
static void
test_alloc_skips_long_entry(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("long", 9001, NULL, 990000, 14000, 990000, 14000);
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(4));
}

/* Both ranges of a new owner start at one number, so another owner's subGID range blocks the slot too. */
static void
test_alloc_skips_gid_only_overlap(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("gidonly", 9002, NULL, 3000000, COUNT, SLOT(0), COUNT);
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(1));
}

/* A slot another host has just claimed (fresh claim, its entry not there yet) is left to it. */
static void
test_alloc_skips_fresh_claim(void **state)
{
	struct lfx *x = *state;
	char desc[96];

	snprintf(desc, sizeof(desc), "subid slot claimed for uid 9999 at %lld", (long long)time(NULL) - 60);
	fl_add(FL_ALLOC, "objectClass", "subidAllocator", "cn", "allocator", "subidNextStart", "1000000", NULL);
	fl_add(fl_claim_dn(SLOT(0)), "objectClass", "applicationProcess", "cn", "1000000", "description", desc, NULL);
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(1));
	assert_claimed_for(SLOT(0), 9999);
}

/* A claim older than an hour with no entry (its host died) is taken over by compare-and-swap (logged). */
static void
test_alloc_takes_stale_claim(void **state)
{
	struct lfx *x = *state;
	char desc[96];

	snprintf(desc, sizeof(desc), "subid slot claimed for uid 9999 at %lld", (long long)time(NULL) - 4000);
	fl_add(FL_ALLOC, "objectClass", "subidAllocator", "cn", "allocator", "subidNextStart", "1000000", NULL);
	fl_add(fl_claim_dn(SLOT(0)), "objectClass", "applicationProcess", "cn", "1000000", "description", desc, NULL);
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_claimed_for(SLOT(0), 5001);
	assert_logged(x, "ldap reclaimed");
	assert_logged(x, "previous_uid=9999");
}

/* A claim subid did not write (no time of ours in it) is never taken, however old. */
static void
test_alloc_handmade_claim_kept(void **state)
{
	struct lfx *x = *state;

	fl_add(FL_ALLOC, "objectClass", "subidAllocator", "cn", "allocator", "subidNextStart", "1000000", NULL);
	fl_add(fl_claim_dn(SLOT(0)), "objectClass", "applicationProcess", "cn", "1000000", "description",
	       "kept free by the admin", NULL);
	fl_add(fl_claim_dn(SLOT(1)), "objectClass", "applicationProcess", "cn", "1001000", "description",
	       "subid slot claimed for uid 9999 at 12x", NULL);
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(2));
	assert_value(fl_claim_dn(SLOT(0)), "description", "kept free by the admin");
}

static void
race_add_winner(enum fl_op op, const char *dn)
{
	if (op != FL_ADD || strcmp(dn, fl_entry_dn(5001)) != 0)
		return;
	/* another host, a moment earlier: its claim of slot 5 and the entry */
	fl.hook = NULL;
	fl_add(fl_claim_dn(SLOT(5)), "objectClass", "applicationProcess", "cn", "1005000", "description",
	       "subid slot claimed for uid 5001 at 1", NULL);
	fl_add_ranges("5001", 5001, "alice", SLOT(5), COUNT, SLOT(5), COUNT);
}

/*
 * Two hosts allocate for one owner at once: the second ADD of the entry
 * fails, the loser gives its slot back (claim removed, cursor pointed back
 * at it) and returns the winner's ranges, not granted.
 */
static void
test_alloc_lost_race_for_entry(void **state)
{
	struct lfx *x = *state;

	x->fx->tl.log.debug = 1;
	fl.hook = race_add_winner;
	expect_found(x, 5001, "alice", SLOT(5), SLOT(5));
	assert_null(fl_find(fl_claim_dn(SLOT(0))));
	assert_value(FL_ALLOC, "subidNextStart", "1000000");
	assert_logged(x, "lost the race for its entry; slot 1000000 released");
	/* the next owner fills the slot the loser gave back */
	expect_granted(x, 5002, "bob", NULL, 0, SLOT(0));
}

static void
race_move_cursor(enum fl_op op, const char *dn)
{
	if (op != FL_MODIFY || strcasecmp(dn, FL_ALLOC) != 0)
		return;
	fl.hook = NULL;
	fl_set(FL_ALLOC, "subidNextStart", "1007000");
}

/* The cursor's modify is a compare-and-swap: moved by another host meanwhile, it is left alone. */
static void
test_alloc_cursor_cas(void **state)
{
	struct lfx *x = *state;

	fl.hook = race_move_cursor;
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_value(FL_ALLOC, "subidNextStart", "1007000");
	/* and from there on the cursor is where the next search starts */
	expect_granted(x, 5002, "bob", NULL, 0, SLOT(7));
}

/* With the cursor at the pool's end, a released slot at its start is found again. */
static void
test_alloc_wraps_to_released_slot(void **state)
{
	struct lfx *x = *state;

	for (unsigned i = 0; i < SLOTS; i++)
		expect_granted(x, 6000 + i, NULL, NULL, 0, SLOT(i));
	assert_int_equal(release_t(x, 6003), SUBID_OK);
	assert_null(fl_find(fl_entry_dn(6003)));
	assert_null(fl_find(fl_claim_dn(SLOT(3))));
	expect_granted(x, 7000, NULL, NULL, 0, SLOT(3));
	assert_claimed_for(SLOT(3), 7000);
}

/* An allocator whose cursor is not a number is an error (logged), nothing is allocated. */
static void
test_alloc_bad_cursor(void **state)
{
	struct lfx *x = *state;

	fl_add(FL_ALLOC, "objectClass", "subidAllocator", "cn", "allocator", "subidNextStart", "12x", NULL);
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "no valid subidNextStart");
	assert_int_equal(fl.calls[FL_ADD], 0);
}

static unsigned owner_searches;

static bool
is_owner_search(const struct fl_search *s, uid_t uid)
{
	char f[96];

	snprintf(f, sizeof(f), "(&(objectClass=subordinateIdEntry)(uidNumber=%u))", (unsigned)uid);
	return strcmp(s->filter, f) == 0;
}

static void
entry_appears_late(enum fl_op op, const char *dn)
{
	(void)dn;
	if (op != FL_SEARCH || !is_owner_search(&fl.s[fl.ns - 1], 5001))
		return;
	/* the first search, then the retries after the pool looked full: the third retry sees it */
	if (++owner_searches == 4) {
		fl.hook = NULL;
		fl_add_ranges("5001", 5001, "alice", SLOT(0), COUNT, SLOT(0), COUNT);
	}
}

/*
 * The last free slot is claimed by another host for this very owner: the
 * pool looks full, and the owner's entry is waited for (100 ms steps, at
 * most ten looks) instead of failing the login.
 */
static void
test_full_waits_for_contended_owner(void **state)
{
	struct lfx *x = *state;

	load_cfg(x, "range_max = 1001000\n");
	fl_add(FL_ALLOC, "objectClass", "subidAllocator", "cn", "allocator", "subidNextStart", "1000000", NULL);
	fl_add(fl_claim_dn(SLOT(0)), "objectClass", "applicationProcess", "cn", "1000000", "description",
	       "subid slot claimed for uid 5001 at 9999999999", NULL);
	owner_searches = 0;
	fl.hook = entry_appears_late;
	expect_found(x, 5001, "alice", SLOT(0), SLOT(0));
	assert_int_equal(nanosleeps, 2);
	/* it never comes: FULL after the ten looks */
	fl_remove(fl_entry_dn(5001));
	fl_add_account("carol", 5003);
	nanosleeps = 0;
	expect_ensure_rc(x, 5003, "carol", SUBID_FULL);
	assert_int_equal(nanosleeps, 9);
	assert_logged(x, "ldap full uid=5003");
}

/*
 * The window search is bounded: a directory flooded with more entries in
 * the window than aligned entries could make (WINDOW_ENTRIES_MAX, 1088) is
 * refused rather than held in memory; at the limit it is still used.
 */
static void
test_window_size_limit(void **state)
{
	static const char window_prefix[] = "(&(objectClass=subordinateIdEntry)(|";
	struct lfx *x = *state;
	char rdn[32];
	size_t window = 0;

	/* 1088 tiny entries, every 8 IDs over slots 0..8: slot 9 is free */
	for (unsigned i = 0; i < 1088; i++) {
		snprintf(rdn, sizeof(rdn), "tiny%u", i);
		fl_add_ranges(rdn, 100000 + i, NULL, POOL_MIN + 8 * i, 1, POOL_MIN + 8 * i, 1);
	}
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(9));
	for (size_t i = 0; i < fl.ns && i < FL_SEARCHES; i++)
		if (strncmp(fl.s[i].filter, window_prefix, sizeof(window_prefix) - 1) == 0) {
			assert_int_equal(fl.s[i].sizelimit, 1088);
			window++;
		}
	assert_true(window >= 1);
	/* one more in the window: refused, nothing claimed or added */
	fl_add_ranges("tiny-last", 200000, NULL, SLOT(9) + 500, 1, SLOT(9) + 500, 1);
	expect_ensure_rc(x, 5002, "bob", SUBID_ERR);
	assert_logged(x, "not allocating from a flooded directory");
	assert_null(fl_find(fl_entry_dn(5002)));
	assert_int_equal(fl_count(FL_ALLOC, CLAIMS_FILTER), 1);
}

/* ---- existing entries ------------------------------------------------------------------ */

/* The owner's entry exists: it is returned, and nothing is written. */
static void
test_existing_entry(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("5001", 5001, "alice", SLOT(3), COUNT, SLOT(3), COUNT);
	expect_found(x, 5001, "alice", SLOT(3), SLOT(3));
	assert_int_equal(writes(), 0);
}

/* A hand-made entry (other RDN, ranges that differ by kind) is the owner's too: found by uidNumber. */
static void
test_existing_entry_handmade(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("alice-by-hand", 5001, "alice", SLOT(3), COUNT, SLOT(6), 2 * COUNT);
	expect_found(x, 5001, "alice", SLOT(3), SLOT(6));
	assert_int_equal(writes(), 0);
}

/* A renamed owner (same uidNumber): the entry is updated to the current name and DN (logged). */
static void
test_existing_entry_renamed_owner(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("5001", 5001, "alice", SLOT(3), COUNT, SLOT(3), COUNT);
	expect_found(x, 5001, "alice2", SLOT(3), SLOT(3));
	assert_int_equal(fl.calls[FL_MODIFY], 1);
	assert_value(fl_entry_dn(5001), "uid", "alice2");
	assert_value(fl_entry_dn(5001), "subidRangeOwner", "uid=alice," FL_PEOPLE);
	assert_logged(x, "ldap renamed uid=5001 user=alice2");
}

/* Two entries for one owner: neither is used (whoever added one must not choose), logged. */
static void
test_two_entries_refused(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	fl_add_ranges("5001", 5001, "alice", SLOT(0), COUNT, SLOT(0), COUNT);
	fl_add_ranges("5001-again", 5001, "alice", SLOT(4), COUNT, SLOT(4), COUNT);
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "two entries for one owner");
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_ERR);
	assert_int_equal(release_t(x, 5001), SUBID_ERR);
	assert_int_equal(writes(), 0);
}

/* An entry whose ranges hold real account IDs (0..65535 here), by either kind, is refused. */
static void
test_entry_over_real_ids_refused(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	fl_add_ranges("5001", 5001, "alice", 1000, 65536, SLOT(0), COUNT);
	fl_add_ranges("5002", 5002, "bob", SLOT(1), COUNT, 65535, 1);
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "overlaps real account IDs or a reserved interval");
	expect_ensure_rc(x, 5002, "bob", SUBID_ERR);
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_ERR);
	assert_int_equal(lookup_t(x, 5002, &ur, &gr), SUBID_ERR);
	assert_int_equal(writes(), 0);
}

/* An entry over a reserved interval of the config is refused like one over real IDs. */
static void
test_entry_over_reserved_refused(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	load_cfg(x, "reserved = 1005500-1005500\n");
	fl_add_ranges("5001", 5001, "alice", SLOT(5), COUNT, SLOT(5), COUNT);
	fl_add_ranges("5002", 5002, "bob", SLOT(6), COUNT, SLOT(6), COUNT);
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "overlaps real account IDs or a reserved interval");
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_ERR);
	/* next to it is fine */
	expect_found(x, 5002, "bob", SLOT(6), SLOT(6));
}

/*
 * Where the checks are split: this module refuses real IDs and reserved
 * intervals; an entry outside the pool or over a taken[] interval (an
 * /etc/subuid line) is returned as it is, and the core refuses it before
 * it reaches the replica or newuidmap (test_core.c:
 * test_ldap_entry_outside_pool_refused, test_ldap_entry_over_file_line).
 */
static void
test_entry_outside_pool_or_taken_returned(void **state)
{
	struct lfx *x = *state;
	const struct subid_interval taken[] = { { SLOT(2), SLOT(3) } };
	struct subid_grant ur, gr;
	bool granted;

	fl_add_ranges("5001", 5001, "alice", 3000000, COUNT, 3000000, COUNT);
	fl_add_ranges("5002", 5002, "bob", SLOT(2), COUNT, SLOT(2), COUNT);
	expect_found(x, 5001, "alice", 3000000, 3000000);
	assert_int_equal(ensure_t(x, 5002, "bob", taken, ARRAY_SIZE(taken), &ur, &gr, &granted), SUBID_OK);
	assert_false(granted);
	assert_int_equal(ur.start, SLOT(2));
}

/* Entries whose ranges are not numbers, are empty, or pass the 32-bit ID space are refused. */
static void
test_entry_invalid_ranges(void **state)
{
	static const struct {
		const char *attr;
		const char *value;	/* NULL: the attribute is missing */
	} bad[] = {
		{ "subUidNumber", "abc" },
		{ "subUidNumber", "-5" },
		{ "subUidNumber", "1000000 " },
		{ "subGidCount", NULL },
		{ "subUidCount", "0" },
		{ "subGidNumber", "4294967000" },	/* + 1000 passes 4294967295 */
		{ "subUidCount", "99999999999999999999" },
	};
	struct lfx *x = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct subid_grant ur, gr;
		struct fl_entry *e;

		fl_add_ranges("5001", 5001, "alice", SLOT(1), COUNT, SLOT(1), COUNT);
		e = fl_find(fl_entry_dn(5001));
		fl_entry_drop_attr(e, fl_attr_of(e, bad[i].attr));
		if (bad[i].value != NULL)
			fl_entry_add_value(e, bad[i].attr, bad[i].value);
		test_log_reset(&x->fx->tl);
		expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
		assert_logged(x, "entry has invalid ranges");
		assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_ERR);
		fl_remove(fl_entry_dn(5001));
	}
	assert_int_equal(writes(), 0);
}

/* ---- lookup and release ------------------------------------------------------------------ */

/* lookup: the owner's ranges (OK), or 1 when there is no entry; always an anonymous bind. */
static void
test_lookup(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur = { 0, 0 }, gr = { 0, 0 };

	/* a write bind is configured, with a password file that is not even there: never read */
	load_cfg(x, "ldap_bind_dn = " BIND_DN "\nldap_bind_pw_file = /nonexistent/bindpw\n");
	fl_add_ranges("5001", 5001, "alice", SLOT(3), COUNT, SLOT(4), 2 * COUNT);
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_OK);
	assert_int_equal(ur.start, SLOT(3));
	assert_int_equal(ur.count, COUNT);
	assert_int_equal(gr.start, SLOT(4));
	assert_int_equal(gr.count, 2 * COUNT);
	assert_int_equal(lookup_t(x, 5002, &ur, &gr), 1);
	assert_int_equal(fl.calls[FL_BIND], 2);
	assert_null(fl.bind_dn);
	assert_int_equal(pw_opens, 0);
	assert_int_equal(writes(), 0);
}

/* release: the entry and its claim go (OK); then 1, nothing left to release. */
static void
test_release(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_int_equal(release_t(x, 5001), SUBID_OK);
	assert_null(fl_find(fl_entry_dn(5001)));
	assert_null(fl_find(fl_claim_dn(SLOT(0))));
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), 1);
	assert_int_equal(release_t(x, 5001), 1);
	/* a hand-made entry without a claim is released all the same */
	fl_add_ranges("bob-by-hand", 5002, "bob", SLOT(5), COUNT, SLOT(5), COUNT);
	assert_int_equal(release_t(x, 5002), SUBID_OK);
	assert_null(fl_find("cn=bob-by-hand," FL_BASE));
}

/* A release the directory cannot carry out is DOWN, and the entry stays. */
static void
test_release_down(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("5001", 5001, "alice", SLOT(3), COUNT, SLOT(3), COUNT);
	fl.fail.op = FL_DELETE;
	fl.fail.rc = LDAP_SERVER_DOWN;
	assert_int_equal(release_t(x, 5001), SUBID_DOWN);
	assert_non_null(fl_find(fl_entry_dn(5001)));
	assert_logged(x, "op=delete");
}

/* ---- a directory that is down, slow, or refuses us ------------------------------------------ */

/* Every "cannot reach" answer at connect/bind is SUBID_DOWN (the replica serves), for all three calls. */
static void
test_down_at_bind(void **state)
{
	static const int down[] = { LDAP_SERVER_DOWN, LDAP_TIMEOUT, LDAP_CONNECT_ERROR, LDAP_UNAVAILABLE, LDAP_BUSY };
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	fl_add_ranges("5001", 5001, "alice", SLOT(3), COUNT, SLOT(3), COUNT);
	for (size_t i = 0; i < ARRAY_SIZE(down); i++) {
		fl.fail.op = FL_BIND;
		fl.fail.rc = down[i];
		test_log_reset(&x->fx->tl);
		expect_ensure_rc(x, 5002, "bob", SUBID_DOWN);
		assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_DOWN);
		assert_int_equal(release_t(x, 5001), SUBID_DOWN);
		assert_logged(x, "op=bind");
	}
	assert_int_equal(writes(), 0);
	assert_non_null(fl_find(fl_entry_dn(5001)));
}

/* The directory goes away half-way through an allocation: DOWN, nothing granted, no owner entry. */
static void
test_down_midway(void **state)
{
	struct lfx *x = *state;

	/* the connection, then the first few operations, answer; from the first write on, nothing does */
	fl.fail.op = FL_ADD;
	fl.fail.skip = 1;	/* the allocator entry is created; the slot claim is not */
	fl.fail.rc = LDAP_SERVER_DOWN;
	expect_ensure_rc(x, 5001, "alice", SUBID_DOWN);
	assert_null(fl_find(fl_entry_dn(5001)));
	assert_int_equal(fl_count(FL_ALLOC, CLAIMS_FILTER), 0);
	/* searches time out the same way */
	fl.fail.op = FL_SEARCH;
	fl.fail.skip = 1;
	fl.fail.rc = LDAP_TIMEOUT;
	expect_ensure_rc(x, 5001, "alice", SUBID_DOWN);
}

/* ldap_initialize() refusing the URI is an error, not "down". */
static void
test_initialize_error(void **state)
{
	struct lfx *x = *state;

	fl.init_rc = LDAP_PARAM_ERROR;
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "op=initialize");
	assert_int_equal(fl.calls[FL_BIND], 0);
}

static void
slow_search(enum fl_op op, const char *dn)
{
	(void)dn;
	if (op == FL_SEARCH)
		fake_clock_ms += 700;
}

/*
 * ldap_timeout bounds the whole call, not each operation: every search is
 * given what is left of it, and when nothing is left the call ends DOWN
 * (logged) before writing anything.
 */
static void
test_timeout_bounds_whole_call(void **state)
{
	struct lfx *x = *state;

	load_cfg(x, "ldap_timeout = 2\n");
	fl.hook = slow_search;
	expect_ensure_rc(x, 5001, "alice", SUBID_DOWN);
	assert_logged(x, "reason=\"no answer within ldap_timeout (2 s)\"");
	assert_int_equal(writes(), 0);
	assert_true(fl.ns >= 2);
	assert_true(fl.s[0].timeout_ms > 1500 && fl.s[0].timeout_ms <= 2000);
	for (size_t i = 1; i < fl.ns; i++)
		assert_true(fl.s[i].timeout_ms <= fl.s[i - 1].timeout_ms - 600);
}

/* Refused credentials are an error (SUBID_ERR), not "down": the replica does not paper over them. */
static void
test_bad_credentials(void **state)
{
	struct lfx *x = *state;
	char *pw = test_path(x->fx->dir, "bindpw");
	struct subid_grant ur, gr;

	test_write_file(pw, "wrong\n", 0600);
	load_cfg_bind(x, pw);
	fl.bind_pw_ok = "right";
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "op=bind reason=\"Invalid credentials\"");
	assert_int_equal(release_t(x, 5001), SUBID_ERR);
	assert_int_equal(writes(), 0);
	/* a server that refuses anonymous binds: lookups are errors too */
	fl.fail.op = FL_BIND;
	fl.fail.rc = LDAP_INAPPROPRIATE_AUTH;
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_ERR);
	free(pw);
}

/* The write bind: the DN and the password file's first line; the file was required to be root's. */
static void
test_bind_password_file(void **state)
{
	struct lfx *x = *state;
	char *pw = test_path(x->fx->dir, "bindpw");

	test_write_file(pw, "right\nsecond line ignored\n", 0600);
	load_cfg_bind(x, pw);
	fl.bind_pw_ok = "right";
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_string_equal(fl.bind_dn, BIND_DN);
	assert_string_equal(fl.bind_pw, "right");
	assert_int_equal(pw_opens, 1);
	assert_int_equal(pw_owner_asked, 0);
	free(pw);
}

/* A password file others may read, a missing one, or an empty password: refused before any bind. */
static void
test_bind_password_file_refused(void **state)
{
	static const struct {
		const char *content;	/* NULL: no file */
		mode_t mode;
		const char *why;
	} t[] = {
		{ "right\n", 0640, "must be a regular file owned by root, mode 0600" },
		{ "right\n", 0604, "must be a regular file owned by root, mode 0600" },
		{ NULL, 0, "cannot open" },
		{ "\n", 0600, "empty password" },
	};
	struct lfx *x = *state;
	char *pw = test_path(x->fx->dir, "bindpw");

	load_cfg_bind(x, pw);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		unlink(pw);
		if (t[i].content != NULL)
			test_write_file(pw, t[i].content, t[i].mode);
		test_log_reset(&x->fx->tl);
		expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
		assert_logged(x, t[i].why);
		assert_logged(x, "key=ldap_bind_pw_file");
	}
	assert_int_equal(fl.calls[FL_BIND], 0);
	free(pw);
}

/* A directory that lets anonymous users read but not write: an error, not "down". */
static void
test_anonymous_write_refused(void **state)
{
	struct lfx *x = *state;

	fl.anon_readonly = true;
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "reason=\"Insufficient access\"");
	assert_null(fl_find(fl_entry_dn(5001)));
}

/* ldap_tls = starttls: the certificate is demanded; StartTLS failing is an error, or DOWN when unreachable. */
static void
test_starttls(void **state)
{
	struct lfx *x = *state;

	load_cfg(x, "ldap_tls = starttls\n");
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_int_equal(fl.calls[FL_STARTTLS], 1);
	assert_int_equal(fl.require_cert, LDAP_OPT_X_TLS_DEMAND);
	fl.starttls_rc = LDAP_PROTOCOL_ERROR;
	expect_ensure_rc(x, 5002, "bob", SUBID_ERR);
	assert_logged(x, "StartTLS failed");
	fl.starttls_rc = LDAP_SERVER_DOWN;
	expect_ensure_rc(x, 5002, "bob", SUBID_DOWN);
	/* never fell back to a bind in clear text */
	assert_int_equal(fl.calls[FL_BIND], 1);
}

/* A TLS context that cannot be made (bad CA file) says so and binds nothing. */
static void
test_tls_context_error(void **state)
{
	struct lfx *x = *state;

	load_cfg(x, "ldap_tls = starttls\nldap_ca_file = /nonexistent/ca.pem\n");
	fl.tls_newctx_rc = -1;
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "key=ldap_ca_file path=/nonexistent/ca.pem");
	assert_int_equal(fl.calls[FL_STARTTLS] + fl.calls[FL_BIND], 0);
}

/* ---- owners' DNs ----------------------------------------------------------------------- */

/* ldap_user_base, when set, is where owners are looked for; the root DSE is not asked. */
static void
test_user_base(void **state)
{
	struct lfx *x = *state;
	bool searched_people = false;

	load_cfg(x, "ldap_user_base = " FL_PEOPLE "\n");
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_value(fl_entry_dn(5001), "subidRangeOwner", "uid=alice," FL_PEOPLE);
	for (size_t i = 0; i < fl.ns; i++) {
		assert_string_not_equal(fl.s[i].base, "");
		if (strcmp(fl.s[i].base, FL_PEOPLE) == 0)
			searched_people = true;
	}
	assert_true(searched_people);
}

/* Without namingContexts in the root DSE, the owner is looked for under ldap_base's parent. */
static void
test_no_naming_contexts(void **state)
{
	struct lfx *x = *state;
	struct fl_entry *dse = fl_find("");

	fl_entry_drop_attr(dse, fl_attr_of(dse, "namingContexts"));
	expect_granted(x, 5001, "alice", NULL, 0, SLOT(0));
	assert_value(fl_entry_dn(5001), "subidRangeOwner", "uid=alice," FL_PEOPLE);
}

/* An owner that is not a posixAccount of the directory (a local user): an entry without subidRangeOwner. */
static void
test_sssd_owner_not_in_directory(void **state)
{
	struct lfx *x = *state;

	expect_granted(x, 7777, "local", NULL, 0, SLOT(0));
	assert_null(fl_value(fl_entry_dn(7777), "subidRangeOwner"));
	assert_value(fl_entry_dn(7777), "uid", "local");
}

/* ---- the FreeIPA attribute map ------------------------------------------------------------ */

#define IPA_DN(uid) "ipaUniqueID=subid-uid-" #uid "," FL_BASE

/* freeipa: entries named after the owner, found by ipaOwner (the account's DN), both classes. */
static void
test_freeipa_alloc_and_find(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;
	bool granted;
	const struct fl_entry *e;

	load_cfg(x, "ldap_attr_map = freeipa\n");
	assert_int_equal(ensure_t(x, 5001, "alice", NULL, 0, &ur, &gr, &granted), SUBID_OK);
	assert_true(granted);
	assert_int_equal(ur.start, SLOT(0));
	e = fl_find(IPA_DN(5001));
	assert_non_null(e);
	assert_true(fl_has_value(fl_attr_of(e, "objectClass"), "ipaSubordinateIdEntry"));
	assert_true(fl_has_value(fl_attr_of(e, "objectClass"), "ipaSubordinateId"));
	assert_value(IPA_DN(5001), "ipaOwner", "uid=alice," FL_PEOPLE);
	assert_value(IPA_DN(5001), "ipaSubUidNumber", "1000000");
	assert_value(IPA_DN(5001), "ipaSubGidCount", "1000");
	assert_null(fl_value(IPA_DN(5001), "uidNumber"));
	/* found again by its owner's DN */
	assert_int_equal(ensure_t(x, 5001, "alice", NULL, 0, &ur, &gr, &granted), SUBID_OK);
	assert_false(granted);
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_OK);
	assert_int_equal(gr.start, SLOT(0));
	/* another owner, the next slot */
	assert_int_equal(ensure_t(x, 5002, "bob", NULL, 0, &ur, &gr, &granted), SUBID_OK);
	assert_int_equal(ur.start, SLOT(1));
}

/* An owner DN with filter metacharacters is escaped in the search, and still matches. */
static void
test_freeipa_owner_dn_escaped(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;
	size_t escaped = 0;

	load_cfg(x, "ldap_attr_map = freeipa\n");
	fl_add_account("o(b)*", 5005);
	expect_ensure_rc(x, 5005, "o(b)*", SUBID_OK);
	assert_value(IPA_DN(5005), "ipaOwner", "uid=o(b)*," FL_PEOPLE);
	/* the searches said \\28, \\29, \\2a, never a bare parenthesis or wildcard */
	for (size_t i = 0; i < fl.ns && i < FL_SEARCHES; i++)
		escaped += strstr(fl.s[i].filter, "(ipaOwner=uid=o\\28b\\29\\2a," FL_PEOPLE ")") != NULL;
	assert_true(escaped >= 1);
	assert_int_equal(lookup_t(x, 5005, &ur, &gr), SUBID_OK);
	assert_int_equal(ur.start, SLOT(0));
}

/* freeipa needs the owner's DN: an owner not in the directory gets nothing (logged); lookup says none. */
static void
test_freeipa_owner_not_in_directory(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	load_cfg(x, "ldap_attr_map = freeipa\n");
	expect_ensure_rc(x, 7777, "local", SUBID_ERR);
	assert_logged(x, "the owner is not in the directory");
	assert_int_equal(lookup_t(x, 7777, &ur, &gr), 1);
	assert_int_equal(writes(), 0);
}

/*
 * With the freeipa map, a directory that fails while the owner's DN is
 * looked up is DOWN, never "this owner has no entry": that would let a
 * release free the replica's rows while the directory still holds the
 * entry, and make ensure refuse a login the replica can serve.
 */
static void
test_freeipa_down_during_owner_search(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	load_cfg(x, "ldap_attr_map = freeipa\n");
	expect_ensure_rc(x, 5001, "alice", SUBID_OK);
	assert_non_null(fl_find(IPA_DN(5001)));
	fl.fail.op = FL_SEARCH;
	fl.fail.skip = 1;	/* the root DSE answers; the owner search does not */
	fl.fail.rc = LDAP_SERVER_DOWN;
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_DOWN);
	fl.fail.skip = 1;
	assert_int_equal(release_t(x, 5001), SUBID_DOWN);
	fl.fail.skip = 1;
	expect_ensure_rc(x, 5001, "alice", SUBID_DOWN);
}

/* Two accounts with one uidNumber: whose DN is the owner's?  Neither (refused, logged). */
static void
test_freeipa_two_accounts_one_uid(void **state)
{
	struct lfx *x = *state;
	struct subid_grant ur, gr;

	load_cfg(x, "ldap_attr_map = freeipa\n");
	fl_add_account("mallory", 5001);
	expect_ensure_rc(x, 5001, "alice", SUBID_ERR);
	assert_logged(x, "two accounts with this uidNumber");
	assert_int_equal(lookup_t(x, 5001, &ur, &gr), SUBID_ERR);
	assert_int_equal(writes(), 0);
}

/*
 * A renamed owner whose DN cannot be looked up (the directory fails after
 * the entry was read): the entry is left as it is, its owner attribute is
 * not deleted, and the login is served.
 */
static void
test_renamed_owner_dn_lookup_fails(void **state)
{
	struct lfx *x = *state;

	fl_add_ranges("5001", 5001, "alice", SLOT(3), COUNT, SLOT(3), COUNT);
	fl_entry_add_value(fl_find(fl_entry_dn(5001)), "subidRangeOwner", "uid=alice," FL_PEOPLE);
	fl.fail.op = FL_SEARCH;
	fl.fail.skip = fl.calls[FL_SEARCH] + 2;	/* the entry and the root DSE answer */
	fl.fail.rc = LDAP_SERVER_DOWN;
	expect_found(x, 5001, "alice2", SLOT(3), SLOT(3));
	assert_int_equal(fl.calls[FL_MODIFY], 0);
	assert_value(fl_entry_dn(5001), "uid", "alice");
	assert_value(fl_entry_dn(5001), "subidRangeOwner", "uid=alice," FL_PEOPLE);
	assert_logged(x, "cannot look the owner's DN up");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, lfx_setup, lfx_teardown)
	const struct CMUnitTest tests[] = {
		/* first: they need a process that has not loaded libldap yet */
		T(test_load_no_library),
		T(test_load_missing_symbol),
		T(test_alloc_new_owner),
		T(test_alloc_fills_pool_then_full),
		T(test_alloc_skips_taken),
		T(test_alloc_skips_unaligned_entry),
		T(test_alloc_skips_long_entry),
		T(test_alloc_skips_gid_only_overlap),
		T(test_alloc_skips_fresh_claim),
		T(test_alloc_takes_stale_claim),
		T(test_alloc_handmade_claim_kept),
		T(test_alloc_lost_race_for_entry),
		T(test_alloc_cursor_cas),
		T(test_alloc_wraps_to_released_slot),
		T(test_alloc_bad_cursor),
		T(test_full_waits_for_contended_owner),
		T(test_window_size_limit),
		T(test_existing_entry),
		T(test_existing_entry_handmade),
		T(test_existing_entry_renamed_owner),
		T(test_two_entries_refused),
		T(test_entry_over_real_ids_refused),
		T(test_entry_over_reserved_refused),
		T(test_entry_outside_pool_or_taken_returned),
		T(test_entry_invalid_ranges),
		T(test_lookup),
		T(test_release),
		T(test_release_down),
		T(test_down_at_bind),
		T(test_down_midway),
		T(test_initialize_error),
		T(test_timeout_bounds_whole_call),
		T(test_bad_credentials),
		T(test_bind_password_file),
		T(test_bind_password_file_refused),
		T(test_anonymous_write_refused),
		T(test_starttls),
		T(test_tls_context_error),
		T(test_user_base),
		T(test_no_naming_contexts),
		T(test_sssd_owner_not_in_directory),
		T(test_freeipa_alloc_and_find),
		T(test_freeipa_owner_dn_escaped),
		T(test_freeipa_owner_not_in_directory),
		T(test_freeipa_down_during_owner_search),
		T(test_freeipa_two_accounts_one_uid),
		T(test_renamed_owner_dn_lookup_fails),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
