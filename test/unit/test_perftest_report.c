/*
 * test_perftest_report.c - ucx_cpg_perftest's numbers and their output
 * (contrib/perftest/measure.c, report.c): the percentile, the meter's
 * "average" (since the last progress line) and "overall" columns, units,
 * the half round trip of ping-pong tests, ucx_perftest's table layout
 * character for character, CSV and JSON, and which member's result is
 * reported.
 *
 * The meter is driven with made-up tick values; without pt_clock_init a
 * tick is a nanosecond, so the expected numbers are exact.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perftest.h"

#define assert_close(a, b) do {                                                   \
        double a_ = (a), b_ = (b);                                                \
        if (fabs(a_ - b_) > 1e-9 * (fabs(b_) + 1.0)) {                            \
            fail_msg("%s = %.12g, expected %.12g", #a, a_, b_);                   \
        }                                                                         \
    } while (0)

/* Output captured in memory. */
typedef struct capture {
    char  *text;
    size_t len;
    FILE  *f;
} capture_t;

static void capture_open(capture_t *c)
{
    c->text = NULL;
    c->len  = 0;
    c->f    = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

static char *capture_close(capture_t *c)
{
    fclose(c->f);
    return c->text;
}

static pt_opts_t opts_for(int test)
{
    pt_opts_t o;

    memset(&o, 0, sizeof(o));
    o.test       = test;
    o.mode       = PT_MODE_CLIENT;
    o.nsizes     = 1;
    o.sizes[0]   = 8;
    o.iters      = 100;
    o.warmup     = 1;
    o.percentile = 50.0;
    return o;
}

static pt_result_t sample_result(int final)
{
    pt_result_t r;

    memset(&r, 0, sizeof(r));
    r.test          = PT_TEST_RSM_PUT_LAT;
    r.size          = 8;
    r.final         = final;
    r.members       = 2;
    r.senders       = 1;
    r.iters         = 15000000;
    r.elapsed_s     = 2.0;
    r.typical_us    = 0.281;
    r.moment_lat_us = 0.290;
    r.total_lat_us  = 0.288;
    r.moment_bw     = 26.30;
    r.total_bw      = 26.54;
    r.moment_mr     = 3446983;
    r.total_mr      = 3478197;
    return r;
}

/* End columns of the whitespace-separated fields of a line. */
static unsigned field_ends(const char *line, unsigned *ends, unsigned max)
{
    unsigned n = 0, i;

    for (i = 0; line[i] != '\0'; ++i) {
        if ((line[i] != ' ') && ((line[i + 1] == ' ') || (line[i + 1] == '\0')) && (n < max)) {
            ends[n++] = i + 1;
        }
    }
    return n;
}

/* --- numbers -------------------------------------------------------------------- */

static void test_percentile_is_nearest_rank(void **state)
{
    uint64_t v[100], one = 7;
    unsigned i;

    (void)state;
    for (i = 0; i < 100; ++i) {
        v[i] = 100 - i;                /* unsorted on purpose */
    }
    assert_int_equal(pt_percentile(v, 100, 50.0), 50);
    assert_int_equal(pt_percentile(v, 100, 99.0), 99);
    assert_int_equal(pt_percentile(v, 100, 100.0), 100);
    assert_int_equal(pt_percentile(v, 100, 0.5), 1);
    assert_int_equal(pt_percentile(&one, 1, 50.0), 7);
    assert_int_equal(pt_percentile(v, 0, 50.0), 0);
}

static void test_result_units_are_mib_and_messages_per_second(void **state)
{
    pt_result_t r;

    (void)state;
    /* 4 operations of 1 MiB in 4 s */
    pt_result_compute(&r, 1048576, 4, 4e6, 4, 4e6, 1e6, 1);
    assert_close(r.total_lat_us, 1e6);
    assert_close(r.total_bw, 1.0);
    assert_close(r.total_mr, 1.0);
    assert_close(r.elapsed_s, 4.0);
    assert_int_equal(r.iters, 4);
}

static void test_ping_pong_reports_half_the_round_trip(void **state)
{
    pt_result_t r;

    (void)state;
    /* 10 round trips of 2 us of 8 bytes: latency 1 us, 1 M msg/s, 8 B/us */
    pt_result_compute(&r, 8, 10, 20.0, 10, 20.0, 2.0, 2);
    assert_close(r.total_lat_us, 1.0);
    assert_close(r.typical_us, 1.0);
    assert_close(r.total_mr, 1e6);
    assert_close(r.total_bw, 8.0 * 1e6 / (1024.0 * 1024.0));
}

static void test_meter_average_is_since_the_last_progress_line(void **state)
{
    pt_meter_t *m = calloc(1, sizeof(*m));
    uint64_t now = 1000000;
    pt_result_t r;
    unsigned i;

    (void)state;
    assert_non_null(m);
    pt_meter_init(m, PT_TEST_RSM_GET_LAT, 64, 0, 50.0);
    pt_meter_start(m, now);
    for (i = 0; i < 10; ++i) {
        now += 1000;                                /* 1 us each */
        pt_meter_add(m, 1000, now);
    }
    pt_meter_result(m, now, 0, &r);                 /* a progress line */
    assert_int_equal(r.final, 0);
    assert_int_equal(r.iters, 10);
    assert_close(r.moment_lat_us, 1.0);
    assert_close(r.total_lat_us, 1.0);
    assert_close(r.typical_us, 1.0);
    for (i = 0; i < 10; ++i) {
        now += 3000;                                /* then 3 us each */
        pt_meter_add(m, 3000, now);
    }
    pt_meter_result(m, now, 1, &r);
    assert_int_equal(r.final, 1);
    assert_int_equal(r.iters, 20);
    assert_close(r.moment_lat_us, 3.0);
    assert_close(r.total_lat_us, 2.0);
    assert_close(r.typical_us, 1.0);                /* nearest rank 10 of 20 */
    assert_close(r.elapsed_s, 40e-6);
    free(m);
}

static void test_meter_final_without_progress_covers_the_phase(void **state)
{
    pt_meter_t *m = calloc(1, sizeof(*m));
    pt_result_t r;

    (void)state;
    assert_non_null(m);
    pt_meter_init(m, PT_TEST_RSM_PUT_LAT, 8, 0, 50.0);
    assert_int_equal(m->divisor, 2);
    pt_meter_start(m, 0);
    pt_meter_add(m, 4000, 4000);
    pt_meter_add(m, 4000, 8000);
    pt_meter_result(m, 8000, 1, &r);
    assert_close(r.moment_lat_us, 2.0);
    assert_close(r.total_lat_us, 2.0);
    free(m);
}

static void test_meter_keeps_only_the_recent_samples_for_the_percentile(void **state)
{
    pt_meter_t *m = calloc(1, sizeof(*m));
    uint64_t now = 0;
    pt_result_t r;
    unsigned i;

    (void)state;
    assert_non_null(m);
    pt_meter_init(m, PT_TEST_RSM_GET_LAT, 8, 0, 50.0);
    pt_meter_start(m, 0);
    for (i = 0; i < PT_RING_SIZE; ++i) {
        now += 9000;
        pt_meter_add(m, 9000, now);
    }
    for (i = 0; i < PT_RING_SIZE; ++i) {
        now += 1000;
        pt_meter_add(m, 1000, now);
    }
    pt_meter_result(m, now, 1, &r);
    assert_close(r.typical_us, 1.0);               /* the 9 us samples are gone */
    assert_close(r.total_lat_us, 5.0);             /* but not from the overall */
    free(m);
}

static void test_pick_reports_rank0_for_latency_and_slowest_otherwise(void **state)
{
    pt_result_t rs[3];

    (void)state;
    memset(rs, 0, sizeof(rs));
    rs[0].test = rs[1].test = rs[2].test = PT_TEST_CPG_MCAST_LAT;
    rs[0].rank = 2;
    rs[1].rank = 0;
    rs[2].rank = 1;
    assert_int_equal(pt_result_pick(rs, 3), 1);
    rs[0].test = rs[1].test = rs[2].test = PT_TEST_CPG_MCAST_BW;
    rs[0].total_mr = 500;
    rs[1].total_mr = 300;
    rs[2].total_mr = 400;
    assert_int_equal(pt_result_pick(rs, 3), 1);
}

/* --- the table ---------------------------------------------------------------------- */

static void test_lines_have_ucx_perftest_columns(void **state)
{
    static const unsigned want[] = {28, 39, 49, 59, 71, 82, 94, 106};
    pt_result_t r = sample_result(1);
    unsigned ends[16], n, i;
    char line[256];

    (void)state;
    pt_report_format_line(line, sizeof(line), &r, 0);
    assert_int_equal(strlen(line), 106);
    assert_memory_equal(line, "Final:", 6);
    n = field_ends(line, ends, 16);
    assert_int_equal(n, 9);                         /* "Final:" and eight numbers */
    for (i = 0; i < 8; ++i) {
        assert_int_equal(ends[i + 1], want[i]);
    }
    assert_non_null(strstr(line, " 15000000 "));
    assert_non_null(strstr(line, "0.281"));
    assert_non_null(strstr(line, "26.54"));
    assert_non_null(strstr(line, "3478197"));

    pt_report_format_line(line, sizeof(line), &r, 1);   /* -f: eight numbers only */
    n = field_ends(line, ends, 16);
    assert_int_equal(n, 8);
    for (i = 0; i < 8; ++i) {
        assert_int_equal(ends[i], want[i]);
    }
}

static void test_progress_lines_show_the_elapsed_time(void **state)
{
    pt_result_t r = sample_result(0);
    char line[256];

    (void)state;
    pt_report_format_line(line, sizeof(line), &r, 0);
    assert_memory_equal(line, "[2.0 s]", 7);
    assert_int_equal(strlen(line), 106);
}

static void test_table_has_the_box_and_ucx_perftest_header(void **state)
{
    pt_opts_t o = opts_for(PT_TEST_RSM_PUT_LAT);
    pt_result_t p = sample_result(0), f = sample_result(1);
    pt_report_t rep;
    capture_t c;
    char *text;

    (void)state;
    capture_open(&c);
    pt_report_init(&rep, c.f, &o, "client");
    pt_report_begin(&rep, &o);
    pt_report_phase(&rep, &o, 8);
    pt_report_result(&rep, &p);
    pt_report_result(&rep, &f);
    pt_report_end(&rep, PT_EXIT_OK, NULL);
    text = capture_close(&c);
    assert_non_null(strstr(text, "| Test:         rsm_put_lat"));
    assert_non_null(strstr(text, "| Message size: 8"));
    assert_non_null(strstr(text, "|        latency (usec)        |   bandwidth (MB/s)  |  "
                                 "message rate (msg/s) |\n"));
    assert_non_null(strstr(text, "|    Stage     | # iterations | 50.0%ile | average | overall |"
                                 "  average |  overall |  average  |  overall  |\n"));
    assert_non_null(strstr(text, "\n[2.0 s] "));
    assert_non_null(strstr(text, "\nFinal:   "));
    free(text);
}

static void test_bandwidth_tests_label_the_time_overhead(void **state)
{
    pt_opts_t o = opts_for(PT_TEST_RSM_PUT_BW);
    pt_report_t rep;
    capture_t c;
    char *text;

    (void)state;
    o.percentile = 99.0;
    capture_open(&c);
    pt_report_init(&rep, c.f, &o, "client");
    pt_report_phase(&rep, &o, 8);
    text = capture_close(&c);
    assert_non_null(strstr(text, "|       overhead (usec)        |"));
    assert_non_null(strstr(text, "| 99.0%ile |"));
    free(text);
}

static void test_final_only_prints_one_header_and_no_progress(void **state)
{
    pt_opts_t o = opts_for(PT_TEST_RSM_PUT_LAT);
    pt_result_t p = sample_result(0), f = sample_result(1);
    pt_report_t rep;
    capture_t c;
    char *text, *first;

    (void)state;
    o.final_only = 1;
    capture_open(&c);
    pt_report_init(&rep, c.f, &o, "client");
    pt_report_begin(&rep, &o);
    pt_report_phase(&rep, &o, 8);
    pt_report_result(&rep, &p);
    pt_report_result(&rep, &f);
    pt_report_phase(&rep, &o, 16);
    pt_report_result(&rep, &f);
    text = capture_close(&c);
    first = strstr(text, "# iterations");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# iterations"));
    assert_null(strstr(text, "Final:"));
    assert_null(strstr(text, "[2.0 s]"));
    assert_non_null(strstr(text, "|     Test     |"));
    free(text);
}

/* --- CSV and JSON ------------------------------------------------------------------------ */

static void test_csv_has_a_header_and_one_row_per_size(void **state)
{
    static const char header[] = "test,size,members,senders,guarantee,iterations,"
                                 "50.0_percentile_lat,avg_lat,overall_lat,avg_bw,overall_bw,"
                                 "avg_mr,overall_mr,elapsed_s,retries\n";
    pt_opts_t o = opts_for(PT_TEST_CPG_MCAST_BW);
    pt_result_t p = sample_result(0), f = sample_result(1);
    pt_report_t rep;
    capture_t c;
    char *text, *row;
    unsigned commas = 0;

    (void)state;
    o.output = PT_OUT_CSV;
    o.guarantee = PT_GUARANTEE_SAFE;
    f.test = p.test = PT_TEST_CPG_MCAST_BW;
    capture_open(&c);
    pt_report_init(&rep, c.f, &o, "local");
    pt_report_begin(&rep, &o);
    pt_report_phase(&rep, &o, 8);
    pt_report_result(&rep, &p);
    pt_report_result(&rep, &f);
    pt_report_end(&rep, PT_EXIT_OK, NULL);
    text = capture_close(&c);
    assert_true(strncmp(text, header, strlen(header)) == 0);
    row = strchr(text, '\n') + 1;
    assert_string_equal(row, "cpg_mcast_bw,8,2,1,safe,15000000,0.281,0.290,0.288,26.30,26.54,"
                             "3446983,3478197,2.000000,0\n");
    for (; *row != '\0'; ++row) {
        commas += (*row == ',');
    }
    assert_int_equal(commas, 14);
    free(text);
}

static void test_json_is_one_document_with_every_result(void **state)
{
    pt_opts_t o = opts_for(PT_TEST_RSM_GET_BW);
    pt_result_t f = sample_result(1);
    pt_report_t rep;
    capture_t c;
    char *text;

    (void)state;
    o.output = PT_OUT_JSON;
    capture_open(&c);
    pt_report_init(&rep, c.f, &o, "client");
    pt_report_begin(&rep, &o);
    pt_report_result(&rep, &f);
    f.size = 4096;
    pt_report_result(&rep, &f);
    pt_report_end(&rep, PT_EXIT_OK, NULL);
    text = capture_close(&c);
    assert_memory_equal(text, "{\"tool\":\"ucx_cpg_perftest\"", 26);
    assert_non_null(strstr(text, "\"test\":\"rsm_get_bw\""));
    assert_non_null(strstr(text, "\"results\":[\n  {\"size\":8,"));
    assert_non_null(strstr(text, "},\n  {\"size\":4096,"));
    assert_non_null(strstr(text, "\"latency\":{\"typical\":0.281,\"average\":0.29,"
                                 "\"overall\":0.288}"));
    assert_non_null(strstr(text, "\"message_rate\":{\"average\":3446983,\"overall\":3478197}"));
    assert_non_null(strstr(text, "\n],\"status\":\"ok\",\"exit_status\":0,\"error\":null}\n"));
    assert_null(strstr(text, "\"guarantee\""));       /* RSM: no group fields */
    free(text);
}

static void test_json_failure_carries_status_and_escaped_error(void **state)
{
    pt_opts_t o = opts_for(PT_TEST_CPG_MCAST_LAT);
    pt_report_t rep;
    capture_t c;
    char *text;

    (void)state;
    o.output = PT_OUT_JSON;
    o.mode   = PT_MODE_LOCAL;
    o.members = 3;
    capture_open(&c);
    pt_report_init(&rep, c.f, &o, "local");
    pt_report_begin(&rep, &o);
    pt_report_end(&rep, PT_EXIT_TIMEOUT, "rank 1: \"late\"\\");
    text = capture_close(&c);
    assert_non_null(strstr(text, "\"members\":3,\"senders\":1,\"guarantee\":\"agreed\""));
    assert_non_null(strstr(text, "\"results\":[\n],\"status\":\"failed\",\"exit_status\":4,"
                                 "\"error\":\"rank 1: \\\"late\\\"\\\\\"}\n"));
    free(text);
}

static void test_json_numbers_have_no_nan(void **state)
{
    char buf[64];

    (void)state;
    pt_json_number(buf, sizeof(buf), NAN);
    assert_string_equal(buf, "null");
    pt_json_number(buf, sizeof(buf), INFINITY);
    assert_string_equal(buf, "null");
    pt_json_number(buf, sizeof(buf), 12345678.0);
    assert_string_equal(buf, "12345678");
    pt_json_number(buf, sizeof(buf), 0.125);
    assert_string_equal(buf, "0.125");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_is_nearest_rank),
        cmocka_unit_test(test_result_units_are_mib_and_messages_per_second),
        cmocka_unit_test(test_ping_pong_reports_half_the_round_trip),
        cmocka_unit_test(test_meter_average_is_since_the_last_progress_line),
        cmocka_unit_test(test_meter_final_without_progress_covers_the_phase),
        cmocka_unit_test(test_meter_keeps_only_the_recent_samples_for_the_percentile),
        cmocka_unit_test(test_pick_reports_rank0_for_latency_and_slowest_otherwise),
        cmocka_unit_test(test_lines_have_ucx_perftest_columns),
        cmocka_unit_test(test_progress_lines_show_the_elapsed_time),
        cmocka_unit_test(test_table_has_the_box_and_ucx_perftest_header),
        cmocka_unit_test(test_bandwidth_tests_label_the_time_overhead),
        cmocka_unit_test(test_final_only_prints_one_header_and_no_progress),
        cmocka_unit_test(test_csv_has_a_header_and_one_row_per_size),
        cmocka_unit_test(test_json_is_one_document_with_every_result),
        cmocka_unit_test(test_json_failure_carries_status_and_escaped_error),
        cmocka_unit_test(test_json_numbers_have_no_nan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
