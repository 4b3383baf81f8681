#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "subid_config.h"

bool
subid_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts "-1", "+1", leading spaces and hex: we do not. */
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* ---- login.defs ------------------------------------------------------------ */

int
subid_logindefs_load(const char *path, struct subid_logindefs *ld)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	ld->uid_min = ld->gid_min = 1000;
	ld->uid_max = ld->gid_max = 60000;
	fp = fopen(path, "re");
	if (fp == NULL)
		return errno == ENOENT ? 0 : -1;
	errno = 0;
	while (getline(&line, &cap, fp) != -1) {
		char *key, *val, *save = NULL;
		uint64_t v;

		key = strtok_r(line, " \t\r\n", &save);
		if (key == NULL || key[0] == '#')
			continue;
		val = strtok_r(NULL, " \t\r\n", &save);
		if (val == NULL || !subid_parse_u64(val, &v) || v > SUBID_ID_LIMIT)
			continue;
		if (strcmp(key, "UID_MIN") == 0)
			ld->uid_min = v;
		else if (strcmp(key, "UID_MAX") == 0)
			ld->uid_max = v;
		else if (strcmp(key, "GID_MIN") == 0)
			ld->gid_min = v;
		else if (strcmp(key, "GID_MAX") == 0)
			ld->gid_max = v;
	}
	if (ferror(fp))
		rc = -1;
	free(line);
	fclose(fp);
	return rc;
}

/* ---- config ------------------------------------------------------------------ */

static void
strlist_free(struct subid_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
subid_config_free(struct subid_config *cfg)
{
	free(cfg->db_path);
	cfg->db_path = NULL;
	free(cfg->index_path);
	cfg->index_path = NULL;
	strlist_free(&cfg->skip_users);
	strlist_free(&cfg->skip_groups);
	free(cfg->reserved);
	cfg->reserved = NULL;
	cfg->n_reserved = 0;
	free(cfg->ldap.uri);
	free(cfg->ldap.base);
	free(cfg->ldap.user_base);
	free(cfg->ldap.bind_dn);
	free(cfg->ldap.bind_pw_file);
	free(cfg->ldap.ca_file);
	memset(&cfg->ldap, 0, sizeof(cfg->ldap));
}

int
subid_config_defaults(struct subid_config *cfg, const struct subid_logindefs *ld)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->store = SUBID_BACKEND_LOCAL;
	cfg->range_min = SUBID_DEFAULT_RANGE_MIN;
	cfg->range_max = SUBID_DEFAULT_RANGE_MAX;
	cfg->range_count = SUBID_DEFAULT_RANGE_COUNT;
	cfg->uid_min = ld->uid_min;
	cfg->files = true;
	cfg->logindefs = *ld;
	cfg->ldap.timeout = 5;
	cfg->db_path = strdup(SUBID_DB_PATH);
	return cfg->db_path == NULL ? -1 : 0;
}

void
subid_config_real_ids(const struct subid_config *cfg, struct subid_interval *out)
{
	uint64_t top = 65535;

	if (cfg->logindefs.uid_max > top)
		top = cfg->logindefs.uid_max;
	if (cfg->logindefs.gid_max > top)
		top = cfg->logindefs.gid_max;
	out->start = 0;
	out->end = top + 1;
}

bool
subid_config_forbidden_next(const struct subid_config *cfg, size_t *pos, struct subid_interval *iv, bool *is_real)
{
	if (*pos > cfg->n_reserved)
		return false;
	*is_real = *pos == 0;
	if (*is_real)
		subid_config_real_ids(cfg, iv);
	else
		*iv = cfg->reserved[*pos - 1];
	(*pos)++;
	return true;
}

unsigned
subid_config_forbidden(const struct subid_config *cfg, uint64_t start, uint64_t count)
{
	struct subid_interval r = { start, start + count }, iv;
	unsigned hit = 0;
	bool is_real;

	if (!subid_range_end(start, count, &r.end))
		return SUBID_FORBID_REAL;	/* not a range at all: nothing may hold it */
	for (size_t pos = 0; subid_config_forbidden_next(cfg, &pos, &iv, &is_real);)
		if (subid_interval_overlap(&r, &iv))
			hit |= is_real ? SUBID_FORBID_REAL : SUBID_FORBID_RESERVED;
	return hit;
}

/* A user or group name as it may appear in a list: printable, no separators. */
static bool
valid_name(const char *s)
{
	size_t n = strnlen(s, SUBID_CONF_MAX_LINE);

	if (n == 0 || n >= 256)
		return false;
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s) || *s == ',' || *s == ':')
			return false;
	return true;
}

/* "a, b,c" -> list.  Returns NULL on success, else a problem description. */
static const char *
parse_list(char *val, struct subid_strlist *out)
{
	struct subid_strlist l = { NULL, 0 };
	char *save = NULL, *tok;

	for (tok = strtok_r(val, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char **nv;

		tok = trim(tok);
		if (*tok == '\0')
			continue;
		if (!valid_name(tok)) {
			strlist_free(&l);
			return "invalid name in list";
		}
		if (l.n >= SUBID_CONF_MAX_LIST) {
			strlist_free(&l);
			return "too many names in list";
		}
		nv = realloc(l.v, (l.n + 1) * sizeof(*nv));
		if (nv == NULL || (nv[l.n] = strdup(tok)) == NULL) {
			if (nv != NULL)
				l.v = nv;
			strlist_free(&l);
			return "out of memory";
		}
		l.v = nv;
		l.n++;
	}
	strlist_free(out);
	*out = l;
	return NULL;
}

/* "A-B, C-D" (inclusive bounds) -> intervals. */
static const char *
parse_intervals(char *val, struct subid_config *cfg)
{
	struct subid_interval *v = NULL;
	size_t n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(val, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *dash;
		uint64_t a, b;
		struct subid_interval *nv;

		tok = trim(tok);
		if (*tok == '\0')
			continue;
		dash = strchr(tok, '-');
		if (dash == NULL) {
			free(v);
			return "expected START-END";
		}
		*dash = '\0';
		if (!subid_parse_u64(trim(tok), &a) || !subid_parse_u64(trim(dash + 1), &b) ||
		    a > b || b >= SUBID_ID_LIMIT) {
			free(v);
			return "bad interval (START-END, inclusive, START <= END < 4294967295)";
		}
		if (n >= SUBID_CONF_MAX_LIST) {
			free(v);
			return "too many intervals";
		}
		nv = realloc(v, (n + 1) * sizeof(*nv));
		if (nv == NULL) {
			free(v);
			return "out of memory";
		}
		v = nv;
		v[n].start = a;
		v[n].end = b + 1;
		n++;
	}
	free(cfg->reserved);
	cfg->reserved = v;
	cfg->n_reserved = n;
	return NULL;
}

static const char *
parse_bool(const char *val, bool *out)
{
	if (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
		*out = true;
	else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
		*out = false;
	else
		return "expected yes or no";
	return NULL;
}

static const char *
parse_id(const char *val, uint64_t *out)
{
	uint64_t v;

	if (val[0] == '-')
		return "negative number";
	if (!subid_parse_u64(val, &v))
		return "not a decimal number";
	if (v > SUBID_ID_LIMIT)
		return "number out of range (at most 4294967295)";
	*out = v;
	return NULL;
}

/* Replace *dst with a copy of val (absolute path when path is set). */
static const char *
set_string(char **dst, const char *val, bool path)
{
	char *p;

	if (path && val[0] != '/')
		return "must be an absolute path";
	if ((p = strdup(val)) == NULL)
		return "out of memory";
	free(*dst);
	*dst = p;
	return NULL;
}

static const char *
parse_ldap(struct subid_config *cfg, const char *key, const char *val)
{
	struct subid_ldap_config *l = &cfg->ldap;

	if (strcmp(key, "ldap_uri") == 0)
		return set_string(&l->uri, val, false);
	if (strcmp(key, "ldap_base") == 0)
		return set_string(&l->base, val, false);
	if (strcmp(key, "ldap_user_base") == 0)
		return set_string(&l->user_base, val, false);
	if (strcmp(key, "ldap_bind_dn") == 0)
		return set_string(&l->bind_dn, val, false);
	if (strcmp(key, "ldap_bind_pw_file") == 0)
		return set_string(&l->bind_pw_file, val, true);
	if (strcmp(key, "ldap_ca_file") == 0)
		return set_string(&l->ca_file, val, true);
	if (strcmp(key, "ldap_tls") == 0) {
		if (strcmp(val, "no") == 0)
			l->tls = SUBID_LDAP_TLS_NO;
		else if (strcmp(val, "starttls") == 0)
			l->tls = SUBID_LDAP_TLS_STARTTLS;
		else if (strcmp(val, "ldaps") == 0)
			l->tls = SUBID_LDAP_TLS_LDAPS;
		else
			return "expected no, starttls or ldaps";
		return NULL;
	}
	if (strcmp(key, "ldap_attr_map") == 0) {
		if (strcmp(val, "sssd") == 0)
			l->map = SUBID_LDAP_MAP_SSSD;
		else if (strcmp(val, "freeipa") == 0)
			l->map = SUBID_LDAP_MAP_FREEIPA;
		else
			return "expected sssd or freeipa";
		return NULL;
	}
	if (strcmp(key, "ldap_lookup_on_miss") == 0)
		return parse_bool(val, &l->lookup_on_miss);
	if (strcmp(key, "ldap_timeout") == 0) {
		uint64_t v;

		if (!subid_parse_u64(val, &v) || v == 0 || v > 600)
			return "expected seconds, 1 to 600";
		l->timeout = v;
		return NULL;
	}
	return "unknown key";
}

/* One "key = value" line; returns NULL or the problem. */
static const char *
parse_line(struct subid_config *cfg, char *key, char *val)
{
	if (*val == '\0')
		return "empty value";
	if (strcmp(key, "store") == 0) {
		if (strcmp(val, "local") == 0)
			cfg->store = SUBID_BACKEND_LOCAL;
		else if (strcmp(val, "ldap") == 0)
			cfg->store = SUBID_BACKEND_LDAP;
		else
			return "unknown store (supported: local, ldap)";
		return NULL;
	}
	if (strcmp(key, "db_path") == 0 || strcmp(key, "index_path") == 0) {
		char **dst = key[0] == 'd' ? &cfg->db_path : &cfg->index_path, *p;

		if (val[0] != '/' || val[strlen(val) - 1] == '/')
			return key[0] == 'd' ? "db_path must be an absolute file path" : "index_path must be an absolute file path";
		if ((p = strdup(val)) == NULL)
			return "out of memory";
		free(*dst);
		*dst = p;
		return NULL;
	}
	if (strcmp(key, "range_min") == 0)
		return parse_id(val, &cfg->range_min);
	if (strcmp(key, "range_max") == 0)
		return parse_id(val, &cfg->range_max);
	if (strcmp(key, "range_count") == 0)
		return parse_id(val, &cfg->range_count);
	if (strcmp(key, "uid_min") == 0)
		return parse_id(val, &cfg->uid_min);
	if (strcmp(key, "files") == 0)
		return parse_bool(val, &cfg->files);
	if (strcmp(key, "mirror_files") == 0)
		return parse_bool(val, &cfg->mirror_files);
	if (strcmp(key, "skip_users") == 0)
		return parse_list(val, &cfg->skip_users);
	if (strcmp(key, "skip_groups") == 0)
		return parse_list(val, &cfg->skip_groups);
	if (strcmp(key, "reserved") == 0)
		return parse_intervals(val, cfg);
	if (strncmp(key, "ldap_", 5) == 0)
		return parse_ldap(cfg, key, val);
	return "unknown key";
}

int
subid_config_parse(struct subid_config *cfg, FILE *fp, const char *name, const struct subid_log *log)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int bad = 0;

	errno = 0;
	while ((len = getline(&line, &cap, fp)) != -1) {
		char *s, *eq, *key, *val;
		const char *problem;

		lineno++;
		if ((size_t)len > SUBID_CONF_MAX_LINE) {
			subid_log(log, LOG_ERR, "%s:%u: config error reason=\"line too long\"", name, lineno);
			bad++;
			continue;
		}
		if (memchr(line, '\0', (size_t)len) != NULL) {
			subid_log(log, LOG_ERR, "%s:%u: config error reason=\"NUL byte in line\"", name, lineno);
			bad++;
			continue;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			subid_log(log, LOG_ERR, "%s:%u: config error reason=\"expected key = value\"", name, lineno);
			bad++;
			continue;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		problem = *key == '\0' ? "missing key" : parse_line(cfg, key, val);
		if (problem != NULL) {
			char safe[SUBID_LOG_STR_MAX];

			subid_log(log, LOG_ERR, "%s:%u: config error key=%s reason=\"%s\"", name, lineno,
				  subid_log_str(*key ? key : "(none)", safe, 64), problem);
			bad++;
		}
	}
	free(line);
	if (ferror(fp)) {
		subid_log(log, LOG_ERR, "%s: config error reason=\"read error\"", name);
		return -1;
	}
	return bad;
}

/* Does every URI of a space-separated list use ldaps://? */
static bool
all_ldaps(const char *uris)
{
	const char *p = uris;

	while (*p != '\0') {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n > 0 && (n < 8 || strncasecmp(p, "ldaps://", 8) != 0))
			return false;
		p += n;
	}
	return true;
}

int
subid_config_validate(const struct subid_config *cfg, const char *name, const struct subid_log *log)
{
	struct subid_interval pool, real;

	if (cfg->range_count == 0) {
		subid_log(log, LOG_ERR, "%s: config error key=range_count reason=\"must be at least 1\"", name);
		return -1;
	}
	if (cfg->range_max > SUBID_ID_LIMIT) {
		subid_log(log, LOG_ERR, "%s: config error key=range_max reason=\"must be at most %llu\"", name,
			  (unsigned long long)SUBID_ID_LIMIT);
		return -1;
	}
	if (cfg->range_min >= cfg->range_max) {
		subid_log(log, LOG_ERR, "%s: config error key=range_min reason=\"%llu must be below range_max %llu\"", name,
			  (unsigned long long)cfg->range_min, (unsigned long long)cfg->range_max);
		return -1;
	}
	if (cfg->range_count > cfg->range_max - cfg->range_min) {
		subid_log(log, LOG_ERR, "%s: config error key=range_count reason=\"%llu is larger than the pool [%llu, %llu)\"", name,
			  (unsigned long long)cfg->range_count, (unsigned long long)cfg->range_min,
			  (unsigned long long)cfg->range_max);
		return -1;
	}
	if (cfg->store == SUBID_BACKEND_LDAP && (cfg->ldap.uri == NULL || cfg->ldap.base == NULL)) {
		subid_log(log, LOG_ERR, "%s: config error key=store reason=\"store = ldap needs ldap_uri "
			  "and ldap_base\"", name);
		return -1;
	}
	if (cfg->store == SUBID_BACKEND_LDAP && cfg->ldap.tls == SUBID_LDAP_TLS_LDAPS && !all_ldaps(cfg->ldap.uri)) {
		/* an ldap:// URI would talk in clear text whatever ldap_tls says */
		subid_log(log, LOG_ERR, "%s: config error key=ldap_tls reason=\"ldap_tls = ldaps needs every "
			  "ldap_uri to be ldaps://\"", name);
		return -1;
	}
	if (cfg->store == SUBID_BACKEND_LDAP && (cfg->ldap.bind_dn == NULL) != (cfg->ldap.bind_pw_file == NULL)) {
		subid_log(log, LOG_ERR, "%s: config error key=ldap_bind_dn reason=\"ldap_bind_dn and "
			  "ldap_bind_pw_file go together\"", name);
		return -1;
	}
	pool.start = cfg->range_min;
	pool.end = cfg->range_max;
	subid_config_real_ids(cfg, &real);
	if (subid_interval_overlap(&pool, &real)) {
		subid_log(log, LOG_ERR,
			  "%s: config error key=range_min reason=\"pool [%llu, %llu) overlaps real account IDs "
			  "0-%llu (login.defs UID_MAX/GID_MAX, nobody)\"", name,
			  (unsigned long long)pool.start, (unsigned long long)pool.end,
			  (unsigned long long)(real.end - 1));
		return -1;
	}
	return 0;
}

int
subid_open_trusted(const char *path, uid_t owner_uid)
{
	struct stat st;
	int fd;

	if (path == NULL || path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != owner_uid || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

char *
subid_default_index_path(const char *db_path)
{
	const char *end = strrchr(db_path, '/');
	char *out;

	/* back over the database's own directory (private/) to the one above it */
	while (end != NULL && end > db_path && end[-1] == '/')
		end--;
	if (end != NULL && end > db_path) {
		const char *p = end;

		while (p > db_path && p[-1] != '/')
			p--;
		end = p > db_path ? p - 1 : db_path;
	}
	if (end == NULL || end == db_path)
		return strdup("/" SUBID_INDEX_NAME);
	if (asprintf(&out, "%.*s/%s", (int)(end - db_path), db_path, SUBID_INDEX_NAME) < 0)
		return NULL;
	return out;
}

int
subid_dir_trusted(const char *path, uid_t owner_uid)
{
	char *copy, *real, *slash;
	size_t len;
	int rc = 0;

	if (path == NULL || path[0] != '/' || (copy = strdup(path)) == NULL)
		return -1;
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	real = realpath(copy, NULL);
	free(copy);
	if (real == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 1 : -1;
	len = strlen(real);
	/* "/", then every prefix that ends before a '/', then the directory itself */
	for (size_t i = 1; i <= len && rc == 0; i++) {
		struct stat st;
		char save;

		if (i != 1 && i != len && real[i] != '/')
			continue;
		save = real[i];
		real[i] = '\0';
		if (stat(real, &st) != 0)
			rc = -1;
		else if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != owner_uid) ||
			 ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0))
			rc = -2;
		real[i] = save;
	}
	free(real);
	return rc;
}

int
subid_config_load(struct subid_config *cfg, const char *path, const char *ld_path,
		  uid_t owner_uid, const struct subid_log *log)
{
	struct subid_logindefs ld;
	FILE *fp;
	int fd, bad;

	memset(cfg, 0, sizeof(*cfg));
	if (subid_logindefs_load(ld_path, &ld) != 0) {
		subid_log(log, LOG_ERR, "%s: config error reason=\"cannot read: %m\"", ld_path);
		return -1;
	}
	if (subid_config_defaults(cfg, &ld) != 0) {
		subid_log(log, LOG_CRIT, "out of memory");
		return -1;
	}
	fd = subid_open_trusted(path, owner_uid);
	if (fd < 0) {
		if (errno == EPERM)
			subid_log(log, LOG_ERR, "%s: config refused reason=\"not a regular file owned by uid %u, "
				  "or writable by group/others\"", path, (unsigned)owner_uid);
		else if (errno == ELOOP)
			subid_log(log, LOG_ERR, "%s: config refused reason=\"symbolic link\"", path);
		else
			subid_log(log, LOG_ERR, "%s: config error reason=\"cannot open: %m\"", path ? path : "(null)");
		goto fail;
	}
	fp = fdopen(fd, "re");
	if (fp == NULL) {
		close(fd);
		subid_log(log, LOG_CRIT, "%s: %m", path);
		goto fail;
	}
	bad = subid_config_parse(cfg, fp, path, log);
	fclose(fp);
	if (bad != 0)
		goto fail;
	if (cfg->index_path == NULL && (cfg->index_path = subid_default_index_path(cfg->db_path)) == NULL) {
		subid_log(log, LOG_CRIT, "out of memory");
		goto fail;
	}
	if (subid_config_validate(cfg, path, log) != 0)
		goto fail;
	return 0;
fail:
	subid_config_free(cfg);
	return -1;
}
