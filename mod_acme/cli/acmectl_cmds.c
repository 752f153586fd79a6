/* acmectl commands: list, show, renew. Everything comes from the store;
 * a missing or damaged file makes a field unknown, never the command fail. */
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

/* What the store knows about one domain. */
typedef struct domain_view_t {
    const char *name;
    json_t *config;                  /* config/<name>.json, NULL if missing or unreadable */
    acme_status_record_t *status;    /* status/<name>.json, idem */
    apr_array_header_t *names;       /* const char* */
    const char *key_type, *ca;
    int has_live;
    acme_cert_info_t live;
    const char *live_version;        /* the archive version domains/<name> points at */
    const char *live_error;          /* why the live certificate cannot be read */
    int staged, rejected;            /* staged: a "ready" entry activation would take */
    int staged_check;                /* staged_check_e */
    const char *staged_why;          /* why refused, or why it could not be checked */
    acme_cert_info_t staged_info;    /* the staged leaf (serial NULL when unreadable) */
    const char *record_note;         /* where status/<name>.json disagrees with the files */
    int config_names;                /* names and key_type come from config/<name>.json */
    apr_time_t held_until;           /* the refusal backoff holds what is staged (0: not) */
    int refusals;                    /* staged entries refused in a row */
    int revoked;                     /* the live certificate was revoked (acmectl revoke) */
    int renew_requested;             /* jobs/<name>.renew or revoked: a new one is due */
    const char *state, *step, *next_action, *last_error;
    const char *activity;            /* what a running job waits for (a record to set...) */
    int configured;                  /* in configured.json (or no server wrote it yet) */
    const char *configured_by;       /* the servers configuring it ("" or NULL: unknown) */
} domain_view_t;

/* The state of files a removed AcmeDomain left, which the server neither
 * renews nor serves, and the status page does not show. */
#define NOT_CONFIGURED "not-configured"

/* What acme_store_staged_inspect found in staging/<name>/ (with "ready"). */
typedef enum {
    STAGED_NONE,         /* nothing staged */
    STAGED_OK,           /* activation would take it */
    STAGED_REFUSED,      /* activation would refuse it */
    STAGED_LIVE,         /* it is the live certificate already */
    STAGED_UNCHECKED     /* cannot be proven here (keys unreadable, no config) */
} staged_check_e;
/* Their names in --json output. */
static const char *const staged_check_names[] = { NULL, "ok", "refused", "live", "unchecked" };

/* The names of the last start of each server using the store
 * (configured.json), each with the servers configuring it; NULL when no
 * server wrote it yet: every name counts as configured then. */
static apr_hash_t *configured_names(acmectl_t *ctl, apr_pool_t *p, apr_time_t *since)
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

static const char *join(apr_pool_t *p, const apr_array_header_t *arr, const char *sep)
{
    const char *s = NULL;
    int i;

    for (i = 0; arr && i < arr->nelts; ++i) {
        const char *item = APR_ARRAY_IDX(arr, i, const char *);
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

/* The status file is the User's: its decoder makes every string one line,
 * the rest is escaped on output. */
static void view_status(acmectl_t *ctl, apr_pool_t *p, domain_view_t *v)
{
    const acme_status_error_t *err;

    if (acme_status_record_load(ctl->store, p, v->name, &v->status) != APR_SUCCESS) {
        v->status = NULL;
        return;
    }
    v->state = acme_status_record_state_name(v->status->state);
    v->step = v->status->step;
    v->activity = v->status->activity;
    v->next_action = v->status->next_action ? acme_time_rfc3339(p, v->status->next_action)
                                            : NULL;
    err = v->status->error;
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

/* The staged entry as activation would judge it (read only). */
static void view_staged(acmectl_t *ctl, apr_pool_t *p, domain_view_t *v)
{
    acme_key_type_e type;
    apr_status_t rv;

    if (!acme_store_has_staged(ctl->store, p, v->name)) {
        return;
    }
    if (!v->config_names || !v->key_type || acme_key_type_parse(v->key_type, &type) != APR_SUCCESS) {
        v->staged = 1;
        v->staged_check = STAGED_UNCHECKED;
        v->staged_why = "no readable config/<name>.json to check it against";
        return;
    }
    rv = acme_store_staged_inspect(ctl->store, p, &ctl->ctx, v->name, v->names, type,
                                   &v->staged_info, &v->staged_why);
    v->staged_check = rv == APR_SUCCESS ? STAGED_OK : rv == APR_EEXIST ? STAGED_LIVE
                    : rv == APR_EINVAL ? STAGED_REFUSED : rv == APR_ENOENT ? STAGED_NONE
                    : STAGED_UNCHECKED;
    v->staged = v->staged_check == STAGED_OK || v->staged_check == STAGED_UNCHECKED;
}

/* The status record is the child's last word; the files are the truth. Where
 * they disagree the files win, and show says so. */
static void view_reconcile(apr_pool_t *p, domain_view_t *v)
{
    const acme_status_cert_t *rc = v->status ? v->status->cert : NULL;
    const char *expected = v->live_error ? "unreadable" : !v->has_live ? "missing"
                         : v->live.not_after < apr_time_now() ? "expired" : "valid";

    if (!v->status) {
        return;
    }
    if (v->live_error && (v->status->state == ACME_STATUS_VALID
                          || v->status->state == ACME_STATUS_RENEWING)) {
        /* Written while the file was sound: what is on disk now is not. */
        v->record_note = apr_psprintf(
            p, "status/%s.json says \"%s\", but the live certificate cannot be read; at its next "
            "start or graceful restart the server serves the previous version, or its temporary "
            "certificate, and orders a new one", v->name, acme_status_record_state_name(v->status->state));
        v->state = expected;
    }
    else if (v->status->state == ACME_STATUS_STAGED && !v->staged) {
        v->record_note = apr_psprintf(
            p, "status/%s.json says \"staged\", but %s; the record predates the last "
            "activation or refusal and is rewritten at the server's next check", v->name,
            v->staged_check == STAGED_REFUSED ? "activation would refuse what is staged"
            : v->staged_check == STAGED_LIVE ? "what is staged is the live certificate already"
            : v->rejected ? "the staged certificate was refused" : "nothing is staged");
        v->state = expected;
    }
    else if (rc && rc->serial && v->has_live && v->live.serial
             && strcasecmp(rc->serial, v->live.serial)) {
        v->record_note = apr_psprintf(p, "status/%s.json names certificate %s, the live one "
                                      "is %s; the record is rewritten at the server's next check",
                                      v->name, rc->serial, v->live.serial);
    }
}

static domain_view_t *view_load(acmectl_t *ctl, apr_pool_t *p, const char *name,
                                apr_hash_t *configured)
{
    domain_view_t *v = apr_pcalloc(p, sizeof(*v));

    v->name = name;
    v->configured_by = configured ? apr_hash_get(configured, name, APR_HASH_KEY_STRING) : NULL;
    v->configured = !configured || v->configured_by;
    view_config(ctl, p, v);
    view_status(ctl, p, v);
    view_live(ctl, p, v);
    view_staged(ctl, p, v);
    v->revoked = v->has_live && acme_store_live_revoked(ctl->store, p, name);
    v->renew_requested = acme_store_renewal_requested(ctl->store, p, name);
    v->rejected = apr_stat(&(apr_finfo_t){ 0 }, acme_store_path(ctl->store, p, acme_store_rel_staged(
                               p, name, ACME_STORE_REJECTED_FILE)), APR_FINFO_TYPE, p)
                  == APR_SUCCESS;
    /* keys/ is root's: as another user there is nothing to show */
    v->held_until = acme_custody_refused_info(ctl->store, p, name, &v->refusals);
    if (v->held_until <= apr_time_now()) {
        v->held_until = 0;
    }
    if (!v->names && v->has_live) {
        v->names = v->live.names;
    }
    view_reconcile(p, v);
    if (!v->configured) {
        v->state = NOT_CONFIGURED;
    }
    if (!v->state) {
        v->state = v->staged ? "staged"
                 : v->live_error ? "unreadable"
                 : !v->has_live ? "missing"
                 : v->live.not_after < apr_time_now() ? "expired" : "valid";
    }
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
static apr_array_header_t *domain_names(acmectl_t *ctl, apr_pool_t *p)
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

static void set_opt_str(json_t *obj, const char *key, const char *value)
{
    json_object_set_new(obj, key, value ? json_string(value) : json_null());
}

static json_t *view_json(apr_pool_t *p, const domain_view_t *v, int full)
{
    json_t *obj = json_object(), *cert = json_null(), *status;

    json_object_set_new(obj, "name", json_string(v->name));
    json_object_set_new(obj, "names", acme_json_strings(v->names));
    json_object_set_new(obj, "state", json_string(v->state));
    json_object_set_new(obj, "configured", json_boolean(v->configured));
    if (full) {
        set_opt_str(obj, "configured_by", v->configured_by && *v->configured_by
                                          ? v->configured_by : NULL);
    }
    set_opt_str(obj, "key_type", v->key_type);
    set_opt_str(obj, "ca", v->ca);
    set_opt_str(obj, "next_action", v->next_action);
    set_opt_str(obj, "last_error", v->last_error);
    set_opt_str(obj, "activity", v->activity);
    json_object_set_new(obj, "staged", json_boolean(v->staged));
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
        json_object_set_new(obj, "activation_held_until", v->held_until
                            ? json_string(acmectl_time(p, v->held_until)) : json_null());
        json_object_set_new(obj, "refusals", json_integer(v->refusals));
        json_object_set_new(obj, "revoked", json_boolean(v->revoked));
        json_object_set_new(obj, "renewal_requested", json_boolean(v->renew_requested));
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
    apr_array_header_t *all = domain_names(ctl, p);
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

static const char *next_action_of(const domain_view_t *v)
{
    if (v->staged) {
        return "activation (graceful restart)";
    }
    return v->next_action ? v->next_action : "-";
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
                   : "UNREACHABLE", jstr(c, "checked_at"),
                   json_object_get(c, "down_since") ? ", since " : "",
                   json_object_get(c, "down_since") ? jstr(c, "down_since") : "",
                   json_object_get(c, "down_since") ? apr_psprintf(ctl->pool, ": %s",
                                                                   jstr(c, "error")) : "");
    json_array_foreach(json_object_get(c, "nodes"), i, v) {
        json_t *certs = json_object_get(v, "certificates");
        const char *serial = name ? json_string_value(json_object_get(certs, name)) : NULL;

        acmectl_printf(ctl, "  node %s: last seen %s, %lu certificate(s)%s%s\n", jstr(v, "node"),
                       jstr(v, "last_seen"), (unsigned long)json_object_size(certs),
                       name ? ", this one " : "", name ? (serial ? serial : "none") : "");
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
    names = domain_names(ctl, p);
    configured = configured_names(ctl, p, &since);
    for (i = 0; i < names->nelts; ++i) {
        domain_view_t *v = view_load(ctl, p, APR_ARRAY_IDX(names, i, const char *), configured);
        if (!v->configured && !all) {
            APR_ARRAY_PUSH(hidden, const char *) = v->name;
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
        acmectl_printf(ctl, "%-30s %-9s %-20s %-30s %s\n", "NAME", "STATE", "NOT AFTER",
                       "NEXT ACTION", "ISSUER / NAMES / LAST ERROR");
    }
    for (i = 0; i < views->nelts; ++i) {
        domain_view_t *v = APR_ARRAY_IDX(views, i, domain_view_t *);
        acmectl_printf(ctl, "%-30s %-9s %-20s %-30s issuer=\"%s\" names=%s key=%s%s%s%s\n",
                v->name, v->state, v->has_live ? acmectl_time(p, v->live.not_after) : "-",
                v->configured ? next_action_of(v) : "none (not configured)",
                v->has_live && v->live.issuer ? v->live.issuer : "-",
                join(p, v->names, ","), v->key_type ? v->key_type : "-",
                v->last_error ? " error=\"" : "",
                v->last_error ? v->last_error : "", v->last_error ? "\"" : "");
    }
    if (hidden->nelts > 0) {
        acmectl_printf(ctl, "%d more in the store not configured by any server using it "
                       "(last start %s): %s; acmectl list --all shows them\n", hidden->nelts,
                       acmectl_time(p, since), join(p, hidden, " "));
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

    if (v->staged_check == STAGED_OK) {
        return apr_psprintf(p, "yes, waiting for activation: %s (its key, names, type and "
                            "dates checked; activation also proves its chain)", cert);
    }
    if (v->staged_check == STAGED_UNCHECKED) {
        return apr_psprintf(p, "yes, waiting for activation: %s, not checked here: %s", cert,
                            v->staged_why ? v->staged_why : "?");
    }
    if (v->staged_check == STAGED_REFUSED) {
        return apr_psprintf(p, "no: %s is staged, but activation would refuse it: %s", cert,
                            v->staged_why ? v->staged_why : "?");
    }
    if (v->staged_check == STAGED_LIVE) {
        return apr_psprintf(p, "no: the staged %s is the live one already (activation "
                            "clears it)", cert);
    }
    return v->rejected ? "no: the last staged certificate was refused at activation "
                         "(see the error log)" : "no";
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
    configured = configured_names(ctl, p, &since);
    v = view_load(ctl, p, apr_pstrdup(p, argv[1]), configured);
    if (!v->config && !v->status && !v->has_live && !v->staged && !v->rejected
        && !v->live_version) {
        acmectl_error(ctl, "no domain '%s' in %s", v->name, acme_store_dir(ctl->store));
        return ACMECTL_FAIL;
    }
    acme_store_list(ctl->store, p, acme_store_rel_archive(p, v->name), &versions);
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
    show_line(ctl, "name:", v->name);
    show_line(ctl, "names:", join(p, v->names, " "));
    show_line(ctl, "state:", v->state);
    show_line(ctl, "configured:", !v->configured
              ? apr_psprintf(p, "no: not in the configuration of any server using this store "
                             "(last start %s); nothing renews or serves it",
                             acmectl_time(p, since))
              : v->configured_by && *v->configured_by
              ? apr_psprintf(p, "yes, by %s", v->configured_by) : "yes");
    show_line(ctl, "step:", v->step);
    show_line(ctl, "key type:", v->key_type);
    show_line(ctl, "other types:", join(p, sibling_names(ctl, p, v->name), " "));
    show_line(ctl, "CA:", v->ca);
    show_line(ctl, "next action:", v->configured ? next_action_of(v) : "none (not configured)");
    show_line(ctl, "last error:", v->last_error);
    show_line(ctl, "waiting for:", v->activity);
    if (v->has_live) {
        show_line(ctl, "certificate:", v->live.serial);
        show_line(ctl, "  subject:", v->live.subject);
        show_line(ctl, "  issuer:", v->live.issuer);
        show_line(ctl, "  names:", join(p, v->live.names, " "));
        show_line(ctl, "  not before:", acmectl_time(p, v->live.not_before));
        show_line(ctl, "  not after:", acmectl_time(p, v->live.not_after));
        show_line(ctl, "  version:", v->live_version);
        show_line(ctl, "  file:", acme_store_live_cert_path(ctl->store, p, v->name));
        show_line(ctl, "  key file:", acme_store_live_key_path(ctl->store, p, v->name));
        show_line(ctl, "  revoked:", v->revoked ? "yes (see revoked.json in its version)" : "no");
    }
    else {
        show_line(ctl, "certificate:", v->live_error ? v->live_error : "none yet");
    }
    show_line(ctl, "staged:", staged_text(p, v));
    if (v->record_note) {
        show_line(ctl, "record:", v->record_note);
    }
    if (v->held_until) {
        show_line(ctl, "activation held:", apr_psprintf(
                      p, "until %s: %d staged certificate(s) refused in a row, so what is "
                      "staged now is neither checked nor activated before then (but for a "
                      "certificate for root's current key, once); apachectl graceful does it "
                      "now", acmectl_time(p, v->held_until), v->refusals));
    }
    show_line(ctl, "archive:", join(p, versions, " "));
    if (v->renew_requested) {
        show_line(ctl, "renewal:", "requested; a new certificate is ordered at the next check");
    }
    cluster_lines(ctl, cluster_view(ctl, p), v->name);
    return ACMECTL_OK;
}

/* renew NAME: the issuing child sees the marker at its next check (it looks
 * every 30 s at most) and orders a new certificate; the live one keeps
 * serving until the new one is activated. */
int acmectl_cmd_renew(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_pool_t *p = ctl->pool;
    const char *name;
    json_t *config, *out;
    apr_status_t rv;

    if (argc != 2) {
        acmectl_error(ctl, "usage: acmectl renew NAME");
        return ACMECTL_USAGE;
    }
    name = argv[1];
    if (acme_store_name_check(name) != APR_SUCCESS) {
        acmectl_error(ctl, "'%s' is not a domain name", name);
        return ACMECTL_USAGE;
    }
    if (acme_store_read_json_pooled(ctl->store, p, acme_store_rel_config(p, name),
                             &config) != APR_SUCCESS) {
        acmectl_error(ctl, "no configured domain '%s' in %s (AcmeDomain writes config/%s.json "
                      "when httpd starts)", name, acme_store_dir(ctl->store), name);
        return ACMECTL_FAIL;
    }
    if ((rv = acme_store_request_renewal(ctl->store, p, name)) != APR_SUCCESS) {
        acmectl_error(ctl, "cannot request the renewal of '%s': %s", name,
                      apr_psprintf(p, "%pm", &rv));
        return ACMECTL_FAIL;
    }
    if (ctl->json) {
        out = json_pack("{s:s, s:b}", "name", name, "renewal_requested", 1);
        acmectl_print_json(ctl, out);
        json_decref(out);
    }
    else {
        acmectl_printf(ctl, "renewal of %s requested: the server orders a new certificate at its "
                "next check and activates it by itself\n", name);
    }
    return ACMECTL_OK;
}
