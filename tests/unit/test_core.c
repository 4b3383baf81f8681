/*
 * Unit tests for common/subid_core.c through its public API (subid_core.h):
 * what pam_subid (subid_core_ensure) and the libsubid plugin
 * (subid_core_list, _has, _owners) do, over a real writer store and read
 * index in a scratch directory, /etc/subuid- and /etc/subgid-like files
 * there too, and a config file pointing at them (struct subid_paths with
 * trusted_uid = getuid(), so no root is needed).
 *
 * NSS is faked (fake_nss.h, -Wl,--wrap=getpwnam_r,...), and so is the
 * directory for store = ldap (fake_ldap.h, -Wl,--wrap=dlopen,--wrap=dlsym).
 *
 * The pool is 10 slots of 1000 IDs from 100000; real IDs are 0..65535.
 * (pam_subid's "strict" is not the core's: it only maps the codes that
 * subid_core_ensure returns, which are the same with or without it.)
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "subid_config.h"
#include "subid_core.h"
#include "fake_nss.h"
#include "fake_ldap.h"
#include "test_common.h"

#define POOL_MIN UINT64_C(100000)
#define COUNT UINT64_C(1000)
#define SLOT(i) (POOL_MIN + (uint64_t)(i) * COUNT)

struct cfx {
	struct fx *fx;
	char *conf, *login_defs, *subuid, *subgid, *index;
	struct subid_paths paths;
	struct subid_config cfg;
	bool loaded;
};

/* The config: the scratch store and pool, then extra lines (a later key wins). */
static void
load_cfg(struct cfx *x, const char *extra)
{
	char *text;

	if (x->loaded)
		subid_config_free(&x->cfg);
	x->loaded = false;
	assert_true(asprintf(&text,
			     "db_path = %s/private/subid.db\n"
			     "range_min = 100000\n"
			     "range_max = 110000\n"
			     "range_count = 1000\n"
			     "skip_users = svc\n"
			     "skip_groups = nosubid\n"
			     "%s", x->fx->dir, extra) > 0);
	test_write_file(x->conf, text, 0644);
	free(text);
	if (subid_config_load(&x->cfg, x->conf, x->login_defs, x->paths.trusted_uid, &x->fx->tl.log) != 0) {
		test_log_dump(&x->fx->tl);
		fail_msg("config refused");
	}
	x->loaded = true;
	assert_string_equal(x->cfg.index_path, x->index);
	test_log_reset(&x->fx->tl);
}

static int
cfx_setup(void **state)
{
	static const char *const nosubid[] = { "carol", NULL };
	struct cfx *x = calloc(1, sizeof(*x));
	void *fx;

	assert_non_null(x);
	fx_setup(&fx);
	x->fx = fx;
	x->conf = test_path(x->fx->dir, "subid.conf");
	x->login_defs = test_path(x->fx->dir, "login.defs");
	x->subuid = test_path(x->fx->dir, "subuid");
	x->subgid = test_path(x->fx->dir, "subgid");
	x->index = test_path(x->fx->dir, "ranges.idx");
	x->paths = (struct subid_paths){ x->conf, x->login_defs, x->subuid, x->subgid, getuid() };
	test_write_file(x->login_defs, "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\n", 0644);

	fake_nss_reset();
	fake_nss_add_user("root", 0, 0);
	fake_nss_add_user("daemon", 1, 1);
	fake_nss_add_user("alice", 5001, 100);
	fake_nss_add_user("bob", 5002, 100);
	fake_nss_add_user("5003", 7003, 100);	/* a name of digits */
	fake_nss_add_user("svc", 5004, 100);	/* skip_users */
	fake_nss_add_user("carol", 5005, 100);	/* in skip_groups */
	fake_nss_add_user("dave", 5006, 100);
	fake_nss_add_group("users", 100, NULL);
	fake_nss_add_group("nosubid", 300, nosubid);

	fl_reset();
	fl_standard();
	load_cfg(x, "");
	*state = x;
	return 0;
}

static int
cfx_teardown(void **state)
{
	struct cfx *x = *state;
	void *fx = x->fx;

	if (x->loaded)
		subid_config_free(&x->cfg);
	fl_reset();
	free(x->conf);
	free(x->login_defs);
	free(x->subuid);
	free(x->subgid);
	free(x->index);
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

static enum subid_ensure_rc
ensure_t(struct cfx *x, const char *user, unsigned flags, struct subid_grant *ur, struct subid_grant *gr)
{
	memset(ur, 0, sizeof(*ur));
	memset(gr, 0, sizeof(*gr));
	return subid_core_ensure(&x->cfg, &x->paths, user, flags, &x->fx->tl.log, ur, gr);
}

static void
expect_ensure(struct cfx *x, const char *user, unsigned flags, enum subid_ensure_rc want)
{
	struct subid_grant ur, gr;
	enum subid_ensure_rc rc = ensure_t(x, user, flags, &ur, &gr);

	if (rc != want) {
		print_error("ensure(%s) = %d, want %d\n", user, rc, want);
		test_log_dump(&x->fx->tl);
	}
	assert_int_equal(rc, want);
}

/* A first allocation: OK, both ranges at one aligned start of the pool; returns it. */
static uint64_t
expect_granted(struct cfx *x, const char *user)
{
	struct subid_grant ur, gr;
	enum subid_ensure_rc rc;

	test_log_reset(&x->fx->tl);
	rc = ensure_t(x, user, 0, &ur, &gr);
	if (rc != SUBID_ENSURE_OK)
		test_log_dump(&x->fx->tl);
	assert_int_equal(rc, SUBID_ENSURE_OK);
	assert_int_equal(ur.start, gr.start);
	assert_int_equal(ur.count, COUNT);
	assert_int_equal(gr.count, COUNT);
	assert_true(ur.start >= SLOT(0) && ur.start + ur.count <= SLOT(10));
	assert_int_equal((ur.start - POOL_MIN) % COUNT, 0);
	assert_logged(x, "granted user=");
	return ur.start;
}

/* subid_core_list, its outputs set whatever the status; ranges are returned (caller frees). */
static int
list_t(struct cfx *x, const char *owner, enum subid_kind type, struct subid_grant **r, size_t *n)
{
	*r = (struct subid_grant *)(uintptr_t)1;	/* must be overwritten */
	*n = (size_t)-1;
	return subid_core_list(&x->paths, &x->fx->tl.log, owner, type, r, n);
}

/* owner's ranges of type are exactly want[0..nwant) (any order). */
static void
expect_list(struct cfx *x, const char *owner, enum subid_kind type, const struct subid_grant *want, size_t nwant)
{
	struct subid_grant *r;
	size_t n;
	int st = list_t(x, owner, type, &r, &n);

	if (st != SUBID_OK)
		test_log_dump(&x->fx->tl);
	assert_int_equal(st, SUBID_OK);
	if (n != nwant) {
		print_error("list(%s, %d): %zu ranges, want %zu\n", owner, type, n, nwant);
		for (size_t i = 0; i < n; i++)
			print_error("  %" PRIu64 "+%" PRIu64 "\n", r[i].start, r[i].count);
	}
	assert_int_equal(n, nwant);
	if (nwant == 0)
		assert_null(r);
	for (size_t i = 0; i < nwant; i++) {
		bool seen = false;

		for (size_t k = 0; k < n; k++)
			seen = seen || (r[k].start == want[i].start && r[k].count == want[i].count);
		if (!seen)
			fail_msg("list(%s): no range %" PRIu64 "+%" PRIu64, owner, want[i].start, want[i].count);
	}
	free(r);
}

static void
expect_list_status(struct cfx *x, const char *owner, int want)
{
	struct subid_grant *r;
	size_t n;

	assert_int_equal(list_t(x, owner, SUBID_KIND_UID, &r, &n), want);
	assert_null(r);
	assert_int_equal(n, 0);
}

/* has_range's answer (SUCCESS expected) */
static bool
has(struct cfx *x, const char *owner, unsigned long start, unsigned long count, enum subid_kind type,
    const uid_t *caller)
{
	bool result = true;
	int st = subid_core_has(&x->paths, &x->fx->tl.log, owner, start, count, type, caller, &result);

	if (st != SUBID_OK)
		test_log_dump(&x->fx->tl);
	assert_int_equal(st, SUBID_OK);
	return result;
}

/* subid_core_owners for id: exactly want[0..nwant). */
static void
expect_owners(struct cfx *x, unsigned long id, enum subid_kind type, const uid_t *want, size_t nwant)
{
	uid_t *u = (uid_t *)(uintptr_t)1;
	size_t n = (size_t)-1;

	assert_int_equal(subid_core_owners(&x->paths, &x->fx->tl.log, id, type, &u, &n), SUBID_OK);
	assert_int_equal(n, nwant);
	if (nwant == 0)
		assert_null(u);
	for (size_t i = 0; i < nwant; i++)
		assert_int_equal(u[i], want[i]);
	free(u);
}

/* ---- subid_core_ensure: local store -------------------------------------------------------- */

/*
 * A first login: both ranges at one start inside the pool, logged once per
 * kind, published in the read index, and listed by the plugin's path.
 */
static void
test_ensure_first_allocation(void **state)
{
	struct cfx *x = *state;
	struct stat sb;
	uint64_t s = expect_granted(x, "alice");

	assert_int_equal(s, SLOT(0));
	assert_logged(x, "granted user=alice uid=5001 kind=subuid start=100000 count=1000");
	assert_logged(x, "granted user=alice uid=5001 kind=subgid start=100000 count=1000");
	assert_int_equal(stat(x->index, &sb), 0);
	expect_list(x, "alice", SUBID_KIND_UID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
	expect_list(x, "alice", SUBID_KIND_GID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
}

/*
 * The second login changes nothing: the same ranges, no grant, answered
 * from the published index (logged at debug level); another owner gets
 * disjoint ranges.
 */
static void
test_ensure_idempotent(void **state)
{
	struct cfx *x = *state;
	struct subid_grant ur, gr;

	assert_int_equal(expect_granted(x, "alice"), SLOT(0));
	test_log_reset(&x->fx->tl);
	x->fx->tl.log.debug = 1;
	assert_int_equal(ensure_t(x, "alice", 0, &ur, &gr), SUBID_ENSURE_OK);
	assert_int_equal(ur.start, SLOT(0));
	assert_int_equal(gr.start, SLOT(0));
	assert_int_equal(ur.count, COUNT);
	assert_int_equal(test_log_count_substr(&x->fx->tl, "granted"), 0);
	assert_logged(x, "has ranges in");
	x->fx->tl.log.debug = 0;
	assert_int_equal(expect_granted(x, "bob"), SLOT(1));
}

/* root is never granted anything, not even with SUBID_ENSURE_FORCE. */
static void
test_ensure_skips_root(void **state)
{
	struct cfx *x = *state;

	expect_ensure(x, "root", 0, SUBID_ENSURE_SKIPPED);
	expect_ensure(x, "root", SUBID_ENSURE_FORCE, SUBID_ENSURE_SKIPPED);
	expect_list(x, "root", SUBID_KIND_UID, NULL, 0);
}

/* Below uid_min, skip_users and skip_groups are skipped at login; FORCE (subidctl) serves the first two. */
static void
test_ensure_skips_policy(void **state)
{
	struct cfx *x = *state;

	expect_ensure(x, "daemon", 0, SUBID_ENSURE_SKIPPED);
	expect_ensure(x, "svc", 0, SUBID_ENSURE_SKIPPED);
	expect_ensure(x, "carol", 0, SUBID_ENSURE_SKIPPED);
	expect_list(x, "daemon", SUBID_KIND_UID, NULL, 0);
	expect_list(x, "svc", SUBID_KIND_UID, NULL, 0);
	expect_list(x, "carol", SUBID_KIND_UID, NULL, 0);
	expect_ensure(x, "daemon", SUBID_ENSURE_FORCE, SUBID_ENSURE_OK);
	expect_ensure(x, "svc", SUBID_ENSURE_FORCE, SUBID_ENSURE_OK);
	expect_list(x, "daemon", SUBID_KIND_UID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
	expect_list(x, "svc", SUBID_KIND_GID, &(struct subid_grant){ SLOT(1), COUNT }, 1);
	/* uid_min from the config overrides login.defs */
	load_cfg(x, "uid_min = 5002\n");
	expect_ensure(x, "alice", 0, SUBID_ENSURE_SKIPPED);
	expect_ensure(x, "bob", 0, SUBID_ENSURE_OK);
}

/* A user name of digits is refused (logged), with or without FORCE. */
static void
test_ensure_numeric_name_refused(void **state)
{
	struct cfx *x = *state;

	expect_ensure(x, "5003", 0, SUBID_ENSURE_REFUSED);
	assert_logged(x, "refused user=5003 uid=7003 reason=\"numeric user name\"");
	expect_ensure(x, "5003", SUBID_ENSURE_FORCE, SUBID_ENSURE_REFUSED);
	expect_list(x, "5003", SUBID_KIND_UID, NULL, 0);
}

/* An unknown user is UNKNOWN_USER; an NSS failure is ERROR (never "unknown"); both logged. */
static void
test_ensure_unknown_or_nss_error(void **state)
{
	struct cfx *x = *state;

	expect_ensure(x, "mallory", 0, SUBID_ENSURE_UNKNOWN_USER);
	assert_logged(x, "unknown user=mallory");
	fake_nss.pwnam_err = EIO;
	expect_ensure(x, "alice", 0, SUBID_ENSURE_ERROR);
	assert_logged(x, "error user=alice reason=\"user lookup failed\"");
	fake_nss.pwnam_err = 0;
	/* skip_groups cannot be checked: an error, not a grant */
	fake_nss.grnam_err = EIO;
	expect_ensure(x, "alice", 0, SUBID_ENSURE_ERROR);
	assert_logged(x, "reason=\"group lookup failed\"");
	fake_nss.grnam_err = 0;
	expect_list(x, "alice", SUBID_KIND_UID, NULL, 0);
}

/* Every /etc/subuid and /etc/subgid line and every reserved interval is taken, whoever it names. */
static void
test_ensure_avoids_files_and_reserved(void **state)
{
	struct cfx *x = *state;

	test_write_file(x->subuid, "someone:100000:1000\n", 0644);
	test_write_file(x->subgid, "5999:101500:1\n", 0644);
	load_cfg(x, "reserved = 102000-102999\n");
	assert_int_equal(expect_granted(x, "alice"), SLOT(3));
}

/* With files = yes, an owner whose own lines are in both files is served by them: nothing is granted. */
static void
test_ensure_own_file_lines(void **state)
{
	struct cfx *x = *state;
	struct subid_grant ur, gr;

	test_write_file(x->subuid, "alice:105000:1000\n", 0644);
	test_write_file(x->subgid, "alice:105000:1000\n", 0644);
	assert_int_equal(ensure_t(x, "alice", 0, &ur, &gr), SUBID_ENSURE_OK);
	assert_int_equal(ur.count, 0);
	assert_int_equal(gr.count, 0);
	assert_int_equal(test_log_count_substr(&x->fx->tl, "granted"), 0);
	expect_list(x, "alice", SUBID_KIND_UID, &(struct subid_grant){ 105000, 1000 }, 1);
	/* files = no: the lines are not served, but are still taken */
	test_write_file(x->subuid, "alice:100000:1000\n", 0644);
	test_write_file(x->subgid, "alice:100000:1000\n", 0644);
	load_cfg(x, "files = no\n");
	assert_int_equal(expect_granted(x, "alice"), SLOT(1));
	expect_list(x, "alice", SUBID_KIND_UID, &(struct subid_grant){ SLOT(1), COUNT }, 1);
}

/* A store or config not owned by the trusted user is refused: ERROR, nothing granted. */
static void
test_ensure_untrusted_store(void **state)
{
	struct cfx *x = *state;

	x->paths.trusted_uid = getuid() + 1;
	expect_ensure(x, "alice", 0, SUBID_ENSURE_ERROR);
	assert_logged(x, "store refused path=");
	/* and the plugin's path refuses a config it cannot trust */
	expect_list_status(x, "alice", SUBID_ERR);
	assert_logged(x, "config refused");
	x->paths.trusted_uid = getuid();
	expect_list(x, "alice", SUBID_KIND_UID, NULL, 0);
}

/* ---- subid_core_list ---------------------------------------------------------------------------- */

/* A known owner without ranges: SUCCESS, none (NULL, 0); an unknown one: UNKNOWN_USER. */
static void
test_list_known_and_unknown(void **state)
{
	struct cfx *x = *state;
	struct subid_grant *r;
	size_t n;

	expect_list(x, "bob", SUBID_KIND_UID, NULL, 0);
	expect_list_status(x, "mallory", SUBID_NONE);
	/* a bad type is an error */
	assert_int_equal(list_t(x, "bob", (enum subid_kind)7, &r, &n), SUBID_ERR);
	assert_null(r);
	assert_int_equal(n, 0);
}

/* The owner as a decimal UID (getsubids 5001, podman's retry) is the account with that UID. */
static void
test_list_by_decimal_uid(void **state)
{
	struct cfx *x = *state;

	expect_granted(x, "alice");
	expect_list(x, "5001", SUBID_KIND_UID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
	/* "5003" is a user's name: that user (7003, nothing), not UID 5003 */
	expect_list(x, "5003", SUBID_KIND_UID, NULL, 0);
}

/*
 * A decimal UID that NSS does not know (its directory is unreachable, or
 * the account was deleted) is still served what the store holds for it;
 * the name is not, and only the UID's own spelling counts.
 */
static void
test_list_uid_unknown_to_nss(void **state)
{
	struct cfx *x = *state;

	expect_granted(x, "alice");
	fake_nss_del_user("alice");
	expect_list(x, "5001", SUBID_KIND_UID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
	expect_list(x, "5001", SUBID_KIND_GID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
	expect_list_status(x, "alice", SUBID_NONE);
	expect_list_status(x, "05001", SUBID_NONE);
	/* a UID nobody has and the store does not know */
	expect_list_status(x, "5999", SUBID_NONE);
	assert_true(has(x, "5001", SLOT(0) + 10, 100, SUBID_KIND_UID, NULL));
}

/*
 * files = yes: the owner's lines of the file of that kind are served with
 * the store's ranges, by name or by UID; lines of other owners are not, and
 * neither is a line under his name over a range the store gives another
 * owner (written for someone since renamed).
 */
static void
test_list_store_and_files(void **state)
{
	struct cfx *x = *state;

	expect_granted(x, "alice");
	expect_granted(x, "bob");
	test_write_file(x->subuid,
			"alice:200000:5000\n"
			"5001:300000:10\n"
			"bob:400000:10\n"
			"alice:101000:1000\n",	/* bob's range in the store */
			0644);
	expect_list(x, "alice", SUBID_KIND_UID, (const struct subid_grant[]){ { SLOT(0), COUNT }, { 200000, 5000 },
									   { 300000, 10 } }, 3);
	expect_list(x, "alice", SUBID_KIND_GID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
	expect_list(x, "bob", SUBID_KIND_UID, (const struct subid_grant[]){ { SLOT(1), COUNT }, { 400000, 10 } }, 2);
	/* files = no: the store only */
	load_cfg(x, "files = no\n");
	expect_list(x, "alice", SUBID_KIND_UID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
}

/* A user lookup that fails is an error for the plugin (fail closed), never "unknown". */
static void
test_list_nss_error(void **state)
{
	struct cfx *x = *state;
	bool result = true;

	expect_granted(x, "alice");
	fake_nss.pwnam_err = EIO;
	expect_list_status(x, "alice", SUBID_ERR);
	assert_int_equal(subid_core_has(&x->paths, &x->fx->tl.log, "alice", SLOT(0), 1, SUBID_KIND_UID, NULL, &result),
			 SUBID_ERR);
	assert_false(result);
	assert_logged(x, "reason=\"user lookup failed\"");
}

/* ---- subid_core_has ------------------------------------------------------------------------ */

/* has_range: true only for a range wholly inside the owner's; adjacent ranges may cover it together. */
static void
test_has_range(void **state)
{
	struct cfx *x = *state;
	bool result = true;

	expect_granted(x, "alice");
	assert_true(has(x, "alice", SLOT(0), COUNT, SUBID_KIND_UID, NULL));
	assert_true(has(x, "alice", SLOT(0) + 999, 1, SUBID_KIND_GID, NULL));
	assert_false(has(x, "alice", SLOT(0) + 1, COUNT, SUBID_KIND_UID, NULL));
	assert_false(has(x, "alice", SLOT(0) - 1, 2, SUBID_KIND_UID, NULL));
	assert_false(has(x, "bob", SLOT(0), 1, SUBID_KIND_UID, NULL));
	assert_logged(x, "refused owner=bob kind=subuid start=100000 count=1 reason=\"not within the owner's ranges\"");
	/* a file line right after the store's range: together they cover the span */
	test_write_file(x->subuid, "alice:101000:500\n", 0644);
	assert_true(has(x, "alice", SLOT(0) + 500, 1000, SUBID_KIND_UID, NULL));
	assert_false(has(x, "alice", SLOT(0) + 500, 1001, SUBID_KIND_UID, NULL));
	assert_false(has(x, "alice", SLOT(0) + 500, 1000, SUBID_KIND_GID, NULL));
	/* no range, an empty one, and one that wraps: nobody has them */
	assert_false(has(x, "alice", SLOT(0), 0, SUBID_KIND_UID, NULL));
	assert_false(has(x, "alice", (unsigned long)-10, 100, SUBID_KIND_UID, NULL));
	assert_false(has(x, "alice", 4294967295UL, 1, SUBID_KIND_UID, NULL));
	/* an unknown owner: UNKNOWN_USER, and no */
	assert_int_equal(subid_core_has(&x->paths, &x->fx->tl.log, "mallory", SLOT(0), 1, SUBID_KIND_UID, NULL, &result),
			 SUBID_NONE);
	assert_false(result);
}

/*
 * Inside newuidmap (AT_SECURE: the plugin passes the calling UID), the
 * owner must resolve to the caller: another user's name, a name of digits
 * that belongs to another account, or an unknown owner all get "no".
 */
static void
test_has_range_caller(void **state)
{
	struct cfx *x = *state;
	const uid_t alice = 5001, bob = 5002, u5003 = 5003;

	expect_granted(x, "alice");
	expect_granted(x, "bob");
	assert_true(has(x, "alice", SLOT(0), COUNT, SUBID_KIND_UID, &alice));
	assert_true(has(x, "5001", SLOT(0), COUNT, SUBID_KIND_GID, &alice));
	test_log_reset(&x->fx->tl);
	assert_false(has(x, "alice", SLOT(0), COUNT, SUBID_KIND_UID, &bob));
	assert_logged(x, "reason=\"the owner is not the calling user\"");
	assert_false(has(x, "5001", SLOT(0), COUNT, SUBID_KIND_UID, &bob));
	assert_false(has(x, "mallory", SLOT(0), COUNT, SUBID_KIND_UID, &alice));
	/* "5003" names the account called 5003 (uid 7003), not the caller with UID 5003 */
	assert_false(has(x, "5003", SLOT(0), COUNT, SUBID_KIND_UID, &u5003));
	/* an unknown UID is the caller's own when it is the caller: served from the store */
	fake_nss_del_user("bob");
	assert_true(has(x, "5002", SLOT(1), COUNT, SUBID_KIND_UID, &bob));
	assert_false(has(x, "5002", SLOT(1), COUNT, SUBID_KIND_UID, &alice));
}

/* ---- subid_core_owners ------------------------------------------------------------------------ */

/*
 * Who owns an ID: the store's owner, and owners of file lines (a name
 * resolved by name, digits as a UID); a line for an account that no longer
 * exists names nobody.
 */
static void
test_owners(void **state)
{
	struct cfx *x = *state;
	uid_t *u;
	size_t n;

	expect_granted(x, "alice");
	test_write_file(x->subuid,
			"bob:200000:100\n"
			"5006:201000:100\n"
			"ghost:202000:100\n"
			"06000:203000:100\n",
			0644);
	expect_owners(x, SLOT(0) + 5, SUBID_KIND_UID, (const uid_t[]){ 5001 }, 1);
	expect_owners(x, SLOT(0) + 999, SUBID_KIND_GID, (const uid_t[]){ 5001 }, 1);
	expect_owners(x, SLOT(0) + 1000, SUBID_KIND_UID, NULL, 0);
	expect_owners(x, 200050, SUBID_KIND_UID, (const uid_t[]){ 5002 }, 1);
	expect_owners(x, 201099, SUBID_KIND_UID, (const uid_t[]){ 5006 }, 1);
	expect_owners(x, 202000, SUBID_KIND_UID, NULL, 0);
	expect_owners(x, 203000, SUBID_KIND_UID, NULL, 0);
	/* the subgid file has none of those */
	expect_owners(x, 200050, SUBID_KIND_GID, NULL, 0);
	/* beyond the ID space: nobody */
	expect_owners(x, 4294967295UL, SUBID_KIND_UID, NULL, 0);
	assert_int_equal(subid_core_owners(&x->paths, &x->fx->tl.log, 1, (enum subid_kind)0, &u, &n),
			 SUBID_ERR);
	assert_null(u);
	assert_int_equal(n, 0);
}

/* ---- store = ldap: the directory decides, the local store is its replica ---------------------- */

static void
load_ldap_cfg(struct cfx *x, const char *extra)
{
	char *text;

	assert_true(asprintf(&text, "store = ldap\nldap_uri = ldap://ldap.example.org\nldap_base = " FL_BASE "\n%s",
			     extra) > 0);
	load_cfg(x, text);
	free(text);
}

/* A first login: granted by the directory, kept in the replica, and listed without asking the directory. */
static void
test_ldap_ensure_replicates(void **state)
{
	struct cfx *x = *state;
	unsigned inits;

	load_ldap_cfg(x, "");
	assert_int_equal(expect_granted(x, "alice"), SLOT(0));
	assert_non_null(fl_find(fl_entry_dn(5001)));
	inits = fl.calls[FL_INIT];
	expect_list(x, "alice", SUBID_KIND_UID, &(struct subid_grant){ SLOT(0), COUNT }, 1);
	assert_true(has(x, "alice", SLOT(0), COUNT, SUBID_KIND_GID, NULL));
	assert_int_equal(fl.calls[FL_INIT], inits);
	assert_int_equal(fl.open, 0);
}

/* A directory entry outside the pool is refused (logged) and never reaches the replica. */
static void
test_ldap_entry_outside_pool_refused(void **state)
{
	struct cfx *x = *state;

	load_ldap_cfg(x, "");
	fl_add_ranges("5001", 5001, "alice", 3000000, COUNT, 3000000, COUNT);
	expect_ensure(x, "alice", 0, SUBID_ENSURE_ERROR);
	assert_logged(x, "reason=\"the directory's entry lies outside the pool [100000, 110000)\"");
	expect_list(x, "alice", SUBID_KIND_UID, NULL, 0);
}

/* An entry over another owner's /etc/subuid line is refused; over the owner's own line it is fine. */
static void
test_ldap_entry_over_file_line(void **state)
{
	struct cfx *x = *state;

	load_ldap_cfg(x, "");
	test_write_file(x->subuid, "someone:105000:10\nbob:106000:1000\n", 0644);
	fl_add_ranges("5001", 5001, "alice", SLOT(5), COUNT, SLOT(5), COUNT);
	expect_ensure(x, "alice", 0, SUBID_ENSURE_ERROR);
	assert_logged(x, "reason=\"the directory's entry overlaps a line of /etc/subuid\"");
	expect_list(x, "alice", SUBID_KIND_UID, NULL, 0);
	fl_add_ranges("5002", 5002, "bob", SLOT(6), COUNT, SLOT(6), COUNT);
	expect_ensure(x, "bob", 0, SUBID_ENSURE_OK);
	expect_list(x, "bob", SUBID_KIND_GID, &(struct subid_grant){ SLOT(6), COUNT }, 1);
}

/* The directory down: an owner in the replica keeps his ranges (logged); nobody new is granted. */
static void
test_ldap_down_uses_replica(void **state)
{
	struct cfx *x = *state;
	struct subid_grant ur, gr;

	load_ldap_cfg(x, "");
	assert_int_equal(expect_granted(x, "alice"), SLOT(0));
	fl.fail.op = FL_BIND;
	fl.fail.rc = LDAP_SERVER_DOWN;
	test_log_reset(&x->fx->tl);
	assert_int_equal(ensure_t(x, "alice", 0, &ur, &gr), SUBID_ENSURE_OK);
	assert_int_equal(ur.start, SLOT(0));
	assert_int_equal(gr.start, SLOT(0));
	assert_logged(x, "directory unreachable; ranges served from the local replica");
	expect_ensure(x, "bob", 0, SUBID_ENSURE_ERROR);
	expect_list(x, "bob", SUBID_KIND_UID, NULL, 0);
	/* refused credentials are not "down": the replica does not paper over them */
	fl.fail.rc = LDAP_INVALID_CREDENTIALS;
	expect_ensure(x, "alice", 0, SUBID_ENSURE_ERROR);
}

/*
 * ldap_lookup_on_miss: an owner the replica lacks is asked of the directory
 * (checked like any directory answer); a directory that cannot answer is
 * ERROR_CONN, never "none".
 */
static void
test_ldap_lookup_on_miss(void **state)
{
	struct cfx *x = *state;
	bool result = true;

	load_ldap_cfg(x, "ldap_lookup_on_miss = yes\n");
	fl_add_ranges("5002", 5002, "bob", SLOT(4), COUNT, SLOT(4), COUNT);
	fl_add_ranges("5006", 5006, "dave", 3000000, COUNT, 3000000, COUNT);
	expect_list(x, "bob", SUBID_KIND_UID, &(struct subid_grant){ SLOT(4), COUNT }, 1);
	assert_true(has(x, "bob", SLOT(4), COUNT, SUBID_KIND_GID, NULL));
	/* outside the pool: refused, nothing */
	expect_list(x, "dave", SUBID_KIND_UID, NULL, 0);
	assert_logged(x, "lies outside the pool");
	/* not written to the replica by the plugin: without the directory, nothing is left */
	fl.fail.op = FL_BIND;
	fl.fail.rc = LDAP_SERVER_DOWN;
	expect_list_status(x, "bob", SUBID_DOWN);
	assert_int_equal(subid_core_has(&x->paths, &x->fx->tl.log, "bob", SLOT(4), 1, SUBID_KIND_UID, NULL, &result),
			 SUBID_DOWN);
	assert_false(result);
	/* but a file line of the owner is still served */
	test_write_file(x->subuid, "bob:200000:10\n", 0644);
	expect_list(x, "bob", SUBID_KIND_UID, &(struct subid_grant){ 200000, 10 }, 1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, cfx_setup, cfx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_ensure_first_allocation),
		T(test_ensure_idempotent),
		T(test_ensure_skips_root),
		T(test_ensure_skips_policy),
		T(test_ensure_numeric_name_refused),
		T(test_ensure_unknown_or_nss_error),
		T(test_ensure_avoids_files_and_reserved),
		T(test_ensure_own_file_lines),
		T(test_ensure_untrusted_store),
		T(test_list_known_and_unknown),
		T(test_list_by_decimal_uid),
		T(test_list_uid_unknown_to_nss),
		T(test_list_store_and_files),
		T(test_list_nss_error),
		T(test_has_range),
		T(test_has_range_caller),
		T(test_owners),
		T(test_ldap_ensure_replicates),
		T(test_ldap_entry_outside_pool_refused),
		T(test_ldap_entry_over_file_line),
		T(test_ldap_down_uses_replica),
		T(test_ldap_lookup_on_miss),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
