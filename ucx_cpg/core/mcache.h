/*
 * mcache.h - a cache of small blocks for objects made by one thread and
 * freed by another.
 *
 * A CPG message is born in the sending thread (its body, its outbox entry,
 * its request) and dies in the progress thread or the dispatcher. glibc's
 * malloc keeps at most 7 freed blocks per size in a thread's cache and sends
 * the rest back to the arena they came from, under that arena's lock, so
 * such a stream pays the arena's slow paths on both sides. Measured on the
 * 2-vCPU VM, one sender, 64 B: with jemalloc preloaded instead of glibc's
 * malloc the rate rose by 35-50% between unbound members (450k -> 560-580k
 * msgs/s at 2 members, 240k -> 350k at 8) and by 14-25% between bound ones.
 *
 * This cache works like jemalloc's and Solaris' magazines: every thread
 * keeps up to two magazines (chains of blocks) per power-of-two size class,
 * frees and allocations touch only those, and full or empty magazines are
 * traded with a process-wide depot under one lock per magazine (dozens of
 * blocks), not per block.
 *
 * Sizes above UCPG_MCACHE_MAX go to malloc() and free() directly. Built
 * with AddressSanitizer, everything does, so that a use after free of a
 * cached block is still reported.
 */
#ifndef UCPG_CORE_MCACHE_H
#define UCPG_CORE_MCACHE_H

#include <stddef.h>

#define UCPG_MCACHE_MIN   32u             /* smallest class */
#define UCPG_MCACHE_MAX   (32u * 1024u)   /* largest cached size */
#define UCPG_MCACHE_DEPOT_BYTES (2u * 1024u * 1024u)  /* kept per class between threads */

/* Returns a block of at least size bytes (ucpg_mcache_size(size) usable),
 * or NULL when out of memory. Not zeroed. */
void  *ucpg_mcache_alloc(size_t size);

/* Gives back a block of ucpg_mcache_alloc(size), from any thread; size is
 * the one asked for or its ucpg_mcache_size(). NULL is ignored. */
void   ucpg_mcache_free(void *p, size_t size);

/* The bytes ucpg_mcache_alloc(size) provides: size rounded up to its class
 * (size itself when it is not cached). */
size_t ucpg_mcache_size(size_t size);

/* Frees the depot's blocks and the calling thread's own (domain teardown);
 * other threads' caches go to the depot when those threads exit. */
void   ucpg_mcache_trim(void);

/* Bytes held by the depot (tests). */
size_t ucpg_mcache_depot_bytes(void);

/* 0 when blocks go straight to malloc (AddressSanitizer builds). */
int    ucpg_mcache_enabled(void);

#endif
