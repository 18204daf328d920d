/*
 * sequencer.c - the oldest member of a group orders it.
 *
 * Requests (messages, joins, leaves) arrive from members in any order; each
 * sender's requests are taken strictly in its own numbering (FIFO), and each
 * accepted request becomes the next event of the stream, sent to every
 * member and received locally at once. Membership changes are events too,
 * so views sit at the same place in every member's stream.
 *
 * Flow control: events are numbered only while the slowest member has
 * consumed within group_window events and group_window_mb bytes of the
 * newest; beyond that requests wait here (each sender can have only its own
 * bounded window outstanding, so this waiting room is bounded too). A
 * member that keeps the window full for group_stall_timeout_ms is removed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"

#include <stdlib.h>
#include <string.h>

#include "boot/directory.h"
#include "boot/registry.h"
#include "core/log.h"
#include "core/proc.h"

/* How long after an event is numbered every member should have it (see
 * ucpg_group_seq_check_lag); acknowledgements take about a millisecond. */
#define UCPG_GROUP_LAG_MS 500u

static uint64_t ucpg_group_seq_min_consumed(ucpg_group_t *g)
{
    uint64_t min = g->seq_last;
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        if (!g->members[i].dead && (g->members[i].consumed < min)) {
            min = g->members[i].consumed;
        }
    }
    return min;
}

/* Bytes of events after the slowest member's consumed point. */
static void ucpg_group_seq_window_advance(ucpg_group_t *g, uint64_t min_consumed)
{
    while (g->win_base < min_consumed) {
        ++g->win_base;
        if (g->win_len != NULL) {
            g->window_bytes -= g->win_len[g->win_base & g->win_mask];
            g->win_len[g->win_base & g->win_mask] = 0;
        }
    }
}

int ucpg_group_seq_window_full(ucpg_group_t *g, size_t extra_bytes)
{
    const ucpg_config_t *cfg = ucpg_group_engine.config;
    uint64_t in_flight = g->seq_last - ucpg_group_seq_min_consumed(g);
    uint64_t max_bytes = (uint64_t)cfg->group_window_mb << 20;

    int full;

    /* A single message larger than the byte window still passes alone. */
    full = (in_flight >= cfg->group_window) ||
           ((in_flight > 0) && (g->window_bytes + extra_bytes > max_bytes));
    if (full && !g->stall_armed && cfg->group_stall_timeout_ms) {
        g->stall_armed = 1;              /* someone is holding the group up: watch it */
        ucpg_group_timer_arm(100);
    }
    return full;
}

static void ucpg_group_seq_track_len(ucpg_group_t *g, uint64_t seq, uint64_t len)
{
    g->window_bytes += len;
    if (g->win_len != NULL) {
        g->win_len[seq & g->win_mask] = len;
    }
}

static int ucpg_group_seq_fanout_to(const ucpg_group_member_t *m, const ucpg_group_event_t *ev,
                                    int origin_pass)
{
    int is_origin = (m->slot == ev->origin.slot) && (m->uuid == ev->origin.uuid);

    return (!m->dead || m->evicted) && (is_origin == origin_pass) &&
           !((m->slot == ucpg_group_engine.self) && (m->uuid == ucpg_group_engine.self_uuid));
}

/* Sends ev to its sender (number only: it holds the message, pending) and
 * down the delivery tree. The sender comes first: its send completes when
 * it sees its own message, and the outbox sends in queue order. */
static void ucpg_group_seq_fanout_data(ucpg_group_t *g, const ucpg_group_event_t *ev,
                                       ucpg_buf_t *body)
{
    ucpg_group_member_t *origin = ucpg_group_member_find(g, ev->origin.slot, ev->origin.uuid);
    ucpg_group_msg_t msg;

    if ((origin != NULL) && ucpg_group_seq_fanout_to(origin, ev, 1)) {
        ucpg_group_evt_msg(g, ev, UCPG_GROUP_FLAG_OWN, &msg);
        ucpg_group_send(origin->slot, origin->uuid, &msg, NULL);
    }
    ucpg_group_tree_send(g, ev, 0, body);
}

/* Sends ev with body (its bytes as a buffer, NULL if empty) to every live
 * member but us (and to extra, a joiner): views, and DATA that does not go
 * down the tree (ucpg_group_tree_sends_flat), flagged FLAT. */
static void ucpg_group_seq_fanout(ucpg_group_t *g, const ucpg_group_event_t *ev,
                                  const ucpg_group_req_t *extra, ucpg_buf_t *body)
{
    ucpg_peer_id_t dst[UCPG_GROUP_VIEW_MAX];
    ucpg_group_msg_t msg;
    int origin_pass, flat = ucpg_group_tree_sends_flat(g, ev);
    size_t i, n;

    if ((ev->kind == UCPG_GROUP_KIND_DATA) && !flat) {
        ucpg_group_seq_fanout_data(g, ev, body);
        return;
    }
    for (origin_pass = 1; origin_pass >= 0; --origin_pass) {
        /* The sender of a message has it already (pending): it gets the
         * number only, which halves what a 2-member group moves. */
        int own = origin_pass && (ev->kind == UCPG_GROUP_KIND_DATA);
        ucpg_group_evt_msg(g, ev, own ? UCPG_GROUP_FLAG_OWN : (flat ? UCPG_GROUP_FLAG_FLAT : 0),
                           &msg);
        for (i = n = 0; (i < g->nmembers) && (n < UCPG_GROUP_VIEW_MAX); ++i) {
            if (ucpg_group_seq_fanout_to(&g->members[i], ev, origin_pass)) {
                dst[n++] = g->members[i].slot;
            }
        }
        ucpg_group_send_many(dst, n, &msg, own ? NULL : body);
    }
    if (extra != NULL) {
        ucpg_group_send(extra->slot, extra->uuid, &msg, body);
    }
}

/* Whether some member gets messages through another member: in a flat
 * group everybody is our child, and a resend could only duplicate what UCX
 * already holds for a slow reader. */
static int ucpg_group_seq_tree_deep(const ucpg_group_t *g, const ucpg_group_event_t *ev)
{
    unsigned fanout = ucpg_group_tree_fanout(g, &ev->origin);

    return !ucpg_group_tree_sends_flat(g, ev) && (fanout != 0) &&
           (g->nmembers > (size_t)fanout + 1);
}

/*
 * The event the sequencer makes of a request's body. A small message is
 * kept inline, as members keep it (group_int.h): the request's buffer is
 * then only the wire's, let go as soon as it is sent, while it is still in
 * cache, instead of at stability thousands of messages later. A zero-copy
 * send's buffer is the application's to write again once the send is done,
 * so what we keep and deliver is a copy of it.
 */
static ucpg_group_event_t *ucpg_group_seq_event(uint64_t seq, uint8_t kind, uint8_t guarantee,
                                                const ucpg_group_origin_t *origin,
                                                ucpg_buf_t *buf)
{
    size_t len = (buf != NULL) ? buf->len : 0;
    ucpg_buf_t *copy;

    if ((kind == UCPG_GROUP_KIND_DATA) && (len <= UCPG_GROUP_EVENT_INLINE)) {
        return ucpg_group_event_copy(seq, guarantee, origin, (buf != NULL) ? buf->data : "", len);
    }
    if ((buf == NULL) || !buf->user) {
        return ucpg_group_event_new(seq, kind, guarantee, origin, buf);
    }
    if ((copy = ucpg_buf_new(len)) == NULL) {
        return NULL;
    }
    ucpg_buf_copy(copy->data, buf->data, len);
    return ucpg_group_event_adopt(seq, kind, guarantee, origin, copy);
}

/* Numbers ev, sends it, and receives it ourselves. */
void ucpg_group_seq_emit(ucpg_group_t *g, uint8_t kind, uint8_t guarantee,
                         const ucpg_group_origin_t *origin, ucpg_buf_t *buf,
                         const ucpg_group_req_t *extra)
{
    ucpg_group_event_t *ev = ucpg_group_seq_event(g->seq_last + 1, kind, guarantee, origin, buf);

    if (ev == NULL) {
        ucpg_error("out of memory ordering a group event");
        return;
    }
    g->seq_last++;
    ucpg_group_seq_track_len(g, ev->seq, ev->len);
    if (kind == UCPG_GROUP_KIND_DATA) {
        ucpg_group_tree_note_order(g, origin);
    }
    if ((kind == UCPG_GROUP_KIND_DATA) && (guarantee == UCPG_GROUP_SAFE)) {
        g->safe_pending = ev->seq;
    }
    ucpg_group_seq_fanout(g, ev, extra, buf);
    if ((kind == UCPG_GROUP_KIND_DATA) && (g->lag_at == 0) && ucpg_group_seq_tree_deep(g, ev)) {
        g->lag_seq = ev->seq;            /* see ucpg_group_seq_check_lag */
        g->lag_at  = ucpg_time_ns() + UCPG_GROUP_LAG_MS * 1000000ull;
        ucpg_group_timer_arm(UCPG_GROUP_LAG_MS);
    }
    ucpg_group_member_receive(g, ev);
    ucpg_group_event_put(ev);
}

static void ucpg_group_origin_of(const ucpg_group_req_t *req, ucpg_group_origin_t *o)
{
    o->slot   = req->slot;
    o->uuid   = req->uuid;
    o->nodeid = req->nodeid;
    o->pid    = req->pid;
    o->lseq   = req->lseq;
}

/* --- views ----------------------------------------------------------------------- */

void ucpg_group_vmember_set(ucpg_group_vmember_t *e, uint32_t slot, uint64_t uuid,
                            uint32_t nodeid, uint32_t pid, uint32_t reason, uint64_t next_lseq)
{
    e->slot      = slot;
    e->uuid      = uuid;
    e->nodeid    = nodeid;
    e->pid       = pid;
    e->reason    = reason;
    e->next_lseq = next_lseq;
}

/* Publishes view view_id of g with members (the sequencer first). */
static void ucpg_group_seq_publish_list(ucpg_group_t *g, uint64_t view_id,
                                        const ucpg_group_vmember_t *members, uint32_t n)
{
    ucpg_registry_gmember_t *dir = calloc(n ? n : 1, sizeof(*dir));
    uint32_t i;

    if (dir == NULL) {
        return;
    }
    if (n > UCPG_REGISTRY_GROUP_MEMBERS) {
        ucpg_warn("group directory lists only the first %u of %u members",
                  UCPG_REGISTRY_GROUP_MEMBERS, n);
        n = UCPG_REGISTRY_GROUP_MEMBERS;
    }
    for (i = 0; i < n; ++i) {
        dir[i].slot   = members[i].slot;
        dir[i].uuid   = members[i].uuid;
        dir[i].nodeid = members[i].nodeid;
        dir[i].pid    = members[i].pid;
    }
    ucpg_boot_dir_publish(ucpg_group_engine.domain, g->name, g->name_len, g->ggen, view_id,
                          dir, n);
    free(dir);
}

/* The directory follows every view we order. */
void ucpg_group_seq_publish(ucpg_group_t *g, const ucpg_group_vbody_t *v)
{
    ucpg_group_seq_publish_list(g, v->view_id, v->members, v->nmembers);
}

/* The directory coordinator changed: tell the new one our current view. */
void ucpg_group_seq_republish(ucpg_group_t *g)
{
    ucpg_group_vmember_t *list = calloc(g->nmembers ? g->nmembers : 1, sizeof(*list));
    uint32_t i, n = 0;

    if (list == NULL) {
        return;
    }
    for (i = 0; i < g->nmembers; ++i) {
        const ucpg_group_member_t *m = &g->members[i];
        if (!m->dead) {
            ucpg_group_vmember_set(&list[n++], m->slot, m->uuid, m->nodeid, m->pid, 0,
                                   m->next_lseq);
        }
    }
    ucpg_group_seq_publish_list(g, g->view_id, list, n);
    free(list);
}

/* Reason for a member that died: its whole node gone (no process of it is
 * left in the domain), or one process. */
static uint32_t ucpg_group_seq_down_reason(const ucpg_group_member_t *m)
{
    return ((m->nodeid != ucpg_group_engine.nodeid) &&
            !ucpg_boot_dir_node_up(ucpg_group_engine.domain, m->nodeid))
               ? UCPG_GROUP_REASON_NODEDOWN
               : UCPG_GROUP_REASON_PROCDOWN;
}

void ucpg_group_seq_view(ucpg_group_t *g, const ucpg_group_req_t *leave,
                         const ucpg_group_req_t *join)
{
    size_t cap = g->nmembers + 1, i, nm = 0, nl = 0;
    ucpg_group_vmember_t *members, *left;
    ucpg_group_origin_t origin;
    ucpg_group_vbody_t v;
    ucpg_buf_t *buf;
    int is_leaver;

    members = calloc(2 * cap, sizeof(*members));
    if (members == NULL) {
        ucpg_error("out of memory ordering a view");
        return;
    }
    left = members + cap;
    for (i = 0; i < g->nmembers; ++i) {
        const ucpg_group_member_t *m = &g->members[i];
        is_leaver = (leave != NULL) && (m->slot == leave->slot) && (m->uuid == leave->uuid);
        if (m->dead || is_leaver) {
            ucpg_group_vmember_set(&left[nl++], m->slot, m->uuid, m->nodeid, m->pid,
                                   is_leaver ? leave->guarantee : ucpg_group_seq_down_reason(m),
                                   0);
        } else {
            ucpg_group_vmember_set(&members[nm++], m->slot, m->uuid, m->nodeid, m->pid, 0,
                                   m->next_lseq);
        }
    }
    if (join != NULL) {
        ucpg_group_vmember_set(&members[nm++], join->slot, join->uuid, join->nodeid, join->pid,
                               0, join->lseq + 1);
    }
    if ((nl == 0) && (join == NULL)) {
        free(members);
        return;                          /* nothing changes */
    }
    /* Body order: members, left, joined (the joiner is also the last member). */
    memmove(members + nm, left, nl * sizeof(*left));
    if (join != NULL) {
        members[nm + nl] = members[nm - 1];
        members[nm + nl].reason = UCPG_GROUP_REASON_JOIN;
    }
    v.view_id  = g->view_id + 1;
    v.nmembers = (uint32_t)nm;
    v.nleft    = (uint32_t)nl;
    v.njoined  = (join != NULL);
    v.members  = members;
    buf = ucpg_buf_new(ucpg_group_vbody_len(&v));
    if (buf == NULL) {
        free(members);
        ucpg_error("out of memory ordering a view");
        return;
    }
    ucpg_group_vbody_encode(&v, buf->data);
    memset(&origin, 0, sizeof(origin));
    origin.slot = ucpg_group_engine.self;
    origin.uuid = ucpg_group_engine.self_uuid;
    origin.nodeid = ucpg_group_engine.nodeid;
    origin.pid  = ucpg_group_engine.pid;
    ucpg_group_seq_publish(g, &v);
    ucpg_group_seq_emit(g, UCPG_GROUP_KIND_VIEW, 0, &origin, buf, join);
    ucpg_buf_put(buf);
    free(members);
    if (g->is_seq) {
        ucpg_group_seq_update(g);        /* the removed may have held the window */
    }
}

/* --- requests ---------------------------------------------------------------------- */

/* Appends r to the held requests in O(1): with the window full there can be
 * thousands. Duplicates (resends) are not searched for here: the first copy
 * ordered advances the sender's next_lseq and the others are dropped then. */
static void ucpg_group_seq_held_push(ucpg_group_t *g, ucpg_group_req_t *r)
{
    if (g->held == NULL) {
        g->held_tail = &g->held;          /* others empty the list by popping */
    }
    r->next       = NULL;
    *g->held_tail = r;
    g->held_tail  = &r->next;
}

void ucpg_group_seq_hold(ucpg_group_t *g, const ucpg_group_req_t *req)
{
    ucpg_group_req_t *r = ucpg_group_req_new();

    if (r == NULL) {
        ucpg_error("out of memory holding a group request");
        return;
    }
    *r     = *req;
    r->buf = ucpg_buf_ref(req->buf);
    ucpg_group_seq_held_push(g, r);
    g->held_others += !ucpg_group_is_self(r->slot, r->uuid);
}

/* What became of a request the sequencer tried to order. */
typedef enum {
    UCPG_GROUP_SEQ_DONE,     /* ordered, or dropped (duplicate, stranger) */
    UCPG_GROUP_SEQ_WAIT,     /* an earlier request of its sender is missing */
    UCPG_GROUP_SEQ_FULL      /* the window (or recovery) stops everything behind it */
} ucpg_group_seq_try_t;

static ucpg_group_seq_try_t ucpg_group_seq_try(ucpg_group_t *g, const ucpg_group_req_t *req)
{
    ucpg_group_member_t *m = ucpg_group_member_find(g, req->slot, req->uuid);
    ucpg_group_origin_t origin;
    size_t len = (req->buf != NULL) ? req->buf->len : 0;

    if (req->kind == UCPG_GROUP_KIND_JOIN) {
        if (m != NULL) {
            return UCPG_GROUP_SEQ_DONE;          /* a resent join: already in */
        }
        if (g->recovering || ucpg_group_seq_window_full(g, 0)) {
            return UCPG_GROUP_SEQ_FULL;
        }
        ucpg_group_seq_view(g, NULL, req);
        return UCPG_GROUP_SEQ_DONE;
    }
    if ((m == NULL) || m->dead || (req->lseq < m->next_lseq)) {
        return UCPG_GROUP_SEQ_DONE;              /* stranger, gone, or a duplicate */
    }
    if (req->lseq > m->next_lseq) {
        return UCPG_GROUP_SEQ_WAIT;
    }
    if (g->recovering ||
        ((req->kind == UCPG_GROUP_KIND_DATA) && ucpg_group_seq_window_full(g, len))) {
        return UCPG_GROUP_SEQ_FULL;
    }
    if (req->kind == UCPG_GROUP_KIND_LEAVE) {
        m->next_lseq = req->lseq + 1;
        ucpg_group_seq_view(g, req, NULL);
        return UCPG_GROUP_SEQ_DONE;
    }
    ucpg_group_origin_of(req, &origin);
    ucpg_group_seq_emit(g, UCPG_GROUP_KIND_DATA, req->guarantee, &origin, req->buf, NULL);
    ucpg_group_handover_note(g, &origin);
    return UCPG_GROUP_SEQ_DONE;
}

void ucpg_group_seq_recv_req(ucpg_group_t *g, const ucpg_group_req_t *req)
{
    if (ucpg_group_seq_try(g, req) != UCPG_GROUP_SEQ_DONE) {
        ucpg_group_seq_hold(g, req);
    } else if (g->held != NULL) {
        ucpg_group_seq_drain(g);
    }
    ucpg_group_handover_run(g);
}

/* Whether the sequencer may order anything now. */
static int ucpg_group_seq_can_order(ucpg_group_t *g)
{
    return g->is_seq && !g->recovering && !ucpg_group_seq_window_full(g, 0);
}

/*
 * Orders what the held requests allow. Each pass takes the whole list, so
 * that ordering (which may recurse and hold new requests) never walks a list
 * that changes under it; what still waits goes back behind anything held
 * meanwhile. When a request must wait because the window is full (by
 * events or by bytes), the pass puts the rest back in one splice: the drain
 * after every acknowledgement costs what it orders, not what waits.
 */
void ucpg_group_seq_drain(ucpg_group_t *g)
{
    ucpg_group_req_t *list, **list_tail, *r;
    int progress = 1;

    if (g->draining) {
        return;            /* the outer loop passes again after every success */
    }
    g->draining = 1;
    while (progress && (g->held != NULL) && ucpg_group_seq_can_order(g)) {
        progress  = 0;
        list      = g->held;
        list_tail = g->held_tail;
        g->held   = NULL;
        while ((r = list) != NULL) {
            ucpg_group_seq_try_t result;
            list   = r->next;
            result = ucpg_group_seq_try(g, r);
            if (result == UCPG_GROUP_SEQ_DONE) {
                g->held_others -= !ucpg_group_is_self(r->slot, r->uuid);
                ucpg_group_req_free(r);
                progress = 1;
                continue;
            }
            ucpg_group_seq_held_push(g, r);
            if ((list != NULL) && (result == UCPG_GROUP_SEQ_FULL)) {
                *g->held_tail = list;            /* the rest waits, in order */
                g->held_tail  = list_tail;
                progress      = 0;
                break;
            }
        }
    }
    g->draining = 0;
}

/* We stop ordering (we left): joiners must ask the next sequencer; members
 * resend their own requests when they see the view. */
void ucpg_group_seq_refuse_held(ucpg_group_t *g)
{
    ucpg_group_msg_t msg;
    ucpg_group_req_t *r;

    g->early_count = 0;
    g->early_view  = 0;
    while ((r = g->held) != NULL) {
        g->held = r->next;
        if (r->kind == UCPG_GROUP_KIND_JOIN) {
            ucpg_group_msg_init(g, UCPG_GROUP_MSG_NOT_SEQ, &msg);
            msg.a = r->lseq;
            ucpg_group_send(r->slot, r->uuid, &msg, NULL);
        }
        ucpg_group_req_free(r);
    }
    g->held_others = 0;
}

/* --- acknowledgements, stability ------------------------------------------------- */

/* Sends m again every event after from that we still hold (all of them:
 * m has not received them, so they are not stable), with payload. */
void ucpg_group_seq_resend(ucpg_group_t *g, ucpg_group_member_t *m, uint64_t from)
{
    ucpg_group_event_t *ev;
    ucpg_group_msg_t msg;
    ucpg_buf_t *body;
    uint64_t s;

    /* from comes off the wire: everything up to stable is at every member
     * already, so the walk never exceeds the window whatever it says. */
    for (s = ((from > g->stable) ? from : g->stable) + 1; s <= g->received; ++s) {
        if (((ev = ucpg_group_evbuf_get(&g->evbuf, s)) != NULL) &&
            ucpg_group_event_body(ev, &body)) {
            ucpg_group_evt_msg(g, ev, UCPG_GROUP_FLAG_RETRANS, &msg);
            ucpg_group_send(m->slot, m->uuid, &msg, body);
            ucpg_buf_put(body);
        }
    }
    m->repaired = 1;
}

void ucpg_group_seq_recv_ack(ucpg_group_t *g, uint32_t src, uint64_t uuid, uint64_t received,
                             uint64_t consumed, int repair)
{
    ucpg_group_member_t *m = ucpg_group_member_find(g, src, uuid);

    if ((m == NULL) || (received > g->seq_last) || (consumed > received)) {
        return;
    }
    if (received > m->received) {
        m->received = received;
        m->repaired = 0;
    }
    if (repair && !m->dead) {
        ucpg_group_seq_resend(g, m, received);
    }
    if (consumed > m->consumed) {
        m->consumed    = consumed;
        m->stall_since = 0;
    }
    ucpg_group_seq_update(g);
}

static void ucpg_group_seq_announce_stable(ucpg_group_t *g)
{
    ucpg_group_msg_t msg;
    size_t i;

    ucpg_group_msg_init(g, UCPG_GROUP_MSG_STABLE, &msg);
    msg.a = g->stable;
    for (i = 0; i < g->nmembers; ++i) {
        const ucpg_group_member_t *m = &g->members[i];
        if (!m->dead && !((m->slot == ucpg_group_engine.self) &&
                          (m->uuid == ucpg_group_engine.self_uuid))) {
            ucpg_group_send(m->slot, m->uuid, &msg, NULL);
        }
    }
}

void ucpg_group_seq_update(ucpg_group_t *g)
{
    uint64_t stable = g->received, min_consumed;
    size_t i;

    if (!g->is_seq || g->recovering) {
        return;
    }
    for (i = 0; i < g->nmembers; ++i) {
        if (!g->members[i].dead && (g->members[i].received < stable)) {
            stable = g->members[i].received;
        }
    }
    if (stable > g->stable) {
        ucpg_group_member_stable(g, stable);
        if ((g->safe_pending != 0) && (g->safe_pending <= g->stable)) {
            g->safe_pending = 0;
            ucpg_group_seq_announce_stable(g);   /* SAFE messages are waiting for it */
        }
    }
    min_consumed = ucpg_group_seq_min_consumed(g);
    ucpg_group_seq_window_advance(g, min_consumed);
    if (g->held != NULL) {
        ucpg_group_seq_drain(g);
    }
    ucpg_group_handover_run(g);
}

/* --- stalled members ----------------------------------------------------------------- */

void ucpg_group_seq_check_stall(ucpg_group_t *g, uint64_t now)
{
    uint64_t timeout_ns = (uint64_t)ucpg_group_engine.config->group_stall_timeout_ms * 1000000ull;
    uint64_t min_consumed;
    int evict = 0;
    size_t i;

    g->stall_armed = 0;
    if ((timeout_ns == 0) || !ucpg_group_seq_window_full(g, 0)) {
        for (i = 0; i < g->nmembers; ++i) {
            g->members[i].stall_since = 0;
        }
        return;
    }
    min_consumed = ucpg_group_seq_min_consumed(g);
    for (i = 0; i < g->nmembers; ++i) {
        ucpg_group_member_t *m = &g->members[i];
        if (m->dead || (m->consumed != min_consumed) ||
            ((m->slot == ucpg_group_engine.self) && (m->uuid == ucpg_group_engine.self_uuid))) {
            continue;
        }
        if (m->stall_since == 0) {
            m->stall_since = now;
        } else if ((now > m->stall_since) && (now - m->stall_since >= timeout_ns)) {
            ucpg_warn("removing member pid %u of a group: it read nothing for %u ms",
                      m->pid, ucpg_group_engine.config->group_stall_timeout_ms);
            m->dead    = 1;
            m->evicted = 1;                /* it will read its own removal */
            evict      = 1;
        }
    }
    if (evict) {
        ucpg_group_seq_view(g, NULL, NULL);
    } else {
        g->stall_armed = 1;
        ucpg_group_timer_arm(100);
    }
}

/* --- members the tree failed -------------------------------------------------------- */

/*
 * Every member acknowledges what it received within a millisecond or so; a
 * member that still lacks an event UCPG_GROUP_LAG_MS after it was numbered
 * sits below a forwarder that stopped (SIGSTOP, or too slow to matter) or
 * died unnoticed, and may never ask. Send it everything again, once until
 * it advances. (A stopped member itself gets the copies too, queued like
 * the tree's; the stall timeout removes it as before.)
 */
void ucpg_group_seq_check_lag(ucpg_group_t *g, uint64_t now)
{
    size_t i;

    if (!ucpg_group_timer_due(&g->lag_at, now)) {
        return;
    }
    /* Indexes 1..k are children of ours in every layout, k the narrower
     * fan-out (0 is flat: everybody is a child). */
    for (i = ucpg_group_tree_fanout_min() + 1; i < g->nmembers; ++i) {
        ucpg_group_member_t *m = &g->members[i];
        if (!m->dead && !m->repaired && (m->received < g->lag_seq) &&
            !((m->slot == ucpg_group_engine.self) && (m->uuid == ucpg_group_engine.self_uuid))) {
            ucpg_group_seq_resend(g, m, m->received);
            /* It could not read what never reached it: its stall clock
             * starts now, not when its forwarder stopped. */
            m->stall_since = 0;
        }
    }
    g->lag_at = 0;
    if (g->seq_last > g->lag_seq) {      /* more was numbered since: check it too */
        g->lag_seq = g->seq_last;
        g->lag_at  = now + UCPG_GROUP_LAG_MS * 1000000ull;
        ucpg_group_timer_arm(UCPG_GROUP_LAG_MS);
    }
}

/* --- becoming the sequencer ------------------------------------------------------------ */

void ucpg_group_seq_become(ucpg_group_t *g)
{
    uint64_t cap = 1;
    size_t i;

    while (cap <= ucpg_group_engine.config->group_window) {
        cap <<= 1;
    }
    free(g->win_len);
    g->win_len      = calloc(cap, sizeof(*g->win_len));
    g->win_mask     = cap - 1;
    g->window_bytes = 0;
    g->is_seq       = 1;
    g->seq_last     = g->received;
    g->seq_slot     = ucpg_group_engine.self;
    g->seq_uuid     = ucpg_group_engine.self_uuid;
    /* A SAFE message of our predecessor may still wait for stability: tell
     * everyone once all have what we have. */
    g->safe_pending = (g->received > g->stable) ? g->received : 0;
    g->lag_at       = 0;
    g->early_count  = 0;                 /* what came early is ours to order now */
    ucpg_group_handover_reset(g);
    g->mix_total    = 0;                 /* tree.c: the tree until others send */
    g->mix_own      = 0;
    g->own_flat     = 0;
    /* What others received we learn from their next acks; until then assume
     * only what is known stable (never more: SAFE depends on it). */
    for (i = 0; i < g->nmembers; ++i) {
        if (g->members[i].received < g->stable) {
            g->members[i].received = g->stable;
        }
        if (g->members[i].consumed < g->stable) {
            g->members[i].consumed = g->stable;
        }
        g->members[i].stall_since = 0;
    }
    g->win_base = ucpg_group_seq_min_consumed(g);
    ucpg_group_member_ack(g, 1);          /* our own state, as a member */
    ucpg_group_seq_announce_stable(g);    /* members learn we took over (ucpg_group_member_recv_stable) */
    /* the caller orders our own pending requests (after any view it owes) */
}

void ucpg_group_seq_step_down(ucpg_group_t *g)
{
    g->is_seq       = 0;
    g->safe_pending = 0;
    g->lag_at       = 0;
    g->window_bytes = 0;
    free(g->win_len);
    g->win_len = NULL;
    /* Their senders send them again to the new sequencer when they apply
     * the view that names it; joiners look the group up again. */
    ucpg_group_seq_refuse_held(g);
    if (g->pending_count > 0) {
        ucpg_group_member_await(g);       /* ours now wait for the new one */
    }
}
