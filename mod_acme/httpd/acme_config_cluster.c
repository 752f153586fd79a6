/* AcmeCluster, AcmeClusterKeyFile, AcmeClusterCACertificateFile: each value
 * checked when its line is read, so configtest names the file and line.
 * Their combination is checked in acme_cluster_node.c. */
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_cluster.h"

const char *acme_config_cluster_parse(cmd_parms *cmd, acme_conf_cluster_e which, const char *arg,
                                      const char **value)
{
    acme_cluster_url_t *url;
    const char *why, *path;

    if (which == ACME_CONF_CLUSTER_URL) {
        if ((why = acme_cluster_parse_url(cmd->pool, arg, &url))) {
            return apr_psprintf(cmd->pool, "ACME01000: AcmeCluster '%s': %s",
                                acme_cluster_url_mask(cmd->temp_pool, arg), why);
        }
        *value = apr_pstrdup(cmd->pool, arg);
        return NULL;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "ACME01001: %s '%s' is not a valid path; write a file "
                            "name, absolute or relative to ServerRoot", cmd->cmd->name, arg);
    }
    why = which == ACME_CONF_CLUSTER_KEY ? acme_cluster_read_key(cmd->temp_pool, path, NULL)
                                         : acme_cluster_check_ca_file(cmd->temp_pool, path);
    if (why) {
        return apr_psprintf(cmd->pool, "ACME01002: %s", why);
    }
    *value = path;
    return NULL;
}
