/*
 * hostgroup_bench - an N-member flood through the host group's API
 * (ucx_cpg/group/hostgroup.h): how many messages per second every member of
 * a closed process group on one host is handed, with the views, the
 * callbacks, the flow control and the wake-ups of the real thing.
 *
 *   hostgroup_bench [-p MEMBERS] [-s BYTES] [-t SEC] [-S SENDERS] [-c CAPACITY_KIB]
 *
 * Why: shm_log_bench measures the host log alone, the ceiling of anything
 * built on it. This program measures what an application of the host group
 * gets, so the two numbers side by side say what the group costs on top of
 * the log.
 *
 * The parent founds the group (ucpg_hostgroup_found: nodeid 1, a ring of
 * CAPACITY_KIB KiB (-c, default 4096, a power of two >= 4), changes waiting
 * 5 s for room, dead processes looked for after 100 ms) as member 0, and
 * forks MEMBERS - 1 children (-p, default 8, at most 48: the member table)
 * that join it from its offer (ucpg_hostgroup_join). The inherited handle
 * is left alone in a child (destroying it would remove the parent). Every
 * member dispatches until its view shows all MEMBERS members, then waits on
 * a counter in an anonymous shared mapping made before the fork, so that
 * all start together and every member reads every message sent.
 *
 * For SEC seconds (-t, default 3) members 0..SENDERS-1 (-S, default
 * MEMBERS) loop: one ucpg_hostgroup_mcast (AGREED) of a BYTES-long message
 * (-s, default 64, at least 16: the sender's index and its sequence number
 * from 0, then filler), then ucpg_hostgroup_dispatch of up to 64 entries; a
 * full ring (UCPG_ERR_TRY_AGAIN) is not retried on the spot, dispatching is
 * what makes room, and a round where neither moved yields the CPU. The
 * other members dispatch, and when nothing is ready sleep in
 * ucpg_hostgroup_wait (10 ms at most). The deliver callback checks every
 * message: its length, its guarantee, that its sender address is the
 * sender's process, and that each sender's sequence numbers arrive 0, 1,
 * 2, ... with no gap (FIFO per sender); it counts the deliveries.
 *
 * Then each sender publishes how many it sent (in the shared mapping), and
 * every member dispatches until it has delivered all of them, calls
 * ucpg_hostgroup_leave and dispatches until the stream ends
 * (UCPG_ERR_NOT_FOUND after the view that removes it), then destroys its
 * handle. Every wait is bounded (30 s per phase past the flood): a timeout
 * is an error, never a hang; a member that fails tells the others (the
 * mapping) so that they give up at once, and the parent kills children
 * still running 30 s after its own run.
 *
 * Views: each member counts the views it was shown and records, from the
 * view that shows all MEMBERS members on, each view's (id, member count).
 * Members leave one by one, so each sees the leaves ordered before its own:
 * every record must be a prefix of the longest one, which must be the full
 * view and then MEMBERS leaves down to an empty view, and every member must
 * have been shown the view removing itself.
 *
 * Numbers: a member's span runs from its start (past the barrier) to its
 * last delivery; its rate is its deliveries over its span, and the group's
 * rate is the lowest of them (every member delivers every message: the
 * rate at which the group hands messages to each of its members). CPU is
 * each member's user + system time (getrusage RUSAGE_SELF) over its flood
 * and drain, summed over the members and divided by all deliveries. The
 * parent prints one line per member, then
 *   hostgroup_bench: 8 member(s), 8 sender(s), 64 B, 3 s, 4096 KiB ring: slowest member
 *                    N msgs/s; CPU X ns per delivered message; sent M, 0 errors; views agree
 *   RESULT members=8 senders=8 size=64 secs=3 capacity_kib=4096 msgs_per_s=...
 *          deliveries=... cpu_us=... ns_per_delivery=... sent=... delivered_min=...
 *          errors=0 views_ok=1
 * (each on one line); diagnostics go to stderr.
 *
 * Exit status: 0 success, 1 anything else (usage, setup, a FIFO error, a
 * lost message, views that differ, a timeout, a child that failed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../contrib_args.h"
#include "core/shm_log.h"
#include "core/status.h"
#include "group/hostgroup.h"

enum {
    HGB_EXIT_OK   = 0,
    HGB_EXIT_FAIL = 1
};

#define HGB_MAX_MEMBERS   UCPG_HOSTGROUP_MEMBERS_MAX
#define HGB_MAX_VIEWS     (HGB_MAX_MEMBERS + 2)  /* the full view, every leave, a spare */
#define HGB_MSG_HDR       16u                    /* sender index, sequence number */
#define HGB_NODEID        1u
#define HGB_CHANGE_MS     5000u
#define HGB_REAP_MS       100u
#define HGB_BATCH         64u                    /* entries per dispatch */
#define HGB_WAIT_MS       10u                    /* a non-sender's sleep, at most */
#define HGB_PHASE_S       30                     /* every wait past the flood */
#define HGB_CLOCK_EVERY   32u                    /* busy rounds per clock read */
#define HGB_MAX_REPORTED  5u                     /* errors printed per member */
#define HGB_NS            1000000000LL

typedef struct hgb_opts {
    unsigned members;    /* -p */
    size_t   size;       /* -s */
    unsigned secs;       /* -t */
    size_t   capacity;   /* -c, in bytes */
    unsigned senders;    /* -S; 0 until given: every member */
} hgb_opts_t;

typedef struct hgb_view {
    uint64_t view_id;
    uint64_t nmembers;
} hgb_view_t;

/* One member's result, in the shared mapping. */
typedef struct hgb_result {
    int32_t    status;      /* HGB_EXIT_*; -1 until the member is done */
    uint32_t   pid;
    uint64_t   sent, delivered, errors, views;
    int64_t    span_ns, cpu_ns;
    uint32_t   self_left;   /* the view removing us was shown */
    uint32_t   nseq;        /* views from the full one on */
    hgb_view_t seq[HGB_MAX_VIEWS];
} hgb_result_t;

/* The anonymous shared mapping, made before the fork. */
typedef struct hgb_shared {
    uint32_t     ready;                      /* members past their full view */
    uint32_t     abort;                      /* a member failed: everyone gives up */
    uint32_t     pids[HGB_MAX_MEMBERS];      /* set before the barrier */
    uint32_t     done[HGB_MAX_MEMBERS];      /* a sender stopped: final[] is set */
    uint64_t     final[HGB_MAX_MEMBERS];     /* what each sender sent */
    hgb_result_t res[HGB_MAX_MEMBERS];
} hgb_shared_t;

/* A member's state. */
typedef struct hgb_member {
    const hgb_opts_t *o;
    hgb_shared_t     *sh;
    ucpg_hostgroup_t *hg;
    unsigned          idx;
    int               sender;
    unsigned char    *msg;
    uint64_t          seq;                       /* the next to send */
    uint64_t          next_seq[HGB_MAX_MEMBERS]; /* per sender: the next expected */
    int               full;                      /* the view showed every member */
    int               pending;                   /* delivered since the clock was read */
    int               failed;
    unsigned          rounds;
    int64_t           now, start_ns, last_ns;
    hgb_result_t      res;
} hgb_member_t;

static int64_t hgb_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * HGB_NS + ts.tv_nsec;
}

static int64_t hgb_cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * HGB_NS +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* ---- a member: callbacks ------------------------------------------------------------- */

static void hgb_error(hgb_member_t *m, const char *what, uint64_t sender, uint64_t value)
{
    if (m->res.errors++ < HGB_MAX_REPORTED) {
        fprintf(stderr, "hostgroup_bench[%u]: %s (sender %" PRIu64 ", %" PRIu64
                ", expected %" PRIu64 ")\n", m->idx, what, sender, value,
                (sender < HGB_MAX_MEMBERS) ? m->next_seq[sender] : 0);
    }
}

static void hgb_deliver(void *arg, const ucpg_group_addr_t *sender, int guarantee,
                        const void *data, size_t len)
{
    hgb_member_t *m = arg;
    uint64_t idx, seq;

    if (len != m->o->size) {
        hgb_error(m, "message of a wrong length", UINT64_MAX, len);
        return;
    }
    memcpy(&idx, data, sizeof(idx));
    memcpy(&seq, (const unsigned char*)data + sizeof(idx), sizeof(seq));
    if (idx >= m->o->senders) {
        hgb_error(m, "message from no sender", idx, seq);
        return;
    }
    if ((sender->nodeid != HGB_NODEID) ||
        (sender->pid != __atomic_load_n(&m->sh->pids[idx], __ATOMIC_RELAXED))) {
        hgb_error(m, "sender address is not the sender's process", idx, sender->pid);
    }
    if (guarantee != UCPG_GROUP_AGREED) {
        hgb_error(m, "wrong guarantee", idx, (uint64_t)guarantee);
    }
    if (seq != m->next_seq[idx]) {
        hgb_error(m, "FIFO violation", idx, seq);
    }
    m->next_seq[idx] = seq + 1;          /* resynchronised: one gap, one error */
    m->res.delivered++;
    m->pending = 1;
}

static void hgb_view(void *arg, const ucpg_group_view_t *v)
{
    hgb_member_t *m = arg;

    m->res.views++;
    if (!m->full && (v->nmembers == m->o->members)) {
        m->full = 1;                     /* from here on every member sees the same */
    }
    if (m->full) {
        if (m->res.nseq < HGB_MAX_VIEWS) {
            m->res.seq[m->res.nseq].view_id  = v->view_id;
            m->res.seq[m->res.nseq].nmembers = v->nmembers;
            m->res.nseq++;
        } else {
            hgb_error(m, "too many views", UINT64_MAX, v->view_id);
        }
    }
    if (v->self_left) {
        m->res.self_left = 1;
    }
}

static const ucpg_hostgroup_callbacks_t hgb_callbacks = {hgb_deliver, hgb_view, NULL};

/* ---- a member: pacing ------------------------------------------------------------------ */

static int hgb_aborted(const hgb_member_t *m)
{
    return __atomic_load_n(&m->sh->abort, __ATOMIC_RELAXED) != 0;
}

static int hgb_fail(hgb_member_t *m, const char *what, ucpg_status_t status)
{
    if (what != NULL) {
        fprintf(stderr, "hostgroup_bench[%u]: %s%s%s\n", m->idx, what,
                (status != UCPG_OK) ? ": " : "",
                (status != UCPG_OK) ? ucpg_status_string(status) : "");
    }
    m->failed = 1;
    __atomic_store_n(&m->sh->abort, 1, __ATOMIC_RELAXED);
    return HGB_EXIT_FAIL;
}

/* Ends a round. The clock is read when idle and every HGB_CLOCK_EVERY busy
 * rounds: often enough for the deadlines and the span, rarely enough not
 * to be what is measured. */
static void hgb_round(hgb_member_t *m, int progress)
{
    if (progress && (++m->rounds % HGB_CLOCK_EVERY != 0)) {
        return;
    }
    m->now = hgb_now_ns();
    if (m->pending) {
        m->last_ns = m->now;
        m->pending = 0;
    }
}

/* Dispatches up to HGB_BATCH entries; how many ran in *n. */
static ucpg_status_t hgb_dispatch(hgb_member_t *m, unsigned *n)
{
    *n = 0;
    return ucpg_hostgroup_dispatch(m->hg, HGB_BATCH, n);
}

/* Nothing was ready: sleep until something is (at most HGB_WAIT_MS). */
static ucpg_status_t hgb_sleep(hgb_member_t *m)
{
    ucpg_status_t status = ucpg_hostgroup_wait(m->hg, HGB_WAIT_MS);

    return (status == UCPG_ERR_TIMEOUT) ? UCPG_OK : status;
}

/* ---- a member: phases ------------------------------------------------------------------ */

/* Dispatches until the view shows every member. */
static int hgb_wait_full(hgb_member_t *m)
{
    int64_t deadline = hgb_now_ns() + (int64_t)HGB_PHASE_S * HGB_NS;
    ucpg_status_t status;
    unsigned n;

    while (!m->full) {
        status = hgb_dispatch(m, &n);
        if (status != UCPG_OK) {
            return hgb_fail(m, "dispatch while members join", status);
        }
        if (m->full || (n > 0)) {
            continue;
        }
        if (hgb_aborted(m)) {
            return hgb_fail(m, NULL, UCPG_OK);
        }
        if (hgb_now_ns() >= deadline) {
            return hgb_fail(m, "timeout: the view never showed every member", UCPG_OK);
        }
        status = hgb_sleep(m);
        if (status != UCPG_OK) {
            return hgb_fail(m, "wait while members join", status);
        }
    }
    return HGB_EXIT_OK;
}

/* Every member past its full view, then all start. */
static int hgb_barrier(hgb_member_t *m)
{
    int64_t deadline = hgb_now_ns() + (int64_t)HGB_PHASE_S * HGB_NS;
    struct timespec nap = {0, 50000};

    __atomic_add_fetch(&m->sh->ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&m->sh->ready, __ATOMIC_ACQUIRE) < m->o->members) {
        if (hgb_aborted(m)) {
            return hgb_fail(m, NULL, UCPG_OK);
        }
        if (hgb_now_ns() >= deadline) {
            return hgb_fail(m, "timeout at the start barrier", UCPG_OK);
        }
        nanosleep(&nap, NULL);
    }
    return HGB_EXIT_OK;
}

/* A sender's SEC seconds: send one, dispatch a batch. */
static int hgb_flood(hgb_member_t *m, int64_t end_ns)
{
    struct iovec iov = {m->msg, m->o->size};
    ucpg_status_t status;
    unsigned n;
    int progress;

    while (m->now < end_ns) {
        progress = 0;
        memcpy(m->msg + sizeof(uint64_t), &m->seq, sizeof(m->seq));
        status = ucpg_hostgroup_mcast(m->hg, UCPG_GROUP_AGREED, &iov, 1);
        if (status == UCPG_OK) {
            m->seq++;
            progress = 1;
        } else if (status != UCPG_ERR_TRY_AGAIN) {
            return hgb_fail(m, "mcast", status);
        }
        status = hgb_dispatch(m, &n);
        if (status != UCPG_OK) {
            return hgb_fail(m, "dispatch during the flood", status);
        }
        progress |= (n > 0);
        hgb_round(m, progress);
        if (!progress) {
            if (hgb_aborted(m)) {
                return hgb_fail(m, NULL, UCPG_OK);
            }
            sched_yield();               /* the member everyone waits for needs the CPU */
        }
    }
    return HGB_EXIT_OK;
}

/* Every sender stopped and every message it sent was delivered here. */
static int hgb_all_delivered(const hgb_member_t *m)
{
    unsigned i;

    for (i = 0; i < m->o->senders; i++) {
        if (!__atomic_load_n(&m->sh->done[i], __ATOMIC_ACQUIRE) ||
            (m->next_seq[i] < m->sh->final[i])) {
            return 0;
        }
    }
    return 1;
}

/* Dispatches (sleeping when idle) until everything sent was delivered. */
static int hgb_drain(hgb_member_t *m, int64_t deadline)
{
    ucpg_status_t status;
    unsigned n;

    for (;;) {
        status = hgb_dispatch(m, &n);
        if (status != UCPG_OK) {
            return hgb_fail(m, "dispatch", status);
        }
        hgb_round(m, n > 0);
        if (n > 0) {
            continue;
        }
        if (hgb_all_delivered(m)) {
            return HGB_EXIT_OK;
        }
        if (hgb_aborted(m)) {
            return hgb_fail(m, NULL, UCPG_OK);
        }
        if (m->now >= deadline) {
            fprintf(stderr, "hostgroup_bench[%u]: timeout: %" PRIu64 " messages delivered\n",
                    m->idx, m->res.delivered);
            return hgb_fail(m, NULL, UCPG_OK);
        }
        status = hgb_sleep(m);
        if (status != UCPG_OK) {
            return hgb_fail(m, "wait", status);
        }
    }
}

/* Leaves, then dispatches until the stream ends. */
static int hgb_leave(hgb_member_t *m)
{
    int64_t deadline = hgb_now_ns() + (int64_t)HGB_PHASE_S * HGB_NS;
    ucpg_status_t status;
    unsigned n;

    while ((status = ucpg_hostgroup_leave(m->hg)) == UCPG_ERR_TRY_AGAIN) {
        if (hgb_now_ns() >= deadline) {
            return hgb_fail(m, "timeout: no room for our LEAVE", UCPG_OK);
        }
        if ((status = hgb_dispatch(m, &n)) != UCPG_OK) {
            return hgb_fail(m, "dispatch before leaving", status);
        }
    }
    if (status != UCPG_OK) {
        return hgb_fail(m, "leave", status);
    }
    for (;;) {
        status = hgb_dispatch(m, &n);
        if (status == UCPG_ERR_NOT_FOUND) {
            break;                       /* the stream ended */
        }
        if (status != UCPG_OK) {
            return hgb_fail(m, "dispatch after leaving", status);
        }
        if (n > 0) {
            continue;
        }
        if (hgb_now_ns() >= deadline) {
            return hgb_fail(m, "timeout: the stream did not end after our leave", UCPG_OK);
        }
        status = hgb_sleep(m);
        if ((status != UCPG_OK) && (status != UCPG_ERR_NOT_FOUND)) {
            return hgb_fail(m, "wait after leaving", status);
        }
    }
    if (!m->res.self_left) {
        return hgb_fail(m, "the stream ended without the view removing us", UCPG_OK);
    }
    return HGB_EXIT_OK;
}

/* The whole life of a joined member; fills m->res. */
static int hgb_member_run(hgb_member_t *m)
{
    int64_t cpu, end_ns;
    int status;

    status = hgb_wait_full(m);
    if (status == HGB_EXIT_OK) {
        status = hgb_barrier(m);
    }
    if (status != HGB_EXIT_OK) {
        return status;
    }
    cpu         = hgb_cpu_ns();
    m->now      = hgb_now_ns();
    m->start_ns = m->now;
    m->last_ns  = m->now;
    end_ns      = m->now + (int64_t)m->o->secs * HGB_NS;
    if (m->sender) {
        status = hgb_flood(m, end_ns);
        m->sh->final[m->idx] = m->seq;
        __atomic_store_n(&m->sh->done[m->idx], 1, __ATOMIC_RELEASE);
    }
    if (status == HGB_EXIT_OK) {
        status = hgb_drain(m, end_ns + (int64_t)HGB_PHASE_S * HGB_NS);
    }
    hgb_round(m, 0);                     /* the last delivery's time */
    m->res.cpu_ns  = hgb_cpu_ns() - cpu;
    m->res.span_ns = m->last_ns - m->start_ns;
    m->res.sent    = m->seq;
    if (status == HGB_EXIT_OK) {
        status = hgb_leave(m);
    }
    return status;
}


/* ---- a member: its life ------------------------------------------------------------------ */

/* The process' member: the callbacks' arg, set up before it founds or joins. */
static hgb_member_t hgb_self;

static void hgb_member_init(hgb_member_t *m, const hgb_opts_t *o, hgb_shared_t *sh,
                            unsigned idx)
{
    uint64_t i = idx;

    memset(m, 0, sizeof(*m));
    m->o       = o;
    m->sh      = sh;
    m->idx     = idx;
    m->sender  = (idx < o->senders);
    m->res.pid = (uint32_t)getpid();
    __atomic_store_n(&sh->pids[idx], m->res.pid, __ATOMIC_RELAXED);
    m->msg = malloc(o->size);
    if (m->msg != NULL) {
        memset(m->msg, (int)(0xa0 + idx), o->size);
        memcpy(m->msg, &i, sizeof(i));
    }
}

static void hgb_params(ucpg_hostgroup_params_t *p, hgb_member_t *m)
{
    memset(p, 0, sizeof(*p));
    p->nodeid            = HGB_NODEID;
    p->cb                = &hgb_callbacks;
    p->arg               = m;
    p->change_timeout_ms = HGB_CHANGE_MS;
    p->reap_after_ms     = HGB_REAP_MS;
}

/* Runs a member that joined (m->hg NULL: it could not), publishes its
 * result and destroys its handle; the member's exit status. */
static int hgb_member_main(hgb_member_t *m)
{
    int status = HGB_EXIT_FAIL;

    if (m->msg == NULL) {
        hgb_fail(m, "out of memory", UCPG_OK);
    } else if (m->hg == NULL) {
        hgb_fail(m, NULL, UCPG_OK);
    } else {
        status = hgb_member_run(m);
    }
    if ((status == HGB_EXIT_OK) && (m->res.errors > 0)) {
        status = hgb_fail(m, NULL, UCPG_OK);
    }
    ucpg_hostgroup_destroy(m->hg);
    m->hg = NULL;
    free(m->msg);
    m->msg        = NULL;
    m->res.status = status;
    m->sh->res[m->idx] = m->res;
    return status;
}

static void hgb_child_main(const hgb_opts_t *o, hgb_shared_t *sh, unsigned idx,
                           const ucpg_shm_offer_t *offer, ucpg_hostgroup_t *inherited)
{
    ucpg_hostgroup_params_t params;
    ucpg_status_t status;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The parent's handle stays untouched (destroying it would remove the
     * parent from the group); only its doorbell descriptor is dropped, so
     * that the bell's name goes with the parent. */
    close(ucpg_hostgroup_fd(inherited));
    hgb_member_init(&hgb_self, o, sh, idx);
    hgb_params(&params, &hgb_self);
    status = ucpg_hostgroup_join(offer, &params, &hgb_self.hg);
    if (status != UCPG_OK) {
        fprintf(stderr, "hostgroup_bench[%u]: join: %s\n", idx, ucpg_status_string(status));
        hgb_self.hg = NULL;
    }
    fflush(stdout);
    _exit(hgb_member_main(&hgb_self));
}

/* ---- the parent: fork, reap ---------------------------------------------------------------- */

/* Forks members 1..MEMBERS-1; how many were started. */
static unsigned hgb_fork(const hgb_opts_t *o, hgb_shared_t *sh, ucpg_hostgroup_t *hg,
                         pid_t *pids)
{
    ucpg_shm_offer_t offer;
    unsigned idx;

    ucpg_hostgroup_offer(hg, &offer);
    fflush(stdout);
    fflush(stderr);
    for (idx = 1; idx < o->members; idx++) {
        pids[idx] = fork();
        if (pids[idx] == 0) {
            hgb_child_main(o, sh, idx, &offer, hg);
        }
        if (pids[idx] < 0) {
            fprintf(stderr, "hostgroup_bench: fork: %s\n", strerror(errno));
            __atomic_store_n(&sh->abort, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    return idx;
}

/* Reaps members 1..forked-1; those still running at until are killed.
 * HGB_EXIT_FAIL if one did not exit with 0. */
static int hgb_reap(unsigned forked, const pid_t *pids, int64_t until)
{
    struct timespec nap = {0, 10000000};
    int wstatus[HGB_MAX_MEMBERS], status = HGB_EXIT_OK, st;
    unsigned left = (forked > 0) ? forked - 1 : 0, r;
    pid_t pid;

    for (r = 0; r < HGB_MAX_MEMBERS; r++) {
        wstatus[r] = -1;
    }
    while (left > 0) {
        pid = waitpid(-1, &st, WNOHANG);
        if (pid > 0) {
            for (r = 1; (r < forked) && (pids[r] != pid); r++) {
            }
            if (r < forked) {
                wstatus[r] = st;
                left--;
            }
            continue;
        }
        if (hgb_now_ns() < until) {
            nanosleep(&nap, NULL);
            continue;
        }
        for (r = 1; r < forked; r++) {
            if (wstatus[r] == -1) {
                fprintf(stderr, "hostgroup_bench: member %u (pid %d) still running: killed\n",
                        r, (int)pids[r]);
                kill(pids[r], SIGKILL);
                waitpid(pids[r], &wstatus[r], 0);
            }
        }
        left = 0;
    }
    for (r = 1; r < forked; r++) {
        st = wstatus[r];
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != HGB_EXIT_OK)) {
            fprintf(stderr, "hostgroup_bench: member %u (pid %d) failed (%s %d)\n", r,
                    (int)pids[r], WIFEXITED(st) ? "exit status" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            status = HGB_EXIT_FAIL;
        }
    }
    return status;
}

/* ---- the parent: results ------------------------------------------------------------------- */

/* Every member's views from the full one on are a prefix of the longest,
 * which is the full view and one leave per member down to none. */
static int hgb_views_agree(const hgb_opts_t *o, const hgb_shared_t *sh)
{
    const hgb_result_t *l = &sh->res[0], *r;
    unsigned i, k;
    int ok = 1;

    for (i = 1; i < o->members; i++) {
        l = (sh->res[i].nseq > l->nseq) ? &sh->res[i] : l;
    }
    if ((l->nseq != o->members + 1) || (l->seq[0].nmembers != o->members)) {
        fprintf(stderr, "hostgroup_bench: the longest view sequence has %u views, from %"
                PRIu64 " members (want %u, from %u)\n", l->nseq,
                (l->nseq > 0) ? l->seq[0].nmembers : 0, o->members + 1, o->members);
        ok = 0;
    }
    for (k = 1; k < l->nseq; k++) {
        if ((l->seq[k].nmembers + 1 != l->seq[k - 1].nmembers) ||
            (l->seq[k].view_id <= l->seq[k - 1].view_id)) {
            fprintf(stderr, "hostgroup_bench: view %u of the longest sequence: id %" PRIu64
                    ", %" PRIu64 " members after id %" PRIu64 ", %" PRIu64 "\n", k,
                    l->seq[k].view_id, l->seq[k].nmembers, l->seq[k - 1].view_id,
                    l->seq[k - 1].nmembers);
            ok = 0;
        }
    }
    for (i = 0; i < o->members; i++) {
        r = &sh->res[i];
        if ((r->nseq == 0) || !r->self_left) {
            fprintf(stderr, "hostgroup_bench: member %u saw %u views from the full one on%s\n",
                    i, r->nseq, r->self_left ? "" : ", and not the one removing it");
            ok = 0;
        }
        for (k = 0; k < r->nseq; k++) {
            if ((r->seq[k].view_id != l->seq[k].view_id) ||
                (r->seq[k].nmembers != l->seq[k].nmembers)) {
                fprintf(stderr, "hostgroup_bench: member %u's view %u is (%" PRIu64 ", %" PRIu64
                        "), another's (%" PRIu64 ", %" PRIu64 ")\n", i, k, r->seq[k].view_id,
                        r->seq[k].nmembers, l->seq[k].view_id, l->seq[k].nmembers);
                ok = 0;
                break;
            }
        }
    }
    return ok;
}

static double hgb_rate(const hgb_result_t *r)
{
    return (r->span_ns > 0) ? (double)r->delivered * 1e9 / (double)r->span_ns : 0.0;
}

/* Prints the numbers; HGB_EXIT_FAIL if a member lost messages, saw errors
 * or views that differ. */
static int hgb_report(const hgb_opts_t *o, const hgb_shared_t *sh)
{
    uint64_t sent = 0, errors = 0, deliveries = 0, dmin = UINT64_MAX;
    double slow = -1.0, rate, cpu_us = 0.0, ns_per;
    int status = HGB_EXIT_OK, views_ok;
    const hgb_result_t *r;
    unsigned i;

    for (i = 0; i < o->members; i++) {
        sent += sh->res[i].sent;
    }
    for (i = 0; i < o->members; i++) {
        r = &sh->res[i];
        rate = hgb_rate(r);
        printf("hostgroup_bench: member %u (pid %u%s): sent %" PRIu64 ", delivered %" PRIu64
               " in %.3f s: %.0f msgs/s; CPU %.3f s; views %" PRIu64 " (%u from the full one);"
               " %" PRIu64 " errors\n", i, r->pid, (i < o->senders) ? ", sender" : "", r->sent,
               r->delivered, (double)r->span_ns / 1e9, rate, (double)r->cpu_ns / 1e9, r->views,
               r->nseq, r->errors);
        errors += r->errors;
        deliveries += r->delivered;
        cpu_us += (double)r->cpu_ns / 1e3;
        slow = ((slow < 0) || (rate < slow)) ? rate : slow;
        dmin = (r->delivered < dmin) ? r->delivered : dmin;
        if (r->delivered != sent) {
            fprintf(stderr, "hostgroup_bench: member %u delivered %" PRIu64 " of %" PRIu64
                    " messages\n", i, r->delivered, sent);
            status = HGB_EXIT_FAIL;
        }
    }
    views_ok = hgb_views_agree(o, sh);
    ns_per   = (deliveries > 0) ? cpu_us * 1e3 / (double)deliveries : 0.0;
    printf("hostgroup_bench: %u member(s), %u sender(s), %zu B, %u s, %zu KiB ring: slowest"
           " member %.0f msgs/s; CPU %.1f ns per delivered message; sent %" PRIu64 ", %" PRIu64
           " errors; views %s\n", o->members, o->senders, o->size, o->secs, o->capacity / 1024,
           slow, ns_per, sent, errors, views_ok ? "agree" : "DIFFER");
    printf("RESULT members=%u senders=%u size=%zu secs=%u capacity_kib=%zu msgs_per_s=%.0f"
           " deliveries=%" PRIu64 " cpu_us=%.0f ns_per_delivery=%.1f sent=%" PRIu64
           " delivered_min=%" PRIu64 " errors=%" PRIu64 " views_ok=%d\n", o->members, o->senders,
           o->size, o->secs, o->capacity / 1024, slow, deliveries, cpu_us, ns_per, sent, dmin,
           errors, views_ok);
    fflush(stdout);
    return ((errors > 0) || !views_ok) ? HGB_EXIT_FAIL : status;
}

/* ---- options and main ------------------------------------------------------------------- */

static void hgb_usage(FILE *stream)
{
    fprintf(stream,
            "usage: hostgroup_bench [-p MEMBERS] [-s BYTES] [-t SEC] [-S SENDERS]"
            " [-c CAPACITY_KIB]\n"
            "  -p MEMBERS       members of the host group, each a process (default 8, 1..%u)\n"
            "  -s BYTES         message size, >= %u, at most a quarter of the ring less 32\n"
            "                   (default 64)\n"
            "  -t SEC           flood duration (default 3)\n"
            "  -S SENDERS       members 0..SENDERS-1 send (default MEMBERS)\n"
            "  -c CAPACITY_KIB  ring size in KiB, a power of two >= 4 (default 4096)\n"
            "  -h               this help\n"
            "Exit status: 0 ok, 1 usage or any failure (setup, FIFO error, lost message,\n"
            "views that differ, timeout).\n", HGB_MAX_MEMBERS, HGB_MSG_HDR);
}

/* -p -s -t -S: a number in the option's range; -c: a power of two. */
static int hgb_parse_opt(hgb_opts_t *o, int opt, const char *arg)
{
    static const struct {
        int           opt;
        unsigned long min, max;
    } range[] = {
        {'p', 1, HGB_MAX_MEMBERS}, {'s', HGB_MSG_HDR, UINT32_MAX}, {'t', 1, 3600},
        {'S', 1, HGB_MAX_MEMBERS}, {'c', UCPG_SHM_LOG_MIN_CAP / 1024, UCPG_SHM_LOG_MAX_CAP / 1024},
    };
    size_t i, n = sizeof(range) / sizeof(range[0]);
    unsigned long v;

    for (i = 0; (i < n) && (range[i].opt != opt); i++) {
    }
    if ((i == n) || (arg == NULL) ||
        (contrib_parse_ulong(arg, range[i].min, range[i].max, &v) != 0)) {
        return -1;
    }
    switch (opt) {
    case 'p': o->members = (unsigned)v; break;
    case 's': o->size = v; break;
    case 't': o->secs = (unsigned)v; break;
    case 'S': o->senders = (unsigned)v; break;
    default:
        if ((v & (v - 1)) != 0) {
            return -1;                   /* the log's positions map to the ring by a mask */
        }
        o->capacity = (size_t)v * 1024;
        break;
    }
    return 0;
}

static int hgb_parse_args(int argc, char **argv, hgb_opts_t *o)
{
    int opt;

    memset(o, 0, sizeof(*o));
    o->members  = 8;
    o->size     = 64;
    o->secs     = 3;
    o->capacity = 4096 * 1024;
    while ((opt = getopt(argc, argv, "p:s:t:S:c:h")) != -1) {
        if (opt == 'h') {
            hgb_usage(stdout);
            exit(HGB_EXIT_OK);
        }
        if (hgb_parse_opt(o, opt, optarg) != 0) {
            if (optarg != NULL) {
                fprintf(stderr, "hostgroup_bench: invalid value for -%c: %s\n", opt, optarg);
            }
            return -1;
        }
    }
    o->senders = (o->senders == 0) ? o->members : o->senders;
    if (optind != argc) {
        return -1;
    }
    if (o->senders > o->members) {
        fprintf(stderr, "hostgroup_bench: -S %u is more than -p %u\n", o->senders, o->members);
        return -1;
    }
    if (o->size > o->capacity / 4 - UCPG_SHM_LOG_ENTRY_HDR - 16 /* the group's header */) {
        fprintf(stderr, "hostgroup_bench: -s %zu does not fit a ring of %zu KiB\n", o->size,
                o->capacity / 1024);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static pid_t pids[HGB_MAX_MEMBERS];
    static hgb_opts_t opts;
    ucpg_hostgroup_params_t params;
    unsigned forked, i;
    ucpg_status_t st;
    hgb_shared_t *sh;
    int status, reaped;

    if (hgb_parse_args(argc, argv, &opts) != 0) {
        hgb_usage(stderr);
        return HGB_EXIT_FAIL;
    }
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fprintf(stderr, "hostgroup_bench: mmap: %s\n", strerror(errno));
        return HGB_EXIT_FAIL;
    }
    for (i = 0; i < HGB_MAX_MEMBERS; i++) {
        sh->res[i].status = -1;
    }
    hgb_member_init(&hgb_self, &opts, sh, 0);
    hgb_params(&params, &hgb_self);
    st = ucpg_hostgroup_found(opts.capacity, &params, &hgb_self.hg);
    if (st != UCPG_OK) {
        fprintf(stderr, "hostgroup_bench: cannot found a host group with a ring of %zu KiB:"
                " %s\n", opts.capacity / 1024, ucpg_status_string(st));
        free(hgb_self.msg);
        return HGB_EXIT_FAIL;
    }
    if (opts.size > ucpg_hostgroup_max_msg(hgb_self.hg)) {
        fprintf(stderr, "hostgroup_bench: -s %zu is above the group's largest message, %zu\n",
                opts.size, ucpg_hostgroup_max_msg(hgb_self.hg));
        ucpg_hostgroup_destroy(hgb_self.hg);
        free(hgb_self.msg);
        return HGB_EXIT_FAIL;
    }
    forked = hgb_fork(&opts, sh, hgb_self.hg, pids);
    status = hgb_member_main(&hgb_self);
    reaped = hgb_reap(forked, pids, hgb_now_ns() + (int64_t)HGB_PHASE_S * HGB_NS);
    status = (forked < opts.members) ? HGB_EXIT_FAIL : status;
    status = (reaped != HGB_EXIT_OK) ? HGB_EXIT_FAIL : status;
    for (i = 0; (i < forked) && (sh->res[i].status >= 0); i++) {
    }
    if ((forked == opts.members) && (i == forked)) {
        status = (hgb_report(&opts, sh) != HGB_EXIT_OK) ? HGB_EXIT_FAIL : status;
    } else {
        fprintf(stderr, "hostgroup_bench: member %u has no result: no numbers to show\n", i);
    }
    for (i = 0; i < opts.members; i++) {
        if ((sh->res[i].status > 0) && (i < forked)) {
            fprintf(stderr, "hostgroup_bench: member %u failed\n", i);
        }
    }
    munmap(sh, sizeof(*sh));
    return status;
}
