/*
 * test_cpg_api.c - every CPG call's documented results, in real processes:
 * error codes for bad handles, names, states and sizes; the places where
 * corosync is wrong and we are not (send while not joined, leave with
 * another name, rejoin, 100 iovecs, membership_get's array size, finalize
 * waking a blocked dispatcher); dispatch modes; iteration; zero-copy
 * buffers; the INITIAL totem confchg, and one per change of the node set
 * to joined and unjoined handles; leave / finalize / kill reasons
 * seen by another member; a SIGSTOPped member removed by the stall timeout;
 * a SIGSTOPped sequencer removed by the members it leaves waiting (of two
 * and of three); a hand-over to a member that knew of a death the old
 * sequencer missed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corosync/cpg.h"
#include "harness.h"
#include "integ_run.h"

#define STEP_MS 20000u
#define MARK    0xeeu           /* first byte of a message a test waits for */

/* Fails the child with the call, what it returned and what was expected. */
#define EXPECT_CS(call, want) \
    do { \
        cs_error_t got_ = (call); \
        if (got_ != (want)) { \
            ucpg_test_say("ERR %s:%d %s = %d, want %d", __FILE__, __LINE__, #call, (int)got_, \
                          (int)(want)); \
            return 1; \
        } \
    } while (0)

#define EXPECT_TRUE(cond) \
    do { \
        if (!(cond)) { \
            ucpg_test_say("ERR %s:%d %s", __FILE__, __LINE__, #cond); \
            return 1; \
        } \
    } while (0)

/* --- what a process saw ---------------------------------------------------- */

typedef struct seen {
    int      confchgs, totems, delivered;
    int      own_marked;        /* our own messages whose first byte is MARK */
    int      marked;            /* anyone's messages whose first byte is MARK */
    int      marked_at_confchg; /* marked when the last confchg came */
    size_t   last_len;
    uint32_t last_pid;
    uint8_t  last_first, last_end;
    size_t   members;
    uint32_t left_pid, left_reason, joined_pid, joined_reason;
} seen_t;

static seen_t seen;

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
                       void *msg, size_t len)
{
    (void)h; (void)g; (void)nodeid;
    seen.delivered++;
    seen.last_len   = len;
    seen.last_pid   = pid;
    seen.last_first = len ? ((uint8_t*)msg)[0] : 0;
    seen.last_end   = len ? ((uint8_t*)msg)[len - 1] : 0;
    seen.own_marked += (pid == (uint32_t)getpid()) && (seen.last_first == MARK);
    seen.marked     += (seen.last_first == MARK);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g,
                       const struct cpg_address *members, size_t nm,
                       const struct cpg_address *left, size_t nl,
                       const struct cpg_address *joined, size_t nj)
{
    (void)h; (void)g; (void)members;
    seen.confchgs++;
    seen.members           = nm;
    seen.marked_at_confchg = seen.marked;
    if (nl > 0) {
        seen.left_pid    = left[0].pid;
        seen.left_reason = left[0].reason;
    }
    if (nj > 0) {
        seen.joined_pid    = joined[0].pid;
        seen.joined_reason = joined[0].reason;
    }
}

static void on_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *nodes)
{
    (void)h; (void)ring;
    seen.totems += (n > 0) && (nodes[0] != 0);
}

static struct cpg_name name_of(const char *s)
{
    struct cpg_name n;

    memset(&n, 0, sizeof(n));
    n.length = (uint32_t)strlen(s);
    memcpy(n.value, s, n.length);
    return n;
}

/* cpg_max_atomic_msgsize_get's answer with group_max_msg at its default
 * (64 MiB): a host group's is a quarter of its log, less two 16-byte
 * headers, within it (UCX_CPG_GROUP_HOST_LOG_MB, a power of two here). */
static uint32_t default_max_msg(void)
{
    const char *host_mb = getenv("UCX_CPG_GROUP_HOST_LOG_MB");
    uint32_t max = 64u << 20, quarter;

    if ((host_mb == NULL) || (atoi(host_mb) <= 0)) {
        return max;
    }
    quarter = ((uint32_t)atoi(host_mb) << 20) / 4 - 32;
    return (quarter < max) ? quarter : max;
}

/* Dispatches (ALL) until *counter reaches want; 0 on success. */
static int wait_count(cpg_handle_t h, const int *counter, int want)
{
    uint64_t deadline = ucpg_test_now_ms() + STEP_MS;
    struct pollfd pfd;

    if (cpg_fd_get(h, &pfd.fd) != CS_OK) {
        return -1;
    }
    while (*counter < want) {
        pfd.events = POLLIN;
        if (ucpg_test_now_ms() > deadline) {
            return -1;
        }
        if ((poll(&pfd, 1, 50) > 0) && (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK)) {
            return -1;
        }
    }
    return 0;
}

static cpg_callbacks_t callbacks = {on_deliver, on_confchg};

/* Model v1 with every callback and the INITIAL totem confchg. */
static void model_with_initial_totem(cpg_model_v1_data_t *model)
{
    memset(model, 0, sizeof(*model));
    model->model                = CPG_MODEL_V1;
    model->cpg_deliver_fn       = on_deliver;
    model->cpg_confchg_fn       = on_confchg;
    model->cpg_totem_confchg_fn = on_totem;
    model->flags                = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
}

/* --- single process ---------------------------------------------------------- */

static int child_handles_and_names(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("api"), other = name_of("api2"), longname;
    cpg_model_v1_data_t model;
    cpg_handle_t h, h2;
    unsigned nodeid = 0;
    void *ctx = NULL;
    int fd1 = -1, fd2 = -1;

    (void)rank; (void)nprocs; (void)arg;
    memset(&longname, 'x', sizeof(longname));
    longname.length = CPG_MAX_NAME_LENGTH + 1;
    memset(&model, 0, sizeof(model));
    model.model = CPG_MODEL_V1;
    model.flags = 0x2;
    EXPECT_CS(cpg_finalize(0x1234567800000000ull), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_model_initialize(&h, 2, NULL, NULL), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t*)&model, NULL),
              CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_context_set(h, &seen), CS_OK);
    EXPECT_CS(cpg_context_get(h, &ctx), CS_OK);
    EXPECT_TRUE(ctx == &seen);
    EXPECT_CS(cpg_fd_get(h, &fd1), CS_OK);
    EXPECT_CS(cpg_fd_get(h, &fd2), CS_OK);
    EXPECT_TRUE((fd1 >= 0) && (fd1 == fd2));
    EXPECT_CS(cpg_local_get(h, &nodeid), CS_OK);
    EXPECT_TRUE(nodeid != 0);
    EXPECT_CS(cpg_dispatch(h, 0), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
    /* not joined: corosync says CS_OK and drops the message */
    {
        struct iovec iov = {"x", 1};
        EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_NOT_EXIST);
    }
    EXPECT_CS(cpg_leave(h, &g), CS_ERR_NOT_EXIST);
    EXPECT_CS(cpg_join(h, &longname), CS_ERR_NAME_TOO_LONG);
    EXPECT_CS(cpg_join(h, NULL), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);
    EXPECT_TRUE((seen.members == 1) && (seen.joined_pid == (uint32_t)getpid()) &&
                (seen.joined_reason == CPG_REASON_JOIN));
    EXPECT_CS(cpg_join(h, &g), CS_ERR_EXIST);            /* one group per handle */
    EXPECT_CS(cpg_join(h, &other), CS_ERR_EXIST);
    EXPECT_CS(cpg_initialize(&h2, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h2, &g), CS_ERR_EXIST);           /* this process is a member */
    EXPECT_CS(cpg_join(h2, &other), CS_OK);              /* a second handle, another group */
    EXPECT_CS(cpg_leave(h, &other), CS_ERR_NOT_EXIST);   /* corosync: a ghost member */
    EXPECT_CS(cpg_leave(h, &longname), CS_ERR_NAME_TOO_LONG);
    EXPECT_CS(cpg_finalize(h2), CS_OK);
    EXPECT_CS(cpg_finalize(h2), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_context_get(h2, &ctx), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_ERR_BAD_HANDLE);
    return 0;
}

static int child_messages(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("msgs");
    struct cpg_address list[4];
    struct iovec iov[100];
    uint8_t bytes[100];
    uint32_t max = 0;
    int n, i;
    cpg_handle_t h;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_max_atomic_msgsize_get(h, &max), CS_OK);
    EXPECT_TRUE(max == 1048576u);                       /* UCX_CPG_GROUP_MAX_MSG below */
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);
    /* 100 pieces (corosync aborts at 64) arrive as one message */
    for (i = 0; i < 100; ++i) {
        bytes[i]        = (uint8_t)i;
        iov[i].iov_base = &bytes[i];
        iov[i].iov_len  = 1;
    }
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_FIFO, iov, 100), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 1) == 0);
    EXPECT_TRUE((seen.last_len == 100) && (seen.last_first == 0) && (seen.last_end == 99) &&
                (seen.last_pid == (uint32_t)getpid()));
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, NULL, 0), CS_OK);     /* empty */
    EXPECT_TRUE(wait_count(h, &seen.delivered, 2) == 0);
    EXPECT_TRUE(seen.last_len == 0);
    {
        static uint8_t big[1048577];
        struct iovec one = {big, sizeof(big)};
        EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &one, 1), CS_ERR_TOO_BIG);
        one.iov_len = sizeof(big) - 1;
        big[0] = 7;
        big[sizeof(big) - 2] = 9;
        EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_SAFE, &one, 1), CS_OK);
        EXPECT_TRUE(wait_count(h, &seen.delivered, 3) == 0);
        EXPECT_TRUE((seen.last_len == 1048576) && (seen.last_first == 7) && (seen.last_end == 9));
    }
    EXPECT_CS(cpg_mcast_joined(h, 7, iov, 1), CS_ERR_INVALID_PARAM);
    /* membership_get honours the array size; a value that cannot be one (a
     * corosync caller's unset int) means CPG_MEMBERS_MAX */
    n = 0;
    EXPECT_CS(cpg_membership_get(h, &g, list, &n), CS_OK);
    EXPECT_TRUE(n == 1);
    n = -123456;
    EXPECT_CS(cpg_membership_get(h, &g, list, &n), CS_OK);
    EXPECT_TRUE(n == 1);
    n = 4;
    EXPECT_CS(cpg_membership_get(h, &g, list, &n), CS_OK);
    EXPECT_TRUE((n == 1) && (list[0].pid == (uint32_t)getpid()));
    EXPECT_CS(cpg_membership_get(h, &g, NULL, &n), CS_ERR_INVALID_PARAM);
    {
        struct cpg_name none = name_of("nobody-here");
        n = 4;
        EXPECT_CS(cpg_membership_get(h, &none, list, &n), CS_OK);
        EXPECT_TRUE(n == 0);
    }
    {
        cpg_flow_control_state_t fc = CPG_FLOW_CONTROL_ENABLED;
        EXPECT_CS(cpg_flow_control_state_get(h, &fc), CS_OK);
        EXPECT_TRUE(fc == CPG_FLOW_CONTROL_DISABLED);
    }
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

static int child_leave_rejoin(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("again"), other = name_of("again2");
    struct iovec iov = {"y", 1};
    cpg_handle_t h;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);
    EXPECT_CS(cpg_leave(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 2) == 0);
    EXPECT_TRUE((seen.members == 0) && (seen.left_pid == (uint32_t)getpid()) &&
                (seen.left_reason == CPG_REASON_LEAVE));
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_NOT_EXIST);
    EXPECT_CS(cpg_leave(h, &g), CS_ERR_NOT_EXIST);
    EXPECT_CS(cpg_join(h, &g), CS_OK);                   /* corosync: CS_ERR_EXIST */
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 3) == 0);
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 1) == 0);
    EXPECT_CS(cpg_leave(h, &g), CS_OK);
    EXPECT_CS(cpg_join(h, &other), CS_OK);               /* corosync: hangs */
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 5) == 0);
    EXPECT_TRUE((seen.members == 1) && (seen.joined_pid == (uint32_t)getpid()));
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

static void *blocked_dispatch(void *arg)
{
    cpg_handle_t h = *(cpg_handle_t*)arg;
    return (void*)(intptr_t)cpg_dispatch(h, CS_DISPATCH_BLOCKING);
}

static int child_dispatch_modes(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("modes");
    struct iovec iov = {"z", 1};
    cpg_model_v1_data_t model;
    pthread_t thread;
    void *ret = NULL;
    cpg_handle_t h;

    (void)rank; (void)nprocs; (void)arg;
    model_with_initial_totem(&model);
    EXPECT_CS(cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t*)&model, &seen), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
    /* ONE blocks for one event: the confchg, then the INITIAL totem confchg */
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ONE), CS_OK);
    EXPECT_TRUE((seen.confchgs == 1) && (seen.totems == 1) && (seen.delivered == 0));
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_OK);
    EXPECT_TRUE(seen.delivered == 1);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 2) == 0);
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ALL), CS_OK);       /* nothing queued: still OK */
    /* finalize wakes a thread blocked in CS_DISPATCH_BLOCKING (corosync does not) */
    EXPECT_TRUE(pthread_create(&thread, NULL, blocked_dispatch, &h) == 0);
    usleep(200000);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    EXPECT_TRUE(pthread_join(thread, &ret) == 0);
    EXPECT_TRUE((cs_error_t)(intptr_t)ret == CS_ERR_BAD_HANDLE);
    return 0;
}

static int child_iteration_and_zcb(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("iter"), other = name_of("iter2");
    struct cpg_iteration_description_t d;
    cpg_iteration_handle_t it;
    cpg_handle_t h, h2;
    int found = 0, names = 0;
    void *buf = NULL;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_initialize(&h2, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_CS(cpg_join(h2, &other), CS_OK);
    EXPECT_CS(cpg_iteration_initialize(h, CPG_ITERATION_ONE_GROUP, NULL, &it),
              CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_iteration_initialize(h, CPG_ITERATION_ALL, &g, &it), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_iteration_initialize(h, 9, NULL, &it), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_iteration_initialize(h, CPG_ITERATION_ALL, NULL, &it), CS_OK);
    while (cpg_iteration_next(it, &d) == CS_OK) {
        found += (d.pid == (uint32_t)getpid()) &&
                 (((d.group.length == 4) && !memcmp(d.group.value, "iter", 4)) ||
                  ((d.group.length == 5) && !memcmp(d.group.value, "iter2", 5)));
    }
    EXPECT_TRUE(found == 2);
    EXPECT_CS(cpg_iteration_next(it, &d), CS_ERR_NO_SECTIONS);
    EXPECT_CS(cpg_iteration_finalize(it), CS_OK);
    EXPECT_CS(cpg_iteration_next(it, &d), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_iteration_initialize(h, CPG_ITERATION_NAME_ONLY, NULL, &it), CS_OK);
    while (cpg_iteration_next(it, &d) == CS_OK) {
        names += (d.pid == 0) && (d.nodeid == 0);
    }
    EXPECT_TRUE(names >= 2);
    EXPECT_CS(cpg_iteration_initialize(h, CPG_ITERATION_ONE_GROUP, &other, &it), CS_OK);
    EXPECT_CS(cpg_iteration_next(it, &d), CS_OK);
    EXPECT_TRUE((d.pid == (uint32_t)getpid()) && (d.group.length == 5));
    EXPECT_CS(cpg_iteration_next(it, &d), CS_ERR_NO_SECTIONS);
    /* zero copy: send from the buffer itself, reuse it at once */
    EXPECT_CS(cpg_zcb_alloc(h, 4096, &buf), CS_OK);
    memset(buf, 0x5a, 4096);
    EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, buf, 4096), CS_OK);
    memset(buf, 0x11, 4096);                                  /* must not change the message */
    EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, buf, 5000), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, &found, 4), CS_ERR_INVALID_PARAM);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 1) == 0);
    EXPECT_TRUE((seen.last_len == 4096) && (seen.last_first == 0x5a) && (seen.last_end == 0x5a));
    EXPECT_CS(cpg_zcb_free(h, buf), CS_OK);
    EXPECT_CS(cpg_zcb_free(h, buf), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_zcb_alloc(h, 100, &buf), CS_OK);            /* left for finalize to free */
    EXPECT_CS(cpg_finalize(h), CS_OK);
    EXPECT_CS(cpg_iteration_next(it, &d), CS_ERR_BAD_HANDLE); /* died with its handle */
    EXPECT_CS(cpg_finalize(h2), CS_OK);
    return 0;
}

/* A grandchild's exit status, waited for at most STEP_MS. */
static int wait_child(pid_t pid)
{
    uint64_t deadline = ucpg_test_now_ms() + STEP_MS;
    int status = 0;

    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (ucpg_test_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
    return (WIFEXITED(status) && (WEXITSTATUS(status) == 0)) ? 0 : -1;
}

/* In a child forked while we hold a handle: the inherited handle is not
 * usable (it is the parent's), but a handle of its own is, served by a
 * relay (UCX cannot run in this process): every call, every callback, and
 * the parent sees it as a member with the child's pid. */
static int fork_relayed_calls(cpg_handle_t h, unsigned parent_nodeid, const void *want_ctx)
{
    struct cpg_name g = name_of("forkg");
    struct cpg_iteration_description_t desc;
    cpg_flow_control_state_t flow = CPG_FLOW_CONTROL_ENABLED;
    cpg_iteration_handle_t it;
    struct cpg_address list[4];
    struct iovec iov = {"c", 1};
    unsigned nodeid = 0;
    uint32_t max = 0;
    int n = 4, found_self = 0, found_parent = 0, fd = -1, i;
    void *ctx = NULL, *z = NULL;
    struct iovec parts[3];
    char *big = NULL;

    EXPECT_CS(cpg_context_get(h, &ctx), CS_OK);
    EXPECT_TRUE(ctx == want_ctx);
    EXPECT_CS(cpg_context_set(h, &n), CS_OK);
    EXPECT_CS(cpg_context_get(h, &ctx), CS_OK);
    EXPECT_TRUE(ctx == &n);
    EXPECT_CS(cpg_fd_get(h, &fd), CS_OK);
    EXPECT_TRUE(fd >= 0);
    EXPECT_CS(cpg_max_atomic_msgsize_get(h, &max), CS_OK);
    EXPECT_TRUE(max == default_max_msg());
    EXPECT_CS(cpg_local_get(h, &nodeid), CS_OK);
    EXPECT_TRUE(nodeid == parent_nodeid);
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_NOT_EXIST);
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_ERR_EXIST);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);
    EXPECT_TRUE((seen.members == 2) && (seen.joined_pid == (uint32_t)getpid()) &&
                (seen.joined_reason == CPG_REASON_JOIN));
    EXPECT_TRUE(wait_count(h, &seen.totems, 1) == 0);      /* asked for the INITIAL one */
    EXPECT_CS(cpg_membership_get(h, &g, list, &n), CS_OK);
    for (i = 0; i < n; ++i) {
        found_self   += (list[i].pid == (uint32_t)getpid());
        found_parent += (list[i].pid == (uint32_t)getppid());
    }
    EXPECT_TRUE((n == 2) && (found_self == 1) && (found_parent == 1));
    n = 1;
    EXPECT_CS(cpg_membership_get(h, &g, list, &n), CS_ERR_NO_SPACE);
    EXPECT_TRUE(n == 2);
    EXPECT_CS(cpg_flow_control_state_get(h, &flow), CS_OK);
    EXPECT_TRUE(flow == CPG_FLOW_CONTROL_DISABLED);
    /* our message, then the parent's answer to it */
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 2) == 0);
    EXPECT_TRUE((seen.last_pid == (uint32_t)getppid()) && (seen.last_first == 'p'));
    /* iteration */
    EXPECT_CS(cpg_iteration_initialize(h, CPG_ITERATION_ONE_GROUP, &g, &it), CS_OK);
    for (i = 0; cpg_iteration_next(it, &desc) == CS_OK; ++i) {
        EXPECT_TRUE((desc.group.length == g.length) &&
                    (memcmp(desc.group.value, g.value, g.length) == 0));
    }
    EXPECT_TRUE(i == 2);
    EXPECT_CS(cpg_iteration_next(it, &desc), CS_ERR_NO_SECTIONS);
    EXPECT_CS(cpg_iteration_finalize(it), CS_OK);
    EXPECT_CS(cpg_iteration_finalize(it), CS_ERR_BAD_HANDLE);
    /* a zero-copy buffer (copied once to the relay) */
    EXPECT_CS(cpg_zcb_alloc(h, (size_t)max + 1, &z), CS_ERR_TOO_BIG);
    EXPECT_CS(cpg_zcb_alloc(h, 100, &z), CS_OK);
    memset(z, 'z', 100);
    EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, z, 101), CS_ERR_INVALID_PARAM);
    EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_SAFE, z, 100), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 3) == 0);
    EXPECT_TRUE((seen.last_len == 100) && (seen.last_first == 'z') &&
                (seen.last_pid == (uint32_t)getpid()));
    EXPECT_CS(cpg_zcb_free(h, z), CS_OK);
    EXPECT_CS(cpg_zcb_free(h, z), CS_ERR_INVALID_PARAM);
    /* 3 MiB in three pieces: frames far beyond a socket buffer, both ways */
    EXPECT_TRUE((big = malloc(3u << 20)) != NULL);
    memset(big, 'b', 3u << 20);
    big[(3u << 20) - 1] = 'e';
    for (i = 0; i < 3; ++i) {
        parts[i].iov_base = big + ((size_t)i << 20);
        parts[i].iov_len  = 1u << 20;
    }
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, parts, 3), CS_OK);
    free(big);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 4) == 0);
    EXPECT_TRUE((seen.last_len == (3u << 20)) && (seen.last_first == 'b') &&
                (seen.last_end == 'e'));
    EXPECT_CS(cpg_leave(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 2) == 0);
    EXPECT_TRUE((seen.left_pid == (uint32_t)getpid()) && (seen.left_reason == CPG_REASON_LEAVE));
    return 0;
}

static int forked_with_live_handle(cpg_handle_t inherited, unsigned parent_nodeid)
{
    struct cpg_name g = name_of("forkg");
    struct iovec iov = {"f", 1};
    cpg_model_v1_data_t model;
    void *ctx = NULL;
    int marker = 0;
    cpg_handle_t h2, h3;

    memset(&seen, 0, sizeof(seen));
    EXPECT_CS(cpg_context_get(inherited, &ctx), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_mcast_joined(inherited, CPG_TYPE_AGREED, &iov, 1), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_finalize(inherited), CS_ERR_BAD_HANDLE);
    model_with_initial_totem(&model);
    EXPECT_CS(cpg_model_initialize(&h2, CPG_MODEL_V1, (cpg_model_data_t*)&model, &marker),
              CS_OK);
    if (fork_relayed_calls(h2, parent_nodeid, &marker) != 0) {
        return 1;
    }
    EXPECT_CS(cpg_finalize(h2), CS_OK);
    EXPECT_CS(cpg_finalize(h2), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_dispatch(h2, CS_DISPATCH_ALL), CS_ERR_BAD_HANDLE);
    EXPECT_CS(cpg_join(h2, &g), CS_ERR_BAD_HANDLE);
    /* a second handle that we never finalize: our exit is PROCDOWN */
    EXPECT_CS(cpg_initialize(&h3, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h3, &g), CS_OK);
    EXPECT_TRUE(wait_count(h3, &seen.confchgs, 3) == 0);
    return 0;
}

/* In a child forked after our last handle is gone: a handle of its own. */
static int forked_after_release(void)
{
    struct cpg_name g = name_of("forkg");
    struct iovec iov = {"c", 1};
    cpg_handle_t h;

    memset(&seen, 0, sizeof(seen));
    if ((cpg_initialize(&h, &callbacks) != CS_OK) || (cpg_join(h, &g) != CS_OK) ||
        (cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1) != CS_OK) ||
        (wait_count(h, &seen.delivered, 1) != 0) || (seen.last_pid != (uint32_t)getpid()) ||
        (cpg_finalize(h) != CS_OK)) {
        return 1;
    }
    return 0;
}

static const char *builddir(void)
{
    const char *dir = getenv("UCPG_TEST_BUILDDIR");

    return dir ? dir : UCPG_TEST_BUILDDIR;
}

/* The parent of a fork test: the build's relay (unless the environment names
 * another, e.g. a valgrind wrapper), a handle joined to group, its confchg. */
static void use_build_relay(void)
{
    char relay[4096];

    snprintf(relay, sizeof(relay), "%s/ucx_cpg_relay", builddir());
    setenv("UCX_CPG_RELAY", relay, 0);
}

static int parent_joins(const char *group, cpg_handle_t *h)
{
    struct cpg_name g = name_of(group);

    use_build_relay();
    EXPECT_CS(cpg_initialize(h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(*h, &g), CS_OK);
    EXPECT_TRUE(wait_count(*h, &seen.confchgs, 1) == 0);
    return 0;
}

/* The parent's side: the forked child joins, sends, leaves, joins with a
 * second handle and exits; each step as any member's would look. */
static int child_fork(int rank, int nprocs, void *arg)
{
    struct iovec iov = {"p", 1};
    unsigned nodeid = 0;
    cpg_handle_t h;
    pid_t pid;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_TRUE(parent_joins("forkg", &h) == 0);
    EXPECT_CS(cpg_local_get(h, &nodeid), CS_OK);
    memset(&seen, 0, sizeof(seen));
    pid = fork();
    if (pid == 0) {
        _exit(forked_with_live_handle(h, nodeid));
    }
    EXPECT_TRUE(pid > 0);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);          /* it joined */
    EXPECT_TRUE((seen.joined_pid == (uint32_t)pid) && (seen.members == 2));
    EXPECT_TRUE(wait_count(h, &seen.delivered, 1) == 0);          /* its message */
    EXPECT_TRUE((seen.last_pid == (uint32_t)pid) && (seen.last_first == 'c'));
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.delivered, 3) == 0);          /* ours, its zcb */
    EXPECT_TRUE((seen.last_pid == (uint32_t)pid) && (seen.last_len == 100));
    EXPECT_TRUE(wait_count(h, &seen.delivered, 4) == 0);          /* its 3 MiB */
    EXPECT_TRUE((seen.last_len == (3u << 20)) && (seen.last_end == 'e'));
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 2) == 0);          /* it left */
    EXPECT_TRUE((seen.left_pid == (uint32_t)pid) && (seen.left_reason == CPG_REASON_LEAVE));
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 3) == 0);          /* joined again */
    EXPECT_TRUE(seen.joined_pid == (uint32_t)pid);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 4) == 0);          /* and exited */
    EXPECT_TRUE((seen.left_pid == (uint32_t)pid) && (seen.left_reason == CPG_REASON_PROCDOWN) &&
                (seen.members == 1));
    EXPECT_TRUE(wait_child(pid) == 0);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    pid = fork();
    if (pid == 0) {
        _exit(forked_after_release());
    }
    EXPECT_TRUE((pid > 0) && (wait_child(pid) == 0));
    return 0;
}

static int run_one(ucpg_harness_child_func_t fn, const char *max_msg);

/* The relays this process started (children named ucx_cpg_relay). */
static int relays_of_self(pid_t *pids, int max)
{
    char path[300], buf[512], *p;
    struct dirent *e;
    int n = 0, ppid;
    DIR *d = opendir("/proc");
    FILE *f;

    while ((d != NULL) && ((e = readdir(d)) != NULL) && (n < max)) {
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        if ((e->d_name[0] < '1') || (e->d_name[0] > '9') || ((f = fopen(path, "r")) == NULL)) {
            continue;
        }
        p = fgets(buf, sizeof(buf), f);
        fclose(f);
        /* "pid (comm) state ppid ..." */
        if ((p != NULL) && (strstr(buf, "(ucx_cpg_relay)") != NULL) &&
            ((p = strrchr(buf, ')')) != NULL) && (sscanf(p + 1, " %*c %d", &ppid) == 1) &&
            (ppid == getpid())) {
            pids[n++] = (pid_t)atoi(e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* A relay that dies: the forked process's calls fail with CS_ERR_LIBRARY
 * (bounded, never a hang), its finalize still succeeds. */
static int forked_relay_dies(void)
{
    struct cpg_name g = name_of("forkg2");
    struct iovec iov = {"d", 1};
    uint64_t start;
    cpg_handle_t h;
    pid_t relay[4];

    setenv("UCX_CPG_GROUP_JOIN_TIMEOUT_MS", "1000", 1);      /* the relay's, and its bound */
    memset(&seen, 0, sizeof(seen));
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);
    EXPECT_TRUE(relays_of_self(relay, 4) == 1);
    EXPECT_TRUE(kill(relay[0], SIGKILL) == 0);
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_LIBRARY);
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ALL), CS_ERR_LIBRARY);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ALL), CS_ERR_BAD_HANDLE);
    /* a relay stopped (not dead): a call fails within the join timeout plus
     * the relay's slack (1 + 2 s here), and so do the calls after it */
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_TRUE(relays_of_self(relay, 4) == 1);
    EXPECT_TRUE(ucpg_harness_stop_pid(relay[0], 2000) == 0);
    start = ucpg_test_now_ms();
    EXPECT_CS(cpg_join(h, &g), CS_ERR_LIBRARY);
    EXPECT_TRUE(ucpg_test_now_ms() - start < 10000);
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_LIBRARY);
    kill(relay[0], SIGKILL);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/* A forked process that joins and never dispatches: its relay buffers a
 * bounded amount of callbacks, then stops taking them, so the group's flow
 * control and stall timeout treat it as any slow reader (the senders see
 * CS_ERR_TRY_AGAIN, the member is removed), never unbounded memory. */
static int forked_never_dispatches(void)
{
    struct cpg_name g = name_of("forkg3");
    cpg_handle_t h;

    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    sleep(60);                                  /* killed long before */
    return 1;
}

static int child_fork_relay_stalled(int rank, int nprocs, void *arg)
{
    uint8_t msg[512] = {0};
    struct iovec iov = {msg, sizeof(msg)};
    int sent = 0, retries = 0, status = 0;
    uint64_t deadline;
    cs_error_t err;
    cpg_handle_t h;
    pid_t pid;

    (void)rank; (void)nprocs; (void)arg;
    setenv("UCX_CPG_GROUP_WINDOW", "64", 1);
    setenv("UCX_CPG_GROUP_STALL_TIMEOUT_MS", "1000", 1);
    EXPECT_TRUE(parent_joins("forkg3", &h) == 0);
    pid = fork();
    if (pid == 0) {
        _exit(forked_never_dispatches());
    }
    EXPECT_TRUE(pid > 0);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 2) == 0);          /* it joined */
    deadline = ucpg_test_now_ms() + STEP_MS;
    while ((seen.confchgs < 3) && (ucpg_test_now_ms() < deadline)) {
        err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
        sent    += (err == CS_OK);
        retries += (err == CS_ERR_TRY_AGAIN);
        cpg_dispatch(h, CS_DISPATCH_ALL);
        if (err == CS_ERR_TRY_AGAIN) {
            usleep(1000);
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if ((seen.confchgs != 3) || (seen.left_pid != (uint32_t)pid) ||
        (seen.left_reason != CPG_REASON_PROCDOWN) || (retries == 0)) {
        ucpg_test_say("ERR after %d messages, %d retries: %d confchgs, left %u reason %u", sent,
                      retries, seen.confchgs, seen.left_pid, seen.left_reason);
        return 1;
    }
    /* the relay holds at most its 4 MiB of frames and the socket's buffer */
    ucpg_test_say("removed after %d messages, %d retries", sent, retries);
    EXPECT_TRUE(sent < 20000);
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);   /* the group goes on */
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/* Relayed handles under the native tests' checks: every dispatch mode (and
 * a finalize that wakes a blocked dispatcher) in one forked child, a dead
 * relay in another; the member of the second is removed for the others. */
static int child_fork_relay(int rank, int nprocs, void *arg)
{
    cpg_handle_t h;
    pid_t pid;

    (void)rank; (void)nprocs; (void)arg;
    setenv("UCX_CPG_KEEPALIVE_MS", "200", 1);          /* a dead relay is seen by UCX */
    EXPECT_TRUE(parent_joins("forkg2", &h) == 0);
    pid = fork();
    if (pid == 0) {
        memset(&seen, 0, sizeof(seen));
        _exit(child_dispatch_modes(0, 1, NULL));
    }
    EXPECT_TRUE((pid > 0) && (wait_child(pid) == 0));
    memset(&seen, 0, sizeof(seen));
    pid = fork();
    if (pid == 0) {
        _exit(forked_relay_dies());
    }
    EXPECT_TRUE(pid > 0);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 2) == 0);          /* joined, then gone */
    EXPECT_TRUE((seen.joined_pid == (uint32_t)pid) && (seen.left_pid == (uint32_t)pid) &&
                (seen.left_reason == CPG_REASON_PROCDOWN) && (seen.members == 1));
    EXPECT_TRUE(wait_child(pid) == 0);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/* A child that forks a threaded process again. */
static int run_forking(ucpg_harness_child_func_t fn)
{
#if defined(__SANITIZE_ADDRESS__)
    /* As in test_domain: ASan's allocator is not fork-safe with threads. */
    (void)fn;
    integ_skip_reason = "fork() of a threaded process deadlocks ASan's allocator";
    return INTEG_SKIP;
#else
    return run_one(fn, NULL);
#endif
}

static int test_fork_relay(void)
{
    return run_forking(child_fork_relay);
}

static int test_fork(void)
{
    return run_forking(child_fork);
}

static int test_fork_relay_stalled(void)
{
    return run_forking(child_fork_relay_stalled);
}

static int run_one(ucpg_harness_child_func_t fn, const char *max_msg)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    int passed = 0;

    INTEG_CHECK(h != NULL, "harness");
    if (max_msg != NULL) {
        ucpg_harness_setenv(h, "UCX_CPG_GROUP_MAX_MSG", max_msg);
    }
    INTEG_CHECK(ucpg_harness_fork(h, 1, fn, NULL) == 0, "fork");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "the child failed");
    passed = 1;
fail:
    return integ_end(h, passed);
}

static int test_handles_and_names(void) { return run_one(child_handles_and_names, NULL); }
static int test_messages(void) { return run_one(child_messages, "1048576"); }
static int test_leave_rejoin(void) { return run_one(child_leave_rejoin, NULL); }
static int test_dispatch_modes(void) { return run_one(child_dispatch_modes, NULL); }
static int test_iteration_and_zcb(void) { return run_one(child_iteration_and_zcb, NULL); }

/* --- two processes: the reasons another member sees --------------------------- */

static int child_observer(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("reasons");
    char line[64];
    cpg_handle_t h;
    int want;

    (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    ucpg_test_say("JOINED %d", rank);
    while (ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) {
        if (sscanf(line, "CONFCHG %d", &want) == 1) {
            if (wait_count(h, &seen.confchgs, want) != 0) {
                ucpg_test_say("ERR confchgs %d", seen.confchgs);
                return 1;
            }
            ucpg_test_say("SAW members=%zu left=%u reason=%u joined=%u", seen.members,
                          seen.left_pid, seen.left_reason, seen.joined_pid);
        } else if (strcmp(line, "DONE") == 0) {
            break;
        }
    }
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/* Joins group arg ("reasons" if NULL), then on command: LEAVE, JOIN,
 * FINALIZE (without leave), or waits to be killed. */
static int child_subject(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of((arg != NULL) ? (const char *)arg : "reasons");
    char line[64];
    cpg_handle_t h;
    int ncmd = 0;

    (void)nprocs;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    while (ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) {
        ++ncmd;
        if (strcmp(line, "JOIN") == 0) {
            EXPECT_CS(cpg_join(h, &g), CS_OK);
        } else if (strcmp(line, "LEAVE") == 0) {
            EXPECT_CS(cpg_leave(h, &g), CS_OK);
        } else if (strcmp(line, "FINALIZE") == 0) {
            EXPECT_CS(cpg_finalize(h), CS_OK);
            EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
        } else if (strcmp(line, "DONE") == 0) {
            break;
        }
        cpg_dispatch(h, CS_DISPATCH_ALL);
        ucpg_test_say("OK %d %s", ncmd, line);     /* numbered: each answer is distinct */
        (void)rank;
    }
    return 0;
}

static int saw(ucpg_harness_t *h, int confchgs, const char *want)
{
    char line[128], expect[128];

    snprintf(expect, sizeof(expect), "SAW %s", want);
    if ((ucpg_harness_send(h, 0, "CONFCHG %d", confchgs) != 0) ||
        (ucpg_harness_expect(h, 0, "SAW", line, sizeof(line), STEP_MS) != 0)) {
        return -1;
    }
    if (strcmp(line, expect) != 0) {
        fprintf(stderr, "  observer saw \"%s\", want \"%s\"\n", line, expect);
        return -1;
    }
    return 0;
}

static int test_reasons_seen_by_a_member(void)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    char want[128];
    int passed = 0, pid;

    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_observer, NULL) == 0, "fork");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "JOINED", NULL, 0, STEP_MS) == 0, "observer");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_subject, NULL) == 1, "fork");
    pid = (int)ucpg_harness_pid(h, 1);
    INTEG_CHECK(ucpg_harness_send(h, 1, "JOIN") == 0, "JOIN");
    snprintf(want, sizeof(want), "members=2 left=0 reason=0 joined=%d", pid);
    INTEG_CHECK(saw(h, 2, want) == 0, "join");
    INTEG_CHECK(ucpg_harness_send(h, 1, "LEAVE") == 0, "LEAVE");
    snprintf(want, sizeof(want), "members=1 left=%d reason=%d joined=%d", pid,
             CPG_REASON_LEAVE, pid);
    INTEG_CHECK(saw(h, 3, want) == 0, "leave");
    INTEG_CHECK(ucpg_harness_send(h, 1, "JOIN") == 0, "JOIN");
    INTEG_CHECK(ucpg_harness_send(h, 1, "FINALIZE") == 0, "FINALIZE");
    snprintf(want, sizeof(want), "members=1 left=%d reason=%d joined=%d", pid,
             CPG_REASON_PROCDOWN, pid);
    INTEG_CHECK(saw(h, 5, want) == 0, "finalize without leave");
    INTEG_CHECK(ucpg_harness_send(h, 1, "JOIN") == 0, "JOIN");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "OK 5 JOIN", NULL, 0, STEP_MS) == 0, "joined");
    INTEG_CHECK(ucpg_harness_kill(h, 1, SIGKILL) == 0, "kill");
    INTEG_CHECK(saw(h, 7, want) == 0, "killed");
    INTEG_CHECK(ucpg_harness_send(h, 0, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    return integ_end(h, passed);
}

/* --- a finalize right after a death is seen ------------------------------------- */

#define FINALIZE_ROUNDS 8

/* Each ROUND: a fresh handle joins "findeath", says IN, waits for a second
 * member, says TWO, then finalizes at once when the death that follows is
 * dispatched: the progress thread may still be inside the call that
 * announced that death (on host groups, the reaper waking this very
 * handle), and must not be the one left to free the handle under it. */
static int child_finalizer(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("findeath");
    char line[64];
    cpg_handle_t h;

    (void)rank; (void)nprocs; (void)arg;
    while ((ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) && (strcmp(line, "ROUND") == 0)) {
        memset(&seen, 0, sizeof(seen));
        EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
        EXPECT_CS(cpg_join(h, &g), CS_OK);
        EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);
        ucpg_test_say("IN");
        EXPECT_TRUE(wait_count(h, &seen.confchgs, 2) == 0);
        EXPECT_TRUE(seen.members == 2);
        ucpg_test_say("TWO");
        EXPECT_TRUE(wait_count(h, &seen.confchgs, 3) == 0);
        EXPECT_CS(cpg_finalize(h), CS_OK);
        EXPECT_TRUE((seen.members == 1) && (seen.left_reason == CPG_REASON_PROCDOWN));
        ucpg_test_say("OUT");
    }
    return 0;
}

static int test_finalize_right_after_a_death(void)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    int passed = 0, round, subject;

    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_finalizer, NULL) == 0, "fork");
    for (round = 0; round < FINALIZE_ROUNDS; ++round) {
        INTEG_CHECK(ucpg_harness_send(h, 0, "ROUND") == 0, "ROUND");
        INTEG_CHECK(ucpg_harness_expect(h, 0, "IN", NULL, 0, STEP_MS) == 0, "in");
        subject = ucpg_harness_fork(h, 1, child_subject, "findeath");
        INTEG_CHECK(subject > 0, "fork");
        INTEG_CHECK(ucpg_harness_send(h, subject, "JOIN") == 0, "JOIN");
        INTEG_CHECK(ucpg_harness_expect(h, 0, "TWO", NULL, 0, STEP_MS) == 0, "two");
        INTEG_CHECK(ucpg_harness_kill(h, subject, SIGKILL) == 0, "kill");
        INTEG_CHECK(ucpg_harness_expect(h, 0, "OUT", NULL, 0, STEP_MS) == 0, "finalized");
    }
    INTEG_CHECK(ucpg_harness_send(h, 0, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    return integ_end(h, passed);
}

/* --- a hand-over to a member that knows of a death the old sequencer missed ------ */

/* Sends n 8-byte messages gap_ms apart, dispatching meanwhile; says FIRST
 * once the first is delivered (ordered), then SENT. */
static int send_paced(cpg_handle_t h, unsigned n, unsigned gap_ms)
{
    uint8_t msg[8] = {0};
    struct iovec iov = {msg, sizeof(msg)};
    uint64_t next = ucpg_test_now_ms();
    int first_said = 0;
    unsigned i;

    for (i = 0; i < n; ++i) {
        EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
        next += gap_ms;
        while (ucpg_test_now_ms() < next) {
            usleep(1000);
            EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ALL), CS_OK);
            if ((seen.delivered > 0) && !first_said) {
                ucpg_test_say("FIRST");
                first_said = 1;
            }
        }
    }
    ucpg_test_say("SENT");
    return 0;
}

/* Dispatches until a confchg removed pid (10 s at most), then says how. */
static int say_left(cpg_handle_t h, uint32_t pid)
{
    uint64_t deadline = ucpg_test_now_ms() + 10000;

    while ((seen.left_pid != pid) && (ucpg_test_now_ms() < deadline)) {
        usleep(1000);
        EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ALL), CS_OK);
    }
    ucpg_test_say("LEFT reason=%u members=%zu", (seen.left_pid == pid) ? seen.left_reason : 0,
                  seen.members);
    return 0;
}

/* Joins "hodeath"; on command sends a paced stream or reports a member's
 * removal. */
static int child_handover_death(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("hodeath");
    unsigned n, gap_ms, pid;
    char line[64];
    cpg_handle_t h;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    ucpg_test_say("JOINED");
    while (ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) {
        if (sscanf(line, "SEND %u %u", &n, &gap_ms) == 2) {
            EXPECT_TRUE(send_paced(h, n, gap_ms) == 0);
        } else if (sscanf(line, "LEFT %u", &pid) == 1) {
            EXPECT_TRUE(say_left(h, pid) == 0);
        } else if (strcmp(line, "DONE") == 0) {
            break;
        }
        EXPECT_CS(cpg_dispatch(h, CS_DISPATCH_ALL), CS_OK);
    }
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/*
 * The sequencer A (rank 0) misses a death that B (rank 1) saw, then hands
 * its role to B; B must remove the dead member (session 11's "no confchg
 * for a lost member" failure, fixed by ucpg_group_seq_adopt_dead).
 * B sends alone, one message per 10 ms, and rounds of the hand-over are 16
 * messages (and 50 ms). Once B's first message is ordered, A is stopped;
 * C (rank 2) is killed and reaped, and B, which orders nothing, marks C
 * dead and leaves its removal to the sequencer. 300 ms later A goes on:
 * its progress thread wakes with C's pidfd and B's queued requests ready,
 * and drains the requests first (progress.c), ordering the 16th of the
 * round and so the hand-over view naming B before it hears of C. Both
 * survivors must then see C leave with reason PROCDOWN.
 */
static int test_handover_to_a_member_that_saw_a_death(void)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    char want[64];
    int passed = 0, stopped = 0, r;
    pid_t a, c;

    INTEG_CHECK(h != NULL, "harness");
    ucpg_harness_setenv(h, "UCX_CPG_GROUP_HANDOVER_EVENTS", "16");
    for (r = 0; r < 3; ++r) {
        INTEG_CHECK(ucpg_harness_fork(h, 1, child_handover_death, NULL) == r, "fork");
        INTEG_CHECK(ucpg_harness_expect(h, r, "JOINED", NULL, 0, STEP_MS) == 0, "rank %d", r);
    }
    a = ucpg_harness_pid(h, 0);
    c = ucpg_harness_pid(h, 2);
    INTEG_CHECK(ucpg_harness_send(h, 1, "SEND 40 10") == 0, "SEND");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "FIRST", NULL, 0, STEP_MS) == 0, "B's first");
    INTEG_CHECK(ucpg_harness_stop_pid(a, 2000) == 0, "SIGSTOP");
    stopped = 1;
    INTEG_CHECK(ucpg_harness_kill(h, 2, SIGKILL) == 0, "kill C");
    INTEG_CHECK(ucpg_harness_wait_rank(h, 2, STEP_MS, NULL) == 0, "reap C");
    usleep(300 * 1000);
    INTEG_CHECK(kill(a, SIGCONT) == 0, "SIGCONT");
    stopped = 0;
    INTEG_CHECK(ucpg_harness_expect(h, 1, "SENT", NULL, 0, STEP_MS) == 0, "B's stream");
    snprintf(want, sizeof(want), "LEFT reason=%d members=2", CPG_REASON_PROCDOWN);
    for (r = 0; r < 2; ++r) {
        char line[64];

        INTEG_CHECK(ucpg_harness_send(h, r, "LEFT %d", (int)c) == 0, "LEFT");
        INTEG_CHECK(ucpg_harness_expect(h, r, "LEFT", line, sizeof(line), STEP_MS) == 0,
                    "rank %d", r);
        INTEG_CHECK(strcmp(line, want) == 0, "rank %d: \"%s\", want \"%s\" (0: no confchg "
                    "removed the killed member)", r, line, want);
    }
    INTEG_CHECK(ucpg_harness_send(h, 0, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_send(h, 1, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    if (stopped) {
        kill(a, SIGCONT);
    }
    return integ_end(h, passed);
}

/* --- totem confchgs follow the node set ----------------------------------------- */

/* What one handle of the watcher saw: its last totem confchg, and whether
 * one came while its last confchg still listed a member of a node that
 * totem lacks (it must come after the confchg that removes that member). */
typedef struct totem_seen {
    cpg_handle_t       h;
    uint32_t           nodes[8];
    uint32_t           n;
    struct cpg_ring_id ring;
    int                totems, confchgs, early;
    uint32_t           view_nodes[8], nview;
} totem_seen_t;

static totem_seen_t totem_watch[2];      /* [0]: not joined, [1]: joined */

static totem_seen_t *totem_seen_of(cpg_handle_t h)
{
    return (totem_watch[0].h == h) ? &totem_watch[0] : &totem_watch[1];
}

static int totem_lists(const totem_seen_t *t, uint32_t node)
{
    uint32_t i;

    for (i = 0; i < t->n; ++i) {
        if (t->nodes[i] == node) {
            return 1;
        }
    }
    return 0;
}

static void on_watch_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n,
                           const uint32_t *nodes)
{
    totem_seen_t *t = totem_seen_of(h);
    uint32_t i;

    t->n    = (n < 8) ? n : 8;
    t->ring = ring;
    memcpy(t->nodes, nodes, t->n * sizeof(*nodes));
    t->totems++;
    for (i = 0; i < t->nview; ++i) {
        t->early |= !totem_lists(t, t->view_nodes[i]);
    }
}

static void on_watch_confchg(cpg_handle_t h, const struct cpg_name *g,
                             const struct cpg_address *members, size_t nm,
                             const struct cpg_address *left, size_t nl,
                             const struct cpg_address *joined, size_t nj)
{
    totem_seen_t *t = totem_seen_of(h);
    size_t i;

    (void)g; (void)left; (void)nl; (void)joined; (void)nj;
    t->confchgs++;
    t->nview = 0;
    for (i = 0; (i < nm) && (t->nview < 8); ++i) {
        t->view_nodes[t->nview++] = members[i].nodeid;
    }
}

/* Dispatches both handles until each one's last totem lists n nodes and the
 * joined one saw confchgs confchgs; 0 on success. */
static int watch_until(uint32_t n, int confchgs)
{
    uint64_t deadline = ucpg_test_now_ms() + STEP_MS;
    struct pollfd pfd[2];
    int i;

    for (i = 0; i < 2; ++i) {
        if (cpg_fd_get(totem_watch[i].h, &pfd[i].fd) != CS_OK) {
            return -1;
        }
        pfd[i].events = POLLIN;
    }
    while ((totem_watch[0].n != n) || (totem_watch[1].n != n) ||
           (totem_watch[1].confchgs < confchgs)) {
        if (ucpg_test_now_ms() > deadline) {
            return -1;
        }
        (void)poll(pfd, 2, 50);
        for (i = 0; i < 2; ++i) {
            if (cpg_dispatch(totem_watch[i].h, CS_DISPATCH_ALL) != CS_OK) {
                return -1;
            }
        }
    }
    return 0;
}

/* Waits until both handles' last totem lists n nodes and the joined one
 * saw confchgs confchgs, checks the ring rose, and says what they saw. */
static int totem_watch_report(uint32_t n, int confchgs, unsigned long long *ring_seq)
{
    if (watch_until(n, confchgs) != 0) {
        ucpg_test_say("ERR totems %d/%d of %u/%u node(s), %d confchgs", totem_watch[0].totems,
                      totem_watch[1].totems, totem_watch[0].n, totem_watch[1].n,
                      totem_watch[1].confchgs);
        return 1;
    }
    /* the seq rises with every change: the ring of the last */
    if ((totem_watch[0].ring.seq <= *ring_seq) || (totem_watch[1].ring.seq <= *ring_seq)) {
        ucpg_test_say("ERR ring seq %llu, %llu after %llu",
                      (unsigned long long)totem_watch[0].ring.seq,
                      (unsigned long long)totem_watch[1].ring.seq, *ring_seq);
        return 1;
    }
    *ring_seq = totem_watch[0].ring.seq;
    ucpg_test_say("SAW %u:%u.%u %u:%u.%u early=%d confchgs=%d ring=%llu",
                  totem_watch[0].nodes[0], totem_watch[0].nodes[n - 1],
                  totem_watch[0].ring.nodeid, totem_watch[1].nodes[0],
                  totem_watch[1].nodes[n - 1], totem_watch[1].ring.nodeid,
                  totem_watch[0].early || totem_watch[1].early, totem_watch[1].confchgs,
                  *ring_seq);
    return 0;
}

/* What the forked watcher's relayed handle saw. */
static struct {
    uint32_t n;          /* nodes in the last totem confchg */
    int      saw_both;   /* one listed nodes 11 and 22 */
} relayed_totem;

static void on_relayed_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n,
                             const uint32_t *nodes)
{
    (void)h; (void)ring;
    relayed_totem.n         = n;
    relayed_totem.saw_both |= (n == 2) && (nodes[0] == 11) && (nodes[1] == 22);
}

/* In a child forked by the watcher: an unjoined handle served by a relay
 * must get the same changes, node 22 coming, then going. */
static int forked_totem_watcher(int ready_fd)
{
    cpg_model_v1_data_t model;
    uint64_t deadline = ucpg_test_now_ms() + STEP_MS;
    cs_error_t err = CS_OK;
    cpg_handle_t h;
    char ready = 'r';

    memset(&model, 0, sizeof(model));
    model.model                = CPG_MODEL_V1;
    model.cpg_totem_confchg_fn = on_relayed_totem;
    EXPECT_CS(cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t*)&model, NULL), CS_OK);
    EXPECT_TRUE(write(ready_fd, &ready, 1) == 1);
    while (!(relayed_totem.saw_both && (relayed_totem.n == 1)) &&
           (ucpg_test_now_ms() < deadline) && ((err == CS_OK) || (err == CS_ERR_TRY_AGAIN))) {
        usleep(1000);
        err = cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING);
    }
    if (!relayed_totem.saw_both || (relayed_totem.n != 1)) {
        ucpg_test_say("ERR relayed handle: saw both nodes %d, then %u node(s), dispatch %d",
                      relayed_totem.saw_both, relayed_totem.n, (int)err);
        return 1;
    }
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/* Forks forked_totem_watcher and waits until its handle is open; its pid,
 * or -1. */
static pid_t fork_totem_watcher(void)
{
    int fds[2];
    char ready;
    pid_t pid;

    use_build_relay();
    if (pipe(fds) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(forked_totem_watcher(fds[1]));
    }
    close(fds[1]);
    if ((pid > 0) && (read(fds[0], &ready, 1) != 1)) {
        wait_child(pid);
        pid = -1;
    }
    close(fds[0]);
    return pid;
}

/* Node 11: a handle that never joins and one that joins "totem", both with
 * a totem callback and no INITIAL flag (with arg, also a forked child with
 * a relayed handle); on "NODES n CONFCHGS c" it waits for that and says
 * what it saw. */
static int child_totem_watcher(int rank, int nprocs, void *arg)
{
    cpg_model_v1_data_t model;
    struct cpg_name g = name_of("totem");
    unsigned long long ring_seq = 0;
    pid_t forked = 0;
    char line[64];
    uint32_t n;
    int i, confchgs;

    (void)rank; (void)nprocs;
    setenv("UCX_CPG_NODEID", "11", 1);       /* read when the domain is made */
    memset(&model, 0, sizeof(model));
    model.model                = CPG_MODEL_V1;
    model.cpg_confchg_fn       = on_watch_confchg;
    model.cpg_totem_confchg_fn = on_watch_totem;
    for (i = 0; i < 2; ++i) {
        EXPECT_CS(cpg_model_initialize(&totem_watch[i].h, CPG_MODEL_V1,
                                       (cpg_model_data_t*)&model, NULL), CS_OK);
    }
    EXPECT_CS(cpg_join(totem_watch[1].h, &g), CS_OK);
    EXPECT_TRUE((arg == NULL) || ((forked = fork_totem_watcher()) > 0));
    ucpg_test_say("READY");
    while (ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) {
        if (sscanf(line, "NODES %u CONFCHGS %d", &n, &confchgs) == 2) {
            EXPECT_TRUE(totem_watch_report(n, confchgs, &ring_seq) == 0);
        } else if (strcmp(line, "DONE") == 0) {
            break;
        }
    }
    EXPECT_TRUE((forked == 0) || (wait_child(forked) == 0));
    for (i = 0; i < 2; ++i) {
        EXPECT_CS(cpg_finalize(totem_watch[i].h), CS_OK);
    }
    return 0;
}

/* Node 22, alone on it: a handle (its process is the node's only one in
 * the domain), until it is killed. It joins no group: processes of two
 * node ids on one host share a registry, which the group directory does
 * not expect (a node id is one per host, docs/configuration.md), so the
 * group side of a lost node is tested across two hosts
 * (test_mpirun_hosts.sh, mpirun_cpg_nodes -k). */
static int child_totem_node(int rank, int nprocs, void *arg)
{
    char line[64];
    cpg_handle_t h;

    (void)rank; (void)nprocs; (void)arg;
    setenv("UCX_CPG_NODEID", "22", 1);
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    ucpg_test_say("UP");
    while (ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) {
        cpg_dispatch(h, CS_DISPATCH_ALL);
    }
    return 0;
}

/*
 * A node's only process comes and then is killed: a handle that never
 * joined and one in a group both get a totem confchg listing nodes 11 and
 * 22 (ring 11), then one listing node 11 alone, in a higher ring, with no
 * confchg of their own group in between.
 */
static int totem_node_comes_and_goes(int relayed)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    char line[128];
    int passed = 0;

    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_totem_watcher, relayed ? "relayed" : NULL) == 0,
                "fork");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "READY", NULL, 0, STEP_MS) == 0, "watcher");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_totem_node, NULL) == 1, "fork");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "UP", NULL, 0, STEP_MS) == 0, "node 22");
    INTEG_CHECK(ucpg_harness_send(h, 0, "NODES 2 CONFCHGS 1") == 0, "send");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "SAW", line, sizeof(line), STEP_MS) == 0,
                "no totem confchg of 2 nodes");
    INTEG_CHECK(strncmp(line, "SAW 11:22.11 11:22.11 early=0 confchgs=1 ring=", 46) == 0,
                "node 22 came: saw \"%s\"", line);
    INTEG_CHECK(ucpg_harness_kill(h, 1, SIGKILL) == 0, "kill");
    /* reaped: a peer of another node id is watched by UCX's keepalive,
     * to which a zombie on this machine still looks alive */
    INTEG_CHECK(ucpg_harness_wait_rank(h, 1, STEP_MS, NULL) == 0, "reap");
    INTEG_CHECK(ucpg_harness_send(h, 0, "NODES 1 CONFCHGS 1") == 0, "send");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "SAW", line, sizeof(line), STEP_MS) == 0,
                "no totem confchg of 1 node");
    INTEG_CHECK(strncmp(line, "SAW 11:11.11 11:11.11 early=0 confchgs=1 ring=", 46) == 0,
                "node 22 lost: saw \"%s\"", line);
    INTEG_CHECK(ucpg_harness_send(h, 0, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    return integ_end(h, passed);
}

static int test_totem_confchg_follows_node_changes(void)
{
    return totem_node_comes_and_goes(0);
}

/* The same, and a child the watcher forked gets both changes through its
 * relay (ucx_cpg_relay's own handle hears them and passes them on). */
static int test_totem_confchg_through_the_relay(void)
{
#if defined(__SANITIZE_ADDRESS__)
    integ_skip_reason = "fork() of a threaded process deadlocks ASan's allocator";
    return INTEG_SKIP;
#else
    return totem_node_comes_and_goes(1);
#endif
}

/* --- a stopped member is removed, the group goes on ---------------------------- */

static int child_flooder(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("stall");
    uint8_t msg[512] = {0};
    struct iovec iov = {msg, sizeof(msg)};
    uint64_t deadline;
    cpg_handle_t h;
    int sent = 0;
    cs_error_t err;

    (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, (rank == 0) ? 2 : 1) == 0);  /* both in */
    ucpg_test_say("READY %d", rank);
    if (rank == 1) {
        /* the parent stops us; after SIGCONT we learn we were removed */
        EXPECT_TRUE(ucpg_test_wait_for("CHECK", 60000) == 0);
        EXPECT_TRUE(wait_count(h, &seen.confchgs, 2) == 0);
        EXPECT_TRUE((seen.left_pid == (uint32_t)getpid()) &&
                    (seen.left_reason == CPG_REASON_PROCDOWN));
        EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_NOT_EXIST);
        ucpg_test_say("EVICTED");
        EXPECT_CS(cpg_finalize(h), CS_OK);
        return 0;
    }
    EXPECT_TRUE(ucpg_test_wait_for("FLOOD", STEP_MS) == 0);
    deadline = ucpg_test_now_ms() + STEP_MS;
    while ((seen.confchgs < 3) && (ucpg_test_now_ms() < deadline)) {
        err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
        sent += (err == CS_OK);
        cpg_dispatch(h, CS_DISPATCH_ALL);
        if (err == CS_ERR_TRY_AGAIN) {
            usleep(1000);
        }
    }
    if ((seen.confchgs != 3) || (seen.members != 1) ||
        (seen.left_reason != CPG_REASON_PROCDOWN)) {
        ucpg_test_say("ERR after %d messages: %d confchgs, %zu members, reason %u", sent,
                      seen.confchgs, seen.members, seen.left_reason);
        return 1;
    }
    /* the group goes on without it */
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
    ucpg_test_say("REMOVED after %d messages", sent);
    EXPECT_TRUE(ucpg_test_wait_for("DONE", STEP_MS) == 0);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

static int test_stopped_member_removed(void)
{
    ucpg_harness_t *h = ucpg_harness_create(90000);
    int passed = 0;

    INTEG_CHECK(h != NULL, "harness");
    ucpg_harness_setenv(h, "UCX_CPG_GROUP_WINDOW", "64");
    ucpg_harness_setenv(h, "UCX_CPG_GROUP_STALL_TIMEOUT_MS", "1000");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_flooder, NULL) == 0, "fork");
    usleep(300000);
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_flooder, NULL) == 1, "fork");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "ready");
    INTEG_CHECK(ucpg_harness_stop_pid(ucpg_harness_pid(h, 1), 2000) == 0, "SIGSTOP");
    INTEG_CHECK(ucpg_harness_send(h, 0, "FLOOD") == 0, "FLOOD");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "REMOVED", NULL, 0, STEP_MS) == 0, "not removed");
    INTEG_CHECK(kill(ucpg_harness_pid(h, 1), SIGCONT) == 0, "SIGCONT");
    INTEG_CHECK(ucpg_harness_send(h, 1, "CHECK") == 0, "CHECK");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "EVICTED", NULL, 0, STEP_MS) == 0, "stopped one");
    INTEG_CHECK(ucpg_harness_send(h, 0, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    return integ_end(h, passed);
}

/* --- a stopped sequencer is removed, the group goes on ------------------------- */

/* Dispatches (ALL, polling) until cond holds or STEP_MS passed. */
#define DISPATCH_UNTIL(h, cond) \
    do { \
        uint64_t until_ = ucpg_test_now_ms() + STEP_MS; \
        while (!(cond) && (ucpg_test_now_ms() < until_)) { \
            cpg_dispatch((h), CS_DISPATCH_ALL); \
            usleep(5000); \
        } \
    } while (0)

/* The tests of a silent sequencer: n members forked one by one (rank 0
 * founds the group and keeps ordering it: no hand-over), stall timeout
 * 1 s, every rank JOINED and then READY. 0, or -1 with a message. */
static int silence_setup(ucpg_harness_t *h, int n, ucpg_harness_child_func_t child, void *arg)
{
    int r;

    INTEG_CHECK(h != NULL, "harness");
    ucpg_harness_setenv(h, "UCX_CPG_GROUP_STALL_TIMEOUT_MS", "1000");
    ucpg_harness_setenv(h, "UCX_CPG_GROUP_HANDOVER_EVENTS", "0");   /* rank 0 orders */
    for (r = 0; r < n; ++r) {
        INTEG_CHECK(ucpg_harness_fork(h, 1, child, arg) == r, "fork");
        INTEG_CHECK(ucpg_harness_expect(h, r, "JOINED", NULL, 0, STEP_MS) == 0, "rank %d", r);
    }
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "ready");
    return 0;
fail:
    return -1;
}

/* The end of most children: says word, waits for DONE, finalizes. */
static int say_then_finish(cpg_handle_t h, const char *word)
{
    ucpg_test_say("%s", word);
    EXPECT_TRUE(ucpg_test_wait_for("DONE", STEP_MS) == 0);
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/* After a removal: our next message must come back (REMOVED), then DONE. */
static int group_goes_on(cpg_handle_t h)
{
    uint8_t msg[64] = {MARK};
    struct iovec iov = {msg, sizeof(msg)};

    DISPATCH_UNTIL(h, cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1) == CS_OK);
    DISPATCH_UNTIL(h, seen.own_marked > 0);
    EXPECT_TRUE(seen.own_marked > 0);
    return say_then_finish(h, "REMOVED");
}

/* Joins group name and dispatches until it has n members (JOINED, READY). */
static int join_and_wait(const char *name, size_t n, cpg_handle_t *h)
{
    struct cpg_name g = name_of(name);

    EXPECT_CS(cpg_initialize(h, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(*h, &g), CS_OK);
    ucpg_test_say("JOINED");
    DISPATCH_UNTIL(*h, seen.members == n);
    EXPECT_TRUE(seen.members == n);
    ucpg_test_say("READY");
    return 0;
}

/* A stopped member, continued and told CHECK: it must find itself removed
 * (PROCDOWN in its own confchg, CS_ERR_NOT_EXIST for a send). */
static int expelled_check(cpg_handle_t h)
{
    uint8_t msg[8] = {0};
    struct iovec iov = {msg, sizeof(msg)};

    EXPECT_TRUE(ucpg_test_wait_for("CHECK", 60000) == 0);
    DISPATCH_UNTIL(h, seen.left_pid == (uint32_t)getpid());
    EXPECT_TRUE((seen.left_pid == (uint32_t)getpid()) &&
                (seen.left_reason == CPG_REASON_PROCDOWN));
    EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_NOT_EXIST);
    ucpg_test_say("EXPELLED");
    EXPECT_CS(cpg_finalize(h), CS_OK);
    return 0;
}

/*
 * Rank 0 founds the group and so orders it; the others join and, once the
 * parent has stopped rank 0, send until a confchg removes it. They must
 * see it leave with PROCDOWN, and a message sent afterwards must come back
 * (the group is ordered again). Rank 0, continued, must find itself removed.
 */
static int child_stopped_sequencer(int rank, int nprocs, void *arg)
{
    const int n = *(const int*)arg;
    uint8_t msg[64] = {0};
    struct iovec iov = {msg, sizeof(msg)};
    unsigned seq_pid = 0;
    char line[64];
    cpg_handle_t h;

    (void)nprocs;
    if (join_and_wait("silent", (size_t)n, &h) != 0) {
        return 1;
    }
    if (rank == 0) {
        return expelled_check(h);
    }
    EXPECT_TRUE((ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) &&
                (sscanf(line, "GO %u", &seq_pid) == 1));
    DISPATCH_UNTIL(h, (seen.left_pid == seq_pid) ||
                      (cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), 0));
    EXPECT_TRUE((seen.left_pid == seq_pid) && (seen.left_reason == CPG_REASON_PROCDOWN) &&
                (seen.members == (size_t)n - 1));
    return group_goes_on(h);
}

/* The stopped sequencer (rank 0) is continued and must find itself removed;
 * then ranks 1..n-1 are told DONE and every child must pass. *seq_p is the
 * sequencer's pid, 0 once it runs again. */
static int sequencer_expelled_then_done(ucpg_harness_t *h, pid_t *seq_p, int n)
{
    int r;

    INTEG_CHECK(kill(*seq_p, SIGCONT) == 0, "SIGCONT rank 0");
    *seq_p = 0;
    INTEG_CHECK(ucpg_harness_send(h, 0, "CHECK") == 0, "CHECK");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "EXPELLED", NULL, 0, STEP_MS) == 0,
                "the sequencer did not learn it was removed");
    for (r = 1; r < n; ++r) {
        INTEG_CHECK(ucpg_harness_send(h, r, "DONE") == 0, "DONE");
    }
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    return 0;
fail:
    return -1;
}

/* The end of a test that stopped the sequencer seq (0: it runs again). */
static int stopped_sequencer_end(ucpg_harness_t *h, pid_t seq, int passed)
{
    if (seq != 0) {
        kill(seq, SIGCONT);
    }
    return integ_end(h, passed);
}

static int run_stopped_sequencer(int n)
{
    ucpg_harness_t *h = ucpg_harness_create(90000);
    int passed = 0, r;
    pid_t seq = 0;

    INTEG_CHECK(silence_setup(h, n, child_stopped_sequencer, &n) == 0, "setup");
    seq = ucpg_harness_pid(h, 0);
    INTEG_CHECK(ucpg_harness_stop_pid(seq, 2000) == 0, "SIGSTOP");
    for (r = 1; r < n; ++r) {
        INTEG_CHECK(ucpg_harness_send(h, r, "GO %d", (int)seq) == 0, "GO");
    }
    for (r = 1; r < n; ++r) {
        INTEG_CHECK(ucpg_harness_expect(h, r, "REMOVED", NULL, 0, STEP_MS) == 0,
                    "rank %d: the stopped sequencer was not removed", r);
    }
    INTEG_CHECK(sequencer_expelled_then_done(h, &seq, n) == 0, "after the removal");
    passed = 1;
fail:
    if (seq != 0) {
        kill(seq, SIGCONT);                  /* still stopped */
    }
    return integ_end(h, passed);
}

/*
 * A SAFE message is delivered only once the sequencer declares it stable.
 * Rank 1 is stopped so that it cannot be (rank 2's message reaches every
 * member but rank 1 cannot acknowledge it), then the sequencer is stopped
 * too and rank 1 continued: the group is idle, nobody has a request
 * waiting, and only the held message says the sequencer is needed. Ranks
 * 1 and 2 must remove the sequencer and deliver the message, before the
 * confchg that removes it (it was ordered in the old view).
 */
static int child_safe_held(int rank, int nprocs, void *arg)
{
    uint8_t msg[64] = {MARK};
    struct iovec iov = {msg, sizeof(msg)};
    unsigned seq_pid = 0;
    char line[64];
    cpg_handle_t h;
    int r;

    (void)arg;
    (void)nprocs;                       /* forked one by one: 1 */
    if (join_and_wait("safe-held", 3, &h) != 0) {
        return 1;
    }
    if (rank == 0) {
        return expelled_check(h);
    }
    if (rank == 2) {
        EXPECT_TRUE(ucpg_test_wait_for("SEND", STEP_MS) == 0);
        EXPECT_CS(cpg_mcast_joined(h, CPG_TYPE_SAFE, &iov, 1), CS_OK);
        for (r = 0; (r < 100) && (seen.marked == 0); ++r) {   /* 0.5 s: it must not come */
            cpg_dispatch(h, CS_DISPATCH_ALL);
            usleep(5000);
        }
        EXPECT_TRUE(seen.marked == 0);              /* rank 1 lacks it */
        ucpg_test_say("HELD");
    }
    EXPECT_TRUE((ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) &&
                (sscanf(line, "GO %u", &seq_pid) == 1));
    DISPATCH_UNTIL(h, seen.left_pid == seq_pid);
    EXPECT_TRUE((seen.left_pid == seq_pid) && (seen.left_reason == CPG_REASON_PROCDOWN));
    EXPECT_TRUE((seen.marked == 1) && (seen.marked_at_confchg == 1));
    return say_then_finish(h, "DELIVERED");
}

static int test_stopped_sequencer_holding_safe_removed(void)
{
    ucpg_harness_t *h = ucpg_harness_create(90000);
    pid_t seq = 0, slow = 0;
    int passed = 0, r;

    INTEG_CHECK(silence_setup(h, 3, child_safe_held, NULL) == 0, "setup");
    seq  = ucpg_harness_pid(h, 0);
    slow = ucpg_harness_pid(h, 1);
    INTEG_CHECK(ucpg_harness_stop_pid(slow, 2000) == 0, "SIGSTOP rank 1");
    INTEG_CHECK(ucpg_harness_send(h, 2, "SEND") == 0, "SEND");
    INTEG_CHECK(ucpg_harness_expect(h, 2, "HELD", NULL, 0, STEP_MS) == 0,
                "the SAFE message was delivered before every member had it");
    INTEG_CHECK(ucpg_harness_stop_pid(seq, 2000) == 0, "SIGSTOP rank 0");
    INTEG_CHECK(kill(slow, SIGCONT) == 0, "SIGCONT rank 1");
    slow = 0;
    for (r = 1; r < 3; ++r) {
        INTEG_CHECK(ucpg_harness_send(h, r, "GO %d", (int)seq) == 0, "GO");
    }
    for (r = 1; r < 3; ++r) {
        INTEG_CHECK(ucpg_harness_expect(h, r, "DELIVERED", NULL, 0, STEP_MS) == 0,
                    "rank %d: the held SAFE message waited for the stopped sequencer", r);
    }
    INTEG_CHECK(sequencer_expelled_then_done(h, &seq, 3) == 0, "after the removal");
    passed = 1;
fail:
    if (slow != 0) {
        kill(slow, SIGCONT);
    }
    if (seq != 0) {
        kill(seq, SIGCONT);
    }
    return integ_end(h, passed);
}

/*
 * The sequencer (rank 0) and the member next in line to succeed it (rank 1)
 * are stopped together: ranks 2 and 3 send until both are removed, and their
 * next message must be delivered. Rank 1 never acts on SILENT, so it is
 * passed over; rank 2 probes, and expels rank 1 and then the sequencer.
 */
static int child_stopped_pair(int rank, int nprocs, void *arg)
{
    uint8_t msg[64] = {0};
    struct iovec iov = {msg, sizeof(msg)};
    cpg_handle_t h;

    (void)arg;
    (void)nprocs;                       /* forked one by one: 1 */
    if (join_and_wait("silent-pair", 4, &h) != 0) {
        return 1;
    }
    if (rank < 2) {
        return expelled_check(h);
    }
    EXPECT_TRUE(ucpg_test_wait_for("GO", STEP_MS) == 0);
    DISPATCH_UNTIL(h, (seen.members == 2) ||
                      (cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), 0));
    if ((seen.members != 2) || (seen.left_reason != CPG_REASON_PROCDOWN)) {
        ucpg_test_say("ERR %d confchgs, %zu members, last left pid %u reason %u", seen.confchgs,
                      seen.members, seen.left_pid, seen.left_reason);
        return 1;
    }
    return group_goes_on(h);
}

static int test_stopped_sequencer_and_successor_removed(void)
{
    ucpg_harness_t *h = ucpg_harness_create(90000);
    int passed = 0, stopped = 0, r;

    INTEG_CHECK(silence_setup(h, 4, child_stopped_pair, NULL) == 0, "setup");
    INTEG_CHECK(ucpg_harness_stop_pid(ucpg_harness_pid(h, 0), 2000) == 0, "SIGSTOP rank 0");
    INTEG_CHECK(ucpg_harness_stop_pid(ucpg_harness_pid(h, 1), 2000) == 0, "SIGSTOP rank 1");
    stopped = 1;
    for (r = 2; r < 4; ++r) {
        INTEG_CHECK(ucpg_harness_send(h, r, "GO") == 0, "GO");
    }
    for (r = 2; r < 4; ++r) {
        INTEG_CHECK(ucpg_harness_expect(h, r, "REMOVED", NULL, 0, STEP_MS) == 0,
                    "rank %d: the stopped pair was not removed", r);
    }
    for (r = 0; r < 2; ++r) {
        INTEG_CHECK(kill(ucpg_harness_pid(h, r), SIGCONT) == 0, "SIGCONT");
    }
    stopped = 0;
    for (r = 0; r < 2; ++r) {
        INTEG_CHECK(ucpg_harness_send(h, r, "CHECK") == 0, "CHECK");
        INTEG_CHECK(ucpg_harness_expect(h, r, "EXPELLED", NULL, 0, STEP_MS) == 0,
                    "rank %d did not learn it was removed", r);
    }
    for (r = 2; r < 4; ++r) {
        INTEG_CHECK(ucpg_harness_send(h, r, "DONE") == 0, "DONE");
    }
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    for (r = 0; stopped && (r < 2); ++r) {
        kill(ucpg_harness_pid(h, r), SIGCONT);
    }
    return integ_end(h, passed);
}

/*
 * A zero-copy send that the group cannot take in time: rank 1 sends from a
 * cpg_zcb_alloc() buffer while the sequencer (rank 0) is stopped. After
 * group_join_timeout_ms (1.5 s here) the call must return CS_ERR_TIMEOUT,
 * not CS_ERR_TRY_AGAIN: the message is queued and will be delivered, so a
 * retry would deliver it twice. The buffer stays in use (CS_ERR_BUSY) until
 * the message is ordered, after the sequencer's removal (at least the
 * probe's 2 s). Every member must deliver it exactly once, and whole.
 */
#define ZCB_HELD_LEN 64

static int zcb_marked_once(cpg_handle_t h)
{
    DISPATCH_UNTIL(h, seen.marked > 0);
    usleep(200000);                          /* a duplicate would come by now */
    cpg_dispatch(h, CS_DISPATCH_ALL);
    EXPECT_TRUE((seen.marked == 1) && (seen.last_len == ZCB_HELD_LEN));
    return 0;
}

static int child_zcb_held(int rank, int nprocs, void *arg)
{
    cpg_handle_t h;
    void *buf = NULL;

    (void)nprocs; (void)arg;
    if (join_and_wait("zcb-held", 3, &h) != 0) {
        return 1;
    }
    if (rank == 0) {
        return expelled_check(h);
    }
    EXPECT_TRUE(ucpg_test_wait_for("GO", STEP_MS) == 0);
    if (rank == 1) {
        EXPECT_CS(cpg_zcb_alloc(h, ZCB_HELD_LEN, &buf), CS_OK);
        memset(buf, MARK, ZCB_HELD_LEN);
        EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, buf, ZCB_HELD_LEN), CS_ERR_TIMEOUT);
        EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, buf, ZCB_HELD_LEN), CS_ERR_BUSY);
        ucpg_test_say("HELD");
    }
    zcb_marked_once(h);
    if (rank == 1) {
        EXPECT_TRUE(seen.own_marked == 1);
        memset(buf, 0x22, ZCB_HELD_LEN);     /* free again: sent at once */
        EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, buf, ZCB_HELD_LEN), CS_OK);
    }
    return say_then_finish(h, "ONCE");
}

static int test_zcb_send_timing_out_is_not_sent_twice(void)
{
    ucpg_harness_t *h = ucpg_harness_create(90000);
    pid_t seq = 0;
    int passed = 0, r;

    INTEG_CHECK(h != NULL, "harness");
    ucpg_harness_setenv(h, "UCX_CPG_GROUP_JOIN_TIMEOUT_MS", "1500");
    INTEG_CHECK(silence_setup(h, 3, child_zcb_held, NULL) == 0, "setup");
    INTEG_CHECK(ucpg_harness_stop_pid(ucpg_harness_pid(h, 0), 2000) == 0, "SIGSTOP rank 0");
    seq = ucpg_harness_pid(h, 0);
    for (r = 1; r < 3; ++r) {
        INTEG_CHECK(ucpg_harness_send(h, r, "GO") == 0, "GO");
    }
    INTEG_CHECK(ucpg_harness_expect(h, 1, "HELD", NULL, 0, STEP_MS) == 0,
                "the zero-copy send did not time out as CS_ERR_TIMEOUT");
    for (r = 1; r < 3; ++r) {
        INTEG_CHECK(ucpg_harness_expect(h, r, "ONCE", NULL, 0, STEP_MS) == 0,
                    "rank %d: the message was not delivered exactly once", r);
    }
    INTEG_CHECK(sequencer_expelled_then_done(h, &seq, 3) == 0, "after the removal");
    passed = 1;
fail:
    return stopped_sequencer_end(h, seq, passed);
}

/*
 * An idle group whose sequencer is stopped: nobody in it waits on the
 * sequencer, so nobody suspects it, and a process that joins asks the
 * sequencer alone. Its join used to go unanswered for as long as the stop
 * lasted (CS_ERR_TRY_AGAIN at every try). Rank 0 founds the group, rank 1
 * joins, and neither sends; rank 0 is stopped, then rank 2 joins. Rank 2's
 * join must succeed (retrying on TRY_AGAIN within the step), rank 1 must see
 * rank 0 leave with PROCDOWN and rank 2 join, and rank 0, continued, must
 * find itself removed.
 */
/* Joins name, retrying CS_ERR_TRY_AGAIN, and dispatches until it has n
 * members. */
static int joiner_joins(const char *name, size_t n, cpg_handle_t *h)
{
    struct cpg_name g = name_of(name);
    uint64_t until = ucpg_test_now_ms() + STEP_MS;
    cs_error_t err;

    EXPECT_CS(cpg_initialize(h, &callbacks), CS_OK);
    while (((err = cpg_join(*h, &g)) == CS_ERR_TRY_AGAIN) && (ucpg_test_now_ms() < until)) {
    }
    EXPECT_CS(err, CS_OK);
    DISPATCH_UNTIL(*h, seen.members == n);
    EXPECT_TRUE(seen.members == n);
    return 0;
}

static int joiner_gets_in(void)
{
    cpg_handle_t h;

    return (joiner_joins("silent-join", 2, &h) == 0) ? say_then_finish(h, "IN") : 1;
}

static int child_join_past_stopped(int rank, int nprocs, void *arg)
{
    unsigned seq_pid = 0, joiner_pid = 0;
    char line[64];
    cpg_handle_t h;

    (void)nprocs; (void)arg;
    if (rank == 2) {
        return joiner_gets_in();
    }
    if (join_and_wait("silent-join", 2, &h) != 0) {
        return 1;
    }
    if (rank == 0) {
        return expelled_check(h);
    }
    EXPECT_TRUE((ucpg_test_hear(line, sizeof(line), STEP_MS) == 0) &&
                (sscanf(line, "WATCH %u %u", &seq_pid, &joiner_pid) == 2));
    DISPATCH_UNTIL(h, (seen.joined_pid == joiner_pid) && (seen.members == 2));
    EXPECT_TRUE((seen.joined_pid == joiner_pid) && (seen.members == 2) &&
                (seen.left_pid == seq_pid) && (seen.left_reason == CPG_REASON_PROCDOWN));
    return say_then_finish(h, "SAW");
}

static int test_join_past_a_stopped_idle_sequencer(void)
{
    ucpg_harness_t *h = ucpg_harness_create(90000);
    int passed = 0;
    pid_t seq = 0;

    INTEG_CHECK(silence_setup(h, 2, child_join_past_stopped, NULL) == 0, "setup");
    seq = ucpg_harness_pid(h, 0);
    INTEG_CHECK(ucpg_harness_stop_pid(seq, 2000) == 0, "SIGSTOP");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_join_past_stopped, NULL) == 2, "fork the joiner");
    INTEG_CHECK(ucpg_harness_send(h, 1, "WATCH %d %d", (int)seq, (int)ucpg_harness_pid(h, 2)) == 0,
                "WATCH");
    INTEG_CHECK(ucpg_harness_expect(h, 2, "IN", NULL, 0, STEP_MS) == 0,
                "the join past a stopped sequencer did not succeed");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "SAW", NULL, 0, STEP_MS) == 0,
                "the member did not see the sequencer removed and the joiner in");
    INTEG_CHECK(sequencer_expelled_then_done(h, &seq, 3) == 0, "after the removal");
    passed = 1;
fail:
    return stopped_sequencer_end(h, seq, passed);
}

/*
 * Ranks 0 and 1 form a group and are both stopped: nobody runs to remove
 * them. Rank 2 must still get in, founding the group anew, and its own
 * message must come back (REMOVED). Continued and told CHECK, each stopped
 * member must find itself removed; rank 1 then joins again and must find
 * rank 2's group (two members), not the old one.
 */
static int child_all_stopped(int rank, int nprocs, void *arg)
{
    cpg_handle_t h;

    (void)nprocs; (void)arg;
    if (rank == 2) {
        return (joiner_joins("silent-all", 1, &h) == 0) ? group_goes_on(h) : 1;
    }
    if ((join_and_wait("silent-all", 2, &h) != 0) || (expelled_check(h) != 0)) {
        return 1;
    }
    if (rank == 1) {
        EXPECT_TRUE(join_and_wait("silent-all", 2, &h) == 0);
        EXPECT_TRUE(seen.left_pid == (uint32_t)getpid());   /* no confchg removing rank 2 */
        return say_then_finish(h, "REJOINED");
    }
    return 0;
}

static int test_join_past_a_group_all_stopped(void)
{
    ucpg_harness_t *h = ucpg_harness_create(90000);
    pid_t stopped[2] = {0, 0};
    int passed = 0, r;

    INTEG_CHECK(silence_setup(h, 2, child_all_stopped, NULL) == 0, "setup");
    for (r = 0; r < 2; ++r) {
        stopped[r] = ucpg_harness_pid(h, r);
        INTEG_CHECK(ucpg_harness_stop_pid(stopped[r], 2000) == 0, "SIGSTOP rank %d", r);
    }
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_all_stopped, NULL) == 2, "fork the joiner");
    INTEG_CHECK(ucpg_harness_expect(h, 2, "REMOVED", NULL, 0, STEP_MS) == 0,
                "the joiner did not get into a group whose members are all stopped");
    for (r = 0; r < 2; ++r) {
        INTEG_CHECK(kill(stopped[r], SIGCONT) == 0, "SIGCONT rank %d", r);
        stopped[r] = 0;
        INTEG_CHECK(ucpg_harness_send(h, r, "CHECK") == 0, "CHECK");
        INTEG_CHECK(ucpg_harness_expect(h, r, "EXPELLED", NULL, 0, STEP_MS) == 0,
                    "rank %d, continued, did not learn it was removed", r);
    }
    INTEG_CHECK(ucpg_harness_expect(h, 1, "READY", NULL, 0, STEP_MS) == 0,
                "rank 1 did not join the new group with the joiner in it");
    INTEG_CHECK(ucpg_harness_send(h, 1, "DONE") == 0 && ucpg_harness_send(h, 2, "DONE") == 0,
                "DONE");
    INTEG_CHECK(ucpg_harness_expect(h, 1, "REJOINED", NULL, 0, STEP_MS) == 0, "rejoined");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    for (r = 0; r < 2; ++r) {
        if (stopped[r] != 0) {
            kill(stopped[r], SIGCONT);
        }
    }
    return integ_end(h, passed);
}

static int test_stopped_sequencer_removed(void) { return run_stopped_sequencer(3); }
static int test_stopped_sequencer_of_two_removed(void) { return run_stopped_sequencer(2); }

/* --- zero copy from a member that is not the sequencer ------------------------- */

/*
 * Rank 0 joins first and so orders the group; rank 1 sends from a zero-copy
 * buffer and refills it as soon as the call returns. Its own copy of the
 * message comes back from the sequencer without a body (it is taken from
 * what the sender still holds), so both members must see the first fill.
 */
static int child_zcb_member(int rank, int nprocs, void *arg)
{
    struct cpg_name g = name_of("zcb2");
    const size_t len = 65536;
    cpg_handle_t h;
    void *buf = NULL;

    (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&h, &callbacks), CS_OK);
    if (rank == 1) {
        EXPECT_TRUE(ucpg_test_wait_for("JOIN", STEP_MS) == 0);
    }
    EXPECT_CS(cpg_join(h, &g), CS_OK);
    EXPECT_TRUE(wait_count(h, &seen.confchgs, 1) == 0);           /* our own join */
    if (rank == 0) {
        ucpg_test_say("JOINED");
    } else {
        EXPECT_CS(cpg_zcb_alloc(h, len, &buf), CS_OK);
        memset(buf, 0x5a, len);
        EXPECT_CS(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, buf, len), CS_OK);
        memset(buf, 0x11, len);                              /* must not change it */
    }
    EXPECT_TRUE(wait_count(h, &seen.delivered, 1) == 0);
    EXPECT_TRUE((seen.last_len == len) && (seen.last_first == 0x5a) &&
                (seen.last_end == 0x5a));
    return say_then_finish(h, "GOT");
}

static int test_zcb_from_a_member_that_is_not_the_sequencer(void)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    int passed = 0;

    INTEG_CHECK(h != NULL, "harness");
    INTEG_CHECK(ucpg_harness_fork(h, 2, child_zcb_member, NULL) == 0, "fork");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "JOINED", NULL, 0, STEP_MS) == 0, "first join");
    INTEG_CHECK(ucpg_harness_send(h, 1, "JOIN") == 0, "JOIN");
    INTEG_CHECK(ucpg_harness_expect_all(h, "GOT", STEP_MS) == 0, "deliveries");
    INTEG_CHECK(ucpg_harness_send(h, 0, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_send(h, 1, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    return integ_end(h, passed);
}

/* --- dispatch takes queued callbacks in batches ---------------------------------- */

static cpg_handle_t batch_handle;
static int          batch_finalize_at;   /* finalize inside this delivery (0: never) */

static void on_deliver_batch(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid,
                             uint32_t pid, void *msg, size_t len)
{
    on_deliver(h, g, nodeid, pid, msg, len);
    if (seen.delivered == batch_finalize_at) {
        cpg_finalize(batch_handle);
    }
}

/*
 * The dispatcher takes everything queued under one lock and runs the
 * callbacks afterwards, so check that the modes still mean what they say:
 * ONE and ONE_NONBLOCKING run exactly one callback with many queued, and a
 * callback that finalizes the handle ends the batch: no callback runs after
 * it, although the rest was taken already.
 */
static int child_dispatch_batches(int rank, int nprocs, void *arg)
{
    static cpg_callbacks_t cbs = {on_deliver_batch, on_confchg};
    struct cpg_name g = name_of("batches");
    struct iovec iov = {"b", 1};
    int i;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&batch_handle, &cbs), CS_OK);
    EXPECT_CS(cpg_join(batch_handle, &g), CS_OK);
    for (i = 0; i < 40; ++i) {       /* we order the group: all are queued on return */
        EXPECT_CS(cpg_mcast_joined(batch_handle, CPG_TYPE_AGREED, &iov, 1), CS_OK);
    }
    EXPECT_CS(cpg_dispatch(batch_handle, CS_DISPATCH_ONE), CS_OK);
    EXPECT_TRUE((seen.confchgs == 1) && (seen.delivered == 0));
    for (i = 1; i <= 5; ++i) {
        EXPECT_CS(cpg_dispatch(batch_handle, CS_DISPATCH_ONE_NONBLOCKING), CS_OK);
        EXPECT_TRUE(seen.delivered == i);
    }
    EXPECT_CS(cpg_dispatch(batch_handle, CS_DISPATCH_ONE), CS_OK);
    EXPECT_TRUE(seen.delivered == 6);
    batch_finalize_at = 15;
    EXPECT_CS(cpg_dispatch(batch_handle, CS_DISPATCH_ALL), CS_OK);
    EXPECT_TRUE(seen.delivered == 15);
    EXPECT_CS(cpg_dispatch(batch_handle, CS_DISPATCH_ALL), CS_ERR_BAD_HANDLE);
    return 0;
}

static int test_dispatch_batches(void) { return run_one(child_dispatch_batches, NULL); }

/*
 * A CS_DISPATCH_ALL call runs what is queued, lingers briefly for more in a
 * flood (it saves the sender a wake-up per burst), and returns even while
 * the flood goes on: an application that also has other work in the
 * dispatching thread must get it back. Rank 1 floods; rank 0's callback
 * takes 20 µs a message, so the sender outruns it and the queue is never
 * empty: a call that ran until the queue was empty would run until the
 * flood ended. Counted in callbacks per call, not in time, which a loaded
 * machine stretches: with a window of 1024 messages one call may run two
 * takes of at most a window each and what arrives within 1 ms besides.
 */
#define FLOOD_MESSAGES     20000
#define FLOOD_WINDOW       1024
#define FLOOD_CALL_MAX     (3 * FLOOD_WINDOW)
#define FLOOD_CALLBACK_NS  20000ull

static void on_deliver_slowly(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid,
                              uint32_t pid, void *msg, size_t len)
{
    struct timespec ts;
    uint64_t until;

    on_deliver(h, g, nodeid, pid, msg, len);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    until = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + FLOOD_CALLBACK_NS;
    do {
        clock_gettime(CLOCK_MONOTONIC, &ts);
    } while ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec < until);
}

static int flood_send(void)
{
    char byte = 'l';
    struct iovec iov = {&byte, 1};
    int sent = 0;
    cs_error_t err;

    while (sent < FLOOD_MESSAGES) {
        err = cpg_mcast_joined(batch_handle, CPG_TYPE_AGREED, &iov, 1);
        if (err == CS_OK) {
            ++sent;
        } else if (err != CS_ERR_TRY_AGAIN) {
            EXPECT_CS(err, CS_OK);
        }
        cpg_dispatch(batch_handle, CS_DISPATCH_ALL);      /* our own copies */
    }
    EXPECT_TRUE(ucpg_test_wait_for("DONE", STEP_MS) == 0);
    EXPECT_CS(cpg_finalize(batch_handle), CS_OK);
    return 0;
}

static int child_flood_dispatch_returns(int rank, int nprocs, void *arg)
{
    static cpg_callbacks_t slow = {on_deliver_slowly, on_confchg};
    struct cpg_name g = name_of("linger");
    int calls = 0, before, most = 0;
    uint64_t deadline;
    struct pollfd pfd;

    (void)nprocs; (void)arg;
    EXPECT_CS(cpg_initialize(&batch_handle, (rank == 0) ? &slow : &callbacks), CS_OK);
    EXPECT_CS(cpg_join(batch_handle, &g), CS_OK);
    EXPECT_TRUE(ucpg_test_wait_for("GO", STEP_MS) == 0);
    if (rank == 1) {
        return flood_send();
    }
    EXPECT_CS(cpg_fd_get(batch_handle, &pfd.fd), CS_OK);
    deadline = ucpg_test_now_ms() + 4 * STEP_MS;
    while ((seen.delivered < FLOOD_MESSAGES) && (ucpg_test_now_ms() < deadline)) {
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        before = seen.delivered;
        EXPECT_CS(cpg_dispatch(batch_handle, CS_DISPATCH_ALL), CS_OK);
        most = (seen.delivered - before > most) ? seen.delivered - before : most;
        ++calls;
    }
    ucpg_test_say("FLOOD delivered=%d calls=%d most_in_one_call=%d", seen.delivered, calls,
                  most);
    EXPECT_TRUE(seen.delivered == FLOOD_MESSAGES);
    EXPECT_TRUE(most <= FLOOD_CALL_MAX);
    EXPECT_CS(cpg_finalize(batch_handle), CS_OK);
    return 0;
}

static int test_flood_dispatch_returns(void)
{
    ucpg_harness_t *h = ucpg_harness_create(4 * STEP_MS + 30000);
    char window[16];
    int passed = 0;

    INTEG_CHECK(h != NULL, "harness");
    snprintf(window, sizeof(window), "%d", FLOOD_WINDOW);
    ucpg_harness_setenv(h, "UCX_CPG_GROUP_WINDOW", window);
    INTEG_CHECK(ucpg_harness_fork(h, 2, child_flood_dispatch_returns, NULL) == 0, "fork");
    usleep(300000);                   /* both joined (a join waits for its view) */
    INTEG_CHECK(ucpg_harness_send(h, 0, "GO") == 0, "GO");
    INTEG_CHECK(ucpg_harness_send(h, 1, "GO") == 0, "GO");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "FLOOD", NULL, 0, 4 * STEP_MS) == 0, "flood");
    INTEG_CHECK(ucpg_harness_send(h, 1, "DONE") == 0, "DONE");
    INTEG_CHECK(ucpg_harness_wait(h, STEP_MS) == 0, "a child failed");
    passed = 1;
fail:
    return integ_end(h, passed);
}

/*
 * Exit while other threads multicast and dispatch: exit() runs the
 * library's exit handler while they go on (exit does not stop them). Until
 * the handler starts (an atexit handler of the child's, registered after
 * the library's and so run before it, says so) the sender may only see
 * CS_OK or CS_ERR_TRY_AGAIN and must have sent something; after, any
 * error is fine, but the exit must finish with status 0, without a fault
 * or a hang.
 */
#define EXIT_RACE_ROUNDS 4

static cpg_handle_t exit_race_handle;
static int          exit_race_exiting;   /* atomic */
static int          exit_race_sent;      /* atomic */

static void exit_race_mark(void) { __atomic_store_n(&exit_race_exiting, 1, __ATOMIC_RELEASE); }

static void *exit_race_sender(void *arg)
{
    char body[64] = {0};
    struct iovec iov = {body, sizeof(body)};
    cs_error_t err;

    (void)arg;
    for (;;) {
        err = cpg_mcast_joined(exit_race_handle, CPG_TYPE_AGREED, &iov, 1);
        if (__atomic_load_n(&exit_race_exiting, __ATOMIC_ACQUIRE)) {
            continue;
        }
        if (err == CS_OK) {
            __atomic_store_n(&exit_race_sent, 1, __ATOMIC_RELEASE);
        } else if (err != CS_ERR_TRY_AGAIN) {
            fprintf(stderr, "sender: %d before exit\n", (int)err);
            _exit(4);
        }
    }
    return NULL;
}

static void *exit_race_dispatcher(void *arg)
{
    (void)arg;
    for (;;) {
        if (cpg_dispatch(exit_race_handle, CS_DISPATCH_ALL) != CS_OK) {
            usleep(1000);                 /* the handle is gone: exit runs */
        }
    }
    return NULL;
}

static int child_exit_while_others_multicast(int rank, int nprocs, void *arg)
{
    struct cpg_name group = name_of("exit_race");
    pthread_t sender, dispatcher;

    (void)rank;
    (void)nprocs;
    (void)arg;
    EXPECT_CS(cpg_initialize(&exit_race_handle, &callbacks), CS_OK);
    EXPECT_CS(cpg_join(exit_race_handle, &group), CS_OK);
    EXPECT_TRUE(atexit(exit_race_mark) == 0);
    EXPECT_TRUE(pthread_create(&dispatcher, NULL, exit_race_dispatcher, NULL) == 0);
    EXPECT_TRUE(pthread_create(&sender, NULL, exit_race_sender, NULL) == 0);
    usleep(30000);                        /* both threads in their loops */
    if (!__atomic_load_n(&exit_race_sent, __ATOMIC_ACQUIRE)) {
        usleep(500000);                   /* a slow machine: give it time */
    }
    EXPECT_TRUE(__atomic_load_n(&exit_race_sent, __ATOMIC_ACQUIRE));
    exit(0);                              /* tears the domain down under them */
}

static int test_exit_while_other_threads_multicast(void)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    int round, status = -1;

    INTEG_CHECK(h != NULL, "harness");
    for (round = 0; round < EXIT_RACE_ROUNDS; ++round) {
        INTEG_CHECK(ucpg_harness_fork(h, 1, child_exit_while_others_multicast, NULL) == round,
                    "fork");
        INTEG_CHECK(ucpg_harness_wait_rank(h, round, 10000, &status) == 0,
                    "round %d: exit hung while other threads multicast", round);
        INTEG_CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 0),
                    "round %d: wait status %#x (1: nothing sent, or a call failed; 4: an "
                    "unexpected error before exit; a signal: a fault)", round, status);
    }
    return integ_end(h, 1);
fail:
    return integ_end(h, 0);
}

static const integ_test_t tests[] = {
    INTEG_TEST(test_handles_and_names),
    INTEG_TEST(test_messages),
    INTEG_TEST(test_leave_rejoin),
    INTEG_TEST(test_dispatch_modes),
    INTEG_TEST(test_dispatch_batches),
    INTEG_TEST(test_flood_dispatch_returns),
    INTEG_TEST(test_iteration_and_zcb),
    INTEG_TEST(test_fork),
    INTEG_TEST(test_fork_relay),
    INTEG_TEST(test_fork_relay_stalled),
    INTEG_TEST(test_reasons_seen_by_a_member),
    INTEG_TEST(test_finalize_right_after_a_death),
    INTEG_TEST(test_totem_confchg_follows_node_changes),
    INTEG_TEST(test_totem_confchg_through_the_relay),
    INTEG_TEST(test_handover_to_a_member_that_saw_a_death),
    INTEG_TEST(test_stopped_member_removed),
    INTEG_TEST(test_stopped_sequencer_removed),
    INTEG_TEST(test_stopped_sequencer_of_two_removed),
    INTEG_TEST(test_stopped_sequencer_holding_safe_removed),
    INTEG_TEST(test_stopped_sequencer_and_successor_removed),
    INTEG_TEST(test_join_past_a_stopped_idle_sequencer),
    INTEG_TEST(test_join_past_a_group_all_stopped),
    INTEG_TEST(test_zcb_send_timing_out_is_not_sent_twice),
    INTEG_TEST(test_zcb_from_a_member_that_is_not_the_sequencer),
    INTEG_TEST(test_exit_while_other_threads_multicast),
};

int main(int argc, char **argv)
{
    return integ_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
