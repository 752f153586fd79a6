/* The text of the 503 a name without its first certificate answers
 * (acme_status_waiting_text): what it waits for, read from its status
 * record, and whether a time to come back can be promised. Every visitor
 * reads it: plain words and times only, never a URL (the CA's directory,
 * an account), a path, a hook or an error's own text; those are the
 * administrator's, on the status page and in the error log. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_status_record.h"
#include "acme_status.h"
#include "acme_dns_persist.h"

/* When HTTPS starts: "automatically <when>" with AcmeActivation auto; with
 * manual only at the administrator's graceful restart after <done>. Not
 * how to restart (the directive, apachectl): that is the administrator's,
 * on the status page and in acmectl show. */
static const char *starts_when(request_rec *r, const char *when, const char *done)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);

    return !rt || rt->activation_auto
           ? apr_pstrcat(r->pool, "automatically ", when, NULL)
           : apr_pstrcat(r->pool, done, " and the site's administrator restarts httpd", NULL);
}

/* While a dns-persist-01 record is missing or wrong nothing is asked of the
 * CA: the page says so. Not the record itself: its value names the ACME
 * account's URL, at the CA's address (the status page, acmectl show and the
 * error log show it). NULL when the job waits for nothing of the kind. */
static const char *waiting_for_record(request_rec *r, const char *first,
                                      const acme_status_record_t *st)
{
    if (!st || !st->activity || !strstr(st->activity, "dns-persist-01")
        || !acme_dns_persist_record_lines_in(r->pool, st->activity)->nelts) {
        return NULL;
    }
    return apr_psprintf(r->pool, "mod_acme: the certificate for %s waits for a DNS TXT record "
                        "(dns-persist-01): nothing is asked of the certificate authority "
                        "until the site's administrator %s (the server's error log names "
                        "it). mod_acme looks for it by itself; HTTPS for this site starts "
                        "%s.\n", first,
                        strstr(st->activity, "change it to:") ? "replaces the TXT record"
                                                              : "sets the TXT record",
                        starts_when(r, "after it is in place",
                                    "once it is in place, the certificate has arrived"));
}

/* While the CA's rate limit pauses new orders, or the CA does not answer,
 * nothing is being obtained: the page says what it waits for and until
 * when (the record's activity, ACME_ACTIVITY_*: only its times; the CA-down
 * activity's "(last error)" names the CA's address). NULL otherwise. */
static const char *waiting_for_ca(request_rec *r, const char *first,
                                  const acme_status_record_t *st)
{
    const char *since;

    const char *tail = apr_pstrcat(r->pool, " HTTPS for this site starts ",
                                   starts_when(r, "when the certificate arrives",
                                               "once the certificate has arrived"), ".\n", NULL);

    if (st && st->activity && !strncmp(st->activity, ACME_ACTIVITY_ORDERS_PAUSED,
                                       sizeof(ACME_ACTIVITY_ORDERS_PAUSED) - 1)) {
        return apr_psprintf(r->pool, "mod_acme: the certificate for %s waits for the rate "
                            "limit of the certificate authority: it takes no new order before "
                            "%s.%s", first,
                            st->activity + sizeof(ACME_ACTIVITY_ORDERS_PAUSED) - 1, tail);
    }
    if (st && st->activity && !strncmp(st->activity, ACME_ACTIVITY_CA_DOWN,
                                       sizeof(ACME_ACTIVITY_CA_DOWN) - 1)) {
        since = st->activity + sizeof(ACME_ACTIVITY_CA_DOWN) - 1;
        return apr_psprintf(r->pool, "mod_acme: the certificate for %s waits for the "
                            "certificate authority, which has not answered since %s.%s", first,
                            apr_pstrndup(r->pool, since, strcspn(since, " ")), tail);
    }
    return NULL;
}

/* "refused at OpenSSL security level 3: intermediate 1 (RSA-2048) too
 * weak" of a level refusal's detail (acme_custody_level_said), without the
 * fix, which is the administrator's. */
static const char *seclevel_words(apr_pool_t *p, const char *detail)
{
    const char *at = detail ? strstr(detail, "refused at OpenSSL security level") : NULL;
    const char *end = at ? strstr(at, " too weak") : NULL;

    return end ? apr_pstrmemdup(p, at, (apr_size_t)(end - at) + strlen(" too weak"))
               : "its keys are too weak for the level asked for";
}

const char *acme_status_waiting_text(request_rec *r, const acme_domain_t *d, int *retry)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    const char *first = APR_ARRAY_IDX(d->names, 0, const char *), *reason, *next;
    const acme_status_record_t *st = NULL;

    *retry = 1;
    if (rt && rt->store) {
        st = apr_hash_get(acme_status_records(rt, r->pool), d->name, APR_HASH_KEY_STRING);
    }
    if (st && st->state == ACME_STATUS_STAGED) {
        /* obtained: what remains is the restart that makes it live; under
         * AcmeActivation manual an administrator's, so no time is promised.
         * Only that: this page is every visitor's, and the words of the
         * status page (a refused restart's why names configuration files,
         * the store and owners; what the administrator should run) are the
         * administrator's alone */
        *retry = rt->activation_auto;
        return apr_psprintf(r->pool, "mod_acme: the certificate for %s has been obtained from "
                            "the certificate authority and is ready; it waits for the server's "
                            "restart. HTTPS for this site starts then.\n", first);
    }
    if ((reason = waiting_for_record(r, first, st)) != NULL) {
        return reason;
    }
    if ((reason = waiting_for_ca(r, first, st)) != NULL) {
        return reason;
    }
    /* failing as on the status page (acme_status_record_shown_state) */
    if (!st || !st->error || !acme_status_record_failing(st)) {
        return apr_psprintf(r->pool, "mod_acme: the certificate for %s is being obtained from "
                            "the certificate authority; HTTPS for this site starts %s.\n", first,
                            starts_when(r, "when it arrives", "once it has arrived"));
    }
    if (st->error->kind && !strcmp(st->error->kind, "seclevel")) {
        /* obtained, but refused here: no attempt comes by itself */
        *retry = 0;
        return apr_psprintf(r->pool, "mod_acme: the certificate for %s was obtained from the "
                            "certificate authority, but this server's security settings refuse "
                            "its chain (%s). No new certificate is ordered before %s unless the "
                            "site's administrator changes them (the certificate authority "
                            "would issue the same kind of chain); HTTPS for this site starts "
                            "once they are changed. The server's status page and error log "
                            "say what to change.\n", first,
                            seclevel_words(r->pool, st->error->detail), st->next_action > 0
                            ? acme_time_rfc3339(r->pool, st->next_action) : "7 days from the "
                            "refusal");
    }
    acme_problem_advice_of(r->pool, st->error->type, st->error->kind, st->error->detail,
                           NULL, &reason);
    reason = reason ? reason
           : !st->error->type ? "a step failed without an error from the CA (a hook, the "
                                "network or this server's store)"
           : "the CA refused the order";
    next = st->next_action > apr_time_now()
           ? apr_psprintf(r->pool, "the next attempt is at %s",
                          acme_time_rfc3339(r->pool, st->next_action))
           : "the next attempt comes soon";
    return apr_psprintf(r->pool, "mod_acme: obtaining the certificate for %s from the "
                        "certificate authority is failing: %s (%d attempt%s since %s); %s. "
                        "HTTPS for this site starts "
                        "%s; the site's administrator finds what to change on the server's "
                        "status page and in its error log.\n",
                        first, reason, st->attempts, st->attempts == 1 ? "" : "s",
                        acme_time_rfc3339(r->pool, st->error->since ? st->error->since
                                                                     : st->error->at),
                        next, starts_when(r, "once it succeeds", "once it has succeeded"));
}
