/* tls-alpn-01 (RFC 8737): the challenge certificates in the answer table
 * (acme_answers.h), keyed by SNI name, and the handshake that serves them.
 * A CA connects with SNI = the name and ALPN "acme-tls/1"; mod_ssl selects
 * protocols through ap_select_protocol, which only picks protocols the vhost
 * allows (Protocols) and someone proposes. So post_config allows
 * "acme-tls/1" on every server, this file proposes it only for names with a
 * pending challenge (others are refused the protocol), switches to it, and
 * hands mod_ssl the challenge certificate through the ssl_answer_challenge
 * hook. Nothing but the handshake is served on it.
 *
 * The answer's key type follows what the handshake allows: the hook hands
 * mod_ssl one pair (EC P-256), which mod_ssl puts in its key slot; a domain
 * of an RSA key type also has an RSA-2048 pair, which this file puts in the
 * RSA slot of the connection (its SSL, from mod_ssl's pre_handshake hook)
 * after clearing the slots, so that the vhost's own certificates (temporary
 * or issued) cannot be picked instead and OpenSSL picks the answer the
 * ciphers and signature algorithms allow (an RSA-only TLS 1.2 cipher: RSA). */
#include <string.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <apr_optional_hooks.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "acme_private.h"
#include "acme_tlsalpn.h"
#include "acme_answers.h"
#include "acme_name.h"
#include "acme_cluster_node.h"

#define TLSALPN_SNI_MAX     ACME_MAX_NAME_LEN
#define TLSALPN_SSL_KEY     "mod_acme.tlsalpn.ssl"
#define PEM_BEGIN           "-----BEGIN "

/* mod_ssl_openssl.h's optional hook (acme_autossl_report.c says why it is
 * declared here): every SSL connection, before its handshake. */
typedef int acme_ssl_pre_handshake_fn(conn_rec *c, SSL *ssl, int is_proxy);

/* Some domain answers tls-alpn-01 (set in post_config, read-only after). */
static int tlsalpn_used;

/* The value of an answer: the certificate's PEM, a NUL, the key's PEM. */
apr_status_t acme_tlsalpn_publish(acme_answers_t *table, const char *identifier,
                                  const char *cert_pem, const char *key_pem)
{
    char name[TLSALPN_SNI_MAX + 1];
    apr_size_t cert_len, key_len;
    char value[ACME_TLSALPN_CERT_MAX + ACME_TLSALPN_KEY_MAX + 2];

    if (!table) {
        return APR_EINIT;
    }
    if (!acme_name_sni(name, identifier) || !cert_pem || !key_pem
        || (cert_len = strlen(cert_pem)) > ACME_TLSALPN_CERT_MAX
        || (key_len = strlen(key_pem)) > ACME_TLSALPN_KEY_MAX) {
        return APR_EINVAL;
    }
    memcpy(value, cert_pem, cert_len + 1);
    memcpy(value + cert_len + 1, key_pem, key_len + 1);
    return acme_answers_publish(table, ACME_ANSWER_TLSALPN01, name, value,
                                cert_len + 1 + key_len);
}

void acme_tlsalpn_withdraw(acme_answers_t *table, const char *identifier)
{
    char name[TLSALPN_SNI_MAX + 1];

    if (table && acme_name_sni(name, identifier)) {
        acme_answers_withdraw(table, ACME_ANSWER_TLSALPN01, name);
    }
}

apr_status_t acme_tlsalpn_lookup(acme_answers_t *table, const char *server_name, apr_pool_t *p,
                                 const char **cert_pem, const char **key_pem)
{
    apr_size_t len = 0, cert_len;
    char *name, *value;
    apr_status_t rv;

    if (!table || !server_name || !*server_name || strlen(server_name) > TLSALPN_SNI_MAX) {
        return APR_ENOENT;
    }
    name = apr_pstrdup(p, server_name);
    ap_str_tolower(name);
    if (!cert_pem || !key_pem) {
        return acme_answers_lookup(table, ACME_ANSWER_TLSALPN01, name, NULL, 0, NULL);
    }
    value = apr_palloc(p, ACME_ANSWER_VALUE_MAX + 1);
    rv = acme_answers_lookup(table, ACME_ANSWER_TLSALPN01, name, value,
                             ACME_ANSWER_VALUE_MAX + 1, &len);
    if (rv != APR_SUCCESS) {
        return APR_ENOENT;
    }
    cert_len = strnlen(value, len);
    if (cert_len == 0 || cert_len + 1 >= len) {
        return APR_ENOENT;
    }
    *cert_pem = value;
    *key_pem = value + cert_len + 1;
    return APR_SUCCESS;
}

/* ---- the handshake ---------------------------------------------------------- */

/* Marks, in the connection's config vector, a connection switched to acme-tls/1. */
static const char conn_switched[] = ACME_TLSALPN_PROTOCOL;

static int is_acme_tls(const conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &acme_module) == conn_switched;
}

static acme_answers_t *conn_table(conn_rec *c)
{
    acme_runtime_t *rt = acme_runtime_get(c->base_server);

    return rt ? rt->challenges : NULL;
}

/* This node's answer, else (AcmeCluster) another node's from Redis. */
static apr_status_t conn_lookup(conn_rec *c, acme_answers_t *table, const char *sni,
                                const char **cert_pem, const char **key_pem)
{
    acme_runtime_t *rt = acme_runtime_get(c->base_server);

    if (acme_tlsalpn_lookup(table, sni, c->pool, cert_pem, key_pem) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (!rt || !rt->cluster) {
        return APR_ENOENT;
    }
    return acme_cluster_node_lookup_tlsalpn(rt->cluster, c, sni, cert_pem, key_pem);
}

/* Proposed only for a name with a pending challenge: for any other name the
 * client is refused the protocol instead of getting a certificate it did not
 * ask for. */
static int tlsalpn_propose(conn_rec *c, request_rec *r, server_rec *s,
                           const apr_array_header_t *offers, apr_array_header_t *proposals)
{
    acme_answers_t *table;
    const char *sni;

    if (r || !offers || !ap_array_str_contains(offers, ACME_TLSALPN_PROTOCOL)
        || !ap_ssl_conn_is_ssl(c) || !(table = conn_table(c))) {
        return DECLINED;
    }
    sni = ap_ssl_var_lookup(c->pool, s ? s : c->base_server, c, NULL, "SSL_TLS_SNI");
    if (!sni || !*sni || conn_lookup(c, table, sni, NULL, NULL) != APR_SUCCESS) {
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

/* The part of pem from its second PEM block on (NUL-terminated, in pem's
 * memory), NULL when it holds one block. */
static const char *second_block(const char *pem)
{
    const char *first = strstr(pem, PEM_BEGIN);

    return first ? strstr(first + 1, PEM_BEGIN) : NULL;
}

/* The RSA pair of the answer, from PEM: 1 with both set (the caller frees
 * them), 0 with neither. */
static int read_pair(const char *cert_pem, const char *key_pem, X509 **cert, EVP_PKEY **key)
{
    BIO *bio = BIO_new_mem_buf(cert_pem, -1);

    *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_pem, -1);
    *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (*cert && *key) {
        return 1;
    }
    X509_free(*cert);
    EVP_PKEY_free(*key);
    return 0;
}

/* The connection's key slots hold the answer alone: cleared (the vhost's own
 * certificates go from this connection only), the RSA pair set when there is
 * one; *cert_pem and *key_pem cut to the first (EC) pair, which mod_ssl sets
 * after this. OpenSSL then picks the pair the handshake allows. An RSA pair
 * OpenSSL refuses (a security level above RSA-2048's) leaves the EC one. */
static void answer_slots(conn_rec *c, const char **cert_pem, const char **key_pem)
{
    const char *rsa_cert = second_block(*cert_pem), *rsa_key = second_block(*key_pem);
    void *ssl = NULL;
    X509 *cert;
    EVP_PKEY *key;

    apr_pool_userdata_get(&ssl, TLSALPN_SSL_KEY, c->pool);
    if (rsa_cert && rsa_key) {
        *cert_pem = apr_pstrmemdup(c->pool, *cert_pem, (apr_size_t)(rsa_cert - *cert_pem));
        *key_pem = apr_pstrmemdup(c->pool, *key_pem, (apr_size_t)(rsa_key - *key_pem));
    }
    if (!ssl) {
        return;
    }
    ERR_set_mark();   /* mod_ssl reads the error queue after SSL_accept: kept clean */
    SSL_certs_clear(ssl);
    if (rsa_cert && rsa_key && read_pair(rsa_cert, rsa_key, &cert, &key)) {
        if (SSL_use_cert_and_key(ssl, cert, key, NULL, 1) != 1) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, "ACME00783: the RSA tls-alpn-01 "
                          "answer is refused on this connection (the vhost's security level "
                          "asks for more than RSA-2048): the EC answer alone is offered");
        }
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    ERR_pop_to_mark();
}

/* Keeps the connection's SSL for answer_slots (only when tls-alpn-01 is in
 * use: nothing is kept otherwise). */
static int tlsalpn_pre_handshake(conn_rec *c, SSL *ssl, int is_proxy)
{
    if (tlsalpn_used && !is_proxy && ssl) {
        apr_pool_userdata_setn(ssl, TLSALPN_SSL_KEY, NULL, c->pool);
    }
    return OK;
}

static int tlsalpn_answer(conn_rec *c, const char *server_name, const char **pcert_pem,
                          const char **pkey_pem)
{
    acme_answers_t *table;

    if (!server_name || !is_acme_tls(c) || !(table = conn_table(c))) {
        return DECLINED;
    }
    if (conn_lookup(c, table, server_name, pcert_pem, pkey_pem) != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, "ACME00722: %s handshake for %s, but its "
                      "tls-alpn-01 challenge is no longer pending", ACME_TLSALPN_PROTOCOL,
                      server_name);
        return DECLINED;
    }
    answer_slots(c, pcert_pem, pkey_pem);
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, "ACME00723: answering tls-alpn-01 for %s",
                  server_name);
    if (acme_runtime_get(c->base_server)) {
        acme_counters_answer(acme_runtime_get(c->base_server)->ctx.counters, "tls-alpn-01");
    }
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

    tlsalpn_used = 0;
    if (!rt || !tlsalpn_in_use(rt)) {
        return OK;
    }
    if (!rt->challenges) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, base, "ACME00725: no shared memory for "
                     "tls-alpn-01 answers: that challenge cannot be answered (check shared "
                     "memory limits)");
        return OK;
    }
    for (s = base; s; s = s->next) {
        protocols_allow(s, pconf);
    }
    tlsalpn_used = 1;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base, "ACME00726: protocol %s allowed for "
                 "tls-alpn-01 challenges", ACME_TLSALPN_PROTOCOL);
    return OK;
}

void acme_tlsalpn_register_hooks(apr_pool_t *p)
{
    static acme_ssl_pre_handshake_fn *const pre_handshake = tlsalpn_pre_handshake;

    (void)p;
    apr_optional_hook_add("pre_handshake", (void (*)(void))pre_handshake, NULL, NULL,
                          APR_HOOK_MIDDLE);
    ap_hook_post_config(tlsalpn_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_protocol_propose(tlsalpn_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(tlsalpn_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_get(tlsalpn_protocol_get, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(tlsalpn_answer, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(tlsalpn_no_requests, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
