#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "subid_config.h"
#include "subid_index.h"

#define IX_MAGIC "SUBIDIX"	/* with its NUL: 8 bytes */
#define IX_VERSION 1u
#define IX_BOM 0x01020304u
/* far more owners than UIDs a directory hands out; keeps every size computation in range */
#define IX_MAX_OWNERS (UINT64_C(1) << 28)

struct ix_header {
	char magic[8];
	uint32_t version;
	uint32_t bom;		/* byte order: a file of another byte order is refused */
	uint64_t generation;
	uint64_t n, nu, ng;	/* owners, subuid spans, subgid spans */
	uint64_t size;		/* the whole file */
	uint32_t reserved;
	uint32_t hcheck;	/* of the 60 bytes before it */
};

struct ix_owner {
	uint32_t uid;
	uint32_t check;
	uint32_t name_hash;	/* of the name the owner had when published (subid_index_name_hash) */
	uint32_t reserved;
	uint64_t us, uc, gs, gc;
};

struct ix_span {
	uint64_t start, count;
	uint32_t uid;
	uint32_t check;
};

_Static_assert(sizeof(struct ix_header) == 64, "index header layout");
_Static_assert(sizeof(struct ix_owner) == 48, "index owner layout");
_Static_assert(sizeof(struct ix_span) == 24, "index span layout");
_Static_assert(sizeof(uid_t) == sizeof(uint32_t), "a uid is 32 bits");

struct subid_index {
	const unsigned char *base;
	size_t len;
	bool mapped;
	struct ix_header h;
	size_t off_owner, off_span[3];	/* [1] subuid, [2] subgid */
	uint64_t nspan[3];
};

/* FNV-1a, 32 bits, over a few words: cheap, and enough to catch a damaged record. */
static uint32_t
fnv(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

#define FNV_SEED 2166136261u

uint32_t
subid_index_name_hash(const char *name)
{
	return name != NULL ? fnv(FNV_SEED, name, strlen(name)) : 0;
}

static uint32_t
owner_check(const struct ix_owner *o)
{
	uint64_t w[7] = { o->uid, o->name_hash, o->reserved, o->us, o->uc, o->gs, o->gc };

	return fnv(FNV_SEED, w, sizeof(w));
}

static uint32_t
span_check(const struct ix_span *s, int kind)
{
	uint64_t w[4] = { s->start, s->count, s->uid, (uint64_t)kind };

	return fnv(FNV_SEED ^ 0x5a5a5a5au, w, sizeof(w));
}

static uint32_t
header_check(const struct ix_header *h)
{
	return fnv(FNV_SEED, h, offsetof(struct ix_header, hcheck));
}

static bool
range_ok(uint64_t start, uint64_t count)
{
	return count == 0 ? start == 0 : start < SUBID_ID_LIMIT && count <= SUBID_ID_LIMIT - start;
}

/* ---- reading: every record copied out (the buffer may be unaligned), then checked ---- */

static void
read_owner(const struct subid_index *ix, uint64_t i, struct ix_owner *o)
{
	memcpy(o, ix->base + ix->off_owner + i * sizeof(*o), sizeof(*o));
}

static uint32_t
owner_uid_at(const struct subid_index *ix, uint64_t i)
{
	uint32_t uid;

	memcpy(&uid, ix->base + ix->off_owner + i * sizeof(struct ix_owner), sizeof(uid));
	return uid;
}

static void
read_span(const struct subid_index *ix, int kind, uint64_t i, struct ix_span *s)
{
	memcpy(s, ix->base + ix->off_span[kind] + i * sizeof(*s), sizeof(*s));
}

static uint64_t
span_start_at(const struct subid_index *ix, int kind, uint64_t i)
{
	uint64_t start;

	memcpy(&start, ix->base + ix->off_span[kind] + i * sizeof(struct ix_span), sizeof(start));
	return start;
}

static bool
owner_valid(const struct ix_owner *o)
{
	return o->check == owner_check(o) && o->reserved == 0 && range_ok(o->us, o->uc) && range_ok(o->gs, o->gc) &&
	       (o->uc != 0 || o->gc != 0);
}

static bool
span_valid(const struct ix_span *s, int kind)
{
	return s->check == span_check(s, kind) && s->count > 0 && range_ok(s->start, s->count);
}

static int
check_header(struct subid_index *ix)
{
	const struct ix_header *h = &ix->h;
	uint64_t need;

	if (ix->len < sizeof(*h))
		return -1;
	memcpy(&ix->h, ix->base, sizeof(ix->h));
	if (memcmp(h->magic, IX_MAGIC, sizeof(h->magic)) != 0 || h->version != IX_VERSION || h->bom != IX_BOM ||
	    h->hcheck != header_check(h) || h->reserved != 0)
		return -1;
	if (h->n > IX_MAX_OWNERS || h->nu > h->n || h->ng > h->n)
		return -1;
	need = sizeof(*h) + h->n * sizeof(struct ix_owner) + (h->nu + h->ng) * sizeof(struct ix_span);
	if (h->size != need || (uint64_t)ix->len != need)
		return -1;
	ix->off_owner = sizeof(*h);
	ix->off_span[1] = ix->off_owner + (size_t)h->n * sizeof(struct ix_owner);
	ix->off_span[2] = ix->off_span[1] + (size_t)h->nu * sizeof(struct ix_span);
	ix->nspan[1] = h->nu;
	ix->nspan[2] = h->ng;
	return 0;
}

int
subid_index_from_buffer(struct subid_index **out, const void *buf, size_t len)
{
	struct subid_index *ix = calloc(1, sizeof(*ix));

	*out = NULL;
	if (ix == NULL)
		return SUBID_ERR;
	ix->base = buf;
	ix->len = len;
	if (buf == NULL || check_header(ix) != 0) {
		free(ix);
		return SUBID_ERR;
	}
	*out = ix;
	return SUBID_OK;
}

int
subid_index_open(struct subid_index **out, const char *path, uid_t owner_uid, const struct subid_log *log)
{
	struct subid_index *ix;
	struct stat st;
	void *p;
	int fd, rc;

	*out = NULL;
	rc = subid_dir_trusted(path, owner_uid);
	if (rc == 1)
		return SUBID_NONE;
	if (rc != 0) {
		subid_log(log, LOG_ERR, "index refused path=%s reason=\"a directory above it can be changed by "
			  "users other than root\"", path);
		return SUBID_ERR;
	}
	fd = subid_open_trusted(path, owner_uid);
	if (fd < 0) {
		if (errno == ENOENT)
			return SUBID_NONE;
		if (errno == EPERM)
			subid_log(log, LOG_ERR, "index refused path=%s reason=\"not a regular file owned by uid %u, "
				  "or writable by group/others\"", path, (unsigned)owner_uid);
		else if (errno == ELOOP)
			subid_log(log, LOG_ERR, "index refused path=%s reason=\"symbolic link\"", path);
		else
			subid_log(log, LOG_ERR, "index error path=%s reason=\"cannot open: %m\"", path);
		return SUBID_ERR;
	}
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(struct ix_header) ||
	    (uint64_t)st.st_size > sizeof(struct ix_header) + IX_MAX_OWNERS * 96) {
		close(fd);
		subid_log(log, LOG_ERR, "index refused path=%s reason=\"malformed (size)\"", path);
		return SUBID_ERR;
	}
	/* the file is replaced by rename, never changed in place: a private read-only map is a snapshot */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		subid_log(log, LOG_ERR, "index error path=%s reason=\"cannot map: %m\"", path);
		return SUBID_ERR;
	}
	if (subid_index_from_buffer(&ix, p, (size_t)st.st_size) != SUBID_OK) {
		munmap(p, (size_t)st.st_size);
		subid_log(log, LOG_ERR, "index refused path=%s reason=\"malformed (header)\"", path);
		return SUBID_ERR;
	}
	ix->mapped = true;
	*out = ix;
	return SUBID_OK;
}

void
subid_index_close(struct subid_index *ix)
{
	if (ix == NULL)
		return;
	if (ix->mapped)
		munmap((void *)ix->base, ix->len);
	free(ix);
}

uint64_t
subid_index_generation(const struct subid_index *ix)
{
	return ix->h.generation;
}

size_t
subid_index_count(const struct subid_index *ix)
{
	return (size_t)ix->h.n;
}

/*
 * Position of uid among the owners (*found when there), by binary search
 * that only accepts keys strictly between the ones it has seen on either
 * side: a file out of order is an error, never a wrong answer.
 */
static int
find_owner(const struct subid_index *ix, uint32_t uid, uint64_t *pos, bool *found)
{
	uint64_t lo = 0, hi = ix->h.n;
	bool have_lo = false, have_hi = false;
	uint32_t lo_key = 0, hi_key = 0;

	*found = false;
	while (lo < hi) {
		uint64_t m = lo + (hi - lo) / 2;
		uint32_t k = owner_uid_at(ix, m);

		if ((have_lo && k <= lo_key) || (have_hi && k >= hi_key))
			return SUBID_ERR;
		if (k < uid) {
			lo = m + 1;
			lo_key = k;
			have_lo = true;
		} else if (k > uid) {
			hi = m;
			hi_key = k;
			have_hi = true;
		} else {
			*pos = m;
			*found = true;
			return SUBID_OK;
		}
	}
	*pos = lo;
	return SUBID_OK;
}

/* Number of spans of kind whose start is below key (binary search, order checked). */
static int
spans_below(const struct subid_index *ix, int kind, uint64_t key, uint64_t *pos)
{
	uint64_t lo = 0, hi = ix->nspan[kind], lo_key = 0, hi_key = 0;
	bool have_lo = false, have_hi = false;

	while (lo < hi) {
		uint64_t m = lo + (hi - lo) / 2;
		uint64_t k = span_start_at(ix, kind, m);

		if ((have_lo && k <= lo_key) || (have_hi && k >= hi_key))
			return SUBID_ERR;
		if (k < key) {
			lo = m + 1;
			lo_key = k;
			have_lo = true;
		} else {
			hi = m;
			hi_key = k;
			have_hi = true;
		}
	}
	*pos = lo;
	return SUBID_OK;
}

static void
to_owner(const struct ix_owner *o, struct subid_index_owner *out)
{
	out->uid = (uid_t)o->uid;
	out->name_hash = o->name_hash;
	out->r[0] = (struct subid_grant){ o->us, o->uc };
	out->r[1] = (struct subid_grant){ o->gs, o->gc };
}

int
subid_index_owner(const struct subid_index *ix, uid_t uid, struct subid_index_owner *out)
{
	struct ix_owner o;
	uint64_t pos;
	bool found;

	if (find_owner(ix, (uint32_t)uid, &pos, &found) != SUBID_OK)
		return SUBID_ERR;
	if (!found)
		return SUBID_NONE;
	read_owner(ix, pos, &o);
	if (!owner_valid(&o) || o.uid != uid)
		return SUBID_ERR;
	to_owner(&o, out);
	return SUBID_OK;
}

int
subid_index_get(const struct subid_index *ix, uid_t uid, int kind, struct subid_grant *out)
{
	struct subid_index_owner o;
	int rc;

	if (kind != 1 && kind != 2)
		return SUBID_ERR;
	rc = subid_index_owner(ix, uid, &o);
	if (rc != SUBID_OK)
		return rc;
	if (o.r[kind - 1].count == 0)
		return SUBID_NONE;
	*out = o.r[kind - 1];
	return SUBID_OK;
}

int
subid_index_owner_at(const struct subid_index *ix, size_t i, struct subid_index_owner *out)
{
	struct ix_owner o, prev;

	if ((uint64_t)i >= ix->h.n)
		return SUBID_ERR;
	read_owner(ix, i, &o);
	if (!owner_valid(&o))
		return SUBID_ERR;
	if (i > 0) {
		read_owner(ix, i - 1, &prev);
		if (prev.uid >= o.uid)
			return SUBID_ERR;
	}
	to_owner(&o, out);
	return SUBID_OK;
}

int
subid_index_owner_of(const struct subid_index *ix, int kind, uint64_t id, uid_t *uid)
{
	struct ix_span s;
	uint64_t pos;

	if (kind != 1 && kind != 2)
		return SUBID_ERR;
	if (id >= SUBID_ID_LIMIT)
		return SUBID_NONE;
	if (spans_below(ix, kind, id + 1, &pos) != SUBID_OK)
		return SUBID_ERR;
	if (pos == 0)
		return SUBID_NONE;
	read_span(ix, kind, pos - 1, &s);
	if (!span_valid(&s, kind) || s.start > id)
		return SUBID_ERR;
	if (id - s.start >= s.count)
		return SUBID_NONE;
	*uid = (uid_t)s.uid;
	return SUBID_OK;
}

static int
overlap_kind(const struct subid_index *ix, int kind, uint64_t start, uint64_t end, uid_t except, uid_t *uid,
	     struct subid_grant *range)
{
	uint64_t pos, next_start = UINT64_MAX;

	if (spans_below(ix, kind, end, &pos) != SUBID_OK)
		return SUBID_ERR;
	/* spans of one kind never overlap, so their ends ascend too: walk back while they reach start */
	while (pos > 0) {
		struct ix_span s;

		read_span(ix, kind, --pos, &s);
		if (!span_valid(&s, kind) || s.start + s.count > next_start)
			return SUBID_ERR;
		if (s.start + s.count <= start)
			break;
		if ((uid_t)s.uid != except) {
			if (uid != NULL)
				*uid = (uid_t)s.uid;
			if (range != NULL)
				*range = (struct subid_grant){ s.start, s.count };
			return SUBID_OK;
		}
		next_start = s.start;
	}
	return SUBID_NONE;
}

int
subid_index_overlap(const struct subid_index *ix, int kind, uint64_t start, uint64_t count, uid_t except,
		    uid_t *uid, struct subid_grant *range)
{
	if (kind < 0 || kind > 2)
		return SUBID_ERR;
	if (count == 0 || start >= SUBID_ID_LIMIT || count > SUBID_ID_LIMIT - start)
		return SUBID_NONE;
	for (int k = 1; k <= 2; k++) {
		int rc;

		if (kind != 0 && kind != k)
			continue;
		rc = overlap_kind(ix, k, start, start + count, except, uid, range);
		if (rc != SUBID_NONE)
			return rc;
	}
	return SUBID_NONE;
}

int
subid_index_verify(const struct subid_index *ix, char *why, size_t whylen)
{
	uint64_t nk[3] = { 0, 0, 0 };

#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); return SUBID_ERR; } while (0)
	for (uint64_t i = 0; i < ix->h.n; i++) {
		struct ix_owner o;

		read_owner(ix, i, &o);
		if (!owner_valid(&o))
			BAD("owner record %" PRIu64 " is damaged", i);
		if (i > 0 && owner_uid_at(ix, i - 1) >= o.uid)
			BAD("owner records out of order at %" PRIu64, i);
		for (int k = 1; k <= 2; k++) {
			uint64_t start = k == 1 ? o.us : o.gs, count = k == 1 ? o.uc : o.gc;
			uid_t at;

			if (count == 0)
				continue;
			nk[k]++;
			if (subid_index_owner_of(ix, k, start, &at) != SUBID_OK || at != o.uid)
				BAD("uid %u's %s range has no span of its own", (unsigned)o.uid, k == 1 ? "subuid" : "subgid");
		}
	}
	for (int k = 1; k <= 2; k++) {
		if (nk[k] != ix->nspan[k])
			BAD("%" PRIu64 " %s spans for %" PRIu64 " ranges", ix->nspan[k], k == 1 ? "subuid" : "subgid", nk[k]);
		for (uint64_t i = 0; i < ix->nspan[k]; i++) {
			struct ix_span s, p;
			struct subid_grant g;

			read_span(ix, k, i, &s);
			if (!span_valid(&s, k))
				BAD("%s span %" PRIu64 " is damaged", k == 1 ? "subuid" : "subgid", i);
			if (i > 0) {
				read_span(ix, k, i - 1, &p);
				if (p.start + p.count > s.start)
					BAD("%s spans out of order or overlapping at %" PRIu64, k == 1 ? "subuid" : "subgid", i);
			}
			if (subid_index_get(ix, (uid_t)s.uid, k, &g) != SUBID_OK || g.start != s.start ||
			    g.count != s.count)
				BAD("%s span %" PRIu64 " is not uid %u's range", k == 1 ? "subuid" : "subgid", i,
				    (unsigned)s.uid);
		}
	}
#undef BAD
	return SUBID_OK;
}

/* ---- writing ------------------------------------------------------------------------- */

static int
change_cmp(const void *a, const void *b)
{
	const subid_index_change *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid ? 1 : 0;
}

struct span_add {
	uint64_t start, count;
	uint32_t uid;
};

static int
add_cmp(const void *a, const void *b)
{
	const struct span_add *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

struct outbuf {
	unsigned char *p;
	size_t len, cap;
};

static void
out_put(struct outbuf *o, const void *src, size_t n)
{
	/* sized exactly beforehand; a miscount (an inconsistent old index) fails the publish, never overflows */
	if (o->len > o->cap || n > o->cap - o->len) {
		o->len = o->cap + 1;
		return;
	}
	if (n > 0)
		memcpy(o->p + o->len, src, n);
	o->len += n;
}

/*
 * The spans of kind: the old ones (less those at the sorted starts in
 * rm[]) merged with add[] (sorted), copied in runs.  -1 on an old index
 * whose span at a removed start is not there.
 */
static int
merge_spans(struct outbuf *o, const struct subid_index *old, int kind, const uint64_t *rm, size_t nrm,
	    const struct span_add *add, size_t nadd)
{
	uint64_t n = old != NULL ? old->nspan[kind] : 0, cur = 0;
	size_t r = 0, a = 0;

	while (r < nrm || a < nadd) {
		uint64_t prm = n, pad = n, stop;

		/* where the next removed span is, and where the next added one goes */
		if (r < nrm && (old == NULL || spans_below(old, kind, rm[r], &prm) != SUBID_OK ||
				prm >= n || span_start_at(old, kind, prm) != rm[r]))
			return -1;
		if (a < nadd && old != NULL && spans_below(old, kind, add[a].start, &pad) != SUBID_OK)
			return -1;
		if (a < nadd && old == NULL)
			pad = 0;
		/* an addition that sorts just before a span removed already goes where that span was */
		if (a < nadd && pad < cur)
			pad = cur;
		stop = r < nrm && (a >= nadd || prm <= pad) ? prm : pad;
		if (stop < cur)
			return -1;
		if (stop > cur)
			out_put(o, old->base + old->off_span[kind] + cur * sizeof(struct ix_span),
				(size_t)(stop - cur) * sizeof(struct ix_span));
		cur = stop;
		if (r < nrm && prm == stop) {
			cur++;	/* the removed span is not copied */
			r++;
		} else {
			struct ix_span sp = { add[a].start, add[a].count, add[a].uid, 0 };

			sp.check = span_check(&sp, kind);
			out_put(o, &sp, sizeof(sp));
			a++;
		}
	}
	if (cur < n)
		out_put(o, old->base + old->off_span[kind] + cur * sizeof(struct ix_span),
			(size_t)(n - cur) * sizeof(struct ix_span));
	return 0;
}

void
subid_index_clean(const char *path, const struct subid_log *log)
{
	char dir[PATH_MAX], prefix[NAME_MAX + 2];
	const char *slash = strrchr(path, '/');
	struct dirent *d;
	DIR *dp;
	int dfd;

	if (slash == NULL || snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path) >=
	    (int)sizeof(dir) || snprintf(prefix, sizeof(prefix), ".%s.", slash + 1) >= (int)sizeof(prefix))
		return;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || (dp = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((d = readdir(dp)) != NULL) {
		if (strncmp(d->d_name, prefix, strlen(prefix)) != 0 || strlen(d->d_name) != strlen(prefix) + 6)
			continue;
		if (unlinkat(dfd, d->d_name, 0) == 0)
			subid_log(log, LOG_NOTICE, "index cleaned path=%s/%s reason=\"left by a writer that stopped "
				  "before its publish\"", dir, d->d_name);
	}
	closedir(dp);
}

/* Write buf to a new file beside path, sync it, rename it over path, sync the directory. */
static int
replace_file(const char *path, const void *buf, size_t len, const struct subid_log *log)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const unsigned char *p = buf;
	size_t done = 0;
	int fd, dfd;

	if (path[0] != '/' || slash == NULL || slash[1] == '\0' ||
	    snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path) >= (int)sizeof(dir)) {
		subid_log(log, LOG_ERR, "index error path=%s reason=\"not an absolute file path\"", path);
		return SUBID_ERR;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		subid_log(log, LOG_ERR, "index error path=%s reason=\"cannot create a file beside it: %m\"", path);
		return SUBID_ERR;
	}
	if (fchmod(fd, 0644) != 0)
		goto fail;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0)
			subid_log(log, LOG_WARNING, "index warning path=%s reason=\"directory not synced: %m\"", path);
		close(dfd);
	}
	return SUBID_OK;
fail:
	subid_log(log, LOG_ERR, "index error path=%s reason=\"cannot write %s: %m\"", path, tmp);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return SUBID_ERR;
}

int
subid_index_publish(const char *path, const struct subid_index *old, const subid_index_change *chin, size_t nch,
		    uint64_t generation, const struct subid_log *log)
{
	subid_index_change *ch = NULL;
	struct span_add *add[3] = { NULL, NULL, NULL };
	uint64_t *rm[3] = { NULL, NULL, NULL };
	size_t nadd[3] = { 0, 0, 0 }, nrm[3] = { 0, 0, 0 };
	uint64_t n = old != NULL ? old->h.n : 0, nk[3] = { 0, old != NULL ? old->nspan[1] : 0,
							   old != NULL ? old->nspan[2] : 0 };
	struct ix_header h;
	struct outbuf o = { NULL, 0, 0 };
	uint64_t cur = 0;
	int ret = SUBID_ERR;

	if (nch > 0) {
		ch = malloc(nch * sizeof(*ch));
		for (int k = 1; k <= 2; k++) {
			add[k] = malloc(nch * sizeof(*add[k]));
			rm[k] = malloc(nch * sizeof(*rm[k]));
		}
		if (ch == NULL || add[1] == NULL || add[2] == NULL || rm[1] == NULL || rm[2] == NULL)
			goto oom;
		memcpy(ch, chin, nch * sizeof(*ch));
		qsort(ch, nch, sizeof(*ch), change_cmp);
	}
	/* what goes and what comes, per kind; and the new number of owners */
	for (size_t i = 0; i < nch; i++) {
		struct subid_index_owner was;
		int rc = old != NULL ? subid_index_owner(old, ch[i].uid, &was) : SUBID_NONE;

		if ((i > 0 && ch[i - 1].uid == ch[i].uid) || rc == SUBID_ERR ||
		    !range_ok(ch[i].r[0].start, ch[i].r[0].count) || !range_ok(ch[i].r[1].start, ch[i].r[1].count))
			goto bad;
		if (rc == SUBID_OK)
			n--;
		if (ch[i].r[0].count != 0 || ch[i].r[1].count != 0)
			n++;
		for (int k = 1; k <= 2; k++) {
			if (rc == SUBID_OK && was.r[k - 1].count != 0) {
				rm[k][nrm[k]++] = was.r[k - 1].start;
				nk[k]--;
			}
			if (ch[i].r[k - 1].count != 0) {
				add[k][nadd[k]++] = (struct span_add){ ch[i].r[k - 1].start, ch[i].r[k - 1].count,
								       (uint32_t)ch[i].uid };
				nk[k]++;
			}
		}
	}
	for (int k = 1; k <= 2; k++) {
		if (nrm[k] > 0)
			qsort(rm[k], nrm[k], sizeof(*rm[k]), u64_cmp);
		if (nadd[k] > 0)
			qsort(add[k], nadd[k], sizeof(*add[k]), add_cmp);
	}
	if (n > IX_MAX_OWNERS)
		goto bad;
	o.cap = sizeof(h) + (size_t)n * sizeof(struct ix_owner) + (size_t)(nk[1] + nk[2]) * sizeof(struct ix_span);
	o.p = malloc(o.cap);
	if (o.p == NULL)
		goto oom;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IX_MAGIC, sizeof(h.magic));
	h.version = IX_VERSION;
	h.bom = IX_BOM;
	h.generation = generation;
	h.n = n;
	h.nu = nk[1];
	h.ng = nk[2];
	h.size = o.cap;
	h.hcheck = header_check(&h);
	out_put(&o, &h, sizeof(h));

	/* owners: the old records in runs between the changed ones */
	for (size_t i = 0; i < nch; i++) {
		uint64_t pos = 0;
		bool found = false;

		if (old != NULL && find_owner(old, (uint32_t)ch[i].uid, &pos, &found) != SUBID_OK)
			goto bad;
		if (pos < cur)
			goto bad;
		if (old != NULL)
			out_put(&o, old->base + old->off_owner + cur * sizeof(struct ix_owner),
				(size_t)(pos - cur) * sizeof(struct ix_owner));
		cur = found ? pos + 1 : pos;
		if (ch[i].r[0].count != 0 || ch[i].r[1].count != 0) {
			struct ix_owner r = { (uint32_t)ch[i].uid, 0, ch[i].name_hash, 0, ch[i].r[0].start,
					      ch[i].r[0].count, ch[i].r[1].start, ch[i].r[1].count };

			r.check = owner_check(&r);
			out_put(&o, &r, sizeof(r));
		}
	}
	if (old != NULL)
		out_put(&o, old->base + old->off_owner + cur * sizeof(struct ix_owner),
			(size_t)(old->h.n - cur) * sizeof(struct ix_owner));
	for (int k = 1; k <= 2; k++)
		if (merge_spans(&o, old, k, rm[k], nrm[k], add[k], nadd[k]) != 0)
			goto bad;
	if (o.len != o.cap)	/* also after an overflow refused by out_put */
		goto bad;
	ret = replace_file(path, o.p, o.len, log);
	goto out;
bad:
	subid_log(log, LOG_ERR, "index error path=%s reason=\"the old index or the change is inconsistent\"", path);
	goto out;
oom:
	subid_log(log, LOG_CRIT, "index error path=%s reason=\"out of memory\"", path);
out:
	free(o.p);
	free(ch);
	for (int k = 1; k <= 2; k++) {
		free(add[k]);
		free(rm[k]);
	}
	return ret;
}
