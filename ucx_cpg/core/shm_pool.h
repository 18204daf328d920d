/*
 * shm_pool.h - large message bodies in shared memory, for peers on this host.
 *
 * Through UCX a large body on one host is copied three times: into UCX's
 * shared-memory FIFO, out of it into a reassembly buffer, and from there into
 * a buffer of ours (with peer-failure handling UCX has no zero-copy lane on
 * one host). A body written once into a System V segment that its readers
 * map instead costs one copy per reader: the reader copies it out, told
 * where by a small message (am_shm.c).
 *
 * The pool: one segment per process (shm_segment.h: freed with the last
 * process detached, attached by peers given its id, size and cookie).
 * Buffers are ucpg_buf_t (buf.h) carved by a buddy allocator; the first
 * page holds a random cookie that proves to a reader that the segment id it
 * was given names this pool (ids of another IPC namespace or host differ).
 *
 * A view: a peer's pool attached here read-only. Readers check a buffer's
 * generation before and after they copy it, so a buffer that its owner
 * reused meanwhile (it gave up on this reader) is reported, never delivered.
 *
 * Thread-safe. A pool lives until its creator released it and every buffer
 * it handed out came back.
 */
#ifndef UCPG_CORE_SHM_POOL_H
#define UCPG_CORE_SHM_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "shm_segment.h"
#include "status.h"

#define UCPG_SHM_POOL_MIN_BODY  (32u * 1024u)   /* smaller bodies go through UCX */
#define UCPG_SHM_POOL_HDR       4096u           /* the cookie page */

typedef struct ucpg_shm_pool ucpg_shm_pool_t;

/* A peer's pool, attached here read-only. */
typedef struct ucpg_shm_view {
    const uint8_t *base;
    size_t         size;
    int32_t        shmid;
} ucpg_shm_view_t;

/* A pool of size bytes rounded down to a power of two. UCPG_ERR_INVALID_PARAM
 * below 64 KiB; UCPG_ERR_IO if the system refuses the segment (logged). */
ucpg_status_t ucpg_shm_pool_create(size_t size, ucpg_shm_pool_t **pool_p);
/* Drops the creator's reference. */
void          ucpg_shm_pool_release(ucpg_shm_pool_t *pool);
void          ucpg_shm_pool_offer(const ucpg_shm_pool_t *pool, ucpg_shm_offer_t *offer);

/* A buffer of len bytes in the pool with one reference, or NULL if the pool
 * has no room (use the heap). */
ucpg_buf_t   *ucpg_shm_pool_buf_new(ucpg_shm_pool_t *pool, size_t len);
/* The offset of a pool buffer in the segment, or UINT64_MAX if buf is not
 * one of pool's. */
uint64_t      ucpg_shm_pool_offset(const ucpg_shm_pool_t *pool, const ucpg_buf_t *buf);
/* Bytes of the pool handed out right now, and in all (the cookie page aside). */
size_t        ucpg_shm_pool_used(ucpg_shm_pool_t *pool);
size_t        ucpg_shm_pool_size(const ucpg_shm_pool_t *pool);

/* Attaches a peer's pool. UCPG_ERR_NOT_FOUND if the segment cannot be
 * attached or is not the one offered (cookie, size): it is not on this host
 * or not ours to read. */
ucpg_status_t ucpg_shm_view_attach(const ucpg_shm_offer_t *offer, ucpg_shm_view_t *view);
void          ucpg_shm_view_detach(ucpg_shm_view_t *view);
/*
 * Copies the len-byte body of the buffer at offset, of generation gen, into
 * dst. UCPG_ERR_MESSAGE if the range is not inside the view; UCPG_ERR_NOT_FOUND
 * if the buffer is not (or no longer, after the copy) of that generation.
 */
ucpg_status_t ucpg_shm_view_read(const ucpg_shm_view_t *view, uint64_t offset, uint64_t gen,
                                 size_t len, void *dst);

#endif
