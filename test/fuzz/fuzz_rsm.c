/*
 * fuzz_rsm.c - fuzz target for the RSM wire protocol (rsm/protocol.h): the
 * decoder of the 65-byte message an RSM active message carries, and its
 * encoder.
 *
 * The first input byte chooses the AM data length the decoder is told about
 * (see fuzz_rsm_data_len), the rest is the message. As in fuzz_wire.c, the
 * results are compared with a model of the format written from the
 * description in protocol.h and the rules of the protocol, not with the
 * decoder's own code:
 *
 *   - decode: ucpg_rsm_msg_decode succeeds exactly when the model says the
 *             bytes are a valid message for that data length; a success
 *             yields the fields the model reads and re-encodes to the same
 *             65 bytes; a failure leaves its output untouched.
 *   - encode: the message bytes, read as field values (the reserved word
 *             left out), are encoded; the encoding must be the model's
 *             (reserved written as 0), decode again exactly when the model's
 *             rules hold, and give back the same fields. Proper prefixes and
 *             a one byte longer buffer never decode. This is also how
 *             libFuzzer reaches every message type quickly: any input
 *             becomes a well-formed encoding here.
 *
 * The format (all integers little-endian):
 *
 *   off len field            off len field
 *     0  1  type              29  4  err (int32)
 *     1  8  req_id            33  4  mode
 *     9  4  segid             37  4  reserved, must be 0
 *    13  4  node              41  8  size
 *    17  4  perm              49  8  base
 *    21  4  uid               57  8  token
 *    25  4  gid               65     end
 *
 * The rules: reserved is 0, and by type
 *   1 CONNECT_REQ    no data; node != 0; perm only RSM_PERM_READ|WRITE bits
 *   2 CONNECT_REP    err == RSM_SUCCESS: 1..4096 bytes of data (the rkey),
 *                    size > 0, [base, base + size) does not wrap, mode only
 *                    0777 bits, token != 0;
 *                    err != RSM_SUCCESS: no data, 0 < err < 200
 *   3 DISCONNECT, 4 ABORT, 5 SIGNAL_TO_EXPORT, 6 SIGNAL_TO_IMPORT, 8 REBIND_ACK
 *                    no data; token != 0
 *   7 REBIND         1..4096 bytes of data (the new rkey), size > 0,
 *                    [base, base + size) does not wrap, token != 0
 *   anything else    invalid
 *
 * For builds without libFuzzer, fuzz_driver.c calls fuzz_target_generate
 * below to get valid messages of every type, some with a field set to a
 * boundary value. Built either with libFuzzer (clang -fsanitize=fuzzer) or
 * with fuzz_driver.c, see docs/testing.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsmapi.h"
#include "rsm/protocol.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void));

/* The model's own constants. The assertions only make a change of the format
 * fail to compile here, so that the model is updated with it. */
enum {
    FUZZ_RSM_LEN      = 65,
    FUZZ_RSM_RKEY_MAX = 4096,
    FUZZ_RSM_ERR_END  = 200,     /* errors are 1 .. 199 */
    FUZZ_RSM_PERM_RW  = 0600,
    FUZZ_RSM_MODE_ALL = 0777
};

/* Message types. */
#define FUZZ_T_REQ        1
#define FUZZ_T_REP        2
#define FUZZ_T_DISCONNECT 3
#define FUZZ_T_ABORT      4
#define FUZZ_T_SIG_EXP    5
#define FUZZ_T_SIG_IMP    6
#define FUZZ_T_REBIND     7
#define FUZZ_T_REBIND_ACK 8

_Static_assert(UCPG_RSM_MSG_LEN == FUZZ_RSM_LEN, "RSM message length changed");
_Static_assert(UCPG_RSM_RKEY_MAX == FUZZ_RSM_RKEY_MAX, "RSM rkey limit changed");
_Static_assert(RSM_PERM_RDWR == FUZZ_RSM_PERM_RW, "RSM_PERM_RDWR changed");
_Static_assert(RSM_SUCCESS == 0, "RSM_SUCCESS changed");
_Static_assert((UCPG_RSM_MSG_CONNECT_REQ == FUZZ_T_REQ) &&
               (UCPG_RSM_MSG_CONNECT_REP == FUZZ_T_REP) &&
               (UCPG_RSM_MSG_DISCONNECT == FUZZ_T_DISCONNECT) &&
               (UCPG_RSM_MSG_ABORT == FUZZ_T_ABORT) &&
               (UCPG_RSM_MSG_SIGNAL_TO_EXPORT == FUZZ_T_SIG_EXP) &&
               (UCPG_RSM_MSG_SIGNAL_TO_IMPORT == FUZZ_T_SIG_IMP) &&
               (UCPG_RSM_MSG_REBIND == FUZZ_T_REBIND) &&
               (UCPG_RSM_MSG_REBIND_ACK == FUZZ_T_REBIND_ACK), "RSM message types changed");

/* The fields in wire order: offset and width. */
enum {
    F_TYPE, F_REQ_ID, F_SEGID, F_NODE, F_PERM, F_UID, F_GID, F_ERR, F_MODE, F_RESERVED,
    F_SIZE, F_BASE, F_TOKEN, F_COUNT
};

static const struct {
    uint8_t off;
    uint8_t width;
} fuzz_rsm_fields[F_COUNT] = {
    { 0, 1 }, { 1, 8 }, { 9, 4 }, { 13, 4 }, { 17, 4 }, { 21, 4 }, { 25, 4 }, { 29, 4 },
    { 33, 4 }, { 37, 4 }, { 41, 8 }, { 49, 8 }, { 57, 8 }
};

/* Little-endian value of the n bytes at buf[off]; bytes at or past len count
 * as 0. */
static uint64_t fuzz_le(const uint8_t *buf, size_t len, size_t off, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; (i < n) && (off + i < len); ++i) {
        v |= (uint64_t)buf[off + i] << (8 * i);
    }
    return v;
}

static void fuzz_put_le(uint8_t *p, size_t n, uint64_t v)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}


/* --- the model ------------------------------------------------------------ */

/* Every field as an unsigned value of its width (err too: its bits). */
typedef struct {
    uint64_t f[F_COUNT];
} fuzz_rsm_model_t;

static void fuzz_rsm_model_read(fuzz_rsm_model_t *m, const uint8_t *msg, size_t len)
{
    int i;

    for (i = 0; i < F_COUNT; ++i) {
        m->f[i] = fuzz_le(msg, len, fuzz_rsm_fields[i].off, fuzz_rsm_fields[i].width);
    }
}

static int fuzz_rsm_model_rules(const fuzz_rsm_model_t *m, size_t data_len)
{
    /* err is a two's complement int32 on the wire. */
    int64_t err = (m->f[F_ERR] & 0x80000000u) ? (int64_t)m->f[F_ERR] - 0x100000000ll
                                              : (int64_t)m->f[F_ERR];

    if (m->f[F_RESERVED] != 0) {
        return 0;
    }
    switch (m->f[F_TYPE]) {
    case FUZZ_T_REQ:
        return (data_len == 0) && (m->f[F_NODE] != 0) &&
               ((m->f[F_PERM] | FUZZ_RSM_PERM_RW) == FUZZ_RSM_PERM_RW);
    case FUZZ_T_REP:
        if (err != 0) {
            return (data_len == 0) && (err >= 1) && (err < FUZZ_RSM_ERR_END);
        }
        return (data_len >= 1) && (data_len <= FUZZ_RSM_RKEY_MAX) && (m->f[F_SIZE] >= 1) &&
               (m->f[F_SIZE] <= UINT64_MAX - m->f[F_BASE]) &&
               (m->f[F_MODE] <= FUZZ_RSM_MODE_ALL) && (m->f[F_TOKEN] != 0);
    case FUZZ_T_REBIND:
        return (data_len >= 1) && (data_len <= FUZZ_RSM_RKEY_MAX) && (m->f[F_SIZE] >= 1) &&
               (m->f[F_SIZE] <= UINT64_MAX - m->f[F_BASE]) && (m->f[F_TOKEN] != 0);
    case FUZZ_T_DISCONNECT:
    case FUZZ_T_ABORT:
    case FUZZ_T_SIG_EXP:
    case FUZZ_T_SIG_IMP:
    case FUZZ_T_REBIND_ACK:
        return (data_len == 0) && (m->f[F_TOKEN] != 0);
    default:
        return 0;
    }
}

/* The fields of a decoded message against the model's. */
static void fuzz_rsm_check_fields(const ucpg_rsm_msg_t *msg, const fuzz_rsm_model_t *m)
{
    FUZZ_CHECK(msg->type == m->f[F_TYPE]);
    FUZZ_CHECK(msg->req_id == m->f[F_REQ_ID]);
    FUZZ_CHECK(msg->segid == m->f[F_SEGID]);
    FUZZ_CHECK(msg->node == m->f[F_NODE]);
    FUZZ_CHECK(msg->perm == m->f[F_PERM]);
    FUZZ_CHECK(msg->uid == m->f[F_UID]);
    FUZZ_CHECK(msg->gid == m->f[F_GID]);
    FUZZ_CHECK((uint32_t)msg->err == m->f[F_ERR]);
    FUZZ_CHECK(msg->mode == m->f[F_MODE]);
    FUZZ_CHECK(msg->size == m->f[F_SIZE]);
    FUZZ_CHECK(msg->base == m->f[F_BASE]);
    FUZZ_CHECK(msg->token == m->f[F_TOKEN]);
}


/* --- the input ------------------------------------------------------------ */

/* First byte: 0x00..0xef are data lengths themselves (0, 1, 12, 25 ...); the
 * rest reach the limits one byte cannot express. 0xf6..0xff take the length
 * from the next two bytes (little-endian), so the message starts at byte 3. */
#define FUZZ_DL_DIRECT_MAX 0xefu
#define FUZZ_DL_WIDE       0xf6u

static size_t fuzz_rsm_data_len(const uint8_t *data, size_t size, size_t *hdr_len_p)
{
    *hdr_len_p = 1;
    if (data[0] <= FUZZ_DL_DIRECT_MAX) {
        return data[0];
    }
    switch (data[0]) {
    case 0xf0: return FUZZ_RSM_RKEY_MAX - 1;
    case 0xf1: return FUZZ_RSM_RKEY_MAX;
    case 0xf2: return FUZZ_RSM_RKEY_MAX + 1;
    case 0xf3: return SIZE_MAX;
    case 0xf4: return (size_t)UINT32_MAX + 1;    /* 0 if cut to 32 bits */
    case 0xf5: return (size_t)UINT32_MAX + 2;    /* 1 if cut to 32 bits */
    default:
        *hdr_len_p = (size < 3) ? size : 3;
        return (size_t)fuzz_le(data, size, 1, 2);
    }
}


/* --- decode: the bytes as they came ----------------------------------------- */

static void fuzz_rsm_decode(const uint8_t *msg, size_t len, size_t data_len)
{
    uint8_t again[FUZZ_RSM_LEN];
    ucpg_rsm_msg_t out, sentinel;
    fuzz_rsm_model_t m;
    ucpg_status_t status;
    int expect_ok;

    fuzz_rsm_model_read(&m, msg, len);
    expect_ok = (len == FUZZ_RSM_LEN) && fuzz_rsm_model_rules(&m, data_len);

    memset(&sentinel, 0x5a, sizeof(sentinel));
    memcpy(&out, &sentinel, sizeof(out));
    status = ucpg_rsm_msg_decode(msg, len, data_len, &out);
    FUZZ_CHECK((status == UCPG_OK) || (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK((status == UCPG_OK) == expect_ok);
    if (status != UCPG_OK) {
        FUZZ_CHECK(memcmp(&out, &sentinel, sizeof(out)) == 0);
        return;
    }
    fuzz_rsm_check_fields(&out, &m);
    FUZZ_CHECK(ucpg_rsm_msg_encode(&out, again) == FUZZ_RSM_LEN);
    FUZZ_CHECK(memcmp(again, msg, FUZZ_RSM_LEN) == 0);
}


/* --- encode: the bytes as field values -------------------------------------- */

static void fuzz_rsm_encode(const uint8_t *msg, size_t len, size_t data_len)
{
    uint8_t enc[FUZZ_RSM_LEN + 1];
    ucpg_rsm_msg_t in, out, sentinel;
    fuzz_rsm_model_t m, e;
    ucpg_status_t status;
    size_t prefix;
    int i;

    fuzz_rsm_model_read(&m, msg, len);
    m.f[F_RESERVED] = 0;                  /* the struct has no such field */
    memset(&in, 0, sizeof(in));
    in.type   = (uint8_t)m.f[F_TYPE];
    in.req_id = m.f[F_REQ_ID];
    in.segid  = (uint32_t)m.f[F_SEGID];
    in.node   = (uint32_t)m.f[F_NODE];
    in.perm   = (uint32_t)m.f[F_PERM];
    in.uid    = (uint32_t)m.f[F_UID];
    in.gid    = (uint32_t)m.f[F_GID];
    in.err    = (int32_t)(uint32_t)m.f[F_ERR];
    in.mode   = (uint32_t)m.f[F_MODE];
    in.size   = m.f[F_SIZE];
    in.base   = m.f[F_BASE];
    in.token  = m.f[F_TOKEN];

    /* The encoding is the model's: every field in place, reserved zero. */
    memset(enc, 0xa5, sizeof(enc));
    FUZZ_CHECK(ucpg_rsm_msg_encode(&in, enc) == FUZZ_RSM_LEN);
    FUZZ_CHECK(enc[FUZZ_RSM_LEN] == 0xa5);          /* nothing written past the end */
    fuzz_rsm_model_read(&e, enc, FUZZ_RSM_LEN);
    for (i = 0; i < F_COUNT; ++i) {
        FUZZ_CHECK(e.f[i] == m.f[i]);
    }

    /* It decodes exactly when the rules hold, to the same fields. */
    memset(&sentinel, 0x5a, sizeof(sentinel));
    memcpy(&out, &sentinel, sizeof(out));
    status = ucpg_rsm_msg_decode(enc, FUZZ_RSM_LEN, data_len, &out);
    FUZZ_CHECK((status == UCPG_OK) == fuzz_rsm_model_rules(&m, data_len));
    if (status == UCPG_OK) {
        fuzz_rsm_check_fields(&out, &m);
    } else {
        FUZZ_CHECK(status == UCPG_ERR_MESSAGE);
        FUZZ_CHECK(memcmp(&out, &sentinel, sizeof(out)) == 0);
    }

    /* No other length decodes: a proper prefix chosen by the input, and one
     * byte more. */
    prefix = len % FUZZ_RSM_LEN;
    memcpy(&out, &sentinel, sizeof(out));
    FUZZ_CHECK(ucpg_rsm_msg_decode(enc, prefix, data_len, &out) == UCPG_ERR_MESSAGE);
    FUZZ_CHECK(ucpg_rsm_msg_decode(enc, FUZZ_RSM_LEN + 1, data_len, &out) == UCPG_ERR_MESSAGE);
    FUZZ_CHECK(memcmp(&out, &sentinel, sizeof(out)) == 0);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t data_len, hdr_len;

    fuzz_input      = data;
    fuzz_input_size = size;
    if (size == 0) {
        return 0;
    }
    data_len = fuzz_rsm_data_len(data, size, &hdr_len);
    fuzz_rsm_decode(data + hdr_len, size - hdr_len, data_len);
    fuzz_rsm_encode(data + hdr_len, size - hdr_len, data_len);
    return 0;
}


/* --- valid inputs for fuzz_driver.c ----------------------------------------- */

/* Values on either side of every limit the rules name. */
static const uint64_t fuzz_rsm_boundary[] = {
    0, 1, 2, 6, 7, 0xef, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xff, 0177, 0200, 0400,
    0577, 0600, 0601, 0777, 01000, 0xfff, 0x1000, 0x1001, 199, 200, 0x7fffffffull,
    0x80000000ull, 0xffffffffull, 0x100000000ull, 0x8000000000000000ull,
    UINT64_MAX - 1, UINT64_MAX
};

static uint64_t fuzz_rng_below(uint64_t (*rng)(void), uint64_t n)
{
    return (n == 0) ? 0 : rng() % n;
}

/* A random value, often small or at an end of its range. */
static uint64_t fuzz_rng_value(uint64_t (*rng)(void))
{
    switch (fuzz_rng_below(rng, 4)) {
    case 0:  return fuzz_rng_below(rng, 16);
    case 1:  return UINT64_MAX - fuzz_rng_below(rng, 16);
    default: return rng();
    }
}

/* A data length that makes a valid message, as the first byte (and maybe two
 * more) in front of it; returns the number of bytes written. */
static size_t fuzz_rsm_put_data_len(uint8_t *buf, size_t data_len, uint64_t (*rng)(void))
{
    if ((data_len == FUZZ_RSM_RKEY_MAX - 1) && fuzz_rng_below(rng, 2)) {
        buf[0] = 0xf0;
        return 1;
    }
    if ((data_len == FUZZ_RSM_RKEY_MAX) && fuzz_rng_below(rng, 2)) {
        buf[0] = 0xf1;
        return 1;
    }
    if ((data_len <= FUZZ_DL_DIRECT_MAX) && fuzz_rng_below(rng, 4)) {
        buf[0] = (uint8_t)data_len;
        return 1;
    }
    buf[0] = (uint8_t)(FUZZ_DL_WIDE + fuzz_rng_below(rng, 0x100 - FUZZ_DL_WIDE));
    fuzz_put_le(buf + 1, 2, data_len);
    return 3;
}

/*
 * Called by fuzz_driver.c: one valid input of a random type, its fields
 * random within the rules and often at their limits. With edit, it then
 * sometimes (the driver mutates bytes too) sets one field (the data length
 * byte included) to a boundary value, or moves base + size of a reply to the
 * edge of wrapping.
 */
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void))
{
    fuzz_rsm_model_t m;
    size_t data_len = 0, hdr_len, len;
    uint64_t v;
    int i;

    if (cap < 3 + FUZZ_RSM_LEN) {
        return 0;
    }
    for (i = 0; i < F_COUNT; ++i) {
        m.f[i] = fuzz_rng_value(rng);
        if (fuzz_rsm_fields[i].width < 8) {
            m.f[i] &= ((uint64_t)1 << (8 * fuzz_rsm_fields[i].width)) - 1;
        }
    }
    m.f[F_TYPE]     = FUZZ_T_REQ + fuzz_rng_below(rng, FUZZ_T_REBIND_ACK);
    m.f[F_RESERVED] = 0;
    if (m.f[F_TOKEN] == 0) {
        m.f[F_TOKEN] = 1;
    }
    switch (m.f[F_TYPE]) {
    case FUZZ_T_REQ:
        m.f[F_NODE] = (m.f[F_NODE] == 0) ? 1 : m.f[F_NODE];
        m.f[F_PERM] = fuzz_rng_below(rng, 4) << 7;          /* 0, 0200, 0400, 0600 */
        break;
    case FUZZ_T_REP:
    case FUZZ_T_REBIND:
        if ((m.f[F_TYPE] == FUZZ_T_REP) && (fuzz_rng_below(rng, 3) == 0)) {  /* an error reply */
            m.f[F_ERR] = 1 + fuzz_rng_below(rng, FUZZ_RSM_ERR_END - 1);
            break;
        }
        m.f[F_ERR] = 0;
        m.f[F_MODE] &= FUZZ_RSM_MODE_ALL;
        if (m.f[F_SIZE] == 0) {
            m.f[F_SIZE] = 1;
        }
        if (m.f[F_SIZE] > UINT64_MAX - m.f[F_BASE]) {
            m.f[F_BASE] = UINT64_MAX - m.f[F_SIZE];             /* ends at the top */
            if ((m.f[F_BASE] > 0) && fuzz_rng_below(rng, 2)) {
                --m.f[F_BASE];
            }
        }
        switch (fuzz_rng_below(rng, 4)) {
        case 0:  data_len = 1 + fuzz_rng_below(rng, 2) * (FUZZ_RSM_RKEY_MAX - 1); break;
        case 1:  data_len = FUZZ_RSM_RKEY_MAX - fuzz_rng_below(rng, 2);           break;
        default: data_len = 1 + fuzz_rng_below(rng, FUZZ_RSM_RKEY_MAX);           break;
        }
        break;
    default:
        break;
    }
    FUZZ_CHECK(fuzz_rsm_model_rules(&m, data_len));     /* the generator itself */

    hdr_len = fuzz_rsm_put_data_len(buf, data_len, rng);
    for (i = 0; i < F_COUNT; ++i) {
        fuzz_put_le(buf + hdr_len + fuzz_rsm_fields[i].off, fuzz_rsm_fields[i].width, m.f[i]);
    }
    len = hdr_len + FUZZ_RSM_LEN;
    if (!edit) {
        return len;
    }

    switch (fuzz_rng_below(rng, 4)) {
    case 0:                                   /* the data length */
        v = fuzz_rsm_boundary[fuzz_rng_below(rng, sizeof(fuzz_rsm_boundary) /
                                                  sizeof(fuzz_rsm_boundary[0]))];
        if (hdr_len == 1) {
            buf[0] = (uint8_t)v;
        } else {
            fuzz_put_le(buf + 1, 2, v);
        }
        break;
    case 1:                                   /* base + size: top - 1, top, wrap */
        fuzz_put_le(buf + hdr_len + fuzz_rsm_fields[F_BASE].off, 8,
                    UINT64_MAX - m.f[F_SIZE] - 1 + fuzz_rng_below(rng, 3));
        break;
    default:                                  /* any field */
        i = (int)fuzz_rng_below(rng, F_COUNT);
        v = fuzz_rsm_boundary[fuzz_rng_below(rng, sizeof(fuzz_rsm_boundary) /
                                                  sizeof(fuzz_rsm_boundary[0]))];
        fuzz_put_le(buf + hdr_len + fuzz_rsm_fields[i].off, fuzz_rsm_fields[i].width, v);
        break;
    }
    return len;
}
