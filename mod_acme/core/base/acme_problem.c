/* Problem records (RFC 7807 / RFC 8555 section 6.7) shared by every part of libacme. */
#include <stdarg.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "acme_core.h"

void acme_problem_clear(acme_problem_t *prob)
{
    if (prob) {
        memset(prob, 0, sizeof(*prob));
    }
}

apr_status_t acme_problem_set(acme_problem_t *prob, apr_pool_t *p, apr_status_t status,
                              const char *type, const char *fmt, ...)
{
    va_list ap;

    if (!prob) {
        return status;
    }
    prob->status = status;
    prob->type = type ? apr_pstrdup(p, type) : NULL;
    prob->kind = ACME_PROBLEM_KIND_NONE;
    va_start(ap, fmt);
    prob->detail = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return status;
}

const char *acme_problem_str(const acme_problem_t *prob, apr_pool_t *p)
{
    const char *type, *detail, *line;

    if (!prob) {
        return "no problem";
    }
    type = acme_problem_short_type(prob);
    if (!type) {
        type = prob->type;
    }
    detail = prob->detail;
    if (!detail || !*detail) {
        char buf[120];
        detail = prob->status == APR_SUCCESS
            ? "no error"
            : apr_pstrdup(p, apr_strerror(prob->status, buf, sizeof(buf)));
    }
    line = (type && *type) ? apr_pstrcat(p, type, ": ", detail, NULL) : detail;
    if (prob->http_status > 0) {
        line = apr_psprintf(p, "%s [HTTP %d]", line, prob->http_status);
    }
    if (prob->url && *prob->url) {
        line = apr_pstrcat(p, line, " (", prob->url, ")", NULL);
    }
    return line;
}

const char *acme_problem_short_type(const acme_problem_t *prob)
{
    size_t ns_len = sizeof(ACME_ERROR_NS) - 1;

    if (!prob || !prob->type || strncmp(prob->type, ACME_ERROR_NS, ns_len) != 0) {
        return NULL;
    }
    return prob->type + ns_len;
}

int acme_problem_is(const acme_problem_t *prob, const char *short_type)
{
    const char *type = acme_problem_short_type(prob);

    return type && short_type && strcmp(type, short_type) == 0;
}

int acme_problem_refuses_replaces(const acme_problem_t *prob)
{
    /* Problems that would be the same without "replaces". */
    static const char *const unrelated[] = {
        "accountDoesNotExist", "rateLimited", "badNonce", "userActionRequired", NULL
    };
    int i;

    if (!prob || prob->http_status < 400) {
        return 0;
    }
    for (i = 0; unrelated[i]; ++i) {
        if (acme_problem_is(prob, unrelated[i])) {
            return 0;
        }
    }
    return 1;
}

int acme_problem_account_gone(const acme_problem_t *prob, int carried_replaces)
{
    return acme_problem_is(prob, "accountDoesNotExist")
           || (!carried_replaces && acme_problem_is(prob, "unauthorized"));
}

int acme_problem_lookup_means_create(const acme_problem_t *prob)
{
    return acme_problem_is(prob, "accountDoesNotExist")
           || acme_problem_is(prob, "externalAccountRequired")
           /* a plain 404 ("not found", no problem document) says the same */
           || (prob && prob->http_status == 404 && !acme_problem_short_type(prob));
}

/* Per CA problem type (RFC 8555 section 6.7): a short reason, for the
 * 503 page visitors see (no CA text, which may name paths or tokens), and
 * one line on what to change, for the status page and acmectl. */
static const struct problem_text_t {
    const char *type, *reason, *advice;
} problem_texts[] = {
    { "connection", "the CA could not connect to this server",
      "The CA could not connect to this server: make port 80 (http-01) or 443 "
      "(tls-alpn-01) reachable from the internet for every name, and check their DNS." },
    { "dns", "the CA could not resolve one of the names",
      "The CA could not resolve a name: check the A/AAAA records of every name "
      "(or the TXT records your AcmeDnsCmd sets)." },
    { "unauthorized", "the CA saw a wrong challenge answer",
      "The CA saw a wrong answer: point every name's DNS at this server and "
      "let no proxy or redirect take /.well-known/acme-challenge/." },
    { "incorrectResponse", "the CA saw a wrong challenge answer",
      "The CA saw a wrong answer: point every name's DNS at this "
      "server and let no proxy or redirect take /.well-known/acme-challenge/." },
    { "tls", "TLS to this server failed during validation",
      "TLS to this server failed during validation: check the https listener and "
      "that no other server answers for these names on port 443." },
    { "caa", "a CAA record forbids the CA",
      "A CAA record forbids this CA: add it to the CAA records of the names." },
    { "rejectedIdentifier", "the CA will not issue for one of the names",
      "The CA will not issue for one of the names: remove it from AcmeDomain." },
    { "rateLimited", "the CA's rate limit was reached",
      "The CA's rate limit was reached: nothing to change, mod_acme waits and "
      "retries; avoid changing the names meanwhile." },
    { "externalAccountRequired", "the CA requires an external account binding",
      "The CA requires External Account Binding: set AcmeEAB "
      "with the key id and MAC key from your CA account." },
    { "userActionRequired", "the CA asks the administrator to act",
      "The CA asks you to act (e.g. new terms): follow the "
      "instructions in its message." },
    { "badNonce", "a passing CA hiccup",
      "A passing CA hiccup: nothing to change, the next attempt retries." },
    { "serverInternal", "the CA had an internal problem",
      "The CA had an internal problem: nothing to change, the next "
      "attempt retries." },
};

const char *acme_problem_advice(const char *type, const char **reason)
{
    size_t i;

    if (reason) {
        *reason = NULL;
    }
    if (!type) {
        /* No problem document: the step failed on this side (a hook, the
         * store), on the way to the CA, or on an answer it could not use. */
        return "No error came from the CA: the detail above says which step failed: an "
               "AcmeDnsCmd hook, outbound HTTPS to AcmeCA (or AcmeCACertificateFile), an "
               "answer mod_acme could not use, or the store; the error log has the details "
               "(ACME tags).";
    }
    if (!strncmp(type, "urn:ietf:params:acme:error:", 27)) {
        type += 27;
    }
    for (i = 0; i < sizeof(problem_texts) / sizeof(problem_texts[0]); i++) {
        if (!strcmp(type, problem_texts[i].type)) {
            if (reason) {
                *reason = problem_texts[i].reason;
            }
            return problem_texts[i].advice;
        }
    }
    return "Read the CA's message above; mod_acme retries by itself at the next attempt.";
}

static const char *const kind_names[] = {
    NULL, "transport", "tls", "ca-file", "answer", "store", "hook", "challenge", "cert-names",
    "cert-expired", "cert-not-yet-valid", "cert-key", "chain-untrusted", "chain-invalid",
    "seclevel", "refused"
};

const char *acme_problem_kind_name(int kind)
{
    if (kind <= ACME_PROBLEM_KIND_NONE || kind > ACME_PROBLEM_KIND_LAST) {
        return NULL;
    }
    return kind_names[kind];
}

apr_status_t acme_problem_log_status(const acme_problem_t *prob)
{
    if (!prob || prob->type || prob->kind < ACME_PROBLEM_KIND_CERT_NAMES) {
        return prob ? prob->status : APR_SUCCESS;
    }
    return APR_SUCCESS;
}

int acme_problem_kind_parse(const char *name)
{
    int kind;

    for (kind = ACME_PROBLEM_KIND_TRANSPORT; name && kind <= ACME_PROBLEM_KIND_LAST; kind++) {
        if (!strcmp(name, kind_names[kind])) {
            return kind;
        }
    }
    return ACME_PROBLEM_KIND_NONE;
}

/* The enabled types a "no usable challenge" detail names ("...; enabled:
 * TYPES; ..."), or NULL. */
static const char *detail_enabled(apr_pool_t *p, const char *detail)
{
    const char *at = detail ? strstr(detail, "; enabled: ") : NULL, *end;

    if (!at) {
        return NULL;
    }
    at += strlen("; enabled: ");
    end = strchr(at, ';');
    return end ? apr_pstrmemdup(p, at, end - at) : apr_pstrdup(p, at);
}

/* The reason in a detail "METHOD URL: reason" (acme_http's transfer
 * failures): what follows the URL; the whole detail otherwise. */
static const char *detail_reason(const char *detail)
{
    const char *scheme = detail ? strstr(detail, "://") : NULL;
    const char *colon = scheme ? strstr(scheme + 3, ": ") : NULL;

    if (!detail || !*detail) {
        return "no reason given";
    }
    return colon && colon[2] ? colon + 2 : detail;
}

/* Per kind of a certificate not fit to serve (ACME_PROBLEM_KIND_CERT_NAMES
 * on): the short reason and the advice. The detail shown with it names the
 * certificate, the chain's top and the roots in use. */
static const struct kind_text_t {
    int kind;
    const char *reason, *advice;
} cert_texts[] = {
    { ACME_PROBLEM_KIND_CERT_NAMES, "the CA's certificate is for other names",
      "The CA sent a certificate that does not cover the names ordered: the CA is at fault; "
      "it was discarded and mod_acme orders again after the backoff. If it persists, tell the "
      "CA or list another CA in AcmeCA." },
    { ACME_PROBLEM_KIND_CERT_EXPIRED, "the CA's certificate has expired by this server's clock",
      "The CA sent a certificate that has expired by this server's clock: when the detail says "
      "this machine's clock is ahead, set it right (NTP) and the next attempt succeeds; "
      "otherwise the CA is at fault and mod_acme orders again after the backoff." },
    { ACME_PROBLEM_KIND_CERT_NOT_YET_VALID, "the CA's certificate is not valid yet",
      "The CA sent a certificate that starts later than this server's clock and than the CA's "
      "own: the CA is at fault (check this machine's clock too, NTP); it was discarded and "
      "mod_acme orders again after the backoff." },
    { ACME_PROBLEM_KIND_CERT_KEY, "the CA's certificate is for another key",
      "The CA certified another key than the one of the CSR (RFC 8555 section 7.4): the CA is "
      "at fault; the certificate was discarded and mod_acme orders again after the backoff. "
      "If it persists, tell the CA or list another CA in AcmeCA." },
    { ACME_PROBLEM_KIND_CHAIN_UNTRUSTED, "the CA's certificate chain leads to no trusted root",
      "The CA's certificate chain ends at a root this server does not trust (the detail names "
      "the chain's top certificate and the roots in use). If that root is right (a private or "
      "test CA, a new root), put it into the file AcmeTrustedRootsFile names (or point "
      "AcmeTrustedRootsFile at the right file) and restart httpd gracefully: the certificate "
      "already issued is fetched again and goes live, with no new order." },
    { ACME_PROBLEM_KIND_CHAIN_INVALID, "the CA's certificate chain cannot verify",
      "The CA sent a certificate chain that cannot verify (it loops, or a signature or "
      "extension is wrong): the CA is at fault; it was discarded and mod_acme orders again "
      "after the backoff. If it persists, tell the CA or list another CA in AcmeCA." },
    { ACME_PROBLEM_KIND_SECLEVEL, "the CA's chain is too weak for the security level of the "
      "vhost serving it",
      "The certificate was issued, but a certificate of its chain has a key too weak for the "
      "OpenSSL security level (@SECLEVEL) of the vhost serving it, so mod_ssl would refuse it "
      "(the detail names the level and the certificate). The CA would issue the same kind of "
      "chain again, so no new order is made until one of them changes: lower @SECLEVEL for "
      "that vhost (SSLCipherSuite), or choose a key type (AcmeKeyType), a chain "
      "(AcmePreferredChain), a profile (AcmeProfile) or a CA (AcmeCA) whose chain meets it, and "
      "restart httpd gracefully. At a lower level the certificate already issued is proven again "
      "first and goes live if it now may, with no new order; after any other of these changes a "
      "new certificate is ordered. 'acmectl renew NAME' orders anew at once." },
    { ACME_PROBLEM_KIND_REFUSED, "this server refused the certificate the CA issued when it "
      "checked it for serving",
      "The CA issued the certificate, but this server refused it when it checked it before "
      "serving it (the detail gives the server's reason; its error log, \"staged certificate "
      "refused\", the rest): "
      "a staged entry changed or damaged in the store, a chain that does not verify to the "
      "roots in use (AcmeTrustedRootsFile), or a key that is not this server's. The site keeps "
      "what it served. mod_acme orders again after a wait that doubles with each refusal in a "
      "row (at most a day), which restarts do not shorten; once the cause is mended, 'acmectl "
      "renew NAME' orders at once." },
};

static const char *cert_advice(int kind, const char **reason)
{
    size_t i;

    for (i = 0; i < sizeof(cert_texts) / sizeof(cert_texts[0]); i++) {
        if (cert_texts[i].kind == kind) {
            if (reason) {
                *reason = cert_texts[i].reason;
            }
            return cert_texts[i].advice;
        }
    }
    return acme_problem_advice(NULL, reason);
}

const char *acme_problem_advice_of(apr_pool_t *p, const char *type, const char *kind,
                                   const char *detail, const char *ca_url,
                                   const char **reason)
{
    const char *why = detail_reason(detail), *ca = ca_url && *ca_url ? ca_url : "(AcmeCA)";

    if (type || !kind) {
        return acme_problem_advice(type, reason);
    }
    if (reason) {
        *reason = NULL;
    }
    switch (acme_problem_kind_parse(kind)) {
    case ACME_PROBLEM_KIND_TRANSPORT:
        if (reason) {
            *reason = "this server cannot reach the CA";
        }
        return apr_psprintf(p, "Cannot reach AcmeCA %s: %s. Check that the AcmeCA URL is "
                            "right, that this server can make outbound HTTPS connections to it "
                            "(DNS, firewall, and the proxy it must use, if any: https_proxy in "
                            "httpd's environment); mod_acme retries by itself.", ca, why);
    case ACME_PROBLEM_KIND_TLS:
        if (reason) {
            *reason = "TLS to the CA failed";
        }
        if (detail && strstr(detail, ACME_LEVEL_HINT)) {
            /* openssl.cnf raised for the vhosts: the CA's connection takes it too */
            return apr_psprintf(p, "TLS to AcmeCA %s failed: %s. The default OpenSSL security "
                                "level from openssl.cnf (its [system_default] section, "
                                "CipherString = DEFAULT:@SECLEVEL=N, or OPENSSL_CONF in httpd's "
                                "environment) also applies to mod_acme's connection to the CA, "
                                "and a key of the CA's TLS chain is too small for it. Set the "
                                "level the vhosts need with SSLCipherSuite (e.g. "
                                "DEFAULT:@SECLEVEL=3) and leave the default in [system_default] "
                                "at 2 (CipherString = DEFAULT:@SECLEVEL=2), or use a CA whose "
                                "TLS chain meets the level; then restart httpd. mod_acme "
                                "retries by itself.", ca, why);
        }
        return apr_psprintf(p, "TLS to AcmeCA %s failed: %s. Check that AcmeCA is the CA's "
                            "https URL, that AcmeCACertificateFile (if the CA's certificate is "
                            "not publicly trusted) holds its TLS trust anchors, and this "
                            "machine's clock.", ca, why);
    case ACME_PROBLEM_KIND_CA_FILE:
        if (reason) {
            *reason = "the CA's trust anchors cannot be loaded";
        }
        return apr_psprintf(p, "AcmeCACertificateFile cannot be used to reach AcmeCA %s: %s. "
                            "Point it at a PEM file of the CA's TLS trust anchors that the "
                            "server's User can read.", ca, why);
    case ACME_PROBLEM_KIND_ANSWER:
        if (reason) {
            *reason = "the CA's answer could not be used";
        }
        return apr_psprintf(p, "AcmeCA %s answered with something mod_acme cannot use: %s. "
                            "Check that AcmeCA is the CA's ACME directory URL (not a web page "
                            "or a proxy in between); mod_acme retries by itself.", ca, why);
    case ACME_PROBLEM_KIND_STORE:
        if (reason) {
            *reason = "this server's certificate store cannot be written";
        }
        return apr_psprintf(p, "No error came from the CA: the store cannot be read or "
                            "written: %s. Free space on its "
                            "filesystem (df -h) and let the server's User write AcmeStoreDir; "
                            "mod_acme retries by itself.", why);
    case ACME_PROBLEM_KIND_HOOK:
        if (reason) {
            *reason = "the DNS step for the challenge failed";
        }
        /* the detail (shown with it) already names the hook and its output */
        return "No error came from the CA: the dns-01 step on this server failed (the error "
               "above says how): run the "
               "AcmeDnsCmd hook by hand as the server's User, and check that the TXT record it "
               "sets becomes visible to AcmeDnsResolver.";
    case ACME_PROBLEM_KIND_CHALLENGE:
        if (reason) {
            *reason = "the CA offers no challenge type this server may use";
        }
        /* neither a hook nor the network: the CA and AcmeChallenges disagree */
        return apr_psprintf(p, "No error came from the CA: AcmeCA %s does not offer %s. Choose "
                            "another challenge type with AcmeChallenges (one the CA offers, "
                            "named above), or another CA with AcmeCA.", ca,
                            detail_enabled(p, detail) ? detail_enabled(p, detail)
                            : "the challenge types AcmeChallenges allows");
    default:
        if (acme_problem_kind_parse(kind) >= ACME_PROBLEM_KIND_CERT_NAMES) {
            return cert_advice(acme_problem_kind_parse(kind), reason);
        }
        return acme_problem_advice(type, reason);
    }
}
