/*
 * An in-memory LDAP directory behind libldap's API, for the unit tests of
 * common/subid_ldap.c and of the core with store = ldap.
 *
 * subid_ldap.c does not link libldap: it dlopen()s SUBID_LDAP_SONAME and
 * fills a table with dlsym("ldap_...").  The test program is linked with
 * -Wl,--wrap=dlopen,--wrap=dlsym, so that table gets the fl_* functions
 * below; every other dlopen (the store's libsqlite3) goes to the real one.
 *
 * The directory keeps entries with multi-valued attributes and answers the
 * way a server does where subid relies on it:
 *   - search: base and subtree scope, a filter evaluator for what subid
 *     sends (&, |, !, =, presence, >=, <= on integers), only the requested
 *     attributes ("1.1": none), the size limit (the first entries plus
 *     LDAP_SIZELIMIT_EXCEEDED), NO_SUCH_OBJECT for a missing base, and the
 *     root DSE ("" base) with namingContexts;
 *   - add: LDAP_ALREADY_EXISTS for a DN that exists, NO_SUCH_OBJECT without
 *     the parent entry;
 *   - modify: atomic; a delete of a value that is not there fails with
 *     LDAP_NO_SUCH_ATTRIBUTE and changes nothing (the compare-and-swap of
 *     the allocator's cursor and of a claim's description), single-valued
 *     attributes are kept single;
 *   - delete, binds (credentials checked when fl.bind_pw_ok is set), StartTLS.
 * Failures are injected with fl.fail (an operation kind, how many of them
 * pass first, the result code), and fl.hook runs before each operation so a
 * test can play another host changing the directory in between.
 *
 * Include in one file per test program, after "config.h" and <cmocka.h>.
 */
#ifndef SUBID_FAKE_LDAP_H
#define SUBID_FAKE_LDAP_H

#include <dlfcn.h>
#include <inttypes.h>
#include <ldap.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define FL_ATTRS 16
#define FL_VALS 8
#define FL_SEARCHES 64

struct fl_attr {
	char *name;
	char *v[FL_VALS];
	size_t n;
};

struct fl_entry {
	char *dn;
	struct fl_attr a[FL_ATTRS];
	size_t na;
};

enum fl_op {
	FL_NONE = 0,
	FL_INIT,
	FL_STARTTLS,
	FL_BIND,
	FL_SEARCH,
	FL_ADD,
	FL_MODIFY,
	FL_DELETE,
	FL_ANY,		/* fl.fail only: every operation on a connection (not FL_INIT) */
	FL_OPS
};

/* The connection and the messages: libldap's opaque types, completed here. */
struct ldap {
	int bound;		/* 0 none, 1 anonymous, 2 with a DN */
};

struct ldapmsg {
	struct ldapmsg *next;
	bool head;		/* the search result; entries follow it */
	struct fl_entry e;
};

/* One search as the code under test made it. */
struct fl_search {
	char base[256];
	char filter[1024];
	int scope;
	int sizelimit;
	long timeout_ms;	/* -1: none given */
	int rc;
	size_t nentries;
};

struct fake_ldap {
	struct fl_entry *e;
	size_t n, cap;
	/* knobs */
	bool dlopen_fails;
	const char *missing_sym;	/* dlsym() does not find this one */
	int init_rc, starttls_rc, tls_newctx_rc;
	const char *bind_pw_ok;		/* binds with a DN must give this password */
	bool anon_readonly;		/* writes after an anonymous bind: LDAP_INSUFFICIENT_ACCESS */
	struct {
		enum fl_op op;		/* FL_NONE: no failures */
		unsigned skip;		/* this many such operations succeed first */
		int rc;
	} fail;
	void (*hook)(enum fl_op op, const char *dn);
	/* what the code under test did */
	unsigned calls[FL_OPS];
	int open;			/* connections initialized and not yet unbound */
	char *bind_dn, *bind_pw;	/* of the last bind (NULL: anonymous) */
	int protocol, require_cert, restart;
	struct fl_search s[FL_SEARCHES];
	size_t ns;			/* searches made (may exceed FL_SEARCHES) */
};

static struct fake_ldap fl;
static unsigned fl_dlopen_total;	/* never reset: libldap is loaded once per process */
static int fl_handle;			/* what the fake dlopen returns */

/* ---- entries --------------------------------------------------------------------- */

static inline char *
fl_strdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static inline void
fl_entry_free(struct fl_entry *e)
{
	for (size_t i = 0; i < e->na; i++) {
		for (size_t k = 0; k < e->a[i].n; k++)
			free(e->a[i].v[k]);
		free(e->a[i].name);
	}
	free(e->dn);
	memset(e, 0, sizeof(*e));
}

static inline void
fl_entry_copy(struct fl_entry *dst, const struct fl_entry *src, char **attrs)
{
	memset(dst, 0, sizeof(*dst));
	dst->dn = fl_strdup(src->dn);
	for (size_t i = 0; i < src->na; i++) {
		bool want = attrs == NULL;

		for (size_t k = 0; attrs != NULL && attrs[k] != NULL; k++)
			if (strcasecmp(attrs[k], src->a[i].name) == 0 || strcmp(attrs[k], "*") == 0)
				want = true;
		if (!want)
			continue;
		dst->a[dst->na].name = fl_strdup(src->a[i].name);
		for (size_t k = 0; k < src->a[i].n; k++)
			dst->a[dst->na].v[k] = fl_strdup(src->a[i].v[k]);
		dst->a[dst->na].n = src->a[i].n;
		dst->na++;
	}
}

static inline struct fl_attr *
fl_attr_of(const struct fl_entry *e, const char *name)
{
	for (size_t i = 0; i < e->na; i++)
		if (strcasecmp(e->a[i].name, name) == 0)
			return (struct fl_attr *)&e->a[i];
	return NULL;
}

static inline bool
fl_has_value(const struct fl_attr *a, const char *v)
{
	for (size_t k = 0; a != NULL && k < a->n; k++)
		if (strcasecmp(a->v[k], v) == 0)
			return true;
	return false;
}

/* Add value v to attribute name of e: false when it is there already. */
static inline bool
fl_entry_add_value(struct fl_entry *e, const char *name, const char *v)
{
	struct fl_attr *a = fl_attr_of(e, name);

	if (a == NULL) {
		assert_true(e->na < FL_ATTRS);
		a = &e->a[e->na++];
		a->name = fl_strdup(name);
		a->n = 0;
	}
	if (fl_has_value(a, v))
		return false;
	assert_true(a->n < FL_VALS);
	a->v[a->n++] = fl_strdup(v);
	return true;
}

static inline void
fl_entry_drop_attr(struct fl_entry *e, struct fl_attr *a)
{
	size_t i = (size_t)(a - e->a);

	for (size_t k = 0; k < a->n; k++)
		free(a->v[k]);
	free(a->name);
	memmove(&e->a[i], &e->a[i + 1], (e->na - i - 1) * sizeof(e->a[0]));
	e->na--;
}

/* Drop value v: false when it is not there. */
static inline bool
fl_entry_del_value(struct fl_entry *e, const char *name, const char *v)
{
	struct fl_attr *a = fl_attr_of(e, name);

	for (size_t k = 0; a != NULL && k < a->n; k++)
		if (strcasecmp(a->v[k], v) == 0) {
			free(a->v[k]);
			a->v[k] = a->v[--a->n];
			if (a->n == 0)
				fl_entry_drop_attr(e, a);
			return true;
		}
	return false;
}

/* The schema's single-valued attributes among those subid writes. */
static inline bool
fl_schema_ok(const struct fl_entry *e)
{
	static const char *const single[] = {
		"subidNextStart", "subUidNumber", "subUidCount", "subGidNumber", "subGidCount", "uidNumber",
		"ipaSubUidNumber", "ipaSubUidCount", "ipaSubGidNumber", "ipaSubGidCount", "ipaOwner",
		"subidRangeOwner",
	};

	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		const struct fl_attr *a = fl_attr_of(e, single[i]);

		if (a != NULL && a->n > 1)
			return false;
	}
	return true;
}

static inline struct fl_entry *
fl_find(const char *dn)
{
	for (size_t i = 0; i < fl.n; i++)
		if (strcasecmp(fl.e[i].dn, dn) == 0)
			return &fl.e[i];
	return NULL;
}

/* The first value of attr in the entry at dn, or NULL. */
static inline const char *
fl_value(const char *dn, const char *attr)
{
	const struct fl_entry *e = fl_find(dn);
	const struct fl_attr *a = e != NULL ? fl_attr_of(e, attr) : NULL;

	return a != NULL && a->n > 0 ? a->v[0] : NULL;
}

static inline struct fl_entry *
fl_new_entry(const char *dn)
{
	struct fl_entry *e;

	assert_null(fl_find(dn));
	if (fl.n == fl.cap) {
		fl.cap = fl.cap ? fl.cap * 2 : 64;
		fl.e = realloc(fl.e, fl.cap * sizeof(*fl.e));
		assert_non_null(fl.e);
	}
	e = &fl.e[fl.n++];
	memset(e, 0, sizeof(*e));
	e->dn = fl_strdup(dn);
	return e;
}

/* Put an entry in the directory: fl_add(dn, attr, value, attr, value, ..., NULL). */
static inline void
fl_add(const char *dn, ...)
{
	struct fl_entry *e = fl_new_entry(dn);
	const char *attr;
	va_list ap;

	va_start(ap, dn);
	while ((attr = va_arg(ap, const char *)) != NULL)
		fl_entry_add_value(e, attr, va_arg(ap, const char *));
	va_end(ap);
}

static inline void
fl_remove(const char *dn)
{
	struct fl_entry *e = fl_find(dn);

	assert_non_null(e);
	fl_entry_free(e);
	*e = fl.e[--fl.n];
}

/* Replace every value of attr in the entry at dn with v. */
static inline void
fl_set(const char *dn, const char *attr, const char *v)
{
	struct fl_entry *e = fl_find(dn);
	struct fl_attr *a;

	assert_non_null(e);
	if ((a = fl_attr_of(e, attr)) != NULL)
		fl_entry_drop_attr(e, a);
	fl_entry_add_value(e, attr, v);
}

static inline void
fl_reset(void)
{
	for (size_t i = 0; i < fl.n; i++)
		fl_entry_free(&fl.e[i]);
	free(fl.e);
	free(fl.bind_dn);
	free(fl.bind_pw);
	memset(&fl, 0, sizeof(fl));
}

/* ---- filters ---------------------------------------------------------------------- */

/* Strict decimal (what subid writes into integer attributes). */
static inline bool
fl_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return true;
}

static inline int
fl_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One filter at *p ("(...)"), evaluated against e; *p moves past it.  Fails the test on bad syntax. */
static bool
fl_eval(const struct fl_entry *e, const char **p)
{
	const char *s = *p;
	bool r = false;

	if (*s != '(')
		fail_msg("fake ldap: filter syntax at \"%s\"", s);
	s++;
	if (*s == '&' || *s == '|') {
		bool conj = *s == '&';

		r = conj;
		s++;
		if (*s != '(')
			fail_msg("fake ldap: empty %c filter", conj ? '&' : '|');
		while (*s == '(') {
			bool x = fl_eval(e, &s);

			r = conj ? r && x : r || x;
		}
	} else if (*s == '!') {
		s++;
		r = !fl_eval(e, &s);
	} else {
		char attr[128], val[512];
		size_t an = 0, vn = 0;
		bool star = false;
		int op = 0;
		const struct fl_attr *a;

		while (*s != '\0' && strchr("=<>~()", *s) == NULL && an + 1 < sizeof(attr))
			attr[an++] = *s++;
		attr[an] = '\0';
		if (s[0] == '=')
			op = '=', s += 1;
		else if ((s[0] == '>' || s[0] == '<') && s[1] == '=')
			op = s[0], s += 2;
		else
			fail_msg("fake ldap: unsupported filter item at \"%s\"", *p);
		while (*s != '\0' && *s != ')' && vn + 1 < sizeof(val)) {
			if (*s == '\\') {
				int hi = fl_hex(s[1]), lo = hi < 0 ? -1 : fl_hex(s[2]);

				if (lo < 0)
					fail_msg("fake ldap: bad escape in \"%s\"", *p);
				val[vn++] = (char)(hi * 16 + lo);
				s += 3;
				continue;
			}
			if (*s == '*')
				star = true;
			if (*s == '(')
				fail_msg("fake ldap: unescaped ( in value of \"%s\"", *p);
			val[vn++] = *s++;
		}
		val[vn] = '\0';
		a = fl_attr_of(e, attr);
		if (star && op == '=' && strcmp(val, "*") == 0) {
			r = a != NULL;
		} else if (star) {
			fail_msg("fake ldap: substring filters are not faked: \"%s\"", *p);
		} else if (op == '=') {
			r = fl_has_value(a, val);
		} else {
			uint64_t want = 0, have;

			r = false;
			if (!fl_u64(val, &want))
				fail_msg("fake ldap: ordering match on a non-integer: \"%s\"", *p);
			for (size_t k = 0; a != NULL && k < a->n && !r; k++)
				if (fl_u64(a->v[k], &have))
					r = op == '>' ? have >= want : have <= want;
		}
	}
	if (*s != ')')
		fail_msg("fake ldap: missing ) in \"%s\"", *p);
	*p = s + 1;
	return r;
}

static inline bool
fl_match(const struct fl_entry *e, const char *filter)
{
	const char *p = filter;
	bool r = fl_eval(e, &p);

	if (*p != '\0')
		fail_msg("fake ldap: junk after filter \"%s\"", filter);
	return r;
}

/* Is dn base itself or below it? */
static inline bool
fl_under(const char *dn, const char *base)
{
	size_t dl = strlen(dn), bl = strlen(base);

	if (bl == 0)
		return true;
	if (dl < bl || strcasecmp(dn + dl - bl, base) != 0)
		return false;
	return dl == bl || dn[dl - bl - 1] == ',';
}

/* Entries under base (subtree) matching filter. */
static inline size_t
fl_count(const char *base, const char *filter)
{
	size_t k = 0;

	for (size_t i = 0; i < fl.n; i++)
		if (fl.e[i].dn[0] != '\0' && fl_under(fl.e[i].dn, base) && fl_match(&fl.e[i], filter))
			k++;
	return k;
}

/* ---- the libldap functions ---------------------------------------------------------- */

/*
 * Before an operation on ld: the injected failure (rc) or LDAP_SUCCESS,
 * then the test's hook.
 */
static inline int
fl_begin(enum fl_op op, const char *dn)
{
	fl.calls[op]++;
	if (fl.fail.op == op || (fl.fail.op == FL_ANY && op != FL_INIT)) {
		if (fl.fail.skip > 0)
			fl.fail.skip--;
		else
			return fl.fail.rc;
	}
	if (fl.hook != NULL)
		fl.hook(op, dn);
	return LDAP_SUCCESS;
}

static int
fl_initialize(LDAP **ldp, const char *url)
{
	int rc = fl_begin(FL_INIT, url);

	*ldp = NULL;
	if (rc == LDAP_SUCCESS)
		rc = fl.init_rc;
	if (rc != LDAP_SUCCESS)
		return rc;
	*ldp = calloc(1, sizeof(**ldp));
	assert_non_null(*ldp);
	fl.open++;
	return LDAP_SUCCESS;
}

static int
fl_unbind_ext_s(LDAP *ld, LDAPControl **sctrls, LDAPControl **cctrls)
{
	(void)sctrls;
	(void)cctrls;
	assert_non_null(ld);
	free(ld);
	fl.open--;
	return LDAP_SUCCESS;
}

static int
fl_set_option(LDAP *ld, int option, const void *invalue)
{
	assert_non_null(ld);
	switch (option) {
	case LDAP_OPT_PROTOCOL_VERSION:
		fl.protocol = *(const int *)invalue;
		break;
	case LDAP_OPT_X_TLS_REQUIRE_CERT:
		fl.require_cert = *(const int *)invalue;
		break;
	case LDAP_OPT_RESTART:
		fl.restart = invalue != NULL;
		break;
	case LDAP_OPT_X_TLS_NEWCTX:
		return fl.tls_newctx_rc;
	default:
		break;
	}
	return LDAP_OPT_SUCCESS;
}

static int
fl_start_tls_s(LDAP *ld, LDAPControl **sctrls, LDAPControl **cctrls)
{
	int rc = fl_begin(FL_STARTTLS, NULL);

	(void)ld;
	(void)sctrls;
	(void)cctrls;
	return rc != LDAP_SUCCESS ? rc : fl.starttls_rc;
}

static int
fl_sasl_bind_s(LDAP *ld, const char *dn, const char *mechanism, struct berval *cred, LDAPControl **sctrls,
	       LDAPControl **cctrls, struct berval **servercredp)
{
	int rc = fl_begin(FL_BIND, dn);

	(void)sctrls;
	(void)cctrls;
	(void)servercredp;
	assert_null(mechanism);	/* LDAP_SASL_SIMPLE */
	free(fl.bind_dn);
	free(fl.bind_pw);
	fl.bind_dn = dn != NULL ? fl_strdup(dn) : NULL;
	fl.bind_pw = cred != NULL && cred->bv_val != NULL ? strndup(cred->bv_val, cred->bv_len) : NULL;
	if (rc != LDAP_SUCCESS)
		return rc;
	if (dn != NULL && fl.bind_pw_ok != NULL && (fl.bind_pw == NULL || strcmp(fl.bind_pw, fl.bind_pw_ok) != 0))
		return LDAP_INVALID_CREDENTIALS;
	ld->bound = dn != NULL ? 2 : 1;
	return LDAP_SUCCESS;
}

static inline int
fl_write_check(LDAP *ld)
{
	if (ld->bound == 0)
		return LDAP_OPERATIONS_ERROR;
	if (ld->bound == 1 && fl.anon_readonly)
		return LDAP_INSUFFICIENT_ACCESS;
	return LDAP_SUCCESS;
}

static inline struct ldapmsg *
fl_msg_new(bool head)
{
	struct ldapmsg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->head = head;
	return m;
}

static int
fl_search_ext_s(LDAP *ld, const char *base, int scope, const char *filter, char **attrs, int attrsonly,
		LDAPControl **sctrls, LDAPControl **cctrls, struct timeval *timeout, int sizelimit,
		LDAPMessage **res)
{
	struct fl_search *rec = fl.ns < FL_SEARCHES ? &fl.s[fl.ns] : NULL;
	struct ldapmsg *head = fl_msg_new(true), **tail = &head->next;
	size_t k = 0;
	int rc;

	(void)attrsonly;
	(void)sctrls;
	(void)cctrls;
	/* recorded first, so that the hook can see the filter as fl.s[fl.ns - 1] */
	if (rec != NULL) {
		memset(rec, 0, sizeof(*rec));
		snprintf(rec->base, sizeof(rec->base), "%s", base);
		snprintf(rec->filter, sizeof(rec->filter), "%s", filter);
		rec->scope = scope;
		rec->sizelimit = sizelimit;
		rec->timeout_ms = timeout != NULL ? (long)timeout->tv_sec * 1000 + (long)timeout->tv_usec / 1000 : -1;
	}
	fl.ns++;
	rc = fl_begin(FL_SEARCH, base);
	/* like libldap: the result message comes back whatever the result code */
	*res = head;
	if (rc == LDAP_SUCCESS && ld->bound == 0)
		rc = LDAP_OPERATIONS_ERROR;
	if (rc == LDAP_SUCCESS && fl_find(base) == NULL)
		rc = LDAP_NO_SUCH_OBJECT;
	for (size_t i = 0; rc == LDAP_SUCCESS && i < fl.n; i++) {
		const struct fl_entry *e = &fl.e[i];
		struct ldapmsg *m;

		if (scope == LDAP_SCOPE_BASE ? strcasecmp(e->dn, base) != 0 :
		    e->dn[0] == '\0' || !fl_under(e->dn, base) ||
		    (scope == LDAP_SCOPE_ONELEVEL && strcasecmp(e->dn, base) == 0))
			continue;
		if (!fl_match(e, filter))
			continue;
		if (sizelimit > 0 && k == (size_t)sizelimit) {
			rc = LDAP_SIZELIMIT_EXCEEDED;
			break;
		}
		m = fl_msg_new(false);
		fl_entry_copy(&m->e, e, attrs);
		/* "1.1": no attributes */
		if (attrs != NULL && attrs[0] != NULL && strcmp(attrs[0], "1.1") == 0)
			for (size_t a = m->e.na; a > 0; a--)
				fl_entry_drop_attr(&m->e, &m->e.a[a - 1]);
		*tail = m;
		tail = &m->next;
		k++;
	}
	if (rec != NULL) {
		rec->rc = rc;
		rec->nentries = k;
	}
	return rc;
}

static int
fl_msgfree(LDAPMessage *lm)
{
	while (lm != NULL) {
		LDAPMessage *next = lm->next;

		fl_entry_free(&lm->e);
		free(lm);
		lm = next;
	}
	return LDAP_RES_SEARCH_RESULT;
}

static LDAPMessage *
fl_first_entry(LDAP *ld, LDAPMessage *chain)
{
	(void)ld;
	assert_non_null(chain);
	assert_true(chain->head);
	return chain->next;
}

static LDAPMessage *
fl_next_entry(LDAP *ld, LDAPMessage *entry)
{
	(void)ld;
	assert_non_null(entry);
	assert_false(entry->head);
	return entry->next;
}

static int
fl_count_entries(LDAP *ld, LDAPMessage *chain)
{
	int k = 0;

	(void)ld;
	if (chain == NULL)
		return -1;
	for (LDAPMessage *m = chain->next; m != NULL; m = m->next)
		k++;
	return k;
}

static char *
fl_get_dn(LDAP *ld, LDAPMessage *entry)
{
	(void)ld;
	assert_false(entry->head);
	return fl_strdup(entry->e.dn);
}

static void
fl_memfree(void *p)
{
	free(p);
}

static struct berval **
fl_get_values_len(LDAP *ld, LDAPMessage *entry, const char *target)
{
	const struct fl_attr *a;
	struct berval **v;

	(void)ld;
	assert_false(entry->head);
	a = fl_attr_of(&entry->e, target);
	if (a == NULL)
		return NULL;
	v = calloc(a->n + 1, sizeof(*v));
	assert_non_null(v);
	for (size_t k = 0; k < a->n; k++) {
		v[k] = malloc(sizeof(**v));
		assert_non_null(v[k]);
		v[k]->bv_val = fl_strdup(a->v[k]);
		v[k]->bv_len = strlen(a->v[k]);
	}
	return v;
}

static void
fl_value_free_len(struct berval **vals)
{
	for (size_t k = 0; vals != NULL && vals[k] != NULL; k++) {
		free(vals[k]->bv_val);
		free(vals[k]);
	}
	free(vals);
}

/* The values of one LDAPMod (subid writes strings). */
static inline char **
fl_mod_values(const LDAPMod *m)
{
	assert_int_equal(m->mod_op & LDAP_MOD_BVALUES, 0);
	return m->mod_vals.modv_strvals;
}

/* The parent of dn: after its first comma ("" for a naming context). */
static inline const char *
fl_parent(const char *dn)
{
	const char *c = strchr(dn, ',');

	return c != NULL ? c + 1 : "";
}

static int
fl_add_ext_s(LDAP *ld, const char *dn, LDAPMod **attrs, LDAPControl **sctrls, LDAPControl **cctrls)
{
	int rc = fl_begin(FL_ADD, dn);
	struct fl_entry *e;

	(void)sctrls;
	(void)cctrls;
	if (rc == LDAP_SUCCESS)
		rc = fl_write_check(ld);
	if (rc != LDAP_SUCCESS)
		return rc;
	if (fl_find(dn) != NULL)
		return LDAP_ALREADY_EXISTS;
	if (*fl_parent(dn) != '\0' && fl_find(fl_parent(dn)) == NULL)
		return LDAP_NO_SUCH_OBJECT;
	e = fl_new_entry(dn);
	for (size_t i = 0; attrs[i] != NULL; i++) {
		char **v = fl_mod_values(attrs[i]);

		assert_int_equal(attrs[i]->mod_op & ~LDAP_MOD_BVALUES, LDAP_MOD_ADD);
		for (size_t k = 0; v != NULL && v[k] != NULL; k++)
			fl_entry_add_value(e, attrs[i]->mod_type, v[k]);
	}
	if (!fl_schema_ok(e)) {
		fl_remove(dn);
		return LDAP_CONSTRAINT_VIOLATION;
	}
	return LDAP_SUCCESS;
}

static int
fl_modify_ext_s(LDAP *ld, const char *dn, LDAPMod **mods, LDAPControl **sctrls, LDAPControl **cctrls)
{
	int rc = fl_begin(FL_MODIFY, dn);
	struct fl_entry *e, work;

	(void)sctrls;
	(void)cctrls;
	if (rc == LDAP_SUCCESS)
		rc = fl_write_check(ld);
	if (rc != LDAP_SUCCESS)
		return rc;
	if ((e = fl_find(dn)) == NULL)
		return LDAP_NO_SUCH_OBJECT;
	/* all or nothing: the mods go to a copy, which replaces the entry only when every one applied */
	fl_entry_copy(&work, e, NULL);
	for (size_t i = 0; mods[i] != NULL && rc == LDAP_SUCCESS; i++) {
		const char *type = mods[i]->mod_type;
		char **v = fl_mod_values(mods[i]);
		struct fl_attr *a;

		switch (mods[i]->mod_op & ~LDAP_MOD_BVALUES) {
		case LDAP_MOD_ADD:
			for (size_t k = 0; v != NULL && v[k] != NULL && rc == LDAP_SUCCESS; k++)
				if (!fl_entry_add_value(&work, type, v[k]))
					rc = LDAP_TYPE_OR_VALUE_EXISTS;
			break;
		case LDAP_MOD_DELETE:
			if (v == NULL || v[0] == NULL) {
				if ((a = fl_attr_of(&work, type)) == NULL)
					rc = LDAP_NO_SUCH_ATTRIBUTE;
				else
					fl_entry_drop_attr(&work, a);
			}
			for (size_t k = 0; v != NULL && v[k] != NULL && rc == LDAP_SUCCESS; k++)
				if (!fl_entry_del_value(&work, type, v[k]))
					rc = LDAP_NO_SUCH_ATTRIBUTE;
			break;
		case LDAP_MOD_REPLACE:
			if ((a = fl_attr_of(&work, type)) != NULL)
				fl_entry_drop_attr(&work, a);
			for (size_t k = 0; v != NULL && v[k] != NULL; k++)
				fl_entry_add_value(&work, type, v[k]);
			break;
		default:
			fail_msg("fake ldap: modify op %d", mods[i]->mod_op);
		}
	}
	if (rc == LDAP_SUCCESS && !fl_schema_ok(&work))
		rc = LDAP_CONSTRAINT_VIOLATION;
	if (rc != LDAP_SUCCESS) {
		fl_entry_free(&work);
		return rc;
	}
	fl_entry_free(e);
	*e = work;
	return LDAP_SUCCESS;
}

static int
fl_delete_ext_s(LDAP *ld, const char *dn, LDAPControl **sctrls, LDAPControl **cctrls)
{
	int rc = fl_begin(FL_DELETE, dn);

	(void)sctrls;
	(void)cctrls;
	if (rc == LDAP_SUCCESS)
		rc = fl_write_check(ld);
	if (rc != LDAP_SUCCESS)
		return rc;
	if (fl_find(dn) == NULL)
		return LDAP_NO_SUCH_OBJECT;
	for (size_t i = 0; i < fl.n; i++)
		if (strcasecmp(fl.e[i].dn, dn) != 0 && fl_under(fl.e[i].dn, dn))
			return LDAP_NOT_ALLOWED_ON_NONLEAF;
	fl_remove(dn);
	return LDAP_SUCCESS;
}

static char *
fl_err2string(int err)
{
	static char other[32];

	switch (err) {
	case LDAP_SUCCESS: return "Success";
	case LDAP_SERVER_DOWN: return "Can't contact LDAP server";
	case LDAP_TIMEOUT: return "Timed out";
	case LDAP_CONNECT_ERROR: return "Connect error";
	case LDAP_INVALID_CREDENTIALS: return "Invalid credentials";
	case LDAP_INSUFFICIENT_ACCESS: return "Insufficient access";
	case LDAP_NO_SUCH_OBJECT: return "No such object";
	case LDAP_ALREADY_EXISTS: return "Already exists";
	case LDAP_UNAVAILABLE: return "Server is unavailable";
	case LDAP_BUSY: return "Server is busy";
	default:
		snprintf(other, sizeof(other), "fake ldap error %d", err);
		return other;
	}
}

static int
fl_bv2escaped_filter_value(struct berval *in, struct berval *out)
{
	char *p = malloc(in->bv_len * 3 + 1);
	size_t n = 0;

	assert_non_null(p);
	for (size_t i = 0; i < in->bv_len; i++) {
		unsigned char c = (unsigned char)in->bv_val[i];

		if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0')
			n += (size_t)sprintf(p + n, "\\%02x", c);
		else
			p[n++] = (char)c;
	}
	p[n] = '\0';
	out->bv_val = p;
	out->bv_len = n;
	return 0;
}

/* ---- the dlopen/dlsym seam ------------------------------------------------------------ */

#define FL_FUNCS(X) \
	X(add_ext_s) X(bv2escaped_filter_value) X(count_entries) X(delete_ext_s) X(err2string) \
	X(first_entry) X(get_dn) X(get_values_len) X(initialize) X(memfree) X(modify_ext_s) X(msgfree) \
	X(next_entry) X(sasl_bind_s) X(search_ext_s) X(set_option) X(start_tls_s) X(unbind_ext_s) \
	X(value_free_len)

/* every fake has exactly libldap's prototype */
#define X(f) _Static_assert(__builtin_types_compatible_p(__typeof__(ldap_##f), __typeof__(fl_##f)), \
			    "fl_" #f " does not match ldap_" #f);
FL_FUNCS(X)
#undef X

void *__real_dlopen(const char *file, int flags);
void *__wrap_dlopen(const char *file, int flags);
void *__real_dlsym(void *handle, const char *name);
void *__wrap_dlsym(void *handle, const char *name);

void *
__wrap_dlopen(const char *file, int flags)
{
	if (file == NULL || strcmp(file, SUBID_LDAP_SONAME) != 0)
		return __real_dlopen(file, flags);
	fl_dlopen_total++;
	return fl.dlopen_fails ? NULL : &fl_handle;
}

void *
__wrap_dlsym(void *handle, const char *name)
{
	static const struct {
		const char *name;
		void *fn;
	} syms[] = {
#define X(f) { "ldap_" #f, (void *)fl_##f },
		FL_FUNCS(X)
#undef X
	};

	if (handle != &fl_handle)
		return __real_dlsym(handle, name);
	if (fl.missing_sym != NULL && strcmp(name, fl.missing_sym) == 0)
		return NULL;
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		if (strcmp(syms[i].name, name) == 0)
			return syms[i].fn;
	return NULL;
}

/* ---- a standard directory ------------------------------------------------------------- */

#define FL_SUFFIX "dc=example,dc=org"
#define FL_BASE "ou=subid," FL_SUFFIX
#define FL_PEOPLE "ou=people," FL_SUFFIX
#define FL_ALLOC "cn=allocator," FL_BASE

/* The root DSE, the suffix, ou=subid for the entries and ou=people for posixAccounts. */
static inline void
fl_standard(void)
{
	fl_add("", "objectClass", "top", "namingContexts", FL_SUFFIX, NULL);
	fl_add(FL_SUFFIX, "objectClass", "dcObject", "dc", "example", NULL);
	fl_add(FL_BASE, "objectClass", "organizationalUnit", "ou", "subid", NULL);
	fl_add(FL_PEOPLE, "objectClass", "organizationalUnit", "ou", "people", NULL);
}

/* A posixAccount uid=<name>,ou=people with this uidNumber. */
static inline void
fl_add_account(const char *name, uid_t uid)
{
	char dn[256], num[16];

	snprintf(dn, sizeof(dn), "uid=%s," FL_PEOPLE, name);
	snprintf(num, sizeof(num), "%u", (unsigned)uid);
	fl_add(dn, "objectClass", "posixAccount", "uid", name, "uidNumber", num, NULL);
}

/*
 * An sssd-map entry cn=<rdn>,ou=subid for uid: as subid writes them, or by
 * hand (rdn other than the uid, ranges anywhere).
 */
static inline void
fl_add_ranges(const char *rdn, uid_t uid, const char *name, uint64_t ustart, uint64_t ucount, uint64_t gstart,
	      uint64_t gcount)
{
	char dn[256], us[24], uc[24], gs[24], gc[24], un[16];

	snprintf(dn, sizeof(dn), "cn=%s," FL_BASE, rdn);
	snprintf(us, sizeof(us), "%" PRIu64, ustart);
	snprintf(uc, sizeof(uc), "%" PRIu64, ucount);
	snprintf(gs, sizeof(gs), "%" PRIu64, gstart);
	snprintf(gc, sizeof(gc), "%" PRIu64, gcount);
	snprintf(un, sizeof(un), "%u", (unsigned)uid);
	fl_add(dn, "objectClass", "subordinateIdEntry", "cn", rdn, "uidNumber", un, "subUidNumber", us,
	       "subUidCount", uc, "subGidNumber", gs, "subGidCount", gc, NULL);
	if (name != NULL)
		fl_entry_add_value(fl_find(dn), "uid", name);
}

/* The DN subid gives uid's entry in the sssd map. */
static inline const char *
fl_entry_dn(uid_t uid)
{
	static char dn[128];

	snprintf(dn, sizeof(dn), "cn=%u," FL_BASE, (unsigned)uid);
	return dn;
}

/* The DN of the claim of the slot at start. */
static inline const char *
fl_claim_dn(uint64_t start)
{
	static char dn[128];

	snprintf(dn, sizeof(dn), "cn=%" PRIu64 "," FL_ALLOC, start);
	return dn;
}

#endif
