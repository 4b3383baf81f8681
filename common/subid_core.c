/*
 * The core's rules, defined once for the allocation path (subid_alloc.c),
 * the plugin's queries (subid_query.c), the back ends and subidctl: whose
 * a line of /etc/subuid or /etc/subgid is, who holds which IDs, which IDs
 * an allocation must avoid, and which back end decides.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subid_backend.h"
#include "subid_core_int.h"

const struct subid_paths subid_default_paths = {
	.conf = SUBID_CONF_PATH,
	.login_defs = SUBID_LOGIN_DEFS,
	.subuid = SUBID_SUBUID_PATH,
	.subgid = SUBID_SUBGID_PATH,
	.trusted_uid = 0,
};

const struct subid_backend *
subid_backend_for(const struct subid_config *cfg)
{
	return cfg->store == SUBID_BACKEND_LDAP ? &subid_backend_ldap : &subid_backend_local;
}

const char *
subid_kind_name(enum subid_kind k)
{
	return k == SUBID_KIND_UID ? "subuid" : "subgid";
}

bool
subid_line_names(const struct subid_file_entry *e, const char *name, bool has_uid, uid_t uid)
{
	char uidstr[16];

	if (!subid_name_is_numeric(e->owner))
		return name != NULL && strcmp(e->owner, name) == 0;
	if (!has_uid)
		return false;
	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)uid);
	return strcmp(e->owner, uidstr) == 0;
}

int
subid_holder_overlap(const struct subid_holders *h, int kind, uint64_t start, uint64_t count, uid_t except,
		     uid_t *uid, struct subid_grant *range)
{
	int rc;

	if (h->st != NULL)
		return subid_store_overlap(h->st, kind, start, count, except, uid, range);
	if (h->ix == NULL)
		return SUBID_NONE;
	rc = subid_index_overlap(h->ix, kind, start, count, except, uid, range);
	return rc == SUBID_OK || rc == SUBID_NONE ? rc : SUBID_ERR;
}

int
subid_line_is_owners(const struct subid_holders *h, const struct subid_file_entry *e, const char *name,
		     bool has_uid, uid_t uid)
{
	int rc;

	if (!subid_line_names(e, name, has_uid, uid))
		return 0;
	/* an owner NSS does not know matches every store owner: uid -1 is nobody's */
	rc = subid_holder_overlap(h, 0, e->start, e->count, has_uid ? uid : (uid_t)-1, NULL, NULL);
	if (rc == SUBID_ERR)
		return -1;
	return rc == SUBID_NONE;
}

int
subid_file_has_own_line(const struct subid_holders *h, const struct subid_file *f, const struct subid_user *u)
{
	for (size_t i = 0; i < f->n; i++) {
		int rc = subid_line_is_owners(h, &f->v[i], u->name, true, u->uid);

		if (rc != 0)
			return rc;
	}
	return 0;
}

void
subid_core_pool(const struct subid_config *cfg, struct subid_pool *pool)
{
	pool->min = cfg->range_min;
	pool->max = cfg->range_max;
	pool->count = cfg->range_count;
}

int
subid_taken_intervals(const struct subid_config *cfg, const struct subid_file *fu, const struct subid_file *fg,
		      struct subid_interval **taken, size_t *ntaken)
{
	struct subid_interval *nv;
	bool is_real;

	*taken = NULL;
	*ntaken = 0;
	if (subid_file_intervals(fu, taken, ntaken) != 0 || subid_file_intervals(fg, taken, ntaken) != 0)
		return -1;
	nv = realloc(*taken, (*ntaken + cfg->n_reserved + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	*taken = nv;
	for (size_t pos = 0; subid_config_forbidden_next(cfg, &pos, &nv[*ntaken], &is_real);)
		(*ntaken)++;
	*ntaken = subid_intervals_normalize(nv, *ntaken);
	return 0;
}
