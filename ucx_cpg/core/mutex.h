/*
 * mutex.h - initialization of the short-held locks shared by the progress
 * thread and application threads.
 *
 * Such a lock guards a few loads and stores, and on a busy host its holder
 * is often running on the other CPU: sleeping in the kernel on a contended
 * acquisition and being woken costs far more than the wait itself (a futex
 * wait and wake pair per message in a CPG flood). glibc's adaptive mutex
 * spins a little before it sleeps. Measured on the 2-vCPU test VM, one
 * sender, 64 B, interleaved runs (medians of 5): 267k -> 301k msgs/s at 2
 * members, 322k -> 341k at 4.
 */
#ifndef UCPG_CORE_MUTEX_H
#define UCPG_CORE_MUTEX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <time.h>

/* The same for a static lock (the group engine's). */
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#define UCPG_MUTEX_ADAPTIVE_INITIALIZER PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#else
#define UCPG_MUTEX_ADAPTIVE_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#endif

static inline void ucpg_mutex_init_adaptive(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
}

/* A lock in shared memory that processes take (process-shared) and that a
 * holder's death does not leave taken for good (robust). Returns
 * pthread_mutex_init's code. */
static inline int ucpg_mutex_init_shared(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    int rc;

    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

/* Takes such a lock, waiting up to wait_ms (0: not at all; -1: for good).
 * A dead holder's lock is taken over as it is: 0 when taken, EBUSY when a
 * live holder keeps it (a stopped process does, for as long as it is
 * stopped). The caller checks what it guards, which a dead holder may have
 * left half-changed. A bounded wait polls trylock every 100 µs: such locks
 * are taken for rare changes, and ThreadSanitizer's timedlock does not know
 * EOWNERDEAD (it then reports every unlock of a lock taken over). */
static inline int ucpg_mutex_lock_shared(pthread_mutex_t *m, int wait_ms)
{
    long polls = (long)wait_ms * 10;
    int rc;

    if (wait_ms < 0) {
        rc = pthread_mutex_lock(m);
    } else {
        while (((rc = pthread_mutex_trylock(m)) == EBUSY) && (polls-- > 0)) {
            struct timespec pause = {0, 100000};

            nanosleep(&pause, NULL);
        }
    }
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(m);
        rc = 0;
    }
    return rc;
}

#endif
