/* http-01 answers: a table of slots in anonymous shared memory, written by
 * the watchdog child and read by every child, and the responder that serves
 * /.well-known/acme-challenge/<token> before any other module sees the request.
 * Each slot is a seqlock (acme_shm_slot.h): readers never block. The table
 * carries the tls-alpn-01 table (acme_tlsalpn.c), so one sink serves both. */
#include <string.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>

#include "acme_private.h"
#include "acme_challenge.h"
#include "acme_shm_slot.h"
#include "acme_tlsalpn.h"
#include "acme_names.h"

#define ACME_CHALLENGE_PREFIX      "/.well-known/acme-challenge/"
#define ACME_CHALLENGE_LIFETIME    apr_time_from_sec(3600)
#define ACME_CHALLENGE_READ_TRIES  8
/* The table outlives configuration generations, so answers published just
 * before a graceful restart are still served by the new children. The key
 * names the struct's layout: a module with another layout makes its own. */
#define ACME_CHALLENGE_POOL_KEY    "mod_acme.challenges/2"

typedef struct acme_slot_t {
    volatile apr_uint32_t seq;        /* odd while being written */
    apr_time_t expires;               /* 0: free */
    char token[ACME_MAX_TOKEN_LEN + 1];
    char keyauth[ACME_MAX_KEYAUTH_LEN + 1];
} acme_slot_t;

struct acme_challenges_t {
    apr_shm_t *shm;
    acme_slot_t *slots;
    int nslots;
    acme_tlsalpn_t *tlsalpn;          /* NULL when its memory could not be had */
};

/* The segments live in the process pool; the cleanup apr_shm_create
 * registers there unmaps them. */
apr_status_t acme_challenges_create(acme_challenges_t **table, apr_pool_t *pconf)
{
    apr_pool_t *home = acme_shm_home(pconf);
    acme_challenges_t *t = NULL;
    apr_size_t size = sizeof(acme_slot_t) * ACME_CHALLENGE_SLOTS;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&t, ACME_CHALLENGE_POOL_KEY, home);
    if (t && t->shm) {
        *table = t;
        return APR_SUCCESS;
    }
    t = apr_pcalloc(home, sizeof(*t));
    rv = apr_shm_create(&t->shm, size, NULL, home);
    if (rv != APR_SUCCESS) {
        *table = NULL;
        return rv;
    }
    t->slots = apr_shm_baseaddr_get(t->shm);
    t->nslots = ACME_CHALLENGE_SLOTS;
    memset(t->slots, 0, size);
    if (acme_tlsalpn_create(&t->tlsalpn, home) != APR_SUCCESS) {
        t->tlsalpn = NULL;
    }
    apr_pool_userdata_set(t, ACME_CHALLENGE_POOL_KEY, NULL, home);
    *table = t;
    return APR_SUCCESS;
}

static int slot_claim(acme_slot_t *slot, apr_uint32_t *seq)
{
    return acme_slot_claim(&slot->seq, seq);
}

static void slot_release(acme_slot_t *slot, apr_uint32_t seq)
{
    acme_slot_release(&slot->seq, seq);
}

static int slot_holds(const acme_slot_t *slot, const char *token, apr_time_t now)
{
    return slot->expires > now && !strncmp(slot->token, token, sizeof(slot->token));
}

/* Writes token into a slot that holds it already, or else into a free or
 * expired one. Returns 0 when every slot is taken. */
static int slot_write(acme_challenges_t *table, const char *token, const char *keyauth,
                      apr_time_t now, int reuse_only)
{
    int i;

    for (i = 0; i < table->nslots; ++i) {
        acme_slot_t *slot = &table->slots[i];
        apr_uint32_t seq;
        int fits;

        if (!slot_claim(slot, &seq)) {
            continue;
        }
        fits = reuse_only ? slot_holds(slot, token, now) : slot->expires <= now;
        if (fits) {
            memset(slot->token, 0, sizeof(slot->token));
            memset(slot->keyauth, 0, sizeof(slot->keyauth));
            apr_cpystrn(slot->token, token, sizeof(slot->token));
            apr_cpystrn(slot->keyauth, keyauth, sizeof(slot->keyauth));
            slot->expires = now + ACME_CHALLENGE_LIFETIME;
        }
        slot_release(slot, seq);
        if (fits) {
            return 1;
        }
    }
    return 0;
}

apr_status_t acme_challenges_publish(acme_challenges_t *table, const char *token,
                                     const char *key_authorization)
{
    apr_time_t now = apr_time_now();

    if (!table || !table->slots) {
        return APR_EINIT;
    }
    if (!acme_token_is_valid(token) || !key_authorization
        || strlen(key_authorization) > ACME_MAX_KEYAUTH_LEN) {
        return APR_EINVAL;
    }
    if (slot_write(table, token, key_authorization, now, 1)
        || slot_write(table, token, key_authorization, now, 0)) {
        return APR_SUCCESS;
    }
    return APR_ENOSPC;
}

void acme_challenges_withdraw(acme_challenges_t *table, const char *token)
{
    apr_time_t now = apr_time_now();
    int i;

    if (!table || !table->slots || !token) {
        return;
    }
    for (i = 0; i < table->nslots; ++i) {
        acme_slot_t *slot = &table->slots[i];
        apr_uint32_t seq;

        if (!slot_holds(slot, token, now) || !slot_claim(slot, &seq)) {
            continue;
        }
        if (slot_holds(slot, token, now)) {
            slot->expires = 0;
            memset(slot->keyauth, 0, sizeof(slot->keyauth));
            memset(slot->token, 0, sizeof(slot->token));
        }
        slot_release(slot, seq);
    }
}

/* One consistent look at a slot: 1 found (answer copied), 0 not this slot,
 * -1 a writer kept getting in the way. */
static int slot_read(const acme_slot_t *slot, const char *token, apr_time_t now,
                     char *buf, apr_size_t bufsize)
{
    int tries;

    for (tries = 0; tries < ACME_CHALLENGE_READ_TRIES; ++tries) {
        apr_uint32_t before = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);
        int found;

        if (before & 1) {
            continue;
        }
        found = slot_holds(slot, token, now);
        if (found) {
            apr_size_t len = strnlen(slot->keyauth, sizeof(slot->keyauth) - 1);

            len = len < bufsize - 1 ? len : bufsize - 1;
            memcpy(buf, slot->keyauth, len);
            buf[len] = '\0';
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&slot->seq, __ATOMIC_RELAXED) == before) {
            return found;
        }
    }
    return -1;
}

apr_status_t acme_challenges_lookup(acme_challenges_t *table, const char *token,
                                    char *buf, apr_size_t bufsize)
{
    apr_time_t now = apr_time_now();
    int i;

    if (!table || !table->slots || !token || !bufsize) {
        return APR_ENOENT;
    }
    for (i = 0; i < table->nslots; ++i) {
        if (slot_read(&table->slots[i], token, now, buf, bufsize) == 1) {
            return buf[0] ? APR_SUCCESS : APR_ENOENT;
        }
    }
    buf[0] = '\0';
    return APR_ENOENT;
}

static apr_status_t sink_publish(void *baton, const char *token, const char *key_authorization)
{
    return acme_challenges_publish(baton, token, key_authorization);
}

static void sink_withdraw(void *baton, const char *token)
{
    acme_challenges_withdraw(baton, token);
}

static apr_status_t sink_publish_tls_alpn(void *baton, const char *identifier,
                                          const char *cert_pem, const char *key_pem)
{
    return acme_tlsalpn_publish(acme_challenges_tlsalpn(baton), identifier, cert_pem, key_pem);
}

static void sink_withdraw_tls_alpn(void *baton, const char *identifier)
{
    acme_tlsalpn_withdraw(acme_challenges_tlsalpn(baton), identifier);
}

void acme_challenges_sink(acme_challenges_t *table, acme_challenge_sink_t *sink)
{
    memset(sink, 0, sizeof(*sink));
    sink->publish = sink_publish;
    sink->withdraw = sink_withdraw;
    if (acme_challenges_tlsalpn(table)) {
        sink->publish_tls_alpn = sink_publish_tls_alpn;
        sink->withdraw_tls_alpn = sink_withdraw_tls_alpn;
    }
    sink->baton = table;
}

acme_tlsalpn_t *acme_challenges_tlsalpn(acme_challenges_t *table)
{
    return table ? table->tlsalpn : NULL;
}

/* Unknown tokens are ours to refuse only for the names we manage (or a
 * request without Host): other hosts may be served by another ACME client's
 * files, which the rest of httpd then handles as usual. */
static int host_is_managed(const acme_runtime_t *rt, apr_pool_t *p, const char *host)
{
    apr_size_t len = host ? strlen(host) : 0;
    int i, j;

    if (!host || !*host || !rt->domains) {
        return 1;
    }
    /* An IPv6 Host as written in a URL: [2001:db8::1] (httpd drops the port). */
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        host = apr_pstrmemdup(p, host + 1, len - 2);
    }
    for (i = 0; i < rt->domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);

        for (j = 0; j < domain->names->nelts; ++j) {
            if (acme_name_covers(APR_ARRAY_IDX(domain->names, j, const char *), host)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Runs before translation, rewrites, redirects and authentication, on every
 * vhost. Returning OK (not DONE) keeps the connection alive. */
static int acme_challenge_handler(request_rec *r, int lookup_uri)
{
    const char *path = r->parsed_uri.path;
    const char *token;
    acme_runtime_t *rt;
    char answer[ACME_MAX_KEYAUTH_LEN + 1];
    apr_size_t len;

    if (lookup_uri || !path
        || strncmp(path, ACME_CHALLENGE_PREFIX, sizeof(ACME_CHALLENGE_PREFIX) - 1)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return DECLINED;
    }
    rt = acme_runtime_get(r->server);
    if (!rt || !rt->challenges) {
        return DECLINED;
    }
    token = path + sizeof(ACME_CHALLENGE_PREFIX) - 1;
    if (!acme_token_is_valid(token)
        || acme_challenges_lookup(rt->challenges, token, answer, sizeof(answer)) != APR_SUCCESS) {
        if (!host_is_managed(rt, r->pool, r->hostname)) {
            return DECLINED;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "ACME00700: no pending http-01 challenge for %s", path);
        return HTTP_NOT_FOUND;
    }
    len = strlen(answer);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "ACME00701: answering http-01 challenge for host %s",
                  r->hostname ? r->hostname : "(none)");
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rwrite(answer, (int)len, r);
    }
    return OK;
}

void acme_challenge_register_hooks(apr_pool_t *p)
{
    ap_hook_quick_handler(acme_challenge_handler, NULL, NULL, APR_HOOK_FIRST);
}
