/*
 * The back ends: who decides an owner's ranges.  Two, chosen once from the
 * configuration ("store = local | ldap") by subid_backend_for():
 *
 *   local  the writer store decides: first fit over its free-span index;
 *   ldap   the directory decides (its multi-host allocator) and the writer
 *          store keeps a replica of what it said, which serves this host's
 *          logins and the plugin when the directory does not answer.
 *
 * Either way the writer store (subid_store.h) holds what this host serves
 * and publishes the read index the plugin reads, so listing, reindexing and
 * releasing the local rows are the core's.  The core asks the back end what
 * differs between them, through this table, and never which one it has.
 * Every function returns a subid_result and logs its errors.
 */
#ifndef SUBID_BACKEND_H
#define SUBID_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "subid_config.h"
#include "subid_core.h"
#include "subid_files.h"
#include "subid_log.h"
#include "subid_range.h"
#include "subid_store.h"
#include "subid_user.h"

struct subid_holders;

/* One call's surroundings. */
struct subid_backend_ctx {
	const struct subid_config *cfg;
	const struct subid_paths *paths;
	const struct subid_log *log;
};

struct subid_backend {
	const char *name;	/* "local", "ldap": logs, subidctl's "source" */
	/*
	 * A later login whose owner the published read index lists is done
	 * there (no writer store, no lock, no back end).  False when every
	 * login must ask the back end.
	 */
	bool index_ends_login;
	/* NULL, or why subidctl import is refused (printed as it is) */
	const char *no_import;
	/*
	 * u's two ranges (r[0] subuid, r[1] subgid), allocated when u has none,
	 * away from taken[] (sorted, merged) and the files' lines (fu, fg);
	 * afterwards the writer store st (open read-write) holds them.
	 * SUBID_OK (*granted: this call allocated them) or an error.
	 */
	int (*ensure)(const struct subid_backend_ctx *x, struct subid_store *st, const struct subid_user *u,
		      const struct subid_file *fu, const struct subid_file *fg, const struct subid_interval *taken,
		      size_t ntaken, struct subid_grant r[2], bool *granted);
	/*
	 * The plugin, for an owner the read index does not list: u's ranges
	 * as the authority has them, checked against the files and the
	 * holders h; never written anywhere.  SUBID_OK, SUBID_NONE (none, or
	 * refused), or an error (SUBID_DOWN: the authority did not answer).
	 * NULL: the index is the whole answer.
	 */
	int (*get)(const struct subid_backend_ctx *x, const struct subid_holders *h, const struct subid_user *u,
		   struct subid_grant r[2]);
	/*
	 * uid's ranges dropped where they are decided, before the core drops
	 * the writer store's rows: SUBID_OK (dropped), SUBID_NONE (there was
	 * nothing there), or an error (the writer store is left alone).
	 */
	int (*release)(const struct subid_backend_ctx *x, uid_t uid);
	/*
	 * Every range this host serves, as subid_store_foreach() (the ldap
	 * back end: its replica, what the directory said at each owner's last
	 * login): SUBID_OK, fn's value, SUBID_NONE (nothing stored yet) or
	 * SUBID_ERR.
	 */
	int (*list)(const struct subid_backend_ctx *x, int (*fn)(const struct subid_row *row, void *ctx), void *ctx);
	/*
	 * Owners taken over from shadow's files (subidctl import) into st, in
	 * one transaction: as subid_store_import_many().
	 */
	int (*import)(const struct subid_backend_ctx *x, struct subid_store *st, struct subid_import *v, size_t n);
};

/* The writer store's rows (read-only open): both back ends' list. */
int subid_backend_store_rows(const struct subid_backend_ctx *x, int (*fn)(const struct subid_row *row, void *ctx),
			     void *ctx);

extern const struct subid_backend subid_backend_local;
extern const struct subid_backend subid_backend_ldap;

/* The back end cfg names ("store = ..."). */
const struct subid_backend *subid_backend_for(const struct subid_config *cfg);

#endif
