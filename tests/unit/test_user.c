/*
 * Unit tests for common/subid_user.c: resolving owners and group
 * membership through NSS, with NSS faked by the linker (fake_nss.h:
 * -Wl,--wrap=getpwnam_r,--wrap=getpwuid_r,--wrap=getgrnam_r,
 * --wrap=getgrouplist), so every answer, error and ERANGE is the test's.
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

#include <cmocka.h>

#include "subid_config.h"
#include "subid_user.h"
#include "fake_nss.h"
#include "test_common.h"

/*
 * The accounts every test starts with.  "6000" is a user NAME (uid 7000)
 * that spells another account's UID (frank, 6000).
 */
static int
nss_setup(void **state)
{
	static const char *const docker[] = { "alice", NULL };
	static const char *const wheel[] = { "bob", NULL };

	(void)state;
	fake_nss_reset();
	fake_nss_add_user("root", 0, 0);
	fake_nss_add_user("alice", 5001, 100);
	fake_nss_add_user("bob", 5002, 100);
	fake_nss_add_user("frank", 6000, 100);
	fake_nss_add_user("6000", 7000, 100);
	fake_nss_add_group("users", 100, NULL);
	fake_nss_add_group("docker", 200, docker);
	fake_nss_add_group("wheel", 10, wheel);
	return 0;
}

/* A lookup that must find uid under name. */
static void
assert_found(int rc, const struct subid_user *u, uid_t uid, const char *name)
{
	assert_int_equal(rc, 0);
	assert_int_equal(u->uid, uid);
	assert_non_null(u->name);
	assert_string_equal(u->name, name);
}

/* A lookup that must come back empty-handed: no name to free, nothing left over. */
static void
assert_not_found(int rc, const struct subid_user *u, int want)
{
	assert_int_equal(rc, want);
	assert_null(u->name);
}

/* ---- subid_user_lookup / subid_user_lookup_uid ------------------------------ */

/* A name resolves to its account: uid, primary gid, and a name that outlives NSS's buffer. */
static void
test_lookup_name(void **state)
{
	struct subid_user u;

	(void)state;
	assert_found(subid_user_lookup("alice", false, &u), &u, 5001, "alice");
	assert_int_equal(u.gid, 100);
	subid_user_free(&u);
	assert_null(u.name);
	/* by name only: the UID path is never asked */
	assert_int_equal(fake_nss.pwnam_calls, 1);
	assert_int_equal(fake_nss.pwuid_calls, 0);
}

/* An unknown name is "unknown" (1), not an error. */
static void
test_lookup_unknown_name(void **state)
{
	struct subid_user u;

	(void)state;
	assert_not_found(subid_user_lookup("mallory", false, &u), &u, 1);
	assert_not_found(subid_user_lookup("mallory", true, &u), &u, 1);
	/* not digits: by_uid never turns it into a UID lookup */
	assert_int_equal(fake_nss.pwuid_calls, 0);
}

/* With by_uid, a decimal string that is no user's name is a UID (getsubids 5002, podman's retry). */
static void
test_lookup_decimal_uid(void **state)
{
	struct subid_user u;

	(void)state;
	assert_found(subid_user_lookup("5002", true, &u), &u, 5002, "bob");
	subid_user_free(&u);
	/* the name was asked first */
	assert_int_equal(fake_nss.pwnam_calls, 1);
	assert_int_equal(fake_nss.pwuid_calls, 1);
}

/* Without by_uid (pam_subid's user), digits are only ever a name. */
static void
test_lookup_decimal_without_by_uid(void **state)
{
	struct subid_user u;

	(void)state;
	assert_not_found(subid_user_lookup("5002", false, &u), &u, 1);
	assert_int_equal(fake_nss.pwuid_calls, 0);
}

/* A decimal string that IS a user's name resolves to that user, not to the UID it spells. */
static void
test_lookup_decimal_name_first(void **state)
{
	struct subid_user u;

	(void)state;
	assert_found(subid_user_lookup("6000", true, &u), &u, 7000, "6000");
	subid_user_free(&u);
	assert_int_equal(fake_nss.pwuid_calls, 0);
}

/* A decimal UID nobody has is unknown; one at or past 4294967295 is never looked up. */
static void
test_lookup_decimal_unknown_or_out_of_range(void **state)
{
	static const char *const huge[] = { "4294967295", "4294967296", "18446744073709551615",
					    "99999999999999999999999" };
	struct subid_user u;

	(void)state;
	assert_not_found(subid_user_lookup("5999", true, &u), &u, 1);
	assert_int_equal(fake_nss.pwuid_calls, 1);
	for (size_t i = 0; i < ARRAY_SIZE(huge); i++)
		assert_not_found(subid_user_lookup(huge[i], true, &u), &u, 1);
	assert_int_equal(fake_nss.pwuid_calls, 1);
	/* signs, spaces and hex are not UIDs */
	assert_not_found(subid_user_lookup("+5002", true, &u), &u, 1);
	assert_not_found(subid_user_lookup(" 5002", true, &u), &u, 1);
	assert_not_found(subid_user_lookup("0x138a", true, &u), &u, 1);
	/* leading zeros are not the UID's spelling (as for /etc/subuid lines) */
	assert_not_found(subid_user_lookup("05002", true, &u), &u, 1);
	assert_not_found(subid_user_lookup("00", true, &u), &u, 1);
	assert_int_equal(fake_nss.pwuid_calls, 1);
}

/* NULL, "" and names of SUBID_NAME_MAX bytes or more are unknown without asking NSS. */
static void
test_lookup_bad_names(void **state)
{
	char longname[SUBID_NAME_MAX + 1];
	/* what a caller's earlier use left: every "unknown" clears it */
	struct subid_user u = { 77, 77, (char *)"stale" };

	(void)state;
	assert_not_found(subid_user_lookup(NULL, true, &u), &u, 1);
	assert_not_found(subid_user_lookup("", true, &u), &u, 1);
	memset(longname, 'a', SUBID_NAME_MAX);
	longname[SUBID_NAME_MAX] = '\0';
	assert_not_found(subid_user_lookup(longname, true, &u), &u, 1);
	assert_int_equal(fake_nss.pwnam_calls, 0);
	/* one byte shorter is a name NSS is asked about */
	longname[SUBID_NAME_MAX - 1] = '\0';
	assert_not_found(subid_user_lookup(longname, true, &u), &u, 1);
	assert_int_equal(fake_nss.pwnam_calls, 1);
}

/* subid_user_lookup_uid: by UID only. */
static void
test_lookup_uid(void **state)
{
	struct subid_user u;

	(void)state;
	assert_found(subid_user_lookup_uid(6000, &u), &u, 6000, "frank");
	subid_user_free(&u);
	assert_found(subid_user_lookup_uid(0, &u), &u, 0, "root");
	subid_user_free(&u);
	assert_not_found(subid_user_lookup_uid(4242, &u), &u, 1);
	assert_int_equal(fake_nss.pwnam_calls, 0);
	assert_int_equal(fake_nss.pwuid_calls, 3);
}

/*
 * What back-ends answer for "no such user" (0 with no result, ENOENT,
 * ESRCH, EBADF, EPERM; see getpwnam_r(3)) is "unknown"; any other error is
 * a failure (-1), never "unknown": a down directory must not read as a
 * deleted account.
 */
static void
test_lookup_errno_mapping(void **state)
{
	static const struct {
		int err;
		int want;
	} t[] = {
		{ ENOENT, 1 }, { ESRCH, 1 }, { EBADF, 1 }, { EPERM, 1 },
		{ EIO, -1 }, { ENOMEM, -1 }, { EAGAIN, -1 }, { EMFILE, -1 }, { ETIMEDOUT, -1 }, { ECONNREFUSED, -1 },
	};
	struct subid_user u;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int rc;

		fake_nss.pwnam_err = t[i].err;
		fake_nss.pwuid_err = t[i].err;
		rc = subid_user_lookup("alice", false, &u);
		if (rc != t[i].want)
			print_error("getpwnam_r error %d: lookup = %d, want %d\n", t[i].err, rc, t[i].want);
		assert_not_found(rc, &u, t[i].want);
		assert_not_found(subid_user_lookup_uid(5001, &u), &u, t[i].want);
		assert_not_found(subid_user_line_owner("5001", &u), &u, t[i].want);
	}
	/* the same codes for a name that is simply absent */
	fake_nss.pwnam_err = fake_nss.pwuid_err = 0;
	fake_nss.notfound_err = ENOENT;
	assert_not_found(subid_user_lookup("mallory", false, &u), &u, 1);
	fake_nss.notfound_err = EIO;
	assert_not_found(subid_user_lookup("mallory", false, &u), &u, -1);
}

/* A failing name lookup is an error, and does not fall back to reading the string as a UID. */
static void
test_lookup_error_no_uid_fallback(void **state)
{
	struct subid_user u;

	(void)state;
	fake_nss.pwnam_err = EIO;
	assert_not_found(subid_user_lookup("5002", true, &u), &u, -1);
	assert_int_equal(fake_nss.pwuid_calls, 0);
	/* and a failing UID lookup after an unknown name is an error too */
	fake_nss.pwnam_err = 0;
	fake_nss.pwuid_err = EIO;
	assert_not_found(subid_user_lookup("5002", true, &u), &u, -1);
}

/* ERANGE: the buffer doubles from 1 KiB until the answer fits, then the lookup succeeds. */
static void
test_lookup_erange_growth(void **state)
{
	struct subid_user u;

	(void)state;
	fake_nss.pw_min_buf = 5000;
	assert_found(subid_user_lookup("alice", false, &u), &u, 5001, "alice");
	subid_user_free(&u);
	assert_int_equal(fake_nss.pwnam_calls, 4);
	assert_int_equal(fake_nss.pw_buflen[0], 1024);
	assert_int_equal(fake_nss.pw_buflen[1], 2048);
	assert_int_equal(fake_nss.pw_buflen[2], 4096);
	assert_int_equal(fake_nss.pw_buflen[3], 8192);
	/* the same loop by UID */
	memset(fake_nss.pw_buflen, 0, sizeof(fake_nss.pw_buflen));
	fake_nss.pwnam_calls = 0;
	fake_nss.pw_min_buf = 1025;
	assert_found(subid_user_lookup_uid(5002, &u), &u, 5002, "bob");
	subid_user_free(&u);
	assert_int_equal(fake_nss.pwuid_calls, 2);
	assert_int_equal(fake_nss.pw_buflen[1], 2048);
}

/* ERANGE forever: the growth stops at 1 MiB and the lookup fails (-1), it is not "unknown". */
static void
test_lookup_erange_bounded(void **state)
{
	struct subid_user u;

	(void)state;
	fake_nss.pw_min_buf = SIZE_MAX;
	assert_not_found(subid_user_lookup("alice", false, &u), &u, -1);
	/* 1 KiB, 2 KiB, ... 1 MiB: eleven tries */
	assert_int_equal(fake_nss.pwnam_calls, 11);
	assert_int_equal(fake_nss.pw_buflen[10], 1024 * 1024);
	assert_not_found(subid_user_line_owner("5001", &u), &u, -1);
}

/* ---- subid_user_line_owner ------------------------------------------------------------ */

/* A line's owner that is not all digits is a user name. */
static void
test_line_owner_name(void **state)
{
	struct subid_user u;

	(void)state;
	assert_found(subid_user_line_owner("alice", &u), &u, 5001, "alice");
	subid_user_free(&u);
	assert_not_found(subid_user_line_owner("mallory", &u), &u, 1);
	assert_int_equal(fake_nss.pwuid_calls, 0);
}

/*
 * A line's owner of digits is a UID, resolved by getpwuid only: the line
 * "6000:..." is frank's (uid 6000), never the account NAMED "6000".
 */
static void
test_line_owner_digits_uid_only(void **state)
{
	struct subid_user u;

	(void)state;
	assert_found(subid_user_line_owner("6000", &u), &u, 6000, "frank");
	subid_user_free(&u);
	assert_found(subid_user_line_owner("0", &u), &u, 0, "root");
	subid_user_free(&u);
	assert_not_found(subid_user_line_owner("7001", &u), &u, 1);
	assert_int_equal(fake_nss.pwnam_calls, 0);
	assert_int_equal(fake_nss.pwuid_calls, 3);
}

/* Only the UID's own spelling names it (shadow compares strings); out-of-range UIDs name nobody. */
static void
test_line_owner_noncanonical(void **state)
{
	static const char *const nobody[] = { "06000", "00", "000", "4294967295", "4294967296",
					      "99999999999999999999999" };
	struct subid_user u;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(nobody); i++)
		assert_not_found(subid_user_line_owner(nobody[i], &u), &u, 1);
	assert_int_equal(fake_nss.pwnam_calls + fake_nss.pwuid_calls, 0);
	/* the empty owner is not digits: an (unknown) name */
	assert_not_found(subid_user_line_owner("", &u), &u, 1);
}

/* ---- subid_name_is_numeric ---------------------------------------------------------------- */

static void
test_name_is_numeric(void **state)
{
	static const struct {
		const char *s;
		bool want;
	} t[] = {
		{ "0", true }, { "1001", true }, { "007", true }, { "4294967296", true },
		{ NULL, false }, { "", false }, { "alice", false }, { "1001a", false }, { "a1001", false },
		{ "-1", false }, { "+1", false }, { " 1", false }, { "1 ", false }, { "1.0", false },
		{ "\xd9\xa1", false },	/* ARABIC-INDIC DIGIT ONE is not an ASCII digit */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (subid_name_is_numeric(t[i].s) != t[i].want)
			print_error("subid_name_is_numeric(\"%s\") != %d\n", t[i].s ? t[i].s : "(null)", t[i].want);
		assert_int_equal(subid_name_is_numeric(t[i].s), t[i].want);
	}
}

/* ---- subid_user_in_groups ----------------------------------------------------------------- */

/* A strlist over string literals (never freed). */
#define LIST(...) (&(struct subid_strlist){ (char *[]){ __VA_ARGS__ }, \
					    sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *) })

static struct subid_user
user(const char *name)
{
	struct subid_user u;

	assert_int_equal(subid_user_lookup(name, false, &u), 0);
	return u;
}

/* The primary group counts as membership. */
static void
test_groups_primary(void **state)
{
	struct subid_user u = user("alice");

	(void)state;
	assert_int_equal(subid_user_in_groups(&u, LIST("users")), 1);
	subid_user_free(&u);
}

/* Supplementary groups count; a group the user is not in does not. */
static void
test_groups_supplementary(void **state)
{
	struct subid_user a = user("alice"), b = user("bob");

	(void)state;
	assert_int_equal(subid_user_in_groups(&a, LIST("docker")), 1);
	assert_int_equal(subid_user_in_groups(&b, LIST("docker")), 0);
	assert_int_equal(subid_user_in_groups(&b, LIST("wheel")), 1);
	assert_int_equal(subid_user_in_groups(&a, LIST("wheel")), 0);
	/* any group of the list */
	assert_int_equal(subid_user_in_groups(&b, LIST("docker", "wheel")), 1);
	subid_user_free(&a);
	subid_user_free(&b);
}

/* A group NSS does not know is skipped, not an error: the others are still checked. */
static void
test_groups_unknown_group(void **state)
{
	struct subid_user a = user("alice");

	(void)state;
	assert_int_equal(subid_user_in_groups(&a, LIST("nosuchgroup")), 0);
	assert_int_equal(subid_user_in_groups(&a, LIST("nosuchgroup", "docker")), 1);
	fake_nss.notfound_err = ENOENT;
	assert_int_equal(subid_user_in_groups(&a, LIST("nosuchgroup", "docker")), 1);
	subid_user_free(&a);
}

/* An empty list is "no" without asking NSS anything. */
static void
test_groups_empty_list(void **state)
{
	struct subid_user a = user("alice");
	struct subid_strlist none = { NULL, 0 };

	(void)state;
	assert_int_equal(subid_user_in_groups(&a, &none), 0);
	assert_int_equal(fake_nss.grouplist_calls + fake_nss.grnam_calls, 0);
	subid_user_free(&a);
}

/* A group lookup that fails is an error (-1), not "not a member" (skip_groups must not be bypassed). */
static void
test_groups_nss_error(void **state)
{
	struct subid_user a = user("alice");

	(void)state;
	fake_nss.grnam_err = EIO;
	assert_int_equal(subid_user_in_groups(&a, LIST("docker")), -1);
	fake_nss.grnam_err = 0;
	fake_nss.notfound_err = ETIMEDOUT;
	assert_int_equal(subid_user_in_groups(&a, LIST("nosuchgroup", "docker")), -1);
	subid_user_free(&a);
}

/* getgrnam_r's ERANGE grows the buffer too, and stops at 1 MiB with an error. */
static void
test_groups_erange(void **state)
{
	struct subid_user a = user("alice");

	(void)state;
	fake_nss.gr_min_buf = 3000;
	assert_int_equal(subid_user_in_groups(&a, LIST("docker")), 1);
	assert_int_equal(fake_nss.grnam_calls, 3);	/* 1 KiB, 2 KiB, 4 KiB */
	fake_nss.grnam_calls = 0;
	fake_nss.gr_min_buf = SIZE_MAX;
	assert_int_equal(subid_user_in_groups(&a, LIST("docker")), -1);
	assert_int_equal(fake_nss.grnam_calls, 11);
	subid_user_free(&a);
}

/* More groups than the first guess (64): getgrouplist says how many, and the retry sees them all. */
static void
test_groups_many(void **state)
{
	static const char *const last[] = { "alice", NULL };
	struct subid_user a = user("alice");

	(void)state;
	fake_nss.extra_groups = 100;
	fake_nss.extra_gid_base = 20000;
	/* a group listed after the hundred extra ones */
	fake_nss_add_group("late", 30000, last);
	assert_int_equal(subid_user_in_groups(&a, LIST("late")), 1);
	assert_int_equal(fake_nss.grouplist_calls, 2);
	subid_user_free(&a);
}

/* A getgrouplist that never fits ends after a bounded number of tries, as an error. */
static void
test_groups_grouplist_never_fits(void **state)
{
	struct subid_user a = user("alice");

	(void)state;
	fake_nss.grouplist_never_fits = true;
	assert_int_equal(subid_user_in_groups(&a, LIST("users")), -1);
	assert_int_equal(fake_nss.grouplist_calls, 8);
	subid_user_free(&a);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup(f, nss_setup)
	const struct CMUnitTest tests[] = {
		T(test_lookup_name),
		T(test_lookup_unknown_name),
		T(test_lookup_decimal_uid),
		T(test_lookup_decimal_without_by_uid),
		T(test_lookup_decimal_name_first),
		T(test_lookup_decimal_unknown_or_out_of_range),
		T(test_lookup_bad_names),
		T(test_lookup_uid),
		T(test_lookup_errno_mapping),
		T(test_lookup_error_no_uid_fallback),
		T(test_lookup_erange_growth),
		T(test_lookup_erange_bounded),
		T(test_line_owner_name),
		T(test_line_owner_digits_uid_only),
		T(test_line_owner_noncanonical),
		T(test_name_is_numeric),
		T(test_groups_primary),
		T(test_groups_supplementary),
		T(test_groups_unknown_group),
		T(test_groups_empty_list),
		T(test_groups_nss_error),
		T(test_groups_erange),
		T(test_groups_many),
		T(test_groups_grouplist_never_fits),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
