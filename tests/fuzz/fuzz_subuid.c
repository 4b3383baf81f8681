/* libFuzzer target: the /etc/subuid, /etc/subgid parser. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subid_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subid_file f;
	struct subid_interval *iv = NULL;
	size_t n = 0;
	FILE *fp;

	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	if (fp == NULL)
		return 0;
	if (subid_file_parse(fp, "fuzz", &f, NULL) != 0) {
		fclose(fp);
		return 0;
	}
	fclose(fp);
	/* every accepted entry is a valid, non-empty range inside the ID space */
	for (size_t i = 0; i < f.n; i++) {
		uint64_t end;

		if (f.v[i].owner == NULL || f.v[i].owner[0] == '\0' || strchr(f.v[i].owner, ':') != NULL ||
		    strchr(f.v[i].owner, '\n') != NULL ||
		    !subid_range_end(f.v[i].start, f.v[i].count, &end))
			__builtin_trap();
	}
	if (subid_file_intervals(&f, &iv, &n) == 0) {
		size_t m = subid_intervals_normalize(iv, n);

		for (size_t i = 1; i < m; i++)
			if (iv[i].start <= iv[i - 1].end)
				__builtin_trap();
	}
	free(iv);
	subid_file_free(&f);
	return 0;
}
