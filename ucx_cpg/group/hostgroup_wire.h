/*
 * hostgroup_wire.h - the entries of a host group's log (hostgroup.h): what
 * one member writes into the shared ring and every member decodes.
 *
 * Each log entry's payload starts with a 16-byte header:
 *
 *   type u8 | guarantee u8 | reason u16 | nodeid u32 | pid u32 | unused u32
 *
 * then, for MSG, the message's bytes; for JOIN and LEAVE, the member's id
 * (u64: the position of the entry that added it, unique for the log's life).
 * Fields are in the host's byte order: a log never leaves its host.
 *
 * The decoder trusts nothing (any process attached can write the ring): it
 * checks the type, the guarantee, the reason and the length, and refuses
 * with UCPG_ERR_MESSAGE without logging (its caller says what it read).
 */
#ifndef UCPG_GROUP_HOSTGROUP_WIRE_H
#define UCPG_GROUP_HOSTGROUP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum {
    UCPG_HOSTGROUP_MSG   = 1,   /* a message: header, then its bytes */
    UCPG_HOSTGROUP_JOIN  = 2,   /* a member added: header (its address), then its id */
    UCPG_HOSTGROUP_LEAVE = 3    /* a member removed (reason): header, then its id */
};

#define UCPG_HOSTGROUP_HDR_LEN    16u
#define UCPG_HOSTGROUP_CHANGE_LEN (UCPG_HOSTGROUP_HDR_LEN + 8u)   /* JOIN and LEAVE */

typedef struct ucpg_hostgroup_hdr {
    uint8_t  type;
    uint8_t  guarantee;    /* MSG: ucpg_group_guarantee_t */
    uint16_t reason;       /* LEAVE: ucpg_group_reason_t */
    uint32_t nodeid;       /* the sender (MSG) or the member (JOIN, LEAVE) */
    uint32_t pid;
    uint32_t unused;
} ucpg_hostgroup_hdr_t;

/* An entry decoded: pointers into the entry (valid while it is). */
typedef struct ucpg_hostgroup_entry {
    ucpg_hostgroup_hdr_t hdr;
    uint64_t             mid;    /* JOIN, LEAVE */
    const void          *data;   /* MSG */
    size_t               len;
} ucpg_hostgroup_entry_t;

/* Writes a JOIN or LEAVE entry (UCPG_HOSTGROUP_CHANGE_LEN bytes) into buf. */
void ucpg_hostgroup_encode_change(void *buf, uint8_t type, uint16_t reason, uint32_t nodeid,
                                  uint32_t pid, uint64_t mid);
/* Writes a MSG header into buf; the message's len bytes follow it. */
void ucpg_hostgroup_encode_msg(void *buf, uint8_t guarantee, uint32_t nodeid, uint32_t pid);

/* Decodes the len bytes at data. UCPG_ERR_MESSAGE if they are not an entry. */
ucpg_status_t ucpg_hostgroup_decode(const void *data, size_t len, ucpg_hostgroup_entry_t *e);

#endif
