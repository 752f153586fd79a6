/* Which of the CA's certificate chains is staged: the default one, or with
 * AcmePreferredChain the first of the default and the alternates (RFC 8555
 * §7.4.2, Link rel="alternate") whose top certificate is issued by that
 * name (certbot's --preferred-chain). A CA that offers two chains for one
 * certificate does so to let old clients chain to an older root; and, when
 * the chain chosen leads to no root this server trusts, the first alternate
 * that does. */
#include <string.h>
#include <apr_strings.h>

#include "acme_cert.h"
#include "acme_job_int.h"

/* The issuer CN of the chain's top certificate, "" when it has none. */
static const char *top_issuer(apr_pool_t *p, const apr_array_header_t *chain)
{
    const char *cn = acme_cert_issuer_cn(p, APR_ARRAY_IDX(chain, chain->nelts - 1, X509 *));

    return cn ? cn : "";
}

/* One alternate, downloaded and parsed; NULL (logged) when unusable. */
static apr_array_header_t *alternate(acme_step_ctx_t *sc, const char *url, const char **pem,
                                     apr_size_t *len)
{
    apr_array_header_t *chain;
    acme_problem_t prob;
    apr_status_t rv;

    rv = acme_client_download(sc->client, sc->p, url, pem, len, NULL, &prob);
    if (rv == APR_SUCCESS && (rv = acme_cert_chain_parse(sc->p, *pem, *len, &chain)) != APR_SUCCESS) {
        acme_problem_set(&prob, sc->p, rv, NULL, "not a usable certificate chain");
    }
    if (rv != APR_SUCCESS) {
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, rv, "ACME00484: %s: the CA's alternate "
                 "chain %s cannot be used: %s", sc->domain->name, url,
                 acme_problem_str(&prob, sc->p));
        return NULL;
    }
    return chain;
}

apr_status_t acme_job_download_chain(acme_step_ctx_t *sc, const char **pem, apr_size_t *len,
                                     apr_array_header_t **chain, apr_array_header_t **alternates_out)
{
    const char *want = sc->domain->preferred_chain, *alt_pem, *tops;
    apr_array_header_t *alternates = NULL, *alt;
    apr_size_t alt_len;
    apr_status_t rv;
    int i;

    rv = acme_client_download(sc->client, sc->p, sc->job->cert_url, pem, len,
                              &alternates, &sc->prob);
    *alternates_out = alternates;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = acme_cert_chain_parse(sc->p, *pem, *len, chain)) != APR_SUCCESS) {
        return acme_problem_set(&sc->prob, sc->p, rv, NULL, "the CA sent an unusable "
                                "certificate chain (%s)", sc->job->cert_url);
    }
    if (!want || strcmp(top_issuer(sc->p, *chain), want) == 0) {
        return APR_SUCCESS;
    }
    tops = apr_psprintf(sc->p, "\"%s\"", top_issuer(sc->p, *chain));
    for (i = 0; i < alternates->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(alternates, i, const char *);
        if (!(alt = alternate(sc, url, &alt_pem, &alt_len))) {
            continue;
        }
        if (strcmp(top_issuer(sc->p, alt), want) == 0) {
            acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME00482: %s: using the CA's "
                     "alternate chain %s, whose top certificate is issued by \"%s\" "
                     "(AcmePreferredChain)", sc->domain->name, url, want);
            *pem = alt_pem;
            *len = alt_len;
            *chain = alt;
            return APR_SUCCESS;
        }
        tops = apr_psprintf(sc->p, "%s, \"%s\"", tops, top_issuer(sc->p, alt));
    }
    /* certbot's rule too: no match is no error, the default chain serves. */
    acme_record_text_set(sc->rec, &sc->rec->notice, ACME_REC_NOTE_MAX,
                    apr_psprintf(sc->p, "AcmePreferredChain \"%s\" matches none of the CA's "
                                 "chains (top certificates issued by %s): using its default "
                                 "chain", want, tops));
    acme_log(&sc->driver->ctx, ACME_LOG_NOTICE, 0, "ACME00483: %s: %s", sc->domain->name,
             sc->rec->notice);
    return APR_SUCCESS;
}

apr_status_t acme_job_chain_fit_alternate(acme_step_ctx_t *sc,
                                          const apr_array_header_t *alternates,
                                          const char **pem, apr_size_t *len,
                                          apr_array_header_t **chain)
{
    acme_problem_t refused = sc->prob;
    const char *alt_pem;
    apr_array_header_t *alt;
    apr_size_t alt_len;
    int i;

    for (i = 0; alternates && i < alternates->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(alternates, i, const char *);

        if (!(alt = alternate(sc, url, &alt_pem, &alt_len))) {
            continue;
        }
        if (acme_job_issued_fits(sc, alt) == APR_SUCCESS) {
            acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME01263: %s: using the CA's "
                     "alternate chain %s, whose top certificate is issued by \"%s\": the "
                     "default chain leads to no trusted root", sc->domain->name, url,
                     top_issuer(sc->p, alt));
            acme_problem_clear(&sc->prob);
            sc->job->keep_order = 0;
            *pem = alt_pem;
            *len = alt_len;
            *chain = alt;
            return APR_SUCCESS;
        }
    }
    sc->prob = refused;
    return APR_ENOENT;
}
