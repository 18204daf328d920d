/*
 * peer.c - the peer table: handshake, liveness, events.
 *
 * Handshake. A process that joins sends HELLO (its identity, the domain
 * secret and its worker address) to every peer it found at boot and marks
 * them CONNECTING; a peer that receives HELLO connects back, marks the sender
 * UP and answers HELLO_ACK; the ACK marks it UP at the joiner. Within a host
 * a registry join is serialized, so exactly one side of each pair initiates;
 * across hosts (boot methods with an admit op) two HELLOs may cross, and
 * each side then takes the other's HELLO as its answer.
 *
 * Membership proof. A control message must show the domain secret (from the
 * host registry, so only processes able to read it join). A process on
 * another node has its own host's secret: its HELLO is admitted only if the
 * boot method vouches for it (ucpg_boot_ops_t.admit), and its later control
 * messages only if they come from the incarnation admitted.
 *
 * Departure. BYE on a clean stop, answered with BYE_ACK once the peer took
 * everything sent before it (the stopping side waits for the answers,
 * bounded, before it closes its endpoints); a pidfd that turns readable
 * when a local process dies; UCX's endpoint error callback for anything
 * else; a deadline for a HELLO that is never answered.
 *
 * Threads. UCP callbacks only record what happened (queue a control message,
 * mark a peer down, queue an event); the progress thread then does the work
 * that needs UCP (creating endpoints, replying) and delivers the events to
 * listeners outside of UCP, so a listener may call any domain function.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "domain_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

static const char *ucpg_peer_reason_name(ucpg_peer_reason_t reason)
{
    static const char *names[] = {"joined", "left", "exited", "unreachable", "protocol",
                                  "shutdown"};

    return ((unsigned)reason < (sizeof(names) / sizeof(names[0]))) ? names[reason] : "?";
}

/* --- events (queued under lock, delivered by the progress thread) --------- */

static void ucpg_peer_fill_info(ucpg_domain_t *d, ucpg_peer_id_t id, ucpg_peer_info_t *info)
{
    const ucpg_peer_t *p = &d->peers[id];

    info->id      = id;
    info->uuid    = p->uuid;
    info->nodeid  = p->nodeid;
    info->pid     = p->pid;
    info->state   = p->state;
    info->is_self = (id == d->self);
}

/* Called with lock held. */
static void ucpg_peer_queue_event(ucpg_domain_t *d, ucpg_peer_id_t id, ucpg_peer_event_t event,
                                  ucpg_peer_reason_t reason)
{
    ucpg_peer_event_item_t *item = calloc(1, sizeof(*item));

    if (item == NULL) {
        ucpg_error("out of memory: peer %u %s event lost", id,
                   (event == UCPG_PEER_EVENT_UP) ? "up" : "down");
        return;
    }
    ucpg_peer_fill_info(d, id, &item->info);
    item->event  = event;
    item->reason = reason;
    item->seq    = ++d->event_seq;
    *d->ev_tail  = item;
    d->ev_tail   = &item->next;
    pthread_cond_broadcast(&d->changed);
}

static void ucpg_peer_deliver_events(ucpg_domain_t *d)
{
    ucpg_listener_t listeners[UCPG_DOMAIN_MAX_LISTENERS];
    ucpg_peer_event_item_t *item;
    int i;

    pthread_mutex_lock(&d->event_lock);
    for (;;) {
        pthread_mutex_lock(&d->lock);
        item = d->ev_head;
        if (item != NULL) {
            d->ev_head = item->next;
            if (d->ev_head == NULL) {
                d->ev_tail = &d->ev_head;
            }
        }
        memcpy(listeners, d->listeners, sizeof(listeners));
        pthread_mutex_unlock(&d->lock);
        if (item == NULL) {
            break;
        }
        for (i = 0; i < UCPG_DOMAIN_MAX_LISTENERS; ++i) {
            if ((listeners[i].cb != NULL) && (item->seq > listeners[i].seen_seq)) {
                listeners[i].cb(listeners[i].arg, &item->info, item->event, item->reason);
            }
        }
        free(item);
    }
    pthread_mutex_unlock(&d->event_lock);
}

/* --- endpoints ---------------------------------------------------------------- */

static void ucpg_peer_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    ucpg_ep_ref_t *ref = arg;

    (void)ep;
    ucpg_debug("endpoint to peer %u failed: %s", ref->peer, ucs_status_string(status));
    ucpg_peer_down(ref->domain, ref->peer, ref->uuid, UCPG_PEER_REASON_UNREACHABLE);
}

static ucpg_status_t ucpg_peer_ep_create(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid,
                                         const void *address, ucpg_ep_ref_t **ref_p)
{
    ucp_ep_params_t params;
    ucpg_ep_ref_t *ref;
    ucs_status_t status;

    ref = calloc(1, sizeof(*ref));
    if (ref == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    ref->domain = d;
    ref->peer   = id;
    ref->uuid   = uuid;
    ref->refs   = 1;                      /* the peer table's own reference */
    memset(&params, 0, sizeof(params));
    params.field_mask      = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS |
                             UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                             UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params.address         = address;
    params.err_mode        = UCP_ERR_HANDLING_MODE_PEER;
    params.err_handler.cb  = ucpg_peer_ep_error;
    params.err_handler.arg = ref;
    status = ucp_ep_create(d->worker, &params, &ref->ep);
    if (status != UCS_OK) {
        ucpg_warn("cannot connect to peer %u: %s", id, ucs_status_string(status));
        free(ref);
        return UCPG_ERR_TRANSPORT;
    }
    *ref_p = ref;
    return UCPG_OK;
}

/* Drops the table's reference; the progress thread closes the endpoint once
 * no sender pins it. Called with lock held. */
static void ucpg_peer_ep_retire(ucpg_domain_t *d, ucpg_ep_ref_t *ref)
{
    if (ref == NULL) {
        return;
    }
    --ref->refs;
    ref->dead   = 1;
    ref->next   = d->closing;
    d->closing  = ref;
}

/* Counts a UCP call of an application thread (d->lock held); 0 once the
 * domain drains them. The progress thread's own calls end before it stops. */
static int ucpg_domain_app_call_begin(ucpg_domain_t *d, int app)
{
    if (app && d->draining) {
        return 0;
    }
    d->ep_calls += app;
    return 1;
}

static void ucpg_domain_app_call_end(ucpg_domain_t *d, int app)
{
    if (app && (--d->ep_calls == 0) && d->draining) {
        pthread_cond_broadcast(&d->changed);
    }
}

ucpg_status_t ucpg_domain_ep_get(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid,
                                 ucp_ep_h *ep_p, ucpg_ep_ref_t **ref_p)
{
    ucpg_status_t status = UCPG_ERR_PEER_DOWN;
    ucpg_peer_t *p;
    int app;

    if (ucpg_domain_check_owner(d) != UCPG_OK) {
        return UCPG_ERR_FORKED;
    }
    if ((d->peers == NULL) || (id >= d->npeers)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    app = !ucpg_progress_is_current(d);
    pthread_mutex_lock(&d->lock);
    p = &d->peers[id];
    if ((p->state == UCPG_PEER_STATE_UP) && ((uuid == 0) || (uuid == p->uuid)) &&
        (p->ep != NULL) && ucpg_domain_app_call_begin(d, app)) {
        ++p->ep->refs;
        *ep_p  = p->ep->ep;
        *ref_p = p->ep;
        status = UCPG_OK;
    }
    pthread_mutex_unlock(&d->lock);
    return status;
}

/* Drops a pin; with app_call, also ends the call ucpg_domain_ep_get counted. */
static void ucpg_peer_ep_release(ucpg_domain_t *d, ucpg_ep_ref_t *ref, int app_call)
{
    int wake;

    pthread_mutex_lock(&d->lock);
    wake = (--ref->refs == 0) && ref->dead;
    if (app_call) {
        ucpg_domain_app_call_end(d, !ucpg_progress_is_current(d));  /* the thread that took it */
    }
    pthread_mutex_unlock(&d->lock);
    if (wake) {
        ucpg_progress_wake(d);
    }
}

void ucpg_domain_ep_put(ucpg_domain_t *d, ucpg_ep_ref_t *ref)
{
    ucpg_peer_ep_release(d, ref, 1);
}

/* A pin taken by hand (++refs, d->lock held) counted no call: releasing it
 * with ucpg_domain_ep_put from an application thread (a HELLO sent by the
 * thread that starts the domain) took the call count below zero, and every
 * stop then waited its whole second for calls that did not exist. */
void ucpg_peer_ep_unpin(ucpg_domain_t *d, ucpg_ep_ref_t *ref)
{
    ucpg_peer_ep_release(d, ref, 0);
}

ucpg_status_t ucpg_domain_ucx_enter(ucpg_domain_t *d)
{
    int ok;

    if (ucpg_domain_check_owner(d) != UCPG_OK) {
        return UCPG_ERR_FORKED;
    }
    pthread_mutex_lock(&d->lock);
    ok = ucpg_domain_app_call_begin(d, !ucpg_progress_is_current(d));
    pthread_mutex_unlock(&d->lock);
    return ok ? UCPG_OK : UCPG_ERR_SHUTDOWN;
}

void ucpg_domain_ucx_leave(ucpg_domain_t *d)
{
    pthread_mutex_lock(&d->lock);
    ucpg_domain_app_call_end(d, !ucpg_progress_is_current(d));
    pthread_mutex_unlock(&d->lock);
}

/* --- the table ------------------------------------------------------------- */

ucpg_status_t ucpg_peer_table_init(ucpg_domain_t *d)
{
    ucpg_peer_t *self;
    ucpg_status_t status;
    unsigned i;

    d->peers = calloc(d->npeers, sizeof(*d->peers));
    if (d->peers == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < d->npeers; ++i) {
        d->peers[i].pidfd = -1;
    }
    d->ctl_tail = &d->ctl_head;
    d->ev_tail  = &d->ev_head;
    self            = &d->peers[d->self];
    self->uuid      = d->uuid;
    self->nodeid    = d->config.nodeid;
    self->pid       = d->pid;
    self->starttime = d->starttime;
    /* An endpoint to ourselves lets upper layers treat self like any peer. */
    status = ucpg_peer_ep_create(d, d->self, d->uuid, d->address, &self->ep);
    if (status != UCPG_OK) {
        return status;
    }
    self->state = UCPG_PEER_STATE_UP;
    return UCPG_OK;
}

static void ucpg_peer_free_queues(ucpg_domain_t *d)
{
    ucpg_peer_ctl_item_t *ctl;
    ucpg_peer_event_item_t *ev;

    while ((ctl = d->ctl_head) != NULL) {
        d->ctl_head = ctl->next;
        free(ctl);
    }
    while ((ev = d->ev_head) != NULL) {
        d->ev_head = ev->next;
        free(ev);
    }
    d->ctl_tail = &d->ctl_head;
    d->ev_tail  = &d->ev_head;
}

/* After the progress thread stopped: retire every endpoint and close them. */
void ucpg_peer_table_cleanup(ucpg_domain_t *d)
{
    unsigned i;

    pthread_mutex_lock(&d->lock);
    for (i = 0; i < d->npeers; ++i) {
        ucpg_peer_t *p = &d->peers[i];

        if (p->pidfd >= 0) {
            close(p->pidfd);
            p->pidfd = -1;
        }
        ucpg_peer_ep_retire(d, p->ep);
        p->ep    = NULL;
        p->state = UCPG_PEER_STATE_FREE;
    }
    d->nup = d->nconnecting = 0;
    ucpg_am_shm_forget_owed(d);
    for (ucpg_ep_ref_t *ref = d->closing; ref != NULL; ref = ref->next) {
        ref->refs = 0;        /* the domain is going away: nobody may send */
    }
    pthread_mutex_unlock(&d->lock);
    ucpg_progress_close_endpoints(d);
    while (ucp_worker_progress(d->worker) != 0) {
    }
    /* Last: the progress above may still have queued a late control message. */
    pthread_mutex_lock(&d->lock);
    ucpg_peer_free_queues(d);
    pthread_mutex_unlock(&d->lock);
}

/* Called with lock held: the peer owes our stop no BYE_ACK any more (it
 * answered, or it is gone and never will). */
static void ucpg_peer_bye_settle(ucpg_domain_t *d, ucpg_peer_t *p)
{
    if (p->bye_wait) {
        p->bye_wait = 0;
        if (--d->bye_unacked == 0) {
            __atomic_store_n(&d->bye_acked, 1, __ATOMIC_RELEASE);
        }
    }
}

/* Called with lock held. Returns the previous state. */
static ucpg_peer_state_t ucpg_peer_clear(ucpg_domain_t *d, ucpg_peer_id_t id)
{
    ucpg_peer_t *p               = &d->peers[id];
    ucpg_peer_state_t old_state  = p->state;

    if (old_state == UCPG_PEER_STATE_UP) {
        --d->nup;
    } else if (old_state == UCPG_PEER_STATE_CONNECTING) {
        --d->nconnecting;
    }
    if (p->pidfd >= 0) {
        close(p->pidfd);     /* also removes it from the epoll set */
        p->pidfd = -1;
    }
    ucpg_peer_ep_retire(d, p->ep);
    ucpg_peer_bye_settle(d, p);
    p->ep     = NULL;
    p->state  = UCPG_PEER_STATE_FREE;
    p->exited = 0;
    pthread_cond_broadcast(&d->changed);
    return old_state;
}

void ucpg_peer_down(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid,
                    ucpg_peer_reason_t reason)
{
    ucpg_peer_state_t old_state = UCPG_PEER_STATE_FREE;
    uint32_t nodeid             = 0;
    pid_t pid                   = 0;

    if ((d->peers == NULL) || (id >= d->npeers) || (id == d->self)) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    if ((d->peers[id].state != UCPG_PEER_STATE_FREE) && (d->peers[id].uuid == uuid)) {
        nodeid = d->peers[id].nodeid;
        pid    = d->peers[id].pid;
        if (d->peers[id].exited && (reason != UCPG_PEER_REASON_LEFT)) {
            reason = UCPG_PEER_REASON_EXITED;    /* UCX saw it while we drained */
        }
        if (d->peers[id].state == UCPG_PEER_STATE_UP) {
            ucpg_peer_queue_event(d, id, UCPG_PEER_EVENT_DOWN, reason);
        }
        old_state = ucpg_peer_clear(d, id);
    }
    pthread_mutex_unlock(&d->lock);
    if (old_state == UCPG_PEER_STATE_FREE) {
        return;
    }
    ucpg_info("peer %u (node %u pid %d) is down: %s", id, nodeid, (int)pid,
              ucpg_peer_reason_name(reason));
    if ((reason != UCPG_PEER_REASON_LEFT) && (d->boot_ops->peer_gone != NULL)) {
        d->boot_ops->peer_gone(d->boot_arg, id, uuid);
    }
    ucpg_progress_wake(d);
}

/* A process of this host that is stopped (SIGSTOP, a debugger): alive, and
 * silent until it runs again. Reads /proc: only for handshakes. */
static int ucpg_peer_is_stopped(const ucpg_peer_t *p)
{
    return p->same_host && ucpg_proc_stopped(p->pid, p->starttime);
}

/* Watches a local peer's process; called with lock held. */
static void ucpg_peer_watch(ucpg_domain_t *d, ucpg_peer_id_t id)
{
    ucpg_peer_t *p = &d->peers[id];
    struct epoll_event ev;

    static int warned_nosys;

    p->pidfd = ucpg_proc_pidfd_open(p->pid, p->starttime);
    if (p->pidfd < 0) {
        if (errno == ESRCH) {
            /* Already dead: the pidfd path would never fire. */
            ucpg_debug("peer %u (pid %d) died before it could be watched", id, (int)p->pid);
        } else if (!__atomic_exchange_n(&warned_nosys, 1, __ATOMIC_RELAXED)) {
            ucpg_info("pidfd_open unavailable (%m): dead peers are noticed by UCX "
                      "keepalive within UCX_CPG_KEEPALIVE_MS instead of at once");
        }
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events   = EPOLLIN;
    ev.data.u64 = UCPG_EPOLL_PIDFD(id);
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, p->pidfd, &ev) != 0) {
        ucpg_warn("cannot watch pid %d: %m", (int)p->pid);
        close(p->pidfd);
        p->pidfd = -1;
    }
}

/*
 * Installs (id, uuid) in the table with the given endpoint, evicting an older
 * incarnation of the slot. Called with lock held; takes ownership of ref.
 */
static void ucpg_peer_install(ucpg_domain_t *d, ucpg_peer_id_t id,
                              const ucpg_peer_desc_t *desc, ucpg_ep_ref_t *ref,
                              ucpg_peer_state_t state)
{
    ucpg_peer_t *p = &d->peers[id];

    if (p->state != UCPG_PEER_STATE_FREE) {
        /* The slot was reused, so the old process is gone. */
        if (p->state == UCPG_PEER_STATE_UP) {
            ucpg_peer_queue_event(d, id, UCPG_PEER_EVENT_DOWN, UCPG_PEER_REASON_EXITED);
        }
        ucpg_peer_clear(d, id);
    }
    p->uuid      = desc->uuid;
    p->nodeid    = desc->nodeid;
    p->pid       = desc->pid;
    p->starttime = desc->starttime;
    p->same_host = desc->same_host;
    p->ep        = ref;
    p->state     = state;
    if (state == UCPG_PEER_STATE_UP) {
        ++d->nup;
        ucpg_peer_queue_event(d, id, UCPG_PEER_EVENT_UP, UCPG_PEER_REASON_JOINED);
    } else {
        ++d->nconnecting;
        p->overdue     = 0;
        p->hello_ms    = ucpg_time_ms();
        p->deadline_ms = p->hello_ms + d->config.connect_timeout_ms;
    }
    if (desc->same_host) {
        ucpg_peer_watch(d, id);
    }
}

static ucpg_status_t ucpg_peer_send_ctl(ucpg_domain_t *d, ucp_ep_h ep, uint8_t type,
                                        int with_address)
{
    uint8_t buf[UCPG_WIRE_CTL_LEN];
    ucpg_wire_ctl_t ctl;
    size_t len;

    memset(&ctl, 0, sizeof(ctl));
    ctl.type      = type;
    ctl.nodeid    = d->config.nodeid;
    ctl.pid       = (uint32_t)d->pid;
    ctl.starttime = d->starttime;
    ctl.secret    = d->secret;
    len = ucpg_wire_ctl_encode(&ctl, buf);
    /* The worker address lives as long as the domain: no copy needed. */
    return ucpg_am_send_ep(d, ep, UCPG_AM_ID_CORE, buf, len,
                           with_address ? d->address : NULL,
                           with_address ? d->address_len : 0, NULL, NULL);
}

static int ucpg_peer_desc_valid(ucpg_domain_t *d, const ucpg_peer_desc_t *desc)
{
    return (desc->id < d->npeers) && (desc->id != d->self) && (desc->uuid != 0) &&
           (desc->nodeid != 0) && (desc->pid > 0) && (desc->address != NULL) &&
           (desc->address_len > 0) && (desc->address_len <= UCPG_WIRE_ADDR_MAX);
}

/* Is incarnation uuid of peer id in the table (connecting or up)? */
static int ucpg_peer_is_known(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid)
{
    int known;

    pthread_mutex_lock(&d->lock);
    known = (d->peers[id].state != UCPG_PEER_STATE_FREE) && (d->peers[id].uuid == uuid);
    pthread_mutex_unlock(&d->lock);
    return known;
}

ucpg_status_t ucpg_domain_connect(ucpg_domain_t *d, const ucpg_peer_desc_t *desc)
{
    ucpg_ep_ref_t *ref;
    ucpg_status_t status;
    ucp_ep_h ep;

    if ((d->peers == NULL) || !ucpg_peer_desc_valid(d, desc)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&d->connect_lock);
    if (ucpg_peer_is_known(d, desc->id, desc->uuid)) {
        pthread_mutex_unlock(&d->connect_lock);
        return UCPG_OK;                   /* already known, e.g. its HELLO came first */
    }
    status = ucpg_peer_ep_create(d, desc->id, desc->uuid, desc->address, &ref);
    if (status != UCPG_OK) {
        pthread_mutex_unlock(&d->connect_lock);
        return status;
    }
    ep = ref->ep;
    ++ref->refs;                          /* pinned for the HELLO below */
    pthread_mutex_lock(&d->lock);
    ucpg_peer_install(d, desc->id, desc, ref, UCPG_PEER_STATE_CONNECTING);
    pthread_mutex_unlock(&d->lock);
    pthread_mutex_unlock(&d->connect_lock);
    ucpg_progress_wake(d);                /* a new deadline to sleep until */

    status = ucpg_peer_send_ctl(d, ep, UCPG_WIRE_CTL_HELLO, 1);
    ucpg_peer_ep_unpin(d, ref);
    if ((status != UCPG_OK) && (status != UCPG_INPROGRESS)) {
        ucpg_warn("HELLO to peer %u (pid %d) failed: %s", desc->id, (int)desc->pid,
                  ucpg_status_string(status));
        ucpg_peer_down(d, desc->id, desc->uuid, UCPG_PEER_REASON_UNREACHABLE);
        return status;
    }
    return UCPG_OK;
}

/* --- control messages ---------------------------------------------------- */

void ucpg_peer_ctl_recv(ucpg_domain_t *d, const ucpg_wire_hdr_t *hdr, const void *ctl_buf,
                        size_t ctl_len, const void *data, size_t len)
{
    ucpg_peer_ctl_item_t *item;
    ucpg_wire_ctl_t ctl;
    int foreign;

    if (ucpg_wire_ctl_decode(ctl_buf, ctl_len, len, &ctl) != UCPG_OK) {
        ucpg_warn("dropping malformed control message from peer %u", hdr->src_peer);
        return;
    }
    foreign = (ctl.secret != d->secret) && (d->boot_ops->admit != NULL) &&
              (ctl.nodeid != d->config.nodeid);
    if (((ctl.secret != d->secret) && !foreign) || (hdr->src_peer >= d->npeers) ||
        (hdr->src_peer == d->self)) {
        ucpg_warn("dropping control message from pid %u: not a member of this domain",
                  ctl.pid);
        return;
    }
    item = malloc(sizeof(*item) + len);
    if (item == NULL) {
        ucpg_error("out of memory: control message from peer %u lost", hdr->src_peer);
        return;
    }
    item->hdr      = *hdr;
    item->ctl      = ctl;
    item->addr_len = len;
    item->foreign  = foreign;
    item->next     = NULL;
    if (len > 0) {
        memcpy(item->addr, data, len);
    }
    pthread_mutex_lock(&d->lock);
    *d->ctl_tail = item;
    d->ctl_tail  = &item->next;
    pthread_mutex_unlock(&d->lock);
    ucpg_progress_wake(d);
}

static void ucpg_peer_desc_from_ctl(ucpg_domain_t *d, const ucpg_peer_ctl_item_t *item,
                                    ucpg_peer_desc_t *desc)
{
    desc->id          = item->hdr.src_peer;
    desc->uuid        = item->hdr.src_uuid;
    desc->nodeid      = item->ctl.nodeid;
    desc->pid         = (pid_t)item->ctl.pid;
    desc->starttime   = item->ctl.starttime;
    desc->address     = item->addr;
    desc->address_len = item->addr_len;
    /* only a process of this host has a pid we can watch */
    desc->same_host   = (item->ctl.nodeid == d->config.nodeid);
}

/* A HELLO from a peer we know: either our HELLOs crossed (two hosts found
 * each other at once; its HELLO answers ours, and ours is answered over the
 * endpoint we have), or a duplicate, answered again. */
static void ucpg_peer_answer_known_hello(ucpg_domain_t *d, const ucpg_peer_desc_t *desc,
                                         int crossed)
{
    ucpg_ep_ref_t *ref;
    ucp_ep_h ep;

    if (!ucpg_peer_accept_from(d, desc->id, desc->uuid)) {
        return;                           /* went down meanwhile */
    }
    if (ucpg_domain_ep_get(d, desc->id, desc->uuid, &ep, &ref) == UCPG_OK) {
        ucpg_peer_send_ctl(d, ep, UCPG_WIRE_CTL_HELLO_ACK, 1);
        ucpg_domain_ep_put(d, ref);
    }
    if (crossed) {
        ucpg_info("peer %u (node %u pid %d) joined (crossing HELLOs)", desc->id,
                  desc->nodeid, (int)desc->pid);
    }
}

/* HELLO: connect back, mark UP, answer. While stopping, answer BYE instead so
 * the newcomer does not wait for a handshake that will never finish. */
static void ucpg_peer_handle_hello(ucpg_domain_t *d, const ucpg_peer_ctl_item_t *item)
{
    ucpg_peer_desc_t desc;
    ucpg_ep_ref_t *ref;
    int stopping, known, crossed;
    ucp_ep_h ep;

    ucpg_peer_desc_from_ctl(d, item, &desc);
    pthread_mutex_lock(&d->connect_lock);
    pthread_mutex_lock(&d->lock);
    stopping = d->stopping;
    known    = (d->peers[desc.id].state != UCPG_PEER_STATE_FREE) &&
               (d->peers[desc.id].uuid == desc.uuid);
    crossed  = known && (d->peers[desc.id].state == UCPG_PEER_STATE_CONNECTING);
    pthread_mutex_unlock(&d->lock);
    if (known) {
        pthread_mutex_unlock(&d->connect_lock);
        if (!stopping) {
            /* Crossing HELLOs, or a duplicate: answer again (harmless), so
             * the sender never waits for an ACK it will not get. */
            ucpg_peer_answer_known_hello(d, &desc, crossed);
        }
        return;
    }
    if (ucpg_peer_ep_create(d, desc.id, desc.uuid, desc.address, &ref) != UCPG_OK) {
        pthread_mutex_unlock(&d->connect_lock);
        return;
    }
    ep = ref->ep;
    ++ref->refs;
    pthread_mutex_lock(&d->lock);
    if (stopping) {
        ref->next  = NULL;
    } else {
        ucpg_peer_install(d, desc.id, &desc, ref, UCPG_PEER_STATE_UP);
    }
    pthread_mutex_unlock(&d->lock);
    pthread_mutex_unlock(&d->connect_lock);
    ucpg_peer_send_ctl(d, ep, stopping ? UCPG_WIRE_CTL_BYE : UCPG_WIRE_CTL_HELLO_ACK,
                       !stopping);
    if (stopping) {
        pthread_mutex_lock(&d->lock);
        ucpg_peer_ep_retire(d, ref);
        pthread_mutex_unlock(&d->lock);
    }
    ucpg_peer_ep_unpin(d, ref);
    ucpg_info("peer %u (node %u pid %d) joined", desc.id, desc.nodeid, (int)desc.pid);
}

static void ucpg_peer_handle_ack(ucpg_domain_t *d, const ucpg_peer_ctl_item_t *item)
{
    ucpg_peer_id_t id = item->hdr.src_peer;

    if (ucpg_peer_accept_from(d, id, item->hdr.src_uuid)) {
        ucpg_info("peer %u (node %u pid %u) answered", id, item->ctl.nodeid, item->ctl.pid);
    }
}

/* A control message from another node (see the top of this file): a HELLO
 * needs the boot method's word, anything else must come from the
 * incarnation already admitted. */
static int ucpg_peer_foreign_ok(ucpg_domain_t *d, const ucpg_peer_ctl_item_t *item)
{
    ucpg_peer_desc_t desc;
    int ok;

    if (item->ctl.type == UCPG_WIRE_CTL_HELLO) {
        ucpg_peer_desc_from_ctl(d, item, &desc);
        ok = d->boot_ops->admit(d->boot_arg, &desc);
    } else {
        pthread_mutex_lock(&d->lock);
        ok = (d->peers[item->hdr.src_peer].state != UCPG_PEER_STATE_FREE) &&
             (d->peers[item->hdr.src_peer].uuid == item->hdr.src_uuid);
        pthread_mutex_unlock(&d->lock);
    }
    if (!ok) {
        ucpg_warn("dropping control message %u from peer %u (node %u pid %u): not vouched "
                  "for by the boot method", item->ctl.type, item->hdr.src_peer,
                  item->ctl.nodeid, item->ctl.pid);
    }
    return ok;
}

/*
 * BYE: everything the peer sent before it has been taken by now (messages
 * are handled in UCP callbacks as they arrive, in order on the endpoint,
 * and control messages here in order), so say so before marking it down.
 * The peer waits for this answer before it closes its endpoints and exits:
 * until then what it sent may still be on the way (over TCP in its socket,
 * whose close can discard it), and its exit, seen first, would make us
 * drop the rest as coming from a dead process.
 * Every message is sent eagerly (am.c), so nothing of the peer's is still
 * being fetched. The answer is sent without holding the endpoint: if it
 * cannot leave at once (a full TCP socket), the close that follows the
 * DOWN drops it, and the peer waits out its timeout (1 s) having lost
 * nothing. Holding the endpoint until the send completes would need a
 * reference that outlives the domain's forced teardown.
 */
static void ucpg_peer_answer_bye(ucpg_domain_t *d, const ucpg_peer_ctl_item_t *item)
{
    ucpg_ep_ref_t *ref;
    ucp_ep_h ep;

    if (ucpg_domain_ep_get(d, item->hdr.src_peer, item->hdr.src_uuid, &ep, &ref) == UCPG_OK) {
        ucpg_peer_send_ctl(d, ep, UCPG_WIRE_CTL_BYE_ACK, 0);
        ucpg_domain_ep_put(d, ref);
    }
    ucpg_peer_down(d, item->hdr.src_peer, item->hdr.src_uuid, UCPG_PEER_REASON_LEFT);
}

static void ucpg_peer_handle_bye_ack(ucpg_domain_t *d, const ucpg_peer_ctl_item_t *item)
{
    ucpg_peer_t *p;

    pthread_mutex_lock(&d->lock);
    p = &d->peers[item->hdr.src_peer];
    if ((p->state != UCPG_PEER_STATE_FREE) && (p->uuid == item->hdr.src_uuid)) {
        ucpg_peer_bye_settle(d, p);
    }
    pthread_mutex_unlock(&d->lock);
}

static void ucpg_peer_handle_ctl(ucpg_domain_t *d, const ucpg_peer_ctl_item_t *item)
{
    if (item->foreign && !ucpg_peer_foreign_ok(d, item)) {
        return;
    }
    switch (item->ctl.type) {
    case UCPG_WIRE_CTL_HELLO:
        ucpg_peer_handle_hello(d, item);
        break;
    case UCPG_WIRE_CTL_HELLO_ACK:
        ucpg_peer_handle_ack(d, item);
        break;
    case UCPG_WIRE_CTL_BYE:
        ucpg_peer_answer_bye(d, item);
        break;
    case UCPG_WIRE_CTL_BYE_ACK:
        ucpg_peer_handle_bye_ack(d, item);
        break;
    default:
        break;                            /* ucpg_wire_ctl_decode rejects others */
    }
}

void ucpg_peer_run_control(ucpg_domain_t *d)
{
    ucpg_peer_ctl_item_t *item;

    for (;;) {
        pthread_mutex_lock(&d->lock);
        item = d->ctl_head;
        if (item != NULL) {
            d->ctl_head = item->next;
            if (d->ctl_head == NULL) {
                d->ctl_tail = &d->ctl_head;
            }
        }
        pthread_mutex_unlock(&d->lock);
        if (item == NULL) {
            break;
        }
        ucpg_peer_handle_ctl(d, item);
        free(item);
    }
    ucpg_peer_deliver_events(d);
}

int ucpg_peer_accept_from(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid)
{
    ucpg_peer_t *p;
    int ok = 0;

    if ((d->peers == NULL) || (id >= d->npeers)) {
        return 0;
    }
    pthread_mutex_lock(&d->lock);
    p = &d->peers[id];
    if (p->uuid == uuid) {
        if (p->state == UCPG_PEER_STATE_CONNECTING) {
            /* Its first message overtook its HELLO_ACK (UCP does not order). */
            p->state = UCPG_PEER_STATE_UP;
            --d->nconnecting;
            ++d->nup;
            ucpg_peer_queue_event(d, id, UCPG_PEER_EVENT_UP, UCPG_PEER_REASON_JOINED);
            ucpg_progress_wake(d);
            ok = 1;
        } else {
            ok = (p->state == UCPG_PEER_STATE_UP);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return ok;
}

/*
 * A handshake past its deadline: is it worth waiting for still? Giving up
 * on a live process of this host splits the domain for good: the HELLO
 * went with the closed endpoint, and the older process never says HELLO to
 * the newer, so the two never reach each other once it answers. So we wait
 * on while the peer is a process of this host that is stopped (SIGSTOP, a
 * debugger: it answers once it runs again), or one that runs and is still
 * registered in the domain (boot op registered: a starved progress thread,
 * one thread held by a debugger). One that left the domain but lives on
 * has freed its registration and is given up on; one that dies ends the
 * wait by its pidfd. Called without d->lock: this reads /proc and takes
 * the registry's file lock. *stopped_p tells which case it was.
 */
static int ucpg_peer_worth_waiting(ucpg_domain_t *d, ucpg_peer_id_t id, const ucpg_peer_t *p,
                                   int *stopped_p)
{
    *stopped_p = ucpg_peer_is_stopped(p);
    if (*stopped_p || !p->same_host || (d->boot_ops->registered == NULL)) {
        return *stopped_p;
    }
    return d->boot_ops->registered(d->boot_arg, id, p->uuid);
}

/* Waits connect_timeout_ms more for a handshake worth it, or gives it up
 * (seen is the peer as it was when its deadline passed). */
static void ucpg_peer_deadline_due(ucpg_domain_t *d, ucpg_peer_id_t id, const ucpg_peer_t *seen,
                                   uint64_t now)
{
    ucpg_peer_t *p;
    int stopped, wait = ucpg_peer_worth_waiting(d, id, seen, &stopped), give_up = 0;

    pthread_mutex_lock(&d->lock);
    p = &d->peers[id];
    if ((p->state == UCPG_PEER_STATE_CONNECTING) && (p->uuid == seen->uuid) &&
        (p->deadline_ms <= now)) {
        give_up = !wait;
        if (wait) {
            p->deadline_ms = now + d->config.connect_timeout_ms;
            if (!stopped && !p->overdue) {
                ucpg_info("peer %u (pid %d) runs and is registered but did not answer HELLO "
                          "within %u ms: waiting on", id, (int)p->pid,
                          d->config.connect_timeout_ms);
            }
            p->overdue = !stopped;          /* a start no longer waits for it */
            pthread_cond_broadcast(&d->changed);
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (stopped) {
        ucpg_debug("peer %u (pid %d) is stopped: its handshake waits for it", id,
                   (int)seen->pid);
    }
    if (give_up) {
        ucpg_warn("peer %u did not answer HELLO within %u ms: giving up", id,
                  d->config.connect_timeout_ms);
        ucpg_peer_down(d, id, seen->uuid, UCPG_PEER_REASON_UNREACHABLE);
    }
}

static void ucpg_peer_clip_wait(uint64_t deadline_ms, uint64_t now, int *timeout_ms_p)
{
    uint64_t wait = (deadline_ms > now) ? deadline_ms - now : 0;

    if ((*timeout_ms_p < 0) || (wait < (uint64_t)*timeout_ms_p)) {
        *timeout_ms_p = (int)wait;
    }
}

void ucpg_peer_check_deadlines(ucpg_domain_t *d, int *timeout_ms_p)
{
    uint64_t now = ucpg_time_ms();
    ucpg_peer_t seen;
    unsigned i;
    int due;

    for (i = 0; i < d->npeers; ++i) {
        pthread_mutex_lock(&d->lock);
        due  = 0;
        seen = d->peers[i];
        if (seen.state == UCPG_PEER_STATE_CONNECTING) {
            due = (seen.deadline_ms <= now);
            ucpg_peer_clip_wait(due ? now + d->config.connect_timeout_ms : seen.deadline_ms,
                                now, timeout_ms_p);
        }
        pthread_mutex_unlock(&d->lock);
        if (due) {
            ucpg_peer_deadline_due(d, i, &seen, now);
        }
    }
}

/* --- BYE on the way out --------------------------------------------------- */

typedef struct ucpg_peer_bye_batch {
    int pending;
    int done;       /* set when pending reaches 0 */
} ucpg_peer_bye_batch_t;

static void ucpg_peer_bye_done(void *arg, ucpg_status_t status)
{
    ucpg_peer_bye_batch_t *batch = arg;

    (void)status;
    if (__atomic_sub_fetch(&batch->pending, 1, __ATOMIC_ACQ_REL) == 0) {
        __atomic_store_n(&batch->done, 1, __ATOMIC_RELEASE);
    }
}

/* Peer i (UP, lock held) is to answer our BYE, unless it is a stopped
 * process of this host: that one would not answer before the timeout. */
static void ucpg_peer_bye_expect(ucpg_domain_t *d, ucpg_peer_id_t i)
{
    ucpg_peer_t *p = &d->peers[i];

    if (!p->bye_wait && !ucpg_peer_is_stopped(p)) {
        p->bye_wait = 1;
        ++d->bye_unacked;
    }
}

/* Sends BYE to every peer UP; returns 1 once every send completed within
 * timeout_ms. Each peer is marked to answer before its BYE leaves. */
static int ucpg_peer_bye_send_all(ucpg_domain_t *d, unsigned timeout_ms)
{
    uint8_t buf[UCPG_WIRE_CTL_LEN];
    ucpg_peer_bye_batch_t *batch;
    ucpg_wire_ctl_t ctl;
    ucpg_ep_ref_t *ref;
    ucp_ep_h ep;
    size_t len;
    unsigned i;

    batch = calloc(1, sizeof(*batch));
    if (batch == NULL) {
        return 0;
    }
    batch->pending = 1;                   /* ours, dropped after the loop */
    memset(&ctl, 0, sizeof(ctl));
    ctl.type      = UCPG_WIRE_CTL_BYE;
    ctl.nodeid    = d->config.nodeid;
    ctl.pid       = (uint32_t)d->pid;
    ctl.starttime = d->starttime;
    ctl.secret    = d->secret;
    len = ucpg_wire_ctl_encode(&ctl, buf);
    for (i = 0; i < d->npeers; ++i) {
        if ((i == d->self) || (ucpg_domain_ep_get(d, i, 0, &ep, &ref) != UCPG_OK)) {
            continue;
        }
        pthread_mutex_lock(&d->lock);
        ucpg_peer_bye_expect(d, i);
        pthread_mutex_unlock(&d->lock);
        __atomic_add_fetch(&batch->pending, 1, __ATOMIC_RELAXED);
        if (ucpg_am_send_ep(d, ep, UCPG_AM_ID_CORE, buf, len, NULL, 0, ucpg_peer_bye_done,
                            batch) != UCPG_INPROGRESS) {
            __atomic_sub_fetch(&batch->pending, 1, __ATOMIC_RELAXED);
        }
        ucpg_domain_ep_put(d, ref);
    }
    /* BYE is a few bytes sent eagerly and completes at once or as soon as the
     * progress thread pushes it; a peer that stopped reading (SIGSTOP) could
     * hold it forever, hence the timeout. */
    if (__atomic_sub_fetch(&batch->pending, 1, __ATOMIC_ACQ_REL) == 0) {
        batch->done = 1;
    }
    if ((ucpg_progress_wait_flag(d, &batch->done, timeout_ms) == UCPG_OK) ||
        __atomic_load_n(&batch->done, __ATOMIC_ACQUIRE)) {
        free(batch);
        return 1;
    }
    /* A late completion (canceled when the endpoint is closed) still refers
     * to it: leak these 8 bytes rather than risk a use after free. */
    ucpg_debug("BYE not delivered to every peer within %u ms", timeout_ms);
    return 0;
}

int ucpg_peer_say_bye_all(ucpg_domain_t *d, unsigned timeout_ms)
{
    uint64_t start = ucpg_time_ms(), spent;
    unsigned unacked;
    int sent;

    pthread_mutex_lock(&d->lock);
    d->bye_unacked = 0;
    __atomic_store_n(&d->bye_acked, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&d->lock);
    sent = ucpg_peer_bye_send_all(d, timeout_ms);
    pthread_mutex_lock(&d->lock);
    if (d->bye_unacked == 0) {
        __atomic_store_n(&d->bye_acked, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&d->lock);
    /* Every answer, or what is left of the time: a peer that dies meanwhile
     * settles its share (ucpg_peer_clear). */
    spent = ucpg_time_ms() - start;
    if (spent < timeout_ms) {
        ucpg_progress_wait_flag(d, &d->bye_acked, timeout_ms - (unsigned)spent);
    }
    pthread_mutex_lock(&d->lock);
    unacked = d->bye_unacked;
    pthread_mutex_unlock(&d->lock);
    if (unacked > 0) {
        ucpg_debug("%u peer(s) did not answer BYE within %u ms", unacked, timeout_ms);
    }
    return sent;
}

static void ucpg_peer_flush_done(void *request, ucs_status_t status, void *arg)
{
    (void)request;
    (void)status;
    __atomic_store_n((int*)arg, 1, __ATOMIC_RELEASE);
}

/*
 * A completed send was taken by UCX, not necessarily written out: over TCP
 * the tail of a burst to a peer slow to read can still sit in the endpoint's
 * send buffer, BYE behind it, and the forced close that follows would drop
 * it all, so the peer would take our exit for a death and miss the last
 * events (a leaving sequencer's VIEW). A worker flush completes once every
 * endpoint has written everything out. Bounded, for a peer that never reads.
 */
void ucpg_peer_flush_all(ucpg_domain_t *d, unsigned timeout_ms)
{
    ucp_request_param_t param;
    ucs_status_ptr_t req;
    int *done = calloc(1, sizeof(*done));

    if (done == NULL) {
        return;
    }
    memset(&param, 0, sizeof(param));
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param.cb.send      = ucpg_peer_flush_done;
    param.user_data    = done;
    req                = ucp_worker_flush_nbx(d->worker, &param);
    if (!UCS_PTR_IS_PTR(req)) {
        free(done);                         /* flushed already, or failed: nothing to wait for */
        return;
    }
    if ((ucpg_progress_wait_flag(d, done, timeout_ms) == UCPG_OK) ||
        __atomic_load_n(done, __ATOMIC_ACQUIRE)) {
        ucp_request_free(req);
        free(done);
        return;
    }
    /* Still running: the close cancels it and its callback still writes
     * *done, so the request and the flag are left to that. */
    ucpg_debug("sends to peers not written out within %u ms", timeout_ms);
}

/* --- queries and listeners ------------------------------------------------ */

ucpg_status_t ucpg_domain_peers(ucpg_domain_t *d, ucpg_peer_info_t *peers, size_t max,
                                size_t *count_p, size_t *total_p)
{
    size_t count = 0, total = 0;
    unsigned i;

    if ((d->peers == NULL) || ((peers == NULL) && (max > 0)) || (count_p == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&d->lock);
    for (i = 0; i < d->npeers; ++i) {
        if (d->peers[i].state != UCPG_PEER_STATE_UP) {
            continue;
        }
        if (count < max) {
            ucpg_peer_fill_info(d, i, &peers[count++]);
        }
        ++total;
    }
    pthread_mutex_unlock(&d->lock);
    *count_p = count;
    if (total_p != NULL) {
        *total_p = total;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_domain_peer_info(ucpg_domain_t *d, ucpg_peer_id_t id,
                                    ucpg_peer_info_t *info_p)
{
    if ((d->peers == NULL) || (id >= d->npeers) || (info_p == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&d->lock);
    ucpg_peer_fill_info(d, id, info_p);
    pthread_mutex_unlock(&d->lock);
    return (info_p->state == UCPG_PEER_STATE_FREE) ? UCPG_ERR_NOT_FOUND : UCPG_OK;
}

int ucpg_domain_peer_stopped(ucpg_domain_t *d, ucpg_peer_id_t id, uint64_t uuid)
{
    ucpg_peer_t p;

    if ((d->peers == NULL) || (id >= d->npeers)) {
        return 0;
    }
    pthread_mutex_lock(&d->lock);
    p = d->peers[id];                     /* /proc is read unlocked */
    pthread_mutex_unlock(&d->lock);
    return (p.state != UCPG_PEER_STATE_FREE) && (p.uuid == uuid) && ucpg_peer_is_stopped(&p);
}

/* Waits on the changed condition until pred(d) holds or timeout_ms passes. */
static ucpg_status_t ucpg_peer_wait(ucpg_domain_t *d, int (*pred)(ucpg_domain_t*, unsigned),
                                    unsigned n, unsigned timeout_ms)
{
    uint64_t deadline_ns = ucpg_time_ns() + (uint64_t)timeout_ms * 1000000ull;
    ucpg_status_t status = UCPG_OK;
    struct timespec ts;

    if (d->peers == NULL) {
        return UCPG_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&d->lock);
    while (!pred(d, n)) {
        if (ucpg_time_ns() >= deadline_ns) {
            status = UCPG_ERR_TIMEOUT;
            break;
        }
        /* The condition variable uses CLOCK_REALTIME; wake at least every
         * 50 ms and re-check the monotonic deadline. */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_nsec -= 1000000000;
            ++ts.tv_sec;
        }
        pthread_cond_timedwait(&d->changed, &d->lock, &ts);
    }
    pthread_mutex_unlock(&d->lock);
    return status;
}

static int ucpg_peer_enough_up(ucpg_domain_t *d, unsigned n) { return d->nup >= n; }

static int ucpg_peer_no_calls(ucpg_domain_t *d, unsigned n)
{
    (void)n;
    return d->ep_calls == 0;
}

void ucpg_peer_drain_calls(ucpg_domain_t *d, unsigned timeout_ms)
{
    pthread_mutex_lock(&d->lock);
    d->draining = 1;
    pthread_mutex_unlock(&d->lock);
    if (ucpg_peer_wait(d, ucpg_peer_no_calls, 0, timeout_ms) != UCPG_OK) {
        ucpg_warn("%u UCP call(s) of application threads still running after %u ms; "
                  "stopping the domain under them", d->ep_calls, timeout_ms);
    }
}

/*
 * Settled: no handshake is awaited any more (d->lock held). A peer on this
 * host that is stopped (SIGSTOP, a debugger) answers its HELLO only once it
 * runs again, and waiting for it held every newcomer's start for the whole
 * connect_timeout_ms while the stop lasted. Its handshake goes on in the
 * progress thread and completes when it runs again (see
 * ucpg_peer_worth_waiting). So does that of a running, registered peer
 * once it missed one deadline (overdue): a start waits for it only that
 * long.
 */
#define UCPG_PEER_STOP_CHECK_MS 50   /* a running peer answers well within this */

static int ucpg_peer_settled(ucpg_domain_t *d, unsigned n)
{
    uint64_t asked_before = ucpg_time_ms() - UCPG_PEER_STOP_CHECK_MS;
    unsigned awaited      = d->nconnecting;
    size_t i;

    (void)n;
    for (i = 0; (awaited > 0) && (i < d->npeers); ++i) {
        /* /proc is read only for handshakes that already took a while: a
         * join storm has many in flight at once, and this runs under the
         * lock at every change of the peer table. */
        if ((d->peers[i].state == UCPG_PEER_STATE_CONNECTING) &&
            (d->peers[i].overdue || ((d->peers[i].hello_ms <= asked_before) &&
                                     ucpg_peer_is_stopped(&d->peers[i])))) {
            --awaited;
        }
    }
    return awaited == 0;
}

ucpg_status_t ucpg_domain_wait_peers(ucpg_domain_t *d, unsigned n, unsigned timeout_ms)
{
    return ucpg_peer_wait(d, ucpg_peer_enough_up, n, timeout_ms);
}

ucpg_status_t ucpg_domain_wait_settled(ucpg_domain_t *d, unsigned timeout_ms)
{
    return ucpg_peer_wait(d, ucpg_peer_settled, 0, timeout_ms);
}

ucpg_status_t ucpg_domain_listen(ucpg_domain_t *d, ucpg_peer_event_cb_t cb, void *arg,
                                 int replay, int *id_p)
{
    ucpg_peer_info_t *snapshot;
    size_t count = 0, i;
    int slot = -1, k;

    if ((cb == NULL) || (id_p == NULL) || (d->peers == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    snapshot = calloc(d->npeers, sizeof(*snapshot));
    if (snapshot == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    pthread_mutex_lock(&d->event_lock);     /* no delivery while we register */
    pthread_mutex_lock(&d->lock);
    for (k = 0; k < UCPG_DOMAIN_MAX_LISTENERS; ++k) {
        if (d->listeners[k].cb == NULL) {
            slot = k;
            break;
        }
    }
    if (slot >= 0) {
        d->listeners[slot].cb       = cb;
        d->listeners[slot].arg      = arg;
        d->listeners[slot].seen_seq = d->event_seq;   /* queued events are in the snapshot */
        for (i = 0; replay && (i < d->npeers); ++i) {
            if ((d->peers[i].state == UCPG_PEER_STATE_UP) && (i != d->self)) {
                ucpg_peer_fill_info(d, (ucpg_peer_id_t)i, &snapshot[count++]);
            }
        }
    }
    pthread_mutex_unlock(&d->lock);
    for (i = 0; i < count; ++i) {
        cb(arg, &snapshot[i], UCPG_PEER_EVENT_UP, UCPG_PEER_REASON_JOINED);
    }
    pthread_mutex_unlock(&d->event_lock);
    free(snapshot);
    if (slot < 0) {
        return UCPG_ERR_NO_RESOURCE;
    }
    *id_p = slot;
    return UCPG_OK;
}

void ucpg_domain_unlisten(ucpg_domain_t *d, int id)
{
    if ((id < 0) || (id >= UCPG_DOMAIN_MAX_LISTENERS)) {
        return;
    }
    pthread_mutex_lock(&d->event_lock);     /* waits for a running callback */
    pthread_mutex_lock(&d->lock);
    d->listeners[id].cb  = NULL;
    d->listeners[id].arg = NULL;
    pthread_mutex_unlock(&d->lock);
    pthread_mutex_unlock(&d->event_lock);
}
