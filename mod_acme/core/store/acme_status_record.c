/* status/<name>.json: encoder, defensive decoder, load and save. The schema
 * and the decoder's rules are in acme_status_record.h. */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <apr_strings.h>

#include "acme_status_record.h"
#include "acme_custody.h"
#include "acme_store_paths.h"
#include "acme_time.h"
#include "acme_json.h"

static const char *const state_names[] = {
    NULL, "missing", "valid", "renewing", "staged", "error"
};

const char *acme_status_record_state_name(acme_status_state_e state)
{
    return (unsigned)state < sizeof(state_names) / sizeof(state_names[0])
           ? state_names[state] : NULL;
}

int acme_status_record_failing(const acme_status_record_t *rec)
{
    return rec && (rec->state == ACME_STATUS_ERROR || (rec->error && rec->attempts > 0));
}

const char *acme_status_record_shown_state(const acme_status_record_t *rec, int has_live,
                                           int live_valid, int live_revoked)
{
    if (rec && rec->state == ACME_STATUS_STAGED) {
        return ACME_STATE_STAGED;
    }
    if (has_live && live_revoked) {
        return ACME_STATE_REVOKED;
    }
    if (acme_status_record_failing(rec)) {
        return has_live && live_valid ? ACME_STATE_RENEWAL_FAILING : ACME_STATE_FAILING;
    }
    if (rec && rec->state == ACME_STATUS_RENEWING) {
        return ACME_STATE_RENEWING;
    }
    if (!has_live) {
        return ACME_STATE_MISSING;
    }
    return live_valid ? ACME_STATE_VALID : ACME_STATE_EXPIRED;
}

acme_status_state_e acme_status_record_state_parse(const char *name)
{
    unsigned i;

    for (i = 1; name && i < sizeof(state_names) / sizeof(state_names[0]); ++i) {
        if (strcmp(name, state_names[i]) == 0) {
            return (acme_status_state_e)i;
        }
    }
    return ACME_STATUS_UNKNOWN;
}

acme_status_record_t *acme_status_record_make(apr_pool_t *p)
{
    acme_status_record_t *rec = apr_pcalloc(p, sizeof(*rec));

    rec->attempts = -1;
    rec->requests = -1;
    return rec;
}

/* ---- encoding ---- */

static void put_string(json_t *obj, const char *key, const char *value)
{
    if (value) {
        json_object_set_new(obj, key, json_string(value));
    }
}

static void put_time(json_t *obj, const char *key, apr_time_t t, apr_pool_t *p)
{
    if (t > 0) {
        json_object_set_new(obj, key, json_string(acme_time_rfc3339(p, t)));
    }
}

static void put_int(json_t *obj, const char *key, int value)
{
    if (value >= 0) {
        json_object_set_new(obj, key, json_integer(value));
    }
}

static void put_object(json_t *obj, const char *key, json_t *member)
{
    if (json_object_size(member) > 0) {
        json_object_set(obj, key, member);
    }
    json_decref(member);
}

json_t *acme_status_record_encode(const acme_status_record_t *rec, apr_pool_t *p)
{
    const char *state = acme_status_record_state_name(rec->state);
    json_t *json = json_object();

    if (!json) {
        return NULL;
    }
    put_string(json, "name", rec->name);
    if (rec->names) {
        json_object_set_new(json, "names", acme_json_strings(rec->names));
    }
    json_object_set_new(json, "state", json_string(state ? state : "missing"));
    put_string(json, "step", rec->step);
    if (rec->cert) {
        json_t *cert = json_object();
        put_time(cert, "not_before", rec->cert->not_before, p);
        put_time(cert, "not_after", rec->cert->not_after, p);
        put_string(cert, "issuer", rec->cert->issuer);
        put_string(cert, "serial", rec->cert->serial);
        put_string(cert, "ca", rec->cert->ca);
        put_string(cert, "ari_id", rec->cert->ari_id);
        put_object(json, "cert", cert);
    }
    if (rec->error) {
        json_t *error = json_object();
        put_string(error, "type", rec->error->type);
        put_string(error, "detail", rec->error->detail);
        put_string(error, "url", rec->error->url);
        put_string(error, "kind", rec->error->kind);
        put_time(error, "at", rec->error->at, p);
        put_time(error, "since", rec->error->since, p);
        put_object(json, "error", error);
    }
    put_time(json, "next_action", rec->next_action, p);
    json_object_set_new(json, "attempts", json_integer(rec->attempts > 0 ? rec->attempts : 0));
    json_object_set_new(json, "requests", json_integer(rec->requests > 0 ? rec->requests : 0));
    put_string(json, "notice", rec->notice);
    put_string(json, "activity", rec->activity);
    put_string(json, "fingerprint", rec->fingerprint);
    if (rec->ca) {
        json_t *ca = json_object();
        put_int(ca, "index", rec->ca->index);
        put_int(ca, "failures", rec->ca->failures);
        put_string(ca, "url", rec->ca->url);
        put_time(ca, "since", rec->ca->since, p);
        put_object(json, "ca", ca);
    }
    put_time(json, "renew_at", rec->renew_at, p);
    if (rec->ari) {
        json_t *ari = json_object();
        put_time(ari, "start", rec->ari->start, p);
        put_time(ari, "end", rec->ari->end, p);
        put_time(ari, "chosen", rec->ari->chosen, p);
        put_time(ari, "next_poll", rec->ari->next_poll, p);
        put_object(json, "ari", ari);
    }
    if (rec->warning) {
        json_t *warning = json_object();
        put_time(warning, "expires_at", rec->warning->expires_at, p);
        put_string(warning, "message", rec->warning->message);
        put_time(warning, "notified_at", rec->warning->notified_at, p);
        put_object(json, "warning", warning);
    }
    if (!json_object_get(json, "state")) {
        json_decref(json);
        return NULL;
    }
    return json;
}

/* ---- decoding: nothing in status/ is trusted ---- */

/* A JSON string as one line copied to p; NULL when value is no string or
 * one longer than ACME_STATUS_STRING_MAX. */
static const char *one_line(apr_pool_t *p, const json_t *value)
{
    apr_size_t len = json_is_string(value) ? json_string_length(value) : 0;
    char *copy, *c;

    if (!json_is_string(value) || len > ACME_STATUS_STRING_MAX) {
        return NULL;
    }
    copy = apr_pstrmemdup(p, json_string_value(value), len);
    for (c = copy; (c = strpbrk(c, "\r\n")) != NULL; ++c) {
        *c = ' ';
    }
    return copy;
}

static const char *get_string(apr_pool_t *p, const json_t *obj, const char *key)
{
    return one_line(p, json_object_get(obj, key));
}

static apr_time_t get_time(const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);
    apr_time_t t;

    if (!json_is_string(value)
        || acme_time_rfc3339_parse(json_string_value(value), &t) != APR_SUCCESS) {
        return 0;
    }
    return t;
}

static int get_int(const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);
    json_int_t n = json_is_integer(value) ? json_integer_value(value) : -1;

    return n >= 0 && n <= INT_MAX ? (int)n : -1;
}

static apr_array_header_t *get_names(apr_pool_t *p, const json_t *obj)
{
    const json_t *array = json_object_get(obj, "names");
    apr_array_header_t *names;
    size_t i;

    if (!json_is_array(array)) {
        return NULL;
    }
    names = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; i < json_array_size(array) && names->nelts < ACME_STATUS_NAMES_MAX; ++i) {
        const char *name = one_line(p, json_array_get(array, i));

        if (name) {
            APR_ARRAY_PUSH(names, const char *) = name;
        }
    }
    return names;
}

static const json_t *get_object(const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);

    return json_is_object(value) ? value : NULL;
}

static const acme_status_cert_t *decode_cert(apr_pool_t *p, const json_t *obj)
{
    acme_status_cert_t *cert;

    if (!obj) {
        return NULL;
    }
    cert = apr_pcalloc(p, sizeof(*cert));
    cert->not_before = get_time(obj, "not_before");
    cert->not_after = get_time(obj, "not_after");
    cert->issuer = get_string(p, obj, "issuer");
    cert->serial = get_string(p, obj, "serial");
    cert->ca = get_string(p, obj, "ca");
    cert->ari_id = get_string(p, obj, "ari_id");
    return cert;
}

static const acme_status_error_t *decode_error(apr_pool_t *p, const json_t *obj)
{
    acme_status_error_t *error;

    if (!obj) {
        return NULL;
    }
    error = apr_pcalloc(p, sizeof(*error));
    error->type = get_string(p, obj, "type");
    error->detail = get_string(p, obj, "detail");
    error->url = get_string(p, obj, "url");
    error->kind = get_string(p, obj, "kind");
    error->at = get_time(obj, "at");
    error->since = get_time(obj, "since");
    return error;
}

static const acme_status_ca_t *decode_ca(apr_pool_t *p, const json_t *obj)
{
    acme_status_ca_t *ca;

    if (!obj) {
        return NULL;
    }
    ca = apr_pcalloc(p, sizeof(*ca));
    ca->url = get_string(p, obj, "url");
    ca->index = get_int(obj, "index");
    ca->failures = get_int(obj, "failures");
    ca->since = get_time(obj, "since");
    return ca;
}

static const acme_status_ari_t *decode_ari(apr_pool_t *p, const json_t *obj)
{
    acme_status_ari_t *ari;

    if (!obj) {
        return NULL;
    }
    ari = apr_pcalloc(p, sizeof(*ari));
    ari->start = get_time(obj, "start");
    ari->end = get_time(obj, "end");
    ari->chosen = get_time(obj, "chosen");
    ari->next_poll = get_time(obj, "next_poll");
    return ari->start || ari->end || ari->chosen || ari->next_poll ? ari : NULL;
}

static const acme_status_warning_t *decode_warning(apr_pool_t *p, const json_t *obj)
{
    acme_status_warning_t *warning;

    if (!obj) {
        return NULL;
    }
    warning = apr_pcalloc(p, sizeof(*warning));
    warning->expires_at = get_time(obj, "expires_at");
    warning->message = get_string(p, obj, "message");
    warning->notified_at = get_time(obj, "notified_at");
    return warning;
}

apr_status_t acme_status_record_decode(apr_pool_t *p, const json_t *json,
                                       acme_status_record_t **out)
{
    acme_status_record_t *rec;

    if (!json_is_object(json)) {
        return APR_EINVAL;
    }
    rec = acme_status_record_make(p);
    rec->name = get_string(p, json, "name");
    rec->names = get_names(p, json);
    rec->state = acme_status_record_state_parse(json_string_value(json_object_get(json, "state")));
    rec->step = get_string(p, json, "step");
    rec->cert = decode_cert(p, get_object(json, "cert"));
    rec->error = decode_error(p, get_object(json, "error"));
    rec->next_action = get_time(json, "next_action");
    rec->attempts = get_int(json, "attempts");
    rec->requests = get_int(json, "requests");
    rec->notice = get_string(p, json, "notice");
    rec->activity = get_string(p, json, "activity");
    rec->fingerprint = get_string(p, json, "fingerprint");
    rec->ca = decode_ca(p, get_object(json, "ca"));
    rec->renew_at = get_time(json, "renew_at");
    rec->ari = decode_ari(p, get_object(json, "ari"));
    rec->warning = decode_warning(p, get_object(json, "warning"));
    *out = rec;
    return APR_SUCCESS;
}

/* ---- the store ---- */

static const char *unsaved_path(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_STATUS "/", name, ACME_STATUS_UNSAVED_SUFFIX, NULL);
}

/* status/<name>.unsaved: made (empty, so that a full filesystem still takes
 * it) at the first record that cannot be written, its time that of the
 * failure; removed by the next record written. Readers then know the record
 * on disk is older than what the server knows. */
static void unsaved_mark(acme_store_t *store, apr_pool_t *p, const char *name, int failed)
{
    const char *rel = unsaved_path(p, name);
    struct stat st;

    if (!failed) {
        /* the child's own area, and the child writes it: a plain unlink,
         * one call, which finds nothing nearly every time */
        unlink(acme_store_path(store, p, rel));
    }
    else {
        if (lstat(acme_store_path(store, p, rel), &st) != 0) {
            acme_store_write(store, p, rel, "", 0, ACME_STORE_FILE_PERMS);
        }
        /* new times (no space needed) tell the readers keyed on the
         * record's stamp (status cache, shared page) to look again */
        utimes(acme_store_path(store, p, acme_store_rel_status(p, name)), NULL);
    }
}

apr_status_t acme_status_record_save(acme_store_t *store, apr_pool_t *p,
                                     const acme_status_record_t *rec)
{
    json_t *json;
    apr_status_t rv;

    if (!rec->name || acme_store_name_check(rec->name) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    json = acme_status_record_encode(rec, p);
    if (!json) {
        return APR_EINVAL;
    }
    rv = acme_store_write_json_unsynced(store, p, acme_store_rel_status(p, rec->name), json,
                                        ACME_STORE_FILE_PERMS);
    json_decref(json);
    unsaved_mark(store, p, rec->name, rv != APR_SUCCESS);
    return rv;
}

int acme_status_record_unchanged(acme_store_t *store, apr_pool_t *p,
                                 const acme_status_record_t *rec)
{
    json_t *json;
    struct stat st;
    int same;

    if (!rec->name || acme_store_name_check(rec->name) != APR_SUCCESS
        || lstat(acme_store_path(store, p, unsaved_path(p, rec->name)), &st) == 0
        || !(json = acme_status_record_encode(rec, p))) {
        return 0;
    }
    same = acme_store_json_unchanged(store, p, acme_store_rel_status(p, rec->name), json);
    json_decref(json);
    return same;
}

apr_time_t acme_status_record_unsaved_since(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat st;

    if (acme_store_name_check(name) != APR_SUCCESS
        || lstat(acme_store_path(store, p, unsaved_path(p, name)), &st) != 0
        || !S_ISREG(st.st_mode)) {
        return 0;
    }
    return apr_time_from_sec(st.st_mtime);
}

apr_status_t acme_status_record_load(acme_store_t *store, apr_pool_t *p, const char *name,
                                     acme_status_record_t **rec)
{
    json_t *json;
    apr_status_t rv;

    if (acme_store_name_check(name) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    rv = acme_store_read_json_pooled(store, p, acme_store_rel_status(p, name), &json);
    if (rv == APR_SUCCESS) {
        rv = acme_status_record_decode(p, json, rec);
    }
    if (rv == APR_SUCCESS) {
        (*rec)->name = apr_pstrdup(p, name);
    }
    return rv;
}

apr_status_t acme_status_record_load_all(acme_store_t *store, apr_pool_t *p,
                                         apr_array_header_t **records)
{
    static const char suffix[] = ".json";
    apr_array_header_t *entries;
    apr_status_t rv;
    int i;

    *records = apr_array_make(p, 8, sizeof(acme_status_record_t *));
    rv = acme_store_list(store, p, ACME_STORE_STATUS, &entries);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(entries, i, const char *);
        apr_size_t len = strlen(entry);
        acme_status_record_t *rec;

        if (len <= sizeof(suffix) - 1 || strcmp(entry + len - (sizeof(suffix) - 1), suffix)) {
            continue;
        }
        if (acme_status_record_load(store, p, apr_pstrmemdup(p, entry, len - (sizeof(suffix) - 1)),
                                    &rec) == APR_SUCCESS) {
            APR_ARRAY_PUSH(*records, acme_status_record_t *) = rec;
        }
    }
    return APR_SUCCESS;
}

const acme_status_record_t *acme_status_record_refused_view(acme_store_t *store, apr_pool_t *p,
                                                            const acme_status_record_t *rec)
{
    acme_custody_refusal_t refusal;
    acme_status_record_t *view;
    acme_status_error_t *error;

    if (!rec || !store || rec->state != ACME_STATUS_STAGED
        || acme_store_has_staged(store, p, rec->name)
        || acme_custody_refusal_read(store, p, rec->name, &refusal) != APR_SUCCESS
        || !refusal.leveled) {
        return rec;
    }
    view = apr_pmemdup(p, rec, sizeof(*rec));
    error = apr_pcalloc(p, sizeof(*error));
    error->kind = "seclevel";
    error->detail = apr_pstrcat(p, "the staged certificate was ",
                                acme_custody_level_said(p, &refusal.level), NULL);
    /* the refusal's series began then (an older record without it: the
     * record's own last change, not the moment of this view) */
    error->since = refusal.level.since; /* 0 (null) in a record older than the series' start */
    error->at = error->since;
    /* the child's next order, as its record says once rewritten: none
     * before the hold ends (0 when the refusal's time is not recorded) */
    view->next_action = refusal.at ? refusal.at + ACME_CUSTODY_LEVEL_HOLD : 0;
    view->state = ACME_STATUS_ERROR;
    view->step = "idle";
    view->error = error;
    view->attempts = rec->attempts > 0 ? rec->attempts : 1;
    return view;
}
