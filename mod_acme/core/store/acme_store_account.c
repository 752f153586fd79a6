/* The ACME account of a CA as the store keeps it: accounts/<ca id>/account.key
 * (0600) and account.json (the account URL and the CA it belongs to). */
#include <string.h>
#include <apr_strings.h>

#include "acme_store_account.h"
#include "acme_crypto.h"
#include "acme_store_paths.h"

const char *acme_store_account_path(apr_pool_t *p, const char *ca_url, const char *file)
{
    return acme_store_rel_account(p, acme_store_ca_id(p, ca_url), file);
}

apr_status_t acme_store_account_load(acme_store_t *store, apr_pool_t *p, const char *ca_url,
                                     EVP_PKEY **key, const char **kid)
{
    const char *pem, *url, *ca;
    apr_size_t len;
    json_t *json;
    apr_status_t rv;

    *key = NULL;
    *kid = NULL;
    rv = acme_store_read_secret(store, p, acme_store_account_path(p, ca_url, ACME_STORE_ACCOUNT_KEY_FILE),
                                ACME_MAX_STORE_FILE, &pem, &len);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) ? APR_ENOENT : rv;
    }
    if (acme_crypto_key_from_pem(p, pem, len, key) != APR_SUCCESS) {
        *key = NULL;
        return APR_EINVAL;
    }
    if (acme_store_read_json_pooled(store, p,
                                    acme_store_account_path(p, ca_url, ACME_STORE_ACCOUNT_JSON_FILE),
                                    &json) == APR_SUCCESS) {
        url = json_string_value(json_object_get(json, "url"));
        ca = json_string_value(json_object_get(json, "ca"));
        /* Two URLs can share an id only by a hash collision; never mix accounts. */
        if (url && (!ca || !strcmp(ca, ca_url))) {
            *kid = apr_pstrdup(p, url);
        }
    }
    return APR_SUCCESS;
}
