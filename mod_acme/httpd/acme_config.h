#ifndef ACME_CONFIG_H
#define ACME_CONFIG_H
#include <httpd.h>
#include <http_config.h>
#include "acme_job.h"

/* One AcmeDomain line, as written. */
typedef struct acme_domain_decl_t {
    server_rec *s;                    /* vhost (or base server) it appeared in */
    apr_array_header_t *names;        /* const char*; empty = the vhost's ServerName + ServerAlias */
    const char *file;
    int line;
} acme_domain_decl_t;

/* Per-server configuration. Unset values are NULL / -1; getters apply
 * defaults and merge rules so callers never reach into this struct. */
typedef struct acme_srv_conf_t {
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
    acme_window_t renew_window;       /* AcmeRenewWindow (server, vhost) */
    acme_window_t warn_window;        /* AcmeWarnWindow (server, vhost) */
    apr_array_header_t *notify_cmd;   /* AcmeNotifyCmd (server): program, then its arguments */
    const char *dns_cmd;              /* AcmeDnsCmd (server, vhost): absolute path */
    const char *dns_resolver;         /* AcmeDnsResolver (server): host[:port] */
    const char *eab_kid, *eab_hmac;   /* AcmeEAB (server); the MAC is never logged or shown */
    apr_array_header_t *decls;        /* AcmeDomain lines in this server: acme_domain_decl_t* */
    void *runtime;                    /* acme_runtime_t*, set on every server by post_config */
    /* where the server-level directives were set, for configtest messages */
    const char *agree_tos_where;
} acme_srv_conf_t;

acme_srv_conf_t *acme_conf_get(server_rec *s);

/* Typed getters with defaults applied (server-level values come from the base server). */
apr_array_header_t *acme_conf_ca_urls(server_rec *s);      /* [letsencrypt] */
const char *acme_conf_ca_file(server_rec *s);              /* NULL = system store */
/* AcmeTrustedRootsFile: PEM files of roots issued certificates may chain to,
 * beyond the system store and AcmeCACertificateFile (NULL = none). */
const apr_array_header_t *acme_conf_trusted_roots(server_rec *s);
const char *acme_conf_set_trusted_roots(cmd_parms *cmd, void *dc, const char *arg);
const char *acme_conf_contact(server_rec *s);              /* [ServerAdmin] */
int acme_conf_agree_tos(server_rec *s);                    /* 0 unless on */
const char *acme_conf_store_dir(server_rec *s);            /* [ServerRoot/acme] */
int acme_conf_port_http(server_rec *s);                    /* [80] */
int acme_conf_port_https(server_rec *s);                   /* [443] */
int acme_conf_activation_auto(server_rec *s);              /* [1] */
apr_array_header_t *acme_conf_challenges(server_rec *s);   /* [acme_conf_default_challenges] */
/* What this server can answer (acme_check.c): http-01 when a Listen covers the
 * port public port 80 reaches (AcmePortMap http), tls-alpn-01 when one covers
 * the port 443 reaches; both in that order; http-01 when neither. Read-only. */
apr_array_header_t *acme_conf_default_challenges(server_rec *s);
/* Every AcmeKeyType (acme_key_type_e), in order: one certificate each. [ec-p256] */
const apr_array_header_t *acme_conf_key_types(server_rec *s);
const char *acme_conf_profile(server_rec *s);
acme_window_t acme_conf_renew_window(server_rec *s);
acme_window_t acme_conf_warn_window(server_rec *s);        /* [10%] */
/* AcmeNotifyCmd as argv (const char*, absolute program path first), or NULL. */
const apr_array_header_t *acme_conf_notify_cmd(server_rec *s);

/* acme_config_dns.c: dns-01 */
const char *acme_conf_set_dns_cmd(cmd_parms *cmd, void *dc, const char *arg);
const char *acme_conf_set_dns_resolver(cmd_parms *cmd, void *dc, const char *arg);
const char *acme_conf_dns_cmd(server_rec *s);               /* NULL = none */
const char *acme_conf_dns_resolver(server_rec *s);          /* NULL = system resolver */
/* May s manage wildcard names: an AcmeDnsCmd, and dns-01 allowed (listed in
 * AcmeChallenges, or no AcmeChallenges at all)? */
int acme_conf_wildcards_ok(server_rec *s);
/* The challenge types of a domain of s with these names: AcmeChallenges, or
 * the default plus dns-01 when a name is a wildcard and AcmeDnsCmd is set. */
apr_array_header_t *acme_conf_domain_challenges(apr_pool_t *p, server_rec *s,
                                                const apr_array_header_t *names);
/* "ACME009nn: what; fix" when the dns-01 settings of s cannot work, else NULL. */
const char *acme_conf_dns_problem(apr_pool_t *p, server_rec *s);
/* AcmeEAB: key id and MAC key (base64url), both NULL when not configured. */
void acme_conf_eab(server_rec *s, const char **kid, const char **hmac);

/* The domain table: every AcmeDomain of every server, names resolved (vhost
 * ServerName + aliases when none given), validated, as acme_domain_t*.
 * On a config error returns NULL and sets *err to "ACME005nn: file:line: what; fix".
 * *decls (if not NULL) gets the acme_domain_decl_t* each domain comes from,
 * index for index, for messages that name the AcmeDomain line. */
apr_array_header_t *acme_conf_domains_decls(apr_pool_t *p, server_rec *base,
                                            apr_array_header_t **decls, const char **err);

/* NULL if name may go into an AcmeDomain, else the tagged reason and fix. */
const char *acme_conf_check_name(apr_pool_t *p, const char *name, int wildcards_ok);

/* acme_config_parse.c */
/* "N%" (1..100) or a duration ("30d", "12h", "90m", "3600s") into *w; 0 if neither. */
int acme_conf_parse_window(const char *arg, acme_window_t *w);
/* NULL if kid and hmac (base64url, '=' padding tolerated) make an AcmeEAB,
 * else why not; the reason never quotes the MAC key. */
const char *acme_conf_check_eab(apr_pool_t *p, const char *kid, const char *hmac);
/* NULL if path is a program the root parent may run, else why not. */
const char *acme_conf_check_program(apr_pool_t *p, const char *path, const char *runs_as);

/* acme_rootprog.c */
/* NULL if root may run the program at path: the file and every directory
 * (and link) on its way from "/" are owned by root and writable by nobody
 * else (a sticky directory such as /tmp may be); else what is wrong and how
 * to fix it, allocated from p. */
const char *acme_conf_check_root_program(apr_pool_t *p, const char *path);
/* The same checks, then the program opened (O_RDONLY, O_CLOEXEC) and the
 * descriptor checked again: returns the descriptor to execute, or -1 with
 * *why set (from p). The caller closes it. */
int acme_root_program_open(apr_pool_t *p, const char *path, const char **why);

extern const command_rec acme_cmds[];
void *acme_conf_create_srv(apr_pool_t *p, server_rec *s);
void *acme_conf_merge_srv(apr_pool_t *p, void *base, void *add);
#endif
