/*
 * buf.h - reference-counted message buffers, with a cache for large ones.
 *
 * A message body is written once and then read by several owners at the
 * same time: the active message that sends it, the retained event kept for
 * recovery, the application's delivery queue. A count of references lets
 * all of them share one copy.
 *
 * Large buffers come back from a small cache instead of malloc(): glibc
 * serves a request above its mmap threshold with fresh pages from the
 * kernel and returns them at free(), so a stream of 1 MiB messages paid a
 * page fault and a page clear for every 4 KiB it received (a third of all
 * CPU in a CPG flood). Buffers of at least UCPG_BUF_CACHE_MIN bytes are
 * sized to a power of two and up to UCPG_BUF_CACHE_BYTES of them are kept
 * for reuse. Smaller ones (header included, up to UCPG_MCACHE_MAX) come
 * from core/mcache: they are made by one thread and freed by another, the
 * pattern glibc's malloc serves worst.
 *
 * Thread-safe: any thread may create, reference or release a buffer.
 */
#ifndef UCPG_CORE_BUF_H
#define UCPG_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#define UCPG_BUF_CACHE_MIN   (64u * 1024u)            /* smaller: core/mcache */
#define UCPG_BUF_CACHE_MAX   (64u * 1024u * 1024u)    /* larger: never cached */
#define UCPG_BUF_CACHE_BYTES (64u * 1024u * 1024u)    /* total kept for reuse */

typedef struct ucpg_buf {
    int    refs;          /* atomic */
    int    user;          /* a zero-copy buffer the application owns and reuses */
    size_t len;           /* bytes of the message */
    size_t cap;           /* bytes asked for at creation (len may shrink) */
    size_t alloc_size;    /* bytes allocated, header included (for the cache) */
    /* A buffer that lives elsewhere than the heap (a shared-memory pool,
     * shm_pool.c) is handed back by release() at its last reference. */
    void (*release)(struct ucpg_buf *buf);
    void  *owner;         /* release()'s: the pool, or a slice's block */
    uint64_t gen;         /* pool buffers: changes at every reuse (readers check) */
    char    *data;        /* the bytes: right after this header (UCPG_BUF_BODY),
                           * or in a block's copy for a slice */
} ucpg_buf_t;

/* Where the bytes of a buffer that is not a slice start. */
#define UCPG_BUF_BODY(buf) ((char*)((ucpg_buf_t*)(buf) + 1))

/* A buffer of len bytes (contents undefined) with one reference, or NULL. */
ucpg_buf_t *ucpg_buf_new(size_t len);
/*
 * The same, for a message body: one of more than UCPG_BUF_EXACT_MIN bytes
 * that would come from core/mcache takes exactly its size from malloc
 * instead. mcache's classes are powers of two, so a 4 KiB body with its
 * header took an 8 KiB block; measured on the 2-vCPU VM (2026-11-24), a
 * flood of 4 KiB messages between two bound processes ran 25% faster with
 * exact-size bodies (1 105-1 198 against 872-954 MB/s, 8000 B: 1 773-1 952
 * against 1 375-1 591), and an application that sends and dispatches in
 * one thread 40% faster (282-318 against 212-219 MiB/s, as fast as before
 * mcache existed). At such sizes the rate is low enough that malloc's
 * cross-thread cost does not show; small bodies stay in mcache.
 */
#define UCPG_BUF_EXACT_MIN 2048u
ucpg_buf_t *ucpg_buf_new_body(size_t len);
/* Sets up a buffer header placed by its owner (the heap, a block, a pool):
 * one reference, len bytes at data, not a user's buffer, generation 0. */
void        ucpg_buf_init(ucpg_buf_t *buf, char *data, size_t len, size_t alloc_size,
                          void (*release)(ucpg_buf_t *buf), void *owner);
ucpg_buf_t *ucpg_buf_ref(ucpg_buf_t *buf);
/* Drops a reference; the last one returns the buffer. NULL is ignored. */
void        ucpg_buf_put(ucpg_buf_t *buf);
/* The buffer whose bytes start at data (which must be such a pointer, and
 * not a slice's). */
ucpg_buf_t *ucpg_buf_of(void *data);

/*
 * Slices: one block holds a copy of len bytes and room for n buffers whose
 * data point into that copy, so the n messages packed in one received batch
 * cost one allocation and one copy instead of one each. A slice is a buffer
 * like any other (reference it, put it); the block's memory goes back when
 * its own reference and every slice's are gone. A slice keeps the whole
 * block alive: meant for bodies of a few KiB at most.
 *
 * ucpg_buf_block_new copies data (len bytes) and returns the block with one
 * reference (the caller's), or NULL. ucpg_buf_block_slice returns slice i
 * (i < n, each index at most once) for the bytes [off, off + slen) of the
 * copy, with one reference, or NULL if i or the range is out of bounds.
 */
ucpg_buf_t *ucpg_buf_block_new(const void *data, size_t len, unsigned n);
ucpg_buf_t *ucpg_buf_block_slice(ucpg_buf_t *block, unsigned i, size_t off, size_t slen);

/*
 * ucpg_buf_copy: memcpy for message bodies, in pieces of UCPG_BUF_COPY_PIECE.
 *
 * Why: glibc 2.36's memcpy on AMD copies with `rep movsb` up to a threshold
 * it derives from the L2 size, and with a vector loop from there on; on the
 * test VM (EPYC, threshold 1 MiB) the loop is the slow path. A 1 MiB body
 * written into shared memory by one CPU and copied out by the other moved
 * 8.3 GB/s copied in one call and 24 GB/s in 256 KiB pieces (64 KiB to
 * 512 KiB pieces alike); within one CPU 45 against 54 GB/s. A piece costs
 * one call, nothing measurable where the two paths are alike.
 */
#define UCPG_BUF_COPY_PIECE (256u * 1024u)

void        ucpg_buf_copy(void *dst, const void *src, size_t len);

/*
 * ucpg_buf_copy_shared: the same, for a destination that another CPU read
 * last and reads next (a block of the shared-memory pool). Where source and
 * destination are not aligned alike within a 64-byte line, it writes whole
 * lines with non-temporal stores (x86-64), fenced before it returns.
 *
 * Why: `rep movsb` writes aligned lines without reading them first, but a
 * source at another alignment (an application's buffer from malloc is
 * 16-aligned, a pool body 64-aligned) makes it read every destination line
 * for ownership, from the other CPU's cache. Measured on the test VM, a
 * writer and a reader in two processes on two CPUs, source 16 bytes off:
 * 1 MiB bodies 13.5 against 26.5 GB/s, 64 KiB 8 against 22; aligned alike,
 * `rep movsb` stays (24 against 22 GB/s with streaming).
 */
#define UCPG_BUF_STREAM_MIN (16u * 1024u)

void        ucpg_buf_copy_shared(void *dst, const void *src, size_t len);

/* Bytes held by the cache right now. */
size_t      ucpg_buf_cache_bytes(void);

/* Frees the cached buffers (at the end of the last domain user, so that
 * memory checkers see nothing left behind). */
void        ucpg_buf_cache_trim(void);

#endif
