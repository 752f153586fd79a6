/* Changes of status/ and domains/ in anonymous shared memory (acme_changes.h).
 * Writers take a spin lock for the moment of a stat and a copy; readers take
 * no lock: a sequence number tells them a snapshot was torn, and each ring
 * slot carries the number of the change it holds. */
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_time.h>
#include <apr_general.h>

#include "acme_changes.h"
#include "acme_shm.h"

/* The key names the layout: a build with another layout makes its own. */
#define CHANGES_POOL_KEY "mod_acme.changes/1"
/* A lock held longer than this belongs to a process that died holding it. */
#define LOCK_STEAL_USEC   1000000

typedef struct slot_t {
    apr_uint64_t gen;             /* the change it holds; 0 while being written */
    char name[ACME_CHANGES_NAME_MAX + 1];
} slot_t;

typedef struct block_t {
    apr_uint64_t id;
    apr_uint32_t lock;
    apr_uint64_t seq;             /* odd while a writer changes what follows */
    apr_uint64_t gen;
    acme_changes_stamp_t chain[ACME_CHANGES_DIRS];
    apr_uint64_t unexplained[ACME_CHANGES_DIRS];
    slot_t ring[ACME_CHANGES_RING];
} block_t;

struct acme_changes_t {
    block_t *block;
};

apr_status_t acme_changes_create(acme_changes_t **changes, apr_pool_t *pool)
{
    void *base;
    block_t *b;
    apr_status_t rv = acme_shm_segment(pool, CHANGES_POOL_KEY, sizeof(block_t),
                                       sizeof(**changes), (void **)changes, &base);

    if (rv != APR_SUCCESS || !base) {
        return rv;
    }
    b = (*changes)->block = base;
    if (apr_generate_random_bytes((unsigned char *)&b->id, sizeof(b->id)) != APR_SUCCESS
        || !b->id) {
        b->id = (apr_uint64_t)apr_time_now() | 1;
    }
    /* nothing is known of what happened before: every reader looks once */
    b->unexplained[ACME_CHANGES_STATUS] = b->unexplained[ACME_CHANGES_DOMAINS] = 1;
    b->gen = 1;
    return APR_SUCCESS;
}

apr_uint64_t acme_changes_id(const acme_changes_t *changes)
{
    return changes ? changes->block->id : 0;
}

apr_int64_t acme_changes_ns(const struct timespec *ts)
{
    return (apr_int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void acme_changes_stamp_stat(const struct stat *st, acme_changes_stamp_t *stamp)
{
    memset(stamp, 0, sizeof(*stamp));
    stamp->mtime_ns = acme_changes_ns(&st->st_mtim);
    stamp->ctime_ns = acme_changes_ns(&st->st_ctim);
    stamp->size = (apr_int64_t)st->st_size;
    stamp->ino = (apr_uint64_t)st->st_ino;
    stamp->dev = (apr_uint64_t)st->st_dev;
}

void acme_changes_stamp(const char *path, acme_changes_stamp_t *stamp)
{
    struct stat st;

    memset(stamp, 0, sizeof(*stamp));
    if (path && stat(path, &st) == 0) {
        acme_changes_stamp_stat(&st, stamp);
    }
}

void acme_changes_stamp_fd(int fd, acme_changes_stamp_t *stamp)
{
    struct stat st;

    memset(stamp, 0, sizeof(*stamp));
    if (fd >= 0 && fstat(fd, &st) == 0) {
        acme_changes_stamp_stat(&st, stamp);
    }
}

int acme_changes_stamp_same(const acme_changes_stamp_t *a, const acme_changes_stamp_t *b)
{
    return a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->size == b->size
           && a->ino == b->ino && a->dev == b->dev && a->ino;
}

static void lock(block_t *b)
{
    apr_time_t since = 0;
    unsigned spins = 0;

    while (__atomic_exchange_n(&b->lock, 1, __ATOMIC_ACQUIRE)) {
        if (++spins % 64 == 0) {
            apr_time_t now = apr_time_now();
            if (!since) {
                since = now;
            }
            else if (now - since > LOCK_STEAL_USEC) {
                return;           /* its holder died: the lock is ours now */
            }
            sched_yield();
        }
    }
}

static void unlock(block_t *b)
{
    __atomic_store_n(&b->lock, 0, __ATOMIC_RELEASE);
}

static void write_open(block_t *b)
{
    __atomic_fetch_add(&b->seq, 1, __ATOMIC_ACQ_REL);
}

static void write_close(block_t *b)
{
    __atomic_fetch_add(&b->seq, 1, __ATOMIC_RELEASE);
}

/* The block, locked, with the stamp of path into *now; NULL (nothing
 * locked) for NULL changes or a dir out of range. */
static block_t *locked_stamp(acme_changes_t *changes, int dir, const char *path,
                             acme_changes_stamp_t *now)
{
    block_t *b;

    if (!changes || dir < 0 || dir >= ACME_CHANGES_DIRS) {
        return NULL;
    }
    b = changes->block;
    lock(b);
    acme_changes_stamp(path, now);
    return b;
}

void acme_changes_begin(acme_changes_t *changes, int dir, const char *path)
{
    acme_changes_stamp_t now;
    block_t *b = locked_stamp(changes, dir, path, &now);

    if (!b) {
        return;
    }
    if (!acme_changes_stamp_same(&now, &b->chain[dir])) {
        write_open(b);
        b->unexplained[dir] = b->gen + 1;
        write_close(b);
    }
    unlock(b);
}

void acme_changes_note(acme_changes_t *changes, int dir, const char *path, const char *name)
{
    acme_changes_stamp_t now;
    block_t *b = locked_stamp(changes, dir, path, &now);
    apr_uint64_t gen;
    slot_t *slot;

    if (!b) {
        return;
    }
    write_open(b);
    gen = ++b->gen;
    b->chain[dir] = now;
    if (!name || strlen(name) > ACME_CHANGES_NAME_MAX) {
        b->unexplained[dir] = gen;
    }
    else {
        slot = &b->ring[gen % ACME_CHANGES_RING];
        __atomic_store_n(&slot->gen, 0, __ATOMIC_RELEASE);
        apr_cpystrn(slot->name, name, sizeof(slot->name));
        __atomic_store_n(&slot->gen, gen, __ATOMIC_RELEASE);
    }
    write_close(b);
    unlock(b);
}

void acme_changes_where(const acme_changes_t *changes, int dir, acme_changes_pos_t *pos)
{
    const block_t *b;
    int tries;

    memset(pos, 0, sizeof(*pos));
    if (!changes || dir < 0 || dir >= ACME_CHANGES_DIRS) {
        return;
    }
    b = changes->block;
    for (tries = 0; tries < 1000; tries++) {
        apr_uint64_t s1 = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE), s2;

        if (s1 & 1) {
            sched_yield();
            continue;
        }
        pos->gen = b->gen;
        pos->chain = b->chain[dir];
        pos->unexplained = b->unexplained[dir];
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        s2 = __atomic_load_n(&b->seq, __ATOMIC_RELAXED);
        if (s1 == s2) {
            return;
        }
    }
    /* never a clean snapshot: a position that explains nothing */
    memset(pos, 0, sizeof(*pos));
    pos->gen = (apr_uint64_t)-1;
    pos->unexplained = (apr_uint64_t)-1;
}

int acme_changes_since(const acme_changes_t *changes, apr_uint64_t from, apr_uint64_t to,
                       apr_array_header_t *names)
{
    apr_hash_t *seen;
    apr_uint64_t g;

    if (!changes || to < from || to - from > ACME_CHANGES_RING - 1) {
        return 0;
    }
    seen = apr_hash_make(names->pool);
    for (g = from + 1; g <= to; g++) {
        const slot_t *slot = &changes->block->ring[g % ACME_CHANGES_RING];
        char name[ACME_CHANGES_NAME_MAX + 1];

        if (__atomic_load_n(&slot->gen, __ATOMIC_ACQUIRE) != g) {
            return 0;             /* overwritten, or written right now */
        }
        memcpy(name, slot->name, sizeof(name));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&slot->gen, __ATOMIC_RELAXED) != g) {
            return 0;
        }
        name[sizeof(name) - 1] = '\0';
        if (!apr_hash_get(seen, name, APR_HASH_KEY_STRING)) {
            const char *copy = apr_pstrdup(names->pool, name);
            apr_hash_set(seen, copy, APR_HASH_KEY_STRING, copy);
            APR_ARRAY_PUSH(names, const char *) = copy;
        }
    }
    return 1;
}
