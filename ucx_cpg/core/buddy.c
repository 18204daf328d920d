/*
 * buddy.c - the binary buddy allocator (see buddy.h).
 *
 * Blocks are named by the index of their first smallest block. The buddy
 * of block i at order k (in units of smallest blocks, 2^(k - min_order)
 * of them) is i XOR that count; two free buddies of one order merge into
 * a block of the next order, starting at the lower index.
 */
#include "buddy.h"

#include <stdlib.h>

#define UCPG_BUDDY_MAX_BLOCKS (1u << 24)

/* Smallest blocks in a block of order k. */
static uint32_t ucpg_buddy_span(const ucpg_buddy_t *b, unsigned k)
{
    return (uint32_t)1 << (k - b->min_order);
}

static void ucpg_buddy_push(ucpg_buddy_t *b, int32_t i, unsigned k)
{
    ucpg_buddy_node_t *n = &b->nodes[i];

    n->order = (uint8_t)k;
    n->state = UCPG_BUDDY_FREE;
    n->prev  = -1;
    n->next  = b->head[k];
    if (n->next >= 0) {
        b->nodes[n->next].prev = i;
    }
    b->head[k] = i;
}

static void ucpg_buddy_unlink(ucpg_buddy_t *b, int32_t i)
{
    ucpg_buddy_node_t *n = &b->nodes[i];

    if (n->prev >= 0) {
        b->nodes[n->prev].next = n->next;
    } else {
        b->head[n->order] = n->next;
    }
    if (n->next >= 0) {
        b->nodes[n->next].prev = n->prev;
    }
    n->state = UCPG_BUDDY_INSIDE;
}

ucpg_status_t ucpg_buddy_init(ucpg_buddy_t *b, unsigned min_order, unsigned max_order)
{
    unsigned k;

    if ((min_order > max_order) || (max_order >= UCPG_BUDDY_ORDERS) ||
        ((max_order - min_order) > 24)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    b->min_order = min_order;
    b->max_order = max_order;
    b->nblocks   = (uint32_t)1 << (max_order - min_order);
    b->used      = 0;
    b->nodes     = calloc(b->nblocks, sizeof(*b->nodes));
    if (b->nodes == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (k = 0; k < UCPG_BUDDY_ORDERS; ++k) {
        b->head[k] = -1;
    }
    ucpg_buddy_push(b, 0, max_order);
    return UCPG_OK;
}

void ucpg_buddy_cleanup(ucpg_buddy_t *b)
{
    free(b->nodes);
    b->nodes = NULL;
}

/* The order of the smallest block holding len bytes (max_order + 1 if none). */
static unsigned ucpg_buddy_order_of(const ucpg_buddy_t *b, size_t len)
{
    unsigned k = b->min_order;

    while ((k <= b->max_order) && (((uint64_t)1 << k) < len)) {
        ++k;
    }
    return k;
}

/*
 * The free block of order want or more at the lowest offset, or -1. Lowest
 * first keeps the blocks in use packed at the start of the range: a shared
 * segment's page is faulted in once per process that touches it, so a
 * stream of messages reusing the same few blocks stops faulting, where
 * taking any free block walked over the whole segment (a sixth of a
 * receiver's time went to page faults in a 1 MiB flood). Free lists are
 * short while blocks merge, so the scan is cheap next to a 32 KiB copy.
 */
static int32_t ucpg_buddy_lowest_free(const ucpg_buddy_t *b, unsigned want)
{
    int32_t best = -1, i;
    unsigned k;

    for (k = want; k <= b->max_order; ++k) {
        for (i = b->head[k]; i >= 0; i = b->nodes[i].next) {
            if ((best < 0) || (i < best)) {
                best = i;
            }
        }
    }
    return best;
}

uint64_t ucpg_buddy_alloc(ucpg_buddy_t *b, size_t len)
{
    unsigned want = ucpg_buddy_order_of(b, len), k;
    int32_t i;

    if (want > b->max_order) {
        return UCPG_BUDDY_NONE;
    }
    i = ucpg_buddy_lowest_free(b, want);
    if (i < 0) {
        return UCPG_BUDDY_NONE;
    }
    k = b->nodes[i].order;
    ucpg_buddy_unlink(b, i);
    while (k > want) {           /* split: keep the lower half, free the upper */
        --k;
        ucpg_buddy_push(b, i + (int32_t)ucpg_buddy_span(b, k), k);
    }
    b->nodes[i].order = (uint8_t)want;
    b->nodes[i].state = UCPG_BUDDY_USED;
    b->used          += (uint64_t)1 << want;
    return (uint64_t)i << b->min_order;
}

/* The index of the allocated block at offset, or -1. */
static int32_t ucpg_buddy_used_at(const ucpg_buddy_t *b, uint64_t offset)
{
    uint64_t i = offset >> b->min_order;

    if (((offset & (((uint64_t)1 << b->min_order) - 1)) != 0) || (i >= b->nblocks) ||
        (b->nodes[i].state != UCPG_BUDDY_USED)) {
        return -1;
    }
    return (int32_t)i;
}

size_t ucpg_buddy_block_size(const ucpg_buddy_t *b, uint64_t offset)
{
    int32_t i = ucpg_buddy_used_at(b, offset);

    return (i < 0) ? 0 : (size_t)1 << b->nodes[i].order;
}

ucpg_status_t ucpg_buddy_free(ucpg_buddy_t *b, uint64_t offset)
{
    int32_t i = ucpg_buddy_used_at(b, offset), buddy;
    unsigned k;

    if (i < 0) {
        return UCPG_ERR_INVALID_PARAM;
    }
    k                 = b->nodes[i].order;
    b->used          -= (uint64_t)1 << k;
    b->nodes[i].state = UCPG_BUDDY_INSIDE;
    while (k < b->max_order) {
        buddy = i ^ (int32_t)ucpg_buddy_span(b, k);
        if ((b->nodes[buddy].state != UCPG_BUDDY_FREE) || (b->nodes[buddy].order != k)) {
            break;
        }
        ucpg_buddy_unlink(b, buddy);
        i = (buddy < i) ? buddy : i;
        ++k;
    }
    ucpg_buddy_push(b, i, k);
    return UCPG_OK;
}
