#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "subid_config.h"
#include "subid_user.h"

#define BUF_START 1024
#define BUF_MAX (1024 * 1024)

void
subid_user_free(struct subid_user *u)
{
	free(u->name);
	u->name = NULL;
}

/* getpwnam_r / getpwuid_r with an ERANGE growth loop.  0 found, 1 unknown, -1 error. */
static int
lookup(const char *name, uid_t uid, struct subid_user *out)
{
	struct passwd pw, *res = NULL;
	size_t len = BUF_START;
	char *buf = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	for (;;) {
		char *nb = realloc(buf, len);

		if (nb == NULL) {
			free(buf);
			return SUBID_ERR;
		}
		buf = nb;
		err = name ? getpwnam_r(name, &pw, buf, len, &res) : getpwuid_r(uid, &pw, buf, len, &res);
		if (err != ERANGE || len >= BUF_MAX)
			break;
		len *= 2;
	}
	if (res == NULL) {
		free(buf);
		/* "not found" is reported as 0 or one of these by the various back-ends */
		if (err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM)
			return SUBID_NONE;
		return SUBID_ERR;
	}
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	out->name = strdup(pw.pw_name);
	free(buf);
	return out->name ? SUBID_OK : SUBID_ERR;
}

int
subid_user_lookup_uid(uid_t uid, struct subid_user *out)
{
	return lookup(NULL, uid, out);
}

int
subid_user_lookup(const char *owner, bool by_uid, struct subid_user *out)
{
	uint64_t v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (owner == NULL || owner[0] == '\0' || strnlen(owner, SUBID_NAME_MAX) >= SUBID_NAME_MAX)
		return SUBID_NONE;
	rc = lookup(owner, 0, out);
	if (rc != 1 || !by_uid)
		return rc;
	/* only the UID's own spelling, as for file lines: "05002" is not uid 5002 */
	if (!subid_parse_u64(owner, &v) || v >= SUBID_ID_LIMIT || (owner[0] == '0' && owner[1] != '\0'))
		return SUBID_NONE;
	return lookup(NULL, (uid_t)v, out);
}

bool
subid_name_is_numeric(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return false;
	for (; *name != '\0'; name++)
		if (*name < '0' || *name > '9')
			return false;
	return true;
}

int
subid_user_line_owner(const char *owner, struct subid_user *out)
{
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (!subid_name_is_numeric(owner))
		return subid_user_lookup(owner, false, out);
	/* only the UID's own spelling: "015002" names nobody (shadow compares strings) */
	if (!subid_parse_u64(owner, &v) || v >= SUBID_ID_LIMIT || (owner[0] == '0' && owner[1] != '\0'))
		return SUBID_NONE;
	return lookup(NULL, (uid_t)v, out);
}

/* getgrnam_r with growth; 0 found (gid set), 1 unknown, -1 error. */
static int
group_gid(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	size_t len = BUF_START;
	char *buf = NULL;
	int err;

	for (;;) {
		char *nb = realloc(buf, len);

		if (nb == NULL) {
			free(buf);
			return -1;
		}
		buf = nb;
		err = getgrnam_r(name, &gr, buf, len, &res);
		if (err != ERANGE || len >= BUF_MAX)
			break;
		len *= 2;
	}
	if (res != NULL)
		*gid = gr.gr_gid;
	free(buf);
	if (res != NULL)
		return 0;
	return (err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM) ? 1 : -1;
}

int
subid_user_in_groups(const struct subid_user *u, const struct subid_strlist *list)
{
	gid_t *groups = NULL;
	int ngroups = 64, rc = 0;

	if (list->n == 0)
		return 0;
	for (int tries = 0; tries < 8; tries++) {
		gid_t *ng = realloc(groups, (size_t)ngroups * sizeof(*ng));
		int want = ngroups;

		if (ng == NULL) {
			free(groups);
			return -1;
		}
		groups = ng;
		if (getgrouplist(u->name, u->gid, groups, &want) >= 0) {
			ngroups = want;
			goto have;
		}
		if (want <= ngroups || want > 65536)
			ngroups *= 2;
		else
			ngroups = want;
	}
	free(groups);
	return -1;
have:
	for (size_t i = 0; i < list->n && rc == 0; i++) {
		gid_t gid;
		int r = group_gid(list->v[i], &gid);

		if (r < 0) {
			rc = -1;
			break;
		}
		if (r == 1)
			continue;
		for (int j = 0; j < ngroups; j++)
			if (groups[j] == gid) {
				rc = 1;
				break;
			}
	}
	free(groups);
	return rc;
}
