/* Unit tests for common/subid_config.c: login.defs, subid.conf parse/validate/load. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "subid_config.h"
#include "test_common.h"


static const struct subid_logindefs ld_default = { 1000, 60000, 1000, 60000 };


/* ---- subid_parse_u64 ------------------------------------------------------- */

static void
test_parse_u64(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		uint64_t v;
	} t[] = {
		{ "0", true, 0 },
		{ "1", true, 1 },
		{ "65536", true, 65536 },
		{ "4294967295", true, UINT64_C(4294967295) },
		{ "4294967296", true, UINT64_C(4294967296) },
		{ "18446744073709551615", true, UINT64_MAX },
		{ "18446744073709551616", false, 0 },	/* 2^64 */
		{ "99999999999999999999", false, 0 },
		{ "184467440737095516150", false, 0 },
		{ "", false, 0 },
		{ "-1", false, 0 },
		{ "-0", false, 0 },
		{ "+1", false, 0 },
		{ " 1", false, 0 },
		{ "1 ", false, 0 },
		{ "12abc", false, 0 },
		{ "abc", false, 0 },
		{ "0x10", false, 0 },
		{ "1e3", false, 0 },
		{ "1.5", false, 0 },
		{ "1\n", false, 0 },
		{ "\t7", false, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		uint64_t v = 777;
		bool ok = subid_parse_u64(t[i].s, &v);

		if (ok != t[i].ok || (ok && v != t[i].v))
			print_error("subid_parse_u64(\"%s\") = %d, %ju\n", t[i].s, ok, (uintmax_t)v);
		assert_int_equal(ok, t[i].ok);
		if (t[i].ok)
			assert_int_equal(v, t[i].v);
	}
}

/* ---- subid_logindefs_load ---------------------------------------------------- */

static void
test_logindefs_values(void **state)
{
	struct fx *fx = *state;
	char *path = test_path(fx->dir, "login.defs");
	struct subid_logindefs ld;

	test_write_file(path,
			"# login.defs for a test\n"
			"#UID_MIN 1\n"
			"MAIL_DIR        /var/mail\n"
			"\n"
			"UID_MIN                  5000\n"
			"UID_MAX\t\t\t70000\n"
			"SYS_UID_MIN 100\n"
			"GID_MIN 3000   \n"
			"GID_MAX                 80000\n"
			"SYS_GID_MAX 999\n",
			0644);
	memset(&ld, 0xa5, sizeof(ld));
	assert_int_equal(subid_logindefs_load(path, &ld), 0);
	assert_int_equal(ld.uid_min, 5000);
	assert_int_equal(ld.uid_max, 70000);
	assert_int_equal(ld.gid_min, 3000);
	assert_int_equal(ld.gid_max, 80000);
	free(path);
}

static void
test_logindefs_partial(void **state)
{
	struct fx *fx = *state;
	char *path = test_path(fx->dir, "login.defs");
	struct subid_logindefs ld;

	/* only some keys: the others keep their defaults */
	test_write_file(path, "UID_MIN 2000\nGID_MAX 90000\n", 0644);
	memset(&ld, 0xa5, sizeof(ld));
	assert_int_equal(subid_logindefs_load(path, &ld), 0);
	assert_int_equal(ld.uid_min, 2000);
	assert_int_equal(ld.uid_max, 60000);
	assert_int_equal(ld.gid_min, 1000);
	assert_int_equal(ld.gid_max, 90000);
	free(path);
}

static void
test_logindefs_missing(void **state)
{
	struct fx *fx = *state;
	char *path = test_path(fx->dir, "no-such-login.defs");
	struct subid_logindefs ld;

	memset(&ld, 0xa5, sizeof(ld));
	assert_int_equal(subid_logindefs_load(path, &ld), 0);
	assert_int_equal(ld.uid_min, 1000);
	assert_int_equal(ld.uid_max, 60000);
	assert_int_equal(ld.gid_min, 1000);
	assert_int_equal(ld.gid_max, 60000);
	free(path);
}

/* ---- subid_config_defaults --------------------------------------------------- */

static void
test_config_defaults(void **state)
{
	static const struct subid_logindefs ld = { 5000, 70000, 3000, 80000 };
	struct subid_config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(subid_config_defaults(&cfg, &ld), 0);
	assert_int_equal(cfg.store, SUBID_BACKEND_LOCAL);
	assert_non_null(cfg.db_path);
	assert_string_equal(cfg.db_path, SUBID_DB_PATH);
	assert_int_equal(cfg.range_min, UINT64_C(2147483648));
	assert_int_equal(cfg.range_max, UINT64_C(4294836224));
	assert_int_equal(cfg.range_count, 65536);
	assert_int_equal(cfg.uid_min, 5000);
	assert_true(cfg.files);
	assert_int_equal(cfg.skip_users.n, 0);
	assert_int_equal(cfg.skip_groups.n, 0);
	/* validate() sees login.defs only through cfg */
	assert_int_equal(cfg.logindefs.uid_min, 5000);
	assert_int_equal(cfg.logindefs.uid_max, 70000);
	assert_int_equal(cfg.logindefs.gid_min, 3000);
	assert_int_equal(cfg.logindefs.gid_max, 80000);
	subid_config_free(&cfg);
}

/* ---- subid_config_parse --------------------------------------------------------- */

static int
parse_str(struct subid_config *cfg, const char *text, struct test_log *tl)
{
	FILE *fp = test_str_fp(text);
	int rc = subid_config_parse(cfg, fp, "t.conf", &tl->log);

	fclose(fp);
	return rc;
}

static void
test_parse_good(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;

	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg,
				   "# subid.conf\n"
				   "store = local\n"
				   "\n"
				   "   \n"
				   "db_path = /x/y.db\n"
				   "range_min = 3000000000\n"
				   "range_max=4000000000\n"
				   "range_count\t=\t131072   \n"
				   "uid_min =    5000\n"
				   "# files = yes\n"
				   "files = no\n"
				   "skip_users = a, b,c\n"
				   "skip_groups = g\n",
				   &fx->tl),
			 0);
	assert_int_equal(fx->tl.n, 0);
	assert_int_equal(cfg.store, SUBID_BACKEND_LOCAL);
	assert_string_equal(cfg.db_path, "/x/y.db");
	assert_int_equal(cfg.range_min, UINT64_C(3000000000));
	assert_int_equal(cfg.range_max, UINT64_C(4000000000));
	assert_int_equal(cfg.range_count, 131072);
	assert_int_equal(cfg.uid_min, 5000);
	assert_false(cfg.files);
	assert_int_equal(cfg.skip_users.n, 3);
	assert_string_equal(cfg.skip_users.v[0], "a");
	assert_string_equal(cfg.skip_users.v[1], "b");
	assert_string_equal(cfg.skip_users.v[2], "c");
	assert_int_equal(cfg.skip_groups.n, 1);
	assert_string_equal(cfg.skip_groups.v[0], "g");
	subid_config_free(&cfg);
}

/* The IDs no range may hold: real IDs (0..max(UID_MAX, GID_MAX, 65535)) first, then each reserved interval. */
static void
test_forbidden(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;
	struct subid_interval iv;
	size_t pos = 0;
	bool is_real;

	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg, "reserved = 100000-100999, 300000-300009\n", &fx->tl), 0);
	assert_true(subid_config_forbidden_next(&cfg, &pos, &iv, &is_real));
	assert_true(is_real);
	assert_int_equal(iv.start, 0);
	assert_int_equal(iv.end, 65536);
	assert_true(subid_config_forbidden_next(&cfg, &pos, &iv, &is_real));
	assert_false(is_real);
	assert_int_equal(iv.start, 100000);
	assert_int_equal(iv.end, 101000);
	assert_true(subid_config_forbidden_next(&cfg, &pos, &iv, &is_real));
	assert_int_equal(iv.start, 300000);
	assert_false(subid_config_forbidden_next(&cfg, &pos, &iv, &is_real));

	assert_int_equal(subid_config_forbidden(&cfg, 65536, 34464), 0);		/* 65536..99999 */
	assert_int_equal(subid_config_forbidden(&cfg, 65535, 1), SUBID_FORBID_REAL);
	assert_int_equal(subid_config_forbidden(&cfg, 99999, 2), SUBID_FORBID_RESERVED);
	assert_int_equal(subid_config_forbidden(&cfg, 101000, 199000), 0);	/* ends where 300000 starts */
	assert_int_equal(subid_config_forbidden(&cfg, 60000, 250000), SUBID_FORBID_REAL | SUBID_FORBID_RESERVED);
	/* not a range: nothing may hold it */
	assert_int_equal(subid_config_forbidden(&cfg, 4294967295UL, 1), SUBID_FORBID_REAL);
	assert_int_equal(subid_config_forbidden(&cfg, 200000, 0), SUBID_FORBID_REAL);
	subid_config_free(&cfg);
}

static void
test_parse_files_yes(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;

	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg, "files = no\n", &fx->tl), 0);
	assert_false(cfg.files);
	assert_int_equal(parse_str(&cfg, "files = yes\n", &fx->tl), 0);
	assert_true(cfg.files);
	assert_int_equal(fx->tl.n, 0);
	subid_config_free(&cfg);
}

/* Comment- and blank-only input (and no trailing newline) changes nothing. */
static void
test_parse_comments_only(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;

	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg, "# range_min = 5\n\n#\n# files = no", &fx->tl), 0);
	assert_int_equal(fx->tl.n, 0);
	assert_int_equal(cfg.range_min, SUBID_DEFAULT_RANGE_MIN);
	assert_int_equal(cfg.range_max, SUBID_DEFAULT_RANGE_MAX);
	assert_int_equal(cfg.range_count, SUBID_DEFAULT_RANGE_COUNT);
	assert_true(cfg.files);
	assert_string_equal(cfg.db_path, SUBID_DB_PATH);
	subid_config_free(&cfg);
}

/* A last line without '\n' is still parsed. */
static void
test_parse_no_final_newline(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;

	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg, "uid_min = 1500\nrange_count = 4096", &fx->tl), 0);
	assert_int_equal(cfg.uid_min, 1500);
	assert_int_equal(cfg.range_count, 4096);
	subid_config_free(&cfg);
}

/*
 * Each bad line sits on line 2 between two good lines: the result is 1, the
 * log names "t.conf:2:", and the good lines around it still take effect.
 */
static void
test_parse_bad_lines(void **state)
{
	static const char *const bad[] = {
		"bogus = 1",				/* unknown key */
		"range_count 1024",			/* missing '=' */
		"range_count",				/* key alone */
		"= 5",					/* no key */
		"range_count = abc",			/* not a number */
		"range_count = -5",			/* negative */
		"range_count = 99999999999999999999",	/* overflows uint64 */
		"range_count = 12abc",			/* junk after digits */
		"range_count = 0x10",			/* hex */
		"range_count = 1 2",			/* two values */
		"range_count = +5",			/* sign */
		"range_count =",			/* empty value */
		"range_count =   ",			/* empty value, trailing blanks */
		"range_min = 1.5",
		"range_max = -1",
		"uid_min = x",
		"db_path = relative/x.db",		/* must be absolute */
		"db_path =",
		"files = maybe",
		"files =",
		"store = mongodb",			/* unknown store */
		"store =",
		"skip_users = bad:name",		/* ':' is never in a user name */
		"reserved = 5",				/* not START-END */
		"reserved = 10-5",			/* END below START */
		"reserved = 1-4294967295",		/* (uid_t)-1 is no ID */
		"reserved = a-b",
		"reserved = -5-10",
	};
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct subid_config cfg;
		char *text;
		int rc;

		test_log_reset(&fx->tl);
		assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
		assert_true(asprintf(&text, "uid_min = 2000\n%s\nrange_count = 1024\n", bad[i]) > 0);
		rc = parse_str(&cfg, text, &fx->tl);
		if (rc != 1 || test_log_count_prefix(&fx->tl, "t.conf:2:") == 0) {
			print_error("bad line \"%s\": rc %d\n", bad[i], rc);
			test_log_dump(&fx->tl);
		}
		assert_int_equal(rc, 1);
		assert_log_prefix(&fx->tl, "t.conf:2:");
		/* good lines 1 and 3 are not blamed, and were applied */
		assert_int_equal(test_log_count_prefix(&fx->tl, "t.conf:1:"), 0);
		assert_int_equal(test_log_count_prefix(&fx->tl, "t.conf:3:"), 0);
		assert_int_equal(cfg.uid_min, 2000);
		assert_int_equal(cfg.range_count, 1024);
		/* the bad value did not leak into the other settings */
		assert_int_equal(cfg.range_min, SUBID_DEFAULT_RANGE_MIN);
		assert_int_equal(cfg.range_max, SUBID_DEFAULT_RANGE_MAX);
		assert_string_equal(cfg.db_path, SUBID_DB_PATH);
		assert_true(cfg.files);
		assert_int_equal(cfg.store, SUBID_BACKEND_LOCAL);
		free(text);
		subid_config_free(&cfg);
	}
}

/* Several bad lines: each one counted and logged with its own line number. */
static void
test_parse_bad_count(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;

	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg,
				   "# comment\n"		/* 1 */
				   "nope = 1\n"			/* 2 bad */
				   "range_count = 2048\n"	/* 3 */
				   "\n"				/* 4 */
				   "range_min = -5\n"		/* 5 bad */
				   "files = perhaps\n",		/* 6 bad */
				   &fx->tl),
			 3);
	assert_log_prefix(&fx->tl, "t.conf:2:");
	assert_log_prefix(&fx->tl, "t.conf:5:");
	assert_log_prefix(&fx->tl, "t.conf:6:");
	assert_int_equal(test_log_count_prefix(&fx->tl, "t.conf:3:"), 0);
	assert_int_equal(cfg.range_count, 2048);
	assert_int_equal(cfg.range_min, SUBID_DEFAULT_RANGE_MIN);
	assert_true(cfg.files);
	subid_config_free(&cfg);
}

/* "reserved = A-B, C-D": inclusive bounds become half-open intervals. */
static void
test_parse_reserved(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;

	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(cfg.n_reserved, 0);
	assert_int_equal(parse_str(&cfg, "reserved = 100000-165535, 3000000000-3000065535\n", &fx->tl), 0);
	assert_int_equal(cfg.n_reserved, 2);
	assert_int_equal(cfg.reserved[0].start, 100000);
	assert_int_equal(cfg.reserved[0].end, 165536);
	assert_int_equal(cfg.reserved[1].start, UINT64_C(3000000000));
	assert_int_equal(cfg.reserved[1].end, UINT64_C(3000065536));
	/* a later line replaces the list; a single ID is START == END */
	assert_int_equal(parse_str(&cfg, "reserved = 4294967294-4294967294\n", &fx->tl), 0);
	assert_int_equal(cfg.n_reserved, 1);
	assert_int_equal(cfg.reserved[0].start, UINT64_C(4294967294));
	assert_int_equal(cfg.reserved[0].end, UINT64_C(4294967295));
	assert_int_equal(fx->tl.n, 0);
	subid_config_free(&cfg);
}

/* An over-long line is one bad line; numbering of the following lines is intact. */
static void
test_parse_long_line(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;
	size_t len = 3 * SUBID_CONF_MAX_LINE;
	char *text = malloc(len + 64);

	assert_non_null(text);
	strcpy(text, "skip_users = ");
	memset(text + strlen(text), 'a', len);
	strcpy(text + 13 + len, "\nuid_min = 1234\nnope = 1\n");
	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg, text, &fx->tl), 2);
	assert_log_prefix(&fx->tl, "t.conf:1:");
	assert_log_prefix(&fx->tl, "t.conf:3:");
	assert_int_equal(test_log_count_prefix(&fx->tl, "t.conf:2:"), 0);
	assert_int_equal(cfg.uid_min, 1234);
	assert_int_equal(cfg.skip_users.n, 0);
	subid_config_free(&cfg);
	free(text);
}

/* A NUL byte cannot hide the rest of a line. */
static void
test_parse_nul_byte(void **state)
{
	static const char text[] = "range_count = 10\0 junk\nuid_min = 1234\n";
	struct fx *fx = *state;
	struct subid_config cfg;
	FILE *fp = fmemopen((void *)text, sizeof(text) - 1, "r");

	assert_non_null(fp);
	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(subid_config_parse(&cfg, fp, "t.conf", &fx->tl.log), 1);
	fclose(fp);
	assert_log_prefix(&fx->tl, "t.conf:1:");
	assert_int_equal(cfg.range_count, SUBID_DEFAULT_RANGE_COUNT);
	assert_int_equal(cfg.uid_min, 1234);
	subid_config_free(&cfg);
}

/* ---- subid_config_real_ids ------------------------------------------------------ */

static void
test_real_ids(void **state)
{
	static const struct {
		struct subid_logindefs ld;
		uint64_t end;
	} t[] = {
		{ { 1000, 60000, 1000, 60000 }, 65536 },	/* nobody/nogroup, (uint16_t)-1 */
		{ { 1000, 99999, 1000, 60000 }, 100000 },
		{ { 1000, 60000, 1000, 200000 }, 200001 },
		{ { 5000, 2000200000, 5000, 2000200000 }, UINT64_C(2000200001) },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		struct subid_config cfg;
		struct subid_interval iv = { 7, 7 };

		assert_int_equal(subid_config_defaults(&cfg, &t[i].ld), 0);
		subid_config_real_ids(&cfg, &iv);
		assert_int_equal(iv.start, 0);
		assert_int_equal(iv.end, t[i].end);
		subid_config_free(&cfg);
	}
}

/* ---- subid_config_validate -------------------------------------------------------- */

struct validate_case {
	const char *name;
	uint64_t range_min, range_max, range_count;
	struct subid_logindefs ld;
	int rc;
};

static void
test_validate(void **state)
{
	static const struct validate_case t[] = {
		{ "default pool", 2147483648u, 4294836224u, 65536, { 1000, 60000, 1000, 60000 }, 0 },
		{ "count 0", 2147483648u, 4294836224u, 0, { 1000, 60000, 1000, 60000 }, -1 },
		{ "count bigger than pool", 2147483648u, 2147483648u + 65535, 65536,
		  { 1000, 60000, 1000, 60000 }, -1 },
		{ "count equal to pool", 2147483648u, 2147483648u + 65536, 65536,
		  { 1000, 60000, 1000, 60000 }, 0 },
		{ "min == max", 3000000000u, 3000000000u, 65536, { 1000, 60000, 1000, 60000 }, -1 },
		{ "min > max", 3000000000u, 2500000000u, 65536, { 1000, 60000, 1000, 60000 }, -1 },
		{ "max past the ID space", 2147483648u, UINT64_C(4294967296), 65536,
		  { 1000, 60000, 1000, 60000 }, -1 },
		{ "max far past the ID space", 2147483648u, UINT64_MAX, 65536, { 1000, 60000, 1000, 60000 }, -1 },
		{ "max at the ID limit", 2147483648u, UINT64_C(4294967295), 65536,
		  { 1000, 60000, 1000, 60000 }, 0 },
		{ "pool starts at UID_MIN", 1000, 4294836224u, 65536, { 1000, 60000, 1000, 60000 }, -1 },
		{ "pool covers all real IDs", 0, 4294967295u, 65536, { 1000, 60000, 1000, 60000 }, -1 },
		{ "pool starts at UID_MAX (inclusive)", 99999, 99999 + 2 * 65536, 65536,
		  { 1000, 99999, 1000, 60000 }, -1 },
		{ "pool just above UID_MAX", 100000, 100000 + 2 * 65536, 65536, { 1000, 99999, 1000, 60000 }, 0 },
		{ "pool starts at GID_MAX (inclusive)", 99999, 99999 + 2 * 65536, 65536,
		  { 1000, 60000, 1000, 99999 }, -1 },
		{ "pool just above GID_MAX", 100000, 100000 + 2 * 65536, 65536, { 1000, 60000, 1000, 99999 }, 0 },
		{ "pool holds nobody (65534) above UID_MAX", 65000, 65000 + 65536, 65536,
		  { 1000, 60000, 1000, 60000 }, -1 },
		{ "pool ends inside UID range", 500, 1500, 100, { 1000, 60000, 1000, 60000 }, -1 },
		{ "shadow's useradd pool", 100000, 600100000, 65536, { 1000, 60000, 1000, 60000 }, 0 },
		{ "pool overlaps GID range only", 75000, 75000 + 65536, 65536, { 1000, 60000, 70000, 80000 }, -1 },
		{ "same pool, GIDs elsewhere", 75000, 75000 + 65536, 65536, { 1000, 60000, 1000, 60000 }, 0 },
		{ "pool overlaps UID range only", 75000, 75000 + 65536, 65536, { 70000, 80000, 1000, 60000 }, -1 },
		{ "pool overlaps directory UIDs in login.defs", 2147483648u, 4294836224u, 65536,
		  { 1000, 3000000000u, 1000, 60000 }, -1 },
	};
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		struct subid_config cfg;
		int rc;

		test_log_reset(&fx->tl);
		assert_int_equal(subid_config_defaults(&cfg, &t[i].ld), 0);
		cfg.range_min = t[i].range_min;
		cfg.range_max = t[i].range_max;
		cfg.range_count = t[i].range_count;
		rc = subid_config_validate(&cfg, "v.conf", &fx->tl.log);
		if (rc != t[i].rc) {
			print_error("case \"%s\": rc %d, want %d\n", t[i].name, rc, t[i].rc);
			test_log_dump(&fx->tl);
		}
		assert_int_equal(rc, t[i].rc);
		if (rc != 0) {
			/* refusals are logged and say which file */
			if (test_log_count_substr(&fx->tl, "v.conf") == 0) {
				print_error("case \"%s\": refusal not logged with the file name\n", t[i].name);
				test_log_dump(&fx->tl);
			}
			assert_true(test_log_count_substr(&fx->tl, "v.conf") > 0);
		}
		subid_config_free(&cfg);
	}
}

/* ---- subid_open_trusted / subid_config_load ---------------------------------------- */

static const char good_conf[] =
	"# test config\n"
	"db_path = /var/tmp/test-subid.db\n"
	"range_count = 131072\n"
	"files = no\n"
	"skip_users = svc\n";

static void
test_open_trusted(void **state)
{
	struct fx *fx = *state;
	char *good = test_path(fx->dir, "good.conf");
	char *ww = test_path(fx->dir, "ww.conf");
	char *gw = test_path(fx->dir, "gw.conf");
	char *link = test_path(fx->dir, "link.conf");
	char *missing = test_path(fx->dir, "missing.conf");
	int fd;

	test_write_file(good, good_conf, 0644);
	test_write_file(ww, good_conf, 0646);
	test_write_file(gw, good_conf, 0664);
	assert_int_equal(symlink(good, link), 0);

	fd = subid_open_trusted(good, getuid());
	assert_true(fd >= 0);
	/* never leaked into children of the host process */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	errno = 0;
	assert_int_equal(subid_open_trusted(ww, getuid()), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(subid_open_trusted(gw, getuid()), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(subid_open_trusted(good, getuid() + 1), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(subid_open_trusted(missing, getuid()), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(subid_open_trusted(link, getuid()), -1);
	assert_int_equal(subid_open_trusted(fx->dir, getuid()), -1);	/* not a regular file */
	assert_int_equal(subid_open_trusted("good.conf", getuid()), -1); /* relative */

	free(good);
	free(ww);
	free(gw);
	free(link);
	free(missing);
}

static void
test_load_good(void **state)
{
	struct fx *fx = *state;
	char *conf = test_path(fx->dir, "subid.conf");
	char *ld = test_path(fx->dir, "login.defs");
	struct subid_config cfg;

	test_write_file(conf, good_conf, 0644);
	test_write_file(ld, "UID_MIN 5000\nUID_MAX 70000\nGID_MIN 4000\nGID_MAX 71000\n", 0644);
	assert_int_equal(subid_config_load(&cfg, conf, ld, getuid(), &fx->tl.log), 0);
	assert_string_equal(cfg.db_path, "/var/tmp/test-subid.db");
	assert_int_equal(cfg.range_min, SUBID_DEFAULT_RANGE_MIN);
	assert_int_equal(cfg.range_max, SUBID_DEFAULT_RANGE_MAX);
	assert_int_equal(cfg.range_count, 131072);
	assert_false(cfg.files);
	assert_int_equal(cfg.skip_users.n, 1);
	assert_string_equal(cfg.skip_users.v[0], "svc");
	/* login.defs was read */
	assert_int_equal(cfg.uid_min, 5000);
	assert_int_equal(cfg.logindefs.uid_min, 5000);
	assert_int_equal(cfg.logindefs.uid_max, 70000);
	assert_int_equal(cfg.logindefs.gid_min, 4000);
	assert_int_equal(cfg.logindefs.gid_max, 71000);
	subid_config_free(&cfg);

	/* 0600 is fine too, and a missing login.defs means 1000..60000 */
	assert_int_equal(chmod(conf, 0600), 0);
	free(ld);
	ld = test_path(fx->dir, "missing-login.defs");
	assert_int_equal(subid_config_load(&cfg, conf, ld, getuid(), &fx->tl.log), 0);
	assert_int_equal(cfg.uid_min, 1000);
	assert_int_equal(cfg.logindefs.uid_max, 60000);
	assert_int_equal(cfg.logindefs.gid_max, 60000);
	subid_config_free(&cfg);

	/* an empty file is all defaults */
	test_write_file(conf, "", 0644);
	assert_int_equal(subid_config_load(&cfg, conf, ld, getuid(), &fx->tl.log), 0);
	assert_string_equal(cfg.db_path, SUBID_DB_PATH);
	assert_int_equal(cfg.range_count, SUBID_DEFAULT_RANGE_COUNT);
	assert_true(cfg.files);
	subid_config_free(&cfg);

	free(conf);
	free(ld);
}

/* Each refusal returns -1 and logs at least one line. */
static void
expect_load_refused(struct fx *fx, const char *what, const char *path, uid_t owner)
{
	struct subid_config cfg;
	char *ld = test_path(fx->dir, "missing-login.defs");
	int rc;

	test_log_reset(&fx->tl);
	rc = subid_config_load(&cfg, path, ld, owner, &fx->tl.log);
	if (rc != -1 || fx->tl.n == 0)
		print_error("%s: load(\"%s\") = %d, %zu log lines\n", what, path, rc, fx->tl.n);
	assert_int_equal(rc, -1);
	assert_true(fx->tl.n > 0);
	/* cfg was freed by load: nothing to do here */
	free(ld);
}

static void
test_load_refused(void **state)
{
	struct fx *fx = *state;
	char *good = test_path(fx->dir, "good.conf");
	char *ww = test_path(fx->dir, "ww.conf");
	char *gw = test_path(fx->dir, "gw.conf");
	char *ow = test_path(fx->dir, "ow.conf");
	char *link = test_path(fx->dir, "link.conf");
	char *missing = test_path(fx->dir, "missing.conf");
	char cwd[PATH_MAX];

	test_write_file(good, good_conf, 0644);
	test_write_file(ww, good_conf, 0666);
	test_write_file(gw, good_conf, 0620);
	test_write_file(ow, good_conf, 0602);
	assert_int_equal(symlink(good, link), 0);

	expect_load_refused(fx, "mode 0666", ww, getuid());
	expect_load_refused(fx, "group-writable", gw, getuid());
	expect_load_refused(fx, "other-writable", ow, getuid());
	expect_load_refused(fx, "symlink to a good file", link, getuid());
	expect_load_refused(fx, "missing file", missing, getuid());
	expect_load_refused(fx, "wrong owner", good, getuid() + 1);
	expect_load_refused(fx, "a directory", fx->dir, getuid());

	/* relative path, even though it names the good file from here */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	expect_load_refused(fx, "relative path", "good.conf", getuid());
	expect_load_refused(fx, "relative path ./", "./good.conf", getuid());
	assert_int_equal(chdir(cwd), 0);

	/* the good file itself loads (so the refusals above were about the file) */
	{
		struct subid_config cfg;

		assert_int_equal(subid_config_load(&cfg, good, "/nonexistent/login.defs", getuid(),
						   &fx->tl.log), 0);
		subid_config_free(&cfg);
	}

	free(good);
	free(ww);
	free(gw);
	free(ow);
	free(link);
	free(missing);
}

/* A file owned by someone else is refused even with a safe mode (root only). */
static void
test_load_foreign_owner(void **state)
{
	struct fx *fx = *state;
	char *conf = test_path(fx->dir, "foreign.conf");

	if (geteuid() != 0) {
		free(conf);
		skip();
	}
	test_write_file(conf, good_conf, 0644);
	assert_int_equal(chown(conf, 1, 1), 0);
	expect_load_refused(fx, "owned by uid 1", conf, 0);
	free(conf);
}

static void
test_load_bad_content(void **state)
{
	struct fx *fx = *state;
	char *conf = test_path(fx->dir, "bad.conf");
	char *prefix;

	/* a bad line: refused, logged as path:line: */
	test_write_file(conf, "range_count = 4096\nrange_min = lots\n", 0644);
	expect_load_refused(fx, "bad line", conf, getuid());
	assert_true(asprintf(&prefix, "%s:2:", conf) > 0);
	assert_log_prefix(&fx->tl, prefix);
	free(prefix);

	/* parses, but the pool overlaps real UIDs: refused by validation */
	test_write_file(conf, "range_min = 1000\nrange_max = 200000\n", 0644);
	expect_load_refused(fx, "pool over real UIDs", conf, getuid());

	/* count larger than the pool */
	test_write_file(conf, "range_min = 3000000000\nrange_max = 3000065535\n", 0644);
	expect_load_refused(fx, "count larger than pool", conf, getuid());
	free(conf);
}

/* ---- store = ldap keys ------------------------------------------------------------- */

static void
test_ldap_keys(void **state)
{
	struct fx *fx = *state;
	struct subid_config cfg;
	static const struct {
		const char *text;
		int bad;	/* lines refused by the parser */
		int valid;	/* 0: validate accepts, -1: refuses */
	} t[] = {
		{ "store = ldap\nldap_uri = ldap://a ldap://b\nldap_base = ou=subid,dc=x\n", 0, 0 },
		{ "store = ldap\nldap_base = ou=subid,dc=x\n", 0, -1 },		/* no uri */
		{ "store = ldap\nldap_uri = ldap://a\n", 0, -1 },			/* no base */
		{ "store = ldap\nldap_uri = ldap://a\nldap_base = o=x\nldap_bind_dn = cn=h\n", 0, -1 },
		{ "store = ldap\nldap_uri = ldap://a\nldap_base = o=x\nldap_bind_dn = cn=h\n"
		  "ldap_bind_pw_file = /etc/pw\nldap_tls = starttls\nldap_timeout = 3\n", 0, 0 },
		{ "ldap_bind_pw_file = pw\n", 1, 0 },				/* relative */
		{ "ldap_tls = maybe\n", 1, 0 },
		{ "ldap_timeout = 0\n", 1, 0 },
		{ "ldap_timeout = 601\n", 1, 0 },
		{ "ldap_frobnicate = 1\n", 1, 0 },
		{ "store = ldapx\n", 1, 0 },
		{ "ldap_attr_map = freeipa\nldap_attr_map = sssd\n", 0, 0 },
		{ "ldap_attr_map = ipa\n", 1, 0 },
		{ "ldap_attr_map = FreeIPA\n", 1, 0 },
		{ "ldap_lookup_on_miss = yes\nldap_lookup_on_miss = no\n", 0, 0 },
		{ "ldap_lookup_on_miss = sometimes\n", 1, 0 },
		{ "mirror_files = yes\nmirror_files = no\n", 0, 0 },
		{ "store = ldap\nldap_uri = ldaps://a LDAPS://b\nldap_base = o=x\nldap_tls = ldaps\n", 0, 0 },
		{ "store = ldap\nldap_uri = ldaps://a ldap://b\nldap_base = o=x\nldap_tls = ldaps\n", 0, -1 },
		{ "store = ldap\nldap_uri = ldap://a\nldap_base = o=x\nldap_tls = ldaps\n", 0, -1 },
		{ "mirror_files = both\n", 1, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
		if (parse_str(&cfg, t[i].text, &fx->tl) != t[i].bad) {
			print_error("case %zu: %s", i, t[i].text);
			fail();
		}
		if (t[i].bad == 0 && subid_config_validate(&cfg, "t.conf", &fx->tl.log) != t[i].valid) {
			print_error("case %zu (validate): %s", i, t[i].text);
			fail();
		}
		subid_config_free(&cfg);
	}
	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg, "store = ldap\nldap_uri = ldap://a\nldap_base = o=x\n"
				   "ldap_tls = ldaps\nldap_timeout = 7\nldap_ca_file = /ca.pem\n", &fx->tl), 0);
	assert_int_equal(cfg.store, SUBID_BACKEND_LDAP);
	assert_string_equal(cfg.ldap.uri, "ldap://a");
	assert_string_equal(cfg.ldap.base, "o=x");
	assert_int_equal(cfg.ldap.tls, SUBID_LDAP_TLS_LDAPS);
	assert_int_equal(cfg.ldap.timeout, 7);
	assert_string_equal(cfg.ldap.ca_file, "/ca.pem");
	assert_int_equal(cfg.ldap.map, SUBID_LDAP_MAP_SSSD);
	assert_false(cfg.ldap.lookup_on_miss);
	subid_config_free(&cfg);
	assert_int_equal(subid_config_defaults(&cfg, &ld_default), 0);
	assert_int_equal(parse_str(&cfg, "ldap_attr_map = freeipa\nldap_lookup_on_miss = yes\n", &fx->tl), 0);
	assert_int_equal(cfg.ldap.map, SUBID_LDAP_MAP_FREEIPA);
	assert_true(cfg.ldap.lookup_on_miss);
	subid_config_free(&cfg);
}

/* Values logged from callers (user names, arguments) cannot break out of their key=value field. */
static void
test_log_str(void **state)
{
	char buf[SUBID_LOG_STR_MAX], small[12];
	char longer[400];

	(void)state;
	assert_string_equal(subid_log_str("alice", buf, sizeof(buf)), "alice");
	assert_string_equal(subid_log_str("a b uid=0", buf, sizeof(buf)), "a?b?uid=0");
	assert_string_equal(subid_log_str("x\" y\\z", buf, sizeof(buf)), "x??y?z");
	assert_string_equal(subid_log_str("l1\nl2\t\x7f", buf, sizeof(buf)), "l1?l2??");
	assert_string_equal(subid_log_str(NULL, buf, sizeof(buf)), "(null)");
	assert_string_equal(subid_log_str("0123456789abc", small, sizeof(small)), "01234567...");
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(strlen(subid_log_str(longer, buf, sizeof(buf))), sizeof(buf) - 1);
	assert_string_equal(subid_log_str("x", small, 4), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_log_str),
		cmocka_unit_test_setup_teardown(test_logindefs_values, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_logindefs_partial, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_logindefs_missing, fx_setup, fx_teardown),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test_setup_teardown(test_parse_good, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_forbidden, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_files_yes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_comments_only, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_no_final_newline, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_bad_lines, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ldap_keys, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_bad_count, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_reserved, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_long_line, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_nul_byte, fx_setup, fx_teardown),
		cmocka_unit_test(test_real_ids),
		cmocka_unit_test_setup_teardown(test_validate, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_trusted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_good, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_foreign_owner, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_bad_content, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
