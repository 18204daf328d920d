/*
 * cpg_bench - CPG throughput and latency benchmark on the public corosync CPG
 * API only.
 *
 *   cpg_bench -m thr [-p MEMBERS] [-s BYTES] [-t SEC] [-a] [common options]
 *   cpg_bench -m lat [-p MEMBERS] [-s BYTES] [-n ITERS] [-w WARMUP] [-b] [common options]
 *   common options: [-g GROUP] [-T SEC] [-V] [-M] [-c]
 *
 * Built against <corosync/cpg.h> with -lcpg, the same binary runs with
 * corosync's libcpg.so.4 or with ucx_cpg's ABI-compatible one: the library is
 * chosen at run time by LD_LIBRARY_PATH (see contrib/bench/cpg_compare.sh).
 *
 * The program starts MEMBERS processes itself: it forks MEMBERS-1 children
 * before any CPG handle exists (rank 0 is the parent); every process opens its
 * own handle with cpg_model_initialize and joins GROUP (default
 * "cpg_bench.<pid of rank 0>", length without NUL). Senders start only after
 * they have seen a confchg with MEMBERS members, so every member is in the
 * group before the first message (confchg and messages are one total order).
 *
 *   -m thr   throughput. Rank 0 (with -a: every rank) multicasts BYTES-sized
 *            messages (CPG_TYPE_AGREED) back to back for SEC seconds (-t,
 *            default 5), retrying CS_ERR_TRY_AGAIN (counted as "retries"),
 *            then an END message carrying its count. A dispatch thread per
 *            process (poll on cpg_fd_get + CS_DISPATCH_ALL, woken through a
 *            pipe to stop) receives. Reported: msgs/s and MB/s (MB = 10^6 B)
 *            of the slowest receiver, each receiver timed from its first
 *            delivery of the flood to the END that follows its last message
 *            ((count-1)/span; with one sender the sender itself is not a
 *            receiver unless MEMBERS is 1), and the
 *            same for the sender's own deliveries (rank 0). With -a the rate
 *            is the aggregate of all senders as delivered to the slowest
 *            member, and the fairness between the senders is reported as
 *            the fewest and the most messages one sender got ordered
 *            ("sent_min", "sent_max").
 *   -m lat   latency. Rank 0 multicasts one message, waits for its own
 *            delivery in the same thread (poll + CS_DISPATCH_ALL; -b: busy
 *            CS_DISPATCH_ALL without poll) and records send -> own delivery
 *            (CLOCK_MONOTONIC), WARMUP (-w, default 100) untimed then ITERS
 *            (-n, default 10000) timed times; the other members only
 *            dispatch. Reported: min/p50/p90/p99/max/mean in microseconds
 *            (nearest-rank percentiles).
 *
 * Every receiver checks every message: a 32-byte header (magic, kind,
 * sender rank, size, sequence number, and a stamp), the length, the sender's
 * (nodeid, pid) staying the same, a per-rank byte pattern in the body (-V
 * skips the body) and a trailing copy of the sequence number (BYTES >= 40);
 * END carries the sender's count. A gap, duplicate, corrupted or foreign
 * message, or a sender leaving before its END, is a data error. BYTES must
 * be at least 32 (default 64).
 *
 * Output: one line per result for humans; with -M also a machine line
 *   RESULT mode=thr size=64 members=2 senders=1 secs=5 msgs_per_s=... MB_per_s=...
 *          own_msgs_per_s=... own_MB_per_s=... sent=... retries=... errors=0
 *          deliveries=... cpu_us=... sent_min=... sent_max=...
 * (thr also reports the CPU time of all member processes, every thread and
 * user + system, from their join to the last END, and divides it by the
 * messages delivered in all: the CPU cost per delivered message; a daemon's
 * CPU, corosync's, is not seen here: cpg_compare.sh adds it)
 *   RESULT mode=lat size=64 members=2 iters=10000 min_us=... p50_us=... p90_us=...
 *          p99_us=... max_us=... mean_us=... errors=0
 * (each on one line). Diagnostics go to stderr, prefixed "cpg_bench[rank]".
 *
 * -c binds member r (every thread it has, the library's too: before
 * cpg_initialize) to the r-th CPU of those the program may use, round robin,
 * as mpirun binds ranks; both libraries are measured alike with it.
 *
 * Bounded: every wait has the deadline of -T (default 120 s, counted from the
 * start); on timeout the program says what was missing and exits 3. Children
 * die with the parent (PR_SET_PDEATHSIG) and are all reaped.
 *
 * Exit status: 0 success, 1 CPG error (or a member failed), 2 data error
 * (gap/duplicate/corruption), 3 timeout, 4 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>

#include "../cpg/cs_error_name.h"
#include "../contrib_args.h"

enum {
    BENCH_EXIT_OK      = 0,
    BENCH_EXIT_CPG     = 1,
    BENCH_EXIT_DATA    = 2,
    BENCH_EXIT_TIMEOUT = 3,
    BENCH_EXIT_USAGE   = 4
};

#define BENCH_MAGIC           0x43504742u   /* "CPGB" */
#define BENCH_KIND_DATA       1u
#define BENCH_KIND_END        2u
#define BENCH_MIN_SIZE        32u
#define BENCH_TRAILER_MIN     40u           /* from this size on the last 8 bytes = seq */
#define BENCH_MAX_SIZE        (64ul << 20)
#define BENCH_MAX_MEMBERS     64u
#define BENCH_PATTERN_SPAN    256u
#define BENCH_SLICE_MS        100           /* wake-up period of every wait */
#define BENCH_REAP_GRACE_MS   5000          /* children get this long past -T */
#define BENCH_DISPATCH_STACK  (8ul << 20)   /* corosync's dispatch needs > 1 MiB */
#define BENCH_ERRMSG          192
#define BENCH_NS              1000000000LL

typedef enum { MODE_THR, MODE_LAT } bench_mode_t;

typedef struct bench_opts {
    bench_mode_t  mode;
    unsigned      members;     /* -p */
    size_t        size;        /* -s */
    unsigned      secs;        /* -t */
    int           all_send;    /* -a */
    unsigned long iters;       /* -n */
    unsigned long warmup;      /* -w */
    int           busy;        /* -b */
    unsigned      timeout_s;   /* -T */
    int           verify_body; /* !-V */
    int           machine;     /* -M */
    int           pin;         /* -c */
    cpu_set_t     cpus;        /* -c: the CPUs the program may use, taken at start */
    char          group[CPG_MAX_NAME_LENGTH + 1];
} bench_opts_t;

typedef struct bench_hdr {
    uint32_t magic;
    uint32_t kind;
    uint32_t rank;
    uint32_t size;
    uint64_t seq;     /* DATA: sequence number from 0; END: number of DATA sent */
    uint64_t stamp;   /* sender's CLOCK_MONOTONIC ns in lat mode, 0 in thr (informational) */
} bench_hdr_t;

/* What a receiver knows about one sender rank. */
typedef struct bench_track {
    uint64_t next_seq;
    uint32_t nodeid, pid;
    int      seen, ended;
} bench_track_t;

/* One member's result; children send it to rank 0 through a pipe (< PIPE_BUF). */
typedef struct bench_result {
    uint32_t rank;
    int32_t  status;          /* BENCH_EXIT_* of this member */
    uint64_t delivered;       /* DATA messages delivered (all senders) */
    uint64_t own_delivered;
    uint64_t sent, retries, data_errors;
    int64_t  first_ns, last_ns, own_first_ns, own_last_ns;
    int64_t  cpu_ns;          /* thr: CPU of the whole process (all threads,
                               * the library's too) from joined to the END */
    char     msg[BENCH_ERRMSG];
} bench_result_t;

typedef struct bench_member {
    const bench_opts_t *o;
    unsigned            rank;
    cpg_handle_t        handle;
    int                 have_handle;
    int                 fd;
    struct cpg_name     group;
    unsigned int        nodeid;
    uint32_t            pid;
    int64_t             deadline_ns;
    int64_t             next_check_ns; /* rank 0 (lat): next look at the children */
    unsigned            senders;   /* ranks 0..senders-1 send */
    /* shared between the dispatch thread and the main thread (thr mode) */
    pthread_mutex_t     lock;
    pthread_cond_t      cond;
    unsigned            members_now;
    int                 all_joined;
    unsigned            ends_seen;
    int                 failed;        /* CPG error or data error in the dispatch thread */
    int                 stop;
    int                 wake[2];
    /* dispatch-side data (read by the main thread after the thread ended) */
    bench_track_t       track[BENCH_MAX_MEMBERS];
    uint64_t            lat_seen;      /* lat: own DATA seq + 1 last delivered */
    int64_t             lat_deliver_ns;
    bench_result_t      res;
    unsigned char      *sendbuf;
} bench_member_t;

static bench_member_t g_member;            /* the one member of this process */
static const unsigned char *g_pattern;     /* BENCH_PATTERN_SPAN + size bytes */
static pid_t g_children[BENCH_MAX_MEMBERS];
static int g_child_status[BENCH_MAX_MEMBERS]; /* -1 = not reaped yet */
static int g_joining = 1;                  /* rank 0: still waiting for members */
static pthread_mutex_t g_fail_lock = PTHREAD_MUTEX_INITIALIZER;   /* m->res.msg/status */

/* ---- small helpers ------------------------------------------------------------ */

static int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * BENCH_NS + ts.tv_nsec;
}

static void bench_sleep_us(unsigned us)
{
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000L};

    while ((nanosleep(&ts, &ts) != 0) && (errno == EINTR)) {
    }
}

/* Records a member failure: the first message is kept for the result. */
static void bench_fail(bench_member_t *m, int status, const char *fmt, ...)
{
    char line[BENCH_ERRMSG];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "cpg_bench[%u]: %s\n", m->rank, line);
    pthread_mutex_lock(&g_fail_lock);
    if (m->res.msg[0] == '\0') {
        snprintf(m->res.msg, sizeof(m->res.msg), "%s", line);
    }
    /* data errors win over timeouts, timeouts over CPG errors */
    if ((m->res.status == BENCH_EXIT_OK) || (status == BENCH_EXIT_DATA) ||
        ((status == BENCH_EXIT_TIMEOUT) && (m->res.status == BENCH_EXIT_CPG))) {
        m->res.status = status;
    }
    pthread_mutex_unlock(&g_fail_lock);
}

static void bench_cs_fail(bench_member_t *m, const char *what, cs_error_t err)
{
    bench_fail(m, BENCH_EXIT_CPG, "%s: %s (%d)%s", what, cpg_cs_error_name(err), (int)err,
               (err == CS_ERR_LIBRARY) ? " - is the CPG service running?" : "");
}

static const unsigned char *bench_body_pattern(unsigned rank)
{
    return g_pattern + (rank * 37u) % BENCH_PATTERN_SPAN;
}

static size_t bench_body_len(size_t size)
{
    return size - sizeof(bench_hdr_t) - ((size >= BENCH_TRAILER_MIN) ? sizeof(uint64_t) : 0);
}

static unsigned char *bench_make_pattern(size_t size)
{
    size_t i, n = BENCH_PATTERN_SPAN + size;
    unsigned char *p = malloc(n);

    if (p != NULL) {
        for (i = 0; i < n; i++) {
            p[i] = (unsigned char)((i * 131u) ^ (i >> 8) ^ 0x5a);
        }
    }
    return p;
}

/* ---- receive side: checks and counters (run in the dispatching thread) --------- */

static void bench_data_error(bench_member_t *m, const char *fmt, ...)
{
    char line[BENCH_ERRMSG];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (m->res.data_errors++ < 10) {   /* the first ten are told, all are counted */
        bench_fail(m, BENCH_EXIT_DATA, "data error: %s", line);
    }
}

static int bench_check_body(bench_member_t *m, const bench_hdr_t *h, const unsigned char *msg,
                            size_t len)
{
    uint64_t trailer;

    if (len >= BENCH_TRAILER_MIN) {
        memcpy(&trailer, msg + len - sizeof(trailer), sizeof(trailer));
        if (trailer != h->seq) {
            bench_data_error(m, "rank %u seq %" PRIu64 ": trailer says %" PRIu64, h->rank,
                             h->seq, trailer);
            return -1;
        }
    }
    if (m->o->verify_body &&
        (memcmp(msg + sizeof(*h), bench_body_pattern(h->rank), bench_body_len(len)) != 0)) {
        bench_data_error(m, "rank %u seq %" PRIu64 ": corrupted body", h->rank, h->seq);
        return -1;
    }
    return 0;
}

/*
 * The clock is read where a result needs it: at a member's first delivery
 * and first own delivery, in lat mode at every own delivery, and at each
 * END (bench_on_end), which comes right after its sender's last message. A
 * read per delivered message was 4% of all CPU with 8 ucx_cpg members: the
 * benchmark's cost, not the library's.
 */
static void bench_count(bench_member_t *m, const bench_hdr_t *h)
{
    bench_result_t *r = &m->res;
    int own           = (h->rank == m->rank);
    int64_t now       = 0;

    if ((r->delivered == 0) || (own && ((m->o->mode == MODE_LAT) || (r->own_delivered == 0)))) {
        now = bench_now_ns();
    }
    if (r->delivered++ == 0) {
        r->first_ns = now;
        r->last_ns  = now;
    }
    if (own) {
        if (r->own_delivered++ == 0) {
            r->own_first_ns = now;
            r->own_last_ns  = now;
        }
        m->lat_seen       = h->seq + 1;
        m->lat_deliver_ns = now;
    }
}

/* The end of a sender's flood: the span of what was counted ends here. */
static void bench_stamp_end(bench_member_t *m, const bench_hdr_t *h)
{
    bench_result_t *r = &m->res;
    int64_t now       = bench_now_ns();

    if (r->delivered > 1) {
        r->last_ns = now;
    }
    if ((h->rank == m->rank) && (r->own_delivered > 1)) {
        r->own_last_ns = now;
    }
}

static void bench_on_data(bench_member_t *m, bench_track_t *t, const bench_hdr_t *h,
                          const unsigned char *msg, size_t len)
{
    if ((len != m->o->size) || (h->size != len)) {
        bench_data_error(m, "rank %u seq %" PRIu64 ": length %zu, header %u, expected %zu",
                         h->rank, h->seq, len, h->size, m->o->size);
        return;
    }
    if (h->seq != t->next_seq) {
        if (h->seq < t->next_seq) {
            bench_data_error(m, "rank %u: duplicate or reordered seq %" PRIu64
                             " (expected %" PRIu64 ")", h->rank, h->seq, t->next_seq);
            return;
        }
        bench_data_error(m, "rank %u: gap: seq %" PRIu64 " after %" PRIu64 " (%" PRIu64
                         " missing)", h->rank, h->seq, t->next_seq, h->seq - t->next_seq);
    }
    t->next_seq = h->seq + 1;
    if (bench_check_body(m, h, msg, len) == 0) {
        bench_count(m, h);
    }
}

static void bench_on_end(bench_member_t *m, bench_track_t *t, const bench_hdr_t *h, size_t len)
{
    if (len != sizeof(*h)) {
        bench_data_error(m, "rank %u: END of %zu bytes", h->rank, len);
    }
    if (h->seq != t->next_seq) {
        bench_data_error(m, "rank %u: END says %" PRIu64 " messages, %" PRIu64
                         " arrived in sequence", h->rank, h->seq, t->next_seq);
    }
    bench_stamp_end(m, h);
    pthread_mutex_lock(&m->lock);
    t->ended = 1;
    m->ends_seen++;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

static void bench_deliver(cpg_handle_t handle, const struct cpg_name *group_name,
                          uint32_t nodeid, uint32_t pid, void *msg, size_t msg_len)
{
    bench_member_t *m = &g_member;
    bench_track_t *t;
    bench_hdr_t h;

    (void)handle;
    (void)group_name;
    if (msg_len < sizeof(h)) {
        bench_data_error(m, "message of %zu bytes from %u/%u", msg_len, nodeid, pid);
        return;
    }
    memcpy(&h, msg, sizeof(h));
    if ((h.magic != BENCH_MAGIC) || (h.rank >= m->senders) ||
        ((h.kind != BENCH_KIND_DATA) && (h.kind != BENCH_KIND_END))) {
        bench_data_error(m, "foreign or corrupted message from %u/%u (magic %08x rank %u kind %u)",
                         nodeid, pid, h.magic, h.rank, h.kind);
        return;
    }
    t = &m->track[h.rank];
    if (!t->seen) {
        t->seen   = 1;
        t->nodeid = nodeid;
        t->pid    = pid;
    } else if ((t->nodeid != nodeid) || (t->pid != pid)) {
        bench_data_error(m, "rank %u sent by %u/%u, earlier by %u/%u", h.rank, nodeid, pid,
                         t->nodeid, t->pid);
        return;
    }
    if (t->ended) {
        bench_data_error(m, "rank %u: message after its END", h.rank);
        return;
    }
    if (h.kind == BENCH_KIND_DATA) {
        bench_on_data(m, t, &h, msg, msg_len);
    } else {
        bench_on_end(m, t, &h, msg_len);
    }
}

static void bench_confchg(cpg_handle_t handle, const struct cpg_name *group_name,
                          const struct cpg_address *member_list, size_t member_list_entries,
                          const struct cpg_address *left_list, size_t left_list_entries,
                          const struct cpg_address *joined_list, size_t joined_list_entries)
{
    bench_member_t *m = &g_member;
    size_t i;
    unsigned r;

    (void)handle;
    (void)group_name;
    (void)member_list;
    (void)joined_list;
    (void)joined_list_entries;
    pthread_mutex_lock(&m->lock);
    m->members_now = (unsigned)member_list_entries;
    if (m->members_now >= m->o->members) {
        m->all_joined = 1;
    }
    for (i = 0; i < left_list_entries; i++) {
        if ((left_list[i].nodeid == m->nodeid) && (left_list[i].pid == m->pid)) {
            bench_fail(m, BENCH_EXIT_CPG, "removed from the group (reason %u)",
                       left_list[i].reason);
            m->failed = 1;
        }
        for (r = 0; r < m->senders; r++) {
            bench_track_t *t = &m->track[r];

            if (t->seen && !t->ended && (t->nodeid == left_list[i].nodeid) &&
                (t->pid == left_list[i].pid)) {
                bench_data_error(m, "rank %u (%u/%u) left (reason %u) before its END", r,
                                 t->nodeid, t->pid, left_list[i].reason);
                m->failed = 1;
            }
        }
    }
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

/* ---- handle set-up ------------------------------------------------------------- */

/* Retries a call on CS_ERR_TRY_AGAIN until the deadline. */
static int bench_again(bench_member_t *m, cs_error_t err)
{
    if ((err != CS_ERR_TRY_AGAIN) || (bench_now_ns() >= m->deadline_ns)) {
        return 0;
    }
    bench_sleep_us(1000);
    return 1;
}

static int bench_open(bench_member_t *m)
{
    cpg_model_v1_data_t model = {
        .model          = CPG_MODEL_V1,
        .cpg_deliver_fn = bench_deliver,
        .cpg_confchg_fn = bench_confchg,
    };
    size_t len = strlen(m->o->group);
    cs_error_t err;

    memset(&m->group, 0, sizeof(m->group));
    memcpy(m->group.value, m->o->group, len);
    m->group.length = (uint32_t)len;
    do {
        err = cpg_model_initialize(&m->handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, m);
    } while (bench_again(m, err));
    if (err != CS_OK) {
        bench_cs_fail(m, "cpg_model_initialize", err);
        return -1;
    }
    m->have_handle = 1;
    if ((err = cpg_fd_get(m->handle, &m->fd)) != CS_OK) {
        bench_cs_fail(m, "cpg_fd_get", err);
        return -1;
    }
    do {
        err = cpg_local_get(m->handle, &m->nodeid);
    } while (bench_again(m, err));
    if (err != CS_OK) {
        bench_cs_fail(m, "cpg_local_get", err);
        return -1;
    }
    m->pid = (uint32_t)getpid();
    do {
        err = cpg_join(m->handle, &m->group);
    } while (bench_again(m, err));
    if (err != CS_OK) {
        bench_cs_fail(m, "cpg_join", err);
        return -1;
    }
    return 0;
}

static void bench_close(bench_member_t *m)
{
    cs_error_t err;

    if (m->have_handle) {
        err = cpg_finalize(m->handle);
        if (err != CS_OK) {
            bench_cs_fail(m, "cpg_finalize", err);
        }
        m->have_handle = 0;
    }
}

/* ---- rank 0: watching the children while waiting -------------------------------- */

/* Reaps exited children without blocking; -1 if one failed (or left too early). */
static int bench_children_check(bench_member_t *m)
{
    unsigned r;
    int status;

    if (m->rank != 0) {
        return 0;
    }
    for (r = 1; r < m->o->members; r++) {
        if ((g_child_status[r] != -1) || (waitpid(g_children[r], &status, WNOHANG) <= 0)) {
            continue;
        }
        g_child_status[r] = status;
        if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0) || g_joining) {
            bench_fail(m, BENCH_EXIT_CPG, "rank %u (pid %d) ended early (%s %d)", r,
                       (int)g_children[r], WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return -1;
        }
    }
    return 0;
}

/* ---- the dispatch thread (thr mode) ------------------------------------------------ */

static void *bench_dispatch_main(void *arg)
{
    bench_member_t *m = arg;
    struct pollfd pfd[2] = {{m->fd, POLLIN, 0}, {m->wake[0], POLLIN, 0}};
    cs_error_t err;

    pthread_setname_np(pthread_self(), "bench-dispatch");
    for (;;) {
        int n = poll(pfd, 2, 1000);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            bench_fail(m, BENCH_EXIT_CPG, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents != 0) {
            break;   /* asked to stop */
        }
        if (pfd[0].revents != 0) {
            err = cpg_dispatch(m->handle, CS_DISPATCH_ALL);
            if (err != CS_OK) {
                bench_cs_fail(m, "cpg_dispatch", err);
                break;
            }
        }
    }
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    if (m->res.status != BENCH_EXIT_OK) {
        m->failed = 1;
    }
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static int bench_dispatch_start(bench_member_t *m, pthread_t *tid)
{
    pthread_attr_t attr;
    int rc;

    if (pipe2(m->wake, O_CLOEXEC) != 0) {
        bench_fail(m, BENCH_EXIT_CPG, "pipe: %s", strerror(errno));
        return -1;
    }
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, BENCH_DISPATCH_STACK);
    rc = pthread_create(tid, &attr, bench_dispatch_main, m);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        bench_fail(m, BENCH_EXIT_CPG, "pthread_create: %s", strerror(rc));
        return -1;
    }
    return 0;
}

static void bench_dispatch_stop(bench_member_t *m, pthread_t tid)
{
    char c = 's';

    if (write(m->wake[1], &c, 1) != 1) {
        bench_fail(m, BENCH_EXIT_CPG, "wake-up write: %s", strerror(errno));
    }
    pthread_join(tid, NULL);
    close(m->wake[0]);
    close(m->wake[1]);
}

typedef int (*bench_pred_t)(const bench_member_t *m);

static int bench_pred_joined(const bench_member_t *m) { return m->all_joined; }
static int bench_pred_ends(const bench_member_t *m) { return m->ends_seen >= m->senders; }
static int bench_pred_own_end(const bench_member_t *m) { return m->track[m->rank].ended; }
static int bench_pred_own_seq(const bench_member_t *m) { return m->lat_seen == m->res.sent; }

static void bench_report_missing(bench_member_t *m, const char *what)
{
    unsigned r;
    char missing[BENCH_ERRMSG] = "";
    size_t off = 0;

    for (r = 0; (r < m->senders) && (off < sizeof(missing) - 32); r++) {
        if (!m->track[r].ended) {
            off += (size_t)snprintf(missing + off, sizeof(missing) - off, " %u(%" PRIu64 " in)",
                                    r, m->track[r].next_seq);
        }
    }
    bench_fail(m, BENCH_EXIT_TIMEOUT, "timeout (-T %u) waiting for %s: members %u of %u;"
               " no END yet from rank(s)%s", m->o->timeout_s, what, m->members_now,
               m->o->members, missing[0] ? missing : " -");
}

/* thr mode: waits (main thread) until pred holds, a failure, or the deadline. */
static int bench_wait(bench_member_t *m, bench_pred_t pred, const char *what)
{
    int ok;

    pthread_mutex_lock(&m->lock);
    while (!(ok = pred(m)) && !m->failed && !m->stop) {
        int64_t now = bench_now_ns();
        int64_t until = now + BENCH_SLICE_MS * 1000000LL;
        struct timespec ts;

        if (now >= m->deadline_ns) {
            break;
        }
        if (until > m->deadline_ns) {
            until = m->deadline_ns;
        }
        ts.tv_sec  = until / BENCH_NS;
        ts.tv_nsec = until % BENCH_NS;
        pthread_cond_timedwait(&m->cond, &m->lock, &ts);
        if (!pred(m)) {
            pthread_mutex_unlock(&m->lock);
            if (bench_children_check(m) != 0) {
                return -1;
            }
            pthread_mutex_lock(&m->lock);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (ok) {
        return 0;
    }
    if (!m->failed && !m->stop) {
        bench_report_missing(m, what);
    } else if (m->res.status == BENCH_EXIT_OK) {
        bench_fail(m, BENCH_EXIT_CPG, "dispatch ended while waiting for %s", what);
    }
    return -1;
}

/* lat mode: dispatches in this thread until pred holds, a failure, or the deadline. */
static int bench_pump(bench_member_t *m, bench_pred_t pred, const char *what)
{
    struct pollfd pfd = {m->fd, POLLIN, 0};
    cs_error_t err;

    while (!pred(m) && !m->failed) {
        int64_t now;
        int n = 1;

        if (!m->o->busy) {
            n = poll(&pfd, 1, BENCH_SLICE_MS);
            if ((n < 0) && (errno != EINTR)) {
                bench_fail(m, BENCH_EXIT_CPG, "poll: %s", strerror(errno));
                return -1;
            }
        }
        if (n > 0) {
            err = cpg_dispatch(m->handle, CS_DISPATCH_ALL);
            if (err != CS_OK) {
                bench_cs_fail(m, "cpg_dispatch", err);
                return -1;
            }
            if (pred(m)) {
                break;
            }
        }
        now = bench_now_ns();
        if (now >= m->deadline_ns) {
            bench_report_missing(m, what);
            return -1;
        }
        if (now >= m->next_check_ns) {   /* kept across calls: the ping loop pumps often */
            m->next_check_ns = now + BENCH_SLICE_MS * 1000000LL;
            if (bench_children_check(m) != 0) {
                return -1;
            }
        }
    }
    return pred(m) ? 0 : -1;
}

/* ---- the send side --------------------------------------------------------------- */

static int bench_alloc_sendbuf(bench_member_t *m)
{
    size_t body = bench_body_len(m->o->size);

    m->sendbuf = malloc(m->o->size);
    if (m->sendbuf == NULL) {
        bench_fail(m, BENCH_EXIT_CPG, "out of memory for %zu bytes", m->o->size);
        return -1;
    }
    memcpy(m->sendbuf + sizeof(bench_hdr_t), bench_body_pattern(m->rank), body);
    return 0;
}

/* Multicasts one DATA (seq) or END (count) message; retries CS_ERR_TRY_AGAIN. */
static int bench_send(bench_member_t *m, uint32_t kind, uint64_t seq)
{
    bench_hdr_t h = {BENCH_MAGIC, kind, m->rank, 0, seq, 0};
    size_t len = (kind == BENCH_KIND_DATA) ? m->o->size : sizeof(h);
    struct iovec iov = {m->sendbuf, len};
    unsigned spins = 0;
    cs_error_t err;

    h.size  = (uint32_t)len;
    h.stamp = (m->o->mode == MODE_LAT) ? (uint64_t)bench_now_ns() : 0;
    memcpy(m->sendbuf, &h, sizeof(h));
    if ((kind == BENCH_KIND_DATA) && (len >= BENCH_TRAILER_MIN)) {
        memcpy(m->sendbuf + len - sizeof(seq), &seq, sizeof(seq));
    }
    for (;;) {
        err = cpg_mcast_joined(m->handle, CPG_TYPE_AGREED, &iov, 1);
        if (err != CS_ERR_TRY_AGAIN) {
            break;
        }
        m->res.retries++;
        if (bench_now_ns() >= m->deadline_ns) {
            bench_fail(m, BENCH_EXIT_TIMEOUT, "timeout (-T %u): cpg_mcast_joined still"
                       " CS_ERR_TRY_AGAIN after %" PRIu64 " messages", m->o->timeout_s,
                       m->res.sent);
            return -1;
        }
        if ((++spins % 64) == 0) {
            bench_sleep_us(50);
        } else {
            sched_yield();
        }
    }
    if (err != CS_OK) {
        bench_cs_fail(m, "cpg_mcast_joined", err);
        return -1;
    }
    return 0;
}

/* The clock every 16th message: two reads per message were a tenth of a
 * ucx_cpg sender's time on a VM. */
static int bench_flood(bench_member_t *m)
{
    int64_t end = bench_now_ns() + (int64_t)m->o->secs * BENCH_NS;

    while (((m->res.sent & 15) != 0) || (bench_now_ns() < end)) {
        if (bench_send(m, BENCH_KIND_DATA, m->res.sent) != 0) {
            return -1;
        }
        m->res.sent++;
        if (((m->res.sent & 1023) == 0) && __atomic_load_n(&m->failed, __ATOMIC_RELAXED)) {
            return -1;
        }
    }
    return bench_send(m, BENCH_KIND_END, m->res.sent);
}

/* ---- the two modes ------------------------------------------------------------------ */

/* CPU time of this process: every thread, user and system. */
static int64_t bench_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bench_run_thr(bench_member_t *m)
{
    int is_sender = (m->rank < m->senders), rc = 0;
    int64_t cpu0 = bench_cpu_ns();
    pthread_t tid;

    if (bench_dispatch_start(m, &tid) != 0) {
        return -1;
    }
    if (is_sender) {
        rc = bench_wait(m, bench_pred_joined, "all members to join");
        g_joining = 0;
        if (rc == 0) {
            rc = bench_flood(m);
        }
    }
    if (rc == 0) {
        rc = bench_wait(m, bench_pred_ends, "the END of every sender");
    }
    bench_dispatch_stop(m, tid);
    m->res.cpu_ns = bench_cpu_ns() - cpu0;
    return rc;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double bench_pct(const double *sorted, unsigned long n, double pct)
{
    unsigned long idx = (unsigned long)(pct / 100.0 * (double)n + 0.999999);

    if (idx < 1) {
        idx = 1;
    }
    return sorted[((idx > n) ? n : idx) - 1];
}

static void bench_print_lat(const bench_member_t *m, double *us, unsigned long n)
{
    double sum = 0;
    unsigned long i;

    qsort(us, n, sizeof(*us), bench_cmp_double);
    for (i = 0; i < n; i++) {
        sum += us[i];
    }
    printf("cpg_bench lat: %u member(s), %zu B, %lu iterations (%lu warm-up): send -> own"
           " delivery us: min %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f mean %.1f\n",
           m->o->members, m->o->size, n, m->o->warmup, us[0], bench_pct(us, n, 50),
           bench_pct(us, n, 90), bench_pct(us, n, 99), us[n - 1], sum / (double)n);
    if (m->o->machine) {
        printf("RESULT mode=lat size=%zu members=%u iters=%lu min_us=%.2f p50_us=%.2f"
               " p90_us=%.2f p99_us=%.2f max_us=%.2f mean_us=%.2f errors=0\n",
               m->o->size, m->o->members, n, us[0], bench_pct(us, n, 50), bench_pct(us, n, 90),
               bench_pct(us, n, 99), us[n - 1], sum / (double)n);
    }
    fflush(stdout);
}

/* rank 0 in lat mode: the timed ping loop. Fills us[] (ITERS samples). */
static int bench_lat_sender(bench_member_t *m, double *us)
{
    unsigned long i, total = m->o->warmup + m->o->iters;

    for (i = 0; i < total; i++) {
        int64_t t0 = bench_now_ns();

        if (t0 >= m->deadline_ns) {
            bench_fail(m, BENCH_EXIT_TIMEOUT, "timeout (-T %u) after %lu of %lu iterations",
                       m->o->timeout_s, i, total);
            return -1;
        }
        if (bench_send(m, BENCH_KIND_DATA, i) != 0) {
            return -1;
        }
        m->res.sent++;
        if (bench_pump(m, bench_pred_own_seq, "the own message") != 0) {
            return -1;
        }
        if (i >= m->o->warmup) {
            us[i - m->o->warmup] = (double)(m->lat_deliver_ns - t0) / 1000.0;
        }
    }
    if (bench_send(m, BENCH_KIND_END, m->res.sent) != 0) {
        return -1;
    }
    return bench_pump(m, bench_pred_own_end, "the own END");
}

static int bench_run_lat(bench_member_t *m, double **us_p)
{
    if (m->rank != 0) {
        return bench_pump(m, bench_pred_ends, "the END of rank 0");
    }
    *us_p = malloc(sizeof(double) * (m->o->iters ? m->o->iters : 1));
    if (*us_p == NULL) {
        bench_fail(m, BENCH_EXIT_CPG, "out of memory for %lu samples", m->o->iters);
        return -1;
    }
    if (bench_pump(m, bench_pred_joined, "all members to join") != 0) {
        return -1;
    }
    g_joining = 0;
    return bench_lat_sender(m, *us_p);
}

/* ---- one member --------------------------------------------------------------------- */

/* -c: member r runs on the r-th CPU the program was given (round robin),
 * all its threads, the library's included (pinned before cpg_initialize). */
static void bench_pin(const bench_opts_t *o, unsigned rank)
{
    int n = CPU_COUNT(&o->cpus), k = (int)(rank % (unsigned)((n > 0) ? n : 1)), cpu;
    cpu_set_t one;

    for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &o->cpus) && (k-- == 0)) {
            break;
        }
    }
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if ((cpu == CPU_SETSIZE) || (sched_setaffinity(0, sizeof(one), &one) != 0)) {
        fprintf(stderr, "cpg_bench[%u]: cannot pin to a CPU: %s\n", rank, strerror(errno));
    }
}

static void bench_member_init(bench_member_t *m, const bench_opts_t *o, unsigned rank,
                              int64_t deadline_ns)
{
    pthread_condattr_t ca;

    if (o->pin) {
        bench_pin(o, rank);
    }
    memset(m, 0, sizeof(*m));
    m->o           = o;
    m->rank        = rank;
    m->deadline_ns = deadline_ns;
    m->senders     = ((o->mode == MODE_THR) && o->all_send) ? o->members : 1;
    m->res.rank    = rank;
    m->res.status  = BENCH_EXIT_OK;
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* Runs the member of this process; lat samples (rank 0) go to *us_p. */
static void bench_member_run(bench_member_t *m, double **us_p)
{
    int rc = -1;

    if ((m->rank < m->senders) && (bench_alloc_sendbuf(m) != 0)) {
        return;
    }
    if (bench_open(m) == 0) {
        rc = (m->o->mode == MODE_THR) ? bench_run_thr(m) : bench_run_lat(m, us_p);
    }
    bench_close(m);
    if ((rc != 0) && (m->res.status == BENCH_EXIT_OK)) {
        m->res.status = BENCH_EXIT_CPG;
    }
    free(m->sendbuf);
    m->sendbuf = NULL;
}

/* ---- processes: fork, results, reaping ------------------------------------------------ */

static int bench_write_result(int fd, const bench_result_t *r)
{
    ssize_t n = write(fd, r, sizeof(*r));   /* < PIPE_BUF: atomic */

    return (n == (ssize_t)sizeof(*r)) ? 0 : -1;
}

static void bench_child(const bench_opts_t *o, unsigned rank, pid_t parent, int result_fd,
                        int64_t deadline_ns)
{
    bench_member_t *m = &g_member;

    bench_member_init(m, o, rank, deadline_ns);
    if ((prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) || (getppid() != parent)) {
        _exit(BENCH_EXIT_CPG);
    }
    bench_member_run(m, NULL);
    if (bench_write_result(result_fd, &m->res) != 0) {
        _exit(BENCH_EXIT_CPG);
    }
    _exit(m->res.status);
}

static int bench_fork_children(const bench_opts_t *o, int result_pipe[2], int64_t deadline_ns)
{
    pid_t parent = getpid();
    unsigned r;

    fflush(stdout);
    fflush(stderr);
    for (r = 1; r < o->members; r++) {
        pid_t pid = fork();

        if (pid < 0) {
            fprintf(stderr, "cpg_bench: fork: %s\n", strerror(errno));
            return -1;
        }
        if (pid == 0) {
            close(result_pipe[0]);
            bench_child(o, r, parent, result_pipe[1], deadline_ns);
        }
        g_children[r]     = pid;
        g_child_status[r] = -1;
    }
    return 0;
}

/* Reads the children's results until all are in, end of file or the deadline. */
static void bench_collect(const bench_opts_t *o, int fd, bench_result_t *res, int *have,
                          int64_t until_ns)
{
    unsigned got = 0;
    bench_result_t r;

    while (got + 1 < o->members) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int64_t left_ms = (until_ns - bench_now_ns()) / 1000000;
        ssize_t n;

        if ((left_ms <= 0) || (poll(&pfd, 1, (int)left_ms) == 0)) {
            break;
        }
        n = read(fd, &r, sizeof(r));
        if ((n < 0) && (errno == EINTR)) {
            continue;
        }
        if (n != (ssize_t)sizeof(r)) {
            break;   /* end of file: every child has exited */
        }
        if ((r.rank > 0) && (r.rank < o->members) && !have[r.rank]) {
            res[r.rank]  = r;
            have[r.rank] = 1;
            got++;
        }
    }
}

/* Waits for every child until until_ns, then kills and reaps the rest. */
static void bench_reap(const bench_opts_t *o, int64_t until_ns)
{
    unsigned r, left;
    int status, sig = 0;

    for (;;) {
        left = 0;
        for (r = 1; r < o->members; r++) {
            if (g_child_status[r] == -1) {
                pid_t w = waitpid(g_children[r], &status, sig ? 0 : WNOHANG);

                if (w > 0) {
                    g_child_status[r] = status;
                } else if ((w < 0) && (errno == ECHILD)) {
                    g_child_status[r] = 0;   /* not ours any more: nothing to reap */
                } else {
                    left++;
                    if (sig) {
                        kill(g_children[r], SIGKILL);
                    }
                }
            }
        }
        if (left == 0) {
            return;
        }
        if (bench_now_ns() >= until_ns) {
            if (sig) {
                continue;   /* SIGKILLed: the blocking waitpid reaps them */
            }
            for (r = 1; r < o->members; r++) {
                if (g_child_status[r] == -1) {
                    fprintf(stderr, "cpg_bench: rank %u (pid %d) still running: killed\n", r,
                            (int)g_children[r]);
                    kill(g_children[r], SIGKILL);
                }
            }
            sig = SIGKILL;
            continue;
        }
        bench_sleep_us(10000);
    }
}

/* ---- results ------------------------------------------------------------------------ */

static double bench_rate(uint64_t count, int64_t first_ns, int64_t last_ns)
{
    if ((count < 2) || (last_ns <= first_ns)) {
        return 0.0;
    }
    return (double)(count - 1) * 1e9 / (double)(last_ns - first_ns);
}

/* Combines the statuses of all members; prints what went wrong. */
static int bench_status(const bench_opts_t *o, const bench_result_t *res)
{
    int status = BENCH_EXIT_OK;
    unsigned r;

    for (r = 0; r < o->members; r++) {
        int s = res[r].status;

        if (s != BENCH_EXIT_OK) {
            fprintf(stderr, "cpg_bench: rank %u failed (exit status %d): %s\n", r, s,
                    res[r].msg[0] ? res[r].msg : "(no message)");
        }
        if ((s == BENCH_EXIT_DATA) || ((s == BENCH_EXIT_TIMEOUT) && (status != BENCH_EXIT_DATA)) ||
            ((s != BENCH_EXIT_OK) && (status == BENCH_EXIT_OK))) {
            status = s;
        }
    }
    return status;
}

static int bench_report_thr(const bench_opts_t *o, const bench_result_t *res)
{
    unsigned r, senders = o->all_send ? o->members : 1;
    uint64_t sent = 0, retries = 0, errors = 0, min_delivered = UINT64_MAX, deliveries = 0;
    uint64_t sent_min = UINT64_MAX, sent_max = 0;
    double slow = -1.0, own, cpu_us = 0;
    int status = BENCH_EXIT_OK;

    for (r = 0; r < senders; r++) {
        sent += res[r].sent;
        retries += res[r].retries;
        sent_min = (res[r].sent < sent_min) ? res[r].sent : sent_min;
        sent_max = (res[r].sent > sent_max) ? res[r].sent : sent_max;
    }
    for (r = 0; r < o->members; r++) {
        double rate = bench_rate(res[r].delivered, res[r].first_ns, res[r].last_ns);

        errors += res[r].data_errors;
        deliveries += res[r].delivered;
        cpu_us += (double)res[r].cpu_ns / 1e3;
        if (res[r].delivered != sent) {
            fprintf(stderr, "cpg_bench: rank %u delivered %" PRIu64 " of %" PRIu64 "\n", r,
                    res[r].delivered, sent);
            status = BENCH_EXIT_DATA;
        }
        if (res[r].delivered < min_delivered) {
            min_delivered = res[r].delivered;
        }
        if (((r > 0) || o->all_send || (o->members == 1)) && ((slow < 0) || (rate < slow))) {
            slow = rate;
        }
    }
    own = bench_rate(res[0].own_delivered, res[0].own_first_ns, res[0].own_last_ns);
    printf("cpg_bench thr: %u member(s), %u sender(s), %zu B, %u s: slowest receiver %.0f"
           " msgs/s %.2f MB/s; sender's own deliveries %.0f msgs/s %.2f MB/s; sent %" PRIu64
           " (%.0f msgs/s offered), %" PRIu64 " TRY_AGAIN retries, %" PRIu64 " errors\n",
           o->members, senders, o->size, o->secs, slow, slow * (double)o->size / 1e6, own,
           own * (double)o->size / 1e6, sent, (double)sent / o->secs, retries, errors);
    printf("cpg_bench thr: CPU of the members %.0f ms for %" PRIu64 " deliveries: %.2f us"
           " per delivered message (a daemon's CPU not included)\n", cpu_us / 1e3, deliveries,
           (deliveries > 0) ? cpu_us / (double)deliveries : 0.0);
    if (senders > 1) {
        printf("cpg_bench thr: fairness: the senders got %" PRIu64 " to %" PRIu64
               " messages each ordered (%.0f%% to %.0f%% of an even share)\n", sent_min, sent_max,
               100.0 * (double)sent_min * senders / (double)(sent ? sent : 1),
               100.0 * (double)sent_max * senders / (double)(sent ? sent : 1));
    }
    if (o->machine) {
        printf("RESULT mode=thr size=%zu members=%u senders=%u secs=%u msgs_per_s=%.0f"
               " MB_per_s=%.3f own_msgs_per_s=%.0f own_MB_per_s=%.3f sent=%" PRIu64
               " delivered_min=%" PRIu64 " retries=%" PRIu64 " errors=%" PRIu64
               " deliveries=%" PRIu64 " cpu_us=%.0f sent_min=%" PRIu64 " sent_max=%" PRIu64 "\n",
               o->size, o->members, senders, o->secs, slow, slow * (double)o->size / 1e6, own,
               own * (double)o->size / 1e6, sent, min_delivered, retries, errors, deliveries,
               cpu_us, sent_min, sent_max);
    }
    fflush(stdout);
    return status;
}

/* ---- options and main ----------------------------------------------------------------- */

static void bench_usage(FILE *stream)
{
    fprintf(stream,
            "usage: cpg_bench -m thr [-p MEMBERS] [-s BYTES] [-t SEC] [-a] [options]\n"
            "       cpg_bench -m lat [-p MEMBERS] [-s BYTES] [-n ITERS] [-w WARMUP] [-b]\n"
            "                 [options]\n"
            "  -m thr|lat  throughput (flood) or latency (send -> own delivery)\n"
            "  -p MEMBERS  processes in the group, forked by this program (default 2)\n"
            "  -s BYTES    message size, >= %u (default 64)\n"
            "  -t SEC      thr: flood duration (default 5)\n"
            "  -a          thr: every member sends (aggregate rate)\n"
            "  -n ITERS    lat: timed iterations (default 10000)\n"
            "  -w WARMUP   lat: untimed iterations first (default 100)\n"
            "  -b          lat: busy CS_DISPATCH_ALL instead of poll() while waiting\n"
            "options:\n"
            "  -g GROUP    group name (default cpg_bench.<pid>; length without NUL)\n"
            "  -T SEC      time limit of the whole run, longer than -t (default 120;\n"
            "              exit status 3)\n"
            "  -V          do not verify message bodies (headers, lengths and order still)\n"
            "  -c          pin member r, all its threads, to the r-th CPU of those given\n"
            "              (round robin), as compare.sh pins ucx_cpg_perftest's members\n"
            "  -M          also print a machine-readable RESULT line\n"
            "  -h          this help\n"
            "MB = 10^6 bytes. Exit status: 0 ok, 1 CPG error, 2 data error, 3 timeout, 4 usage.\n",
            BENCH_MIN_SIZE);
}

/* -p -s -t -n -w -T: a number in the option's range. */
static int bench_parse_number(bench_opts_t *o, int opt, const char *arg)
{
    static const struct {
        int           opt;
        unsigned long min, max;
    } range[] = {
        {'p', 1, BENCH_MAX_MEMBERS}, {'s', BENCH_MIN_SIZE, BENCH_MAX_SIZE},
        {'t', 1, 3600},              {'n', 1, 100000000},
        {'w', 0, 100000000},         {'T', 1, 86400},
    };
    size_t i, n = sizeof(range) / sizeof(range[0]);
    unsigned long v;

    for (i = 0; (i < n) && (range[i].opt != opt); i++) {
    }
    if ((i == n) || (contrib_parse_ulong(arg, range[i].min, range[i].max, &v) != 0)) {
        return -1;
    }
    switch (opt) {
    case 'p': o->members = (unsigned)v; break;
    case 's': o->size = v; break;
    case 't': o->secs = (unsigned)v; break;
    case 'n': o->iters = v; break;
    case 'w': o->warmup = v; break;
    default: o->timeout_s = (unsigned)v; break;
    }
    return 0;
}

static int bench_parse_opt(bench_opts_t *o, int opt, const char *arg, int *have_mode)
{
    switch (opt) {
    case 'm':
        if (strcmp(arg, "thr") == 0) {
            o->mode = MODE_THR;
        } else if (strcmp(arg, "lat") == 0) {
            o->mode = MODE_LAT;
        } else {
            return -1;
        }
        *have_mode = 1;
        return 0;
    case 'p': case 's': case 't': case 'n': case 'w': case 'T':
        return bench_parse_number(o, opt, arg);
    case 'a': o->all_send = 1; return 0;
    case 'b': o->busy = 1; return 0;
    case 'V': o->verify_body = 0; return 0;
    case 'M': o->machine = 1; return 0;
    case 'c':
        o->pin = 1;
        return (sched_getaffinity(0, sizeof(o->cpus), &o->cpus) == 0) ? 0 : -1;
    case 'g':
        if ((arg[0] == '\0') || (strlen(arg) > CPG_MAX_NAME_LENGTH)) {
            return -1;
        }
        snprintf(o->group, sizeof(o->group), "%s", arg);
        return 0;
    default: return -1;
    }
}

static int bench_parse_args(int argc, char **argv, bench_opts_t *o)
{
    int opt, have_mode = 0;

    memset(o, 0, sizeof(*o));
    o->members     = 2;
    o->size        = 64;
    o->secs        = 5;
    o->iters       = 10000;
    o->warmup      = 100;
    o->timeout_s   = 120;
    o->verify_body = 1;
    snprintf(o->group, sizeof(o->group), "cpg_bench.%d", (int)getpid());
    while ((opt = getopt(argc, argv, "m:p:s:t:an:w:bcg:T:VMh")) != -1) {
        if (opt == 'h') {
            bench_usage(stdout);
            exit(BENCH_EXIT_OK);
        }
        if (bench_parse_opt(o, opt, optarg, &have_mode) != 0) {
            if (optarg != NULL) {
                fprintf(stderr, "cpg_bench: invalid value for -%c: %s\n", opt, optarg);
            }
            return -1;
        }
    }
    if ((optind != argc) || !have_mode) {
        return -1;
    }
    if ((o->mode == MODE_THR) && (o->secs >= o->timeout_s)) {
        fprintf(stderr, "cpg_bench: -t %u must be shorter than -T %u\n", o->secs, o->timeout_s);
        return -1;
    }
    if ((o->mode == MODE_LAT) && o->all_send) {
        fprintf(stderr, "cpg_bench: -a is for -m thr only\n");
        return -1;
    }
    return 0;
}

/* Marks members that sent no result, using what waitpid said about them. */
static void bench_fill_missing(const bench_opts_t *o, bench_result_t *res, const int *have)
{
    unsigned r;

    for (r = 1; r < o->members; r++) {
        int st = g_child_status[r];

        if (have[r]) {
            continue;
        }
        res[r].rank   = r;
        res[r].status = BENCH_EXIT_CPG;
        if ((st != -1) && WIFEXITED(st) && (WEXITSTATUS(st) != 0)) {
            res[r].status = WEXITSTATUS(st);
        }
        snprintf(res[r].msg, sizeof(res[r].msg), "no result (%s %d)",
                 (st == -1) ? "not reaped" : WIFEXITED(st) ? "exit status" : "killed by signal",
                 (st == -1) ? 0 : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
}

/* Rank 0: runs the parent's member, then gathers, reaps and reports. */
static int bench_main(const bench_opts_t *o, int result_fd, int64_t deadline)
{
    static bench_result_t res[BENCH_MAX_MEMBERS];
    int have[BENCH_MAX_MEMBERS] = {0};
    bench_member_t *m = &g_member;
    double *us = NULL;
    int64_t until;
    unsigned r;
    int status, complete = 1;

    bench_member_init(m, o, 0, deadline);
    bench_member_run(m, &us);
    res[0] = m->res;
    until  = deadline + BENCH_REAP_GRACE_MS * 1000000LL;
    if ((m->res.status != BENCH_EXIT_OK) && (m->res.status != BENCH_EXIT_DATA)) {
        /* rank 0 did not finish: the others would wait for it until -T; a moment
         * for those that failed by themselves to say why, then stop the rest */
        bench_collect(o, result_fd, res, have, bench_now_ns() + 300000000LL);
        for (r = 1; r < o->members; r++) {
            if (!have[r] && (g_child_status[r] == -1)) {
                kill(g_children[r], SIGTERM);
            }
        }
        until = bench_now_ns() + 1000000000LL;
    }
    bench_collect(o, result_fd, res, have, until);
    bench_reap(o, until);
    bench_fill_missing(o, res, have);
    status = bench_status(o, res);
    for (r = 0; r < o->members; r++) {
        complete &= (res[r].status == BENCH_EXIT_OK) || (res[r].status == BENCH_EXIT_DATA);
    }
    if (complete) {   /* every member ran to the end: numbers (and data errors) */
        if (o->mode == MODE_THR) {
            int s = bench_report_thr(o, res);

            status = (status == BENCH_EXIT_OK) ? s : status;
        } else if (status == BENCH_EXIT_OK) {
            bench_print_lat(m, us, o->iters);
        }
    }
    free(us);
    return status;
}

int main(int argc, char **argv)
{
    static bench_opts_t opts;
    unsigned char *pattern;
    int result_pipe[2], status;
    int64_t deadline;

    if (bench_parse_args(argc, argv, &opts) != 0) {
        bench_usage(stderr);
        return BENCH_EXIT_USAGE;
    }
    pattern = bench_make_pattern(opts.size);
    if (pattern == NULL) {
        fprintf(stderr, "cpg_bench: out of memory\n");
        return BENCH_EXIT_CPG;
    }
    g_pattern = pattern;
    deadline  = bench_now_ns() + (int64_t)opts.timeout_s * BENCH_NS;
    if (pipe2(result_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "cpg_bench: pipe: %s\n", strerror(errno));
        return BENCH_EXIT_CPG;
    }
    if (bench_fork_children(&opts, result_pipe, deadline) != 0) {
        status = BENCH_EXIT_CPG;
        bench_reap(&opts, bench_now_ns());   /* kills and reaps what was forked */
    } else {
        close(result_pipe[1]);
        status = bench_main(&opts, result_pipe[0], deadline);
    }
    close(result_pipe[0]);
    free(pattern);
    return status;
}
