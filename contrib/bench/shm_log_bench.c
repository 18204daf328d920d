/*
 * shm_log_bench - the ceiling of the host log (ucx_cpg/core/shm_log.h): how
 * many messages per second every member of a group on one host can be
 * handed when every member appends its messages to one shared log and reads
 * every entry in place.
 *
 *   shm_log_bench [-p PROCS] [-s BYTES] [-t SEC] [-c CAPACITY_KIB] [-S SENDERS] [-b]
 *
 * Why: the host log's design (docs/protocol.md, "The host log") bets that a
 * message written once and read where it lies by every member beats handing
 * it to each member through its own events, allocations and wake-ups. This
 * program measures the log alone, with no engine, no UCX and no application
 * callback, so its number is the most any engine built on the log can
 * deliver. On a 2-CPU host with 8 members all sending 64-byte messages the
 * number to beat is 1.18 M messages/s delivered to every member (corosync
 * manages 59 k; the ucx_cpg engine without the log 660-740 k). If the log
 * alone does not clearly beat that, the design is not worth building.
 *
 * The parent creates a log with a ring of CAPACITY_KIB KiB (-c, default
 * 1024, a power of two >= 4) and forks PROCS children (-p, default 8, at
 * most 64: the log's reader slots). Each child attaches the log from its
 * offer, as a process that did not create it would (the mapping inherited
 * from the parent is detached, so nothing works only because of the fork),
 * opens a reader at position 0 and, if its rank is below SENDERS (-S,
 * default PROCS), a writer. A pipe barrier starts the children only once
 * every reader is open: a writer could otherwise fill the ring before a
 * late reader's cursor holds its start, and that reader would miss entries.
 *
 * For SEC seconds (-t, default 3) each child loops in its one thread: a
 * sender appends one BYTES-long message (-s, default 64, at least 16: its
 * rank, its sequence number from 0, then filler); then the child reads every
 * entry committed so far (a batch), checks per-sender FIFO order (each
 * sender's sequence numbers arrive as 0, 1, 2, ... with no gap: an error
 * otherwise) and releases the batch. A full ring (UCPG_ERR_TRY_AGAIN) is not
 * retried on the spot: reading is what makes room. Only the 16 bytes checked
 * are read from an entry, as a member that hands entries in place to its
 * application copies nothing either. A round with neither an append nor an
 * entry read calls sched_yield(): with more processes than CPUs, the reader
 * or writer everyone waits for is the one that needs the CPU.
 *
 * -b (blocking readers): a non-sender that finds nothing to read asks to be
 * woken (ucpg_shm_log_sleep_prepare) and sleeps 50 us, a stand-in for the
 * futex or message a member would wait on, then withdraws the request.
 * Senders count the readers their commits would have to ring ("rings").
 * This shows what the wake-up protocol costs in a flood: a commit only reads
 * the sleepers mask while readers are busy. With every process sending (the
 * default) nobody sleeps: combine -b with -S.
 *
 * Then each sender appends an END entry (its rank, UINT64_MAX) and every
 * child reads until it has seen END from every sender; both steps must end
 * within 10 s (a timeout otherwise).
 *
 * Each child reports to the parent through a pipe: the DATA entries it read
 * (END not counted), the span from its first to its last DATA delivery, its
 * CPU time (getrusage RUSAGE_SELF, user + system) from the start to the end
 * of its reading, FIFO errors, what it sent and rang. The parent prints
 *   shm_log_bench: 8 process(es), 8 sender(s), 64 B, 3 s: slowest reader N msgs/s;
 *                  CPU X ns per delivered message; sent M, 0 errors
 *   RESULT procs=8 senders=8 size=64 secs=3 msgs_per_s=... deliveries=... cpu_us=...
 *          ns_per_delivery=... sent=... errors=0 blocking=0 rings=0
 * (each on one line) where msgs_per_s is the lowest delivered/span of the
 * readers (every reader reads every message: it is the rate the group
 * delivers to each of its members), deliveries the DATA entries read by all
 * children, cpu_us the CPU of all children, ns_per_delivery their quotient,
 * sent the DATA entries appended by all senders, errors the FIFO violations
 * (and malformed entries), blocking 1 with -b, and rings the readers that
 * commits found asleep. Diagnostics go to stderr.
 *
 * Every reader must have read exactly what all senders sent (lost messages
 * otherwise). The parent kills (SIGKILL) children not done SEC + 20 s after
 * the start and reaps all of them, and children die with the parent
 * (PR_SET_PDEATHSIG): the benchmark never hangs.
 *
 * Exit status: 0 success, 1 usage, 2 setup error (the log, a pipe, a fork,
 * an attach), 3 FIFO errors, lost messages or a child that died, 4 timeout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../contrib_args.h"
#include "core/shm_log.h"
#include "core/status.h"

enum {
    SHB_EXIT_OK      = 0,
    SHB_EXIT_USAGE   = 1,
    SHB_EXIT_SETUP   = 2,
    SHB_EXIT_DATA    = 3,
    SHB_EXIT_TIMEOUT = 4
};

#define SHB_MAX_PROCS     UCPG_SHM_LOG_READERS   /* every child is a reader */
#define SHB_MSG_HDR       16u                    /* rank, sequence number */
#define SHB_END_SEQ       UINT64_MAX
#define SHB_DRAIN_S       10                     /* END and the last reads */
#define SHB_KILL_S        20                     /* past SEC: the parent kills */
#define SHB_START_S       10                     /* children to open their readers */
#define SHB_NAP_NS        50000L                 /* -b: a reader's sleep */
#define SHB_CLOCK_EVERY   32u                    /* busy rounds per clock read */
#define SHB_MAX_REPORTED  5u                     /* FIFO errors printed per child */
#define SHB_NS            1000000000LL

typedef struct shb_opts {
    unsigned procs;      /* -p */
    size_t   size;       /* -s */
    unsigned secs;       /* -t */
    size_t   capacity;   /* -c, in bytes */
    unsigned senders;    /* -S; 0 until given: every process */
    int      block;      /* -b */
} shb_opts_t;

/* The pipes between the parent and its children. */
typedef struct shb_pipes {
    int ready[2];        /* child -> parent: one byte, 'R' (reader open) or 'E' */
    int go[2];           /* parent -> children: one byte each; EOF: give up */
    int result[2];       /* child -> parent: one shb_result_t (< PIPE_BUF: atomic) */
} shb_pipes_t;

/* One child's result, sent to the parent in one write. */
typedef struct shb_result {
    uint32_t rank;
    int32_t  status;     /* SHB_EXIT_* of this child */
    uint64_t delivered;  /* DATA entries read */
    uint64_t sent;       /* DATA entries appended */
    uint64_t errors;     /* FIFO violations, malformed entries */
    uint64_t rings;      /* readers found asleep by this child's commits */
    int64_t  first_ns, last_ns, cpu_ns;
} shb_result_t;

/* A child's state: its handles and what it knows of every sender. */
typedef struct shb_child {
    const shb_opts_t      *o;
    ucpg_shm_log_t        *log;
    ucpg_shm_log_reader_t  r;
    ucpg_shm_log_writer_t  w;
    int                    have_reader, have_writer;
    int                    sender;
    unsigned char         *msg;
    uint64_t               seq;                    /* the next DATA to append */
    uint64_t               next_seq[SHB_MAX_PROCS];
    unsigned char          ended[SHB_MAX_PROCS];
    unsigned               ends;                   /* senders whose END was read */
    unsigned               rounds;
    int                    pending;                /* DATA read since the clock was read */
    int                    failed;                 /* the log is unusable: stop */
    int64_t                now;
    shb_result_t           res;
} shb_child_t;

static int64_t shb_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SHB_NS + ts.tv_nsec;
}

static int64_t shb_cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * SHB_NS +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* ---- a child: reading ------------------------------------------------------------------ */

static void shb_data_error(shb_child_t *c, const char *what, uint64_t rank, uint64_t seq)
{
    if (c->res.errors++ < SHB_MAX_REPORTED) {
        fprintf(stderr, "shm_log_bench[%u]: %s (sender %" PRIu64 ", sequence %" PRIu64
                ", expected %" PRIu64 ")\n", c->res.rank, what, rank, seq,
                (rank < SHB_MAX_PROCS) ? c->next_seq[rank] : 0);
    }
}

/* Checks one entry: its length, its sender and the sender's FIFO order. */
static void shb_deliver(shb_child_t *c, const ucpg_shm_log_entry_t *e)
{
    uint64_t rank, seq;

    if (e->len != c->o->size) {
        shb_data_error(c, "entry of a wrong length", UINT64_MAX, e->len);
        return;
    }
    memcpy(&rank, e->data, sizeof(rank));
    memcpy(&seq, (const unsigned char*)e->data + sizeof(rank), sizeof(seq));
    if ((rank >= c->o->senders) || c->ended[rank]) {
        shb_data_error(c, "entry from no sender or after its END", rank, seq);
        return;
    }
    if (seq == SHB_END_SEQ) {
        c->ended[rank] = 1;
        c->ends++;
        return;
    }
    if (seq != c->next_seq[rank]) {
        shb_data_error(c, "FIFO violation", rank, seq);
    }
    c->next_seq[rank] = seq + 1;         /* resynchronised: one gap, one error */
    if (c->res.delivered++ == 0) {
        c->res.first_ns = shb_now_ns();
    }
    c->pending = 1;
}

/* Reads every entry committed so far and releases them; how many were read. */
static uint64_t shb_read(shb_child_t *c)
{
    ucpg_shm_log_entry_t e;
    ucpg_status_t status;
    uint64_t n = 0;

    while ((status = ucpg_shm_log_next(&c->r, &e)) == UCPG_OK) {
        shb_deliver(c, &e);
        ++n;
    }
    if (status == UCPG_ERR_MESSAGE) {
        shb_data_error(c, "corrupt log", UINT64_MAX, c->r.next);
        c->failed = 1;
    }
    /* Also after PAD entries only: their room is the writers' too. */
    ucpg_shm_log_release(&c->r, c->r.next);
    return n;
}

/* ---- a child: writing and pacing ------------------------------------------------------ */

/* Appends (rank, seq); 0 if the ring is full. */
static int shb_append(shb_child_t *c, uint64_t seq)
{
    ucpg_status_t status;
    uint64_t wake = 0;

    memcpy(c->msg + sizeof(uint64_t), &seq, sizeof(seq));
    status = ucpg_shm_log_append(&c->w, c->msg, c->o->size, NULL, &wake);
    if (status == UCPG_OK) {
        c->res.rings += (uint64_t)__builtin_popcountll(wake);
        return 1;
    }
    if (status != UCPG_ERR_TRY_AGAIN) {
        fprintf(stderr, "shm_log_bench[%u]: append: %s\n", c->res.rank,
                ucpg_status_string(status));
        c->res.errors++;
        c->failed = 1;
    }
    return 0;
}

/* Nothing moved: let the process everyone waits for run, or (-b, a reader
 * only) sleep as a member would until a commit rings it. */
static void shb_idle(shb_child_t *c)
{
    struct timespec nap = {0, SHB_NAP_NS};

    if (!c->o->block || c->sender) {
        sched_yield();
    } else if (ucpg_shm_log_sleep_prepare(&c->r)) {
        nanosleep(&nap, NULL);
        ucpg_shm_log_sleep_cancel(&c->r);      /* woken by the time, not a ring */
    }
}

/* Ends a round. The clock is read when idle and every SHB_CLOCK_EVERY busy
 * rounds: often enough for the deadline and the span (a few microseconds
 * off over seconds), rarely enough not to be what is measured. */
static void shb_round(shb_child_t *c, int progress)
{
    if (progress && (++c->rounds % SHB_CLOCK_EVERY != 0)) {
        return;
    }
    c->now = shb_now_ns();
    if (c->pending) {
        c->res.last_ns = c->now;
        c->pending     = 0;
    }
    if (!progress) {
        shb_idle(c);
    }
}

static void shb_flood(shb_child_t *c, int64_t end_ns)
{
    int progress;

    while ((c->now < end_ns) && !c->failed) {
        progress = 0;
        if (c->sender && shb_append(c, c->seq)) {
            c->seq++;
            progress = 1;
        }
        progress |= (shb_read(c) > 0);
        shb_round(c, progress);
    }
}

/* A sender's END; the ring may be full, so it reads while it waits. */
static int shb_send_end(shb_child_t *c, int64_t deadline)
{
    while (!shb_append(c, SHB_END_SEQ)) {
        if (c->failed) {
            return SHB_EXIT_DATA;
        }
        if (c->now >= deadline) {
            fprintf(stderr, "shm_log_bench[%u]: timeout appending END\n", c->res.rank);
            return SHB_EXIT_TIMEOUT;
        }
        shb_round(c, shb_read(c) > 0);
    }
    return SHB_EXIT_OK;
}

static int shb_drain(shb_child_t *c, int64_t deadline)
{
    while ((c->ends < c->o->senders) && !c->failed) {
        if (c->now >= deadline) {
            fprintf(stderr, "shm_log_bench[%u]: timeout: END from %u of %u senders\n",
                    c->res.rank, c->ends, c->o->senders);
            return SHB_EXIT_TIMEOUT;
        }
        shb_round(c, shb_read(c) > 0);
    }
    return c->failed ? SHB_EXIT_DATA : SHB_EXIT_OK;
}

/* The flood, END, the last reads; fills c->res. */
static int shb_child_run(shb_child_t *c)
{
    int64_t cpu = shb_cpu_ns(), end_ns, deadline;
    int status;

    c->now   = shb_now_ns();
    end_ns   = c->now + (int64_t)c->o->secs * SHB_NS;
    deadline = end_ns + (int64_t)SHB_DRAIN_S * SHB_NS;
    shb_flood(c, end_ns);
    status = (c->sender && !c->failed) ? shb_send_end(c, deadline) : SHB_EXIT_OK;
    if (status == SHB_EXIT_OK) {
        status = shb_drain(c, deadline);
    }
    shb_round(c, 0 /* the last delivery's time */);
    c->res.cpu_ns = shb_cpu_ns() - cpu;
    c->res.sent   = c->seq;
    if ((status == SHB_EXIT_OK) && (c->res.errors > 0)) {
        status = SHB_EXIT_DATA;
    }
    return status;
}

/* ---- a child: setup and life ---------------------------------------------------------- */

/* Attaches as a stranger would, then opens the reader (and the writer). */
static ucpg_status_t shb_child_setup(shb_child_t *c, unsigned rank, const ucpg_shm_offer_t *offer,
                                     ucpg_shm_log_t *inherited)
{
    ucpg_status_t status = ucpg_shm_log_attach(offer, &c->log);
    uint64_t r = rank;

    ucpg_shm_log_detach(inherited);     /* the parent's mapping: not ours to use */
    if (status != UCPG_OK) {
        fprintf(stderr, "shm_log_bench[%u]: attach: %s\n", rank, ucpg_status_string(status));
        return status;
    }
    status = ucpg_shm_log_reader_open(c->log, 0, &c->r);
    c->have_reader = (status == UCPG_OK);
    if (c->have_reader && c->sender) {
        status = ucpg_shm_log_writer_open(c->log, &c->w);
        c->have_writer = (status == UCPG_OK);
    }
    if (status != UCPG_OK) {
        fprintf(stderr, "shm_log_bench[%u]: opening a %s: %s\n", rank,
                c->have_reader ? "writer" : "reader", ucpg_status_string(status));
        return status;
    }
    c->msg = malloc(c->o->size);
    if (c->msg == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    memset(c->msg, (int)(0xa0 + rank), c->o->size);
    memcpy(c->msg, &r, sizeof(r));
    return UCPG_OK;
}

static void shb_child_cleanup(shb_child_t *c)
{
    if (c->have_writer) {
        ucpg_shm_log_writer_close(&c->w);
    }
    if (c->have_reader) {
        ucpg_shm_log_reader_close(&c->r);  /* else writers would wait for us */
    }
    ucpg_shm_log_detach(c->log);
    free(c->msg);
}

/* Waits for the start; 0 if the parent gave up (EOF) instead. */
static int shb_child_barrier(const shb_pipes_t *p, int ready)
{
    char byte = ready ? 'R' : 'E';
    ssize_t n;

    if (write(p->ready[1], &byte, 1) != 1) {
        return 0;
    }
    do {
        n = read(p->go[0], &byte, 1);
    } while ((n < 0) && (errno == EINTR));
    return ready && (n == 1);
}

static void shb_child_main(const shb_opts_t *o, unsigned rank, const ucpg_shm_offer_t *offer,
                           ucpg_shm_log_t *inherited, const shb_pipes_t *p)
{
    static shb_child_t c;
    int status = SHB_EXIT_SETUP;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(p->ready[0]);
    close(p->go[1]);
    close(p->result[0]);
    c.o        = o;
    c.res.rank = rank;
    c.sender   = (rank < o->senders);
    if (shb_child_barrier(p, shb_child_setup(&c, rank, offer, inherited) == UCPG_OK)) {
        status = shb_child_run(&c);
    }
    c.res.status = status;
    if (write(p->result[1], &c.res, sizeof(c.res)) != (ssize_t)sizeof(c.res)) {
        status = (status == SHB_EXIT_OK) ? SHB_EXIT_DATA : status;
    }
    shb_child_cleanup(&c);
    _exit(status);
}

/* ---- the parent: start, collect, reap --------------------------------------------------- */

/* Forks the children; how many were started. */
static unsigned shb_fork(const shb_opts_t *o, ucpg_shm_log_t *log, const shb_pipes_t *p,
                         pid_t *pids)
{
    ucpg_shm_offer_t offer;
    unsigned rank;

    ucpg_shm_log_offer(log, &offer);
    fflush(stdout);
    fflush(stderr);
    for (rank = 0; rank < o->procs; rank++) {
        pids[rank] = fork();
        if (pids[rank] == 0) {
            shb_child_main(o, rank, &offer, log, p);
        }
        if (pids[rank] < 0) {
            fprintf(stderr, "shm_log_bench: fork: %s\n", strerror(errno));
            break;
        }
    }
    return rank;
}

/* Waits until every child's reader is open, then starts them all; 0 if
 * one failed or did not answer in time (the children see EOF on "go"). */
static int shb_start(const shb_opts_t *o, const shb_pipes_t *p)
{
    int64_t until = shb_now_ns() + (int64_t)SHB_START_S * SHB_NS;
    struct pollfd pfd = {p->ready[0], POLLIN, 0};
    unsigned ready = 0, i;
    char byte;

    while (ready < o->procs) {
        int ms = (int)((until - shb_now_ns()) / 1000000);

        if ((ms <= 0) || (poll(&pfd, 1, ms) <= 0) || (read(p->ready[0], &byte, 1) != 1) ||
            (byte != 'R')) {
            fprintf(stderr, "shm_log_bench: %u of %u children ready: giving up\n", ready,
                    o->procs);
            return 0;
        }
        ready++;
    }
    for (i = 0; i < o->procs; i++) {
        if (write(p->go[1], "g", 1) != 1) {
            return 0;
        }
    }
    return 1;
}

/* Reads whatever results the pipe holds now. */
static void shb_read_results(int fd, shb_result_t *res, int *have, unsigned procs, int wait_ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    shb_result_t one;

    while ((poll(&pfd, 1, wait_ms) > 0) && (read(fd, &one, sizeof(one)) == (ssize_t)sizeof(one))) {
        if (one.rank < procs) {
            res[one.rank]  = one;
            have[one.rank] = 1;
        }
        wait_ms = 0;
    }
}

/* Reaps the forked children, gathering results meanwhile; those still
 * running at until are killed (killed[rank] set) and reaped too. */
static void shb_collect(unsigned forked, const pid_t *pids, int fd, int64_t until,
                        shb_result_t *res, int *have, int *wstatus, int *killed)
{
    unsigned left = forked, r;
    pid_t pid;
    int st;

    while (left > 0) {
        shb_read_results(fd, res, have, forked, 100);
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (r = 0; (r < forked) && (pids[r] != pid); r++) {
            }
            if (r < forked) {
                wstatus[r] = st;
                left--;
            }
        }
        if ((left > 0) && (shb_now_ns() >= until)) {
            for (r = 0; r < forked; r++) {
                if ((wstatus[r] != -1) || (waitpid(pids[r], &wstatus[r], WNOHANG) > 0)) {
                    continue;
                }
                fprintf(stderr, "shm_log_bench: child %u (pid %d) still running: killed\n", r,
                        (int)pids[r]);
                kill(pids[r], SIGKILL);
                waitpid(pids[r], &wstatus[r], 0);
                killed[r] = 1;
            }
            left = 0;
        }
    }
    shb_read_results(fd, res, have, forked, 0);  /* written before their exit */
}

/* ---- the parent: results ------------------------------------------------------------------ */

/* The worse of two statuses: a setup error, then a timeout, then data. */
static int shb_worse(int a, int b)
{
    static const int rank[] = {0, 0, 3, 1, 2};   /* by SHB_EXIT_* */

    return (rank[b] > rank[a]) ? b : a;
}

/* Combines the children's statuses; marks those that sent no result. */
static int shb_status(const shb_opts_t *o, shb_result_t *res, const int *have,
                      const int *wstatus, const int *killed)
{
    int status = SHB_EXIT_OK, st;
    unsigned r;

    for (r = 0; r < o->procs; r++) {
        st = wstatus[r];
        if (!have[r]) {
            res[r].status = killed[r] ? SHB_EXIT_TIMEOUT :
                            (WIFEXITED(st) && (WEXITSTATUS(st) == SHB_EXIT_SETUP)) ?
                            SHB_EXIT_SETUP : SHB_EXIT_DATA;
            fprintf(stderr, "shm_log_bench: child %u sent no result (%s %d)\n", r,
                    killed[r] ? "killed at the deadline, signal" :
                    WIFEXITED(st) ? "exit status" : "killed by signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        } else if (res[r].status != SHB_EXIT_OK) {
            fprintf(stderr, "shm_log_bench: child %u failed (exit status %d)\n", r,
                    res[r].status);
        }
        if ((res[r].status >= SHB_EXIT_OK) && (res[r].status <= SHB_EXIT_TIMEOUT)) {
            status = shb_worse(status, res[r].status);
        } else {
            status = shb_worse(status, SHB_EXIT_DATA);
        }
    }
    return status;
}

static double shb_rate(const shb_result_t *res)
{
    if ((res->delivered == 0) || (res->last_ns <= res->first_ns)) {
        return 0.0;
    }
    return (double)res->delivered * 1e9 / (double)(res->last_ns - res->first_ns);
}

/* Prints the numbers; SHB_EXIT_DATA if a reader did not read every message. */
static int shb_report(const shb_opts_t *o, const shb_result_t *res)
{
    uint64_t sent = 0, errors = 0, deliveries = 0, rings = 0;
    double slow = -1.0, rate, cpu_us = 0.0, ns_per;
    int status = SHB_EXIT_OK;
    unsigned r;

    for (r = 0; r < o->procs; r++) {
        sent += res[r].sent;
        rings += res[r].rings;
    }
    for (r = 0; r < o->procs; r++) {
        errors += res[r].errors;
        deliveries += res[r].delivered;
        cpu_us += (double)res[r].cpu_ns / 1e3;
        rate = shb_rate(&res[r]);
        slow = ((slow < 0) || (rate < slow)) ? rate : slow;
        if (res[r].delivered != sent) {
            fprintf(stderr, "shm_log_bench: child %u read %" PRIu64 " of %" PRIu64
                    " messages\n", r, res[r].delivered, sent);
            status = SHB_EXIT_DATA;
        }
    }
    ns_per = (deliveries > 0) ? cpu_us * 1e3 / (double)deliveries : 0.0;
    printf("shm_log_bench: %u process(es), %u sender(s), %zu B, %u s: slowest reader %.0f"
           " msgs/s; CPU %.1f ns per delivered message; sent %" PRIu64 ", %" PRIu64
           " errors%s\n", o->procs, o->senders, o->size, o->secs, slow, ns_per, sent, errors,
           o->block ? "; blocking readers" : "");
    printf("RESULT procs=%u senders=%u size=%zu secs=%u msgs_per_s=%.0f deliveries=%" PRIu64
           " cpu_us=%.0f ns_per_delivery=%.1f sent=%" PRIu64 " errors=%" PRIu64
           " blocking=%d rings=%" PRIu64 "\n", o->procs, o->senders, o->size, o->secs, slow,
           deliveries, cpu_us, ns_per, sent, errors, o->block, rings);
    fflush(stdout);
    return ((status == SHB_EXIT_OK) && (errors > 0)) ? SHB_EXIT_DATA : status;
}

/* ---- options and main ------------------------------------------------------------------- */

static void shb_usage(FILE *stream)
{
    fprintf(stream,
            "usage: shm_log_bench [-p PROCS] [-s BYTES] [-t SEC] [-c CAPACITY_KIB] [-S SENDERS]"
            " [-b]\n"
            "  -p PROCS         processes, each a reader of every entry (default 8, 1..%u)\n"
            "  -s BYTES         message size, >= %u, at most a quarter of the ring less 16\n"
            "                   (default 64)\n"
            "  -t SEC           flood duration (default 3)\n"
            "  -c CAPACITY_KIB  ring size in KiB, a power of two >= 4 (default 1024)\n"
            "  -S SENDERS       processes 0..SENDERS-1 also append (default PROCS)\n"
            "  -b               a reader that does not send sleeps (50 us) when it is idle,\n"
            "                   after asking commits to wake it\n"
            "  -h               this help\n"
            "Exit status: 0 ok, 1 usage, 2 setup error, 3 FIFO error or lost messages,"
            " 4 timeout.\n", SHB_MAX_PROCS, SHB_MSG_HDR);
}

/* -p -s -t -S: a number in the option's range; -c: a power of two; -b. */
static int shb_parse_opt(shb_opts_t *o, int opt, const char *arg)
{
    static const struct {
        int           opt;
        unsigned long min, max;
    } range[] = {
        {'p', 1, SHB_MAX_PROCS}, {'s', SHB_MSG_HDR, UINT32_MAX}, {'t', 1, 3600},
        {'S', 1, SHB_MAX_PROCS}, {'c', UCPG_SHM_LOG_MIN_CAP / 1024, UCPG_SHM_LOG_MAX_CAP / 1024},
    };
    size_t i, n = sizeof(range) / sizeof(range[0]);
    unsigned long v;

    if (opt == 'b') {
        o->block = 1;
        return 0;
    }
    for (i = 0; (i < n) && (range[i].opt != opt); i++) {
    }
    if ((i == n) || (contrib_parse_ulong(arg, range[i].min, range[i].max, &v) != 0)) {
        return -1;
    }
    switch (opt) {
    case 'p': o->procs = (unsigned)v; break;
    case 's': o->size = v; break;
    case 't': o->secs = (unsigned)v; break;
    case 'S': o->senders = (unsigned)v; break;
    default:
        if ((v & (v - 1)) != 0) {
            return -1;                   /* positions map to the ring by a mask */
        }
        o->capacity = (size_t)v * 1024;
        break;
    }
    return 0;
}

static int shb_parse_args(int argc, char **argv, shb_opts_t *o)
{
    int opt;

    memset(o, 0, sizeof(*o));
    o->procs    = 8;
    o->size     = 64;
    o->secs     = 3;
    o->capacity = 1024 * 1024;
    while ((opt = getopt(argc, argv, "p:s:t:c:S:bh")) != -1) {
        if (opt == 'h') {
            shb_usage(stdout);
            exit(SHB_EXIT_OK);
        }
        if (shb_parse_opt(o, opt, optarg) != 0) {
            if (optarg != NULL) {
                fprintf(stderr, "shm_log_bench: invalid value for -%c: %s\n", opt, optarg);
            }
            return -1;
        }
    }
    o->senders = (o->senders == 0) ? o->procs : o->senders;
    if (optind != argc) {
        return -1;
    }
    if (o->senders > o->procs) {
        fprintf(stderr, "shm_log_bench: -S %u is more than -p %u\n", o->senders, o->procs);
        return -1;
    }
    if (o->size > o->capacity / 4 - UCPG_SHM_LOG_ENTRY_HDR) {
        fprintf(stderr, "shm_log_bench: -s %zu does not fit a ring of %zu KiB\n", o->size,
                o->capacity / 1024);
        return -1;
    }
    return 0;
}

static int shb_pipes_open(shb_pipes_t *p)
{
    if ((pipe(p->ready) == 0) && (pipe(p->go) == 0) && (pipe(p->result) == 0)) {
        return 0;
    }
    fprintf(stderr, "shm_log_bench: pipe: %s\n", strerror(errno));
    return -1;
}

/* Forks, starts, collects and reaps the children; the exit status. */
static int shb_run(const shb_opts_t *o, ucpg_shm_log_t *log, const shb_pipes_t *p)
{
    static shb_result_t res[SHB_MAX_PROCS];
    static pid_t pids[SHB_MAX_PROCS];
    int have[SHB_MAX_PROCS] = {0}, killed[SHB_MAX_PROCS] = {0}, wstatus[SHB_MAX_PROCS];
    unsigned forked = shb_fork(o, log, p, pids), r;
    int started, status;

    for (r = 0; r < SHB_MAX_PROCS; r++) {
        wstatus[r] = -1;
    }
    close(p->ready[1]);
    close(p->go[0]);
    close(p->result[1]);
    started = (forked == o->procs) && shb_start(o, p);
    close(p->go[1]);                     /* EOF: children not started give up */
    shb_collect(forked, pids, p->result[0],
                shb_now_ns() + (int64_t)(started ? o->secs + SHB_KILL_S : SHB_START_S) * SHB_NS,
                res, have, wstatus, killed);
    if (!started) {
        return SHB_EXIT_SETUP;
    }
    status = shb_status(o, res, have, wstatus, killed);
    for (r = 0; r < o->procs; r++) {
        if (!have[r] || ((res[r].status != SHB_EXIT_OK) && (res[r].status != SHB_EXIT_DATA))) {
            return status;               /* no complete numbers to show */
        }
    }
    return shb_worse(status, shb_report(o, res));
}

int main(int argc, char **argv)
{
    static shb_opts_t opts;
    ucpg_shm_log_t *log;
    ucpg_status_t st;
    shb_pipes_t pipes;
    int status;

    if (shb_parse_args(argc, argv, &opts) != 0) {
        shb_usage(stderr);
        return SHB_EXIT_USAGE;
    }
    st = ucpg_shm_log_create(opts.capacity, &log);
    if (st != UCPG_OK) {
        fprintf(stderr, "shm_log_bench: cannot create a log of %zu KiB: %s\n",
                opts.capacity / 1024, ucpg_status_string(st));
        return SHB_EXIT_SETUP;
    }
    if (shb_pipes_open(&pipes) != 0) {
        ucpg_shm_log_detach(log);
        return SHB_EXIT_SETUP;
    }
    /* The parent stays attached until its children are done: the segment is
     * marked for removal and would go with the last process detached. */
    status = shb_run(&opts, log, &pipes);
    close(pipes.ready[0]);
    close(pipes.result[0]);
    ucpg_shm_log_detach(log);
    return status;
}
