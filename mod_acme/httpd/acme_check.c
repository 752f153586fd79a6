/* The checks that need the whole configuration (the domain table itself is
 * made in acme_check_domains.c). They run in check_config, so
 * "apachectl configtest" reports them with the file and line to fix. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <http_core.h>
#include <http_main.h>
#include <ap_listen.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_conf_parse.h"
#include "acme_name.h"
#include "acme_proc.h"

/* ---- whole-configuration checks ------------------------------------------ */

static void report(server_rec *base, const char *msg)
{
    /* STARTUP: printed as is on stderr during configtest, whatever LogLevel says. */
    /* logtag: from caller */
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, base, "%s", msg);
}

/* Does a "Listen ... https" cover this port? */
static int https_listener_on(apr_port_t port)
{
    ap_listen_rec *lr;

    for (lr = ap_listeners; lr; lr = lr->next) {
        if (lr->bind_addr && lr->bind_addr->port == port && lr->protocol
            && !strcasecmp(lr->protocol, "https")) {
            return 1;
        }
    }
    return 0;
}

/* Whether mod_ssl serves s: it listens on the https port (AcmePortMap, 443)
 * or on a port Listen declares https, or speaks https by its Protocol.
 * mod_ssl's own record is private to it. */
static int is_https_server(server_rec *s, int https_port)
{
    const char *protocol = ap_get_server_protocol(s);
    server_addr_rec *addr;

    if (protocol && !strcasecmp(protocol, "https")) {
        return 1;
    }
    for (addr = s->addrs; addr; addr = addr->next) {
        if (addr->host_port == https_port || https_listener_on(addr->host_port)) {
            return 1;
        }
    }
    return !s->is_virtual && s->port == https_port;
}

/* Is the vhost declared on this address (<VirtualHost 192.0.2.10:443>)? */
static int server_has_addr(server_rec *s, const char *ip)
{
    server_addr_rec *addr;
    char *text;

    for (addr = s->addrs; s->is_virtual && addr; addr = addr->next) {
        if (addr->host_addr && apr_sockaddr_ip_get(&text, addr->host_addr) == APR_SUCCESS
            && acme_name_covers(ip, text)) {
            return 1;
        }
    }
    return 0;
}

int acme_check_server_has_name(const server_rec *s, const char *name)
{
    int i;

    if (s->server_hostname && !strcasecmp(s->server_hostname, name)) {
        return 1;
    }
    for (i = 0; s->names && i < s->names->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(s->names, i, const char *), name)) {
            return 1;
        }
    }
    for (i = 0; s->wild_names && i < s->wild_names->nelts; i++) {
        if (!ap_strcasecmp_match(name, APR_ARRAY_IDX(s->wild_names, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

static int server_has_name(server_rec *s, const char *name)
{
    /* Clients reaching an address send no SNI: the vhost of that address
     * answers, or one whose ServerName is the address. */
    if (acme_name_is_ip(name)) {
        return server_has_addr(s, name)
               || (s->server_hostname && acme_name_covers(name, s->server_hostname));
    }
    return acme_check_server_has_name(s, name);
}

static int has_ip(const acme_domain_t *d)
{
    int i;

    for (i = 0; i < d->names->nelts; i++) {
        if (acme_name_is_ip(APR_ARRAY_IDX(d->names, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

/* The SSL vhosts indexed by the names they answer, built once per check so
 * that "does an SSL vhost serve NAME" costs a hash lookup, not a walk over
 * every vhost (10,000 names x 10,000 vhosts made configtest quadratic). */
typedef struct {
    apr_hash_t *exact;              /* lowercased ServerName/ServerAlias -> "" */
    apr_array_header_t *wild;       /* server_rec* with wildcard ServerAlias */
    apr_array_header_t *https;      /* server_rec* of every SSL vhost, for IP names */
} served_index_t;

static void index_name(apr_pool_t *p, apr_hash_t *exact, const char *name)
{
    char *key = apr_pstrdup(p, name), *c;

    for (c = key; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    apr_hash_set(exact, key, APR_HASH_KEY_STRING, "");
}

static served_index_t *served_index_make(apr_pool_t *p, server_rec *base, int https_port)
{
    served_index_t *ix = apr_pcalloc(p, sizeof(*ix));
    server_rec *s;
    int i;

    ix->exact = apr_hash_make(p);
    ix->wild = apr_array_make(p, 4, sizeof(server_rec *));
    ix->https = apr_array_make(p, 64, sizeof(server_rec *));
    for (s = base; s; s = s->next) {
        if (!is_https_server(s, https_port)) {
            continue;
        }
        APR_ARRAY_PUSH(ix->https, server_rec *) = s;
        if (s->server_hostname) {
            index_name(p, ix->exact, s->server_hostname);
        }
        for (i = 0; s->names && i < s->names->nelts; i++) {
            index_name(p, ix->exact, APR_ARRAY_IDX(s->names, i, const char *));
        }
        if (s->wild_names && s->wild_names->nelts) {
            APR_ARRAY_PUSH(ix->wild, server_rec *) = s;
        }
    }
    return ix;
}

/* Same answer as walking every SSL vhost with server_has_name(). Names in
 * the domain table are normalized (lowercase), as are the index's keys. */
static int served(const served_index_t *ix, const char *name)
{
    const apr_array_header_t *walk = acme_name_is_ip(name) ? ix->https : ix->wild;
    int i;

    if (walk == ix->wild && apr_hash_get(ix->exact, name, APR_HASH_KEY_STRING)) {
        return 1;
    }
    for (i = 0; i < walk->nelts; i++) {
        if (server_has_name(APR_ARRAY_IDX(walk, i, server_rec *), name)) {
            return 1;
        }
    }
    return 0;
}

/* Names of d that no SSL vhost answers, comma-separated, or NULL. */
static const char *unserved_names(apr_pool_t *p, const served_index_t *ix,
                                  const acme_domain_t *d)
{
    const char *missing = NULL;
    int i;

    for (i = 0; i < d->names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(d->names, i, const char *);
        if (!served(ix, name)) {
            missing = missing ? apr_pstrcat(p, missing, ", ", name, NULL) : name;
        }
    }
    return missing;
}

/* A vhost without a ServerName of its own whose AcmeDomain lists names no
 * SSL vhost carries: said with the name httpd gave it, where that came
 * from and what to write in it (an SSL vhost is then picked by that name;
 * a port-80 one gets its HTTPS twin); 1 when reported. */
static int unnamed_unserved(apr_pool_t *p, server_rec *base, const acme_domain_decl_t *decl,
                            const acme_domain_t *d, int https_port, const char *missing)
{
    const char *vhost_at = NULL, *origin;
    int written, ssl;

    if (decl->s == base || !(origin = acme_check_domains_origin(p, decl->s, &vhost_at, &written))) {
        return 0;
    }
    ssl = is_https_server(decl->s, https_port);
    report(base, apr_psprintf(p, "ACME00580: %s: the %s<VirtualHost> at %s with this "
           "AcmeDomain has no ServerName of its own (httpd named it '%s' after %s), and "
           "neither that name nor a ServerAlias of it is %s: %s; add 'ServerName %s' inside "
           "the <VirtualHost> at %s (and 'ServerAlias' with its other names)",
           acme_check_domains_where(p, decl), ssl ? "SSL " : "", vhost_at,
           decl->s->server_hostname, origin,
           missing, ssl ? "mod_ssl picks a vhost for a TLS client by the name the client asks "
                          "for, so no SSL vhost answers it and the certificate would not be used"
                        : "mod_acme adds the HTTPS twin of a port-80 vhost for the names it "
                          "carries, so no SSL vhost would serve the certificate",
           APR_ARRAY_IDX(d->names, 0, const char *), vhost_at));
    return 1;
}

/* A valid name that a nameless AcmeDomain took from the server-level
 * ServerName (httpd gives it to a <VirtualHost> without one): a warning,
 * since httpd does answer that name there, but nobody wrote it for the vhost. */
static void check_inherited_names(apr_pool_t *p, server_rec *base, apr_array_header_t *decls)
{
    int i, written;

    for (i = 0; i < decls->nelts; i++) {
        const acme_domain_decl_t *decl = APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *);
        const char *vhost_at = NULL, *origin;

        if ((i > 0 && decl == APR_ARRAY_IDX(decls, i - 1, const acme_domain_decl_t *))
            || decl->names->nelts
            || !(origin = acme_check_domains_origin(p, decl->s, &vhost_at, &written))
            || !written) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, base, "ACME00579: %s: "
                     "AcmeDomain without names takes its <VirtualHost>'s ServerName, and the "
                     "<VirtualHost> at %s has none of its own: its certificate is for '%s', "
                     "%s, which httpd gives it; if that is this site's name, write 'ServerName "
                     "%s' inside the <VirtualHost> at %s, else write the site's name there",
                     acme_check_domains_where(p, decl), vhost_at, decl->s->server_hostname, origin,
                     decl->s->server_hostname, vhost_at);
    }
}

/* An address in a ServerAlias of the <VirtualHost> of an AcmeDomain without
 * names that no SSL vhost answers (written there for http: health checks,
 * a bare-address site): said with the vhost, the address and the ways out,
 * rather than as a name to add a vhost for. 1 when reported. */
static int alias_address_unserved(apr_pool_t *p, server_rec *base, const served_index_t *ix,
                                  const acme_domain_decl_t *decl, const acme_domain_t *d,
                                  int https_port)
{
    const char *ip = NULL, *dns = "", *name;
    int i;

    for (i = 0; i < d->names->nelts; i++) {
        name = APR_ARRAY_IDX(d->names, i, const char *);
        if (!acme_name_is_ip(name)) {
            dns = apr_pstrcat(p, dns, *dns ? " " : "", name, NULL);
        }
        else if (!ip && !served(ix, name) && acme_check_server_has_name(decl->s, name)
                 && !(decl->s->server_hostname && !strcasecmp(decl->s->server_hostname, name))) {
            ip = name;
        }
    }
    if (decl->names->nelts || decl->s == base || !ip) {
        return 0;
    }
    report(base, apr_psprintf(p, "ACME00587: %s: AcmeDomain without names takes every "
           "ServerName and ServerAlias of its <VirtualHost> (at %s:%u), and 'ServerAlias %s' "
           "there is an IP address that no SSL virtual host (port %d) answers: a client "
           "asking for an address sends no name, so only an SSL <VirtualHost> on that address "
           "serves a certificate for it; take %s out of that ServerAlias%s%s%s, or, for a "
           "certificate of the address, give it a <VirtualHost %s%s%s:%d> with 'AcmeDomain %s'",
           acme_check_domains_where(p, decl), decl->s->defn_name, decl->s->defn_line_number, ip,
           https_port,
           ip, *dns ? ", or list the names after AcmeDomain ('AcmeDomain " : "", dns,
           *dns ? "')" : "", strchr(ip, ':') ? "[" : "", ip, strchr(ip, ':') ? "]" : "",
           https_port, ip));
    return 1;
}

static int check_served(apr_pool_t *p, server_rec *base, apr_array_header_t *domains,
                        apr_array_header_t *decls)
{
    int https_port = acme_config_port_https(base);
    served_index_t *ix = served_index_make(p, base, https_port);
    int i, ok = 1;

    for (i = 0; i < domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const acme_domain_decl_t *decl = APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *);
        const char *missing;

        /* Further key types of one AcmeDomain have the same names. */
        if (i > 0 && decl == APR_ARRAY_IDX(decls, i - 1, const acme_domain_decl_t *)) {
            continue;
        }
        missing = unserved_names(p, ix, d);
        if (missing && (unnamed_unserved(p, base, decl, d, https_port, missing)
                        || alias_address_unserved(p, base, ix, decl, d, https_port))) {
            ok = 0;
        }
        else if (missing) {
            report(base, apr_psprintf(p, "ACME00531: %s: no SSL virtual host (port %d) serves "
                   "%s, so a certificate for it would never be used; add a "
                   "<VirtualHost *:%d> with ServerName/ServerAlias for them%s, or remove them "
                   "from AcmeDomain", acme_check_domains_where(p, decl), https_port, missing,
                   https_port,
                   has_ip(d) ? " (for an IP address: 'ServerName <address>', or a "
                               "<VirtualHost <address>:PORT>)" : ""));
            ok = 0;
        }
    }
    return ok;
}

static int check_terms(apr_pool_t *p, server_rec *base, apr_array_header_t *decls)
{
    const acme_domain_decl_t *first = APR_ARRAY_IDX(decls, 0, const acme_domain_decl_t *);
    const char *at = acme_config_agree_tos_where(base);

    if (acme_config_agree_tos(base)) {
        return 1;
    }
    report(base, apr_psprintf(p, "ACME00532: %s: AcmeAgreeToTerms on is required: mod_acme "
           "cannot obtain certificates without agreeing to the CA's terms of service (%s); "
           "%s", at ? at : acme_check_domains_where(p, first),
           APR_ARRAY_IDX(acme_config_ca_urls(base), 0, const char *),
           at ? "change this line to 'AcmeAgreeToTerms on'"
              : "add 'AcmeAgreeToTerms on' at server level"));
    return 0;
}

static int check_ssl_loaded(apr_pool_t *p, server_rec *base, apr_array_header_t *decls,
                            const acme_autossl_t *autossl)
{
    const acme_domain_decl_t *first = APR_ARRAY_IDX(decls, 0, const acme_domain_decl_t *);
    const acme_twin_t *t;

    if (ap_find_linked_module("mod_ssl.c")) {
        return 1;
    }
    if (autossl && autossl->wanted->nelts) {
        t = APR_ARRAY_IDX(autossl->wanted, 0, const acme_twin_t *);
        report(base, apr_psprintf(p, "ACME00550: %s: <VirtualHost %s> (%s) has AcmeDomain%s "
               "and no SSL virtual host serves it: mod_acme adds its HTTPS twin on port %d, "
               "which needs mod_ssl, and mod_ssl is not loaded; add 'LoadModule ssl_module "
               "modules/mod_ssl.so' (Debian: a2enmod ssl)", t->where, t->addrs, t->names,
               autossl->auto_where ? apr_psprintf(p, " (from AcmeAutoDomains at %s)",
                                                  autossl->auto_where) : "",
               autossl->https_port));
        return 0;
    }
    report(base, apr_psprintf(p, "ACME00533: %s: AcmeDomain needs mod_ssl, which serves the "
           "certificates, but it is not loaded; add 'LoadModule ssl_module "
           "modules/mod_ssl.so' (Debian: a2enmod ssl)", acme_check_domains_where(p, first)));
    return 0;
}

/* The HTTPS twins mod_acme added (acme_autossl.c) are reachable only
 * through a Listen on the https port. */
static int check_twins_listen(apr_pool_t *p, server_rec *base, const acme_autossl_t *autossl)
{
    const acme_twin_t *t;
    int port;

    if (!autossl || !autossl->twins->nelts
        || acme_config_listener_on((apr_port_t)autossl->https_port)) {
        return 1;
    }
    t = APR_ARRAY_IDX(autossl->twins, 0, const acme_twin_t *);
    port = autossl->https_port;
    report(base, apr_psprintf(p, "ACME00551: %s: mod_acme adds the HTTPS twin <VirtualHost %s> "
           "of <VirtualHost %s> (%s), but no Listen covers port %d, so no client could reach "
           "it; add 'Listen %s%s%d'%s (Debian: ports.conf has it inside <IfModule ssl_module>)",
           t->where, t->twin_addrs, t->addrs, t->names, port,
           autossl->http_listen_addr ? autossl->http_listen_addr : "",
           autossl->http_listen_addr ? ":" : "", port,
           autossl->http_listen_where
               ? apr_psprintf(p, " next to 'Listen %s' at %s", autossl->http_listen_word,
                              autossl->http_listen_where)
               : " at server level"));
    return 0;
}

/* The port a challenge type arrives at, 0 for types that need none. */
static int challenge_port(server_rec *base, const char *type)
{
    if (!strcmp(type, "http-01")) {
        return acme_config_port_http(base);
    }
    return strcmp(type, "tls-alpn-01") ? 0 : acme_config_port_https(base);
}

/* Why a challenge type listed for d cannot be answered by this server, NULL
 * when it can as far as configtest knows (dns-persist-01's record is looked
 * up before each order, not here); *fix says what would make it work. */
static const char *challenge_unusable(apr_pool_t *p, server_rec *base, const acme_domain_t *d,
                                      const char *type, const char **fix)
{
    int port = challenge_port(base, type);

    if (!strcmp(type, "dns-01") && !d->dns_cmd) {
        *fix = "'AcmeDnsCmd /path/to/hook' for dns-01";
        return "dns-01 needs an AcmeDnsCmd to publish its TXT records, and none is set";
    }
    if (port && !acme_config_listener_on((apr_port_t)port)) {
        *fix = apr_psprintf(p, "'Listen %d' for %s", port, type);
        return apr_psprintf(p, "no Listen covers port %d, where the CA's %s requests arrive",
                            port, type);
    }
    return NULL;
}

/* AcmeDomain lines whose listed types fail for the same reasons under the
 * same AcmeChallenges line: one warning for all (a server-wide
 * AcmeChallenges over 10,000 AcmeDomain lines is one line in the log, not
 * 10,000 at every restart). */
typedef struct unusable_t {
    const acme_domain_decl_t *decl;     /* the first of them */
    const char *name;                   /* its first domain */
    const char *at;                     /* the AcmeChallenges line, or NULL */
    const char *why, *fixes;
    int usable;                         /* another listed type works */
    int more;                           /* AcmeDomain lines after the first */
} unusable_t;

/* " (and N more AcmeDomain lines ...)" for u, or "". */
static const char *unusable_more(apr_pool_t *p, const unusable_t *u)
{
    return u->more ? apr_psprintf(p, " (and %d more AcmeDomain line%s under the same "
                                  "AcmeChallenges)", u->more, u->more == 1 ? "" : "s") : "";
}

/* Types listed that cannot be used while another can: a warning naming the
 * AcmeChallenges line (configtest passes, the other types are used). None
 * usable is only a warning too where a port is missing: a frontend
 * elsewhere (or another cluster node) may answer for this server. */
static void warn_unusable(apr_pool_t *p, server_rec *base, const unusable_t *u)
{
    const char *where = acme_check_domains_where(p, u->decl);

    if (u->usable) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, base, "ACME01606: %s: "
                     "AcmeChallenges lists a type the AcmeDomain at %s%s cannot use: %s; the CA "
                     "is offered only the others; add %s, or take it out of AcmeChallenges",
                     u->at ? u->at : where, where, unusable_more(p, u), u->why, u->fixes);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, base, "ACME00542: %s: no "
                 "challenge type for %s%s can be answered here: %s; add %s, or set AcmePortMap "
                 "to the local ports that the public ports 80 and 443 reach",
                 where, u->name, unusable_more(p, u), u->why, u->fixes);
}

/* AcmeChallenges dns-01 alone without a hook fails earlier (ACME00914). */
static void check_challenge_types(apr_pool_t *p, server_rec *base, apr_array_header_t *domains,
                                  apr_array_header_t *decls)
{
    const acme_domain_decl_t *seen = NULL;
    apr_hash_t *by_reason = apr_hash_make(p);
    apr_array_header_t *order = apr_array_make(p, 4, sizeof(unusable_t *));
    int i, j;

    for (i = 0; i < domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const acme_domain_decl_t *decl = APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *);
        const char *why = NULL, *fixes = NULL, *fix, *at, *key;
        int usable = 0;
        unusable_t *u;

        for (j = 0; decl != seen && j < d->challenges->nelts; j++) {
            const char *w = challenge_unusable(p, base, d, APR_ARRAY_IDX(d->challenges, j,
                                                                         const char *), &fix);
            if (!w) {
                usable = 1;
                continue;
            }
            why = why ? apr_pstrcat(p, why, "; ", w, NULL) : w;
            fixes = fixes ? apr_pstrcat(p, fixes, " or ", fix, NULL) : fix;
        }
        if (decl == seen || !why) {
            continue;
        }
        seen = decl;
        at = acme_config_once_where(p, decl->s, "AcmeChallenges");
        key = apr_psprintf(p, "%d\n%s\n%s", usable,
                           at ? at : acme_check_domains_where(p, decl), why);
        if ((u = apr_hash_get(by_reason, key, APR_HASH_KEY_STRING))) {
            u->more++;
            continue;
        }
        u = apr_pcalloc(p, sizeof(*u));
        *u = (unusable_t){ decl, d->name, at, why, fixes, usable, 0 };
        apr_hash_set(by_reason, key, APR_HASH_KEY_STRING, u);
        APR_ARRAY_PUSH(order, unusable_t *) = u;
    }
    for (i = 0; i < order->nelts; i++) {
        warn_unusable(p, base, APR_ARRAY_IDX(order, i, const unusable_t *));
    }
}

static int check_store_dir(apr_pool_t *p, server_rec *base)
{
    const char *why = acme_rootprog_check_store_dir(p, acme_config_store_dir(base));

    if (!why) {
        return 1;
    }
    report(base, apr_psprintf(p, "ACME00547: AcmeStoreDir: %s", why));
    return 0;
}

/* A window as written: "33%" or a duration in the largest unit that fits. */
static const char *window_text(apr_pool_t *p, acme_window_t w)
{
    apr_int64_t sec = (apr_int64_t)apr_time_sec(w.duration);

    if (w.percent >= 0) {
        return apr_psprintf(p, "%d%%", w.percent);
    }
    if (sec % 86400 == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "d", sec / 86400);
    }
    if (sec % 3600 == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "h", sec / 3600);
    }
    return sec % 60 ? apr_psprintf(p, "%" APR_INT64_T_FMT "s", sec)
                    : apr_psprintf(p, "%" APR_INT64_T_FMT "m", sec / 60);
}

/* AcmeWarnWindow warns while a certificate in it is not renewed yet; a warn
 * window as wide as the renew window (or wider) would warn before renewal
 * is even attempted, about every renewal. Only windows of one kind (shares,
 * or durations) compare without a lifetime; an unset renew window is 33%
 * (ARI, where the CA offers it, usually renews earlier still). Warned once
 * per pair of lines. */
static void check_warn_window(apr_pool_t *p, server_rec *base, const acme_domain_decl_t *decl,
                              apr_hash_t *told)
{
    server_rec *s = decl->s;
    acme_window_t renew = acme_config_renew_window(s), warn = acme_config_warn_window(s);
    const char *renew_at = acme_config_once_where(p, s, "AcmeRenewWindow");
    const char *warn_at = acme_config_once_where(p, s, "AcmeWarnWindow"), *key, *half;
    acme_window_t w;

    if (renew.percent < 0 && renew.duration == 0) {
        renew.percent = 33;
    }
    if ((renew.percent >= 0) != (warn.percent >= 0)
        || (renew.percent >= 0 ? warn.percent < renew.percent : warn.duration < renew.duration)) {
        return;
    }
    key = apr_pstrcat(p, renew_at ? renew_at : "-", " ", warn_at ? warn_at : "-", NULL);
    if (apr_hash_get(told, key, APR_HASH_KEY_STRING)) {
        return;
    }
    apr_hash_set(told, key, APR_HASH_KEY_STRING, key);
    w = renew;
    if (w.percent >= 0) {
        w.percent = w.percent > 1 ? w.percent / 2 : 1;
    }
    else {
        w.duration = apr_time_from_sec(apr_time_sec(w.duration / 2) > 0
                                       ? apr_time_sec(w.duration / 2) : 1);
    }
    half = window_text(p, w);
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, base, "ACME01605: %s: "
                 "AcmeWarnWindow %s (%s) is not inside AcmeRenewWindow %s (%s), for the "
                 "AcmeDomain at %s: a certificate would be warned about (error log, status "
                 "page, 'expiring' event) as soon as its renewal is due, before renewal is "
                 "even attempted; write 'AcmeWarnWindow %s' (half the renew window), so the "
                 "warning says renewal has been failing", warn_at ? warn_at : renew_at ? renew_at
                 : acme_check_domains_where(p, decl), window_text(p, warn),
                 warn_at ? "written there" : "the default",
                 window_text(p, renew), renew_at ? renew_at : "the default",
                 acme_check_domains_where(p, decl), half);
}

static void check_warn_windows(apr_pool_t *p, server_rec *base, apr_array_header_t *decls)
{
    apr_hash_t *told = apr_hash_make(p);
    int i;

    for (i = 0; i < decls->nelts; i++) {
        check_warn_window(p, base, APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *), told);
    }
}

/* 1 when this process was started with "-k stop" or "-k graceful-stop"
 * (it reads the configuration, then signals): a store that refuses a start
 * must not keep the administrator from stopping the server. httpd takes
 * -k out of process->argv, so the command line is read where Linux keeps
 * it and parsed as httpd does (acme_proc_httpd_signal); elsewhere (or
 * unreadable) 0, and such a store refuses the stop too. */
static int stopping(apr_pool_t *p)
{
    apr_file_t *f;
    char *buf = apr_palloc(p, 8192), *a, *end;
    apr_size_t len = 8191;
    apr_array_header_t *args = apr_array_make(p, 16, sizeof(const char *));
    const char *k;

    if (apr_file_open(&f, "/proc/self/cmdline", APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
        return 0;
    }
    apr_file_read_full(f, buf, len, &len);
    apr_file_close(f);
    buf[len] = '\0';
    for (a = buf, end = buf + len; a < end; a += strlen(a) + 1) {
        APR_ARRAY_PUSH(args, const char *) = a;
    }
    k = acme_proc_httpd_signal(args->nelts, (const char *const *)args->elts);
    return k && (!strcmp(k, "stop") || !strcmp(k, "graceful-stop"));
}

static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                        server_rec *base)
{
    apr_array_header_t *decls = NULL, *domains;
    const acme_autossl_t *autossl = acme_autossl_get(pconf);
    const char *err;
    int ok, ssl;

    domains = acme_check_domains_decls(ptemp, base, &decls, &err);
    if (!domains) {
        report(base, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (domains->nelts == 0) {
        return OK;
    }
    ssl = check_ssl_loaded(ptemp, base, decls, autossl);
    ok = check_terms(ptemp, base, decls) && ssl;
    /* without mod_ssl no vhost serves anything: the message above says why */
    ok = ssl && check_served(ptemp, base, domains, decls) && ok;
    ok = check_twins_listen(ptemp, base, autossl) && ok;
    if (check_store_dir(ptemp, base)) {
        /* modes are warnings: "apachectl graceful" runs configtest first, and
         * the graceful restart is what sets them back; a directory of root's
         * another user owns fails, as the start does (nothing repairs it).
         * "apache2 -k graceful" reads the configuration before it signals
         * (first pass, not a configtest): failing there too keeps the
         * running server, which post_config would stop. */
        int test = ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST;

        if ((test || (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL
                      && ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
                      && !stopping(ptemp)))
            && acme_certs_modes_report(base, domains, ptemp, !test) > 0) {
            ok = 0;
        }
    }
    else {
        ok = 0;
    }
    /* At a start the checks wait for post_config, where the log is open. */
    if (ok && ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST) {
        ok = acme_check_user(ptemp, base, domains, decls);
    }
    check_challenge_types(ptemp, base, domains, decls);
    check_inherited_names(ptemp, base, decls);
    check_warn_windows(ptemp, base, decls);
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

void acme_check_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
}
