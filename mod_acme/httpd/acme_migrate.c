/* Migration from static certificates: a <VirtualHost> that has both
 * SSLCertificateFile and AcmeDomain serves the static certificate until
 * mod_acme's own is live, then the managed one only. Once the store holds a
 * live certificate for it, configtest (and every start) says that the static
 * lines can go. Read from the configuration tree, which mod_ssl keeps to
 * itself once processed; the store is only looked at (stat), never opened. */
#include <apr_strings.h>
#include <apr_file_info.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_name.h"
#include "acme_cert.h"
#include "acme_store_paths.h"

/* The store name of the vhost's certificate: the first name after
 * AcmeDomain, else its ServerName; NULL when neither is written. */
static const char *vhost_store_name(apr_pool_t *p, const ap_directive_t *vhost,
                                    const ap_directive_t **static_line)
{
    const ap_directive_t *c, *name_line = NULL, *acme_line = NULL;
    const char *acme = NULL, *server_name = NULL, *args;

    *static_line = NULL;
    for (c = vhost->first_child; c; c = c->next) {
        if (acme_autossl_tree_is(c, "SSLCertificateFile") && !*static_line) {
            *static_line = c;
        }
        else if (acme_autossl_tree_is(c, "ServerName") && c->args) {
            name_line = c;
        }
        else if (acme_autossl_tree_is(c, "AcmeDomain")) {
            acme_line = c;
        }
    }
    /* the words only where they are needed: most vhosts have no static line */
    if (!acme_line || !*static_line) {
        return NULL;
    }
    if (name_line) {
        args = name_line->args;
        server_name = ap_getword_conf(p, &args);
    }
    args = acme_line->args ? acme_line->args : "";
    acme = *args ? ap_getword_conf(p, &args) : NULL;
    acme = acme && *acme ? acme : server_name;
    return acme && *acme ? acme_name_normalize(p, acme) : NULL;
}

static int migrate_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                server_rec *base)
{
    const char *store = acme_config_store_dir(base), *name;
    const ap_directive_t *node, *line;
    apr_array_header_t *chain;

    for (node = ap_conftree; node && store; node = node->next) {
        if (!acme_autossl_tree_is(node, "<VirtualHost")
            || !(name = vhost_store_name(ptemp, node, &line))) {
            continue;
        }
        /* Only a live certificate that parses is served: an emptied or
         * garbled one is not, whatever the file's presence says. */
        if (acme_cert_chain_read_file(ptemp, apr_pstrcat(ptemp, store, "/",
                                      acme_store_rel_live_file(ptemp, name, ACME_STORE_CERT_FILE),
                                      NULL), &chain) != APR_SUCCESS || !chain->nelts) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, base, "ACME00639: %s:%d: this <VirtualHost> "
                     "serves mod_acme's certificate of %s now, not the one of SSLCertificateFile "
                     "%s; its SSLCertificateFile and SSLCertificateKeyFile lines can go",
                     line->filename ? line->filename : "?", line->line_num, name,
                     line->args ? line->args : "");
    }
    return OK;
}

void acme_migrate_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(migrate_check_config, NULL, NULL, APR_HOOK_LAST);
}
