/* AcmeAutoDomains (acme_autossl.c runs it in pre_config): an AcmeDomain in
 * each <VirtualHost> for its public names that no AcmeDomain has yet, SSL
 * vhosts first, each SSL vhost's certificate with the names of the port-80
 * vhosts of its site; every name left alone is recorded with the reason. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <httpd.h>

#include "acme_conf_parse.h"
#include "acme_name.h"
#include "acme_autossl_int.h"

const char *acme_autossl_auto_parse(apr_pool_t *p, const char *args, int *on,
                                    apr_array_header_t **except)
{
    const char *w = ap_getword_conf(p, &args), *err;

    *except = apr_array_make(p, 2, sizeof(const char *));
    if (!strcasecmp(w, "off") && !*ap_getword_conf(p, &args)) {
        *on = 0;
        return NULL;
    }
    if (strcasecmp(w, "on")) {
        return apr_psprintf(p, "ACME01401: AcmeAutoDomains '%s' is neither on nor off; write "
                            "'AcmeAutoDomains on' (or 'AcmeAutoDomains on except "
                            "intranet.example.org ...')", w);
    }
    *on = 1;
    w = ap_getword_conf(p, &args);
    if (!*w) {
        return NULL;
    }
    if (strcasecmp(w, "except")) {
        return apr_psprintf(p, "ACME01402: AcmeAutoDomains on '%s': after 'on' only "
                            "'except NAME...' may follow, e.g. 'AcmeAutoDomains on except "
                            "intranet.example.org'", w);
    }
    while (*(w = ap_getword_conf(p, &args))) {
        if ((err = acme_conf_parse_check_name(p, w, 1))) {
            return err;
        }
        APR_ARRAY_PUSH(*except, const char *) = acme_name_normalize(p, w);
    }
    if ((*except)->nelts == 0) {
        return "ACME01403: AcmeAutoDomains on except: name the host names to leave alone, "
               "e.g. 'AcmeAutoDomains on except intranet.example.org'";
    }
    return NULL;
}

static void claim_words(apr_hash_t *claimed, const apr_array_header_t *names)
{
    int i;

    for (i = 0; i < names->nelts; i++) {
        apr_hash_set(claimed, APR_ARRAY_IDX(names, i, const char *), APR_HASH_KEY_STRING, "");
    }
}

/* Records that name of v gets no certificate here (once per vhost and name),
 * and that a TLS handshake for it is to be refused where nothing serves it. */
void acme_autossl_auto_skip(apr_pool_t *p, acme_autossl_t *plan, const acme_autossl_vhost_t *v,
                            const char *name, const char *why)
{
    const char *where = acme_autossl_tree_where(p, v->node);
    const char *key = apr_pstrcat(p, where, " ", name, NULL);
    acme_autossl_skip_t *skip;
    int i;

    for (i = 0; i < plan->skipped->nelts; i++) {
        skip = APR_ARRAY_IDX(plan->skipped, i, acme_autossl_skip_t *);
        if (!strcmp(apr_pstrcat(p, skip->where, " ", skip->name, NULL), key)) {
            return;
        }
    }
    skip = apr_pcalloc(p, sizeof(*skip));
    skip->name = name;
    skip->where = where;
    skip->why = why;
    APR_ARRAY_PUSH(plan->skipped, acme_autossl_skip_t *) = skip;
    /* localhost and address literals are what health checks ask for (curl -k
     * https://localhost/); no browser gets a public site's certificate for
     * them, so the address's first SSL vhost answers them as httpd would. */
    if (!acme_name_is_ip(name) && strcasecmp(name, "localhost")
        && !acme_name_covers("*.localhost", name)) {
        apr_hash_set(plan->refused, name, APR_HASH_KEY_STRING, name);
    }
}

/* Why AcmeAutoDomains leaves name alone; NULL when it manages it. */
static const char *auto_skip_why(apr_pool_t *p, const acme_autossl_t *plan,
                                 const apr_array_header_t *except, const char *name)
{
    const char *why;

    if (acme_autossl_tree_list_covers(except, name)) {
        return apr_psprintf(p, "excluded by 'AcmeAutoDomains on except' (%s)", plan->auto_where);
    }
    if (acme_name_is_wildcard(name)) {
        return "a wildcard: AcmeAutoDomains manages none; list it in an AcmeDomain "
               "(it needs dns-01)";
    }
    if (!acme_name_is_public(name)) {
        return "does not look public (localhost, no dot, *.local, *.internal, *.test, "
               "*.lan, *.arpa, private or loopback address ...): no public CA can "
               "validate it";
    }
    if (acme_name_is_ip(name)) {
        /* a client asking for an address sends no name (RFC 6066 §3), so the
         * name-based HTTPS twin would never be picked for it */
        return "an IP address: AcmeAutoDomains manages DNS names only; for a certificate "
               "of the address, an SSL <VirtualHost> on it with 'AcmeDomain <address>'";
    }
    if (acme_name_validate(p, name, &why) != APR_SUCCESS) {
        return apr_psprintf(p, "not a name a certificate can hold: %s", why);
    }
    return NULL;
}

/* One certificate per site: the SSL vhost v's certificate (names so far)
 * also takes the public names of each plain vhost that shares one of them
 * (plain_by_name: name -> acme_autossl_vhost_t* array), that nothing claimed
 * yet and that no SSL vhost serves, when they all fit; that vhost's HTTPS
 * twin then serves them with this certificate. Returns the plain vhosts
 * whose names were taken. Costs a hash lookup per name, not a walk over
 * every vhost for each SSL vhost. */
static apr_array_header_t *site_names(apr_pool_t *p, const acme_autossl_t *plan,
                                      const apr_array_header_t *vhosts, apr_hash_t *claimed,
                                      const apr_array_header_t *except,
                                      apr_hash_t *plain_by_name, apr_array_header_t *names)
{
    apr_array_header_t *taken = apr_array_make(p, 1, sizeof(acme_autossl_vhost_t *));
    int own = names->nelts, i, j, k;

    for (i = 0; i < own; i++) {
        const apr_array_header_t *sharing = apr_hash_get(
            plain_by_name, APR_ARRAY_IDX(names, i, const char *), APR_HASH_KEY_STRING);
        for (j = 0; sharing && j < sharing->nelts; j++) {
            acme_autossl_vhost_t *w = APR_ARRAY_IDX(sharing, j, acme_autossl_vhost_t *);
            apr_array_header_t *more = apr_array_make(p, 2, sizeof(const char *));
            if (w->site) {
                continue;   /* another SSL vhost's certificate has its names */
            }
            for (k = 0; k < w->names->nelts; k++) {
                const char *name = APR_ARRAY_IDX(w->names, k, const char *);
                if (!apr_hash_get(claimed, name, APR_HASH_KEY_STRING)
                    && !acme_autossl_tree_in_list(more, name)
                    && !acme_autossl_tree_served_by_ssl(vhosts, name)
                    && !auto_skip_why(p, plan, except, name)) {
                    APR_ARRAY_PUSH(more, const char *) = name;
                }
            }
            if (!more->nelts || names->nelts + more->nelts > ACME_MAX_NAMES) {
                continue;
            }
            apr_array_cat(names, more);
            claim_words(claimed, more);   /* so a second shared name finds none left */
            APR_ARRAY_PUSH(taken, acme_autossl_vhost_t *) = w;
        }
    }
    return taken;
}

/* An AcmeDomain in v for its public names that no AcmeDomain has yet (for
 * an SSL vhost, with those of the plain vhosts of its site). */
static int auto_domain(apr_pool_t *p, acme_autossl_t *plan, acme_autossl_vhost_t *v,
                       apr_hash_t *claimed, const apr_array_header_t *except,
                       const apr_array_header_t *vhosts, apr_hash_t *plain_by_name)
{
    apr_array_header_t *taken = NULL;
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    ap_directive_t *d;
    const char *why;
    int i;

    if (v->domains->nelts) {
        return 0;
    }
    for (i = 0; i < v->names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(v->names, i, const char *);
        if (apr_hash_get(claimed, name, APR_HASH_KEY_STRING)) {
            continue;   /* another certificate has it */
        }
        if ((why = auto_skip_why(p, plan, except, name)) != NULL) {
            acme_autossl_auto_skip(p, plan, v, name, why);
        }
        else if (names->nelts >= ACME_MAX_NAMES) {
            acme_autossl_auto_skip(p, plan, v, name, apr_psprintf(
                p, "the certificate of its <VirtualHost> holds the most names, %d; list it in "
                "an AcmeDomain of its own", ACME_MAX_NAMES));
        }
        else {
            APR_ARRAY_PUSH(names, const char *) = name;
            apr_hash_set(claimed, name, APR_HASH_KEY_STRING, "");
        }
    }
    if (!names->nelts) {
        return 0;
    }
    if (v->ssl) {
        taken = site_names(p, plan, vhosts, claimed, except, plain_by_name, names);
    }
    d = acme_autossl_tree_node(p, "AcmeDomain", apr_array_pstrcat(p, names, ' '), v->node,
                               v->node);
    acme_autossl_tree_append_child(v->node, d);
    APR_ARRAY_PUSH(v->domains, ap_directive_t *) = d;
    v->auto_added = d;
    for (i = 0; taken && i < taken->nelts; i++) {
        APR_ARRAY_IDX(taken, i, acme_autossl_vhost_t *)->site = d;
    }
    return 1;
}

/* The plain vhosts without an AcmeDomain of their own, by each of their names. */
static apr_hash_t *plain_index(apr_pool_t *p, const apr_array_header_t *vhosts)
{
    apr_hash_t *by_name = apr_hash_make(p);
    int i, j;

    for (i = 0; i < vhosts->nelts; i++) {
        acme_autossl_vhost_t *w = APR_ARRAY_IDX(vhosts, i, acme_autossl_vhost_t *);
        for (j = 0; w->plain && !w->domains->nelts && j < w->names->nelts; j++) {
            const char *name = APR_ARRAY_IDX(w->names, j, const char *);
            apr_array_header_t *list = apr_hash_get(by_name, name, APR_HASH_KEY_STRING);
            if (!list) {
                list = apr_array_make(p, 1, sizeof(acme_autossl_vhost_t *));
                apr_hash_set(by_name, name, APR_HASH_KEY_STRING, list);
            }
            APR_ARRAY_PUSH(list, acme_autossl_vhost_t *) = w;
        }
    }
    return by_name;
}

void acme_autossl_auto_domains(apr_pool_t *p, acme_autossl_t *plan, apr_array_header_t *vhosts,
                               const apr_array_header_t *top_domains,
                               const apr_array_header_t *except)
{
    apr_hash_t *claimed = apr_hash_make(p);
    apr_hash_t *plain_by_name = plain_index(p, vhosts);
    int i, j, pass;

    for (i = 0; i < top_domains->nelts; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(top_domains, i, const ap_directive_t *);
        claim_words(claimed, acme_autossl_tree_domain_names(p, d, NULL));
    }
    for (i = 0; i < vhosts->nelts; i++) {
        const acme_autossl_vhost_t *v = APR_ARRAY_IDX(vhosts, i, const acme_autossl_vhost_t *);
        for (j = 0; j < v->domains->nelts; j++) {
            const ap_directive_t *d = APR_ARRAY_IDX(v->domains, j, const ap_directive_t *);
            claim_words(claimed, acme_autossl_tree_domain_names(p, d, v));
        }
    }
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < vhosts->nelts; i++) {
            acme_autossl_vhost_t *v = APR_ARRAY_IDX(vhosts, i, acme_autossl_vhost_t *);
            if ((pass == 0) == (v->ssl != 0) && (v->ssl || v->plain)) {
                plan->auto_added += auto_domain(p, plan, v, claimed, except, vhosts,
                                                plain_by_name);
            }
        }
    }
    /* a name in 'except' that no vhost has is most likely a typo */
    for (i = 0; i < except->nelts; i++) {
        const char *e = APR_ARRAY_IDX(except, i, const char *);
        int found = 0;
        for (j = 0; !found && j < vhosts->nelts; j++) {
            const acme_autossl_vhost_t *v = APR_ARRAY_IDX(vhosts, j, const acme_autossl_vhost_t *);
            int k;
            for (k = 0; !found && k < v->names->nelts; k++) {
                found = acme_name_covers(e, APR_ARRAY_IDX(v->names, k, const char *));
            }
        }
        if (!found) {
            APR_ARRAY_PUSH(plan->unmatched, const char *) = e;
        }
    }
}
