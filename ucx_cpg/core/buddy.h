/*
 * buddy.h - a binary buddy allocator over an abstract range of offsets.
 *
 * It hands out blocks of [0, size) whose sizes are powers of two between
 * 2^min_order and size, and merges a freed block with its free buddy, so a
 * range shared by messages of changing sizes does not fragment for good.
 * It knows nothing of the memory itself: its bookkeeping lives in a private
 * array, one entry per smallest block, never inside the range (the range is
 * a shared-memory segment that other processes read).
 *
 * Not thread-safe: the owner serializes calls (shm_pool.c holds a mutex).
 */
#ifndef UCPG_CORE_BUDDY_H
#define UCPG_CORE_BUDDY_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define UCPG_BUDDY_NONE  UINT64_MAX    /* "no block" from ucpg_buddy_alloc */
#define UCPG_BUDDY_ORDERS 48u          /* blocks up to 2^47 bytes */

enum {
    UCPG_BUDDY_INSIDE = 0,   /* no block starts here (inside a larger one) */
    UCPG_BUDDY_FREE   = 1,   /* a free block starts here (on a free list) */
    UCPG_BUDDY_USED   = 2    /* an allocated block starts here */
};

typedef struct ucpg_buddy_node {
    int32_t prev, next;   /* free list links (block indexes), -1 = none */
    uint8_t order;        /* of the block starting here, if one does */
    uint8_t state;        /* UCPG_BUDDY_INSIDE, _FREE or _USED */
} ucpg_buddy_node_t;

typedef struct ucpg_buddy {
    unsigned           min_order;              /* smallest block: 2^min_order */
    unsigned           max_order;              /* the whole range: 2^max_order */
    uint32_t           nblocks;                /* smallest blocks in the range */
    int32_t            head[UCPG_BUDDY_ORDERS]; /* free list per order, -1 = empty */
    ucpg_buddy_node_t *nodes;                  /* [nblocks] */
    uint64_t           used;                   /* bytes handed out */
} ucpg_buddy_t;

/*
 * Covers [0, 2^max_order) in blocks of at least 2^min_order bytes.
 * UCPG_ERR_INVALID_PARAM unless min_order <= max_order < UCPG_BUDDY_ORDERS
 * and the range has at most 2^24 smallest blocks; UCPG_ERR_NO_MEMORY.
 */
ucpg_status_t ucpg_buddy_init(ucpg_buddy_t *b, unsigned min_order, unsigned max_order);
void          ucpg_buddy_cleanup(ucpg_buddy_t *b);

/* Offset of a free block of at least len bytes, or UCPG_BUDDY_NONE. */
uint64_t      ucpg_buddy_alloc(ucpg_buddy_t *b, size_t len);
/* Bytes of the block at offset (allocated by ucpg_buddy_alloc), 0 if none. */
size_t        ucpg_buddy_block_size(const ucpg_buddy_t *b, uint64_t offset);
/* Returns the block at offset. UCPG_ERR_INVALID_PARAM (and nothing changes)
 * if no allocated block starts there. */
ucpg_status_t ucpg_buddy_free(ucpg_buddy_t *b, uint64_t offset);

#endif
