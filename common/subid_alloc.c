/*
 * The allocation path: what a login (pam_subid) and subidctl's writes do
 * to the writer store, the files' mirror and the back end that decides
 * (subid_backend.h): ensure an owner's ranges, release them, import
 * shadow's allocations, publish the read index again.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subid_backend.h"
#include "subid_core_int.h"
#include "subid_mirror.h"

static bool
in_list(const struct subid_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
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
 * mirror_files: lines the mirror wrote for another owner (the store holds
 * exactly that range for him) under the name u has now, or under u's UID,
 * are stale: their owner was renamed or deleted, and his old name went to
 * u.  Docker and LXC would give u those IDs, so they follow their owner to
 * his current name, or are removed when he has no account (his range stays
 * his in the store until "subidctl reclaim").  Lines the store does not
 * know are the admin's and left alone ("subidctl check" reports them).
 * 0, or -1 when a file could not be fixed (logged).
 */
static int
rehome_stale_lines(struct subid_store *st, const struct subid_paths *paths, const struct subid_user *u,
		   const struct subid_file *fu, const struct subid_file *fg, const struct subid_log *log)
{
	const struct {
		const char *path;
		const struct subid_file *f;
		enum subid_kind kind;
	} k[2] = { { paths->subuid, fu, SUBID_KIND_UID }, { paths->subgid, fg, SUBID_KIND_GID } };
	int ret = 0;

	for (size_t i = 0; i < 2; i++) {
		for (size_t j = 0; j < k[i].f->n; j++) {
			const struct subid_file_entry *e = &k[i].f->v[j];
			struct subid_user v = { 0, 0, NULL };
			struct subid_grant g;
			char safe[SUBID_LOG_STR_MAX], vsafe[SUBID_LOG_STR_MAX];
			uid_t other;
			int rc;

			if (!subid_line_names(e, u->name, true, u->uid))
				continue;
			rc = subid_store_overlap(st, k[i].kind, e->start, e->count, u->uid, &other, &g);
			if (rc == SUBID_ERR)
				return -1;
			if (rc != SUBID_OK || g.start != e->start || g.count != e->count)
				continue;
			rc = subid_user_lookup_uid(other, &v);
			if (rc < 0)
				return -1;
			subid_log_str(e->owner, safe, sizeof(safe));
			if (rc == 0 && strcmp(v.name, e->owner) == 0) {
				/* two accounts share the name: the line is the other one's */
				subid_user_free(&v);
				continue;
			}
			subid_log(log, LOG_NOTICE, "mirror stale path=%s owner=%s start=%" PRIu64 " count=%" PRIu64
				  " written_for=%u now=%s uid=%u", k[i].path, safe, e->start, e->count, (unsigned)other,
				  rc == 0 ? subid_log_str(v.name, vsafe, sizeof(vsafe)) : "(no account)",
				  (unsigned)u->uid);
			if (subid_mirror_remove(k[i].path, e->owner, e->start, e->count, log) != 0)
				ret = -1;
			else if (rc == 0 && !subid_name_is_numeric(v.name) &&
				 subid_mirror_add(k[i].path, v.name, e->start, e->count, log) != 0)
				ret = -1;
			subid_user_free(&v);
		}
	}
	return ret;
}

/*
 * Does the published index list u with both ranges?  1 yes (ranges set), 0
 * no or unsure (the writer path decides, and repairs an index that lags or
 * has a damaged record).
 */
static int
index_has_owner(const struct subid_config *cfg, const struct subid_paths *paths, const struct subid_user *u,
		struct subid_grant *ur, struct subid_grant *gr, const struct subid_log *log)
{
	struct subid_index *ix = NULL;
	struct subid_index_owner o;
	int rc;

	if (subid_index_open(&ix, cfg->index_path, paths->trusted_uid, log) != SUBID_OK)
		return 0;
	rc = subid_index_owner(ix, u->uid, &o);
	subid_index_close(ix);
	if (rc != SUBID_OK || o.r[0].count == 0 || o.r[1].count == 0)
		return 0;
	*ur = o.r[0];
	*gr = o.r[1];
	return 1;
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
	struct subid_grant have, r[2];
	const struct subid_backend *be = subid_backend_for(cfg);
	const struct subid_backend_ctx x = { cfg, paths, log };
	size_t ntaken = 0;
	char *old_name = NULL;
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
	if (subid_name_is_numeric(u.name)) {
		subid_log(log, LOG_NOTICE, "refused user=%s uid=%u reason=\"numeric user name\"", safe,
			  (unsigned)u.uid);
		ret = SUBID_ENSURE_REFUSED;
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
	/*
	 * The common case, every su, cron job and ssh session of an owner:
	 * the published index lists him, and that is all (no files, no lock,
	 * no write, no SQLite).  With the mirror, the writer path also makes
	 * sure his lines are in the files (deleted by hand, renamed owner).
	 */
	if (be->index_ends_login && !cfg->mirror_files) {
		rc = index_has_owner(cfg, paths, &u, uid_range, gid_range, log);
		if (rc == 1) {
			subid_log(log, LOG_DEBUG, "user=%s uid=%u has ranges in %s", safe, (unsigned)u.uid, cfg->index_path);
			ret = SUBID_ENSURE_OK;
			goto out;
		}
	}
	if (subid_store_open_rw(&st, cfg->db_path, cfg->index_path, paths->trusted_uid, log) != SUBID_OK)
		goto out;
	/* every /etc/subuid and /etc/subgid line is taken, whatever "files" says */
	if (subid_file_load(paths->subuid, &fu, log) != 0 || subid_file_load(paths->subgid, &fg, log) != 0)
		goto out;
	if (cfg->mirror_files && rehome_stale_lines(st, paths, &u, &fu, &fg, log) != 0)
		goto out;
	/*
	 * Does the account have ranges already?  The store answers, by UID;
	 * lines of the files count only when they are the account's own (an
	 * owner the store does not know: useradd's, the admin's).
	 */
	rc = subid_store_get(st, u.uid, SUBID_KIND_UID, &have);
	if (rc == SUBID_ERR)
		goto out;
	if (rc == SUBID_NONE && cfg->files) {
		struct subid_holders h = { st, NULL };
		int hu = subid_file_has_own_line(&h, &fu, &u), hg = hu == 1 ? subid_file_has_own_line(&h, &fg, &u) : 0;

		if (hu < 0 || hg < 0)
			goto out;
		if (hu == 1 && hg == 1) {
			subid_log(log, LOG_DEBUG, "user=%s uid=%u has ranges in %s and %s", safe, (unsigned)u.uid,
				  paths->subuid, paths->subgid);
			uid_range->start = gid_range->start = 0;
			uid_range->count = gid_range->count = 0;
			ret = SUBID_ENSURE_OK;
			goto out;
		}
	}
	if (subid_taken_intervals(cfg, &fu, &fg, &taken, &ntaken) != 0) {
		subid_log(log, LOG_CRIT, "out of memory");
		goto out;
	}
	/* the name the mirrored lines were written under, before this login records the current one */
	if (cfg->mirror_files && subid_store_name(st, u.uid, &old_name) == SUBID_ERR)
		goto out;
	if (be->ensure(&x, st, &u, &fu, &fg, taken, ntaken, r, &granted) != SUBID_OK)
		goto out;
	*uid_range = r[0];
	*gid_range = r[1];
	if (granted) {
		subid_log(log, LOG_INFO, "granted user=%s uid=%u kind=%s start=%" PRIu64 " count=%" PRIu64,
			  safe, (unsigned)u.uid, subid_kind_name(SUBID_KIND_UID), uid_range->start, uid_range->count);
		subid_log(log, LOG_INFO, "granted user=%s uid=%u kind=%s start=%" PRIu64 " count=%" PRIu64,
			  safe, (unsigned)u.uid, subid_kind_name(SUBID_KIND_GID), gid_range->start, gid_range->count);
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
int
subid_unmirror_owner(struct subid_store *st, const struct subid_paths *paths, uid_t uid, const struct subid_log *log)
{
	struct subid_user u = { 0, 0, NULL };
	struct subid_grant g;
	const char *names[2];
	char *stored = NULL;
	size_t nn = 0;
	int rc;

	if (subid_store_name(st, uid, &stored) == SUBID_ERR)
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

		if (got == SUBID_ERR)
			rc = -1;
		for (size_t i = 0; got == SUBID_OK && i < nn && rc == 0; i++)
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
	size_t released = 0;

	if (subid_core_release_many(cfg, paths, &uid, 1, log, &released, NULL) != 0)
		return -1;
	return released > 0 ? 0 : 1;
}

int
subid_core_release_many(const struct subid_config *cfg, const struct subid_paths *paths, const uid_t *uids,
			size_t n, const struct subid_log *log, size_t *released, bool *each)
{
	struct subid_store *st = NULL;
	const struct subid_backend *be = subid_backend_for(cfg);
	const struct subid_backend_ctx x = { cfg, paths, log };
	bool *in_dir = NULL, *held = NULL;
	size_t local = 0;
	int rc, ret = -1;

	*released = 0;
	for (size_t i = 0; each != NULL && i < n; i++)
		each[i] = false;
	if (n == 0)
		return 0;
	in_dir = calloc(n, sizeof(*in_dir));
	held = calloc(n, sizeof(*held));
	if (in_dir == NULL || held == NULL) {
		free(in_dir);
		free(held);
		subid_log(log, LOG_CRIT, "release error reason=\"out of memory\"");
		return -1;
	}
	/* the authority first: a range the directory still gives must not be freed locally */
	for (size_t i = 0; i < n; i++) {
		rc = be->release(&x, uids[i]);
		if (rc < 0)
			goto out;
		in_dir[i] = rc == SUBID_OK;
	}
	if (subid_store_open_rw(&st, cfg->db_path, cfg->index_path, paths->trusted_uid, log) != SUBID_OK)
		goto out;
	for (size_t i = 0; i < n && cfg->mirror_files; i++)
		if (subid_unmirror_owner(st, paths, uids[i], log) != 0)
			goto out;
	/* one transaction and one published index for all of them */
	if (subid_store_release_many(st, uids, n, &local, held) != SUBID_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!in_dir[i] && !held[i])
			continue;
		(*released)++;
		if (each != NULL)
			each[i] = true;
		subid_log(log, LOG_NOTICE, "released uid=%u store=%s", (unsigned)uids[i], be->name);
	}
	ret = 0;
out:
	subid_store_close(st);
	free(in_dir);
	free(held);
	return ret;
}

int
subid_core_import(const struct subid_config *cfg, const struct subid_paths *paths, struct subid_import *v,
		  size_t n, const struct subid_log *log)
{
	const struct subid_backend *be = subid_backend_for(cfg);
	const struct subid_backend_ctx x = { cfg, paths, log };
	struct subid_store *st = NULL;
	int rc;

	if (be->import == NULL) {
		subid_log(log, LOG_ERR, "import refused store=%s reason=\"%s\"", be->name, be->no_import);
		return SUBID_ERR;
	}
	rc = subid_store_open_rw(&st, cfg->db_path, cfg->index_path, paths->trusted_uid, log);
	if (rc == SUBID_OK)
		rc = be->import(&x, st, v, n);
	subid_store_close(st);
	return rc == SUBID_OK ? SUBID_OK : SUBID_ERR;
}

int
subid_core_reindex(const struct subid_config *cfg, const struct subid_paths *paths, const struct subid_log *log,
		   size_t *owners)
{
	struct subid_store *st = NULL;
	int rc;

	*owners = 0;
	rc = subid_store_open_rw(&st, cfg->db_path, cfg->index_path, paths->trusted_uid, log);
	if (rc == SUBID_OK)
		rc = subid_store_publish(st, owners);
	subid_store_close(st);
	return rc == SUBID_OK ? SUBID_OK : SUBID_ERR;
}

int
subid_core_rows(const struct subid_config *cfg, const struct subid_paths *paths, const struct subid_log *log,
		int (*fn)(const struct subid_row *row, void *ctx), void *ctx)
{
	const struct subid_backend_ctx x = { cfg, paths, log };

	return subid_backend_for(cfg)->list(&x, fn, ctx);
}
