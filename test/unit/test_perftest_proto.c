/*
 * test_perftest_proto.c - ucx_cpg_perftest's control channel
 * (contrib/perftest/proto.c, control.c): the text messages and their
 * decoder (every malformed line refused, every value round-trips), the
 * result records, HELLO, the check that a host is this host, and a real
 * exchange over the loopback.
 *
 * The host checks use only numeric addresses and this host's own name, so
 * no test waits for a name service.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "perftest.h"

/* --- messages ------------------------------------------------------------------- */

static void test_message_round_trips_any_value(void **state)
{
    static const char *const values[] = {"plain", "two words", "a=b", "100%", "line\nbreak",
                                         "tab\there", "caf\xc3\xa9", "", "%41"};
    char line[PT_LINE_MAX];
    pt_msg_t m, back;
    unsigned i;

    (void)state;
    pt_msg_init(&m, "ERROR");
    for (i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
        char key[8];

        snprintf(key, sizeof(key), "k%u", i);
        assert_int_equal(pt_msg_set(&m, key, values[i]), 0);
    }
    assert_true(pt_msg_encode(&m, line, sizeof(line)) > 0);
    assert_non_null(strchr(line, '\n'));
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);   /* one line */
    assert_int_equal(pt_msg_decode(line, &back), 0);
    assert_string_equal(back.verb, "ERROR");
    assert_int_equal(back.nfields, m.nfields);
    for (i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
        char key[8];

        snprintf(key, sizeof(key), "k%u", i);
        assert_string_equal(pt_msg_get(&back, key), values[i]);
    }
}

static void test_setting_a_key_twice_replaces_it(void **state)
{
    pt_msg_t m;

    (void)state;
    pt_msg_init(&m, "GO");
    assert_int_equal(pt_msg_set(&m, "size", "1"), 0);
    assert_int_equal(pt_msg_set(&m, "size", "2"), 0);
    assert_int_equal(m.nfields, 1);
    assert_string_equal(pt_msg_get(&m, "size"), "2");
    assert_null(pt_msg_get(&m, "other"));
    assert_int_equal(pt_msg_set(&m, "Bad", "x"), -1);            /* keys: [a-z0-9_] */
    assert_int_equal(pt_msg_set(&m, "", "x"), -1);
}

static void test_decoder_refuses_malformed_lines(void **state)
{
    static const char *const bad[] = {
        "", "\n", "go size=1\n", "GO  size=1\n", "GO size\n", "GO =1\n", "GO Size=1\n",
        "GO size=1 size=2\n", "GO size=%G1\n", "GO size=%4\n", "GO size=%00\n",
        "GO size=a\tb\n", "GO size=1\nGO\n", "GO size=1 \n", "GO size==1\n",
        "TOOLONGVERBXXXXXXXXXX\n", "GO k-y=1\n",
    };
    pt_msg_t m;
    unsigned i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (pt_msg_decode(bad[i], &m) == 0) {
            fail_msg("accepted malformed line %u: '%s'", i, bad[i]);
        }
    }
    assert_int_equal(pt_msg_decode("BYE\n", &m), 0);
    assert_int_equal(pt_msg_decode("GO size=4096 phase=0", &m), 0);
}

static void test_decoder_refuses_too_many_or_too_long_fields(void **state)
{
    char line[PT_LINE_MAX * 2];
    pt_msg_t m;
    size_t pos;
    unsigned i;

    (void)state;
    pos = (size_t)snprintf(line, sizeof(line), "X");
    for (i = 0; i < 25; ++i) {
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, " k%u=1", i);
    }
    assert_int_equal(pt_msg_decode(line, &m), -1);
    pos = (size_t)snprintf(line, sizeof(line), "X v=");
    memset(line + pos, 'a', 600);
    line[pos + 600] = '\0';
    assert_int_equal(pt_msg_decode(line, &m), -1);
}

static void test_encoder_fails_when_the_buffer_is_too_small(void **state)
{
    char small[16];
    pt_msg_t m;

    (void)state;
    pt_msg_init(&m, "ERROR");
    pt_msg_set(&m, "msg", "a message longer than sixteen bytes");
    assert_int_equal(pt_msg_encode(&m, small, sizeof(small)), -1);
}

static void test_numbers_are_checked(void **state)
{
    uint64_t u;
    double d;
    pt_msg_t m;

    (void)state;
    assert_int_equal(pt_msg_decode("X a=12 b=-1 c=1x d=0.5 e=nan f=", &m), 0);
    assert_int_equal(pt_msg_get_u64(&m, "a", &u), 0);
    assert_int_equal(u, 12);
    assert_int_equal(pt_msg_get_u64(&m, "b", &u), -1);
    assert_int_equal(pt_msg_get_u64(&m, "c", &u), -1);
    assert_int_equal(pt_msg_get_u64(&m, "zz", &u), -1);
    assert_int_equal(pt_msg_get_double(&m, "d", &d), 0);
    assert_true(d == 0.5);
    assert_int_equal(pt_msg_get_double(&m, "e", &d), -1);
    assert_int_equal(pt_msg_get_double(&m, "f", &d), -1);
}

/* --- records ---------------------------------------------------------------------- */

static void test_result_records_round_trip_exactly(void **state)
{
    char line[PT_LINE_MAX];
    pt_result_t r, back;
    pt_msg_t m;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.test          = PT_TEST_CPG_MCAST_RATE;
    r.size          = 65536;
    r.phase         = 3;
    r.rank          = 7;
    r.members       = 8;
    r.senders       = 8;
    r.final         = 1;
    r.iters         = 123456789;
    r.elapsed_s     = 1.0 / 3.0;
    r.typical_us    = 0.1;
    r.moment_lat_us = 12.345678901234567;
    r.total_lat_us  = 1e-7;
    r.moment_bw     = 99999.5;
    r.total_bw      = 1e300;
    r.moment_mr     = 3;
    r.total_mr      = 4.25;
    r.retries       = 42;
    r.errors        = 1;
    pt_result_to_msg(&r, &m);
    assert_true(pt_msg_encode(&m, line, sizeof(line)) > 0);
    assert_true(strlen(line) < 512);                    /* < PIPE_BUF: one atomic write */
    assert_int_equal(pt_msg_decode(line, &m), 0);
    assert_int_equal(pt_result_from_msg(&m, &back), 0);
    assert_memory_equal(&back, &r, sizeof(r));
    r.final = 0;
    pt_result_to_msg(&r, &m);
    assert_string_equal(m.verb, "PROGRESS");
    assert_int_equal(pt_result_from_msg(&m, &back), 0);
    assert_int_equal(back.final, 0);
}

static void test_result_records_with_bad_fields_are_refused(void **state)
{
    pt_result_t r, back;
    pt_msg_t m;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.test = PT_TEST_RSM_GET_BW;
    r.size = 8;
    r.final = 1;
    pt_result_to_msg(&r, &m);
    pt_msg_set(&m, "test", "nope");
    assert_int_equal(pt_result_from_msg(&m, &back), -1);
    pt_result_to_msg(&r, &m);
    pt_msg_set(&m, "rank", "64");
    assert_int_equal(pt_result_from_msg(&m, &back), -1);
    pt_result_to_msg(&r, &m);
    pt_msg_set(&m, "tlat", "inf");
    assert_int_equal(pt_result_from_msg(&m, &back), -1);
    pt_result_to_msg(&r, &m);
    pt_msg_init(&m, "RESULT");                          /* every field missing */
    assert_int_equal(pt_result_from_msg(&m, &back), -1);
    pt_result_to_msg(&r, &m);
    strcpy(m.verb, "WELCOME");
    assert_int_equal(pt_result_from_msg(&m, &back), -1);
}

static pt_opts_t client_opts(void)
{
    pt_opts_t o;

    memset(&o, 0, sizeof(o));
    o.mode       = PT_MODE_CLIENT;
    o.test       = PT_TEST_CPG_MCAST_BW;
    o.nsizes     = 3;
    o.sizes[0]   = 8;
    o.sizes[1]   = 4096;
    o.sizes[2]   = 1048576;
    o.iters      = 777;
    o.warmup     = 7;
    o.senders    = 2;
    o.guarantee  = PT_GUARANTEE_SAFE;
    o.wait       = PT_WAIT_SLEEP;
    o.verify_all = 1;
    o.percentile = 99.5;
    return o;
}

static void test_hello_carries_the_test_parameters(void **state)
{
    pt_opts_t o = client_opts(), s;
    char group[PT_NAME_MAX], err[200];
    pt_msg_t m;

    (void)state;
    pt_hello_from_opts(&o, "ucx_cpg_perftest.42", &m);
    memset(&s, 0, sizeof(s));
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), 0);
    assert_string_equal(group, "ucx_cpg_perftest.42");
    assert_int_equal(s.test, o.test);
    assert_int_equal(s.nsizes, 3);
    assert_int_equal(s.sizes[2], 1048576);
    assert_int_equal(s.iters, 777);
    assert_int_equal(s.warmup, 7);
    assert_int_equal(s.senders, 2);
    assert_int_equal(s.guarantee, PT_GUARANTEE_SAFE);
    assert_int_equal(s.wait, PT_WAIT_SLEEP);
    assert_int_equal(s.verify_all, 1);
    assert_true(s.percentile == 99.5);
}

static void test_hello_with_bad_parameters_is_refused(void **state)
{
    pt_opts_t o = client_opts(), s;
    char group[PT_NAME_MAX], err[200];
    pt_msg_t m;

    (void)state;
    pt_hello_from_opts(&o, "g", &m);
    pt_msg_set(&m, "version", "2");
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "protocol"));
    pt_hello_from_opts(&o, "g", &m);
    pt_msg_set(&m, "sizes", "4");                       /* below the CPG header */
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), -1);
    pt_hello_from_opts(&o, "g", &m);
    pt_msg_set(&m, "test", "ucp_am_bw");
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), -1);
    pt_hello_from_opts(&o, "", &m);                     /* a CPG test needs a group */
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), -1);
    pt_hello_from_opts(&o, "g", &m);
    pt_msg_set(&m, "iters", "0");
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), -1);
    pt_hello_from_opts(&o, "g", &m);
    pt_msg_set(&m, "senders", "3");                     /* a pair has two members */
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), -1);
    pt_hello_from_opts(&o, "g", &m);
    strcpy(m.verb, "RUN");
    assert_int_equal(pt_hello_to_opts(&m, &s, group, sizeof(group), err, sizeof(err)), -1);
}

/* --- host check and the channel ------------------------------------------------------- */

static void test_loopback_names_and_addresses_are_this_host(void **state)
{
    char err[200], self[256];

    (void)state;
    assert_int_equal(pt_host_is_local("localhost", err, sizeof(err)), 1);
    assert_int_equal(pt_host_is_local("LOCALHOST", err, sizeof(err)), 1);
    assert_int_equal(pt_host_is_local("127.0.0.1", err, sizeof(err)), 1);
    assert_int_equal(pt_host_is_local("127.8.9.10", err, sizeof(err)), 1);
    assert_int_equal(pt_host_is_local("::1", err, sizeof(err)), 1);
    assert_int_equal(pt_host_is_local("::ffff:127.0.0.1", err, sizeof(err)), 1);
    assert_int_equal(gethostname(self, sizeof(self)), 0);
    assert_int_equal(pt_host_is_local(self, err, sizeof(err)), 1);
}

static void test_other_addresses_are_not_this_host(void **state)
{
    char err[200];

    (void)state;
    /* TEST-NET-1 and -3 (RFC 5737): never an address of this machine */
    assert_int_equal(pt_host_is_local("192.0.2.1", err, sizeof(err)), 0);
    assert_int_equal(pt_host_is_local("203.0.113.7", err, sizeof(err)), 0);
    assert_int_equal(pt_host_is_local("2001:db8::1", err, sizeof(err)), 0);
}

/* A client connected to a server on the loopback (port 0: the kernel picks
 * a free one; then connect to it). */
static void connect_pair(pt_conn_t *client, pt_conn_t *server)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    char err[200];
    int lfd;

    pt_clock_init();
    lfd = pt_control_listen(0, err, sizeof(err));
    assert_true(lfd >= 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr*)&sin, &len), 0);
    assert_int_equal(pt_control_connect(ntohs(sin.sin_port), 0, client, err, sizeof(err)), 0);
    assert_int_equal(pt_control_accept(lfd, server, pt_clock_ns() + 2000000000ull, err,
                                       sizeof(err)), 0);
    close(lfd);
}

static void test_messages_cross_the_loopback_and_a_close_is_seen(void **state)
{
    pt_conn_t client, server;
    pt_msg_t m;

    (void)state;
    connect_pair(&client, &server);
    assert_memory_equal(server.peer, "127.0.0.1:", 10);

    pt_msg_init(&m, "HELLO");
    pt_msg_set(&m, "text", "spaces and = signs");
    assert_int_equal(pt_control_send(&client, &m), 0);
    pt_msg_init(&m, "BYE");
    assert_int_equal(pt_control_send(&client, &m), 0);
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 2000000000ull), 0);
    assert_string_equal(m.verb, "HELLO");
    assert_string_equal(pt_msg_get(&m, "text"), "spaces and = signs");
    assert_int_equal(pt_control_peer_gone(&server), 0);      /* BYE is waiting: not gone */
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 2000000000ull), 0);
    assert_string_equal(m.verb, "BYE");
    /* nothing more: a receive times out */
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 50000000ull), -2);
    assert_int_equal(pt_control_peer_gone(&server), 0);
    pt_control_close(&client);
    assert_int_equal(pt_control_peer_gone(&server), 1);
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 2000000000ull), -1);
    pt_control_close(&server);
}

static void test_a_peer_error_is_seen_behind_earlier_messages(void **state)
{
    pt_conn_t client, server;
    pt_msg_t m;

    (void)state;
    connect_pair(&client, &server);
    pt_msg_init(&m, "RESULT");
    pt_msg_set(&m, "x", "1");
    assert_int_equal(pt_control_send(&client, &m), 0);
    pt_control_send_error(&client, "rank 1: data error");
    /* the peer stays connected: its ERROR alone says it failed */
    usleep(100000);
    assert_int_equal(pt_control_peer_gone(&server), 1);
    assert_string_equal(server.error, "rank 1: data error");
    /* what came before is still there, in order */
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 2000000000ull), 0);
    assert_string_equal(m.verb, "RESULT");
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 2000000000ull), 0);
    assert_string_equal(m.verb, "ERROR");
    pt_control_close(&client);
    pt_control_close(&server);
}

/* Bytes off the wire: a NUL inside a line would cut it short for every
 * reader that takes it as a C string, so the line is refused, and the
 * next line is read as usual. */
static void test_a_line_with_a_nul_inside_is_refused(void **state)
{
    static const char wire[] = "HELLO text=a\0 version=9\nBYE\n";
    pt_conn_t client, server;
    pt_msg_t m;

    (void)state;
    assert_int_equal(pt_msg_decode_bytes("GO a=1\n", 7, &m), 0);
    assert_int_equal(pt_msg_decode_bytes("GO a=1\n", 6, &m), 0);       /* without it */
    assert_int_equal(pt_msg_decode_bytes("GO a=1\0\n", 8, &m), -1);
    assert_int_equal(pt_msg_decode_bytes("GO\na=1", 6, &m), -1);
    assert_int_equal(pt_msg_decode_bytes("GO a=%4", 7, &m), -1);         /* escape cut */
    assert_int_equal(pt_msg_decode_bytes("GO a=%41", 6, &m), -1);        /* ... by len */
    assert_int_equal(pt_msg_decode_bytes("", 0, &m), -1);

    connect_pair(&client, &server);
    assert_int_equal(send(client.fd, wire, sizeof(wire) - 1, 0), (ssize_t)(sizeof(wire) - 1));
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 2000000000ull), -3);
    assert_int_equal(pt_control_recv(&server, &m, pt_clock_ns() + 2000000000ull), 0);
    assert_string_equal(m.verb, "BYE");
    pt_control_close(&client);
    pt_control_close(&server);
}

static void test_a_refused_connection_says_what_to_do(void **state)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    pt_conn_t c;
    char err[300];
    int lfd, port;

    (void)state;
    lfd = pt_control_listen(0, err, sizeof(err));         /* a port surely free now */
    assert_true(lfd >= 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr*)&sin, &len), 0);
    port = ntohs(sin.sin_port);
    close(lfd);
    assert_int_equal(pt_control_connect((unsigned)port, 0, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is 'ucx_cpg_perftest' running as the server"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_round_trips_any_value),
        cmocka_unit_test(test_setting_a_key_twice_replaces_it),
        cmocka_unit_test(test_decoder_refuses_malformed_lines),
        cmocka_unit_test(test_decoder_refuses_too_many_or_too_long_fields),
        cmocka_unit_test(test_encoder_fails_when_the_buffer_is_too_small),
        cmocka_unit_test(test_numbers_are_checked),
        cmocka_unit_test(test_result_records_round_trip_exactly),
        cmocka_unit_test(test_result_records_with_bad_fields_are_refused),
        cmocka_unit_test(test_hello_carries_the_test_parameters),
        cmocka_unit_test(test_hello_with_bad_parameters_is_refused),
        cmocka_unit_test(test_loopback_names_and_addresses_are_this_host),
        cmocka_unit_test(test_other_addresses_are_not_this_host),
        cmocka_unit_test(test_messages_cross_the_loopback_and_a_close_is_seen),
        cmocka_unit_test(test_a_peer_error_is_seen_behind_earlier_messages),
        cmocka_unit_test(test_a_line_with_a_nul_inside_is_refused),
        cmocka_unit_test(test_a_refused_connection_says_what_to_do),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
