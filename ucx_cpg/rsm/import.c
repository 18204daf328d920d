/*
 * import.c - import segments: connect, disconnect, and the data path
 * (get/put and their 8/16/32/64-bit forms) over UCP RMA.
 *
 * Connect asks the exporter (found in the host registry) over the RSM
 * protocol; the exporter answers with the segment's size, base address,
 * granted mode and rkey only after it checked the access list and the
 * uid/gid/mode rule. An import is aborted when the exporter unpublishes or
 * destroys the segment (ABORT) or when the exporting process goes down (a
 * peer event, within milliseconds for a local process); every later transfer
 * then returns RSMERR_CONN_ABORTED.
 *
 * Transfers are synchronous as on Solaris: data moved (put: flushed to the
 * exporter's memory) or an error reported before the call returns. Implicit
 * barrier mode needs no rsm_memseg_import_init_barrier here (the reference
 * quirk that fails such transfers with BARRIER_UNINITIALIZED is not copied):
 * every implicit-mode transfer is self-contained.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/registry.h"
#include "boot/remote.h"
#include "core/log.h"
#include "core/proc.h"
#include "protocol.h"

/* A connect waiting for its reply; filled by the progress thread. */
typedef struct ucpg_rsm_pending {
    uint64_t                 req_id;
    ucpg_peer_id_t           owner;
    int                      done;         /* atomic */
    ucpg_rsm_msg_t           rep;
    void                    *rkey;
    size_t                   rkey_len;
    struct ucpg_rsm_pending *next;
} ucpg_rsm_pending_t;

struct __rsm_memseg_import_handle *ucpg_rsm_imports;   /* engine lock */
static ucpg_rsm_pending_t                *ucpg_rsm_pendings;  /* engine lock */
static uint64_t                           ucpg_rsm_next_req = 1;

/*
 * Every put and get checks its handle, and the check walked the list under
 * the engine lock: a fifth of a back-to-back 8-byte put through the direct
 * view (medians 35 ns with it, 27.5 without). A thread now remembers the last
 * handle it found in the list and the list's epoch then; a handle leaves
 * the list only with a new epoch (ucpg_rsm_import_unlist), so while the
 * epoch holds the remembered handle is still there. As before, a handle
 * disconnected by another thread during the call is the application's race
 * (RSMAPI forbids it); only one disconnected before the call is refused.
 */
static uint64_t                            ucpg_rsm_import_epoch;   /* atomic */
static __thread rsm_memseg_import_handle_t ucpg_rsm_import_last;
static __thread uint64_t                   ucpg_rsm_import_last_epoch;

int ucpg_rsm_import_held(rsm_memseg_import_handle_t h)
{
    uint64_t epoch = __atomic_load_n(&ucpg_rsm_import_epoch, __ATOMIC_ACQUIRE);
    int valid;

    if ((h != NULL) && (h == ucpg_rsm_import_last) && (epoch == ucpg_rsm_import_last_epoch)) {
        return 1;
    }
    ucpg_rsm_engine_lock();
    valid = (h != NULL) && ucpg_rsm_import_valid(h);
    epoch = ucpg_rsm_import_epoch;            /* moves only under the lock */
    ucpg_rsm_engine_unlock();
    if (valid) {
        ucpg_rsm_import_last       = h;
        ucpg_rsm_import_last_epoch = epoch;
    }
    return valid;
}

/* h leaves the list of valid handles (engine lock held): the handles that
 * threads remember stop counting as checked. */
static void ucpg_rsm_import_unlist(rsm_memseg_import_handle_t h)
{
    h->magic = 0;
    __atomic_add_fetch(&ucpg_rsm_import_epoch, 1, __ATOMIC_RELEASE);
}

int ucpg_rsm_import_valid(rsm_memseg_import_handle_t h)
{
    struct __rsm_memseg_import_handle *i;

    for (i = ucpg_rsm_imports; i != NULL; i = i->next) {
        if (i == h) {
            return i->magic == UCPG_RSM_IMPORT_MAGIC;
        }
    }
    return 0;
}

/* --- protocol input (progress thread) ------------------------------------- */

static void ucpg_rsm_import_reply(ucpg_peer_id_t src, const ucpg_rsm_msg_t *msg,
                                  const void *rkey, size_t rkey_len)
{
    ucpg_rsm_pending_t *p;

    for (p = ucpg_rsm_pendings; p != NULL; p = p->next) {
        if ((p->req_id == msg->req_id) && (p->owner == src) && !p->done) {
            p->rep = *msg;
            if ((msg->err == RSM_SUCCESS) && ((p->rkey = malloc(rkey_len)) != NULL)) {
                memcpy(p->rkey, rkey, rkey_len);
                p->rkey_len = rkey_len;
            }
            __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
            return;
        }
    }
    ucpg_debug("late or unknown connect reply from peer %u", src);
}

/* The exporter moved the segment to new memory (rsm_memseg_export_rebind):
 * switch to its new rkey and address. The old rkey stays alive until
 * disconnect because a transfer in another thread may still hold it.
 * Called in the progress thread with the engine lock held. */
static void ucpg_rsm_import_rebind(struct __rsm_memseg_import_handle *h,
                                   const ucpg_rsm_msg_t *msg, const void *rkey)
{
    ucp_rkey_h fresh, *grown;
    ucpg_ep_ref_t *ref;
    ucs_status_t status = UCS_ERR_UNREACHABLE;
    ucp_ep_h ep;

    grown = realloc(h->old_rkeys, (h->nold_rkeys + 1) * sizeof(*grown));
    if (grown != NULL) {
        h->old_rkeys = grown;
        if (ucpg_domain_ep_get(h->domain, h->owner, h->owner_uuid, &ep, &ref) == UCPG_OK) {
            status = ucp_ep_rkey_unpack(ep, rkey, &fresh);
            ucpg_domain_ep_put(h->domain, ref);
        }
    }
    if ((status != UCS_OK) || (msg->size != h->size)) {
        ucpg_error("cannot follow the rebind of segment %#x: disconnecting", h->segid);
        ucpg_rsm_import_abort(h);
        ucpg_rsm_map_revoke(h);
        return;
    }
    h->old_rkeys[h->nold_rkeys++] = h->rkey;
    __atomic_store_n(&h->base, msg->base, __ATOMIC_RELEASE);
    __atomic_store_n(&h->rkey, fresh, __ATOMIC_RELEASE);
    ucpg_rsm_map_repoint(h);
}

/* Tells the exporter that we follow its rebind (or gave up on the segment:
 * aborted), so that it may give the old range back (rebind.c). Engine lock
 * held; the send only queues. */
static void ucpg_rsm_import_rebind_ack(struct __rsm_memseg_import_handle *h,
                                       const ucpg_rsm_msg_t *rebind)
{
    ucpg_rsm_msg_t ack;

    memset(&ack, 0, sizeof(ack));
    ack.type  = UCPG_RSM_MSG_REBIND_ACK;
    ack.segid = h->segid;
    ack.token = h->token;
    ack.base  = rebind->base;
    if (ucpg_rsm_send(h->domain, h->owner, &ack, NULL, 0) != UCPG_OK) {
        ucpg_debug("segment %#x: the exporter is gone before our rebind answer", h->segid);
    }
}

void ucpg_rsm_import_abort(rsm_memseg_import_handle_t h)
{
    __atomic_store_n(&h->aborted, 1, __ATOMIC_RELEASE);
    if (!__atomic_exchange_n(&h->abort_told, 1, __ATOMIC_ACQ_REL) &&
        (write(h->eventfd, &(uint64_t){1}, sizeof(uint64_t)) < 0)) {
        ucpg_warn("segment %#x: cannot wake the pollers of an aborted import: %m", h->segid);
    }
}

void ucpg_rsm_import_recv(ucpg_peer_id_t src, const ucpg_rsm_msg_t *msg, const void *rkey,
                          size_t rkey_len)
{
    struct __rsm_memseg_import_handle *i;

    ucpg_rsm_engine_lock();
    if (msg->type == UCPG_RSM_MSG_CONNECT_REP) {
        ucpg_rsm_import_reply(src, msg, rkey, rkey_len);
    } else {
        for (i = ucpg_rsm_imports; i != NULL; i = i->next) {
            if ((i->owner != src) || (i->token != msg->token)) {
                continue;
            }
            if (msg->type == UCPG_RSM_MSG_ABORT) {
                ucpg_rsm_import_abort(i);
                ucpg_rsm_map_revoke(i);
            } else if (msg->type == UCPG_RSM_MSG_REBIND) {
                ucpg_rsm_import_rebind(i, msg, rkey);
                ucpg_rsm_import_rebind_ack(i, msg);
            } else if (write(i->eventfd, &(uint64_t){1}, sizeof(uint64_t)) < 0) {
                ucpg_warn("signal for segment %#x lost: %m", i->segid);
            } else {
                ++i->signals;                 /* after the write: a taker reads it */
            }
        }
    }
    ucpg_rsm_engine_unlock();
}

void ucpg_rsm_import_peer_down(ucpg_peer_id_t peer, uint64_t uuid)
{
    struct __rsm_memseg_import_handle *i;
    ucpg_rsm_pending_t *p;

    ucpg_rsm_engine_lock();
    for (p = ucpg_rsm_pendings; p != NULL; p = p->next) {
        if ((p->owner == peer) && !p->done) {
            /* The exporter died before it answered: fail the connect now. */
            p->rep.err = RSMERR_REMOTE_NODE_UNREACHABLE;
            __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
        }
    }
    for (i = ucpg_rsm_imports; i != NULL; i = i->next) {
        if ((i->owner == peer) && (i->owner_uuid == uuid)) {
            ucpg_rsm_import_abort(i);
            ucpg_rsm_map_revoke(i);
        }
    }
    ucpg_rsm_engine_unlock();
}

/* --- connect / disconnect -------------------------------------------------- */

static int ucpg_rsm_err_from_lookup(ucpg_status_t status)
{
    return (status == UCPG_ERR_NOT_FOUND) ? RSMERR_SEG_NOT_PUBLISHED
                                          : ucpg_rsm_err_from_status(status);
}

/* Sends CONNECT_REQ and waits (bounded) for the answer into *p. */
static int ucpg_rsm_connect_ask(ucpg_domain_t *d, ucpg_peer_id_t owner, rsm_memseg_id_t segid,
                                rsm_permission_t perm, ucpg_rsm_pending_t *p)
{
    unsigned timeout = ucpg_domain_config(d)->connect_timeout_ms;
    ucpg_rsm_pending_t **pp;
    ucpg_rsm_msg_t req;
    ucpg_status_t status;

    memset(&req, 0, sizeof(req));
    req.type  = UCPG_RSM_MSG_CONNECT_REQ;
    req.segid = segid;
    req.node  = ucpg_domain_nodeid(d);
    req.perm  = perm;
    req.uid   = (uint32_t)geteuid();
    req.gid   = (uint32_t)getegid();
    ucpg_rsm_engine_lock();
    req.req_id = p->req_id = ucpg_rsm_next_req++;
    p->owner   = owner;
    p->next    = ucpg_rsm_pendings;
    ucpg_rsm_pendings = p;
    ucpg_rsm_engine_unlock();

    status = ucpg_rsm_send(d, owner, &req, NULL, 0);
    if (status == UCPG_OK) {
        /* The exporter answers from its progress thread; if it dies, its
         * peer goes down and we give up at the deadline at the latest. */
        status = ucpg_domain_wait_flag(d, &p->done, timeout);
    }
    ucpg_rsm_engine_lock();
    for (pp = &ucpg_rsm_pendings; *pp != p; pp = &(*pp)->next) {
    }
    *pp = p->next;
    ucpg_rsm_engine_unlock();
    if (status == UCPG_ERR_TIMEOUT) {
        return RSMERR_REMOTE_NODE_UNREACHABLE;
    }
    if (status != UCPG_OK) {
        return (status == UCPG_ERR_PEER_DOWN) ? RSMERR_REMOTE_NODE_UNREACHABLE
                                              : ucpg_rsm_err_from_status(status);
    }
    return p->rep.err;
}

/* Finds the exporter of {node, segid}: in our registry for our node, else by
 * asking a process of that node (boot/remote.h). */
static int ucpg_rsm_find_owner(ucpg_domain_t *d, rsm_node_id_t node, rsm_memseg_id_t segid,
                               uint32_t *owner_p, uint64_t *uuid_p)
{
    struct ucpg_registry *reg;
    ucpg_status_t status;

    if (node == ucpg_domain_nodeid(d)) {
        ucpg_rsm_engine_lock();           /* the registry outlives the lookup */
        reg    = ucpg_rsm_engine_registry();
        status = (reg == NULL) ? UCPG_ERR_NOT_FOUND
                               : ucpg_registry_seg_lookup(reg, node, segid, owner_p, uuid_p);
        ucpg_rsm_engine_unlock();
        return ucpg_rsm_err_from_lookup(status);
    }
    status = ucpg_boot_remote_seg_lookup(d, node, segid, owner_p, uuid_p);
    return (status == UCPG_ERR_PEER_DOWN) ? RSMERR_REMOTE_NODE_UNREACHABLE
                                          : ucpg_rsm_err_from_lookup(status);
}

static void ucpg_rsm_req_done(void *request, ucs_status_t status, void *user_data)
{
    ucpg_rsm_wait_t *w = user_data;

    w->status = status;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    ucp_request_free(request);
}

/* Waits for a UCP request started with ucpg_rsm_req_done / w. */
ucs_status_t ucpg_rsm_wait_req(ucpg_domain_t *d, void *req, ucpg_rsm_wait_t *w)
{
    if (req == NULL) {
        return UCS_OK;
    }
    if (UCS_PTR_IS_ERR(req)) {
        return UCS_PTR_STATUS(req);
    }
    ucpg_domain_wait_flag(d, &w->done, 0);
    return w->status;
}

void ucpg_rsm_req_param(ucp_request_param_t *param, ucpg_rsm_wait_t *w)
{
    memset(param, 0, sizeof(*param));
    memset(w, 0, sizeof(*w));
    param->op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param->cb.send      = ucpg_rsm_req_done;
    param->user_data    = w;
}

/* Unpacks the rkey on the owner's endpoint, after a flush so that the
 * endpoint's transports are final (rkeys bind to them at unpack time). */
static int ucpg_rsm_unpack_rkey(struct __rsm_memseg_import_handle *h, const void *rkey)
{
    ucp_request_param_t param;
    ucpg_ep_ref_t *ref;
    ucpg_rsm_wait_t w;
    ucs_status_t status;
    ucp_ep_h ep;

    if (ucpg_domain_ep_get(h->domain, h->owner, h->owner_uuid, &ep, &ref) != UCPG_OK) {
        return RSMERR_REMOTE_NODE_UNREACHABLE;
    }
    ucpg_rsm_req_param(&param, &w);
    status = ucpg_rsm_wait_req(h->domain, ucp_ep_flush_nbx(ep, &param), &w);
    if (status == UCS_OK) {
        status = ucp_ep_rkey_unpack(ep, rkey, &h->rkey);
    }
    ucpg_domain_ep_put(h->domain, ref);
    return (status == UCS_OK) ? RSM_SUCCESS : RSMERR_REMOTE_NODE_UNREACHABLE;
}

/* Tells the exporter we are gone (best effort). */
static void ucpg_rsm_send_disconnect(const struct __rsm_memseg_import_handle *h)
{
    ucpg_rsm_msg_t msg;

    memset(&msg, 0, sizeof(msg));
    msg.type  = UCPG_RSM_MSG_DISCONNECT;
    msg.segid = h->segid;
    msg.token = h->token;
    ucpg_rsm_send(h->domain, h->owner, &msg, NULL, 0);
}

static int ucpg_rsm_connect_checks(rsmapi_controller_handle_t controller,
                                   rsm_permission_t perm,
                                   rsm_memseg_import_handle_t *im_memseg)
{
    if ((controller == NULL) || !ucpg_rsm_controller_held(controller)) {
        return RSMERR_BAD_CTLR_HNDL;
    }
    if (im_memseg == NULL) {
        return RSMERR_BAD_SEG_HNDL;
    }
    if ((perm & ~(rsm_permission_t)RSM_PERM_RDWR) != 0) {
        return RSMERR_PERM_DENIED;
    }
    return RSM_SUCCESS;
}

/* Is the exporter UP? A process that just arrived (most often on another
 * host) may still be finishing its handshake with us: wait for it, bounded
 * by connect_timeout_ms. */
static int ucpg_rsm_owner_up(ucpg_domain_t *d, ucpg_peer_id_t owner, uint64_t uuid)
{
    uint64_t deadline = ucpg_time_ms() + ucpg_domain_config(d)->connect_timeout_ms;
    ucpg_peer_info_t info;

    for (;;) {
        if (ucpg_domain_peer_info(d, owner, &info) != UCPG_OK) {
            return 0;
        }
        if ((info.uuid == uuid) && (info.state == UCPG_PEER_STATE_UP)) {
            return 1;
        }
        if (((info.uuid != uuid) && (info.state == UCPG_PEER_STATE_UP)) ||
            (ucpg_time_ms() > deadline)) {
            return 0;                     /* another incarnation, or never came */
        }
        usleep(1000);
    }
}

int rsm_memseg_import_connect(rsmapi_controller_handle_t controller, rsm_node_id_t node_id,
                              rsm_memseg_id_t segment_id, rsm_permission_t perm,
                              rsm_memseg_import_handle_t *im_memseg)
{
    struct __rsm_memseg_import_handle *h;
    ucpg_rsm_pending_t pending;
    ucpg_status_t status;
    ucpg_domain_t *d;
    int ret;

    ret = ucpg_rsm_connect_checks(controller, perm, im_memseg);
    if (ret != RSM_SUCCESS) {
        return ret;
    }
    status = ucpg_rsm_engine_acquire(&d);
    if (status != UCPG_OK) {
        return ucpg_rsm_err_from_status(status);
    }
    if (controller->loopback && (node_id != ucpg_domain_nodeid(d))) {
        ucpg_rsm_engine_release();
        return RSMERR_CTLR_NOT_PRESENT;
    }
    h = calloc(1, sizeof(*h));
    memset(&pending, 0, sizeof(pending));
    if (h == NULL) {
        ret = RSMERR_INSUFFICIENT_MEM;
        goto err;
    }
    h->magic = UCPG_RSM_IMPORT_MAGIC;
    h->ctlr  = controller;
    h->domain = d;
    h->node  = node_id;
    h->segid = segment_id;
    h->perm  = perm;
    h->barrier_mode = RSM_BARRIER_MODE_IMPLICIT;
    h->eventfd      = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->eventfd < 0) {
        ret = RSMERR_INSUFFICIENT_RESOURCES;
        goto err;
    }
    ret = ucpg_rsm_find_owner(d, node_id, segment_id, &h->owner, &h->owner_uuid);
    if (ret != RSM_SUCCESS) {
        goto err;
    }
    if (!ucpg_rsm_owner_up(d, h->owner, h->owner_uuid)) {
        ret = RSMERR_REMOTE_NODE_UNREACHABLE;
        goto err;
    }
    ret = ucpg_rsm_connect_ask(d, h->owner, segment_id, perm, &pending);
    if (ret != RSM_SUCCESS) {
        goto err;
    }
    h->token = pending.rep.token;
    h->size  = pending.rep.size;
    h->base  = pending.rep.base;
    h->mode  = pending.rep.mode;
    ret = (pending.rkey == NULL) ? RSMERR_INSUFFICIENT_MEM
                                 : ucpg_rsm_unpack_rkey(h, pending.rkey);
    if (ret != RSM_SUCCESS) {
        ucpg_rsm_send_disconnect(h);
        goto err;
    }
    free(pending.rkey);
    ucpg_rsm_direct_open(h);
    ucpg_rsm_engine_lock();
    h->next          = ucpg_rsm_imports;
    ucpg_rsm_imports = h;
    ucpg_rsm_engine_unlock();
    *im_memseg = h;
    return RSM_SUCCESS;

err:
    free(pending.rkey);
    if ((h != NULL) && (h->eventfd >= 0)) {
        close(h->eventfd);
    }
    free(h);
    ucpg_rsm_engine_release();
    return ret;
}

/* Destroys im's rkeys, the current one and those a rebind replaced. A
 * disconnect may race the exit handler: once the domain stops they are left
 * to go with UCX. */
static void ucpg_rsm_import_rkeys_destroy(struct __rsm_memseg_import_handle *im)
{
    int ucx = (ucpg_domain_ucx_enter(im->domain) == UCPG_OK);

    if (ucx) {
        ucp_rkey_destroy(im->rkey);
    }
    while (im->nold_rkeys > 0) {
        --im->nold_rkeys;
        if (ucx) {
            ucp_rkey_destroy(im->old_rkeys[im->nold_rkeys]);
        }
    }
    if (ucx) {
        ucpg_domain_ucx_leave(im->domain);
    }
}

int rsm_memseg_import_disconnect(rsm_memseg_import_handle_t im_memseg)
{
    struct __rsm_memseg_import_handle **pp;

    ucpg_rsm_engine_lock();
    if ((im_memseg == NULL) || !ucpg_rsm_import_valid(im_memseg)) {
        ucpg_rsm_engine_unlock();
        return RSMERR_BAD_SEG_HNDL;
    }
    if (im_memseg->pollfd_refs > 0) {
        ucpg_rsm_engine_unlock();
        return RSMERR_POLLFD_IN_USE;
    }
    if (im_memseg->map.addr != NULL) {
        ucpg_rsm_engine_unlock();
        return RSMERR_SEG_STILL_MAPPED;
    }
    for (pp = &ucpg_rsm_imports; *pp != im_memseg; pp = &(*pp)->next) {
    }
    *pp = im_memseg->next;
    ucpg_rsm_import_unlist(im_memseg);
    ucpg_rsm_barriers_orphan(im_memseg);
    ucpg_rsm_engine_unlock();
    if (!__atomic_load_n(&im_memseg->aborted, __ATOMIC_ACQUIRE)) {
        ucpg_rsm_send_disconnect(im_memseg);
    }
    ucpg_rsm_direct_close(im_memseg);
    ucpg_rsm_import_rkeys_destroy(im_memseg);
    free(im_memseg->old_rkeys);
    close(im_memseg->eventfd);
    free(im_memseg);
    ucpg_rsm_engine_release();
    return RSM_SUCCESS;
}

/* --- data path --------------------------------------------------------------- */

/*
 * Checks a transfer in the order of the reference implementation: handle,
 * buffer, alignment, permission, bounds, connection state.
 */
int ucpg_rsm_xfer_check(rsm_memseg_import_handle_t h, off_t offset, const void *buf,
                        size_t len, size_t align, rsm_permission_t need)
{
    int valid;

    valid = ucpg_rsm_import_held(h);
    if (!valid) {
        return RSMERR_BAD_SEG_HNDL;
    }
    if (buf == NULL) {
        return RSMERR_BAD_ADDR;
    }
    if ((((uintptr_t)buf % align) != 0) || (((uint64_t)offset % align) != 0)) {
        return RSMERR_BAD_MEM_ALIGNMENT;
    }
    if ((h->perm & need) != need) {
        return RSMERR_PERM_DENIED;
    }
    if ((offset < 0) || ((uint64_t)offset > h->size)) {
        return RSMERR_BAD_OFFSET;
    }
    if (len > h->size - (uint64_t)offset) {
        return RSMERR_BAD_LENGTH;
    }
    if (__atomic_load_n(&h->aborted, __ATOMIC_ACQUIRE)) {
        return RSMERR_CONN_ABORTED;
    }
    return RSM_SUCCESS;
}

/* Moves len bytes in accesses of width bytes, so that each element of a
 * typed transfer (put16, get64, ...) is written and read whole. */
static void ucpg_rsm_copy_elements(void *dst, const void *src, size_t len, size_t width)
{
    size_t i, n = len / width;

    switch (width) {
    case 2:
        for (i = 0; i < n; i++) {
            ((volatile uint16_t*)dst)[i] = ((const volatile uint16_t*)src)[i];
        }
        break;
    case 4:
        for (i = 0; i < n; i++) {
            ((volatile uint32_t*)dst)[i] = ((const volatile uint32_t*)src)[i];
        }
        break;
    case 8:
        for (i = 0; i < n; i++) {
            ((volatile uint64_t*)dst)[i] = ((const volatile uint64_t*)src)[i];
        }
        break;
    default:
        memcpy(dst, src, len);
    }
}

/*
 * A transfer through the direct view (exporter on this host): a copy. In
 * implicit mode each call is a barrier span of its own, and a closing
 * barrier flushes the store buffers: so a full barrier follows the copy,
 * which also orders the abort check after it (a copy that raced with a
 * forced disconnect touched the zero pages that replaced the view, map.c,
 * and is reported as CONN_ABORTED). In explicit mode the application's
 * close_barrier does both (its flush and abort check follow the engine
 * lock's full barrier), so a transfer there costs only its copy and a
 * load (the locked instruction was about a tenth of a back-to-back 8-byte
 * put: 27.5 ns median with it, 24.5 without).
 */
static int ucpg_rsm_xfer_direct(rsm_memseg_import_handle_t h, off_t offset, void *buf,
                                size_t len, size_t align, int is_put)
{
    char *seg = (char*)h->direct.addr + offset;
    int aborted;

    if (is_put) {
        ucpg_rsm_copy_elements(seg, buf, len, align);
    } else {
        ucpg_rsm_copy_elements(buf, seg, len, align);
    }
    /* a read-modify-write rather than a fence: the same full barrier (a
     * locked instruction on x86), and one that TSan understands */
    aborted = (h->barrier_mode == RSM_BARRIER_MODE_IMPLICIT)
                  ? __atomic_fetch_add(&h->aborted, 0, __ATOMIC_SEQ_CST)
                  : __atomic_load_n(&h->aborted, __ATOMIC_ACQUIRE);
    return aborted ? RSMERR_CONN_ABORTED : RSM_SUCCESS;
}

/* Maps the outcome of a transfer: a gone exporter is CONN_ABORTED; other
 * failures count for the barrier and, in implicit mode, are reported now. */
int ucpg_rsm_xfer_result(rsm_memseg_import_handle_t h, ucs_status_t status)
{
    ucpg_peer_info_t info;

    if (status != UCS_OK) {
        __atomic_add_fetch(&h->errors, 1, __ATOMIC_RELEASE);
        if ((ucpg_domain_peer_info(h->domain, h->owner, &info) != UCPG_OK) ||
            (info.uuid != h->owner_uuid)) {
            ucpg_rsm_import_abort(h);
        }
    }
    if (__atomic_load_n(&h->aborted, __ATOMIC_ACQUIRE)) {
        return RSMERR_CONN_ABORTED;
    }
    if ((status != UCS_OK) && (h->barrier_mode == RSM_BARRIER_MODE_IMPLICIT)) {
        return RSMERR_BARRIER_FAILURE;
    }
    return RSM_SUCCESS;
}

/* One put or get: a copy through the direct view where the exporter is on
 * this host, UCP RMA otherwise. In implicit mode it is synchronous (a put is flushed to the
 * exporter's memory before return); in explicit mode a put only waits for
 * local completion and transfer errors are reported by the barrier close. */
int ucpg_rsm_xfer(rsm_memseg_import_handle_t h, off_t offset, void *buf, size_t len,
                         size_t align, int is_put)
{
    ucp_request_param_t param;
    ucpg_ep_ref_t *ref;
    ucpg_rsm_wait_t w;
    ucs_status_t status;
    uint64_t raddr;
    ucp_rkey_h rkey;
    ucp_ep_h ep;
    void *req;
    int ret;

    ret = ucpg_rsm_xfer_check(h, offset, buf, len, align,
                              is_put ? RSM_PERM_WRITE : RSM_PERM_READ);
    if ((ret != RSM_SUCCESS) || (len == 0)) {
        return ret;
    }
    if (h->direct.addr != NULL) {
        return ucpg_rsm_xfer_direct(h, offset, buf, len, align, is_put);
    }
    if (ucpg_domain_ep_get(h->domain, h->owner, h->owner_uuid, &ep, &ref) != UCPG_OK) {
        return RSMERR_CONN_ABORTED;          /* the exporting process is gone */
    }
    /* rkey and base change together under a rebind; the application quiesces
     * access around it, as RSMAPI requires */
    raddr = __atomic_load_n(&h->base, __ATOMIC_ACQUIRE) + (uint64_t)offset;
    rkey  = __atomic_load_n(&h->rkey, __ATOMIC_ACQUIRE);
    ucpg_rsm_req_param(&param, &w);
    req = is_put ? ucp_put_nbx(ep, buf, len, raddr, rkey, &param)
                 : ucp_get_nbx(ep, buf, len, raddr, rkey, &param);
    status = ucpg_rsm_wait_req(h->domain, req, &w);
    if ((status == UCS_OK) && is_put && (h->barrier_mode == RSM_BARRIER_MODE_IMPLICIT)) {
        ucpg_rsm_req_param(&param, &w);
        status = ucpg_rsm_wait_req(h->domain, ucp_ep_flush_nbx(ep, &param), &w);
    }
    ucpg_domain_ep_put(h->domain, ref);
    return ucpg_rsm_xfer_result(h, status);
}

int ucpg_rsm_import_flush(rsm_memseg_import_handle_t h)
{
    ucp_request_param_t param;
    ucpg_ep_ref_t *ref;
    ucpg_rsm_wait_t w;
    ucs_status_t status;
    ucp_ep_h ep;

    if (__atomic_load_n(&h->aborted, __ATOMIC_ACQUIRE)) {
        return RSMERR_CONN_ABORTED;
    }
    if (ucpg_domain_ep_get(h->domain, h->owner, h->owner_uuid, &ep, &ref) != UCPG_OK) {
        ucpg_rsm_import_abort(h);
        return RSMERR_CONN_ABORTED;
    }
    ucpg_rsm_req_param(&param, &w);
    status = ucpg_rsm_wait_req(h->domain, ucp_ep_flush_nbx(ep, &param), &w);
    ucpg_domain_ep_put(h->domain, ref);
    if (status != UCS_OK) {
        __atomic_add_fetch(&h->errors, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&h->aborted, __ATOMIC_ACQUIRE) ? RSMERR_CONN_ABORTED : RSM_SUCCESS;
}

int rsm_memseg_import_get(rsm_memseg_import_handle_t im_memseg, off_t offset, void *dst_addr,
                          size_t length)
{
    return ucpg_rsm_xfer(im_memseg, offset, dst_addr, length, 1, 0);
}

int rsm_memseg_import_put(rsm_memseg_import_handle_t im_memseg, off_t offset, void *src_addr,
                          size_t length)
{
    return ucpg_rsm_xfer(im_memseg, offset, src_addr, length, 1, 1);
}

/* getN/putN: rep_cnt elements of N bits, offset and buffer N/8-aligned. The
 * nodes of one domain share a byte order, so no swapping is needed. */
#define UCPG_RSM_TYPED_XFER(bits)                                                        \
    int rsm_memseg_import_get##bits(rsm_memseg_import_handle_t im_memseg, off_t offset,  \
                                    uint##bits##_t *datap, ulong_t rep_cnt)              \
    {                                                                                    \
        if (rep_cnt > SIZE_MAX / sizeof(*datap)) {                                       \
            return RSMERR_BAD_LENGTH;                                                    \
        }                                                                                \
        return ucpg_rsm_xfer(im_memseg, offset, datap, rep_cnt * sizeof(*datap),         \
                             sizeof(*datap), 0);                                         \
    }                                                                                    \
    int rsm_memseg_import_put##bits(rsm_memseg_import_handle_t im_memseg, off_t offset,  \
                                    uint##bits##_t *datap, ulong_t rep_cnt)              \
    {                                                                                    \
        if (rep_cnt > SIZE_MAX / sizeof(*datap)) {                                       \
            return RSMERR_BAD_LENGTH;                                                    \
        }                                                                                \
        return ucpg_rsm_xfer(im_memseg, offset, datap, rep_cnt * sizeof(*datap),         \
                             sizeof(*datap), 1);                                         \
    }

UCPG_RSM_TYPED_XFER(8)
UCPG_RSM_TYPED_XFER(16)
UCPG_RSM_TYPED_XFER(32)
UCPG_RSM_TYPED_XFER(64)

int rsm_memseg_import_get_mode(rsm_memseg_import_handle_t im_memseg, rsm_barrier_mode_t *mode)
{
    int valid;

    valid = ucpg_rsm_import_held(im_memseg);
    if (!valid) {
        return RSMERR_BAD_SEG_HNDL;
    }
    if (mode == NULL) {
        return RSMERR_BAD_ADDR;              /* the reference dereferences it */
    }
    *mode = im_memseg->barrier_mode;
    return RSM_SUCCESS;
}

int rsm_memseg_import_set_mode(rsm_memseg_import_handle_t im_memseg, rsm_barrier_mode_t mode)
{
    int valid;

    valid = ucpg_rsm_import_held(im_memseg);
    if (!valid) {
        return RSMERR_BAD_SEG_HNDL;
    }
    if ((mode != RSM_BARRIER_MODE_EXPLICIT) && (mode != RSM_BARRIER_MODE_IMPLICIT)) {
        return RSMERR_BAD_MODE;
    }
    im_memseg->barrier_mode = mode;
    return RSM_SUCCESS;
}

/* The domain goes away under live imports (exit without disconnecting):
 * drop their rkeys while UCX still exists. The handles become invalid
 * first, then aborted, and their views turn into zero pages but stay
 * mapped: another thread may still be inside a put or get that passed the
 * handle check (exit() does not stop the other threads), and it must copy
 * into those pages, not fault on an unmapped address. The process is
 * exiting; the pages go with it. Engine lock held. */
void ucpg_rsm_import_teardown_all(void)
{
    struct __rsm_memseg_import_handle *i;

    for (i = ucpg_rsm_imports; i != NULL; i = i->next) {
        ucpg_rsm_import_unlist(i);
        ucpg_rsm_import_abort(i);
        ucpg_rsm_map_revoke(i);
        ucpg_rsm_import_rkeys_destroy(i);
    }
    ucpg_rsm_imports = NULL;
}
