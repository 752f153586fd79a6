/* The core's one way to log: formats a line and hands it to the context's sink. */
#include <stdarg.h>
#include <apr_strings.h>

#include "acme_core.h"
#include "acme_text.h"

/* Long enough for a URL, a CA's problem detail and some context. */
#define ACME_LOG_LINE_MAX 2048

apr_status_t acme_log_os_error(apr_status_t rv)
{
    switch (rv) {
    case APR_EGENERAL:
    case APR_ENOTIMPL:
    case APR_TIMEUP:
    case APR_INCOMPLETE:
    case APR_EINCOMPLETE:
        return 0;
    default:
        return rv;
    }
}

void acme_log(const acme_ctx_t *ctx, acme_log_level_t level, apr_status_t rv,
              const char *fmt, ...)
{
    char line[ACME_LOG_LINE_MAX];
    va_list ap;
    int len;

    /* Skip formatting entirely for messages nobody will see. */
    if (!ctx || !ctx->log || (int)level > ctx->log_level) {
        return;
    }
    va_start(ap, fmt);
    len = apr_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (len > 0 && (apr_size_t)len == sizeof(line) - 1) {
        line[acme_text_utf8_end(line, (apr_size_t)len)] = '\0';   /* cut: a character whole */
    }
    /* logtag: from caller (the format acme_log() was given) */
    ctx->log(ctx->log_baton, level, acme_log_os_error(rv), line);
}

