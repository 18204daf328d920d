/*
 * test_wire.c - unit tests of core/wire: the little-endian writer and reader,
 * the common 16-byte AM header, the core control messages and the
 * shared-memory messages (OFFER, ACCEPT, REFUSE, BODY, DONE).
 *
 * Everything here is what a peer on the other side of the wire relies on, so
 * the tests pin down the exact bytes (not only encode/decode symmetry, which a
 * consistently wrong codec would also pass) and every rejection rule of the
 * decoders, one rule per test. Each test checks one property and is named
 * after it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/wire.h"


/* --- helpers -------------------------------------------------------------- */

/* Values that catch truncation, sign extension and byte-order mistakes. */
static const uint64_t interesting_u64[] = {
    0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
    0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull,
    0x0102030405060708ull, 0x8070605040302010ull, 0x7fffffffffffffffull,
    0x8000000000000000ull, 0xffffffffffffffffull
};

#define NUM_INTERESTING (sizeof(interesting_u64) / sizeof(interesting_u64[0]))

/* A header with every field distinct and non-zero in every byte. */
static ucpg_wire_hdr_t sample_hdr(void)
{
    ucpg_wire_hdr_t hdr;

    memset(&hdr, 0, sizeof(hdr));
    hdr.am_id    = 0x5a;
    hdr.src_peer = 0x04030201u;
    hdr.src_uuid = 0x1817161514131211ull;
    return hdr;
}

/* A control message that passes every check of the decoder. */
static ucpg_wire_ctl_t sample_ctl(uint8_t type)
{
    ucpg_wire_ctl_t ctl;

    memset(&ctl, 0, sizeof(ctl));
    ctl.type      = type;
    ctl.nodeid    = 7;
    ctl.pid       = 4242;
    ctl.starttime = 0x0102030405060708ull;
    ctl.secret    = 0xdeadbeefcafef00dull;
    ctl.cookie    = 0x1122334455667788ull;
    return ctl;
}

/* The data length that is valid for a control message of this type. */
static size_t valid_data_len(uint8_t type)
{
    return ((type == UCPG_WIRE_CTL_HELLO) || (type == UCPG_WIRE_CTL_HELLO_ACK)) ? 64 : 0;
}

/* Encodes ctl and checks that decoding it with data_len fails; also checks
 * that the output is left untouched, since callers may not look at it then. */
static void assert_ctl_rejected(const ucpg_wire_ctl_t *ctl, size_t data_len)
{
    uint8_t buf[UCPG_WIRE_CTL_LEN];
    ucpg_wire_ctl_t out, before;

    ucpg_wire_ctl_encode(ctl, buf);
    memset(&out, 0xa5, sizeof(out));
    memcpy(&before, &out, sizeof(out));
    assert_int_equal(ucpg_wire_ctl_decode(buf, sizeof(buf), data_len, &out),
                     UCPG_ERR_MESSAGE);
    assert_memory_equal(&out, &before, sizeof(out));
}

static void assert_ctl_accepted(const ucpg_wire_ctl_t *ctl, size_t data_len)
{
    uint8_t buf[UCPG_WIRE_CTL_LEN];
    ucpg_wire_ctl_t out;

    ucpg_wire_ctl_encode(ctl, buf);
    assert_int_equal(ucpg_wire_ctl_decode(buf, sizeof(buf), data_len, &out), UCPG_OK);
}


/* A shared-memory message of this type that passes every check of the
 * decoder: every field distinct and non-zero in every byte. */
static ucpg_wire_shm_t sample_shm(uint8_t type)
{
    ucpg_wire_shm_t msg;

    memset(&msg, 0, sizeof(msg));
    msg.type   = type;
    msg.am_id  = 0x5a;
    msg.shmid  = 0x14131211;
    msg.size   = 0x2827262524232221ull;
    msg.cookie = 0x3837363534333231ull;
    msg.offset = 0x4847464544434241ull;
    msg.gen    = 0x5857565554535251ull;
    msg.len    = 0x6867666564636261ull;
    return msg;
}

/* Decodes the len bytes of buf and checks that it fails and leaves the
 * output untouched (callers may not look at it then). */
static void assert_shm_bytes_rejected(const uint8_t *buf, size_t len)
{
    ucpg_wire_shm_t out, before;

    memset(&out, 0xa5, sizeof(out));
    memcpy(&before, &out, sizeof(out));
    assert_int_equal(ucpg_wire_shm_decode(buf, len, &out), UCPG_ERR_MESSAGE);
    assert_memory_equal(&out, &before, sizeof(out));
}

static void assert_shm_rejected(const ucpg_wire_shm_t *msg)
{
    uint8_t buf[UCPG_WIRE_SHM_LEN];

    ucpg_wire_shm_encode(msg, buf);
    assert_shm_bytes_rejected(buf, sizeof(buf));
}

static void assert_shm_accepted(const ucpg_wire_shm_t *msg)
{
    uint8_t buf[UCPG_WIRE_SHM_LEN];
    ucpg_wire_shm_t out;

    ucpg_wire_shm_encode(msg, buf);
    assert_int_equal(ucpg_wire_shm_decode(buf, sizeof(buf), &out), UCPG_OK);
}


/* --- writer and reader: round trips --------------------------------------- */

static void test_u8_round_trips(void **state)
{
    uint8_t buf[NUM_INTERESTING];
    ucpg_wire_writer_t w;
    ucpg_wire_reader_t r;
    size_t i;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    for (i = 0; i < NUM_INTERESTING; ++i) {
        ucpg_wire_put_u8(&w, (uint8_t)interesting_u64[i]);
    }
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(buf));
    ucpg_wire_reader_init(&r, buf, w.len);
    for (i = 0; i < NUM_INTERESTING; ++i) {
        assert_int_equal(ucpg_wire_get_u8(&r), (uint8_t)interesting_u64[i]);
    }
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_OK);
}

static void test_u16_round_trips(void **state)
{
    uint8_t buf[NUM_INTERESTING * 2];
    ucpg_wire_writer_t w;
    ucpg_wire_reader_t r;
    size_t i;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    for (i = 0; i < NUM_INTERESTING; ++i) {
        ucpg_wire_put_u16(&w, (uint16_t)interesting_u64[i]);
    }
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(buf));
    ucpg_wire_reader_init(&r, buf, w.len);
    for (i = 0; i < NUM_INTERESTING; ++i) {
        assert_int_equal(ucpg_wire_get_u16(&r), (uint16_t)interesting_u64[i]);
    }
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_OK);
}

static void test_u32_round_trips(void **state)
{
    uint8_t buf[NUM_INTERESTING * 4];
    ucpg_wire_writer_t w;
    ucpg_wire_reader_t r;
    size_t i;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    for (i = 0; i < NUM_INTERESTING; ++i) {
        ucpg_wire_put_u32(&w, (uint32_t)interesting_u64[i]);
    }
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(buf));
    ucpg_wire_reader_init(&r, buf, w.len);
    for (i = 0; i < NUM_INTERESTING; ++i) {
        assert_int_equal(ucpg_wire_get_u32(&r), (uint32_t)interesting_u64[i]);
    }
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_OK);
}

static void test_u64_round_trips(void **state)
{
    uint8_t buf[NUM_INTERESTING * 8];
    ucpg_wire_writer_t w;
    ucpg_wire_reader_t r;
    size_t i;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    for (i = 0; i < NUM_INTERESTING; ++i) {
        ucpg_wire_put_u64(&w, interesting_u64[i]);
    }
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(buf));
    ucpg_wire_reader_init(&r, buf, w.len);
    for (i = 0; i < NUM_INTERESTING; ++i) {
        assert_int_equal(ucpg_wire_get_u64(&r), interesting_u64[i]);
    }
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_OK);
}

/* get_bytes returns a pointer into the buffer (zero copy), at the right place. */
static void test_bytes_round_trip_in_place(void **state)
{
    static const uint8_t payload[] = { 1, 2, 3, 4, 5, 6, 7 };
    uint8_t buf[1 + sizeof(payload) + 1];
    ucpg_wire_writer_t w;
    ucpg_wire_reader_t r;
    const uint8_t *p;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    ucpg_wire_put_u8(&w, 0xaa);
    ucpg_wire_put_bytes(&w, payload, sizeof(payload));
    ucpg_wire_put_u8(&w, 0xbb);
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(buf));

    ucpg_wire_reader_init(&r, buf, w.len);
    assert_int_equal(ucpg_wire_get_u8(&r), 0xaa);
    p = ucpg_wire_get_bytes(&r, sizeof(payload));
    assert_ptr_equal(p, buf + 1);
    assert_memory_equal(p, payload, sizeof(payload));
    assert_int_equal(ucpg_wire_get_u8(&r), 0xbb);
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_OK);
}

/* A zero-length field is legal at any position, even at the very end. */
static void test_zero_length_bytes_are_not_a_short_read(void **state)
{
    uint8_t buf[1] = { 0x11 };
    ucpg_wire_writer_t w;
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_writer_init(&w, buf, 0);
    ucpg_wire_put_bytes(&w, NULL, 0);
    assert_false(w.overflow);
    assert_int_equal(w.len, 0);

    ucpg_wire_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ucpg_wire_get_u8(&r), 0x11);
    assert_non_null(ucpg_wire_get_bytes(&r, 0));
    assert_false(r.short_read);
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_OK);
}

/* Mixed sizes back to back: no padding, no alignment. */
static void test_mixed_sizes_are_packed_without_padding(void **state)
{
    static const uint8_t expected[] = {
        0x01,
        0x03, 0x02,
        0x07, 0x06, 0x05, 0x04,
        0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08
    };
    uint8_t buf[sizeof(expected)];
    ucpg_wire_writer_t w;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    ucpg_wire_put_u8(&w, 0x01);
    ucpg_wire_put_u16(&w, 0x0203);
    ucpg_wire_put_u32(&w, 0x04050607u);
    ucpg_wire_put_u64(&w, 0x08090a0b0c0d0e0full);
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(expected));
    assert_memory_equal(buf, expected, sizeof(expected));
}


/* --- reader: short reads and finish --------------------------------------- */

/* For each size, a buffer one byte too short: the read yields 0 and flags it. */
static void test_get_past_end_returns_zero_and_sets_short_read(void **state)
{
    /* Non-zero bytes, so a partial read would show up as a non-zero value. */
    static const uint8_t buf[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, buf, 0);
    assert_int_equal(ucpg_wire_get_u8(&r), 0);
    assert_true(r.short_read);

    ucpg_wire_reader_init(&r, buf, 1);
    assert_int_equal(ucpg_wire_get_u16(&r), 0);
    assert_true(r.short_read);

    ucpg_wire_reader_init(&r, buf, 3);
    assert_int_equal(ucpg_wire_get_u32(&r), 0);
    assert_true(r.short_read);

    ucpg_wire_reader_init(&r, buf, 7);
    assert_int_equal(ucpg_wire_get_u64(&r), 0);
    assert_true(r.short_read);
}

static void test_get_bytes_past_end_returns_null_and_sets_short_read(void **state)
{
    static const uint8_t buf[4] = { 1, 2, 3, 4 };
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, buf, sizeof(buf));
    assert_null(ucpg_wire_get_bytes(&r, sizeof(buf) + 1));
    assert_true(r.short_read);

    /* A length that would wrap pos + n around must not pass either. */
    ucpg_wire_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ucpg_wire_get_u8(&r), 1);
    assert_null(ucpg_wire_get_bytes(&r, SIZE_MAX));
    assert_true(r.short_read);
}

/* A short read leaves the position where it was: nothing was consumed. */
static void test_short_read_does_not_advance_position(void **state)
{
    static const uint8_t buf[3] = { 1, 2, 3 };
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ucpg_wire_get_u8(&r), 1);
    assert_int_equal(ucpg_wire_get_u32(&r), 0);
    assert_int_equal(r.pos, 1);
}

/* Once short, later reads fail even if they would fit, so a decoder that
 * reads all fields and checks once at the end can never mix up offsets. */
static void test_short_read_is_sticky(void **state)
{
    static const uint8_t buf[3] = { 1, 2, 3 };
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ucpg_wire_get_u32(&r), 0);
    assert_int_equal(ucpg_wire_get_u8(&r), 0);
    assert_null(ucpg_wire_get_bytes(&r, 0));
    assert_true(r.short_read);
}

static void test_finish_fails_after_short_read(void **state)
{
    static const uint8_t buf[2] = { 1, 2 };
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, buf, sizeof(buf));
    (void)ucpg_wire_get_u32(&r);
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_ERR_MESSAGE);
}

/* Trailing bytes mean the sender and we disagree on the format. */
static void test_finish_fails_on_trailing_bytes(void **state)
{
    static const uint8_t buf[5] = { 1, 2, 3, 4, 5 };
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ucpg_wire_get_u32(&r), 0x04030201u);
    assert_false(r.short_read);
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_ERR_MESSAGE);
}

static void test_finish_succeeds_on_empty_buffer_with_no_reads(void **state)
{
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, "", 0);
    assert_int_equal(ucpg_wire_reader_finish(&r), UCPG_OK);
}

/* A NULL buffer is an empty one whatever length came with it. */
static void test_reader_on_null_buffer_is_empty(void **state)
{
    ucpg_wire_reader_t r;

    (void)state;
    ucpg_wire_reader_init(&r, NULL, 100);
    assert_int_equal(r.len, 0);
    assert_int_equal(ucpg_wire_get_u8(&r), 0);
    assert_true(r.short_read);
}


/* --- writer: overflow ----------------------------------------------------- */

static void test_writer_exact_fit_does_not_overflow(void **state)
{
    uint8_t buf[15];
    ucpg_wire_writer_t w;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    ucpg_wire_put_u64(&w, 1);
    ucpg_wire_put_u32(&w, 2);
    ucpg_wire_put_u16(&w, 3);
    ucpg_wire_put_u8(&w, 4);
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(buf));
}

/* A write that does not fit sets the flag, does not grow len and writes no byte. */
static void test_writer_overflow_sets_flag_and_writes_nothing(void **state)
{
    uint8_t buf[8];
    ucpg_wire_writer_t w;
    size_t i;

    (void)state;
    memset(buf, 0xee, sizeof(buf));
    ucpg_wire_writer_init(&w, buf, 7);
    ucpg_wire_put_u64(&w, 0);
    assert_true(w.overflow);
    assert_int_equal(w.len, 0);
    for (i = 0; i < sizeof(buf); ++i) {
        assert_int_equal(buf[i], 0xee);
    }
}

/* After an overflow even a small write that would fit is refused, so the
 * message is never a prefix with a hole in it. */
static void test_writer_overflow_is_sticky(void **state)
{
    uint8_t buf[4];
    ucpg_wire_writer_t w;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    ucpg_wire_put_u16(&w, 1);
    ucpg_wire_put_u32(&w, 2);
    assert_true(w.overflow);
    assert_int_equal(w.len, 2);
    ucpg_wire_put_u8(&w, 3);
    ucpg_wire_put_bytes(&w, "x", 1);
    assert_true(w.overflow);
    assert_int_equal(w.len, 2);
}

static void test_writer_put_bytes_overflow_sets_flag(void **state)
{
    uint8_t buf[4];
    ucpg_wire_writer_t w;

    (void)state;
    ucpg_wire_writer_init(&w, buf, sizeof(buf));
    ucpg_wire_put_bytes(&w, "hello", 5);
    assert_true(w.overflow);
    assert_int_equal(w.len, 0);
}


/* --- common header -------------------------------------------------------- */

static void test_hdr_round_trips(void **state)
{
    ucpg_wire_hdr_t in = sample_hdr(), out;
    uint8_t buf[UCPG_WIRE_HDR_LEN];

    (void)state;
    ucpg_wire_hdr_encode(&in, buf);
    memset(&out, 0, sizeof(out));
    assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_OK);
    assert_int_equal(out.am_id, in.am_id);
    assert_int_equal(out.src_peer, in.src_peer);
    assert_int_equal(out.src_uuid, in.src_uuid);
}

static void test_hdr_round_trips_extreme_values(void **state)
{
    ucpg_wire_hdr_t in, out;
    uint8_t buf[UCPG_WIRE_HDR_LEN];

    (void)state;
    in.am_id    = 0xff;
    in.src_peer = UINT32_MAX;
    in.src_uuid = UINT64_MAX;
    ucpg_wire_hdr_encode(&in, buf);
    assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_OK);
    assert_int_equal(out.am_id, 0xff);
    assert_int_equal(out.src_peer, UINT32_MAX);
    assert_int_equal(out.src_uuid, UINT64_MAX);
}

/* The format is the contract with other builds: pin every byte. */
static void test_hdr_encoding_is_byte_exact_little_endian(void **state)
{
    static const uint8_t expected[UCPG_WIRE_HDR_LEN] = {
        0x55, 0x43,                                     /* magic 0x4355, "UC" */
        0x01,                                           /* version */
        0x5a,                                           /* am_id */
        0x01, 0x02, 0x03, 0x04,                         /* src_peer */
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18  /* src_uuid */
    };
    ucpg_wire_hdr_t hdr = sample_hdr();
    uint8_t buf[UCPG_WIRE_HDR_LEN];

    (void)state;
    assert_int_equal(UCPG_WIRE_HDR_LEN, 16);
    ucpg_wire_hdr_encode(&hdr, buf);
    assert_memory_equal(buf, expected, sizeof(expected));
    assert_memory_equal(buf, "UC", 2);
}

static void test_hdr_decode_rejects_every_short_length(void **state)
{
    ucpg_wire_hdr_t in = sample_hdr(), out;
    uint8_t buf[UCPG_WIRE_HDR_LEN];
    size_t len;

    (void)state;
    ucpg_wire_hdr_encode(&in, buf);
    for (len = 0; len < UCPG_WIRE_HDR_LEN; ++len) {
        assert_int_equal(ucpg_wire_hdr_decode(buf, len, &out), UCPG_ERR_MESSAGE);
    }
}

static void test_hdr_decode_rejects_null_buffer(void **state)
{
    ucpg_wire_hdr_t out;

    (void)state;
    assert_int_equal(ucpg_wire_hdr_decode(NULL, UCPG_WIRE_HDR_LEN, &out),
                     UCPG_ERR_MESSAGE);
}

static void test_hdr_decode_rejects_bad_magic(void **state)
{
    ucpg_wire_hdr_t in = sample_hdr(), out;
    uint8_t buf[UCPG_WIRE_HDR_LEN];

    (void)state;
    ucpg_wire_hdr_encode(&in, buf);
    /* Byte-swapped magic: a big-endian encoder would produce this. */
    buf[0] = 0x43;
    buf[1] = 0x55;
    assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_ERR_MESSAGE);
    buf[0] = 0x00;
    buf[1] = 0x00;
    assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_ERR_MESSAGE);
    /* One wrong byte of two is enough. */
    buf[0] = 0x55;
    buf[1] = 0x44;
    assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_ERR_MESSAGE);
}

static void test_hdr_decode_rejects_bad_version(void **state)
{
    static const uint8_t bad_versions[] = { 0, 2, 0x7f, 0xff };
    ucpg_wire_hdr_t in = sample_hdr(), out;
    uint8_t buf[UCPG_WIRE_HDR_LEN];
    size_t i;

    (void)state;
    ucpg_wire_hdr_encode(&in, buf);
    for (i = 0; i < sizeof(bad_versions); ++i) {
        buf[2] = bad_versions[i];
        assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_ERR_MESSAGE);
    }
}

/* uuid 0 is "no incarnation"; a sender can never have it. */
static void test_hdr_decode_rejects_uuid_zero(void **state)
{
    ucpg_wire_hdr_t in = sample_hdr(), out;
    uint8_t buf[UCPG_WIRE_HDR_LEN];

    (void)state;
    in.src_uuid = 0;
    ucpg_wire_hdr_encode(&in, buf);
    assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_ERR_MESSAGE);
}

/* The layer's own header follows the common one in the same buffer. */
static void test_hdr_decode_accepts_header_as_prefix_of_longer_buffer(void **state)
{
    ucpg_wire_hdr_t in = sample_hdr(), out;
    uint8_t buf[UCPG_WIRE_HDR_LEN + 37];

    (void)state;
    memset(buf, 0xcc, sizeof(buf));
    ucpg_wire_hdr_encode(&in, buf);
    assert_int_equal(ucpg_wire_hdr_decode(buf, sizeof(buf), &out), UCPG_OK);
    assert_int_equal(out.am_id, in.am_id);
    assert_int_equal(out.src_peer, in.src_peer);
    assert_int_equal(out.src_uuid, in.src_uuid);
}


/* --- control messages ----------------------------------------------------- */

static void test_ctl_encode_writes_exactly_ctl_len_bytes(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(UCPG_WIRE_CTL_PING);
    uint8_t buf[UCPG_WIRE_CTL_LEN + 1];

    (void)state;
    assert_int_equal(UCPG_WIRE_CTL_LEN, 33);
    buf[UCPG_WIRE_CTL_LEN] = 0x99;
    assert_int_equal(ucpg_wire_ctl_encode(&ctl, buf), UCPG_WIRE_CTL_LEN);
    assert_int_equal(buf[UCPG_WIRE_CTL_LEN], 0x99);
}

static void test_ctl_round_trips_every_type(void **state)
{
    uint8_t buf[UCPG_WIRE_CTL_LEN];
    ucpg_wire_ctl_t in, out;
    uint8_t type;

    (void)state;
    for (type = UCPG_WIRE_CTL_HELLO; type <= UCPG_WIRE_CTL_LAST; ++type) {
        in = sample_ctl(type);
        ucpg_wire_ctl_encode(&in, buf);
        memset(&out, 0, sizeof(out));
        assert_int_equal(ucpg_wire_ctl_decode(buf, sizeof(buf), valid_data_len(type), &out),
                         UCPG_OK);
        assert_int_equal(out.type, type);
        assert_int_equal(out.nodeid, in.nodeid);
        assert_int_equal(out.pid, in.pid);
        assert_int_equal(out.starttime, in.starttime);
        assert_int_equal(out.secret, in.secret);
        assert_int_equal(out.cookie, in.cookie);
    }
}

static void test_ctl_encoding_is_byte_exact_little_endian(void **state)
{
    static const uint8_t expected[UCPG_WIRE_CTL_LEN] = {
        0x04,                                           /* type PING */
        0x01, 0x02, 0x03, 0x04,                         /* nodeid */
        0x11, 0x12, 0x13, 0x14,                         /* pid */
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* starttime */
        0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, /* secret */
        0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48  /* cookie */
    };
    uint8_t buf[UCPG_WIRE_CTL_LEN];
    ucpg_wire_ctl_t ctl;

    (void)state;
    ctl.type      = UCPG_WIRE_CTL_PING;
    ctl.nodeid    = 0x04030201u;
    ctl.pid       = 0x14131211u;
    ctl.starttime = 0x2827262524232221ull;
    ctl.secret    = 0x3837363534333231ull;
    ctl.cookie    = 0x4847464544434241ull;
    ucpg_wire_ctl_encode(&ctl, buf);
    assert_memory_equal(buf, expected, sizeof(expected));
}

static void test_ctl_decode_rejects_every_short_length(void **state)
{
    ucpg_wire_ctl_t in = sample_ctl(UCPG_WIRE_CTL_PING), out;
    uint8_t buf[UCPG_WIRE_CTL_LEN];
    size_t len;

    (void)state;
    ucpg_wire_ctl_encode(&in, buf);
    for (len = 0; len < UCPG_WIRE_CTL_LEN; ++len) {
        assert_int_equal(ucpg_wire_ctl_decode(buf, len, 0, &out), UCPG_ERR_MESSAGE);
    }
}

/* Unlike the common header, a control message is the whole AM header: extra
 * bytes mean a format we do not speak. */
static void test_ctl_decode_rejects_long_length(void **state)
{
    static const size_t extra[] = { 1, 2, 8, 100 };
    ucpg_wire_ctl_t in = sample_ctl(UCPG_WIRE_CTL_PING), out;
    uint8_t buf[UCPG_WIRE_CTL_LEN + 100];
    size_t i;

    (void)state;
    memset(buf, 0, sizeof(buf));
    ucpg_wire_ctl_encode(&in, buf);
    for (i = 0; i < sizeof(extra) / sizeof(extra[0]); ++i) {
        assert_int_equal(ucpg_wire_ctl_decode(buf, UCPG_WIRE_CTL_LEN + extra[i], 0, &out),
                         UCPG_ERR_MESSAGE);
    }
}

static void test_ctl_decode_rejects_type_zero(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(0);

    (void)state;
    assert_ctl_rejected(&ctl, 0);
    assert_ctl_rejected(&ctl, 64);
}

static void test_ctl_decode_rejects_unknown_types(void **state)
{
    ucpg_wire_ctl_t ctl;
    unsigned type;

    (void)state;
    for (type = UCPG_WIRE_CTL_LAST + 1; type <= 0xff; ++type) {
        ctl = sample_ctl((uint8_t)type);
        assert_ctl_rejected(&ctl, 0);
        assert_ctl_rejected(&ctl, 64);
    }
}

static void test_ctl_decode_rejects_nodeid_zero(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(UCPG_WIRE_CTL_PING);

    (void)state;
    ctl.nodeid = 0;
    assert_ctl_rejected(&ctl, 0);
}

/* Node ids travel as int in the cpg API, so anything above INT32_MAX is bogus. */
static void test_ctl_decode_rejects_nodeid_above_int32_max(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(UCPG_WIRE_CTL_PING);

    (void)state;
    ctl.nodeid = (uint32_t)INT32_MAX + 1;
    assert_ctl_rejected(&ctl, 0);
    ctl.nodeid = UINT32_MAX;
    assert_ctl_rejected(&ctl, 0);
}

static void test_ctl_decode_accepts_nodeid_int32_max(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(UCPG_WIRE_CTL_PING);

    (void)state;
    ctl.nodeid = INT32_MAX;
    assert_ctl_accepted(&ctl, 0);
}

static void test_ctl_decode_rejects_pid_zero(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(UCPG_WIRE_CTL_PING);

    (void)state;
    ctl.pid = 0;
    assert_ctl_rejected(&ctl, 0);
}

/* pid_t is signed 32 bits; a larger value would turn negative in our hands. */
static void test_ctl_decode_rejects_pid_above_int32_max(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(UCPG_WIRE_CTL_PING);

    (void)state;
    ctl.pid = (uint32_t)INT32_MAX + 1;
    assert_ctl_rejected(&ctl, 0);
    ctl.pid = UINT32_MAX;
    assert_ctl_rejected(&ctl, 0);
}

static void test_ctl_decode_accepts_pid_int32_max(void **state)
{
    ucpg_wire_ctl_t ctl = sample_ctl(UCPG_WIRE_CTL_PING);

    (void)state;
    ctl.pid = INT32_MAX;
    assert_ctl_accepted(&ctl, 0);
}

/* HELLO and HELLO_ACK exist to carry the worker address. */
static void test_ctl_decode_rejects_hello_without_address(void **state)
{
    ucpg_wire_ctl_t hello = sample_ctl(UCPG_WIRE_CTL_HELLO);
    ucpg_wire_ctl_t ack   = sample_ctl(UCPG_WIRE_CTL_HELLO_ACK);

    (void)state;
    assert_ctl_rejected(&hello, 0);
    assert_ctl_rejected(&ack, 0);
}

static void test_ctl_decode_rejects_hello_address_above_max(void **state)
{
    ucpg_wire_ctl_t hello = sample_ctl(UCPG_WIRE_CTL_HELLO);
    ucpg_wire_ctl_t ack   = sample_ctl(UCPG_WIRE_CTL_HELLO_ACK);

    (void)state;
    assert_ctl_rejected(&hello, UCPG_WIRE_ADDR_MAX + 1);
    assert_ctl_rejected(&ack, UCPG_WIRE_ADDR_MAX + 1);
    assert_ctl_rejected(&hello, SIZE_MAX);
    assert_ctl_rejected(&ack, SIZE_MAX);
}

static void test_ctl_decode_accepts_hello_address_lengths_1_and_max(void **state)
{
    ucpg_wire_ctl_t hello = sample_ctl(UCPG_WIRE_CTL_HELLO);
    ucpg_wire_ctl_t ack   = sample_ctl(UCPG_WIRE_CTL_HELLO_ACK);

    (void)state;
    assert_ctl_accepted(&hello, 1);
    assert_ctl_accepted(&hello, UCPG_WIRE_ADDR_MAX);
    assert_ctl_accepted(&ack, 1);
    assert_ctl_accepted(&ack, UCPG_WIRE_ADDR_MAX);
}

static void test_ctl_decode_rejects_bye_and_its_ack_with_data(void **state)
{
    ucpg_wire_ctl_t bye = sample_ctl(UCPG_WIRE_CTL_BYE);

    (void)state;
    assert_ctl_rejected(&bye, 1);
    assert_ctl_rejected(&bye, UCPG_WIRE_ADDR_MAX);
    bye = sample_ctl(UCPG_WIRE_CTL_BYE_ACK);
    assert_ctl_rejected(&bye, 1);
    assert_ctl_rejected(&bye, UCPG_WIRE_ADDR_MAX);
}

static void test_ctl_decode_rejects_ping_and_pong_with_data(void **state)
{
    ucpg_wire_ctl_t ping = sample_ctl(UCPG_WIRE_CTL_PING);
    ucpg_wire_ctl_t pong = sample_ctl(UCPG_WIRE_CTL_PONG);

    (void)state;
    assert_ctl_rejected(&ping, 1);
    assert_ctl_rejected(&pong, 1);
}

static void test_ctl_decode_rejects_null_buffer(void **state)
{
    ucpg_wire_ctl_t out;

    (void)state;
    assert_int_equal(ucpg_wire_ctl_decode(NULL, UCPG_WIRE_CTL_LEN, 0, &out),
                     UCPG_ERR_MESSAGE);
}


/* --- shared-memory messages (OFFER, ACCEPT, REFUSE, BODY, DONE) ----------- */

static void test_shm_encode_writes_exactly_shm_len_bytes(void **state)
{
    ucpg_wire_shm_t msg = sample_shm(UCPG_WIRE_SHM_BODY);
    uint8_t buf[UCPG_WIRE_SHM_LEN + 1];

    (void)state;
    assert_int_equal(UCPG_WIRE_SHM_LEN, 46);
    buf[UCPG_WIRE_SHM_LEN] = 0x99;
    ucpg_wire_shm_encode(&msg, buf);
    assert_int_equal(buf[UCPG_WIRE_SHM_LEN], 0x99);
}

/* Every field survives for every type, including the ones a type does not
 * use: the decoder does not second-guess them. */
static void test_shm_round_trips_every_type(void **state)
{
    uint8_t buf[UCPG_WIRE_SHM_LEN];
    ucpg_wire_shm_t in, out;
    uint8_t type;

    (void)state;
    for (type = UCPG_WIRE_SHM_OFFER; type <= UCPG_WIRE_SHM_DONE; ++type) {
        in = sample_shm(type);
        ucpg_wire_shm_encode(&in, buf);
        memset(&out, 0, sizeof(out));
        assert_int_equal(ucpg_wire_shm_decode(buf, sizeof(buf), &out), UCPG_OK);
        assert_int_equal(out.type, type);
        assert_int_equal(out.am_id, in.am_id);
        assert_int_equal(out.shmid, in.shmid);
        assert_int_equal(out.size, in.size);
        assert_int_equal(out.cookie, in.cookie);
        assert_int_equal(out.offset, in.offset);
        assert_int_equal(out.gen, in.gen);
        assert_int_equal(out.len, in.len);
    }
}

static void test_shm_round_trips_extreme_values(void **state)
{
    uint8_t buf[UCPG_WIRE_SHM_LEN];
    ucpg_wire_shm_t in, out;

    (void)state;
    in.type   = UCPG_WIRE_SHM_BODY;
    in.am_id  = 0xff;
    in.shmid  = INT32_MAX;
    in.size   = UINT64_MAX;
    in.cookie = UINT64_MAX;
    in.offset = UINT64_MAX;
    in.gen    = UINT64_MAX;
    in.len    = UINT64_MAX;
    ucpg_wire_shm_encode(&in, buf);
    assert_int_equal(ucpg_wire_shm_decode(buf, sizeof(buf), &out), UCPG_OK);
    assert_int_equal(out.am_id, 0xff);
    assert_int_equal(out.shmid, INT32_MAX);
    assert_int_equal(out.size, UINT64_MAX);
    assert_int_equal(out.cookie, UINT64_MAX);
    assert_int_equal(out.offset, UINT64_MAX);
    assert_int_equal(out.gen, UINT64_MAX);
    assert_int_equal(out.len, UINT64_MAX);
}

static void test_shm_encoding_is_byte_exact_little_endian(void **state)
{
    static const uint8_t expected[UCPG_WIRE_SHM_LEN] = {
        0x04,                                           /* type BODY */
        0x5a,                                           /* am_id */
        0x11, 0x12, 0x13, 0x14,                         /* shmid */
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* size */
        0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, /* cookie */
        0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, /* offset */
        0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, /* gen */
        0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68  /* len */
    };
    ucpg_wire_shm_t msg = sample_shm(UCPG_WIRE_SHM_BODY);
    uint8_t buf[UCPG_WIRE_SHM_LEN];

    (void)state;
    ucpg_wire_shm_encode(&msg, buf);
    assert_memory_equal(buf, expected, sizeof(expected));
}

static void test_shm_decode_rejects_every_short_length(void **state)
{
    uint8_t buf[UCPG_WIRE_SHM_LEN];
    ucpg_wire_shm_t msg;
    uint8_t type;
    size_t len;

    (void)state;
    for (type = UCPG_WIRE_SHM_OFFER; type <= UCPG_WIRE_SHM_DONE; ++type) {
        msg = sample_shm(type);
        ucpg_wire_shm_encode(&msg, buf);
        for (len = 0; len < UCPG_WIRE_SHM_LEN; ++len) {
            assert_shm_bytes_rejected(buf, len);
        }
    }
}

static void test_shm_decode_rejects_null_buffer(void **state)
{
    ucpg_wire_shm_t out;

    (void)state;
    assert_int_equal(ucpg_wire_shm_decode(NULL, UCPG_WIRE_SHM_LEN, &out), UCPG_ERR_MESSAGE);
}

static void test_shm_decode_rejects_type_zero(void **state)
{
    ucpg_wire_shm_t msg = sample_shm(0);

    (void)state;
    assert_shm_rejected(&msg);
}

static void test_shm_decode_rejects_type_above_done(void **state)
{
    ucpg_wire_shm_t msg;
    unsigned type;

    (void)state;
    for (type = UCPG_WIRE_SHM_DONE + 1; type <= 0xff; ++type) {
        msg = sample_shm((uint8_t)type);
        assert_shm_rejected(&msg);
    }
}

/* Generation 0 is "no buffer": a BODY or DONE naming it names nothing. */
static void test_shm_decode_rejects_body_and_done_with_gen_zero(void **state)
{
    ucpg_wire_shm_t body = sample_shm(UCPG_WIRE_SHM_BODY);
    ucpg_wire_shm_t done = sample_shm(UCPG_WIRE_SHM_DONE);

    (void)state;
    body.gen = 0;
    done.gen = 0;
    assert_shm_rejected(&body);
    assert_shm_rejected(&done);
}

/* The other types carry no generation: a sender leaves it 0. */
static void test_shm_decode_accepts_offer_accept_refuse_with_gen_zero(void **state)
{
    ucpg_wire_shm_t msg;
    uint8_t type;

    (void)state;
    for (type = UCPG_WIRE_SHM_OFFER; type <= UCPG_WIRE_SHM_REFUSE; ++type) {
        msg     = sample_shm(type);
        msg.gen = 0;
        assert_shm_accepted(&msg);
    }
}

/* An OFFER's shmid is an int on the reader's side: a value above INT32_MAX
 * (a negative id, once cast) is bogus. */
static void test_shm_decode_rejects_shmid_above_int32_max(void **state)
{
    ucpg_wire_shm_t msg;
    uint8_t type;

    (void)state;
    for (type = UCPG_WIRE_SHM_OFFER; type <= UCPG_WIRE_SHM_DONE; ++type) {
        msg       = sample_shm(type);
        msg.shmid = -1;                             /* 0xffffffff on the wire */
        assert_shm_rejected(&msg);
        msg.shmid = INT32_MIN;                      /* 0x80000000 = INT32_MAX + 1 */
        assert_shm_rejected(&msg);
    }
}

static void test_shm_decode_accepts_shmid_0_and_int32_max(void **state)
{
    ucpg_wire_shm_t msg = sample_shm(UCPG_WIRE_SHM_OFFER);

    (void)state;
    msg.shmid = 0;
    assert_shm_accepted(&msg);
    msg.shmid = INT32_MAX;
    assert_shm_accepted(&msg);
}

/* Only a BODY is followed by something (its message's header); any other
 * type with extra bytes is a format we do not speak. */
static void test_shm_decode_rejects_trailing_bytes_except_on_body(void **state)
{
    static const size_t extra[] = { 1, 2, 8, 100 };
    uint8_t buf[UCPG_WIRE_SHM_LEN + 100];
    ucpg_wire_shm_t msg;
    uint8_t type;
    size_t i;

    (void)state;
    memset(buf, 0, sizeof(buf));
    for (type = UCPG_WIRE_SHM_OFFER; type <= UCPG_WIRE_SHM_DONE; ++type) {
        if (type == UCPG_WIRE_SHM_BODY) {
            continue;
        }
        msg = sample_shm(type);
        ucpg_wire_shm_encode(&msg, buf);
        for (i = 0; i < sizeof(extra) / sizeof(extra[0]); ++i) {
            assert_shm_bytes_rejected(buf, UCPG_WIRE_SHM_LEN + extra[i]);
        }
    }
}

/* A BODY is a prefix: decoding reads its 46 bytes and ignores what follows. */
static void test_shm_decode_accepts_body_followed_by_its_message_header(void **state)
{
    ucpg_wire_shm_t in = sample_shm(UCPG_WIRE_SHM_BODY), out;
    ucpg_wire_hdr_t hdr = sample_hdr();
    uint8_t buf[UCPG_WIRE_SHM_LEN + UCPG_WIRE_HDR_LEN];

    (void)state;
    ucpg_wire_shm_encode(&in, buf);
    ucpg_wire_hdr_encode(&hdr, buf + UCPG_WIRE_SHM_LEN);
    memset(&out, 0, sizeof(out));
    assert_int_equal(ucpg_wire_shm_decode(buf, sizeof(buf), &out), UCPG_OK);
    assert_int_equal(out.type, UCPG_WIRE_SHM_BODY);
    assert_int_equal(out.offset, in.offset);
    assert_int_equal(out.gen, in.gen);
    assert_int_equal(out.len, in.len);
    assert_int_equal(out.am_id, in.am_id);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u8_round_trips),
        cmocka_unit_test(test_u16_round_trips),
        cmocka_unit_test(test_u32_round_trips),
        cmocka_unit_test(test_u64_round_trips),
        cmocka_unit_test(test_bytes_round_trip_in_place),
        cmocka_unit_test(test_zero_length_bytes_are_not_a_short_read),
        cmocka_unit_test(test_mixed_sizes_are_packed_without_padding),
        cmocka_unit_test(test_get_past_end_returns_zero_and_sets_short_read),
        cmocka_unit_test(test_get_bytes_past_end_returns_null_and_sets_short_read),
        cmocka_unit_test(test_short_read_does_not_advance_position),
        cmocka_unit_test(test_short_read_is_sticky),
        cmocka_unit_test(test_finish_fails_after_short_read),
        cmocka_unit_test(test_finish_fails_on_trailing_bytes),
        cmocka_unit_test(test_finish_succeeds_on_empty_buffer_with_no_reads),
        cmocka_unit_test(test_reader_on_null_buffer_is_empty),
        cmocka_unit_test(test_writer_exact_fit_does_not_overflow),
        cmocka_unit_test(test_writer_overflow_sets_flag_and_writes_nothing),
        cmocka_unit_test(test_writer_overflow_is_sticky),
        cmocka_unit_test(test_writer_put_bytes_overflow_sets_flag),
        cmocka_unit_test(test_hdr_round_trips),
        cmocka_unit_test(test_hdr_round_trips_extreme_values),
        cmocka_unit_test(test_hdr_encoding_is_byte_exact_little_endian),
        cmocka_unit_test(test_hdr_decode_rejects_every_short_length),
        cmocka_unit_test(test_hdr_decode_rejects_null_buffer),
        cmocka_unit_test(test_hdr_decode_rejects_bad_magic),
        cmocka_unit_test(test_hdr_decode_rejects_bad_version),
        cmocka_unit_test(test_hdr_decode_rejects_uuid_zero),
        cmocka_unit_test(test_hdr_decode_accepts_header_as_prefix_of_longer_buffer),
        cmocka_unit_test(test_ctl_encode_writes_exactly_ctl_len_bytes),
        cmocka_unit_test(test_ctl_round_trips_every_type),
        cmocka_unit_test(test_ctl_encoding_is_byte_exact_little_endian),
        cmocka_unit_test(test_ctl_decode_rejects_every_short_length),
        cmocka_unit_test(test_ctl_decode_rejects_long_length),
        cmocka_unit_test(test_ctl_decode_rejects_type_zero),
        cmocka_unit_test(test_ctl_decode_rejects_unknown_types),
        cmocka_unit_test(test_ctl_decode_rejects_nodeid_zero),
        cmocka_unit_test(test_ctl_decode_rejects_nodeid_above_int32_max),
        cmocka_unit_test(test_ctl_decode_accepts_nodeid_int32_max),
        cmocka_unit_test(test_ctl_decode_rejects_pid_zero),
        cmocka_unit_test(test_ctl_decode_rejects_pid_above_int32_max),
        cmocka_unit_test(test_ctl_decode_accepts_pid_int32_max),
        cmocka_unit_test(test_ctl_decode_rejects_hello_without_address),
        cmocka_unit_test(test_ctl_decode_rejects_hello_address_above_max),
        cmocka_unit_test(test_ctl_decode_accepts_hello_address_lengths_1_and_max),
        cmocka_unit_test(test_ctl_decode_rejects_bye_and_its_ack_with_data),
        cmocka_unit_test(test_ctl_decode_rejects_ping_and_pong_with_data),
        cmocka_unit_test(test_ctl_decode_rejects_null_buffer),
        cmocka_unit_test(test_shm_encode_writes_exactly_shm_len_bytes),
        cmocka_unit_test(test_shm_round_trips_every_type),
        cmocka_unit_test(test_shm_round_trips_extreme_values),
        cmocka_unit_test(test_shm_encoding_is_byte_exact_little_endian),
        cmocka_unit_test(test_shm_decode_rejects_every_short_length),
        cmocka_unit_test(test_shm_decode_rejects_null_buffer),
        cmocka_unit_test(test_shm_decode_rejects_type_zero),
        cmocka_unit_test(test_shm_decode_rejects_type_above_done),
        cmocka_unit_test(test_shm_decode_rejects_body_and_done_with_gen_zero),
        cmocka_unit_test(test_shm_decode_accepts_offer_accept_refuse_with_gen_zero),
        cmocka_unit_test(test_shm_decode_rejects_shmid_above_int32_max),
        cmocka_unit_test(test_shm_decode_accepts_shmid_0_and_int32_max),
        cmocka_unit_test(test_shm_decode_rejects_trailing_bytes_except_on_body),
        cmocka_unit_test(test_shm_decode_accepts_body_followed_by_its_message_header),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
