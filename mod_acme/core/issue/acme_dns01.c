/* dns-01 answers of one order, driven from the authorize step. Per
 * authorization: the setup hook runs (polled, never waited for), then the TXT
 * record is looked up every second until it is visible; only then does the
 * authorize step tell the CA to validate. After validation, or when the job
 * ends for any reason, the teardown hooks run; they outlive the job and are
 * polled by the driver, their failures only logged.
 *
 * Delegation: when _acme-challenge.NAME is a CNAME (into a zone the hook can
 * update, as with acme-dns), the CAs follow it (RFC 8555 §8.4 lets them; Let's
 * Encrypt does), so the hook is given the CNAME's target as NAME and the
 * record it stands for as a fourth argument, as lego hands its DNS providers
 * the target since v4.9 (go-acme.github.io/lego/dns, "CNAME support"). */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "acme_job_int.h"
#include "acme_dns01.h"
#include "acme_time.h"
#include "acme_dns.h"
#include "acme_name.h"
#include "acme_proc.h"
#include "acme_json.h"
#include "acme_store_paths.h"
#include "acme_dns01_claim.h"

typedef enum {
    DNS01_SETUP = 0,            /* setup hook to start or running */
    DNS01_LOOKUP,               /* waiting for the TXT record to be visible */
    DNS01_READY                 /* visible (or responded to before a restart) */
} dns01_state_e;

typedef struct dns01_entry_t {
    const char *authz_url;
    const char *identifier;     /* as written: "*.example.org" for a wildcard */
    const char *record;         /* _acme-challenge.example.org */
    const char *target;         /* where its CNAMEs lead: what the hook publishes */
    const char *value;          /* the TXT value */
    dns01_state_e state;
    acme_dns_hook_t *setup;
    int set_up;                 /* setup was started: a teardown is owed */
    apr_uint64_t setup_ticks;   /* the running setup's start (acme_proc_start_ticks) */
    apr_time_t deadline;        /* for the record to become visible */
    apr_time_t next_lookup;
    const char *seen;           /* where the last lookup's CNAMEs led */
    const char *lookup_error;   /* the last lookup's failure, if any */
} dns01_entry_t;

struct acme_dns01_set_t {
    apr_pool_t *pool;           /* in the job's pool: running setups die with it */
    const char *order_url;
    const char *program;
    const char *resolver;
    apr_array_header_t *entries; /* dns01_entry_t* */
};

static int dns01_enabled(const acme_domain_t *domain)
{
    int i;

    for (i = 0; domain->dns_cmd && domain->challenges && i < domain->challenges->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(domain->challenges, i, const char *), "dns-01") == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *resolver_label(const struct acme_dns01_set_t *set)
{
    return set->resolver ? set->resolver : "the system resolver";
}

/* The record the hook's NAME stands for when that is a CNAME's target. */
static const char *delegated_from(const dns01_entry_t *entry)
{
    return strcmp(entry->target, entry->record) == 0 ? NULL : entry->record;
}

/* "_acme-challenge.x" or "_acme-challenge.x (CNAME to y)", for messages. */
static const char *record_label(apr_pool_t *p, const dns01_entry_t *entry, const char *target)
{
    if (strcasecmp(target, entry->record) == 0) {
        return entry->record;
    }
    return apr_psprintf(p, "%s (CNAME to %s)", entry->record, target);
}

/* ---- teardown: started here, polled by the driver ---- */

/* A running teardown and its arguments, to be run again by the next
 * process when this one exits under it (acme_dns01_stop_teardowns). */
typedef struct teardown_t {
    acme_dns_hook_t *hook;
    const char *program, *identifier, *target, *value, *from;
} teardown_t;

/* Starts "program teardown target value [delegated_from]"; identifier is
 * for the log. */
static void teardown_run(acme_driver_t *driver, const char *program, const char *identifier,
                         const char *target, const char *value, const char *delegated_from)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    acme_dns_hook_t *hook;
    teardown_t *td;
    apr_pool_t *pool;

    if (!driver->dns_teardowns) {
        driver->dns_teardowns = apr_array_make(driver->pool, 4, sizeof(teardown_t *));
    }
    if (apr_pool_create(&pool, driver->pool) != APR_SUCCESS) {
        return;
    }
    if (acme_dns_hook_start(&hook, pool, program, "teardown", target, value, delegated_from,
                            now, 0) != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_ERR, 0, "ACME00900: %s %s; the TXT record may be left "
                 "in DNS", acme_dns_hook_label(hook), acme_dns_hook_result(hook));
        apr_pool_destroy(pool);
        return;
    }
    acme_log(&driver->ctx, ACME_LOG_INFO, 0, "ACME00901: %s: running %s", identifier,
             acme_dns_hook_label(hook));
    td = apr_pcalloc(pool, sizeof(*td));
    td->hook = hook;
    td->program = apr_pstrdup(pool, program);
    td->identifier = apr_pstrdup(pool, identifier);
    td->target = apr_pstrdup(pool, target);
    td->value = apr_pstrdup(pool, value);
    td->from = delegated_from ? apr_pstrdup(pool, delegated_from) : NULL;
    APR_ARRAY_PUSH(driver->dns_teardowns, teardown_t *) = td;
}

static void teardown_start(acme_driver_t *driver, const struct acme_dns01_set_t *set,
                           const dns01_entry_t *entry)
{
    teardown_run(driver, set->program, entry->identifier, entry->target, entry->value,
                 delegated_from(entry));
}

/* ---- setups an earlier process recorded (jobs/<name>.json "dns01") ---- */

/* One recorded setup's arguments and process. */
typedef struct recorded_t {
    const char *program, *identifier, *target, *value, *from;
    json_int_t pid, ticks;
} recorded_t;

/* A record name as this server passes it to the hook: letters, digits,
 * '-', '_' and '.', not starting with '-' (no option to the hook). */
static int dns_name_plain(const char *name)
{
    const char *c;

    if (!*name || *name == '-' || strlen(name) > 253) {
        return 0;
    }
    for (c = name; *c; ++c) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_' && *c != '.') {
            return 0;
        }
    }
    return 1;
}

/* 1 when h is a setup this server recorded: a program by its absolute path,
 * a name it checked, a value it made. */
static int recorded_read(json_t *h, recorded_t *r)
{
    r->program = json_string_value(json_object_get(h, "program"));
    r->identifier = json_string_value(json_object_get(h, "identifier"));
    r->target = json_string_value(json_object_get(h, "name"));
    r->value = json_string_value(json_object_get(h, "value"));
    r->from = json_string_value(json_object_get(h, "delegated_from"));
    r->pid = json_integer_value(json_object_get(h, "pid"));
    r->ticks = json_integer_value(json_object_get(h, "start_ticks"));
    return r->program && *r->program == '/' && r->identifier && r->target && r->value
           && acme_name_token_is_valid(r->value) && dns_name_plain(r->target)
           && (!r->from || dns_name_plain(r->from));
}

/* The setup of a process that did not stop it (one that crashed) must not
 * publish after the teardown: 1 when it still ran and was stopped. */
static int recorded_stop(const recorded_t *r)
{
    return r->pid > 1 && r->pid <= (json_int_t)INT32_MAX
           && acme_proc_group_stop((pid_t)r->pid, r->ticks > 0 ? (apr_uint64_t)r->ticks : 0);
}

/* Whether the job ran the recorded setup again itself (same record, same
 * value): its own teardown covers it then. */
static int set_runs(const struct acme_dns01_set_t *set, const recorded_t *r)
{
    int i;

    for (i = 0; set && i < set->entries->nelts; ++i) {
        const dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, const dns01_entry_t *);
        if (entry->set_up && strcasecmp(entry->target, r->target) == 0
            && strcmp(entry->value, r->value) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A resumed order ended: the teardowns of the setups its record listed that
 * the job did not run again itself. */
static void recorded_teardown(acme_driver_t *driver, const struct acme_dns01_set_t *set,
                              json_t *recorded)
{
    json_t *h;
    size_t i;

    json_array_foreach(recorded, i, h) {
        recorded_t r;
        int stopped;

        if (!recorded_read(h, &r) || set_runs(set, &r)) {
            continue;
        }
        stopped = recorded_stop(&r);
        acme_log(&driver->ctx, ACME_LOG_INFO, 0, "ACME00926: %s: its order, resumed after a "
                 "restart, ends; running the teardown of the AcmeDnsCmd setup the previous "
                 "process ran%s", r.identifier, stopped ? " (still running: stopped)" : "");
        teardown_run(driver, r.program, r.identifier, r.target, r.value, r.from);
    }
}

/* SIGTERM to each setup of set still running (setups_wait then gives them
 * one shared grace, not a grace each one after the other); how many. Each
 * is said (ACME00928 when its teardown follows, else ACME00930): its
 * program was cut short. One that exited already is only reaped. */
static int setups_terminate(acme_driver_t *driver, struct acme_dns01_set_t *set, int teardown)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    int i, running = 0;

    for (i = 0; set && i < set->entries->nelts; ++i) {
        dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, dns01_entry_t *);

        if (!entry->setup) {
            continue;
        }
        if (entry->state != DNS01_SETUP || acme_dns_hook_poll(entry->setup, now) != APR_EAGAIN) {
            continue;       /* ended and reaped: acme_dns_hook_stop_until leaves it be */
        }
        if (teardown) {
            acme_log(&driver->ctx, ACME_LOG_INFO, 0, "ACME00928: %s: %s is still running as "
                     "the attempt ends; it is stopped (SIGTERM, then SIGKILL) before its "
                     "teardown runs", entry->identifier, acme_dns_hook_label(entry->setup));
        }
        else {
            acme_log(&driver->ctx, ACME_LOG_INFO, 0, "ACME00930: %s: %s is still running as "
                     "its order stops here (the process exits, or another server holds the "
                     "claim to order now); it is stopped (SIGTERM, then SIGKILL), its teardown "
                     "left to whoever resumes or abandons the order", entry->identifier,
                     acme_dns_hook_label(entry->setup));
        }
        acme_dns_hook_terminate(entry->setup);
        running++;
    }
    return running;
}

/* The setups setups_terminate signalled: each waited for until until
 * (apr_time_t), then SIGKILLed. */
static void setups_wait(struct acme_dns01_set_t *set, apr_time_t until)
{
    int i;

    for (i = 0; set && i < set->entries->nelts; ++i) {
        dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, dns01_entry_t *);

        if (entry->setup) {
            acme_dns_hook_stop_until(entry->setup, until);
        }
    }
}

void acme_dns01_teardown(acme_driver_t *driver, acme_job_t *job)
{
    struct acme_dns01_set_t *set = job->dns01;
    json_t *recorded = job->dns01_recorded;
    int i;

    job->dns01 = NULL;
    job->dns01_recorded = NULL;
    if (set || recorded) {
        job->hooks_seq++;       /* the next save writes the record without them */
    }
    /* Setups still running stop before any teardown starts: one that
     * published after its teardown (or the recorded one's) would leave its
     * TXT record in the zone. */
    if (setups_terminate(driver, set, 1)) {      /* together: one shared grace */
        setups_wait(set, apr_time_now() + ACME_PROC_KILL_GRACE);
    }
    recorded_teardown(driver, set, recorded);
    if (!set) {
        return;
    }
    for (i = 0; i < set->entries->nelts; ++i) {
        dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, dns01_entry_t *);
        if (entry->set_up) {
            teardown_start(driver, set, entry);
        }
    }
    /* the setups' processes are stopped above; this frees them */
    apr_pool_destroy(set->pool);
}

static void hook_log_end(acme_driver_t *driver, acme_dns_hook_t *hook, apr_status_t rv,
                         const char *tag_ok, const char *tag_failed, const char *consequence)
{
    const char *output = acme_dns_hook_logged(hook);

    if (rv == APR_SUCCESS) {
        /* logtag: from caller */
        acme_log(&driver->ctx, ACME_LOG_INFO, 0, "%s: %s succeeded%s%s", tag_ok,
                 acme_dns_hook_label(hook), *output ? "; output: " : "", output);
        return;
    }
    /* logtag: from caller */
    acme_log(&driver->ctx, ACME_LOG_ERR, rv, "%s: %s %s%s%s%s", tag_failed,
             acme_dns_hook_label(hook), acme_dns_hook_result(hook),
             *output ? "; output: " : "", output, consequence);
}

void acme_dns01_poll_teardowns(acme_driver_t *driver, apr_time_t now, apr_time_t *next_run)
{
    apr_array_header_t *hooks = driver->dns_teardowns;
    int i, running = 0;

    for (i = 0; hooks && i < hooks->nelts; ++i) {
        teardown_t *td = APR_ARRAY_IDX(hooks, i, teardown_t *);
        apr_status_t rv = acme_dns_hook_poll(td->hook, now);

        if (rv == APR_EAGAIN) {
            APR_ARRAY_IDX(hooks, running++, teardown_t *) = td;
            continue;
        }
        hook_log_end(driver, td->hook, rv, "ACME00902", "ACME00903",
                     "; the TXT record may be left in DNS");
        apr_pool_destroy(acme_dns_hook_pool(td->hook));
    }
    if (hooks) {
        hooks->nelts = running;
    }
    if (running && *next_run > now + ACME_DNS_CHECK_INTERVAL) {
        *next_run = now + ACME_DNS_CHECK_INTERVAL;
    }
}

/* ---- what the order needs ---- */

/* Whether entry->record is a CNAME, and to where. A lookup that fails still
 * names the last CNAME target it got to (or the record itself). */
static void delegation_find(acme_step_ctx_t *sc, struct acme_dns01_set_t *set,
                            dns01_entry_t *entry)
{
    apr_array_header_t *values;
    const char *target, *why = NULL;

    if (acme_dns_txt_resolve(sc->p, set->resolver, entry->record, &values, &target, &why)
        != APR_SUCCESS) {
        acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME00918: %s: looking for a CNAME at "
                 "%s: %s", entry->identifier, entry->record, why);
    }
    if (strcasecmp(target, entry->record) != 0) {
        entry->target = apr_pstrdup(set->pool, target);
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME00917: %s: %s is a CNAME to %s "
                 "(at %s): AcmeDnsCmd publishes the TXT record there", entry->identifier,
                 entry->record, entry->target, resolver_label(set));
    }
}

static dns01_entry_t *entry_make(acme_step_ctx_t *sc, struct acme_dns01_set_t *set,
                                 const acme_authz_t *authz, const acme_challenge_t *challenge)
{
    dns01_entry_t *entry = apr_pcalloc(set->pool, sizeof(*entry));
    const char *key_authz = acme_crypto_key_authorization(set->pool, challenge->token,
                                                          acme_client_thumbprint(sc->client));

    entry->authz_url = apr_pstrdup(set->pool, authz->url);
    entry->identifier = apr_pstrcat(set->pool, authz->wildcard ? "*." : "", authz->identifier, NULL);
    entry->record = acme_dns_record_name(set->pool, authz->identifier);
    entry->value = acme_crypto_key_authorization_digest(set->pool, key_authz);
    entry->target = entry->record;
    delegation_find(sc, set, entry);
    /* Responded to before a restart: the record was set then; tear it down at the end. */
    if (challenge->status && strcmp(challenge->status, "pending") != 0) {
        entry->state = DNS01_READY;
        entry->set_up = 1;
    }
    return entry;
}

/* The authorizations of the order that will be answered with dns-01. */
static acme_outcome_e entries_collect(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;
    struct acme_dns01_set_t *set;
    apr_pool_t *pool;
    apr_status_t rv;
    int i;

    if ((rv = apr_pool_create(&pool, job->pool)) != APR_SUCCESS) {
        acme_problem_set(&sc->prob, sc->p, rv, NULL, "out of memory");
        return ACME_OUTCOME_FAILED;
    }
    set = apr_pcalloc(pool, sizeof(*set));
    set->pool = pool;
    set->order_url = apr_pstrdup(pool, job->order_url);
    set->program = apr_pstrdup(pool, sc->domain->dns_cmd);
    set->resolver = sc->domain->dns_resolver ? apr_pstrdup(pool, sc->domain->dns_resolver) : NULL;
    set->entries = apr_array_make(pool, 2, sizeof(dns01_entry_t *));
    job->dns01 = set;
    for (i = 0; job->authz_urls && i < job->authz_urls->nelts; ++i) {
        const acme_challenge_t *challenge;
        apr_time_t retry_after = 0;
        acme_authz_t *authz;

        rv = acme_client_get_authz(sc->client, sc->p, APR_ARRAY_IDX(job->authz_urls, i, const char *),
                                   &authz, &retry_after, &sc->prob);
        if (rv != APR_SUCCESS) {
            sc->prob.status = sc->prob.status ? sc->prob.status : rv;
            return ACME_OUTCOME_FAILED;
        }
        /* Anything else is for the authorize step to report. */
        if (strcmp(authz->status, "pending") != 0
            || !(challenge = acme_job_challenge_for(sc, authz))
            || strcmp(challenge->type, "dns-01") != 0 || !acme_name_token_is_valid(challenge->token)) {
            continue;
        }
        APR_ARRAY_PUSH(set->entries, dns01_entry_t *) = entry_make(sc, set, authz, challenge);
    }
    return ACME_OUTCOME_DONE;
}

/* ---- advancing one answer ---- */

/* The output kept (its start and end) and the hook's path go to the error log only; the
 * record (the status page, acmectl show) gets acme_dns_hook_shown. */
static acme_outcome_e setup_failed(acme_step_ctx_t *sc, dns01_entry_t *entry, apr_status_t rv)
{
    hook_log_end(sc->driver, entry->setup, rv, "ACME00904", "ACME00905", "");
    acme_problem_set(&sc->prob, sc->p, rv, NULL, "%s; fix the hook (run it by hand as the "
                     "server's user to see why; the error log has its path and output, its "
                     "start and its end), it is tried again at the next attempt",
                     acme_dns_hook_shown(entry->setup, sc->p));
    sc->prob.kind = ACME_PROBLEM_KIND_HOOK;
    return ACME_OUTCOME_FAILED;
}

static acme_outcome_e setup_advance(acme_step_ctx_t *sc, struct acme_dns01_set_t *set,
                                    dns01_entry_t *entry)
{
    apr_status_t rv;

    if (!entry->setup) {
        entry->set_up = 1;
        rv = acme_dns_hook_start(&entry->setup, set->pool, set->program, "setup", entry->target,
                                 entry->value, delegated_from(entry), sc->now, 1);
        if (rv != APR_SUCCESS) {
            return setup_failed(sc, entry, rv);
        }
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME00906: %s: running %s (TXT value %s, "
                 "pid %" APR_PID_T_FMT ")", entry->identifier, acme_dns_hook_label(entry->setup),
                 entry->value, acme_dns_hook_pid(entry->setup));
        /* Recorded in jobs/<name>.json (pid and start ticks) by the driver
         * at the end of this step (hooks_seq): whoever finds the order
         * abandoned (acme_dns01_teardown_recorded) stops it if it still runs
         * and runs its teardown. */
        entry->setup_ticks = acme_proc_start_ticks(acme_dns_hook_pid(entry->setup));
        sc->job->hooks_seq++;
    }
    rv = acme_dns_hook_poll(entry->setup, sc->now);
    if (rv == APR_EAGAIN) {
        return ACME_OUTCOME_WAIT;
    }
    if (rv != APR_SUCCESS) {
        return setup_failed(sc, entry, rv);
    }
    hook_log_end(sc->driver, entry->setup, rv, "ACME00915", "ACME00916", "");
    entry->state = DNS01_LOOKUP;
    entry->deadline = sc->now + ACME_DNS_VISIBLE_TIMEOUT;
    entry->next_lookup = sc->now;
    return ACME_OUTCOME_DONE;
}

static int has_value(const apr_array_header_t *values, const char *value)
{
    int i;

    for (i = 0; i < values->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(values, i, const char *), value) == 0) {
            return 1;
        }
    }
    return 0;
}

static acme_outcome_e lookup_advance(acme_step_ctx_t *sc, struct acme_dns01_set_t *set,
                                     dns01_entry_t *entry)
{
    apr_array_header_t *values;
    const char *why = NULL, *target, *label;
    apr_status_t rv;

    if (sc->now < entry->next_lookup) {
        return ACME_OUTCOME_WAIT;
    }
    rv = acme_dns_txt_resolve(sc->p, set->resolver, entry->record, &values, &target, &why);
    /* Where the CNAMEs lead now (or the name that could not be looked up). */
    entry->seen = apr_pstrdup(set->pool, target);
    label = record_label(sc->p, entry, entry->seen);
    if (rv == APR_SUCCESS && has_value(values, entry->value)) {
        /* why: how a CNAME's target was asked for (the system resolver) */
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME00907: %s: TXT record %s visible at %s"
                 "%s%s", entry->identifier, label, resolver_label(set), why ? " (" : "",
                 why ? apr_pstrcat(sc->p, why, ")", NULL) : "");
        entry->state = DNS01_READY;
        return ACME_OUTCOME_DONE;
    }
    if (why) {                  /* a failure, or how the CNAME's target was asked for */
        entry->lookup_error = apr_pstrdup(set->pool, why);
    }
    acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, rv, "ACME00908: %s: TXT record %s not yet visible "
             "at %s (%d value(s)%s%s)", entry->identifier, label, resolver_label(set),
             rv == APR_SUCCESS ? values->nelts : 0, why ? "; " : "", why ? why : "");
    if (sc->now >= entry->deadline) {
        acme_problem_set(&sc->prob, sc->p, APR_TIMEUP, NULL, "TXT record %s not visible at %s "
                         "after %d s%s%s; check that AcmeDnsCmd really publishes it and that "
                         "AcmeDnsResolver asks a server that sees the change",
                         label, resolver_label(set),
                         (int)apr_time_sec(ACME_DNS_VISIBLE_TIMEOUT),
                         entry->lookup_error ? "; last lookup: " : "",
                         entry->lookup_error ? entry->lookup_error : "");
        sc->prob.kind = ACME_PROBLEM_KIND_HOOK;
        return ACME_OUTCOME_FAILED;
    }
    entry->next_lookup = sc->now + ACME_DNS_CHECK_INTERVAL;
    return ACME_OUTCOME_WAIT;
}

/* For the status page: the first answer not in place yet, and why. */
static const char *activity_of(acme_step_ctx_t *sc, const struct acme_dns01_set_t *set)
{
    int i;

    for (i = 0; i < set->entries->nelts; ++i) {
        const dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, const dns01_entry_t *);
        if (entry->state == DNS01_SETUP && entry->setup) {
            return apr_psprintf(sc->p, "%s: %s running since %s (pid %" APR_PID_T_FMT ")",
                                entry->identifier, acme_dns_hook_shown_label(entry->setup),
                                acme_time_rfc3339(sc->p, acme_dns_hook_started(entry->setup)),
                                acme_dns_hook_pid(entry->setup));
        }
        if (entry->state == DNS01_LOOKUP) {
            return apr_psprintf(sc->p, "%s: waiting for TXT record %s to be visible at %s "
                                "(until %s)", entry->identifier,
                                record_label(sc->p, entry, entry->seen ? entry->seen
                                                                        : entry->target),
                                resolver_label(set), acme_time_rfc3339(sc->p, entry->deadline));
        }
    }
    return NULL;
}

acme_outcome_e acme_dns01_prepare(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;
    struct acme_dns01_set_t *set = job->dns01;
    acme_outcome_e outcome;
    int i, waiting = 0;

    if (!dns01_enabled(sc->domain)) {
        return ACME_OUTCOME_DONE;
    }
    if (set && (!job->order_url || strcmp(set->order_url, job->order_url) != 0)) {
        acme_dns01_teardown(sc->driver, job);
        set = NULL;
    }
    if (!set) {
        if ((outcome = entries_collect(sc)) != ACME_OUTCOME_DONE) {
            return outcome;
        }
        set = job->dns01;
    }
    for (i = 0; i < set->entries->nelts; ++i) {
        dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, dns01_entry_t *);

        outcome = ACME_OUTCOME_DONE;
        if (entry->state == DNS01_SETUP) {
            outcome = setup_advance(sc, set, entry);
        }
        if (outcome == ACME_OUTCOME_DONE && entry->state == DNS01_LOOKUP) {
            outcome = lookup_advance(sc, set, entry);
        }
        if (outcome == ACME_OUTCOME_FAILED) {
            return outcome;
        }
        waiting += outcome == ACME_OUTCOME_WAIT;
    }
    acme_job_activity_set(job, waiting ? activity_of(sc, set) : NULL);
    if (waiting) {
        sc->retry_after = sc->now + ACME_DNS_CHECK_INTERVAL;
        return ACME_OUTCOME_WAIT;
    }
    return ACME_OUTCOME_DONE;
}

int acme_dns01_ready(const acme_job_t *job, const char *authz_url)
{
    const struct acme_dns01_set_t *set = job->dns01;
    int i;

    for (i = 0; set && i < set->entries->nelts; ++i) {
        const dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, const dns01_entry_t *);
        if (strcmp(entry->authz_url, authz_url) == 0) {
            return entry->state == DNS01_READY;
        }
    }
    return 0;
}

/* ---- the order's record (jobs/<name>.json) and abandoned orders ---- */

json_t *acme_dns01_to_json(const acme_job_t *job)
{
    const struct acme_dns01_set_t *set = job->dns01;
    json_t *array = NULL, *h;
    size_t i;

    for (i = 0; set && i < (size_t)set->entries->nelts; ++i) {
        const dns01_entry_t *entry = APR_ARRAY_IDX(set->entries, i, const dns01_entry_t *);
        json_t *obj;

        if (!entry->set_up) {
            continue;
        }
        obj = json_pack("{s:s, s:s, s:s, s:s}", "program", set->program, "identifier",
                        entry->identifier, "name", entry->target, "value", entry->value);
        if (!obj) {
            continue;
        }
        if (delegated_from(entry)) {
            json_object_set_new(obj, "delegated_from", json_string(delegated_from(entry)));
        }
        /* not seen to end yet: whoever reads this checks whether it runs */
        if (entry->setup && entry->state == DNS01_SETUP) {
            json_object_set_new(obj, "pid", json_integer(acme_dns_hook_pid(entry->setup)));
            json_object_set_new(obj, "start_ticks", json_integer((json_int_t)entry->setup_ticks));
            json_object_set_new(obj, "since", json_integer(apr_time_sec(
                                    acme_dns_hook_started(entry->setup))));
        }
        if (!array) {
            array = json_array();
        }
        json_array_append_new(array, obj);
    }
    /* kept until the job's end runs their teardown */
    json_array_foreach(job->dns01_recorded, i, h) {
        recorded_t r;

        if (!recorded_read(h, &r) || set_runs(set, &r)) {
            continue;
        }
        if (!array) {
            array = json_array();
        }
        json_array_append(array, h);
    }
    return array;
}

int acme_dns01_teardown_recorded(acme_driver_t *driver, const char *name, json_t *record,
                                 apr_pool_t *p)
{
    json_t *hooks = json_object_get(record, "dns01"), *h;
    int started = 0;
    size_t i;

    json_array_foreach(hooks, i, h) {
        recorded_t r;
        int stopped;

        if (!recorded_read(h, &r)) {
            continue;
        }
        stopped = recorded_stop(&r);
        if (!name) {
            acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00924: %s: running again the "
                     "AcmeDnsCmd teardown stopped, unfinished, at the previous process's exit",
                     r.identifier);
            teardown_run(driver, r.program, r.identifier, r.target, r.value, r.from);
            started++;
            continue;
        }
        acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00920: %s: its order was abandoned "
                 "(the name is no longer configured or its order is not resumed) while "
                 "AcmeDnsCmd setup for %s had run%s; running its teardown with the same "
                 "arguments", name, r.identifier, stopped ? apr_psprintf(
                     p, " (still running as pid %d: stopped)", (int)r.pid) : "");
        teardown_run(driver, r.program, r.identifier, r.target, r.value, r.from);
        started++;
    }
    return started;
}

void acme_dns01_stop_teardowns(acme_driver_t *driver, apr_pool_t *p)
{
    apr_time_t until = apr_time_now() + ACME_PROC_KILL_GRACE;
    apr_time_t next = 0;
    json_t *left = NULL;
    const char *claimed = NULL;
    apr_status_t rv;
    int i;

    /* a claimed file of a process gone since the first run is merged in */
    driver->claims_looked_at = 0;
    /* a moment to end by themselves: most take well under a second */
    while (driver->dns_teardowns && driver->dns_teardowns->nelts && apr_time_now() < until) {
        acme_dns01_poll_teardowns(driver, acme_core_now(&driver->ctx), &next);
        if (driver->dns_teardowns->nelts) {
            apr_sleep(apr_time_from_msec(50));
        }
    }
    /* The rest are stopped together: SIGTERM to all, one shared grace, then
     * SIGKILL to those left (stopped one by one, each with its own grace,
     * the last could be cut by httpd's own kill of this process). */
    for (i = 0; driver->dns_teardowns && i < driver->dns_teardowns->nelts; ++i) {
        acme_dns_hook_terminate(APR_ARRAY_IDX(driver->dns_teardowns, i, teardown_t *)->hook);
    }
    until = apr_time_now() + ACME_PROC_KILL_GRACE;
    for (i = 0; driver->dns_teardowns && i < driver->dns_teardowns->nelts; ++i) {
        teardown_t *td = APR_ARRAY_IDX(driver->dns_teardowns, i, teardown_t *);
        json_t *obj = json_pack("{s:s, s:s, s:s, s:s}", "program", td->program, "identifier",
                                td->identifier, "name", td->target, "value", td->value);

        acme_dns_hook_stop_until(td->hook, until);
        acme_log(&driver->ctx, ACME_LOG_WARN, 0, "ACME00922: %s: %s stopped, unfinished, as "
                 "the process exits; the next start runs it again", td->identifier,
                 acme_dns_hook_label(td->hook));
        if (!obj) {
            continue;
        }
        if (td->from) {
            json_object_set_new(obj, "delegated_from", json_string(td->from));
        }
        /* claimed, not read in place: a process rerunning them at once
         * (acme_dns01_stopped_rerun) finds nothing, or took them first */
        if (!left && (acme_dns01_claim_take(driver, p, &left, &claimed) != APR_SUCCESS
                      || !json_is_array(json_object_get(left, "dns01")))) {
            left = json_pack("{s:[]}", "dns01");
            if (left) {
                acme_json_pool_owned(p, left);
            }
        }
        if (left) {
            json_array_append(json_object_get(left, "dns01"), obj);
        }
        json_decref(obj);
    }
    if (driver->dns_teardowns) {
        driver->dns_teardowns->nelts = 0;
    }
    /* under the claimed name, then put back without replacing what another
     * process wrote since */
    if (left && (rv = acme_dns01_claim_put(driver, p, left, claimed)) != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00923: cannot write %s: the "
                 "teardowns stopped at this exit are not run again; their TXT records may be "
                 "left in DNS", ACME_DNS01_TEARDOWNS_FILE);
    }
}

void acme_dns01_stop_setups(acme_driver_t *driver, acme_job_t *const *jobs, int n)
{
    apr_time_t until;
    int i, running = 0;

    /* all jobs' at once: the pool's cleanup, or a grace per job, would
     * stop them one after the other, and httpd's kill of an exiting child
     * could come first */
    for (i = 0; i < n; ++i) {
        running += setups_terminate(driver, jobs[i]->dns01, 0);
    }
    until = apr_time_now() + ACME_PROC_KILL_GRACE;
    for (i = 0; i < n; ++i) {
        struct acme_dns01_set_t *set = jobs[i]->dns01;

        if (set) {
            jobs[i]->dns01 = NULL;
            if (running) {
                setups_wait(set, until);
            }
            apr_pool_destroy(set->pool);
        }
    }
}
