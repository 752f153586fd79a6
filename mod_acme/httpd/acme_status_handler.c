/* The "acme-status" handler: the overview from cached text
 * (acme_status_frag.c), the detail page .../acme-status/NAME, a 404 for an
 * address naming no certificate, and anything the cache cannot answer from
 * the document (acme_status.c); JSON for scripts, HTML (acme_status_html.c)
 * for people. Also records, at each start, which names are configured. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_store_paths.h"
#include "acme_store_configured.h"
#include "acme_store_activation.h"
#include "acme_status.h"
#include "acme_status_page.h"
#include "acme_status_pieces.h"
#include "acme_text.h"

#define ACME_STATUS_HANDLER "acme-status"

/* The formats ?format= names; anything else is a 400 (send_bad_format), not
 * HTML: a script asking for a format the page does not speak should fail,
 * not parse a page for people. */
#define FORMATS_SUPPORTED "json (application/json, also asked for by \"Accept: " \
    "application/json\") and html (the default)"

/* The value of ?format= (the last one given), in r->pool; NULL without one. */
static const char *format_arg(request_rec *r)
{
    char *args, *pair, *state;
    const char *value = NULL;

    if (!r->args) {
        return NULL;
    }
    args = apr_pstrdup(r->pool, r->args);
    for (pair = apr_strtok(args, "&;", &state); pair; pair = apr_strtok(NULL, "&;", &state)) {
        if (!strncmp(pair, "format=", 7)) {
            value = pair + 7;
        }
    }
    return value;
}

static int wants_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    const char *format = format_arg(r);

    if (format) {
        return !strcasecmp(format, "json");
    }
    return accept && ap_strcasestr(accept, "application/json") != NULL;
}

/* Longest part of an unknown format value the 400 repeats. */
#define BAD_FORMAT_SHOWN 40

/* 400 for ?format= naming neither json nor html: a short text/plain body
 * that lists what the page speaks; the value is repeated in printable ASCII
 * only (anything else as '?'), at most BAD_FORMAT_SHOWN bytes. */
static int send_bad_format(request_rec *r, const char *format)
{
    char *shown = apr_pstrndup(r->pool, format, BAD_FORMAT_SHOWN), *c;

    for (c = shown; *c; ++c) {
        if (*c < 0x20 || *c > 0x7e) {
            *c = '?';
        }
    }
    r->status = HTTP_BAD_REQUEST;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_type(r, "text/plain; charset=us-ascii");
    if (!r->header_only) {
        ap_rprintf(r, "400 Bad Request: unknown format '%s%s'. The status page speaks "
                   FORMATS_SUPPORTED ": ?format=json or ?format=html.\n", shown,
                   strlen(format) > BAD_FORMAT_SHOWN ? "..." : "");
    }
    return OK;
}

static apr_status_t free_text(void *text)
{
    free(text);
    return APR_SUCCESS;
}

static int send_json(request_rec *r, json_t *doc)
{
    /* One pass (json_dumpb would serialise twice: to size, then to fill). */
    char *buf = json_dumps(doc, ACME_STATUS_JSON_FLAGS);
    size_t len;

    if (!buf) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(r->pool, buf, free_text, apr_pool_cleanup_null);
    len = strlen(buf);
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len + 1);
    if (!r->header_only) {
        ap_rwrite(buf, (int)len, r);
        ap_rputs("\n", r);
    }
    return OK;
}

/* Names longer than this are no DNS name: the 404 page shows their start. */
#define NOT_FOUND_NAME_MAX 80

/* What the request asks for below the page's own address: "" for the
 * overview (also ".../acme-status/"), else the rest of the path without its
 * leading slash. The handler is mapped by <Location>, whose path is the
 * section's (core's "d") when it is the last one that matched; otherwise
 * (a regex, <Directory>, a later <Location> around it) what httpd left as
 * path info after the last existing file. */
static const char *status_tail(request_rec *r)
{
    const core_dir_config *conf = ap_get_core_module_config(r->per_dir_config);
    const char *tail = NULL;

    if (conf && conf->d && conf->d[0] == '/' && !conf->r && !conf->d_is_fnmatch && r->uri) {
        apr_size_t len = strlen(conf->d);
        while (len > 1 && conf->d[len - 1] == '/') {
            --len;
        }
        if (!strncmp(r->uri, conf->d, len)
            && (r->uri[len] == '/' || r->uri[len] == '\0' || len == 1)) {
            tail = r->uri + len;
        }
    }
    if (!tail) {
        tail = r->path_info ? r->path_info : "";
    }
    while (*tail == '/') {
        ++tail;
    }
    return tail;
}

/* The overview's address relative to .../acme-status/TAIL: "./", or one
 * "../" per further segment. */
static const char *up_to_page(apr_pool_t *p, const char *tail)
{
    const char *up = "./";

    for (; (tail = strchr(tail, '/')) != NULL; ++tail) {
        up = strcmp(up, "./") ? apr_pstrcat(p, up, "../", NULL) : "../";
    }
    return up;
}

/* 404 for an address below the page that names no certificate of this
 * server: a short page (JSON for JSON clients), never the overview, so a
 * typo or a removed name is not mistaken for "all is well". */
static int send_not_found(request_rec *r, const char *tail)
{
    const char *shown = acme_text_cut(r->pool, tail, NOT_FOUND_NAME_MAX);
    const char *more = strlen(tail) > NOT_FOUND_NAME_MAX ? "..." : "";

    r->status = HTTP_NOT_FOUND;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    if (wants_json(r)) {
        json_t *doc = json_pack("{s:i, s:i, s:s, s:s}", "schema", ACME_STATUS_SCHEMA,
                                "status", HTTP_NOT_FOUND, "error", "not_found", "detail",
                                "no certificate of this name is managed by this server");
        int rc;

        if (!doc) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        json_object_set_new(doc, "name", json_string(apr_pstrcat(r->pool, shown, more, NULL)));
        rc = send_json(r, doc);
        json_decref(doc);
        return rc;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (!r->header_only) {
        ap_rprintf(r, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>Not found &middot; mod_acme</title></head><body>"
                   "<h1>Not found</h1><p style=\"overflow-wrap:anywhere\">No certificate "
                   "named <code>%s%s</code> is managed by this server.</p>"
                   "<p><a href=\"%s\">All certificates</a></p></body></html>\n",
                   ap_escape_html(r->pool, shown), more, up_to_page(r->pool, tail));
    }
    return OK;
}

int acme_status_handler_begin(request_rec *r, const char *handler)
{
    if (!r->handler || strcmp(r->handler, handler)) {
        return DECLINED;
    }
    /* httpd 2.4 builds the Allow header of a 405 (and OPTIONS) from
     * r->allowed_methods alone (make_allow in modules/http/http_protocol.c);
     * r->allowed is only copied along an internal redirect, read by nothing */
    ap_allow_standard_methods(r, MERGE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    return OK;
}

static int acme_status_handler(request_rec *r)
{
    const char *tail, *only = NULL, *format;
    json_t *doc;
    int rc;

    if ((rc = acme_status_handler_begin(r, ACME_STATUS_HANDLER)) != OK) {
        return rc;
    }
    format = format_arg(r);
    if (format && strcasecmp(format, "json") && strcasecmp(format, "html")) {
        return send_bad_format(r, format);
    }
    tail = status_tail(r);
    if (*tail && !(only = acme_status_detail_name(r, tail))) {
        return send_not_found(r, tail);
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    /* The overview from cached text: 10,000 certificates in milliseconds. */
    if (!only && acme_status_frag_send(r, wants_json(r)) == OK) {
        return OK;
    }
    doc = acme_status_document(r, only);
    if (!doc) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "ACME00716: cannot build the status document");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return wants_json(r) ? send_json(r, doc) : acme_status_send_html(r, doc, only != NULL);
}

/* This instance's main configuration file, found as httpd found it: -d
 * (else the built-in root) and -f (else the built-in name) of its command
 * line; an absolute -f is taken as is. It tells instances sharing a store
 * apart in configured.json, and stays the same across restarts. */
static const char *server_config_file(server_rec *s, apr_pool_t *p)
{
    const char *const *argv = s->process ? s->process->argv : NULL;
    const char *root = HTTPD_ROOT, *conf = SERVER_CONFIG_FILE;
    int i;

    for (i = 1; argv && i < s->process->argc && argv[i]; ++i) {
        const char **which = !strncmp(argv[i], "-d", 2) ? &root
                           : !strncmp(argv[i], "-f", 2) ? &conf : NULL;
        if (!which) {
            /* the value of another option that takes one is no option */
            i += argv[i][0] == '-' && argv[i][1] && strchr("CcDeEk", argv[i][1]) && !argv[i][2];
            continue;
        }
        if (argv[i][2]) {
            *which = argv[i] + 2;
        }
        else if (i + 1 < s->process->argc && argv[i + 1]) {
            *which = argv[++i];
        }
    }
    return conf[0] == '/' ? conf : apr_pstrcat(p, root, "/", conf, NULL);
}

/* Root, at each start: which names this configuration manages, for
 * acmectl (configured.json), the same the status page shows, and its
 * AcmeActivation (activation-mode.json), for acmectl's words. */
static int status_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *base)
{
    acme_runtime_t *rt = acme_runtime_get(base);
    apr_array_header_t *names;
    apr_status_t rv;
    int i;

    (void)pconf;
    (void)plog;
    if (!rt || !rt->store || !rt->domains) {
        return OK;
    }
    names = apr_array_make(ptemp, rt->domains->nelts, sizeof(const char *));
    for (i = 0; i < rt->domains->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(rt->domains, i,
                                                            const acme_domain_t *)->name;
    }
    rv = acme_store_configured_write(rt->store, ptemp, server_config_file(base, ptemp), names,
                                     apr_time_now());
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, base, "ACME00742: cannot record the "
                     "configured names in %s; check that root can write the store (until "
                     "then acmectl list may count removed domains as configured)",
                     acme_store_path(rt->store, ptemp, ACME_STORE_CONFIGURED));
    }
    rv = acme_store_activation_mode_write(rt->store, ptemp, rt->activation_auto
                                          ? ACME_ACTIVATION_AUTO : ACME_ACTIVATION_MANUAL);
    /* the previous mode's file would keep its words: without a file,
     * acmectl says both ways */
    if (rv != APR_SUCCESS
        && acme_store_remove(rt->store, ptemp, ACME_STORE_ACTIVATION_MODE) == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, base, "ACME00777: cannot record "
                     "AcmeActivation in %s; check that root can write the store (until then "
                     "acmectl says a staged certificate goes live either way)",
                     acme_store_path(rt->store, ptemp, ACME_STORE_ACTIVATION_MODE));
    }
    else if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, base, "ACME00779: cannot record "
                     "AcmeActivation in %s, nor remove the previous one; check that root can "
                     "write the store (until then acmectl may say a staged certificate goes "
                     "live as under the mode it names)",
                     acme_store_path(rt->store, ptemp, ACME_STORE_ACTIVATION_MODE));
    }
    return OK;
}

/* Each child: its render thread of the status page ends with it. */
static void status_child_init(apr_pool_t *pchild, server_rec *s)
{
    acme_status_render_child_init(acme_runtime_get(s), pchild);
}

void acme_status_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(status_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(status_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_handler(acme_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
