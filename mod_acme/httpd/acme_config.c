/* Directives, per-server create/merge, typed getters and the domain table.
 * Merge rules live here and nowhere else: callers use the getters. */
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <http_core.h>
#include <http_main.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_names.h"

#define LETSENCRYPT_URL         "https://acme-v02.api.letsencrypt.org/directory"
#define LETSENCRYPT_STAGING_URL "https://acme-staging-v02.api.letsencrypt.org/directory"
#define KEY_TYPE_CHOICES        "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096"
#define CA_FILE_PEEK            (64 * 1024)
#define WARN_WINDOW_DEFAULT     10

/* Read-only defaults; callers never push onto the arrays the getters return. */
static const char *default_ca_list[] = { LETSENCRYPT_URL };
static const apr_array_header_t default_ca_urls = {
    NULL, sizeof(const char *), 1, 1, (char *)default_ca_list
};
static const acme_key_type_e default_key_type_list[] = { ACME_KEY_EC_P256 };
static const apr_array_header_t default_key_types = {
    NULL, sizeof(acme_key_type_e), 1, 1, (char *)default_key_type_list
};

acme_srv_conf_t *acme_conf_get(server_rec *s)
{
    return ap_get_module_config(s->module_config, &acme_module);
}

void *acme_conf_create_srv(apr_pool_t *p, server_rec *s)
{
    acme_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->agree_tos = -1;
    conf->port_http = -1;
    conf->port_https = -1;
    conf->activation_auto = -1;
    conf->renew_window.percent = -1;
    conf->renew_window.duration = 0;
    conf->warn_window.percent = -1;
    conf->warn_window.duration = 0;
    conf->decls = apr_array_make(p, 2, sizeof(acme_domain_decl_t *));
    return conf;
}

static int window_is_set(acme_window_t w)
{
    return w.percent != -1 || w.duration != 0;
}

void *acme_conf_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const acme_srv_conf_t *base = basev, *add = addv;
    acme_srv_conf_t *m = apr_pcalloc(p, sizeof(*m));

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_INT(f) m->f = (add->f != -1) ? add->f : base->f
    MERGE_PTR(ca_urls);
    MERGE_PTR(ca_file);
    MERGE_PTR(trusted_roots);
    MERGE_PTR(contact);
    MERGE_INT(agree_tos);
    MERGE_PTR(agree_tos_where);
    MERGE_PTR(store_dir);
    MERGE_INT(port_http);
    MERGE_INT(port_https);
    MERGE_INT(activation_auto);
    MERGE_PTR(challenges);
    MERGE_PTR(key_types);
    MERGE_PTR(profile);
    MERGE_PTR(notify_cmd);
    MERGE_PTR(dns_cmd);
    MERGE_PTR(dns_resolver);
    MERGE_PTR(eab_kid);
    MERGE_PTR(eab_hmac);
#undef MERGE_PTR
#undef MERGE_INT
    m->renew_window = window_is_set(add->renew_window) ? add->renew_window : base->renew_window;
    m->warn_window = window_is_set(add->warn_window) ? add->warn_window : base->warn_window;
    /* An AcmeDomain belongs to the server it is written in, never inherited. */
    m->decls = add->decls;
    m->runtime = NULL;
    return m;
}

/* ---- getters ---------------------------------------------------------- */

apr_array_header_t *acme_conf_ca_urls(server_rec *s)
{
    acme_srv_conf_t *conf = acme_conf_get(s);
    return conf->ca_urls ? conf->ca_urls : (apr_array_header_t *)&default_ca_urls;
}

const char *acme_conf_ca_file(server_rec *s)
{
    return acme_conf_get(s)->ca_file;
}

/* local@domain.tld, nothing fancy: what a CA accepts as a contact. */
static int looks_like_email(const char *addr)
{
    const char *at = addr ? strchr(addr, '@') : NULL;
    const char *c;

    if (!at || at == addr || strchr(at + 1, '@') || !strchr(at + 1, '.')) {
        return 0;
    }
    for (c = addr; *c; c++) {
        if (apr_isspace(*c) || apr_iscntrl(*c) || *c == ',' || *c == '<' || *c == '>') {
            return 0;
        }
    }
    return at[1] != '.' && c[-1] != '.';
}

static const char *contact_default(apr_pool_t *p)
{
    const char *admin = ap_server_conf ? ap_server_conf->server_admin : NULL;

    if (admin && !strncasecmp(admin, "mailto:", 7)) {
        admin += 7;
    }
    return looks_like_email(admin) ? apr_pstrcat(p, "mailto:", admin, NULL) : NULL;
}

const char *acme_conf_contact(server_rec *s)
{
    acme_srv_conf_t *conf = acme_conf_get(s);
    return conf->contact ? conf->contact : contact_default(s->process->pconf);
}

int acme_conf_agree_tos(server_rec *s)
{
    return acme_conf_get(s)->agree_tos == 1;
}

const char *acme_conf_store_dir(server_rec *s)
{
    acme_srv_conf_t *conf = acme_conf_get(s);
    return conf->store_dir ? conf->store_dir : ap_server_root_relative(s->process->pconf, "acme");
}

int acme_conf_port_http(server_rec *s)
{
    int port = acme_conf_get(s)->port_http;
    return port > 0 ? port : 80;
}

int acme_conf_port_https(server_rec *s)
{
    int port = acme_conf_get(s)->port_https;
    return port > 0 ? port : 443;
}

int acme_conf_activation_auto(server_rec *s)
{
    return acme_conf_get(s)->activation_auto != 0;
}

apr_array_header_t *acme_conf_challenges(server_rec *s)
{
    acme_srv_conf_t *conf = acme_conf_get(s);
    return conf->challenges ? conf->challenges : acme_conf_default_challenges(s);
}

const apr_array_header_t *acme_conf_key_types(server_rec *s)
{
    acme_srv_conf_t *conf = acme_conf_get(s);

    if (!conf->key_types || conf->key_types->nelts == 0) {
        return &default_key_types;
    }
    return conf->key_types;
}

const char *acme_conf_profile(server_rec *s)
{
    return acme_conf_get(s)->profile;
}

acme_window_t acme_conf_renew_window(server_rec *s)
{
    return acme_conf_get(s)->renew_window;
}

acme_window_t acme_conf_warn_window(server_rec *s)
{
    acme_window_t w = acme_conf_get(s)->warn_window;

    if (!window_is_set(w)) {
        w.percent = WARN_WINDOW_DEFAULT;
        w.duration = 0;
    }
    return w;
}

const apr_array_header_t *acme_conf_notify_cmd(server_rec *s)
{
    return acme_conf_get(s)->notify_cmd;
}

void acme_conf_eab(server_rec *s, const char **kid, const char **hmac)
{
    acme_srv_conf_t *conf = acme_conf_get(s);

    *kid = conf->eab_kid;
    *hmac = conf->eab_kid ? conf->eab_hmac : NULL;
}

/* Defaults that need memory are computed once in the parent, before the
 * children fork, so getters never allocate from pconf in a child thread. */
static int config_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *base)
{
    const char *store_dir = acme_conf_store_dir(base);
    const char *contact = acme_conf_contact(base);
    server_rec *s;

    for (s = base; s; s = s->next) {
        acme_srv_conf_t *conf = acme_conf_get(s);
        if (!conf->store_dir) {
            conf->store_dir = store_dir;
        }
        if (!conf->contact) {
            conf->contact = contact;
        }
    }
    return OK;
}

void acme_config_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(config_post_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
}

/* ---- directive handlers ----------------------------------------------- */

static acme_srv_conf_t *cmd_conf(cmd_parms *cmd)
{
    return acme_conf_get(cmd->server);
}

static const char *where(cmd_parms *cmd)
{
    if (!cmd->directive) {
        return "";
    }
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename, cmd->directive->line_num);
}

static const char *server_only(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (!err) {
        return NULL;
    }
    return apr_psprintf(cmd->pool, "ACME00500: %s; it applies to the whole server: "
                        "move it outside the <VirtualHost>", err);
}

static const char *not_in_dir(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    if (!err) {
        return NULL;
    }
    return apr_psprintf(cmd->pool, "ACME00501: %s; use it at server level or in a "
                        "<VirtualHost>", err);
}

const char *acme_conf_check_name(apr_pool_t *p, const char *name, int wildcards_ok)
{
    const char *why = NULL;

    if (acme_name_validate(p, name, &why) != APR_SUCCESS) {
        return apr_psprintf(p, "ACME00502: '%s' is not a name a certificate can hold: %s; "
                            "write a DNS name such as www.example.org or an IP address",
                            name, why ? why : "invalid");
    }
    if (acme_name_is_wildcard(name) && !wildcards_ok) {
        return apr_psprintf(p, "ACME00503: %s needs the dns-01 challenge and a program that "
                            "publishes its TXT record: add 'AcmeChallenges dns-01' and "
                            "'AcmeDnsCmd /path/to/hook', or list the names explicitly "
                            "instead", name);
    }
    return NULL;
}

static const char *set_domain(cmd_parms *cmd, void *dc, const char *args)
{
    acme_srv_conf_t *conf = cmd_conf(cmd);
    acme_domain_decl_t *decl;
    const char *err, *word;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    decl = apr_pcalloc(cmd->pool, sizeof(*decl));
    decl->s = cmd->server;
    decl->file = cmd->directive ? cmd->directive->filename : "?";
    decl->line = cmd->directive ? cmd->directive->line_num : 0;
    decl->names = apr_array_make(cmd->pool, 4, sizeof(const char *));

    while (*(word = ap_getword_conf(cmd->pool, &args))) {
        /* Wildcards are checked in check_config, when AcmeDnsCmd is known. */
        if ((err = acme_conf_check_name(cmd->pool, word, 1))) {
            return err;
        }
        APR_ARRAY_PUSH(decl->names, const char *) = acme_name_normalize(cmd->pool, word);
    }
    if (decl->names->nelts == 0 && !cmd->server->is_virtual) {
        return "ACME00504: AcmeDomain outside a <VirtualHost> needs the names to manage, "
               "e.g. 'AcmeDomain example.org www.example.org'; or write it without names "
               "inside the SSL <VirtualHost> to use its ServerName and ServerAlias";
    }
    if (decl->names->nelts > ACME_MAX_NAMES) {
        return apr_psprintf(cmd->pool, "ACME00505: AcmeDomain lists %d names, a certificate "
                            "holds at most %d; split them over several AcmeDomain lines",
                            decl->names->nelts, ACME_MAX_NAMES);
    }
    APR_ARRAY_PUSH(conf->decls, acme_domain_decl_t *) = decl;
    return NULL;
}

static const char *ca_url_of(cmd_parms *cmd, const char *arg, const char **url)
{
    apr_uri_t uri;

    if (!strcasecmp(arg, "letsencrypt")) {
        *url = LETSENCRYPT_URL;
        return NULL;
    }
    if (!strcasecmp(arg, "letsencrypt-staging")) {
        *url = LETSENCRYPT_STAGING_URL;
        return NULL;
    }
    if (apr_uri_parse(cmd->pool, arg, &uri) != APR_SUCCESS || !uri.scheme || !uri.hostname
        || !*uri.hostname) {
        return apr_psprintf(cmd->pool, "ACME00506: AcmeCA '%s' is neither 'letsencrypt', "
                            "'letsencrypt-staging' nor a URL; write the CA's ACME directory "
                            "URL, e.g. https://acme-v02.api.letsencrypt.org/directory", arg);
    }
    if (strcasecmp(uri.scheme, "https")) {
        return apr_psprintf(cmd->pool, "ACME00507: AcmeCA '%s' is not an https URL; ACME "
                            "requires https: write https://%s%s", arg,
                            uri.hostname, uri.path ? uri.path : "/");
    }
    *url = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_ca(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_conf_t *conf = cmd_conf(cmd);
    const char *err, *url = NULL;
    int i;

    if ((err = server_only(cmd)) || (err = ca_url_of(cmd, arg, &url))) {
        return err;
    }
    if (!conf->ca_urls) {
        conf->ca_urls = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    for (i = 0; i < conf->ca_urls->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(conf->ca_urls, i, const char *), url)) {
            return NULL;
        }
    }
    APR_ARRAY_PUSH(conf->ca_urls, const char *) = url;
    return NULL;
}

/* Readable and holding at least one PEM certificate, checked now so a typo
 * fails the configtest instead of every later order. */
static const char *check_ca_file(cmd_parms *cmd, const char *path)
{
    apr_file_t *f;
    apr_status_t rv;
    char *buf = apr_palloc(cmd->temp_pool, CA_FILE_PEEK + 1);
    apr_size_t len = CA_FILE_PEEK;
    char ebuf[256];

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, cmd->temp_pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_read_full(f, buf, len, &len);
        apr_file_close(f);
        if (rv == APR_EOF) {
            rv = APR_SUCCESS;
        }
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACME00508: cannot read AcmeCACertificateFile %s: %s; "
                            "point it at a PEM file with the CA's trust anchors",
                            path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    buf[len] = '\0';
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
        return apr_psprintf(cmd->pool, "ACME00509: AcmeCACertificateFile %s holds no PEM "
                            "certificate; point it at a PEM file with the CA's trust anchors",
                            path);
    }
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *path;

    if ((err = server_only(cmd))) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "ACME00510: AcmeCACertificateFile %s is not a valid "
                            "path; point it at a PEM file with the CA's trust anchors", arg);
    }
    if ((err = check_ca_file(cmd, path))) {
        return err;
    }
    cmd_conf(cmd)->ca_file = path;
    return NULL;
}

static const char *set_contact(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *addr = arg;

    if ((err = server_only(cmd))) {
        return err;
    }
    if (!strncasecmp(addr, "mailto:", 7)) {
        addr += 7;
    }
    if (!looks_like_email(addr)) {
        return apr_psprintf(cmd->pool, "ACME00511: AcmeContact '%s' is not an email address; "
                            "write one like admin@example.org", arg);
    }
    cmd_conf(cmd)->contact = apr_pstrcat(cmd->pool, "mailto:", addr, NULL);
    return NULL;
}

static const char *set_agree_tos(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_conf_t *conf = cmd_conf(cmd);
    const char *err;

    if ((err = server_only(cmd))) {
        return err;
    }
    if (!strcasecmp(arg, "on")) {
        conf->agree_tos = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        conf->agree_tos = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "ACME00512: AcmeAgreeToTerms '%s' is neither on nor "
                            "off; write 'AcmeAgreeToTerms on' to agree to the CA's terms "
                            "of service", arg);
    }
    conf->agree_tos_where = where(cmd);
    return NULL;
}

static const char *set_store_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *path;

    if ((err = server_only(cmd))) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "ACME00513: AcmeStoreDir '%s' is not a valid path; "
                            "write a directory, absolute or relative to ServerRoot", arg);
    }
    cmd_conf(cmd)->store_dir = path;
    return NULL;
}

static const char *parse_port(cmd_parms *cmd, const char *arg, int *http, int *https)
{
    const char *colon = strchr(arg, ':');
    const char *num;
    char *end;
    long port;

    if (!colon) {
        goto bad;
    }
    num = colon + 1;
    port = strtol(num, &end, 10);
    if (!*num || *end || port < 1 || port > 65535) {
        goto bad;
    }
    if (colon - arg == 4 && !strncasecmp(arg, "http", 4)) {
        *http = (int)port;
        return NULL;
    }
    if (colon - arg == 5 && !strncasecmp(arg, "https", 5)) {
        *https = (int)port;
        return NULL;
    }
bad:
    return apr_psprintf(cmd->pool, "ACME00514: AcmePortMap '%s' is not understood; write "
                        "'AcmePortMap http:N https:M' with the local ports that the public "
                        "ports 80 and 443 reach, e.g. 'AcmePortMap http:8080 https:8443'", arg);
}

static const char *set_port_map(cmd_parms *cmd, void *dc, const char *a1, const char *a2)
{
    acme_srv_conf_t *conf = cmd_conf(cmd);
    int http = conf->port_http, https = conf->port_https;
    const char *err;

    if ((err = server_only(cmd)) || (err = parse_port(cmd, a1, &http, &https))
        || (a2 && (err = parse_port(cmd, a2, &http, &https)))) {
        return err;
    }
    conf->port_http = http;
    conf->port_https = https;
    return NULL;
}

static const char *set_challenges(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_conf_t *conf = cmd_conf(cmd);
    const char *err, *type;
    int i;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    if (strcasecmp(arg, "http-01") && strcasecmp(arg, "tls-alpn-01") && strcasecmp(arg, "dns-01")) {
        return apr_psprintf(cmd->pool, "ACME00516: AcmeChallenges '%s' is not a challenge "
                            "type; use http-01, tls-alpn-01 or dns-01 (with AcmeDnsCmd)", arg);
    }
    type = !strcasecmp(arg, "dns-01") ? "dns-01"
           : strcasecmp(arg, "http-01") ? "tls-alpn-01" : "http-01";
    if (!conf->challenges) {
        conf->challenges = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    for (i = 0; i < conf->challenges->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(conf->challenges, i, const char *), type)) {
            return NULL;
        }
    }
    APR_ARRAY_PUSH(conf->challenges, const char *) = type;
    return NULL;
}

static int key_type_is_rsa(acme_key_type_e type)
{
    return type == ACME_KEY_RSA_2048 || type == ACME_KEY_RSA_3072 || type == ACME_KEY_RSA_4096;
}

static const char *set_key_type(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_conf_t *conf = cmd_conf(cmd);
    acme_key_type_e type;
    const char *err;
    int i;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    if (acme_key_type_parse(arg, &type) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACME00517: AcmeKeyType '%s' is unknown; use "
                            KEY_TYPE_CHOICES, arg);
    }
    if (!conf->key_types) {
        conf->key_types = apr_array_make(cmd->pool, 2, sizeof(acme_key_type_e));
    }
    for (i = 0; i < conf->key_types->nelts; i++) {
        acme_key_type_e have = APR_ARRAY_IDX(conf->key_types, i, acme_key_type_e);
        if (have == type) {
            return NULL;
        }
        /* TLS libraries hold one certificate per key algorithm: a second
         * EC (or RSA) certificate would replace the first, never be served. */
        if (key_type_is_rsa(have) == key_type_is_rsa(type)) {
            return apr_psprintf(cmd->pool, "ACME00540: AcmeKeyType %s and %s are both %s "
                                "keys; TLS serves one certificate per key algorithm, so list "
                                "at most one EC and one RSA type, e.g. 'AcmeKeyType ec-p256 "
                                "rsa-2048'", acme_key_type_name(have), arg,
                                key_type_is_rsa(type) ? "RSA" : "EC");
        }
    }
    APR_ARRAY_PUSH(conf->key_types, acme_key_type_e) = type;
    return NULL;
}

static const char *set_activation(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if ((err = server_only(cmd))) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        cmd_conf(cmd)->activation_auto = 1;
    }
    else if (!strcasecmp(arg, "manual")) {
        cmd_conf(cmd)->activation_auto = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "ACME00518: AcmeActivation '%s' is neither auto nor "
                            "manual; write 'AcmeActivation auto' to make new certificates "
                            "live by a graceful restart, or 'manual' to restart yourself", arg);
    }
    return NULL;
}

static const char *set_profile(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err, *c;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("-_.", *c)) {
            break;
        }
    }
    if (!*arg || *c || strlen(arg) > 64) {
        return apr_psprintf(cmd->pool, "ACME00519: AcmeProfile '%s' is not a profile name; "
                            "use a name the CA lists in its directory, e.g. 'shortlived'", arg);
    }
    cmd_conf(cmd)->profile = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* tag: the message's log tag; examples: a share and a duration that fit. */
static const char *set_window(cmd_parms *cmd, const char *arg, acme_window_t *window,
                              const char *tag, const char *share, const char *duration)
{
    const char *err;

    if ((err = not_in_dir(cmd))) {
        return err;
    }
    if (!acme_conf_parse_window(arg, window)) {
        return apr_psprintf(cmd->pool, "%s: %s '%s' is not understood; write a share of the "
                            "lifetime left (1%%..100%%, e.g. %s) or a duration (e.g. %s, 12h, "
                            "90m)", tag, cmd->cmd->name, arg, share, duration);
    }
    return NULL;
}

static const char *set_renew_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_window(cmd, arg, &cmd_conf(cmd)->renew_window, "ACME00520", "33%", "30d");
}

static const char *set_warn_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_window(cmd, arg, &cmd_conf(cmd)->warn_window, "ACME00534", "10%", "7d");
}

/* Checked now, so a typo fails the configtest rather than every event later. */
static const char *set_notify_cmd(cmd_parms *cmd, void *dc, const char *args)
{
    apr_array_header_t *argv = apr_array_make(cmd->pool, 4, sizeof(const char *));
    const char *err, *word, *program, *why;

    if ((err = server_only(cmd))) {
        return err;
    }
    word = ap_getword_conf(cmd->pool, &args);
    if (!*word) {
        return "ACME00535: AcmeNotifyCmd needs a program, e.g. "
               "'AcmeNotifyCmd /usr/local/bin/acme-notify'";
    }
    program = ap_server_root_relative(cmd->pool, word);
    if (!program) {
        return apr_psprintf(cmd->pool, "ACME00536: AcmeNotifyCmd '%s' is not a valid path; "
                            "write the program's absolute path", word);
    }
    if ((why = acme_conf_check_program(cmd->temp_pool, program, "root"))) {
        return apr_psprintf(cmd->pool, "ACME00537: AcmeNotifyCmd: %s; name an executable "
                            "program, e.g. 'AcmeNotifyCmd /usr/local/bin/acme-notify', which "
                            "is run as 'PROGRAM [ARGS...] EVENT DOMAIN'", why);
    }
    if ((why = acme_conf_check_root_program(cmd->temp_pool, program))) {
        return apr_psprintf(cmd->pool, "ACME00543: AcmeNotifyCmd runs as root, so only root "
                            "may be able to change it: %s", why);
    }
    APR_ARRAY_PUSH(argv, const char *) = program;
    while (*(word = ap_getword_conf(cmd->pool, &args))) {
        APR_ARRAY_PUSH(argv, const char *) = word;
    }
    cmd_conf(cmd)->notify_cmd = argv;
    return NULL;
}

/* The MAC key is a secret: messages name the key id, never the key. */
static const char *set_eab(cmd_parms *cmd, void *dc, const char *kid, const char *hmac)
{
    const char *err, *why;

    if ((err = server_only(cmd))) {
        return err;
    }
    if ((why = acme_conf_check_eab(cmd->temp_pool, kid, hmac))) {
        return apr_psprintf(cmd->pool, "ACME00538: AcmeEAB: %s; copy the key id and the "
                            "MAC key (base64url) from your CA account page: "
                            "'AcmeEAB <kid> <hmac>'", why);
    }
    cmd_conf(cmd)->eab_kid = apr_pstrdup(cmd->pool, kid);
    cmd_conf(cmd)->eab_hmac = apr_pstrdup(cmd->pool, hmac);
    return NULL;
}

const command_rec acme_cmds[] = {
    AP_INIT_RAW_ARGS("AcmeDomain", set_domain, NULL, RSRC_CONF,
                     "Names of one managed certificate; none in a <VirtualHost>: its "
                     "ServerName and ServerAlias"),
    AP_INIT_ITERATE("AcmeCA", set_ca, NULL, RSRC_CONF,
                    "ACME directory URL(s), letsencrypt or letsencrypt-staging; several = "
                    "failover order"),
    AP_INIT_TAKE1("AcmeCACertificateFile", set_ca_file, NULL, RSRC_CONF,
                  "PEM trust anchors for TLS to the CA"),
    AP_INIT_ITERATE("AcmeTrustedRootsFile", acme_conf_set_trusted_roots, NULL, RSRC_CONF,
                    "PEM files of roots issued certificates may chain to (beyond the system's)"),
    AP_INIT_TAKE1("AcmeContact", set_contact, NULL, RSRC_CONF,
                  "Email address of the ACME account"),
    AP_INIT_TAKE1("AcmeAgreeToTerms", set_agree_tos, NULL, RSRC_CONF,
                  "on: agree to the CA's terms of service"),
    AP_INIT_TAKE1("AcmeStoreDir", set_store_dir, NULL, RSRC_CONF,
                  "State directory, relative to ServerRoot"),
    AP_INIT_TAKE12("AcmePortMap", set_port_map, NULL, RSRC_CONF,
                   "http:N https:M: local ports the public ports 80 and 443 reach"),
    AP_INIT_ITERATE("AcmeChallenges", set_challenges, NULL, RSRC_CONF,
                    "Challenge types in preference order"),
    AP_INIT_ITERATE("AcmeKeyType", set_key_type, NULL, RSRC_CONF,
                    "Certificate key types: " KEY_TYPE_CHOICES "; one certificate each "
                    "(at most one EC and one RSA)"),
    AP_INIT_TAKE1("AcmeActivation", set_activation, NULL, RSRC_CONF,
                  "auto: graceful restart when new certificates are ready; manual"),
    AP_INIT_TAKE1("AcmeProfile", set_profile, NULL, RSRC_CONF,
                  "ACME profile to order certificates with"),
    AP_INIT_TAKE1("AcmeRenewWindow", set_renew_window, NULL, RSRC_CONF,
                  "Renew when this much lifetime is left: N% or a duration (30d, 12h)"),
    AP_INIT_TAKE1("AcmeWarnWindow", set_warn_window, NULL, RSRC_CONF,
                  "Warn when this much lifetime is left and renewal keeps failing: N% or a "
                  "duration (7d, 12h)"),
    AP_INIT_RAW_ARGS("AcmeNotifyCmd", set_notify_cmd, NULL, RSRC_CONF,
                     "Program (and arguments) run as root on events: PROGRAM [ARGS...] "
                     "EVENT DOMAIN"),
    AP_INIT_TAKE2("AcmeEAB", set_eab, NULL, RSRC_CONF,
                  "External Account Binding: key id and MAC key (base64url) from the CA"),
    AP_INIT_TAKE1("AcmeDnsCmd", acme_conf_set_dns_cmd, NULL, RSRC_CONF,
                  "dns-01 hook: PROGRAM setup|teardown _acme-challenge.NAME VALUE"),
    AP_INIT_TAKE1("AcmeDnsResolver", acme_conf_set_dns_resolver, NULL, RSRC_CONF,
                  "host[:port] of the DNS server that must see dns-01 TXT records"),
    { NULL }
};

