/* The driver's domain table: one record per domain name, what it knows of
 * the live certificate and the last failure, and status/<name>.json, the
 * record as the status page and acmectl see it. */
#include <string.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_time.h"
#include "acme_status_record.h"
#include "acme_counters.h"
#include "acme_changes.h"
#include "acme_store_paths.h"

acme_record_t *acme_record_make(apr_pool_t *pool, const char *name)
{
    acme_record_t *rec = apr_pcalloc(pool, sizeof(*rec));

    rec->name = apr_pstrdup(pool, name);
    acme_record_text_init(rec, pool);
    rec->state = "missing";
    return rec;
}

acme_record_t *acme_record_get(acme_driver_t *driver, const char *name, int create)
{
    acme_record_t *rec = apr_hash_get(driver->records, name, APR_HASH_KEY_STRING);

    if (!rec && create) {
        rec = acme_record_make(driver->pool, name);
        apr_hash_set(driver->records, rec->name, APR_HASH_KEY_STRING, rec);
    }
    return rec;
}

/* ---- status/<name>.json ---- */

static const char *record_state(const acme_record_t *rec)
{
    if (rec->job) {
        return rec->attempts > 0 ? "error" : rec->has_cert ? "renewing" : "missing";
    }
    return rec->state;
}

static const char *record_step(const acme_record_t *rec)
{
    if (rec->job) {
        return acme_job_step_name(rec->job->step);
    }
    return strcmp(rec->state, "staged") == 0 ? "staged" : "idle";
}

static const char *nonempty(const char *s)
{
    return s[0] ? s : NULL;
}

static const acme_status_record_t *status_record(const acme_record_t *rec,
                                                 const acme_domain_t *domain, apr_pool_t *p)
{
    acme_status_record_t *st = acme_status_record_make(p);

    st->name = domain->name;
    st->names = domain->names ? domain->names : apr_array_make(p, 1, sizeof(const char *));
    st->state = acme_status_record_state_parse(record_state(rec));
    st->step = record_step(rec);
    if (rec->has_cert) {
        acme_status_cert_t *cert = apr_pcalloc(p, sizeof(*cert));

        cert->not_before = rec->cert_not_before;
        cert->not_after = rec->cert_not_after;
        cert->issuer = rec->cert_issuer;
        cert->serial = rec->cert_serial;
        cert->ca = nonempty(rec->cert_ca);
        cert->ari_id = nonempty(rec->cert_ari_id);
        st->cert = cert;
    }
    if (rec->error_at) {
        acme_status_error_t *error = apr_pcalloc(p, sizeof(*error));

        error->detail = rec->error_detail;
        error->at = rec->error_at;
        error->since = rec->failing_since;
        error->type = nonempty(rec->error_type);
        error->url = nonempty(rec->error_url);
        error->kind = acme_problem_kind_name(rec->error_kind);
        if (rec->job && rec->error_kind == ACME_PROBLEM_KIND_SECLEVEL) {
            /* the hold is over and an order runs: readers of "seclevel"
             * would say no order comes before the hold's end */
            error->kind = NULL;
            error->detail = apr_pstrcat(p, rec->error_detail ? rec->error_detail : "the staged "
                                        "certificate was refused for the security level",
                                        "; the hold ended: a new order is under way", NULL);
        }
        st->error = error;
    }
    st->next_action = rec->next_run;
    st->attempts = rec->attempts;
    st->requests = rec->requests;
    st->notice = nonempty(rec->notice);
    st->activity = rec->job ? rec->job->activity : rec->queued[0] ? rec->queued : NULL;
    acme_renewal_status_fill(rec, domain, st, p);
    return st;
}

/* Written when state, step or error change, not on every poll. */
void acme_record_status_update(acme_driver_t *driver, acme_record_t *rec,
                               const acme_domain_t *domain, apr_pool_t *p)
{
    const char *summary = apr_psprintf(p, "%s %s %" APR_TIME_T_FMT " %d %d/%d %d %s %"
                                       APR_TIME_T_FMT " %" APR_TIME_T_FMT " %" APR_TIME_T_FMT,
                                       record_state(rec), record_step(rec), rec->error_at,
                                       rec->attempts, rec->failover.index, rec->failover.failures,
                                       rec->warning, rec->cert_serial, apr_time_sec(rec->renew_at),
                                       apr_time_sec(rec->ari.next_poll),
                                       apr_time_sec(rec->expiring_posted_at));
    apr_ssize_t notice_len = APR_HASH_KEY_STRING;

    summary = apr_psprintf(p, "%s %x %u %s", summary,
                           apr_hashfunc_default(rec->notice, &notice_len),
                           rec->job ? rec->job->activity_seq : 0, rec->queued);
    acme_changes_t *changes = acme_counters_changes(driver->ctx.counters);
    const acme_status_record_t *st;
    const char *status_dir;
    apr_uint64_t digest;
    apr_status_t rv;

    digest = acme_record_text_digest(summary);
    if (digest == rec->status_written) {
        return;
    }
    st = status_record(rec, domain, p);
    /* This child's first record of the name: after a restart, a fit
     * certificate's comes out as the last child wrote it. Reading it back
     * costs less than writing and renaming a file per name, and readers
     * keyed on its stamp then read nothing again. */
    if (!rec->status_written && acme_status_record_unchanged(driver->store, p, st)) {
        rec->status_written = digest;
        return;
    }
    /* noted for the status page, which then reads this record alone */
    status_dir = acme_store_path(driver->store, p, ACME_STORE_STATUS);
    acme_changes_begin(changes, ACME_CHANGES_STATUS, status_dir);
    rv = acme_status_record_save(driver->store, p, st);
    acme_changes_note(changes, ACME_CHANGES_STATUS, status_dir,
                      rv == APR_SUCCESS ? domain->name : NULL);
    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00408: %s: cannot write the status file",
                 domain->name);
        return;
    }
    rec->status_written = digest;
}

/* The CA's words may name our account URL; the status file must not. */
static const char *without_account(apr_pool_t *p, const char *text, const char *kid)
{
    const char *hit;

    if (!text || !kid || !*kid) {
        return text ? text : "";
    }
    while ((hit = strstr(text, kid)) != NULL) {
        text = apr_pstrcat(p, apr_pstrmemdup(p, text, hit - text), "(account)", hit + strlen(kid), NULL);
    }
    return text;
}

void acme_record_error(acme_record_t *rec, const acme_problem_t *prob, const char *kid,
                       apr_time_t now, apr_pool_t *p)
{
    const char *detail = prob->detail ? prob->detail : acme_problem_str(prob, p);

    rec->error_at = now;
    if (!rec->failing_since) {
        rec->failing_since = now;
    }
    acme_record_text_set(rec, &rec->error_type, ACME_ERR_TYPE_MAX, prob->type);
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, without_account(p, detail, kid));
    acme_record_text_set(rec, &rec->error_url, ACME_ERR_URL_MAX, without_account(p, prob->url, kid));
    rec->error_kind = prob->type ? ACME_PROBLEM_KIND_NONE : prob->kind;
}

void acme_record_cert(acme_record_t *rec, const acme_cert_info_t *info)
{
    rec->has_cert = info != NULL;
    acme_record_text_set(rec, &rec->cert_ari_id, ACME_ARI_ID_MAX, NULL);
    if (!info) {
        acme_record_text_set(rec, &rec->cert_serial, ACME_REC_SERIAL_MAX, NULL);
        acme_record_text_set(rec, &rec->cert_ca, ACME_ERR_URL_MAX, NULL);
        rec->cert_issued_at = 0;
        rec->warning = 0;
    }
    if (info) {
        rec->cert_not_before = info->not_before;
        rec->cert_not_after = info->not_after;
        acme_record_text_set(rec, &rec->cert_issuer, ACME_REC_ISSUER_MAX, info->issuer);
        acme_record_text_set(rec, &rec->cert_serial, ACME_REC_SERIAL_MAX, info->serial);
    }
}

