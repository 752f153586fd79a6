/* The driver's record strings (acme_record_t in acme_job_int.h): sized to
 * what they hold, their memory reused while a new text fits. */
#include <stddef.h>
#include <string.h>

#include "acme_job_int.h"
#include "acme_text.h"

/* A record string's memory: its capacity (bytes before the NUL) ahead of
 * the text. Unset strings share a read-only empty slot of capacity 0. */
typedef struct slot_t {
    apr_size_t cap;
    char s[1];
} slot_t;

static const slot_t empty_slot = { 0, "" };

#define SLOT_OF(text) ((slot_t *)(void *)((char *)(apr_uintptr_t)(text) - offsetof(slot_t, s)))

void acme_record_text_set(acme_record_t *rec, const char **field, apr_size_t max, const char *value)
{
    apr_size_t len = acme_text_cut_len(value, max - 1);     /* a character is kept whole */
    slot_t *slot = SLOT_OF(*field);

    if (len > slot->cap) {
        /* Twice what it held (at most max): a field's memory stays under 2 max. */
        apr_size_t cap = slot->cap ? slot->cap : 15;

        while (cap < len) {
            cap = cap * 2 + 1;
        }
        if (cap > max - 1) {
            cap = max - 1;
        }
        slot = apr_palloc(rec->pool, offsetof(slot_t, s) + cap + 1);
        slot->cap = cap;
        *field = slot->s;
    }
    if (slot->cap) {
        memcpy(slot->s, value ? value : "", len);
        slot->s[len] = '\0';
    }
}

void acme_record_text_init(acme_record_t *rec, apr_pool_t *pool)
{
    rec->pool = pool;
    rec->cert_issuer = rec->cert_serial = rec->cert_ca = rec->cert_ari_id = empty_slot.s;
    rec->replaces_refused = rec->error_type = rec->error_detail = rec->error_url = empty_slot.s;
    rec->notice = rec->queued = rec->ari.serial = empty_slot.s;
}

apr_uint64_t acme_record_text_digest(const char *text)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    const unsigned char *c;

    for (c = (const unsigned char *)text; *c; c++) {
        h = (h ^ *c) * APR_UINT64_C(1099511628211);
    }
    return h ? h : 1;
}

int acme_record_text_wait_told(acme_record_t *rec, const char *why, apr_time_t now)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    const unsigned char *c;

    /* Numbers (seconds waited, ms left) change at every look: not a change. */
    for (c = (const unsigned char *)(why ? why : ""); *c; c++) {
        if (*c < '0' || *c > '9') {
            h = (h ^ *c) * APR_UINT64_C(1099511628211);
        }
    }
    h = h ? h : 1;
    if (h == rec->wait_told && now - rec->wait_told_at < ACME_REC_WAIT_RETELL) {
        return 0;
    }
    rec->wait_told = h;
    rec->wait_told_at = now;
    return 1;
}
