/* Directives that take one value per context (the server configuration, or
 * one <VirtualHost>): a second line in the same context would replace the
 * first (or add to its list) without a word, e.g. one in Debian's acme.conf
 * and one in the site's file. One table says which directives these are and
 * what to do about a second line; the directive handlers ask
 * acme_config_once() after their context check. A <VirtualHost>'s own line
 * overriding the server-level one is not a repeat. */
#include <apr_strings.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_config_int.h"

typedef enum {
    ONCE_VALUE = 0,     /* one value: a second line replaces the first */
    ONCE_LIST           /* a list on one line: a second line adds to it */
} once_kind_e;

/* fix: what to do, after "; " (NULL: keep one); its first %s, if any, gets
 * the directive's name, its second the arguments of both lines joined. */
typedef struct {
    const char *name;
    once_kind_e kind;
    const char *fix;
    const char *(*fix_of)(cmd_parms *cmd, const ap_directive_t *first);
} once_t;

static const char *auto_domains_fix(cmd_parms *cmd, const ap_directive_t *first);

#define KEEP_ONE "keep the one you mean and remove the other"
#define ON_ONE_LINE "write one line, '%s %s', if you mean all of them; else " KEEP_ONE

static const once_t once_table[] = {
    /* server configuration only */
    { "AcmeCA", ONCE_LIST, "write one line with the CAs in failover order, '%s %s', if you "
      "mean all of them; else " KEEP_ONE, NULL },
    { "AcmeCACertificateFile", ONCE_VALUE, "keep one; one PEM file may hold several CA "
      "certificates", NULL },
    { "AcmeContact", ONCE_VALUE, NULL, NULL },
    { "AcmeAgreeToTerms", ONCE_VALUE, NULL, NULL },
    { "AcmeStoreDir", ONCE_VALUE, NULL, NULL },
    { "AcmePortMap", ONCE_VALUE, "keep one line with both ports, e.g. 'AcmePortMap http:8080 "
      "https:8443'", NULL },
    { "AcmeActivation", ONCE_VALUE, NULL, NULL },
    { "AcmeMaxParallel", ONCE_VALUE, NULL, NULL },
    { "AcmeNotifyCmd", ONCE_VALUE, NULL, NULL },
    { "AcmeEAB", ONCE_VALUE, NULL, NULL },
    { "AcmeDnsResolver", ONCE_VALUE, NULL, NULL },
    { "AcmeAutoDomains", ONCE_VALUE, NULL, auto_domains_fix },
    { "AcmeCluster", ONCE_VALUE, "keep the one with the URL of the Redis every node shares and "
      "remove the other", NULL },
    { "AcmeClusterKeyFile", ONCE_VALUE, "keep one; to change the key, write both files on one "
      "line, 'AcmeClusterKeyFile NEW OLD' (docs/cluster.md, changing the cluster key)", NULL },
    { "AcmeClusterCACertificateFile", ONCE_VALUE, "keep the one with the CA that signed Redis' "
      "TLS certificate (one PEM file may hold several CA certificates) and remove the other",
      NULL },
    /* server configuration and <VirtualHost>: once in each */
    { "AcmeChallenges", ONCE_LIST, "write one line in preference order, '%s %s', if you mean "
      "all of them; else " KEEP_ONE, NULL },
    { "AcmeKeyType", ONCE_LIST, ON_ONE_LINE " (two types: one EC and one RSA certificate)",
      NULL },
    { "AcmeRenewWindow", ONCE_VALUE, NULL, NULL },
    { "AcmeWarnWindow", ONCE_VALUE, NULL, NULL },
    { "AcmeProfile", ONCE_VALUE, NULL, NULL },
    { "AcmePreferredChain", ONCE_VALUE, NULL, NULL },
    { "AcmeDnsCmd", ONCE_VALUE, NULL, NULL },
    { "AcmeRequireHttps", ONCE_VALUE, NULL, NULL },
};
#define ONCE_N ((int)(sizeof(once_table) / sizeof(once_table[0])))

/* The record itself, not through acme_config.c, which calls in here. */
static acme_srv_conf_t *record_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &acme_module);
}

int acme_config_once_n(void)
{
    return ONCE_N;
}

static int once_index(const char *name)
{
    int i;

    for (i = 0; i < ONCE_N; i++) {
        if (!strcasecmp(once_table[i].name, name)) {
            return i;
        }
    }
    return -1;
}

static const char *at(apr_pool_t *p, const ap_directive_t *d)
{
    return apr_psprintf(p, "%s:%d", d->filename, d->line_num);
}

/* A second AcmeAutoDomains: the one line that says what both mean together,
 * 'except' lists joined. */
static const char *auto_domains_fix(cmd_parms *cmd, const ap_directive_t *first)
{
    apr_array_header_t *first_except, *except;
    int first_on = 0, on = 0, i, j, dup;

    (void)acme_autossl_auto_parse(cmd->pool, first->args, &first_on, &first_except);
    if (acme_autossl_auto_parse(cmd->pool, cmd->directive->args, &on, &except) || !on
        || !first_on) {
        return "keep the one you mean (on or off) and remove the other";
    }
    for (i = 0; i < except->nelts; i++) {
        const char *name = APR_ARRAY_IDX(except, i, const char *);
        for (j = 0, dup = 0; !dup && j < first_except->nelts; j++) {
            dup = !strcmp(APR_ARRAY_IDX(first_except, j, const char *), name);
        }
        if (!dup) {
            APR_ARRAY_PUSH(first_except, const char *) = name;
        }
    }
    return apr_psprintf(cmd->pool, "keep one line, 'AcmeAutoDomains on%s%s', and remove the "
                        "other", first_except->nelts ? " except " : "",
                        apr_array_pstrcat(cmd->pool, first_except, ' '));
}

static const char *fix_of(cmd_parms *cmd, const once_t *once, const ap_directive_t *first)
{
    const char *fix;

    if (once->fix_of) {
        return once->fix_of(cmd, first);
    }
    if (!once->fix) {
        fix = KEEP_ONE;
    }
    else if (once->kind == ONCE_LIST) {
        fix = apr_psprintf(cmd->pool, once->fix, once->name,
                           apr_pstrcat(cmd->pool, first->args, " ", cmd->directive->args, NULL));
    }
    else {
        fix = once->fix;
    }
    if (cmd->server->is_virtual) {
        return apr_pstrcat(cmd->pool, fix, " in this <VirtualHost>", NULL);
    }
    return fix;
}

const char *acme_config_once(cmd_parms *cmd)
{
    acme_srv_conf_t *conf = record_of(cmd->server);
    const ap_directive_t *first;
    int i = once_index(cmd->cmd->name);

    if (i < 0 || !cmd->directive) {
        return NULL;
    }
    if (!conf->once_at) {
        conf->once_at = apr_pcalloc(cmd->pool, ONCE_N * sizeof(*conf->once_at));
    }
    first = conf->once_at[i];
    /* an ITERATE directive's handler runs once for each argument of one line */
    if (!first || first == cmd->directive) {
        conf->once_at[i] = cmd->directive;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "ACME01600: %s at %s repeats the one at %s, and only one "
                        "can count: the second would %s without a word; %s",
                        once_table[i].name, at(cmd->pool, cmd->directive),
                        at(cmd->pool, first), once_table[i].kind == ONCE_LIST
                        ? "add to the list of the first" : "replace the first",
                        fix_of(cmd, &once_table[i], first));
}

const char *acme_config_once_where(apr_pool_t *p, server_rec *s, const char *name)
{
    const acme_srv_conf_t *conf = record_of(s);
    int i = once_index(name);

    if (i < 0 || !conf->once_at || !conf->once_at[i]) {
        return NULL;
    }
    return at(p, conf->once_at[i]);
}
