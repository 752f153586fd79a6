/* What acme_autossl.c did to the configuration, told to the administrator,
 * and the names it left out on purpose kept off TLS.
 *
 *  - configtest (the test_config hook, stderr) and each start or restart
 *    (post_config, the error log) list every host name of a <VirtualHost>
 *    that gets no certificate (AcmeAutoDomains skipped it, or its HTTPS twin
 *    leaves it out) with the reason, warn for each name of an SSL vhost that
 *    the vhost's certificate from mod_acme does not hold (a client asking
 *    for it would see a name mismatch), and warn for an 'except' name that
 *    no <VirtualHost> has (most likely a typo, which would exclude nothing);
 *  - a TLS client asking (SNI) for such a name, on an address where no SSL
 *    vhost serves it, is refused at the handshake with unrecognized_name
 *    (RFC 6066 §3) instead of being handed the first vhost's certificate,
 *    which does not hold the name (localhost, *.localhost and address
 *    literals excepted: health checks such as curl -k https://localhost/
 *    ask for them). mod_ssl itself always goes on with the
 *    address's first vhost; its init_server hook lets mod_acme set its own
 *    servername callback on each SSL context. mod_ssl's own callback there
 *    only repeats the vhost selection its ClientHello callback already made
 *    (OpenSSL >= 1.1.1), so nothing is lost. */
#include <string.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_vhost.h>
#include <ap_listen.h>
#include <apr_optional_hooks.h>
#include <openssl/ssl.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_autossl_int.h"

/* mod_ssl_openssl.h's optional hook, which Debian's apache2-dev does not ship:
 * called for every SSL-enabled server with its SSL_CTX, after mod_ssl set it up. */
typedef int acme_ssl_init_server_fn(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

/* s NULL: configtest, before any log is open (stderr, always shown). */
static void report(const acme_autossl_t *plan, server_rec *s)
{
    int startup = s ? 0 : APLOG_STARTUP;
    int i;

    for (i = 0; i < plan->unmatched->nelts; i++) {
        ap_log_error(APLOG_MARK, startup | APLOG_WARNING, 0, s, "ACME01408: %s: "
                     "AcmeAutoDomains on except %s: no <VirtualHost> has this name as its "
                     "ServerName or a ServerAlias, so it excludes nothing; check its spelling",
                     plan->auto_where, APR_ARRAY_IDX(plan->unmatched, i, const char *));
    }
    for (i = 0; i < plan->unlooped->nelts; i++) {
        ap_log_error(APLOG_MARK, startup | APLOG_NOTICE, 0, s, "ACME01410: %s: left out of "
                     "the HTTPS twin of its <VirtualHost>: it redirects to https on the "
                     "vhost's own name, which there would send every request to itself; it "
                     "still redirects http requests", APR_ARRAY_IDX(plan->unlooped, i,
                                                                   const char *));
    }
    for (i = 0; i < plan->uncovered->nelts; i++) {
        const acme_autossl_skip_t *u = APR_ARRAY_IDX(plan->uncovered, i,
                                                      const acme_autossl_skip_t *);
        ap_log_error(APLOG_MARK, startup | APLOG_WARNING, 0, s, "ACME01411: %s: %s is a name "
                     "of this SSL <VirtualHost>, but the certificate mod_acme gets for the "
                     "vhost (%s) does not hold it: %s. A client asking for %s is handed that "
                     "certificate and sees a name mismatch; %s", u->where, u->name, u->cert,
                     u->why, u->name, u->fix);
    }
    for (i = 0; i < plan->elsewhere->nelts; i++) {
        const acme_autossl_skip_t *e = APR_ARRAY_IDX(plan->elsewhere, i,
                                                      const acme_autossl_skip_t *);
        if (e->fix) {   /* that twin is not on every address of this vhost */
            ap_log_error(APLOG_MARK, startup | APLOG_WARNING, 0, s, "ACME01414: %s: %s is "
                         "left out of this <VirtualHost>'s HTTPS twin, as another twin serves "
                         "it: %s. There a client asking for %s over https is handed the "
                         "certificate of the address's first SSL <VirtualHost>, which does not "
                         "hold it (over http this <VirtualHost> answers it); %s", e->where,
                         e->name, e->why, e->name, e->fix);
            continue;
        }
        ap_log_error(APLOG_MARK, startup | APLOG_NOTICE, 0, s, "ACME01412: %s: %s is left out "
                     "of this <VirtualHost>'s HTTPS twin, and it does get a certificate: %s. "
                     "Over https that vhost answers every request for %s; over http, the "
                     "first <VirtualHost> of the address that has the name answers it, as "
                     "httpd does. To have one vhost answer it both ways, keep %s in one "
                     "<VirtualHost> only", e->where, e->name, e->why, e->name, e->name);
    }
    for (i = 0; i < plan->skipped->nelts; i++) {
        const acme_autossl_skip_t *k = APR_ARRAY_IDX(plan->skipped, i,
                                                      const acme_autossl_skip_t *);
        int refused = apr_hash_get(plan->refused, k->name, APR_HASH_KEY_STRING) != NULL;
        ap_log_error(APLOG_MARK, startup | APLOG_NOTICE, 0, s, "ACME01407: %s: %s gets no "
                     "certificate from mod_acme: %s. Over https it is served only by an SSL "
                     "<VirtualHost> of its own; without one, %s", k->where, k->name, k->why,
                     refused ? "a TLS handshake for it is refused"
                             : "the first SSL <VirtualHost> of the address answers it, as "
                               "httpd does (localhost and address literals are never refused: "
                               "health checks ask for them)");
    }
}

/* Does a Listen on port take connections for host (an address of a
 * <VirtualHost>, as written)? "*", "_default_" and names: any Listen on
 * port; an IP address: a Listen on it or on every address. */
static int listened_at(apr_pool_t *p, const char *host, int port)
{
    apr_sockaddr_t *want = NULL;
    ap_listen_rec *lr;
    const char *ip = host;
    unsigned char buf[sizeof(struct in6_addr)];

    if (host[0] == '[') {
        ip = apr_pstrmemdup(p, host + 1, strcspn(host + 1, "]"));
    }
    /* only an address literal: a name is not looked up here */
    if ((inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1)
        && apr_sockaddr_info_get(&want, ip, APR_UNSPEC, (apr_port_t)port, 0, p)
           != APR_SUCCESS) {
        want = NULL;
    }
    for (lr = ap_listeners; lr; lr = lr->next) {
        if (!lr->bind_addr || lr->bind_addr->port != port) {
            continue;
        }
        if (!want || apr_sockaddr_is_wildcard(lr->bind_addr)
            || apr_sockaddr_equal(lr->bind_addr, want)) {
            return 1;
        }
    }
    return 0;
}

/* Each twin on an address no Listen of the https port takes (a Listen on
 * another address of the port: without any, check_config's ACME00551
 * fails the start): unreachable there, though the vhost of the http port
 * answers on it. */
static void report_unlistened(apr_pool_t *p, const acme_autossl_t *plan, server_rec *s)
{
    int startup = s ? 0 : APLOG_STARTUP;
    int i, j, any = 0;
    ap_listen_rec *lr;

    for (lr = ap_listeners; lr; lr = lr->next) {
        any |= lr->bind_addr && lr->bind_addr->port == plan->https_port;
    }
    for (i = 0; any && i < plan->twins->nelts; i++) {
        const acme_twin_t *t = APR_ARRAY_IDX(plan->twins, i, const acme_twin_t *);
        apr_array_header_t *addrs = acme_autossl_tree_words(p, t->twin_addrs);
        const char *missing = NULL, *listen = NULL;

        for (j = 0; j < addrs->nelts; j++) {
            const char *a = APR_ARRAY_IDX(addrs, j, const char *);
            if (!listened_at(p, acme_autossl_tree_addr_host(p, a), plan->https_port)) {
                missing = missing ? apr_pstrcat(p, missing, " ", a, NULL) : a;
                listen = apr_pstrcat(p, listen ? listen : "", listen ? "' and 'Listen " : "",
                                     a, NULL);
            }
        }
        if (missing) {
            ap_log_error(APLOG_MARK, startup | APLOG_WARNING, 0, s, "ACME01415: %s: mod_acme "
                         "adds the HTTPS twin <VirtualHost %s> of <VirtualHost %s> (%s), but "
                         "no Listen takes connections at %s, so no client reaches it there "
                         "while this <VirtualHost> answers http there; add 'Listen %s'%s",
                         t->where, t->twin_addrs, t->addrs, t->names, missing, listen,
                         plan->https_listen ? apr_psprintf(p, " next to %s", plan->https_listen)
                                            : "");
        }
    }
}

static void autossl_test_config(apr_pool_t *pconf, server_rec *s)
{
    const acme_autossl_t *plan = acme_autossl_get(pconf);

    if (plan) {
        report(plan, NULL);
        report_unlistened(pconf, plan, NULL);
    }
}

static int autossl_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *base)
{
    const acme_autossl_t *plan = acme_autossl_get(pconf);
    int i;

    if (!plan) {
        return OK;
    }
    if (plan->auto_where) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, base, "ACME01404: AcmeAutoDomains (%s) added "
                     "an AcmeDomain to %d <VirtualHost>", plan->auto_where, plan->auto_added);
    }
    for (i = 0; i < plan->twins->nelts; i++) {
        const acme_twin_t *t = APR_ARRAY_IDX(plan->twins, i, const acme_twin_t *);
        if (t->automatic) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, base, "ACME01413: <VirtualHost %s> (%s) "
                         "is managed by AcmeAutoDomains (%s) and no SSL virtual host served "
                         "its names: mod_acme added its HTTPS twin <VirtualHost %s> with "
                         "SSLEngine on for %s. To leave a name out, add it to 'AcmeAutoDomains "
                         "on except ...'", t->addrs, t->where, plan->auto_where, t->twin_addrs,
                         t->names);
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, base, "ACME01405: <VirtualHost %s> (%s) "
                     "has AcmeDomain and no SSL virtual host served its names: mod_acme "
                     "added its HTTPS twin <VirtualHost %s> with SSLEngine on for %s",
                     t->addrs, t->where, t->twin_addrs, t->names);
    }
    /* A first start reads the configuration twice: report on the pass that
     * goes on to serve, so each warning comes once per start. */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        report(plan, base);
        report_unlistened(ptemp, plan, base);
    }
    return OK;
}

/* ---- the handshake --------------------------------------------------------- */

/* Does s serve name (its ServerName, a ServerAlias, a wildcard ServerAlias)? */
static int serves(void *baton, conn_rec *c, server_rec *s)
{
    (void)c;
    return acme_check_server_has_name(s, baton);
}

/* OpenSSL's servername callback: SSL_TLSEXT_ERR_OK when a vhost of the
 * connection's address serves the SNI name, SSL_TLSEXT_ERR_ALERT_FATAL with
 * unrecognized_name when none does and mod_acme left the name out on
 * purpose, else SSL_TLSEXT_ERR_NOACK (what mod_ssl's callback returns). */
static int refuse_left_out(SSL *ssl, int *al, void *arg)
{
    conn_rec *c = SSL_get_app_data(ssl);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const acme_autossl_t *plan;
    char *name;
    apr_size_t len;

    (void)arg;
    if (!c || !sni || !*sni) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    name = apr_pstrdup(c->pool, sni);
    ap_str_tolower(name);
    len = strlen(name);
    if (len > 1 && name[len - 1] == '.') {
        name[len - 1] = '\0';
    }
    if (ap_vhost_iterate_given_conn(c, serves, name)) {
        return SSL_TLSEXT_ERR_OK;
    }
    plan = acme_autossl_get(c->base_server->process->pconf);
    if (plan && plan->refused && apr_hash_get(plan->refused, name, APR_HASH_KEY_STRING)) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, "ACME01409: TLS handshake for %s refused "
                      "(unrecognized_name): mod_acme gets no certificate for it and no SSL "
                      "<VirtualHost> of this address serves it (the start log says why)", name);
        *al = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static int autossl_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    const acme_autossl_t *plan = acme_autossl_get(s->process->pconf);

    if (!is_proxy && ctx && plan && plan->refused && apr_hash_count(plan->refused)) {
        SSL_CTX_set_tlsext_servername_callback(ctx, refuse_left_out);
    }
    return OK;
}

void acme_autossl_report_register_hooks(apr_pool_t *p)
{
    static acme_ssl_init_server_fn *const init_server = autossl_init_server;

    ap_hook_test_config(autossl_test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(autossl_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* the hook mod_ssl_openssl.h declares as ssl:init_server */
    apr_optional_hook_add("init_server", (void (*)(void))init_server, NULL, NULL,
                          APR_HOOK_MIDDLE);
}
