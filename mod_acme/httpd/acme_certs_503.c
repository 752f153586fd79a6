/* The 503 of SSL vhosts that answer with the temporary certificate
 * (acme_certs.c hands it to mod_ssl) until their domain's certificate is
 * served: early, by the running children as soon as it is staged
 * (acme_certs_hot.c), or live after its restart. Every request on them but
 * a pending http-01 answer gets a short text saying what the vhost waits for
 * and until when (acme_status_waiting_text), never its content. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <http_vhost.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_key_type.h"
#include "acme_status.h"

#define RETRY_AFTER_SECONDS "30"

typedef struct {
    const char *name;           /* SNI, as the client sent it */
    server_rec *found;          /* first vhost of the address that has it */
} sni_vhost_t;

static int sni_vhost_match(void *baton, conn_rec *c, server_rec *s)
{
    sni_vhost_t *v = baton;

    (void)c;
    if (acme_check_server_has_name(s, v->name)) {
        v->found = s;
        return 1;
    }
    return 0;
}

/* The vhost whose certificate the handshake served for SNI name, found as
 * mod_ssl finds it (the first vhost of the connection's address with that
 * ServerName or ServerAlias), else the connection's base_server. */
static server_rec *sni_vhost(conn_rec *c, const char *name)
{
    sni_vhost_t v = { name, NULL };

    ap_vhost_iterate_given_conn(c, sni_vhost_match, &v);
    return v.found ? v.found : c->base_server;
}

/* The domain whose certificate the request's vhost awaits, NULL when it
 * serves a certificate or when the answer is mod_ssl's. A connection
 * without SNI got the certificate of its address's first vhost (the
 * connection's base_server): when that is the temporary one, its domain,
 * whatever vhost the Host chose. With SNI, the vhost SNI chose served the
 * handshake: a Host naming another vhost is mod_ssl's to judge (its 421
 * Misdirected Request when the two TLS set-ups differ), unless both are on
 * the temporary certificate, whose files they share, so mod_ssl would find
 * them alike and serve the waiting vhost's content. */
static const acme_domain_t *fallback_domain(request_rec *r)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    const acme_domain_t *d = acme_certs_on_fallback(rt, r->server);
    conn_rec *c = r->connection;
    server_rec *hs;
    const char *sni;

    if (!c->base_server || (!d && c->base_server == r->server)) {
        return d;           /* nothing waits, with or without SNI */
    }
    sni = ap_ssl_var_lookup(r->pool, r->server, c, r, "SSL_TLS_SNI");
    if (!sni || !*sni) {
        return d ? d : c->base_server != r->server ? acme_certs_on_fallback(rt, c->base_server)
                                                   : NULL;
    }
    /* a Host equal to the SNI chose the vhost SNI chose: no walk over the
     * address's vhosts on every request */
    if (!d || (r->hostname && !strcasecmp(r->hostname, sni))) {
        return d;
    }
    hs = sni_vhost(c, sni);
    return hs == r->server || acme_certs_on_fallback(rt, hs) ? d : NULL;
}

/* 1 when the certificate of d is served early and this connection got it:
 * with a second key type, a client whose ciphers cannot use it (TLS 1.2
 * ciphers for RSA keys alone and an EC certificate) got the temporary pair
 * of that other type (acme_certs_hot.c keeps it in its key slot). */
static int served_early_here(request_rec *r, const acme_domain_t *d)
{
    const char *key, *resumed, *cipher, *protocol;

    if (!acme_certs_hot_serving(acme_runtime_get(r->server), d->name)) {
        return 0;
    }
    /* A resumed session ran no certificate callback: the slots say nothing
     * of what its full handshake served. A TLS 1.2 cipher names the key
     * type (ECDSA or not); a TLS 1.3 one does not, and the client took the
     * certificate of its full handshake: lifted. */
    resumed = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_SESSION_RESUMED");
    if (resumed && !strcmp(resumed, "Resumed")) {
        cipher = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CIPHER");
        protocol = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_PROTOCOL");
        if (!cipher || !*cipher || (protocol && !strcmp(protocol, "TLSv1.3"))) {
            return 1;
        }
        return (strstr(cipher, "ECDSA") == NULL) == acme_key_type_is_rsa(d->key_type);
    }
    key = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_SERVER_A_KEY");
    return !key || !*key || (strcmp(key, "rsaEncryption") == 0) == acme_key_type_is_rsa(d->key_type);
}

/* The 503 of vhosts on the temporary certificate, with why and for how
 * long, until their certificate is served (hot, or live after a restart). */
static int certs_unavailable(request_rec *r)
{
    const acme_domain_t *d;
    const char *text;
    int retry;

    if (r->main || r->prev || !ap_ssl_conn_is_ssl(r->connection)) {
        return DECLINED;
    }
    /* pending http-01 tokens were answered before (acme_challenge_over_tls):
     * any other request gets the 503, challenge paths too */
    if (!(d = fallback_domain(r)) || served_early_here(r, d)) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "ACME00613: 503 for %s: waiting for the "
                  "certificate of %s", r->hostname ? r->hostname : "-", d->name);
    r->status = HTTP_SERVICE_UNAVAILABLE;
    text = acme_status_waiting_text(r, d, &retry);
    if (retry) {
        apr_table_setn(r->headers_out, "Retry-After", RETRY_AFTER_SECONDS);
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_rputs(text, r);
    return DONE;
}

static const char *const before_mod_ssl[] = { "mod_ssl.c", NULL };

void acme_certs_503_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_read_request(certs_unavailable, NULL, before_mod_ssl, APR_HOOK_MIDDLE);
}
