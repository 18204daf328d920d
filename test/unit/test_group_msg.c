/*
 * test_group_msg.c - the validation of group message headers
 * (group/protocol.c) for the messages about a silent sequencer
 * (group/silence.c): what each may carry, and that a valid one survives
 * encoding and decoding whole. Arbitrary bytes are the fuzz target's
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_silence_message_survives_the_wire),
        cmocka_unit_test(test_silent_and_expel_need_the_sequencer),
        cmocka_unit_test(test_probe_and_alive_need_an_id),
        cmocka_unit_test(test_no_kind_flag_or_reason_on_them),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
