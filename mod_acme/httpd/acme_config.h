#ifndef ACME_CONFIG_H
#define ACME_CONFIG_H
#include <apr_hash.h>
#include <httpd.h>
#include <http_config.h>
#include "acme_job.h"
#include "acme_runtime.h"

/* One AcmeDomain line, as written. */
typedef struct acme_domain_decl_t {
    server_rec *s;                    /* vhost (or base server) it appeared in */
    apr_array_header_t *names;        /* const char*; empty = the vhost's ServerName + ServerAlias
                                       * (then a shared read-only array: never push) */
    const char *file;
    int line;
} acme_domain_decl_t;

/* Per-server configuration, private to acme_config.c: callers use the
 * getters below, which apply defaults and merge rules. */
typedef struct acme_srv_conf_t acme_srv_conf_t;

/* Typed getters with defaults applied (server-level values come from the base server). */
apr_array_header_t *acme_config_ca_urls(server_rec *s);      /* [letsencrypt] */
const char *acme_config_ca_file(server_rec *s);              /* NULL = system store */
/* AcmeTrustedRootsFile: PEM files of roots issued certificates may chain to,
 * beyond the system store and AcmeCACertificateFile (NULL = none). */
const apr_array_header_t *acme_config_trusted_roots(server_rec *s);
const char *acme_config_contact(server_rec *s);              /* [ServerAdmin] */
int acme_config_agree_tos(server_rec *s);                    /* 0 unless on */
const char *acme_config_store_dir(server_rec *s);            /* [ServerRoot/acme] */
int acme_config_port_http(server_rec *s);                    /* [80] */
int acme_config_port_https(server_rec *s);                   /* [443] */
int acme_config_activation_auto(server_rec *s);              /* [1] */
apr_array_header_t *acme_config_challenges(server_rec *s);   /* [acme_config_default_challenges] */
/* AcmeChallenges as written (const char*), NULL when not set. */
const apr_array_header_t *acme_config_challenges_set(server_rec *s);
/* Does a Listen cover this local port? */
int acme_config_listener_on(apr_port_t port);
/* What this server can answer: http-01 when a Listen covers the
 * port public port 80 reaches (AcmePortMap http), tls-alpn-01 when one covers
 * the port 443 reaches; both in that order; http-01 when neither. Read-only. */
apr_array_header_t *acme_config_default_challenges(server_rec *s);
/* Every AcmeKeyType (acme_key_type_e), in order: one certificate each. [ec-p256] */
const apr_array_header_t *acme_config_key_types(server_rec *s);
const char *acme_config_profile(server_rec *s);
/* AcmePreferredChain: issuer CN of the top certificate of the chain to use, or NULL. */
const char *acme_config_preferred_chain(server_rec *s);
acme_window_t acme_config_renew_window(server_rec *s);
acme_window_t acme_config_warn_window(server_rec *s);        /* [10%] */
/* AcmeNotifyCmd as argv (const char*, absolute program path first), or NULL. */
const apr_array_header_t *acme_config_notify_cmd(server_rec *s);

/* AcmeRequireHttps as written in s itself (ACME_HTTPS_UNSET when not):
 * never inherited, acme_https.c decides which server's value applies. */
typedef enum {
    ACME_HTTPS_UNSET = -1,
    ACME_HTTPS_OFF = 0,
    ACME_HTTPS_TEMPORARY,             /* 302 */
    ACME_HTTPS_PERMANENT              /* 301 and Strict-Transport-Security */
} acme_https_mode_e;
acme_https_mode_e acme_config_require_https_own(server_rec *s);

const char *acme_config_dns_cmd(server_rec *s);               /* NULL = none */
const char *acme_config_dns_resolver(server_rec *s);          /* NULL = system resolver */
/* The AcmeCluster* directives (acme_config_cluster.c checks their values). */
typedef enum {
    ACME_CONF_CLUSTER_URL = 0,    /* AcmeCluster: the URL as written */
    ACME_CONF_CLUSTER_KEY,        /* AcmeClusterKeyFile: absolute path */
    ACME_CONF_CLUSTER_CA,         /* AcmeClusterCACertificateFile: absolute path */
    ACME_CONF_CLUSTER_PREVIOUS,   /* AcmeClusterKeyFile's second file (the key being
                                   * rotated out): absolute path */
    ACME_CONF_CLUSTER_N
} acme_conf_cluster_e;
/* The value of one AcmeCluster* directive (NULL: not set), *where (if not
 * NULL) its "file:line". Server-level values, read from any server. */
const char *acme_config_cluster(server_rec *s, acme_conf_cluster_e which, const char **where);
/* acme_config_cluster.c: one AcmeCluster* argument checked now (configtest),
 * its value (the URL, or a ServerRoot-relative path made absolute) into
 * *value (cmd->pool). NULL, or "ACME010nn: what; fix". */
const char *acme_config_cluster_parse(cmd_parms *cmd, acme_conf_cluster_e which, const char *arg,
                                      const char **value);

/* AcmeEAB: key id and MAC key (base64url), both NULL when not configured. */
void acme_config_eab(server_rec *s, const char **kid, const char **hmac);
/* The AcmeDomain lines written in s (acme_domain_decl_t*), never inherited;
 * a vhost without any Acme directive shares the base server's array. */
const apr_array_header_t *acme_config_decls(server_rec *s);
/* Directives whose place configtest messages name (acme_config_where). */
typedef enum {
    ACME_CONF_WHERE_CA_FILE = 0,  /* AcmeCACertificateFile */
    ACME_CONF_WHERE_STORE_DIR,    /* AcmeStoreDir */
    ACME_CONF_WHERE_DNS_CMD,      /* AcmeDnsCmd: the line that set s's hook */
    ACME_CONF_WHERE_N
} acme_conf_where_e;
/* "file:line" of the directive that set what s uses, NULL when not written. */
const char *acme_config_where(server_rec *s, acme_conf_where_e which);
/* acme_config_once.c: NULL when cmd's directive, if it takes one value per
 * context (server configuration, or one <VirtualHost>), is its first line
 * in cmd's context (then remembered in acme_srv_conf_t's once_at); else
 * "ACME01600: ..." naming both lines and what to keep (cmd->pool). Call it
 * once the directive's context is checked. */
const char *acme_config_once(cmd_parms *cmd);
/* "file:line" (from p) of the line that set directive name (e.g.
 * "AcmeChallenges") for s: its own, else the server-level one; NULL when
 * not written, or name is not a directive of one value per context. */
const char *acme_config_once_where(apr_pool_t *p, server_rec *s, const char *name);
/* "file:line" of AcmeAgreeToTerms, NULL when not written. */
const char *acme_config_agree_tos_where(server_rec *s);
/* The runtime post_config hands every server (acme_runtime.c), or NULL. */
acme_runtime_t *acme_config_runtime(server_rec *s);
void acme_config_set_runtime(server_rec *s, acme_runtime_t *rt);

/* acme_config_dns.c: dns-01, functions of the values they are given. */
/* AcmeDnsCmd's argument checked, its absolute path into *path (cmd->pool):
 * NULL, or "ACME0090n: what; fix". */
const char *acme_config_dns_cmd_parse(cmd_parms *cmd, const char *arg, const char **path);
/* AcmeDnsResolver's argument checked: NULL, or "ACME0091n: what; fix". */
const char *acme_config_dns_resolver_parse(cmd_parms *cmd, const char *arg);
/* May a server manage wildcard names: an AcmeDnsCmd, and dns-01 allowed
 * (explicit_types, AcmeChallenges as written, lists it or is NULL); or
 * dns-persist-01 listed (its record carries policy=wildcard)? */
int acme_config_wildcards_ok(const char *dns_cmd, const apr_array_header_t *explicit_types);
/* The challenge types of a domain with these names: a copy of types (what
 * acme_config_challenges says), plus dns-01 when a name is a wildcard, a hook
 * is set and AcmeChallenges is not (explicit_types NULL). */
apr_array_header_t *acme_config_domain_challenges(apr_pool_t *p, const apr_array_header_t *types,
                                                  const apr_array_header_t *explicit_types,
                                                  const char *dns_cmd,
                                                  const apr_array_header_t *names);
/* "ACME009nn: file:line: what; fix" (from p) when these dns-01 settings
 * cannot work, else NULL: challenges_at is where AcmeChallenges was written
 * ("file:line", the place the message names), domain_at the AcmeDomain the
 * settings apply to. */
const char *acme_config_dns_problem(apr_pool_t *p, const char *dns_cmd,
                                   const apr_array_header_t *explicit_types,
                                   const char *challenges_at, const char *domain_at);

/* AcmeMaxParallel of the server (base server's values; zeros = defaults). */
void acme_config_pacing(server_rec *s, acme_pacing_t *pacing);

/* acme_check_domains.c: the domain table: every AcmeDomain of every server, names resolved (vhost
 * ServerName + aliases when none given), validated, as acme_domain_t*.
 * On a config error returns NULL and sets *err to "ACME005nn: file:line: what; fix".
 * *decls (if not NULL) gets the acme_domain_decl_t* each domain comes from,
 * index for index, for messages that name the AcmeDomain line. */
apr_array_header_t *acme_check_domains_decls(apr_pool_t *p, server_rec *base,
                                             apr_array_header_t **decls, const char **err);
/* acme_check_domains.c: "file:line" of the AcmeDomain line decl, from p. */
const char *acme_check_domains_where(apr_pool_t *p, const acme_domain_decl_t *decl);
/* acme_check_domains.c: for a <VirtualHost> without a ServerName of its own,
 * where httpd took the name it gave it (server/vhost.c, ap_fini_vhost_config):
 * the main server's name on a default address, else its address's reverse DNS
 * name. Returns NULL when s has a ServerName of its own. *vhost_at gets the
 * <VirtualHost>'s "file:line"; *written 1 when the name is a server-level
 * ServerName written in the configuration. Strings from p. */
const char *acme_check_domains_origin(apr_pool_t *p, const server_rec *s,
                                      const char **vhost_at, int *written);
/* acme_check.c: 1 when host name name (lowercase, no trailing dot) is s's
 * ServerName or one of its ServerAlias names, or a wildcard ServerAlias of s
 * matches it; else 0. IP literals get no special case here. */
int acme_check_server_has_name(const server_rec *s, const char *name);

/* acme_check_user.c: what the issuing child needs from the file system,
 * checked as the identity it runs as (the server's User, when httpd starts as
 * root): AcmeCACertificateFile and AcmeClusterCACertificateFile readable, the
 * AcmeDnsCmd hook of every domain using dns-01 executable, the store
 * reachable and its child areas writable. domains and decls as from
 * acme_check_domains_decls. Each problem is logged with file, line,
 * directive, user and fix (ACME00570-ACME00576). Returns 0 when one was found
 * during a configuration test (httpd -t), else 1: at a start (post_config,
 * where the error log is open) the problems are logged as errors and the
 * server starts. Temporary memory from p. */
int acme_check_user(apr_pool_t *p, server_rec *base, const apr_array_header_t *domains,
                    const apr_array_header_t *decls);

/* acme_vhost_map.c: which certificates each vhost serves. Returns a hash
 * server_rec* -> apr_array_header_t* of acme_domain_t* (one AcmeDomain's
 * certificates, one per key type, first type first), allocated from p; the
 * indexes it builds live in ptemp. A vhost serves the AcmeDomain written in
 * it, else the first domain holding all its names, else the first with an IP
 * address the vhost is declared on; vhosts serving none are absent.
 * Linear in vhosts + names (hash lookups). */
apr_hash_t *acme_vhost_map_domains(apr_pool_t *p, apr_pool_t *ptemp, server_rec *base,
                               apr_array_header_t *domains, apr_array_header_t *decls);

/* acme_vhost_map.c: 1 if one of d's names is host or covers it (a
 * wildcard one label up, the same IP address), else 0. */
int acme_vhost_map_covers(const acme_domain_t *d, const char *host);
/* acme_vhost_map.c: acme_vhost_map_covers for a list of names (const char *)
 * instead of a domain's. */
int acme_vhost_map_names_cover(const apr_array_header_t *names, const char *host);

/* acme_vhost_map.c: fills rt->names and rt->pattern_domains from
 * rt->domains (post_config, in the parent; read-only afterwards, so request
 * threads read them without locks). Allocates from rt->pool. */
void acme_vhost_map_index_names(acme_runtime_t *rt);
/* acme_vhost_map.c: maps each of names (const char *, a domain's or those
 * its certificate holds) that by_name does not hold yet to value, so a name
 * stays with the first entry indexed for it. Returns 1 when one of names is
 * a wildcard or an IP address (a name lookup alone does not find every host
 * such names cover), else 0. The names are the keys: they must live as long
 * as by_name. Allocates from by_name's pool. */
int acme_vhost_map_index(apr_hash_t *by_name, const apr_array_header_t *names, void *value);
/* The domain one of whose names is host or covers it, or NULL: a hash
 * lookup, then a walk over the few domains with wildcard or IP names.
 * host as httpd gives r->hostname (lowercase, no brackets). Allocates nothing. */
const acme_domain_t *acme_vhost_map_domain_of(const acme_runtime_t *rt, const char *host);

/* acme_rootprog.c */
/* NULL if root may run the program at path: the file and every directory
 * (and link) on its way from "/" are owned by root and writable by nobody
 * else (a sticky directory such as /tmp may be), and so is the interpreter a
 * script's "#!" line names (and its own, up to 4 deep; for
 * "#!/usr/bin/env prog", what prog is in acme_rootprog_path); else what is
 * wrong and how to fix it, allocated from p. */
const char *acme_rootprog_check_program(apr_pool_t *p, const char *path);
/* The same checks, then the program opened (O_RDONLY, O_CLOEXEC) and the
 * descriptor checked again: returns the descriptor to execute, or -1 with
 * *why set (from p). The caller closes it. */
int acme_rootprog_open(apr_pool_t *p, const char *path, const char **why);
/* The PATH a program root runs gets: the absolute entries of the process's
 * PATH (unset: the usual system one) whose directories and every directory
 * on their way are root's alone, in order; "/nonexistent" if none is. A
 * directory the User could write would let the User choose what the program
 * (or "#!/usr/bin/env prog") runs by name. Allocated from p. */
const char *acme_rootprog_path(apr_pool_t *p);
/* NULL if the store directory at path (absolute) can be root's alone: it,
 * or where it does not exist yet the directory it would be created in, is a
 * directory, and it and every directory (and link) on its way from "/" are
 * owned by root and writable by nobody else (a sticky directory such as /tmp
 * may be on the way). Else what is wrong and how to fix it, from p. Why: the
 * parent keeps certificate keys there and acts on what it finds; a store the
 * User could rename or replace lets the User point root elsewhere. In a
 * process not running as root (an httpd a user starts, who is then its User
 * too), that user's entries count as root's, here and in the program checks
 * above. */
const char *acme_rootprog_check_store_dir(apr_pool_t *p, const char *path);

/* acme_autossl.c: what pre_config added to the configuration tree. */
typedef struct acme_twin_t {
    const char *where;        /* "file:line" of the <VirtualHost> on the http port */
    const char *addrs;        /* its addresses as written ("*:80") */
    const char *twin_addrs;   /* the twin's ("*:443"), also when not added (no mod_ssl) */
    const char *names;        /* the names the twin carries (its certificate covers),
                               * space-separated */
    int automatic;            /* its AcmeDomain was added by AcmeAutoDomains */
} acme_twin_t;
/* A host name of a <VirtualHost> that mod_acme gets no certificate for, or
 * leaves out of an HTTPS twin, and why (shown by configtest and logged). */
typedef struct acme_autossl_skip_t {
    const char *name;         /* normalized */
    const char *where;        /* "file:line" of its <VirtualHost> */
    const char *why;          /* the reason, a sentence fragment */
    const char *cert;         /* uncovered only: the certificate it is served with */
    const char *fix;          /* uncovered and elsewhere: what to change */
} acme_autossl_skip_t;
/* A <VirtualHost> without a ServerName of its own: httpd gives it the main
 * server's name or its address's reverse DNS name (server/vhost.c). */
typedef struct acme_autossl_unnamed_t {
    const char *where;        /* "file:line" of the <VirtualHost> */
    int ssl;                  /* SSL, or its HTTPS twin was added (which holds its AcmeDomain) */
} acme_autossl_unnamed_t;
typedef struct acme_autossl_t {
    int http_port, https_port;       /* AcmePortMap as read from the tree [80, 443] */
    apr_array_header_t *twins;       /* acme_twin_t*: HTTPS twins added */
    apr_array_header_t *wanted;      /* acme_twin_t*: twins not added: mod_ssl not loaded */
    const char *auto_where;          /* "file:line" of AcmeAutoDomains on, or NULL */
    int auto_added;                  /* AcmeDomain lines AcmeAutoDomains added */
    const char *http_listen_where;   /* "file:line" of a Listen on the http port, or NULL */
    const char *http_listen_word;    /* its address and port as written ("127.0.0.1:80") */
    const char *http_listen_addr;    /* its address ("127.0.0.1", "[::1]"), NULL for a port */
    const char *https_listen;        /* "'Listen args' at file:line", the first on the https
                                      * port, or NULL */
    apr_array_header_t *skipped;     /* acme_autossl_skip_t*: names left without certificate */
    apr_array_header_t *uncovered;   /* acme_autossl_skip_t*: names of SSL vhosts whose
                                      * certificate from mod_acme does not hold them */
    apr_array_header_t *unmatched;   /* const char*: 'except' names no <VirtualHost> has */
    apr_array_header_t *unlooped;    /* const char*: "file:line: 'Directive args'" of the
                                      * redirects to https a twin leaves out */
    apr_hash_t *refused;             /* names left out on purpose (key: normalized name):
                                      * a TLS handshake for one that no SSL vhost of the
                                      * address serves is refused (unrecognized_name) */
    apr_array_header_t *elsewhere;   /* acme_autossl_skip_t*: names a twin leaves out that
                                      * another <VirtualHost>'s twin serves with a certificate
                                      * holding them (why: that vhost and its certificate;
                                      * where that twin is not on every address of this
                                      * vhost, why also names the https addresses it lacks
                                      * and fix the <VirtualHost> line that would put it
                                      * there; else fix is NULL) */
    apr_hash_t *unnamed;             /* "file:line" of a <VirtualHost> (server_rec's
                                      * defn_name:defn_line_number) -> acme_autossl_unnamed_t*,
                                      * for each one without a ServerName of its own */
    const char *server_name_where;   /* "file:line" of the server-level ServerName, or NULL */
} acme_autossl_t;
/* This configuration's record (allocated from pconf), NULL before pre_config. */
const acme_autossl_t *acme_autossl_get(apr_pool_t *pconf);
/* acme_autossl_auto.c: AcmeAutoDomains' arguments: "on [except NAME...]" or
 * "off" into *on and *except (normalized names, from p). NULL, or
 * "ACME0140n: what; fix". */
const char *acme_autossl_auto_parse(apr_pool_t *p, const char *args, int *on,
                                    apr_array_header_t **except);
/* acme_autossl_report.c: the skipped names in configtest and the error log,
 * and the TLS handshake refusal of names left out on purpose. */
void acme_autossl_report_register_hooks(apr_pool_t *p);

extern const command_rec acme_cmds[];
void *acme_config_create_srv(apr_pool_t *p, server_rec *s);
void *acme_config_merge_srv(apr_pool_t *p, void *base, void *add);
#endif
