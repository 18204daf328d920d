/*
 * mpirun_cpg_rsm.c - a plain (non-MPI) program that mpirun starts N times:
 * the ranks form a CPG group and an RSM segment ring, using only the public
 * ucx_cpg APIs. It shows that mpirun-launched processes meet in the
 * library's domain on their own (local boot), with mpirun only providing
 * the rank numbers (OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE) and the
 * environment (UCX_CPG_DOMAIN via mpirun -x).
 *
 * CPG: every rank joins the group, waits until the view has all N members,
 * multicasts one AGREED message naming itself, and records the order of the
 * N messages it delivers. Then every rank multicasts that order; each rank
 * checks that all N orders it receives equal its own (total order) and
 * that its own order names every rank once.
 *
 * RSM: every rank exports one page and publishes it under segment id
 * SEGID_BASE + rank (0x600000 + rank: the application range of
 * docs/rsm.md, never 1..0x3FFFFF which is reserved), imports its right
 * neighbour's (retrying while the neighbour has not published yet), and a
 * token goes round the ring: rank 0 puts 1000 into rank 1's segment and
 * signals it; rank i waits for the signal, checks the token is 1000 + i - 1
 * and passes 1000 + i on; rank 0 finally checks 1000 + N - 1.
 *
 * The right neighbour may run on another host: its segment is looked for on
 * every node of rsm_get_interconnect_topology (ours first). Each rank also
 * publishes a segment of the loopback controller (SEGID_LOOP_BASE + rank)
 * with an empty access list: its right neighbour must be able to import it
 * from the same node and be refused (RSMERR_SEG_NOT_PUBLISHED_TO_NODE)
 * from another one, since loopback segments are for their node only. With -r only
 * the RSM ring runs (test_mpirun_hosts.sh runs both, across two hosts).
 *
 * Exit status 0 and one "ok" line per rank, or 1 and a FAIL line.
 */
#define _GNU_SOURCE
#include <corosync/cpg.h>
#include <rsmapi.h>

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEGID_BASE  0x600000u
#define SEGID_LOOP_BASE 0x610000u
#define TIMEOUT_MS  20000
#define MAX_RANKS   64

static int rank = -1, nranks;

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL mpirun_cpg_rsm rank %d: ", rank);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int env_int(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL) {
        fprintf(stderr, "FAIL mpirun_cpg_rsm: %s is not set (run me under mpirun)\n", name);
        exit(1);
    }
    return atoi(v);
}

/* --- CPG ------------------------------------------------------------------------------ */

typedef struct {
    size_t members;              /* size of the latest view */
    int    order[MAX_RANKS];     /* ranks in delivery order (first round) */
    int    norder;
    char   orders[MAX_RANKS][3 * MAX_RANKS + 8];  /* second round, by sender */
    int    norders;
} cpg_state_t;

static cpg_state_t cs;
static cpg_handle_t cpg;         /* finalized at the end of main */

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
                       void *msg, size_t len)
{
    const char *m = msg;
    char number[16];
    int from;

    if ((len > 6) && (strncmp(m, "HELLO ", 6) == 0)) {
        /* the message is not NUL-terminated (strlen bytes were sent) */
        snprintf(number, sizeof(number), "%.*s", (int)(len - 6), m + 6);
        from = atoi(number);
        if ((from < 0) || (from >= nranks) || (cs.norder >= nranks)) {
            fail("unexpected hello '%.*s'", (int)len, m);
        }
        cs.order[cs.norder++] = from;
    } else if ((len > 6) && (strncmp(m, "ORDER ", 6) == 0)) {
        if ((cs.norders >= nranks) || (len - 6 >= sizeof(cs.orders[0]))) {
            fail("unexpected order message");
        }
        memcpy(cs.orders[cs.norders], m + 6, len - 6);
        cs.orders[cs.norders][len - 6] = '\0';
        ++cs.norders;
    } else {
        fail("unknown message of %zu bytes", len);
    }
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *members,
                       size_t nmembers, const struct cpg_address *left, size_t nleft,
                       const struct cpg_address *joined, size_t njoined)
{
    cs.members = nmembers;
}

/* Dispatches until *done() or the deadline. */
static void cpg_run_until(cpg_handle_t h, int fd, int (*done)(void), const char *what)
{
    long deadline = now_ms() + TIMEOUT_MS;
    struct pollfd p = { .fd = fd, .events = POLLIN };

    while (!done()) {
        if (now_ms() > deadline) {
            fail("timed out waiting for %s", what);
        }
        poll(&p, 1, 100);
        if (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK) {
            fail("cpg_dispatch failed while waiting for %s", what);
        }
    }
}

static int all_joined(void)    { return cs.members == (size_t)nranks; }
static int all_hellos(void)    { return cs.norder == nranks; }
static int all_orders(void)    { return cs.norders == nranks; }

static void mcast(cpg_handle_t h, const char *text)
{
    struct iovec iov = { (void *)text, strlen(text) };
    long deadline = now_ms() + TIMEOUT_MS;
    cs_error_t err;

    while ((err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN) {
        if (now_ms() > deadline) {
            fail("cpg_mcast_joined kept saying TRY_AGAIN");
        }
        cpg_dispatch(h, CS_DISPATCH_ALL);
    }
    if (err != CS_OK) {
        fail("cpg_mcast_joined: error %d", (int)err);
    }
}

static void check_cpg(const char *group)
{
    cpg_callbacks_t cb = { on_deliver, on_confchg };
    struct cpg_name name;
    char msg[3 * MAX_RANKS + 16], mine[3 * MAX_RANKS + 8] = "";
    cpg_handle_t h;
    int fd, i, seen[MAX_RANKS] = { 0 };

    memset(&name, 0, sizeof(name));
    name.length = (uint32_t)snprintf(name.value, sizeof(name.value), "%s", group);
    if (cpg_initialize(&h, &cb) != CS_OK) {
        fail("cpg_initialize failed");
    }
    if (cpg_join(h, &name) != CS_OK) {
        fail("cpg_join failed");
    }
    if (cpg_fd_get(h, &fd) != CS_OK) {
        fail("cpg_fd_get failed");
    }
    cpg_run_until(h, fd, all_joined, "every rank to join");

    snprintf(msg, sizeof(msg), "HELLO %d", rank);
    mcast(h, msg);
    cpg_run_until(h, fd, all_hellos, "every rank's hello");
    for (i = 0; i < nranks; ++i) {
        if (seen[cs.order[i]]++) {
            fail("rank %d's hello delivered twice", cs.order[i]);
        }
        snprintf(mine + strlen(mine), sizeof(mine) - strlen(mine), "%d,", cs.order[i]);
    }

    snprintf(msg, sizeof(msg), "ORDER %s", mine);
    mcast(h, msg);
    cpg_run_until(h, fd, all_orders, "every rank's delivery order");
    for (i = 0; i < nranks; ++i) {
        if (strcmp(cs.orders[i], mine) != 0) {
            fail("delivery orders differ: mine %s, another rank's %s", mine, cs.orders[i]);
        }
    }
    /* the others may still be collecting orders: stay a member until the
     * RSM ring (which needs everyone) is done, leave at exit */
    printf("rank %d: cpg group of %d, agreed order %s\n", rank, nranks, mine);
    fflush(stdout);
    cpg = h;
}

/* --- RSM ------------------------------------------------------------------------------ */

/* Our node, then every remote node of the topology (at most MAX_RANKS). */
static int ring_nodes(const rsm_topology_t *topo, rsm_node_id_t *nodes)
{
    const rsm_connections_t *c = topo->connections[0];
    int n = 0, i;

    nodes[n++] = topo->topology_hdr.local_nodeid;
    for (i = 0; (topo->topology_hdr.local_cntlr_count > 0) &&
                (i < c->hdr.remote_cntlr_count) && (n <= MAX_RANKS); ++i) {
        nodes[n++] = c->remote_cntlr[i].remote_nodeid;
    }
    return n;
}

/* A page exported through the loopback controller, published to everyone
 * (which for loopback means: every process of this node). */
static void *export_loopback_page(rsmapi_controller_handle_t *lctlr_p,
                                  rsm_memseg_export_handle_t *lex_p)
{
    rsm_memseg_id_t segid = SEGID_LOOP_BASE + (rsm_memseg_id_t)rank;
    long page = sysconf(_SC_PAGESIZE);
    void *mem;
    int ret;

    if ((ret = rsm_get_controller("loopback", lctlr_p)) != RSM_SUCCESS) {
        fail("rsm_get_controller(loopback): %d", ret);
    }
    if (posix_memalign(&mem, (size_t)page, (size_t)page) != 0) {
        fail("out of memory");
    }
    if (((ret = rsm_memseg_export_create(*lctlr_p, lex_p, mem, (size_t)page, 0)) !=
         RSM_SUCCESS) ||
        ((ret = rsm_memseg_export_publish(*lex_p, &segid, NULL, 0)) != RSM_SUCCESS)) {
        fail("loopback export of %#x: %d", (unsigned)segid, ret);
    }
    return mem;
}

/* The right neighbour's loopback segment, from the node its ring segment is
 * on: imported when that is our node, refused from another. */
static void check_loopback_import(rsmapi_controller_handle_t ctlr, rsm_node_id_t right_node,
                                  rsm_node_id_t our_node, int right)
{
    int want = (right_node == our_node) ? RSM_SUCCESS : RSMERR_SEG_NOT_PUBLISHED_TO_NODE;
    long deadline = now_ms() + TIMEOUT_MS;
    rsm_memseg_import_handle_t im;
    int ret;

    while (((ret = rsm_memseg_import_connect(ctlr, right_node,
                                             SEGID_LOOP_BASE + (rsm_memseg_id_t)right,
                                             RSM_PERM_RDWR, &im)) ==
            RSMERR_SEG_NOT_PUBLISHED) && (now_ms() < deadline)) {
        usleep(10000);
    }
    if (ret != want) {
        fail("import of rank %d's loopback segment from node %u (ours %u): %d, expected %d",
             right, (unsigned)right_node, (unsigned)our_node, ret, want);
    }
    if (ret == RSM_SUCCESS) {
        rsm_memseg_import_disconnect(im);
    }
    printf("rank %d: rank %d's loopback segment %s\n", rank, right,
           (ret == RSM_SUCCESS) ? "imported on its node" : "refused to another node");
}

static void check_rsm_ring(void)
{
    long page = sysconf(_SC_PAGESIZE), deadline;
    int right = (rank + 1) % nranks, ret;
    rsmapi_controller_handle_t ctlr;
    rsm_memseg_export_handle_t ex;
    rsm_memseg_import_handle_t im;
    rsm_memseg_id_t segid = SEGID_BASE + (rsm_memseg_id_t)rank;
    rsm_node_id_t nodes[MAX_RANKS + 1];
    rsmapi_controller_handle_t lctlr;
    rsm_memseg_export_handle_t lex;
    rsm_topology_t *topo;
    volatile uint64_t *mem;
    void *lmem;
    uint64_t token;
    int nnodes, i;

    lmem = export_loopback_page(&lctlr, &lex);
    if ((ret = rsm_get_controller("ucx0", &ctlr)) != RSM_SUCCESS) {
        fail("rsm_get_controller: %d", ret);
    }
    if (posix_memalign((void **)&mem, (size_t)page, (size_t)page) != 0) {
        fail("out of memory");
    }
    memset((void *)mem, 0, (size_t)page);
    if ((ret = rsm_memseg_export_create(ctlr, &ex, (void *)mem, (size_t)page, 0)) != RSM_SUCCESS) {
        fail("rsm_memseg_export_create: %d", ret);
    }
    if ((ret = rsm_memseg_export_publish(ex, &segid, NULL, 0)) != RSM_SUCCESS) {
        fail("rsm_memseg_export_publish(%#x): %d", (unsigned)segid, ret);
    }

    /* A node with no process of the domain: a bounded, documented error. */
    if ((rank == 0) && ((ret = rsm_memseg_import_connect(ctlr, 0x7ffffff0u, segid,
                                                         RSM_PERM_RDWR, &im)) !=
                        RSMERR_REMOTE_NODE_UNREACHABLE)) {
        fail("import from a node with no process: %d, expected %d", ret,
             RSMERR_REMOTE_NODE_UNREACHABLE);
    }

    /* The neighbour publishes when it gets here, on a node we do not know:
     * try every node of the topology until one has its segment. */
    deadline = now_ms() + TIMEOUT_MS;
    for (ret = RSMERR_SEG_NOT_PUBLISHED; ret == RSMERR_SEG_NOT_PUBLISHED; usleep(10000)) {
        if ((ret = rsm_get_interconnect_topology(&topo)) != RSM_SUCCESS) {
            fail("rsm_get_interconnect_topology: %d", ret);
        }
        nnodes = ring_nodes(topo, nodes);          /* again: hosts may still arrive */
        rsm_free_interconnect_topology(topo);
        ret = RSMERR_SEG_NOT_PUBLISHED;
        for (i = 0; (i < nnodes) && (ret == RSMERR_SEG_NOT_PUBLISHED); ++i) {
            ret = rsm_memseg_import_connect(ctlr, nodes[i], SEGID_BASE + (rsm_memseg_id_t)right,
                                            RSM_PERM_RDWR, &im);
        }
        if ((ret == RSMERR_SEG_NOT_PUBLISHED) && (now_ms() > deadline)) {
            fail("rank %d never published segment %#x", right, SEGID_BASE + right);
        }
    }
    if (ret != RSM_SUCCESS) {
        fail("rsm_memseg_import_connect to rank %d: %d", right, ret);
    }
    /* Before the token: the neighbour keeps its loopback segment until the
     * token reaches it, so it is still there. */
    check_loopback_import(ctlr, nodes[i - 1], nodes[0], right);

    if (rank != 0) {
        if ((ret = rsm_intr_signal_wait(ex, TIMEOUT_MS)) != RSM_SUCCESS) {
            fail("no token from the left neighbour: %d", ret);
        }
        if (mem[0] != 1000u + (uint64_t)rank - 1) {
            fail("token %" PRIu64 ", expected %d", mem[0], 1000 + rank - 1);
        }
    }
    token = 1000u + (uint64_t)rank;
    if ((ret = rsm_memseg_import_put(im, 0, &token, sizeof(token))) != RSM_SUCCESS) {
        fail("rsm_memseg_import_put: %d", ret);
    }
    if ((ret = rsm_intr_signal_post(im, 0)) != RSM_SUCCESS) {
        fail("rsm_intr_signal_post: %d", ret);
    }
    if (rank == 0) {
        if ((ret = rsm_intr_signal_wait(ex, TIMEOUT_MS)) != RSM_SUCCESS) {
            fail("the token did not come back: %d", ret);
        }
        if (mem[0] != 1000u + (uint64_t)nranks - 1) {
            fail("token came back as %" PRIu64 ", expected %d", mem[0], 1000 + nranks - 1);
        }
    }
    printf("rank %d: rsm ring token %" PRIu64 " ok (segment %#x)\n", rank, mem[0],
           (unsigned)segid);
    fflush(stdout);

    /* Our right neighbour is done with our put once its signal wait
     * returned; our left neighbour's put into us is done too. Disconnect
     * and destroy: a neighbour still connected to us sees a forced
     * disconnect, which is harmless here. */
    rsm_memseg_import_disconnect(im);
    rsm_memseg_export_destroy(ex);
    rsm_release_controller(ctlr);
    free((void *)mem);
    rsm_memseg_export_destroy(lex);
    rsm_release_controller(lctlr);
    free(lmem);
}

int main(int argc, char **argv)
{
    char group[CPG_MAX_NAME_LENGTH];
    const char *domain = getenv("UCX_CPG_DOMAIN");
    int rsm_only;

    rank   = env_int("OMPI_COMM_WORLD_RANK");
    nranks = env_int("OMPI_COMM_WORLD_SIZE");
    if ((nranks < 1) || (nranks > MAX_RANKS) || (rank < 0) || (rank >= nranks)) {
        fail("bad rank %d of %d", rank, nranks);
    }
    alarm(60);                    /* never hang a test run */
    /* -r: the RSM ring only */
    rsm_only = (argc > 1) && (strcmp(argv[1], "-r") == 0);
    snprintf(group, sizeof(group), "mpirun_ring.%s", (domain != NULL) ? domain : "default");
    if (!rsm_only) {
        check_cpg(group);
    }
    check_rsm_ring();
    if (!rsm_only) {
        cpg_finalize(cpg);
    }
    printf("rank %d: ok\n", rank);
    return 0;
}
