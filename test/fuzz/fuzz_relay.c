/*
 * fuzz_relay.c - fuzz target for the callback frames a forked process reads
 * from its CPG relay (cpg/relay_wire.h): DELIVER, CONFCHG and TOTEM bodies.
 *
 * The first input byte picks the frame type (mod 4; 3 is an unknown type,
 * which must be refused), the rest is the body. What must hold, besides "no
 * crash, no read out of bounds" (run under ASan in CI):
 *   - a successful decode re-encodes, with the relay's own builders, to the
 *     very same body, so nothing was skipped, invented or truncated;
 *   - names are at most CPG_MAX_NAME_LENGTH, lists at most
 *     UCPG_RELAY_LIST_MAX, a message lies inside the frame;
 *   - a failed decode leaves nothing allocated (ASan's leak check).
 * fuzz_target_generate makes valid frames of each type for the driver.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpg/relay_wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void));

static const uint32_t fuzz_relay_types[4] = {UCPG_RELAY_EV_DELIVER, UCPG_RELAY_EV_CONFCHG,
                                             UCPG_RELAY_EV_TOTEM, UCPG_RELAY_REPLY};

/* Encodes ev the way relay_main.c does; the body, after the frame header. */
static void fuzz_relay_encode(const ucpg_relay_event_t *ev, ucpg_relay_out_t *o)
{
    size_t i;

    ucpg_relay_out_init(o);
    switch (ev->type) {
    case UCPG_RELAY_EV_DELIVER:
        ucpg_relay_out_name(o, &ev->group);
        ucpg_relay_out_u32(o, ev->nodeid);
        ucpg_relay_out_u32(o, ev->pid);
        ucpg_relay_out_bytes(o, ev->msg, ev->msg_len);
        break;
    case UCPG_RELAY_EV_CONFCHG:
        ucpg_relay_out_name(o, &ev->group);
        for (i = 0; i < 3; ++i) {
            ucpg_relay_out_list(o, ev->lists[i], ev->counts[i]);
        }
        break;
    default:
        ucpg_relay_out_u32(o, ev->ring.nodeid);
        ucpg_relay_out_u64(o, ev->ring.seq);
        ucpg_relay_out_u32(o, (uint32_t)ev->nnodes);
        for (i = 0; i < ev->nnodes; ++i) {
            ucpg_relay_out_u32(o, ev->nodes[i]);
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ucpg_relay_frame_t f;
    ucpg_relay_event_t ev;
    ucpg_relay_out_t again;
    size_t i;

    fuzz_input      = data;
    fuzz_input_size = size;
    if (size == 0) {
        return 0;
    }
    f.type = fuzz_relay_types[data[0] % 4];
    f.len  = size - 1;
    f.body = malloc(f.len + 1);       /* as ucpg_relay_frame_recv makes it */
    FUZZ_CHECK(f.body != NULL);
    memcpy(f.body, data + 1, f.len);
    if (ucpg_relay_event_decode(&f, &ev) == UCPG_OK) {
        FUZZ_CHECK(f.type != UCPG_RELAY_REPLY);
        FUZZ_CHECK(ev.group.length <= CPG_MAX_NAME_LENGTH);
        FUZZ_CHECK(ev.nnodes <= UCPG_RELAY_LIST_MAX);
        for (i = 0; i < 3; ++i) {
            FUZZ_CHECK(ev.counts[i] <= UCPG_RELAY_LIST_MAX);
        }
        if (f.type == UCPG_RELAY_EV_DELIVER) {
            FUZZ_CHECK(((uint8_t*)ev.msg >= f.body) &&
                       ((uint8_t*)ev.msg + ev.msg_len <= f.body + f.len));
        }
        fuzz_relay_encode(&ev, &again);
        FUZZ_CHECK(!again.failed && (again.len == f.len));
        FUZZ_CHECK((f.len == 0) || (memcmp(again.p, f.body, f.len) == 0));
        ucpg_relay_out_free(&again);
        ucpg_relay_event_free(&ev);
    }
    free(f.body);
    return 0;
}

/* --- valid inputs for the driver --------------------------------------------------------- */

static void fuzz_relay_gen_list(ucpg_relay_out_t *o, uint64_t (*rng)(void))
{
    struct cpg_address a[4];
    size_t n = rng() % 5, i;

    for (i = 0; i < n; ++i) {
        a[i].nodeid = (uint32_t)rng();
        a[i].pid    = (uint32_t)rng();
        a[i].reason = (uint32_t)(rng() % 6);
    }
    ucpg_relay_out_list(o, a, n);
}

/* A name of up to 140 bytes, written by hand: the builder clamps at 128, and
 * the decoder must refuse what it would not write. */
static size_t fuzz_relay_gen_name(uint8_t *p, uint64_t (*rng)(void))
{
    uint32_t len = (uint32_t)((rng() % 4 == 0) ? rng() % 141 : rng() % 16);

    p[0] = (uint8_t)len;
    p[1] = p[2] = p[3] = 0;
    memset(p + 4, 'g', len);
    return 4 + (size_t)len;
}

size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void))
{
    ucpg_relay_out_t o;
    uint8_t msg[64];
    size_t len = 1, i, k = rng() % 3;

    if (cap < 1 + 4 + 140) {
        return 0;
    }
    buf[0] = (uint8_t)k;
    if (k != 2) {
        len += fuzz_relay_gen_name(buf + 1, rng);
    }
    ucpg_relay_out_init(&o);
    if (k == 0) {
        for (i = 0; i < sizeof(msg); ++i) {
            msg[i] = (uint8_t)rng();
        }
        ucpg_relay_out_u32(&o, (uint32_t)rng());
        ucpg_relay_out_u32(&o, (uint32_t)rng());
        ucpg_relay_out_bytes(&o, msg, rng() % sizeof(msg));
    } else if (k == 1) {
        for (i = 0; i < 3; ++i) {
            fuzz_relay_gen_list(&o, rng);
        }
    } else {
        size_t n = rng() % 4;

        ucpg_relay_out_u32(&o, (uint32_t)rng());
        ucpg_relay_out_u64(&o, rng());
        ucpg_relay_out_u32(&o, (uint32_t)n);
        for (i = 0; i < n; ++i) {
            ucpg_relay_out_u32(&o, (uint32_t)rng());
        }
    }
    if (o.failed || (len + o.len > cap)) {
        ucpg_relay_out_free(&o);
        return 0;
    }
    memcpy(buf + len, o.p, o.len);
    len += o.len;
    ucpg_relay_out_free(&o);
    if (edit && (len > 1)) {
        buf[1 + rng() % (len - 1)] ^= (uint8_t)(1u << (rng() % 8));   /* one bit off */
    }
    return len;
}
