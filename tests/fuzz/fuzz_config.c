/* libFuzzer target: the subid.conf parser and validator. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "subid_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subid_logindefs ld = { 1000, 60000, 1000, 60000 };
	struct subid_config cfg;
	FILE *fp;
	int bad;

	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	if (fp == NULL)
		return 0;
	if (subid_config_defaults(&cfg, &ld) != 0) {
		fclose(fp);
		return 0;
	}
	bad = subid_config_parse(&cfg, fp, "fuzz.conf", NULL);
	fclose(fp);
	if (bad == 0 && subid_config_validate(&cfg, "fuzz.conf", NULL) == 0) {
		/* a config that validates must describe a usable pool outside real IDs */
		struct subid_interval real;

		subid_config_real_ids(&cfg, &real);
		if (cfg.range_count == 0 || cfg.range_min >= cfg.range_max || cfg.range_max > SUBID_ID_LIMIT ||
		    cfg.range_count > cfg.range_max - cfg.range_min || cfg.range_min < real.end ||
		    cfg.db_path == NULL || cfg.db_path[0] != '/')
			__builtin_trap();
	}
	subid_config_free(&cfg);
	return 0;
}
