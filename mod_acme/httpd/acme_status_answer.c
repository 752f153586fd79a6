/* The status page's assembled overview, cached in status/.page beside the
 * page it is assembled from (acme_status_page.c): one file per page, format
 * and (HTML) link base, named <page>.json or <page>.html-<hash of the link
 * base>, written whole under a temporary name and put in place in one
 * rename, so a reader sees an old answer or a new one. It holds the
 * certificates' part of the answer (the "domains" array's members, or the
 * cards) and the summary's counts; the rest (generated_at, as_of, the
 * cluster view, the frame) is made per request. An answer is served while
 * the page's content id (a digest of every entry's text and facts) is the
 * one it was assembled from and the clock has not passed the first moment
 * a certificate's days left would read differently. A request that finds
 * it sends its body from the file (sendfile or mapped), reading a few
 * hundred bytes. Every child writes it (0644, in status/.page, which is
 * 0700, the children's alone: acme_status_page.c). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_file_info.h>

#include "acme_store.h"
#include "acme_status_answer.h"

/* Its layout's mark; a new layout takes a new one (an old file is not read). */
#define ANSWER_MAGIC    "ACMEAN03"
/* Longer than this is not a link base of ours. */
#define VARIANT_MAX     4096
/* What a retired file's name has after the name it was replaced under. */
#define RETIRED         ".old-"
/* ... and how long it is kept at most when no watchdog round sweeps it. */
#define RETIRED_MAX     apr_time_from_sec(120)
/* iovecs per writev */
#define WRITE_BATCH     512

/* The file: this head, the variant's bytes, then the body. Native layout:
 * only processes of this machine read it, and the magic and size are
 * checked. */
typedef struct answer_head_t {
    char magic[8];
    apr_uint64_t size;            /* of the whole file */
    unsigned char content[ACME_STATUS_ANSWER_ID_LEN];
    apr_int64_t made_at;          /* when it was assembled */
    apr_int64_t valid_until;      /* the first moment it reads differently */
    apr_int64_t count[ACME_STATUS_ANSWER_COUNTS];
    apr_uint32_t json, variant_len;
} answer_head_t;

/* The answer file's path for key, in p. */
static const char *answer_path(apr_pool_t *p, const acme_status_answer_key_t *key)
{
    apr_uint64_t h = 14695981039346656037ULL;
    const char *s;

    if (key->json) {
        return apr_pstrcat(p, key->dir, "/", key->page_name, ".json", NULL);
    }
    for (s = key->variant; *s; ++s) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;      /* FNV-1a */
    }
    return apr_psprintf(p, "%s/%s.html-%016" APR_UINT64_T_HEX_FMT, key->dir, key->page_name, h);
}

static int has_id(const unsigned char *content)
{
    int i;

    for (i = 0; content && i < ACME_STATUS_ANSWER_ID_LEN; i++) {
        if (content[i]) {
            return 1;
        }
    }
    return 0;
}

int acme_status_answer_find(apr_pool_t *p, const acme_status_answer_key_t *key,
                            acme_status_answer_t *out)
{
    apr_size_t vlen = strlen(key->variant);
    apr_finfo_t finfo;
    answer_head_t head;
    apr_file_t *file;
    char *variant;

    if (!has_id(key->content) || vlen > VARIANT_MAX
        || apr_file_open(&file, answer_path(p, key), APR_FOPEN_READ | APR_FOPEN_SENDFILE_ENABLED,
                         APR_FPROT_OS_DEFAULT, p) != APR_SUCCESS) {
        return 0;
    }
    variant = apr_palloc(p, vlen + 1);
    if (apr_file_read_full(file, &head, sizeof(head), NULL) != APR_SUCCESS
        || memcmp(head.magic, ANSWER_MAGIC, 8) || head.json != (apr_uint32_t)!!key->json
        || memcmp(head.content, key->content, ACME_STATUS_ANSWER_ID_LEN)
        || head.made_at > key->now || key->now >= head.valid_until
        || head.variant_len != vlen
        || (vlen && apr_file_read_full(file, variant, vlen, NULL) != APR_SUCCESS)
        || (vlen && memcmp(variant, key->variant, vlen))
        || apr_file_info_get(&finfo, APR_FINFO_SIZE, file) != APR_SUCCESS
        || (apr_uint64_t)finfo.size != head.size || head.size < sizeof(head) + vlen) {
        apr_file_close(file);
        return 0;
    }
    out->file = file;
    out->off = (apr_off_t)(sizeof(head) + vlen);
    out->len = (apr_size_t)(head.size - sizeof(head) - vlen);
    memcpy(out->count, head.count, sizeof(out->count));
    out->made_at = head.made_at;
    return 1;
}

apr_status_t acme_status_answer_write(apr_pool_t *p, const acme_status_answer_key_t *key,
                                      const struct iovec *v, int nv, apr_time_t valid_until,
                                      acme_status_answer_t *out)
{
    const char *path = answer_path(p, key), *tmp = acme_store_tmp_path(p, path);
    apr_size_t vlen = strlen(key->variant), len = 0, done;
    struct iovec first[2];
    answer_head_t head;
    apr_file_t *file;
    apr_status_t rv;
    int i, step;

    for (i = 0; i < nv; i++) {
        len += v[i].iov_len;
    }
    if (vlen > VARIANT_MAX) {
        return APR_EINVAL;
    }
    memset(&head, 0, sizeof(head));
    memcpy(head.magic, ANSWER_MAGIC, 8);
    head.size = sizeof(head) + vlen + len;
    if (has_id(key->content)) {
        memcpy(head.content, key->content, ACME_STATUS_ANSWER_ID_LEN);
    }
    head.made_at = key->now;
    head.valid_until = valid_until;
    memcpy(head.count, out->count, sizeof(head.count));
    head.json = (apr_uint32_t)!!key->json;
    head.variant_len = (apr_uint32_t)vlen;
    rv = apr_file_open(&file, tmp, APR_FOPEN_CREATE | APR_FOPEN_EXCL | APR_FOPEN_WRITE
                       | APR_FOPEN_READ | APR_FOPEN_SENDFILE_ENABLED,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    first[0].iov_base = &head;
    first[0].iov_len = sizeof(head);
    first[1].iov_base = (void *)key->variant;
    first[1].iov_len = vlen;
    rv = apr_file_writev_full(file, first, 2, &done);
    for (i = 0; rv == APR_SUCCESS && i < nv; i += step) {
        step = nv - i < WRITE_BATCH ? nv - i : WRITE_BATCH;
        rv = apr_file_writev_full(file, v + i, (apr_size_t)step, &done);
    }
    if (rv != APR_SUCCESS) {
        apr_file_close(file);
        apr_file_remove(tmp, p);
        return rv;
    }
    /* an answer without a content id is sent once and not kept */
    if (has_id(key->content)) {
        int dirfd = open(key->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dirfd >= 0) {
            acme_status_answer_retire(p, dirfd, strrchr(path, '/') + 1);
            close(dirfd);
        }
    }
    if (!has_id(key->content) || apr_file_rename(tmp, path, p) != APR_SUCCESS) {
        apr_file_remove(tmp, p);
    }
    /* what no watchdog round swept for a while (none ran): swept here */
    acme_status_answer_sweep(key->dir, key->now - RETIRED_MAX);
    out->file = file;
    out->off = (apr_off_t)(sizeof(head) + vlen);
    out->len = len;
    out->made_at = key->now;
    return APR_SUCCESS;
}

void acme_status_answer_retire(apr_pool_t *p, int dirfd, const char *name)
{
    const char *kept = apr_psprintf(p, "%s" RETIRED "%" APR_PID_T_FMT "-%" APR_UINT64_T_HEX_FMT,
                                    name, getpid(), (apr_uint64_t)apr_time_now());

    if (linkat(dirfd, name, dirfd, kept, 0) != 0) {
        /* none there, or the same name taken this microsecond: replaced
         * the plain way */
    }
}

void acme_status_answer_sweep(const char *dir, apr_time_t before)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    const char *at, *stamp;

    if (!d) {
        return;
    }
    while ((ent = readdir(d)) != NULL) {
        /* NAME.old-PID-TIME: TIME (hex) when it was kept */
        if (!(at = strstr(ent->d_name, RETIRED)) || !(stamp = strrchr(at, '-'))
            || apr_strtoi64(stamp + 1, NULL, 16) >= before) {
            continue;
        }
        if (unlinkat(dirfd(d), ent->d_name, 0) != 0) {
            /* gone already (another process swept it) */
        }
    }
    closedir(d);
}
