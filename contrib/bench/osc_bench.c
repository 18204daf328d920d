/*
 * osc_bench - MPI one-sided (osc) micro-benchmark: put/get latency and
 * bandwidth, accumulate / fetch_and_op / compare_and_swap latency, for
 * comparing Open MPI osc components (osc/rsm against osc/ucx, osc/rdma).
 *
 *   mpirun -np 2 [--mca osc rsm|ucx|rdma ...] osc_bench [-s SIZES] [-n ITERS]
 *          [-w WARMUP] [-t TESTS] [-e COMPONENT]
 *
 *   -s SIZES   comma-separated transfer sizes for the put/get tests, in bytes
 *              with an optional K or M suffix (2^10, 2^20);
 *              default 8,4K,64K,1M
 *   -n ITERS   timed operations per measurement, at least 10 (default by size:
 *              8 B and the atomics 100000, up to 4 KiB 50000, up to 64 KiB
 *              10000, above 1000)
 *   -w WARMUP  untimed operations before each measurement (default ITERS/10)
 *   -t TESTS   comma-separated list of put_lat, get_lat, put_bw, get_bw,
 *              acc_lat, fop_lat, cas_lat, or "all" (default all)
 *   -e COMP    fail unless the window is served by osc component COMP (its
 *              MPI_Win_get_name starts with "COMP window")
 *
 * Exactly 2 ranks: rank 0 is the origin, rank 1 the target, which only waits
 * in MPI_Barrier while rank 0 measures. One MPI_Win_allocate window holds the
 * largest size plus a 64-byte atomics area. Every measurement is one passive
 * target epoch of rank 0 (MPI_Win_lock_all ... MPI_Win_unlock_all):
 *
 *   put_lat  MPI_Put of SIZE bytes (MPI_BYTE) + MPI_Win_flush, per operation
 *   get_lat  MPI_Get + MPI_Win_flush
 *   put_bw   MPI_Put of SIZE bytes to the same target offset back to back, in
 *            10 timed blocks of ITERS/10 operations, each block closed by one
 *            MPI_Win_flush
 *   get_bw   the same with MPI_Get
 *   acc_lat  MPI_Accumulate of one MPI_INT64_T with MPI_SUM + MPI_Win_flush
 *   fop_lat  MPI_Fetch_and_op, one MPI_INT64_T, MPI_SUM + MPI_Win_flush
 *   cas_lat  MPI_Compare_and_swap of one MPI_INT64_T + MPI_Win_flush
 *
 * Latency tests read CLOCK_MONOTONIC around every operation and report the
 * average, median and 99th percentile (nearest rank) in microseconds;
 * bandwidth tests report MiB/s (2^20 B/s): bw_MiBps is the median of the 10
 * blocks (a block that lost the CPU to another process does not drag it
 * down), bw_all_MiBps the whole loop, lat_avg_us the whole loop's time per
 * operation. Output of rank 0, one line per measurement (then a line for
 * humans):
 *
 *   RESULT test=<t> osc=<comp> size=<bytes> iters=<n> lat_avg_us=<x>
 *          lat_p50_us=<x> lat_p99_us=<x> bw_MiBps=<x> bw_all_MiBps=<x>
 *          ops_per_s=<x>
 *
 * (on one line; nan where not measured: no median/p99 for the bandwidth
 * tests; for the latency tests bw_MiBps = bw_all_MiBps = SIZE / average). Before that it prints
 * "WINDOW name=<MPI_Win_get_name> osc=<comp>" and "BIND rank=<r> cpus=<list>" for each rank.
 *
 * Correctness: for every size, before the timing, rank 0 puts a pattern,
 * flushes, gets it back and compares, and rank 1 checks its own window memory;
 * after each atomic test the target counter must hold exactly what the
 * operations added (and every fetch_and_op must have returned the previous
 * value). Any mismatch prints "FAIL ..." and aborts the job with status 1.
 *
 * Build: mpicc -O2 -o osc_bench osc_bench.c. See contrib/bench/osc_compare.sh.
 */
#define _GNU_SOURCE
#include <mpi.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZES 32
#define MIB (1024.0 * 1024.0)
#define ATOM_AREA 64
#define BW_BLOCKS 10 /* bandwidth: timed blocks of ITERS/10 operations */

enum { T_PUT_LAT, T_GET_LAT, T_PUT_BW, T_GET_BW, T_ACC_LAT, T_FOP_LAT, T_CAS_LAT, T_COUNT };

static const char *const test_names[T_COUNT] = {"put_lat", "get_lat", "put_bw", "get_bw",
                                                "acc_lat", "fop_lat", "cas_lat"};

static int me;
static char osc_name[64] = "?";

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL rank %d: ", me);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* An MPI call that must succeed (the window uses MPI_ERRORS_RETURN). */
#define MPI_OK(call)                                                                               \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != MPI_SUCCESS) {                                                                  \
            char s_[MPI_MAX_ERROR_STRING];                                                         \
            int l_ = 0;                                                                            \
            MPI_Error_string(rc_, s_, &l_);                                                        \
            fail("%s:%d: %s: %s", __func__, __LINE__, #call, s_);                                  \
        }                                                                                          \
    } while (0)

static inline double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of n sorted samples. */
static double percentile(const double *sorted, long n, unsigned p)
{
    long rank = (long)(((long long)p * n + 99) / 100);

    return sorted[rank == 0 ? 0 : rank - 1];
}

static long default_iters(int test, size_t size)
{
    if (test >= T_ACC_LAT || size <= 8) {
        return 100000;
    }
    if (size <= 4096) {
        return 50000;
    }
    if (size <= 65536) {
        return 10000;
    }
    return 1000;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v     = strtoull(s, &end, 10);
    if (errno != 0 || end == s) {
        return -1;
    }
    if (*end == 'k' || *end == 'K') {
        v <<= 10;
        ++end;
    } else if (*end == 'm' || *end == 'M') {
        v <<= 20;
        ++end;
    }
    if (*end != '\0' || v == 0 || v > (1ull << 30)) {
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static void usage(void)
{
    if (me == 0) {
        fprintf(stderr, "usage: mpirun -np 2 osc_bench [-s SIZES] [-n ITERS] [-w WARMUP] "
                        "[-t TESTS] [-e COMPONENT]\n"
                        "  SIZES: comma list, K/M suffix (default 8,4K,64K,1M)\n"
                        "  TESTS: all or a comma list of put_lat,get_lat,put_bw,get_bw,"
                        "acc_lat,fop_lat,cas_lat\n");
    }
    MPI_Finalize();
    exit(2);
}

static void report(int test, size_t size, long n, double avg_us, double p50_us, double p99_us,
                   double bw, double bw_all)
{
    double ops = avg_us > 0.0 ? 1e6 / avg_us : 0.0;

    printf("RESULT test=%s osc=%s size=%zu iters=%ld lat_avg_us=%.4f lat_p50_us=%.4f "
           "lat_p99_us=%.4f bw_MiBps=%.2f bw_all_MiBps=%.2f ops_per_s=%.0f\n",
           test_names[test], osc_name, size, n, avg_us, p50_us, p99_us, bw, bw_all, ops);
    if (!isnan(p50_us)) {
        printf("%s osc/%s %zu B x %ld: avg %.3f us, median %.3f us, p99 %.3f us\n",
               test_names[test], osc_name, size, n, avg_us, p50_us, p99_us);
    } else {
        printf("%s osc/%s %zu B x %ld: %.1f MiB/s (median of %d blocks; %.1f MiB/s over all), "
               "%.3f us per op\n",
               test_names[test], osc_name, size, n, bw, BW_BLOCKS, bw_all, avg_us);
    }
    fflush(stdout);
}

/* --- correctness ------------------------------------------------------------------ */

static unsigned char pattern(size_t i, size_t size)
{
    return (unsigned char)(i * 131u + size * 7u + 1u);
}

/* Rank 0 puts a pattern of SIZE bytes, flushes, reads it back; rank 1 then
 * checks its window memory. Collective. */
static void check_data(MPI_Win win, unsigned char *base, unsigned char *src, unsigned char *dst,
                       size_t size)
{
    size_t i;

    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (me == 0) {
        for (i = 0; i < size; ++i) {
            src[i] = pattern(i, size);
        }
        memset(dst, 0, size);
        MPI_OK(MPI_Win_lock_all(0, win));
        MPI_OK(MPI_Put(src, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win));
        MPI_OK(MPI_Win_flush(1, win));
        MPI_OK(MPI_Get(dst, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win));
        MPI_OK(MPI_Win_flush(1, win));
        MPI_OK(MPI_Win_unlock_all(win));
        for (i = 0; i < size; ++i) {
            if (dst[i] != src[i]) {
                fail("data check %zu B: byte %zu read back 0x%02x, put 0x%02x", size, i, dst[i],
                     src[i]);
            }
        }
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (me == 1) {
        MPI_OK(MPI_Win_lock_all(0, win));
        MPI_OK(MPI_Win_sync(win));
        for (i = 0; i < size; ++i) {
            if (base[i] != pattern(i, size)) {
                fail("data check %zu B: target byte %zu is 0x%02x, expected 0x%02x", size, i,
                     base[i], pattern(i, size));
            }
        }
        MPI_OK(MPI_Win_unlock_all(win));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

/* --- the tests (rank 0) --------------------------------------------------------------- */

static void run_lat(int test, MPI_Win win, size_t size, long n, long w, unsigned char *src,
                    unsigned char *dst, double *samples)
{
    long i;
    double t0, sum = 0.0;

    MPI_OK(MPI_Win_lock_all(0, win));
    for (i = -w; i < n; ++i) {
        t0 = now_us();
        if (test == T_PUT_LAT) {
            MPI_OK(MPI_Put(src, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win));
        } else {
            MPI_OK(MPI_Get(dst, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win));
        }
        MPI_OK(MPI_Win_flush(1, win));
        if (i >= 0) {
            samples[i] = now_us() - t0;
        }
    }
    MPI_OK(MPI_Win_unlock_all(win));
    for (i = 0; i < n; ++i) {
        sum += samples[i];
    }
    qsort(samples, (size_t)n, sizeof(*samples), cmp_double);
    report(test, size, n, sum / (double)n, percentile(samples, n, 50), percentile(samples, n, 99),
           (double)size / (sum / (double)n) * 1e6 / MIB,
           (double)size / (sum / (double)n) * 1e6 / MIB);
}

static void bw_loop(int test, MPI_Win win, size_t size, long n, unsigned char *src,
                    unsigned char *dst)
{
    long i;

    for (i = 0; i < n; ++i) {
        if (test == T_PUT_BW) {
            MPI_OK(MPI_Put(src, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win));
        } else {
            MPI_OK(MPI_Get(dst, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win));
        }
    }
    MPI_OK(MPI_Win_flush(1, win));
}

static void run_bw(int test, MPI_Win win, size_t size, long n, long w, unsigned char *src,
                   unsigned char *dst)
{
    double blk[BW_BLOCKS], t0, t1, start, total;
    long per = n / BW_BLOCKS, b;

    MPI_OK(MPI_Win_lock_all(0, win));
    bw_loop(test, win, size, w, src, dst);
    start = t0 = now_us();
    for (b = 0; b < BW_BLOCKS; ++b) {
        bw_loop(test, win, size, per + (b < n % BW_BLOCKS ? 1 : 0), src, dst);
        t1     = now_us();
        blk[b] = (double)size * (double)(per + (b < n % BW_BLOCKS ? 1 : 0)) / (t1 - t0) * 1e6 / MIB;
        t0     = t1;
    }
    total = t0 - start;
    MPI_OK(MPI_Win_unlock_all(win));
    qsort(blk, BW_BLOCKS, sizeof(*blk), cmp_double);
    report(test, size, n, total / (double)n, NAN, NAN,
           (blk[BW_BLOCKS / 2 - 1] + blk[BW_BLOCKS / 2]) / 2.0,
           (double)size * (double)n / total * 1e6 / MIB);
}

/* The atomics work on one int64_t at displacement DISP of the target, which
 * the target zeroed before the test. */
static void run_atomic(int test, MPI_Win win, MPI_Aint disp, long n, long w, double *samples)
{
    const int64_t one = 1;
    int64_t expect = 0, got = -1, cmp, swap, final = -1;
    long i;
    double t0, sum = 0.0;

    MPI_OK(MPI_Win_lock_all(0, win));
    for (i = -w; i < n; ++i) {
        t0 = now_us();
        switch (test) {
        case T_ACC_LAT:
            MPI_OK(MPI_Accumulate(&one, 1, MPI_INT64_T, 1, disp, 1, MPI_INT64_T, MPI_SUM, win));
            break;
        case T_FOP_LAT:
            MPI_OK(MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 1, disp, MPI_SUM, win));
            break;
        default: /* T_CAS_LAT: 0,1,2,... each swap succeeds */
            cmp  = expect;
            swap = expect + 1;
            MPI_OK(MPI_Compare_and_swap(&swap, &cmp, &got, MPI_INT64_T, 1, disp, win));
            break;
        }
        MPI_OK(MPI_Win_flush(1, win));
        if (i >= 0) {
            samples[i] = now_us() - t0;
        }
        if (test != T_ACC_LAT && got != expect) {
            fail("%s: operation %ld returned %lld, expected %lld", test_names[test], i + w,
                 (long long)got, (long long)expect);
        }
        ++expect;
    }
    MPI_OK(MPI_Fetch_and_op(NULL, &final, MPI_INT64_T, 1, disp, MPI_NO_OP, win));
    MPI_OK(MPI_Win_flush(1, win));
    MPI_OK(MPI_Win_unlock_all(win));
    if (final != expect) {
        fail("%s: target counter is %lld after %ld operations", test_names[test], (long long) final,
             n + w);
    }
    for (i = 0; i < n; ++i) {
        sum += samples[i];
    }
    qsort(samples, (size_t)n, sizeof(*samples), cmp_double);
    report(test, sizeof(int64_t), n, sum / (double)n, percentile(samples, n, 50),
           percentile(samples, n, 99), (double)sizeof(int64_t) / (sum / (double)n) * 1e6 / MIB,
           (double)sizeof(int64_t) / (sum / (double)n) * 1e6 / MIB);
}

static void print_binding(void)
{
    cpu_set_t set;
    char buf[256] = "", *p = buf;
    int c;
    char line[300];

    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (c = 0; c < CPU_SETSIZE && p < buf + sizeof(buf) - 8; ++c) {
            if (CPU_ISSET(c, &set)) {
                p += sprintf(p, "%s%d", p == buf ? "" : ",", c);
            }
        }
    }
    snprintf(line, sizeof(line), "BIND rank=%d pid=%d cpus=%s", me, (int)getpid(),
             buf[0] ? buf : "?");
    if (me == 0) {
        char other[300];
        printf("%s\n", line);
        MPI_OK(
            MPI_Recv(other, (int)sizeof(other), MPI_CHAR, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        printf("%s\n", other);
        fflush(stdout);
    } else {
        MPI_OK(MPI_Send(line, (int)sizeof(line), MPI_CHAR, 0, 7, MPI_COMM_WORLD));
    }
}

int main(int argc, char **argv)
{
    size_t sizes[MAX_SIZES], maxsize = 0, winsize;
    int nsizes = 0, tests[T_COUNT], ntests = 0, opt, nprocs, t, k, len = 0;
    long iters = -1, warmup = -1, n, w, maxn = 0;
    const char *expect_osc = NULL;
    char *list, *tok, *save;
    char wname[MPI_MAX_OBJECT_NAME] = "";
    unsigned char *base             = NULL, *src, *dst;
    double *samples;
    MPI_Aint adisp;
    MPI_Win win;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);

    while ((opt = getopt(argc, argv, "s:n:w:t:e:h")) != -1) {
        switch (opt) {
        case 's':
            list = strdup(optarg);
            for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
                if (nsizes == MAX_SIZES || parse_size(tok, &sizes[nsizes]) != 0) {
                    usage();
                }
                ++nsizes;
            }
            free(list);
            break;
        case 'n':
            iters = strtol(optarg, NULL, 10);
            if (iters < BW_BLOCKS) {
                usage();
            }
            break;
        case 'w':
            warmup = strtol(optarg, NULL, 10);
            if (warmup < 0) {
                usage();
            }
            break;
        case 't':
            list = strdup(optarg);
            for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
                if (strcmp(tok, "all") == 0) {
                    for (t = 0; t < T_COUNT; ++t) {
                        tests[t] = t;
                    }
                    ntests = T_COUNT;
                    continue;
                }
                for (t = 0; t < T_COUNT && strcmp(tok, test_names[t]) != 0; ++t) {
                }
                if (t == T_COUNT || ntests == T_COUNT) {
                    usage();
                }
                tests[ntests++] = t;
            }
            free(list);
            break;
        case 'e':
            expect_osc = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc) {
        usage();
    }
    if (nprocs != 2) {
        if (me == 0) {
            fprintf(stderr, "osc_bench needs exactly 2 ranks (got %d)\n", nprocs);
        }
        MPI_Finalize();
        return 2;
    }
    if (nsizes == 0) {
        sizes[0] = 8;
        sizes[1] = 4096;
        sizes[2] = 65536;
        sizes[3] = 1 << 20;
        nsizes   = 4;
    }
    if (ntests == 0) {
        for (t = 0; t < T_COUNT; ++t) {
            tests[t] = t;
        }
        ntests = T_COUNT;
    }
    for (k = 0; k < nsizes; ++k) {
        maxsize = sizes[k] > maxsize ? sizes[k] : maxsize;
        for (t = 0; t < T_COUNT; ++t) {
            n    = iters > 0 ? iters : default_iters(t, sizes[k]);
            maxn = n > maxn ? n : maxn;
        }
    }
    adisp   = (MPI_Aint)((maxsize + 63) & ~(size_t)63);
    winsize = (size_t)adisp + ATOM_AREA;

    src     = malloc(maxsize);
    dst     = malloc(maxsize);
    samples = malloc((size_t)maxn * sizeof(*samples));
    if (src == NULL || dst == NULL || samples == NULL) {
        fail("out of memory");
    }
    memset(src, 0x5a, maxsize);
    memset(dst, 0, maxsize);

    MPI_OK(MPI_Win_allocate((MPI_Aint)winsize, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    MPI_OK(MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN));
    memset(base, 0, winsize);
    MPI_OK(MPI_Win_get_name(win, wname, &len));
    /* "rsm window 3", "ucx window", "rdma window", "pt2pt window", ...: the
     * component is the first word. */
    snprintf(osc_name, sizeof(osc_name), "%.*s", (int)strcspn(wname, " "), wname);
    if (osc_name[0] == '\0' || strstr(wname, "window") == NULL) {
        snprintf(osc_name, sizeof(osc_name), "unknown");
    }
    if (me == 0) {
        printf("WINDOW name=\"%s\" osc=%s size=%zu\n", wname, osc_name, winsize);
        fflush(stdout);
    }
    print_binding();
    if (expect_osc != NULL && strcmp(expect_osc, osc_name) != 0) {
        fail("the window is \"%s\" (osc/%s), not osc/%s", wname, osc_name, expect_osc);
    }

    for (k = 0; k < nsizes; ++k) {
        check_data(win, base, src, dst, sizes[k]);
    }
    memset(src, 0x5a, maxsize);

    for (t = 0; t < ntests; ++t) {
        int test = tests[t];

        for (k = 0; k < nsizes; ++k) {
            size_t size = test >= T_ACC_LAT ? sizeof(int64_t) : sizes[k];

            if (test >= T_ACC_LAT && k > 0) {
                break; /* atomics: one size */
            }
            n = iters > 0 ? iters : default_iters(test, size);
            w = warmup >= 0 ? warmup : n / 10;
            if (test >= T_ACC_LAT && me == 1) {
                MPI_OK(MPI_Win_lock_all(0, win));
                *(volatile int64_t *)(base + adisp) = 0;
                MPI_OK(MPI_Win_sync(win));
                MPI_OK(MPI_Win_unlock_all(win));
            }
            MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
            if (me == 0) {
                switch (test) {
                case T_PUT_LAT:
                case T_GET_LAT:
                    run_lat(test, win, size, n, w, src, dst, samples);
                    break;
                case T_PUT_BW:
                case T_GET_BW:
                    run_bw(test, win, size, n, w, src, dst);
                    break;
                default:
                    run_atomic(test, win, adisp, n, w, samples);
                    break;
                }
            }
            MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        }
    }

    MPI_OK(MPI_Win_free(&win));
    free(samples);
    free(dst);
    free(src);
    if (me == 0) {
        printf("osc_bench: OK (osc/%s)\n", osc_name);
    }
    MPI_Finalize();
    return 0;
}
