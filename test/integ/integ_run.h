/*
 * integ_run.h - a minimal runner for the integration test programs: a table
 * of named tests, each run once, with its wall time and PASS/FAIL printed;
 * the program fails if any test fails. Header-only on purpose: each test
 * program includes it once.
 */
#ifndef UCPG_TEST_INTEG_RUN_H
#define UCPG_TEST_INTEG_RUN_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

typedef struct integ_test {
    const char *name;
    int       (*fn)(void);
} integ_test_t;

#define INTEG_TEST(f) { #f, f }

/* A test returns this (after setting integ_skip_reason) when it cannot run
 * in this build; it is reported as SKIP with the reason, never as PASS. */
#define INTEG_SKIP 77
static const char *integ_skip_reason = "";

/* Fails the current test with a message when cond is false. */
#define INTEG_CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "  check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fprintf(stderr, "\n"); \
            goto fail; \
        } \
    } while (0)

/* On failure, the threads' stacks of every rank still running, if gdb is
 * installed: a rank that missed its deadline is usually stuck somewhere, and
 * a rare hang is only ever seen in CI (a killed process is gone, a running
 * one can still tell). Bounded by timeout(1). */
static inline void integ_dump_stacks(ucpg_harness_t *h)
{
    char cmd[256];
    int r;

    if (system("command -v gdb >/dev/null 2>&1") != 0) {
        return;
    }
    for (r = 0; r < ucpg_harness_nprocs(h); ++r) {
        pid_t pid = ucpg_harness_pid(h, r);
        if ((pid <= 0) || (kill(pid, 0) != 0)) {
            continue;
        }
        fprintf(stderr, "  stacks of rank %d (pid %d):\n", r, (int)pid);
        snprintf(cmd, sizeof(cmd),
                 "timeout 30 gdb -batch -nx -p %d -ex 'thread apply all bt' 2>/dev/null "
                 "| grep -E '^(Thread|#)' >&2", (int)pid);
        if (system(cmd) != 0) {
            fprintf(stderr, "  (gdb could not attach)\n");
        }
    }
}

/* Ends a test that used harness h: on failure first prints what every rank
 * said, and the stacks of the ranks still running. Returns the test's result
 * (0 = passed). */
static inline int integ_end(ucpg_harness_t *h, int passed)
{
    if (!passed) {
        ucpg_harness_dump(h);
        integ_dump_stacks(h);
    }
    ucpg_harness_destroy(h);
    return passed ? 0 : 1;
}

/* Tells every rank "DONE" and waits for all of them to exit with status 0. */
static inline int integ_release_all(ucpg_harness_t *h, unsigned timeout_ms)
{
    ucpg_harness_send_all(h, "DONE");
    return ucpg_harness_wait(h, timeout_ms);
}

/* Waits for rank to exit and returns 0 iff it exited with status 0. */
static inline int integ_wait_rank_ok(ucpg_harness_t *h, int rank, unsigned timeout_ms)
{
    int status = 0;

    if (ucpg_harness_wait_rank(h, rank, timeout_ms, &status) != 0) {
        return -1;
    }
    return (WIFEXITED(status) && (WEXITSTATUS(status) == 0)) ? 0 : -1;
}

/* Runs the tests named in argv (all if none); returns the exit status. */
static inline int integ_run(const integ_test_t *tests, size_t ntests, int argc, char **argv)
{
    int failed = 0, run = 0, skipped = 0, a, selected, ret;
    uint64_t t0;
    size_t i;

    for (a = 1; a < argc; ++a) {         /* a misspelt name must not pass by running nothing */
        for (i = 0; (i < ntests) && (strcmp(argv[a], tests[i].name) != 0); ++i) {
        }
        if (i == ntests) {
            printf("no test named %s\n", argv[a]);
            return 1;
        }
    }
    for (i = 0; i < ntests; ++i) {
        selected = (argc <= 1);
        for (a = 1; a < argc; ++a) {
            selected |= (strcmp(argv[a], tests[i].name) == 0);
        }
        if (!selected) {
            continue;
        }
        t0 = ucpg_test_now_ms();
        printf("RUN  %s\n", tests[i].name);
        fflush(stdout);
        ret = tests[i].fn();
        if (ret == 0) {
            printf("PASS %s (%llu ms)\n", tests[i].name,
                   (unsigned long long)(ucpg_test_now_ms() - t0));
        } else if (ret == INTEG_SKIP) {
            printf("SKIP %s: %s\n", tests[i].name, integ_skip_reason);
            ++skipped;
            continue;
        } else {
            printf("FAIL %s (%llu ms)\n", tests[i].name,
                   (unsigned long long)(ucpg_test_now_ms() - t0));
            ++failed;
        }
        fflush(stdout);
        ++run;
    }
    printf("%d test(s) run, %d failed, %d skipped\n", run, failed, skipped);
    return ((failed == 0) && (run > 0)) ? 0 : 1;
}

#endif
