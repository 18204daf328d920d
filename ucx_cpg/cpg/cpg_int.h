/*
 * cpg_int.h - the CPG façade's handles, shared by its files:
 *   handle.c     the handle table (corosync-style 64-bit handles)
 *   cpg.c        initialize, finalize, join, leave, send, queries
 *   dispatch.c   the per-handle event queue, cpg_fd_get and cpg_dispatch
 *   iteration.c  cpg_iteration_* over the domain's group directory
 *   zcb.c        zero-copy send buffers
 *   hostgroup.c  the same on host groups (group/hostgroups.h), when in use
 * All protocol work is in group/; this layer only adapts the API.
 */
#ifndef UCPG_CPG_CPG_INT_H
#define UCPG_CPG_CPG_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "corosync/cpg.h"
#include "group/group.h"
#include "group/hostgroup.h"

typedef struct ucpg_cpg_zcb {
    struct ucpg_cpg_zcb *next;
    void                *user;      /* what the caller got */
    size_t               size;
} ucpg_cpg_zcb_t;

struct ucpg_cpg_handle;

/* A host group a handle joined (hostgroup.c). */
typedef struct ucpg_cpg_hostgroup {
    struct ucpg_cpg_hostgroup *next;   /* the handle's list of groups left */
    struct ucpg_cpg_handle    *h;
    ucpg_hostgroup_t          *hg;
    struct cpg_name            name;
    int                        ended;  /* the view removing us was dispatched */
} ucpg_cpg_hostgroup_t;

typedef struct ucpg_cpg_handle {
    cpg_handle_t        id;
    int                 refs;          /* atomic; taken under the table lock */
    int                 finalized;     /* table lock */
    pid_t               owner_pid;

    pthread_mutex_t     lock;          /* everything below */
    cpg_model_v1_data_t model;
    void               *context;
    int                 efd;           /* readable while the queue is non-empty or the
                                        * handle is finalized; exact again whenever no
                                        * cpg_dispatch runs (see dispatch.c) */
    int                 efd_armed;     /* efd holds a count: its last write is unread */
    ucpg_group_t       *group;         /* NULL if never joined */
    struct cpg_name     group_name;
    int                 joined;        /* joined, and the view removing us not dispatched */
    int                 leaving;       /* cpg_leave was called for that group */
    int                 totem_initial; /* deliver a totem confchg after the next confchg */
    int                 totem_due;     /* the node set changed; told after the view that
                                        * removes the members of the nodes it lost */
    uint64_t            totem_ring;    /* ring seq (node set epoch) last told, 0: none */
    uint32_t           *view_nodes;    /* distinct nodes of the last view dispatched, */
    size_t              nview_nodes;   /* ascending (kept only with a totem callback) */
    /* The callbacks queued, oldest first: a ring of events (NULL: the node
     * set changed, for the totem confchg) that doubles when full. */
    ucpg_group_event_t **ring;
    size_t              ring_mask;     /* capacity - 1 (ring NULL: none) */
    uint64_t            ring_head;     /* next to take; the tail is head + queued */
    size_t              queued;        /* also read unlocked (atomic) */
    ucpg_cpg_zcb_t     *zcbs;

    /* Host groups (hostgroup.c); host is set once, at initialize. */
    int                   host;
    int                   pfd;           /* cpg_fd_get's: an epoll set of efd and
                                          * the doorbells of hgroup and hleft */
    pthread_rwlock_t      host_rw;       /* hgroup and hleft: read-held while
                                          * used, write-held to change them */
    pthread_mutex_t       host_dispatch; /* one dispatcher at a time */
    pthread_t             host_dispatcher; /* atomic: the thread dispatching, or 0 */
    ucpg_cpg_hostgroup_t *hgroup;        /* joined (or left, stream not ended) */
    ucpg_cpg_hostgroup_t *hleft;         /* left before a rejoin, oldest first:
                                          * their streams are dispatched first */
    int                   host_full;     /* the last send found the log full */
    struct cpg_address   *hview;         /* h->lock: the members of the last view */
    size_t                nhview, hview_cap; /* of hgroup dispatched (0: none) */
} ucpg_cpg_handle_t;

/* --- handle.c --- */
cs_error_t ucpg_cpg_handle_create(ucpg_cpg_handle_t **h_p);
/* Takes a reference: CS_ERR_BAD_HANDLE for a bogus, finalized or
 * inherited (fork) handle. */
cs_error_t ucpg_cpg_handle_get(cpg_handle_t id, ucpg_cpg_handle_t **h_p);
void       ucpg_cpg_handle_put(ucpg_cpg_handle_t *h);
/* Removes it from the table (later gets fail); the last put frees it. */
cs_error_t ucpg_cpg_handle_retire(cpg_handle_t id, ucpg_cpg_handle_t **h_p);
cs_error_t ucpg_cpg_error(ucpg_status_t status);

/* Calls fn with a reference to every live handle (none of our locks held). */
void       ucpg_cpg_handles_each(void (*fn)(ucpg_cpg_handle_t *h));

/* --- dispatch.c --- */
/* Queues event (NULL: a change of the node set, for the totem confchg). */
void ucpg_cpg_queue_event(void *arg, ucpg_group_event_t *event);
/* The node-set hook (ucpg_group_nodes_hook): queues that change to every
 * handle that has a totem confchg callback. */
void ucpg_cpg_nodes_changed(void *arg);
void ucpg_cpg_queue_clear(ucpg_cpg_handle_t *h);
/* Makes the handle's fd readable (a reference held meanwhile). _held: for a
 * caller that keeps the handle alive by other means (host-group callbacks). */
void ucpg_cpg_wake(ucpg_cpg_handle_t *h);
void ucpg_cpg_wake_held(ucpg_cpg_handle_t *h);

int  ucpg_cpg_finalized(ucpg_cpg_handle_t *h);
/* Shows a view: the confchg, and the totem confchg it owes after it.
 * group: the engine group or the host group (ucpg_cpg_hostgroup_t) the
 * view is of; the handle's own ends its membership when it removes us. */
void ucpg_cpg_show_view(ucpg_cpg_handle_t *h, const cpg_model_v1_data_t *model,
                        const struct cpg_name *name, const ucpg_group_view_t *view,
                        const void *group);
/* Runs the first (all = 0) or every queued callback; how many ran. */
unsigned ucpg_cpg_queue_dispatch(ucpg_cpg_handle_t *h, int all);
/* Makes the eventfd exact again (unread only while something is queued). */
void ucpg_cpg_efd_settle(ucpg_cpg_handle_t *h);

/* --- hostgroup.c: a handle whose groups are host groups --- */
cs_error_t ucpg_cpg_host_init(ucpg_cpg_handle_t *h);
void       ucpg_cpg_host_free(ucpg_cpg_handle_t *h);
cs_error_t ucpg_cpg_host_join(ucpg_cpg_handle_t *h, const struct cpg_name *group);
cs_error_t ucpg_cpg_host_leave(ucpg_cpg_handle_t *h, const struct cpg_name *group);
cs_error_t ucpg_cpg_host_mcast(ucpg_cpg_handle_t *h, int guarantee, const struct iovec *iov,
                               unsigned iovcnt);
cs_error_t ucpg_cpg_host_dispatch(ucpg_cpg_handle_t *h, cs_dispatch_flags_t type);
/* The members of group's last view dispatched, if h is joined to it:
 * 1 if it answered (*err set), 0 if the caller asks the tables. */
int        ucpg_cpg_host_members(ucpg_cpg_handle_t *h, const struct cpg_name *group,
                                 struct cpg_address *list, int *entries, cs_error_t *err);

/* --- iteration.c --- */
void ucpg_cpg_iteration_drop_all(cpg_handle_t owner);

/* --- zcb.c --- */
void ucpg_cpg_zcb_free_all(ucpg_cpg_handle_t *h);

/* --- relay_client.c, relay_dispatch.c: handles of a process forked while its
 * parent had a domain, served by a relay process. Their ids (handles and
 * iterators) carry UCPG_CPG_RELAY_TAG, which native ids never do, and every
 * entry point hands them to these functions, after its own argument checks. */
#define UCPG_CPG_RELAY_TAG (1ull << 63)
#define UCPG_CPG_RELAYED(id) (((uint64_t)(id) & UCPG_CPG_RELAY_TAG) != 0)

/* Non-zero in a process forked while its parent's domain was alive. */
int        ucpg_cpg_relay_wanted(void);
cs_error_t ucpg_cpg_relay_initialize(cpg_handle_t *handle, const cpg_model_v1_data_t *model,
                                     void *context);
cs_error_t ucpg_cpg_relay_finalize(cpg_handle_t handle);
cs_error_t ucpg_cpg_relay_fd_get(cpg_handle_t handle, int *fd);
/* get != NULL: reads the context into *get; else sets it to set. */
cs_error_t ucpg_cpg_relay_context(cpg_handle_t handle, void **get, void *set);
cs_error_t ucpg_cpg_relay_dispatch(cpg_handle_t handle, cs_dispatch_flags_t type);
cs_error_t ucpg_cpg_relay_join(cpg_handle_t handle, const struct cpg_name *group);
cs_error_t ucpg_cpg_relay_leave(cpg_handle_t handle, const struct cpg_name *group);
cs_error_t ucpg_cpg_relay_mcast(cpg_handle_t handle, cpg_guarantee_t guarantee,
                                const struct iovec *iovec, unsigned int iov_len);
cs_error_t ucpg_cpg_relay_membership(cpg_handle_t handle, const struct cpg_name *group,
                                     struct cpg_address *list, int *entries);
cs_error_t ucpg_cpg_relay_local_get(cpg_handle_t handle, unsigned int *nodeid);
cs_error_t ucpg_cpg_relay_max_msg(cpg_handle_t handle, uint32_t *size);
cs_error_t ucpg_cpg_relay_flow(cpg_handle_t handle, cpg_flow_control_state_t *state);
cs_error_t ucpg_cpg_relay_iter_init(cpg_handle_t handle, cpg_iteration_type_t type,
                                    const struct cpg_name *group, cpg_iteration_handle_t *it);
cs_error_t ucpg_cpg_relay_iter_next(cpg_iteration_handle_t it,
                                    struct cpg_iteration_description_t *desc);
cs_error_t ucpg_cpg_relay_iter_finalize(cpg_iteration_handle_t it);
cs_error_t ucpg_cpg_relay_zcb_alloc(cpg_handle_t handle, size_t size, void **buffer);
cs_error_t ucpg_cpg_relay_zcb_free(cpg_handle_t handle, void *buffer);
cs_error_t ucpg_cpg_relay_zcb_mcast(cpg_handle_t handle, cpg_guarantee_t guarantee, void *msg,
                                    size_t msg_len);

#endif
