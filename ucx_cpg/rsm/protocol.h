/*
 * protocol.h - the RSM wire protocol on UCPG_AM_ID_RSM.
 *
 *   CONNECT_REQ  importer -> exporter  {req_id, segid, importer node, perm, uid, gid}
 *   CONNECT_REP  exporter -> importer  {req_id, err, mode, size, base, token} + rkey bytes
 *   DISCONNECT   importer -> exporter  {segid, token}
 *   ABORT        exporter -> importer  {segid, token}: unpublished or destroyed
 *   SIGNAL_TO_EXPORT / SIGNAL_TO_IMPORT  {segid, token}: one counted event
 *   REBIND       exporter -> importer  {segid, token, base, size} + new rkey
 *   REBIND_ACK   importer -> exporter  {segid, token, base}: it follows the rebind
 *
 * The exporter checks the access list and the uid/gid/mode rule before it
 * answers, and sends the rkey only with err == RSM_SUCCESS: UCX cannot make a
 * read-only rkey, so the library is the only guard. Every field is validated
 * by ucpg_rsm_msg_decode before use.
 */
#ifndef UCPG_RSM_PROTOCOL_H
#define UCPG_RSM_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum ucpg_rsm_msg_type {
    UCPG_RSM_MSG_CONNECT_REQ = 1,
    UCPG_RSM_MSG_CONNECT_REP = 2,
    UCPG_RSM_MSG_DISCONNECT  = 3,
    UCPG_RSM_MSG_ABORT       = 4,
    UCPG_RSM_MSG_SIGNAL_TO_EXPORT = 5,   /* rsm_intr_signal_post on an import */
    UCPG_RSM_MSG_SIGNAL_TO_IMPORT = 6,   /* rsm_intr_signal_post on an export */
    UCPG_RSM_MSG_REBIND      = 7,        /* new memory: {base, size} + new rkey */
    UCPG_RSM_MSG_REBIND_ACK  = 8         /* the importer follows the rebind to base */
} ucpg_rsm_msg_type_t;

#define UCPG_RSM_RKEY_MAX 4096u

typedef struct ucpg_rsm_msg {
    uint8_t  type;
    uint64_t req_id;   /* CONNECT_*: matches a reply to its request */
    uint32_t segid;
    uint32_t node;     /* CONNECT_REQ: importer's node id */
    uint32_t perm;     /* CONNECT_REQ: requested RSM_PERM_* */
    uint32_t uid, gid; /* CONNECT_REQ: importer's credentials */
    int32_t  err;      /* CONNECT_REP: RSM_SUCCESS or RSMERR_* */
    uint32_t mode;     /* CONNECT_REP: granted mode bits */
    uint64_t size;     /* CONNECT_REP: segment length */
    uint64_t base;     /* CONNECT_REP: remote address of offset 0 */
    uint64_t token;    /* identifies one connection at the exporter */
} ucpg_rsm_msg_t;

#define UCPG_RSM_MSG_LEN (1 + 8 + 4 * 8 + 8 * 3)

size_t        ucpg_rsm_msg_encode(const ucpg_rsm_msg_t *msg, uint8_t out[UCPG_RSM_MSG_LEN]);
/* data_len: length of the AM data (the rkey of a successful CONNECT_REP;
 * nothing otherwise). UCPG_ERR_MESSAGE on anything inconsistent. */
ucpg_status_t ucpg_rsm_msg_decode(const void *buf, size_t len, size_t data_len,
                                  ucpg_rsm_msg_t *msg_p);

#endif
