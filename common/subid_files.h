/*
 * Reader for shadow's /etc/subuid and /etc/subgid ("owner:start:count").
 * Malformed lines are skipped and logged as "file:line: problem"; they never
 * make the whole file unusable.
 */
#ifndef SUBID_FILES_H
#define SUBID_FILES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "subid_log.h"
#include "subid_range.h"

struct subid_file_entry {
	char *owner;		/* name or decimal uid, as written */
	uint64_t start;
	uint64_t count;
};

struct subid_file {
	struct subid_file_entry *v;
	size_t n;
	size_t bad_lines;	/* lines skipped as malformed */
};

/* 0 on success, -1 on I/O or memory error. */
int subid_file_parse(FILE *fp, const char *name, struct subid_file *out, const struct subid_log *log);

/* A missing file is an empty one (0).  -1 on other errors. */
int subid_file_load(const char *path, struct subid_file *out, const struct subid_log *log);

void subid_file_free(struct subid_file *f);

/* Append every entry's interval to *v (realloc'd); -1 on memory error. */
int subid_file_intervals(const struct subid_file *f, struct subid_interval **v, size_t *n);

#endif
