/*
 * store = local: the writer store decides.  An owner's ranges are
 * allocated by first fit over the store's free-span index, in the same
 * transaction that writes them; nothing outside this host is asked.
 */
#include "config.h"

#include "subid_backend.h"

static int
local_ensure(const struct subid_backend_ctx *x, struct subid_store *st, const struct subid_user *u,
	     const struct subid_file *fu, const struct subid_file *fg, const struct subid_interval *taken,
	     size_t ntaken, struct subid_grant r[2], bool *granted)
{
	struct subid_pool pool;

	(void)fu;	/* their lines are in taken[] */
	(void)fg;
	subid_core_pool(x->cfg, &pool);
	return subid_store_ensure(st, u->uid, u->name, &pool, taken, ntaken, &r[0], &r[1], granted);
}

/* Nothing is decided anywhere else: the writer store's rows are all there is to drop. */
static int
local_release(const struct subid_backend_ctx *x, uid_t uid)
{
	(void)x;
	(void)uid;
	return SUBID_NONE;
}

int
subid_backend_store_rows(const struct subid_backend_ctx *x, int (*fn)(const struct subid_row *row, void *ctx),
			 void *ctx)
{
	struct subid_store *st = NULL;
	int rc = subid_store_open_ro(&st, x->cfg->db_path, x->paths->trusted_uid, x->log);

	if (rc != SUBID_OK)
		return rc;
	rc = subid_store_foreach(st, fn, ctx);
	subid_store_close(st);
	return rc;
}

static int
local_import(const struct subid_backend_ctx *x, struct subid_store *st, struct subid_import *v, size_t n)
{
	struct subid_pool pool;

	subid_core_pool(x->cfg, &pool);
	return subid_store_import_many(st, v, n, &pool);
}

const struct subid_backend subid_backend_local = {
	.name = "local",
	.index_ends_login = true,
	.no_import = NULL,
	.ensure = local_ensure,
	.get = NULL,
	.release = local_release,
	.list = subid_backend_store_rows,
	.import = local_import,
};
