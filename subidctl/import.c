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

struct span {
	uint64_t start, end;
	size_t owner;		/* index into owners.v */
};

struct owners {
	struct owner *v;
	size_t n;
	struct span *lines;	/* every line of a known owner, duplicates included */
	size_t nlines;
};

static struct owner *
owner_for(struct owners *o, const char *label, uid_t uid)
{
	struct owner *nv;

	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].uid == uid)
			return &o->v[i];
	nv = realloc(o->v, (o->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return NULL;
	o->v = nv;
	memset(&nv[o->n], 0, sizeof(nv[o->n]));
	subid_log_str(label, nv[o->n].label, sizeof(nv[o->n].label));
	nv[o->n].uid = uid;
	return &nv[o->n++];
}

static int
span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/*
 * Mark (and report) every owner one of whose lines overlaps a line of
 * another owner, of either kind: a sweep by start over the lines still open.
 */
static int
mark_overlaps(struct owners *o, size_t *problems)
{
	struct span *v = o->lines;
	size_t *open = calloc(o->nlines + 1, sizeof(*open));
	size_t n = o->nlines, nopen = 0;

	if (open == NULL)
		return -1;
	if (n > 1)	/* v is NULL when no line has a known owner */
		qsort(v, n, sizeof(*v), span_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		for (size_t j = 0; j < nopen; j++)
			if (v[open[j]].end > v[i].start)
				open[k++] = open[j];
		nopen = k;
		for (size_t j = 0; j < nopen; j++) {
			struct owner *a = &o->v[v[open[j]].owner], *b = &o->v[v[i].owner];

			if (a == b)
				continue;
			printf("conflict: %s [%" PRIu64 ", %" PRIu64 ") and %s [%" PRIu64 ", %" PRIu64 ") overlap; "
			       "neither is imported\n", a->label, v[open[j]].start, v[open[j]].end, b->label,
			       v[i].start, v[i].end);
			(*problems)++;
			a->bad = b->bad = true;
		}
		open[nopen++] = i;
	}
	free(open);
	return 0;
}

static int
load_owners(struct ctl *c, const struct subid_file *f, enum subid_kind kind, struct owners *o, size_t *problems)
{
	for (size_t i = 0; i < f->n; i++) {
		struct subid_user u;
		struct owner *w;
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
		w = owner_for(o, f->v[i].owner, u.uid);
		if (w == NULL || (w->name == NULL && (w->name = strdup(u.name)) == NULL)) {
			subid_user_free(&u);
			return -1;
		}
		subid_user_free(&u);
		w->line[kind] = &f->v[i];
		w->nlines[kind]++;
		{
			struct span *nv = realloc(o->lines, (o->nlines + 1) * sizeof(*nv));

			if (nv == NULL)
				return -1;
			o->lines = nv;
			nv[o->nlines++] = (struct span){ f->v[i].start, f->v[i].start + f->v[i].count,
							 (size_t)(w - o->v) };
		}
	}
	(void)c;
	return 0;
}

int
cmd_import(struct ctl *c, const char *subuid, const char *subgid)
{
	struct subid_file fu = { NULL, 0, 0 }, fg = { NULL, 0, 0 };
	struct owners o = { NULL, 0, NULL, 0 };
	struct subid_store *st = NULL;
	struct subid_interval real;
	size_t problems = 0, imported = 0, present = 0;
	int ret = EXIT_ERROR;

	if (c->cfg.store != SUBID_STORE_LOCAL) {
		fprintf(stderr, "subidctl: import writes the local store; with store = ldap the directory is the "
			"authority: import on a host with store = local, or add the entries to the directory\n");
		return EXIT_ERROR;
	}
	if (subid_file_load(subuid, &fu, &c->log) != 0 || subid_file_load(subgid, &fg, &c->log) != 0)
		goto out;
	problems += fu.bad_lines + fg.bad_lines;
	if (load_owners(c, &fu, SUBID_KIND_UID, &o, &problems) != 0 ||
	    load_owners(c, &fg, SUBID_KIND_GID, &o, &problems) != 0) {
		fprintf(stderr, "subidctl: user lookups failed or out of memory; nothing imported\n");
		goto out;
	}
	subid_config_real_ids(&c->cfg, &real);
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
			bool reserved = false;

			for (size_t j = 0; j < c->cfg.n_reserved; j++)
				reserved = reserved || (s < c->cfg.reserved[j].end && e > c->cfg.reserved[j].start);
			if ((s < real.end && e > real.start) || reserved) {
				printf("conflict: %s [%" PRIu64 ", %" PRIu64 ") holds %s; not imported\n", w->label, s, e,
				       reserved ? "reserved IDs" : "IDs of real accounts (login.defs)");
				problems++;
				w->bad = true;
			}
		}
	}
	if (mark_overlaps(&o, &problems) != 0) {
		fprintf(stderr, "subidctl: out of memory; nothing imported\n");
		goto out;
	}
	if (subid_store_open_rw(&st, c->cfg.db_path, c->cfg.index_path, c->paths.trusted_uid, &c->log) != SUBID_STORE_OK)
		goto out;
	for (size_t i = 0; i < o.n; i++) {
		struct owner *w = &o.v[i];
		struct subid_grant ur, gr;
		bool changed = false;
		int rc;

		if (w->bad)
			continue;
		ur.start = w->line[SUBID_KIND_UID]->start;
		ur.count = w->line[SUBID_KIND_UID]->count;
		gr.start = w->line[SUBID_KIND_GID]->start;
		gr.count = w->line[SUBID_KIND_GID]->count;
		rc = subid_store_import(st, w->uid, w->name, &ur, &gr, &changed);
		if (rc == SUBID_STORE_ERR)
			goto out;
		if (rc == SUBID_STORE_CONFLICT) {
			printf("conflict: %s: the store holds other ranges for uid %u, or another owner's ranges "
			       "overlap these\n", w->label, (unsigned)w->uid);
			problems++;
			continue;
		}
		if (!changed) {
			present++;
			continue;
		}
		imported++;
		{
			char safe[SUBID_LOG_STR_MAX];

			subid_log(&c->log, LOG_NOTICE, "imported user=%s uid=%u subuid=%" PRIu64 "+%" PRIu64
				  " subgid=%" PRIu64 "+%" PRIu64, subid_log_str(w->name, safe, sizeof(safe)),
				  (unsigned)w->uid, ur.start, ur.count, gr.start, gr.count);
		}
	}
	printf("import: %zu owner%s imported, %zu already in the store, %zu problem%s\n", imported,
	       imported == 1 ? "" : "s", present, problems, problems == 1 ? "" : "s");
	ret = problems > 0 ? EXIT_NONE : EXIT_DONE;
out:
	subid_store_close(st);
	for (size_t i = 0; i < o.n; i++)
		free(o.v[i].name);
	free(o.v);
	free(o.lines);
	subid_file_free(&fu);
	subid_file_free(&fg);
	return ret;
}
