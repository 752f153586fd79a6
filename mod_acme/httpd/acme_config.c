/* The per-server record (acme_config_int.h, private to this file and the
 * directive handlers in acme_config_cmds.c), its create and merge, and the
 * typed getters. Merge rules and defaults live here and nowhere else:
 * callers use the getters. The values themselves are parsed by the core
 * (acme_conf_parse.h). */
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include <http_core.h>
#include <http_main.h>
#include <ap_listen.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_config_int.h"
#include "acme_conf_parse.h"
#include "acme_name.h"

#define WARN_WINDOW_DEFAULT     10


/* Read-only defaults; callers never push onto the arrays the getters return. */
static const char *default_ca_list[] = { ACME_LETSENCRYPT_URL };
static const apr_array_header_t default_ca_urls = {
    NULL, sizeof(const char *), 1, 1, (char *)default_ca_list
};
static const acme_key_type_e default_key_type_list[] = { ACME_KEY_EC_P256 };
static const apr_array_header_t default_key_types = {
    NULL, sizeof(acme_key_type_e), 1, 1, (char *)default_key_type_list
};
/* A server without AcmeDomain lines of its own. */
static const apr_array_header_t no_decls = { NULL, sizeof(acme_domain_decl_t *), 0, 0, NULL };

acme_srv_conf_t *acme_config_get(server_rec *s)
{
    return ap_get_module_config(s->module_config, &acme_module);
}

acme_srv_global_t *acme_config_global(server_rec *s)
{
    return acme_config_get(s)->g;
}

/* A vhost's record is created when the parser meets its first Acme
 * directive; only the base server's gets the server-level record. */
void *acme_config_create_srv(apr_pool_t *p, server_rec *s)
{
    acme_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    if (!s->is_virtual) {
        acme_srv_global_t *g = apr_pcalloc(p, sizeof(*g));

        g->agree_tos = -1;
        g->port_http = -1;
        g->port_https = -1;
        g->activation_auto = -1;
        conf->g = g;
    }
    conf->require_https = ACME_HTTPS_UNSET;
    conf->renew_window.percent = -1;
    conf->renew_window.duration = 0;
    conf->warn_window.percent = -1;
    conf->warn_window.duration = 0;
    return conf;
}

static int window_is_set(acme_window_t w)
{
    return w.percent != -1 || w.duration != 0;
}

/* Merged in place: httpd replaces the vhost's own record with the result
 * and never reads it again, so a copy per vhost (10,000 of them at 10,000
 * domains) would only be memory the parent and every child carry. The
 * server-level values are the base server's record itself, not copies:
 * a vhost cannot set them. */
void *acme_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const acme_srv_conf_t *base = basev;
    acme_srv_conf_t *add = addv, *m = add;

    (void)p;

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
    m->g = base->g;
    MERGE_PTR(challenges);
    MERGE_PTR(key_types);
    MERGE_PTR(profile);
    MERGE_PTR(preferred_chain);
    m->dns_cmd_where = add->dns_cmd ? add->dns_cmd_where : base->dns_cmd_where;
    MERGE_PTR(dns_cmd);
#undef MERGE_PTR
    if (!add->once_at) {
        m->once_at = base->once_at;
    }
    else if (base->once_at) {
        int i;
        for (i = 0; i < acme_config_once_n(); i++) {
            m->once_at[i] = add->once_at[i] ? add->once_at[i] : base->once_at[i];
        }
    }
    m->renew_window = window_is_set(add->renew_window) ? add->renew_window : base->renew_window;
    m->warn_window = window_is_set(add->warn_window) ? add->warn_window : base->warn_window;
    /* An AcmeDomain belongs to the server it is written in, never inherited;
     * AcmeRequireHttps is resolved per request (acme_https.c): decls and
     * require_https stay the vhost's own. */
    return m;
}

/* ---- getters ---------------------------------------------------------- */

apr_array_header_t *acme_config_ca_urls(server_rec *s)
{
    acme_srv_global_t *g = acme_config_global(s);
    return g->ca_urls ? g->ca_urls : (apr_array_header_t *)&default_ca_urls;
}

const char *acme_config_ca_file(server_rec *s)
{
    return acme_config_global(s)->ca_file;
}

const apr_array_header_t *acme_config_trusted_roots(server_rec *s)
{
    return acme_config_global(s)->trusted_roots;
}

static const char *contact_default(apr_pool_t *p)
{
    const char *admin = ap_server_conf ? ap_server_conf->server_admin : NULL;

    if (admin && !strncasecmp(admin, "mailto:", 7)) {
        admin += 7;
    }
    return acme_conf_parse_is_email(admin) ? apr_pstrcat(p, "mailto:", admin, NULL) : NULL;
}

const char *acme_config_contact(server_rec *s)
{
    acme_srv_global_t *g = acme_config_global(s);
    return g->contact ? g->contact : contact_default(s->process->pconf);
}

int acme_config_agree_tos(server_rec *s)
{
    return acme_config_global(s)->agree_tos == 1;
}

const char *acme_config_store_dir(server_rec *s)
{
    acme_srv_global_t *g = acme_config_global(s);
    return g->store_dir ? g->store_dir : ap_server_root_relative(s->process->pconf, "acme");
}

int acme_config_port_http(server_rec *s)
{
    int port = acme_config_global(s)->port_http;
    return port > 0 ? port : 80;
}

int acme_config_port_https(server_rec *s)
{
    int port = acme_config_global(s)->port_https;
    return port > 0 ? port : 443;
}

int acme_config_activation_auto(server_rec *s)
{
    return acme_config_global(s)->activation_auto != 0;
}

apr_array_header_t *acme_config_challenges(server_rec *s)
{
    acme_srv_conf_t *conf = acme_config_get(s);
    return conf->challenges ? conf->challenges : acme_config_default_challenges(s);
}

const apr_array_header_t *acme_config_challenges_set(server_rec *s)
{
    return acme_config_get(s)->challenges;
}

/* ---- challenge types this server can answer ------------------------------ */

static const char *const http_only[] = { "http-01" };
static const char *const tls_only[] = { "tls-alpn-01" };
static const char *const http_and_tls[] = { "http-01", "tls-alpn-01" };
static const apr_array_header_t default_http = { NULL, sizeof(char *), 1, 1, (char *)http_only };
static const apr_array_header_t default_tls = { NULL, sizeof(char *), 1, 1, (char *)tls_only };
static const apr_array_header_t default_both = {
    NULL, sizeof(char *), 2, 2, (char *)http_and_tls
};

int acme_config_listener_on(apr_port_t port)
{
    ap_listen_rec *lr;

    for (lr = ap_listeners; lr; lr = lr->next) {
        if (lr->bind_addr && lr->bind_addr->port == port) {
            return 1;
        }
    }
    return 0;
}

/* Without a Listen on either port nothing but dns-01 could work; http-01
 * then keeps the CA's error ("connection refused") pointing at the port. */
apr_array_header_t *acme_config_default_challenges(server_rec *s)
{
    int http = acme_config_listener_on((apr_port_t)acme_config_port_http(s));
    int tls = acme_config_listener_on((apr_port_t)acme_config_port_https(s));

    if (tls && !http) {
        return (apr_array_header_t *)&default_tls;
    }
    return (apr_array_header_t *)(http && tls ? &default_both : &default_http);
}

const apr_array_header_t *acme_config_key_types(server_rec *s)
{
    acme_srv_conf_t *conf = acme_config_get(s);

    if (!conf->key_types || conf->key_types->nelts == 0) {
        return &default_key_types;
    }
    return conf->key_types;
}

void acme_config_pacing(server_rec *s, acme_pacing_t *pacing)
{
    const acme_srv_global_t *g = acme_config_global(s);

    pacing->max_parallel = g->max_parallel;
    pacing->orders = g->pace_orders;
    pacing->window = g->pace_window;
}

const char *acme_config_profile(server_rec *s)
{
    return acme_config_get(s)->profile;
}

const char *acme_config_preferred_chain(server_rec *s)
{
    return acme_config_get(s)->preferred_chain;
}

acme_window_t acme_config_renew_window(server_rec *s)
{
    return acme_config_get(s)->renew_window;
}

acme_window_t acme_config_warn_window(server_rec *s)
{
    acme_window_t w = acme_config_get(s)->warn_window;

    if (!window_is_set(w)) {
        w.percent = WARN_WINDOW_DEFAULT;
        w.duration = 0;
    }
    return w;
}

const apr_array_header_t *acme_config_notify_cmd(server_rec *s)
{
    return acme_config_global(s)->notify_cmd;
}

const char *acme_config_dns_cmd(server_rec *s)
{
    return acme_config_get(s)->dns_cmd;
}

const char *acme_config_dns_resolver(server_rec *s)
{
    return acme_config_global(s)->dns_resolver;
}

acme_https_mode_e acme_config_require_https_own(server_rec *s)
{
    acme_srv_conf_t *conf = acme_config_get(s);

    /* httpd hands a vhost without any Acme directive the base server's record */
    if (s->is_virtual && ap_server_conf && conf == acme_config_get(ap_server_conf)) {
        return ACME_HTTPS_UNSET;
    }
    return conf->require_https;
}

const apr_array_header_t *acme_config_decls(server_rec *s)
{
    const apr_array_header_t *decls = acme_config_get(s)->decls;

    return decls ? decls : &no_decls;
}

const char *acme_config_where(server_rec *s, acme_conf_where_e which)
{
    if (which == ACME_CONF_WHERE_DNS_CMD) {
        return acme_config_get(s)->dns_cmd_where;
    }
    return which < ACME_CONF_WHERE_N ? acme_config_global(s)->where[which] : NULL;
}

const char *acme_config_agree_tos_where(server_rec *s)
{
    return acme_config_global(s)->agree_tos_where;
}

acme_runtime_t *acme_config_runtime(server_rec *s)
{
    acme_srv_conf_t *conf = acme_config_get(s);
    return conf && conf->g ? conf->g->runtime : NULL;
}

void acme_config_set_runtime(server_rec *s, acme_runtime_t *rt)
{
    acme_config_global(s)->runtime = rt;
}

const char *acme_config_cluster(server_rec *s, acme_conf_cluster_e which, const char **where)
{
    acme_srv_global_t *g = acme_config_global(s);

    if (where) {
        *where = g->cluster_where[which];
    }
    return g->cluster[which];
}

void acme_config_eab(server_rec *s, const char **kid, const char **hmac)
{
    acme_srv_global_t *g = acme_config_global(s);

    *kid = g->eab_kid;
    *hmac = g->eab_kid ? g->eab_hmac : NULL;
}

/* Defaults that need memory are computed once in the parent, before the
 * children fork, so getters never allocate from pconf in a child thread. */
static int config_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *base)
{
    acme_srv_global_t *g = acme_config_global(base);

    /* every server's record points at this one */
    g->store_dir = acme_config_store_dir(base);
    g->contact = acme_config_contact(base);
    return OK;
}

void acme_config_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(config_post_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
