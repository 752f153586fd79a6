/* Proofs of live certificates kept across graceful restarts. At every
 * restart the parent checked each live pair again (read and parse the
 * chain and the key, match them, load them in an SSL_CTX), and once more
 * for the notAfter: with OpenSSL 3's decoders about 4 ms a name, seconds at
 * 1,000 names, on the path of every activation. A version under archive/ is
 * written once by root and never changed, so a proof stands while the files
 * are the very same: same real directory, same inode, size, mode, owner,
 * mtime and ctime to the nanosecond. Any difference proves again. Only the
 * verdict is kept (validity, the leaf's names), never a key, and only in
 * the root parent: children fork after post_config and never look. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_certs_proof.h"

#define PROOFS_KEY "mod_acme:certs-proofs"

typedef struct file_id_t {
    dev_t dev;
    ino_t ino;
    off_t size;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    struct timespec mtim;
    struct timespec ctim;
} file_id_t;

struct acme_certs_proof_id_t {
    const char *name;              /* store name */
    const char *deps;              /* key type and names the verdict was for */
    const char *cert_path;         /* as given (the live link's path) */
    const char *key_path;
    const char *dir;               /* real path of cert_path's directory */
    file_id_t cert;
    file_id_t key;
};

typedef struct proof_t {
    acme_certs_proof_id_t id;      /* strings in the proofs' pool */
    apr_time_t not_before;
    apr_time_t not_after;
    apr_array_header_t *names;     /* const char*: the leaf's SANs */
} proof_t;

/* In the process pool: survives graceful restarts. Two generations of
 * entries: those this post_config used (now) and the last one's (last),
 * freed at the next post_config unless used again. */
typedef struct proofs_t {
    apr_pool_t *pool, *last_pool;
    apr_hash_t *now, *last;
    int reused, proven, activated;
} proofs_t;

static proofs_t *proofs_get(server_rec *base)
{
    apr_pool_t *process = base->process->pool;
    void *data = NULL;

    apr_pool_userdata_get(&data, PROOFS_KEY, process);
    return data;
}

void acme_certs_proof_begin(server_rec *base)
{
    apr_pool_t *process = base->process->pool;
    proofs_t *pr = proofs_get(base);

    if (!pr) {
        pr = apr_pcalloc(process, sizeof(*pr));
        apr_pool_userdata_set(pr, PROOFS_KEY, apr_pool_cleanup_null, process);
    }
    if (pr->last_pool) {
        apr_pool_destroy(pr->last_pool);
    }
    pr->last_pool = pr->pool;
    pr->last = pr->now;
    /* its own allocator: destroyed, its memory goes back to the system */
    pr->pool = acme_runtime_scratch_pool(process, "acme_proofs");
    pr->now = apr_hash_make(pr->pool);
    pr->reused = pr->proven = pr->activated = 0;
}

static int file_id_read(const char *path, file_id_t *f)
{
    struct stat sb;

    /* lstat: a symbolic link (never written by the store) is not kept, so a
     * link swapped for the file it names, same inode, cannot pass */
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return 0;
    }
    memset(f, 0, sizeof(*f));
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    f->size = sb.st_size;
    f->mode = sb.st_mode;
    f->uid = sb.st_uid;
    f->gid = sb.st_gid;
    f->mtim = sb.st_mtim;
    f->ctim = sb.st_ctim;
    return 1;
}

static int file_id_same(const file_id_t *a, const file_id_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mode == b->mode
           && a->uid == b->uid && a->gid == b->gid
           && a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec
           && a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

static int id_same(const acme_certs_proof_id_t *a, const acme_certs_proof_id_t *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->deps, b->deps)
           && !strcmp(a->cert_path, b->cert_path) && !strcmp(a->key_path, b->key_path)
           && !strcmp(a->dir, b->dir)
           && file_id_same(&a->cert, &b->cert) && file_id_same(&a->key, &b->key);
}

/* The identity of the files at cert_path and key_path now, named name, for
 * deps; NULL when one cannot be stat'ed or the directory resolved. */
static acme_certs_proof_id_t *identify(apr_pool_t *p, const char *name, const char *deps,
                                       const char *cert_path, const char *key_path)
{
    acme_certs_proof_id_t *id = apr_pcalloc(p, sizeof(*id));
    const char *slash = strrchr(cert_path, '/');
    char *real;

    /* a certificate not there (every domain at a first start) fails at
     * once, not after realpath's readlink of each of the path's components */
    if (!slash || !file_id_read(cert_path, &id->cert)) {
        return NULL;
    }
    real = realpath(apr_pstrmemdup(p, cert_path, (apr_size_t)(slash - cert_path)), NULL);
    if (!real) {
        return NULL;
    }
    id->dir = apr_pstrdup(p, real);
    free(real);
    id->name = name;
    id->deps = deps;
    id->cert_path = cert_path;
    id->key_path = key_path;
    if (!file_id_read(cert_path, &id->cert) || !file_id_read(key_path, &id->key)) {
        return NULL;
    }
    return id;
}

const acme_certs_proof_id_t *acme_certs_proof_identify(apr_pool_t *p, const acme_domain_t *d,
                                                       const char *cert_path,
                                                       const char *key_path)
{
    const char *deps = apr_psprintf(p, "%d", (int)d->key_type);
    int i;

    for (i = 0; i < d->names->nelts; i++) {
        deps = apr_pstrcat(p, deps, " ", APR_ARRAY_IDX(d->names, i, const char *), NULL);
    }
    return identify(p, d->name, deps, cert_path, key_path);
}

const char *acme_certs_proof_dir(const acme_certs_proof_id_t *id)
{
    return id->dir;
}

/* A copy of pf in p (entries move to the generation that uses them). */
static proof_t *proof_copy(apr_pool_t *p, const proof_t *pf)
{
    proof_t *c = apr_pmemdup(p, pf, sizeof(*pf));
    int i;

    c->id.name = apr_pstrdup(p, pf->id.name);
    c->id.deps = apr_pstrdup(p, pf->id.deps);
    c->id.cert_path = apr_pstrdup(p, pf->id.cert_path);
    c->id.key_path = apr_pstrdup(p, pf->id.key_path);
    c->id.dir = apr_pstrdup(p, pf->id.dir);
    c->names = apr_array_make(p, pf->names->nelts, sizeof(const char *));
    for (i = 0; i < pf->names->nelts; i++) {
        APR_ARRAY_PUSH(c->names, const char *) =
            apr_pstrdup(p, APR_ARRAY_IDX(pf->names, i, const char *));
    }
    return c;
}

int acme_certs_proof_find(server_rec *base, apr_pool_t *p, const acme_certs_proof_id_t *id,
                          acme_cert_info_t *info, int count)
{
    proofs_t *pr = proofs_get(base);
    proof_t *pf;
    int i;

    if (!pr || !pr->now || !id) {
        return 0;
    }
    if (!(pf = apr_hash_get(pr->now, id->name, APR_HASH_KEY_STRING))) {
        pf = pr->last ? apr_hash_get(pr->last, id->name, APR_HASH_KEY_STRING) : NULL;
        if (!pf || !id_same(&pf->id, id)) {
            return 0;
        }
        pf = proof_copy(pr->pool, pf);
        apr_hash_set(pr->now, pf->id.name, APR_HASH_KEY_STRING, pf);
    }
    else if (!id_same(&pf->id, id)) {
        return 0;
    }
    memset(info, 0, sizeof(*info));
    info->not_before = pf->not_before;
    info->not_after = pf->not_after;
    info->names = apr_array_make(p, pf->names->nelts, sizeof(const char *));
    for (i = 0; i < pf->names->nelts; i++) {
        APR_ARRAY_PUSH(info->names, const char *) =
            apr_pstrdup(p, APR_ARRAY_IDX(pf->names, i, const char *));
    }
    if (count) {
        pr->reused++;
    }
    return 1;
}

void acme_certs_proof_store(server_rec *base, apr_pool_t *p, const acme_certs_proof_id_t *id,
                            const acme_cert_info_t *info, int activated)
{
    proofs_t *pr = proofs_get(base);
    const acme_certs_proof_id_t *after;
    proof_t pf, *kept;

    if (!pr || !pr->now || !id || !info->names) {
        return;
    }
    /* The files read were the ones identified only if nothing moved
     * meanwhile: otherwise nothing is kept, and the next start proves. */
    after = identify(p, id->name, id->deps, id->cert_path, id->key_path);
    if (!after || !id_same(after, id)) {
        return;
    }
    pf.id = *id;
    pf.not_before = info->not_before;
    pf.not_after = info->not_after;
    pf.names = info->names;
    kept = proof_copy(pr->pool, &pf);
    apr_hash_set(pr->now, kept->id.name, APR_HASH_KEY_STRING, kept);
    if (activated) {
        pr->activated++;
    }
    else {
        pr->proven++;
    }
}

void acme_certs_proof_report(server_rec *base)
{
    proofs_t *pr = proofs_get(base);

    if (!pr || pr->reused + pr->proven + pr->activated == 0) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base, "ACME01506: %d live certificate(s) reused "
                 "from the last proof, %d proven, %d proven by their activation", pr->reused,
                 pr->proven, pr->activated);
}
