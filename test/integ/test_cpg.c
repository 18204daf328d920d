/*
 * test_cpg.c - the CPG API across real processes, checked from delivery
 * traces: every process writes what its callbacks saw (cpg_trace.h) and the
 * checker verifies the group-semantics properties (self-inclusion, confchg
 * consistency, FIFO, total order, views at the same place in every stream,
 * virtual synchrony, SAFE) over all of them. Scenarios: concurrent senders
 * with AGREED and SAFE, sizes around the transport thresholds up to 16 MiB,
 * a join storm, two groups per process (a handle each), a plain sender and
 * the sequencer SIGKILLed mid-stream, a slow reader (flow control).
 * test_cpg_api.c covers the API's error codes and the single-process cases.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corosync/cpg.h"
#include "cpg_trace.h"
#include "boot/boot.h"
#include "core/am.h"
#include "group/group.h"
#include "harness.h"
#include "integ_run.h"

#define STEP_MS   30000u
#define MAGIC     0x43504754u      /* "TGPC" */
#define HDR_LEN   24u

/* What one child does; see child_main(). */
typedef struct child_cfg {
    const char *group;
    int         nsend;        /* messages to send after GO */
    int         members;      /* wait for this many members before READY */
    size_t      size;         /* payload bytes (>= HDR_LEN), 0: vary by counter */
    const size_t *sizes;      /* if set: message i has sizes[i] bytes */
    int         safe_every;   /* every n-th message is SAFE (0: none) */
    int         no_dispatch;  /* rank 1 does not read until told to (flow control) */
    int         sole_sender;  /* 0: every rank sends; r + 1: only rank r does */
    int         relay;        /* nobody sends after GO; each sends on "SEND n" */
    int         expect_shm;   /* every rank must get bodies through shared memory */
} child_cfg_t;

/* --- per-process state (each child is its own process) --------------------- */

static cpg_trace_writer_t trace;
static const child_cfg_t *cfg;
static struct cpg_name    gname;
static int                nmembers, self_left, content_errors, leaving;
static uint64_t           ndelivered, nown;
static uint32_t           my_pid;
static int                fc_enabled_seen;   /* TRY_AGAIN with the state ENABLED */

static uint8_t fill_byte(uint32_t pid, uint64_t counter, size_t i)
{
    return (uint8_t)(pid * 31u + counter * 7u + i);
}

static size_t message_size(uint64_t counter)
{
    if (cfg->sizes != NULL) {
        return cfg->sizes[counter];
    }
    return (cfg->size != 0) ? cfg->size : HDR_LEN + (size_t)(counter % 200);
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Checks a tagged payload in full; returns 1 and the tag if it is one. */
static int parse_payload(const uint8_t *m, size_t len, uint32_t *pid, uint64_t *counter,
                         int *guarantee)
{
    size_t i;

    if ((len < HDR_LEN) || (get_u32(m) != MAGIC)) {
        return 0;
    }
    *pid       = get_u32(m + 4);
    *counter   = get_u64(m + 8);
    *guarantee = (int)get_u32(m + 16);
    if (get_u32(m + 20) != (uint32_t)len) {
        ++content_errors;
    }
    for (i = HDR_LEN; i < len; ++i) {
        if (m[i] != fill_byte(*pid, *counter, i)) {
            ++content_errors;
            break;
        }
    }
    return 1;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
                       void *msg, size_t len)
{
    uint32_t tag_pid = 0;
    uint64_t counter = 0;
    int guarantee = CPG_TYPE_AGREED, tagged;

    (void)h;
    tagged = parse_payload(msg, len, &tag_pid, &counter, &guarantee);
    if (tagged && (tag_pid != pid)) {
        ++content_errors;                   /* delivered under the wrong sender */
    }
    cpg_trace_deliver(&trace, g->value, g->length, nodeid, pid, guarantee, len, tagged,
                      tag_pid, counter);
    ++ndelivered;
    nown += (pid == my_pid);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g,
                       const struct cpg_address *members, size_t nm,
                       const struct cpg_address *left, size_t nl,
                       const struct cpg_address *joined, size_t nj)
{
    size_t i;

    (void)h;
    cpg_trace_confchg(&trace, g->value, g->length, (const struct cpg_trace_addr*)members, nm,
                      (const struct cpg_trace_addr*)left, nl,
                      (const struct cpg_trace_addr*)joined, nj);
    nmembers = (int)nm;
    for (i = 0; i < nl; ++i) {
        self_left |= (left[i].pid == (uint32_t)getpid());
    }
}

static cpg_callbacks_t callbacks = {on_deliver, on_confchg};

/* Dispatches until cond() or timeout; 0 if cond() became true. */
static int dispatch_until(cpg_handle_t h, int (*cond)(void *), void *arg, unsigned timeout_ms)
{
    uint64_t deadline = ucpg_test_now_ms() + timeout_ms;
    struct pollfd pfd;
    int fd;

    if (cpg_fd_get(h, &fd) != CS_OK) {
        return -1;
    }
    while (!cond(arg)) {
        if (ucpg_test_now_ms() > deadline) {
            return -1;
        }
        pfd.fd     = fd;
        pfd.events = POLLIN;
        if ((poll(&pfd, 1, 50) > 0) && (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK)) {
            return -1;
        }
    }
    return 0;
}

/* Removed without leaving: the library found it could not hear the group
 * (see cut_off in test_kill_*). */
static int cut_off(void) { return self_left && !leaving; }
static int enough_members(void *arg) { return nmembers >= *(int*)arg; }
static int own_done(void *arg) { return cut_off() || (nown >= *(uint64_t*)arg); }
static int total_done(void *arg) { return cut_off() || (ndelivered >= *(uint64_t*)arg); }
static int left_done(void *arg) { (void)arg; return self_left; }

static void build_payload(uint8_t *m, size_t len, uint64_t counter, int guarantee)
{
    uint32_t self = (uint32_t)getpid();      /* once: the fill loop runs 16 M times */
    size_t i;

    put_u32(m, MAGIC);
    put_u32(m + 4, self);
    put_u64(m + 8, counter);
    put_u32(m + 16, (uint32_t)guarantee);
    put_u32(m + 20, (uint32_t)len);
    for (i = HDR_LEN; i < len; ++i) {
        m[i] = fill_byte(self, counter, i);
    }
}

/* Sends one message, retrying (and reading) while flow control says so. */
static cs_error_t send_one(cpg_handle_t h, uint64_t counter, int *try_again)
{
    int guarantee = (cfg->safe_every && (counter % (uint64_t)cfg->safe_every == 0))
                    ? CPG_TYPE_SAFE : CPG_TYPE_AGREED;
    size_t len = message_size(counter);
    uint8_t *m = malloc(len ? len : 1);
    struct iovec iov[3];
    cs_error_t err;
    size_t a = len / 3, b = len / 3;

    if (m == NULL) {
        return CS_ERR_NO_MEMORY;
    }
    if (len >= HDR_LEN) {
        build_payload(m, len, counter, guarantee);
    }
    /* three pieces: the library must gather them */
    iov[0].iov_base = m;         iov[0].iov_len = a;
    iov[1].iov_base = m + a;     iov[1].iov_len = b;
    iov[2].iov_base = m + a + b; iov[2].iov_len = len - a - b;
    while (((err = cpg_mcast_joined(h, (cpg_guarantee_t)guarantee, iov, 3)) == CS_ERR_TRY_AGAIN) &&
           !cut_off()) {
        cpg_flow_control_state_t fc = CPG_FLOW_CONTROL_DISABLED;
        /* the window may open between the two calls: count, don't insist */
        if ((cpg_flow_control_state_get(h, &fc) == CS_OK) && (fc == CPG_FLOW_CONTROL_ENABLED)) {
            ++fc_enabled_seen;
        }
        ++*try_again;
        if (!cfg->no_dispatch || (ucpg_test_rank() != 1)) {
            cpg_dispatch(h, CS_DISPATCH_ALL);
        }
        usleep(100);
    }
    free(m);
    return err;
}

static char trace_path[512];

/* The pid of the member that orders our group, from the directory (the
 * library's internal API: CPG has no call for it). */
static uint32_t orderer_pid(void)
{
    ucpg_group_addr_t addr;

    return (ucpg_group_orderer(gname.value, gname.length, &addr) == UCPG_OK) ? addr.pid : 0;
}

/* "SEND n" of a relay: n messages, then more until we order the group (the
 * role follows a sender that sends nearly everything), at most 10 s. */
static int relay_send(cpg_handle_t h, int n, uint64_t *sent_p)
{
    uint64_t deadline = ucpg_test_now_ms() + 10000, first = *sent_p, want;
    int try_again = 0, i;
    uint32_t orderer = 0;

    for (i = 0; (i < n) || ((orderer != my_pid) && (ucpg_test_now_ms() < deadline)); ++i) {
        if (send_one(h, (*sent_p)++, &try_again) != CS_OK) {
            return -1;
        }
        cpg_dispatch(h, CS_DISPATCH_ALL);
        if ((i >= n) && (i % 256 == 0)) {
            orderer = orderer_pid();      /* a file lock and a read: not every time */
        }
    }
    want = *sent_p;
    if (dispatch_until(h, own_done, &want, STEP_MS) != 0) {
        return -1;
    }
    ucpg_test_say("RELAYED %llu first=%u", (unsigned long long)(*sent_p - first),
                  (unsigned)orderer_pid());
    return 0;
}


/* What the shared-memory path of large bodies did in this process (core/am_shm.c). */
static void say_shm_stats(void)
{
    ucpg_am_shm_stats_t st;
    ucpg_domain_t *d;

    if (ucpg_boot_domain_get(&d) != UCPG_OK) {
        ucpg_test_say("SHM none");
        return;
    }
    ucpg_am_shm_stats(d, &st);
    ucpg_boot_domain_put(d);
    ucpg_test_say("SHM received=%llu lost=%llu sent=%llu", (unsigned long long)st.bodies_received,
                  (unsigned long long)st.bodies_lost, (unsigned long long)st.bodies_sent);
}

static int child_main(int rank, int nprocs, void *arg)
{
    uint64_t want_own, expect;
    unsigned local_nodeid = 0;
    int try_again = 0, i, fails = 0;
    char line[64];
    cpg_handle_t h;
    cs_error_t err;

    (void)nprocs;
    cfg    = arg;
    my_pid = (uint32_t)getpid();
    snprintf(trace_path, sizeof(trace_path), "%s/rank%d.trace", getenv("CPG_TRACE_DIR"), rank);
    if ((cpg_initialize(&h, &callbacks) != CS_OK) || (cpg_local_get(h, &local_nodeid) != CS_OK) ||
        (cpg_trace_open(&trace, trace_path, local_nodeid, (uint32_t)getpid()) != 0)) {
        ucpg_test_say("ERR init");
        return 1;
    }
    gname.length = (uint32_t)strlen(cfg->group);
    memcpy(gname.value, cfg->group, gname.length);
    err = cpg_join(h, &gname);
    ucpg_test_say("JOINED %d", err);
    if ((err != CS_OK) ||
        (dispatch_until(h, enough_members, (void*)&cfg->members, STEP_MS) != 0)) {
        ucpg_test_say("ERR members %d", nmembers);
        return 1;
    }
    ucpg_test_say("READY");
    if (ucpg_test_wait_for("GO", STEP_MS) != 0) {
        return 1;
    }
    want_own = (cfg->no_dispatch && (rank == 1)) ? 0 : (uint64_t)cfg->nsend;
    if ((cfg->sole_sender && (rank != cfg->sole_sender - 1)) || cfg->relay) {
        want_own = 0;
    }
    for (i = 0; (i < (int)want_own) && !fails && !cut_off(); ++i) {
        fails = (send_one(h, (uint64_t)i, &try_again) != CS_OK);
        cpg_dispatch(h, CS_DISPATCH_ALL);
    }
    if (cfg->no_dispatch && (rank == 1)) {
        ucpg_test_wait_for("DRAIN", STEP_MS);     /* a slow reader, then it catches up */
    }
    if ((fails && !cut_off()) || (dispatch_until(h, own_done, &want_own, STEP_MS) != 0)) {
        ucpg_test_say("ERR sent %d own %llu", i, (unsigned long long)nown);
        return 1;
    }
    if (cut_off()) {
        /* Only after a kill: reported so the parent can tell it apart. */
        ucpg_test_say("SENT cut-off");
        ucpg_test_wait_for("FINISH", STEP_MS);
        ucpg_test_say("COUNT cut-off");
        cpg_finalize(h);
        cpg_trace_close(&trace);
        return 0;
    }
    ucpg_test_say("SENT try_again=%d fc=%d first=%u", try_again, fc_enabled_seen,
                  (unsigned)orderer_pid());
    /* keep reading while the others finish: a member that stops reading
     * holds everyone's window */
    line[0] = '\0';
    while (strncmp(line, "FINISH ", 7) != 0) {
        if (ucpg_test_hear(line, sizeof(line), 20) != 0) {
            if (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK) {
                return 1;
            }
        } else if ((strncmp(line, "SEND ", 5) == 0) &&
                   (relay_send(h, atoi(line + 5), &want_own) != 0)) {
            ucpg_test_say("ERR relay");
            return 1;
        }
    }
    expect = strtoull(line + 7, NULL, 10);
    dispatch_until(h, total_done, &expect, STEP_MS);
    ucpg_test_say("COUNT %llu errors %d", (unsigned long long)ndelivered, content_errors);
    say_shm_stats();
    leaving = 1;
    if ((cpg_leave(h, &gname) != CS_OK) || (dispatch_until(h, left_done, NULL, STEP_MS) != 0)) {
        ucpg_test_say("ERR leave");
        return 1;
    }
    err = cpg_finalize(h);
    if ((cpg_trace_close(&trace) != 0) || (err != CS_OK) || content_errors) {
        return 1;
    }
    return 0;
}

/* --- the parent's side -------------------------------------------------------- */

static char trace_dir[256];

/* Checks the traces of every rank not in skip_mask. */
static int traces_check_some(int nprocs, unsigned skip_mask)
{
    const char *paths[16];
    char bufs[16][300], err[1024];
    int i, n = 0;

    for (i = 0; i < nprocs; ++i) {
        if (skip_mask & (1u << i)) {
            continue;
        }
        snprintf(bufs[n], sizeof(bufs[n]), "%s/rank%d.trace", trace_dir, i);
        paths[n] = bufs[n];
        ++n;
    }
    if (cpg_trace_check(paths, (size_t)n, err, sizeof(err)) != 0) {
        fprintf(stderr, "  trace check failed: %s\n", err);
        return -1;
    }
    return 0;
}

static int traces_check(int nprocs)
{
    return traces_check_some(nprocs, 0);
}

/* UCPG_TEST_KEEP_TRACES=1 keeps them (and the directory) for a post-mortem. */
static void traces_remove(int nprocs)
{
    char path[300];
    int i;

    if (getenv("UCPG_TEST_KEEP_TRACES") != NULL) {
        fprintf(stderr, "  traces kept in %s\n", trace_dir);
        return;
    }
    for (i = 0; i < nprocs; ++i) {
        snprintf(path, sizeof(path), "%s/rank%d.trace", trace_dir, i);
        unlink(path);
    }
}

/* The end of a run in which every rank delivers `total` messages: FINISH,
 * the counts, the exits, the properties. 0 if all hold. */
static int finish_all(ucpg_harness_t *h, int nprocs, unsigned long long total)
{
    char want[64];
    int passed = 0;

    snprintf(want, sizeof(want), "COUNT %llu errors 0", total);
    INTEG_CHECK(ucpg_harness_send_all(h, "FINISH %llu", total) == 0, "FINISH");
    INTEG_CHECK(ucpg_harness_expect_all(h, want, STEP_MS) == 0, "counts");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a rank failed");
    INTEG_CHECK(traces_check(nprocs) == 0, "properties");
    passed = 1;
fail:
    return passed ? 0 : -1;
}

/* Settings of the variants of the tests (NULL: default). */
static struct {
    const char *fanout;    /* UCX_CPG_GROUP_TREE_FANOUT and _RELAY_FANOUT */
    const char *tls;       /* UCX_TLS */
    const char *stall_ms;  /* UCX_CPG_GROUP_STALL_TIMEOUT_MS */
    const char *handover;  /* UCX_CPG_GROUP_HANDOVER_EVENTS */
} variant_env;

static void setenv_if(ucpg_harness_t *h, const char *name, const char *value)
{
    if (value != NULL) {
        ucpg_harness_setenv(h, name, value);
    }
}

static ucpg_harness_t *harness_new(void)
{
    ucpg_harness_t *h = ucpg_harness_create(120000);

    if (h != NULL) {
        ucpg_harness_setenv(h, "CPG_TRACE_DIR", trace_dir);
        setenv_if(h, "UCX_CPG_GROUP_TREE_FANOUT", variant_env.fanout);
        setenv_if(h, "UCX_CPG_GROUP_TREE_RELAY_FANOUT", variant_env.fanout);
        setenv_if(h, "UCX_TLS", variant_env.tls);
        setenv_if(h, "UCX_CPG_GROUP_STALL_TIMEOUT_MS", variant_env.stall_ms);
        setenv_if(h, "UCX_CPG_GROUP_HANDOVER_EVENTS", variant_env.handover);
    }
    return h;
}

static ucpg_harness_t *start(int nprocs, const child_cfg_t *c, const char *window)
{
    ucpg_harness_t *h = harness_new();
    int i;

    if (h == NULL) {
        return NULL;
    }
    setenv_if(h, "UCX_CPG_GROUP_WINDOW", window);
    for (i = 0; i < nprocs; ++i) {
        if (ucpg_harness_fork(h, 1, child_main, (void*)c) < 0) {
            ucpg_harness_destroy(h);
            return NULL;
        }
        /* rank 0 first, so it is the oldest member: the sequencer */
        if ((i == 0) && (ucpg_harness_expect(h, 0, "JOINED", NULL, 0, STEP_MS) != 0)) {
            ucpg_harness_destroy(h);
            return NULL;
        }
    }
    return h;
}

/* A rank SIGSTOPped before GO (stop_rank) sends nothing until it is
 * continued once the others have sent: by then it must have been removed
 * (it says "SENT cut-off"), and everything the others sent is delivered. */
static int run_stopped(ucpg_harness_t *h, int stop_rank, unsigned *cut_mask)
{
    char line[128];
    int passed = 0;

    INTEG_CHECK(kill(ucpg_harness_pid(h, stop_rank), SIGCONT) == 0, "SIGCONT");
    INTEG_CHECK(ucpg_harness_expect(h, stop_rank, "SENT", line, sizeof(line), STEP_MS) == 0,
                "stopped rank %d", stop_rank);
    INTEG_CHECK(strcmp(line, "SENT cut-off") == 0, "stopped rank %d was not removed: %s",
                stop_rank, line);
    *cut_mask |= 1u << stop_rank;
    passed = 1;
fail:
    return passed ? 0 : -1;
}

/* All ranks send, everyone must see everything; optionally kill one rank
 * after GO, or stop one before GO (stop_rank). */
/* Rank r received bodies through shared memory and lost none. */
static int shm_check(ucpg_harness_t *h, int r)
{
    unsigned long long received = 0, lost = 1, sent = 0;
    char line[128];

    if ((ucpg_harness_expect(h, r, "SHM ", line, sizeof(line), STEP_MS) != 0) ||
        (sscanf(line, "SHM received=%llu lost=%llu sent=%llu", &received, &lost, &sent) != 3)) {
        fprintf(stderr, "  rank %d said no shared-memory counts\n", r);
        return -1;
    }
    if ((received == 0) || (lost != 0)) {
        fprintf(stderr, "  rank %d: %s\n", r, line);
        return -1;
    }
    return 0;
}

static int run_all_deliver_ex(int nprocs, const child_cfg_t *c, int kill_rank,
                              unsigned kill_after_ms, int stop_rank, const char *window)
{
    ucpg_harness_t *h = start(nprocs, c, window);
    unsigned long long expect = (unsigned long long)(c->sole_sender ? 1 : nprocs) *
                                (unsigned long long)c->nsend;
    char line[128];
    int passed = 0, r, survivors = nprocs;
    unsigned cut_mask = 0;

    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "not all ready");
    if (stop_rank >= 0) {
        INTEG_CHECK(ucpg_harness_stop_pid(ucpg_harness_pid(h, stop_rank), 2000) == 0, "SIGSTOP");
        expect -= (unsigned long long)c->nsend;      /* it sends nothing while in */
    }
    INTEG_CHECK(ucpg_harness_send_all(h, "GO") == 0, "GO");
    if (kill_rank >= 0) {
        usleep(kill_after_ms * 1000u);
        INTEG_CHECK(ucpg_harness_kill(h, kill_rank, SIGKILL) == 0, "kill");
        survivors--;
        expect = 0;                    /* the dead one's count is unknown */
    }
    for (r = 0; r < nprocs; ++r) {
        if ((r == kill_rank) || (r == stop_rank)) {
            continue;
        }
        INTEG_CHECK(ucpg_harness_expect(h, r, "SENT", line, sizeof(line), STEP_MS) == 0,
                    "rank %d did not finish sending", r);
        if (strcmp(line, "SENT cut-off") == 0) {
            /* UCX's shared-memory ring of this rank was left blocked by the
             * killed sender: it can hear nobody, the library removed it
             * (and the group went on without it). Only after a kill; its
             * trace is not part of the check. */
            INTEG_CHECK(kill_rank >= 0, "rank %d cut off without a kill", r);
            cut_mask |= 1u << r;
            fprintf(stderr, "  note: rank %d was cut off by the killed sender (see "
                    "docs/protocol.md, known limits)\n", r);
        }
    }
    /* The killed process can have been writing to two rings at once (its
     * application and progress threads both send); the successor itself is
     * never cut off, so somebody always carries the group on. */
    INTEG_CHECK(__builtin_popcount(cut_mask) < survivors, "every survivor cut off");
    INTEG_CHECK((stop_rank < 0) || (run_stopped(h, stop_rank, &cut_mask) == 0), "stopped");
    INTEG_CHECK(ucpg_harness_send_all(h, "FINISH %llu", expect) == 0, "FINISH");
    for (r = 0; r < nprocs; ++r) {
        unsigned long long got = 0;
        int errors = 0;
        if ((r == kill_rank) || (cut_mask & (1u << r))) {
            continue;
        }
        INTEG_CHECK(ucpg_harness_expect(h, r, "COUNT", line, sizeof(line), STEP_MS) == 0,
                    "rank %d no count", r);
        INTEG_CHECK(sscanf(line, "COUNT %llu errors %d", &got, &errors) == 2, "%s", line);
        INTEG_CHECK(errors == 0, "rank %d: %d corrupt deliveries", r, errors);
        INTEG_CHECK((expect == 0) || (got == expect), "rank %d got %llu of %llu", r, got,
                    expect);
        INTEG_CHECK(!c->expect_shm || (shm_check(h, r) == 0), "rank %d: shared memory", r);
    }
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a rank failed");
    INTEG_CHECK(traces_check_some(nprocs, cut_mask) == 0, "properties");
    passed = 1;
fail:
    traces_remove(nprocs);
    return integ_end(h, passed);
}

static int run_all_deliver(int nprocs, const child_cfg_t *c, int kill_rank, unsigned kill_after_ms)
{
    return run_all_deliver_ex(nprocs, c, kill_rank, kill_after_ms, -1, NULL);
}

static int test_three_senders_agreed_and_safe(void)
{
    static const child_cfg_t c = {"order", 400, 3, 0, NULL, 4, 0, 0, 0, 0};
    return run_all_deliver(3, &c, -1, 0);
}

static int test_join_storm_8(void)
{
    static const child_cfg_t c = {"storm", 50, 8, 64, NULL, 0, 0, 0, 0, 0};
    ucpg_harness_t *h = harness_new();
    int passed = 0;

    /* all eight join at once (no stagger, no ordering among them) */
    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_fork(h, 8, child_main, (void*)&c) == 0, "fork");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "not all ready");
    INTEG_CHECK(ucpg_harness_send_all(h, "GO") == 0, "GO");
    INTEG_CHECK(ucpg_harness_expect_all(h, "SENT", STEP_MS) == 0, "not all sent");
    INTEG_CHECK(ucpg_harness_send_all(h, "FINISH %d", 8 * 50) == 0, "FINISH");
    INTEG_CHECK(ucpg_harness_expect_all(h, "COUNT 400 errors 0", STEP_MS) == 0, "counts");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a rank failed");
    INTEG_CHECK(traces_check(8) == 0, "properties");
    passed = 1;
fail:
    traces_remove(8);
    return integ_end(h, passed);
}

static int test_sizes(void)
{
    /* 0 and 1 byte (untagged), around UCX's eager/rendezvous switch, 1 MiB, 16 MiB */
    static const size_t sizes[] = {0, 1, HDR_LEN, 8191, 8192, 8193, 65535, 65536, 65537,
                                   1048575, 1048576, 1048577, 16u << 20};
    static const child_cfg_t c = {"sizes", (int)(sizeof(sizes) / sizeof(sizes[0])), 2, 0,
                                  sizes, 3, 0, 0, 0, 0};
    return run_all_deliver(2, &c, -1, 0);
}


/*
 * Kills run over TCP: UCX 1.13's shared-memory transport gives each process
 * one receive ring shared by its senders, and a sender killed halfway through
 * writing a slot blocks that ring for good (docs/protocol.md, known limits).
 * On shared memory these tests would test that UCX limit (one run in about
 * thirty under load, the deafened process being the sequencer) rather than
 * the protocol's fail-over.
 */
static int with_env(const char *fanout, const char *tls, int (*test)(void))
{
    int ret;

    variant_env.fanout = fanout;
    variant_env.tls    = tls;
    ret             = test();
    memset(&variant_env, 0, sizeof(variant_env));
    return ret;
}

static int kill_sequencer(void)
{
    static const child_cfg_t c = {"killseq", 3000, 4, 100, NULL, 0, 0, 0, 0, 0};
    return run_all_deliver(4, &c, 0, 30);     /* rank 0 joined first: the sequencer */
}

static int test_kill_sequencer_midstream(void)
{
    return with_env(NULL, "tcp,self", kill_sequencer);
}

static int kill_sender(void)
{
    static const child_cfg_t c = {"killsnd", 3000, 4, 100, NULL, 5, 0, 0, 0, 0};
    return run_all_deliver(4, &c, 2, 30);
}

static int test_kill_sender_midstream(void)
{
    return with_env(NULL, "tcp,self", kill_sender);
}

/*
 * The same two kills with 128 KiB bodies, which travel through the
 * shared-memory pools: ordered bodies of the dead process are still
 * delivered by every survivor (its segment stays readable while attached),
 * and no survivor loses one.
 */
static int kill_sequencer_large(void)
{
    static const child_cfg_t c = {"killseqbig", 400, 4, 128u << 10, NULL, 0, 0, 0, 0, 1};
    return run_all_deliver(4, &c, 0, 60);
}

static int test_kill_sequencer_midstream_large_bodies(void)
{
    return with_env(NULL, "tcp,self", kill_sequencer_large);
}

static int kill_sender_large(void)
{
    static const child_cfg_t c = {"killsndbig", 400, 4, 128u << 10, NULL, 5, 0, 0, 0, 1};
    return run_all_deliver(4, &c, 2, 60);
}

static int test_kill_sender_midstream_large_bodies(void)
{
    return with_env(NULL, "tcp,self", kill_sender_large);
}

static int test_slow_reader_flow_control(void)
{
    static const child_cfg_t c = {"slow", 3000, 2, 1000, NULL, 0, 1, 0, 0, 0};
    ucpg_harness_t *h = start(2, &c, "256");
    char line[128];
    int passed = 0, try_again = 0, fc = 0;

    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "not all ready");
    INTEG_CHECK(ucpg_harness_send_all(h, "GO") == 0, "GO");
    /* rank 1 reads nothing: rank 0 is held back (TRY_AGAIN), never runs away */
    INTEG_CHECK(ucpg_harness_expect(h, 0, "SENT", line, sizeof(line), 2000) != 0,
                "3000 messages got past a reader with a window of 256");
    INTEG_CHECK(ucpg_harness_send(h, 1, "DRAIN") == 0, "DRAIN");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "SENT", line, sizeof(line), STEP_MS) == 0, "rank 0");
    INTEG_CHECK(sscanf(line, "SENT try_again=%d fc=%d", &try_again, &fc) == 2, "%s", line);
    INTEG_CHECK(try_again > 0, "no CS_ERR_TRY_AGAIN seen");
    INTEG_CHECK(fc > 0, "cpg_flow_control_state_get never said ENABLED while held back");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "SENT", NULL, 0, STEP_MS) == 0, "rank 1");
    INTEG_CHECK(finish_all(h, 2, 3000) == 0, "finish");
    passed = 1;
fail:
    traces_remove(2);
    return integ_end(h, passed);
}


/* --- two groups per process, one handle each ---------------------------------- */

static int two_members[2], two_self_left[2];
static uint64_t two_delivered[2], two_own[2];

static int two_index(const struct cpg_name *g) { return g->value[g->length - 1] == 'B'; }

static void on_two_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid,
                           uint32_t pid, void *msg, size_t len)
{
    int k = two_index(g);

    on_deliver(h, g, nodeid, pid, msg, len);        /* traces and checks the payload */
    two_delivered[k]++;
    two_own[k] += (pid == my_pid);
}

static void on_two_confchg(cpg_handle_t h, const struct cpg_name *g,
                           const struct cpg_address *members, size_t nm,
                           const struct cpg_address *left, size_t nl,
                           const struct cpg_address *joined, size_t nj)
{
    int k = two_index(g);
    size_t i;

    on_confchg(h, g, members, nm, left, nl, joined, nj);
    two_members[k] = (int)nm;
    for (i = 0; i < nl; ++i) {
        two_self_left[k] |= (left[i].pid == my_pid);
    }
}

static cpg_callbacks_t two_callbacks = {on_two_deliver, on_two_confchg};

/* Dispatches both handles until cond(arg) or the step deadline. */
static int two_dispatch_until(cpg_handle_t *h, int (*cond)(void *), void *arg)
{
    uint64_t deadline = ucpg_test_now_ms() + STEP_MS;
    struct pollfd pfd[2];
    int k;

    for (k = 0; k < 2; ++k) {
        if (cpg_fd_get(h[k], &pfd[k].fd) != CS_OK) {
            return -1;
        }
        pfd[k].events = POLLIN;
    }
    while (!cond(arg)) {
        if ((ucpg_test_now_ms() > deadline) || (poll(pfd, 2, 50) < 0)) {
            return -1;
        }
        for (k = 0; k < 2; ++k) {
            if (cpg_dispatch(h[k], CS_DISPATCH_ALL) != CS_OK) {
                return -1;
            }
        }
    }
    return 0;
}

static int two_all_members(void *arg)
{
    return (two_members[0] >= *(int*)arg) && (two_members[1] >= *(int*)arg);
}
static int two_all_delivered(void *arg)
{
    return (two_delivered[0] >= *(uint64_t*)arg) && (two_delivered[1] >= *(uint64_t*)arg);
}
static int two_both_left(void *arg) { (void)arg; return two_self_left[0] && two_self_left[1]; }

static int child_two_groups(int rank, int nprocs, void *arg)
{
    static const char *names[2] = {"twoA", "twoB"};
    const child_cfg_t *c = arg;
    uint64_t expect = (uint64_t)nprocs * (uint64_t)c->nsend;
    struct cpg_name g[2];
    cpg_handle_t h[2];
    unsigned nodeid = 0;
    int k, i, try_again = 0;

    cfg    = c;
    my_pid = (uint32_t)getpid();
    snprintf(trace_path, sizeof(trace_path), "%s/rank%d.trace", getenv("CPG_TRACE_DIR"), rank);
    for (k = 0; k < 2; ++k) {
        g[k].length = (uint32_t)strlen(names[k]);
        memcpy(g[k].value, names[k], g[k].length);
        if ((cpg_initialize(&h[k], &two_callbacks) != CS_OK) || (cpg_join(h[k], &g[k]) != CS_OK)) {
            ucpg_test_say("ERR join %s", names[k]);
            return 1;
        }
    }
    if ((cpg_local_get(h[0], &nodeid) != CS_OK) ||
        (cpg_trace_open(&trace, trace_path, nodeid, my_pid) != 0)) {
        return 1;
    }
    /* the trace starts after the joins: re-dispatching from here is enough,
     * the join confchgs are still queued */
    if (two_dispatch_until(h, two_all_members, &nprocs) != 0) {
        ucpg_test_say("ERR members %d %d", two_members[0], two_members[1]);
        return 1;
    }
    ucpg_test_say("READY");
    ucpg_test_wait_for("GO", STEP_MS);
    for (i = 0; i < c->nsend; ++i) {
        for (k = 0; k < 2; ++k) {            /* alternate: the two streams interleave */
            if (send_one(h[k], (uint64_t)i, &try_again) != CS_OK) {
                ucpg_test_say("ERR send");
                return 1;
            }
        }
    }
    if (two_dispatch_until(h, two_all_delivered, &expect) != 0) {
        ucpg_test_say("ERR delivered %llu %llu", (unsigned long long)two_delivered[0],
                      (unsigned long long)two_delivered[1]);
        return 1;
    }
    ucpg_test_say("COUNT %llu %llu errors %d", (unsigned long long)two_delivered[0],
                  (unsigned long long)two_delivered[1], content_errors);
    ucpg_test_wait_for("LEAVE", STEP_MS);
    leaving = 1;
    for (k = 0; k < 2; ++k) {
        if (cpg_leave(h[k], &g[k]) != CS_OK) {
            return 1;
        }
    }
    if (two_dispatch_until(h, two_both_left, NULL) != 0) {
        return 1;
    }
    cpg_finalize(h[0]);
    cpg_finalize(h[1]);
    return (cpg_trace_close(&trace) != 0) || content_errors;
}

static int test_two_groups_per_process(void)
{
    static const child_cfg_t c = {"two", 300, 3, 64, NULL, 6, 0, 0, 0, 0};
    ucpg_harness_t *h = ucpg_harness_create(120000);
    char want[64];
    int passed = 0;

    INTEG_CHECK(h != NULL, "harness");
    ucpg_harness_setenv(h, "CPG_TRACE_DIR", trace_dir);
    INTEG_CHECK(ucpg_harness_fork(h, 3, child_two_groups, (void*)&c) == 0, "fork");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "not all ready");
    INTEG_CHECK(ucpg_harness_send_all(h, "GO") == 0, "GO");
    snprintf(want, sizeof(want), "COUNT %d %d errors 0", 3 * 300, 3 * 300);
    INTEG_CHECK(ucpg_harness_expect_all(h, want, STEP_MS) == 0, "counts");
    INTEG_CHECK(ucpg_harness_send_all(h, "LEAVE") == 0, "LEAVE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a rank failed");
    INTEG_CHECK(traces_check(3) == 0, "properties");
    passed = 1;
fail:
    traces_remove(3);
    return integ_end(h, passed);
}

/* --- the delivery tree ---------------------------------------------------------
 *
 * The other tests run with the default fan-outs (2 for the sequencer's own
 * messages, 8 for the others': flat up to 9 receivers). Here the same
 * properties with both fan-outs 0 (the sequencer sends every copy itself),
 * 1 (a chain, the deepest tree there is) and 2.
 */

static int four_senders_agreed_and_safe(void)
{
    static const child_cfg_t c = {"tree", 400, 4, 0, NULL, 4, 0, 0, 0, 0};
    return run_all_deliver(4, &c, -1, 0);
}

static int kill_forwarder(void)
{
    /* rank 1 is the first member after the sequencer: in a chain it
     * forwards the messages of ranks 0, 2 and 3 */
    static const child_cfg_t c = {"treekill", 3000, 4, 100, NULL, 0, 0, 0, 0, 0};
    return run_all_deliver(4, &c, 1, 30);
}

/* Rank 1 forwards rank 0's and rank 2's messages and is stopped: the
 * sequencer sends them to rank 2 itself (lag check) until the stall
 * timeout removes rank 1. */
static int stopped_forwarder(void)
{
    static const child_cfg_t c = {"treestop", 1500, 3, 64, NULL, 0, 0, 0, 0, 0};
    /* The rank below the stopped one is repaired after 500 ms
     * (UCPG_GROUP_LAG_MS), its stall clock restarts then, and it must
     * read what it got within the stall timeout: 1 s removed it too in
     * about 1 run of 50 on a loaded CI machine, 2 s (then counted from
     * before the repair) once in CI's sanitizer build. */
    variant_env.stall_ms = "3000";
    return run_all_deliver_ex(3, &c, -1, 0, 1, "64");
}

/*
 * 256 KiB messages from every member of four, some SAFE: the bodies travel
 * through the members' shared-memory pools (core/am_shm.c), including the
 * sequencer's own messages relayed down the tree (fan-out 2), and every
 * rank must have received bodies that way and lost none, besides the usual
 * properties of the traces.
 */
static int large_bodies(void)
{
    static const child_cfg_t c = {"shmbody", 60, 4, 256u << 10, NULL, 5, 0, 0, 0, 1};
    return run_all_deliver(4, &c, -1, 0);
}

static int test_large_bodies_through_shared_memory(void)
{
    return with_env("2", NULL, large_bodies);
}

static int test_flat_agreed_and_safe(void)
{
    return with_env("0", NULL, four_senders_agreed_and_safe);    /* no forwarding at all */
}

static int test_tree_chain_agreed_and_safe(void)
{
    return with_env("1", NULL, four_senders_agreed_and_safe);
}

static int test_tree_binary_join_storm_8(void)
{
    return with_env("2", NULL, test_join_storm_8);
}

static int test_tree_chain_kill_forwarder_midstream(void)
{
    return with_env("1", "tcp,self", kill_forwarder);
}

static int test_tree_chain_kill_sequencer_midstream(void)
{
    return with_env("1", "tcp,self", kill_sequencer);
}

static int test_tree_chain_stopped_forwarder_is_routed_around(void)
{
    return with_env("1", NULL, stopped_forwarder);
}

/* --- hand-over of the sequencer role ---------------------------------------------
 *
 * Rank 0 joins first and orders the group; when one other member sends
 * nearly everything, the role moves to it (docs/protocol.md, "Hand-over").
 */

/* Ranks senders[0..n-1] send in turn while the others read: each sends
 * 2000 messages, then on until it orders the group (a round of the
 * hand-over lasts at least 50 ms, which 2000 messages may not), and must
 * then order it. Rank 0 joined first and ordered the group at the start. */
static int relay(const char *group, const int *senders, int n)
{
    child_cfg_t c = {group, 0, 4, 64, NULL, 25, 0, 0, 1, 0};
    ucpg_harness_t *h = start(4, &c, NULL);
    unsigned long long total = 0, count;
    unsigned first = 0;
    char line[128];
    int passed = 0, i, r;

    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "not all ready");
    INTEG_CHECK(ucpg_harness_send_all(h, "GO") == 0, "GO");
    INTEG_CHECK(ucpg_harness_expect_all(h, "SENT", STEP_MS) == 0, "not all past GO");
    for (i = 0; i < n; ++i) {
        r = senders[i];
        INTEG_CHECK(ucpg_harness_send(h, r, "SEND 2000") == 0, "SEND");
        INTEG_CHECK(ucpg_harness_expect(h, r, "RELAYED", line, sizeof(line), STEP_MS) == 0,
                    "rank %d", r);
        INTEG_CHECK(sscanf(line, "RELAYED %llu first=%u", &count, &first) == 2, "%s", line);
        INTEG_CHECK(first == (unsigned)ucpg_harness_pid(h, r),
                    "rank %d (pid %d) sent %llu messages alone, yet pid %u orders the group",
                    r, (int)ucpg_harness_pid(h, r), count, first);
        total += count;
    }
    INTEG_CHECK(finish_all(h, 4, total) == 0, "finish");
    passed = 1;
fail:
    traces_remove(4);
    return integ_end(h, passed);
}

static int test_handover_to_sole_sender(void)
{
    static const int senders[] = {2};
    return relay("hosole", senders, 1);
}

static int kill_new_sequencer(void)
{
    /* a round lasts at least 50 ms: killed at 150 ms, rank 2 has normally
     * been ordering for about 100 ms (and flooding on for longer) */
    static const child_cfg_t c = {"hokill", 100000, 4, 100, NULL, 25, 0, 3, 0, 0};
    return run_all_deliver(4, &c, 2, 150);
}

static int test_handover_then_kill_new_sequencer(void)
{
    int ret;

    /* rounds of 16 messages (and 50 ms): rank 2 orders before it is killed */
    variant_env.handover = "16";
    ret = with_env(NULL, "tcp,self", kill_new_sequencer);
    return ret;
}

static int four_senders_handover_storm(void)
{
    /* rounds of 8 messages (and 50 ms): whenever the scheduler lets one
     * sender dominate a round the role moves, mid-stream, under 3 others */
    static const child_cfg_t c = {"hostorm", 3000, 4, 0, NULL, 7, 0, 0, 0, 0};
    variant_env.handover = "8";
    return run_all_deliver(4, &c, -1, 0);
}

static int test_handover_storm_four_senders(void)
{
    return with_env(NULL, NULL, four_senders_handover_storm);
}

static int test_handover_follows_the_sender(void)
{
    static const int senders[] = {1, 2, 3};
    return relay("horelay", senders, 3);
}

static int test_handover_off_keeps_the_oldest(void)
{
    static const child_cfg_t c = {"hooff", 600, 3, 0, NULL, 0, 0, 2, 0, 0};
    ucpg_harness_t *h;
    char line[128];
    unsigned first = 0;
    int passed = 0;

    variant_env.handover = "0";
    h = start(3, &c, NULL);
    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "not all ready");
    INTEG_CHECK(ucpg_harness_send_all(h, "GO") == 0, "GO");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "SENT", line, sizeof(line), STEP_MS) == 0, "rank 1");
    INTEG_CHECK((strstr(line, "first=") != NULL) &&
                (sscanf(strstr(line, "first="), "first=%u", &first) == 1), "%s", line);
    INTEG_CHECK(first == (unsigned)ucpg_harness_pid(h, 0),
                "group_handover_events=0, yet pid %u orders the group, not rank 0", first);
    INTEG_CHECK(ucpg_harness_expect(h, 0, "SENT", NULL, 0, STEP_MS) == 0, "rank 0");
    INTEG_CHECK(ucpg_harness_expect(h, 2, "SENT", NULL, 0, STEP_MS) == 0, "rank 2");
    INTEG_CHECK(finish_all(h, 3, 600) == 0, "finish");
    passed = 1;
fail:
    memset(&variant_env, 0, sizeof(variant_env));
    traces_remove(3);
    return integ_end(h, passed);
}

static const integ_test_t tests[] = {
    INTEG_TEST(test_three_senders_agreed_and_safe),
    INTEG_TEST(test_sizes),
    INTEG_TEST(test_join_storm_8),
    INTEG_TEST(test_two_groups_per_process),
    INTEG_TEST(test_kill_sender_midstream),
    INTEG_TEST(test_kill_sequencer_midstream),
    INTEG_TEST(test_slow_reader_flow_control),
    INTEG_TEST(test_large_bodies_through_shared_memory),
    INTEG_TEST(test_kill_sequencer_midstream_large_bodies),
    INTEG_TEST(test_kill_sender_midstream_large_bodies),
    INTEG_TEST(test_flat_agreed_and_safe),
    INTEG_TEST(test_tree_chain_agreed_and_safe),
    INTEG_TEST(test_tree_binary_join_storm_8),
    INTEG_TEST(test_tree_chain_kill_forwarder_midstream),
    INTEG_TEST(test_tree_chain_kill_sequencer_midstream),
    INTEG_TEST(test_tree_chain_stopped_forwarder_is_routed_around),
    INTEG_TEST(test_handover_to_sole_sender),
    INTEG_TEST(test_handover_then_kill_new_sequencer),
    INTEG_TEST(test_handover_storm_four_senders),
    INTEG_TEST(test_handover_follows_the_sender),
    INTEG_TEST(test_handover_off_keeps_the_oldest),
};

int main(int argc, char **argv)
{
    int ret;

    snprintf(trace_dir, sizeof(trace_dir), "/tmp/ucpg_test_cpg.%d", (int)getpid());
    if ((mkdir(trace_dir, 0700) != 0) && (errno != EEXIST)) {
        perror(trace_dir);
        return 1;
    }
    ret = integ_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
    rmdir(trace_dir);
    return ret;
}
