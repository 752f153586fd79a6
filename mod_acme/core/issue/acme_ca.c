/* The CA registry of a driver: one client (and account) per directory URL,
 * shared by every domain using it, which CAs did not answer in this run, and
 * the failover along a domain's AcmeCA list. */
#include <string.h>
#include <apr_strings.h>

#include "acme_ca_file.h"
#include "acme_job_int.h"
#include "acme_store_paths.h"
#include "acme_time.h"

/* A failure re-reads the CA's directory at most this often. */
#define ACME_DIRECTORY_REREAD_MIN  apr_time_from_sec(60)
/* The longest one 429 at newOrder holds back the other names' new orders.
 * Some limits on one name's certificates come as 429 at newOrder too, with
 * a Retry-After of days (Let's Encrypt's "New Certificates per Exact Set of
 * Identifiers", https://letsencrypt.org/docs/rate-limits/): the name itself
 * waits that out, the others only this long. */
#define ACME_ORDER_PAUSE_MAX       apr_time_from_sec(3600)

const char *acme_ca_in_use(const acme_record_t *rec, const acme_domain_t *domain)
{
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;
    int index = rec->failover.index;

    if (n == 0) {
        return NULL;
    }
    return APR_ARRAY_IDX(domain->ca_urls, index >= 0 && index < n ? index : 0, const char *);
}

const char *acme_ca_down_activity(acme_driver_t *driver, const char *url, apr_time_t next,
                                  apr_pool_t *p)
{
    const acme_ca_t *ca = url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;

    if (!ca || !ca->unreachable_since) {
        return NULL;
    }
    return apr_psprintf(p, "%s%s (%s); next try at %s", ACME_ACTIVITY_CA_DOWN,
                        acme_time_rfc3339(p, ca->unreachable_since), ca->unreachable_error,
                        acme_time_rfc3339(p, next));
}

int acme_ca_down(acme_driver_t *driver, const char *url)
{
    const acme_ca_t *ca = url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;

    return ca && ca->unreachable_run == driver->run;
}

const char *acme_ca_kid(acme_driver_t *driver, const char *url)
{
    const acme_ca_t *ca = url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;

    return ca ? ca->kid : NULL;
}

/* A request that got no HTTP answer at all: the CA is down or unreachable. */
void acme_ca_note_failure(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob)
{
    apr_time_t now = acme_core_now(&driver->ctx);

    if (prob->http_status == 0 && prob->url && !prob->type) {
        ca->unreachable_run = driver->run;
        if (!ca->unreachable_since) {
            ca->unreachable_since = now;
        }
        /* the detail only: the request's URL may be the account's */
        apr_cpystrn(ca->unreachable_error, prob->detail ? prob->detail : "no answer",
                    sizeof(ca->unreachable_error));
    }
    if ((prob->http_status >= 400 || (prob->http_status == 0 && prob->url))
        && (ca->directory_stale_at == 0 || now < ca->directory_stale_at
            || now - ca->directory_stale_at >= ACME_DIRECTORY_REREAD_MIN)) {
        ca->directory_stale_at = now;
        acme_client_directory_stale(ca->client);
    }
}

void acme_ca_note_no_answer(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob)
{
    if (prob->http_status == 0 && prob->url && !prob->type) {
        acme_ca_note_failure(driver, ca, prob);
    }
}

#define PAUSED_FILE ACME_STORE_JOBS "/.paused.json"

/* A pause in PAUSED_FILE: when it ends, seconds since the epoch (a time no
 * clock reaches, or not a number, is none). */
static apr_status_t paused_decode(const json_t *value, void *entry)
{
    return json_is_integer(value)
           ? acme_time_from_sec_checked(json_integer_value(value), entry) : APR_EINVAL;
}

/* Pauses not over at *(apr_time_t *)now, in seconds rounded up. */
static json_t *paused_encode(void *entry, void *now)
{
    apr_time_t until = *(apr_time_t *)entry;

    return until > *(apr_time_t *)now
           ? json_integer((json_int_t)((until + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC))
           : NULL;
}

/* The pauses of new orders by CA URL, read from PAUSED_FILE at first use. */
static apr_hash_t *orders_paused(acme_driver_t *driver, apr_pool_t *p)
{
    if (!driver->orders_paused) {
        driver->orders_paused = acme_ca_file_load(driver->store, driver->pool, p, PAUSED_FILE,
                                                  sizeof(apr_time_t), paused_decode);
    }
    return driver->orders_paused;
}

/* The pauses not over at now into PAUSED_FILE. */
static void orders_paused_save(acme_driver_t *driver, apr_time_t now, apr_pool_t *p)
{
    apr_status_t rv = acme_ca_file_save(driver->store, p, PAUSED_FILE, driver->orders_paused,
                                        paused_encode, &now);

    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME01261: cannot write %s; after a "
                 "restart new orders may meet the CA's rate limit again", PAUSED_FILE);
    }
}

void acme_ca_orders_refused(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob,
                            apr_time_t until, apr_pool_t *p)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    apr_hash_t *paused;
    apr_time_t *at;

    if (!acme_problem_is(prob, "rateLimited") && prob->http_status != 429) {
        return;
    }
    until = prob->retry_after > until ? prob->retry_after : until;
    until = until - now > ACME_ORDER_PAUSE_MAX ? now + ACME_ORDER_PAUSE_MAX : until;
    paused = orders_paused(driver, p);
    at = apr_hash_get(paused, ca->url, APR_HASH_KEY_STRING);
    if (until <= now || (at && until <= *at)) {
        return;
    }
    if (!at || *at <= now) {
        acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME01260: %s limits new orders of this "
                 "account (%s); no new order goes to it before %s", ca->url,
                 acme_problem_str(prob, p), acme_time_rfc3339(p, until));
    }
    if (!at) {
        at = apr_palloc(driver->pool, sizeof(*at));
        apr_hash_set(paused, ca->url, APR_HASH_KEY_STRING, at);
    }
    *at = until;
    orders_paused_save(driver, now, p);
}

/* The end of the pause of new orders at the CA at url (absolute), or 0 when
 * new orders may go there at now. */
static apr_time_t orders_paused_until(acme_driver_t *driver, const char *url, apr_time_t now,
                                      apr_pool_t *p)
{
    const apr_time_t *until = url ? apr_hash_get(orders_paused(driver, p), url,
                                                 APR_HASH_KEY_STRING) : NULL;

    return until && *until > now ? *until : 0;
}

int acme_ca_orders_wait(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                        apr_time_t now, apr_pool_t *p)
{
    apr_time_t until = orders_paused_until(driver, acme_ca_in_use(rec, domain), now, p);

    if (!until) {
        return 0;
    }
    rec->next_run = until;
    rec->queued_at = 0;
    acme_record_text_set(rec, &rec->queued, ACME_REC_QUEUED_MAX,
                         apr_pstrcat(p, ACME_ACTIVITY_ORDERS_PAUSED,
                                     acme_time_rfc3339(p, until), NULL));
    return 1;
}

apr_status_t acme_ca_get(acme_driver_t *driver, const acme_domain_t *domain, const char *url,
                         acme_ca_t **ca_out, acme_problem_t *prob, apr_pool_t *p)
{
    acme_ca_t *ca = NULL;
    apr_status_t rv;

    *ca_out = NULL;
    if (!url || !*url) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no CA configured (AcmeCA)");
    }
    if (!(ca = apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING))) {
        ca = apr_pcalloc(driver->pool, sizeof(*ca));
        ca->url = apr_pstrdup(driver->pool, url);
        ca->ca_file = domain->ca_file ? apr_pstrdup(driver->pool, domain->ca_file) : NULL;
        rv = acme_client_create(&ca->client, driver->pool, &driver->ctx, ca->url, domain->ca_file);
        if (rv != APR_SUCCESS) {
            return acme_problem_set(prob, p, rv, NULL, "cannot set up a client for %s", url);
        }
        apr_hash_set(driver->cas, ca->url, APR_HASH_KEY_STRING, ca);
    }
    *ca_out = ca;
    return APR_SUCCESS;
}

void acme_ca_failover_failed(acme_driver_t *driver, acme_record_t *rec,
                             const acme_domain_t *domain, const acme_problem_t *prob,
                             apr_time_t now, apr_pool_t *p)
{
    const char *from = acme_ca_in_use(rec, domain);
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;

    if (!acme_policy_failover_failed(&rec->failover, n, now)) {
        return;
    }
    acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00429: %s: %d failed attempts in a row at %s "
             "(last: %s); switching to CA %d of %d: %s", domain->name, ACME_FAILOVER_AFTER, from,
             acme_problem_str(prob, p), rec->failover.index + 1, n,
             acme_ca_in_use(rec, domain));
    /* The next CA has not failed yet: no reason to wait out the last one's backoff. */
    rec->next_run = now;
}

void acme_ca_failover_start(acme_driver_t *driver, acme_record_t *rec,
                            const acme_domain_t *domain, apr_time_t now)
{
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;

    if (acme_policy_failover_start(&rec->failover, n, now)) {
        acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00430: %s: back to the first CA %s",
                 domain->name, acme_ca_in_use(rec, domain));
    }
}
