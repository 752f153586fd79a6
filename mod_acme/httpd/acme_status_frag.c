/* The status page's overview, assembled per request from the shared page
 * (acme_status_page.c): each certificate's JSON object or HTML card as
 * rendered, with what moves with the clock (days_left, expiring_soon, the
 * card's colour and days) and the summary made here. The text is byte for
 * byte what acme_status_document and acme_status_send_html make. The answer
 * goes out from an unlinked file (megabytes at 10,000 certificates), not
 * from this child's heap. */
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <apr_strings.h>
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
#include "acme_cluster_view.h"

/* Fewer days than this left counts as expiring soon (as acme_status.c). */
#define EXPIRING_SOON_DAYS  7
#define JSON_FLAGS          (JSON_INDENT(2) | JSON_PRESERVE_ORDER)

/* The document's head and tail around the certificates: the document with
 * an empty "domains", cut at its "[]". */
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
    text = doc ? json_dumps(doc, JSON_FLAGS) : NULL;

    json_decref(doc);
    if (!text || !(cut = strstr(text, "\"domains\": []"))) {
        free(text);
        return 0;
    }
    cut += strlen("\"domains\": ");
    *head = apr_pstrndup(p, text, (apr_size_t)(cut - text));
    *tail = apr_pstrdup(p, cut + 2);
    free(text);
    return 1;
}

/* The answer: body (len bytes), which the brigade takes. */
static int send_json(request_rec *r, apr_bucket *body, apr_size_t len)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);

    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    APR_BRIGADE_INSERT_TAIL(bb, body);
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

/* The answer's text as one bucket for r: written into an unlinked file in
 * dir (status/.page) and sent from there (sendfile or mapped, never copied
 * into this child's heap: at 10,000 certificates it is megabytes); in
 * r->pool when the file cannot be written. */
static apr_bucket *pieces_bucket(request_rec *r, const char *dir, const pieces_t *out)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_file_t *file = NULL;
    apr_size_t done;
    int i, step;

    if (dir && apr_file_mktemp(&file, apr_pstrcat(r->pool, dir, "/answer.XXXXXX", NULL),
                               APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE
                               | APR_FOPEN_EXCL, r->pool) == APR_SUCCESS) {
        const char *path = NULL;

        apr_file_name_get(&path, file);
        if (path) {
            unlink(path);
        }
        for (i = 0; file && i < out->v->nelts; i += step) {
            step = out->v->nelts - i < 512 ? out->v->nelts - i : 512;
            if (apr_file_writev_full(file, &APR_ARRAY_IDX(out->v, i, struct iovec), step, &done)
                != APR_SUCCESS) {
                apr_file_close(file);
                file = NULL;
            }
        }
        if (file) {
            return apr_bucket_file_create(file, 0, out->len, r->pool, ba);
        }
    }
    return apr_bucket_pool_create(flatten(r->pool, out), out->len, r->pool, ba);
}

/* Every domain's text from page gathered into out with the clock's values,
 * the summary counted. 0 when page is not of these domains. */
static int gather(request_rec *r, acme_runtime_t *rt, const acme_page_t *page, int json,
                  pieces_t *out, json_int_t count[7])
{
    apr_time_t now = apr_time_now();
    int i;

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
            days = (apr_int64_t)(left / apr_time_from_sec(86400));
            if (left < 0 && left % apr_time_from_sec(86400)) {
                --days;           /* floor: an expired certificate has negative days */
            }
        }
        expiring = e->has_live && (days < EXPIRING_SOON_DAYS || e->warning);
        count[0]++;
        count[1 + e->cls]++;
        count[6] += expiring;
        if (json) {
            add(out, i ? ",\n    " : "\n    ", i ? 6 : 5);
            add(out, acme_page_str(page, e, ACME_PAGE_JSON0), e->len[ACME_PAGE_JSON0]);
            add_str(out, e->has_live ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT, days)
                                     : "null");
            add(out, acme_page_str(page, e, ACME_PAGE_JSON1), e->len[ACME_PAGE_JSON1]);
            add_str(out, expiring ? "true" : "false");
            add(out, acme_page_str(page, e, ACME_PAGE_JSON2), e->len[ACME_PAGE_JSON2]);
        }
        else {
            add_str(out, acme_status_html_card_open(r->pool, r->uri,
                                                    acme_page_str(page, e, ACME_PAGE_STATE),
                                                    expiring));
            add(out, acme_page_str(page, e, ACME_PAGE_TITLE), e->len[ACME_PAGE_TITLE]);
            add_str(out, acme_status_html_card_days(r->pool, e->has_live, days, expiring));
            add(out, acme_page_str(page, e, ACME_PAGE_BODY), e->len[ACME_PAGE_BODY]);
        }
    }
    return 1;
}

int acme_status_frag_send(request_rec *r, int json)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    pieces_t out;
    /* total, valid, renewing, failing, missing, renewal failing, expiring */
    json_int_t count[7] = { 0 };
    const char *generated_at, *as_of_text, *head, *tail, *dir;
    apr_time_t as_of;
    json_t *summary;
    acme_page_t page;

    if (!rt || !rt->store || !rt->domains) {
        return DECLINED;
    }
    dir = acme_store_path(rt->store, r->pool, ACME_STORE_STATUS "/" ACME_STORE_STATUS_PAGE_DIR);
    memset(&page, 0, sizeof(page));
    if (!acme_status_page_get(r->pool, rt, &page, &as_of)) {
        return DECLINED;
    }
    out.v = apr_array_make(r->pool, rt->domains->nelts * 6 + 4, sizeof(struct iovec));
    out.len = 0;
    if (json) {
        add(&out, "", 0);         /* the head, once the summary is known */
    }
    if (!gather(r, rt, &page, json, &out, count)) {
        return DECLINED;
    }
    generated_at = acme_time_rfc3339(r->pool, apr_time_now());
    as_of_text = acme_time_rfc3339(r->pool, as_of);
    /* as acme_status.c's summary: a renewal failing counts as failing too */
    summary = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "total", count[0],
                        "valid", count[1 + ACME_PAGE_CLS_VALID],
                        "renewing", count[1 + ACME_PAGE_CLS_RENEWING],
                        "failing", count[1 + ACME_PAGE_CLS_FAILING]
                                   + count[1 + ACME_PAGE_CLS_RENEWAL_FAILING],
                        "renewal_failing", count[1 + ACME_PAGE_CLS_RENEWAL_FAILING],
                        "missing", count[1 + ACME_PAGE_CLS_MISSING],
                        "expiring_soon", count[6]);
    if (!summary) {
        return DECLINED;
    }
    acme_json_pool_owned(r->pool, summary);
    if (!json) {
        return acme_status_html_send_overview(r, summary, generated_at, as_of_text,
                                              acme_cluster_view_read(rt, r->pool),
                                              (int)count[0], pieces_bucket(r, dir, &out));
    }
    if (!json_frame(r->pool, summary, generated_at, as_of_text,
                    acme_cluster_view_read(rt, r->pool), &head, &tail)) {
        return DECLINED;
    }
    head = apr_pstrcat(r->pool, head, "[", NULL);
    APR_ARRAY_IDX(out.v, 0, struct iovec).iov_base = (void *)head;
    APR_ARRAY_IDX(out.v, 0, struct iovec).iov_len = strlen(head);
    out.len += strlen(head);
    add_str(&out, count[0] ? "\n  ]" : "]");
    add_str(&out, tail);
    add_str(&out, "\n");
    return send_json(r, pieces_bucket(r, dir, &out), out.len);
}
