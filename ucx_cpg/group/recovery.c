/*
 * recovery.c - a new sequencer when the old one died.
 *
 * Every member knows the view in age order and sees deaths (the domain's
 * peer events), so every member computes the same successor: the oldest
 * member not known dead. The successor asks every live member for the
 * events it holds (SYNC_REQ); a member that answers stops accepting events
 * from anyone else (a late message of the dead sequencer must not slip in)
 * and reports its received-through point and its retained events. With
 * all answers in, the successor computes the cut: the longest gap-free
 * prefix any survivor holds. AGREED messages may have been delivered before
 * they were stable, so the cut must be the maximum, not the minimum
 * (group-semantics.md §4): each survivor is sent what it misses up to the
 * cut, events above a gap are dropped everywhere (nobody delivered them),
 * and the view removing the dead follows the cut. Members then resend their
 * own requests that did not make it into the stream.
 *
 * If the successor dies too, the next oldest starts over with a new attempt
 * id; answers to an old attempt are ignored.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/proc.h"

static int ucpg_group_self_at(const ucpg_group_t *g, size_t i)
{
    return ucpg_group_is_self(g->members[i].slot, g->members[i].uuid);
}

/* Index of the oldest member not known dead, or -1. */
static int ucpg_group_recovery_successor(const ucpg_group_t *g)
{
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        if (!g->members[i].dead) {
            return (int)i;
        }
    }
    return -1;
}

/* --- as a member: answer the successor ------------------------------------------ */

static void ucpg_group_recovery_answer(ucpg_group_t *g)
{
    ucpg_group_srec_t rec;
    ucpg_group_event_t *ev;
    ucpg_group_msg_t msg;
    ucpg_buf_t *buf;
    size_t len = 0, pos = 0;
    uint64_t i;

    ucpg_info("group recovery: answering successor peer %u (attempt %" PRIx64
              "), received through %" PRIu64, g->sync_from_slot, g->sync_from_attempt,
              g->received);
    g->sync_from_valid = 0;
    g->recovering      = 1;
    g->fenced          = 1;
    g->recovery_since  = ucpg_time_ns();   /* the successor is alive: wait for it anew */
    ucpg_group_timer_arm(2 * UCPG_GROUP_SYNC_TIMEOUT_MS);
    g->seq_slot        = g->sync_from_slot;   /* fence everyone else */
    g->seq_uuid        = g->sync_from_uuid;
    for (i = 0; (g->evbuf.ring != NULL) && (i <= g->evbuf.mask); ++i) {
        if ((ev = g->evbuf.ring[i]) != NULL) {
            len += UCPG_GROUP_SREC_HDR_LEN + ev->len;
        }
    }
    buf = ucpg_buf_new(len);
    if (buf == NULL) {
        ucpg_error("out of memory answering a group sync");
        return;
    }
    for (i = 0; (g->evbuf.ring != NULL) && (i <= g->evbuf.mask); ++i) {
        if ((ev = g->evbuf.ring[i]) != NULL) {
            rec.seq       = ev->seq;
            rec.kind      = ev->kind;
            rec.guarantee = ev->guarantee;
            rec.origin    = ev->origin;
            rec.len       = (uint32_t)ev->len;
            rec.data      = ev->data;
            pos += ucpg_group_srec_encode(&rec, buf->data + pos);
        }
    }
    ucpg_group_msg_init(g, UCPG_GROUP_MSG_SYNC_REP, &msg);
    msg.a = g->sync_from_attempt;
    msg.b = g->received;
    ucpg_group_send(g->sync_from_slot, g->sync_from_uuid, &msg, buf);
    ucpg_buf_put(buf);
    ucpg_group_member_drop_above(g, g->received);   /* above a gap: nobody delivered it */
}

void ucpg_group_recovery_recv_req(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                  uint64_t attempt)
{
    int idx = ucpg_group_member_index(g, src, uuid);
    int succ;

    if ((g->state == UCPG_GROUP_JOINING) || (g->state == UCPG_GROUP_ABANDONED) || (idx < 0) ||
        g->members[idx].dead) {
        ucpg_info("group recovery: ignoring a sync request from peer %u (state %d, index %d)",
                  src, (int)g->state, idx);
        return;
    }
    g->sync_from_slot    = src;
    g->sync_from_uuid    = uuid;
    g->sync_from_attempt = attempt;
    g->sync_from_valid   = 1;
    succ = ucpg_group_recovery_successor(g);
    if (succ == idx) {
        ucpg_group_recovery_answer(g);
    } else {
        ucpg_info("group recovery: peer %u asks for our events; answering once we see "
                  "the deaths it saw", src);
    }
    /* else: we have not seen every death it has; answered when we do */
}

/* --- as the successor ------------------------------------------------------------ */

static void ucpg_group_recovery_union_add(ucpg_group_t *g, ucpg_group_event_t *ev)
{
    if (ucpg_group_evbuf_put(&g->sync_union, ev) == UCPG_ERR_NO_MEMORY) {
        ucpg_error("out of memory collecting group events");
    }
}

static void ucpg_group_recovery_start(ucpg_group_t *g)
{
    ucpg_group_msg_t msg;
    uint64_t i;
    size_t k;

    free(g->sync_waiting);
    free(g->sync_received);
    g->sync_waiting  = calloc(g->nmembers ? g->nmembers : 1, 1);
    g->sync_received = calloc(g->nmembers ? g->nmembers : 1, sizeof(uint64_t));
    if ((g->sync_waiting == NULL) || (g->sync_received == NULL)) {
        ucpg_error("out of memory starting group recovery");
        return;
    }
    g->recovering     = 1;
    g->fenced         = 1;
    g->recovery_since = ucpg_time_ns();
    ucpg_group_timer_arm(UCPG_GROUP_SYNC_TIMEOUT_MS);
    g->sync_attempt = ((uint64_t)ucpg_group_engine.self << 32) | (uint32_t)(g->sync_attempt + 1);
    g->seq_slot     = ucpg_group_engine.self;
    g->seq_uuid     = ucpg_group_engine.self_uuid;
    ucpg_group_evbuf_clear(&g->sync_union);
    for (i = 0; (g->evbuf.ring != NULL) && (i <= g->evbuf.mask); ++i) {
        if (g->evbuf.ring[i] != NULL) {
            ucpg_group_recovery_union_add(g, g->evbuf.ring[i]);
        }
    }
    ucpg_info("group recovery: the sequencer died, we take over (attempt %" PRIx64
              ", received through %" PRIu64 ")", g->sync_attempt, g->received);
    ucpg_group_msg_init(g, UCPG_GROUP_MSG_SYNC_REQ, &msg);
    msg.a = g->sync_attempt;
    for (k = 0; k < g->nmembers; ++k) {
        g->sync_received[k] = g->received;
        if (!g->members[k].dead && !ucpg_group_self_at(g, k)) {
            g->sync_waiting[k] = 1;
            ucpg_debug("group recovery: asking peer %u", g->members[k].slot);
            ucpg_group_send(g->members[k].slot, g->members[k].uuid, &msg, NULL);
        }
    }
}

static int ucpg_group_recovery_waiting(const ucpg_group_t *g)
{
    size_t k;

    for (k = 0; k < g->nmembers; ++k) {
        if (g->sync_waiting[k] && !g->members[k].dead) {
            return 1;
        }
    }
    return 0;
}

/* Sends member k what it misses in (from, cut]. */
static void ucpg_group_recovery_fill(ucpg_group_t *g, size_t k, uint64_t from, uint64_t cut)
{
    ucpg_group_event_t *ev;
    ucpg_group_msg_t msg;
    ucpg_buf_t *body;
    uint64_t s;

    for (s = from + 1; s <= cut; ++s) {
        ev = ucpg_group_evbuf_get(&g->sync_union, s);
        if ((ev == NULL) || !ucpg_group_event_body(ev, &body)) {
            continue;                 /* the cut is gap-free; out of memory: logged */
        }
        ucpg_group_msg_init(g, UCPG_GROUP_MSG_EVT, &msg);
        msg.kind      = ev->kind;
        msg.guarantee = ev->guarantee;
        msg.flags     = UCPG_GROUP_FLAG_RETRANS;
        msg.a         = ev->seq;
        msg.b         = 0;
        msg.origin    = ev->origin;
        ucpg_group_send(g->members[k].slot, g->members[k].uuid, &msg, body);
        ucpg_buf_put(body);
    }
}

static void ucpg_group_recovery_complete(ucpg_group_t *g)
{
    uint64_t lo = g->received, cut, s, *from;
    size_t k, n = g->nmembers;

    for (k = 0; k < n; ++k) {
        if (!g->members[k].dead && (g->sync_received[k] < lo)) {
            lo = g->sync_received[k];
        }
    }
    for (cut = lo; ucpg_group_evbuf_get(&g->sync_union, cut + 1) != NULL; ++cut) {
    }
    ucpg_info("group recovery: cut at %" PRIu64 " (lowest member through %" PRIu64
              ", we had %" PRIu64 ")", cut, lo, g->received);
    /* Remember who had what before our own view changes under the union. */
    from = calloc(n ? n : 1, sizeof(*from));
    if (from == NULL) {
        ucpg_error("out of memory completing group recovery");
        return;
    }
    for (k = 0; k < n; ++k) {
        from[k] = g->sync_received[k];
    }
    for (k = 0; k < n; ++k) {
        if (!g->members[k].dead && !ucpg_group_self_at(g, k)) {
            ucpg_group_recovery_fill(g, k, from[k], cut);
        }
    }
    free(from);
    for (s = g->received + 1; s <= cut; ++s) {
        ucpg_group_member_receive(g, ucpg_group_evbuf_get(&g->sync_union, s));
    }
    ucpg_group_member_drop_above(g, cut);
    ucpg_group_evbuf_clear(&g->sync_union);
    /* Members added by a view inside the union never took part: send them
     * their stream from their join on. */
    for (k = 0; k < g->nmembers; ++k) {
        const ucpg_group_member_t *m = &g->members[k];
        if (!m->dead && (m->joined_seq > lo) && (m->joined_seq <= cut) &&
            !ucpg_group_self_at(g, k)) {
            ucpg_group_recovery_fill(g, k, m->joined_seq - 1, cut);
        }
    }
    g->recovering = 0;
    g->fenced     = 0;
    ucpg_group_evbuf_clear(&g->fence_stash);   /* we order from the cut on */
    ucpg_group_seq_become(g);
    ucpg_group_seq_view(g, NULL, NULL);     /* the cut: removes every dead member */
    ucpg_group_member_resend(g);            /* then what we sent that did not make it */
    ucpg_group_seq_drain(g);
}

void ucpg_group_recovery_recv_rep(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                  const ucpg_group_msg_t *msg, const void *data, size_t len)
{
    int k = ucpg_group_member_index(g, src, uuid);
    ucpg_group_event_t *ev;
    ucpg_buf_t *buf;
    ucpg_group_srec_t rec;
    size_t pos = 0;
    ucpg_status_t status;

    if (!g->recovering || (g->seq_slot != ucpg_group_engine.self) ||
        (msg->a != g->sync_attempt) || (k < 0) || !g->sync_waiting[k]) {
        ucpg_info("group recovery: ignoring a sync reply from peer %u (attempt %" PRIx64
                  ", ours %" PRIx64 ", index %d)", src, msg->a, g->sync_attempt, k);
        return;
    }
    ucpg_info("group recovery: peer %u holds %zu bytes of events, received through %" PRIu64,
              src, len, msg->b);
    while ((status = ucpg_group_srec_next(data, len, &pos, &rec)) == UCPG_OK) {
        buf = ucpg_buf_new(rec.len);
        ev  = (buf == NULL) ? NULL :
              ucpg_group_event_new(rec.seq, rec.kind, rec.guarantee, &rec.origin, buf);
        if (ev == NULL) {
            ucpg_buf_put(buf);
            ucpg_error("out of memory collecting group events");
            return;
        }
        ucpg_buf_copy(buf->data, rec.data, rec.len);
        ucpg_buf_put(buf);
        ucpg_group_recovery_union_add(g, ev);
        ucpg_group_event_put(ev);
    }
    if (status != UCPG_ERR_NOT_FOUND) {
        ucpg_warn("malformed group sync reply from peer %u", src);
        return;
    }
    g->sync_received[k] = msg->b;
    g->sync_waiting[k]  = 0;
    if (!ucpg_group_recovery_waiting(g)) {
        ucpg_group_recovery_complete(g);
    }
}

/* --- a death was seen ---------------------------------------------------------- */

void ucpg_group_recovery_peer_down(ucpg_group_t *g)
{
    int succ = ucpg_group_recovery_successor(g);
    int seq_alive;

    if ((succ < 0) || (g->state == UCPG_GROUP_JOINING) || (g->state == UCPG_GROUP_ABANDONED)) {
        return;
    }
    seq_alive = !g->recovering &&
                (ucpg_group_member_find(g, g->seq_slot, g->seq_uuid) != NULL) &&
                !ucpg_group_member_find(g, g->seq_slot, g->seq_uuid)->dead;
    if (seq_alive) {
        return;                  /* it orders the view removing the dead */
    }
    if (ucpg_group_self_at(g, (size_t)succ)) {
        if (g->recovering && (g->seq_slot == ucpg_group_engine.self) &&
            (g->sync_waiting != NULL)) {
            if (!ucpg_group_recovery_waiting(g)) {
                ucpg_group_recovery_complete(g);   /* the one we waited for died */
            }
            return;
        }
        ucpg_group_recovery_start(g);
        if (!ucpg_group_recovery_waiting(g)) {
            ucpg_group_recovery_complete(g);       /* we are alone */
        }
        return;
    }
    if (!g->recovering) {
        ucpg_info("group recovery: the sequencer died; waiting for peer %u",
                  g->members[succ].slot);
        g->recovery_since = ucpg_time_ns();
        ucpg_group_timer_arm(2 * UCPG_GROUP_SYNC_TIMEOUT_MS);
    }
    g->recovering = 1;           /* hold our sends for the successor */
    if (g->sync_from_valid && (g->sync_from_slot == g->members[succ].slot) &&
        (g->sync_from_uuid == g->members[succ].uuid)) {
        ucpg_group_recovery_answer(g);
    }
}

/* --- giving up ---------------------------------------------------------------- */

/*
 * A member that does not answer within UCPG_GROUP_SYNC_TIMEOUT_MS is treated
 * as dead: the rest of the group must go on (liveness). This is not only for
 * hung processes: UCX's shared-memory transport delivers a receiver's
 * messages from one ring shared by all its senders, and a sender killed
 * halfway through writing a slot blocks that ring for good, so a live
 * member can become deaf. It is told it was removed, in case it can hear.
 */
static void ucpg_group_recovery_give_up(ucpg_group_t *g)
{
    size_t k;

    for (k = 0; k < g->nmembers; ++k) {
        if (g->sync_waiting[k] && !g->members[k].dead) {
            ucpg_warn("group recovery: peer %u (pid %u) did not answer within %u ms: "
                      "removing it", g->members[k].slot, g->members[k].pid,
                      UCPG_GROUP_SYNC_TIMEOUT_MS);
            g->members[k].dead    = 1;
            g->members[k].evicted = 1;
            g->sync_waiting[k]    = 0;
        }
    }
    ucpg_group_recovery_complete(g);
}

/* We cannot hear the group (we waited twice as long as the successor waits
 * for us and it never asked, or our requests went unanswered too long), or
 * it expelled us (silence.c). Remove ourselves locally (PROCDOWN), so that
 * the application learns it is out instead of waiting for ever. */
void ucpg_group_recovery_cut_off(ucpg_group_t *g)
{
    ucpg_group_vmember_t *list = calloc(g->nmembers + 1, sizeof(*list));
    ucpg_group_origin_t origin;
    ucpg_group_event_t *ev;
    ucpg_group_vbody_t v;
    ucpg_buf_t *buf;
    size_t k, n = 0;

    if (list == NULL) {
        return;
    }
    for (k = 0; k < g->nmembers; ++k) {
        if (!g->members[k].dead && !ucpg_group_self_at(g, k)) {
            list[n]        = (ucpg_group_vmember_t){g->members[k].slot, g->members[k].nodeid,
                                                    g->members[k].pid, 0, g->members[k].uuid,
                                                    g->members[k].next_lseq};
            ++n;
        }
    }
    list[n] = (ucpg_group_vmember_t){ucpg_group_engine.self, ucpg_group_engine.nodeid,
                                     ucpg_group_engine.pid, UCPG_GROUP_REASON_PROCDOWN,
                                     ucpg_group_engine.self_uuid, 0};
    v.view_id  = g->view_id + 1;
    v.nmembers = (uint32_t)n;
    v.nleft    = 1;
    v.njoined  = 0;
    v.members  = list;
    buf = ucpg_buf_new(ucpg_group_vbody_len(&v));
    memset(&origin, 0, sizeof(origin));
    origin.slot = ucpg_group_engine.self;
    origin.uuid = ucpg_group_engine.self_uuid;
    ev = (buf == NULL) ? NULL :
         ucpg_group_event_new(g->received + 1, UCPG_GROUP_KIND_VIEW, 0, &origin, buf);
    if (ev != NULL) {
        ucpg_group_vbody_encode(&v, buf->data);
        ucpg_group_member_drop_above(g, g->received);
        g->recovering = 0;
        g->fenced     = 0;
        ucpg_group_member_receive(g, ev);     /* the view removing us: state GONE */
        ucpg_group_event_put(ev);
    }
    ucpg_buf_put(buf);
    free(list);
}

/* now - since, never negative (a stamp taken after now counts as no wait). */
static uint64_t ucpg_group_elapsed(uint64_t now, uint64_t since)
{
    return (now > since) ? now - since : 0;
}

void ucpg_group_recovery_check(ucpg_group_t *g, uint64_t now)
{
    uint64_t waited = ucpg_group_elapsed(now, g->recovery_since);
    int successor   = (g->seq_slot == ucpg_group_engine.self) && (g->sync_waiting != NULL);

    if (successor && (waited >= (uint64_t)UCPG_GROUP_SYNC_TIMEOUT_MS * 1000000ull)) {
        ucpg_group_recovery_give_up(g);
    } else if (!successor && (waited >= 2ull * UCPG_GROUP_SYNC_TIMEOUT_MS * 1000000ull)) {
        ucpg_warn("group recovery: no word from the new sequencer within %u ms: this process "
                  "cannot hear the group any more and leaves it", 2 * UCPG_GROUP_SYNC_TIMEOUT_MS);
        ucpg_group_recovery_cut_off(g);
    } else {
        ucpg_group_timer_arm(100);
    }
}

void ucpg_group_recovery_check_deaf(ucpg_group_t *g, uint64_t now)
{
    /* Longer than a stalled member can hold the group, plus the time to
     * remove it, and longer than the removal of a silent sequencer takes
     * (silence.c: stall timeout, a probe's time to pass over a silent
     * candidate, then a probe of UCPG_GROUP_SYNC_TIMEOUT_MS): silence beyond
     * that is not flow control. */
    uint64_t limit_ms = (uint64_t)ucpg_group_engine.config->group_stall_timeout_ms +
                        4ull * UCPG_GROUP_SYNC_TIMEOUT_MS;

    if ((g->pending_count == 0) || g->is_seq || g->recovering) {
        return;
    }
    if (ucpg_group_engine.config->group_stall_timeout_ms == 0) {
        limit_ms = 60000;                       /* no removal: be patient */
    }
    if (ucpg_group_elapsed(now, g->last_heard) >= limit_ms * 1000000ull) {
        ucpg_warn("group: %zu request(s) of ours unanswered and nothing heard from the "
                  "sequencer for %llu ms", g->pending_count, (unsigned long long)limit_ms);
        ucpg_group_recovery_cut_off(g);
    } else {
        ucpg_group_timer_arm(1000);
    }
}
