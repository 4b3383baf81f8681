#include "config.h"

#include <stddef.h>

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
