#include "config.h"

#include <dlfcn.h>
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

#include <sys/file.h>

#include "subid_config.h"
#include "subid_index.h"
#include "subid_store.h"

/*
 * libsqlite3 is loaded when a store is first opened, not linked: a process
 * that never opens one (a lookup that does not read the database) does not
 * map it.  It is found by its soname (SUBID_SQLITE_SONAME, what the linker
 * recorded for SQLite at configure time), which in a setuid process the
 * dynamic linker looks up in the system's directories only.  It is never
 * unloaded: SQLite keeps global state.
 */
#define SQLITE_FUNCS(X) \
	X(bind_int) X(bind_int64) X(bind_text) X(busy_timeout) X(close_v2) X(column_int) \
	X(column_int64) X(column_text) X(errmsg) X(exec) X(extended_errcode) \
	X(extended_result_codes) X(finalize) X(open_v2) X(prepare_v2) X(step)

static struct {
#define X(f) __typeof__(sqlite3_##f) *f;
	SQLITE_FUNCS(X)
#undef X
} S;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static char s_error[256];	/* why loading failed; empty when loaded */

static void
s_load(void)
{
	void *h = dlopen(SUBID_SQLITE_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (h == NULL) {
		const char *e = dlerror();

		snprintf(s_error, sizeof(s_error), "cannot load %s: %s", SUBID_SQLITE_SONAME, e != NULL ? e : "?");
		return;
	}
#define X(f) \
	if (missing == NULL) { \
		void *p = dlsym(h, "sqlite3_" #f); \
		if (p == NULL) \
			missing = "sqlite3_" #f; \
		else \
			memcpy(&S.f, &p, sizeof(p)); \
	}
	SQLITE_FUNCS(X)
#undef X
	if (missing != NULL) {
		snprintf(s_error, sizeof(s_error), "%s has no %s", SUBID_SQLITE_SONAME, missing);
		memset(&S, 0, sizeof(S));
	}
}

/* Load libsqlite3 once per process: true, or false (logged). */
static bool
s_ready(const char *path, const struct subid_log *log)
{
	pthread_once(&s_once, s_load);
	if (s_error[0] == '\0')
		return true;
	subid_log(log, LOG_ERR, "store error path=%s reason=\"%s\"", path, s_error);
	return false;
}

/* From here on every libsqlite3 call goes through the table. */
#define sqlite3_bind_int (*S.bind_int)
#define sqlite3_bind_int64 (*S.bind_int64)
#define sqlite3_bind_text (*S.bind_text)
#define sqlite3_busy_timeout (*S.busy_timeout)
#define sqlite3_close_v2 (*S.close_v2)
#define sqlite3_column_int (*S.column_int)
#define sqlite3_column_int64 (*S.column_int64)
#define sqlite3_column_text (*S.column_text)
#define sqlite3_errmsg (*S.errmsg)
#define sqlite3_exec (*S.exec)
#define sqlite3_extended_errcode (*S.extended_errcode)
#define sqlite3_extended_result_codes (*S.extended_result_codes)
#define sqlite3_finalize (*S.finalize)
#define sqlite3_open_v2 (*S.open_v2)
#define sqlite3_prepare_v2 (*S.prepare_v2)
#define sqlite3_step (*S.step)

#define SCHEMA_VERSION 1
/*
 * How long to wait for another connection's lock.  A first login may queue
 * behind a burst of other first logins (SQLite's busy handler is not fair).
 * Read-only opens (root's tools) wait as long for a writer to commit.
 */
#define BUSY_TIMEOUT_MS 15000

struct subid_store {
	sqlite3 *db;
	const struct subid_log *log;
	char *path;
	bool readonly;
	/* writers only */
	char *index_path;
	uid_t owner_uid;
	int lock_fd;			/* <path>.lock: every write and its publish happen under it */
	struct subid_index *ix;		/* during a write: the index it derives the next one from */
	uint64_t generation;		/* during a write: the store's, before this change */
	bool force;			/* subidctl reindex: publish even a store behind the index */
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
	/* a read-only connection cannot roll back what a crashed writer left: fail closed, say why */
	if (st->db != NULL && sqlite3_extended_errcode(st->db) == SQLITE_READONLY_ROLLBACK)
		subid_log(st->log, LOG_ERR, "store error path=%s reason=\"hot journal: a writer died "
			  "mid-transaction; the next login rolls it back\"", st->path);
	else
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
	char probe[PATH_MAX];
	int rc;

	/* subid_dir_trusted() checks the directory of a path, and every one above */
	if (snprintf(probe, sizeof(probe), "%s/.", dir) >= (int)sizeof(probe))
		return -1;
	rc = subid_dir_trusted(probe, owner_uid);
	if (rc == -2) {
		subid_log(log, LOG_ERR, "store refused path=%s reason=\"directory %s, or one above it, can be "
			  "changed by users other than root\"", path, dir);
		errno = EPERM;
	}
	return rc;
}

/*
 * dir must be a real directory owned by owner_uid and not writable by
 * group/others (and, with private, not open to them at all).
 */
static int
check_dir(const char *dir, uid_t owner_uid, bool private, const struct subid_log *log, const char *path)
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
	if (st.st_uid != owner_uid || (st.st_mode & (private ? 077 : (S_IWGRP | S_IWOTH))) != 0) {
		subid_log(log, LOG_ERR, "store refused path=%s reason=\"directory %s is not owned by uid %u "
			  "or is %s by group/others\"", path, dir, (unsigned)owner_uid,
			  private ? "open" : "writable");
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

/* mkdir with mode whatever the umask, set through the directory itself (never through a link) */
static int
make_dir(const char *dir, mode_t mode, const char *path, const struct subid_log *log)
{
	if (mkdir(dir, mode) != 0 && errno != EEXIST) {
		subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot create directory %s: %m\"", path, dir);
		return -1;
	}
	/* a symbolic link put in its place meanwhile is never followed (check_dir refuses it) */
	if (chmod_dir_nofollow(dir, mode) != 0 && errno != ELOOP && errno != ENOTDIR) {
		subid_log(log, LOG_ERR, "store error path=%s reason=\"chmod %s: %m\"", path, dir);
		return -1;
	}
	return 0;
}

/*
 * Check (and for rw, create) the directory and the database file: the
 * writer's store is root's alone, 0600 in a 0700 directory, so that no other
 * process can open it (and so hold a lock that stalls a login).  Returns 0
 * ready, 1 database missing (ro), -1 error (logged).
 */
static int
prepare_files(const char *path, uid_t owner_uid, bool create, const struct subid_log *log)
{
	char dir[PATH_MAX];
	int rc, fd;

	if (split_dir(path, dir, sizeof(dir)) != 0) {
		subid_log(log, LOG_ERR, "store refused path=%s reason=\"not an absolute file path\"", path);
		return -1;
	}
	/* a writer has made the directory root's alone (store_open) */
	rc = check_dir(dir, owner_uid, create, log, path);
	if (rc == -2)
		return -1;
	if (rc == 1 && !create)
		return 1;
	if (rc != 0) {
		if (rc == -1)
			subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot open directory %s: %m\"", path, dir);
		return -1;
	}
	fd = subid_open_trusted(path, owner_uid);
	if (fd >= 0) {
		/* the old layout's 0644 store becomes root's alone */
		if (create && fchmod(fd, 0600) != 0) {
			subid_log(log, LOG_ERR, "store error path=%s reason=\"chmod: %m\"", path);
			close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (errno == ENOENT && create) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == EEXIST)
			return prepare_files(path, owner_uid, false, log);
		if (fd < 0 || fchmod(fd, 0600) != 0) {
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
 * The layout before the read index kept a 0644 store where the index is
 * now: <index's directory>/<store's name> (/var/lib/subid/subid.db).  The
 * first writer moves it, then a journal a crash left beside it, into the
 * private directory (under the writer lock; each step is a rename, and a
 * writer that stopped between the two finishes the second).  0 (moved or
 * nothing to move), -1 error (logged).
 */
static int
migrate_old_store(const char *path, const char *index_path, uid_t owner_uid, const struct subid_log *log)
{
	char dir[PATH_MAX], idir[PATH_MAX], old[PATH_MAX], oldj[PATH_MAX + 8], newj[PATH_MAX + 8];
	const char *base = strrchr(path, '/');
	struct stat sb;
	int fd;

	if (base == NULL || split_dir(path, dir, sizeof(dir)) != 0 || split_dir(index_path, idir, sizeof(idir)) != 0 ||
	    strcmp(dir, idir) == 0 ||
	    snprintf(old, sizeof(old), "%s%s", strcmp(idir, "/") == 0 ? "" : idir, base) >= (int)sizeof(old))
		return 0;
	snprintf(oldj, sizeof(oldj), "%s-journal", old);
	snprintf(newj, sizeof(newj), "%s-journal", path);
	if (lstat(path, &sb) != 0 && errno == ENOENT && (fd = subid_open_trusted(old, owner_uid)) >= 0) {
		close(fd);
		if (check_ancestors(idir, owner_uid, log, path) != 0)
			return -1;
		if (rename(old, path) != 0) {
			subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot move the old store %s here: %m\"",
				  path, old);
			return -1;
		}
		subid_log(log, LOG_NOTICE, "store migrated path=%s from=%s reason=\"the store is root's alone now; "
			  "readers use the index %s\"", path, old, index_path);
	}
	if (lstat(path, &sb) == 0 && lstat(newj, &sb) != 0 && errno == ENOENT &&
	    (fd = subid_open_trusted(oldj, owner_uid)) >= 0) {
		close(fd);
		if (rename(oldj, newj) != 0) {
			subid_log(log, LOG_ERR, "store error path=%s reason=\"cannot move the old journal %s here: %m\"",
				  path, oldj);
			return -1;
		}
	}
	return 0;
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

static int write_lock(struct subid_store *st);
static bool same_ranges(const struct subid_grant *ur, const struct subid_grant *gr, const struct subid_grant *want_ur,
			const struct subid_grant *want_gr);
static void write_unlock(struct subid_store *st);

/*
 * The writer's lock file, beside the store in its private directory: only
 * root can open it, so only root writers ever wait for each other.
 */
static int
open_lock(struct subid_store *st)
{
	char lp[PATH_MAX];

	if (snprintf(lp, sizeof(lp), "%s.lock", st->path) >= (int)sizeof(lp))
		return -1;
	st->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (st->lock_fd < 0) {
		subid_log(st->log, LOG_ERR, "store error path=%s reason=\"cannot open %s: %m\"", st->path, lp);
		return -1;
	}
	return 0;
}

static int
store_open(struct subid_store **out, const char *path, const char *index_path, uid_t owner_uid, bool ro,
	   const struct subid_log *log)
{
	struct subid_store *st;
	char dir[PATH_MAX], idir[PATH_MAX];
	int rc;

	*out = NULL;
	/* a writer loads SQLite before it creates anything, a reader once there is a store to read */
	if (!ro && !s_ready(path, log))
		return SUBID_ERR;
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->path = strdup(path)) == NULL ||
	    (!ro && (st->index_path = strdup(index_path)) == NULL)) {
		if (st != NULL)
			free(st->path);
		free(st);
		subid_log(log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", path);
		return SUBID_ERR;
	}
	st->log = log;
	st->readonly = ro;
	st->owner_uid = owner_uid;
	st->lock_fd = -1;
	if (!ro) {
		/* the index's directory (readable by all), then the store's own (root's alone) */
		if (split_dir(path, dir, sizeof(dir)) != 0 || split_dir(index_path, idir, sizeof(idir)) != 0 ||
		    strcmp(dir, idir) == 0) {
			subid_log(log, LOG_ERR, "store refused path=%s index=%s reason=\"the store needs a directory "
				  "of its own, apart from the index's\"", path, index_path);
			goto fail;
		}
		rc = check_ancestors(idir, owner_uid, log, path);
		if (rc == 1 && make_dir(idir, 0755, path, log) == 0)
			rc = check_ancestors(idir, owner_uid, log, path);
		if (rc != 0)
			goto fail;
		/* a missing directory is made 0700; a safe one of the old layout (0755) becomes 0700 */
		rc = check_dir(dir, owner_uid, false, log, path);
		if (rc == 1)
			rc = make_dir(dir, 0700, path, log);
		else if (rc == 0 && chmod_dir_nofollow(dir, 0700) != 0) {
			subid_log(log, LOG_ERR, "store error path=%s reason=\"chmod %s: %m\"", path, dir);
			rc = -1;
		}
		if (rc != 0 || check_dir(dir, owner_uid, true, log, path) != 0 || open_lock(st) != 0)
			goto fail;
		if (write_lock(st) != 0)
			goto fail;
		rc = migrate_old_store(path, index_path, owner_uid, log);
		write_unlock(st);
		if (rc != 0)
			goto fail;
	}
	rc = prepare_files(path, owner_uid, !ro, log);
	if (rc != 0) {
		subid_store_close(st);
		return rc == 1 ? SUBID_NONE : SUBID_ERR;
	}
	if (ro && !s_ready(path, log))
		goto fail;
	rc = sqlite3_open_v2(path, &st->db, (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
			     SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_PRIVATECACHE, NULL);
	if (rc != SQLITE_OK) {
		db_error(st, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if (ro) {
		if (sqlite3_exec(st->db, "PRAGMA query_only = ON; PRAGMA trusted_schema = OFF;",
				 NULL, NULL, NULL) != SQLITE_OK) {
			db_error(st, "pragma");
			goto fail;
		}
		/*
		 * A database of another layout (a later version of ours, or not
		 * ours at all) is not guessed at: fail closed.  The schema is
		 * created in one transaction, so a reader sees all of it or none
		 * (an empty file: no grants yet).
		 */
		rc = schema_current(st, true);
		if (rc == 1) {
			*out = st;
			return SUBID_OK;
		}
		subid_store_close(st);
		return rc == 0 ? SUBID_NONE : SUBID_ERR;
	}
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
	return SUBID_OK;
fail:
	subid_store_close(st);
	return SUBID_ERR;
}

int
subid_store_open_rw(struct subid_store **st, const char *path, const char *index_path, uid_t owner_uid,
		    const struct subid_log *log)
{
	return store_open(st, path, index_path, owner_uid, false, log);
}

int
subid_store_open_ro(struct subid_store **st, const char *path, uid_t owner_uid, const struct subid_log *log)
{
	return store_open(st, path, NULL, owner_uid, true, log);
}

void
subid_store_close(struct subid_store *st)
{
	if (st == NULL)
		return;
	if (st->db != NULL)
		sqlite3_close_v2(st->db);
	subid_index_close(st->ix);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->index_path);
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
		return SUBID_NONE;
	db_error(st, "read");
	return SUBID_ERR;
}

int
subid_store_get(struct subid_store *st, uid_t uid, enum subid_kind kind, struct subid_grant *out)
{
	sqlite3_stmt *s = prep(st, "SELECT start, count FROM ranges WHERE uid = ?1 AND kind = ?2");
	int rc;

	if (s == NULL)
		return SUBID_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)uid);
	sqlite3_bind_int(s, 2, (int)kind);
	rc = step_one(st, s);
	if (rc == SQLITE_ROW) {
		rc = row_range(s, 0, out) ? SUBID_OK : SUBID_ERR;
		if (rc != SUBID_OK)
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
		return SUBID_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)uid);
	rc = step_one(st, s);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		rc = SUBID_OK;
		if (v != NULL && (*name = strdup((const char *)v)) == NULL) {
			subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
			rc = SUBID_ERR;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

int
subid_store_foreach(struct subid_store *st, int (*fn)(const struct subid_row *row, void *ctx), void *ctx)
{
	sqlite3_stmt *s = prep(st, "SELECT uid, kind, start, count, name, granted FROM ranges ORDER BY uid, kind");
	int rc, ret = SUBID_OK;

	if (s == NULL)
		return SUBID_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct subid_row row;
		int64_t uid = sqlite3_column_int64(s, 0), kind = sqlite3_column_int64(s, 1);

		if (uid < 0 || uid >= (int64_t)SUBID_ID_LIMIT || (kind != SUBID_KIND_UID && kind != SUBID_KIND_GID) ||
		    !row_range(s, 2, &row.range)) {
			subid_log(st->log, LOG_ERR, "store error path=%s reason=\"invalid range row\"", st->path);
			ret = SUBID_ERR;
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
		ret = SUBID_ERR;
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
		return SUBID_ERR;
	if (id >= SUBID_ID_LIMIT) {
		sqlite3_finalize(s);
		return SUBID_NONE;
	}
	sqlite3_bind_int(s, 1, (int)kind);
	sqlite3_bind_int64(s, 2, (int64_t)id);
	rc = step_one(st, s);
	if (rc == SQLITE_ROW) {
		if (!row_range(s, 1, &g)) {
			rc = SUBID_ERR;
		} else if (id < g.start + g.count) {
			*uid = (uid_t)sqlite3_column_int64(s, 0);
			rc = SUBID_OK;
		} else {
			rc = SUBID_NONE;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * A row of another owner than except that overlaps [start, start + count),
 * of kind (0: either kind): the one with the lowest start.  OK (*uid and
 * *range set when not NULL), NOTFOUND or ERR.
 *
 * Every writer keeps the rows of one kind disjoint (owners never share
 * IDs, and an owner has one row per kind), so with rows ordered by start
 * the ones that overlap are the run that ends at the last row starting
 * below the end: an index seek (ranges_by_start) and a walk back over the
 * overlapping rows only, whatever the number of owners.  subidctl check
 * verifies the invariant itself with a sweep over every row.
 */
static int
overlap_kind(struct subid_store *st, int kind, uint64_t start, uint64_t end, uid_t except, uid_t *uid,
	     struct subid_grant *range)
{
	sqlite3_stmt *s = prep(st, "SELECT uid, start, count FROM ranges WHERE kind = ?1 AND start < ?2 "
				   "ORDER BY start DESC");
	struct subid_grant g;
	int rc, ret = SUBID_NONE;

	if (s == NULL)
		return SUBID_ERR;
	sqlite3_bind_int(s, 1, kind);
	sqlite3_bind_int64(s, 2, (int64_t)end);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!row_range(s, 1, &g)) {
			subid_log(st->log, LOG_ERR, "store error path=%s reason=\"invalid range row\"", st->path);
			ret = SUBID_ERR;
			break;
		}
		if (g.start + g.count <= start)
			break;
		if ((uid_t)sqlite3_column_int64(s, 0) == except)
			continue;
		ret = SUBID_OK;
		if (uid != NULL)
			*uid = (uid_t)sqlite3_column_int64(s, 0);
		if (range != NULL)
			*range = g;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(st, "read");
		ret = SUBID_ERR;
	}
	sqlite3_finalize(s);
	return ret;
}

static int
overlap_row(struct subid_store *st, int kind, uint64_t start, uint64_t count, uid_t except, uid_t *uid,
	    struct subid_grant *range)
{
	struct subid_grant g[3];
	uid_t u[3];
	int best = 0;

	if (count == 0 || start >= SUBID_ID_LIMIT || count > SUBID_ID_LIMIT - start)
		return SUBID_NONE;
	for (int k = SUBID_KIND_UID; k <= SUBID_KIND_GID; k++) {
		if (kind != 0 && kind != k)
			continue;
		int rc = overlap_kind(st, k, start, start + count, except, &u[k], &g[k]);

		if (rc == SUBID_ERR)
			return SUBID_ERR;
		if (rc == SUBID_OK && (best == 0 || g[k].start < g[best].start))
			best = k;
	}
	if (best == 0)
		return SUBID_NONE;
	if (uid != NULL)
		*uid = u[best];
	if (range != NULL)
		*range = g[best];
	return SUBID_OK;
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

/*
 * The pool the free index was built for: 1 (set in *pool, count 1), 0 when
 * it is not built, -1 on error.
 */
static int
free_index_pool(struct subid_store *st, struct subid_pool *pool)
{
	int64_t lo, hi;
	int a = meta_get(st, "pool_min", &lo), b = meta_get(st, "pool_max", &hi);

	if (a < 0 || b < 0)
		return -1;
	if (a != 0 || b != 0 || lo < 0 || hi <= lo)
		return 0;
	pool->min = (uint64_t)lo;
	pool->max = (uint64_t)hi;
	pool->count = 1;
	return 1;
}

/*
 * Spans are disjoint: the ones that touch [a, b] are the run ending at the
 * last span starting at or below b.  Calls fn on each (newest first) until
 * it returns nonzero; stops at the first span that ends before a.  0 or -1.
 */
static int
free_spans_touching(struct subid_store *st, uint64_t a, uint64_t b, bool touch,
		    int (*fn)(uint64_t sa, uint64_t sb, void *ctx), void *ctx)
{
	sqlite3_stmt *s = prep(st, "SELECT start, end FROM free WHERE start <= ?1 ORDER BY start DESC");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, (int64_t)(touch ? b : b - 1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t sa = (uint64_t)sqlite3_column_int64(s, 0), sb = (uint64_t)sqlite3_column_int64(s, 1);

		if (touch ? sb < a : sb <= a)
			break;
		if (fn(sa, sb, ctx) != 0) {
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(st, "read");
		return -1;
	}
	return 0;
}

struct span_acc {
	uint64_t a, b;		/* the span being built (add) or taken out (remove) */
	struct subid_interval cut[64];	/* spans to delete (remove: and re-add around [a, b)) */
	size_t n;
	bool more;		/* more than cut[] holds: run again */
};

static int
acc_span(uint64_t sa, uint64_t sb, void *ctx)
{
	struct span_acc *x = ctx;

	if (x->n == sizeof(x->cut) / sizeof(x->cut[0])) {
		x->more = true;
		return 0;
	}
	x->cut[x->n++] = (struct subid_interval){ sa, sb };
	return 0;
}

/* Return [a, b) (clipped to the pool) to the free index, merging neighbours. */
static int
free_index_add(struct subid_store *st, const struct subid_pool *pool, uint64_t a, uint64_t b)
{
	struct span_acc x;

	if (a < pool->min)
		a = pool->min;
	if (b > pool->max)
		b = pool->max;
	if (a >= b)
		return 0;
	/* absorb every span that touches or overlaps [a, b) */
	do {
		x.n = 0;
		x.more = false;
		if (free_spans_touching(st, a, b, true, acc_span, &x) != 0)
			return -1;
		for (size_t i = 0; i < x.n; i++) {
			if (exec3(st, "DELETE FROM free WHERE start = ?1", 1, (int64_t)x.cut[i].start, 0, 0) != 0)
				return -1;
			if (x.cut[i].start < a)
				a = x.cut[i].start;
			if (x.cut[i].end > b)
				b = x.cut[i].end;
		}
	} while (x.more);
	return exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2, (int64_t)a, (int64_t)b, 0);
}

/* Take [a, b) out of the free index, wherever it lies (an imported or replicated range). */
static int
free_index_remove(struct subid_store *st, uint64_t a, uint64_t b)
{
	struct span_acc x;

	do {
		x.n = 0;
		x.more = false;
		if (free_spans_touching(st, a, b, false, acc_span, &x) != 0)
			return -1;
		for (size_t i = 0; i < x.n; i++) {
			const struct subid_interval *c = &x.cut[i];

			if (exec3(st, "DELETE FROM free WHERE start = ?1", 1, (int64_t)c->start, 0, 0) != 0)
				return -1;
			if (c->start < a && exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2,
						 (int64_t)c->start, (int64_t)a, 0) != 0)
				return -1;
			if (c->end > b && exec3(st, "INSERT INTO free(start, end) VALUES (?1, ?2)", 2,
					       (int64_t)b, (int64_t)c->end, 0) != 0)
				return -1;
		}
	} while (x.more);
	return 0;
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
	int rc, found = SUBID_FULL;

	if (s == NULL)
		return SUBID_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)pool->count);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t a = (uint64_t)sqlite3_column_int64(s, 0), b = (uint64_t)sqlite3_column_int64(s, 1);
		uint64_t slot;

		if (subid_first_fit(a, b, pool->min, pool->count, pool->count, taken, ntaken, &slot)) {
			sqlite3_finalize(s);
			if (free_index_take(st, a, b, slot, pool->count) != 0)
				return SUBID_ERR;
			*out = slot;
			return SUBID_OK;
		}
	}
	if (rc != SQLITE_DONE) {
		db_error(st, "read");
		found = SUBID_ERR;
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

/* ---- writes: the lock, the transaction, and the index published after it ---------------- */

static int
write_lock(struct subid_store *st)
{
	struct timespec pause = { 0, 1000 * 1000 };
	long waited_ms = 0;

	while (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			subid_log(st->log, LOG_ERR, "store error path=%s reason=\"cannot lock: %m\"", st->path);
			return -1;
		}
		if (waited_ms >= BUSY_TIMEOUT_MS) {
			subid_log(st->log, LOG_ERR, "store error path=%s reason=\"lock timeout: other writers held the "
				  "store for %d s\"", st->path, BUSY_TIMEOUT_MS / 1000);
			return -1;
		}
		nanosleep(&pause, NULL);
		waited_ms += pause.tv_nsec / 1000000;
		/* back off to 10 ms: a burst of first logins queues without spinning */
		if (pause.tv_nsec < 10 * 1000 * 1000)
			pause.tv_nsec += 1000 * 1000;
	}
	return 0;
}

static void
write_unlock(struct subid_store *st)
{
	subid_index_close(st->ix);
	st->ix = NULL;
	flock(st->lock_fd, LOCK_UN);
}

static int
rollback(struct subid_store *st, int rc)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	write_unlock(st);
	return rc;
}

/* uid's current rows as an index change (both counts 0: gone).  0 or -1 (logged). */
static int
owner_change(struct subid_store *st, uid_t uid, subid_index_change *ch)
{
	char *name = NULL;
	bool name_ok;
	int have;

	memset(ch, 0, sizeof(*ch));
	ch->uid = uid;
	have = owner_state(st, uid, &ch->r[0], &ch->r[1], &name_ok, NULL);
	if (have < 0 || subid_store_name(st, uid, &name) == SUBID_ERR)
		return -1;
	if ((have & 1) == 0)
		ch->r[0] = (struct subid_grant){ 0, 0 };
	if ((have & 2) == 0)
		ch->r[1] = (struct subid_grant){ 0, 0 };
	ch->name_hash = subid_index_name_hash(name);
	free(name);
	return 0;
}

/*
 * Publish every row again (the index is missing, damaged, or lags the
 * store after a writer stopped between its commit and its publish).  Done
 * before the write that found it, so no range this store has released is
 * ever handed out while a published index still lists it.
 */
static int
republish(struct subid_store *st, uint64_t generation, const char *why, size_t *count)
{
	sqlite3_stmt *q = prep(st, "SELECT DISTINCT uid FROM ranges ORDER BY uid");
	subid_index_change *v = NULL;
	size_t n = 0, cap = 0;
	int rc, ret = -1;

	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			subid_index_change *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*nv));

			if (nv == NULL) {
				subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
				goto out;
			}
			v = nv;
		}
		if (owner_change(st, (uid_t)sqlite3_column_int64(q, 0), &v[n]) != 0)
			goto out;
		n++;
	}
	if (rc != SQLITE_DONE) {
		db_error(st, "read");
		goto out;
	}
	if (subid_index_publish(st->index_path, NULL, v, n, generation, st->log) != SUBID_OK)
		goto out;
	if (why != NULL && (n > 0 || generation > 0))
		subid_log(st->log, LOG_NOTICE, "index republished path=%s generation=%llu owners=%zu reason=\"%s\"",
			  st->index_path, (unsigned long long)generation, n, why);
	if (count != NULL)
		*count = n;
	ret = 0;
out:
	sqlite3_finalize(q);
	free(v);
	return ret;
}

/*
 * Start a write: the writer lock, BEGIN IMMEDIATE, and an index that is the
 * store's (republished first when it is not).  OK, or ERR (logged, nothing
 * held).
 */
static int
write_begin(struct subid_store *st)
{
	int64_t g = 0;
	int rc;

	if (write_lock(st) != 0)
		return SUBID_ERR;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "begin");
		write_unlock(st);
		return SUBID_ERR;
	}
	if (meta_get(st, "generation", &g) < 0 || g < 0)
		return rollback(st, SUBID_ERR);
	st->generation = (uint64_t)g;
	subid_index_clean(st->index_path, st->log);
	rc = subid_index_open(&st->ix, st->index_path, st->owner_uid, st->log);
	if (rc == SUBID_OK && subid_index_generation(st->ix) == st->generation)
		return SUBID_OK;
	if (rc == SUBID_OK && subid_index_generation(st->ix) > st->generation && !st->force) {
		/*
		 * No writer leaves its store behind the index it published: this
		 * store was replaced (deleted, restored from a backup).  Republishing
		 * it would hand out again ranges the index still gives owners who
		 * may be using them: the admin decides (subidctl reindex).
		 */
		subid_log(st->log, LOG_ERR, "store refused path=%s reason=\"generation %llu is behind the published "
			  "index %s (generation %llu): the store was replaced or restored; 'subidctl reindex' publishes "
			  "it as it is\"", st->path, (unsigned long long)st->generation, st->index_path,
			  (unsigned long long)subid_index_generation(st->ix));
		return rollback(st, SUBID_ERR);
	}
	subid_index_close(st->ix);
	st->ix = NULL;
	if (republish(st, st->generation, rc == SUBID_OK ? "it lagged the store (a writer stopped between "
		      "its commit and its publish)" : rc == SUBID_ERR ? "it was unusable" : "it was missing",
		      NULL) != 0 ||
	    subid_index_open(&st->ix, st->index_path, st->owner_uid, st->log) != SUBID_OK)
		return rollback(st, SUBID_ERR);
	return SUBID_OK;
}

int
subid_store_generation_at(const char *path, uid_t owner_uid, const struct subid_log *log, int64_t *generation)
{
	struct subid_store *st = NULL;
	int rc = subid_store_open_ro(&st, path, owner_uid, log);

	*generation = 0;
	if (rc != SUBID_OK)
		return rc;
	rc = meta_get(st, "generation", generation) < 0 ? SUBID_ERR : SUBID_OK;
	subid_store_close(st);
	return rc;
}

/*
 * The store holds uid's ranges and nothing is to change: make sure the
 * published index lists them too (a writer that stopped between its commit
 * and its publish, a damaged record).  Only then does it cost a write: the
 * lock, a republish when the index lags or is unusable, and a whole
 * republish when uid's record is still wrong.  OK or ERR (logged).
 */
static int
index_lists(struct subid_store *st, uid_t uid)
{
	struct subid_index *ix = NULL;
	struct subid_index_owner o;
	subid_index_change want;
	int64_t g = 0;
	int rc;

	if (owner_change(st, uid, &want) != 0 || meta_get(st, "generation", &g) < 0)
		return SUBID_ERR;
	if (subid_index_open(&ix, st->index_path, st->owner_uid, st->log) == SUBID_OK) {
		rc = subid_index_generation(ix) == (uint64_t)g && subid_index_owner(ix, uid, &o) == SUBID_OK &&
		     o.name_hash == want.name_hash && same_ranges(&o.r[0], &o.r[1], &want.r[0], &want.r[1]);
		subid_index_close(ix);
		if (rc)
			return SUBID_OK;
	}
	if (write_begin(st) != SUBID_OK)
		return SUBID_ERR;
	rc = subid_index_owner(st->ix, uid, &o);
	if (owner_change(st, uid, &want) != 0)
		return rollback(st, SUBID_ERR);
	if (rc != SUBID_OK || o.name_hash != want.name_hash ||
	    !same_ranges(&o.r[0], &o.r[1], &want.r[0], &want.r[1]))
		rc = republish(st, st->generation, "a record did not match the store", NULL);
	else
		rc = 0;
	return rollback(st, rc == 0 ? SUBID_OK : SUBID_ERR);
}

int
subid_store_publish(struct subid_store *st, size_t *owners)
{
	int rc;

	if (st->readonly)
		return SUBID_ERR;
	st->force = true;
	rc = write_begin(st);
	st->force = false;
	if (rc != SUBID_OK)
		return SUBID_ERR;
	rc = republish(st, st->generation, "asked for (subidctl reindex)", owners);
	return rollback(st, rc == 0 ? SUBID_OK : SUBID_ERR);
}

/*
 * Commit the write, then publish the index: the previous one with uid's
 * rows as they are now, under the next generation.  The lock is held
 * until the index is in place, so indexes are published in the order of
 * the commits.  OK, or ERR (logged; a commit whose publish failed is
 * published by the next writer).
 */
static int
write_commit(struct subid_store *st, const uid_t *uids, size_t n)
{
	subid_index_change one[2], *ch = n <= 2 ? one : calloc(n, sizeof(*ch));
	int rc;

	if (ch == NULL) {
		subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
		return rollback(st, SUBID_ERR);
	}
	for (size_t i = 0; i < n; i++)
		if (owner_change(st, uids[i], &ch[i]) != 0)
			goto fail;
	if (meta_set(st, "generation", (int64_t)(st->generation + 1)) != 0)
		goto fail;
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(st, "commit");
		goto fail;
	}
	rc = subid_index_publish(st->index_path, st->ix, ch, n, st->generation + 1, st->log);
	write_unlock(st);
	if (ch != one)
		free(ch);
	return rc == SUBID_OK ? SUBID_OK : SUBID_ERR;
fail:
	if (ch != one)
		free(ch);
	return rollback(st, SUBID_ERR);
}

static bool
pool_valid(const struct subid_pool *pool)
{
	return pool->count > 0 && pool->min < pool->max && pool->max <= SUBID_ID_LIMIT &&
	       pool->count <= pool->max - pool->min;
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
		return SUBID_ERR;
	}
	if (!pool_valid(pool)) {
		subid_log(st->log, LOG_ERR, "store error path=%s op=ensure reason=\"invalid pool\"", st->path);
		return SUBID_ERR;
	}
	/* The common case: the owner has both ranges.  One read, no write lock. */
	have = owner_state(st, uid, uid_range, gid_range, &name_ok, name);
	if (have < 0)
		return SUBID_ERR;
	if (have == 3 && name_ok)
		return index_lists(st, uid);

	if (write_begin(st) != SUBID_OK)
		return SUBID_ERR;
	/* someone else may have granted it meanwhile */
	have = owner_state(st, uid, uid_range, gid_range, &name_ok, name);
	if (have < 0)
		return rollback(st, SUBID_ERR);
	if (have != 3) {
		rc = free_index_current(st, pool);
		if (rc < 0 || (rc == 0 && free_index_rebuild(st, pool) != 0))
			return rollback(st, SUBID_ERR);
		/* first fit needs the taken intervals sorted and merged */
		if (ntaken > 0) {
			sorted = malloc(ntaken * sizeof(*sorted));
			if (sorted == NULL) {
				subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
				return rollback(st, SUBID_ERR);
			}
			memcpy(sorted, taken, ntaken * sizeof(*sorted));
			ntaken = subid_intervals_normalize(sorted, ntaken);
		}
		rc = find_slot(st, pool, sorted, ntaken, &slot);
		free(sorted);
		if (rc != SUBID_OK) {
			if (rc == SUBID_FULL)
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
				return rollback(st, SUBID_ERR);
			g->start = slot;
			g->count = pool->count;
		}
		*granted = true;
	}
	if (name != NULL && !name_ok) {
		sqlite3_stmt *s = prep(st, "UPDATE ranges SET name = ?2 WHERE uid = ?1");

		if (s == NULL)
			return rollback(st, SUBID_ERR);
		sqlite3_bind_int64(s, 1, (int64_t)uid);
		sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			db_error(st, "update");
			return rollback(st, SUBID_ERR);
		}
	}
	if (write_commit(st, &uid, 1) != SUBID_OK) {
		*granted = false;
		return SUBID_ERR;
	}
	return SUBID_OK;
}

/*
 * Inside a write: drop both rows of uid and give their space back to the
 * free index (when it is built; the pool it was built for).  OK, NOTFOUND
 * or ERR (logged; the caller rolls back).
 */
static int
release_rows(struct subid_store *st, uid_t uid)
{
	struct subid_grant ur = { 0, 0 }, gr = { 0, 0 };
	struct subid_pool pool;
	bool name_ok;
	int have, cur;

	have = owner_state(st, uid, &ur, &gr, &name_ok, NULL);
	if (have < 0)
		return SUBID_ERR;
	if (have == 0)
		return SUBID_NONE;
	if (exec3(st, "DELETE FROM ranges WHERE uid = ?1", 1, (int64_t)uid, 0, 0) != 0)
		return SUBID_ERR;
	cur = free_index_pool(st, &pool);
	if (cur < 0 ||
	    (cur > 0 && (((have & 1) && free_index_add(st, &pool, ur.start, ur.start + ur.count) != 0) ||
			 ((have & 2) && free_index_add(st, &pool, gr.start, gr.start + gr.count) != 0))))
		return SUBID_ERR;
	return SUBID_OK;
}

int
subid_store_release(struct subid_store *st, uid_t uid)
{
	size_t n = 0;
	int rc;

	rc = subid_store_release_many(st, &uid, 1, &n, NULL);
	if (rc == SUBID_OK && n == 0)
		return SUBID_NONE;
	return rc;
}

int
subid_store_release_many(struct subid_store *st, const uid_t *uids, size_t n, size_t *released, bool *held)
{
	uid_t *done = NULL;
	size_t nd = 0;
	int rc;

	*released = 0;
	for (size_t i = 0; held != NULL && i < n; i++)
		held[i] = false;
	if (st->readonly)
		return SUBID_ERR;
	if (n > 1 && (done = calloc(n, sizeof(*done))) == NULL) {
		subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
		return SUBID_ERR;
	}
	if (write_begin(st) != SUBID_OK) {
		free(done);
		return SUBID_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		rc = release_rows(st, uids[i]);
		if (rc == SUBID_ERR) {
			free(done);
			return rollback(st, SUBID_ERR);
		}
		if (rc == SUBID_OK) {
			if (done != NULL)
				done[nd] = uids[i];
			nd++;
			if (held != NULL)
				held[i] = true;
		}
	}
	if (nd == 0) {
		free(done);
		return rollback(st, SUBID_OK);
	}
	rc = write_commit(st, done != NULL ? done : uids, nd);
	free(done);
	if (rc == SUBID_OK)
		*released = nd;
	for (size_t i = 0; rc != SUBID_OK && held != NULL && i < n; i++)
		held[i] = false;
	return rc;
}

static bool
same_ranges(const struct subid_grant *ur, const struct subid_grant *gr, const struct subid_grant *want_ur,
	    const struct subid_grant *want_gr)
{
	return ur->start == want_ur->start && ur->count == want_ur->count && gr->start == want_gr->start &&
	       gr->count == want_gr->count;
}

/* Inside a write: insert uid's two ranges and take them out of the free index.  0 or -1. */
static int
insert_owner(struct subid_store *st, uid_t uid, const char *name, const struct subid_grant *uid_range,
	     const struct subid_grant *gid_range, int64_t now)
{
	struct subid_pool pool;
	int cur = free_index_pool(st, &pool);

	if (cur < 0 ||
	    insert_range(st, uid, SUBID_KIND_UID, uid_range->start, uid_range->count, name, now) != 0 ||
	    insert_range(st, uid, SUBID_KIND_GID, gid_range->start, gid_range->count, name, now) != 0)
		return -1;
	if (cur > 0 && (free_index_remove(st, uid_range->start, uid_range->start + uid_range->count) != 0 ||
			free_index_remove(st, gid_range->start, gid_range->start + gid_range->count) != 0))
		return -1;
	return 0;
}

int
subid_store_import(struct subid_store *st, uid_t uid, const char *name, const struct subid_grant *uid_range,
		   const struct subid_grant *gid_range, bool *changed)
{
	struct subid_import one = { uid, name, { *uid_range, *gid_range }, SUBID_ERR, false };
	int rc = subid_store_import_many(st, &one, 1, NULL);

	*changed = one.changed;
	return rc != SUBID_OK ? rc : one.rc;
}

int
subid_store_import_many(struct subid_store *st, struct subid_import *v, size_t n, const struct subid_pool *pool)
{
	int64_t now = (int64_t)time(NULL);
	uid_t *uids = NULL;
	size_t nu = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		v[i].rc = SUBID_ERR;
		v[i].changed = false;
	}
	if (st->readonly)
		return SUBID_ERR;
	if (n == 0)
		return SUBID_OK;
	if ((uids = calloc(n, sizeof(*uids))) == NULL) {
		subid_log(st->log, LOG_CRIT, "store error path=%s reason=\"out of memory\"", st->path);
		return SUBID_ERR;
	}
	if (write_begin(st) != SUBID_OK) {
		free(uids);
		return SUBID_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		struct subid_import *w = &v[i];
		struct subid_grant ur = { 0, 0 }, gr = { 0, 0 };
		bool name_ok;
		int have = owner_state(st, w->uid, &ur, &gr, &name_ok, w->name);

		if (have < 0)
			goto fail;
		if (have != 0) {
			/* uid holds ranges already: the same ones (nothing to do) or others (the admin decides) */
			w->rc = have == 3 && same_ranges(&ur, &gr, &w->r[0], &w->r[1]) ? SUBID_OK :
				SUBID_CONFLICT;
			continue;
		}
		w->rc = SUBID_OK;
		for (int k = 0; k < 2 && w->rc == SUBID_OK; k++) {
			rc = overlap_row(st, 0, w->r[k].start, w->r[k].count, w->uid, NULL, NULL);
			if (rc == SUBID_ERR)
				goto fail;
			if (rc == SUBID_OK)
				w->rc = SUBID_CONFLICT;
		}
		if (w->rc != SUBID_OK)
			continue;
		if (insert_owner(st, w->uid, w->name, &w->r[0], &w->r[1], now) != 0)
			goto fail;
		w->changed = true;
		uids[nu++] = w->uid;
	}
	/* the allocations that follow find the free-span index built for their pool */
	if (nu > 0 && pool != NULL && pool_valid(pool)) {
		rc = free_index_current(st, pool);
		if (rc < 0 || (rc == 0 && free_index_rebuild(st, pool) != 0))
			goto fail;
	}
	rc = nu == 0 ? rollback(st, SUBID_OK) : write_commit(st, uids, nu);
	free(uids);
	if (rc != SUBID_OK)
		for (size_t i = 0; i < n; i++) {
			v[i].rc = SUBID_ERR;
			v[i].changed = false;
		}
	return rc;
fail:
	free(uids);
	for (size_t i = 0; i < n; i++) {
		v[i].rc = SUBID_ERR;
		v[i].changed = false;
	}
	return rollback(st, SUBID_ERR);
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
		return SUBID_ERR;
	have = owner_state(st, uid, &ur, &gr, &name_ok, name);
	if (have < 0)
		return SUBID_ERR;
	if (have == 3 && name_ok && same_ranges(&ur, &gr, uid_range, gid_range))
		return index_lists(st, uid);
	if (write_begin(st) != SUBID_OK)
		return SUBID_ERR;
	for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID; kind++) {
		int rc = overlap_row(st, 0, want[kind]->start, want[kind]->count, uid, conflict, NULL);

		if (rc != SUBID_NONE)
			return rollback(st, rc == SUBID_OK ? SUBID_CONFLICT : SUBID_ERR);
	}
	/* uid's old rows go back to the free index, the new ones are taken out of it */
	if (release_rows(st, uid) == SUBID_ERR ||
	    insert_owner(st, uid, name, uid_range, gid_range, now) != 0)
		return rollback(st, SUBID_ERR);
	if (write_commit(st, &uid, 1) != SUBID_OK)
		return SUBID_ERR;
	*changed = true;
	return SUBID_OK;
}
