/*
 * rebind.c - rsm_memseg_export_rebind: the segment moves to other memory of
 * the exporter, under its importers' feet.
 *
 * The new range is made shareable the way export_create made the first one
 * (export.c), the handle is switched to it, and every importer is sent the
 * new address and rkey (REBIND); it re-points its mappings and answers
 * REBIND_ACK (import.c). Only once every importer has answered, or is gone,
 * or connect_timeout_ms has passed, is the old range given back as private
 * memory: an importer that unpacks the rkey of a range already given back
 * cannot follow (UCX's shared-memory segment is gone) and has to give the
 * segment up. Two rebinds of a process never overlap, for the same reason
 * and because their notices could otherwise reach an importer in the wrong
 * order and leave it on a range the segment no longer has.
 *
 * Accesses during the rebind have undefined results, as RSMAPI documents.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"
#include "protocol.h"

/* One rebind at a time per process (see above). */
static pthread_mutex_t ucpg_rsm_rebind_lock = PTHREAD_MUTEX_INITIALIZER;

/* The importers told of a rebind, and what they were told. */
typedef struct ucpg_rsm_rebind {
    rsm_memseg_export_handle_t memseg;
    ucpg_domain_t             *domain;
    uint32_t                   segid;
    uint64_t                   base;
    ucpg_rsm_importer_t       *importers;
    unsigned                   count;
} ucpg_rsm_rebind_t;

static int ucpg_rsm_rebind_checks(rsm_memseg_export_handle_t memseg, void *vaddr, size_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    int ret = RSM_SUCCESS;

    ucpg_rsm_engine_lock();
    if ((memseg == NULL) || !ucpg_rsm_export_valid(memseg)) {
        ret = RSMERR_BAD_SEG_HNDL;
    } else if (!(memseg->flags & RSM_ALLOW_REBIND)) {
        ret = RSMERR_REBIND_NOT_ALLOWED;
    } else if (memseg->creator != ucpg_proc_self()) {
        ret = RSMERR_NOT_CREATOR;
    } else if ((vaddr == NULL) || (((uintptr_t)vaddr % (uintptr_t)page) != 0)) {
        ret = RSMERR_BAD_ADDR;
    } else if (size != memseg->size) {
        ret = RSMERR_BAD_LENGTH;           /* no partial rebind, as on Solaris */
    } else if ((vaddr != memseg->vaddr) && (madvise(vaddr, size, MADV_NORMAL) != 0)) {
        ret = RSMERR_BAD_ADDR;
    }
    ucpg_rsm_engine_unlock();
    return ret;
}

/* The new range, shareable, registered and with its rkey packed. */
static int ucpg_rsm_rebind_prepare(rsm_memseg_export_handle_t memseg, void *vaddr, size_t size,
                                   struct __rsm_memseg_export_handle *fresh)
{
    memset(fresh, 0, sizeof(*fresh));
    fresh->domain = memseg->domain;
    fresh->vaddr  = vaddr;
    fresh->size   = size;
    return ucpg_rsm_register(fresh);
}

/* Switches memseg to fresh; *old_p gets what it had, r the importers to
 * tell (engine lock held). */
static void ucpg_rsm_rebind_switch(rsm_memseg_export_handle_t memseg,
                                   const struct __rsm_memseg_export_handle *fresh,
                                   struct __rsm_memseg_export_handle *old_p,
                                   ucpg_rsm_rebind_t *r)
{
    *old_p           = *memseg;
    memseg->vaddr    = fresh->vaddr;
    memseg->memh     = fresh->memh;
    memseg->rkey     = fresh->rkey;
    memseg->rkey_len = fresh->rkey_len;
    memseg->shared   = fresh->shared;
    r->memseg    = memseg;
    r->domain    = memseg->domain;
    r->segid     = memseg->segid;
    r->base      = (uint64_t)(uintptr_t)fresh->vaddr;
    r->count     = memseg->nimporters;
    r->importers = malloc((memseg->nimporters + 1) * sizeof(*r->importers));
    if (r->importers != NULL) {
        memcpy(r->importers, memseg->importers, memseg->nimporters * sizeof(*r->importers));
    } else {
        r->count = 0;                      /* importers will see stale memory */
    }
}

/* Tells the importers where the segment's memory went (after the lock). */
static void ucpg_rsm_rebind_notify(const ucpg_rsm_rebind_t *r, size_t size, const void *rkey,
                                   size_t rkey_len)
{
    ucpg_rsm_msg_t msg;
    unsigned i;

    memset(&msg, 0, sizeof(msg));
    msg.type  = UCPG_RSM_MSG_REBIND;
    msg.segid = r->segid;
    msg.base  = r->base;
    msg.size  = size;
    for (i = 0; i < r->count; ++i) {
        msg.token = r->importers[i].token;
        ucpg_rsm_send(r->domain, r->importers[i].peer, &msg, rkey, rkey_len);
    }
}

/* Whether every importer told has confirmed, or is gone (engine lock held):
 * an importer that disconnected or died left the export's list. */
static int ucpg_rsm_rebind_confirmed(const ucpg_rsm_rebind_t *r)
{
    const struct __rsm_memseg_export_handle *e = r->memseg;
    unsigned i, j;

    if (!ucpg_rsm_export_valid(r->memseg)) {
        return 1;
    }
    for (i = 0; i < r->count; ++i) {
        for (j = 0; j < e->nimporters; ++j) {
            if ((e->importers[j].token == r->importers[i].token) &&
                (e->importers[j].peer == r->importers[i].peer) &&
                (e->importers[j].rebound != r->base)) {
                return 0;
            }
        }
    }
    return 1;
}

/* Waits, bounded by connect_timeout_ms, until ucpg_rsm_rebind_confirmed. */
static void ucpg_rsm_rebind_wait(const ucpg_rsm_rebind_t *r)
{
    unsigned timeout_ms = ucpg_domain_config(r->domain)->connect_timeout_ms;
    uint64_t deadline   = ucpg_time_ms() + timeout_ms;
    int done;

    for (;;) {
        ucpg_rsm_engine_lock();
        done = ucpg_rsm_rebind_confirmed(r);
        ucpg_rsm_engine_unlock();
        if (done) {
            return;
        }
        if (ucpg_time_ms() > deadline) {
            ucpg_warn("segment %#x: not every importer confirmed the rebind within %u ms; "
                      "the old range is given back anyway", r->segid, timeout_ms);
            return;
        }
        usleep(50);                       /* a round trip takes tens of microseconds */
    }
}

void ucpg_rsm_rebind_recv_ack(ucpg_peer_id_t src, const ucpg_rsm_msg_t *msg)
{
    struct __rsm_memseg_export_handle *e;
    unsigned i;

    ucpg_rsm_engine_lock();
    e = ucpg_rsm_export_find(msg->segid);
    for (i = 0; (e != NULL) && (i < e->nimporters); ++i) {
        if ((e->importers[i].token == msg->token) && (e->importers[i].peer == src)) {
            e->importers[i].rebound = msg->base;
            break;
        }
    }
    ucpg_rsm_engine_unlock();
}

static int ucpg_rsm_rebind_locked(rsm_memseg_export_handle_t memseg, void *vaddr, size_t size)
{
    struct __rsm_memseg_export_handle fresh, old;
    ucpg_rsm_rebind_t r;
    int ret;

    ret = ucpg_rsm_rebind_checks(memseg, vaddr, size);
    if ((ret != RSM_SUCCESS) || (vaddr == memseg->vaddr)) {
        return ret;
    }
    ret = ucpg_rsm_rebind_prepare(memseg, vaddr, size, &fresh);
    if (ret != RSM_SUCCESS) {
        return ret;
    }
    ucpg_rsm_engine_lock();
    ucpg_rsm_rebind_switch(memseg, &fresh, &old, &r);
    ucpg_rsm_engine_unlock();
    ucpg_rsm_rebind_notify(&r, size, fresh.rkey, fresh.rkey_len);
    ucpg_rsm_rebind_wait(&r);
    free(r.importers);
    ucpg_rsm_unregister(&old);
    return RSM_SUCCESS;
}

int rsm_memseg_export_rebind(rsm_memseg_export_handle_t memseg, void *vaddr, offset_t off,
                             size_t size)
{
    int ret;

    (void)off;                             /* unused, as on Solaris */
    pthread_mutex_lock(&ucpg_rsm_rebind_lock);
    ret = ucpg_rsm_rebind_locked(memseg, vaddr, size);
    pthread_mutex_unlock(&ucpg_rsm_rebind_lock);
    return ret;
}
