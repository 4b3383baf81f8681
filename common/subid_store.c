#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "subid_config.h"
#include "subid_store.h"

#define SCHEMA_VERSION 1
/*
 * How long to wait for another connection's lock.  A reader waits only for a
 * commit to finish; a first login may queue behind a burst of other first
 * logins (SQLite's busy handler is not fair), so writers wait longer.
 */
#define BUSY_TIMEOUT_MS 5000
#define WRITER_BUSY_TIMEOUT_MS 15000

struct subid_store {
	sqlite3 *db;
	const struct subid_log *log;
	char *path;
	bool readonly;
	int fd;			/* read-only: the checked database file, SHARED-locked */
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ranges("
	"  uid INTEGER NOT NULL CHECK (uid >= 0 AND uid < 4294967295),"
	"  kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
	"  start INTEGER NOT NULL CHECK (start >= 0),"
	"  count INTEGER NOT NULL CHECK (count > 0 AND start + count <= 4294967295),"
	"  name TEXT,"
	"  granted INTEGER NOT NULL,"
	"  PRIMARY KEY (uid, kind));"
	"CREATE UNIQUE INDEX IF NOT EXISTS ranges_by_start ON ranges(kind, start);"
	/* free spans of the pool, not counting /etc/subuid entries (checked per allocation) */
	"CREATE TABLE IF NOT EXISTS free("
	"  start INTEGER PRIMARY KEY NOT NULL,"
	"  end INTEGER NOT NULL CHECK (end > start));"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', 1);";

static void
db_error(struct subid_store *st, const char *what)
{
	subid_log(st->log, LOG_ERR, "store error path=%s op=%s reason=\"%s\"", st->path, what,
		  st->db ? sqlite3_errmsg(st->db) : "out of memory");
}

/*
 * Every directory above the store must be one that only root (or owner_uid)
 * can change: owned by them, and not writable by group/others unless sticky
 * (then nobody else can rename or remove what root put there).  Otherwise
 * another user could swap the store or its directory behind our checks.
 */
static int
check_ancestors(const char *dir, uid_t owner_uid, const struct subid_log *log, const char *path)
{
	char *real = realpath(dir, NULL);
	size_t len;
	int rc = 0;

	if (real == NULL)
		return errno == ENOENT ? 1 : -1;
	len = strlen(real);
	/* "/", then every prefix that ends before a '/', then the directory itself */
	for (size_t i = 1; i <= len && rc == 0; i++) {
		struct stat st;
		char save;

		if (i != 1 && i != len && real[i] != '/')
			continue;
		save = real[i];
		real[i] = '\0';
		if (stat(real, &st) != 0) {
			rc = -1;
		} else if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != owner_uid) ||
			   ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)) {
			subid_log(log, LOG_ERR, "store refused path=%s reason=\"directory %s can be changed "
				  "by users other than root\"", path, real);
			errno = EPERM;
			rc = -2;
		}
		real[i] = save;
	}
	free(real);
	return rc;
}

/* dir must be a real directory owned by owner_uid and not writable by group/others. */
static int
check_dir(const char *dir, uid_t owner_uid, const struct subid_log *log, const char *path)
{
	struct stat st;
	int fd, rc;

	rc = check_ancestors(dir, owner_uid, log, path);
	if (rc != 0)
		return rc;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (st.st_uid != owner_uid || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		subid_log(log, LOG_ERR, "store refused path=%s reason=\"directory %s is not owned by uid %u "
			  "or is writable by group/others\"", path, dir, (unsigned)owner_uid);
		errno = EPERM;
		return -2;
	}
	return 0;
}

/* chmod of a directory that is not followed through a symbolic link (ELOOP, ENOTDIR). */
static int
chmod_dir_nofollow(const char *dir, mode_t mode)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc, e;

	if (fd < 0)
		return -1;
	rc = fchmod(fd, mode);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int
split_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (path[0] != '/' || slash == NULL || slash[1] == '\0')
		return -1;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/*
 * Check (and for rw, create) the directory and the database file.
 * Returns 0 ready, 1 database missing (ro), -1 error (logged).  With fdout,
 * the checked file stays open there (read-only opens read through it).
 */
static int
prepare_files(const char *path, uid_t owner_uid, bool create, int *fdout, const struct subid_log *log)
{
	char dir[PATH_MAX];
	int rc, fd;

	if (split_dir(path, dir, sizeof(dir)) != 0) {
		subid_log(log, LOG_ERR, "store refused path=%s reason=\"not an absolute file path\"", path);
		return -1;
	}
	rc = check_dir(dir, owner_uid, log, path);
	if (rc == -2)
		return -1;
	if (rc == 1 && !create)
		return 1;
	if (rc == 1) {
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot create directory %s: %m\"", path, dir);
			return -1;
		}
		/*
		 * umask of the host process must not decide who can read the
		 * store; the mode is set through a descriptor of the directory
		 * itself, so a symbolic link put in its place meanwhile is
		 * never followed (check_dir below refuses it).
		 */
		if (chmod_dir_nofollow(dir, 0755) != 0 && errno != ELOOP && errno != ENOTDIR) {
			subid_log(log, LOG_ERR, "store error path=%s reason=\"chmod %s: %m\"", path, dir);
			return -1;
		}
		rc = check_dir(dir, owner_uid, log, path);
	}
	if (rc != 0) {
		if (rc == -1)
			subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot open directory %s: %m\"", path, dir);
		return -1;
	}
	fd = subid_open_trusted(path, owner_uid);
	if (fd >= 0) {
		if (fdout != NULL)
			*fdout = fd;
		else
			close(fd);
		return 0;
	}
	if (errno == ENOENT && create) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno == EEXIST)
			return prepare_files(path, owner_uid, false, fdout, log);
		if (fd < 0 || fchmod(fd, 0644) != 0) {
			subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot create: %m\"", path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (errno == ENOENT)
		return 1;
	if (errno == EPERM)
		subid_log(log, LOG_ERR, "store refused path=%s reason=\"not a regular file owned by uid %u, "
			  "or writable by group/others\"", path, (unsigned)owner_uid);
	else if (errno == ELOOP)
		subid_log(log, LOG_ERR, "store refused path=%s reason=\"symbolic link\"", path);
	else
		subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot open: %m\"", path);
	return -1;
}

/*
 * 1 when the schema exists (and has our version), 0 when the database is
 * empty, -1 on error or a schema we do not know (logged when "report").
 * Without a lock the answer may be stale: another login can be creating the
 * schema at this instant, so only a locked check may report.
 */
static int
schema_current(struct subid_store *st, bool report)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		/* "no such table" on a new, empty database */
		int empty = 0;
		sqlite3_stmt *c = NULL;

		if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &c, NULL) == SQLITE_OK &&
		    sqlite3_step(c) == SQLITE_ROW && sqlite3_column_int(c, 0) == 0)
			empty = 1;
		sqlite3_finalize(c);
		if (empty)
			return 0;
		if (report)
			db_error(st, "schema");
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_int(s, 0) == SCHEMA_VERSION) {
		sqlite3_finalize(s);
		return 1;
	}
	if (report) {
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			subid_log(st->log, LOG_ERR, "store error path=%s reason=\"unknown schema version\"",
				  st->path);
		else
			db_error(st, "schema");
	}
	sqlite3_finalize(s);
	return -1;
}


/* ---- read-only access through the checked descriptor -------------------------------- *
 *
 * The plugin runs inside setuid newuidmap: checking the file by name and then
 * letting SQLite open it by name again would let the file be swapped in
 * between.  So a read-only store is read through the very descriptor that
 * was checked, by a minimal SQLite VFS ("subid-fd") that serves one main
 * database from an fd and nothing else (no journal, no temp files).  Its
 * SHARED lock is SQLite's own byte-range protocol on that fd, taken as an
 * open-file-description lock (F_OFD_SETLK): it conflicts with the POSIX
 * locks of SQLite's unix VFS in other processes, so writers and readers
 * exclude each other exactly as with that VFS, but it belongs to this
 * descriptor alone.  A classic POSIX lock belongs to the whole process and
 * dies with the close of any descriptor of the file, so another thread's
 * store closing (podman calls libsubid from many threads) would drop a
 * reader's lock in mid-read and let a writer rewrite the pages it reads.
 * A hot journal left by a writer that crashed is refused (fail closed):
 * only a writer, at the next login, may roll it back.
 */
#define LOCK_PENDING 0x40000000
#define LOCK_RESERVED (LOCK_PENDING + 1)
#define LOCK_SHARED_FIRST (LOCK_PENDING + 2)
#define LOCK_SHARED_SIZE 510
#define FD_VFS_NAME "subid-fd"

struct fd_file {
	sqlite3_file base;
	int fd;
	char path[PATH_MAX];	/* the database, to find its journal */
};

static int shared_lock(int fd);
static void shared_unlock(int fd);
static int hot_journal(const char *path, int fd);

static int
fdf_close(sqlite3_file *f)
{
	(void)f;
	return SQLITE_OK;	/* the store owns the fd */
}

static int
fdf_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct fd_file *ff = (struct fd_file *)f;
	size_t done = 0;

	while (done < (size_t)amt) {
		ssize_t n = pread(ff->fd, (char *)buf + done, (size_t)amt - done, (off_t)off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SQLITE_IOERR_READ;
		if (n == 0) {
			memset((char *)buf + done, 0, (size_t)amt - done);
			return SQLITE_IOERR_SHORT_READ;
		}
		done += (size_t)n;
	}
	return SQLITE_OK;
}

static int
fdf_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	(void)f; (void)buf; (void)amt; (void)off;
	return SQLITE_READONLY;
}

static int
fdf_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	(void)f; (void)size;
	return SQLITE_READONLY;
}

static int
fdf_sync(sqlite3_file *f, int flags)
{
	(void)f; (void)flags;
	return SQLITE_OK;
}

static int
fdf_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct stat st;

	if (fstat(((struct fd_file *)f)->fd, &st) != 0)
		return SQLITE_IOERR_FSTAT;
	*size = st.st_size;
	return SQLITE_OK;
}

static int
fdf_lock(sqlite3_file *f, int level)
{
	struct fd_file *ff = (struct fd_file *)f;
	int rc;

	if (level != SQLITE_LOCK_SHARED)
		return SQLITE_READONLY;
	rc = shared_lock(ff->fd);
	if (rc != 0)
		return rc > 0 ? SQLITE_BUSY : SQLITE_IOERR_LOCK;
	if (hot_journal(ff->path, ff->fd) != 0) {
		shared_unlock(ff->fd);
		return SQLITE_IOERR_LOCK;
	}
	return SQLITE_OK;
}

static int
fdf_unlock(sqlite3_file *f, int level)
{
	if (level == SQLITE_LOCK_NONE)
		shared_unlock(((struct fd_file *)f)->fd);
	return SQLITE_OK;
}

static int
fdf_check_reserved(sqlite3_file *f, int *out)
{
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_RESERVED, .l_len = 1 };

	if (fcntl(((struct fd_file *)f)->fd, F_OFD_GETLK, &l) != 0)
		return SQLITE_IOERR_CHECKRESERVEDLOCK;
	*out = l.l_type != F_UNLCK;
	return SQLITE_OK;
}

static int
fdf_control(sqlite3_file *f, int op, void *arg)
{
	(void)f; (void)op; (void)arg;
	return SQLITE_NOTFOUND;
}

static int
fdf_sector(sqlite3_file *f)
{
	(void)f;
	return 512;
}

static int
fdf_devchar(sqlite3_file *f)
{
	(void)f;
	return 0;
}

static const sqlite3_io_methods fd_io = {
	.iVersion = 1,
	.xClose = fdf_close,
	.xRead = fdf_read,
	.xWrite = fdf_write,
	.xTruncate = fdf_truncate,
	.xSync = fdf_sync,
	.xFileSize = fdf_size,
	.xLock = fdf_lock,
	.xUnlock = fdf_unlock,
	.xCheckReservedLock = fdf_check_reserved,
	.xFileControl = fdf_control,
	.xSectorSize = fdf_sector,
	.xDeviceCharacteristics = fdf_devchar,
};

/* "subid-fd:N:PATH" names descriptor N of database PATH; nothing else opens. */
static int
fdv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outflags)
{
	struct fd_file *ff = (struct fd_file *)f;
	char num[16];
	const char *colon;
	uint64_t fd;

	(void)vfs;
	ff->base.pMethods = NULL;
	if (name == NULL || (flags & SQLITE_OPEN_MAIN_DB) == 0 || (flags & SQLITE_OPEN_READONLY) == 0 ||
	    strncmp(name, FD_VFS_NAME ":", sizeof(FD_VFS_NAME)) != 0)
		return SQLITE_CANTOPEN;
	name += sizeof(FD_VFS_NAME);
	colon = strchr(name, ':');
	if (colon == NULL || (size_t)(colon - name) >= sizeof(num) ||
	    snprintf(ff->path, sizeof(ff->path), "%s", colon + 1) >= (int)sizeof(ff->path))
		return SQLITE_CANTOPEN;
	memcpy(num, name, (size_t)(colon - name));
	num[colon - name] = '\0';
	if (!subid_parse_u64(num, &fd) || fd > INT_MAX)
		return SQLITE_CANTOPEN;
	ff->fd = (int)fd;
	ff->base.pMethods = &fd_io;
	if (outflags != NULL)
		*outflags = SQLITE_OPEN_READONLY;
	return SQLITE_OK;
}

static int
fdv_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs; (void)name; (void)sync;
	return SQLITE_IOERR_DELETE;
}

static int
fdv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs; (void)name; (void)flags;
	*out = 0;	/* no journal or WAL file exists as far as this VFS knows */
	return SQLITE_OK;
}

static int
fdv_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	if (snprintf(out, (size_t)n, "%s", name) >= n)
		return SQLITE_CANTOPEN;
	return SQLITE_OK;
}

static int
fdv_random(sqlite3_vfs *vfs, int n, char *out)
{
	sqlite3_vfs *d = vfs->pAppData;

	return d->xRandomness(d, n, out);
}

static int
fdv_sleep(sqlite3_vfs *vfs, int us)
{
	sqlite3_vfs *d = vfs->pAppData;

	return d->xSleep(d, us);
}

static int
fdv_time(sqlite3_vfs *vfs, double *out)
{
	sqlite3_vfs *d = vfs->pAppData;

	return d->xCurrentTime(d, out);
}

static int
fdv_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	if (n > 0)
		out[0] = '\0';
	return 0;
}

static sqlite3_vfs fd_vfs = {
	.iVersion = 1,
	.szOsFile = sizeof(struct fd_file),
	.mxPathname = PATH_MAX + 32,
	.zName = FD_VFS_NAME,
	.xOpen = fdv_open,
	.xDelete = fdv_delete,
	.xAccess = fdv_access,
	.xFullPathname = fdv_fullpath,
	.xRandomness = fdv_random,
	.xSleep = fdv_sleep,
	.xCurrentTime = fdv_time,
	.xGetLastError = fdv_lasterr,
};

static pthread_once_t fd_vfs_once = PTHREAD_ONCE_INIT;
static int fd_vfs_rc = SQLITE_ERROR;

static void
fd_vfs_register(void)
{
	fd_vfs.pAppData = sqlite3_vfs_find(NULL);
	if (fd_vfs.pAppData != NULL)
		fd_vfs_rc = sqlite3_vfs_register(&fd_vfs, 0);
}

/* PAM and libsubid may unload us: SQLite must not keep a pointer into this object. */
__attribute__((destructor)) static void
fd_vfs_unregister(void)
{
	if (fd_vfs_rc == SQLITE_OK)
		sqlite3_vfs_unregister(&fd_vfs);
}

/* SQLite's SHARED lock on fd: 0 held, 1 busy (a writer is committing), -1 error. */
static int
shared_lock(int fd)
{
	struct flock l = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = LOCK_PENDING, .l_len = 1 };
	int rc = 0;

	if (fcntl(fd, F_OFD_SETLK, &l) != 0)
		return (errno == EAGAIN || errno == EACCES) ? 1 : -1;
	l.l_start = LOCK_SHARED_FIRST;
	l.l_len = LOCK_SHARED_SIZE;
	if (fcntl(fd, F_OFD_SETLK, &l) != 0)
		rc = (errno == EAGAIN || errno == EACCES) ? 1 : -1;
	l.l_type = F_UNLCK;
	l.l_start = LOCK_PENDING;
	l.l_len = 1;
	fcntl(fd, F_OFD_SETLK, &l);
	return rc;
}

static void
shared_unlock(int fd)
{
	struct flock l = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = LOCK_SHARED_FIRST,
			   .l_len = LOCK_SHARED_SIZE };

	fcntl(fd, F_OFD_SETLK, &l);
}

/*
 * Is there a journal that a crashed writer left?  SQLite's own test: it
 * exists, nobody holds RESERVED, and its first byte is not zero (a journal
 * whose header was never written is ignored, not rolled back).
 */
static int
hot_journal(const char *path, int fd)
{
	char jpath[PATH_MAX];
	struct stat st;
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_RESERVED, .l_len = 1 };
	unsigned char first = 0;
	ssize_t n;
	int jfd;

	if (snprintf(jpath, sizeof(jpath), "%s-journal", path) >= (int)sizeof(jpath))
		return -1;
	if (lstat(jpath, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (st.st_size == 0)
		return 0;
	if (fcntl(fd, F_OFD_GETLK, &l) != 0)
		return -1;
	if (l.l_type != F_UNLCK)
		return 0;
	jfd = open(jpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (jfd < 0)
		return errno == ENOENT ? 0 : -1;
	do
		n = pread(jfd, &first, 1, 0);
	while (n < 0 && errno == EINTR);
	close(jfd);
	if (n < 0)
		return -1;
	return n == 1 && first != 0;
}

/* 0 ready, 1 empty database (no grants yet), -1 error (logged). */
static int
open_ro_fd(struct subid_store *st)
{
	char name[sizeof(FD_VFS_NAME) + 16 + PATH_MAX];
	struct stat sb;
	int rc;

	/* the lock callback refuses a hot journal too; this says why */
	rc = hot_journal(st->path, st->fd);
	if (rc != 0) {
		subid_log(st->log, LOG_ERR, "store error path=%s reason=\"%s\"", st->path,
			  rc > 0 ? "hot journal: a writer died mid-transaction; the next login rolls it back"
				 : "cannot check the journal");
		return -1;
	}
	if (fstat(st->fd, &sb) != 0) {
		subid_log(st->log, LOG_ERR, "store error path=%s reason=\"%m\"", st->path);
		return -1;
	}
	if (sb.st_size == 0)
		return 1;
	pthread_once(&fd_vfs_once, fd_vfs_register);
	if (fd_vfs_rc != SQLITE_OK) {
		subid_log(st->log, LOG_ERR, "store error path=%s reason=\"cannot register the VFS\"", st->path);
		return -1;
	}
	if (snprintf(name, sizeof(name), "%s:%d:%s", FD_VFS_NAME, st->fd, st->path) >= (int)sizeof(name)) {
		subid_log(st->log, LOG_ERR, "store error path=%s reason=\"path too long\"", st->path);
		return -1;
	}
	if (sqlite3_open_v2(name, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX |
			    SQLITE_OPEN_PRIVATECACHE, FD_VFS_NAME) != SQLITE_OK) {
		db_error(st, "open");
		return -1;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(st->db, "PRAGMA query_only = ON; PRAGMA trusted_schema = OFF; "
			 "PRAGMA temp_store = MEMORY;", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "open");
		return -1;
	}
	return 0;
}

/* Create the schema unless it exists; decided under the write lock. */
static int
create_schema(struct subid_store *st)
{
	int rc;

	if (sqlite3_exec(st->db, "PRAGMA journal_mode = DELETE;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "schema");
		return -1;
	}
	rc = schema_current(st, true);
	if (rc == 0 && (sqlite3_exec(st->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)) {
		db_error(st, "schema");
		rc = -1;
	}
	if (rc < 0) {
		sqlite3_exec(st->db, "ROLLBACK;", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(st->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "schema");
		sqlite3_exec(st->db, "ROLLBACK;", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static int
store_open(struct subid_store **out, const char *path, uid_t owner_uid, bool ro,
	   const struct subid_log *log)
{
	struct subid_store *st;
	int rc, fd = -1;

	*out = NULL;
	rc = prepare_files(path, owner_uid, !ro, ro ? &fd : NULL, log);
	if (rc != 0)
		return rc == 1 ? SUBID_STORE_NOTFOUND : SUBID_STORE_ERR;
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->path = strdup(path)) == NULL) {
		free(st);
		if (fd >= 0)
			close(fd);
		subid_log(log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", path);
		return SUBID_STORE_ERR;
	}
	st->log = log;
	st->readonly = ro;
	st->fd = fd;
	if (ro) {
		rc = open_ro_fd(st);
		if (rc == 0) {
			sqlite3_extended_result_codes(st->db, 1);
			/*
			 * A database of another layout (a later version of ours, or not
			 * ours at all) is not guessed at: fail closed.  The schema is
			 * created in one transaction, so a reader sees all of it or none.
			 */
			rc = schema_current(st, true);
			if (rc == 1) {
				*out = st;
				return SUBID_STORE_OK;
			}
			rc = rc == 0 ? 1 : -1;
		}
		subid_store_close(st);
		return rc == 1 ? SUBID_STORE_NOTFOUND : SUBID_STORE_ERR;
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
			     SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_PRIVATECACHE, NULL);
	if (rc != SQLITE_OK) {
		db_error(st, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, WRITER_BUSY_TIMEOUT_MS);
	/*
	 * Rollback journal, so that readers without write access to the
	 * directory can read (WAL would need a writable -shm file).
	 */
	if (sqlite3_exec(st->db, "PRAGMA trusted_schema = OFF; PRAGMA synchronous = FULL;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "pragma");
		goto fail;
	}
	/*
	 * Every later open (every login) finds the schema without a write lock.
	 * Otherwise look again under the write lock, where the answer is final:
	 * simultaneous first logins on a new store create it exactly once.
	 */
	if (schema_current(st, false) != 1 && create_schema(st) != 0)
		goto fail;
	*out = st;
	return SUBID_STORE_OK;
fail:
	subid_store_close(st);
	return SUBID_STORE_ERR;
}

int
subid_store_open_rw(struct subid_store **st, const char *path, uid_t owner_uid, const struct subid_log *log)
{
	return store_open(st, path, owner_uid, false, log);
}

int
subid_store_open_ro(struct subid_store **st, const char *path, uid_t owner_uid, const struct subid_log *log)
{
	return store_open(st, path, owner_uid, true, log);
}

void
subid_store_close(struct subid_store *st)
{
	if (st == NULL)
		return;
	if (st->db != NULL)
		sqlite3_close_v2(st->db);
	if (st->fd >= 0)
		close(st->fd);
	free(st->path);
	free(st);
}

/* ---- small statement helpers ---------------------------------------------- */

static sqlite3_stmt *
prep(struct subid_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_error(st, "prepare");
		return NULL;
	}
	return s;
}

/* Run a statement that returns no rows; bind up to three integers. */
static int
exec3(struct subid_store *st, const char *sql, int n, int64_t a, int64_t b, int64_t c)
{
	sqlite3_stmt *s = prep(st, sql);
	int rc;

	if (s == NULL)
		return -1;
	if (n > 0) sqlite3_bind_int64(s, 1, a);
	if (n > 1) sqlite3_bind_int64(s, 2, b);
	if (n > 2) sqlite3_bind_int64(s, 3, c);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		db_error(st, "write");
		return -1;
	}
	return 0;
}

static bool
row_range(sqlite3_stmt *s, int col, struct subid_grant *g)
{
	int64_t start = sqlite3_column_int64(s, col), count = sqlite3_column_int64(s, col + 1);
	uint64_t end;

	if (start < 0 || count <= 0 || !subid_range_end((uint64_t)start, (uint64_t)count, &end))
		return false;
	g->start = (uint64_t)start;
	g->count = (uint64_t)count;
	return true;
}

/* ---- lookups ------------------------------------------------------------------ */

/*
 * Step a query that returns at most one row: SQLITE_ROW, or the result the
 * caller returns when there is none (NOTFOUND) or on an error (ERR, logged).
 */
static int
step_one(struct subid_store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return SQLITE_ROW;
	if (rc == SQLITE_DONE)
		return SUBID_STORE_NOTFOUND;
	db_error(st, "read");
	return SUBID_STORE_ERR;
}

int
subid_store_get(struct subid_store *st, uid_t uid, enum subid_kind kind, struct subid_grant *out)
{
	sqlite3_stmt *s = prep(st, "SELECT start, count FROM ranges WHERE uid = ?1 AND kind = ?2");
	int rc;

	if (s == NULL)
		return SUBID_STORE_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)uid);
	sqlite3_bind_int(s, 2, (int)kind);
	rc = step_one(st, s);
	if (rc == SQLITE_ROW) {
		rc = row_range(s, 0, out) ? SUBID_STORE_OK : SUBID_STORE_ERR;
		if (rc != SUBID_STORE_OK)
			subid_log(st->log, LOG_ERR, "store error path=%s uid=%u reason=\"invalid range row\"", st->path, (unsigned)uid);
	}
	sqlite3_finalize(s);
	return rc;
}

int
subid_store_name(struct subid_store *st, uid_t uid, char **name)
{
	sqlite3_stmt *s = prep(st, "SELECT name FROM ranges WHERE uid = ?1 ORDER BY kind LIMIT 1");
	int rc;

	*name = NULL;
	if (s == NULL)
		return SUBID_STORE_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)uid);
	rc = step_one(st, s);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		rc = SUBID_STORE_OK;
		if (v != NULL && (*name = strdup((const char *)v)) == NULL) {
			subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
			rc = SUBID_STORE_ERR;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

int
subid_store_foreach(struct subid_store *st, int (*fn)(const struct subid_row *row, void *ctx), void *ctx)
{
	sqlite3_stmt *s = prep(st, "SELECT uid, kind, start, count, name, granted FROM ranges ORDER BY uid, kind");
	int rc, ret = SUBID_STORE_OK;

	if (s == NULL)
		return SUBID_STORE_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct subid_row row;
		int64_t uid = sqlite3_column_int64(s, 0), kind = sqlite3_column_int64(s, 1);

		if (uid < 0 || uid >= (int64_t)SUBID_ID_LIMIT || (kind != SUBID_KIND_UID && kind != SUBID_KIND_GID) ||
		    !row_range(s, 2, &row.range)) {
			subid_log(st->log, LOG_ERR, "store error path=%s reason=\"invalid range row\"", st->path);
			ret = SUBID_STORE_ERR;
			break;
		}
		row.uid = (uid_t)uid;
		row.kind = (enum subid_kind)kind;
		row.name = (const char *)sqlite3_column_text(s, 4);
		row.granted = sqlite3_column_int64(s, 5);
		ret = fn(&row, ctx);
		if (ret != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(st, "read");
		ret = SUBID_STORE_ERR;
	}
	sqlite3_finalize(s);
	return ret;
}

int
subid_store_owner_of(struct subid_store *st, enum subid_kind kind, uint64_t id, uid_t *uid)
{
	/* ranges of one kind never overlap: the last one starting at or below id is the only candidate */
	sqlite3_stmt *s = prep(st, "SELECT uid, start, count FROM ranges WHERE kind = ?1 AND start <= ?2 "
				   "ORDER BY start DESC LIMIT 1");
	struct subid_grant g;
	int rc;

	if (s == NULL)
		return SUBID_STORE_ERR;
	if (id >= SUBID_ID_LIMIT) {
		sqlite3_finalize(s);
		return SUBID_STORE_NOTFOUND;
	}
	sqlite3_bind_int(s, 1, (int)kind);
	sqlite3_bind_int64(s, 2, (int64_t)id);
	rc = step_one(st, s);
	if (rc == SQLITE_ROW) {
		if (!row_range(s, 1, &g)) {
			rc = SUBID_STORE_ERR;
		} else if (id < g.start + g.count) {
			*uid = (uid_t)sqlite3_column_int64(s, 0);
			rc = SUBID_STORE_OK;
		} else {
			rc = SUBID_STORE_NOTFOUND;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * A row of another owner than except that overlaps [start, start + count),
 * of kind (0: either kind).  OK (*uid and *range set when not NULL),
 * NOTFOUND or ERR.  The store keeps ranges of different owners apart
 * whatever their kind, so at most a few rows can match.
 */
static int
overlap_row(struct subid_store *st, int kind, uint64_t start, uint64_t count, uid_t except, uid_t *uid,
	    struct subid_grant *range)
{
	sqlite3_stmt *s;
	struct subid_grant g;
	int rc;

	if (count == 0 || start >= SUBID_ID_LIMIT || count > SUBID_ID_LIMIT - start)
		return SUBID_STORE_NOTFOUND;
	s = prep(st, "SELECT uid, start, count FROM ranges WHERE uid != ?1 AND (?2 = 0 OR kind = ?2) "
		     "AND start < ?4 AND start + count > ?3 ORDER BY start LIMIT 1");
	if (s == NULL)
		return SUBID_STORE_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)except);
	sqlite3_bind_int(s, 2, kind);
	sqlite3_bind_int64(s, 3, (int64_t)start);
	sqlite3_bind_int64(s, 4, (int64_t)(start + count));
	rc = step_one(st, s);
	if (rc == SQLITE_ROW) {
		if (!row_range(s, 1, &g)) {
			rc = SUBID_STORE_ERR;
		} else {
			if (uid != NULL)
				*uid = (uid_t)sqlite3_column_int64(s, 0);
			if (range != NULL)
				*range = g;
			rc = SUBID_STORE_OK;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

int
subid_store_overlap(struct subid_store *st, int kind, uint64_t start, uint64_t count, uid_t except, uid_t *uid,
		    struct subid_grant *range)
{
	return overlap_row(st, kind, start, count, except, uid, range);
}

/* ---- the free-span index ----------------------------------------------------------- */

static int
meta_get(struct subid_store *st, const char *key, int64_t *v)
{
	sqlite3_stmt *s = prep(st, "SELECT value FROM meta WHERE key = ?1");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	db_error(st, "read");
	return -1;
}

static int
meta_set(struct subid_store *st, const char *key, int64_t v)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		db_error(st, "write");
		return -1;
	}
	return 0;
}

/* Is the free index built for this pool? 1 yes, 0 no, -1 error. */
static int
free_index_current(struct subid_store *st, const struct subid_pool *pool)
{
	int64_t lo, hi;
	int a = meta_get(st, "pool_min", &lo), b = meta_get(st, "pool_max", &hi);

	if (a < 0 || b < 0)
		return -1;
	return a == 0 && b == 0 && (uint64_t)lo == pool->min && (uint64_t)hi == pool->max;
}

/*
 * Rebuild free from the ranges table: the pool minus every stored range of
 * either kind.  O(owners), run only when the pool settings change.
 */
static int
free_index_rebuild(struct subid_store *st, const struct subid_pool *pool)
{
	sqlite3_stmt *s = prep(st, "SELECT start, start + count FROM ranges "
				   "WHERE start < ?2 AND start + count > ?1 ORDER BY start");
	uint64_t pos = pool->min;
	int rc;

	if (s == NULL || exec3(st, "DELETE FROM free", 0, 0, 0, 0) != 0) {
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_bind_int64(s, 1, (int64_t)pool->min);
	sqlite3_bind_int64(s, 2, (int64_t)pool->max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t a = (uint64_t)sqlite3_column_int64(s, 0), b = (uint64_t)sqlite3_column_int64(s, 1);

		if (a > pos && exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2,
				     (int64_t)pos, (int64_t)a, 0) != 0)
			goto fail;
		if (b > pos)
			pos = b;
	}
	if (rc != SQLITE_DONE) {
		db_error(st, "read");
		goto fail;
	}
	sqlite3_finalize(s);
	if (pool->max > pos && exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2,
				     (int64_t)pos, (int64_t)pool->max, 0) != 0)
		return -1;
	if (meta_set(st, "pool_min", (int64_t)pool->min) != 0 ||
	    meta_set(st, "pool_max", (int64_t)pool->max) != 0)
		return -1;
	return 0;
fail:
	sqlite3_finalize(s);
	return -1;
}

/* Return [a, b) (clipped to the pool) to the free index, merging neighbours. */
static int
free_index_add(struct subid_store *st, const struct subid_pool *pool, uint64_t a, uint64_t b)
{
	sqlite3_stmt *s;
	int rc;

	if (a < pool->min)
		a = pool->min;
	if (b > pool->max)
		b = pool->max;
	if (a >= b)
		return 0;
	/* absorb every span that touches or overlaps [a, b) */
	s = prep(st, "SELECT start, end FROM free WHERE start <= ?2 AND end >= ?1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, (int64_t)a);
	sqlite3_bind_int64(s, 2, (int64_t)b);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t sa = (uint64_t)sqlite3_column_int64(s, 0), sb = (uint64_t)sqlite3_column_int64(s, 1);
		if (sa < a)
			a = sa;
		if (sb > b)
			b = sb;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		db_error(st, "read");
		return -1;
	}
	if (exec3(st, "DELETE FROM free WHERE start >= ?1 AND start < ?2", 2, (int64_t)a, (int64_t)b, 0) != 0)
		return -1;
	return exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2, (int64_t)a, (int64_t)b, 0);
}

/* Take [s, s+count) out of the free span that starts at span_start. */
static int
free_index_take(struct subid_store *st, uint64_t span_start, uint64_t span_end, uint64_t s, uint64_t count)
{
	if (exec3(st, "DELETE FROM free WHERE start = ?1", 1, (int64_t)span_start, 0, 0) != 0)
		return -1;
	if (s > span_start &&
	    exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2, (int64_t)span_start, (int64_t)s, 0) != 0)
		return -1;
	if (span_end > s + count &&
	    exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2, (int64_t)(s + count),
		  (int64_t)span_end, 0) != 0)
		return -1;
	return 0;
}

/*
 * First fit over the free spans (ascending), each checked against taken[].
 * Only spans long enough are visited; in a store allocated with one
 * range_count there are no shorter ones, so this is an index seek.
 */
static int
find_slot(struct subid_store *st, const struct subid_pool *pool, const struct subid_interval *taken,
	  size_t ntaken, uint64_t *out)
{
	sqlite3_stmt *s = prep(st, "SELECT start, end FROM free WHERE end - start >= ?1 ORDER BY start");
	int rc, found = SUBID_STORE_FULL;

	if (s == NULL)
		return SUBID_STORE_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)pool->count);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t a = (uint64_t)sqlite3_column_int64(s, 0), b = (uint64_t)sqlite3_column_int64(s, 1);
		uint64_t slot;

		if (subid_first_fit(a, b, pool->min, pool->count, pool->count, taken, ntaken, &slot)) {
			sqlite3_finalize(s);
			if (free_index_take(st, a, b, slot, pool->count) != 0)
				return SUBID_STORE_ERR;
			*out = slot;
			return SUBID_STORE_OK;
		}
	}
	if (rc != SQLITE_DONE) {
		db_error(st, "read");
		found = SUBID_STORE_ERR;
	}
	sqlite3_finalize(s);
	return found;
}

/* ---- ensure / release ---------------------------------------------------------------- */

/* Current ranges and name of uid: bit 1 = has uid range, bit 2 = has gid range; -1 error. */
static int
owner_state(struct subid_store *st, uid_t uid, struct subid_grant *ur, struct subid_grant *gr, bool *name_ok,
	    const char *name)
{
	sqlite3_stmt *s = prep(st, "SELECT kind, start, count, name FROM ranges WHERE uid = ?1");
	int rc, have = 0;

	if (s == NULL)
		return -1;
	*name_ok = true;
	sqlite3_bind_int64(s, 1, (int64_t)uid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(s, 0);
		const unsigned char *n = sqlite3_column_text(s, 3);
		struct subid_grant *g = kind == SUBID_KIND_UID ? ur : kind == SUBID_KIND_GID ? gr : NULL;

		if (g == NULL || !row_range(s, 1, g)) {
			subid_log(st->log, LOG_ERR, "store error path=%s uid=%u reason=\"invalid range row\"", st->path, (unsigned)uid);
			sqlite3_finalize(s);
			return -1;
		}
		have |= kind;
		if (name != NULL && (n == NULL || strcmp((const char *)n, name) != 0))
			*name_ok = false;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		db_error(st, "read");
		return -1;
	}
	return have;
}

/* One range row; 0 or -1 (logged). */
static int
insert_range(struct subid_store *st, uid_t uid, int kind, uint64_t start, uint64_t count, const char *name,
	     int64_t now)
{
	sqlite3_stmt *s = prep(st, "INSERT INTO ranges(uid, kind, start, count, name, granted) "
				   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, (int64_t)uid);
	sqlite3_bind_int(s, 2, kind);
	sqlite3_bind_int64(s, 3, (int64_t)start);
	sqlite3_bind_int64(s, 4, (int64_t)count);
	sqlite3_bind_text(s, 5, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		db_error(st, "insert");
		return -1;
	}
	return 0;
}

static int
rollback(struct subid_store *st, int rc)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
subid_store_ensure(struct subid_store *st, uid_t uid, const char *name, const struct subid_pool *pool,
		   const struct subid_interval *taken, size_t ntaken,
		   struct subid_grant *uid_range, struct subid_grant *gid_range, bool *granted)
{
	struct subid_interval *sorted = NULL;
	bool name_ok;
	int have, rc;
	uint64_t slot = 0;
	int64_t now = (int64_t)time(NULL);

	*granted = false;
	if (st->readonly) {
		subid_log(st->log, LOG_ERR, "store error path=%s op=ensure reason=\"opened read-only\"", st->path);
		return SUBID_STORE_ERR;
	}
	if (pool->count == 0 || pool->min >= pool->max || pool->max > SUBID_ID_LIMIT ||
	    pool->count > pool->max - pool->min) {
		subid_log(st->log, LOG_ERR, "store error path=%s op=ensure reason=\"invalid pool\"", st->path);
		return SUBID_STORE_ERR;
	}
	/* The common case: the owner has both ranges.  One read, no write lock. */
	have = owner_state(st, uid, uid_range, gid_range, &name_ok, name);
	if (have < 0)
		return SUBID_STORE_ERR;
	if (have == 3 && name_ok)
		return SUBID_STORE_OK;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "begin");
		return SUBID_STORE_ERR;
	}
	/* someone else may have granted it meanwhile */
	have = owner_state(st, uid, uid_range, gid_range, &name_ok, name);
	if (have < 0)
		return rollback(st, SUBID_STORE_ERR);
	if (have != 3) {
		rc = free_index_current(st, pool);
		if (rc < 0 || (rc == 0 && free_index_rebuild(st, pool) != 0))
			return rollback(st, SUBID_STORE_ERR);
		/* first fit needs the taken intervals sorted and merged */
		if (ntaken > 0) {
			sorted = malloc(ntaken * sizeof(*sorted));
			if (sorted == NULL) {
				subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
				return rollback(st, SUBID_STORE_ERR);
			}
			memcpy(sorted, taken, ntaken * sizeof(*sorted));
			ntaken = subid_intervals_normalize(sorted, ntaken);
		}
		rc = find_slot(st, pool, sorted, ntaken, &slot);
		free(sorted);
		if (rc != SUBID_STORE_OK) {
			if (rc == SUBID_STORE_FULL)
				subid_log(st->log, LOG_ERR, "store full path=%s uid=%u reason=\"pool [%llu, %llu) "
					  "exhausted: no free range of %llu\"", st->path, (unsigned)uid,
					  (unsigned long long)pool->min, (unsigned long long)pool->max,
					  (unsigned long long)pool->count);
			return rollback(st, rc);
		}
		for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID; kind++) {
			struct subid_grant *g = kind == SUBID_KIND_UID ? uid_range : gid_range;

			if (have & kind)
				continue;
			if (insert_range(st, uid, kind, slot, pool->count, name, now) != 0)
				return rollback(st, SUBID_STORE_ERR);
			g->start = slot;
			g->count = pool->count;
		}
		*granted = true;
	}
	if (name != NULL && !name_ok) {
		sqlite3_stmt *s = prep(st, "UPDATE ranges SET name = ?2 WHERE uid = ?1");

		if (s == NULL)
			return rollback(st, SUBID_STORE_ERR);
		sqlite3_bind_int64(s, 1, (int64_t)uid);
		sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			db_error(st, "update");
			return rollback(st, SUBID_STORE_ERR);
		}
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "commit");
		*granted = false;
		return rollback(st, SUBID_STORE_ERR);
	}
	return SUBID_STORE_OK;
}

int
subid_store_release(struct subid_store *st, uid_t uid)
{
	struct subid_grant ur = { 0, 0 }, gr = { 0, 0 };
	struct subid_pool pool;
	int64_t lo, hi;
	bool name_ok;
	int have, cur;

	if (st->readonly)
		return SUBID_STORE_ERR;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "begin");
		return SUBID_STORE_ERR;
	}
	have = owner_state(st, uid, &ur, &gr, &name_ok, NULL);
	if (have < 0)
		return rollback(st, SUBID_STORE_ERR);
	if (have == 0)
		return rollback(st, SUBID_STORE_NOTFOUND);
	if (exec3(st, "DELETE FROM ranges WHERE uid = ?1", 1, (int64_t)uid, 0, 0) != 0)
		return rollback(st, SUBID_STORE_ERR);
	/* give the space back to the index the store was last allocated with */
	cur = meta_get(st, "pool_min", &lo) == 0 && meta_get(st, "pool_max", &hi) == 0;
	if (cur) {
		pool.min = (uint64_t)lo;
		pool.max = (uint64_t)hi;
		pool.count = 1;
		if (((have & 1) && free_index_add(st, &pool, ur.start, ur.start + ur.count) != 0) ||
		    ((have & 2) && free_index_add(st, &pool, gr.start, gr.start + gr.count) != 0))
			return rollback(st, SUBID_STORE_ERR);
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "commit");
		return rollback(st, SUBID_STORE_ERR);
	}
	return SUBID_STORE_OK;
}

static bool
same_ranges(const struct subid_grant *ur, const struct subid_grant *gr, const struct subid_grant *want_ur,
	    const struct subid_grant *want_gr)
{
	return ur->start == want_ur->start && ur->count == want_ur->count && gr->start == want_gr->start &&
	       gr->count == want_gr->count;
}

/*
 * Commit rows written from outside the allocator (an import, a replica of
 * the directory): the free-span index no longer matches them, so it is
 * dropped and the next local allocation rebuilds it.  Rolls back on failure.
 */
static int
commit_unindexed(struct subid_store *st)
{
	if (exec3(st, "DELETE FROM meta WHERE key IN ('pool_min', 'pool_max')", 0, 0, 0, 0) != 0)
		return rollback(st, SUBID_STORE_ERR);
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "commit");
		return rollback(st, SUBID_STORE_ERR);
	}
	return SUBID_STORE_OK;
}

int
subid_store_import(struct subid_store *st, uid_t uid, const char *name, const struct subid_grant *uid_range,
		   const struct subid_grant *gid_range, bool *changed)
{
	const struct subid_grant *want[3] = { NULL, uid_range, gid_range };
	struct subid_grant ur = { 0, 0 }, gr = { 0, 0 };
	int64_t now = (int64_t)time(NULL);
	bool name_ok;
	int have;

	*changed = false;
	if (st->readonly)
		return SUBID_STORE_ERR;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "begin");
		return SUBID_STORE_ERR;
	}
	have = owner_state(st, uid, &ur, &gr, &name_ok, name);
	if (have < 0)
		return rollback(st, SUBID_STORE_ERR);
	if (have != 0)
		return rollback(st, have == 3 && same_ranges(&ur, &gr, uid_range, gid_range) ? SUBID_STORE_OK :
				    SUBID_STORE_CONFLICT);
	for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID; kind++) {
		sqlite3_stmt *q = prep(st, "SELECT 1 FROM ranges WHERE uid != ?1 AND start < ?3 AND start + count > ?2 "
					   "LIMIT 1");
		int rc;

		if (q == NULL)
			return rollback(st, SUBID_STORE_ERR);
		sqlite3_bind_int64(q, 1, (int64_t)uid);
		sqlite3_bind_int64(q, 2, (int64_t)want[kind]->start);
		sqlite3_bind_int64(q, 3, (int64_t)(want[kind]->start + want[kind]->count));
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc == SQLITE_ROW)
			return rollback(st, SUBID_STORE_CONFLICT);
		if (rc != SQLITE_DONE) {
			db_error(st, "read");
			return rollback(st, SUBID_STORE_ERR);
		}
	}
	for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID; kind++)
		if (insert_range(st, uid, kind, want[kind]->start, want[kind]->count, name, now) != 0)
			return rollback(st, SUBID_STORE_ERR);
	if (commit_unindexed(st) != SUBID_STORE_OK)
		return SUBID_STORE_ERR;
	*changed = true;
	return SUBID_STORE_OK;
}

int
subid_store_put(struct subid_store *st, uid_t uid, const char *name, const struct subid_grant *uid_range,
		const struct subid_grant *gid_range, bool *changed, uid_t *conflict)
{
	const struct subid_grant *want[3] = { NULL, uid_range, gid_range };
	struct subid_grant ur = { 0, 0 }, gr = { 0, 0 };
	int64_t now = (int64_t)time(NULL);
	bool name_ok;
	int have;

	*changed = false;
	if (st->readonly)
		return SUBID_STORE_ERR;
	have = owner_state(st, uid, &ur, &gr, &name_ok, name);
	if (have < 0)
		return SUBID_STORE_ERR;
	if (have == 3 && name_ok && same_ranges(&ur, &gr, uid_range, gid_range))
		return SUBID_STORE_OK;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "begin");
		return SUBID_STORE_ERR;
	}
	for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID; kind++) {
		int rc = overlap_row(st, 0, want[kind]->start, want[kind]->count, uid, conflict, NULL);

		if (rc != SUBID_STORE_NOTFOUND)
			return rollback(st, rc == SUBID_STORE_OK ? SUBID_STORE_CONFLICT : SUBID_STORE_ERR);
	}
	if (exec3(st, "DELETE FROM ranges WHERE uid = ?1", 1, (int64_t)uid, 0, 0) != 0)
		return rollback(st, SUBID_STORE_ERR);
	for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID; kind++)
		if (insert_range(st, uid, kind, want[kind]->start, want[kind]->count, name, now) != 0)
			return rollback(st, SUBID_STORE_ERR);
	if (commit_unindexed(st) != SUBID_STORE_OK)
		return SUBID_STORE_ERR;
	*changed = true;
	return SUBID_STORE_OK;
}
