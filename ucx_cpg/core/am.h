/*
 * am.h - active messages between peers of a domain.
 *
 * Each layer owns AM ids from the table below and registers one handler per
 * id. A message is (layer header, data): the header (at most
 * UCPG_AM_HDR_MAX bytes) is copied at send time, so it may live on the
 * caller's stack; the data must stay valid until the send completes. Data of
 * any size travels eagerly (see am.c); the receiver always gets the whole
 * message in one handler call.
 *
 * Every message carries the common wire header (wire.h); the receiver checks
 * it and drops, with a log line, anything malformed or from a sender that is
 * not an UP peer of this domain.
 */
#ifndef UCPG_CORE_AM_H
#define UCPG_CORE_AM_H

#include "buf.h"
#include "domain.h"

/* AM ids, one range per layer. */
typedef enum ucpg_am_id {
    UCPG_AM_ID_CORE  = 0,   /* domain control: HELLO, HELLO_ACK, BYE */
    UCPG_AM_ID_TEST  = 1,   /* tests, the demo and tools */
    UCPG_AM_ID_GROUP = 2,   /* group layer (first of its ids) */
    UCPG_AM_ID_RSM   = 6,   /* rsm layer (first of its ids) */
    UCPG_AM_ID_BOOT  = 10,  /* boot layer: queries of another host's registry */
    UCPG_AM_ID_SHM   = 11,  /* core: bodies in shared memory for another id (am_shm.c) */
    UCPG_AM_ID_MAX   = 16
} ucpg_am_id_t;

#define UCPG_AM_HDR_MAX  1024u

/* Runs in a progress context. data is valid only during the call; if buf is
 * not NULL, data is buf->data and a handler may keep the body by taking a
 * reference to buf (ucpg_buf_ref) instead of copying it. */
typedef void (*ucpg_am_handler_t)(void *arg, ucpg_peer_id_t src, const void *hdr,
                                  size_t hdr_len, void *data, size_t len, ucpg_buf_t *buf);
typedef void (*ucpg_am_send_cb_t)(void *arg, ucpg_status_t status);

/* UCPG_ERR_EXISTS if a handler is already set for id. */
ucpg_status_t ucpg_am_register(ucpg_domain_t *d, unsigned am_id, ucpg_am_handler_t handler,
                               void *arg);
/* After return the handler is not running and will not be called again
 * (called from a handler itself, only the latter holds). Never call it
 * holding a lock the handler takes. */
void          ucpg_am_unregister(ucpg_domain_t *d, unsigned am_id);

/*
 * Starts sending. UCPG_OK: done already (cb is not called). UCPG_INPROGRESS:
 * cb(arg, status) is called once the data buffer may be reused. Errors:
 * UCPG_ERR_PEER_DOWN (dst is not an UP peer), UCPG_ERR_INVALID_PARAM,
 * UCPG_ERR_TRANSPORT. A peer dying mid-send completes the send with
 * UCPG_ERR_PEER_DOWN within the peer-failure bound.
 */
ucpg_status_t ucpg_am_send_nb(ucpg_domain_t *d, ucpg_peer_id_t dst, unsigned am_id,
                              const void *hdr, size_t hdr_len, const void *data,
                              size_t len, ucpg_am_send_cb_t cb, void *arg);

/*
 * Sends buf's bytes as the data, like ucpg_am_send_nb. A buffer from
 * ucpg_am_buf_new that lives in this process's shared-memory pool reaches a
 * peer on this host with one copy (am_shm.c); the send keeps what it needs
 * of buf by itself, so the caller's reference rules are those of
 * ucpg_am_send_nb (buf stays valid until cb).
 */
ucpg_status_t ucpg_am_send_buf_nb(ucpg_domain_t *d, ucpg_peer_id_t dst, unsigned am_id,
                                  const void *hdr, size_t hdr_len, ucpg_buf_t *buf,
                                  ucpg_am_send_cb_t cb, void *arg);

/* ucpg_am_send_buf_nb, waiting for local completion like ucpg_am_send. */
ucpg_status_t ucpg_am_send_buf(ucpg_domain_t *d, ucpg_peer_id_t dst, unsigned am_id,
                               const void *hdr, size_t hdr_len, ucpg_buf_t *buf);

/* A buffer for a message body of len bytes, with one reference: in the
 * shared-memory pool if the body is large and the pool has room, else on
 * the heap. NULL if out of memory. */
ucpg_buf_t   *ucpg_am_buf_new(ucpg_domain_t *d, size_t len);
/* Copies len bytes from src into buf (made by ucpg_am_buf_new) at off: into
 * a pool block with ucpg_buf_copy_shared, since another process reads it
 * next, else with ucpg_buf_copy. */
void          ucpg_am_buf_write(ucpg_domain_t *d, ucpg_buf_t *buf, size_t off, const void *src,
                                size_t len);
/* What the shared-memory path did (counters since the domain started). */
typedef struct ucpg_am_shm_stats {
    uint64_t pool_bytes;       /* the pool's size, 0 if there is none */
    uint64_t pool_used;        /* bytes of it in use now */
    uint64_t bodies_sent;      /* pool bodies sent as BODY (one copy) */
    uint64_t bodies_via_ucx;   /* pool bodies sent through UCX (no or refused offer yet) */
    uint64_t bodies_received;  /* BODY messages copied out and delivered */
    uint64_t bodies_lost;      /* BODY messages that could not be read (logged) */
    uint64_t offers_refused;   /* peers that could not attach our pool */
} ucpg_am_shm_stats_t;

void          ucpg_am_shm_stats(ucpg_domain_t *d, ucpg_am_shm_stats_t *stats);

/* Sends and waits for local completion (the calling thread progresses). */
ucpg_status_t ucpg_am_send(ucpg_domain_t *d, ucpg_peer_id_t dst, unsigned am_id,
                           const void *hdr, size_t hdr_len, const void *data, size_t len);

#endif
