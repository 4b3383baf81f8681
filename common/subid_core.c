#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subid_core.h"
#include "subid_files.h"
#include "subid_index.h"
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

/*
 * Does a file line name this account?  An owner of digits names a UID, any
 * other owner a user name: a name of digits is never taken for the account
 * it spells (such names are refused anyway), nor a UID for a name.  name
 * may be NULL (an account NSS does not know), has_uid false (nor its UID).
 */
static bool
line_names(const struct subid_file_entry *e, const char *name, bool has_uid, uid_t uid)
{
	char uidstr[16];

	if (!subid_name_is_numeric(e->owner))
		return name != NULL && strcmp(e->owner, name) == 0;
	if (!has_uid)
		return false;
	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)uid);
	return strcmp(e->owner, uidstr) == 0;
}

/*
 * Who holds which IDs, as line_is_owners() and directory_ranges_ok() ask
 * it: the writer store (pam_subid's writer path, subidctl as root) or the
 * read index (the plugin, the later-login check).  Either may be absent
 * (nothing granted yet).
 */
struct holders {
	struct subid_store *st;
	const struct subid_index *ix;
};

/* Another owner than except holding any of [start, start + count), of kind (0: either): OK / NOTFOUND / ERR. */
static int
holder_overlap(const struct holders *h, int kind, uint64_t start, uint64_t count, uid_t except, uid_t *uid,
	       struct subid_grant *range)
{
	int rc;

	if (h->st != NULL)
		return subid_store_overlap(h->st, kind, start, count, except, uid, range);
	if (h->ix == NULL)
		return SUBID_NONE;
	rc = subid_index_overlap(h->ix, kind, start, count, except, uid, range);
	return rc == SUBID_OK ? SUBID_OK : rc == SUBID_NONE ? SUBID_NONE : SUBID_ERR;
}

/*
 * Is the line the account's own: it names the account, and the store
 * attributes no part of it to another owner (a line the mirror wrote for an
 * owner since renamed or deleted stays his, whoever has his old name now).
 * st may be NULL (no store yet).  1 yes, 0 no, -1 error (logged).
 */
static int
line_is_owners(const struct holders *h, const struct subid_file_entry *e, const char *name, bool has_uid, uid_t uid)
{
	int rc;

	if (!line_names(e, name, has_uid, uid))
		return 0;
	/* an owner NSS does not know matches every store owner: uid -1 is nobody's */
	rc = holder_overlap(h, 0, e->start, e->count, has_uid ? uid : (uid_t)-1, NULL, NULL);
	if (rc == SUBID_ERR)
		return -1;
	return rc == SUBID_NONE;
}

/* Does f hold a line that is u's own?  1 yes, 0 no, -1 error. */
static int
file_has_own_line(const struct holders *h, const struct subid_file *f, const struct subid_user *u)
{
	for (size_t i = 0; i < f->n; i++) {
		int rc = line_is_owners(h, &f->v[i], u->name, true, u->uid);

		if (rc != 0)
			return rc;
	}
	return 0;
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

			if (!line_names(e, u->name, true, u->uid))
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

void
subid_core_pool(const struct subid_config *cfg, struct subid_pool *pool)
{
	pool->min = cfg->range_min;
	pool->max = cfg->range_max;
	pool->count = cfg->range_count;
}

/* The pool and the intervals an allocation must avoid: file lines, reserved, real IDs. */
static int
taken_intervals(const struct subid_config *cfg, const struct subid_file *fu, const struct subid_file *fg,
		struct subid_interval **taken, size_t *ntaken)
{
	struct subid_interval *nv;

	*taken = NULL;
	*ntaken = 0;
	if (subid_file_intervals(fu, taken, ntaken) != 0 || subid_file_intervals(fg, taken, ntaken) != 0)
		return -1;
	nv = realloc(*taken, (*ntaken + cfg->n_reserved + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	*taken = nv;
	if (cfg->n_reserved > 0)
		memcpy(nv + *ntaken, cfg->reserved, cfg->n_reserved * sizeof(*nv));
	*ntaken += cfg->n_reserved;
	subid_config_real_ids(cfg, &nv[(*ntaken)++]);
	*ntaken = subid_intervals_normalize(nv, *ntaken);
	return 0;
}

/*
 * A directory entry is untrusted input (any host's bind DN may write it):
 * before it reaches the replica or newuidmap, its ranges must lie in the
 * pool and overlap no local /etc/subuid or /etc/subgid line (but the
 * owner's own), and no other owner's row in the replica (st, may be NULL).
 * Real IDs and reserved intervals were checked by the ldap module.
 * 0 acceptable, 1 refused (logged with both owners), -1 error.
 */
static int
directory_ranges_ok(const struct subid_config *cfg, const struct holders *h, const struct subid_user *u,
		    const struct subid_file *fu, const struct subid_file *fg, const struct subid_grant *ur,
		    const struct subid_grant *gr, const struct subid_log *log)
{
	const struct subid_grant *g[2] = { ur, gr };
	const struct subid_file *f[2] = { fu, fg };
	char why[160];

	why[0] = '\0';
	for (int k = 0; k < 2 && why[0] == '\0'; k++) {
		uint64_t end;
		uid_t other;
		int rc;

		if (!subid_range_end(g[k]->start, g[k]->count, &end) || g[k]->start < cfg->range_min ||
		    end > cfg->range_max) {
			snprintf(why, sizeof(why), "lies outside the pool [%" PRIu64 ", %" PRIu64 ")", cfg->range_min,
				 cfg->range_max);
			break;
		}
		for (int fk = 0; fk < 2; fk++)
			for (size_t i = 0; i < f[fk]->n && why[0] == '\0'; i++) {
				const struct subid_file_entry *e = &f[fk]->v[i];

				if (e->start < end && g[k]->start < e->start + e->count &&
				    !line_names(e, u->name, true, u->uid))
					snprintf(why, sizeof(why), "overlaps a line of %s",
						 fk == 0 ? "/etc/subuid" : "/etc/subgid");
			}
		if (why[0] != '\0' || h == NULL)
			continue;
		rc = holder_overlap(h, 0, g[k]->start, g[k]->count, u->uid, &other, NULL);
		if (rc == SUBID_ERR)
			return -1;
		if (rc == SUBID_OK)
			snprintf(why, sizeof(why), "overlaps uid %u's ranges in the local replica", (unsigned)other);
	}
	if (why[0] == '\0')
		return 0;
	subid_log(log, LOG_ERR, "ldap refused uid=%u subuid=%" PRIu64 "+%" PRIu64 " subgid=%" PRIu64 "+%" PRIu64
		  " reason=\"the directory's entry %s\"", (unsigned)u->uid, ur->start, ur->count, gr->start,
		  gr->count, why);
	return 1;
}

static int unmirror_owner(struct subid_store *st, const struct subid_paths *paths, uid_t uid,
			  const struct subid_log *log);

static bool
grants_overlap(const struct subid_grant *a, const struct subid_grant *b)
{
	return a->start < b->start + b->count && b->start < a->start + a->count;
}

/*
 * The directory gave u ranges that the replica holds for another owner.
 * Either that row is stale (the directory has released the owner's entry or
 * moved it since this host last saw it): then the space is u's by the
 * authority's word for both owners, and the stale rows go.  Or the other
 * owner's entry still holds the space: two entries claim one range, and u's
 * is refused (whoever wrote the second one cannot displace the first).
 * Asked of the directory by the other owner's UID.  0 the other owner's rows
 * dropped (put again), 1 refused (logged), -1 error (logged).
 */
static int
settle_replica_conflict(const struct subid_config *cfg, const struct subid_paths *paths, struct subid_store *st,
			const struct subid_user *u, uid_t other, const struct subid_grant *ur,
			const struct subid_grant *gr, const struct subid_log *log)
{
	struct subid_grant vur, vgr;
	int rc = subid_ldap_lookup(cfg, other, &vur, &vgr, log);

	if (rc == SUBID_OK && !grants_overlap(&vur, ur) && !grants_overlap(&vur, gr) &&
	    !grants_overlap(&vgr, ur) && !grants_overlap(&vgr, gr))
		rc = 1;		/* the other owner's entry is elsewhere now */
	if (rc != 1) {
		subid_log(log, LOG_ERR, "ldap refused uid=%u subuid=%" PRIu64 "+%" PRIu64 " subgid=%" PRIu64 "+%" PRIu64
			  " reason=\"the directory's entry overlaps uid %u's ranges in the local replica, %s\"",
			  (unsigned)u->uid, ur->start, ur->count, gr->start, gr->count, (unsigned)other,
			  rc == SUBID_OK ? "which the directory still gives to that owner" : "and the directory "
			  "could not confirm that they are free");
		return 1;
	}
	if (cfg->mirror_files && unmirror_owner(st, paths, other, log) != 0)
		return -1;
	if (subid_store_release(st, other) == SUBID_ERR)
		return -1;
	subid_log(log, LOG_NOTICE, "replica dropped uid=%u reason=\"the directory no longer gives it these IDs; "
		  "they are uid %u's now\"", (unsigned)other, (unsigned)u->uid);
	return 0;
}

/*
 * store = ldap: the directory decides, the local store keeps a replica.
 * With the directory unreachable, an owner the replica knows keeps his
 * ranges; nobody new is granted anything.  0, or -1 (logged).
 */
static int
ensure_ldap(const struct subid_config *cfg, const struct subid_paths *paths, struct subid_store *st,
	    const struct subid_user *u, const char *safe,
	    const struct subid_file *fu, const struct subid_file *fg, const struct subid_interval *taken,
	    size_t ntaken, struct subid_grant *ur, struct subid_grant *gr, bool *granted,
	    const struct subid_log *log)
{
	bool changed;
	uid_t other;
	int rc;

	rc = subid_ldap_ensure(cfg, u->uid, u->name, taken, ntaken, ur, gr, granted, log);
	if (rc == SUBID_OK) {
		/* the replica's rows of other owners are settled one by one below */
		rc = directory_ranges_ok(cfg, NULL, u, fu, fg, ur, gr, log) == 0 ? SUBID_CONFLICT : -1;
		for (int tries = 0; rc == SUBID_CONFLICT; tries++) {
			rc = subid_store_put(st, u->uid, u->name, ur, gr, &changed, &other);
			if (rc != SUBID_CONFLICT)
				break;
			/* each try drops one stale owner; more than a few is no stale replica */
			if (tries == 4 || settle_replica_conflict(cfg, paths, st, u, other, ur, gr, log) != 0)
				rc = -1;
		}
		if (rc != SUBID_OK)
			*granted = false;
		return rc == SUBID_OK ? 0 : -1;
	}
	*granted = false;
	if (rc == SUBID_DOWN && subid_store_get(st, u->uid, SUBID_KIND_UID, ur) == SUBID_OK &&
	    subid_store_get(st, u->uid, SUBID_KIND_GID, gr) == SUBID_OK) {
		subid_log(log, LOG_WARNING, "replica user=%s uid=%u reason=\"directory unreachable; "
			  "ranges served from the local replica\"", safe, (unsigned)u->uid);
		return 0;
	}
	return -1;
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
	struct subid_grant have;
	struct subid_pool pool;
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
	if (cfg->store == SUBID_BACKEND_LOCAL && !cfg->mirror_files) {
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
		struct holders h = { st, NULL };
		int hu = file_has_own_line(&h, &fu, &u), hg = hu == 1 ? file_has_own_line(&h, &fg, &u) : 0;

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
	if (taken_intervals(cfg, &fu, &fg, &taken, &ntaken) != 0) {
		subid_log(log, LOG_CRIT, "out of memory");
		goto out;
	}
	/* the name the mirrored lines were written under, before this login records the current one */
	if (cfg->mirror_files && subid_store_name(st, u.uid, &old_name) == SUBID_ERR)
		goto out;
	if (cfg->store == SUBID_BACKEND_LDAP) {
		if (ensure_ldap(cfg, paths, st, &u, safe, &fu, &fg, taken, ntaken, uid_range, gid_range, &granted, log) != 0)
			goto out;
	} else {
		subid_core_pool(cfg, &pool);
		rc = subid_store_ensure(st, u.uid, u.name, &pool, taken, ntaken, uid_range, gid_range, &granted);
		if (rc != SUBID_OK)
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
	for (size_t i = 0; i < n && cfg->store == SUBID_BACKEND_LDAP; i++) {
		rc = subid_ldap_release(cfg, uids[i], log);
		if (rc < 0)
			goto out;
		in_dir[i] = rc == SUBID_OK;
	}
	if (subid_store_open_rw(&st, cfg->db_path, cfg->index_path, paths->trusted_uid, log) != SUBID_OK)
		goto out;
	for (size_t i = 0; i < n && cfg->mirror_files; i++)
		if (unmirror_owner(st, paths, uids[i], log) != 0)
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
		subid_log(log, LOG_NOTICE, "released uid=%u store=%s", (unsigned)uids[i],
			  cfg->store == SUBID_BACKEND_LDAP ? "ldap" : "local");
	}
	ret = 0;
out:
	subid_store_close(st);
	free(in_dir);
	free(held);
	return ret;
}

/* ---- the libsubid plugin ----------------------------------------------------------- */

struct range_vec {
	struct subid_range *v;
	size_t n;
	bool not_caller;	/* collect(): the owner is not the caller it was given */
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
 * bind, ldap_timeout), and checked like any directory answer against the
 * files and the replica (st, may be NULL).  Not written to the replica: the
 * plugin never writes, and the owner's next login does.  0 found, 1 none
 * (or refused, logged), -1 error (logged): a directory that cannot answer
 * makes has_range say no.
 */
static int
lookup_directory(const struct subid_config *cfg, const struct subid_paths *paths, const struct holders *h,
		 const struct subid_user *u, enum subid_type type, struct subid_grant *g,
		 const struct subid_log *log)
{
	struct subid_file fu = { NULL, 0, 0 }, fg = { NULL, 0, 0 };
	struct subid_grant ur, gr;
	int rc = subid_ldap_lookup(cfg, u->uid, &ur, &gr, log);

	if (rc == SUBID_NONE)
		return 1;
	if (rc != SUBID_OK)
		return -1;
	if (subid_file_load(paths->subuid, &fu, log) != 0 || subid_file_load(paths->subgid, &fg, log) != 0)
		rc = -1;
	else
		rc = directory_ranges_ok(cfg, h, u, &fu, &fg, &ur, &gr, log);
	subid_file_free(&fu);
	subid_file_free(&fg);
	if (rc != 0)
		return rc;
	*g = type == ID_TYPE_UID ? ur : gr;
	return 0;
}

/*
 * Every range of owner (store + files).  SUCCESS with r->n possibly 0 for a
 * known owner; UNKNOWN_USER; ERROR; ERROR_CONN when the directory asked on a
 * replica miss did not answer and the files have nothing for the owner
 * either (with a range from the files, those are served: a directory outage
 * must not take local entries away).
 *
 * The owner is a name (looked up first) or a decimal UID; a UID NSS does not
 * know (an account of a directory that is unreachable now) is still served
 * what the store holds for it.  With caller set (has_range inside setuid
 * newuidmap), an owner that is not the calling UID gets nothing.
 */
static enum subid_status
collect(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
	enum subid_type type, const uid_t *caller, struct range_vec *r)
{
	struct subid_config cfg;
	struct subid_user u = { 0, 0, NULL };
	struct subid_index *ix = NULL;
	struct holders h = { NULL, NULL };
	struct subid_file f = { NULL, 0, 0 };
	struct subid_grant g;
	enum subid_status ret = SUBID_STATUS_ERROR;
	const char *name;
	uint64_t v;
	bool known, has_uid, dir_failed = false;
	int rc;

	r->v = NULL;
	r->n = 0;
	r->not_caller = false;
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
	has_uid = known;
	name = known ? u.name : owner;
	if (!known && subid_name_is_numeric(owner) && subid_parse_u64(owner, &v) && v < SUBID_ID_LIMIT &&
	    (owner[0] != '0' || owner[1] == '\0')) {
		/* a UID NSS does not know: the store is keyed by UID */
		u.uid = (uid_t)v;
		has_uid = true;
		name = NULL;
	}
	if (caller != NULL && (!has_uid || u.uid != *caller)) {
		r->not_caller = true;
		ret = SUBID_STATUS_SUCCESS;	/* nothing: has_range says no */
		goto out;
	}
	/* the published index only: never the writer's database, never a lock */
	rc = subid_index_open(&ix, cfg.index_path, paths->trusted_uid, log);
	if (rc == SUBID_ERR)
		goto out;
	h.ix = ix;
	if (has_uid && ix != NULL) {
		rc = subid_index_get(ix, u.uid, to_kind(type), &g);
		if (rc == SUBID_ERR) {
			subid_log(log, LOG_ERR, "index refused path=%s reason=\"malformed record\"", cfg.index_path);
			goto out;
		}
		if (rc == SUBID_OK && vec_add(r, g.start, g.count) != 0)
			goto oom;
	}
	if (known && r->n == 0 && cfg.store == SUBID_BACKEND_LDAP && cfg.ldap.lookup_on_miss) {
		rc = lookup_directory(&cfg, paths, &h, &u, type, &g, log);
		dir_failed = rc < 0;
		if (rc == 0 && vec_add(r, g.start, g.count) != 0)
			goto oom;
	}
	if (cfg.files) {
		if (subid_file_load(type == ID_TYPE_UID ? paths->subuid : paths->subgid, &f, log) != 0)
			goto out;
		for (size_t i = 0; i < f.n; i++) {
			rc = line_is_owners(&h, &f.v[i], name, has_uid, u.uid);
			if (rc < 0)
				goto out;
			if (rc == 1 && vec_add(r, f.v[i].start, f.v[i].count) != 0)
				goto oom;
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
	subid_index_close(ix);
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
	ret = collect(paths, log, owner, type, NULL, &r);
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
	       unsigned long start, unsigned long count, enum subid_type type, const uid_t *caller, bool *result)
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
	ret = collect(paths, log, owner, type, caller, &r);
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
		has_refused(log, owner, type, start, count,
			    r.not_caller ? "the owner is not the calling user" : "not within the owner's ranges");
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
	struct subid_index *ix = NULL;
	struct holders h = { NULL, NULL };
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
	rc = subid_index_open(&ix, cfg.index_path, paths->trusted_uid, log);
	if (rc == SUBID_ERR)
		goto out;
	h.ix = ix;
	if (ix != NULL) {
		rc = subid_index_owner_of(ix, to_kind(type), id, &uid);
		if (rc == SUBID_ERR) {
			subid_log(log, LOG_ERR, "index refused path=%s reason=\"malformed record\"", cfg.index_path);
			goto out;
		}
		if (rc == SUBID_OK && uid_add(&v, &n, uid) != 0)
			goto oom;
	}
	if (cfg.files) {
		if (subid_file_load(type == ID_TYPE_UID ? paths->subuid : paths->subgid, &f, log) != 0)
			goto out;
		for (size_t i = 0; i < f.n; i++) {
			struct subid_user u;

			if (id < f.v[i].start || id - f.v[i].start >= f.v[i].count)
				continue;
			rc = subid_user_line_owner(f.v[i].owner, &u);
			if (rc < 0)
				goto out;
			if (rc == 1)
				continue;	/* a line for an owner that no longer exists */
			rc = line_is_owners(&h, &f.v[i], u.name, true, u.uid);
			if (rc == 1)
				rc = uid_add(&v, &n, u.uid) == 0 ? 1 : -2;
			subid_user_free(&u);
			if (rc == -2)
				goto oom;
			if (rc < 0)
				goto out;
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
	subid_index_close(ix);
	subid_config_free(&cfg);
	return ret;
}
