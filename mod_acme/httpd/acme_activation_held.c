/* Staged entries the refusal backoff holds back (keys/<name>/refused.json,
 * acme_custody.h): the parent's activation neither checks them nor restarts
 * for them, except a chain of root's current key, once per key
 * (acme_custody_backoff_exempt). A held entry is said once per backoff
 * window and name (ACME00743), not at every look: the record lives across
 * generations, in a pool of its own that only one of the parent's lookers
 * (post_config, then the activation thread or the monitor hook) uses at a
 * time. Also the record of the graceful restart the restart interval
 * holds back (activation.json, acme_store_restart.h), and of the one the
 * configuration test refused (jobs/.restart-refused.json: set and ended in
 * one place, acme_activation_held_refused, at each verdict of the test). */
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_custody.h"
#include "acme_watchdog.h"
#include "acme_configtest.h"
#include "acme_store_paths.h"
#include "acme_store_restart.h"
#include "acme_time.h"

#define ACME_WD_HELD_KEY "mod_acme.held"

/* Per name: the last verdict (for the same entry in the same window it is
 * not worked out again: the exemption reads cert.pem) and the window said. */
typedef struct held_t {
    apr_time_t at;          /* the entry's ready time the verdict is for */
    apr_time_t until;       /* the backoff's end the verdict is for */
    int held;
    apr_time_t logged;      /* the backoff's end ACME00743 was logged for */
} held_t;

struct acme_wd_held_t {
    apr_pool_t *pool;       /* unmanaged: lives as long as the process */
    apr_hash_t *names;      /* name -> held_t */
};

acme_wd_held_t *acme_activation_held_state(server_rec *s)
{
    apr_pool_t *process_pool = s->process->pool;
    acme_wd_held_t *state = NULL;
    void *data = NULL;
    apr_pool_t *pool;

    apr_pool_userdata_get(&data, ACME_WD_HELD_KEY, process_pool);
    if ((state = data) != NULL) {
        return state;
    }
    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(pool, "acme_held");
    state = apr_pcalloc(pool, sizeof(*state));
    state->pool = pool;
    state->names = apr_hash_make(pool);
    apr_pool_userdata_set(state, ACME_WD_HELD_KEY, apr_pool_cleanup_null, process_pool);
    return state;
}

static void log_held(acme_wd_t *wd, apr_pool_t *p, const char *name, apr_time_t until,
                     int count)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->rt->base,
                 "ACME00743: %s: the staged entry is held back until %s: %d staged "
                 "certificate(s) of this name were refused in a row (see their refusal), so "
                 "until then what is staged for it is neither checked nor activated, except "
                 "once a certificate for the key root offers now. To check and activate it "
                 "now, run apachectl graceful; to end the backoff, remove %s",
                 name, acme_time_rfc3339(p, until), count,
                 acme_store_path(wd->rt->store, p, acme_store_rel_refused(p, name)));
}

int acme_activation_held(acme_wd_t *wd, apr_pool_t *p, const char *name, apr_time_t at)
{
    int count;
    apr_time_t until = acme_custody_refused_info(wd->rt->store, p, name, &count);
    held_t *h = wd->held ? apr_hash_get(wd->held->names, name, APR_HASH_KEY_STRING) : NULL;

    if (!until) {
        acme_custody_refused_shown_tidy(wd->rt->store, p, name);
    }
    if (until <= apr_time_now()) {
        return 0;
    }
    if (h && h->at == at && h->until == until) {
        return h->held;
    }
    if (!h && wd->held) {
        h = apr_pcalloc(wd->held->pool, sizeof(*h));
        apr_hash_set(wd->held->names, apr_pstrdup(wd->held->pool, name), APR_HASH_KEY_STRING, h);
    }
    if (!h) {
        return !acme_custody_backoff_exempt(wd->rt->store, p, name, NULL);
    }
    h->at = at;
    h->until = until;
    h->held = !acme_custody_backoff_exempt(wd->rt->store, p, name, NULL);
    if (h->held && h->logged != until) {
        h->logged = until;
        log_held(wd, p, name, until, count);
    }
    return h->held;
}

void acme_activation_held_restart_write(acme_wd_t *wd, apr_pool_t *p, apr_time_t at)
{
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    apr_hash_index_t *hi;
    apr_status_t rv;

    for (hi = apr_hash_first(p, wd->prechecked); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(names, const char *) = apr_hash_this_key(hi);
    }
    if ((rv = acme_store_restart_held_write(wd->rt->store, p, at, names)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, wd->rt->base,
                     "ACME00759: cannot write %s, so the status page and acmectl do not "
                     "say when the held graceful restart comes (%s, as logged)",
                     acme_store_path(wd->rt->store, p, ACME_STORE_RESTART_HELD),
                     acme_time_rfc3339(p, at));
    }
}

void acme_activation_held_restart_clear(acme_wd_t *wd, apr_pool_t *p)
{
    apr_status_t rv = acme_store_restart_held_clear(wd->rt->store, p);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, wd->rt->base,
                     "ACME00760: cannot remove %s, so the status page and acmectl may give "
                     "the time of a restart that is no longer held",
                     acme_store_path(wd->rt->store, p, ACME_STORE_RESTART_HELD));
    }
}

void acme_activation_held_refused(acme_wd_t *wd, apr_pool_t *p,
                                  const struct acme_configtest_t *test, int always)
{
    apr_status_t rv;

    if (!test) {
        if ((wd->restart_refused || always)
            && (rv = acme_store_restart_refused_clear(wd->rt->store, p)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, wd->rt->base,
                         "ACME00781: cannot remove %s, so the status page and acmectl may "
                         "still say that the automatic restart was refused",
                         acme_store_path(wd->rt->store, p, ACME_STORE_RESTART_REFUSED));
        }
        wd->restart_refused = 0;
        return;
    }
    /* no names: the refused restart is the one for every staged
     * certificate, held ones included, and the retest decides for all */
    wd->restart_refused = 1;
    rv = acme_store_restart_refused_write(wd->rt->store, p, apr_time_now(), wd->next_poll,
                                          /* longer: the record cuts it, with "..." */
                                          acme_configtest_why(p, test,
                                                              2 * ACME_STORE_REFUSED_WHY_MAX));
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, wd->rt->base,
                     "ACME00780: cannot write %s, so the status page and acmectl do not say "
                     "that the automatic restart was refused (the configuration fails its "
                     "test) nor that it is tried again at %s",
                     acme_store_path(wd->rt->store, p, ACME_STORE_RESTART_REFUSED),
                     acme_time_rfc3339(p, wd->next_poll));
    }
}
