/*
 * subidctl check and reclaim.  check reports, one "problem: ..." line each:
 *   - the config refused, the store or its directory unsafe or unreadable;
 *   - two owners' ranges that overlap (store rows of any kind, and store
 *     rows against /etc/subuid and /etc/subgid lines of other owners; file
 *     lines of one kind against each other);
 *   - store ranges over reserved intervals, login.defs' real IDs, or the UID
 *     (GID) of an account NSS lists;
 *   - owners whose UID no longer resolves (orphans, see reclaim);
 *   - file lines over a stored range whose owner string names another
 *     account than the store's owner, or no account (stale: renamed or
 *     deleted owners), and owners of digits that are also a user's name;
 *   - a plugin that would not be used: no "subid: subid" in nsswitch.conf,
 *     libsubid_subid.so not found by the dynamic linker or missing a
 *     symbol, /etc/subuid or /etc/subgid missing.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "subid_files.h"
#include "subid_index.h"
#include "subid_user.h"
#include "subidctl.h"

#define NSSWITCH_PATH "/etc/nsswitch.conf"
#define PLUGIN_SONAME "libsubid_subid.so"

struct report {
	size_t problems;
	bool error;		/* could not check something: exit 2 */
};

__attribute__((format(printf, 2, 3))) static void
problem(struct report *r, const char *fmt, ...)
{
	va_list ap;

	fputs("problem: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	r->problems++;
}

static const char *
kind_word(enum subid_kind k)
{
	return k == SUBID_KIND_UID ? "subuid" : "subgid";
}

/* ---- the store's files ------------------------------------------------------------- */

/*
 * path must be root's (trusted_uid) and writable by nobody else; the index
 * readable by all, the writer store and its directory by nobody else.
 */
enum access { ANY, READABLE, PRIVATE };

static void
check_file_mode(struct ctl *c, struct report *r, const char *what, const char *path, enum access want)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			problem(r, "%s %s: cannot stat: %s", what, path, strerror(errno));
		return;
	}
	if (st.st_uid != c->paths.trusted_uid)
		problem(r, "%s %s: owned by uid %u, not %u (only root may write it)", what, path,
			(unsigned)st.st_uid, (unsigned)c->paths.trusted_uid);
	if ((st.st_mode & 022) != 0)
		problem(r, "%s %s: mode %04o is writable by group or others", what, path,
			(unsigned)(st.st_mode & 07777));
	if (want == READABLE && (st.st_mode & 0444) != 0444)
		problem(r, "%s %s: mode %04o; users' getsubids and podman need to read it", what, path,
			(unsigned)(st.st_mode & 07777));
	if (want == PRIVATE && (st.st_mode & 077) != 0)
		problem(r, "%s %s: mode %04o; only root may open it (a user holding a lock on it would stall "
			"logins); the next write makes it so", what, path, (unsigned)(st.st_mode & 07777));
}

static void
check_parent(struct ctl *c, struct report *r, const char *what, const char *path, enum access want)
{
	char *dir = strdup(path), *slash;

	if (dir == NULL) {
		r->error = true;
		return;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		check_file_mode(c, r, what, dir, want);
	}
	free(dir);
}

/* The writer store (root's alone) and the read index (everyone's to read, the store's own). */
static void
check_store_files(struct ctl *c, struct report *r)
{
	struct subid_index *ix = NULL;
	struct stat st;
	char why[200];
	int64_t gen;
	int rc;

	check_parent(c, r, "store directory", c->cfg.db_path, PRIVATE);
	if (lstat(c->cfg.db_path, &st) == 0 && !S_ISREG(st.st_mode))
		problem(r, "store %s: not a regular file", c->cfg.db_path);
	else
		check_file_mode(c, r, "store", c->cfg.db_path, PRIVATE);
	check_parent(c, r, "index directory", c->cfg.index_path, READABLE);
	check_file_mode(c, r, "index", c->cfg.index_path, READABLE);
	rc = subid_index_open(&ix, c->cfg.index_path, c->paths.trusted_uid, &c->log);
	if (rc == SUBID_ERR) {
		problem(r, "index %s: refused (see the message above); the plugin serves nothing from the store "
			"until a write publishes it again (\"subidctl reindex\")", c->cfg.index_path);
		return;
	}
	rc = subid_store_generation_at(c->cfg.db_path, c->paths.trusted_uid, &c->log, &gen);
	if (ix == NULL) {
		if (rc == SUBID_OK && gen > 0)
			problem(r, "index %s: missing; the plugin serves nothing from the store until a write "
				"publishes it (\"subidctl reindex\")", c->cfg.index_path);
		return;
	}
	if (subid_index_verify(ix, why, sizeof(why)) != SUBID_OK)
		problem(r, "index %s: damaged: %s; \"subidctl reindex\" publishes it again", c->cfg.index_path, why);
	else if (rc == SUBID_OK && (uint64_t)gen != subid_index_generation(ix))
		problem(r, "index %s: generation %llu, the store's is %lld (a writer stopped between its commit "
			"and its publish); the next write, or \"subidctl reindex\", publishes it again",
			c->cfg.index_path, (unsigned long long)subid_index_generation(ix), (long long)gen);
	subid_index_close(ix);
}

/* ---- overlaps ------------------------------------------------------------------------ */

struct item {
	uint64_t start, end;
	long long owner;	/* uid, or -1 - index into names for an owner NSS does not know */
	const char *label;	/* owner as shown */
	int src;		/* 0 store, 1 /etc/subuid, 2 /etc/subgid */
	enum subid_kind kind;
};

/* Is the pair worth reporting?  Different owners, and not two file lines of different kinds. */
static bool
conflicting(const struct item *a, const struct item *b)
{
	if (a->owner == b->owner)
		return false;
	if (a->src != 0 && b->src != 0 && a->src != b->src)
		return false;
	return true;
}

static const char *
src_word(const struct item *it, const struct ctl *c)
{
	return it->src == 0 ? "store" : it->src == 1 ? c->paths.subuid : c->paths.subgid;
}

struct overlap_ctx {
	struct ctl *c;
	struct report *r;
	const struct item *v;
};

static int
overlap_found(size_t ia, size_t ib, void *ctx)
{
	const struct overlap_ctx *x = ctx;
	const struct item *a = &x->v[ia], *b = &x->v[ib];

	if (conflicting(a, b))
		problem(x->r, "overlap: %s %s [%" PRIu64 ", %" PRIu64 ") of %s and %s %s [%" PRIu64 ", %" PRIu64
			") of %s", src_word(a, x->c), kind_word(a->kind), a->start, a->end, a->label,
			src_word(b, x->c), kind_word(b->kind), b->start, b->end, b->label);
	return 0;
}

/* Every pair of ranges that overlaps, once. */
static int
report_overlaps(struct ctl *c, struct report *r, const struct item *v, size_t n)
{
	struct overlap_ctx x = { c, r, v };
	struct subid_interval *iv = calloc(n + 1, sizeof(*iv));
	int rc;

	if (iv == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		iv[i] = (struct subid_interval){ v[i].start, v[i].end };
	rc = subid_intervals_each_overlap(iv, n, overlap_found, &x);
	free(iv);
	return rc;
}

#define OWNER_UNKNOWN LLONG_MIN	/* add_file_items(): NSS does not know the line's owner */

static int
add_file_items(struct ctl *c, const char *path, int src, struct item **v, size_t *n, struct subid_file *f)
{
	struct item *nv;

	if (subid_file_load(path, f, &c->log) != 0)
		return -1;
	nv = realloc(*v, (*n + f->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	*v = nv;
	for (size_t i = 0; i < f->n; i++) {
		struct subid_user u;
		struct item *it = &nv[(*n)++];
		int rc = subid_user_line_owner(f->v[i].owner, &u);

		it->start = f->v[i].start;
		it->end = f->v[i].start + f->v[i].count;
		it->src = src;
		it->kind = src == 1 ? SUBID_KIND_UID : SUBID_KIND_GID;
		it->label = f->v[i].owner;
		it->owner = rc == 0 ? (long long)u.uid : OWNER_UNKNOWN;
		if (rc == 0)
			subid_user_free(&u);
	}
	return 0;
}

static int
label_cmp(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a, *y = *(const struct item *const *)b;

	return strcmp(x->label, y->label);
}

/*
 * Lines whose owner NSS does not know: the same name is the same owner,
 * numbered -1, -2, ... (never a uid).  Sorted by name, not compared pairwise:
 * a file of many orphaned lines stays O(n log n).
 */
static int
number_unknown_owners(struct item *v, size_t n)
{
	struct item **u = calloc(n + 1, sizeof(*u));
	size_t nu = 0;
	long long id = 0;

	if (u == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (v[i].owner == OWNER_UNKNOWN)
			u[nu++] = &v[i];
	qsort(u, nu, sizeof(*u), label_cmp);
	for (size_t i = 0; i < nu; i++) {
		if (i == 0 || strcmp(u[i - 1]->label, u[i]->label) != 0)
			id--;
		u[i]->owner = id;
	}
	free(u);
	return 0;
}

/* ---- real IDs --------------------------------------------------------------------- */

/* The store row of kind containing id, by binary search over rows sorted by start; NULL if none. */
static const struct subid_row *
row_containing(struct subid_row **sorted, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;

		if (sorted[m]->range.start <= id)
			lo = m + 1;
		else
			hi = m;
	}
	if (lo == 0)
		return NULL;
	if (id - sorted[lo - 1]->range.start < sorted[lo - 1]->range.count)
		return sorted[lo - 1];
	return NULL;
}

static int
row_ptr_cmp(const void *a, const void *b)
{
	const struct subid_row *x = *(struct subid_row *const *)a, *y = *(struct subid_row *const *)b;

	return x->range.start < y->range.start ? -1 : x->range.start > y->range.start ? 1 : 0;
}

static int
check_real_ids(struct ctl *c, struct report *r, const struct row_vec *rows)
{
	struct subid_row **by[3] = { NULL, NULL, NULL };
	size_t nby[3] = { 0, 0, 0 };
	struct passwd *pw;
	struct group *gr;

	for (int k = SUBID_KIND_UID; k <= SUBID_KIND_GID; k++) {
		by[k] = calloc(rows->n + 1, sizeof(*by[k]));
		if (by[k] == NULL) {
			free(by[SUBID_KIND_UID]);
			return -1;
		}
	}
	for (size_t i = 0; i < rows->n; i++)
		by[rows->v[i].kind][nby[rows->v[i].kind]++] = &rows->v[i];
	for (int k = SUBID_KIND_UID; k <= SUBID_KIND_GID; k++)
		qsort(by[k], nby[k], sizeof(*by[k]), row_ptr_cmp);

	for (size_t i = 0; i < rows->n; i++) {
		const struct subid_row *w = &rows->v[i];
		struct subid_interval wi = { w->range.start, w->range.start + w->range.count }, iv;
		bool is_real;

		for (size_t pos = 0; subid_config_forbidden_next(&c->cfg, &pos, &iv, &is_real);) {
			if (!subid_interval_overlap(&wi, &iv))
				continue;
			if (is_real)
				problem(r, "real IDs: uid %u's %s [%" PRIu64 ", %" PRIu64 ") overlaps the IDs of real "
					"accounts [%" PRIu64 ", %" PRIu64 "] (login.defs)", (unsigned)w->uid,
					kind_word(w->kind), wi.start, wi.end, iv.start, iv.end - 1);
			else
				problem(r, "reserved: uid %u's %s [%" PRIu64 ", %" PRIu64 ") overlaps the reserved "
					"interval %" PRIu64 "-%" PRIu64, (unsigned)w->uid, kind_word(w->kind),
					wi.start, wi.end, iv.start, iv.end - 1);
		}
	}
	/* every account and group NSS lists (directory back-ends may list only what they cached) */
	setpwent();
	while ((pw = getpwent()) != NULL) {
		const struct subid_row *w = row_containing(by[SUBID_KIND_UID], nby[SUBID_KIND_UID], pw->pw_uid);

		if (w != NULL)
			problem(r, "real IDs: the UID %u of account %s is inside uid %u's subuid range [%" PRIu64
				", %" PRIu64 ")", (unsigned)pw->pw_uid, pw->pw_name, (unsigned)w->uid, w->range.start,
				w->range.start + w->range.count);
	}
	endpwent();
	setgrent();
	while ((gr = getgrent()) != NULL) {
		const struct subid_row *w = row_containing(by[SUBID_KIND_GID], nby[SUBID_KIND_GID], gr->gr_gid);

		if (w != NULL)
			problem(r, "real IDs: the GID %u of group %s is inside uid %u's subgid range [%" PRIu64
				", %" PRIu64 ")", (unsigned)gr->gr_gid, gr->gr_name, (unsigned)w->uid, w->range.start,
				w->range.start + w->range.count);
	}
	endgrent();
	free(by[SUBID_KIND_UID]);
	free(by[SUBID_KIND_GID]);
	return 0;
}

/* ---- file lines and the accounts they name ---------------------------------------------- */

/*
 * Lines of /etc/subuid and /etc/subgid that a later account could take:
 * a line over a stored range whose owner string does not name the store's
 * owner any more (the mirror wrote it before a rename or a deletion: a new
 * account of that name would be given the IDs by Docker, LXC and shadow's
 * files back-end), and an owner of digits that is also an account's name
 * (shadow would give the line to both accounts).
 */
static int
check_line_owners(struct report *r, const struct row_vec *rows, const char *path, enum subid_kind kind,
		  const struct subid_file *f)
{
	struct subid_row **by = calloc(rows->n + 1, sizeof(*by));
	size_t nby = 0;
	int ret = 0;

	if (by == NULL)
		return -1;
	for (size_t i = 0; i < rows->n; i++)
		if (rows->v[i].kind == kind)
			by[nby++] = &rows->v[i];
	qsort(by, nby, sizeof(*by), row_ptr_cmp);
	for (size_t i = 0; i < f->n && ret == 0; i++) {
		const struct subid_file_entry *e = &f->v[i];
		uint64_t end = e->start + e->count;
		struct subid_user w = { 0, 0, NULL }, named = { 0, 0, NULL };
		char safe[SUBID_LOG_STR_MAX];
		size_t lo = 0, hi = nby;
		int rc = subid_user_line_owner(e->owner, &w);

		if (rc < 0) {
			ret = -1;
			break;
		}
		subid_log_str(e->owner, safe, sizeof(safe));
		/* the rows of one kind never overlap: walk back from the last one starting below end */
		while (lo < hi) {
			size_t m = lo + (hi - lo) / 2;

			if (by[m]->range.start < end)
				lo = m + 1;
			else
				hi = m;
		}
		for (size_t j = lo; j > 0 && by[j - 1]->range.start + by[j - 1]->range.count > e->start; j--) {
			const struct subid_row *row = by[j - 1];

			if (rc == 0 && w.uid == row->uid)
				continue;
			if (rc == 0)
				problem(r, "stale line: %s line %s:%" PRIu64 ":%" PRIu64 " is over the %s range of uid %u "
					"in the store, but %s now names uid %u, who would be given it by the programs "
					"that read %s", path, safe, e->start, e->count, kind_word(kind),
					(unsigned)row->uid, safe, (unsigned)w.uid, path);
			else
				problem(r, "stale line: %s line %s:%" PRIu64 ":%" PRIu64 " is over the %s range of uid %u "
					"in the store, but no account is named %s now: a new account of that name would "
					"be given it", path, safe, e->start, e->count, kind_word(kind),
					(unsigned)row->uid, safe);
		}
		if (subid_name_is_numeric(e->owner)) {
			int nrc = subid_user_lookup(e->owner, false, &named);

			if (nrc < 0)
				ret = -1;
			else if (nrc == 0 && (rc != 0 || named.uid != w.uid))
				problem(r, "ambiguous line: %s line %s:%" PRIu64 ":%" PRIu64 ": %s is UID %s and also the "
					"name of uid %u; shadow's files back-end gives the line to both", path, safe,
					e->start, e->count, safe, safe, (unsigned)named.uid);
			subid_user_free(&named);
		}
		subid_user_free(&w);
	}
	free(by);
	return ret;
}

/* ---- orphans --------------------------------------------------------------------------- */

/* Calls fn for each owner (once) whose uid NSS no longer knows.  -1 on lookup errors. */
static int
for_each_orphan(const struct row_vec *rows, void (*fn)(const struct subid_row *row, void *ctx), void *ctx)
{
	for (size_t i = 0; i < rows->n; i++) {
		struct subid_user u;
		int rc;

		if (i > 0 && rows->v[i - 1].uid == rows->v[i].uid)
			continue;
		rc = subid_user_lookup_uid(rows->v[i].uid, &u);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			subid_user_free(&u);
			continue;
		}
		fn(&rows->v[i], ctx);
	}
	return 0;
}

static void
orphan_problem(const struct subid_row *row, void *ctx)
{
	problem(ctx, "orphan: uid %u (%s) no longer resolves; \"subidctl reclaim\" releases its ranges",
		(unsigned)row->uid, row->name != NULL ? row->name : "no name");
}

/* ---- the plugin ---------------------------------------------------------------------- */

static void
check_nsswitch(struct report *r)
{
	FILE *fp = fopen(NSSWITCH_PATH, "re");
	char line[1024];
	bool found = false;

	if (fp == NULL) {
		problem(r, "plugin: cannot read %s: %s", NSSWITCH_PATH, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = line + strspn(line, " \t"), *svc;

		if (strncmp(p, "subid:", 6) != 0)
			continue;
		found = true;
		p[strcspn(p, "#\n")] = '\0';
		svc = strtok(p + 6, " \t");
		if (svc == NULL || strcmp(svc, "subid") != 0)
			problem(r, "plugin: %s says \"subid:%s%s\"; libsubid uses one service, and it is not "
				"\"subid\"", NSSWITCH_PATH, svc != NULL ? " " : "", svc != NULL ? svc : "");
		break;
	}
	fclose(fp);
	if (!found)
		problem(r, "plugin: no \"subid: subid\" line in %s; libsubid reads /etc/subuid and /etc/subgid "
			"only", NSSWITCH_PATH);
}

static void
check_plugin_loads(struct report *r)
{
	static const char *const syms[] = {
		"shadow_subid_has_range", "shadow_subid_list_owner_ranges",
		"shadow_subid_find_subid_owners", "shadow_subid_free",
	};
	/* by bare name, the way libsubid opens it: the dynamic linker's path and cache decide */
	void *h = dlopen(PLUGIN_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		const char *e = dlerror();

		problem(r, "plugin: the dynamic linker does not find %s (%s)", PLUGIN_SONAME, e != NULL ? e : "?");
		return;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		if (dlsym(h, syms[i]) == NULL)
			problem(r, "plugin: %s has no %s", PLUGIN_SONAME, syms[i]);
	dlclose(h);
}

static void
check_shadow_files(struct ctl *c, struct report *r)
{
	const char *f[] = { c->paths.subuid, c->paths.subgid };
	struct stat st;

	for (size_t i = 0; i < 2; i++)
		if (stat(f[i], &st) != 0)
			problem(r, "files: %s: %s; useradd and shadow's tools expect it (an empty file will do)", f[i],
				strerror(errno));
}

/* ---- the commands ---------------------------------------------------------------------- */

int
cmd_check(struct ctl *c)
{
	struct report r = { 0, false };
	struct row_vec rows = { NULL, 0, 0 };
	struct subid_file fu = { NULL, 0, 0 }, fg = { NULL, 0, 0 };
	struct item *items = NULL;
	size_t nitems = 0;

	if (!c->cfg_loaded) {
		problem(&r, "config: %s refused (see the message above); nothing else of subid's works", c->paths.conf);
		goto plugin;
	}
	check_store_files(c, &r);
	if (ctl_rows(c, &rows) != 0) {
		problem(&r, "store: %s cannot be read (see the message above)", c->cfg.db_path);
		goto plugin;
	}
	items = calloc(rows.n + 1, sizeof(*items));
	if (items == NULL)
		goto oom;
	for (size_t i = 0; i < rows.n; i++) {
		struct item *it = &items[nitems++];

		it->start = rows.v[i].range.start;
		it->end = rows.v[i].range.start + rows.v[i].range.count;
		it->owner = rows.v[i].uid;
		it->label = rows.v[i].name != NULL ? rows.v[i].name : "?";
		it->src = 0;
		it->kind = rows.v[i].kind;
	}
	if (add_file_items(c, c->paths.subuid, 1, &items, &nitems, &fu) != 0 ||
	    add_file_items(c, c->paths.subgid, 2, &items, &nitems, &fg) != 0 || number_unknown_owners(items, nitems) != 0 ||
	    report_overlaps(c, &r, items, nitems) != 0 || check_real_ids(c, &r, &rows) != 0)
		goto oom;
	if (check_line_owners(&r, &rows, c->paths.subuid, SUBID_KIND_UID, &fu) != 0 ||
	    check_line_owners(&r, &rows, c->paths.subgid, SUBID_KIND_GID, &fg) != 0) {
		fprintf(stderr, "subidctl: user lookups failed; file lines not checked against accounts\n");
		r.error = true;
	}
	if (for_each_orphan(&rows, orphan_problem, &r) != 0) {
		fprintf(stderr, "subidctl: user lookups failed; orphans not checked\n");
		r.error = true;
	}
plugin:
	check_nsswitch(&r);
	check_plugin_loads(&r);
	check_shadow_files(c, &r);
	goto out;
oom:
	fprintf(stderr, "subidctl: out of memory or unreadable files\n");
	r.error = true;
out:
	free(items);
	subid_file_free(&fu);
	subid_file_free(&fg);
	ctl_rows_free(&rows);
	printf("check: %zu problem%s\n", r.problems, r.problems == 1 ? "" : "s");
	if (r.error)
		return EXIT_ERROR;
	return r.problems > 0 ? EXIT_NONE : EXIT_DONE;
}

struct orphans {
	uid_t *uid;
	char **name;
	size_t n, cap;
	bool oom;
};

static void
collect_orphan(const struct subid_row *row, void *vctx)
{
	struct orphans *o = vctx;

	if (o->oom)
		return;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		uid_t *nu = realloc(o->uid, cap * sizeof(*nu));
		char **nn = nu != NULL ? realloc(o->name, cap * sizeof(*nn)) : NULL;

		if (nu != NULL)
			o->uid = nu;
		if (nn != NULL)
			o->name = nn;
		if (nu == NULL || nn == NULL) {
			o->oom = true;
			return;
		}
		o->cap = cap;
	}
	o->uid[o->n] = row->uid;
	o->name[o->n] = strdup(row->name != NULL ? row->name : "no name");
	if (o->name[o->n] == NULL)
		o->oom = true;
	o->n++;
}

int
cmd_reclaim(struct ctl *c, bool yes)
{
	struct row_vec rows = { NULL, 0, 0 };
	struct orphans o = { NULL, NULL, 0, 0, false };
	char safe[SUBID_LOG_STR_MAX];
	size_t failed = 0;
	int rc;

	if (ctl_rows(c, &rows) != 0)
		return EXIT_ERROR;
	/* all lookups first: a back-end failing half-way must not release anything */
	rc = for_each_orphan(&rows, collect_orphan, &o);
	ctl_rows_free(&rows);
	if (rc != 0 || o.oom) {
		fprintf(stderr, "subidctl: %s; nothing reclaimed\n", o.oom ? "out of memory" : "user lookups failed");
		rc = EXIT_ERROR;
		goto out;
	}
	if (!yes) {
		for (size_t i = 0; i < o.n; i++)
			printf("would release uid %u (%s)\n", (unsigned)o.uid[i],
			       subid_log_str(o.name[i], safe, sizeof(safe)));
	} else if (o.n > 0) {
		bool *done = calloc(o.n, sizeof(*done));
		size_t released = 0;

		if (done == NULL || subid_core_release_many(&c->cfg, &c->paths, o.uid, o.n, &c->log, &released,
							    done) != 0)
			failed = o.n;
		for (size_t i = 0; done != NULL && i < o.n; i++)
			if (done[i])
				printf("released uid %u (%s)\n", (unsigned)o.uid[i],
				       subid_log_str(o.name[i], safe, sizeof(safe)));
		free(done);
	}
	if (o.n == 0)
		printf("no orphans\n");
	else if (!yes)
		printf("%zu orphan%s; \"subidctl reclaim --yes\" releases %s\n", o.n, o.n == 1 ? "" : "s",
		       o.n == 1 ? "it" : "them");
	rc = failed > 0 ? EXIT_ERROR : EXIT_DONE;
out:
	for (size_t i = 0; i < o.n; i++)
		free(o.name[i]);
	free(o.name);
	free(o.uid);
	return rc;
}
