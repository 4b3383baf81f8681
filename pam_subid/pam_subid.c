/*
 * pam_subid: PAM session module that makes sure the user owns a subordinate
 * UID range and a subordinate GID range, allocating them at first login.
 *
 *   session optional pam_subid.so [conf=/etc/subid.conf] [debug] [strict]
 *
 * It never blocks a login unless "strict" is given: every problem is logged
 * and the module returns PAM_IGNORE.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "subid_config.h"
#include "subid_core.h"

#define SUBID_EXPORT __attribute__((visibility("default")))

struct pam_subid_opts {
	const char *conf;
	bool debug;
	bool strict;
};

__attribute__((format(printf, 3, 0))) static void
log_pam(void *ctx, int prio, const char *fmt, va_list ap)
{
	pam_vsyslog((pam_handle_t *)ctx, prio, fmt, ap);
}

/* 0, or -1 on a bad argument (logged). */
static int
parse_args(pam_handle_t *pamh, int argc, const char **argv, struct pam_subid_opts *o)
{
	char safe[SUBID_LOG_STR_MAX];
	int rc = 0;

	o->conf = SUBID_CONF_PATH;
	o->debug = false;
	o->strict = false;
	/* strict first: a bad argument must fail closed when strict was asked for */
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "strict") == 0)
			o->strict = true;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "debug") == 0)
			o->debug = true;
		else if (strcmp(argv[i], "strict") == 0)
			continue;
		else if (strncmp(argv[i], "conf=", 5) == 0) {
			if (argv[i][5] != '/') {
				pam_syslog(pamh, LOG_ERR, "refused option=conf value=%s reason=\"not an absolute path\"",
					   subid_log_str(argv[i] + 5, safe, sizeof(safe)));
				rc = -1;
			} else {
				o->conf = argv[i] + 5;
			}
		} else {
			pam_syslog(pamh, LOG_ERR, "refused option=%s reason=\"unknown option\"",
				   subid_log_str(argv[i], safe, sizeof(safe)));
			rc = -1;
		}
	}
	return rc;
}

static int
pam_subid_open(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pam_subid_opts o;
	struct subid_paths paths = subid_default_paths;
	struct subid_log log = { log_pam, pamh, 0 };
	struct subid_config cfg;
	struct subid_grant ur, gr;
	const char *user = NULL;
	char safe[SUBID_LOG_STR_MAX];
	int failed, rc;

	(void)flags;
	failed = parse_args(pamh, argc, argv, &o) != 0 ? PAM_SESSION_ERR : 0;
	log.debug = o.debug;
	if (failed)
		return o.strict ? PAM_SESSION_ERR : PAM_IGNORE;

	rc = pam_get_user(pamh, &user, NULL);
	if (rc != PAM_SUCCESS || user == NULL || user[0] == '\0') {
		pam_syslog(pamh, LOG_ERR, "error reason=\"%s\"",
			   rc == PAM_SUCCESS ? "empty user name" : pam_strerror(pamh, rc));
		/* no user to serve is PAM_USER_UNKNOWN; PAM itself failing must not block a login */
		if (rc == PAM_SUCCESS)
			return PAM_USER_UNKNOWN;
		return o.strict ? rc : PAM_IGNORE;
	}
	subid_log_str(user, safe, sizeof(safe));
	paths.conf = o.conf;
	if (subid_config_load(&cfg, paths.conf, paths.login_defs, paths.trusted_uid, &log) != 0) {
		pam_syslog(pamh, LOG_ERR, "no ranges user=%s reason=\"configuration refused\" conf=%s action=%s",
			   safe, paths.conf, o.strict ? "deny" : "ignore");
		return o.strict ? PAM_SESSION_ERR : PAM_IGNORE;
	}
	switch (subid_core_ensure(&cfg, &paths, user, 0, &log, &ur, &gr)) {
	case SUBID_ENSURE_OK:
	case SUBID_ENSURE_OK_UNMIRRORED:	/* granted and served by the plugin all the same */
		rc = PAM_SUCCESS;
		break;
	case SUBID_ENSURE_SKIPPED:
	case SUBID_ENSURE_REFUSED:	/* logged; like a skipped account, it never blocks a login */
		rc = PAM_IGNORE;
		break;
	case SUBID_ENSURE_UNKNOWN_USER:
		rc = PAM_USER_UNKNOWN;
		break;
	case SUBID_ENSURE_ERROR:
	default:
		pam_syslog(pamh, LOG_ERR, "no ranges user=%s reason=\"store or directory error\" action=%s",
			   safe, o.strict ? "deny" : "ignore");
		rc = o.strict ? PAM_SESSION_ERR : PAM_IGNORE;
		break;
	}
	subid_config_free(&cfg);
	return rc;
}

SUBID_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return pam_subid_open(pamh, flags, argc, argv);
}

SUBID_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
