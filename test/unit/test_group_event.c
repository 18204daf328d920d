/*
 * test_group_event.c - a group event's body (group/member.c, group_int.h).
 *
 * What the engine and the façade rely on:
 *   - a small received DATA message is kept inside its event: the bytes
 *     the façade is handed are the message's, at the event's own storage,
 *     with no buffer behind them; up to UCPG_GROUP_EVENT_INLINE bytes, and
 *     0 bytes too;
 *   - which received EVTs are kept inline: DATA only, not our own (FLAG_OWN
 *     carries no body), not above the limit, and never another message type;
 *   - sending an inline event on (tree, resend, recovery) gets a buffer
 *     that is a copy of the body, owned by the caller, while the event keeps
 *     its own bytes; an empty body gives no buffer;
 *   - an event made on a buffer hands that buffer out with one more
 *     reference, and shows its bytes and length to the façade;
 *   - replacing an event's buffer (a zero-copy send's copy) moves the bytes
 *     the façade sees with it;
 *   - a VIEW event shares its view part's bytes with the inline body: one
 *     made from a recycled event whose body was full starts with no
 *     address list and an empty view, and frees nothing it does not own;
 *   - events and their buffers are all returned (ASan and valgrind check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "group/group_int.h"

static const ucpg_group_origin_t origin = {.slot = 3, .nodeid = 7, .pid = 4242,
                                           .uuid = 0x1234, .lseq = 9};

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
    size_t i;

    for (i = 0; i < len; ++i) {
        p[i] = (uint8_t)(seed + i * 7);
    }
}

static ucpg_group_msg_t evt_msg(uint8_t kind, uint8_t flags)
{
    ucpg_group_msg_t msg;

    memset(&msg, 0, sizeof(msg));
    msg.type  = UCPG_GROUP_MSG_EVT;
    msg.kind  = kind;
    msg.flags = flags;
    return msg;
}

static void test_inline_body_is_the_message(void **state)
{
    uint8_t data[UCPG_GROUP_EVENT_INLINE];
    size_t sizes[] = {0, 1, 64, UCPG_GROUP_EVENT_INLINE};
    ucpg_group_event_info_t info;
    ucpg_group_event_t *ev;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        fill(data, sizes[i], (uint8_t)i);
        ev = ucpg_group_event_copy(5 + i, UCPG_GROUP_AGREED, &origin,
                                   data, sizes[i]);
        assert_non_null(ev);
        assert_null(ev->buf);
        assert_ptr_equal(ev->data, ev->body);
        assert_int_equal(ev->len, sizes[i]);
        assert_int_equal(ev->seq, 5 + i);
        assert_memory_equal(ev->body, data, sizes[i]);
        ucpg_group_event_info(ev, &info);
        assert_false(info.is_view);
        assert_ptr_equal(info.data, ev->body);
        assert_int_equal(info.len, sizes[i]);
        assert_int_equal(info.sender.nodeid, 7);
        assert_int_equal(info.sender.pid, 4242);
        assert_int_equal(info.guarantee, UCPG_GROUP_AGREED);
        ucpg_group_event_put(ev);
    }
}

static void test_which_events_are_inline(void **state)
{
    ucpg_group_msg_t data = evt_msg(UCPG_GROUP_KIND_DATA, 0);
    ucpg_group_msg_t own  = evt_msg(UCPG_GROUP_KIND_DATA, UCPG_GROUP_FLAG_OWN);
    ucpg_group_msg_t view = evt_msg(UCPG_GROUP_KIND_VIEW, 0);
    ucpg_group_msg_t req  = evt_msg(UCPG_GROUP_KIND_DATA, 0);
    ucpg_group_msg_t re   = evt_msg(UCPG_GROUP_KIND_DATA, UCPG_GROUP_FLAG_RETRANS);

    (void)state;
    req.type = UCPG_GROUP_MSG_REQ;
    assert_true(ucpg_group_evt_inline(&data, 0));
    assert_true(ucpg_group_evt_inline(&data, 64));
    assert_true(ucpg_group_evt_inline(&data, UCPG_GROUP_EVENT_INLINE));
    assert_false(ucpg_group_evt_inline(&data, UCPG_GROUP_EVENT_INLINE + 1));
    assert_true(ucpg_group_evt_inline(&re, 64));      /* a resent one is as any other */
    assert_false(ucpg_group_evt_inline(&own, 0));     /* ours: the pending copy's body */
    assert_false(ucpg_group_evt_inline(&view, 64));   /* views are decoded from a buffer */
    assert_false(ucpg_group_evt_inline(&req, 64));    /* requests are queued as buffers */
}

static void test_sending_an_inline_event_copies_its_body(void **state)
{
    uint8_t data[80];
    ucpg_group_event_t *ev;
    ucpg_buf_t *a, *b;

    (void)state;
    fill(data, sizeof(data), 11);
    ev = ucpg_group_event_copy(1, UCPG_GROUP_SAFE, &origin, data,
                               sizeof(data));
    assert_non_null(ev);
    assert_true(ucpg_group_event_body(ev, &a));
    assert_true(ucpg_group_event_body(ev, &b));
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);                /* each caller owns its copy */
    assert_ptr_not_equal(a->data, ev->body);
    assert_int_equal(a->len, sizeof(data));
    assert_memory_equal(a->data, data, sizeof(data));
    assert_memory_equal(b->data, data, sizeof(data));
    memset(a->data, 0, a->len);                /* the event's bytes stay its own */
    assert_memory_equal(ev->data, data, sizeof(data));
    assert_null(ev->buf);
    ucpg_buf_put(a);
    ucpg_buf_put(b);
    ucpg_group_event_put(ev);
}

static void test_an_empty_event_sends_no_buffer(void **state)
{
    ucpg_group_event_t *ev;
    ucpg_buf_t *buf = (ucpg_buf_t*)&buf;   /* must be overwritten */

    (void)state;
    ev = ucpg_group_event_copy(2, UCPG_GROUP_AGREED, &origin, "", 0);
    assert_non_null(ev);
    assert_true(ucpg_group_event_body(ev, &buf));
    assert_null(buf);
    ucpg_group_event_put(ev);
}

static void test_an_event_on_a_buffer_shares_it(void **state)
{
    ucpg_buf_t *buf = ucpg_buf_new(300), *out;
    ucpg_group_event_info_t info;
    ucpg_group_event_t *ev;

    (void)state;
    assert_non_null(buf);
    fill((uint8_t*)buf->data, buf->len, 3);
    ev = ucpg_group_event_new(3, UCPG_GROUP_KIND_DATA, UCPG_GROUP_AGREED, &origin, buf);
    assert_non_null(ev);
    assert_int_equal(buf->refs, 2);            /* ours and the event's */
    assert_ptr_equal(ev->data, buf->data);
    assert_int_equal(ev->len, 300);
    ucpg_group_event_info(ev, &info);
    assert_ptr_equal(info.data, buf->data);
    assert_int_equal(info.len, 300);
    assert_true(ucpg_group_event_body(ev, &out));
    assert_ptr_equal(out, buf);
    assert_int_equal(buf->refs, 3);
    ucpg_buf_put(out);
    ucpg_group_event_put(ev);
    assert_int_equal(buf->refs, 1);            /* the event let go of its reference */
    ucpg_buf_put(buf);
}

static void test_replacing_the_buffer_moves_the_bytes(void **state)
{
    ucpg_buf_t *first = ucpg_buf_new(16), *second = ucpg_buf_new(40);
    ucpg_group_event_t *ev;

    (void)state;
    assert_non_null(first);
    assert_non_null(second);
    ev = ucpg_group_event_adopt(4, UCPG_GROUP_KIND_DATA, UCPG_GROUP_AGREED, &origin, first);
    assert_non_null(ev);
    ucpg_buf_put(ev->buf);                     /* as the sequencer's zero-copy path does */
    ucpg_group_event_set_buf(ev, second);
    assert_ptr_equal(ev->data, second->data);
    assert_int_equal(ev->len, 40);
    ucpg_group_event_set_buf(ev, NULL);
    assert_null(ev->data);
    assert_int_equal(ev->len, 0);
    ucpg_group_event_set_buf(ev, second);
    ucpg_group_event_put(ev);                  /* drops second */
}

static void test_a_view_event_starts_clean_on_a_recycled_body(void **state)
{
    uint8_t data[UCPG_GROUP_EVENT_INLINE];
    ucpg_group_event_info_t info;
    ucpg_group_event_t *ev, *view;

    (void)state;
    memset(data, 0xa5, sizeof(data));          /* what would be a pointer if misread */
    ev = ucpg_group_event_copy(6, UCPG_GROUP_AGREED, &origin, data, sizeof(data));
    assert_non_null(ev);
    ucpg_group_event_put(ev);                  /* to the spares, body bytes left behind */
    view = ucpg_group_event_new(7, UCPG_GROUP_KIND_VIEW, UCPG_GROUP_AGREED, &origin, NULL);
    assert_non_null(view);
    assert_ptr_equal(view, ev);                /* the same storage, recycled */
    assert_null(view->addrs);
    ucpg_group_event_info(view, &info);
    assert_true(info.is_view);
    assert_int_equal(info.view.view_id, 0);
    assert_null(info.view.members);
    assert_int_equal(info.view.nmembers, 0);
    assert_int_equal(info.view.self_left, 0);
    ucpg_group_event_put(view);                /* must not free the old body's bytes */
}

static int teardown(void **state)
{
    (void)state;
    ucpg_group_event_spares_free();            /* so that leak checkers see nothing */
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_body_is_the_message),
        cmocka_unit_test(test_a_view_event_starts_clean_on_a_recycled_body),
        cmocka_unit_test(test_which_events_are_inline),
        cmocka_unit_test(test_sending_an_inline_event_copies_its_body),
        cmocka_unit_test(test_an_empty_event_sends_no_buffer),
        cmocka_unit_test(test_an_event_on_a_buffer_shares_it),
        cmocka_unit_test(test_replacing_the_buffer_moves_the_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, teardown);
}
