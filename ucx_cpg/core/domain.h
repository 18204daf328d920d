/*
 * domain.h - the per-process communication domain: the API every upper layer
 * (boot, group, rsm, cpg) builds on.
 *
 * A domain owns one UCP context and worker, a progress thread that sleeps on
 * the worker's wakeup fd when idle, and a table of peers: the other processes
 * of the domain, each identified by a peer id (its slot in the boot
 * registry) and an incarnation uuid. Peers come up after a HELLO handshake
 * and go down when they say BYE, when their process exits (a pidfd, so
 * detection is immediate) or when UCX reports the endpoint failed.
 *
 * How a domain finds its peers is not decided here: a boot method (boot/)
 * creates the domain, starts it and tells it whom to connect to; the domain
 * calls the boot method back only through ucpg_boot_ops_t, so this layer
 * never depends on an upper one.
 *
 * Threads: every function here is thread-safe. Only the progress thread
 * progresses the UCP worker, so every callback (peer events, AM handlers,
 * send completions) runs there; callbacks must not block, must not call the
 * blocking ucpg_am_send() and must not release the domain.
 */
#ifndef UCPG_CORE_DOMAIN_H
#define UCPG_CORE_DOMAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ucp/api/ucp.h>

#include "config.h"
#include "status.h"

typedef struct ucpg_domain ucpg_domain_t;
typedef uint32_t           ucpg_peer_id_t;

#define UCPG_PEER_ID_NONE  UINT32_MAX

typedef enum ucpg_peer_state {
    UCPG_PEER_STATE_FREE = 0,    /* no process in this slot (as far as we know) */
    UCPG_PEER_STATE_CONNECTING,  /* HELLO sent, waiting for HELLO_ACK */
    UCPG_PEER_STATE_UP           /* handshake done: messages flow */
} ucpg_peer_state_t;

typedef enum ucpg_peer_event {
    UCPG_PEER_EVENT_UP,
    UCPG_PEER_EVENT_DOWN
} ucpg_peer_event_t;

/* Why a peer came or went. */
typedef enum ucpg_peer_reason {
    UCPG_PEER_REASON_JOINED = 0,    /* UP: completed the handshake */
    UCPG_PEER_REASON_LEFT,          /* DOWN: said BYE (clean release or exit) */
    UCPG_PEER_REASON_EXITED,        /* DOWN: process ended without BYE (crash, kill) */
    UCPG_PEER_REASON_UNREACHABLE,   /* DOWN: UCX reported the endpoint failed */
    UCPG_PEER_REASON_PROTOCOL,      /* DOWN: sent something invalid; disconnected */
    UCPG_PEER_REASON_SHUTDOWN       /* DOWN: our own domain is going away */
} ucpg_peer_reason_t;

typedef struct ucpg_peer_info {
    ucpg_peer_id_t    id;
    uint64_t          uuid;
    uint32_t          nodeid;
    pid_t             pid;
    ucpg_peer_state_t state;
    int               is_self;
} ucpg_peer_info_t;

typedef void (*ucpg_peer_event_cb_t)(void *arg, const ucpg_peer_info_t *peer,
                                     ucpg_peer_event_t event, ucpg_peer_reason_t reason);

struct ucpg_peer_desc;

/* What the domain needs from the boot method that created it. */
typedef struct ucpg_boot_ops {
    /* A peer's process ended without BYE: forget its registration. */
    void (*peer_gone)(void *boot_arg, ucpg_peer_id_t id, uint64_t uuid);
    /* Optional. A HELLO came from a process on another node: it shows its
     * own host's secret, not ours, so the boot method must vouch for it
     * (id, uuid, node id) from a store only members can write, such as the
     * launcher's key-value store. Nonzero admits it. NULL: only processes
     * that show our secret are ever admitted. Called in the progress thread
     * outside UCP callbacks; may block briefly. */
    int  (*admit)(void *boot_arg, const struct ucpg_peer_desc *peer);
    /* Optional. A peer of this host did not answer our HELLO in time: is
     * that process still registered in the domain (it has not left)?
     * Nonzero keeps its handshake waiting: it runs but cannot answer yet
     * (a starved or debugged thread). NULL: such a peer is given up on.
     * Called in the progress thread, no domain lock held; may block
     * briefly. */
    int  (*registered)(void *boot_arg, ucpg_peer_id_t id, uint64_t uuid);
} ucpg_boot_ops_t;

/* How to reach a peer: what a boot method learned about it. */
typedef struct ucpg_peer_desc {
    ucpg_peer_id_t id;
    uint64_t       uuid;
    uint32_t       nodeid;
    pid_t          pid;
    uint64_t       starttime;
    const void    *address;
    size_t         address_len;
    int            same_host;   /* pid is meaningful here: watch it with a pidfd */
} ucpg_peer_desc_t;

/* --- lifecycle (called by boot methods) ------------------------------------ */

/* Creates the UCP context and worker; the domain is not yet reachable. */
ucpg_status_t ucpg_domain_create(const ucpg_config_t *config, ucpg_domain_t **domain_p);
/* Our worker address (valid until destroy). */
void          ucpg_domain_address(ucpg_domain_t *d, const void **addr_p, size_t *len_p);
uint64_t      ucpg_domain_uuid(ucpg_domain_t *d);
/* Fixes our peer id, the size of the peer id space and the domain secret,
 * and starts the progress thread. */
ucpg_status_t ucpg_domain_start(ucpg_domain_t *d, ucpg_peer_id_t self, unsigned npeers,
                                uint64_t secret, const ucpg_boot_ops_t *ops, void *boot_arg);
/* Connects to a peer (HELLO); it comes UP when it answers. */
ucpg_status_t ucpg_domain_connect(ucpg_domain_t *d, const ucpg_peer_desc_t *peer);
/* Waits until no peer is CONNECTING (answered or given up), bounded. A
 * peer of this host that is stopped is not waited for: its handshake goes
 * on in the background, is not given up while the stop lasts, and ends
 * when the peer runs again (or dies). */
ucpg_status_t ucpg_domain_wait_settled(ucpg_domain_t *d, unsigned timeout_ms);
/* Says BYE to every peer and stops the progress thread (bounded). */
void          ucpg_domain_stop(ucpg_domain_t *d);
/* Frees everything. Safe after stop, or on a domain never started. */
void          ucpg_domain_destroy(ucpg_domain_t *d);
/* At exit: releases everything of UCX's, like destroy, but leaves the
 * domain's own memory (the structure, its peer table and locks) to the
 * process's end. exit() does not stop the other threads, and one may be
 * about to call into the domain through a handle; it then gets PEER_DOWN
 * instead of touching freed memory. */
void          ucpg_domain_abandon(ucpg_domain_t *d);

/* --- queries ------------------------------------------------------------- */

const ucpg_config_t *ucpg_domain_config(ucpg_domain_t *d);
ucpg_peer_id_t       ucpg_domain_self(ucpg_domain_t *d);
uint32_t             ucpg_domain_nodeid(ucpg_domain_t *d);
ucp_context_h        ucpg_domain_ucp_context(ucpg_domain_t *d);
ucp_worker_h         ucpg_domain_ucp_worker(ucpg_domain_t *d);
/* UCPG_ERR_FORKED when called in a child of the process that created d. */
ucpg_status_t        ucpg_domain_check_owner(ucpg_domain_t *d);

/* Snapshot of ourselves and every peer that is UP, in peer id order.
 * *count_p = number of entries written (at most max), *total_p (if non-NULL)
 * = number that exist. */
ucpg_status_t ucpg_domain_peers(ucpg_domain_t *d, ucpg_peer_info_t *peers, size_t max,
                                size_t *count_p, size_t *total_p);
ucpg_status_t ucpg_domain_peer_info(ucpg_domain_t *d, ucpg_peer_id_t id,
                                    ucpg_peer_info_t *info_p);
/* Whether peer id, incarnation uuid, is a process of this host that is
 * stopped (SIGSTOP, a tracer): alive, and answering nothing until it runs
 * again. 0 for a peer of another host, one that is gone, or another
 * incarnation. Reads /proc: not for data paths. */
int           ucpg_domain_peer_stopped(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid);
/* Waits until at least n peers (not counting ourselves) are UP. */
ucpg_status_t ucpg_domain_wait_peers(ucpg_domain_t *d, unsigned n, unsigned timeout_ms);

/* --- peer events ----------------------------------------------------------- */

/* Registers a listener (at most 16). With replay, it first receives an UP
 * event (reason JOINED) for every peer already UP. *id_p identifies it. */
ucpg_status_t ucpg_domain_listen(ucpg_domain_t *d, ucpg_peer_event_cb_t cb, void *arg,
                                 int replay, int *id_p);
/* After return, the callback is not running and will not be called again.
 * It waits for a running callback, so never call it holding a lock that the
 * listener takes (that deadlock was found in the RSM engine; see rsm/engine.c). */
void          ucpg_domain_unlisten(ucpg_domain_t *d, int id);

/* --- endpoints, for RMA by upper layers ------------------------------------ */

typedef struct ucpg_ep_ref ucpg_ep_ref_t;

/* Pins the endpoint of an UP peer so it cannot be closed underneath the
 * caller; release with ucpg_domain_ep_put as soon as the UCP call returned. */
ucpg_status_t ucpg_domain_ep_get(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid,
                                 ucp_ep_h *ep_p, ucpg_ep_ref_t **ref_p);
void          ucpg_domain_ep_put(ucpg_domain_t *d, ucpg_ep_ref_t *ref);

/* Brackets an application thread's UCP call that needs no endpoint (memory
 * registration, rkey release) the way ucpg_domain_ep_get/put bracket one
 * that does: a stopping domain waits for it before it releases UCX, and
 * once it stops refuses new ones (UCPG_ERR_SHUTDOWN: skip the call). */
ucpg_status_t ucpg_domain_ucx_enter(ucpg_domain_t *d);
void          ucpg_domain_ucx_leave(ucpg_domain_t *d);

/* Blocks the calling (application) thread until *done becomes non-zero,
 * while the progress thread drives UCP; for upper layers that issue UCP
 * requests themselves (RMA, flush). timeout_ms 0 = no limit, else
 * UCPG_ERR_TIMEOUT. UCPG_ERR_BUSY from the progress thread. */
ucpg_status_t ucpg_domain_wait_flag(ucpg_domain_t *d, const int *done, unsigned timeout_ms);

/* --- deferred sends --------------------------------------------------------- */

/*
 * An upper layer that queues messages instead of sending each at once (to
 * pack many into one active message) registers one flush hook: the progress
 * thread calls it after every round of ucp_worker_progress and before it
 * sleeps, so whatever the round produced leaves together. hook NULL removes
 * it; after return the old hook is not running. ucpg_domain_kick() makes a
 * sleeping progress thread run a round (and so the hook) soon.
 */
typedef void (*ucpg_domain_flush_hook_t)(void *arg);
void ucpg_domain_set_flush_hook(ucpg_domain_t *d, ucpg_domain_flush_hook_t hook, void *arg);
void ucpg_domain_kick(ucpg_domain_t *d);
/* Is the calling thread the domain's progress thread? */
int  ucpg_domain_in_progress_thread(ucpg_domain_t *d);
/* Non-zero while the progress thread is inside ucp_worker_progress, where it
 * holds UCX's worker lock (our active-message handlers run there too): a
 * send from another thread would spin on that lock, for a whole time slice
 * when the holder is preempted. The flush hook runs as soon as the round
 * ends, so a message queued (sequentially consistent store) before this
 * returned non-zero leaves then without a kick. Queue first, then ask. */
int  ucpg_domain_progress_busy(ucpg_domain_t *d);
/* Non-zero while the progress thread is awake: it runs the flush hook after
 * every round and once more before it sleeps, so a message queued
 * (sequentially consistent store) before this returned non-zero leaves
 * without a kick. A kick wakes a sleeping thread, which costs the kicker
 * 10-15 µs on a VM; while the thread spins it is pure waste. */
int  ucpg_domain_progress_awake(ucpg_domain_t *d);

/* --- timers ------------------------------------------------------------------ */

typedef void (*ucpg_domain_timer_cb_t)(void *arg);

/* Calls cb(arg) once in the progress thread, delay_ms from now or earlier
 * if it was already armed for an earlier time. At most 8 distinct (cb, arg)
 * pairs; UCPG_ERR_NO_RESOURCE beyond. An idle domain with no timer armed
 * never wakes up. */
ucpg_status_t ucpg_domain_timer_arm(ucpg_domain_t *d, ucpg_domain_timer_cb_t cb, void *arg,
                                    unsigned delay_ms);
/* Disarms it; after return cb(arg) is not running and will not run. Never
 * call it holding a lock that cb takes. */
void          ucpg_domain_timer_cancel(ucpg_domain_t *d, ucpg_domain_timer_cb_t cb, void *arg);

#endif
