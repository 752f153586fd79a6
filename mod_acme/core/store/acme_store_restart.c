/* activation.json: the graceful restart the root parent holds back
 * (acme_store_restart.h). */
#include <apr_strings.h>
#include <jansson.h>

#include "acme_store_restart.h"
#include "acme_store_paths.h"
#include "acme_time.h"

apr_status_t acme_store_restart_held_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                                           const apr_array_header_t *names)
{
    json_t *doc, *list = json_array();
    apr_status_t rv;
    int i;

    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if (acme_store_name_check(name) != APR_SUCCESS) {
            json_decref(list);
            return APR_EINVAL;
        }
        json_array_append_new(list, json_string(name));
    }
    doc = json_pack("{s:s, s:o, s:s}", "restart_at", acme_time_rfc3339(p, at), "names", list,
                    "written_at", acme_time_rfc3339(p, apr_time_now()));
    if (!doc) {
        return APR_ENOMEM;
    }
    rv = acme_store_write_json(store, p, ACME_STORE_RESTART_HELD, doc, ACME_STORE_FILE_PERMS);
    json_decref(doc);
    return rv;
}

apr_status_t acme_store_restart_held_clear(acme_store_t *store, apr_pool_t *p)
{
    return acme_store_remove(store, p, ACME_STORE_RESTART_HELD);
}

apr_time_t acme_store_restart_held_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names)
{
    json_t *doc = NULL, *v;
    apr_time_t at = 0;
    size_t i;

    *names = NULL;
    if (acme_store_read_json_pooled(store, p, ACME_STORE_RESTART_HELD, &doc) != APR_SUCCESS
        || !json_is_object(doc)
        || !json_is_string(json_object_get(doc, "restart_at"))
        || acme_time_rfc3339_parse(json_string_value(json_object_get(doc, "restart_at")), &at)
           != APR_SUCCESS || at <= 0) {
        return 0;
    }
    *names = apr_hash_make(p);
    json_array_foreach(json_object_get(doc, "names"), i, v) {
        if (json_is_string(v)) {
            apr_hash_set(*names, apr_pstrdup(p, json_string_value(v)), APR_HASH_KEY_STRING, "");
        }
    }
    return at;
}
