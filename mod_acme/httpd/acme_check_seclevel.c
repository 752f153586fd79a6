/* The OpenSSL security level of each SSL vhost that serves a certificate of
 * mod_acme, held against the key type the certificate is issued with. OpenSSL
 * refuses a certificate whose key gives fewer security bits than the level
 * asks for (1: 80, 2: 112, 3: 128, 4: 192, 5: 256), and mod_ssl then stops
 * httpd (AH02562, "ee key too small"): with AcmeKeyType rsa-2048 (112 bits)
 * and "SSLCipherSuite DEFAULT:@SECLEVEL=3" in the vhost, configtest passed,
 * the server started on the temporary certificate and stopped at the restart
 * that made the issued certificate live. configtest says so instead, with
 * the lines to change; and of a live certificate whose chain the level
 * refuses (an RSA-2048 intermediate at level 3), as mod_ssl would at the
 * next start. A chain issued later is held against the level before it
 * goes live (acme_check_seclevel_by_name, for activation and the staged
 * check of the configuration test).
 *
 * The level of a vhost, as mod_ssl and OpenSSL make it: OpenSSL's default
 * for a new SSL_CTX (openssl.cnf), then the last "@SECLEVEL=N" of the
 * SSLCipherSuite it uses (its own, else the server-level one; a TLSv1.3
 * suite sets no level), then of the last "SSLOpenSSLConfCmd CipherString"
 * with one (mod_ssl applies the server-level commands, then the vhost's)
 * where that is higher: mod_ssl loads the certificates before it applies
 * those commands, so a lower level there does not lower the level the
 * chain must load at (with "SSLCipherSuite DEFAULT:@SECLEVEL=3" and
 * "SSLOpenSSLConfCmd CipherString DEFAULT:@SECLEVEL=2", an RSA-2048
 * intermediate stopped httpd at the restart that made it live).
 * OpenSSL 3.0's SSL_CONF has no command that sets the level alone. mod_ssl
 * keeps these settings to itself, so they are read from the configuration
 * tree, as acme_migrate.c reads it. The same lines, and the others that
 * shape the vhost's SSL_CTX, are held against what mod_ssl does with them at
 * its start (acme_check_tls.c: a cipher list OpenSSL rejects, a protocol
 * setting or SSLOpenSSLConfCmd it refuses, no cipher left to serve), before
 * the levels, which count only once mod_ssl starts. */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <http_core.h>
#include <http_config.h>
#include <http_log.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_key_type.h"
#include "acme_cert.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"
#include "acme_check_tls.h"

/* mod_acme's temporary certificate of the EC key types and its tls-alpn-01
 * answers: EC P-256 (an RSA type's temporary certificate has the type's
 * size, so the type's own check holds for it; the RSA-2048 answer beside
 * the EC one is left out where the level refuses it) */
#define TEMPORARY_KEY_TYPE ACME_KEY_EC_P256

/* Where a level comes from: the line (NULL: OpenSSL's default). */
typedef struct {
    int level;                /* -1: the lines leave it as it was */
    const char *line;         /* "SSLCipherSuite DEFAULT:@SECLEVEL=3" */
    const char *where;        /* "file:line" */
    int late;                 /* set by SSLOpenSSLConfCmd, which mod_ssl applies after it
                               * loaded the certificates: then the handshakes fail */
} level_src_t;

/* The mod_ssl lines of one context (the server configuration, or one
 * <VirtualHost>) that decide its SSL_CTX's security level. */
typedef struct {
    int engine;               /* SSLEngine: -1 not written, 0 off, 1 on or optional */
    int suite_set;            /* an SSLCipherSuite for SSL/TLS up to 1.2 is written */
    level_src_t suite;        /* the last such line */
    level_src_t conf;         /* the last SSLOpenSSLConfCmd CipherString with a level */
    acme_tls_lines_t tls;     /* every line that shapes its SSL_CTX (acme_check_tls.c) */
} ssl_lines_t;

/* What OpenSSL makes of one cipher list, asked once per list (10,000
 * vhosts usually share a few). */
typedef struct {
    int level;                /* acme_certverify_cipher_seclevel (-1: none, or rejected) */
} cipher_reading_t;

static const cipher_reading_t *cipher_read(apr_pool_t *p, apr_hash_t *readings,
                                           const char *spec)
{
    cipher_reading_t *r = apr_hash_get(readings, spec, APR_HASH_KEY_STRING);

    if (r) {
        return r;
    }
    r = apr_pcalloc(p, sizeof(*r));
    r->level = acme_certverify_cipher_seclevel(spec);
    apr_hash_set(readings, spec, APR_HASH_KEY_STRING, r);
    return r;
}

static void level_from(apr_pool_t *p, level_src_t *src, const ap_directive_t *d, int level)
{
    src->level = level;
    src->late = 0;
    src->line = apr_pstrcat(p, d->directive, " ", d->args ? d->args : "", NULL);
    src->where = acme_autossl_tree_where(p, d);
}

/* The lines directly below first (a context's children, or the top of the
 * tree: <IfModule> and Include are spliced in by then). *max gets the
 * highest level written, *tls 1 when a line shapes an SSL_CTX. */
static void read_lines(apr_pool_t *p, apr_hash_t *readings, const ap_directive_t *first,
                       ssl_lines_t *lines, int *max, int *tls)
{
    const ap_directive_t *d;
    const char *args, *w1, *w2;
    const cipher_reading_t *r;
    int level;

    memset(lines, 0, sizeof(*lines));
    lines->engine = -1;
    lines->suite.level = lines->conf.level = -1;
    for (d = first; d; d = d->next) {
        level = -1;
        if (acme_autossl_tree_is(d, "SSLEngine")) {
            args = d->args ? d->args : "";
            lines->engine = strcasecmp(ap_getword_conf(p, &args), "off") != 0;
            continue;
        }
        *tls |= acme_check_tls_note(p, &lines->tls, d);
        if (!acme_autossl_tree_is(d, "SSLCipherSuite")
            && !acme_autossl_tree_is(d, "SSLOpenSSLConfCmd")) {
            continue;
        }
        args = d->args ? d->args : "";
        w1 = ap_getword_conf(p, &args);
        w2 = ap_getword_conf(p, &args);
        if (acme_autossl_tree_is(d, "SSLCipherSuite")) {
            /* "SSLCipherSuite [protocol] spec": only SSL's sets a level */
            if (*w2 && strcasecmp(w1, "SSL") != 0) {
                continue;
            }
            r = cipher_read(p, readings, *w2 ? w2 : w1);
            level_from(p, &lines->suite, d, r->level);
            lines->suite_set = 1;
            level = lines->suite.level;
        }
        else if (strcasecmp(w1, "CipherString")) {
            continue;
        }
        else if ((level = cipher_read(p, readings, w2)->level) >= 0) {
            level_from(p, &lines->conf, d, level);
            lines->conf.late = 1;
        }
        else {
            continue;
        }
        *max = level > *max ? level : *max;
    }
}

/* The level of a vhost with lines own below the server's lines top, as
 * mod_ssl merges them, starting from OpenSSL's default. */
static level_src_t vhost_level(const ssl_lines_t *top, const ssl_lines_t *own, int system)
{
    level_src_t result = { system, NULL, NULL, 0 };
    const level_src_t *suite = own->suite_set ? &own->suite : top->suite_set ? &top->suite : NULL;

    const level_src_t *conf = own->conf.level >= 0 ? &own->conf
                              : top->conf.level >= 0 ? &top->conf : NULL;

    if (suite && suite->level >= 0) {
        result = *suite;
    }
    /* mod_ssl loads the certificates before it applies SSLOpenSSLConfCmd
     * (ssl_init_server_certs, then the command list): a higher level there
     * fails the handshakes, a lower one lowers only theirs, never the
     * level the chain must load at */
    if (conf && conf->level > result.level) {
        result = *conf;
    }
    return result;
}

/* One problem, said once for every vhost with the same lines. */
typedef struct {
    const char *msg;          /* the message, without its count */
    int more;                 /* vhosts beyond the first with the same lines */
    int vhost_only;           /* mod_ssl would start and fail only these vhosts'
                               * handshakes: a start goes on (configtest fails) */
    int warning;              /* the server works: said, configtest passes */
} problem_t;

static problem_t *problem_add(apr_pool_t *p, apr_hash_t *seen, apr_array_header_t *order,
                              const char *key, const char *msg)
{
    problem_t *pr = apr_hash_get(seen, key, APR_HASH_KEY_STRING);

    if (pr) {
        pr->more++;
        return pr;
    }
    pr = apr_pcalloc(p, sizeof(*pr));
    pr->msg = msg;
    apr_hash_set(seen, key, APR_HASH_KEY_STRING, pr);
    APR_ARRAY_PUSH(order, problem_t *) = pr;
    return pr;
}

static const char *level_said(apr_pool_t *p, const level_src_t *lv)
{
    return lv->where ? apr_psprintf(p, "'%s' at %s", lv->line, lv->where)
                     : "OpenSSL's default, from openssl.cnf";
}

/* What to lower: the line that set the level, else where to set one. */
static const char *lower_fix(apr_pool_t *p, const level_src_t *lv, int level, const char *vhost)
{
    return lv->where ? apr_psprintf(p, "lower @SECLEVEL to %d in '%s' at %s", level, lv->line,
                                    lv->where)
                     : apr_psprintf(p, "set a lower level for the <VirtualHost> at %s, e.g. "
                                    "'SSLCipherSuite DEFAULT:@SECLEVEL=%d'", vhost, level);
}

/* The highest level whose bits a key of these bits meets (at most 5). */
static int level_for_bits(int bits)
{
    int level = 0;

    while (level < 5 && acme_key_type_level_bits(level + 1) <= bits) {
        ++level;
    }
    return level;
}

/* The key types of s with each one under need bits replaced by the first
 * of its family (EC, RSA) that meets them, or left out; "" when none is left. */
static const char *key_types_meeting(apr_pool_t *p, server_rec *s, int need)
{
    const apr_array_header_t *types = acme_config_key_types(s);
    const char *line = "";
    int i, t;

    for (i = 0; i < types->nelts; i++) {
        acme_key_type_e type = APR_ARRAY_IDX(types, i, acme_key_type_e), pick = type;
        int rsa = acme_key_type_is_rsa(type);

        for (t = rsa ? ACME_KEY_RSA_2048 : ACME_KEY_EC_P256;
             acme_key_type_security_bits(pick) < need && t <= (rsa ? ACME_KEY_RSA_4096
                                                                   : ACME_KEY_EC_P384); t++) {
            pick = (acme_key_type_e)t;
        }
        if (acme_key_type_security_bits(pick) >= need
            && !strstr(line, acme_key_type_name(pick))) {
            line = apr_pstrcat(p, line, *line ? " " : "", acme_key_type_name(pick), NULL);
        }
    }
    return line;
}

/* s's key types, as AcmeKeyType lists them */
static const char *key_types_line(apr_pool_t *p, server_rec *s)
{
    const apr_array_header_t *types = acme_config_key_types(s);
    const char *line = "";
    int i;

    for (i = 0; i < types->nelts; i++) {
        line = apr_pstrcat(p, line, i ? " " : "",
                           acme_key_type_name(APR_ARRAY_IDX(types, i, acme_key_type_e)), NULL);
    }
    return line;
}

static void key_problem(apr_pool_t *p, apr_hash_t *seen, apr_array_header_t *order,
                        const acme_domain_decl_t *decl, const acme_domain_t *d,
                        const level_src_t *lv, const char *vhost)
{
    int bits = acme_key_type_security_bits(d->key_type);
    int need = acme_key_type_level_bits(lv->level);
    const char *written = acme_config_once_where(p, decl->s, "AcmeKeyType");
    const char *where = written ? written : acme_check_domains_where(p, decl);
    const char *types = key_types_meeting(p, decl->s, need), *fix;

    if (*types) {
        fix = apr_psprintf(p, "%s 'AcmeKeyType %s'%s%s (key types of %d bits or more: %s), or "
                           "%s", written ? "write" : "add", types,
                           written ? " at " : " next to the AcmeDomain at ", where, need,
                           need <= 128 ? "ec-p256, ec-p384, rsa-3072, rsa-4096" : "ec-p384",
                           lower_fix(p, lv, level_for_bits(bits), vhost));
    }
    else {
        fix = apr_psprintf(p, "no key type mod_acme issues has %d bits: %s", need,
                           lower_fix(p, lv, level_for_bits(bits), vhost));
    }
    problem_add(p, seen, order,
                apr_psprintf(p, "k|%s|%s|%s", where, acme_key_type_name(d->key_type),
                             lv->where ? lv->where : "-"),
                apr_psprintf(p, "ACME01607: %s: the key type %s (%s) gives %d bits of "
                             "security, and the SSL <VirtualHost> at %s, which serves the "
                             "certificate of %s, has OpenSSL security level %d (%s), which asks "
                             "for %d bits: %s; %s",
                             where, acme_key_type_name(d->key_type), written
                             ? apr_pstrcat(p, "AcmeKeyType ", key_types_line(p, decl->s), NULL)
                             : "the default: no AcmeKeyType is written", bits, vhost, d->name,
                             lv->level, level_said(p, lv), need, lv->late
                             ? "OpenSSL would refuse the certificate at every TLS handshake once "
                               "it is issued ('ee key too small'), as mod_ssl applies "
                               "SSLOpenSSLConfCmd after it loaded it"
                             : "mod_ssl would refuse the certificate once it is issued ('ee key "
                               "too small') and httpd would stop at the restart that makes it "
                               "live", fix));
}

static void temporary_problem(apr_pool_t *p, apr_hash_t *seen, apr_array_header_t *order,
                              const acme_domain_t *d, const level_src_t *lv, const char *vhost)
{
    int bits = acme_key_type_security_bits(TEMPORARY_KEY_TYPE);

    problem_add(p, seen, order, apr_psprintf(p, "t|%s", lv->where ? lv->where : vhost),
                apr_psprintf(p, "ACME01608: %s: the SSL <VirtualHost> at %s, which serves the "
                             "certificate of %s, has OpenSSL security level %d (%s), which asks "
                             "for %d bits: mod_acme's temporary certificate, served until the "
                             "first certificate arrives, and its tls-alpn-01 answers have EC "
                             "P-256 keys (%d bits), %s; %s",
                             lv->where ? lv->where : vhost, vhost, d->name, lv->level,
                             level_said(p, lv), acme_key_type_level_bits(lv->level), bits,
                             lv->late ? "which OpenSSL would refuse at every TLS handshake"
                                      : "which mod_ssl would refuse, and httpd would not start",
                             lower_fix(p, lv, level_for_bits(bits), vhost)));
}

/* The live certificate of d (root's, in archive/; never a staged one, which
 * the User writes and must not be able to fail configtest with): a chain
 * certificate whose key gives fewer bits than the level asks for, which
 * mod_ssl refuses ("ca key too small"), e.g. an RSA-2048 intermediate at 3. */
static void chain_problem(apr_pool_t *p, apr_hash_t *seen, apr_array_header_t *order,
                          const char *store, const acme_domain_t *d, const level_src_t *lv,
                          const char *vhost)
{
    int need = acme_key_type_level_bits(lv->level), i, bits;
    apr_array_header_t *chain;
    char subject[256];

    if (!store || acme_cert_chain_read_file(p, apr_pstrcat(p, store, "/", acme_store_rel_live_file(
                                                p, d->name, ACME_STORE_CERT_FILE), NULL),
                                            &chain) != APR_SUCCESS) {
        return;
    }
    for (i = 1; i < chain->nelts; i++) {
        X509 *c = APR_ARRAY_IDX(chain, i, X509 *);

        if ((bits = EVP_PKEY_get_security_bits(X509_get0_pubkey(c))) >= need) {
            continue;
        }
        X509_NAME_oneline(X509_get_subject_name(c), subject, sizeof(subject));
        problem_add(p, seen, order, apr_psprintf(p, "c|%s|%s", d->name, vhost),
                    apr_psprintf(p, "ACME01609: %s: the live certificate of %s, served by the SSL "
                                 "<VirtualHost> at %s, has in its chain %s, whose key gives %d "
                                 "bits of security, and the vhost has OpenSSL security level %d "
                                 "(%s), which asks for %d bits: %s; %s, or have the CA issue "
                                 "another chain (AcmePreferredChain) or use another CA",
                                 lv->where ? lv->where : vhost, d->name, vhost, subject, bits,
                                 lv->level, level_said(p, lv), need, lv->late
                                 ? "OpenSSL would refuse it at every TLS handshake ('ca key too "
                                   "small')"
                                 : "mod_ssl would refuse it ('ca key too small') and httpd would "
                                   "not start", lower_fix(p, lv, level_for_bits(bits), vhost)));
        ERR_clear_error();
        return;
    }
}

/* Does mod_ssl serve s: SSLEngine on (its own, else the server's), or
 * unwritten with "Protocol https" (mod_ssl turns it on where certificates
 * are configured, as they are for a vhost mod_acme serves). */
static int ssl_on(server_rec *s, const ssl_lines_t *top, const ssl_lines_t *own)
{
    int engine = own->engine >= 0 ? own->engine : top->engine;
    const char *protocol;

    if (engine >= 0) {
        return engine;
    }
    protocol = ap_get_server_protocol(s);
    return protocol && !strcasecmp(protocol, "https");
}

/* What walk_levels hands its callback: one SSL server serving list (const
 * acme_domain_t *) at level lv. */
typedef struct {
    server_rec *base;
    apr_pool_t *p;
    apr_hash_t *decl_of;      /* acme_domain_t * -> acme_domain_decl_t * */
    const char *vhost;        /* "file:line" of the <VirtualHost> */
    level_src_t lv;
    const acme_tls_lines_t *top_tls, *own_tls;  /* the lines that shape its SSL_CTX */
    const apr_array_header_t *list;
} served_t;

typedef void served_fn(served_t *sv, void *baton);

/* Calls fn for every SSL server that serves certificates of mod_acme, with
 * its level. Returns 0, calling nothing, when no level in the configuration
 * and OpenSSL's default asks for more than 112 bits (every key type and
 * chain mod_acme's checks at level 2 pass meets it) and, with settings, no
 * line that shapes an SSL_CTX is written (acme_check_tls.c checks them), or
 * the domains cannot be read (acme_check.c says why). */
static int walk_levels(apr_pool_t *ptemp, server_rec *base, int settings, served_fn *fn,
                       void *baton)
{
    apr_hash_t *nodes = apr_hash_make(ptemp);   /* "file:line" -> ssl_lines_t* array */
    apr_hash_t *readings = apr_hash_make(ptemp);
    apr_hash_t *map;
    apr_array_header_t *decls = NULL, *domains, *queue, *servers;
    ssl_lines_t top, *own, none;
    const ap_directive_t *node;
    const char *err, *vhost;
    int max = -1, tls = 0, system, i;
    served_t sv;
    server_rec *s;

    read_lines(ptemp, readings, ap_conftree, &top, &max, &tls);
    for (node = ap_conftree; node; node = node->next) {
        if (!acme_autossl_tree_is(node, "<VirtualHost")) {
            continue;
        }
        own = apr_palloc(ptemp, sizeof(*own));
        read_lines(ptemp, readings, node->first_child, own, &max, &tls);
        vhost = acme_autossl_tree_where(ptemp, node);
        if (!(queue = apr_hash_get(nodes, vhost, APR_HASH_KEY_STRING))) {
            queue = apr_array_make(ptemp, 1, sizeof(ssl_lines_t *));
            apr_hash_set(nodes, vhost, APR_HASH_KEY_STRING, queue);
        }
        APR_ARRAY_PUSH(queue, ssl_lines_t *) = own;
    }
    system = acme_certverify_default_seclevel();
    max = system > max ? system : max;
    /* every key type has 112 bits, the temporary certificate 128 */
    if ((acme_key_type_level_bits(max) <= 112 && !(settings && tls))
        || !(domains = acme_check_domains_decls(ptemp, base, &decls, &err))
        || !domains->nelts) {
        return 0;
    }
    map = acme_vhost_map_domains(ptemp, ptemp, base, domains, decls);
    memset(&sv, 0, sizeof(sv));
    sv.base = base;
    sv.p = ptemp;
    sv.decl_of = apr_hash_make(ptemp);
    for (i = 0; i < domains->nelts; i++) {
        apr_hash_set(sv.decl_of, &APR_ARRAY_IDX(domains, i, const acme_domain_t *),
                     sizeof(acme_domain_t *), APR_ARRAY_IDX(decls, i, acme_domain_decl_t *));
    }
    memset(&none, 0, sizeof(none));
    none.engine = none.suite.level = none.conf.level = -1;
    /* servers in the order of the tree: a twin (acme_autossl.c) has the
     * place of the <VirtualHost> it copies and comes after it */
    servers = apr_array_make(ptemp, 16, sizeof(server_rec *));
    for (s = base->next; s; s = s->next) {
        APR_ARRAY_PUSH(servers, server_rec *) = s;
    }
    APR_ARRAY_PUSH(servers, server_rec *) = base;
    for (i = servers->nelts - 1; i >= 0; i--) {
        apr_array_header_t *at;

        s = APR_ARRAY_IDX(servers, i, server_rec *);
        vhost = apr_psprintf(ptemp, "%s:%d", s->defn_name ? s->defn_name : "?",
                             s->defn_line_number);
        own = &none;
        if (s->is_virtual && (at = apr_hash_get(nodes, vhost, APR_HASH_KEY_STRING))
            && at->nelts) {
            own = APR_ARRAY_IDX(at, 0, ssl_lines_t *);
            /* the next server of this place takes the next node */
            memmove(at->elts, at->elts + sizeof(ssl_lines_t *),
                    (apr_size_t)(at->nelts - 1) * sizeof(ssl_lines_t *));
            at->nelts--;
        }
        sv.list = apr_hash_get(map, &s, sizeof(s));
        if (!sv.list || !sv.list->nelts || !ssl_on(s, &top, own)) {
            continue;
        }
        sv.lv = vhost_level(&top, own, system);
        sv.top_tls = &top.tls;
        sv.own_tls = &own->tls;
        sv.vhost = vhost;
        fn(&sv, baton);
    }
    return 1;
}

/* The problems of one server (walk_levels' callback; baton: problems_t). */
typedef struct {
    apr_hash_t *seen;
    apr_array_header_t *order;
    apr_hash_t *verdicts;     /* acme_check_tls_problem's */
} problems_t;

/* tls-alpn-01 alone for d, served by a vhost whose ciphers take RSA keys
 * alone at a level that refuses the RSA-2048 answer (ACME00783): the CA's
 * handshake has no answer it can use, so validation never succeeds. */
static void answer_problem(served_t *sv, problems_t *pb, const acme_domain_t *d)
{
    int i;

    if (!(acme_key_type_is_rsa(d->key_type) || d->answer_rsa) || !d->challenges
        || acme_key_type_security_bits(ACME_KEY_RSA_2048)
           >= acme_key_type_level_bits(sv->lv.level)) {
        return;
    }
    for (i = 0; i < d->challenges->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(d->challenges, i, const char *), "tls-alpn-01")) {
            return;
        }
    }
    problem_add(sv->p, pb->seen, pb->order, apr_psprintf(sv->p, "a|%s|%s", sv->vhost, d->name),
                apr_psprintf(sv->p, "ACME01621: %s: the SSL <VirtualHost> at %s, which serves "
                             "the certificate of %s, validates its names by tls-alpn-01 alone "
                             "(AcmeChallenges or its default), its ciphers are for RSA keys alone (TLS 1.2 "
                             "and below) and its OpenSSL security level is %d (%s): the CA's "
                             "handshake can use only the RSA tls-alpn-01 answer, which is "
                             "RSA-2048 (112 bits) and refused at that level, so validation "
                             "never succeeds and no certificate is issued; add http-01 or "
                             "dns-01 (e.g. 'AcmeChallenges tls-alpn-01 http-01'), allow ECDSA "
                             "ciphers or TLSv1.3 (e.g. 'SSLProtocol -all +TLSv1.2 +TLSv1.3'), "
                             "or %s", sv->vhost, sv->vhost, d->name, sv->lv.level,
                             level_said(sv->p, &sv->lv), lower_fix(sv->p, &sv->lv, 2,
                                                                   sv->vhost)))->vhost_only = 1;
}

static void server_problems(served_t *sv, void *baton)
{
    problems_t *pb = baton;
    apr_array_header_t *types = apr_array_make(sv->p, 2, sizeof(acme_key_type_e));
    const char *msg, *key;
    acme_tls_outcome_t out = { 1, 0, NULL, NULL };
    int j;

    for (j = 0; j < sv->list->nelts; j++) {
        APR_ARRAY_PUSH(types, acme_key_type_e)
            = APR_ARRAY_IDX(sv->list, j, const acme_domain_t *)->key_type;
    }
    /* settings mod_ssl refuses stop it before any certificate counts */
    if ((msg = acme_check_tls_problem(sv->p, pb->verdicts, sv->top_tls, sv->own_tls, sv->vhost,
                                      APR_ARRAY_IDX(sv->list, 0, const acme_domain_t *)->name,
                                      types, &key, &out))) {
        problem_add(sv->p, pb->seen, pb->order, key, msg)->vhost_only = !out.stops;
        if (out.stops) {
            return;
        }
        /* the start goes on: what would stop it for this vhost's
         * certificates is said too */
    }
    if (out.warning) {
        problem_add(sv->p, pb->seen, pb->order, out.warning_key, out.warning)->warning = 1;
    }
    for (j = 0; j < sv->list->nelts; j++) {
        const acme_domain_t *d = APR_ARRAY_IDX(sv->list, j, const acme_domain_t *);
        const acme_domain_decl_t *decl = apr_hash_get(sv->decl_of, &d, sizeof(d));

        if (decl && acme_key_type_security_bits(d->key_type)
                    < acme_key_type_level_bits(sv->lv.level)) {
            key_problem(sv->p, pb->seen, pb->order, decl, d, &sv->lv, sv->vhost);
        }
        chain_problem(sv->p, pb->seen, pb->order, acme_config_store_dir(sv->base), d, &sv->lv,
                      sv->vhost);
        if (out.rsa_alone) {
            answer_problem(sv, pb, d);
        }
    }
    if (acme_key_type_security_bits(TEMPORARY_KEY_TYPE)
        < acme_key_type_level_bits(sv->lv.level)) {
        temporary_problem(sv->p, pb->seen, pb->order,
                          APR_ARRAY_IDX(sv->list, 0, const acme_domain_t *), &sv->lv,
                          sv->vhost);
    }
}

static int seclevel_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                 server_rec *base)
{
    problems_t pb;
    int i, fatal = 0, test = ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST;

    (void)pconf;
    (void)plog;
    pb.seen = apr_hash_make(ptemp);
    pb.order = apr_array_make(ptemp, 4, sizeof(problem_t *));
    pb.verdicts = apr_hash_make(ptemp);
    if (!walk_levels(ptemp, base, 1, server_problems, &pb)) {
        return OK;
    }
    for (i = 0; i < pb.order->nelts; i++) {
        const problem_t *pr = APR_ARRAY_IDX(pb.order, i, const problem_t *);

        /* STARTUP: printed as is on stderr during configtest */
        if (pr->warning) {
            /* logtag: from caller */
            ap_log_error(APLOG_MARK, (test ? APLOG_STARTUP : 0) | APLOG_WARNING, 0, base,
                         "%s%s", pr->msg, pr->more ? apr_psprintf(ptemp, " (the same for %d "
                                                                  "more <VirtualHost>s)",
                                                                  pr->more) : "");
            continue;
        }

        /* A vhost left with no cipher fails only its own handshakes with
         * mod_ssl: a start (a graceful restart of a running server) goes
         * on for the others, said in the error log; configtest fails. */
        if (pr->vhost_only && !test) {
            /* logtag: from caller */
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, base, "%s%s", pr->msg,
                         pr->more ? apr_psprintf(ptemp, " (the same for %d more "
                                                 "<VirtualHost>s)", pr->more) : "");
            continue;
        }
        fatal = 1;
        /* STARTUP: printed as is on stderr during configtest, whatever LogLevel says. */
        /* logtag: from caller */
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, base, "%s%s", pr->msg,
                     pr->more ? apr_psprintf(ptemp, " (the same for %d more <VirtualHost>s)",
                                             pr->more) : "");
    }
    return fatal ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

/* walk_levels' callback for acme_check_seclevel_by_name (baton: the hash). */
static void server_levels(served_t *sv, void *baton)
{
    apr_hash_t *levels = baton;
    int j, *level;

    for (j = 0; j < sv->list->nelts; j++) {
        const acme_domain_t *d = APR_ARRAY_IDX(sv->list, j, const acme_domain_t *);

        if (!(level = apr_hash_get(levels, d->name, APR_HASH_KEY_STRING))) {
            level = apr_pcalloc(sv->p, sizeof(*level));
            apr_hash_set(levels, d->name, APR_HASH_KEY_STRING, level);
        }
        *level = sv->lv.level > *level ? sv->lv.level : *level;
    }
}

apr_hash_t *acme_check_seclevel_by_name(apr_pool_t *p, server_rec *base)
{
    apr_hash_t *levels = apr_hash_make(p);

    return walk_levels(p, base, 0, server_levels, levels) ? levels : NULL;
}

int acme_check_seclevel_of(apr_hash_t *levels, const char *name)
{
    const int *level = levels ? apr_hash_get(levels, name, APR_HASH_KEY_STRING) : NULL;

    return level ? *level : 0;
}

void acme_check_seclevel_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(seclevel_check_config, NULL, NULL, APR_HOOK_MIDDLE);
}
