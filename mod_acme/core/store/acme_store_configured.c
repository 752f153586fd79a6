/* configured.json: the store names of the server's last start
 * (acme_store_configured.h). */
#include <string.h>
#include <apr_strings.h>

#include "acme_store_configured.h"
#include "acme_time.h"

/* Same names as recorded (any order)? Then the file and its time stay. */
static int same_names(json_t *have, const apr_array_header_t *names)
{
    json_t *list = json_object_get(have, "names");
    size_t i;
    int j;

    if (!json_is_array(list) || json_array_size(list) != (size_t)names->nelts) {
        return 0;
    }
    for (j = 0; j < names->nelts; ++j) {
        const char *name = APR_ARRAY_IDX(names, j, const char *);
        int found = 0;
        for (i = 0; i < json_array_size(list) && !found; ++i) {
            const char *v = json_string_value(json_array_get(list, i));
            found = v && !strcmp(v, name);
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

apr_status_t acme_store_configured_write(acme_store_t *store, apr_pool_t *p,
                                         const apr_array_header_t *names, apr_time_t now)
{
    json_t *have = NULL, *doc, *list;
    apr_status_t rv;
    int i;

    if (acme_store_read_json_pooled(store, p, ACME_STORE_CONFIGURED, &have) == APR_SUCCESS
        && same_names(have, names)) {
        return APR_SUCCESS;
    }
    list = json_array();
    for (i = 0; i < names->nelts; ++i) {
        json_array_append_new(list, json_string(APR_ARRAY_IDX(names, i, const char *)));
    }
    doc = json_pack("{s:o, s:s}", "names", list, "since", acme_time_rfc3339(p, now));
    if (!doc) {
        return APR_ENOMEM;
    }
    rv = acme_store_write_json(store, p, ACME_STORE_CONFIGURED, doc, ACME_STORE_FILE_PERMS);
    json_decref(doc);
    return rv;
}

apr_status_t acme_store_configured_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names,
                                        apr_time_t *since)
{
    json_t *doc, *list, *v;
    apr_status_t rv;
    size_t i;

    *names = apr_hash_make(p);
    *since = 0;
    if ((rv = acme_store_read_json_pooled(store, p, ACME_STORE_CONFIGURED, &doc)) != APR_SUCCESS) {
        return rv;
    }
    list = json_object_get(doc, "names");
    if (!json_is_array(list)) {
        return APR_EINVAL;
    }
    json_array_foreach(list, i, v) {
        if (json_is_string(v)) {
            apr_hash_set(*names, apr_pstrdup(p, json_string_value(v)), APR_HASH_KEY_STRING, "");
        }
    }
    if (json_is_string(json_object_get(doc, "since"))
        && acme_time_rfc3339_parse(json_string_value(json_object_get(doc, "since")), since)
           != APR_SUCCESS) {
        *since = 0;
    }
    return APR_SUCCESS;
}
