#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "subid_ldap.h"

#define OC_ENTRY "subordinateIdEntry"
#define OC_ALLOC "subidAllocator"
#define AT_NEXT "subidNextStart"
#define MAX_TRIES 64
#define PW_MAX 1024

struct conn {
	LDAP *ld;
	const struct subid_config *cfg;
	const struct subid_log *log;
	struct timeval tv;
};

static int
ldap_fail(struct conn *c, const char *op, int rc)
{
	bool down = rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
		    rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;

	subid_log(c->log, LOG_ERR, "ldap error uri=\"%s\" op=%s reason=\"%s\"", c->cfg->ldap.uri, op,
		  ldap_err2string(rc));
	return down ? SUBID_LDAP_DOWN : SUBID_LDAP_ERR;
}

/* The bind password: a root-owned file nobody else may read. */
static int
read_password(struct conn *c, char *buf, size_t len)
{
	const char *path = c->cfg->ldap.bind_pw_file;
	struct stat st;
	ssize_t n;
	int fd = subid_open_trusted(path, 0);

	if (fd < 0 || fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		subid_log(c->log, LOG_ERR, "ldap refused key=ldap_bind_pw_file path=%s reason=\"%s\"", path,
			  fd < 0 && errno != EPERM ? "cannot open" :
			  "must be a regular file owned by root, mode 0600");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0) {
		subid_log(c->log, LOG_ERR, "ldap error path=%s reason=\"cannot read the password\"", path);
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static int
connect_bind(struct conn *c)
{
	const struct subid_ldap_config *l = &c->cfg->ldap;
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
	struct berval cred = { 0, NULL };
	char pw[PW_MAX];

	c->tv.tv_sec = (time_t)l->timeout;
	c->tv.tv_usec = 0;
	rc = ldap_initialize(&c->ld, l->uri);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(c, "initialize", rc);
	ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &c->tv);
	ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &c->tv);
	ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(c->ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
	(void)zero;
	if (l->tls != SUBID_LDAP_TLS_NO) {
		/* whatever ldap.conf says, an unverified server is not trusted */
		ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
		if (l->ca_file != NULL)
			ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, l->ca_file);
		ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
	if (l->tls == SUBID_LDAP_TLS_STARTTLS) {
		rc = ldap_start_tls_s(c->ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			subid_log(c->log, LOG_ERR, "ldap refused uri=\"%s\" reason=\"TLS required (ldap_tls = starttls) "
				  "but StartTLS failed: %s\"", l->uri, ldap_err2string(rc));
			return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ? SUBID_LDAP_DOWN : SUBID_LDAP_ERR;
		}
	}
	if (l->bind_dn != NULL) {
		if (read_password(c, pw, sizeof(pw)) != 0)
			return SUBID_LDAP_ERR;
		cred.bv_val = pw;
		cred.bv_len = strlen(pw);
	}
	rc = ldap_sasl_bind_s(c->ld, l->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	explicit_bzero(pw, sizeof(pw));
	if (rc != LDAP_SUCCESS)
		return ldap_fail(c, "bind", rc);
	return SUBID_LDAP_OK;
}

/* An integer attribute of e; false when missing or not a number. */
static bool
get_u64(struct conn *c, LDAPMessage *e, const char *attr, uint64_t *out)
{
	struct berval **v = ldap_get_values_len(c->ld, e, attr);
	char buf[32];
	bool ok = false;

	if (v != NULL && v[0] != NULL && v[0]->bv_len > 0 && v[0]->bv_len < sizeof(buf)) {
		memcpy(buf, v[0]->bv_val, v[0]->bv_len);
		buf[v[0]->bv_len] = '\0';
		ok = subid_parse_u64(buf, out);
	}
	ldap_value_free_len(v);
	return ok;
}

static bool
entry_ranges(struct conn *c, LDAPMessage *e, struct subid_grant *ur, struct subid_grant *gr)
{
	uint64_t end;

	return get_u64(c, e, "subUidNumber", &ur->start) && get_u64(c, e, "subUidCount", &ur->count) &&
	       get_u64(c, e, "subGidNumber", &gr->start) && get_u64(c, e, "subGidCount", &gr->count) &&
	       subid_range_end(ur->start, ur->count, &end) && subid_range_end(gr->start, gr->count, &end);
}

/* uid's entry: OK (ranges set), 1 none, or an error. */
static int
find_owner(struct conn *c, uid_t uid, struct subid_grant *ur, struct subid_grant *gr)
{
	char *attrs[] = { "subUidNumber", "subUidCount", "subGidNumber", "subGidCount", NULL };
	char filter[128];
	LDAPMessage *res = NULL, *e;
	int rc;

	snprintf(filter, sizeof(filter), "(&(objectClass=" OC_ENTRY ")(uidNumber=%u))", (unsigned)uid);
	rc = ldap_search_ext_s(c->ld, c->cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
			       &c->tv, 2, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		return ldap_fail(c, "search", rc);
	}
	e = ldap_first_entry(c->ld, res);
	if (e == NULL) {
		ldap_msgfree(res);
		return 1;
	}
	if (!entry_ranges(c, e, ur, gr)) {
		subid_log(c->log, LOG_ERR, "ldap error uid=%u reason=\"entry has invalid ranges\"", (unsigned)uid);
		ldap_msgfree(res);
		return SUBID_LDAP_ERR;
	}
	ldap_msgfree(res);
	return SUBID_LDAP_OK;
}

/*
 * The DN of the account with this uidNumber under ldap_user_base (default:
 * the parent of ldap_base), for subidRangeOwner, which SSSD's subid lookup
 * matches.  NULL when the owner is not in this directory (a local or
 * another directory's user): the entry is then made without it.
 */
static char *
owner_dn(struct conn *c, uid_t uid)
{
	const char *base = c->cfg->ldap.user_base;
	char *attrs[] = { "1.1", NULL };
	char filter[96], *dn = NULL;
	LDAPMessage *res = NULL, *e;
	int rc;

	if (base == NULL) {
		/* the parent of ldap_base: everything after its first unescaped comma */
		for (const char *p = c->cfg->ldap.base; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0') {
				p++;
			} else if (*p == ',') {
				base = p + 1;
				break;
			}
		}
		if (base == NULL)
			return NULL;
	}
	snprintf(filter, sizeof(filter), "(&(objectClass=posixAccount)(uidNumber=%u))", (unsigned)uid);
	rc = ldap_search_ext_s(c->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &c->tv, 2, &res);
	if ((rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) && ldap_count_entries(c->ld, res) == 1 &&
	    (e = ldap_first_entry(c->ld, res)) != NULL) {
		char *d = ldap_get_dn(c->ld, e);

		if (d != NULL) {
			dn = strdup(d);
			ldap_memfree(d);
		}
	}
	ldap_msgfree(res);
	return dn;
}

/*
 * The highest end of any directory range (uid or gid) that overlaps
 * [cand, cand+count): 0 when none.  Ranges are found by their start, so one
 * longer than count that starts before cand - count is not seen (the pool's
 * entries all have range_count IDs).
 */
static int
directory_overlap(struct conn *c, uint64_t cand, uint64_t count, uint64_t *maxend)
{
	char *attrs[] = { "subUidNumber", "subUidCount", "subGidNumber", "subGidCount", NULL };
	char filter[320];
	uint64_t lo = cand >= count ? cand - count + 1 : 0, hi = cand + count - 1;
	LDAPMessage *res = NULL, *e;
	int rc;

	*maxend = 0;
	snprintf(filter, sizeof(filter),
		 "(&(objectClass=" OC_ENTRY ")(|(&(subUidNumber>=%" PRIu64 ")(subUidNumber<=%" PRIu64 "))"
		 "(&(subGidNumber>=%" PRIu64 ")(subGidNumber<=%" PRIu64 "))))", lo, hi, lo, hi);
	rc = ldap_search_ext_s(c->ld, c->cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
			       &c->tv, 0, &res);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return ldap_fail(c, "search", rc);
	}
	for (e = ldap_first_entry(c->ld, res); e != NULL; e = ldap_next_entry(c->ld, e)) {
		struct subid_grant g[2];

		if (!entry_ranges(c, e, &g[0], &g[1])) {
			/* unreadable entry near the candidate: treat its neighbourhood as taken */
			if (hi + 1 > *maxend)
				*maxend = hi + 1;
			continue;
		}
		for (int k = 0; k < 2; k++)
			if (g[k].start < cand + count && g[k].start + g[k].count > cand &&
			    g[k].start + g[k].count > *maxend)
				*maxend = g[k].start + g[k].count;
	}
	ldap_msgfree(res);
	return SUBID_LDAP_OK;
}

/* The allocator's cursor; creates the entry at the pool's start when missing. */
static int
read_cursor(struct conn *c, const char *dn, uint64_t *next)
{
	char *attrs[] = { AT_NEXT, NULL };
	LDAPMessage *res = NULL, *e;
	int rc;

	for (int tries = 0; tries < 2; tries++) {
		rc = ldap_search_ext_s(c->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
				       &c->tv, 1, &res);
		if (rc == LDAP_SUCCESS && (e = ldap_first_entry(c->ld, res)) != NULL) {
			bool ok = get_u64(c, e, AT_NEXT, next);

			ldap_msgfree(res);
			if (!ok) {
				subid_log(c->log, LOG_ERR, "ldap error dn=\"%s\" reason=\"no valid " AT_NEXT "\"", dn);
				return SUBID_LDAP_ERR;
			}
			return SUBID_LDAP_OK;
		}
		ldap_msgfree(res);
		res = NULL;
		if (rc != LDAP_NO_SUCH_OBJECT)
			return ldap_fail(c, "search", rc);
		{
			char start[32];
			char *oc[] = { OC_ALLOC, NULL }, *cn[] = { "allocator", NULL }, *nx[] = { start, NULL };
			LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
			LDAPMod m_cn = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
			LDAPMod m_nx = { LDAP_MOD_ADD, AT_NEXT, { .modv_strvals = nx } };
			LDAPMod *mods[] = { &m_oc, &m_cn, &m_nx, NULL };

			snprintf(start, sizeof(start), "%" PRIu64, c->cfg->range_min);
			rc = ldap_add_ext_s(c->ld, dn, mods, NULL, NULL);
			if (rc != LDAP_SUCCESS && rc != LDAP_ALREADY_EXISTS)
				return ldap_fail(c, "add allocator", rc);
		}
	}
	return SUBID_LDAP_ERR;
}

/* Compare-and-swap of the cursor: OK, 1 when someone else moved it first, or an error. */
static int
cas_cursor(struct conn *c, const char *dn, uint64_t old, uint64_t new)
{
	char ov[32], nv[32];
	char *olds[] = { ov, NULL }, *news[] = { nv, NULL };
	LDAPMod del = { LDAP_MOD_DELETE, AT_NEXT, { .modv_strvals = olds } };
	LDAPMod add = { LDAP_MOD_ADD, AT_NEXT, { .modv_strvals = news } };
	LDAPMod *mods[] = { &del, &add, NULL };
	int rc;

	snprintf(ov, sizeof(ov), "%" PRIu64, old);
	snprintf(nv, sizeof(nv), "%" PRIu64, new);
	rc = ldap_modify_ext_s(c->ld, dn, mods, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		return SUBID_LDAP_OK;
	if (rc == LDAP_NO_SUCH_ATTRIBUTE)
		return 1;
	return ldap_fail(c, "modify allocator", rc);
}

static int
add_owner(struct conn *c, uid_t uid, const char *name, uint64_t start, uint64_t count)
{
	char dn[512], uidv[16], sv[32], cv[32];
	char *odn = owner_dn(c, uid);
	char *ow[] = { odn, NULL };
	LDAPMod m_ow = { LDAP_MOD_ADD, "subidRangeOwner", { .modv_strvals = ow } };
	char *oc[] = { OC_ENTRY, NULL }, *cn[] = { uidv, NULL }, *un[] = { uidv, NULL };
	char *nm[] = { (char *)name, NULL }, *s[] = { sv, NULL }, *n[] = { cv, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
	LDAPMod m_cn = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
	LDAPMod m_un = { LDAP_MOD_ADD, "uidNumber", { .modv_strvals = un } };
	LDAPMod m_us = { LDAP_MOD_ADD, "subUidNumber", { .modv_strvals = s } };
	LDAPMod m_uc = { LDAP_MOD_ADD, "subUidCount", { .modv_strvals = n } };
	LDAPMod m_gs = { LDAP_MOD_ADD, "subGidNumber", { .modv_strvals = s } };
	LDAPMod m_gc = { LDAP_MOD_ADD, "subGidCount", { .modv_strvals = n } };
	LDAPMod m_nm = { LDAP_MOD_ADD, "uid", { .modv_strvals = nm } };
	LDAPMod *mods[10] = { &m_oc, &m_cn, &m_un, &m_us, &m_uc, &m_gs, &m_gc, NULL, NULL, NULL };
	int rc, nmods = 7;

	if (name != NULL)
		mods[nmods++] = &m_nm;
	if (odn != NULL)
		mods[nmods++] = &m_ow;

	snprintf(uidv, sizeof(uidv), "%u", (unsigned)uid);
	snprintf(sv, sizeof(sv), "%" PRIu64, start);
	snprintf(cv, sizeof(cv), "%" PRIu64, count);
	if (snprintf(dn, sizeof(dn), "cn=%u,%s", (unsigned)uid, c->cfg->ldap.base) >= (int)sizeof(dn)) {
		free(odn);
		return SUBID_LDAP_ERR;
	}
	rc = ldap_add_ext_s(c->ld, dn, mods, NULL, NULL);
	free(odn);
	if (rc == LDAP_SUCCESS)
		return SUBID_LDAP_OK;
	if (rc == LDAP_ALREADY_EXISTS)
		return 1;
	return ldap_fail(c, "add", rc);
}

/* The first candidate at or after *cand free of taken[] and of directory ranges. */
static int
next_free(struct conn *c, const struct subid_interval *taken, size_t ntaken, uint64_t *cand)
{
	const struct subid_config *cfg = c->cfg;
	uint64_t s = *cand, maxend;
	int rc;

	for (;;) {
		if (!subid_first_fit(s, cfg->range_max, cfg->range_min, cfg->range_count, cfg->range_count,
				     taken, ntaken, &s))
			return SUBID_LDAP_FULL;
		rc = directory_overlap(c, s, cfg->range_count, &maxend);
		if (rc != SUBID_LDAP_OK)
			return rc;
		if (maxend == 0) {
			*cand = s;
			return SUBID_LDAP_OK;
		}
		s = maxend;
	}
}

int
subid_ldap_ensure(const struct subid_config *cfg, uid_t uid, const char *name,
		  const struct subid_interval *taken, size_t ntaken,
		  struct subid_grant *uid_range, struct subid_grant *gid_range, bool *granted,
		  const struct subid_log *log)
{
	struct conn c = { NULL, cfg, log, { 0, 0 } };
	char dn[512];
	int rc;

	*granted = false;
	if (snprintf(dn, sizeof(dn), "cn=allocator,%s", cfg->ldap.base) >= (int)sizeof(dn)) {
		subid_log(log, LOG_ERR, "ldap error reason=\"ldap_base too long\"");
		return SUBID_LDAP_ERR;
	}
	rc = connect_bind(&c);
	if (rc != SUBID_LDAP_OK)
		goto out;
	rc = find_owner(&c, uid, uid_range, gid_range);
	if (rc <= 0)
		goto out;
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		uint64_t cur, cand;

		rc = read_cursor(&c, dn, &cur);
		if (rc != SUBID_LDAP_OK)
			goto out;
		cand = cur < cfg->range_min ? cfg->range_min : cur;
		rc = next_free(&c, taken, ntaken, &cand);
		if (rc == SUBID_LDAP_FULL)
			subid_log(log, LOG_ERR, "ldap full uid=%u reason=\"pool [%" PRIu64 ", %" PRIu64 ") exhausted "
				  "after the allocator's cursor\"", (unsigned)uid, cfg->range_min, cfg->range_max);
		if (rc != SUBID_LDAP_OK)
			goto out;
		rc = cas_cursor(&c, dn, cur, cand + cfg->range_count);
		if (rc == 1)
			continue;	/* another host allocated meanwhile */
		if (rc != SUBID_LDAP_OK)
			goto out;
		rc = add_owner(&c, uid, name, cand, cfg->range_count);
		if (rc == 1) {
			/*
			 * Another host created this owner's entry first: theirs wins.
			 * Give the slot back when nobody has moved the cursor since.
			 */
			if (cas_cursor(&c, dn, cand + cfg->range_count, cur) == SUBID_LDAP_OK)
				subid_log(log, LOG_DEBUG, "ldap uid=%u lost the race for its entry; slot %" PRIu64
					  " returned", (unsigned)uid, cand);
			rc = find_owner(&c, uid, uid_range, gid_range);
			if (rc == 1)
				rc = SUBID_LDAP_ERR;
			goto out;
		}
		if (rc != SUBID_LDAP_OK)
			goto out;
		uid_range->start = gid_range->start = cand;
		uid_range->count = gid_range->count = cfg->range_count;
		*granted = true;
		goto out;
	}
	subid_log(log, LOG_ERR, "ldap error uid=%u reason=\"allocator kept changing (%d tries)\"", (unsigned)uid,
		  MAX_TRIES);
	rc = SUBID_LDAP_ERR;
out:
	if (c.ld != NULL)
		ldap_unbind_ext_s(c.ld, NULL, NULL);
	return rc;
}
