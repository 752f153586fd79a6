/* Which vhost serves which domain, computed once in post_config. Indexes
 * (the domain of each name, the domains of each vhost) keep it linear in
 * the number of vhosts and names: with 10,000 AcmeDomain vhosts, a walk over
 * the domain table per vhost made startup quadratic. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <httpd.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_name.h"

int acme_vhost_map_names_cover(const apr_array_header_t *names, const char *host)
{
    int i;

    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (!strcasecmp(name, host) || acme_name_covers(name, host)) {
            return 1;
        }
    }
    return 0;
}

int acme_vhost_map_covers(const acme_domain_t *d, const char *host)
{
    return acme_vhost_map_names_cover(d->names, host);
}

static int domain_covers_list(const acme_domain_t *d, const apr_array_header_t *hosts)
{
    int i;

    for (i = 0; hosts && i < hosts->nelts; i++) {
        if (!acme_vhost_map_covers(d, APR_ARRAY_IDX(hosts, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

/* Every name the vhost answers to must be in the certificate. */
static int domain_covers_server(const acme_domain_t *d, server_rec *s)
{
    return s->server_hostname && acme_vhost_map_covers(d, s->server_hostname)
           && domain_covers_list(d, s->names) && domain_covers_list(d, s->wild_names);
}

/* Is one of d's IP addresses the explicit address of the vhost? Clients
 * reaching an IP send no SNI: mod_ssl answers with that address's vhost. */
static int domain_has_server_addr(const acme_domain_t *d, server_rec *s)
{
    server_addr_rec *addr;
    char *ip;
    int i;

    for (addr = s->addrs; addr; addr = addr->next) {
        if (!addr->host_addr || apr_sockaddr_ip_get(&ip, addr->host_addr) != APR_SUCCESS) {
            continue;
        }
        for (i = 0; i < d->names->nelts; i++) {
            const char *name = APR_ARRAY_IDX(d->names, i, const char *);
            if (acme_name_is_ip(name) && acme_name_covers(name, ip)) {
                return 1;
            }
        }
    }
    return 0;
}

/* The domain table indexed once. A domain can cover a host only if it holds
 * the host's exact (lowercase) name, or has a wildcard or IP name: those
 * few "pattern" domains are walked, every other domain is a hash lookup. */
typedef struct {
    apr_hash_t *decl_first;        /* server_rec* -> int index of its first own AcmeDomain */
    apr_hash_t *by_name;           /* lowercase name -> int index of the first domain */
    apr_array_header_t *patterns;  /* int indexes of domains with a wildcard or IP name */
} domain_index_t;

static int *int_dup(apr_pool_t *p, int i)
{
    int *v = apr_palloc(p, sizeof(*v));

    *v = i;
    return v;
}

static domain_index_t *index_make(apr_pool_t *p, apr_array_header_t *domains,
                                  apr_array_header_t *decls)
{
    domain_index_t *ix = apr_palloc(p, sizeof(*ix));
    int i, j;

    ix->decl_first = apr_hash_make(p);
    ix->by_name = apr_hash_make(p);
    ix->patterns = apr_array_make(p, 4, sizeof(int));
    for (i = 0; i < decls->nelts; i++) {
        server_rec *s = APR_ARRAY_IDX(decls, i, acme_domain_decl_t *)->s;
        if (s->is_virtual && !apr_hash_get(ix->decl_first, &s, sizeof(s))) {
            apr_hash_set(ix->decl_first, apr_pmemdup(p, &s, sizeof(s)), sizeof(s),
                         int_dup(p, i));
        }
    }
    for (i = 0; i < domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        int pattern = 0;
        for (j = 0; j < d->names->nelts; j++) {
            const char *name = APR_ARRAY_IDX(d->names, j, const char *);
            pattern = pattern || acme_name_is_wildcard(name) || acme_name_is_ip(name);
            if (!apr_hash_get(ix->by_name, name, APR_HASH_KEY_STRING)) {
                apr_hash_set(ix->by_name, name, APR_HASH_KEY_STRING, int_dup(p, i));
            }
        }
        if (pattern) {
            APR_ARRAY_PUSH(ix->patterns, int) = i;
        }
    }
    return ix;
}

/* Index of the domain the vhost serves: the AcmeDomain written in the vhost
 * itself wins; otherwise the first domain whose names cover all of the
 * vhost's names; otherwise the first with an IP address the vhost is
 * declared on (<VirtualHost 192.0.2.10:443>). -1 when none. */
static int domain_index_for_server(apr_pool_t *p, const domain_index_t *ix, server_rec *s,
                                   apr_array_header_t *domains)
{
    const int *own = s->is_virtual ? apr_hash_get(ix->decl_first, &s, sizeof(s)) : NULL;
    const int *exact = NULL;
    int best = -1, i;

    if (own) {
        return *own;
    }
    if (s->server_hostname) {
        const char *host = acme_name_normalize(p, s->server_hostname);
        exact = apr_hash_get(ix->by_name, host, APR_HASH_KEY_STRING);
    }
    if (exact && domain_covers_server(APR_ARRAY_IDX(domains, *exact, acme_domain_t *), s)) {
        best = *exact;
    }
    /* Pattern domains are in table order: the first that covers and comes
     * before the exact match wins, as a walk of the whole table would. */
    for (i = 0; i < ix->patterns->nelts; i++) {
        int k = APR_ARRAY_IDX(ix->patterns, i, int);
        if (best >= 0 && k >= best) {
            break;
        }
        if (domain_covers_server(APR_ARRAY_IDX(domains, k, acme_domain_t *), s)) {
            best = k;
            break;
        }
    }
    if (best >= 0) {
        return best;
    }
    for (i = 0; s->is_virtual && i < ix->patterns->nelts; i++) {
        int k = APR_ARRAY_IDX(ix->patterns, i, int);
        if (domain_has_server_addr(APR_ARRAY_IDX(domains, k, acme_domain_t *), s)) {
            return k;
        }
    }
    return -1;
}

/* The certificates of the vhost's AcmeDomain, one per key type (the domain
 * table lists them next to each other, with the same line), first type first. */
static apr_array_header_t *domains_at(apr_pool_t *p, int first, apr_array_header_t *domains,
                                      apr_array_header_t *decls)
{
    const acme_domain_decl_t *decl = APR_ARRAY_IDX(decls, first, const acme_domain_decl_t *);
    apr_array_header_t *list;
    int i;

    while (first > 0 && APR_ARRAY_IDX(decls, first - 1, const acme_domain_decl_t *) == decl) {
        --first;
    }
    for (i = first; i < domains->nelts
                    && APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *) == decl; i++) {
    }
    list = apr_array_make(p, i - first, sizeof(acme_domain_t *));
    for (i = first; i < domains->nelts
                    && APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *) == decl; i++) {
        APR_ARRAY_PUSH(list, acme_domain_t *) = APR_ARRAY_IDX(domains, i, acme_domain_t *);
    }
    return list;
}

apr_hash_t *acme_vhost_map_domains(apr_pool_t *p, apr_pool_t *ptemp, server_rec *base,
                               apr_array_header_t *domains, apr_array_header_t *decls)
{
    apr_hash_t *map = apr_hash_make(p);
    apr_hash_t *lists = apr_hash_make(ptemp);   /* first index -> list, shared by vhosts */
    domain_index_t *ix = index_make(ptemp, domains, decls);
    server_rec *s;

    for (s = base; s; s = s->next) {
        int first = domain_index_for_server(ptemp, ix, s, domains);
        apr_array_header_t *list;
        if (first < 0) {
            continue;
        }
        list = apr_hash_get(lists, &first, sizeof(first));
        if (!list) {
            list = domains_at(p, first, domains, decls);
            apr_hash_set(lists, int_dup(ptemp, first), sizeof(first), list);
        }
        apr_hash_set(map, apr_pmemdup(p, &s, sizeof(s)), sizeof(s), list);
    }
    return map;
}

int acme_vhost_map_index(apr_hash_t *by_name, const apr_array_header_t *names, void *value)
{
    int j, pattern = 0;

    for (j = 0; j < names->nelts; j++) {
        const char *name = APR_ARRAY_IDX(names, j, const char *);

        pattern = pattern || acme_name_is_wildcard(name) || acme_name_is_ip(name);
        if (!apr_hash_get(by_name, name, APR_HASH_KEY_STRING)) {
            apr_hash_set(by_name, name, APR_HASH_KEY_STRING, value);
        }
    }
    return pattern;
}

void acme_vhost_map_index_names(acme_runtime_t *rt)
{
    int i;

    rt->names = apr_hash_make(rt->pool);
    rt->pattern_domains = apr_array_make(rt->pool, 4, sizeof(acme_domain_t *));
    for (i = 0; i < rt->domains->nelts; i++) {
        acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, acme_domain_t *);

        if (acme_vhost_map_index(rt->names, d->names, d)) {
            APR_ARRAY_PUSH(rt->pattern_domains, acme_domain_t *) = d;
        }
    }
}

const acme_domain_t *acme_vhost_map_domain_of(const acme_runtime_t *rt, const char *host)
{
    const acme_domain_t *d;
    int i;

    if (!rt->names || !host) {
        return NULL;
    }
    if ((d = apr_hash_get(rt->names, host, APR_HASH_KEY_STRING)) != NULL) {
        return d;
    }
    for (i = 0; i < rt->pattern_domains->nelts; i++) {
        d = APR_ARRAY_IDX(rt->pattern_domains, i, const acme_domain_t *);
        if (acme_vhost_map_covers(d, host)) {
            return d;
        }
    }
    return NULL;
}
