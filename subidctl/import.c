/*
 * subidctl import: take over allocations made in shadow's files (useradd,
 * by hand) into the local store, so that the store knows every owner it
 * must never hand those IDs to, and the ranges survive the files.
 *
 * A line's owner is a user name, or a UID when it is all digits.  An owner
 * whose account name is all digits is never imported (see
 * subid_name_is_numeric).  An owner is imported when NSS knows it, it has exactly one subuid and
 * one subgid line, neither overlaps another owner's line or stored range
 * (of either kind), neither touches the IDs of real accounts or a reserved
 * interval, and the store holds nothing else for it.  Everything else is
 * reported, never resolved: the admin decides.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subid_backend.h"
#include "subid_files.h"
#include "subid_user.h"
#include "subidctl.h"

struct owner {
	char label[SUBID_LOG_STR_MAX];	/* as written in the file, made safe to print */
	uid_t uid;
	char *name;		/* NSS's */
	const struct subid_file_entry *line[3];	/* by kind; NULL when none */
	int nlines[3];
	bool bad;
};

/* A line whose owner NSS knows, before lines are grouped by owner. */
struct line_rec {
	uid_t uid;
	enum subid_kind kind;
	size_t seq;		/* order of reading: the first line of an owner labels it */
	const struct subid_file_entry *e;
	char *name;		/* NSS's */
};

struct span {
	uint64_t start, end;
	size_t owner;		/* index into owners.v */
};

struct owners {
	struct line_rec *recs;
	size_t nrecs, cap;
	struct owner *v;
	size_t n;
	struct span *lines;	/* every line of a known owner, duplicates included */
	size_t nlines;
	size_t problems;	/* mark_overlaps()'s count */
};

static int
rec_cmp(const void *a, const void *b)
{
	const struct line_rec *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

static int
overlap_found(size_t ia, size_t ib, void *ctx)
{
	struct owners *o = ctx;
	const struct span *sa = &o->lines[ia], *sb = &o->lines[ib];
	struct owner *a = &o->v[sa->owner], *b = &o->v[sb->owner];

	if (a == b)
		return 0;
	printf("conflict: %s [%" PRIu64 ", %" PRIu64 ") and %s [%" PRIu64 ", %" PRIu64 ") overlap; "
	       "neither is imported\n", a->label, sa->start, sa->end, b->label, sb->start, sb->end);
	o->problems++;
	a->bad = b->bad = true;
	return 0;
}

/* Mark (and report) every owner one of whose lines overlaps a line of another owner, of either kind. */
static int
mark_overlaps(struct owners *o, size_t *problems)
{
	struct subid_interval *iv = calloc(o->nlines + 1, sizeof(*iv));
	int rc;

	if (iv == NULL)
		return -1;
	for (size_t i = 0; i < o->nlines; i++)
		iv[i] = (struct subid_interval){ o->lines[i].start, o->lines[i].end };
	o->problems = 0;
	rc = subid_intervals_each_overlap(iv, o->nlines, overlap_found, o);
	*problems += o->problems;
	free(iv);
	return rc;
}

/* Resolve the owner of every line of f (one NSS lookup per line); lines NSS does not know are reported. */
static int
load_lines(const struct subid_file *f, enum subid_kind kind, struct owners *o, size_t *problems)
{
	for (size_t i = 0; i < f->n; i++) {
		struct subid_user u;
		/* an owner of digits is a UID, never a name */
		int rc = subid_user_line_owner(f->v[i].owner, &u);
		char safe[SUBID_LOG_STR_MAX];

		if (rc < 0)
			return -1;
		if (rc == 1) {
			printf("skipped: %s: no such user\n", subid_log_str(f->v[i].owner, safe, sizeof(safe)));
			(*problems)++;
			continue;
		}
		if (subid_name_is_numeric(u.name)) {
			printf("skipped: %s: uid %u is named %s, a numeric user name (it would also name the "
			       "account of that UID): never granted anything\n",
			       subid_log_str(f->v[i].owner, safe, sizeof(safe)), (unsigned)u.uid, u.name);
			subid_user_free(&u);
			(*problems)++;
			continue;
		}
		if (o->nrecs == o->cap) {
			size_t cap = o->cap ? 2 * o->cap : 256;
			struct line_rec *nv = realloc(o->recs, cap * sizeof(*nv));

			if (nv == NULL) {
				subid_user_free(&u);
				return -1;
			}
			o->recs = nv;
			o->cap = cap;
		}
		o->recs[o->nrecs] = (struct line_rec){ u.uid, kind, o->nrecs, &f->v[i], u.name };
		o->nrecs++;
	}
	return 0;
}

/* Group the lines by owner (sorted by uid: n log n, whatever the number of owners). */
static int
group_owners(struct owners *o)
{
	if (o->nrecs > 1)
		qsort(o->recs, o->nrecs, sizeof(*o->recs), rec_cmp);
	o->v = calloc(o->nrecs + 1, sizeof(*o->v));
	o->lines = calloc(o->nrecs + 1, sizeof(*o->lines));
	if (o->v == NULL || o->lines == NULL)
		return -1;
	for (size_t i = 0; i < o->nrecs; i++) {
		struct line_rec *r = &o->recs[i];
		struct owner *w;

		if (o->n == 0 || o->v[o->n - 1].uid != r->uid) {
			w = &o->v[o->n++];
			w->uid = r->uid;
			w->name = r->name;
			r->name = NULL;
			subid_log_str(r->e->owner, w->label, sizeof(w->label));
		}
		w = &o->v[o->n - 1];
		w->line[r->kind] = r->e;
		w->nlines[r->kind]++;
		o->lines[o->nlines++] = (struct span){ r->e->start, r->e->start + r->e->count, o->n - 1 };
	}
	return 0;
}

static void
owners_free(struct owners *o)
{
	for (size_t i = 0; i < o->nrecs; i++)
		free(o->recs[i].name);
	free(o->recs);
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].name);
	free(o->v);
	free(o->lines);
}

int
cmd_import(struct ctl *c, const char *subuid, const char *subgid)
{
	struct subid_file fu = { NULL, 0, 0 }, fg = { NULL, 0, 0 };
	struct owners o = { NULL, 0, 0, NULL, 0, NULL, 0, 0 };
	struct subid_import *imp = NULL;
	size_t *who = NULL;	/* imp[i] is owner o.v[who[i]] */
	size_t nimp = 0;
	size_t problems = 0, imported = 0, present = 0;
	int ret = EXIT_ERROR;

	if (subid_backend_for(&c->cfg)->no_import != NULL) {
		fprintf(stderr, "subidctl: %s\n", subid_backend_for(&c->cfg)->no_import);
		return EXIT_ERROR;
	}
	if (subid_file_load(subuid, &fu, &c->log) != 0 || subid_file_load(subgid, &fg, &c->log) != 0)
		goto out;
	problems += fu.bad_lines + fg.bad_lines;
	if (load_lines(&fu, SUBID_KIND_UID, &o, &problems) != 0 ||
	    load_lines(&fg, SUBID_KIND_GID, &o, &problems) != 0 || group_owners(&o) != 0) {
		fprintf(stderr, "subidctl: user lookups failed or out of memory; nothing imported\n");
		goto out;
	}
	/* decide every owner before writing anything */
	for (size_t i = 0; i < o.n; i++) {
		struct owner *w = &o.v[i];

		if (w->nlines[SUBID_KIND_UID] != 1 || w->nlines[SUBID_KIND_GID] != 1) {
			printf("conflict: %s: %d %s line(s) and %d %s line(s); exactly one of each is imported\n",
			       w->label, w->nlines[SUBID_KIND_UID], subuid, w->nlines[SUBID_KIND_GID], subgid);
			problems++;
			w->bad = true;
			continue;
		}
		for (int k = SUBID_KIND_UID; k <= SUBID_KIND_GID && !w->bad; k++) {
			uint64_t s = w->line[k]->start, e = s + w->line[k]->count;
			unsigned hit = subid_config_forbidden(&c->cfg, s, w->line[k]->count);

			if (hit != 0) {
				printf("conflict: %s [%" PRIu64 ", %" PRIu64 ") holds %s; not imported\n", w->label, s, e,
				       (hit & SUBID_FORBID_RESERVED) != 0 ? "reserved IDs" :
				       "IDs of real accounts (login.defs)");
				problems++;
				w->bad = true;
			}
		}
	}
	if (mark_overlaps(&o, &problems) != 0) {
		fprintf(stderr, "subidctl: out of memory; nothing imported\n");
		goto out;
	}
	imp = calloc(o.n + 1, sizeof(*imp));
	who = calloc(o.n + 1, sizeof(*who));
	if (imp == NULL || who == NULL) {
		fprintf(stderr, "subidctl: out of memory; nothing imported\n");
		goto out;
	}
	for (size_t i = 0; i < o.n; i++) {
		struct owner *w = &o.v[i];

		if (w->bad)
			continue;
		who[nimp] = i;
		imp[nimp++] = (struct subid_import){
			.uid = w->uid, .name = w->name,
			.r = { { w->line[SUBID_KIND_UID]->start, w->line[SUBID_KIND_UID]->count },
			       { w->line[SUBID_KIND_GID]->start, w->line[SUBID_KIND_GID]->count } },
		};
	}
	/* one transaction, one published index: all of it or nothing */
	if (subid_core_import(&c->cfg, &c->paths, imp, nimp, &c->log) != SUBID_OK) {
		fprintf(stderr, "subidctl: the store could not be written (see the log); nothing imported\n");
		goto out;
	}
	for (size_t i = 0; i < nimp; i++) {
		const struct subid_import *w = &imp[i];
		char safe[SUBID_LOG_STR_MAX];

		if (w->rc == SUBID_CONFLICT) {
			printf("conflict: %s: the store holds other ranges for uid %u, or another owner's ranges "
			       "overlap these\n", o.v[who[i]].label, (unsigned)w->uid);
			problems++;
			continue;
		}
		if (!w->changed) {
			present++;
			continue;
		}
		imported++;
		subid_log(&c->log, LOG_NOTICE, "imported user=%s uid=%u subuid=%" PRIu64 "+%" PRIu64
			  " subgid=%" PRIu64 "+%" PRIu64, subid_log_str(w->name, safe, sizeof(safe)),
			  (unsigned)w->uid, w->r[0].start, w->r[0].count, w->r[1].start, w->r[1].count);
	}
	printf("import: %zu owner%s imported, %zu already in the store, %zu problem%s\n", imported,
	       imported == 1 ? "" : "s", present, problems, problems == 1 ? "" : "s");
	ret = problems > 0 ? EXIT_NONE : EXIT_DONE;
out:
	free(imp);
	free(who);
	owners_free(&o);
	subid_file_free(&fu);
	subid_file_free(&fg);
	return ret;
}
