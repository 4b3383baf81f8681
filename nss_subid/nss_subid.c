/*
 * libsubid_subid.so: the shadow-utils libsubid plugin ("subid: subid" in
 * /etc/nsswitch.conf).  Four entry points, each a trampoline over the core.
 *
 * This code runs inside setuid-root newuidmap/newgidmap: it reads only the
 * compiled-in, root-owned configuration, never the environment, and
 * has_range fails closed.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>
#include <shadow/subid.h>

#include "subid_core.h"

#define SUBID_EXPORT __attribute__((visibility("default")))

/* shadow declares these only in its private lib/prototypes.h */
SUBID_EXPORT enum subid_status shadow_subid_has_range(const char *owner, unsigned long start,
						      unsigned long count, enum subid_type idtype,
						      bool *result);
SUBID_EXPORT enum subid_status shadow_subid_list_owner_ranges(const char *owner, enum subid_type idtype,
							      struct subid_range **ranges, int *count);
SUBID_EXPORT enum subid_status shadow_subid_find_subid_owners(unsigned long id, enum subid_type idtype,
							      uid_t **uids, int *count);
SUBID_EXPORT void shadow_subid_free(void *ptr);

static const struct subid_log plugin_log = { subid_log_syslog_plugin, NULL, 0 };

/* libsubid's types and statuses, here only: the core has its own */
static enum subid_kind
kind_of(enum subid_type t)
{
	switch (t) {
	case ID_TYPE_UID:
		return SUBID_KIND_UID;
	case ID_TYPE_GID:
		return SUBID_KIND_GID;
	default:
		return (enum subid_kind)0;	/* the core refuses it */
	}
}

static enum subid_status
status_of(int rc)
{
	switch (rc) {
	case SUBID_OK:
		return SUBID_STATUS_SUCCESS;
	case SUBID_NONE:
		return SUBID_STATUS_UNKNOWN_USER;
	case SUBID_DOWN:
		return SUBID_STATUS_ERROR_CONN;
	default:
		return SUBID_STATUS_ERROR;
	}
}

enum subid_status
shadow_subid_has_range(const char *owner, unsigned long start, unsigned long count,
		       enum subid_type idtype, bool *result)
{
	uid_t caller = getuid();

	if (result == NULL)
		return SUBID_STATUS_ERROR;
	*result = false;
	/*
	 * In newuidmap/newgidmap (set-user-ID: AT_SECURE) the question is
	 * whether the calling user may map the range: the owner shadow passes
	 * (the caller's passwd name) must be that very UID, not another
	 * account that happens to have the same name.
	 */
	return status_of(subid_core_has(&subid_default_paths, &plugin_log, owner, start, count, kind_of(idtype),
					getauxval(AT_SECURE) != 0 ? &caller : NULL, result));
}

enum subid_status
shadow_subid_list_owner_ranges(const char *owner, enum subid_type idtype, struct subid_range **ranges, int *count)
{
	struct subid_grant *g = NULL;
	struct subid_range *r = NULL;
	size_t n = 0;
	int rc;

	if (ranges != NULL)
		*ranges = NULL;
	if (count != NULL)
		*count = 0;
	rc = subid_core_list(&subid_default_paths, &plugin_log, owner, kind_of(idtype), &g, &n);
	/* the caller frees what it gets with free(): an array of its own type */
	if (rc == SUBID_OK && n > 0 && (r = calloc(n, sizeof(*r))) == NULL)
		rc = SUBID_ERR;
	for (size_t i = 0; r != NULL && i < n; i++) {
		r[i].start = (unsigned long)g[i].start;	/* < 2^32: checked by the store, index and parser */
		r[i].count = (unsigned long)g[i].count;
	}
	free(g);
	if (rc != SUBID_OK)
		return status_of(rc);
	if (ranges != NULL)
		*ranges = r;
	else
		free(r);
	if (count != NULL)
		*count = (int)n;	/* at most INT32_MAX: the core's bound */
	return SUBID_STATUS_SUCCESS;
}

enum subid_status
shadow_subid_find_subid_owners(unsigned long id, enum subid_type idtype, uid_t **uids, int *count)
{
	uid_t *v = NULL;
	size_t n = 0;
	int rc;

	rc = subid_core_owners(&subid_default_paths, &plugin_log, id, kind_of(idtype), &v, &n);
	if (uids != NULL)
		*uids = v;
	else
		free(v);
	if (count != NULL)
		*count = (int)n;	/* at most INT32_MAX: the core's bound */
	return status_of(rc);
}

void
shadow_subid_free(void *ptr)
{
	free(ptr);
}
