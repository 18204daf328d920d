/*
 * rsm_bench - RSMAPI micro-benchmark: one program, two roles.
 *
 *   rsm_bench -x [-s SEGBYTES] [-i SEGID] [-t SEC]
 *       exporter: exports SEGBYTES (default 4 MiB) of page-aligned memory on
 *       controller "ucx0", publishes it under SEGID (default 0x400100), prints
 *       "READY <segid>" and waits for end of file on stdin, SIGINT, SIGTERM
 *       or SIGHUP, at most SEC seconds (default 300), then destroys it.
 *
 *   rsm_bench -m TEST [-s BYTES] [-n ITERS] [-w WARMUP] [-i SEGID] [-N NODE]
 *             [-e] [-t SEC]
 *       importer: connects to SEGID of NODE (default: this node) with read and
 *       write rights, checks once that data really moves, then runs TEST:
 *         put_lat   one synchronous rsm_memseg_import_put of BYTES (implicit
 *                   barrier mode: the put is flushed to the exporter's memory
 *                   before the call returns); average, median, p99 in us
 *         get_lat   the same with rsm_memseg_import_get
 *         put_bw    back-to-back puts of BYTES: MiB/s and ops/s
 *         get_bw    back-to-back gets of BYTES
 *         map_bw    rsm_memseg_import_map once, then memcpy of BYTES into the
 *                   mapping; the same loop into a private buffer gives the
 *                   local memcpy baseline and the "vs memcpy" ratio
 *         putv_bw   rsm_memseg_import_putv with 16 entries of BYTES/16
 *       -e runs the bandwidth tests (put_bw, get_bw, putv_bw) in explicit
 *       barrier mode instead: one barrier opened before the timed loop and
 *       closed (which flushes) inside it, after the last transfer.
 *       The segment must be at least BYTES long (rounded up to a page for map).
 *
 * Output of the importer, one line per test, then a line for humans:
 *   RESULT test=<t> size=<s> iters=<n> lat_avg_us=<x> lat_p50_us=<x>
 *          lat_p99_us=<x> bw_MBps=<x> ops_per_s=<x>
 * (on one line). MB = 2^20 bytes, as ucx_perftest counts. Latency tests stamp
 * CLOCK_MONOTONIC once per operation, so lat_avg_us includes one clock read
 * (its cost is printed on the human line); bandwidth tests time the whole loop
 * and print lat_avg_us = time per operation and lat_p50_us = lat_p99_us = nan.
 * map_bw adds memcpy_MBps=<x> vs_memcpy=<ratio>; -e adds mode=explicit.
 *
 * Both processes must be in the same domain (UCX_CPG_DOMAIN). See
 * contrib/bench/rsm_compare.sh for the comparison with ucx_perftest.
 *
 * Exit status: 0 success, 1 RSM error, data error or timeout, 2 usage,
 * 3 initialisation failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <math.h>     /* NAN, isnan (macros: no -lm needed) */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rsmapi.h"

enum { BENCH_EXIT_OK = 0, BENCH_EXIT_FAIL = 1, BENCH_EXIT_USAGE = 2, BENCH_EXIT_INIT = 3 };

#define BENCH_DEFAULT_SEGID    0x400100u
#define BENCH_DEFAULT_SEGSIZE  (4u << 20)
#define BENCH_MAX_SIZE         (1ul << 30)
#define BENCH_MAX_LAT_ITERS    100000000ul   /* one 8-byte sample per iteration */
#define BENCH_MAX_ITERS        1000000000ul
#define BENCH_PUTV_ENTRIES     16u
#define BENCH_MIB              (1024.0 * 1024.0)

typedef enum {
    TEST_PUT_LAT, TEST_GET_LAT, TEST_PUT_BW, TEST_GET_BW, TEST_MAP_BW, TEST_PUTV_BW,
    TEST_COUNT
} bench_test_t;

static const char *const bench_test_names[TEST_COUNT] = {
    "put_lat", "get_lat", "put_bw", "get_bw", "map_bw", "putv_bw"
};

typedef struct bench_opts {
    int             exporter;      /* -x */
    int             test;          /* -m, -1 = none */
    size_t          size;          /* -s: transfer size (importer), segment size (exporter) */
    int             size_given;
    unsigned long   iters;         /* -n */
    unsigned long   warmup;        /* -w */
    rsm_memseg_id_t segid;         /* -i */
    rsm_node_id_t   node;          /* -N */
    int             node_given;
    int             explicit_mode; /* -e */
    unsigned        timeout_s;     /* -t */
} bench_opts_t;

/* Set by SIGINT/SIGTERM/SIGHUP in the exporter. */
static volatile sig_atomic_t bench_stop;

static void bench_usage(FILE *stream)
{
    fprintf(stream,
            "usage: rsm_bench -x [-s SEGBYTES] [-i SEGID] [-t SEC]\n"
            "       rsm_bench -m TEST [-s BYTES] [-n ITERS] [-w WARMUP] [-i SEGID] [-N NODE]\n"
            "                 [-e] [-t SEC]\n"
            "  -x          exporter: publish SEGBYTES (default %u), print READY <segid>, wait\n"
            "              for EOF on stdin or a signal\n"
            "  -m TEST     importer: put_lat get_lat put_bw get_bw map_bw putv_bw\n"
            "  -s BYTES    transfer size (importer, default 8; putv_bw: a multiple of 16)\n"
            "  -n ITERS    timed operations (default 10000; latency tests at most %lu)\n"
            "  -w WARMUP   untimed operations first (default ITERS/10)\n"
            "  -i SEGID    segment id (default %#x)\n"
            "  -N NODE     exporter's node id (importer; default this node)\n"
            "  -e          explicit barrier mode for put_bw, get_bw, putv_bw\n"
            "  -t SEC      give up after SEC seconds (default 300)\n"
            "  -h          this help\n"
            "Numbers are decimal or 0x hex. Both sides need the same UCX_CPG_DOMAIN.\n",
            BENCH_DEFAULT_SEGSIZE, BENCH_MAX_LAT_ITERS, BENCH_DEFAULT_SEGID);
}

/* Unsigned number, decimal or 0x hex, digits only, in [min, max]. */
static int bench_parse_num(const char *text, unsigned long long min, unsigned long long max,
                           unsigned long long *value_p)
{
    unsigned long long v;
    char *end;

    if ((text == NULL) || (text[0] < '0') || (text[0] > '9')) {
        return -1;
    }
    errno = 0;
    v = strtoull(text, &end, 0);
    if ((errno != 0) || (end == text) || (*end != '\0') || (v < min) || (v > max)) {
        return -1;
    }
    *value_p = v;
    return 0;
}

static int bench_parse_test(const char *name)
{
    int t;

    for (t = 0; t < TEST_COUNT; ++t) {
        if (strcmp(name, bench_test_names[t]) == 0) {
            return t;
        }
    }
    return -1;
}

/* 0 ok, 1 help printed, -1 bad usage (message printed). */
static int bench_parse(int argc, char **argv, bench_opts_t *o)
{
    unsigned long long v;
    int c, warmup_given = 0, iters_given = 0;
    const char *bad = NULL;

    memset(o, 0, sizeof(*o));
    o->test      = -1;
    o->size      = 8;
    o->iters     = 10000;
    o->segid     = BENCH_DEFAULT_SEGID;
    o->timeout_s = 300;
    opterr = 0;
    while ((bad == NULL) && ((c = getopt(argc, argv, "xm:s:n:w:i:N:et:h")) != -1)) {
        switch (c) {
        case 'x': o->exporter = 1; break;
        case 'e': o->explicit_mode = 1; break;
        case 'h': bench_usage(stdout); return 1;
        case 'm':
            if ((o->test = bench_parse_test(optarg)) < 0) {
                bad = "unknown test";
            }
            break;
        case 's':
            if (bench_parse_num(optarg, 1, BENCH_MAX_SIZE, &v) != 0) {
                bad = "bad -s (1 .. 2^30 bytes)";
            }
            o->size       = (size_t)v;
            o->size_given = 1;
            break;
        case 'n':
            if (bench_parse_num(optarg, 1, BENCH_MAX_ITERS, &v) != 0) {
                bad = "bad -n (1 .. 10^9)";
            }
            o->iters    = (unsigned long)v;
            iters_given = 1;
            break;
        case 'w':
            if (bench_parse_num(optarg, 0, BENCH_MAX_ITERS, &v) != 0) {
                bad = "bad -w (0 .. 10^9)";
            }
            o->warmup    = (unsigned long)v;
            warmup_given = 1;
            break;
        case 'i':
            if (bench_parse_num(optarg, 0, UINT32_MAX, &v) != 0) {
                bad = "bad -i (a 32-bit segment id)";
            }
            o->segid = (rsm_memseg_id_t)v;
            break;
        case 'N':
            if (bench_parse_num(optarg, 1, INT32_MAX, &v) != 0) {
                bad = "bad -N (a node id, 1 .. 2^31-1)";
            }
            o->node       = (rsm_node_id_t)v;
            o->node_given = 1;
            break;
        case 't':
            if (bench_parse_num(optarg, 1, 86400, &v) != 0) {
                bad = "bad -t (1 .. 86400 seconds)";
            }
            o->timeout_s = (unsigned)v;
            break;
        default:
            bad = "unknown option or missing argument";
            break;
        }
    }
    if ((bad == NULL) && (optind != argc)) {
        bad = "unexpected argument";
    } else if ((bad == NULL) && (o->exporter == (o->test >= 0))) {
        bad = "give exactly one of -x and -m TEST";
    } else if ((bad == NULL) && o->exporter &&
               (o->explicit_mode || o->node_given || iters_given || warmup_given)) {
        bad = "-e, -N, -n and -w are importer options";
    } else if ((bad == NULL) && !o->exporter) {
        if (((o->test == TEST_PUT_LAT) || (o->test == TEST_GET_LAT)) &&
            (o->iters > BENCH_MAX_LAT_ITERS)) {
            bad = "latency tests take at most 10^8 iterations";
        } else if ((o->test == TEST_PUTV_BW) &&
                   ((o->size < BENCH_PUTV_ENTRIES) || ((o->size % BENCH_PUTV_ENTRIES) != 0))) {
            bad = "putv_bw needs -s a multiple of 16";
        } else if (o->explicit_mode && (o->test != TEST_PUT_BW) && (o->test != TEST_GET_BW) &&
                   (o->test != TEST_PUTV_BW)) {
            bad = "-e applies to put_bw, get_bw and putv_bw only";
        }
    }
    if (bad != NULL) {
        fprintf(stderr, "rsm_bench: %s\n", bad);
        bench_usage(stderr);
        return -1;
    }
    if (o->exporter && !o->size_given) {
        o->size = BENCH_DEFAULT_SEGSIZE;
    }
    if (!warmup_given) {
        o->warmup = o->iters / 10;
    }
    return 0;
}

static uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t bench_page_round(size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    return (len + page - 1) / page * page;
}

/* Page-aligned private memory, touched so that no page fault is timed. */
static void *bench_alloc(size_t len)
{
    void *p = mmap(NULL, bench_page_round(len), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        return NULL;
    }
    memset(p, 0, bench_page_round(len));
    return p;
}

static void bench_free(void *p, size_t len)
{
    if (p != NULL) {
        munmap(p, bench_page_round(len));
    }
}

static uint8_t bench_pattern(size_t i, unsigned seed)
{
    return (uint8_t)(i * 7u + (i >> 12) + seed);
}

static void bench_fill(uint8_t *p, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; ++i) {
        p[i] = bench_pattern(i, seed);
    }
}

/* --- exporter --------------------------------------------------------------- */

static void bench_on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

/* Waits for EOF on stdin, a signal or the deadline; 0 = EOF or signal. */
static int bench_export_wait(const sigset_t *unblocked, unsigned timeout_s)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_s * 1000000000ull;
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    char buf[256];

    while (!bench_stop) {
        uint64_t now = bench_now_ns();
        struct timespec left;
        ssize_t n;
        int ret;

        if (now >= deadline) {
            fprintf(stderr, "rsm_bench: exporter: %u s elapsed, giving up\n", timeout_s);
            return -1;
        }
        left.tv_sec  = (time_t)((deadline - now) / 1000000000ull);
        left.tv_nsec = (long)((deadline - now) % 1000000000ull);
        ret = ppoll(&pfd, 1, &left, unblocked);
        if ((ret < 0) && (errno != EINTR)) {
            return 0;                   /* stdin unusable: treat as end of input */
        }
        if ((ret > 0) && (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
            if (pfd.revents & POLLNVAL) {
                return 0;
            }
            n = read(STDIN_FILENO, buf, sizeof(buf));
            if ((n == 0) || ((n < 0) && (errno != EINTR) && (errno != EAGAIN))) {
                return 0;               /* end of file */
            }
        }
    }
    return 0;
}

static int bench_exporter(const bench_opts_t *o)
{
    rsmapi_controller_handle_t ctlr;
    rsm_memseg_export_handle_t seg;
    rsm_memseg_id_t segid = o->segid;
    size_t len = bench_page_round(o->size);
    sigset_t block, unblocked;
    struct sigaction sa;
    uint8_t *mem;
    int ret, rc = BENCH_EXIT_OK;

    /* The signals stay blocked in every thread (the library's threads inherit
     * the mask) and are taken only inside ppoll, so they always end the wait. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &unblocked);
    sigdelset(&unblocked, SIGINT);
    sigdelset(&unblocked, SIGTERM);
    sigdelset(&unblocked, SIGHUP);

    mem = bench_alloc(len);
    if (mem == NULL) {
        fprintf(stderr, "rsm_bench: cannot allocate %zu bytes\n", len);
        return BENCH_EXIT_INIT;
    }
    bench_fill(mem, len, 1);
    ret = rsm_get_controller("ucx0", &ctlr);
    if (ret != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: rsm_get_controller(ucx0) = %d\n", ret);
        bench_free(mem, len);
        return BENCH_EXIT_INIT;
    }
    ret = rsm_memseg_export_create(ctlr, &seg, mem, len, 0);
    if (ret != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: rsm_memseg_export_create(%zu bytes) = %d\n", len, ret);
        rsm_release_controller(ctlr);
        bench_free(mem, len);
        return BENCH_EXIT_INIT;
    }
    ret = rsm_memseg_export_publish(seg, &segid, NULL, 0);
    if (ret != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: rsm_memseg_export_publish(%#x) = %d\n", o->segid, ret);
        rc = BENCH_EXIT_INIT;
    } else {
        printf("READY %#x\n", segid);
        fflush(stdout);
        if (bench_export_wait(&unblocked, o->timeout_s) != 0) {
            rc = BENCH_EXIT_FAIL;
        }
    }
    ret = rsm_memseg_export_destroy(seg);
    if (ret != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: rsm_memseg_export_destroy = %d\n", ret);
        rc = (rc == BENCH_EXIT_OK) ? BENCH_EXIT_FAIL : rc;
    }
    rsm_release_controller(ctlr);
    bench_free(mem, len);
    return rc;
}

/* --- importer --------------------------------------------------------------- */

typedef struct bench_ctx {
    const bench_opts_t        *o;
    rsm_memseg_import_handle_t im;
    rsmapi_barrier_t           bar;
    uint8_t                   *src;     /* BYTES of local data */
    uint8_t                   *dst;     /* BYTES: get target / memcpy baseline */
    void                      *map;     /* map_bw: the mapping */
    size_t                     map_len;
    rsm_iovec_t                iov[BENCH_PUTV_ENTRIES];
    rsm_scat_gath_t            sg;
    int                        err;     /* first RSM error of the timed loop */
    const char                *err_call;
} bench_ctx_t;

static void bench_on_alarm(int sig)
{
    static const char msg[] = "rsm_bench: time limit reached, exiting\n";

    (void)sig;
    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    _exit(BENCH_EXIT_FAIL);
}

/* One operation of the test (not map_bw, whose loop is a plain memcpy). */
static int bench_op(bench_ctx_t *c)
{
    switch (c->o->test) {
    case TEST_PUT_LAT:
    case TEST_PUT_BW:
        return rsm_memseg_import_put(c->im, 0, c->src, c->o->size);
    case TEST_GET_LAT:
    case TEST_GET_BW:
        return rsm_memseg_import_get(c->im, 0, c->dst, c->o->size);
    case TEST_PUTV_BW:
        c->sg.io_residual_count = 0;
        return rsm_memseg_import_putv(&c->sg);
    }
    return RSMERR_BAD_ARGS_ERRORS;
}

static const char *bench_op_name(int test)
{
    switch (test) {
    case TEST_PUT_LAT: case TEST_PUT_BW: return "rsm_memseg_import_put";
    case TEST_GET_LAT: case TEST_GET_BW: return "rsm_memseg_import_get";
    case TEST_PUTV_BW:                   return "rsm_memseg_import_putv";
    }
    return "?";
}

/* n operations; stops at the first error (kept in c->err). */
static int bench_ops(bench_ctx_t *c, unsigned long n)
{
    unsigned long i;
    int ret;

    for (i = 0; i < n; ++i) {
        ret = bench_op(c);
        if (ret != RSM_SUCCESS) {
            c->err      = ret;
            c->err_call = bench_op_name(c->o->test);
            return -1;
        }
    }
    return 0;
}

/* Kept out of line and with a compiler barrier per copy, so that the copies
 * are neither merged nor dropped; the same code for the mapping and the
 * private buffer. */
__attribute__((noinline)) static void bench_copy_loop(void *dst, const void *src, size_t len,
                                                     unsigned long n)
{
    unsigned long i;

    for (i = 0; i < n; ++i) {
        memcpy(dst, src, len);
        __asm__ __volatile__("" : : "r"(dst) : "memory");
    }
}

/* Data really moves: a put followed by a get (or a look through the mapping)
 * returns the pattern, and for map_bw a store through the mapping is seen by
 * a get. 0 ok. */
static int bench_check(bench_ctx_t *c, unsigned seed)
{
    size_t len = c->o->size;
    int ret;

    bench_fill(c->src, len, seed);
    memset(c->dst, 0, len);
    c->err_call = (c->o->test == TEST_PUTV_BW) ? "rsm_memseg_import_putv"
                                               : "rsm_memseg_import_put";
    ret = (c->o->test == TEST_PUTV_BW) ? rsm_memseg_import_putv(&c->sg)
                                       : rsm_memseg_import_put(c->im, 0, c->src, len);
    if (ret == RSM_SUCCESS) {
        c->err_call = "rsm_memseg_import_get";
        ret = rsm_memseg_import_get(c->im, 0, c->dst, len);
    }
    if (ret != RSM_SUCCESS) {
        c->err = ret;
        return -1;
    }
    if (memcmp(c->src, c->dst, len) != 0) {
        fprintf(stderr, "rsm_bench: data check failed: get did not return what put wrote\n");
        return -1;
    }
    if (c->map != NULL) {
        if (memcmp(c->map, c->src, len) != 0) {
            fprintf(stderr, "rsm_bench: data check failed: the mapping does not show the put\n");
            return -1;
        }
        bench_fill(c->src, len, seed + 1);
        memcpy(c->map, c->src, len);
        c->err_call = "rsm_memseg_import_get";
        if ((ret = rsm_memseg_import_get(c->im, 0, c->dst, len)) != RSM_SUCCESS) {
            c->err = ret;
            return -1;
        }
        if (memcmp(c->src, c->dst, len) != 0) {
            fprintf(stderr, "rsm_bench: data check failed: a store through the mapping "
                            "is not seen by get\n");
            return -1;
        }
    }
    c->err_call = NULL;
    return 0;
}

static int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t bench_percentile(const uint64_t *sorted, unsigned long n, unsigned p)
{
    unsigned long rank = (unsigned long)(((unsigned long long)p * n + 99u) / 100u);  /* ceil */

    return sorted[(rank == 0) ? 0 : rank - 1];
}

/* Cost of one clock read, for the human line (latency samples include one). */
static double bench_clock_cost_ns(void)
{
    uint64_t t0 = bench_now_ns(), t1 = t0;
    unsigned i;

    for (i = 0; i < 100000; ++i) {
        t1 = bench_now_ns();
    }
    return (double)(t1 - t0) / 100000.0;
}

static void bench_report(const bench_opts_t *o, double avg_us, double p50_us, double p99_us,
                         const char *extra, const char *extra_human)
{
    double ops = (avg_us > 0.0) ? 1e6 / avg_us : 0.0;
    double mbps = ops * (double)o->size / BENCH_MIB;
    const char *name = bench_test_names[o->test];

    printf("RESULT test=%s size=%zu iters=%lu lat_avg_us=%.4f lat_p50_us=%.4f lat_p99_us=%.4f "
           "bw_MBps=%.2f ops_per_s=%.0f%s\n",
           name, o->size, o->iters, avg_us, p50_us, p99_us, mbps, ops, extra);
    if (!isnan(p50_us)) {
        printf("%s %zu B x %lu: avg %.3f us, median %.3f us, p99 %.3f us; %.2f MiB/s, "
               "%.0f ops/s%s\n", name, o->size, o->iters, avg_us, p50_us, p99_us, mbps, ops,
               extra_human);
    } else {
        printf("%s %zu B x %lu: %.2f MiB/s, %.0f ops/s, %.4f us per op%s\n", name, o->size,
               o->iters, mbps, ops, avg_us, extra_human);
    }
}

static int bench_run_lat(bench_ctx_t *c)
{
    unsigned long n = c->o->iters, i;
    uint64_t *t = malloc((n + 1) * sizeof(*t));
    double avg_us, clock_ns;
    char human[96];

    if (t == NULL) {
        fprintf(stderr, "rsm_bench: no memory for %lu samples\n", n);
        return BENCH_EXIT_INIT;
    }
    if (bench_ops(c, c->o->warmup) != 0) {
        free(t);
        return BENCH_EXIT_FAIL;
    }
    /* One clock read per operation: sample i = t[i+1] - t[i]. */
    t[0] = bench_now_ns();
    for (i = 0; i < n; ++i) {
        int ret = bench_op(c);

        t[i + 1] = bench_now_ns();
        if (ret != RSM_SUCCESS) {
            c->err      = ret;
            c->err_call = bench_op_name(c->o->test);
            free(t);
            return BENCH_EXIT_FAIL;
        }
    }
    avg_us = (double)(t[n] - t[0]) / 1000.0 / (double)n;
    for (i = 0; i < n; ++i) {
        t[i] = t[i + 1] - t[i];
    }
    qsort(t, n, sizeof(*t), bench_cmp_u64);
    clock_ns = bench_clock_cost_ns();
    snprintf(human, sizeof(human), " (each includes one clock read, %.0f ns)", clock_ns);
    bench_report(c->o, avg_us, (double)bench_percentile(t, n, 50) / 1000.0,
                 (double)bench_percentile(t, n, 99) / 1000.0, "", human);
    free(t);
    return BENCH_EXIT_OK;
}

static int bench_run_bw(bench_ctx_t *c)
{
    int explicit_mode = c->o->explicit_mode, ret = RSM_SUCCESS;
    uint64_t t0, t1;

    /* In explicit mode the warm-up is a span of its own, flushed before t0. */
    if ((explicit_mode && ((ret = rsm_memseg_import_open_barrier(&c->bar)) != RSM_SUCCESS)) ||
        (bench_ops(c, c->o->warmup) != 0) ||
        (explicit_mode && ((ret = rsm_memseg_import_close_barrier(&c->bar)) != RSM_SUCCESS))) {
        if (c->err == RSM_SUCCESS) {
            c->err      = ret;
            c->err_call = "warm-up barrier";
        }
        return BENCH_EXIT_FAIL;
    }
    if (explicit_mode && ((ret = rsm_memseg_import_open_barrier(&c->bar)) != RSM_SUCCESS)) {
        c->err      = ret;
        c->err_call = "rsm_memseg_import_open_barrier";
        return BENCH_EXIT_FAIL;
    }
    t0 = bench_now_ns();
    if (bench_ops(c, c->o->iters) != 0) {
        return BENCH_EXIT_FAIL;
    }
    if (explicit_mode && ((ret = rsm_memseg_import_close_barrier(&c->bar)) != RSM_SUCCESS)) {
        c->err      = ret;
        c->err_call = "rsm_memseg_import_close_barrier";
        return BENCH_EXIT_FAIL;
    }
    t1 = bench_now_ns();
    bench_report(c->o, (double)(t1 - t0) / 1000.0 / (double)c->o->iters, NAN, NAN,
                 explicit_mode ? " mode=explicit" : "",
                 explicit_mode ? " (explicit barrier mode)" : "");
    return BENCH_EXIT_OK;
}

static int bench_run_map(bench_ctx_t *c)
{
    const bench_opts_t *o = c->o;
    double map_us, cpy_us, cpy_mbps;
    char extra[96], human[128];
    uint64_t t0, t1;

    bench_copy_loop(c->map, c->src, o->size, o->warmup);
    t0 = bench_now_ns();
    bench_copy_loop(c->map, c->src, o->size, o->iters);
    t1 = bench_now_ns();
    map_us = (double)(t1 - t0) / 1000.0 / (double)o->iters;

    bench_copy_loop(c->dst, c->src, o->size, o->warmup);
    t0 = bench_now_ns();
    bench_copy_loop(c->dst, c->src, o->size, o->iters);
    t1 = bench_now_ns();
    cpy_us   = (double)(t1 - t0) / 1000.0 / (double)o->iters;
    cpy_mbps = (double)o->size / BENCH_MIB / (cpy_us / 1e6);

    /* The last copy reached the exporter's memory. */
    if ((rsm_memseg_import_get(c->im, 0, c->dst, o->size) != RSM_SUCCESS) ||
        (memcmp(c->dst, c->src, o->size) != 0)) {
        fprintf(stderr, "rsm_bench: data check after map_bw failed\n");
        return BENCH_EXIT_FAIL;
    }
    snprintf(extra, sizeof(extra), " memcpy_MBps=%.2f vs_memcpy=%.3f", cpy_mbps,
             cpy_us / map_us);
    snprintf(human, sizeof(human), "; local memcpy %.2f MiB/s, %.4f us per copy: %.3fx memcpy",
             cpy_mbps, cpy_us, cpy_us / map_us);
    bench_report(o, map_us, NAN, NAN, extra, human);
    return BENCH_EXIT_OK;
}

static int bench_importer(const bench_opts_t *o)
{
    rsmapi_controller_handle_t ctlr;
    rsm_topology_t *topo;
    rsm_node_id_t node = o->node;
    struct sigaction sa;
    bench_ctx_t c;
    unsigned k;
    int ret, rc;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(o->timeout_s);

    memset(&c, 0, sizeof(c));
    c.o   = o;
    c.src = bench_alloc(o->size);
    c.dst = bench_alloc(o->size);
    if ((c.src == NULL) || (c.dst == NULL)) {
        fprintf(stderr, "rsm_bench: cannot allocate 2 x %zu bytes\n", o->size);
        return BENCH_EXIT_INIT;
    }
    ret = rsm_get_controller("ucx0", &ctlr);
    if (ret != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: rsm_get_controller(ucx0) = %d\n", ret);
        return BENCH_EXIT_INIT;
    }
    if (!o->node_given) {
        if ((ret = rsm_get_interconnect_topology(&topo)) != RSM_SUCCESS) {
            fprintf(stderr, "rsm_bench: rsm_get_interconnect_topology = %d\n", ret);
            rsm_release_controller(ctlr);
            return BENCH_EXIT_INIT;
        }
        node = topo->topology_hdr.local_nodeid;
        rsm_free_interconnect_topology(topo);
    }
    ret = rsm_memseg_import_connect(ctlr, node, o->segid, RSM_PERM_RDWR, &c.im);
    if (ret != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: rsm_memseg_import_connect(node %u, segment %#x) = %d "
                        "(is the exporter running, in the same UCX_CPG_DOMAIN?)\n",
                node, o->segid, ret);
        rsm_release_controller(ctlr);
        return BENCH_EXIT_INIT;
    }
    for (k = 0; k < BENCH_PUTV_ENTRIES; ++k) {
        c.iov[k].io_type         = RSM_VA_TYPE;
        c.iov[k].local.vaddr     = (caddr_t)c.src;
        c.iov[k].local_offset    = k * (o->size / BENCH_PUTV_ENTRIES);
        c.iov[k].remote_offset   = k * (o->size / BENCH_PUTV_ENTRIES);
        c.iov[k].transfer_length = o->size / BENCH_PUTV_ENTRIES;
    }
    c.sg.local_nodeid     = node;
    c.sg.io_request_count = BENCH_PUTV_ENTRIES;
    c.sg.remote_handle    = c.im;
    c.sg.iovec            = c.iov;

    rc = BENCH_EXIT_OK;
    if (o->test == TEST_MAP_BW) {
        c.map_len = bench_page_round(o->size);
        ret = rsm_memseg_import_map(c.im, &c.map, RSM_MAP_NONE, RSM_PERM_RDWR, 0, c.map_len);
        if (ret != RSM_SUCCESS) {
            c.err      = ret;
            c.err_call = "rsm_memseg_import_map";
            c.map      = NULL;
            rc         = BENCH_EXIT_FAIL;
        }
    }
    if ((rc == BENCH_EXIT_OK) && (bench_check(&c, 3) != 0)) {
        rc = BENCH_EXIT_FAIL;
    }
    if ((rc == BENCH_EXIT_OK) && o->explicit_mode) {
        if (((ret = rsm_memseg_import_set_mode(c.im, RSM_BARRIER_MODE_EXPLICIT)) != RSM_SUCCESS) ||
            ((ret = rsm_memseg_import_init_barrier(c.im, RSM_BARRIER_SEGMENT, &c.bar)) !=
             RSM_SUCCESS)) {
            c.err      = ret;
            c.err_call = "explicit barrier set-up";
            rc         = BENCH_EXIT_FAIL;
        }
    }
    if (rc == BENCH_EXIT_OK) {
        switch (o->test) {
        case TEST_PUT_LAT:
        case TEST_GET_LAT:
            rc = bench_run_lat(&c);
            break;
        case TEST_MAP_BW:
            rc = bench_run_map(&c);
            break;
        default:
            rc = bench_run_bw(&c);
            break;
        }
    }
    if (c.err != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: %s = %d\n", c.err_call ? c.err_call : "?", c.err);
    }
    if (o->explicit_mode && (c.bar.privdata != NULL)) {
        rsm_memseg_import_destroy_barrier(&c.bar);
    }
    if (c.map != NULL) {
        rsm_memseg_import_unmap(c.im);
    }
    if ((ret = rsm_memseg_import_disconnect(c.im)) != RSM_SUCCESS) {
        fprintf(stderr, "rsm_bench: rsm_memseg_import_disconnect = %d\n", ret);
        rc = (rc == BENCH_EXIT_OK) ? BENCH_EXIT_FAIL : rc;
    }
    rsm_release_controller(ctlr);
    bench_free(c.src, o->size);
    bench_free(c.dst, o->size);
    fflush(stdout);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    int ret = bench_parse(argc, argv, &o);

    if (ret != 0) {
        return (ret > 0) ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
    }
    return o.exporter ? bench_exporter(&o) : bench_importer(&o);
}
