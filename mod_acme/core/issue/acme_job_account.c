/* The account step of an issuance job (RFC 8555 section 7.3): the CA
 * account's key loaded or made, the account found or created, its URL kept
 * in the store. */
#include <string.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_store_account.h"
#include "acme_account.h"
#include "acme_custody.h"
#include "acme_store_paths.h"

#define ACME_ACCOUNT_KEY_TYPE ACME_KEY_EC_P256

static const char *account_path(apr_pool_t *p, const acme_ca_t *ca, const char *file)
{
    return acme_store_account_path(p, ca->url, file);
}

static apr_status_t account_key_load_or_create(acme_step_ctx_t *sc)
{
    acme_driver_t *driver = sc->driver;
    acme_ca_t *ca = sc->ca;
    const char *path = account_path(sc->p, ca, ACME_STORE_ACCOUNT_KEY_FILE), *pem;
    apr_size_t len;
    apr_status_t rv;

    rv = acme_store_read_secret(driver->store, sc->p, path, ACME_MAX_STORE_FILE, &pem, &len);
    if (rv == APR_SUCCESS) {
        rv = acme_crypto_key_from_pem(driver->pool, pem, len, &ca->account_key);
        return rv ? acme_problem_set(&sc->prob, sc->p, rv, NULL,
                                     "account key %s is unreadable; move it away to create a new "
                                     "account", acme_store_path(driver->store, sc->p, path))
                  : APR_SUCCESS;
    }
    if (rv != APR_ENOENT) {
        acme_problem_set(&sc->prob, sc->p, rv, NULL, "cannot read account key %s",
                         acme_store_path(driver->store, sc->p, path));
        sc->prob.kind = ACME_PROBLEM_KIND_STORE;
        return rv;
    }
    /* Stored before the CA sees it: an account the CA creates is never orphaned. */
    if ((rv = acme_crypto_key_generate(driver->pool, ACME_ACCOUNT_KEY_TYPE, &ca->account_key))
        || (rv = acme_crypto_key_to_pem(sc->p, ca->account_key, &pem))
        || (rv = acme_store_write(driver->store, sc->p, path, pem, strlen(pem),
                                  ACME_STORE_KEY_PERMS))) {
        ca->account_key = NULL;
        acme_problem_set(&sc->prob, sc->p, rv, NULL, "cannot create account key %s",
                         acme_store_path(driver->store, sc->p, path));
        sc->prob.kind = ACME_PROBLEM_KIND_STORE;
        return rv;
    }
    return APR_SUCCESS;
}

static const char *account_kid_load(acme_step_ctx_t *sc)
{
    json_t *json;
    const char *kid, *ca_url;

    if (acme_store_read_json_pooled(sc->driver->store, sc->p,
                                    account_path(sc->p, sc->ca, ACME_STORE_ACCOUNT_JSON_FILE),
                                    &json) != APR_SUCCESS) {
        return NULL;
    }
    kid = json_string_value(json_object_get(json, "url"));
    ca_url = json_string_value(json_object_get(json, "ca"));
    return (kid && ca_url && strcmp(ca_url, sc->ca->url) == 0) ? kid : NULL;
}

static apr_status_t account_kid_save(acme_step_ctx_t *sc, const char *kid)
{
    json_t *json = json_pack("{s:s, s:s}", "url", kid, "ca", sc->ca->url);
    apr_status_t rv;

    if (!json) {
        return APR_ENOMEM;
    }
    rv = acme_store_write_json(sc->driver->store, sc->p, account_path(sc->p, sc->ca, ACME_STORE_ACCOUNT_JSON_FILE),
                               json, ACME_STORE_KEY_PERMS);
    json_decref(json);
    return rv;
}

/* The CA refused the stored account, and now refuses its key too: the
 * account was deactivated (RFC 8555 §7.3.6), e.g. by someone who read the
 * key. That key can never sign for an account again: it is set aside
 * (account.key.deactivated-<seconds>) and a new key and account are made,
 * without an administrator. */
static apr_status_t account_key_retire(acme_step_ctx_t *sc)
{
    acme_ca_t *ca = sc->ca;
    const char *from = acme_store_path(sc->driver->store, sc->p,
                                       account_path(sc->p, ca, ACME_STORE_ACCOUNT_KEY_FILE));
    const char *to = apr_psprintf(sc->p, "%s.deactivated-%" APR_TIME_T_FMT, from,
                                  apr_time_sec(acme_core_now(&sc->driver->ctx)));
    apr_status_t rv = apr_file_rename(from, to, sc->p);

    acme_log(&sc->driver->ctx, rv ? ACME_LOG_ERR : ACME_LOG_WARN, rv, "ACME00434: %s: the CA "
             "refuses the account key of %s (%s): the account was deactivated; %s", ca->url,
             sc->domain->name, acme_problem_str(&sc->prob, sc->p),
             rv ? "cannot set the key aside, no new account is made"
                : "creating a new account with a new key");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    acme_store_remove(sc->driver->store, sc->p, account_path(sc->p, ca, ACME_STORE_ACCOUNT_JSON_FILE));
    ca->account_key = NULL;
    ca->kid = NULL;
    ca->account_ready = 0;
    acme_problem_clear(&sc->prob);
    return APR_SUCCESS;
}

static acme_outcome_e account_step(acme_step_ctx_t *sc)
{
    acme_ca_t *ca = sc->ca;
    const char *kid, *kid_out = NULL;
    apr_status_t rv;

    if (ca->account_ready) {
        return ACME_OUTCOME_DONE;
    }
    if (!ca->account_key && account_key_load_or_create(sc) != APR_SUCCESS) {
        return ACME_OUTCOME_FAILED;
    }
    kid = ca->kid ? ca->kid : (sc->job->account_retried ? NULL : account_kid_load(sc));
    acme_client_set_eab(sc->client, sc->domain->eab_kid, sc->domain->eab_hmac);
    rv = acme_client_account(sc->client, sc->p, ca->account_key, kid, sc->domain->contacts,
                             sc->domain->agree_tos, &kid_out, &sc->prob);
    if (rv != APR_SUCCESS && !kid && sc->job->account_retried
        && acme_problem_is(&sc->prob, "unauthorized") && account_key_retire(sc) == APR_SUCCESS
        && account_key_load_or_create(sc) == APR_SUCCESS) {
        rv = acme_client_account(sc->client, sc->p, ca->account_key, NULL, sc->domain->contacts,
                                 sc->domain->agree_tos, &kid_out, &sc->prob);
    }
    if (rv != APR_SUCCESS) {
        return acme_job_ca_failed(sc, rv);
    }
    if (!kid || strcmp(kid, kid_out) != 0) {
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME00411: account at %s ready", ca->url);
        if ((rv = account_kid_save(sc, kid_out)) != APR_SUCCESS) {
            return acme_job_store_failed(sc, rv, "cannot store the account URL in %s",
                               acme_store_path(sc->driver->store, sc->p,
                                               account_path(sc->p, ca, ACME_STORE_ACCOUNT_JSON_FILE)));
        }
    }
    ca->kid = apr_pstrdup(sc->driver->pool, kid_out);
    ca->account_ready = 1;
    return ACME_OUTCOME_DONE;
}

/* Its requests decide for other names (acme_job_step_decides): another
 * order's thread would otherwise find no account yet and make one too. */
acme_outcome_e acme_job_account_step(acme_step_ctx_t *sc)
{
    return account_step(sc);
}
