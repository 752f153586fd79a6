/* The parent's fork gate: the MPM's forks wait while the activation thread
 * is busy (acme_activation.c), or the keys' thread of post_config makes a
 * key (acme_certs_keys.c). */
#include <pthread.h>
#include <apr_time.h>

#include "acme_private.h"
#include "acme_watchdog.h"

/* The fork gate: fork() (the MPM making children) waits while the thread is
 * busy: from before it starts to the end of its first look, then during each
 * look; between looks it only polls. Process-wide, as pthread_atfork takes no
 * argument (glibc drops the handlers when the module is unloaded). The thread
 * never forks: posix_spawn (the configuration test) runs no handlers.
 *
 * The keys' thread of post_config (acme_certs_hot.c) may run while another
 * module's post_config forks (mod_cgid its daemon): a copy taken while that
 * thread is inside OpenSSL (a key generation, the RNG, a decoder fetch)
 * holds OpenSSL's locks with no thread to release them. So forks also wait
 * while keys is set, which that thread sets for one key at a time
 * (acme_activation_gate_keys_enter/_leave), after letting every waiting fork
 * go first: a fork waits for one key at most, never for the whole batch.
 * Its own flag, as both threads may hold the gate at once. No deadlock:
 * while a flag is set its thread waits for no other thread (a fork waits
 * in the prepare handler with the lock released by the condition, and
 * glibc takes its own fork locks only after the handlers); a thread waits
 * for the forks with its flag clear; the main thread, which forks, never
 * sets one. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int busy;                   /* the activation thread's */
    int keys;                   /* the keys' thread's: making one key */
    int waiting;                /* forks waiting for the gate */
    unsigned long forks;        /* forks made, counted in the parent */
    unsigned long keys_waits;   /* forks that found keys set */
    apr_time_t keys_wait_max;   /* the longest wait of those */
} fork_gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0 };
static pthread_once_t fork_gate_once = PTHREAD_ONCE_INIT;

static void fork_gate_prepare(void)
{
    apr_time_t began = 0;

    pthread_mutex_lock(&fork_gate.lock);
    ++fork_gate.waiting;
    if (fork_gate.keys) {
        began = apr_time_now();
    }
    while (fork_gate.busy || fork_gate.keys) {
        pthread_cond_wait(&fork_gate.idle, &fork_gate.lock);
    }
    if (began) {
        ++fork_gate.keys_waits;
        began = apr_time_now() - began;
        fork_gate.keys_wait_max = began > fork_gate.keys_wait_max ? began
                                  : fork_gate.keys_wait_max;
    }
    --fork_gate.waiting;
}

static void fork_gate_parent(void)
{
    ++fork_gate.forks;
    pthread_mutex_unlock(&fork_gate.lock);
}

static void fork_gate_child(void)   /* which has no activation thread */
{
    pthread_mutex_init(&fork_gate.lock, NULL);
    pthread_cond_init(&fork_gate.idle, NULL);
    fork_gate.busy = fork_gate.keys = fork_gate.waiting = 0;
}

static void fork_gate_register(void) { pthread_atfork(fork_gate_prepare, fork_gate_parent,
                                                      fork_gate_child); }

void acme_activation_gate_set(int busy)
{
    pthread_mutex_lock(&fork_gate.lock);
    fork_gate.busy = busy;
    if (!busy) {
        pthread_cond_broadcast(&fork_gate.idle);
    }
    pthread_mutex_unlock(&fork_gate.lock);
}

/* *flag set (busy or keys), but only once no fork waits for the gate:
 * work that may go on while the MPM starts its children lets each fork go
 * first. */
static void fork_gate_set_behind_forks(int *flag)
{
    pthread_mutex_lock(&fork_gate.lock);
    while (fork_gate.waiting) {
        pthread_mutex_unlock(&fork_gate.lock);
        apr_sleep(apr_time_from_msec(1));
        pthread_mutex_lock(&fork_gate.lock);
    }
    *flag = 1;
    pthread_mutex_unlock(&fork_gate.lock);
}

void acme_activation_gate_set_behind_forks(void)
{
    fork_gate_set_behind_forks(&fork_gate.busy);
}

void acme_activation_gate_keys_enter(void)
{
    fork_gate_set_behind_forks(&fork_gate.keys);
}

void acme_activation_gate_keys_leave(void)
{
    pthread_mutex_lock(&fork_gate.lock);
    fork_gate.keys = 0;
    pthread_cond_broadcast(&fork_gate.idle);
    pthread_mutex_unlock(&fork_gate.lock);
}

unsigned long acme_activation_gate_keys_waits(apr_time_t *longest)
{
    unsigned long waits;

    pthread_mutex_lock(&fork_gate.lock);
    waits = fork_gate.keys_waits;
    *longest = fork_gate.keys_wait_max;
    fork_gate.keys_wait_max = 0;
    pthread_mutex_unlock(&fork_gate.lock);
    return waits;
}

unsigned long acme_activation_gate_forks(void)
{
    unsigned long forks;

    pthread_mutex_lock(&fork_gate.lock);
    forks = fork_gate.forks;
    pthread_mutex_unlock(&fork_gate.lock);
    return forks;
}

void acme_activation_gate_init(void)
{
    pthread_once(&fork_gate_once, fork_gate_register);
}
