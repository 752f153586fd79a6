/* mod_acme's directives: one handler per directive, checking where it may
 * appear and parsing its value with the core's parsers (acme_conf_parse.h)
 * into the per-server record (acme_config_int.h); and the command table. */
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include <http_core.h>
#include <http_main.h>
#include <ap_listen.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_config_int.h"
#include "acme_conf_parse.h"
#include "acme_name.h"

/* ---- directive handlers ----------------------------------------------- */

static acme_srv_conf_t *cmd_conf(cmd_parms *cmd)
{
    return acme_config_get(cmd->server);
}

/* The server-level record: call only once server_only (or another
 * GLOBAL_ONLY check) passed, cmd->server is then the base server. */
static acme_srv_global_t *cmd_global(cmd_parms *cmd)
{
    return acme_config_global(cmd->server);
}

static const char *where(cmd_parms *cmd)
{
    if (!cmd->directive) {
        return "";
    }
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename, cmd->directive->line_num);
}

/* Where a directive may be written, and how often: server_only and
 * not_in_dir also refuse a second line of a directive that takes one value
 * per context (acme_config_once). */
static const char *server_only(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (!err) {
        return acme_config_once(cmd);
    }
    return apr_psprintf(cmd->pool, "ACME00500: %s; it applies to the whole server: "
                        "move it outside the <VirtualHost>", err);
}

static const char *not_in_dir(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    if (!err) {
        return acme_config_once(cmd);
    }
    return apr_psprintf(cmd->pool, "ACME00501: %s; use it at server level or in a "
                        "<VirtualHost>", err);
}

static const apr_array_header_t no_names = { NULL, sizeof(const char *), 0, 0, NULL };

static const char *set_domain(cmd_parms *cmd, void *dc, const char *args)
{
    acme_srv_conf_t *conf = cmd_conf(cmd);
    acme_domain_decl_t *decl;
    const char *err, *word;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    decl = apr_pcalloc(cmd->pool, sizeof(*decl));
    decl->s = cmd->server;
    decl->file = cmd->directive ? cmd->directive->filename : "?";
    decl->line = cmd->directive ? cmd->directive->line_num : 0;
    /* A line without names (the vhost's own, the usual case) keeps the
     * shared empty list: nothing but this handler adds to a decl's names. */
    decl->names = (apr_array_header_t *)&no_names;

    while (*(word = ap_getword_conf(cmd->pool, &args))) {
        /* Wildcards are checked in check_config, when AcmeDnsCmd is known. */
        if ((err = acme_conf_parse_check_name(cmd->pool, word, 1))) {
            return err;
        }
        if (decl->names == &no_names) {
            decl->names = apr_array_make(cmd->pool, 1, sizeof(const char *));
        }
        APR_ARRAY_PUSH(decl->names, const char *) = acme_name_normalize(cmd->pool, word);
    }
    if (decl->names->nelts == 0 && !cmd->server->is_virtual) {
        return "ACME00504: AcmeDomain outside a <VirtualHost> needs the names to manage, "
               "e.g. 'AcmeDomain example.org www.example.org'; or write it without names "
               "inside the SSL <VirtualHost> to use its ServerName and ServerAlias";
    }
    if (decl->names->nelts > ACME_MAX_NAMES) {
        return apr_psprintf(cmd->pool, "ACME00505: AcmeDomain lists %d names, a certificate "
                            "holds at most %d; split them over several AcmeDomain lines",
                            decl->names->nelts, ACME_MAX_NAMES);
    }
    if (!conf->decls) {
        conf->decls = apr_array_make(cmd->pool, 1, sizeof(acme_domain_decl_t *));
    }
    APR_ARRAY_PUSH(conf->decls, acme_domain_decl_t *) = decl;
    return NULL;
}

static const char *set_ca(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_global_t *conf;
    const char *err, *url = NULL;
    int i;

    if ((err = server_only(cmd)) || (err = acme_conf_parse_ca_url(cmd->pool, arg, &url))) {
        return err;
    }
    conf = cmd_global(cmd);
    if (!conf->ca_urls) {
        conf->ca_urls = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    for (i = 0; i < conf->ca_urls->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(conf->ca_urls, i, const char *), url)) {
            return NULL;
        }
    }
    APR_ARRAY_PUSH(conf->ca_urls, const char *) = url;
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *path;

    if ((err = server_only(cmd))) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "ACME00510: AcmeCACertificateFile %s is not a valid "
                            "path; point it at a PEM file with the CA's trust anchors", arg);
    }
    if ((err = acme_conf_parse_check_ca_file(cmd->pool, path))) {
        return err;
    }
    cmd_global(cmd)->ca_file = path;
    cmd_global(cmd)->where[ACME_CONF_WHERE_CA_FILE] = where(cmd);
    return NULL;
}

static const char *set_contact(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *contact;

    if ((err = server_only(cmd)) || (err = acme_conf_parse_contact(cmd->pool, arg, &contact))) {
        return err;
    }
    cmd_global(cmd)->contact = contact;
    return NULL;
}

static const char *set_agree_tos(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_global_t *conf;
    const char *err;

    if ((err = server_only(cmd))) {
        return err;
    }
    conf = cmd_global(cmd);
    if (!strcasecmp(arg, "on")) {
        conf->agree_tos = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        conf->agree_tos = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "ACME00512: AcmeAgreeToTerms '%s' is neither on nor "
                            "off; write 'AcmeAgreeToTerms on' to agree to the CA's terms "
                            "of service", arg);
    }
    conf->agree_tos_where = where(cmd);
    return NULL;
}

static const char *set_store_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *path;

    if ((err = server_only(cmd))) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "ACME00513: AcmeStoreDir '%s' is not a valid path; "
                            "write a directory, absolute or relative to ServerRoot", arg);
    }
    if ((err = acme_rootprog_check_store_dir(cmd->temp_pool, path))) {
        return apr_psprintf(cmd->pool, "ACME00548: AcmeStoreDir: %s", err);
    }
    cmd_global(cmd)->store_dir = path;
    cmd_global(cmd)->where[ACME_CONF_WHERE_STORE_DIR] = where(cmd);
    return NULL;
}

static const char *set_port_map(cmd_parms *cmd, void *dc, const char *a1, const char *a2)
{
    acme_srv_global_t *conf;
    int http, https;
    const char *err;

    if ((err = server_only(cmd))) {
        return err;
    }
    conf = cmd_global(cmd);
    http = conf->port_http;
    https = conf->port_https;
    if ((err = acme_conf_parse_port(cmd->pool, a1, &http, &https))
        || (a2 && (err = acme_conf_parse_port(cmd->pool, a2, &http, &https)))) {
        return err;
    }
    conf->port_http = http;
    conf->port_https = https;
    return NULL;
}

static const char *set_challenges(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    return acme_conf_parse_add_challenge(cmd->pool, &cmd_conf(cmd)->challenges, arg);
}

static const char *set_key_type(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    return acme_conf_parse_add_key_type(cmd->pool, &cmd_conf(cmd)->key_types, arg);
}

static const char *set_activation(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if ((err = server_only(cmd))) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        cmd_global(cmd)->activation_auto = 1;
    }
    else if (!strcasecmp(arg, "manual")) {
        cmd_global(cmd)->activation_auto = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "ACME00518: AcmeActivation '%s' is neither auto nor "
                            "manual; write 'AcmeActivation auto' to make new certificates "
                            "live by a graceful restart, or 'manual' to restart yourself", arg);
    }
    return NULL;
}

static const char *set_preferred_chain(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    (void)dc;
    if ((err = not_in_dir(cmd)) || (err = acme_conf_parse_check_preferred_chain(cmd->pool, arg))) {
        return err;
    }
    cmd_conf(cmd)->preferred_chain = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_max_parallel(cmd_parms *cmd, void *dc, const char *n, const char *rate)
{
    acme_srv_global_t *conf;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return apr_psprintf(cmd->pool, "ACME00555: %s; it applies to the whole server: move "
                            "it outside the <VirtualHost>", err);
    }
    if ((err = acme_config_once(cmd))) {
        return err;
    }
    conf = cmd_global(cmd);
    return acme_conf_parse_max_parallel(cmd->pool, n, rate, &conf->max_parallel,
                                        &conf->pace_orders, &conf->pace_window);
}

static const char *set_profile(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if ((err = not_in_dir(cmd)) || (err = acme_conf_parse_check_profile(cmd->pool, arg))) {
        return err;
    }
    cmd_conf(cmd)->profile = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* tag: the message's log tag; examples: a share and a duration that fit. */
static const char *set_window(cmd_parms *cmd, const char *arg, acme_window_t *window,
                              const char *tag, const char *share, const char *duration)
{
    const char *err;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    switch (acme_conf_parse_window(arg, window)) {
    case ACME_CONF_WINDOW_OK:
        return NULL;
    case ACME_CONF_WINDOW_RANGE:
        return apr_psprintf(cmd->pool, "ACME01604: %s %s is out of range; write a share of the "
                            "lifetime left from 1%% to 100%% (e.g. %s) or a duration from 1s to "
                            "3650d (e.g. %s)", cmd->cmd->name, arg, share, duration);
    default:
        return apr_psprintf(cmd->pool, "%s: %s '%s' is not understood; write a share of the "
                            "lifetime left (1%%..100%%, e.g. %s) or a duration (e.g. %s, 12h, "
                            "90m)", tag, cmd->cmd->name, arg, share, duration);
    }
}

static const char *set_renew_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_window(cmd, arg, &cmd_conf(cmd)->renew_window, "ACME00520", "33%", "30d");
}

static const char *set_warn_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_window(cmd, arg, &cmd_conf(cmd)->warn_window, "ACME00534", "10%", "7d");
}

/* Checked now, so a typo fails the configtest rather than every event later. */
static const char *set_notify_cmd(cmd_parms *cmd, void *dc, const char *args)
{
    apr_array_header_t *argv = apr_array_make(cmd->pool, 4, sizeof(const char *));
    const char *err, *word, *program, *why;

    if ((err = server_only(cmd))) {
        return err;
    }
    word = ap_getword_conf(cmd->pool, &args);
    if (!*word) {
        return "ACME00535: AcmeNotifyCmd needs a program, e.g. "
               "'AcmeNotifyCmd /usr/local/bin/acme-notify'";
    }
    program = ap_server_root_relative(cmd->pool, word);
    if (!program) {
        return apr_psprintf(cmd->pool, "ACME00536: AcmeNotifyCmd '%s' is not a valid path; "
                            "write the program's absolute path", word);
    }
    if ((why = acme_conf_parse_check_program(cmd->temp_pool, program, "root"))) {
        return apr_psprintf(cmd->pool, "ACME00537: AcmeNotifyCmd: %s; name an executable "
                            "program, e.g. 'AcmeNotifyCmd /usr/local/bin/acme-notify', which "
                            "is run as 'PROGRAM [ARGS...] EVENT DOMAIN'", why);
    }
    if ((why = acme_rootprog_check_program(cmd->temp_pool, program))) {
        return apr_psprintf(cmd->pool, "ACME00543: AcmeNotifyCmd runs as root, so only root "
                            "may be able to change it: %s", why);
    }
    APR_ARRAY_PUSH(argv, const char *) = program;
    while (*(word = ap_getword_conf(cmd->pool, &args))) {
        APR_ARRAY_PUSH(argv, const char *) = word;
    }
    cmd_global(cmd)->notify_cmd = argv;
    return NULL;
}

/* The MAC key is a secret: messages name the key id, never the key. */
static const char *set_eab(cmd_parms *cmd, void *dc, const char *kid, const char *hmac)
{
    const char *err, *why;

    if ((err = server_only(cmd))) {
        return err;
    }
    if ((why = acme_conf_parse_check_eab(cmd->temp_pool, kid, hmac))) {
        return apr_psprintf(cmd->pool, "ACME00538: AcmeEAB: %s; copy the key id and the "
                            "MAC key (base64url) from your CA account page: "
                            "'AcmeEAB <kid> <hmac>'", why);
    }
    cmd_global(cmd)->eab_kid = apr_pstrdup(cmd->pool, kid);
    cmd_global(cmd)->eab_hmac = apr_pstrdup(cmd->pool, hmac);
    return NULL;
}

static const char *set_dns_cmd(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *path = NULL;

    if ((err = acme_config_dns_cmd_parse(cmd, arg, &path))) {
        return err;
    }
    cmd_conf(cmd)->dns_cmd = path;
    cmd_conf(cmd)->dns_cmd_where = where(cmd);
    return NULL;
}

static const char *set_dns_resolver(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if ((err = acme_config_dns_resolver_parse(cmd, arg))) {
        return err;
    }
    cmd_global(cmd)->dns_resolver = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* AcmeCluster, AcmeClusterKeyFile, AcmeClusterCACertificateFile: cmd_data
 * says which; the values are checked in acme_config_cluster.c. */
static const char *set_cluster(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_conf_cluster_e which = (acme_conf_cluster_e)(apr_uintptr_t)cmd->cmd->cmd_data;
    const char *err, *value = NULL;

    if ((err = server_only(cmd))) {
        return err;
    }
    if ((err = acme_config_cluster_parse(cmd, which, arg, &value))) {
        return err;
    }
    cmd_global(cmd)->cluster[which] = value;
    cmd_global(cmd)->cluster_where[which] = where(cmd);
    return NULL;
}

/* AcmeClusterKeyFile NEW [OLD]: OLD, the key being rotated out, opens what
 * Redis holds sealed with it until everything is sealed again with NEW. */
static const char *set_cluster_key(cmd_parms *cmd, void *dc, const char *key, const char *old)
{
    const char *err, *value = NULL;

    if ((err = set_cluster(cmd, dc, key))) {
        return err;
    }
    if (!old) {
        cmd_global(cmd)->cluster[ACME_CONF_CLUSTER_PREVIOUS] = NULL;
        return NULL;
    }
    if ((err = acme_config_cluster_parse(cmd, ACME_CONF_CLUSTER_KEY, old, &value))) {
        return err;
    }
    cmd_global(cmd)->cluster[ACME_CONF_CLUSTER_PREVIOUS] = value;
    cmd_global(cmd)->cluster_where[ACME_CONF_CLUSTER_PREVIOUS] = where(cmd);
    return NULL;
}

/* AcmeTrustedRootsFile FILE...: server-wide, each file readable with a PEM
 * certificate now, so a typo fails the configtest instead of every activation. */
static const char *set_trusted_roots(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_global_t *conf;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *path;
    char *buf;
    apr_file_t *f;
    apr_size_t len = 64 * 1024;

    if (err) {
        return apr_psprintf(cmd->pool, "ACME00544: %s; AcmeTrustedRootsFile applies to the "
                            "whole server: move it outside the <VirtualHost>", err);
    }
    path = ap_server_root_relative(cmd->pool, arg);
    buf = apr_palloc(cmd->temp_pool, len + 1);
    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, cmd->temp_pool)
                 != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACME00545: cannot read AcmeTrustedRootsFile %s; point "
                            "it at a PEM file with the root certificates of your CA", arg);
    }
    if (apr_file_read_full(f, buf, len, &len) != APR_SUCCESS && len == 0) {
        len = 0;
    }
    apr_file_close(f);
    buf[len] = '\0';
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
        return apr_psprintf(cmd->pool, "ACME00546: AcmeTrustedRootsFile %s holds no PEM "
                            "certificate; point it at the root certificates of your CA", path);
    }
    conf = cmd_global(cmd);
    if (!conf->trusted_roots) {
        conf->trusted_roots = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->trusted_roots, const char *) = path;
    return NULL;
}

static acme_https_mode_e parse_require_https(const char *arg)
{
    if (!strcasecmp(arg, "off")) {
        return ACME_HTTPS_OFF;
    }
    if (!strcasecmp(arg, "temporary")) {
        return ACME_HTTPS_TEMPORARY;
    }
    return strcasecmp(arg, "permanent") ? ACME_HTTPS_UNSET : ACME_HTTPS_PERMANENT;
}

static const char *set_require_https(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;
    int mode;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    if ((mode = parse_require_https(arg)) == ACME_HTTPS_UNSET) {
        return apr_psprintf(cmd->pool, "ACME00549: AcmeRequireHttps '%s' is not off, temporary "
                            "or permanent; write 'AcmeRequireHttps temporary' to redirect http "
                            "to https (302) once the certificate is live, 'permanent' for 301 "
                            "and Strict-Transport-Security", arg);
    }
    cmd_conf(cmd)->require_https = mode;
    return NULL;
}

/* The work is done in pre_config (acme_autossl.c), before vhosts exist;
 * here the value is only checked, so a typo fails with its file and line. */
static const char *set_auto_domains(cmd_parms *cmd, void *dc, const char *args)
{
    apr_array_header_t *except;
    const char *err;
    int on;

    if ((err = server_only(cmd))) {
        return err;
    }
    if ((err = acme_autossl_auto_parse(cmd->pool, args, &on, &except))) {
        return err;
    }
    return NULL;
}

const command_rec acme_cmds[] = {
    AP_INIT_RAW_ARGS("AcmeDomain", set_domain, NULL, RSRC_CONF,
                     "Names of one managed certificate; none in a <VirtualHost>: its "
                     "ServerName and ServerAlias"),
    AP_INIT_ITERATE("AcmeCA", set_ca, NULL, RSRC_CONF,
                    "ACME directory URL(s), letsencrypt or letsencrypt-staging; several = "
                    "failover order"),
    AP_INIT_TAKE1("AcmeCACertificateFile", set_ca_file, NULL, RSRC_CONF,
                  "PEM trust anchors for TLS to the CA"),
    AP_INIT_ITERATE("AcmeTrustedRootsFile", set_trusted_roots, NULL, RSRC_CONF,
                    "PEM files of roots issued certificates may chain to (beyond the system's)"),
    AP_INIT_TAKE1("AcmeContact", set_contact, NULL, RSRC_CONF,
                  "Email address of the ACME account"),
    AP_INIT_TAKE1("AcmeAgreeToTerms", set_agree_tos, NULL, RSRC_CONF,
                  "on: agree to the CA's terms of service"),
    AP_INIT_TAKE1("AcmeStoreDir", set_store_dir, NULL, RSRC_CONF,
                  "State directory, relative to ServerRoot"),
    AP_INIT_TAKE12("AcmePortMap", set_port_map, NULL, RSRC_CONF,
                   "http:N https:M: local ports the public ports 80 and 443 reach"),
    AP_INIT_ITERATE("AcmeChallenges", set_challenges, NULL, RSRC_CONF,
                    "Challenge types in preference order"),
    AP_INIT_ITERATE("AcmeKeyType", set_key_type, NULL, RSRC_CONF,
                    "Certificate key types: " ACME_KEY_TYPE_CHOICES "; one certificate each "
                    "(at most one EC and one RSA)"),
    AP_INIT_TAKE1("AcmeActivation", set_activation, NULL, RSRC_CONF,
                  "auto: graceful restart when new certificates are ready; manual"),
    AP_INIT_TAKE12("AcmeMaxParallel", set_max_parallel, NULL, RSRC_CONF,
                   "Orders in flight at once [50], and optionally new orders per CA: "
                   "N [ORDERS/DURATION], e.g. 20 300/3h [the CA's published limit]"),
    AP_INIT_TAKE1("AcmeProfile", set_profile, NULL, RSRC_CONF,
                  "ACME profile to order certificates with"),
    AP_INIT_TAKE1("AcmePreferredChain", set_preferred_chain, NULL, RSRC_CONF,
                  "issuer common name of the top certificate of the CA's alternate chain "
                  "to use"),
    AP_INIT_TAKE1("AcmeRenewWindow", set_renew_window, NULL, RSRC_CONF,
                  "Renew when this much lifetime is left: N% or a duration (30d, 12h)"),
    AP_INIT_TAKE1("AcmeWarnWindow", set_warn_window, NULL, RSRC_CONF,
                  "Warn when this much lifetime is left and renewal keeps failing: N% or a "
                  "duration (7d, 12h)"),
    AP_INIT_RAW_ARGS("AcmeNotifyCmd", set_notify_cmd, NULL, RSRC_CONF,
                     "Program (and arguments) run as root on events: PROGRAM [ARGS...] "
                     "EVENT DOMAIN"),
    AP_INIT_TAKE2("AcmeEAB", set_eab, NULL, RSRC_CONF,
                  "External Account Binding: key id and MAC key (base64url) from the CA"),
    AP_INIT_TAKE1("AcmeDnsCmd", set_dns_cmd, NULL, RSRC_CONF,
                  "dns-01 hook: PROGRAM setup|teardown _acme-challenge.NAME VALUE"),
    AP_INIT_RAW_ARGS("AcmeAutoDomains", set_auto_domains, NULL, RSRC_CONF,
                     "on [except NAME...]: manage every vhost's public names, adding "
                     "SSL vhosts where missing; off"),
    AP_INIT_TAKE1("AcmeDnsResolver", set_dns_resolver, NULL, RSRC_CONF,
                  "host[:port] of the DNS server that must see dns-01 TXT records"),
    AP_INIT_TAKE1("AcmeRequireHttps", set_require_https, NULL, RSRC_CONF,
                  "off|temporary|permanent: redirect http to https for managed names once "
                  "their certificate is live (302|301); permanent adds HSTS"),
    AP_INIT_TAKE1("AcmeCluster", set_cluster, (void *)ACME_CONF_CLUSTER_URL, RSRC_CONF,
                  "redis://, rediss:// or redis-sentinel:// URL of the Redis the nodes of a "
                  "cluster share"),
    AP_INIT_TAKE12("AcmeClusterKeyFile", set_cluster_key, (void *)ACME_CONF_CLUSTER_KEY,
                   RSRC_CONF, "File of 32 random bytes (mode 0600), the same on every node: "
                   "seals keys in Redis; a second file, the key being replaced, still opens "
                   "what it sealed while everything is sealed again with the first"),
    AP_INIT_TAKE1("AcmeClusterCACertificateFile", set_cluster, (void *)ACME_CONF_CLUSTER_CA,
                  RSRC_CONF, "PEM trust anchors for rediss://"),
    { NULL }
};

