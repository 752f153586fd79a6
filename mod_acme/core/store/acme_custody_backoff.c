/* The refusal backoff of staged entries (keys/<name>/refused.json, root's)
 * and its one exemption per key for a chain of root's current key. See
 * acme_custody.h and docs/security.md, "The backoff and genuine renewals". */
#include <errno.h>
#include <sys/stat.h>
#include <limits.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "acme_custody.h"
#include "acme_b64url.h"
#include "acme_store_paths.h"
#include "acme_text.h"
#include "acme_time.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

/* The refusal record of name at rel(p, name): acme_store_rel_refused (root's
 * keys/<name>/refused.json) or acme_store_rel_refused_shown (its public copy
 * refused/<name>.json, which every child and acmectl reads). Its object (in
 * p), NULL when name is no store name or the file is missing, unreadable or
 * no JSON object. The one reader of both: each caller takes the fields it
 * needs. */
static json_t *refused_object(acme_store_t *store, apr_pool_t *p, const char *name,
                              const char *(*rel)(apr_pool_t *, const char *))
{
    json_t *json;

    if (acme_store_name_check(name) != APR_SUCCESS
        || acme_store_read_json_pooled(store, p, rel(p, name), &json) != APR_SUCCESS
        || !json_is_object(json)) {
        return NULL;
    }
    return json;
}

apr_time_t acme_custody_refused_info(acme_store_t *store, apr_pool_t *p, const char *name,
                                     int *count)
{
    json_t *json = refused_object(store, p, name, acme_store_rel_refused);
    json_int_t n;
    apr_time_t until;

    *count = 0;
    /* an "until" no clock reaches (garbled) is no refusal */
    if (!json || !json_is_integer(json_object_get(json, "until"))
        || acme_time_from_sec_checked(json_integer_value(json_object_get(json, "until")), &until)) {
        return 0;
    }
    if (json_is_integer(json_object_get(json, "count"))) {
        n = json_integer_value(json_object_get(json, "count"));
        *count = n < 0 ? 0 : n > INT_MAX ? INT_MAX : (int)n;
    }
    return until;
}

void acme_custody_refused_shown_tidy(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat st;

    if (acme_store_name_check(name) == APR_SUCCESS
        && lstat(acme_store_path(store, p, acme_store_rel_refused(p, name)), &st) != 0
        && errno == ENOENT) {
        acme_store_remove(store, p, acme_store_rel_refused_shown(p, name));
    }
}

apr_time_t acme_custody_refused_until(acme_store_t *store, apr_pool_t *p, const char *name)
{
    int count;

    return acme_custody_refused_info(store, p, name, &count);
}

/* The level refusal's fields into json (NULL level: none). */
static void level_set(json_t *json, const acme_custody_level_t *level)
{
    if (!json || !level) {
        return;
    }
    json_object_set_new(json, "seclevel", json_integer(level->level));
    json_object_set_new(json, "key_type", json_string(level->key_type ? level->key_type : ""));
    json_object_set_new(json, "weak", json_string(level->weak ? level->weak : ""));
    json_object_set_new(json, "reason", json_string(level->reason ? level->reason : ""));
    if (level->ca) {
        json_object_set_new(json, "ca", json_string(level->ca));
    }
    if (level->preferred_chain) {
        json_object_set_new(json, "preferred_chain", json_string(level->preferred_chain));
    }
    if (level->profile) {
        json_object_set_new(json, "profile", json_string(level->profile));
    }
}

/* json's string key in p, NULL when it has none. */
static const char *string_of(apr_pool_t *p, json_t *json, const char *key)
{
    json_t *v = json_object_get(json, key);

    return json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : NULL;
}

void acme_custody_level_depends(apr_pool_t *p, acme_custody_level_t *level,
                                const apr_array_header_t *ca_urls, const char *preferred_chain,
                                const char *profile)
{
    level->ca = ca_urls && ca_urls->nelts > 0 ? apr_array_pstrcat(p, ca_urls, ' ') : "";
    level->preferred_chain = preferred_chain ? preferred_chain : "";
    level->profile = profile ? profile : "";
}

/* Is a recorded field (NULL: none recorded) other than now's? */
static int field_changed(const char *was, const char *now)
{
    return was && strcmp(was, now ? now : "") != 0;
}

const char *acme_custody_level_changed(const acme_custody_level_t *was,
                                       const acme_custody_level_t *now)
{
    if (field_changed(was->key_type, now->key_type)) {
        return "the key type";
    }
    if (field_changed(was->ca, now->ca)) {
        return "AcmeCA";
    }
    if (field_changed(was->preferred_chain, now->preferred_chain)) {
        return "AcmePreferredChain";
    }
    if (field_changed(was->profile, now->profile)) {
        return "AcmeProfile";
    }
    return NULL;
}

apr_time_t acme_custody_refused(acme_store_t *store, apr_pool_t *p, const char *name,
                                apr_time_t now)
{
    return acme_custody_refused_level(store, p, name, now, NULL);
}

/* The level refusal json records (strings in p) into *level: 1, else 0
 * (the last refusal was not one) with *level zeroed. */
static int level_of(apr_pool_t *p, json_t *json, acme_custody_level_t *level)
{
    json_t *lv = json_object_get(json, "seclevel");

    memset(level, 0, sizeof(*level));
    if (!json_is_integer(lv) || json_integer_value(lv) < 0 || json_integer_value(lv) > 5
        || !json_is_string(json_object_get(json, "key_type"))) {
        return 0;
    }
    level->level = (int)json_integer_value(lv);
    level->key_type = string_of(p, json, "key_type");
    level->weak = json_is_string(json_object_get(json, "weak")) ? string_of(p, json, "weak") : "";
    level->reason = json_is_string(json_object_get(json, "reason"))
                    ? string_of(p, json, "reason") : "";
    level->ca = string_of(p, json, "ca");
    level->preferred_chain = string_of(p, json, "preferred_chain");
    level->profile = string_of(p, json, "profile");
    if (!json_is_integer(json_object_get(json, "since"))
        || acme_time_from_sec_checked(json_integer_value(json_object_get(json, "since")),
                                      &level->since)) {
        level->since = 0;
    }
    return 1;
}

apr_status_t acme_custody_level_refusal(acme_store_t *store, apr_pool_t *p, const char *name,
                                        int shown, acme_custody_level_t *level)
{
    json_t *json;

    memset(level, 0, sizeof(*level));
    if (acme_store_name_check(name) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!(json = refused_object(store, p, name, shown ? acme_store_rel_refused_shown
                                                      : acme_store_rel_refused))) {
        return APR_ENOENT;
    }
    return level_of(p, json, level) ? APR_SUCCESS : APR_ENOENT;
}

/* A count recorded in json under key, clamped to 1..INT_MAX; dflt when
 * there is none. */
static int count_of(json_t *json, const char *key, json_int_t dflt)
{
    json_t *v = json_object_get(json, key);
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : dflt;

    return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

/* A refusal's reason is shown (status page, acmectl, 503) up to this many
 * bytes: the parent's texts are a sentence; the rest is in its error log. */
#define REFUSAL_WHY_MAX 400

apr_status_t acme_custody_refusal_read(acme_store_t *store, apr_pool_t *p, const char *name,
                                       acme_custody_refusal_t *refusal)
{
    json_t *json, *last;
    const char *why;

    memset(refusal, 0, sizeof(*refusal));
    if (acme_store_name_check(name) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!(json = refused_object(store, p, name, acme_store_rel_refused_shown))) {
        return APR_ENOENT;
    }
    refusal->leveled = level_of(p, json, &refusal->level);
    /* an older version's level record has no "at": its series' start */
    last = json_object_get(json, "at");
    if (!last && json_is_integer(json_object_get(json, "seclevel"))) {
        last = json_object_get(json, "since");
    }
    if (!json_is_integer(last)
        || acme_time_from_sec_checked(json_integer_value(last), &refusal->at)) {
        refusal->at = 0;
    }
    else {
        refusal->count = count_of(json, "count", 1);
    }
    if (json_is_string(json_object_get(json, "key"))
        && json_is_integer(last = json_object_get(json, "key_at"))
        && !acme_time_from_sec_checked(json_integer_value(last), &refusal->key_at)
        && json_is_integer(json_object_get(json, "key_count"))) {
        refusal->key = string_of(p, json, "key");
        refusal->key_count = count_of(json, "key_count", 1);
    }
    else {
        refusal->key_at = 0;
    }
    if ((why = json_string_value(json_object_get(json, "reason"))) && *why) {
        refusal->reason = acme_text_cut(p, why, REFUSAL_WHY_MAX);
    }
    return APR_SUCCESS;
}

apr_time_t acme_custody_level_hold_end(acme_store_t *store, apr_pool_t *p, const char *name)
{
    acme_custody_refusal_t refusal;

    if (!acme_store_staged_rejected(store, p, name)
        || acme_custody_refusal_read(store, p, name, &refusal) != APR_SUCCESS
        || !refusal.leveled || !refusal.at) {
        return 0;
    }
    return refusal.at + ACME_CUSTODY_LEVEL_HOLD;
}

const char *acme_custody_level_hold_said(acme_store_t *store, apr_pool_t *p, const char *name,
                                         apr_time_t now)
{
    apr_time_t end = acme_custody_level_hold_end(store, p, name);

    return end > now ? apr_psprintf(p, "while %s is held for its vhosts' security level (its "
                                    "chain was refused, see \"staged certificate refused\"): "
                                    "no new order before %s unless what the refusal names "
                                    "changes", name, acme_time_rfc3339(p, end)) : NULL;
}

const char *acme_custody_level_said(apr_pool_t *p, const acme_custody_level_t *level)
{
    return apr_psprintf(p, "refused at OpenSSL security level %d: %s too weak (key type %s); "
                        "lower @SECLEVEL for the vhost serving it, or use a key type or a CA "
                        "whose chain meets the level (AcmeKeyType, AcmePreferredChain, AcmeCA)",
                        level->level, level->weak && *level->weak ? level->weak
                                                                   : "a certificate of the chain",
                        level->key_type);
}

apr_time_t acme_custody_refused_level(acme_store_t *store, apr_pool_t *p, const char *name,
                                      apr_time_t now, const acme_custody_level_t *level)
{
    return acme_custody_refused_key(store, p, name, now, level, NULL, NULL);
}

/* The series of refusals of entries for root's current key into json (none
 * for a level refusal: its hold governs). Another key's entry, or one whose
 * key is not known (key_id NULL), keeps the series as it was: it neither
 * delays the child nor shortens its wait. */
static void key_series_set(json_t *json, json_t *old, const char *key_id, apr_time_t now)
{
    const char *was = old ? json_string_value(json_object_get(old, "key")) : NULL;
    json_int_t n = 0;

    if (!json) {
        return;
    }
    if (!key_id) {
        if (was && json_is_integer(json_object_get(old, "key_count"))
            && json_is_integer(json_object_get(old, "key_at"))) {
            json_object_set(json, "key", json_object_get(old, "key"));
            json_object_set(json, "key_count", json_object_get(old, "key_count"));
            json_object_set(json, "key_at", json_object_get(old, "key_at"));
        }
        return;
    }
    if (was && !strcmp(was, key_id) && json_is_integer(json_object_get(old, "key_count"))) {
        n = json_integer_value(json_object_get(old, "key_count"));
    }
    json_object_set_new(json, "key", json_string(key_id));
    json_object_set_new(json, "key_count", json_integer(n < 0 || n >= INT_MAX ? 1 : n + 1));
    json_object_set_new(json, "key_at", json_integer((json_int_t)apr_time_sec(now)));
}

apr_time_t acme_custody_refused_key(acme_store_t *store, apr_pool_t *p, const char *name,
                                    apr_time_t now, const acme_custody_level_t *level,
                                    const char *key_id, const char *why)
{
    json_t *json = NULL, *old;
    json_int_t count = 0;
    apr_interval_time_t wait = ACME_CUSTODY_BACKOFF_MIN;
    apr_time_t until;

    if (acme_store_name_check(name) != APR_SUCCESS
        || acme_custody_keys_dir(store, p) != APR_SUCCESS) {
        return 0;
    }
    if ((old = refused_object(store, p, name, acme_store_rel_refused))
        && json_is_integer(json_object_get(old, "count"))) {
        count = json_integer_value(json_object_get(old, "count"));
    }
    for (json_int_t i = 0; i < count && wait < ACME_CUSTODY_BACKOFF_MAX; ++i) {
        wait *= 2;
    }
    if (wait > ACME_CUSTODY_BACKOFF_MAX) {
        wait = ACME_CUSTODY_BACKOFF_MAX;
    }
    until = now + wait;
    json = json_pack("{s:I, s:I, s:I}", "count", count + 1, "until",
                     (json_int_t)apr_time_sec(until) + 1, "at", (json_int_t)apr_time_sec(now));
    /* The exemption stays used: a key has one, however many refusals follow. */
    if (json && old && json_is_string(json_object_get(old, "exempted"))) {
        json_object_set(json, "exempted", json_object_get(old, "exempted"));
    }
    level_set(json, level);
    if (!level) {
        key_series_set(json, old, key_id, now);
        if (json && why && *why) {
            json_object_set_new(json, "reason", json_stringn(why, acme_text_cut_len(why,
                                                                       REFUSAL_WHY_MAX)));
        }
    }
    if (json && level) {
        json_t *since = old && json_is_integer(json_object_get(old, "seclevel"))
                        ? json_object_get(old, "since") : NULL;

        json_object_set_new(json, "since", json_is_integer(since)
                            ? json_integer(json_integer_value(since))
                            : json_integer((json_int_t)apr_time_sec(now)));
    }
    if (json) {
        acme_store_write_json(store, p, acme_store_rel_refused(p, name), json,
                              ACME_STORE_KEY_PERMS);
        json_object_del(json, "exempted");
        acme_store_write_json(store, p, acme_store_rel_refused_shown(p, name), json,
                              ACME_STORE_FILE_PERMS);
        json_decref(json);
    }
    return until;
}

apr_status_t acme_custody_level_drop(acme_store_t *store, apr_pool_t *p, const char *name)
{
    /* "at" too: what the refusal depended on changed, so the child orders
     * at once (acme_custody_refusal_read finds no series to wait out). */
    static const char *const fields[] = { "seclevel", "key_type", "weak", "reason", "ca",
                                          "preferred_chain", "profile", "since", "at",
                                          "key", "key_count", "key_at" };
    json_t *json = refused_object(store, p, name, acme_store_rel_refused);
    apr_status_t rv;
    size_t i;

    if (!json || !(json = json_deep_copy(json))) {
        return json ? APR_ENOMEM : APR_ENOENT;
    }
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_object_del(json, fields[i]);
    }
    rv = acme_store_write_json(store, p, acme_store_rel_refused(p, name), json,
                               ACME_STORE_KEY_PERMS);
    json_object_del(json, "exempted");
    if (rv == APR_SUCCESS) {
        rv = acme_store_write_json(store, p, acme_store_rel_refused_shown(p, name), json,
                                   ACME_STORE_FILE_PERMS);
    }
    json_decref(json);
    return rv;
}

void acme_custody_refused_clear(acme_store_t *store, apr_pool_t *p, const char *name)
{
    if (acme_store_name_check(name) == APR_SUCCESS) {
        acme_store_remove(store, p, acme_store_rel_refused(p, name));
        acme_store_remove(store, p, acme_store_rel_refused_shown(p, name));
    }
}

apr_hash_t *acme_custody_refused_shown(acme_store_t *store, apr_pool_t *p, apr_time_t now)
{
    apr_hash_t *held = apr_hash_make(p);
    apr_array_header_t *files = NULL;
    int i;

    if (acme_store_list(store, p, ACME_STORE_REFUSED, &files) != APR_SUCCESS) {
        return held;
    }
    for (i = 0; i < files->nelts; ++i) {
        const char *file = APR_ARRAY_IDX(files, i, const char *), *dot = strrchr(file, '.');
        acme_custody_held_t *h;
        json_t *json;
        json_int_t n;
        apr_time_t until;
        char *name;

        if (!dot || strcmp(dot, ".json")) {
            continue;
        }
        name = apr_pstrndup(p, file, (apr_size_t)(dot - file));
        if (!(json = refused_object(store, p, name, acme_store_rel_refused_shown))
            || !json_is_integer(json_object_get(json, "until"))
            || acme_time_from_sec_checked(json_integer_value(json_object_get(json, "until")),
                                          &until)
            || until <= now) {
            continue;
        }
        n = json_is_integer(json_object_get(json, "count"))
            ? json_integer_value(json_object_get(json, "count")) : 0;
        h = apr_palloc(p, sizeof(*h));
        h->until = until;
        h->count = n < 0 ? 0 : n > INT_MAX ? INT_MAX : (int)n;
        apr_hash_set(held, name, APR_HASH_KEY_STRING, h);
    }
    return held;
}

/* The DER of the first PEM certificate in pem (len bytes), in p: the base64
 * between the first BEGIN and END lines, whitespace dropped, turned into
 * base64url for acme_b64url_decode. APR_EINVAL when there is none. */
static apr_status_t first_pem_der(apr_pool_t *p, const char *pem, apr_size_t len,
                                  unsigned char **der, apr_size_t *der_len)
{
    const char *begin = memmem(pem, len, PEM_BEGIN, strlen(PEM_BEGIN)), *end, *c;
    char *text, *out;

    if (!begin) {
        return APR_EINVAL;
    }
    begin += strlen(PEM_BEGIN);
    if (!(end = memmem(begin, len - (apr_size_t)(begin - pem), PEM_END, strlen(PEM_END)))) {
        return APR_EINVAL;
    }
    out = text = apr_palloc(p, (apr_size_t)(end - begin) + 1);
    for (c = begin; c < end; ++c) {
        if (*c == '+' || *c == '/') {
            *out++ = *c == '+' ? '-' : '_';
        }
        else if (*c != '=' && *c != ' ' && *c != '\t' && *c != '\r' && *c != '\n') {
            *out++ = *c;
        }
    }
    *out = '\0';
    return acme_b64url_decode(p, text, der, der_len);
}

int acme_custody_backoff_exempt(acme_store_t *store, apr_pool_t *p, const char *name,
                                const char **key_id)
{
    json_t *csr, *refused;
    const char *spki_text, *id, *used = NULL, *pem;
    unsigned char *spki, *der;
    apr_size_t spki_len, der_len, len;

    if (acme_store_name_check(name) != APR_SUCCESS
        || acme_store_read_json_pooled(store, p, acme_store_rel_csr(p, name), &csr)
           != APR_SUCCESS
        || !(spki_text = json_string_value(json_object_get(csr, "spki")))
        || !(id = json_string_value(json_object_get(csr, "key")))) {
        return 0;
    }
    if ((refused = refused_object(store, p, name, acme_store_rel_refused))) {
        used = json_string_value(json_object_get(refused, "exempted"));
    }
    if ((used && strcmp(used, id) == 0)
        || acme_b64url_decode(p, spki_text, &spki, &spki_len) != APR_SUCCESS || spki_len < 32
        || acme_store_read(store, p, acme_store_rel_staged(p, name, ACME_STORE_CERT_FILE),
                           ACME_MAX_CHAIN_BYTES, &pem, &len) != APR_SUCCESS
        || first_pem_der(p, pem, len, &der, &der_len) != APR_SUCCESS
        || !memmem(der, der_len, spki, spki_len)) {
        return 0;
    }
    if (key_id) {
        *key_id = apr_pstrdup(p, id);
    }
    return 1;
}

apr_status_t acme_custody_backoff_exempt_use(acme_store_t *store, apr_pool_t *p,
                                             const char *name, const char *key_id)
{
    json_t *json = refused_object(store, p, name, acme_store_rel_refused);
    apr_status_t rv;

    if (!json) {
        return APR_ENOENT;      /* no backoff: nothing to be exempt from */
    }
    json = json_deep_copy(json);
    if (!json || json_object_set_new(json, "exempted", json_string(key_id)) != 0) {
        json_decref(json);
        return APR_ENOMEM;
    }
    rv = acme_store_write_json(store, p, acme_store_rel_refused(p, name), json,
                               ACME_STORE_KEY_PERMS);
    json_decref(json);
    return rv;
}
