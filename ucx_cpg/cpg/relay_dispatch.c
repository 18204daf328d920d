/*
 * relay_dispatch.c - cpg_dispatch on a handle served by a relay: callback
 * frames read from the handle's descriptor (relay_wire.h) and run here.
 *
 * The modes mean what they mean natively (dispatch.c): ONE_NONBLOCKING runs
 * one callback or answers CS_ERR_TRY_AGAIN, ALL runs what is there, ONE
 * waits for one, BLOCKING runs callbacks until the handle is finalized. A
 * frame is read whole under the handle's event lock and run after it is
 * released, so a callback may call the API again, cpg_finalize included.
 * The relay writes whole frames at once, so a reader that saw the first byte
 * waits only for the rest of a frame being written.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "relay_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/log.h"

/* Waits until a frame can be read: 1, or 0 if none came within wait_ms
 * (-1: until finalize or the relay's end). */
static int ucpg_cpg_relay_readable(ucpg_cpg_relay_t *r, int wait_ms)
{
    struct pollfd pfd;
    int n;

    do {
        if (__atomic_load_n(&r->finalized, __ATOMIC_ACQUIRE)) {
            return 0;
        }
        pfd.fd      = r->efd;
        pfd.events  = POLLIN;
        pfd.revents = 0;
        /* slices: a finalize in another thread also shuts the socket down,
         * which ends the poll at once; the slice is a second line of defence */
        n = poll(&pfd, 1, (wait_ms < 0) ? 100 : wait_ms);
    } while (((n == 0) && (wait_ms < 0)) || ((n < 0) && (errno == EINTR)));
    return (n > 0);
}

static void ucpg_cpg_relay_run_event(ucpg_cpg_relay_t *r, const ucpg_relay_event_t *ev)
{
    const cpg_model_v1_data_t *m = &r->model;

    switch (ev->type) {
    case UCPG_RELAY_EV_DELIVER:
        if (m->cpg_deliver_fn != NULL) {
            m->cpg_deliver_fn(r->id, &ev->group, ev->nodeid, ev->pid, ev->msg, ev->msg_len);
        }
        break;
    case UCPG_RELAY_EV_CONFCHG:
        if (m->cpg_confchg_fn != NULL) {
            m->cpg_confchg_fn(r->id, &ev->group, ev->lists[0], ev->counts[0], ev->lists[1],
                              ev->counts[1], ev->lists[2], ev->counts[2]);
        }
        break;
    default:
        if (m->cpg_totem_confchg_fn != NULL) {
            m->cpg_totem_confchg_fn(r->id, ev->ring, (uint32_t)ev->nnodes, ev->nodes);
        }
        break;
    }
}

/*
 * Reads one frame (waiting up to wait_ms for its start), runs it and tells
 * its type:
 * CS_OK, CS_ERR_TRY_AGAIN if none came, CS_ERR_BAD_HANDLE once finalized,
 * CS_ERR_LIBRARY if the relay is gone or sent something that does not
 * decode (the stream cannot be trusted after that).
 */
static cs_error_t ucpg_cpg_relay_dispatch_frame(ucpg_cpg_relay_t *r, int wait_ms,
                                                uint32_t *type_p)
{
    ucpg_relay_event_t ev;
    ucpg_relay_frame_t f;
    ucpg_status_t status;

    pthread_mutex_lock(&r->ev_lock);
    if (!ucpg_cpg_relay_readable(r, wait_ms)) {
        pthread_mutex_unlock(&r->ev_lock);
        return __atomic_load_n(&r->finalized, __ATOMIC_ACQUIRE) ? CS_ERR_BAD_HANDLE :
                                                                  CS_ERR_TRY_AGAIN;
    }
    status = ucpg_relay_frame_recv(r->efd, UCPG_RELAY_FRAME_MAX, &f);
    pthread_mutex_unlock(&r->ev_lock);
    if (__atomic_load_n(&r->finalized, __ATOMIC_ACQUIRE)) {
        free(f.body);
        return CS_ERR_BAD_HANDLE;
    }
    if ((status == UCPG_OK) && ((status = ucpg_relay_event_decode(&f, &ev)) == UCPG_OK)) {
        *type_p = ev.type;
        ucpg_cpg_relay_run_event(r, &ev);
        ucpg_relay_event_free(&ev);
    }
    free(f.body);
    if (status != UCPG_OK) {
        ucpg_error("CPG relay %d: %s", (int)r->pid, (status == UCPG_ERR_PEER_DOWN) ?
                   "gone, or stopped inside a frame" : "sent a callback that does not decode");
        shutdown(r->efd, SHUT_RDWR);      /* out of step: later dispatches fail at once */
        return CS_ERR_LIBRARY;
    }
    return CS_OK;
}

/*
 * One callback as a native handle counts them: the handle's first confchg
 * and the INITIAL totem confchg of the model's flag are one, as in
 * dispatch.c, where the totem rides on the confchg's queue item. The relay
 * sends that totem right after the confchg, so waiting for it is short.
 */
static cs_error_t ucpg_cpg_relay_dispatch_one(ucpg_cpg_relay_t *r, int wait_ms)
{
    uint32_t type = 0;
    cs_error_t err = ucpg_cpg_relay_dispatch_frame(r, wait_ms, &type);

    if ((err == CS_OK) && (type == UCPG_RELAY_EV_CONFCHG) &&
        __atomic_exchange_n(&r->totem_initial, 0, __ATOMIC_ACQ_REL)) {
        err = ucpg_cpg_relay_dispatch_frame(r, -1, &type);
    }
    return err;
}

cs_error_t ucpg_cpg_relay_dispatch(cpg_handle_t handle, cs_dispatch_flags_t type)
{
    ucpg_cpg_relay_t *r = ucpg_cpg_relay_get(handle);
    cs_error_t err;

    if (r == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    switch (type) {
    case CS_DISPATCH_ONE_NONBLOCKING:
        err = ucpg_cpg_relay_dispatch_one(r, 0);
        break;
    case CS_DISPATCH_ONE:
        err = ucpg_cpg_relay_dispatch_one(r, -1);
        break;
    case CS_DISPATCH_ALL:
        while ((err = ucpg_cpg_relay_dispatch_one(r, 0)) == CS_OK) {
        }
        /* as natively: ALL is fine with nothing to do, and after a finalize
         * by a callback */
        err = ((err == CS_ERR_TRY_AGAIN) || (err == CS_ERR_BAD_HANDLE)) ? CS_OK : err;
        break;
    default: /* CS_DISPATCH_BLOCKING */
        while ((err = ucpg_cpg_relay_dispatch_one(r, -1)) == CS_OK) {
        }
        break;
    }
    ucpg_cpg_relay_put(r);
    return err;
}
