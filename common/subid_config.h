/*
 * /etc/subid.conf: "key = value" lines, '#' comments.  One parser for the
 * PAM module, the libsubid plugin and subidctl.
 */
#ifndef SUBID_CONFIG_H
#define SUBID_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "subid_log.h"
#include "subid_range.h"

#ifndef SUBID_CONF_PATH
#define SUBID_CONF_PATH "/etc/subid.conf"
#endif
#ifndef SUBID_DB_PATH
#define SUBID_DB_PATH "/var/lib/subid/private/subid.db"
#endif
#define SUBID_LOGIN_DEFS "/etc/login.defs"
#define SUBID_SUBUID_PATH "/etc/subuid"
#define SUBID_SUBGID_PATH "/etc/subgid"

#define SUBID_DEFAULT_RANGE_MIN UINT64_C(2147483648)
#define SUBID_DEFAULT_RANGE_MAX UINT64_C(4294836224)
#define SUBID_DEFAULT_RANGE_COUNT UINT64_C(65536)
#define SUBID_CONF_MAX_LINE 4096
#define SUBID_CONF_MAX_LIST 256

enum subid_backend_kind {
	SUBID_BACKEND_LOCAL = 0,
	SUBID_BACKEND_LDAP,	/* the directory is the authority, the local store its replica */
};

enum subid_ldap_tls {
	SUBID_LDAP_TLS_NO = 0,
	SUBID_LDAP_TLS_STARTTLS,
	SUBID_LDAP_TLS_LDAPS,
};

/* Which attribute names the directory's entries use. */
enum subid_ldap_map {
	SUBID_LDAP_MAP_SSSD = 0,	/* subordinateIdEntry, subUidNumber, ..., subidRangeOwner */
	SUBID_LDAP_MAP_FREEIPA,		/* ipaSubordinateIdEntry, ipaSubUidNumber, ..., ipaOwner */
};

struct subid_ldap_config {
	char *uri;		/* space-separated, tried in order */
	char *base;		/* where subid entries live */
	char *user_base;	/* where owners' DNs are found (default: the suffix holding base) */
	char *bind_dn;
	char *bind_pw_file;	/* root-owned, 0600 */
	char *ca_file;
	enum subid_ldap_tls tls;
	enum subid_ldap_map map;
	uint64_t timeout;	/* seconds, network and operation */
	bool lookup_on_miss;	/* the plugin asks the directory (anonymously) for owners the replica lacks */
};

/* What login.defs says about real account IDs. */
struct subid_logindefs {
	uint64_t uid_min, uid_max;
	uint64_t gid_min, gid_max;
};

struct subid_strlist {
	char **v;
	size_t n;
};

struct subid_config {
	enum subid_backend_kind store;
	char *db_path;		/* the writer store, root's only (its directory 0700) */
	char *index_path;	/* the read index everyone reads; default beside db_path's directory */
	uint64_t range_min;	/* pool start, inclusive */
	uint64_t range_max;	/* pool end, exclusive */
	uint64_t range_count;	/* IDs per owner */
	uint64_t uid_min;	/* owners below are skipped */
	bool files;		/* also serve /etc/subuid, /etc/subgid */
	bool mirror_files;	/* also write every grant and release into /etc/subuid, /etc/subgid */
	struct subid_strlist skip_users;
	struct subid_strlist skip_groups;
	struct subid_interval *reserved;	/* never handed out (inclusive A-B in the file) */
	size_t n_reserved;
	struct subid_logindefs logindefs;
	struct subid_ldap_config ldap;
};

/* Reads login.defs (missing file or keys: 1000..60000). -1 only on read errors. */
int subid_logindefs_load(const char *path, struct subid_logindefs *ld);

/* Defaults; uid_min comes from ld->uid_min. 0, or -1 when out of memory. */
int subid_config_defaults(struct subid_config *cfg, const struct subid_logindefs *ld);

/*
 * Parse lines from fp into cfg (which holds defaults).  name is used in
 * "name:line: problem" messages.  Returns the number of bad lines (0 = good),
 * -1 on I/O or memory error.  Every bad line is logged.
 */
int subid_config_parse(struct subid_config *cfg, FILE *fp, const char *name, const struct subid_log *log);

/*
 * IDs that belong to real accounts and must never be inside a subordinate
 * range: 0 .. max(UID_MAX, GID_MAX, 65535) from login.defs (65534/65535 are
 * nobody/nogroup and (uint16_t)-1).
 */
void subid_config_real_ids(const struct subid_config *cfg, struct subid_interval *out);

/*
 * The IDs no subordinate range may hold, one interval at a time: the real
 * account IDs first (*is_real), then each reserved interval.  *pos starts
 * at 0; false after the last.  The one place the rule is written: the
 * allocator's taken intervals, the directory's entries, subidctl import
 * and check all read it here.
 */
bool subid_config_forbidden_next(const struct subid_config *cfg, size_t *pos, struct subid_interval *iv,
				 bool *is_real);

#define SUBID_FORBID_REAL 0x1		/* real account IDs (or not a valid range) */
#define SUBID_FORBID_RESERVED 0x2	/* a reserved interval */

/* Which forbidden IDs [start, start + count) touches: 0 none, else SUBID_FORBID_* bits. */
unsigned subid_config_forbidden(const struct subid_config *cfg, uint64_t start, uint64_t count);

/* Cross-key checks (pool inside ID space, count fits, no overlap with real IDs). 0 or -1, logged. */
int subid_config_validate(const struct subid_config *cfg, const char *name, const struct subid_log *log);

/*
 * Open path hostilely (absolute, O_NOFOLLOW, regular file, owned by
 * owner_uid, not group/other-writable), then defaults + parse + validate.
 * ld_path is login.defs.  0 on success; -1 on any problem (logged), with cfg
 * freed.  The production callers pass owner_uid 0.
 */
int subid_config_load(struct subid_config *cfg, const char *path, const char *ld_path,
		      uid_t owner_uid, const struct subid_log *log);

void subid_config_free(struct subid_config *cfg);

/* Open a file for reading the way config and store files must be opened. fd or -1 (errno set; EPERM for an unsafe owner/mode). */
int subid_open_trusted(const char *path, uid_t owner_uid);

#define SUBID_INDEX_NAME "ranges.idx"

/*
 * The index path for a writer store at db_path: ranges.idx in the directory
 * above the store's own (/var/lib/subid/private/subid.db ->
 * /var/lib/subid/ranges.idx).  malloc'ed; NULL when out of memory.
 */
char *subid_default_index_path(const char *db_path);

/*
 * Can only root (or owner_uid) change the directories above path?  Each is
 * owned by one of them and not writable by group/others unless sticky.  0
 * yes, 1 a directory is missing, -1 error, -2 no.
 */
int subid_dir_trusted(const char *path, uid_t owner_uid);

/* Strict unsigned parse: decimal only, no sign, no junk, no overflow. */
bool subid_parse_u64(const char *s, uint64_t *out);

#endif
