/*
 * dir_wire.h - the group directory's messages between nodes (directory.c).
 *
 * They ride on the boot layer's query service (remote.c, AM id
 * UCPG_AM_ID_BOOT): the AM header is the service's 9-byte prefix (u8 type,
 * u64 req_id) and the body, encoded here, is the AM data. Little-endian:
 *
 *   DIR_OPEN    creator, u32 name_len, name           (answered: DIR_ANSWER)
 *   DIR_LIST    u8 all, u32 name_len, name            (answered: DIR_ANSWER)
 *   DIR_PUBLISH record                                (one-way, req_id 0)
 *   DIR_ANSWER  i32 status, u8 created, u32 nrecords, record...
 *
 *   member  = u32 slot, u32 nodeid, u32 pid, u64 uuid                 20 bytes
 *   record  = u64 gen, u64 view_id, u32 index, u32 seq_slot, u64 seq_uuid,
 *             u32 name_len, name, u32 nmembers, member...
 *
 * An answer to DIR_OPEN carries the group without its members (nmembers
 * 0); a DIR_PUBLISH record lists the sequencer first.
 *
 * Limits: names up to UCPG_REGISTRY_GROUP_NAME_MAX bytes, records up to
 * UCPG_REGISTRY_GROUP_MEMBERS members and answers up to
 * UCPG_REGISTRY_NGROUPS records; a gen and a seq_uuid are never 0. Anything else, or bytes
 * left over, is malformed.
 */
#ifndef UCPG_BOOT_DIR_WIRE_H
#define UCPG_BOOT_DIR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/wire.h"
#include "registry.h"

typedef enum ucpg_boot_dir_msg_type {
    UCPG_BOOT_MSG_DIR_OPEN    = 3,
    UCPG_BOOT_MSG_DIR_LIST    = 4,
    UCPG_BOOT_MSG_DIR_PUBLISH = 5,
    UCPG_BOOT_MSG_DIR_ANSWER  = 6
} ucpg_boot_dir_msg_type_t;

#define UCPG_BOOT_DIR_MEMBER_LEN  20u

/* A decoded body. name and the records point into the decoded bytes. */
typedef struct ucpg_boot_dir_msg {
    uint8_t                 type;
    ucpg_registry_gmember_t creator;    /* DIR_OPEN */
    const uint8_t          *name;       /* DIR_OPEN, DIR_LIST */
    uint32_t                name_len;
    uint8_t                 all;        /* DIR_LIST: every group (name ignored) */
    ucpg_status_t           status;     /* DIR_ANSWER */
    uint8_t                 created;    /* DIR_ANSWER to DIR_OPEN */
    uint32_t                nrecords;   /* DIR_ANSWER; 1 for DIR_PUBLISH */
    const uint8_t          *records;    /* DIR_ANSWER, DIR_PUBLISH */
    size_t                  records_len;
} ucpg_boot_dir_msg_t;

/* Bytes of a record, and of the other bodies (without records). */
size_t ucpg_boot_dir_record_len(uint32_t name_len, uint32_t nmembers);
#define UCPG_BOOT_DIR_OPEN_LEN(name_len)  (UCPG_BOOT_DIR_MEMBER_LEN + 4u + (name_len))
#define UCPG_BOOT_DIR_LIST_LEN(name_len)  (1u + 4u + (name_len))
#define UCPG_BOOT_DIR_ANSWER_HEAD_LEN     9u

/* Encoders: append to w (overflow is w's to report). */
void ucpg_boot_dir_put_open(ucpg_wire_writer_t *w, const ucpg_registry_gmember_t *creator,
                            const void *name, uint32_t name_len);
void ucpg_boot_dir_put_list(ucpg_wire_writer_t *w, int all, const void *name,
                            uint32_t name_len);
void ucpg_boot_dir_put_answer_head(ucpg_wire_writer_t *w, ucpg_status_t status, int created,
                                   uint32_t nrecords);
void ucpg_boot_dir_put_record(ucpg_wire_writer_t *w, const ucpg_registry_group_t *group,
                              const ucpg_registry_gmember_t *members, uint32_t nmembers);

/* The statuses an answer may carry (others are sent as UCPG_ERR_BUSY). */
int ucpg_boot_dir_status_valid(ucpg_status_t status);

/* UCPG_ERR_MESSAGE unless buf is exactly one valid body of type. */
ucpg_status_t ucpg_boot_dir_msg_decode(uint8_t type, const void *buf, size_t len,
                                       ucpg_boot_dir_msg_t *msg_p);

/* Record iteration over a decoded message's records (already validated):
 * fills group (its nmembers too) and members (capacity
 * UCPG_REGISTRY_GROUP_MEMBERS); returns 0 after the last. */
typedef struct ucpg_boot_dir_records {
    ucpg_wire_reader_t r;
    uint32_t           left;
} ucpg_boot_dir_records_t;

void ucpg_boot_dir_records_init(ucpg_boot_dir_records_t *it, const ucpg_boot_dir_msg_t *msg);
int  ucpg_boot_dir_records_next(ucpg_boot_dir_records_t *it, ucpg_registry_group_t *group,
                                ucpg_registry_gmember_t *members);

#endif
