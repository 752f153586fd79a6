/* activation.json: the graceful restart the root parent holds back; and
 * jobs/.restart-refused.json, the one it refused (acme_store_restart.h). */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "acme_store_restart.h"
#include "acme_store_paths.h"
#include "acme_time.h"
#include "acme_text.h"

/* The why as shown: one line of printable ASCII (the record may come from
 * the User too), at most ACME_STORE_REFUSED_WHY_MAX bytes, "..." at its end
 * when cut. "" for none. From p. */
static const char *refused_why(apr_pool_t *p, const char *why)
{
    char *text;

    if (!why) {
        return "";
    }
    text = (char *)acme_text_printable(p, why, strlen(why), ACME_STORE_REFUSED_WHY_MAX + 1,
                                       ACME_TEXT_FOLD);
    if (strlen(text) > ACME_STORE_REFUSED_WHY_MAX) {
        memcpy(text + ACME_STORE_REFUSED_WHY_MAX - 3, "...", 4);
    }
    return text;
}

/* The RFC 3339 time of member key of doc, 0 when none or not one. */
static apr_time_t time_of(const json_t *doc, const char *key)
{
    const char *text = json_string_value(json_object_get(doc, key));
    apr_time_t at = 0;

    return text && acme_time_rfc3339_parse(text, &at) == APR_SUCCESS && at > 0 ? at : 0;
}

/* doc (its reference taken; NULL: it could not be made) written at
 * relpath with perms, atomically: APR_SUCCESS, APR_ENOMEM, or the write's
 * error. */
static apr_status_t write_doc(acme_store_t *store, apr_pool_t *p, const char *relpath,
                              json_t *doc, apr_fileperms_t perms)
{
    apr_status_t rv;

    if (!doc) {
        return APR_ENOMEM;
    }
    rv = acme_store_write_json(store, p, relpath, doc, perms);
    json_decref(doc);
    return rv;
}

/* names as a JSON array of store names; NULL for one that is none. */
static json_t *names_json(const apr_array_header_t *names)
{
    json_t *list = json_array();
    int i;

    for (i = 0; list && i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if (acme_store_name_check(name) != APR_SUCCESS) {
            json_decref(list);
            return NULL;
        }
        json_array_append_new(list, json_string(name));
    }
    return list;
}

apr_status_t acme_store_restart_held_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                                           const apr_array_header_t *names)
{
    json_t *list = names_json(names);

    if (!list) {
        return APR_EINVAL;
    }
    return write_doc(store, p, ACME_STORE_RESTART_HELD,
                     json_pack("{s:s, s:o, s:s}", "restart_at", acme_time_rfc3339(p, at),
                               "names", list, "written_at",
                               acme_time_rfc3339(p, apr_time_now())),
                     ACME_STORE_FILE_PERMS);
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
        || !json_is_object(doc) || !(at = time_of(doc, "restart_at"))) {
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

apr_status_t acme_store_restart_refused_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                                              apr_time_t retry_at, const char *why)
{
    /* 0600 in the User's jobs/: the why names paths and owners */
    return write_doc(store, p, ACME_STORE_RESTART_REFUSED,
                     json_pack("{s:s, s:s, s:s}", "at", acme_time_rfc3339(p, at),
                               "retry_at", acme_time_rfc3339(p, retry_at),
                               "why", refused_why(p, why)),
                     ACME_STORE_KEY_PERMS);
}

apr_status_t acme_store_restart_refused_clear(acme_store_t *store, apr_pool_t *p)
{
    return acme_store_remove(store, p, ACME_STORE_RESTART_REFUSED);
}

int acme_store_restart_refused_read(acme_store_t *store, apr_pool_t *p,
                                    acme_store_refusal_t *refused)
{
    json_t *doc = NULL;
    apr_time_t at, retry_at;

    memset(refused, 0, sizeof(*refused));
    if (acme_store_read_json_pooled(store, p, ACME_STORE_RESTART_REFUSED, &doc) != APR_SUCCESS
        || !json_is_object(doc) || !(at = time_of(doc, "at"))
        || !(retry_at = time_of(doc, "retry_at"))) {
        return 0;
    }
    refused->at = at;
    refused->retry_at = retry_at;
    refused->why = refused_why(p, json_string_value(json_object_get(doc, "why")));
    return 1;
}
