/*
 * Logging seam of the core: the PAM module logs through pam_syslog, the
 * libsubid plugin through syslog(3) without openlog, subidctl to stderr.
 * The core never picks a destination itself.
 */
#ifndef SUBID_LOG_H
#define SUBID_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

struct subid_log {
	void (*fn)(void *ctx, int prio, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
	void *ctx;
	int debug;		/* LOG_DEBUG lines are dropped unless set */
};

void subid_log(const struct subid_log *log, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A caller-supplied string (user name, module argument) made safe for one
 * log line: control bytes, spaces, quotes and backslashes become '?' (a
 * value cannot end early and forge a key=value pair), and it is cut at
 * len - 4 bytes with "...".  Returns buf.
 */
#define SUBID_LOG_STR_MAX 260
const char *subid_log_str(const char *s, char *buf, size_t len);

/* syslog(3) with LOG_AUTHPRIV and no openlog(): the host keeps its ident. */
void subid_log_syslog(void *ctx, int prio, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * The plugin's: like subid_log_syslog, except inside a set-user-ID or
 * otherwise secure-execution host (newuidmap: getauxval(AT_SECURE)), whose
 * argv[0], and so the default syslog tag, the caller chose: there the line
 * goes out under the fixed ident "libsubid_subid".
 */
void subid_log_syslog_plugin(void *ctx, int prio, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
