/*
 * outbox.c - the group messages queued under the engine lock, sent once it
 * is released (by whichever thread released it last, or by the progress
 * thread's hook: engine.c decides when).
 *
 * Order between them does not matter: receivers reorder by number. When
 * the queue is sent, the small messages (up to UCPG_GROUP_BATCH_ITEM_MAX
 * bytes) for one peer travel as one BATCH active message; a message alone
 * for its peer travels as it is, without a copy (latency).
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

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/am.h"
#include "core/log.h"
#include "core/mcache.h"
#include "core/proc.h"

typedef struct ucpg_group_out {
    struct ucpg_group_out *next;
    ucpg_peer_id_t         dst;
    uint8_t                hdr[UCPG_GROUP_MSG_LEN];
    ucpg_buf_t      *buf;
} ucpg_group_out_t;

/* Adaptive: see core/mutex.h. */
static pthread_mutex_t    ucpg_group_out_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static ucpg_group_out_t  *ucpg_group_out_head;
static ucpg_group_out_t **ucpg_group_out_tail = &ucpg_group_out_head;
static int                ucpg_group_out_queued;  /* atomic: the list is not empty */
static int                ucpg_group_out_kicked;  /* the progress thread was woken */
static int                ucpg_group_out_inflight; /* atomic: sends not yet completed */

#define UCPG_GROUP_BATCH_ITEM_MAX 4096u     /* larger messages travel alone */
/* Bytes packed into one message: its buffer, header included, fits the
 * 64 KiB class of the buffer cache (core/buf.c). */
#define UCPG_GROUP_BATCH_MAX      (65536u - sizeof(ucpg_buf_t))

void ucpg_group_send(ucpg_peer_id_t dst, uint64_t dst_uuid, const ucpg_group_msg_t *msg,
                     ucpg_buf_t *buf)
{
    ucpg_group_out_t *out = ucpg_mcache_alloc(sizeof(*out));  /* freed by another thread */

    (void)dst_uuid;   /* receivers check group membership themselves */
    if (out == NULL) {
        /* The protocol recovers a lost message only through a view change;
         * say so loudly rather than pretend. */
        ucpg_error("out of memory queueing a group message for peer %u", dst);
        return;
    }
    out->next = NULL;
    out->dst  = dst;
    out->buf  = ucpg_buf_ref(buf);
    ucpg_group_msg_encode(msg, out->hdr);
    pthread_mutex_lock(&ucpg_group_out_lock);
    *ucpg_group_out_tail = out;
    ucpg_group_out_tail  = &out->next;
    __atomic_store_n(&ucpg_group_out_queued, 1, __ATOMIC_SEQ_CST);  /* see progress_busy */
    pthread_mutex_unlock(&ucpg_group_out_lock);
}

static void ucpg_group_out_done(void *arg, ucpg_status_t status)
{
    ucpg_group_out_t *out = arg;

    if ((status != UCPG_OK) && (status != UCPG_ERR_PEER_DOWN)) {
        ucpg_warn("group message to peer %u failed: %s", out->dst, ucpg_status_string(status));
    } else if (status != UCPG_OK) {
        ucpg_debug("group message to peer %u: %s", out->dst, ucpg_status_string(status));
    }
    ucpg_buf_put(out->buf);
    ucpg_mcache_free(out, sizeof(*out));
}

static void ucpg_group_out_inflight_done(void *arg, ucpg_status_t status)
{
    __atomic_sub_fetch(&ucpg_group_out_inflight, 1, __ATOMIC_ACQ_REL);
    ucpg_group_out_done(arg, status);
}

/* Sends one queued message on its own (consumes out). */
static void ucpg_group_out_send(ucpg_domain_t *d, ucpg_group_out_t *out)
{
    ucpg_status_t status;

    __atomic_add_fetch(&ucpg_group_out_inflight, 1, __ATOMIC_ACQ_REL);
    status = (d == NULL) ? UCPG_ERR_SHUTDOWN :
             ucpg_am_send_buf_nb(d, out->dst, UCPG_AM_ID_GROUP, out->hdr, UCPG_GROUP_MSG_LEN,
                                 out->buf, ucpg_group_out_inflight_done, out);
    if (status != UCPG_INPROGRESS) {
        ucpg_group_out_inflight_done(out, status);
    }
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

static int ucpg_group_out_small(const ucpg_group_out_t *out)
{
    return ucpg_group_out_len(out) <= UCPG_GROUP_BATCH_ITEM_MAX;
}

/*
 * Sends the small messages for list->dst that follow in list as one BATCH
 * (up to UCPG_GROUP_BATCH_MAX bytes), unlinking them; returns how many.
 * Packing costs a copy but saves an active message, a wake-up and a
 * completion per message at the receiver, which is what bounds the rate.
 */
static unsigned ucpg_group_out_batch(ucpg_domain_t *d, ucpg_group_out_t **list)
{
    ucpg_peer_id_t dst = (*list)->dst;
    ucpg_group_out_t **pp, *out, *batch = NULL, **tail = &batch;
    ucpg_group_msg_t msg;
    size_t total = 0, pos = 0;
    unsigned count = 0;

    for (pp = list; *pp != NULL;) {
        out = *pp;
        if ((out->dst != dst) || !ucpg_group_out_small(out)) {
            pp = &out->next;
            continue;
        }
        if ((count > 0) &&
            (total + UCPG_GROUP_BATCH_ENTRY_HDR + ucpg_group_out_len(out) > UCPG_GROUP_BATCH_MAX)) {
            break;
        }
        *pp       = out->next;
        out->next = NULL;
        *tail     = out;
        tail      = &out->next;
        total    += UCPG_GROUP_BATCH_ENTRY_HDR + ucpg_group_out_len(out);
        ++count;
    }
    if (count == 1) {
        ucpg_group_out_send(d, batch);
        return 1;
    }
    memset(&msg, 0, sizeof(msg));
    msg.type = UCPG_GROUP_MSG_BATCH;
    msg.ggen = 1;
    msg.a    = count;
    out      = ucpg_mcache_alloc(sizeof(*out));
    if (out != NULL) {
        out->next = NULL;
        out->dst  = dst;
        out->buf  = ucpg_buf_new(total);
        ucpg_group_msg_encode(&msg, out->hdr);
    }
    while ((out != NULL) && (out->buf != NULL) && (batch != NULL)) {
        ucpg_group_out_t *item = batch;
        batch = item->next;
        pos  += ucpg_group_batch_put(out->buf->data + pos, item->hdr,
                                     (item->buf != NULL) ? item->buf->data : NULL,
                                     (uint32_t)ucpg_group_out_len(item));
        ucpg_group_out_done(item, UCPG_OK);
    }
    if ((out == NULL) || (out->buf == NULL)) {
        ucpg_error("out of memory packing group messages for peer %u", dst);
        while (batch != NULL) {                 /* send them one by one instead */
            ucpg_group_out_t *item = batch;
            batch = item->next;
            ucpg_group_out_send(d, item);
        }
        ucpg_mcache_free(out, sizeof(*out));
        return count;
    }
    ucpg_group_out_send(d, out);
    return count;
}

/* Sends everything queued: small messages to the same peer travel together. */
void ucpg_group_out_flush(void)
{
    ucpg_domain_t *d = ucpg_group_engine.domain;
    ucpg_group_out_t *list, *out;

    for (;;) {
        pthread_mutex_lock(&ucpg_group_out_lock);
        list                = ucpg_group_out_head;
        ucpg_group_out_head = NULL;
        ucpg_group_out_tail = &ucpg_group_out_head;
        __atomic_store_n(&ucpg_group_out_queued, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&ucpg_group_out_kicked, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&ucpg_group_out_lock);
        if (list == NULL) {
            return;
        }
        while ((out = list) != NULL) {
            if (ucpg_group_out_small(out)) {
                ucpg_group_out_batch(d, &list);
            } else {
                list      = out->next;
                out->next = NULL;
                ucpg_group_out_send(d, out);
            }
        }
    }
}

int ucpg_group_out_pending(void)
{
    return __atomic_load_n(&ucpg_group_out_queued, __ATOMIC_SEQ_CST);
}

int ucpg_group_out_kick_claim(void)
{
    return !__atomic_exchange_n(&ucpg_group_out_kicked, 1, __ATOMIC_ACQ_REL);
}
