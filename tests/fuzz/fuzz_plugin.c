/*
 * libFuzzer target: the plugin's owner and range arguments, through the
 * core functions the four shadow_subid_* entry points call, against a real
 * store and /etc/subuid-style files in a temporary directory.
 *
 * Input: owner bytes, then (when at least 17 bytes follow a NUL) start (8),
 * count (8) and a type byte.  Properties: has_range never answers true for
 * a range not covered by the ranges list_owner_ranges returns; every list
 * result is a valid range; output pointers are set on every path.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "subid_core.h"
#include "subid_store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct subid_paths paths;
static char dir[] = "/tmp/subid-fuzz.XXXXXX";
static char conf[256], subuid[256], subgid[256], logindefs[256], db[256], idx[256];

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "we");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct subid_store *st;
	struct subid_pool pool = { 2147483648u, 2147483648u + 100 * 65536u, 65536 };
	struct subid_grant u, g;
	bool granted;
	char text[512];

	(void)argc;
	(void)argv;
	umask(022);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf, sizeof(conf), "%s/subid.conf", dir);
	snprintf(subuid, sizeof(subuid), "%s/subuid", dir);
	snprintf(subgid, sizeof(subgid), "%s/subgid", dir);
	snprintf(logindefs, sizeof(logindefs), "%s/login.defs", dir);
	snprintf(db, sizeof(db), "%s/state/private/subid.db", dir);
	snprintf(idx, sizeof(idx), "%s/state/ranges.idx", dir);
	snprintf(text, sizeof(text), "db_path = %s\nrange_max = %llu\n", db,
		 (unsigned long long)pool.max);
	write_file(conf, text);
	write_file(logindefs, "UID_MIN 1000\nUID_MAX 60000\n");
	/* root (uid 0) and the fuzzing user own file ranges; "0" and names are both used */
	write_file(subuid, "root:100000:65536\n0:300000:10\nnosuchuser:200000:65536\nbad line\n");
	write_file(subgid, "root:100000:65536\n");
	if (subid_store_open_rw(&st, db, idx, getuid(), NULL) != SUBID_OK)
		abort();
	if (subid_store_ensure(st, 0, "root", &pool, NULL, 0, &u, &g, &granted) != SUBID_OK)
		abort();
	subid_store_close(st);
	paths.conf = conf;
	paths.login_defs = logindefs;
	paths.subuid = subuid;
	paths.subgid = subgid;
	paths.trusted_uid = getuid();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t olen = nul ? (size_t)(nul - data) : size;
	char *owner = malloc(olen + 1);
	unsigned long start = 0, count = 1;
	enum subid_kind type = SUBID_KIND_UID;
	struct subid_grant *r = (void *)1;
	uid_t *uids = (void *)1;
	size_t n = (size_t)-1;
	bool has = true;
	int st;

	if (owner == NULL)
		return 0;
	memcpy(owner, data, olen);
	owner[olen] = '\0';
	if (nul != NULL && size - olen - 1 >= 17) {
		memcpy(&start, nul + 1, 8);
		memcpy(&count, nul + 9, 8);
		type = (enum subid_kind)nul[17];
	}

	st = subid_core_list(&paths, NULL, owner, type, &r, &n);
	if (r == (void *)1 || n == (size_t)-1 || (n == 0) != (r == NULL) || (st != SUBID_OK && n != 0))
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if (r[i].count == 0 || r[i].start + r[i].count < r[i].start || r[i].start + r[i].count > 4294967295UL)
			__builtin_trap();

	st = subid_core_has(&paths, NULL, owner, start, count, type, NULL, &has);
	if (st != SUBID_OK && has)
		__builtin_trap();
	if (has) {
		/* must be covered by the listed ranges: walk forward, O(n^2) on purpose */
		unsigned long pos = start, end = start + count;
		bool moved = true;

		if (end < start)
			__builtin_trap();
		while (pos < end && moved) {
			moved = false;
			for (size_t i = 0; i < n; i++)
				if (r[i].start <= pos && pos < r[i].start + r[i].count) {
					pos = r[i].start + r[i].count;
					moved = true;
				}
		}
		if (pos < end)
			__builtin_trap();
	}
	free(r);

	n = (size_t)-1;
	st = subid_core_owners(&paths, NULL, start, type, &uids, &n);
	if (uids == (void *)1 || n == (size_t)-1 || (n == 0) != (uids == NULL))
		__builtin_trap();
	free(uids);
	free(owner);
	return 0;
}
