#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "subid_config.h"
#include "subid_store.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000

struct subid_store {
	sqlite3 *db;
	const struct subid_log *log;
	char *path;
	bool readonly;
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
	subid_log(st->log, LOG_ERR, "store=%s op=%s error=\"%s\"", st->path, what,
		  st->db ? sqlite3_errmsg(st->db) : "out of memory");
}

/* dir must be a real directory owned by owner_uid and not writable by group/others. */
static int
check_dir(const char *dir, uid_t owner_uid, const struct subid_log *log, const char *path)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (st.st_uid != owner_uid || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		subid_log(log, LOG_ERR, "store=%s refused: directory %s is not owned by uid %u "
			  "or is writable by group/others", path, dir, (unsigned)owner_uid);
		errno = EPERM;
		return -2;
	}
	return 0;
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
 * Returns 0 ready, 1 database missing (ro), -1 error (logged).
 */
static int
prepare_files(const char *path, uid_t owner_uid, bool create, const struct subid_log *log)
{
	char dir[PATH_MAX];
	int rc, fd;

	if (split_dir(path, dir, sizeof(dir)) != 0) {
		subid_log(log, LOG_ERR, "store=%s refused: not an absolute file path", path);
		return -1;
	}
	rc = check_dir(dir, owner_uid, log, path);
	if (rc == -2)
		return -1;
	if (rc == 1 && !create)
		return 1;
	if (rc == 1) {
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			subid_log(log, LOG_ERR, "store=%s cannot create directory %s: %m", path, dir);
			return -1;
		}
		/* umask of the host process must not decide who can read the store */
		if (chmod(dir, 0755) != 0) {
			subid_log(log, LOG_ERR, "store=%s chmod %s: %m", path, dir);
			return -1;
		}
		rc = check_dir(dir, owner_uid, log, path);
	}
	if (rc != 0) {
		if (rc == -1)
			subid_log(log, LOG_ERR, "store=%s cannot open directory %s: %m", path, dir);
		return -1;
	}
	fd = subid_open_trusted(path, owner_uid);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == ENOENT && create) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno == EEXIST)
			return prepare_files(path, owner_uid, false, log);
		if (fd < 0 || fchmod(fd, 0644) != 0) {
			subid_log(log, LOG_ERR, "store=%s cannot create: %m", path);
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
		subid_log(log, LOG_ERR, "store=%s refused: not a regular file owned by uid %u "
			  "or writable by group/others", path, (unsigned)owner_uid);
	else if (errno == ELOOP)
		subid_log(log, LOG_ERR, "store=%s refused: is a symbolic link", path);
	else
		subid_log(log, LOG_ERR, "store=%s cannot open: %m", path);
	return -1;
}

/*
 * 1 when the schema exists (and has our version), 0 when the database is
 * empty, -1 on error or a schema we do not know (logged).
 */
static int
schema_current(struct subid_store *st)
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
		db_error(st, "schema");
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_int(s, 0) == SCHEMA_VERSION) {
		sqlite3_finalize(s);
		return 1;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		subid_log(st->log, LOG_ERR, "store=%s error=\"unknown schema version\"", st->path);
	else
		db_error(st, "schema");
	return -1;
}

static int
store_open(struct subid_store **out, const char *path, uid_t owner_uid, bool ro,
	   const struct subid_log *log)
{
	struct subid_store *st;
	int rc, flags;

	*out = NULL;
	rc = prepare_files(path, owner_uid, !ro, log);
	if (rc != 0)
		return rc == 1 ? SUBID_STORE_NOTFOUND : SUBID_STORE_ERR;
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->path = strdup(path)) == NULL) {
		free(st);
		subid_log(log, LOG_CRIT, "store=%s out of memory", path);
		return SUBID_STORE_ERR;
	}
	st->log = log;
	st->readonly = ro;
	flags = (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_PRIVATECACHE;
	rc = sqlite3_open_v2(path, &st->db, flags, NULL);
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
	} else {
		/*
		 * Rollback journal, so that readers without write access to the
		 * directory can read (WAL would need a writable -shm file).
		 */
		if (sqlite3_exec(st->db, "PRAGMA trusted_schema = OFF; PRAGMA synchronous = FULL;",
				 NULL, NULL, NULL) != SQLITE_OK) {
			db_error(st, "pragma");
			goto fail;
		}
		rc = schema_current(st);
		if (rc < 0)
			goto fail;
		/* create the schema once; later opens (every login) take no write lock */
		if (rc == 0 &&
		    (sqlite3_exec(st->db, "PRAGMA journal_mode = DELETE;", NULL, NULL, NULL) != SQLITE_OK ||
		     sqlite3_exec(st->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) != SQLITE_OK ||
		     sqlite3_exec(st->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
		     sqlite3_exec(st->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK)) {
			db_error(st, "schema");
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	}
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

int
subid_store_get(struct subid_store *st, uid_t uid, enum subid_kind kind, struct subid_grant *out)
{
	sqlite3_stmt *s = prep(st, "SELECT start, count FROM ranges WHERE uid = ?1 AND kind = ?2");
	int rc;

	if (s == NULL)
		return SUBID_STORE_ERR;
	sqlite3_bind_int64(s, 1, (int64_t)uid);
	sqlite3_bind_int(s, 2, (int)kind);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = row_range(s, 0, out) ? SUBID_STORE_OK : SUBID_STORE_ERR;
		if (rc != SUBID_STORE_OK)
			subid_log(st->log, LOG_ERR, "store=%s uid=%u invalid range row", st->path, (unsigned)uid);
	} else if (rc == SQLITE_DONE) {
		rc = SUBID_STORE_NOTFOUND;
	} else {
		db_error(st, "read");
		rc = SUBID_STORE_ERR;
	}
	sqlite3_finalize(s);
	return rc;
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
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (!row_range(s, 1, &g)) {
			rc = SUBID_STORE_ERR;
		} else if (id < g.start + g.count) {
			*uid = (uid_t)sqlite3_column_int64(s, 0);
			rc = SUBID_STORE_OK;
		} else {
			rc = SUBID_STORE_NOTFOUND;
		}
	} else if (rc == SQLITE_DONE) {
		rc = SUBID_STORE_NOTFOUND;
	} else {
		db_error(st, "read");
		rc = SUBID_STORE_ERR;
	}
	sqlite3_finalize(s);
	return rc;
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
			subid_log(st->log, LOG_ERR, "store=%s uid=%u invalid range row", st->path, (unsigned)uid);
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
		subid_log(st->log, LOG_ERR, "store=%s op=ensure error=\"opened read-only\"", st->path);
		return SUBID_STORE_ERR;
	}
	if (pool->count == 0 || pool->min >= pool->max || pool->max > SUBID_ID_LIMIT ||
	    pool->count > pool->max - pool->min) {
		subid_log(st->log, LOG_ERR, "store=%s op=ensure error=\"invalid pool\"", st->path);
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
				subid_log(st->log, LOG_CRIT, "store=%s out of memory", st->path);
				return rollback(st, SUBID_STORE_ERR);
			}
			memcpy(sorted, taken, ntaken * sizeof(*sorted));
			ntaken = subid_intervals_normalize(sorted, ntaken);
		}
		rc = find_slot(st, pool, sorted, ntaken, &slot);
		free(sorted);
		if (rc != SUBID_STORE_OK) {
			if (rc == SUBID_STORE_FULL)
				subid_log(st->log, LOG_ERR, "store=%s uid=%u pool [%llu, %llu) exhausted: "
					  "no free range of %llu", st->path, (unsigned)uid,
					  (unsigned long long)pool->min, (unsigned long long)pool->max,
					  (unsigned long long)pool->count);
			return rollback(st, rc);
		}
		for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID; kind++) {
			sqlite3_stmt *s;
			struct subid_grant *g = kind == SUBID_KIND_UID ? uid_range : gid_range;

			if (have & kind)
				continue;
			s = prep(st, "INSERT INTO ranges(uid, kind, start, count, name, granted) "
				     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
			if (s == NULL)
				return rollback(st, SUBID_STORE_ERR);
			sqlite3_bind_int64(s, 1, (int64_t)uid);
			sqlite3_bind_int(s, 2, kind);
			sqlite3_bind_int64(s, 3, (int64_t)slot);
			sqlite3_bind_int64(s, 4, (int64_t)pool->count);
			sqlite3_bind_text(s, 5, name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 6, now);
			rc = sqlite3_step(s);
			sqlite3_finalize(s);
			if (rc != SQLITE_DONE) {
				db_error(st, "insert");
				return rollback(st, SUBID_STORE_ERR);
			}
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
