/* jobs/ files kept per CA URL (acme_ca_file.h). */
#include <apr_strings.h>

#include "acme_ca_file.h"

apr_hash_t *acme_ca_file_load(acme_store_t *store, apr_pool_t *pool, apr_pool_t *ptemp,
                              const char *relpath, apr_size_t entry_size,
                              acme_ca_file_decode_t decode)
{
    apr_hash_t *map = apr_hash_make(pool);
    json_t *json = NULL, *value;
    const char *url;

    if (acme_store_read_json_pooled(store, ptemp, relpath, &json) != APR_SUCCESS
        || !json_is_object(json)) {
        return map;
    }
    json_object_foreach(json, url, value) {
        void *entry = apr_pcalloc(pool, entry_size);

        if (decode(value, entry) == APR_SUCCESS) {
            apr_hash_set(map, apr_pstrdup(pool, url), APR_HASH_KEY_STRING, entry);
        }
    }
    return map;
}

apr_status_t acme_ca_file_save(acme_store_t *store, apr_pool_t *ptemp, const char *relpath,
                               apr_hash_t *map, acme_ca_file_encode_t encode, void *baton)
{
    json_t *json = json_object();
    apr_hash_index_t *hi;
    apr_status_t rv;

    if (!json) {
        return APR_ENOMEM;
    }
    for (hi = apr_hash_first(ptemp, map); hi; hi = apr_hash_next(hi)) {
        const void *url;
        void *entry;
        json_t *value;

        apr_hash_this(hi, &url, NULL, &entry);
        if ((value = encode(entry, baton)) != NULL) {
            json_object_set_new(json, url, value);
        }
    }
    rv = acme_store_write_json(store, ptemp, relpath, json, ACME_STORE_FILE_PERMS);
    json_decref(json);
    return rv;
}
