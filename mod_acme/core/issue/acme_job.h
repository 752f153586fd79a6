#ifndef ACME_JOB_H
#define ACME_JOB_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include "acme_core.h"
#include "acme_crypto.h"
#include "acme_cert.h"
#include "acme_store.h"
#include "acme_policy.h"
#include "acme_status_record.h"

/* One managed certificate, as configured. */
typedef struct acme_domain_t {
    const char *name;                 /* store name (acme_name_store_key): first name, or
                                       * "<first name>+<type>" for a further AcmeKeyType */
    apr_array_header_t *names;        /* const char*, lowercase, in AcmeDomain order */
    acme_key_type_e key_type;
    int agree_tos;                    /* next to key_type: no padding (one per domain) */
    int answer_rsa;                   /* tls-alpn-01 answers carry an RSA pair too: another
                                       * key type of the vhost is RSA (its TLS 1.2 ciphers
                                       * may be for RSA keys alone); not in the JSON */
    apr_array_header_t *ca_urls;      /* const char*, failover order (AcmeCA) */
    const char *ca_file;              /* trust anchors for TLS to the CA, NULL = system */
    apr_array_header_t *contacts;     /* const char* "mailto:..." */
    apr_array_header_t *challenges;   /* const char*, preference order, e.g. "http-01" */
    const char *profile;              /* NULL = none */
    const char *preferred_chain;      /* AcmePreferredChain: issuer CN of the top
                                       * certificate of the chain to use; NULL = the
                                       * CA's default chain */
    acme_window_t renew_window;       /* AcmeRenewWindow */
    acme_window_t warn_window;        /* AcmeWarnWindow [10%] */
    apr_time_t config_changed_at;     /* when this domain's configuration last changed
                                       * (names, key type, CA, windows); 0 = unknown.
                                       * A window covering the whole lifetime ("100%")
                                       * renews certificates issued before this time. */
    const char *dns_cmd;              /* AcmeDnsCmd program (dns-01), NULL = none */
    const char *dns_resolver;         /* AcmeDnsResolver host[:port], NULL = system resolver */
    const char *eab_kid;              /* AcmeEAB key id, NULL = none */
    const char *eab_hmac;             /* AcmeEAB MAC key, base64url; never logged or shown */
} acme_domain_t;

json_t *acme_job_domain_to_json(const acme_domain_t *domain);
apr_status_t acme_job_domain_from_json(apr_pool_t *p, json_t *json, acme_domain_t **domain);

/* Where http-01 answers go: the module publishes them in shared memory, a
 * test in a table. Only tokens published here are ever answered. publish
 * and publish_tls_alpn return APR_SUCCESS, APR_EAGAIN when the answer
 * cannot be put everywhere the CA's request may land yet (AcmeCluster with
 * Redis unreachable): the job waits, with growing pauses, and does not ask
 * the CA to validate; any other error fails the attempt. Called from the
 * driver's run, one call at a time (one writer), from any of its threads
 * with acme_driver_wire_at_once. */
typedef struct acme_challenge_sink_t {
    apr_status_t (*publish)(void *baton, const char *token, const char *key_authorization);
    void (*withdraw)(void *baton, const char *token);
    /* tls-alpn-01 (RFC 8737): the self-signed answer for one identifier, served
     * in the handshake of an "acme-tls/1" connection for that name: PEM, an
     * EC P-256 certificate and key, for a domain of an RSA key type followed
     * by an RSA-2048 certificate and key (the keys in the certificates'
     * order). owner: the domain (store name) whose order answers; the
     * answer is withdrawn with the same owner, and an answer of another
     * owner is never replaced or withdrawn. publish_tls_alpn also returns
     * APR_EBUSY when another owner's answer for identifier stands where
     * the CA may connect (another cluster node's order), or may be about
     * to stand again (Redis lost its data: the cluster's claim grace): the
     * job withdraws its answers and waits. NULL when the host cannot answer tls-alpn-01. */
    apr_status_t (*publish_tls_alpn)(void *baton, const char *identifier, const char *owner,
                                     const char *cert_pem, const char *key_pem);
    void (*withdraw_tls_alpn)(void *baton, const char *identifier, const char *owner);
    void *baton;
    /* Until when (apr_time_t) the CA must not be asked to validate an
     * http-01 or tls-alpn-01 answer now (the server is about to restart, its
     * listeners unanswered for a while), 0: it may. The job waits and asks
     * again every ACME_ANSWER_HOLD_RECHECK at most. NULL: never held. */
    apr_time_t (*held_until)(void *hold_baton, apr_time_t now);
    void *hold_baton;
} acme_challenge_sink_t;

/* Issuance steps; the job is persisted in jobs/<name>.json after each one so a
 * crashed run resumes where it stopped. */
typedef enum {
    ACME_STEP_IDLE = 0,     /* nothing to do: certificate good until the renewal time */
    ACME_STEP_ACCOUNT,      /* find or create the account */
    ACME_STEP_ORDER,        /* create the order */
    ACME_STEP_AUTHORIZE,    /* fetch authorizations, publish answers, respond */
    ACME_STEP_VALIDATE,     /* poll authorizations until valid */
    ACME_STEP_FINALIZE,     /* generate key, send CSR */
    ACME_STEP_CERTIFICATE,  /* poll order, download and check the chain */
    ACME_STEP_STAGED        /* chain in staging, waiting for activation */
} acme_step_e;

const char *acme_job_step_name(acme_step_e step);

/* How a step ended; with the step it decides the next one (acme_job_step_after). */
typedef enum {
    ACME_OUTCOME_DONE = 0,      /* step complete: go on */
    ACME_OUTCOME_WAIT,          /* the CA is not there yet: same step, later */
    ACME_OUTCOME_FAILED,        /* back off, then start over from the account */
    ACME_OUTCOME_NEW_ACCOUNT,   /* the CA no longer knows our account: find/create it now */
    ACME_OUTCOME_NEW_ORDER      /* the order is gone or invalid: create another now */
} acme_outcome_e;

/* The transition table of the issuance state machine. */
acme_step_e acme_job_step_after(acme_step_e step, acme_outcome_e outcome);

/* Why a certificate must be ordered, or ACME_RENEW_NONE. */
typedef enum {
    ACME_RENEW_NONE = 0,        /* the live certificate is fit */
    ACME_RENEW_NO_CERT,
    ACME_RENEW_NAMES,
    ACME_RENEW_KEY_TYPE,
    ACME_RENEW_WINDOW,
    ACME_RENEW_REQUESTED,
    ACME_RENEW_CA,              /* issued by a CA no longer in AcmeCA */
    ACME_RENEW_ARI              /* the time the CA's renewal information suggested */
} acme_renew_reason_e;

const char *acme_job_renew_reason_str(acme_renew_reason_e reason); /* "no certificate", ... */

/* Where a live certificate came from (meta.json next to it). */
typedef struct acme_cert_origin_t {
    const char *ca_url;          /* directory URL, NULL = unknown */
    apr_time_t issued_at;        /* when it was obtained, 0 = unknown */
    const apr_array_header_t *names; /* the names it was ordered for, NULL = unknown */
} acme_cert_origin_t;

/* Is the live certificate (info NULL: none; key_type its public key's type, or
 * -1 when not one of ours; origin NULL = unknown) fit for domain at now? Names
 * (every configured name covered; a name none covers only when it was ordered
 * for other names than the domain's, or, not knowing, when it is older than
 * domain->config_changed_at), key type, CA (not in domain->ca_urls at all), then the renewal window
 * (acme_policy_due_at with domain->config_changed_at, spread by the serial
 * number with acme_policy_spread). *renew_at receives the time it is due by
 * the window (0 without a certificate). */
acme_renew_reason_e acme_job_cert_fitness(const acme_domain_t *domain, const acme_cert_info_t *info,
                                          int key_type, const acme_cert_origin_t *origin,
                                          apr_time_t now, apr_time_t *renew_at);

/* When the live certificate info of domain is due for renewal, as the
 * status page and acmectl show it (apr_time_t; 0 without info: a first
 * certificate renews nothing). The time rec (the status record, NULL
 * without) chose, when it is about that certificate (its serial); else the
 * renewal window's (acme_job_cert_fitness). Never the driver's next look:
 * a record written before the certificate went live has only that. */
apr_time_t acme_job_renew_at_shown(const acme_domain_t *domain, const acme_cert_info_t *info,
                                   const acme_status_record_t *rec);


/* Drives every domain: decides what needs a certificate (missing, names or key
 * type changed, renewal window reached), runs the steps, backs off on failure,
 * writes status/<name>.json. Used by the watchdog and by acmectl renew. */
typedef struct acme_driver_t acme_driver_t;

apr_status_t acme_driver_create(acme_driver_t **driver, apr_pool_t *p, const acme_ctx_t *ctx,
                                acme_store_t *store, const acme_challenge_sink_t *sink,
                                const char *user_agent);
/* Makes the driver verify every chain the CA sends, before staging it, to
 * the anchors activation uses: the system's store, these PEM files
 * (AcmeTrustedRootsFile; const char*, may be NULL; must outlive the driver)
 * and the domain's ca_file. Without this call (acmectl) only activation
 * verifies. Anchors this process cannot read leave the check to activation. */
void acme_driver_verify_chains(acme_driver_t *driver, const apr_array_header_t *trusted_roots);
/* Lets up to n requests of different orders be on the wire at once in a
 * run (at most ACME_WIRE_MAX; n <= 1: one at a time, the default): the run's
 * names are then looked at by that many threads (APR threads of p's
 * process), which take turns under one lock for everything but the
 * exchange itself; each has its own HTTP client, and its own client (and
 * nonces) per CA with the CA's one account. The gate, the sink, the store
 * and the log are then called from any of those threads, one at a time.
 * APR_SUCCESS; the failure to make the lock (then one at a time). */
#define ACME_WIRE_MAX 4
apr_status_t acme_driver_wire_at_once(acme_driver_t *driver, int n);
/* Advances every due domain (acme_domain_t*) as far as it can without waiting.
 * *next_run: earliest time any domain needs attention again. *staged: number of
 * certificates newly staged by this call. Never blocks longer than one request's
 * timeout per step; never fails because one domain failed. */
apr_status_t acme_driver_run(acme_driver_t *driver, const apr_array_header_t *domains,
                             apr_pool_t *ptemp, apr_time_t *next_run, int *staged);
/* When the last acme_driver_run wants to look for acmectl renew --now
 * (jobs/<name>.now) because a name backs off after failed attempts: within
 * ACME_MARKER_POLL (30 s) of that run, which a host's next run should not
 * come after; 0 when no name backs off. Left out of acme_driver_run's
 * next_run, which stays the earliest time a name needs attention. */
apr_time_t acme_driver_run_backoff_look(const acme_driver_t *driver);
/* AcmeMaxParallel: how many orders may be in flight at once, and how fast
 * new orders may start per CA. */
#define ACME_MAX_PARALLEL_DEFAULT 50
typedef struct acme_pacing_t {
    int max_parallel;               /* orders in flight at once; <= 0 = the default */
    int orders;                     /* new orders per window per CA; 0 = the CA's published
                                     * limit (Let's Encrypt: 300 per 3 hours), none for others */
    apr_interval_time_t window;
} acme_pacing_t;
/* Applies pacing to every later acme_driver_run. Domains that may not start
 * yet stay "missing"/"renewing" with the status activity "queued, starts at
 * <time>" (RFC 3339) and next_action at that time. */
void acme_job_pace_set(acme_driver_t *driver, const acme_pacing_t *pacing);
/* The status activity of a domain whose new order waits because the CA
 * refused one of the account's with 429 rateLimited (RFC 8555 §6.6),
 * followed by the end of that wait (RFC 3339), also its next_action. */
#define ACME_ACTIVITY_ORDERS_PAUSED "CA rate limit: new orders wait until "
/* Status activity of a name waiting for its turn under AcmeMaxParallel's
 * pace, followed by the RFC 3339 time its order is expected to start. */
#define ACME_ACTIVITY_QUEUED "queued, starts at "
/* Status activity of a name held back while its CA does not answer,
 * followed by the RFC 3339 time since when, the last failure in
 * parentheses and "; next try at T". */
#define ACME_ACTIVITY_CA_DOWN "waiting for the CA, unreachable since "
/* Who may order a certificate when several servers share its names
 * (AcmeCluster): one at a time. Without a gate the store lock alone decides.
 * All three are called from the driver's run, one call at a time (from any
 * of its threads with acme_driver_wire_at_once). */
typedef struct acme_order_gate_t {
    /* Before a job starts (or resumes) for domain. live_serial: the live
     * certificate's serial (hex), "" without one. APR_SUCCESS: go, the claim
     * is held until end; APR_EAGAIN: not now (another server orders it, or a
     * certificate it ordered is on its way here, or the gate cannot tell):
     * look again at *retry_at, *why (may stay NULL) says which. */
    apr_status_t (*begin)(void *baton, const acme_domain_t *domain, const char *live_serial,
                          apr_time_t *retry_at, const char **why, apr_pool_t *p);
    /* After every step of a running job, and right before a step that
     * creates an order at the CA (RFC 8555 §7.4 newOrder): the claim kept
     * alive and confirmed still this server's. APR_EAGAIN when it was
     * lost, any other error when the gate cannot tell (the store of claims
     * does not answer): either way the job stops where it is (before the
     * new order), its state kept, and begins again later. */
    apr_status_t (*keep)(void *baton, const acme_domain_t *domain, apr_pool_t *p);
    /* The job ended: staged = 1 when its certificate is in staging now. */
    void (*end)(void *baton, const acme_domain_t *domain, int staged, apr_pool_t *p);
    void *baton;
} acme_order_gate_t;

/* Installs gate (copied); NULL removes it. */
void acme_driver_set_gate(acme_driver_t *driver, const acme_order_gate_t *gate);
/* The account of ca_url cached in memory is dropped: its next job loads key
 * and URL from the store again (a gate wrote another account there, the one
 * of an order it resumes). Call from the driver's thread (a gate's begin). */
void acme_driver_forget_account(acme_driver_t *driver, const char *ca_url);
/* An order record (jobs/<name>.json, parsed) taken over from another
 * cluster node: the pid, start_ticks and since of its dns-01 setups are
 * removed, in place. They name processes on that node's machine; here the
 * same pid is another process, which a resume, a discard or the sweep
 * would stop as the setup (acme_proc_group_stop), and acmectl would show
 * as the setup running. The setups stay, for their teardown. Returns how
 * many setups had them. */
int acme_dns01_record_foreign(json_t *record);

/* Asks the run in progress (on another thread) to end after the step it is
 * in, its state saved as after every step, and every later run to do nothing:
 * the process is about to exit, and an exit under a running step would cut a
 * write or a request short. Safe from any thread; a run ends at the latest
 * one request's timeout later. */
void acme_driver_stop(acme_driver_t *driver);

/* The process exits (after acme_driver_stop, with no run in progress): the
 * dns-01 setup hooks still running are stopped, each its process group (up
 * to ACME_PROC_KILL_GRACE each), so none outlives the process unwatched;
 * their teardowns follow from jobs/<name>.json (whoever resumes or abandons
 * the order). Teardowns still running get that long to end, then are
 * stopped together (SIGTERM to all, one shared ACME_PROC_KILL_GRACE, then
 * SIGKILL) and left for the next start (jobs/.teardowns.json). Call
 * from the thread that ran the driver or once runs ended. */
void acme_driver_child_exit(acme_driver_t *driver);

/* status/<name>.json: schema and codec in acme_status_record.h. */
#endif
