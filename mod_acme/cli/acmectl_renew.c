/* acmectl renew: asks the server's issuing child for a new certificate (a
 * marker it looks for at its next check) and says when it starts and how it
 * goes live. */
#include <string.h>

#include <apr_strings.h>

#include "acmectl.h"
#include "acme_store_renew.h"
#include "acme_store_paths.h"
#include "acme_status_record.h"
#include "acme_time.h"
#include "acmectl_view.h"

static void set_opt_str(json_t *obj, const char *key, const char *value)
{
    json_object_set_new(obj, key, value ? json_string(value) : json_null());
}

/* Why a renewal acmectl asks for cannot start at the server's next check:
 * the name waits out the CA's rate limit, or the backoff after a failed
 * attempt (the later of the CA's Retry-After and the server's own), and is
 * not looked at before *start (status/<name>.json's next_action). NULL
 * when nothing holds it back (the wait after a refused staged certificate
 * does not: the child orders at its next look for the marker); the text is
 * from p. */
static const char *renewal_held(acmectl_t *ctl, apr_pool_t *p, const char *name,
                                apr_time_t *start)
{
    acme_status_record_t *st;
    const acme_status_error_t *err;
    const char *what;

    *start = 0;
    if (acme_status_record_load(ctl->store, p, name, &st) != APR_SUCCESS
        || st->next_action <= apr_time_now()) {
        return NULL;
    }
    err = st->error;
    if (st->activity && !strncmp(st->activity, ACME_ACTIVITY_ORDERS_PAUSED,
                                 strlen(ACME_ACTIVITY_ORDERS_PAUSED))) {
        *start = st->next_action;
        return "the CA refused a new order of this account with 429 rateLimited and asked "
               "to wait";
    }
    /* A name held for its security level (error kind "seclevel") or waiting
     * after another refusal of its staged certificate ("refused") is ordered
     * as soon as the marker is seen, whatever its next look (refusal_held
     * and renewal_asked in the driver). */
    if (st->state != ACME_STATUS_ERROR || !err
        || (err->kind && (!strcmp(err->kind, "seclevel") || !strcmp(err->kind, "refused")))) {
        return NULL;
    }
    *start = st->next_action;
    what = err->detail ? err->detail : err->type ? err->type : "no detail";
    if (err->type && strlen(err->type) >= 12
        && !strcmp(err->type + strlen(err->type) - 12, ":rateLimited")) {
        return apr_psprintf(p, "the CA refused the last order with 429 rateLimited (%s) and "
                            "asked to wait", what);
    }
    return apr_psprintf(p, "the last attempt failed (%s) and the server backs off before the "
                        "next one", what);
}

/* How the certificate renew asks for goes live, in the words renew ends
 * with, from the activation mode of the server's last start
 * (activation-mode.json, as show reads it): with AcmeActivation manual it
 * is staged and the administrator's graceful restart makes it live; with
 * auto the server activates it by itself; unknown (no record of a start, or
 * not root's) says both. */
static const char *renew_goes_live(acmectl_t *ctl, apr_pool_t *p)
{
    acme_activation_mode_e mode = acme_store_activation_mode_read(ctl->store, p);

    return mode == ACME_ACTIVATION_MANUAL
           ? "stages it: with AcmeActivation manual it goes live when you run "
             "'apachectl graceful'"
           : mode == ACME_ACTIVATION_AUTO ? "activates it by itself"
           : "activates it by itself with AcmeActivation auto (the default), or stages it for "
             "'apachectl graceful' with AcmeActivation manual";
}

/* What renew says when it orders nothing: a new certificate is staged and
 * waits for its restart (v->staged), or a renewal was requested already
 * (its marker is there). With --now (now) and a staged certificate, that
 * --now ended nothing: the order that staged it succeeded, so no backoff
 * waits. ACMECTL_OK. */
static int renew_not_again(acmectl_t *ctl, apr_pool_t *p, const domain_view_t *v, int now)
{
    const char *serial = v->staged_info.serial;
    json_t *out;

    if (ctl->json) {
        out = json_pack("{s:s, s:b, s:b}", "name", v->name, "renewal_requested",
                        !v->staged, "staged", v->staged);
        set_opt_str(out, "requested_at", !v->staged && v->renew_marked_at
                    ? acme_time_rfc3339(p, v->renew_marked_at) : NULL);
        set_opt_str(out, "live_at", v->staged && v->restart_at
                    ? acme_time_rfc3339(p, v->restart_at) : NULL);
        json_object_set_new(out, "ordered", json_false());
        if (now) {
            json_object_set_new(out, "backoff_ended", json_false());
        }
        acmectl_print_json(ctl, out);
        json_decref(out);
    }
    else if (v->staged) {
        acmectl_printf(ctl, "%s: a new certificate%s%s is staged, %s; no other one is ordered "
                       "(acmectl renew --force orders one anyway)%s\n", v->name,
                       serial ? " " : "", serial ? serial : "", acmectl_view_goes_live(p, v, 1),
                       now ? "; --now ended nothing: the order that staged it succeeded, no "
                       "backoff waits" : "");
    }
    else {
        acmectl_printf(ctl, "%s: a renewal was requested already, at %s, and not again: the "
                       "server orders a new certificate at its next check and %s\n", v->name,
                       acmectl_time(p, v->renew_marked_at), renew_goes_live(ctl, p));
    }
    return ACMECTL_OK;
}

/* --now: jobs/<name>.now too, which ends the backoff after failed attempts;
 * a wait the CA asked for (429 rateLimited) stays: *said what --now did.
 * APR_SUCCESS or the store's write error. */
static apr_status_t renew_now(acmectl_t *ctl, apr_pool_t *p, const char *name, const char *held,
                              const char **said)
{
    if (held && strstr(held, "rateLimited")) {
        *said = "--now does not end a wait the CA asked for";
        return APR_SUCCESS;
    }
    *said = held ? "--now ends the backoff: the server tries within 30 s" : NULL;
    return acme_store_request_backoff_end(ctl->store, p, name);
}

/* renew NAME [--force] [--now]: the issuing child sees the marker at its
 * next check (it looks every 30 s at most) and orders a new certificate;
 * the live one keeps serving until the new one is activated. Nothing is
 * ordered while a new certificate is staged or a renewal was requested
 * already, unless --force (or --now, for the latter). --now also ends the
 * backoff after failed attempts. */
int acmectl_cmd_renew(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_pool_t *p = ctl->pool;
    const char *name = NULL, *held, *now_said = NULL;
    json_t *config, *out;
    apr_time_t start, since = 0;
    domain_view_t *v;
    apr_status_t rv;
    int i, force = 0, now = 0;

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--force")) {
            force = 1;
        }
        else if (!strcmp(argv[i], "--now")) {
            now = 1;
        }
        else if (!name && argv[i][0] != '-') {
            name = acmectl_name_arg(p, argv[i]);
        }
        else {
            name = NULL;
            break;
        }
    }
    if (!name) {
        acmectl_error(ctl, "usage: acmectl renew NAME [--force] [--now]");
        return ACMECTL_USAGE;
    }
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
    v = acmectl_view_load(ctl, p, name, acmectl_view_configured(ctl, p, &since));
    if (!force && (v->staged || (v->renew_marked_at && !now))) {
        return renew_not_again(ctl, p, v, now);
    }
    if ((rv = acme_store_request_renewal(ctl->store, p, name)) != APR_SUCCESS) {
        acmectl_error(ctl, "cannot request the renewal of '%s': %s", name,
                      apr_psprintf(p, "%pm", &rv));
        return ACMECTL_FAIL;
    }
    held = renewal_held(ctl, p, name, &start);
    if (now && (rv = renew_now(ctl, p, name, held, &now_said)) != APR_SUCCESS) {
        acmectl_error(ctl, "cannot end the backoff of '%s': %s", name,
                      apr_psprintf(p, "%pm", &rv));
        return ACMECTL_FAIL;
    }
    if (now_said && !strncmp(now_said, "--now ends", 10)) {
        held = NULL;            /* the server orders within 30 s */
    }
    if (ctl->json) {
        out = json_pack("{s:s, s:b, s:b, s:b}", "name", name, "renewal_requested", 1,
                        "staged", v->staged, "ordered", 1);
        set_opt_str(out, "requested_at", acme_time_rfc3339(p, acme_store_renewal_marked_at(
                                                                 ctl->store, p, name)));
        set_opt_str(out, "starts_at", held ? acme_time_rfc3339(p, start) : NULL);
        set_opt_str(out, "held_because", held);
        set_opt_str(out, "level_refused", v->rejected_why);
        json_object_set_new(out, "backoff_ended", json_boolean(now_said && !held));
        acmectl_print_json(ctl, out);
        json_decref(out);
    }
    else if (held) {
        acmectl_printf(ctl, "renewal of %s requested: it starts at %s, not before: %s%s%s; the "
                       "server orders a new certificate then and %s\n",
                       name, acme_time_rfc3339(p, start), held, now_said ? "; " : "",
                       now_said ? now_said : "", renew_goes_live(ctl, p));
    }
    else {
        /* the issuing child looks for the marker every ACME_MARKER_POLL (30 s) */
        acmectl_printf(ctl, "renewal of %s requested%s: the server sees it within 30 s, orders a "
                "new certificate and %s\n", name, now_said ? ", the backoff after the failed "
                "attempts ended (--now)" : "", renew_goes_live(ctl, p));
    }
    if (!ctl->json && v->rejected_why) {
        /* the order is made as asked; what it will likely bring is said */
        acmectl_printf(ctl, "note: the last certificate of %s was %s; unless that changed, the "
                       "CA issues the same kind of chain and it is refused again\n", name,
                       v->rejected_why);
    }
    return ACMECTL_OK;
}
