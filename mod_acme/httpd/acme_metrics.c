/* "SetHandler acme-metrics": the status document (acme_status.c) in the
 * Prometheus text exposition format (version 0.0.4), and a mod_acme section
 * in mod_status's server-status page (HTML and ?auto) through its optional
 * status_hook. Per certificate: expiry, issuance and renewal-window start
 * as Unix timestamps, the state as one 0/1 series per state, consecutive
 * failures and ACME requests for the current certificate; with
 * AcmeCluster, Redis reachability from this node's cluster view; then the
 * counters every process keeps in shared memory (acme_counters.h). */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <apr_optional_hooks.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include "acme_private.h"
#include "acme_status.h"
#include "acme_time.h"

#define ACME_METRICS_HANDLER "acme-metrics"

/* The shown states (acme_status_record_shown_state), one vocabulary with the status
 * page and acmectl. */
static const char *const states[] = { ACME_STATE_MISSING, ACME_STATE_VALID, ACME_STATE_RENEWING,
                                      ACME_STATE_STAGED, ACME_STATE_RENEWAL_FAILING,
                                      ACME_STATE_FAILING, ACME_STATE_EXPIRED,
                                      ACME_STATE_REVOKED };

/* A label value: backslash, double quote and newline escaped. */
static const char *label(apr_pool_t *p, const char *value)
{
    const char *in;
    char *out, *o;

    value = value ? value : "";
    o = out = apr_palloc(p, strlen(value) * 2 + 1);
    for (in = value; *in; in++) {
        if (*in == '\\' || *in == '"') {
            *o++ = '\\';
            *o++ = *in;
        }
        else if (*in == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *in;
        }
    }
    *o = '\0';
    return out;
}

static const char *str(json_t *object, const char *key)
{
    return json_is_object(object) ? json_string_value(json_object_get(object, key)) : NULL;
}

/* Seconds since the epoch of an RFC 3339 member, or -1 when absent. */
static apr_int64_t seconds(json_t *object, const char *key)
{
    apr_time_t t;
    const char *text = str(object, key);

    if (!text || acme_time_rfc3339_parse(text, &t) != APR_SUCCESS) {
        return -1;
    }
    return (apr_int64_t)apr_time_sec(t);
}

static void family(request_rec *r, const char *name, const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per certificate that has the value; labels name and key_type. */
static void per_cert_time(request_rec *r, json_t *domains, const char *metric, const char *help,
                          const char *object, const char *key)
{
    size_t i;

    family(r, metric, "gauge", help);
    for (i = 0; i < json_array_size(domains); i++) {
        json_t *d = json_array_get(domains, i);
        apr_int64_t t = seconds(object ? json_object_get(d, object) : d, key);

        if (t >= 0) {
            ap_rprintf(r, "%s{name=\"%s\",key_type=\"%s\"} %" APR_INT64_T_FMT "\n", metric,
                       label(r->pool, str(d, "name")), label(r->pool, str(d, "key_type")), t);
        }
    }
}

static void per_cert_int(request_rec *r, json_t *domains, const char *metric, const char *help,
                         const char *key)
{
    size_t i;

    family(r, metric, "gauge", help);
    for (i = 0; i < json_array_size(domains); i++) {
        json_t *d = json_array_get(domains, i);
        json_t *v = json_object_get(d, key);

        ap_rprintf(r, "%s{name=\"%s\",key_type=\"%s\"} %" APR_INT64_T_FMT "\n", metric,
                   label(r->pool, str(d, "name")), label(r->pool, str(d, "key_type")),
                   json_is_integer(v) ? (apr_int64_t)json_integer_value(v) : 0);
    }
}

/* AcmeCluster only (the status document's "cluster", the view the parent
 * refreshes every 10 s): whether Redis answered, since when it has not, when
 * the view was checked and how many nodes it saw. */
static void cluster_metrics(request_rec *r, json_t *c)
{
    apr_int64_t t;

    if (!json_is_object(c)) {
        return;
    }
    family(r, "acme_cluster_redis_up", "gauge",
           "1 when this node reached the cluster's Redis at its last check, 0 when not.");
    ap_rprintf(r, "acme_cluster_redis_up{node=\"%s\"} %d\n", label(r->pool, str(c, "node")),
               str(c, "redis") && !strcmp(str(c, "redis"), "reachable"));
    family(r, "acme_cluster_key_mismatch", "gauge",
           "1 when this node's AcmeClusterKeyFile is not the cluster's (it writes nothing to "
           "Redis and orders nothing), 0 when it is.");
    ap_rprintf(r, "acme_cluster_key_mismatch{node=\"%s\"} %d\n", label(r->pool, str(c, "node")),
               json_is_true(json_object_get(c, "key_mismatch")));
    family(r, "acme_cluster_redis_down_since_timestamp_seconds", "gauge",
           "Since when Redis has been unreachable from this node, Unix time (only while it is).");
    if ((t = seconds(c, "down_since")) >= 0) {
        ap_rprintf(r, "acme_cluster_redis_down_since_timestamp_seconds{node=\"%s\"} %"
                   APR_INT64_T_FMT "\n", label(r->pool, str(c, "node")), t);
    }
    family(r, "acme_cluster_checked_timestamp_seconds", "gauge",
           "When this node last refreshed its cluster view, Unix time.");
    if ((t = seconds(c, "checked_at")) >= 0) {
        ap_rprintf(r, "acme_cluster_checked_timestamp_seconds{node=\"%s\"} %" APR_INT64_T_FMT
                   "\n", label(r->pool, str(c, "node")), t);
    }
    family(r, "acme_cluster_nodes", "gauge",
           "Nodes whose heartbeat this node saw in Redis (the last seen while Redis is down).");
    ap_rprintf(r, "acme_cluster_nodes{node=\"%s\"} %lu\n", label(r->pool, str(c, "node")),
               (unsigned long)json_array_size(json_object_get(c, "nodes")));
}

static void metrics_body(request_rec *r, json_t *doc)
{
    json_t *domains = json_object_get(doc, "domains"), *summary = json_object_get(doc, "summary");
    const char *key;
    json_t *value;
    size_t i, k;

    family(r, "acme_info", "gauge", "mod_acme version (always 1).");
    ap_rprintf(r, "acme_info{version=\"%s\"} 1\n", label(r->pool, str(doc, "version")));
    family(r, "acme_certificates", "gauge",
           "Managed certificates by summary class (each in one of valid, renewing, staged, "
           "renewal_failing, failing, missing; expiring_soon overlaps them; total).");
    json_object_foreach(summary, key, value) {
        ap_rprintf(r, "acme_certificates{class=\"%s\"} %" APR_INT64_T_FMT "\n",
                   label(r->pool, key), (apr_int64_t)json_integer_value(value));
    }
    per_cert_time(r, domains, "acme_certificate_expiry_timestamp_seconds",
                  "When the live certificate expires (notAfter), Unix time.", "cert", "not_after");
    per_cert_time(r, domains, "acme_certificate_issued_timestamp_seconds",
                  "When the live certificate became valid (notBefore), Unix time.", "cert",
                  "not_before");
    per_cert_time(r, domains, "acme_certificate_renewal_window_start_timestamp_seconds",
                  "When renewal of the live certificate is due (AcmeRenewWindow or ARI), Unix "
                  "time.", NULL, "renew_at");
    family(r, "acme_certificate_state", "gauge",
           "1 for the certificate's current state, 0 for the others.");
    for (i = 0; i < json_array_size(domains); i++) {
        json_t *d = json_array_get(domains, i);
        const char *state = str(d, "state");

        for (k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
            ap_rprintf(r, "acme_certificate_state{name=\"%s\",key_type=\"%s\",state=\"%s\"} %d\n",
                       label(r->pool, str(d, "name")), label(r->pool, str(d, "key_type")),
                       states[k], state && !strcmp(state, states[k]));
        }
    }
    per_cert_int(r, domains, "acme_certificate_consecutive_failures",
                 "Failed attempts since the last success.", "attempts");
    per_cert_int(r, domains, "acme_certificate_acme_requests",
                 "ACME requests sent for the current certificate or order.", "requests");
    cluster_metrics(r, json_object_get(doc, "cluster"));
    /* Counters of every process, from shared memory (acme_counters.h). */
    ap_rputs(acme_counters_exposition(acme_runtime_get(r->server)
                                      ? acme_runtime_get(r->server)->ctx.counters : NULL,
                                      r->pool), r);
}

static int acme_metrics_handler(request_rec *r)
{
    json_t *doc;
    int rc;

    if ((rc = acme_status_handler_begin(r, ACME_METRICS_HANDLER)) != OK) {
        return rc;
    }
    if (!(doc = acme_status_document(r, NULL))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "ACME00731: cannot build the metrics");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        metrics_body(r, doc);
    }
    return OK;
}

/* server-status: a section after mod_status's own; ?auto gets Key: value lines. */
static int acme_status_section(request_rec *r, int flags)
{
    json_t *doc = acme_status_document(r, NULL), *summary, *domains;
    apr_int64_t total;
    size_t i;

    if (!doc || !acme_runtime_get(r->server)) {
        return OK;
    }
    summary = json_object_get(doc, "summary");
    if (flags & AP_STATUS_SHORT) {
        static const struct { const char *key, *line; } lines[] = {
            { "total", "AcmeCertificates" }, { "valid", "AcmeCertificatesValid" },
            { "renewing", "AcmeCertificatesRenewing" }, { "staged", "AcmeCertificatesStaged" },
            { "failing", "AcmeCertificatesFailing" },
            { "renewal_failing", "AcmeCertificatesRenewalFailing" },
            { "missing", "AcmeCertificatesMissing" },
            { "expiring_soon", "AcmeCertificatesExpiringSoon" },
        };
        for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
            ap_rprintf(r, "%s: %" APR_INT64_T_FMT "\n", lines[i].line,
                       (apr_int64_t)json_integer_value(json_object_get(summary, lines[i].key)));
        }
        return OK;
    }
    domains = json_object_get(doc, "domains");
    ap_rputs("<hr />\n<h2>mod_acme certificates</h2>\n", r);
    total = (apr_int64_t)json_integer_value(json_object_get(summary, "total"));
    ap_rprintf(r, "<p>%" APR_INT64_T_FMT " certificate%s: %" APR_INT64_T_FMT " valid, %"
               APR_INT64_T_FMT " valid with renewal failing, %" APR_INT64_T_FMT " renewing, %"
               APR_INT64_T_FMT " staged, %" APR_INT64_T_FMT " failing, %" APR_INT64_T_FMT
               " expiring soon</p>\n", total, total == 1 ? "" : "s",
               (apr_int64_t)json_integer_value(json_object_get(summary, "valid")),
               (apr_int64_t)json_integer_value(json_object_get(summary, "renewal_failing")),
               (apr_int64_t)json_integer_value(json_object_get(summary, "renewing")),
               (apr_int64_t)json_integer_value(json_object_get(summary, "staged")),
               (apr_int64_t)json_integer_value(json_object_get(summary, "failing")),
               (apr_int64_t)json_integer_value(json_object_get(summary, "expiring_soon")));
    ap_rputs("<table border=\"0\"><tr><th>Certificate</th><th>Key</th><th>State</th>"
             "<th>Days left</th><th>Valid until</th></tr>\n", r);
    for (i = 0; i < json_array_size(domains); i++) {
        json_t *d = json_array_get(domains, i), *days = json_object_get(d, "days_left");

        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   ap_escape_html2(r->pool, str(d, "name") ? str(d, "name") : "", 0),
                   ap_escape_html2(r->pool, str(d, "key_type") ? str(d, "key_type") : "", 0),
                   json_is_true(json_object_get(d, "renewal_failing")) ? "valid, renewal failing"
                   : json_is_true(json_object_get(d, "failing")) ? "failing"
                   : ap_escape_html2(r->pool, str(d, "state") ? str(d, "state") : "", 0),
                   json_is_integer(days) ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                                        (apr_int64_t)json_integer_value(days))
                                         : "-",
                   ap_escape_html2(r->pool, str(json_object_get(d, "cert"), "not_after")
                                   ? str(json_object_get(d, "cert"), "not_after") : "-", 0));
    }
    ap_rputs("</table>\n", r);
    return OK;
}

void acme_metrics_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(acme_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, acme_status_section, NULL, NULL, APR_HOOK_MIDDLE);
}
