/* The acme-status page for people: a summary line, one card per
 * certificate (names, state, days left in colour and in words, issuer, key
 * type, next renewal; for a failing one the CA's error, since when, how
 * many attempts, the next attempt and one line of advice), and the detail
 * page of one certificate. Self-contained (inline CSS, no script, no
 * external asset), readable from 320 px wide phones to wide screens: long
 * names and messages wrap instead of widening the page. Everything comes
 * from the status document (acme_status.c) and is HTML-escaped here. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_protocol.h>

#include "acme_private.h"
#include "acme_status.h"

/* Days left under which the number turns amber / red (and says so). */
#define DAYS_AMBER 14
#define DAYS_RED   3

static const char STYLE[] =
    "*{box-sizing:border-box}"
    "body{margin:0;padding:1rem;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "sans-serif;color:#1b1f23;background:#f4f5f7}"
    "h1{font-size:1.4rem;margin:0 0 .25rem}"
    "h2{font-size:1.1rem;margin:0 0 .4rem;overflow-wrap:anywhere}"
    "a{color:#0645ad}"
    ".summary{margin:0 0 1rem;font-size:1.05rem}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,24rem),1fr));"
    "gap:1rem}"
    ".card{background:#fff;border:1px solid #d0d4d9;border-left:6px solid #2e7d32;"
    "border-radius:6px;padding:.8rem 1rem;min-width:0}"
    ".card.s-failing{border-left-color:#c62828}.card.s-renewing{border-left-color:#1565c0}"
    ".card.s-missing{border-left-color:#757575}.card.s-expiring{border-left-color:#ef6c00}"
    ".names{margin:0 0 .5rem;color:#444;overflow-wrap:anywhere}"
    ".badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-weight:600;"
    "font-size:.9rem;color:#fff;background:#2e7d32}"
    ".b-failing{background:#c62828}.b-renewing{background:#1565c0}.b-missing{background:#757575}"
    ".days{font-weight:600;margin-left:.4rem}"
    ".d-ok{color:#2e7d32}.d-amber{color:#b45309}.d-red{color:#c62828}"
    "dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15rem .8rem;"
    "margin:.6rem 0 0}"
    "dt{color:#555}dd{margin:0;overflow-wrap:anywhere}"
    ".problem{margin-top:.7rem;padding:.6rem .7rem;background:#fdecea;border-radius:4px;"
    "overflow-wrap:anywhere}"
    ".problem p{margin:.2rem 0}.advice{font-weight:600}"
    ".note{margin-top:.6rem;padding:.4rem .6rem;background:#fff8e1;border-radius:4px;"
    "overflow-wrap:anywhere}"
    "table{border-collapse:collapse;margin-top:.4rem;max-width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.2rem .6rem .2rem 0;text-align:left;"
    "overflow-wrap:anywhere}"
    "footer{margin-top:1.5rem;color:#666;font-size:.85rem}";

static const char *esc(apr_pool_t *p, const char *s)
{
    return s ? ap_escape_html2(p, s, 0) : "";
}

static const char *str(json_t *object, const char *key)
{
    return json_is_object(object) ? json_string_value(json_object_get(object, key)) : NULL;
}

/* "2026-11-30T01:02:03Z" -> "2026-11-30 01:02 UTC", escaped; "-" when absent. */
static const char *when(apr_pool_t *p, const char *rfc3339)
{
    if (!rfc3339 || strlen(rfc3339) < 16) {
        return rfc3339 ? esc(p, rfc3339) : "&ndash;";
    }
    return apr_psprintf(p, "%s %s UTC", esc(p, apr_pstrndup(p, rfc3339, 10)),
                        esc(p, apr_pstrndup(p, rfc3339 + 11, 5)));
}

static const char *names_text(apr_pool_t *p, json_t *names)
{
    const char *out = "";
    size_t i;

    for (i = 0; i < json_array_size(names); ++i) {
        out = apr_pstrcat(p, out, i ? ", " : "",
                          esc(p, json_string_value(json_array_get(names, i))), NULL);
    }
    return out;
}

/* failing / renewing / missing / valid: the card's class and badge. */
static const char *card_state(json_t *d)
{
    const char *state = str(d, "state");

    if (json_is_true(json_object_get(d, "failing"))) {
        return "failing";
    }
    if (state && (!strcmp(state, "renewing") || !strcmp(state, "staged"))) {
        return "renewing";
    }
    return json_is_object(json_object_get(d, "cert")) ? "valid" : "missing";
}

static const char *state_label(const char *state)
{
    if (!strcmp(state, "failing")) {
        return "Failing";
    }
    if (!strcmp(state, "renewing")) {
        return "Renewing";
    }
    return strcmp(state, "valid") ? "No certificate yet" : "Valid";
}

/* Days left, coloured and in words, so colour is never the only signal. */
static const char *days_html(apr_pool_t *p, json_t *d)
{
    json_t *days = json_object_get(d, "days_left");
    apr_int64_t n;

    if (!json_is_integer(days)) {
        return "";
    }
    n = (apr_int64_t)json_integer_value(days);
    if (n < 0) {
        return "<span class=\"days d-red\">expired</span>";
    }
    return apr_psprintf(p, "<span class=\"days %s\">%" APR_INT64_T_FMT " day%s left%s</span>",
                        n <= DAYS_RED ? "d-red" : n <= DAYS_AMBER ? "d-amber" : "d-ok", n,
                        n == 1 ? "" : "s",
                        n <= DAYS_RED ? " (urgent)" : n <= DAYS_AMBER ? " (soon)" : "");
}

static void row(request_rec *r, const char *label, const char *html)
{
    ap_rprintf(r, "<dt>%s</dt><dd>%s</dd>", label, html && *html ? html : "&ndash;");
}

static void problem_html(request_rec *r, json_t *d)
{
    json_t *error = json_object_get(d, "error"), *attempts = json_object_get(d, "attempts");
    const char *type = str(error, "type");

    if (!json_is_true(json_object_get(d, "failing")) || !json_is_object(error)) {
        return;
    }
    if (type && !strncmp(type, "urn:ietf:params:acme:error:", 27)) {
        type += 27;
    }
    ap_rprintf(r, "<div class=\"problem\"><p><strong>CA error%s%s%s:</strong> %s</p>",
               type ? " (" : "", esc(r->pool, type), type ? ")" : "",
               esc(r->pool, str(error, "detail") ? str(error, "detail") : "no detail"));
    ap_rprintf(r, "<p class=\"since\"><strong>Failing since %s</strong> &middot; %"
               APR_INT64_T_FMT " failed attempt%s &middot; last failure %s &middot; "
               "next attempt %s</p>",
               when(r->pool, str(error, "since") ? str(error, "since") : str(error, "at")),
               json_is_integer(attempts) ? (apr_int64_t)json_integer_value(attempts) : 0,
               json_integer_value(attempts) == 1 ? "" : "s",
               when(r->pool, str(error, "at")),
               when(r->pool, str(d, "next_action")));
    ap_rprintf(r, "<p class=\"advice\">What to do: %s</p></div>",
               esc(r->pool, str(d, "advice")));
}

static void notes_html(request_rec *r, json_t *d)
{
    json_t *warning = json_object_get(d, "warning");

    if (json_is_object(warning)) {
        ap_rprintf(r, "<p class=\"note\"><strong>Warning: expires %s.</strong> %s</p>",
                   when(r->pool, str(warning, "expires_at")),
                   esc(r->pool, str(warning, "message")));
    }
    if (str(d, "notice")) {
        ap_rprintf(r, "<p class=\"note\">Notice: %s</p>", esc(r->pool, str(d, "notice")));
    }
    if (str(d, "activity")) {
        ap_rprintf(r, "<p class=\"note\">In progress: %s</p>", esc(r->pool, str(d, "activity")));
    }
}

/* One line of the detail page's event list. */
typedef struct event_line_t {
    const char *at;               /* RFC 3339: sorts by time as text */
    const char *html;
} event_line_t;

static int event_newer_first(const void *a, const void *b)
{
    return strcmp(((const event_line_t *)b)->at, ((const event_line_t *)a)->at);
}

/* The last events of the certificate, newest first, from what the document
 * holds: versions issued (history), when failing began and the last failure. */
static void events_html(request_rec *r, json_t *d)
{
    json_t *history = json_object_get(d, "history"), *error = json_object_get(d, "error");
    apr_array_header_t *lines = apr_array_make(r->pool, 12, sizeof(event_line_t));
    event_line_t *e;
    size_t i;
    int n;

    for (i = 0; i < json_array_size(history); i++) {
        json_t *v = json_array_get(history, i);
        if (str(v, "issued_at")) {
            e = apr_array_push(lines);
            e->at = str(v, "issued_at");
            e->html = apr_psprintf(r->pool, "certificate version %s issued%s",
                                   esc(r->pool, str(v, "version")),
                                   json_is_true(json_object_get(v, "live")) ? " (live now)" : "");
        }
    }
    if (json_is_object(error) && json_is_true(json_object_get(d, "failing"))) {
        if (str(error, "since") && str(error, "at") && strcmp(str(error, "since"), str(error, "at"))) {
            e = apr_array_push(lines);
            e->at = str(error, "since");
            e->html = "first failure: renewal started failing";
        }
        if (str(error, "at")) {
            e = apr_array_push(lines);
            e->at = str(error, "at");
            e->html = apr_psprintf(r->pool, "attempt failed: %s",
                                   esc(r->pool, str(error, "detail") ? str(error, "detail")
                                                                     : "no detail"));
        }
    }
    ap_rputs("<h2>Last events</h2>", r);
    if (lines->nelts == 0) {
        ap_rputs("<p>None yet.</p>", r);
        return;
    }
    qsort(lines->elts, (size_t)lines->nelts, sizeof(event_line_t), event_newer_first);
    ap_rputs("<ul class=\"events\">", r);
    for (n = 0; n < lines->nelts && n < 10; n++) {
        e = &APR_ARRAY_IDX(lines, n, event_line_t);
        ap_rprintf(r, "<li><time>%s</time> %s</li>", when(r->pool, e->at), e->html);
    }
    ap_rputs("</ul>", r);
}

static void detail_html(request_rec *r, json_t *d)
{
    json_t *ari = json_object_get(d, "ari"), *history = json_object_get(d, "history");
    size_t i;

    ap_rputs("<dl>", r);
    row(r, "Step", esc(r->pool, str(d, "step")));
    row(r, "CA", esc(r->pool, str(d, "ca")));
    row(r, "ACME requests", apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                         (apr_int64_t)json_integer_value(
                                             json_object_get(d, "requests"))));
    row(r, "ARI window", json_is_object(ari)
        ? apr_pstrcat(r->pool, when(r->pool, str(ari, "start")), " &ndash; ",
                      when(r->pool, str(ari, "end")), NULL) : "not offered by the CA");
    row(r, "Chosen renewal time", json_is_object(ari) ? when(r->pool, str(ari, "chosen")) : "");
    ap_rputs("</dl>", r);
    events_html(r, d);
    ap_rputs("<h2>Versions</h2>", r);
    if (json_array_size(history) == 0) {
        ap_rputs("<p>None yet.</p>", r);
        return;
    }
    ap_rputs("<table><tr><th>Version</th><th>Issued</th><th></th></tr>", r);
    for (i = 0; i < json_array_size(history); i++) {
        json_t *v = json_array_get(history, i);

        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>", esc(r->pool, str(v, "version")),
                   when(r->pool, str(v, "issued_at")),
                   json_is_true(json_object_get(v, "live")) ? "live" : "");
    }
    ap_rputs("</table>", r);
}

/* The detail page's address relative to this page: .../acme-status/NAME. */
static const char *detail_href(request_rec *r, const char *name)
{
    const char *last = strrchr(r->uri, '/');
    const char *segment = ap_escape_path_segment(r->pool, name ? name : "");

    if (!last || !last[1]) {
        return segment;
    }
    return apr_pstrcat(r->pool, ap_escape_path_segment(r->pool, last + 1), "/", segment, NULL);
}

static void card_html(request_rec *r, json_t *d, int detail)
{
    const char *state = card_state(d), *name = str(d, "name");
    json_t *cert = json_object_get(d, "cert");
    int expiring = json_is_true(json_object_get(d, "expiring_soon"));

    ap_rprintf(r, "<article class=\"card s-%s\">",
               expiring && !strcmp(state, "valid") ? "expiring" : state);
    if (detail) {
        ap_rprintf(r, "<h2>%s</h2>", esc(r->pool, name));
    }
    else {
        ap_rprintf(r, "<h2><a href=\"%s\">%s</a></h2>", esc(r->pool, detail_href(r, name)),
                   esc(r->pool, name));
    }
    ap_rprintf(r, "<p class=\"names\">%s</p>", names_text(r->pool, json_object_get(d, "names")));
    ap_rprintf(r, "<p><span class=\"badge b-%s\">%s</span>%s%s</p>", state, state_label(state),
               days_html(r->pool, d), expiring ? " <span>&middot; expiring soon</span>" : "");
    ap_rputs("<dl>", r);
    row(r, "Issuer", esc(r->pool, str(cert, "issuer")));
    row(r, "Key type", esc(r->pool, str(d, "key_type")));
    row(r, "Valid until", json_is_object(cert) ? when(r->pool, str(cert, "not_after")) : "");
    row(r, "Next renewal", when(r->pool, str(d, "renew_at") ? str(d, "renew_at")
                                         : str(d, "next_action")));
    if (detail) {
        row(r, "Issued", json_is_object(cert) ? when(r->pool, str(cert, "not_before")) : "");
        row(r, "Serial", esc(r->pool, str(cert, "serial")));
    }
    ap_rputs("</dl>", r);
    problem_html(r, d);
    notes_html(r, d);
    if (detail) {
        detail_html(r, d);
    }
    ap_rputs("</article>\n", r);
}

static const char *summary_text(apr_pool_t *p, json_t *s)
{
    apr_int64_t total = json_integer_value(json_object_get(s, "total"));

    return apr_psprintf(p, "%" APR_INT64_T_FMT " certificate%s: %" APR_INT64_T_FMT " valid, %"
                        APR_INT64_T_FMT " renewing, %" APR_INT64_T_FMT " failing, %"
                        APR_INT64_T_FMT " expiring soon%s",
                        total, total == 1 ? "" : "s",
                        (apr_int64_t)json_integer_value(json_object_get(s, "valid")),
                        (apr_int64_t)json_integer_value(json_object_get(s, "renewing")),
                        (apr_int64_t)json_integer_value(json_object_get(s, "failing")),
                        (apr_int64_t)json_integer_value(json_object_get(s, "expiring_soon")),
                        json_integer_value(json_object_get(s, "missing"))
                        ? apr_psprintf(p, ", %" APR_INT64_T_FMT " waiting for the first",
                                       (apr_int64_t)json_integer_value(
                                           json_object_get(s, "missing")))
                        : "");
}

int acme_status_send_html(request_rec *r, json_t *doc, int detail)
{
    json_t *domains = json_object_get(doc, "domains");
    const char *summary = summary_text(r->pool, json_object_get(doc, "summary"));
    size_t i;

    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only) {
        return OK;
    }
    ap_rprintf(r, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<title>%s &middot; mod_acme</title><style>%s</style></head><body>\n",
               detail && json_array_size(domains) ? esc(r->pool, str(json_array_get(domains, 0),
                                                                     "name"))
                                                  : "Certificates", STYLE);
    ap_rprintf(r, "<header><h1>%s</h1>", detail ? "Certificate" : "Certificates");
    if (detail) {
        /* ".../acme-status/NAME" or ".../acme-status/NAME/" */
        ap_rprintf(r, "<p><a href=\"%s\">&larr; all certificates</a></p>",
                   r->uri && *r->uri && r->uri[strlen(r->uri) - 1] == '/' ? "../" : "./");
    }
    else {
        ap_rprintf(r, "<p class=\"summary\" id=\"summary\">%s</p>", summary);
    }
    ap_rputs("</header>\n", r);
    if (json_array_size(domains) == 0) {
        ap_rputs("<p>No AcmeDomain is configured.</p>", r);
    }
    ap_rputs("<main class=\"grid\">\n", r);
    for (i = 0; i < json_array_size(domains); ++i) {
        card_html(r, json_array_get(domains, i), detail);
    }
    ap_rprintf(r, "</main><footer>mod_acme %s &middot; %s &middot; "
               "<a href=\"?format=json\">JSON</a></footer></body></html>\n",
               esc(r->pool, ACME_VERSION), when(r->pool, str(doc, "generated_at")));
    return OK;
}
