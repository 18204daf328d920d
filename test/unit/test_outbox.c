/*
 * test_outbox.c - unit tests of group/outbox.c: how queued group messages
 * leave. The active-message send under it is replaced by a recorder (this
 * tests the packing, not the transport: test_cpg and test_cpg_api run the
 * outbox over real UCX); every recorded message is decoded as a receiver
 * would (protocol.c), and checked against what was queued:
 *   - a message alone for its destination leaves alone, its body not copied;
 *   - messages for one destination leave as one BATCH, in queue order;
 *   - a message above 4 KiB leaves alone, the small ones around it packed;
 *   - a destination's batch never passes 64 KiB with its buffer header: a
 *     long run is split, nothing lost or reordered;
 *   - 40 destinations at once: every message arrives, in order, and no
 *     BATCH is ever packed into another;
 *   - a message queued once for several destinations (a member's children
 *     in the delivery tree) reaches each of them, and a run of such is
 *     packed once: every destination gets the same buffer;
 *   - a BATCH passed on whole down the tree (group/tree.c) leaves alone and
 *     as it is, however small, never packed into another;
 *   - nothing stays referenced or queued after the flush.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/am.h"
#include "group/group_int.h"

/* outbox.c reads the engine's domain: any non-NULL value will do here. */
ucpg_group_engine_t ucpg_group_engine;

/* --- the recorder in place of core/am's send ------------------------------------- */

#define MAX_SENT 4096

typedef struct sent {
    ucpg_peer_id_t   dst;
    ucpg_group_msg_t msg;
    size_t           len;        /* body bytes */
    const void      *data;       /* the body as sent (valid until the test's put) */
    const void      *orig;       /* the buffer's data as handed to the send */
    uint8_t          first;      /* its first byte, 0 if empty */
} sent_t;

static sent_t sends[MAX_SENT];
static size_t nsends;

ucpg_status_t ucpg_am_send_buf_nb(ucpg_domain_t *d, ucpg_peer_id_t dst, unsigned am_id,
                                  const void *hdr, size_t hdr_len, ucpg_buf_t *buf,
                                  ucpg_am_send_cb_t cb, void *arg)
{
    sent_t *s = &sends[nsends++];

    (void)d; (void)cb; (void)arg;
    assert_true(nsends <= MAX_SENT);
    assert_int_equal(am_id, UCPG_AM_ID_GROUP);
    assert_int_equal(hdr_len, UCPG_GROUP_MSG_LEN);
    assert_int_equal(ucpg_group_msg_decode(hdr, hdr_len, &s->msg), UCPG_OK);
    s->dst   = dst;
    s->len   = (buf != NULL) ? buf->len : 0;
    s->data  = (buf != NULL) ? buf->data : NULL;
    s->orig  = s->data;
    s->first = (s->len > 0) ? ((const uint8_t*)s->data)[0] : 0;
    if (s->msg.type == UCPG_GROUP_MSG_BATCH) {
        assert_true(s->len + sizeof(ucpg_buf_t) <= 65536);
        /* what a receiver sees, read now: the batch goes back at done */
        s->data = memcpy(malloc(s->len ? s->len : 1), buf->data, s->len);
    }
    return UCPG_OK;                 /* done at once: the outbox puts its reference */
}

/* --- helpers ------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    ucpg_group_engine.domain = (ucpg_domain_t*)&ucpg_group_engine;
    nsends = 0;
    return 0;
}

static int teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < nsends; ++i) {
        if (sends[i].msg.type == UCPG_GROUP_MSG_BATCH) {
            free((void*)sends[i].data);
        }
    }
    assert_int_equal(ucpg_group_out_pending(), 0);
    return 0;
}

/* Queues an EVT numbered seq + 1 (0 is not a valid number) for dst with a
 * body of len bytes, all equal to (uint8_t)seq (NULL body if len is 0);
 * returns the body (one reference ours). */
static ucpg_buf_t *queue(ucpg_peer_id_t dst, uint64_t seq, size_t len)
{
    ucpg_group_msg_t msg;
    ucpg_buf_t *body = NULL;

    memset(&msg, 0, sizeof(msg));
    msg.type   = UCPG_GROUP_MSG_EVT;
    msg.gindex = 3;
    msg.ggen   = 7;
    msg.a      = seq + 1;
    if (len > 0) {
        body = ucpg_buf_new(len);
        assert_non_null(body);
        memset(body->data, (int)(uint8_t)seq, len);
    }
    ucpg_group_send(dst, 0, &msg, body);
    return body;
}

/* Calls fn(dst, msg, data, len) for every message that arrived, batches
 * unpacked, in arrival order. */
typedef void (*seen_fn_t)(void *arg, ucpg_peer_id_t dst, const ucpg_group_msg_t *msg,
                          const uint8_t *data, size_t len);

static void for_each_arrived(seen_fn_t fn, void *arg)
{
    size_t i, pos, len;
    ucpg_group_msg_t msg;
    const void *data;
    ucpg_status_t status;

    for (i = 0; i < nsends; ++i) {
        if (sends[i].msg.type != UCPG_GROUP_MSG_BATCH) {
            fn(arg, sends[i].dst, &sends[i].msg, sends[i].data, sends[i].len);
            continue;
        }
        pos = 0;
        while ((status = ucpg_group_batch_next(sends[i].data, sends[i].len, &pos, &msg, &data,
                                               &len)) == UCPG_OK) {
            fn(arg, sends[i].dst, &msg, data, len);
        }
        assert_int_equal(status, UCPG_ERR_NOT_FOUND);   /* whole, no BATCH inside */
    }
}

/* Per destination: the next sequence number expected, bytes per message. */
typedef struct order {
    uint64_t next[64];
    size_t   len;
    size_t   count;
} order_t;

static void check_in_order(void *arg, ucpg_peer_id_t dst, const ucpg_group_msg_t *msg,
                           const uint8_t *data, size_t len)
{
    order_t *o = arg;
    size_t i;

    assert_true(dst < 64);
    assert_int_equal(msg->type, UCPG_GROUP_MSG_EVT);
    assert_int_equal(msg->gindex, 3);
    assert_int_equal(msg->ggen, 7);
    assert_int_equal(msg->a - 1, o->next[dst]);
    assert_int_equal(len, o->len);
    for (i = 0; i < len; ++i) {
        assert_int_equal(data[i], (uint8_t)(msg->a - 1));
    }
    o->next[dst]++;
    o->count++;
}

static void put_all(ucpg_buf_t **bodies, size_t n)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        if (bodies[i] != NULL) {
            assert_int_equal(bodies[i]->refs, 1);        /* the outbox let go */
        }
        ucpg_buf_put(bodies[i]);
    }
}

/* --- tests ------------------------------------------------------------------------------ */

static void test_alone_leaves_alone_without_a_copy(void **state)
{
    ucpg_buf_t *body = queue(5, 1, 100);

    (void)state;
    assert_int_equal(ucpg_group_out_pending(), 1);
    assert_int_equal(body->refs, 2);                     /* referenced, not copied */
    ucpg_group_out_flush();
    assert_int_equal(nsends, 1);
    assert_int_equal(sends[0].dst, 5);
    assert_int_equal(sends[0].msg.type, UCPG_GROUP_MSG_EVT);
    assert_int_equal(sends[0].msg.a, 2);
    assert_ptr_equal(sends[0].data, body->data);
    put_all(&body, 1);
}

static void test_one_batch_per_destination_in_order(void **state)
{
    ucpg_buf_t *bodies[5];
    order_t o = {{0}, 64, 0};

    (void)state;
    o.next[1] = 10;
    o.next[2] = 20;
    bodies[0] = queue(1, 10, 64);
    bodies[1] = queue(2, 20, 64);
    bodies[2] = queue(1, 11, 64);
    bodies[3] = queue(1, 12, 64);
    bodies[4] = queue(2, 21, 64);
    ucpg_group_out_flush();
    assert_int_equal(nsends, 2);
    assert_int_equal(sends[0].msg.type, UCPG_GROUP_MSG_BATCH);
    assert_int_equal(sends[1].msg.type, UCPG_GROUP_MSG_BATCH);
    assert_int_equal(sends[0].msg.a + sends[1].msg.a, 5);   /* the counts are right */
    for_each_arrived(check_in_order, &o);
    assert_int_equal(o.count, 5);
    put_all(bodies, 5);
}

static void test_large_leaves_alone_small_ones_packed(void **state)
{
    ucpg_buf_t *bodies[3];
    size_t i, large = 0;

    (void)state;
    bodies[0] = queue(4, 1, 10);
    bodies[1] = queue(4, 2, 4097);
    bodies[2] = queue(4, 3, 10);
    ucpg_group_out_flush();
    assert_int_equal(nsends, 2);
    for (i = 0; i < nsends; ++i) {
        if (sends[i].msg.type == UCPG_GROUP_MSG_EVT) {
            assert_int_equal(sends[i].len, 4097);
            assert_ptr_equal(sends[i].data, bodies[1]->data);
            ++large;
        } else {
            assert_int_equal(sends[i].msg.a, 2);
        }
    }
    assert_int_equal(large, 1);
    put_all(bodies, 3);
}

static void test_long_run_is_split_within_64k(void **state)
{
    enum { N = 300 };
    ucpg_buf_t *bodies[N];
    order_t o = {{0}, 1000, 0};
    size_t i;

    (void)state;
    for (i = 0; i < N; ++i) {
        bodies[i] = queue(7, i, 1000);
    }
    ucpg_group_out_flush();
    assert_true(nsends >= 5);                            /* 300 KB in <= 64 KiB pieces */
    for_each_arrived(check_in_order, &o);
    assert_int_equal(o.count, N);
    put_all(bodies, N);
}

static void test_many_destinations(void **state)
{
    enum { DSTS = 40, EACH = 5 };
    ucpg_buf_t *bodies[DSTS * EACH];
    order_t o = {{0}, 32, 0};
    size_t i, j;

    (void)state;
    for (j = 0; j < EACH; ++j) {
        for (i = 0; i < DSTS; ++i) {
            bodies[j * DSTS + i] = queue((ucpg_peer_id_t)i, j, 32);
        }
    }
    ucpg_group_out_flush();
    assert_true(nsends <= DSTS);                         /* packed per destination */
    for_each_arrived(check_in_order, &o);
    assert_int_equal(o.count, DSTS * EACH);
    for (i = 0; i < DSTS; ++i) {
        assert_int_equal(o.next[i], EACH);
    }
    put_all(bodies, DSTS * EACH);
}

static void test_messages_without_body(void **state)
{
    order_t o = {{0}, 0, 0};
    size_t i;

    (void)state;
    for (i = 0; i < 3; ++i) {
        assert_null(queue(9, i, 0));
    }
    ucpg_group_out_flush();
    assert_int_equal(nsends, 1);
    assert_int_equal(sends[0].msg.type, UCPG_GROUP_MSG_BATCH);
    for_each_arrived(check_in_order, &o);
    assert_int_equal(o.count, 3);
}

/* Queues an EVT numbered seq + 1 for every destination in dst at once. */
static ucpg_buf_t *queue_many(const ucpg_peer_id_t *dst, size_t ndst, uint64_t seq, size_t len)
{
    ucpg_group_msg_t msg;
    ucpg_buf_t *body = ucpg_buf_new(len);

    assert_non_null(body);
    memset(body->data, (int)(uint8_t)seq, len);
    memset(&msg, 0, sizeof(msg));
    msg.type   = UCPG_GROUP_MSG_EVT;
    msg.gindex = 3;
    msg.ggen   = 7;
    msg.a      = seq + 1;
    ucpg_group_send_many(dst, ndst, &msg, body);
    return body;
}

static void test_several_destinations_get_one_packed_batch(void **state)
{
    static const ucpg_peer_id_t children[] = {4, 9};
    ucpg_buf_t *bodies[6];
    order_t o = {{0}, 48, 0};
    size_t i;

    (void)state;
    for (i = 0; i < 6; ++i) {
        bodies[i] = queue_many(children, 2, i, 48);
        assert_int_equal(bodies[i]->refs, 2);            /* one entry for both */
    }
    ucpg_group_out_flush();
    assert_int_equal(nsends, 2);
    assert_int_equal(sends[0].dst, 4);
    assert_int_equal(sends[1].dst, 9);
    assert_int_equal(sends[0].msg.type, UCPG_GROUP_MSG_BATCH);
    assert_int_equal(sends[1].msg.type, UCPG_GROUP_MSG_BATCH);
    assert_int_equal(sends[0].msg.a, 6);
    assert_ptr_equal(sends[0].orig, sends[1].orig);      /* packed once */
    for_each_arrived(check_in_order, &o);
    assert_int_equal(o.count, 12);
    assert_int_equal(o.next[4], 6);
    assert_int_equal(o.next[9], 6);
    put_all(bodies, 6);
}

static void test_several_destinations_alone_without_a_copy(void **state)
{
    static const ucpg_peer_id_t dst[] = {1, 2, 3};
    ucpg_buf_t *body;
    size_t i;

    (void)state;
    body = queue_many(dst, 3, 0, 5000);                  /* large: never packed */
    ucpg_group_out_flush();
    assert_int_equal(nsends, 3);
    for (i = 0; i < 3; ++i) {
        assert_int_equal(sends[i].dst, dst[i]);
        assert_int_equal(sends[i].msg.type, UCPG_GROUP_MSG_EVT);
        assert_ptr_equal(sends[i].data, body->data);
    }
    put_all(&body, 1);
}

/* More destinations than one queue entry names: split, none lost. */
/* Marks the events seen (numbers 1..8), each body 8 bytes of its number. */
static void check_seen(void *arg, ucpg_peer_id_t dst, const ucpg_group_msg_t *msg,
                       const uint8_t *data, size_t len)
{
    unsigned *seen = arg;
    size_t i;

    assert_int_equal(dst, 6);
    assert_int_equal(msg->type, UCPG_GROUP_MSG_EVT);
    assert_true((msg->a >= 1) && (msg->a <= 8));
    assert_int_equal(len, 8);
    for (i = 0; i < len; ++i) {
        assert_int_equal(data[i], (uint8_t)(msg->a - 1));
    }
    seen[msg->a]++;
}

static void test_a_passed_batch_leaves_alone(void **state)
{
    uint8_t hdr[UCPG_GROUP_MSG_LEN], body[8];
    ucpg_buf_t *bodies[2], *passed;
    unsigned seen[9] = {0}, i, whole = 0;
    ucpg_group_msg_t msg;
    size_t pos = 0;

    (void)state;
    passed = ucpg_buf_new(2 * (UCPG_GROUP_BATCH_ENTRY_HDR + sizeof(body)));
    assert_non_null(passed);
    memset(&msg, 0, sizeof(msg));
    msg.type   = UCPG_GROUP_MSG_EVT;
    msg.gindex = 3;
    msg.ggen   = 7;
    for (i = 2; i <= 3; ++i) {                  /* events 2 and 3, as received */
        msg.a = i;
        memset(body, (int)(i - 1), sizeof(body));
        ucpg_group_msg_encode(&msg, hdr);
        pos += ucpg_group_batch_put(passed->data + pos, hdr, body, sizeof(body));
    }
    assert_int_equal(pos, passed->len);
    bodies[0] = queue(6, 0, 8);                 /* event 1 */
    memset(&msg, 0, sizeof(msg));
    msg.type = UCPG_GROUP_MSG_BATCH;
    msg.ggen = 1;
    msg.a    = 2;
    ucpg_group_send(6, 0, &msg, passed);
    bodies[1] = queue(6, 3, 8);                 /* event 4 */
    ucpg_group_out_flush();
    assert_int_equal(nsends, 2);                /* the passed batch, and 1 and 4 packed */
    for (i = 0; i < nsends; ++i) {
        assert_int_equal(sends[i].msg.type, UCPG_GROUP_MSG_BATCH);
        if (sends[i].orig == passed->data) {
            assert_int_equal(sends[i].msg.a, 2);   /* as it is: not copied, not repacked */
            assert_int_equal(sends[i].len, passed->len);
            ++whole;
        }
    }
    assert_int_equal(whole, 1);
    for_each_arrived(check_seen, seen);         /* no BATCH inside a BATCH */
    for (i = 1; i <= 4; ++i) {
        assert_int_equal(seen[i], 1);
    }
    assert_int_equal(passed->refs, 1);
    ucpg_buf_put(passed);
    put_all(bodies, 2);
}

static void test_many_destinations_at_once(void **state)
{
    enum { DSTS = 20, EACH = 3 };
    ucpg_peer_id_t dst[DSTS];
    ucpg_buf_t *bodies[EACH];
    order_t o = {{0}, 16, 0};
    size_t i;

    (void)state;
    for (i = 0; i < DSTS; ++i) {
        dst[i] = (ucpg_peer_id_t)(DSTS - i);             /* any order */
    }
    for (i = 0; i < EACH; ++i) {
        bodies[i] = queue_many(dst, DSTS, i, 16);
    }
    ucpg_group_out_flush();
    assert_int_equal(nsends, DSTS);                      /* a batch each */
    for_each_arrived(check_in_order, &o);
    assert_int_equal(o.count, DSTS * EACH);
    for (i = 0; i < DSTS; ++i) {
        assert_int_equal(o.next[dst[i]], EACH);
    }
    put_all(bodies, EACH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alone_leaves_alone_without_a_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_batch_per_destination_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_large_leaves_alone_small_ones_packed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_run_is_split_within_64k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_destinations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages_without_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_destinations_get_one_packed_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_several_destinations_alone_without_a_copy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_destinations_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_passed_batch_leaves_alone, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
