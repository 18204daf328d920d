/*
 * handover.c - the sequencer role moves to the member that sends.
 *
 * A message from the sequencer is numbered where it is sent and delivered to
 * its sender at once; a message from anyone else first travels to the
 * sequencer and its number travels back, two thread wake-ups and a round
 * trip later. When one member sends nearly everything (a leader, a writer of
 * a replicated log, a benchmark's sender), the sequencer therefore hands its
 * role to that member: with group_handover_events = N, once a member other
 * than the sequencer sent at least 7/8 of a round of consecutive messages
 * ordered, a round being at least N messages and 50 ms.
 *
 * The hand-over is a view: the same members, the new sequencer first (the
 * first member orders the group), nobody left or joined. It is numbered in
 * the stream like every view, so every member switches at the same place:
 * events before it came from the old sequencer, events after it from the new
 * one, which starts numbering where the view is. The application is not
 * told (the membership did not change). The old sequencer stops ordering as
 * soon as it has numbered the view; what it still receives or holds, its
 * senders send again when they apply the view (they do so for every change
 * of sequencer), and the new one drops the duplicates by request number.
 *
 * A member may apply the view before the new sequencer does, and send to it
 * early. A request therefore carries the view its sender is in, and a member
 * that is not the sequencer keeps one from a later view (bounded by the
 * window) until it applies that view: it then either orders it or, not
 * being named, drops it.
 */
#include "group_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/proc.h"

/* A round lasts at least this long, so that the bursts in which the
 * scheduler runs senders that share a group evenly (a few milliseconds
 * each on a busy machine) average out: moving the role is cheap, but every
 * member then sends its pending requests again. */
#define UCPG_GROUP_HANDOVER_ROUND_NS (50ull * 1000000ull)

void ucpg_group_handover_reset(ucpg_group_t *g)
{
    g->ho_slot  = 0;
    g->ho_uuid  = 0;
    g->ho_lead  = 0;
    g->ho_total = 0;
    g->ho_due   = 0;
}

/*
 * Whether a member other than the candidate has requests waiting for a
 * number: then it sends as well, and moving the role would make it send
 * all of them again, to a sequencer that knows only what is stable. In
 * an 8-member flood where every member sends, one member that started
 * first sent a whole window alone, won the round, and the role moved as
 * the others' windows of requests arrived: 57 000 requests sent again and
 * about a second without progress, in one run in seven.
 */
static int ucpg_group_handover_others_wait(const ucpg_group_t *g)
{
    const ucpg_group_req_t *r;

    for (r = g->held; r != NULL; r = r->next) {
        if ((r->slot != g->ho_slot) || (r->uuid != g->ho_uuid)) {
            return 1;
        }
    }
    return 0;
}

/* Counts the sender of a message just ordered: the first sender of a round
 * of N is its candidate, and a round in which it sent 7/8 hands over. */
void ucpg_group_handover_note(ucpg_group_t *g, const ucpg_group_origin_t *origin)
{
    uint32_t n = ucpg_group_engine.config->group_handover_events;

    if (n == 0) {
        return;
    }
    if (g->ho_total == 0) {
        g->ho_slot  = origin->slot;
        g->ho_uuid  = origin->uuid;
        g->ho_start = ucpg_time_ns();
    }
    ++g->ho_total;
    if ((origin->slot == g->ho_slot) && (origin->uuid == g->ho_uuid)) {
        ++g->ho_lead;
    }
    /* The clock only once there are enough messages, and then every 64th. */
    if ((g->ho_total < n) || ((g->ho_total - n) % 64 != 0) ||
        (ucpg_time_ns() - g->ho_start < UCPG_GROUP_HANDOVER_ROUND_NS)) {
        return;
    }
    if (((uint64_t)g->ho_lead * 8 >= (uint64_t)g->ho_total * 7) &&
        !((g->ho_slot == ucpg_group_engine.self) && (g->ho_uuid == ucpg_group_engine.self_uuid))) {
        g->ho_due = 1;              /* ordered once the current request is done */
        return;
    }
    g->ho_total = 0;
    g->ho_lead  = 0;
}

/* Whether the group is in a state to change its sequencer: we order it,
 * nobody is dead or leaving (that view comes first), no recovery, and no
 * other member waits to be ordered (checked when the move is due, not when
 * the round is counted: the others' requests may arrive in between). */
static int ucpg_group_handover_possible(ucpg_group_t *g, const ucpg_group_member_t *to)
{
    size_t i;

    if (!g->is_seq || g->recovering || g->draining || (g->state != UCPG_GROUP_JOINED) ||
        (to == NULL) || (g->nmembers < 2) || ucpg_group_handover_others_wait(g)) {
        return 0;
    }
    for (i = 0; i < g->nmembers; ++i) {
        if (g->members[i].dead) {
            return 0;
        }
    }
    return 1;
}

/* The view: the same members in the same order, `to` moved to the front. */
static ucpg_buf_t *ucpg_group_handover_view(ucpg_group_t *g, const ucpg_group_member_t *to)
{
    ucpg_group_vmember_t *list = calloc(g->nmembers, sizeof(*list));
    ucpg_group_vbody_t v;
    ucpg_buf_t *buf = NULL;
    size_t i, n = 1;

    if (list == NULL) {
        return NULL;
    }
    for (i = 0; i < g->nmembers; ++i) {
        const ucpg_group_member_t *m = &g->members[i];
        ucpg_group_vmember_set(&list[(m == to) ? 0 : n++], m->slot, m->uuid, m->nodeid, m->pid,
                               0, m->next_lseq);
    }
    v.view_id  = g->view_id + 1;
    v.nmembers = (uint32_t)g->nmembers;
    v.nleft    = 0;
    v.njoined  = 0;
    v.members  = list;
    buf = ucpg_buf_new(ucpg_group_vbody_len(&v));
    if (buf != NULL) {
        ucpg_group_vbody_encode(&v, buf->data);
        ucpg_group_seq_publish(g, &v);
    }
    free(list);
    return buf;
}

void ucpg_group_handover_run(ucpg_group_t *g)
{
    const ucpg_group_member_t *to;
    ucpg_group_origin_t origin;
    ucpg_buf_t *buf;

    if (!g->ho_due) {
        return;
    }
    to = ucpg_group_member_find(g, g->ho_slot, g->ho_uuid);
    if (!ucpg_group_handover_possible(g, to)) {
        if (!g->draining) {
            ucpg_group_handover_reset(g);    /* count again from here */
        }
        return;
    }
    ucpg_group_handover_reset(g);
    buf = ucpg_group_handover_view(g, to);
    if (buf == NULL) {
        ucpg_warn("out of memory handing a group's sequencer role over: keeping it");
        return;
    }
    ucpg_debug("group %u: handing the sequencer role to peer %u (pid %u) at event %llu",
               g->gindex, to->slot, to->pid, (unsigned long long)(g->seq_last + 1));
    memset(&origin, 0, sizeof(origin));
    origin.slot   = ucpg_group_engine.self;
    origin.uuid   = ucpg_group_engine.self_uuid;
    origin.nodeid = ucpg_group_engine.nodeid;
    origin.pid    = ucpg_group_engine.pid;
    /* Applying our own view steps us down (ucpg_group_follow_sequencer). */
    ucpg_group_seq_emit(g, UCPG_GROUP_KIND_VIEW, 0, &origin, buf, NULL);
    ucpg_buf_put(buf);
}

int ucpg_group_handover_hold_early(ucpg_group_t *g, const ucpg_group_req_t *req,
                                   uint64_t view_id)
{
    /* Each member has at most a window of requests outstanding. */
    size_t max = (size_t)ucpg_group_engine.config->group_window * (g->nmembers + 1);

    if ((view_id <= g->view_id) ||
        ((g->state != UCPG_GROUP_JOINED) && (g->state != UCPG_GROUP_LEAVING)) ||
        (g->early_count >= max)) {
        return 0;          /* stale (its sender resends when it moves on), or too many */
    }
    ucpg_group_seq_hold(g, req);
    ++g->early_count;
    if (view_id > g->early_view) {
        g->early_view = view_id;
    }
    return 1;
}

void ucpg_group_handover_drop_early(ucpg_group_t *g)
{
    /* Only what was kept early: a successor in recovery holds requests of
     * its own kind in the same list, and applies views before it orders. */
    if (!g->is_seq && !g->recovering && (g->early_count > 0) && (g->view_id >= g->early_view)) {
        ucpg_group_seq_refuse_held(g);     /* we were not named: not ours to order */
    }
}

/*
 * A member below a gap asks its sequencer to repair it (ACK|REPAIR, see
 * member.c). When the gap lies before a hand-over view, the one it asks has
 * already stepped down, and the new one cannot act before that member has
 * the view: so whoever is asked serves it from the events it still holds
 * (everything a member has not acknowledged is not stable, so still held).
 */
void ucpg_group_handover_serve_repair(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                      uint64_t from)
{
    ucpg_group_member_t *m = ucpg_group_member_find(g, src, uuid);

    if ((m != NULL) && !m->dead && (g->first_seq != 0) &&
        ((g->state == UCPG_GROUP_JOINED) || (g->state == UCPG_GROUP_LEAVING))) {
        ucpg_group_seq_resend(g, m, from);
    }
}
