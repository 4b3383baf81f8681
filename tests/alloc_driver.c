/*
 * alloc_driver CONF PREFIX FROM TO: ensure ranges for the users PREFIX<FROM>
 * .. PREFIX<TO> through the same core call pam_subid makes at login
 * (subid_core_ensure), one after the other.  After each success it prints
 * "UID START" and flushes, so a parent that kills it at any instant knows
 * which allocations were reported done.  Used by the crash-safety test.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "subid_config.h"
#include "subid_core.h"
#include "subid_user.h"

__attribute__((format(printf, 3, 0))) static void
log_stderr(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	if (prio <= LOG_WARNING) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
}

int
main(int argc, char **argv)
{
	struct subid_log log = { log_stderr, NULL, 0 };
	struct subid_paths paths = subid_default_paths;
	struct subid_config cfg;
	uint64_t from, to;
	int failures = 0;

	if (argc != 5 || !subid_parse_u64(argv[3], &from) || !subid_parse_u64(argv[4], &to)) {
		fprintf(stderr, "usage: %s CONF PREFIX FROM TO\n", argv[0]);
		return 2;
	}
	paths.conf = argv[1];
	if (subid_config_load(&cfg, paths.conf, paths.login_defs, paths.trusted_uid, &log) != 0)
		return 2;
	for (uint64_t i = from; i <= to; i++) {
		struct subid_grant ur, gr;
		struct subid_user u;
		char name[64];

		snprintf(name, sizeof(name), "%s%" PRIu64, argv[2], i);
		if (subid_core_ensure(&cfg, &paths, name, 0, &log, &ur, &gr) != SUBID_ENSURE_OK ||
		    subid_user_lookup(name, false, &u) != 0) {
			failures++;
			continue;
		}
		printf("%u %" PRIu64 "\n", (unsigned)u.uid, ur.start);
		fflush(stdout);
		subid_user_free(&u);
	}
	subid_config_free(&cfg);
	return failures ? 1 : 0;
}
