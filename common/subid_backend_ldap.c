/*
 * store = ldap: the directory decides (subid_ldap.c: its entries and its
 * multi-host allocator), and the writer store keeps a replica of what it
 * said.  A directory entry is untrusted input (any host's bind DN may
 * write it): before it reaches the replica or newuidmap it is checked
 * against what this host knows, its files and its replica.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "subid_backend.h"
#include "subid_core_int.h"
#include "subid_ldap.h"

/*
 * A directory entry is untrusted input (any host's bind DN may write it):
 * before it reaches the replica or newuidmap, its ranges must lie in the
 * pool and overlap no local /etc/subuid or /etc/subgid line (but the
 * owner's own), and no other owner's row in the replica (st, may be NULL).
 * Real IDs and reserved intervals were checked by the ldap module.
 * 0 acceptable, 1 refused (logged with both owners), -1 error.
 */
static int
directory_ranges_ok(const struct subid_config *cfg, const struct subid_holders *h, const struct subid_user *u,
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
				    !subid_line_names(e, u->name, true, u->uid))
					snprintf(why, sizeof(why), "overlaps a line of %s",
						 fk == 0 ? "/etc/subuid" : "/etc/subgid");
			}
		if (why[0] != '\0' || h == NULL)
			continue;
		rc = subid_holder_overlap(h, 0, g[k]->start, g[k]->count, u->uid, &other, NULL);
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
settle_replica_conflict(const struct subid_backend_ctx *x, struct subid_store *st, const struct subid_user *u,
			uid_t other, const struct subid_grant *ur, const struct subid_grant *gr)
{
	const struct subid_config *cfg = x->cfg;
	const struct subid_log *log = x->log;
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
	if (cfg->mirror_files && subid_unmirror_owner(st, x->paths, other, log) != 0)
		return -1;
	if (subid_store_release(st, other) == SUBID_ERR)
		return -1;
	subid_log(log, LOG_NOTICE, "replica dropped uid=%u reason=\"the directory no longer gives it these IDs; "
		  "they are uid %u's now\"", (unsigned)other, (unsigned)u->uid);
	return 0;
}

/*
 * The directory decides, the writer store keeps a replica.  With the
 * directory unreachable, an owner the replica knows keeps his ranges;
 * nobody new is granted anything.
 */
static int
ldap_ensure(const struct subid_backend_ctx *x, struct subid_store *st, const struct subid_user *u,
	    const struct subid_file *fu, const struct subid_file *fg, const struct subid_interval *taken,
	    size_t ntaken, struct subid_grant r[2], bool *granted)
{
	const struct subid_config *cfg = x->cfg;
	const struct subid_log *log = x->log;
	struct subid_grant *ur = &r[0], *gr = &r[1];
	char safe[SUBID_LOG_STR_MAX];
	bool changed;
	uid_t other;
	int rc;

	rc = subid_ldap_ensure(cfg, u->uid, u->name, taken, ntaken, ur, gr, granted, log);
	if (rc == SUBID_OK) {
		/* the replica's rows of other owners are settled one by one below */
		rc = directory_ranges_ok(cfg, NULL, u, fu, fg, ur, gr, log) == 0 ? SUBID_CONFLICT : SUBID_ERR;
		for (int tries = 0; rc == SUBID_CONFLICT; tries++) {
			rc = subid_store_put(st, u->uid, u->name, ur, gr, &changed, &other);
			if (rc != SUBID_CONFLICT)
				break;
			/* each try drops one stale owner; more than a few is no stale replica */
			if (tries == 4 || settle_replica_conflict(x, st, u, other, ur, gr) != 0)
				rc = SUBID_ERR;
		}
		if (rc != SUBID_OK)
			*granted = false;
		return rc == SUBID_OK ? SUBID_OK : SUBID_ERR;
	}
	*granted = false;
	if (rc == SUBID_DOWN && subid_store_get(st, u->uid, SUBID_KIND_UID, ur) == SUBID_OK &&
	    subid_store_get(st, u->uid, SUBID_KIND_GID, gr) == SUBID_OK) {
		subid_log(log, LOG_WARNING, "replica user=%s uid=%u reason=\"directory unreachable; "
			  "ranges served from the local replica\"", subid_log_str(u->name, safe, sizeof(safe)),
			  (unsigned)u->uid);
		return SUBID_OK;
	}
	return rc;
}

/*
 * An owner the read index does not list, asked of the directory (anonymous
 * bind, ldap_timeout) when ldap_lookup_on_miss is on, and checked like any
 * directory answer against the files and the holders.  Not written to the
 * replica: the plugin never writes, and the owner's next login does.
 */
static int
ldap_get(const struct subid_backend_ctx *x, const struct subid_holders *h, const struct subid_user *u,
	 struct subid_grant r[2])
{
	struct subid_file fu = { NULL, 0, 0 }, fg = { NULL, 0, 0 };
	int rc;

	if (!x->cfg->ldap.lookup_on_miss)
		return SUBID_NONE;
	rc = subid_ldap_lookup(x->cfg, u->uid, &r[0], &r[1], x->log);
	if (rc != SUBID_OK)
		return rc;
	if (subid_file_load(x->paths->subuid, &fu, x->log) != 0 || subid_file_load(x->paths->subgid, &fg, x->log) != 0)
		rc = -1;
	else
		rc = directory_ranges_ok(x->cfg, h, u, &fu, &fg, &r[0], &r[1], x->log);
	subid_file_free(&fu);
	subid_file_free(&fg);
	return rc == 0 ? SUBID_OK : rc == 1 ? SUBID_NONE : SUBID_ERR;
}

static int
ldap_release(const struct subid_backend_ctx *x, uid_t uid)
{
	return subid_ldap_release(x->cfg, uid, x->log);
}

const struct subid_backend subid_backend_ldap = {
	.name = "ldap",
	.index_ends_login = false,
	.no_import = "import writes the local store; with store = ldap the directory is the authority: import "
		     "on a host with store = local, or add the entries to the directory",
	.ensure = ldap_ensure,
	.get = ldap_get,
	.release = ldap_release,
	.list = subid_backend_store_rows,	/* the replica */
	.import = NULL,
};
