/* A version's judgement at start beyond mod_ssl's load (acme_certs_versions.h). */
#include <unistd.h>
#include <sys/stat.h>
#include <apr_strings.h>

#include "acme_certs_versions.h"
#include "acme_cert.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"

int acme_certs_versions_owned(apr_pool_t *p, const char *dir)
{
    static const char *const files[] = { "", "/" ACME_STORE_CERT_FILE, "/" ACME_STORE_KEY_FILE };
    uid_t me = geteuid();
    struct stat st;
    apr_size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (lstat(apr_pstrcat(p, dir, files[i], NULL), &st) != 0
            || !(i == 0 ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode))
            || st.st_uid != me || (st.st_mode & (S_IWGRP | S_IWOTH))) {
            return 0;
        }
    }
    return 1;
}

apr_status_t acme_certs_versions_level_held(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                                   const char *cert_path, apr_hash_t **levels, int *levels_read,
                                   const char **why, const char **brief)
{
    apr_array_header_t *chain;
    apr_status_t rv;
    int level;

    if (!*levels_read) {
        *levels = acme_check_seclevel_by_name(rt->pool, rt->base);
        *levels_read = 1;
    }
    if ((level = acme_check_seclevel_of(*levels, d->name)) <= ACME_CERT_MIN_SECLEVEL) {
        return APR_SUCCESS;
    }
    if ((rv = acme_cert_chain_read_file(ptemp, cert_path, &chain)) != APR_SUCCESS) {
        *why = "its certificate file cannot be read";
    }
    else if ((rv = acme_certverify_seclevel(ptemp, chain, level, why)) == APR_EINVAL && brief) {
        *brief = apr_psprintf(ptemp, "security level %d: %s too weak", level,
                              acme_certverify_weak_cert(ptemp, chain, level));
        return rv;
    }
    if (brief) {
        *brief = *why;
    }
    return rv;
}

void acme_certs_versions_unusable_add(apr_pool_t *p, acme_certs_unusable_t *u, const char *version,
                                      const char *why)
{
    if (u->said >= ACME_CERTS_VERSIONS_UNUSABLE_SAID) {
        ++u->more;
        return;
    }
    u->text = apr_psprintf(p, "%s%s%s: %s", u->text ? u->text : "", u->said ? "; " : "",
                           version, why);
    ++u->said;
}

const char *acme_certs_versions_unusable_said(apr_pool_t *p, const acme_certs_unusable_t *u)
{
    if (!u->said) {
        return "";
    }
    return u->more ? apr_psprintf(p, "%s; and %d older one(s)", u->text, u->more) : u->text;
}
