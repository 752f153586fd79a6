/* Which challenge type the authorize step answers: what the CA offers, what
 * is enabled (AcmeChallenges), what this host can do; and what to change when
 * nothing fits. */
#include <string.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_name.h"

static const char *const known_types[] = { "http-01", "tls-alpn-01", "dns-01", "dns-persist-01",
                                           NULL };

/* The sink serves http-01, tls-alpn-01 when it has a place for challenge
 * certificates; dns-01 needs the domain's AcmeDnsCmd. */
static int can_answer(const acme_step_ctx_t *sc, const char *type)
{
    const acme_driver_t *driver = sc->driver;

    if (sc->domain->dns_cmd && strcmp(type, "dns-01") == 0) {
        return 1;
    }
    /* a TXT record the administrator sets once (acme_dns_persist.c) */
    if (strcmp(type, "dns-persist-01") == 0) {
        return 1;
    }
    if (!driver->has_sink) {
        return 0;
    }
    if (strcmp(type, "tls-alpn-01") == 0) {
        return driver->sink.publish_tls_alpn && driver->sink.withdraw_tls_alpn;
    }
    return strcmp(type, "http-01") == 0;
}

/* What a type needs from this server, for messages. */
static const char *type_needs(const char *type)
{
    if (strcmp(type, "http-01") == 0) {
        return "http-01 needs httpd listening on the port public port 80 reaches "
               "(AcmePortMap http)";
    }
    if (strcmp(type, "tls-alpn-01") == 0) {
        return "tls-alpn-01 needs an SSL vhost on the port public port 443 reaches "
               "(AcmePortMap https)";
    }
    if (strcmp(type, "dns-01") == 0) {
        return "dns-01 needs an AcmeDnsCmd hook";
    }
    if (strcmp(type, "dns-persist-01") == 0) {
        return "dns-persist-01 needs a TXT record at _validation-persist.NAME, set once";
    }
    return NULL;
}

static apr_array_header_t *answered_types(const acme_step_ctx_t *sc)
{
    apr_array_header_t *types = apr_array_make(sc->p, 3, sizeof(const char *));
    int i;

    for (i = 0; known_types[i]; ++i) {
        if (can_answer(sc, known_types[i])) {
            APR_ARRAY_PUSH(types, const char *) = known_types[i];
        }
    }
    return types;
}

const char *acme_job_join(apr_pool_t *p, const apr_array_header_t *strings)
{
    const char *text = NULL;
    int i;

    for (i = 0; strings && i < strings->nelts; ++i) {
        const char *item = APR_ARRAY_IDX(strings, i, const char *);
        text = text ? apr_pstrcat(p, text, ", ", item, NULL) : item;
    }
    return text ? text : "none";
}

static const char *offered_types(apr_pool_t *p, const acme_authz_t *authz)
{
    apr_array_header_t *types = apr_array_make(p, 4, sizeof(const char *));
    int i;

    for (i = 0; i < authz->challenges->nelts; ++i) {
        APR_ARRAY_PUSH(types, const char *) =
            APR_ARRAY_IDX(authz->challenges, i, acme_challenge_t *)->type;
    }
    return acme_job_join(p, types);
}

static const char *append(apr_pool_t *p, const char *list, const char *sep, const char *item)
{
    return list ? apr_pstrcat(p, list, sep, item, NULL) : item;
}

/* What to change: enable a type both the CA and this server can do (and
 * what it needs), or what the offered ones would need. */
static const char *usable_advice(acme_step_ctx_t *sc, const acme_authz_t *authz)
{
    const char *types = NULL, *needs = NULL, *missing = NULL;
    int i;

    if (authz->wildcard) {
        return "wildcard names can only be validated with dns-01";
    }
    for (i = 0; i < authz->challenges->nelts; ++i) {
        const char *type = APR_ARRAY_IDX(authz->challenges, i, acme_challenge_t *)->type;
        const char *need = type_needs(type);

        if ((types && strstr(types, type)) || (missing && need && strstr(missing, need))) {
            continue;
        }
        if (!can_answer(sc, type)) {
            missing = need ? append(sc->p, missing, "; ", need) : missing;
            continue;
        }
        types = append(sc->p, types, " ", type);
        needs = need ? append(sc->p, needs, "; ", need) : needs;
    }
    if (!types) {
        return apr_pstrcat(sc->p, "this server cannot answer any type the CA offers",
                           missing ? " (" : "", missing ? missing : "", missing ? ")" : "",
                           NULL);
    }
    return apr_psprintf(sc->p, "enable one the CA offers: 'AcmeChallenges %s'%s%s%s", types,
                        needs ? " (" : "", needs ? needs : "", needs ? ")" : "");
}

/* AcmeChallenges, or http-01 for a domain recorded without any. */
static const apr_array_header_t *enabled_types(acme_step_ctx_t *sc)
{
    apr_array_header_t *fallback;

    if (sc->domain->challenges && sc->domain->challenges->nelts > 0) {
        return sc->domain->challenges;
    }
    fallback = apr_array_make(sc->p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(fallback, const char *) = "http-01";
    return fallback;
}

acme_outcome_e acme_job_no_usable_challenge(acme_step_ctx_t *sc, const acme_authz_t *authz)
{
    acme_problem_set(&sc->prob, sc->p, APR_ENOTIMPL, NULL,
                     "no usable challenge for %s%s: CA offered: %s; enabled: %s; this server "
                     "answers: %s; %s",
                     authz->wildcard ? "*." : "", authz->identifier,
                     offered_types(sc->p, authz), acme_job_join(sc->p, enabled_types(sc)),
                     acme_job_join(sc->p, answered_types(sc)), usable_advice(sc, authz));
    sc->prob.kind = ACME_PROBLEM_KIND_CHALLENGE;
    return ACME_OUTCOME_FAILED;
}

const acme_challenge_t *acme_job_challenge_for(acme_step_ctx_t *sc, const acme_authz_t *authz)
{
    const apr_array_header_t *enabled = enabled_types(sc);
    int i;

    for (i = 0; i < enabled->nelts; ++i) {
        const char *type = APR_ARRAY_IDX(enabled, i, const char *);
        acme_challenge_t *challenge = acme_resources_authz_challenge(authz, type);

        if (challenge && can_answer(sc, type)) {
            return challenge;
        }
    }
    return NULL;
}

const char *acme_job_planned_type(acme_step_ctx_t *sc, int wildcard)
{
    const apr_array_header_t *enabled = enabled_types(sc);
    int i;

    for (i = 0; i < enabled->nelts; ++i) {
        const char *type = APR_ARRAY_IDX(enabled, i, const char *);

        if (wildcard && strcmp(type, "dns-01") && strcmp(type, "dns-persist-01")) {
            continue;
        }
        if (can_answer(sc, type)) {
            return type;
        }
    }
    return NULL;
}

const char *acme_job_listener_type(acme_step_ctx_t *sc)
{
    const apr_array_header_t *enabled = enabled_types(sc), *names = sc->domain->names;
    int i, plain = !names || names->nelts == 0;

    for (i = 0; !plain && i < names->nelts; ++i) {
        plain = !acme_name_is_wildcard(APR_ARRAY_IDX(names, i, const char *));
    }
    if (!plain) {
        return NULL;   /* wildcards only: dns-01 or dns-persist-01 (RFC 8555 §7.1.3) */
    }
    /* Any enabled type the CA may offer instead of an earlier one counts:
     * which one an authorization gets is known only once it is fetched. */
    for (i = 0; i < enabled->nelts; ++i) {
        const char *type = APR_ARRAY_IDX(enabled, i, const char *);

        if ((!strcmp(type, "http-01") || !strcmp(type, "tls-alpn-01")) && can_answer(sc, type)) {
            return type;
        }
    }
    return NULL;
}
