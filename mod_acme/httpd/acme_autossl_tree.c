/* The configuration tree (ap_conftree) as acme_autossl.c reads and edits it
 * in pre_config: directive words, addresses and ports, a <VirtualHost>'s
 * names, deep copies and new nodes. Allocations come from the pool given
 * (pconf); httpd discards the tree itself after the configuration is read. */
#include <apr_strings.h>
#include <http_core.h>
#include <util_cfgtree.h>

#include "acme_autossl_int.h"
#include "acme_name.h"

int acme_autossl_tree_is(const ap_directive_t *d, const char *name)
{
    return d->directive && !strcasecmp(d->directive, name);
}

const char *acme_autossl_tree_where(apr_pool_t *p, const ap_directive_t *d)
{
    return apr_psprintf(p, "%s:%d", d->filename ? d->filename : "?", d->line_num);
}

/* The words of a directive's arguments ("<VirtualHost *:80>" keeps its '>'). */
apr_array_header_t *acme_autossl_tree_words(apr_pool_t *p, const char *args)
{
    apr_array_header_t *words = apr_array_make(p, 4, sizeof(const char *));
    const char *end = args ? ap_strrchr_c(args, '>') : NULL;
    const char *w;

    if (!args) {
        return words;
    }
    if (end && end[1] == '\0') {
        args = apr_pstrmemdup(p, args, (apr_size_t)(end - args));
    }
    while (*(w = ap_getword_conf(p, &args))) {
        APR_ARRAY_PUSH(words, const char *) = w;
    }
    return words;
}

/* Where the port of "addr:port" ([v6]:port, *:port, _default_:port) starts,
 * or NULL when it names none. */
const char *acme_autossl_tree_port(const char *word)
{
    const char *colon = strrchr(word, ':');
    const char *bracket = strrchr(word, ']');

    if (!colon || (bracket && bracket > colon) || (!bracket && strchr(word, ':') != colon)) {
        return NULL;
    }
    return colon + 1;
}

const char *acme_autossl_tree_addr_host(apr_pool_t *p, const char *word)
{
    const char *port = acme_autossl_tree_port(word);

    return port ? apr_pstrmemdup(p, word, (apr_size_t)(port - 1 - word)) : word;
}

static int port_of(const char *word)
{
    const char *port = acme_autossl_tree_port(word);
    return port ? atoi(port) : 0;
}

/* ServerName's host: without scheme and port, lowercase. */
const char *acme_autossl_tree_host(apr_pool_t *p, const char *arg)
{
    const char *scheme = strstr(arg, "://");
    char *host = apr_pstrdup(p, scheme ? scheme + 3 : arg);
    char *colon = strrchr(host, ':');

    if (colon && host[0] != '[' && strchr(host, ':') == colon) {
        *colon = '\0';
    }
    else if (host[0] == '[' && (colon = strstr(host, "]:")) != NULL) {
        colon[1] = '\0';
    }
    ap_str_tolower(host);
    return host;
}

acme_autossl_vhost_t *acme_autossl_tree_vhost(apr_pool_t *p, apr_pool_t *scratch,
                                              ap_directive_t *node, int http_port, int https_port)
{
    acme_autossl_vhost_t *v = apr_pcalloc(p, sizeof(*v));
    apr_array_header_t *addrs = acme_autossl_tree_words(scratch, node->args);
    const char *server_name = NULL;
    ap_directive_t *c;
    int i, ssl_engine = 0, all_http = addrs->nelts > 0;

    v->node = node;
    v->names = apr_array_make(p, 4, sizeof(const char *));
    v->domains = apr_array_make(p, 1, sizeof(ap_directive_t *));
    for (i = 0; i < addrs->nelts; i++) {
        int port = port_of(APR_ARRAY_IDX(addrs, i, const char *));
        v->ssl |= port == https_port;
        all_http &= port == http_port || port == 0;
    }
    /* only the words of the directives read here: three per vhost at
     * 10,000 vhosts are megabytes of configtest's mappings */
    for (c = node->first_child; c; c = c->next) {
        apr_array_header_t *words;
        if (acme_autossl_tree_is(c, "ServerName")) {
            words = acme_autossl_tree_words(scratch, c->args);
            if (words->nelts) {
                server_name = acme_autossl_tree_host(p, APR_ARRAY_IDX(words, 0, const char *));
            }
        }
        else if (acme_autossl_tree_is(c, "ServerAlias")) {
            words = acme_autossl_tree_words(scratch, c->args);
            for (i = 0; i < words->nelts; i++) {
                APR_ARRAY_PUSH(v->names, const char *) =
                    acme_name_normalize(p, APR_ARRAY_IDX(words, i, const char *));
            }
        }
        else if (acme_autossl_tree_is(c, "SSLEngine")) {
            words = acme_autossl_tree_words(scratch, c->args);
            if (words->nelts) {
                ssl_engine = !strcasecmp(APR_ARRAY_IDX(words, 0, const char *), "on");
            }
        }
        else if (acme_autossl_tree_is(c, "AcmeDomain")) {
            APR_ARRAY_PUSH(v->domains, ap_directive_t *) = c;
        }
    }
    v->named = server_name != NULL;
    if (server_name) {
        /* the first name is the ServerName */
        APR_ARRAY_PUSH(v->names, const char *) = server_name;
        memmove(v->names->elts + sizeof(const char *), v->names->elts,
                (apr_size_t)(v->names->nelts - 1) * sizeof(const char *));
        APR_ARRAY_IDX(v->names, 0, const char *) = server_name;
    }
    v->ssl |= ssl_engine;
    v->plain = all_http && !ssl_engine;
    return v;
}

int acme_autossl_tree_has_name(const acme_autossl_vhost_t *v, const char *name)
{
    int i;

    for (i = 0; i < v->names->nelts; i++) {
        const char *have = APR_ARRAY_IDX(v->names, i, const char *);
        if (!strcasecmp(have, name) || (acme_name_is_wildcard(have)
                                        && !ap_strcasecmp_match(name, have))) {
            return 1;
        }
    }
    return 0;
}

int acme_autossl_tree_served_by_ssl(const apr_array_header_t *vhosts, const char *name)
{
    int i;

    for (i = 0; i < vhosts->nelts; i++) {
        const acme_autossl_vhost_t *v = APR_ARRAY_IDX(vhosts, i, const acme_autossl_vhost_t *);
        if (v->ssl && acme_autossl_tree_has_name(v, name)) {
            return 1;
        }
    }
    return 0;
}

/* The names an AcmeDomain node stands for: its words, else the vhost's names. */
apr_array_header_t *acme_autossl_tree_domain_names(apr_pool_t *p, const ap_directive_t *d,
                                                   const acme_autossl_vhost_t *v)
{
    apr_array_header_t *words = acme_autossl_tree_words(p, d->args);
    return (words->nelts || !v) ? words : v->names;
}

int acme_autossl_tree_list_covers(const apr_array_header_t *patterns, const char *name)
{
    int i;

    for (i = 0; i < patterns->nelts; i++) {
        if (acme_name_covers(APR_ARRAY_IDX(patterns, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

int acme_autossl_tree_in_list(const apr_array_header_t *list, const char *name)
{
    int i;

    for (i = 0; i < list->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(list, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

/* ---- the tree: copies and new nodes -------------------------------------- */

ap_directive_t *acme_autossl_tree_node(apr_pool_t *p, const char *directive, const char *args,
                                       ap_directive_t *parent, const ap_directive_t *at)
{
    ap_directive_t *d = apr_pcalloc(p, sizeof(*d));

    d->directive = directive;
    d->args = args;
    d->parent = parent;
    d->filename = at->filename;
    d->line_num = at->line_num;
    return d;
}

/* A deep copy of a sibling list and everything below it, under parent. */
ap_directive_t *acme_autossl_tree_clone(apr_pool_t *p, const ap_directive_t *src,
                                        ap_directive_t *parent)
{
    ap_directive_t *head = NULL, **tail = &head;

    for (; src; src = src->next) {
        ap_directive_t *d = apr_pmemdup(p, src, sizeof(*d));
        d->parent = parent;
        d->next = NULL;
        d->last = NULL;
        d->first_child = acme_autossl_tree_clone(p, src->first_child, d);
        *tail = d;
        tail = &d->next;
    }
    return head;
}

void acme_autossl_tree_remove(ap_directive_t *parent, const ap_directive_t *child)
{
    ap_directive_t **link;

    for (link = &parent->first_child; *link; link = &(*link)->next) {
        if (*link == child) {
            *link = child->next;
            return;
        }
    }
}

void acme_autossl_tree_append_child(ap_directive_t *parent, ap_directive_t *child)
{
    ap_directive_t **link = &parent->first_child;

    while (*link) {
        link = &(*link)->next;
    }
    child->parent = parent;
    *link = child;
}


void acme_autossl_tree_append(ap_directive_t *node)
{
    ap_directive_t *last = ap_conftree;

    while (last->next) {
        last = last->next;
    }
    last->next = node;
}
