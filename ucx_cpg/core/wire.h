/*
 * wire.h - byte-exact encoding of everything that crosses the wire.
 *
 * Every active message starts with a fixed 16-byte common header
 * (ucpg_wire_hdr_t), followed by the header of its layer's protocol message.
 * All integers are little-endian and copied field by field, so the format
 * does not depend on struct layout or host byte order (ucpg_wire_le below:
 * one unaligned load or store per field, swapped on a big-endian host). Decoders never trust a
 * length: the reader below turns every short or inconsistent buffer into
 * UCPG_ERR_MESSAGE, and every field is range-checked before anyone uses it.
 */
#ifndef UCPG_CORE_WIRE_H
#define UCPG_CORE_WIRE_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "status.h"

#define UCPG_WIRE_MAGIC        0x4355u   /* "UC" in little-endian order */
#define UCPG_WIRE_VERSION      1u
#define UCPG_WIRE_HDR_LEN      16u
#define UCPG_WIRE_ADDR_MAX     4096u     /* largest UCP worker address accepted */

/* --- cursor-based writer and reader ------------------------------------- */

typedef struct ucpg_wire_writer {
    uint8_t *buf;
    size_t   cap;
    size_t   len;
    int      overflow;   /* set once a write did not fit; len stops growing */
} ucpg_wire_writer_t;

typedef struct ucpg_wire_reader {
    const uint8_t *buf;
    size_t         len;
    size_t         pos;
    int            short_read; /* set once a read ran past the end */
} ucpg_wire_reader_t;

/*
 * The primitives are inline: a group message header is thirteen fields,
 * encoded once per message and destination and decoded at every member,
 * and inlined the compiler turns each byte loop into one load or store
 * and folds the bounds checks of a fixed-size header away.
 */
static inline void ucpg_wire_writer_init(ucpg_wire_writer_t *w, void *buf, size_t cap)
{
    w->buf      = buf;
    w->cap      = cap;
    w->len      = 0;
    w->overflow = 0;
}

static inline uint8_t *ucpg_wire_reserve(ucpg_wire_writer_t *w, size_t n)
{
    if (w->overflow || (w->cap - w->len) < n) {
        w->overflow = 1;
        return NULL;
    }
    w->len += n;
    return w->buf + w->len - n;
}

/*
 * A little-endian integer of n (1, 2, 4 or 8) bytes at p, as one unaligned
 * load or store: n is a constant wherever these are inlined, so the switch
 * folds away. Byte by byte instead, decoding a group message's header was
 * 6% of all CPU in an 8-member 64 B flood (docs/cpg-bench.md, session 27).
 */
static inline uint64_t ucpg_wire_le_load(const uint8_t *p, size_t n)
{
    uint64_t v8;
    uint32_t v4;
    uint16_t v2;

    switch (n) {
    case 8:
        memcpy(&v8, p, 8);
        return le64toh(v8);
    case 4:
        memcpy(&v4, p, 4);
        return le32toh(v4);
    case 2:
        memcpy(&v2, p, 2);
        return le16toh(v2);
    default:
        return p[0];
    }
}

static inline void ucpg_wire_le_store(uint8_t *p, uint64_t v, size_t n)
{
    uint64_t v8 = htole64(v);
    uint32_t v4 = htole32((uint32_t)v);
    uint16_t v2 = htole16((uint16_t)v);

    switch (n) {
    case 8:
        memcpy(p, &v8, 8);
        break;
    case 4:
        memcpy(p, &v4, 4);
        break;
    case 2:
        memcpy(p, &v2, 2);
        break;
    default:
        p[0] = (uint8_t)v;
        break;
    }
}

static inline void ucpg_wire_put_le(ucpg_wire_writer_t *w, uint64_t v, size_t n)
{
    uint8_t *p = ucpg_wire_reserve(w, n);

    if (p != NULL) {
        ucpg_wire_le_store(p, v, n);
    }
}

static inline void ucpg_wire_put_u8(ucpg_wire_writer_t *w, uint8_t v)
{
    ucpg_wire_put_le(w, v, 1);
}

static inline void ucpg_wire_put_u16(ucpg_wire_writer_t *w, uint16_t v)
{
    ucpg_wire_put_le(w, v, 2);
}

static inline void ucpg_wire_put_u32(ucpg_wire_writer_t *w, uint32_t v)
{
    ucpg_wire_put_le(w, v, 4);
}

static inline void ucpg_wire_put_u64(ucpg_wire_writer_t *w, uint64_t v)
{
    ucpg_wire_put_le(w, v, 8);
}

static inline void ucpg_wire_put_bytes(ucpg_wire_writer_t *w, const void *p, size_t n)
{
    uint8_t *dst = ucpg_wire_reserve(w, n);

    if ((dst != NULL) && (n > 0)) {
        memcpy(dst, p, n);
    }
}

static inline void ucpg_wire_reader_init(ucpg_wire_reader_t *r, const void *buf, size_t len)
{
    r->buf        = buf;
    r->len        = (buf == NULL) ? 0 : len;
    r->pos        = 0;
    r->short_read = 0;
}

/* Returns a pointer to n bytes inside the buffer, or NULL (and short_read). */
static inline const void *ucpg_wire_get_bytes(ucpg_wire_reader_t *r, size_t n)
{
    const void *p;

    if (r->short_read || (r->len - r->pos) < n) {
        r->short_read = 1;
        return NULL;
    }
    p       = r->buf + r->pos;
    r->pos += n;
    return p;
}

static inline uint64_t ucpg_wire_get_le(ucpg_wire_reader_t *r, size_t n)
{
    const uint8_t *p = ucpg_wire_get_bytes(r, n);

    return (p != NULL) ? ucpg_wire_le_load(p, n) : 0;
}

static inline uint8_t ucpg_wire_get_u8(ucpg_wire_reader_t *r)
{
    return (uint8_t)ucpg_wire_get_le(r, 1);
}

static inline uint16_t ucpg_wire_get_u16(ucpg_wire_reader_t *r)
{
    return (uint16_t)ucpg_wire_get_le(r, 2);
}

static inline uint32_t ucpg_wire_get_u32(ucpg_wire_reader_t *r)
{
    return (uint32_t)ucpg_wire_get_le(r, 4);
}

static inline uint64_t ucpg_wire_get_u64(ucpg_wire_reader_t *r)
{
    return ucpg_wire_get_le(r, 8);
}

/* UCPG_OK iff nothing ran short and exactly all bytes were consumed. */
ucpg_status_t ucpg_wire_reader_finish(const ucpg_wire_reader_t *r);

/* --- the common header ---------------------------------------------------- */

typedef struct ucpg_wire_hdr {
    uint8_t  am_id;      /* must equal the UCP AM id it arrived on */
    uint32_t src_peer;   /* sender's peer id (its registry slot) */
    uint64_t src_uuid;   /* sender's incarnation; a reused slot gets a new one */
} ucpg_wire_hdr_t;

void ucpg_wire_hdr_encode(const ucpg_wire_hdr_t *hdr, uint8_t out[UCPG_WIRE_HDR_LEN]);
/* Checks magic, version and length; does not know peer ids (the domain does). */
ucpg_status_t ucpg_wire_hdr_decode(const void *buf, size_t len, ucpg_wire_hdr_t *hdr_p);

/* --- core control messages (AM id UCPG_AM_ID_CORE) ------------------------ */

typedef enum ucpg_wire_ctl_type {
    UCPG_WIRE_CTL_HELLO     = 1,  /* "I am here, here is my address" */
    UCPG_WIRE_CTL_HELLO_ACK = 2,  /* "I know you now" */
    UCPG_WIRE_CTL_BYE       = 3,  /* clean departure */
    UCPG_WIRE_CTL_PING      = 4,  /* liveness / round-trip probe */
    UCPG_WIRE_CTL_PONG      = 5,
    UCPG_WIRE_CTL_BYE_ACK   = 6,  /* "I have taken everything you sent before BYE" */
    UCPG_WIRE_CTL_LAST      = UCPG_WIRE_CTL_BYE_ACK   /* decoders reject types above */
} ucpg_wire_ctl_type_t;

/* Control header; for HELLO and HELLO_ACK the worker address is the AM data. */
typedef struct ucpg_wire_ctl {
    uint8_t  type;       /* ucpg_wire_ctl_type_t */
    uint32_t nodeid;     /* sender's node id, never 0 */
    uint32_t pid;        /* sender's pid, never 0 */
    uint64_t starttime;  /* sender's start time (clock ticks since boot) */
    uint64_t secret;     /* domain secret from the registry: proves membership */
    uint64_t cookie;     /* PING/PONG correlation */
} ucpg_wire_ctl_t;

#define UCPG_WIRE_CTL_LEN  (1 + 4 + 4 + 8 + 8 + 8)

size_t        ucpg_wire_ctl_encode(const ucpg_wire_ctl_t *ctl, uint8_t out[UCPG_WIRE_CTL_LEN]);
/* data_len is the length of the AM data that came with it (the address for
 * HELLO/HELLO_ACK, nothing otherwise); it is validated here too. */
ucpg_status_t ucpg_wire_ctl_decode(const void *buf, size_t len, size_t data_len,
                                   ucpg_wire_ctl_t *ctl_p);

/* --- large bodies through shared memory (AM id UCPG_AM_ID_SHM, am_shm.c) ----
 *
 * OFFER: "attach my pool" (shmid, size, cookie); the reader answers ACCEPT
 * or REFUSE. BODY: "the body of a message for AM id am_id is the len bytes of
 * the pool buffer at offset, generation gen"; the message's own header
 * follows this one. DONE: "I am through with every body you sent me up to
 * and including (offset, gen)". */

typedef enum ucpg_wire_shm_type {
    UCPG_WIRE_SHM_OFFER  = 1,
    UCPG_WIRE_SHM_ACCEPT = 2,
    UCPG_WIRE_SHM_REFUSE = 3,
    UCPG_WIRE_SHM_BODY   = 4,
    UCPG_WIRE_SHM_DONE   = 5
} ucpg_wire_shm_type_t;

typedef struct ucpg_wire_shm {
    uint8_t  type;     /* ucpg_wire_shm_type_t */
    uint8_t  am_id;    /* BODY */
    int32_t  shmid;    /* OFFER: 0 .. INT32_MAX */
    uint64_t size;     /* OFFER: bytes of the segment */
    uint64_t cookie;   /* OFFER */
    uint64_t offset;   /* BODY, DONE */
    uint64_t gen;      /* BODY, DONE: never 0 */
    uint64_t len;      /* BODY: bytes of the body */
} ucpg_wire_shm_t;

#define UCPG_WIRE_SHM_LEN  (1 + 1 + 4 + 8 + 8 + 8 + 8 + 8)

void          ucpg_wire_shm_encode(const ucpg_wire_shm_t *msg, uint8_t out[UCPG_WIRE_SHM_LEN]);
/* Reads the UCPG_WIRE_SHM_LEN-byte prefix of buf (len bytes: for BODY the
 * message's header follows). UCPG_ERR_MESSAGE if short or inconsistent. */
ucpg_status_t ucpg_wire_shm_decode(const void *buf, size_t len, ucpg_wire_shm_t *msg_p);

/* --- a peer's card ---------------------------------------------------------
 *
 * What a boot method publishes about a process in a store that the processes
 * of other hosts read (the PMIx key-value store): enough to connect to it and
 * to recognize its HELLO. Layout, little-endian: magic u32 "CARD", version
 * u8, uuid u64, starttime u64, pid u32, nodeid u32, address length u32, the
 * worker address. */

#define UCPG_WIRE_CARD_MAGIC      0x44524143u   /* "CARD" */
#define UCPG_WIRE_CARD_FIXED_LEN  (4 + 1 + 8 + 8 + 4 + 4 + 4)

typedef struct ucpg_wire_card {
    uint64_t    uuid;         /* never 0 */
    uint64_t    starttime;
    uint32_t    pid;          /* 1 .. INT32_MAX */
    uint32_t    nodeid;       /* 1 .. INT32_MAX */
    const void *address;      /* decode: points into the buffer decoded */
    size_t      address_len;  /* 1 .. UCPG_WIRE_ADDR_MAX */
} ucpg_wire_card_t;

/* Writes the card into buf (cap bytes) and returns its length, or 0 if it
 * does not fit or the card is invalid (the decoder would reject it). */
size_t        ucpg_wire_card_encode(const ucpg_wire_card_t *card, void *buf, size_t cap);
/* UCPG_ERR_MESSAGE unless buf holds exactly one valid card. */
ucpg_status_t ucpg_wire_card_decode(const void *buf, size_t len, ucpg_wire_card_t *card_p);

#endif
