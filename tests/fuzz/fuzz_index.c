/*
 * libFuzzer target: the read index as the plugin meets it (inside setuid
 * newuidmap).  Any bytes: a refusal or answers that agree with each other;
 * never a crash, a hang or an out-of-bounds read.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "subid_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subid_index *ix;
	struct subid_index_owner o;
	struct subid_grant g;
	char why[128];
	bool whole;
	uint32_t probe = 0;
	uid_t uid;
	/* a copy of exactly size bytes: ASan sees any read past the end */
	uint8_t *buf = malloc(size > 0 ? size : 1);

	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	if (subid_index_from_buffer(&ix, buf, size) != SUBID_OK) {
		free(buf);
		return 0;
	}
	whole = subid_index_verify(ix, why, sizeof(why)) == SUBID_OK;
	if (size >= 4)
		memcpy(&probe, data + size - 4, 4);
	/* lookups of whatever the file holds, and of an arbitrary uid and ID */
	for (size_t i = 0; i < subid_index_count(ix) && i < 64; i++) {
		if (subid_index_owner_at(ix, i, &o) != SUBID_OK) {
			if (whole)
				__builtin_trap();
			continue;
		}
		for (int k = 1; k <= 2; k++) {
			int rc = subid_index_get(ix, o.uid, k, &g);

			if (!whole)
				continue;
			/* a file that verifies answers consistently */
			if (o.r[k - 1].count == 0 ? rc != SUBID_NONE :
			    rc != SUBID_OK || g.start != o.r[k - 1].start || g.count != o.r[k - 1].count)
				__builtin_trap();
			if (o.r[k - 1].count != 0 &&
			    (subid_index_owner_of(ix, k, o.r[k - 1].start, &uid) != SUBID_OK || uid != o.uid))
				__builtin_trap();
		}
	}
	(void)subid_index_get(ix, probe, 1, &g);
	(void)subid_index_owner(ix, probe, &o);
	(void)subid_index_owner_of(ix, 2, probe, &uid);
	(void)subid_index_overlap(ix, 0, probe, (uint64_t)probe + 1, probe, &uid, &g);
	(void)subid_index_overlap(ix, 1, 0, UINT64_C(4294967295), 0, NULL, NULL);
	subid_index_close(ix);
	free(buf);
	return 0;
}
