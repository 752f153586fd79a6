/* The "acme-status" handler: what every managed domain looks like now, as
 * HTML for people and JSON for scripts. Built from the configuration, the
 * driver's status/<name>.json and the live certificate. It never shows keys,
 * account URLs or file paths. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_cert.h"
#include "acme_json.h"
#include "acme_store_account.h"
#include "acme_store_paths.h"
#include "acme_status_record.h"

#define ACME_STATUS_HANDLER "acme-status"

/* NULL, or text that is not UTF-8, becomes null. */
static json_t *string_or_null(const char *s)
{
    json_t *value = s ? json_string(s) : NULL;

    return value ? value : json_null();
}

static json_t *time_or_null(apr_pool_t *p, apr_time_t t)
{
    return t > 0 ? json_string(acme_time_rfc3339(p, t)) : json_null();
}

static json_t *int_or_null(int n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

/* The account URL is the account's identity: keep it out of error records. */
static const char *account_url(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain)
{
    json_t *account, *url;
    const char *ca;

    if (!domain->ca_urls || domain->ca_urls->nelts == 0) {
        return NULL;
    }
    ca = APR_ARRAY_IDX(domain->ca_urls, 0, const char *);
    if (acme_store_read_json(rt->store, p, acme_store_account_path(p, ca,
                                                                  ACME_STORE_ACCOUNT_JSON_FILE),
                             &account) != APR_SUCCESS) {
        return NULL;
    }
    url = json_object_get(account, "url");
    return json_is_string(url) && *json_string_value(url) ? json_string_value(url) : NULL;
}

static const char *redact(apr_pool_t *p, const char *text, const char *secret)
{
    const char *at;

    if (!text || !secret || !(at = strstr(text, secret))) {
        return text;
    }
    return apr_pstrcat(p, apr_pstrndup(p, text, (apr_size_t)(at - text)), "(account URL)",
                       redact(p, at + strlen(secret), secret), NULL);
}

static json_t *error_json(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain,
                          const acme_status_record_t *status)
{
    const acme_status_error_t *error = status ? status->error : NULL;
    const char *account, *url;

    if (!error) {
        return json_null();
    }
    account = account_url(rt, p, domain);
    url = error->url;
    if (account && url && !strncmp(url, account, strlen(account))) {
        url = NULL;
    }
    return json_pack("{s:o, s:o, s:o, s:o}",
                     "type", string_or_null(error->type),
                     "detail", string_or_null(redact(p, error->detail, account)),
                     "url", string_or_null(url),
                     "at", time_or_null(p, error->at));
}

/* The live certificate, read from the store: authoritative over the status
 * file, which the child may not have rewritten since the last activation. */
static int live_cert(acme_runtime_t *rt, apr_pool_t *p, const char *name, acme_cert_info_t *info)
{
    apr_array_header_t *chain;

    if (acme_store_load_live(rt->store, p, name, &chain) != APR_SUCCESS || chain->nelts < 1) {
        return 0;
    }
    return acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), info) == APR_SUCCESS;
}

static const char *status_cert_serial(const acme_status_record_t *status)
{
    return status && status->cert ? status->cert->serial : NULL;
}

/* The status file's state unless a newer live certificate makes it stale. */
static const char *domain_state(const acme_status_record_t *status, const acme_cert_info_t *live)
{
    const char *recorded = status ? acme_status_state_name(status->state) : NULL;
    const char *serial = status_cert_serial(status);

    if (!recorded) {
        return live ? "valid" : "missing";
    }
    if (live && (!strcmp(recorded, "missing") || !strcmp(recorded, "staged"))
        && (!serial || strcasecmp(serial, live->serial))) {
        return "valid";
    }
    return recorded;
}

/* The CA the driver uses now, if it is still configured; else the first one. */
static json_t *ca_json(const acme_status_record_t *status, const acme_domain_t *domain)
{
    const char *url = status && status->ca ? status->ca->url : NULL;
    int i;

    for (i = 0; url && domain->ca_urls && i < domain->ca_urls->nelts; ++i) {
        if (!strcmp(url, APR_ARRAY_IDX(domain->ca_urls, i, const char *))) {
            return json_string(url);
        }
    }
    if (domain->ca_urls && domain->ca_urls->nelts > 0) {
        return string_or_null(APR_ARRAY_IDX(domain->ca_urls, 0, const char *));
    }
    return json_null();
}

/* The window the CA suggested and the time chosen in it; null without any. */
static json_t *ari_json(apr_pool_t *p, const acme_status_record_t *status)
{
    const acme_status_ari_t *ari = status ? status->ari : NULL;
    json_t *out;

    if (!ari || !(ari->start || ari->end || ari->chosen)) {
        return json_null();
    }
    out = json_object();
    if (ari->start) {
        json_object_set_new(out, "start", time_or_null(p, ari->start));
    }
    if (ari->end) {
        json_object_set_new(out, "end", time_or_null(p, ari->end));
    }
    if (ari->chosen) {
        json_object_set_new(out, "chosen", time_or_null(p, ari->chosen));
    }
    return out;
}

/* The expiry warning, unless a newer certificate went live since it was written. */
static json_t *warning_json(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain,
                            const acme_status_record_t *status, const acme_cert_info_t *live)
{
    const acme_status_warning_t *warning = status ? status->warning : NULL;
    const char *serial = status_cert_serial(status);
    json_t *out;

    if (!warning || !(warning->expires_at || warning->message)) {
        return json_null();
    }
    if (live && serial && strcasecmp(serial, live->serial)) {
        return json_null();
    }
    out = json_object();
    if (warning->expires_at) {
        json_object_set_new(out, "expires_at", time_or_null(p, warning->expires_at));
    }
    if (warning->message) {
        json_object_set_new(out, "message", string_or_null(
                            redact(p, warning->message, account_url(rt, p, domain))));
    }
    return out;
}

static json_t *domain_json(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain)
{
    acme_status_record_t *status = NULL;
    json_t *cert = json_null(), *json;
    acme_cert_info_t info;
    int has_live;

    if (acme_status_record_load(rt->store, p, domain->name, &status) != APR_SUCCESS) {
        status = NULL;
    }
    has_live = live_cert(rt, p, domain->name, &info);
    if (has_live) {
        cert = json_pack("{s:s, s:o, s:o}", "not_after", acme_time_rfc3339(p, info.not_after),
                         "issuer", string_or_null(info.issuer),
                         "serial", string_or_null(info.serial));
    }
    json = json_object();
    json_object_set_new(json, "name", json_string(domain->name));
    json_object_set_new(json, "names", acme_json_strings(domain->names));
    /* A further AcmeKeyType is the same names' certificate of another key type. */
    json_object_set_new(json, "key_type", json_string(acme_key_type_name(domain->key_type)));
    json_object_set_new(json, "state", json_string(domain_state(status, has_live ? &info : NULL)));
    json_object_set_new(json, "cert", cert ? cert : json_null());
    json_object_set_new(json, "warning", warning_json(rt, p, domain, status,
                                                      has_live ? &info : NULL));
    json_object_set_new(json, "error", error_json(rt, p, domain, status));
    json_object_set_new(json, "ca", ca_json(status, domain));
    json_object_set_new(json, "ari", ari_json(p, status));
    json_object_set_new(json, "attempts", int_or_null(status ? status->attempts : -1));
    json_object_set_new(json, "renew_at", time_or_null(p, status ? status->renew_at : 0));
    json_object_set_new(json, "next_action", time_or_null(p, status ? status->next_action : 0));
    json_object_set_new(json, "step", string_or_null(status ? status->step : NULL));
    json_object_set_new(json, "requests", int_or_null(status ? status->requests : -1));
    json_object_set_new(json, "notice", string_or_null(status ? status->notice : NULL));
    json_object_set_new(json, "activity", string_or_null(status ? status->activity : NULL));
    return json;
}

static json_t *status_json(request_rec *r)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    json_t *doc, *domains = json_array();
    int i;

    for (i = 0; rt && rt->store && rt->domains && i < rt->domains->nelts; ++i) {
        json_t *domain = domain_json(rt, r->pool,
                                     APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *));

        if (domain) {
            json_array_append_new(domains, domain);
        }
    }
    doc = json_pack("{s:s, s:o}", "version", ACME_VERSION, "domains", domains);
    if (doc) {
        acme_json_pool_owned(r->pool, doc);
    }
    return doc;
}

static int wants_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    char *args, *pair, *state;

    if (accept && ap_strcasestr(accept, "application/json")) {
        return 1;
    }
    if (!r->args) {
        return 0;
    }
    args = apr_pstrdup(r->pool, r->args);
    for (pair = apr_strtok(args, "&;", &state); pair; pair = apr_strtok(NULL, "&;", &state)) {
        if (!strcmp(pair, "format=json")) {
            return 1;
        }
    }
    return 0;
}

static int send_json(request_rec *r, json_t *doc)
{
    size_t len = json_dumpb(doc, NULL, 0, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *buf = apr_palloc(r->pool, len + 1);

    json_dumpb(doc, buf, len, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    buf[len++] = '\n';
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(buf, (int)len, r);
    }
    return OK;
}

/* A string member as escaped HTML, "-" when absent. */
static const char *html_member(apr_pool_t *p, json_t *object, const char *key)
{
    json_t *value = json_is_object(object) ? json_object_get(object, key) : NULL;

    if (json_is_string(value)) {
        return ap_escape_html2(p, json_string_value(value), 0);
    }
    if (json_is_integer(value)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(value));
    }
    return "-";
}

static const char *html_names(apr_pool_t *p, json_t *names)
{
    const char *out = "";
    size_t i;

    for (i = 0; i < json_array_size(names); ++i) {
        const char *name = json_string_value(json_array_get(names, i));

        out = apr_pstrcat(p, out, i ? ", " : "", ap_escape_html2(p, name ? name : "", 0), NULL);
    }
    return out;
}

static const char *html_error(apr_pool_t *p, json_t *error)
{
    if (!json_is_object(error)) {
        return "-";
    }
    return apr_pstrcat(p, html_member(p, error, "at"), ": ", html_member(p, error, "type"),
                       " &mdash; ", html_member(p, error, "detail"), NULL);
}

static void html_row(request_rec *r, json_t *domain)
{
    json_t *cert = json_object_get(domain, "cert");
    int warned = json_is_object(json_object_get(domain, "warning"));

    ap_rprintf(r, "<tr%s><td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td>"
               "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
               "</tr>\n",
               warned ? " class=\"warned\"" : "",
               html_member(r->pool, domain, "name"),
               html_names(r->pool, json_object_get(domain, "names")),
               html_member(r->pool, domain, "key_type"),
               html_member(r->pool, domain, "state"), html_member(r->pool, domain, "state"),
               html_member(r->pool, cert, "not_after"), html_member(r->pool, cert, "issuer"),
               html_member(r->pool, cert, "serial"), html_member(r->pool, domain, "ca"),
               html_member(r->pool, domain, "step"), html_member(r->pool, domain, "attempts"),
               html_member(r->pool, domain, "next_action"),
               html_error(r->pool, json_object_get(domain, "error")));
}

/* Expiry warnings and notices above the table, where nobody misses them. */
static void html_warnings(request_rec *r, json_t *domains)
{
    size_t i;

    for (i = 0; i < json_array_size(domains); ++i) {
        json_t *domain = json_array_get(domains, i);
        json_t *warning = json_object_get(domain, "warning");

        if (json_is_string(json_object_get(domain, "notice"))) {
            ap_rprintf(r, "<p class=\"notice\">Notice: %s: %s</p>\n",
                       html_member(r->pool, domain, "name"),
                       html_member(r->pool, domain, "notice"));
        }
        if (json_is_string(json_object_get(domain, "activity"))) {
            ap_rprintf(r, "<p class=\"notice\">In progress: %s: %s</p>\n",
                       html_member(r->pool, domain, "name"),
                       html_member(r->pool, domain, "activity"));
        }
        if (!json_is_object(warning)) {
            continue;
        }
        ap_rprintf(r, "<p class=\"warning\"><strong>Warning: %s expires %s.</strong> %s</p>\n",
                   html_member(r->pool, domain, "name"),
                   html_member(r->pool, warning, "expires_at"),
                   html_member(r->pool, warning, "message"));
    }
}

static int send_html(request_rec *r, json_t *doc)
{
    json_t *domains = json_object_get(doc, "domains");
    size_t i;

    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only) {
        return OK;
    }
    ap_rputs(DOCTYPE_HTML_4_01 "<html><head><title>mod_acme status</title>\n"
             "<style>table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px;"
             "text-align:left}.valid{color:#060}.error{color:#a00}.warned{background:#fee}"
             ".warning{background:#fee;border:2px solid #a00;color:#a00;padding:8px}"
             "</style></head><body>\n", r);
    ap_rprintf(r, "<h1>mod_acme %s</h1>\n", ap_escape_html2(r->pool, ACME_VERSION, 0));
    if (json_array_size(domains) == 0) {
        ap_rputs("<p>No AcmeDomain is configured.</p>\n</body></html>\n", r);
        return OK;
    }
    html_warnings(r, domains);
    ap_rputs("<table>\n<tr><th>Domain</th><th>Names</th><th>Key</th><th>State</th>"
             "<th>Valid until</th><th>Issuer</th><th>Serial</th><th>CA</th><th>Step</th>"
             "<th>Attempts</th><th>Next action</th><th>Last error</th></tr>\n", r);
    for (i = 0; i < json_array_size(domains); ++i) {
        html_row(r, json_array_get(domains, i));
    }
    ap_rputs("</table>\n</body></html>\n", r);
    return OK;
}

static int acme_status_handler(request_rec *r)
{
    json_t *doc;

    if (!r->handler || strcmp(r->handler, ACME_STATUS_HANDLER)) {
        return DECLINED;
    }
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    doc = status_json(r);
    if (!doc) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "ACME00716: cannot build the status document");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    return wants_json(r) ? send_json(r, doc) : send_html(r, doc);
}

void acme_status_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(acme_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
