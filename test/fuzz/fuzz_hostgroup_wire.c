/*
 * fuzz_hostgroup_wire.c - fuzz target for the decoder of a host group's log
 * entries (group/hostgroup_wire.h). Any process attached to the log can
 * write the ring, so every member takes each entry as untrusted input.
 *
 * The input is one entry's payload, as ucpg_shm_log_next hands it to the
 * dispatcher. What must hold, besides "no crash, no read out of bounds"
 * (ASan in CI):
 *   - the decoder returns UCPG_OK or UCPG_ERR_MESSAGE, nothing else, and
 *     accepts exactly what a model of the format (below) accepts;
 *   - on UCPG_OK the header is the input's first 16 bytes; a MSG has a
 *     guarantee of at most UCPG_GROUP_SAFE and reason 0, and its data is
 *     the input from byte 16 on (data == input + 16, len == size - 16,
 *     every byte readable); a JOIN or LEAVE is exactly 24 bytes, its
 *     reason valid (JOIN for a JOIN; LEAVE, NODEDOWN or PROCDOWN for a
 *     LEAVE) and its id the input's bytes 16..23;
 *   - what was accepted re-encodes (ucpg_hostgroup_encode_change or
 *     ucpg_hostgroup_encode_msg) to the input, but for the bytes the
 *     decoder does not read (a change's guarantee, the unused word);
 *   - round trip: fields taken from the input, encoded by encode_change and
 *     encode_msg into buffers of exactly the entry's size, decode back to
 *     the same fields.
 * fuzz_target_generate lays out valid entries of each type, and with edit
 * sets one field or the length to a value next to a limit.
 *
 * Model (hostgroup_wire.h): at least 16 bytes; type u8 | guarantee u8 |
 * reason u16 | nodeid u32 | pid u32 | unused u32; type 1 (MSG), 2 (JOIN)
 * or 3 (LEAVE).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group/group.h"
#include "group/hostgroup_wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void));

#define FUZZ_HG_HDR    UCPG_HOSTGROUP_HDR_LEN
#define FUZZ_HG_CHANGE UCPG_HOSTGROUP_CHANGE_LEN

static uint16_t fuzz_get16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static uint32_t fuzz_get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t fuzz_get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static int fuzz_hg_leave_reason(uint16_t reason)
{
    return (reason == UCPG_GROUP_REASON_LEAVE) || (reason == UCPG_GROUP_REASON_NODEDOWN) ||
           (reason == UCPG_GROUP_REASON_PROCDOWN);
}

/* What the decoder must accept, from the format alone. */
static int fuzz_hg_model_accepts(const uint8_t *data, size_t size)
{
    uint16_t reason;

    if (size < FUZZ_HG_HDR) {
        return 0;
    }
    reason = fuzz_get16(data + 2);
    switch (data[0]) {
    case UCPG_HOSTGROUP_MSG:
        return (data[1] <= UCPG_GROUP_SAFE) && (reason == 0);
    case UCPG_HOSTGROUP_JOIN:
        return (size == FUZZ_HG_CHANGE) && (reason == UCPG_GROUP_REASON_JOIN);
    case UCPG_HOSTGROUP_LEAVE:
        return (size == FUZZ_HG_CHANGE) && fuzz_hg_leave_reason(reason);
    default:
        return 0;
    }
}

/* The header decoded is the input's first 16 bytes. */
static void fuzz_hg_check_hdr(const ucpg_hostgroup_entry_t *e, const uint8_t *data)
{
    FUZZ_CHECK(e->hdr.type == data[0]);
    FUZZ_CHECK(e->hdr.guarantee == data[1]);
    FUZZ_CHECK(e->hdr.reason == fuzz_get16(data + 2));
    FUZZ_CHECK(e->hdr.nodeid == fuzz_get32(data + 4));
    FUZZ_CHECK(e->hdr.pid == fuzz_get32(data + 8));
}

/* An accepted entry re-encodes to the input, but for the bytes the decoder
 * ignores: the unused word, and a change's guarantee. */
static void fuzz_hg_reencode(const ucpg_hostgroup_entry_t *e, const uint8_t *data, size_t size)
{
    uint8_t again[FUZZ_HG_CHANGE];

    if (e->hdr.type == UCPG_HOSTGROUP_MSG) {
        ucpg_hostgroup_encode_msg(again, e->hdr.guarantee, e->hdr.nodeid, e->hdr.pid);
        FUZZ_CHECK(memcmp(again, data, 12) == 0);
        return;
    }
    FUZZ_CHECK(size == FUZZ_HG_CHANGE);
    ucpg_hostgroup_encode_change(again, e->hdr.type, e->hdr.reason, e->hdr.nodeid, e->hdr.pid,
                                 e->mid);
    FUZZ_CHECK(again[0] == data[0]);
    FUZZ_CHECK(memcmp(again + 2, data + 2, 10) == 0);
    FUZZ_CHECK(memcmp(again + FUZZ_HG_HDR, data + FUZZ_HG_HDR, 8) == 0);
}

/* The decoder's contract on the input as it is; returns the sum of the
 * message's bytes (read so that ASan sees each). */
static uint64_t fuzz_hg_decode_input(const uint8_t *data, size_t size)
{
    ucpg_hostgroup_entry_t e;
    ucpg_status_t status;
    uint64_t sum = 0;
    size_t i;

    memset(&e, 0xa5, sizeof(e));
    status = ucpg_hostgroup_decode(data, size, &e);
    FUZZ_CHECK((status == UCPG_OK) || (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK((status == UCPG_OK) == fuzz_hg_model_accepts(data, size));
    if (status != UCPG_OK) {
        return 0;
    }
    fuzz_hg_check_hdr(&e, data);
    if (e.hdr.type == UCPG_HOSTGROUP_MSG) {
        FUZZ_CHECK(e.hdr.guarantee <= UCPG_GROUP_SAFE);
        FUZZ_CHECK((const uint8_t*)e.data == data + FUZZ_HG_HDR);
        FUZZ_CHECK(e.len == size - FUZZ_HG_HDR);
        for (i = 0; i < e.len; ++i) {
            sum += ((const uint8_t*)e.data)[i];       /* every byte readable */
        }
    } else {
        FUZZ_CHECK((e.hdr.type == UCPG_HOSTGROUP_JOIN) || (e.hdr.type == UCPG_HOSTGROUP_LEAVE));
        FUZZ_CHECK(size == FUZZ_HG_CHANGE);
        FUZZ_CHECK((e.hdr.type == UCPG_HOSTGROUP_JOIN) ?
                   (e.hdr.reason == UCPG_GROUP_REASON_JOIN) : fuzz_hg_leave_reason(e.hdr.reason));
        FUZZ_CHECK(e.mid == fuzz_get64(data + FUZZ_HG_HDR));
    }
    fuzz_hg_reencode(&e, data, size);
    return sum;
}

/* Fields for the round trip: the input's bytes, zeros past its end. */
static void fuzz_hg_fields(const uint8_t *data, size_t size, uint8_t *f, size_t n)
{
    memset(f, 0, n);
    memcpy(f, data, (size < n) ? size : n);
}

/* An encoder's header is the format's, byte for byte (unused: zero). */
static void fuzz_hg_check_layout(const uint8_t *buf, uint8_t type, uint8_t guarantee,
                                 uint16_t reason, uint32_t nodeid, uint32_t pid)
{
    FUZZ_CHECK((buf[0] == type) && (buf[1] == guarantee) && (fuzz_get16(buf + 2) == reason));
    FUZZ_CHECK((fuzz_get32(buf + 4) == nodeid) && (fuzz_get32(buf + 8) == pid));
    FUZZ_CHECK(fuzz_get32(buf + 12) == 0);
}

/* encode_change, then decode: the same fields back (an exactly sized buffer).
 * Any type and reason, valid or not, are laid out as given. */
static void fuzz_hg_round_trip_change(const uint8_t *f)
{
    static const uint16_t leave_reasons[] = {UCPG_GROUP_REASON_LEAVE, UCPG_GROUP_REASON_NODEDOWN,
                                             UCPG_GROUP_REASON_PROCDOWN};
    uint8_t type    = (f[0] & 1) ? UCPG_HOSTGROUP_LEAVE : UCPG_HOSTGROUP_JOIN;
    uint16_t reason = (type == UCPG_HOSTGROUP_JOIN) ? UCPG_GROUP_REASON_JOIN :
                      leave_reasons[f[1] % 3];
    uint32_t nodeid = fuzz_get32(f + 4), pid = fuzz_get32(f + 8);
    uint64_t mid    = fuzz_get64(f + 12);
    uint8_t *buf    = malloc(FUZZ_HG_CHANGE);
    ucpg_hostgroup_entry_t e;

    FUZZ_CHECK(buf != NULL);
    ucpg_hostgroup_encode_change(buf, f[0], fuzz_get16(f + 2), nodeid, pid, mid);
    fuzz_hg_check_layout(buf, f[0], 0, fuzz_get16(f + 2), nodeid, pid);
    FUZZ_CHECK(fuzz_get64(buf + FUZZ_HG_HDR) == mid);
    ucpg_hostgroup_encode_change(buf, type, reason, nodeid, pid, mid);
    fuzz_hg_check_layout(buf, type, 0, reason, nodeid, pid);
    FUZZ_CHECK(ucpg_hostgroup_decode(buf, FUZZ_HG_CHANGE, &e) == UCPG_OK);
    FUZZ_CHECK((e.hdr.type == type) && (e.hdr.reason == reason));
    FUZZ_CHECK((e.hdr.nodeid == nodeid) && (e.hdr.pid == pid) && (e.mid == mid));
    /* One byte short, it is no change. */
    FUZZ_CHECK(ucpg_hostgroup_decode(buf, FUZZ_HG_CHANGE - 1, &e) == UCPG_ERR_MESSAGE);
    free(buf);
}

/* encode_msg with the input as the message, then decode: the same fields,
 * the data where it was written. */
static void fuzz_hg_round_trip_msg(const uint8_t *f, const uint8_t *data, size_t size)
{
    uint8_t guarantee = (uint8_t)(f[1] % (UCPG_GROUP_SAFE + 1));
    uint32_t nodeid   = fuzz_get32(f + 4), pid = fuzz_get32(f + 8);
    uint8_t *buf      = malloc(FUZZ_HG_HDR + size);
    ucpg_hostgroup_entry_t e;

    FUZZ_CHECK(buf != NULL);
    ucpg_hostgroup_encode_msg(buf, f[1], nodeid, pid);
    fuzz_hg_check_layout(buf, UCPG_HOSTGROUP_MSG, f[1], 0, nodeid, pid);
    ucpg_hostgroup_encode_msg(buf, guarantee, nodeid, pid);
    if (size > 0) {
        memcpy(buf + FUZZ_HG_HDR, data, size);
    }
    FUZZ_CHECK(ucpg_hostgroup_decode(buf, FUZZ_HG_HDR + size, &e) == UCPG_OK);
    FUZZ_CHECK((e.hdr.type == UCPG_HOSTGROUP_MSG) && (e.hdr.guarantee == guarantee));
    FUZZ_CHECK((e.hdr.nodeid == nodeid) && (e.hdr.pid == pid) && (e.hdr.reason == 0));
    FUZZ_CHECK((e.data == buf + FUZZ_HG_HDR) && (e.len == size));
    FUZZ_CHECK((size == 0) || (memcmp(e.data, data, size) == 0));
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t f[20];
    uint64_t sum;

    fuzz_input      = data;
    fuzz_input_size = size;
    sum             = fuzz_hg_decode_input(data, size);
    fuzz_hg_fields(data, size, f, sizeof(f));
    fuzz_hg_round_trip_change(f);
    fuzz_hg_round_trip_msg(f, data, size);
    return (int)(sum & 0);
}

/* --- valid inputs for the driver --------------------------------------------------------- */

/* Sets one header field, or the length, next to a limit the decoder checks. */
static size_t fuzz_hg_edit(uint8_t *buf, size_t len, size_t cap, uint64_t (*rng)(void))
{
    static const uint8_t types[]       = {0, UCPG_HOSTGROUP_MSG, UCPG_HOSTGROUP_JOIN,
                                          UCPG_HOSTGROUP_LEAVE, 4, 0x80, 0xff};
    static const uint8_t guarantees[]  = {UCPG_GROUP_SAFE, UCPG_GROUP_SAFE + 1, 0x7f, 0xff};
    static const uint16_t reasons[]    = {UCPG_GROUP_REASON_NONE, UCPG_GROUP_REASON_JOIN,
                                          UCPG_GROUP_REASON_LEAVE, UCPG_GROUP_REASON_NODEDOWN,
                                          UCPG_GROUP_REASON_NODEUP, UCPG_GROUP_REASON_PROCDOWN,
                                          UCPG_GROUP_REASON_PROCDOWN + 1, 0x100, 0xffff};
    static const size_t lens[]         = {0, 1, FUZZ_HG_HDR - 1, FUZZ_HG_HDR, FUZZ_HG_HDR + 1,
                                          FUZZ_HG_CHANGE - 1, FUZZ_HG_CHANGE,
                                          FUZZ_HG_CHANGE + 1};
    size_t n;

    switch (rng() % 4) {
    case 0:
        buf[0] = types[rng() % sizeof(types)];
        return len;
    case 1:
        buf[1] = guarantees[rng() % sizeof(guarantees)];
        return len;
    case 2:
        memcpy(buf + 2, &reasons[rng() % (sizeof(reasons) / sizeof(reasons[0]))], 2);
        return len;
    default:
        n = lens[rng() % (sizeof(lens) / sizeof(lens[0]))];
        n = (n <= cap) ? n : len;
        if (n > len) {
            memset(buf + len, (int)(rng() & 0xff), n - len);
        }
        return n;
    }
}

size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void))
{
    static const uint16_t leave_reasons[] = {UCPG_GROUP_REASON_LEAVE, UCPG_GROUP_REASON_NODEDOWN,
                                             UCPG_GROUP_REASON_PROCDOWN};
    uint32_t nodeid = (uint32_t)rng(), pid = (uint32_t)rng();
    size_t len, i;

    if (cap < FUZZ_HG_CHANGE + 1) {
        return 0;
    }
    switch (rng() % 3) {
    case 0:
        ucpg_hostgroup_encode_change(buf, UCPG_HOSTGROUP_JOIN, UCPG_GROUP_REASON_JOIN, nodeid, pid,
                                     rng());
        len = FUZZ_HG_CHANGE;
        break;
    case 1:
        ucpg_hostgroup_encode_change(buf, UCPG_HOSTGROUP_LEAVE, leave_reasons[rng() % 3], nodeid,
                                     pid, rng());
        len = FUZZ_HG_CHANGE;
        break;
    default:
        len = FUZZ_HG_HDR + (size_t)((rng() % 4 == 0) ? rng() % (cap - FUZZ_HG_HDR) : rng() % 33);
        ucpg_hostgroup_encode_msg(buf, (uint8_t)(rng() % (UCPG_GROUP_SAFE + 1)), nodeid, pid);
        for (i = FUZZ_HG_HDR; i < len; ++i) {
            buf[i] = (uint8_t)rng();
        }
        break;
    }
    if (rng() % 8 == 0) {
        memset(buf + 12, 0xff, 4);       /* the unused word: not checked, not read */
    }
    return edit ? fuzz_hg_edit(buf, len, cap, rng) : len;
}
