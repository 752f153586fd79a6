/* The store layout: which directory is whose, with which mode
 * (acme_store_paths.h). */
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>

#include "acme_store.h"
#include "acme_store_paths.h"

static const char *const child_dirs[] = { ACME_STORE_ACCOUNTS, ACME_STORE_STAGING,
                                          ACME_STORE_JOBS, ACME_STORE_STATUS,
                                          ACME_STORE_EVENTS, NULL };
static const char *const root_dirs[] = { ACME_STORE_CONFIG, ACME_STORE_DOMAINS,
                                         ACME_STORE_ARCHIVE, ACME_STORE_FALLBACK,
                                         ACME_STORE_ROOT_EVENTS, ACME_STORE_KEYS,
                                         ACME_STORE_CSR, ACME_STORE_REFUSED,
                                         ACME_STORE_IMPORTS, NULL };
/* keys/: certificate keys in root's custody (acme_custody.h). */
/* status/.page is the children's alone too: it quotes a refused restart's why */
static const char *const private_dirs[] = { ACME_STORE_ACCOUNTS, ACME_STORE_STAGING,
                                            ACME_STORE_JOBS, ACME_STORE_KEYS,
                                            ACME_STORE_STATUS "/" ACME_STORE_STATUS_PAGE_DIR,
                                            NULL };

const char *const *acme_store_child_dir_names(void)
{
    return child_dirs;
}

const char *const *acme_store_root_dir_names(void)
{
    return root_dirs;
}

/* 1 if relpath is one of dirs or lies below one. */
static int under_one_of(const char *const *dirs, const char *relpath)
{
    int i;

    for (i = 0; dirs[i]; ++i) {
        apr_size_t len = strlen(dirs[i]);
        if (!strncmp(relpath, dirs[i], len) && (relpath[len] == '/' || relpath[len] == '\0')) {
            return 1;
        }
    }
    return 0;
}

int acme_store_child_area(const char *relpath)
{
    return under_one_of(child_dirs, relpath);
}

apr_fileperms_t acme_store_dir_perms_for(const char *relpath)
{
    return under_one_of(private_dirs, relpath) ? ACME_STORE_PRIVATE_DIR_PERMS
                                               : ACME_STORE_DIR_PERMS;
}

/* The trees below a top-level directory whose directories httpd sets back,
 * and how many levels deep: keys/<name>/<x>, archive/<name>/<version>/<x>. */
static const struct { const char *top; int levels; } repaired_trees[] = {
    { ACME_STORE_KEYS, 2 }, { ACME_STORE_ARCHIVE, 3 }
};

int acme_store_repaired_levels(const char *top)
{
    apr_size_t i;

    for (i = 0; i < sizeof(repaired_trees) / sizeof(repaired_trees[0]); i++) {
        if (!strcmp(top, repaired_trees[i].top)) {
            return repaired_trees[i].levels;
        }
    }
    return 0;
}

int acme_store_dir_repaired(const char *relpath)
{
    const char *slash = strchr(relpath, '/'), *s;
    apr_size_t len, i;
    int levels = 0;

    if (!slash) {
        return under_one_of(child_dirs, relpath) || under_one_of(root_dirs, relpath)
               ? ACME_STORE_DIR_REPAIRED_START : ACME_STORE_DIR_REPAIRED_NEVER;
    }
    for (s = slash; s; s = strchr(s + 1, '/')) {
        levels++;
    }
    len = (apr_size_t)(slash - relpath);
    for (i = 0; i < sizeof(repaired_trees) / sizeof(repaired_trees[0]); i++) {
        if (strlen(repaired_trees[i].top) == len && !strncmp(relpath, repaired_trees[i].top, len)) {
            return levels <= repaired_trees[i].levels ? ACME_STORE_DIR_REPAIRED_PARENT
                                                      : ACME_STORE_DIR_REPAIRED_NEVER;
        }
    }
    return ACME_STORE_DIR_REPAIRED_NEVER;
}

/* The files mod_acme writes in keys/<name>/ and archive/<name>/<version>/
 * (the last level of acme_store_repaired_levels), as the store layout
 * lists them (acme_store_paths.h). */
static const char *const version_files[] = { ACME_STORE_CERT_FILE, ACME_STORE_KEY_FILE,
                                             ACME_STORE_META_FILE, ACME_STORE_REVOKED_FILE,
                                             ACME_STORE_IMPORT_PENDING_FILE, NULL };

/* Is file (a name, no slash) one mod_acme writes in the directory of tree
 * top (keys or archive) at the level of files? A write's temp file is not
 * told here: acmectl check tells it first (acme_store_is_temp_name), with
 * its age. */
static int made_file(const char *top, const char *file)
{
    apr_size_t len = strlen(file);
    int i;

    if (!strcmp(top, ACME_STORE_KEYS)) {
        /* <id>.key (acme_store_rel_key), refused.json (acme_store_rel_refused) */
        return !strcmp(file, "refused.json") || (len > 4 && file[0] != '.'
                                                 && !strcmp(file + len - 4, ".key"));
    }
    for (i = 0; version_files[i]; ++i) {
        if (!strcmp(file, version_files[i])) {
            return 1;
        }
    }
    return 0;
}

const char *acme_store_made_files(const char *relpath)
{
    const char *slash = strchr(relpath, '/'), *s;
    apr_size_t len = slash ? (apr_size_t)(slash - relpath) : 0;
    int levels = 0;

    for (s = slash; s; s = strchr(s + 1, '/')) {
        levels++;
    }
    if (len == sizeof(ACME_STORE_KEYS) - 1 && !strncmp(relpath, ACME_STORE_KEYS, len)) {
        return levels == acme_store_repaired_levels(ACME_STORE_KEYS) - 1
               ? "<id>.key (its keys) and refused.json" : NULL;
    }
    if (len == sizeof(ACME_STORE_ARCHIVE) - 1 && !strncmp(relpath, ACME_STORE_ARCHIVE, len)) {
        return levels == acme_store_repaired_levels(ACME_STORE_ARCHIVE) - 1
               ? ACME_STORE_CERT_FILE ", " ACME_STORE_KEY_FILE ", " ACME_STORE_META_FILE
                 ", " ACME_STORE_REVOKED_FILE " and " ACME_STORE_IMPORT_PENDING_FILE : NULL;
    }
    return NULL;
}

int acme_store_made_type(const char *relpath)
{
    const char *slash = strchr(relpath, '/'), *s;
    apr_size_t len = slash ? (apr_size_t)(slash - relpath) : strlen(relpath);
    char top[32];
    int levels = 0, made;

    if (!slash) {
        return under_one_of(child_dirs, relpath) || under_one_of(root_dirs, relpath)
               ? S_IFDIR : 0;
    }
    if (len >= sizeof(top)) {
        return 0;
    }
    memcpy(top, relpath, len);
    top[len] = '\0';
    for (s = slash; s; s = strchr(s + 1, '/')) {
        levels++;
    }
    if (!strcmp(top, ACME_STORE_DOMAINS)) {
        return levels == 1 ? S_IFLNK : -1;
    }
    if ((made = acme_store_repaired_levels(top)) == 0) {
        return 0;
    }
    if (levels == made) {
        return made_file(top, strrchr(relpath, '/') + 1) ? S_IFREG : -1;
    }
    return levels < made ? S_IFDIR : -1;
}

const char *acme_store_rel_account(apr_pool_t *p, const char *ca_id, const char *file)
{
    return apr_pstrcat(p, ACME_STORE_ACCOUNTS "/", ca_id, "/", file, NULL);
}

const char *acme_store_rel_config(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_CONFIG "/", name, ".json", NULL);
}

const char *acme_store_rel_job(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_JOBS "/", name, ".json", NULL);
}

const char *acme_store_rel_job_key(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_JOBS "/", name, ".key", NULL);
}

const char *acme_store_rel_lock(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_JOBS "/", name, ".lock", NULL);
}

const char *acme_store_rel_renew(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_JOBS "/", name, ".renew", NULL);
}

const char *acme_store_rel_renew_now(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_JOBS "/", name, ".now", NULL);
}

const char *acme_store_rel_ari(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_ARI_DIR "/", name, ".json", NULL);
}

const char *acme_store_rel_ari_before(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_JOBS "/", name, ".ari.json", NULL);
}

const char *acme_store_rel_staging(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_STAGING "/", name, NULL);
}

const char *acme_store_rel_staged(apr_pool_t *p, const char *name, const char *file)
{
    return apr_pstrcat(p, ACME_STORE_STAGING "/", name, "/", file, NULL);
}

const char *acme_store_rel_live(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_DOMAINS "/", name, NULL);
}

const char *acme_store_rel_live_file(apr_pool_t *p, const char *name, const char *file)
{
    return apr_pstrcat(p, ACME_STORE_DOMAINS "/", name, "/", file, NULL);
}

const char *acme_store_rel_archive(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_ARCHIVE "/", name, NULL);
}

const char *acme_store_rel_version(apr_pool_t *p, const char *name, const char *version)
{
    return apr_pstrcat(p, ACME_STORE_ARCHIVE "/", name, "/", version, NULL);
}

const char *acme_store_rel_version_file(apr_pool_t *p, const char *name, const char *version,
                                        const char *file)
{
    return apr_pstrcat(p, ACME_STORE_ARCHIVE "/", name, "/", version, "/", file, NULL);
}

const char *acme_store_rel_link_target(apr_pool_t *p, const char *name, const char *version)
{
    /* relative to domains/, so the store can move as a whole */
    return apr_pstrcat(p, "../" ACME_STORE_ARCHIVE "/", name, "/", version, NULL);
}

const char *acme_store_rel_status(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_STATUS "/", name, ".json", NULL);
}

const char *acme_store_rel_keys(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_KEYS "/", name, NULL);
}

const char *acme_store_rel_key(apr_pool_t *p, const char *name, const char *id)
{
    return apr_pstrcat(p, ACME_STORE_KEYS "/", name, "/", id, ".key", NULL);
}

const char *acme_store_rel_refused(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_KEYS "/", name, "/refused.json", NULL);
}

const char *acme_store_rel_refused_shown(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_REFUSED "/", name, ".json", NULL);
}

const char *acme_store_rel_import_pending(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_IMPORTS "/", name, ".json", NULL);
}

const char *acme_store_rel_csr(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ACME_STORE_CSR "/", name, ".json", NULL);
}
