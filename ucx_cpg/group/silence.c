/*
 * silence.c - a sequencer that is alive but silent: stopped (SIGSTOP), hung,
 * or deaf (see docs/protocol.md "Known limits": a receive ring poisoned by
 * a peer killed mid-write).
 *
 * No DOWN event ever comes for such a process, so the recovery of
 * recovery.c would never start, and every member waiting for it used to
 * conclude that it was itself cut off and leave: the group dissolved around
 * a stopped sequencer. Instead:
 *
 * 1. A member that has waited group_stall_timeout_ms on the sequencer with
 *    nothing heard from it (its requests unanswered, or a SAFE message it
 *    received not yet known stable) tells the *candidate* (the member that
 *    would succeed the sequencer: the oldest one not dead and not the
 *    sequencer) with SILENT; the candidate itself just goes on to step 2.
 * 2. The candidate PROBEs every other member and waits up to
 *    UCPG_GROUP_SYNC_TIMEOUT_MS for their ALIVE answers.
 * 3. If the sequencer answers, it is alive and hears us: whoever suspected
 *    it is the one cut off, and its own deaf check (recovery.c) applies.
 *    If nobody answers although others are there, the candidate is the deaf
 *    one and does nothing either. Otherwise it EXPELs the sequencer: it
 *    tells every member (and the sequencer, in case it can hear), marks it
 *    dead and recovers as after a death; members that get EXPEL from a
 *    member of theirs naming their sequencer do the same, so all agree on
 *    the successor. The sequencer, when it hears EXPEL, removes itself
 *    (PROCDOWN in its own confchg).
 *
 * A candidate that does not probe within UCPG_GROUP_SYNC_TIMEOUT_MS of being
 * told (stopped with the sequencer, say) is passed over: the next member in
 * line becomes the candidate, and when it expels the sequencer it first
 * expels the passed-over members that did not answer its probe either, so
 * that the recovery's successor (the oldest member alive) is not one of them.
 *
 * Nobody waits on the sequencer of an idle group, but a process that joins
 * does, and it asks the sequencer alone (its JOIN, or the connection that
 * must come first). When that has gone unanswered for
 * UCPG_GROUP_JOIN_TELL_MS, the joiner tells the group's other members, as
 * the directory lists them (UNANSWERED), once a second while it lasts; each
 * of them then waits on the sequencer as for a request of its own, for
 * UCPG_GROUP_JOINER_WAIT_MS after the last word, and step 1 follows.
 *
 * An expelled process is alive and may send again once it runs: everything
 * it sends about the group afterwards is dropped (ucpg_group_silence_expelled),
 * or an event it numbered after the cut could pass for the successor's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"

#include <inttypes.h>

#include <stdlib.h>
#include <string.h>

#include "boot/directory.h"
#include "core/log.h"
#include "core/proc.h"

#define UCPG_GROUP_SILENT_RETELL_NS 1000000000ull   /* SILENT at most once a second */
#define UCPG_GROUP_JOIN_TELL_MS     1000u  /* a JOIN unanswered this long: tell, and
                                            * again this often */
#define UCPG_GROUP_JOINER_WAIT_MS   3000u  /* a member waits this long after the word */

static int ucpg_group_silence_is_seq(const ucpg_group_t *g, const ucpg_group_member_t *m)
{
    return (m->slot == g->seq_slot) && (m->uuid == g->seq_uuid);
}

/* The oldest member neither dead, nor the sequencer, nor passed over; or NULL. */
static ucpg_group_member_t *ucpg_group_silence_candidate(ucpg_group_t *g)
{
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        if (!g->members[i].dead && !g->members[i].passed_over &&
            !ucpg_group_silence_is_seq(g, &g->members[i])) {
            return &g->members[i];
        }
    }
    return NULL;
}

/* Whether we follow a sequencer that could be suspected. */
static int ucpg_group_silence_following(const ucpg_group_t *g)
{
    return !g->is_seq && !g->recovering &&
           ((g->state == UCPG_GROUP_JOINED) || (g->state == UCPG_GROUP_LEAVING));
}

/* ... and whether we suspect one ourselves (a stall timeout of 0 says never). */
static int ucpg_group_silence_applies(const ucpg_group_t *g)
{
    return ucpg_group_silence_following(g) &&
           (ucpg_group_engine.config->group_stall_timeout_ms != 0);
}

static void ucpg_group_silence_send(ucpg_group_t *g, uint8_t type, uint64_t a,
                                    const ucpg_group_member_t *about, uint32_t dst,
                                    uint64_t dst_uuid)
{
    ucpg_group_msg_t msg;

    ucpg_group_msg_init(g, type, &msg);
    msg.a = a;
    if (about != NULL) {
        msg.origin.slot   = about->slot;
        msg.origin.nodeid = about->nodeid;
        msg.origin.pid    = about->pid;
        msg.origin.uuid   = about->uuid;
    }
    ucpg_group_send(dst, dst_uuid, &msg, NULL);
}

/* Sends type to every member but ourselves and the dead. */
static void ucpg_group_silence_tell_all(ucpg_group_t *g, uint8_t type, uint64_t a,
                                        const ucpg_group_member_t *about)
{
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        const ucpg_group_member_t *m = &g->members[i];
        if (!m->dead && !ucpg_group_is_self(m->slot, m->uuid)) {
            ucpg_group_silence_send(g, type, a, about, m->slot, m->uuid);
        }
    }
}

/* --- as the candidate ----------------------------------------------------------- */

static void ucpg_group_silence_probe(ucpg_group_t *g, uint64_t now)
{
    size_t i;

    if (g->probe_since != 0) {
        return;                               /* one at a time */
    }
    g->probe_id       = (g->probe_id + 1) | 1;  /* never 0 */
    g->probe_since    = now;
    for (i = 0; i < g->nmembers; ++i) {
        g->members[i].answered = 0;
    }
    ucpg_info("group: the sequencer (peer %u) is silent; probing the members (probe %" PRIu64
              ")", g->seq_slot, g->probe_id);
    ucpg_group_silence_tell_all(g, UCPG_GROUP_MSG_PROBE, g->probe_id, NULL);
    ucpg_group_timer_arm(100);
}

static void ucpg_group_silence_remember(ucpg_group_t *g, uint32_t slot, uint64_t uuid)
{
    unsigned i = g->nexpelled++ % UCPG_GROUP_EXPELLED_MAX;

    g->expelled[i].slot = slot;
    g->expelled[i].uuid = uuid;
}

/* Marks a member dead and evicted (it is sent the view removing it, and
 * whatever it sends the group from now on is dropped). */
static void ucpg_group_silence_drop_member(ucpg_group_t *g, ucpg_group_member_t *m)
{
    ucpg_group_silence_remember(g, m->slot, m->uuid);
    m->dead    = 1;
    m->evicted = 1;
}

/* Marks the sequencer dead for this group and recovers without it. */
static void ucpg_group_silence_drop_seq(ucpg_group_t *g, ucpg_group_member_t *seq)
{
    ucpg_group_silence_drop_member(g, seq);
    g->probe_since = 0;
    ucpg_group_recovery_peer_down(g);
}

/* Before the sequencer: the candidates passed over that did not answer our
 * probe either. Told first, so that every member has them dead when the
 * sequencer's EXPEL makes it pick the successor. */
static void ucpg_group_silence_expel_passed_over(ucpg_group_t *g)
{
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        ucpg_group_member_t *m = &g->members[i];

        if (m->passed_over && !m->answered && !m->dead &&
            !ucpg_group_silence_is_seq(g, m) && !ucpg_group_is_self(m->slot, m->uuid)) {
            ucpg_warn("group: peer %u (pid %u), next in line after the sequencer, did not act "
                      "on SILENT nor answer our probe: removing it too (PROCDOWN)", m->slot,
                      m->pid);
            ucpg_group_silence_tell_all(g, UCPG_GROUP_MSG_EXPEL, g->view_id, m);
            ucpg_group_silence_drop_member(g, m);
        }
    }
}

static void ucpg_group_silence_expel(ucpg_group_t *g)
{
    ucpg_group_member_t *seq = ucpg_group_member_find(g, g->seq_slot, g->seq_uuid);

    if ((seq == NULL) || seq->dead) {
        g->probe_since = 0;
        return;
    }
    ucpg_group_silence_expel_passed_over(g);
    ucpg_warn("group: the sequencer (pid %u) was silent for %u ms while it was waited on, "
              "and did not answer a probe within %u ms: removing it (PROCDOWN)", seq->pid,
              ucpg_group_engine.config->group_stall_timeout_ms, UCPG_GROUP_SYNC_TIMEOUT_MS);
    ucpg_group_silence_tell_all(g, UCPG_GROUP_MSG_EXPEL, g->view_id, seq);
    ucpg_group_silence_drop_seq(g, seq);
}

/* The probe's time is up (the sequencer did not answer). */
static void ucpg_group_silence_decide(ucpg_group_t *g)
{
    unsigned others = 0, answers = 0;
    size_t i;

    for (i = 0; i < g->nmembers; ++i) {
        const ucpg_group_member_t *m = &g->members[i];
        if (!m->dead && !ucpg_group_is_self(m->slot, m->uuid) &&
            !ucpg_group_silence_is_seq(g, m)) {
            ++others;
            answers += m->answered;
        }
    }
    if ((others > 0) && (answers == 0)) {
        ucpg_warn("group: no member answered our probe: this process is the one that "
                  "cannot hear; the sequencer stays");
        g->probe_since = 0;
        return;
    }
    ucpg_group_silence_expel(g);
}

/* --- the timer ------------------------------------------------------------------ */

/*
 * Whether the candidate we tell SILENT is silent too: it has neither probed
 * within a probe's time of our first word nor shortly before it (stopped
 * along with the sequencer, say). It is then passed over for this view, and the next
 * member in line becomes the candidate.
 */
static int ucpg_group_silence_pass_over(ucpg_group_t *g, ucpg_group_member_t *cand,
                                        uint64_t now)
{
    if (g->silent_cand != cand->uuid) {
        g->silent_cand  = cand->uuid;           /* a new candidate: a new wait */
        g->silent_since = 0;
        return 0;
    }
    if ((g->silent_since == 0) ||
        (now - g->silent_since < UCPG_GROUP_SYNC_TIMEOUT_MS * 1000000ull)) {
        return 0;
    }
    if ((g->probe_heard_from == cand->uuid) &&
        (now - g->probe_heard < 2ull * UCPG_GROUP_SYNC_TIMEOUT_MS * 1000000ull)) {
        g->silent_since = 0;      /* it probed (perhaps before we told it): it acts */
        return 0;
    }
    ucpg_warn("group: peer %u (pid %u), next in line after the silent sequencer, did not "
              "probe within %u ms: passing it over", cand->slot, cand->pid,
              UCPG_GROUP_SYNC_TIMEOUT_MS);
    cand->passed_over = 1;
    g->silent_since   = 0;
    g->silent_told    = 0;
    return 1;
}

/* What we wait on the sequencer for: our requests to be ordered, a
 * joiner's JOIN, or the SAFE message next in line to be declared stable (an
 * idle group with one held would otherwise wait for the stopped sequencer
 * forever). */
static const char *ucpg_group_silence_awaited(ucpg_group_t *g, uint64_t now)
{
    const ucpg_group_event_t *ev;

    if (g->pending_count > 0) {
        return "request(s) of ours unanswered";
    }
    if ((g->joiner_waits != 0) &&
        (now - g->joiner_waits < UCPG_GROUP_JOINER_WAIT_MS * 1000000ull)) {
        return "a joiner unanswered";
    }
    if (g->delivered >= g->received) {
        return NULL;
    }
    ev = ucpg_group_evbuf_get(&g->evbuf, g->delivered + 1);
    return ((ev != NULL) && ucpg_group_event_awaits_stability(g, ev)) ?
           "a SAFE message not declared stable" : NULL;
}

void ucpg_group_silence_check(ucpg_group_t *g, uint64_t now)
{
    uint64_t stall_ns = (uint64_t)ucpg_group_engine.config->group_stall_timeout_ms * 1000000ull;
    ucpg_group_member_t *cand;
    const char *awaited;

    if (!ucpg_group_silence_applies(g)) {
        g->probe_since = 0;
        return;
    }
    if (g->probe_since != 0) {
        if (now - g->probe_since >= UCPG_GROUP_SYNC_TIMEOUT_MS * 1000000ull) {
            ucpg_group_silence_decide(g);
        } else {
            ucpg_group_timer_arm(100);
        }
        return;
    }
    if ((awaited = ucpg_group_silence_awaited(g, now)) == NULL) {
        return;
    }
    ucpg_group_timer_arm(250);
    if ((now <= g->last_heard) || (now - g->last_heard < stall_ns) ||
        ((cand = ucpg_group_silence_candidate(g)) == NULL)) {
        return;
    }
    if (ucpg_group_is_self(cand->slot, cand->uuid)) {
        ucpg_group_silence_probe(g, now);
    } else if (ucpg_group_silence_pass_over(g, cand, now)) {
        ucpg_group_timer_arm(1);                 /* the next in line, at once */
    } else if ((g->silent_told == 0) || (now - g->silent_told >= UCPG_GROUP_SILENT_RETELL_NS)) {
        const ucpg_group_member_t *seq = ucpg_group_member_find(g, g->seq_slot, g->seq_uuid);

        g->silent_told = now;
        if (g->silent_since == 0) {
            g->silent_since = now;               /* the candidate has a probe's time */
        }
        if (seq != NULL) {
            ucpg_info("group: %s and nothing heard from the sequencer (peer %u) for %u ms: "
                      "telling peer %u", awaited, g->seq_slot,
                      ucpg_group_engine.config->group_stall_timeout_ms, cand->slot);
            ucpg_group_silence_send(g, UCPG_GROUP_MSG_SILENT, g->view_id, seq, cand->slot,
                                    cand->uuid);
        }
    }
}

/* --- messages ------------------------------------------------------------------- */

int ucpg_group_silence_expelled(const ucpg_group_t *g, uint32_t slot, uint64_t uuid)
{
    unsigned i, n = (g->nexpelled < UCPG_GROUP_EXPELLED_MAX) ? g->nexpelled :
                                                                UCPG_GROUP_EXPELLED_MAX;

    for (i = 0; i < n; ++i) {
        if ((g->expelled[i].slot == slot) && (g->expelled[i].uuid == uuid)) {
            return 1;
        }
    }
    return 0;
}

/* Whether the message names our sequencer, sent by a live member of ours. */
static int ucpg_group_silence_credible(ucpg_group_t *g, uint32_t src, uint64_t src_uuid,
                                       const ucpg_group_msg_t *msg)
{
    const ucpg_group_member_t *from = ucpg_group_member_find(g, src, src_uuid);

    return (from != NULL) && !from->dead && ucpg_group_silence_following(g) &&
           (msg->origin.slot == g->seq_slot) && (msg->origin.uuid == g->seq_uuid);
}

static void ucpg_group_silence_recv_silent(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                           const ucpg_group_msg_t *msg)
{
    ucpg_group_member_t *cand = ucpg_group_silence_candidate(g);

    if (!ucpg_group_silence_credible(g, src, uuid, msg) || !ucpg_group_silence_applies(g) ||
        (cand == NULL) || !ucpg_group_is_self(cand->slot, cand->uuid)) {
        ucpg_debug("group: ignoring SILENT from peer %u about peer %u", src, msg->origin.slot);
        return;
    }
    ucpg_group_silence_probe(g, ucpg_time_ns());
}

static void ucpg_group_silence_recv_alive(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                          uint64_t probe_id)
{
    ucpg_group_member_t *m;

    if ((g->probe_since == 0) || (probe_id != g->probe_id)) {
        return;                                   /* a late answer */
    }
    if ((src == g->seq_slot) && (uuid == g->seq_uuid)) {
        ucpg_info("group: the sequencer answered our probe: it is alive and hears us");
        g->probe_since = 0;
    } else if ((m = ucpg_group_member_find(g, src, uuid)) != NULL) {
        m->answered = 1;
    }
}

/* EXPEL of a passed-over member (not the sequencer, not us) from a live
 * member of ours: the sequencer's EXPEL follows. Returns 1 if it was one. */
static int ucpg_group_silence_expels_member(ucpg_group_t *g, const ucpg_group_member_t *from,
                                            const ucpg_group_msg_t *msg)
{
    ucpg_group_member_t *m = ucpg_group_member_find(g, msg->origin.slot, msg->origin.uuid);

    if ((m == NULL) || ucpg_group_silence_is_seq(g, m)) {
        return 0;
    }
    if ((from != NULL) && !from->dead && (from != m) && !m->dead &&
        ucpg_group_silence_following(g)) {
        ucpg_warn("group: peer %u removes peer %u (pid %u), silent with the sequencer",
                  from->slot, m->slot, m->pid);
        ucpg_group_silence_drop_member(g, m);
    }
    return 1;
}

static void ucpg_group_silence_recv_expel(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                          const ucpg_group_msg_t *msg)
{
    const ucpg_group_member_t *from = ucpg_group_member_find(g, src, uuid);
    ucpg_group_member_t *seq;

    if (ucpg_group_is_self(msg->origin.slot, msg->origin.uuid)) {
        /* Only a member of ours may expel us, or the founder of the
         * incarnation that replaced ours while all of us were stopped. */
        if ((g->state != UCPG_GROUP_JOINED) && (g->state != UCPG_GROUP_LEAVING)) {
            return;
        }
        if ((from != NULL) && !from->dead) {
            ucpg_warn("group: peer %u removed us from a group: it heard nothing from us "
                      "(stopped?) for too long", src);
            ucpg_group_recovery_cut_off(g);
        } else if ((from == NULL) && (msg->flags & UCPG_GROUP_FLAG_SUPERSEDED)) {
            ucpg_warn("group: peer %u founded the group anew while all its members were "
                      "stopped: we are no longer in it", src);
            ucpg_group_recovery_cut_off(g);
        }
        return;
    }
    if (ucpg_group_silence_expels_member(g, from, msg)) {
        return;
    }
    if (!ucpg_group_silence_credible(g, src, uuid, msg) ||
        ((seq = ucpg_group_member_find(g, g->seq_slot, g->seq_uuid)) == NULL) || seq->dead) {
        ucpg_debug("group: ignoring EXPEL from peer %u of peer %u", src, msg->origin.slot);
        return;
    }
    ucpg_warn("group: peer %u removes the sequencer (pid %u), which it could not reach", src,
              seq->pid);
    ucpg_group_silence_drop_seq(g, seq);
}

/* UNANSWERED: a process of the domain (a joiner: not in our view yet)
 * says our sequencer ignores it. Only the sequencer it names is checked, and
 * only whether it answers a probe: a false word costs a probe, no more. */
static void ucpg_group_silence_recv_unanswered(ucpg_group_t *g, uint32_t src,
                                               const ucpg_group_msg_t *msg)
{
    if (!ucpg_group_silence_applies(g) || (msg->origin.slot != g->seq_slot) ||
        (msg->origin.uuid != g->seq_uuid)) {
        ucpg_debug("group: ignoring UNANSWERED from peer %u about peer %u", src,
                   msg->origin.slot);
        return;
    }
    if (g->joiner_waits == 0) {
        ucpg_info("group: peer %u says the sequencer (peer %u) does not answer its join",
                  src, g->seq_slot);
    }
    g->joiner_waits = ucpg_time_ns();
    ucpg_group_timer_arm(1);
}

void ucpg_group_silence_recv(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                             const ucpg_group_msg_t *msg)
{
    switch (msg->type) {
    case UCPG_GROUP_MSG_SILENT:
        ucpg_group_silence_recv_silent(g, src, uuid, msg);
        break;
    case UCPG_GROUP_MSG_PROBE:
        if ((g->state == UCPG_GROUP_JOINED) || (g->state == UCPG_GROUP_LEAVING)) {
            ucpg_group_silence_send(g, UCPG_GROUP_MSG_ALIVE, msg->a, NULL, src, uuid);
        }
        g->probe_heard      = ucpg_time_ns();    /* it acts as the candidate */
        g->probe_heard_from = uuid;
        break;
    case UCPG_GROUP_MSG_ALIVE:
        ucpg_group_silence_recv_alive(g, src, uuid, msg->a);
        break;
    case UCPG_GROUP_MSG_EXPEL:
        ucpg_group_silence_recv_expel(g, src, uuid, msg);
        break;
    case UCPG_GROUP_MSG_UNANSWERED:
        ucpg_group_silence_recv_unanswered(g, src, msg);
        break;
    }
}

/* --- as a joiner ------------------------------------------------------------------ */

/* The group as the directory lists it now. */
typedef struct ucpg_group_silence_look {
    uint64_t                 gen;
    uint32_t                 seq_slot;
    uint64_t                 seq_uuid;
    int                      moved;      /* another sequencer or incarnation, or none */
    ucpg_registry_gmember_t *members;
    uint32_t                 nmembers;
} ucpg_group_silence_look_t;

static void ucpg_group_silence_look_one(void *arg, const ucpg_registry_group_t *group,
                                        const ucpg_registry_gmember_t *members,
                                        uint32_t nmembers)
{
    ucpg_group_silence_look_t *look = arg;

    look->moved = (group->gen != look->gen) || (group->seq_slot != look->seq_slot) ||
                  (group->seq_uuid != look->seq_uuid);
    free(look->members);
    look->members  = malloc((nmembers + 1u) * sizeof(*members));
    look->nmembers = (look->members != NULL) ? nmembers : 0;
    if (look->nmembers > 0) {
        memcpy(look->members, members, nmembers * sizeof(*members));
    }
}

/* UNANSWERED to every member listed but the sequencer and ourselves. */
static void ucpg_group_silence_tell_listed(ucpg_group_t *g, const ucpg_group_silence_look_t *look)
{
    ucpg_group_msg_t msg;
    uint32_t i;

    ucpg_group_msg_init(g, UCPG_GROUP_MSG_UNANSWERED, &msg);
    msg.origin.slot = look->seq_slot;
    msg.origin.uuid = look->seq_uuid;
    for (i = 0; i < look->nmembers; ++i) {
        const ucpg_registry_gmember_t *m = &look->members[i];
        if (((m->slot != look->seq_slot) || (m->uuid != look->seq_uuid)) &&
            !ucpg_group_is_self(m->slot, m->uuid)) {
            ucpg_group_send(m->slot, m->uuid, &msg, NULL);
        }
    }
}

/*
 * Whether every member the directory lists, ourselves aside, is a stopped
 * process of this host or gone, at least one of them stopped: then nobody
 * is left to remove them (silence.c's steps need a member that runs), and
 * a joiner would wait until one runs again. Only this host's processes can
 * be seen stopped; a member of another host keeps the old rule.
 */
static int ucpg_group_silence_all_stopped(const ucpg_group_silence_look_t *look)
{
    ucpg_domain_t *d = ucpg_group_engine.domain;
    ucpg_peer_info_t info;
    uint32_t i, stopped = 0;

    for (i = 0; i < look->nmembers; ++i) {
        const ucpg_registry_gmember_t *m = &look->members[i];
        if (ucpg_group_is_self(m->slot, m->uuid)) {
            continue;
        }
        if (ucpg_domain_peer_stopped(d, m->slot, m->uuid)) {
            ++stopped;
        } else if ((ucpg_domain_peer_info(d, m->slot, &info) == UCPG_OK) &&
                   (info.uuid == m->uuid)) {
            return 0;                             /* it runs, or we cannot tell */
        }
    }
    return stopped > 0;
}

/* Keeps the members of the incarnation we are about to replace, to tell
 * them once they run (ucpg_group_silence_tell_superseded). */
static int ucpg_group_silence_keep_superseded(ucpg_group_t *g,
                                              const ucpg_group_silence_look_t *look)
{
    uint32_t i;

    free(g->superseded);
    g->nsuperseded = 0;
    g->superseded  = calloc(look->nmembers + 1u, sizeof(*g->superseded));
    if (g->superseded == NULL) {
        return 0;
    }
    for (i = 0; i < look->nmembers; ++i) {
        if (!ucpg_group_is_self(look->members[i].slot, look->members[i].uuid)) {
            g->superseded[g->nsuperseded].slot   = look->members[i].slot;
            g->superseded[g->nsuperseded++].uuid = look->members[i].uuid;
        }
    }
    g->superseded_gen = look->gen;
    return 1;
}

/* A look found every member stopped: SUPERSEDE once that has lasted the
 * stall timeout (kept in the engine, across join calls: a join gives up
 * sooner with the defaults, and the application tries again). */
static int ucpg_group_silence_stopped_for_long(ucpg_group_t *g,
                                               const ucpg_group_silence_look_t *look,
                                               uint64_t now)
{
    uint64_t stall_ns = (uint64_t)ucpg_group_engine.config->group_stall_timeout_ms * 1000000ull;

    /* Seen stopped at every look, a second apart (a join that gave up and
     * the application's next one leave two or three): a longer gap may hide
     * a run between two stops. */
    int seen_throughout = (now - ucpg_group_engine.stopped_seen <=
                           3ull * UCPG_GROUP_JOIN_TELL_MS * 1000000ull);

    ucpg_group_engine.stopped_seen = now;
    if ((ucpg_group_engine.stopped_gen != look->gen) || !seen_throughout) {
        ucpg_group_engine.stopped_gen   = look->gen;
        ucpg_group_engine.stopped_since = now;
        return 0;
    }
    if ((stall_ns == 0) || (now - ucpg_group_engine.stopped_since < stall_ns) ||
        !ucpg_group_silence_keep_superseded(g, look)) {
        return 0;
    }
    ucpg_warn("group: every member of the group (sequencer: peer %u) has been stopped for "
              "%llu ms: founding it anew; each of them will be told it was removed when it "
              "runs again", look->seq_slot,
              (unsigned long long)((now - ucpg_group_engine.stopped_since) / 1000000ull));
    ucpg_group_engine.stopped_gen = 0;
    return 1;
}

int ucpg_group_silence_joining(ucpg_group_t *g, uint32_t seq_slot, uint64_t seq_uuid)
{
    ucpg_group_silence_look_t look = {g->ggen, seq_slot, seq_uuid, 1, NULL, 0};
    uint64_t now = ucpg_time_ns(), tell_ns = UCPG_GROUP_JOIN_TELL_MS * 1000000ull;
    ucpg_status_t status;
    int next = UCPG_GROUP_JOINING_WAIT;

    if (g->join_seq_uuid != seq_uuid) {
        g->join_seq_uuid = seq_uuid;            /* a new wait */
        g->join_since    = now;
        g->join_told     = 0;
        return UCPG_GROUP_JOINING_WAIT;
    }
    if ((now - g->join_since < tell_ns) || ((g->join_told != 0) && (now - g->join_told < tell_ns))) {
        return UCPG_GROUP_JOINING_WAIT;
    }
    g->join_told = now;
    /* The name is fixed and g stays ours while we join: both may be read
     * unlocked. The directory may be another node's: no lock while we ask. */
    ucpg_group_engine_unlock();
    status = ucpg_boot_dir_foreach(ucpg_group_engine.domain, g->name, g->name_len,
                                   ucpg_group_silence_look_one, &look);
    ucpg_group_engine_lock();
    if ((status == UCPG_OK) && look.moved) {
        next = UCPG_GROUP_JOINING_MOVED;
    } else if ((status == UCPG_OK) && (g->state == UCPG_GROUP_JOINING)) {
        if (!ucpg_group_silence_all_stopped(&look)) {
            ucpg_group_engine.stopped_gen = 0;
        } else if (ucpg_group_silence_stopped_for_long(g, &look, now)) {
            next = UCPG_GROUP_JOINING_SUPERSEDE;
        }
        if (next == UCPG_GROUP_JOINING_WAIT) {
            ucpg_info("group: the sequencer (peer %u) has not answered our join for %llu ms: "
                      "telling the other members", seq_slot,
                      (unsigned long long)((now - g->join_since) / 1000000ull));
            ucpg_group_silence_tell_listed(g, &look);
        }
    }
    free(look.members);
    return next;
}

void ucpg_group_silence_tell_superseded(ucpg_group_t *g)
{
    ucpg_peer_info_t info;
    ucpg_group_msg_t msg;
    size_t i = 0;

    while (i < g->nsuperseded) {
        const ucpg_group_proc_t *p = &g->superseded[i];
        int gone = (ucpg_domain_peer_info(ucpg_group_engine.domain, p->slot, &info) != UCPG_OK) ||
                   (info.uuid != p->uuid);

        if (!gone && (info.state != UCPG_PEER_STATE_UP)) {
            ++i;                                  /* still stopped: its handshake waits */
            continue;
        }
        if (!gone) {
            ucpg_group_msg_init(g, UCPG_GROUP_MSG_EXPEL, &msg);
            msg.ggen        = g->superseded_gen;  /* reaches it in the old incarnation */
            msg.flags       = UCPG_GROUP_FLAG_SUPERSEDED;
            msg.origin.slot = p->slot;
            msg.origin.uuid = p->uuid;
            ucpg_group_send(p->slot, p->uuid, &msg, NULL);
        }
        g->superseded[i] = g->superseded[--g->nsuperseded];
    }
    if (g->nsuperseded > 0) {
        ucpg_group_timer_arm(250);
    }
}
