#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "subid_ldap.h"

/*
 * libldap is loaded at the first use of store = ldap, not linked: with it
 * come gnutls, p11-kit and SASL, which every login and setuid newuidmap
 * would map (and run the constructors of) for nothing with the local store.
 * It is found by its soname (SUBID_LDAP_SONAME, what the linker recorded
 * for -lldap at configure time), which in a setuid process the dynamic
 * linker looks up in the system's directories only.  It is never unloaded:
 * libldap and gnutls keep global state.
 */
#define LDAP_FUNCS(X) \
	X(add_ext_s) X(bv2escaped_filter_value) X(count_entries) X(delete_ext_s) X(err2string) \
	X(first_entry) X(get_dn) X(get_values_len) X(initialize) X(memfree) X(modify_ext_s) X(msgfree) \
	X(next_entry) X(sasl_bind_s) X(search_ext_s) X(set_option) X(start_tls_s) X(unbind_ext_s) \
	X(value_free_len)

static struct {
#define X(f) __typeof__(ldap_##f) *f;
	LDAP_FUNCS(X)
#undef X
} L;
static pthread_once_t l_once = PTHREAD_ONCE_INIT;
static char l_error[256];	/* why loading failed; empty when loaded */

static void
l_load(void)
{
	void *h = dlopen(SUBID_LDAP_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (h == NULL) {
		const char *e = dlerror();

		snprintf(l_error, sizeof(l_error), "cannot load %s: %s", SUBID_LDAP_SONAME, e != NULL ? e : "?");
		return;
	}
#define X(f) \
	if (missing == NULL) { \
		void *p = dlsym(h, "ldap_" #f); \
		if (p == NULL) \
			missing = "ldap_" #f; \
		else \
			memcpy(&L.f, &p, sizeof(p)); \
	}
	LDAP_FUNCS(X)
#undef X
	if (missing != NULL) {
		snprintf(l_error, sizeof(l_error), "%s has no %s", SUBID_LDAP_SONAME, missing);
		memset(&L, 0, sizeof(L));
	}
}

/* Load libldap once per process: true, or false (logged). */
static bool
l_ready(const struct subid_log *log)
{
	pthread_once(&l_once, l_load);
	if (l_error[0] == '\0')
		return true;
	subid_log(log, LOG_ERR, "ldap error reason=\"%s (store = ldap needs OpenLDAP's library)\"", l_error);
	return false;
}

/* From here on every libldap call goes through the table. */
#define ldap_add_ext_s (*L.add_ext_s)
#define ldap_bv2escaped_filter_value (*L.bv2escaped_filter_value)
#define ldap_count_entries (*L.count_entries)
#define ldap_delete_ext_s (*L.delete_ext_s)
#define ldap_err2string (*L.err2string)
#define ldap_first_entry (*L.first_entry)
#define ldap_get_dn (*L.get_dn)
#define ldap_get_values_len (*L.get_values_len)
#define ldap_initialize (*L.initialize)
#define ldap_memfree (*L.memfree)
#define ldap_modify_ext_s (*L.modify_ext_s)
#define ldap_msgfree (*L.msgfree)
#define ldap_next_entry (*L.next_entry)
#define ldap_sasl_bind_s (*L.sasl_bind_s)
#define ldap_search_ext_s (*L.search_ext_s)
#define ldap_set_option (*L.set_option)
#define ldap_start_tls_s (*L.start_tls_s)
#define ldap_unbind_ext_s (*L.unbind_ext_s)
#define ldap_value_free_len (*L.value_free_len)

#define OC_ALLOC "subidAllocator"
#define AT_NEXT "subidNextStart"
/* a slot claim: a standard class every directory has, so claims need no schema of ours */
#define OC_CLAIM "applicationProcess"
#define MAX_TRIES 256
/* starts fetched per search while looking for a free slot */
#define WINDOW_SLOTS 256
/* the most entries one window search may return (see window_ranges) */
#define WINDOW_ENTRIES_MAX (4 * WINDOW_SLOTS + 64)
#define PW_MAX 1024
/*
 * A claim whose entry never came (its host died, or lost the directory
 * between the two ADDs) is taken over once it is this old.  A login's
 * directory work ends within ldap_timeout (600 s at most), so an hour also
 * leaves room for clocks that disagree between hosts.
 */
#define CLAIM_STALE_S 3600
#define CLAIM_PREFIX "subid slot claimed for uid "
#define CLAIM_DESC CLAIM_PREFIX "%u at %lld"

/* The names a directory's entries use (ldap_attr_map). */
struct attr_map {
	const char *name;
	const char *oc;		/* structural class of a new entry */
	const char *oc_aux;	/* auxiliary class of a new entry, or NULL */
	const char *oc_search;	/* class that marks an entry as ranges */
	const char *uid_start, *uid_count, *gid_start, *gid_count;
	const char *owner;	/* the owner's DN */
	const char *rdn;	/* attribute naming a new entry after its owner */
	bool by_uidnumber;	/* entries carry the owner's uidNumber (else: found by owner DN) */
};

static const struct attr_map maps[] = {
	[SUBID_LDAP_MAP_SSSD] = {
		"sssd", "subordinateIdEntry", NULL, "subordinateIdEntry",
		"subUidNumber", "subUidCount", "subGidNumber", "subGidCount",
		"subidRangeOwner", "cn", true,
	},
	/* FreeIPA 4.9+: ipaUniqueID=...,cn=subids,cn=accounts,<suffix>, one per owner */
	[SUBID_LDAP_MAP_FREEIPA] = {
		"freeipa", "ipaSubordinateIdEntry", "ipaSubordinateId", "ipaSubordinateId",
		"ipaSubUidNumber", "ipaSubUidCount", "ipaSubGidNumber", "ipaSubGidCount",
		"ipaOwner", "ipaUniqueID", false,
	},
};

struct conn {
	LDAP *ld;
	const struct subid_config *cfg;
	const struct subid_log *log;
	const struct attr_map *m;
	struct timeval tv;	/* what is left of the call's ldap_timeout */
	int64_t deadline_ms;	/* CLOCK_MONOTONIC */
	bool spent;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * ldap_timeout bounds a whole call (one login, one lookup), not each of its
 * operations: a directory that stops answering half-way must not hold a
 * login for a multiple of it.
 */
static void
conn_init(struct conn *c, const struct subid_config *cfg, const struct subid_log *log)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->log = log;
	c->m = &maps[cfg->ldap.map];
	c->deadline_ms = mono_ms() + (int64_t)cfg->ldap.timeout * 1000;
}

/*
 * Before each operation: every timeout libldap applies becomes what is left
 * of the call's budget.  false (logged once) when nothing is left.
 */
static bool
budget(struct conn *c, const char *op)
{
	int64_t left = c->deadline_ms - mono_ms();

	if (left <= 0) {
		if (!c->spent)
			subid_log(c->log, LOG_ERR, "ldap error uri=\"%s\" op=%s reason=\"no answer within "
				  "ldap_timeout (%" PRIu64 " s)\"", c->cfg->ldap.uri, op, c->cfg->ldap.timeout);
		c->spent = true;
		return false;
	}
	c->tv.tv_sec = (time_t)(left / 1000);
	c->tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	if (c->ld != NULL) {
		ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &c->tv);
		ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &c->tv);
	}
	return true;
}

static int
ldap_fail(struct conn *c, const char *op, int rc)
{
	bool down = rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
		    rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;

	subid_log(c->log, LOG_ERR, "ldap error uri=\"%s\" op=%s reason=\"%s\"", c->cfg->ldap.uri, op,
		  ldap_err2string(rc));
	return down ? SUBID_DOWN : SUBID_ERR;
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
	if (buf[0] == '\0') {
		/* a simple bind with a DN and no password is an unauthenticated bind (RFC 4513 5.1.2) */
		subid_log(c->log, LOG_ERR, "ldap refused key=ldap_bind_pw_file path=%s reason=\"empty password\"",
			  path);
		return -1;
	}
	return 0;
}

/* Connect; bind with the configured credentials, or anonymously when !write. */
static int
connect_bind(struct conn *c, bool write)
{
	const struct subid_ldap_config *l = &c->cfg->ldap;
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, on = 1, rc;
	struct berval cred = { 0, NULL };
	char pw[PW_MAX];

	rc = ldap_initialize(&c->ld, l->uri);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(c, "initialize", rc);
	ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	/* any non-NULL pointer is "on" (LDAP_OPT_ON is a liblber symbol, and liblber is not linked) */
	ldap_set_option(c->ld, LDAP_OPT_RESTART, &on);
	(void)zero;
	if (l->tls != SUBID_LDAP_TLS_NO) {
		/* whatever ldap.conf says, an unverified server is not trusted */
		ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
		if (l->ca_file != NULL)
			ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, l->ca_file);
		/* the CA file is read here: a missing or bad one must say so, not look like a network error */
		if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
			subid_log(c->log, LOG_ERR, "ldap refused uri=\"%s\" key=ldap_ca_file path=%s reason=\"cannot set "
				  "up TLS with this CA file\"", l->uri, l->ca_file != NULL ? l->ca_file : "(system default)");
			return SUBID_ERR;
		}
	}
	if (l->tls == SUBID_LDAP_TLS_STARTTLS) {
		if (!budget(c, "starttls"))
			return SUBID_DOWN;
		rc = ldap_start_tls_s(c->ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			subid_log(c->log, LOG_ERR, "ldap refused uri=\"%s\" reason=\"TLS required (ldap_tls = starttls) "
				  "but StartTLS failed: %s\"", l->uri, ldap_err2string(rc));
			return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ? SUBID_DOWN : SUBID_ERR;
		}
	}
	if (write && l->bind_dn != NULL) {
		if (read_password(c, pw, sizeof(pw)) != 0)
			return SUBID_ERR;
		cred.bv_val = pw;
		cred.bv_len = strlen(pw);
	}
	rc = budget(c, "bind") ? ldap_sasl_bind_s(c->ld, write ? l->bind_dn : NULL, LDAP_SASL_SIMPLE, &cred,
						  NULL, NULL, NULL) : LDAP_TIMEOUT;
	explicit_bzero(pw, sizeof(pw));
	if (c->spent)
		return SUBID_DOWN;
	if (rc != LDAP_SUCCESS)
		return ldap_fail(c, "bind", rc);
	return SUBID_OK;
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
	const struct attr_map *m = c->m;
	uint64_t end;

	return get_u64(c, e, m->uid_start, &ur->start) && get_u64(c, e, m->uid_count, &ur->count) &&
	       get_u64(c, e, m->gid_start, &gr->start) && get_u64(c, e, m->gid_count, &gr->count) &&
	       subid_range_end(ur->start, ur->count, &end) && subid_range_end(gr->start, gr->count, &end);
}

/*
 * Ranges read from the directory go into the replica and to newuidmap: any
 * host's bind DN can write them, so one holding real account IDs (root's,
 * a user's) or a reserved interval is refused, exactly like a pool that
 * would overlap them.
 */
static bool
ranges_allowed(const struct subid_config *cfg, const struct subid_grant *ur, const struct subid_grant *gr)
{
	struct subid_interval real, r[2] = { { ur->start, ur->start + ur->count },
					     { gr->start, gr->start + gr->count } };

	subid_config_real_ids(cfg, &real);
	for (int k = 0; k < 2; k++) {
		if (subid_interval_overlap(&r[k], &real))
			return false;
		for (size_t i = 0; i < cfg->n_reserved; i++)
			if (subid_interval_overlap(&r[k], &cfg->reserved[i]))
				return false;
	}
	return true;
}

/* Is suffix the tail of dn, on an RDN boundary?  (Case-insensitive, as DNs mostly compare.) */
static bool
dn_ends_with(const char *dn, const char *suffix, size_t slen)
{
	size_t dlen = strlen(dn);

	if (slen == 0 || slen > dlen || strncasecmp(dn + dlen - slen, suffix, slen) != 0)
		return false;
	return slen == dlen || dn[dlen - slen - 1] == ',';
}

/*
 * The naming context (the directory's suffix) that holds ldap_base, from
 * the root DSE, or else the parent of ldap_base.  malloc'ed; NULL on error.
 */
static char *
base_suffix(struct conn *c)
{
	const char *base = c->cfg->ldap.base;
	char *attrs[] = { "namingContexts", NULL }, *best = NULL;
	LDAPMessage *res = NULL, *e;
	size_t best_len = 0;

	if (budget(c, "search") &&
	    ldap_search_ext_s(c->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &c->tv, 1,
			      &res) == LDAP_SUCCESS && (e = ldap_first_entry(c->ld, res)) != NULL) {
		struct berval **v = ldap_get_values_len(c->ld, e, "namingContexts");

		for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
			if (v[i]->bv_len > best_len && dn_ends_with(base, v[i]->bv_val, v[i]->bv_len)) {
				free(best);
				best = strndup(v[i]->bv_val, v[i]->bv_len);
				best_len = best != NULL ? v[i]->bv_len : 0;
			}
		}
		ldap_value_free_len(v);
	}
	ldap_msgfree(res);
	if (best != NULL)
		return best;
	/* no root DSE to read: the parent of ldap_base, after its first unescaped comma */
	for (const char *p = base; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == ',')
			return strdup(p + 1);
	}
	return NULL;
}

/*
 * The DN of the account with this uidNumber under ldap_user_base (default:
 * the directory's suffix that holds ldap_base): the entries' owner
 * attribute.  OK with *dn set; NONE when the owner is not in this directory (a
 * local or another directory's user); an error (logged) when the directory
 * did not answer or holds two accounts with this uidNumber.  A failure is
 * never "no such owner": that would read as "no entry" and free a range
 * the directory still gives.
 */
static int
owner_dn(struct conn *c, uid_t uid, char **dn)
{
	char *attrs[] = { "1.1", NULL };
	char filter[96], *suffix = NULL, *d;
	const char *base = c->cfg->ldap.user_base;
	LDAPMessage *res = NULL, *e;
	int rc;

	*dn = NULL;
	if (base == NULL && (base = suffix = base_suffix(c)) == NULL) {
		subid_log(c->log, LOG_ERR, "ldap error uid=%u reason=\"cannot tell the directory's suffix to look "
			  "the owner up under; set ldap_user_base\"", (unsigned)uid);
		return SUBID_ERR;
	}
	snprintf(filter, sizeof(filter), "(&(objectClass=posixAccount)(uidNumber=%u))", (unsigned)uid);
	if (!budget(c, "search")) {
		free(suffix);
		return SUBID_DOWN;
	}
	rc = ldap_search_ext_s(c->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &c->tv, 2, &res);
	free(suffix);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		return ldap_fail(c, "search", rc);
	}
	e = ldap_first_entry(c->ld, res);
	if (e == NULL) {
		ldap_msgfree(res);
		return SUBID_NONE;
	}
	if (rc == LDAP_SIZELIMIT_EXCEEDED || ldap_next_entry(c->ld, e) != NULL) {
		subid_log(c->log, LOG_ERR, "ldap refused uid=%u reason=\"two accounts with this uidNumber in the "
			  "directory\"", (unsigned)uid);
		ldap_msgfree(res);
		return SUBID_ERR;
	}
	d = ldap_get_dn(c->ld, e);
	*dn = d != NULL ? strdup(d) : NULL;
	ldap_memfree(d);
	ldap_msgfree(res);
	if (*dn == NULL) {
		subid_log(c->log, LOG_CRIT, "out of memory");
		return SUBID_ERR;
	}
	return SUBID_OK;
}

/*
 * uid's entry: OK (ranges set), NONE, or an error.  The sssd map finds it
 * by uidNumber; the FreeIPA map by its owner's DN (*odn, looked up here when
 * NULL and kept for the caller).  When asked, *edn is the entry's DN and
 * *ename the owner name it records (NULL when none).
 */
static int
find_owner(struct conn *c, uid_t uid, char **odn, struct subid_grant *ur, struct subid_grant *gr, char **edn,
	   char **ename)
{
	const struct attr_map *m = c->m;
	char *attrs[] = { (char *)m->uid_start, (char *)m->uid_count, (char *)m->gid_start,
			  (char *)m->gid_count, "uid", NULL };
	char *filter = NULL;
	LDAPMessage *res = NULL, *e;
	int rc, n;

	if (m->by_uidnumber) {
		n = asprintf(&filter, "(&(objectClass=%s)(uidNumber=%u))", m->oc_search, (unsigned)uid);
	} else {
		struct berval dnv, esc = { 0, NULL };

		/* 1: the owner is not in the directory, so neither is his entry */
		if (*odn == NULL && (rc = owner_dn(c, uid, odn)) != SUBID_OK)
			return rc;
		dnv.bv_val = *odn;
		dnv.bv_len = strlen(*odn);
		if (ldap_bv2escaped_filter_value(&dnv, &esc) != 0)
			return SUBID_ERR;
		n = asprintf(&filter, "(&(objectClass=%s)(%s=%s))", m->oc_search, m->owner, esc.bv_val);
		ldap_memfree(esc.bv_val);
	}
	if (n < 0) {
		subid_log(c->log, LOG_CRIT, "out of memory");
		return SUBID_ERR;
	}
	if (!budget(c, "search")) {
		free(filter);
		return SUBID_DOWN;
	}
	rc = ldap_search_ext_s(c->ld, c->cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
			       &c->tv, 2, &res);
	free(filter);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		return ldap_fail(c, "search", rc);
	}
	e = ldap_first_entry(c->ld, res);
	if (e == NULL) {
		ldap_msgfree(res);
		return SUBID_NONE;
	}
	if (rc == LDAP_SIZELIMIT_EXCEEDED || ldap_next_entry(c->ld, e) != NULL) {
		/* which one would be his?  Neither: taking the first lets whoever added one choose */
		subid_log(c->log, LOG_ERR, "ldap refused uid=%u map=%s reason=\"two entries for one owner in the "
			  "directory\"", (unsigned)uid, m->name);
		ldap_msgfree(res);
		return SUBID_ERR;
	}
	if (!entry_ranges(c, e, ur, gr)) {
		subid_log(c->log, LOG_ERR, "ldap error uid=%u map=%s reason=\"entry has invalid ranges\"",
			  (unsigned)uid, m->name);
		ldap_msgfree(res);
		return SUBID_ERR;
	}
	if (!ranges_allowed(c->cfg, ur, gr)) {
		subid_log(c->log, LOG_ERR, "ldap refused uid=%u subuid=%" PRIu64 "+%" PRIu64 " subgid=%" PRIu64
			  "+%" PRIu64 " reason=\"the directory's entry overlaps real account IDs or a reserved "
			  "interval\"", (unsigned)uid, ur->start, ur->count, gr->start, gr->count);
		ldap_msgfree(res);
		return SUBID_ERR;
	}
	if (edn != NULL) {
		char *d = ldap_get_dn(c->ld, e);

		*edn = d != NULL ? strdup(d) : NULL;
		ldap_memfree(d);
		if (*edn == NULL) {
			ldap_msgfree(res);
			subid_log(c->log, LOG_CRIT, "out of memory");
			return SUBID_ERR;
		}
	}
	if (ename != NULL) {
		struct berval **v = ldap_get_values_len(c->ld, e, "uid");

		*ename = v != NULL && v[0] != NULL ? strndup(v[0]->bv_val, v[0]->bv_len) : NULL;
		ldap_value_free_len(v);
	}
	ldap_msgfree(res);
	return SUBID_OK;
}

/*
 * Every directory range that can reach into [lo + range_count - 1, hi]: those
 * that start in [lo, hi] (the window begins range_count - 1 below the
 * candidates), and those longer than range_count that start anywhere at or
 * below hi (made by hand or by FreeIPA), appended to *v (a copy of taken[]
 * on entry, normalized on return).
 */
static int
window_ranges(struct conn *c, uint64_t lo, uint64_t hi, struct subid_interval **v, size_t *n)
{
	const struct attr_map *m = c->m;
	char *attrs[] = { (char *)m->uid_start, (char *)m->uid_count, (char *)m->gid_start,
			  (char *)m->gid_count, NULL };
	char filter[768];
	LDAPMessage *res = NULL, *e;
	uint64_t longer = c->cfg->range_count + 1;
	int rc;

	snprintf(filter, sizeof(filter),
		 "(&(objectClass=%s)(|(&(%s>=%" PRIu64 ")(%s<=%" PRIu64 "))(&(%s>=%" PRIu64 ")(%s<=%" PRIu64 "))"
		 "(&(%s<=%" PRIu64 ")(%s>=%" PRIu64 "))(&(%s<=%" PRIu64 ")(%s>=%" PRIu64 "))))",
		 m->oc_search, m->uid_start, lo, m->uid_start, hi, m->gid_start, lo, m->gid_start, hi,
		 m->uid_start, hi, m->uid_count, longer, m->gid_start, hi, m->gid_count, longer);
	if (!budget(c, "search"))
		return SUBID_DOWN;
	rc = ldap_search_ext_s(c->ld, c->cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
			       &c->tv, WINDOW_ENTRIES_MAX, &res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED) {
		/*
		 * Aligned entries of range_count IDs: at most about two per
		 * slot in a window.  More is a flood (hand-made or hostile
		 * tiny entries) that must not make a login hold it in memory.
		 */
		ldap_msgfree(res);
		subid_log(c->log, LOG_ERR, "ldap error reason=\"more than %d entries in the window [%" PRIu64 ", %"
			  PRIu64 "] of the pool (search size limit): not allocating from a flooded directory\"",
			  WINDOW_ENTRIES_MAX, lo, hi);
		return SUBID_ERR;
	}
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return ldap_fail(c, "search", rc);
	}
	for (e = ldap_first_entry(c->ld, res); e != NULL; e = ldap_next_entry(c->ld, e)) {
		struct subid_grant g[2];
		struct subid_interval *nv = realloc(*v, (*n + 2) * sizeof(*nv));

		if (nv == NULL) {
			ldap_msgfree(res);
			subid_log(c->log, LOG_CRIT, "out of memory");
			return SUBID_ERR;
		}
		*v = nv;
		if (!entry_ranges(c, e, &g[0], &g[1])) {
			/* an unreadable entry in the window: the whole window is taken */
			nv[(*n)++] = (struct subid_interval){ lo, hi + 1 };
			continue;
		}
		for (int k = 0; k < 2; k++)
			nv[(*n)++] = (struct subid_interval){ g[k].start, g[k].start + g[k].count };
	}
	ldap_msgfree(res);
	*n = subid_intervals_normalize(*v, *n);
	return SUBID_OK;
}

/*
 * The first aligned start at or after *cand whose range overlaps neither
 * taken[] nor a directory range: one search per WINDOW_SLOTS slots, so even
 * a scan of a full pool for a released slot costs a bounded number of round
 * trips.
 */
static int
next_free(struct conn *c, const struct subid_interval *taken, size_t ntaken, uint64_t *cand)
{
	const struct subid_config *cfg = c->cfg;
	uint64_t count = cfg->range_count, s = *cand, win = count * WINDOW_SLOTS;

	for (;;) {
		uint64_t wend = cfg->range_max - s > win ? s + win : cfg->range_max, found;
		struct subid_interval *v;
		size_t n = ntaken;
		bool ok;
		int rc;

		if (s >= cfg->range_max || wend - s < count)
			return SUBID_FULL;
		v = malloc((ntaken + 1) * sizeof(*v));
		if (v == NULL) {
			subid_log(c->log, LOG_CRIT, "out of memory");
			return SUBID_ERR;
		}
		if (ntaken > 0)
			memcpy(v, taken, ntaken * sizeof(*v));
		rc = window_ranges(c, s >= count ? s - count + 1 : 0, wend - 1, &v, &n);
		ok = rc == SUBID_OK &&
		     subid_first_fit(s, wend, cfg->range_min, count, count, v, n, &found);
		free(v);
		if (rc != SUBID_OK)
			return rc;
		if (ok) {
			*cand = found;
			return SUBID_OK;
		}
		if (wend == cfg->range_max)
			return SUBID_FULL;
		/* the candidates not wholly inside this window start after wend - count */
		s = wend - count + 1;
	}
}

/* The allocator's cursor; creates the entry at the pool's start when missing. */
static int
read_cursor(struct conn *c, const char *dn, uint64_t *next)
{
	char *attrs[] = { AT_NEXT, NULL };
	LDAPMessage *res = NULL, *e;
	int rc;

	for (int tries = 0; tries < 2; tries++) {
		if (!budget(c, "search"))
			return SUBID_DOWN;
		rc = ldap_search_ext_s(c->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
				       &c->tv, 1, &res);
		if (rc == LDAP_SUCCESS && (e = ldap_first_entry(c->ld, res)) != NULL) {
			bool ok = get_u64(c, e, AT_NEXT, next);

			ldap_msgfree(res);
			if (!ok) {
				subid_log(c->log, LOG_ERR, "ldap error dn=\"%s\" reason=\"no valid " AT_NEXT "\"", dn);
				return SUBID_ERR;
			}
			return SUBID_OK;
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
			if (!budget(c, "add"))
				return SUBID_DOWN;
			rc = ldap_add_ext_s(c->ld, dn, mods, NULL, NULL);
			if (rc != LDAP_SUCCESS && rc != LDAP_ALREADY_EXISTS)
				return ldap_fail(c, "add allocator", rc);
		}
	}
	return SUBID_ERR;
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
	if (!budget(c, "modify"))
		return SUBID_DOWN;
	rc = ldap_modify_ext_s(c->ld, dn, mods, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		return SUBID_OK;
	if (rc == LDAP_NO_SUCH_ATTRIBUTE)
		return 1;
	return ldap_fail(c, "modify allocator", rc);
}

/*
 * One try to move the cursor from cur (its last value seen) to to, forward
 * or back.  The cursor only spreads hosts over the pool and spares them a
 * rescan: the slot claim is what makes a start exclusive, so a cursor that
 * somebody else moved meanwhile is left as it is.
 */
static void
move_cursor(struct conn *c, const char *dn, uint64_t cur, uint64_t to)
{
	if (cur != to)
		(void)cas_cursor(c, dn, cur, to);
}

/* The claim of the slot at start: cn=<start>,cn=allocator,<base>. */
static int
claim_dn(struct conn *c, uint64_t start, char *dn, size_t len)
{
	return snprintf(dn, len, "cn=%" PRIu64 ",cn=allocator,%s", start, c->cfg->ldap.base) < (int)len ? 0 : -1;
}

/*
 * Claim the slot at start for uid: an ADD, which only one host can win, so
 * two owners never get the same start even when both took it for free (a
 * released range, or a slot whose owner lost the race for his entry).
 * OK, 1 when already claimed, or an error.
 */
static int
claim_slot(struct conn *c, uint64_t start, uid_t uid)
{
	char dn[600], cnv[32], desc[96];
	char *oc[] = { OC_CLAIM, NULL }, *cn[] = { cnv, NULL }, *ds[] = { desc, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
	LDAPMod m_cn = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
	LDAPMod m_ds = { LDAP_MOD_ADD, "description", { .modv_strvals = ds } };
	LDAPMod *mods[] = { &m_oc, &m_cn, &m_ds, NULL };
	int rc;

	if (claim_dn(c, start, dn, sizeof(dn)) != 0)
		return SUBID_ERR;
	snprintf(cnv, sizeof(cnv), "%" PRIu64, start);
	snprintf(desc, sizeof(desc), CLAIM_DESC, (unsigned)uid, (long long)time(NULL));
	if (!budget(c, "claim"))
		return SUBID_DOWN;
	rc = ldap_add_ext_s(c->ld, dn, mods, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		return SUBID_OK;
	if (rc == LDAP_ALREADY_EXISTS)
		return 1;
	return ldap_fail(c, "claim", rc);
}

/*
 * A claim's description as claim_slot() writes it: CLAIM_DESC, every number
 * whole and in range (no sscanf: it would take "12x" or wrap a huge value).
 */
static bool
parse_claim(const char *desc, unsigned *uid, long long *at)
{
	const char *p = desc + sizeof(CLAIM_PREFIX) - 1, *sep;
	char num[24];
	uint64_t u, t;

	if (strncmp(desc, CLAIM_PREFIX, sizeof(CLAIM_PREFIX) - 1) != 0 || (sep = strstr(p, " at ")) == NULL ||
	    (size_t)(sep - p) >= sizeof(num))
		return false;
	memcpy(num, p, (size_t)(sep - p));
	num[sep - p] = '\0';
	if (!subid_parse_u64(num, &u) || u >= SUBID_ID_LIMIT || !subid_parse_u64(sep + 4, &t) ||
	    t > (uint64_t)INT64_MAX)
		return false;
	*uid = (unsigned)u;
	*at = (long long)t;
	return true;
}

/*
 * The claim at start exists, but no entry covers its slot (next_free saw
 * none): take it over if subid made it more than CLAIM_STALE_S ago, by a
 * compare-and-swap of its description, which only one host can win.  A
 * claim without subid's time (made by hand) is never taken.  OK (the slot
 * is uid's now), 1 (not stale, or another host was first), or an error.
 */
static int
take_stale_claim(struct conn *c, uint64_t start, uid_t uid)
{
	char dn[600], old[128], new[96];
	char *attrs[] = { "description", NULL }, *olds[] = { old, NULL }, *news[] = { new, NULL };
	LDAPMod del = { LDAP_MOD_DELETE, "description", { .modv_strvals = olds } };
	LDAPMod add = { LDAP_MOD_ADD, "description", { .modv_strvals = news } };
	LDAPMod *mods[] = { &del, &add, NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **v;
	long long at, now = (long long)time(NULL);
	unsigned prev;
	int rc;
	bool ours = false;

	if (claim_dn(c, start, dn, sizeof(dn)) != 0)
		return SUBID_ERR;
	if (!budget(c, "search"))
		return SUBID_DOWN;
	rc = ldap_search_ext_s(c->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &c->tv, 1, &res);
	if (rc == LDAP_NO_SUCH_OBJECT) {
		ldap_msgfree(res);
		return 1;	/* released meanwhile: a later try claims it the usual way */
	}
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return ldap_fail(c, "search", rc);
	}
	e = ldap_first_entry(c->ld, res);
	v = e != NULL ? ldap_get_values_len(c->ld, e, "description") : NULL;
	if (v != NULL && v[0] != NULL && v[1] == NULL && v[0]->bv_len < sizeof(old)) {
		memcpy(old, v[0]->bv_val, v[0]->bv_len);
		old[v[0]->bv_len] = '\0';
		ours = parse_claim(old, &prev, &at);
	}
	ldap_value_free_len(v);
	ldap_msgfree(res);
	if (!ours || now - at < CLAIM_STALE_S)
		return 1;
	snprintf(new, sizeof(new), CLAIM_DESC, (unsigned)uid, now);
	if (!budget(c, "modify claim"))
		return SUBID_DOWN;
	rc = ldap_modify_ext_s(c->ld, dn, mods, NULL, NULL);
	if (rc == LDAP_NO_SUCH_ATTRIBUTE || rc == LDAP_NO_SUCH_OBJECT)
		return 1;
	if (rc != LDAP_SUCCESS)
		return ldap_fail(c, "modify claim", rc);
	subid_log(c->log, LOG_NOTICE, "ldap reclaimed dn=\"%s\" uid=%u previous_uid=%u age_s=%lld "
		  "reason=\"claim without an entry\"", dn, (unsigned)uid, prev, now - at);
	return SUBID_OK;
}

static void
unclaim_slot(struct conn *c, uint64_t start)
{
	char dn[600];
	int rc;

	if (claim_dn(c, start, dn, sizeof(dn)) != 0 || !budget(c, "delete claim"))
		return;
	rc = ldap_delete_ext_s(c->ld, dn, NULL, NULL);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
		subid_log(c->log, LOG_WARNING, "ldap warning dn=\"%s\" reason=\"cannot remove the slot claim: %s\"",
			  dn, ldap_err2string(rc));
}

/* The entry for uid; 1 when one exists already (ADD of the same RDN). */
static int
add_owner(struct conn *c, uid_t uid, const char *name, const char *odn, uint64_t start, uint64_t count)
{
	const struct attr_map *m = c->m;
	char dn[600], rdnv[32], uidv[16], sv[32], cv[32];
	char *oc[] = { (char *)m->oc, (char *)m->oc_aux, NULL }, *rd[] = { rdnv, NULL };
	char *un[] = { uidv, NULL }, *nm[] = { (char *)name, NULL }, *ow[] = { (char *)odn, NULL };
	char *s[] = { sv, NULL }, *n[] = { cv, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
	LDAPMod m_rd = { LDAP_MOD_ADD, (char *)m->rdn, { .modv_strvals = rd } };
	LDAPMod m_us = { LDAP_MOD_ADD, (char *)m->uid_start, { .modv_strvals = s } };
	LDAPMod m_uc = { LDAP_MOD_ADD, (char *)m->uid_count, { .modv_strvals = n } };
	LDAPMod m_gs = { LDAP_MOD_ADD, (char *)m->gid_start, { .modv_strvals = s } };
	LDAPMod m_gc = { LDAP_MOD_ADD, (char *)m->gid_count, { .modv_strvals = n } };
	LDAPMod m_un = { LDAP_MOD_ADD, "uidNumber", { .modv_strvals = un } };
	LDAPMod m_nm = { LDAP_MOD_ADD, "uid", { .modv_strvals = nm } };
	LDAPMod m_ow = { LDAP_MOD_ADD, (char *)m->owner, { .modv_strvals = ow } };
	LDAPMod *mods[10] = { &m_oc, &m_rd, &m_us, &m_uc, &m_gs, &m_gc, NULL };
	int rc, nmods = 6;

	snprintf(uidv, sizeof(uidv), "%u", (unsigned)uid);
	snprintf(sv, sizeof(sv), "%" PRIu64, start);
	snprintf(cv, sizeof(cv), "%" PRIu64, count);
	if (m->by_uidnumber) {
		snprintf(rdnv, sizeof(rdnv), "%u", (unsigned)uid);
		mods[nmods++] = &m_un;
		if (name != NULL)
			mods[nmods++] = &m_nm;
	} else {
		/* named after the owner (FreeIPA's own entries carry a random UUID) */
		snprintf(rdnv, sizeof(rdnv), "subid-uid-%u", (unsigned)uid);
	}
	if (odn != NULL)
		mods[nmods++] = &m_ow;
	if (snprintf(dn, sizeof(dn), "%s=%s,%s", m->rdn, rdnv, c->cfg->ldap.base) >= (int)sizeof(dn))
		return SUBID_ERR;
	if (!budget(c, "add"))
		return SUBID_DOWN;
	rc = ldap_add_ext_s(c->ld, dn, mods, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		return SUBID_OK;
	if (rc == LDAP_ALREADY_EXISTS)
		return 1;
	return ldap_fail(c, "add", rc);
}

/*
 * The owner was renamed (same uidNumber, other name) or the entry was made
 * without a name: record the current name and DN, so that SSSD, which finds
 * ranges by subidRangeOwner, keeps finding them.  Failing only logs.
 */
static void
refresh_owner(struct conn *c, const char *edn, uid_t uid, const char *name)
{
	char *odn;
	/* a failed lookup must not read as "no DN": that would delete the owner attribute */
	int rc = owner_dn(c, uid, &odn);
	char *nm[] = { (char *)name, NULL }, *ow[] = { odn, NULL };
	LDAPMod m_nm = { LDAP_MOD_REPLACE, "uid", { .modv_strvals = nm } };
	/* replace with no value deletes: an owner no longer in this directory has no DN */
	LDAPMod m_ow = { LDAP_MOD_REPLACE, (char *)c->m->owner, { .modv_strvals = odn != NULL ? ow : NULL } };
	LDAPMod *mods[] = { &m_nm, &m_ow, NULL };
	char safe[SUBID_LOG_STR_MAX];

	subid_log_str(name, safe, sizeof(safe));
	if (rc < 0) {
		subid_log(c->log, LOG_WARNING, "ldap warning uid=%u user=%s reason=\"cannot look the owner's DN "
			  "up; the entry is left as it is\"", (unsigned)uid, safe);
		return;
	}
	rc = budget(c, "modify") ? ldap_modify_ext_s(c->ld, edn, mods, NULL, NULL) : LDAP_TIMEOUT;
	if (rc == LDAP_SUCCESS)
		subid_log(c->log, LOG_NOTICE, "ldap renamed uid=%u user=%s reason=\"entry now names the owner's "
			  "current name and DN\"", (unsigned)uid, safe);
	else
		subid_log(c->log, LOG_WARNING, "ldap warning uid=%u user=%s reason=\"cannot record the owner's "
			  "current name: %s\"", (unsigned)uid, safe, ldap_err2string(rc));
	free(odn);
}

/*
 * A free slot, claimed: the first one after the cursor, else (the pool used
 * up to its end) the first one from the pool's start, where released ranges
 * and lost races left holes.  OK with *cand claimed, FULL, or an error;
 * *contended tells whether a slot free in the directory was claimed by
 * someone else meanwhile.
 */
static int
claim_free_slot(struct conn *c, const char *adn, uid_t uid, const struct subid_interval *taken, size_t ntaken,
		uint64_t *cand, bool *contended)
{
	const struct subid_config *cfg = c->cfg;
	uint64_t cur;
	bool wrapped = false;
	int rc;

	rc = read_cursor(c, adn, &cur);
	if (rc != SUBID_OK)
		return rc;
	*cand = cur < cfg->range_min ? cfg->range_min : cur;
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		rc = next_free(c, taken, ntaken, cand);
		if (rc == SUBID_FULL && !wrapped) {
			wrapped = true;
			*cand = cfg->range_min;
			continue;
		}
		if (rc != SUBID_OK)
			return rc;
		rc = claim_slot(c, *cand, uid);
		if (rc == 1)
			rc = take_stale_claim(c, *cand, uid);
		if (rc == SUBID_OK) {
			if (*cand + cfg->range_count > cur)
				move_cursor(c, adn, cur, *cand + cfg->range_count);
			return SUBID_OK;
		}
		if (rc != 1)
			return rc;
		/* claimed by another host just now (or a claim left behind, not stale yet): the next one */
		*contended = true;
		*cand += cfg->range_count;
	}
	subid_log(c->log, LOG_ERR, "ldap error uid=%u reason=\"no claimable slot after %d tries\"", (unsigned)uid,
		  MAX_TRIES);
	return SUBID_ERR;
}

static void
conn_close(struct conn *c)
{
	if (c->ld != NULL)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	c->ld = NULL;
}

int
subid_ldap_ensure(const struct subid_config *cfg, uid_t uid, const char *name,
		  const struct subid_interval *taken, size_t ntaken,
		  struct subid_grant *uid_range, struct subid_grant *gid_range, bool *granted,
		  const struct subid_log *log)
{
	struct conn c;
	char adn[512], *odn = NULL, *edn = NULL, *ename = NULL;
	bool contended = false;
	uint64_t cand;
	int rc;

	*granted = false;
	if (!l_ready(log))
		return SUBID_ERR;
	conn_init(&c, cfg, log);
	if (snprintf(adn, sizeof(adn), "cn=allocator,%s", cfg->ldap.base) >= (int)sizeof(adn)) {
		subid_log(log, LOG_ERR, "ldap error reason=\"ldap_base too long\"");
		return SUBID_ERR;
	}
	rc = connect_bind(&c, true);
	if (rc != SUBID_OK)
		goto out;
	rc = find_owner(&c, uid, &odn, uid_range, gid_range, &edn, &ename);
	if (rc == SUBID_OK && c.m->by_uidnumber && name != NULL && (ename == NULL || strcmp(ename, name) != 0))
		refresh_owner(&c, edn, uid, name);
	if (rc <= 0)
		goto out;
	if (odn == NULL && (rc = owner_dn(&c, uid, &odn)) < 0)
		goto out;
	if (odn == NULL && !c.m->by_uidnumber) {
		subid_log(log, LOG_ERR, "ldap refused uid=%u map=%s reason=\"the owner is not in the directory "
			  "(no posixAccount with this uidNumber), and %s needs the owner's DN\"", (unsigned)uid,
			  c.m->name, c.m->owner);
		rc = SUBID_ERR;
		goto out;
	}
	rc = claim_free_slot(&c, adn, uid, taken, ntaken, &cand, &contended);
	/*
	 * The last free slot may be the one another host has just claimed for
	 * this very owner: its entry follows the claim within a few round trips.
	 */
	for (int i = 0; (rc == SUBID_FULL || rc == SUBID_ERR) && i < (contended ? 10 : 1); i++) {
		struct timespec pause = { 0, 100 * 1000 * 1000 };

		if (i > 0)
			nanosleep(&pause, NULL);
		if (find_owner(&c, uid, &odn, uid_range, gid_range, NULL, NULL) == SUBID_OK) {
			rc = SUBID_OK;
			goto out;
		}
	}
	if (rc == SUBID_FULL)
		subid_log(log, LOG_ERR, "ldap full uid=%u reason=\"pool [%" PRIu64 ", %" PRIu64 ") exhausted\"",
			  (unsigned)uid, cfg->range_min, cfg->range_max);
	if (rc != SUBID_OK)
		goto out;
	rc = add_owner(&c, uid, name, odn, cand, cfg->range_count);
	if (rc != SUBID_OK) {
		uint64_t cur;

		/* the slot is free again: point the cursor back at it, so the next allocation fills it */
		unclaim_slot(&c, cand);
		if (read_cursor(&c, adn, &cur) == SUBID_OK && cur > cand)
			move_cursor(&c, adn, cur, cand);
	}
	if (rc == 1) {
		/* another host created this owner's entry first: theirs wins */
		subid_log(log, LOG_DEBUG, "ldap uid=%u lost the race for its entry; slot %" PRIu64 " released",
			  (unsigned)uid, cand);
		rc = find_owner(&c, uid, &odn, uid_range, gid_range, NULL, NULL);
		if (rc == SUBID_NONE)
			rc = SUBID_ERR;
		goto out;
	}
	if (rc != SUBID_OK)
		goto out;
	uid_range->start = gid_range->start = cand;
	uid_range->count = gid_range->count = cfg->range_count;
	*granted = true;
out:
	free(ename);
	free(edn);
	free(odn);
	conn_close(&c);
	return rc;
}

int
subid_ldap_lookup(const struct subid_config *cfg, uid_t uid, struct subid_grant *uid_range,
		  struct subid_grant *gid_range, const struct subid_log *log)
{
	struct conn c;
	char *odn = NULL;
	int rc;

	if (!l_ready(log))
		return SUBID_ERR;
	conn_init(&c, cfg, log);
	rc = connect_bind(&c, false);
	if (rc == SUBID_OK)
		rc = find_owner(&c, uid, &odn, uid_range, gid_range, NULL, NULL);
	free(odn);
	conn_close(&c);
	return rc;
}

int
subid_ldap_release(const struct subid_config *cfg, uid_t uid, const struct subid_log *log)
{
	struct conn c;
	struct subid_grant ur, gr;
	char *odn = NULL, *edn = NULL;
	int rc;

	if (!l_ready(log))
		return SUBID_ERR;
	conn_init(&c, cfg, log);
	rc = connect_bind(&c, true);
	if (rc == SUBID_OK)
		rc = find_owner(&c, uid, &odn, &ur, &gr, &edn, NULL);
	if (rc == SUBID_OK) {
		/* the entry first: a claim left alone only keeps its slot out of use */
		rc = budget(&c, "delete") ? ldap_delete_ext_s(c.ld, edn, NULL, NULL) : LDAP_TIMEOUT;
		if (rc == LDAP_SUCCESS || rc == LDAP_NO_SUCH_OBJECT) {
			unclaim_slot(&c, ur.start);
			rc = SUBID_OK;
		} else {
			rc = ldap_fail(&c, "delete", rc);
		}
	}
	free(edn);
	free(odn);
	conn_close(&c);
	return rc;
}
