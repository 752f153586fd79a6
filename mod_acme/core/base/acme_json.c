/* Jansson helpers shared by every layer. */
#include "acme_json.h"
#include "acme_text.h"

const char *acme_json_dump(apr_pool_t *p, const json_t *json)
{
    size_t len;
    char *text;

    if (!json || (len = json_dumpb(json, NULL, 0, JSON_COMPACT)) == 0) {
        return NULL;
    }
    text = apr_palloc(p, len + 1);
    if (json_dumpb(json, text, len, JSON_COMPACT) != len) {
        return NULL;
    }
    text[len] = '\0';
    return text;
}

json_t *acme_json_strings(const apr_array_header_t *strings)
{
    json_t *array = json_array();
    int i;

    for (i = 0; array && strings && i < strings->nelts; ++i) {
        json_array_append_new(array, json_string(APR_ARRAY_IDX(strings, i, const char *)));
    }
    return array;
}

const char *acme_json_string_printable(apr_pool_t *p, const json_t *obj, const char *key,
                                       apr_size_t max)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        return NULL;
    }
    return acme_text_printable(p, json_string_value(v), json_string_length(v), max,
                               ACME_TEXT_FOLD);
}

static apr_status_t json_release(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *acme_json_pool_owned(apr_pool_t *p, json_t *json)
{
    if (json) {
        apr_pool_cleanup_register(p, json, json_release, apr_pool_cleanup_null);
    }
    return json;
}
