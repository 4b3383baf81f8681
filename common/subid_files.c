#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "subid_config.h"
#include "subid_files.h"

void
subid_file_free(struct subid_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].owner);
	free(f->v);
	f->v = NULL;
	f->n = 0;
	f->bad_lines = 0;
}

/* "owner:start:count" -> entry; NULL on success, else the problem. */
static const char *
parse_entry(char *s, struct subid_file_entry *e)
{
	char *f[3];
	size_t nf = 0;
	uint64_t end;

	f[nf++] = s;
	for (char *p = s; *p != '\0'; p++) {
		if (*p == ':') {
			if (nf == 3)
				return "too many fields";
			*p = '\0';
			f[nf++] = p + 1;
		}
	}
	if (nf != 3)
		return "expected owner:start:count";
	if (f[0][0] == '\0')
		return "empty owner";
	if (strnlen(f[0], 257) > 256)
		return "owner too long";
	if (!subid_parse_u64(f[1], &e->start))
		return "bad start";
	if (!subid_parse_u64(f[2], &e->count))
		return "bad count";
	if (!subid_range_end(e->start, e->count, &end))
		return "empty range or past the ID space";
	e->owner = f[0];
	return NULL;
}

int
subid_file_parse(FILE *fp, const char *name, struct subid_file *out, const struct subid_log *log)
{
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t len;
	unsigned lineno = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	errno = 0;
	while ((len = getline(&line, &cap, fp)) != -1) {
		struct subid_file_entry e;
		const char *problem;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (memchr(line, '\0', (size_t)len) != NULL)
			problem = "NUL byte in line";
		else
			problem = parse_entry(line, &e);
		if (problem != NULL) {
			subid_log(log, LOG_WARNING, "%s:%u: ignored line reason=\"%s\"", name, lineno, problem);
			out->bad_lines++;
			continue;
		}
		if (out->n == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			struct subid_file_entry *nv = NULL;

			if (na < (size_t)-1 / sizeof(*nv))
				nv = realloc(out->v, na * sizeof(*nv));
			if (nv == NULL)
				goto oom;
			out->v = nv;
			alloc = na;
		}
		if ((e.owner = strdup(e.owner)) == NULL)
			goto oom;
		out->v[out->n++] = e;
	}
	if (ferror(fp)) {
		subid_log(log, LOG_ERR, "%s: error reason=\"read error\"", name);
		rc = -1;
	}
	free(line);
	if (rc != 0)
		subid_file_free(out);
	return rc;
oom:
	subid_log(log, LOG_CRIT, "%s: out of memory", name);
	free(line);
	subid_file_free(out);
	return -1;
}

int
subid_file_load(const char *path, struct subid_file *out, const struct subid_log *log)
{
	FILE *fp;
	int rc;

	memset(out, 0, sizeof(*out));
	fp = fopen(path, "re");
	if (fp == NULL) {
		if (errno == ENOENT)
			return 0;
		subid_log(log, LOG_ERR, "%s: error reason=\"cannot open: %m\"", path);
		return -1;
	}
	rc = subid_file_parse(fp, path, out, log);
	fclose(fp);
	return rc;
}

int
subid_file_intervals(const struct subid_file *f, struct subid_interval **v, size_t *n)
{
	struct subid_interval *nv;

	if (f->n == 0)
		return 0;
	if (f->n > ((size_t)-1) / sizeof(*nv) - *n)
		return -1;
	nv = realloc(*v, (*n + f->n) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	*v = nv;
	for (size_t i = 0; i < f->n; i++) {
		nv[*n].start = f->v[i].start;
		nv[*n].end = f->v[i].start + f->v[i].count;
		(*n)++;
	}
	return 0;
}
