/*
 * The libsubid plugin's questions (see DESIGN.md, "The libsubid plugin
 * contract"): an owner's ranges, whether an owner has a range, who owns an
 * ID.  Answered from the published read index and the files, never the
 * writer store and never a lock; an owner the index does not list may be
 * asked of the back end that decides (subid_backend.h).  Nothing here
 * writes.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>

#include "subid_backend.h"
#include "subid_core_int.h"

struct range_vec {
	struct subid_grant *v;
	size_t n;
	bool not_caller;	/* collect(): the owner is not the caller it was given */
};

static int
vec_add(struct range_vec *r, uint64_t start, uint64_t count)
{
	struct subid_grant *nv;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].start == start && r->v[i].count == count)
			return 0;	/* same range from the store and a mirrored file line */
	if (r->n >= (size_t)INT32_MAX)
		return -1;
	nv = realloc(r->v, (r->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	r->v = nv;
	r->v[r->n].start = start;
	r->v[r->n].count = count;
	r->n++;
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
static int
collect(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
	enum subid_kind kind, const uid_t *caller, struct range_vec *r)
{
	struct subid_config cfg;
	const struct subid_backend *be;
	struct subid_user u = { 0, 0, NULL };
	struct subid_index *ix = NULL;
	struct subid_holders h = { NULL, NULL };
	struct subid_file f = { NULL, 0, 0 };
	struct subid_grant g;
	int ret = SUBID_ERR;
	const char *name;
	uint64_t v;
	bool known, has_uid, dir_failed = false;
	int rc;

	r->v = NULL;
	r->n = 0;
	r->not_caller = false;
	if (owner == NULL || (kind != SUBID_KIND_UID && kind != SUBID_KIND_GID))
		return SUBID_ERR;
	if (subid_config_load(&cfg, paths->conf, paths->login_defs, paths->trusted_uid, log) != 0)
		return SUBID_ERR;
	be = subid_backend_for(&cfg);
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
		ret = SUBID_OK;	/* nothing: has_range says no */
		goto out;
	}
	/* the published index only: never the writer's database, never a lock */
	rc = subid_index_open(&ix, cfg.index_path, paths->trusted_uid, log);
	if (rc == SUBID_ERR)
		goto out;
	h.ix = ix;
	if (has_uid && ix != NULL) {
		rc = subid_index_get(ix, u.uid, kind, &g);
		if (rc == SUBID_ERR) {
			subid_log(log, LOG_ERR, "index refused path=%s reason=\"malformed record\"", cfg.index_path);
			goto out;
		}
		if (rc == SUBID_OK && vec_add(r, g.start, g.count) != 0)
			goto oom;
	}
	if (known && r->n == 0 && be->get != NULL) {
		const struct subid_backend_ctx x = { &cfg, paths, log };
		struct subid_grant dr[2];

		/* an owner the index does not list yet: the back end that decides may know him */
		rc = be->get(&x, &h, &u, dr);
		dir_failed = rc < 0;
		if (rc == SUBID_OK && vec_add(r, dr[kind - 1].start, dr[kind - 1].count) != 0)
			goto oom;
	}
	if (cfg.files) {
		if (subid_file_load(kind == SUBID_KIND_UID ? paths->subuid : paths->subgid, &f, log) != 0)
			goto out;
		for (size_t i = 0; i < f.n; i++) {
			rc = subid_line_is_owners(&h, &f.v[i], name, has_uid, u.uid);
			if (rc < 0)
				goto out;
			if (rc == 1 && vec_add(r, f.v[i].start, f.v[i].count) != 0)
				goto oom;
		}
	}
	if (dir_failed && r->n == 0)
		ret = SUBID_DOWN;
	else
		ret = (known || r->n > 0) ? SUBID_OK : SUBID_NONE;
	goto out;
oom:
	subid_log(log, LOG_CRIT, "out of memory");
out:
	if (ret != SUBID_OK) {
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

int
subid_core_list(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
		enum subid_kind kind, struct subid_grant **ranges, size_t *count)
{
	struct range_vec r;
	int ret;

	*ranges = NULL;
	*count = 0;
	ret = collect(paths, log, owner, kind, NULL, &r);
	if (ret != SUBID_OK)
		return ret;
	if (r.n == 0) {
		free(r.v);
		return SUBID_OK;
	}
	*ranges = r.v;
	*count = r.n;
	return SUBID_OK;
}

/* has_range's "no" is newuidmap/newgidmap refusing a mapping: one line for the audit trail. */
static void
has_refused(const struct subid_log *log, const char *owner, enum subid_kind kind, uint64_t start,
	    uint64_t count, const char *why)
{
	char safe[SUBID_LOG_STR_MAX];

	subid_log(log, LOG_NOTICE, "refused owner=%s kind=%s start=%" PRIu64 " count=%" PRIu64 " reason=\"%s\"",
		  subid_log_str(owner != NULL ? owner : "", safe, sizeof(safe)),
		  subid_kind_name(kind), start, count, why);
}

int
subid_core_has(const struct subid_paths *paths, const struct subid_log *log, const char *owner,
	       uint64_t start, uint64_t count, enum subid_kind kind, const uid_t *caller, bool *result)
{
	struct range_vec r;
	struct subid_interval *iv = NULL;
	int ret;
	uint64_t end;

	*result = false;
	if (!subid_range_end(start, count, &end)) {
		/* not a valid range: nobody has it */
		has_refused(log, owner, kind, start, count, "not a valid range");
		return SUBID_OK;
	}
	ret = collect(paths, log, owner, kind, caller, &r);
	if (ret != SUBID_OK)
		return ret;
	if (r.n > 0 && (iv = calloc(r.n, sizeof(*iv))) == NULL) {
		free(r.v);
		subid_log(log, LOG_CRIT, "out of memory");
		return SUBID_ERR;
	}
	for (size_t i = 0; i < r.n; i++) {
		iv[i].start = r.v[i].start;
		iv[i].end = r.v[i].start + r.v[i].count;	/* validated by the store and parser */
	}
	*result = subid_intervals_cover(iv, r.n, start, count);
	if (!*result)
		has_refused(log, owner, kind, start, count,
			    r.not_caller ? "the owner is not the calling user" : "not within the owner's ranges");
	free(iv);
	free(r.v);
	return SUBID_OK;
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

int
subid_core_owners(const struct subid_paths *paths, const struct subid_log *log, uint64_t id,
		  enum subid_kind kind, uid_t **uids, size_t *count)
{
	struct subid_config cfg;
	struct subid_index *ix = NULL;
	struct subid_holders h = { NULL, NULL };
	struct subid_file f = { NULL, 0, 0 };
	int ret = SUBID_ERR;
	uid_t *v = NULL, uid;
	size_t n = 0;
	int rc;

	*uids = NULL;
	*count = 0;
	if (kind != SUBID_KIND_UID && kind != SUBID_KIND_GID)
		return SUBID_ERR;
	if (subid_config_load(&cfg, paths->conf, paths->login_defs, paths->trusted_uid, log) != 0)
		return SUBID_ERR;
	if (id >= SUBID_ID_LIMIT) {
		ret = SUBID_OK;
		goto out;
	}
	rc = subid_index_open(&ix, cfg.index_path, paths->trusted_uid, log);
	if (rc == SUBID_ERR)
		goto out;
	h.ix = ix;
	if (ix != NULL) {
		rc = subid_index_owner_of(ix, kind, id, &uid);
		if (rc == SUBID_ERR) {
			subid_log(log, LOG_ERR, "index refused path=%s reason=\"malformed record\"", cfg.index_path);
			goto out;
		}
		if (rc == SUBID_OK && uid_add(&v, &n, uid) != 0)
			goto oom;
	}
	if (cfg.files) {
		if (subid_file_load(kind == SUBID_KIND_UID ? paths->subuid : paths->subgid, &f, log) != 0)
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
			rc = subid_line_is_owners(&h, &f.v[i], u.name, true, u.uid);
			if (rc == 1)
				rc = uid_add(&v, &n, u.uid) == 0 ? 1 : -2;
			subid_user_free(&u);
			if (rc == -2)
				goto oom;
			if (rc < 0)
				goto out;
		}
	}
	ret = SUBID_OK;
	goto out;
oom:
	subid_log(log, LOG_CRIT, "out of memory");
out:
	if (ret == SUBID_OK && n > 0) {
		*uids = v;
		*count = n;
	} else {
		free(v);
	}
	subid_file_free(&f);
	subid_index_close(ix);
	subid_config_free(&cfg);
	return ret;
}

