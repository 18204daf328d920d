/*
 * test_independent.c - processes that share nothing but the domain name:
 * independent programs started by exec (the demo and ucx_cpg_info), not
 * forked copies of one parent, form one domain, exchange checked messages
 * and see each other.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "integ_run.h"

#define STEP_MS 30000u

static const char *builddir(void)
{
    const char *dir = getenv("UCPG_TEST_BUILDDIR");

    return dir ? dir : UCPG_TEST_BUILDDIR;
}

/* Counts the lines of rank that contain needle. */
static int count_lines(ucpg_harness_t *h, int rank, const char *needle)
{
    size_t i, n = ucpg_harness_nlines(h, rank);
    int count = 0;

    for (i = 0; i < n; ++i) {
        count += (strstr(ucpg_harness_line(h, rank, i), needle) != NULL);
    }
    return count;
}

static int run_demo_with(int nprocs)
{
    ucpg_harness_t *h = ucpg_harness_create(120000);
    char prog[1024], procs[16];
    char *argv[] = {prog, "-n", procs, "-i", "200", "-s", "262144", "-b", "20", NULL};
    int r;

    snprintf(prog, sizeof(prog), "%s/ucx_cpg_demo", builddir());
    snprintf(procs, sizeof(procs), "%d", nprocs);
    INTEG_CHECK(ucpg_harness_exec(h, nprocs, argv) >= 0, "cannot start %s", prog);
    INTEG_CHECK(ucpg_harness_wait(h, 100000) == 0, "a demo process failed");
    for (r = 0; r < nprocs; ++r) {
        /* one row per other process, each with every byte checked */
        INTEG_CHECK(count_lines(h, r, "all correct") == nprocs - 1,
                    "rank %d reported %d good rows, want %d", r,
                    count_lines(h, r, "all correct"), nprocs - 1);
    }
    return integ_end(h, 1);
fail:
    return integ_end(h, 0);
}

static int test_independent_programs_form_a_domain_of_2(void) { return run_demo_with(2); }
static int test_independent_programs_form_a_domain_of_4(void) { return run_demo_with(4); }
static int test_independent_programs_form_a_domain_of_6(void) { return run_demo_with(6); }

/* Three ucx_cpg_info -w 2 started independently all list three processes. */
static int test_info_tools_see_each_other(void)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    char prog[1024];
    char *argv[] = {prog, "-w", "2", "-t", "20", "-l", "1500", NULL};
    int r;

    snprintf(prog, sizeof(prog), "%s/ucx_cpg_info", builddir());
    INTEG_CHECK(ucpg_harness_exec(h, 3, argv) >= 0, "cannot start %s", prog);
    INTEG_CHECK(ucpg_harness_wait(h, 40000) == 0, "an info process failed");
    for (r = 0; r < 3; ++r) {
        INTEG_CHECK(count_lines(h, r, ": 3 process(es)") == 1, "rank %d did not list 3", r);
        INTEG_CHECK(count_lines(h, r, "(this process)") == 1, "rank %d has no self row", r);
        INTEG_CHECK(count_lines(h, r, "memory(") + count_lines(h, r, "tcp/") >= 3,
                    "rank %d shows no transports", r);
    }
    return integ_end(h, 1);
fail:
    return integ_end(h, 0);
}

int main(int argc, char **argv)
{
    static const integ_test_t tests[] = {
        INTEG_TEST(test_independent_programs_form_a_domain_of_2),
        INTEG_TEST(test_independent_programs_form_a_domain_of_4),
        INTEG_TEST(test_independent_programs_form_a_domain_of_6),
        INTEG_TEST(test_info_tools_see_each_other),
    };

    return integ_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
