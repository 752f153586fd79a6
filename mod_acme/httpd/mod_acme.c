/* mod_acme: automatic HTTPS for Apache httpd through ACME (RFC 8555).
 * This file only declares the module; each subsystem registers its own hooks. */
#include "acme_private.h"
#include "acme_config.h"

static void acme_register_hooks(apr_pool_t *p)
{
    acme_config_register_hooks(p);
    acme_runtime_register_hooks(p);
    acme_autossl_register_hooks(p);
    acme_autossl_report_register_hooks(p);
    acme_check_register_hooks(p);
    acme_check_seclevel_register_hooks(p);
    acme_certs_register_hooks(p);
    acme_certs_503_register_hooks(p);
    acme_certs_keys_register_hooks(p);
    acme_certs_hot_register_hooks(p);
    acme_certs_modes_register_hooks(p);
    acme_challenge_register_hooks(p);
    acme_tlsalpn_register_hooks(p);
    acme_watchdog_register_hooks(p);
    acme_activation_register_hooks(p);
    acme_status_register_hooks(p);
    acme_notify_register_hooks(p);
    acme_https_register_hooks(p);
    acme_metrics_register_hooks(p);
    acme_cluster_node_register_hooks(p);
    acme_migrate_register_hooks(p);
    acme_configtest_register_hooks(p);
    acme_cluster_sync_register_hooks(p);
}

module AP_MODULE_DECLARE_DATA acme_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                   /* per-directory config: none */
    NULL,
    acme_config_create_srv,   /* per-server config */
    acme_config_merge_srv,
    acme_cmds,
    acme_register_hooks,
    AP_MODULE_FLAG_NONE
};
