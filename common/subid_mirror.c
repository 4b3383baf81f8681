#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "subid_mirror.h"
#include "subid_range.h"

/*
 * Locking: the protocol of shadow-utils 4.13 (Debian 12), lib/commonio.c.
 *
 * - commonio_lock(): for a database at its compiled-in /etc path (no
 *   --prefix: db->setname false) the first lock a process takes is
 *   lckpwdf(), glibc's fcntl(F_SETLKW) write lock on all of /etc/.pwd.lock,
 *   given up after 15 s (alarm); then each file gets one
 *   commonio_lock_nowait(), without retries.  With --prefix there is no
 *   lckpwdf() and commonio_lock_nowait() is tried LOCK_TRIES (15) times,
 *   LOCK_SLEEP (1 s) apart.
 * - do_lock_file(): "<file>.<pid>" (0600) gets the decimal pid and a NUL,
 *   fdatasync(), then link() to "<file>.lock"; the lock is taken when link()
 *   works and the temporary file then has st_nlink == 2.  When the lock
 *   exists, the pid in it is read: kill(pid, 0) == 0 means held; otherwise
 *   it is stale, unlinked, and link() tried once more.  A lock without a
 *   valid pid is never broken.  The temporary file is always unlinked.
 * - commonio_unlock(): unlink "<file>.lock"; ulckpwdf() after the last one.
 *
 * useradd and usermod take lckpwdf(), then the passwd, shadow, group,
 * gshadow, subuid and subgid locks, and hold them until they are done.  As
 * they try "/etc/subuid.lock" only once, holding it alone would make them
 * fail ("cannot lock /etc/subuid; try again later"); holding /etc/.pwd.lock
 * too makes them wait in lckpwdf() instead, as we wait for them there.  The
 * order is shadow's (.pwd.lock, then the file's lock), so no deadlock.
 *
 * /etc/.pwd.lock is taken only for files directly in /etc: shadow takes it
 * for its databases at their /etc paths and never for copies elsewhere
 * (--prefix), so nothing else is guarded by it, and a file under a
 * temporary directory needs no writable /etc.
 *
 * Where we differ, all on our side of the protocol:
 * - one deadline for both locks (15 s, like LOCK_TRIES * LOCK_SLEEP and
 *   lckpwdf's alarm), polled every MIRROR_POLL_MS: no SIGALRM, which
 *   belongs to the host process (sshd, login);
 * - the /etc/.pwd.lock lock is an open file description lock (F_OFD_SETLK):
 *   it conflicts with glibc's classic one, but is not dropped when another
 *   descriptor of the host process closes that file, and it excludes two
 *   threads of one process;
 * - kill(pid, 0) failing with EPERM counts as held (shadow breaks it);
 * - a stale lock is unlinked, and ours unlinked at the end, only while it is
 *   still the inode we looked at.  That narrows the race shadow has when
 *   two processes break one stale lock; under /etc both hold .pwd.lock then,
 *   which closes it.
 */
#define MIRROR_POLL_MS 50u
#define MIRROR_MAX_SIZE ((off_t)64 << 20)
#define MIRROR_PWD_LOCK "/etc/.pwd.lock"
#define MIRROR_OWNER_MAX 256		/* what subid_files.c reads back */
#define MIRROR_LINE_MAX (MIRROR_OWNER_MAX + 2 * 21 + 1)
#define MIRROR_TMP_SUFFIX ".subid-new"

/* How long to wait for the locks, in all.  Tests lower it; nothing else writes it. */
static unsigned mirror_lock_timeout_ms = 15000;

enum { LOCK_ERROR = -1, LOCK_BUSY = 0, LOCK_HELD = 1 };

struct mirror_lock {
	char *lock;		/* "<path>.lock" */
	char *tmp;		/* "<path>.<pid>" ("<path>.<pid>.<tid>" off the main thread) */
	int pwd_fd;		/* /etc/.pwd.lock, write-locked; -1 when not taken */
	bool held;		/* lock is our link */
	dev_t dev;		/* our lock file */
	ino_t ino;
	long busy_pid;		/* last holder seen, -1 when unknown */
	const char *busy_why;	/* why the last attempt failed */
};

struct mirror_file {
	bool exists;
	struct stat st;
	char *data;
	size_t len;
};

/* For messages: the path and owner with control bytes made harmless. */
struct mirror_ctx {
	const struct subid_log *log;
	char path[SUBID_LOG_STR_MAX];
	char owner[SUBID_LOG_STR_MAX];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* a followed by b, malloc'd; NULL when out of memory. */
static char *
str_cat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s != NULL) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

/* NULL when owner may be written, else the problem. */
static const char *
owner_problem(const char *owner)
{
	size_t n;

	if (owner == NULL || owner[0] == '\0')
		return "empty owner";
	n = strnlen(owner, MIRROR_OWNER_MAX + 1);
	if (n > MIRROR_OWNER_MAX)
		return "owner too long";
	if (owner[0] == '#')
		return "owner would start a comment";
	if (owner[0] == '+' || owner[0] == '-')
		return "owner would be read as a NIS entry";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)owner[i];

		if (c == ':')
			return "':' in owner";
		if (c < 0x20 || c == 0x7f)
			return "control character in owner";
	}
	return NULL;
}

/* shadow takes /etc/.pwd.lock for its databases in /etc, and only for them. */
static const char *
mirror_pwd_lock_path(const char *path)
{
	size_t n = strlen(path);

	if (n > 5 && memcmp(path, "/etc/", 5) == 0 && memchr(path + 5, '/', n - 5) == NULL)
		return MIRROR_PWD_LOCK;
	return NULL;
}

/* ---- /etc/.pwd.lock ------------------------------------------------------ */

/* LOCK_HELD, LOCK_BUSY, or LOCK_ERROR with errno set. */
static int
pwd_lock_try(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;		/* l_start = l_len = 0: the whole file, as lckpwdf() */
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return LOCK_HELD;
	if (errno == EINVAL) {
		/* kernel before 3.15: a classic lock, as lckpwdf() takes */
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return LOCK_HELD;
	}
	if (errno == EACCES || errno == EAGAIN)
		return LOCK_BUSY;
	return LOCK_ERROR;
}

/* The pid of a classic-lock holder (lckpwdf), or -1. */
static long
pwd_lock_holder(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0 || fl.l_type == F_UNLCK || fl.l_pid <= 0)
		return -1;
	return (long)fl.l_pid;
}

static int
pwd_lock(struct mirror_lock *ml, const char *pwd_path, int64_t start, const struct mirror_ctx *cx)
{
	int fd, r;

	fd = open(pwd_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot open %s: %m\"",
			  cx->path, pwd_path);
		return -1;
	}
	while ((r = pwd_lock_try(fd)) == LOCK_BUSY) {
		if (now_ms() - start >= (int64_t)mirror_lock_timeout_ms) {
			subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"lock timeout\" lock=%s "
				  "holder_pid=%ld waited_ms=%u", cx->path, pwd_path, pwd_lock_holder(fd),
				  mirror_lock_timeout_ms);
			close(fd);
			return -1;
		}
		sleep_ms(MIRROR_POLL_MS);
	}
	if (r == LOCK_ERROR) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot lock %s: %m\"",
			  cx->path, pwd_path);
		close(fd);
		return -1;
	}
	ml->pwd_fd = fd;
	return 0;
}

/* ---- "<path>.lock" --------------------------------------------------------- */

/* "123" or "123\0" or "123\n" (shadow writes the NUL) -> 123; -1 when not a pid. */
static long
parse_lock_pid(const char *buf, size_t len)
{
	long pid = 0;
	size_t i;

	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (pid > (INT_MAX - (buf[i] - '0')) / 10)
			return -1;
		pid = pid * 10 + (buf[i] - '0');
	}
	if (i == 0 || pid <= 0)
		return -1;
	if (i < len && buf[i] != '\0' && buf[i] != '\n')
		return -1;
	return pid;
}

static bool
lock_is_ours(const struct mirror_lock *ml)
{
	struct stat st;

	return lstat(ml->lock, &st) == 0 && st.st_dev == ml->dev && st.st_ino == ml->ino;
}

/* link() the temporary file to the lock, as do_lock_file(). */
static int
lock_link(struct mirror_lock *ml, const struct mirror_ctx *cx)
{
	struct stat st;

	if (link(ml->tmp, ml->lock) != 0) {
		if (errno == EEXIST)
			return LOCK_BUSY;
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot link %s: %m\"",
			  cx->path, ml->lock);
		return LOCK_ERROR;
	}
	/* shadow's check_link_count(): the link really is to our file */
	if (stat(ml->tmp, &st) != 0 || st.st_nlink != 2 || st.st_dev != ml->dev || st.st_ino != ml->ino) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"lock file %s not ours after link\"",
			  cx->path, ml->lock);
		if (lock_is_ours(ml))
			unlink(ml->lock);
		return LOCK_ERROR;
	}
	ml->held = true;
	return LOCK_HELD;
}

/*
 * The lock exists: who holds it?  LOCK_BUSY when a live process does or it
 * cannot be told (never broken then); LOCK_HELD after breaking a stale one
 * and taking it; LOCK_ERROR on errors.
 */
static int
lock_check_holder(struct mirror_lock *ml, const struct mirror_ctx *cx)
{
	char buf[32];
	struct stat st, now;
	ssize_t len;
	long pid;
	int fd;

	fd = open(ml->lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ml->busy_why = errno == ENOENT ? "released meanwhile" : "lock file unreadable";
		return LOCK_BUSY;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		ml->busy_why = "lock file unreadable";
		return LOCK_BUSY;
	}
	do
		len = read(fd, buf, sizeof(buf) - 1);
	while (len < 0 && errno == EINTR);
	close(fd);
	pid = len > 0 ? parse_lock_pid(buf, (size_t)len) : -1;
	ml->busy_pid = pid;
	if (pid < 0) {
		ml->busy_why = "lock file without a valid pid";
		return LOCK_BUSY;
	}
	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
		ml->busy_why = "held";
		return LOCK_BUSY;
	}
	/* stale: break it, unless someone replaced it since we read it */
	if (lstat(ml->lock, &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
		ml->busy_why = "released meanwhile";
		return LOCK_BUSY;
	}
	if (unlink(ml->lock) != 0 && errno != ENOENT) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot remove stale lock %s: %m\"",
			  cx->path, ml->lock);
		return LOCK_ERROR;
	}
	subid_log(cx->log, LOG_NOTICE, "mirror lock path=%s reason=\"removed stale lock of pid %ld\"",
		  cx->path, pid);
	return lock_link(ml, cx);
}

/* One attempt, as commonio_lock_nowait(). */
static int
lock_try(struct mirror_lock *ml, const struct mirror_ctx *cx)
{
	char buf[32];
	struct stat st;
	ssize_t len;
	int fd, rc = LOCK_ERROR;

	/* a leftover of a dead process that had our pid (or tid): ours now */
	if (unlink(ml->tmp) != 0 && errno != ENOENT) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot remove %s: %m\"",
			  cx->path, ml->tmp);
		return LOCK_ERROR;
	}
	fd = open(ml->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot create %s: %m\"",
			  cx->path, ml->tmp);
		return LOCK_ERROR;
	}
	len = snprintf(buf, sizeof(buf), "%ld", (long)getpid()) + 1;	/* with the NUL, as shadow */
	if (write(fd, buf, (size_t)len) != len || fdatasync(fd) != 0 || fstat(fd, &st) != 0) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot write %s: %m\"",
			  cx->path, ml->tmp);
		close(fd);
		goto out;
	}
	if (close(fd) != 0) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot write %s: %m\"",
			  cx->path, ml->tmp);
		goto out;
	}
	ml->dev = st.st_dev;
	ml->ino = st.st_ino;
	rc = lock_link(ml, cx);
	if (rc == LOCK_BUSY)
		rc = lock_check_holder(ml, cx);
out:
	unlink(ml->tmp);
	return rc;
}

static void
mirror_unlock(struct mirror_lock *ml, const struct mirror_ctx *cx)
{
	if (ml->held) {
		/* commonio_unlock(): the file's lock first, then .pwd.lock */
		if (lock_is_ours(ml))
			unlink(ml->lock);
		else
			subid_log(cx->log, LOG_WARNING, "mirror lock path=%s reason=\"%s was replaced while held\"",
				  cx->path, ml->lock);
		ml->held = false;
	}
	if (ml->pwd_fd >= 0) {
		close(ml->pwd_fd);
		ml->pwd_fd = -1;
	}
}

static void
mirror_lock_free(struct mirror_lock *ml)
{
	free(ml->lock);
	free(ml->tmp);
}

/* Both locks, or -1 (logged) with neither held. */
static int
mirror_lock(struct mirror_lock *ml, const char *path, const char *pwd_path, const struct mirror_ctx *cx)
{
	char suffix[48];
	int64_t start = now_ms();
	pid_t pid = getpid(), tid = gettid();
	int r;

	if (tid == pid)
		snprintf(suffix, sizeof(suffix), ".%ld", (long)pid);
	else
		snprintf(suffix, sizeof(suffix), ".%ld.%ld", (long)pid, (long)tid);
	ml->lock = str_cat(path, ".lock");
	ml->tmp = str_cat(path, suffix);
	if (ml->lock == NULL || ml->tmp == NULL) {
		subid_log(cx->log, LOG_CRIT, "mirror error path=%s reason=\"out of memory\"", cx->path);
		return -1;
	}
	if (pwd_path != NULL && pwd_lock(ml, pwd_path, start, cx) != 0)
		return -1;
	while ((r = lock_try(ml, cx)) == LOCK_BUSY) {
		if (now_ms() - start >= (int64_t)mirror_lock_timeout_ms) {
			subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"lock timeout: %s\" lock=%s "
				  "holder_pid=%ld waited_ms=%u", cx->path, ml->busy_why, ml->lock, ml->busy_pid,
				  mirror_lock_timeout_ms);
			break;
		}
		sleep_ms(MIRROR_POLL_MS);
	}
	if (r == LOCK_HELD)
		return 0;
	mirror_unlock(ml, cx);
	return -1;
}

/* ---- the file ------------------------------------------------------------------ */

static int
mirror_read(const char *path, struct mirror_file *mf, const struct mirror_ctx *cx)
{
	size_t cap;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			mf->exists = false;
			return 0;
		}
		if (errno == ELOOP)
			subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"symbolic link refused\"", cx->path);
		else
			subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot open: %m\"", cx->path);
		return -1;
	}
	if (fstat(fd, &mf->st) != 0) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"cannot stat: %m\"", cx->path);
		goto fail;
	}
	if (!S_ISREG(mf->st.st_mode)) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"not a regular file\"", cx->path);
		goto fail;
	}
	if (mf->st.st_size > MIRROR_MAX_SIZE)
		goto too_large;
	mf->exists = true;
	cap = (size_t)mf->st.st_size + 1;	/* + 1: EOF is seen without growing */
	if ((mf->data = malloc(cap)) == NULL)
		goto oom;
	for (;;) {
		if (mf->len == cap) {
			char *nd;

			if (cap > (size_t)MIRROR_MAX_SIZE)
				goto too_large;		/* it grew while we read */
			cap = cap * 2 > (size_t)MIRROR_MAX_SIZE + 1 ? (size_t)MIRROR_MAX_SIZE + 1 : cap * 2;
			if ((nd = realloc(mf->data, cap)) == NULL)
				goto oom;
			mf->data = nd;
		}
		n = read(fd, mf->data + mf->len, cap - mf->len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"read error: %m\"", cx->path);
			goto fail;
		}
		mf->len += (size_t)n;
	}
	close(fd);
	return 0;
too_large:
	subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"file too large\" limit=%lld",
		  cx->path, (long long)MIRROR_MAX_SIZE);
	goto fail;
oom:
	subid_log(cx->log, LOG_CRIT, "mirror error path=%s reason=\"out of memory\"", cx->path);
fail:
	close(fd);
	return -1;
}

static bool
line_is(const char *b, size_t n, const char *line, size_t ll)
{
	return n == ll && memcmp(b, line, ll) == 0;
}

/* The line at off: its length without '\n' in *n; returns the length with it. */
static size_t
next_line(const char *data, size_t len, size_t off, size_t *n)
{
	const char *nl = memchr(data + off, '\n', len - off);

	*n = nl != NULL ? (size_t)(nl - (data + off)) : len - off;
	return nl != NULL ? *n + 1 : *n;
}

static bool
has_line(const struct mirror_file *mf, const char *line, size_t ll)
{
	size_t off = 0, n, step;

	for (; off < mf->len; off += step) {
		step = next_line(mf->data, mf->len, off, &n);
		if (line_is(mf->data + off, n, line, ll))
			return true;
	}
	return false;
}

/* The file unchanged since we read it: no writer bypassed the lock. */
static bool
mirror_unchanged(const char *path, const struct mirror_file *mf)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return !mf->exists && errno == ENOENT;
	return mf->exists && st.st_dev == mf->st.st_dev && st.st_ino == mf->st.st_ino &&
	       st.st_size == mf->st.st_size && st.st_mtim.tv_sec == mf->st.st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == mf->st.st_mtim.tv_nsec;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory's entries on disk after the rename; a failure is only logged. */
static void
sync_dir(const char *path, const struct mirror_ctx *cx)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (dir == NULL) {
		subid_log(cx->log, LOG_WARNING, "mirror warning path=%s reason=\"directory not synced: out of memory\"",
			  cx->path);
		return;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fsync(fd) != 0)
		subid_log(cx->log, LOG_WARNING, "mirror warning path=%s reason=\"directory not synced: %m\"",
			  cx->path);
	if (fd >= 0)
		close(fd);
	free(dir);
}

/*
 * Replace path with data: a new file in the same directory, same mode and
 * owner, synced, renamed over it.  -1 (logged) leaves path as it was.
 */
static int
mirror_write(const char *path, const struct mirror_file *mf, const char *data, size_t len,
	     const struct mirror_lock *ml, const struct mirror_ctx *cx)
{
	uid_t uid = mf->exists ? mf->st.st_uid : 0;
	gid_t gid = mf->exists ? mf->st.st_gid : 0;
	mode_t mode = mf->exists ? (mf->st.st_mode & 07777) : 0644;
	const char *what;
	struct stat st;
	char *tmp;
	int fd;

	if ((tmp = str_cat(path, MIRROR_TMP_SUFFIX)) == NULL) {
		subid_log(cx->log, LOG_CRIT, "mirror error path=%s reason=\"out of memory\"", cx->path);
		return -1;
	}
	/* only we write it, and only under the lock: a leftover is ours */
	if (unlink(tmp) != 0 && errno != ENOENT) {
		what = "cannot remove old temporary file";
		goto fail_errno;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		what = "cannot create temporary file";
		goto fail_errno;
	}
	what = "cannot write temporary file";
	if (fstat(fd, &st) != 0)
		goto fail_fd;
	if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) != 0) {
		what = "cannot set owner of temporary file";
		goto fail_fd;
	}
	if (fchmod(fd, mode) != 0) {
		what = "cannot set mode of temporary file";
		goto fail_fd;
	}
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0)
		goto fail_fd;
	if (close(fd) != 0)
		goto fail_errno;
	if (!lock_is_ours(ml)) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"lock %s lost\"", cx->path, ml->lock);
		goto fail;
	}
	if (!mirror_unchanged(path, mf)) {
		subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"changed by a writer that "
			  "ignores the lock\"", cx->path);
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		what = "cannot rename temporary file";
		goto fail_errno;
	}
	free(tmp);
	sync_dir(path, cx);
	return 0;
fail_fd:
	subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"%s: %m\"", cx->path, what);
	close(fd);
	goto fail;
fail_errno:
	subid_log(cx->log, LOG_ERR, "mirror error path=%s reason=\"%s: %m\"", cx->path, what);
fail:
	unlink(tmp);
	free(tmp);
	return -1;
}

/* ---- add / remove ----------------------------------------------------------------- */

static int
mirror_update(const char *path, const char *pwd_path, bool add, const char *owner,
	      uint64_t start, uint64_t count, const struct subid_log *log)
{
	struct mirror_lock ml = { .pwd_fd = -1, .busy_pid = -1, .busy_why = "held" };
	struct mirror_file mf;
	struct mirror_ctx cx;
	char line[MIRROR_LINE_MAX], eline[MIRROR_LINE_MAX];
	char *out = NULL;
	size_t ll, olen = 0, removed = 0;
	const char *problem;
	uint64_t end;
	int rc = -1;

	memset(&mf, 0, sizeof(mf));
	cx.log = log;
	subid_log_str(path, cx.path, sizeof(cx.path));
	subid_log_str(owner, cx.owner, sizeof(cx.owner));
	if (path == NULL || path[0] != '/' || path[strlen(path) - 1] == '/' || strlen(path) >= PATH_MAX - 64) {
		subid_log(log, LOG_ERR, "mirror error path=%s reason=\"not an absolute file path\"", cx.path);
		return -1;
	}
	if ((problem = owner_problem(owner)) != NULL) {
		subid_log(log, LOG_ERR, "mirror error path=%s owner=%s reason=\"%s\"", cx.path, cx.owner, problem);
		return -1;
	}
	if (!subid_range_end(start, count, &end)) {
		subid_log(log, LOG_ERR, "mirror error path=%s owner=%s start=%" PRIu64 " count=%" PRIu64
			  " reason=\"empty range or past the ID space\"", cx.path, cx.owner, start, count);
		return -1;
	}
	ll = (size_t)snprintf(line, sizeof(line), "%s:%" PRIu64 ":%" PRIu64, owner, start, count);
	/* the line as logged: the owner may hold spaces (AD names) that would forge key=value fields */
	subid_log_str(line, eline, sizeof(eline));

	if (mirror_lock(&ml, path, pwd_path, &cx) != 0)
		goto out;
	if (mirror_read(path, &mf, &cx) != 0)
		goto out;
	if (add) {
		bool nl;

		if (has_line(&mf, line, ll)) {
			subid_log(log, LOG_DEBUG, "mirror present path=%s entry=%s", cx.path, eline);
			rc = 0;
			goto out;
		}
		nl = mf.len > 0 && mf.data[mf.len - 1] != '\n';
		if ((out = malloc(mf.len + (size_t)nl + ll + 1)) == NULL)
			goto oom;
		if (mf.len > 0)
			memcpy(out, mf.data, mf.len);
		olen = mf.len;
		if (nl)
			out[olen++] = '\n';
		memcpy(out + olen, line, ll);
		olen += ll;
		out[olen++] = '\n';
	} else {
		size_t off, n, step;

		if (!has_line(&mf, line, ll)) {
			subid_log(log, LOG_DEBUG, "mirror absent path=%s entry=%s", cx.path, eline);
			rc = 0;
			goto out;
		}
		if ((out = malloc(mf.len)) == NULL)
			goto oom;
		for (off = 0; off < mf.len; off += step) {
			step = next_line(mf.data, mf.len, off, &n);
			if (line_is(mf.data + off, n, line, ll)) {
				removed++;
				continue;
			}
			memcpy(out + olen, mf.data + off, step);
			olen += step;
		}
	}
	if (mirror_write(path, &mf, out, olen, &ml, &cx) != 0)
		goto out;
	if (add)
		subid_log(log, LOG_INFO, "mirror added path=%s entry=%s", cx.path, eline);
	else
		subid_log(log, LOG_INFO, "mirror removed path=%s entry=%s lines=%zu", cx.path, eline, removed);
	rc = 0;
	goto out;
oom:
	subid_log(log, LOG_CRIT, "mirror error path=%s reason=\"out of memory\"", cx.path);
out:
	mirror_unlock(&ml, &cx);
	mirror_lock_free(&ml);
	free(mf.data);
	free(out);
	return rc;
}

int
subid_mirror_add(const char *path, const char *owner, uint64_t start, uint64_t count,
		 const struct subid_log *log)
{
	return mirror_update(path, path != NULL ? mirror_pwd_lock_path(path) : NULL, true,
			     owner, start, count, log);
}

int
subid_mirror_remove(const char *path, const char *owner, uint64_t start, uint64_t count,
		    const struct subid_log *log)
{
	return mirror_update(path, path != NULL ? mirror_pwd_lock_path(path) : NULL, false,
			     owner, start, count, log);
}
