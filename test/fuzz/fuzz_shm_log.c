/*
 * fuzz_shm_log.c - fuzz target for the reader of the host-wide log
 * (core/shm_log.h). Every process attached to a log can write all of it, so
 * a reader takes each entry header as untrusted input, like a message.
 *
 * An input is a flags byte and an image of the start of the ring. The image
 * is copied over a 4 KiB ring (the rest zero); then, from position 0, the
 * first `flags` entry headers the image lays out are stamped as committed
 * (a reader only looks at committed entries, and random bytes would almost
 * never be), following the lengths and kinds the image gives, however bad.
 * A reader then reads from position 0. What must hold, besides "no crash,
 * no read out of bounds" (ASan in CI):
 *   - every entry returned lies inside the ring: header, payload and padding
 *     before the ring's end, its data right after its header, its end the
 *     next 16-byte boundary after its payload;
 *   - positions only grow, and reading ends (nothing more, in progress, or
 *     UCPG_ERR_MESSAGE for a bad header) within one lap.
 * fuzz_target_generate lays out valid rings: DATA and VOID entries, and a PAD
 * to the ring's end.
 *
 * Entry header layout (shm_log.c): stamp (u64, position + 1), length (u32),
 * kind (u16: 1 DATA, 2 PAD, 3 VOID), writer (u16).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/shm_log.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void));

#define FUZZ_LOG_CAP   4096u
#define FUZZ_LOG_HDR   16u

static ucpg_shm_log_t *fuzz_log;
static uint8_t        *fuzz_ring;

/* One log for the whole run; its ring is found through an entry reserved at
 * position 0 and never committed (its payload follows its 16-byte header). */
static void fuzz_log_setup(void)
{
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_entry_t e;

    if (fuzz_log != NULL) {
        return;
    }
    FUZZ_CHECK(ucpg_shm_log_create(FUZZ_LOG_CAP, &fuzz_log) == UCPG_OK);
    FUZZ_CHECK(ucpg_shm_log_writer_open(fuzz_log, &w) == UCPG_OK);
    FUZZ_CHECK(ucpg_shm_log_reserve(&w, 0, &e) == UCPG_OK);
    FUZZ_CHECK(e.pos == 0);
    fuzz_ring = (uint8_t*)e.data - FUZZ_LOG_HDR;
}

static uint32_t fuzz_get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static uint16_t fuzz_get16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Stamps up to n headers as committed, following the image's layout. */
static void fuzz_log_stamp(unsigned n)
{
    uint64_t p = 0, need, stamp;
    uint32_t len;

    while ((n-- > 0) && (p < FUZZ_LOG_CAP)) {
        stamp = p + 1;
        memcpy(fuzz_ring + p, &stamp, sizeof(stamp));
        len  = fuzz_get32(fuzz_ring + p + 8);
        need = FUZZ_LOG_HDR + (((uint64_t)len + 15) & ~(uint64_t)15);
        if (fuzz_get16(fuzz_ring + p + 12) == 2) {
            p = FUZZ_LOG_CAP;                  /* a PAD: the rest of the lap */
        } else if (need > FUZZ_LOG_CAP - p) {
            return;
        } else {
            p += need;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ucpg_shm_log_reader_t r;
    ucpg_shm_log_entry_t e;
    ucpg_status_t status;
    uint64_t last = 0, off, sum = 0;
    unsigned reads = 0;
    size_t i;

    fuzz_input      = data;
    fuzz_input_size = size;
    fuzz_log_setup();
    if (size == 0) {
        return 0;
    }
    memset(fuzz_ring, 0, FUZZ_LOG_CAP);
    memcpy(fuzz_ring, data + 1, (size - 1 < FUZZ_LOG_CAP) ? size - 1 : FUZZ_LOG_CAP);
    fuzz_log_stamp(data[0]);
    FUZZ_CHECK(ucpg_shm_log_reader_open(fuzz_log, 0, &r) == UCPG_OK);
    while ((status = ucpg_shm_log_next(&r, &e)) == UCPG_OK) {
        off = e.pos % FUZZ_LOG_CAP;
        FUZZ_CHECK(e.pos >= last);
        FUZZ_CHECK(off + FUZZ_LOG_HDR + e.len <= FUZZ_LOG_CAP);
        FUZZ_CHECK((uint8_t*)e.data == fuzz_ring + off + FUZZ_LOG_HDR);
        FUZZ_CHECK(e.end == e.pos + FUZZ_LOG_HDR + ((e.len + 15) & ~(size_t)15));
        FUZZ_CHECK(e.end - e.pos <= FUZZ_LOG_CAP - off);
        for (i = 0; i < e.len; ++i) {
            sum += ((const uint8_t*)e.data)[i];       /* every byte readable */
        }
        last = e.end;
        FUZZ_CHECK(++reads <= FUZZ_LOG_CAP / FUZZ_LOG_HDR);
    }
    FUZZ_CHECK((status == UCPG_ERR_TRY_AGAIN) || (status == UCPG_INPROGRESS) ||
               (status == UCPG_ERR_MESSAGE));
    FUZZ_CHECK(r.next <= 2 * FUZZ_LOG_CAP);
    ucpg_shm_log_reader_close(&r);
    return (int)(sum & 0);
}

/* Appends one header and as much of a payload of len bytes as fits: a
 * length that runs past the ring is the case the reader must refuse. */
static size_t fuzz_put_entry(uint8_t *buf, size_t at, size_t cap, uint32_t len, uint16_t kind,
                             uint64_t (*rng)(void))
{
    uint64_t need = FUZZ_LOG_HDR + (((uint64_t)len + 15) & ~(uint64_t)15), i;

    if (at + FUZZ_LOG_HDR > cap) {
        return at;
    }
    memset(buf + at, 0, 8);
    memcpy(buf + at + 8, &len, 4);
    memcpy(buf + at + 12, &kind, 2);
    memset(buf + at + 14, 0, 2);
    if (kind == 2) {
        return at + FUZZ_LOG_HDR;
    }
    for (i = at + FUZZ_LOG_HDR; (i < at + need) && (i < cap); ++i) {
        buf[i] = (uint8_t)rng();
    }
    return (size_t)i;
}

size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void))
{
    size_t at = 0, n = 1 + rng() % 24, k, bad = edit ? rng() % n : SIZE_MAX;
    static const uint32_t edges[] = {0, 1, 15, 16, FUZZ_LOG_CAP, FUZZ_LOG_CAP - 16,
                                     UINT32_MAX, UINT32_MAX - 15};
    uint32_t len;
    uint16_t kind;

    if (cap < 1 + FUZZ_LOG_HDR) {
        return 0;
    }
    buf[0] = 255;                                /* stamp every header laid out */
    for (k = 0; k < n; ++k) {
        len  = (uint32_t)(rng() % 48);
        kind = (rng() % 5 == 0) ? 3 : 1;
        if (k == bad) {
            len = edges[rng() % (sizeof(edges) / sizeof(edges[0]))];
        }
        if ((k == n - 1) && (rng() % 2)) {
            kind = 2;                            /* a PAD to the end of the ring */
            len  = (uint32_t)(FUZZ_LOG_CAP - at - FUZZ_LOG_HDR);
        }
        at = fuzz_put_entry(buf + 1, at, cap - 1, len, kind, rng);
    }
    return 1 + at;
}
