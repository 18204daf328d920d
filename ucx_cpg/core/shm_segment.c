/*
 * shm_segment.c - private System V segments found by (id, size, cookie);
 * see shm_segment.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shm_segment.h"

#include <sys/ipc.h>
#include <sys/shm.h>

#include "log.h"
#include "proc.h"

/* The cookie is little-endian whatever the host, like everything on the wire. */
static void ucpg_shm_cookie_put(uint8_t *p, uint64_t v)
{
    unsigned i;

    for (i = 0; i < 8; ++i) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t ucpg_shm_cookie_get(const uint8_t *p)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < 8; ++i) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

ucpg_status_t ucpg_shm_segment_create(size_t size, const char *what, ucpg_shm_offer_t *offer,
                                      void **base_p)
{
    void *base;
    int shmid;

    if (size < 8) {
        return UCPG_ERR_INVALID_PARAM;
    }
    shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (shmid < 0) {
        ucpg_info("no %s (shmget of %zu bytes: %m)", what, size);
        return UCPG_ERR_IO;
    }
    base = shmat(shmid, NULL, 0);
    shmctl(shmid, IPC_RMID, NULL);          /* freed with the last detach */
    if (base == (void*)-1) {
        ucpg_info("no %s (shmat: %m)", what);
        return UCPG_ERR_IO;
    }
    offer->shmid  = shmid;
    offer->size   = size;
    offer->cookie = ucpg_proc_random64();
    ucpg_shm_cookie_put(base, offer->cookie);
    *base_p = base;
    return UCPG_OK;
}

ucpg_status_t ucpg_shm_segment_attach(const ucpg_shm_offer_t *offer, int writable,
                                      void **base_p)
{
    struct shmid_ds ds;
    void *base;

    if ((offer->size < 8) || (offer->size > SIZE_MAX) || (offer->shmid < 0)) {
        return UCPG_ERR_NOT_FOUND;
    }
    if (shmctl(offer->shmid, IPC_STAT, &ds) != 0) {
        ucpg_debug("shared-memory segment %d: %m", (int)offer->shmid);
        return UCPG_ERR_NOT_FOUND;
    }
    if (ds.shm_segsz != offer->size) {
        return UCPG_ERR_NOT_FOUND;
    }
    base = shmat(offer->shmid, NULL, writable ? 0 : SHM_RDONLY);
    if (base == (void*)-1) {
        ucpg_debug("shared-memory segment %d: shmat: %m", (int)offer->shmid);
        return UCPG_ERR_NOT_FOUND;
    }
    if (ucpg_shm_cookie_get(base) != offer->cookie) {
        shmdt(base);
        return UCPG_ERR_NOT_FOUND;
    }
    *base_p = base;
    return UCPG_OK;
}

void ucpg_shm_segment_detach(void *base)
{
    if (base != NULL) {
        shmdt(base);
    }
}
