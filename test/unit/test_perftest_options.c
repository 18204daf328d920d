/*
 * test_perftest_options.c - ucx_cpg_perftest's command line
 * (contrib/perftest/options.c): modes, defaults, lists, and every
 * combination it must refuse with a one-line reason.
 *
 * Each test parses one argument vector the way main does and checks the
 * result; refusals are checked for their status and for a reason that names
 * what is wrong, because that reason is what the user sees above the usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "perftest.h"

#define MAX_ARGS 32

typedef struct parsed {
    pt_opts_t         o;
    pt_parse_status_t st;
    char              err[300];
} parsed_t;

/* Parses the NULL-terminated words (argv[0] is added). */
static parsed_t *parse_words(const char *first, ...)
{
    static parsed_t p;
    char *argv[MAX_ARGS + 2];
    const char *w;
    va_list ap;
    int argc = 0;

    argv[argc++] = (char*)"ucx_cpg_perftest";
    va_start(ap, first);
    for (w = first; w != NULL; w = va_arg(ap, const char*)) {
        assert_true(argc < MAX_ARGS);
        argv[argc++] = (char*)w;
    }
    va_end(ap);
    argv[argc] = NULL;
    memset(&p, 0, sizeof(p));
    p.st = pt_opts_parse(argc, argv, &p.o, p.err, sizeof(p.err));
    return &p;
}

#define PARSE(...) parse_words(__VA_ARGS__, (const char*)NULL)

static void assert_refused(const parsed_t *p, const char *reason_part)
{
    assert_int_equal(p->st, PT_PARSE_ERROR);
    if (strstr(p->err, reason_part) == NULL) {
        fail_msg("reason '%s' does not mention '%s'", p->err, reason_part);
    }
}

/* --- modes ---------------------------------------------------------------------- */

static void test_no_host_and_no_members_is_server_mode(void **state)
{
    parsed_t *p = parse_words(NULL);

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.mode, PT_MODE_SERVER);
    assert_int_equal(p->o.port, PT_DEFAULT_PORT);
}

static void test_server_accepts_the_test_options_it_will_be_sent(void **state)
{
    parsed_t *p = PARSE("-t", "rsm_put_lat", "-s", "8", "-n", "10", "-c", "0", "-p", "14000");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.mode, PT_MODE_SERVER);
    assert_int_equal(p->o.port, 14000);
    assert_int_equal(p->o.ncpus, 1);
}

static void test_host_and_test_is_client_mode(void **state)
{
    parsed_t *p = PARSE("-t", "rsm_get_lat", "localhost");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.mode, PT_MODE_CLIENT);
    assert_string_equal(p->o.host, "localhost");
    assert_int_equal(p->o.test, PT_TEST_RSM_GET_LAT);
}

static void test_host_may_come_first_as_with_ucx_perftest(void **state)
{
    parsed_t *p = PARSE("localhost", "-t", "rsm_put_bw", "-s", "64");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.mode, PT_MODE_CLIENT);
    assert_int_equal(p->o.test, PT_TEST_RSM_PUT_BW);
    assert_int_equal(p->o.sizes[0], 64);
}

static void test_members_without_host_is_local_mode(void **state)
{
    parsed_t *p = PARSE("-N", "4", "-t", "cpg_mcast_bw");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.mode, PT_MODE_LOCAL);
    assert_int_equal(pt_opts_members(&p->o), 4);
}

static void test_member_option_selects_member_mode(void **state)
{
    parsed_t *p = PARSE("-N", "3", "-t", "cpg_mcast_rate", "--member", "2", "--group", "g.1",
                        "--result-fd", "3");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.mode, PT_MODE_MEMBER);
    assert_int_equal(p->o.rank, 2);
    assert_string_equal(p->o.group, "g.1");
    assert_int_equal(p->o.result_fd, 3);
    assert_int_equal(pt_opts_members(&p->o), 3);
}

static void test_member_mode_needs_group_fd_and_a_rank_below_members(void **state)
{
    (void)state;
    assert_refused(PARSE("-N", "3", "-t", "cpg_mcast_bw", "--member", "1"), "--member needs");
    assert_refused(PARSE("-N", "3", "-t", "cpg_mcast_bw", "--member", "3", "--group", "g",
                         "--result-fd", "3"), "rank");
}

static void test_help_is_reported_as_help(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-h")->st, PT_PARSE_HELP);
    assert_int_equal(PARSE("-t", "bogus", "--help")->st, PT_PARSE_ERROR); /* first error wins */
    assert_int_equal(PARSE("--help")->st, PT_PARSE_HELP);
}

/* --- defaults --------------------------------------------------------------------- */

static void test_defaults_follow_the_test(void **state)
{
    parsed_t *p = PARSE("localhost", "-t", "rsm_put_lat");

    (void)state;
    assert_int_equal(p->o.iters, 1000000);
    assert_int_equal(p->o.warmup, 10000);
    assert_int_equal(p->o.nsizes, 1);
    assert_int_equal(p->o.sizes[0], 8);
    assert_true(p->o.percentile == 50.0);
    assert_int_equal(p->o.output, PT_OUT_TABLE);
    p = PARSE("-N", "2", "-t", "cpg_mcast_lat");
    assert_int_equal(p->o.iters, 10000);
    assert_int_equal(p->o.warmup, 100);
    assert_int_equal(p->o.guarantee, PT_GUARANTEE_AGREED);
}

static void test_warmup_defaults_to_one_hundredth_of_given_iterations(void **state)
{
    parsed_t *p = PARSE("localhost", "-t", "rsm_get_bw", "-n", "5000");

    (void)state;
    assert_int_equal(p->o.iters, 5000);
    assert_int_equal(p->o.warmup, 50);
    p = PARSE("localhost", "-t", "rsm_get_bw", "-n", "5000", "-w", "0");
    assert_int_equal(p->o.warmup, 0);
}

static void test_senders_default_to_one_for_bw_and_all_for_rate(void **state)
{
    (void)state;
    assert_int_equal(pt_opts_senders(&PARSE("-N", "5", "-t", "cpg_mcast_bw")->o), 1);
    assert_int_equal(pt_opts_senders(&PARSE("-N", "5", "-t", "cpg_mcast_rate")->o), 5);
    assert_int_equal(pt_opts_senders(&PARSE("-N", "5", "-t", "cpg_mcast_rate", "-S", "2")->o), 2);
    assert_int_equal(pt_opts_senders(&PARSE("localhost", "-t", "cpg_mcast_rate")->o), 2);
}

static void test_server_client_groups_have_two_members(void **state)
{
    (void)state;
    assert_int_equal(pt_opts_members(&PARSE("localhost", "-t", "cpg_mcast_bw")->o), 2);
}

/* --- lists ------------------------------------------------------------------------ */

static void test_size_list_keeps_order_and_binary_suffixes(void **state)
{
    parsed_t *p = PARSE("localhost", "-t", "rsm_put_bw", "-s", "8,4k,64K,1m,1G");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.nsizes, 5);
    assert_int_equal(p->o.sizes[0], 8);
    assert_int_equal(p->o.sizes[1], 4096);
    assert_int_equal(p->o.sizes[2], 65536);
    assert_int_equal(p->o.sizes[3], 1048576);
    assert_int_equal(p->o.sizes[4], 1073741824);
}

static void test_size_list_rejects_malformed_items(void **state)
{
    size_t sizes[PT_MAX_SIZES];
    unsigned n;

    (void)state;
    assert_int_equal(pt_parse_size_list("8,,16", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("8,", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("8x", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("k", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("-8", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("4kk", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("99999999999999999999", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("17179869184g", sizes, PT_MAX_SIZES, &n), -1);
    assert_int_equal(pt_parse_size_list("1,2,3", sizes, 2, &n), -1);  /* too many */
    assert_int_equal(pt_parse_size_list("1,2", sizes, 2, &n), 0);
    assert_int_equal(n, 2);
}

static void test_sizes_outside_the_test_range_are_refused(void **state)
{
    (void)state;
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_lat", "-s", "4"), "8-byte header");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-s", "0"), "rsm_put_lat takes 1");
    assert_refused(PARSE("localhost", "-t", "rsm_put_bw", "-s", "2g"), "rsm_put_bw");
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_bw", "-s", "65m"), "cpg_mcast_bw");
    assert_int_equal(PARSE("localhost", "-t", "rsm_signal_lat", "-s", "0,8")->st, PT_PARSE_OK);
    assert_int_equal(PARSE("-N", "2", "-t", "cpg_mcast_bw", "-s", "8,64m")->st, PT_PARSE_OK);
    assert_refused(PARSE("localhost", "-t", "rsm_put_bw", "-s", "8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,"
                         "8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8"), "at most 32");
}

static void test_cpu_list_takes_numbers_and_ranges(void **state)
{
    parsed_t *p = PARSE("localhost", "-t", "rsm_put_lat", "-c", "0,2-4,7");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.ncpus, 5);
    assert_int_equal(p->o.cpus[0], 0);
    assert_int_equal(p->o.cpus[1], 2);
    assert_int_equal(p->o.cpus[3], 4);
    assert_int_equal(p->o.cpus[4], 7);
}

static void test_cpu_list_rejects_malformed_lists(void **state)
{
    int cpus[PT_MAX_CPUS];
    unsigned n;

    (void)state;
    assert_int_equal(pt_parse_cpu_list("3-1", cpus, PT_MAX_CPUS, &n), -1);
    assert_int_equal(pt_parse_cpu_list("a", cpus, PT_MAX_CPUS, &n), -1);
    assert_int_equal(pt_parse_cpu_list("-1", cpus, PT_MAX_CPUS, &n), -1);
    assert_int_equal(pt_parse_cpu_list("0,", cpus, PT_MAX_CPUS, &n), -1);
    assert_int_equal(pt_parse_cpu_list("0-", cpus, PT_MAX_CPUS, &n), -1);
    assert_int_equal(pt_parse_cpu_list("1024", cpus, PT_MAX_CPUS, &n), -1);
    assert_int_equal(pt_parse_cpu_list("0-3", cpus, 3, &n), -1);        /* too many */
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-c", "x"), "-c expects");
}

/* --- refusals --------------------------------------------------------------------- */

static void test_unknown_test_and_options_are_refused(void **state)
{
    (void)state;
    assert_refused(PARSE("localhost", "-t", "ucp_put_lat"), "unknown test 'ucp_put_lat'");
    assert_refused(PARSE("-Z"), "unknown option -Z");
    assert_refused(PARSE("--bogus"), "unknown option --bogus");
    assert_refused(PARSE("localhost", "-t"), "needs a value");
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_bw", "--member"), "needs a value");
}

static void test_client_and_local_mode_need_a_test(void **state)
{
    (void)state;
    assert_refused(PARSE("localhost"), "-t TEST");
    assert_refused(PARSE("-N", "2"), "-t TEST");
}

static void test_local_mode_runs_cpg_tests_only(void **state)
{
    (void)state;
    assert_refused(PARSE("-N", "2", "-t", "rsm_put_lat"), "local mode (-N) runs the CPG tests");
}

static void test_host_with_members_and_second_host_are_refused(void **state)
{
    (void)state;
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_bw", "localhost"), "give no host");
    assert_refused(PARSE("-t", "rsm_put_lat", "host1", "host2"), "only one host");
}

static void test_numbers_out_of_range_are_refused(void **state)
{
    (void)state;
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-n", "0"), "-n expects");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-n", "-5"), "-n expects");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-n", "10x"), "-n expects");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-w", "x"), "-w expects");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-p", "0"), "-p 0 (any free port)");
    assert_int_equal(PARSE("-p", "0")->st, PT_PARSE_OK);                /* server: any port */
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-p", "65536"), "-p expects");
    assert_refused(PARSE("-N", "0", "-t", "cpg_mcast_bw"), "-N expects");
    assert_refused(PARSE("-N", "65", "-t", "cpg_mcast_bw"), "-N expects");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-R", "0"), "-R expects");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-R", "100.5"), "-R expects");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-T", "nope"), "-T expects");
    assert_int_equal(PARSE("localhost", "-t", "rsm_put_lat", "-R", "99.9")->st, PT_PARSE_OK);
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_bw", "-n", "4294967290"), "at most");
}

static void test_cpg_options_are_refused_for_rsm_tests(void **state)
{
    (void)state;
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-g", "safe"), "-g applies");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-S", "1"), "-S applies");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-E", "sleep"), "-E applies");
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-V"), "-V applies");
}

static void test_guarantee_and_wait_mode_values(void **state)
{
    parsed_t *p = PARSE("-N", "2", "-t", "cpg_mcast_bw", "-g", "safe", "-E", "sleep");

    (void)state;
    assert_int_equal(p->st, PT_PARSE_OK);
    assert_int_equal(p->o.guarantee, PT_GUARANTEE_SAFE);
    assert_int_equal(p->o.wait, PT_WAIT_SLEEP);
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_bw", "-g", "fifo"), "agreed or safe");
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_bw", "-E", "spin"), "poll or sleep");
}

static void test_senders_apply_to_bw_and_rate_within_the_group(void **state)
{
    (void)state;
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_lat", "-S", "1"), "-S applies");
    assert_refused(PARSE("-N", "2", "-t", "cpg_mcast_bw", "-S", "3"), "more senders");
    assert_refused(PARSE("localhost", "-t", "cpg_mcast_rate", "-S", "3"), "more senders");
    assert_int_equal(PARSE("-N", "3", "-t", "cpg_mcast_bw", "-S", "3")->st, PT_PARSE_OK);
}

static void test_latency_needs_two_members(void **state)
{
    (void)state;
    assert_refused(PARSE("-N", "1", "-t", "cpg_mcast_lat"), "at least 2 members");
    assert_int_equal(PARSE("-N", "1", "-t", "cpg_mcast_bw")->st, PT_PARSE_OK);
}

static void test_wait_mode_defaults_to_busy_only_with_two_cpus_per_member(void **state)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    (void)state;
    assert_int_equal(pt_opts_busy_wait(&PARSE("-N", "64", "-t", "cpg_mcast_bw", "-E",
                                              "poll")->o), 1);
    assert_int_equal(pt_opts_busy_wait(&PARSE("-N", "1", "-t", "cpg_mcast_bw", "-E",
                                              "sleep")->o), 0);
    assert_int_equal(pt_opts_busy_wait(&PARSE("-N", "1", "-t", "cpg_mcast_bw")->o), cpus >= 2);
    assert_int_equal(pt_opts_busy_wait(&PARSE("-N", "64", "-t", "cpg_mcast_bw")->o),
                     cpus >= 128);
}

static void test_output_formats(void **state)
{
    (void)state;
    assert_int_equal(PARSE("localhost", "-t", "rsm_put_lat", "-o", "csv")->o.output, PT_OUT_CSV);
    assert_int_equal(PARSE("localhost", "-t", "rsm_put_lat", "-o", "json")->o.output,
                     PT_OUT_JSON);
    assert_int_equal(PARSE("localhost", "-t", "rsm_put_lat", "-v")->o.output, PT_OUT_CSV);
    assert_int_equal(PARSE("localhost", "-t", "rsm_put_lat", "-f")->o.final_only, 1);
    assert_refused(PARSE("localhost", "-t", "rsm_put_lat", "-o", "xml"), "table, csv or json");
}

/* --- the test table and the usage --------------------------------------------------- */

static void test_every_test_is_found_by_its_name(void **state)
{
    int t;

    (void)state;
    for (t = 0; t < PT_TEST_COUNT; ++t) {
        assert_int_equal(pt_test_find(pt_tests[t].name), t);
        assert_true(((pt_tests[t].flags & PT_TF_RSM) != 0) !=
                    ((pt_tests[t].flags & PT_TF_CPG) != 0));
        assert_true(pt_tests[t].def_iters > 0);
    }
    assert_int_equal(pt_test_find("rsm"), -1);
}

static void test_usage_lists_every_test_and_option(void **state)
{
    static const char *const opts[] = {"-t ", "-s ", "-n ", "-w ", "-c ", "-p ", "-N ", "-S ",
                                       "-g ", "-E ", "-o ", "-v ", "-f ", "-R ", "-T ", "-V ",
                                       "-h "};
    char *text = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&text, &len);
    int t;

    (void)state;
    assert_non_null(f);
    pt_usage(f);
    fclose(f);
    for (t = 0; t < PT_TEST_COUNT; ++t) {
        assert_non_null(strstr(text, pt_tests[t].name));
    }
    for (i = 0; i < sizeof(opts) / sizeof(opts[0]); ++i) {
        if (strstr(text, opts[i]) == NULL) {
            fail_msg("usage does not describe %s", opts[i]);
        }
    }
    assert_non_null(strstr(text, "usage:"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_host_and_no_members_is_server_mode),
        cmocka_unit_test(test_server_accepts_the_test_options_it_will_be_sent),
        cmocka_unit_test(test_host_and_test_is_client_mode),
        cmocka_unit_test(test_host_may_come_first_as_with_ucx_perftest),
        cmocka_unit_test(test_members_without_host_is_local_mode),
        cmocka_unit_test(test_member_option_selects_member_mode),
        cmocka_unit_test(test_member_mode_needs_group_fd_and_a_rank_below_members),
        cmocka_unit_test(test_help_is_reported_as_help),
        cmocka_unit_test(test_defaults_follow_the_test),
        cmocka_unit_test(test_warmup_defaults_to_one_hundredth_of_given_iterations),
        cmocka_unit_test(test_senders_default_to_one_for_bw_and_all_for_rate),
        cmocka_unit_test(test_server_client_groups_have_two_members),
        cmocka_unit_test(test_size_list_keeps_order_and_binary_suffixes),
        cmocka_unit_test(test_size_list_rejects_malformed_items),
        cmocka_unit_test(test_sizes_outside_the_test_range_are_refused),
        cmocka_unit_test(test_cpu_list_takes_numbers_and_ranges),
        cmocka_unit_test(test_cpu_list_rejects_malformed_lists),
        cmocka_unit_test(test_unknown_test_and_options_are_refused),
        cmocka_unit_test(test_client_and_local_mode_need_a_test),
        cmocka_unit_test(test_local_mode_runs_cpg_tests_only),
        cmocka_unit_test(test_host_with_members_and_second_host_are_refused),
        cmocka_unit_test(test_numbers_out_of_range_are_refused),
        cmocka_unit_test(test_cpg_options_are_refused_for_rsm_tests),
        cmocka_unit_test(test_guarantee_and_wait_mode_values),
        cmocka_unit_test(test_senders_apply_to_bw_and_rate_within_the_group),
        cmocka_unit_test(test_latency_needs_two_members),
        cmocka_unit_test(test_wait_mode_defaults_to_busy_only_with_two_cpus_per_member),
        cmocka_unit_test(test_output_formats),
        cmocka_unit_test(test_every_test_is_found_by_its_name),
        cmocka_unit_test(test_usage_lists_every_test_and_option),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
