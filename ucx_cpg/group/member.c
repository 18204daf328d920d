/*
 * member.c - the member side of a group: events arrive in any order (UCP
 * orders nothing), are kept by number, take effect in number order
 * ("received"), and reach the façade in number order ("delivered"), except
 * that a SAFE message waits until the sequencer says every member has it.
 * Every event is kept until it is both delivered and stable, because a new
 * sequencer may need it from us. Our own requests stay pending until they
 * come back in the stream, so none is lost when the sequencer changes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mcache.h"
#include "core/proc.h"

static int  ucpg_group_view_adds_self(const ucpg_group_event_t *ev);
static void ucpg_group_member_drop_below(ucpg_group_t *g, uint64_t seq);

/* --- the event buffer --------------------------------------------------------- */

static ucpg_status_t ucpg_group_evbuf_grow(ucpg_group_evbuf_t *b, uint64_t seq)
{
    uint64_t cap = (b->ring == NULL) ? 1024 : (b->mask + 1) * 2, i, lo = seq, hi = seq;
    ucpg_group_event_t **ring;

    for (i = 0; (b->ring != NULL) && (i <= b->mask); ++i) {
        if (b->ring[i] != NULL) {
            lo = (b->ring[i]->seq < lo) ? b->ring[i]->seq : lo;
            hi = (b->ring[i]->seq > hi) ? b->ring[i]->seq : hi;
        }
    }
    while (cap <= hi - lo) {
        cap *= 2;
    }
    ring = calloc(cap, sizeof(*ring));
    if (ring == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; (b->ring != NULL) && (i <= b->mask); ++i) {
        if (b->ring[i] != NULL) {
            ring[b->ring[i]->seq & (cap - 1)] = b->ring[i];
        }
    }
    free(b->ring);
    b->ring = ring;
    b->mask = cap - 1;
    return UCPG_OK;
}

/* Takes a reference; UCPG_ERR_EXISTS if seq is already there. */
ucpg_status_t ucpg_group_evbuf_put(ucpg_group_evbuf_t *b, ucpg_group_event_t *ev)
{
    ucpg_group_event_t *cur;
    ucpg_status_t status;

    for (;;) {
        cur = (b->ring != NULL) ? b->ring[ev->seq & b->mask] : NULL;
        if ((b->ring != NULL) && (cur == NULL)) {
            break;
        }
        if ((cur != NULL) && (cur->seq == ev->seq)) {
            return UCPG_ERR_EXISTS;
        }
        status = ucpg_group_evbuf_grow(b, ev->seq);
        if (status != UCPG_OK) {
            return status;
        }
    }
    b->ring[ev->seq & b->mask] = ev;
    ++ev->refs;
    ++b->count;
    return UCPG_OK;
}

ucpg_group_event_t *ucpg_group_evbuf_get(ucpg_group_evbuf_t *b, uint64_t seq)
{
    ucpg_group_event_t *ev = (b->ring != NULL) ? b->ring[seq & b->mask] : NULL;

    return ((ev != NULL) && (ev->seq == seq)) ? ev : NULL;
}

void ucpg_group_evbuf_remove(ucpg_group_evbuf_t *b, uint64_t seq)
{
    ucpg_group_event_t *ev = ucpg_group_evbuf_get(b, seq);

    if (ev != NULL) {
        b->ring[seq & b->mask] = NULL;
        --b->count;
        ucpg_group_event_put(ev);
    }
}

void ucpg_group_evbuf_clear(ucpg_group_evbuf_t *b)
{
    uint64_t i;

    for (i = 0; (b->ring != NULL) && (i <= b->mask) && (b->count > 0); ++i) {
        if (b->ring[i] != NULL) {
            ucpg_group_evbuf_remove(b, b->ring[i]->seq);
        }
    }
}

/* --- events ------------------------------------------------------------------- */

/*
 * Freed events kept for reuse (engine lock). One is made per message and
 * freed in another thread than the one that made it (the dispatcher's
 * release, the progress thread's gc), which glibc's per-thread caches do
 * not serve: each pair cost a trip to the shared arena.
 */
#define UCPG_GROUP_EVENT_SPARES 1024u

/* What a message's delivery and release touch shares one cache line (see
 * struct ucpg_group_event). */
_Static_assert(offsetof(ucpg_group_event_t, origin.pid) + sizeof(uint32_t) <= 64,
               "an event's hot fields must fit its first cache line");

static ucpg_group_event_t *ucpg_group_event_spares;
static unsigned            ucpg_group_event_nspares;

ucpg_group_event_t *ucpg_group_event_new(uint64_t seq, uint8_t kind, uint8_t guarantee,
                                         const ucpg_group_origin_t *origin,
                                         ucpg_buf_t *buf)
{
    ucpg_group_event_t *ev = ucpg_group_event_adopt(seq, kind, guarantee, origin, buf);

    if (ev != NULL) {
        ucpg_buf_ref(buf);
    }
    return ev;
}

_Static_assert(UCPG_GROUP_EVENT_INLINE >= 64, "an event must hold a 64-byte body inline");

/*
 * A spare was last written by whichever thread collected it, often the one
 * on the other CPU, thousands of messages ago: taking it stalled on its link
 * and on the lines the memset clears (the sender's event_alloc was 3% of all
 * CPU at 2 members). So each take asks for the next spare's lines, with
 * intent to write, while the message it is for is still being handled.
 */
static void ucpg_group_event_spare_prefetch(const ucpg_group_event_t *ev)
{
    size_t off;

    if (ev != NULL) {
        for (off = 0; off < UCPG_GROUP_EVENT_HEAD + 64; off += 64) {   /* a 64 B body's */
            __builtin_prefetch((const char*)ev + off, 1);
        }
    }
}

/*
 * Clears an event's fields (not its inline body, written next) with 16-byte
 * stores: gcc makes memset of this size a "rep stos", whose start-up cost
 * was most of ucpg_group_event_alloc's 4% of all CPU in an 8-member flood.
 * Events are at least 16-byte aligned (mcache blocks, or malloc's).
 */
typedef uint64_t ucpg_group_zero16_t __attribute__((vector_size(16), may_alias));

static void ucpg_group_event_zero(ucpg_group_event_t *ev)
{
    ucpg_group_zero16_t *p   = __builtin_assume_aligned(ev, 16);
    const ucpg_group_zero16_t zero = {0, 0};
    size_t i;

#pragma GCC unroll 16
    for (i = 0; i < (offsetof(ucpg_group_event_t, body) + 15) / 16; ++i) {
        p[i] = zero;
    }
}

_Static_assert((offsetof(ucpg_group_event_t, body) + 15) / 16 * 16 <= UCPG_GROUP_EVENT_SIZE,
               "the fields' clearing must stay inside the event");

/* A zeroed event from the spares or from mcache (NULL if out of memory). */
static ucpg_group_event_t *ucpg_group_event_alloc(void)
{
    ucpg_group_event_t *ev = ucpg_group_event_spares;

    if (ev != NULL) {
        ucpg_group_event_spares = ev->release_next;
        --ucpg_group_event_nspares;
        ucpg_group_event_spare_prefetch(ucpg_group_event_spares);
    } else if ((ev = ucpg_mcache_alloc(UCPG_GROUP_EVENT_SIZE)) == NULL) {
        return NULL;
    }
    ucpg_group_event_zero(ev);
    return ev;
}

static void ucpg_group_event_init(ucpg_group_event_t *ev, uint64_t seq, uint8_t kind,
                                  uint8_t guarantee, const ucpg_group_origin_t *origin)
{
    ev->refs      = 1;
    ev->seq       = seq;
    ev->kind      = kind;
    ev->guarantee = guarantee;
    ev->origin    = *origin;
    if (kind == UCPG_GROUP_KIND_VIEW) {     /* the fields share bytes with body[] */
        ev->addrs = NULL;
        memset(&ev->view, 0, sizeof(ev->view));
    }
}

/* Each reference taken and dropped on a body is an atomic operation on a
 * line the dispatching thread also writes: a received event adopts the
 * reference its receive path made rather than take one more. */
ucpg_group_event_t *ucpg_group_event_adopt(uint64_t seq, uint8_t kind, uint8_t guarantee,
                                           const ucpg_group_origin_t *origin,
                                           ucpg_buf_t *buf)
{
    ucpg_group_event_t *ev = ucpg_group_event_alloc();

    if (ev != NULL) {
        ucpg_group_event_init(ev, seq, kind, guarantee, origin);
        ucpg_group_event_set_buf(ev, buf);
    }
    return ev;
}

ucpg_group_event_t *ucpg_group_event_copy(uint64_t seq, uint8_t guarantee,
                                          const ucpg_group_origin_t *origin,
                                          const void *data, size_t len)
{
    ucpg_group_event_t *ev = ucpg_group_event_alloc();

    if (ev != NULL) {
        ucpg_group_event_init(ev, seq, UCPG_GROUP_KIND_DATA, guarantee, origin);
        memcpy(ev->body, data, len);
        ev->data = ev->body;
        ev->len  = len;
    }
    return ev;
}

int ucpg_group_event_body(const ucpg_group_event_t *ev, ucpg_buf_t **buf_p)
{
    if ((ev->buf != NULL) || (ev->len == 0)) {
        *buf_p = (ev->buf != NULL) ? ucpg_buf_ref(ev->buf) : NULL;
        return 1;
    }
    if ((*buf_p = ucpg_buf_new(ev->len)) == NULL) {
        ucpg_error("out of memory sending group event %" PRIu64 " on", ev->seq);
        return 0;
    }
    memcpy((*buf_p)->data, ev->data, ev->len);
    return 1;
}

void ucpg_group_event_put(ucpg_group_event_t *ev)
{
    if ((ev == NULL) || (--ev->refs != 0)) {
        return;
    }
    ucpg_buf_put(ev->buf);
    if (ev->kind == UCPG_GROUP_KIND_VIEW) {
        free(ev->addrs);
    }
    if (ucpg_group_event_nspares < UCPG_GROUP_EVENT_SPARES) {
        ev->release_next        = ucpg_group_event_spares;
        ucpg_group_event_spares = ev;
        ++ucpg_group_event_nspares;
    } else {
        ucpg_mcache_free(ev, UCPG_GROUP_EVENT_SIZE);
    }
}

void ucpg_group_event_spares_free(void)
{
    ucpg_group_event_t *ev;

    while ((ev = ucpg_group_event_spares) != NULL) {
        ucpg_group_event_spares = ev->release_next;
        ucpg_mcache_free(ev, UCPG_GROUP_EVENT_SIZE);
    }
    ucpg_group_event_nspares = 0;
}

/* --- membership lookups ------------------------------------------------------ */

int ucpg_group_member_index(ucpg_group_t *g, uint32_t slot, uint64_t uuid)
{
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        if ((g->members[i].slot == slot) && ((uuid == 0) || (g->members[i].uuid == uuid))) {
            return (int)i;
        }
    }
    return -1;
}

ucpg_group_member_t *ucpg_group_member_find(ucpg_group_t *g, uint32_t slot, uint64_t uuid)
{
    int i = ucpg_group_member_index(g, slot, uuid);

    return (i < 0) ? NULL : &g->members[i];
}

/*
 * Recovery fences a member once it has answered the successor (or is the
 * successor): from then on only the successor's events count, because what
 * it reported is all the cut may build on. Until then, while it merely
 * waits for a successor to ask, events passed on by other members are still
 * taken: they will be in its answer.
 */
int ucpg_group_fenced(const ucpg_group_t *g)
{
    return g->recovering && g->fenced;
}

/* --- requests ---------------------------------------------------------------- */

void ucpg_group_member_send_req(ucpg_group_t *g, const ucpg_group_req_t *req)
{
    ucpg_group_msg_t msg;

    ucpg_group_msg_init(g, UCPG_GROUP_MSG_REQ, &msg);
    msg.kind      = req->kind;
    msg.guarantee = req->guarantee;
    msg.a         = req->lseq;
    msg.b         = g->view_id;      /* a sequencer to be may get it first: handover.c */
    ucpg_group_send(g->seq_slot, g->seq_uuid, &msg, req->buf);
}

void ucpg_group_member_await(ucpg_group_t *g)
{
    g->last_heard = ucpg_time_coarse_ns();
    ucpg_group_timer_arm(1000);           /* ucpg_group_recovery_check_deaf */
}

ucpg_group_req_t *ucpg_group_req_new(void)
{
    ucpg_group_req_t *req = ucpg_mcache_alloc(sizeof(*req));

    if (req != NULL) {
        memset(req, 0, sizeof(*req));
    }
    return req;
}

void ucpg_group_req_free(ucpg_group_req_t *req)
{
    if (req != NULL) {
        ucpg_buf_put(req->buf);
        ucpg_mcache_free(req, sizeof(*req));
    }
}

void ucpg_group_member_enqueue(ucpg_group_t *g, ucpg_group_req_t *req)
{
    req->next       = NULL;
    *g->pending_tail = req;
    g->pending_tail  = &req->next;
    if ((g->pending_count++ == 0) && (!g->is_seq || g->recovering)) {
        ucpg_group_member_await(g);      /* a sequencer answers itself at once */
    }
    g->pending_bytes += (req->buf != NULL) ? req->buf->len : 0;
    if (g->recovering) {
        return;                         /* sent to the next sequencer */
    }
    if (g->is_seq) {
        ucpg_group_seq_recv_req(g, req);
    } else {
        ucpg_group_member_send_req(g, req);
    }
}

void ucpg_group_member_resend(ucpg_group_t *g)
{
    uint64_t cursor = 0;
    ucpg_group_req_t *r;

    for (;;) {
        for (r = g->pending; (r != NULL) && (r->lseq < cursor); r = r->next) {
        }
        if (r == NULL) {
            return;
        }
        cursor = r->lseq + 1;     /* r may be freed by ordering it ourselves */
        if (g->is_seq) {
            ucpg_group_seq_recv_req(g, r);
        } else {
            ucpg_group_member_send_req(g, r);
        }
    }
}

ucpg_status_t ucpg_group_member_leave(ucpg_group_t *g, uint32_t reason)
{
    ucpg_group_req_t *req = ucpg_group_req_new();

    if (req == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    req->slot      = ucpg_group_engine.self;
    req->uuid      = ucpg_group_engine.self_uuid;
    req->nodeid    = ucpg_group_engine.nodeid;
    req->pid       = ucpg_group_engine.pid;
    req->lseq      = g->next_lseq++;
    req->kind      = UCPG_GROUP_KIND_LEAVE;
    req->guarantee = (uint8_t)reason;
    g->state       = UCPG_GROUP_LEAVING;
    ucpg_group_member_enqueue(g, req);
    return UCPG_OK;
}

/* Our request lseq came back in the stream: it is done. */
static void ucpg_group_member_pending_done(ucpg_group_t *g, uint64_t lseq)
{
    ucpg_group_req_t *r;

    while (((r = g->pending) != NULL) && (r->lseq <= lseq)) {
        g->pending = r->next;
        if (r == g->own_found) {
            g->own_found = NULL;
        }
        if (g->pending == NULL) {
            g->pending_tail = &g->pending;
        }
        g->pending_count--;
        g->pending_bytes -= (r->buf != NULL) ? r->buf->len : 0;
        ucpg_group_req_free(r);
    }
}

/* --- views --------------------------------------------------------------------- */

/* The façade's form of the view: three sorted address lists. */
static ucpg_status_t ucpg_group_view_export(ucpg_group_event_t *ev, const ucpg_group_vbody_t *v)
{
    size_t n = (size_t)v->nmembers + v->nleft + v->njoined, i;

    ev->addrs = calloc(n ? n : 1, sizeof(*ev->addrs));
    if (ev->addrs == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < n; ++i) {
        ev->addrs[i].nodeid = v->members[i].nodeid;
        ev->addrs[i].pid    = v->members[i].pid;
        ev->addrs[i].reason = v->members[i].reason;
    }
    ev->view.view_id  = v->view_id;
    ev->view.members  = ev->addrs;
    ev->view.nmembers = v->nmembers;
    ev->view.left     = ev->addrs + v->nmembers;
    ev->view.nleft    = v->nleft;
    ev->view.joined   = ev->addrs + v->nmembers + v->nleft;
    ev->view.njoined  = v->njoined;
    qsort(ev->addrs, v->nmembers, sizeof(*ev->addrs), ucpg_group_addr_cmp);
    qsort(ev->addrs + v->nmembers, v->nleft, sizeof(*ev->addrs), ucpg_group_addr_cmp);
    qsort(ev->addrs + v->nmembers + v->nleft, v->njoined, sizeof(*ev->addrs),
          ucpg_group_addr_cmp);
    return UCPG_OK;
}

static int ucpg_group_vlist_has_self(const ucpg_group_vmember_t *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        if (ucpg_group_is_self(list[i].slot, list[i].uuid)) {
            return 1;
        }
    }
    return 0;
}

/* Replaces the member array by the view's, keeping per-member state. */
static ucpg_status_t ucpg_group_view_install(ucpg_group_t *g, const ucpg_group_vbody_t *v,
                                             uint64_t seq)
{
    ucpg_group_member_t *members = calloc(v->nmembers ? v->nmembers : 1, sizeof(*members));
    const ucpg_group_member_t *old;
    size_t i;

    if (members == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < v->nmembers; ++i) {
        old = ucpg_group_member_find(g, v->members[i].slot, v->members[i].uuid);
        if (old != NULL) {
            members[i] = *old;
        } else {
            members[i].received   = seq - 1;     /* a joiner starts at this view */
            members[i].consumed   = seq - 1;
            members[i].joined_seq = seq;
        }
        members[i].slot      = v->members[i].slot;
        members[i].uuid      = v->members[i].uuid;
        members[i].nodeid    = v->members[i].nodeid;
        members[i].pid       = v->members[i].pid;
        members[i].next_lseq   = v->members[i].next_lseq;
        members[i].passed_over = 0;          /* a new view: new suspicions */
        members[i].answered    = 0;
    }
    free(g->members);
    g->members     = members;
    g->nmembers    = v->nmembers;
    g->view_id     = v->view_id;
    return UCPG_OK;
}

/* Fenced for a successor that the view just applied no longer lists. */
static int ucpg_group_successor_left(ucpg_group_t *g)
{
    return g->fenced && (g->seq_slot != ucpg_group_engine.self) &&
           (ucpg_group_member_find(g, g->seq_slot, g->seq_uuid) == NULL);
}

/* The first member orders the group; follow it when it changes. */
static void ucpg_group_follow_sequencer(ucpg_group_t *g)
{
    const ucpg_group_member_t *first = &g->members[0];
    int same = (g->nmembers > 0) && (first->slot == g->seq_slot) && (first->uuid == g->seq_uuid);

    if (g->recovering && !g->fenced && (g->nmembers > 0) && !same && !first->dead) {
        /* We took the sequencer's exit for a death, but it was a leave and
         * its hand-over view has now reached us (through the tree, behind
         * the exit): nobody is recovering, follow the new one. */
        g->recovering      = 0;
        g->sync_from_valid = 0;
    }
    if (g->recovering && ucpg_group_successor_left(g) && (g->nmembers > 0) && !first->dead) {
        /* The successor was removed inside the cut (the dead sequencer had
         * ordered its leave) and has ordered its last view anyway, naming
         * the next one: follow that one. */
        g->recovering = 0;
        g->fenced     = 0;
        ucpg_group_member_unstash(g);
    }
    if (g->recovering) {
        /* The successor's own view ends recovery at a member; views inside
         * the retransmitted stream still name the dead one first. */
        if (same && !g->is_seq && (g->seq_slot != ucpg_group_engine.self)) {
            g->recovering = 0;
            g->fenced     = 0;
            ucpg_group_member_unstash(g);
            ucpg_group_member_ack(g, 1);
            ucpg_group_member_resend(g);
        }
        return;
    }
    if ((g->nmembers == 0) || same) {
        return;
    }
    g->seq_slot = first->slot;
    g->seq_uuid = first->uuid;
    if (ucpg_group_is_self(first->slot, first->uuid)) {
        if (!g->is_seq) {
            ucpg_group_seq_become(g);      /* hand-off: the old one left, or handed over */
            ucpg_group_member_resend(g);
            ucpg_group_seq_drain(g);       /* and what others sent us early */
            ucpg_group_seq_adopt_dead(g);  /* deaths we learned of before this view */
        }
        return;
    }
    if (g->is_seq) {
        ucpg_group_seq_step_down(g);       /* our own hand-over view */
    }
    ucpg_group_member_ack(g, 1);           /* the new one knows nothing of us */
    g->ack_renew = 1;                      /* ... and may not be one yet: say it again */
    ucpg_group_member_resend(g);
    /* It died before its view reached us: recover, but only once every event
     * we hold in order has taken effect (the next may be its own hand-over). */
    g->seq_died_early = first->dead;
}

static void ucpg_group_process_view(ucpg_group_t *g, ucpg_group_event_t *ev)
{
    ucpg_group_vbody_t v;
    int left, joined;

    if ((ucpg_group_vbody_decode(ev->data, ev->len, &v) != UCPG_OK) ||
        (ucpg_group_view_export(ev, &v) != UCPG_OK) ||
        (ucpg_group_view_install(g, &v, ev->seq) != UCPG_OK)) {
        ucpg_error("cannot apply view %" PRIu64 " of a group", ev->seq);
        free(v.members);
        return;
    }
    left   = ucpg_group_vlist_has_self(v.members + v.nmembers, v.nleft);
    joined = ucpg_group_vlist_has_self(v.members + v.nmembers + v.nleft, v.njoined);
    ev->handover = (v.nleft == 0) && (v.njoined == 0);     /* see handover.c */
    free(v.members);
    if (left) {
        /* Our stream ends here, so nothing before it may wait for a
         * stability we will never hear of: every member was sent it (and
         * after a failure the cut gives it to every survivor). */
        g->stable          = ev->seq;
        ev->view.self_left = 1;
        g->state           = UCPG_GROUP_GONE;
        g->is_seq          = 0;
        ucpg_group_seq_refuse_held(g);
        pthread_cond_broadcast(&g->cond);
        return;
    }
    if (joined && (g->state == UCPG_GROUP_JOINING)) {
        g->state = UCPG_GROUP_JOINED;
        pthread_cond_broadcast(&g->cond);
    } else if (joined && (g->state == UCPG_GROUP_ABANDONED)) {
        g->state     = UCPG_GROUP_JOINED;     /* too late for the caller: leave again */
        g->destroyed = 1;
        ucpg_group_member_leave(g, UCPG_GROUP_REASON_PROCDOWN);
    }
    ucpg_group_follow_sequencer(g);
    ucpg_group_handover_drop_early(g);
}

/* Event seq takes effect: membership, sender numbering, our pending list. */
static void ucpg_group_process(ucpg_group_t *g, ucpg_group_event_t *ev)
{
    ucpg_group_member_t *m;

    if (ev->kind == UCPG_GROUP_KIND_VIEW) {
        ucpg_group_process_view(g, ev);
        return;
    }
    ucpg_group_tree_forward(g, ev);
    m = ucpg_group_member_find(g, ev->origin.slot, ev->origin.uuid);
    if ((m != NULL) && (ev->origin.lseq >= m->next_lseq)) {
        m->next_lseq = ev->origin.lseq + 1;
    }
    if (ucpg_group_is_self(ev->origin.slot, ev->origin.uuid)) {
        ucpg_group_member_pending_done(g, ev->origin.lseq);
    }
}

/* --- delivery ---------------------------------------------------------------- */

/*
 * An event turns stable thousands of messages after it arrived, by which
 * time it has left this CPU's caches (or was last written by the
 * dispatcher's CPU): removing it stalled on the load of its seq, 8.5% of all
 * CPU in an 8-member flood. Stability comes in steps of many events, so the
 * collection asks for the lines of an event UCPG_GROUP_GC_AHEAD ahead while
 * it frees the current one.
 */
#define UCPG_GROUP_GC_AHEAD 16

static void ucpg_group_evbuf_prefetch(const ucpg_group_evbuf_t *b, uint64_t seq)
{
    const ucpg_group_event_t *ev = (b->ring != NULL) ? b->ring[seq & b->mask] : NULL;

    if (ev != NULL) {
        __builtin_prefetch(ev, 1);                       /* refs, the spares' link */
        __builtin_prefetch(&ev->seq, 0);
    }
}

static void ucpg_group_member_gc(ucpg_group_t *g)
{
    uint64_t upto = (g->stable < g->delivered) ? g->stable : g->delivered;
    uint64_t seq;

    for (seq = g->gc_through + 1; (seq <= upto) && (seq <= g->gc_through + UCPG_GROUP_GC_AHEAD);
         ++seq) {
        ucpg_group_evbuf_prefetch(&g->evbuf, seq);       /* the first ones: no lead */
    }
    while (g->gc_through < upto) {
        if (g->gc_through + 1 + UCPG_GROUP_GC_AHEAD <= upto) {
            ucpg_group_evbuf_prefetch(&g->evbuf, g->gc_through + 1 + UCPG_GROUP_GC_AHEAD);
        }
        ucpg_group_evbuf_remove(&g->evbuf, ++g->gc_through);
    }
}

int ucpg_group_event_awaits_stability(const ucpg_group_t *g, const ucpg_group_event_t *ev)
{
    return (ev->kind == UCPG_GROUP_KIND_DATA) && (ev->guarantee == UCPG_GROUP_SAFE) &&
           (ev->seq > g->stable);
}

/* Only the sequencer can say when a SAFE message is stable: while one is
 * held, silence.c watches it as it does while our requests wait (once per
 * held event: arming the timer reads the clock). */
static void ucpg_group_member_hold_safe(ucpg_group_t *g, const ucpg_group_event_t *ev)
{
    if (!g->is_seq && (g->safe_held != ev->seq)) {
        g->safe_held = ev->seq;
        ucpg_group_timer_arm(250);
    }
}

static void ucpg_group_member_deliver(ucpg_group_t *g)
{
    ucpg_group_event_t *ev;

    while ((g->delivered < g->received) && (g->state != UCPG_GROUP_JOINING)) {
        ev = ucpg_group_evbuf_get(&g->evbuf, g->delivered + 1);
        if (ev == NULL) {
            break;
        }
        if (ucpg_group_event_awaits_stability(g, ev)) {
            ucpg_group_member_hold_safe(g, ev);
            break;
        }
        g->delivered++;
        if (g->destroyed || (g->cb.event == NULL) || ev->handover) {
            g->released++;                   /* nobody to hand it to, or nothing to tell */
        } else {
            ++ev->refs;
            ev->group     = g;
            ev->delivered = 1;
            g->outstanding++;
            g->cb.event(g->cb_arg, ev);
        }
    }
    g->consumed = g->first_seq - 1 + g->released;
    ucpg_group_member_gc(g);
}

void ucpg_group_member_receive(ucpg_group_t *g, ucpg_group_event_t *ev)
{
    ucpg_group_event_t *next;

    if ((g->state == UCPG_GROUP_GONE) || ((g->first_seq != 0) && (ev->seq <= g->received))) {
        return;
    }
    if (ucpg_group_evbuf_put(&g->evbuf, ev) == UCPG_ERR_NO_MEMORY) {
        ucpg_error("out of memory buffering group event %" PRIu64, ev->seq);
        return;
    }
    if (g->first_seq == 0) {
        if ((ev->kind != UCPG_GROUP_KIND_VIEW) || !ucpg_group_view_adds_self(ev)) {
            return;                          /* early: wait for our join view */
        }
        g->first_seq = ev->seq;
        g->received  = g->delivered = g->consumed = g->stable = g->gc_through = ev->seq - 1;
        g->acked_received = g->acked_consumed = ev->seq - 1;
        ucpg_group_member_drop_below(g, ev->seq);
    }
    while ((g->state != UCPG_GROUP_GONE) &&
           ((next = ucpg_group_evbuf_get(&g->evbuf, g->received + 1)) != NULL)) {
        g->received++;
        ucpg_group_process(g, next);
    }
    if (g->seq_died_early) {
        g->seq_died_early = 0;
        ucpg_group_recovery_peer_down(g);
    }
    ucpg_group_member_deliver(g);
    if (g->state == UCPG_GROUP_GONE) {
        ucpg_group_evbuf_clear(&g->evbuf);   /* nothing follows our own leave */
        return;
    }
    ucpg_group_member_ack(g, 0);
}

/*
 * Our pending request numbered lseq, or NULL. The sequencer orders our
 * requests in their order, so each EVT of ours names one after the last
 * found: the search starts there. From the head, it walked 40 to 370
 * requests per message in an 8-member flood where every member sends (our
 * EVTs come straight from the sequencer, ahead of the others' down the
 * tree, while up to a window of requests waits).
 */
static ucpg_group_req_t *ucpg_group_member_pending_find(ucpg_group_t *g, uint64_t lseq)
{
    ucpg_group_req_t *r = g->own_found;

    if ((r == NULL) || (r->lseq > lseq)) {
        r = g->pending;                  /* a repeat, or none found since the last done */
    }
    while ((r != NULL) && (r->lseq != lseq)) {
        r = r->next;
    }
    if (r != NULL) {
        g->own_found = r;
    }
    return r;
}

/*
 * The body of an event of our own message, which the sequencer sent without
 * it (FLAG_OWN): our pending copy. A zero-copy buffer is copied, since the
 * application may write it again once the send is done. Returns 0 (logged)
 * if the event is not ours or the message is not pending, which a correct
 * sequencer never causes; *buf_p is NULL if out of memory.
 */
static int ucpg_group_member_own_body(ucpg_group_t *g, const ucpg_group_msg_t *msg,
                                      size_t len, ucpg_buf_t **buf_p)
{
    ucpg_group_req_t *r;

    if ((len != 0) || !ucpg_group_is_self(msg->origin.slot, msg->origin.uuid)) {
        ucpg_warn("group event %" PRIu64 " marked as ours is not", msg->a);
        return 0;
    }
    r = ucpg_group_member_pending_find(g, msg->origin.lseq);
    if (r == NULL) {
        ucpg_error("group event %" PRIu64 ": our message %" PRIu64 " is not pending", msg->a,
                   msg->origin.lseq);
        return 0;
    }
    if ((r->buf != NULL) && !r->buf->user) {
        *buf_p = ucpg_buf_ref(r->buf);
    } else if ((*buf_p = ucpg_buf_new((r->buf != NULL) ? r->buf->len : 0)) != NULL) {
        ucpg_buf_copy((*buf_p)->data, (r->buf != NULL) ? r->buf->data : "", (*buf_p)->len);
    }
    return 1;
}

/* The event of a received EVT: its body inline if small, else our pending
 * copy (FLAG_OWN) or the receive path's buffer. NULL if it is dropped
 * (logged). */
static ucpg_group_event_t *ucpg_group_member_evt_new(ucpg_group_t *g, const ucpg_group_msg_t *msg,
                                                     const void *data, size_t len,
                                                     ucpg_buf_t *body)
{
    ucpg_group_event_t *ev;
    ucpg_buf_t *buf = NULL;

    if (ucpg_group_evt_inline(msg, len)) {
        ev = ucpg_group_event_copy(msg->a, msg->guarantee, &msg->origin, data, len);
    } else {
        if (msg->flags & UCPG_GROUP_FLAG_OWN) {
            if (!ucpg_group_member_own_body(g, msg, len, &buf)) {
                return NULL;       /* logged */
            }
        } else {
            buf = ucpg_group_body_keep(body, data, len);
        }
        ev = (buf == NULL) ? NULL :
             ucpg_group_event_adopt(msg->a, msg->kind, msg->guarantee, &msg->origin, buf);
        if (ev == NULL) {
            ucpg_buf_put(buf);
        }
    }
    if (ev == NULL) {
        ucpg_error("out of memory receiving group event %" PRIu64, msg->a);
    }
    return ev;
}

/*
 * Fenced, we take only the successor's events, but we keep the others'. An
 * event numbered above the cut cannot come from the dead sequencer's
 * stream through a live member (a member passes an event on only once it
 * holds it, and then it is in its answer, so in the cut); it is a later
 * sequencer's: the successor's view may name another member first, and
 * that one may order (and leave) before the view reaches us.
 */
static void ucpg_group_member_stash(ucpg_group_t *g, ucpg_group_event_t *ev)
{
    if (ucpg_group_evbuf_put(&g->fence_stash, ev) == UCPG_ERR_NO_MEMORY) {
        ucpg_error("out of memory keeping group event %" PRIu64 " during recovery", ev->seq);
    }
    ucpg_group_event_put(ev);
}

void ucpg_group_member_unstash(ucpg_group_t *g)
{
    uint64_t i;

    for (i = 0; (g->fence_stash.ring != NULL) && (i <= g->fence_stash.mask); ++i) {
        ucpg_group_event_t *ev = g->fence_stash.ring[i];
        if ((ev != NULL) && !g->is_seq && (ev->seq > g->received) &&
            (ucpg_group_evbuf_put(&g->evbuf, ev) == UCPG_ERR_NO_MEMORY)) {
            ucpg_error("out of memory receiving group event %" PRIu64, ev->seq);
        }
    }
    ucpg_group_evbuf_clear(&g->fence_stash);
}

void ucpg_group_member_recv_evt(ucpg_group_t *g, uint32_t src, const ucpg_group_msg_t *msg,
                                const void *data, size_t len, ucpg_buf_t *body)
{
    ucpg_group_event_t *ev;

    /* Any member may pass an event on (the tree), including one that joined
     * in a view we have not reached yet; events are the sequencer's and are
     * taken by number, so only the fence of recovery looks at who sent. */
    int stash = ucpg_group_fenced(g) && (src != g->seq_slot);

    if ((g->state == UCPG_GROUP_GONE) || ((g->first_seq != 0) && (msg->a <= g->received)) ||
        (stash && (msg->a - g->received > 2ull * ucpg_group_engine.config->group_window))) {
        return;                    /* already have it, or far beyond any cut */
    }
    ev = ucpg_group_member_evt_new(g, msg, data, len, body);
    if (ev == NULL) {
        return;                    /* logged */
    }
    ev->forward   = !(msg->flags & (UCPG_GROUP_FLAG_RETRANS | UCPG_GROUP_FLAG_OWN |
                                    UCPG_GROUP_FLAG_FLAT | UCPG_GROUP_FLAG_PASSED));
    if (stash) {
        ucpg_group_member_stash(g, ev);
        return;
    }
    g->last_heard = ucpg_group_engine.recv_ns;   /* no clock read per event */
    ucpg_group_member_receive(g, ev);
    ucpg_group_event_put(ev);
    if ((msg->kind == UCPG_GROUP_KIND_VIEW) && !(msg->flags & UCPG_GROUP_FLAG_RETRANS)) {
        ucpg_group_member_note_gap(g, msg->a);
    }
    if (!g->recovering && (g->state != UCPG_GROUP_GONE)) {
        ucpg_group_member_stable(g, msg->b);
    }
}

void ucpg_group_member_stable(ucpg_group_t *g, uint64_t stable)
{
    if ((g->first_seq == 0) || (stable <= g->stable)) {
        return;
    }
    g->stable = (stable < g->received) ? stable : g->received;
    ucpg_group_member_deliver(g);
}

void ucpg_group_member_drop_above(ucpg_group_t *g, uint64_t seq)
{
    uint64_t i;

    for (i = 0; (g->evbuf.ring != NULL) && (i <= g->evbuf.mask); ++i) {
        if ((g->evbuf.ring[i] != NULL) && (g->evbuf.ring[i]->seq > seq)) {
            ucpg_group_evbuf_remove(&g->evbuf, g->evbuf.ring[i]->seq);
        }
    }
}

static void ucpg_group_member_drop_below(ucpg_group_t *g, uint64_t seq)
{
    uint64_t i;

    for (i = 0; (g->evbuf.ring != NULL) && (i <= g->evbuf.mask); ++i) {
        if ((g->evbuf.ring[i] != NULL) && (g->evbuf.ring[i]->seq < seq)) {
            ucpg_group_evbuf_remove(&g->evbuf, g->evbuf.ring[i]->seq);
        }
    }
}

/* --- acknowledgements ---------------------------------------------------------- */

/* Tells the sequencer what we received and consumed (flags: REPAIR asks it
 * to send everything after our received point again). */
static void ucpg_group_member_send_ack(ucpg_group_t *g, uint8_t flags)
{
    ucpg_group_msg_t msg;

    ucpg_group_msg_init(g, UCPG_GROUP_MSG_ACK, &msg);
    msg.flags = flags;
    msg.a     = g->received;
    msg.b     = g->consumed;
    ucpg_group_send(g->seq_slot, g->seq_uuid, &msg, NULL);
    g->acked_received = g->received;
    g->acked_consumed = g->consumed;
    g->unacked_bytes  = 0;
}

void ucpg_group_member_ack(ucpg_group_t *g, int force)
{
    /* A quarter of either window: the sequencer must hear of consumption
     * long before a window fills, or a fast sender stalls until the timer. */
    uint64_t thr       = ucpg_group_engine.config->group_window / 4;
    uint64_t thr_bytes = ((uint64_t)ucpg_group_engine.config->group_window_mb << 20) / 4;
    ucpg_group_member_t *self;
    int blocked_safe;

    if (g->is_seq) {
        self = ucpg_group_member_find(g, ucpg_group_engine.self, ucpg_group_engine.self_uuid);
        if (self != NULL) {
            self->received = g->received;
            self->consumed = g->consumed;
        }
        ucpg_group_seq_update(g);
        return;
    }
    if (((g->state != UCPG_GROUP_JOINED) && (g->state != UCPG_GROUP_LEAVING)) ||
        g->recovering ||
        ((g->received == g->acked_received) && (g->consumed == g->acked_consumed))) {
        return;
    }
    blocked_safe = (g->delivered < g->received) && (g->received != g->acked_received);
    if (!force && !blocked_safe && (g->received - g->acked_received < thr) &&
        (g->consumed - g->acked_consumed < thr) && (g->unacked_bytes < thr_bytes)) {
        if (!g->ack_timer) {         /* once per firing: arming reads the clock */
            g->ack_timer = ucpg_group_timer_arm(1);   /* acknowledge within 1 ms anyway */
        }
        return;
    }
    ucpg_group_member_send_ack(g, 0);
}

/* STABLE from the sequencer. A new one announces itself with one: if our
 * acknowledgement of the view that named it reached it before it applied
 * that view itself, it was dropped, so say again where we are. */
void ucpg_group_member_recv_stable(ucpg_group_t *g, uint64_t stable)
{
    g->last_heard = ucpg_time_coarse_ns();   /* it is alive (silence.c) */
    if (g->ack_renew &&
        ((g->state == UCPG_GROUP_JOINED) || (g->state == UCPG_GROUP_LEAVING))) {
        g->ack_renew = 0;
        ucpg_group_member_send_ack(g, 0);
    }
    ucpg_group_member_stable(g, stable);
}

/* --- repair: the tree did not bring us everything ----------------------------- */

/* How long a gap below a view may last before we ask the sequencer: the
 * events in it travel through forwarders and may simply be behind the
 * view, which the sequencer sends directly. */
#define UCPG_GROUP_REPAIR_WAIT_MS  2u
#define UCPG_GROUP_REPAIR_AGAIN_MS 100u

void ucpg_group_member_note_gap(ucpg_group_t *g, uint64_t view_seq)
{
    if (g->is_seq || g->recovering || (g->first_seq == 0) || (g->received >= view_seq) ||
        ((g->state != UCPG_GROUP_JOINED) && (g->state != UCPG_GROUP_LEAVING))) {
        return;
    }
    if (g->repair_upto < view_seq) {
        g->repair_upto = view_seq;
    }
    if (g->repair_at == 0) {
        g->repair_at = ucpg_time_ns() + UCPG_GROUP_REPAIR_WAIT_MS * 1000000ull;
        ucpg_group_timer_arm(UCPG_GROUP_REPAIR_WAIT_MS);
    }
}

void ucpg_group_member_check_repair(ucpg_group_t *g, uint64_t now)
{
    if (!ucpg_group_timer_due(&g->repair_at, now)) {
        return;
    }
    if (g->is_seq || g->recovering || (g->received >= g->repair_upto)) {
        return;                          /* the tree caught up */
    }
    ucpg_group_member_send_ack(g, UCPG_GROUP_FLAG_REPAIR);
    /* Ask again while the gap lasts: the one asked may have stepped down
     * or be busy with a view of its own (handover.c). */
    g->repair_at = now + UCPG_GROUP_REPAIR_AGAIN_MS * 1000000ull;
    ucpg_group_timer_arm(UCPG_GROUP_REPAIR_AGAIN_MS);
}

/* --- the façade lets go of an event ---------------------------------------------- */

/* One released event's accounting. Returns 1 if its group should now
 * check whether to acknowledge, 0 if not (or if the group is gone). */
static int ucpg_group_event_consume(ucpg_group_event_t *ev)
{
    ucpg_group_t *g = ev->group;

    if (g == NULL) {
        return 0;
    }
    ev->group = NULL;
    g->released++;
    g->consumed = g->first_seq - 1 + g->released;
    g->outstanding--;
    if (ev->kind == UCPG_GROUP_KIND_DATA) {
        g->unacked_bytes += ev->len;
    }
    if (g->orphan && (g->outstanding == 0)) {
        ucpg_group_free(g);
        return 0;
    }
    return (g->state == UCPG_GROUP_JOINED) || (g->state == UCPG_GROUP_LEAVING);
}

void ucpg_group_events_consume(ucpg_group_event_t *list)
{
    ucpg_group_t *ack = NULL, *g;
    ucpg_group_event_t *ev;

    while ((ev = list) != NULL) {
        list = ev->release_next;
        g    = ev->group;
        if ((ack != NULL) && (g != ack)) {
            ucpg_group_member_ack(ack, 0);    /* one acknowledgement check per run */
            ack = NULL;
        }
        if (ucpg_group_event_consume(ev)) {
            ack = g;
        } else if (g == ack) {
            ack = NULL;                       /* freed, or no longer acknowledging */
        }
        ucpg_group_event_put(ev);
    }
    if (ack != NULL) {
        ucpg_group_member_ack(ack, 0);
    }
}

void ucpg_group_event_release(ucpg_group_event_t *ev)
{
    ucpg_group_events_release(&ev, 1);
}

int ucpg_group_event_is_view(const ucpg_group_event_t *ev)
{
    return ev->kind == UCPG_GROUP_KIND_VIEW;
}

void ucpg_group_event_prefetch(const ucpg_group_event_t *ev)
{
    __builtin_prefetch(ev);
}

void ucpg_group_event_prefetch_body(const ucpg_group_event_t *ev)
{
    if (ev->data != NULL) {
        __builtin_prefetch(ev->data);
    }
}

void ucpg_group_event_info(const ucpg_group_event_t *ev, ucpg_group_event_info_t *info)
{
    /* Field by field, not a memset of the whole: this runs per message, and
     * a message leaves the view part unset (group.h). */
    info->group    = ev->group;
    info->name     = (ev->group != NULL) ? ev->group->name : NULL;
    info->name_len = (ev->group != NULL) ? ev->group->name_len : 0;
    info->is_view  = (ev->kind == UCPG_GROUP_KIND_VIEW);
    memset(&info->sender, 0, sizeof(info->sender));
    info->guarantee = 0;
    info->data      = NULL;
    info->len       = 0;
    if (info->is_view) {
        info->view = ev->view;
        return;
    }
    info->sender.nodeid = ev->origin.nodeid;
    info->sender.pid    = ev->origin.pid;
    info->guarantee     = ev->guarantee;
    info->data          = ev->data;
    info->len           = ev->len;
}

/* Does this VIEW event add us? (Decoded once more: it is rare.) */
static int ucpg_group_view_adds_self(const ucpg_group_event_t *ev)
{
    ucpg_group_vbody_t v;
    int adds;

    if (ucpg_group_vbody_decode(ev->data, ev->len, &v) != UCPG_OK) {
        return 0;
    }
    adds = ucpg_group_vlist_has_self(v.members + v.nmembers + v.nleft, v.njoined);
    free(v.members);
    return adds;
}
