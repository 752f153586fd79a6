/* The status page's overview, assembled per request from the shared page
 * (acme_status_page.c): each certificate's JSON object or HTML card as
 * rendered, with what moves with the clock (days_left, expiring_soon, the
 * card's colour and days) and the summary made here. The text is byte for
 * byte what acme_status_document and acme_status_send_html make. The
 * certificates' part (megabytes at 10,000 certificates) is assembled once
 * per page content, format and day boundary into a file every child shares
 * (acme_status_answer.c) and sent from there, not from this child's heap;
 * the frame around it (generated_at, as_of, the summary, the cluster view)
 * is made per request. */
#include <stddef.h>   /* offsetof first: APR's ring macros fall back to NULL arithmetic */
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_file_io.h>
#include <httpd.h>
#include <http_protocol.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_json.h"
#include "acme_store_paths.h"
#include "acme_status.h"
#include "acme_status_page.h"
#include "acme_status_answer.h"
#include "acme_status_pieces.h"
#include "acme_cluster_view.h"

/* Fewer days than this left counts as expiring soon (as acme_status.c). */
#define EXPIRING_SOON_DAYS  7

/* The document's head and tail around the certificates: the document with
 * an empty "domains", cut at its "[]" (head ends with the "[", tail starts
 * with the "]"). */
static int json_frame(apr_pool_t *p, json_t *summary, const char *generated_at,
                      const char *as_of, json_t *cluster, const char **head, const char **tail)
{
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:O, s:[]}", "schema", ACME_STATUS_SCHEMA,
                            "version", ACME_VERSION, "generated_at", generated_at,
                            "as_of", as_of, "summary", summary, "domains");
    char *text, *cut;

    if (doc && cluster) {
        json_object_set(doc, "cluster", cluster);
    }
    text = doc ? json_dumps(doc, ACME_STATUS_JSON_FLAGS) : NULL;

    json_decref(doc);
    if (!text || !(cut = strstr(text, "\"domains\":[]"))) {
        free(text);
        return 0;
    }
    cut += strlen("\"domains\":[");
    *head = apr_pstrndup(p, text, (apr_size_t)(cut - text));
    *tail = apr_pstrdup(p, cut);
    free(text);
    return 1;
}

/* The answer: head, body (len bytes, which the brigade takes), tail. */
static int send_json(request_rec *r, const char *head, apr_bucket *body, apr_size_t len,
                     const char *tail)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);

    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, strlen(head) + len + strlen(tail));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(head, strlen(head), ba));
    APR_BRIGADE_INSERT_TAIL(bb, body);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(tail, strlen(tail), ba));
    if (!r->header_only) {
        ap_pass_brigade(r->output_filters, bb);
    }
    return OK;
}


/* Pieces of the answer. */
typedef struct pieces_t {
    apr_array_header_t *v;        /* struct iovec */
    apr_size_t len;
} pieces_t;

static void add(pieces_t *out, const void *base, apr_size_t len)
{
    struct iovec *v = apr_array_push(out->v);

    v->iov_base = (void *)base;
    v->iov_len = len;
    out->len += len;
}

static void add_str(pieces_t *out, const char *s)
{
    add(out, s, strlen(s));
}

static char *flatten(apr_pool_t *p, const pieces_t *out)
{
    char *text = apr_palloc(p, out->len + 1), *at = text;
    int i;

    for (i = 0; i < out->v->nelts; i++) {
        const struct iovec *v = &APR_ARRAY_IDX(out->v, i, struct iovec);
        memcpy(at, v->iov_base, v->iov_len);
        at += v->iov_len;
    }
    *at = '\0';
    return text;
}

/* the answer file holds every count gather makes */
typedef char acme_counts_fit[ACME_STATUS_ANSWER_COUNTS == ACME_PAGE_CLS_N + 2 ? 1 : -1];

/* Every domain's text from page gathered into out (pieces from p) with the
 * clock's values at now, the summary counted into count, and the first moment
 * (apr_time_t) a certificate's days left (and with them expiring soon)
 * would read differently into *valid_until. 0 when page is not of these
 * domains. */
static int gather(request_rec *r, apr_pool_t *p, acme_runtime_t *rt, const acme_page_t *page,
                  int json, apr_time_t now, pieces_t *out, apr_int64_t *count,
                  apr_time_t *valid_until)
{
    const apr_time_t day = apr_time_from_sec(86400);
    apr_hash_t *made = apr_hash_make(p);
    int i;

    *valid_until = APR_INT64_MAX;
    for (i = 0; i < rt->domains->nelts; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        const acme_page_entry_t *e = &page->entries[i];
        const char *s = page->base + e->off;
        apr_int64_t days = 0;
        int expiring;

        if (strcmp(s, d->name)) {
            return 0;
        }
        if (e->has_live) {
            apr_time_t left = e->not_after - now;
            days = (apr_int64_t)(left / day);
            if (left < 0 && left % day) {
                --days;           /* floor: an expired certificate has negative days */
            }
            /* days stays while not_after - now >= days * day */
            if (e->not_after - days * day + 1 < *valid_until) {
                *valid_until = e->not_after - days * day + 1;
            }
        }
        expiring = e->has_live && (days < EXPIRING_SOON_DAYS || e->warning);
        count[0]++;
        count[1 + e->cls]++;
        count[1 + ACME_PAGE_CLS_N] += expiring;
        if (json) {
            if (i) {
                add(out, ",", 1);
            }
            add(out, acme_page_str(page, e, ACME_PAGE_JSON0), e->len[ACME_PAGE_JSON0]);
            add_str(out, e->has_live ? apr_psprintf(p, "%" APR_INT64_T_FMT, days)
                                     : "null");
            add(out, acme_page_str(page, e, ACME_PAGE_JSON1), e->len[ACME_PAGE_JSON1]);
            add_str(out, expiring ? "true" : "false");
            add(out, acme_page_str(page, e, ACME_PAGE_JSON2), e->len[ACME_PAGE_JSON2]);
        }
        else {
            /* a few states and day counts among thousands of cards: each
             * opening and badge made once */
            const char *state = acme_page_str(page, e, ACME_PAGE_STATE);
            const char *open = apr_pstrcat(p, state, expiring ? "+" : "-", NULL);
            const char *badge = apr_psprintf(p, "%d/%" APR_INT64_T_FMT "/%d",
                                             (int)e->has_live, days, expiring);
            const char *text = apr_hash_get(made, open, APR_HASH_KEY_STRING);

            if (!text) {
                text = acme_status_html_card_open(p, r->uri, state, expiring);
                apr_hash_set(made, open, APR_HASH_KEY_STRING, text);
            }
            add_str(out, text);
            add(out, acme_page_str(page, e, ACME_PAGE_TITLE), e->len[ACME_PAGE_TITLE]);
            if (!(text = apr_hash_get(made, badge, APR_HASH_KEY_STRING))) {
                text = acme_status_html_card_days(p, e->has_live, days, expiring);
                apr_hash_set(made, badge, APR_HASH_KEY_STRING, text);
            }
            add_str(out, text);
            add(out, acme_page_str(page, e, ACME_PAGE_BODY), e->len[ACME_PAGE_BODY]);
        }
    }
    return 1;
}

/* The certificates' part of the answer for key from page: the cached one
 * when it is still what gather would make, else gathered, cached and
 * sent from the new file (from r->pool when no file can be written).
 * NULL when page is not of these domains. */
static apr_bucket *answer_body(request_rec *r, acme_runtime_t *rt, const acme_page_t *page,
                               const acme_status_answer_key_t *key, acme_status_answer_t *ans)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_time_t valid_until;
    apr_status_t rv;
    apr_bucket *body;
    apr_pool_t *work;
    pieces_t out;

    memset(ans, 0, sizeof(*ans));
    if (acme_status_answer_find(r->pool, key, ans)) {
        return apr_bucket_file_create(ans->file, ans->off, ans->len, r->pool, ba);
    }
    /* the pieces (a MiB at 10,000 certificates) go back to the system
     * after the answer is written, not to this thread's free blocks */
    work = acme_runtime_scratch_pool(r->pool, "acme_status_gather");
    out.v = apr_array_make(work, rt->domains->nelts * 6 + 4, sizeof(struct iovec));
    out.len = 0;
    if (!gather(r, work, rt, page, key->json, key->now, &out, ans->count, &valid_until)) {
        apr_pool_destroy(work);
        return NULL;
    }
    rv = acme_status_answer_write(r->pool, key, (const struct iovec *)out.v->elts, out.v->nelts,
                                  valid_until, ans);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "ACME00751: status page: %s overview of %d "
                  "certificates assembled%s", key->json ? "JSON" : "HTML", rt->domains->nelts,
                  rv != APR_SUCCESS ? ", not cached (cannot write it to status/.page)"
                  : apr_psprintf(r->pool, " and cached until %s or the next change",
                                 valid_until == APR_INT64_MAX ? "-"
                                 : acme_time_rfc3339(r->pool, valid_until)));
    if (rv == APR_SUCCESS) {
        body = apr_bucket_file_create(ans->file, ans->off, ans->len, r->pool, ba);
    }
    else {
        ans->len = out.len;
        body = apr_bucket_pool_create(flatten(r->pool, &out), out.len, r->pool, ba);
    }
    apr_pool_destroy(work);
    return body;
}

int acme_status_frag_send(request_rec *r, int json)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    const char *generated_at, *as_of_text, *head, *tail;
    acme_status_answer_key_t key;
    acme_status_answer_t ans;
    apr_time_t as_of;
    apr_bucket *body;
    json_t *summary;
    acme_page_t page;

    if (!rt || !rt->store || !rt->domains) {
        return DECLINED;
    }
    memset(&page, 0, sizeof(page));
    if (!acme_status_page_get(r->pool, rt, &page, &as_of)) {
        return DECLINED;
    }
    key.dir = acme_store_path(rt->store, r->pool,
                              ACME_STORE_STATUS "/" ACME_STORE_STATUS_PAGE_DIR);
    key.page_name = acme_status_page_name_of(r->pool, rt);
    key.content = page.head->content;
    key.json = json;
    key.variant = json ? "" : acme_status_html_href_base(r->pool, r->uri);
    key.now = apr_time_now();
    if (!(body = answer_body(r, rt, &page, &key, &ans))) {
        return DECLINED;
    }
    /* made per request: an answer from the cache is still as of now */
    generated_at = acme_time_rfc3339(r->pool, key.now);
    as_of_text = acme_time_rfc3339(r->pool, as_of);
    /* as acme_status.c's summary: each certificate in exactly one class */
    summary = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                        "total", (json_int_t)ans.count[0],
                        "valid", (json_int_t)ans.count[1 + ACME_PAGE_CLS_VALID],
                        "renewing", (json_int_t)ans.count[1 + ACME_PAGE_CLS_RENEWING],
                        "staged", (json_int_t)ans.count[1 + ACME_PAGE_CLS_STAGED],
                        "failing", (json_int_t)ans.count[1 + ACME_PAGE_CLS_FAILING],
                        "renewal_failing", (json_int_t)ans.count[1 + ACME_PAGE_CLS_RENEWAL_FAILING],
                        "missing", (json_int_t)ans.count[1 + ACME_PAGE_CLS_MISSING],
                        "expiring_soon", (json_int_t)ans.count[1 + ACME_PAGE_CLS_N]);
    if (!summary) {
        apr_bucket_destroy(body);
        return DECLINED;
    }
    acme_json_pool_owned(r->pool, summary);
    if (!json) {
        return acme_status_html_send_overview(r, summary, generated_at, as_of_text,
                                              acme_cluster_view_read(rt, r->pool),
                                              (int)ans.count[0], body);
    }
    if (!json_frame(r->pool, summary, generated_at, as_of_text,
                    acme_cluster_view_read(rt, r->pool), &head, &tail)) {
        apr_bucket_destroy(body);
        return DECLINED;
    }
    return send_json(r, head, body, ans.len, apr_pstrcat(r->pool, tail, "\n", NULL));
}
