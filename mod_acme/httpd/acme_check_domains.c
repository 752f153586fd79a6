/* The domain table: every AcmeDomain line of every server resolved into an
 * acme_domain_t (names normalized, settings inherited, errors located at
 * the line that causes them). acme_check.c runs the checks that need the
 * whole table. */
#include <strings.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <http_core.h>
#include <http_main.h>
#include <util_cfgtree.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_conf_parse.h"
#include "acme_name.h"

const char *acme_check_domains_where(apr_pool_t *p, const acme_domain_decl_t *decl)
{
    return apr_psprintf(p, "%s:%d", decl->file, decl->line);
}

/* "ACME005nn: what" → "ACME005nn: file:line: what<suffix>". */
static const char *located(apr_pool_t *p, const acme_domain_decl_t *decl, const char *msg,
                           const char *suffix)
{
    const char *rest = strchr(msg, ' ');
    apr_size_t taglen = rest ? (apr_size_t)(rest - msg) : 0;

    return apr_psprintf(p, "%.*s %s: %s%s", (int)taglen, msg, acme_check_domains_where(p, decl),
                        rest ? rest + 1 : msg, suffix);
}

/* Does the ServerName or ServerAlias argument arg stand for name? A
 * ServerName may carry a scheme and a port ("https://www.example.org:443"). */
static int arg_names(apr_pool_t *p, const char *arg, const char *name)
{
    const char *host = ap_strstr_c(arg, "://") ? ap_strstr_c(arg, "://") + 3 : arg;
    const char *colon = strrchr(host, ':');

    if (colon && !strchr(host, ']') && strchr(host, ':') == colon) {
        host = apr_pstrndup(p, host, (apr_size_t)(colon - host));
    }
    return !strcasecmp(host, name);
}

/* The ServerName or ServerAlias line below node (a <VirtualHost>'s
 * children, <If...> sections included) that holds name, NULL without. */
static const ap_directive_t *name_line(apr_pool_t *p, const ap_directive_t *node,
                                       const char *name)
{
    for (; node; node = node->next) {
        const ap_directive_t *found;

        if (acme_autossl_tree_is(node, "ServerName")
            || acme_autossl_tree_is(node, "ServerAlias")) {
            const char *args = node->args, *arg;

            while (*(arg = ap_getword_conf(p, &args))) {
                if (arg_names(p, arg, name)) {
                    return node;
                }
            }
        }
        if (node->first_child && !acme_autossl_tree_is(node, "<VirtualHost")
            && (found = name_line(p, node->first_child, name))) {
            return found;
        }
    }
    return NULL;
}

/* The <VirtualHost> section of s in the configuration tree (ap_conftree,
 * kept by httpd for the configuration's life), NULL when not found. */
static const ap_directive_t *vhost_section(const ap_directive_t *node, const server_rec *s)
{
    for (; node; node = node->next) {
        const ap_directive_t *found;

        if (acme_autossl_tree_is(node, "<VirtualHost")
            && node->line_num == (int)s->defn_line_number
            && node->filename && s->defn_name && !strcmp(node->filename, s->defn_name)) {
            return node;
        }
        if (node->first_child && (found = vhost_section(node->first_child, s))) {
            return found;
        }
    }
    return NULL;
}

/* "file:line" of the ServerName or ServerAlias line of s that gives it
 * name, NULL when the configuration tree does not show it; *directive: its
 * name as written. From p. */
static const char *vhost_name_where(apr_pool_t *p, const server_rec *s, const char *name,
                                    const char **directive)
{
    const ap_directive_t *vhost = s->is_virtual ? vhost_section(ap_conftree, s) : NULL;
    const ap_directive_t *line = vhost ? name_line(p, vhost->first_child, name) : NULL;

    *directive = line ? line->directive : NULL;
    return line ? acme_autossl_tree_where(p, line) : NULL;
}

/* Adds name (normalized) unless already there; a config error otherwise.
 * The configuration's own string is kept when already normalized (the
 * AcmeDomain parser normalizes): one copy of a name per start, not one per
 * table (at 10,000 domains each copy is memory every child carries). */
static const char *add_name(apr_pool_t *p, apr_pool_t *scratch, const acme_domain_decl_t *decl,
                            apr_array_header_t *names, const char *name, const char *origin,
                            int wildcards_ok, int vhost)
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
        const char *directive = NULL, *rest = strchr(err, ' ');
        const char *at = vhost ? vhost_name_where(scratch, decl->s, name, &directive) : NULL;

        /* the line that holds the name, not the AcmeDomain that took it */
        return at && rest ? apr_psprintf(p, "%.*s %s: %s (in this %s; the AcmeDomain at %s "
                                         "without names takes the <VirtualHost>'s ServerName "
                                         "and ServerAlias: fix the name here, or list the "
                                         "names after AcmeDomain)", (int)(rest - err), err, at,
                                         rest + 1, directive, acme_check_domains_where(p, decl))
                          : located(p, decl, err, origin);
    }
    if (names->nelts >= ACME_MAX_NAMES) {
        return apr_psprintf(p, "ACME00521: %s: this AcmeDomain has more than %d names, the "
                            "most a certificate holds; split them over several AcmeDomain "
                            "lines", acme_check_domains_where(p, decl), ACME_MAX_NAMES);
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
const char *acme_check_domains_origin(apr_pool_t *p, const server_rec *s,
                                      const char **vhost_at, int *written)
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
    const char *err = acme_config_dns_problem(p, acme_config_dns_cmd(s),
                                              acme_config_challenges_set(s),
                                              acme_config_once_where(p, s, "AcmeChallenges"),
                                              acme_check_domains_where(p, decl));
    const char *origin, *vhost_at = NULL;
    int i, written;

    if (err) {
        return err;
    }

    for (i = 0; !err && i < decl->names->nelts; i++) {
        err = add_name(p, scratch, decl, names, APR_ARRAY_IDX(decl->names, i, const char *), "",
                       wildcards_ok, 0);
    }
    if (decl->names->nelts == 0) {
        if (!s->server_hostname || !*s->server_hostname) {
            return apr_psprintf(p, "ACME00522: %s: AcmeDomain without names, but this "
                                "<VirtualHost> has no ServerName; add 'ServerName "
                                "www.example.org' or list the names after AcmeDomain",
                                acme_check_domains_where(p, decl));
        }
        origin = acme_check_domains_origin(scratch, s, &vhost_at, &written);
        if (origin != NULL && !written) {
            return apr_psprintf(p, "ACME00578: %s: AcmeDomain without names takes its "
                                "<VirtualHost>'s ServerName, and the <VirtualHost> at %s has "
                                "none of its own: httpd named it '%s' after %s, a name nobody "
                                "wrote for this site; add 'ServerName www.example.org' (the "
                                "site's name) inside the <VirtualHost> at %s, or list the "
                                "names after AcmeDomain", acme_check_domains_where(p, decl),
                                vhost_at,
                                s->server_hostname, origin, vhost_at);
        }
        err = add_name(p, scratch, decl, names, s->server_hostname, origin ? apr_psprintf(
                           scratch, " (AcmeDomain without names takes its <VirtualHost>'s "
                           "ServerName, and the <VirtualHost> at %s has none of its own: httpd "
                           "gave it %s; add 'ServerName www.example.org' (the site's name) "
                           "inside the <VirtualHost> at %s, or list the names after "
                           "AcmeDomain)", vhost_at, origin, vhost_at) : vhost_origin,
                       wildcards_ok, origin == NULL);
        for (i = 0; !err && s->names && i < s->names->nelts; i++) {
            err = add_name(p, scratch, decl, names, APR_ARRAY_IDX(s->names, i, const char *),
                           vhost_origin, wildcards_ok, 1);
        }
        for (i = 0; !err && s->wild_names && i < s->wild_names->nelts; i++) {
            err = add_name(p, scratch, decl, names, APR_ARRAY_IDX(s->wild_names, i, const char *),
                           vhost_origin, wildcards_ok, 1);
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
                                acme_check_domains_where(p, decl), name);
        }
    }
    return NULL;
}

/* The directive that gives decl name: its AcmeDomain line when it lists
 * names, else its <VirtualHost>'s ServerName or ServerAlias. */
static const char *name_source(const acme_domain_decl_t *decl, const char *name)
{
    if (decl->names->nelts) {
        return "AcmeDomain";
    }
    return decl->s->server_hostname && !strcasecmp(decl->s->server_hostname, name)
           ? "ServerName" : "ServerAlias";
}

/* What to change so that name is in one certificate only, from the
 * directives that give it to decl and other (name_source). */
static const char *duplicate_fix(apr_pool_t *p, const acme_domain_decl_t *decl,
                                 const acme_domain_decl_t *other, const char *name)
{
    const char *mine = name_source(decl, name), *theirs = name_source(other, name);

    if (!strcmp(mine, "AcmeDomain") && !strcmp(theirs, "AcmeDomain")) {
        return "remove it from one of them";
    }
    if (!strcmp(mine, "AcmeDomain") || !strcmp(theirs, "AcmeDomain")) {
        return apr_psprintf(p, "remove it from the AcmeDomain that lists it, or list the names "
                            "after the one without names (it takes %s from its %s)", name,
                            !strcmp(mine, "AcmeDomain") ? theirs : mine);
    }
    if (!strcmp(mine, "ServerName") && !strcmp(theirs, "ServerName")) {
        return "it is the ServerName of both <VirtualHost>s: merge them into one, or list the "
               "names each certificate is for after one of the AcmeDomain lines (without it)";
    }
    if (!strcmp(mine, "ServerAlias") && !strcmp(theirs, "ServerAlias")) {
        return "remove it from the ServerAlias of one of the two <VirtualHost>s, or list the "
               "names after one of the AcmeDomain lines";
    }
    return apr_psprintf(p, "it is the ServerName of one <VirtualHost> and in the ServerAlias of "
                        "the other: remove it from that ServerAlias (at %s:%d's <VirtualHost>), "
                        "or list the names after one of the AcmeDomain lines",
                        (!strcmp(mine, "ServerAlias") ? decl : other)->s->defn_name,
                        (!strcmp(mine, "ServerAlias") ? decl : other)->s->defn_line_number);
}

/* ACME00523 for name in both decl and other (earlier). A bare AcmeDomain
 * takes its vhost's ServerName and ServerAlias names: the fix is then in
 * those lines, not in an AcmeDomain that lists nothing to remove. */
static const char *duplicate_name(apr_pool_t *p, const acme_domain_decl_t *decl,
                                  const acme_domain_decl_t *other, const char *name)
{
    static const char taken[] = " (without names: it takes ServerName and ServerAlias of the "
                                "<VirtualHost> at %s:%d)";
    int bare = !decl->names->nelts, other_bare = !other->names->nelts;

    return apr_psprintf(p, "ACME00523: %s: %s%s is also in the AcmeDomain at %s%s; a name belongs "
                        "to one certificate only: %s", acme_check_domains_where(p, decl), name,
                        bare ? apr_psprintf(p, taken, decl->s->defn_name,
                                            decl->s->defn_line_number) : "",
                        acme_check_domains_where(p, other),
                        other_bare ? apr_psprintf(p, taken, other->s->defn_name,
                                                  other->s->defn_line_number) : "",
                        duplicate_fix(p, decl, other, name));
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

/* base, then its virtual hosts in the order the configuration has them:
 * httpd links each <VirtualHost> in front of the ones read before it. The
 * domain table follows this order, and with it the order names are first
 * ordered in and the status page's order. */
static apr_array_header_t *servers_in_config_order(apr_pool_t *p, server_rec *base)
{
    apr_array_header_t *servers = apr_array_make(p, 16, sizeof(server_rec *));
    server_rec *s;
    int i, j;

    for (s = base->next; s; s = s->next) {
        APR_ARRAY_PUSH(servers, server_rec *) = s;
    }
    APR_ARRAY_PUSH(servers, server_rec *) = base;
    for (i = 0, j = servers->nelts - 1; i < j; i++, j--) {
        server_rec *t = APR_ARRAY_IDX(servers, i, server_rec *);

        APR_ARRAY_IDX(servers, i, server_rec *) = APR_ARRAY_IDX(servers, j, server_rec *);
        APR_ARRAY_IDX(servers, j, server_rec *) = t;
    }
    return servers;
}

/* The vhost's last key_types->nelts domains (just made) answer tls-alpn-01
 * with an RSA pair too when one of its key types is RSA. */
static void answer_rsa_mark(apr_array_header_t *domains, const apr_array_header_t *key_types)
{
    int j, rsa = 0;

    for (j = 0; j < key_types->nelts; j++) {
        rsa |= acme_key_type_is_rsa(APR_ARRAY_IDX(key_types, j, acme_key_type_e));
    }
    for (j = 0; rsa && j < key_types->nelts && j < domains->nelts; j++) {
        APR_ARRAY_IDX(domains, domains->nelts - 1 - j, acme_domain_t *)->answer_rsa = 1;
    }
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
    apr_array_header_t *servers = servers_in_config_order(scratch, base);
    int i, j, k;

    *err = NULL;
    for (k = 0; k < servers->nelts; k++) {
        server_rec *s = APR_ARRAY_IDX(servers, k, server_rec *);
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
                    *err = duplicate_name(p, decl, other, name);
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
            answer_rsa_mark(domains, key_types);
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
