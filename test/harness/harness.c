/*
 * harness.c - multi-process test harness: parent side and child side helpers.
 *
 * The story, top to bottom:
 *  1. process-wide bookkeeping of the parent-side pipe ends, so that a child
 *     started by fork() can close every one of them;
 *  2. the harness object, its deadline and the watchdog thread that enforces
 *     the deadline even when the test is stuck outside the harness;
 *  3. starting children (fork and exec modes share one code path);
 *  4. the "pump": one poll(2) over every child's stdout that splits the output
 *     into per-rank lines; every waiting call drives it, so children never
 *     block on a full pipe whatever the test is waiting for;
 *  5. the public calls built on top: expect, send, kill, wait, dump, destroy;
 *  6. the child side helpers.
 *
 * This is test code: allocation failures print a message and abort() instead
 * of being propagated, which keeps every caller simple.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How often a wait for process exit re-checks waitpid(). Exits are normally
 * noticed sooner, because a dying child closes its stdout and wakes poll(). */
#define UCPG_HARNESS_WAIT_SLICE_MS     5

/* Bound on reaping a child after SIGKILL; only a process stuck in the kernel
 * (uninterruptible sleep) takes longer, and then we give up on it. */
#define UCPG_HARNESS_REAP_TIMEOUT_MS   5000

/* Bound on the final draining of children's output after they exited; a
 * grandchild that inherited the pipe could otherwise keep us reading. */
#define UCPG_HARNESS_DRAIN_TIMEOUT_MS  100

/* At most this much is read from one child per poll round, so that one chatty
 * child cannot starve the others. */
#define UCPG_HARNESS_READ_BURST        (1024 * 1024)

/* Bits returned by ucpg_harness__pump(). */
#define UCPG_HARNESS_PUMP_WRITABLE     1   /* the fd to write became writable */
#define UCPG_HARNESS_PUMP_READ         2   /* some output or EOF was consumed */


/* ----------------------------------------------------------------------------
 * Small utilities
 * ------------------------------------------------------------------------- */

uint64_t ucpg_test_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *ucpg_harness__xrealloc(void *ptr, size_t size)
{
    void *new_ptr = realloc(ptr, size ? size : 1);

    if (new_ptr == NULL) {
        fprintf(stderr, "harness: out of memory (%zu bytes)\n", size);
        abort();
    }
    return new_ptr;
}

static char *ucpg_harness__xstrndup(const char *str, size_t len)
{
    char *copy = ucpg_harness__xrealloc(NULL, len + 1);

    memcpy(copy, str, len);
    copy[len] = '\0';
    return copy;
}

/* Copy a line into a caller's buffer, truncating, always terminating. */
static void ucpg_harness__copy_line(char *buf, size_t len, const char *line,
                                    size_t line_len)
{
    if ((buf == NULL) || (len == 0)) {
        return;
    }
    if (line_len > len - 1) {
        line_len = len - 1;
    }
    memcpy(buf, line, line_len);
    buf[line_len] = '\0';
}

/* Milliseconds from now until until_ms, clamped to what poll(2) accepts. */
static int ucpg_harness__poll_timeout(uint64_t until_ms)
{
    uint64_t now = ucpg_test_now_ms();

    if (until_ms <= now) {
        return 0;
    }
    return (until_ms - now > INT_MAX) ? INT_MAX : (int)(until_ms - now);
}

static uint64_t ucpg_harness__min(uint64_t a, uint64_t b)
{
    return (a < b) ? a : b;
}

/* Absolute time "timeout_ms from now"; 64 bits of milliseconds cannot wrap. */
static uint64_t ucpg_harness__after(unsigned timeout_ms)
{
    return ucpg_test_now_ms() + timeout_ms;
}


/* ----------------------------------------------------------------------------
 * Process-wide set of parent-side pipe ends
 *
 * All pipe fds are O_CLOEXEC, which is enough for exec. A fork-mode child,
 * however, keeps running the test's code without exec, so it must close the
 * parent-side ends explicitly - of every rank of every harness of the process:
 * a stray copy of a write end would hide EOF from a sibling's stdin, a stray
 * copy of a read end would hide EPIPE. Harnesses may live in several threads,
 * so the set is global and its lock is held across every fork() of the harness;
 * a pipe is thus never half-registered when a child is created.
 * ------------------------------------------------------------------------- */

static pthread_mutex_t ucpg_harness__fds_lock = PTHREAD_MUTEX_INITIALIZER;
static int            *ucpg_harness__fds;       /* guarded by ucpg_harness__fds_lock */
static size_t          ucpg_harness__nfds;
static size_t          ucpg_harness__fds_cap;

/* Domain counter; unique per process, the pid makes it unique per host. */
static unsigned        ucpg_harness__domain_counter;

static void ucpg_harness__fd_track_locked(int fd)
{
    if (ucpg_harness__nfds == ucpg_harness__fds_cap) {
        ucpg_harness__fds_cap = ucpg_harness__fds_cap ? 2 * ucpg_harness__fds_cap : 16;
        ucpg_harness__fds     = ucpg_harness__xrealloc(ucpg_harness__fds,
                                                       ucpg_harness__fds_cap *
                                                       sizeof(*ucpg_harness__fds));
    }
    ucpg_harness__fds[ucpg_harness__nfds++] = fd;
}

/* Forget and close a parent-side fd. The close happens under the lock so that
 * no fork() can observe the fd closed-but-listed or open-but-unlisted. */
static void ucpg_harness__fd_close(int fd)
{
    size_t i;

    if (fd < 0) {
        return;
    }

    pthread_mutex_lock(&ucpg_harness__fds_lock);
    for (i = 0; i < ucpg_harness__nfds; ++i) {
        if (ucpg_harness__fds[i] == fd) {
            ucpg_harness__fds[i] = ucpg_harness__fds[--ucpg_harness__nfds];
            break;
        }
    }
    /* Free the set when empty so that a test that destroyed all its harnesses
     * leaves nothing behind for leak checkers. */
    if (ucpg_harness__nfds == 0) {
        free(ucpg_harness__fds);
        ucpg_harness__fds     = NULL;
        ucpg_harness__fds_cap = 0;
    }
    close(fd);
    pthread_mutex_unlock(&ucpg_harness__fds_lock);
}

/* In a freshly forked child: close every parent-side fd and start with an
 * empty set and a usable lock, so that the child may create harnesses itself.
 * The lock is held by the forking thread of the parent, so the copy in the
 * child is locked and owned by nobody; re-initializing it is the only way. */
static void ucpg_harness__fd_close_all_in_child(void)
{
    size_t i;

    for (i = 0; i < ucpg_harness__nfds; ++i) {
        close(ucpg_harness__fds[i]);
    }
    free(ucpg_harness__fds);
    ucpg_harness__fds     = NULL;
    ucpg_harness__nfds    = 0;
    ucpg_harness__fds_cap = 0;
    ucpg_harness__fds_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
}


/* ----------------------------------------------------------------------------
 * The harness object
 * ------------------------------------------------------------------------- */

/* One environment variable given to ucpg_harness_setenv(). */
typedef struct ucpg_harness_env {
    char *name;
    char *value;                 /* NULL: remove it from the children's env */
} ucpg_harness_env_t;

/*
 * One child. The test thread owns everything here; the fields marked "lock"
 * are also read or written by the watchdog and change only under h->lock.
 */
typedef struct ucpg_harness_rank {
    pid_t       pid;             /* lock: the watchdog kills it unless reaped */
    int         reaped;          /* lock: status collected, pid no longer ours */
    int         status;          /* raw wait status, valid once reaped */
    int         status_lost;     /* reaped by someone else (waitpid(-1) in the test) */
    int         kill_requested;  /* test SIGKILLed it: death by SIGKILL expected */
    const char *harness_killed;  /* lock: why the harness itself killed it, or NULL */

    int         in_fd;           /* parent's write end of the child's stdin, or -1 */
    int         out_fd;          /* parent's read end of the child's stdout; -1 at EOF */

    char       *partial;         /* output after the last newline */
    size_t      partial_len;
    size_t      partial_cap;

    char      **lines;           /* every complete line, in order; the per-rank log */
    size_t      nlines;
    size_t      lines_cap;
    size_t      cursor;          /* first line not yet examined by expect */
} ucpg_harness_rank_t;

struct ucpg_harness {
    /*
     * Guards the rank array (it is reallocated when ranks are added), the
     * fields marked "lock" above, expired, stop and abort_grace_ms. The test
     * thread is the only writer of everything else and reads without it.
     */
    pthread_mutex_t      lock;
    pthread_cond_t       cond;           /* wakes the watchdog: stop or new grace */
    pthread_t            watchdog;

    unsigned             deadline_len_ms; /* as given, for messages */
    uint64_t             deadline;        /* absolute, ucpg_test_now_ms() time */
    unsigned             abort_grace_ms;  /* 0: never abort the test process */
    int                  expired;         /* deadline passed, children killed */
    int                  stop;            /* destroy asked the watchdog to exit */
    int                  watchdog_ready;  /* the watchdog is parked in its loop */

    ucpg_harness_rank_t *ranks;
    int                  nranks;
    int                  ranks_cap;

    ucpg_harness_env_t  *env;             /* extra variables for children */
    size_t               nenv;

    struct pollfd       *pfds;            /* scratch for the pump, one per rank + 1 */
    int                 *pfd_ranks;       /* rank of each pfds entry, -1 for the writer */
    size_t               pfds_cap;

    char                 domain[32];      /* generated "t<pid>_<counter>" */
};

static void ucpg_harness__log(ucpg_harness_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ucpg_harness__log(ucpg_harness_t *h, const char *fmt, ...)
{
    va_list ap;

    /* One lock around the whole line so that messages from the watchdog and
     * from the test thread do not interleave. */
    flockfile(stderr);
    fprintf(stderr, "harness[%s]: ", (h != NULL) ? h->domain : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

static int ucpg_harness__check_rank(ucpg_harness_t *h, int rank, const char *func)
{
    if (h == NULL) {
        fprintf(stderr, "harness: %s() called with a NULL harness\n", func);
        return -1;
    }
    if ((rank < 0) || (rank >= h->nranks)) {
        ucpg_harness__log(h, "%s(): no rank %d (there are %d)", func, rank, h->nranks);
        return -1;
    }
    return 0;
}

static int ucpg_harness__is_expired(ucpg_harness_t *h)
{
    return __atomic_load_n(&h->expired, __ATOMIC_ACQUIRE);
}

/* Kill every child not yet reaped; the first caller after the deadline does
 * it, the watchdog or the test thread, whichever notices first. */
static void ucpg_harness__expire_locked(ucpg_harness_t *h)
{
    int i;

    if (h->expired) {
        return;
    }
    __atomic_store_n(&h->expired, 1, __ATOMIC_RELEASE);

    ucpg_harness__log(h, "global deadline of %u ms expired: killing every child",
                      h->deadline_len_ms);
    for (i = 0; i < h->nranks; ++i) {
        if (!h->ranks[i].reaped) {
            kill(h->ranks[i].pid, SIGKILL);
            if (h->ranks[i].harness_killed == NULL) {
                h->ranks[i].harness_killed = "the global deadline expired";
            }
        }
    }
}

/* Returns 1 if the deadline has passed, killing the children if nobody did. */
static int ucpg_harness__check_deadline(ucpg_harness_t *h)
{
    if (ucpg_harness__is_expired(h)) {
        return 1;
    }
    if (ucpg_test_now_ms() < h->deadline) {
        return 0;
    }
    pthread_mutex_lock(&h->lock);
    ucpg_harness__expire_locked(h);
    pthread_mutex_unlock(&h->lock);
    return 1;
}

static void ucpg_harness__cond_wait_until(ucpg_harness_t *h, uint64_t until_ms)
{
    struct timespec ts;

    ts.tv_sec  = (time_t)(until_ms / 1000u);
    ts.tv_nsec = (long)(until_ms % 1000u) * 1000000L;
    pthread_cond_timedwait(&h->cond, &h->lock, &ts);
}

/*
 * The watchdog makes the deadline hold in real time, even when the test thread
 * is blocked outside the harness (say, in a library call waiting for a child):
 * at the deadline it kills the children, which usually unblocks the test; if
 * the test is still alive abort_grace_ms later, it is hung, and the watchdog
 * aborts the whole process rather than let CI hang.
 */
static void *ucpg_harness__watchdog(void *arg)
{
    ucpg_harness_t *h = arg;
    uint64_t        now;

    pthread_mutex_lock(&h->lock);
    h->watchdog_ready = 1;
    pthread_cond_broadcast(&h->cond);
    while (!h->stop) {
        now = ucpg_test_now_ms();
        if (!h->expired) {
            if (now >= h->deadline) {
                ucpg_harness__expire_locked(h);
                continue;
            }
            ucpg_harness__cond_wait_until(h, h->deadline);
        } else if (h->abort_grace_ms == 0) {
            pthread_cond_wait(&h->cond, &h->lock);
        } else if (now >= h->deadline + h->abort_grace_ms) {
            ucpg_harness__log(h, "the test is still running %u ms after the global "
                              "deadline of %u ms without destroying the harness; "
                              "aborting it so that it cannot hang CI",
                              h->abort_grace_ms, h->deadline_len_ms);
            abort();
        } else {
            ucpg_harness__cond_wait_until(h, h->deadline + h->abort_grace_ms);
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

ucpg_harness_t *ucpg_harness_create(unsigned deadline_ms)
{
    pthread_condattr_t attr;
    sigset_t           all, saved;
    ucpg_harness_t    *h;
    int                ret;

    if (deadline_ms == 0) {
        deadline_ms = UCPG_HARNESS_DEFAULT_DEADLINE_MS;
    }

    h = ucpg_harness__xrealloc(NULL, sizeof(*h));
    memset(h, 0, sizeof(*h));
    h->deadline_len_ms = deadline_ms;
    h->deadline        = ucpg_harness__after(deadline_ms);
    h->abort_grace_ms  = UCPG_HARNESS_DEFAULT_ABORT_GRACE_MS;
    snprintf(h->domain, sizeof(h->domain), "t%ld_%u", (long)getpid(),
             __atomic_fetch_add(&ucpg_harness__domain_counter, 1, __ATOMIC_RELAXED));

    pthread_mutex_init(&h->lock, NULL);
    /* The watchdog sleeps on CLOCK_MONOTONIC, the clock of the deadline, so
     * that a wall clock step cannot stretch or shrink it. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &attr);
    pthread_condattr_destroy(&attr);

    /* The watchdog blocks every signal: the test's handlers (and EINTR) belong
     * to the test's threads, not to ours. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    ret = pthread_create(&h->watchdog, NULL, ucpg_harness__watchdog, h);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (ret != 0) {
        ucpg_harness__log(h, "cannot start the watchdog thread: %s", strerror(ret));
        goto err_destroy_sync;
    }
    /* Do not fork while the new thread is still starting: its start-up
     * allocates (under ASan, with the allocator's lock held), and a child
     * forked at that moment would inherit the lock held and deadlock. Once
     * the watchdog waits on the condition variable it touches no allocator. */
    pthread_mutex_lock(&h->lock);
    while (!h->watchdog_ready) {
        pthread_cond_wait(&h->cond, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);

    return h;

err_destroy_sync:
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return NULL;
}

const char *ucpg_harness_domain(ucpg_harness_t *h)
{
    size_t i;

    if (h == NULL) {
        return NULL;
    }
    for (i = 0; i < h->nenv; ++i) {
        if (!strcmp(h->env[i].name, UCPG_TEST_ENV_DOMAIN) && (h->env[i].value != NULL)) {
            return h->env[i].value;
        }
    }
    return h->domain;
}

void ucpg_harness_setenv(ucpg_harness_t *h, const char *name, const char *value)
{
    size_t i;

    if (h == NULL) {
        return;
    }
    if ((name == NULL) || (name[0] == '\0') || (strchr(name, '=') != NULL) ||
        !strcmp(name, UCPG_TEST_ENV_RANK) || !strcmp(name, UCPG_TEST_ENV_NPROCS)) {
        ucpg_harness__log(h, "setenv(): invalid or reserved variable name \"%s\" ignored",
                          (name != NULL) ? name : "(null)");
        return;
    }

    for (i = 0; i < h->nenv; ++i) {
        if (!strcmp(h->env[i].name, name)) {
            break;
        }
    }
    if (i == h->nenv) {
        h->env         = ucpg_harness__xrealloc(h->env, (h->nenv + 1) * sizeof(*h->env));
        h->env[i].name = ucpg_harness__xstrndup(name, strlen(name));
        h->nenv++;
    } else {
        free(h->env[i].value);
    }
    h->env[i].value = (value != NULL) ? ucpg_harness__xstrndup(value, strlen(value)) :
                                        NULL;
}

void ucpg_harness_set_abort_grace(ucpg_harness_t *h, unsigned grace_ms)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    h->abort_grace_ms = grace_ms;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

int ucpg_harness_nprocs(ucpg_harness_t *h)
{
    return (h != NULL) ? h->nranks : 0;
}

pid_t ucpg_harness_pid(ucpg_harness_t *h, int rank)
{
    if ((h == NULL) || (rank < 0) || (rank >= h->nranks)) {
        return -1;
    }
    return h->ranks[rank].pid;
}


/* ----------------------------------------------------------------------------
 * Reaping
 *
 * Only our own pids are waited for, never -1: the test may have children of
 * its own. Reaping happens under h->lock because once a pid is reaped the
 * kernel may reuse it, and the watchdog must never kill a stranger.
 * ------------------------------------------------------------------------- */

/* Collect rank's status if it has terminated; returns 1 if it is reaped. */
static int ucpg_harness__reap(ucpg_harness_t *h, int rank)
{
    ucpg_harness_rank_t *r = &h->ranks[rank];
    pid_t                ret;
    int                  status;

    if (r->reaped) {
        return 1;
    }

    pthread_mutex_lock(&h->lock);
    do {
        ret = waitpid(r->pid, &status, WNOHANG);
    } while ((ret < 0) && (errno == EINTR));
    if (ret == r->pid) {
        r->status = status;
        r->reaped = 1;
    } else if (ret < 0) {
        /* ECHILD: the test reaped it itself; the status is gone for good. */
        ucpg_harness__log(h, "rank %d (pid %ld) was reaped outside the harness: %s",
                          rank, (long)r->pid, strerror(errno));
        r->status_lost = 1;
        r->reaped      = 1;
    }
    pthread_mutex_unlock(&h->lock);
    return r->reaped;
}

/* Reap a rank that was sent SIGKILL, waiting a bounded time. */
static void ucpg_harness__reap_killed(ucpg_harness_t *h, int rank)
{
    uint64_t until = ucpg_harness__after(UCPG_HARNESS_REAP_TIMEOUT_MS);

    while (!ucpg_harness__reap(h, rank)) {
        if (ucpg_test_now_ms() >= until) {
            ucpg_harness__log(h, "rank %d (pid %ld) is still alive %u ms after SIGKILL; "
                              "giving up on it", rank, (long)h->ranks[rank].pid,
                              UCPG_HARNESS_REAP_TIMEOUT_MS);
            return;
        }
        poll(NULL, 0, 1);
    }
}

/* SIGKILL a rank on the harness's own initiative (reason says why) and reap. */
static void ucpg_harness__kill_and_reap(ucpg_harness_t *h, int rank, const char *reason)
{
    ucpg_harness_rank_t *r = &h->ranks[rank];

    pthread_mutex_lock(&h->lock);
    if (!r->reaped) {
        kill(r->pid, SIGKILL);
        if ((r->harness_killed == NULL) && !r->kill_requested) {
            r->harness_killed = reason;
        }
    }
    pthread_mutex_unlock(&h->lock);
    ucpg_harness__reap_killed(h, rank);
    pthread_mutex_lock(&h->lock);
    if (r->reaped && !r->status_lost && WIFEXITED(r->status) && (r->harness_killed == reason)) {
        /* It had exited by itself, only not been reaped yet (a loaded
         * machine): its own status stands, the kill came too late. */
        r->harness_killed = NULL;
    }
    pthread_mutex_unlock(&h->lock);
}


/* ----------------------------------------------------------------------------
 * Starting children
 * ------------------------------------------------------------------------- */

/* Everything a new child needs to set itself up. */
typedef struct ucpg_harness_spawn {
    int                       rank;
    int                       nprocs;
    pid_t                     parent;
    ucpg_harness_child_func_t fn;     /* fork mode, or NULL for exec mode */
    void                     *arg;
    char *const              *argv;   /* exec mode */
} ucpg_harness_spawn_t;

static void ucpg_test__reset_input(void);

/* Give the child a clean signal state, as if started from a shell: handlers
 * installed by the test (a sanitizer's SIGSEGV handler would turn a crash into
 * exit status 1) and ignored signals go back to default, and nothing stays
 * blocked (the mask survives exec). Errors are expected for the few signals
 * the C library or valgrind reserve, and are harmless. */
static void ucpg_harness__child_reset_signals(void)
{
    struct sigaction sa;
    sigset_t         none;
    int              sig;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (sig = 1; sig < NSIG; ++sig) {
        if ((sig != SIGKILL) && (sig != SIGSTOP)) {
            sigaction(sig, &sa, NULL);
        }
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void ucpg_harness__child_fail(const ucpg_harness_spawn_t *spawn, const char *what)
    __attribute__((noreturn));

static void ucpg_harness__child_fail(const ucpg_harness_spawn_t *spawn, const char *what)
{
    fprintf(stderr, "harness: rank %d (pid %ld): %s: %s\n", spawn->rank, (long)getpid(),
            what, strerror(errno));
    _exit(UCPG_HARNESS_EXIT_SETUP_FAILED);
}

/* Runs in the new child, between fork() and fn or exec; never returns. */
static void ucpg_harness__child_main(ucpg_harness_t *h, const ucpg_harness_spawn_t *spawn,
                                     int stdin_fd, int stdout_fd)
    __attribute__((noreturn));

static void ucpg_harness__child_main(ucpg_harness_t *h, const ucpg_harness_spawn_t *spawn,
                                     int stdin_fd, int stdout_fd)
{
    char   num[16];
    size_t i;
    int    in, out, ret;

    /* Die with the test. If the parent already died before the request was
     * armed, nothing would ever kill us: leave now. */
    if ((prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) || (getppid() != spawn->parent)) {
        _exit(UCPG_HARNESS_EXIT_ORPHAN);
    }

    ucpg_harness__child_reset_signals();
    ucpg_harness__fd_close_all_in_child();

    /* Move the child ends to stdin/stdout. They are first duplicated above 2,
     * in case pipe2() returned 0 or 1 (the test may have closed its stdio),
     * so that one dup2() cannot overwrite the other's source. */
    in  = fcntl(stdin_fd, F_DUPFD_CLOEXEC, 3);
    out = fcntl(stdout_fd, F_DUPFD_CLOEXEC, 3);
    if ((in < 0) || (out < 0)) {
        ucpg_harness__child_fail(spawn, "cannot duplicate the pipes");
    }
    close(stdin_fd);
    close(stdout_fd);
    if ((dup2(in, STDIN_FILENO) < 0) || (dup2(out, STDOUT_FILENO) < 0)) {
        ucpg_harness__child_fail(spawn, "cannot redirect stdin/stdout");
    }
    close(in);
    close(out);

    /* The generated domain first, so that an explicit setenv() overrides it;
     * rank and size last, so that nothing overrides them. */
    setenv(UCPG_TEST_ENV_DOMAIN, h->domain, 1);
    for (i = 0; i < h->nenv; ++i) {
        if (h->env[i].value != NULL) {
            setenv(h->env[i].name, h->env[i].value, 1);
        } else {
            unsetenv(h->env[i].name);
        }
    }
    snprintf(num, sizeof(num), "%d", spawn->rank);
    setenv(UCPG_TEST_ENV_RANK, num, 1);
    snprintf(num, sizeof(num), "%d", spawn->nprocs);
    setenv(UCPG_TEST_ENV_NPROCS, num, 1);

    if (spawn->fn != NULL) {
        /* Forget input the parent had buffered from its own stdin. */
        __fpurge(stdin);
        clearerr(stdin);
        ucpg_test__reset_input();
        setvbuf(stdout, NULL, _IOLBF, 0);

        ret = spawn->fn(spawn->rank, spawn->nprocs, spawn->arg);
        /* _exit() skips stdio: flush what the test code wrote. */
        fflush(NULL);
        /* Only the low 8 bits of an exit code survive; never let 256 pass for
         * success. */
        _exit(((ret < 0) || (ret > 255)) ? 255 : ret);
    }

    execvp(spawn->argv[0], spawn->argv);
    fprintf(stderr, "harness: rank %d: cannot execute \"%s\": %s\n", spawn->rank,
            spawn->argv[0], strerror(errno));
    _exit(UCPG_HARNESS_EXIT_EXEC_FAILED);
}

/* Grow the rank array (and the pump's scratch arrays) to hold n ranks. */
static void ucpg_harness__reserve_ranks(ucpg_harness_t *h, int n)
{
    int cap = h->ranks_cap;

    if (n > cap) {
        while (cap < n) {
            cap = cap ? 2 * cap : 8;
        }
        pthread_mutex_lock(&h->lock);
        h->ranks     = ucpg_harness__xrealloc(h->ranks, (size_t)cap * sizeof(*h->ranks));
        h->ranks_cap = cap;
        pthread_mutex_unlock(&h->lock);
    }
    if ((size_t)n + 1 > h->pfds_cap) {
        h->pfds_cap  = (size_t)cap + 1;
        h->pfds      = ucpg_harness__xrealloc(h->pfds, h->pfds_cap * sizeof(*h->pfds));
        h->pfd_ranks = ucpg_harness__xrealloc(h->pfd_ranks,
                                              h->pfds_cap * sizeof(*h->pfd_ranks));
    }
}

/* Start one child as rank spawn->rank. Returns 0 or -1. */
static int ucpg_harness__spawn_one(ucpg_harness_t *h, const ucpg_harness_spawn_t *spawn)
{
    ucpg_harness_rank_t *r;
    int                  in[2], out[2];
    pid_t                pid;

    /* Held from pipe creation until the parent closed the child ends and
     * registered its own: no fork() of any harness can catch them half done. */
    pthread_mutex_lock(&ucpg_harness__fds_lock);
    if (pipe2(in, O_CLOEXEC) != 0) {
        ucpg_harness__log(h, "rank %d: pipe2(): %s", spawn->rank, strerror(errno));
        goto err_unlock;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        ucpg_harness__log(h, "rank %d: pipe2(): %s", spawn->rank, strerror(errno));
        goto err_close_in;
    }

    pid = fork();
    if (pid < 0) {
        ucpg_harness__log(h, "rank %d: fork(): %s", spawn->rank, strerror(errno));
        goto err_close_out;
    }
    if (pid == 0) {
        close(in[1]);
        close(out[0]);
        ucpg_harness__child_main(h, spawn, in[0], out[1]);
    }

    close(in[0]);
    close(out[1]);
    ucpg_harness__fd_track_locked(in[1]);
    ucpg_harness__fd_track_locked(out[0]);
    pthread_mutex_unlock(&ucpg_harness__fds_lock);

    /* Non-blocking on the parent's ends only (each pipe end is its own open
     * file description): the pump reads until EAGAIN, and a send to a child
     * that does not read can wait in poll() instead of blocking forever. */
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);

    pthread_mutex_lock(&h->lock);
    r = &h->ranks[spawn->rank];
    memset(r, 0, sizeof(*r));
    r->pid    = pid;
    r->in_fd  = in[1];
    r->out_fd = out[0];
    h->nranks = spawn->rank + 1;
    if (h->expired) {
        /* The deadline passed during the fork, after the watchdog's sweep. */
        kill(pid, SIGKILL);
        r->harness_killed = "the global deadline expired";
    }
    pthread_mutex_unlock(&h->lock);
    return 0;

err_close_out:
    close(out[0]);
    close(out[1]);
err_close_in:
    close(in[0]);
    close(in[1]);
err_unlock:
    pthread_mutex_unlock(&ucpg_harness__fds_lock);
    return -1;
}

/* Common body of ucpg_harness_fork() and ucpg_harness_exec(). */
static int ucpg_harness__spawn(ucpg_harness_t *h, int n, ucpg_harness_child_func_t fn,
                               void *arg, char *const argv[], const char *func)
{
    ucpg_harness_spawn_t spawn;
    int                  first, i;

    if (h == NULL) {
        fprintf(stderr, "harness: %s() called with a NULL harness\n", func);
        return -1;
    }
    if ((n <= 0) || (n > INT_MAX - 1 - h->nranks)) {
        ucpg_harness__log(h, "%s(): invalid number of children %d", func, n);
        return -1;
    }
    if ((fn == NULL) && ((argv == NULL) || (argv[0] == NULL))) {
        ucpg_harness__log(h, "%s(): nothing to run", func);
        return -1;
    }
    if (ucpg_harness__check_deadline(h)) {
        /* A child started now would have no time bound at all. */
        ucpg_harness__log(h, "%s(): the deadline has expired", func);
        return -1;
    }

    first = h->nranks;
    ucpg_harness__reserve_ranks(h, first + n);

    /* Children inherit the stdio buffers: flush them, or every child would
     * print the parent's pending output again. */
    fflush(NULL);

    spawn.nprocs = first + n;
    spawn.parent = getpid();
    spawn.fn     = fn;
    spawn.arg    = arg;
    spawn.argv   = argv;
    for (i = 0; i < n; ++i) {
        spawn.rank = first + i;
        if (ucpg_harness__spawn_one(h, &spawn) != 0) {
            /* The children already started believe in nprocs ranks that will
             * never all exist; they are useless and are reported as failed. */
            while (--i >= 0) {
                ucpg_harness__kill_and_reap(h, first + i,
                                            "starting the rest of its batch failed");
            }
            return -1;
        }
    }
    return first;
}

int ucpg_harness_fork(ucpg_harness_t *h, int n, ucpg_harness_child_func_t fn, void *arg)
{
    if (fn == NULL) {
        ucpg_harness__log(h, "ucpg_harness_fork(): fn is NULL");
        return -1;
    }
    return ucpg_harness__spawn(h, n, fn, arg, NULL, "ucpg_harness_fork");
}

int ucpg_harness_exec(ucpg_harness_t *h, int n, char *const argv[])
{
    return ucpg_harness__spawn(h, n, NULL, NULL, argv, "ucpg_harness_exec");
}


/* ----------------------------------------------------------------------------
 * The pump: reading children's output into lines
 * ------------------------------------------------------------------------- */

static void ucpg_harness__add_line(ucpg_harness_rank_t *r, const char *data, size_t len)
{
    if (r->nlines == r->lines_cap) {
        r->lines_cap = r->lines_cap ? 2 * r->lines_cap : 16;
        r->lines     = ucpg_harness__xrealloc(r->lines, r->lines_cap * sizeof(*r->lines));
    }
    r->lines[r->nlines++] = ucpg_harness__xstrndup(data, len);
}

/* Complete the partial line (at a newline, at EOF, or because it is too long). */
static void ucpg_harness__flush_partial(ucpg_harness_rank_t *r)
{
    ucpg_harness__add_line(r, r->partial, r->partial_len);
    r->partial_len = 0;
}

static void ucpg_harness__append_partial(ucpg_harness_rank_t *r, const char *data,
                                         size_t len)
{
    if (r->partial_len + len > r->partial_cap) {
        r->partial_cap = r->partial_len + len;
        if (r->partial_cap < 256) {
            r->partial_cap = 256;
        }
        r->partial = ucpg_harness__xrealloc(r->partial, r->partial_cap);
    }
    memcpy(r->partial + r->partial_len, data, len);
    r->partial_len += len;
}

/* Split freshly read bytes into lines. */
static void ucpg_harness__feed(ucpg_harness_rank_t *r, const char *data, size_t len)
{
    const char *nl;
    size_t      room, seg;

    while (len > 0) {
        room = UCPG_HARNESS_LINE_MAX - r->partial_len;
        nl   = memchr(data, '\n', (len < room) ? len : room);
        seg  = (nl != NULL) ? (size_t)(nl - data) : ((len < room) ? len : room);
        ucpg_harness__append_partial(r, data, seg);
        data += seg;
        len  -= seg;
        if (nl != NULL) {
            ++data;
            --len;
            ucpg_harness__flush_partial(r);
        } else if (r->partial_len == UCPG_HARNESS_LINE_MAX) {
            ucpg_harness__flush_partial(r);
        }
    }
}

/* Read what rank has written, up to EAGAIN or a burst. Returns 1 if anything
 * (data or EOF) was consumed. */
static int ucpg_harness__read_rank(ucpg_harness_t *h, int rank)
{
    ucpg_harness_rank_t *r     = &h->ranks[rank];
    size_t               total = 0;
    char                 chunk[4096];
    ssize_t              n;

    while (total < UCPG_HARNESS_READ_BURST) {
        n = read(r->out_fd, chunk, sizeof(chunk));
        if (n > 0) {
            ucpg_harness__feed(r, chunk, (size_t)n);
            total += (size_t)n;
            continue;
        }
        if ((n < 0) && (errno == EINTR)) {
            continue;
        }
        if ((n < 0) && ((errno == EAGAIN) || (errno == EWOULDBLOCK))) {
            break;
        }
        if (n < 0) {
            ucpg_harness__log(h, "rank %d: reading stdout: %s; treating it as EOF",
                              rank, strerror(errno));
        }
        /* EOF: a last line without newline is still a line. */
        if (r->partial_len > 0) {
            ucpg_harness__flush_partial(r);
        }
        ucpg_harness__fd_close(r->out_fd);
        r->out_fd = -1;
        return 1;
    }
    return total > 0;
}

/*
 * Wait until some child's stdout has data or EOF (or wfd, if >= 0, becomes
 * writable), but not past until_ms, max_wait_ms from now or the deadline;
 * then consume all available output. EINTR just returns early: callers loop
 * on their own deadlines. Returns UCPG_HARNESS_PUMP_* bits.
 */
static int ucpg_harness__pump(ucpg_harness_t *h, uint64_t until_ms, unsigned max_wait_ms,
                              int wfd)
{
    nfds_t i, nfds = 0;
    int    rank, ret, result = 0;

    for (rank = 0; rank < h->nranks; ++rank) {
        if (h->ranks[rank].out_fd >= 0) {
            h->pfds[nfds].fd      = h->ranks[rank].out_fd;
            h->pfds[nfds].events  = POLLIN;
            h->pfd_ranks[nfds++]  = rank;
        }
    }
    if (wfd >= 0) {
        h->pfds[nfds].fd     = wfd;
        h->pfds[nfds].events = POLLOUT;
        h->pfd_ranks[nfds++] = -1;
    }

    until_ms = ucpg_harness__min(until_ms, h->deadline);
    until_ms = ucpg_harness__min(until_ms, ucpg_harness__after(max_wait_ms));
    ret      = poll(h->pfds, nfds, ucpg_harness__poll_timeout(until_ms));
    if (ret <= 0) {
        return 0;
    }

    for (i = 0; i < nfds; ++i) {
        if (h->pfds[i].revents == 0) {
            continue;
        }
        if (h->pfd_ranks[i] < 0) {
            result |= UCPG_HARNESS_PUMP_WRITABLE;
        } else if (ucpg_harness__read_rank(h, h->pfd_ranks[i])) {
            result |= UCPG_HARNESS_PUMP_READ;
        }
    }
    return result;
}

/* Read whatever output is already there, without waiting for more. */
static void ucpg_harness__drain(ucpg_harness_t *h)
{
    uint64_t until = ucpg_harness__after(UCPG_HARNESS_DRAIN_TIMEOUT_MS);

    while ((ucpg_harness__pump(h, 0, 0, -1) & UCPG_HARNESS_PUMP_READ) &&
           (ucpg_test_now_ms() < until)) {
    }
}


/* ----------------------------------------------------------------------------
 * Expecting lines
 * ------------------------------------------------------------------------- */

static void ucpg_harness__print_lines(ucpg_harness_t *h, int rank, size_t from,
                                      size_t to, const char *indent)
{
    ucpg_harness_rank_t *r = &h->ranks[rank];
    size_t               i;

    for (i = from; i < to; ++i) {
        fprintf(stderr, "%s[rank %d] %s\n", indent, rank, r->lines[i]);
    }
}

/* Body of ucpg_harness_expect() with an absolute time limit. */
static int ucpg_harness__expect_until(ucpg_harness_t *h, int rank, const char *prefix,
                                      char *buf, size_t len, uint64_t until,
                                      unsigned timeout_ms)
{
    ucpg_harness_rank_t *r       = &h->ranks[rank];
    size_t               skipped = r->cursor;
    size_t               prefix_len;
    const char          *line;
    char                 why[64];

    prefix     = (prefix != NULL) ? prefix : "";
    prefix_len = strlen(prefix);

    for (;;) {
        while (r->cursor < r->nlines) {
            line = r->lines[r->cursor++];
            if (!strncmp(line, prefix, prefix_len)) {
                ucpg_harness__copy_line(buf, len, line, strlen(line));
                return 0;
            }
        }

        if (ucpg_harness__check_deadline(h)) {
            snprintf(why, sizeof(why), "the global deadline (%u ms) expired",
                     h->deadline_len_ms);
            break;
        }
        if (r->out_fd < 0) {
            snprintf(why, sizeof(why), "end of output (EOF)");
            break;
        }
        if (ucpg_test_now_ms() >= until) {
            snprintf(why, sizeof(why), "timeout after %u ms", timeout_ms);
            break;
        }
        ucpg_harness__pump(h, until, UINT_MAX, -1);
    }

    ucpg_harness__log(h, "rank %d (pid %ld): %s while expecting a line starting with "
                      "\"%s\"; %zu line(s) skipped%s", rank, (long)r->pid, why, prefix,
                      r->cursor - skipped, (r->cursor > skipped) ? ":" : "");
    ucpg_harness__print_lines(h, rank, skipped, r->cursor, "    ");
    return -1;
}

int ucpg_harness_expect(ucpg_harness_t *h, int rank, const char *prefix, char *buf,
                        size_t len, unsigned timeout_ms)
{
    if (ucpg_harness__check_rank(h, rank, "ucpg_harness_expect") != 0) {
        return -1;
    }
    return ucpg_harness__expect_until(h, rank, prefix, buf, len,
                                      ucpg_harness__after(timeout_ms), timeout_ms);
}

/* A rank the test still talks to: not killed on purpose, not yet reaped. */
static int ucpg_harness__is_live(ucpg_harness_t *h, int rank)
{
    return !h->ranks[rank].reaped && !h->ranks[rank].kill_requested;
}

int ucpg_harness_expect_all(ucpg_harness_t *h, const char *prefix, unsigned timeout_ms)
{
    uint64_t until;
    int      rank, live = 0, ret = 0;

    if (h == NULL) {
        return -1;
    }

    until = ucpg_harness__after(timeout_ms);
    for (rank = 0; rank < h->nranks; ++rank) {
        if (ucpg_harness__is_live(h, rank)) {
            ++live;
            if (ucpg_harness__expect_until(h, rank, prefix, NULL, 0, until,
                                           timeout_ms) != 0) {
                ret = -1;
            }
        }
    }

    if (live == 0) {
        ucpg_harness__log(h, "ucpg_harness_expect_all(\"%s\"): no live rank",
                          (prefix != NULL) ? prefix : "");
        return -1;
    }
    return ret;
}

size_t ucpg_harness_nlines(ucpg_harness_t *h, int rank)
{
    if ((h == NULL) || (rank < 0) || (rank >= h->nranks)) {
        return 0;
    }
    return h->ranks[rank].nlines;
}

const char *ucpg_harness_line(ucpg_harness_t *h, int rank, size_t index)
{
    if ((h == NULL) || (rank < 0) || (rank >= h->nranks) ||
        (index >= h->ranks[rank].nlines)) {
        return NULL;
    }
    return h->ranks[rank].lines[index];
}


/* ----------------------------------------------------------------------------
 * Sending lines, closing stdin, signals
 * ------------------------------------------------------------------------- */

/* write() that fails with EPIPE instead of raising SIGPIPE, without touching
 * the process-wide disposition (which the test or the library may own):
 * block SIGPIPE in this thread, write, and consume the SIGPIPE we caused. */
static ssize_t ucpg_harness__write_nosigpipe(int fd, const void *data, size_t len)
{
    static const struct timespec zero = {0, 0};
    sigset_t                     pipe_set, saved, pending;
    int                          was_pending, err;
    ssize_t                      ret;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &saved);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);

    ret = write(fd, data, len);
    err = errno;
    if ((ret < 0) && (err == EPIPE) && !was_pending) {
        while ((sigtimedwait(&pipe_set, NULL, &zero) < 0) && (errno == EINTR)) {
        }
    }

    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    errno = err;
    return ret;
}

static int ucpg_harness__vsend(ucpg_harness_t *h, int rank, const char *fmt, va_list ap)
{
    ucpg_harness_rank_t *r = &h->ranks[rank];
    size_t               off = 0, total;
    ssize_t              n;
    va_list              ap_len;
    char                *msg;
    int                  len;

    if (r->in_fd < 0) {
        ucpg_harness__log(h, "send to rank %d: its stdin is closed", rank);
        return -1;
    }
    if (ucpg_harness__check_deadline(h)) {
        ucpg_harness__log(h, "send to rank %d: the deadline has expired", rank);
        return -1;
    }

    va_copy(ap_len, ap);
    len = vsnprintf(NULL, 0, fmt, ap_len);
    va_end(ap_len);
    if (len < 0) {
        ucpg_harness__log(h, "send to rank %d: invalid format \"%s\"", rank, fmt);
        return -1;
    }
    total = (size_t)len + 1;
    msg   = ucpg_harness__xrealloc(NULL, total + 1);
    vsnprintf(msg, total, fmt, ap);
    msg[total - 1] = '\n';

    while (off < total) {
        n = ucpg_harness__write_nosigpipe(r->in_fd, msg + off, total - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if ((n < 0) && (errno == EINTR)) {
            continue;
        }
        if ((n < 0) && ((errno == EAGAIN) || (errno == EWOULDBLOCK))) {
            /* The child is not reading. Keep collecting everyone's output while
             * waiting: the child may be blocked writing to us. */
            if (ucpg_harness__check_deadline(h)) {
                ucpg_harness__log(h, "send to rank %d: the deadline expired while its "
                                  "stdin was full", rank);
                goto err_free;
            }
            ucpg_harness__pump(h, h->deadline, UINT_MAX, r->in_fd);
            continue;
        }
        ucpg_harness__log(h, "send to rank %d (pid %ld): %s", rank, (long)r->pid,
                          (errno == EPIPE) ? "the child closed its stdin or died" :
                                             strerror(errno));
        goto err_free;
    }

    free(msg);
    return 0;

err_free:
    free(msg);
    return -1;
}

int ucpg_harness_send(ucpg_harness_t *h, int rank, const char *fmt, ...)
{
    va_list ap;
    int     ret;

    if (ucpg_harness__check_rank(h, rank, "ucpg_harness_send") != 0) {
        return -1;
    }
    va_start(ap, fmt);
    ret = ucpg_harness__vsend(h, rank, fmt, ap);
    va_end(ap);
    return ret;
}

int ucpg_harness_send_all(ucpg_harness_t *h, const char *fmt, ...)
{
    va_list ap;
    int     rank, ret = 0;

    if (h == NULL) {
        return -1;
    }
    for (rank = 0; rank < h->nranks; ++rank) {
        if (ucpg_harness__is_live(h, rank) && (h->ranks[rank].in_fd >= 0)) {
            va_start(ap, fmt);
            if (ucpg_harness__vsend(h, rank, fmt, ap) != 0) {
                ret = -1;
            }
            va_end(ap);
        }
    }
    return ret;
}

int ucpg_harness_close_stdin(ucpg_harness_t *h, int rank)
{
    if (ucpg_harness__check_rank(h, rank, "ucpg_harness_close_stdin") != 0) {
        return -1;
    }
    if (h->ranks[rank].in_fd < 0) {
        ucpg_harness__log(h, "rank %d: stdin already closed", rank);
        return -1;
    }
    ucpg_harness__fd_close(h->ranks[rank].in_fd);
    h->ranks[rank].in_fd = -1;
    return 0;
}

/* 1 if the thread whose stat file is path is stopped (or gone), else 0. The
 * state is the field after the command name, which is in parentheses and may
 * itself hold spaces or parentheses: hence the last ')'. */
static int ucpg_harness__task_stopped(const char *path)
{
    char  buf[512], *close_paren;
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        return 1;                   /* the thread has exited */
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    return (close_paren != NULL) && (close_paren[1] == ' ') &&
           ((close_paren[2] == 'T') || (close_paren[2] == 't'));
}

/* 1 if every thread of pid is stopped, 0 if one still runs, -1 if the
 * process is unknown. */
static int ucpg_harness__all_tasks_stopped(pid_t pid)
{
    char           dir_path[64], path[128];
    struct dirent *e;
    DIR           *dir;
    int            stopped = 1;

    snprintf(dir_path, sizeof(dir_path), "/proc/%ld/task", (long)pid);
    dir = opendir(dir_path);
    if (dir == NULL) {
        return -1;
    }
    while (stopped && ((e = readdir(dir)) != NULL)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%.20s/stat", dir_path, e->d_name);
        stopped = ucpg_harness__task_stopped(path);
    }
    closedir(dir);
    return stopped;
}

int ucpg_harness_stop_pid(pid_t pid, unsigned timeout_ms)
{
    struct timespec tick     = {0, 1000 * 1000};
    unsigned        waited_ms = 0;
    int             stopped;

    if (kill(pid, SIGSTOP) != 0) {
        return -1;
    }
    while ((stopped = ucpg_harness__all_tasks_stopped(pid)) == 0) {
        if (waited_ms++ >= timeout_ms) {
            fprintf(stderr, "harness: pid %ld: a thread still runs %u ms after SIGSTOP\n",
                    (long)pid, timeout_ms);
            return -1;
        }
        nanosleep(&tick, NULL);
    }
    return (stopped == 1) ? 0 : -1;
}

/* The id of pid's thread named name, or -1. */
static pid_t ucpg_harness__find_thread(pid_t pid, const char *name)
{
    char           dir_path[64], path[128], comm[32];
    struct dirent *e;
    pid_t          tid = -1;
    DIR           *dir;
    FILE          *f;

    snprintf(dir_path, sizeof(dir_path), "/proc/%ld/task", (long)pid);
    if ((dir = opendir(dir_path)) == NULL) {
        return -1;
    }
    while ((tid < 0) && ((e = readdir(dir)) != NULL)) {
        snprintf(path, sizeof(path), "%s/%.20s/comm", dir_path, e->d_name);
        if ((e->d_name[0] == '.') || ((f = fopen(path, "r")) == NULL)) {
            continue;
        }
        if (fgets(comm, sizeof(comm), f) != NULL) {
            comm[strcspn(comm, "\n")] = '\0';
            tid = (strcmp(comm, name) == 0) ? (pid_t)atol(e->d_name) : -1;
        }
        fclose(f);
    }
    closedir(dir);
    return tid;
}

pid_t ucpg_harness_hold_thread(pid_t pid, const char *name, unsigned timeout_ms)
{
    struct timespec tick = {0, 1000 * 1000};
    pid_t tid = ucpg_harness__find_thread(pid, name);
    unsigned waited_ms;
    int status;

    if (tid < 0) {
        errno = ESRCH;
        return -1;
    }
    if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
        return -1;
    }
    if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0) {
        int err = errno;

        ptrace(PTRACE_DETACH, tid, NULL, NULL);
        errno = err;
        return -1;
    }
    for (waited_ms = 0; waited_ms < timeout_ms; ++waited_ms) {
        if (waitpid(tid, &status, WNOHANG | __WALL) == tid) {
            return tid;             /* in its ptrace stop */
        }
        nanosleep(&tick, NULL);
    }
    ptrace(PTRACE_DETACH, tid, NULL, NULL);
    errno = ETIMEDOUT;
    return -1;
}

int ucpg_harness_release_thread(pid_t tid)
{
    return (ptrace(PTRACE_DETACH, tid, NULL, NULL) == 0) ? 0 : -1;
}

int ucpg_harness_kill(ucpg_harness_t *h, int rank, int sig)
{
    ucpg_harness_rank_t *r;
    int                  ret, err = 0;

    if (ucpg_harness__check_rank(h, rank, "ucpg_harness_kill") != 0) {
        return -1;
    }
    r = &h->ranks[rank];

    pthread_mutex_lock(&h->lock);
    if (r->reaped) {
        ret = -1;
        err = ESRCH;
    } else {
        ret = kill(r->pid, sig);
        err = errno;
        if ((ret == 0) && (sig == SIGKILL)) {
            r->kill_requested = 1;
        }
    }
    pthread_mutex_unlock(&h->lock);

    if (ret != 0) {
        ucpg_harness__log(h, "kill(rank %d, pid %ld, signal %d): %s", rank, (long)r->pid,
                          sig, r->reaped ? "already reaped" : strerror(err));
        return -1;
    }
    return 0;
}


/* ----------------------------------------------------------------------------
 * Waiting for exit and reporting
 * ------------------------------------------------------------------------- */

static void ucpg_harness__describe_status(const ucpg_harness_rank_t *r, char *buf,
                                          size_t len)
{
    if (!r->reaped) {
        snprintf(buf, len, "is still running");
    } else if (r->status_lost) {
        snprintf(buf, len, "was reaped outside the harness (status unknown)");
    } else if (WIFEXITED(r->status)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(r->status));
    } else if (WIFSIGNALED(r->status)) {
        snprintf(buf, len, "was killed by signal %d (%s)%s", WTERMSIG(r->status),
                 strsignal(WTERMSIG(r->status)),
                 WCOREDUMP(r->status) ? ", core dumped" : "");
    } else {
        snprintf(buf, len, "has wait status 0x%x", (unsigned)r->status);
    }
}

/* Print one rank's state and everything it wrote. */
static void ucpg_harness__dump_rank(ucpg_harness_t *h, int rank)
{
    ucpg_harness_rank_t *r = &h->ranks[rank];
    const char          *harness_killed;
    char                 state[128];

    pthread_mutex_lock(&h->lock);
    harness_killed = r->harness_killed;
    pthread_mutex_unlock(&h->lock);

    ucpg_harness__describe_status(r, state, sizeof(state));
    flockfile(stderr);
    fprintf(stderr, "  rank %d (pid %ld) %s%s%s%s; %zu line(s) of output%s\n", rank,
            (long)r->pid, state, r->kill_requested ? ", SIGKILLed by the test" : "",
            (harness_killed != NULL) ? ", killed by the harness because " : "",
            (harness_killed != NULL) ? harness_killed : "", r->nlines,
            (r->nlines > 0) ? ":" : "");
    ucpg_harness__print_lines(h, rank, 0, r->nlines, "    ");
    if (r->partial_len > 0) {
        fprintf(stderr, "    [rank %d] %.*s (no newline yet)\n", rank,
                (int)r->partial_len, r->partial);
    }
    funlockfile(stderr);
}

/* Did rank end the way the test expects? Called with h->lock held, because
 * harness_killed may be set by the watchdog. */
static int ucpg_harness__rank_ok_locked(const ucpg_harness_rank_t *r)
{
    if (!r->reaped || r->status_lost || (r->harness_killed != NULL)) {
        return 0;
    }
    if (r->kill_requested) {
        return WIFSIGNALED(r->status) && (WTERMSIG(r->status) == SIGKILL);
    }
    return WIFEXITED(r->status) && (WEXITSTATUS(r->status) == 0);
}

int ucpg_harness_wait(ucpg_harness_t *h, unsigned timeout_ms)
{
    uint64_t until;
    int      rank, all_reaped, ok, ret = 0;

    if (h == NULL) {
        return -1;
    }

    until = ucpg_harness__after(timeout_ms);
    for (;;) {
        all_reaped = 1;
        for (rank = 0; rank < h->nranks; ++rank) {
            if (!ucpg_harness__reap(h, rank)) {
                all_reaped = 0;
            }
        }
        if (all_reaped) {
            break;
        }

        if (ucpg_harness__check_deadline(h) || (ucpg_test_now_ms() >= until)) {
            if (!ucpg_harness__is_expired(h)) {
                ucpg_harness__log(h, "ucpg_harness_wait(): children still running after "
                                  "%u ms; killing them", timeout_ms);
            }
            for (rank = 0; rank < h->nranks; ++rank) {
                ucpg_harness__kill_and_reap(h, rank,
                                            "ucpg_harness_wait() timed out");
            }
            break;
        }
        ucpg_harness__pump(h, until, UCPG_HARNESS_WAIT_SLICE_MS, -1);
    }
    ucpg_harness__drain(h);

    for (rank = 0; rank < h->nranks; ++rank) {
        pthread_mutex_lock(&h->lock);
        ok = ucpg_harness__rank_ok_locked(&h->ranks[rank]);
        pthread_mutex_unlock(&h->lock);
        if (!ok) {
            ucpg_harness__log(h, "rank %d failed:", rank);
            ucpg_harness__dump_rank(h, rank);
            ret = -1;
        }
    }

    if (ucpg_harness__is_expired(h)) {
        ucpg_harness__log(h, "ucpg_harness_wait(): the global deadline (%u ms) expired",
                          h->deadline_len_ms);
        ret = -1;
    }
    return ret;
}

int ucpg_harness_wait_rank(ucpg_harness_t *h, int rank, unsigned timeout_ms,
                           int *status_p)
{
    ucpg_harness_rank_t *r;
    uint64_t             until;

    if (ucpg_harness__check_rank(h, rank, "ucpg_harness_wait_rank") != 0) {
        return -1;
    }
    r = &h->ranks[rank];

    until = ucpg_harness__after(timeout_ms);
    while (!ucpg_harness__reap(h, rank)) {
        if (ucpg_harness__check_deadline(h)) {
            /* The deadline killed it: reap it now rather than in destroy. */
            ucpg_harness__reap_killed(h, rank);
            break;
        }
        if (ucpg_test_now_ms() >= until) {
            ucpg_harness__log(h, "rank %d (pid %ld) did not exit within %u ms", rank,
                              (long)r->pid, timeout_ms);
            return -1;
        }
        ucpg_harness__pump(h, until, UCPG_HARNESS_WAIT_SLICE_MS, -1);
    }

    if (ucpg_harness__is_expired(h)) {
        ucpg_harness__log(h, "ucpg_harness_wait_rank(%d): the global deadline (%u ms) "
                          "expired", rank, h->deadline_len_ms);
        return -1;
    }
    if (r->status_lost) {
        return -1;
    }
    if (status_p != NULL) {
        *status_p = r->status;
    }
    return 0;
}

void ucpg_harness_dump(ucpg_harness_t *h)
{
    int rank;

    if (h == NULL) {
        return;
    }
    ucpg_harness__log(h, "%d rank(s)%s", h->nranks,
                      ucpg_harness__is_expired(h) ? ", deadline expired" : "");
    for (rank = 0; rank < h->nranks; ++rank) {
        ucpg_harness__dump_rank(h, rank);
    }
}

void ucpg_harness_destroy(ucpg_harness_t *h)
{
    ucpg_harness_rank_t *r;
    size_t               i;
    int                  rank;

    if (h == NULL) {
        return;
    }

    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->watchdog, NULL);

    for (rank = 0; rank < h->nranks; ++rank) {
        r = &h->ranks[rank];
        ucpg_harness__kill_and_reap(h, rank, "the harness was destroyed");
        ucpg_harness__fd_close(r->in_fd);
        ucpg_harness__fd_close(r->out_fd);
        for (i = 0; i < r->nlines; ++i) {
            free(r->lines[i]);
        }
        free(r->lines);
        free(r->partial);
    }
    for (i = 0; i < h->nenv; ++i) {
        free(h->env[i].name);
        free(h->env[i].value);
    }

    free(h->env);
    free(h->pfd_ranks);
    free(h->pfds);
    free(h->ranks);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}


/* ----------------------------------------------------------------------------
 * Child side
 * ------------------------------------------------------------------------- */

/* Bytes read from stdin but not yet returned as lines. Only the child's test
 * thread uses it (see harness.h). */
static struct {
    char   data[UCPG_HARNESS_LINE_MAX];
    size_t len;
    int    eof;
} ucpg_test__in;

static void ucpg_test__reset_input(void)
{
    ucpg_test__in.len = 0;
    ucpg_test__in.eof = 0;
}

static int ucpg_test__env_int(const char *name)
{
    const char *value = getenv(name);
    char       *end;
    long        num;

    if ((value == NULL) || (value[0] == '\0')) {
        return -1;
    }
    errno = 0;
    num   = strtol(value, &end, 10);
    if ((errno != 0) || (*end != '\0') || (num < 0) || (num > INT_MAX)) {
        return -1;
    }
    return (int)num;
}

int ucpg_test_rank(void)
{
    return ucpg_test__env_int(UCPG_TEST_ENV_RANK);
}

int ucpg_test_nprocs(void)
{
    return ucpg_test__env_int(UCPG_TEST_ENV_NPROCS);
}

void ucpg_test_say(const char *fmt, ...)
{
    va_list ap;

    flockfile(stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
}

/* Take the first line out of the input buffer, if there is one. A full buffer
 * without newline, or a rest at EOF, counts as a line. */
static int ucpg_test__take_line(char *buf, size_t len)
{
    char  *nl = memchr(ucpg_test__in.data, '\n', ucpg_test__in.len);
    size_t line_len, used;

    if (nl != NULL) {
        line_len = (size_t)(nl - ucpg_test__in.data);
        used     = line_len + 1;
    } else if ((ucpg_test__in.len == sizeof(ucpg_test__in.data)) ||
               (ucpg_test__in.eof && (ucpg_test__in.len > 0))) {
        line_len = used = ucpg_test__in.len;
    } else {
        return -1;
    }

    ucpg_harness__copy_line(buf, len, ucpg_test__in.data, line_len);
    memmove(ucpg_test__in.data, ucpg_test__in.data + used, ucpg_test__in.len - used);
    ucpg_test__in.len -= used;
    return 0;
}

/* ucpg_test_hear() with an absolute time limit. */
static int ucpg_test__hear_until(char *buf, size_t len, uint64_t until)
{
    struct pollfd pfd;
    ssize_t       n;
    int           ret;

    for (;;) {
        if (ucpg_test__take_line(buf, len) == 0) {
            return 0;
        }
        if (ucpg_test__in.eof) {
            return -1;
        }

        pfd.fd     = STDIN_FILENO;
        pfd.events = POLLIN;
        ret        = poll(&pfd, 1, ucpg_harness__poll_timeout(until));
        if ((ret < 0) && (errno == EINTR)) {
            continue;
        }
        if (ret == 0) {
            return -1;
        }
        if (ret < 0) {
            ucpg_test__in.eof = 1;
            continue;
        }

        n = read(STDIN_FILENO, ucpg_test__in.data + ucpg_test__in.len,
                 sizeof(ucpg_test__in.data) - ucpg_test__in.len);
        if (n > 0) {
            ucpg_test__in.len += (size_t)n;
        } else if ((n == 0) ||
                   ((errno != EINTR) && (errno != EAGAIN) && (errno != EWOULDBLOCK))) {
            ucpg_test__in.eof = 1;
        }
    }
}

int ucpg_test_hear(char *buf, size_t len, unsigned timeout_ms)
{
    return ucpg_test__hear_until(buf, len, ucpg_harness__after(timeout_ms));
}

int ucpg_test_wait_line(const char *prefix, char *buf, size_t len, unsigned timeout_ms)
{
    uint64_t until = ucpg_harness__after(timeout_ms);
    size_t   prefix_len;
    /* Static rather than 64 KiB of stack: the helpers are single-threaded. */
    static char line[UCPG_HARNESS_LINE_MAX + 1];

    prefix     = (prefix != NULL) ? prefix : "";
    prefix_len = strlen(prefix);
    while (ucpg_test__hear_until(line, sizeof(line), until) == 0) {
        if (!strncmp(line, prefix, prefix_len)) {
            ucpg_harness__copy_line(buf, len, line, strlen(line));
            return 0;
        }
    }
    return -1;
}

int ucpg_test_wait_for(const char *prefix, unsigned timeout_ms)
{
    return ucpg_test_wait_line(prefix, NULL, 0, timeout_ms);
}
