/*
 * relay_wire.h - the messages between a CPG handle of a forked process and
 * its relay (relay_client.c, relay_main.c).
 *
 * A process forked while its parent had a domain cannot run UCX (see
 * docs/architecture.md, "Fork"), so its handles are served by a relay: a
 * fresh program it starts, which holds a real handle and speaks for it.
 * They talk over two Unix stream sockets: requests and their replies on
 * one, callbacks (the relay's side writes, cpg_fd_get's fd reads) on the
 * other, so that a pending reply never waits behind callbacks nobody reads.
 *
 * A frame: u32 body length, u32 type, then the body, all little-endian (the
 * ucpg_wire cursor helpers). Bodies hold u32/u64 fields, names (u32 length
 * <= CPG_MAX_NAME_LENGTH, then the bytes), address lists (u32 count, then
 * nodeid, pid, reason each) and byte strings (u64 length, then the bytes).
 * A decoder takes nothing on trust: every length is checked against the
 * frame, and a frame that does not decode exactly is an error.
 */
#ifndef UCPG_CPG_RELAY_WIRE_H
#define UCPG_CPG_RELAY_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/status.h"
#include "core/wire.h"
#include "corosync/cpg.h"

#define UCPG_RELAY_FRAME_HDR    8u
/* Requests, replies and callbacks other than messages are small. */
#define UCPG_RELAY_SMALL_MAX    (1u << 20)
/* Any frame: a message of the largest group_max_msg (1 GiB) and its fields. */
#define UCPG_RELAY_FRAME_MAX    ((size_t)(1u << 30) + UCPG_RELAY_SMALL_MAX)
/* Members of a confchg list or totem list a decoder accepts. */
#define UCPG_RELAY_LIST_MAX     65536u

typedef enum ucpg_relay_type {
    /* requests, each answered by one UCPG_RELAY_REPLY (u32 cs_error_t first) */
    UCPG_RELAY_INIT          = 1,   /* u32 model flags, u32 wants totem     -> -            */
    UCPG_RELAY_FINALIZE      = 2,   /* -                                   -> -            */
    UCPG_RELAY_JOIN          = 3,   /* name                                -> -            */
    UCPG_RELAY_LEAVE         = 4,   /* name                                -> -            */
    UCPG_RELAY_MCAST         = 5,   /* u32 guarantee, bytes                -> -            */
    UCPG_RELAY_MEMBERSHIP    = 6,   /* name, u32 room                      -> u32 n, list  */
    UCPG_RELAY_LOCAL_GET     = 7,   /* -                                   -> u32 nodeid   */
    UCPG_RELAY_MAX_MSG       = 8,   /* -                                   -> u32 size     */
    UCPG_RELAY_FLOW          = 9,   /* -                                   -> u32 state    */
    UCPG_RELAY_ITER_INIT     = 10,  /* u32 type, u32 has name, name        -> u64 iterator */
    UCPG_RELAY_ITER_NEXT     = 11,  /* u64 iterator        -> name, u32 nodeid, u32 pid    */
    UCPG_RELAY_ITER_FINALIZE = 12,  /* u64 iterator                        -> -            */
    UCPG_RELAY_REPLY         = 32,
    /* callbacks */
    UCPG_RELAY_EV_DELIVER    = 64,  /* name, u32 nodeid, u32 pid, bytes                    */
    UCPG_RELAY_EV_CONFCHG    = 65,  /* name, list members, list left, list joined          */
    UCPG_RELAY_EV_TOTEM      = 66   /* u32 ring nodeid, u64 ring seq, u32 n, n x u32       */
} ucpg_relay_type_t;

/* A frame read whole; body is malloc'd (one spare byte) and the caller's. */
typedef struct ucpg_relay_frame {
    uint32_t type;
    uint8_t *body;
    size_t   len;
} ucpg_relay_frame_t;

/* Frames being built: one or more, back to back (grows as needed; failed
 * once memory ran out). */
typedef struct ucpg_relay_out {
    uint8_t *p;
    size_t   len, cap;
    int      failed;
} ucpg_relay_out_t;

/* A decoded callback. msg points into the frame (writable, as corosync's
 * is); the lists share one allocation, freed by ucpg_relay_event_free. */
typedef struct ucpg_relay_event {
    uint32_t            type;
    struct cpg_name     group;
    uint32_t            nodeid, pid;
    void               *msg;
    size_t              msg_len;
    struct cpg_address *lists[3];     /* members, left, joined */
    size_t              counts[3];
    struct cpg_ring_id  ring;
    uint32_t           *nodes;
    size_t              nnodes;
} ucpg_relay_event_t;

/* --- frames on a socket (blocking; EINTR is retried) ----------------------- */

/* Writes one frame of the concatenated iovecs. UCPG_ERR_PEER_DOWN if the
 * other side is gone, UCPG_ERR_TOO_BIG above 4 GiB. */
ucpg_status_t ucpg_relay_frame_send(int fd, uint32_t type, const struct iovec *iov, int iovcnt);
/* Reads one frame. UCPG_ERR_PEER_DOWN at end of stream (or a broken one),
 * UCPG_ERR_MESSAGE if its body is longer than max (nothing is allocated). */
ucpg_status_t ucpg_relay_frame_recv(int fd, size_t max, ucpg_relay_frame_t *f);

/* --- building bodies ---------------------------------------------------------- */

void ucpg_relay_out_init(ucpg_relay_out_t *o);
void ucpg_relay_out_free(ucpg_relay_out_t *o);
/* Starts a frame at the end of o; returns where it starts (for _end). */
size_t ucpg_relay_out_begin(ucpg_relay_out_t *o);
void ucpg_relay_out_u32(ucpg_relay_out_t *o, uint32_t v);
void ucpg_relay_out_u64(ucpg_relay_out_t *o, uint64_t v);
void ucpg_relay_out_bytes(ucpg_relay_out_t *o, const void *p, size_t n);   /* u64 n, bytes */
void ucpg_relay_out_name(ucpg_relay_out_t *o, const struct cpg_name *name);
void ucpg_relay_out_list(ucpg_relay_out_t *o, const struct cpg_address *a, size_t n);
/* Overwrites the u32 at offset (a field written before, e.g. a status). */
void ucpg_relay_out_u32_at(ucpg_relay_out_t *o, size_t offset, uint32_t v);
/* Ends the frame begun at start: writes its header. UCPG_ERR_NO_MEMORY if
 * building failed, UCPG_ERR_TOO_BIG above 4 GiB. */
ucpg_status_t ucpg_relay_out_end(ucpg_relay_out_t *o, size_t start, uint32_t type);
/* Writes every frame of o (blocking), then empties it. */
ucpg_status_t ucpg_relay_out_send(int fd, ucpg_relay_out_t *o);

/* --- reading bodies ----------------------------------------------------------- */

/* A name: UCPG_ERR_MESSAGE if it is longer than CPG_MAX_NAME_LENGTH or short. */
ucpg_status_t ucpg_relay_get_name(ucpg_wire_reader_t *r, struct cpg_name *name);
/* A list of at most max entries into a (room for max); *n its count. */
ucpg_status_t ucpg_relay_get_list(ucpg_wire_reader_t *r, struct cpg_address *a, size_t max,
                                  size_t *n);

/* Decodes a callback frame. UCPG_ERR_MESSAGE if it is not exactly one. */
ucpg_status_t ucpg_relay_event_decode(ucpg_relay_frame_t *f, ucpg_relay_event_t *ev);
void          ucpg_relay_event_free(ucpg_relay_event_t *ev);

#endif
