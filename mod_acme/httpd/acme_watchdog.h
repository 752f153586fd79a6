/* What the parent's activation (acme_activation.c) and the child's issuance
 * (acme_watchdog.c) share: their state, one per configuration generation. */
#ifndef ACME_WATCHDOG_H
#define ACME_WATCHDOG_H
#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <mod_watchdog.h>

#include "acme_private.h"
#include "acme_name.h"

#define ACME_WD_STATE_KEY      "mod_acme.watchdog"

/* Across generations (the process pool): when mod_acme last restarted httpd
 * by itself, and whether the generation being set up came from that. */
typedef struct acme_wd_restarts_t {
    apr_time_t last;                  /* 0: none since startup or since someone else's restart */
    apr_time_t credit;                /* token bucket of restarts: each that replaced only
                                       * live certificates adds an interval */
    int requested;                    /* set with the signal, read by the next post_config */
    apr_time_t cost;                  /* the last automatic one as issuance saw it: its
                                       * configuration test, then signal to the watchdog's
                                       * post_config (after mod_ssl's); 0: none */
    apr_interval_time_t test_took;    /* that configuration test's time */
    apr_time_t began;                 /* this generation's pre_config (at startup the first
                                       * pass's); 0 once its post_config took it */
    int began_first_pass;             /* began is the startup's first pass, for its second */
} acme_wd_restarts_t;

/* Across generations: what the refusal backoff holds back, and what was
 * said of it (acme_activation_held.c). */
typedef struct acme_wd_held_t acme_wd_held_t;

/* Per configuration generation; lives in pconf. */
typedef struct acme_wd_t {
    acme_runtime_t *rt;
    int activation_auto;
    /* child side */
    ap_watchdog_t *watchdog;
    apr_pool_t *pool;                 /* the driver's, used by the watchdog thread only */
    acme_driver_t *driver;
    apr_thread_mutex_t *run_mutex;    /* held by the watchdog thread while it starts or runs */
    volatile apr_uint32_t stopping;   /* the child exits: no more runs */
    acme_challenge_sink_t sink;
    struct acme_cluster_keeper_t *keeper; /* AcmeCluster: keeps the claims alive; NULL: none */
    const char *user_agent;
    /* parent side */
    apr_hash_t *stale;                /* name -> ready time: staged but left by activation */
    apr_hash_t *announced;            /* name -> ready time: logged (manual activation) */
    apr_hash_t *configured;           /* name -> domain: staging entries that count */
    apr_hash_t *checked;              /* name -> ready time: the check said it would not go
                                       * live (the thread's pool once the thread runs) */
    apr_hash_t *prechecked;           /* name -> ready time: passed the check while the
                                       * restart interval holds it (same pool as checked) */
    acme_wd_restarts_t *restarts;     /* automatic restarts (acme_activation.c) */
    acme_wd_held_t *held;             /* entries the refusal backoff holds (NULL: no memory) */
    apr_hash_t *live_until;           /* name -> apr_time_t: notAfter of the live certificate
                                       * at post_config (no entry: none live) */
    apr_time_t next_poll;
    int unusable;                     /* tests in a row with no usable result
                                       * (acme_activation_test.c) */
    int restart_sent;
    int restart_refused;              /* this generation's test failed last: its record
                                       * (jobs/.restart-refused.json) stands until the
                                       * next verdict (acme_activation_held_refused) */
    /* parent side, activation thread: everything below is the thread's once it runs */
    apr_pool_t *thread_pool;          /* unmanaged, with its own allocator */
    apr_pool_t *look_pool;            /* cleared after each look at staging */
    apr_thread_t *thread;
    pid_t thread_owner;               /* forked children share the memory, not the thread */
    int wake[2];                      /* pipe: a byte written asks the thread to stop */
    int notify_fd;                    /* inotify on staging and its entries; -1: poll only */
    int look_idle;                    /* the last look found nothing staged, held or waiting */
    int look_held;                    /* ... and whether an entry the refusal backoff holds */
    apr_time_t batch_since;           /* the look that left entries waiting for their batch
                                       * (acme_activation_batch_waits), 0 = none waits */
    int watch_failed;                 /* an entry could not be watched: look every second */
    int staging_watch;                /* inotify's descriptor of staging/; -1: watch it and
                                       * every configured entry at the next look */
    long watch_calls;                 /* inotify_add_watch calls made (ACME00756) */
} acme_wd_t;

static APR_INLINE acme_wd_t *wd_state(apr_pool_t *pconf)
{
    void *wd = NULL;

    apr_pool_userdata_get(&wd, ACME_WD_STATE_KEY, pconf);
    return wd;
}

static APR_INLINE int has_domains(const acme_runtime_t *rt)
{
    return rt && rt->store && rt->domains && rt->domains->nelts > 0;
}

/* A restart batch may wait this many times what the last automatic restart
 * took, or before the first what the generation's set-up took
 * (acme_activation_batch.c), so restarts take at most about a quarter of
 * a first issuance's time, whatever the number of domains. */
#define ACME_WD_BATCH_COST_FACTOR 3

/* Staged certificates' names for a log line: the first few, then how many
 * more and where all of them are (acme_name_list_capped). From p. */
static APR_INLINE const char *acme_wd_staged_names(apr_pool_t *p,
                                                   const apr_array_header_t *names)
{
    return acme_name_list_capped(p, names, "on the status page and in acmectl list");
}

/* acme_activation.c, for acme_watchdog.c's hooks (parent side). */
/* name -> domain for every configured domain: the staging entries that count. */
apr_hash_t *acme_activation_configured_names(const apr_array_header_t *domains,
                                             apr_pool_t *pconf);
/* Staged certificates left over from before this generation, remembered;
 * the record of automatic restarts picked up. */
void acme_activation_record_stale(acme_wd_t *wd, apr_pool_t *pconf, apr_pool_t *ptemp);
/* The activation thread (AcmeActivation auto); the monitor hook looks where it cannot run. */
void acme_activation_start_thread(acme_wd_t *wd, apr_pool_t *pconf);
/* acme_activation_gate.c: the fork gate. _init registers its fork handlers
 * (once per process); _set(1) makes forks wait until _set(0);
 * _set_behind_forks is _set(1) once no fork waits for the gate (the waiting
 * ones go first); _forks is the number of forks the parent has made. */
void acme_activation_gate_init(void);
void acme_activation_gate_set(int busy);
void acme_activation_gate_set_behind_forks(void);
unsigned long acme_activation_gate_forks(void);
/* The keys' thread's side of the gate (acme_certs_keys.c; after _init):
 * _enter waits, holding nothing, until no fork waits for the gate, then
 * makes forks wait until _leave; the flag is apart from _set's, so both
 * threads may hold the gate. Never from a thread that forks. _keys_waits:
 * the forks this process made that had to wait for _leave, and *longest,
 * the longest such wait since the previous call (microseconds). */
void acme_activation_gate_keys_enter(void);
void acme_activation_gate_keys_leave(void);
unsigned long acme_activation_gate_keys_waits(apr_time_t *longest);
/* acme_activation_settle.c, on the activation thread: the versions this
 * generation's activation left to settle (wd->rt->settle_later), settled
 * once the parent has made more than forks forks (a new child), or
 * ACME_WD_SETTLE_WAIT_MS after the call anyway; each with the gate taken only while no fork waits for it. Woken
 * through wd->wake, it returns with the rest left (wd->rt->settling stays
 * 1): the next activation finds them live and settles them. */
void acme_activation_settle_later(acme_wd_t *wd, unsigned long forks);
/* acme_activation_held.c: the record of held entries, made on first use in
 * s's process pool (post_config, main thread). */
acme_wd_held_t *acme_activation_held_state(server_rec *s);
/* Does the refusal backoff of name hold its staged entry (ready at at) back?
 * Not when the backoff is over, nor for a chain of root's current key whose
 * exemption is unused (acme_custody_backoff_exempt). The first time an
 * entry is held in a backoff window, ACME00743 says until when and what
 * the administrator can do. 1 or 0. */
int acme_activation_held(acme_wd_t *wd, apr_pool_t *p, const char *name, apr_time_t at);
/* The automatic restart is held until at (apr_time_t) for the entries in
 * wd->prechecked: activation.json says so (acme_store_restart.h), with the
 * time ACME00734 logs, for the status page and acmectl; ACME00759 when it
 * cannot be written. Temporaries in p. */
void acme_activation_held_restart_write(acme_wd_t *wd, apr_pool_t *p, apr_time_t at);
/* No restart is held (any more): activation.json removed (ACME00760 when it
 * cannot be). Temporaries in p. */
void acme_activation_held_restart_clear(acme_wd_t *wd, apr_pool_t *p);
struct acme_configtest_t;
/* The verdict of the configuration test before an automatic restart, for
 * the status page and acmectl (acme_store_restart.h): failed (test not
 * NULL, its verdict ACME_CONFIGTEST_FAILED): the restart for every staged
 * certificate (the new ones and what wd->prechecked holds back) was
 * refused now, because of test's first error line (acme_configtest_why),
 * and the test runs again at wd->next_poll: recorded (ACME00780 when it
 * cannot be). Any other
 * verdict (test NULL: passed, with or without anything to make live, held
 * or sent, or none at all): the record goes, when this generation wrote
 * one (wd->restart_refused; ACME00781 when it cannot be removed). Called
 * from acme_activation_test only, and with always set at each start
 * (acme_activation_record_stale), which removes any. Temporaries in p. */
void acme_activation_held_refused(acme_wd_t *wd, apr_pool_t *p,
                                  const struct acme_configtest_t *test, int always);
/* acme_activation_test.c: runs the configuration test with the staged check
 * (acme_configtest_run) before a restart for the staged names fresh. 1: it
 * passed and its staged check reported whole, *test tells what would go
 * live. 0: do nothing now; the test failed (ACME00717; next try in 5
 * minutes), was stopped, or gave no usable result twice in a row (no
 * verdict, or a pass whose staged report is not whole: ACME00766; the next
 * try waits 10 s, twice that each time up to 5 minutes). Never more than two
 * runs per call; the second only when the one before it was usable.
 * Memory from p. */
struct acme_configtest_t;
int acme_activation_test(acme_wd_t *wd, const apr_array_header_t *fresh, apr_pool_t *p,
                         int wake_fd, struct acme_configtest_t *test);
/* acme_activation_hold.c: names in both lists; names of a not in b.
 * Arrays of const char *, from p. */
apr_array_header_t *acme_activation_hold_names_in_both(apr_pool_t *p,
                                                       const apr_array_header_t *a,
                                                       const apr_array_header_t *b);
apr_array_header_t *acme_activation_hold_names_not_in(apr_pool_t *p,
                                                      const apr_array_header_t *a,
                                                      const apr_array_header_t *b);
/* on 1: an automatic restart is being prepared (its configuration test,
 * during which the old children keep serving, so holding from it on is a
 * precaution, then the reload, when no listener answers): until the next
 * generation's children run, this generation's issuing child asks the CA to validate no
 * http-01 or tls-alpn-01 answer (acme_answers_hold), for twice what the last
 * automatic restart took at most (60 s to 10 min; ACME00778 at debug). A
 * second call starts that time again. on 0: no restart comes, the hold ends. */
void acme_activation_hold_set(acme_wd_t *wd, int on);
/* acme_activation_batch.c: when the staged certificate of name became ready
 * (apr_time_t, microseconds); 0 if none is. One lstat: a "ready" that is not
 * a plain file does not count. Temporary memory from p. */
apr_time_t acme_activation_batch_staged_at(acme_store_t *store, apr_pool_t *p, const char *name);
/* The record of automatic restarts, retained across generations (the
 * process pool, never NULL), brought up to date for the generation s is of:
 * after an automatic restart its cost (configuration test to this set-up),
 * after any other start or restart, until a restart is measured, what the
 * set-up took (from the first pre_config). Call once per generation, in
 * post_config; logs ACME00750/ACME00782 at debug. */
acme_wd_restarts_t *acme_activation_batch_restarts(server_rec *s);
/* pre_config hook (first of all): notes when the generation's configuration
 * read began (apr_time_now()). Returns OK. */
int acme_activation_batch_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
/* Should the restart for the staged names fresh wait for the batch? 1 while
 * another order is still moving (the issuing child's in-flight mark, or a job
 * file rewritten within the last 1.5 s) and the oldest of fresh has waited
 * less than 10 s, or ACME_WD_BATCH_COST_FACTOR times what the last automatic
 * restart took (before the first, the start) if longer, or, while jobs/
 * changed within 1.5 s (orders make progress, not names queued by the
 * pacer), 60 s when the children already serve every name of fresh
 * (acme_certs_hot_kept); else 0. now in
 * apr_time_t microseconds; temporary memory from p. */
int acme_activation_batch_waits(acme_wd_t *wd, apr_pool_t *p, const apr_array_header_t *fresh,
                                apr_time_t now);
/* Is the issuing child's in-flight mark (jobs/.in-flight) there and fresh at
 * now (apr_time_t)? 1 or 0; one stat, temporary memory from p. While staged
 * entries wait for their batch, the activation thread asks this often, and
 * looks at staging again as soon as it says 0. */
int acme_activation_batch_marked(acme_wd_t *wd, apr_pool_t *p, apr_time_t now);
/* acme_activation_watch.c (activation thread, fork gate held): unless done
 * already, watches staging/ and every configured entry in it (the thread's
 * first look, and after inotify lost events or a watch failed). Temporary
 * memory from p. */
void acme_activation_watch_all(acme_wd_t *wd, apr_pool_t *p);
/* Reads every pending inotify event: a configured entry created in staging/
 * gets its watch. 1 when an event was read, else 0. Temporary memory from p. */
int acme_activation_watch_events(acme_wd_t *wd, apr_pool_t *p);
/* Closes the thread's descriptors (in a forked child, which has no such thread). */
void acme_activation_close_fds(acme_wd_t *wd);
#endif
