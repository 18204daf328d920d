/*
 * outbox.c - the group messages queued under the engine lock, sent once it
 * is released (by whichever thread released it last, or by the progress
 * thread's hook: engine.c decides when).
 *
 * Order between them does not matter: receivers reorder by number. When
 * the queue is sent, the small messages (up to UCPG_GROUP_BATCH_ITEM_MAX
 * bytes) for the same peers travel as one BATCH active message, packed
 * once and sent to each; a message alone for its peers travels as it is,
 * without a copy (latency).
 *
 * Packing as messages are queued instead (a pack per destination, copied
 * into under the queue's lock, no entry per message) was measured and
 * dropped: 3% fewer messages a second at 8 members than this, though it
 * saved an allocation and a reference per message.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/am.h"
#include "core/log.h"
#include "core/mcache.h"
#include "core/proc.h"

/*
 * A queued message and every peer it goes to. The delivery tree sends the
 * same event to each of a member's children and a sequencer that is not
 * the tree's root sends it to every member: one entry for all of them
 * means one allocation, one reference, one encoding and one place in the
 * queue per message instead of one per copy, and the flush packs it once
 * for destinations that get the same messages (a member's children do).
 */
#define UCPG_GROUP_OUT_DSTS 8u

typedef struct ucpg_group_out {
    struct ucpg_group_out *next;
    ucpg_buf_t            *buf;
    unsigned               ndst;
    ucpg_peer_id_t         dst[UCPG_GROUP_OUT_DSTS];
    uint8_t                hdr[UCPG_GROUP_MSG_LEN];
    uint8_t                whole;    /* a BATCH passed on (tree.c): never packed */
} ucpg_group_out_t;

/* A lock-free stack, newest first: entries are pushed (in practice under
 * the engine lock) and a flush (any thread, without the engine lock)
 * takes them all at once and turns them back into queue order, so
 * neither side ever waits for the other; taking all at once leaves no
 * room for the ABA problem of popping one by one. */
static ucpg_group_out_t  *ucpg_group_out_head;     /* atomic */
static int                ucpg_group_out_kicked;  /* the progress thread was woken */
static int                ucpg_group_out_inflight; /* atomic: sends not yet completed */

#define UCPG_GROUP_BATCH_ITEM_MAX 4096u     /* larger messages travel alone */
/* Bytes packed into one message: its buffer, header included, fits the
 * 64 KiB class of the buffer cache (core/buf.c). */
#define UCPG_GROUP_BATCH_MAX      (65536u - sizeof(ucpg_buf_t))

/* Queues one entry for up to UCPG_GROUP_OUT_DSTS destinations. */
static void ucpg_group_out_queue(const ucpg_peer_id_t *dst, unsigned ndst,
                                 const ucpg_group_msg_t *msg, ucpg_buf_t *buf)
{
    ucpg_group_out_t *out = ucpg_mcache_alloc(sizeof(*out));  /* freed by another thread */

    if (out == NULL) {
        /* The protocol recovers a lost message only through a view change;
         * say so loudly rather than pretend. */
        ucpg_error("out of memory queueing a group message for %u peer(s), peer %u first",
                   ndst, dst[0]);
        return;
    }
    out->buf   = ucpg_buf_ref(buf);
    out->ndst  = ndst;
    out->whole = (msg->type == UCPG_GROUP_MSG_BATCH);
    memcpy(out->dst, dst, ndst * sizeof(*dst));
    ucpg_group_msg_encode(msg, out->hdr);
    out->next = __atomic_load_n(&ucpg_group_out_head, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&ucpg_group_out_head, &out->next, out, 1,
                                        __ATOMIC_SEQ_CST,   /* see progress_busy */
                                        __ATOMIC_RELAXED)) {
    }
}

void ucpg_group_send_many(const ucpg_peer_id_t *dst, size_t ndst, const ucpg_group_msg_t *msg,
                          ucpg_buf_t *buf)
{
    size_t n;

    for (; ndst > 0; dst += n, ndst -= n) {
        n = (ndst < UCPG_GROUP_OUT_DSTS) ? ndst : UCPG_GROUP_OUT_DSTS;
        ucpg_group_out_queue(dst, (unsigned)n, msg, buf);
    }
}

void ucpg_group_send(ucpg_peer_id_t dst, uint64_t dst_uuid, const ucpg_group_msg_t *msg,
                     ucpg_buf_t *buf)
{
    (void)dst_uuid;   /* receivers check group membership themselves */
    ucpg_group_out_queue(&dst, 1, msg, buf);
}

static void ucpg_group_out_free(ucpg_group_out_t *out)
{
    ucpg_buf_put(out->buf);
    ucpg_mcache_free(out, sizeof(*out));
}

static void ucpg_group_out_report(ucpg_status_t status, const char *peer)
{
    if ((status != UCPG_OK) && (status != UCPG_ERR_PEER_DOWN)) {
        ucpg_warn("group message to %s failed: %s", peer, ucpg_status_string(status));
    } else if (status != UCPG_OK) {
        ucpg_debug("group message to %s: %s", peer, ucpg_status_string(status));
    }
}

/* A send's completion: arg is the reference on its body it held. */
static void ucpg_group_out_sent(void *arg, ucpg_status_t status)
{
    ucpg_group_out_report(status, "a peer");
    __atomic_sub_fetch(&ucpg_group_out_inflight, 1, __ATOMIC_ACQ_REL);
    ucpg_buf_put(arg);
}

/* Sends hdr and buf (NULL: no body) to dst; the send holds its own
 * reference on buf until it completes. */
static void ucpg_group_out_send(ucpg_domain_t *d, ucpg_peer_id_t dst, const uint8_t *hdr,
                                ucpg_buf_t *buf)
{
    ucpg_buf_t *ref = ucpg_buf_ref(buf);
    ucpg_status_t status;
    char peer[24];

    __atomic_add_fetch(&ucpg_group_out_inflight, 1, __ATOMIC_ACQ_REL);
    status = (d == NULL) ? UCPG_ERR_SHUTDOWN :
             ucpg_am_send_buf_nb(d, dst, UCPG_AM_ID_GROUP, hdr, UCPG_GROUP_MSG_LEN, ref,
                                 ucpg_group_out_sent, ref);
    if ((status != UCPG_INPROGRESS) && (status != UCPG_OK)) {
        snprintf(peer, sizeof(peer), "peer %u", dst);   /* known here, not at completion */
        ucpg_group_out_report(status, peer);
    }
    if (status != UCPG_INPROGRESS) {
        ucpg_group_out_sent(ref, UCPG_OK);
    }
}

/* Sends one queued entry as it is to each of its destinations (consumes it). */
static void ucpg_group_out_send_entry(ucpg_domain_t *d, ucpg_group_out_t *out)
{
    unsigned i;

    for (i = 0; i < out->ndst; ++i) {
        ucpg_group_out_send(d, out->dst[i], out->hdr, out->buf);
    }
    ucpg_group_out_free(out);
}

/* A large message leaves in fragments while the receiver makes room: before
 * the domain goes, let what is in flight arrive (bounded). */
void ucpg_group_out_wait_inflight(unsigned timeout_ms)
{
    uint64_t deadline = ucpg_time_ns() + (uint64_t)timeout_ms * 1000000ull;

    while ((__atomic_load_n(&ucpg_group_out_inflight, __ATOMIC_ACQUIRE) > 0) &&
           (ucpg_time_ns() < deadline)) {
        usleep(100);
    }
}

static size_t ucpg_group_out_len(const ucpg_group_out_t *out)
{
    return (out->buf != NULL) ? out->buf->len : 0;
}

/* Packed with others into a BATCH? Never a BATCH itself: the receiver
 * refuses one nested in another. */
static int ucpg_group_out_small(const ucpg_group_out_t *out)
{
    return !out->whole && (ucpg_group_out_len(out) <= UCPG_GROUP_BATCH_ITEM_MAX);
}

/* Do a and b go to the same peers (named in the same order, as every
 * caller of one kind names them)? */
static int ucpg_group_out_same_dst(const ucpg_group_out_t *a, const ucpg_group_out_t *b)
{
    return (a->ndst == b->ndst) && (memcmp(a->dst, b->dst, a->ndst * sizeof(a->dst[0])) == 0);
}

/*
 * Sends the first messages of list, small ones for the same peers, as one
 * BATCH (up to UCPG_GROUP_BATCH_MAX bytes), unlinking them. Packing costs
 * a copy but saves an active message, a wake-up and a completion per
 * message at the receiver, which is what bounds the rate. The batch is
 * packed once and the same buffer goes to every destination.
 */
static void ucpg_group_out_batch(ucpg_domain_t *d, ucpg_group_out_t **list)
{
    ucpg_group_out_t *out, *first = *list, *batch = first, *last = NULL;
    uint8_t hdr[UCPG_GROUP_MSG_LEN];
    ucpg_group_msg_t msg;
    size_t total = 0, pos = 0;
    ucpg_buf_t *packed;
    unsigned count = 0, i;

    for (out = first; out != NULL; last = out, out = out->next) {
        if ((count > 0) &&
            (total + UCPG_GROUP_BATCH_ENTRY_HDR + ucpg_group_out_len(out) > UCPG_GROUP_BATCH_MAX)) {
            break;
        }
        total += UCPG_GROUP_BATCH_ENTRY_HDR + ucpg_group_out_len(out);
        ++count;
    }
    *list      = out;          /* the rest, for the next batch */
    last->next = NULL;
    if (count == 1) {
        ucpg_group_out_send_entry(d, batch);
        return;
    }
    memset(&msg, 0, sizeof(msg));
    msg.type = UCPG_GROUP_MSG_BATCH;
    msg.ggen = 1;
    msg.a    = count;
    ucpg_group_msg_encode(&msg, hdr);
    packed = ucpg_buf_new(total);
    if (packed == NULL) {
        ucpg_error("out of memory packing group messages for peer %u", first->dst[0]);
    }
    while (batch != NULL) {
        out   = batch;
        batch = out->next;
        if (packed == NULL) {
            ucpg_group_out_send_entry(d, out);      /* one by one instead */
            continue;
        }
        pos += ucpg_group_batch_put(packed->data + pos, out->hdr,
                                    (out->buf != NULL) ? out->buf->data : NULL,
                                    (uint32_t)ucpg_group_out_len(out));
        if (out != first) {
            ucpg_group_out_free(out);                /* first names the destinations */
        }
    }
    if (packed == NULL) {
        return;
    }
    for (i = 0; i < first->ndst; ++i) {
        ucpg_group_out_send(d, first->dst[i], hdr, packed);
    }
    ucpg_group_out_free(first);
    ucpg_buf_put(packed);
}

/* Takes everything queued, in queue order (the sequencer queues what a
 * sender waits for first). */
static ucpg_group_out_t *ucpg_group_out_take(void)
{
    ucpg_group_out_t *stack, *list = NULL, *out;

    stack = __atomic_exchange_n(&ucpg_group_out_head, NULL, __ATOMIC_ACQ_REL);
    __atomic_store_n(&ucpg_group_out_kicked, 0, __ATOMIC_RELEASE);
    while ((out = stack) != NULL) {
        stack     = out->next;
        out->next = list;
        list      = out;
    }
    return list;
}

/*
 * The small entries of one flush that go to the same peers, in queue order.
 * A sequencer's flush holds several such sets (the tree's children, the
 * flat set, each sender of an answered request) interleaved over thousands
 * of entries; gathering each set by its own walk of the whole queue made a
 * flush cost sets x entries. One walk sorts them into sets instead (more
 * than UCPG_GROUP_OUT_SETS sets take a walk per UCPG_GROUP_OUT_SETS). The
 * rate did not move measurably (8 members, every member sending): the
 * flush's cost is the first touch of each entry, not the walks.
 */
#define UCPG_GROUP_OUT_SETS 16u

typedef struct ucpg_group_out_set {
    ucpg_group_out_t  *head;
    ucpg_group_out_t **tail;
} ucpg_group_out_set_t;

/* The set of out's peers among the n open ones, or NULL. */
static ucpg_group_out_set_t *ucpg_group_out_set_find(ucpg_group_out_set_t *sets, unsigned n,
                                                     const ucpg_group_out_t *out)
{
    unsigned i;

    for (i = 0; i < n; ++i) {
        if (ucpg_group_out_same_dst(sets[i].head, out)) {
            return &sets[i];
        }
    }
    return NULL;
}

/* Sends each of the n sets, in the order they were opened, as BATCHes. */
static void ucpg_group_out_send_sets(ucpg_domain_t *d, ucpg_group_out_set_t *sets, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; ++i) {
        while (sets[i].head != NULL) {
            ucpg_group_out_batch(d, &sets[i].head);
        }
    }
}

/*
 * Sorts list's entries out: each small one into the set of its peers (the
 * first UCPG_GROUP_OUT_SETS sets, opened in the order they first appear),
 * each large one onto *large, and the small ones of further sets onto the
 * returned list, in queue order, for another pass.
 */
static ucpg_group_out_t *ucpg_group_out_sort(ucpg_group_out_t *list, ucpg_group_out_set_t *sets,
                                             unsigned *nsets_p, ucpg_group_out_t ***large_tail_p)
{
    ucpg_group_out_t *rest = NULL, **rest_tail = &rest, *out;
    ucpg_group_out_set_t *set;

    while ((out = list) != NULL) {
        list      = out->next;
        out->next = NULL;
        if (!ucpg_group_out_small(out)) {
            **large_tail_p = out;
            *large_tail_p  = &out->next;
            continue;
        }
        set = ucpg_group_out_set_find(sets, *nsets_p, out);
        if ((set == NULL) && (*nsets_p == UCPG_GROUP_OUT_SETS)) {
            *rest_tail = out;                 /* many peers' answers: next pass */
            rest_tail  = &out->next;
            continue;
        }
        if (set == NULL) {
            set       = &sets[(*nsets_p)++];
            set->tail = &set->head;
        }
        *set->tail = out;
        set->tail  = &out->next;
    }
    return rest;
}

/* Sends one flush's list: the small entries packed per set of peers, in the
 * order each set first appears (the sequencer queues what a sender waits
 * for first), then the large ones in queue order. Receivers order by
 * number, and the sequencer holds a request that arrives before an earlier
 * one of its sender, so no order between entries is needed. */
static void ucpg_group_out_send_list(ucpg_domain_t *d, ucpg_group_out_t *list)
{
    ucpg_group_out_set_t sets[UCPG_GROUP_OUT_SETS];
    ucpg_group_out_t *large = NULL, **large_tail = &large, *out;
    unsigned nsets;

    while (list != NULL) {
        nsets = 0;
        list  = ucpg_group_out_sort(list, sets, &nsets, &large_tail);
        ucpg_group_out_send_sets(d, sets, nsets);
    }
    while ((out = large) != NULL) {
        large = out->next;
        ucpg_group_out_send_entry(d, out);
    }
}

/* Sends everything queued: small messages for the same peers travel together. */
void ucpg_group_out_flush(void)
{
    ucpg_domain_t *d = ucpg_group_engine.domain;
    ucpg_group_out_t *list;

    while ((list = ucpg_group_out_take()) != NULL) {
        ucpg_group_out_send_list(d, list);
    }
}

int ucpg_group_out_pending(void)
{
    return __atomic_load_n(&ucpg_group_out_head, __ATOMIC_SEQ_CST) != NULL;
}

int ucpg_group_out_kick_claim(void)
{
    return !__atomic_exchange_n(&ucpg_group_out_kicked, 1, __ATOMIC_ACQ_REL);
}
