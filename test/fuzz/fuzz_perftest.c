/*
 * fuzz_perftest.c - fuzz target for ucx_cpg_perftest's control channel
 * (contrib/perftest/proto.c): one line as it comes off the client-server
 * socket or a member's result pipe, and the records read from it.
 *
 * What must hold, besides "no crash, no read out of bounds" (ASan in CI):
 *   - pt_msg_decode_bytes accepts exactly the lines that a model of the
 *     grammar below, written from proto.c's header comment, accepts, and
 *     then gives the model's verb and fields, in order;
 *   - an accepted message encodes (pt_msg_encode) to a line that decodes to
 *     the same message, and encoding that again gives the same bytes;
 *   - a RESULT or PROGRESS that pt_result_from_msg takes has the numbers the
 *     reporter indexes with in range (test, phase, rank, members, senders,
 *     size), finite measurements, and comes back equal through
 *     pt_result_to_msg;
 *   - a HELLO that pt_hello_to_opts takes has every size inside its test's
 *     range, iterations, senders and percentile in range, a group name that
 *     fits, and comes back equal through pt_hello_from_opts; a HELLO it
 *     refuses leaves a reason (a NUL-terminated one).
 *
 * The grammar: VERB = 1..15 of [A-Z]; then fields " key=value", at most 24,
 * no key twice; key = 1..23 of [a-z0-9_]; value = bytes 0x21..0x7e other
 * than '%' and '=', or "%" and two hex digits other than "00", at most 511
 * once decoded; then an optional '\n' as the very last byte.
 *
 * fuzz_target_generate makes valid HELLO, RESULT, PROGRESS and short lines
 * (GO, ERROR, BYE), now and then with one field given a boundary value.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "perftest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void));

#define FUZZ_PT_FIELDS    24u
#define FUZZ_PT_KEY_MAX   23u
#define FUZZ_PT_VALUE_MAX 511u
#define FUZZ_PT_VERB_MAX  15u

/* Room for the longest encoding: every value byte escaped. */
#define FUZZ_PT_ENC_MAX (FUZZ_PT_VERB_MAX + FUZZ_PT_FIELDS * \
                         (2 + FUZZ_PT_KEY_MAX + 3 * FUZZ_PT_VALUE_MAX) + 2)

/* --- the model ------------------------------------------------------------------ */

typedef struct {
    char     verb[FUZZ_PT_VERB_MAX + 1];
    unsigned nfields;
    char     key[FUZZ_PT_FIELDS][FUZZ_PT_KEY_MAX + 1];
    char     value[FUZZ_PT_FIELDS][FUZZ_PT_VALUE_MAX + 1];
} fuzz_pt_model_t;

static int fuzz_pt_hex(uint8_t c)
{
    if ((c >= '0') && (c <= '9')) {
        return c - '0';
    }
    c = (uint8_t)(c | 0x20);                /* 'A'..'F' -> 'a'..'f' */
    return ((c >= 'a') && (c <= 'f')) ? (c - 'a' + 10) : -1;
}

static int fuzz_pt_key_byte(uint8_t c)
{
    return ((c >= 'a') && (c <= 'z')) || ((c >= '0') && (c <= '9')) || (c == '_');
}

static int fuzz_pt_plain_byte(uint8_t c)
{
    return (c >= 0x21) && (c <= 0x7e) && (c != '%') && (c != '=');
}

/* Decodes the value at d[*i] up to the next ' ' or end into out; -1 if it
 * breaks the grammar. */
static int fuzz_pt_model_value(const uint8_t *d, size_t end, size_t *i, char *out)
{
    size_t n = 0;
    int hi, lo;

    while ((*i < end) && (d[*i] != ' ')) {
        if (n == FUZZ_PT_VALUE_MAX) {
            return -1;
        }
        if (fuzz_pt_plain_byte(d[*i])) {
            out[n++] = (char)d[(*i)++];
            continue;
        }
        if ((d[*i] != '%') || (*i + 2 >= end)) {
            return -1;                      /* neither plain nor "%" and two more */
        }
        hi = fuzz_pt_hex(d[*i + 1]);
        lo = fuzz_pt_hex(d[*i + 2]);
        if ((hi < 0) || (lo < 0) || ((hi | lo) == 0)) {
            return -1;
        }
        out[n++] = (char)(hi * 16 + lo);
        *i += 3;
    }
    out[n] = '\0';
    return 0;
}

static int fuzz_pt_model_decode(const uint8_t *d, size_t len, fuzz_pt_model_t *mm)
{
    size_t end = len, i = 0, n = 0, k;
    unsigned f;

    memset(mm, 0, sizeof(*mm));
    if ((end > 0) && (d[end - 1] == '\n')) {
        --end;
    }
    for (; (i < end) && (d[i] >= 'A') && (d[i] <= 'Z'); ++i) {
        if (n == FUZZ_PT_VERB_MAX) {
            return -1;
        }
        mm->verb[n++] = (char)d[i];
    }
    if (n == 0) {
        return -1;
    }
    while (i < end) {
        if ((d[i++] != ' ') || (mm->nfields == FUZZ_PT_FIELDS)) {
            return -1;
        }
        f = mm->nfields++;
        for (k = 0; (i < end) && fuzz_pt_key_byte(d[i]); ++i) {
            if (k == FUZZ_PT_KEY_MAX) {
                return -1;
            }
            mm->key[f][k++] = (char)d[i];
        }
        if ((k == 0) || (i == end) || (d[i++] != '=') ||
            (fuzz_pt_model_value(d, end, &i, mm->value[f]) != 0)) {
            return -1;
        }
        for (k = 0; k < f; ++k) {
            if (strcmp(mm->key[k], mm->key[f]) == 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* --- the checks ------------------------------------------------------------------ */

static int fuzz_pt_msg_equal(const pt_msg_t *a, const pt_msg_t *b)
{
    unsigned i;

    if ((strcmp(a->verb, b->verb) != 0) || (a->nfields != b->nfields)) {
        return 0;
    }
    for (i = 0; i < a->nfields; ++i) {
        if ((strcmp(a->field[i].key, b->field[i].key) != 0) ||
            (strcmp(a->field[i].value, b->field[i].value) != 0)) {
            return 0;
        }
    }
    return 1;
}

static void fuzz_pt_check_model(const pt_msg_t *m, const fuzz_pt_model_t *mm)
{
    unsigned i;

    FUZZ_CHECK(strcmp(m->verb, mm->verb) == 0);
    FUZZ_CHECK(m->nfields == mm->nfields);
    for (i = 0; i < m->nfields; ++i) {
        FUZZ_CHECK(strcmp(m->field[i].key, mm->key[i]) == 0);
        FUZZ_CHECK(strcmp(m->field[i].value, mm->value[i]) == 0);
    }
}

/* Encode, decode, encode: the same message, then the same bytes. */
static void fuzz_pt_check_round_trip(const pt_msg_t *m)
{
    static char enc[FUZZ_PT_ENC_MAX], enc2[FUZZ_PT_ENC_MAX];
    pt_msg_t back;
    int n, n2;

    n = pt_msg_encode(m, enc, sizeof(enc));
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(pt_msg_decode_bytes(enc, (size_t)n, &back) == 0);
    FUZZ_CHECK(fuzz_pt_msg_equal(m, &back));
    n2 = pt_msg_encode(&back, enc2, sizeof(enc2));
    FUZZ_CHECK((n2 == n) && (memcmp(enc, enc2, (size_t)n) == 0));
}

#define FUZZ_PT_MEASUREMENTS 8u

/* The measurements of a result record, in the order of pt_result_t. */
static void fuzz_pt_measurements(pt_result_t *r, double *out[FUZZ_PT_MEASUREMENTS])
{
    out[0] = &r->elapsed_s;
    out[1] = &r->typical_us;
    out[2] = &r->moment_lat_us;
    out[3] = &r->total_lat_us;
    out[4] = &r->moment_bw;
    out[5] = &r->total_bw;
    out[6] = &r->moment_mr;
    out[7] = &r->total_mr;
}

static int fuzz_pt_result_equal(const pt_result_t *a, const pt_result_t *b)
{
    return (a->test == b->test) && (a->size == b->size) && (a->phase == b->phase) &&
           (a->rank == b->rank) && (a->members == b->members) &&
           (a->senders == b->senders) && (a->final == b->final) && (a->iters == b->iters) &&
           (a->elapsed_s == b->elapsed_s) && (a->typical_us == b->typical_us) &&
           (a->moment_lat_us == b->moment_lat_us) && (a->total_lat_us == b->total_lat_us) &&
           (a->moment_bw == b->moment_bw) && (a->total_bw == b->total_bw) &&
           (a->moment_mr == b->moment_mr) && (a->total_mr == b->total_mr) &&
           (a->retries == b->retries) && (a->errors == b->errors);
}

static void fuzz_pt_check_result(const pt_msg_t *m)
{
    double *d[FUZZ_PT_MEASUREMENTS];
    pt_result_t r, back;
    pt_msg_t again;
    unsigned i;

    if (pt_result_from_msg(m, &r) != 0) {
        return;
    }
    FUZZ_CHECK((r.test >= 0) && (r.test < PT_TEST_COUNT));
    FUZZ_CHECK(r.phase < PT_MAX_SIZES);
    FUZZ_CHECK(r.rank < PT_MAX_MEMBERS);
    FUZZ_CHECK((r.members <= PT_MAX_MEMBERS) && (r.senders <= PT_MAX_MEMBERS));
    FUZZ_CHECK(r.size <= PT_MAX_RSM_SIZE);
    fuzz_pt_measurements(&r, d);
    for (i = 0; i < FUZZ_PT_MEASUREMENTS; ++i) {
        FUZZ_CHECK(isfinite(*d[i]));
    }
    pt_result_to_msg(&r, &again);
    FUZZ_CHECK(pt_result_from_msg(&again, &back) == 0);
    FUZZ_CHECK(fuzz_pt_result_equal(&r, &back));
}

static int fuzz_pt_opts_equal(const pt_opts_t *a, const pt_opts_t *b)
{
    return (a->test == b->test) && (a->nsizes == b->nsizes) &&
           (memcmp(a->sizes, b->sizes, a->nsizes * sizeof(a->sizes[0])) == 0) &&
           (a->iters == b->iters) && (a->warmup == b->warmup) && (a->senders == b->senders) &&
           (a->guarantee == b->guarantee) && (a->verify_all == b->verify_all) &&
           (a->wait == b->wait) && (a->percentile == b->percentile);
}

static void fuzz_pt_check_hello(const pt_msg_t *m)
{
    char group[PT_NAME_MAX], group2[PT_NAME_MAX], err[256], err2[256];
    pt_opts_t o, back;
    pt_msg_t again;
    unsigned i;

    memset(&o, 0, sizeof(o));
    memset(err, 0x55, sizeof(err));
    if (pt_hello_to_opts(m, &o, group, sizeof(group), err, sizeof(err)) != 0) {
        FUZZ_CHECK((memchr(err, '\0', sizeof(err)) != NULL) && (err[0] != '\0'));
        return;
    }
    FUZZ_CHECK((o.test >= 0) && (o.test < PT_TEST_COUNT));
    FUZZ_CHECK((o.nsizes >= 1) && (o.nsizes <= PT_MAX_SIZES));
    for (i = 0; i < o.nsizes; ++i) {
        FUZZ_CHECK((o.sizes[i] >= pt_tests[o.test].min_size) &&
                   ((uint64_t)o.sizes[i] <= pt_tests[o.test].max_size));
    }
    FUZZ_CHECK((o.iters >= 1) && (o.iters <= PT_MAX_ITERS) && (o.warmup <= PT_MAX_ITERS));
    FUZZ_CHECK((o.senders <= 2) && (o.verify_all <= 1));
    FUZZ_CHECK((o.percentile > 0.0) && (o.percentile <= 100.0));
    FUZZ_CHECK(memchr(group, '\0', sizeof(group)) != NULL);
    FUZZ_CHECK(!(pt_tests[o.test].flags & PT_TF_CPG) || (group[0] != '\0'));
    pt_hello_from_opts(&o, group, &again);
    memset(&back, 0, sizeof(back));
    FUZZ_CHECK(pt_hello_to_opts(&again, &back, group2, sizeof(group2), err2,
                                sizeof(err2)) == 0);
    FUZZ_CHECK(fuzz_pt_opts_equal(&o, &back) && (strcmp(group, group2) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_pt_model_t mm;
    pt_msg_t m;
    int ok, model_ok;

    fuzz_input      = data;
    fuzz_input_size = size;
    ok       = (pt_msg_decode_bytes((const char*)data, size, &m) == 0);
    model_ok = (fuzz_pt_model_decode(data, size, &mm) == 0);
    FUZZ_CHECK(ok == model_ok);
    if (!ok) {
        return 0;
    }
    fuzz_pt_check_model(&m, &mm);
    fuzz_pt_check_round_trip(&m);
    fuzz_pt_check_result(&m);
    fuzz_pt_check_hello(&m);
    return 0;
}

/* --- valid inputs ------------------------------------------------------------------ */

static double fuzz_pt_double(uint64_t (*rng)(void))
{
    switch (rng() % 4) {
    case 0:
        return 0.0;
    case 1:
        return (double)(rng() % 1000000u) / 1000.0;
    case 2:
        return ldexp((double)(rng() % 1000u) + 1.0, (int)(rng() % 200u) - 100);
    default:
        return -(double)(rng() % 1000u);
    }
}

static void fuzz_pt_gen_result(pt_msg_t *m, uint64_t (*rng)(void))
{
    double *d[FUZZ_PT_MEASUREMENTS];
    pt_result_t r;
    unsigned i;

    memset(&r, 0, sizeof(r));
    r.test    = (int)(rng() % PT_TEST_COUNT);
    r.size    = (size_t)(rng() % (PT_MAX_RSM_SIZE + 1));
    r.phase   = (unsigned)(rng() % PT_MAX_SIZES);
    r.rank    = (unsigned)(rng() % PT_MAX_MEMBERS);
    r.members = (unsigned)(rng() % (PT_MAX_MEMBERS + 1));
    r.senders = (unsigned)(rng() % (PT_MAX_MEMBERS + 1));
    r.final   = (int)(rng() % 2);
    r.iters   = rng() >> (rng() % 64);
    fuzz_pt_measurements(&r, d);
    for (i = 0; i < FUZZ_PT_MEASUREMENTS; ++i) {
        *d[i] = fuzz_pt_double(rng);
    }
    r.retries = rng() % 1000;
    r.errors  = rng() % 3;
    pt_result_to_msg(&r, m);
}

static void fuzz_pt_gen_hello(pt_msg_t *m, uint64_t (*rng)(void))
{
    const pt_test_info_t *ti;
    char group[32];
    uint64_t span;
    pt_opts_t o;
    unsigned i;

    memset(&o, 0, sizeof(o));
    o.test   = (int)(rng() % PT_TEST_COUNT);
    ti       = &pt_tests[o.test];
    span     = ti->max_size - ti->min_size + 1;
    o.nsizes = 1 + (unsigned)(rng() % 3);
    for (i = 0; i < o.nsizes; ++i) {
        o.sizes[i] = ti->min_size + (size_t)(rng() % span);
    }
    o.iters      = 1 + rng() % 1000000u;
    o.warmup     = rng() % 1000u;
    o.senders    = (unsigned)(rng() % 3);
    o.guarantee  = (rng() % 2) ? PT_GUARANTEE_SAFE : PT_GUARANTEE_AGREED;
    o.verify_all = (int)(rng() % 2);
    o.wait       = (pt_wait_t)(rng() % 3);
    o.percentile = (rng() % 2) ? 50.0 : (double)(1 + rng() % 1000u) / 10.0;
    snprintf(group, sizeof(group), "g %u=%%", (unsigned)(rng() % 1000u));
    pt_hello_from_opts(&o, group, m);
}

static void fuzz_pt_gen_short(pt_msg_t *m, uint64_t (*rng)(void))
{
    switch (rng() % 3) {
    case 0:
        pt_msg_init(m, "GO");
        pt_msg_set_u64(m, "size", rng() % 70000u);
        pt_msg_set_u64(m, "phase", rng() % 40u);
        break;
    case 1:
        pt_msg_init(m, "ERROR");
        pt_msg_set(m, "msg", "rank 1: data error at 100% (x=y)\n");
        break;
    default:
        pt_msg_init(m, "BYE");
        break;
    }
}

/* A value at or just past a limit of some reader. */
static const char *const fuzz_pt_boundary_values[] = {
    "", "0", "-1", "1", "2", "3", "31", "32", "63", "64", "65", "100", "100.0000001",
    "18446744073709551615", "18446744073709551616", "1e308", "1e309", "-1e309", "nan",
    "inf", "0x10", " 1", "1 ", "1k", "1m", "1g", "0,1", "1,,2", ",", "agreed", "safe",
    "poll", "cpg_mcast_rate", "rsm_put_lat", "\xff", "1073741824", "1073741825",
};

static void fuzz_pt_set_boundary(pt_msg_t *m, uint64_t (*rng)(void))
{
    size_t nvalues = sizeof(fuzz_pt_boundary_values) / sizeof(fuzz_pt_boundary_values[0]);
    unsigned f;

    if (m->nfields == 0) {
        return;
    }
    f = (unsigned)(rng() % m->nfields);
    switch (rng() % 5) {
    case 0:                                  /* drop the field */
        m->field[f] = m->field[--m->nfields];
        break;
    case 4:                                  /* the field twice (which m cannot hold) */
        if (m->nfields < FUZZ_PT_FIELDS) {
            m->field[m->nfields++] = m->field[f];
        }
        break;
    case 1:                                  /* a long value */
        memset(m->field[f].value, '9', sizeof(m->field[f].value) - 1);
        m->field[f].value[rng() % sizeof(m->field[f].value)] = '\0';
        break;
    default:
        snprintf(m->field[f].value, sizeof(m->field[f].value), "%s",
                 fuzz_pt_boundary_values[rng() % nvalues]);
        break;
    }
}

size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void))
{
    pt_msg_t m;
    int n;

    switch (rng() % 4) {
    case 0:
    case 1:
        fuzz_pt_gen_hello(&m, rng);
        break;
    case 2:
        fuzz_pt_gen_result(&m, rng);
        break;
    default:
        fuzz_pt_gen_short(&m, rng);
        break;
    }
    if (edit) {
        fuzz_pt_set_boundary(&m, rng);
    }
    n = pt_msg_encode(&m, (char*)buf, cap);
    if (n < 0) {                             /* too long for the buffer: a short one */
        pt_msg_init(&m, "BYE");
        n = pt_msg_encode(&m, (char*)buf, cap);
    }
    return (n < 0) ? 0 : (size_t)n;
}
