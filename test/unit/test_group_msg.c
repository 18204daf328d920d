/*
 * test_group_msg.c - the validation of group message headers
 * (group/protocol.c) for the messages about a silent sequencer
 * (group/silence.c): what each may carry, and that a valid one survives
 * encoding and decoding whole; which event flags go together (FLAT, OWN
 * and RETRANS: group/tree.c, sequencer.c); the header's byte layout, and
 * that only a header of its exact length decodes. Arbitrary bytes are the fuzz target's
 * (test/fuzz/fuzz_group.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "group/protocol.h"

static ucpg_group_msg_t msg_of(uint8_t type)
{
    ucpg_group_msg_t m;

    memset(&m, 0, sizeof(m));
    m.type        = type;
    m.gindex      = 7;
    m.ggen        = 0x1234;
    m.a           = 3;
    m.origin.slot = 5;
    m.origin.pid  = 4242;
    m.origin.uuid = 0xfeedull;
    return m;
}

/* Encodes m and decodes it again: the status, and the copy in *out. */
static ucpg_status_t round_trip(const ucpg_group_msg_t *m, ucpg_group_msg_t *out)
{
    uint8_t wire[UCPG_GROUP_MSG_LEN];

    assert_int_equal(ucpg_group_msg_encode(m, wire), UCPG_GROUP_MSG_LEN);
    return ucpg_group_msg_decode(wire, sizeof(wire), out);
}

static void test_each_silence_message_survives_the_wire(void **state)
{
    const uint8_t types[] = {UCPG_GROUP_MSG_SILENT, UCPG_GROUP_MSG_PROBE,
                             UCPG_GROUP_MSG_ALIVE, UCPG_GROUP_MSG_EXPEL,
                             UCPG_GROUP_MSG_UNANSWERED};
    ucpg_group_msg_t m, out;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(types); ++i) {
        m = msg_of(types[i]);
        assert_int_equal(round_trip(&m, &out), UCPG_OK);
        assert_int_equal(out.type, types[i]);
        assert_int_equal(out.a, 3);
        assert_int_equal(out.origin.slot, 5);
        assert_int_equal(out.origin.pid, 4242);
        assert_int_equal(out.origin.uuid, 0xfeedull);
    }
}

/* SILENT, EXPEL and UNANSWERED name a process: a uuid of 0 names nobody. */
static void test_silent_and_expel_need_the_sequencer(void **state)
{
    ucpg_group_msg_t m, out;

    (void)state;
    m             = msg_of(UCPG_GROUP_MSG_SILENT);
    m.origin.uuid = 0;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m.type = UCPG_GROUP_MSG_EXPEL;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m.type = UCPG_GROUP_MSG_UNANSWERED;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
}

/* SUPERSEDED marks only an EXPEL (from the founder of a new incarnation). */
static void test_superseded_marks_an_expel_only(void **state)
{
    ucpg_group_msg_t m, out;

    (void)state;
    m       = msg_of(UCPG_GROUP_MSG_EXPEL);
    m.flags = UCPG_GROUP_FLAG_SUPERSEDED;
    assert_int_equal(round_trip(&m, &out), UCPG_OK);
    assert_int_equal(out.flags, UCPG_GROUP_FLAG_SUPERSEDED);
    m.type = UCPG_GROUP_MSG_SILENT;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m      = msg_of(UCPG_GROUP_MSG_EVT);
    m.kind = UCPG_GROUP_KIND_DATA;
    m.flags = UCPG_GROUP_FLAG_SUPERSEDED;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
}

/* A probe id is never 0 (0 means "no probe out" at the candidate). */
static void test_probe_and_alive_need_an_id(void **state)
{
    ucpg_group_msg_t m, out;

    (void)state;
    m   = msg_of(UCPG_GROUP_MSG_PROBE);
    m.a = 0;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m.type = UCPG_GROUP_MSG_ALIVE;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
}

static void test_no_kind_flag_or_reason_on_them(void **state)
{
    ucpg_group_msg_t m, out;

    (void)state;
    m      = msg_of(UCPG_GROUP_MSG_EXPEL);
    m.kind = UCPG_GROUP_KIND_VIEW;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m       = msg_of(UCPG_GROUP_MSG_PROBE);
    m.flags = UCPG_GROUP_FLAG_RETRANS;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m           = msg_of(UCPG_GROUP_MSG_ALIVE);
    m.guarantee = 4;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m      = msg_of(UCPG_GROUP_MSG_LAST + 1);
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
}

/* FLAT (the sequencer sent the event to every member: not passed on) and
 * OWN (the number alone, to its sender) mark fresh DATA events only, never
 * together and never on a resent one. */
static void test_flat_marks_fresh_data_events_only(void **state)
{
    ucpg_group_msg_t m, out;

    (void)state;
    m       = msg_of(UCPG_GROUP_MSG_EVT);
    m.kind  = UCPG_GROUP_KIND_DATA;
    m.flags = UCPG_GROUP_FLAG_FLAT;
    assert_int_equal(round_trip(&m, &out), UCPG_OK);
    assert_int_equal(out.flags, UCPG_GROUP_FLAG_FLAT);
    m.flags = UCPG_GROUP_FLAG_FLAT | UCPG_GROUP_FLAG_OWN;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m.flags = UCPG_GROUP_FLAG_FLAT | UCPG_GROUP_FLAG_RETRANS;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m.flags = UCPG_GROUP_FLAG_FLAT;
    m.kind  = UCPG_GROUP_KIND_VIEW;                 /* views always go to everyone */
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
    m      = msg_of(UCPG_GROUP_MSG_REQ);
    m.kind = UCPG_GROUP_KIND_DATA;
    assert_int_equal(round_trip(&m, &out), UCPG_OK);
    m.flags = UCPG_GROUP_FLAG_FLAT;
    assert_int_equal(round_trip(&m, &out), UCPG_ERR_MESSAGE);
}

/* The header's bytes, field by field, little-endian at fixed offsets: the
 * wire format peers of other builds rely on. */
static void test_the_header_layout_is_fixed_little_endian(void **state)
{
    static const uint8_t expected[UCPG_GROUP_MSG_LEN] = {
        UCPG_GROUP_MSG_EVT, UCPG_GROUP_KIND_DATA, 2, UCPG_GROUP_FLAG_OWN,   /* type..flags */
        0x04, 0x03, 0x02, 0x01,                                             /* gindex */
        0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,                     /* ggen */
        0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,                     /* a */
        0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x01,                     /* b */
        0x44, 0x43, 0x42, 0x41,                                             /* slot */
        0x54, 0x53, 0x52, 0x51,                                             /* nodeid */
        0x64, 0x63, 0x62, 0x61,                                             /* pid */
        0x78, 0x77, 0x76, 0x75, 0x74, 0x73, 0x72, 0x71,                     /* uuid */
        0x88, 0x87, 0x86, 0x85, 0x84, 0x83, 0x82, 0x81                      /* lseq */
    };
    uint8_t wire[UCPG_GROUP_MSG_LEN];
    ucpg_group_msg_t m, out;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.type          = UCPG_GROUP_MSG_EVT;
    m.kind          = UCPG_GROUP_KIND_DATA;
    m.guarantee     = 2;
    m.flags         = UCPG_GROUP_FLAG_OWN;
    m.gindex        = 0x01020304u;
    m.ggen          = 0x1112131415161718ull;
    m.a             = 0x2122232425262728ull;
    m.b             = 0x0132333435363738ull;      /* below a, as an EVT's must be */
    m.origin.slot   = 0x41424344u;
    m.origin.nodeid = 0x51525354u;
    m.origin.pid    = 0x61626364u;
    m.origin.uuid   = 0x7172737475767778ull;
    m.origin.lseq   = 0x8182838485868788ull;
    assert_int_equal(ucpg_group_msg_encode(&m, wire), UCPG_GROUP_MSG_LEN);
    assert_memory_equal(wire, expected, UCPG_GROUP_MSG_LEN);
    assert_int_equal(ucpg_group_msg_decode(expected, sizeof(expected), &out), UCPG_OK);
    assert_memory_equal(&out.origin, &m.origin, offsetof(ucpg_group_origin_t, pid) + 4);
    assert_true((out.type == m.type) && (out.kind == m.kind) && (out.guarantee == 2) &&
                (out.flags == m.flags) && (out.gindex == m.gindex) && (out.ggen == m.ggen) &&
                (out.a == m.a) && (out.b == m.b) && (out.origin.uuid == m.origin.uuid) &&
                (out.origin.lseq == m.origin.lseq));
}

/* Only a header of exactly UCPG_GROUP_MSG_LEN bytes decodes. */
static void test_a_header_of_another_length_is_refused(void **state)
{
    uint8_t wire[UCPG_GROUP_MSG_LEN + 1];
    ucpg_group_msg_t m = msg_of(UCPG_GROUP_MSG_PROBE), out;

    (void)state;
    assert_int_equal(ucpg_group_msg_encode(&m, wire), UCPG_GROUP_MSG_LEN);
    wire[UCPG_GROUP_MSG_LEN] = 0;
    assert_int_equal(ucpg_group_msg_decode(wire, UCPG_GROUP_MSG_LEN, &out), UCPG_OK);
    assert_int_equal(ucpg_group_msg_decode(wire, UCPG_GROUP_MSG_LEN - 1, &out), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_group_msg_decode(wire, UCPG_GROUP_MSG_LEN + 1, &out), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_group_msg_decode(wire, 0, &out), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_group_msg_decode(NULL, UCPG_GROUP_MSG_LEN, &out), UCPG_ERR_MESSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_silence_message_survives_the_wire),
        cmocka_unit_test(test_silent_and_expel_need_the_sequencer),
        cmocka_unit_test(test_superseded_marks_an_expel_only),
        cmocka_unit_test(test_probe_and_alive_need_an_id),
        cmocka_unit_test(test_no_kind_flag_or_reason_on_them),
        cmocka_unit_test(test_flat_marks_fresh_data_events_only),
        cmocka_unit_test(test_the_header_layout_is_fixed_little_endian),
        cmocka_unit_test(test_a_header_of_another_length_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
