/*
 * am_shm.c - large message bodies to peers on this host through shared
 * memory (the pool of shm_pool.h), behind the ordinary AM interface.
 *
 * Per endpoint, in order:
 *   1. The first large body for a peer makes us OFFER it our pool; that
 *      body and those until the answer travel through UCX as usual.
 *   2. The peer attaches the pool (read-only) and answers ACCEPT, or REFUSE
 *      if it cannot (another host, another IPC namespace, no permission).
 *   3. After ACCEPT a body in the pool travels as a BODY message naming
 *      (offset, generation, length); the peer copies it out in its receive
 *      callback and delivers it like any other message.
 *   4. The peer owes us a DONE naming the last BODY it copied, sent after
 *      16 of them or 2 MiB of them, or when it goes idle (so a burst is
 *      confirmed once). Until then we hold
 *      a reference to each body sent, oldest first per endpoint; a DONE
 *      releases every body up to the one it names (UCX delivers the
 *      messages of one endpoint in order, so the earlier ones are done too).
 *   5. When the endpoint closes (the peer left or died), the bodies it did
 *      not confirm are released and its pool is detached.
 * If the peer was given up on while it still reads (a stopped process that
 * runs again), the generation check in ucpg_shm_view_read turns a reused
 * block into a lost message with a warning, never into a wrong one.
 */
#include "domain_int.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum {
    UCPG_AM_SHM_OUT_NONE     = 0,   /* not offered yet */
    UCPG_AM_SHM_OUT_OFFERED  = 1,
    UCPG_AM_SHM_OUT_ACCEPTED = 2,
    UCPG_AM_SHM_OUT_REFUSED  = 3
};

enum {
    UCPG_AM_SHM_OWE_ACCEPT = 1,
    UCPG_AM_SHM_OWE_REFUSE = 2,
    UCPG_AM_SHM_OWE_DONE   = 4
};

struct ucpg_am_shm_sent {
    ucpg_buf_t              *buf;
    uint64_t                 offset;
    uint64_t                 gen;
    struct ucpg_am_shm_sent *next;
};

/* --- the pool ---------------------------------------------------------------------- */

void ucpg_am_shm_init(ucpg_domain_t *d)
{
    size_t size = (size_t)d->config.shm_pool_mb << 20;

    /* Without a pool large bodies go through UCX: slower, never wrong. */
    if ((size != 0) && (ucpg_shm_pool_create(size, &d->shm_pool) != UCPG_OK)) {
        d->shm_pool = NULL;
    }
}

void ucpg_am_shm_cleanup(ucpg_domain_t *d)
{
    ucpg_am_shm_stats_t st;

    ucpg_am_shm_stats(d, &st);
    ucpg_debug("shared memory: %llu bodies sent, %llu through UCX, %llu received, %llu lost, "
               "%llu offers refused", (unsigned long long)st.bodies_sent,
               (unsigned long long)st.bodies_via_ucx, (unsigned long long)st.bodies_received,
               (unsigned long long)st.bodies_lost, (unsigned long long)st.offers_refused);
    ucpg_shm_pool_release(d->shm_pool);     /* its buffers still out keep it */
    d->shm_pool = NULL;
}

ucpg_buf_t *ucpg_am_buf_new(ucpg_domain_t *d, size_t len)
{
    ucpg_buf_t *buf = NULL;

    if ((d != NULL) && (d->shm_pool != NULL) && (len >= UCPG_SHM_POOL_MIN_BODY)) {
        buf = ucpg_shm_pool_buf_new(d->shm_pool, len);
    }
    return (buf != NULL) ? buf : ucpg_buf_new_body(len);
}

void ucpg_am_buf_write(ucpg_domain_t *d, ucpg_buf_t *buf, size_t off, const void *src,
                       size_t len)
{
    /* Only ucpg_am_buf_new's large bodies can live in the pool: the size
     * test spares the common small message the call into shm_pool.c. */
    if ((d != NULL) && (d->shm_pool != NULL) && (buf->cap >= UCPG_SHM_POOL_MIN_BODY) &&
        (ucpg_shm_pool_offset(d->shm_pool, buf) != UINT64_MAX)) {
        ucpg_buf_copy_shared(buf->data + off, src, len);
    } else {
        ucpg_buf_copy(buf->data + off, src, len);
    }
}

#define UCPG_AM_SHM_COUNT(d, field) \
    __atomic_add_fetch(&(d)->shm_stats.field, 1, __ATOMIC_RELAXED)

void ucpg_am_shm_stats(ucpg_domain_t *d, ucpg_am_shm_stats_t *stats)
{
    stats->bodies_sent     = __atomic_load_n(&d->shm_stats.bodies_sent, __ATOMIC_RELAXED);
    stats->bodies_via_ucx  = __atomic_load_n(&d->shm_stats.bodies_via_ucx, __ATOMIC_RELAXED);
    stats->bodies_received = __atomic_load_n(&d->shm_stats.bodies_received, __ATOMIC_RELAXED);
    stats->bodies_lost     = __atomic_load_n(&d->shm_stats.bodies_lost, __ATOMIC_RELAXED);
    stats->offers_refused  = __atomic_load_n(&d->shm_stats.offers_refused, __ATOMIC_RELAXED);
    stats->pool_bytes      = (d->shm_pool != NULL) ? ucpg_shm_pool_size(d->shm_pool) : 0;
    stats->pool_used       = (d->shm_pool != NULL) ? ucpg_shm_pool_used(d->shm_pool) : 0;
}

/* --- sending ----------------------------------------------------------------------- */

static ucpg_status_t ucpg_am_shm_send_msg(ucpg_domain_t *d, ucp_ep_h ep,
                                          const ucpg_wire_shm_t *msg)
{
    uint8_t out[UCPG_WIRE_SHM_LEN];

    ucpg_wire_shm_encode(msg, out);
    return ucpg_am_send_ep(d, ep, UCPG_AM_ID_SHM, out, sizeof(out), NULL, 0, NULL, NULL);
}

static void ucpg_am_shm_send_offer(ucpg_domain_t *d, ucp_ep_h ep)
{
    ucpg_shm_offer_t offer;
    ucpg_wire_shm_t msg;
    ucpg_status_t status;

    ucpg_shm_pool_offer(d->shm_pool, &offer);
    memset(&msg, 0, sizeof(msg));
    msg.type   = UCPG_WIRE_SHM_OFFER;
    msg.shmid  = offer.shmid;
    msg.size   = offer.size;
    msg.cookie = offer.cookie;
    status     = ucpg_am_shm_send_msg(d, ep, &msg);
    if ((status != UCPG_OK) && (status != UCPG_INPROGRESS)) {
        ucpg_debug("shared-memory offer not sent: %s", ucpg_status_string(status));
    }
}

/* Is peer id on this host? Called with lock held. */
static int ucpg_am_shm_local(ucpg_domain_t *d, ucpg_peer_id_t id)
{
    return d->peers[id].nodeid == d->config.nodeid;
}

/*
 * How a pool body goes to the peer of ref: 1 = as a BODY (and it is recorded
 * as sent), 0 = through UCX. Sets *offer_p if we must offer our pool first.
 */
static int ucpg_am_shm_route(ucpg_domain_t *d, ucpg_ep_ref_t *ref, ucpg_buf_t *buf,
                             uint64_t offset, int *offer_p)
{
    /* Allocated before the lock: a pool body is large, a malloc is nothing. */
    struct ucpg_am_shm_sent *sent = malloc(sizeof(*sent));
    int as_body;

    pthread_mutex_lock(&d->lock);
    as_body = (ref->shm.out == UCPG_AM_SHM_OUT_ACCEPTED) && (sent != NULL);
    if ((ref->shm.out == UCPG_AM_SHM_OUT_NONE) && ucpg_am_shm_local(d, ref->peer)) {
        ref->shm.out = UCPG_AM_SHM_OUT_OFFERED;
        *offer_p     = 1;
    }
    if (as_body) {
        sent->buf    = ucpg_buf_ref(buf);
        sent->offset = offset;
        sent->gen    = __atomic_load_n(&buf->gen, __ATOMIC_ACQUIRE);
        sent->next   = NULL;
        if (ref->shm.sent == NULL) {
            ref->shm.sent_tail = &ref->shm.sent;
        }
        *ref->shm.sent_tail = sent;
        ref->shm.sent_tail  = &sent->next;
    }
    pthread_mutex_unlock(&d->lock);
    if (!as_body) {
        free(sent);
    }
    return as_body;
}

static ucpg_status_t ucpg_am_shm_send_body(ucpg_domain_t *d, ucp_ep_h ep, unsigned am_id,
                                           const void *hdr, size_t hdr_len,
                                           const ucpg_buf_t *buf, uint64_t offset,
                                           ucpg_am_send_cb_t cb, void *arg)
{
    uint8_t out[UCPG_WIRE_SHM_LEN + UCPG_AM_HDR_MAX];
    ucpg_wire_shm_t msg;

    memset(&msg, 0, sizeof(msg));
    msg.type   = UCPG_WIRE_SHM_BODY;
    msg.am_id  = (uint8_t)am_id;
    msg.offset = offset;
    msg.gen    = __atomic_load_n(&buf->gen, __ATOMIC_ACQUIRE);
    msg.len    = buf->len;
    ucpg_wire_shm_encode(&msg, out);
    if (hdr_len > 0) {
        memcpy(out + UCPG_WIRE_SHM_LEN, hdr, hdr_len);
    }
    return ucpg_am_send_ep(d, ep, UCPG_AM_ID_SHM, out, UCPG_WIRE_SHM_LEN + hdr_len, NULL, 0,
                           cb, arg);
}

ucpg_status_t ucpg_am_send_buf_nb(ucpg_domain_t *d, ucpg_peer_id_t dst, unsigned am_id,
                                  const void *hdr, size_t hdr_len, ucpg_buf_t *buf,
                                  ucpg_am_send_cb_t cb, void *arg)
{
    uint64_t offset = (buf != NULL) ? ucpg_shm_pool_offset(d->shm_pool, buf) : UINT64_MAX;
    ucpg_ep_ref_t *ref;
    ucpg_status_t status;
    int offer = 0;
    ucp_ep_h ep;

    if ((offset == UINT64_MAX) || (am_id == UCPG_AM_ID_CORE) || (am_id >= UCPG_AM_ID_MAX) ||
        (hdr_len > UCPG_AM_HDR_MAX) || ((hdr == NULL) && (hdr_len > 0))) {
        return ucpg_am_send_nb(d, dst, am_id, hdr, hdr_len, (buf != NULL) ? buf->data : NULL,
                               (buf != NULL) ? buf->len : 0, cb, arg);
    }
    status = ucpg_domain_ep_get(d, dst, 0, &ep, &ref);
    if (status != UCPG_OK) {
        return status;
    }
    /* Bodies must leave in the order they are recorded as sent (a DONE
     * confirms every body before the one it names), and application threads
     * and the progress thread send at the same time. */
    while (__atomic_test_and_set(&ref->shm.sending, __ATOMIC_ACQUIRE)) {
        sched_yield();
    }
    if (ucpg_am_shm_route(d, ref, buf, offset, &offer)) {
        UCPG_AM_SHM_COUNT(d, bodies_sent);
        status = ucpg_am_shm_send_body(d, ep, am_id, hdr, hdr_len, buf, offset, cb, arg);
        __atomic_clear(&ref->shm.sending, __ATOMIC_RELEASE);
    } else {
        __atomic_clear(&ref->shm.sending, __ATOMIC_RELEASE);
        UCPG_AM_SHM_COUNT(d, bodies_via_ucx);
        if (offer) {
            ucpg_am_shm_send_offer(d, ep);
        }
        status = ucpg_am_send_ep(d, ep, am_id, hdr, hdr_len, buf->data, buf->len, cb, arg);
    }
    ucpg_domain_ep_put(d, ref);
    return status;
}

/* --- replies we owe ---------------------------------------------------------------- */

/*
 * DONE is owed after every body but sent only after UCPG_AM_SHM_DONE_BATCH
 * of them, after UCPG_AM_SHM_DONE_BYTES of them, or when the progress thread
 * is about to sleep: a DONE per body woke the sender once per message, which
 * made 32-64 KiB floods slower than through UCX. The sender's pool holds the
 * unconfirmed bodies meanwhile (its flow-control window bounds how many
 * there are).
 *
 * The byte bound is for large bodies: the sender reuses a block only once it
 * is confirmed, so 16 bodies of 1 MiB made its copies cycle through 16 MiB
 * that the reader's CPU had read last, and both copies missed the caches. A
 * DONE every 2 MiB keeps the blocks in use few and warm.
 */
#define UCPG_AM_SHM_DONE_BATCH 16u
#define UCPG_AM_SHM_DONE_BYTES (2u * 1024u * 1024u)

/* Called with lock held: the progress thread sends them after its round. */
static void ucpg_am_shm_owe(ucpg_domain_t *d, ucpg_ep_ref_t *ref, unsigned what)
{
    if (ref->shm.owe == 0) {
        ++ref->refs;                      /* pinned until the reply left */
        ref->shm.owe_next = d->shm_owed;
        d->shm_owed       = ref;
    }
    ref->shm.owe |= what;
    __atomic_store_n(&d->shm_owed_pending, 1, __ATOMIC_RELEASE);
    if (what != UCPG_AM_SHM_OWE_DONE) {
        __atomic_store_n(&d->shm_owed_urgent, 1, __ATOMIC_RELEASE);   /* answers wait for nothing */
    }
}

/* Takes one endpoint off the owed list with what it owes; NULL when none. */
static ucpg_ep_ref_t *ucpg_am_shm_owed_pop(ucpg_domain_t *d, ucpg_wire_shm_t *done_p,
                                           unsigned *owe_p)
{
    ucpg_ep_ref_t *ref;

    pthread_mutex_lock(&d->lock);
    ref = d->shm_owed;
    if (ref != NULL) {
        d->shm_owed = ref->shm.owe_next;
        *owe_p      = ref->dead ? 0 : ref->shm.owe;   /* nobody to tell */
        memset(done_p, 0, sizeof(*done_p));
        done_p->type   = UCPG_WIRE_SHM_DONE;
        done_p->offset = ref->shm.done_offset;
        done_p->gen    = ref->shm.done_gen;
        ref->shm.owe   = 0;
        ref->shm.done_count = 0;
        ref->shm.done_bytes = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return ref;
}

void ucpg_am_shm_send_owed(ucpg_domain_t *d, int idle)
{
    ucpg_wire_shm_t done, answer;
    ucpg_ep_ref_t *ref;
    unsigned owe;

    if (!__atomic_load_n(&d->shm_owed_pending, __ATOMIC_ACQUIRE) ||
        (!idle && !__atomic_load_n(&d->shm_owed_urgent, __ATOMIC_ACQUIRE))) {
        return;
    }
    __atomic_store_n(&d->shm_owed_urgent, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&d->shm_owed_pending, 0, __ATOMIC_RELEASE);
    while ((ref = ucpg_am_shm_owed_pop(d, &done, &owe)) != NULL) {
        if ((owe & (UCPG_AM_SHM_OWE_ACCEPT | UCPG_AM_SHM_OWE_REFUSE))) {
            memset(&answer, 0, sizeof(answer));
            answer.type = (owe & UCPG_AM_SHM_OWE_ACCEPT) ? UCPG_WIRE_SHM_ACCEPT :
                                                           UCPG_WIRE_SHM_REFUSE;
            ucpg_am_shm_send_msg(d, ref->ep, &answer);
        }
        if (owe & UCPG_AM_SHM_OWE_DONE) {
            ucpg_am_shm_send_msg(d, ref->ep, &done);
        }
        ucpg_peer_ep_unpin(d, ref);
    }
}

void ucpg_am_shm_forget_owed(ucpg_domain_t *d)
{
    ucpg_ep_ref_t *ref;

    while ((ref = d->shm_owed) != NULL) {
        d->shm_owed  = ref->shm.owe_next;
        ref->shm.owe = 0;
    }
}

/* --- receiving --------------------------------------------------------------------- */

static void ucpg_am_shm_recv_offer(ucpg_domain_t *d, ucpg_ep_ref_t *ref,
                                   const ucpg_wire_shm_t *msg)
{
    ucpg_shm_offer_t offer = {msg->shmid, msg->size, msg->cookie};
    ucpg_shm_view_t view   = {NULL, 0, -1};
    int attached;

    pthread_mutex_lock(&d->lock);
    attached = (ref->shm.view.base != NULL);
    pthread_mutex_unlock(&d->lock);
    if (!attached && (ucpg_shm_view_attach(&offer, &view) != UCPG_OK)) {
        ucpg_info("cannot read the shared memory of peer %u: its large messages come "
                  "through UCX", ref->peer);
    }
    pthread_mutex_lock(&d->lock);
    if (!attached && (view.base != NULL) && (ref->shm.view.base == NULL)) {
        ref->shm.view = view;
        view.base     = NULL;
    }
    ucpg_am_shm_owe(d, ref, (ref->shm.view.base != NULL) ? UCPG_AM_SHM_OWE_ACCEPT :
                                                          UCPG_AM_SHM_OWE_REFUSE);
    pthread_mutex_unlock(&d->lock);
    ucpg_shm_view_detach(&view);          /* a duplicate, if any */
}

static void ucpg_am_shm_recv_answer(ucpg_domain_t *d, ucpg_ep_ref_t *ref, int accepted)
{
    int changed;

    pthread_mutex_lock(&d->lock);
    changed = (ref->shm.out == UCPG_AM_SHM_OUT_OFFERED);
    if (changed) {
        ref->shm.out = accepted ? UCPG_AM_SHM_OUT_ACCEPTED : UCPG_AM_SHM_OUT_REFUSED;
    }
    pthread_mutex_unlock(&d->lock);
    if (changed && !accepted) {
        UCPG_AM_SHM_COUNT(d, offers_refused);
        ucpg_info("peer %u cannot read our shared memory: our large messages go to it "
                  "through UCX", ref->peer);
    }
}

/* Copies a BODY out of the sender's pool; NULL (logged) if it cannot. */
static ucpg_buf_t *ucpg_am_shm_copy_body(ucpg_domain_t *d, ucpg_ep_ref_t *ref,
                                         const ucpg_wire_shm_t *msg)
{
    ucpg_shm_view_t view;
    ucpg_status_t status = UCPG_ERR_NOT_FOUND;
    ucpg_buf_t *buf      = NULL;

    pthread_mutex_lock(&d->lock);
    view = ref->shm.view;                 /* stays attached while ref is pinned */
    ucpg_am_shm_owe(d, ref, UCPG_AM_SHM_OWE_DONE);
    ref->shm.done_offset = msg->offset;
    ref->shm.done_gen    = msg->gen;
    ref->shm.done_count++;
    ref->shm.done_bytes += msg->len;
    if ((ref->shm.done_count >= UCPG_AM_SHM_DONE_BATCH) ||
        (ref->shm.done_bytes >= UCPG_AM_SHM_DONE_BYTES)) {
        __atomic_store_n(&d->shm_owed_urgent, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&d->lock);
    if ((msg->am_id == UCPG_AM_ID_CORE) || (msg->am_id == UCPG_AM_ID_SHM) ||
        (msg->am_id >= UCPG_AM_ID_MAX) || (msg->len > view.size)) {
        status = UCPG_ERR_MESSAGE;
    } else if (view.base != NULL) {
        buf    = ucpg_am_buf_new(d, (size_t)msg->len);
        status = (buf == NULL) ? UCPG_ERR_NO_MEMORY :
                 ucpg_shm_view_read(&view, msg->offset, msg->gen, (size_t)msg->len, buf->data);
    }
    if (status != UCPG_OK) {
        UCPG_AM_SHM_COUNT(d, bodies_lost);
        ucpg_warn("message body of %llu bytes from peer %u lost: %s (offset %llu, "
                  "generation %llx)", (unsigned long long)msg->len, ref->peer,
                  (view.base == NULL) ? "its shared memory is not attached here" :
                  (status == UCPG_ERR_NOT_FOUND) ? "its block was reused" :
                                                   ucpg_status_string(status),
                  (unsigned long long)msg->offset, (unsigned long long)msg->gen);
        ucpg_buf_put(buf);
        return NULL;
    }
    return buf;
}

/* Releases the bodies up to the one a DONE names (if we sent it). */
static void ucpg_am_shm_recv_done(ucpg_domain_t *d, ucpg_ep_ref_t *ref,
                                  const ucpg_wire_shm_t *msg)
{
    struct ucpg_am_shm_sent *s, *done = NULL;

    pthread_mutex_lock(&d->lock);
    for (s = ref->shm.sent; s != NULL; s = s->next) {
        if ((s->offset == msg->offset) && (s->gen == msg->gen)) {
            break;
        }
    }
    if (s != NULL) {
        done          = ref->shm.sent;
        ref->shm.sent = s->next;
        s->next       = NULL;
    }
    pthread_mutex_unlock(&d->lock);
    if (s == NULL) {
        ucpg_debug("peer %u confirmed a shared-memory body we do not hold", ref->peer);
    }
    while ((s = done) != NULL) {
        done = s->next;
        ucpg_buf_put(s->buf);
        free(s);
    }
}

void ucpg_am_shm_recv(ucpg_domain_t *d, const ucpg_wire_hdr_t *whdr, const void *hdr,
                      size_t hdr_len)
{
    ucpg_wire_shm_t msg;
    ucpg_ep_ref_t *ref;
    ucpg_buf_t *buf;
    ucp_ep_h ep;

    if (ucpg_wire_shm_decode(hdr, hdr_len, &msg) != UCPG_OK) {
        ucpg_warn("dropping malformed shared-memory message from peer %u", whdr->src_peer);
        return;
    }
    if (ucpg_domain_ep_get(d, whdr->src_peer, whdr->src_uuid, &ep, &ref) != UCPG_OK) {
        return;                           /* it went down meanwhile */
    }
    switch (msg.type) {
    case UCPG_WIRE_SHM_OFFER:
        ucpg_am_shm_recv_offer(d, ref, &msg);
        break;
    case UCPG_WIRE_SHM_ACCEPT:
    case UCPG_WIRE_SHM_REFUSE:
        ucpg_am_shm_recv_answer(d, ref, msg.type == UCPG_WIRE_SHM_ACCEPT);
        break;
    case UCPG_WIRE_SHM_DONE:
        ucpg_am_shm_recv_done(d, ref, &msg);
        break;
    default:                              /* BODY (the decoder checked the type) */
        buf = ucpg_am_shm_copy_body(d, ref, &msg);
        if (buf != NULL) {
            UCPG_AM_SHM_COUNT(d, bodies_received);
            ucpg_am_deliver(&d->am[msg.am_id], whdr->src_peer,
                            (const uint8_t*)hdr + UCPG_WIRE_SHM_LEN,
                            hdr_len - UCPG_WIRE_SHM_LEN, buf->data, buf->len, buf);
            ucpg_buf_put(buf);
        }
        break;
    }
    ucpg_domain_ep_put(d, ref);
}

/* --- endpoint end ------------------------------------------------------------------- */

void ucpg_am_shm_ep_cleanup(ucpg_ep_ref_t *ref)
{
    struct ucpg_am_shm_sent *s;

    ucpg_shm_view_detach(&ref->shm.view);
    while ((s = ref->shm.sent) != NULL) {
        ref->shm.sent = s->next;
        ucpg_buf_put(s->buf);
        free(s);
    }
}
