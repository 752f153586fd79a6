/* dns-persist-01 (draft-ietf-acme-dns-persist-02; -01 still understood): the
 * TXT record at _validation-persist.NAME that an administrator sets once, as
 * mod_acme builds it, shows it and checks it. Pure functions: no I/O, no
 * logging; the issuance steps that use them are in acme_dns_persist.c. */
#ifndef ACME_DNS_PERSIST_H
#define ACME_DNS_PERSIST_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define ACME_PERSIST_LABEL "_validation-persist."

/* What a record at _validation-persist.FQDN must hold for this account. */
typedef struct acme_persist_want_t {
    const char *fqdn;                   /* the name validated: lowercase, no "*.", no final dot */
    const apr_array_header_t *issuers;  /* const char*: issuer domain names the CA accepts */
    const char *account_url;            /* the account URL (RFC 8555 §7.3, the JWS "kid") */
    const char *thumbprint;             /* the account key's RFC 7638 thumbprint, base64url */
    /* The CA's accountHashPrefix (draft -02 §4.1): accounturi is then the
     * hashed URI; NULL for a draft -01 CA, where it is the account URL. */
    const char *hash_prefix;
    int wildcard;                       /* policy=wildcard required (a *.FQDN authorization) */
    int show_wildcard;                  /* shown with policy=wildcard (*.FQDN in the same certificate) */
    apr_time_t now;                     /* for persistUntil */
} acme_persist_want_t;

typedef enum {
    ACME_PERSIST_OK,        /* a record of this CA names this account (and the policy needed) */
    ACME_PERSIST_MISSING,   /* no record names one of the CA's issuer domain names */
    ACME_PERSIST_WRONG      /* one does, but would be refused; *why says what to change */
} acme_persist_verdict_e;

/* The hashed account URI of draft -02 §4.1:
 *   prefix "sha-256/" base64url(SHA-256(len(domain) || domain || thumbprint || account_url))
 * domain is the FQDN (lowercased here) or "*" for the domain-independent form.
 * NULL when the domain is longer than 255 octets or hashing fails; in p. */
const char *acme_dns_persist_hashed_uri(apr_pool_t *p, const char *prefix, const char *domain,
                                    const char *thumbprint, const char *account_url);

/* The RDATA to set (RFC 8659 §4.2 issue-value): "ISSUER; accounturi=URI" plus
 * "; policy=wildcard" when wanted; the first issuer domain name, the hashed
 * URI for the FQDN (-02) or the account URL (-01). NULL when it cannot be
 * computed. In p. */
const char *acme_dns_persist_value(apr_pool_t *p, const acme_persist_want_t *want);

/* The whole record as a zone file line, for administrators:
 *   _validation-persist.FQDN. IN TXT "VALUE"
 * a value over 255 octets split into several strings (RFC 1035 §3.3.14). */
const char *acme_dns_persist_record_line(apr_pool_t *p, const char *fqdn, const char *value);

/* The record lines (as acme_dns_persist_record_line writes them) that a
 * text holds, in order, without repeats: what a job's activity asks to set.
 * An empty array when there are none; in p. */
apr_array_header_t *acme_dns_persist_record_lines_in(apr_pool_t *p, const char *text);

/* Judges the TXT values found at _validation-persist.FQDN as the CA will
 * (draft -02 §4.1, §4.2, §9.3.1): values naming other issuers are ignored;
 * of this CA's, one is enough that has no repeated parameter, an accounturi
 * equal to this account's (the hashed URI for FQDN or for "*"; -01: the
 * account URL), policy=wildcard when wanted, a persistUntil that is a number
 * not in the past. *matched (OK) is the value accepted and *until its
 * persistUntil (0 = none); *why (WRONG) what is wrong with the record. */
acme_persist_verdict_e acme_dns_persist_evaluate(apr_pool_t *p, const acme_persist_want_t *want,
                                             const apr_array_header_t *values,
                                             const char **matched, apr_time_t *until,
                                             const char **why);

#endif
