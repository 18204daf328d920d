/*
 * group.h - named process groups with totally ordered multicast: the engine
 * under the CPG façade.
 *
 * A process joins a group by name and from then on receives, through its
 * callbacks, one stream of events: views (membership changes) and messages,
 * in the same order at every member. The protocol (docs/protocol.md): the
 * oldest member of a group is its sequencer; members send to it, it numbers
 * every event and sends it to every member; members deliver in number order,
 * acknowledge what they received (stability: SAFE delivery, garbage
 * collection) and what their application consumed (flow control). When the
 * sequencer dies, the next oldest member collects what the survivors hold,
 * completes the stream to the longest prefix any of them received and
 * installs the next view (virtual synchrony).
 *
 * A process is a member of a group at most once (CS_ERR_EXIST otherwise);
 * several groups per process are independent streams.
 *
 * Threads: every function is thread-safe. Callbacks run in the domain's
 * progress thread or in the calling application thread (a sequencer delivers
 * its own messages from ucpg_group_mcast); they must be quick and must not
 * call back into this API: the façade only queues the event.
 */
#ifndef UCPG_GROUP_GROUP_H
#define UCPG_GROUP_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/status.h"

#define UCPG_GROUP_NAME_MAX 128u

typedef struct ucpg_group ucpg_group_t;

/* Same layout as struct cpg_address. */
typedef struct ucpg_group_addr {
    uint32_t nodeid;
    uint32_t pid;
    uint32_t reason;
} ucpg_group_addr_t;

typedef enum ucpg_group_reason {
    UCPG_GROUP_REASON_NONE     = 0,
    UCPG_GROUP_REASON_JOIN     = 1,
    UCPG_GROUP_REASON_LEAVE    = 2,
    UCPG_GROUP_REASON_NODEDOWN = 3,
    UCPG_GROUP_REASON_NODEUP   = 4,
    UCPG_GROUP_REASON_PROCDOWN = 5
} ucpg_group_reason_t;

/* Orders addresses by (nodeid, pid), as views list them (for qsort). */
int ucpg_group_addr_cmp(const void *a, const void *b);

/* Delivery guarantees, as cpg_guarantee_t. */
typedef enum ucpg_group_guarantee {
    UCPG_GROUP_UNORDERED = 0,   /* delivered as AGREED */
    UCPG_GROUP_FIFO      = 1,   /* delivered as AGREED */
    UCPG_GROUP_AGREED    = 2,
    UCPG_GROUP_SAFE      = 3    /* only once every member has it */
} ucpg_group_guarantee_t;

/* A view as delivered: lists sorted by (nodeid, pid). */
typedef struct ucpg_group_view {
    uint64_t                 view_id;
    const ucpg_group_addr_t *members;
    size_t                   nmembers;
    const ucpg_group_addr_t *left;
    size_t                   nleft;
    const ucpg_group_addr_t *joined;
    size_t                   njoined;
    int                      self_left;   /* this view removes us: the stream ends */
} ucpg_group_view_t;

/* An event handed to the façade; the façade owns it until
 * ucpg_group_event_release(). */
typedef struct ucpg_group_event ucpg_group_event_t;

typedef struct ucpg_group_callbacks {
    /* A message or a view is next in the stream. Runs with the engine
     * lock held: wake-ups belong in ucpg_group_defer. */
    void (*event)(void *arg, ucpg_group_event_t *event);
} ucpg_group_callbacks_t;

/*
 * In the progress thread holding the engine lock: runs fn(arg) once the
 * thread lets go of it and returns 1. Elsewhere (or with too much deferred
 * already) returns 0, and the caller runs fn itself. For wake-ups asked for
 * by the event callback: a thread woken while the progress thread holds the
 * lock would only block on it (engine.c says why application threads wake
 * at once).
 */
typedef void (*ucpg_group_deferred_fn_t)(void *arg);
int ucpg_group_defer(ucpg_group_deferred_fn_t fn, void *arg);

/* What an event holds; pointers valid until it is released. */
typedef struct ucpg_group_event_info {
    ucpg_group_t     *group;       /* whose stream it belongs to */
    const uint8_t    *name;        /* that group's name */
    size_t            name_len;
    int               is_view;
    /* message */
    ucpg_group_addr_t sender;      /* reason unused */
    int               guarantee;
    void             *data;
    size_t            len;
    /* view: set only when is_view */
    ucpg_group_view_t view;
} ucpg_group_event_info_t;

void ucpg_group_event_info(const ucpg_group_event_t *event, ucpg_group_event_info_t *info);
int  ucpg_group_event_is_view(const ucpg_group_event_t *event);
/* Hints to the CPU to load what ucpg_group_event_info reads: the event
 * (call it a few events ahead), then its body's descriptor and first bytes
 * (a couple of events ahead, once the event is in cache). Events are made
 * by another thread, on another CPU, so each one's first touch is a miss. */
void ucpg_group_event_prefetch(const ucpg_group_event_t *event);
void ucpg_group_event_prefetch_body(const ucpg_group_event_t *event);
/* The application is done with it: counts as consumed for flow control. */
void ucpg_group_event_release(ucpg_group_event_t *event);
/* The same for n events at once (a dispatcher that runs many callbacks in
 * a row releases them in batches). Never waits for the engine lock: the
 * events are taken by whoever holds it next (engine.c). */
void ucpg_group_events_release(ucpg_group_event_t *const *events, size_t n);

/* Keeps the engine (and the domain under it) alive between calls, e.g. for
 * the life of a CPG handle, so that leaving and joining again does not tear
 * the domain down and build it again. Errors as ucpg_group_join. */
ucpg_status_t ucpg_group_use(void);
void          ucpg_group_unuse(void);

/*
 * Joins name (0..UCPG_GROUP_NAME_MAX bytes) and waits until the group has
 * ordered the join; the first event is the view that adds us. Errors:
 * UCPG_ERR_EXISTS (this process is already a member or joining),
 * UCPG_ERR_TIMEOUT (the group did not order the join in
 * group_join_timeout_ms), UCPG_ERR_NO_RESOURCE (directory or group full),
 * UCPG_ERR_FORKED, others from the domain.
 */
ucpg_status_t ucpg_group_join(const void *name, size_t name_len,
                              const ucpg_group_callbacks_t *cb, void *arg,
                              ucpg_group_t **group_p);

/*
 * Asks to leave: a view with us in its left list (reason LEAVE) ends the
 * stream; messages ordered before it are still delivered. UCPG_ERR_NOT_FOUND
 * if already leaving or gone.
 */
ucpg_status_t ucpg_group_leave(ucpg_group_t *group);

/*
 * Frees the handle. If still a member, leaves at once: the others see
 * reason PROCDOWN, and no more events reach the callbacks after return.
 */
void ucpg_group_destroy(ucpg_group_t *group);

/*
 * Multicasts the concatenation of iov (any count). The data is copied;
 * UCPG_ERR_TRY_AGAIN when the send window is full (flow control),
 * UCPG_ERR_NOT_FOUND when not (or no longer) a member, UCPG_ERR_TOO_BIG
 * above ucpg_group_max_msg().
 */
ucpg_status_t ucpg_group_mcast(ucpg_group_t *group, int guarantee, const struct iovec *iov,
                               unsigned iovcnt);

/*
 * As ucpg_group_mcast, but without copying: buf must come from
 * ucpg_group_zbuf_alloc() and is read in place by the transport. Returns
 * once the library no longer reads it (the message was ordered and sent),
 * so the caller may reuse it at once.
 */
void         *ucpg_group_zbuf_alloc(size_t len);
void          ucpg_group_zbuf_free(void *buf);
ucpg_status_t ucpg_group_mcast_zbuf(ucpg_group_t *group, int guarantee, void *buf, size_t len);

/* Waits until our leave was ordered (the group is gone), bounded. */
ucpg_status_t ucpg_group_wait_gone(ucpg_group_t *group, unsigned timeout_ms);

/* Is the send window of group full (mcast would return TRY_AGAIN)? */
int    ucpg_group_flow_control(ucpg_group_t *group);
size_t ucpg_group_max_msg(void);
/* Our node id (the domain's), 0 if no domain can be had. */
ucpg_status_t ucpg_group_local_nodeid(uint32_t *nodeid_p);

/* The nodes with a live process of the domain (ours included), ascending,
 * into nodes (capacity max); *n_p is how many there are (may exceed max).
 * *epoch_p counts the changes of that set, from 1: the totem ring's seq. */
ucpg_status_t ucpg_group_nodes(uint32_t *nodes, size_t max, size_t *n_p, uint64_t *epoch_p);

/* Calls cb(arg) whenever a peer coming or going changed that set (its
 * epoch moved), from the domain's progress thread with no lock of ours
 * held. One hook per process (the façade's); NULL turns it off. */
void ucpg_group_nodes_hook(void (*cb)(void *arg), void *arg);

/* A snapshot of the domain's groups (directory); cb is called with each
 * group that matches name (NULL: all) and its members, sorted. */
typedef void (*ucpg_group_list_cb_t)(void *arg, const uint8_t *name, size_t name_len,
                                     const ucpg_group_addr_t *members, size_t nmembers);
ucpg_status_t ucpg_group_list(const void *name, size_t name_len, ucpg_group_list_cb_t cb,
                              void *arg);

/* The member that orders group `name` (its sequencer) as the directory
 * lists it: UCPG_ERR_NOT_FOUND if no such group exists. */
ucpg_status_t ucpg_group_orderer(const void *name, size_t name_len, ucpg_group_addr_t *addr);

#endif
