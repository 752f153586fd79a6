/* The per-server record of mod_acme's directives: shared by acme_config.c
 * (create, merge, getters) and acme_config_cmds.c (the directive handlers)
 * only. Every other file reads it through the getters of acme_config.h. */
#ifndef ACME_CONFIG_INT_H
#define ACME_CONFIG_INT_H
#include <httpd.h>
#include "acme_config.h"

/* The server-level directives (GLOBAL_ONLY: refused in a <VirtualHost>),
 * one record for the whole configuration: the base server's, which every
 * vhost's record points at after the merge. Unset values are NULL / -1. */
typedef struct acme_srv_global_t {
    apr_array_header_t *ca_urls;      /* AcmeCA */
    const char *ca_file;              /* AcmeCACertificateFile */
    apr_array_header_t *trusted_roots; /* AcmeTrustedRootsFile: const char* paths */
    const char *contact;              /* AcmeContact */
    int agree_tos;                    /* AcmeAgreeToTerms */
    int activation_auto;              /* AcmeActivation */
    const char *store_dir;            /* AcmeStoreDir, absolute after parsing */
    int port_http, port_https;        /* AcmePortMap */
    apr_array_header_t *notify_cmd;   /* AcmeNotifyCmd: program, then its arguments */
    int max_parallel, pace_orders;    /* AcmeMaxParallel: 0 = default */
    apr_interval_time_t pace_window;
    const char *dns_resolver;         /* AcmeDnsResolver: host[:port] */
    const char *eab_kid, *eab_hmac;   /* AcmeEAB; the MAC is never logged or shown */
    const char *cluster[ACME_CONF_CLUSTER_N];       /* AcmeCluster*, acme_conf_cluster_e */
    const char *cluster_where[ACME_CONF_CLUSTER_N]; /* "file:line" of each */
    acme_runtime_t *runtime;          /* set by post_config, the same for every server */
    /* where the server-level directives were set, for configtest messages */
    const char *agree_tos_where;
    const char *where[ACME_CONF_WHERE_N]; /* "file:line" by acme_conf_where_e, but
                                           * ACME_CONF_WHERE_DNS_CMD (per server) */
} acme_srv_global_t;

/* Per-server configuration: the directives a <VirtualHost> may set, and the
 * server-level ones through g. One per server with an Acme directive of its
 * own (10,000 at 10,000 AcmeDomain vhosts), so it holds nothing more. Unset
 * values are NULL / -1. */
struct acme_srv_conf_t {
    acme_srv_global_t *g;             /* the base server's; NULL in a vhost's record
                                       * until the merge (server-level directives are
                                       * refused there before they store anything) */
    apr_array_header_t *challenges;   /* AcmeChallenges */
    apr_array_header_t *key_types;    /* AcmeKeyType: acme_key_type_e */
    const char *profile;              /* AcmeProfile */
    const char *preferred_chain;      /* AcmePreferredChain */
    acme_window_t renew_window;       /* AcmeRenewWindow */
    acme_window_t warn_window;        /* AcmeWarnWindow */
    const char *dns_cmd;              /* AcmeDnsCmd: absolute path */
    const char *dns_cmd_where;        /* "file:line" of the AcmeDnsCmd dns_cmd comes from */
    apr_array_header_t *decls;        /* AcmeDomain lines in this server: acme_domain_decl_t*;
                                       * NULL until the first */
    int require_https;                /* AcmeRequireHttps: own value, not merged */
    const ap_directive_t **once_at;   /* by acme_config_once's table: the line that set each
                                       * directive written once per context; NULL until the
                                       * first such line (merged: the server-level one where
                                       * the vhost has none) */
};

/* The record of server s (its module config; never NULL after create). */
acme_srv_conf_t *acme_config_get(server_rec *s);
/* The server-level record s uses: the base server's (for a vhost, once
 * merged). */
acme_srv_global_t *acme_config_global(server_rec *s);
/* The number of entries of a record's once_at. */
int acme_config_once_n(void);
#endif
