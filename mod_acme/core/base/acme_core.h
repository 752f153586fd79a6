/* libacme: the ACME protocol core of mod_acme. No httpd headers, no process
 * globals: everything a function needs arrives in its arguments or in an
 * acme_ctx_t (log sink, clock, HTTP client). */
#ifndef ACME_CORE_H
#define ACME_CORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <apr_errno.h>

#define ACME_VERSION "0.1.0"

/* Size caps for everything that comes from the network or the store. */
#define ACME_MAX_JSON_BODY     (64 * 1024)   /* any ACME JSON response */
#define ACME_MAX_CHAIN_BYTES   (128 * 1024)  /* a downloaded PEM chain */
#define ACME_MAX_CHAIN_CERTS   10            /* certificates in one chain */
#define ACME_MAX_HEADER_BYTES  (8 * 1024)    /* one response header line */
#define ACME_MAX_NAMES         100           /* names in one certificate */
#define ACME_MAX_NAME_LEN      253           /* one DNS name */
#define ACME_MAX_TOKEN_LEN     128           /* http-01 token */
#define ACME_MAX_KEYAUTH_LEN   256           /* token + "." + thumbprint */
#define ACME_MAX_STORE_FILE    (256 * 1024)  /* any file read from the store */

/* Log levels share their values with syslog and httpd's APLOG_*. */
typedef enum {
    ACME_LOG_ERR = 3,
    ACME_LOG_WARN = 4,
    ACME_LOG_NOTICE = 5,
    ACME_LOG_INFO = 6,
    ACME_LOG_DEBUG = 7,
    ACME_LOG_TRACE1 = 8
} acme_log_level_t;

typedef void acme_log_fn(void *baton, acme_log_level_t level, apr_status_t rv,
                         const char *message);
typedef apr_time_t acme_clock_fn(void *baton);

/* acme_ctx_t.wire: on_wire 1 before a request is sent, 0 after. */
typedef void acme_wire_fn(void *baton, int on_wire);

/* The HTTP client (acme_http.h): libcurl in the module and acmectl
 * (acme_http_create), a recorded conversation in unit tests. */
struct acme_http_t;

/* What the core needs from its host (module, acmectl, unit test). */
typedef struct acme_ctx_t {
    acme_log_fn *log;        /* NULL: messages are dropped */
    void *log_baton;
    int log_level;           /* messages above this level are not formatted */
    acme_clock_fn *clock;    /* NULL: apr_time_now() */
    void *clock_baton;
    struct acme_http_t *http; /* every request to a CA goes through it; NULL: the
                              * host talks to no CA (acme_client_create refuses) */
    struct acme_counters_t *counters; /* Prometheus counters (acme_counters.h), NULL: none */
    /* Around each request on the wire (acme_http_send): wire(wire_baton, 1)
     * before it is sent, wire(wire_baton, 0) once its answer or failure is
     * in. A host whose threads share one lock lets go of it in between; the
     * exchange then touches no memory but wire_pool (its own allocator, used
     * by this context's thread alone) and the request, and the answer is
     * copied into the caller's pool after wire(..., 0). NULL: nothing is
     * done around a request. */
    acme_wire_fn *wire;
    void *wire_baton;
    apr_pool_t *wire_pool;
} acme_ctx_t;

/* Messages carry their own tag: "ACME00123: what happened". rv is the
 * system's error behind it (0: none), which the host prints before the
 * message as httpd does ("(13)Permission denied: ..."); acme_log passes
 * on only what acme_log_os_error keeps. */
void acme_log(const acme_ctx_t *ctx, acme_log_level_t level, apr_status_t rv,
              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* rv when it is an error of the system or of APR that names what failed
 * (errno values, resolver errors); 0 for the statuses the core returns only
 * to sort outcomes (APR_EGENERAL, APR_ENOTIMPL, APR_TIMEUP, APR_INCOMPLETE,
 * APR_EINCOMPLETE), whose text ("This function has not been implemented on
 * this platform") would mislead before a message. */
apr_status_t acme_log_os_error(apr_status_t rv);
apr_time_t acme_core_now(const acme_ctx_t *ctx);
/* A uniformly distributed number in [0, 1) from the system's random source
 * (jitter of retries and ARI renewal times); 0.5 when none is available. */
double acme_core_random01(void);

/* The user-facing reason of a failure: travels with the status code so the
 * status page and the log can both say what the CA said and what to do. */
typedef struct acme_problem_t {
    apr_status_t status;     /* APR_SUCCESS when nothing went wrong */
    int http_status;         /* status of the CA's response, 0 if none */
    const char *type;        /* RFC 7807 type, e.g. urn:ietf:params:acme:error:badNonce */
    const char *detail;      /* the CA's detail, or our own description */
    const char *url;         /* the request that failed, if any */
    apr_time_t retry_after;  /* the CA's Retry-After as absolute time, 0 if none */
    int kind;                /* acme_problem_kind_e: what failed when no CA problem
                              * document says it; acme_problem_set resets it */
} acme_problem_t;

/* How a TLS failure's detail says that this machine's OpenSSL security
 * level refused a key or digest of the CA's TLS chain, followed by the level
 * (acme_http.c); the advice then names openssl.cnf's default level. */
#define ACME_LEVEL_HINT "refused at this machine's OpenSSL security level, openssl.cnf's default:"

/* The kind of a failure that came without a problem document from the CA,
 * set where it happened, so the advice can name the one fix for it. */
typedef enum {
    ACME_PROBLEM_KIND_NONE = 0,   /* a CA problem document, or not known */
    ACME_PROBLEM_KIND_TRANSPORT,  /* no HTTP answer: DNS, connection refused, timeout, proxy */
    ACME_PROBLEM_KIND_TLS,        /* the TLS handshake with the CA or its verification failed */
    ACME_PROBLEM_KIND_CA_FILE,    /* AcmeCACertificateFile cannot be loaded */
    ACME_PROBLEM_KIND_ANSWER,     /* the CA answered with something that cannot be used */
    ACME_PROBLEM_KIND_STORE,      /* the store could not be read or written */
    ACME_PROBLEM_KIND_HOOK,       /* a DNS hook (AcmeDnsCmd) or the DNS check after it */
    ACME_PROBLEM_KIND_CHALLENGE,  /* the CA offers no challenge type AcmeChallenges allows */
    /* The certificate the CA sent is not fit to serve: */
    ACME_PROBLEM_KIND_CERT_NAMES,         /* it does not cover the names ordered */
    ACME_PROBLEM_KIND_CERT_EXPIRED,       /* it has expired by this machine's clock */
    ACME_PROBLEM_KIND_CERT_NOT_YET_VALID, /* it starts after this machine's clock */
    ACME_PROBLEM_KIND_CERT_KEY,           /* it is for another key than the CSR's */
    ACME_PROBLEM_KIND_CHAIN_UNTRUSTED,    /* its chain leads to no trusted root */
    ACME_PROBLEM_KIND_CHAIN_INVALID,      /* its chain cannot verify (a loop, a bad signature) */
    ACME_PROBLEM_KIND_SECLEVEL,           /* its chain is too weak for the vhost's security
                                           * level: not ordered again while it stays */
    ACME_PROBLEM_KIND_REFUSED             /* the server refused it at activation for another
                                           * reason (the detail gives the server's) */
} acme_problem_kind_e;
#define ACME_PROBLEM_KIND_LAST ACME_PROBLEM_KIND_REFUSED

/* "transport", "tls", "ca-file", "answer", "store", "hook", "challenge",
 * "cert-names", "cert-expired", "cert-not-yet-valid", "cert-key",
 * "chain-untrusted", "chain-invalid", "seclevel", "refused"; NULL for
 * ACME_PROBLEM_KIND_NONE or an
 * unknown value (static text). */
const char *acme_problem_kind_name(int kind);
/* The status to log a failure with: 0 for the kinds whose status says no
 * more than the detail (a certificate not fit to serve: no system error
 * such as "(22)Invalid argument" belongs before it), prob->status else. */
apr_status_t acme_problem_log_status(const acme_problem_t *prob);
/* The kind of its name; ACME_PROBLEM_KIND_NONE for NULL or any other text. */
int acme_problem_kind_parse(const char *name);

void acme_problem_clear(acme_problem_t *prob);
/* Sets status, type (may be NULL) and a formatted detail; returns status. */
apr_status_t acme_problem_set(acme_problem_t *prob, apr_pool_t *p, apr_status_t status,
                              const char *type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* "type: detail (url)" in one line, for logs and the status page. */
const char *acme_problem_str(const acme_problem_t *prob, apr_pool_t *p);
/* Type without the "urn:ietf:params:acme:error:" prefix, or NULL. */
const char *acme_problem_short_type(const acme_problem_t *prob);
int acme_problem_is(const acme_problem_t *prob, const char *short_type);
/* One line on what to change after a failure of problem type type (RFC 8555
 * section 6.7, with or without "urn:ietf:params:acme:error:"; NULL: the
 * failure came with no problem document from the CA: a hook, the network,
 * the store), for the status page and acmectl (static text). *reason
 * (reason may be NULL): a short reason without the CA's own words, for the
 * page visitors of a name without a certificate see; NULL for no type or
 * a type of no known meaning. */
const char *acme_problem_advice(const char *type, const char **reason);
/* As acme_problem_advice, with what a status record keeps of a failure:
 * kind (acme_problem_kind_name, NULL: none), detail (the failure's own text,
 * e.g. "GET URL: curl's reason") and ca_url (the AcmeCA in use, NULL: not
 * known). A failure of a known kind gets the advice for that kind only,
 * naming the CA and the reason (e.g. "Cannot reach AcmeCA URL: reason");
 * the rest as acme_problem_advice. Text from p (or static). */
const char *acme_problem_advice_of(apr_pool_t *p, const char *type, const char *kind,
                                   const char *detail, const char *ca_url,
                                   const char **reason);

/* What a CA's answer means for the client; pure functions of the problem.
 *
 * acme_problem_refuses_replaces: 1 when prob, the CA's answer to a newOrder
 * that carried "replaces" (RFC 9773 §5), is to be answered by ordering again
 * without it in the same attempt. Any problem document the CA sent (HTTP
 * status >= 400) counts, whatever its type (alreadyReplaced, unauthorized,
 * malformed, conflict, serverInternal...): the CA may refuse the replacement
 * for reasons of its own (Let's Encrypt answers unauthorized when another
 * account ordered the replaced certificate). Not: no answer at all,
 * accountDoesNotExist, rateLimited, badNonce, userActionRequired, which are
 * not about "replaces". 0 otherwise. */
int acme_problem_refuses_replaces(const acme_problem_t *prob);
/* 1 when prob, the CA's answer to a signed request, means the account the
 * request named is gone (to be looked up or created again):
 * accountDoesNotExist, or unauthorized on a request that carried no
 * "replaces" (carried_replaces 0). 0 otherwise. */
int acme_problem_account_gone(const acme_problem_t *prob, int carried_replaces);
/* 1 when prob, the CA's answer to a newAccount lookup with
 * onlyReturnExisting (RFC 8555 §7.3.1), means "no account for this key yet:
 * create one": accountDoesNotExist, externalAccountRequired from a CA that
 * wants External Account Binding on every newAccount request (§7.3.4), or
 * an HTTP 404 without a problem type (a CA that says "not found" its own
 * way). */
int acme_problem_lookup_means_create(const acme_problem_t *prob);

#define ACME_ERROR_NS "urn:ietf:params:acme:error:"

#endif
