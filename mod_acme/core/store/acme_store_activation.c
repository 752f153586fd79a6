/* activation-mode.json and the words of when a staged certificate goes live
 * (acme_store_activation.h). */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <jansson.h>

#include "acme_store_activation.h"
#include "acme_store_int.h"
#include "acme_time.h"

/* The file is ours as written: a regular file of this user, with the mode
 * the store gives its state files (else acmectl might not read it). */
static int mode_file_kept(acme_store_t *store, apr_pool_t *p)
{
    struct stat st;

    return lstat(acme_store_path(store, p, ACME_STORE_ACTIVATION_MODE), &st) == 0
           && S_ISREG(st.st_mode) && st.st_uid == geteuid()
           && (st.st_mode & 07777) == acme_store_mode_of(ACME_STORE_FILE_PERMS);
}

apr_status_t acme_store_activation_mode_write(acme_store_t *store, apr_pool_t *p,
                                              acme_activation_mode_e mode)
{
    json_t *doc;
    apr_status_t rv = APR_SUCCESS;

    if (mode != ACME_ACTIVATION_AUTO && mode != ACME_ACTIVATION_MANUAL) {
        return APR_EINVAL;
    }
    doc = json_pack("{s:s}", "activation", mode == ACME_ACTIVATION_AUTO ? "auto" : "manual");
    if (!doc) {
        return APR_ENOMEM;
    }
    /* every start, graceful too: no write (and no fsync) when nothing changed */
    if (!acme_store_json_unchanged(store, p, ACME_STORE_ACTIVATION_MODE, doc)
        || !mode_file_kept(store, p)) {
        rv = acme_store_write_json(store, p, ACME_STORE_ACTIVATION_MODE, doc,
                                   ACME_STORE_FILE_PERMS);
    }
    json_decref(doc);
    return rv;
}

/* The file may say how the server runs: root's (or, for a server not
 * started as root, this user's, the one that writes it then), a regular
 * file no one else can write. Else anyone could pick acmectl's words. */
static int mode_file_trusted(acme_store_t *store, apr_pool_t *p)
{
    struct stat st;

    return lstat(acme_store_path(store, p, ACME_STORE_ACTIVATION_MODE), &st) == 0
           && S_ISREG(st.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid())
           && !(st.st_mode & (S_IWGRP | S_IWOTH));
}

acme_activation_mode_e acme_store_activation_mode_read(acme_store_t *store, apr_pool_t *p)
{
    json_t *doc = NULL;
    const char *mode;

    if (!mode_file_trusted(store, p)
        || acme_store_read_json_pooled(store, p, ACME_STORE_ACTIVATION_MODE, &doc) != APR_SUCCESS
        || !(mode = json_string_value(json_object_get(doc, "activation")))) {
        return ACME_ACTIVATION_UNKNOWN;
    }
    return !strcmp(mode, "auto") ? ACME_ACTIVATION_AUTO
         : !strcmp(mode, "manual") ? ACME_ACTIVATION_MANUAL : ACME_ACTIVATION_UNKNOWN;
}

const char *acme_store_activation_goes_live(apr_pool_t *p, acme_activation_mode_e mode,
                                           apr_time_t restart_at, int listed,
                                           const acme_store_refusal_t *refused,
                                           apr_time_t held_until, int full)
{
    const char *now = full ? "; apachectl graceful makes it live now" : "";

    if (refused && refused->at && mode != ACME_ACTIVATION_MANUAL) {
        /* the test failed for a cause the error log tells whole (a
         * configuration error, a store directory's owner): the why is its
         * first error line; the fix is what that error says */
        return full ? apr_psprintf(p, "goes live at the automatic restart, which was refused "
                                   "at %s: the configuration fails its test (%s); the test "
                                   "runs again at %s. See the error log for what "
                                   "to fix; once the test passes, apachectl graceful makes it "
                                   "live now", acme_time_rfc3339(p, refused->at),
                                   refused->why && *refused->why ? refused->why : "no error "
                                   "line", acme_time_rfc3339(p, refused->retry_at))
                    : apr_psprintf(p, "goes live once the configuration passes its test "
                                   "(restart refused at %s; tested again at %s)",
                                   acme_time_rfc3339(p, refused->at),
                                   acme_time_rfc3339(p, refused->retry_at));
    }

    if (mode == ACME_ACTIVATION_MANUAL) {
        /* nothing restarts by itself; a graceful restart also checks what
         * a refusal backoff holds */
        return full ? "goes live when the administrator restarts httpd (AcmeActivation "
                      "manual: apachectl graceful makes it live)"
                    : "goes live when the administrator restarts httpd (apachectl graceful)";
    }
    if (held_until && mode == ACME_ACTIVATION_UNKNOWN && !restart_at) {
        /* refused/NAME.json is written in either mode: under manual a
         * graceful restart checks it before the backoff ends too */
        return full ? apr_psprintf(p, "goes live once it passes the check: with AcmeActivation "
                                   "auto (the default) at the automatic restart after the "
                                   "refusal backoff ends (%s); with AcmeActivation manual, "
                                   "when the administrator runs apachectl graceful",
                                   acme_time_rfc3339(p, held_until))
                    : apr_psprintf(p, "goes live once it passes the check (automatic restart "
                                   "after the refusal backoff ends, %s; AcmeActivation "
                                   "manual: apachectl graceful)",
                                   acme_time_rfc3339(p, held_until));
    }
    if (held_until) {
        /* neither checked nor activated before the backoff ends */
        return apr_psprintf(p, "goes live at the automatic restart after the refusal backoff "
                            "ends (%s), if it passes the check%s",
                            acme_time_rfc3339(p, held_until),
                            full ? "; apachectl graceful tries it now" : "");
    }
    if (restart_at) {
        return apr_psprintf(p, "goes live at the automatic restart (%s %s)%s",
                            listed ? "about" : "at or after",
                            acme_time_rfc3339(p, restart_at), now);
    }
    if (mode == ACME_ACTIVATION_AUTO) {
        /* no restart held: the parent makes it live at once, or within
         * seconds while other orders still move (one restart for the batch) */
        return full ? "goes live at the automatic restart, within seconds; apachectl graceful "
                      "makes it live now"
                    : "goes live at the automatic restart, within seconds";
    }
    /* a store no server of this version started on: either way may be meant */
    return full ? "goes live at the next restart: with AcmeActivation auto (the default) the "
                  "automatic one, within seconds; with AcmeActivation manual, when the "
                  "administrator runs apachectl graceful"
                : "goes live at the next restart (automatic within seconds; "
                  "AcmeActivation manual: apachectl graceful)";
}

const acme_store_refusal_t *acme_store_restart_refused_of(const acme_store_refusal_t *refused)
{
    /* Every staged certificate: the automatic restart tests them all at
     * once, and one staged after the refusal waits for the same retest at
     * retry_at. */
    return refused && refused->at ? refused : NULL;
}
