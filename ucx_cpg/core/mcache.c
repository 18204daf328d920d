/*
 * mcache.c - magazines of small blocks per thread, traded through a depot
 * (see mcache.h for why).
 *
 * A thread's cache holds, per size class, one stack of free blocks of at
 * most 2 * M blocks (M: the class's magazine size). A free that fills it
 * hands M blocks to the depot as one magazine; an allocation that finds it
 * empty takes one magazine from the depot, or calls malloc(). So in a
 * producer/consumer stream each side takes the depot's lock once per M
 * blocks, and the blocks circulate instead of going back to the heap.
 *
 * A thread that exits gives its blocks to the depot (a thread-specific key's
 * destructor); the depot keeps at most UCPG_MCACHE_DEPOT_BYTES per class and
 * frees the rest, so what is kept is bounded per class and per thread. The
 * bound is in bytes, not magazines, because the consumer gives back in
 * bursts as large as what was in flight: with 16 magazines per class, 44% of
 * a sequencer's 128-byte blocks still came from the heap in an 8-member
 * flood; with 2 MiB, 1.4% (the first use of each block).
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
#define UCPG_MCACHE_LINE        64u                  /* cache line */

/* A free block; the head of a magazine in the depot also says how many
 * blocks its chain holds. */
typedef struct ucpg_mcache_block {
    struct ucpg_mcache_block *next;       /* the next block of this chain */
    struct ucpg_mcache_block *next_mag;   /* depot: the next magazine */
    size_t                    count;      /* depot: blocks in this chain */
} ucpg_mcache_block_t;

typedef struct {
    ucpg_mcache_block_t *head;
    unsigned             count;
} ucpg_mcache_stack_t;

typedef struct ucpg_mcache_thread {
    int                        registered;   /* listed; the exit destructor will run */
    struct ucpg_mcache_thread *next;         /* ucpg_mcache_threads */
    ucpg_mcache_stack_t        cls[UCPG_MCACHE_CLASSES];
} ucpg_mcache_thread_t;

typedef struct {
    pthread_mutex_t      lock;
    ucpg_mcache_block_t *mags;
    size_t               blocks;
} ucpg_mcache_depot_t;

static __thread ucpg_mcache_thread_t ucpg_mcache_self;
static ucpg_mcache_depot_t           ucpg_mcache_depot[UCPG_MCACHE_CLASSES] = {
    [0 ... UCPG_MCACHE_CLASSES - 1] = {PTHREAD_MUTEX_INITIALIZER, NULL, 0}
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

/* Blocks per magazine: about UCPG_MCACHE_MAG_BYTES, within the bounds. */
static unsigned ucpg_mcache_mag_blocks(int c)
{
    size_t n = UCPG_MCACHE_MAG_BYTES / ucpg_mcache_class_size(c);

    if (n < UCPG_MCACHE_MAG_MIN) {
        return UCPG_MCACHE_MAG_MIN;
    }
    return (n > UCPG_MCACHE_MAG_MAX) ? UCPG_MCACHE_MAG_MAX : (unsigned)n;
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

static void ucpg_mcache_free_chain(ucpg_mcache_block_t *b)
{
    ucpg_mcache_block_t *next;

    for (; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
}

/* Keeps the chain at head (count blocks) as a magazine, or frees it when
 * the class already keeps enough. */
static void ucpg_mcache_depot_put(int c, ucpg_mcache_block_t *head, size_t count)
{
    ucpg_mcache_depot_t *d = &ucpg_mcache_depot[c];
    int kept               = 0;

    head->count = count;
    pthread_mutex_lock(&d->lock);
    if ((d->blocks + count) * ucpg_mcache_class_size(c) <= UCPG_MCACHE_DEPOT_BYTES) {
        head->next_mag = d->mags;
        d->mags        = head;
        d->blocks     += count;
        kept           = 1;
    }
    pthread_mutex_unlock(&d->lock);
    if (!kept) {
        ucpg_mcache_free_chain(head);
    }
}

/* Takes one magazine into the thread's empty stack s; 0 if the depot has none. */
static int ucpg_mcache_depot_get(int c, ucpg_mcache_stack_t *s)
{
    ucpg_mcache_depot_t *d = &ucpg_mcache_depot[c];
    ucpg_mcache_block_t *mag;

    pthread_mutex_lock(&d->lock);
    mag = d->mags;
    if (mag != NULL) {
        d->mags = mag->next_mag;
        d->blocks -= mag->count;
    }
    pthread_mutex_unlock(&d->lock);
    if (mag == NULL) {
        return 0;
    }
    s->head  = mag;
    s->count = (unsigned)mag->count;
    return 1;
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

/* --- a thread's cache ------------------------------------------------------------- */

/* Hands the first n blocks of s to the depot as one magazine. */
static void ucpg_mcache_spill(int c, ucpg_mcache_stack_t *s, unsigned n)
{
    ucpg_mcache_block_t *head = s->head, *last = head;
    unsigned i;

    for (i = 1; i < n; ++i) {
        last = last->next;
    }
    s->head    = last->next;
    s->count  -= n;
    last->next = NULL;
    ucpg_mcache_depot_put(c, head, n);
}

/* Gives all of a thread's blocks to the depot. */
static void ucpg_mcache_thread_flush(ucpg_mcache_thread_t *t)
{
    unsigned c;

    for (c = 0; c < UCPG_MCACHE_CLASSES; ++c) {
        while (t->cls[c].count > 0) {
            unsigned n = ucpg_mcache_mag_blocks((int)c);
            ucpg_mcache_spill((int)c, &t->cls[c], (t->cls[c].count < n) ? t->cls[c].count : n);
        }
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

void *ucpg_mcache_alloc(size_t size)
{
    int c = ucpg_mcache_class(size);
    ucpg_mcache_stack_t *s;
    ucpg_mcache_block_t *b;

    if (c < 0) {
        return malloc(size);
    }
    if (!ucpg_mcache_enabled()) {
        return malloc(ucpg_mcache_class_size(c));     /* the same usable size */
    }
    s = &ucpg_mcache_thread()->cls[c];
    if ((s->count == 0) && !ucpg_mcache_depot_get(c, s)) {
        return ucpg_mcache_heap_alloc(c);
    }
    b       = s->head;
    s->head = b->next;
    s->count--;
    return b;
}

void ucpg_mcache_free(void *p, size_t size)
{
    int c = ucpg_mcache_class(size);
    ucpg_mcache_stack_t *s;
    ucpg_mcache_block_t *b = p;
    unsigned mag;

    if (p == NULL) {
        return;
    }
    if (!ucpg_mcache_enabled() || (c < 0)) {
        free(p);
        return;
    }
    s       = &ucpg_mcache_thread()->cls[c];
    b->next = s->head;
    s->head = b;
    mag     = ucpg_mcache_mag_blocks(c);
    if (++s->count >= 2 * mag) {
        ucpg_mcache_spill(c, s, mag);
    }
}

void ucpg_mcache_trim(void)
{
    ucpg_mcache_block_t *mags, *next;
    unsigned c;

    if (!ucpg_mcache_enabled()) {
        return;
    }
    ucpg_mcache_thread_flush(ucpg_mcache_thread());
    for (c = 0; c < UCPG_MCACHE_CLASSES; ++c) {
        ucpg_mcache_depot_t *d = &ucpg_mcache_depot[c];

        pthread_mutex_lock(&d->lock);
        mags      = d->mags;
        d->mags   = NULL;
        d->blocks = 0;
        pthread_mutex_unlock(&d->lock);
        for (; mags != NULL; mags = next) {
            next = mags->next_mag;
            ucpg_mcache_free_chain(mags);
        }
    }
}
