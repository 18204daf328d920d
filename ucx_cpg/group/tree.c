/*
 * tree.c - the delivery tree of a group's messages.
 *
 * A sequencer that sent every message to every member itself would move
 * n - 1 copies through one process: the whole group's bandwidth through one
 * CPU (and, between hosts, one NIC). Instead the view's members, in age
 * order with the sequencer first, are laid out as a heap of fan-out k
 * (group_tree_fanout): the sequencer sends a message to its k children, and
 * every member forwards it to its own children when the message takes
 * effect there. The message's sender is left out of the layout: it already
 * holds the payload and gets the number alone, straight from the sequencer
 * (FLAG_OWN), so its latency does not grow with the depth of the tree.
 * Views and retransmissions always go directly to every member.
 *
 * Every member computes the same tree, because a message takes effect in
 * the view in which it was numbered (and the fan-out depends only on the
 * message's sender and that view: ucpg_group_tree_fanout). A child known to be dead is skipped
 * and its own children are sent to instead; a member that learns of a death
 * too late to be adopted, or whose parent stopped, misses messages and gets
 * them again from the sequencer (REPAIR, and the sequencer's lag check).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"

#include <string.h>

/* Position in the layout of member index i, the member at index skip left
 * out (skip <= 0: nobody; the root, index 0, is never left out). */
static size_t ucpg_group_tree_pos(size_t i, int skip)
{
    return ((skip > 0) && (i > (size_t)skip)) ? i - 1 : i;
}

size_t ucpg_group_tree_index(size_t pos, int skip)
{
    return ((skip > 0) && (pos >= (size_t)skip)) ? pos + 1 : pos;
}

void ucpg_group_tree_children(size_t nmembers, int skip, size_t self, unsigned fanout,
                              size_t *first_p, size_t *end_p)
{
    size_t npos = nmembers - (((skip > 0) && ((size_t)skip < nmembers)) ? 1 : 0);
    size_t pos  = ucpg_group_tree_pos(self, skip), first, end;

    if (((skip > 0) && (self == (size_t)skip)) || (self >= nmembers)) {
        first = end = 0;                 /* the sender is not in the tree */
    } else if (fanout == 0) {
        first = (pos == 0) ? 1 : 0;      /* flat: the root sends to everyone */
        end   = (pos == 0) ? npos : 0;
    } else {
        first = pos * fanout + 1;
        end   = first + fanout;
    }
    *first_p = (first < npos) ? first : npos;
    *end_p   = (end < npos) ? end : npos;
}

void ucpg_group_evt_msg(const ucpg_group_t *g, const ucpg_group_event_t *ev, uint8_t flags,
                        ucpg_group_msg_t *msg)
{
    ucpg_group_msg_init(g, UCPG_GROUP_MSG_EVT, msg);
    msg->kind      = ev->kind;
    msg->guarantee = ev->guarantee;
    msg->flags     = flags;
    msg->a         = ev->seq;
    msg->b         = (g->stable < ev->seq) ? g->stable : ev->seq - 1;
    msg->origin    = ev->origin;
}

/*
 * The fan-out of one message: group_tree_fanout (default 2) for the
 * sequencer's own messages, group_tree_relay_fanout (default 8) for those
 * it orders for others. When the member that sends nearly everything orders
 * its group (handover.c), sending every copy itself would make it the
 * bottleneck; when it only relays, every hop more costs the senders a
 * wake-up and their window an acknowledgement later (with every member
 * sending at 8 members, fan-out 2 for all messages cost a quarter of the
 * rate). Both depend only on the message's sender and the view it takes
 * effect in, so every member lays out the same tree.
 */
/* Whether the process (slot, uuid) is the view's first member, the tree's
 * root: the sequencer, except briefly around a hand-over. */
static int ucpg_group_tree_is_root(const ucpg_group_t *g, uint32_t slot, uint64_t uuid)
{
    return (g->nmembers > 0) && (slot == g->members[0].slot) && (uuid == g->members[0].uuid);
}

unsigned ucpg_group_tree_fanout(const ucpg_group_t *g, const ucpg_group_origin_t *origin)
{
    const ucpg_config_t *cfg = ucpg_group_engine.config;

    return ucpg_group_tree_is_root(g, origin->slot, origin->uuid) ? cfg->group_tree_fanout :
                                                                     cfg->group_tree_relay_fanout;
}

unsigned ucpg_group_tree_fanout_min(void)
{
    unsigned own   = ucpg_group_engine.config->group_tree_fanout;
    unsigned relay = ucpg_group_engine.config->group_tree_relay_fanout;

    if ((own == 0) || (relay == 0)) {
        return own ? own : relay;        /* 0 is flat: it bounds nothing */
    }
    return (own < relay) ? own : relay;
}

/*
 * The sequencer's own messages go down the tree while it sends nearly
 * everything it orders: the tree then takes the copies off the one busy
 * sender. Once others send too, it sends its own to every member itself,
 * flagged FLAT. Down the tree, they shared each child's batches with the
 * messages relayed for the others, which no child passes on, so no batch
 * could be passed on whole: each child forwarded them one by one, a copy
 * each (every member sending at 8 members: 387-435k msgs/s with the tree,
 * 490-646k with every message flat, docs/cpg-bench.md session 30). Decided
 * per round of UCPG_GROUP_TREE_MIX_ROUND messages by the share of ours in
 * the last one: below 7/8, the hand-over's measure of "nearly everything"
 * (handover.c), they go flat. Only the sequencer decides; members follow
 * the flag, so no agreement is needed.
 */
#define UCPG_GROUP_TREE_MIX_ROUND 256u

void ucpg_group_tree_note_order(ucpg_group_t *g, const ucpg_group_origin_t *origin)
{
    g->mix_own += (uint32_t)ucpg_group_is_self(origin->slot, origin->uuid);
    if (++g->mix_total == UCPG_GROUP_TREE_MIX_ROUND) {
        g->own_flat  = (g->mix_own * 8u < UCPG_GROUP_TREE_MIX_ROUND * 7u);
        g->mix_total = 0;
        g->mix_own   = 0;
    }
}

/* A sequencer that is not the tree's root (index 0) sends everything
 * directly: its DATA events are flat too. */
int ucpg_group_tree_sends_flat(const ucpg_group_t *g, const ucpg_group_event_t *ev)
{
    if (ev->kind != UCPG_GROUP_KIND_DATA) {
        return 0;
    }
    if (!ucpg_group_tree_is_root(g, ucpg_group_engine.self, ucpg_group_engine.self_uuid)) {
        return 1;
    }
    return g->own_flat && ucpg_group_tree_is_root(g, ev->origin.slot, ev->origin.uuid);
}

/* Collects the children of member index self into dst (returns the new
 * count, at most UCPG_GROUP_VIEW_MAX); a dead child's children are taken
 * instead (recursively), so one death does not orphan a subtree. */
static size_t ucpg_group_tree_collect(const ucpg_group_t *g, const ucpg_group_origin_t *origin,
                                      size_t self, int skip, unsigned depth,
                                      ucpg_peer_id_t *dst, size_t n)
{
    unsigned fanout = ucpg_group_tree_fanout(g, origin);
    size_t first, end, pos, i;
    const ucpg_group_member_t *m;

    ucpg_group_tree_children(g->nmembers, skip, self, fanout, &first, &end);
    for (pos = first; pos < end; ++pos) {
        i = ucpg_group_tree_index(pos, skip);
        m = &g->members[i];
        if (n == UCPG_GROUP_VIEW_MAX) {
            break;
        } else if (!m->dead) {
            dst[n++] = m->slot;
        } else if (depth < UCPG_GROUP_VIEW_MAX) {
            n = ucpg_group_tree_collect(g, origin, i, skip, depth + 1, dst, n);
        }
    }
    return n;
}

/* The members that get a message of origin from member index self (a
 * leaf, most members, gets none). */
static size_t ucpg_group_tree_targets(ucpg_group_t *g, const ucpg_group_origin_t *origin,
                                      size_t self, ucpg_peer_id_t *dst)
{
    int skip = ucpg_group_member_index(g, origin->slot, origin->uuid);

    return ucpg_group_tree_collect(g, origin, self, skip, 0, dst, 0);
}

void ucpg_group_tree_send(ucpg_group_t *g, const ucpg_group_event_t *ev, size_t self,
                          ucpg_buf_t *body)
{
    ucpg_peer_id_t dst[UCPG_GROUP_VIEW_MAX];   /* distinct members: never more */
    ucpg_group_msg_t msg;
    size_t n = ucpg_group_tree_targets(g, &ev->origin, self, dst);

    if (n > 0) {
        ucpg_group_evt_msg(g, ev, 0, &msg);
        ucpg_group_send_many(dst, n, &msg, body);
    }
}

void ucpg_group_tree_forward(ucpg_group_t *g, const ucpg_group_event_t *ev)
{
    ucpg_peer_id_t dst[UCPG_GROUP_VIEW_MAX];
    ucpg_group_msg_t msg;
    ucpg_buf_t *body;
    size_t n;
    int self;

    /* While we only wait for a successor (not fenced) the stream we pass on
     * is still the old sequencer's, which our children need as much as we
     * do: a sequencer that left looks dead until its hand-over view, which
     * comes after these events, takes effect. */
    if (!ev->forward || g->is_seq || ucpg_group_fenced(g) ||
        (ucpg_group_tree_fanout(g, &ev->origin) == 0)) {
        return;
    }
    self = ucpg_group_member_index(g, ucpg_group_engine.self, ucpg_group_engine.self_uuid);
    if (self <= 0) {               /* index 0 is the root: it sent when it ordered */
        return;
    }
    n = ucpg_group_tree_targets(g, &ev->origin, (size_t)self, dst);
    if ((n > 0) && ucpg_group_event_body(ev, &body)) {   /* an inline body: a copy */
        ucpg_group_evt_msg(g, ev, 0, &msg);
        ucpg_group_send_many(dst, n, &msg, body);
        ucpg_buf_put(body);
    }
}

/* Whether msg continues a run of plain DATA events of first's group and
 * origin, numbered one after the other (*next: the number it must have). */
static int ucpg_group_tree_run_continues(const ucpg_group_msg_t *first,
                                         const ucpg_group_msg_t *msg, uint64_t *next)
{
    if ((msg->type != UCPG_GROUP_MSG_EVT) || (msg->kind != UCPG_GROUP_KIND_DATA) ||
        (msg->flags != 0) || (msg->a != *next) || (msg->gindex != first->gindex) ||
        (msg->ggen != first->ggen) || (msg->origin.slot != first->origin.slot) ||
        (msg->origin.uuid != first->origin.uuid)) {
        return 0;
    }
    ++*next;
    return 1;
}

/*
 * Why whole: a member that forwards each event on its own (an entry in the
 * outbox, a header encoded, the body packed again) spent as much on passing
 * a message on as on receiving it, and the members that forward are the
 * slowest receivers of a flood (docs/cpg-bench.md, session 27). A run of
 * events that all take effect now, in order, in the current view, goes to
 * the same children one by one or as the batch it came in: the children
 * see the same events, in the same order, with the sequencer's stability
 * mark instead of ours (both true).
 */
int ucpg_group_tree_forward_batch(uint32_t src, uint64_t src_uuid, const void *data,
                                  size_t len)
{
    ucpg_peer_id_t dst[UCPG_GROUP_VIEW_MAX];
    ucpg_group_msg_t first, msg;
    const void *item;
    size_t pos = 0, item_len, n = 0;
    uint64_t next = 0;
    ucpg_group_t *g = NULL;
    ucpg_buf_t *copy;
    int self;

    while (ucpg_group_batch_next(data, len, &pos, &msg, &item, &item_len) == UCPG_OK) {
        if (g == NULL) {
            first = msg;
            g     = ucpg_group_find(msg.gindex, msg.ggen);
            next  = (g != NULL) ? g->received + 1 : 0;
        }
        if ((g == NULL) || !ucpg_group_tree_run_continues(&first, &msg, &next)) {
            return 0;
        }
    }
    if ((g == NULL) || (pos != len) || (g->state != UCPG_GROUP_JOINED) || g->is_seq ||
        g->recovering || (g->first_seq == 0) || ucpg_group_silence_expelled(g, src, src_uuid) ||
        (ucpg_group_tree_fanout(g, &first.origin) == 0)) {
        return 0;
    }
    self = ucpg_group_member_index(g, ucpg_group_engine.self, ucpg_group_engine.self_uuid);
    if (self > 0) {                /* index 0 is the root: it sent when it ordered */
        n = ucpg_group_tree_targets(g, &first.origin, (size_t)self, dst);
    }
    if ((n == 0) || ((copy = ucpg_buf_new(len)) == NULL)) {
        return 0;                  /* a leaf; out of memory: one by one */
    }
    memcpy(copy->data, data, len);
    memset(&msg, 0, sizeof(msg));
    msg.type = UCPG_GROUP_MSG_BATCH;
    msg.ggen = 1;
    msg.a    = next - first.a;
    ucpg_group_send_many(dst, n, &msg, copy);
    ucpg_buf_put(copy);
    return 1;
}
