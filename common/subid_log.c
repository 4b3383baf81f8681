#include "config.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>

#include "subid_log.h"

void
subid_log(const struct subid_log *log, int prio, const char *fmt, ...)
{
	va_list ap;

	if (log == NULL || log->fn == NULL)
		return;
	if (prio == LOG_DEBUG && !log->debug)
		return;
	va_start(ap, fmt);
	log->fn(log->ctx, prio, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 0))) void
subid_log_syslog(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	vsyslog(LOG_AUTHPRIV | prio, fmt, ap);
}

static pthread_mutex_t ident_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 3, 0))) void
subid_log_syslog_plugin(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	if (getauxval(AT_SECURE) == 0) {
		vsyslog(LOG_AUTHPRIV | prio, fmt, ap);
		return;
	}
	/*
	 * openlog() sets the ident for the whole process: set ours for this
	 * one line and drop it again (closelog() forgets it), so the host's
	 * own lines keep what they had.
	 */
	pthread_mutex_lock(&ident_lock);
	openlog("libsubid_subid", LOG_PID, LOG_AUTHPRIV);
	vsyslog(LOG_AUTHPRIV | prio, fmt, ap);
	closelog();
	pthread_mutex_unlock(&ident_lock);
}

const char *
subid_log_str(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	if (len < 8)
		return "?";
	if (s == NULL)
		s = "(null)";
	for (; s[i] != '\0' && i < len - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		/* no control characters, and nothing that could end a value and forge a key=value pair */
		buf[i] = (c < 0x20 || c == 0x7f || c == ' ' || c == '"' || c == '\\') ? '?' : (char)c;
	}
	if (s[i] != '\0')
		memcpy(buf + len - 4, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}
