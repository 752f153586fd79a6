/* The domain table (AcmeDomain lines resolved into acme_domain_t) and the
 * checks that need the whole configuration. They run in check_config, so
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

/* ---- the domain table --------------------------------------------------- */

static const char *decl_where(apr_pool_t *p, const acme_domain_decl_t *decl)
{
    return apr_psprintf(p, "%s:%d", decl->file, decl->line);
}

/* "ACME005nn: what" → "ACME005nn: file:line: what<suffix>". */
static const char *located(apr_pool_t *p, const acme_domain_decl_t *decl, const char *msg,
                           const char *suffix)
{
    const char *rest = strchr(msg, ' ');
    apr_size_t taglen = rest ? (apr_size_t)(rest - msg) : 0;

    return apr_psprintf(p, "%.*s %s: %s%s", (int)taglen, msg, decl_where(p, decl),
                        rest ? rest + 1 : msg, suffix);
}

/* Adds name (normalized) unless already there; a config error otherwise.
 * The configuration's own string is kept when already normalized (the
 * AcmeDomain parser normalizes): one copy of a name per start, not one per
 * table (at 10,000 domains each copy is memory every child carries). */
static const char *add_name(apr_pool_t *p, apr_pool_t *scratch, const acme_domain_decl_t *decl,
                            apr_array_header_t *names, const char *name, const char *origin,
                            int wildcards_ok)
{
    const char *norm = acme_name_normalize(scratch, name), *err;
    int i;

    for (i = 0; i < names->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(names, i, const char *), norm)) {
            return NULL;
        }
    }
    name = strcmp(norm, name) ? apr_pstrdup(p, norm) : name;
    if ((err = acme_conf_parse_check_name(p, name, wildcards_ok))) {
        return located(p, decl, err, origin);
    }
    if (names->nelts >= ACME_MAX_NAMES) {
        return apr_psprintf(p, "ACME00521: %s: this AcmeDomain has more than %d names, the "
                            "most a certificate holds; split them over several AcmeDomain "
                            "lines", decl_where(p, decl), ACME_MAX_NAMES);
    }
    APR_ARRAY_PUSH(names, const char *) = name;
    return NULL;
}

/* For a <VirtualHost> without a ServerName of its own (acme_autossl.c
 * recorded which), where httpd took the name it gave it (server/vhost.c,
 * ap_fini_vhost_config): the main server's name on a default address, else
 * its address's reverse DNS name. NULL when s has a ServerName of its own.
 * *vhost_at: "file:line" of the <VirtualHost>; *written: 1 when the name
 * is a server-level ServerName written in the configuration. From p. */
static const char *name_origin(apr_pool_t *p, const server_rec *s, const char **vhost_at,
                               int *written)
{
    const acme_autossl_t *plan = acme_autossl_get(s->process->pconf);
    const acme_autossl_unnamed_t *u;
    const char *addr = s->addrs && s->addrs->virthost ? s->addrs->virthost : "?";

    *written = 0;
    if (!s->is_virtual || !plan || !plan->unnamed || !apr_hash_count(plan->unnamed)
        || !s->defn_name) {
        return NULL;
    }
    u = apr_hash_get(plan->unnamed, apr_psprintf(p, "%s:%u", s->defn_name,
                                                 s->defn_line_number), APR_HASH_KEY_STRING);
    if (!u) {
        return NULL;
    }
    *vhost_at = u->where;
    if (ap_server_conf && s->server_hostname == ap_server_conf->server_hostname) {
        *written = plan->server_name_where != NULL;
        return plan->server_name_where
            ? apr_psprintf(p, "the server-level ServerName at %s", plan->server_name_where)
            : "the machine's host name or address (there is no server-level "
              "ServerName)";
    }
    if (s->server_hostname && !strncmp(s->server_hostname, "bogus_host_without_", 19)) {
        return apr_psprintf(p, "its address %s, for which no reverse DNS name was found",
                            addr);
    }
    return apr_psprintf(p, "the reverse DNS name of its address %s", addr);
}

/* The names one AcmeDomain line stands for, in its order, first = store name. */
static const char *decl_names(apr_pool_t *p, apr_pool_t *scratch,
                              const acme_domain_decl_t *decl, apr_array_header_t **out)
{
    static const char vhost_origin[] =
        " (AcmeDomain without names uses the <VirtualHost>'s ServerName and ServerAlias; "
        "or list the names after AcmeDomain)";
    server_rec *s = decl->s;
    int wildcards_ok = acme_config_wildcards_ok(acme_config_dns_cmd(s),
                                                acme_config_challenges_set(s));
    apr_array_header_t *names = apr_array_make(scratch, 4, sizeof(const char *));
    const char *err = acme_config_dns_problem(acme_config_dns_cmd(s),
                                              acme_config_challenges_set(s));
    const char *origin, *vhost_at = NULL;
    int i, written;

    if (err) {
        return located(p, decl, err, "");
    }

    for (i = 0; !err && i < decl->names->nelts; i++) {
        err = add_name(p, scratch, decl, names, APR_ARRAY_IDX(decl->names, i, const char *), "",
                       wildcards_ok);
    }
    if (decl->names->nelts == 0) {
        if (!s->server_hostname || !*s->server_hostname) {
            return apr_psprintf(p, "ACME00522: %s: AcmeDomain without names, but this "
                                "<VirtualHost> has no ServerName; add 'ServerName "
                                "www.example.org' or list the names after AcmeDomain",
                                decl_where(p, decl));
        }
        if ((origin = name_origin(scratch, s, &vhost_at, &written)) != NULL && !written) {
            return apr_psprintf(p, "ACME00578: %s: AcmeDomain without names takes its "
                                "<VirtualHost>'s ServerName, and the <VirtualHost> at %s has "
                                "none of its own: httpd named it '%s' after %s, a name nobody "
                                "wrote for this site; add 'ServerName www.example.org' (the "
                                "site's name) inside the <VirtualHost> at %s, or list the "
                                "names after AcmeDomain", decl_where(p, decl), vhost_at,
                                s->server_hostname, origin, vhost_at);
        }
        err = add_name(p, scratch, decl, names, s->server_hostname, origin ? apr_psprintf(
                           scratch, " (AcmeDomain without names takes its <VirtualHost>'s "
                           "ServerName, and the <VirtualHost> at %s has none of its own: httpd "
                           "gave it %s; add 'ServerName www.example.org' (the site's name) "
                           "inside the <VirtualHost> at %s, or list the names after "
                           "AcmeDomain)", vhost_at, origin, vhost_at) : vhost_origin,
                       wildcards_ok);
        for (i = 0; !err && s->names && i < s->names->nelts; i++) {
            err = add_name(p, scratch, decl, names, APR_ARRAY_IDX(s->names, i, const char *),
                           vhost_origin, wildcards_ok);
        }
        for (i = 0; !err && s->wild_names && i < s->wild_names->nelts; i++) {
            err = add_name(p, scratch, decl, names, APR_ARRAY_IDX(s->wild_names, i, const char *),
                           vhost_origin, wildcards_ok);
        }
    }
    /* the table's copy sized to its names (most domains have one or two) */
    *out = apr_array_make(p, names->nelts ? names->nelts : 1, sizeof(const char *));
    apr_array_cat(*out, names);
    return err;
}

/* IP identifiers (RFC 8738) are validated by http-01 or tls-alpn-01 only. */
static const char *check_ip_challenges(apr_pool_t *p, const acme_domain_decl_t *decl,
                                       const apr_array_header_t *names)
{
    const apr_array_header_t *types = acme_config_challenges(decl->s);
    int i;

    for (i = 0; i < types->nelts; i++) {
        const char *type = APR_ARRAY_IDX(types, i, const char *);
        if (!strcmp(type, "http-01") || !strcmp(type, "tls-alpn-01")) {
            return NULL;
        }
    }
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (acme_name_is_ip(name)) {
            return apr_psprintf(p, "ACME00541: %s: %s is an IP address, which dns-01 cannot "
                                "validate (RFC 8738), and AcmeChallenges allows neither "
                                "http-01 nor tls-alpn-01; add 'AcmeChallenges http-01' (or "
                                "tls-alpn-01), or remove the address from AcmeDomain",
                                decl_where(p, decl), name);
        }
    }
    return NULL;
}

/* The arrays domains of the same settings share: nothing writes a domain's
 * arrays after the table is made, so one copy per setting serves all of them
 * (at 10,000 domains, three arrays each were ~1.5 MB in every process). */
typedef struct {
    apr_pool_t *scratch;
    const apr_array_header_t *ca_src;        /* acme_config_ca_urls it copies */
    apr_array_header_t *ca_urls;
    const char *contact_src;
    apr_array_header_t *contacts;
    const apr_array_header_t *ch_src, *ch_set;  /* acme_config_challenges(_set) */
    const char *ch_dns_cmd;
    apr_array_header_t *challenges;
} domain_share_t;

static int has_wildcard(const apr_array_header_t *names)
{
    int i;

    for (i = 0; i < names->nelts; i++) {
        if (acme_name_is_wildcard(APR_ARRAY_IDX(names, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

/* One certificate of the names per key type: the first AcmeKeyType keeps
 * the plain store name, each further one gets "<name>+<type>". */
static acme_domain_t *domain_make(apr_pool_t *p, domain_share_t *sh,
                                  const acme_domain_decl_t *decl, apr_array_header_t *names,
                                  acme_key_type_e key_type, int first_type)
{
    acme_domain_t *d = apr_pcalloc(p, sizeof(*d));
    server_rec *s = decl->s;
    const char *contact = acme_config_contact(s);
    const char *first = APR_ARRAY_IDX(names, 0, const char *);
    const char *key = acme_name_store_key(sh->scratch, first,
                                          first_type ? NULL : acme_key_type_name(key_type));
    const apr_array_header_t *ch_src = acme_config_challenges(s);
    const apr_array_header_t *ch_set = acme_config_challenges_set(s);

    d->name = strcmp(key, first) ? apr_pstrdup(p, key) : first;
    d->names = names;
    d->key_type = key_type;
    if (!sh->ca_urls || sh->ca_src != acme_config_ca_urls(s)) {
        sh->ca_src = acme_config_ca_urls(s);
        sh->ca_urls = apr_array_copy(p, sh->ca_src);
    }
    d->ca_urls = sh->ca_urls;
    d->ca_file = acme_config_ca_file(s);
    if (!sh->contacts || sh->contact_src != contact) {
        sh->contact_src = contact;
        sh->contacts = apr_array_make(p, 1, sizeof(const char *));
        if (contact) {
            APR_ARRAY_PUSH(sh->contacts, const char *) = contact;
        }
    }
    d->contacts = sh->contacts;
    d->agree_tos = acme_config_agree_tos(s);
    if (has_wildcard(names)) {
        /* a wildcard may add dns-01: its own list */
        d->challenges = acme_config_domain_challenges(p, ch_src, ch_set,
                                                      acme_config_dns_cmd(s), names);
    }
    else {
        if (!sh->challenges || sh->ch_src != ch_src || sh->ch_set != ch_set
            || sh->ch_dns_cmd != acme_config_dns_cmd(s)) {
            sh->ch_src = ch_src;
            sh->ch_set = ch_set;
            sh->ch_dns_cmd = acme_config_dns_cmd(s);
            sh->challenges = acme_config_domain_challenges(p, ch_src, ch_set,
                                                           sh->ch_dns_cmd, names);
        }
        d->challenges = sh->challenges;
    }
    d->dns_cmd = acme_config_dns_cmd(s);
    d->dns_resolver = acme_config_dns_resolver(s);
    d->profile = acme_config_profile(s);
    d->preferred_chain = acme_config_preferred_chain(s);
    acme_config_eab(s, &d->eab_kid, &d->eab_hmac);
    d->renew_window = acme_config_renew_window(s);
    d->warn_window = acme_config_warn_window(s);
    return d;
}

/* acme_check_domains_decls; the indexes only it reads from scratch */
static apr_array_header_t *domains_decls(apr_pool_t *p, apr_pool_t *scratch, server_rec *base,
                                         apr_array_header_t **decls_out, const char **err)
{
    apr_array_header_t *domains = apr_array_make(p, 8, sizeof(acme_domain_t *));
    apr_array_header_t *decls = apr_array_make(p, 8, sizeof(acme_domain_decl_t *));
    apr_hash_t *owner = apr_hash_make(scratch);   /* name -> acme_domain_decl_t* */
    const apr_array_header_t *base_decls = acme_config_decls(base);
    domain_share_t share = { scratch, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    server_rec *s;
    int i, j;

    *err = NULL;
    for (s = base; s; s = s->next) {
        const apr_array_header_t *sdecls = acme_config_decls(s);

        /* A vhost without any Acme directive shares the base server's
         * record; every other record is its vhost's own (merged in place). */
        if (s != base && sdecls == base_decls) {
            continue;
        }
        for (i = 0; sdecls && i < sdecls->nelts; i++) {
            acme_domain_decl_t *decl = APR_ARRAY_IDX(sdecls, i, acme_domain_decl_t *);
            const apr_array_header_t *key_types = acme_config_key_types(decl->s);
            apr_array_header_t *names = NULL;

            if ((*err = decl_names(p, scratch, decl, &names))) {
                return NULL;
            }
            for (j = 0; j < names->nelts; j++) {
                const char *name = APR_ARRAY_IDX(names, j, const char *);
                const acme_domain_decl_t *other = apr_hash_get(owner, name, APR_HASH_KEY_STRING);
                if (other) {
                    *err = apr_psprintf(p, "ACME00523: %s: %s is also in the AcmeDomain at %s; "
                                        "a name belongs to one certificate only: remove it "
                                        "from one of them", decl_where(p, decl), name,
                                        decl_where(p, other));
                    return NULL;
                }
                apr_hash_set(owner, name, APR_HASH_KEY_STRING, decl);
            }
            if ((*err = check_ip_challenges(p, decl, names))) {
                return NULL;
            }
            for (j = 0; j < key_types->nelts; j++) {
                APR_ARRAY_PUSH(domains, acme_domain_t *) = domain_make(
                    p, &share, decl, names, APR_ARRAY_IDX(key_types, j, acme_key_type_e),
                    j == 0);
                APR_ARRAY_PUSH(decls, acme_domain_decl_t *) = decl;
            }
        }
    }
    if (decls_out) {
        *decls_out = decls;
    }
    return domains;
}

apr_array_header_t *acme_check_domains_decls(apr_pool_t *p, server_rec *base,
                                             apr_array_header_t **decls_out, const char **err)
{
    apr_pool_t *scratch = acme_runtime_scratch_pool(p, "acme_decls");
    apr_array_header_t *domains = domains_decls(p, scratch, base, decls_out, err);

    apr_pool_destroy(scratch);
    return domains;
}

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

    if (decl->s == base || !(origin = name_origin(p, decl->s, &vhost_at, &written))) {
        return 0;
    }
    ssl = is_https_server(decl->s, https_port);
    report(base, apr_psprintf(p, "ACME00580: %s: the %s<VirtualHost> at %s with this "
           "AcmeDomain has no ServerName of its own (httpd named it '%s' after %s), and "
           "neither that name nor a ServerAlias of it is %s: %s; add 'ServerName %s' inside "
           "the <VirtualHost> at %s (and 'ServerAlias' with its other names)",
           decl_where(p, decl), ssl ? "SSL " : "", vhost_at, decl->s->server_hostname, origin,
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
            || decl->names->nelts || !(origin = name_origin(p, decl->s, &vhost_at, &written))
            || !written) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, base, "ACME00579: %s: "
                     "AcmeDomain without names takes its <VirtualHost>'s ServerName, and the "
                     "<VirtualHost> at %s has none of its own: its certificate is for '%s', "
                     "%s, which httpd gives it; if that is this site's name, write 'ServerName "
                     "%s' inside the <VirtualHost> at %s, else write the site's name there",
                     decl_where(p, decl), vhost_at, decl->s->server_hostname, origin,
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
           decl_where(p, decl), decl->s->defn_name, decl->s->defn_line_number, ip, https_port,
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
                   "from AcmeDomain", decl_where(p, decl), https_port, missing, https_port,
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
           "%s", at ? at : decl_where(p, first),
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
           "modules/mod_ssl.so' (Debian: a2enmod ssl)", decl_where(p, first)));
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
           "it; add 'Listen %d'%s (Debian: ports.conf has it inside <IfModule ssl_module>)",
           t->where, t->twin_addrs, t->addrs, t->names, port, port,
           autossl->http_listen_where
               ? apr_psprintf(p, " next to 'Listen %d' at %s", autossl->http_port,
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

/* Only a warning: a frontend elsewhere may answer for this server. */
static void check_challenge_ports(apr_pool_t *p, server_rec *base, apr_array_header_t *domains,
                                  apr_array_header_t *decls)
{
    const acme_domain_decl_t *warned = NULL;
    int i, j;

    for (i = 0; i < domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const acme_domain_decl_t *decl = APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *);
        const char *missing = NULL;
        int usable = 0;

        for (j = 0; decl != warned && !usable && j < d->challenges->nelts; j++) {
            int port = challenge_port(base, APR_ARRAY_IDX(d->challenges, j, const char *));

            usable = !port || acme_config_listener_on((apr_port_t)port);
        }
        if (decl == warned || usable) {
            continue;
        }
        for (j = 0; j < d->challenges->nelts; j++) {
            const char *type = APR_ARRAY_IDX(d->challenges, j, const char *);

            missing = apr_psprintf(p, "%s%s'Listen %d' for %s", missing ? missing : "",
                                   missing ? " or " : "", challenge_port(base, type), type);
        }
        warned = decl;
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, base, "ACME00542: %s: no "
                     "Listen covers the port where the CA's challenge requests for %s arrive, "
                     "so none can be answered; add %s, or set AcmePortMap to the local ports "
                     "that the public ports 80 and 443 reach", decl_where(p, decl), d->name,
                     missing);
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
    ok = check_store_dir(ptemp, base) && ok;
    /* At a start the checks wait for post_config, where the log is open. */
    if (ok && ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST) {
        ok = acme_check_user(ptemp, base, domains, decls);
    }
    check_challenge_ports(ptemp, base, domains, decls);
    check_inherited_names(ptemp, base, decls);
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

void acme_check_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
}
