/*
 * domain_int.h - private state of a domain, shared by the files of core/
 * that implement it: domain.c (lifecycle), progress.c (progress thread),
 * peer.c (peer table, handshake, events) and am.c (active messages).
 */
#ifndef UCPG_CORE_DOMAIN_INT_H
#define UCPG_CORE_DOMAIN_INT_H

#include <pthread.h>

#include "am.h"
#include "domain.h"
#include "shm_pool.h"
#include "wire.h"

#define UCPG_DOMAIN_MAX_LISTENERS 16

/*
 * A UCP endpoint and the number of callers using it right now. The peer
 * table drops its pointer when the peer goes down, and the progress thread
 * closes the endpoint once refs reaches zero, so no thread ever holds a lock
 * across a UCP call. Guarded by domain->lock.
 */
/* Large bodies through shared memory on one endpoint (am_shm.c); guarded by
 * domain->lock. */
typedef struct ucpg_am_shm_ep {
    int                      out;        /* our pool at the peer: offered, accepted... */
    char                     sending;    /* atomic flag: a body is being recorded and sent */
    struct ucpg_am_shm_sent *sent;       /* bodies it did not confirm, oldest first */
    struct ucpg_am_shm_sent **sent_tail;
    ucpg_shm_view_t          view;       /* its pool here (base NULL: none) */
    unsigned                 owe;        /* replies we owe it (bits) */
    uint64_t                 done_offset, done_gen;   /* the last body we copied */
    unsigned                 done_count;  /* bodies copied since the last DONE */
    uint64_t                 done_bytes;  /* and their bytes */
    struct ucpg_ep_ref      *owe_next;   /* in domain->shm_owed while owe != 0 */
} ucpg_am_shm_ep_t;

struct ucpg_ep_ref {
    ucp_ep_h            ep;
    ucpg_domain_t      *domain;
    ucpg_peer_id_t      peer;      /* for the UCX error callback */
    uint64_t            uuid;
    int                 refs;      /* pins held by senders; the table holds one */
    int                 dead;      /* dropped by the table: close when refs == 0 */
    struct ucpg_ep_ref *next;      /* in domain->closing */
    ucpg_am_shm_ep_t    shm;
};

/* One slot of the peer table; guarded by domain->lock. */
typedef struct ucpg_peer {
    ucpg_peer_state_t state;
    uint64_t          uuid;
    uint32_t          nodeid;
    pid_t             pid;
    uint64_t          starttime;
    ucpg_ep_ref_t    *ep;          /* NULL when FREE */
    int               pidfd;       /* -1 if none (not local, or no pidfd support) */
    int               same_host;   /* pid names a process here (ucpg_peer_desc_t) */
    int               exited;      /* its pidfd fired: it exited, whoever reports it */
    int               bye_wait;    /* we said BYE and wait for its BYE_ACK (stopping) */
    uint64_t          deadline_ms; /* CONNECTING: give up at this time */
    uint64_t          hello_ms;    /* CONNECTING: when we said HELLO */
    int               overdue;     /* CONNECTING past its first deadline, kept
                                    * because it is alive and registered */
} ucpg_peer_t;

typedef struct ucpg_listener {
    ucpg_peer_event_cb_t cb;
    void                *arg;
    uint64_t             seen_seq;  /* events up to this one came by replay */
} ucpg_listener_t;

#define UCPG_DOMAIN_MAX_TIMERS 8

typedef struct ucpg_domain_timer {
    ucpg_domain_timer_cb_t cb;
    void                  *arg;
    uint64_t               deadline_ns;   /* 0 = not armed */
} ucpg_domain_timer_t;

/* A peer event waiting to be delivered to the listeners (progress thread). */
typedef struct ucpg_peer_event_item {
    ucpg_peer_info_t             info;
    ucpg_peer_event_t            event;
    ucpg_peer_reason_t           reason;
    uint64_t                     seq;
    struct ucpg_peer_event_item *next;
} ucpg_peer_event_item_t;

/* A control message received in a UCP callback, handled in the progress
 * thread outside UCP (it creates endpoints and sends replies). */
typedef struct ucpg_peer_ctl_item {
    ucpg_wire_hdr_t            hdr;
    ucpg_wire_ctl_t            ctl;
    size_t                     addr_len;
    int                        foreign;  /* another node's secret: see admit */
    struct ucpg_peer_ctl_item *next;
    uint8_t                    addr[];
} ucpg_peer_ctl_item_t;

/* One AM id: the UCP callback argument and the registered handler. handler
 * is written with release order after arg, and read with acquire order, so
 * the receive path needs no lock. */
typedef struct ucpg_am_entry {
    ucpg_domain_t    *domain;
    unsigned          id;
    void             *arg;
    ucpg_am_handler_t handler;
    int               running;   /* atomic: handler calls in progress (unregister waits) */
} ucpg_am_entry_t;

struct ucpg_domain {
    /* Immutable after ucpg_domain_start. */
    pid_t                 owner_pid;
    ucpg_config_t         config;
    ucp_context_h         context;
    ucp_worker_h          worker;
    ucp_address_t        *address;
    size_t                address_len;
    uint64_t              uuid;
    pid_t                 pid;          /* who peers see (ucpg_proc_identity) */
    uint64_t              starttime;    /* of pid */
    ucpg_peer_id_t        self;
    unsigned              npeers;       /* size of the peer id space */
    uint64_t              secret;
    const ucpg_boot_ops_t *boot_ops;
    void                 *boot_arg;

    /* Held from "is this peer known?" to installing its endpoint, by
     * ucpg_domain_connect and by the HELLO handler, so a peer never gets two
     * endpoints (UCX pairs endpoints: closing a spare one can break the
     * peer's). Taken before lock; may be held across ucp_ep_create. */
    pthread_mutex_t       connect_lock;
    /* Guards everything below that is not marked otherwise. Never held
     * across a UCP call or a user callback. */
    pthread_mutex_t       lock;
    pthread_cond_t        changed;      /* peer states changed */
    ucpg_peer_t          *peers;        /* [npeers] */
    unsigned              nup;          /* peers UP, not counting self */
    unsigned              nconnecting;
    ucpg_ep_ref_t        *closing;      /* endpoints to close (progress thread) */
    ucpg_peer_ctl_item_t *ctl_head;     /* control messages to handle, FIFO */
    ucpg_peer_ctl_item_t **ctl_tail;
    ucpg_peer_event_item_t *ev_head;    /* events to deliver, FIFO */
    ucpg_peer_event_item_t **ev_tail;
    uint64_t              event_seq;    /* last event sequence number queued */
    ucpg_listener_t       listeners[UCPG_DOMAIN_MAX_LISTENERS];
    ucpg_am_entry_t       am[UCPG_AM_ID_MAX];
    int                   stopping;
    /* UCP calls of application threads in progress: endpoint references
     * taken outside the progress thread and not yet put back, and calls
     * bracketed by ucpg_domain_ucx_enter/leave (registrations). A stopping
     * domain drains them (refusing new ones) before its progress thread
     * stops, so a thread still inside a put when exit() runs finishes it
     * while UCX exists and is progressed. */
    unsigned              ep_calls;
    int                   draining;
    unsigned              bye_unacked;  /* peers with bye_wait set */
    int                   bye_acked;    /* atomic: bye_unacked reached 0 */
    int                   control_pending; /* atomic: ctl or events queued */
    int                   waiters;      /* atomic: threads blocked on a request */

    /* Held while listeners run, so that unlisten can wait for a running
     * callback; recursive so a listener may call ucpg_domain_* itself.
     * Taken before lock, never after, and never held inside UCP. */
    pthread_mutex_t       event_lock;

    /* Progress thread (progress.c). */
    pthread_t             thread;
    int                   thread_running; /* atomic */
    int                   thread_stop;  /* atomic */
    int                   thread_in_ucp; /* atomic: inside ucp_worker_progress, holding
                                          * UCX's worker lock (see progress_busy) */
    int                   thread_awake; /* atomic: in its loop, and will run the flush
                                          * hook before it sleeps (see progress_awake) */
    int                   epfd;         /* epoll: UCP efd, wakefd, pidfds */
    int                   ucp_efd;
    int                   wakefd;       /* eventfd to interrupt epoll_wait */

    /* One-shot timers (timer.c), guarded by timer_lock (a leaf lock: arm
     * may be called holding anything); callbacks run under event_lock, like
     * listeners. timer_next is read without a lock by the progress loop. */
    pthread_mutex_t       timer_lock;
    ucpg_domain_timer_t   timers[UCPG_DOMAIN_MAX_TIMERS];
    uint64_t              timer_next;   /* atomic: earliest deadline (ns), 0 = none */

    /* Large bodies through shared memory (am_shm.c). shm_pool is immutable
     * after create; shm_owed (endpoints owed a reply, pinned) is guarded by
     * lock. */
    ucpg_shm_pool_t      *shm_pool;
    ucpg_ep_ref_t        *shm_owed;
    int                   shm_owed_pending;   /* atomic */
    int                   shm_owed_urgent;    /* atomic: send them now, not when idle */
    ucpg_am_shm_stats_t   shm_stats;          /* counters: atomic */

    /* Flush hook (ucpg_domain_set_flush_hook), run under event_lock. */
    ucpg_domain_flush_hook_t flush_hook;
    void                    *flush_arg;
};

/* timer.c: runs due timers (progress thread); narrows an epoll timeout. */
void ucpg_timer_run_due(ucpg_domain_t *d, uint64_t now_ns);
void ucpg_timer_clip_timeout(ucpg_domain_t *d, int *timeout_ms_p);

/* epoll data tags */
#define UCPG_EPOLL_TAG_UCP    0xffffffff00000001ull
#define UCPG_EPOLL_TAG_WAKE   0xffffffff00000002ull
#define UCPG_EPOLL_PIDFD(id)  ((uint64_t)(id))

/* progress.c */
ucpg_status_t ucpg_progress_init(ucpg_domain_t *d);
ucpg_status_t ucpg_progress_start(ucpg_domain_t *d);
void          ucpg_progress_wake(ucpg_domain_t *d);
void          ucpg_progress_stop(ucpg_domain_t *d);
void          ucpg_progress_cleanup(ucpg_domain_t *d);
void          ucpg_progress_close_endpoints(ucpg_domain_t *d);
/* Blocks until *done becomes non-zero or timeout_ms passes (0 = no limit;
 * then UCPG_ERR_TIMEOUT). Only the progress thread progresses
 * the worker: an application thread spinning in ucp_worker_progress would
 * starve it on UCX's worker spinlock, and with it peer-failure handling. So
 * a waiter keeps the progress thread awake and busy, and waits for the flag.
 * Must not be called from the progress thread (UCPG_ERR_BUSY). */
ucpg_status_t ucpg_progress_wait_flag(ucpg_domain_t *d, const int *done, unsigned timeout_ms);
int           ucpg_progress_is_current(ucpg_domain_t *d);

/* peer.c */
ucpg_status_t ucpg_peer_table_init(ucpg_domain_t *d);
void          ucpg_peer_table_cleanup(ucpg_domain_t *d);
void          ucpg_peer_down(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid,
                             ucpg_peer_reason_t reason);
void          ucpg_peer_check_deadlines(ucpg_domain_t *d, int *timeout_ms_p);
/* Handles queued control messages and delivers queued events; progress
 * thread only, outside ucp_worker_progress. */
void          ucpg_peer_run_control(ucpg_domain_t *d);
void          ucpg_peer_ctl_recv(ucpg_domain_t *d, const ucpg_wire_hdr_t *hdr,
                                 const void *ctl_buf, size_t ctl_len, const void *data,
                                 size_t len);
/* Is (id, uuid) an UP peer? Promotes a CONNECTING peer whose first message
 * overtook its HELLO_ACK. */
int           ucpg_peer_accept_from(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid);
int           ucpg_peer_say_bye_all(ucpg_domain_t *d, unsigned timeout_ms);
void          ucpg_peer_flush_all(ucpg_domain_t *d, unsigned timeout_ms);
/* Refuses application threads new endpoint references and waits, at most
 * timeout_ms, for those they hold to come back. */
void          ucpg_peer_drain_calls(ucpg_domain_t *d, unsigned timeout_ms);
/* Releases a pin taken by hand (++ref->refs under d->lock), not by
 * ucpg_domain_ep_get: it counted no application call. */
void          ucpg_peer_ep_unpin(ucpg_domain_t *d, ucpg_ep_ref_t *ref);

/* am.c */
ucpg_status_t ucpg_am_init(ucpg_domain_t *d);
/* Sends on a pinned endpoint (also used for the handshake before UP). */
ucpg_status_t ucpg_am_send_ep(ucpg_domain_t *d, ucp_ep_h ep, unsigned am_id,
                              const void *hdr, size_t hdr_len, const void *data,
                              size_t len, ucpg_am_send_cb_t cb, void *arg);
ucpg_status_t ucpg_am_status_from_ucs(ucs_status_t status);
/* Runs the handler of entry e (it may be unregistered: then logged). */
void          ucpg_am_deliver(ucpg_am_entry_t *e, ucpg_peer_id_t src, const void *hdr,
                              size_t hdr_len, void *data, size_t len, ucpg_buf_t *buf);

/* am_shm.c */
void          ucpg_am_shm_init(ucpg_domain_t *d);     /* no pool if it fails */
void          ucpg_am_shm_cleanup(ucpg_domain_t *d);
/* A message on UCPG_AM_ID_SHM (its header after the common one). */
void          ucpg_am_shm_recv(ucpg_domain_t *d, const ucpg_wire_hdr_t *whdr,
                               const void *hdr, size_t hdr_len);
/* Sends the replies owed (progress thread, after a round): answers at once,
 * confirmations in batches, all of them if idle (about to sleep). */
void          ucpg_am_shm_send_owed(ucpg_domain_t *d, int idle);
/* Teardown: forgets the owed list (endpoints are closed regardless of pins).
 * Called with lock held. */
void          ucpg_am_shm_forget_owed(ucpg_domain_t *d);
/* The endpoint closes: releases unconfirmed bodies, detaches the peer's pool. */
void          ucpg_am_shm_ep_cleanup(ucpg_ep_ref_t *ref);

#endif
