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
	return subid_core_has(&subid_default_paths, &plugin_log, owner, start, count, idtype,
			      getauxval(AT_SECURE) != 0 ? &caller : NULL, result);
}

enum subid_status
shadow_subid_list_owner_ranges(const char *owner, enum subid_type idtype, struct subid_range **ranges, int *count)
{
	struct subid_range *r = NULL;
	int n = 0;
	enum subid_status st;

	st = subid_core_list(&subid_default_paths, &plugin_log, owner, idtype, &r, &n);
	if (ranges != NULL)
		*ranges = r;
	else
		free(r);
	if (count != NULL)
		*count = n;
	return st;
}

enum subid_status
shadow_subid_find_subid_owners(unsigned long id, enum subid_type idtype, uid_t **uids, int *count)
{
	uid_t *v = NULL;
	int n = 0;
	enum subid_status st;

	st = subid_core_owners(&subid_default_paths, &plugin_log, id, idtype, &v, &n);
	if (uids != NULL)
		*uids = v;
	else
		free(v);
	if (count != NULL)
		*count = n;
	return st;
}

void
shadow_subid_free(void *ptr)
{
	free(ptr);
}
