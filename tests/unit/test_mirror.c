/*
 * Unit tests for common/subid_mirror.c: keeping our lines in /etc/subuid,
 * /etc/subgid under shadow-utils' lock protocol.
 *
 * The source is included, not linked, so the tests can lower the lock
 * timeout and call the lock helpers directly.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "subid_mirror.c"
#include "test_common.h"

static unsigned default_timeout_ms;

struct mfx {
	struct fx *fx;		/* scratch directory and log sink */
	char *path;		/* dir/subuid */
	char *lock;		/* dir/subuid.lock */
};

static int
mfx_setup(void **state)
{
	struct mfx *m = calloc(1, sizeof(*m));
	void *fx;

	assert_non_null(m);
	fx_setup(&fx);
	m->fx = fx;
	m->path = test_path(m->fx->dir, "subuid");
	m->lock = test_path(m->fx->dir, "subuid.lock");
	mirror_lock_timeout_ms = 2000;
	*state = m;
	return 0;
}

static int
mfx_teardown(void **state)
{
	struct mfx *m = *state;
	void *fx = m->fx;

	free(m->path);
	free(m->lock);
	free(m);
	return fx_teardown(&fx);
}

/* ---- helpers ---------------------------------------------------------------- */

/* The whole file, malloc'd and NUL-terminated; *len without the NUL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	assert_non_null(fp);
	do {
		if (n + 4096 + 1 > cap) {
			cap = n + 4096 + 1;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, 4096, fp);
		n += r;
	} while (r > 0);
	assert_int_equal(ferror(fp), 0);
	fclose(fp);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/* path holds exactly len bytes of want (which may contain NULs). */
static void
assert_file_bytes(const char *path, const char *want, size_t len)
{
	size_t n;
	char *got = slurp(path, &n);

	if (n != len || memcmp(got, want, len) != 0) {
		print_error("file %s differs: got %zu bytes \"%s\", want %zu bytes \"%s\"\n",
			    path, n, got, len, want);
		free(got);
		fail();
	}
	free(got);
}

#define assert_file(path, want) assert_file_bytes((path), (want), strlen(want))

static void
write_bytes(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Names in dir, sorted and joined with ' '. */
static char *
dir_names(const char *dir)
{
	struct dirent **v;
	char *s = NULL;
	size_t len = 0;
	int n = scandir(dir, &v, NULL, alphasort);

	assert_true(n >= 0);
	s = calloc(1, 1);
	assert_non_null(s);
	for (int i = 0; i < n; i++) {
		const char *name = v[i]->d_name;

		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			s = realloc(s, len + strlen(name) + 2);
			assert_non_null(s);
			len += (size_t)sprintf(s + len, "%s%s", len ? " " : "", name);
		}
		free(v[i]);
	}
	free(v);
	return s;
}

static void
assert_dir_names(const char *dir, const char *want)
{
	char *got = dir_names(dir);

	if (strcmp(got, want) != 0) {
		print_error("directory %s holds \"%s\", want \"%s\"\n", dir, got, want);
		free(got);
		fail();
	}
	free(got);
}

static int64_t
ms_since(int64_t t0)
{
	return now_ms() - t0;
}

/* A pid that is not running any more (a reaped child). */
static pid_t
dead_pid(void)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return pid;
}

static void
write_lock(const char *lock, long pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld", pid);

	write_bytes(lock, buf, (size_t)n + 1, 0600);	/* with the NUL, as shadow writes it */
}

static void
wait_child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
read_byte(int fd)
{
	char c;

	assert_int_equal(read(fd, &c, 1), 1);
}

/* ---- adding ------------------------------------------------------------------------ */

static void
test_default_timeout(void **state)
{
	(void)state;
	/* shadow's LOCK_TRIES * LOCK_SLEEP and lckpwdf()'s alarm */
	assert_int_equal(default_timeout_ms, 15000);
}

static void
test_add_to_missing_file(void **state)
{
	struct mfx *m = *state;
	struct stat st;

	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_file(m->path, "alice:100000:65536\n");
	assert_int_equal(stat(m->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	if (geteuid() == 0) {
		assert_int_equal(st.st_uid, 0);
		assert_int_equal(st.st_gid, 0);
	}
	assert_log_prefix(&m->fx->tl, "mirror added path=");
	/* no lock, no temporary file left behind */
	assert_dir_names(m->fx->dir, "subuid");
}

static void
test_add_twice(void **state)
{
	struct mfx *m = *state;
	struct stat a, b;

	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(stat(m->path, &a), 0);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(stat(m->path, &b), 0);
	assert_file(m->path, "alice:100000:65536\n");
	/* not rewritten */
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
	assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	assert_int_equal(test_log_count_prefix(&m->fx->tl, "mirror added"), 1);
	assert_dir_names(m->fx->dir, "subuid");
}

static void
test_add_keeps_other_bytes(void **state)
{
	struct mfx *m = *state;
	static const char old[] =
		"# subordinate UIDs, edited by hand\n"
		"\n"
		"bob:100000:65536\n"
		"   odd line with spaces  \r\n"
		"bin\0ary:1:2\n"
		"\t# indented comment\n"
		"carol:300000:10";			/* no final newline */
	static const char want1[] =
		"# subordinate UIDs, edited by hand\n"
		"\n"
		"bob:100000:65536\n"
		"   odd line with spaces  \r\n"
		"bin\0ary:1:2\n"
		"\t# indented comment\n"
		"carol:300000:10\n"
		"alice:165536:65536\n";
	static const char want2[] =
		"# subordinate UIDs, edited by hand\n"
		"\n"
		"bob:100000:65536\n"
		"   odd line with spaces  \r\n"
		"bin\0ary:1:2\n"
		"\t# indented comment\n"
		"carol:300000:10\n"
		"alice:165536:65536\n"
		"dockremap:4294901760:65535\n";

	write_bytes(m->path, old, sizeof(old) - 1, 0644);
	assert_int_equal(subid_mirror_add(m->path, "alice", 165536, 65536, &m->fx->tl.log), 0);
	assert_file_bytes(m->path, want1, sizeof(want1) - 1);
	/* a range ending exactly at the ID limit */
	assert_int_equal(subid_mirror_add(m->path, "dockremap", 4294901760u, 65535, &m->fx->tl.log), 0);
	assert_file_bytes(m->path, want2, sizeof(want2) - 1);
	assert_dir_names(m->fx->dir, "subuid");
}

static void
test_add_blank_last_line_kept(void **state)
{
	struct mfx *m = *state;

	test_write_file(m->path, "bob:1:2\n\n", 0644);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_file(m->path, "bob:1:2\n\nalice:100000:65536\n");
}

static void
test_add_present_without_newline(void **state)
{
	struct mfx *m = *state;
	struct stat a, b;

	test_write_file(m->path, "bob:1:2\nalice:100000:65536", 0644);
	assert_int_equal(stat(m->path, &a), 0);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(stat(m->path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_file(m->path, "bob:1:2\nalice:100000:65536");
}

static void
test_add_not_fooled_by_near_lines(void **state)
{
	struct mfx *m = *state;

	test_write_file(m->path,
			"#alice:100000:65536\n"
			"alice:100000:65536 \n"
			"alice:0100000:65536\n"
			"xalice:100000:65536\n"
			"alice:100000:655360\n", 0644);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_file(m->path,
		    "#alice:100000:65536\n"
		    "alice:100000:65536 \n"
		    "alice:0100000:65536\n"
		    "xalice:100000:65536\n"
		    "alice:100000:655360\n"
		    "alice:100000:65536\n");
}

static void
test_mode_and_owner_kept(void **state)
{
	struct mfx *m = *state;
	uid_t uid = geteuid() == 0 ? 1234 : geteuid();
	gid_t gid = geteuid() == 0 ? 5678 : getegid();
	struct stat a, b;

	test_write_file(m->path, "bob:1:2\n", 0640);
	assert_int_equal(chown(m->path, uid, gid), 0);
	assert_int_equal(stat(m->path, &a), 0);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(stat(m->path, &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);	/* replaced, not edited in place */
	assert_int_equal(b.st_mode & 07777, 0640);
	assert_int_equal(b.st_uid, uid);
	assert_int_equal(b.st_gid, gid);

	assert_int_equal(subid_mirror_remove(m->path, "bob", 1, 2, &m->fx->tl.log), 0);
	assert_int_equal(stat(m->path, &b), 0);
	assert_int_equal(b.st_mode & 07777, 0640);
	assert_int_equal(b.st_uid, uid);
	assert_int_equal(b.st_gid, gid);
	assert_file(m->path, "alice:100000:65536\n");
}

/* ---- removing ---------------------------------------------------------------------- */

static void
test_remove_exact_lines_only(void **state)
{
	struct mfx *m = *state;

	test_write_file(m->path,
			"# alice:100000:65536\n"
			"alice:100000:65536\n"
			"alice:200000:65536\n"
			"alice:100000:65536 \n"
			"alice:0100000:65536\n"
			"xalice:100000:65536\n"
			"alice:100000:65536\n"
			"bob:100000:65536\n"
			"\n"
			"alice:100000:65536", 0644);
	assert_int_equal(subid_mirror_remove(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_file(m->path,
		    "# alice:100000:65536\n"
		    "alice:200000:65536\n"
		    "alice:100000:65536 \n"
		    "alice:0100000:65536\n"
		    "xalice:100000:65536\n"
		    "bob:100000:65536\n"
		    "\n");
	assert_log_prefix(&m->fx->tl, "mirror removed path=");
	assert_int_equal(test_log_count_substr(&m->fx->tl, "lines=3"), 1);
	assert_dir_names(m->fx->dir, "subuid");
}

static void
test_remove_absent(void **state)
{
	struct mfx *m = *state;
	struct stat a, b;

	/* no file: nothing to do, and nothing created */
	assert_int_equal(subid_mirror_remove(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_dir_names(m->fx->dir, "");

	test_write_file(m->path, "alice:200000:65536\nbob:100000:65536", 0644);
	assert_int_equal(stat(m->path, &a), 0);
	assert_int_equal(subid_mirror_remove(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(stat(m->path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	assert_file(m->path, "alice:200000:65536\nbob:100000:65536");
	assert_int_equal(test_log_count_prefix(&m->fx->tl, "mirror removed"), 0);
	assert_dir_names(m->fx->dir, "subuid");
}

static void
test_remove_last_line_leaves_empty_file(void **state)
{
	struct mfx *m = *state;
	struct stat st;

	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(subid_mirror_remove(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(stat(m->path, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 07777, 0644);
}

/* ---- refusals ------------------------------------------------------------------------ */

static void
test_bad_owner_and_range(void **state)
{
	struct mfx *m = *state;
	char longname[MIRROR_OWNER_MAX + 2];
	static const char *const bad[] = {
		"", "a:b", "a\nb", "a\rb", "tab\there", "#alice", "+alice", "-alice", "del\x7f",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		test_log_reset(&m->fx->tl);
		assert_int_equal(subid_mirror_add(m->path, bad[i], 100000, 65536, &m->fx->tl.log), -1);
		assert_log_prefix(&m->fx->tl, "mirror error path=");
		assert_int_equal(subid_mirror_remove(m->path, bad[i], 100000, 65536, &m->fx->tl.log), -1);
	}
	assert_int_equal(subid_mirror_add(m->path, NULL, 100000, 65536, &m->fx->tl.log), -1);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	test_log_reset(&m->fx->tl);
	assert_int_equal(subid_mirror_add(m->path, longname, 100000, 65536, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "owner too long"), 1);
	longname[MIRROR_OWNER_MAX] = '\0';	/* the longest allowed */
	assert_int_equal(subid_mirror_add(m->path, longname, 100000, 65536, &m->fx->tl.log), 0);
	assert_int_equal(subid_mirror_remove(m->path, longname, 100000, 65536, &m->fx->tl.log), 0);

	test_log_reset(&m->fx->tl);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 0, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "past the ID space"), 1);
	assert_int_equal(subid_mirror_add(m->path, "alice", 4294967295u, 1, &m->fx->tl.log), -1);
	assert_int_equal(subid_mirror_add(m->path, "alice", 4294901760u, 65536, &m->fx->tl.log), -1);
	assert_int_equal(subid_mirror_add(m->path, "alice", UINT64_MAX, 2, &m->fx->tl.log), -1);
	assert_int_equal(subid_mirror_remove(m->path, "alice", 1, UINT64_MAX, &m->fx->tl.log), -1);

	/* paths */
	assert_int_equal(subid_mirror_add(NULL, "alice", 1, 1, &m->fx->tl.log), -1);
	assert_int_equal(subid_mirror_add("", "alice", 1, 1, &m->fx->tl.log), -1);
	assert_int_equal(subid_mirror_add("subuid", "alice", 1, 1, &m->fx->tl.log), -1);
	assert_int_equal(subid_mirror_add("/tmp/", "alice", 1, 1, &m->fx->tl.log), -1);
	/* and a NULL log is fine */
	assert_int_equal(subid_mirror_add(m->path, "a:b", 1, 1, NULL), -1);

	/* the file was never created (the valid long name was added, then removed) */
	assert_dir_names(m->fx->dir, "subuid");
	assert_file(m->path, "");
}

static void
test_symlink_refused(void **state)
{
	struct mfx *m = *state;
	char *target = test_path(m->fx->dir, "target");
	struct stat st;

	test_write_file(target, "bob:1:2\n", 0644);
	assert_int_equal(symlink(target, m->path), 0);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "symbolic link refused"), 1);
	assert_int_equal(subid_mirror_remove(m->path, "bob", 1, 2, &m->fx->tl.log), -1);
	assert_file(target, "bob:1:2\n");
	assert_int_equal(lstat(m->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_dir_names(m->fx->dir, "subuid target");
	free(target);
}

static void
test_non_regular_refused(void **state)
{
	struct mfx *m = *state;

	assert_int_equal(mkdir(m->path, 0755), 0);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "not a regular file"), 1);
	assert_int_equal(rmdir(m->path), 0);

	assert_int_equal(mkfifo(m->path, 0644), 0);
	test_log_reset(&m->fx->tl);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "not a regular file"), 1);
	assert_dir_names(m->fx->dir, "subuid");
}

static void
test_too_large_refused(void **state)
{
	struct mfx *m = *state;
	struct stat st;

	test_write_file(m->path, "bob:1:2\n", 0644);
	assert_int_equal(truncate(m->path, MIRROR_MAX_SIZE + 1), 0);	/* sparse */
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "file too large"), 1);
	assert_int_equal(stat(m->path, &st), 0);
	assert_int_equal(st.st_size, MIRROR_MAX_SIZE + 1);
	assert_dir_names(m->fx->dir, "subuid");
}

/* ---- locking ------------------------------------------------------------------------- */

static void
test_parse_lock_pid(void **state)
{
	(void)state;
	assert_int_equal(parse_lock_pid("123", 3), 123);
	assert_int_equal(parse_lock_pid("123\0", 4), 123);	/* as shadow writes it */
	assert_int_equal(parse_lock_pid("123\n", 4), 123);
	assert_int_equal(parse_lock_pid("", 0), -1);
	assert_int_equal(parse_lock_pid("0", 1), -1);
	assert_int_equal(parse_lock_pid("-5", 2), -1);
	assert_int_equal(parse_lock_pid("12a", 3), -1);
	assert_int_equal(parse_lock_pid(" 12", 3), -1);
	assert_int_equal(parse_lock_pid("2147483647", 10), 2147483647);
	assert_int_equal(parse_lock_pid("2147483648", 10), -1);
	assert_int_equal(parse_lock_pid("99999999999999999999", 20), -1);
}

static void
test_pwd_lock_only_in_etc(void **state)
{
	(void)state;
	assert_string_equal(mirror_pwd_lock_path("/etc/subuid"), "/etc/.pwd.lock");
	assert_string_equal(mirror_pwd_lock_path("/etc/subgid"), "/etc/.pwd.lock");
	assert_null(mirror_pwd_lock_path("/etc/"));
	assert_null(mirror_pwd_lock_path("/etc/x/subuid"));
	assert_null(mirror_pwd_lock_path("/etcetera/subuid"));
	assert_null(mirror_pwd_lock_path("/tmp/subid-unit.x/subuid"));
	assert_null(mirror_pwd_lock_path("/"));
}

/* While we hold it, "<path>.lock" holds our pid and a NUL, as shadow's get_pid() wants. */
static void
test_lock_file_format(void **state)
{
	struct mfx *m = *state;
	struct mirror_lock ml = { .pwd_fd = -1, .busy_pid = -1, .busy_why = "held" };
	struct mirror_ctx cx = { .log = &m->fx->tl.log, .path = "x", .owner = "x" };
	char want[32];
	int n = snprintf(want, sizeof(want), "%ld", (long)getpid());
	struct stat st;

	assert_int_equal(mirror_lock(&ml, m->path, NULL, &cx), 0);
	assert_file_bytes(m->lock, want, (size_t)n + 1);
	assert_int_equal(stat(m->lock, &st), 0);
	assert_int_equal(st.st_nlink, 1);	/* the "<path>.<pid>" link is gone */
	assert_dir_names(m->fx->dir, "subuid.lock");
	mirror_unlock(&ml, &cx);
	mirror_lock_free(&ml);
	assert_dir_names(m->fx->dir, "");
}

static void
test_stale_lock_broken(void **state)
{
	struct mfx *m = *state;

	write_lock(m->lock, (long)dead_pid());
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_file(m->path, "alice:100000:65536\n");
	assert_int_equal(test_log_count_substr(&m->fx->tl, "removed stale lock"), 1);
	assert_dir_names(m->fx->dir, "subuid");
}

/* A child takes the lock as we do, holds it 500 ms: the add waits, then succeeds. */
static void
test_live_lock_waited_for(void **state)
{
	struct mfx *m = *state;
	int p[2];
	int64_t t0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mirror_lock ml = { .pwd_fd = -1, .busy_pid = -1, .busy_why = "held" };
		struct mirror_ctx cx = { .log = NULL, .path = "x", .owner = "x" };

		close(p[0]);
		if (mirror_lock(&ml, m->path, NULL, &cx) != 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(2);
		sleep_ms(500);
		mirror_unlock(&ml, &cx);
		mirror_lock_free(&ml);
		_exit(0);
	}
	close(p[1]);
	read_byte(p[0]);
	close(p[0]);
	t0 = now_ms();
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_true(ms_since(t0) >= 400);
	wait_child_ok(pid);
	assert_file(m->path, "alice:100000:65536\n");
	assert_int_equal(test_log_count_substr(&m->fx->tl, "stale"), 0);
	assert_dir_names(m->fx->dir, "subuid");
}

/* A lock held by a live process (ours) is waited for, then given up; never removed. */
static void
test_live_lock_times_out(void **state)
{
	struct mfx *m = *state;
	char want[32];
	int n = snprintf(want, sizeof(want), "%ld", (long)getpid());
	int64_t t0;

	mirror_lock_timeout_ms = 300;
	test_write_file(m->path, "bob:1:2\n", 0644);
	write_lock(m->lock, (long)getpid());
	t0 = now_ms();
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), -1);
	assert_true(ms_since(t0) >= 300);
	assert_true(ms_since(t0) < 5000);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "reason=\"lock timeout: held\""), 1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "waited_ms=300"), 1);
	assert_file(m->path, "bob:1:2\n");
	assert_file_bytes(m->lock, want, (size_t)n + 1);
	assert_int_equal(subid_mirror_remove(m->path, "bob", 1, 2, &m->fx->tl.log), -1);
	assert_file(m->path, "bob:1:2\n");
	assert_dir_names(m->fx->dir, "subuid subuid.lock");
}

/* A lock without a pid is never broken (as shadow): the add times out. */
static void
test_lock_without_pid_not_broken(void **state)
{
	struct mfx *m = *state;

	mirror_lock_timeout_ms = 200;
	write_bytes(m->lock, "garbage", 7, 0600);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "lock file without a valid pid"), 1);
	assert_file(m->lock, "garbage");

	write_bytes(m->lock, "", 0, 0600);
	test_log_reset(&m->fx->tl);
	assert_int_equal(subid_mirror_add(m->path, "alice", 100000, 65536, &m->fx->tl.log), -1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "lock file without a valid pid"), 1);
	assert_dir_names(m->fx->dir, "subuid.lock");
}

/* A child holding a classic fcntl lock on the .pwd.lock file, as glibc's lckpwdf(). */
static pid_t
lckpwdf_child(const char *pwd, unsigned hold_ms, int *ready)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl;
		int fd = open(pwd, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd < 0 || fcntl(fd, F_SETLKW, &fl) != 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(2);
		sleep_ms(hold_ms);
		_exit(0);
	}
	close(p[1]);
	*ready = p[0];
	return pid;
}

static void
test_pwd_lock_waited_for(void **state)
{
	struct mfx *m = *state;
	char *pwd = test_path(m->fx->dir, ".pwd.lock");
	int64_t t0;
	int ready;
	pid_t pid = lckpwdf_child(pwd, 500, &ready);

	read_byte(ready);
	close(ready);
	t0 = now_ms();
	assert_int_equal(mirror_update(m->path, pwd, true, "alice", 100000, 65536, &m->fx->tl.log), 0);
	assert_true(ms_since(t0) >= 400);
	wait_child_ok(pid);
	assert_file(m->path, "alice:100000:65536\n");
	assert_dir_names(m->fx->dir, ".pwd.lock subuid");
	free(pwd);
}

static void
test_pwd_lock_times_out(void **state)
{
	struct mfx *m = *state;
	char *pwd = test_path(m->fx->dir, ".pwd.lock");
	char holder[64];
	int ready, status;
	pid_t pid = lckpwdf_child(pwd, 10000, &ready);

	read_byte(ready);
	close(ready);
	mirror_lock_timeout_ms = 300;
	assert_int_equal(mirror_update(m->path, pwd, true, "alice", 100000, 65536, &m->fx->tl.log), -1);
	snprintf(holder, sizeof(holder), "holder_pid=%ld ", (long)pid);
	assert_int_equal(test_log_count_substr(&m->fx->tl, "reason=\"lock timeout\""), 1);
	assert_int_equal(test_log_count_substr(&m->fx->tl, holder), 1);
	/* the file's own lock was not even tried */
	assert_dir_names(m->fx->dir, ".pwd.lock");
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(pwd);
}

/* Four processes adding ten lines each at once: every line lands exactly once. */
static void
test_concurrent_adds(void **state)
{
	struct mfx *m = *state;
	enum { KIDS = 4, EACH = 10 };
	char *pwd = test_path(m->fx->dir, ".pwd.lock");
	pid_t pid[KIDS];
	char *got, line[64];

	mirror_lock_timeout_ms = 30000;
	for (int k = 0; k < KIDS; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			for (int i = 0; i < EACH; i++) {
				char owner[32];

				snprintf(owner, sizeof(owner), "u%d_%d", k, i);
				/* half of them also through a .pwd.lock, as in /etc */
				if (mirror_update(m->path, (k % 2) ? pwd : NULL, true, owner,
						  (uint64_t)(k * EACH + i + 1) * 65536, 65536, NULL) != 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < KIDS; k++)
		wait_child_ok(pid[k]);
	got = slurp(m->path, NULL);
	for (int k = 0; k < KIDS; k++) {
		for (int i = 0; i < EACH; i++) {
			char *at;

			snprintf(line, sizeof(line), "u%d_%d:%d:65536\n", k, i, (k * EACH + i + 1) * 65536);
			at = strstr(got, line);
			assert_non_null(at);
			assert_null(strstr(at + 1, line));
		}
	}
	free(got);
	assert_dir_names(m->fx->dir, ".pwd.lock subuid");
	free(pwd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_timeout),
		cmocka_unit_test_setup_teardown(test_add_to_missing_file, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_add_twice, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_add_keeps_other_bytes, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_add_blank_last_line_kept, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_add_present_without_newline, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_add_not_fooled_by_near_lines, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_mode_and_owner_kept, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_exact_lines_only, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_absent, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_last_line_leaves_empty_file, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_owner_and_range, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_non_regular_refused, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_too_large_refused, mfx_setup, mfx_teardown),
		cmocka_unit_test(test_parse_lock_pid),
		cmocka_unit_test(test_pwd_lock_only_in_etc),
		cmocka_unit_test_setup_teardown(test_lock_file_format, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_lock_broken, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_live_lock_waited_for, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_live_lock_times_out, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_lock_without_pid_not_broken, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_pwd_lock_waited_for, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_pwd_lock_times_out, mfx_setup, mfx_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_adds, mfx_setup, mfx_teardown),
	};

	default_timeout_ms = mirror_lock_timeout_ms;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
