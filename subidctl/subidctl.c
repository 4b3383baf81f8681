/*
 * subidctl: what an admin runs to see and change subid's allocations,
 * over the same core, config and store as pam_subid and the plugin.
 *
 *   subidctl [-c CONF] list [--json]
 *   subidctl [-c CONF] show [--json] USER|UID
 *   subidctl [-c CONF] allocate [--force] USER
 *   subidctl [-c CONF] release --yes USER|UID
 *   subidctl [-c CONF] export [--subgid]
 *   subidctl [-c CONF] check
 *   subidctl [-c CONF] import [SUBUID [SUBGID]]
 *   subidctl [-c CONF] reclaim [--yes]
 *
 * Exit status: 0 done, 1 nothing to show or do (unknown owner, no ranges,
 * skipped account) or problems found (check, import), 2 usage, config,
 * store or directory error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "subid_backend.h"
#include "subid_files.h"
#include "subid_index.h"
#include "subid_user.h"
#include "subidctl.h"

static const char usage_text[] =
	"Usage: subidctl [-c CONF] COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Commands:\n"
	"  list [--json]              every owner's ranges\n"
	"  show [--json] USER|UID     one owner's ranges and when they were granted\n"
	"  allocate [--force] USER    grant ranges now, by the rules a login follows;\n"
	"                             --force also serves an account a login skips\n"
	"                             (below uid_min, skip_users, skip_groups)\n"
	"  release --yes USER|UID     drop the owner's ranges (directory and replica\n"
	"                             with store = ldap)\n"
	"  export [--subgid]          the store in /etc/subuid (or /etc/subgid) format\n"
	"  check                      overlaps, orphans, ranges over real IDs, unsafe\n"
	"                             files, and whether the plugin would be used\n"
	"  import [SUBUID [SUBGID]]   take over the allocations in shadow's files\n"
	"                             (default /etc/subuid, /etc/subgid)\n"
	"  reclaim [--yes]            release the ranges of owners that no longer\n"
	"                             exist (without --yes: only say which)\n"
	"  reindex                    publish the read index again from the store\n"
	"                             (moving a store of the old layout in first)\n"
	"\n"
	"Options:\n"
	"  -c, --config CONF          configuration file (default " SUBID_CONF_PATH ")\n"
	"  -h, --help                 this text\n"
	"  -V, --version              the version\n"
	"\n"
	"Exit status: 0 done, 1 nothing to show or do, or problems found, 2 usage\n"
	"or error.\n";

__attribute__((format(printf, 3, 0))) static void
log_stderr(void *ctx, int prio, const char *fmt, va_list ap)
{
	va_list ap2;

	(void)ctx;
	if (prio == LOG_DEBUG)
		return;
	/* grants, releases and errors also go where a login's grants go */
	va_copy(ap2, ap);
	vsyslog(LOG_AUTHPRIV | prio, fmt, ap2);
	va_end(ap2);
	fputs("subidctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* "subidctl: MSG[: ARG]", then the usage; exit status 2. */
static int
usage_error(const char *msg, const char *arg)
{
	char safe[SUBID_LOG_STR_MAX];

	if (arg != NULL)
		fprintf(stderr, "subidctl: %s: %s\n\n", msg, subid_log_str(arg, safe, sizeof(safe)));
	else
		fprintf(stderr, "subidctl: %s\n\n", msg);
	fputs(usage_text, stderr);
	return EXIT_ERROR;
}

static const char *
kind_word(enum subid_kind k)
{
	return k == SUBID_KIND_UID ? "subuid" : "subgid";
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 when there is none. */
static size_t
utf8_seq(const unsigned char *p)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the terminating NUL */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;	/* overlong, out of range, or a surrogate */
	return n;
}

/*
 * A JSON string: quotes, backslashes and control bytes escaped.  JSON is
 * Unicode, but a name from NSS is bytes: a byte that is not part of
 * well-formed UTF-8 is written as the code point of the same number
 * (\u0080-\u00ff, its Latin-1 reading), so the output always parses.
 */
static void
json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

	fputc('"', fp);
	while (*p != '\0') {
		size_t n = utf8_seq(p);

		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			fprintf(fp, "\\u%04x", *p);
		else
			fwrite(p, 1, n, fp);
		p += n > 0 ? n : 1;
	}
	fputc('"', fp);
}

static void
iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
}

/* A name safe for a table cell (no control bytes, no spaces). */
static const char *
cell(const char *s, char *buf, size_t len)
{
	if (s == NULL)
		return "-";
	subid_log_str(s, buf, len);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == ' ')
			*p = '?';
	return buf;
}

struct print_ctx {
	struct ctl *c;
	size_t n;
	bool only;	/* show: only rows of uid */
	uid_t uid;
	const char *name;	/* show: uid's name from NSS, or NULL */
	int format;	/* 0 table, 1 json, 2 export */
	enum subid_kind kind;
	const char *source;	/* "local", "ldap" (the store) or "files" */
};

static int
print_row(const struct subid_row *r, void *vctx)
{
	struct print_ctx *p = vctx;
	char when[32], name[SUBID_LOG_STR_MAX];

	if (p->only && r->uid != p->uid)
		return 0;
	if (r->granted < 0)
		snprintf(when, sizeof(when), "-");	/* a file line: no grant time */
	else
		iso_time(r->granted, when, sizeof(when));
	switch (p->format) {
	case 1:
		fputs(p->n == 0 ? "\n  " : ",\n  ", stdout);
		printf("{\"uid\": %u, \"name\": ", (unsigned)r->uid);
		if (r->name != NULL)
			json_str(stdout, r->name);
		else
			fputs("null", stdout);
		printf(", \"kind\": \"%s\", \"start\": %" PRIu64 ", \"count\": %" PRIu64 ", \"granted\": ",
		       kind_word(r->kind), r->range.start, r->range.count);
		if (r->granted < 0)
			fputs("null", stdout);
		else
			printf("\"%s\"", when);
		printf(", \"source\": \"%s\"}", p->source);
		break;
	case 2:
		if (r->kind != p->kind)
			return 0;
		/* shadow's format: the owner by name when it has one without ':' or newline, else the uid */
		if (r->name != NULL && r->name[0] != '\0' && strpbrk(r->name, ":\n") == NULL)
			printf("%s:%" PRIu64 ":%" PRIu64 "\n", r->name, r->range.start, r->range.count);
		else
			printf("%u:%" PRIu64 ":%" PRIu64 "\n", (unsigned)r->uid, r->range.start, r->range.count);
		break;
	default:
		if (p->n == 0)
			printf("%-10s %-20s %-6s %-11s %-8s %-20s %s\n", "UID", "NAME", "KIND", "START", "COUNT",
			       "GRANTED", "SOURCE");
		printf("%-10u %-20s %-6s %-11" PRIu64 " %-8" PRIu64 " %-20s %s\n", (unsigned)r->uid,
		       cell(r->name, name, sizeof(name)), kind_word(r->kind), r->range.start, r->range.count, when,
		       p->source);
	}
	p->n++;
	return 0;
}

static int
copy_row(const struct subid_row *r, void *vctx)
{
	struct row_vec *rows = vctx;
	struct subid_row *nv = rows->v;

	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? 2 * rows->cap : 256;

		if ((nv = realloc(rows->v, cap * sizeof(*nv))) == NULL)
			return 1;
		rows->v = nv;
		rows->cap = cap;
	}
	nv[rows->n] = *r;
	if (r->name != NULL && (nv[rows->n].name = strdup(r->name)) == NULL)
		return 1;
	rows->n++;
	return 0;
}

/*
 * As a user (the writer store is root's alone): the rows of the published
 * index, named as NSS names their owners now, with no grant time.
 */
static int
index_rows(struct ctl *c, struct row_vec *rows)
{
	struct subid_index *ix = NULL;
	int rc = subid_index_open(&ix, c->cfg.index_path, c->paths.trusted_uid, &c->log);

	if (rc == SUBID_NONE)
		return 0;
	if (rc != SUBID_OK)
		return -1;
	for (size_t i = 0; i < subid_index_count(ix) && rc == 0; i++) {
		struct subid_index_owner o;
		struct subid_user u = { 0, 0, NULL };

		if (subid_index_owner_at(ix, i, &o) != SUBID_OK) {
			subid_log(&c->log, LOG_ERR, "index refused path=%s reason=\"malformed record\"", c->cfg.index_path);
			rc = -1;
			break;
		}
		if (subid_user_lookup_uid(o.uid, &u) < 0)
			u.name = NULL;
		for (int k = 0; k < 2 && rc == 0; k++) {
			struct subid_row r = { o.uid, k == 0 ? SUBID_KIND_UID : SUBID_KIND_GID, o.r[k], u.name, -1 };

			if (o.r[k].count != 0 && copy_row(&r, rows) != 0) {
				fprintf(stderr, "subidctl: out of memory\n");
				rc = -1;
			}
		}
		subid_user_free(&u);
	}
	subid_index_close(ix);
	if (rc != 0)
		ctl_rows_free(rows);
	return rc;
}

int
ctl_rows(struct ctl *c, struct row_vec *rows)
{
	int rc;

	rows->v = NULL;
	rows->n = rows->cap = 0;
	if (geteuid() != c->paths.trusted_uid)
		return index_rows(c, rows);
	rc = subid_core_rows(&c->cfg, &c->paths, &c->log, copy_row, rows);
	if (rc == SUBID_NONE)
		return 0;
	if (rc != SUBID_OK) {
		if (rc == 1)
			fprintf(stderr, "subidctl: out of memory\n");
		ctl_rows_free(rows);
		return -1;
	}
	return 0;
}

void
ctl_rows_free(struct row_vec *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		free((char *)rows->v[i].name);
	free(rows->v);
	rows->v = NULL;
	rows->n = rows->cap = 0;
}

/* show: uid's lines of /etc/subuid and /etc/subgid, source "files". */
static int
print_file_lines(struct ctl *c, struct print_ctx *p)
{
	p->source = "files";
	for (int k = SUBID_KIND_UID; k <= SUBID_KIND_GID; k++) {
		struct subid_file f = { NULL, 0, 0 };

		if (subid_file_load(k == SUBID_KIND_UID ? c->paths.subuid : c->paths.subgid, &f, &c->log) != 0)
			return -1;
		for (size_t i = 0; i < f.n; i++) {
			struct subid_row r;

			/* the core's rule: an owner of digits is a UID, any other a name */
			if (!subid_line_names(&f.v[i], p->name, true, p->uid))
				continue;
			r.uid = p->uid;
			r.kind = (enum subid_kind)k;
			r.range.start = f.v[i].start;
			r.range.count = f.v[i].count;
			r.name = f.v[i].owner;
			r.granted = -1;
			print_row(&r, p);
		}
		subid_file_free(&f);
	}
	return 0;
}

static int
cmd_print(struct ctl *c, struct print_ctx *p)
{
	struct row_vec rows;

	/* root reads the writer store (names, grant times); a user the published index */
	if (ctl_rows(c, &rows) != 0)
		return EXIT_ERROR;
	if (p->format == 1)
		fputs("[", stdout);
	p->source = subid_backend_for(&c->cfg)->name;
	for (size_t i = 0; i < rows.n; i++)
		print_row(&rows.v[i], p);
	ctl_rows_free(&rows);
	/* show: also the owner's lines in the files, which the plugin serves too (files = yes) */
	if (p->only && c->cfg.files && print_file_lines(c, p) != 0)
		return EXIT_ERROR;
	if (p->format == 1)
		fputs(p->n > 0 ? "\n]\n" : "]\n", stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "subidctl: write error: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	return p->only && p->n == 0 ? EXIT_NONE : EXIT_DONE;	/* export and list: empty is fine */
}

/* USER or UID to a uid: a name NSS knows, or a decimal uid (known or not, e.g. an orphan). */
static int
resolve(struct ctl *c, const char *arg, uid_t *uid)
{
	struct subid_user u;
	uint64_t v;
	int rc = subid_user_lookup(arg, true, &u);
	char safe[SUBID_LOG_STR_MAX];

	if (rc == 0) {
		*uid = u.uid;
		subid_user_free(&u);
		return 0;
	}
	if (rc == 1 && subid_parse_u64(arg, &v) && v < SUBID_ID_LIMIT) {
		*uid = (uid_t)v;
		return 0;
	}
	if (rc == 1)
		fprintf(stderr, "subidctl: %s: no such user\n", subid_log_str(arg, safe, sizeof(safe)));
	else
		subid_log(&c->log, LOG_ERR, "error owner=%s reason=\"user lookup failed\"",
			  subid_log_str(arg, safe, sizeof(safe)));
	return rc == 1 ? 1 : -1;
}

/* reindex: the writer store's rows published again as the read index. */
static int
cmd_reindex(struct ctl *c)
{
	size_t n;

	if (subid_core_reindex(&c->cfg, &c->paths, &c->log, &n) != SUBID_OK)
		return EXIT_ERROR;
	printf("reindex: %zu owner%s published to %s\n", n, n == 1 ? "" : "s", c->cfg.index_path);
	return EXIT_DONE;
}

static int
cmd_allocate(struct ctl *c, const char *user, bool force)
{
	struct subid_grant ur, gr;

	enum subid_ensure_rc rc;

	switch (rc = subid_core_ensure(&c->cfg, &c->paths, user, force ? SUBID_ENSURE_FORCE : 0, &c->log, &ur, &gr)) {
	case SUBID_ENSURE_OK:
	case SUBID_ENSURE_OK_UNMIRRORED:
		if (ur.count == 0)
			printf("%s: ranges in %s and %s\n", user, c->paths.subuid, c->paths.subgid);
		else
			printf("%s: subuid %" PRIu64 " %" PRIu64 ", subgid %" PRIu64 " %" PRIu64 "\n", user,
			       ur.start, ur.count, gr.start, gr.count);
		if (rc == SUBID_ENSURE_OK_UNMIRRORED) {
			/* Docker and LXC read only the files: the admin must know they lack the lines */
			fprintf(stderr, "subidctl: %s: granted, but mirror_files could not write the ranges to %s "
				"and %s (see syslog)\n", user, c->paths.subuid, c->paths.subgid);
			return EXIT_ERROR;
		}
		return EXIT_DONE;
	case SUBID_ENSURE_SKIPPED:
		fprintf(stderr, "subidctl: %s is an account a login skips (root, uid_min, skip_users or "
			"skip_groups); --force serves it anyway, except root\n", user);
		return EXIT_NONE;
	case SUBID_ENSURE_REFUSED:
		fprintf(stderr, "subidctl: %s: refused: a numeric user name would also name the account "
			"whose UID it spells in /etc/subuid and every program reading it\n", user);
		return EXIT_ERROR;
	case SUBID_ENSURE_UNKNOWN_USER:
		fprintf(stderr, "subidctl: %s: no such user\n", user);
		return EXIT_NONE;
	default:
		return EXIT_ERROR;
	}
}

static int
cmd_release(struct ctl *c, const char *arg)
{
	uid_t uid;
	int rc;

	rc = resolve(c, arg, &uid);
	if (rc != 0)
		return rc < 0 ? EXIT_ERROR : EXIT_NONE;
	rc = subid_core_release(&c->cfg, &c->paths, uid, &c->log);
	if (rc < 0)
		return EXIT_ERROR;
	if (rc == 1) {
		fprintf(stderr, "subidctl: uid %u has no ranges\n", (unsigned)uid);
		return EXIT_NONE;
	}
	printf("uid %u: ranges released\n", (unsigned)uid);
	return EXIT_DONE;
}

/* What each command accepts: option letters and how many arguments. */
struct command {
	const char *name;
	const char *opts;	/* j json, f force, y yes, g subgid */
	int min_args, max_args;
};

static const struct command commands[] = {
	{ "list", "j", 0, 0 },
	{ "show", "j", 1, 1 },
	{ "allocate", "f", 1, 1 },
	{ "release", "y", 1, 1 },
	{ "export", "g", 0, 0 },
	{ "check", "", 0, 0 },
	{ "import", "", 0, 2 },
	{ "reclaim", "y", 0, 0 },
	{ "reindex", "", 0, 0 },
};

int
main(int argc, char **argv)
{
	static const struct option top_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option cmd_opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "yes", no_argument, NULL, 'y' },
		{ "subgid", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = NULL;
	struct ctl c;
	struct print_ctx p;
	struct subid_user owner = { 0, 0, NULL };
	char safe[SUBID_LOG_STR_MAX];
	const char *conf = SUBID_CONF_PATH;
	bool json = false, force = false, yes = false, subgid = false;
	int opt, rc, nargs;
	char **args;

	memset(&c, 0, sizeof(c));
	c.paths = subid_default_paths;
	c.log.fn = log_stderr;
	/* "+": stop at the command; its options are parsed below */
	while ((opt = getopt_long(argc, argv, "+c:hV", top_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_DONE;
		case 'V':
			printf("subidctl %s\n", PACKAGE_VERSION);
			return EXIT_DONE;
		default:
			fputs(usage_text, stderr);
			return EXIT_ERROR;
		}
	}
	if (optind >= argc)
		return usage_error("no command given", NULL);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		return usage_error("unknown command", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", cmd_opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage_text, stdout);
			return EXIT_DONE;
		}
		if (opt == '?' || strchr(cmd->opts, opt) == NULL)
			return usage_error("option not known to this command", cmd->name);
		json = json || opt == 'j';
		force = force || opt == 'f';
		yes = yes || opt == 'y';
		subgid = subgid || opt == 'g';
	}
	args = argv + optind;
	nargs = argc - optind;
	if (nargs < cmd->min_args || nargs > cmd->max_args)
		return usage_error("wrong number of arguments for", cmd->name);
	if (strcmp(cmd->name, "release") == 0 && !yes)
		return usage_error("release drops ranges that running containers may use: add --yes", NULL);

	c.paths.conf = conf;
	c.cfg_loaded = subid_config_load(&c.cfg, conf, c.paths.login_defs, c.paths.trusted_uid, &c.log) == 0;
	if (!c.cfg_loaded && strcmp(cmd->name, "check") != 0)
		return EXIT_ERROR;
	memset(&p, 0, sizeof(p));
	p.c = &c;
	if (strcmp(cmd->name, "list") == 0 || strcmp(cmd->name, "show") == 0) {
		p.format = json ? 1 : 0;
		if (nargs == 1) {
			p.only = true;
			rc = resolve(&c, args[0], &p.uid);
			if (rc != 0) {
				rc = rc < 0 ? EXIT_ERROR : EXIT_NONE;
				goto out;
			}
			if (subid_user_lookup_uid(p.uid, &owner) == 0)
				p.name = owner.name;
		}
		rc = cmd_print(&c, &p);
		if (p.only && rc == EXIT_NONE)
			fprintf(stderr, "subidctl: %s: no ranges\n", subid_log_str(args[0], safe, sizeof(safe)));
	} else if (strcmp(cmd->name, "export") == 0) {
		p.format = 2;
		p.kind = subgid ? SUBID_KIND_GID : SUBID_KIND_UID;
		rc = cmd_print(&c, &p);
	} else if (strcmp(cmd->name, "allocate") == 0) {
		rc = cmd_allocate(&c, args[0], force);
	} else if (strcmp(cmd->name, "release") == 0) {
		rc = cmd_release(&c, args[0]);
	} else if (strcmp(cmd->name, "check") == 0) {
		rc = cmd_check(&c);
	} else if (strcmp(cmd->name, "import") == 0) {
		rc = cmd_import(&c, nargs > 0 ? args[0] : c.paths.subuid, nargs > 1 ? args[1] : c.paths.subgid);
	} else if (strcmp(cmd->name, "reindex") == 0) {
		rc = cmd_reindex(&c);
	} else {
		rc = cmd_reclaim(&c, yes);
	}
out:
	subid_user_free(&owner);
	if (c.cfg_loaded)
		subid_config_free(&c.cfg);
	return rc;
}
