/*
 * protocol.h - the group layer's messages on the wire (docs/protocol.md).
 *
 * Every group message is one active message on UCPG_AM_ID_GROUP whose layer
 * header is the fixed-size ucpg_group_msg_t below; what the data part holds
 * depends on the type. Views and sync replies have a body of their own,
 * encoded and decoded here too, so that everything received from a peer is
 * validated in one place (and fuzzed: test/fuzz/fuzz_group.c).
 */
#ifndef UCPG_GROUP_PROTOCOL_H
#define UCPG_GROUP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum ucpg_group_msg_type {
    UCPG_GROUP_MSG_REQ      = 1,  /* member -> sequencer: please order this */
    UCPG_GROUP_MSG_EVT      = 2,  /* sequencer -> member: event number seq */
    UCPG_GROUP_MSG_ACK      = 3,  /* member -> sequencer: received / consumed through */
    UCPG_GROUP_MSG_STABLE   = 4,  /* sequencer -> member: every member has through a */
    UCPG_GROUP_MSG_SYNC_REQ = 5,  /* new sequencer -> member: send me what you hold */
    UCPG_GROUP_MSG_SYNC_REP = 6,  /* member -> new sequencer: events held */
    UCPG_GROUP_MSG_NOT_SEQ  = 7,  /* "I do not order this group": look it up again */
    UCPG_GROUP_MSG_BATCH    = 8,  /* a container of small messages for one destination */
    UCPG_GROUP_MSG_SILENT   = 9,  /* member -> candidate: the sequencer (origin) is silent */
    UCPG_GROUP_MSG_PROBE    = 10, /* candidate -> member: answer me */
    UCPG_GROUP_MSG_ALIVE    = 11, /* member -> candidate: the answer */
    UCPG_GROUP_MSG_EXPEL    = 12, /* candidate -> all: the sequencer (origin) is out */
    UCPG_GROUP_MSG_UNANSWERED = 13, /* joiner -> members: the sequencer (origin) does not
                                     * answer my JOIN */
    UCPG_GROUP_MSG_LAST     = 13
} ucpg_group_msg_type_t;

typedef enum ucpg_group_kind {
    UCPG_GROUP_KIND_DATA  = 0,
    UCPG_GROUP_KIND_JOIN  = 1,    /* REQ only */
    UCPG_GROUP_KIND_LEAVE = 2,    /* REQ only; guarantee field holds the reason */
    UCPG_GROUP_KIND_VIEW  = 3,    /* EVT only */
    UCPG_GROUP_KIND_LAST  = 3
} ucpg_group_kind_t;

#define UCPG_GROUP_FLAG_RETRANS 0x01u   /* EVT resent during recovery */
#define UCPG_GROUP_FLAG_OWN     0x02u   /* EVT of DATA to its own sender: no payload
                                         * (the sender still holds it as pending) */
#define UCPG_GROUP_FLAG_REPAIR  0x04u   /* ACK: send me every event after a again
                                         * (the delivery tree failed me) */
#define UCPG_GROUP_FLAG_FLAT    0x08u   /* EVT of DATA the sequencer sent to every
                                         * member itself: nobody passes it on */
#define UCPG_GROUP_FLAG_SUPERSEDED 0x10u /* EXPEL from the founder of a new incarnation
                                         * that replaced ours while all of us were
                                         * stopped (silence.c) */
#define UCPG_GROUP_FLAG_PASSED  0x80u   /* local, never on the wire (the decoder
                                         * refuses it): an EVT whose BATCH was
                                         * passed on whole down the tree */

/* Who an event came from. */
typedef struct ucpg_group_origin {
    uint32_t slot;
    uint32_t nodeid;
    uint32_t pid;
    uint64_t uuid;
    uint64_t lseq;      /* the sender's own number for it */
} ucpg_group_origin_t;

/*
 * The header of every group message. a and b mean:
 *   REQ      a = lseq
 *   EVT      a = seq, b = stable-through (piggybacked)
 *   ACK      a = received-through, b = consumed-through
 *   STABLE   a = stable-through
 *   SYNC_REQ a = attempt id
 *   SYNC_REP a = attempt id, b = received-through
 *   NOT_SEQ  a = lseq of the refused request
 *   BATCH    a = number of messages inside (gindex, ggen: 0, 1)
 *   SILENT   a = view id; origin = the silent sequencer
 *   PROBE    a = probe id
 *   ALIVE    a = the probe id answered
 *   EXPEL    a = view id; origin = the sequencer removed
 *   UNANSWERED origin = the sequencer that does not answer
 * origin is meaningful for EVT, SILENT, EXPEL and UNANSWERED only.
 */
typedef struct ucpg_group_msg {
    uint8_t             type;
    uint8_t             kind;
    uint8_t             guarantee;
    uint8_t             flags;
    uint32_t            gindex;   /* the group: directory entry ... */
    uint64_t            ggen;     /* ... and incarnation */
    uint64_t            a;
    uint64_t            b;
    ucpg_group_origin_t origin;
} ucpg_group_msg_t;

#define UCPG_GROUP_MSG_LEN  (4 + 4 + 8 + 8 + 8 + (4 + 4 + 4 + 8 + 8))

size_t        ucpg_group_msg_encode(const ucpg_group_msg_t *msg, uint8_t out[UCPG_GROUP_MSG_LEN]);
/* Validates every field that can be checked without group state. buf must
 * hold exactly UCPG_GROUP_MSG_LEN bytes; on UCPG_ERR_MESSAGE *msg holds
 * nothing meaningful (it is written as it is read). */
ucpg_status_t ucpg_group_msg_decode(const void *buf, size_t len, ucpg_group_msg_t *msg);

/* --- batch body: small messages packed into one active message ----------- */

/* Each entry: u32 data length, the 60-byte header, the data. */
#define UCPG_GROUP_BATCH_ENTRY_HDR (4 + UCPG_GROUP_MSG_LEN)

size_t        ucpg_group_batch_put(void *out, const uint8_t hdr[UCPG_GROUP_MSG_LEN],
                                   const void *data, uint32_t len);
/* Reads the entry at *pos: its (validated) header and data. A nested BATCH
 * is refused. UCPG_ERR_NOT_FOUND at the end, UCPG_ERR_MESSAGE if malformed. */
ucpg_status_t ucpg_group_batch_next(const void *buf, size_t len, size_t *pos,
                                    ucpg_group_msg_t *msg, const void **data_p,
                                    size_t *data_len_p);

/* --- view body (EVT of kind VIEW) ---------------------------------------- */

/* A process in a view body: members in age order (the first orders the
 * group), then the left and joined lists. */
typedef struct ucpg_group_vmember {
    uint32_t slot;
    uint32_t nodeid;
    uint32_t pid;
    uint32_t reason;
    uint64_t uuid;
    uint64_t next_lseq;   /* members: the next number expected from it */
} ucpg_group_vmember_t;

typedef struct ucpg_group_vbody {
    uint64_t              view_id;
    uint32_t              nmembers, nleft, njoined;
    ucpg_group_vmember_t *members;   /* nmembers + nleft + njoined entries */
} ucpg_group_vbody_t;

#define UCPG_GROUP_VMEMBER_LEN (4 * 4 + 8 + 8)
#define UCPG_GROUP_VIEW_MAX    1024u   /* entries per list */

size_t        ucpg_group_vbody_len(const ucpg_group_vbody_t *v);
void          ucpg_group_vbody_encode(const ucpg_group_vbody_t *v, void *out);
/* Allocates v->members (free it); checks counts, reasons and duplicates. */
ucpg_status_t ucpg_group_vbody_decode(const void *buf, size_t len, ucpg_group_vbody_t *v);

/* --- sync reply body: the events a member holds -------------------------- */

typedef struct ucpg_group_srec {
    uint64_t            seq;
    uint8_t             kind;
    uint8_t             guarantee;
    ucpg_group_origin_t origin;
    uint32_t            len;
    const void         *data;
} ucpg_group_srec_t;

#define UCPG_GROUP_SREC_HDR_LEN (8 + 1 + 1 + 4 + 4 + 4 + 8 + 8 + 4)

size_t ucpg_group_srec_encode(const ucpg_group_srec_t *rec, void *out);   /* header + data */
/* Reads the next record at *pos; UCPG_ERR_MESSAGE if it does not fit. */
ucpg_status_t ucpg_group_srec_next(const void *buf, size_t len, size_t *pos,
                                   ucpg_group_srec_t *rec);

#endif
