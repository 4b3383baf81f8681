/* Unit tests for common/subid_files.c: the /etc/subuid, /etc/subgid reader. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subid_files.h"
#include "test_common.h"



static int
parse_str(const char *text, struct subid_file *f, struct test_log *tl)
{
	FILE *fp = test_str_fp(text);
	int rc;

	memset(f, 0, sizeof(*f));
	rc = subid_file_parse(fp, "subuid", f, &tl->log);
	fclose(fp);
	return rc;
}

static void
assert_entry(const struct subid_file *f, size_t i, const char *owner, uint64_t start, uint64_t count)
{
	assert_true(i < f->n);
	assert_non_null(f->v[i].owner);
	assert_string_equal(f->v[i].owner, owner);
	assert_int_equal(f->v[i].start, start);
	assert_int_equal(f->v[i].count, count);
}

static void
test_parse_good(void **state)
{
	struct fx *fx = *state;
	struct subid_file f;

	assert_int_equal(parse_str("# subordinate UIDs\n"		/* 1 */
				   "alice:100000:65536\n"		/* 2 */
				   "\n"					/* 3 */
				   "1001:165536:65536\n"		/* 4: numeric owner */
				   "#bob:1:2\n"				/* 5: comment */
				   "we!rd name$:300000:10\n"		/* 6: any string is an owner */
				   "dockremap:4294901760:65535\n"	/* 7: ends at the ID limit */
				   "last:400000:1",			/* 8: no final newline */
				   &f, &fx->tl),
			 0);
	assert_int_equal(f.bad_lines, 0);
	assert_int_equal(fx->tl.n, 0);
	assert_int_equal(f.n, 5);
	assert_entry(&f, 0, "alice", 100000, 65536);
	assert_entry(&f, 1, "1001", 165536, 65536);
	assert_entry(&f, 2, "we!rd name$", 300000, 10);
	assert_entry(&f, 3, "dockremap", 4294901760u, 65535);
	assert_entry(&f, 4, "last", 400000, 1);
	subid_file_free(&f);
}

static void
test_parse_empty(void **state)
{
	struct fx *fx = *state;
	struct subid_file f;

	assert_int_equal(parse_str("", &f, &fx->tl), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.bad_lines, 0);
	subid_file_free(&f);

	assert_int_equal(parse_str("# only a comment\n\n", &f, &fx->tl), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.bad_lines, 0);
	assert_int_equal(fx->tl.n, 0);
	subid_file_free(&f);
}

/*
 * Each malformed line sits on line 2 between two good ones: it is skipped,
 * counted, logged as "subuid:2:", and the good lines around it survive.
 */
static void
test_parse_bad_lines(void **state)
{
	static const char *const bad[] = {
		"alice",				/* one field */
		"alice:100000",				/* two fields */
		"alice:100000:65536:1",			/* four fields */
		"alice:100000:65536:",			/* trailing separator */
		":100000:65536",			/* empty owner */
		"alice::65536",				/* empty start */
		"alice:100000:",			/* empty count */
		"::",
		"alice:abc:65536",			/* not a number */
		"alice:100000:6x",			/* junk after digits */
		"alice:0x10:5",				/* hex */
		"alice:-1:65536",			/* negative start */
		"alice:100000:-5",			/* negative count */
		"alice:+5:5",				/* sign */
		"alice:100000:0",			/* count 0 */
		"alice:18446744073709551615:2",		/* start + count wraps 2^64 */
		"alice:2:18446744073709551615",		/* start + count wraps 2^64 */
		"alice:18446744073709551616:1",		/* start overflows uint64 */
		"alice:99999999999999999999:1",
		"alice:4294967295:1",			/* (uid_t)-1: past the ID limit */
		"alice:4294901760:65536",		/* ends at 2^32: past the ID limit */
	};
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct subid_file f;
		char *text;
		int rc;

		test_log_reset(&fx->tl);
		assert_true(asprintf(&text, "first:1000:10\n%s\nthird:3000:30\n", bad[i]) > 0);
		rc = parse_str(text, &f, &fx->tl);
		if (rc != 0 || f.n != 2 || f.bad_lines != 1 ||
		    test_log_count_prefix(&fx->tl, "subuid:2:") == 0) {
			print_error("bad line \"%s\": rc %d n %zu bad_lines %zu\n", bad[i], rc, f.n,
				    f.bad_lines);
			test_log_dump(&fx->tl);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(f.bad_lines, 1);
		assert_int_equal(f.n, 2);
		assert_entry(&f, 0, "first", 1000, 10);
		assert_entry(&f, 1, "third", 3000, 30);
		assert_log_prefix(&fx->tl, "subuid:2:");
		assert_int_equal(test_log_count_prefix(&fx->tl, "subuid:1:"), 0);
		assert_int_equal(test_log_count_prefix(&fx->tl, "subuid:3:"), 0);
		subid_file_free(&f);
		free(text);
	}
}

/* Several bad lines: all counted, each logged with its own number. */
static void
test_parse_bad_count(void **state)
{
	struct fx *fx = *state;
	struct subid_file f;

	assert_int_equal(parse_str("# header\n"		/* 1 */
				   "bad\n"			/* 2 */
				   "alice:100000:65536\n"	/* 3 */
				   "\n"				/* 4 */
				   "bob:1:0\n"			/* 5 */
				   "carol:x:1\n"		/* 6 */
				   "dave:200000:65536\n",	/* 7 */
				   &f, &fx->tl),
			 0);
	assert_int_equal(f.bad_lines, 3);
	assert_int_equal(f.n, 2);
	assert_entry(&f, 0, "alice", 100000, 65536);
	assert_entry(&f, 1, "dave", 200000, 65536);
	assert_log_prefix(&fx->tl, "subuid:2:");
	assert_log_prefix(&fx->tl, "subuid:5:");
	assert_log_prefix(&fx->tl, "subuid:6:");
	assert_int_equal(test_log_count_prefix(&fx->tl, "subuid:3:"), 0);
	assert_int_equal(test_log_count_prefix(&fx->tl, "subuid:7:"), 0);
	subid_file_free(&f);
}

/*
 * CRLF line ends and trailing blanks.  shadow's own reader refuses such
 * lines; we accept either outcome, but never a wrong entry: the line is
 * either read with exactly the written values or skipped as one bad line.
 */
static void
test_parse_crlf_trailing_space(void **state)
{
	static const char *const lines[] = {
		"carol:200000:65536\r\n",
		"carol:200000:65536 \n",
		"carol:200000:65536\t\n",
	};
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		struct subid_file f;

		test_log_reset(&fx->tl);
		assert_int_equal(parse_str(lines[i], &f, &fx->tl), 0);
		if (f.n == 1) {
			assert_int_equal(f.bad_lines, 0);
			assert_entry(&f, 0, "carol", 200000, 65536);
		} else {
			assert_int_equal(f.n, 0);
			assert_int_equal(f.bad_lines, 1);
			assert_log_prefix(&fx->tl, "subuid:1:");
		}
		subid_file_free(&f);
	}
}

/* A very long comment line is one line: it neither splits nor shifts numbers. */
static void
test_parse_long_line(void **state)
{
	struct fx *fx = *state;
	struct subid_file f;
	size_t len = 20000;
	char *text = malloc(len + 64);

	assert_non_null(text);
	text[0] = '#';
	memset(text + 1, 'x', len - 1);
	strcpy(text + len, "\nalice:100000:65536\nbad\n");
	assert_int_equal(parse_str(text, &f, &fx->tl), 0);
	assert_int_equal(f.n, 1);
	assert_entry(&f, 0, "alice", 100000, 65536);
	assert_log_prefix(&fx->tl, "subuid:3:");
	subid_file_free(&f);
	free(text);
}

/* Many entries: the array grows and keeps every one. */
static void
test_parse_many(void **state)
{
	enum { N = 5000 };
	struct fx *fx = *state;
	struct subid_file f;
	char *text, *p;
	size_t i;

	text = malloc(N * 40 + 1);
	assert_non_null(text);
	p = text;
	for (i = 0; i < N; i++)
		p += sprintf(p, "user%zu:%zu:65536\n", i, 100000 + i * 65536);
	assert_int_equal(parse_str(text, &f, &fx->tl), 0);
	assert_int_equal(f.n, N);
	assert_int_equal(f.bad_lines, 0);
	assert_entry(&f, 0, "user0", 100000, 65536);
	assert_entry(&f, 1234, "user1234", 100000 + 1234 * UINT64_C(65536), 65536);
	assert_entry(&f, N - 1, "user4999", 100000 + 4999 * UINT64_C(65536), 65536);
	subid_file_free(&f);
	free(text);
}

static void
test_load_missing(void **state)
{
	struct fx *fx = *state;
	char *path = test_path(fx->dir, "no-subuid");
	struct subid_file f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(subid_file_load(path, &f, &fx->tl.log), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.bad_lines, 0);
	subid_file_free(&f);
	free(path);
}

static void
test_load_file(void **state)
{
	struct fx *fx = *state;
	char *path = test_path(fx->dir, "subuid");
	char *prefix;
	struct subid_file f;

	test_write_file(path, "alice:100000:65536\nbroken line\nbob:165536:65536\n", 0644);
	memset(&f, 0, sizeof(f));
	assert_int_equal(subid_file_load(path, &f, &fx->tl.log), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.bad_lines, 1);
	assert_entry(&f, 0, "alice", 100000, 65536);
	assert_entry(&f, 1, "bob", 165536, 65536);
	/* messages name the file by its path */
	assert_true(asprintf(&prefix, "%s:2:", path) > 0);
	assert_log_prefix(&fx->tl, prefix);
	free(prefix);
	subid_file_free(&f);
	free(path);
}

static void
test_intervals(void **state)
{
	struct fx *fx = *state;
	struct subid_file f, empty;
	struct subid_interval *v = NULL;
	size_t n = 0;

	assert_int_equal(parse_str("alice:100000:65536\n"
				   "bob:1:1\n"
				   "1001:4294901760:65535\n",
				   &f, &fx->tl),
			 0);
	assert_int_equal(f.n, 3);
	assert_int_equal(subid_file_intervals(&f, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_non_null(v);
	assert_int_equal(v[0].start, 100000);
	assert_int_equal(v[0].end, 165536);
	assert_int_equal(v[1].start, 1);
	assert_int_equal(v[1].end, 2);
	assert_int_equal(v[2].start, 4294901760u);
	assert_int_equal(v[2].end, 4294967295u);

	/* appends to what is there */
	assert_int_equal(subid_file_intervals(&f, &v, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(v[0].start, 100000);
	assert_int_equal(v[0].end, 165536);
	assert_int_equal(v[3].start, 100000);
	assert_int_equal(v[3].end, 165536);
	assert_int_equal(v[5].start, 4294901760u);
	assert_int_equal(v[5].end, 4294967295u);

	/* an empty file adds nothing */
	assert_int_equal(parse_str("", &empty, &fx->tl), 0);
	assert_int_equal(subid_file_intervals(&empty, &v, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(v[5].end, 4294967295u);

	subid_file_free(&empty);
	subid_file_free(&f);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_good, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_empty, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_bad_lines, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_bad_count, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_crlf_trailing_space, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_long_line, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_many, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_missing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_file, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_intervals, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
