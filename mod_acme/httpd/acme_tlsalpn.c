/* tls-alpn-01 (RFC 8737): the challenge certificates in shared memory, and
 * the handshake that serves them. A CA connects with SNI = the name and ALPN
 * "acme-tls/1"; mod_ssl selects protocols through ap_select_protocol, which
 * only picks protocols the vhost allows (Protocols) and someone proposes.
 * So post_config allows "acme-tls/1" on every server, this file proposes it
 * only for names with a pending challenge (others are refused the protocol),
 * switches to it, and hands mod_ssl the challenge certificate through the
 * ssl_answer_challenge hook. Nothing but the handshake is served on it. */
#include <string.h>
#include <arpa/inet.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "acme_private.h"
#include "acme_tlsalpn.h"
#include "acme_shm_slot.h"
#include "acme_names.h"

#define TLSALPN_LIFETIME    apr_time_from_sec(3600)
#define TLSALPN_POOL_KEY    "mod_acme.tlsalpn"
#define TLSALPN_SNI_MAX     ACME_MAX_NAME_LEN

typedef struct tlsalpn_slot_t {
    volatile apr_uint32_t seq;        /* odd while being written */
    apr_time_t expires;               /* 0: free */
    char name[TLSALPN_SNI_MAX + 1];   /* SNI name, lowercase */
    char cert[ACME_TLSALPN_CERT_MAX + 1];
    char key[ACME_TLSALPN_KEY_MAX + 1];
} tlsalpn_slot_t;

struct acme_tlsalpn_t {
    apr_shm_t *shm;
    tlsalpn_slot_t *slots;
    int nslots;
};

/* ---- the table ------------------------------------------------------------ */

apr_status_t acme_tlsalpn_create(acme_tlsalpn_t **table, apr_pool_t *home)
{
    apr_size_t size = sizeof(tlsalpn_slot_t) * ACME_TLSALPN_SLOTS;
    acme_tlsalpn_t *t = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&t, TLSALPN_POOL_KEY, home);
    if (t && t->shm) {
        *table = t;
        return APR_SUCCESS;
    }
    t = apr_pcalloc(home, sizeof(*t));
    if ((rv = apr_shm_create(&t->shm, size, NULL, home)) != APR_SUCCESS) {
        *table = NULL;
        return rv;
    }
    t->slots = apr_shm_baseaddr_get(t->shm);
    t->nslots = ACME_TLSALPN_SLOTS;
    memset(t->slots, 0, size);
    apr_pool_userdata_set(t, TLSALPN_POOL_KEY, NULL, home);
    *table = t;
    return APR_SUCCESS;
}

/* Into buf (TLSALPN_SNI_MAX + 1 bytes); 0 if identifier is unusable. */
static int sni_name(char *buf, const char *identifier)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char a[16];
    char *c = buf;
    int i;

    if (!identifier || !*identifier || strlen(identifier) > TLSALPN_SNI_MAX) {
        return 0;
    }
    if (inet_pton(AF_INET, identifier, a) == 1) {
        apr_snprintf(buf, TLSALPN_SNI_MAX + 1, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return 1;
    }
    if (inet_pton(AF_INET6, identifier, a) == 1) {
        for (i = 15; i >= 0; --i) {
            *c++ = hex[a[i] & 0x0f];
            *c++ = '.';
            *c++ = hex[a[i] >> 4];
            *c++ = '.';
        }
        memcpy(c, "ip6.arpa", sizeof("ip6.arpa"));
        return 1;
    }
    apr_cpystrn(buf, identifier, TLSALPN_SNI_MAX + 1);
    ap_str_tolower(buf);
    return 1;
}

static int slot_holds(const tlsalpn_slot_t *slot, const char *name, apr_time_t now)
{
    return slot->expires > now && !strncmp(slot->name, name, sizeof(slot->name));
}

static void slot_fill(tlsalpn_slot_t *slot, const char *name, const char *cert_pem,
                      const char *key_pem, apr_time_t now)
{
    memset(slot->name, 0, sizeof(slot->name));
    memset(slot->cert, 0, sizeof(slot->cert));
    memset(slot->key, 0, sizeof(slot->key));
    apr_cpystrn(slot->name, name, sizeof(slot->name));
    apr_cpystrn(slot->cert, cert_pem, sizeof(slot->cert));
    apr_cpystrn(slot->key, key_pem, sizeof(slot->key));
    slot->expires = now + TLSALPN_LIFETIME;
}

/* Writes into the slot that holds name already, or else into a free or
 * expired one. Returns 0 when none fits. */
static int slot_write(acme_tlsalpn_t *table, const char *name, const char *cert_pem,
                      const char *key_pem, apr_time_t now, int reuse_only)
{
    int i;

    for (i = 0; i < table->nslots; ++i) {
        tlsalpn_slot_t *slot = &table->slots[i];
        apr_uint32_t held;
        int fits;

        if (!acme_slot_claim(&slot->seq, &held)) {
            continue;
        }
        fits = reuse_only ? slot_holds(slot, name, now) : slot->expires <= now;
        if (fits) {
            slot_fill(slot, name, cert_pem, key_pem, now);
        }
        acme_slot_release(&slot->seq, held);
        if (fits) {
            return 1;
        }
    }
    return 0;
}

apr_status_t acme_tlsalpn_publish(acme_tlsalpn_t *table, const char *identifier,
                                  const char *cert_pem, const char *key_pem)
{
    apr_time_t now = apr_time_now();
    char name[TLSALPN_SNI_MAX + 1];

    if (!table || !table->slots) {
        return APR_EINIT;
    }
    if (!sni_name(name, identifier) || !cert_pem || !key_pem
        || strlen(cert_pem) > ACME_TLSALPN_CERT_MAX || strlen(key_pem) > ACME_TLSALPN_KEY_MAX) {
        return APR_EINVAL;
    }
    if (slot_write(table, name, cert_pem, key_pem, now, 1)
        || slot_write(table, name, cert_pem, key_pem, now, 0)) {
        return APR_SUCCESS;
    }
    return APR_ENOSPC;
}

void acme_tlsalpn_withdraw(acme_tlsalpn_t *table, const char *identifier)
{
    apr_time_t now = apr_time_now();
    char name[TLSALPN_SNI_MAX + 1];
    int i;

    if (!table || !table->slots || !sni_name(name, identifier)) {
        return;
    }
    for (i = 0; i < table->nslots; ++i) {
        tlsalpn_slot_t *slot = &table->slots[i];
        apr_uint32_t held;

        if (!slot_holds(slot, name, now) || !acme_slot_claim(&slot->seq, &held)) {
            continue;
        }
        if (slot_holds(slot, name, now)) {
            slot->expires = 0;
            memset(slot->key, 0, sizeof(slot->key));
            memset(slot->cert, 0, sizeof(slot->cert));
            memset(slot->name, 0, sizeof(slot->name));
        }
        acme_slot_release(&slot->seq, held);
    }
}

/* The copies a reader takes of one slot. */
typedef struct slot_copy_t {
    char cert[ACME_TLSALPN_CERT_MAX + 1];
    char key[ACME_TLSALPN_KEY_MAX + 1];
} slot_copy_t;

/* One consistent look at a slot: 1 found (copied when copy is not NULL),
 * 0 not this slot, -1 a writer kept getting in the way. */
static int slot_read(const tlsalpn_slot_t *slot, const char *name, apr_time_t now,
                     slot_copy_t *copy)
{
    int tries;

    for (tries = 0; tries < ACME_SHM_READ_TRIES; ++tries) {
        int busy, found;
        apr_uint32_t before = acme_slot_read_begin(&slot->seq, &busy);

        if (busy) {
            continue;
        }
        found = slot_holds(slot, name, now);
        if (found && copy) {
            memcpy(copy->cert, slot->cert, sizeof(copy->cert));
            memcpy(copy->key, slot->key, sizeof(copy->key));
            copy->cert[sizeof(copy->cert) - 1] = '\0';
            copy->key[sizeof(copy->key) - 1] = '\0';
        }
        if (acme_slot_read_ok(&slot->seq, before)) {
            return found;
        }
    }
    return -1;
}

apr_status_t acme_tlsalpn_lookup(acme_tlsalpn_t *table, const char *server_name, apr_pool_t *p,
                                 const char **cert_pem, const char **key_pem)
{
    apr_time_t now = apr_time_now();
    slot_copy_t *copy = NULL;
    char *name;
    int i;

    if (!table || !table->slots || !server_name || !*server_name
        || strlen(server_name) > TLSALPN_SNI_MAX) {
        return APR_ENOENT;
    }
    name = apr_pstrdup(p, server_name);
    ap_str_tolower(name);
    if (cert_pem && key_pem) {
        copy = apr_palloc(p, sizeof(*copy));
    }
    for (i = 0; i < table->nslots; ++i) {
        if (slot_read(&table->slots[i], name, now, copy) != 1) {
            continue;
        }
        if (copy) {
            if (!copy->cert[0] || !copy->key[0]) {
                return APR_ENOENT;
            }
            *cert_pem = copy->cert;
            *key_pem = copy->key;
        }
        return APR_SUCCESS;
    }
    return APR_ENOENT;
}

/* ---- the handshake ---------------------------------------------------------- */

/* Marks, in the connection's config vector, a connection switched to acme-tls/1. */
static const char conn_switched[] = ACME_TLSALPN_PROTOCOL;

static int is_acme_tls(const conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &acme_module) == conn_switched;
}

static acme_tlsalpn_t *conn_table(conn_rec *c)
{
    acme_runtime_t *rt = acme_runtime_get(c->base_server);

    return rt ? rt->tlsalpn : NULL;
}

/* Proposed only for a name with a pending challenge: for any other name the
 * client is refused the protocol instead of getting a certificate it did not
 * ask for. */
static int tlsalpn_propose(conn_rec *c, request_rec *r, server_rec *s,
                           const apr_array_header_t *offers, apr_array_header_t *proposals)
{
    acme_tlsalpn_t *table;
    const char *sni;

    if (r || !offers || !ap_array_str_contains(offers, ACME_TLSALPN_PROTOCOL)
        || !ap_ssl_conn_is_ssl(c) || !(table = conn_table(c))) {
        return DECLINED;
    }
    sni = ap_ssl_var_lookup(c->pool, s ? s : c->base_server, c, NULL, "SSL_TLS_SNI");
    if (!sni || !*sni || acme_tlsalpn_lookup(table, sni, c->pool, NULL, NULL) != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, "ACME00721: %s offered for %s, but no "
                      "tls-alpn-01 challenge is pending for it: not proposed",
                      ACME_TLSALPN_PROTOCOL, sni && *sni ? sni : "(no SNI)");
        return DECLINED;
    }
    APR_ARRAY_PUSH(proposals, const char *) = ACME_TLSALPN_PROTOCOL;
    return OK;
}

static int tlsalpn_switch(conn_rec *c, request_rec *r, server_rec *s, const char *protocol)
{
    if (r || strcmp(protocol, ACME_TLSALPN_PROTOCOL) || !ap_ssl_conn_is_ssl(c)) {
        return DECLINED;
    }
    ap_set_module_config(c->conn_config, &acme_module, (void *)conn_switched);
    c->keepalive = AP_CONN_CLOSE;
    return OK;
}

static const char *tlsalpn_protocol_get(const conn_rec *c)
{
    return is_acme_tls(c) ? ACME_TLSALPN_PROTOCOL : NULL;
}

static int tlsalpn_answer(conn_rec *c, const char *server_name, const char **pcert_pem,
                          const char **pkey_pem)
{
    acme_tlsalpn_t *table;

    if (!server_name || !is_acme_tls(c) || !(table = conn_table(c))) {
        return DECLINED;
    }
    if (acme_tlsalpn_lookup(table, server_name, c->pool, pcert_pem, pkey_pem) != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, "ACME00722: %s handshake for %s, but its "
                      "tls-alpn-01 challenge is no longer pending", ACME_TLSALPN_PROTOCOL,
                      server_name);
        return DECLINED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, "ACME00723: answering tls-alpn-01 for %s",
                  server_name);
    return OK;
}

/* RFC 8737 §3: after the handshake the client closes; nothing is served. */
static int tlsalpn_no_requests(request_rec *r)
{
    if (!is_acme_tls(r->connection)) {
        return DECLINED;
    }
    r->connection->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "ACME00724: request on an %s connection "
                  "refused", ACME_TLSALPN_PROTOCOL);
    return HTTP_MISDIRECTED_REQUEST;
}

/* ---- post_config: allow acme-tls/1 ------------------------------------------- */

static int tlsalpn_in_use(const acme_runtime_t *rt)
{
    int i;

    for (i = 0; rt->domains && i < rt->domains->nelts; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        if (d->challenges && ap_array_str_contains(d->challenges, "tls-alpn-01")) {
            return 1;
        }
    }
    return 0;
}

/* Appended last, so it never outranks a protocol the administrator listed
 * (nor shows in Upgrade headers). Without Protocols httpd allows http/1.1
 * alone: that stays. Vhosts may share the array: each gets its own copy. */
static void protocols_allow(server_rec *s, apr_pool_t *p)
{
    core_server_config *core = ap_get_core_module_config(s->module_config);
    apr_array_header_t *protocols;

    if (!core || ap_array_str_contains(core->protocols, ACME_TLSALPN_PROTOCOL)) {
        return;
    }
    protocols = core->protocols ? apr_array_copy(p, core->protocols)
                                : apr_array_make(p, 2, sizeof(const char *));
    if (protocols->nelts == 0) {
        APR_ARRAY_PUSH(protocols, const char *) = AP_PROTOCOL_HTTP1;
    }
    APR_ARRAY_PUSH(protocols, const char *) = ACME_TLSALPN_PROTOCOL;
    core->protocols = protocols;
}

/* Every server, not only the managed vhosts: a CA's SNI name that matches
 * no vhost reaches the default vhost of the address. */
static int tlsalpn_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *base)
{
    acme_runtime_t *rt = acme_runtime_get(base);
    server_rec *s;

    if (!rt || !tlsalpn_in_use(rt)) {
        return OK;
    }
    if (!rt->tlsalpn) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, base, "ACME00725: no shared memory for "
                     "tls-alpn-01 answers: that challenge cannot be answered (check shared "
                     "memory limits)");
        return OK;
    }
    for (s = base; s; s = s->next) {
        protocols_allow(s, pconf);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base, "ACME00726: protocol %s allowed for "
                 "tls-alpn-01 challenges", ACME_TLSALPN_PROTOCOL);
    return OK;
}

void acme_tlsalpn_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(tlsalpn_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_protocol_propose(tlsalpn_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(tlsalpn_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_get(tlsalpn_protocol_get, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(tlsalpn_answer, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(tlsalpn_no_requests, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
