/* The answer table (acme_answers.h): slots in anonymous shared memory, each
 * a seqlock, so readers never block. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>

#include "acme_answers.h"
#include "acme_shm.h"

/* The key names the slot layout: a build with another layout makes its own
 * table instead of reading this one wrongly. */
#define ANSWERS_POOL_KEY  "mod_acme.answers/4"
/* A reader retries a slot a writer holds this often at once, then yields
 * the processor until READ_WAIT has passed: a writer that lost its
 * processor mid-write (another process, a loaded machine) is waited for,
 * as a CA's fetch of a pending token must not be told 404 because a
 * writer held its slot. A slot whose writer died mid-write (its process
 * is gone) is skipped by readers and taken over by the next writer that
 * wants it; a writer that is only slow is never taken over. */
#define READ_SPINS        64
#define READ_WAIT         apr_time_from_msec(50)

/* The slot's word: the sequence number (odd while being written) in the
 * low 32 bits, the writing process's pid in the high 32 bits (0 when
 * none), changed together by one compare-and-swap. */
#define WORD_SEQ(w)       ((apr_uint32_t)(w))
#define WORD_PID(w)       ((pid_t)(apr_uint32_t)((w) >> 32))
#define WORD(seq, pid)    (((apr_uint64_t)(apr_uint32_t)(pid) << 32) | (apr_uint32_t)(seq))

typedef struct answer_slot_t {
    volatile apr_uint64_t word;       /* WORD(seq, writer pid) */
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

static void slot_clear(answer_slot_t *slot);

/* Did the process that holds the slot (pid from its word) die mid-write? */
static int holder_gone(pid_t pid)
{
    return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

/* Takes the slot for writing: 1 taken (*held: the even sequence number
 * before, which slot_release moves on by 2), 0 another writer holds it
 * (one whose process is gone is taken over: the slot is cleared). */
static int slot_claim(answer_slot_t *slot, apr_uint32_t *held)
{
    apr_uint64_t word = __atomic_load_n(&slot->word, __ATOMIC_ACQUIRE);
    apr_uint32_t seq = WORD_SEQ(word), want = seq + 1;
    int stuck = 0;

    if (seq & 1) {
        if (!holder_gone(WORD_PID(word))) {
            return 0;
        }
        want = seq + 2;    /* still odd: readers keep off while it is cleared */
        stuck = 1;
    }
    if (!__atomic_compare_exchange_n(&slot->word, &word, WORD(want, getpid()), 0,
                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        return 0;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (stuck) {
        slot_clear(slot);
    }
    *held = want - 1;
    return 1;
}

/* Ends this process's write: the sequence number even again, no holder. */
static void slot_release(answer_slot_t *slot, apr_uint32_t held)
{
    apr_uint64_t word = WORD(held + 1, getpid());

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    (void)__atomic_compare_exchange_n(&slot->word, &word, WORD(held + 2, 0), 0,
                                      __ATOMIC_RELEASE, __ATOMIC_RELAXED);
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

        /* Only a slot that looks right is claimed: a claim makes readers
         * of the slot wait, and a writer sweeping claims over every slot
         * would make a reader of another key wait (or, before waits were
         * bounded in time, miss it). */
        if (!(reuse_only ? slot_holds(slot, type, key, now)
                         : __atomic_load_n(&slot->expires, __ATOMIC_RELAXED) <= now
                           || (WORD_SEQ(__atomic_load_n(&slot->word, __ATOMIC_RELAXED)) & 1))
            || !slot_claim(slot, &held)) {
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
 * NULL and it fits, *len set), 0 not this slot, -1 a writer held it for
 * READ_WAIT. */
static int slot_read(const answer_slot_t *slot, apr_uint32_t type, const char *key,
                     apr_time_t now, char *buf, apr_size_t bufsize, apr_size_t *len)
{
    int tries;

    for (tries = 0;; ++tries) {
        apr_uint64_t before = __atomic_load_n(&slot->word, __ATOMIC_ACQUIRE);
        int found;

        if (WORD_SEQ(before) & 1) {
            if (tries == READ_SPINS && holder_gone(WORD_PID(before))) {
                return 0;
            }
            if (tries >= READ_SPINS) {
                if (apr_time_now() - now > READ_WAIT) {
                    return -1;
                }
                sched_yield();
            }
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
        if (__atomic_load_n(&slot->word, __ATOMIC_RELAXED) == before) {
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
