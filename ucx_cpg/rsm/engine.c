/*
 * engine.c - the per-process RSM engine: holds the domain while any RSM
 * object exists (see rsm_int.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "core/am.h"
#include "core/log.h"
#include "protocol.h"

/*
 * Two locks. ucpg_rsm_lock guards the lists of every RSM object; the
 * progress thread takes it in the protocol handler and the peer listener.
 * ucpg_rsm_life_lock guards the engine's own life (users, domain, handler,
 * listener). Acquire and release take only the latter and are never called
 * with the former held: unlistening waits for a running peer event, which
 * may be waiting for ucpg_rsm_lock.
 *
 * Order: life lock, then the boot lock, then ucpg_rsm_lock (the boot
 * layer's teardown runs our hook with its lock held). So nothing asks the
 * boot layer for anything under ucpg_rsm_lock: the registry is fetched at
 * acquire and kept here.
 */
static pthread_mutex_t ucpg_rsm_lock      = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t ucpg_rsm_life_lock = PTHREAD_MUTEX_INITIALIZER;
static ucpg_domain_t  *ucpg_rsm_domain;  /* life lock; held while users > 0 */
static unsigned        ucpg_rsm_users;   /* life lock */
/* Written under both locks, read under ucpg_rsm_lock: the teardown hook
 * clears it before the boot layer frees the registry. */
static struct ucpg_registry *ucpg_rsm_registry;
static int             ucpg_rsm_listener;
/* The teardown hook ran (ucpg_rsm_lock): nothing new may be listed. */
static int             ucpg_rsm_torn;

/* Runs in the progress thread. */
static void ucpg_rsm_am_recv(void *arg, ucpg_peer_id_t src, const void *hdr, size_t hdr_len,
                             void *data, size_t len, ucpg_buf_t *buf)
{
    ucpg_domain_t *d = arg;
    ucpg_rsm_msg_t msg;

    (void)buf;   /* the body is used in place */
    if (ucpg_rsm_msg_decode(hdr, hdr_len, len, &msg) != UCPG_OK) {
        ucpg_warn("dropping malformed RSM message from peer %u", src);
        return;
    }
    switch (msg.type) {
    case UCPG_RSM_MSG_CONNECT_REQ:
    case UCPG_RSM_MSG_DISCONNECT:
    case UCPG_RSM_MSG_SIGNAL_TO_EXPORT:
        ucpg_rsm_export_recv(d, src, &msg);
        break;
    case UCPG_RSM_MSG_REBIND_ACK:
        ucpg_rsm_rebind_recv_ack(src, &msg);
        break;
    default:
        ucpg_rsm_import_recv(src, &msg, data, len);
        break;
    }
}

static void ucpg_rsm_peer_event(void *arg, const ucpg_peer_info_t *peer,
                                ucpg_peer_event_t event, ucpg_peer_reason_t reason)
{
    (void)arg;
    (void)reason;
    if (event == UCPG_PEER_EVENT_DOWN) {
        ucpg_rsm_import_peer_down(peer->id, peer->uuid);
        ucpg_rsm_export_peer_down(peer->id, peer->uuid);
    }
}

static void ucpg_rsm_send_done(void *arg, ucpg_status_t status)
{
    (void)status;
    free(arg);
}

ucpg_status_t ucpg_rsm_send(ucpg_domain_t *d, ucpg_peer_id_t dst, const ucpg_rsm_msg_t *msg,
                            const void *data, size_t len)
{
    uint8_t hdr[UCPG_RSM_MSG_LEN];
    ucpg_status_t status;
    void *copy = NULL;

    if (len > 0) {
        copy = malloc(len);          /* the data must outlive a queued send */
        if (copy == NULL) {
            return UCPG_ERR_NO_MEMORY;
        }
        memcpy(copy, data, len);
    }
    status = ucpg_am_send_nb(d, dst, UCPG_AM_ID_RSM, hdr, ucpg_rsm_msg_encode(msg, hdr), copy,
                             len, ucpg_rsm_send_done, copy);
    if (status != UCPG_INPROGRESS) {
        free(copy);
    }
    return (status == UCPG_INPROGRESS) ? UCPG_OK : status;
}

/* The process exits with RSM objects alive: see ucpg_boot_on_teardown. */
static void ucpg_rsm_teardown(void *arg)
{
    (void)arg;
    ucpg_rsm_engine_lock();
    ucpg_rsm_registry = NULL;
    ucpg_rsm_torn     = 1;
    ucpg_rsm_import_teardown_all();
    ucpg_rsm_export_teardown_all();
    ucpg_rsm_engine_unlock();
}

void ucpg_rsm_engine_lock(void)   { pthread_mutex_lock(&ucpg_rsm_lock); }
void ucpg_rsm_engine_unlock(void) { pthread_mutex_unlock(&ucpg_rsm_lock); }
int  ucpg_rsm_engine_trylock(void) { return pthread_mutex_trylock(&ucpg_rsm_lock) == 0; }

int ucpg_rsm_engine_torn_down(void)
{
    return ucpg_rsm_torn;
}

struct ucpg_registry *ucpg_rsm_engine_registry(void)
{
    return ucpg_rsm_registry;
}

/* Life lock held, engine lock not: the boot lock is taken here. */
static void ucpg_rsm_engine_set_registry(ucpg_domain_t *d)
{
    struct ucpg_registry *reg = (d != NULL) ? ucpg_boot_registry(d) : NULL;

    ucpg_rsm_engine_lock();
    ucpg_rsm_registry = reg;
    ucpg_rsm_engine_unlock();
}

ucpg_status_t ucpg_rsm_engine_acquire(ucpg_domain_t **domain_p)
{
    ucpg_status_t status = UCPG_OK;

    pthread_mutex_lock(&ucpg_rsm_life_lock);
    if (ucpg_rsm_users == 0) {
        status = ucpg_boot_domain_get(&ucpg_rsm_domain);
        if (status == UCPG_OK) {
            ucpg_rsm_engine_lock();
            ucpg_rsm_torn = 0;           /* a new domain: the old one's teardown is past */
            ucpg_rsm_engine_unlock();
            ucpg_boot_on_teardown(ucpg_rsm_teardown, NULL);
            status = ucpg_am_register(ucpg_rsm_domain, UCPG_AM_ID_RSM, ucpg_rsm_am_recv,
                                      ucpg_rsm_domain);
            if (status == UCPG_OK) {
                status = ucpg_domain_listen(ucpg_rsm_domain, ucpg_rsm_peer_event, NULL, 0,
                                            &ucpg_rsm_listener);
                if (status != UCPG_OK) {
                    ucpg_am_unregister(ucpg_rsm_domain, UCPG_AM_ID_RSM);
                }
            }
            if (status != UCPG_OK) {
                ucpg_boot_domain_put(ucpg_rsm_domain);
                ucpg_rsm_domain = NULL;
            }
            ucpg_rsm_engine_set_registry(ucpg_rsm_domain);
        }
    }
    if (status == UCPG_OK) {
        ++ucpg_rsm_users;
        *domain_p = ucpg_rsm_domain;
    }
    pthread_mutex_unlock(&ucpg_rsm_life_lock);
    return status;
}

void ucpg_rsm_engine_release(void)
{
    pthread_mutex_lock(&ucpg_rsm_life_lock);
    if ((ucpg_rsm_users > 0) && (--ucpg_rsm_users == 0)) {
        ucpg_domain_unlisten(ucpg_rsm_domain, ucpg_rsm_listener);
        ucpg_am_unregister(ucpg_rsm_domain, UCPG_AM_ID_RSM);
        ucpg_rsm_engine_set_registry(NULL);
        ucpg_boot_domain_put(ucpg_rsm_domain);
        ucpg_rsm_domain = NULL;
    }
    pthread_mutex_unlock(&ucpg_rsm_life_lock);
}

int ucpg_rsm_err_from_status(ucpg_status_t status)
{
    switch (status) {
    case UCPG_OK:                return RSM_SUCCESS;
    case UCPG_ERR_NO_MEMORY:     return RSMERR_INSUFFICIENT_MEM;
    case UCPG_ERR_NO_RESOURCE:   return RSMERR_INSUFFICIENT_RESOURCES;
    case UCPG_ERR_PEER_DOWN:     return RSMERR_CONN_ABORTED;
    case UCPG_ERR_TIMEOUT:       return RSMERR_TIMEOUT;
    case UCPG_ERR_ACCESS:        return RSMERR_PERM_DENIED;
    case UCPG_ERR_CONFIG:
    case UCPG_ERR_REGISTRY:
    case UCPG_ERR_TRANSPORT:
    case UCPG_ERR_FORKED:
    case UCPG_ERR_SHUTDOWN:
    case UCPG_ERR_UNSUPPORTED:   return RSMERR_CTLR_NOT_PRESENT;
    default:                     return RSMERR_INSUFFICIENT_RESOURCES;
    }
}
