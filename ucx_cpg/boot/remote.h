/*
 * remote.h - looking into the host registry of another node.
 *
 * Segment ids (RSMAPI) are published in the registry of the exporter's host,
 * which only processes of that host can read. A process of another host
 * asks any process of that node instead: every process of a domain answers
 * such queries from its registry, whether or not it uses RSM or CPG itself,
 * because the boot layer installs the handler as soon as the domain starts
 * (ucpg_boot_remote_start). Answering grants nothing: the exporter still
 * applies its access list when the importer connects.
 *
 * Wire format (AM id UCPG_AM_ID_BOOT), little-endian:
 *   SEG_QUERY  u8 type = 1, u64 req_id, u32 node, u32 segid             17 bytes
 *   SEG_ANSWER u8 type = 2, u64 req_id, i32 status, u32 owner, u64 uuid 25 bytes
 * status is UCPG_OK (owner and uuid != 0 name the exporter) or
 * UCPG_ERR_NOT_FOUND (not published there; owner and uuid are 0).
 *
 * The CPG group directory (directory.c) uses the same service with a
 * 9-byte header (u8 type, u64 req_id; types 3-6 of dir_wire.h) and its
 * body in the message's data.
 */
#ifndef UCPG_BOOT_REMOTE_H
#define UCPG_BOOT_REMOTE_H

#include "core/domain.h"
#include "registry.h"

#define UCPG_BOOT_PREFIX_LEN   9u
#define UCPG_BOOT_QUERY_LEN   17u
#define UCPG_BOOT_ANSWER_LEN  25u

typedef enum ucpg_boot_msg_type {
    UCPG_BOOT_MSG_SEG_QUERY  = 1,
    UCPG_BOOT_MSG_SEG_ANSWER = 2
} ucpg_boot_msg_type_t;

typedef struct ucpg_boot_msg {
    uint8_t       type;
    uint64_t      req_id;
    uint32_t      node;     /* SEG_QUERY */
    uint32_t      segid;    /* SEG_QUERY */
    ucpg_status_t status;   /* SEG_ANSWER */
    uint32_t      owner;    /* SEG_ANSWER */
    uint64_t      uuid;     /* SEG_ANSWER */
} ucpg_boot_msg_t;

/* Returns the length written (UCPG_BOOT_QUERY_LEN or _ANSWER_LEN). */
size_t        ucpg_boot_msg_encode(const ucpg_boot_msg_t *msg, uint8_t out[UCPG_BOOT_ANSWER_LEN]);
/* UCPG_ERR_MESSAGE unless buf holds exactly one valid message. */
ucpg_status_t ucpg_boot_msg_decode(const void *buf, size_t len, ucpg_boot_msg_t *msg_p);

/* The 9-byte header of directory messages. decode: UCPG_ERR_MESSAGE unless
 * it is exactly 9 bytes of a directory type. */
size_t        ucpg_boot_prefix_encode(uint8_t type, uint64_t req_id,
                                      uint8_t out[UCPG_BOOT_PREFIX_LEN]);
ucpg_status_t ucpg_boot_prefix_decode(const void *buf, size_t len, ucpg_boot_msg_t *msg_p);

/* Installs the query handler (reg may be NULL: then every query is answered
 * NOT_FOUND) and a peer listener; stop removes both. A boot method starts
 * it right after ucpg_domain_start, before it says HELLO to anyone, so
 * every peer that is UP somewhere answers queries. */
ucpg_status_t ucpg_boot_remote_start(ucpg_domain_t *d, ucpg_registry_t *reg);
void          ucpg_boot_remote_stop(void);

/*
 * The exporter of segment {node, segid}, asked of a process of `node`
 * (node must not be ours; use the registry for that). Tries the UP peers of
 * that node in id order until one answers. UCPG_ERR_NOT_FOUND: not
 * published there. UCPG_ERR_PEER_DOWN: no process of that node answered
 * (each is given connect_timeout_ms, and one that goes down is skipped at
 * once). UCPG_ERR_SHUTDOWN: the service is not running.
 */
ucpg_status_t ucpg_boot_remote_seg_lookup(ucpg_domain_t *d, uint32_t node, uint32_t segid,
                                          uint32_t *owner_p, uint64_t *uuid_p);

/*
 * A directory query to peer `asked`: sends (type, body) and waits for its
 * DIR_ANSWER (at most timeout_ms). UCPG_OK: *answer_p is a
 * malloc'ed copy of the answer's body (the caller frees it). Else
 * UCPG_ERR_PEER_DOWN / UCPG_ERR_TIMEOUT / UCPG_ERR_MESSAGE: no answer.
 * Never from the progress thread.
 */
ucpg_status_t ucpg_boot_remote_call(ucpg_domain_t *d, ucpg_peer_id_t asked, uint8_t type,
                                    const void *body, size_t len, unsigned timeout_ms,
                                    void **answer_p, size_t *answer_len_p);

/* Sends (type, req_id, body) without waiting (body is copied): an answer,
 * or a one-way message. Any thread. */
ucpg_status_t ucpg_boot_remote_post(ucpg_domain_t *d, ucpg_peer_id_t dst, uint8_t type,
                                    uint64_t req_id, const void *body, size_t len);

#endif
