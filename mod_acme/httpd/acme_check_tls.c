/* The TLS settings of each SSL vhost that serves a certificate of mod_acme,
 * held against what mod_ssl does with them at its start (ssl_engine_init.c:
 * ssl_init_ctx_protocol, ssl_init_ctx_cipher_suite, then after the
 * certificates the SSLOpenSSLConfCmd list through SSL_CONF_cmd). Each of
 * these settings passed configtest (mod_ssl reads them only at its start)
 * and stopped httpd: at the first start, or at the graceful restart mod_acme
 * makes by itself to activate a certificate, where a setting written since
 * the last start first counts:
 *   SSLProtocol leaving no protocol ("-all"): AH02231;
 *   an SSLCipherSuite list OpenSSL rejects, by name or once mod_ssl adds
 *   ":!aNULL:!eNULL:!EXP" to it ("eNULL"): AH01898;
 *   an "SSLCipherSuite TLSv1.3" list OpenSSL knows no suite of: AH10127;
 *   an SSLOpenSSLConfCmd OpenSSL refuses ("MinProtocol TLSv9",
 *   "Ciphersuites NOSUCH", "Curves NOSUCH"): AH02407;
 *   an "SSLOpenSSLConfCmd PrivateKey" that matches no certificate loaded in
 *   the slot of its key type, or a "Certificate" without its key: mod_ssl
 *   loads the certificates mod_acme hands it (ssl_init_server_certs) before
 *   it applies the commands, one certificate and key per key type (OpenSSL's
 *   slots), so a key of mod_acme's key type that belongs to another
 *   certificate is refused (AH02407, "key values mismatch"), and a lone key
 *   or certificate of another type leaves mod_ssl's SSL_CTX_check_private_key
 *   nothing to pair it with (AH02572). The scratch context holds a
 *   certificate and key of each of the vhost's key types for them; a
 *   certificate and key of another type, added together, have a slot of
 *   their own and mod_ssl serves them beside mod_acme's.
 * And some let mod_ssl start with no cipher a client can use (PSK ciphers
 * alone under TLSv1.2, MinProtocol above MaxProtocol, "Protocol -ALL"), or
 * with TLS 1.0 or 1.1 alone, whose SHA-1 and MD5 signatures OpenSSL 3
 * refuses at every security level above 0, or with ciphers none of which
 * takes the keys of the vhost's certificates (TLS 1.2 alone with aRSA
 * ciphers and mod_acme's default EC key): every handshake fails. configtest builds a scratch SSL_CTX as mod_ssl
 * builds the vhost's, from the lines as mod_ssl merges them (the vhost's
 * SSLProtocol and SSLCipherSuite, else the server's; the server's
 * SSLOpenSSLConfCmd lines, then the vhost's), and asks an SSL of it for the
 * ciphers it would offer. An unknown SSLOpenSSLConfCmd command, an unknown
 * SSLProtocol word or an SSLCipherSuite protocol other than SSL and TLSv1.3
 * are refused by mod_ssl when it reads the line: configtest already fails. */
#include <string.h>
#include <apr_strings.h>
#include <http_core.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "acme_private.h"
#include "acme_check_tls.h"
#include "acme_check_tls_pairs.h"
#include "acme_key_type.h"

/* mod_ssl's protocol bits (ssl_private.h), and its default: every protocol
 * but SSLv3 */
#define PROTO_SSLV3   (1 << 1)
#define PROTO_TLSV1   (1 << 2)
#define PROTO_TLSV1_1 (1 << 3)
#define PROTO_TLSV1_2 (1 << 4)
#define PROTO_TLSV1_3 (1 << 5)
#define PROTO_ALL     (PROTO_SSLV3 | PROTO_TLSV1 | PROTO_TLSV1_1 | PROTO_TLSV1_2 | PROTO_TLSV1_3)
#define PROTO_DEFAULT (PROTO_ALL & ~PROTO_SSLV3)

/* what mod_ssl appends to every SSLCipherSuite and CipherString list */
#define MOD_SSL_SUFFIX ":!aNULL:!eNULL:!EXP"

/* The lines mod_ssl applies to one vhost, in its order: 3 slots (the
 * SSLProtocol, the SSLCipherSuite, the TLSv1.3 one; NULL: not written),
 * then every SSLOpenSSLConfCmd. */
#define SLOT_PROTOCOL 0
#define SLOT_SUITE    1
#define SLOT_TLS13    2
#define SLOT_CMDS     3

typedef enum {
    TLS_FINE = 0,
    TLS_LIST_REJECTED,        /* ACME01610: a TLS <= 1.2 list OpenSSL rejects by name */
    TLS_LIST_EMPTIED,         /* ACME01611: rejected once mod_ssl's suffix is added */
    TLS_TLS13_REJECTED,       /* ACME01612 */
    TLS_CMD_REFUSED,          /* ACME01613 */
    TLS_NO_PROTOCOL,          /* ACME01614 */
    TLS_NO_CIPHER,            /* ACME01615 */
    TLS_OLD_PROTOCOL,         /* ACME01616 */
    TLS_NO_CIPHER_FOR_KEYS,   /* ACME01617 (the verdict of one vhost, from auth) */
    TLS_CERT_KEY              /* ACME01619: a certificate or key that pairs with none */
} tls_verdict_e;

/* What is wrong with the certificates and keys, for TLS_CERT_KEY */
#define PAIR_KEY_MISMATCH 1   /* the key is not the one of its slot's certificate */
#define PAIR_NO_CERT      2   /* the last key's slot has no certificate */
#define PAIR_NO_KEY       3   /* the last certificate's slot has no key that matches it */

/* The keys the usable ciphers take: any (TLS 1.3), RSA, EC (ECDSA) */
#define AUTH_ANY 1
#define AUTH_RSA 2
#define AUTH_EC  4

/* What OpenSSL made of one set of settings (the same for every vhost that
 * has them, wherever they are written). */
typedef struct {
    tls_verdict_e verdict;
    int at;                   /* the slot of the line refused, -1: none */
    const char *reason;       /* OpenSSL's, for TLS_CMD_REFUSED and TLS_CERT_KEY */
    int auth;                 /* AUTH_* of the usable ciphers, for TLS_FINE */
    int pair;                 /* PAIR_*, for TLS_CERT_KEY */
    int replaced;             /* the slot of a Certificate command whose certificate takes
                               * the place of mod_acme's of its key family, -1: none */
} tls_reading_t;

int acme_check_tls_note(apr_pool_t *p, acme_tls_lines_t *lines, const ap_directive_t *d)
{
    const char *args, *w1, *w2;

    if (acme_autossl_tree_is(d, "SSLProtocol")) {
        lines->protocol = d;
        return 1;
    }
    if (acme_autossl_tree_is(d, "SSLOpenSSLConfCmd")) {
        if (!lines->cmds) {
            lines->cmds = apr_array_make(p, 2, sizeof(const ap_directive_t *));
        }
        APR_ARRAY_PUSH(lines->cmds, const ap_directive_t *) = d;
        return 1;
    }
    if (!acme_autossl_tree_is(d, "SSLCipherSuite")) {
        return 0;
    }
    /* "SSLCipherSuite [protocol] LIST": mod_ssl refuses a protocol other
     * than SSL and TLSv1.3 when it reads the line */
    args = d->args ? d->args : "";
    w1 = ap_getword_conf(p, &args);
    w2 = ap_getword_conf(p, &args);
    if (!*w2 || !strcmp(w1, "SSL")) {
        lines->suite = d;
    }
    else if (!strcmp(w1, "TLSv1.3")) {
        lines->tls13 = d;
    }
    return 1;
}

/* The list of an SSLCipherSuite line (its last word), in p. */
static const char *suite_list(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    const char *w1 = ap_getword_conf(p, &args);
    const char *w2 = ap_getword_conf(p, &args);

    return *w2 ? w2 : w1;
}

/* mod_ssl's protocol bits for an SSLProtocol line (NULL: its default),
 * read as ssl_cmd_protocol_parse reads it. */
static int protocol_bits(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args;
    int bits = 0, one;

    if (!d) {
        return PROTO_DEFAULT;
    }
    args = d->args ? d->args : "";
    while (*args) {
        const char *w = ap_getword_conf(p, &args);
        char action = (*w == '+' || *w == '-') ? *w++ : '\0';

        if (!strcasecmp(w, "SSLv3")) {
            one = PROTO_SSLV3;
        }
        else if (!strcasecmp(w, "TLSv1")) {
            one = PROTO_TLSV1;
        }
        else if (!strcasecmp(w, "TLSv1.1")) {
            one = PROTO_TLSV1_1;
        }
        else if (!strcasecmp(w, "TLSv1.2")) {
            one = PROTO_TLSV1_2;
        }
        else if (!strcasecmp(w, "TLSv1.3")) {
            one = PROTO_TLSV1_3;
        }
        else if (!strcasecmp(w, "all")) {
            one = PROTO_ALL;
        }
        else {
            continue;         /* SSLv2, or a word mod_ssl refused when it read the line */
        }
        bits = action == '-' ? bits & ~one : action == '+' ? bits | one : one;
    }
#ifdef OPENSSL_NO_SSL3
    bits &= ~PROTO_SSLV3;
#endif
    return bits;
}

/* The protocol range mod_ssl sets for bits (ssl_init_ctx_protocol: the
 * highest version allowed, down to the lowest one without a hole). 0 when
 * none is allowed. */
static int protocol_range(int bits, int *min)
{
    static const struct {
        int bit, version;
    } order[] = {
        { PROTO_TLSV1_3, TLS1_3_VERSION }, { PROTO_TLSV1_2, TLS1_2_VERSION },
        { PROTO_TLSV1_1, TLS1_1_VERSION }, { PROTO_TLSV1, TLS1_VERSION },
        { PROTO_SSLV3, SSL3_VERSION }
    };
    int n = (int)(sizeof(order) / sizeof(order[0])), i, max = 0;

    i = 0;
    while (i < n && !(bits & order[i].bit)) {
        i++;
    }
    if (i == n) {
        return 0;
    }
    max = *min = order[i].version;
    for (i++; i < n && (bits & order[i].bit); i++) {
        *min = order[i].version;
    }
    return max;
}

/* The highest protocol version ssl allows (its maximum and the versions
 * SSL_CONF's Protocol turned off), 0 when none. */
static int highest_version(SSL *ssl)
{
    static const struct {
        int version;
        uint64_t off;
    } order[] = {
        { TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 }, { TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
        { TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 }, { TLS1_VERSION, SSL_OP_NO_TLSv1 }
    };
    int max = (int)SSL_get_max_proto_version(ssl), i;
    uint64_t options = SSL_get_options(ssl);

    for (i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++) {
        if ((!max || order[i].version <= max) && !(options & order[i].off)) {
            return order[i].version;
        }
    }
    return 0;
}

/* AUTH_* of the ciphers in usable: a TLS 1.3 one takes any key, one up to
 * TLS 1.2 the key of its authentication (PSK, DSS, anonymous: none mod_acme
 * serves). */
static int usable_auth(const STACK_OF(SSL_CIPHER) *usable)
{
    int auth = 0, i;

    for (i = 0; i < sk_SSL_CIPHER_num(usable); i++) {
        switch (SSL_CIPHER_get_auth_nid(sk_SSL_CIPHER_value(usable, i))) {
        case NID_auth_any:
            auth |= AUTH_ANY;
            break;
        case NID_auth_rsa:
            auth |= AUTH_RSA;
            break;
        case NID_auth_ecdsa:
            auth |= AUTH_EC;
            break;
        default:
            break;
        }
    }
    return auth;
}

/* Does OpenSSL take list as a TLS <= 1.2 cipher list? */
static int list_taken(const char *list)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int taken = ctx && SSL_CTX_set_cipher_list(ctx, list) == 1;

    SSL_CTX_free(ctx);
    ERR_clear_error();
    return taken;
}

/* A refused cipher list: rejected by name, or only once mod_ssl's suffix
 * is added. */
static tls_reading_t list_refused(const char *list, int at)
{
    tls_reading_t r = { list_taken(list) ? TLS_LIST_EMPTIED : TLS_LIST_REJECTED, at, NULL, 0, 0,
                        -1 };

    return r;
}

/* Does OpenSSL take the command on a context of its own (mod_ssl's
 * flags)? For a command only checked, not applied to the scratch context. */
static int cmd_taken_alone(const char *name, const char *value)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CONF_CTX *cctx = SSL_CONF_CTX_new();
    int taken = 0;

    if (ctx && cctx) {
        SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER
                                     | SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
        SSL_CONF_CTX_set_ssl_ctx(cctx, ctx);
        taken = SSL_CONF_cmd(cctx, name, value) > 0;
    }
    SSL_CONF_CTX_free(cctx);
    SSL_CTX_free(ctx);
    return taken;
}

/* Is name a command that loads a certificate or key into a slot? */
static int is_pair_cmd(const char *name)
{
    return !strcasecmp(name, "Certificate") || !strcasecmp(name, "PrivateKey");
}

/* OpenSSL's reason for the first error queued, in p */
static const char *first_reason(apr_pool_t *p)
{
    unsigned long e = ERR_peek_error();

    return e && ERR_reason_error_string(e) ? apr_pstrdup(p, ERR_reason_error_string(e))
                                           : "no reason given";
}

/* The SSLOpenSSLConfCmd lines of cmds, applied to cctx (of ctx) in order;
 * the first one OpenSSL refuses in *r (slot numbers from *slot on).
 * *pair_at gets the slot of the last Certificate or PrivateKey command;
 * families: the ACME_TLS_FAMILY_* of mod_acme's certificates the context
 * holds (a key that does not match the certificate of its slot is then
 * TLS_CERT_KEY, and the first certificate loaded into one of their slots
 * r->replaced). */
static int cmds_apply(apr_pool_t *p, SSL_CTX *ctx, SSL_CONF_CTX *cctx,
                      const apr_array_header_t *cmds, int families, int *slot, int *pair_at,
                      tls_reading_t *r)
{
    int i;

    for (i = 0; cmds && i < cmds->nelts; i++, (*slot)++) {
        const ap_directive_t *d = APR_ARRAY_IDX(cmds, i, const ap_directive_t *);
        const char *args = d->args ? d->args : "";
        const char *name = ap_getword_conf(p, &args);
        const char *value = ap_getword_conf(p, &args);
        int type = SSL_CONF_cmd_value_type(cctx, name);
        unsigned long e;

        if (is_pair_cmd(name)) {
            *pair_at = *slot;
        }

        if (type == SSL_CONF_TYPE_UNKNOWN) {
            continue;         /* mod_ssl refused it when it read the line */
        }
        if (type == SSL_CONF_TYPE_FILE || type == SSL_CONF_TYPE_DIR) {
            value = ap_server_root_relative(p, value);
        }
        else if (!strcasecmp(name, "CipherString")) {
            if (!list_taken(apr_pstrcat(p, value, MOD_SSL_SUFFIX, NULL))) {
                *r = list_refused(value, *slot);
                return 0;
            }
            value = apr_pstrcat(p, value, MOD_SSL_SUFFIX, NULL);
        }
        ERR_clear_error();
        /* What the server asks clients to sign with: on a server SSL,
         * OpenSSL's list of usable ciphers drops those the list does not
         * sign (aECDSA for 'RSA+SHA256'), while a handshake uses the
         * server's own; checked alone, not applied (a false "no cipher") */
        if (value && !strcasecmp(name, "ClientSignatureAlgorithms")
            && cmd_taken_alone(name, value)) {
            continue;
        }
        if (!value || SSL_CONF_cmd(cctx, name, value) <= 0) {
            r->verdict = TLS_CMD_REFUSED;
            r->at = *slot;
            r->reason = first_reason(p);
            /* a key OpenSSL holds against the certificate of its slot */
            e = ERR_peek_error();
            if (families && value && is_pair_cmd(name) && ERR_GET_LIB(e) == ERR_LIB_X509
                && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH
                    || ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH)) {
                r->verdict = TLS_CERT_KEY;
                r->pair = PAIR_KEY_MISMATCH;
            }
            return 0;
        }
        /* mod_ssl serves this certificate in place of mod_acme's */
        if (r->replaced < 0 && !strcasecmp(name, "Certificate")
            && (acme_check_tls_family_of(SSL_CTX_get0_certificate(ctx)) & families)) {
            r->replaced = *slot;
        }
    }
    return 1;
}

/* mod_ssl's: no pass phrase prompt for any SSL_CTX_use_* call (a key
 * with one is refused) */
static int no_passphrase(char *buf, int size, int rwflag, void *data)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)data;
    return 0;
}

/* What mod_ssl makes of the lines in slots (SLOT_CMDS on: the server's
 * commands, then the vhost's; the same order as top then own), with the
 * certificates of families (ACME_TLS_FAMILY_*, 0: none) loaded before
 * the commands. */
static tls_reading_t tls_read(apr_pool_t *p, const ap_directive_t *const *slots,
                              const acme_tls_lines_t *top, const acme_tls_lines_t *own,
                              const acme_tls_pairs_t *pairs, int families)
{
    tls_reading_t r = { TLS_FINE, -1, NULL, 0, 0, -1 };
    SSL_CTX *ctx = NULL;
    SSL_CONF_CTX *cctx = NULL;
    SSL *ssl = NULL;
    STACK_OF(SSL_CIPHER) *usable = NULL;
    int min = 0, max, slot = SLOT_CMDS, pair_at = -1;
    unsigned long e;
    const char *list;

    if (!(max = protocol_range(protocol_bits(p, slots[SLOT_PROTOCOL]), &min))) {
        r.verdict = TLS_NO_PROTOCOL;
        r.at = SLOT_PROTOCOL;
        return r;
    }
    if (!(ctx = SSL_CTX_new(TLS_server_method())) || !(cctx = SSL_CONF_CTX_new())) {
        goto done;            /* no memory: nothing to say of the settings */
    }
    SSL_CTX_set_options(ctx, SSL_OP_ALL);
    SSL_CTX_set_max_proto_version(ctx, max);
    SSL_CTX_set_min_proto_version(ctx, min);
    list = slots[SLOT_SUITE] ? suite_list(p, slots[SLOT_SUITE]) : OSSL_default_cipher_list();
    if (SSL_CTX_set_cipher_list(ctx, apr_pstrcat(p, list, MOD_SSL_SUFFIX, NULL)) != 1) {
        r = list_refused(list, SLOT_SUITE);
        goto done;
    }
    if (slots[SLOT_TLS13]
        && SSL_CTX_set_ciphersuites(ctx, suite_list(p, slots[SLOT_TLS13])) != 1) {
        r.verdict = TLS_TLS13_REJECTED;
        r.at = SLOT_TLS13;
        goto done;
    }
    /* ssl_init_server_certs: no prompt, then the certificates */
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (families && !acme_check_tls_pairs_load(ctx, pairs, families)) {
        goto done;
    }
    /* mod_ssl's flags; SHOW_ERRORS only says why a command is refused */
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER
                                 | SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx, ctx);
    if (!cmds_apply(p, ctx, cctx, top->cmds, families, &slot, &pair_at, &r)
        || !cmds_apply(p, ctx, cctx, own->cmds, families, &slot, &pair_at, &r)) {
        goto done;
    }
    if (SSL_CONF_CTX_finish(cctx) != 1) {
        r.verdict = TLS_CMD_REFUSED;
        r.at = slot > SLOT_CMDS ? slot - 1 : -1;
        r.reason = "the commands together";
        goto done;
    }
    /* mod_ssl's last word on the certificates (AH02572): the slot the last
     * Certificate or PrivateKey filled has a certificate and its key */
    ERR_clear_error();
    if (families && pair_at >= 0 && SSL_CTX_check_private_key(ctx) != 1) {
        e = ERR_peek_error();
        r.verdict = TLS_CERT_KEY;
        r.at = pair_at;
        r.reason = first_reason(p);
        r.pair = ERR_GET_REASON(e) == SSL_R_NO_CERTIFICATE_ASSIGNED ? PAIR_NO_CERT
                 : ERR_GET_REASON(e) == SSL_R_NO_PRIVATE_KEY_ASSIGNED ? PAIR_NO_KEY
                 : PAIR_KEY_MISMATCH;
        goto done;
    }
    /* the ciphers a handshake could use: the lists within the protocol
     * range and the security level (NULL when none) */
    if (!(ssl = SSL_new(ctx))) {
        goto done;
    }
    if (!(usable = SSL_get1_supported_ciphers(ssl)) || sk_SSL_CIPHER_num(usable) == 0) {
        r.verdict = TLS_NO_CIPHER;
    }
    /* OpenSSL 3 gives the signatures of TLS 1.0 and 1.1 (SHA-1, MD5+SHA-1)
     * fewer bits than level 1 asks for: the handshake fails at the
     * server's key exchange */
    else if (highest_version(ssl) < TLS1_2_VERSION && SSL_get_security_level(ssl) >= 1) {
        r.verdict = TLS_OLD_PROTOCOL;
    }
    else {
        r.auth = usable_auth(usable);
    }
done:
    sk_SSL_CIPHER_free(usable);
    SSL_free(ssl);
    SSL_CONF_CTX_free(cctx);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return r;
}

static const char *line_of(apr_pool_t *p, const ap_directive_t *d)
{
    return apr_pstrcat(p, d->directive, " ", d->args ? d->args : "", NULL);
}

/* "'line' at file:line, ..." for every line written among slots */
static const char *lines_said(apr_pool_t *p, const apr_array_header_t *slots)
{
    const char *said = "";
    int i;

    for (i = 0; i < slots->nelts; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(slots, i, const ap_directive_t *);

        if (d) {
            said = apr_psprintf(p, "%s%s'%s' at %s", said, *said ? ", " : "", line_of(p, d),
                                acme_autossl_tree_where(p, d));
        }
    }
    return said;
}

/* The message for r, naming the line refused (slots). */
static const char *tls_message(apr_pool_t *p, const tls_reading_t *r,
                               const apr_array_header_t *slots, const char *vhost,
                               const char *name, const char *keys, const char **key)
{
    const ap_directive_t *d = r->at >= 0 ? APR_ARRAY_IDX(slots, r->at, const ap_directive_t *)
                                         : NULL;
    const char *line = d ? line_of(p, d) : "", *at = d ? acme_autossl_tree_where(p, d) : vhost;

    *key = apr_psprintf(p, "tls|%d|%s", (int)r->verdict, at);
    switch (r->verdict) {
    case TLS_LIST_REJECTED:
        *key = apr_pstrcat(p, "r|", at, NULL);      /* as said before this check */
        return apr_psprintf(p, "ACME01610: %s: '%s', the list of the SSL <VirtualHost> at %s, "
                            "which serves the certificate of %s: OpenSSL rejects this cipher "
                            "list (it selects no cipher from it), so mod_ssl would stop httpd "
                            "at its start; correct the list ('openssl ciphers -v LIST' shows "
                            "what OpenSSL makes of it)", at, line, vhost, name);
    case TLS_LIST_EMPTIED:
        return apr_psprintf(p, "ACME01611: %s: '%s', the cipher list of the SSL <VirtualHost> at "
                            "%s, which serves the certificate of %s: mod_ssl adds "
                            "':!aNULL:!eNULL:!EXP' to the list, which then selects no cipher, "
                            "so mod_ssl would stop httpd at its start; name ciphers with "
                            "encryption and authentication, e.g. 'HIGH:!aNULL' ('openssl "
                            "ciphers -v LIST' shows what OpenSSL makes of a list)",
                            at, line, vhost, name);
    case TLS_TLS13_REJECTED:
        return apr_psprintf(p, "ACME01612: %s: '%s', the TLSv1.3 cipher suites of the SSL "
                            "<VirtualHost> at %s, which serves the certificate of %s: OpenSSL "
                            "rejects this list (it knows none of its suites), so mod_ssl would "
                            "stop httpd at its start; name TLSv1.3 suites OpenSSL knows, "
                            "separated by ':', e.g. 'SSLCipherSuite TLSv1.3 "
                            "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256' ('openssl ciphers "
                            "-v -tls1_3' lists them)", at, line, vhost, name);
    case TLS_CMD_REFUSED:
        return apr_psprintf(p, "ACME01613: %s: '%s', applied by mod_ssl to the SSL "
                            "<VirtualHost> at %s, which serves the certificate of %s: OpenSSL "
                            "refuses it (%s), so mod_ssl would stop httpd at its start; correct "
                            "the value or remove the line ('man SSL_CONF_cmd' lists the "
                            "commands and their values)", at, line, vhost, name, r->reason);
    case TLS_NO_PROTOCOL:
        return apr_psprintf(p, "ACME01614: %s: '%s', the protocols of the SSL <VirtualHost> "
                            "at %s, which serves the certificate of %s, leaves no protocol, "
                            "so mod_ssl would stop httpd at its start; allow one, e.g. "
                            "'SSLProtocol -all +TLSv1.2 +TLSv1.3'", at, line, vhost, name);
    case TLS_NO_CIPHER:
        line = lines_said(p, slots);
        *key = apr_pstrcat(p, "tls|n|", line, NULL);
        return apr_psprintf(p, "ACME01615: %s: the SSL <VirtualHost> at %s, which serves the "
                            "certificate of %s, has no cipher a client could use (%s): the "
                            "protocol versions and the ciphers these lines leave do not meet, "
                            "so mod_ssl would start and fail every TLS handshake; allow a "
                            "protocol version and ciphers of it, e.g. 'SSLProtocol -all "
                            "+TLSv1.2 +TLSv1.3' with 'SSLCipherSuite HIGH:!aNULL', and take "
                            "out what narrows them further", vhost, vhost, name,
                            *line ? line : "OpenSSL's defaults");
    case TLS_NO_CIPHER_FOR_KEYS:
        line = lines_said(p, slots);
        *key = apr_pstrcat(p, "tls|k|", keys, "|", line, NULL);
        return apr_psprintf(p, "ACME01617: %s: the SSL <VirtualHost> at %s, which serves the "
                            "certificate of %s (%s keys), has no cipher for its keys (%s): the "
                            "ciphers these lines leave are for TLS 1.2 and below and need %s "
                            "keys, so mod_ssl would start and fail every TLS handshake; allow "
                            "TLSv1.3 (e.g. 'SSLProtocol -all +TLSv1.2 +TLSv1.3'), or add "
                            "ciphers for %s keys ('openssl ciphers -v LIST' shows each "
                            "cipher's Au=: ECDSA for EC keys, RSA for RSA keys)", vhost, vhost,
                            name, keys, line, (r->auth & AUTH_RSA) ? "RSA" : (r->auth & AUTH_EC)
                            ? "EC" : "DSA or no", keys);
    case TLS_CERT_KEY:
        return apr_psprintf(p, "ACME01619: %s: '%s' in the SSL <VirtualHost> at %s, which serves "
                            "the certificate of %s (%s keys): mod_ssl loads mod_acme's "
                            "certificate and key of each key type before it applies "
                            "SSLOpenSSLConfCmd, and OpenSSL keeps one certificate and key per "
                            "key type; %s (OpenSSL: %s), so mod_ssl would stop httpd at its "
                            "start; %s (a vhost with a certificate of its own of mod_acme's key "
                            "type: take AcmeDomain out of it)", at, line, vhost, name, keys,
                            r->pair == PAIR_NO_CERT
                            ? "no certificate of this key's type is loaded, so the key pairs "
                              "with none"
                            : r->pair == PAIR_NO_KEY
                            ? "this certificate comes without its key: it takes the place of "
                              "the certificate of its key type, whose key does not match it"
                            : "this key does not match the certificate loaded for its key type "
                              "(mod_acme's, or one an earlier line loaded)", r->reason,
                            r->pair == PAIR_NO_CERT
                            ? "load the key's certificate with 'SSLOpenSSLConfCmd Certificate "
                              "FILE' before this line, or remove the line"
                            : r->pair == PAIR_NO_KEY
                            ? "load its key with 'SSLOpenSSLConfCmd PrivateKey FILE' after "
                              "this line, or remove the line"
                            : "give the key of that certificate, load a certificate of another "
                              "key type with 'SSLOpenSSLConfCmd Certificate FILE' before its "
                              "key, or remove the line");
    case TLS_OLD_PROTOCOL:
        line = lines_said(p, slots);
        *key = apr_pstrcat(p, "tls|o|", line, NULL);
        return apr_psprintf(p, "ACME01616: %s: the SSL <VirtualHost> at %s, which serves the "
                            "certificate of %s, allows no protocol version above TLSv1.1 (%s), "
                            "and OpenSSL refuses the signatures of TLS 1.0 and 1.1 (SHA-1, MD5) "
                            "at every security level above 0, so mod_ssl would start and fail "
                            "every TLS handshake; allow TLSv1.2 and TLSv1.3, e.g. 'SSLProtocol "
                            "-all +TLSv1.2 +TLSv1.3'", vhost, vhost, name, line);
    default:
        return NULL;
    }
}

/* The message when the usable ciphers of r (all up to TLS 1.2) take none
 * of the keys of key_types, else NULL. */
static const char *keys_fit(apr_pool_t *p, const tls_reading_t *r,
                            const apr_array_header_t *key_types,
                            const apr_array_header_t *slots, const char *vhost,
                            const char *name, const char **key)
{
    tls_reading_t none = *r;
    const char *keys = "";
    int i;

    if (!key_types || (r->auth & AUTH_ANY)) {
        return NULL;
    }
    for (i = 0; i < key_types->nelts; i++) {
        acme_key_type_e type = APR_ARRAY_IDX(key_types, i, acme_key_type_e);

        if (r->auth & (acme_key_type_is_rsa(type) ? AUTH_RSA : AUTH_EC)) {
            return NULL;
        }
        if (!strstr(keys, acme_key_type_name(type))) {
            keys = apr_pstrcat(p, keys, *keys ? ", " : "", acme_key_type_name(type), NULL);
        }
    }
    if (!*keys) {
        return NULL;
    }
    none.verdict = TLS_NO_CIPHER_FOR_KEYS;
    return tls_message(p, &none, slots, vhost, name, keys, key);
}

/* The warning for the Certificate command at slot replaced, whose
 * certificate mod_ssl serves in place of mod_acme's of its key family. */
static const char *replaced_message(apr_pool_t *p, const apr_array_header_t *slots,
                                    int replaced, const char *vhost, const char *name,
                                    const char *keys, const char **key)
{
    const ap_directive_t *d = APR_ARRAY_IDX(slots, replaced, const ap_directive_t *);
    const char *at = acme_autossl_tree_where(p, d);

    *key = apr_pstrcat(p, "tls|w|", at, NULL);
    return apr_psprintf(p, "ACME01620: %s: '%s' in the SSL <VirtualHost> at %s, which serves "
                        "the certificate of %s (%s keys): this certificate's key is of a key "
                        "type mod_acme serves there, and mod_ssl applies SSLOpenSSLConfCmd "
                        "after it loaded mod_acme's certificates, one per key type, so it "
                        "takes the place of mod_acme's: clients get this certificate, and "
                        "mod_acme renews one that is never served; remove the line and its "
                        "PrivateKey, or take AcmeDomain out of the <VirtualHost> (to serve "
                        "this certificate alone), or give AcmeKeyType types of the other "
                        "key family only (EC beside an RSA certificate, RSA beside an EC "
                        "one)", at, line_of(p, d), vhost, name, keys);
}

const char *acme_check_tls_problem(apr_pool_t *p, apr_hash_t *verdicts,
                                   const acme_tls_lines_t *top, const acme_tls_lines_t *own,
                                   const char *vhost, const char *name,
                                   const apr_array_header_t *key_types, const char **key,
                                   acme_tls_outcome_t *out)
{
    apr_array_header_t *slots = apr_array_make(p, SLOT_CMDS + 4, sizeof(const ap_directive_t *));
    const char *settings = "", *keys = "";
    const acme_tls_pairs_t *pairs = NULL;
    tls_reading_t *r;
    int i, has_pair = 0, families = 0;

    APR_ARRAY_PUSH(slots, const ap_directive_t *) = own->protocol ? own->protocol : top->protocol;
    APR_ARRAY_PUSH(slots, const ap_directive_t *) = own->suite ? own->suite : top->suite;
    APR_ARRAY_PUSH(slots, const ap_directive_t *) = own->tls13 ? own->tls13 : top->tls13;
    if (top->cmds) {
        apr_array_cat(slots, top->cmds);
    }
    if (own->cmds) {
        apr_array_cat(slots, own->cmds);
    }
    /* the settings as written, wherever they are: one reading for the
     * vhosts that share them */
    for (i = 0; i < slots->nelts; i++) {
        const ap_directive_t *d = APR_ARRAY_IDX(slots, i, const ap_directive_t *);

        settings = apr_pstrcat(p, settings, d ? line_of(p, d) : "-", "\n", NULL);
        if (i >= SLOT_CMDS && d) {
            const char *args = d->args ? d->args : "";

            has_pair |= is_pair_cmd(ap_getword_conf(p, &args));
        }
    }
    /* a certificate or key of the lines' own meets mod_acme's: the
     * certificates of the key types this vhost serves are loaded first */
    for (i = 0; has_pair && key_types && i < key_types->nelts; i++) {
        acme_key_type_e type = APR_ARRAY_IDX(key_types, i, acme_key_type_e);

        if (!strstr(keys, acme_key_type_name(type))) {
            keys = apr_pstrcat(p, keys, *keys ? ", " : "", acme_key_type_name(type), NULL);
        }
    }
    if (has_pair && (families = acme_check_tls_families(key_types))) {
        settings = apr_psprintf(p, "%s%d\n", settings, families);
        pairs = acme_check_tls_pairs_get(p, verdicts);
    }
    if (!(r = apr_hash_get(verdicts, settings, APR_HASH_KEY_STRING))) {
        r = apr_palloc(p, sizeof(*r));
        *r = tls_read(p, (const ap_directive_t *const *)slots->elts, top, own, pairs, families);
        apr_hash_set(verdicts, settings, APR_HASH_KEY_STRING, r);
    }
    if (out) {
        out->stops = r->verdict != TLS_FINE && r->verdict != TLS_NO_CIPHER
                     && r->verdict != TLS_OLD_PROTOCOL;
        out->rsa_alone = r->verdict == TLS_FINE && r->auth == AUTH_RSA;
        out->warning = r->verdict == TLS_FINE && r->replaced >= 0
                       ? replaced_message(p, slots, r->replaced, vhost, name, keys,
                                          &out->warning_key) : NULL;
    }
    if (r->verdict == TLS_FINE) {
        return keys_fit(p, r, key_types, slots, vhost, name, key);
    }
    return tls_message(p, r, slots, vhost, name, keys, key);
}
