/* The redirects an HTTPS twin leaves out (acme_autossl.c makes the twins):
 * a port-80 vhost that sends its requests to https on its own names (what
 * certbot writes) would, copied onto the https port, send every https
 * request to itself. */
#include <apr_strings.h>
#include <httpd.h>

#include "acme_autossl_int.h"

/* The URL a redirecting directive sends to, or NULL: the last word of
 * Redirect, RedirectPermanent, RedirectTemp and RedirectMatch, the
 * substitution of RewriteRule. */
static const char *redirect_target(apr_pool_t *p, const ap_directive_t *d)
{
    apr_array_header_t *words;

    if (acme_autossl_tree_is(d, "Redirect") || acme_autossl_tree_is(d, "RedirectPermanent")
        || acme_autossl_tree_is(d, "RedirectTemp") || acme_autossl_tree_is(d, "RedirectMatch")) {
        words = acme_autossl_tree_words(p, d->args);
        return words->nelts >= 2 ? APR_ARRAY_IDX(words, words->nelts - 1, const char *) : NULL;
    }
    if (acme_autossl_tree_is(d, "RewriteRule")) {
        words = acme_autossl_tree_words(p, d->args);
        return words->nelts >= 2 ? APR_ARRAY_IDX(words, 1, const char *) : NULL;
    }
    return NULL;
}

/* Does url send to https on a name of v, or on the request's own host
 * (%{SERVER_NAME}, %{HTTP_HOST}, as certbot writes it)? */
static int https_to_self(apr_pool_t *p, const acme_autossl_vhost_t *v, const char *url)
{
    const char *host = url + 8;

    if (strncasecmp(url, "https://", 8)) {
        return 0;
    }
    if (*host == '%') {
        return 1;
    }
    return acme_autossl_tree_has_name(v, apr_pstrmemdup(p, host, strcspn(host, "/:?#")));
}

/* An http vhost that sends its requests to https on its own names would, copied
 * into the twin, send every https request to itself: a redirect loop. The twin
 * leaves those directives out (a RewriteRule with the RewriteCond lines before
 * it), at any depth; each is recorded for the log. */
void acme_autossl_redirects_drop(apr_pool_t *p, acme_autossl_t *plan,
                                 const acme_autossl_vhost_t *v, ap_directive_t *parent)
{
    ap_directive_t *c, *next, *conds = NULL;
    const char *url;

    for (c = parent->first_child; c; c = next) {
        next = c->next;
        if (c->first_child) {
            acme_autossl_redirects_drop(p, plan, v, c);
        }
        if (acme_autossl_tree_is(c, "RewriteCond")) {
            conds = conds ? conds : c;
            continue;
        }
        if ((url = redirect_target(p, c)) != NULL && https_to_self(p, v, url)) {
            while (acme_autossl_tree_is(c, "RewriteRule") && conds && conds != c) {
                ap_directive_t *cond_next = conds->next;
                acme_autossl_tree_remove(parent, conds);
                conds = cond_next;
            }
            acme_autossl_tree_remove(parent, c);
            APR_ARRAY_PUSH(plan->unlooped, const char *) = apr_psprintf(
                p, "%s: '%s %s'", acme_autossl_tree_where(p, c), c->directive, c->args);
        }
        conds = NULL;
    }
}