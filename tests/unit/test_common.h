/*
 * Helpers shared by the cmocka unit tests: a log sink that keeps every
 * line so tests can assert on messages, FILE streams over string literals,
 * and scratch directories that are removed again.
 *
 * Include after "config.h" and <cmocka.h>.
 */
#ifndef SUBID_TEST_COMMON_H
#define SUBID_TEST_COMMON_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "subid_log.h"

/* ---- log capture ------------------------------------------------------- */

#define TEST_LOG_LINES 128
#define TEST_LOG_LEN 512

struct test_log {
	struct subid_log log;	/* pass &tl.log to the code under test */
	size_t n;		/* lines captured (may exceed TEST_LOG_LINES) */
	int prio[TEST_LOG_LINES];
	char line[TEST_LOG_LINES][TEST_LOG_LEN];
};

__attribute__((format(printf, 3, 0)))
static inline void
test_log_fn(void *ctx, int prio, const char *fmt, va_list ap)
{
	struct test_log *tl = ctx;

	if (tl->n < TEST_LOG_LINES) {
		vsnprintf(tl->line[tl->n], TEST_LOG_LEN, fmt, ap);
		tl->prio[tl->n] = prio;
	}
	tl->n++;
	/* TEST_LOG_VERBOSE=1 echoes every captured line while debugging a test. */
	if (tl->n <= TEST_LOG_LINES && getenv("TEST_LOG_VERBOSE") != NULL)
		fprintf(stderr, "  log[%d]: %s\n", prio, tl->line[tl->n - 1]);
}

static inline void
test_log_init(struct test_log *tl)
{
	memset(tl, 0, sizeof(*tl));
	tl->log.fn = test_log_fn;
	tl->log.ctx = tl;
	tl->log.debug = 0;
}

static inline void
test_log_reset(struct test_log *tl)
{
	test_log_init(tl);
}

/* Number of captured lines that begin with prefix. */
static inline size_t
test_log_count_prefix(const struct test_log *tl, const char *prefix)
{
	size_t i, k = 0, len = strlen(prefix);

	for (i = 0; i < tl->n && i < TEST_LOG_LINES; i++)
		if (strncmp(tl->line[i], prefix, len) == 0)
			k++;
	return k;
}

/* Number of captured lines that contain needle anywhere. */
static inline size_t
test_log_count_substr(const struct test_log *tl, const char *needle)
{
	size_t i, k = 0;

	for (i = 0; i < tl->n && i < TEST_LOG_LINES; i++)
		if (strstr(tl->line[i], needle) != NULL)
			k++;
	return k;
}

/* Print what was captured; handy in a failing test's output. */
static inline void
test_log_dump(const struct test_log *tl)
{
	size_t i;

	for (i = 0; i < tl->n && i < TEST_LOG_LINES; i++)
		print_message("  log[%zu] prio %d: %s\n", i, tl->prio[i], tl->line[i]);
}

/* Fails the test (showing the log) unless a line begins with prefix. */
#define assert_log_prefix(tl, prefix)                                           \
	do {                                                                    \
		if (test_log_count_prefix((tl), (prefix)) == 0) {               \
			print_error("no log line starts with \"%s\"\n", (prefix)); \
			test_log_dump(tl);                                      \
			fail();                                                 \
		}                                                               \
	} while (0)

/* ---- FILE streams over strings ----------------------------------------- */

/* A read-only stream over s (s must stay alive while the stream is used). */
static inline FILE *
test_str_fp(const char *s)
{
	FILE *fp;

	if (*s == '\0')
		fp = fopen("/dev/null", "re");
	else
		fp = fmemopen((void *)s, strlen(s), "r");
	assert_non_null(fp);
	return fp;
}

/* ---- scratch directories and files --------------------------------------- */

/* A fresh 0700 directory; returns a malloc'd path. */
static inline char *
test_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl;

	if (base == NULL || *base != '/')
		base = "/tmp";
	assert_true(asprintf(&tmpl, "%s/subid-unit.XXXXXX", base) > 0);
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

static inline int
test_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf dir (does not follow symlinks). */
static inline void
test_rmtree(const char *dir)
{
	if (dir != NULL)
		nftw(dir, test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir + "/" + name, malloc'd. */
static inline char *
test_path(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* Write content to path (created or truncated) and chmod it to mode. */
static inline void
test_write_file(const char *path, const char *content, mode_t mode)
{
	FILE *fp = fopen(path, "we");

	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) >= 0 || *content == '\0', 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* ---- per-test fixture ---------------------------------------------------- */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A scratch directory, a store path inside it, and a log sink. */
struct fx {
	char *dir;
	char *libdir;	/* dir/lib: does not exist until a store is opened there */
	char *db;	/* dir/lib/subid.db */
	struct test_log tl;
};

static inline int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->dir = test_mkdtemp();
	fx->libdir = test_path(fx->dir, "lib");
	fx->db = test_path(fx->libdir, "subid.db");
	test_log_init(&fx->tl);
	*state = fx;
	return 0;
}

static inline int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	test_rmtree(fx->dir);
	free(fx->db);
	free(fx->libdir);
	free(fx->dir);
	free(fx);
	return 0;
}

#endif
