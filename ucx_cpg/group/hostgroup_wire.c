/*
 * hostgroup_wire.c - encoding and checking the entries of a host group's
 * log (format in hostgroup_wire.h).
 */
#include "hostgroup_wire.h"

#include <string.h>

#include "group.h"

void ucpg_hostgroup_encode_change(void *buf, uint8_t type, uint16_t reason, uint32_t nodeid,
                                  uint32_t pid, uint64_t mid)
{
    ucpg_hostgroup_hdr_t h = {type, 0, reason, nodeid, pid, 0};

    memcpy(buf, &h, sizeof(h));
    memcpy((uint8_t*)buf + UCPG_HOSTGROUP_HDR_LEN, &mid, sizeof(mid));
}

void ucpg_hostgroup_encode_msg(void *buf, uint8_t guarantee, uint32_t nodeid, uint32_t pid)
{
    ucpg_hostgroup_hdr_t h = {UCPG_HOSTGROUP_MSG, guarantee, 0, nodeid, pid, 0};

    memcpy(buf, &h, sizeof(h));
}

/* A JOIN or LEAVE: exactly a header and an id; a LEAVE names why. */
static ucpg_status_t ucpg_hostgroup_decode_change(const uint8_t *p, size_t len,
                                                  ucpg_hostgroup_entry_t *e)
{
    if (len != UCPG_HOSTGROUP_CHANGE_LEN) {
        return UCPG_ERR_MESSAGE;
    }
    if ((e->hdr.type == UCPG_HOSTGROUP_LEAVE) &&
        ((e->hdr.reason < UCPG_GROUP_REASON_LEAVE) ||
         (e->hdr.reason > UCPG_GROUP_REASON_PROCDOWN) ||
         (e->hdr.reason == UCPG_GROUP_REASON_NODEUP))) {
        return UCPG_ERR_MESSAGE;
    }
    if ((e->hdr.type == UCPG_HOSTGROUP_JOIN) && (e->hdr.reason != UCPG_GROUP_REASON_JOIN)) {
        return UCPG_ERR_MESSAGE;
    }
    memcpy(&e->mid, p + UCPG_HOSTGROUP_HDR_LEN, sizeof(e->mid));
    e->data = NULL;
    e->len  = 0;
    return UCPG_OK;
}

ucpg_status_t ucpg_hostgroup_decode(const void *data, size_t len, ucpg_hostgroup_entry_t *e)
{
    const uint8_t *p = data;

    if (len < UCPG_HOSTGROUP_HDR_LEN) {
        return UCPG_ERR_MESSAGE;
    }
    memcpy(&e->hdr, p, sizeof(e->hdr));
    switch (e->hdr.type) {
    case UCPG_HOSTGROUP_MSG:
        if ((e->hdr.guarantee > UCPG_GROUP_SAFE) || (e->hdr.reason != 0)) {
            return UCPG_ERR_MESSAGE;
        }
        e->mid  = 0;
        e->data = p + UCPG_HOSTGROUP_HDR_LEN;
        e->len  = len - UCPG_HOSTGROUP_HDR_LEN;
        return UCPG_OK;
    case UCPG_HOSTGROUP_JOIN:
    case UCPG_HOSTGROUP_LEAVE:
        return ucpg_hostgroup_decode_change(p, len, e);
    default:
        return UCPG_ERR_MESSAGE;
    }
}
