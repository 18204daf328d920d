/*
 * test_harness_selftest.c - self-test of the multi-process test harness.
 *
 * Every function of harness.h is exercised, in both fork and exec modes, with
 * the failure cases that the harness exists for: children that hang (killed
 * within the timeout), crash (reported as a signal), exit non-zero, outlive the
 * deadline, or outlive a dead test process; plus stdin/stdout plumbing that
 * must not deadlock or leak pipe ends between children.
 *
 * Plain main(): exit status 0 means every check passed; each failed check is
 * printed with its line. Some tests provoke the harness's own failure reports
 * on stderr on purpose; those are announced with "(expected diagnostics)".
 * Timing checks have a generous slack so that the test also passes under
 * valgrind.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Deadline of every harness created here: far beyond what any test needs, so
 * that it only matters if the harness itself is broken. */
#define TEST_DEADLINE_MS  20000u

/* Tolerance added to every "must be done within" bound. */
#define TEST_SLACK_MS     1500u

static int         test_failures;    /* failed checks in the whole run */
static const char *test_current;     /* name of the running test */

#define CHECK(_cond) \
    check((_cond), __LINE__, #_cond)

#define CHECK_MSG(_cond, ...) \
    do { \
        if (!CHECK(_cond)) { \
            fprintf(stderr, "        "); \
            fprintf(stderr, __VA_ARGS__); \
            fprintf(stderr, "\n"); \
        } \
    } while (0)

static int check(int ok, int line, const char *what)
{
    if (!ok) {
        fprintf(stderr, "CHECK FAILED in %s (line %d): %s\n", test_current, line, what);
        ++test_failures;
    }
    return ok;
}

/* elapsed is within [min_ms, max_ms + slack]. */
static void check_elapsed(uint64_t elapsed, unsigned min_ms, unsigned max_ms, int line)
{
    if ((elapsed < min_ms) || (elapsed > (uint64_t)max_ms + TEST_SLACK_MS)) {
        check(0, line, "elapsed time out of bounds");
        fprintf(stderr, "        elapsed %llu ms, expected %u..%u ms\n",
                (unsigned long long)elapsed, min_ms, max_ms + TEST_SLACK_MS);
    }
}

#define CHECK_ELAPSED(_elapsed, _min_ms, _max_ms) \
    check_elapsed((_elapsed), (_min_ms), (_max_ms), __LINE__)

static void sleep_ms(unsigned ms)
{
    uint64_t until = ucpg_test_now_ms() + ms;
    struct timespec ts;
    uint64_t now;

    /* Loop because a signal handler (the EINTR test) cuts nanosleep short. */
    while ((now = ucpg_test_now_ms()) < until) {
        ts.tv_sec  = (time_t)((until - now) / 1000u);
        ts.tv_nsec = (long)((until - now) % 1000u) * 1000000L;
        nanosleep(&ts, NULL);
    }
}

/* Whether pid has terminated: gone, or a zombie (a reaper that is not ours,
 * e.g. a container's init, may be slow or absent). Waits up to timeout_ms. */
static int pid_gone_within(pid_t pid, unsigned timeout_ms)
{
    uint64_t until = ucpg_test_now_ms() + timeout_ms;
    char     path[64], buf[512], *paren;
    FILE    *file;
    size_t   n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    for (;;) {
        file = fopen(path, "r");
        if (file == NULL) {
            return 1;
        }
        n = fread(buf, 1, sizeof(buf) - 1, file);
        fclose(file);
        buf[n] = '\0';
        paren  = strrchr(buf, ')');
        if ((paren == NULL) || (paren[1] == '\0') || (paren[2] == 'Z') ||
            (paren[2] == 'X')) {
            return 1;
        }
        if (ucpg_test_now_ms() >= until) {
            return 0;
        }
        sleep_ms(5);
    }
}

/* Status of our child pid if it terminated, without reaping it; -1 if it is
 * still running. */
static int peek_exit(pid_t pid, siginfo_t *info)
{
    memset(info, 0, sizeof(*info));
    if (waitid(P_PID, (id_t)pid, info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        return -1;
    }
    return (info->si_pid == pid) ? 0 : -1;
}

/* Expect a line from rank and compare it in full. */
static void expect_line_eq(ucpg_harness_t *h, int rank, const char *prefix,
                           const char *expected, int line)
{
    char buf[256];

    if (ucpg_harness_expect(h, rank, prefix, buf, sizeof(buf), 5000) != 0) {
        check(0, line, "expect_line_eq: no matching line");
        return;
    }
    if (strcmp(buf, expected) != 0) {
        check(0, line, "expect_line_eq: wrong line");
        fprintf(stderr, "        got      \"%s\"\n        expected \"%s\"\n", buf,
                expected);
    }
}

#define EXPECT_LINE_EQ(_h, _rank, _prefix, _expected) \
    expect_line_eq((_h), (_rank), (_prefix), (_expected), __LINE__)


/* ----------------------------------------------------------------------------
 * Capturing our own stderr, to check what the harness reports
 * ------------------------------------------------------------------------- */

typedef struct {
    int   saved_fd;
    FILE *file;
} capture_t;

static void capture_begin(capture_t *cap)
{
    fflush(stderr);
    cap->file     = tmpfile();
    cap->saved_fd = dup(STDERR_FILENO);
    dup2(fileno(cap->file), STDERR_FILENO);
}

/* Restore stderr, echo what was captured (indented), return it (malloc'd). */
static char *capture_end(capture_t *cap)
{
    char *text;
    long  size;

    fflush(stderr);
    dup2(cap->saved_fd, STDERR_FILENO);
    close(cap->saved_fd);

    fseek(cap->file, 0, SEEK_END);
    size = ftell(cap->file);
    rewind(cap->file);
    text = calloc(1, (size_t)size + 1);
    if ((text != NULL) && (fread(text, 1, (size_t)size, cap->file) != (size_t)size)) {
        text[0] = '\0';
    }
    fclose(cap->file);

    fprintf(stderr, "    (expected diagnostics, captured:)\n%s", text ? text : "");
    return text;
}


/* ----------------------------------------------------------------------------
 * Bodies of fork-mode children
 * ------------------------------------------------------------------------- */

/* Introduce itself with everything it got, then acknowledge a "GO" line. */
static int child_hello(int rank, int nprocs, void *arg)
{
    const char *domain = getenv(UCPG_TEST_ENV_DOMAIN);
    const char *extra  = getenv("SELFTEST_EXTRA");
    char        line[128];

    ucpg_test_say("HELLO rank=%d nprocs=%d env_rank=%d env_nprocs=%d domain=%s "
                  "extra=%s arg=%s", rank, nprocs, ucpg_test_rank(), ucpg_test_nprocs(),
                  domain ? domain : "(unset)", extra ? extra : "(unset)",
                  arg ? (const char *)arg : "(null)");
    if (ucpg_test_wait_line("GO", line, sizeof(line), 5000) != 0) {
        return 10;
    }
    ucpg_test_say("ACK %d %s", rank, line);
    return 0;
}

/* Announce itself, then block until killed. */
static int child_hang(int rank, int nprocs, void *arg)
{
    (void)rank, (void)nprocs, (void)arg;
    ucpg_test_say("HANGING");
    for (;;) {
        pause();
    }
    return 0;
}

/* A genuine invalid memory access, not raise(): what a real bug does. The
 * address comes through a volatile so the compiler cannot see it coming. */
static int child_crash(int rank, int nprocs, void *arg)
{
    volatile uintptr_t address = 8;

    (void)rank, (void)nprocs, (void)arg;
    ucpg_test_say("CRASHING");
    *(volatile int *)address = 1;
    return 0;
}

/* Exit with the status given as arg, after saying so. */
static int child_exit_with(int rank, int nprocs, void *arg)
{
    (void)nprocs;
    ucpg_test_say("EXITING rank=%d", rank);
    return *(const int *)arg;
}

/* Mix noise and useful lines, and end with a line without newline. */
static int child_noise(int rank, int nprocs, void *arg)
{
    (void)rank, (void)nprocs, (void)arg;
    ucpg_test_say("noise 1");
    ucpg_test_say("noise 2");
    ucpg_test_say("READY x");
    ucpg_test_say("noise 3");
    printf("partial");
    return 0;
}

/* More output than a pipe holds, before anybody reads it. */
#define CHATTY_LINES 5000

static int child_chatty(int rank, int nprocs, void *arg)
{
    int i;

    (void)rank, (void)nprocs, (void)arg;
    for (i = 0; i < CHATTY_LINES; ++i) {
        printf("line %05d %s\n", i,
               "................................................................"
               "..........................");
    }
    return 0;
}

/* Start reading late (the parent's sends must wait for room), count lines. */
static int child_count_lines(int rank, int nprocs, void *arg)
{
    char line[256];
    int  count = 0;

    (void)rank, (void)nprocs, (void)arg;
    sleep_ms(200);
    while (ucpg_test_hear(line, sizeof(line), 5000) == 0) {
        if (!strcmp(line, "END")) {
            ucpg_test_say("COUNT %d", count);
            return 0;
        }
        ++count;
    }
    return 1;
}

/* Child-side hear/wait_for semantics: timeout, skipping, truncation, EOF. */
static int child_hear_checks(int rank, int nprocs, void *arg)
{
    uint64_t start;
    char     line[64], small[5];
    int      ret;

    (void)rank, (void)nprocs, (void)arg;

    start = ucpg_test_now_ms();
    ret   = ucpg_test_hear(line, sizeof(line), 150);
    ucpg_test_say("T_TIMEOUT ret=%d elapsed=%llu", ret,
                  (unsigned long long)(ucpg_test_now_ms() - start));

    ucpg_test_say("SEND_NOISE");
    ret = ucpg_test_wait_line("GO", line, sizeof(line), 5000);
    ucpg_test_say("T_WAIT_LINE ret=%d line=%s", ret, line);
    ret = ucpg_test_wait_for("SECOND", 5000);
    ucpg_test_say("T_WAIT_FOR ret=%d", ret);
    ret = ucpg_test_hear(small, sizeof(small), 5000);
    ucpg_test_say("T_TRUNC ret=%d line=%s", ret, small);
    ret = ucpg_test_hear(line, sizeof(line), 5000);
    ucpg_test_say("T_NEXT ret=%d line=%s", ret, line);

    ucpg_test_say("CLOSE_NOW");
    start = ucpg_test_now_ms();
    ret   = ucpg_test_hear(line, sizeof(line), 5000);
    ucpg_test_say("T_EOF ret=%d elapsed=%llu", ret,
                  (unsigned long long)(ucpg_test_now_ms() - start));
    return 0;
}

/* Exit 0 on EOF on stdin, 1 if no EOF came (someone else holds the pipe). */
static int child_wait_eof(int rank, int nprocs, void *arg)
{
    char     line[64];
    uint64_t start;

    (void)rank, (void)nprocs, (void)arg;
    ucpg_test_say("WAITING");
    start = ucpg_test_now_ms();
    while (ucpg_test_hear(line, sizeof(line), 4000) == 0) {
    }
    return (ucpg_test_now_ms() - start < 3000) ? 0 : 1;
}

/* Report the signal state inherited from the parent, then wait to be killed. */
static int child_signal_state(int rank, int nprocs, void *arg)
{
    struct sigaction term, usr1;
    sigset_t         blocked;

    (void)rank, (void)nprocs, (void)arg;
    sigaction(SIGTERM, NULL, &term);
    sigaction(SIGUSR1, NULL, &usr1);
    sigprocmask(SIG_BLOCK, NULL, &blocked);
    ucpg_test_say("SIGNALS term_default=%d usr1_default=%d usr2_blocked=%d",
                  term.sa_handler == SIG_DFL, usr1.sa_handler == SIG_DFL,
                  sigismember(&blocked, SIGUSR2));
    ucpg_test_wait_for("never", 10000);
    return 0;
}

/* Say something after a while. */
static int child_late(int rank, int nprocs, void *arg)
{
    (void)rank, (void)nprocs, (void)arg;
    sleep_ms(100);
    ucpg_test_say("LATE");
    return (ucpg_test_wait_for("BYE", 5000) == 0) ? 0 : 1;
}

/* Exit at once without reading stdin. */
static int child_exit_now(int rank, int nprocs, void *arg)
{
    (void)rank, (void)nprocs, (void)arg;
    return 0;
}


/* ----------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------- */

static void test_domain_is_unique_and_named_after_pid(void)
{
    ucpg_harness_t *h1 = ucpg_harness_create(TEST_DEADLINE_MS);
    ucpg_harness_t *h2 = ucpg_harness_create(TEST_DEADLINE_MS);
    long            pid;
    unsigned        counter;
    char            tail;

    CHECK((h1 != NULL) && (h2 != NULL));
    CHECK(strcmp(ucpg_harness_domain(h1), ucpg_harness_domain(h2)) != 0);
    CHECK(sscanf(ucpg_harness_domain(h1), "t%ld_%u%c", &pid, &counter, &tail) == 2);
    CHECK(pid == (long)getpid());
    CHECK(ucpg_harness_nprocs(h1) == 0);

    ucpg_harness_setenv(h2, UCPG_TEST_ENV_DOMAIN, "explicit_domain");
    CHECK(!strcmp(ucpg_harness_domain(h2), "explicit_domain"));

    ucpg_harness_destroy(h1);
    ucpg_harness_destroy(h2);
    ucpg_harness_destroy(NULL);
}

static void test_fork_children_get_rank_env_and_talk(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    char            expected[256], go[64];
    int             rank;

    ucpg_harness_setenv(h, "SELFTEST_EXTRA", "first");
    ucpg_harness_setenv(h, "SELFTEST_EXTRA", "second");  /* replaces */
    /* Output pending in the parent's stdio buffer must not reappear at the
     * start of the children's first lines (checked by EXPECT_LINE_EQ below). */
    printf("selftest: stdout is flushed before fork... ");
    CHECK(ucpg_harness_fork(h, 3, child_hello, "payload") == 0);
    printf("yes\n");
    CHECK(ucpg_harness_nprocs(h) == 3);

    for (rank = 0; rank < 3; ++rank) {
        CHECK(ucpg_harness_pid(h, rank) > 0);
        snprintf(expected, sizeof(expected), "HELLO rank=%d nprocs=3 env_rank=%d "
                 "env_nprocs=3 domain=%s extra=second arg=payload", rank, rank,
                 ucpg_harness_domain(h));
        EXPECT_LINE_EQ(h, rank, "HELLO", expected);
    }
    CHECK(ucpg_harness_pid(h, 3) == -1);
    CHECK(ucpg_harness_pid(h, -1) == -1);

    CHECK(ucpg_harness_send_all(h, "GO all %d", 42) == 0);
    for (rank = 0; rank < 3; ++rank) {
        snprintf(expected, sizeof(expected), "ACK %d GO all 42", rank);
        EXPECT_LINE_EQ(h, rank, "ACK", expected);
    }

    CHECK(ucpg_harness_wait(h, 5000) == 0);
    CHECK(ucpg_harness_nlines(h, 1) == 2);
    snprintf(go, sizeof(go), "ACK 1 GO all 42");
    CHECK((ucpg_harness_line(h, 1, 1) != NULL) &&
          !strcmp(ucpg_harness_line(h, 1, 1), go));
    CHECK(ucpg_harness_line(h, 1, 2) == NULL);
    CHECK(ucpg_harness_line(h, 7, 0) == NULL);
    ucpg_harness_destroy(h);
}

static void test_ranks_are_numbered_across_calls(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    char            expected[256];

    CHECK(ucpg_harness_fork(h, 2, child_hello, NULL) == 0);
    CHECK(ucpg_harness_fork(h, 1, child_hello, NULL) == 2);
    CHECK(ucpg_harness_nprocs(h) == 3);

    /* nprocs is the total after each call. */
    snprintf(expected, sizeof(expected), "HELLO rank=1 nprocs=2 env_rank=1 env_nprocs=2 "
             "domain=%s extra=(unset) arg=(null)", ucpg_harness_domain(h));
    EXPECT_LINE_EQ(h, 1, "HELLO", expected);
    snprintf(expected, sizeof(expected), "HELLO rank=2 nprocs=3 env_rank=2 env_nprocs=3 "
             "domain=%s extra=(unset) arg=(null)", ucpg_harness_domain(h));
    EXPECT_LINE_EQ(h, 2, "HELLO", expected);

    CHECK(ucpg_harness_expect(h, 0, "HELLO", NULL, 0, 5000) == 0);
    CHECK(ucpg_harness_send_all(h, "GO") == 0);
    CHECK(ucpg_harness_expect_all(h, "ACK", 5000) == 0);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    ucpg_harness_destroy(h);
}

static void test_expect_skips_and_logs_nonmatching_lines(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t       cap;
    uint64_t        start;
    char            buf[64], *text;

    CHECK(ucpg_harness_fork(h, 1, child_noise, NULL) == 0);
    CHECK(ucpg_harness_expect(h, 0, "READY", buf, sizeof(buf), 5000) == 0);
    CHECK(!strcmp(buf, "READY x"));
    CHECK(ucpg_harness_nlines(h, 0) >= 3);
    CHECK((ucpg_harness_line(h, 0, 0) != NULL) &&
          !strcmp(ucpg_harness_line(h, 0, 0), "noise 1"));

    /* A last line without newline counts; the copy is truncated to fit. */
    CHECK(ucpg_harness_expect(h, 0, "partial", buf, 4, 5000) == 0);
    CHECK(!strcmp(buf, "par"));

    /* After EOF an expect fails at once instead of waiting out its timeout, and
     * says why, listing what it skipped. */
    capture_begin(&cap);
    start = ucpg_test_now_ms();
    CHECK(ucpg_harness_expect(h, 0, "MORE", NULL, 0, 5000) == -1);
    CHECK_ELAPSED(ucpg_test_now_ms() - start, 0, 0);
    CHECK(ucpg_harness_expect(h, 5, "MORE", NULL, 0, 5000) == -1);
    ucpg_harness_dump(h);
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "EOF") != NULL));
    CHECK((text != NULL) && (strstr(text, "no rank 5") != NULL));
    /* dump lists every line, consumed or not */
    CHECK((text != NULL) && (strstr(text, "noise 2") != NULL) &&
          (strstr(text, "noise 3") != NULL));
    free(text);

    CHECK(ucpg_harness_wait(h, 5000) == 0);
    ucpg_harness_destroy(h);
}

static void test_expect_times_out_on_a_silent_child(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t       cap;
    uint64_t        start;
    char           *text;

    CHECK(ucpg_harness_fork(h, 1, child_hang, NULL) == 0);
    CHECK(ucpg_harness_expect(h, 0, "HANGING", NULL, 0, 5000) == 0);

    capture_begin(&cap);
    start = ucpg_test_now_ms();
    CHECK(ucpg_harness_expect(h, 0, "NEVER", NULL, 0, 150) == -1);
    CHECK_ELAPSED(ucpg_test_now_ms() - start, 150, 150);
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "timeout") != NULL));
    free(text);

    /* A rank SIGKILLed through the harness is expected to die of it. */
    CHECK(ucpg_harness_kill(h, 0, SIGKILL) == 0);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    capture_begin(&cap);
    CHECK(ucpg_harness_kill(h, 0, SIGKILL) == -1);    /* already reaped */
    free(capture_end(&cap));
    ucpg_harness_destroy(h);
}

static void test_wait_kills_a_hanging_child_within_its_timeout(void)
{
    static const int zero = 0;
    ucpg_harness_t  *h    = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t        cap;
    uint64_t         start;
    pid_t            pid;
    char            *text;

    CHECK(ucpg_harness_fork(h, 1, child_hang, NULL) == 0);
    CHECK(ucpg_harness_fork(h, 1, child_exit_with, (void *)&zero) == 1);
    CHECK(ucpg_harness_expect(h, 0, "HANGING", NULL, 0, 5000) == 0);
    pid = ucpg_harness_pid(h, 0);

    capture_begin(&cap);
    start = ucpg_test_now_ms();
    CHECK(ucpg_harness_wait(h, 200) == -1);
    CHECK_ELAPSED(ucpg_test_now_ms() - start, 200, 200);
    text = capture_end(&cap);
    /* Reaped already: the pid is no longer ours. */
    CHECK((kill(pid, 0) == -1) && (errno == ESRCH));
    CHECK((text != NULL) && (strstr(text, "rank 0 failed") != NULL) &&
          (strstr(text, "HANGING") != NULL) && (strstr(text, "signal 9") != NULL));
    CHECK((text != NULL) && (strstr(text, "rank 1 failed") == NULL));
    free(text);
    ucpg_harness_destroy(h);
}

static void test_crash_is_reported_as_signal(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t       cap;
    int             status = 0;
    char           *text;

    CHECK(ucpg_harness_fork(h, 1, child_crash, NULL) == 0);
    CHECK(ucpg_harness_wait_rank(h, 0, 5000, &status) == 0);
    CHECK_MSG(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV), "status 0x%x",
              (unsigned)status);

    /* wait() judges ranks reaped earlier by wait_rank() too. */
    capture_begin(&cap);
    CHECK(ucpg_harness_wait(h, 5000) == -1);
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "killed by signal 11") != NULL) &&
          (strstr(text, "CRASHING") != NULL));
    free(text);
    ucpg_harness_destroy(h);
}

static void test_nonzero_exit_is_a_failure(void)
{
    static const int three = 3, big = 256;
    ucpg_harness_t  *h     = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t        cap;
    int              status = 0;
    char            *text;

    CHECK(ucpg_harness_fork(h, 1, child_exit_with, (void *)&three) == 0);
    CHECK(ucpg_harness_fork(h, 1, child_exit_with, (void *)&big) == 1);
    CHECK(ucpg_harness_wait_rank(h, 0, 5000, &status) == 0);
    CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 3));
    /* 256 would read as success in 8 bits; the harness makes it 255. */
    CHECK(ucpg_harness_wait_rank(h, 1, 5000, &status) == 0);
    CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 255));

    capture_begin(&cap);
    CHECK(ucpg_harness_wait(h, 5000) == -1);
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "exited with status 3") != NULL) &&
          (strstr(text, "EXITING rank=0") != NULL));
    free(text);
    ucpg_harness_destroy(h);
}

static void test_exec_mode_runs_shell_scripts(void)
{
    static char *const argv[] = {
        "/bin/sh", "-c",
        "echo \"READY $UCPG_TEST_RANK $UCPG_TEST_NPROCS $UCX_CPG_DOMAIN $SELFTEST_EXTRA "
        "${SELFTEST_REMOVED-unset}\"; read line; echo \"GOT $line\"; exec cat",
        NULL
    };
    ucpg_harness_t *h;
    char            expected[256];
    int             rank;

    /* The test process's own domain must not leak into its children. */
    setenv(UCPG_TEST_ENV_DOMAIN, "domain_of_the_test_process", 1);
    setenv("SELFTEST_REMOVED", "present", 1);

    h = ucpg_harness_create(TEST_DEADLINE_MS);
    ucpg_harness_setenv(h, "SELFTEST_EXTRA", "exec_extra");
    ucpg_harness_setenv(h, "SELFTEST_REMOVED", NULL);
    CHECK(ucpg_harness_exec(h, 2, argv) == 0);
    CHECK(ucpg_harness_nprocs(h) == 2);

    for (rank = 0; rank < 2; ++rank) {
        snprintf(expected, sizeof(expected), "READY %d 2 %s exec_extra unset", rank,
                 ucpg_harness_domain(h));
        EXPECT_LINE_EQ(h, rank, "READY", expected);
        CHECK(ucpg_harness_send(h, rank, "hello %d", rank) == 0);
        snprintf(expected, sizeof(expected), "GOT hello %d", rank);
        EXPECT_LINE_EQ(h, rank, "GOT", expected);
    }

    /* cat echoes until stdin is closed, then exits 0. */
    CHECK(ucpg_harness_send_all(h, "echoed") == 0);
    CHECK(ucpg_harness_expect_all(h, "echoed", 5000) == 0);
    CHECK(ucpg_harness_close_stdin(h, 0) == 0);
    CHECK(ucpg_harness_close_stdin(h, 1) == 0);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    ucpg_harness_destroy(h);

    unsetenv(UCPG_TEST_ENV_DOMAIN);
    unsetenv("SELFTEST_REMOVED");
}

static void test_exec_failures_are_reported(void)
{
    static char *const missing[] = {"/nonexistent/program", NULL};
    static char *const exit3[]   = {"/bin/sh", "-c", "echo BAD; exit 3", NULL};
    ucpg_harness_t    *h         = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t          cap;
    int                status = 0;
    char              *text;

    capture_begin(&cap);   /* the failed exec prints why on the child's stderr */
    CHECK(ucpg_harness_exec(h, 1, missing) == 0);
    CHECK(ucpg_harness_wait_rank(h, 0, 5000, &status) == 0);
    CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == UCPG_HARNESS_EXIT_EXEC_FAILED));

    CHECK(ucpg_harness_exec(h, 1, exit3) == 1);
    CHECK(ucpg_harness_wait(h, 5000) == -1);
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "cannot execute") != NULL));
    CHECK((text != NULL) && (strstr(text, "exited with status 3") != NULL) &&
          (strstr(text, "BAD") != NULL));
    free(text);
    ucpg_harness_destroy(h);
}

static void test_exec_hanging_script_is_killed(void)
{
    static char *const argv[] = {"/bin/sh", "-c", "echo UP; exec sleep 30", NULL};
    ucpg_harness_t    *h      = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t          cap;
    uint64_t           start;
    pid_t              pid;

    CHECK(ucpg_harness_exec(h, 1, argv) == 0);
    CHECK(ucpg_harness_expect(h, 0, "UP", NULL, 0, 5000) == 0);
    pid = ucpg_harness_pid(h, 0);

    capture_begin(&cap);
    start = ucpg_test_now_ms();
    CHECK(ucpg_harness_wait(h, 200) == -1);
    CHECK_ELAPSED(ucpg_test_now_ms() - start, 200, 200);
    free(capture_end(&cap));
    CHECK((kill(pid, 0) == -1) && (errno == ESRCH));
    ucpg_harness_destroy(h);
}

static void test_sigkilled_rank_is_skipped_and_expected_dead(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t       cap;
    int             status = 0;

    CHECK(ucpg_harness_fork(h, 3, child_hello, NULL) == 0);
    CHECK(ucpg_harness_expect_all(h, "HELLO", 5000) == 0);
    CHECK(ucpg_harness_kill(h, 1, SIGKILL) == 0);

    /* The killed rank is neither sent to nor expected from. */
    CHECK(ucpg_harness_send_all(h, "GO") == 0);
    CHECK(ucpg_harness_expect_all(h, "ACK", 5000) == 0);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    CHECK(ucpg_harness_wait_rank(h, 1, 0, &status) == 0);
    CHECK(WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL));

    /* Writing to the dead rank fails cleanly, no SIGPIPE kills us. */
    capture_begin(&cap);
    CHECK(ucpg_harness_send(h, 1, "are you there") == -1);
    free(capture_end(&cap));
    ucpg_harness_destroy(h);
}

/* Counters in memory shared with the parent, one per spinning thread. */
typedef struct {
    volatile uint64_t count[2];
} spin_counters_t;

static void *spin_thread(void *arg)
{
    volatile uint64_t *count = arg;

    for (;;) {
        ++*count;
    }
    return NULL;
}

/* Two threads that never block: the main one and a second one. */
static int child_spin_two_threads(int rank, int nprocs, void *arg)
{
    spin_counters_t *c = arg;
    pthread_t        t;

    (void)rank;
    (void)nprocs;
    if (pthread_create(&t, NULL, spin_thread, (void *)&c->count[1]) != 0) {
        return 1;
    }
    ucpg_test_say("SPINNING");
    spin_thread((void *)&c->count[0]);
    return 0;
}

static int counters_move(spin_counters_t *c, unsigned ms)
{
    uint64_t before0 = c->count[0], before1 = c->count[1];

    sleep_ms(ms);
    return (c->count[0] != before0) && (c->count[1] != before1);
}

/* Once stop_pid returns, no thread of the process runs: neither counter
 * moves; after SIGCONT both do again. */
static void test_stop_pid_returns_once_every_thread_stopped(void)
{
    ucpg_harness_t  *h = ucpg_harness_create(TEST_DEADLINE_MS);
    spin_counters_t *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint64_t         stopped0, stopped1;
    capture_t        cap;
    int              round;

    CHECK(c != MAP_FAILED);
    CHECK(ucpg_harness_fork(h, 1, child_spin_two_threads, c) == 0);
    CHECK(ucpg_harness_expect(h, 0, "SPINNING", NULL, 0, 5000) == 0);
    for (round = 0; round < 3; ++round) {
        CHECK(counters_move(c, 20));
        CHECK(ucpg_harness_stop_pid(ucpg_harness_pid(h, 0), 2000) == 0);
        stopped0 = c->count[0];
        stopped1 = c->count[1];
        sleep_ms(50);
        CHECK((c->count[0] == stopped0) && (c->count[1] == stopped1));
        CHECK(kill(ucpg_harness_pid(h, 0), SIGCONT) == 0);
    }
    CHECK(counters_move(c, 20));
    CHECK(ucpg_harness_kill(h, 0, SIGKILL) == 0);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    capture_begin(&cap);
    CHECK(ucpg_harness_stop_pid(ucpg_harness_pid(h, 0), 100) == -1);   /* reaped */
    free(capture_end(&cap));
    munmap(c, sizeof(*c));
    ucpg_harness_destroy(h);
}

static void test_signal_state_is_reset_in_children(void)
{
    struct sigaction ignore, handler, old_term, old_usr1;
    sigset_t         usr2, old_mask;
    ucpg_harness_t  *h = ucpg_harness_create(TEST_DEADLINE_MS);
    int              status = 0;

    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &ignore, &old_term);
    memset(&handler, 0, sizeof(handler));
    handler.sa_handler = (void (*)(int))abort;   /* never called */
    sigaction(SIGUSR1, &handler, &old_usr1);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, &old_mask);

    CHECK(ucpg_harness_fork(h, 1, child_signal_state, NULL) == 0);

    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    EXPECT_LINE_EQ(h, 0, "SIGNALS",
                   "SIGNALS term_default=1 usr1_default=1 usr2_blocked=0");
    CHECK(ucpg_harness_kill(h, 0, SIGTERM) == 0);
    CHECK(ucpg_harness_wait_rank(h, 0, 5000, &status) == 0);
    CHECK(WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM));
    ucpg_harness_destroy(h);
}

static void test_send_to_exited_child_fails_cleanly(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t       cap;
    char           *text;

    CHECK(ucpg_harness_fork(h, 1, child_exit_now, NULL) == 0);
    CHECK(ucpg_harness_wait_rank(h, 0, 5000, NULL) == 0);

    capture_begin(&cap);
    CHECK(ucpg_harness_send(h, 0, "hello") == -1);
    CHECK(ucpg_harness_close_stdin(h, 0) == 0);
    CHECK(ucpg_harness_close_stdin(h, 0) == -1);
    CHECK(ucpg_harness_send(h, 0, "hello") == -1);
    CHECK(ucpg_harness_expect_all(h, "", 100) == -1);   /* nobody is live */
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "closed its stdin or died") != NULL));
    free(text);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    ucpg_harness_destroy(h);
}

static void test_large_output_does_not_block_children(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    const char     *last;

    CHECK(ucpg_harness_fork(h, 2, child_chatty, NULL) == 0);
    /* Nobody reads before wait(): wait() must read while it waits. */
    CHECK(ucpg_harness_wait(h, 10000) == 0);
    CHECK(ucpg_harness_nlines(h, 0) == CHATTY_LINES);
    CHECK(ucpg_harness_nlines(h, 1) == CHATTY_LINES);
    last = ucpg_harness_line(h, 1, CHATTY_LINES - 1);
    CHECK((last != NULL) && !strncmp(last, "line 04999 ...", 14));
    ucpg_harness_destroy(h);
}

static void test_large_input_waits_for_room_in_the_pipe(void)
{
    ucpg_harness_t *h = ucpg_harness_create(TEST_DEADLINE_MS);
    int             i, failed = 0;

    CHECK(ucpg_harness_fork(h, 1, child_count_lines, NULL) == 0);
    /* ~300 KB, several times a pipe, sent while the child does not read yet. */
    for (i = 0; i < 3000; ++i) {
        failed |= ucpg_harness_send(h, 0, "%04d %s", i,
                                    "..........................................."
                                    "..........................................") != 0;
    }
    CHECK(!failed);
    CHECK(ucpg_harness_send(h, 0, "END") == 0);
    EXPECT_LINE_EQ(h, 0, "COUNT", "COUNT 3000");
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    ucpg_harness_destroy(h);
}

static void test_child_side_hear_and_wait_for(void)
{
    ucpg_harness_t     *h = ucpg_harness_create(TEST_DEADLINE_MS);
    unsigned long long  elapsed = 0;
    char                buf[128];
    int                 ret = 0;

    CHECK(ucpg_harness_fork(h, 1, child_hear_checks, NULL) == 0);

    CHECK(ucpg_harness_expect(h, 0, "T_TIMEOUT", buf, sizeof(buf), 5000) == 0);
    CHECK(sscanf(buf, "T_TIMEOUT ret=%d elapsed=%llu", &ret, &elapsed) == 2);
    CHECK(ret == -1);
    CHECK_ELAPSED(elapsed, 150, 150);

    CHECK(ucpg_harness_expect(h, 0, "SEND_NOISE", NULL, 0, 5000) == 0);
    CHECK(ucpg_harness_send(h, 0, "noise") == 0);
    CHECK(ucpg_harness_send(h, 0, "GO %d", 7) == 0);
    CHECK(ucpg_harness_send(h, 0, "more noise") == 0);
    CHECK(ucpg_harness_send(h, 0, "SECOND") == 0);
    CHECK(ucpg_harness_send(h, 0, "abcdefghij") == 0);
    CHECK(ucpg_harness_send(h, 0, "next") == 0);
    EXPECT_LINE_EQ(h, 0, "T_WAIT_LINE", "T_WAIT_LINE ret=0 line=GO 7");
    EXPECT_LINE_EQ(h, 0, "T_WAIT_FOR", "T_WAIT_FOR ret=0");
    EXPECT_LINE_EQ(h, 0, "T_TRUNC", "T_TRUNC ret=0 line=abcd");
    EXPECT_LINE_EQ(h, 0, "T_NEXT", "T_NEXT ret=0 line=next");

    CHECK(ucpg_harness_expect(h, 0, "CLOSE_NOW", NULL, 0, 5000) == 0);
    CHECK(ucpg_harness_close_stdin(h, 0) == 0);
    CHECK(ucpg_harness_expect(h, 0, "T_EOF", buf, sizeof(buf), 5000) == 0);
    CHECK(sscanf(buf, "T_EOF ret=%d elapsed=%llu", &ret, &elapsed) == 2);
    CHECK(ret == -1);
    CHECK_ELAPSED(elapsed, 0, 0);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    ucpg_harness_destroy(h);
}

static void test_pipes_do_not_leak_between_children(void)
{
    ucpg_harness_t *h1 = ucpg_harness_create(TEST_DEADLINE_MS);
    ucpg_harness_t *h2 = ucpg_harness_create(TEST_DEADLINE_MS);
    int             status = -1;

    /* Rank 1 of h1 and rank 0 of h2 are forked after rank 0 of h1: if they kept
     * a copy of its stdin's write end, closing it would not give it EOF. */
    CHECK(ucpg_harness_fork(h1, 2, child_wait_eof, NULL) == 0);
    CHECK(ucpg_harness_fork(h2, 1, child_wait_eof, NULL) == 0);
    CHECK(ucpg_harness_expect_all(h1, "WAITING", 5000) == 0);
    CHECK(ucpg_harness_expect_all(h2, "WAITING", 5000) == 0);

    CHECK(ucpg_harness_close_stdin(h1, 0) == 0);
    CHECK(ucpg_harness_wait_rank(h1, 0, 5000, &status) == 0);
    CHECK_MSG(WIFEXITED(status) && (WEXITSTATUS(status) == 0), "status 0x%x",
              (unsigned)status);

    CHECK(ucpg_harness_close_stdin(h1, 1) == 0);
    CHECK(ucpg_harness_close_stdin(h2, 0) == 0);
    CHECK(ucpg_harness_wait(h1, 5000) == 0);
    CHECK(ucpg_harness_wait(h2, 5000) == 0);
    ucpg_harness_destroy(h1);
    ucpg_harness_destroy(h2);
}

static volatile sig_atomic_t test_alarms;

static void count_alarm(int sig)
{
    (void)sig;
    ++test_alarms;
}

static void test_waits_survive_eintr(void)
{
    struct itimerval every_2ms = {{0, 2000}, {0, 2000}}, off = {{0, 0}, {0, 0}};
    struct sigaction sa, old;
    ucpg_harness_t  *h;
    capture_t        cap;
    uint64_t         start;

    /* No SA_RESTART: every tick interrupts poll() and write() with EINTR. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = count_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    test_alarms = 0;
    setitimer(ITIMER_REAL, &every_2ms, NULL);

    h = ucpg_harness_create(TEST_DEADLINE_MS);
    CHECK(ucpg_harness_fork(h, 1, child_late, NULL) == 0);
    CHECK(ucpg_harness_expect(h, 0, "LATE", NULL, 0, 5000) == 0);
    capture_begin(&cap);
    start = ucpg_test_now_ms();
    CHECK(ucpg_harness_expect(h, 0, "NEVER", NULL, 0, 100) == -1);
    CHECK_ELAPSED(ucpg_test_now_ms() - start, 100, 100);
    free(capture_end(&cap));
    CHECK(ucpg_harness_send(h, 0, "BYE") == 0);
    CHECK(ucpg_harness_wait(h, 5000) == 0);
    ucpg_harness_destroy(h);

    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    CHECK_MSG(test_alarms > 10, "only %d alarms", (int)test_alarms);
}

static void test_deadline_kills_children_and_fails_every_wait(void)
{
    uint64_t        created = ucpg_test_now_ms();
    ucpg_harness_t *h       = ucpg_harness_create(300);
    capture_t       cap;
    siginfo_t       info;
    uint64_t        start;
    char           *text;
    int             ret;

    CHECK(ucpg_harness_fork(h, 2, child_hang, NULL) == 0);
    CHECK(ucpg_harness_expect_all(h, "HANGING", 5000) == 0);

    capture_begin(&cap);
    /* The deadline cuts a longer timeout short. */
    CHECK(ucpg_harness_expect(h, 0, "NEVER", NULL, 0, 10000) == -1);
    CHECK_ELAPSED(ucpg_test_now_ms() - created, 300, 300);

    /* Both children die of SIGKILL, though nobody waited for rank 1. */
    start = ucpg_test_now_ms();
    while (((ret = peek_exit(ucpg_harness_pid(h, 1), &info)) != 0) &&
           (ucpg_test_now_ms() - start < 2000)) {
        sleep_ms(5);
    }
    CHECK((ret == 0) && (info.si_code == CLD_KILLED) && (info.si_status == SIGKILL));

    /* From now on everything that waits fails at once. */
    start = ucpg_test_now_ms();
    CHECK(ucpg_harness_send(h, 1, "x") == -1);
    CHECK(ucpg_harness_expect_all(h, "", 5000) == -1);
    CHECK(ucpg_harness_wait_rank(h, 0, 5000, NULL) == -1);
    CHECK(ucpg_harness_fork(h, 1, child_hang, NULL) == -1);
    CHECK(ucpg_harness_wait(h, 5000) == -1);
    CHECK_ELAPSED(ucpg_test_now_ms() - start, 0, 0);
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "global deadline") != NULL));
    free(text);
    ucpg_harness_destroy(h);
}

static void test_watchdog_kills_children_while_the_test_is_busy(void)
{
    ucpg_harness_t *h = ucpg_harness_create(200);
    capture_t       cap;
    siginfo_t       info;
    pid_t           pid;
    char           *text;

    CHECK(ucpg_harness_fork(h, 1, child_hang, NULL) == 0);
    pid = ucpg_harness_pid(h, 0);

    /* The test is "stuck" elsewhere and does not call the harness. */
    capture_begin(&cap);
    sleep_ms(500);
    CHECK((peek_exit(pid, &info) == 0) && (info.si_code == CLD_KILLED) &&
          (info.si_status == SIGKILL));
    CHECK(ucpg_harness_wait(h, 5000) == -1);
    text = capture_end(&cap);
    CHECK((text != NULL) && (strstr(text, "global deadline of 200 ms expired") != NULL));
    free(text);
    ucpg_harness_destroy(h);
}

/* Harness of a sub-process that never destroys it; global so that it stays
 * reachable for leak checkers when the sub-process exits. */
static ucpg_harness_t *sub_harness;

/* Run body in a sub-process that reports one pid through a pipe; returns the
 * sub-process's pid and the reported pid, or -1. */
static pid_t run_sub(void (*body)(int fd), pid_t *reported_p)
{
    struct pollfd pfd;
    pid_t         sub;
    int           fds[2];

    if (pipe(fds) != 0) {
        return -1;
    }
    fflush(NULL);
    sub = fork();
    if (sub == 0) {
        close(fds[0]);
        body(fds[1]);
        _exit(0);
    }
    close(fds[1]);

    *reported_p = -1;
    pfd.fd      = fds[0];
    pfd.events  = POLLIN;
    if ((sub > 0) && (poll(&pfd, 1, 5000) == 1) &&
        (read(fds[0], reported_p, sizeof(*reported_p)) != sizeof(*reported_p))) {
        *reported_p = -1;
    }
    close(fds[0]);
    return sub;
}

/* waitpid() on a plain child of ours, bounded; kills it on timeout. */
static int wait_sub(pid_t sub, unsigned timeout_ms, int *status_p)
{
    uint64_t until = ucpg_test_now_ms() + timeout_ms;

    while (waitpid(sub, status_p, WNOHANG) == 0) {
        if (ucpg_test_now_ms() >= until) {
            kill(sub, SIGKILL);
            waitpid(sub, status_p, 0);
            return -1;
        }
        sleep_ms(5);
    }
    return 0;
}

static void sub_hung_test(int fd)
{
    struct rlimit no_core = {0, 0};
    pid_t         pid;

    setrlimit(RLIMIT_CORE, &no_core);
    sub_harness = ucpg_harness_create(150);
    ucpg_harness_set_abort_grace(sub_harness, 200);
    ucpg_harness_fork(sub_harness, 1, child_hang, NULL);
    ucpg_harness_expect(sub_harness, 0, "HANGING", NULL, 0, 5000);
    pid = ucpg_harness_pid(sub_harness, 0);
    if (write(fd, &pid, sizeof(pid)) != sizeof(pid)) {
        _exit(2);
    }
    /* Hung: never returns to the harness. */
    sleep_ms(5000);
}

static void test_watchdog_aborts_a_hung_test_process(void)
{
    capture_t cap;
    uint64_t  start = ucpg_test_now_ms();
    pid_t     sub, child;
    int       status = 0;
    char     *text;

    capture_begin(&cap);
    sub = run_sub(sub_hung_test, &child);
    CHECK((sub > 0) && (child > 0));
    CHECK(wait_sub(sub, 5000, &status) == 0);
    text = capture_end(&cap);
    CHECK_MSG(WIFSIGNALED(status) && (WTERMSIG(status) == SIGABRT), "status 0x%x",
              (unsigned)status);
    CHECK_ELAPSED(ucpg_test_now_ms() - start, 350, 350);
    CHECK((child > 0) && pid_gone_within(child, 2000));
    if (child > 0) {
        kill(child, SIGKILL);   /* whatever happened, nothing may outlive us */
    }
    CHECK((text != NULL) && (strstr(text, "aborting") != NULL));
    free(text);
}

static void sub_dies_without_cleanup(int fd)
{
    pid_t pid;

    sub_harness = ucpg_harness_create(TEST_DEADLINE_MS);
    ucpg_harness_fork(sub_harness, 1, child_hang, NULL);
    /* Once it has spoken, the child has armed PR_SET_PDEATHSIG. */
    ucpg_harness_expect(sub_harness, 0, "HANGING", NULL, 0, 5000);
    pid = ucpg_harness_pid(sub_harness, 0);
    if (write(fd, &pid, sizeof(pid)) != sizeof(pid)) {
        _exit(2);
    }
    /* A test killed from outside (CI timeout, OOM killer): no destroy, no
     * wait, no atexit handlers. */
    kill(getpid(), SIGKILL);
}

static void test_children_die_with_the_test_process(void)
{
    pid_t sub, child;
    int   status = 0;

    sub = run_sub(sub_dies_without_cleanup, &child);
    CHECK((sub > 0) && (child > 0));
    CHECK(wait_sub(sub, 5000, &status) == 0);
    CHECK(WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL));
    CHECK((child > 0) && pid_gone_within(child, 2000));
    if (child > 0) {
        kill(child, SIGKILL);   /* whatever happened, nothing may outlive us */
    }
}

static void test_child_env_helpers(void)
{
    char *saved_rank   = getenv(UCPG_TEST_ENV_RANK);
    char *saved_nprocs = getenv(UCPG_TEST_ENV_NPROCS);
    uint64_t t1, t2;

    saved_rank   = saved_rank ? strdup(saved_rank) : NULL;
    saved_nprocs = saved_nprocs ? strdup(saved_nprocs) : NULL;

    setenv(UCPG_TEST_ENV_RANK, "7", 1);
    setenv(UCPG_TEST_ENV_NPROCS, "12", 1);
    CHECK(ucpg_test_rank() == 7);
    CHECK(ucpg_test_nprocs() == 12);
    setenv(UCPG_TEST_ENV_RANK, "7x", 1);
    CHECK(ucpg_test_rank() == -1);
    unsetenv(UCPG_TEST_ENV_RANK);
    unsetenv(UCPG_TEST_ENV_NPROCS);
    CHECK(ucpg_test_rank() == -1);
    CHECK(ucpg_test_nprocs() == -1);

    if (saved_rank != NULL) {
        setenv(UCPG_TEST_ENV_RANK, saved_rank, 1);
    }
    if (saved_nprocs != NULL) {
        setenv(UCPG_TEST_ENV_NPROCS, saved_nprocs, 1);
    }
    free(saved_rank);
    free(saved_nprocs);

    t1 = ucpg_test_now_ms();
    sleep_ms(20);
    t2 = ucpg_test_now_ms();
    CHECK((t2 >= t1 + 20) && (t2 < t1 + 20 + TEST_SLACK_MS));
}

static void test_invalid_arguments_are_rejected(void)
{
    static char *const empty[] = {NULL};
    ucpg_harness_t    *h       = ucpg_harness_create(TEST_DEADLINE_MS);
    capture_t          cap;

    capture_begin(&cap);
    CHECK(ucpg_harness_fork(h, 0, child_exit_now, NULL) == -1);
    CHECK(ucpg_harness_fork(h, -2, child_exit_now, NULL) == -1);
    CHECK(ucpg_harness_fork(h, 1, NULL, NULL) == -1);
    CHECK(ucpg_harness_exec(h, 1, NULL) == -1);
    CHECK(ucpg_harness_exec(h, 1, empty) == -1);
    CHECK(ucpg_harness_fork(NULL, 1, child_exit_now, NULL) == -1);
    CHECK(ucpg_harness_nprocs(h) == 0);
    CHECK(ucpg_harness_expect(h, 0, "x", NULL, 0, 10) == -1);
    CHECK(ucpg_harness_expect(NULL, 0, "x", NULL, 0, 10) == -1);
    CHECK(ucpg_harness_expect_all(h, "x", 10) == -1);
    CHECK(ucpg_harness_send(h, 0, "x") == -1);
    CHECK(ucpg_harness_send_all(h, "x") == 0);   /* nobody to send to */
    CHECK(ucpg_harness_close_stdin(h, 0) == -1);
    CHECK(ucpg_harness_kill(h, 0, SIGKILL) == -1);
    CHECK(ucpg_harness_wait_rank(h, 0, 10, NULL) == -1);
    CHECK(ucpg_harness_nlines(h, 0) == 0);
    ucpg_harness_setenv(h, "A=B", "x");
    ucpg_harness_setenv(h, UCPG_TEST_ENV_RANK, "5");
    ucpg_harness_setenv(h, NULL, "x");
    free(capture_end(&cap));
    CHECK(ucpg_harness_wait(h, 100) == 0);   /* no children: nothing failed */
    ucpg_harness_destroy(h);
}


/* ----------------------------------------------------------------------------
 * Runner
 * ------------------------------------------------------------------------- */

#define TEST(_func) {#_func, _func}

static const struct {
    const char *name;
    void      (*func)(void);
} tests[] = {
    TEST(test_domain_is_unique_and_named_after_pid),
    TEST(test_fork_children_get_rank_env_and_talk),
    TEST(test_ranks_are_numbered_across_calls),
    TEST(test_expect_skips_and_logs_nonmatching_lines),
    TEST(test_expect_times_out_on_a_silent_child),
    TEST(test_wait_kills_a_hanging_child_within_its_timeout),
    TEST(test_crash_is_reported_as_signal),
    TEST(test_nonzero_exit_is_a_failure),
    TEST(test_exec_mode_runs_shell_scripts),
    TEST(test_exec_failures_are_reported),
    TEST(test_exec_hanging_script_is_killed),
    TEST(test_sigkilled_rank_is_skipped_and_expected_dead),
    TEST(test_stop_pid_returns_once_every_thread_stopped),
    TEST(test_signal_state_is_reset_in_children),
    TEST(test_send_to_exited_child_fails_cleanly),
    TEST(test_large_output_does_not_block_children),
    TEST(test_large_input_waits_for_room_in_the_pipe),
    TEST(test_child_side_hear_and_wait_for),
    TEST(test_pipes_do_not_leak_between_children),
    TEST(test_waits_survive_eintr),
    TEST(test_deadline_kills_children_and_fails_every_wait),
    TEST(test_watchdog_kills_children_while_the_test_is_busy),
    TEST(test_watchdog_aborts_a_hung_test_process),
    TEST(test_children_die_with_the_test_process),
    TEST(test_child_env_helpers),
    TEST(test_invalid_arguments_are_rejected),
};

int main(void)
{
    uint64_t start_all = ucpg_test_now_ms(), start;
    size_t   i, nfailed = 0;
    int      before;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); ++i) {
        test_current = tests[i].name;
        before       = test_failures;
        start        = ucpg_test_now_ms();
        tests[i].func();
        if (test_failures != before) {
            ++nfailed;
        }
        fprintf(stderr, "%s %s (%llu ms)\n",
                (test_failures == before) ? "[ OK ]" : "[FAIL]", tests[i].name,
                (unsigned long long)(ucpg_test_now_ms() - start));
    }

    fprintf(stderr, "%zu of %zu tests failed, %d failed checks, %llu ms\n", nfailed,
            sizeof(tests) / sizeof(tests[0]), test_failures,
            (unsigned long long)(ucpg_test_now_ms() - start_all));
    return (test_failures == 0) ? 0 : 1;
}
