/*
 * buf.c - reference-counted message buffers and the cache of large ones
 * (see buf.h for why the cache exists).
 *
 * The cache is one free list per power-of-two size class, under one mutex:
 * buffers are taken by the progress thread (receive) or a sender and given
 * back by whichever thread drops the last reference, and a lock taken once
 * per large message costs nothing next to the message itself.
 */
#include "buf.h"
#include "mcache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#define UCPG_BUF_HAVE_STREAM 1
#endif

#define UCPG_BUF_CLASS_MIN  16u                      /* 2^16 = UCPG_BUF_CACHE_MIN */
#define UCPG_BUF_CLASSES    11u                      /* 64 KiB .. 64 MiB */

typedef struct ucpg_buf_free {
    struct ucpg_buf_free *next;
} ucpg_buf_free_t;

static pthread_mutex_t  ucpg_buf_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static ucpg_buf_free_t *ucpg_buf_cache[UCPG_BUF_CLASSES];
static size_t           ucpg_buf_cached_bytes;

/* Size class of an allocation of total bytes, or -1 if it is not cached
 * here (mcache's sizes, and the huge ones). */
static int ucpg_buf_class(size_t total)
{
    unsigned c;

    if ((total <= UCPG_MCACHE_MAX) || (total > UCPG_BUF_CACHE_MAX)) {
        return -1;
    }
    for (c = 0; ((size_t)1 << (UCPG_BUF_CLASS_MIN + c)) < total; ++c) {
    }
    return (int)c;
}

static size_t ucpg_buf_class_size(int c)
{
    return (size_t)1 << (UCPG_BUF_CLASS_MIN + (unsigned)c);
}

static ucpg_buf_t *ucpg_buf_cache_get(int c)
{
    ucpg_buf_free_t *f;

    pthread_mutex_lock(&ucpg_buf_cache_lock);
    f = ucpg_buf_cache[c];
    if (f != NULL) {
        ucpg_buf_cache[c]      = f->next;
        ucpg_buf_cached_bytes -= ucpg_buf_class_size(c);
    }
    pthread_mutex_unlock(&ucpg_buf_cache_lock);
    return (ucpg_buf_t*)f;
}

/* Keeps buf for reuse if the cache has room; returns 0 if it did not. */
static int ucpg_buf_cache_keep(ucpg_buf_t *buf, int c)
{
    ucpg_buf_free_t *f = (ucpg_buf_free_t*)buf;
    int kept = 0;

    pthread_mutex_lock(&ucpg_buf_cache_lock);
    if (ucpg_buf_cached_bytes + ucpg_buf_class_size(c) <= UCPG_BUF_CACHE_BYTES) {
        f->next                = ucpg_buf_cache[c];
        ucpg_buf_cache[c]      = f;
        ucpg_buf_cached_bytes += ucpg_buf_class_size(c);
        kept                   = 1;
    }
    pthread_mutex_unlock(&ucpg_buf_cache_lock);
    return kept;
}

void ucpg_buf_init(ucpg_buf_t *buf, char *data, size_t len, size_t alloc_size,
                          void (*release)(ucpg_buf_t *buf), void *owner)
{
    buf->refs       = 1;
    buf->user       = 0;
    buf->len        = len;
    buf->cap        = len;
    buf->alloc_size = alloc_size;
    buf->release    = release;
    buf->owner      = owner;
    buf->gen        = 0;
    buf->data       = data;
}

ucpg_buf_t *ucpg_buf_new(size_t len)
{
    size_t total = sizeof(ucpg_buf_t) + len;
    int c;
    ucpg_buf_t *buf;

    if (len > SIZE_MAX - sizeof(ucpg_buf_t)) {
        return NULL;
    }
    c = ucpg_buf_class(total);
    if (total <= UCPG_MCACHE_MAX) {
        total = ucpg_mcache_size(total);     /* one of mcache's classes */
        buf   = ucpg_mcache_alloc(total);
    } else if (c >= 0) {
        total = ucpg_buf_class_size(c);
        buf   = ucpg_buf_cache_get(c);
        if (buf == NULL) {
            buf = malloc(total);
        }
    } else {
        buf = malloc(total);
    }
    if (buf != NULL) {
        ucpg_buf_init(buf, UCPG_BUF_BODY(buf), len, total, NULL, NULL);
    }
    return buf;
}

static void ucpg_buf_exact_release(ucpg_buf_t *buf)
{
    free(buf);
}

ucpg_buf_t *ucpg_buf_new_body(size_t len)
{
    ucpg_buf_t *buf;

    if ((len <= UCPG_BUF_EXACT_MIN) || (len > UCPG_MCACHE_MAX - sizeof(ucpg_buf_t))) {
        return ucpg_buf_new(len);
    }
    buf = malloc(sizeof(ucpg_buf_t) + len);
    if (buf != NULL) {
        ucpg_buf_init(buf, UCPG_BUF_BODY(buf), len, sizeof(ucpg_buf_t) + len,
                      ucpg_buf_exact_release, NULL);
    }
    return buf;
}

ucpg_buf_t *ucpg_buf_ref(ucpg_buf_t *buf)
{
    if (buf != NULL) {
        __atomic_add_fetch(&buf->refs, 1, __ATOMIC_RELAXED);
    }
    return buf;
}

void ucpg_buf_put(ucpg_buf_t *buf)
{
    int c;

    if ((buf == NULL) || (__atomic_sub_fetch(&buf->refs, 1, __ATOMIC_ACQ_REL) != 0)) {
        return;
    }
    if (buf->release != NULL) {
        buf->release(buf);
        return;
    }
    if (buf->alloc_size <= UCPG_MCACHE_MAX) {
        ucpg_mcache_free(buf, buf->alloc_size);
        return;
    }
    c = ucpg_buf_class(buf->alloc_size);
    if ((c < 0) || (buf->alloc_size != ucpg_buf_class_size(c)) || !ucpg_buf_cache_keep(buf, c)) {
        free(buf);
    }
}

ucpg_buf_t *ucpg_buf_of(void *data)
{
    return (ucpg_buf_t*)data - 1;
}

/* --- slices of a block --------------------------------------------------------- */

/* A block: [ucpg_buf_t block][ucpg_buf_t slices[n]][the copy]; block->cap
 * holds n, block->data the copy. */
static ucpg_buf_t *ucpg_buf_block_slices(ucpg_buf_t *block)
{
    return (ucpg_buf_t*)UCPG_BUF_BODY(block);
}

static void ucpg_buf_slice_release(ucpg_buf_t *slice)
{
    ucpg_buf_put(slice->owner);
}

void ucpg_buf_copy(void *dst, const void *src, size_t len)
{
    char *d = dst;
    const char *s = src;

    while (len > UCPG_BUF_COPY_PIECE) {
        memcpy(d, s, UCPG_BUF_COPY_PIECE);
        d   += UCPG_BUF_COPY_PIECE;
        s   += UCPG_BUF_COPY_PIECE;
        len -= UCPG_BUF_COPY_PIECE;
    }
    memcpy(d, s, len);
}

#ifdef UCPG_BUF_HAVE_STREAM
/* Unaligned loads, non-temporal stores of whole 64-byte lines (len is at
 * least UCPG_BUF_STREAM_MIN, so the head fits). Such stores may pass other
 * stores, both ways: the first fence keeps them behind what was written
 * before (a pool block's new generation, which a late reader of the old
 * body checks), the last one ahead of whatever tells a reader that the
 * body is there. */
static void ucpg_buf_copy_stream(char *d, const char *s, size_t len)
{
    size_t head = (64u - ((uintptr_t)d & 63u)) & 63u;

    _mm_sfence();
    memcpy(d, s, head);
    d   += head;
    s   += head;
    len -= head;
    for (; len >= 64; d += 64, s += 64, len -= 64) {
        __m128i l0 = _mm_loadu_si128((const __m128i*)s);
        __m128i l1 = _mm_loadu_si128((const __m128i*)(s + 16));
        __m128i l2 = _mm_loadu_si128((const __m128i*)(s + 32));
        __m128i l3 = _mm_loadu_si128((const __m128i*)(s + 48));

        _mm_stream_si128((__m128i*)d, l0);
        _mm_stream_si128((__m128i*)(d + 16), l1);
        _mm_stream_si128((__m128i*)(d + 32), l2);
        _mm_stream_si128((__m128i*)(d + 48), l3);
    }
    _mm_sfence();
    memcpy(d, s, len);
}
#endif

void ucpg_buf_copy_shared(void *dst, const void *src, size_t len)
{
#ifdef UCPG_BUF_HAVE_STREAM
    if ((len >= UCPG_BUF_STREAM_MIN) && ((((uintptr_t)dst - (uintptr_t)src) & 63u) != 0)) {
        ucpg_buf_copy_stream(dst, src, len);
        return;
    }
#endif
    ucpg_buf_copy(dst, src, len);
}

ucpg_buf_t *ucpg_buf_block_new(const void *data, size_t len, unsigned n)
{
    size_t room = (size_t)n * sizeof(ucpg_buf_t);
    ucpg_buf_t *block;

    if (len > SIZE_MAX - sizeof(ucpg_buf_t) - room) {
        return NULL;
    }
    block = ucpg_buf_new(room + len);
    if (block != NULL) {
        block->data += room;
        block->len   = len;
        block->cap   = n;
        ucpg_buf_copy(block->data, data, len);
    }
    return block;
}

ucpg_buf_t *ucpg_buf_block_slice(ucpg_buf_t *block, unsigned i, size_t off, size_t slen)
{
    ucpg_buf_t *slice;

    if ((i >= block->cap) || (off > block->len) || (slen > block->len - off)) {
        return NULL;
    }
    slice = &ucpg_buf_block_slices(block)[i];
    ucpg_buf_init(slice, block->data + off, slen, 0, ucpg_buf_slice_release,
                  ucpg_buf_ref(block));
    return slice;
}

size_t ucpg_buf_cache_bytes(void)
{
    size_t bytes;

    pthread_mutex_lock(&ucpg_buf_cache_lock);
    bytes = ucpg_buf_cached_bytes;
    pthread_mutex_unlock(&ucpg_buf_cache_lock);
    return bytes;
}

void ucpg_buf_cache_trim(void)
{
    ucpg_buf_free_t *f;
    unsigned c;

    pthread_mutex_lock(&ucpg_buf_cache_lock);
    for (c = 0; c < UCPG_BUF_CLASSES; ++c) {
        while ((f = ucpg_buf_cache[c]) != NULL) {
            ucpg_buf_cache[c] = f->next;
            free(f);
        }
    }
    ucpg_buf_cached_bytes = 0;
    pthread_mutex_unlock(&ucpg_buf_cache_lock);
}
