/* What acmectl knows of one domain, read from the store: its config, the
 * child's status record, the live certificate, what is staged, and where the
 * record disagrees with the files (the files win). Nothing is written. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "acmectl.h"
#include "acme_account.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_store_restart.h"
#include "acme_store_configured.h"
#include "acme_cluster.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_job.h"
#include "acme_store_paths.h"
#include "acme_status_record.h"
#include "acme_time.h"
#include "acme_json.h"
#include "acme_custody.h"
#include "acmectl_view.h"
#include "acme_proc.h"

/* The names of the last start of each server using the store
 * (configured.json), each with the servers configuring it; NULL when no
 * server wrote it yet: every name counts as configured then. */
apr_hash_t *acmectl_view_configured(acmectl_t *ctl, apr_pool_t *p, apr_time_t *since)
{
    apr_hash_t *names;

    if (acme_store_configured_read(ctl->store, p, &names, since) != APR_SUCCESS) {
        return NULL;
    }
    return names;
}

static const char *json_str(json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static apr_array_header_t *json_str_array(apr_pool_t *p, json_t *arr)
{
    apr_array_header_t *out;
    size_t i;
    json_t *v;

    if (!json_is_array(arr)) {
        return NULL;
    }
    out = apr_array_make(p, (int)json_array_size(arr), sizeof(const char *));
    json_array_foreach(arr, i, v) {
        if (json_is_string(v)) {
            APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, json_string_value(v));
        }
    }
    return out;
}

const char *acmectl_view_join(apr_pool_t *p, const apr_array_header_t *arr, const char *sep)
{
    const char *s = NULL;
    int i;

    for (i = 0; arr && i < arr->nelts; ++i) {
        const char *item = acmectl_name(p, APR_ARRAY_IDX(arr, i, const char *));
        s = s ? apr_pstrcat(p, s, sep, item, NULL) : item;
    }
    return s ? s : "-";
}

static void view_config(acmectl_t *ctl, apr_pool_t *p, domain_view_t *v)
{
    acme_domain_t *domain = NULL;
    json_t *ca;

    if (acme_store_read_json_pooled(ctl->store, p, acme_store_rel_config(p, v->name),
                             &v->config) != APR_SUCCESS) {
        v->config = NULL;
        return;
    }
    if (acme_job_domain_from_json(p, v->config, &domain) == APR_SUCCESS && domain) {
        v->domain = domain;
        v->config_names = domain->names != NULL;
        v->names = domain->names;
        v->key_type = acme_key_type_name(domain->key_type);
        if (domain->ca_urls && domain->ca_urls->nelts > 0) {
            v->ca = APR_ARRAY_IDX(domain->ca_urls, 0, const char *);
        }
        return;
    }
    /* Written by another version of the module: take what is recognizable. */
    v->names = json_str_array(p, json_object_get(v->config, "names"));
    v->key_type = json_str(v->config, "key_type");
    ca = json_object_get(v->config, "ca_urls");
    if (!ca) {
        ca = json_object_get(v->config, "ca");
    }
    v->ca = json_is_array(ca) ? json_string_value(json_array_get(ca, 0))
                              : json_is_string(ca) ? json_string_value(ca) : NULL;
}

static void view_live(acmectl_t *ctl, apr_pool_t *p, domain_view_t *v)
{
    apr_array_header_t *chain;
    char target[1024];
    ssize_t n;
    apr_status_t rv;

    n = readlink(acme_store_path(ctl->store, p, acme_store_rel_live(p, v->name)),
                 target, sizeof(target) - 1);
    if (n > 0) {
        const char *slash;
        target[n] = '\0';
        slash = strrchr(target, '/');
        v->live_version = apr_pstrdup(p, slash ? slash + 1 : target);
    }
    rv = acme_store_load_live(ctl->store, p, v->name, &chain);
    if (rv == APR_SUCCESS && chain->nelts > 0
        && acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &v->live) == APR_SUCCESS) {
        v->has_live = 1;
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        v->live_error = "live certificate cannot be read";
    }
}

/* The start ticks jobs/<name>.json records for the setup hook with this pid
 * (0: none recorded, or the record cannot be read); *untimed set when it
 * lists that pid without them. */
static apr_uint64_t recorded_ticks(acmectl_t *ctl, apr_pool_t *p, const char *name, long pid,
                                   int *untimed)
{
    json_t *job, *h;
    size_t i;

    *untimed = 0;
    if (acme_store_read_json_pooled(ctl->store, p, acme_store_rel_job(p, name), &job)
        != APR_SUCCESS) {
        return 0;
    }
    json_array_foreach(json_object_get(job, "dns01"), i, h) {
        json_int_t ticks = json_integer_value(json_object_get(h, "start_ticks"));
        if (json_integer_value(json_object_get(h, "pid")) == pid) {
            if (ticks > 0) {
                return (apr_uint64_t)ticks;
            }
            *untimed = 1;
        }
    }
    return 0;
}

/* A running hook as the status record says it ("ID: LABEL running since T
 * (pid N)", acme_dns01.c) holds only while that process runs: the record
 * keeps the words of a process that exited, was stopped or was orphaned. */
static const char *activity_checked(acmectl_t *ctl, apr_pool_t *p, const char *name,
                                    const char *activity)
{
    const char *running = activity ? strstr(activity, " running since ") : NULL;
    const char *pid_at = running ? strstr(running, " (pid ") : NULL;
    const char *colon = activity ? strstr(activity, ": ") : NULL;
    const char *said = "setup ended (no process)";
    apr_uint64_t ticks;
    char *end;
    long pid;
    int untimed;

    if (!pid_at || !colon || colon > running) {
        return activity;
    }
    pid = strtol(pid_at + 6, &end, 10);
    if (pid <= 0 || strcmp(end, ")") != 0) {
        return activity;
    }
    ticks = recorded_ticks(ctl, p, name, pid, &untimed);
    if (acme_proc_alive((pid_t)pid, ticks)) {
        return activity;
    }
    /* a process with that pid runs, but without the recorded start time
     * nothing tells whether it is the setup or one that got its pid since */
    if (untimed && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
        said = "setup unknown (no start time recorded)";
    }
    return apr_psprintf(p, "%.*s: %s: %.*s, pid %ld, started %.*s",
                        (int)(colon - activity), activity, said, (int)(running - colon - 2),
                        colon + 2, pid, (int)(pid_at - running - 15), running + 15);
}

/* The status file is the User's: its decoder makes every string one line,
 * the rest is escaped on output. */
static void view_status(acmectl_t *ctl, apr_pool_t *p, domain_view_t *v)
{
    const acme_status_error_t *err;
    acme_status_record_t *rec;
    apr_status_t rv;

    v->unsaved_since = acme_status_record_unsaved_since(ctl->store, p, v->name);
    if ((rv = acme_status_record_load(ctl->store, p, v->name, &rec)) != APR_SUCCESS) {
        char buf[120];

        v->status = NULL;
        if (rv != APR_ENOENT) {
            v->record_unreadable = rv == APR_EINVAL ? "not a status record"
                                   : apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
        }
        return;
    }
    /* a refusal for the vhosts' level the child has not written yet: shown
     * as the status page shows it */
    v->status = acme_status_record_refused_view(ctl->store, p, rec);
    v->step = v->status->step;
    v->renew_at = v->status->renew_at;
    v->activity = activity_checked(ctl, p, v->name, v->status->activity);
    v->next_action = v->status->next_action ? acme_time_rfc3339(p, v->status->next_action)
                                            : NULL;
    err = v->status->error;
    v->failing = err && acme_status_record_failing(v->status);
    if (v->failing) {
        v->attempts = v->status->attempts > 0 ? v->status->attempts : 0;
        v->failing_since = err->since ? err->since : err->at;
        v->error_type = err->type;
    }
    if (err && (err->detail || err->type)) {
        const char *type = err->type, *detail = err->detail;
        const char *at = err->at ? acme_time_rfc3339(p, err->at) : NULL;
        if (type && !strncmp(type, ACME_ERROR_NS, sizeof(ACME_ERROR_NS) - 1)) {
            type += sizeof(ACME_ERROR_NS) - 1;
        }
        v->last_error = apr_pstrcat(p, at ? at : "", at ? " " : "", type ? type : "",
                                    type && detail ? ": " : "", detail ? detail : "", NULL);
    }
    if (!v->names) {
        v->names = v->status->names;
    }
}

/* A staged chain is the leaf and its issuers: 64 KiB is plenty (the status
 * page reads it with the same cap). */
#define VIEW_STAGED_PEM_MAX (64 * 1024)

/* The staged leaf's facts into v->staged_info where the check could not
 * read them (not checked here): the status page shows them all the same. */
static void view_staged_leaf(acmectl_t *ctl, apr_pool_t *p, domain_view_t *v)
{
    apr_array_header_t *chain;
    acme_cert_info_t info;
    const char *pem;
    apr_size_t len;

    if (!v->staged_info.serial
        && acme_store_read(ctl->store, p, acme_store_rel_staged(p, v->name, ACME_STORE_CERT_FILE),
                           VIEW_STAGED_PEM_MAX, &pem, &len) == APR_SUCCESS
        && acme_cert_chain_parse(p, pem, len, &chain) == APR_SUCCESS && chain->nelts > 0
        && acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &info) == APR_SUCCESS) {
        v->staged_info = info;
    }
}

/* The staged entry as activation would judge it (read only). */
static void view_staged(acmectl_t *ctl, apr_pool_t *p, domain_view_t *v)
{
    acme_key_type_e type;
    apr_status_t rv;

    if (!acme_store_has_staged(ctl->store, p, v->name)) {
        return;
    }
    if (lstat(acme_store_path(ctl->store, p, acme_store_rel_staged(p, v->name,
                                                                   ACME_STORE_CERT_FILE)),
              &(struct stat){ 0 }) < 0 && errno == ENOENT) {
        /* marked ready without its chain: activation refuses it whatever the
         * configuration says; say so rather than "not checked" */
        v->staged_check = STAGED_REFUSED;
        v->staged_why = "staged certificate file " ACME_STORE_CERT_FILE " is missing";
        return;
    }
    if (!v->config_names || !v->key_type || acme_key_type_parse(v->key_type, &type) != APR_SUCCESS) {
        v->staged = 1;
        v->staged_check = STAGED_UNCHECKED;
        v->staged_why = "no readable config/<name>.json to check it against";
        view_staged_leaf(ctl, p, v);
        return;
    }
    rv = acme_store_staged_inspect(ctl->store, p, &ctl->ctx, v->name, v->names, type,
                                   &v->staged_info, &v->staged_why);
    v->staged_check = rv == APR_SUCCESS ? STAGED_OK : rv == APR_EEXIST ? STAGED_LIVE
                    : rv == APR_EINVAL ? STAGED_REFUSED : rv == APR_ENOENT ? STAGED_NONE
                    : STAGED_UNCHECKED;
    v->staged = v->staged_check == STAGED_OK || v->staged_check == STAGED_UNCHECKED;
    if (v->staged_check == STAGED_UNCHECKED) {
        view_staged_leaf(ctl, p, v);
    }
}

/* The status record is the child's last word; the files are the truth. Where
 * they disagree the files win, and show says so. */
static void view_reconcile(apr_pool_t *p, domain_view_t *v)
{
    const acme_status_cert_t *rc = v->status ? v->status->cert : NULL;
    const char *name = acmectl_name(p, v->name);

    if (!v->status && v->record_unreadable) {
        v->record_note = apr_psprintf(
            p, "status/%s.json cannot be read (%s): state, next action and errors are unknown "
            "until the server writes it again (at its next look at %s, or a graceful restart). "
            "The certificate lines are the files' own", name, v->record_unreadable, name);
        return;
    }
    if (!v->status) {
        return;
    }
    if (v->unsaved_since) {
        /* Its state, step, error and next action are what the server knew
         * before then: none of it can be shown as current. */
        v->record_note = apr_psprintf(
            p, "status/%s.json is out of date: the server could not write it since %s (a full "
            "or read-only store: the error log says \"cannot write the status file\"); "
            "what it says is from before then. The certificate lines are the files' own",
            name, acmectl_time(p, v->unsaved_since));
        v->next_action = NULL;
        v->failing = v->renewal_failing = 0;
        return;
    }
    if (v->live_error && (v->status->state == ACME_STATUS_VALID
                          || v->status->state == ACME_STATUS_RENEWING)) {
        /* Written while the file was sound: what is on disk now is not. */
        v->record_note = apr_psprintf(
            p, "status/%s.json says \"%s\", but the live certificate cannot be read; at its next "
            "start or graceful restart the server serves the previous version, or its temporary "
            "certificate, and orders a new one", name, acme_status_record_state_name(v->status->state));
    }
    else if (v->status->state == ACME_STATUS_STAGED && !v->staged) {
        v->record_note = apr_psprintf(
            p, "status/%s.json says \"staged\", but %s; the record predates the last "
            "activation or refusal and is rewritten at the server's next check", name,
            v->staged_check == STAGED_REFUSED ? "activation would refuse what is staged"
            : v->staged_check == STAGED_LIVE ? "what is staged is the live certificate already"
            : v->rejected ? "the staged certificate was refused" : "nothing is staged");
    }
    else if (rc && rc->serial && v->has_live && v->live.serial
             && strcasecmp(rc->serial, v->live.serial)) {
        v->record_note = apr_psprintf(p, "status/%s.json names certificate %s, the live one "
                                      "is %s; the record is rewritten at the server's next check",
                                      name, rc->serial, v->live.serial);
    }
}

/* The shown state: the status page's (acme_status_record_shown_state) from the
 * record and the files, where the record is not behind them; else what the
 * files alone say, or acmectl's own. */
static void view_state(domain_view_t *v)
{
    int valid = v->has_live && v->live.not_after > apr_time_now();

    if (!v->configured) {
        v->state = NOT_CONFIGURED;
    }
    else if (v->unsaved_since) {
        v->state = STATE_STALE;
    }
    else if (v->live_error) {
        v->state = STATE_UNREADABLE;
    }
    else if (v->staged) {
        v->state = ACME_STATE_STAGED;
    }
    else {
        /* a record that disagrees with the files says nothing of them */
        const acme_status_record_t *rec = v->record_note ? NULL : v->status;

        if (rec && rec->state == ACME_STATUS_STAGED) {
            rec = NULL;           /* nothing is staged (view_reconcile said so) */
        }
        v->state = acme_status_record_shown_state(rec, v->has_live, valid, v->revoked);
    }
}

/* What happens next and when, as list and show say it. */
static void view_next(domain_view_t *v)
{
    apr_time_t look = v->status ? v->status->next_action : 0, queued = 0;
    /* an order past its queue: its steps follow one another, no time is set
     * for the next (the status page's next_action is null for it too) */
    int in_flight = v->step && strcmp(v->step, "idle") && strcmp(v->step, "staged")
                    && !(v->activity && (!strncmp(v->activity, ACME_ACTIVITY_QUEUED,
                                                  sizeof(ACME_ACTIVITY_QUEUED) - 1)
                                         || !strncmp(v->activity, ACME_ACTIVITY_ORDERS_PAUSED,
                                                     sizeof(ACME_ACTIVITY_ORDERS_PAUSED) - 1)));

    v->next_at = 0;
    if (v->unsaved_since || v->record_unreadable || !v->configured) {
        v->next_what = NULL;
    }
    else if (v->staged) {
        v->next_what = "restart";
        /* a time only where one holds for this name: the next test after
         * a refused restart, the backoff, or the held restart that lists it
         * (goes_live words the rest); none with AcmeActivation manual, as on
         * the status page */
        v->next_at = v->activation == ACME_ACTIVATION_MANUAL ? 0
                   : v->refused ? v->refused->retry_at
                   : v->held_until ? v->held_until : v->restart_at;
    }
    else if (v->failing) {
        v->next_what = "retry";
        v->next_at = look;
    }
    else if (in_flight) {
        v->next_what = "order";
    }
    else if (v->renew_requested) {
        v->next_what = "renew";
        v->next_at = look > apr_time_now() ? look : 0;
    }
    else if (!strcmp(v->state, ACME_STATE_RENEWING)) {
        v->next_what = "order";
    }
    else if (!v->has_live && v->activity
             && !strncmp(v->activity, ACME_ACTIVITY_QUEUED, sizeof(ACME_ACTIVITY_QUEUED) - 1)
             && acme_time_rfc3339_parse(v->activity + sizeof(ACME_ACTIVITY_QUEUED) - 1,
                                        &queued) == APR_SUCCESS) {
        /* waiting for its turn under AcmeMaxParallel: the status page's words */
        v->next_what = "queued";
        v->next_at = queued;
    }
    else if (!v->has_live) {
        v->next_what = "order";
        v->next_at = look > apr_time_now() ? look : 0;
    }
    else if (v->renew_at) {
        v->next_what = "renew";
        v->next_at = v->renew_at;
    }
    else {
        v->next_what = "check";
        v->next_at = look;
    }
}

/* Whether rel (in the store) exists, as "rel" or "rel/" for a directory. */
static const char *existing(acmectl_t *ctl, apr_pool_t *p, const char *rel)
{
    apr_finfo_t finfo;

    if (apr_stat(&finfo, acme_store_path(ctl->store, p, rel), APR_FINFO_LINK | APR_FINFO_TYPE, p)
        != APR_SUCCESS) {
        return NULL;
    }
    return finfo.filetype == APR_DIR ? apr_pstrcat(p, rel, "/", NULL) : rel;
}

/* Whether the name has a certificate to keep (archive/<name>/ or
 * domains/<name>): then config/ and keys/ go with it. */
static int has_certificates(acmectl_t *ctl, apr_pool_t *p, const char *name)
{
    return existing(ctl, p, acme_store_rel_archive(p, name))
           || existing(ctl, p, acme_store_rel_live(p, name));
}

/* What a name's last configuration left, by relative path (a directory with
 * a trailing "/"), every one that exists: an unfinished order, a renewal
 * request, a staged entry, its status record, its CSR; its configuration
 * record and keys too when no certificate of it is kept (those are listed
 * as kept by acmectl_view_leftovers_text otherwise). */
static apr_array_header_t *view_leftovers(acmectl_t *ctl, apr_pool_t *p, const char *name)
{
    const char *rels[9], *found;
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(const char *));
    int i, n = 0;

    rels[n++] = acme_store_rel_job(p, name);
    rels[n++] = acme_store_rel_job_key(p, name);
    rels[n++] = acme_store_rel_renew(p, name);
    rels[n++] = acme_store_rel_staging(p, name);
    rels[n++] = acme_store_rel_status(p, name);
    rels[n++] = acme_store_rel_csr(p, name);
    if (!has_certificates(ctl, p, name)) {
        rels[n++] = acme_store_rel_config(p, name);
        rels[n++] = acme_store_rel_keys(p, name);
    }
    for (i = 0; i < n; ++i) {
        if ((found = existing(ctl, p, rels[i]))) {
            APR_ARRAY_PUSH(out, const char *) = found;
        }
    }
    return out;
}

/* What is kept for when the name is configured again: its certificates
 * (archive/, domains/) and, with them, its configuration record and keys;
 * "" when none exists. */
static const char *kept_text(acmectl_t *ctl, apr_pool_t *p, const char *name)
{
    apr_array_header_t *kept = apr_array_make(p, 4, sizeof(const char *));
    const char *found;

    if (!has_certificates(ctl, p, name)) {
        return "";
    }
    if ((found = existing(ctl, p, acme_store_rel_archive(p, name)))) {
        APR_ARRAY_PUSH(kept, const char *) = found;
    }
    if ((found = existing(ctl, p, acme_store_rel_live(p, name)))) {
        APR_ARRAY_PUSH(kept, const char *) = found;
    }
    if ((found = existing(ctl, p, acme_store_rel_config(p, name)))) {
        APR_ARRAY_PUSH(kept, const char *) = found;
    }
    if ((found = existing(ctl, p, acme_store_rel_keys(p, name)))) {
        APR_ARRAY_PUSH(kept, const char *) = found;
    }
    return apr_psprintf(p, "; keep %s, its certificates, for when it is configured again",
                        acmectl_name(p, acmectl_view_join(p, kept, ", ")));
}

/* s as one shell word in '...', or NULL when it cannot be pasted as it is
 * shown: it needed escaping (a \xNN names no file) or holds a quote. */
static const char *shell_word(apr_pool_t *p, const char *s)
{
    return acmectl_name(p, s) != s || strchr(s, '\'') ? NULL : apr_pstrcat(p, "'", s, "'", NULL);
}

const char *acmectl_view_leftovers_text(acmectl_t *ctl, apr_pool_t *p, const domain_view_t *v)
{
    const char *name = acmectl_name(p, v->name);
    const char *dir = shell_word(p, acme_store_dir(ctl->store));
    const char *paths = "", *word, *how;
    int i;

    if (!v->leftovers || !v->leftovers->nelts) {
        return NULL;
    }
    for (i = 0; dir && i < v->leftovers->nelts; ++i) {
        word = shell_word(p, APR_ARRAY_IDX(v->leftovers, i, const char *));
        paths = word ? apr_pstrcat(p, paths, " ", word, NULL) : NULL;
        dir = word ? dir : NULL;
    }
    /* a name shown with \xNN is not the file's: nothing to paste then */
    how = dir ? apr_pstrcat(p, "Safe to remove (acmectl has no command for it), as root: cd ",
                            dir, " && rm -r", paths, NULL)
              : apr_pstrcat(p, "Safe to remove by hand (acmectl has no command for "
                            "it), as root, in ",
                            acmectl_name(p, acme_store_dir(ctl->store)), " (a name here "
                            "needed escaping or holds a quote, so no command to paste)", NULL);
    return apr_psprintf(
        p, "%s: left by its last configuration (an unfinished order, a renewal request, a "
        "staged certificate, its status and keys); nothing uses them while %s is not "
        "configured, and configuring it again takes them up (the order resumes, what is staged "
        "goes live). %s%s", acmectl_view_join(p, v->leftovers, " "), name, how,
        kept_text(ctl, p, v->name));
}

domain_view_t *acmectl_view_load(acmectl_t *ctl, apr_pool_t *p, const char *name,
                                apr_hash_t *configured)
{
    domain_view_t *v = apr_pcalloc(p, sizeof(*v));
    acme_custody_level_t level;

    v->name = name;
    v->configured_by = configured ? apr_hash_get(configured, name, APR_HASH_KEY_STRING) : NULL;
    v->configured = !configured || v->configured_by;
    view_config(ctl, p, v);
    view_status(ctl, p, v);
    view_live(ctl, p, v);
    view_staged(ctl, p, v);
    if (v->staged && !v->has_live && v->staged_info.serial) {
        v->served_since = acme_store_staged_served_since(ctl->store, p, name,
                                                         v->staged_info.serial);
    }
    v->revoked = v->has_live && acme_store_live_revoked(ctl->store, p, name);
    v->import_pending = v->has_live ? acme_store_import_pending(ctl->store, p, name) : 0;
    v->renew_requested = acme_store_renewal_requested(ctl->store, p, name);
    v->rejected = apr_stat(&(apr_finfo_t){ 0 }, acme_store_path(ctl->store, p, acme_store_rel_staged(
                               p, name, ACME_STORE_REJECTED_FILE)), APR_FINFO_TYPE, p)
                  == APR_SUCCESS;
    if (acme_custody_level_refusal(ctl->store, p, name, 1, &level) == APR_SUCCESS) {
        v->rejected_why = acme_custody_level_said(p, &level);
    }
    /* keys/ is root's: as another user there is nothing to show */
    v->held_until = acme_custody_refused_info(ctl->store, p, name, &v->refusals);
    if (v->held_until <= apr_time_now()) {
        v->held_until = 0;
    }
    if (!v->names && v->has_live) {
        v->names = v->live.names;
    }
    if (v->domain) {
        v->renew_at = acme_job_renew_at_shown(v->domain, v->has_live ? &v->live : NULL,
                                              v->status);
    }
    view_reconcile(p, v);
    if (v->staged) {
        apr_hash_t *waiting;
        acme_store_refusal_t *refused = apr_pcalloc(p, sizeof(*refused));

        v->activation = acme_store_activation_mode_read(ctl->store, p);
        acme_store_restart_refused_read(ctl->store, p, refused);
        v->refused = acme_store_restart_refused_of(refused);
        v->restart_after = acme_store_restart_held_read(ctl->store, p, &waiting);
        v->restart_at = v->restart_after && waiting
                        && apr_hash_get(waiting, name, APR_HASH_KEY_STRING) ? v->restart_after : 0;
    }
    v->renew_marked_at = acme_store_renewal_marked_at(ctl->store, p, name);
    /* The certificate serves; only its renewal fails (the page's "Valid,
     * renewal failing"). */
    v->renewal_failing = v->failing && v->has_live && v->live.not_after > apr_time_now();
    if (!v->configured) {
        v->leftovers = view_leftovers(ctl, p, name);
    }
    view_state(v);
    view_next(v);
    return v;
}

static void add_names(apr_pool_t *p, apr_hash_t *seen, const apr_array_header_t *entries,
                      const char *suffix)
{
    int i;

    for (i = 0; i < entries->nelts; ++i) {
        const char *e = APR_ARRAY_IDX(entries, i, const char *);
        apr_size_t len = strlen(e), slen = suffix ? strlen(suffix) : 0;
        if (suffix && (len <= slen || strcmp(e + len - slen, suffix))) {
            continue;
        }
        if (!suffix && acme_store_is_live_aside(e)) {
            continue;         /* domains/: a bad live link httpd set aside, no domain */
        }
        apr_hash_set(seen, apr_pstrndup(p, e, len - slen), APR_HASH_KEY_STRING, "");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every domain the store holds, sorted: the configured ones and those with
 * a live certificate. Only root's areas name domains: the child's (status/,
 * staging/) are the User's to fill with anything, so an entry there alone
 * is no domain. */
apr_array_header_t *acmectl_view_names(acmectl_t *ctl, apr_pool_t *p)
{
    static const struct { const char *dir, *suffix; } sources[] = {
        { ACME_STORE_CONFIG, ".json" }, { ACME_STORE_DOMAINS, NULL },
    };
    apr_hash_t *seen = apr_hash_make(p);
    apr_array_header_t *entries, *names = apr_array_make(p, 16, sizeof(const char *));
    apr_hash_index_t *hi;
    apr_size_t i;

    for (i = 0; i < sizeof(sources) / sizeof(sources[0]); ++i) {
        if (acme_store_list(ctl->store, p, sources[i].dir, &entries) == APR_SUCCESS) {
            add_names(p, seen, entries, sources[i].suffix);
        }
    }
    for (hi = apr_hash_first(p, seen); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(names, const char *) = apr_hash_this_key(hi);
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);
    return names;
}

const char *acmectl_view_goes_live(apr_pool_t *p, const domain_view_t *v, int full)
{
    return acme_store_activation_goes_live(p, v->activation, v->restart_after,
                                          v->restart_at != 0, v->refused, v->held_until,
                                          full);
}
