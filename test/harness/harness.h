/*
 * harness.h - multi-process test harness for ucx_cpg integration tests.
 *
 * A test (the "parent") starts N real processes (the "ranks"), either by fork()
 * running a function, or by fork()+exec of an independent program. It talks to
 * them line by line - it writes to each rank's stdin and reads each rank's
 * stdout - kills some of them, and finally collects their exit statuses.
 *
 * Everything is bounded in time so that no test can hang CI:
 *  - every waiting call has its own timeout, and all of them are also bounded by
 *    the harness-wide deadline given to ucpg_harness_create();
 *  - when the deadline passes, an internal watchdog thread SIGKILLs every child
 *    even if the test is stuck elsewhere, and every later waiting call fails;
 *  - if the test process is still running a while after the deadline without
 *    having destroyed the harness, the watchdog aborts it (see
 *    ucpg_harness_set_abort_grace());
 *  - every child has PR_SET_PDEATHSIG(SIGKILL), so children die with the test.
 *
 * The second half of the file holds helpers for the child side: rank and size
 * from the environment, saying a line, hearing a line with a timeout.
 *
 * Threads: a harness is driven by one thread of the test. The thread that
 * starts children must stay alive while they run, because the kernel delivers
 * PR_SET_PDEATHSIG when the *thread* that forked a child exits.
 *
 * Limitation: only the direct children are tracked. A grandchild (for example
 * a command that "/bin/sh -c" forks instead of exec'ing) survives the death of
 * its parent and keeps the stdout pipe open; scripts should "exec" their last,
 * long-running command.
 */
#ifndef UCPG_TEST_HARNESS_H
#define UCPG_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Deadline used when ucpg_harness_create() is given 0. */
#define UCPG_HARNESS_DEFAULT_DEADLINE_MS  60000u

/* How long after the deadline the watchdog waits for the harness to be
 * destroyed before it aborts the test process, unless changed. */
#define UCPG_HARNESS_DEFAULT_ABORT_GRACE_MS  10000u

/* Exit code of an exec-mode child whose execvp() failed (as in the shell). */
#define UCPG_HARNESS_EXIT_EXEC_FAILED  127

/* Exit code of a child whose setup between fork() and exec or fn failed
 * (the reason is printed on its stderr). */
#define UCPG_HARNESS_EXIT_SETUP_FAILED  125

/* Exit code of a child whose parent died before the child could arm
 * PR_SET_PDEATHSIG; such a child never runs the test code. */
#define UCPG_HARNESS_EXIT_ORPHAN  126

/* Longest line kept as one line; longer output is split into several lines. */
#define UCPG_HARNESS_LINE_MAX  65536

/* Environment variables set in every child. */
#define UCPG_TEST_ENV_RANK    "UCPG_TEST_RANK"
#define UCPG_TEST_ENV_NPROCS  "UCPG_TEST_NPROCS"
#define UCPG_TEST_ENV_DOMAIN  "UCX_CPG_DOMAIN"


typedef struct ucpg_harness ucpg_harness_t;

/* Body of a fork-mode child; its return value becomes the exit status. */
typedef int (*ucpg_harness_child_func_t)(int rank, int nprocs, void *arg);


/* ----------------------------------------------------------------------------
 * Parent side
 * ------------------------------------------------------------------------- */

/*
 * Create a harness. deadline_ms is the global deadline of the whole run,
 * counted from now (0 selects UCPG_HARNESS_DEFAULT_DEADLINE_MS); when it
 * passes, every child is SIGKILLed and every waiting call fails.
 *
 * Each harness gets a unique domain name "t<parentpid>_<counter>", exported to
 * children as UCX_CPG_DOMAIN (overriding the test process's own environment),
 * unless ucpg_harness_setenv() sets UCX_CPG_DOMAIN explicitly. Concurrent tests
 * therefore never share a domain.
 *
 * Returns NULL (after printing why) if the harness cannot be created.
 */
ucpg_harness_t *ucpg_harness_create(unsigned deadline_ms);

/* The domain children see in UCX_CPG_DOMAIN: the generated name, or the value
 * given to ucpg_harness_setenv(h, "UCX_CPG_DOMAIN", ...). Owned by h. */
const char *ucpg_harness_domain(ucpg_harness_t *h);

/* Set an environment variable for children started after this call. A later
 * call for the same name replaces the value; value == NULL removes the
 * variable from the children's environment. UCPG_TEST_RANK and
 * UCPG_TEST_NPROCS cannot be overridden. Invalid names are reported and
 * ignored. */
void ucpg_harness_setenv(ucpg_harness_t *h, const char *name, const char *value);

/* Change how long after the deadline the watchdog lets the test process live
 * before it prints a message and calls abort(). 0 disables the abort (the
 * children are still killed at the deadline). */
void ucpg_harness_set_abort_grace(ucpg_harness_t *h, unsigned grace_ms);

/*
 * Start n children by fork(); child rank r runs fn(r, nprocs, arg) and
 * _exit()s with its return value (stdio is flushed first; a value outside
 * 0..255 becomes 255, so that 256 cannot pass for success). Children's stdin is
 * a pipe from the parent, stdout a pipe to the parent (set line buffered;
 * ucpg_test_say() flushes anyway), stderr is inherited. Signal dispositions are
 * reset to the default and the signal mask is cleared, so that a crash is
 * reported as a signal even if the test installed handlers (e.g. a sanitizer's
 * SIGSEGV handler).
 *
 * Ranks are numbered consecutively across calls: a second call adds ranks.
 * nprocs - passed to fn and exported as UCPG_TEST_NPROCS - is the total number
 * of ranks after this call (first new rank + n), so that 0 <= rank < nprocs.
 * Each child also gets UCPG_TEST_RANK, UCX_CPG_DOMAIN and the setenv'd
 * variables.
 *
 * Returns the first new rank, or -1 (after printing why). If a fork fails
 * midway, the children of this call that were already started are killed and
 * are reported as failures by ucpg_harness_wait().
 */
int ucpg_harness_fork(ucpg_harness_t *h, int n, ucpg_harness_child_func_t fn, void *arg);

/* Start n children by fork()+execvp(argv[0], argv); same pipes, signals and
 * environment as ucpg_harness_fork(). If execvp() fails, the child prints why
 * and exits with UCPG_HARNESS_EXIT_EXEC_FAILED. */
int ucpg_harness_exec(ucpg_harness_t *h, int n, char *const argv[]);

/* Number of ranks started so far (including dead ones). */
int ucpg_harness_nprocs(ucpg_harness_t *h);

/* Pid of a rank (still returned after the rank was reaped), -1 if no such
 * rank. */
pid_t ucpg_harness_pid(ucpg_harness_t *h, int rank);

/*
 * Wait, bounded by timeout_ms and the deadline, until rank's stdout yields a
 * line starting with prefix ("" or NULL match any line). The matching line is
 * consumed and copied without its newline into buf (truncated to len - 1
 * characters, always terminated) if buf != NULL and len > 0.
 *
 * Lines that do not match are consumed and skipped; they stay in the rank's
 * log (see ucpg_harness_dump() / ucpg_harness_line()). Lines that arrive while
 * the harness waits for something else are queued per rank and examined by the
 * next expect on that rank.
 *
 * Returns 0 on a match, -1 on timeout, end of output (EOF), expired deadline
 * or bad rank, after printing which along with the lines skipped by this call.
 */
int ucpg_harness_expect(ucpg_harness_t *h, int rank, const char *prefix, char *buf,
                        size_t len, unsigned timeout_ms);

/* ucpg_harness_expect() for every live rank (not killed through the harness,
 * not yet reaped), all within one timeout_ms. Ranks are all examined even after
 * one fails, to report every missing line. Returns 0 if every live rank
 * matched, -1 otherwise (also when there is no live rank). */
int ucpg_harness_expect_all(ucpg_harness_t *h, const char *prefix, unsigned timeout_ms);

/* Write one line to rank's stdin (a newline is appended). The write is bounded
 * by the deadline; a child that is dead or closed its stdin makes it fail
 * (without SIGPIPE for the test). Returns 0 or -1. */
int ucpg_harness_send(ucpg_harness_t *h, int rank, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ucpg_harness_send() to every live rank whose stdin is open. Returns 0 if every
 * send succeeded, -1 otherwise (after trying all of them). */
int ucpg_harness_send_all(ucpg_harness_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Close rank's stdin, so the child reads EOF. Returns 0, or -1 if the rank does
 * not exist or its stdin is already closed. */
int ucpg_harness_close_stdin(ucpg_harness_t *h, int rank);

/* Send a signal to a rank not yet reaped. A rank sent SIGKILL is marked
 * "killed": ucpg_harness_wait() then requires it to have died of SIGKILL (so a
 * rank that had already exited by itself counts as a failure), and
 * expect_all/send_all skip it. Other signals mark nothing: a rank sent SIGTERM
 * must still exit 0 to pass. Returns 0, or -1 if the rank does not exist, was
 * already reaped, or kill() failed. */
int ucpg_harness_kill(ucpg_harness_t *h, int rank, int sig);

/* SIGSTOP pid and wait, bounded by timeout_ms, until every one of its threads
 * is stopped (state T in /proc/PID/task/TID/stat). kill() returns once the
 * stop is requested; a thread running on another CPU may run on for a while,
 * and a test that relies on "the stopped process does nothing more" must not
 * race it. Returns 0, or -1 if kill() failed or a thread still ran at expiry. */
int ucpg_harness_stop_pid(pid_t pid, unsigned timeout_ms);

/*
 * Holds one thread of a child process, the one named name (its comm, as
 * pthread_setname_np set it), in a ptrace stop while its other threads run
 * on: a starved thread, or one held by a debugger. Returns the thread's id
 * once it is stopped (bounded by timeout_ms), or -1 with errno: ESRCH no
 * such thread, EPERM ptrace is not allowed here, ETIMEDOUT it did not
 * stop. Release it with ucpg_harness_release_thread, from the same thread
 * (ptrace ties a tracee to the thread that seized it).
 */
pid_t ucpg_harness_hold_thread(pid_t pid, const char *name, unsigned timeout_ms);
int   ucpg_harness_release_thread(pid_t tid);

/*
 * Wait for all children, bounded by timeout_ms and the deadline, while still
 * collecting their output (so a chatty child cannot block on a full pipe). On
 * expiry the remaining children are SIGKILLed, reaped, and count as failures.
 *
 * Returns 0 iff every child exited with status 0, except ranks killed with
 * SIGKILL through ucpg_harness_kill(), which must have died of SIGKILL. Ranks
 * already reaped by ucpg_harness_wait_rank() are judged too. On failure prints
 * to stderr which rank failed and how, plus its captured stdout lines.
 */
int ucpg_harness_wait(ucpg_harness_t *h, unsigned timeout_ms);

/* Wait for one rank only, bounded by timeout_ms and the deadline. On success
 * returns 0 and stores the raw wait status (see waitpid(2)) in *status_p if
 * status_p != NULL; a rank reaped earlier returns its stored status at once.
 * On timeout returns -1 and leaves the rank running. */
int ucpg_harness_wait_rank(ucpg_harness_t *h, int rank, unsigned timeout_ms,
                           int *status_p);

/* Number of stdout lines captured so far for rank (consumed or not), and the
 * index-th of them (NULL if out of range). Lines are owned by h and stay valid
 * until ucpg_harness_destroy(). Only output already read is counted; the
 * harness reads while it waits in any call. */
size_t      ucpg_harness_nlines(ucpg_harness_t *h, int rank);
const char *ucpg_harness_line(ucpg_harness_t *h, int rank, size_t index);

/* Print every rank's state and captured lines to stderr. */
void ucpg_harness_dump(ucpg_harness_t *h);

/* SIGKILL every child still alive, reap them, stop the watchdog, free h.
 * NULL is ignored. */
void ucpg_harness_destroy(ucpg_harness_t *h);


/* ----------------------------------------------------------------------------
 * Child side
 *
 * These helpers read stdin with their own buffer: a child should use either
 * ucpg_test_hear()/ucpg_test_wait_for() or stdio on stdin, not both. They keep
 * static state and are meant to be called from one thread.
 * ------------------------------------------------------------------------- */

/* Rank from UCPG_TEST_RANK, -1 if unset or invalid. */
int ucpg_test_rank(void);

/* Number of ranks from UCPG_TEST_NPROCS, -1 if unset or invalid. */
int ucpg_test_nprocs(void);

/* Print one line to stdout (newline appended) and flush it, atomically with
 * respect to other stdio users of this process. */
void ucpg_test_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read one line from stdin into buf (newline stripped, truncated to len - 1
 * characters, always terminated if len > 0), waiting at most timeout_ms; there
 * is deliberately no "forever". A last line without newline before EOF is
 * returned as a line. Returns 0, or -1 on EOF or timeout. */
int ucpg_test_hear(char *buf, size_t len, unsigned timeout_ms);

/* Wait until a line starting with prefix arrives on stdin, skipping other
 * lines, for at most timeout_ms in total. Returns 0 or -1 (EOF/timeout). */
int ucpg_test_wait_for(const char *prefix, unsigned timeout_ms);

/* ucpg_test_wait_for() that also copies the matching line into buf, like
 * ucpg_test_hear(). */
int ucpg_test_wait_line(const char *prefix, char *buf, size_t len,
                        unsigned timeout_ms);

/* Monotonic time in milliseconds (CLOCK_MONOTONIC), for measuring in tests. */
uint64_t ucpg_test_now_ms(void);

#endif
