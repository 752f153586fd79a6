/* dns-persist-01 in the issuance steps (draft-ietf-acme-dns-persist-02;
 * draft -01 CAs still served). The administrator sets one TXT record, once,
 * at _validation-persist.NAME (acme_dns_persist.h builds and judges it);
 * every later issuance and renewal is validated by the CA reading it: no DNS
 * access, no hook.
 *
 * Before an order is created, each name that would be validated this way is
 * looked up (AcmeDnsResolver, else the system resolver): while a record is
 * missing or would be refused, no order is made; the job shows the exact
 * record to set (status activity, acmectl) and logs it, and looks again
 * 5 s later, then less often (at most every ACME_PERSIST_RECHECK_MAX). This
 * needs the issuer domain names before any challenge: a draft -02 CA
 * advertises them in its directory (§3.2); for a draft -01 CA they are
 * learnt from its first challenge and kept in the store
 * (accounts/<ca-id>/dns-persist.json), so they outlive a restart as a
 * directory's do; until then the record is checked within the order
 * (acme_dns_persist_check), as it also is, once more, before the CA is told
 * to validate. */
#include <string.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_dns.h"
#include "acme_dns_persist.h"
#include "acme_name.h"
#include "acme_time.h"
#include "acme_store_account.h"
#include "acme_store_paths.h"

#define PERSIST_POLL             apr_time_from_sec(5)    /* within an order */
#define ACME_PERSIST_RECHECK_MIN apr_time_from_sec(5)    /* before an order: first look again */
#define ACME_PERSIST_RECHECK_MAX apr_time_from_sec(300)  /* ... then doubling up to this */
#define PERSIST_UNTIL_WARN       apr_time_from_sec(14 * 86400)

static const char *resolver_name(const acme_step_ctx_t *sc)
{
    return sc->domain->dns_resolver ? sc->domain->dns_resolver : "the system resolver";
}

/* What the lookup of a missing record found, for the status page: the
 * lookup's own reason when it failed (it names the resolver), else what
 * the resolver holds there. */
static const char *lookup_found(const acme_step_ctx_t *sc, const char *why,
                                const apr_array_header_t *values)
{
    if (why) {
        return why;
    }
    if (!values || !values->nelts) {
        return apr_psprintf(sc->p, "%s has no TXT record there", resolver_name(sc));
    }
    return apr_psprintf(sc->p, "%s has \"%s\"", resolver_name(sc),
                        acme_job_join(sc->p, values));
}

static int in_array(const apr_array_header_t *list, const char *s)
{
    int i;

    for (i = 0; list && i < list->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(list, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

/* Does the certificate also hold *.fqdn? Then one record with
 * policy=wildcard serves both names, and that is the one shown. */
static int has_wildcard_of(const acme_domain_t *domain, const char *fqdn)
{
    int i;

    for (i = 0; domain->names && i < domain->names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(domain->names, i, const char *);
        if (acme_name_is_wildcard(name) && !strcasecmp(name + 2, fqdn)) {
            return 1;
        }
    }
    return 0;
}

/* The CA's directory; NULL when it cannot be had (then the order step's
 * request reports why). */
static const acme_directory_t *directory_of(acme_step_ctx_t *sc)
{
    const acme_directory_t *dir = NULL;
    acme_problem_t prob;

    acme_problem_clear(&prob);
    return acme_client_directory(sc->client, sc->p, &dir, &prob) == APR_SUCCESS ? dir : NULL;
}

static void want_init(acme_step_ctx_t *sc, const acme_directory_t *dir, const char *fqdn,
                      int wildcard, const apr_array_header_t *issuers, acme_persist_want_t *want)
{
    EVP_PKEY *key = NULL;
    const char *kid = NULL;

    acme_client_account_get(sc->client, &key, &kid);
    memset(want, 0, sizeof(*want));
    want->fqdn = fqdn;
    want->issuers = issuers;
    want->account_url = kid;
    want->thumbprint = acme_client_thumbprint(sc->client);
    want->hash_prefix = dir ? dir->account_hash_prefix : NULL;
    want->wildcard = wildcard;
    want->show_wildcard = has_wildcard_of(sc->domain, fqdn);
    want->now = sc->now;
}

static const char *issuers_path(apr_pool_t *p, const acme_ca_t *ca)
{
    return acme_store_account_path(p, ca->url, ACME_STORE_PERSIST_ISSUERS_FILE);
}

/* The issuer domain names of a draft -01 CA: learnt in this process, else
 * as the store kept them from an earlier one; NULL when neither has them. */
static const apr_array_header_t *known_issuers(acme_step_ctx_t *sc)
{
    acme_ca_t *ca = sc->ca;
    apr_array_header_t *list;
    json_t *json, *names, *item;
    const char *url, *why;
    size_t i;

    if (ca->persist_issuers) {
        return ca->persist_issuers;
    }
    if (acme_store_read_json_pooled(sc->driver->store, sc->p, issuers_path(sc->p, ca), &json)
        != APR_SUCCESS) {
        return NULL;
    }
    url = json_string_value(json_object_get(json, "ca"));
    names = json_object_get(json, "issuer_domain_names");
    /* the same bounds as a CA's list (draft §3.1): 1 to 10 domain names */
    if (!url || strcmp(url, ca->url) || !json_is_array(names) || json_array_size(names) < 1
        || json_array_size(names) > 10) {
        return NULL;
    }
    list = apr_array_make(sc->driver->pool, (int)json_array_size(names), sizeof(const char *));
    json_array_foreach(names, i, item) {
        const char *name = json_string_value(item);
        if (!name || acme_name_validate(sc->p, name, &why) != APR_SUCCESS
            || acme_name_is_ip(name) || acme_name_is_wildcard(name)) {
            acme_log(&sc->driver->ctx, ACME_LOG_WARN, 0, "ACME01456: %s: ignored, it holds "
                     "a bad issuer domain name; the names are learnt again from the CA's "
                     "next dns-persist-01 challenge", acme_store_path(sc->driver->store, sc->p,
                                                                     issuers_path(sc->p, ca)));
            return NULL;
        }
        APR_ARRAY_PUSH(list, const char *) = apr_pstrdup(sc->driver->pool, name);
    }
    ca->persist_issuers = list;
    return list;
}

/* Remembers the issuer domain names of a draft -01 CA's challenge, here and
 * in the store, so the next order, after a restart too, can be checked
 * before it is made. */
static void learn_issuers(acme_step_ctx_t *sc, const apr_array_header_t *issuers)
{
    acme_ca_t *ca = sc->ca;
    const apr_array_header_t *known = known_issuers(sc);
    int i, same = known && known->nelts == issuers->nelts;
    json_t *json, *names;
    apr_status_t rv;

    for (i = 0; same && i < issuers->nelts; ++i) {
        same = in_array(known, APR_ARRAY_IDX(issuers, i, const char *));
    }
    if (same) {
        return;
    }
    ca->persist_issuers = apr_array_make(sc->driver->pool, issuers->nelts, sizeof(const char *));
    names = json_array();
    for (i = 0; i < issuers->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(issuers, i, const char *);
        APR_ARRAY_PUSH(ca->persist_issuers, const char *) = apr_pstrdup(sc->driver->pool, name);
        json_array_append_new(names, json_string(name));
    }
    json = json_pack("{s:s, s:o}", "ca", ca->url, "issuer_domain_names", names);
    rv = json ? acme_store_write_json(sc->driver->store, sc->p, issuers_path(sc->p, ca), json,
                                      ACME_STORE_KEY_PERMS) : APR_ENOMEM;
    json_decref(json);
    if (rv != APR_SUCCESS) {
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, rv, "ACME01457: %s: cannot keep the CA's "
                 "dns-persist-01 issuer domain names: after a restart, the record is checked "
                 "only once an order's challenge names them again",
                 acme_store_path(sc->driver->store, sc->p, issuers_path(sc->p, ca)));
    }
}

/* §3.2: with the directory's names D, every one must be in the challenge's
 * C; with caaIdentities I, every one of C must be in I. Else malformed. */
static const char *challenge_malformed(acme_step_ctx_t *sc, const acme_directory_t *dir,
                                       const acme_challenge_t *challenge)
{
    int i;

    for (i = 0; dir && dir->issuer_domain_names && i < dir->issuer_domain_names->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(dir->issuer_domain_names, i, const char *);
        if (!in_array(challenge->issuers, d)) {
            return apr_psprintf(sc->p, "the CA's directory names issuer domain name %s, its "
                                "challenge does not", d);
        }
    }
    for (i = 0; dir && dir->caa_identities && i < challenge->issuers->nelts; ++i) {
        const char *c = APR_ARRAY_IDX(challenge->issuers, i, const char *);
        if (!in_array(dir->caa_identities, c)) {
            return apr_psprintf(sc->p, "the challenge names issuer domain name %s, which the "
                                "CA's caaIdentities do not", c);
        }
    }
    return NULL;
}

/* The challenge's names with the directory's first: the record shown then
 * names one every later challenge of this CA also accepts (§3.2). */
static const apr_array_header_t *shown_first(apr_pool_t *p, const apr_array_header_t *first,
                                             const apr_array_header_t *all)
{
    apr_array_header_t *list = apr_array_copy(p, first);
    int i;

    for (i = 0; i < all->nelts; ++i) {
        if (!in_array(list, APR_ARRAY_IDX(all, i, const char *))) {
            APR_ARRAY_PUSH(list, const char *) = APR_ARRAY_IDX(all, i, const char *);
        }
    }
    return list;
}

/* The TXT record of one name as the resolver has it, judged. */
typedef struct {
    const char *record;               /* its DNS name: _validation-persist.NAME */
    const char *line;                 /* the record to set, as a zone file line */
    apr_array_header_t *values;       /* what the resolver holds there; NULL: lookup failed */
    const char *why;                  /* why the lookup failed, or NULL */
    acme_persist_verdict_e verdict;   /* acme_dns_persist_evaluate's */
    const char *matched, *bad;        /* the value that validates; what is wrong */
    apr_time_t until;                 /* the match's persistUntil, 0 without */
} persist_look_t;

/* Looks up fqdn's record and judges it against want, all in sc->p.
 * APR_EINVAL, with nothing looked up, when want's value cannot be computed. */
static apr_status_t look_up(acme_step_ctx_t *sc, const acme_persist_want_t *want,
                            const char *fqdn, persist_look_t *look)
{
    const char *value = acme_dns_persist_value(sc->p, want);

    memset(look, 0, sizeof(*look));
    look->record = apr_pstrcat(sc->p, ACME_PERSIST_LABEL, fqdn, NULL);
    if (!value) {
        return APR_EINVAL;
    }
    look->line = acme_dns_persist_record_line(sc->p, fqdn, value);
    if (acme_dns_txt_lookup(sc->p, sc->domain->dns_resolver, look->record, &look->values,
                            &look->why) != APR_SUCCESS) {
        look->values = NULL;
    }
    look->verdict = acme_dns_persist_evaluate(sc->p, want, look->values, &look->matched,
                                              &look->until, &look->bad);
    return APR_SUCCESS;
}

/* A record in place: said, and warned of when its persistUntil is near. */
static void log_accepted(acme_step_ctx_t *sc, const persist_look_t *look, const char *when)
{
    acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME01450: %s: dns-persist-01: %s holds "
             "\"%s\" at %s; %s", sc->domain->name, look->record, look->matched,
             resolver_name(sc), when);
    if (look->until && look->until < sc->now + PERSIST_UNTIL_WARN) {
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, 0, "ACME01453: %s: dns-persist-01: the "
                 "record at %s stops validating at %s (persistUntil); set a later persistUntil "
                 "or remove it, or renewals after then fail", sc->domain->name, look->record,
                 acme_time_rfc3339(sc->p, look->until));
    }
}

acme_outcome_e acme_dns_persist_check(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                      const acme_challenge_t *challenge)
{
    const acme_directory_t *dir = directory_of(sc);
    const char *bad, *activity;
    acme_persist_want_t want;
    persist_look_t look;

    want_init(sc, dir, authz->identifier, authz->wildcard, challenge->issuers, &want);
    if (!want.account_url || !want.thumbprint) {
        acme_problem_set(&sc->prob, sc->p, APR_EINVAL, NULL, "dns-persist-01 for %s: no "
                         "account yet", authz->identifier);
        return ACME_OUTCOME_FAILED;
    }
    if ((bad = challenge_malformed(sc, dir, challenge)) != NULL) {
        acme_problem_set(&sc->prob, sc->p, APR_EINVAL, NULL, "dns-persist-01 for %s: the "
                         "challenge is malformed (draft-ietf-acme-dns-persist section 3.2): %s",
                         authz->identifier, bad);
        return ACME_OUTCOME_FAILED;
    }
    if (!dir || !dir->issuer_domain_names) {
        learn_issuers(sc, challenge->issuers);
    }
    else {
        want.issuers = shown_first(sc->p, dir->issuer_domain_names, challenge->issuers);
    }
    if (look_up(sc, &want, authz->identifier, &look) != APR_SUCCESS) {
        acme_problem_set(&sc->prob, sc->p, APR_EINVAL, NULL, "dns-persist-01 for %s: cannot "
                         "compute the record", authz->identifier);
        return ACME_OUTCOME_FAILED;
    }
    if (look.verdict == ACME_PERSIST_OK) {
        log_accepted(sc, &look, "the CA validates it, no DNS change needed");
        acme_job_activity_set(sc->job, NULL);
        return ACME_OUTCOME_DONE;
    }
    if (look.verdict == ACME_PERSIST_WRONG) {
        acme_problem_set(&sc->prob, sc->p, APR_EINVAL, NULL, "dns-persist-01: the TXT record "
                         "at %s %s; change it to: %s", look.record, look.bad, look.line);
        acme_log(&sc->driver->ctx, ACME_LOG_ERR, 0, "ACME01451: %s: %s", sc->domain->name,
                 sc->prob.detail);
        return ACME_OUTCOME_FAILED;
    }
    activity = apr_psprintf(sc->p, "waiting for the dns-persist-01 TXT record, set it once: "
                            "%s (%s)", look.line, lookup_found(sc, look.why, look.values));
    if (!sc->job->activity || strcmp(sc->job->activity, activity)) {
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, 0, "ACME01452: %s: %s", sc->domain->name,
                 activity);
    }
    acme_job_activity_set(sc->job, activity);
    if (authz->expires && authz->expires <= sc->now) {
        acme_problem_set(&sc->prob, sc->p, APR_TIMEUP, NULL, "dns-persist-01: no TXT record "
                         "%s before the authorization expired", look.line);
        return ACME_OUTCOME_FAILED;
    }
    sc->retry_after = sc->now + PERSIST_POLL;
    return ACME_OUTCOME_WAIT;
}

/* One name's record before ordering: NULL when it is in place, else the
 * sentence for the status page. */
static const char *preorder_one(acme_step_ctx_t *sc, const acme_directory_t *dir,
                                const apr_array_header_t *issuers, const char *fqdn,
                                int wildcard, int *wrong)
{
    acme_persist_want_t want;
    persist_look_t look;

    want_init(sc, dir, fqdn, wildcard, issuers, &want);
    if (look_up(sc, &want, fqdn, &look) != APR_SUCCESS) {
        return apr_psprintf(sc->p, "cannot compute the dns-persist-01 record of %s", fqdn);
    }
    if (look.verdict == ACME_PERSIST_OK) {
        log_accepted(sc, &look, "ordering");
        return NULL;
    }
    if (look.verdict == ACME_PERSIST_WRONG) {
        *wrong = 1;
        return apr_psprintf(sc->p, "the TXT record at %s %s; change it to: %s", look.record,
                            look.bad, look.line);
    }
    return apr_psprintf(sc->p, "set the TXT record once: %s (%s)", look.line,
                        lookup_found(sc, look.why, look.values));
}

acme_outcome_e acme_dns_persist_preorder(acme_step_ctx_t *sc)
{
    const acme_directory_t *dir = NULL;
    const apr_array_header_t *issuers = NULL;
    const char *missing = NULL, *activity, *done = "";
    acme_job_t *job = sc->job;
    apr_interval_time_t wait;
    int i, wrong = 0;

    for (i = 0; sc->domain->names && i < sc->domain->names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(sc->domain->names, i, const char *);
        int wildcard = acme_name_is_wildcard(name);
        const char *fqdn = wildcard ? name + 2 : name, *type, *problem;

        if (acme_name_is_ip(name) || !(type = acme_job_planned_type(sc, wildcard))
            || strcmp(type, "dns-persist-01")) {
            continue;
        }
        /* a name and its wildcard share one record: look it up once */
        if (strstr(done, apr_pstrcat(sc->p, " ", fqdn, " ", NULL))) {
            continue;
        }
        done = apr_pstrcat(sc->p, done, " ", fqdn, " ", NULL);
        if (!dir && (dir = directory_of(sc)) != NULL) {
            issuers = dir->issuer_domain_names;
        }
        issuers = issuers ? issuers : known_issuers(sc);
        if (!issuers) {
            acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME01454: %s: the CA's directory "
                     "names no issuer domain names (draft-ietf-acme-dns-persist-01): the "
                     "dns-persist-01 record is checked once its challenge names them",
                     sc->domain->name);
            return ACME_OUTCOME_DONE;
        }
        wildcard = wildcard || has_wildcard_of(sc->domain, fqdn);
        if ((problem = preorder_one(sc, dir, issuers, fqdn, wildcard, &wrong)) != NULL) {
            missing = missing ? apr_pstrcat(sc->p, missing, "; and ", problem, NULL) : problem;
        }
    }
    if (!missing) {
        job->persist_checks = 0;
        acme_job_activity_set(job, NULL);
        return ACME_OUTCOME_DONE;
    }
    wait = ACME_PERSIST_RECHECK_MIN << (job->persist_checks < 6 ? job->persist_checks : 6);
    wait = wait > ACME_PERSIST_RECHECK_MAX ? ACME_PERSIST_RECHECK_MAX : wait;
    job->persist_checks++;
    job->persist_looked_at = sc->now;
    activity = apr_psprintf(sc->p, "no order until the dns-persist-01 record is in place: %s; "
                            "looking again at %s", missing,
                            acme_time_rfc3339(sc->p, sc->now + wait));
    /* logged when what to do changes, not at every look */
    if (!job->persist_said || strcmp(job->persist_said, missing)) {
        acme_log(&sc->driver->ctx, wrong ? ACME_LOG_ERR : ACME_LOG_WARN, 0, "ACME01455: %s: "
                 "no order until the dns-persist-01 record is in place: %s", sc->domain->name,
                 missing);
        job->persist_said = apr_pstrdup(job->pool, missing);
    }
    acme_job_activity_set(job, activity);
    sc->retry_after = sc->now + wait;
    return ACME_OUTCOME_WAIT;
}
