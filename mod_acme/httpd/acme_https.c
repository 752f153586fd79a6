/* AcmeRequireHttps: http requests for a managed name are redirected to
 * https once that name's certificate is live in this generation (never
 * before: a redirect to a temporary self-signed certificate would lock
 * visitors out), never on the http-01 challenge path; "permanent" also
 * sends Strict-Transport-Security on https responses of managed names.
 *
 * Which server's AcmeRequireHttps applies: the one written in the vhost
 * that received the request, else the one written in the SSL vhost that
 * serves the name's certificate, else the server-level one [off]. So the
 * directive can sit next to AcmeDomain in the SSL vhost and still govern
 * the port-80 vhost that receives the http requests. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "acme_private.h"
#include "acme_config.h"

#define HTTPS_ANY_KEY          "mod_acme:require-https-any"
#define CHALLENGE_PREFIX       "/.well-known/acme-challenge/"
/* One year, the least the HSTS preload lists accept. No includeSubDomains:
 * names below a managed one may not be managed, or not be on https at all. */
#define HSTS_VALUE             "max-age=31536000"

/* Does any server ask for https? Decided once in the parent, so requests of
 * servers that never use the directive cost one pool lookup. */
static int https_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *base)
{
    acme_runtime_t *rt = acme_runtime_get(base);
    server_rec *s;

    for (s = base; rt && s; s = s->next) {
        if (acme_config_require_https_own(s) > ACME_HTTPS_OFF) {
            apr_pool_userdata_setn("", HTTPS_ANY_KEY, NULL, rt->pool);
            break;
        }
    }
    return OK;
}

/* The request's host without IPv6 brackets (httpd drops the port), or NULL. */
static const char *request_host(request_rec *r)
{
    const char *host = r->hostname;
    apr_size_t len = host ? strlen(host) : 0;

    if (!len) {
        return NULL;
    }
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        return apr_pstrmemdup(r->pool, host + 1, len - 2);
    }
    return host;
}

/* The mode for this request, and through *live the SSL vhost serving the
 * host's certificate (NULL: not managed or not live yet -> ACME_HTTPS_OFF). */
static acme_https_mode_e request_mode(request_rec *r, const char **host)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    void *any = NULL;
    server_rec *live;
    acme_https_mode_e mode;

    if (!rt || r->main || r->prev) {
        return ACME_HTTPS_OFF;
    }
    apr_pool_userdata_get(&any, HTTPS_ANY_KEY, rt->pool);
    if (!any || acme_config_require_https_own(r->server) == ACME_HTTPS_OFF
        || !(*host = request_host(r))) {
        return ACME_HTTPS_OFF;
    }
    if (!(live = acme_certs_live_server(rt, *host))) {
        return ACME_HTTPS_OFF;
    }
    if ((mode = acme_config_require_https_own(r->server)) == ACME_HTTPS_UNSET
        && (mode = acme_config_require_https_own(live)) == ACME_HTTPS_UNSET) {
        mode = acme_config_require_https_own(rt->base);
    }
    return mode == ACME_HTTPS_UNSET ? ACME_HTTPS_OFF : mode;
}

/* https://host[:port]/path?query. The public https port is 443; only a
 * client that addressed the local http port of an AcmePortMap by number
 * (no NAT in between) gets the local https port. */
static const char *https_location(request_rec *r, const char *host)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    int http_local = acme_config_port_http(rt->base), https_local = acme_config_port_https(rt->base);
    const char *port = "", *path = r->parsed_uri.path ? r->parsed_uri.path : "/";

    if (r->parsed_uri.port_str && r->parsed_uri.port == http_local && http_local != 80
        && https_local != 443) {
        port = apr_psprintf(r->pool, ":%d", https_local);
    }
    if (strchr(host, ':')) {
        host = apr_pstrcat(r->pool, "[", host, "]", NULL);
    }
    return apr_pstrcat(r->pool, "https://", host, port, path,
                       r->parsed_uri.query ? "?" : "",
                       r->parsed_uri.query ? r->parsed_uri.query : "", NULL);
}

/* http: before rewrites, aliases and authentication, after the challenge
 * responder; a quick handler's status keeps the connection alive. */
static int https_redirect(request_rec *r, int lookup_uri)
{
    const char *host = NULL, *location;
    acme_https_mode_e mode;

    if (lookup_uri || ap_ssl_conn_is_ssl(r->connection)) {
        return DECLINED;
    }
    if (r->parsed_uri.path
        && !strncmp(r->parsed_uri.path, CHALLENGE_PREFIX, sizeof(CHALLENGE_PREFIX) - 1)) {
        return DECLINED;
    }
    if ((mode = request_mode(r, &host)) == ACME_HTTPS_OFF) {
        return DECLINED;
    }
    location = https_location(r, host);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "ACME00728: redirecting http request for %s "
                  "to %s (AcmeRequireHttps %s)", host, location,
                  mode == ACME_HTTPS_PERMANENT ? "permanent" : "temporary");
    apr_table_setn(r->headers_out, "Location", location);
    return mode == ACME_HTTPS_PERMANENT ? HTTP_MOVED_PERMANENTLY : HTTP_MOVED_TEMPORARILY;
}

/* https: err_headers_out, so error pages and redirects carry it too. */
static int https_hsts(request_rec *r)
{
    const char *host = NULL;

    if (!ap_ssl_conn_is_ssl(r->connection)) {
        return DECLINED;
    }
    if (request_mode(r, &host) == ACME_HTTPS_PERMANENT) {
        apr_table_setn(r->err_headers_out, "Strict-Transport-Security", HSTS_VALUE);
    }
    return DECLINED;
}

void acme_https_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(https_post_config, NULL, NULL, APR_HOOK_LAST);
    /* after the challenge responder (registered earlier, same order); the
     * challenge path is excluded above in any case */
    ap_hook_quick_handler(https_redirect, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_post_read_request(https_hsts, NULL, NULL, APR_HOOK_MIDDLE);
}
