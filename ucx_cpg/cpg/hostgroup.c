/*
 * hostgroup.c - the CPG API on host groups (group/hostgroups.h): a handle of a domain
 * whose groups are host groups joins, sends and dispatches here instead of
 * through the group engine and the event queue.
 *
 * Nothing is queued per message: cpg_dispatch reads the group's log and
 * runs cpg_deliver_fn on the message where its sender wrote it (the
 * pointer is into memory every member maps: a callback must not write
 * into it, docs/cpg.md). The handle's queue still carries the totem
 * confchgs of node-set changes, and is dispatched alongside.
 *
 * cpg_fd_get gives an epoll set of the handle's eventfd (finalize, the
 * queue) and the doorbell of each host group it is in. Before cpg_dispatch
 * returns it asks each group to ring the doorbell on the next message
 * (ucpg_hostgroup_sleep), or, if one is there already, makes the eventfd
 * readable; so the descriptor is readable whenever a dispatch has work,
 * as with corosync.
 *
 * Leaving and joining again: the left group's stream (up to the view that
 * removes us) is still dispatched, before the new group's; the handle keeps
 * such groups in hleft until then. Groups are only destroyed by the
 * dispatcher, between the calls into them, or when the handle is freed: a
 * callback may call cpg_leave, cpg_join and cpg_finalize.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpg_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"
#include "group/hostgroups.h"

/* Callbacks per group per read of its log: between reads the dispatcher
 * looks at the handle's queue and the clock. */
#define UCPG_CPG_HOST_BATCH    64u
/* How long a CS_DISPATCH_ALL call runs at most while messages keep coming
 * (as the engine path's UCPG_CPG_LINGER_CALL_NS). */
#define UCPG_CPG_HOST_CALL_NS  1000000ull
/* A blocked dispatcher looks again this often even if nothing rang. */
#define UCPG_CPG_HOST_WAIT_MS  1000

cs_error_t ucpg_cpg_host_init(ucpg_cpg_handle_t *h)
{
    struct epoll_event ev;

    h->pfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->pfd < 0) {
        return CS_ERR_NO_RESOURCES;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.fd = h->efd;
    if (epoll_ctl(h->pfd, EPOLL_CTL_ADD, h->efd, &ev) != 0) {
        close(h->pfd);
        return CS_ERR_NO_RESOURCES;
    }
    pthread_rwlock_init(&h->host_rw, NULL);
    pthread_mutex_init(&h->host_dispatch, NULL);
    h->host = 1;
    return CS_OK;
}

/* --- a group's life --------------------------------------------------------------------- */

static void ucpg_cpg_host_deliver(void *arg, const ucpg_group_addr_t *sender, int guarantee,
                                  const void *data, size_t len)
{
    ucpg_cpg_hostgroup_t *w = arg;
    ucpg_cpg_handle_t *h    = w->h;

    (void)guarantee;
    if ((h->model.cpg_deliver_fn != NULL) && !ucpg_cpg_finalized(h)) {
        /* corosync's prototype takes a mutable pointer; see the top */
        h->model.cpg_deliver_fn(h->id, &w->name, sender->nodeid, sender->pid, (void*)data,
                                len);
    }
}

static void ucpg_cpg_host_view(void *arg, const ucpg_group_view_t *view)
{
    ucpg_cpg_hostgroup_t *w = arg;

    if (view->self_left) {
        w->ended = 1;                    /* the dispatcher drops it after this read */
    }
    if (!ucpg_cpg_finalized(w->h)) {
        ucpg_cpg_show_view(w->h, &w->h->model, &w->name, view, w);
    }
}

/* Our own append (a send, or the reaper's change in the progress thread)
 * found our dispatcher asleep: the eventfd in the handle's set wakes it
 * (its doorbell would cost a socket send). The group's life holds the
 * handle's: no reference taken, none to drop last. */
static void ucpg_cpg_host_self_rung(void *arg)
{
    ucpg_cpg_hostgroup_t *w = arg;

    ucpg_cpg_wake_held(w->h);
}

static const ucpg_hostgroup_callbacks_t ucpg_cpg_host_callbacks = {
    ucpg_cpg_host_deliver, ucpg_cpg_host_view, ucpg_cpg_host_self_rung
};

/* Adds (1) or removes (0) the group's doorbell to the handle's fd. */
static void ucpg_cpg_host_watch(ucpg_cpg_handle_t *h, ucpg_cpg_hostgroup_t *w, int add)
{
    struct epoll_event ev;
    int fd = ucpg_hostgroup_fd(w->hg);

    memset(&ev, 0, sizeof(ev));
    ev.events  = EPOLLIN;
    ev.data.fd = fd;
    if ((epoll_ctl(h->pfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) != 0) && add) {
        ucpg_warn("CPG handle %llx: cannot watch its group's doorbell (%m): its fd "
                  "shows only what a dispatch leaves ready", (unsigned long long)h->id);
    }
}

static void ucpg_cpg_host_drop(ucpg_cpg_handle_t *h, ucpg_cpg_hostgroup_t *w)
{
    ucpg_cpg_host_watch(h, w, 0);
    ucpg_group_host_destroy(w->hg);      /* still a member: the others see PROCDOWN */
    free(w);
}

void ucpg_cpg_host_free(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_hostgroup_t *w;

    if (!h->host) {
        return;
    }
    while ((w = h->hleft) != NULL) {
        h->hleft = w->next;
        ucpg_cpg_host_drop(h, w);
    }
    if (h->hgroup != NULL) {
        ucpg_cpg_host_drop(h, h->hgroup);
    }
    close(h->pfd);
    free(h->hview);
    pthread_rwlock_destroy(&h->host_rw);
    pthread_mutex_destroy(&h->host_dispatch);
}

/* Unlinks the groups whose stream ended (write lock held) into *dead. */
static void ucpg_cpg_host_unlink_ended(ucpg_cpg_handle_t *h, ucpg_cpg_hostgroup_t **dead)
{
    ucpg_cpg_hostgroup_t **pp = &h->hleft, *w;

    while ((w = *pp) != NULL) {
        if (w->ended) {
            *pp     = w->next;
            w->next = *dead;
            *dead   = w;
        } else {
            pp = &w->next;
        }
    }
    if ((h->hgroup != NULL) && h->hgroup->ended) {
        h->hgroup->next = *dead;
        *dead           = h->hgroup;
        h->hgroup       = NULL;
    }
}

/* Destroys the groups whose stream ended (the dispatcher, between reads). */
static void ucpg_cpg_host_reap_ended(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_hostgroup_t *dead = NULL, *w;

    pthread_rwlock_wrlock(&h->host_rw);
    ucpg_cpg_host_unlink_ended(h, &dead);
    pthread_rwlock_unlock(&h->host_rw);
    while ((w = dead) != NULL) {
        dead = w->next;
        ucpg_cpg_host_drop(h, w);
    }
}

/* --- join, leave, send -------------------------------------------------------------------- */

/* Installs w as the joined group, moving a left one to hleft. CS_ERR_EXIST
 * if another thread joined meanwhile. */
static cs_error_t ucpg_cpg_host_install(ucpg_cpg_handle_t *h, ucpg_cpg_hostgroup_t *w)
{
    ucpg_cpg_hostgroup_t **pp;
    cs_error_t err = CS_OK;

    pthread_rwlock_wrlock(&h->host_rw);
    pthread_mutex_lock(&h->lock);
    if (h->joined && !h->leaving) {
        err = CS_ERR_EXIST;
    } else {
        if (h->hgroup != NULL) {         /* left: its stream is dispatched first */
            for (pp = &h->hleft; *pp != NULL; pp = &(*pp)->next) {
            }
            h->hgroup->next = NULL;
            *pp             = h->hgroup;
        }
        h->hgroup        = w;
        h->group_name    = w->name;
        h->joined        = 1;
        h->leaving       = 0;
        h->nhview        = 0;
        h->totem_initial = (h->model.flags & CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF) != 0;
    }
    pthread_mutex_unlock(&h->lock);
    pthread_rwlock_unlock(&h->host_rw);
    return err;
}

cs_error_t ucpg_cpg_host_join(ucpg_cpg_handle_t *h, const struct cpg_name *group)
{
    ucpg_cpg_hostgroup_t *w;
    cs_error_t err;

    pthread_mutex_lock(&h->lock);
    err = (h->joined && !h->leaving) ? CS_ERR_EXIST : CS_OK;
    pthread_mutex_unlock(&h->lock);
    if (err != CS_OK) {
        return err;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return CS_ERR_NO_MEMORY;
    }
    w->h    = h;
    w->name = *group;
    err     = ucpg_cpg_error(ucpg_group_host_join(group->value, group->length,
                                                  &ucpg_cpg_host_callbacks, w, &w->hg));
    if (err != CS_OK) {
        free(w);
        return err;
    }
    ucpg_cpg_host_watch(h, w, 1);
    err = ucpg_cpg_host_install(h, w);
    if (err != CS_OK) {
        ucpg_cpg_host_drop(h, w);
    } else {
        ucpg_cpg_wake(h);                /* the view that adds us is ready */
    }
    return err;
}

cs_error_t ucpg_cpg_host_leave(ucpg_cpg_handle_t *h, const struct cpg_name *group)
{
    ucpg_status_t status = UCPG_ERR_NOT_FOUND;
    cs_error_t err;

    pthread_mutex_lock(&h->lock);
    err = (!h->joined || h->leaving || (group->length != h->group_name.length) ||
           (memcmp(group->value, h->group_name.value, group->length) != 0)) ?
          CS_ERR_NOT_EXIST : CS_OK;
    pthread_mutex_unlock(&h->lock);
    if (err != CS_OK) {
        return err;
    }
    pthread_rwlock_rdlock(&h->host_rw);
    if (h->hgroup != NULL) {
        status = ucpg_hostgroup_leave(h->hgroup->hg);
    }
    pthread_rwlock_unlock(&h->host_rw);
    if (status == UCPG_OK) {
        pthread_mutex_lock(&h->lock);
        h->leaving = 1;
        pthread_mutex_unlock(&h->lock);
    }
    return ucpg_cpg_error(status);
}

cs_error_t ucpg_cpg_host_mcast(ucpg_cpg_handle_t *h, int guarantee, const struct iovec *iov,
                               unsigned iovcnt)
{
    ucpg_status_t status = UCPG_ERR_NOT_FOUND;
    int full;

    pthread_rwlock_rdlock(&h->host_rw);
    if (h->hgroup != NULL) {             /* after a leave the group answers NOT_FOUND */
        status = ucpg_hostgroup_mcast(h->hgroup->hg, guarantee, iov, iovcnt);
    }
    pthread_rwlock_unlock(&h->host_rw);
    full = (status == UCPG_ERR_TRY_AGAIN);
    if (__atomic_load_n(&h->host_full, __ATOMIC_RELAXED) != full) {
        __atomic_store_n(&h->host_full, full, __ATOMIC_RELAXED);   /* flow control state */
    }
    return ucpg_cpg_error(status);
}

int ucpg_cpg_host_members(ucpg_cpg_handle_t *h, const struct cpg_name *group,
                          struct cpg_address *list, int *entries, cs_error_t *err)
{
    size_t i, n;
    int ours;

    pthread_mutex_lock(&h->lock);
    ours = h->joined && (h->nhview > 0) && (group->length == h->group_name.length) &&
           (memcmp(group->value, h->group_name.value, group->length) == 0);
    if (ours) {
        n = h->nhview;
        for (i = 0; (i < n) && (i < (size_t)*entries); ++i) {
            list[i]        = h->hview[i];
            list[i].reason = 0;
        }
        *err     = (n > (size_t)*entries) ? CS_ERR_NO_SPACE : CS_OK;
        *entries = (int)n;
    }
    pthread_mutex_unlock(&h->lock);
    return ours;
}

/* --- dispatch ------------------------------------------------------------------------------- */

/* Reads up to max callbacks of one group; a group whose log fails ends
 * (logged). Read lock held. */
static unsigned ucpg_cpg_host_read_one(ucpg_cpg_handle_t *h, ucpg_cpg_hostgroup_t *w,
                                       unsigned max)
{
    ucpg_status_t status;
    unsigned n = 0;

    if (w->ended) {
        return 0;
    }
    status = ucpg_hostgroup_dispatch(w->hg, max, &n);
    if (status != UCPG_OK) {
        if (status != UCPG_ERR_NOT_FOUND) {
            ucpg_error("CPG handle %llx: group %.*s: %s; no more of it is dispatched",
                       (unsigned long long)h->id, (int)w->name.length, w->name.value,
                       ucpg_status_string(status));
        }
        w->ended = 1;
    }
    return n;
}

/* Reads up to max callbacks from the handle's groups, left ones first;
 * how many ran. Groups whose stream ended are dropped after. */
static unsigned ucpg_cpg_host_read(ucpg_cpg_handle_t *h, unsigned max)
{
    ucpg_cpg_hostgroup_t *w;
    unsigned ran = 0;
    int ended = 0;

    pthread_rwlock_rdlock(&h->host_rw);
    for (w = h->hleft; w != NULL; w = w->next) {
        ran   += (ran < max) ? ucpg_cpg_host_read_one(h, w, max - ran) : 0;
        ended |= w->ended;
    }
    if (h->hgroup != NULL) {
        ran   += (ran < max) ? ucpg_cpg_host_read_one(h, h->hgroup, max - ran) : 0;
        ended |= h->hgroup->ended;
    }
    pthread_rwlock_unlock(&h->host_rw);
    if (ended) {
        ucpg_cpg_host_reap_ended(h);
    }
    return ran;
}

/* One callback (all = 0) or a batch of every source; how many ran. */
static unsigned ucpg_cpg_host_step(ucpg_cpg_handle_t *h, int all)
{
    unsigned n = ucpg_cpg_queue_dispatch(h, all);

    if (all || (n == 0)) {
        n += ucpg_cpg_host_read(h, all ? UCPG_CPG_HOST_BATCH : 1);
    }
    return n;
}

/* Asks every group to ring on its next entry; 1 if one has an entry ready
 * already (then nothing may block). */
static int ucpg_cpg_host_sleep(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_hostgroup_t *w;
    int ready = 0;

    pthread_rwlock_rdlock(&h->host_rw);
    for (w = h->hleft; w != NULL; w = w->next) {
        ready |= !w->ended && !ucpg_hostgroup_sleep(w->hg);
    }
    if ((h->hgroup != NULL) && !h->hgroup->ended) {
        ready |= !ucpg_hostgroup_sleep(h->hgroup->hg);
    }
    pthread_rwlock_unlock(&h->host_rw);
    return ready;
}

/* Takes the rings and withdraws the requests of ucpg_cpg_host_sleep. */
static void ucpg_cpg_host_wake(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_hostgroup_t *w;

    pthread_rwlock_rdlock(&h->host_rw);
    for (w = h->hleft; w != NULL; w = w->next) {
        ucpg_hostgroup_wake(w->hg);
    }
    if (h->hgroup != NULL) {
        ucpg_hostgroup_wake(h->hgroup->hg);
    }
    pthread_rwlock_unlock(&h->host_rw);
}

/* Before the call returns: the fd is readable iff a dispatch has work.
 * The eventfd is made exact first: once we ask to be rung, our own sender
 * thread may wake us through it (ucpg_cpg_host_self_rung), and a settle
 * after that would read its write away. */
static void ucpg_cpg_host_settle(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_efd_settle(h);
    if (ucpg_cpg_host_sleep(h)) {
        ucpg_cpg_wake(h);
    }
}

/* Blocks until a group rings, something is queued or the handle is
 * finalized (or UCPG_CPG_HOST_WAIT_MS passed). */
static void ucpg_cpg_host_wait(ucpg_cpg_handle_t *h)
{
    struct pollfd pfd = {h->pfd, POLLIN, 0};

    ucpg_cpg_efd_settle(h);              /* first: see ucpg_cpg_host_settle */
    if (!ucpg_cpg_host_sleep(h)) {
        if ((__atomic_load_n(&h->queued, __ATOMIC_ACQUIRE) == 0) && !ucpg_cpg_finalized(h)) {
            while ((poll(&pfd, 1, UCPG_CPG_HOST_WAIT_MS) < 0) && (errno == EINTR)) {
            }
        }
    }
    ucpg_cpg_host_wake(h);
}

/* CS_DISPATCH_ALL: what is ready, and what keeps coming for
 * UCPG_CPG_HOST_CALL_NS at most. */
static unsigned ucpg_cpg_host_dispatch_all(ucpg_cpg_handle_t *h)
{
    uint64_t until = ucpg_time_ns() + UCPG_CPG_HOST_CALL_NS;
    unsigned total = 0, n;

    do {
        n      = ucpg_cpg_host_step(h, 1);
        total += n;
    } while ((n > 0) && !ucpg_cpg_finalized(h) && (ucpg_time_ns() < until));
    return total;
}

static cs_error_t ucpg_cpg_host_dispatch_locked(ucpg_cpg_handle_t *h, cs_dispatch_flags_t type)
{
    cs_error_t err = CS_OK;

    ucpg_cpg_host_wake(h);
    switch (type) {
    case CS_DISPATCH_ONE_NONBLOCKING:
        err = (ucpg_cpg_host_step(h, 0) == 0) ? CS_ERR_TRY_AGAIN : CS_OK;
        break;
    case CS_DISPATCH_ALL:
        ucpg_cpg_host_dispatch_all(h);
        break;
    case CS_DISPATCH_ONE:
        while (!ucpg_cpg_finalized(h) && (ucpg_cpg_host_step(h, 0) == 0)) {
            ucpg_cpg_host_wait(h);
        }
        break;
    default:                             /* CS_DISPATCH_BLOCKING: until finalized */
        while (!ucpg_cpg_finalized(h)) {
            if (ucpg_cpg_host_step(h, 1) == 0) {
                ucpg_cpg_host_wait(h);
            }
        }
        break;
    }
    if ((err == CS_OK) && ucpg_cpg_finalized(h) && (type != CS_DISPATCH_ALL)) {
        err = CS_ERR_BAD_HANDLE;
    }
    ucpg_cpg_host_settle(h);
    return err;
}

cs_error_t ucpg_cpg_host_dispatch(ucpg_cpg_handle_t *h, cs_dispatch_flags_t type)
{
    cs_error_t err;

    /* From one of its own callbacks: the groups are being read already. */
    if (__atomic_load_n(&h->host_dispatcher, __ATOMIC_ACQUIRE) == pthread_self()) {
        return CS_ERR_TRY_AGAIN;
    }
    pthread_mutex_lock(&h->host_dispatch);
    __atomic_store_n(&h->host_dispatcher, pthread_self(), __ATOMIC_RELEASE);
    err = ucpg_cpg_host_dispatch_locked(h, type);
    __atomic_store_n(&h->host_dispatcher, (pthread_t)0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&h->host_dispatch);
    return err;
}
