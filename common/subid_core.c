#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subid_core.h"
#include "subid_files.h"
#include "subid_ldap.h"
#include "subid_mirror.h"
#include "subid_user.h"

const struct subid_paths subid_default_paths = {
	.conf = SUBID_CONF_PATH,
	.login_defs = SUBID_LOGIN_DEFS,
	.subuid = SUBID_SUBUID_PATH,
	.subgid = SUBID_SUBGID_PATH,
	.trusted_uid = 0,
};

static const char *
kind_name(enum subid_kind k)
{
	return k == SUBID_KIND_UID ? "subuid" : "subgid";
}

static bool
in_list(const struct subid_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* Does a file line belong to this owner (by name, or by decimal uid)? */
static bool
entry_is_owner(const struct subid_file_entry *e, const char *name, const char *uidstr)
{
	return (name != NULL && strcmp(e->owner, name) == 0) || (uidstr != NULL && strcmp(e->owner, uidstr) == 0);
}

static bool
file_has_owner(const struct subid_file *f, const char *name, const char *uidstr)
{
	for (size_t i = 0; i < f->n; i++)
		if (entry_is_owner(&f->v[i], name, uidstr))
			return true;
	return false;
}

/* Is "name:start:count" a line of f? */
static bool
file_has_line(const struct subid_file *f, const char *name, const struct subid_grant *g)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].start == g->start && f->v[i].count == g->count && strcmp(f->v[i].owner, name) == 0)
			return true;
	return false;
}

/*
 * mirror_files: the owner's ranges also as lines of /etc/subuid and
 * /etc/subgid, for the programs that read the files themselves (Docker,
 * LXC) and for useradd, which must not hand them out again.  Written only
 * when missing from the files as read for this login, so an owner who
 * already has his lines costs nothing.  An owner renamed since his last
 * login (old_name, from the store) loses the lines under his old name: a
 * later account of that name must not inherit his IDs through the files.
 * 0, or -1 when a file could not be written (logged; the ranges are
 * granted and served by the plugin all the same).
 */
static int
mirror_owner(const struct subid_paths *paths, const struct subid_user *u, const char *old_name,
	     const struct subid_file *fu, const struct subid_file *fg, const struct subid_grant *ur,
	     const struct subid_grant *gr, const struct subid_log *log)
{
	const struct {
		const char *path;
		const struct subid_file *f;
		const struct subid_grant *g;
	} k[2] = { { paths->subuid, fu, ur }, { paths->subgid, fg, gr } };
	bool renamed = old_name != NULL && strcmp(old_name, u->name) != 0;
	int rc = 0;

	for (size_t i = 0; i < 2; i++) {
		if (renamed && file_has_line(k[i].f, old_name, k[i].g) &&
		    subid_mirror_remove(k[i].path, old_name, k[i].g->start, k[i].g->count, log) != 0)
			rc = -1;
		if (!file_has_line(k[i].f, u->name, k[i].g) &&
		    subid_mirror_add(k[i].path, u->name, k[i].g->start, k[i].g->count, log) != 0)
			rc = -1;
	}
	return rc;
}

/*
 * store = ldap: the directory decides, the local store keeps a replica.
 * With the directory unreachable, an owner the replica knows keeps his
 * ranges; nobody new is granted anything.  0, or -1 (logged).
 */
static int
ensure_ldap(const struct subid_config *cfg, struct subid_store *st, const struct subid_user *u, const char *safe,
	    const struct subid_interval *taken, size_t ntaken, struct subid_grant *ur, struct subid_grant *gr,
	    bool *granted, const struct subid_log *log)
{
	bool changed;
	int rc;

	rc = subid_ldap_ensure(cfg, u->uid, u->name, taken, ntaken, ur, gr, granted, log);
	if (rc == SUBID_LDAP_OK)
		return subid_store_put(st, u->uid, u->name, ur, gr, &changed) == SUBID_STORE_OK ? 0 : -1;
	*granted = false;
	if (rc == SUBID_LDAP_DOWN && subid_store_get(st, u->uid, SUBID_KIND_UID, ur) == SUBID_STORE_OK &&
	    subid_store_get(st, u->uid, SUBID_KIND_GID, gr) == SUBID_STORE_OK) {
		subid_log(log, LOG_WARNING, "replica user=%s uid=%u reason=\"directory unreachable; "
			  "ranges served from the local replica\"", safe, (unsigned)u->uid);
		return 0;
	}
	return -1;
}

enum subid_ensure_rc
subid_core_ensure(const struct subid_config *cfg, const struct subid_paths *paths, const char *user,
		  unsigned flags, const struct subid_log *log, struct subid_grant *uid_range,
		  struct subid_grant *gid_range)
{
	struct subid_user u = { 0, 0, NULL };
	struct subid_file fu = { NULL, 0, 0 }, fg = { NULL, 0, 0 };
	struct subid_interval *taken = NULL;
	struct subid_store *st = NULL;
	struct subid_pool pool;
	size_t ntaken = 0;
	char uidstr[16], *old_name = NULL;
	bool granted = false;
	enum subid_ensure_rc ret = SUBID_ENSURE_ERROR;
	char safe[SUBID_LOG_STR_MAX];
	int rc;

	rc = subid_user_lookup(user, false, &u);
	if (rc == 1) {
		subid_log(log, LOG_NOTICE, "unknown user=%s", subid_log_str(user, safe, sizeof(safe)));
		return SUBID_ENSURE_UNKNOWN_USER;
	}
	if (rc != 0) {
		subid_log(log, LOG_ERR, "error user=%s reason=\"user lookup failed\"",
			  subid_log_str(user, safe, sizeof(safe)));
		return SUBID_ENSURE_ERROR;
	}
	/* from here on the name NSS returned is the one logged, made safe once */
	subid_log_str(u.name, safe, sizeof(safe));
	if (u.uid == 0) {
		subid_log(log, LOG_DEBUG, "skipped user=%s uid=0 reason=root", safe);
		ret = SUBID_ENSURE_SKIPPED;
		goto out;
	}
	if ((flags & SUBID_ENSURE_FORCE) != 0)
		goto allocate;
	if (u.uid < cfg->uid_min || in_list(&cfg->skip_users, u.name)) {
		subid_log(log, LOG_DEBUG, "skipped user=%s uid=%u reason=%s", safe, (unsigned)u.uid,
			  u.uid < cfg->uid_min ? "uid_min" : "skip_users");
		ret = SUBID_ENSURE_SKIPPED;
		goto out;
	}
	rc = subid_user_in_groups(&u, &cfg->skip_groups);
	if (rc < 0) {
		subid_log(log, LOG_ERR, "error user=%s uid=%u reason=\"group lookup failed\"", safe, (unsigned)u.uid);
		goto out;
	}
	if (rc == 1) {
		subid_log(log, LOG_DEBUG, "skipped user=%s uid=%u reason=skip_groups", safe, (unsigned)u.uid);
		ret = SUBID_ENSURE_SKIPPED;
		goto out;
	}
allocate:

	/* every /etc/subuid and /etc/subgid line is taken, whatever "files" says */
	if (subid_file_load(paths->subuid, &fu, log) != 0 || subid_file_load(paths->subgid, &fg, log) != 0)
		goto out;
	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)u.uid);
	if (cfg->files && file_has_owner(&fu, u.name, uidstr) && file_has_owner(&fg, u.name, uidstr)) {
		subid_log(log, LOG_DEBUG, "user=%s uid=%u has ranges in %s and %s", safe, (unsigned)u.uid,
			  paths->subuid, paths->subgid);
		uid_range->start = gid_range->start = 0;
		uid_range->count = gid_range->count = 0;
		ret = SUBID_ENSURE_OK;
		goto out;
	}
	if (subid_file_intervals(&fu, &taken, &ntaken) != 0 || subid_file_intervals(&fg, &taken, &ntaken) != 0) {
		subid_log(log, LOG_CRIT, "out of memory");
		goto out;
	}
	{
		struct subid_interval *nv = realloc(taken, (ntaken + cfg->n_reserved + 1) * sizeof(*nv));

		if (nv == NULL) {
			subid_log(log, LOG_CRIT, "out of memory");
			goto out;
		}
		taken = nv;
		if (cfg->n_reserved > 0)
			memcpy(taken + ntaken, cfg->reserved, cfg->n_reserved * sizeof(*taken));
		ntaken += cfg->n_reserved;
		subid_config_real_ids(cfg, &taken[ntaken++]);
	}
	ntaken = subid_intervals_normalize(taken, ntaken);

	if (subid_store_open_rw(&st, cfg->db_path, paths->trusted_uid, log) != SUBID_STORE_OK)
		goto out;
	/* the name the mirrored lines were written under, before this login records the current one */
	if (cfg->mirror_files && subid_store_name(st, u.uid, &old_name) == SUBID_STORE_ERR)
		goto out;
	if (cfg->store == SUBID_STORE_LDAP) {
		if (ensure_ldap(cfg, st, &u, safe, taken, ntaken, uid_range, gid_range, &granted, log) != 0)
			goto out;
	} else {
		pool.min = cfg->range_min;
		pool.max = cfg->range_max;
		pool.count = cfg->range_count;
		rc = subid_store_ensure(st, u.uid, u.name, &pool, taken, ntaken, uid_range, gid_range, &granted);
		if (rc != SUBID_STORE_OK)
			goto out;
	}
	if (granted) {
		subid_log(log, LOG_INFO, "granted user=%s uid=%u kind=%s start=%" PRIu64 " count=%" PRIu64,
			  safe, (unsigned)u.uid, kind_name(SUBID_KIND_UID), uid_range->start, uid_range->count);
		subid_log(log, LOG_INFO, "granted user=%s uid=%u kind=%s start=%" PRIu64 " count=%" PRIu64,
			  safe, (unsigned)u.uid, kind_name(SUBID_KIND_GID), gid_range->start, gid_range->count);
	}
	ret = SUBID_ENSURE_OK;
	if (cfg->mirror_files && mirror_owner(paths, &u, old_name, &fu, &fg, uid_range, gid_range, log) != 0)
		ret = SUBID_ENSURE_OK_UNMIRRORED;
out:
	free(old_name);
	subid_store_close(st);
	free(taken);
	subid_file_free(&fu);
	subid_file_free(&fg);
	subid_user_free(&u);
	return ret;
}

/*
 * The mirrored lines of uid's stored ranges, removed first: a line must
 * never outlive its range.  They are found under the name the store
 * recorded (an orphan, whose account is gone, has no other) and under the
 * name NSS gives now, if that differs (renamed since the last login).
 */
static int
unmirror_owner(struct subid_store *st, const struct subid_paths *paths, uid_t uid, const struct subid_log *log)
{
	struct subid_user u = { 0, 0, NULL };
	struct subid_grant g;
	const char *names[2];
	char *stored = NULL;
	size_t nn = 0;
	int rc;

	if (subid_store_name(st, uid, &stored) == SUBID_STORE_ERR)
		return -1;
	rc = subid_user_lookup_uid(uid, &u);
	if (rc < 0) {
		free(stored);
		return -1;
	}
	if (stored != NULL)
		names[nn++] = stored;
	if (rc == 0 && (stored == NULL || strcmp(stored, u.name) != 0))
		names[nn++] = u.name;
	rc = 0;
	for (int kind = SUBID_KIND_UID; kind <= SUBID_KIND_GID && rc == 0; kind++) {
		int got = subid_store_get(st, uid, kind, &g);

		if (got == SUBID_STORE_ERR)
			rc = -1;
		for (size_t i = 0; got == SUBID_STORE_OK && i < nn && rc == 0; i++)
			if (subid_mirror_remove(kind == SUBID_KIND_UID ? paths->subuid : paths->subgid, names[i],
						g.start, g.count, log) != 0)
				rc = -1;
	}
	free(stored);
	subid_user_free(&u);
	return rc;
}

int
subid_core_release(const struct subid_config *cfg, const struct subid_paths *paths, uid_t uid,
		   const struct subid_log *log)
{
	struct subid_store *st = NULL;
	bool found = false;
	int rc;

	if (cfg->store == SUBID_STORE_LDAP) {
		rc = subid_ldap_release(cfg, uid, log);
		if (rc < 0)
			return -1;
		found = rc == SUBID_LDAP_OK;
	}
	if (subid_store_open_rw(&st, cfg->db_path, paths->trusted_uid, log) != SUBID_STORE_OK)
		return -1;
	if (cfg->mirror_files && unmirror_owner(st, paths, uid, log) != 0) {
		subid_store_close(st);
		return -1;
	}
	rc = subid_store_release(st, uid);
	subid_store_close(st);
	if (rc == SUBID_STORE_ERR)
		return -1;
	found = found || rc == SUBID_STORE_OK;
	if (found)
		subid_log(log, LOG_NOTICE, "released uid=%u store=%s", (unsigned)uid,
			  cfg->store == SUBID_STORE_LDAP ? "ldap" : "local");
	return found ? 0 : 1;
}

/* ---- the libsubid plugin ----------------------------------------------------------- */

struct range_vec {
	struct subid_range *v;
	size_t n;
};

static int
vec_add(struct range_vec *r, uint64_t start, uint64_t count)
{
	struct subid_range *nv;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].start == start && r->v[i].count == count)
			return 0;	/* same range from the store and a mirrored file line */
	if (r->n >= (size_t)INT32_MAX)
		return -1;
	nv = realloc(r->v, (r->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	r->v = nv;
	r->v[r->n].start = (unsigned long)start;
	r->v[r->n].count = (unsigned long)count;
	r->n++;
	return 0;
}

static enum subid_kind
to_kind(enum subid_type t)
{
	return t == ID_TYPE_UID ? SUBID_KIND_UID : SUBID_KIND_GID;
}

/*
 * An owner the replica does not know, asked of the directory (anonymous
 * bind, ldap_timeout).  Not written to the replica: the plugin never writes,
 * and the owner's next login does.  0 found, 1 none, -1 error (logged): a
 * directory that cannot answer makes has_range say no.
 */
static int
lookup_directory(const struct subid_config *cfg, const struct subid_user *u, enum subid_type type,
		 struct subid_grant *g, const struct subid_log *log)
{
	struct subid_grant ur, gr;
	int rc = subid_ldap_lookup(cfg, u->uid, &ur, &gr, log);

	if (rc == 1)
		return 1;
	if (rc != SUBID_LDAP_OK)
		return -1;
	*g = type == ID_TYPE_UID ? ur : gr;
	return 0;
}

/*
 * Every range of owner (store + files).  SUCCESS with r->n possibly 0 for a
 * known owner; UNKNOWN_USER; ERROR; ERROR_CONN when the directory asked on a
 * replica miss did not answer and the files have nothing for the owner
 * either (with a range from the files, those are served: a directory outage
 * must not take local entries away).
 */
static enum subid_status
collect(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
	enum subid_type type, struct range_vec *r)
{
	struct subid_config cfg;
	struct subid_user u = { 0, 0, NULL };
	struct subid_store *st = NULL;
	struct subid_file f = { NULL, 0, 0 };
	struct subid_grant g;
	enum subid_status ret = SUBID_STATUS_ERROR;
	char uidstr[16];
	bool known, dir_failed = false;
	int rc;

	r->v = NULL;
	r->n = 0;
	if (owner == NULL || (type != ID_TYPE_UID && type != ID_TYPE_GID))
		return SUBID_STATUS_ERROR;
	if (subid_config_load(&cfg, paths->conf, paths->login_defs, paths->trusted_uid, log) != 0)
		return SUBID_STATUS_ERROR;
	rc = subid_user_lookup(owner, true, &u);
	if (rc < 0) {
		char safe[SUBID_LOG_STR_MAX];

		subid_log(log, LOG_ERR, "error owner=%s reason=\"user lookup failed\"",
			  subid_log_str(owner, safe, sizeof(safe)));
		goto out;
	}
	known = rc == 0;
	if (known) {
		snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)u.uid);
		rc = subid_store_open_ro(&st, cfg.db_path, paths->trusted_uid, log);
		if (rc == SUBID_STORE_ERR)
			goto out;
		if (rc == SUBID_STORE_OK) {
			rc = subid_store_get(st, u.uid, to_kind(type), &g);
			if (rc == SUBID_STORE_ERR)
				goto out;
			if (rc == SUBID_STORE_OK && vec_add(r, g.start, g.count) != 0)
				goto oom;
		}
		if (rc == SUBID_STORE_NOTFOUND && cfg.store == SUBID_STORE_LDAP && cfg.ldap.lookup_on_miss) {
			rc = lookup_directory(&cfg, &u, type, &g, log);
			dir_failed = rc < 0;
			if (rc == 0 && vec_add(r, g.start, g.count) != 0)
				goto oom;
		}
	}
	if (cfg.files) {
		if (subid_file_load(type == ID_TYPE_UID ? paths->subuid : paths->subgid, &f, log) != 0)
			goto out;
		for (size_t i = 0; i < f.n; i++) {
			/* an owner NSS does not know may still be named in the file */
			if (known ? entry_is_owner(&f.v[i], u.name, uidstr) : strcmp(f.v[i].owner, owner) == 0) {
				if (vec_add(r, f.v[i].start, f.v[i].count) != 0)
					goto oom;
			}
		}
	}
	if (dir_failed && r->n == 0)
		ret = SUBID_STATUS_ERROR_CONN;
	else
		ret = (known || r->n > 0) ? SUBID_STATUS_SUCCESS : SUBID_STATUS_UNKNOWN_USER;
	goto out;
oom:
	subid_log(log, LOG_CRIT, "out of memory");
out:
	if (ret != SUBID_STATUS_SUCCESS) {
		free(r->v);
		r->v = NULL;
		r->n = 0;
	}
	subid_file_free(&f);
	subid_store_close(st);
	subid_user_free(&u);
	subid_config_free(&cfg);
	return ret;
}

enum subid_status
subid_core_list(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
		enum subid_type type, struct subid_range **ranges, int *count)
{
	struct range_vec r;
	enum subid_status ret;

	*ranges = NULL;
	*count = 0;
	ret = collect(paths, log, owner, type, &r);
	if (ret != SUBID_STATUS_SUCCESS)
		return ret;
	if (r.n == 0) {
		free(r.v);
		return SUBID_STATUS_SUCCESS;
	}
	*ranges = r.v;
	*count = (int)r.n;
	return SUBID_STATUS_SUCCESS;
}

/* has_range's "no" is newuidmap/newgidmap refusing a mapping: one line for the audit trail. */
static void
has_refused(const struct subid_log *log, const char *owner, enum subid_type type, unsigned long start,
	    unsigned long count, const char *why)
{
	char safe[SUBID_LOG_STR_MAX];

	subid_log(log, LOG_NOTICE, "refused owner=%s kind=%s start=%lu count=%lu reason=\"%s\"",
		  subid_log_str(owner != NULL ? owner : "", safe, sizeof(safe)),
		  kind_name(to_kind(type)), start, count, why);
}

enum subid_status
subid_core_has(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
	       unsigned long start, unsigned long count, enum subid_type type, bool *result)
{
	struct range_vec r;
	struct subid_interval *iv = NULL;
	enum subid_status ret;
	uint64_t end;

	*result = false;
	if (!subid_range_end(start, count, &end)) {
		/* not a valid range: nobody has it */
		has_refused(log, owner, type, start, count, "not a valid range");
		return SUBID_STATUS_SUCCESS;
	}
	ret = collect(paths, log, owner, type, &r);
	if (ret != SUBID_STATUS_SUCCESS)
		return ret;
	if (r.n > 0 && (iv = calloc(r.n, sizeof(*iv))) == NULL) {
		free(r.v);
		subid_log(log, LOG_CRIT, "out of memory");
		return SUBID_STATUS_ERROR;
	}
	for (size_t i = 0; i < r.n; i++) {
		iv[i].start = r.v[i].start;
		iv[i].end = r.v[i].start + r.v[i].count;	/* validated by the store and parser */
	}
	*result = subid_intervals_cover(iv, r.n, start, count);
	if (!*result)
		has_refused(log, owner, type, start, count, "not within the owner's ranges");
	free(iv);
	free(r.v);
	return SUBID_STATUS_SUCCESS;
}

static int
uid_add(uid_t **v, size_t *n, uid_t uid)
{
	uid_t *nv;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == uid)
			return 0;
	if (*n >= (size_t)INT32_MAX)
		return -1;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	nv[(*n)++] = uid;
	*v = nv;
	return 0;
}

enum subid_status
subid_core_owners(const struct subid_paths *paths, const struct subid_log *log, unsigned long id,
		  enum subid_type type, uid_t **uids, int *count)
{
	struct subid_config cfg;
	struct subid_store *st = NULL;
	struct subid_file f = { NULL, 0, 0 };
	enum subid_status ret = SUBID_STATUS_ERROR;
	uid_t *v = NULL, uid;
	size_t n = 0;
	int rc;

	*uids = NULL;
	*count = 0;
	if (type != ID_TYPE_UID && type != ID_TYPE_GID)
		return SUBID_STATUS_ERROR;
	if (subid_config_load(&cfg, paths->conf, paths->login_defs, paths->trusted_uid, log) != 0)
		return SUBID_STATUS_ERROR;
	if (id >= SUBID_ID_LIMIT) {
		ret = SUBID_STATUS_SUCCESS;
		goto out;
	}
	rc = subid_store_open_ro(&st, cfg.db_path, paths->trusted_uid, log);
	if (rc == SUBID_STORE_ERR)
		goto out;
	if (rc == SUBID_STORE_OK) {
		rc = subid_store_owner_of(st, to_kind(type), id, &uid);
		if (rc == SUBID_STORE_ERR)
			goto out;
		if (rc == SUBID_STORE_OK && uid_add(&v, &n, uid) != 0)
			goto oom;
	}
	if (cfg.files) {
		if (subid_file_load(type == ID_TYPE_UID ? paths->subuid : paths->subgid, &f, log) != 0)
			goto out;
		for (size_t i = 0; i < f.n; i++) {
			struct subid_user u;

			if (id < f.v[i].start || id - f.v[i].start >= f.v[i].count)
				continue;
			rc = subid_user_lookup(f.v[i].owner, true, &u);
			if (rc < 0)
				goto out;
			if (rc == 1)
				continue;	/* a line for an owner that no longer exists */
			rc = uid_add(&v, &n, u.uid);
			subid_user_free(&u);
			if (rc != 0)
				goto oom;
		}
	}
	ret = SUBID_STATUS_SUCCESS;
	goto out;
oom:
	subid_log(log, LOG_CRIT, "out of memory");
out:
	if (ret == SUBID_STATUS_SUCCESS && n > 0) {
		*uids = v;
		*count = (int)n;
	} else {
		free(v);
	}
	subid_file_free(&f);
	subid_store_close(st);
	subid_config_free(&cfg);
	return ret;
}
