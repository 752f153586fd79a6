/* The status page's overview from cached text: each certificate's JSON
 * object and HTML card, rendered once (acme_status_domain_json,
 * acme_status_html_card) and kept until what they show changes: its status
 * record (its version, acme_status_cache.h), its live certificate, or the
 * account URL its CA error is redacted with. Only what moves with the clock
 * (days_left, expiring_soon, the card's colour and days) and the summary
 * are made per request. The text is byte for byte what acme_status_document
 * and acme_status_send_html make, at a memcpy per certificate instead of
 * building and serialising every object: 10,000 certificates cost about a
 * millisecond per thousand instead of a second.
 *
 * Memory: about 2 KB per certificate in each child process that served the
 * overview (malloc'd, one block per certificate, freed when replaced and
 * with the configuration generation). */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_protocol.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_json.h"
#include "acme_cert.h"
#include "acme_status_record.h"
#include "acme_status.h"
#include "acme_cluster_view.h"

/* Fewer days than this left counts as expiring soon (as acme_status.c). */
#define EXPIRING_SOON_DAYS  7
#define JSON_FLAGS          (JSON_INDENT(2) | JSON_PRESERVE_ORDER)
/* Where the clock's members sit in one certificate's object, dumped alone. */
#define DAYS_KEY            "\n  \"days_left\": "
#define EXPIRING_KEY        "\n  \"expiring_soon\": "

enum { CLS_VALID, CLS_RENEWING, CLS_FAILING, CLS_MISSING };

/* One certificate's text and what it was made from; one malloc'd block. */
typedef struct frag_t {
    int has_rec;
    apr_uint64_t version;         /* its record's */
    int has_live;
    apr_time_t not_before, not_after;
    const char *serial, *issuer;  /* the live certificate's, NULL when none */
    const char *account;          /* the account URL redacted, NULL when none */
    int cls;                      /* CLS_*: its place in the summary */
    int warning;                  /* its "warning" is an object */
    const char *state;            /* the card's state */
    struct iovec json[3];         /* JSON around days_left's and expiring_soon's values */
    struct iovec title, body;     /* HTML card around the link target and the days */
} frag_t;

struct acme_status_frag_t {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    int n;
    frag_t **entries;             /* by index in rt->domains */
};

static apr_status_t frag_free(void *data)
{
    acme_status_frag_t *cache = data;
    int i;

    for (i = 0; i < cache->n; i++) {
        free(cache->entries[i]);
        cache->entries[i] = NULL;
    }
    return APR_SUCCESS;
}

acme_status_frag_t *acme_status_frag_make(apr_pool_t *p, int n)
{
    acme_status_frag_t *cache = apr_pcalloc(p, sizeof(*cache));

#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
#endif
    cache->n = n;
    cache->entries = apr_pcalloc(p, sizeof(frag_t *) * (apr_size_t)(n > 0 ? n : 1));
    apr_pool_cleanup_register(p, cache, frag_free, apr_pool_cleanup_null);
    return cache;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Does e still show rec, live and account? */
static int frag_fresh(const frag_t *e, const acme_status_record_t *rec,
                      const acme_cert_info_t *live, const char *account)
{
    if (!e || e->has_rec != (rec != NULL) || (rec && e->version != rec->version)
        || e->has_live != (live != NULL)
        || !same_str(e->account, account)) {
        return 0;
    }
    return !live || (e->not_before == live->not_before && e->not_after == live->not_after
                     && same_str(e->serial, live->serial) && same_str(e->issuer, live->issuer));
}

/* text with every line after the first indented by four more spaces: an
 * object dumped alone, as it reads two levels deep in the document. */
static char *indent4(apr_pool_t *p, const char *text, apr_size_t len, apr_size_t *out_len)
{
    apr_size_t i, lines = 0;
    char *out, *at;

    for (i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    at = out = apr_palloc(p, len + 4 * lines + 1);
    for (i = 0; i < len; i++) {
        *at++ = text[i];
        if (text[i] == '\n') {
            memcpy(at, "    ", 4);
            at += 4;
        }
    }
    *at = '\0';
    *out_len = (apr_size_t)(at - out);
    return out;
}

/* The JSON of one certificate in three pieces around the values of
 * days_left and expiring_soon (dumped as null and false). 0 when the dump
 * does not look as expected. */
static int json_pieces(apr_pool_t *p, json_t *d, struct iovec piece[3])
{
    char *text, *days, *expiring;
    const char *from[3];
    apr_size_t len[3];
    int i;

    json_object_set_new(d, "days_left", json_null());
    json_object_set_new(d, "expiring_soon", json_false());
    if (!(text = json_dumps(d, JSON_FLAGS))) {
        return 0;
    }
    /* a string holds no raw line break: the keys cannot match inside one */
    days = strstr(text, DAYS_KEY "null");
    expiring = days ? strstr(days, EXPIRING_KEY "false") : NULL;
    if (!expiring) {
        free(text);
        return 0;
    }
    from[0] = text;
    len[0] = (apr_size_t)(days - text) + strlen(DAYS_KEY);
    from[1] = days + strlen(DAYS_KEY "null");
    len[1] = (apr_size_t)(expiring - from[1]) + strlen(EXPIRING_KEY);
    from[2] = expiring + strlen(EXPIRING_KEY "false");
    len[2] = strlen(from[2]);
    for (i = 0; i < 3; i++) {
        apr_size_t n;
        piece[i].iov_base = indent4(p, from[i], len[i], &n);
        piece[i].iov_len = n;
    }
    free(text);
    return 1;
}

static int summary_class(json_t *d)
{
    const char *state = json_string_value(json_object_get(d, "state"));

    if (json_is_true(json_object_get(d, "failing"))) {
        return CLS_FAILING;
    }
    if (state && (!strcmp(state, "renewing") || !strcmp(state, "staged"))) {
        return CLS_RENEWING;
    }
    return json_is_object(json_object_get(d, "cert")) ? CLS_VALID : CLS_MISSING;
}

static char *copy_in(char **at, const void *s, apr_size_t len)
{
    char *start = *at;

    memcpy(start, s, len);
    start[len] = '\0';
    *at += len + 1;
    return start;
}

static const char *copy_str(char **at, const char *s)
{
    return s ? copy_in(at, s, strlen(s)) : NULL;
}

/* A new entry for domain, rendered in tmp and copied into one block; NULL
 * when it cannot be made (the caller then renders the whole document). */
static frag_t *frag_render(acme_runtime_t *rt, apr_pool_t *tmp, const acme_domain_t *domain,
                           const acme_status_record_t *rec, const acme_cert_info_t *live,
                           const char *account)
{
    json_t *d = acme_status_domain_json(rt, tmp, domain, rec, live);
    struct iovec json[3];
    acme_status_card_t card;
    apr_size_t size = sizeof(frag_t);
    frag_t *e;
    char *at;
    int i, cls, warning;

    if (!d) {
        return NULL;
    }
    cls = summary_class(d);
    warning = json_is_object(json_object_get(d, "warning"));
    acme_status_html_card(tmp, d, &card);
    if (!json_pieces(tmp, d, json)) {
        json_decref(d);
        return NULL;
    }
    json_decref(d);
    for (i = 0; i < 3; i++) {
        size += json[i].iov_len + 1;
    }
    size += strlen(card.title) + strlen(card.body) + strlen(card.state) + 3
            + (account ? strlen(account) + 1 : 0)
            + (live && live->serial ? strlen(live->serial) + 1 : 0)
            + (live && live->issuer ? strlen(live->issuer) + 1 : 0);
    if (!(e = calloc(1, size))) {
        return NULL;
    }
    at = (char *)(e + 1);
    e->has_rec = rec != NULL;
    e->version = rec ? rec->version : 0;
    e->has_live = live != NULL;
    if (live) {
        e->not_before = live->not_before;
        e->not_after = live->not_after;
        e->serial = copy_str(&at, live->serial);
        e->issuer = copy_str(&at, live->issuer);
    }
    e->account = copy_str(&at, account);
    e->cls = cls;
    e->warning = warning;
    e->state = copy_str(&at, card.state);
    for (i = 0; i < 3; i++) {
        e->json[i].iov_base = copy_in(&at, json[i].iov_base, json[i].iov_len);
        e->json[i].iov_len = json[i].iov_len;
    }
    e->title.iov_len = strlen(card.title);
    e->title.iov_base = copy_in(&at, card.title, e->title.iov_len);
    e->body.iov_len = strlen(card.body);
    e->body.iov_base = copy_in(&at, card.body, e->body.iov_len);
    return e;
}

/* Pieces of the answer, gathered under the mutex, copied before it is let go. */
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

/* The document's head and tail around the certificates: the document with
 * an empty "domains", cut at its "[]". */
static int json_frame(apr_pool_t *p, json_t *summary, const char *generated_at,
                      json_t *cluster, const char **head, const char **tail)
{
    json_t *doc = json_pack("{s:i, s:s, s:s, s:O, s:[]}", "schema", ACME_STATUS_SCHEMA,
                            "version", ACME_VERSION, "generated_at", generated_at,
                            "summary", summary, "domains");
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

static int send_json(request_rec *r, const char *text, apr_size_t len)
{
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(text, (int)len, r);
    }
    return OK;
}

/* Under the mutex: every domain's entry made fresh, the summary counted,
 * the certificates' text gathered into out. 0 when an entry cannot be made. */
static int gather(request_rec *r, acme_runtime_t *rt, acme_status_frag_t *cache, int json,
                  apr_hash_t *records, apr_hash_t *live, pieces_t *out, json_int_t count[6])
{
    apr_time_t now = apr_time_now();
    apr_pool_t *tmp;
    int i;

    apr_pool_create(&tmp, r->pool);
    for (i = 0; i < rt->domains->nelts && i < cache->n; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        const acme_status_record_t *rec = apr_hash_get(records, d->name, APR_HASH_KEY_STRING);
        const acme_cert_info_t *info = apr_hash_get(live, d->name, APR_HASH_KEY_STRING);
        const char *account = rec && (rec->error || rec->warning)
                              ? acme_status_account_url(rt, r->pool, d) : NULL;
        frag_t *e = cache->entries[i];
        apr_int64_t days = 0;
        int expiring;

        if (rec && !rec->version) {
            apr_pool_destroy(tmp);
            return 0;     /* not from the cache: nothing to key on */
        }
        if (!frag_fresh(e, rec, info, account)) {
            if (!(e = frag_render(rt, tmp, d, rec, info, account))) {
                apr_pool_destroy(tmp);
                return 0;
            }
            free(cache->entries[i]);
            cache->entries[i] = e;
            apr_pool_clear(tmp);
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
        count[5] += expiring;
        if (json) {
            add(out, i ? ",\n    " : "\n    ", i ? 6 : 5);
            add(out, e->json[0].iov_base, e->json[0].iov_len);
            add_str(out, e->has_live ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT, days)
                                     : "null");
            add(out, e->json[1].iov_base, e->json[1].iov_len);
            add_str(out, expiring ? "true" : "false");
            add(out, e->json[2].iov_base, e->json[2].iov_len);
        }
        else {
            add_str(out, acme_status_html_card_open(r->pool, r->uri, e->state, expiring));
            add(out, e->title.iov_base, e->title.iov_len);
            add_str(out, acme_status_html_card_days(r->pool, e->has_live, days, expiring));
            add(out, e->body.iov_base, e->body.iov_len);
        }
    }
    apr_pool_destroy(tmp);
    return 1;
}

int acme_status_frag_send(request_rec *r, int json)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    acme_status_frag_t *cache = rt ? rt->status_frag : NULL;
    pieces_t out;
    json_int_t count[6] = { 0 };  /* total, valid, renewing, failing, missing, expiring */
    apr_hash_t *records, *live;
    const char *generated_at, *head, *tail, *text;
    json_t *summary;
    int ok;

    if (!cache || !rt->store || !rt->domains || cache->n != rt->domains->nelts
        || !rt->status_cache) {
        return DECLINED;
    }
    records = acme_status_records(rt, r->pool);
    live = acme_status_live_get(rt, r->pool, rt->domains);
    out.v = apr_array_make(r->pool, rt->domains->nelts * 6 + 2, sizeof(struct iovec));
    out.len = 0;
#if APR_HAS_THREADS
    apr_thread_mutex_lock(cache->mutex);
#endif
    ok = gather(r, rt, cache, json, records, live, &out, count);
    text = ok ? flatten(r->pool, &out) : NULL;
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(cache->mutex);
#endif
    if (!ok) {
        return DECLINED;
    }
    generated_at = acme_time_rfc3339(r->pool, apr_time_now());
    summary = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "total", count[0],
                        "valid", count[1 + CLS_VALID], "renewing", count[1 + CLS_RENEWING],
                        "failing", count[1 + CLS_FAILING], "missing", count[1 + CLS_MISSING],
                        "expiring_soon", count[5]);
    if (!summary) {
        return DECLINED;
    }
    acme_json_pool_owned(r->pool, summary);
    if (!json) {
        return acme_status_html_send_overview(r, summary, generated_at, acme_cluster_view_read(rt, r->pool),
                                              (int)count[0], text,
                                              out.len);
    }
    if (!json_frame(r->pool, summary, generated_at, acme_cluster_view_read(rt, r->pool), &head,
                    &tail)) {
        return DECLINED;
    }
    if (count[0]) {
        text = apr_pstrcat(r->pool, head, "[", text, "\n  ]", tail, "\n", NULL);
    }
    else {
        text = apr_pstrcat(r->pool, head, "[]", tail, "\n", NULL);
    }
    return send_json(r, text, strlen(text));
}
