/* protocol.c - encode and validate RSM protocol messages (see protocol.h). */
#include "protocol.h"

#include "rsmapi.h"
#include "core/wire.h"

size_t ucpg_rsm_msg_encode(const ucpg_rsm_msg_t *msg, uint8_t out[UCPG_RSM_MSG_LEN])
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_RSM_MSG_LEN);
    ucpg_wire_put_u8(&w, msg->type);
    ucpg_wire_put_u64(&w, msg->req_id);
    ucpg_wire_put_u32(&w, msg->segid);
    ucpg_wire_put_u32(&w, msg->node);
    ucpg_wire_put_u32(&w, msg->perm);
    ucpg_wire_put_u32(&w, msg->uid);
    ucpg_wire_put_u32(&w, msg->gid);
    ucpg_wire_put_u32(&w, (uint32_t)msg->err);
    ucpg_wire_put_u32(&w, msg->mode);
    ucpg_wire_put_u32(&w, 0);             /* reserved, keeps 8-byte fields aligned */
    ucpg_wire_put_u64(&w, msg->size);
    ucpg_wire_put_u64(&w, msg->base);
    ucpg_wire_put_u64(&w, msg->token);
    return w.len;
}

static int ucpg_rsm_msg_valid(const ucpg_rsm_msg_t *m, uint32_t reserved, size_t data_len)
{
    if (reserved != 0) {
        return 0;
    }
    switch (m->type) {
    case UCPG_RSM_MSG_CONNECT_REQ:
        return (data_len == 0) && (m->node != 0) && ((m->perm & ~(uint32_t)RSM_PERM_RDWR) == 0);
    case UCPG_RSM_MSG_CONNECT_REP:
        if (m->err != RSM_SUCCESS) {
            return (data_len == 0) && (m->err > 0) && (m->err < 200);
        }
        return (data_len > 0) && (data_len <= UCPG_RSM_RKEY_MAX) && (m->size > 0) &&
               (m->base + m->size > m->base) && ((m->mode & ~0777u) == 0) && (m->token != 0);
    case UCPG_RSM_MSG_REBIND:
        return (data_len > 0) && (data_len <= UCPG_RSM_RKEY_MAX) && (m->size > 0) &&
               (m->base + m->size > m->base) && (m->token != 0);
    case UCPG_RSM_MSG_DISCONNECT:
    case UCPG_RSM_MSG_ABORT:
    case UCPG_RSM_MSG_REBIND_ACK:
    case UCPG_RSM_MSG_SIGNAL_TO_EXPORT:
    case UCPG_RSM_MSG_SIGNAL_TO_IMPORT:
        return (data_len == 0) && (m->token != 0);
    default:
        return 0;
    }
}

ucpg_status_t ucpg_rsm_msg_decode(const void *buf, size_t len, size_t data_len,
                                  ucpg_rsm_msg_t *msg_p)
{
    ucpg_wire_reader_t r;
    ucpg_rsm_msg_t m;
    uint32_t reserved;

    ucpg_wire_reader_init(&r, buf, len);
    m.type   = ucpg_wire_get_u8(&r);
    m.req_id = ucpg_wire_get_u64(&r);
    m.segid  = ucpg_wire_get_u32(&r);
    m.node   = ucpg_wire_get_u32(&r);
    m.perm   = ucpg_wire_get_u32(&r);
    m.uid    = ucpg_wire_get_u32(&r);
    m.gid    = ucpg_wire_get_u32(&r);
    m.err    = (int32_t)ucpg_wire_get_u32(&r);
    m.mode   = ucpg_wire_get_u32(&r);
    reserved = ucpg_wire_get_u32(&r);
    m.size   = ucpg_wire_get_u64(&r);
    m.base   = ucpg_wire_get_u64(&r);
    m.token  = ucpg_wire_get_u64(&r);
    if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || !ucpg_rsm_msg_valid(&m, reserved, data_len)) {
        return UCPG_ERR_MESSAGE;
    }
    *msg_p = m;
    return UCPG_OK;
}
