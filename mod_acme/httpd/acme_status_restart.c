/* What the status page says of a staged certificate's way to going live:
 * the held restart (activation.json), the refused one
 * (jobs/.restart-refused.json), the refusal backoff (refused/<name>.json),
 * each read once per pool, and the words of acme_store_activation_goes_live
 * made of them (acme_status.h). */
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>

#include "acme_private.h"
#include "acme_store_restart.h"
#include "acme_store_activation.h"
#include "acme_custody.h"
#include "acme_status.h"

/* activation.json and jobs/.restart-refused.json as read once per p: every
 * staged certificate of a page waits for the same restart, held or
 * refused (one configuration test for all). */
struct restart_held { apr_time_t at; apr_hash_t *names; acme_store_refusal_t refused; };

static const struct restart_held *restart_held(acme_runtime_t *rt, apr_pool_t *p)
{
    struct restart_held *held = NULL;

    apr_pool_userdata_get((void **)&held, "acme-status-restart", p);
    if (!held) {
        held = apr_pcalloc(p, sizeof(*held));
        held->at = rt && rt->store ? acme_store_restart_held_read(rt->store, p, &held->names) : 0;
        if (rt && rt->store && rt->activation_auto) {
            acme_store_restart_refused_read(rt->store, p, &held->refused);
        }
        apr_pool_userdata_setn(held, "acme-status-restart", NULL, p);
    }
    return held;
}

apr_time_t acme_status_restart_at(acme_runtime_t *rt, apr_pool_t *p, const char *name)
{
    const struct restart_held *held = restart_held(rt, p);

    return held->at && held->names && apr_hash_get(held->names, name, APR_HASH_KEY_STRING)
           ? held->at : 0;
}

const acme_store_refusal_t *acme_status_restart_refused(acme_runtime_t *rt, apr_pool_t *p)
{
    return rt && rt->activation_auto
           ? acme_store_restart_refused_of(&restart_held(rt, p)->refused) : NULL;
}

apr_int64_t acme_status_restart_shown(acme_runtime_t *rt, apr_pool_t *p, const char *name)
{
    const acme_store_refusal_t *refused = acme_status_restart_refused(rt, p);
    apr_time_t at = rt && rt->activation_auto ? restart_held(rt, p)->at : 0;

    if (refused) {
        /* the records keep whole seconds: +1 is no held restart's time, and
         * each refusal has a retry time of its own */
        return refused->retry_at + 1;
    }
    return at && !acme_status_restart_at(rt, p, name) ? -at : at;
}

const char *acme_status_goes_live(acme_runtime_t *rt, apr_pool_t *p, const char *name, int full)
{
    const acme_custody_held_t *held = acme_status_held(rt, p, name);
    int auto_ = rt && rt->activation_auto;

    return acme_store_activation_goes_live(p, auto_ ? ACME_ACTIVATION_AUTO : ACME_ACTIVATION_MANUAL,
        auto_ ? restart_held(rt, p)->at : 0, auto_ && acme_status_restart_at(rt, p, name) != 0,
        acme_status_restart_refused(rt, p), held ? held->until : 0, full);
}

const acme_custody_held_t *acme_status_held(acme_runtime_t *rt, apr_pool_t *p, const char *name)
{
    /* one listing of refused/ per pool: nearly always empty */
    apr_hash_t *held = NULL;

    apr_pool_userdata_get((void **)&held, "acme-status-held", p);
    if (!held) {
        held = rt && rt->store ? acme_custody_refused_shown(rt->store, p, apr_time_now())
                               : apr_hash_make(p);
        apr_pool_userdata_setn(held, "acme-status-held", NULL, p);
    }
    return apr_hash_get(held, name, APR_HASH_KEY_STRING);
}
