/* The per-server record of mod_acme's directives: shared by acme_config.c
 * (create, merge, getters) and acme_config_cmds.c (the directive handlers)
 * only. Every other file reads it through the getters of acme_config.h. */
#ifndef ACME_CONFIG_INT_H
#define ACME_CONFIG_INT_H
#include <httpd.h>
#include "acme_config.h"

/* Per-server configuration. Unset values are NULL / -1. */
struct acme_srv_conf_t {
    apr_array_header_t *ca_urls;      /* AcmeCA (server) */
    const char *ca_file;              /* AcmeCACertificateFile (server) */
    apr_array_header_t *trusted_roots; /* AcmeTrustedRootsFile (server): const char* paths */
    const char *contact;              /* AcmeContact (server) */
    int agree_tos;                    /* AcmeAgreeToTerms (server) */
    const char *store_dir;            /* AcmeStoreDir (server), absolute after parsing */
    int port_http, port_https;        /* AcmePortMap (server) */
    int activation_auto;              /* AcmeActivation (server) */
    apr_array_header_t *challenges;   /* AcmeChallenges (server, vhost) */
    apr_array_header_t *key_types;    /* AcmeKeyType (server, vhost): acme_key_type_e */
    const char *profile;              /* AcmeProfile (server, vhost) */
    const char *preferred_chain;      /* AcmePreferredChain (server, vhost) */
    acme_window_t renew_window;       /* AcmeRenewWindow (server, vhost) */
    acme_window_t warn_window;        /* AcmeWarnWindow (server, vhost) */
    apr_array_header_t *notify_cmd;   /* AcmeNotifyCmd (server): program, then its arguments */
    const char *dns_cmd;              /* AcmeDnsCmd (server, vhost): absolute path */
    int max_parallel, pace_orders;    /* AcmeMaxParallel (server): 0 = default */
    apr_interval_time_t pace_window;
    const char *dns_resolver;         /* AcmeDnsResolver (server): host[:port] */
    const char *eab_kid, *eab_hmac;   /* AcmeEAB (server); the MAC is never logged or shown */
    int require_https;                /* AcmeRequireHttps (server, vhost): own value, not merged */
    const char *cluster[ACME_CONF_CLUSTER_N];       /* AcmeCluster* (server), acme_conf_cluster_e */
    const char *cluster_where[ACME_CONF_CLUSTER_N]; /* "file:line" of each */
    apr_array_header_t *decls;        /* AcmeDomain lines in this server: acme_domain_decl_t* */
    acme_runtime_t *runtime;          /* set on every server by post_config */
    /* where the server-level directives were set, for configtest messages */
    const char *agree_tos_where;
    const char *auto_domains_where, *auto_domains_args;  /* AcmeAutoDomains (base server) */
    const char *where[ACME_CONF_WHERE_N]; /* "file:line" by acme_conf_where_e */
};

/* The record of server s (its module config; never NULL after create). */
acme_srv_conf_t *acme_config_get(server_rec *s);
#endif
