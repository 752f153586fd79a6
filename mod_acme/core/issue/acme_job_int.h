/* Internals shared by the files of the issue layer: the driver
 * (acme_driver.c), its CA registry (acme_ca.c) and domain table
 * (acme_record.c), the issuance steps (acme_job*.c), renewal decisions
 * (acme_renewal.c) and dns-01 (acme_dns01.c). Not part of libacme's
 * interface. */
#ifndef ACME_JOB_INT_H
#define ACME_JOB_INT_H
#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include "acme_job.h"
#include "acme_client.h"
#include "acme_status_record.h"
#include "acme_changes.h"

/* Polls start this fast and slow down to ACME_POLL_MAX (acme_driver.c). */
#define ACME_POLL_INITIAL apr_time_from_msec(500)
/* Two waits the CA usually ends within milliseconds get fast polls: the
 * authorizations after the CA refused the finalize sent right after the
 * challenges (orderNotReady: it had not validated yet), and the order found
 * "processing" after the finalize (the certificate not signed yet). The
 * first poll comes ACME_POLL_FAST later, then twice as late each time,
 * ACME_POLL_FAST_MAX such polls (20, 40, 80 ms: 140 ms in all), then at
 * ACME_POLL_INITIAL and doubling as usual; once per job and kind of wait. A
 * CA that is done in milliseconds (Pebble validates 10-20 ms after the
 * challenge's response) is seen done at the first; one that takes seconds
 * gets those 3 polls more per certificate. A Retry-After the CA sends is
 * waited for instead (RFC 8555 §7.5.1: the client polls; the server MAY say
 * how often). The module's watchdog naps in place for waits this short
 * (acme_watchdog.c): mod_watchdog itself wakes in 100 ms slices. */
#define ACME_POLL_FAST apr_time_from_msec(20)
#define ACME_POLL_FAST_MAX 3
#define ACME_FAST_NOT_READY  1      /* acme_job_t.fast_given: the authorizations */
#define ACME_FAST_PROCESSING 2      /* ... the order after the finalize */

/* One CA directory URL: its client and account, shared by every domain using it. */
#define ACME_CA_ACCEPTED_KEPT 64

typedef struct acme_ca_t {
    const char *url;
    acme_client_t *client;
    EVP_PKEY *account_key;
    const char *kid;
    int account_ready;              /* the client holds key and kid */
    /* dns-persist-01 issuer domain names of a CA whose directory has none
     * (draft -01), learnt from its challenges; NULL until then */
    apr_array_header_t *persist_issuers;
    unsigned unreachable_run;       /* the driver run in which it could not be reached */
    /* Since when no request got an HTTP answer from it (0: the last one
     * did), and the last such failure's detail (cut) */
    apr_time_t unreachable_since;
    char unreachable_error[160];
    /* Renewal information (RFC 9773 §4.3.3): after a request got no answer,
     * no name asks this CA again before ari_down_until (exponential backoff,
     * ari_down_len the current step); 0 = it answered last time. */
    int ari_failures;
    apr_time_t ari_down_until;
    apr_interval_time_t ari_down_len;
    /* While it does not answer, one name (ari_prober) asks again at
     * ari_probe_at; the others wait parked (acme_ari_state_t.parked_on) until
     * it answers, so a CA down for hours costs one look per backoff step
     * instead of one per name. ari_parked: a name is parked on it. */
    struct acme_record_t *ari_prober;
    apr_time_t ari_probe_at;
    int ari_parked;
    /* It answered a renewalInfo request with 404: it has no renewal
     * information for that certificate (RFC 9773 §4.2: the client decides
     * itself). Said once at warn level for the CA, then at debug. */
    int ari_absent_said;
    apr_time_t directory_stale_at;  /* when a failure last asked for a directory re-read */
    const char *ca_file;            /* its TLS trust anchors (AcmeCACertificateFile),
                                     * NULL: the system's */
    /* When it accepted its last ACME_CA_ACCEPTED_KEPT new orders (0: none;
     * a ring, accepted_next the oldest), for the pace learned from a 429
     * (acme_job_pace_learned.c) */
    apr_time_t accepted[ACME_CA_ACCEPTED_KEPT];
    int accepted_next;
} acme_ca_t;

/* A published answer waiting for its authorization to be validated. */
typedef struct acme_pending_t {
    const char *authz_url;
    const char *identifier;
    const char *token;
    const char *type;               /* challenge type answered, e.g. "http-01" */
    const char *owner;              /* tls-alpn-01: its domain (sink owner), NULL: unknown */
} acme_pending_t;

/* One issuance in progress. Lives in its own pool, which also holds the
 * store lock, so ending the job releases everything at once. */
typedef struct acme_job_t {
    apr_pool_t *pool;
    acme_step_e step;
    acme_renew_reason_e reason;
    apr_time_t started;
    const char *fingerprint;        /* what it was started for: names, key type, CAs, profile */
    const char *ca_url;             /* the CA it talks to (failover picks it) */
    const char *replaces;           /* ARI certificate ID of the certificate it renews, or NULL */
    const char *order_url;
    const char *finalize_url;
    const char *cert_url;
    apr_array_header_t *authz_urls; /* const char*, of the order */
    apr_array_header_t *pending;    /* acme_pending_t*, published and responded to */
    apr_hash_t *tlsalpn_keys;       /* its tls-alpn-01 claims' keys (lower case, pool) */
    apr_hash_t *authz_ids;          /* authz URL -> identifier (acme_job_authz.h), or NULL */
    apr_hash_t *answered;           /* authz URL -> the acme_pending_t* last made for it
                                     * (acme_job_steps.c), in pool; NULL: none yet */
    apr_interval_time_t poll_interval;
    int fast_polls;                 /* fast polls left in the current wait */
    int fast_given;                 /* ACME_FAST_* bits: those waits had their fast polls */
    int ca_polls;                   /* polls of the CA in the current step's wait */
    apr_time_t ca_wait_since;       /* when that wait began, 0 = not waiting */
    int account_retried;
    struct acme_dns01_set_t *dns01; /* dns-01 answers of the order (acme_dns01.c) */
    json_t *dns01_recorded;         /* a resumed order's record's "dns01": setups an earlier
                                     * process ran, whose teardown is owed (job->pool's) */
    const char *activity;           /* what it waits for (status "activity"), or NULL */
    unsigned activity_seq;          /* bumped when activity changes */
    int persist_checks;             /* dns-persist-01 lookups before the order, for the backoff */
    apr_time_t persist_looked_at;   /* when the last of them found the record missing or wrong */
    const char *persist_said;       /* what the last such log line asked for */
    int order_ready;                /* every authorization seen valid: finalize without
                                     * asking for the order first (RFC 8555 §7.1.6) */
    int probed;                     /* finalize was tried right after the challenges */
    int finalized;                  /* and the CA took it: the order is processing */
    int keep_order;                 /* a failure keeps the order (jobs/<name>.json): its
                                     * certificate is fetched again at the next attempt */
    const char *saved_order;        /* the order URL jobs/<name>.json holds, or NULL */
    int saved_at_certificate;       /* and whether it was written at step certificate */
    unsigned hooks_seq;             /* bumped when a dns-01 setup starts or the setups are
                                     * torn down (acme_dns01.c) */
    unsigned saved_hooks;           /* hooks_seq when jobs/<name>.json was written */
} acme_job_t;

#define ACME_ERR_TYPE_MAX   128
#define ACME_ERR_DETAIL_MAX 1024
#define ACME_ERR_URL_MAX    512
#define ACME_ARI_ID_MAX     256

/* What ARI said about the live certificate (jobs/.ari/<name>.json). */
typedef struct acme_ari_state_t {
    const char *serial;             /* the certificate it is about; "" = nothing loaded;
                                     * ACME_REC_SERIAL_MAX (a record's text slot: no 80
                                     * bytes in each record of a domain without one) */
    apr_time_t start, end;          /* suggested window, 0 = none (CA without ARI) */
    apr_time_t chosen;              /* renewal time drawn from the window, 0 = none */
    apr_time_t next_poll;           /* no request before this */
    apr_time_t retry_at;            /* the CA was unreachable: not before this either
                                     * (memory only: nothing learnt, nothing written) */
    const struct acme_ca_t *parked_on; /* waiting for this CA to answer again, which
                                     * sets retry_at (memory only); NULL = not parked */
} acme_ari_state_t;

/* Per-domain memory of the driver. Its strings are sized to what they hold
 * and set only with acme_record_text_set, which reuses their memory while the new
 * text fits, so months of retries do not grow the driver's pool; each is at
 * most its ACME_REC_*_MAX - 1 bytes (longer text is cut), "" when unset. */
#define ACME_REC_ISSUER_MAX 256
#define ACME_REC_SERIAL_MAX 80
#define ACME_REC_NOTE_MAX   256
#define ACME_REC_QUEUED_MAX 320
typedef struct acme_record_t {
    const char *name;
    apr_pool_t *pool;               /* the driver's: its strings' memory */
    apr_time_t next_run;
    apr_time_t queued_at;           /* its estimated start while paced (acme_job_pace.c),
                                     * 0 = not queued in this process */
    apr_uint64_t queued_seq;        /* its place in the queue: the driver's pace_seq when it
                                     * joined (acme_job_pace_order) */
    int queued_for_slot;            /* queued only for a free AcmeMaxParallel slot (not for
                                     * the CA's pacer): looked at in the first run that has
                                     * one, before its estimated start */
    apr_time_t paced_full_at;       /* admitted then with the CA's bucket full: its newOrder
                                     * starts the bucket (acme_job_pace_sent); 0 = not */
    const char *state;              /* missing valid renewing staged error */
    acme_job_t *job;
    acme_failover_t failover;       /* which CA of domain->ca_urls, and its failures */
    apr_time_t cert_not_before;
    apr_time_t cert_not_after;
    apr_time_t cert_issued_at;      /* meta.json issued_at, 0 = unknown */
    apr_time_t renew_at;            /* due by window or ARI, whichever is earlier */
    const char *cert_issuer;        /* ACME_REC_ISSUER_MAX */
    const char *cert_serial;        /* ACME_REC_SERIAL_MAX */
    const char *cert_ca;            /* directory URL it came from, "" = unknown; ACME_ERR_URL_MAX */
    const char *cert_ari_id;        /* "" = none; ACME_ARI_ID_MAX */
    const char *replaces_refused;   /* the CA refused an order replacing it; "" = none;
                                     * ACME_ARI_ID_MAX */
    acme_ari_state_t ari;
    apr_time_t expiring_posted_at;  /* the last ACME_EVENT_EXPIRING */
    apr_time_t error_at;
    apr_time_t failing_since;       /* the first failure since the last success, 0 = none */
    const char *error_type;         /* ACME_ERR_TYPE_MAX */
    const char *error_detail;       /* ACME_ERR_DETAIL_MAX */
    const char *error_url;          /* ACME_ERR_URL_MAX */
    apr_uint64_t status_written;    /* digest (acme_record_text_digest) of what the status
                                     * file last said, 0 = not written in this run */
    const char *notice;             /* status "notice": e.g. an AcmeProfile the CA ignores;
                                     * ACME_REC_NOTE_MAX */
    const char *queued;             /* status activity while it waits: "queued, starts at
                                     * T", the CA's rate limit, the CA not answering;
                                     * ACME_REC_QUEUED_MAX */
    apr_uint64_t wait_told;         /* digest of the gate's reason last logged (ACME01176),
                                     * 0 = none since the last start */
    apr_time_t wait_told_at;
    /* the ints last, next to each other: no padding between them (one
     * record per domain) */
    int attempts;                   /* failures since the last success */
    int requests;                   /* ACME requests for the current certificate */
    int force;                      /* renewal requested */
    int restored;                   /* status file read back after a restart */
    int has_cert;
    int warning;                    /* inside the warn window and renewal keeps failing */
    int error_kind;                 /* acme_problem_kind_e of the last failure */
    int profile_warned;             /* that notice was logged in this run */
    apr_time_t refusal_told;        /* the refusal whose wait was logged in this run
                                     * (ACME01292, ACME01220): its time */
    int refusals;                   /* this child's staged entries refused in a row in this
                                     * run (not reset by an issuance; acme_driver.c) */
    apr_time_t refused_until;       /* no order before this after such a refusal */
    int yielded;                    /* challenges answered in this run's first pass: the
                                     * rest of its order waits for the second */
} acme_record_t;

/* A thread of a run that sends requests (acme_driver_wire.c); slot 0 is the
 * run's own thread, which uses the driver's context and each CA's client. */
typedef struct acme_wire_slot_t {
    struct acme_driver_t *driver;
    int index;
    acme_ctx_t ctx;                 /* slot > 0: the driver's, with its own HTTP client */
    apr_pool_t *pool;               /* slot > 0: its clients; only used under the lock */
    apr_hash_t *clients;            /* slot > 0: CA URL -> its client of that CA */
    int released;                   /* let go of the lock for the request on the wire */
    struct acme_wire_each_t *each;  /* the work of the current acme_driver_wire_each */
} acme_wire_slot_t;

/* One domain in the driver's schedule (acme_job_sched.c). */
typedef struct acme_sched_entry_t {
    apr_time_t at;                  /* its rec->next_run when scheduled */
    int index;                      /* in the domains array the schedule was built for */
} acme_sched_entry_t;

struct acme_driver_t {
    apr_pool_t *pool;
    acme_ctx_t ctx;
    acme_store_t *store;
    acme_challenge_sink_t sink;
    int has_sink;
    const char *user_agent;
    apr_hash_t *cas;                /* directory URL → acme_ca_t* */
    apr_hash_t *records;            /* domain name → acme_record_t* */
    unsigned run;                   /* counts acme_driver_run calls */
    volatile apr_uint32_t stop;     /* acme_driver_stop: set from another thread */
    apr_time_t swept_at;            /* last look for a dead writer's temp files */
    int orphans_left;               /* acme_dns01_orphans skipped a locked name */
    apr_time_t claims_looked_at;    /* jobs/ last listed for claimed teardowns files of gone
                                     * processes (acme_dns01_claim_take); 0: never */
    apr_array_header_t *dns_teardowns; /* teardown_t*, still running (acme_dns01.c) */
    apr_time_t last_run_at;         /* the clock at the start of the last run */
    apr_hash_t *tlsalpn_claims;     /* identifier (lower case, the key in the holder's
                                     * tlsalpn_keys) -> the acme_job_t* whose tls-alpn-01
                                     * answer it is (acme_job_answer.c); NULL: none yet */
    EVP_PKEY *tlsalpn_rsa;          /* the RSA-2048 key of the tls-alpn-01 answers of RSA
                                     * domains, made at the first (in pool: this child's
                                     * issuing, never a handshake); NULL: none yet */
    int verify_chains;              /* acme_driver_verify_chains was called */
    const apr_array_header_t *trusted_roots; /* its files (const char*), may be NULL */
    apr_pool_t *anchors_pool;       /* holds anchors; cleared when they are renewed */
    apr_hash_t *anchors;            /* AcmeCACertificateFile or "" -> X509_STORE*, the
                                     * roots issued chains are verified to
                                     * (acme_job_issued.c); NULL = none read yet */
    apr_time_t anchors_at;          /* when anchors was made */
    acme_pacing_t pacing;           /* AcmeMaxParallel (acme_job_pace.c) */
    apr_hash_t *pacer;              /* CA URL -> apr_time_t* GCRA arrival time; NULL = unread */
    apr_hash_t *orders_paused;      /* CA URL -> apr_time_t* end of its pause of new orders
                                     * (acme_ca_orders_refused); NULL = unread */
    apr_hash_t *pace_queues;        /* CA URL -> the starts given to queued names
                                     * (acme_job_pace.c); NULL = none yet */
    apr_uint64_t pace_seq;          /* names queued so far (rec->queued_seq) */
    int pace_put_back;              /* a queued name went back to the front in this run:
                                     * acme_job_pace_order has estimates to mend */
    apr_hash_t *pace_learned;       /* CA URL -> the pace learned from its 429
                                     * (acme_job_pace_learned.c); NULL = unread */
    apr_interval_time_t order_time; /* median of this child's finished orders' times, start
                                     * to staged (microseconds), 0 = none yet: what
                                     * AcmeMaxParallel's queue estimates starts by */
    apr_interval_time_t order_times[64]; /* the last 64 of those, a ring (acme_job_pace_took) */
    int order_times_n, order_times_next; /* entries in it (up to 64); its slot for the next */
    int active;                     /* jobs in flight: counted at each run's start, and
                                     * kept during the run (a job started, a resumed order
                                     * too, or ended), so a slot freed is taken in it */
    apr_time_t born;                /* when this driver (this child's) was made */
    acme_order_gate_t gate;         /* begin NULL: none */
    acme_changes_stamp_t jobs_stamp; /* jobs/ at the last run, for acmectl's markers */
    int jobs_trusted;               /* ... taken a second after jobs/ last changed */
    /* The schedule: a min-heap of every domain by next_run, valid (sched_ok)
     * after a full run found nothing in progress; then a run looks at the due
     * names only (acme_driver_run). */
    acme_sched_entry_t *sched;
    int sched_n, sched_cap;
    const apr_array_header_t *sched_domains; /* the array it was built for */
    int sched_nelts;                /* ... and its size then */
    int sched_ok;
    int sched_markers;              /* a name is valid, staged or in a job: look for
                                     * acmectl's markers every ACME_MARKER_POLL */
    apr_time_t backoff_look;        /* a name backs off: acme_driver_run_backoff_look */
    int may_yield;                  /* a run's first pass: an order stops after its
                                     * challenges are answered (acme_driver_run) */
    /* Requests of different orders at once (acme_driver_wire.c): wire_max
     * threads take turns under wire_mutex, let go only while a request is
     * on the wire; 1 = one thread, no lock. */
    int wire_max;
    apr_thread_mutex_t *wire_mutex;
    apr_pool_t *wire_threads;       /* own allocator with a mutex: threads made and ended */
    acme_wire_slot_t *slots;        /* wire_max of them, made when first needed */
    acme_wire_slot_t *current;      /* the slot holding the lock; NULL outside a run's threads */
    int wire_shared;                /* threads of acme_driver_wire_each are running */
    int wire_decides;               /* the current request decides for other names: it
                                     * keeps the lock on the wire (acme_driver_wire_decides) */
};

/* acme_driver_wire.c: fn(driver, i, baton) for every i in [0, n), on up to
 * wire_max threads (the caller's one of them), one at a time but while a
 * request is on the wire; returns when all are done. Without the threads
 * (wire_max 1, n 1, or none could be made) in order on the caller's thread. */
typedef void acme_driver_wire_fn(acme_driver_t *driver, int i, void *baton);
void acme_driver_wire_each(acme_driver_t *driver, int n, acme_driver_wire_fn *fn, void *baton);
/* acme_driver_wire.c: the client of ca for the thread holding the lock:
 * ca->client on the run's own thread, else that thread's own client of the
 * CA (made at its first use, in the slot's pool), told of the CA's account
 * and of a directory re-read asked for since its last use. Never NULL. */
acme_client_t *acme_driver_wire_client(acme_driver_t *driver, acme_ca_t *ca);
/* acme_driver_wire.c: the one rule of the request threads (docs/internals.md,
 * "Request threads"): a request whose answer decides for other names (the
 * account, newOrder's 429, renewalInfo of a CA that does not answer, the
 * directory) keeps the lock while on the wire, so every other thread sees
 * that answer before its own request of the kind leaves. decides 1: the
 * requests of the thread holding the lock are such requests until 0 is set
 * again (slot_wire keeps the lock for them); returns the setting before, to
 * put back. Steps are flagged by acme_job_step_decides. */
int acme_driver_wire_decides(acme_driver_t *driver, int decides);

/* acme_driver.c: one name's turn in a run (acme_driver_run.c): a job
 * started when one is needed and may start, advanced as far as it goes
 * without waiting; rec and its status record updated. *staged is set when a
 * certificate was staged. Scratch memory from p. */
void acme_driver_domain_run(acme_driver_t *driver, acme_record_t *rec,
                            const acme_domain_t *domain, apr_pool_t *p, int *staged);

/* acme_job_pace.c: may a new order for ca_url start at now? 0 = yes (its
 * slot and the CA's token are taken); otherwise the time to ask again: a
 * slot frees (max_parallel reached) or the CA's bucket refills. */
apr_time_t acme_job_pace_admit(acme_driver_t *driver, const char *ca_url, apr_time_t now,
                               apr_pool_t *p);
/* acme_job_pace.c: an order this child started took took (microseconds,
 * start to staged): driver->order_time becomes the median of the last 64. */
void acme_job_pace_took(acme_driver_t *driver, apr_interval_time_t took);
/* acme_job_pace.c: a name that does not start in this run drops its status
 * activity "queued, starts at T" (that start has passed or no longer holds);
 * keep_place: its place in the queue (rec->queued_at) stays, else it leaves
 * the queue. */
void acme_job_pace_leave(acme_record_t *rec, int keep_place);
/* acme_job_pace_learned.c: ca accepted a new order at now (apr_time_t). */
void acme_job_pace_accepted(acme_driver_t *driver, acme_ca_t *ca, apr_time_t now);
/* acme_job_pace.c: 1 when new orders to ca_url keep a configured
 * (AcmeMaxParallel ORDERS/DURATION) or published limit, else 0. */
int acme_job_pace_limit_known(acme_driver_t *driver, const char *ca_url);
/* acme_job_pace_learned.c: after newOrder failed at ca with prob: a 429
 * rateLimited sets (for a CA without a known limit: the caller asks
 * acme_job_pace_limit_known first) the pace new orders keep at ca from then on, one per the wait its
 * Retry-After asked for (up to 5 minutes), or else as many per minute as it
 * accepted in the minute before; a 429 while that pace is kept doubles the
 * spacing (ACME01286, once per change); the spacing halves for every 10
 * minutes without one. Kept in jobs/.pace-learned.json (ACME01288 when it
 * cannot be written). Other problems change nothing. Temporaries in p. */
void acme_job_pace_learn(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob,
                         apr_pool_t *p);
/* acme_job_pace_learned.c: 1 and *interval (microseconds between new
 * orders, one at a time) when a pace learned from a 429 holds for ca_url at
 * now (halved for every 10 minutes since that 429); 0 when none does, or it
 * was forgotten now: 10 minutes without a new order asking for the CA, or
 * halved below a second (ACME01287). Each call counts as such a request.
 * Temporaries in p (the first call reads the file). */
int acme_job_pace_learned(acme_driver_t *driver, const char *ca_url, apr_time_t now,
                          apr_pool_t *p, apr_interval_time_t *interval);

/* acme_job_pace.c: may rec's new order at ca_url start at now (seconds are
 * apr_time_t microseconds)? 0 = yes (rec->queued cleared); 1 = not yet:
 * rec->next_run, rec->queued_at and the status activity "queued, starts at
 * T" are the name's own place in the queue: the first queued name gets the
 * pacer's next slot, each later one the slot after the one before it (one
 * interval of the CA's limit, or of the in-flight bound's recheck shared by
 * max_parallel), so the names are looked at one by one as their time comes,
 * not all at every slot. A name that reached its time and still may not
 * start goes to the front (one spacing from now, behind the last name put
 * there: with every slot busy, the next to free one takes about a spacing),
 * and acme_job_pace_order then pushes the names behind it. Strings from p. */
int acme_job_pace_queue(acme_driver_t *driver, acme_record_t *rec, const char *domain_name,
                        const char *ca_url, apr_time_t now, apr_pool_t *p);
/* acme_job_pace.c: after a run in which a queued name went back to the
 * front (acme_job_pace_queue), the names of domains waiting for an
 * AcmeMaxParallel slot, taken in the order they joined the queue, get
 * estimates that never come before the one ahead of them (a name's raised
 * to the one before it: rec->queued_at, rec->next_run, its activity and its
 * status record), so the queue reads top to bottom. Names are only pushed
 * later, never sooner, so no look comes sooner than it was due. Returns how
 * many were pushed. Scratch memory from p. */
int acme_job_pace_order(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *p);
/* acme_job_pace.c: rec's newOrder to ca_url was sent at now (apr_time_t
 * microseconds). Admitted with the CA's bucket full, the order started the
 * bucket at its admission, but the CA's count starts at its arrival, after
 * the account and nonce requests before it (the account made first can take
 * longer than many margins): the bucket's tat moves by that delay, once, so
 * the orders admitted after it never arrive early by the CA's count. Other
 * orders change nothing: a late one among queued ones delays none after it. */
void acme_job_pace_sent(acme_driver_t *driver, acme_record_t *rec, const char *ca_url,
                        apr_time_t now, apr_pool_t *p);

/* Everything one step needs; p is cleared after the step. */
typedef struct acme_step_ctx_t {
    acme_driver_t *driver;
    acme_record_t *rec;
    acme_job_t *job;
    const acme_domain_t *domain;
    acme_ca_t *ca;
    apr_pool_t *p;
    apr_time_t now;
    apr_time_t retry_after;         /* the CA's Retry-After with ACME_OUTCOME_WAIT */
    acme_problem_t prob;            /* why, with ACME_OUTCOME_FAILED */
    int *staged;
    acme_client_t *client;          /* ca's client of this thread (acme_driver_wire_client), set
                                     * by acme_job_step_once before each step */
} acme_step_ctx_t;

/* The CA registry (acme_ca.c). */
/* The CA of the domain's failover list the record points at; NULL when the
 * domain has no AcmeCA. */
const char *acme_ca_in_use(const acme_record_t *rec, const acme_domain_t *domain);
/* Is the CA at url known to have been unreachable in this driver run? */
int acme_ca_down(acme_driver_t *driver, const char *url);
/* The account URL the client of the CA at url uses, or NULL (not known yet). */
const char *acme_ca_kid(acme_driver_t *driver, const char *url);
/* After a failed step at ca: a request that got no HTTP answer at all marks
 * the CA down for the rest of this run; a failure of a request to the CA
 * (an HTTP error, or no answer) has its directory read again before the
 * next request, at most once a minute (ACME_DIRECTORY_REREAD_MIN), since
 * the CA may have moved a resource (RFC 8555 §7.1.1). */
void acme_ca_note_failure(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob);
/* acme_ca.c: acme_ca_note_failure for a request that got no answer at all
 * only (prob without HTTP status and problem type), for a step whose other
 * failures are answers it waits on (the finalize probe, ACME_STEP_VALIDATE):
 * the job waits, but the CA is down for the run's other names (acme_ca_down),
 * which would otherwise each send a request of their own to find out. */
void acme_ca_note_no_answer(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob);
/* The status activity of a name held back while the CA at url does not
 * answer (ACME_ACTIVITY_CA_DOWN, since when, the last failure, next: its
 * next try); NULL when it answered last. From p. */
const char *acme_ca_down_activity(acme_driver_t *driver, const char *url, apr_time_t next,
                                  apr_pool_t *p);
/* After newOrder failed at ca: a 429 rateLimited limits the account, not
 * the name (RFC 8555 §6.6; Let's Encrypt's New Orders per Account), so no
 * name sends newOrder there before until (absolute; the later of the CA's
 * Retry-After and the failed name's backoff), at most ACME_ORDER_PAUSE_MAX
 * from now. Kept in jobs/.paused.json, so the watchdog child a graceful
 * restart (an activation) brings does not meet the 429 again. Logged once
 * per pause; other problems change nothing. */
void acme_ca_orders_refused(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob,
                            apr_time_t until, apr_pool_t *p);
/* Before a new order: are new orders at the domain's CA paused
 * (acme_ca_orders_refused)? 1: yes, rec->next_run is the end of the pause
 * and its status activity ACME_ACTIVITY_ORDERS_PAUSED says so; 0: no. p:
 * temporary (the first call reads jobs/.paused.json). */
int acme_ca_orders_wait(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                        apr_time_t now, apr_pool_t *p);
/* The client of the CA at url, created on first use in the driver's pool.
 * APR_EINVAL without a url; prob says why it failed. */
apr_status_t acme_ca_get(acme_driver_t *driver, const acme_domain_t *domain,
                         const char *url, acme_ca_t **ca, acme_problem_t *prob,
                         apr_pool_t *p);
/* After a failed attempt: after ACME_FAILOVER_AFTER failures in a row at one
 * CA, the next of the list (logged; rec->next_run set to now). */
void acme_ca_failover_failed(acme_driver_t *driver, acme_record_t *rec,
                             const acme_domain_t *domain, const acme_problem_t *prob,
                             apr_time_t now, apr_pool_t *p);
/* Before an attempt: back to the first CA after a day on a backup. */
void acme_ca_failover_start(acme_driver_t *driver, acme_record_t *rec,
                            const acme_domain_t *domain, apr_time_t now);

/* The domain table (acme_record.c). */
/* The record of name; created (state "missing") in the driver's pool when
 * create is set, else NULL when there is none. */
acme_record_t *acme_record_get(acme_driver_t *driver, const char *name, int create);
/* The last failure into the record, the account URL kid blotted out. */
void acme_record_error(acme_record_t *rec, const acme_problem_t *prob, const char *kid,
                       apr_time_t now, apr_pool_t *p);
/* The live certificate (info NULL: none) into the record. */
void acme_record_cert(acme_record_t *rec, const acme_cert_info_t *info);
/* A record for name with nothing known (strings ""), from pool, which also
 * holds its strings. */
acme_record_t *acme_record_make(apr_pool_t *pool, const char *name);
/* acme_record_text.c: rec's strings "" and their memory from pool. */
void acme_record_text_init(acme_record_t *rec, apr_pool_t *pool);
/* *field (one of rec's strings) = value (NULL = ""), at most max - 1 bytes;
 * the memory is reused while the new text fits. */
void acme_record_text_set(acme_record_t *rec, const char **field, apr_size_t max, const char *value);
/* A 64-bit digest (FNV-1a) of text, never 0: what a record keeps of a text
 * it only compares with the next one, instead of a copy. */
apr_uint64_t acme_record_text_digest(const char *text);
/* Should the gate's wait (why: its reason) be logged at info (1), or at
 * debug (0: the same reason, its numbers aside, was logged less than
 * ACME_REC_WAIT_RETELL ago)? Notes what is logged in rec. */
#define ACME_REC_WAIT_RETELL apr_time_from_sec(300)
int acme_record_text_wait_told(acme_record_t *rec, const char *why, apr_time_t now);
/* Writes status/<name>.json when state, step or error changed since the last
 * write (failures logged, not returned). */
void acme_record_status_update(acme_driver_t *driver, acme_record_t *rec,
                               const acme_domain_t *domain, apr_pool_t *p);

/* The driver's schedule (acme_job_sched.c), memory in driver->pool. */
/* Empties the schedule and sizes it for domains (may be NULL). */
void acme_job_sched_reset(acme_driver_t *driver, const apr_array_header_t *domains);
/* Adds domain number index, due at `at`; at most one entry per domain. */
void acme_job_sched_push(acme_driver_t *driver, apr_time_t at, int index);
/* Returns 1 and the index of the earliest entry due at or before now,
 * removing it; 0 when none is due. */
int acme_job_sched_pop_due(acme_driver_t *driver, apr_time_t now, int *index);
/* The earliest scheduled time, 0 when empty. */
apr_time_t acme_job_sched_next(const acme_driver_t *driver);
/* 1 when jobs/ changed since the last call (or that cannot be told: its
 * stamp was taken within a second of a change), 0 when it stood still; then
 * no acmectl marker (jobs/<name>.renew) can have come. Temporaries in p. */
int acme_job_sched_jobs_changed(acme_driver_t *driver, apr_pool_t *p);
/* Once per run: when the wall clock went back by more than a minute since
 * the last run, every domain is due now and the schedule is dropped (logged
 * as ACME00485). Temporaries in p. */
void acme_job_sched_clock_check(acme_driver_t *driver, apr_pool_t *p);

/* Renewal decisions beyond the window (acme_renewal.c). */
/* ARI: polls when due (at most at the poll interval, never before next_poll,
 * also across restarts, nor while the CA's backoff after an unanswered
 * request lasts) and lowers rec->renew_at to the chosen time. Returns the
 * time to look again for the poll (0 = no poll planned). */
apr_time_t acme_renewal_ari_update(acme_driver_t *driver, acme_record_t *rec,
                                   const acme_domain_t *domain, X509 *leaf, apr_time_t now,
                                   apr_pool_t *p);
/* Expiry warning: log, rec->warning, at most one ACME_EVENT_EXPIRING a day. */
void acme_renewal_warn_check(acme_driver_t *driver, acme_record_t *rec,
                             const acme_domain_t *domain, apr_time_t now, apr_pool_t *p);
/* The live certificate's origin from domains/<name>/meta.json into rec (CA,
 * issued_at); *names: the names it was ordered for, NULL when unknown. */
void acme_renewal_read_meta(acme_driver_t *driver, acme_record_t *rec, const char *name,
                            apr_pool_t *p, apr_array_header_t **names);
/* staging/<name>/meta.json content for a certificate from ca_url ordered for names. */
const char *acme_renewal_meta_json(apr_pool_t *p, const char *ca_url,
                                   const apr_array_header_t *names, apr_time_t now);
/* Attempts, last error, failover and backoff from status/<name>.json, when it
 * was written for the same configuration. */
void acme_renewal_restore(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                          apr_time_t now, apr_pool_t *p);
/* The status record's members of this file: fingerprint, ca, warning, ari,
 * renew_at; allocated from p. */
void acme_renewal_status_fill(const acme_record_t *rec, const acme_domain_t *domain,
                              acme_status_record_t *st, apr_pool_t *p);


/* Runs the job's current step (acme_job_steps.c). */
acme_outcome_e acme_job_step(acme_step_ctx_t *sc);
/* The ACCOUNT step (acme_job_account.c, RFC 8555 section 7.3): DONE once the
 * CA's account is ready (key in driver->pool, URL stored), FAILED with
 * sc->prob set otherwise. */
acme_outcome_e acme_job_account_step(acme_step_ctx_t *sc);
/* A step's own failure (not the CA's), acme_job_outcome.c: sc->prob gets rv
 * (APR_EGENERAL for 0) and the detail fmt with one %s, arg, in sc->p.
 * Returns ACME_OUTCOME_FAILED. */
acme_outcome_e acme_job_step_failed(acme_step_ctx_t *sc, apr_status_t rv, const char *fmt,
                                    const char *arg);
/* As acme_job_step_failed, for a store that could not be read or written
 * (sc->prob.kind ACME_PROBLEM_KIND_STORE: the advice names free space and
 * ownership). */
acme_outcome_e acme_job_store_failed(acme_step_ctx_t *sc, apr_status_t rv, const char *fmt,
                                     const char *arg);
/* The CA's answer is already in sc->prob: makes sure it reads as a failure
 * (its status rv, APR_EGENERAL for 0). Returns ACME_OUTCOME_FAILED. */
acme_outcome_e acme_job_ca_failed(acme_step_ctx_t *sc, apr_status_t rv);
/* Fast polls (ACME_POLL_FAST, acme_job_outcome.c): a wait of kind
 * (ACME_FAST_*) begins; the first of its polls is due ACME_POLL_FAST from
 * now unless that kind had its fast polls in this job already. */
void acme_job_fast_polls_start(acme_job_t *job, int kind);
/* A poll is scheduled at job->poll_interval from now: one fast poll is used
 * up; after the last, the interval is ACME_POLL_INITIAL again. */
void acme_job_fast_polls_count(acme_job_t *job);
/* What a waiting job waits for (acme_job_outcome.c), shown on the status
 * page and by acmectl: text is copied into the job's pool, NULL clears it.
 * Unchanged text is not copied again, since the job's pool lives as long as
 * the order; a change bumps job->activity_seq. */
void acme_job_activity_set(acme_job_t *job, const char *text);

/* An outcome as the debug log says it ("done", "waits", ...); static text. */
const char *acme_job_outcome_name(acme_outcome_e outcome);

/* The order gate's keep for domain's running job (acme_job_gate.c): the
 * claim kept alive and confirmed still this server's. APR_SUCCESS, also
 * without a gate; else the keep's failure, logged (APR_EAGAIN: lost; any
 * other: cannot be told), and the job is to stop where it is. Scratch
 * from p. */
apr_status_t acme_job_gate_keep(acme_driver_t *driver, const acme_domain_t *domain,
                                apr_pool_t *p);

/* One step of sc's job, in a subpool sc->p of p (the caller destroys it);
 * returns the step's outcome with sc filled in (prob, retry_after) and the
 * requests it sent added to sc->rec->requests. */
acme_outcome_e acme_job_step_once(acme_driver_t *driver, acme_step_ctx_t *sc, apr_pool_t *p);
/* acme_job.c: 1 when step's requests decide for other names (they run with
 * acme_driver_wire_decides): ACCOUNT (one account per CA: another thread
 * would make a second) and ORDER before the order exists (a 429 at newOrder
 * pauses every name's new orders); else 0. */
int acme_job_step_decides(const acme_job_t *job, acme_step_e step);

/* Persistence of a job in jobs/<name>.json (the certificate key is root's:
 * acme_custody.h). */
const char *acme_job_fingerprint(apr_pool_t *p, const acme_domain_t *domain);
/* A new job in pool, or the persisted one when it is usable (same fingerprint
 * and CA, younger than a day, or a week when it was kept at step certificate,
 * started after the live certificate was issued: an older one already ended
 * in it). Unusable records are removed. *resumed
 * tells which. */
acme_job_t *acme_job_restore(acme_driver_t *driver, const acme_domain_t *domain,
                             const char *ca_url, apr_time_t live_issued_at,
                             apr_pool_t *pool, apr_pool_t *ptemp, apr_time_t now, int *resumed);
/* Writes jobs/<name>.json without fsync (acme_store_write_json_unsynced)
 * when what a resume reads changed since the last write: the order URL, or
 * whether the step is certificate (the week-long age rule). The steps in
 * between are not written: a resume re-reads the order at the CA anyway
 * (RFC 8555 §7.1.3), and each write is a new file. A machine's crash resumes
 * the order, or orders anew. Returns APR_SUCCESS (also when nothing needed
 * writing), APR_ENOMEM, or the store's error; memory from ptemp. */
apr_status_t acme_job_save(acme_driver_t *driver, const acme_domain_t *domain,
                           acme_job_t *job, apr_pool_t *ptemp);
void acme_job_remove_files(acme_driver_t *driver, const char *name, apr_pool_t *ptemp);
/* Withdraws every published answer of the job. */
void acme_job_withdraw_all(acme_driver_t *driver, acme_job_t *job);

/* Is the chain the CA sent (X509*, leaf first) fit to serve (acme_job_issued.c):
 * the leaf covers the names and is valid now, carries the key of the CSR
 * root published, and the chain verifies to the trust anchors activation
 * uses (the system's, AcmeTrustedRootsFile, AcmeCACertificateFile)?
 * APR_SUCCESS, or ACME_OUTCOME_FAILED's problem in sc->prob: status
 * APR_EINVAL, the kind (ACME_PROBLEM_KIND_CERT_NAMES and after) and a detail
 * naming what is wrong, the chain's top certificate and the roots in use.
 * The child refuses it before staging, so a bad chain costs an attempt
 * (with backoff), never a staged entry root has to refuse. A chain that is
 * sound but for its root (ACME_PROBLEM_KIND_CHAIN_UNTRUSTED) sets
 * sc->job->keep_order: the next attempt fetches the order's certificate
 * again instead of ordering another (RFC 8555 §7.4.2). */
apr_status_t acme_job_issued_fits(acme_step_ctx_t *sc, const apr_array_header_t *chain);
/* Is this machine's clock behind? The chain (X509*, leaf first) the CA just
 * sent starts after the local clock, while the CA's own clock (its Date
 * header, acme_client_ca_date) says it has started (within
 * ACME_CLOCK_SLACK), and the start is at most ACME_CLOCK_BEHIND_MAX ahead.
 * Returns the time the whole chain is valid from by the local clock (the
 * certificate is sound, only the local clock is wrong: wait for it), or 0
 * (not so: judge the chain as usual). */
#define ACME_CLOCK_SLACK       apr_time_from_sec(60)
#define ACME_CLOCK_BEHIND_MAX  apr_time_from_sec(7 * 86400)
apr_time_t acme_job_clock_behind(acme_step_ctx_t *sc, const apr_array_header_t *chain);
/* The other way: leaf expired by the local clock while the CA's clock says it
 * is still valid. Returns the text to add to the failure ("; the CA's clock
 * says ..., set it right"), in sc->p, or NULL (not so). */
const char *acme_job_clock_ahead(acme_step_ctx_t *sc, X509 *leaf);

/* The challenge type to answer (acme_job_choice.c). */
/* The challenge authz is answered with: the first type of AcmeChallenges
 * (http-01 when none) the CA offers and this host can answer; or NULL. */
const acme_challenge_t *acme_job_challenge_for(acme_step_ctx_t *sc, const acme_authz_t *authz);
/* FAILED, with a problem naming the types offered, enabled and answerable
 * and what to change. */
/* The challenge type an order would answer for a name of this kind
 * (wildcard or not), before the CA has offered any: the first of
 * AcmeChallenges this server can answer and a CA may offer for it (RFC 8555
 * §7.1.3: dns-01 or dns-persist-01 for a wildcard). NULL when none. */
const char *acme_job_planned_type(acme_step_ctx_t *sc, int wildcard);
acme_outcome_e acme_job_no_usable_challenge(acme_step_ctx_t *sc, const acme_authz_t *authz);
/* The first of AcmeChallenges (http-01 when none) that needs this server's
 * listeners, http-01 or tls-alpn-01, and that this server can answer, when
 * the order has a name that is no wildcard: the order may ask the CA to
 * validate it. NULL: it can only use dns-01 or dns-persist-01. Known from
 * the configuration alone, without a CA request; static or in sc->p. */
const char *acme_job_listener_type(acme_step_ctx_t *sc);
/* "a, b, c" ("none" for an empty or NULL list). */
const char *acme_job_join(apr_pool_t *p, const apr_array_header_t *strings);

/* The order's ACME profile (acme_job_profile.c, draft-ietf-acme-profiles). */
/* *profile: AcmeProfile when the CA lists it; with none set, "shortlived" for
 * an order holding an IP address where the CA lists it; else NULL. Returns
 * APR_SUCCESS, or the directory's error, or APR_EINVAL (sc->prob says which
 * profiles the CA offers) for an AcmeProfile the CA does not list. *profile
 * points into the domain, the directory (sc->ca's pool) or static text. */
apr_status_t acme_job_order_profile(acme_step_ctx_t *sc, const char **profile);
/* After a failed newOrder for a domain with an IP address that the CA
 * refused (rejectedIdentifier, unsupportedIdentifier, malformed): adds to
 * sc->prob's detail what to set (AcmeProfile, AcmeCA). profile: what the
 * order asked for, or NULL. Allocates from sc->p. */
void acme_job_explain_refused_ip(acme_step_ctx_t *sc, const char *profile);

/* The chain to stage (acme_job_chain.c, RFC 8555 §7.4.2). */
/* Downloads the certificate at sc->job->cert_url; with AcmePreferredChain,
 * the first of the default and the alternate chains whose top certificate is
 * issued by that name (none: the default, with a notice). APR_SUCCESS with
 * *pem, *len and *chain (parsed, leaf first) and *alternates (the URLs of
 * the CA's alternate chains, Link rel="alternate"; may be NULL) from sc->p;
 * otherwise the error, with sc->prob saying what went wrong (APR_EINVAL: not
 * a usable chain). */
apr_status_t acme_job_download_chain(acme_step_ctx_t *sc, const char **pem, apr_size_t *len,
                                     apr_array_header_t **chain, apr_array_header_t **alternates);
/* The chain downloaded leads to no trusted root (acme_job_issued_fits said
 * ACME_PROBLEM_KIND_CHAIN_UNTRUSTED): the first of the CA's alternates
 * (const char* URLs, may be NULL) that is fit to serve. APR_SUCCESS with
 * *pem, *len and *chain replaced (from sc->p) and sc->prob cleared;
 * APR_ENOENT when none is, sc->prob still the first chain's failure. */
apr_status_t acme_job_chain_fit_alternate(acme_step_ctx_t *sc,
                                          const apr_array_header_t *alternates,
                                          const char **pem, apr_size_t *len,
                                          apr_array_header_t **chain);

/* Answers of the authorize step (acme_job_answer.c). */
/* Puts the answer where the CA looks: the sink (http-01, tls-alpn-01), or
 * checks that the dns-01 record is in place. */
apr_status_t acme_job_publish_answer(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                     const acme_challenge_t *challenge, const char *key_authz);
/* Withdraws one published answer of job, whatever its type; a tls-alpn-01
 * answer only while job holds its identifier's claim (the answer served
 * for the identifier is then job's), the claim released with it. */
void acme_job_withdraw(acme_driver_t *driver, acme_job_t *job, const acme_pending_t *pending);
/* When the authorization's challenges failed (the latest "validated" of an
 * invalid challenge), 0 = not said. */
apr_time_t acme_job_authz_failed_at(const acme_authz_t *authz);
/* tls-alpn-01 (RFC 8737 §3): the CA's handshake names the identifier only,
 * so the issuing child serves one answer per identifier, that of the job
 * holding the identifier's claim (in memory: nothing outlives the child;
 * two orders of one name, one per AcmeKeyType, would else overwrite each
 * other's answer and fail their validation).
 * acme_job_tlsalpn_order: before the authorize step fetches anything, when
 * tls-alpn-01 is the type planned for the domain's names, claims every name
 * but wildcards at once, unless another job holds one of them: then claims
 * none and the step waits (ACME_OUTCOME_WAIT, looked at again after the
 * job's poll interval; nothing published, the CA not asked). */
acme_outcome_e acme_job_tlsalpn_order(acme_step_ctx_t *sc);
/* Before an answer of challenge, the type chosen for authz, is published:
 * tls-alpn-01 (a CA may offer it alone, another type planned) claims its
 * identifier, or waits as acme_job_tlsalpn_order; another type releases
 * the job's claim of it. An authorization found valid is released by
 * acme_job_tlsalpn_answer(sc, authz, NULL). ACME_OUTCOME_DONE or WAIT. */
acme_outcome_e acme_job_tlsalpn_answer(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                       const acme_challenge_t *challenge);
/* Releases every claim of job (its answers withdrawn or never published). */
void acme_job_tlsalpn_release_all(acme_driver_t *driver, const acme_job_t *job);
/* The published answer to challenge of authz, as job->pending lists it: made
 * in job->pool once per authorization and challenge (job->answered), as each
 * authorization step withdraws the job's answers and publishes them again,
 * every few seconds while an order waits. Never NULL. */
acme_pending_t *acme_job_answer_listed(acme_job_t *job, const acme_authz_t *authz,
                                       const acme_challenge_t *challenge);
/* The sink cannot put the answer everywhere the CA may look yet: rv
 * APR_EAGAIN, a cluster without its Redis (the CA is not asked, the order
 * stays usable); APR_EBUSY, another order's tls-alpn-01 answer for the name
 * stands (the caller withdrew the job's). ACME_OUTCOME_WAIT, the step tried
 * again after the job's growing poll interval (sc->retry_after). */
acme_outcome_e acme_job_answer_later(acme_step_ctx_t *sc, const acme_challenge_t *challenge,
                                     const acme_authz_t *authz, apr_status_t rv);
/* At the start of the authorize step, before any CA request: while the
 * sink holds http-01 and tls-alpn-01 validations back (held_until) and the
 * order may use one of them (acme_job_listener_type), ACME_OUTCOME_WAIT
 * with sc->retry_after set (1 s at most: the hold is looked at again, with
 * no CA request), said once per hold (ACME01290) and shown as the job's
 * activity; otherwise ACME_OUTCOME_DONE. */
acme_outcome_e acme_job_order_hold(acme_step_ctx_t *sc);
/* Right before the CA is asked to validate challenge (of authz), for a hold
 * that began during the step: ACME_OUTCOME_DONE to go on, or
 * ACME_OUTCOME_WAIT as acme_job_order_hold. One read of shared memory. */
acme_outcome_e acme_job_answer_hold(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                    const acme_challenge_t *challenge);

/* dns-persist-01 (acme_dns_persist.c, draft-ietf-acme-dns-persist-02). */
/* Within an order, before the CA is told to validate: is a TXT record at
 * _validation-persist.NAME visible (AcmeDnsResolver) that this CA will
 * accept for this account (one of the challenge's issuer domain names;
 * accounturi the hashed account URI of draft -02, or the account URL for a
 * draft -01 CA; policy=wildcard for a wildcard name)? DONE when it is; WAIT
 * while there is none, the record to set shown as the job's activity
 * (status page, acmectl) and logged; FAILED when the challenge is malformed
 * (§3.1, §3.2) or a record of this CA would be refused (what to change in
 * the error). */
acme_outcome_e acme_dns_persist_check(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                      const acme_challenge_t *challenge);
/* Before an order: DONE when every name that would be validated with
 * dns-persist-01 has its record in place (or the issuer domain names are not
 * known yet: a draft -01 CA before its first challenge); WAIT with
 * sc->retry_after (5 s doubling to 5 min) while one is missing or would be
 * refused: no order is created, the records to set are the job's activity
 * and logged (ACME01455) when that changes. */
acme_outcome_e acme_dns_persist_preorder(acme_step_ctx_t *sc);
#endif
