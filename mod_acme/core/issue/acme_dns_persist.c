/* dns-persist-01 (draft-ietf-acme-dns-persist-01): the administrator sets one
 * TXT record, once, at _validation-persist.NAME:
 *     "<issuer domain name>; accounturi=<account URL>[; policy=wildcard]"
 * (the issue-value syntax of RFC 8659 §4.2; §4.1 of the draft), and every
 * later issuance and renewal is validated by the CA reading it: no DNS
 * access, no hook. Before telling the CA to validate, the record is looked
 * up (AcmeDnsResolver, else the system resolver); while it is missing the job
 * waits and shows the exact record to set (activity on the status page and in
 * acmectl, a warning in the log). */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "acme_job_int.h"
#include "acme_dns.h"
#include "acme_time.h"

#define PERSIST_LABEL        "_validation-persist."
#define PERSIST_POLL         apr_time_from_sec(5)   /* lookups while the record is missing */

/* One issue-value: the issuer domain name and the parameters we read. */
typedef struct persist_value_t {
    const char *issuer, *accounturi, *policy;
    apr_int64_t persist_until;        /* 0 = none */
} persist_value_t;

static char *trim(char *s)
{
    char *end;

    while (*s && apr_isspace(*s)) {
        ++s;
    }
    end = s + strlen(s);
    while (end > s && apr_isspace(end[-1])) {
        *--end = '\0';
    }
    return s;
}

/* "issuer; tag=value; ..." (RFC 8659 §4.2): unknown tags are ignored (§4.1). */
static persist_value_t parse_value(apr_pool_t *p, const char *text)
{
    persist_value_t v = { NULL, NULL, NULL, 0 };
    char *copy = apr_pstrdup(p, text), *state = NULL, *part;
    int first = 1;

    for (part = apr_strtok(copy, ";", &state); part; part = apr_strtok(NULL, ";", &state)) {
        char *eq, *tag = trim(part);

        if (first) {
            v.issuer = tag;
            first = 0;
            continue;
        }
        if (!(eq = strchr(tag, '='))) {
            continue;
        }
        *eq = '\0';
        tag = trim(tag);
        if (!strcasecmp(tag, "accounturi")) {
            v.accounturi = trim(eq + 1);
        }
        else if (!strcasecmp(tag, "policy")) {
            v.policy = trim(eq + 1);
        }
        else if (!strcasecmp(tag, "persistUntil")) {
            v.persist_until = apr_atoi64(trim(eq + 1));
        }
    }
    return v;
}

static int issuer_offered(const acme_challenge_t *challenge, const char *issuer)
{
    int i;

    for (i = 0; issuer && i < challenge->issuers->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(challenge->issuers, i, const char *), issuer)) {
            return 1;
        }
    }
    return 0;
}

static void activity_set(acme_job_t *job, const char *text)
{
    if ((!text && !job->activity) || (text && job->activity && !strcmp(text, job->activity))) {
        return;
    }
    job->activity = text ? apr_pstrdup(job->pool, text) : NULL;
    job->activity_seq++;
}

acme_outcome_e acme_dns_persist_check(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                      const acme_challenge_t *challenge)
{
    const char *resolver = sc->domain->dns_resolver, *kid = NULL, *why = NULL;
    const char *record = apr_pstrcat(sc->p, PERSIST_LABEL, authz->identifier, NULL);
    const char *want, *seen = NULL, *mismatch = NULL, *activity;
    apr_array_header_t *values = NULL;
    EVP_PKEY *key = NULL;
    int i;

    acme_client_account_get(sc->ca->client, &key, &kid);
    if (!kid || !challenge->issuers || challenge->issuers->nelts == 0) {
        acme_problem_set(&sc->prob, sc->p, APR_EINVAL, NULL, "dns-persist-01 for %s: %s",
                         authz->identifier, kid ? "the CA names no issuer domain name"
                                                : "no account yet");
        return ACME_OUTCOME_FAILED;
    }
    want = apr_psprintf(sc->p, "%s; accounturi=%s%s",
                        APR_ARRAY_IDX(challenge->issuers, 0, const char *), kid,
                        authz->wildcard ? "; policy=wildcard" : "");
    if (acme_dns_txt_lookup(sc->p, resolver, record, &values, &why) != APR_SUCCESS) {
        values = NULL;
    }
    for (i = 0; values && i < values->nelts; ++i) {
        const char *text = APR_ARRAY_IDX(values, i, const char *);
        persist_value_t v = parse_value(sc->p, text);

        seen = seen ? apr_pstrcat(sc->p, seen, ", \"", text, "\"", NULL)
                    : apr_pstrcat(sc->p, "\"", text, "\"", NULL);
        if (!issuer_offered(challenge, v.issuer)) {
            continue;   /* another CA's record: several may coexist */
        }
        if (!v.accounturi || strcmp(v.accounturi, kid)) {
            mismatch = apr_psprintf(sc->p, "names account %s, not this server's account %s",
                                    v.accounturi ? v.accounturi : "(none)", kid);
        }
        else if (authz->wildcard && (!v.policy || strcasecmp(v.policy, "wildcard"))) {
            mismatch = "has no 'policy=wildcard', which a wildcard name needs";
        }
        else if (v.persist_until && apr_time_from_sec(v.persist_until) < sc->now) {
            mismatch = apr_psprintf(sc->p, "expired (persistUntil=%" APR_INT64_T_FMT ")",
                                    v.persist_until);
        }
        else {
            acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME01450: %s: dns-persist-01: %s "
                     "holds \"%s\" at %s; the CA validates it, no DNS change needed",
                     sc->domain->name, record, text, resolver ? resolver : "the system resolver");
            activity_set(sc->job, NULL);
            return ACME_OUTCOME_DONE;
        }
    }
    if (mismatch) {
        acme_problem_set(&sc->prob, sc->p, APR_EINVAL, NULL, "dns-persist-01: the TXT record "
                         "at %s %s; change it to: %s. IN TXT \"%s\"", record, mismatch, record,
                         want);
        acme_log(&sc->driver->ctx, ACME_LOG_ERR, 0, "ACME01451: %s: %s", sc->domain->name,
                 sc->prob.detail);
        return ACME_OUTCOME_FAILED;
    }
    activity = apr_psprintf(sc->p, "waiting for the dns-persist-01 TXT record, set it once: "
                            "%s. IN TXT \"%s\" (%s at %s: %s)", record, want,
                            why ? why : "seen", resolver ? resolver : "the system resolver",
                            seen ? seen : "none");
    if (!sc->job->activity || strcmp(sc->job->activity, activity)) {
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, 0, "ACME01452: %s: %s", sc->domain->name,
                 activity);
    }
    activity_set(sc->job, activity);
    if (authz->expires && authz->expires <= sc->now) {
        acme_problem_set(&sc->prob, sc->p, APR_TIMEUP, NULL, "dns-persist-01: no TXT record "
                         "%s. IN TXT \"%s\" before the authorization expired", record, want);
        return ACME_OUTCOME_FAILED;
    }
    sc->retry_after = sc->now + PERSIST_POLL;
    return ACME_OUTCOME_WAIT;
}
