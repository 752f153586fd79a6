/* http-01: the responder that serves /.well-known/acme-challenge/<token>
 * before any other module sees the request, from the answer table in shared
 * memory (acme_answers.h: written by the watchdog child, read by every child
 * without locks), and the sink through which the core's driver publishes
 * the answers of both http-01 and tls-alpn-01 (acme_tlsalpn.c). */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_challenge.h"
#include "acme_answers.h"
#include "acme_tlsalpn.h"
#include "acme_name.h"
#include "acme_cluster_node.h"

#define ACME_CHALLENGE_PREFIX      "/.well-known/acme-challenge/"

static apr_status_t sink_publish(void *baton, const char *token, const char *key_authorization)
{
    if (!baton) {
        return APR_EINIT;
    }
    if (!acme_name_token_is_valid(token) || !key_authorization
        || strlen(key_authorization) > ACME_MAX_KEYAUTH_LEN) {
        return APR_EINVAL;
    }
    return acme_answers_publish(baton, ACME_ANSWER_HTTP01, token, key_authorization,
                                strlen(key_authorization));
}

static void sink_withdraw(void *baton, const char *token)
{
    acme_answers_withdraw(baton, ACME_ANSWER_HTTP01, token);
}

/* One child's table: its driver serves one owner per name already
 * (acme_job_answer.c), so the owner is not kept here. */
static apr_status_t sink_publish_tls_alpn(void *baton, const char *identifier,
                                          const char *owner, const char *cert_pem,
                                          const char *key_pem)
{
    return acme_tlsalpn_publish(baton, identifier, cert_pem, key_pem);
}

static void sink_withdraw_tls_alpn(void *baton, const char *identifier, const char *owner)
{
    acme_tlsalpn_withdraw(baton, identifier);
}

/* The parent's hold before its automatic restart (acme_activation_hold_set),
 * for this process's generation. */
static apr_time_t sink_held_until(void *hold_baton, apr_time_t now)
{
    return acme_answers_held(hold_baton, (apr_uint32_t)ap_state_query(AP_SQ_CONFIG_GEN), now);
}

void acme_challenge_sink(acme_answers_t *answers, acme_challenge_sink_t *sink)
{
    memset(sink, 0, sizeof(*sink));
    sink->publish = sink_publish;
    sink->withdraw = sink_withdraw;
    if (answers) {
        sink->publish_tls_alpn = sink_publish_tls_alpn;
        sink->withdraw_tls_alpn = sink_withdraw_tls_alpn;
        sink->held_until = sink_held_until;
        sink->hold_baton = answers;
    }
    sink->baton = answers;
}

/* Unknown tokens are ours to refuse only for the names we manage (or a
 * request without Host): other hosts may be served by another ACME client's
 * files, which the rest of httpd then handles as usual. */
static int host_is_managed(const acme_runtime_t *rt, apr_pool_t *p, const char *host)
{
    apr_size_t len = host ? strlen(host) : 0;

    if (!host || !*host || !rt->domains) {
        return 1;
    }
    /* An IPv6 Host as written in a URL: [2001:db8::1] (httpd drops the port). */
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        host = apr_pstrmemdup(p, host + 1, len - 2);
    }
    /* An index, not a walk over every domain: this answers every request
     * for an unknown token, so its cost must not grow with the domains. */
    return acme_vhost_map_domain_of(rt, host) != NULL;
}

/* Another cluster node's answer (acme_cluster_node.c), asked for only for
 * the names we manage, so a stranger's random tokens do not reach Redis. */
static int cluster_answer(const acme_runtime_t *rt, request_rec *r, const char *token,
                          char *answer, apr_size_t size)
{
    if (!rt->cluster || !r->hostname || !host_is_managed(rt, r->pool, r->hostname)) {
        return 0;
    }
    return acme_cluster_node_lookup_http(rt->cluster, r, token, answer, size) == APR_SUCCESS;
}

/* The pending answer for a GET of /.well-known/acme-challenge/TOKEN into
 * answer (NUL-terminated); DECLINED when r is no such request, HTTP_NOT_FOUND
 * when the token is not pending, OK when answer holds the key authorization. */
static int challenge_answer(request_rec *r, char *answer, apr_size_t size, acme_runtime_t **prt)
{
    const char *path = r->parsed_uri.path;
    const char *token;
    acme_runtime_t *rt;

    if (!path || strncmp(path, ACME_CHALLENGE_PREFIX, sizeof(ACME_CHALLENGE_PREFIX) - 1)
        || r->method_number != M_GET) {
        return DECLINED;
    }
    rt = acme_runtime_get(r->server);
    if (!rt || !rt->challenges) {
        return DECLINED;
    }
    *prt = rt;
    token = path + sizeof(ACME_CHALLENGE_PREFIX) - 1;
    if (!acme_name_token_is_valid(token)
        || ((acme_answers_lookup(rt->challenges, ACME_ANSWER_HTTP01, token, answer, size,
                                 NULL) != APR_SUCCESS || !answer[0])
            && !cluster_answer(rt, r, token, answer, size))) {
        return HTTP_NOT_FOUND;
    }
    return OK;
}

static void challenge_write(request_rec *r, const char *answer)
{
    apr_size_t len = strlen(answer);

    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rwrite(answer, (int)len, r);
    }
}

/* Runs before translation, rewrites, redirects and authentication, on every
 * vhost. Returning OK (not DONE) keeps the connection alive. */
static int acme_challenge_handler(request_rec *r, int lookup_uri)
{
    acme_runtime_t *rt = NULL;
    char answer[ACME_MAX_KEYAUTH_LEN + 1];
    int rv;

    if (lookup_uri) {
        return DECLINED;
    }
    rv = challenge_answer(r, answer, sizeof(answer), &rt);
    if (rv == DECLINED) {
        return DECLINED;
    }
    if (rv != OK) {
        if (!host_is_managed(rt, r->pool, r->hostname)) {
            return DECLINED;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "ACME00700: no pending http-01 challenge for %s", r->parsed_uri.path);
        return HTTP_NOT_FOUND;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "ACME00701: answering http-01 challenge for host %s",
                  r->hostname ? r->hostname : "(none)");
    challenge_write(r, answer);
    acme_counters_answer(rt->ctx.counters, "http-01");
    return OK;
}

/* An http-01 fetch that arrives over TLS (a front end redirecting port 80 to
 * https; RFC 8555 section 8.3 lets the CA follow it) on a vhost still on the
 * fallback certificate: acme_certs.c's post_read_request refuses every
 * request there with 503 before any handler runs, so pending tokens are
 * answered here, before it. Everything else (unknown tokens,
 * other paths) goes on to mod_ssl and the handlers as before. DONE ends the
 * request; httpd then closes the connection, which a validator does anyway. */
static int acme_challenge_over_tls(request_rec *r)
{
    acme_runtime_t *rt = NULL;
    char answer[ACME_MAX_KEYAUTH_LEN + 1];

    if (r->main || r->prev || !ap_ssl_conn_is_ssl(r->connection)
        || challenge_answer(r, answer, sizeof(answer), &rt) != OK) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "ACME00732: answering http-01 challenge over TLS for host %s",
                  r->hostname ? r->hostname : "(none)");
    challenge_write(r, answer);
    return DONE;
}

static const char *const before_mod_ssl[] = { "mod_ssl.c", NULL };

void acme_challenge_register_hooks(apr_pool_t *p)
{
    ap_hook_quick_handler(acme_challenge_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_post_read_request(acme_challenge_over_tls, NULL, before_mod_ssl,
                              APR_HOOK_REALLY_FIRST);
}
