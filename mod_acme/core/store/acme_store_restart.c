/* activation.json: the graceful restart the root parent holds back, or
 * refused (acme_store_restart.h). */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "acme_store_restart.h"
#include "acme_store_paths.h"
#include "acme_time.h"

/* The length of the UTF-8 character at s (1 to 4), 0 when it is none. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3
             : (*s & 0xf8) == 0xf0 ? 4 : 0;
    size_t i;

    for (i = 1; i < n; ++i) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

const char *acme_store_restart_why(apr_pool_t *p, const char *said)
{
    const unsigned char *s = (const unsigned char *)(said ? said : "");
    char *out = apr_palloc(p, ACME_STORE_REFUSED_WHY_MAX + 4);
    size_t len = 0, n;

    while (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t') {
        ++s;                              /* to the first non-empty line */
    }
    for (; *s && *s != '\n' && *s != '\r'; s += n) {
        n = utf8_len(s);
        if (len + (n ? n : 1) > ACME_STORE_REFUSED_WHY_MAX) {
            memcpy(out + len, "...", 3);
            len += 3;
            break;
        }
        if (n <= 1) {
            /* a control character or a stray byte: the page and the
             * terminal show the rest, never this */
            out[len++] = n && *s >= 0x20 && *s != 0x7f ? (char)*s : '?';
            n = 1;
        }
        else {
            memcpy(out + len, s, n);
            len += n;
        }
    }
    out[len] = '\0';
    return out;
}

static apr_status_t held_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                               const apr_array_header_t *names, apr_time_t refused_at,
                               const char *said)
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
    if (doc && refused_at
        && json_object_set_new(doc, "refused",
                               json_pack("{s:s, s:s}", "at", acme_time_rfc3339(p, refused_at),
                                         "why", acme_store_restart_why(p, said))) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    if (!doc) {
        return APR_ENOMEM;
    }
    rv = acme_store_write_json(store, p, ACME_STORE_RESTART_HELD, doc, ACME_STORE_FILE_PERMS);
    json_decref(doc);
    return rv;
}

apr_status_t acme_store_restart_held_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                                           const apr_array_header_t *names)
{
    return held_write(store, p, at, names, 0, NULL);
}

apr_status_t acme_store_restart_refused_write(acme_store_t *store, apr_pool_t *p,
                                              apr_time_t refused_at, apr_time_t retry_at,
                                              const char *said, const apr_array_header_t *names)
{
    return held_write(store, p, retry_at, names, refused_at ? refused_at : apr_time_now(), said);
}

apr_status_t acme_store_restart_held_clear(acme_store_t *store, apr_pool_t *p)
{
    return acme_store_remove(store, p, ACME_STORE_RESTART_HELD);
}

apr_time_t acme_store_restart_held_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names,
                                        acme_store_refusal_t *refused)
{
    json_t *doc = NULL, *v, *r;
    apr_time_t at = 0, rat = 0;
    size_t i;

    *names = NULL;
    if (refused) {
        refused->at = 0;
        refused->why = NULL;
    }
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
    r = json_object_get(doc, "refused");
    if (refused && json_is_object(r) && json_is_string(json_object_get(r, "at"))
        && acme_time_rfc3339_parse(json_string_value(json_object_get(r, "at")), &rat)
           == APR_SUCCESS && rat > 0) {
        refused->at = rat;
        /* as written, unless someone else wrote it: shown on a page */
        refused->why = acme_store_restart_why(p, json_string_value(json_object_get(r, "why")));
    }
    return at;
}
