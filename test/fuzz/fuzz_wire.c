/*
 * fuzz_wire.c - fuzz target for core/wire: the decoders of the common AM
 * header, the core control messages and the shared-memory messages, and the
 * reader they are built on.
 *
 * Everything a decoder sees comes from another process, so each of the three
 * parts below checks more than "does not crash" (which AddressSanitizer
 * covers): it compares the code with an independent model written from
 * wire.h, so that a decoder that accepts too much or too little fails too.
 *
 *   - header:  decode succeeds exactly when the first 16 bytes carry the magic,
 *              the version and a non-zero uuid; a success re-encodes to those
 *              16 bytes.
 *   - control: the first input byte chooses the AM data length, the rest is
 *              the message. Decode succeeds exactly when the model says so,
 *              leaves its output alone otherwise, and a success re-encodes
 *              to the same 33 bytes.
 *   - card:    bits of the first byte stamp a valid magic and version on a
 *              copy of the rest, and set its address length to what is left
 *              (or one more), so the fields behind them get explored.
 *              Decode succeeds exactly when the model says so, leaves its
 *              output alone otherwise, points the address into the input,
 *              and a success re-encodes to the same bytes.
 *   - boot:    the registry queries of boot/remote.h; the first byte, if
 *              odd, stamps a valid type (query or answer by its second bit)
 *              on a copy of the rest. Decode succeeds exactly when the
 *              model says so and a success re-encodes to the same bytes.
 *   - shm:     the shared-memory messages; bits of the first byte stamp a
 *              type (0 .. 6, so one past each end), clear the top bit of the
 *              shmid, zero the generation and cut a copy of the rest to
 *              exactly 46 bytes, so that every rule of the decoder is
 *              reached from any input. Decode succeeds exactly when the
 *              model says so, leaves its output alone otherwise, and a
 *              success re-encodes to the first 46 bytes.
 *   - reader:  the first byte chooses how many of the following bytes are
 *              operations; the rest is the buffer read. After each get_* the
 *              position, the short-read flag and the value match the model,
 *              the reader never goes past its length, and what was read,
 *              written back with a writer, gives the bytes consumed. A second
 *              writer with a small capacity checks the overflow rule.
 *
 * Built either with libFuzzer (clang -fsanitize=fuzzer) or with
 * fuzz_driver.c, see docs/testing.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/remote.h"
#include "core/wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fuzz_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; ++i) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}


/* --- common header -------------------------------------------------------- */

static void fuzz_hdr(const uint8_t *data, size_t size)
{
    uint8_t again[UCPG_WIRE_HDR_LEN];
    ucpg_wire_hdr_t hdr;
    ucpg_status_t status;
    int expect_ok;

    expect_ok = (size >= UCPG_WIRE_HDR_LEN) && (fuzz_le(data, 2) == UCPG_WIRE_MAGIC) &&
                (data[2] == UCPG_WIRE_VERSION) && (fuzz_le(data + 8, 8) != 0);
    status    = ucpg_wire_hdr_decode(data, size, &hdr);
    FUZZ_CHECK((status == UCPG_OK) || (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK((status == UCPG_OK) == expect_ok);
    if (status != UCPG_OK) {
        return;
    }
    FUZZ_CHECK(hdr.am_id == data[3]);
    FUZZ_CHECK(hdr.src_peer == fuzz_le(data + 4, 4));
    FUZZ_CHECK(hdr.src_uuid == fuzz_le(data + 8, 8));
    ucpg_wire_hdr_encode(&hdr, again);
    FUZZ_CHECK(memcmp(again, data, UCPG_WIRE_HDR_LEN) == 0);
}


/* --- control messages ----------------------------------------------------- */

/* Byte values 0..252 are data lengths themselves; the top three reach the
 * limits a single byte cannot express. */
static size_t fuzz_ctl_data_len(uint8_t b)
{
    switch (b) {
    case 255: return UCPG_WIRE_ADDR_MAX + 1;
    case 254: return UCPG_WIRE_ADDR_MAX;
    case 253: return SIZE_MAX;
    default:  return b;
    }
}

static int fuzz_ctl_model_ok(const uint8_t *msg, size_t len, size_t data_len)
{
    uint64_t nodeid, pid;
    uint8_t type;

    if (len != UCPG_WIRE_CTL_LEN) {
        return 0;
    }
    type   = msg[0];
    nodeid = fuzz_le(msg + 1, 4);
    pid    = fuzz_le(msg + 5, 4);
    if ((type < UCPG_WIRE_CTL_HELLO) || (type > UCPG_WIRE_CTL_LAST) || (nodeid == 0) ||
        (nodeid > INT32_MAX) || (pid == 0) || (pid > INT32_MAX)) {
        return 0;
    }
    if ((type == UCPG_WIRE_CTL_HELLO) || (type == UCPG_WIRE_CTL_HELLO_ACK)) {
        return (data_len > 0) && (data_len <= UCPG_WIRE_ADDR_MAX);
    }
    return data_len == 0;
}

static void fuzz_ctl(const uint8_t *data, size_t size)
{
    uint8_t again[UCPG_WIRE_CTL_LEN];
    ucpg_wire_ctl_t ctl, sentinel;
    const uint8_t *msg;
    ucpg_status_t status;
    size_t data_len, len;

    if (size == 0) {
        return;
    }
    data_len = fuzz_ctl_data_len(data[0]);
    msg      = data + 1;
    len      = size - 1;

    memset(&sentinel, 0x5a, sizeof(sentinel));
    memcpy(&ctl, &sentinel, sizeof(ctl));
    status = ucpg_wire_ctl_decode(msg, len, data_len, &ctl);
    FUZZ_CHECK((status == UCPG_OK) || (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK((status == UCPG_OK) == fuzz_ctl_model_ok(msg, len, data_len));
    if (status != UCPG_OK) {
        FUZZ_CHECK(memcmp(&ctl, &sentinel, sizeof(ctl)) == 0);
        return;
    }
    FUZZ_CHECK(ucpg_wire_ctl_encode(&ctl, again) == UCPG_WIRE_CTL_LEN);
    FUZZ_CHECK(memcmp(again, msg, UCPG_WIRE_CTL_LEN) == 0);
}


/* --- peer card ------------------------------------------------------------- */

static void fuzz_put_le(uint8_t *p, size_t n, uint64_t v)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static int fuzz_card_model_ok(const uint8_t *msg, size_t len)
{
    uint64_t pid, nodeid, addr_len;

    if (len < UCPG_WIRE_CARD_FIXED_LEN) {
        return 0;
    }
    pid      = fuzz_le(msg + 21, 4);
    nodeid   = fuzz_le(msg + 25, 4);
    addr_len = fuzz_le(msg + 29, 4);
    return (fuzz_le(msg, 4) == UCPG_WIRE_CARD_MAGIC) && (msg[4] == UCPG_WIRE_VERSION) &&
           (fuzz_le(msg + 5, 8) != 0) && (pid != 0) && (pid <= INT32_MAX) && (nodeid != 0) &&
           (nodeid <= INT32_MAX) && (addr_len != 0) && (addr_len <= UCPG_WIRE_ADDR_MAX) &&
           (len == UCPG_WIRE_CARD_FIXED_LEN + addr_len);
}

/* A copy of the input after its first (control) byte, which the caller may
 * edit; *len_p is its length. size must be > 0. */
static uint8_t *fuzz_copy_tail(const uint8_t *data, size_t size, size_t *len_p)
{
    uint8_t *msg = malloc(size);

    FUZZ_CHECK(msg != NULL);
    memcpy(msg, data + 1, size - 1);
    *len_p = size - 1;
    return msg;
}

static void fuzz_card(const uint8_t *data, size_t size)
{
    ucpg_wire_card_t card, sentinel;
    uint8_t *msg, *again;
    ucpg_status_t status;
    size_t len;

    if (size == 0) {
        return;
    }
    msg   = fuzz_copy_tail(data, size, &len);
    again = malloc(len + 1);
    FUZZ_CHECK(again != NULL);
    if ((data[0] & 1) && (len >= 5)) {
        msg[0] = 0x43; msg[1] = 0x41; msg[2] = 0x52; msg[3] = 0x44;     /* "CARD" */
        msg[4] = UCPG_WIRE_VERSION;
    }
    if ((data[0] & 2) && (len >= UCPG_WIRE_CARD_FIXED_LEN)) {
        fuzz_put_le(msg + 29, 4, len - UCPG_WIRE_CARD_FIXED_LEN + !!(data[0] & 4));
    }
    memset(&sentinel, 0x5a, sizeof(sentinel));
    memcpy(&card, &sentinel, sizeof(card));
    status = ucpg_wire_card_decode(msg, len, &card);
    FUZZ_CHECK((status == UCPG_OK) || (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK((status == UCPG_OK) == fuzz_card_model_ok(msg, len));
    if (status != UCPG_OK) {
        FUZZ_CHECK(memcmp(&card, &sentinel, sizeof(card)) == 0);
    } else {
        FUZZ_CHECK((const uint8_t*)card.address == msg + UCPG_WIRE_CARD_FIXED_LEN);
        FUZZ_CHECK(ucpg_wire_card_encode(&card, again, len) == len);
        FUZZ_CHECK(memcmp(again, msg, len) == 0);
        FUZZ_CHECK(ucpg_wire_card_encode(&card, again, len - 1) == 0);   /* does not fit */
    }
    free(again);
    free(msg);
}


/* --- boot registry queries ------------------------------------------------- */

static int fuzz_boot_model_ok(const uint8_t *msg, size_t len)
{
    int64_t status;
    uint64_t owner, uuid;

    if ((len == 17) && (msg[0] == 1)) {
        return fuzz_le(msg + 9, 4) != 0;                     /* node */
    }
    if ((len != 25) || (msg[0] != 2)) {
        return 0;
    }
    status = (int32_t)(uint32_t)fuzz_le(msg + 9, 4);
    owner  = fuzz_le(msg + 13, 4);
    uuid   = fuzz_le(msg + 17, 8);
    if (status == 0) {
        return uuid != 0;
    }
    return (status == UCPG_ERR_NOT_FOUND) && (owner == 0) && (uuid == 0);
}

static void fuzz_boot(const uint8_t *data, size_t size)
{
    uint8_t again[UCPG_BOOT_ANSWER_LEN], *msg;
    ucpg_boot_msg_t m, sentinel;
    ucpg_status_t status;
    size_t len;

    if (size == 0) {
        return;
    }
    msg = fuzz_copy_tail(data, size, &len);
    if ((data[0] & 1) && (len > 0)) {
        msg[0] = (data[0] & 2) ? 2 : 1;
    }
    memset(&sentinel, 0x5a, sizeof(sentinel));
    memcpy(&m, &sentinel, sizeof(m));
    status = ucpg_boot_msg_decode(msg, len, &m);
    FUZZ_CHECK((status == UCPG_OK) || (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK((status == UCPG_OK) == fuzz_boot_model_ok(msg, len));
    if (status != UCPG_OK) {
        FUZZ_CHECK(memcmp(&m, &sentinel, sizeof(m)) == 0);
    } else {
        FUZZ_CHECK(ucpg_boot_msg_encode(&m, again) == len);
        FUZZ_CHECK(memcmp(again, msg, len) == 0);
    }
    free(msg);
}


/* --- shared-memory messages ------------------------------------------------ */

static int fuzz_shm_model_ok(const uint8_t *msg, size_t len)
{
    uint8_t type;

    if (len < UCPG_WIRE_SHM_LEN) {
        return 0;
    }
    type = msg[0];
    if ((type < UCPG_WIRE_SHM_OFFER) || (type > UCPG_WIRE_SHM_DONE) ||
        (fuzz_le(msg + 2, 4) > INT32_MAX)) {
        return 0;
    }
    if (((type == UCPG_WIRE_SHM_BODY) || (type == UCPG_WIRE_SHM_DONE)) &&
        (fuzz_le(msg + 30, 8) == 0)) {
        return 0;                                   /* gen 0 names no buffer */
    }
    return (type == UCPG_WIRE_SHM_BODY) || (len == UCPG_WIRE_SHM_LEN);
}

static void fuzz_shm(const uint8_t *data, size_t size)
{
    uint8_t again[UCPG_WIRE_SHM_LEN], *msg;
    ucpg_wire_shm_t m, sentinel;
    ucpg_status_t status;
    size_t len;

    if (size == 0) {
        return;
    }
    msg = fuzz_copy_tail(data, size, &len);
    /* Random bytes almost never have a type of 1..5, a shmid of 31 bits and
     * exactly the right length; the first byte's bits make them so, and the
     * gen rule needs eight zero bytes. */
    if ((data[0] & 1) && (len >= 1)) {
        msg[0] = (uint8_t)((data[0] >> 4) % 7);     /* 0 .. 6 */
    }
    if ((data[0] & 2) && (len >= 6)) {
        msg[5] &= 0x7f;
    }
    if ((data[0] & 4) && (len >= 38)) {
        memset(msg + 30, 0, 8);
    }
    if ((data[0] & 8) && (len > UCPG_WIRE_SHM_LEN)) {
        len = UCPG_WIRE_SHM_LEN;
    }
    memset(&sentinel, 0x5a, sizeof(sentinel));
    memcpy(&m, &sentinel, sizeof(m));
    status = ucpg_wire_shm_decode(msg, len, &m);
    FUZZ_CHECK((status == UCPG_OK) || (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK((status == UCPG_OK) == fuzz_shm_model_ok(msg, len));
    if (status != UCPG_OK) {
        FUZZ_CHECK(memcmp(&m, &sentinel, sizeof(m)) == 0);
    } else {
        FUZZ_CHECK(m.type == msg[0]);
        FUZZ_CHECK(m.am_id == msg[1]);
        FUZZ_CHECK((uint64_t)m.shmid == fuzz_le(msg + 2, 4));
        FUZZ_CHECK(m.size == fuzz_le(msg + 6, 8));
        FUZZ_CHECK(m.cookie == fuzz_le(msg + 14, 8));
        FUZZ_CHECK(m.offset == fuzz_le(msg + 22, 8));
        FUZZ_CHECK(m.gen == fuzz_le(msg + 30, 8));
        FUZZ_CHECK(m.len == fuzz_le(msg + 38, 8));
        ucpg_wire_shm_encode(&m, again);
        FUZZ_CHECK(memcmp(again, msg, UCPG_WIRE_SHM_LEN) == 0);
    }
    free(msg);
}


/* --- reader and writer ---------------------------------------------------- */

enum {
    FUZZ_OP_U8,
    FUZZ_OP_U16,
    FUZZ_OP_U32,
    FUZZ_OP_U64,
    FUZZ_OP_BYTES,    /* length from the upper bits of the op byte */
    FUZZ_OP_FINISH,
    FUZZ_OP_LAST
};

/* The writer model: a write fits iff nothing overflowed before and it fits. */
static void fuzz_writer_model(const ucpg_wire_writer_t *w, size_t *len, int *overflow,
                              size_t n)
{
    if (!*overflow && ((w->cap - *len) >= n)) {
        *len += n;
    } else {
        *overflow = 1;
    }
    FUZZ_CHECK(w->len == *len);
    FUZZ_CHECK(!!w->overflow == *overflow);
    FUZZ_CHECK(w->len <= w->cap);
}

static void fuzz_reader(const uint8_t *data, size_t size)
{
    /* At most 255 ops of at most 255 / FUZZ_OP_LAST (bytes) or 8 bytes each. */
    uint8_t echo_buf[255 * (255 / FUZZ_OP_LAST + 8)], small_buf[16];
    ucpg_wire_writer_t echo, small;
    size_t nops, i, n, pos = 0, small_len = 0;
    int is_short = 0, small_overflow = 0;
    const uint8_t *ops, *buf, *p;
    ucpg_wire_reader_t r;
    uint64_t v, expect;
    uint8_t op;

    if (size == 0) {
        return;
    }
    nops = data[0];
    if (nops > size - 1) {
        nops = size - 1;
    }
    ops  = data + 1;
    buf  = ops + nops;
    size = size - 1 - nops;

    /* echo can hold everything a full run reads, so it never overflows;
     * small's capacity comes from the input to reach the overflow paths. */
    ucpg_wire_reader_init(&r, buf, size);
    ucpg_wire_writer_init(&echo, echo_buf, sizeof(echo_buf));
    ucpg_wire_writer_init(&small, small_buf, (nops > 0) ? (ops[0] % (sizeof(small_buf) + 1))
                                                        : sizeof(small_buf));
    for (i = 0; i < nops; ++i) {
        op = ops[i] % FUZZ_OP_LAST;
        if (op == FUZZ_OP_FINISH) {
            FUZZ_CHECK((ucpg_wire_reader_finish(&r) == UCPG_OK) ==
                       (!is_short && (pos == size)));
            continue;
        }
        n = (op == FUZZ_OP_BYTES) ? (size_t)(ops[i] / FUZZ_OP_LAST) : ((size_t)1 << op);
        if (!is_short && ((size - pos) >= n)) {
            expect = (op == FUZZ_OP_BYTES) ? 0 : fuzz_le(buf + pos, n);
            p      = buf + pos;
            pos   += n;
        } else {
            is_short = 1;
            expect   = 0;
            p        = NULL;
        }
        switch (op) {
        case FUZZ_OP_U8:  v = ucpg_wire_get_u8(&r);  break;
        case FUZZ_OP_U16: v = ucpg_wire_get_u16(&r); break;
        case FUZZ_OP_U32: v = ucpg_wire_get_u32(&r); break;
        case FUZZ_OP_U64: v = ucpg_wire_get_u64(&r); break;
        default:
            FUZZ_CHECK(ucpg_wire_get_bytes(&r, n) == p);
            v = 0;
            break;
        }
        FUZZ_CHECK(v == expect);
        FUZZ_CHECK(r.pos == pos);
        FUZZ_CHECK(!!r.short_read == is_short);
        FUZZ_CHECK(r.pos <= r.len);
        FUZZ_CHECK(r.len == size);

        /* Write back what was read, to the echo and to the small writer. */
        if (is_short) {
            continue;
        }
        switch (op) {
        case FUZZ_OP_U8:
            ucpg_wire_put_u8(&echo, (uint8_t)v);
            ucpg_wire_put_u8(&small, (uint8_t)v);
            break;
        case FUZZ_OP_U16:
            ucpg_wire_put_u16(&echo, (uint16_t)v);
            ucpg_wire_put_u16(&small, (uint16_t)v);
            break;
        case FUZZ_OP_U32:
            ucpg_wire_put_u32(&echo, (uint32_t)v);
            ucpg_wire_put_u32(&small, (uint32_t)v);
            break;
        case FUZZ_OP_U64:
            ucpg_wire_put_u64(&echo, v);
            ucpg_wire_put_u64(&small, v);
            break;
        default:
            ucpg_wire_put_bytes(&echo, p, n);
            ucpg_wire_put_bytes(&small, p, n);
            break;
        }
        FUZZ_CHECK(!echo.overflow);
        fuzz_writer_model(&small, &small_len, &small_overflow, n);
    }

    /* Reading then writing is the identity on the bytes consumed. */
    FUZZ_CHECK(echo.len == pos);
    FUZZ_CHECK((pos == 0) || (memcmp(echo_buf, buf, pos) == 0));
    /* A writer that overflowed still holds a correct prefix. */
    FUZZ_CHECK((small.len == 0) || (memcmp(small_buf, buf, small.len) == 0));
    FUZZ_CHECK((ucpg_wire_reader_finish(&r) == UCPG_OK) == (!is_short && (pos == size)));
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input      = data;
    fuzz_input_size = size;
    fuzz_hdr(data, size);
    fuzz_ctl(data, size);
    fuzz_card(data, size);
    fuzz_boot(data, size);
    fuzz_shm(data, size);
    fuzz_reader(data, size);
    return 0;
}
