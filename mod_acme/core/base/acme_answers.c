/* The answer table (acme_answers.h): slots in anonymous shared memory, each
 * a seqlock, so readers never block. */
#include <string.h>
#include <apr_strings.h>

#include "acme_answers.h"
#include "acme_shm.h"

/* The key names the slot layout: a build with another layout makes its own
 * table instead of reading this one wrongly. */
#define ANSWERS_POOL_KEY  "mod_acme.answers/2"
/* How often a reader retries a slot a writer keeps changing. */
#define READ_TRIES        8

typedef struct answer_slot_t {
    volatile apr_uint32_t seq;        /* odd while being written */
    apr_uint32_t type;                /* acme_answer_type_e */
    apr_time_t expires;               /* 0: free */
    apr_uint32_t len;                 /* of value */
    char key[ACME_ANSWER_KEY_MAX + 1];
    char value[ACME_ANSWER_VALUE_MAX + 1];
} answer_slot_t;

/* Ahead of the slots, a cache line of its own: the hold (acme_answers_hold),
 * the generation in the high 32 bits, the end in Unix seconds in the low. */
typedef struct answers_head_t {
    volatile apr_uint64_t hold;
    char pad[64 - sizeof(apr_uint64_t)];
} answers_head_t;

struct acme_answers_t {
    answers_head_t *head;
    answer_slot_t *slots;
    int nslots;
    apr_interval_time_t lifetime;
};

apr_pool_t *acme_answers_home(apr_pool_t *pconf)
{
    apr_pool_t *home = pconf, *parent;

    while ((parent = apr_pool_parent_get(home)) != NULL && apr_pool_parent_get(parent) != NULL) {
        home = parent;
    }
    return parent ? home : pconf;
}

apr_status_t acme_answers_create(acme_answers_t **table, apr_pool_t *pool,
                                 apr_interval_time_t lifetime)
{
    void *base;
    apr_status_t rv = acme_shm_segment(pool, ANSWERS_POOL_KEY, sizeof(answers_head_t)
                                       + sizeof(answer_slot_t) * ACME_ANSWERS_SLOTS,
                                       sizeof(**table), (void **)table, &base);

    if (rv == APR_SUCCESS && base) {
        (*table)->head = base;
        (*table)->slots = (answer_slot_t *)((answers_head_t *)base + 1);
        (*table)->nslots = ACME_ANSWERS_SLOTS;
        (*table)->lifetime = lifetime;
    }
    return rv;
}

/* ---- the seqlock ---------------------------------------------------------- */

static int slot_claim(answer_slot_t *slot, apr_uint32_t *held)
{
    apr_uint32_t even = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);

    if (even & 1) {
        return 0;
    }
    if (!__atomic_compare_exchange_n(&slot->seq, &even, even + 1, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED)) {
        return 0;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *held = even;
    return 1;
}

static void slot_release(answer_slot_t *slot, apr_uint32_t held)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&slot->seq, held + 2, __ATOMIC_RELEASE);
}

/* ---- writers ---------------------------------------------------------------- */

static int slot_holds(const answer_slot_t *slot, apr_uint32_t type, const char *key,
                      apr_time_t now)
{
    return slot->expires > now && slot->type == type
           && !strncmp(slot->key, key, sizeof(slot->key));
}

static void slot_clear(answer_slot_t *slot)
{
    slot->expires = 0;
    slot->type = 0;
    slot->len = 0;
    memset(slot->key, 0, sizeof(slot->key));
    memset(slot->value, 0, sizeof(slot->value));
}

/* Writes into the slot that holds (type, key) already, or else into a free
 * or expired one. Returns 0 when none fits. */
static int slot_write(acme_answers_t *table, apr_uint32_t type, const char *key,
                      const void *value, apr_size_t len, apr_time_t now, int reuse_only)
{
    int i;

    for (i = 0; i < table->nslots; ++i) {
        answer_slot_t *slot = &table->slots[i];
        apr_uint32_t held;
        int fits;

        if (!slot_claim(slot, &held)) {
            continue;
        }
        fits = reuse_only ? slot_holds(slot, type, key, now) : slot->expires <= now;
        if (fits) {
            slot_clear(slot);
            apr_cpystrn(slot->key, key, sizeof(slot->key));
            memcpy(slot->value, value, len);
            slot->len = (apr_uint32_t)len;
            slot->type = type;
            slot->expires = now + table->lifetime;
        }
        slot_release(slot, held);
        if (fits) {
            return 1;
        }
    }
    return 0;
}

apr_status_t acme_answers_publish(acme_answers_t *table, acme_answer_type_e type,
                                  const char *key, const void *value, apr_size_t len)
{
    apr_time_t now = apr_time_now();

    if (!table || !table->slots) {
        return APR_EINIT;
    }
    if (!key || !*key || strlen(key) > ACME_ANSWER_KEY_MAX || (!value && len)
        || len > ACME_ANSWER_VALUE_MAX) {
        return APR_EINVAL;
    }
    if (slot_write(table, type, key, value, len, now, 1)
        || slot_write(table, type, key, value, len, now, 0)) {
        return APR_SUCCESS;
    }
    return APR_ENOSPC;
}

void acme_answers_withdraw(acme_answers_t *table, acme_answer_type_e type, const char *key)
{
    apr_time_t now = apr_time_now();
    int i;

    if (!table || !table->slots || !key) {
        return;
    }
    for (i = 0; i < table->nslots; ++i) {
        answer_slot_t *slot = &table->slots[i];
        apr_uint32_t held;

        if (!slot_holds(slot, type, key, now) || !slot_claim(slot, &held)) {
            continue;
        }
        if (slot_holds(slot, type, key, now)) {
            slot_clear(slot);
        }
        slot_release(slot, held);
    }
}

/* ---- readers ---------------------------------------------------------------- */

/* One consistent look at a slot: 1 found (copied into buf when buf is not
 * NULL and it fits, *len set), 0 not this slot, -1 a writer kept getting in
 * the way. */
static int slot_read(const answer_slot_t *slot, apr_uint32_t type, const char *key,
                     apr_time_t now, char *buf, apr_size_t bufsize, apr_size_t *len)
{
    int tries;

    for (tries = 0; tries < READ_TRIES; ++tries) {
        apr_uint32_t before = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);
        int found;

        if (before & 1) {
            continue;
        }
        found = slot_holds(slot, type, key, now);
        if (found) {
            /* A torn length is caught by the seq check below; bounded anyway. */
            *len = slot->len <= ACME_ANSWER_VALUE_MAX ? slot->len : ACME_ANSWER_VALUE_MAX;
            if (buf && *len < bufsize) {
                memcpy(buf, slot->value, *len);
                buf[*len] = '\0';
            }
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&slot->seq, __ATOMIC_RELAXED) == before) {
            return found;
        }
    }
    return -1;
}

apr_status_t acme_answers_lookup(acme_answers_t *table, acme_answer_type_e type,
                                 const char *key, char *buf, apr_size_t bufsize,
                                 apr_size_t *len)
{
    apr_time_t now = apr_time_now();
    apr_size_t found_len = 0;
    int i;

    if (buf && bufsize) {
        buf[0] = '\0';
    }
    if (!table || !table->slots || !key || !*key || (buf && !bufsize)) {
        return APR_ENOENT;
    }
    for (i = 0; i < table->nslots; ++i) {
        if (slot_read(&table->slots[i], type, key, now, buf, bufsize, &found_len) != 1) {
            continue;
        }
        if (buf && found_len >= bufsize) {
            buf[0] = '\0';
            return APR_ENOSPC;
        }
        if (len) {
            *len = found_len;
        }
        return APR_SUCCESS;
    }
    return APR_ENOENT;
}

/* ---- the hold ------------------------------------------------------------------ */

void acme_answers_hold(acme_answers_t *table, apr_uint32_t generation, apr_time_t until)
{
    apr_uint64_t word = 0;

    if (!table || !table->head) {
        return;
    }
    if (until > 0) {     /* rounded up: never shorter than asked */
        word = ((apr_uint64_t)generation << 32)
               | (apr_uint32_t)((until + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
    }
    __atomic_store_n(&table->head->hold, word, __ATOMIC_SEQ_CST);
}

apr_time_t acme_answers_held(acme_answers_t *table, apr_uint32_t generation, apr_time_t now)
{
    apr_uint64_t word;
    apr_time_t until;

    if (!table || !table->head) {
        return 0;
    }
    word = __atomic_load_n(&table->head->hold, __ATOMIC_SEQ_CST);
    until = apr_time_from_sec((apr_time_t)(word & 0xffffffffu));
    return word && generation <= (apr_uint32_t)(word >> 32) && until > now ? until : 0;
}
