/*
 * shm_pool.c - the shared-memory pool of large message bodies and the views
 * of peers' pools (see shm_pool.h for the design).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shm_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buddy.h"
#include "log.h"
#include "proc.h"
#include "shm_segment.h"

#define UCPG_SHM_POOL_MIN_ORDER 16u     /* 64 KiB: a 32 KiB body and its header */

struct ucpg_shm_pool {
    pthread_mutex_t lock;
    int             refs;      /* the creator's, and one per buffer out */
    int32_t         shmid;
    uint8_t        *base;
    size_t          size;      /* of the segment: the cookie page and the blocks */
    uint64_t        cookie;
    uint64_t        gen_salt;
    uint64_t        gen_count;
    ucpg_buddy_t    buddy;     /* over the blocks, after the cookie page */
    uint8_t        *header_at; /* [smallest block]: a buffer header was written there */
};

/* The largest k with 2^k <= size, or 0 if size < 2^min. */
static unsigned ucpg_shm_pool_order(size_t size)
{
    unsigned k = UCPG_SHM_POOL_MIN_ORDER;

    if (size < ((size_t)1 << k)) {
        return 0;
    }
    while ((k + 1 < UCPG_BUDDY_ORDERS) && (((size_t)1 << (k + 1)) <= size) &&
           ((k + 1 - UCPG_SHM_POOL_MIN_ORDER) <= 24)) {
        ++k;
    }
    return k;
}

/* Creates and attaches the segment (freed with the last process detached). */
static ucpg_status_t ucpg_shm_pool_segment(ucpg_shm_pool_t *pool)
{
    ucpg_shm_offer_t offer;
    void *base;
    ucpg_status_t status;

    status = ucpg_shm_segment_create(pool->size, "shared-memory pool: large messages go "
                                     "through UCX", &offer, &base);
    if (status != UCPG_OK) {
        return status;
    }
    pool->base   = base;
    pool->shmid  = offer.shmid;
    pool->cookie = offer.cookie;
    return UCPG_OK;
}

ucpg_status_t ucpg_shm_pool_create(size_t size, ucpg_shm_pool_t **pool_p)
{
    unsigned order = ucpg_shm_pool_order(size);
    ucpg_shm_pool_t *pool;
    ucpg_status_t status;

    if (order == 0) {
        return UCPG_ERR_INVALID_PARAM;
    }
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pool->refs      = 1;
    pool->size      = UCPG_SHM_POOL_HDR + ((size_t)1 << order);
    pool->gen_salt  = ucpg_proc_random64();
    status = ucpg_buddy_init(&pool->buddy, UCPG_SHM_POOL_MIN_ORDER, order);
    if (status == UCPG_OK) {
        pool->header_at = calloc(pool->buddy.nblocks, 1);
        status          = (pool->header_at == NULL) ? UCPG_ERR_NO_MEMORY : UCPG_OK;
    }
    if (status == UCPG_OK) {
        status = ucpg_shm_pool_segment(pool);
    }
    if (status != UCPG_OK) {
        free(pool->header_at);
        ucpg_buddy_cleanup(&pool->buddy);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return status;
    }
    *pool_p = pool;
    return UCPG_OK;
}

static void ucpg_shm_pool_unref(ucpg_shm_pool_t *pool)
{
    int last;

    pthread_mutex_lock(&pool->lock);
    last = (--pool->refs == 0);
    pthread_mutex_unlock(&pool->lock);
    if (last) {
        ucpg_shm_segment_detach(pool->base);
        free(pool->header_at);
        ucpg_buddy_cleanup(&pool->buddy);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
    }
}

void ucpg_shm_pool_release(ucpg_shm_pool_t *pool)
{
    if (pool != NULL) {
        ucpg_shm_pool_unref(pool);
    }
}

void ucpg_shm_pool_offer(const ucpg_shm_pool_t *pool, ucpg_shm_offer_t *offer)
{
    offer->shmid  = pool->shmid;
    offer->size   = pool->size;
    offer->cookie = pool->cookie;
}

/*
 * buf->release of pool buffers. The body stays as it is until the block is
 * handed out again, when its generation changes first (a late reader of the
 * old body notices then). Not before: a process that exits releases the
 * bodies its peers have not confirmed yet, and they must still read them
 * (as they would have from UCX's FIFO).
 */
static void ucpg_shm_pool_buf_release(ucpg_buf_t *buf)
{
    ucpg_shm_pool_t *pool = buf->owner;
    uint64_t offset       = ucpg_shm_pool_offset(pool, buf);

    pthread_mutex_lock(&pool->lock);
    ucpg_buddy_free(&pool->buddy, offset - UCPG_SHM_POOL_HDR);
    pthread_mutex_unlock(&pool->lock);
    ucpg_shm_pool_unref(pool);
}

/*
 * A block merged from smaller ones may hold the headers of buffers that
 * lived there, generation included, and the new body overwrites them in
 * whatever order its writer chooses: a late reader of an old buffer could
 * then find its generation intact over a body that is already half new.
 * So the old generations inside the block become 0 (never valid) before
 * the block is handed out. Only places where a header was written are
 * touched: the pages of a block that nothing wrote stay uncommitted.
 * Called with the lock held.
 */
static void ucpg_shm_pool_void_headers(ucpg_shm_pool_t *pool, uint64_t block, size_t size)
{
    uint32_t first = (uint32_t)(block >> UCPG_SHM_POOL_MIN_ORDER);
    uint32_t n     = (uint32_t)(size >> UCPG_SHM_POOL_MIN_ORDER), i;
    ucpg_buf_t *old;

    for (i = first + 1; i < first + n; ++i) {
        if (pool->header_at[i]) {
            old = (ucpg_buf_t*)(pool->base + UCPG_SHM_POOL_HDR +
                                ((uint64_t)i << UCPG_SHM_POOL_MIN_ORDER));
            __atomic_store_n(&old->gen, 0, __ATOMIC_RELEASE);
            pool->header_at[i] = 0;
        }
    }
    pool->header_at[first] = 1;
}

ucpg_buf_t *ucpg_shm_pool_buf_new(ucpg_shm_pool_t *pool, size_t len)
{
    uint64_t block = UCPG_BUDDY_NONE, gen = 0;
    size_t block_size = 0;
    ucpg_buf_t *buf;

    if (len > pool->size) {
        return NULL;
    }
    pthread_mutex_lock(&pool->lock);
    block = ucpg_buddy_alloc(&pool->buddy, sizeof(ucpg_buf_t) + len);
    if (block != UCPG_BUDDY_NONE) {
        ++pool->refs;
        /* A multiplier that is odd makes every count give another value. */
        gen        = pool->gen_salt + (++pool->gen_count * 0x9e3779b97f4a7c15ull);
        block_size = ucpg_buddy_block_size(&pool->buddy, block);
        ucpg_shm_pool_void_headers(pool, block, block_size);
    }
    pthread_mutex_unlock(&pool->lock);
    if (block == UCPG_BUDDY_NONE) {
        return NULL;
    }
    buf = (ucpg_buf_t*)(pool->base + UCPG_SHM_POOL_HDR + block);
    ucpg_buf_init(buf, UCPG_BUF_BODY(buf), len, block_size, ucpg_shm_pool_buf_release, pool);
    /* Published before the body is written: see ucpg_shm_view_read. (The
     * generation 0 just stored is no value a reader expects either.) */
    __atomic_store_n(&buf->gen, (gen != 0) ? gen : 1, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    return buf;
}

uint64_t ucpg_shm_pool_offset(const ucpg_shm_pool_t *pool, const ucpg_buf_t *buf)
{
    const uint8_t *p = (const uint8_t*)buf;

    if ((pool == NULL) || (buf->owner != pool) || (p < pool->base + UCPG_SHM_POOL_HDR) ||
        (p >= pool->base + pool->size)) {
        return UINT64_MAX;
    }
    return (uint64_t)(p - pool->base);
}

size_t ucpg_shm_pool_used(ucpg_shm_pool_t *pool)
{
    size_t used;

    pthread_mutex_lock(&pool->lock);
    used = pool->buddy.used;
    pthread_mutex_unlock(&pool->lock);
    return used;
}

size_t ucpg_shm_pool_size(const ucpg_shm_pool_t *pool)
{
    return pool->size - UCPG_SHM_POOL_HDR;
}

/* --- views of peers' pools ------------------------------------------------------- */

ucpg_status_t ucpg_shm_view_attach(const ucpg_shm_offer_t *offer, ucpg_shm_view_t *view)
{
    void *base;

    if ((offer->size <= UCPG_SHM_POOL_HDR) ||
        (ucpg_shm_segment_attach(offer, 0, &base) != UCPG_OK)) {
        return UCPG_ERR_NOT_FOUND;
    }
    view->base  = base;
    view->size  = (size_t)offer->size;
    view->shmid = offer->shmid;
    return UCPG_OK;
}

void ucpg_shm_view_detach(ucpg_shm_view_t *view)
{
    ucpg_shm_segment_detach((void*)view->base);
    view->base = NULL;
}

/* The generation of the buffer at offset (its owner writes it). */
static uint64_t ucpg_shm_view_gen(const ucpg_shm_view_t *view, uint64_t offset)
{
    const ucpg_buf_t *buf = (const ucpg_buf_t*)(view->base + offset);

    return __atomic_load_n(&buf->gen, __ATOMIC_ACQUIRE);
}

ucpg_status_t ucpg_shm_view_read(const ucpg_shm_view_t *view, uint64_t offset, uint64_t gen,
                                 size_t len, void *dst)
{
    const size_t hdr = sizeof(ucpg_buf_t);     /* UCPG_BUF_BODY */

    if ((view->base == NULL) || (offset < UCPG_SHM_POOL_HDR) || (offset % 8 != 0) ||
        (offset > view->size - hdr) || (len > view->size - hdr - offset)) {
        return UCPG_ERR_MESSAGE;
    }
    if ((gen == 0) || (ucpg_shm_view_gen(view, offset) != gen)) {
        return UCPG_ERR_NOT_FOUND;
    }
    ucpg_buf_copy(dst, view->base + offset + hdr, len);
    /* Like a seqlock's reader: the body we copied is that generation's only
     * if the owner had not started to reuse the block when we finished. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return (ucpg_shm_view_gen(view, offset) == gen) ? UCPG_OK : UCPG_ERR_NOT_FOUND;
}
