#include "config.h"

#include <stddef.h>
#include <string.h>

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
