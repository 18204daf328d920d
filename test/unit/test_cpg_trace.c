/*
 * test_cpg_trace.c - unit tests of test/integ/cpg_trace: the trace writer and
 * the checker of CPG group-semantics properties that the multi-process
 * integration tests rely on.
 *
 * A checker that accepts everything would make every integration test pass,
 * so most tests here are negative: each takes a small, otherwise valid set of
 * traces, breaks one property, and checks that the checker rejects it naming
 * that property and the file:line of the offending record. The positive tests
 * cover what a correct library legitimately produces and a naive checker
 * would reject: late joiners, leaves and rejoins, a crash with extra
 * non-SAFE deliveries, streams cut short at exit, several groups.
 *
 * Traces are written to temporary files (mkstemp under /tmp) and removed
 * before each test's assertions about the result. Group "67" is the name "g".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpg_trace.h"
#include "unit_util.h"


/* --- helpers -------------------------------------------------------------- */

#define TRACE_MAX 8

typedef struct check_run {
    size_t n;
    char   path[TRACE_MAX][32];
    char   err[2048];
    int    rc;
} check_run_t;

static void temp_path(char *path, size_t len)
{
    assert_true(len >= sizeof("/tmp/cpg_trace_XXXXXX"));
    strcpy(path, "/tmp/cpg_trace_XXXXXX");
}

/* Writes each text to its own temporary trace, checks them all together and
 * removes the files. */
static void run_check(check_run_t *run, size_t n, const char *const *texts)
{
    const char *paths[TRACE_MAX];
    size_t i;

    assert_true(n <= TRACE_MAX);
    memset(run, 0, sizeof(*run));
    run->n = n;
    for (i = 0; i < n; ++i) {
        temp_path(run->path[i], sizeof(run->path[i]));
        unit_temp_file(run->path[i], texts[i], strlen(texts[i]));
        paths[i] = run->path[i];
    }
    run->rc = cpg_trace_check(paths, n, run->err, sizeof(run->err));
    for (i = 0; i < n; ++i) {
        assert_int_equal(unlink(run->path[i]), 0);
    }
}

static void assert_accepted(const check_run_t *run)
{
    if (run->rc != 0) {
        print_error("unexpected rejection: %s\n", run->err);
    }
    assert_int_equal(run->rc, 0);
    assert_string_equal(run->err, "");
}

/* Rejected, the message starting with property and naming record line of
 * trace number trace (its "path:line"); one line. */
static void assert_rejected(const check_run_t *run, const char *property, size_t trace,
                            size_t line)
{
    char where[64];

    if (run->rc == 0) {
        print_error("accepted, expected a %s violation\n", property);
    }
    assert_int_equal(run->rc, -1);
    if (strncmp(run->err, property, strlen(property)) != 0) {
        print_error("expected %s, got: %s\n", property, run->err);
    }
    assert_int_equal(strncmp(run->err, property, strlen(property)), 0);
    assert_true(trace < run->n);
    snprintf(where, sizeof(where), "%s:%zu", run->path[trace], line);
    if (strstr(run->err, where) == NULL) {
        print_error("expected %s in: %s\n", where, run->err);
    }
    assert_non_null(strstr(run->err, where));
    assert_null(strchr(run->err, '\n'));
}

static void assert_err_contains(const check_run_t *run, const char *needle)
{
    if (strstr(run->err, needle) == NULL) {
        print_error("expected '%s' in: %s\n", needle, run->err);
    }
    assert_non_null(strstr(run->err, needle));
}

static void check1(check_run_t *run, const char *a)
{
    const char *texts[] = {a};

    run_check(run, 1, texts);
}

static void check2(check_run_t *run, const char *a, const char *b)
{
    const char *texts[] = {a, b};

    run_check(run, 2, texts);
}

static void check3(check_run_t *run, const char *a, const char *b, const char *c)
{
    const char *texts[] = {a, b, c};

    run_check(run, 3, texts);
}


/* --- the reference scenario ------------------------------------------------------ */

/*
 * Three processes in group "g": A (1:100) creates it, B (1:200) joins, C
 * (2:300) joins on NODEUP and first sees A's counter 1 (a late joiner starts
 * anywhere), B leaves cleanly, C is killed after an extra AGREED delivery
 * that nobody else made, A carries on and ends cleanly. C's untagged 0-byte
 * message is checked for position only.
 */
static const char good_a[] =
    "P 1 100\n"
    "C 67 1:100 - 1:100:1\n"                  /* 2 */
    "C 67 1:100,1:200 - 1:200:1\n"            /* 3 */
    "D 67 1 100 2 8 100.0\n"                  /* 4 */
    "D 67 1 200 2 8 200.0\n"                  /* 5 */
    "C 67 1:100,1:200,2:300 - 2:300:4\n"      /* 6 */
    "D 67 1 100 2 8 100.1\n"                  /* 7 */
    "D 67 2 300 2 8 300.0\n"                  /* 8 */
    "D 67 1 200 1 8 200.1\n"                  /* 9 */
    "D 67 1 100 3 8 100.2\n"                  /* 10 */
    "C 67 1:100,2:300 1:200:2 -\n"            /* 11 */
    "D 67 1 100 2 8 100.3\n"                  /* 12 */
    "D 67 2 300 0 0 -\n"                      /* 13 */
    "C 67 1:100 2:300:5 -\n"                  /* 14 */
    "D 67 1 100 2 8 100.4\n"                  /* 15 */
    "X\n";

static const char good_b[] =
    "P 1 200\n"
    "C 67 1:100,1:200 - 1:200:1\n"            /* 2 */
    "D 67 1 100 2 8 100.0\n"                  /* 3 */
    "D 67 1 200 2 8 200.0\n"                  /* 4 */
    "C 67 1:100,1:200,2:300 - 2:300:4\n"      /* 5 */
    "D 67 1 100 2 8 100.1\n"                  /* 6 */
    "D 67 2 300 2 8 300.0\n"                  /* 7 */
    "D 67 1 200 1 8 200.1\n"                  /* 8 */
    "D 67 1 100 3 8 100.2\n"                  /* 9 */
    "C 67 1:100,2:300 1:200:2 -\n"            /* 10 */
    "X\n";

static const char good_c[] =
    "P 2 300\n"
    "C 67 1:100,1:200,2:300 - 2:300:4\n"      /* 2 */
    "D 67 1 100 2 8 100.1\n"                  /* 3 */
    "D 67 2 300 2 8 300.0\n"                  /* 4 */
    "D 67 1 200 1 8 200.1\n"                  /* 5 */
    "D 67 1 100 3 8 100.2\n"                  /* 6 */
    "C 67 1:100,2:300 1:200:2 -\n"            /* 7 */
    "D 67 1 100 2 8 100.3\n"                  /* 8 */
    "D 67 2 300 0 0 -\n"                      /* 9 */
    "D 67 2 300 2 8 300.1\n";                 /* 10: extra AGREED, then killed */

static void test_good_three_process_trace_is_accepted(void **state)
{
    check_run_t run;

    (void)state;
    check3(&run, good_a, good_b, good_c);
    assert_accepted(&run);
}

/* Pairs are checked in file order; every order must give the same answer. */
static void test_good_trace_is_accepted_in_any_file_order(void **state)
{
    static const char *const traces[] = {good_a, good_b, good_c};
    static const int order[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    check_run_t run;
    size_t i;

    (void)state;
    for (i = 0; i < 6; ++i) {
        check3(&run, traces[order[i][0]], traces[order[i][1]], traces[order[i][2]]);
        assert_accepted(&run);
    }
}


/* --- pairwise properties: A1, V1, A3, M1, S1 -------------------------------------------- */

static void test_order_swap_between_two_processes_is_a1(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"                /* 4 */
           "D 67 1 200 2 4 200.0\n"
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 200 2 4 200.0\n"                /* 3 */
           "D 67 1 100 2 4 100.0\n"
           "X\n");
    assert_rejected(&run, "A1", 0, 4);
    assert_err_contains(&run, run.path[1]);
    assert_err_contains(&run, ":3 delivers 'D 67 1 200 2 4 200.0'");
}

static void test_same_messages_different_guarantee_is_a1(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\nC 67 1:100,1:200 - 1:100:1,1:200:1\nD 67 1 100 2 4 100.0\nX\n",
           "P 1 200\nC 67 1:100,1:200 - 1:100:1,1:200:1\nD 67 1 100 3 4 100.0\nX\n");
    assert_rejected(&run, "A1", 0, 3);
}

static const char v1_c[] =
    "P 2 300\n"
    "C 67 1:100,1:200,2:300 - 2:300:1\n"
    "X\n";

static void test_missing_message_between_two_views_is_v1(void **state)
{
    check_run_t run;

    (void)state;
    check3(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 200 2 4 200.0\n"                /* 5: B never delivers it */
           "C 67 1:100,1:200,2:300 - 2:300:1\n"
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "C 67 1:100,1:200,2:300 - 2:300:1\n"    /* 4 */
           "X\n",
           v1_c);
    assert_rejected(&run, "V1", 0, 5);
    assert_err_contains(&run, ":4 installs the next view");
}

static void test_confchg_at_different_positions_is_a3(void **state)
{
    check_run_t run;

    (void)state;
    check3(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "C 67 1:100,1:200,2:300 - 2:300:1\n"    /* 5 */
           "D 67 1 200 2 4 200.0\n"                /* 6 */
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 200 2 4 200.0\n"                /* 4: before the view change */
           "C 67 1:100,1:200,2:300 - 2:300:1\n"
           "X\n",
           "P 2 300\n"
           "C 67 1:100,1:200,2:300 - 2:300:1\n"
           "D 67 1 200 2 4 200.0\n"
           "X\n");
    assert_rejected(&run, "A3", 1, 4);
    assert_err_contains(&run, ":5 installs");
    assert_err_contains(&run, "at line 6");
}

static void test_different_next_view_is_m1(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1,1:200:1\n"
           "C 67 1:100,1:200,1:300 - 1:300:1\n"    /* 3 */
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:100:1,1:200:1\n"
           "C 67 1:100,1:200,1:400 - 1:400:1\n"    /* 3 */
           "X\n");
    assert_rejected(&run, "M1", 0, 3);
    assert_err_contains(&run, run.path[1]);
}

/* Both think they created the group and the other joined later: each view
 * is consistent locally, but they never installed the same views. */
static void test_split_brain_join_is_m1(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:200:1\n"          /* 3 */
           "X\n",
           "P 1 200\n"
           "C 67 1:200 - 1:200:1\n"
           "C 67 1:100,1:200 - 1:100:1\n"          /* 3 */
           "X\n");
    assert_rejected(&run, "M1", 0, 3);
    assert_err_contains(&run, run.path[1]);
}

static const char crash_survivor[] =
    "P 1 100\n"
    "C 67 1:100 - 1:100:1\n"
    "C 67 1:100,1:200 - 1:200:1\n"
    "D 67 1 100 2 4 100.0\n"
    "C 67 1:100 1:200:5 -\n"                   /* 5 */
    "X\n";

static const char crash_safe[] =
    "P 1 200\n"
    "C 67 1:100,1:200 - 1:200:1\n"
    "D 67 1 100 2 4 100.0\n"
    "D 67 1 200 3 4 200.0\n";                  /* 4: SAFE, then killed */

static void test_crashed_extra_safe_delivery_is_s1(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run, crash_survivor, crash_safe);
    assert_rejected(&run, "S1", 1, 4);
    assert_err_contains(&run, ":5 installs");
    check2(&run, crash_safe, crash_survivor);
    assert_rejected(&run, "S1", 0, 4);
    assert_err_contains(&run, ":5 installs");
}

static void test_crashed_extra_non_safe_deliveries_are_accepted(void **state)
{
    check_run_t run;
    int g;

    (void)state;
    for (g = CPG_TRACE_UNORDERED; g <= CPG_TRACE_AGREED; ++g) {
        char crashed[256];

        snprintf(crashed, sizeof(crashed),
                 "P 1 200\n"
                 "C 67 1:100,1:200 - 1:200:1\n"
                 "D 67 1 100 2 4 100.0\n"
                 "D 67 1 200 %d 4 200.0\n"
                 "D 67 1 100 %d 4 100.1\n", g, g);
        check2(&run, crash_survivor, crashed);
        assert_accepted(&run);
    }
}

/* C dies with an extra delivery while B's leave is in progress: the
 * survivors install the view without B (C, not yet suspected, still listed)
 * and only then the one without C. C never installed either view. */
static void test_crashed_extra_delivery_before_unrelated_view_change_is_accepted(void **state)
{
    check_run_t run;

    (void)state;
    check3(&run,
           "P 1 100\n"
           "C 67 1:100,1:200,1:300 - 1:100:1,1:200:1,1:300:1\n"
           "D 67 1 100 2 4 100.0\n"
           "C 67 1:100,1:300 1:200:2 -\n"
           "C 67 1:100 1:300:5 -\n"
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200,1:300 - 1:100:1,1:200:1,1:300:1\n"
           "D 67 1 100 2 4 100.0\n"
           "C 67 1:100,1:300 1:200:2 -\n"
           "X\n",
           "P 1 300\n"
           "C 67 1:100,1:200,1:300 - 1:100:1,1:200:1,1:300:1\n"
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 300 2 4 300.0\n");
    assert_accepted(&run);
}

/* A clean process (X) gets no such allowance: it did install the next view. */
static void test_clean_process_extra_delivery_is_v1(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run, crash_survivor,
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 200 2 4 200.0\n"                /* 4 */
           "X\n");
    assert_rejected(&run, "V1", 1, 4);
}

static void test_crashed_process_removed_with_leave_reason_is_rejected(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "C 67 1:100 1:200:2 -\n"                /* 5: LEAVE, not PROCDOWN */
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 200 2 4 200.0\n");
    assert_rejected(&run, "M3", 0, 5);
    assert_err_contains(&run, "reason 2");
}

/* A crashed process's trace that simply stops is a prefix: fine. */
static void test_crashed_trace_prefix_is_accepted(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run, crash_survivor,
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n");
    assert_accepted(&run);
}

/* Deliveries after the last test message may be cut by exit: of two clean
 * streams, one may be a prefix of the other. */
static void test_clean_streams_ending_at_different_points_are_accepted(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1,1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 1 100 2 4 100.1\n"
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:100:1,1:200:1\n"
           "D 67 1 100 2 4 100.0\n"
           "X\n");
    assert_accepted(&run);
}

/* B leaves and rejoins; its counters restart at 0 in its second episode.
 * A may see them restart because B was removed in between. */
static void test_leave_and_rejoin_is_accepted(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 1 200 2 4 200.1\n"
           "C 67 1:100 1:200:2 -\n"
           "D 67 1 100 2 4 100.0\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 1 100 2 4 100.1\n"
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 1 200 2 4 200.1\n"
           "C 67 1:100 1:200:2 -\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 1 100 2 4 100.1\n"
           "X\n");
    assert_accepted(&run);
}

/* Same rejoin, but A delivered something while B was away that B claims to
 * have delivered too. */
static void test_delivery_seen_while_away_is_rejected(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "C 67 1:100 1:200:2 -\n"
           "D 67 1 100 2 4 100.0\n"
           "C 67 1:100,1:200 - 1:200:1\n"          /* 6 */
           "D 67 1 100 2 4 100.1\n"
           "X\n",
           "P 1 200\n"
           "C 67 1:100,1:200 - 1:200:1\n"
           "C 67 1:100 1:200:2 -\n"
           "D 67 1 100 2 4 100.0\n"                /* 4: not a member */
           "C 67 1:100,1:200 - 1:200:1\n"
           "X\n");
    assert_rejected(&run, "D2", 1, 4);
}


/* --- local properties: D1, D2, F1, M2, M3 ----------------------------------------------- */

static void test_duplicate_delivery_is_d1(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 1 200 2 4 200.1\n"
           "D 67 1 200 2 4 200.1\n"                /* 5 */
           "X\n");
    assert_rejected(&run, "D1", 0, 5);
    assert_err_contains(&run, "200.1 delivered twice");
}

static void test_tag_of_another_sender_is_d1(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "D 67 1 200 2 4 100.0\n"                /* 3 */
           "X\n");
    assert_rejected(&run, "D1", 0, 3);
}

static void test_fifo_gap_is_f1(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "D 67 1 200 2 4 200.5\n"                /* a late start is fine */
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 200 2 4 200.7\n"                /* 5: 200.6 missing */
           "X\n");
    assert_rejected(&run, "F1", 0, 5);
    assert_err_contains(&run, "expected tag 200.6 next");
}

static void test_fifo_reorder_is_f1(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "D 67 1 200 2 4 200.3\n"
           "D 67 1 200 2 4 200.4\n"
           "D 67 1 200 2 4 200.2\n"                /* 5 */
           "X\n");
    assert_rejected(&run, "F1", 0, 5);
}

/* A sender that stays a member may not restart its counters. */
static void test_fifo_restart_without_removal_is_rejected(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 1 200 2 4 200.1\n"
           "C 67 1:100,1:200,1:300 - 1:300:1\n"
           "D 67 1 200 2 4 200.0\n"                /* 6 */
           "X\n");
    assert_rejected(&run, "D1", 0, 6);
}

static void test_self_delivery_gap_is_f1(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "D 67 1 100 2 4 100.0\n"
           "D 67 1 100 2 4 100.2\n"                /* 4 */
           "X\n");
    assert_rejected(&run, "F1", 0, 4);
    assert_err_contains(&run, "self-delivery");
}

static void test_delivery_from_non_member_is_d2(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "D 67 1 200 2 4 200.0\n"
           "D 67 9 999 2 4 999.0\n"                /* 4 */
           "X\n");
    assert_rejected(&run, "D2", 0, 4);
    assert_err_contains(&run, "9:999 is not a member");
}

static void test_delivery_before_first_confchg_is_d2(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "D 67 1 100 2 4 100.0\n"                /* 2 */
           "C 67 1:100 - 1:100:1\n"
           "X\n");
    assert_rejected(&run, "D2", 0, 2);
}

static void test_member_list_without_self_is_m2(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "C 67 1:200,1:300 - 1:300:1\n"          /* 3 */
           "X\n");
    assert_rejected(&run, "M2", 0, 3);
    assert_err_contains(&run, "1:100");
}

static void test_self_in_left_and_members_is_m2(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:100:1\n"
           "C 67 1:100,1:200 1:100:2 -\n"          /* 3 */
           "X\n");
    assert_rejected(&run, "M2", 0, 3);
}

static void test_joined_list_not_member_diff_is_m3(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:1\n"
           "C 67 1:100,1:200 - 1:300:1\n"          /* 3: 1:200 is the new member */
           "X\n");
    assert_rejected(&run, "M3", 0, 3);
    assert_err_contains(&run, "joined list");
    assert_err_contains(&run, "1:200");
}

static void test_left_list_not_member_diff_is_m3(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200,1:300 - 1:100:1\n"
           "C 67 1:100,1:300 - -\n"                /* 3: 1:200 vanished */
           "X\n");
    assert_rejected(&run, "M3", 0, 3);
    assert_err_contains(&run, "left list");
}

static void test_unsorted_member_list_is_m3(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:200,1:100 - 1:100:1\n"          /* 2 */
           "X\n");
    assert_rejected(&run, "M3", 0, 2);
    assert_err_contains(&run, "not sorted");
}

static void test_duplicate_member_is_m3(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:100 - 1:100:1\n"          /* 2 */
           "X\n");
    assert_rejected(&run, "M3", 0, 2);
    assert_err_contains(&run, "duplicate");
}

static void test_first_confchg_without_self_in_joined_is_m3(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100,1:200 - 1:200:1\n"          /* 2 */
           "X\n");
    assert_rejected(&run, "M3", 0, 2);
    assert_err_contains(&run, "itself in joined");
}

static void test_bad_reason_is_m3(void **state)
{
    check_run_t run;

    (void)state;
    check1(&run,
           "P 1 100\n"
           "C 67 1:100 - 1:100:2\n"                /* 2: LEAVE in joined */
           "X\n");
    assert_rejected(&run, "M3", 0, 2);
    assert_err_contains(&run, "reason");
}


/* --- groups --------------------------------------------------------------------------- */

/* A4 is not checked: the two groups interleave differently at A and B. */
static void test_groups_are_checked_independently(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 01 1:100,1:200 - 1:100:1,1:200:1\n"
           "C 02 1:100,1:200 - 1:100:1,1:200:1\n"
           "D 01 1 200 2 4 200.0\n"
           "D 02 1 200 2 4 200.0\n"
           "X\n",
           "P 1 200\n"
           "C 02 1:100,1:200 - 1:100:1,1:200:1\n"
           "D 02 1 200 2 4 200.0\n"
           "C 01 1:100,1:200 - 1:100:1,1:200:1\n"
           "D 01 1 200 2 4 200.0\n"
           "X\n");
    assert_accepted(&run);
}

static void test_violation_names_its_group(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run,
           "P 1 100\n"
           "C 01 1:100,1:200 - 1:100:1,1:200:1\n"
           "C 0a0b 1:100,1:200 - 1:100:1,1:200:1\n"
           "D 01 1 200 2 4 200.0\n"
           "D 0a0b 1 200 2 4 200.0\n"
           "D 0a0b 1 100 2 4 100.0\n"              /* 6 */
           "X\n",
           "P 1 200\n"
           "C 01 1:100,1:200 - 1:100:1,1:200:1\n"
           "C 0A0B 1:100,1:200 - 1:100:1,1:200:1\n"  /* hex case does not matter */
           "D 01 1 200 2 4 200.0\n"
           "D 0a0b 1 100 2 4 100.0\n"
           "D 0a0b 1 200 2 4 200.0\n"
           "X\n");
    assert_rejected(&run, "A1", 0, 5);
    assert_err_contains(&run, "group 0a0b:");
}


/* --- malformed traces ------------------------------------------------------------------ */

static void assert_malformed(const char *text, size_t line, const char *needle)
{
    check_run_t run;
    char where[64];

    check1(&run, text);
    if (run.rc != -1) {
        print_error("accepted malformed trace: %s\n", text);
    }
    assert_int_equal(run.rc, -1);
    if (line != 0) {
        snprintf(where, sizeof(where), "%s:%zu:", run.path[0], line);
        assert_err_contains(&run, where);
    }
    assert_err_contains(&run, needle);
}

static void test_malformed_traces_are_rejected_with_line(void **state)
{
    (void)state;
    assert_malformed("", 0, "empty trace");
    assert_malformed("Q 1 100\n", 1, "first line must be");
    assert_malformed("P 1\n", 1, "first line must be");
    assert_malformed("P 1 -100\n", 1, "first line must be");
    assert_malformed("P 1 100\nC 67 1:100 - 1:100:1", 2, "incomplete last line");
    assert_malformed("P 1 100\nX\nC 67 1:100 - 1:100:1\n", 3, "after the final X");
    assert_malformed("P 1 100\nC 6 1:100 - 1:100:1\n", 2, "malformed group");
    assert_malformed("P 1 100\nC 6g 1:100 - 1:100:1\n", 2, "malformed group");
    assert_malformed("P 1 100\nC 67  1:100 - 1:100:1\n", 2, "single spaces");
    assert_malformed("P 1 100\nC 67 1:100 - 1:100:1 \n", 2, "single spaces");
    assert_malformed("P 1 100\nC 67 1:100 - 1:100\n", 2, "malformed C");
    assert_malformed("P 1 100\nC 67 1:100:1 - 1:100:1\n", 2, "malformed C");
    assert_malformed("P 1 100\nC 67 1:100,,1:200 - 1:100:1\n", 2, "malformed C");
    assert_malformed("P 1 100\nC 67 1:4294967296 - 1:100:1\n", 2, "malformed C");
    assert_malformed("P 1 100\nC 67 1:100 -\n", 2, "malformed C");
    assert_malformed("P 1 100\nC 67 1:100 - 1:100:1\nD 67 1 100 4 4 100.0\n", 3, "malformed D");
    assert_malformed("P 1 100\nC 67 1:100 - 1:100:1\nD 67 1 100 2 4 100\n", 3, "malformed D");
    assert_malformed("P 1 100\nC 67 1:100 - 1:100:1\nD 67 1 100 2 4 100.x\n", 3, "malformed D");
    assert_malformed("P 1 100\nZ 67\n", 2, "unknown record type");
    assert_malformed("P 1 100\n\n", 2, "single spaces");
}

static void test_nul_byte_in_line_is_rejected(void **state)
{
    static const char text[] = "P 1 100\nC 67 1:100\0 - 1:100:1\n";
    char path[32];
    const char *paths[1] = {path};
    char err[512];

    (void)state;
    temp_path(path, sizeof(path));
    unit_temp_file(path, text, sizeof(text) - 1);
    assert_int_equal(cpg_trace_check(paths, 1, err, sizeof(err)), -1);
    assert_int_equal(unlink(path), 0);
    assert_non_null(strstr(err, ":2: NUL byte"));
}

static void test_missing_file_is_rejected(void **state)
{
    const char *paths[] = {"/nonexistent/cpg_trace"};
    char err[512];

    (void)state;
    assert_int_equal(cpg_trace_check(paths, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/cpg_trace: cannot open"));
}

static void test_two_traces_of_one_process_are_rejected(void **state)
{
    check_run_t run;

    (void)state;
    check2(&run, "P 1 100\nX\n", "P 1 100\nX\n");
    assert_int_equal(run.rc, -1);
    assert_err_contains(&run, "same process 1:100");
}

static void test_error_buffer_is_truncated_and_terminated(void **state)
{
    static const char text[] = "P 1 100\nC 67 1:200,1:100 - 1:100:1\nX\n";
    char path[32];
    const char *paths[1] = {path};
    char err[8];

    (void)state;
    temp_path(path, sizeof(path));
    unit_temp_file(path, text, sizeof(text) - 1);
    memset(err, 'x', sizeof(err));
    assert_int_equal(cpg_trace_check(paths, 1, err, sizeof(err)), -1);
    assert_string_equal(err, "M3 conf");
    assert_int_equal(cpg_trace_check(paths, 1, NULL, 0), -1);
    assert_int_equal(unlink(path), 0);
}

static void test_no_traces_is_accepted(void **state)
{
    char err[16] = "junk";

    (void)state;
    assert_int_equal(cpg_trace_check(NULL, 0, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}


/* --- random correct histories ------------------------------------------------------------- */

/*
 * A small simulator of a correct implementation: processes join (alone or
 * several at once), leave, rejoin with counters restarting at 0, crash (in
 * every group at once, possibly after extra non-SAFE self-deliveries, which
 * the survivors then follow with a view change), are removed late, and exit
 * early at the end. Every history it produces must be accepted: the checker
 * is only useful if it never cries wolf.
 */
#define SIM_PROCS  6
#define SIM_GROUPS 2
#define SIM_LINE   512

typedef struct sim {
    unsigned int seed; /* rand_r state */
    int          nprocs;
    FILE        *out[SIM_PROCS];
    char        *text[SIM_PROCS];
    size_t       len[SIM_PROCS];
    bool         member[SIM_GROUPS][SIM_PROCS];
    bool         crashed[SIM_PROCS];
    bool         stopped[SIM_PROCS]; /* exited: records nothing more, ends with X */
    uint64_t     counter[SIM_GROUPS][SIM_PROCS];
    bool         safe_extras; /* a crashed process's extra deliveries are SAFE */
    int          unsafe;      /* how often that was followed by a survivor's view change */
} sim_t;

static const char *const sim_group[SIM_GROUPS] = {"67", "6868"};

/* Index order is (nodeid, pid) order, so lists come out sorted. */
static unsigned sim_nodeid(int p) { return 1 + (unsigned)p / 2; }
static unsigned sim_pid(int p) { return 100 + (unsigned)p; }

static int sim_rand(sim_t *s, int n)
{
    return rand_r(&s->seed) % n;
}

static bool sim_listening(const sim_t *s, int p)
{
    return !s->crashed[p] && !s->stopped[p];
}

static void sim_append(char *line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sim_append(char *line, const char *fmt, ...)
{
    size_t used = strlen(line);
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line + used, SIM_LINE - used, fmt, ap);
    va_end(ap);
    assert_true((n >= 0) && ((size_t)n < SIM_LINE - used));
}

/* One list field: the processes with in[p], with reason[p] if non-NULL. */
static void sim_list(char *line, const bool *in, const unsigned *reason, int nprocs)
{
    bool any = false;
    int p;

    for (p = 0; p < nprocs; ++p) {
        if (in[p]) {
            sim_append(line, "%c%u:%u", any ? ',' : ' ', sim_nodeid(p), sim_pid(p));
            if (reason != NULL) {
                sim_append(line, ":%u", reason[p]);
            }
            any = true;
        }
    }
    if (!any) {
        sim_append(line, " -");
    }
}

/* Group g changes from s->member[g] to next; everyone in either view who
 * still listens gets the confchg. */
static void sim_confchg(sim_t *s, int g, const bool *next, const unsigned *reason)
{
    bool left[SIM_PROCS], joined[SIM_PROCS];
    char line[SIM_LINE] = "";
    int p;

    for (p = 0; p < s->nprocs; ++p) {
        left[p]   = s->member[g][p] && !next[p];
        joined[p] = !s->member[g][p] && next[p];
    }
    sim_append(line, "C %s", sim_group[g]);
    sim_list(line, next, NULL, s->nprocs);
    sim_list(line, left, reason, s->nprocs);
    sim_list(line, joined, reason, s->nprocs);
    for (p = 0; p < s->nprocs; ++p) {
        if ((s->member[g][p] || next[p]) && sim_listening(s, p)) {
            fprintf(s->out[p], "%s\n", line);
        }
        s->member[g][p] = next[p];
    }
}

static int sim_pick(sim_t *s, int g, bool want_member)
{
    int cand[SIM_PROCS], n = 0, p;

    for (p = 0; p < s->nprocs; ++p) {
        if (sim_listening(s, p) && (s->member[g][p] == want_member)) {
            cand[n++] = p;
        }
    }
    return (n == 0) ? -1 : cand[sim_rand(s, n)];
}

static void sim_join(sim_t *s, int g)
{
    bool next[SIM_PROCS];
    unsigned reason[SIM_PROCS];
    int p, first = sim_pick(s, g, false);

    if (first < 0) {
        return;
    }
    for (p = 0; p < s->nprocs; ++p) {
        bool joins = (p == first) ||
                     (sim_listening(s, p) && !s->member[g][p] && (sim_rand(s, 5) == 0));

        next[p]   = s->member[g][p] || joins;
        reason[p] = sim_rand(s, 2) ? CPG_TRACE_JOIN : CPG_TRACE_NODEUP;
        if (joins) {
            s->counter[g][p] = 0;
        }
    }
    sim_confchg(s, g, next, reason);
}

/* Removes leaver (if >= 0) cleanly and each crashed member with the given
 * percent chance (always the one in must_go, if >= 0). Returns whether a
 * survivor installed the new view. */
static bool sim_remove(sim_t *s, int g, int leaver, int must_go, int percent)
{
    bool next[SIM_PROCS];
    unsigned reason[SIM_PROCS];
    bool any = false;
    int p;

    for (p = 0; p < s->nprocs; ++p) {
        bool goes = (p == leaver) || (p == must_go) ||
                    (s->member[g][p] && s->crashed[p] && (sim_rand(s, 100) < percent));

        next[p]   = s->member[g][p] && !goes;
        reason[p] = (p == leaver) ? CPG_TRACE_LEAVE
                                  : (sim_rand(s, 2) ? CPG_TRACE_PROCDOWN : CPG_TRACE_NODEDOWN);
        any |= (s->member[g][p] && !next[p]);
    }
    if (any && (sim_pick(s, g, true) >= 0)) {
        sim_confchg(s, g, next, reason);
        return true;
    }
    return false;
}

static void sim_crash(sim_t *s)
{
    bool extras[SIM_GROUPS] = {false};
    int g, k, p = -1;

    for (g = 0; (g < SIM_GROUPS) && (p < 0); ++g) {
        p = sim_pick(s, g, true);
    }
    if (p < 0) {
        return;
    }
    for (g = 0; g < SIM_GROUPS; ++g) {
        if (!s->member[g][p] || (sim_rand(s, 2) == 0)) {
            continue;
        }
        extras[g] = true; /* delivered its own message, then died */
        for (k = 1 + sim_rand(s, 2); k > 0; --k) {
            fprintf(s->out[p], "D %s %u %u %d 4 %u.%" PRIu64 "\n", sim_group[g], sim_nodeid(p),
                    sim_pid(p), s->safe_extras ? CPG_TRACE_SAFE : sim_rand(s, CPG_TRACE_SAFE),
                    sim_pid(p), s->counter[g][p]++);
        }
    }
    s->crashed[p] = true;
    for (g = 0; g < SIM_GROUPS; ++g) {
        /* Nothing more is delivered in that view: the next event is a view
         * change (unless no member is left to install it). */
        if (extras[g] && sim_remove(s, g, -1, p, 50)) {
            s->unsafe++;
        }
    }
}

static void sim_message(sim_t *s, int g)
{
    char line[SIM_LINE] = "";
    int p, sender = sim_pick(s, g, true);
    int guarantee = sim_rand(s, 4);

    if (sender < 0) {
        return;
    }
    if (sim_rand(s, 10) == 0) {
        sim_append(line, "D %s %u %u %d 0 -", sim_group[g], sim_nodeid(sender), sim_pid(sender),
                   guarantee);
    } else {
        sim_append(line, "D %s %u %u %d 8 %u.%" PRIu64, sim_group[g], sim_nodeid(sender),
                   sim_pid(sender), guarantee, sim_pid(sender), s->counter[g][sender]++);
    }
    for (p = 0; p < s->nprocs; ++p) {
        if (s->member[g][p] && sim_listening(s, p)) {
            fprintf(s->out[p], "%s\n", line);
        }
    }
}

static void sim_run(sim_t *s, unsigned int seed, bool safe_extras)
{
    int p, step, nsteps;

    memset(s, 0, sizeof(*s));
    s->seed        = seed;
    s->safe_extras = safe_extras;
    s->nprocs = 2 + sim_rand(s, SIM_PROCS - 1);
    nsteps    = 5 + sim_rand(s, 80);
    for (p = 0; p < s->nprocs; ++p) {
        s->out[p] = open_memstream(&s->text[p], &s->len[p]);
        assert_non_null(s->out[p]);
        fprintf(s->out[p], "P %u %u\n", sim_nodeid(p), sim_pid(p));
    }
    for (step = 0; step < nsteps; ++step) {
        int g = sim_rand(s, SIM_GROUPS), r = sim_rand(s, 100);

        if (r < 15) {
            sim_join(s, g);
        } else if (r < 25) {
            int leaver = sim_pick(s, g, true);

            if (leaver >= 0) {
                sim_remove(s, g, leaver, -1, 50);
            }
        } else if (r < 32) {
            sim_crash(s);
        } else if (r < 40) {
            sim_remove(s, g, -1, -1, 100); /* late failure detection */
        } else {
            sim_message(s, g);
        }
        for (p = 0; (step >= nsteps - 3) && (p < s->nprocs); ++p) {
            s->stopped[p] |= (sim_rand(s, 4) == 0); /* exit before the others */
        }
    }
    for (p = 0; p < s->nprocs; ++p) {
        if (!s->crashed[p]) {
            fprintf(s->out[p], "X\n");
        }
        assert_int_equal(fclose(s->out[p]), 0);
    }
}

static void test_random_correct_histories_are_accepted(void **state)
{
    const char *texts[SIM_PROCS];
    check_run_t run;
    unsigned int seed;
    sim_t sim;
    int p;

    (void)state;
    for (seed = 1; seed <= 300; ++seed) {
        sim_run(&sim, seed, false);
        for (p = 0; p < sim.nprocs; ++p) {
            texts[p] = sim.text[p];
        }
        run_check(&run, (size_t)sim.nprocs, texts);
        if (run.rc != 0) {
            print_error("seed %u: %s\n", seed, run.err);
        }
        assert_accepted(&run);
        for (p = 0; p < sim.nprocs; ++p) {
            free(sim.text[p]);
        }
    }
}

/* The same histories, but a crashed process's extra deliveries are SAFE:
 * rejected as S1 whenever a survivor went on to the next view without them. */
static void test_random_histories_with_lost_safe_messages_are_s1(void **state)
{
    const char *texts[SIM_PROCS];
    check_run_t run;
    unsigned int seed, rejected = 0;
    sim_t sim;
    int p;

    (void)state;
    for (seed = 1; seed <= 300; ++seed) {
        sim_run(&sim, seed, true);
        for (p = 0; p < sim.nprocs; ++p) {
            texts[p] = sim.text[p];
        }
        run_check(&run, (size_t)sim.nprocs, texts);
        if (sim.unsafe == 0) {
            assert_accepted(&run);
        } else {
            if (strncmp(run.err, "S1", 2) != 0) {
                print_error("seed %u: expected S1, got: %s\n", seed, run.err);
            }
            assert_int_equal(strncmp(run.err, "S1", 2), 0);
            ++rejected;
        }
        for (p = 0; p < sim.nprocs; ++p) {
            free(sim.text[p]);
        }
    }
    assert_true(rejected >= 30); /* the simulator does produce the case */
}

/* --- writer ------------------------------------------------------------------------------ */

static const char group_g[] = "g";

static void write_process(const char *path, uint32_t pid, int leave)
{
    const struct cpg_trace_addr self[]  = {{1, pid, CPG_TRACE_JOIN}};
    const struct cpg_trace_addr both[]  = {{1, 100, 0}, {1, 200, 0}};
    const struct cpg_trace_addr joined[] = {{1, 200, CPG_TRACE_JOIN}};
    const struct cpg_trace_addr gone[]  = {{1, 200, CPG_TRACE_LEAVE}};
    cpg_trace_writer_t w;

    assert_int_equal(cpg_trace_open(&w, path, 1, pid), 0);
    if (pid == 100) {
        cpg_trace_confchg(&w, group_g, 1, self, 1, NULL, 0, self, 1);
    }
    cpg_trace_confchg(&w, group_g, 1, both, 2, NULL, 0, joined, 1);
    cpg_trace_deliver(&w, group_g, 1, 1, 200, CPG_TRACE_AGREED, 5, 1, 200, 0);
    cpg_trace_deliver(&w, group_g, 1, 1, 200, CPG_TRACE_SAFE, 0, 0, 0, 0);
    if (leave) {
        cpg_trace_confchg(&w, group_g, 1, both, 1, gone, 1, NULL, 0);
    }
    assert_int_equal(cpg_trace_close(&w), 0);
    assert_int_equal(w.fd, -1);
}

static void test_writer_round_trip(void **state)
{
    char a[32], b[32];
    const char *paths[] = {a, b};
    char err[512];
    char *text;
    size_t nc = 99, nd = 99;
    int fd;

    (void)state;
    temp_path(a, sizeof(a));
    temp_path(b, sizeof(b));
    assert_true((fd = mkstemp(a)) >= 0);
    assert_int_equal(close(fd), 0);
    assert_true((fd = mkstemp(b)) >= 0);
    assert_int_equal(close(fd), 0);
    write_process(a, 100, 1);
    write_process(b, 200, 1);

    text = unit_file_read_all(a);
    assert_string_equal(text,
                        "P 1 100\n"
                        "C 67 1:100 - 1:100:1\n"
                        "C 67 1:100,1:200 - 1:200:1\n"
                        "D 67 1 200 2 5 200.0\n"
                        "D 67 1 200 3 0 -\n"
                        "C 67 1:100 1:200:2 -\n"
                        "X\n");
    free(text);

    if (cpg_trace_check(paths, 2, err, sizeof(err)) != 0) {
        print_error("%s\n", err);
        fail();
    }
    assert_int_equal(cpg_trace_count(a, "67", &nc, &nd), 0);
    assert_int_equal(nc, 3);
    assert_int_equal(nd, 2);
    assert_int_equal(cpg_trace_count(b, NULL, &nc, &nd), 0);
    assert_int_equal(nc, 2);
    assert_int_equal(nd, 2);
    assert_int_equal(cpg_trace_count(b, "6869", &nc, &nd), 0); /* absent group */
    assert_int_equal(nc, 0);
    assert_int_equal(nd, 0);
    assert_int_equal(cpg_trace_count(b, "6", &nc, &nd), -1);   /* malformed name */
    assert_int_equal(unlink(a), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(cpg_trace_count(a, NULL, &nc, &nd), -1);  /* gone */
}

/* The empty name, and names with a space and a NUL, are three groups. */
static void test_writer_encodes_any_group_name(void **state)
{
    static const char empty[] = "", spaced[] = "a b", nul[] = {'x', '\0', 'y'};
    const struct cpg_trace_addr self[] = {{7, 42, CPG_TRACE_NODEUP}};
    char path[32];
    const char *paths[] = {path};
    cpg_trace_writer_t w;
    char err[512];
    size_t nc, nd;
    char *text;
    int fd;

    (void)state;
    temp_path(path, sizeof(path));
    assert_true((fd = mkstemp(path)) >= 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(cpg_trace_open(&w, path, 7, 42), 0);
    cpg_trace_confchg(&w, empty, 0, self, 1, NULL, 0, self, 1);
    cpg_trace_confchg(&w, spaced, 3, self, 1, NULL, 0, self, 1);
    cpg_trace_confchg(&w, nul, 3, self, 1, NULL, 0, self, 1);
    cpg_trace_deliver(&w, nul, 3, 7, 42, CPG_TRACE_FIFO, 1, 1, 42, 0);
    cpg_trace_deliver(&w, nul, 3, 7, 42, CPG_TRACE_FIFO, 1, 1, 42, 1);
    cpg_trace_deliver(&w, empty, 0, 7, 42, CPG_TRACE_UNORDERED, 1, 1, 42, 0);
    assert_int_equal(cpg_trace_close(&w), 0);

    text = unit_file_read_all(path);
    assert_string_equal(text,
                        "P 7 42\n"
                        "C - 7:42 - 7:42:4\n"
                        "C 612062 7:42 - 7:42:4\n"
                        "C 780079 7:42 - 7:42:4\n"
                        "D 780079 7 42 1 1 42.0\n"
                        "D 780079 7 42 1 1 42.1\n"
                        "D - 7 42 0 1 42.0\n"
                        "X\n");
    free(text);

    assert_int_equal(cpg_trace_check(paths, 1, err, sizeof(err)), 0);
    assert_int_equal(cpg_trace_count(path, "-", &nc, &nd), 0);
    assert_int_equal(nc, 1);
    assert_int_equal(nd, 1);
    assert_int_equal(cpg_trace_count(path, "612062", &nc, &nd), 0);
    assert_int_equal(nc, 1);
    assert_int_equal(nd, 0);
    assert_int_equal(cpg_trace_count(path, "780079", NULL, &nd), 0);
    assert_int_equal(nd, 2);
    assert_int_equal(unlink(path), 0);
}

static void test_writer_open_failure_is_reported(void **state)
{
    cpg_trace_writer_t w;

    (void)state;
    assert_int_equal(cpg_trace_open(&w, "/nonexistent/dir/trace", 1, 1), -1);
    assert_int_equal(w.fd, -1);
    assert_int_not_equal(w.error, 0);
    /* Records on a failed writer are dropped, and close reports the failure. */
    cpg_trace_deliver(&w, "g", 1, 1, 1, CPG_TRACE_AGREED, 0, 0, 0, 0);
    assert_int_equal(cpg_trace_close(&w), -1);
}

/* A trace cut by SIGKILL ends without X: the writer's lines are whole, and
 * the checker treats the process as crashed. */
static void test_writer_trace_without_close_reads_as_crashed(void **state)
{
    const struct cpg_trace_addr self[] = {{1, 100, CPG_TRACE_JOIN}};
    char path[32];
    const char *paths[] = {path};
    cpg_trace_writer_t w;
    char err[512];
    size_t nc, nd;
    int fd;

    (void)state;
    temp_path(path, sizeof(path));
    assert_true((fd = mkstemp(path)) >= 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(cpg_trace_open(&w, path, 1, 100), 0);
    cpg_trace_confchg(&w, group_g, 1, self, 1, NULL, 0, self, 1);
    cpg_trace_deliver(&w, group_g, 1, 1, 100, CPG_TRACE_AGREED, 3, 1, 100, 0);
    assert_int_equal(w.error, 0);
    assert_int_equal(close(w.fd), 0); /* as if killed: no X */

    assert_int_equal(cpg_trace_check(paths, 1, err, sizeof(err)), 0);
    assert_int_equal(cpg_trace_count(path, "67", &nc, &nd), 0);
    assert_int_equal(nc, 1);
    assert_int_equal(nd, 1);
    assert_false(unit_file_contains(path, "X\n"));
    assert_int_equal(unlink(path), 0);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_three_process_trace_is_accepted),
        cmocka_unit_test(test_good_trace_is_accepted_in_any_file_order),
        cmocka_unit_test(test_order_swap_between_two_processes_is_a1),
        cmocka_unit_test(test_same_messages_different_guarantee_is_a1),
        cmocka_unit_test(test_missing_message_between_two_views_is_v1),
        cmocka_unit_test(test_confchg_at_different_positions_is_a3),
        cmocka_unit_test(test_different_next_view_is_m1),
        cmocka_unit_test(test_split_brain_join_is_m1),
        cmocka_unit_test(test_crashed_extra_safe_delivery_is_s1),
        cmocka_unit_test(test_crashed_extra_non_safe_deliveries_are_accepted),
        cmocka_unit_test(test_crashed_extra_delivery_before_unrelated_view_change_is_accepted),
        cmocka_unit_test(test_clean_process_extra_delivery_is_v1),
        cmocka_unit_test(test_crashed_process_removed_with_leave_reason_is_rejected),
        cmocka_unit_test(test_crashed_trace_prefix_is_accepted),
        cmocka_unit_test(test_clean_streams_ending_at_different_points_are_accepted),
        cmocka_unit_test(test_leave_and_rejoin_is_accepted),
        cmocka_unit_test(test_delivery_seen_while_away_is_rejected),
        cmocka_unit_test(test_duplicate_delivery_is_d1),
        cmocka_unit_test(test_tag_of_another_sender_is_d1),
        cmocka_unit_test(test_fifo_gap_is_f1),
        cmocka_unit_test(test_fifo_reorder_is_f1),
        cmocka_unit_test(test_fifo_restart_without_removal_is_rejected),
        cmocka_unit_test(test_self_delivery_gap_is_f1),
        cmocka_unit_test(test_delivery_from_non_member_is_d2),
        cmocka_unit_test(test_delivery_before_first_confchg_is_d2),
        cmocka_unit_test(test_member_list_without_self_is_m2),
        cmocka_unit_test(test_self_in_left_and_members_is_m2),
        cmocka_unit_test(test_joined_list_not_member_diff_is_m3),
        cmocka_unit_test(test_left_list_not_member_diff_is_m3),
        cmocka_unit_test(test_unsorted_member_list_is_m3),
        cmocka_unit_test(test_duplicate_member_is_m3),
        cmocka_unit_test(test_first_confchg_without_self_in_joined_is_m3),
        cmocka_unit_test(test_bad_reason_is_m3),
        cmocka_unit_test(test_groups_are_checked_independently),
        cmocka_unit_test(test_violation_names_its_group),
        cmocka_unit_test(test_malformed_traces_are_rejected_with_line),
        cmocka_unit_test(test_nul_byte_in_line_is_rejected),
        cmocka_unit_test(test_missing_file_is_rejected),
        cmocka_unit_test(test_two_traces_of_one_process_are_rejected),
        cmocka_unit_test(test_error_buffer_is_truncated_and_terminated),
        cmocka_unit_test(test_no_traces_is_accepted),
        cmocka_unit_test(test_random_correct_histories_are_accepted),
        cmocka_unit_test(test_random_histories_with_lost_safe_messages_are_s1),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_encodes_any_group_name),
        cmocka_unit_test(test_writer_open_failure_is_reported),
        cmocka_unit_test(test_writer_trace_without_close_reads_as_crashed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
