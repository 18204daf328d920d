/*
 * rsm_tests.c - the RSM tests: the server side and the client side of a
 * session, after HELLO.
 *
 * The server exports one page-aligned segment as large as the largest size,
 * filled with its pattern, and publishes it under a system-assigned id on
 * controller "ucx0"; the client connects to it with read and write rights.
 * For the ping-pong tests (rsm_put_lat, rsm_signal_lat) the client exports
 * a segment too and the server connects to it, so that each side writes
 * into the other's memory, as ucx_perftest's ucp_put_lat does.
 *
 *   rsm_put_lat     client puts SIZE bytes whose last byte is the iteration
 *                   number (mod 256) into the server's segment and spins on
 *                   the last byte of its own; the server spins on its last
 *                   byte and puts back. One iteration = one round trip;
 *                   latency = half of it (ucx_perftest's put_lat).
 *   rsm_signal_lat  the same exchange, each put followed by
 *                   rsm_intr_signal_post and received by rsm_intr_signal_wait
 *                   (SIZE 0: signals only); the receiver checks the last
 *                   byte after the signal (the put is complete by then).
 *   rsm_get_lat     one rsm_memseg_import_get at a time (implicit barrier
 *                   mode: synchronous); the server is passive.
 *   rsm_put_bw, rsm_get_bw, rsm_putv_bw
 *                   back-to-back transfers inside one explicit barrier
 *                   (RSMAPI's way to let transfers pipeline, as
 *                   ucp_put_bw keeps many in flight); the barrier close ends
 *                   the timed span. putv: min(16, SIZE) entries.
 *   rsm_map_bw      memcpy of SIZE bytes into rsm_memseg_import_map's
 *                   mapping of the server's segment.
 *
 * Every test checks its data outside the timed loop: before it (put then
 * get, or get of the server's pattern), and after it (what the last
 * operation wrote or read), and the ping-pong tests check the sequence
 * byte of every iteration. The server watches the control connection
 * while it spins, so a client that dies does not leave it spinning.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rsmapi.h>

#define PT_SEED_SERVER 0x53u     /* 'S': the server's pattern */
#define PT_SEED_CLIENT 0x43u     /* 'C': the client's */
#define PT_SPIN_CHECK  16384u    /* spins between looks at the clock and the peer */
#define PT_SPIN_YIELD_US 50.0    /* spinning longer than this yields the CPU */
#define PT_SIGNAL_SLICE_MS 100

/* One side's RSM state. */
typedef struct pt_rsm_side {
    const pt_opts_t           *o;
    pt_conn_t                 *conn;      /* control connection (watched while waiting) */
    pt_error_t                *e;
    uint64_t                   deadline;  /* pt_deadline, 0 = none */
    rsmapi_controller_handle_t ctlr;
    int                        have_ctlr;
    rsm_node_id_t              node;      /* this side's node id */
    uint8_t                   *mem;       /* the exported segment (own memory) */
    size_t                     mem_len;
    rsm_memseg_export_handle_t exp;
    int                        exported;
    rsm_memseg_id_t            segid;
    rsm_memseg_import_handle_t imp;       /* the peer's segment */
    int                        imported;
    size_t                     peer_len;
    uint8_t                   *src, *dst; /* local buffers of the largest size */
    size_t                     buf_len;
    void                      *map;       /* rsm_map_bw */
    rsmapi_barrier_t           bar;
    int                        bar_init;
    rsm_iovec_t                iov[RSM_MAX_SGIOREQS];
    rsm_scat_gath_t            sg;
} pt_rsm_side_t;

static const char *pt_rsm_err_name(int err)
{
    static const char *const names[] = {
        "RSM_SUCCESS", "RSMERR_BAD_LIBRARY_VERSION", "RSMERR_BAD_TOPOLOGY_PTR",
        "RSMERR_BAD_CTLR_HNDL", "RSMERR_CTLR_NOT_PRESENT", "RSMERR_BAD_SEG_HNDL",
        "RSMERR_SEG_ALREADY_PUBLISHED", "RSMERR_SEG_NOT_PUBLISHED",
        "RSMERR_SEG_NOT_PUBLISHED_TO_NODE", "RSMERR_SEG_ALREADY_MAPPED",
        "RSMERR_SEG_STILL_MAPPED", "RSMERR_SEG_NOT_MAPPED", "RSMERR_NOT_CREATOR",
        "RSMERR_BAD_BARRIER_PTR", "RSMERR_BAD_SGIO", "RSMERR_BAD_LOCALMEM_HNDL",
        "RSMERR_BAD_ADDR", "RSMERR_BAD_MEM_ALIGNMENT", "RSMERR_BAD_OFFSET",
        "RSMERR_MISALIGNED_OFFSET", "RSMERR_BAD_LENGTH", "RSMERR_BAD_ACL", "RSMERR_BAD_SEGID",
        "RSMERR_RESERVED_SEGID", "RSMERR_SEGID_IN_USE", "RSMERR_BAD_MODE", "RSMERR_BAD_PERMS",
        "RSMERR_PERM_DENIED", "RSMERR_LOCKS_NOT_SUPPORTED", "RSMERR_LOCKS_NOT_ENABLED",
        "RSMERR_REBIND_NOT_ALLOWED", "RSMERR_INSUFFICIENT_RESOURCES",
        "RSMERR_INSUFFICIENT_MEM", "RSMERR_MAP_FAILED", "RSMERR_POLLFD_IN_USE",
        "RSMERR_BARRIER_UNINITIALIZED", "RSMERR_BARRIER_OPEN_FAILED",
        "RSMERR_BARRIER_NOT_OPENED", "RSMERR_BARRIER_FAILURE",
        "RSMERR_REMOTE_NODE_UNREACHABLE", "RSMERR_CONN_ABORTED", "RSMERR_INTERRUPTED",
        "RSMERR_TIMEOUT", "RSMERR_BAD_APPID", "RSMERR_BAD_CONF", "RSMERR_SEG_NOT_CONNECTED",
    };

    if ((err >= 0) && ((size_t)err < sizeof(names) / sizeof(names[0]))) {
        return names[err];
    }
    return "RSMERR_(other)";
}

static int pt_rsm_fail(pt_rsm_side_t *x, const char *call, int err)
{
    pt_error_set(x->e, PT_EXIT_FAIL, "%s: %s (%d)", call, pt_rsm_err_name(err), err);
    return -1;
}

static uint8_t pt_pattern(size_t i, unsigned seed)
{
    return (uint8_t)(i * 7u + (i >> 12) + seed);
}

static void pt_fill(uint8_t *p, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; ++i) {
        p[i] = pt_pattern(i, seed);
    }
}

/* First offset in [0, len) where p differs from the pattern, or len. */
static size_t pt_pattern_mismatch(const uint8_t *p, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; ++i) {
        if (p[i] != pt_pattern(i, seed)) {
            return i;
        }
    }
    return len;
}

static size_t pt_page_round(size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (len == 0) {
        len = 1;
    }
    return (len + page - 1) / page * page;
}

/* Page-aligned memory, touched so that no page fault is timed. */
static uint8_t *pt_alloc(size_t len)
{
    void *p = mmap(NULL, pt_page_round(len), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        return NULL;
    }
    memset(p, 0, pt_page_round(len));
    return p;
}

static void pt_free(void *p, size_t len)
{
    if (p != NULL) {
        munmap(p, pt_page_round(len));
    }
}

static size_t pt_max_size(const pt_opts_t *o)
{
    size_t max = 0;
    unsigned i;

    for (i = 0; i < o->nsizes; ++i) {
        max = (o->sizes[i] > max) ? o->sizes[i] : max;
    }
    return max;
}

/* --- set-up and tear-down ------------------------------------------------------- */

static int pt_rsm_open(pt_rsm_side_t *x)
{
    rsm_topology_t *topo;
    int ret;

    ret = rsm_get_controller("ucx0", &x->ctlr);
    if (ret != RSM_SUCCESS) {
        pt_error_set(x->e, PT_EXIT_SETUP, "rsm_get_controller(\"ucx0\"): %s (%d): cannot join "
                     "the ucx_cpg domain", pt_rsm_err_name(ret), ret);
        return -1;
    }
    x->have_ctlr = 1;
    ret = rsm_get_interconnect_topology(&topo);
    if (ret != RSM_SUCCESS) {
        pt_error_set(x->e, PT_EXIT_SETUP, "rsm_get_interconnect_topology: %s (%d)",
                     pt_rsm_err_name(ret), ret);
        return -1;
    }
    x->node = topo->topology_hdr.local_nodeid;
    rsm_free_interconnect_topology(topo);
    x->buf_len = pt_max_size(x->o);
    x->src     = pt_alloc(x->buf_len);
    x->dst     = pt_alloc(x->buf_len);
    if ((x->src == NULL) || (x->dst == NULL)) {
        pt_error_set(x->e, PT_EXIT_SETUP, "cannot allocate 2 x %zu bytes", x->buf_len);
        return -1;
    }
    return 0;
}

/* Exports and publishes len bytes (rounded to pages) filled with seed's pattern. */
static int pt_rsm_export(pt_rsm_side_t *x, size_t len, unsigned seed)
{
    int ret;

    x->mem_len = pt_page_round(len);
    x->mem     = pt_alloc(x->mem_len);
    if (x->mem == NULL) {
        pt_error_set(x->e, PT_EXIT_SETUP, "cannot allocate a segment of %zu bytes", x->mem_len);
        return -1;
    }
    pt_fill(x->mem, x->mem_len, seed);
    ret = rsm_memseg_export_create(x->ctlr, &x->exp, x->mem, x->mem_len, 0);
    if (ret != RSM_SUCCESS) {
        pt_error_set(x->e, PT_EXIT_SETUP, "rsm_memseg_export_create(%zu bytes): %s (%d)",
                     x->mem_len, pt_rsm_err_name(ret), ret);
        return -1;
    }
    x->exported = 1;
    x->segid    = 0;                     /* 0: the library assigns an unused id */
    ret = rsm_memseg_export_publish(x->exp, &x->segid, NULL, 0);
    if (ret != RSM_SUCCESS) {
        pt_error_set(x->e, PT_EXIT_SETUP, "rsm_memseg_export_publish: %s (%d)",
                     pt_rsm_err_name(ret), ret);
        return -1;
    }
    return 0;
}

static int pt_rsm_connect(pt_rsm_side_t *x, rsm_node_id_t node, rsm_memseg_id_t segid)
{
    int ret = rsm_memseg_import_connect(x->ctlr, node, segid, RSM_PERM_RDWR, &x->imp);

    if (ret != RSM_SUCCESS) {
        pt_error_set(x->e, PT_EXIT_SETUP, "rsm_memseg_import_connect(node %u, segment %#x): "
                     "%s (%d)", node, segid, pt_rsm_err_name(ret), ret);
        return -1;
    }
    x->imported = 1;
    return 0;
}

static void pt_rsm_close(pt_rsm_side_t *x)
{
    if (x->bar_init) {
        rsm_memseg_import_destroy_barrier(&x->bar);
    }
    if (x->map != NULL) {
        rsm_memseg_import_unmap(x->imp);
    }
    if (x->imported) {
        rsm_memseg_import_disconnect(x->imp);
    }
    if (x->exported) {
        rsm_memseg_export_destroy(x->exp);
    }
    if (x->have_ctlr) {
        rsm_release_controller(x->ctlr);
    }
    pt_free(x->mem, x->mem_len);
    pt_free(x->src, x->buf_len);
    pt_free(x->dst, x->buf_len);
}

/* --- waiting ------------------------------------------------------------------------ */

/* Called every PT_SPIN_CHECK spins or signal-wait slices: 0 go on, -1 stop. */
static int pt_rsm_wait_check(pt_rsm_side_t *x, uint64_t spin_start, const char *what)
{
    if ((x->deadline != 0) && (pt_clock_ns() >= x->deadline)) {
        pt_error_set(x->e, PT_EXIT_TIMEOUT, "time limit reached while waiting for %s", what);
        return -1;
    }
    if (pt_control_peer_gone(x->conn)) {
        if (x->conn->error[0] != '\0') {
            pt_error_set(x->e, PT_EXIT_FAIL, "the peer failed while this side waited for %s: "
                         "%s", what, x->conn->error);
        } else {
            pt_error_set(x->e, PT_EXIT_FAIL, "the peer closed the control connection while "
                         "this side waited for %s", what);
        }
        return -1;
    }
    if ((double)(pt_clock_now() - spin_start) / pt_clock_ticks_per_us() > PT_SPIN_YIELD_US) {
        sched_yield();   /* the peer may share this CPU */
    }
    return 0;
}

/* Spins until *tail == sn. */
static int pt_rsm_spin(pt_rsm_side_t *x, const volatile uint8_t *tail, uint8_t sn)
{
    uint64_t start = 0;
    unsigned spins = 0;

    while (*tail != sn) {
        if (++spins == PT_SPIN_CHECK) {
            spins = 0;
            if (start == 0) {
                start = pt_clock_now();
            }
            if (pt_rsm_wait_check(x, start, "the peer's put") != 0) {
                return -1;
            }
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return 0;
}

/* Waits for one event on seg (an export handle). */
static int pt_rsm_signal_wait(pt_rsm_side_t *x, void *seg)
{
    uint64_t start = pt_clock_now();

    for (;;) {
        int ret = rsm_intr_signal_wait(seg, PT_SIGNAL_SLICE_MS);

        if (ret == RSM_SUCCESS) {
            return 0;
        }
        if ((ret != RSMERR_TIMEOUT) && (ret != RSMERR_INTERRUPTED)) {
            return pt_rsm_fail(x, "rsm_intr_signal_wait", ret);
        }
        if (pt_rsm_wait_check(x, start, "a signal") != 0) {
            return -1;
        }
    }
}

/* Waits for the peer's half of ping-pong iteration i: its signal (and then
 * its put must be visible: the signal follows the put), or the last byte of
 * its put to turn to sn. */
static int pt_rsm_await_peer(pt_rsm_side_t *x, const volatile uint8_t *tail, uint8_t sn,
                             int signal, uint64_t i)
{
    if (!signal) {
        return pt_rsm_spin(x, tail, sn);
    }
    if (pt_rsm_signal_wait(x, x->exp) != 0) {
        return -1;
    }
    if ((tail != NULL) && (*tail != sn)) {
        pt_error_set(x->e, PT_EXIT_FAIL, "iteration %llu: the signal arrived but the put "
                     "before it is not visible (last byte %u, expected %u)",
                     (unsigned long long)i, *tail, sn);
        return -1;
    }
    return 0;
}

/* --- the server ----------------------------------------------------------------------- */

/* The server's half of one ping-pong phase: wait, answer, iters times. */
static int pt_rsm_server_pingpong(pt_rsm_side_t *x, size_t size)
{
    uint64_t total = x->o->warmup + x->o->iters, i;
    volatile uint8_t *tail = (size > 0) ? x->mem + size - 1 : NULL;
    int signal = (x->o->test == PT_TEST_RSM_SIGNAL_LAT), ret;

    for (i = 1; i <= total; ++i) {
        uint8_t sn = (uint8_t)i;

        if (pt_rsm_await_peer(x, tail, sn, signal, i) != 0) {
            return -1;
        }
        if (size > 0) {
            x->src[size - 1] = sn;
            ret = rsm_memseg_import_put(x->imp, 0, x->src, size);
            if (ret != RSM_SUCCESS) {
                return pt_rsm_fail(x, "rsm_memseg_import_put", ret);
            }
        }
        if (signal && ((ret = rsm_intr_signal_post(x->imp, 0)) != RSM_SUCCESS)) {
            return pt_rsm_fail(x, "rsm_intr_signal_post", ret);
        }
    }
    return 0;
}

/* After a ping-pong phase: this side's segment holds the peer's last message. */
static int pt_rsm_check_received(pt_rsm_side_t *x, size_t size, unsigned peer_seed)
{
    uint8_t sn = (uint8_t)(x->o->warmup + x->o->iters);
    size_t bad;

    if (size == 0) {
        return 0;
    }
    bad = pt_pattern_mismatch(x->mem, size - 1, peer_seed);
    if ((bad < size - 1) || (x->mem[size - 1] != sn)) {
        pt_error_set(x->e, PT_EXIT_FAIL, "data check failed: after %zu-byte puts this "
                     "segment differs from the peer's message at byte %zu", size,
                     (bad < size - 1) ? bad : size - 1);
        return -1;
    }
    return 0;
}

static int pt_rsm_server_session(pt_rsm_side_t *x, pt_conn_t *c)
{
    const pt_test_info_t *ti = &pt_tests[x->o->test];
    uint64_t node, segid, size;
    pt_msg_t m, reply;

    /* the client's segment, for the ping-pong tests */
    if ((pt_control_recv(c, &m, x->deadline) != 0) || (strcmp(m.verb, "SETUP") != 0) ||
        (pt_msg_get_u64(&m, "node", &node) != 0) || (pt_msg_get_u64(&m, "segid", &segid) != 0)) {
        pt_error_set(x->e, PT_EXIT_SETUP, "the client did not send SETUP (%s)",
                     (strcmp(m.verb, "ERROR") == 0) ? pt_msg_get(&m, "msg") : "lost or malformed");
        return -1;
    }
    if ((ti->flags & PT_TF_CLIENT_SEG) &&
        (pt_rsm_connect(x, (rsm_node_id_t)node, (rsm_memseg_id_t)segid) != 0)) {
        pt_control_send_error(c, x->e->text);
        return -1;
    }
    pt_msg_init(&reply, "READY");
    pt_control_send(c, &reply);

    for (;;) {
        int ret = pt_control_recv(c, &m, x->deadline);

        if (ret == -2) {
            pt_error_set(x->e, PT_EXIT_TIMEOUT, "time limit reached waiting for the client");
            return -1;
        }
        if (ret != 0) {
            pt_error_set(x->e, PT_EXIT_FAIL, "the client went away (control connection %s)",
                         (ret == -3) ? "garbled" : "closed");
            return -1;
        }
        if (strcmp(m.verb, "BYE") == 0) {
            return 0;
        }
        if (strcmp(m.verb, "ERROR") == 0) {
            pt_error_set(x->e, PT_EXIT_FAIL, "the client failed: %s", pt_msg_get(&m, "msg"));
            return -1;
        }
        if ((strcmp(m.verb, "RUN") != 0) || (pt_msg_get_u64(&m, "size", &size) != 0) ||
            (size > x->buf_len)) {
            pt_error_set(x->e, PT_EXIT_FAIL, "unexpected message %s from the client", m.verb);
            return -1;
        }
        if ((ti->flags & PT_TF_PINGPONG) && (size > 0)) {
            x->mem[size - 1] = 0;     /* the first iteration writes 1 */
        }
        pt_msg_init(&reply, "GO");
        pt_control_send(c, &reply);
        if ((ti->flags & PT_TF_PINGPONG) && (pt_rsm_server_pingpong(x, (size_t)size) != 0)) {
            pt_control_send_error(c, x->e->text);
            return -1;
        }
        if ((pt_control_recv(c, &m, x->deadline) != 0) || (strcmp(m.verb, "DONE") != 0)) {
            pt_error_set(x->e, PT_EXIT_FAIL, "the client did not finish the %llu-byte phase%s%s",
                         (unsigned long long)size, (strcmp(m.verb, "ERROR") == 0) ? ": " : "",
                         (strcmp(m.verb, "ERROR") == 0) ? pt_msg_get(&m, "msg") : "");
            return -1;
        }
        if (size > 0) {
            x->src[size - 1] = pt_pattern(size - 1, PT_SEED_SERVER);   /* was the sequence byte */
        }
        if ((ti->flags & PT_TF_PINGPONG) &&
            (pt_rsm_check_received(x, (size_t)size, PT_SEED_CLIENT) != 0)) {
            pt_control_send_error(c, x->e->text);
            return -1;
        }
        pt_msg_init(&reply, "OK");
        pt_control_send(c, &reply);
    }
}

int pt_rsm_server(const pt_opts_t *o, pt_conn_t *c, pt_msg_t *welcome, pt_error_t *e)
{
    pt_rsm_side_t x;
    int ret = -1;

    memset(&x, 0, sizeof(x));
    x.o = o;
    x.conn = c;
    x.e = e;
    x.deadline = pt_deadline(o);
    if ((pt_rsm_open(&x) == 0) && (pt_rsm_export(&x, pt_max_size(o), PT_SEED_SERVER) == 0)) {
        pt_fill(x.src, x.buf_len, PT_SEED_SERVER);
        pt_msg_set_u64(welcome, "node", x.node);
        pt_msg_set_u64(welcome, "segid", x.segid);
        pt_msg_set_u64(welcome, "seglen", x.mem_len);
        pt_control_send(c, welcome);
        ret = pt_rsm_server_session(&x, c);
    } else {
        pt_control_send_error(c, e->text);
    }
    pt_rsm_close(&x);
    return ret;
}

/* --- the client: one operation, loops --------------------------------------------------- */

static inline int pt_rsm_op(pt_rsm_side_t *x, size_t size)
{
    switch (x->o->test) {
    case PT_TEST_RSM_PUT_BW:
        return rsm_memseg_import_put(x->imp, 0, x->src, size);
    case PT_TEST_RSM_GET_LAT:
    case PT_TEST_RSM_GET_BW:
        return rsm_memseg_import_get(x->imp, 0, x->dst, size);
    case PT_TEST_RSM_PUTV_BW:
        x->sg.io_residual_count = 0;
        return rsm_memseg_import_putv(&x->sg);
    case PT_TEST_RSM_MAP_BW:
        memcpy(x->map, x->src, size);
        __asm__ __volatile__("" : : "r"(x->map) : "memory");
        return RSM_SUCCESS;
    default:
        return RSMERR_BAD_ARGS_ERRORS;
    }
}

static const char *pt_rsm_op_name(int test)
{
    switch (test) {
    case PT_TEST_RSM_PUT_BW: return "rsm_memseg_import_put";
    case PT_TEST_RSM_PUTV_BW: return "rsm_memseg_import_putv";
    default: return "rsm_memseg_import_get";
    }
}

static void pt_rsm_putv_setup(pt_rsm_side_t *x, size_t size)
{
    unsigned entries = (size < RSM_MAX_SGIOREQS) ? (unsigned)size : RSM_MAX_SGIOREQS, k;
    size_t chunk = size / entries;

    for (k = 0; k < entries; ++k) {
        x->iov[k].io_type         = RSM_VA_TYPE;
        x->iov[k].local.vaddr     = (caddr_t)x->src;
        x->iov[k].local_offset    = k * chunk;
        x->iov[k].remote_offset   = k * chunk;
        x->iov[k].transfer_length = (k + 1 == entries) ? size - k * chunk : chunk;
    }
    x->sg.local_nodeid     = x->node;
    x->sg.io_request_count = entries;
    x->sg.flags            = 0;
    x->sg.remote_handle    = x->imp;
    x->sg.iovec            = x->iov;
}

/* A progress line (if it is time), the deadline and the peer; 0 go on. */
static int pt_rsm_progress(pt_rsm_side_t *x, pt_meter_t *m, uint64_t now, pt_report_t *rep)
{
    pt_result_t r;

    pt_meter_result(m, now, 0, &r);
    pt_report_result(rep, &r);
    return pt_rsm_wait_check(x, pt_clock_now(), "the end of the timed loop");
}

static int pt_rsm_run_stream(pt_rsm_side_t *x, size_t size, pt_meter_t *m, pt_report_t *rep)
{
    int explicit_mode = (x->o->test != PT_TEST_RSM_GET_LAT) && (x->o->test != PT_TEST_RSM_MAP_BW);
    uint64_t i, prev, now;
    int ret;

    if (x->o->test == PT_TEST_RSM_PUTV_BW) {
        pt_rsm_putv_setup(x, size);
    }
    /* warm-up: its own barrier span, closed before the clock starts */
    if (explicit_mode && ((ret = rsm_memseg_import_open_barrier(&x->bar)) != RSM_SUCCESS)) {
        return pt_rsm_fail(x, "rsm_memseg_import_open_barrier", ret);
    }
    for (i = 0; i < x->o->warmup; ++i) {
        if ((ret = pt_rsm_op(x, size)) != RSM_SUCCESS) {
            return pt_rsm_fail(x, pt_rsm_op_name(x->o->test), ret);
        }
    }
    if (explicit_mode && (((ret = rsm_memseg_import_close_barrier(&x->bar)) != RSM_SUCCESS) ||
                          ((ret = rsm_memseg_import_open_barrier(&x->bar)) != RSM_SUCCESS))) {
        return pt_rsm_fail(x, "warm-up barrier", ret);
    }
    prev = pt_clock_now();
    pt_meter_start(m, prev);
    for (i = 0; i < x->o->iters; ++i) {
        ret = pt_rsm_op(x, size);
        now = pt_clock_now();
        if (__builtin_expect(ret != RSM_SUCCESS, 0)) {
            return pt_rsm_fail(x, pt_rsm_op_name(x->o->test), ret);
        }
        pt_meter_add(m, now - prev, now);
        prev = now;
        if (__builtin_expect(pt_meter_due(m, now), 0)) {
            if (pt_rsm_progress(x, m, now, rep) != 0) {
                return -1;
            }
            prev = pt_clock_now();
        }
    }
    if (explicit_mode) {
        if ((ret = rsm_memseg_import_close_barrier(&x->bar)) != RSM_SUCCESS) {
            return pt_rsm_fail(x, "rsm_memseg_import_close_barrier", ret);
        }
        m->t_last = pt_clock_now();       /* the close (the flush) is part of the span */
    }
    return 0;
}

static int pt_rsm_run_pingpong(pt_rsm_side_t *x, size_t size, pt_meter_t *m, pt_report_t *rep)
{
    uint64_t total = x->o->warmup + x->o->iters, i, prev, now;
    volatile uint8_t *tail = (size > 0) ? x->mem + size - 1 : NULL;
    int signal = (x->o->test == PT_TEST_RSM_SIGNAL_LAT), ret;

    prev = pt_clock_now();
    if (x->o->warmup == 0) {
        pt_meter_start(m, prev);
    }
    for (i = 1; i <= total; ++i) {
        uint8_t sn = (uint8_t)i;

        if (size > 0) {
            x->src[size - 1] = sn;
            ret = rsm_memseg_import_put(x->imp, 0, x->src, size);
            if (ret != RSM_SUCCESS) {
                return pt_rsm_fail(x, "rsm_memseg_import_put", ret);
            }
        }
        if (signal) {
            if ((ret = rsm_intr_signal_post(x->imp, 0)) != RSM_SUCCESS) {
                return pt_rsm_fail(x, "rsm_intr_signal_post", ret);
            }
        }
        if (pt_rsm_await_peer(x, tail, sn, signal, i) != 0) {
            return -1;
        }
        now = pt_clock_now();
        if (i > x->o->warmup) {
            pt_meter_add(m, now - prev, now);
            if (__builtin_expect(pt_meter_due(m, now), 0)) {
                if (pt_rsm_progress(x, m, now, rep) != 0) {
                    return -1;
                }
                now = pt_clock_now();
            }
        } else if (i == x->o->warmup) {
            pt_meter_start(m, now);
        }
        prev = now;
    }
    return 0;
}

/* Before the timed phases: data really moves between the two sides. */
static int pt_rsm_precheck(pt_rsm_side_t *x)
{
    size_t len = x->buf_len, bad;
    int ret, get_test = (x->o->test == PT_TEST_RSM_GET_LAT) || (x->o->test == PT_TEST_RSM_GET_BW);

    if (len == 0) {
        return 0;
    }
    if (!get_test) {
        if ((ret = rsm_memseg_import_put(x->imp, 0, x->src, len)) != RSM_SUCCESS) {
            return pt_rsm_fail(x, "rsm_memseg_import_put (data check)", ret);
        }
    }
    memset(x->dst, 0, len);
    if ((ret = rsm_memseg_import_get(x->imp, 0, x->dst, len)) != RSM_SUCCESS) {
        return pt_rsm_fail(x, "rsm_memseg_import_get (data check)", ret);
    }
    bad = get_test ? pt_pattern_mismatch(x->dst, len, PT_SEED_SERVER)
                   : ((memcmp(x->dst, x->src, len) == 0) ? len : 0);
    if (bad < len) {
        pt_error_set(x->e, PT_EXIT_FAIL, "data check failed before the test: %s",
                     get_test ? "get did not return the server's data"
                              : "get did not return what put wrote");
        return -1;
    }
    if (x->map != NULL) {
        uint8_t *map = x->map, want = (uint8_t)~x->src[0];

        if (memcmp(map, x->src, len) != 0) {
            pt_error_set(x->e, PT_EXIT_FAIL, "data check failed: the mapping does not show "
                         "the put");
            return -1;
        }
        map[0] = want;
        ret    = rsm_memseg_import_get(x->imp, 0, x->dst, 1);
        map[0] = x->src[0];
        if ((ret != RSM_SUCCESS) || (x->dst[0] != want)) {
            pt_error_set(x->e, PT_EXIT_FAIL, "data check failed: a store through the mapping "
                         "is not seen by get");
            return -1;
        }
    }
    return 0;
}

/* After a phase: what the last operation wrote or read is right. */
static int pt_rsm_postcheck(pt_rsm_side_t *x, size_t size)
{
    int ret;

    switch (x->o->test) {
    case PT_TEST_RSM_PUT_LAT:
    case PT_TEST_RSM_SIGNAL_LAT:
        return pt_rsm_check_received(x, size, PT_SEED_SERVER);
    case PT_TEST_RSM_GET_LAT:
    case PT_TEST_RSM_GET_BW:
        if (pt_pattern_mismatch(x->dst, size, PT_SEED_SERVER) < size) {
            pt_error_set(x->e, PT_EXIT_FAIL, "data check failed: the last %zu-byte get did "
                         "not return the server's data", size);
            return -1;
        }
        return 0;
    default:
        memset(x->dst, 0, size);
        if ((ret = rsm_memseg_import_get(x->imp, 0, x->dst, size)) != RSM_SUCCESS) {
            return pt_rsm_fail(x, "rsm_memseg_import_get (data check)", ret);
        }
        if (memcmp(x->dst, x->src, size) != 0) {
            pt_error_set(x->e, PT_EXIT_FAIL, "data check failed: the server's segment does "
                         "not hold what the last %zu-byte transfer wrote", size);
            return -1;
        }
        return 0;
    }
}

static int pt_rsm_client_phase(pt_rsm_side_t *x, unsigned phase, pt_report_t *rep)
{
    const pt_opts_t *o = x->o;
    size_t size = o->sizes[phase];
    pt_meter_t *m;
    pt_result_t r;
    pt_msg_t msg;
    int ret;

    m = malloc(sizeof(*m));
    if (m == NULL) {
        pt_error_set(x->e, PT_EXIT_SETUP, "out of memory");
        return -1;
    }
    pt_meter_init(m, o->test, size, phase, o->percentile);
    m->members = 2;
    pt_report_phase(rep, o, size);
    if ((pt_tests[o->test].flags & PT_TF_PINGPONG) && (size > 0)) {
        x->mem[size - 1] = 0;
    }
    pt_msg_init(&msg, "RUN");
    pt_msg_set_u64(&msg, "size", size);
    pt_msg_set_u64(&msg, "phase", phase);
    if ((pt_control_send(x->conn, &msg) != 0) ||
        (pt_control_recv(x->conn, &msg, x->deadline) != 0) || (strcmp(msg.verb, "GO") != 0)) {
        pt_error_set(x->e, PT_EXIT_FAIL, "the server did not start the %zu-byte phase%s%s",
                     size, (strcmp(msg.verb, "ERROR") == 0) ? ": " : "",
                     (strcmp(msg.verb, "ERROR") == 0) ? pt_msg_get(&msg, "msg") : "");
        free(m);
        return -1;
    }
    ret = (pt_tests[o->test].flags & PT_TF_PINGPONG) ? pt_rsm_run_pingpong(x, size, m, rep)
                                                      : pt_rsm_run_stream(x, size, m, rep);
    if (size > 0) {
        x->src[size - 1] = pt_pattern(size - 1, PT_SEED_CLIENT);   /* was the sequence byte */
    }
    if ((ret == 0) && (pt_rsm_postcheck(x, size) != 0)) {
        ret = -1;
    }
    if (ret != 0) {
        pt_control_send_error(x->conn, x->e->text);
        free(m);
        return -1;
    }
    pt_meter_result(m, pt_clock_now(), 1, &r);
    free(m);
    pt_msg_init(&msg, "DONE");
    if ((pt_control_send(x->conn, &msg) != 0) ||
        (pt_control_recv(x->conn, &msg, x->deadline) != 0) || (strcmp(msg.verb, "OK") != 0)) {
        pt_error_set(x->e, PT_EXIT_FAIL, "the server reported a failure after the %zu-byte "
                     "phase: %s", size, (strcmp(msg.verb, "ERROR") == 0)
                                            ? pt_msg_get(&msg, "msg") : "(connection lost)");
        return -1;
    }
    pt_report_result(rep, &r);
    return 0;
}

int pt_rsm_client(const pt_opts_t *o, pt_conn_t *c, const pt_msg_t *welcome,
                  pt_report_t *rep, pt_error_t *e)
{
    const pt_test_info_t *ti = &pt_tests[o->test];
    uint64_t node, segid, seglen;
    pt_rsm_side_t x;
    pt_msg_t m;
    unsigned phase;
    int ret = -1;

    memset(&x, 0, sizeof(x));
    x.o = o;
    x.conn = c;
    x.e = e;
    x.deadline = pt_deadline(o);
    if ((pt_msg_get_u64(welcome, "node", &node) != 0) ||
        (pt_msg_get_u64(welcome, "segid", &segid) != 0) ||
        (pt_msg_get_u64(welcome, "seglen", &seglen) != 0)) {
        pt_error_set(e, PT_EXIT_SETUP, "the server's WELCOME has no segment");
        return -1;
    }
    if (pt_rsm_open(&x) != 0) {
        goto out;
    }
    x.peer_len = (size_t)seglen;
    if (x.peer_len < x.buf_len) {
        pt_error_set(e, PT_EXIT_SETUP, "the server's segment (%zu bytes) is smaller than the "
                     "largest size", x.peer_len);
        goto out;
    }
    pt_fill(x.src, x.buf_len, PT_SEED_CLIENT);
    if ((ti->flags & PT_TF_CLIENT_SEG) && (pt_rsm_export(&x, x.buf_len, PT_SEED_CLIENT) != 0)) {
        goto out;
    }
    if (pt_rsm_connect(&x, (rsm_node_id_t)node, (rsm_memseg_id_t)segid) != 0) {
        goto out;
    }
    pt_msg_init(&m, "SETUP");
    pt_msg_set_u64(&m, "node", x.node);
    pt_msg_set_u64(&m, "segid", x.exported ? x.segid : 0);
    if ((pt_control_send(c, &m) != 0) || (pt_control_recv(c, &m, x.deadline) != 0) ||
        (strcmp(m.verb, "READY") != 0)) {
        pt_error_set(e, PT_EXIT_SETUP, "the server did not accept the set-up: %s",
                     (strcmp(m.verb, "ERROR") == 0) ? pt_msg_get(&m, "msg") : "(connection lost)");
        goto out;
    }
    if (o->test == PT_TEST_RSM_MAP_BW) {
        ret = rsm_memseg_import_map(x.imp, &x.map, RSM_MAP_NONE, RSM_PERM_RDWR, 0, x.peer_len);
        if (ret != RSM_SUCCESS) {
            x.map = NULL;
            pt_rsm_fail(&x, "rsm_memseg_import_map", ret);
            ret = -1;
            goto out_error;
        }
    }
    if (pt_rsm_precheck(&x) != 0) {       /* in implicit mode: each transfer synchronous */
        ret = -1;
        goto out_error;
    }
    if ((o->test == PT_TEST_RSM_PUT_BW) || (o->test == PT_TEST_RSM_GET_BW) ||
        (o->test == PT_TEST_RSM_PUTV_BW)) {
        if (((ret = rsm_memseg_import_set_mode(x.imp, RSM_BARRIER_MODE_EXPLICIT)) != RSM_SUCCESS) ||
            ((ret = rsm_memseg_import_init_barrier(x.imp, RSM_BARRIER_SEGMENT, &x.bar)) !=
             RSM_SUCCESS)) {
            pt_rsm_fail(&x, "explicit barrier set-up", ret);
            ret = -1;
            goto out_error;
        }
        x.bar_init = 1;
    }
    ret = -1;
    for (phase = 0; phase < o->nsizes; ++phase) {
        if (pt_rsm_client_phase(&x, phase, rep) != 0) {
            goto out;              /* the server has been told */
        }
    }
    pt_msg_init(&m, "BYE");
    pt_control_send(c, &m);
    ret = 0;
    goto out;
out_error:
    pt_control_send_error(c, e->text);
out:
    pt_rsm_close(&x);
    return ret;
}
