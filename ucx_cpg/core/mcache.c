/*
 * mcache.c - magazines of small blocks per thread, traded through a depot
 * (see mcache.h for why).
 *
 * A magazine is an array of pointers to free blocks (Bonwick's design, as in
 * Solaris' kmem and UCX's mpool chunks). A thread holds, per size class, two
 * magazines: the loaded one, which allocations pop from and frees push to,
 * and the previous one, swapped in when the loaded one runs empty or full.
 * Only when both are empty (or both full) does the thread go to the depot,
 * under its lock, to trade a whole magazine: so in a producer/consumer
 * stream each side takes the lock once per M blocks.
 *
 * Why arrays and not a chain through the blocks: a block made by one thread
 * and freed by another was last written on the other CPU. Popping a chain
 * reads the block's link, a load that misses and that the next pop depends
 * on (230 ns one way between the two vCPUs of the test VM, several times per
 * CPG message). Popping an array reads the thread's own magazine; the block
 * is first touched by the caller's stores, which do not stall.
 *
 * A thread that exits gives its magazines to the depot (a thread-specific
 * key's destructor); the depot keeps at most UCPG_MCACHE_DEPOT_BYTES of
 * blocks per class and frees the rest, so what is kept is bounded per class
 * and per thread. The bound is in bytes, not magazines, because the
 * consumer gives back in bursts as large as what was in flight: with 16
 * magazines per class, 44% of a sequencer's 128-byte blocks still came from
 * the heap in an 8-member flood; with 2 MiB, 1.4% (the first use of each
 * block).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mcache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define UCPG_MCACHE_PASS_THROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UCPG_MCACHE_PASS_THROUGH 1
#endif
#endif

#define UCPG_MCACHE_MIN_SHIFT   5u                   /* 32 B */
#define UCPG_MCACHE_CLASSES     11u                  /* 32 B .. 32 KiB */
#define UCPG_MCACHE_MAG_BYTES   (64u * 1024u)        /* a magazine's bytes, at most... */
#define UCPG_MCACHE_MAG_MIN     4u                   /* ...but at least this many blocks */
#define UCPG_MCACHE_MAG_MAX     64u                  /* and at most this many */
#define UCPG_MCACHE_EMPTIES     8u                   /* empty magazines kept per class */
#define UCPG_MCACHE_LINE        64u                  /* cache line */

typedef struct ucpg_mcache_mag {
    struct ucpg_mcache_mag *next;                    /* in a depot list */
    unsigned                count;                   /* blocks in rounds[] */
    void                   *rounds[UCPG_MCACHE_MAG_MAX];
} ucpg_mcache_mag_t;

typedef struct {
    ucpg_mcache_mag_t *loaded;                       /* NULL until first used */
    ucpg_mcache_mag_t *previous;                     /* empty, full, or NULL */
} ucpg_mcache_pair_t;

typedef struct ucpg_mcache_thread {
    int                        registered;   /* listed; the exit destructor will run */
    int                        busy;         /* inside alloc or free (see fork) */
    struct ucpg_mcache_thread *next;         /* ucpg_mcache_threads */
    ucpg_mcache_pair_t         cls[UCPG_MCACHE_CLASSES];
} ucpg_mcache_thread_t;

typedef struct {
    pthread_mutex_t    lock;
    ucpg_mcache_mag_t *full;                 /* magazines holding blocks */
    ucpg_mcache_mag_t *empty;                /* spare magazines, at most UCPG_MCACHE_EMPTIES */
    size_t             blocks;               /* in the full list */
    unsigned           empties;
} ucpg_mcache_depot_t;

static __thread ucpg_mcache_thread_t ucpg_mcache_self;
static ucpg_mcache_depot_t           ucpg_mcache_depot[UCPG_MCACHE_CLASSES] = {
    [0 ... UCPG_MCACHE_CLASSES - 1] = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0}
};
/* Every registered thread's cache: a forked child takes over those of the
 * threads that did not follow it into the child. */
static pthread_mutex_t               ucpg_mcache_threads_lock = PTHREAD_MUTEX_INITIALIZER;
static ucpg_mcache_thread_t         *ucpg_mcache_threads;
static pthread_once_t                ucpg_mcache_once = PTHREAD_ONCE_INIT;
static pthread_key_t                 ucpg_mcache_key;
static int                           ucpg_mcache_key_ok;

/* --- size classes ---------------------------------------------------------- */

static int ucpg_mcache_class(size_t size)
{
    unsigned bits;

    if (size > UCPG_MCACHE_MAX) {
        return -1;
    }
    if (size <= UCPG_MCACHE_MIN) {
        return 0;
    }
    bits = 64u - (unsigned)__builtin_clzll((unsigned long long)size - 1u);
    return (int)(bits - UCPG_MCACHE_MIN_SHIFT);
}

static size_t ucpg_mcache_class_size(int c)
{
    return (size_t)1 << (UCPG_MCACHE_MIN_SHIFT + (unsigned)c);
}

/* Blocks per magazine: about UCPG_MCACHE_MAG_BYTES, within the bounds
 * (a shift: it is asked on every free). */
static inline unsigned ucpg_mcache_mag_blocks(int c)
{
    unsigned n = UCPG_MCACHE_MAG_BYTES >> (UCPG_MCACHE_MIN_SHIFT + (unsigned)c);

    if (n < UCPG_MCACHE_MAG_MIN) {
        return UCPG_MCACHE_MAG_MIN;
    }
    return (n > UCPG_MCACHE_MAG_MAX) ? UCPG_MCACHE_MAG_MAX : n;
}

size_t ucpg_mcache_size(size_t size)
{
    int c = ucpg_mcache_class(size);

    return (c < 0) ? size : ucpg_mcache_class_size(c);
}

int ucpg_mcache_enabled(void)
{
#ifdef UCPG_MCACHE_PASS_THROUGH
    return 0;
#else
    return 1;
#endif
}

/* A new block, on cache lines of its own from 64 B up: blocks are written
 * by different threads, which should not evict each other's lines. */
static void *ucpg_mcache_heap_alloc(int c)
{
    size_t size = ucpg_mcache_class_size(c);

    return (size < UCPG_MCACHE_LINE) ? malloc(size) : aligned_alloc(UCPG_MCACHE_LINE, size);
}

/* --- the depot --------------------------------------------------------------- */

/* Frees a magazine and the blocks it holds. */
static void ucpg_mcache_mag_free(ucpg_mcache_mag_t *m)
{
    while (m->count > 0) {
        free(m->rounds[--m->count]);
    }
    free(m);
}

/* Keeps a magazine: a full one while the class keeps less than
 * UCPG_MCACHE_DEPOT_BYTES, an empty one while it keeps few spares; frees
 * it otherwise. */
static void ucpg_mcache_depot_put(int c, ucpg_mcache_mag_t *m)
{
    ucpg_mcache_depot_t *d = &ucpg_mcache_depot[c];
    int kept               = 0;

    pthread_mutex_lock(&d->lock);
    if (m->count == 0) {
        if (d->empties < UCPG_MCACHE_EMPTIES) {
            m->next  = d->empty;
            d->empty = m;
            d->empties++;
            kept     = 1;
        }
    } else if ((d->blocks + m->count) * ucpg_mcache_class_size(c) <= UCPG_MCACHE_DEPOT_BYTES) {
        m->next    = d->full;
        d->full    = m;
        d->blocks += m->count;
        kept       = 1;
    }
    pthread_mutex_unlock(&d->lock);
    if (!kept) {
        ucpg_mcache_mag_free(m);
    }
}

/* Takes a full magazine (want_full) or an empty one; NULL if there is none. */
static ucpg_mcache_mag_t *ucpg_mcache_depot_get(int c, int want_full)
{
    ucpg_mcache_depot_t *d = &ucpg_mcache_depot[c];
    ucpg_mcache_mag_t *m;

    pthread_mutex_lock(&d->lock);
    if (want_full) {
        if ((m = d->full) != NULL) {
            d->full    = m->next;
            d->blocks -= m->count;
        }
    } else if ((m = d->empty) != NULL) {
        d->empty = m->next;
        d->empties--;
    }
    pthread_mutex_unlock(&d->lock);
    return m;
}

size_t ucpg_mcache_depot_bytes(void)
{
    size_t bytes = 0;
    unsigned c;

    for (c = 0; c < UCPG_MCACHE_CLASSES; ++c) {
        pthread_mutex_lock(&ucpg_mcache_depot[c].lock);
        bytes += ucpg_mcache_depot[c].blocks * ucpg_mcache_class_size((int)c);
        pthread_mutex_unlock(&ucpg_mcache_depot[c].lock);
    }
    return bytes;
}

/* Empties a class's lists (ucpg_mcache_trim). */
static void ucpg_mcache_depot_clear(int c)
{
    ucpg_mcache_depot_t *d = &ucpg_mcache_depot[c];
    ucpg_mcache_mag_t *lists[2], *m;
    unsigned i;

    pthread_mutex_lock(&d->lock);
    lists[0]   = d->full;
    lists[1]   = d->empty;
    d->full    = d->empty = NULL;
    d->blocks  = 0;
    d->empties = 0;
    pthread_mutex_unlock(&d->lock);
    for (i = 0; i < 2; ++i) {
        while ((m = lists[i]) != NULL) {
            lists[i] = m->next;
            ucpg_mcache_mag_free(m);
        }
    }
}

/* --- a thread's cache ------------------------------------------------------------- */

/* Gives all of a thread's magazines to the depot. */
static void ucpg_mcache_thread_flush(ucpg_mcache_thread_t *t)
{
    unsigned c;

    for (c = 0; c < UCPG_MCACHE_CLASSES; ++c) {
        ucpg_mcache_pair_t *pair = &t->cls[c];

        if (pair->loaded != NULL) {
            ucpg_mcache_depot_put((int)c, pair->loaded);
        }
        if (pair->previous != NULL) {
            ucpg_mcache_depot_put((int)c, pair->previous);
        }
        pair->loaded = pair->previous = NULL;
    }
}

static void ucpg_mcache_threads_unlink(ucpg_mcache_thread_t *t)
{
    ucpg_mcache_thread_t **pp;

    for (pp = &ucpg_mcache_threads; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->registered = 0;
}

/* At thread exit (the key's destructor). A later free in this thread
 * registers again, and glibc then calls the destructor once more. */
static void ucpg_mcache_thread_exit(void *arg)
{
    ucpg_mcache_thread_t *t = arg;

    pthread_mutex_lock(&ucpg_mcache_threads_lock);
    ucpg_mcache_threads_unlink(t);
    pthread_mutex_unlock(&ucpg_mcache_threads_lock);
    ucpg_mcache_thread_flush(t);
}

/* fork() waits until no other thread holds one of our locks, so that the
 * child does not inherit one taken. */
static void ucpg_mcache_atfork_prepare(void)
{
    unsigned c;

    pthread_mutex_lock(&ucpg_mcache_threads_lock);
    for (c = 0; c < UCPG_MCACHE_CLASSES; ++c) {
        pthread_mutex_lock(&ucpg_mcache_depot[c].lock);
    }
}

static void ucpg_mcache_atfork_parent(void)
{
    unsigned c;

    for (c = UCPG_MCACHE_CLASSES; c-- > 0;) {
        pthread_mutex_unlock(&ucpg_mcache_depot[c].lock);
    }
    pthread_mutex_unlock(&ucpg_mcache_threads_lock);
}

/* In the child only the forking thread goes on: the other threads' caches
 * (copied with their memory) would be lost, so the depot takes them. */
static void ucpg_mcache_atfork_child(void)
{
    ucpg_mcache_thread_t *t, *next;

    ucpg_mcache_atfork_parent();
    t                   = ucpg_mcache_threads;
    ucpg_mcache_threads = NULL;
    for (; t != NULL; t = next) {
        next = t->next;
        if (t == &ucpg_mcache_self) {
            t->next             = ucpg_mcache_threads;
            ucpg_mcache_threads = t;
        } else if (t->busy) {
            t->registered = 0;          /* caught halfway: its magazines are lost */
        } else {
            t->registered = 0;
            ucpg_mcache_thread_flush(t);
        }
    }
}

static void ucpg_mcache_init(void)
{
    (void)pthread_atfork(ucpg_mcache_atfork_prepare, ucpg_mcache_atfork_parent,
                         ucpg_mcache_atfork_child);
    ucpg_mcache_key_ok = (pthread_key_create(&ucpg_mcache_key, ucpg_mcache_thread_exit) == 0);
}

/* The library may be unloaded (an MCA component is dlclose()d): no thread
 * may then call the destructor into code that is gone. */
__attribute__((destructor)) static void ucpg_mcache_unload(void)
{
    if (ucpg_mcache_key_ok) {
        pthread_key_delete(ucpg_mcache_key);
        ucpg_mcache_key_ok = 0;
    }
}

/* The calling thread's cache, with its exit destructor registered. */
static ucpg_mcache_thread_t *ucpg_mcache_thread(void)
{
    ucpg_mcache_thread_t *t = &ucpg_mcache_self;

    if (__builtin_expect(!t->registered, 0)) {
        pthread_once(&ucpg_mcache_once, ucpg_mcache_init);
        t->registered = 1;
        /* Listed only with a destructor that will unlist it. */
        if (ucpg_mcache_key_ok && (pthread_setspecific(ucpg_mcache_key, t) == 0)) {
            pthread_mutex_lock(&ucpg_mcache_threads_lock);
            t->next             = ucpg_mcache_threads;
            ucpg_mcache_threads = t;
            pthread_mutex_unlock(&ucpg_mcache_threads_lock);
        }
    }
    return t;
}

/* --- the API -------------------------------------------------------------------- */

/*
 * A thread marks itself busy while it changes its own cache. fork() may
 * copy another thread in the middle of that (a magazine counted in both of
 * its slots, or in none); the child then leaves that cache alone instead of
 * giving a torn pair to the depot. The child sees a prefix of this thread's
 * stores, so they only need to be ordered (free on x86).
 */
static inline void ucpg_mcache_busy(ucpg_mcache_thread_t *t, int busy)
{
    if (busy) {
        __atomic_store_n(&t->busy, 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);    /* before the changes */
    } else {
        __atomic_store_n(&t->busy, 0, __ATOMIC_RELEASE);
    }
}

static void ucpg_mcache_swap(ucpg_mcache_pair_t *pair)
{
    ucpg_mcache_mag_t *m = pair->loaded;

    pair->loaded   = pair->previous;
    pair->previous = m;
}

/* The loaded magazine is empty (or absent): swap in the previous one if it
 * holds blocks, else trade the emptier of the two for a full one from the
 * depot. NULL when the depot has none either: the caller goes to the heap. */
static ucpg_mcache_mag_t *ucpg_mcache_reload_full(int c, ucpg_mcache_pair_t *pair)
{
    ucpg_mcache_mag_t *full;

    if ((pair->previous != NULL) && (pair->previous->count > 0)) {
        ucpg_mcache_swap(pair);
        return pair->loaded;
    }
    full = ucpg_mcache_depot_get(c, 1);
    if (full == NULL) {
        return NULL;
    }
    if (pair->previous != NULL) {
        ucpg_mcache_depot_put(c, pair->previous);      /* an empty one: a spare */
    }
    pair->previous = pair->loaded;
    pair->loaded   = full;
    return full;
}

/* The loaded magazine is full (or absent): swap in the previous one if it
 * has room, else give the previous (full) one to the depot and load an
 * empty one. NULL if no magazine could be had: the caller frees to the heap. */
static ucpg_mcache_mag_t *ucpg_mcache_reload_empty(int c, ucpg_mcache_pair_t *pair)
{
    ucpg_mcache_mag_t *empty;

    if ((pair->previous != NULL) && (pair->previous->count < ucpg_mcache_mag_blocks(c))) {
        ucpg_mcache_swap(pair);
        return pair->loaded;
    }
    empty = ucpg_mcache_depot_get(c, 0);
    if ((empty == NULL) && ((empty = malloc(sizeof(*empty))) == NULL)) {
        return NULL;
    }
    empty->count = 0;
    if (pair->previous != NULL) {
        ucpg_mcache_depot_put(c, pair->previous);      /* a full one */
    }
    pair->previous = pair->loaded;
    pair->loaded   = empty;
    return empty;
}

void *ucpg_mcache_alloc(size_t size)
{
    int c = ucpg_mcache_class(size);
    ucpg_mcache_thread_t *t;
    ucpg_mcache_pair_t *pair;
    void *p;
    ucpg_mcache_mag_t *m;

    if (c < 0) {
        return malloc(size);
    }
    if (!ucpg_mcache_enabled()) {
        return malloc(ucpg_mcache_class_size(c));     /* the same usable size */
    }
    t = ucpg_mcache_thread();
    ucpg_mcache_busy(t, 1);
    pair = &t->cls[c];
    m    = pair->loaded;
    if (__builtin_expect((m == NULL) || (m->count == 0), 0) &&
        ((m = ucpg_mcache_reload_full(c, pair)) == NULL)) {
        p = ucpg_mcache_heap_alloc(c);
    } else {
        p = m->rounds[--m->count];
        if (m->count > 0) {
            /* The next block was most likely freed by another thread, its
             * first line still in that CPU's cache: ask for it now, so the
             * next alloc's caller does not stall on its first store. */
            __builtin_prefetch(m->rounds[m->count - 1], 1);
        }
    }
    ucpg_mcache_busy(t, 0);
    return p;
}

void ucpg_mcache_free(void *p, size_t size)
{
    int c = ucpg_mcache_class(size);
    ucpg_mcache_thread_t *t;
    ucpg_mcache_pair_t *pair;
    ucpg_mcache_mag_t *m;

    if (p == NULL) {
        return;
    }
    if (!ucpg_mcache_enabled() || (c < 0)) {
        free(p);
        return;
    }
    t = ucpg_mcache_thread();
    ucpg_mcache_busy(t, 1);
    pair = &t->cls[c];
    m    = pair->loaded;
    if (__builtin_expect((m == NULL) || (m->count >= ucpg_mcache_mag_blocks(c)), 0) &&
        ((m = ucpg_mcache_reload_empty(c, pair)) == NULL)) {
        free(p);
    } else {
        m->rounds[m->count++] = p;
    }
    ucpg_mcache_busy(t, 0);
}

void ucpg_mcache_trim(void)
{
    unsigned c;

    if (!ucpg_mcache_enabled()) {
        return;
    }
    ucpg_mcache_thread_flush(ucpg_mcache_thread());
    for (c = 0; c < UCPG_MCACHE_CLASSES; ++c) {
        ucpg_mcache_depot_clear((int)c);
    }
}
