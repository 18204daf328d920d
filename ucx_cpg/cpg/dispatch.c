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

/* Makes efd readable (h->lock held): one write per quiet period, not per
 * event, because a system call costs about a microsecond on a VM. */
static void ucpg_cpg_efd_set(ucpg_cpg_handle_t *h)
{
    uint64_t one = 1;

    if (!h->efd_armed && (write(h->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))) {
        h->efd_armed = 1;
    }
}

/* Makes efd exact again when nothing is queued. Called when a dispatcher is
 * about to block or returns, not after every callback: a consumer that keeps
 * up with a burst then pays one read for the burst. */
static void ucpg_cpg_efd_settle(ucpg_cpg_handle_t *h)
{
    uint64_t value;

    pthread_mutex_lock(&h->lock);
    if (h->efd_armed && (h->queued == 0) && !__atomic_load_n(&h->finalized, __ATOMIC_ACQUIRE) &&
        (read(h->efd, &value, sizeof(value)) == (ssize_t)sizeof(value))) {
        h->efd_armed = 0;
    }
    pthread_mutex_unlock(&h->lock);
}

void ucpg_cpg_wake(ucpg_cpg_handle_t *h)
{
    pthread_mutex_lock(&h->lock);
    ucpg_cpg_efd_set(h);
    pthread_mutex_unlock(&h->lock);
}

void ucpg_cpg_queue_push(ucpg_cpg_handle_t *h, ucpg_cpg_item_t *item)
{
    item->next = NULL;
    pthread_mutex_lock(&h->lock);
    *h->tail = item;
    h->tail  = &item->next;
    h->queued++;
    ucpg_cpg_efd_set(h);
    pthread_mutex_unlock(&h->lock);
}

/* Called by the group engine (it holds its lock): only queue. */
void ucpg_cpg_queue_event(void *arg, ucpg_group_event_t *event)
{
    ucpg_cpg_handle_t *h  = arg;
    ucpg_cpg_item_t *item = malloc(sizeof(*item));

    if (item == NULL) {
        ucpg_group_event_release(event);   /* cannot happen quietly: counted as read */
        return;
    }
    item->event = event;
    ucpg_cpg_queue_push(h, item);
}

static ucpg_cpg_item_t *ucpg_cpg_queue_pop(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_item_t *item;

    pthread_mutex_lock(&h->lock);
    item = h->head;
    if (item != NULL) {
        h->head = item->next;
        if (h->head == NULL) {
            h->tail = &h->head;
        }
        --h->queued;
    }
    pthread_mutex_unlock(&h->lock);
    return item;
}

void ucpg_cpg_queue_clear(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_item_t *item;

    while ((item = ucpg_cpg_queue_pop(h)) != NULL) {
        if (item->event != NULL) {
            ucpg_group_event_release(item->event);
        }
        free(item);
    }
}

static void ucpg_cpg_call_totem(ucpg_cpg_handle_t *h, const cpg_model_v1_data_t *model)
{
    /* One node (this one) until groups span hosts: see docs/cpg.md. */
    struct cpg_ring_id ring;
    uint32_t nodes[1];
    size_t n = (ucpg_group_local_nodeid(&nodes[0]) == UCPG_OK) ? 1 : 0;

    if (model->cpg_totem_confchg_fn == NULL) {
        return;
    }
    memset(&ring, 0, sizeof(ring));
    ring.nodeid = (n > 0) ? nodes[0] : 0;
    ring.seq    = 1;
    model->cpg_totem_confchg_fn(h->id, ring, (uint32_t)n, nodes);
}

static void ucpg_cpg_call_event(ucpg_cpg_handle_t *h, const cpg_model_v1_data_t *model,
                                ucpg_group_event_t *ev)
{
    ucpg_group_event_info_t info;
    struct cpg_name name;

    ucpg_group_event_info(ev, &info);
    memset(&name, 0, sizeof(name));
    name.length = (uint32_t)info.name_len;
    memcpy(name.value, info.name, info.name_len);  /* the event's group: a rejoin may have
                                                     * moved the handle on already */
    if (!info.is_view) {
        if (model->cpg_deliver_fn != NULL) {
            model->cpg_deliver_fn(h->id, &name, info.sender.nodeid, info.sender.pid, info.data,
                                  info.len);
        }
        return;
    }
    pthread_mutex_lock(&h->lock);
    if (info.view.self_left && (info.group == h->group)) {
        h->joined  = 0;
        h->leaving = 0;
    }
    pthread_mutex_unlock(&h->lock);
    if (model->cpg_confchg_fn != NULL) {
        model->cpg_confchg_fn(h->id, &name,
                              (const struct cpg_address*)info.view.members, info.view.nmembers,
                              (const struct cpg_address*)info.view.left, info.view.nleft,
                              (const struct cpg_address*)info.view.joined, info.view.njoined);
    }
}

/*
 * Events whose callbacks ran, released to the group engine in batches: one
 * engine lock per batch instead of one per callback (the lock is shared with
 * the progress thread, and a CS_DISPATCH_ALL over a full queue took it
 * hundreds of thousands of times a second). A batch is released before the
 * dispatcher waits and when cpg_dispatch returns, so consumption is never
 * held back while the application is away.
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

/* Runs one queued callback; 0 if none was queued. */
static int ucpg_cpg_dispatch_one(ucpg_cpg_handle_t *h, ucpg_cpg_release_t *r)
{
    ucpg_cpg_item_t *item = ucpg_cpg_queue_pop(h);
    cpg_model_v1_data_t model;
    int totem_after;

    if (item == NULL) {
        return 0;
    }
    pthread_mutex_lock(&h->lock);
    model = h->model;                  /* callbacks may change the handle */
    totem_after = h->totem_initial && (item->event != NULL) &&
                  ucpg_group_event_is_view(item->event);
    if (totem_after) {
        h->totem_initial = 0;
    }
    pthread_mutex_unlock(&h->lock);
    if (item->event == NULL) {
        ucpg_cpg_call_totem(h, &model);
    } else {
        ucpg_cpg_call_event(h, &model, item->event);
        ucpg_cpg_release_add(r, item->event);
    }
    free(item);
    if (totem_after) {
        ucpg_cpg_call_totem(h, &model);   /* CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF */
    }
    return 1;
}

/* Waits until something is queued or the handle is finalized. */
static void ucpg_cpg_dispatch_wait(ucpg_cpg_handle_t *h, ucpg_cpg_release_t *r)
{
    struct pollfd pfd = {h->efd, POLLIN, 0};

    ucpg_cpg_release_flush(r);
    ucpg_cpg_efd_settle(h);
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

static int ucpg_cpg_finalized(ucpg_cpg_handle_t *h)
{
    return __atomic_load_n(&h->finalized, __ATOMIC_ACQUIRE);
}

UCX_CPG_COROSYNC_API cs_error_t cpg_dispatch(cpg_handle_t handle,
                                             cs_dispatch_flags_t dispatch_types)
{
    ucpg_cpg_release_t released = {.n = 0};
    unsigned ndispatched;
    ucpg_cpg_handle_t *h;
    cs_error_t err;

    if ((dispatch_types < CS_DISPATCH_ONE) || (dispatch_types > CS_DISPATCH_ONE_NONBLOCKING)) {
        return CS_ERR_INVALID_PARAM;
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    switch (dispatch_types) {
    case CS_DISPATCH_ONE_NONBLOCKING:
        if (ucpg_cpg_dispatch_one(h, &released)) {
            err = CS_OK;
        } else {
            err = CS_ERR_TRY_AGAIN;
            ucpg_cpg_dispatch_idle();
        }
        break;
    case CS_DISPATCH_ALL:
        ndispatched = 0;
        while (!ucpg_cpg_finalized(h) && ucpg_cpg_dispatch_one(h, &released)) {
            ++ndispatched;
        }
        if (ndispatched == 0) {
            ucpg_cpg_dispatch_idle();
        }
        break;
    case CS_DISPATCH_ONE:
        while (!ucpg_cpg_finalized(h) && !ucpg_cpg_dispatch_one(h, &released)) {
            ucpg_cpg_dispatch_wait(h, &released);
        }
        break;
    default: /* CS_DISPATCH_BLOCKING: until finalized */
        while (!ucpg_cpg_finalized(h)) {
            if (!ucpg_cpg_dispatch_one(h, &released)) {
                ucpg_cpg_dispatch_wait(h, &released);
            }
        }
        break;
    }
    if ((err == CS_OK) && ucpg_cpg_finalized(h) && (dispatch_types != CS_DISPATCH_ALL)) {
        err = CS_ERR_BAD_HANDLE;
    }
    ucpg_cpg_release_flush(&released);
    ucpg_cpg_efd_settle(h);
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
    err = ucpg_cpg_handle_get(handle, &h);
    if (err == CS_OK) {
        *fd = h->efd;
        ucpg_cpg_handle_put(h);
    }
    return err;
}
