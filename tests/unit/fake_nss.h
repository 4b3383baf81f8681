/*
 * A fake user and group database for the unit tests, put in front of the
 * code under test with the linker (-Wl,--wrap=getpwnam_r,--wrap=getpwuid_r,
 * --wrap=getgrnam_r,--wrap=getgrouplist): every answer comes from the
 * tables below, including the errors and ERANGE that a real NSS back-end
 * (sssd, ldap, winbind) gives, so no test depends on the host's accounts.
 *
 * Answers are written into the caller's buffer the way glibc does, and a
 * buffer too small for them is refused with ERANGE.  Only references from
 * the test binary's own objects (libsubidcore's) are wrapped: glibc's
 * internal callers are not affected.
 *
 * Include in one file per test program, after "config.h" and <cmocka.h>.
 */
#ifndef SUBID_FAKE_NSS_H
#define SUBID_FAKE_NSS_H

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define FAKE_NSS_USERS 32
#define FAKE_NSS_GROUPS 16
#define FAKE_NSS_MEMBERS 8
#define FAKE_NSS_BUFLENS 32
#define FAKE_NSS_EXTRA_MAX 256

struct fake_user {
	const char *name;
	uid_t uid;
	gid_t gid;
};

struct fake_group {
	const char *name;
	gid_t gid;
	const char *members[FAKE_NSS_MEMBERS];	/* supplementary members by name, NULL-terminated */
};

struct fake_nss {
	struct fake_user users[FAKE_NSS_USERS];
	size_t nusers;
	struct fake_group groups[FAKE_NSS_GROUPS];
	size_t ngroups;
	/* errors: when non-zero, every call of that function returns it (result NULL) */
	int pwnam_err, pwuid_err, grnam_err;
	/* returned (result NULL) for a name or UID that is not in the table: 0 like "files", or ENOENT, ... */
	int notfound_err;
	/* buffers shorter than this get ERANGE even when the answer would fit; SIZE_MAX: always ERANGE */
	size_t pw_min_buf, gr_min_buf;
	/* getgrouplist() asks for more room than it is given, always */
	bool grouplist_never_fits;
	/* every user is also in this many groups, GIDs extra_gid_base + 0, 1, ... (not in groups[]) */
	int extra_groups;
	gid_t extra_gid_base;
	/* what the code under test did */
	unsigned pwnam_calls, pwuid_calls, grnam_calls, grouplist_calls;
	size_t pw_buflen[FAKE_NSS_BUFLENS];	/* buflen of each passwd call, in order */
};

static struct fake_nss fake_nss;

static inline void
fake_nss_reset(void)
{
	memset(&fake_nss, 0, sizeof(fake_nss));
}

static inline void
fake_nss_add_user(const char *name, uid_t uid, gid_t gid)
{
	assert_true(fake_nss.nusers < FAKE_NSS_USERS);
	fake_nss.users[fake_nss.nusers++] = (struct fake_user){ name, uid, gid };
}

/* An account disappears (deleted, or its directory is unreachable). */
static inline void
fake_nss_del_user(const char *name)
{
	for (size_t i = 0; i < fake_nss.nusers; i++)
		if (strcmp(fake_nss.users[i].name, name) == 0) {
			fake_nss.users[i] = fake_nss.users[--fake_nss.nusers];
			return;
		}
	fail_msg("fake_nss_del_user: no user %s", name);
}

/* members: supplementary members, NULL-terminated. */
static inline void
fake_nss_add_group(const char *name, gid_t gid, const char *const *members)
{
	struct fake_group *g;

	assert_true(fake_nss.ngroups < FAKE_NSS_GROUPS);
	g = &fake_nss.groups[fake_nss.ngroups++];
	memset(g, 0, sizeof(*g));
	g->name = name;
	g->gid = gid;
	for (size_t i = 0; members != NULL && members[i] != NULL; i++) {
		assert_true(i + 1 < FAKE_NSS_MEMBERS);
		g->members[i] = members[i];
	}
}

/* Copy s into the caller's buffer at *off; NULL when it does not fit. */
static inline char *
fake_nss_put(char *buf, size_t buflen, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = buf + *off;

	if (n > buflen - *off)
		return NULL;
	memcpy(p, s, n);
	*off += n;
	return p;
}

/* Fill pwd from u in buf, like glibc: 0, or ERANGE when buf is too small. */
static inline int
fake_nss_fill_pw(const struct fake_user *u, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
	size_t off = 0;

	if (buflen < fake_nss.pw_min_buf)
		return ERANGE;
	memset(pwd, 0, sizeof(*pwd));
	if ((pwd->pw_name = fake_nss_put(buf, buflen, &off, u->name)) == NULL ||
	    (pwd->pw_passwd = fake_nss_put(buf, buflen, &off, "x")) == NULL ||
	    (pwd->pw_gecos = fake_nss_put(buf, buflen, &off, "")) == NULL ||
	    (pwd->pw_dir = fake_nss_put(buf, buflen, &off, "/home/fake")) == NULL ||
	    (pwd->pw_shell = fake_nss_put(buf, buflen, &off, "/bin/sh")) == NULL)
		return ERANGE;
	pwd->pw_uid = u->uid;
	pwd->pw_gid = u->gid;
	*result = pwd;
	return 0;
}

static inline void
fake_nss_note_buflen(size_t buflen)
{
	unsigned n = fake_nss.pwnam_calls + fake_nss.pwuid_calls;

	if (n >= 1 && n <= FAKE_NSS_BUFLENS)
		fake_nss.pw_buflen[n - 1] = buflen;
}

int __wrap_getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result);
int __wrap_getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result);
int __wrap_getgrnam_r(const char *name, struct group *grp, char *buf, size_t buflen, struct group **result);
int __wrap_getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups);

int
__wrap_getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
	*result = NULL;
	fake_nss.pwnam_calls++;
	fake_nss_note_buflen(buflen);
	if (fake_nss.pwnam_err != 0)
		return fake_nss.pwnam_err;
	for (size_t i = 0; i < fake_nss.nusers; i++)
		if (strcmp(fake_nss.users[i].name, name) == 0)
			return fake_nss_fill_pw(&fake_nss.users[i], pwd, buf, buflen, result);
	return fake_nss.notfound_err;
}

int
__wrap_getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
	*result = NULL;
	fake_nss.pwuid_calls++;
	fake_nss_note_buflen(buflen);
	if (fake_nss.pwuid_err != 0)
		return fake_nss.pwuid_err;
	for (size_t i = 0; i < fake_nss.nusers; i++)
		if (fake_nss.users[i].uid == uid)
			return fake_nss_fill_pw(&fake_nss.users[i], pwd, buf, buflen, result);
	return fake_nss.notfound_err;
}

int
__wrap_getgrnam_r(const char *name, struct group *grp, char *buf, size_t buflen, struct group **result)
{
	*result = NULL;
	fake_nss.grnam_calls++;
	if (fake_nss.grnam_err != 0)
		return fake_nss.grnam_err;
	for (size_t i = 0; i < fake_nss.ngroups; i++) {
		const struct fake_group *g = &fake_nss.groups[i];
		size_t off = 0, nmem = 0;
		char **mem;

		if (strcmp(g->name, name) != 0)
			continue;
		if (buflen < fake_nss.gr_min_buf)
			return ERANGE;
		while (nmem < FAKE_NSS_MEMBERS && g->members[nmem] != NULL)
			nmem++;
		/* the member array first, aligned, then the strings */
		if ((nmem + 1) * sizeof(char *) > buflen || ((uintptr_t)buf % _Alignof(char *)) != 0)
			return ERANGE;
		mem = (char **)(void *)buf;
		off = (nmem + 1) * sizeof(char *);
		memset(grp, 0, sizeof(*grp));
		if ((grp->gr_name = fake_nss_put(buf, buflen, &off, g->name)) == NULL ||
		    (grp->gr_passwd = fake_nss_put(buf, buflen, &off, "x")) == NULL)
			return ERANGE;
		for (size_t k = 0; k < nmem; k++)
			if ((mem[k] = fake_nss_put(buf, buflen, &off, g->members[k])) == NULL)
				return ERANGE;
		mem[nmem] = NULL;
		grp->gr_mem = mem;
		grp->gr_gid = g->gid;
		*result = grp;
		return 0;
	}
	return fake_nss.notfound_err;
}

/* glibc's contract: the primary group plus every group listing user; -1 with *ngroups = needed when short. */
int
__wrap_getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	gid_t all[1 + FAKE_NSS_GROUPS + FAKE_NSS_EXTRA_MAX];
	int n = 0;

	fake_nss.grouplist_calls++;
	assert_true(fake_nss.extra_groups <= FAKE_NSS_EXTRA_MAX);
	all[n++] = group;
	for (int k = 0; k < fake_nss.extra_groups; k++)
		all[n++] = fake_nss.extra_gid_base + (gid_t)k;
	for (size_t i = 0; i < fake_nss.ngroups; i++)
		for (size_t k = 0; k < FAKE_NSS_MEMBERS && fake_nss.groups[i].members[k] != NULL; k++)
			if (strcmp(fake_nss.groups[i].members[k], user) == 0 && fake_nss.groups[i].gid != group) {
				all[n++] = fake_nss.groups[i].gid;
				break;
			}
	if (fake_nss.grouplist_never_fits || n > *ngroups) {
		if (fake_nss.grouplist_never_fits)
			n = *ngroups + 1;
		*ngroups = n;
		return -1;
	}
	memcpy(groups, all, (size_t)n * sizeof(*groups));
	*ngroups = n;
	return n;
}

#endif
