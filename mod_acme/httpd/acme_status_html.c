/* The acme-status page for people: a summary line, one card per
 * certificate (names, state, days left in colour and in words, issuer, key
 * type, next renewal; for a failing one the CA's error, since when, how
 * many attempts, the next attempt and one line of advice), and the detail
 * page of one certificate. Self-contained (inline CSS, no script, no
 * external asset), readable from 320 px wide phones to wide screens: long
 * names and messages wrap instead of widening the page. Everything comes
 * from the status document (acme_status.c) and is HTML-escaped here. */
#include <stdarg.h>
#include <stddef.h>   /* offsetof first: APR's ring macros fall back to NULL arithmetic */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_protocol.h>
#include <util_filter.h>
#include <apr_buckets.h>

#include "acme_private.h"
#include "acme_status.h"
#include "acme_time.h"

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
    ".card.s-renewal-failing{border-left-color:#b45309}.card.s-revoked{border-left-color:#6a1b9a}"
    ".card.s-missing{border-left-color:#757575}.card.s-expiring{border-left-color:#ef6c00}"
    ".names{margin:0 0 .5rem;color:#444;overflow-wrap:anywhere}"
    ".badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-weight:600;"
    "font-size:.9rem;color:#fff;background:#2e7d32}"
    ".b-failing{background:#c62828}.b-renewing{background:#1565c0}.b-missing{background:#757575}"
    ".b-renewal-failing{background:#b45309}.b-revoked{background:#6a1b9a}"
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

/* Where the page's text goes: a brigade, sent at the end or kept as text. */
typedef struct out_t {
    apr_pool_t *pool;
    apr_bucket_brigade *bb;
    const char *uri;              /* the request's, for relative links */
    int manual;                   /* AcmeActivation manual: staged ones wait for the admin */
} out_t;

static void put(out_t *o, const char *s)
{
    apr_brigade_puts(o->bb, NULL, NULL, s);
}

static void putf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out_t *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apr_brigade_vprintf(o->bb, NULL, NULL, fmt, ap);
    va_end(ap);
}

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

/* The same to the second ("2026-11-30 01:02:03 UTC"): for what comes soon
 * (the next attempt, a held restart), where the minute is not enough. */
static const char *when_s(apr_pool_t *p, const char *rfc3339)
{
    if (!rfc3339 || strlen(rfc3339) < 19) {
        return when(p, rfc3339);
    }
    return apr_psprintf(p, "%s %s UTC", esc(p, apr_pstrndup(p, rfc3339, 10)),
                        esc(p, apr_pstrndup(p, rfc3339 + 11, 8)));
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

/* failing / renewal-failing / revoked / renewing / missing / valid: the
 * card's class and badge colour, from the shown state
 * (acme_status_record_shown_state).
 * renewal-failing: the live certificate is still valid and served, only
 * its renewal keeps failing; a first certificate being ordered or staged
 * is "missing", as in the summary (acme_status_summary_class). */
static const char *card_state(json_t *d)
{
    const char *state = str(d, "state");

    if (!state || !strcmp(state, ACME_STATE_MISSING)) {
        return "missing";
    }
    if (!strcmp(state, ACME_STATE_RENEWAL_FAILING)) {
        return "renewal-failing";
    }
    if (!strcmp(state, ACME_STATE_REVOKED)) {
        return "revoked";
    }
    if (!strcmp(state, ACME_STATE_FAILING) || !strcmp(state, ACME_STATE_EXPIRED)) {
        return "failing";
    }
    if (!strcmp(state, ACME_STATE_RENEWING) || !strcmp(state, ACME_STATE_STAGED)) {
        return json_is_object(json_object_get(d, "cert")) ? "renewing" : "missing";
    }
    return "valid";
}

/* The badge's words for the shown state. */
static const char *state_label(json_t *d)
{
    const char *state = str(d, "state");
    static const struct { const char *state, *label; } labels[] = {
        { ACME_STATE_VALID, "Valid" }, { ACME_STATE_RENEWAL_FAILING, "Valid, renewal failing" },
        { ACME_STATE_FAILING, "Failing" }, { ACME_STATE_EXPIRED, "Expired" },
        { ACME_STATE_RENEWING, "Renewing" }, { ACME_STATE_STAGED, "New certificate staged" },
        { ACME_STATE_REVOKED, "Revoked, served until its replacement is live" },
    };
    apr_size_t i;

    for (i = 0; state && i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (!strcmp(state, labels[i].state)) {
            return labels[i].label;
        }
    }
    return "No certificate yet";
}

/* Days left, coloured and in words, so colour is never the only signal. */
static const char *days_text(apr_pool_t *p, apr_int64_t n)
{
    if (n < 0) {
        return "<span class=\"days d-red\">expired</span>";
    }
    return apr_psprintf(p, "<span class=\"days %s\">%" APR_INT64_T_FMT " day%s left%s</span>",
                        n <= DAYS_RED ? "d-red" : n <= DAYS_AMBER ? "d-amber" : "d-ok", n,
                        n == 1 ? "" : "s",
                        n <= DAYS_RED ? " (urgent)" : n <= DAYS_AMBER ? " (soon)" : "");
}

static const char *days_html(apr_pool_t *p, json_t *d)
{
    json_t *days = json_object_get(d, "days_left");

    return json_is_integer(days) ? days_text(p, (apr_int64_t)json_integer_value(days)) : "";
}

static void row(out_t *o, const char *label, const char *html)
{
    putf(o, "<dt>%s</dt><dd>%s</dd>", label, html && *html ? html : "&ndash;");
}

static void problem_html(out_t *o, json_t *d)
{
    json_t *error = json_object_get(d, "error"), *attempts = json_object_get(d, "attempts");
    const char *type = str(error, "type");
    int from_ca = type && !strncmp(type, "urn:ietf:params:acme:error:", 27);

    if (!json_is_true(json_object_get(d, "failing")) || !json_is_object(error)) {
        return;
    }
    if (from_ca) {
        type += 27;
    }
    /* Only an RFC 8555 problem document is the CA's word (section 6.7); a
     * failing hook, the store or an unreachable CA is not. */
    putf(o, "<div class=\"problem\"><p><strong>%s%s%s%s:</strong> %s</p>",
               from_ca ? "CA error" : "Error", type ? " (" : "", esc(o->pool, type), type ? ")" : "",
               esc(o->pool, str(error, "detail") ? str(error, "detail") : "no detail"));
    putf(o, "<p class=\"since\"><strong>%s since %s</strong> &middot; %"
               APR_INT64_T_FMT " failed attempt%s &middot; last failure %s &middot; "
               "next attempt %s</p>",
               json_is_true(json_object_get(d, "renewal_failing")) ? "Renewal failing"
                                                                   : "Failing",
               when(o->pool, str(error, "since") ? str(error, "since") : str(error, "at")),
               json_is_integer(attempts) ? (apr_int64_t)json_integer_value(attempts) : 0,
               json_integer_value(attempts) == 1 ? "" : "s",
               when(o->pool, str(error, "at")),
               when_s(o->pool, str(d, "next_action")));
    putf(o, "<p class=\"advice\">What to do: %s</p></div>",
               esc(o->pool, str(d, "advice")));
}

static void notes_html(out_t *o, json_t *d)
{
    json_t *warning = json_object_get(d, "warning");

    if (str(d, "record_behind_since")) {
        putf(o, "<p class=\"note\"><strong>Out of date since %s:</strong> the server could not "
             "write its record of this certificate (the store is full or read-only; the error "
             "log says &quot;cannot write the status file&quot;), so what this card shows is "
             "from before then.</p>", when(o->pool, str(d, "record_behind_since")));
    }

    if (json_is_object(warning)) {
        putf(o, "<p class=\"note\"><strong>Warning: expires %s.</strong> %s</p>",
                   when(o->pool, str(warning, "expires_at")),
                   esc(o->pool, str(warning, "message")));
    }
    if (str(d, "notice")) {
        putf(o, "<p class=\"note\">Notice: %s</p>", esc(o->pool, str(d, "notice")));
    }
    if (str(d, "activity")) {
        putf(o, "<p class=\"note\">In progress: %s</p>", esc(o->pool, str(d, "activity")));
    }
    if (json_is_object(json_object_get(d, "activation_held"))) {
        json_t *held = json_object_get(d, "activation_held");

        putf(o, "<p class=\"note\"><strong>Activation held until %s (%" APR_INT64_T_FMT
             " refused):</strong> staged certificates were refused in a row, so what is "
             "staged now is neither checked nor made live before then (but a certificate for "
             "the server's current key, once); apachectl graceful does it now.</p>",
             when(o->pool, str(held, "until")),
             (apr_int64_t)json_integer_value(json_object_get(held, "refusals")));
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
static void events_html(out_t *o, json_t *d)
{
    json_t *history = json_object_get(d, "history"), *error = json_object_get(d, "error");
    apr_array_header_t *lines = apr_array_make(o->pool, 12, sizeof(event_line_t));
    event_line_t *e;
    size_t i;
    int n;

    for (i = 0; i < json_array_size(history); i++) {
        json_t *v = json_array_get(history, i);
        if (str(v, "issued_at")) {
            e = apr_array_push(lines);
            e->at = str(v, "issued_at");
            e->html = apr_psprintf(o->pool, "certificate version %s issued%s",
                                   esc(o->pool, str(v, "version")),
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
            e->html = apr_psprintf(o->pool, "attempt failed: %s",
                                   esc(o->pool, str(error, "detail") ? str(error, "detail")
                                                                     : "no detail"));
        }
    }
    put(o, "<h2>Last events</h2>");
    if (lines->nelts == 0) {
        put(o, "<p>None yet.</p>");
        return;
    }
    qsort(lines->elts, (size_t)lines->nelts, sizeof(event_line_t), event_newer_first);
    put(o, "<ul class=\"events\">");
    for (n = 0; n < lines->nelts && n < 10; n++) {
        e = &APR_ARRAY_IDX(lines, n, event_line_t);
        putf(o, "<li><time>%s</time> %s</li>", when(o->pool, e->at), e->html);
    }
    put(o, "</ul>");
}

static void detail_html(out_t *o, json_t *d)
{
    json_t *ari = json_object_get(d, "ari"), *history = json_object_get(d, "history");
    size_t i;

    put(o, "<dl>");
    row(o, "Step", esc(o->pool, str(d, "step")));
    row(o, "CA", esc(o->pool, str(d, "ca")));
    row(o, "ACME requests", apr_psprintf(o->pool, "%" APR_INT64_T_FMT,
                                         (apr_int64_t)json_integer_value(
                                             json_object_get(d, "requests"))));
    row(o, "ARI window", json_is_object(ari)
        ? apr_pstrcat(o->pool, when(o->pool, str(ari, "start")), " &ndash; ",
                      when(o->pool, str(ari, "end")), NULL) : "not offered by the CA");
    row(o, "Chosen renewal time", json_is_object(ari) ? when(o->pool, str(ari, "chosen")) : "");
    put(o, "</dl>");
    events_html(o, d);
    put(o, "<h2>Versions</h2>");
    if (json_array_size(history) == 0) {
        put(o, "<p>None yet.</p>");
        return;
    }
    put(o, "<table><tr><th>Version</th><th>Issued</th><th></th></tr>");
    for (i = 0; i < json_array_size(history); i++) {
        json_t *v = json_array_get(history, i);

        putf(o, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>", esc(o->pool, str(v, "version")),
                   when(o->pool, str(v, "issued_at")),
                   json_is_true(json_object_get(v, "live")) ? "live" : "");
    }
    put(o, "</table>");
}

/* The escaped prefix of detail links on this page (.../acme-status/NAME
 * relative to the request's URI): "" or "acme-status/". */
static const char *href_prefix(apr_pool_t *p, const char *uri)
{
    const char *last = strrchr(uri, '/');

    if (!last || !last[1]) {
        return "";
    }
    return esc(p, apr_pstrcat(p, ap_escape_path_segment(p, last + 1), "/", NULL));
}

const char *acme_status_html_href_base(apr_pool_t *p, const char *uri)
{
    return href_prefix(p, uri);
}

/* The card's class: its state, "expiring" for a valid one expiring soon. */
static const char *card_class(const char *state, int expiring)
{
    return expiring && !strcmp(state, "valid") ? "expiring" : state;
}

/* Days left and "expiring soon", closing the badge line. */
static const char *days_close(apr_pool_t *p, const char *days, int expiring)
{
    return apr_pstrcat(p, days, expiring ? " <span>&middot; expiring soon</span>" : "", "</p>",
                       NULL);
}

/* From after the card's link target up to the badge (names, state). */
static void card_title_tail(out_t *o, json_t *d)
{
    const char *state = card_state(d), *name = str(d, "name");

    putf(o, "\">%s</a></h2>", esc(o->pool, name));
    putf(o, "<p class=\"names\">%s</p>", names_text(o->pool, json_object_get(d, "names")));
    putf(o, "<p><span class=\"badge b-%s\">%s</span>", state, state_label(d));
}

/* next_action_text without its leading "goes live " (the row's title says
 * it); without a text, the words of schema 13. */
static const char *goes_live_words(const char *text)
{
    static const char lead[] = "goes live ";

    if (!text) {
        return "at the next graceful restart";
    }
    return strncmp(text, lead, sizeof(lead) - 1) ? text : text + sizeof(lead) - 1;
}

/* Where the first certificate of a domain without one stands: obtained and
 * waiting to go live, being ordered now, the next attempt after a failure,
 * or the time its order is queued for ("queued" when it is due now). Never
 * a "renewal": there is nothing to renew yet. */
static const char *first_order(apr_pool_t *p, json_t *d)
{
    const char *step = str(d, "step"), *next = str(d, "next_action");
    apr_time_t at;

    if (step && !strcmp(step, "staged")) {
        const char *obtained = json_is_true(json_object_get(json_object_get(d, "staged"),
                                                            "served"))
                               ? "obtained and served early, going live in the store"
                               : "obtained, going live";

        /* the words, which know a backoff or a batch; the time alone does not */
        return str(d, "next_action_text")
            ? apr_pstrcat(p, obtained, " ",
                          esc(p, goes_live_words(str(d, "next_action_text"))), NULL)
            : next ? apr_pstrcat(p, obtained, " at the automatic graceful restart at ",
                                 when_s(p, next), NULL)
                   : apr_pstrcat(p, obtained, " at the next graceful restart", NULL);
    }
    if (step && strcmp(step, "idle")) {
        return apr_pstrcat(p, "in progress (step: ", esc(p, step), ")", NULL);
    }
    if (json_is_true(json_object_get(d, "failing"))) {
        /* a text says why no attempt comes by itself (a level refusal) */
        return str(d, "next_action_text") ? esc(p, str(d, "next_action_text"))
               : apr_pstrcat(p, "next attempt ", when_s(p, next), NULL);
    }
    if (next && acme_time_rfc3339_parse(next, &at) == APR_SUCCESS && at > apr_time_now()) {
        return apr_pstrcat(p, "queued for ", when(p, next), NULL);
    }
    return "queued";              /* due now: the child takes it at its next look */
}

/* From the facts list to the card's end. */
static void card_body(out_t *o, json_t *d, int detail)
{
    json_t *cert = json_object_get(d, "cert");
    /* a first certificate obtained and waiting to go live: its facts, not "–" */
    json_t *shown = json_is_object(cert) ? cert : json_object_get(d, "staged");

    put(o, "<dl>");
    row(o, "Issuer", esc(o->pool, str(shown, "issuer")));
    row(o, "Key type", esc(o->pool, str(d, "key_type")));
    row(o, "Valid until", json_is_object(shown) ? when(o->pool, str(shown, "not_after")) : "");
    if (json_is_object(cert) && json_is_true(json_object_get(d, "failing"))) {
        /* the planned renewal time has passed or does not matter now */
        row(o, "Next attempt", when_s(o->pool, str(d, "next_action")));
    }
    else if (json_is_object(cert) && str(d, "state") && !strcmp(str(d, "state"),
                                                                ACME_STATE_STAGED)) {
        /* the held restart's time, as ACME00734 and acmectl give it; the
         * words say whether it comes by itself (AcmeActivation auto) */
        row(o, "Goes live", str(d, "next_action_text")
            ? esc(o->pool, goes_live_words(str(d, "next_action_text")))
            : str(d, "next_action")
            ? apr_pstrcat(o->pool, "at the automatic graceful restart at ",
                          when_s(o->pool, str(d, "next_action")),
                          " (automatic restarts are rate-limited; apachectl graceful makes it "
                          "live now)", NULL)
            : goes_live_words(NULL));
    }
    else if (json_is_object(cert)) {
        /* the certificate's own due time: the driver's next look is no renewal */
        row(o, "Next renewal", when(o->pool, str(d, "renew_at")));
    }
    else {
        row(o, "First order", first_order(o->pool, d));
    }
    if (detail) {
        row(o, "Issued", json_is_object(shown) ? when(o->pool, str(shown, "not_before")) : "");
        row(o, "Serial", esc(o->pool, str(shown, "serial")));
    }
    put(o, "</dl>");
    problem_html(o, d);
    notes_html(o, d);
    if (detail) {
        detail_html(o, d);
    }
    put(o, "</article>\n");
}

static void card_html(out_t *o, json_t *d, int detail)
{
    const char *state = card_state(d), *name = str(d, "name");
    int expiring = json_is_true(json_object_get(d, "expiring_soon"));

    putf(o, "<article class=\"card s-%s\">", card_class(state, expiring));
    if (detail) {
        putf(o, "<h2>%s</h2>", esc(o->pool, name));
        putf(o, "<p class=\"names\">%s</p>", names_text(o->pool, json_object_get(d, "names")));
        putf(o, "<p><span class=\"badge b-%s\">%s</span>", state, state_label(d));
    }
    else {
        putf(o, "<h2><a href=\"%s%s", href_prefix(o->pool, o->uri),
             esc(o->pool, ap_escape_path_segment(o->pool, name ? name : "")));
        card_title_tail(o, d);
    }
    put(o, days_close(o->pool, days_html(o->pool, d), expiring));
    card_body(o, d, detail);
}

static const char *flatten(out_t *o)
{
    char *text;
    apr_size_t len;

    if (apr_brigade_pflatten(o->bb, &text, &len, o->pool) != APR_SUCCESS) {
        return "";
    }
    apr_brigade_cleanup(o->bb);
    return apr_pstrmemdup(o->pool, text, len);
}

void acme_status_html_card(apr_pool_t *p, json_t *d, acme_status_card_t *card)
{
    out_t o = { p, apr_brigade_create(p, apr_bucket_alloc_create(p)), "", 0 };

    card->state = card_state(d);
    put(&o, esc(p, ap_escape_path_segment(p, str(d, "name") ? str(d, "name") : "")));
    card_title_tail(&o, d);
    card->title = flatten(&o);
    /* the badge line's end goes with the days (days_close) */
    card_body(&o, d, 0);
    card->body = flatten(&o);
}

const char *acme_status_html_card_open(apr_pool_t *p, const char *uri, const char *state,
                                       int expiring)
{
    return apr_pstrcat(p, "<article class=\"card s-", card_class(state, expiring),
                       "\"><h2><a href=\"", href_prefix(p, uri), NULL);
}

const char *acme_status_html_card_days(apr_pool_t *p, int has_days, apr_int64_t days,
                                       int expiring)
{
    return days_close(p, has_days ? days_text(p, days) : "", expiring);
}

/* The summary line; a certificate still valid whose renewal fails is
 * counted apart from valid and from failing, as in the JSON; staged ones
 * apart from those still waited for (manual: with what makes them live). */
static const char *summary_text(apr_pool_t *p, json_t *s, int manual)
{
    apr_int64_t total = json_integer_value(json_object_get(s, "total"));
    apr_int64_t renewal = json_integer_value(json_object_get(s, "renewal_failing"));
    apr_int64_t staged = json_integer_value(json_object_get(s, "staged"));

    return apr_psprintf(p, "%" APR_INT64_T_FMT " certificate%s: %" APR_INT64_T_FMT " valid, %s%"
                        APR_INT64_T_FMT " renewing, %" APR_INT64_T_FMT " failing, %"
                        APR_INT64_T_FMT " expiring soon%s%s",
                        total, total == 1 ? "" : "s",
                        (apr_int64_t)json_integer_value(json_object_get(s, "valid")),
                        renewal ? apr_psprintf(p, "%" APR_INT64_T_FMT " valid with renewal "
                                               "failing, ", renewal) : "",
                        (apr_int64_t)json_integer_value(json_object_get(s, "renewing")),
                        (apr_int64_t)json_integer_value(json_object_get(s, "failing")),
                        (apr_int64_t)json_integer_value(json_object_get(s, "expiring_soon")),
                        staged ? apr_psprintf(p, ", %" APR_INT64_T_FMT " staged%s", staged,
                                              manual ? " (needs apachectl graceful)" : "")
                               : "",
                        json_integer_value(json_object_get(s, "missing"))
                        ? apr_psprintf(p, ", %" APR_INT64_T_FMT " waiting for the first",
                                       (apr_int64_t)json_integer_value(
                                           json_object_get(s, "missing")))
                        : "");
}

static void page_head(out_t *o, json_t *summary, const char *title, int detail, int empty)
{
    putf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>%s &middot; mod_acme</title><style>%s</style></head><body>\n",
         title ? esc(o->pool, title) : "Certificates", STYLE);
    putf(o, "<header><h1>%s</h1>", detail ? "Certificate" : "Certificates");
    if (detail) {
        /* ".../acme-status/NAME" or ".../acme-status/NAME/" */
        putf(o, "<p><a href=\"%s\">&larr; all certificates</a></p>",
             o->uri && *o->uri && o->uri[strlen(o->uri) - 1] == '/' ? "../" : "./");
    }
    else {
        putf(o, "<p class=\"summary\" id=\"summary\">%s</p>", summary_text(o->pool, summary, o->manual));
    }
    put(o, "</header>\n");
    if (empty) {
        put(o, "<p>No AcmeDomain is configured.</p>");
    }
    put(o, "<main class=\"grid\">\n");
}

/* AcmeClusterKeyFile NEW OLD: how far the key rotation is. */
static void rotation_html(out_t *o, json_t *rot)
{
    const char *state = json_string_value(json_object_get(rot, "state"));
    const char *neu = esc(o->pool, str(rot, "key_id"));
    const char *old = esc(o->pool, str(rot, "previous_key_id"));
    const char *who = NULL;
    json_t *v;
    size_t i;

    if (!state) {
        return;
    }
    putf(o, "<p>Key rotation <code>%s</code> &rarr; <code>%s</code>: ", old, neu);
    if (!strcmp(state, "waiting")) {
        json_array_foreach(json_object_get(rot, "waiting_for"), i, v) {
            who = apr_pstrcat(o->pool, who ? who : "", who ? ", " : "",
                              esc(o->pool, json_string_value(v) ?: "?"), NULL);
        }
        putf(o, "<strong>in progress</strong>, sealing with <code>%s</code> until node(s) "
             "<code>%s</code> have <code>%s</code>", old, who ? who : "-", neu);
    }
    else if (!strcmp(state, "resealing")) {
        putf(o, "<strong>in progress</strong>, sealing with <code>%s</code>, re-sealing what "
             "Redis holds under <code>%s</code> (%" APR_INT64_T_FMT " value(s) so far)", neu,
             old, (apr_int64_t)json_integer_value(json_object_get(rot, "resealed")));
    }
    else {
        putf(o, "<strong>done</strong>, nothing in Redis under <code>%s</code>", old);
    }
    put(o, "</p>\n");
}

/* AcmeCluster: Redis reachable or not, every node and when it was last
 * seen, the keys it opens and seals with, and who holds which
 * certificate's claim. */
static void cluster_html(out_t *o, json_t *c)
{
    json_t *v;
    size_t i;

    if (!c) {
        return;
    }
    putf(o, "<section id=\"cluster\"><h2>Cluster</h2><p>This node: <code>%s</code> &middot; "
         "Redis <code>%s</code>: <strong>%s</strong>", esc(o->pool, str(c, "node")),
         esc(o->pool, str(c, "url")), esc(o->pool, str(c, "redis")));
    if (json_is_true(json_object_get(c, "key_mismatch"))) {
        putf(o, " &middot; <strong>this node's cluster key is not the cluster's</strong>: %s",
             esc(o->pool, str(c, "error")));
    }
    else if (json_string_value(json_object_get(c, "error"))) {
        putf(o, " since %s (%s)", when(o->pool, str(c, "down_since")),
             esc(o->pool, str(c, "error")));
    }
    putf(o, " &middot; checked %s</p>\n", when(o->pool, str(c, "checked_at")));
    rotation_html(o, json_object_get(c, "rotation"));
    put(o, "<table><tr><th>Node</th><th>Last seen</th><th>Certificates</th><th>Keys it "
        "opens</th><th>Seals with</th></tr>");
    json_array_foreach(json_object_get(c, "nodes"), i, v) {
        const char *keys = NULL;
        json_t *id;
        size_t k;

        json_array_foreach(json_object_get(v, "key_ids"), k, id) {
            keys = apr_pstrcat(o->pool, keys ? keys : "", keys ? " " : "",
                               esc(o->pool, json_string_value(id) ?: "?"), NULL);
        }
        putf(o, "<tr><td><code>%s</code></td><td>%s</td><td>%lu</td><td><code>%s</code></td>"
             "<td><code>%s</code>%s</td></tr>", esc(o->pool, str(v, "node")),
             when(o->pool, str(v, "last_seen")),
             (unsigned long)json_object_size(json_object_get(v, "certificates")),
             keys ? keys : "-", esc(o->pool, str(v, "seals_with")),
             json_is_true(json_object_get(v, "key_mismatch"))
             ? " <strong>(wrong cluster key: it cannot open what the cluster seals; give it "
               "this cluster's AcmeClusterKeyFile)</strong>"
             : json_is_true(json_object_get(v, "unreadable")) ? " (a key this node does not have)"
             : "");
    }
    put(o, "</table>\n<p>Order claims: ");
    if (!json_array_size(json_object_get(c, "locks"))) {
        put(o, "none (no node is ordering)");
    }
    json_array_foreach(json_object_get(c, "locks"), i, v) {
        putf(o, "%s<code>%s</code> by <code>%s</code>", i ? ", " : "",
             esc(o->pool, str(v, "name")), esc(o->pool, str(v, "node")));
    }
    put(o, "</p></section>\n");
}

/* The footer says when the page was made and since when what it shows is
 * the store's state (as_of, to the second: a page served as it is while a
 * render runs is a few seconds older). */
static void page_foot(out_t *o, const char *generated_at, const char *as_of, json_t *cluster)
{
    put(o, "</main>");
    cluster_html(o, cluster);
    putf(o, "<footer>mod_acme %s &middot; %s &middot; state as of %s UTC &middot; "
         "<a href=\"?format=json\">JSON</a></footer></body></html>\n",
         esc(o->pool, ACME_VERSION), when(o->pool, generated_at),
         as_of && strlen(as_of) >= 19
         ? esc(o->pool, apr_pstrcat(o->pool, apr_pstrndup(o->pool, as_of, 10), " ",
                                    apr_pstrndup(o->pool, as_of + 11, 8), NULL))
         : "&ndash;");
}

static int send_out(request_rec *r, out_t *o)
{
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only) {
        return OK;
    }
    ap_pass_brigade(r->output_filters, o->bb);
    return OK;
}

/* With AcmeActivation manual nothing staged goes live by itself. */
static int activation_manual(request_rec *r)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);

    return rt && !rt->activation_auto;
}

int acme_status_send_html(request_rec *r, json_t *doc, int detail)
{
    json_t *domains = json_object_get(doc, "domains");
    out_t o = { r->pool, apr_brigade_create(r->pool, r->connection->bucket_alloc), r->uri,
                activation_manual(r) };
    size_t i;

    page_head(&o, json_object_get(doc, "summary"),
              detail && json_array_size(domains) ? str(json_array_get(domains, 0), "name")
                                                 : NULL, detail, json_array_size(domains) == 0);
    for (i = 0; i < json_array_size(domains); ++i) {
        card_html(&o, json_array_get(domains, i), detail);
    }
    page_foot(&o, str(doc, "generated_at"), str(doc, "as_of"),
              detail ? NULL : json_object_get(doc, "cluster"));
    return send_out(r, &o);
}

int acme_status_html_send_overview(request_rec *r, json_t *summary, const char *generated_at,
                                   const char *as_of, json_t *cluster, int n, apr_bucket *cards)
{
    out_t o = { r->pool, apr_brigade_create(r->pool, r->connection->bucket_alloc), r->uri,
                activation_manual(r) };

    page_head(&o, summary, NULL, 0, n == 0);
    APR_BRIGADE_INSERT_TAIL(o.bb, cards);
    page_foot(&o, generated_at, as_of, cluster);
    return send_out(r, &o);
}
