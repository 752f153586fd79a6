/* Renewal decisions beyond the configured window: what the CA's renewal
 * information (ARI, RFC 9773) says, where the live certificate came from,
 * expiry warnings, and the driver's memory across restarts (status/<name>.json
 * read back), so a restart neither forgets a backoff nor asks the CA early. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_time.h"
#include "acme_json.h"
#include "acme_events.h"
#include "acme_store_paths.h"

#define ACME_ARI_FILE_MAX        (4 * 1024)
#define ACME_META_FILE_MAX       (8 * 1024)
#define ACME_EXPIRING_EVERY      apr_time_from_sec(24 * 3600)
#define ACME_CA_DOWN_RETRY       apr_time_from_sec(60)
/* A stored time further ahead than the longest wait we ever plan is garbage. */
#define ACME_STORED_TIME_SLACK   apr_time_from_sec(25 * 3600)
#define ACME_RESTORED_WAIT_MAX   apr_time_from_sec(30 * 24 * 3600)

static const char *ari_path(apr_pool_t *p, const char *name)
{
    return acme_store_rel_ari(p, name);
}

static void set_time(json_t *json, const char *key, apr_time_t t, apr_pool_t *p)
{
    if (t > 0) {
        json_object_set_new(json, key, json_string(acme_time_rfc3339(p, t)));
    }
}

/* An RFC 3339 member, 0 when absent or malformed. */
static apr_time_t get_time(json_t *json, const char *key)
{
    const char *text = json_string_value(json_object_get(json, key));
    apr_time_t t;

    return text && acme_time_rfc3339_parse(text, &t) == APR_SUCCESS ? t : 0;
}


/* ---- origin of the live certificate ---- */

const char *acme_renewal_meta_json(apr_pool_t *p, const char *ca_url,
                                   const apr_array_header_t *names, apr_time_t now)
{
    json_t *json = json_pack("{s:s, s:s, s:o}", "ca", ca_url ? ca_url : "",
                             "issued_at", acme_time_rfc3339(p, now),
                             "names", acme_json_strings(names));
    char *text = json ? json_dumps(json, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    const char *copy = text ? apr_pstrcat(p, text, "\n", NULL) : NULL;

    free(text);
    json_decref(json);
    return copy;
}

static apr_array_header_t *meta_names(apr_pool_t *p, json_t *list)
{
    apr_array_header_t *names;
    json_t *item;
    size_t i;

    if (!json_is_array(list) || json_array_size(list) == 0
        || json_array_size(list) > ACME_MAX_NAMES) {
        return NULL;
    }
    names = apr_array_make(p, (int)json_array_size(list), sizeof(const char *));
    json_array_foreach(list, i, item) {
        if (!json_is_string(item)) {
            return NULL;
        }
        APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, json_string_value(item));
    }
    return names;
}

void acme_renewal_read_meta(acme_driver_t *driver, acme_record_t *rec, const char *name,
                            apr_pool_t *p, apr_array_header_t **names)
{
    const char *data;
    apr_size_t len;
    json_t *json;

    acme_record_text_set(rec, &rec->cert_ca, ACME_ERR_URL_MAX, NULL);
    rec->cert_issued_at = 0;
    *names = NULL;
    if (acme_store_read(driver->store, p, acme_store_rel_live_file(p, name, ACME_STORE_META_FILE),
                        ACME_META_FILE_MAX, &data, &len) != APR_SUCCESS
        || !(json = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL))) {
        return;
    }
    if (json_is_object(json)) {
        acme_record_text_set(rec, &rec->cert_ca, ACME_ERR_URL_MAX,
                        json_string_value(json_object_get(json, "ca")));
        rec->cert_issued_at = get_time(json, "issued_at");
        *names = meta_names(p, json_object_get(json, "names"));
    }
    json_decref(json);
}

/* ---- ARI state: jobs/.ari/<name>.json ---- */

/* The record, read where this version keeps it; an older version's
 * (jobs/<name>.ari.json) moves there at the first look after the upgrade,
 * so jobs/ changes once per name then and never again for a save. The
 * json belongs to p (acme_store_read_json_pooled). */
static apr_status_t ari_read(acme_driver_t *driver, const char *name, apr_pool_t *p,
                             json_t **json)
{
    const char *before = acme_store_rel_ari_before(p, name);
    apr_status_t rv = acme_store_read_json_pooled(driver->store, p, ari_path(p, name), json);

    if (!APR_STATUS_IS_ENOENT(rv)) {
        return rv;
    }
    rv = acme_store_read_json_pooled(driver->store, p, before, json);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return rv;
    }
    /* kept where it is when it cannot be written anew (read again next time) */
    if (rv != APR_SUCCESS || acme_store_write_json(driver->store, p, ari_path(p, name), *json,
                                                   ACME_STORE_FILE_PERMS) == APR_SUCCESS) {
        acme_store_remove(driver->store, p, before);
    }
    return rv;
}

static void ari_load(acme_driver_t *driver, acme_record_t *rec, const char *name, apr_time_t now,
                     apr_pool_t *p)
{
    acme_ari_state_t *ari = &rec->ari;
    const char *serial, *slot = ari->serial;
    json_t *json;

    memset(ari, 0, sizeof(*ari));
    ari->serial = slot;
    acme_record_text_set(rec, &ari->serial, ACME_REC_SERIAL_MAX, rec->cert_serial);
    /* Nothing known about this certificate yet: ask at the first look. */
    if (ari_read(driver, name, p, &json) != APR_SUCCESS
        || !(serial = json_string_value(json_object_get(json, "serial")))
        || strcmp(serial, rec->cert_serial) != 0) {
        return;
    }
    ari->start = get_time(json, "start");
    ari->end = get_time(json, "end");
    ari->chosen = get_time(json, "chosen");
    ari->next_poll = get_time(json, "next_poll");
    if (ari->end <= ari->start || !ari->chosen) {
        ari->start = ari->end = ari->chosen = 0;
    }
    if (ari->next_poll > now + ACME_STORED_TIME_SLACK) {
        ari->next_poll = 0;
    }
}

static void ari_save(acme_driver_t *driver, const acme_record_t *rec, const char *name,
                     apr_pool_t *p)
{
    json_t *json = json_pack("{s:s}", "serial", rec->ari.serial);
    apr_status_t rv;

    set_time(json, "start", rec->ari.start, p);
    set_time(json, "end", rec->ari.end, p);
    set_time(json, "chosen", rec->ari.chosen, p);
    set_time(json, "next_poll", rec->ari.next_poll, p);
    rv = acme_store_write_json(driver->store, p, ari_path(p, name), json, ACME_STORE_FILE_PERMS);
    json_decref(json);
    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00422: %s: cannot write %s; the renewal "
                 "information is asked for again after a restart", name, ari_path(p, name));
    }
}

/* The CA that issued the live certificate knows its renewal information. */
static const char *ari_ca_url(const acme_record_t *rec, const acme_domain_t *domain)
{
    return rec->cert_ca[0] ? rec->cert_ca : acme_ca_in_use(rec, domain);
}

static void ari_window(acme_driver_t *driver, acme_record_t *rec, const char *name,
                       apr_time_t start, apr_time_t end, apr_time_t now, apr_pool_t *p)
{
    acme_ari_state_t *ari = &rec->ari;

    /* The same window keeps its time: a re-draw at every poll would pull the
     * renewal towards the window's start. */
    if (ari->chosen && ari->start == start && ari->end == end) {
        return;
    }
    ari->start = start;
    ari->end = end;
    ari->chosen = acme_policy_ari_pick(start, end, now, acme_core_random01());
    acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00423: %s: the CA suggests renewal between "
             "%s and %s; renewal at %s", name, acme_time_rfc3339(p, start),
             acme_time_rfc3339(p, end), acme_time_rfc3339(p, ari->chosen));
}

/* The CA did not answer (this run, or within its backoff). One name, the
 * prober, asks again once the backoff is over; every other name is parked
 * until the CA answers (ari_unpark), so a CA down for hours costs one look per
 * backoff step, not one look per name (at 10,000 names with the backoff at
 * its hour: 2.8 looks a second, each reading and parsing a certificate). A
 * prober that missed its time by ACME_CA_DOWN_RETRY (it began an order, its
 * AcmeDomain went) hands over to the next name that looks. Memory only:
 * nothing was learnt, so neither its ARI record nor the status file changes. */
static void ari_wait_for_ca(acme_driver_t *driver, acme_record_t *rec, acme_ca_t *ca,
                            apr_time_t now)
{
    apr_time_t from = ca->ari_down_until > now + ACME_CA_DOWN_RETRY
                      ? ca->ari_down_until : now + ACME_CA_DOWN_RETRY;

    if (ca->ari_prober && ca->ari_prober != rec && ca->ari_probe_at + ACME_CA_DOWN_RETRY > now) {
        rec->ari.retry_at = 0;
        rec->ari.parked_on = ca;
        /* the first one parked: the prober, planned for its own next poll
         * (hours), now asks when the backoff is over */
        if (!ca->ari_parked && !ca->ari_prober->job
            && ca->ari_prober->next_run > ca->ari_probe_at) {
            ca->ari_prober->next_run = ca->ari_probe_at;
            driver->sched_ok = 0;
        }
        ca->ari_parked = 1;
        return;
    }
    rec->ari.parked_on = NULL;
    rec->ari.retry_at = from;
    ca->ari_prober = rec;
    ca->ari_probe_at = from;
}

/* The CA answered again: every name parked on it asks within the backoff's
 * length it last had (at least ACME_CA_DOWN_RETRY), at a time drawn from it,
 * so that thousands of names do not come due in one run. Their next looks
 * moved, so the driver's schedule is rebuilt. */
static void ari_unpark(acme_driver_t *driver, acme_ca_t *ca, apr_interval_time_t spread,
                       apr_time_t now, apr_pool_t *p)
{
    apr_hash_index_t *hi;

    if (spread < ACME_CA_DOWN_RETRY) {
        spread = ACME_CA_DOWN_RETRY;
    }
    for (hi = apr_hash_first(p, driver->records); hi; hi = apr_hash_next(hi)) {
        acme_record_t *rec = apr_hash_this_val(hi);

        if (rec->ari.parked_on != ca) {
            continue;
        }
        rec->ari.parked_on = NULL;
        rec->ari.retry_at = now + (apr_interval_time_t)((double)spread * acme_core_random01());
        if (!rec->job && rec->ari.retry_at < rec->next_run) {
            rec->next_run = rec->ari.retry_at;
        }
    }
    ca->ari_parked = 0;
    ca->ari_prober = NULL;
    ca->ari_probe_at = 0;
    driver->sched_ok = 0;
}

/* The CA answered rec's renewalInfo request with 404: it has no renewal
 * information for this certificate (Boulder says so for one it does not
 * know). RFC 9773 §4.2: without an answer the client decides when to renew;
 * the renewal window does, and the next poll asks again. One warning per CA
 * for the server's run: a CA answering so answers so for every certificate. */
static void ari_absent(acme_driver_t *driver, acme_ca_t *ca, acme_record_t *rec,
                       const char *name, const acme_problem_t *prob, apr_pool_t *p)
{
    rec->ari.start = rec->ari.end = rec->ari.chosen = 0;
    if (!ca->ari_absent_said) {
        ca->ari_absent_said = 1;
        acme_log(&driver->ctx, ACME_LOG_WARN, 0, "ACME01280: %s has no renewal information "
                 "(ARI) for the certificate of %s (404: %s): the renewal window decides when "
                 "it is renewed, and so for every certificate this CA answers the same way, "
                 "which only debug level logs; asked again at %s",
                 ca->url, name, acme_problem_str(prob, p),
                 acme_time_rfc3339(p, rec->ari.next_poll));
        return;
    }
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME01281: %s: %s has no renewal information "
             "for it (404); the renewal window decides; asked again at %s", name, ca->url,
             acme_time_rfc3339(p, rec->ari.next_poll));
}

static void ari_poll(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                     X509 *leaf, apr_time_t now, apr_pool_t *p)
{
    const char *url = ari_ca_url(rec, domain);
    acme_ca_t *known = url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;
    apr_interval_time_t down_len = known ? known->ari_down_len : 0;
    apr_time_t start, end, retry_after = 0;
    acme_problem_t prob;
    acme_ca_t *ca;
    apr_status_t rv;

    acme_problem_clear(&prob);
    if (!url) {
        rec->ari.next_poll = now + ACME_CA_DOWN_RETRY;
        return;
    }
    if (known && (acme_ca_down(driver, url) || now < known->ari_down_until)) {
        ari_wait_for_ca(driver, rec, known, now);
        return;
    }
    rec->ari.retry_at = 0;
    rec->ari.parked_on = NULL;
    rv = acme_ca_get(driver, domain, url, &ca, &prob, p);
    if (rv == APR_SUCCESS) {
        /* decides for other names: a CA whose renewalInfo does not answer
         * has its other names parked (ari_wait_for_ca) before any of them
         * asks too */
        int decided = acme_driver_wire_decides(driver, 1);

        rv = acme_client_renewal_info(acme_driver_wire_client(driver, ca), p, leaf, &start, &end,
                                      &retry_after, &prob);
        acme_driver_wire_decides(driver, decided);
    }
    if (ca && rv != APR_SUCCESS && prob.http_status == 0 && prob.url && !prob.type) {
        ca->ari_failures += 1;
        ca->ari_down_len = acme_policy_ari_down_backoff(ca->ari_failures);
        ca->ari_down_until = now + ca->ari_down_len;
    }
    else if (ca) {
        ca->ari_failures = 0;
        ca->ari_down_until = 0;
        ca->ari_down_len = 0;
        if (ca->ari_parked || ca->ari_prober) {
            ari_unpark(driver, ca, down_len, now, p);
        }
    }
    rec->ari.next_poll = acme_policy_ari_next_poll(now, retry_after);
    /* no answer: while names are parked, this one asks again when the
     * backoff is over (its own next poll stays as it was) */
    if (ca && ca->ari_down_until > now) {
        ca->ari_prober = rec;
        ca->ari_probe_at = ca->ari_down_until;
    }
    if (rv == APR_SUCCESS) {
        ari_window(driver, rec, domain->name, start, end, now, p);
    }
    else if (rv == APR_ENOTIMPL) {
        rec->ari.start = rec->ari.end = rec->ari.chosen = 0;
        acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00425: %s: %s offers no renewal "
                 "information; the renewal window decides", domain->name, url);
    }
    else if (prob.http_status == 404 && ca) {
        ari_absent(driver, ca, rec, domain->name, &prob, p);
    }
    else {
        if (prob.http_status == 0 && prob.url && !prob.type && ca) {
            ca->unreachable_run = driver->run;
        }
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00426: %s: no renewal information from "
                 "%s: %s; asking again at %s", domain->name, url, acme_problem_str(&prob, p),
                 acme_time_rfc3339(p, rec->ari.next_poll));
    }
    ari_save(driver, rec, domain->name, p);
}

/* The CA asked for the live certificate's renewal information, NULL while
 * none was asked. */
static acme_ca_t *ari_ca(acme_driver_t *driver, const acme_record_t *rec,
                         const acme_domain_t *domain)
{
    const char *url = ari_ca_url(rec, domain);

    return url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;
}

/* rec is its CA's prober while names are parked on it, and the probe is
 * due at now (any time with now 0). */
static int ari_probing(acme_driver_t *driver, const acme_record_t *rec,
                       const acme_domain_t *domain, apr_time_t now)
{
    const acme_ca_t *ca = ari_ca(driver, rec, domain);

    return ca && ca->ari_prober == rec && ca->ari_parked && (!now || now >= ca->ari_probe_at);
}

apr_time_t acme_renewal_ari_update(acme_driver_t *driver, acme_record_t *rec,
                                   const acme_domain_t *domain, X509 *leaf, apr_time_t now,
                                   apr_pool_t *p)
{
    apr_time_t at;

    if (!rec->has_cert || !rec->cert_serial[0]) {
        return 0;
    }
    if (strcmp(rec->ari.serial, rec->cert_serial) != 0) {
        ari_load(driver, rec, domain->name, now, p);
    }
    if ((now >= rec->ari.next_poll && now >= rec->ari.retry_at) || ari_probing(driver, rec, domain, now)) {
        ari_poll(driver, rec, domain, leaf, now, p);
    }
    if (rec->ari.chosen && rec->ari.chosen < rec->renew_at) {
        rec->renew_at = rec->ari.chosen;
    }
    if (rec->ari.parked_on) {
        return 0;                   /* the CA's answer to its prober sets the time */
    }
    at = rec->ari.retry_at > rec->ari.next_poll ? rec->ari.retry_at : rec->ari.next_poll;
    if (ari_probing(driver, rec, domain, 0) && ari_ca(driver, rec, domain)->ari_probe_at < at) {
        at = ari_ca(driver, rec, domain)->ari_probe_at;
    }
    return at;
}

/* ---- expiry warning ---- */

static const char *warning_message(const acme_record_t *rec, const acme_domain_t *domain,
                                   apr_pool_t *p)
{
    const char *type = rec->error_type;

    if (strncmp(type, ACME_ERROR_NS, strlen(ACME_ERROR_NS)) == 0) {
        type += strlen(ACME_ERROR_NS);
    }
    if (rec->attempts <= 0) {
        return apr_psprintf(p, "certificate for %s expires at %s; renewal has not finished yet "
                            "(%s)", domain->name, acme_time_rfc3339(p, rec->cert_not_after),
                            rec->queued[0] ? rec->queued : rec->job ? "order in progress"
                                                                    : rec->state);
    }
    return apr_psprintf(p, "certificate for %s expires at %s; renewal keeps failing: %s%s%s",
                        domain->name, acme_time_rfc3339(p, rec->cert_not_after), type,
                        *type ? ": " : "", rec->error_detail[0] ? rec->error_detail : "unknown");
}

void acme_renewal_warn_check(acme_driver_t *driver, acme_record_t *rec,
                             const acme_domain_t *domain, apr_time_t now, apr_pool_t *p)
{
    apr_time_t warn_at;
    const char *message;
    apr_status_t rv;

    rec->warning = 0;
    if (!rec->has_cert) {
        return;
    }
    warn_at = acme_policy_warn_at(rec->cert_not_before, rec->cert_not_after, domain->warn_window);
    /* Failing, waiting for the CA, queued or the CA down: anything but a
     * certificate found fit and left alone counts. */
    if (!acme_policy_should_warn(warn_at, now, rec->attempts > 0 || rec->job || rec->queued[0]
                                               || (rec->state && strcmp(rec->state, "valid") != 0))) {
        return;
    }
    rec->warning = 1;
    message = warning_message(rec, domain, p);
    acme_log(&driver->ctx, ACME_LOG_WARN, 0, "ACME00424: %s", message);
    if (rec->expiring_posted_at && now - rec->expiring_posted_at < ACME_EXPIRING_EVERY) {
        return;
    }
    rv = acme_events_post(driver->store, p, ACME_EVENT_EXPIRING, domain->name, message, now);
    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00427: %s: cannot write the %s event",
                 domain->name, ACME_EVENT_EXPIRING);
        return;
    }
    rec->expiring_posted_at = now;
}

/* ---- status/<name>.json: written by the driver, read back after a restart ---- */

/* The configuration the attempts and backoff of a status record count for:
 * what is ordered (acme_job_fingerprint) and how it is validated (challenge
 * types, dns-01 hook), since a failure may come from either. A record
 * written for another one is not restored: the next attempt comes at once. */
static const char *attempts_fingerprint(apr_pool_t *p, const acme_domain_t *domain)
{
    return apr_pstrcat(p, acme_job_fingerprint(p, domain), " challenges:",
                       domain->challenges ? apr_array_pstrcat(p, domain->challenges, ',') : "",
                       " dns-hook:", domain->dns_cmd ? domain->dns_cmd : "", NULL);
}

void acme_renewal_status_fill(const acme_record_t *rec, const acme_domain_t *domain,
                              acme_status_record_t *st, apr_pool_t *p)
{
    acme_status_ca_t *ca = apr_pcalloc(p, sizeof(*ca));

    st->fingerprint = attempts_fingerprint(p, domain);
    ca->url = acme_ca_in_use(rec, domain);
    ca->index = rec->failover.index;
    ca->failures = rec->failover.failures;
    ca->since = rec->failover.since;
    st->ca = ca;
    if (rec->has_cert) {
        st->renew_at = rec->renew_at;
    }
    if (rec->has_cert && rec->ari.serial[0] && strcmp(rec->ari.serial, rec->cert_serial) == 0
        && rec->ari.next_poll) {
        acme_status_ari_t *ari = apr_pcalloc(p, sizeof(*ari));

        ari->start = rec->ari.start;
        ari->end = rec->ari.end;
        ari->chosen = rec->ari.chosen;
        ari->next_poll = rec->ari.next_poll;
        st->ari = ari;
    }
    if (rec->warning) {
        acme_status_warning_t *warning = apr_pcalloc(p, sizeof(*warning));

        warning->expires_at = rec->cert_not_after;
        warning->message = warning_message(rec, domain, p);
        warning->notified_at = rec->expiring_posted_at;
        st->warning = warning;
    }
}

static void restore_failover(acme_record_t *rec, const acme_domain_t *domain,
                             const acme_status_ca_t *ca)
{
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;

    if (!ca || !ca->url || ca->index < 0 || ca->index >= n || ca->failures < 0
        || ca->failures > 1000
        || strcmp(ca->url, APR_ARRAY_IDX(domain->ca_urls, ca->index, const char *))) {
        return;
    }
    rec->failover.index = ca->index;
    rec->failover.failures = ca->failures;
    rec->failover.since = ca->since;
}

static void restore_error(acme_record_t *rec, const acme_status_record_t *st, apr_time_t now)
{
    const acme_status_error_t *error = st->error;

    if (st->state != ACME_STATUS_ERROR || st->attempts <= 0 || !error) {
        return;
    }
    rec->attempts = st->attempts > 1000 ? 1000 : st->attempts;
    rec->state = "error";
    rec->error_at = error->at;
    rec->failing_since = error->since && error->since <= error->at ? error->since : error->at;
    acme_record_text_set(rec, &rec->error_type, ACME_ERR_TYPE_MAX, error->type);
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, error->detail);
    acme_record_text_set(rec, &rec->error_url, ACME_ERR_URL_MAX, error->url);
    rec->error_kind = acme_problem_kind_parse(error->kind);
    /* The backoff (and the CA's Retry-After, which may be days) outlives the
     * restart; a time beyond any we plan is clamped, not obeyed. */
    if (!rec->force && st->next_action > now
        /* the order is kept, and fetching its certificate again costs no
         * new one: a restart (AcmeTrustedRootsFile fixed) tries at once */
        && rec->error_kind != ACME_PROBLEM_KIND_CHAIN_UNTRUSTED
        /* held by a level refusal, which the parent drops at a start
         * where the level or what the chain depends on changed: looked
         * at again at once */
        && rec->error_kind != ACME_PROBLEM_KIND_SECLEVEL) {
        rec->next_run = st->next_action < now + ACME_RESTORED_WAIT_MAX
                        ? st->next_action : now + ACME_RESTORED_WAIT_MAX;
    }
}

void acme_renewal_restore(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                          apr_time_t now, apr_pool_t *p)
{
    acme_status_record_t *st;
    apr_status_t rv;

    rec->restored = 1;
    if ((rv = acme_status_record_load(driver->store, p, domain->name, &st)) != APR_SUCCESS) {
        if (!APR_STATUS_IS_ENOENT(rv)) {
            /* garbled or truncated: start afresh, the next write replaces it */
            acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00486: %s: %s is unreadable; "
                     "starting without its attempts and backoff (it is rewritten at the next "
                     "check)", domain->name,
                     acme_store_path(driver->store, p, acme_store_rel_status(p, domain->name)));
        }
        return;
    }
    /* A changed configuration deserves a fresh start. */
    if (!st->fingerprint || strcmp(st->fingerprint, attempts_fingerprint(p, domain)) != 0) {
        return;
    }
    restore_failover(rec, domain, st->ca);
    acme_record_text_set(rec, &rec->notice, ACME_REC_NOTE_MAX, st->notice);
    rec->expiring_posted_at = st->warning ? st->warning->notified_at : 0;
    if (!rec->force) {
        restore_error(rec, st, now);
    }
}
