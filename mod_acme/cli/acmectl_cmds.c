/* acmectl commands: list, show (renew: acmectl_renew.c). Everything comes from the store
 * (acmectl_view.c reads it); a missing or damaged file makes a field
 * unknown, never the command fail. */
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

/* staged_check_e's names in --json output. */
static const char *const staged_check_names[] = { NULL, "ok", "refused", "live", "unchecked" };

static void set_opt_str(json_t *obj, const char *key, const char *value)
{
    json_object_set_new(obj, key, value ? json_string(value) : json_null());
}

/* Is a staged certificate of v waiting for an automatic restart that was
 * refused (jobs/.restart-refused.json)? With AcmeActivation manual nothing
 * automatic is meant: no. */
static int restart_refused(const domain_view_t *v)
{
    return v->refused && v->staged && v->activation != ACME_ACTIVATION_MANUAL;
}

/* A first certificate staged (none live yet) whose leaf could be read: list
 * and --json give its facts, as the status page's "staged". */
static int first_staged(const domain_view_t *v)
{
    return v->staged && !v->has_live && v->staged_info.serial;
}

/* The status page's "staged" of v: {not_before, not_after, issuer, serial,
 * served} of a first certificate staged, else null (a new reference); served
 * from the children's mark (the page asks them), and then served_since. */
static json_t *staged_json(apr_pool_t *p, const domain_view_t *v)
{
    json_t *out;

    if (!first_staged(v) || strcmp(v->state, ACME_STATE_STAGED)) {
        return json_null();
    }
    out = json_pack("{s:s, s:s}", "not_before", acmectl_time(p, v->staged_info.not_before),
                    "not_after", acmectl_time(p, v->staged_info.not_after));
    set_opt_str(out, "issuer", v->staged_info.issuer);
    set_opt_str(out, "serial", v->staged_info.serial);
    json_object_set_new(out, "served", json_boolean(v->served_since != 0));
    if (v->served_since) {
        json_object_set_new(out, "served_since", json_string(acmectl_time(p, v->served_since)));
    }
    return out;
}

static json_t *view_json(apr_pool_t *p, const domain_view_t *v, int full)
{
    json_t *obj = json_object(), *cert = json_null(), *status;

    json_object_set_new(obj, "name", json_string(v->name));
    json_object_set_new(obj, "names", acme_json_strings(v->names));
    json_object_set_new(obj, "state", json_string(v->state));
    json_object_set_new(obj, "configured", json_boolean(v->configured));
    json_object_set_new(obj, "leftovers", v->leftovers ? acme_json_strings(v->leftovers)
                                                       : json_null());
    if (full) {
        set_opt_str(obj, "configured_by", v->configured_by && *v->configured_by
                                          ? v->configured_by : NULL);
    }
    set_opt_str(obj, "key_type", v->key_type);
    set_opt_str(obj, "ca", v->ca);
    set_opt_str(obj, "next_action_what", v->next_what);
    set_opt_str(obj, "next_action", v->next_at ? acmectl_time(p, v->next_at) : NULL);
    set_opt_str(obj, "renew_at", v->renew_at ? acmectl_time(p, v->renew_at) : NULL);
    set_opt_str(obj, "restart_at", v->restart_at ? acmectl_time(p, v->restart_at) : NULL);
    set_opt_str(obj, "last_error", v->last_error);
    json_object_set_new(obj, "record_unsaved_since", v->unsaved_since
                        ? json_string(acmectl_time(p, v->unsaved_since)) : json_null());
    json_object_set_new(obj, "failing", json_boolean(v->failing));
    json_object_set_new(obj, "renewal_failing", json_boolean(v->renewal_failing));
    json_object_set_new(obj, "attempts", json_integer(v->attempts));
    json_object_set_new(obj, "failing_since", v->failing_since
                        ? json_string(acmectl_time(p, v->failing_since)) : json_null());
    set_opt_str(obj, "activity", v->activity);
    /* the status page's (schema 17): a first certificate staged, its facts
     * from staging; null otherwise, a staged renewal included (cert is the
     * live one). Whether anything is staged is the state's. */
    json_object_set_new(obj, "staged", staged_json(p, v));
    /* the status page's (schema 14): when a staged certificate goes live, in
     * show's words, which are the page's; null in the other states */
    set_opt_str(obj, "next_action_text", !strcmp(v->state, ACME_STATE_STAGED)
                ? acmectl_view_goes_live(p, v, 1) : NULL);
    /* an import since the server's start: served from its next restart */
    set_opt_str(obj, "import_pending", v->import_pending > 1
                ? acmectl_time(p, v->import_pending) : v->import_pending ? "?" : NULL);
    json_object_set_new(obj, "activation_held_until", v->held_until
                        ? json_string(acmectl_time(p, v->held_until)) : json_null());
    json_object_set_new(obj, "refusals", json_integer(v->refusals));
    /* the status page's restart_refused (schema 16), shown when list and
     * show say "restart refused" */
    json_object_set_new(obj, "restart_refused", restart_refused(v)
                        ? json_pack("{s:s, s:s}", "at", acmectl_time(p, v->refused->at),
                                    "why", v->refused->why ? v->refused->why : "")
                        : json_null());
    if (v->has_live) {
        cert = json_object();
        json_object_set_new(cert, "not_after", json_string(acmectl_time(p, v->live.not_after)));
        set_opt_str(cert, "issuer", v->live.issuer);
        if (full) {
            json_object_set_new(cert, "not_before",
                                json_string(acmectl_time(p, v->live.not_before)));
            set_opt_str(cert, "serial", v->live.serial);
            set_opt_str(cert, "subject", v->live.subject);
            json_object_set_new(cert, "names", acme_json_strings(v->live.names));
            set_opt_str(cert, "version", v->live_version);
        }
    }
    json_object_set_new(obj, "cert", cert);
    if (full) {
        json_t *check = json_null();
        if (v->staged_check) {
            check = json_pack("{s:s}", "result", staged_check_names[v->staged_check]);
            set_opt_str(check, "why", v->staged_why);
            set_opt_str(check, "serial", v->staged_info.serial);
            set_opt_str(check, "not_after", v->staged_info.serial
                        ? acmectl_time(p, v->staged_info.not_after) : NULL);
        }
        json_object_set_new(obj, "staged_check", check);
        set_opt_str(obj, "record_disagrees", v->record_note);
        set_opt_str(obj, "step", v->step);
        json_object_set_new(obj, "rejected", json_boolean(v->rejected));
        json_object_set_new(obj, "revoked", json_boolean(v->revoked));
        json_object_set_new(obj, "renewal_requested", json_boolean(v->renew_requested));
        set_opt_str(obj, "renewal_requested_at", v->renew_marked_at
                    ? acmectl_time(p, v->renew_marked_at) : NULL);
        set_opt_str(obj, "live_error", v->live_error);
        json_object_set(obj, "config", v->config ? v->config : json_null());
        status = v->status ? acme_status_record_encode(v->status, p) : NULL;
        json_object_set_new(obj, "status", status ? status : json_null());
    }
    return obj;
}

/* The other certificates of the same names: "<name>+<type>" for every
 * AcmeKeyType but the first, and the first type's <name> for those. */
static apr_array_header_t *sibling_names(acmectl_t *ctl, apr_pool_t *p, const char *name)
{
    apr_array_header_t *all = acmectl_view_names(ctl, p);
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    const char *plus = strchr(name, '+');
    apr_size_t base_len = plus ? (apr_size_t)(plus - name) : strlen(name);
    int i;

    for (i = 0; i < all->nelts; ++i) {
        const char *other = APR_ARRAY_IDX(all, i, const char *);
        if (strcmp(other, name) && !strncmp(other, name, base_len)
            && (other[base_len] == '\0' || other[base_len] == '+')) {
            APR_ARRAY_PUSH(out, const char *) = other;
        }
    }
    return out;
}

/* The refusal backoff, as the status page says it. */
static const char *held_text(apr_pool_t *p, const domain_view_t *v)
{
    return apr_psprintf(p, "held until %s (%d refused)", acmectl_time(p, v->held_until),
                        v->refusals);
}

/* What happens next and when (acmectl_view.c's view_next), in words;
 * full: show's longer wording. */
static const char *next_action_of(apr_pool_t *p, const domain_view_t *v, int full)
{
    if (!v->configured) {
        return "none (not configured)";
    }
    if (v->unsaved_since) {
        return "unknown (record out of date)";
    }
    if (v->record_unreadable) {
        return "unknown (record unreadable)";
    }
    if (!v->next_what) {
        return "-";
    }
    if (!strcmp(v->next_what, "restart")) {
        return acmectl_view_goes_live(p, v, full);
    }
    if (!v->next_at) {
        return !strcmp(v->next_what, "order") && v->step && strcmp(v->step, "idle")
             ? apr_psprintf(p, "order (%s)", v->step)
             : apr_psprintf(p, "%s (next check)", v->next_what);
    }
    return apr_psprintf(p, "%s at %s", !strcmp(v->next_what, "queued") ? "queued, starts"
                        : v->next_what, acmectl_time(p, v->next_at));
}

/* The cluster view a server's parent writes with AcmeCluster (Redis
 * reachable or not, every node and when it was last seen, order claims),
 * owned by p; NULL without one. */
static json_t *cluster_view(acmectl_t *ctl, apr_pool_t *p)
{
    json_t *c = NULL;

    if (acme_store_read_json_pooled(ctl->store, p, ACME_STORE_CLUSTER_VIEW, &c) != APR_SUCCESS
        || !json_is_object(c)) {
        return NULL;
    }
    return c;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "-";
}

/* ", keys A B, seals with A" of a node's heartbeat ("" from a node that
 * does not say). */
static const char *node_keys(apr_pool_t *p, json_t *hb)
{
    json_t *ids = json_object_get(hb, "key_ids"), *v;
    const char *list = NULL;
    size_t i;

    json_array_foreach(ids, i, v) {
        list = apr_pstrcat(p, list ? list : "", list ? " " : "", json_string_value(v) ?: "?",
                           NULL);
    }
    if (!list && !json_object_get(hb, "seals_with")) {
        return "";
    }
    return apr_psprintf(p, ", keys %s, seals with %s", list ? list : "-",
                        jstr(hb, "seals_with"));
}

/* How far a key rotation (AcmeClusterKeyFile NEW OLD) is, from the view's
 * rotation member; nothing without one. */
static void rotation_line(acmectl_t *ctl, json_t *c)
{
    json_t *rot = json_object_get(c, "rotation"), *v;
    const char *state = json_string_value(json_object_get(rot, "state")), *who = NULL;
    size_t i;

    if (!state) {
        return;
    }
    if (!strcmp(state, "waiting")) {
        json_array_foreach(json_object_get(rot, "waiting_for"), i, v) {
            who = apr_pstrcat(ctl->pool, who ? who : "", who ? ", " : "",
                              json_string_value(v) ?: "?", NULL);
        }
        acmectl_printf(ctl, "  key rotation %s -> %s: in progress, sealing with %s until "
                       "node(s) %s have %s\n", jstr(rot, "previous_key_id"), jstr(rot, "key_id"),
                       jstr(rot, "previous_key_id"), who ? who : "-", jstr(rot, "key_id"));
    }
    else if (!strcmp(state, "resealing")) {
        acmectl_printf(ctl, "  key rotation %s -> %s: in progress, sealing with %s, re-sealing "
                       "what Redis holds under %s (%" APR_INT64_T_FMT " value(s) so far%s)\n",
                       jstr(rot, "previous_key_id"), jstr(rot, "key_id"), jstr(rot, "key_id"),
                       jstr(rot, "previous_key_id"),
                       (apr_int64_t)json_integer_value(json_object_get(rot, "resealed")),
                       json_is_true(json_object_get(rot, "cycle_running"))
                       ? ", a pass over Redis running" : "");
    }
    else {
        acmectl_printf(ctl, "  key rotation %s -> %s: done, nothing in Redis under %s; the "
                       "second AcmeClusterKeyFile can go\n", jstr(rot, "previous_key_id"),
                       jstr(rot, "key_id"), jstr(rot, "previous_key_id"));
    }
}

/* The cluster lines of list (name NULL: every claim) and show NAME (that
 * name's claim and each node's serial of it). */
static void cluster_lines(acmectl_t *ctl, json_t *c, const char *name)
{
    json_t *v;
    size_t i;
    int claims = 0;

    if (!c) {
        return;
    }
    acmectl_printf(ctl, "cluster: node %s, Redis %s %s (checked %s)%s%s%s\n", jstr(c, "node"),
                   jstr(c, "url"), !strcmp(jstr(c, "redis"), "reachable") ? "reachable"
                   : !strcmp(jstr(c, "redis"), "refused")
                   ? "REFUSED THIS NODE (authentication or AcmeCluster failed)"
                   : "UNREACHABLE", jstr(c, "checked_at"),
                   json_object_get(c, "down_since") ? ", since " : "",
                   json_object_get(c, "down_since") ? jstr(c, "down_since") : "",
                   json_object_get(c, "down_since") ? apr_psprintf(ctl->pool, ": %s",
                                                                   jstr(c, "error")) : "");
    if (json_is_true(json_object_get(c, "key_mismatch"))) {
        acmectl_printf(ctl, "  KEY MISMATCH: %s\n", jstr(c, "error"));
    }
    rotation_line(ctl, c);
    json_array_foreach(json_object_get(c, "nodes"), i, v) {
        json_t *certs = json_object_get(v, "certificates");
        const char *serial = name ? json_string_value(json_object_get(certs, name)) : NULL;

        if (json_is_true(json_object_get(v, "key_mismatch"))) {
            acmectl_printf(ctl, "  node %s: last seen %s, WRONG CLUSTER KEY%s: it cannot open "
                           "what the cluster seals (challenge answers, certificates); give it "
                           "this cluster's AcmeClusterKeyFile\n", jstr(v, "node"),
                           jstr(v, "last_seen"), node_keys(ctl->pool, v));
            continue;
        }
        if (json_is_true(json_object_get(v, "unreadable"))) {
            acmectl_printf(ctl, "  node %s: seals with key %s, which this node does not have\n",
                           jstr(v, "node"), jstr(v, "seals_with"));
            continue;
        }
        acmectl_printf(ctl, "  node %s: last seen %s, %lu certificate(s)%s%s%s\n",
                       jstr(v, "node"), jstr(v, "last_seen"),
                       (unsigned long)json_object_size(certs), name ? ", this one " : "",
                       name ? (serial ? serial : "none") : "", node_keys(ctl->pool, v));
    }
    json_array_foreach(json_object_get(c, "locks"), i, v) {
        if (!name || !strcmp(jstr(v, "name"), name)) {
            acmectl_printf(ctl, "  order claim: %s held by %s (token %" APR_INT64_T_FMT ")\n",
                           jstr(v, "name"), jstr(v, "node"),
                           (apr_int64_t)json_integer_value(json_object_get(v, "token")));
            claims++;
        }
    }
    if (!claims) {
        acmectl_printf(ctl, "  order claim: none (no node is ordering%s)\n",
                       name ? " it" : "");
    }
}

#define LIST_COLS 5

/* list's table: NAME, STATE, NOT AFTER, RENEW AT and NEXT ACTION as wide as
 * their longest cell, and at least as wide as they always were (a long
 * next action such as a queued order's would push the columns after it out
 * of line otherwise), then the rest of the line (issuer, names, key,
 * error...). */
static void list_table(acmectl_t *ctl, apr_pool_t *p, const apr_array_header_t *views)
{
    static const char *const heads[LIST_COLS] = { "NAME", "STATE", "NOT AFTER", "RENEW AT",
                                                  "NEXT ACTION" };
    /* the widths the table always had, at least: a short table looks as before */
    static const int least[LIST_COLS] = { 30, ACME_STATE_NAME_MAX, 20, 20, 31 };
    const char **cells = apr_pcalloc(p, sizeof(*cells) * LIST_COLS * views->nelts);
    int width[LIST_COLS], i, c;

    for (c = 0; c < LIST_COLS; ++c) {
        width[c] = least[c];
    }
    for (i = 0; i < views->nelts; ++i) {
        const domain_view_t *v = APR_ARRAY_IDX(views, i, domain_view_t *);
        const char **row = cells + i * LIST_COLS;

        row[0] = acmectl_name(p, v->name);
        /* a refused restart shows in the list; show gives its why */
        row[1] = restart_refused(v) ? "staged, restart refused" : v->state;
        /* a staged first certificate: its own, read from staging as the
         * status page and show read it */
        row[2] = v->has_live ? acmectl_time(p, v->live.not_after)
               : first_staged(v) ? apr_pstrcat(p, acmectl_time(p, v->staged_info.not_after),
                                               " (staged)", NULL) : "-";
        row[3] = v->renew_at ? acmectl_time(p, v->renew_at) : "-";
        row[4] = next_action_of(p, v, 0);
        for (c = 0; c < LIST_COLS; ++c) {
            if ((int)strlen(row[c]) > width[c]) {
                width[c] = (int)strlen(row[c]);
            }
        }
    }
    acmectl_printf(ctl, "%-*s %-*s %-*s %-*s %-*s %s\n", width[0], heads[0], width[1], heads[1],
                   width[2], heads[2], width[3], heads[3], width[4], heads[4],
                   "ISSUER / NAMES / LAST ERROR");
    for (i = 0; i < views->nelts; ++i) {
        const domain_view_t *v = APR_ARRAY_IDX(views, i, domain_view_t *);
        const char **row = cells + i * LIST_COLS;
        int waiting = v->activity && (!v->next_what || strcmp(v->next_what, "queued"));

        acmectl_printf(ctl, "%-*s %-*s %-*s %-*s %-*s issuer=\"%s\" names=%s key=%s%s%s%s%s"
                       "%s%s%s%s%s%s%s%s%s\n",
                width[0], row[0], width[1], row[1], width[2], row[2], width[3], row[3],
                width[4], row[4],
                v->has_live && v->live.issuer ? v->live.issuer
                : first_staged(v) && v->staged_info.issuer
                ? apr_pstrcat(p, v->staged_info.issuer, " (staged)", NULL) : "-",
                acmectl_view_join(p, v->names, ","), v->key_type ? v->key_type : "-",
                v->failing ? apr_psprintf(p, " failing_since=%s attempts=%d",
                                          acmectl_time(p, v->failing_since), v->attempts) : "",
                v->last_error ? " error=\"" : "",
                v->last_error ? v->last_error : "", v->last_error ? "\"" : "",
                /* what it waits for (the CA not answering, its rate limit), as the
                 * status page says it; a queued name's NEXT ACTION says that already */
                waiting ? " waiting=\"" : "", waiting ? v->activity : "", waiting ? "\"" : "",
                v->held_until ? " activation=\"" : "", v->held_until ? held_text(p, v) : "",
                v->held_until ? "\"" : "",
                /* what a removed name's last configuration left (show says more) */
                v->leftovers && v->leftovers->nelts ? " leftovers=\"" : "",
                v->leftovers && v->leftovers->nelts ? acmectl_view_join(p, v->leftovers, " ")
                                                    : "",
                v->leftovers && v->leftovers->nelts ? "\"" : "");
    }
}

int acmectl_cmd_list(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_pool_t *p = ctl->pool;
    apr_array_header_t *names, *hidden = apr_array_make(p, 1, sizeof(const char *));
    apr_array_header_t *views = apr_array_make(p, 16, sizeof(domain_view_t *));
    apr_hash_t *configured;
    apr_time_t since = 0;
    json_t *arr;
    int i, all = 0;

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a")) {
            all = 1;
        }
        else {
            acmectl_error(ctl, "list: unexpected argument '%s' (acmectl list --help)", argv[i]);
            return ACMECTL_USAGE;
        }
    }
    names = acmectl_view_names(ctl, p);
    configured = acmectl_view_configured(ctl, p, &since);
    for (i = 0; i < names->nelts; ++i) {
        domain_view_t *v = acmectl_view_load(ctl, p, APR_ARRAY_IDX(names, i, const char *), configured);
        if (!v->configured && !all) {
            APR_ARRAY_PUSH(hidden, const char *) = acmectl_name(p, v->name);
            continue;
        }
        APR_ARRAY_PUSH(views, domain_view_t *) = v;
    }
    if (ctl->json) {
        arr = json_array();
        for (i = 0; i < views->nelts; ++i) {
            json_array_append_new(arr, view_json(p, APR_ARRAY_IDX(views, i, domain_view_t *), 0));
        }
        acmectl_print_json(ctl, arr);
        json_decref(arr);
        return ACMECTL_OK;
    }
    if (views->nelts == 0) {
        acmectl_printf(ctl, "no domains in %s\n", acme_store_dir(ctl->store));
    }
    else {
        list_table(ctl, p, views);
    }
    if (hidden->nelts > 0) {
        acmectl_printf(ctl, "%d more in the store not configured by any server using it "
                       "(last start %s): %s; acmectl list --all shows them\n", hidden->nelts,
                       acmectl_time(p, since), acmectl_view_join(p, hidden, " "));
    }
    cluster_lines(ctl, cluster_view(ctl, p), NULL);
    return ACMECTL_OK;
}

/* What staging/<name>/ holds, as activation would judge it. */
static const char *staged_text(apr_pool_t *p, const domain_view_t *v)
{
    const char *cert = v->staged_info.serial
        ? apr_psprintf(p, "certificate %s valid until %s", v->staged_info.serial,
                       acmectl_time(p, v->staged_info.not_after)) : "a certificate";

    if (v->served_since && (v->staged_check == STAGED_OK
                            || v->staged_check == STAGED_UNCHECKED)) {
        /* the User's mark: said, never relied on */
        return apr_psprintf(p, "yes, served early since %s: %s, from staging/ by the running "
                            "server (which proved it as activation does), before the restart "
                            "that makes it live in the store; it %s",
                            acmectl_time(p, v->served_since), cert,
                            acmectl_view_goes_live(p, v, 1));
    }
    if (v->staged_check == STAGED_OK) {
        return apr_psprintf(p, "yes, waiting for activation: %s (its key, names, type and "
                            "dates checked; activation also proves its chain); %s", cert,
                            acmectl_view_goes_live(p, v, 1));
    }
    if (v->staged_check == STAGED_UNCHECKED) {
        return apr_psprintf(p, "yes, waiting for activation: %s, not checked here: %s; %s",
                            cert, v->staged_why ? v->staged_why : "?",
                            acmectl_view_goes_live(p, v, 1));
    }
    if (v->staged_check == STAGED_REFUSED && !v->staged_info.serial) {
        /* no certificate could be read there: say what is wrong with the
         * entry, not that some certificate would be refused */
        return apr_psprintf(p, "no: staging/%s/ is marked ready, but %s; nothing there can be "
                            "activated (the server stages a new certificate at its next "
                            "order)", acmectl_name(p, v->name),
                            v->staged_why ? v->staged_why : "its certificate cannot be read");
    }
    if (v->staged_check == STAGED_REFUSED) {
        return apr_psprintf(p, "no: %s is staged, but activation would refuse it: %s", cert,
                            v->staged_why ? v->staged_why : "?");
    }
    if (v->staged_check == STAGED_LIVE) {
        return apr_psprintf(p, "no: the staged %s is the live one already (activation "
                            "clears it)", cert);
    }
    if (v->rejected && v->rejected_why) {
        return apr_psprintf(p, "no: the last staged certificate was %s", v->rejected_why);
    }
    return v->rejected ? "no: the last staged certificate was refused at activation "
                         "(see the error log)" : "no";
}

/* Since when and how often it fails, when it is tried again, and whether
 * the site is still served meanwhile. */
static const char *failing_text(apr_pool_t *p, const domain_view_t *v)
{
    int level = v->status && v->status->error && v->status->error->kind
                && !strcmp(v->status->error->kind, "seclevel");
    const char *what = apr_psprintf(p, "since %s, %d failed attempt%s, next attempt %s",
                                    acmectl_time(p, v->failing_since), v->attempts,
                                    v->attempts == 1 ? "" : "s",
                                    level ? apr_pstrcat(p, v->next_action ? v->next_action
                                                                          : "-",
                                                        " (7 days after the latest refusal), "
                                                        "or when the security level, the key "
                                                        "type, AcmeCA, AcmePreferredChain or "
                                                        "AcmeProfile changes (or acmectl renew)",
                                                        NULL)
                                    : v->next_action ? v->next_action : "-");

    if (v->renewal_failing && v->import_pending) {
        return apr_psprintf(p, "%s, before the import; the live certificate is valid until %s "
                            "and served from httpd's next restart (see served)", what,
                            acmectl_time(p, v->live.not_after));
    }
    if (v->renewal_failing) {
        return apr_psprintf(p, "%s; the renewal fails, the live certificate is valid until %s "
                            "and keeps being served", what, acmectl_time(p, v->live.not_after));
    }
    return apr_psprintf(p, "%s; %s", what, v->has_live ? "the live certificate has expired"
                                                       : "no certificate is served yet");
}

/* When the CA's validation failed (it saw no answer, a wrong one, or could
 * not connect) and the cluster view lists a node with another cluster key,
 * the advice that names it (from p); else NULL. */
static const char *wrong_key_advice(apr_pool_t *p, json_t *c, const char *error_type)
{
    const char *nodes = NULL, *type = error_type ? strrchr(error_type, ':') : NULL;
    json_t *v;
    size_t i;

    type = type ? type + 1 : error_type;
    if (!type || (strcmp(type, "unauthorized") && strcmp(type, "incorrectResponse")
                  && strcmp(type, "connection"))) {
        return NULL;
    }
    json_array_foreach(json_object_get(c, "nodes"), i, v) {
        if (json_is_true(json_object_get(v, "key_mismatch"))) {
            nodes = apr_pstrcat(p, nodes ? nodes : "", nodes ? ", " : "", jstr(v, "node"), NULL);
        }
    }
    return nodes ? apr_psprintf(p, "Cluster node %s holds another AcmeClusterKeyFile: it cannot "
                                "open the challenge answers, so the CA's fetch failed where it "
                                "reached it. Copy this node's key file there (the same 32 bytes "
                                "on every node) and restart it gracefully, or stop it.", nodes)
                 : NULL;
}

static void show_line(acmectl_t *ctl, const char *key, const char *value)
{
    acmectl_printf(ctl, "%-14s %s\n", key, value && *value ? value : "-");
}

int acmectl_cmd_show(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_pool_t *p = ctl->pool;
    apr_array_header_t *versions;
    apr_hash_t *configured;
    apr_time_t since = 0;
    domain_view_t *v;
    json_t *obj, *cluster;

    if (argc != 2) {
        acmectl_error(ctl, "usage: acmectl show NAME");
        return ACMECTL_USAGE;
    }
    if (!*argv[1] || argv[1][0] == '.' || strchr(argv[1], '/')) {
        acmectl_error(ctl, "'%s' is not a domain name", argv[1]);
        return ACMECTL_USAGE;
    }
    configured = acmectl_view_configured(ctl, p, &since);
    v = acmectl_view_load(ctl, p, acmectl_name_arg(p, argv[1]), configured);
    if (!v->config && !v->status && !v->has_live && !v->staged && !v->rejected
        && !v->live_version) {
        acmectl_error(ctl, "no domain '%s' in %s", acmectl_name(p, v->name), acme_store_dir(ctl->store));
        return ACMECTL_FAIL;
    }
    /* versions only: an empty or stray entry of archive/<name>/ is acmectl check's */
    acme_store_archive_versions(ctl->store, p, v->name, &versions);
    if (ctl->json) {
        obj = view_json(p, v, 1);
        json_object_set_new(obj, "archive", acme_json_strings(versions));
        json_object_set_new(obj, "other_key_types", acme_json_strings(sibling_names(ctl, p, v->name)));
        if ((cluster = cluster_view(ctl, p)) != NULL) {
            json_object_set(obj, "cluster", cluster);
        }
        acmectl_print_json(ctl, obj);
        json_decref(obj);
        return ACMECTL_OK;
    }
    show_line(ctl, "name:", acmectl_name(p, v->name));
    show_line(ctl, "names:", acmectl_view_join(p, v->names, " "));
    show_line(ctl, "state:", v->state);
    show_line(ctl, "configured:", !v->configured
              ? apr_psprintf(p, "no: not in the configuration of any server using this store "
                             "(last start %s); nothing renews or serves it",
                             acmectl_time(p, since))
              : v->configured_by && *v->configured_by
              ? apr_psprintf(p, "yes, by %s", v->configured_by) : "yes");
    show_line(ctl, "step:", v->configured || !v->step || !strcmp(v->step, "idle") ? v->step
              : apr_psprintf(p, "%s, when it was last configured (nothing resumes the order "
                             "now)", v->step));
    show_line(ctl, "key type:", v->key_type);
    show_line(ctl, "other types:", acmectl_view_join(p, sibling_names(ctl, p, v->name), " "));
    show_line(ctl, "CA:", v->ca);
    /* a renewal asked for (acmectl renew, revoke) is due now: one time only,
     * said by "renewal:" below, not the window's too */
    show_line(ctl, "renew at:", v->renew_requested && v->configured
              ? "now (renewal requested: see renewal)"
              : v->renew_at ? apr_psprintf(p, "%s (the renewal window or the CA's ARI)",
                                           acmectl_time(p, v->renew_at))
              : NULL);
    show_line(ctl, "next action:", next_action_of(p, v, 1));
    show_line(ctl, "last error:", v->last_error);
    if (v->failing) {
        show_line(ctl, "failing:", failing_text(p, v));
        const char *wrong_key = wrong_key_advice(p, cluster_view(ctl, p), v->error_type);

        if (wrong_key) {
            show_line(ctl, "advice:", wrong_key);
        }
        show_line(ctl, wrong_key ? "otherwise:" : "advice:", v->status && v->status->error
                  ? acme_problem_advice_of(p, v->error_type, v->status->error->kind,
                                           v->status->error->detail,
                                           v->status->ca && v->status->ca->url
                                           ? v->status->ca->url : v->status->error->url, NULL)
                  : acme_problem_advice(v->error_type, NULL));
    }
    show_line(ctl, "waiting for:", v->activity);
    if (v->has_live) {
        show_line(ctl, "certificate:", v->live.serial);
        show_line(ctl, "  subject:", v->live.subject);
        show_line(ctl, "  issuer:", v->live.issuer);
        show_line(ctl, "  names:", acmectl_view_join(p, v->live.names, " "));
        show_line(ctl, "  not before:", acmectl_time(p, v->live.not_before));
        show_line(ctl, "  not after:", acmectl_time(p, v->live.not_after));
        show_line(ctl, "  version:", v->live_version);
        show_line(ctl, "  file:", acme_store_live_cert_path(ctl->store, p, v->name));
        show_line(ctl, "  key file:", acme_store_live_key_path(ctl->store, p, v->name));
        show_line(ctl, "  revoked:", v->revoked ? "yes (see revoked.json in its version)" : "no");
        if (v->import_pending) {
            show_line(ctl, "  served:", acme_store_import_pending_text(
                          p, v->import_pending, versions && versions->nelts > 1));
        }
    }
    else {
        show_line(ctl, "certificate:", v->live_error ? v->live_error : "none yet");
    }
    show_line(ctl, "staged:", v->configured || !v->staged ? staged_text(p, v)
              : "a certificate, which nothing activates while the name is not configured");
    if (v->leftovers && v->leftovers->nelts) {
        show_line(ctl, "leftovers:", acmectl_view_leftovers_text(ctl, p, v));
    }
    if (v->record_note) {
        show_line(ctl, "record:", v->record_note);
    }
    if (v->held_until) {
        show_line(ctl, "activation:", apr_psprintf(
                      p, "%s: staged certificates were refused in a row, so what is staged "
                      "now is neither checked nor activated before then (but for a "
                      "certificate for root's current key, once); apachectl graceful does it "
                      "now", held_text(p, v)));
    }
    show_line(ctl, "archive:", acmectl_view_join(p, versions, " "));
    if (v->renew_requested && !v->configured) {
        show_line(ctl, "renewal:", "requested while it was configured; nothing orders it now");
    }
    else if (v->renew_requested) {
        show_line(ctl, "renewal:", v->renew_marked_at
                  ? apr_psprintf(p, "requested at %s; a new certificate is ordered at the "
                                 "next check", acmectl_time(p, v->renew_marked_at))
                  : "requested (the live certificate is revoked); a new certificate is "
                    "ordered at the next check");
    }
    cluster_lines(ctl, cluster_view(ctl, p), v->name);
    return ACMECTL_OK;
}
