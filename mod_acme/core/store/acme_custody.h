#ifndef ACME_CUSTODY_H
#define ACME_CUSTODY_H
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include "acme_core.h"
#include "acme_crypto.h"
#include "acme_store.h"

/* Certificate keys in root's custody. The root parent generates every
 * certificate key and keeps it where the unprivileged child cannot look; the
 * child gets a CSR for it, orders with it and stages only the chain; root
 * pairs the chain with the key at activation (acme_store_activate).
 *   keys/<name>/<id>.key     private keys root generated for <name>: directory
 *                            0700, files 0600, root  (<id>: acme_certverify_spki_id)
 *   keys/<name>/refused.json backoff after refused staged entries (root)
 *   csr/<name>.json          {"names": [...], "key_type": "ec-p256", "key": <id>,
 *                            "csr": base64url DER, "created": seconds}: the CSR
 *                            of the current key, root-owned, world-readable
 * A key is current until a certificate for it is activated; then it moves to
 * archive/ and the next order gets a new key (acme_custody_prepare). */

/* Keys that are not current any more (the configuration changed) are kept
 * this long for an order still using them, then removed. */
#define ACME_CUSTODY_OLD_KEY_AGE apr_time_from_sec(2 * 86400)

/* Does csr/<name>.json hold a CSR for exactly names (in order) and key_type,
 * with its key in keys/<name>/? Root side; a few small reads. */
int acme_custody_ready(acme_store_t *store, apr_pool_t *p, const char *name,
                       const apr_array_header_t *names, acme_key_type_e key_type);

/* Root: makes a new key of key_type in keys/<name>/ and publishes its CSR for
 * names in csr/<name>.json, unless acme_custody_ready; removes old keys
 * (ACME_CUSTODY_OLD_KEY_AGE). *generated (may be NULL) = 1 when it made one.
 * APR_EACCES when keys/ is not a directory private to this user (not fixed:
 * someone else made it), else the store's errors. RSA keys take up to
 * seconds: callers budget for it. */
apr_status_t acme_custody_prepare(acme_store_t *store, apr_pool_t *p, const char *name,
                                  const apr_array_header_t *names, acme_key_type_e key_type,
                                  int *generated);

/* acme_custody_prepare, and when it made a key, *kept (kept and keep may
 * be NULL) that key, with a reference of its own that a cleanup of keep
 * drops; *kept is left as it is when no key was made. */
apr_status_t acme_custody_prepare_keep(acme_store_t *store, apr_pool_t *p, const char *name,
                                       const apr_array_header_t *names,
                                       acme_key_type_e key_type, int *generated,
                                       apr_pool_t *keep, EVP_PKEY **kept);

/* Child: the published CSR of name (base64url DER, for the finalize request)
 * and its key id, in p. APR_ENOENT when none is published, APR_EAGAIN when the
 * published one is for other names or another key type (root has not made the
 * new one yet), APR_EINVAL when it is unreadable. */
apr_status_t acme_custody_csr(acme_store_t *store, apr_pool_t *p, const char *name,
                              const apr_array_header_t *names, acme_key_type_e key_type,
                              const char **csr_b64url, const char **key_id);

/* Root, cluster takeover: key (PEM, len bytes), the one another server of
 * the cluster put into an order it did not finish, becomes name's current
 * key here, as acme_custody_prepare would make a new one: keys/<name>/<id>.key
 * (0600), then its CSR for names in csr/<name>.json, so this server's child
 * finalizes that order with it, or activates the certificate the order
 * already has. The key that was current stays until
 * ACME_CUSTODY_OLD_KEY_AGE. *id (from p, may be NULL) its
 * acme_certverify_spki_id. APR_EINVAL when pem is no private key of
 * key_type; keys_dir and store errors. */
apr_status_t acme_custody_adopt(acme_store_t *store, apr_pool_t *p, const char *name,
                                const apr_array_header_t *names, acme_key_type_e key_type,
                                const char *pem, apr_size_t len, const char **id);

/* Root: the current key of name (the one csr/<name>.json offers for names
 * and key_type): *id, and the key file's text *pem, *len, all in p.
 * APR_ENOENT when there is none (or the CSR is for other names or another
 * key type); APR_EINVAL when the CSR record is malformed; store errors. */
apr_status_t acme_custody_current_key(acme_store_t *store, apr_pool_t *p, const char *name,
                                      const apr_array_header_t *names,
                                      acme_key_type_e key_type, const char **id,
                                      const char **pem, apr_size_t *len);

/* Root: the key file root wrote for name whose public key is pub, found by
 * its SPKI id: *pem and *len (the file's text, in p), not parsed (nothing
 * says it holds pub's private key: acme_custody_key_for proves that).
 * APR_ENOENT when there is no such file; store errors. */
apr_status_t acme_custody_key_file_for(acme_store_t *store, apr_pool_t *p, const char *name,
                                       EVP_PKEY *pub, const char **pem, apr_size_t *len);

/* Root: the key generated for name whose public key is pub: *pem and *len (the
 * file's text) and *key, in p. APR_ENOENT when root holds no such key. */
apr_status_t acme_custody_key_for(acme_store_t *store, apr_pool_t *p, const char *name,
                                  EVP_PKEY *pub, const char **pem, apr_size_t *len,
                                  EVP_PKEY **key);

/* Root: a key another server of the cluster generated (PEM, len bytes) taken
 * into custody as keys/<name>/<id>.key (0600), so a chain for it can be
 * activated here. *id (from p, may be NULL) its acme_certverify_spki_id.
 * APR_EINVAL when pem is not a private key; keys_dir and store errors. */
apr_status_t acme_custody_import(acme_store_t *store, apr_pool_t *p, const char *name,
                                 const char *pem, apr_size_t len, const char **id);

/* The id of name's current key (the one csr/<name>.json offers for names
 * and key_type) when pub (may be NULL) is its public key; NULL otherwise
 * (another key, no CSR for names and key_type). Strings in p. */
const char *acme_custody_current_key_of(acme_store_t *store, apr_pool_t *p, const char *name,
                                        const apr_array_header_t *names,
                                        acme_key_type_e key_type, EVP_PKEY *pub);

/* Child: does staging/<name> hold a chain for the current key of name (the
 * one csr/<name>.json offers for names and key_type), i.e. something root
 * would pair with its key, or did root stage it (its "ready" is root's, one
 * link: a cluster node's certificate)? Only then does a staged entry hold back a new
 * order: anything else (planted by the User, too large to read, for a key
 * root retired) must not keep the name from renewing. cert.pem is read
 * only up to ACME_MAX_CHAIN_BYTES, judged by its size first. 1 or 0; with
 * 0, *why (static or in p) says what is wrong with it. */
int acme_custody_staged_current(acme_store_t *store, apr_pool_t *p, const char *name,
                                const apr_array_header_t *names, acme_key_type_e key_type,
                                const char **why);

/* Root, after the certificate for pub went live: its key file goes (archive/
 * holds the key now) and, when it was current, the CSR too, so the next
 * order gets a new key. */
apr_status_t acme_custody_retire(acme_store_t *store, apr_pool_t *p, const char *name,
                                 EVP_PKEY *pub);
/* The same for the key whose acme_certverify_spki_id is id, with no OpenSSL
 * call (a thread of the parent may run it). APR_EINVAL for a name or id that
 * is no store name; the store's errors (APR_ENOENT and kin when the key file
 * is gone already). */
apr_status_t acme_custody_retire_id(acme_store_t *store, apr_pool_t *p, const char *name,
                                    const char *id);

/* keys/<name>/ of a name no longer configured holds keys that never went
 * live (the live one is in archive/, which stays) and its backoff. It is
 * kept this long after a server last started with the name configured
 * (a store shared by servers, or a name removed by mistake and put back,
 * still has its pending key), then removed with csr/<name>.json. */
#define ACME_CUSTODY_REMOVED_GRACE apr_time_from_sec(90 * 86400)
/* Root, at each start: marks keys/<name>/ of every name in configured as in
 * use (its mtime becomes now), then removes keys/<name>/, csr/<name>.json
 * and refused/<name>.json (the backoff's public copy) of every other name
 * whose directory was last marked more than ACME_CUSTODY_REMOVED_GRACE
 * before now. Walks keys/ by descriptor, never
 * following a link. *removed (may be NULL): the names removed, in p.
 * APR_SUCCESS (also when there is no keys/), or the first error met (the
 * other names are still tried). */
apr_status_t acme_custody_sweep_removed(acme_store_t *store, apr_pool_t *p,
                                        const apr_array_header_t *configured, apr_time_t now,
                                        apr_array_header_t **removed);

/* Refused staged entries: a per-name backoff, so an entry planted again and
 * again cannot restart httpd (nor cost root a check) again and again. The
 * first refusal waits ACME_CUSTODY_BACKOFF_MIN, each further one twice as
 * long, at most ACME_CUSTODY_BACKOFF_MAX; a successful activation clears it.
 * keys/<name>/refused.json (root, 0600): {"count": refusals in a row,
 * "until": seconds since 1970, "at": the latest refusal, seconds since
 * 1970, "exempted": the key id whose exemption was used
 * (acme_custody_backoff_exempt), absent when none; "key", "key_count",
 * "key_at": the refusals of entries for root's current key,
 * acme_custody_refused_key}. */
#define ACME_CUSTODY_BACKOFF_MIN apr_time_from_sec(30)
#define ACME_CUSTODY_BACKOFF_MAX apr_time_from_sec(3600)
/* Until when staged entries of name are not acted upon (0: not held back). */
apr_time_t acme_custody_refused_until(acme_store_t *store, apr_pool_t *p, const char *name);
/* The same and the number of refusals in a row (*count 0 when none). Reads
 * only. */
apr_time_t acme_custody_refused_info(acme_store_t *store, apr_pool_t *p, const char *name,
                                     int *count);
/* Root: when keys/<name>/refused.json is gone (removed by hand, as ACME00743
 * offers), its public copy refused/<name>.json goes too (only then: a file
 * that cannot be read now keeps it). Temporaries in p. */
void acme_custody_refused_shown_tidy(acme_store_t *store, apr_pool_t *p, const char *name);
/* Records one refusal at now; the new time until which name is held back. */
apr_time_t acme_custody_refused(acme_store_t *store, apr_pool_t *p, const char *name,
                                apr_time_t now);
/* A refusal for the OpenSSL security level of the vhosts serving the
 * name: the CA would issue the same kind of chain again, so no new order is
 * made while the level and what the chain depends on stay (acme_driver.c):
 * the key type, the CA, AcmePreferredChain and AcmeProfile. A start where
 * one of them changed drops the record (acme_certs_activate.c). In
 * refused.json and its public copy: "seclevel", "key_type", "weak",
 * "reason", "ca", "preferred_chain", "profile". */
typedef struct acme_custody_level_t {
    int level;                  /* the level it was refused at */
    const char *key_type;       /* the configured key type: "ec-p256" */
    const char *weak;           /* "intermediate 1 (RSA-2048)" (acme_certverify_weak_cert) */
    const char *reason;         /* the refusal as logged */
    /* What the chain depends on besides the key type, as configured for
     * the domain ("" none; NULL: not recorded, by an older version, and
     * then not compared): */
    const char *ca;             /* the AcmeCA directory URLs, space-separated */
    const char *preferred_chain; /* AcmePreferredChain */
    const char *profile;        /* AcmeProfile */
    apr_time_t since;           /* the first level refusal of the series (refusals
                                 * in a row, the record kept): 0 not recorded */
} acme_custody_level_t;
/* How long a refusal for the security level holds new orders, from the
 * latest refusal: then one new certificate is ordered (a CA changes the
 * chain it issues without anything configured here changing, and a name
 * must not wait for ever), and a chain refused again holds as long again.
 * Every refused chain is a certificate the CA issued for the same names:
 * Let's Encrypt allows 5 of those per 7 days
 * (https://letsencrypt.org/docs/rate-limits/, "New Certificates per Exact
 * Set of Identifiers"); this costs one a week. */
#define ACME_CUSTODY_LEVEL_HOLD apr_time_from_sec(7 * 86400)
/* What the public copy refused/<name>.json (the child, the status page and
 * acmectl read it) records of name's refusals, read at once
 * (acme_custody_refusal_read). Strings in the pool given to it. */
typedef struct acme_custody_refusal_t {
    /* The series of refusals in a row of name's staged chains: at, the
     * latest (a level refusal's "since" in a record an older version wrote
     * without "at"), and count (>= 1); at 0 and count 0 when there is none
     * or its "at" is gone (acme_custody_level_drop: what the chain depended
     * on changed, so nothing is waited out). */
    apr_time_t at;
    int count;
    /* The series of refusals of entries for one key (acme_custody_refused_key):
     * key, its id (csr/<name>.json's "key" then), key_at the latest and
     * key_count (>= 1) in a row; key NULL, key_at 0 and key_count 0 when
     * the record has none. */
    const char *key;
    apr_time_t key_at;
    int key_count;
    /* The reason of the latest refusal as the parent gave it (the same text
     * as ACME00301's, at most 400 bytes), NULL when none is recorded. */
    const char *reason;
    /* 1 when the latest refusal was one for the security level, in level
     * (as acme_custody_level_refusal reads it), else 0. */
    int leveled;
    acme_custody_level_t level;
} acme_custody_refusal_t;
/* Reads refused/<name>.json once into *refusal: APR_SUCCESS when there is a
 * record (each field as above, 0/NULL when it records none), APR_ENOENT when
 * there is none (the file missing, unreadable or no JSON object), APR_EINVAL
 * for a name that is no store name; *refusal is zeroed but for
 * APR_SUCCESS's fields. Reads only; strings in p. */
apr_status_t acme_custody_refusal_read(acme_store_t *store, apr_pool_t *p, const char *name,
                                       acme_custody_refusal_t *refusal);
/* When the security-level hold of name ends: the latest refusal's time
 * (acme_custody_refusal_t's at) + ACME_CUSTODY_LEVEL_HOLD, when the public
 * copy records a level refusal and the refused entry is still in staging
 * ("rejected"); 0 when nothing holds name for its level. Reads only;
 * temporaries in p. */
apr_time_t acme_custody_level_hold_end(acme_store_t *store, apr_pool_t *p, const char *name);
/* While that hold lasts at now, what a start says of name's temporary
 * certificate and its 503 ("while NAME is held ... no new order before
 * TIME ..."), in p; NULL when nothing holds it. */
const char *acme_custody_level_hold_said(acme_store_t *store, apr_pool_t *p, const char *name,
                                         apr_time_t now);
/* Sets what a chain depends on into level (key type not touched): ca_urls
 * (const char *, may be NULL) joined by spaces, preferred_chain and profile
 * (NULL: none). Strings in p. */
void acme_custody_level_depends(apr_pool_t *p, acme_custody_level_t *level,
                                const apr_array_header_t *ca_urls, const char *preferred_chain,
                                const char *profile);
/* What the chain of the refusal was depended on and is no longer so in
 * now: "the key type", "AcmeCA", "AcmePreferredChain" or "AcmeProfile" (the
 * first that differs; a field was has not recorded is not compared), NULL
 * when all are the same. The level is not compared. */
const char *acme_custody_level_changed(const acme_custody_level_t *was,
                                       const acme_custody_level_t *now);
/* acme_custody_refused, with the level refusal recorded (level NULL: it is
 * not one; a later refusal of another kind drops it). level->since is not
 * read: the record's "since" is kept from a level refusal recorded before
 * (the series goes on), else now. */
apr_time_t acme_custody_refused_level(acme_store_t *store, apr_pool_t *p, const char *name,
                                      apr_time_t now, const acme_custody_level_t *level);
/* acme_custody_refused_level, with what the refused entry's leaf carried:
 * key_id, root's current key id for name (csr/<name>.json's "key") when the
 * leaf carries that key, else NULL (another key, or no leaf could be read).
 * A refusal that is not for the level (level NULL) with key_id counts one
 * more in that key's series ("key", "key_count": refusals in a row of
 * entries for it, "key_at": the latest, seconds since 1970; a new key starts
 * a series); without key_id the series is kept as it was. A level refusal
 * drops the series (the level hold governs), as acme_custody_level_drop
 * does. The issuing child waits out the series (acme_driver.c). why (may be
 * NULL): the reason of a refusal that is not for the level, kept as
 * "reason" (at most 400 bytes, never half a UTF-8 character,
 * acme_text_cut_len) for the child to show. Returns the end of
 * the activation backoff (apr_time_t). */
apr_time_t acme_custody_refused_key(acme_store_t *store, apr_pool_t *p, const char *name,
                                    apr_time_t now, const acme_custody_level_t *level,
                                    const char *key_id, const char *why);
/* The level refusal of name, from root's refused.json or (shown: the
 * child, the status page, acmectl) its public copy: APR_SUCCESS with *level
 * (strings in p), APR_ENOENT when the last refusal was not one (or none). */
apr_status_t acme_custody_level_refusal(acme_store_t *store, apr_pool_t *p, const char *name,
                                        int shown, acme_custody_level_t *level);
/* In words, with the fix, in p: "refused at OpenSSL security level 3:
 * intermediate 1 (RSA-2048) too weak (key type ec-p256); lower @SECLEVEL
 * ...". */
const char *acme_custody_level_said(apr_pool_t *p, const acme_custody_level_t *level);
/* Root: the level refusal of name ends (what it depended on changed, or
 * its refused entry is gone): the record is written again without its
 * level fields and its key series, the backoff and its used exemption kept (a planted entry
 * is still held back), in root's file and its public copy. APR_ENOENT
 * when there is no record. */
apr_status_t acme_custody_level_drop(acme_store_t *store, apr_pool_t *p, const char *name);
/* Root: the backoff ends (a successful activation); its public copy goes too. */
void acme_custody_refused_clear(acme_store_t *store, apr_pool_t *p, const char *name);

/* One name's backoff as refused/<name>.json shows it to anyone (the status
 * page runs as the User, who cannot read keys/): until (apr_time_t) and the
 * refusals in a row. */
typedef struct acme_custody_held_t {
    apr_time_t until;
    int count;
} acme_custody_held_t;
/* The backoffs that hold names at now: store name -> acme_custody_held_t,
 * from p (empty when none, or refused/ cannot be read). One listing of
 * refused/ and one read per name held. */
apr_hash_t *acme_custody_refused_shown(acme_store_t *store, apr_pool_t *p, apr_time_t now);

/* The exemption, once per key: does the first certificate of
 * staging/<name>/cert.pem carry the public key of root's current key for
 * name (the "spki" bytes csr/<name>.json records), and has no staged entry
 * of name used that key's exemption yet? Then the backoff does not hold
 * this entry back: it is checked as any other. A certificate for root's key
 * comes from the CA (only root can sign a CSR for it, and root publishes
 * one, for the configured names), so a genuine renewal staged after a
 * planted entry was refused need not wait out the backoff. Anyone can put
 * the public bytes into a forged certificate, though: such an entry is
 * refused by the check like any other and uses the exemption up
 * (acme_custody_backoff_exempt_use), so a forger gets one check per key,
 * and a key changes only when a certificate for it goes live. No OpenSSL (the
 * parent's activation thread calls it): a byte comparison of the decoded
 * PEM. cert.pem is read up to ACME_MAX_CHAIN_BYTES. 1 or 0; with 1, *key_id
 * (in p, may be NULL) the key's id. */
int acme_custody_backoff_exempt(acme_store_t *store, apr_pool_t *p, const char *name,
                                const char **key_id);
/* Records that the exemption of key_id (acme_custody_backoff_exempt) was
 * used up for name: an entry it let through was refused. One that passes
 * uses nothing: it goes live, and its activation clears the backoff.
 * APR_ENOENT when name has no backoff, else the store's errors. */
apr_status_t acme_custody_backoff_exempt_use(acme_store_t *store, apr_pool_t *p,
                                             const char *name, const char *key_id);

/* keys/ must be a directory of this user's, closed to everyone else; a
 * missing one is made (0700). APR_EACCES for anything else (a link, someone
 * else's directory): nothing is written into it. */
apr_status_t acme_custody_keys_dir(acme_store_t *store, apr_pool_t *p);
#endif
