/* Problem records (RFC 7807 / RFC 8555 section 6.7) shared by every part of libacme. */
#include <stdarg.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "acme_core.h"

void acme_problem_clear(acme_problem_t *prob)
{
    if (prob) {
        memset(prob, 0, sizeof(*prob));
    }
}

apr_status_t acme_problem_set(acme_problem_t *prob, apr_pool_t *p, apr_status_t status,
                              const char *type, const char *fmt, ...)
{
    va_list ap;

    if (!prob) {
        return status;
    }
    prob->status = status;
    prob->type = type ? apr_pstrdup(p, type) : NULL;
    va_start(ap, fmt);
    prob->detail = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return status;
}

const char *acme_problem_str(const acme_problem_t *prob, apr_pool_t *p)
{
    const char *type, *detail, *line;

    if (!prob) {
        return "no problem";
    }
    type = acme_problem_short_type(prob);
    if (!type) {
        type = prob->type;
    }
    detail = prob->detail;
    if (!detail || !*detail) {
        char buf[120];
        detail = prob->status == APR_SUCCESS
            ? "no error"
            : apr_pstrdup(p, apr_strerror(prob->status, buf, sizeof(buf)));
    }
    line = (type && *type) ? apr_pstrcat(p, type, ": ", detail, NULL) : detail;
    if (prob->http_status > 0) {
        line = apr_psprintf(p, "%s [HTTP %d]", line, prob->http_status);
    }
    if (prob->url && *prob->url) {
        line = apr_pstrcat(p, line, " (", prob->url, ")", NULL);
    }
    return line;
}

const char *acme_problem_short_type(const acme_problem_t *prob)
{
    size_t ns_len = sizeof(ACME_ERROR_NS) - 1;

    if (!prob || !prob->type || strncmp(prob->type, ACME_ERROR_NS, ns_len) != 0) {
        return NULL;
    }
    return prob->type + ns_len;
}

int acme_problem_is(const acme_problem_t *prob, const char *short_type)
{
    const char *type = acme_problem_short_type(prob);

    return type && short_type && strcmp(type, short_type) == 0;
}

int acme_problem_refuses_replaces(const acme_problem_t *prob)
{
    /* Problems that would be the same without "replaces". */
    static const char *const unrelated[] = {
        "accountDoesNotExist", "rateLimited", "badNonce", "userActionRequired", NULL
    };
    int i;

    if (!prob || prob->http_status < 400) {
        return 0;
    }
    for (i = 0; unrelated[i]; ++i) {
        if (acme_problem_is(prob, unrelated[i])) {
            return 0;
        }
    }
    return 1;
}

int acme_problem_account_gone(const acme_problem_t *prob, int carried_replaces)
{
    return acme_problem_is(prob, "accountDoesNotExist")
           || (!carried_replaces && acme_problem_is(prob, "unauthorized"));
}

int acme_problem_lookup_means_create(const acme_problem_t *prob)
{
    return acme_problem_is(prob, "accountDoesNotExist")
           || acme_problem_is(prob, "externalAccountRequired")
           /* a plain 404 ("not found", no problem document) says the same */
           || (prob && prob->http_status == 404 && !acme_problem_short_type(prob));
}
