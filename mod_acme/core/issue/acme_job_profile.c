/* Which ACME profile (draft-ietf-acme-profiles) an order asks for: the one
 * AcmeProfile names when the CA lists it; for an order that holds an IP
 * address and names none, the CA's "shortlived" profile, since Let's Encrypt
 * issues IP address certificates under that profile only
 * (https://letsencrypt.org/docs/profiles/). */
#include <string.h>
#include <apr_strings.h>

#include "acme_name.h"
#include "acme_job_int.h"

/* The profile a CA must be asked for to issue an IP address certificate. */
#define IP_PROFILE "shortlived"

static int profile_offered(const acme_directory_t *dir, const char *profile)
{
    int i;

    for (i = 0; i < dir->profiles->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(dir->profiles, i, const char *), profile) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *first_ip(const acme_domain_t *domain)
{
    int i;

    for (i = 0; i < domain->names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(domain->names, i, const char *);
        if (acme_name_is_ip(name)) {
            return name;
        }
    }
    return NULL;
}

/* No AcmeProfile: an order with an IP address gets "shortlived" where the CA
 * lists it (said once per run at info level); otherwise none. */
static apr_status_t default_profile(acme_step_ctx_t *sc, const char **profile)
{
    const char *ip = first_ip(sc->domain);
    const acme_directory_t *dir;
    acme_problem_t prob;

    if (!ip || acme_client_directory(sc->client, sc->p, &dir, &prob) != APR_SUCCESS
        || !profile_offered(dir, IP_PROFILE)) {
        return APR_SUCCESS;
    }
    *profile = IP_PROFILE;
    if (!sc->rec->profile_warned) {
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME00480: %s: the order holds the IP "
                 "address %s and no AcmeProfile is set: asking %s for its \"" IP_PROFILE "\" "
                 "profile, under which CAs issue IP address certificates", sc->domain->name,
                 ip, sc->ca->url);
        sc->rec->profile_warned = 1;
    }
    return APR_SUCCESS;
}

apr_status_t acme_job_order_profile(acme_step_ctx_t *sc, const char **profile)
{
    const char *want = sc->domain->profile;
    const acme_directory_t *dir;
    apr_status_t rv;

    *profile = NULL;
    acme_record_text_set(sc->rec, &sc->rec->notice, ACME_REC_NOTE_MAX, NULL);
    if (!want || !*want) {
        return default_profile(sc, profile);
    }
    if ((rv = acme_client_directory(sc->client, sc->p, &dir, &sc->prob)) != APR_SUCCESS) {
        return rv;
    }
    if (profile_offered(dir, want)) {
        *profile = want;
        return APR_SUCCESS;
    }
    /* A CA that lists others: a configuration error. One without profiles
     * gets the order without one (and the status page says so). */
    if (dir->profiles->nelts > 0) {
        return acme_problem_set(&sc->prob, sc->p, APR_EINVAL, NULL, "AcmeProfile %s is not "
                                "offered by the CA %s; it offers: %s; name one of these in "
                                "AcmeProfile or remove the directive", want, sc->ca->url,
                                acme_job_join(sc->p, dir->profiles));
    }
    acme_record_text_set(sc->rec, &sc->rec->notice, ACME_REC_NOTE_MAX,
                    apr_psprintf(sc->p, "AcmeProfile %s ignored: the CA offers no profiles",
                                 want));
    if (!sc->rec->profile_warned) {
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, 0, "ACME00431: %s: %s (%s); ordering "
                 "without a profile", sc->domain->name, sc->rec->notice, sc->ca->url);
        sc->rec->profile_warned = 1;
    }
    return APR_SUCCESS;
}

void acme_job_explain_refused_ip(acme_step_ctx_t *sc, const char *profile)
{
    const acme_directory_t *dir;
    acme_problem_t prob;
    const char *ip = first_ip(sc->domain), *advice;

    if (!ip || sc->prob.http_status < 400
        || !(acme_problem_is(&sc->prob, "rejectedIdentifier")
             || acme_problem_is(&sc->prob, "unsupportedIdentifier")
             || acme_problem_is(&sc->prob, "malformed"))) {
        return;
    }
    if (acme_client_directory(sc->client, sc->p, &dir, &prob) != APR_SUCCESS) {
        return;
    }
    if (profile) {
        advice = apr_psprintf(sc->p, "the CA refuses the IP address %s under the profile %s; "
                              "it offers: %s; name one that allows IP addresses in AcmeProfile, "
                              "or move %s to an AcmeDomain of its own", ip, profile,
                              acme_job_join(sc->p, dir->profiles), ip);
    }
    else if (dir->profiles->nelts > 0) {
        advice = apr_psprintf(sc->p, "the CA refuses the IP address %s without a profile and "
                              "lists no \"" IP_PROFILE "\" profile; it offers: %s; name the one "
                              "for IP addresses in AcmeProfile", ip,
                              acme_job_join(sc->p, dir->profiles));
    }
    else {
        advice = apr_psprintf(sc->p, "the CA refuses the IP address %s and lists no profiles: "
                              "it may not issue IP address certificates; use a CA that does "
                              "(AcmeCA) or remove %s from the AcmeDomain", ip, ip);
    }
    sc->prob.detail = apr_psprintf(sc->p, "%s (%s)", sc->prob.detail ? sc->prob.detail
                                   : "no detail", advice);
}
