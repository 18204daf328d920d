/*
 * fuzz_group.c - fuzz target for everything the group layer decodes from
 * the wire (group/protocol.h): the fixed message header, the view body an
 * EVT of kind VIEW carries, and the event records of a SYNC_REP.
 *
 * The first input byte picks the decoder (mod 4), the rest is its input.
 * What must hold, besides "no crash, no read out of bounds" (run under
 * ASan in CI):
 *   - header: a successful decode re-encodes to the very same 60 bytes, and
 *     every accepted message obeys the protocol rules (type and kind in
 *     range, ggen != 0, REQ and EVT carry a non-zero number, EVT's stable
 *     point is below its number, LEAVE carries a CPG reason);
 *   - view: a successful decode re-encodes to the same bytes, no process is
 *     listed twice in a list, members carry no reason and the others a
 *     valid one; a failed decode leaves nothing allocated;
 *   - sync records: the walk never goes backwards or past the end, each
 *     record's data lies inside the buffer, and re-encoding the records one
 *     after the other reproduces the bytes walked;
 *   - batch entries: the same for the BATCH container, whose entries must
 *     each be a valid message other than a BATCH.
 * fuzz_target_generate (for the driver in fuzz_driver.c) makes valid inputs
 * of each kind so that random mutation starts from the interesting side.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group/protocol.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void));

static void fuzz_group_header(const uint8_t *p, size_t n)
{
    uint8_t again[UCPG_GROUP_MSG_LEN];
    ucpg_group_msg_t m;

    if (ucpg_group_msg_decode(p, n, &m) != UCPG_OK) {
        return;
    }
    FUZZ_CHECK(n == UCPG_GROUP_MSG_LEN);
    FUZZ_CHECK(ucpg_group_msg_encode(&m, again) == UCPG_GROUP_MSG_LEN);
    FUZZ_CHECK(memcmp(again, p, n) == 0);
    FUZZ_CHECK((m.type >= UCPG_GROUP_MSG_REQ) && (m.type <= UCPG_GROUP_MSG_LAST));
    FUZZ_CHECK((m.kind <= UCPG_GROUP_KIND_LAST) && (m.ggen != 0));
    if ((m.type == UCPG_GROUP_MSG_REQ) || (m.type == UCPG_GROUP_MSG_EVT)) {
        FUZZ_CHECK(m.a != 0);
    }
    if (m.type == UCPG_GROUP_MSG_EVT) {
        FUZZ_CHECK(m.b < m.a);
    }
    if ((m.type == UCPG_GROUP_MSG_SILENT) || (m.type == UCPG_GROUP_MSG_EXPEL) ||
        (m.type == UCPG_GROUP_MSG_UNANSWERED)) {
        FUZZ_CHECK(m.origin.uuid != 0);            /* they name a process */
    }
    if (m.kind == UCPG_GROUP_KIND_LEAVE) {
        FUZZ_CHECK((m.type == UCPG_GROUP_MSG_REQ) && (m.guarantee >= 2) && (m.guarantee <= 5));
    } else {
        FUZZ_CHECK(m.guarantee <= 3);
    }
}

static void fuzz_group_view(const uint8_t *p, size_t n)
{
    ucpg_group_vbody_t v;
    size_t i, total;
    uint8_t *again;

    if (ucpg_group_vbody_decode(p, n, &v) != UCPG_OK) {
        FUZZ_CHECK(v.members == NULL);
        return;
    }
    total = (size_t)v.nmembers + v.nleft + v.njoined;
    FUZZ_CHECK(ucpg_group_vbody_len(&v) == n);
    for (i = 0; i < total; ++i) {
        FUZZ_CHECK((v.members[i].uuid != 0) && (v.members[i].pid != 0));
        FUZZ_CHECK((i < v.nmembers) ? (v.members[i].reason == 0)
                                    : ((v.members[i].reason >= 1) && (v.members[i].reason <= 5)));
    }
    again = malloc(n ? n : 1);
    FUZZ_CHECK(again != NULL);
    ucpg_group_vbody_encode(&v, again);
    FUZZ_CHECK(memcmp(again, p, n) == 0);
    free(again);
    free(v.members);
}

static void fuzz_group_sync(const uint8_t *p, size_t n)
{
    uint8_t *again = malloc(n ? n : 1);
    size_t pos = 0, prev, out = 0;
    ucpg_group_srec_t rec;

    FUZZ_CHECK(again != NULL);
    for (;;) {
        prev = pos;
        if (ucpg_group_srec_next(p, n, &pos, &rec) != UCPG_OK) {
            break;
        }
        FUZZ_CHECK((pos > prev) && (pos <= n));
        FUZZ_CHECK(((const uint8_t*)rec.data >= p + prev) &&
                   ((const uint8_t*)rec.data + rec.len <= p + pos));
        out += ucpg_group_srec_encode(&rec, again + out);
        FUZZ_CHECK(out == pos);
    }
    FUZZ_CHECK(memcmp(again, p, out) == 0);
    free(again);
}

static void fuzz_group_batch(const uint8_t *p, size_t n)
{
    uint8_t *again = malloc(n ? n : 1), hdr[UCPG_GROUP_MSG_LEN];
    size_t pos = 0, prev, out = 0, len;
    ucpg_group_msg_t m;
    const void *data;

    FUZZ_CHECK(again != NULL);
    for (;;) {
        prev = pos;
        if (ucpg_group_batch_next(p, n, &pos, &m, &data, &len) != UCPG_OK) {
            break;
        }
        FUZZ_CHECK((pos > prev) && (pos <= n) && (m.type != UCPG_GROUP_MSG_BATCH));
        FUZZ_CHECK(((const uint8_t*)data >= p + prev) && ((const uint8_t*)data + len <= p + pos));
        ucpg_group_msg_encode(&m, hdr);
        out += ucpg_group_batch_put(again + out, hdr, data, (uint32_t)len);
        FUZZ_CHECK(out == pos);
    }
    FUZZ_CHECK(memcmp(again, p, out) == 0);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input      = data;
    fuzz_input_size = size;
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 4) {
    case 0:  fuzz_group_header(data + 1, size - 1); break;
    case 1:  fuzz_group_view(data + 1, size - 1);   break;
    case 2:  fuzz_group_sync(data + 1, size - 1);   break;
    default: fuzz_group_batch(data + 1, size - 1);  break;
    }
    return 0;
}

/* --- valid inputs for the driver -------------------------------------------- */

static size_t fuzz_gen_header(uint8_t *buf, uint64_t (*rng)(void))
{
    ucpg_group_msg_t m;

    memset(&m, 0, sizeof(m));
    m.type      = (uint8_t)(1 + rng() % UCPG_GROUP_MSG_LAST);
    m.kind      = (m.type == UCPG_GROUP_MSG_EVT) ? (uint8_t)((rng() % 2) * 3) :
                  (m.type == UCPG_GROUP_MSG_REQ) ? (uint8_t)(rng() % 3) : 0;
    m.guarantee = (m.kind == UCPG_GROUP_KIND_LEAVE) ? (uint8_t)(2 + rng() % 4)
                                                    : (uint8_t)(rng() % 4);
    m.gindex    = (uint32_t)rng();
    m.ggen      = rng() | 1;
    m.a         = rng() | 1;
    m.b         = (m.type == UCPG_GROUP_MSG_EVT) ? m.a - 1 : rng();
    m.origin.slot = (uint32_t)rng();
    m.origin.uuid = rng();
    buf[0] = 0;
    return 1 + ucpg_group_msg_encode(&m, buf + 1);
}

static size_t fuzz_gen_view(uint8_t *buf, size_t cap, uint64_t (*rng)(void))
{
    ucpg_group_vmember_t e[6];
    ucpg_group_vbody_t v;
    size_t i;

    v.view_id  = rng() | 1;
    v.nmembers = (uint32_t)(rng() % 3);
    v.nleft    = (uint32_t)(rng() % 2);
    v.njoined  = (uint32_t)(rng() % 2);
    v.members  = e;
    for (i = 0; i < 6; ++i) {
        e[i].slot      = (uint32_t)i;
        e[i].uuid      = (rng() << 8) | (i + 1);
        e[i].nodeid    = 1;
        e[i].pid       = (uint32_t)(100 + i);
        e[i].reason    = (i < v.nmembers) ? 0 : (uint32_t)(1 + rng() % 5);
        e[i].next_lseq = rng();
    }
    if (1 + ucpg_group_vbody_len(&v) > cap) {
        return 0;
    }
    buf[0] = 1;
    ucpg_group_vbody_encode(&v, buf + 1);
    return 1 + ucpg_group_vbody_len(&v);
}

static size_t fuzz_gen_sync(uint8_t *buf, size_t cap, uint64_t (*rng)(void))
{
    static const uint8_t payload[32] = "sync record payload bytes......";
    ucpg_group_srec_t rec;
    size_t out = 1, k, count = rng() % 4;

    buf[0] = 2;
    for (k = 0; k < count; ++k) {
        memset(&rec, 0, sizeof(rec));
        rec.seq       = rng() | 1;
        rec.kind      = (uint8_t)((rng() % 2) * 3);
        rec.guarantee = (uint8_t)(rng() % 4);
        rec.len       = (uint32_t)(rng() % sizeof(payload));
        rec.data      = payload;
        if (out + UCPG_GROUP_SREC_HDR_LEN + rec.len > cap) {
            break;
        }
        out += ucpg_group_srec_encode(&rec, buf + out);
    }
    return out;
}

static size_t fuzz_gen_batch(uint8_t *buf, size_t cap, uint64_t (*rng)(void))
{
    static const uint8_t payload[16] = "batched payload";
    uint8_t hdr[1 + UCPG_GROUP_MSG_LEN];
    size_t out = 1, k, count = rng() % 4, n;

    buf[0] = 3;
    for (k = 0; k < count; ++k) {
        fuzz_gen_header(hdr, rng);
        if (hdr[1] == UCPG_GROUP_MSG_BATCH) {
            hdr[1] = UCPG_GROUP_MSG_ACK;          /* batches do not nest */
            hdr[2] = 0;
        }
        n = rng() % sizeof(payload);
        if (out + UCPG_GROUP_BATCH_ENTRY_HDR + n > cap) {
            break;
        }
        out += ucpg_group_batch_put(buf + out, hdr + 1, payload, (uint32_t)n);
    }
    return out;
}

size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void))
{
    size_t len;

    if (cap < 1 + UCPG_GROUP_MSG_LEN) {
        return 0;
    }
    switch (rng() % 4) {
    case 0:  len = fuzz_gen_header(buf, rng);     break;
    case 1:  len = fuzz_gen_view(buf, cap, rng);  break;
    case 2:  len = fuzz_gen_sync(buf, cap, rng);  break;
    default: len = fuzz_gen_batch(buf, cap, rng); break;
    }
    if (edit && (len > 1)) {
        buf[1 + rng() % (len - 1)] ^= (uint8_t)(1u << (rng() % 8));   /* one bit off */
    }
    return len;
}
