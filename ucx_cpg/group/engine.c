/*
 * engine.c - the per-process group engine: holds the domain while any group
 * handle exists, dispatches group messages and peer events to the groups,
 * and sends what the groups queued once the engine lock is released.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"
#include "hostgroups.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/directory.h"
#include "core/am.h"
#include "core/log.h"
#include "core/mutex.h"
#include "core/proc.h"

/* The lock is adaptive, not recursive: the application thread and the
 * dispatcher hold it for microseconds, so a short spin beats a futex
 * sleep (measured +5-12% msgs/s in cpg_bench at 1-2 members). glibc has
 * no adaptive recursive mutex, so ucpg_group_lock_depth counts nesting. */
ucpg_group_engine_t ucpg_group_engine = {
    .lock     = UCPG_MUTEX_ADAPTIVE_INITIALIZER,
    .listener = -1
};

/* Guards the engine's life (users, domain, handler, listener); never taken
 * with the engine lock held, because unlisten waits for a running peer
 * event, which may be waiting for the engine lock. */
static pthread_mutex_t ucpg_group_life_lock = PTHREAD_MUTEX_INITIALIZER;


static __thread int       ucpg_group_lock_depth;
#define UCPG_GROUP_DEFER_NS       20000u     /* sends closer than this are packed */

void ucpg_group_msg_init(const ucpg_group_t *g, uint8_t type, ucpg_group_msg_t *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->type   = type;
    msg->gindex = g->gindex;
    msg->ggen   = g->ggen;
}

/* --- sending: the outbox (outbox.c) is flushed here ---------------------------------- */

static void ucpg_group_release_try(void);

/* The progress thread's hook: whatever its round queued leaves together. */
static void ucpg_group_out_hook(void *arg)
{
    (void)arg;
    ucpg_group_host_ring_owed_all(); /* rings host-group sends left to us */
    ucpg_group_release_try();        /* releases that found the lock taken */
    if (ucpg_group_out_pending()) {
        ucpg_group_out_flush();
    }
}

/*
 * After an application thread released the engine lock. At a low rate it
 * sends at once (latency first); when it sends again within
 * UCPG_GROUP_DEFER_NS it leaves the queue to the progress thread, so a burst
 * of messages goes out packed instead of one active message each.
 */
static void ucpg_group_out_release(void)
{
    static uint64_t last_ns;
    ucpg_domain_t *d = ucpg_group_engine.domain;
    uint64_t now, prev;

    if (!ucpg_group_out_pending()) {
        return;
    }
    if ((d != NULL) && (ucpg_domain_in_progress_thread(d) || ucpg_domain_progress_busy(d))) {
        return;                                   /* the hook runs after this round */
    }
    now  = ucpg_time_ns();
    prev = __atomic_exchange_n(&last_ns, now, __ATOMIC_ACQ_REL);
    if ((d == NULL) || (now - prev > UCPG_GROUP_DEFER_NS)) {
        ucpg_group_out_flush();
    } else if (!ucpg_domain_progress_awake(d) && ucpg_group_out_kick_claim()) {
        ucpg_domain_kick(d);                      /* asleep: the hook would not run */
    }
}

void ucpg_group_engine_lock(void)
{
    if (ucpg_group_lock_depth++ == 0) {
        pthread_mutex_lock(&ucpg_group_engine.lock);
    }
}

/* Frees the groups the façade let go of once nothing refers to them. */
static void ucpg_group_sweep(void)
{
    ucpg_group_t *g, *next;

    if (ucpg_group_engine.releasing) {
        return;               /* release waits on a group's condition */
    }
    for (g = ucpg_group_engine.groups; g != NULL; g = next) {
        next = g->next;
        if (g->destroyed && (g->outstanding == 0) && (g->state == UCPG_GROUP_GONE)) {
            ucpg_group_free(g);
        }
    }
}

/* --- calls deferred past the lock -------------------------------------------- */

/*
 * Wake-ups the progress thread asks for under the engine lock run once it
 * lets go of it. A dispatcher woken by a new event runs at once if it
 * shares the waker's CPU, meets the lock (or the handle's, taken under it),
 * and hands the CPU back: four context switches and four futex calls per
 * wake-up, 31 000 futex calls a second in an 8-member flood with members
 * bound to CPUs (5 000 deferred; 1% to 7% more messages, alternated runs,
 * docs/cpg-bench.md session 23). An application
 * thread's wake-ups are not deferred: woken after the unlock, its own
 * dispatcher would preempt a flooding sender at every message, where woken
 * under the lock it waits and later runs a batch (two bound members: 30%
 * slower deferred). Deferred calls are few: one per handle and quiet period.
 */
#define UCPG_GROUP_DEFER_MAX 16

typedef struct ucpg_group_deferred {
    ucpg_group_deferred_fn_t fn;
    void                    *arg;
} ucpg_group_deferred_t;

static __thread ucpg_group_deferred_t ucpg_group_deferred[UCPG_GROUP_DEFER_MAX];
static __thread unsigned              ucpg_group_ndeferred;

int ucpg_group_defer(ucpg_group_deferred_fn_t fn, void *arg)
{
    ucpg_domain_t *d = ucpg_group_engine.domain;

    if ((ucpg_group_lock_depth == 0) || (ucpg_group_ndeferred == UCPG_GROUP_DEFER_MAX) ||
        (d == NULL) || !ucpg_domain_in_progress_thread(d)) {
        return 0;
    }
    ucpg_group_deferred[ucpg_group_ndeferred].fn  = fn;
    ucpg_group_deferred[ucpg_group_ndeferred].arg = arg;
    ++ucpg_group_ndeferred;
    return 1;
}

/* Runs what was deferred (a call may take the lock and defer more: each
 * round runs a copy). */
static void ucpg_group_run_deferred(void)
{
    ucpg_group_deferred_t calls[UCPG_GROUP_DEFER_MAX];
    unsigned i, n;

    while ((n = ucpg_group_ndeferred) > 0) {
        memcpy(calls, ucpg_group_deferred, n * sizeof(calls[0]));
        ucpg_group_ndeferred = 0;
        for (i = 0; i < n; ++i) {
            calls[i].fn(calls[i].arg);
        }
    }
}

/* --- events released by the façade ------------------------------------------ */

/*
 * A dispatcher that ran a batch of callbacks gives the events back without
 * waiting for the engine lock: it pushes them on a lock-free stack and
 * takes the lock only if it is free. Whoever holds the lock takes the stack
 * before unlocking, and looks once more after unlocking (a push that found
 * the lock taken while the holder was already past its look). Waiting for
 * the lock here was the most contended wait of the library: every batch of
 * callbacks met the progress thread or the sender holding it.
 */
static void ucpg_group_release_drain(void)
{
    ucpg_group_event_t *list, *ev, *ordered = NULL;

    list = __atomic_exchange_n(&ucpg_group_engine.released, NULL, __ATOMIC_ACQ_REL);
    while ((ev = list) != NULL) {            /* a stack: back to release order */
        list             = ev->release_next;
        ev->release_next = ordered;
        ordered          = ev;
    }
    ucpg_group_events_consume(ordered);
}

/* Under the lock, before the outermost unlock. */
static void ucpg_group_engine_settle(void)
{
    ucpg_group_release_drain();
    ucpg_group_sweep();
}

static int ucpg_group_release_waiting(void)
{
    return __atomic_load_n(&ucpg_group_engine.released, __ATOMIC_SEQ_CST) != NULL;
}

/* Takes the lock if it is free and something waits to be taken; settles. */
static void ucpg_group_release_try(void)
{
    while (ucpg_group_release_waiting() &&
           (pthread_mutex_trylock(&ucpg_group_engine.lock) == 0)) {
        ++ucpg_group_lock_depth;
        ucpg_group_engine_settle();
        --ucpg_group_lock_depth;
        pthread_mutex_unlock(&ucpg_group_engine.lock);
        ucpg_group_out_release();            /* acknowledgements it queued */
        ucpg_group_run_deferred();
    }
}

void ucpg_group_events_release(ucpg_group_event_t *const *events, size_t n)
{
    ucpg_group_event_t *first, *last, *head;
    size_t i;

    if (n == 0) {
        return;
    }
    first = events[n - 1];                   /* the stack is taken in reverse */
    last  = events[0];
    for (i = n - 1; i > 0; --i) {
        events[i]->release_next = events[i - 1];
    }
    head = __atomic_load_n(&ucpg_group_engine.released, __ATOMIC_RELAXED);
    do {
        last->release_next = head;
    } while (!__atomic_compare_exchange_n(&ucpg_group_engine.released, &head, first, 1,
                                          __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    if (ucpg_group_lock_depth != 0) {
        return;                              /* our own unlock takes them */
    }
    if (ucpg_proc_cpus() < 2) {
        /* Bound to one CPU, waiting for the lock hands that CPU to its
         * holder, which is what has to run next: skipping the wait made
         * a CPG ping-pong between two pinned processes 25% slower. */
        ucpg_group_engine_lock();
        ucpg_group_engine_unlock();
    } else {
        ucpg_group_release_try();
    }
}

int ucpg_group_engine_wait(pthread_cond_t *cond, uint64_t deadline_ns)
{
    uint64_t now, until;
    struct timespec ts;
    int ret;

    for (;;) {
        ucpg_group_release_drain();
        ucpg_group_run_deferred();           /* lock held: a wake-up may not wait */
        now = ucpg_time_ns();
        if (now >= deadline_ns) {
            return ETIMEDOUT;
        }
        until      = (deadline_ns - now > 10000000ull) ? now + 10000000ull : deadline_ns;
        ts.tv_sec  = (time_t)(until / 1000000000ull);
        ts.tv_nsec = (long)(until % 1000000000ull);
        ret        = pthread_cond_timedwait(cond, &ucpg_group_engine.lock, &ts);
        if ((ret != ETIMEDOUT) || (until == deadline_ns)) {
            return ret;
        }
    }
}

void ucpg_group_engine_unlock(void)
{
    if (ucpg_group_lock_depth > 1) {
        --ucpg_group_lock_depth;             /* an inner section: the outermost settles */
        return;
    }
    ucpg_group_engine_settle();
    --ucpg_group_lock_depth;
    pthread_mutex_unlock(&ucpg_group_engine.lock);
    ucpg_group_out_release();                /* sends first: they reach other processes */
    ucpg_group_release_try();
    ucpg_group_run_deferred();
}

/* --- groups ----------------------------------------------------------------- */

ucpg_group_t *ucpg_group_find(uint32_t gindex, uint64_t ggen)
{
    ucpg_group_t *g;

    (void)gindex;
    for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
        /* gen alone names a group: its directory index may differ between
         * coordinator nodes over the group's life (boot/directory.h) */
        if ((g->ggen == ggen) && (g->state != UCPG_GROUP_GONE)) {
            return g;
        }
    }
    return NULL;
}

static void ucpg_group_refuse(ucpg_peer_id_t src, const ucpg_group_msg_t *req)
{
    ucpg_group_msg_t msg = *req;

    memset(&msg.origin, 0, sizeof(msg.origin));
    msg.type = UCPG_GROUP_MSG_NOT_SEQ;
    msg.kind = UCPG_GROUP_KIND_DATA;
    msg.guarantee = 0;
    msg.b    = 0;
    ucpg_group_send(src, 0, &msg, NULL);
}

ucpg_buf_t *ucpg_group_body_keep(ucpg_buf_t *body, const void *data, size_t len)
{
    ucpg_buf_t *buf;

    if (body != NULL) {
        return ucpg_buf_ref(body);       /* the receive path made it ours already */
    }
    buf = ucpg_am_buf_new(ucpg_group_engine.domain, len);
    if (buf != NULL) {
        ucpg_buf_copy(buf->data, data, len);
    }
    return buf;
}

static void ucpg_group_recv_req(ucpg_group_t *g, const ucpg_peer_info_t *src,
                                const ucpg_group_msg_t *msg, const void *data, size_t len,
                                ucpg_buf_t *body)
{
    ucpg_group_req_t req;
    int ours = (g != NULL) && (g->is_seq || g->recovering);

    if (!ours && ((g == NULL) || (msg->kind == UCPG_GROUP_KIND_JOIN) ||
                  (msg->b <= g->view_id))) {
        if (msg->kind == UCPG_GROUP_KIND_JOIN) {
            ucpg_group_refuse(src->id, msg);   /* look the group up again */
        }
        return;   /* members resend what is pending when the view changes */
    }
    memset(&req, 0, sizeof(req));
    req.slot      = src->id;
    req.uuid      = src->uuid;
    req.nodeid    = src->nodeid;
    req.pid       = (uint32_t)src->pid;
    req.lseq      = msg->a;
    req.kind      = msg->kind;
    req.guarantee = msg->guarantee;
    if (len > 0) {
        req.buf = ucpg_group_body_keep(body, data, len);
        if (req.buf == NULL) {
            ucpg_error("out of memory receiving a group request");
            return;
        }
    }
    if (ours) {
        ucpg_group_seq_recv_req(g, &req);
    } else {
        ucpg_group_handover_hold_early(g, &req, msg->b);   /* from a later view */
    }
    ucpg_buf_put(req.buf);
}

/* One message from peer src, with the engine locked. */
static void ucpg_group_recv_one(const ucpg_peer_info_t *info, const ucpg_group_msg_t *msg,
                                void *data, size_t len, ucpg_buf_t *body)
{
    ucpg_group_t *g = ucpg_group_find(msg->gindex, msg->ggen);
    ucpg_peer_id_t src = info->id;

    if ((g == NULL) || (msg->type > UCPG_GROUP_MSG_EVT)) {
        ucpg_debug("group message type %u from peer %u for group %u.%" PRIx64 "%s", msg->type,
                   src, msg->gindex, msg->ggen, (g == NULL) ? " (no such group here)" : "");
    }
    if ((g != NULL) && ucpg_group_silence_expelled(g, src, info->uuid)) {
        return;        /* it may number events past the cut: none may count */
    }

    switch (msg->type) {
    case UCPG_GROUP_MSG_REQ:
        ucpg_group_recv_req(g, info, msg, data, len, body);
        break;
    case UCPG_GROUP_MSG_EVT:
        if (g != NULL) {
            ucpg_group_member_recv_evt(g, src, msg, data, len, body);
        }
        break;
    case UCPG_GROUP_MSG_ACK:
        if ((g != NULL) && g->is_seq) {
            ucpg_group_seq_recv_ack(g, src, info->uuid, msg->a, msg->b,
                                    (msg->flags & UCPG_GROUP_FLAG_REPAIR) != 0);
        } else if ((g != NULL) && (msg->flags & UCPG_GROUP_FLAG_REPAIR)) {
            ucpg_group_handover_serve_repair(g, src, info->uuid, msg->a);
        }
        break;
    case UCPG_GROUP_MSG_STABLE:
        if ((g != NULL) && !g->recovering && (src == g->seq_slot)) {
            ucpg_group_member_recv_stable(g, msg->a);
        }
        break;
    case UCPG_GROUP_MSG_SYNC_REQ:
        if (g != NULL) {
            ucpg_group_recovery_recv_req(g, src, info->uuid, msg->a);
        }
        break;
    case UCPG_GROUP_MSG_SYNC_REP:
        if (g != NULL) {
            ucpg_group_recovery_recv_rep(g, src, info->uuid, msg, data, len);
        }
        break;
    case UCPG_GROUP_MSG_NOT_SEQ:
        if ((g != NULL) && (g->state == UCPG_GROUP_JOINING)) {
            g->join_retry = 1;
            pthread_cond_broadcast(&g->cond);
        }
        break;
    case UCPG_GROUP_MSG_SILENT:
    case UCPG_GROUP_MSG_PROBE:
    case UCPG_GROUP_MSG_ALIVE:
    case UCPG_GROUP_MSG_EXPEL:
    case UCPG_GROUP_MSG_UNANSWERED:
        if (g != NULL) {
            ucpg_group_silence_recv(g, src, info->uuid, msg);
        }
        break;
    }
}

/*
 * A BATCH: each message inside as if it came alone. A malformed entry ends
 * the batch (what came before it stands: each entry was whole). The bodies
 * that are kept as buffers (requests, large events) become slices of one
 * copy of the batch (core/buf.h) instead of a buffer and a copy each: at 8
 * members a third of a member's time went to allocating and freeing those.
 * The copy is made at the first such entry: a batch of small events, kept
 * inline (ucpg_group_evt_inline), needs none. The count the sender wrote
 * only sizes the block: entries beyond it are copied alone.
 */
static ucpg_buf_t *ucpg_group_batch_slice(ucpg_buf_t **block_p, uint64_t count, const void *data,
                                          size_t len, unsigned *nslices, const void *item,
                                          size_t item_len)
{
    uint64_t fit = len / UCPG_GROUP_BATCH_ENTRY_HDR;

    if (*block_p == NULL) {
        *block_p = ucpg_buf_block_new(data, len, (unsigned)((count < fit) ? count : fit));
    }
    if (*block_p == NULL) {
        return NULL;                   /* the receive path copies the body alone */
    }
    return ucpg_buf_block_slice(*block_p, (*nslices)++,
                                (size_t)((const uint8_t*)item - (const uint8_t*)data), item_len);
}

static void ucpg_group_recv_batch(const ucpg_peer_info_t *info, uint64_t count, void *data,
                                  size_t len)
{
    ucpg_buf_t *block = NULL, *slice;
    ucpg_group_msg_t msg;
    const void *item;
    size_t pos = 0, item_len;
    ucpg_status_t status;
    unsigned nslices = 0;
    int passed = ucpg_group_tree_forward_batch(info->id, info->uuid, data, len);

    while ((status = ucpg_group_batch_next(data, len, &pos, &msg, &item, &item_len)) ==
           UCPG_OK) {
        msg.flags |= passed ? UCPG_GROUP_FLAG_PASSED : 0;
        slice = NULL;
        if ((item_len > 0) && !ucpg_group_evt_inline(&msg, item_len)) {
            slice = ucpg_group_batch_slice(&block, count, data, len, &nslices, item, item_len);
        }
        ucpg_group_recv_one(info, &msg, (void*)item, item_len, slice);
        ucpg_buf_put(slice);
    }
    ucpg_buf_put(block);
    if (status != UCPG_ERR_NOT_FOUND) {
        ucpg_warn("malformed group batch from peer %u", info->id);
    }
}

/* Runs in the progress thread, possibly just after the engine let go of the
 * domain (unregistering does not wait for a running handler): everything
 * is checked under the engine lock. */
static void ucpg_group_am_recv(void *arg, ucpg_peer_id_t src, const void *hdr, size_t hdr_len,
                               void *data, size_t len, ucpg_buf_t *buf)
{
    ucpg_peer_info_t info;
    ucpg_group_msg_t msg;

    ucpg_group_engine_lock();
    if ((ucpg_group_engine.domain == NULL) || (ucpg_group_engine.domain != arg) ||
        (ucpg_domain_peer_info(ucpg_group_engine.domain, src, &info) != UCPG_OK)) {
        ucpg_group_engine_unlock();
        return;
    }
    /* No size check against our own group_max_msg: a peer may be configured
     * with a larger one, and dropping an ordered event would stall the group. */
    if (ucpg_group_msg_decode(hdr, hdr_len, &msg) != UCPG_OK) {
        ucpg_warn("dropping malformed group message from peer %u", src);
        ucpg_group_engine_unlock();
        return;
    }
    /* One clock read per active message: even the coarse clock, read for
     * each event of a batch, was 3% of all CPU in an 8-member flood. */
    ucpg_group_engine.recv_ns = ucpg_time_coarse_ns();
    if (msg.type == UCPG_GROUP_MSG_BATCH) {
        ucpg_group_recv_batch(&info, msg.a, data, len);
    } else {
        ucpg_group_recv_one(&info, &msg, data, len, buf);
    }
    ucpg_group_engine_unlock();
}

/*
 * A member of another node that became unreachable may be the first of a
 * whole node going down: its node's other processes are then seen down
 * within a keepalive interval or two. The sequencer waits that long (or
 * until the node has no live process) before removing it, so that the
 * node's members leave in one view with reason NODEDOWN, as corosync
 * reports a lost node.
 */
static int ucpg_group_node_may_follow(const ucpg_peer_info_t *peer, ucpg_peer_reason_t reason)
{
    return (reason == UCPG_PEER_REASON_UNREACHABLE) &&
           (peer->nodeid != ucpg_group_engine.nodeid) &&
           ucpg_boot_dir_node_up(ucpg_group_engine.domain, peer->nodeid);
}

/*
 * The domain's peer table runs ahead of the events we are handed: when a
 * node goes, its processes may all be gone from the table while we hear of
 * the first. Marking every such member dead now lets one view remove them
 * together (and with the right reason).
 */
static void ucpg_group_mark_departed(ucpg_group_t *g)
{
    ucpg_peer_info_t info;
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        ucpg_group_member_t *m = &g->members[i];
        if (!m->dead && (m->slot != ucpg_group_engine.self) &&
            ((ucpg_domain_peer_info(ucpg_group_engine.domain, m->slot, &info) != UCPG_OK) ||
             (info.uuid != m->uuid) || (info.state == UCPG_PEER_STATE_FREE))) {
            m->dead = 1;
        }
    }
}

/* As the sequencer: orders the view removing the members marked dead, at
 * once or, when settle is set, once their node had time to go as a whole
 * (ucpg_group_seq_check_settle). */
static void ucpg_group_seq_remove_dead(ucpg_group_t *g, int settle)
{
    unsigned settle_ms = 2 * ucpg_group_engine.config->keepalive_ms;

    if (!settle) {
        g->node_settle = 0;
        ucpg_group_seq_view(g, NULL, NULL);
    } else if (g->node_settle == 0) {
        g->node_settle = ucpg_time_ns() + settle_ms * 1000000ull;
        ucpg_group_timer_arm(settle_ms);
    }
}

/*
 * We just became the sequencer (a hand-over or a leave named us). A member
 * whose death reached us before that view did was marked dead then, with
 * the view removing it left to the sequencer of the time, which did not
 * know of it yet: nobody would ever order that view, and the group would go
 * on without the dead member and without a confchg. Order it now; a member
 * of another node that is still up may be the first of its node to go.
 */
void ucpg_group_seq_adopt_dead(ucpg_group_t *g)
{
    int any = 0, settle = 0;
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        const ucpg_group_member_t *m = &g->members[i];
        if (m->dead) {
            any     = 1;
            settle |= (m->nodeid != ucpg_group_engine.nodeid) &&
                      ucpg_boot_dir_node_up(ucpg_group_engine.domain, m->nodeid);
        }
    }
    if (any) {
        ucpg_group_seq_remove_dead(g, settle);
    }
}

static void ucpg_group_peer_down(const ucpg_peer_info_t *peer, ucpg_peer_reason_t reason)
{
    int settle = ucpg_group_node_may_follow(peer, reason);
    ucpg_group_member_t *m;
    ucpg_group_t *g;

    for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
        if ((g->state == UCPG_GROUP_JOINING) && (g->seq_slot == peer->id)) {
            g->join_retry = 1;               /* ask whoever orders it now */
            pthread_cond_broadcast(&g->cond);
            continue;
        }
        m = ucpg_group_member_find(g, peer->id, peer->uuid);
        if ((g->state == UCPG_GROUP_GONE) || (m == NULL) || m->dead) {
            continue;
        }
        m->dead = 1;
        ucpg_group_mark_departed(g);
        if (g->is_seq) {
            ucpg_group_seq_remove_dead(g, settle);
        } else {
            ucpg_group_recovery_peer_down(g);
        }
    }
}

/* The directory coordinator changed: our sequencers publish there. */
static void ucpg_group_dir_follow(void)
{
    uint32_t coord = ucpg_boot_dir_coordinator(ucpg_group_engine.domain);
    ucpg_group_t *g;

    if (coord == ucpg_group_engine.dir_coord) {
        return;
    }
    ucpg_group_engine.dir_coord = coord;
    for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
        /* JOINING too: a creator between its first view and its delivery */
        if (g->is_seq && (g->state != UCPG_GROUP_GONE) && (g->state != UCPG_GROUP_ABANDONED)) {
            ucpg_group_seq_republish(g);
        }
    }
}

/* The façade's node-set hook (ucpg_group_nodes_hook); set once, read by
 * the progress thread. */
static struct {
    void (*cb)(void *arg);
    void  *arg;
} ucpg_group_nodes_watcher;

void ucpg_group_nodes_hook(void (*cb)(void *arg), void *arg)
{
    ucpg_group_engine_lock();
    ucpg_group_nodes_watcher.arg = arg;
    __atomic_store_n(&ucpg_group_nodes_watcher.cb, cb, __ATOMIC_RELEASE);
    ucpg_group_engine_unlock();
}

/*
 * Tells the façade when a peer event changed the set of live nodes (the
 * totem view). Called without the engine lock: the hook takes the façade's
 * locks, and the domain stays up while our listener runs.
 */
static void ucpg_group_nodes_announce(ucpg_domain_t *d)
{
    void (*cb)(void *) = __atomic_load_n(&ucpg_group_nodes_watcher.cb, __ATOMIC_ACQUIRE);
    uint64_t epoch = 0;

    if ((cb == NULL) || (d == NULL)) {
        return;
    }
    ucpg_boot_dir_nodes(d, NULL, 0, &epoch);
    if (epoch != ucpg_group_engine.nodes_epoch) {
        ucpg_group_engine.nodes_epoch = epoch;
        cb(ucpg_group_nodes_watcher.arg);
    }
}

/* Tells the members of incarnations we replaced that run again, and forgets
 * those gone (silence.c). Called on every peer UP, so that a member is told
 * at once, not at the next timer tick (while it runs unaware, it may order
 * views of the old incarnation), and on every tick. */
static void ucpg_group_superseded_tell(void)
{
    ucpg_group_t *g;

    for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
        if (g->nsuperseded > 0) {
            ucpg_group_silence_tell_superseded(g);
        }
    }
}

static void ucpg_group_peer_event(void *arg, const ucpg_peer_info_t *peer,
                                  ucpg_peer_event_t event, ucpg_peer_reason_t reason)
{
    ucpg_domain_t *d;

    (void)arg;
    ucpg_group_engine_lock();
    if (event == UCPG_PEER_EVENT_DOWN) {
        ucpg_group_peer_down(peer, reason);
    } else {
        ucpg_group_superseded_tell();
    }
    ucpg_group_dir_follow();
    d = ucpg_group_engine.domain;
    ucpg_group_engine_unlock();
    if (event == UCPG_PEER_EVENT_DOWN) {
        ucpg_group_host_reap_all();     /* it may have been in our host groups */
    }
    ucpg_group_nodes_announce(d);
}

/* A sequencer that waited for a node to settle orders the view now. */
static void ucpg_group_seq_check_settle(ucpg_group_t *g, uint64_t now)
{
    if (ucpg_group_timer_due(&g->node_settle, now)) {
        ucpg_group_seq_view(g, NULL, NULL);
    }
}

/* Timer: stalled or lagging members, repairs, delayed acknowledgements. */
static void ucpg_group_timer(void *arg)
{
    ucpg_group_t *g;
    uint64_t now;

    (void)arg;
    ucpg_group_engine_lock();
    now = ucpg_time_ns();      /* under the lock: no stamp taken below can be later */
    ucpg_group_superseded_tell();
    for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
        g->ack_timer = 0;
        if (g->recovering) {
            ucpg_group_recovery_check(g, now);
        } else if (g->is_seq) {
            ucpg_group_seq_check_settle(g, now);
            ucpg_group_seq_check_stall(g, now);
            ucpg_group_seq_check_lag(g, now);
        } else if ((g->state == UCPG_GROUP_JOINED) || (g->state == UCPG_GROUP_LEAVING)) {
            ucpg_group_member_check_repair(g, now);
            ucpg_group_member_ack(g, 1);
            ucpg_group_silence_check(g, now);
            ucpg_group_recovery_check_deaf(g, now);
        }
    }
    ucpg_group_engine_unlock();
}

int ucpg_group_timer_due(uint64_t *at_p, uint64_t now)
{
    if (*at_p == 0) {
        return 0;
    }
    if (now < *at_p) {
        ucpg_group_timer_arm((unsigned)((*at_p - now) / 1000000ull) + 1);
        return 0;
    }
    *at_p = 0;
    return 1;
}

int ucpg_group_timer_arm(unsigned delay_ms)
{
    return (ucpg_group_engine.domain != NULL) &&
           (ucpg_domain_timer_arm(ucpg_group_engine.domain, ucpg_group_timer, NULL, delay_ms) ==
            UCPG_OK);
}

void ucpg_group_free(ucpg_group_t *g)
{
    ucpg_group_t **pp;
    ucpg_group_req_t *r;

    for (pp = &ucpg_group_engine.groups; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    g->own_found = NULL;
    while ((r = g->pending) != NULL) {
        g->pending = r->next;
        ucpg_group_req_free(r);
    }
    while ((r = g->held) != NULL) {
        g->held = r->next;
        ucpg_group_req_free(r);
    }
    ucpg_group_evbuf_clear(&g->evbuf);
    ucpg_group_evbuf_clear(&g->sync_union);
    ucpg_group_evbuf_clear(&g->fence_stash);
    free(g->evbuf.ring);
    free(g->sync_union.ring);
    free(g->fence_stash.ring);
    free(g->sync_waiting);
    free(g->sync_received);
    free(g->win_len);
    free(g->members);
    free(g->superseded);
    pthread_cond_destroy(&g->cond);
    free(g);
}

/* --- life ------------------------------------------------------------------- */

static ucpg_status_t ucpg_group_engine_start(void)
{
    ucpg_group_engine_t *e = &ucpg_group_engine;
    ucpg_peer_info_t self;
    ucpg_status_t status;

    status = ucpg_boot_domain_get(&e->domain);
    if (status != UCPG_OK) {
        e->domain = NULL;
        return status;
    }
    e->config   = ucpg_domain_config(e->domain);
    e->registry = ucpg_boot_registry(e->domain);
    e->self     = ucpg_domain_self(e->domain);
    e->nodeid   = ucpg_domain_nodeid(e->domain);
    e->pid      = (uint32_t)ucpg_proc_self();
    status      = ucpg_domain_peer_info(e->domain, e->self, &self);
    e->self_uuid = self.uuid;
    e->dir_coord = ucpg_boot_dir_coordinator(e->domain);
    /* the node set as of now is no news: only later changes are announced */
    ucpg_boot_dir_nodes(e->domain, NULL, 0, &e->nodes_epoch);
    if ((status == UCPG_OK) && (e->registry == NULL)) {
        ucpg_error("CPG groups need the local boot method's registry");
        status = UCPG_ERR_UNSUPPORTED;
    }
    if (status == UCPG_OK) {
        status = ucpg_am_register(e->domain, UCPG_AM_ID_GROUP, ucpg_group_am_recv, e->domain);
    }
    if (status == UCPG_OK) {
        status = ucpg_domain_listen(e->domain, ucpg_group_peer_event, NULL, 0, &e->listener);
        if (status != UCPG_OK) {
            ucpg_am_unregister(e->domain, UCPG_AM_ID_GROUP);
        }
    }
    if (status == UCPG_OK) {
        ucpg_domain_set_flush_hook(e->domain, ucpg_group_out_hook, NULL);
    }
    if (status != UCPG_OK) {
        ucpg_boot_domain_put(e->domain);
        e->domain = NULL;
    }
    return status;
}

ucpg_status_t ucpg_group_engine_acquire(void)
{
    ucpg_status_t status = UCPG_OK;

    pthread_mutex_lock(&ucpg_group_life_lock);
    if (ucpg_group_engine.users == 0) {
        status = ucpg_group_engine_start();
    } else {
        status = ucpg_domain_check_owner(ucpg_group_engine.domain);
    }
    if (status == UCPG_OK) {
        ++ucpg_group_engine.users;
    }
    pthread_mutex_unlock(&ucpg_group_life_lock);
    return status;
}

/* Gives leaves in flight a moment to be ordered, so that the others see
 * LEAVE (or PROCDOWN from a finalize) instead of our domain vanishing. */
static void ucpg_group_engine_drain_leaves(void)
{
    uint64_t deadline = ucpg_time_ns() + 1000000000ull;
    ucpg_group_t *g;
    int again = 1;

    ucpg_group_engine_lock();
    ucpg_group_engine.releasing = 1;
    while (again) {
        again = 0;
        for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
            if (g->state == UCPG_GROUP_LEAVING) {
                again = (ucpg_group_engine_wait(&g->cond, deadline) != ETIMEDOUT);
                break;            /* the list may have changed meanwhile */
            }
        }
    }
    ucpg_group_engine_unlock();
}

ucpg_status_t ucpg_group_use(void)
{
    return ucpg_group_engine_acquire();
}

void ucpg_group_unuse(void)
{
    ucpg_group_engine_release();
}

void ucpg_group_engine_release(void)
{
    ucpg_group_engine_t *e = &ucpg_group_engine;
    ucpg_domain_t *d;
    ucpg_group_t *g;

    pthread_mutex_lock(&ucpg_group_life_lock);
    if ((e->users == 0) || (--e->users > 0)) {
        pthread_mutex_unlock(&ucpg_group_life_lock);
        return;
    }
    d = e->domain;
    ucpg_group_engine_drain_leaves();
    ucpg_domain_unlisten(d, e->listener);
    ucpg_am_unregister(d, UCPG_AM_ID_GROUP);
    ucpg_domain_timer_cancel(d, ucpg_group_timer, NULL);
    ucpg_domain_set_flush_hook(d, NULL, NULL);
    ucpg_group_out_flush();                    /* what is queued still leaves */
    ucpg_group_out_wait_inflight(2000);
    ucpg_group_engine_lock();
    ucpg_group_release_drain();                /* the façade's last releases count */
    while ((g = e->groups) != NULL) {
        if (g->outstanding == 0) {
            ucpg_group_free(g);
            continue;
        }
        /* The façade still holds events of it (a dispatch racing a
         * finalize): detach it; the last event released frees it. */
        e->groups    = g->next;
        g->next      = NULL;
        g->orphan    = 1;
        g->destroyed = 1;
        g->state     = UCPG_GROUP_GONE;
        g->is_seq    = 0;
    }
    e->domain    = NULL;
    e->releasing = 0;
    ucpg_group_engine_unlock();   /* drops whatever is still queued */
    ucpg_group_engine_lock();
    ucpg_group_event_spares_free();
    ucpg_group_engine_unlock();
    ucpg_boot_domain_put(d);
    pthread_mutex_unlock(&ucpg_group_life_lock);
}
