/* subidctl's commands, over the core; see subidctl.c for the command line. */
#ifndef SUBIDCTL_H
#define SUBIDCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "subid_config.h"
#include "subid_core.h"
#include "subid_store.h"

enum { EXIT_DONE = 0, EXIT_NONE = 1, EXIT_ERROR = 2 };

struct ctl {
	struct subid_config cfg;
	bool cfg_loaded;
	struct subid_paths paths;
	struct subid_log log;
};

/* Every stored range, in owner/kind order (names copied). */
struct row_vec {
	struct subid_row *v;
	size_t n, cap;
};

/* Read the whole store; a store not created yet is empty.  0, or -1 (logged). */
int ctl_rows(struct ctl *c, struct row_vec *rows);
void ctl_rows_free(struct row_vec *rows);

/* check: 0 clean, 1 problems found, 2 could not check. */
int cmd_check(struct ctl *c);
/* reclaim [--yes]: release the ranges of owners whose uid no longer resolves. */
int cmd_reclaim(struct ctl *c, bool yes);
/* import [SUBUID [SUBGID]]: take over shadow-format allocations into the local store. */
int cmd_import(struct ctl *c, const char *subuid, const char *subgid);

#endif
