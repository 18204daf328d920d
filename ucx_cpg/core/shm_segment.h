/*
 * shm_segment.h - a System V shared-memory segment that only its creator's
 * peers on this host can find, and that the kernel frees with the last
 * process detached from it.
 *
 * The creator makes it with IPC_PRIVATE and marks it for removal at once, so
 * a crash leaves nothing behind (Linux still lets peers attach such a
 * segment by id). Its first 8 bytes hold a random cookie: a peer given
 * (id, size, cookie) attaches only if all three match, so an id of another
 * IPC namespace, of another host or of a segment reused since is refused.
 * The body pool (shm_pool.h) and the host-wide log (shm_log.h) are built on it.
 */
#ifndef UCPG_CORE_SHM_SEGMENT_H
#define UCPG_CORE_SHM_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* What a peer needs to attach a segment (sent in an OFFER). */
typedef struct ucpg_shm_offer {
    int32_t  shmid;
    uint64_t size;     /* bytes of the segment */
    uint64_t cookie;
} ucpg_shm_offer_t;

/* Creates and attaches (read-write) a zeroed segment of size bytes whose
 * first 8 bytes hold a new random cookie; fills offer. UCPG_ERR_IO if the
 * system refuses it (logged at info level, with what for). */
ucpg_status_t ucpg_shm_segment_create(size_t size, const char *what, ucpg_shm_offer_t *offer,
                                      void **base_p);

/* Attaches the segment an offer names, read-only unless writable.
 * UCPG_ERR_NOT_FOUND if it cannot be attached or is not the one offered
 * (size, cookie): it is not on this host or not ours. */
ucpg_status_t ucpg_shm_segment_attach(const ucpg_shm_offer_t *offer, int writable,
                                      void **base_p);

/* Detaches a segment attached by either call above (NULL: nothing). */
void ucpg_shm_segment_detach(void *base);

#endif
