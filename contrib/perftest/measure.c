/*
 * measure.c - the clock and the meter.
 *
 * The clock is the TSC on x86-64 when the CPU says it is constant and
 * non-stop (11 ns a read on the test VM against 26 ns for a vDSO
 * clock_gettime), calibrated once at start-up against CLOCK_MONOTONIC;
 * elsewhere it is CLOCK_MONOTONIC in nanoseconds. ucx_perftest also reads
 * the TSC once per operation, so both tools pay about the same for it.
 *
 * The meter keeps what ucx_perftest keeps: the number of operations, the
 * time of the start, of the last progress line and of the last operation,
 * and the last PT_RING_SIZE per-operation samples, whose percentile is the
 * "typical" latency. Ping-pong tests halve every time (one iteration is a
 * round trip).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef PT_CLOCK_TSC
int pt_clock_tsc = 0;            /* set by pt_clock_init when the TSC is usable */
#endif
static double pt_ticks_per_us = 1000.0;

uint64_t pt_clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#ifdef PT_CLOCK_TSC
/* The TSC is usable when /proc/cpuinfo lists constant_tsc and nonstop_tsc. */
static int pt_tsc_usable(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int constant = 0, nonstop = 0;

    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "flags", 5) == 0) {
            constant = (strstr(line, " constant_tsc") != NULL);
            nonstop  = (strstr(line, " nonstop_tsc") != NULL);
            break;
        }
    }
    fclose(f);
    return constant && nonstop;
}
#endif

void pt_clock_init(void)
{
#ifdef PT_CLOCK_TSC
    struct timespec pause = {0, 20 * 1000 * 1000};
    uint64_t n0, n1, c0, c1;

    if (!pt_tsc_usable()) {
        pt_clock_tsc    = 0;
        pt_ticks_per_us = 1000.0;
        return;
    }
    n0 = pt_clock_ns();
    c0 = __rdtsc();
    nanosleep(&pause, NULL);
    n1 = pt_clock_ns();
    c1 = __rdtsc();
    if ((n1 <= n0) || (c1 <= c0)) {
        pt_clock_tsc    = 0;
        pt_ticks_per_us = 1000.0;
        return;
    }
    pt_ticks_per_us = (double)(c1 - c0) * 1000.0 / (double)(n1 - n0);
    pt_clock_tsc    = 1;
#else
    pt_ticks_per_us = 1000.0;
#endif
}

double pt_clock_ticks_per_us(void)
{
    return pt_ticks_per_us;
}

static double pt_ticks_to_us(uint64_t ticks)
{
    return (double)ticks / pt_ticks_per_us;
}

static int pt_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;

    return (x > y) - (x < y);
}

uint64_t pt_percentile(uint64_t *samples, unsigned n, double p)
{
    double rank;
    unsigned idx;

    if (n == 0) {
        return 0;
    }
    qsort(samples, n, sizeof(*samples), pt_cmp_u64);
    rank = ceil(p / 100.0 * (double)n);        /* nearest rank, 1-based */
    idx  = (rank < 1.0) ? 0u : (unsigned)rank - 1u;
    return samples[(idx >= n) ? n - 1u : idx];
}

void pt_result_compute(pt_result_t *r, size_t size, uint64_t ops, double total_us,
                       uint64_t moment_ops, double moment_us, double typical_us,
                       unsigned divisor)
{
    double div = (divisor == 0) ? 1.0 : (double)divisor;

    r->size          = size;
    r->iters         = ops;
    r->elapsed_s     = total_us / 1e6;
    r->typical_us    = typical_us / div;
    r->total_lat_us  = (ops > 0) ? total_us / (double)ops / div : 0.0;
    r->moment_lat_us = (moment_ops > 0) ? moment_us / (double)moment_ops / div : 0.0;
    /* bytes per microsecond -> MiB/s; operations per microsecond -> per second */
    r->total_bw  = (r->total_lat_us > 0.0) ? (double)size / r->total_lat_us * 1e6 / PT_MIB : 0.0;
    r->moment_bw = (r->moment_lat_us > 0.0) ? (double)size / r->moment_lat_us * 1e6 / PT_MIB
                                            : 0.0;
    r->total_mr  = (r->total_lat_us > 0.0) ? 1e6 / r->total_lat_us : 0.0;
    r->moment_mr = (r->moment_lat_us > 0.0) ? 1e6 / r->moment_lat_us : 0.0;
}

void pt_meter_init(pt_meter_t *m, int test, size_t size, unsigned phase, double percentile)
{
    memset(m, 0, sizeof(*m));
    m->test       = test;
    m->size       = size;
    m->phase      = phase;
    m->percentile = percentile;
    m->divisor    = ((test >= 0) && (test < PT_TEST_COUNT) &&
                     (pt_tests[test].flags & PT_TF_PINGPONG)) ? 2u : 1u;
    m->interval   = (uint64_t)(pt_ticks_per_us * 1e6);
    m->members    = 1;
    m->senders    = 1;
}

void pt_meter_start(pt_meter_t *m, uint64_t now)
{
    m->t_start      = now;
    m->t_last       = now;
    m->t_report     = now;
    m->t_next       = now + m->interval;
    m->count        = 0;
    m->count_report = 0;
    m->ring_head    = 0;
    m->ring_len     = 0;
}

void pt_meter_result(pt_meter_t *m, uint64_t now, int final, pt_result_t *r)
{
    uint64_t tmp[PT_RING_SIZE], end = m->t_last, moment_ops;
    double typical_us = 0.0, total_us, moment_us;

    memset(r, 0, sizeof(*r));
    r->test    = m->test;
    r->phase   = m->phase;
    r->rank    = m->rank;
    r->members = m->members;
    r->senders = m->senders;
    r->final   = final;
    r->retries = m->retries;
    r->errors  = m->errors;
    if (m->ring_len > 0) {
        memcpy(tmp, m->ring, m->ring_len * sizeof(tmp[0]));
        typical_us = pt_ticks_to_us(pt_percentile(tmp, m->ring_len, m->percentile));
    }
    if (end < m->t_start) {
        end = m->t_start;
    }
    total_us   = pt_ticks_to_us(end - m->t_start);
    moment_us  = pt_ticks_to_us(end - ((m->t_report <= end) ? m->t_report : end));
    moment_ops = m->count - m->count_report;
    if (final && (moment_ops == 0)) {   /* nothing since the last line: the whole phase */
        moment_ops = m->count;
        moment_us  = total_us;
    }
    pt_result_compute(r, m->size, m->count, total_us, moment_ops, moment_us, typical_us,
                      m->divisor);
    if (!final) {
        m->t_report     = end;
        m->count_report = m->count;
        m->t_next       = now + m->interval;
    }
}
