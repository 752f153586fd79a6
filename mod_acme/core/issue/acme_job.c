/* Domains as JSON, the persistence of a job, and the pure parts of issuance:
 * step names, the transition table, whether a live certificate is fit. The
 * driver that uses them is acme_driver.c, the steps acme_job_steps.c. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_dns01.h"
#include "acme_name.h"
#include "acme_json.h"
#include "acme_store_paths.h"
#include "acme_time.h"

/* ---- domains as JSON (config/<name>.json) ---- */

static void set_string(json_t *json, const char *key, const char *value)
{
    if (value) {
        json_object_set_new(json, key, json_string(value));
    }
}

static json_t *window_to_json(acme_window_t window)
{
    json_t *json = json_object();

    if (window.duration > 0) {
        json_object_set_new(json, "duration", json_integer(apr_time_sec(window.duration)));
    }
    else {
        json_object_set_new(json, "percent", json_integer(window.percent));
    }
    return json;
}

json_t *acme_job_domain_to_json(const acme_domain_t *domain)
{
    json_t *json = json_object();

    set_string(json, "name", domain->name);
    json_object_set_new(json, "names", acme_json_strings(domain->names));
    set_string(json, "key_type", acme_key_type_name(domain->key_type));
    json_object_set_new(json, "ca_urls", acme_json_strings(domain->ca_urls));
    set_string(json, "ca_file", domain->ca_file);
    json_object_set_new(json, "contacts", acme_json_strings(domain->contacts));
    json_object_set_new(json, "agree_tos", json_boolean(domain->agree_tos));
    json_object_set_new(json, "challenges", acme_json_strings(domain->challenges));
    set_string(json, "profile", domain->profile);
    set_string(json, "preferred_chain", domain->preferred_chain);
    json_object_set_new(json, "renew_window", window_to_json(domain->renew_window));
    json_object_set_new(json, "warn_window", window_to_json(domain->warn_window));
    if (domain->config_changed_at > 0) {
        json_object_set_new(json, "config_changed_at",
                            json_integer(apr_time_sec(domain->config_changed_at)));
    }
    return json;
}

static apr_status_t strings_from_json(apr_pool_t *p, json_t *json, const char *key, int max,
                                      apr_array_header_t **strings)
{
    json_t *array = json_object_get(json, key), *item;
    size_t i;

    *strings = apr_array_make(p, 4, sizeof(const char *));
    if (!array) {
        return APR_SUCCESS;
    }
    if (!json_is_array(array) || json_array_size(array) > (size_t)max) {
        return APR_EINVAL;
    }
    json_array_foreach(array, i, item) {
        if (!json_is_string(item)) {
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(*strings, const char *) = apr_pstrdup(p, json_string_value(item));
    }
    return APR_SUCCESS;
}

static const char *optional_string(apr_pool_t *p, json_t *json, const char *key, apr_status_t *rv)
{
    json_t *value = json_object_get(json, key);

    if (value && !json_is_string(value)) {
        *rv = APR_EINVAL;
    }
    return json_is_string(value) ? apr_pstrdup(p, json_string_value(value)) : NULL;
}

static apr_status_t window_from_json(json_t *json, acme_window_t *window)
{
    json_t *percent = json_object_get(json, "percent"), *duration = json_object_get(json, "duration");

    window->percent = -1;
    window->duration = 0;
    if (!json) {
        return APR_SUCCESS;
    }
    if ((percent && !json_is_integer(percent)) || (duration && !json_is_integer(duration))) {
        return APR_EINVAL;
    }
    if (duration) {
        if (json_integer_value(duration) <= 0 || json_integer_value(duration) > 10 * 365 * 86400) {
            return APR_EINVAL;
        }
        window->duration = apr_time_from_sec(json_integer_value(duration));
    }
    else if (percent) {
        if (json_integer_value(percent) < -1 || json_integer_value(percent) > 100) {
            return APR_EINVAL;
        }
        window->percent = (int)json_integer_value(percent);
    }
    return APR_SUCCESS;
}

static apr_status_t names_normalize(apr_pool_t *p, apr_array_header_t *names)
{
    const char *why;
    int i;

    if (names->nelts == 0) {
        return APR_EINVAL;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char **name = &APR_ARRAY_IDX(names, i, const char *);
        if (acme_name_validate(p, *name, &why) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        *name = acme_name_normalize(p, *name);
    }
    return APR_SUCCESS;
}

/* The recorded store name, if it is one of the names domain may be stored
 * under: its first name's (acme_name_store_key), with its key type's suffix
 * (a further AcmeKeyType), or the first name itself (stores written before
 * IPv6 names were mapped). NULL when it is none of them. */
static const char *store_name_of(apr_pool_t *p, const acme_domain_t *domain, const char *name)
{
    const char *first = APR_ARRAY_IDX(domain->names, 0, const char *);
    const char *plain = acme_name_store_key(p, first, NULL);

    if (!name || !strcmp(name, plain)) {
        return plain;
    }
    if (!strcmp(name, acme_name_store_key(p, first, acme_key_type_name(domain->key_type)))) {
        return apr_pstrdup(p, name);
    }
    return !strcmp(acme_name_normalize(p, name), first) ? first : NULL;
}

apr_status_t acme_job_domain_from_json(apr_pool_t *p, json_t *json, acme_domain_t **domain_out)
{
    acme_domain_t *domain = apr_pcalloc(p, sizeof(*domain));
    const char *key_type, *name;
    json_t *agree = json_object_get(json, "agree_tos");
    json_t *changed = json_object_get(json, "config_changed_at");
    apr_status_t rv = APR_SUCCESS;

    if (!json_is_object(json)) {
        return APR_EINVAL;
    }
    if (strings_from_json(p, json, "names", ACME_MAX_NAMES, &domain->names)
        || names_normalize(p, domain->names)
        || strings_from_json(p, json, "ca_urls", 16, &domain->ca_urls)
        || strings_from_json(p, json, "contacts", 16, &domain->contacts)
        || strings_from_json(p, json, "challenges", 8, &domain->challenges)
        || window_from_json(json_object_get(json, "renew_window"), &domain->renew_window)
        || window_from_json(json_object_get(json, "warn_window"), &domain->warn_window)
        || (agree && !json_is_boolean(agree))
        || (changed && (!json_is_integer(changed)
                        || acme_time_from_sec_checked(json_integer_value(changed),
                                                      &domain->config_changed_at)))) {
        return APR_EINVAL;
    }
    if (!changed) {
        domain->config_changed_at = 0;
    }
    name = optional_string(p, json, "name", &rv);
    domain->agree_tos = json_is_true(agree);
    domain->ca_file = optional_string(p, json, "ca_file", &rv);
    domain->profile = optional_string(p, json, "profile", &rv);
    domain->preferred_chain = optional_string(p, json, "preferred_chain", &rv);
    key_type = optional_string(p, json, "key_type", &rv);
    domain->key_type = ACME_KEY_EC_P256;
    if (rv != APR_SUCCESS || (key_type && acme_key_type_parse(key_type, &domain->key_type))) {
        return APR_EINVAL;
    }
    if (!(domain->name = store_name_of(p, domain, name))) {
        return APR_EINVAL;
    }
    *domain_out = domain;
    return APR_SUCCESS;
}

/* ---- persistence: jobs/<name>.json ---- */

#define ACME_JOB_MAX_AGE      apr_time_from_sec(24 * 3600)
/* An order kept at its certificate (a chain that led to no trusted root:
 * acme_job_issued_fits) is resumed for longer: each attempt only fetches
 * the certificate again, while a new order would be a new certificate (Let's
 * Encrypt: 5 for the same names a week). The CA says when it is gone. */
#define ACME_JOB_KEPT_MAX_AGE apr_time_from_sec(7 * 24 * 3600)

static const char *job_json_path(apr_pool_t *p, const char *name)
{
    return acme_store_rel_job(p, name);
}

/* Where versions before root's key custody kept the certificate key, readable
 * by the child: removed wherever a job ends or starts. */
static const char *job_key_path(apr_pool_t *p, const char *name)
{
    return acme_store_rel_job_key(p, name);
}

/* A corrected AcmeEAB deserves a fresh start like any other change. The
 * fingerprint is stored, so it holds the key id and a short digest of the
 * MAC key, never the key. "" without EAB: older fingerprints stay valid. */
static const char *eab_fingerprint(apr_pool_t *p, const acme_domain_t *domain)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const char *hmac = domain->eab_hmac;

    if (!domain->eab_kid || !hmac
        || !EVP_Digest(hmac, strlen(hmac), md, &md_len, EVP_sha256(), NULL) || md_len < 4) {
        return "";
    }
    return apr_psprintf(p, " eab:%s:%02x%02x%02x%02x", domain->eab_kid, md[0], md[1], md[2],
                        md[3]);
}

const char *acme_job_fingerprint(apr_pool_t *p, const acme_domain_t *domain)
{
    const char *names = apr_array_pstrcat(p, domain->names, ',');
    const char *cas = domain->ca_urls ? apr_array_pstrcat(p, domain->ca_urls, ',') : "";

    return apr_pstrcat(p, names, " ", acme_key_type_name(domain->key_type), " ", cas, " ",
                       domain->profile ? domain->profile : "", eab_fingerprint(p, domain), NULL);
}

static acme_job_t *job_new(apr_pool_t *pool, const acme_domain_t *domain, const char *ca_url,
                           apr_time_t now)
{
    acme_job_t *job = apr_pcalloc(pool, sizeof(*job));

    job->pool = pool;
    job->ca_url = apr_pstrdup(pool, ca_url ? ca_url : "");
    job->step = ACME_STEP_ACCOUNT;
    job->started = now;
    job->fingerprint = acme_job_fingerprint(pool, domain);
    job->poll_interval = ACME_POLL_INITIAL;
    job->pending = apr_array_make(pool, 4, sizeof(acme_pending_t *));
    return job;
}

void acme_job_remove_files(acme_driver_t *driver, const char *name, apr_pool_t *ptemp)
{
    acme_store_remove(driver->store, ptemp, job_json_path(ptemp, name));
    acme_store_remove(driver->store, ptemp, job_key_path(ptemp, name));
}

acme_job_t *acme_job_restore(acme_driver_t *driver, const acme_domain_t *domain,
                             const char *ca_url, apr_time_t live_issued_at,
                             apr_pool_t *pool, apr_pool_t *ptemp, apr_time_t now, int *resumed)
{
    acme_job_t *job = job_new(pool, domain, ca_url, now);
    const char *fingerprint, *order, *ca, *step;
    json_t *json;
    json_int_t started;
    apr_time_t started_at = 0;
    apr_status_t rv;

    *resumed = 0;
    rv = acme_store_read_json_pooled(driver->store, ptemp, job_json_path(ptemp, domain->name),
                                     &json);
    if (rv == APR_ENOENT) {
        acme_store_remove(driver->store, ptemp, job_key_path(ptemp, domain->name));
        return job;
    }
    if (rv != APR_SUCCESS) {
        /* Not a record this server wrote (truncated, garbled, not JSON): worth
         * a look, unlike the ordinary leftovers below. A new order follows. */
        acme_log(&driver->ctx, ACME_LOG_WARN, rv,
                 "ACME01232: %s: the unfinished order record %s cannot be read (truncated, "
                 "garbled or not JSON); it is removed and a new order is made, the live "
                 "certificate is not touched; if this recurs, check the disk holding AcmeStoreDir",
                 domain->name, job_json_path(ptemp, domain->name));
        acme_job_remove_files(driver, domain->name, ptemp);
        return job;
    }
    fingerprint = rv == APR_SUCCESS ? json_string_value(json_object_get(json, "fingerprint")) : NULL;
    order = rv == APR_SUCCESS ? json_string_value(json_object_get(json, "order")) : NULL;
    ca = rv == APR_SUCCESS ? json_string_value(json_object_get(json, "ca")) : NULL;
    started = rv == APR_SUCCESS ? json_integer_value(json_object_get(json, "started")) : 0;
    step = json_string_value(json_object_get(json, "step"));
    /* A crash between staging and removing the record leaves it behind: the
     * certificate it led to is live now, so it must not be fetched again. */
    if (!fingerprint || strcmp(fingerprint, job->fingerprint) != 0 || !order
        || !ca || strcmp(ca, job->ca_url) != 0
        || started <= 0 || acme_time_from_sec_checked(started, &started_at) != APR_SUCCESS
        || now - started_at > (step && !strcmp(step, acme_job_step_name(ACME_STEP_CERTIFICATE))
                               ? ACME_JOB_KEPT_MAX_AGE : ACME_JOB_MAX_AGE)
        || started_at <= live_issued_at) {
        acme_log(&driver->ctx, ACME_LOG_INFO, rv,
                 "ACME00409: %s: discarding an unfinished order record (incomplete, older than a "
                 "day, a week for one kept at its certificate, or than the live certificate, or "
                 "for another configuration or CA)",
                 domain->name);
        acme_dns01_teardown_recorded(driver, domain->name, json, ptemp);
        acme_job_remove_files(driver, domain->name, ptemp);
        return job;
    }
    /* Re-enter at the account: free when the account is known, and the order
     * step re-reads the order, so every later step sees the CA's current view. */
    job->order_url = apr_pstrdup(pool, order);
    job->started = started_at;
    job->saved_order = job->order_url;
    job->saved_at_certificate = step && !strcmp(step, acme_job_step_name(ACME_STEP_CERTIFICATE));
    /* Setups the previous process ran: torn down when this job ends, unless
     * it runs them again itself (acme_dns01_teardown). */
    if (json_array_size(json_object_get(json, "dns01"))) {
        job->dns01_recorded = acme_json_pool_owned(pool,
                                                   json_deep_copy(json_object_get(json, "dns01")));
    }
    *resumed = 1;
    return job;
}

apr_status_t acme_job_save(acme_driver_t *driver, const acme_domain_t *domain,
                           acme_job_t *job, apr_pool_t *ptemp)
{
    int at_certificate = job->step == ACME_STEP_CERTIFICATE;
    json_t *json, *hooks;
    apr_status_t rv;

    /* Nothing to resume before the order exists or after staging. */
    if (!job->order_url || job->step >= ACME_STEP_STAGED) {
        return APR_SUCCESS;
    }
    if (job->saved_order && !strcmp(job->saved_order, job->order_url)
        && job->saved_at_certificate == at_certificate && job->saved_hooks == job->hooks_seq) {
        return APR_SUCCESS;
    }
    json = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "name", domain->name,
                     "fingerprint", job->fingerprint, "step", acme_job_step_name(job->step),
                     "ca", job->ca_url, "order", job->order_url,
                     "started", (json_int_t)apr_time_sec(job->started));
    if (!json) {
        return APR_ENOMEM;
    }
    if ((hooks = acme_dns01_to_json(job))) {
        json_object_set_new(json, "dns01", hooks);
    }
    rv = acme_store_write_json_unsynced(driver->store, ptemp, job_json_path(ptemp, domain->name),
                                        json, ACME_STORE_KEY_PERMS);
    json_decref(json);
    if (rv == APR_SUCCESS) {
        job->saved_order = job->order_url;
        job->saved_at_certificate = at_certificate;
        job->saved_hooks = job->hooks_seq;
    }
    return rv;
}

void acme_job_withdraw_all(acme_driver_t *driver, acme_job_t *job)
{
    int i;

    for (i = 0; i < job->pending->nelts; ++i) {
        acme_job_withdraw(driver, job, APR_ARRAY_IDX(job->pending, i, acme_pending_t *));
    }
    apr_array_clear(job->pending);
    acme_job_tlsalpn_release_all(driver, job);
}

/* ---- the state machine's pure parts ---- */

const char *acme_job_step_name(acme_step_e step)
{
    switch (step) {
    case ACME_STEP_IDLE:        return "idle";
    case ACME_STEP_ACCOUNT:     return "account";
    case ACME_STEP_ORDER:       return "order";
    case ACME_STEP_AUTHORIZE:   return "authorize";
    case ACME_STEP_VALIDATE:    return "validate";
    case ACME_STEP_FINALIZE:    return "finalize";
    case ACME_STEP_CERTIFICATE: return "certificate";
    case ACME_STEP_STAGED:      return "staged";
    }
    return "unknown";
}

acme_step_e acme_job_step_after(acme_step_e step, acme_outcome_e outcome)
{
    switch (outcome) {
    case ACME_OUTCOME_WAIT:        return step;
    case ACME_OUTCOME_FAILED:      return ACME_STEP_ACCOUNT;
    case ACME_OUTCOME_NEW_ACCOUNT: return ACME_STEP_ACCOUNT;
    case ACME_OUTCOME_NEW_ORDER:   return ACME_STEP_ORDER;
    case ACME_OUTCOME_DONE:        break;
    }
    switch (step) {
    case ACME_STEP_IDLE:        return ACME_STEP_ACCOUNT;
    case ACME_STEP_ACCOUNT:     return ACME_STEP_ORDER;
    case ACME_STEP_ORDER:       return ACME_STEP_AUTHORIZE;
    case ACME_STEP_AUTHORIZE:   return ACME_STEP_VALIDATE;
    case ACME_STEP_VALIDATE:    return ACME_STEP_FINALIZE;
    case ACME_STEP_FINALIZE:    return ACME_STEP_CERTIFICATE;
    case ACME_STEP_CERTIFICATE: return ACME_STEP_STAGED;
    case ACME_STEP_STAGED:      return ACME_STEP_IDLE;
    }
    return ACME_STEP_IDLE;
}

int acme_job_step_decides(const acme_job_t *job, acme_step_e step)
{
    switch (step) {
    case ACME_STEP_ACCOUNT:     return 1;
    case ACME_STEP_ORDER:       return !job->order_url;
    default:                    return 0;
    }
}

const char *acme_job_renew_reason_str(acme_renew_reason_e reason)
{
    switch (reason) {
    case ACME_RENEW_NONE:      return "certificate is fit";
    case ACME_RENEW_NO_CERT:   return "no certificate";
    case ACME_RENEW_NAMES:     return "names changed";
    case ACME_RENEW_KEY_TYPE:  return "key type changed";
    case ACME_RENEW_WINDOW:    return "renewal window reached";
    case ACME_RENEW_REQUESTED: return "renewal requested";
    case ACME_RENEW_CA:        return "CA changed";
    case ACME_RENEW_ARI:       return "renewal time suggested by the CA (ARI)";
    }
    return "unknown";
}

static int names_covered(const apr_array_header_t *wanted, const apr_array_header_t *have)
{
    int i, j, covered;

    for (i = 0; i < wanted->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(wanted, i, const char *);
        for (covered = 0, j = 0; !covered && have && j < have->nelts; ++j) {
            covered = acme_name_covers(APR_ARRAY_IDX(have, j, const char *), name);
        }
        if (!covered) {
            return 0;
        }
    }
    return 1;
}

/* A certificate from a backup CA of the list is as good as one from the first. */
static int ca_listed(const acme_domain_t *domain, const char *ca_url)
{
    int i;

    for (i = 0; domain->ca_urls && i < domain->ca_urls->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(domain->ca_urls, i, const char *), ca_url) == 0) {
            return 1;
        }
    }
    return 0;
}

static int names_within(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i, j, found;

    for (i = 0; i < a->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(a, i, const char *);
        for (found = 0, j = 0; !found && j < b->nelts; ++j) {
            found = strcasecmp(name, APR_ARRAY_IDX(b, j, const char *)) == 0;
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

static int same_names(const apr_array_header_t *a, const apr_array_header_t *b)
{
    return names_within(a, b) && names_within(b, a);
}

static int issued_before_change(const acme_domain_t *domain, const acme_cert_info_t *info,
                                const acme_cert_origin_t *origin)
{
    apr_time_t issued = info->not_before;

    if (origin && origin->issued_at > issued) {
        issued = origin->issued_at;
    }
    return domain->config_changed_at > 0 && issued < domain->config_changed_at;
}

/* The certificate's fixed place in the renewal spread, in [0,1): the last
 * (up to) 8 hex digits of its serial number, which CAs draw at random (at
 * least 64 bits: CA/Browser Forum Baseline Requirements 7.1); -1 without one,
 * so no spread. The same certificate keeps its renewal time across restarts. */
static double serial_spread(const char *serial)
{
    apr_size_t len = serial ? strlen(serial) : 0, digits = len < 8 ? len : 8;
    char *end;
    apr_int64_t value;

    /* digits only: apr_strtoi64 would also take a sign, blanks or "0x" */
    if (digits == 0 || strspn(serial + len - digits, "0123456789abcdefABCDEF") != digits) {
        return -1.0;
    }
    value = apr_strtoi64(serial + len - digits, &end, 16);
    if (*end) {
        return -1.0;
    }
    return (double)value / (double)((apr_int64_t)1 << (4 * digits));
}

acme_renew_reason_e acme_job_cert_fitness(const acme_domain_t *domain, const acme_cert_info_t *info,
                                          int key_type, const acme_cert_origin_t *origin,
                                          apr_time_t now, apr_time_t *renew_at)
{
    const char *ca_url = origin ? origin->ca_url : NULL;

    *renew_at = 0;
    if (!info) {
        return ACME_RENEW_NO_CERT;
    }
    *renew_at = acme_policy_spread(acme_policy_due_at(info->not_before, info->not_after,
                                                      origin ? origin->issued_at : 0,
                                                      domain->renew_window,
                                                      domain->config_changed_at),
                                   info->not_before, info->not_after, serial_spread(info->serial));
    if (!names_covered(domain->names, info->names)) {
        return ACME_RENEW_NAMES;
    }
    /* A name removed from the domain. Not when the CA added a name of its own
     * to what we ordered: that would be ordered again and again. */
    if (!names_covered(info->names, domain->names)
        && (origin && origin->names ? !same_names(origin->names, domain->names)
                                    : issued_before_change(domain, info, origin))) {
        return ACME_RENEW_NAMES;
    }
    if (key_type != (int)domain->key_type) {
        return ACME_RENEW_KEY_TYPE;
    }
    if (ca_url && !ca_listed(domain, ca_url)) {
        return ACME_RENEW_CA;
    }
    return now < *renew_at ? ACME_RENEW_NONE : ACME_RENEW_WINDOW;
}


apr_time_t acme_job_renew_at_shown(const acme_domain_t *domain, const acme_cert_info_t *info,
                                   const acme_status_record_t *rec)
{
    const char *serial = rec && rec->cert ? rec->cert->serial : NULL;
    apr_time_t at = 0;

    if (!info) {
        return 0;
    }
    if (rec && rec->renew_at && serial && info->serial && !strcasecmp(serial, info->serial)) {
        return rec->renew_at;
    }
    acme_job_cert_fitness(domain, info, (int)domain->key_type, NULL, apr_time_now(), &at);
    return at;
}
