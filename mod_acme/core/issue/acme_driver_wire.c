/* Requests of different orders on the wire at once: a run's names are
 * looked at by up to wire_max threads that take turns under one lock (the
 * driver's records, the store, the sink, the gate, the pacer and the log are
 * only ever used by the thread holding it) and let go of it only while a
 * request is on the wire (acme_ctx_t.wire, acme_http_send). Each thread has
 * its own HTTP client and its own client per CA: its own nonces (every JWS
 * needs a fresh one, RFC 8555 §6.5) with the CA's one account. */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "acme_crypto.h"
#include "acme_http.h"
#include "acme_job_int.h"

/* The work of one acme_driver_wire_each, shared by its threads under the lock. */
typedef struct acme_wire_each_t {
    acme_driver_wire_fn *fn;
    void *baton;
    int n;
    int next;                       /* the next i to take */
} acme_wire_each_t;

/* A thread's client of one CA. */
typedef struct wire_client_t {
    acme_client_t *client;
    apr_time_t stale_seen;          /* the CA's directory_stale_at it was told of */
} wire_client_t;

static acme_client_t *slot_client(acme_driver_t *driver, acme_wire_slot_t *slot,
                                  acme_ca_t *ca);

static apr_status_t pool_destroy(void *data)
{
    apr_pool_destroy(data);
    return APR_SUCCESS;
}

/* A pool with its own allocator (with a mutex: safe to make and end
 * threads' pools in it from several threads), destroyed with owner. */
static apr_status_t own_pool(apr_pool_t **pool, apr_pool_t *owner, int with_mutex)
{
    apr_allocator_t *allocator;
    apr_thread_mutex_t *mutex;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_unmanaged_ex(pool, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, *pool);
    if (with_mutex) {
        rv = apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, *pool);
        if (rv != APR_SUCCESS) {
            apr_pool_destroy(*pool);
            return rv;
        }
        apr_allocator_mutex_set(allocator, mutex);
    }
    apr_pool_cleanup_register(owner, *pool, pool_destroy, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* acme_ctx_t.wire of every slot: the lock is let go only by the thread
 * holding it, while other threads run, and not for a request that decides
 * for other names (acme_driver_wire_decides). */
static void slot_wire(void *baton, int on_wire)
{
    acme_wire_slot_t *slot = baton;
    acme_driver_t *driver = slot->driver;

    if (on_wire) {
        if (driver->wire_shared && !driver->wire_decides && driver->current == slot) {
            slot->released = 1;
            apr_thread_mutex_unlock(driver->wire_mutex);
        }
        return;
    }
    if (slot->released) {
        apr_thread_mutex_lock(driver->wire_mutex);
        slot->released = 0;
        driver->current = slot;
    }
}

apr_status_t acme_driver_wire_at_once(acme_driver_t *driver, int n)
{
    acme_wire_slot_t *slot0;
    apr_status_t rv;

    n = n > ACME_WIRE_MAX ? ACME_WIRE_MAX : n;
    if (n <= 1 || driver->wire_max > 1) {
        driver->wire_max = driver->wire_max > 1 ? driver->wire_max : 1;
        return APR_SUCCESS;
    }
    if ((rv = apr_thread_mutex_create(&driver->wire_mutex, APR_THREAD_MUTEX_DEFAULT,
                                      driver->pool)) != APR_SUCCESS
        || (rv = own_pool(&driver->wire_threads, driver->pool, 1)) != APR_SUCCESS) {
        return rv;
    }
    driver->slots = apr_pcalloc(driver->pool, n * sizeof(*driver->slots));
    slot0 = &driver->slots[0];
    slot0->driver = driver;
    if ((rv = own_pool(&driver->ctx.wire_pool, driver->pool, 0)) != APR_SUCCESS) {
        return rv;
    }
    driver->ctx.wire = slot_wire;
    driver->ctx.wire_baton = slot0;
    driver->wire_max = n;
    return APR_SUCCESS;
}

/* Slot i > 0, its HTTP client made at its first use; NULL when it cannot be. */
static acme_wire_slot_t *slot_get(acme_driver_t *driver, int i)
{
    acme_wire_slot_t *slot = &driver->slots[i];
    struct acme_http_t *http;

    if (slot->driver) {
        return slot;
    }
    if (apr_pool_create(&slot->pool, driver->pool) != APR_SUCCESS) {
        return NULL;
    }
    slot->ctx = driver->ctx;
    if (acme_http_create(&http, slot->pool, &driver->ctx, NULL) != APR_SUCCESS
        || own_pool(&slot->ctx.wire_pool, slot->pool, 0) != APR_SUCCESS) {
        apr_pool_destroy(slot->pool);
        return NULL;
    }
    slot->ctx.http = http;
    slot->ctx.wire_baton = slot;
    slot->clients = apr_hash_make(slot->pool);
    slot->index = i;
    slot->driver = driver;
    return slot;
}

/* Takes the next i until none is left; called and returns with the lock. */
static void each_loop(acme_wire_slot_t *slot)
{
    acme_wire_each_t *e = slot->each;

    slot->driver->current = slot;
    while (e->next < e->n) {
        int i = e->next++;

        e->fn(slot->driver, i, e->baton);
    }
}

static void *APR_THREAD_FUNC slot_main(apr_thread_t *thread, void *data)
{
    acme_wire_slot_t *slot = data;

    apr_thread_mutex_lock(slot->driver->wire_mutex);
    each_loop(slot);
    apr_thread_mutex_unlock(slot->driver->wire_mutex);
    /* its OpenSSL state (JWS, TLS) freed now, not by exit() */
    acme_crypto_thread_done();
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

void acme_driver_wire_each(acme_driver_t *driver, int n, acme_driver_wire_fn *fn, void *baton)
{
    acme_wire_each_t e = { fn, baton, n, 0 };
    apr_thread_t *threads[ACME_WIRE_MAX];
    apr_pool_t *threads_pool;
    int want = n < driver->wire_max ? n : driver->wire_max;
    int started = 0, i;

    if (want <= 1) {
        for (i = 0; i < n; ++i) {
            fn(driver, i, baton);
        }
        return;
    }
    /* The threads' memory: a pool of wire_threads' own allocator (whose
     * mutex lives in wire_threads itself, so that is never cleared). */
    if (apr_pool_create(&threads_pool, driver->wire_threads) != APR_SUCCESS) {
        for (i = 0; i < n; ++i) {
            fn(driver, i, baton);
        }
        return;
    }
    apr_thread_mutex_lock(driver->wire_mutex);
    driver->wire_shared = 1;
    driver->wire_decides = 0;
    driver->slots[0].each = &e;
    for (i = 1; i < want; ++i) {
        acme_wire_slot_t *slot = slot_get(driver, i);

        if (!slot) {
            break;
        }
        slot->each = &e;
        if (apr_thread_create(&threads[started], NULL, slot_main, slot,
                              threads_pool) != APR_SUCCESS) {
            break;
        }
        started++;
    }
    each_loop(&driver->slots[0]);
    apr_thread_mutex_unlock(driver->wire_mutex);
    for (i = 0; i < started; ++i) {
        apr_status_t rv;

        apr_thread_join(&rv, threads[i]);
    }
    driver->wire_shared = 0;
    driver->wire_decides = 0;
    driver->current = NULL;
    apr_pool_destroy(threads_pool);
}

/* client has no nonce: another thread's client of the CA that has one
 * (none is on the wire now: its nonce went with its request) gives it, so
 * no newNonce is asked for while one is at hand. */
static void nonce_borrow(acme_driver_t *driver, acme_ca_t *ca, acme_client_t *client)
{
    int i;

    if (client != ca->client && acme_client_nonce_take(client, ca->client)) {
        return;
    }
    for (i = 1; i < driver->wire_max; ++i) {
        wire_client_t *other = driver->slots[i].clients
                               ? apr_hash_get(driver->slots[i].clients, ca->url,
                                              APR_HASH_KEY_STRING) : NULL;

        if (other && other->client != client && acme_client_nonce_take(client, other->client)) {
            return;
        }
    }
}

/* client has no directory: another thread's client of the CA gives its
 * copy; none has one: it is read now, keeping the lock, so the others
 * take it instead of reading it too (unless the CA is down in this run). */
static void directory_share(acme_driver_t *driver, acme_ca_t *ca, acme_client_t *client)
{
    const acme_directory_t *dir;
    acme_problem_t prob;
    apr_pool_t *p;
    int i, decided;

    if (client != ca->client) {
        acme_client_directory_adopt(client, ca->client);
    }
    for (i = 1; i < driver->wire_max; ++i) {
        wire_client_t *other = driver->slots[i].clients
                               ? apr_hash_get(driver->slots[i].clients, ca->url,
                                              APR_HASH_KEY_STRING) : NULL;

        if (other && other->client != client) {
            acme_client_directory_adopt(client, other->client);
        }
    }
    if (acme_ca_down(driver, ca->url) || apr_pool_create(&p, driver->pool) != APR_SUCCESS) {
        return;
    }
    decided = acme_driver_wire_decides(driver, 1);
    acme_problem_clear(&prob);
    (void)acme_client_directory(client, p, &dir, &prob);    /* nothing sent when it has one */
    acme_driver_wire_decides(driver, decided);
    apr_pool_destroy(p);
}

/* The CA's account, made or found by whichever thread's client, selected
 * in client too (with the kid known nothing is sent). */
static void account_share(acme_driver_t *driver, acme_ca_t *ca, acme_client_t *client)
{
    const char *kid, *kid_out;
    acme_problem_t prob;
    EVP_PKEY *key;
    apr_pool_t *p;

    if (!ca->account_ready || !ca->account_key || !ca->kid) {
        return;
    }
    acme_client_account_get(client, &key, &kid);
    if ((key == ca->account_key && kid && strcmp(kid, ca->kid) == 0)
        || apr_pool_create(&p, driver->pool) != APR_SUCCESS) {
        return;
    }
    acme_problem_clear(&prob);
    (void)acme_client_account(client, p, ca->account_key, ca->kid, NULL, 0, &kid_out, &prob);
    apr_pool_destroy(p);
}

acme_client_t *acme_driver_wire_client(acme_driver_t *driver, acme_ca_t *ca)
{
    acme_wire_slot_t *slot = driver->current;
    acme_client_t *client = slot_client(driver, slot, ca);

    account_share(driver, ca, client);
    if (slot && driver->wire_shared) {
        directory_share(driver, ca, client);
        nonce_borrow(driver, ca, client);
    }
    return client;
}

/* The client of ca for slot (see acme_driver_wire_client). */
static acme_client_t *slot_client(acme_driver_t *driver, acme_wire_slot_t *slot, acme_ca_t *ca)
{
    wire_client_t *wc;

    if (!slot || slot->index == 0) {
        return ca->client;
    }
    if (!(wc = apr_hash_get(slot->clients, ca->url, APR_HASH_KEY_STRING))) {
        wc = apr_pcalloc(slot->pool, sizeof(*wc));
        if (acme_client_create(&wc->client, slot->pool, &slot->ctx, ca->url,
                               ca->ca_file) != APR_SUCCESS) {
            /* Not with a URL and an HTTP client; were it so, the shared
             * client serves, and no request of this run leaves the lock. */
            driver->wire_decides = 1;
            return ca->client;
        }
        wc->stale_seen = ca->directory_stale_at;
        apr_hash_set(slot->clients, ca->url, APR_HASH_KEY_STRING, wc);
    }
    if (wc->stale_seen != ca->directory_stale_at) {
        acme_client_directory_stale(wc->client);
        wc->stale_seen = ca->directory_stale_at;
    }
    return wc->client;
}

int acme_driver_wire_decides(acme_driver_t *driver, int decides)
{
    int before = driver->wire_decides;

    driver->wire_decides = decides;
    return before;
}
