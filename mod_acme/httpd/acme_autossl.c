/* HTTPS for sites that have only port 80, and AcmeAutoDomains.
 *
 * httpd reads every configuration file into one tree (ap_conftree) before
 * the pre_config hooks run: LoadModule, Include, Define and <IfModule> have
 * been executed by then, but no directive of a <VirtualHost> has (that is
 * ap_process_config_tree, called right after pre_config in server/main.c).
 * mod_acme edits the tree there, so every module, DUMP_VHOSTS included, sees
 * what it adds as if it had been written in the files:
 *  - AcmeAutoDomains on: "AcmeDomain <names>" in each <VirtualHost> with
 *    public names that no AcmeDomain covers yet; SSL vhosts first, so a
 *    site's port-80 and SSL vhosts share one certificate: an SSL vhost's
 *    also takes the names of each port-80 vhost that shares one of its
 *    names, where no SSL vhost serves them (that vhost's twin does, with
 *    this certificate);
 *  - a <VirtualHost> on the http port (AcmePortMap http, 80; or on no port,
 *    <VirtualHost *>, which answers on every port) with an
 *    AcmeDomain for names of its own that no SSL vhost serves: its HTTPS
 *    twin, a copy of its subtree on the https port (AcmePortMap https, 443)
 *    with "SSLEngine on", appended after everything written by hand (so hand
 *    written SSL vhosts stay the defaults of their addresses). The AcmeDomain
 *    moves into the twin, which is the vhost that serves its certificate.
 *    The twin carries only the names its certificate covers: a name that
 *    AcmeAutoDomains skipped (excluded with 'except', not public, invalid)
 *    or that no AcmeDomain of the vhost lists stays on the http port only.
 *    A TLS client asking for such a name is refused at the handshake unless
 *    an SSL vhost of the address serves it (acme_autossl_report.c), rather
 *    than being handed another name's certificate; localhost and address
 *    literals, which health checks ask for, are not refused.
 * A name of an SSL vhost that the vhost's certificate from mod_acme does
 * not hold is warned about (a client asking for it sees a name mismatch).
 * Nothing is written to disk: each configuration read (start, restart)
 * starts again from the files. What was done is kept in pconf for
 * check_config (acme_check.c) and logged once the error log is open.
 * Reading and editing tree nodes is acme_autossl_tree.c; AcmeAutoDomains,
 * acme_autossl_auto.c; the redirects a twin leaves out,
 * acme_autossl_redirects.c. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <http_core.h>
#include <util_cfgtree.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_conf_parse.h"
#include "acme_name.h"
#include "acme_autossl_int.h"

#define AUTOSSL_KEY "acme-autossl"

/* "Listen [addr:]port [protocol]": the port of its first word. */
static int listen_port(const char *word)
{
    const char *port = acme_autossl_tree_port(word);
    return atoi(port ? port : word);
}

/* The addresses of a <VirtualHost> (its arguments, as written), each on
 * port instead, space-separated. */
static const char *addrs_on(apr_pool_t *p, const char *addrs, int port)
{
    apr_array_header_t *words = acme_autossl_tree_words(p, addrs);
    const char *args = "";
    int i;

    for (i = 0; i < words->nelts; i++) {
        const char *a = APR_ARRAY_IDX(words, i, const char *);
        args = apr_psprintf(p, "%s%s%s:%d", args, i ? " " : "", acme_autossl_tree_addr_host(p, a),
                            port);
    }
    return args;
}

/* The twin's <VirtualHost> arguments: every address on the https port. */
static const char *twin_args(apr_pool_t *p, const ap_directive_t *node, int https_port)
{
    return apr_pstrcat(p, addrs_on(p, node->args, https_port), ">", NULL);
}

/* The addresses of mine (as written) whose host none of theirs has
 * (space-separated), or NULL when theirs has every one. httpd looks a name
 * up among the vhosts of the connection's address only (those on the
 * address itself, else those on *), so the twin of theirs serves a name
 * wherever the twin of mine would only when it is on each of these hosts. */
static const char *addrs_lacking(apr_pool_t *p, const char *mine, const char *theirs)
{
    apr_array_header_t *m = acme_autossl_tree_words(p, mine);
    apr_array_header_t *t = acme_autossl_tree_words(p, theirs);
    const char *lacking = NULL;
    int i, j, found;

    for (i = 0; i < m->nelts; i++) {
        const char *a = APR_ARRAY_IDX(m, i, const char *);
        const char *host = acme_autossl_tree_addr_host(p, a);
        for (j = 0, found = 0; !found && j < t->nelts; j++) {
            found = !strcasecmp(host, acme_autossl_tree_addr_host(
                                    p, APR_ARRAY_IDX(t, j, const char *)));
        }
        if (!found) {
            lacking = lacking ? apr_pstrcat(p, lacking, " ", a, NULL) : a;
        }
    }
    return lacking;
}

/* The names of v that a certificate of its AcmeDomain lines covers, in
 * v's order (an AcmeDomain without names covers them all); for a plain
 * vhost whose site shares the certificate of an SSL vhost (v->site), also
 * the names of that certificate that no SSL vhost serves. */
static apr_array_header_t *covered_names(apr_pool_t *p, const acme_autossl_vhost_t *v,
                                         const apr_array_header_t *vhosts)
{
    apr_array_header_t *covered = apr_array_make(p, v->names->nelts, sizeof(const char *));
    apr_array_header_t *site = v->site ? acme_autossl_tree_domain_names(p, v->site, NULL) : NULL;
    int i, j, hit;

    for (i = 0; i < v->names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(v->names, i, const char *);
        for (j = 0, hit = 0; !hit && j < v->domains->nelts; j++) {
            const ap_directive_t *d = APR_ARRAY_IDX(v->domains, j, const ap_directive_t *);
            hit = acme_autossl_tree_list_covers(acme_autossl_tree_domain_names(p, d, v), name);
        }
        hit = hit || (site && acme_autossl_tree_list_covers(site, name)
                      && !acme_autossl_tree_served_by_ssl(vhosts, name));
        if (hit) {
            APR_ARRAY_PUSH(covered, const char *) = name;
        }
    }
    return covered;
}

/* Removes name from the ServerAlias lines of vhost (a line left empty goes). */
static void alias_drop(apr_pool_t *p, ap_directive_t *vhost, const char *name)
{
    ap_directive_t *c, *next;
    int i;

    for (c = vhost->first_child; c; c = next) {
        apr_array_header_t *words, *keep;
        next = c->next;
        if (!acme_autossl_tree_is(c, "ServerAlias")) {
            continue;
        }
        words = acme_autossl_tree_words(p, c->args);
        keep = apr_array_make(p, words->nelts, sizeof(const char *));
        for (i = 0; i < words->nelts; i++) {
            const char *w = APR_ARRAY_IDX(words, i, const char *);
            if (strcasecmp(acme_name_normalize(p, w), name)) {
                APR_ARRAY_PUSH(keep, const char *) = w;
            }
        }
        if (keep->nelts) {
            c->args = apr_array_pstrcat(p, keep, ' ');
        }
        else {
            acme_autossl_tree_remove(vhost, c);
        }
    }
}

/* The twin's ServerName and ServerAlias keep only covered names: mod_ssl
 * picks a vhost by SNI among these, and would hand a client that asks for
 * any other name this vhost's certificate, which does not hold it. */
static void twin_names(apr_pool_t *p, ap_directive_t *twin, const apr_array_header_t *covered)
{
    ap_directive_t *c, *next, *server_name = NULL;
    const char *first = NULL;
    int i;

    for (i = 0; !first && i < covered->nelts; i++) {
        const char *name = APR_ARRAY_IDX(covered, i, const char *);
        first = acme_name_is_wildcard(name) ? NULL : name;
    }
    for (c = twin->first_child; c; c = next) {
        apr_array_header_t *words = acme_autossl_tree_words(p, c->args);
        next = c->next;
        if (acme_autossl_tree_is(c, "ServerName") && words->nelts) {
            c->args = acme_autossl_tree_host(p, APR_ARRAY_IDX(words, 0, const char *));
            server_name = c;
        }
        else if (acme_autossl_tree_is(c, "ServerAlias")) {
            apr_array_header_t *keep = apr_array_make(p, words->nelts, sizeof(const char *));
            for (i = 0; i < words->nelts; i++) {
                const char *w = APR_ARRAY_IDX(words, i, const char *);
                if (acme_autossl_tree_in_list(covered, acme_name_normalize(p, w))) {
                    APR_ARRAY_PUSH(keep, const char *) = w;
                }
            }
            if (keep->nelts) {
                c->args = apr_array_pstrcat(p, keep, ' ');
            }
            else {
                acme_autossl_tree_remove(twin, c);
            }
        }
    }
    if (server_name && first && !acme_autossl_tree_in_list(covered, server_name->args)) {
        /* its ServerName is not covered: the first covered name stands in */
        server_name->args = first;
    }
    if (server_name) {
        alias_drop(p, twin, server_name->args);
    }
}

/* The copy of the plain vhost v on the https port, SSLEngine on, its
 * ServerName without a port (the http port would be wrong there), with
 * only the names its certificate covers and without its redirects to
 * https on its own names. */
static ap_directive_t *twin_make(apr_pool_t *p, acme_autossl_t *plan,
                                 const acme_autossl_vhost_t *v,
                                 const apr_array_header_t *covered)
{
    int https_port = plan->https_port;
    ap_directive_t *twin = apr_pmemdup(p, v->node, sizeof(*twin));
    ap_directive_t *c, *next, *engine;

    twin->next = NULL;
    twin->last = NULL;
    twin->parent = NULL;
    twin->args = twin_args(p, v->node, https_port);
    twin->first_child = acme_autossl_tree_clone(p, v->node->first_child, twin);
    for (c = twin->first_child; c; c = next) {
        next = c->next;
        if (acme_autossl_tree_is(c, "SSLEngine")) {
            acme_autossl_tree_remove(twin, c);
        }
    }
    twin_names(p, twin, covered);
    acme_autossl_redirects_drop(p, plan, v, twin);
    engine = acme_autossl_tree_node(p, "SSLEngine", "on", twin, v->node);
    engine->next = twin->first_child;
    twin->first_child = engine;
    return twin;
}

/* ---- twins ---------------------------------------------------------------- */

/* Does v have an AcmeDomain for a name of its own that no SSL vhost serves,
 * or share the certificate of its site's SSL vhost for such names? */
static int wants_twin(apr_pool_t *p, const acme_autossl_vhost_t *v,
                      const apr_array_header_t *vhosts)
{
    int i, j;

    if (!v->plain) {
        return 0;
    }
    if (v->site) {
        return 1;   /* it took only names that no SSL vhost serves */
    }
    for (i = 0; i < v->domains->nelts; i++) {
        apr_array_header_t *names = acme_autossl_tree_domain_names(
            p, APR_ARRAY_IDX(v->domains, i, ap_directive_t *), v);
        for (j = 0; j < names->nelts; j++) {
            const char *name = APR_ARRAY_IDX(names, j, const char *);
            if (acme_autossl_tree_has_name(v, name)
                && !acme_autossl_tree_served_by_ssl(vhosts, name)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Which certificate of v holds name (v's covered names hold it): its
 * AcmeDomain as written or as AcmeAutoDomains added it, or the one its
 * site's SSL vhost shares. */
static const char *cert_of(apr_pool_t *p, const acme_autossl_t *plan,
                           const acme_autossl_vhost_t *v, const char *name)
{
    int i;

    for (i = 0; i < v->domains->nelts; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(v->domains, i, const ap_directive_t *);
        if (!acme_autossl_tree_list_covers(acme_autossl_tree_domain_names(p, d, v), name)) {
            continue;
        }
        return d == v->auto_added
            ? apr_psprintf(p, "'AcmeDomain %s', added by AcmeAutoDomains at %s", d->args,
                           plan->auto_where)
            : apr_psprintf(p, "the AcmeDomain at %s", acme_autossl_tree_where(p, d));
    }
    return v->site ? apr_psprintf(p, "'AcmeDomain %s', added by AcmeAutoDomains at %s to the "
                                  "SSL <VirtualHost> at %s", v->site->args, plan->auto_where,
                                  acme_autossl_tree_where(p, v->site))
                   : "its AcmeDomain";
}

/* A twin that carries a name: the vhost of the http port it copies, and
 * the twin as told. */
typedef struct {
    const acme_autossl_vhost_t *v;
    const acme_twin_t *t;
} twin_server_t;

/* Records the names of v of the http port that its HTTPS twin t leaves
 * out: served elsewhere when another twin carries them (served: name ->
 * twin_server_t*; wild: the twins of the wildcard names wild_names, in
 * the same order), else with no certificate from mod_acme. */
static void twin_left_out(apr_pool_t *p, acme_autossl_t *plan, const acme_autossl_vhost_t *v,
                          const acme_twin_t *t, const apr_array_header_t *covered,
                          const apr_array_header_t *vhosts, apr_hash_t *served,
                          const apr_array_header_t *wild, const apr_array_header_t *wild_names)
{
    int j, k;

    for (j = 0; j < v->names->nelts; j++) {
        const char *name = APR_ARRAY_IDX(v->names, j, const char *);
        const twin_server_t *other;
        acme_autossl_skip_t *e;
        const char *lacking;
        /* a name an SSL vhost serves is that vhost's (uncovered_add) */
        if (acme_autossl_tree_in_list(covered, name)
            || acme_autossl_tree_served_by_ssl(vhosts, name)) {
            continue;
        }
        other = apr_hash_get(served, name, APR_HASH_KEY_STRING);
        for (k = 0; !other && k < wild->nelts; k++) {
            const twin_server_t *w = APR_ARRAY_IDX(wild, k, const twin_server_t *);
            if (acme_name_covers(APR_ARRAY_IDX(wild_names, k, const char *), name)) {
                other = w;
            }
        }
        if (!other) {
            acme_autossl_auto_skip(p, plan, v, name, apr_psprintf(
                p, "left out of its HTTPS twin <VirtualHost %s>: no AcmeDomain of the "
                "<VirtualHost> covers it, so its certificate does not", t->twin_addrs));
            continue;
        }
        e = apr_pcalloc(p, sizeof(*e));
        e->name = name;
        e->where = t->where;
        e->why = apr_psprintf(p, "<VirtualHost %s> at %s has it too, and its HTTPS twin "
                              "<VirtualHost %s> serves it with %s", other->t->addrs,
                              other->t->where, other->t->twin_addrs,
                              cert_of(p, plan, other->v, name));
        lacking = addrs_lacking(p, t->addrs, other->t->addrs);
        if (lacking) {
            /* over https that twin is not there on some of this vhost's addresses */
            e->why = apr_psprintf(p, "%s, but not on %s", e->why,
                                  addrs_on(p, lacking, plan->https_port));
            e->fix = apr_psprintf(p, "to serve it there too, write '<VirtualHost %s %s>' in "
                                  "place of '<VirtualHost %s>' at %s, or keep %s in one "
                                  "<VirtualHost> only", other->t->addrs, lacking,
                                  other->t->addrs, other->t->where, name);
        }
        APR_ARRAY_PUSH(plan->elsewhere, acme_autossl_skip_t *) = e;
    }
}

/* Adds the HTTPS twins (to the tree and plan->twins, or plan->wanted
 * without mod_ssl). p: pconf, for what plan keeps; scratch: ptemp. */
static void twins_add(apr_pool_t *p, apr_pool_t *scratch, acme_autossl_t *plan,
                      const apr_array_header_t *vhosts)
{
    int ssl_loaded = ap_find_linked_module("mod_ssl.c") != NULL;
    apr_hash_t *served = apr_hash_make(scratch);   /* name -> twin_server_t* */
    apr_array_header_t **covered = apr_pcalloc(scratch, sizeof(*covered) * (vhosts->nelts + 1));
    twin_server_t *twins = apr_pcalloc(scratch, sizeof(*twins) * (vhosts->nelts + 1));
    apr_array_header_t *wild = apr_array_make(scratch, 1, sizeof(twin_server_t *));
    apr_array_header_t *wild_names = apr_array_make(scratch, 1, sizeof(const char *));
    int i, j;

    /* first every twin's names, so that a name one twin leaves out can be
     * told apart from a name no twin serves */
    for (i = 0; i < vhosts->nelts; i++) {
        const acme_autossl_vhost_t *v = APR_ARRAY_IDX(vhosts, i, const acme_autossl_vhost_t *);
        acme_twin_t *t;

        if (!wants_twin(scratch, v, vhosts)) {
            continue;
        }
        covered[i] = covered_names(scratch, v, vhosts);
        t = apr_pcalloc(p, sizeof(*t));
        twins[i].v = v;
        twins[i].t = t;
        t->where = acme_autossl_tree_where(p, v->node);
        t->addrs = apr_array_pstrcat(p, acme_autossl_tree_words(scratch, v->node->args), ' ');
        t->names = apr_array_pstrcat(p, covered[i], ' ');
        t->automatic = v->auto_added || v->site;
        t->twin_addrs = apr_array_pstrcat(p, acme_autossl_tree_words(
            scratch, twin_args(scratch, v->node, plan->https_port)), ' ');
        for (j = 0; j < covered[i]->nelts; j++) {
            const char *name = APR_ARRAY_IDX(covered[i], j, const char *);
            if (acme_name_is_wildcard(name)) {
                APR_ARRAY_PUSH(wild, twin_server_t *) = &twins[i];
                APR_ARRAY_PUSH(wild_names, const char *) = name;
            }
            else if (!apr_hash_get(served, name, APR_HASH_KEY_STRING)) {
                apr_hash_set(served, name, APR_HASH_KEY_STRING, &twins[i]);
            }
        }
    }
    for (i = 0; i < vhosts->nelts; i++) {
        const acme_autossl_vhost_t *v = twins[i].v;
        acme_autossl_unnamed_t *u;
        ap_directive_t *twin;

        if (!v) {
            continue;
        }
        if (!ssl_loaded) {
            APR_ARRAY_PUSH(plan->wanted, const acme_twin_t *) = twins[i].t;
            continue;
        }
        twin = twin_make(p, plan, v, covered[i]);
        twin_left_out(p, plan, v, twins[i].t, covered[i], vhosts, served, wild, wild_names);
        for (j = 0; j < v->domains->nelts; j++) {
            acme_autossl_tree_remove(v->node, APR_ARRAY_IDX(v->domains, j, ap_directive_t *));
        }
        acme_autossl_tree_append(twin);
        APR_ARRAY_PUSH(plan->twins, const acme_twin_t *) = twins[i].t;
        /* its AcmeDomain now lives in the twin, an SSL vhost */
        if ((u = apr_hash_get(plan->unnamed, twins[i].t->where, APR_HASH_KEY_STRING)) != NULL) {
            u->ssl = 1;
        }
    }
}

/* ---- SSL vhosts whose certificate misses a name ------------------------------ */

/* The skip recorded for name of the vhost at where, taken out of the list
 * (it is told as uncovered instead), or NULL. */
static acme_autossl_skip_t *skip_take(acme_autossl_t *plan, const char *where, const char *name)
{
    int i;

    for (i = 0; i < plan->skipped->nelts; i++) {
        acme_autossl_skip_t *k = APR_ARRAY_IDX(plan->skipped, i, acme_autossl_skip_t *);
        if (!strcmp(k->where, where) && !strcmp(k->name, name)) {
            memmove(plan->skipped->elts + i * sizeof(k), plan->skipped->elts
                    + (i + 1) * sizeof(k), (apr_size_t)(plan->skipped->nelts - i - 1)
                    * sizeof(k));
            plan->skipped->nelts--;
            return k;
        }
    }
    return NULL;
}

/* What to change for a name AcmeAutoDomains left out of an SSL vhost's
 * certificate, by why it did. */
static const char *auto_fix(const char *why)
{
    if (!strncmp(why, "excluded", 8)) {
        return "remove it from 'except' so that the certificate holds it, or move it to an "
               "SSL <VirtualHost> of its own with a certificate that holds it";
    }
    if (!strncmp(why, "a wildcard", 10)) {
        return "list it in an AcmeDomain of this <VirtualHost> (dns-01), or move it to an "
               "SSL <VirtualHost> of its own with a certificate that holds it";
    }
    return "move it to an SSL <VirtualHost> of its own with a certificate that holds it "
           "(SSLCertificateFile), or remove it from this <VirtualHost>";
}

/* Each name of an SSL vhost that gets its certificate from mod_acme (an
 * AcmeDomain in it, written or added) that this certificate does not hold:
 * mod_ssl picks the vhost by SNI, so a client asking for the name gets the
 * certificate anyway and sees a name mismatch. Told by configtest with why
 * and what to change; whatever else serves the name, it is this vhost. */
static void uncovered_add(apr_pool_t *p, apr_pool_t *scratch, acme_autossl_t *plan,
                          const apr_array_header_t *vhosts)
{
    int i, j;

    for (i = 0; i < vhosts->nelts; i++) {
        const acme_autossl_vhost_t *v = APR_ARRAY_IDX(vhosts, i, const acme_autossl_vhost_t *);
        apr_array_header_t *covered;
        const char *where, *cert;

        if (!v->ssl || !v->domains->nelts) {
            continue;
        }
        /* from scratch: at 10,000 vhosts, kept for each would be MBs in
         * the parent and every child, for nothing when all are covered */
        covered = covered_names(scratch, v, vhosts);
        where = acme_autossl_tree_where(scratch, v->node);
        cert = NULL;
        for (j = 0; j < v->names->nelts; j++) {
            const char *name = APR_ARRAY_IDX(v->names, j, const char *);
            acme_autossl_skip_t *u;
            if (acme_autossl_tree_in_list(covered, name)) {
                continue;
            }
            if (!cert) {
                where = apr_pstrdup(p, where);
                cert = v->auto_added
                    ? apr_psprintf(p, "'AcmeDomain %s', added by AcmeAutoDomains at %s",
                                   v->auto_added->args, plan->auto_where)
                    : apr_psprintf(p, "the AcmeDomain at %s", acme_autossl_tree_where(
                                       p, APR_ARRAY_IDX(v->domains, 0, ap_directive_t *)));
            }
            u = skip_take(plan, where, name);
            u = u ? u : apr_pcalloc(p, sizeof(*u));
            u->name = name;
            u->where = where;
            u->cert = cert;
            if (!v->auto_added) {
                u->why = "no AcmeDomain of this <VirtualHost> lists it";
                u->fix = "add it to that AcmeDomain, or move it to an SSL <VirtualHost> of its "
                         "own with a certificate that holds it, or remove it from this "
                         "<VirtualHost>";
            }
            else if (!u->why) {
                u->why = "another AcmeDomain holds it, so AcmeAutoDomains left it to that "
                         "certificate";
                u->fix = "move it to the SSL <VirtualHost> that serves that certificate, or "
                         "remove it from this <VirtualHost>";
            }
            else {
                u->fix = auto_fix(u->why);
            }
            APR_ARRAY_PUSH(plan->uncovered, acme_autossl_skip_t *) = u;
        }
    }
}

/* ---- the hooks ------------------------------------------------------------ */

/* The ports AcmePortMap names (80 and 443 when it is not written). */
static void tree_ports(apr_pool_t *p, int *http, int *https)
{
    ap_directive_t *d;
    int i;

    *http = 80;
    *https = 443;
    for (d = ap_conftree; d; d = d->next) {
        if (acme_autossl_tree_is(d, "AcmePortMap")) {
            apr_array_header_t *words = acme_autossl_tree_words(p, d->args);
            for (i = 0; i < words->nelts; i++) {
                /* a bad value fails when the directive itself is processed */
                (void)acme_conf_parse_port(p, APR_ARRAY_IDX(words, i, const char *), http, https);
            }
        }
    }
}

static int autossl_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    acme_autossl_t *plan = apr_pcalloc(pconf, sizeof(*plan));
    apr_array_header_t *vhosts = apr_array_make(pconf, 8, sizeof(acme_autossl_vhost_t *));
    apr_array_header_t *top_domains = apr_array_make(pconf, 2, sizeof(ap_directive_t *));
    apr_array_header_t *except = NULL;
    int http_port, https_port, on = 0, terms = 0;
    ap_directive_t *d;
    apr_pool_t *scratch;

    plan->twins = apr_array_make(pconf, 4, sizeof(acme_twin_t *));
    plan->wanted = apr_array_make(pconf, 1, sizeof(acme_twin_t *));
    plan->skipped = apr_array_make(pconf, 4, sizeof(acme_autossl_skip_t *));
    plan->unmatched = apr_array_make(pconf, 1, sizeof(const char *));
    plan->uncovered = apr_array_make(pconf, 1, sizeof(acme_autossl_skip_t *));
    plan->refused = apr_hash_make(pconf);
    plan->unlooped = apr_array_make(pconf, 1, sizeof(const char *));
    plan->elsewhere = apr_array_make(pconf, 1, sizeof(acme_autossl_skip_t *));
    plan->unnamed = apr_hash_make(pconf);
    apr_pool_userdata_setn(plan, AUTOSSL_KEY, NULL, pconf);
    if (!ap_conftree) {
        return OK;
    }
    scratch = acme_runtime_scratch_pool(ptemp, "acme_autossl");
    tree_ports(pconf, &http_port, &https_port);
    plan->http_port = http_port;
    plan->https_port = https_port;
    for (d = ap_conftree; d; d = d->next) {
        if (acme_autossl_tree_is(d, "<VirtualHost")) {
            acme_autossl_vhost_t *v = acme_autossl_tree_vhost(pconf, scratch, d, http_port,
                                                              https_port);
            APR_ARRAY_PUSH(vhosts, acme_autossl_vhost_t *) = v;
            if (!v->named) {
                acme_autossl_unnamed_t *u = apr_pcalloc(pconf, sizeof(*u));
                u->where = acme_autossl_tree_where(pconf, d);
                u->ssl = v->ssl;
                apr_hash_set(plan->unnamed, u->where, APR_HASH_KEY_STRING, u);
            }
        }
        else if (acme_autossl_tree_is(d, "ServerName")) {
            plan->server_name_where = acme_autossl_tree_where(pconf, d);   /* the last wins */
        }
        else if (acme_autossl_tree_is(d, "AcmeDomain")) {
            APR_ARRAY_PUSH(top_domains, ap_directive_t *) = d;
        }
        else if (acme_autossl_tree_is(d, "AcmeAgreeToTerms")) {
            terms = d->args && !strcasecmp(d->args, "on");
        }
        else if (acme_autossl_tree_is(d, "AcmeAutoDomains")) {
            /* a bad value fails when the directive itself is processed */
            if (!acme_autossl_auto_parse(pconf, d->args, &on, &except)) {
                plan->auto_where = on ? acme_autossl_tree_where(pconf, d) : NULL;
            }
        }
        else if (acme_autossl_tree_is(d, "Listen")) {
            apr_array_header_t *words = acme_autossl_tree_words(ptemp, d->args);
            int port = words->nelts ? listen_port(APR_ARRAY_IDX(words, 0, const char *)) : 0;
            if (port == http_port && !plan->http_listen_where) {
                const char *word = APR_ARRAY_IDX(words, 0, const char *);
                const char *colon = strrchr(word, ':');

                plan->http_listen_where = acme_autossl_tree_where(pconf, d);
                plan->http_listen_word = apr_pstrdup(pconf, word);
                plan->http_listen_addr = colon ? apr_pstrndup(pconf, word,
                                                              (apr_size_t)(colon - word)) : NULL;
            }
            else if (port == https_port && !plan->https_listen) {
                plan->https_listen = apr_psprintf(pconf, "'Listen %s' at %s", d->args,
                                                  acme_autossl_tree_where(pconf, d));
            }
        }
    }
    /* Debian's acme.conf ships "AcmeAutoDomains on": enabling the module
     * changes nothing until the administrator agrees to the CA's terms. */
    if (plan->auto_where && !terms) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, NULL, "ACME01406: %s: "
                     "AcmeAutoDomains is on, but AcmeAgreeToTerms is not: no name is managed "
                     "until you agree to the CA's terms of service with 'AcmeAgreeToTerms on'",
                     plan->auto_where);
        plan->auto_where = NULL;
    }
    if (plan->auto_where) {
        acme_autossl_auto_domains(pconf, plan, vhosts, top_domains, except);
    }
    twins_add(pconf, scratch, plan, vhosts);
    uncovered_add(pconf, scratch, plan, vhosts);
    apr_pool_destroy(scratch);
    return OK;
}

const acme_autossl_t *acme_autossl_get(apr_pool_t *pconf)
{
    void *plan = NULL;

    apr_pool_userdata_get(&plan, AUTOSSL_KEY, pconf);
    return plan;
}

void acme_autossl_register_hooks(apr_pool_t *p)
{
    /* before any other pre_config looks at the tree */
    ap_hook_pre_config(autossl_pre_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
