/*
 * dispatch.c - each handle's queue of callbacks and cpg_dispatch.
 *
 * The group engine hands over events (messages, views) in stream order from
 * whatever thread produced them; they wait here until the application
 * dispatches, and the application's callbacks always run in its own thread.
 * The handle's eventfd is readable while something is queued (or the
 * handle was finalized, which also wakes a blocked dispatcher: corosync
 * leaves it blocked forever); during a cpg_dispatch call it may stay
 * readable after the queue emptied, and is made exact before the call
 * blocks or returns. Releasing an event after its callback is what
 * tells the group this member consumed it (flow control).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpg_int.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/domain.h"
#include "core/log.h"
#include "core/proc.h"

/*
 * The eventfd is written once per quiet period, not per event, because a
 * system call costs about a microsecond on a VM: the first event queued after
 * the dispatcher emptied the queue arms it (h->lock held), and whoever armed
 * it writes once it has let go of the handle's lock; the progress thread
 * also waits until it has let go of the group engine's (ucpg_group_defer).
 * A dispatcher woken under a lock would run, meet it, and hand the CPU back.
 * Until the write lands the dispatcher sees efd_armed with nothing to read,
 * and polls.
 */
static int ucpg_cpg_efd_arm(ucpg_cpg_handle_t *h)
{
    if (h->efd_armed) {
        return 0;
    }
    h->efd_armed = 1;
    return 1;
}

/* The write an arm owes (no lock of the handle held). */
static void ucpg_cpg_efd_signal(ucpg_cpg_handle_t *h)
{
    uint64_t one = 1;

    if (write(h->efd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        ucpg_warn("CPG handle %llx: cannot signal its fd: %m", (unsigned long long)h->id);
        pthread_mutex_lock(&h->lock);
        h->efd_armed = 0;                /* the next event tries again */
        pthread_mutex_unlock(&h->lock);
    }
}

/* The write, deferred or not, with the reference ucpg_cpg_efd_wake took. */
static void ucpg_cpg_efd_write(void *arg)
{
    ucpg_cpg_handle_t *h = arg;

    ucpg_cpg_efd_signal(h);
    ucpg_cpg_handle_put(h);
}

/* Pays an arm's write (no lock of the handle held). */
static void ucpg_cpg_efd_wake(ucpg_cpg_handle_t *h)
{
    __atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);   /* finalize may free it meanwhile */
    if (!ucpg_group_defer(ucpg_cpg_efd_write, h)) {
        ucpg_cpg_efd_write(h);
    }
}

/* Arms under the handle's lock; 1 if the caller owes the write. */
static int ucpg_cpg_efd_arm_locked(ucpg_cpg_handle_t *h)
{
    int owed;

    pthread_mutex_lock(&h->lock);
    owed = ucpg_cpg_efd_arm(h);
    pthread_mutex_unlock(&h->lock);
    return owed;
}

void ucpg_cpg_wake(ucpg_cpg_handle_t *h)
{
    if (ucpg_cpg_efd_arm_locked(h)) {
        ucpg_cpg_efd_wake(h);
    }
}

/*
 * The same without a reference: for a caller that holds what keeps the
 * handle alive by other means (a host group's callback: the handle is freed
 * only after its groups, and a group is destroyed only under the lock the
 * caller of the callback holds). Taking and dropping a reference there
 * could make the caller the last owner, which would free the handle, and
 * destroy that very group, from inside the group's own call.
 */
void ucpg_cpg_wake_held(ucpg_cpg_handle_t *h)
{
    if (ucpg_cpg_efd_arm_locked(h)) {
        ucpg_cpg_efd_signal(h);
    }
}

/*
 * The queue is a ring of event pointers rather than a list of items: the
 * producer (the progress thread) and the dispatcher run on different CPUs,
 * and every item, a separate allocation handed back and forth, cost each of
 * them a cache miss per message (8% of all CPU in an 8-member flood went to
 * the producer's load of a spare item's link). Consecutive slots share
 * cache lines, eight pointers to one.
 */
#define UCPG_CPG_RING_MIN 64

/* Room for one more (h->lock held): the ring doubles, keeping the order.
 * 0, or -1 out of memory. */
static int ucpg_cpg_ring_reserve(ucpg_cpg_handle_t *h)
{
    size_t cap = (h->ring != NULL) ? h->ring_mask + 1 : 0;
    size_t grown = (cap > 0) ? 2 * cap : UCPG_CPG_RING_MIN, i;
    ucpg_group_event_t **ring;

    if (h->queued < cap) {
        return 0;
    }
    ring = malloc(grown * sizeof(*ring));
    if (ring == NULL) {
        return -1;
    }
    for (i = 0; i < h->queued; ++i) {
        ring[i] = h->ring[(h->ring_head + i) & h->ring_mask];
    }
    free(h->ring);
    h->ring      = ring;
    h->ring_mask = grown - 1;
    h->ring_head = 0;
    return 0;
}

/* Appends (h->lock held): 1 if the caller owes the eventfd a write, 0 if
 * not, -1 out of memory. */
static int ucpg_cpg_queue_append(ucpg_cpg_handle_t *h, ucpg_group_event_t *event)
{
    if (ucpg_cpg_ring_reserve(h) != 0) {
        return -1;
    }
    h->ring[(h->ring_head + h->queued) & h->ring_mask] = event;
    __atomic_store_n(&h->queued, h->queued + 1, __ATOMIC_RELEASE);  /* read unlocked: linger */
    return ucpg_cpg_efd_arm(h);
}

/* Called by the group engine (it holds its lock): only queue. */
void ucpg_cpg_queue_event(void *arg, ucpg_group_event_t *event)
{
    ucpg_cpg_handle_t *h = arg;
    int owed;

    pthread_mutex_lock(&h->lock);
    owed = ucpg_cpg_queue_append(h, event);
    pthread_mutex_unlock(&h->lock);
    if (owed < 0) {
        ucpg_warn("CPG handle %llx: out of memory, a callback is lost",
                  (unsigned long long)h->id);
        if (event != NULL) {
            ucpg_group_event_release(event);   /* counted as read: the window moves on */
        }
    } else if (owed) {
        ucpg_cpg_efd_wake(h);
    }
}

void ucpg_cpg_queue_clear(ucpg_cpg_handle_t *h)
{
    ucpg_group_event_t **ring, *ev;
    uint64_t head;
    size_t mask, n, i;

    pthread_mutex_lock(&h->lock);
    ring         = h->ring;
    head         = h->ring_head;
    mask         = h->ring_mask;
    n            = h->queued;
    h->ring      = NULL;
    h->ring_mask = 0;
    h->ring_head = 0;
    __atomic_store_n(&h->queued, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&h->lock);
    for (i = 0; i < n; ++i) {
        ev = ring[(head + i) & mask];
        if (ev != NULL) {
            ucpg_group_event_release(ev);
        }
    }
    free(ring);
}

static void ucpg_cpg_queue_totem(ucpg_cpg_handle_t *h)
{
    int wanted;

    pthread_mutex_lock(&h->lock);
    wanted = (h->model.cpg_totem_confchg_fn != NULL);
    pthread_mutex_unlock(&h->lock);
    if (wanted) {
        ucpg_cpg_queue_event(h, NULL);
    }
}

void ucpg_cpg_nodes_changed(void *arg)
{
    (void)arg;
    ucpg_cpg_handles_each(ucpg_cpg_queue_totem);
}

/* The totem view: the nodes with a live process of the domain, ascending.
 * The ring is named after the lowest (corosync's representative) and
 * numbered by the changes of that set (its epoch). */
typedef struct ucpg_cpg_totem {
    uint32_t nodes[CPG_MEMBERS_MAX];
    size_t   n;
    uint64_t epoch;
} ucpg_cpg_totem_t;

static void ucpg_cpg_totem_get(ucpg_cpg_totem_t *t)
{
    t->n     = 0;
    t->epoch = 1;
    if (ucpg_group_nodes(t->nodes, CPG_MEMBERS_MAX, &t->n, &t->epoch) != UCPG_OK) {
        t->n = 0;
    }
    t->n = (t->n < CPG_MEMBERS_MAX) ? t->n : CPG_MEMBERS_MAX;
}

static void ucpg_cpg_call_totem(ucpg_cpg_handle_t *h, const cpg_model_v1_data_t *model,
                                const ucpg_cpg_totem_t *t)
{
    struct cpg_ring_id ring;

    memset(&ring, 0, sizeof(ring));
    ring.nodeid = (t->n > 0) ? t->nodes[0] : 0;
    ring.seq    = t->epoch;
    pthread_mutex_lock(&h->lock);
    h->totem_due  = 0;
    h->totem_ring = t->epoch;
    pthread_mutex_unlock(&h->lock);
    model->cpg_totem_confchg_fn(h->id, ring, (uint32_t)t->n, t->nodes);
}

/* The INITIAL totem confchg of the model's flag: the view as it is now. */
static void ucpg_cpg_totem_initial(ucpg_cpg_handle_t *h, const cpg_model_v1_data_t *model)
{
    ucpg_cpg_totem_t t;

    if (model->cpg_totem_confchg_fn != NULL) {
        ucpg_cpg_totem_get(&t);
        ucpg_cpg_call_totem(h, model, &t);
    }
}

/* Does the last view shown list a member of a node that t lacks (h->lock
 * held)? Both lists ascend. */
static int ucpg_cpg_view_outlives(const ucpg_cpg_handle_t *h, const ucpg_cpg_totem_t *t)
{
    size_t i, j = 0;

    for (i = 0; i < h->nview_nodes; ++i) {
        while ((j < t->n) && (t->nodes[j] < h->view_nodes[i])) {
            ++j;
        }
        if ((j == t->n) || (t->nodes[j] != h->view_nodes[i])) {
            return 1;
        }
    }
    return 0;
}

/*
 * A change of the node set (a queued NULL event, or one left due by an
 * earlier change). As corosync sends the totem confchg after the CPG
 * confchgs of a membership change, a handle whose last view still lists a
 * member of a lost node is told after the view that removes it (its
 * NODEDOWN confchg, ordered by the group after the node settled). Several
 * changes before a dispatch are told once, as the latest set.
 */
static void ucpg_cpg_totem_change(ucpg_cpg_handle_t *h, const cpg_model_v1_data_t *model)
{
    ucpg_cpg_totem_t t;
    int call;

    if (model->cpg_totem_confchg_fn == NULL) {
        return;
    }
    ucpg_cpg_totem_get(&t);
    pthread_mutex_lock(&h->lock);
    h->totem_due = (t.epoch != h->totem_ring);
    call         = h->totem_due && !(h->joined && ucpg_cpg_view_outlives(h, &t));
    pthread_mutex_unlock(&h->lock);
    if (call) {
        ucpg_cpg_call_totem(h, model, &t);
    }
}

/* Keeps the distinct nodes of a view just shown (h->lock held), for
 * ucpg_cpg_view_outlives; members ascend by node. */
static void ucpg_cpg_view_nodes_keep(ucpg_cpg_handle_t *h, const ucpg_group_view_t *view)
{
    uint32_t *nodes = h->view_nodes;
    size_t i, n = 0;

    if (view->self_left) {
        h->nview_nodes = 0;
        return;
    }
    if (view->nmembers > h->nview_nodes) {
        nodes = realloc(h->view_nodes, view->nmembers * sizeof(*nodes));
        if (nodes == NULL) {
            return;                          /* the old list: a totem may wait a view */
        }
        h->view_nodes = nodes;
    }
    for (i = 0; i < view->nmembers; ++i) {
        if ((n == 0) || (nodes[n - 1] != view->members[i].nodeid)) {
            nodes[n++] = view->members[i].nodeid;
        }
    }
    h->nview_nodes = n;
}

/*
 * Events whose callbacks ran, released to the group engine in batches (one
 * call per batch instead of one per callback; the engine takes them without
 * making the dispatcher wait for its lock, see ucpg_group_events_release).
 * A batch is released before the dispatcher waits and when cpg_dispatch
 * returns, so consumption is never held back while the application is away.
 */
#define UCPG_CPG_RELEASE_BATCH 32

typedef struct ucpg_cpg_release {
    ucpg_group_event_t *events[UCPG_CPG_RELEASE_BATCH];
    size_t              n;
} ucpg_cpg_release_t;

static void ucpg_cpg_release_flush(ucpg_cpg_release_t *r)
{
    if (r->n > 0) {
        ucpg_group_events_release(r->events, r->n);
        r->n = 0;
    }
}

static void ucpg_cpg_release_add(ucpg_cpg_release_t *r, ucpg_group_event_t *event)
{
    r->events[r->n++] = event;
    if (r->n == UCPG_CPG_RELEASE_BATCH) {
        ucpg_cpg_release_flush(r);
    }
}

/*
 * The state of one cpg_dispatch call. Queued events are taken in batches of
 * up to UCPG_CPG_TAKE_MAX (one lock for the batch rather than two per
 * callback: the producer and the dispatcher met on that lock at every
 * message), copied out because the ring may move when it grows. The model
 * never changes after cpg_model_initialize, so a copy per batch is current.
 */
#define UCPG_CPG_TAKE_MAX 64

typedef struct ucpg_cpg_dispatcher {
    ucpg_cpg_handle_t  *h;
    ucpg_group_event_t *batch[UCPG_CPG_TAKE_MAX];   /* taken, callbacks not run yet */
    unsigned            nbatch;
    cpg_model_v1_data_t model;
    ucpg_cpg_release_t  released;
    struct cpg_name     name;          /* the last event's group name */
} ucpg_cpg_dispatcher_t;

static void ucpg_cpg_dispatcher_init(ucpg_cpg_dispatcher_t *dsp, ucpg_cpg_handle_t *h)
{
    dsp->h           = h;
    dsp->nbatch      = 0;
    dsp->released.n  = 0;
    dsp->name.length = 0;
}

/* Takes a batch of what is queued (all) or the first event; 0 if nothing was. */
static int ucpg_cpg_dispatcher_take(ucpg_cpg_dispatcher_t *dsp, int all)
{
    ucpg_cpg_handle_t *h = dsp->h;
    size_t n, i;

    pthread_mutex_lock(&h->lock);
    n = (h->queued < UCPG_CPG_TAKE_MAX) ? h->queued : UCPG_CPG_TAKE_MAX;
    n = all ? n : (n > 0);
    for (i = 0; i < n; ++i) {
        dsp->batch[i] = h->ring[(h->ring_head + i) & h->ring_mask];
    }
    h->ring_head += n;
    __atomic_store_n(&h->queued, h->queued - n, __ATOMIC_RELEASE);
    dsp->model = h->model;
    pthread_mutex_unlock(&h->lock);
    dsp->nbatch = (unsigned)n;
    return n > 0;
}

/* The name of the event's group: a rejoin may have moved the handle on
 * already. Rebuilt only when it changes (it is a 132-byte structure). */
static const struct cpg_name *ucpg_cpg_dispatcher_name(ucpg_cpg_dispatcher_t *dsp,
                                                       const ucpg_group_event_info_t *info)
{
    if ((dsp->name.length != info->name_len) ||
        (memcmp(dsp->name.value, info->name, info->name_len) != 0)) {
        memset(&dsp->name, 0, sizeof(dsp->name));
        dsp->name.length = (uint32_t)info->name_len;
        memcpy(dsp->name.value, info->name, info->name_len);
    }
    return &dsp->name;
}

/* Which totem confchg a view owes the application after it: the INITIAL
 * one (CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF; asked once, the flag
 * clears), or a change left due until a view removed a lost node. */
enum { UCPG_CPG_TOTEM_NONE, UCPG_CPG_TOTEM_INITIAL, UCPG_CPG_TOTEM_DUE };

static int ucpg_cpg_totem_after(ucpg_cpg_handle_t *h)
{
    int after = UCPG_CPG_TOTEM_NONE;

    pthread_mutex_lock(&h->lock);
    if (h->totem_initial) {
        after = UCPG_CPG_TOTEM_INITIAL;
    } else if (h->totem_due) {
        after = UCPG_CPG_TOTEM_DUE;
    }
    h->totem_initial = 0;
    pthread_mutex_unlock(&h->lock);
    return after;
}

/* Keeps the members of a view of the joined host group (h->lock held):
 * cpg_membership_get answers with them (hostgroup.c). */
static void ucpg_cpg_view_members_keep(ucpg_cpg_handle_t *h, const ucpg_group_view_t *view)
{
    struct cpg_address *members = h->hview;

    if (view->nmembers > h->hview_cap) {
        members = realloc(h->hview, view->nmembers * sizeof(*members));
        if (members == NULL) {
            h->nhview = 0;                   /* the table answers instead */
            return;
        }
        h->hview     = members;
        h->hview_cap = view->nmembers;
    }
    memcpy(members, view->members, view->nmembers * sizeof(*members));
    h->nhview = view->self_left ? 0 : view->nmembers;
}

void ucpg_cpg_show_view(ucpg_cpg_handle_t *h, const cpg_model_v1_data_t *model,
                        const struct cpg_name *name, const ucpg_group_view_t *view,
                        const void *group)
{
    int after = ucpg_cpg_totem_after(h), ours;

    pthread_mutex_lock(&h->lock);
    ours = (group == (const void*)h->group) || (group == (const void*)h->hgroup);
    if (view->self_left && ours) {
        h->joined  = 0;
        h->leaving = 0;
    }
    if (model->cpg_totem_confchg_fn != NULL) {
        ucpg_cpg_view_nodes_keep(h, view);
    }
    if (h->host && ours) {
        ucpg_cpg_view_members_keep(h, view);
    }
    pthread_mutex_unlock(&h->lock);
    if (model->cpg_confchg_fn != NULL) {
        model->cpg_confchg_fn(h->id, name,
                              (const struct cpg_address*)view->members, view->nmembers,
                              (const struct cpg_address*)view->left, view->nleft,
                              (const struct cpg_address*)view->joined, view->njoined);
    }
    if (after == UCPG_CPG_TOTEM_INITIAL) {
        ucpg_cpg_totem_initial(h, model);
    } else if (after == UCPG_CPG_TOTEM_DUE) {
        ucpg_cpg_totem_change(h, model);
    }
}

static void ucpg_cpg_call_event(ucpg_cpg_dispatcher_t *dsp, ucpg_group_event_t *ev)
{
    const cpg_model_v1_data_t *model = &dsp->model;
    ucpg_cpg_handle_t *h             = dsp->h;
    const struct cpg_name *name;
    ucpg_group_event_info_t info;

    ucpg_group_event_info(ev, &info);
    name = ucpg_cpg_dispatcher_name(dsp, &info);
    if (info.is_view) {
        ucpg_cpg_show_view(h, model, name, &info.view, info.group);
    } else if (model->cpg_deliver_fn != NULL) {
        model->cpg_deliver_fn(h->id, name, info.sender.nodeid, info.sender.pid, info.data,
                              info.len);
    }
}

int ucpg_cpg_finalized(ucpg_cpg_handle_t *h)
{
    return __atomic_load_n(&h->finalized, __ATOMIC_ACQUIRE);
}

/* Loads the events ahead of callback i while the callbacks run: made on
 * another CPU, each would otherwise stall the dispatcher on first touch
 * (ucpg_group_event_is_view was 5% of all CPU in an 8-member flood). */
#define UCPG_CPG_PREFETCH_EVENT 4
#define UCPG_CPG_PREFETCH_BODY  2

static void ucpg_cpg_dispatcher_prefetch(const ucpg_cpg_dispatcher_t *dsp, unsigned i)
{
    unsigned e = i + UCPG_CPG_PREFETCH_EVENT, b = i + UCPG_CPG_PREFETCH_BODY;

    if (i == 0) {                        /* the batch's head has no lead */
        for (e = 0; (e < UCPG_CPG_PREFETCH_EVENT) && (e < dsp->nbatch); ++e) {
            if (dsp->batch[e] != NULL) {
                ucpg_group_event_prefetch(dsp->batch[e]);
            }
        }
        e = UCPG_CPG_PREFETCH_EVENT;
    }
    if ((e < dsp->nbatch) && (dsp->batch[e] != NULL)) {
        ucpg_group_event_prefetch(dsp->batch[e]);
    }
    if ((b < dsp->nbatch) && (dsp->batch[b] != NULL)) {
        ucpg_group_event_prefetch_body(dsp->batch[b]);
    }
}

/*
 * Runs the callbacks of the batch taken; returns how many ran. Once the
 * handle is finalized (possibly by one of these callbacks) the rest are
 * released unseen, as a dispatch after cpg_finalize would not run them.
 */
static unsigned ucpg_cpg_dispatcher_run(ucpg_cpg_dispatcher_t *dsp)
{
    ucpg_group_event_t *ev;
    unsigned count = 0, i;

    for (i = 0; i < dsp->nbatch; ++i) {
        ucpg_cpg_dispatcher_prefetch(dsp, i);
        ev = dsp->batch[i];
        if (ev == NULL) {                    /* the node set changed */
            if (!ucpg_cpg_finalized(dsp->h)) {
                ucpg_cpg_totem_change(dsp->h, &dsp->model);
                ++count;
            }
            continue;
        }
        if (!ucpg_cpg_finalized(dsp->h)) {
            ucpg_cpg_call_event(dsp, ev);
            ++count;
        }
        ucpg_cpg_release_add(&dsp->released, ev);
    }
    dsp->nbatch = 0;
    return count;
}

/*
 * Gives everything back before the dispatcher blocks or returns: the
 * releases, and the eventfd made exact again when nothing is queued. A
 * consumer that keeps up with a burst then pays one read for the burst, not
 * one per callback.
 */
static void ucpg_cpg_dispatcher_settle(ucpg_cpg_dispatcher_t *dsp)
{
    ucpg_cpg_handle_t *h = dsp->h;
    uint64_t value;

    ucpg_cpg_release_flush(&dsp->released);
    pthread_mutex_lock(&h->lock);
    if (h->efd_armed && (h->queued == 0) && !ucpg_cpg_finalized(h) &&
        (read(h->efd, &value, sizeof(value)) == (ssize_t)sizeof(value))) {
        h->efd_armed = 0;
    }
    pthread_mutex_unlock(&h->lock);
}

/* Waits until something is queued or the handle is finalized. */
static void ucpg_cpg_dispatcher_wait(ucpg_cpg_dispatcher_t *dsp)
{
    struct pollfd pfd = {dsp->h->efd, POLLIN, 0};

    ucpg_cpg_dispatcher_settle(dsp);
    while ((poll(&pfd, 1, -1) < 0) && (errno == EINTR)) {
    }
}

/*
 * A non-blocking dispatch found nothing. A caller that polls in a tight loop
 * would otherwise keep the CPU from the library's progress thread, which is
 * what brings its messages in: on a machine with no CPU to spare, a
 * ping-pong took 2 ms (a scheduler time slice) instead of tens of µs. So give
 * the CPU away once; if nothing else wants it this returns at once, at the
 * cost of a system call (corosync's dispatch makes one on every call).
 */
static void ucpg_cpg_dispatch_idle(void)
{
    sched_yield();
}

/*
 * In a flood the dispatcher empties the queue faster than it fills, and
 * each time it then sleeps the next event costs its producer a wake-up: an
 * eventfd write that took 10-15 µs of the producer's time on a VM (a
 * quarter of a sending thread's time) and two context switches. So a call
 * that found a burst (UCPG_CPG_LINGER_MIN callbacks since it last waited)
 * waits up to UCPG_CPG_LINGER_NS for the next event before it returns,
 * giving its CPU away meanwhile; the eventfd stays set, so producers skip
 * the wake-up. A call lingers only within UCPG_CPG_LINGER_CALL_NS of its
 * first take, so an application that also sends from the dispatching
 * thread gets it back.
 * A thread bound to one CPU does not linger: its yield goes to the progress
 * thread, which then spins in its turn, so lingering delayed the very
 * thread that makes the events (an 8 B flood between two processes pinned
 * to one CPU each ran at a third of its rate).
 */
#define UCPG_CPG_LINGER_MIN      8
#define UCPG_CPG_LINGER_NS       30000ull
#define UCPG_CPG_LINGER_CALL_NS  1000000ull

static int ucpg_cpg_dispatcher_linger(ucpg_cpg_dispatcher_t *dsp, unsigned burst,
                                      uint64_t *first_p)
{
    uint64_t now, until;

    if ((burst < UCPG_CPG_LINGER_MIN) || (ucpg_proc_cpus() < 2)) {
        return 0;
    }
    now   = ucpg_time_ns();
    until = now + UCPG_CPG_LINGER_NS;
    if (now - *first_p > UCPG_CPG_LINGER_CALL_NS) {
        return 0;                     /* *first_p: set by the call's first take */
    }
    ucpg_cpg_release_flush(&dsp->released);   /* the senders' window needs them now */
    do {
        sched_yield();
        if (__atomic_load_n(&dsp->h->queued, __ATOMIC_ACQUIRE) > 0) {
            return 1;
        }
    } while (!ucpg_cpg_finalized(dsp->h) && (ucpg_time_ns() < until));
    return 0;
}

/*
 * Whether a CS_DISPATCH_ALL call has run long enough. It runs what is
 * queued, then what keeps arriving for UCPG_CPG_LINGER_CALL_NS at most: a
 * producer faster than the callbacks (several senders, a slow callback)
 * would otherwise keep the call, and the application's thread, for as long
 * as the flood lasts. *first_p is the end of the call's first take (0
 * before it); the clock is read once per take, not per callback.
 */
static int ucpg_cpg_dispatch_all_done(uint64_t *first_p)
{
    uint64_t now = ucpg_time_ns();

    if (*first_p == 0) {
        *first_p = now;
        return 0;
    }
    return now - *first_p > UCPG_CPG_LINGER_CALL_NS;
}

/* Takes and runs one callback (all = 0) or everything queued; how many ran. */
static unsigned ucpg_cpg_dispatcher_step(ucpg_cpg_dispatcher_t *dsp, int all)
{
    return ucpg_cpg_dispatcher_take(dsp, all) ? ucpg_cpg_dispatcher_run(dsp) : 0;
}

unsigned ucpg_cpg_queue_dispatch(ucpg_cpg_handle_t *h, int all)
{
    ucpg_cpg_dispatcher_t dsp;
    unsigned n;

    if (__atomic_load_n(&h->queued, __ATOMIC_ACQUIRE) == 0) {
        return 0;                        /* nothing to take, and the fd is exact */
    }
    ucpg_cpg_dispatcher_init(&dsp, h);
    n = ucpg_cpg_dispatcher_step(&dsp, all);
    ucpg_cpg_dispatcher_settle(&dsp);
    return n;
}

void ucpg_cpg_efd_settle(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_dispatcher_t dsp;

    ucpg_cpg_dispatcher_init(&dsp, h);
    ucpg_cpg_dispatcher_settle(&dsp);
}

UCX_CPG_COROSYNC_API cs_error_t cpg_dispatch(cpg_handle_t handle,
                                             cs_dispatch_flags_t dispatch_types)
{
    ucpg_cpg_dispatcher_t dsp;
    unsigned ndispatched = 0, burst, n;
    int more;
    ucpg_cpg_handle_t *h;
    uint64_t start;
    cs_error_t err;

    if ((dispatch_types < CS_DISPATCH_ONE) || (dispatch_types > CS_DISPATCH_ONE_NONBLOCKING)) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_dispatch(handle, dispatch_types);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    if (h->host) {
        err = ucpg_cpg_host_dispatch(h, dispatch_types);
        ucpg_cpg_handle_put(h);
        return err;
    }
    ucpg_cpg_dispatcher_init(&dsp, h);
    switch (dispatch_types) {
    case CS_DISPATCH_ONE_NONBLOCKING:
        if (ucpg_cpg_dispatcher_step(&dsp, 0) == 0) {
            err = CS_ERR_TRY_AGAIN;
            ucpg_cpg_dispatch_idle();
        }
        break;
    case CS_DISPATCH_ALL:
        start = 0;                               /* the end of the first take */
        more  = 1;
        do {
            burst = 0;
            while (more && !ucpg_cpg_finalized(h) &&
                   ((n = ucpg_cpg_dispatcher_step(&dsp, 1)) > 0)) {
                burst += n;
                more = !ucpg_cpg_dispatch_all_done(&start);
            }
            ndispatched += burst;
        } while (more && ucpg_cpg_dispatcher_linger(&dsp, burst, &start));
        if (ndispatched == 0) {
            ucpg_cpg_dispatch_idle();
        }
        break;
    case CS_DISPATCH_ONE:
        while (!ucpg_cpg_finalized(h) && (ucpg_cpg_dispatcher_step(&dsp, 0) == 0)) {
            ucpg_cpg_dispatcher_wait(&dsp);
        }
        break;
    default: /* CS_DISPATCH_BLOCKING: until finalized */
        while (!ucpg_cpg_finalized(h)) {
            if (ucpg_cpg_dispatcher_step(&dsp, 1) == 0) {
                ucpg_cpg_dispatcher_wait(&dsp);
            }
        }
        break;
    }
    if ((err == CS_OK) && ucpg_cpg_finalized(h) && (dispatch_types != CS_DISPATCH_ALL)) {
        err = CS_ERR_BAD_HANDLE;
    }
    ucpg_cpg_dispatcher_settle(&dsp);
    ucpg_cpg_handle_put(h);
    return err;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_fd_get(cpg_handle_t handle, int *fd)
{
    ucpg_cpg_handle_t *h;
    cs_error_t err;

    if (fd == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_fd_get(handle, fd);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err == CS_OK) {
        *fd = h->host ? h->pfd : h->efd;   /* host: the set of efd and the doorbells */
        ucpg_cpg_handle_put(h);
    }
    return err;
}
