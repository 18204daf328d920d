/*
 * test_shm_log.c - unit tests of core/shm_log: the host-wide log in shared
 * memory that writers append to and every reader reads in place, in one
 * order.
 *
 * Real System V segments and real processes (fork): a log is only worth
 * having if processes that share nothing but it agree on its order, and if a
 * writer or reader that dies cannot stop the others. A host that refuses
 * the segments fails these tests (the feature would not work there).
 *
 * What a writer relies on: an entry is readable exactly as written, once
 * committed; a full log says UCPG_ERR_TRY_AGAIN until the slowest reader
 * releases, and never overwrites what a reader has not released; with no
 * reader it never blocks; readers asleep are handed back to be woken.
 * What a reader relies on: every reader sees every entry, in the same order,
 * each writer's in its own order; a half-written entry is never read (it is
 * reported as in progress); a writer that died in the middle of an entry is
 * skipped once reaped, and counted; a corrupt entry is reported, never read
 * outside the log; an offer that does not name a log is refused.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/shm_log.h"
#include "core/shm_segment.h"

#define SMALL_CAP  (4u * 1024u)
#define WAIT_NS    (20ull * 1000000000ull)     /* no test waits longer on a child */

/* --- helpers ---------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static ucpg_shm_log_t *log_create(size_t capacity)
{
    ucpg_shm_log_t *log = NULL;

    assert_int_equal(ucpg_shm_log_create(capacity, &log), UCPG_OK);
    assert_non_null(log);
    return log;
}

/* A payload of len bytes that names its writer and number, for checking. */
static void payload_fill(uint8_t *p, size_t len, uint32_t writer, uint32_t n)
{
    size_t i;

    for (i = 0; i < len; ++i) {
        p[i] = (uint8_t)(writer * 31u + n * 7u + i);
    }
    if (len >= 8) {
        memcpy(p, &writer, 4);
        memcpy(p + 4, &n, 4);
    }
}

static int payload_ok(const uint8_t *p, size_t len, uint32_t writer, uint32_t n)
{
    uint8_t want[1024];

    if (len > sizeof(want)) {
        return 0;
    }
    payload_fill(want, len, writer, n);
    return memcmp(p, want, len) == 0;
}

static size_t size_of(uint32_t n, size_t max)
{
    return (n * 37u + (n >> 3) * 101u) % (max + 1);
}

static void append_ok(ucpg_shm_log_writer_t *w, size_t len, uint32_t writer, uint32_t n)
{
    uint8_t buf[1024];
    uint64_t wake;

    payload_fill(buf, len, writer, n);
    assert_int_equal(ucpg_shm_log_append(w, buf, len, NULL, &wake), UCPG_OK);
}

/* Waits for the child; fails the test if it does not end in WAIT_NS. */
static int child_wait(pid_t pid)
{
    uint64_t until = now_ns() + WAIT_NS;
    int st = 0;

    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (now_ns() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("child %d did not finish", (int)pid);
        }
        usleep(1000);
    }
    return st;
}

/* --- the log in one process --------------------------------------------------- */

static void test_create_refuses_bad_capacities(void **state)
{
    size_t bad[] = {0, 16, 2048, 4097, 6144, UCPG_SHM_LOG_MAX_CAP * 2};
    ucpg_shm_log_t *log = NULL;
    unsigned i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_int_equal(ucpg_shm_log_create(bad[i], &log), UCPG_ERR_INVALID_PARAM);
    }
    log = log_create(SMALL_CAP);
    assert_int_equal(ucpg_shm_log_capacity(log), SMALL_CAP);
    assert_int_equal(ucpg_shm_log_max_entry(log), SMALL_CAP / 4 - UCPG_SHM_LOG_ENTRY_HDR);
    ucpg_shm_log_detach(log);
}

static void test_entries_read_in_place_in_order(void **state)
{
    ucpg_shm_log_t *log = log_create(64 * 1024);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_reader_t r;
    ucpg_shm_log_entry_t e;
    uint64_t last_end = 0;
    uint32_t n;

    (void)state;
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_ERR_TRY_AGAIN);
    for (n = 0; n < 100; ++n) {
        append_ok(&w, size_of(n, 300), 1, n);
    }
    for (n = 0; n < 100; ++n) {
        assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_OK);
        assert_int_equal(e.len, size_of(n, 300));
        assert_true(payload_ok(e.data, e.len, 1, n));
        assert_int_equal(e.pos, last_end);         /* no gap: no padding needed yet */
        assert_int_equal(e.end - e.pos, UCPG_SHM_LOG_ENTRY_HDR + ((e.len + 15) & ~15ul));
        last_end = e.end;
    }
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_ERR_TRY_AGAIN);
    assert_int_equal(ucpg_shm_log_tail(log), last_end);
    assert_int_equal(r.voided, 0);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_reader_close(&r);
    ucpg_shm_log_detach(log);
}

/* Thousands of laps of a 4 KiB ring with entries up to the largest: every
 * end of the ring is met, with and without padding. */
static void test_ring_wraps_with_padding(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    size_t max          = ucpg_shm_log_max_entry(log);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_reader_t r;
    ucpg_shm_log_entry_t e;
    uint32_t n, padded = 0;

    (void)state;
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    for (n = 0; n < 20000; ++n) {
        uint64_t before = r.next;
        append_ok(&w, size_of(n, max), 2, n);
        assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_OK);
        assert_int_equal(e.len, size_of(n, max));
        assert_true(payload_ok(e.data, e.len, 2, n));
        assert_true(((e.pos % SMALL_CAP) + (e.end - e.pos)) <= SMALL_CAP);
        padded += (e.pos != before);
        ucpg_shm_log_release(&r, r.next);
    }
    assert_true(padded > 100);
    assert_true(ucpg_shm_log_tail(log) > 1000ull * SMALL_CAP);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_reader_close(&r);
    ucpg_shm_log_detach(log);
}

static void test_full_log_waits_for_the_slowest_reader(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_reader_t fast, slow;
    ucpg_shm_log_entry_t e;
    uint8_t body[100];
    uint64_t wake, written = 0;
    uint32_t n = 0;

    (void)state;
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &fast), UCPG_OK);
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &slow), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    for (;;) {
        payload_fill(body, sizeof(body), 3, n);
        if (ucpg_shm_log_append(&w, body, sizeof(body), NULL, &wake) != UCPG_OK) {
            break;
        }
        assert_true(n < SMALL_CAP / 128);               /* a full ring must say so */
        ++n;
        written += UCPG_SHM_LOG_ENTRY_HDR + 112;
        while (ucpg_shm_log_next(&fast, &e) == UCPG_OK) {
            ucpg_shm_log_release(&fast, fast.next);
        }
    }
    /* Full: about one ring of entries, all of them still there for slow. */
    assert_true(written <= SMALL_CAP);
    assert_true(written + 2 * 128 > SMALL_CAP);
    payload_fill(body, sizeof(body), 3, n);
    assert_int_equal(ucpg_shm_log_append(&w, body, sizeof(body), NULL, &wake),
                     UCPG_ERR_TRY_AGAIN);
    assert_int_equal(ucpg_shm_log_next(&slow, &e), UCPG_OK);
    assert_true(payload_ok(e.data, e.len, 3, 0));
    /* Read but not released: still no room. */
    assert_int_equal(ucpg_shm_log_append(&w, body, sizeof(body), NULL, &wake),
                     UCPG_ERR_TRY_AGAIN);
    ucpg_shm_log_release(&slow, slow.next);
    assert_int_equal(ucpg_shm_log_append(&w, body, sizeof(body), NULL, &wake), UCPG_OK);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_reader_close(&fast);
    ucpg_shm_log_reader_close(&slow);
    ucpg_shm_log_detach(log);
}

static void test_without_readers_nothing_is_kept(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_reader_t r;
    uint32_t n;

    (void)state;
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    for (n = 0; n < 1000; ++n) {
        append_ok(&w, 200, 4, n);
    }
    /* The start was given up for reuse; a position beyond the tail never was. */
    assert_int_equal(ucpg_shm_log_reader_open(log, 0, &r), UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_shm_log_reader_open(log, ucpg_shm_log_tail(log) + 16, &r),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r), UCPG_OK);
    ucpg_shm_log_reader_close(&r);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_detach(log);
}

static void test_reservation_limits(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_entry_t e, e2;

    (void)state;
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    assert_int_equal(ucpg_shm_log_reserve(&w, ucpg_shm_log_max_entry(log) + 1, &e),
                     UCPG_ERR_TOO_BIG);
    assert_int_equal(ucpg_shm_log_reserve(&w, ucpg_shm_log_max_entry(log), &e), UCPG_OK);
    assert_int_equal(ucpg_shm_log_reserve(&w, 8, &e2), UCPG_ERR_BUSY);
    ucpg_shm_log_commit(&w, &e);
    assert_int_equal(ucpg_shm_log_reserve(&w, 8, &e2), UCPG_OK);
    ucpg_shm_log_commit(&w, &e2);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_detach(log);
}

static void test_slots_run_out_and_come_back(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    static ucpg_shm_log_reader_t r[UCPG_SHM_LOG_READERS + 1];
    static ucpg_shm_log_writer_t w[UCPG_SHM_LOG_WRITERS + 1];
    unsigned i;

    (void)state;
    for (i = 0; i < UCPG_SHM_LOG_READERS; ++i) {
        assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r[i]), UCPG_OK);
    }
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r[i]),
                     UCPG_ERR_NO_RESOURCE);
    for (i = 0; i < UCPG_SHM_LOG_WRITERS; ++i) {
        assert_int_equal(ucpg_shm_log_writer_open(log, &w[i]), UCPG_OK);
    }
    assert_int_equal(ucpg_shm_log_writer_open(log, &w[i]), UCPG_ERR_NO_RESOURCE);
    assert_int_equal(ucpg_shm_log_reap(log), 0);      /* all alive: nothing to free */
    ucpg_shm_log_reader_close(&r[5]);
    ucpg_shm_log_writer_close(&w[7]);
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r[5]), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &w[7]), UCPG_OK);
    for (i = 0; i < UCPG_SHM_LOG_READERS; ++i) {
        ucpg_shm_log_reader_close(&r[i]);
    }
    for (i = 0; i < UCPG_SHM_LOG_WRITERS; ++i) {
        ucpg_shm_log_writer_close(&w[i]);
    }
    ucpg_shm_log_detach(log);
}

static void test_sleepers_are_handed_to_the_commit(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_reader_t a, b;
    ucpg_shm_log_entry_t e;
    uint64_t wake = 0;

    (void)state;
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &a), UCPG_OK);
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &b), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    assert_int_equal(ucpg_shm_log_sleep_prepare(&a), 1);
    assert_int_equal(ucpg_shm_log_sleep_prepare(&b), 1);
    assert_int_equal(ucpg_shm_log_append(&w, "x", 1, NULL, &wake), UCPG_OK);
    assert_int_equal(wake, (1ull << a.slot) | (1ull << b.slot));
    assert_int_equal(ucpg_shm_log_append(&w, "y", 1, NULL, &wake), UCPG_OK);
    assert_int_equal(wake, 0);                       /* each sleeper is rung once */
    /* An entry already there: no sleep, and no ring for it later. */
    assert_int_equal(ucpg_shm_log_sleep_prepare(&a), 0);
    assert_int_equal(ucpg_shm_log_next(&b, &e), UCPG_OK);
    assert_int_equal(ucpg_shm_log_next(&b, &e), UCPG_OK);
    assert_int_equal(ucpg_shm_log_sleep_prepare(&b), 1);
    ucpg_shm_log_sleep_cancel(&b);
    assert_int_equal(ucpg_shm_log_append(&w, "z", 1, NULL, &wake), UCPG_OK);
    assert_int_equal(wake, 0);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_reader_close(&a);
    ucpg_shm_log_reader_close(&b);
    ucpg_shm_log_detach(log);
}

/* Lengths a writer (or anyone attached) got wrong: reported, not followed. */
static void test_corrupt_entries_are_reported(void **state)
{
    /* Too long for the ring; wrapping to small; fits the ring but not
     * after its offset (96); a PAD that does not reach the end. */
    uint32_t bad_len[] = {SMALL_CAP, UINT32_MAX, SMALL_CAP - 32, 32};
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_reader_t r;
    ucpg_shm_log_entry_t e;
    uint16_t kind = 9, pad = 2;
    unsigned i;

    (void)state;
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    for (i = 0; i <= sizeof(bad_len) / sizeof(bad_len[0]); ++i) {
        assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r), UCPG_OK);
        assert_int_equal(ucpg_shm_log_reserve(&w, 32, &e), UCPG_OK);
        ucpg_shm_log_commit(&w, &e);
        if (i < sizeof(bad_len) / sizeof(bad_len[0])) {
            memcpy((uint8_t*)e.data - 8, &bad_len[i], 4);     /* the header's length */
            if (i == 3) {
                memcpy((uint8_t*)e.data - 4, &pad, 2);
            }
        } else {
            memcpy((uint8_t*)e.data - 4, &kind, 2);           /* the header's kind */
        }
        assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_ERR_MESSAGE);
        ucpg_shm_log_reader_close(&r);
    }
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_detach(log);
}

static void test_attach_checks_the_offer(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP), *other = NULL;
    ucpg_shm_offer_t offer, wrong, plain;
    void *base = NULL;

    (void)state;
    ucpg_shm_log_offer(log, &offer);
    wrong = offer;
    wrong.cookie ^= 1;
    assert_int_equal(ucpg_shm_log_attach(&wrong, &other), UCPG_ERR_NOT_FOUND);
    wrong = offer;
    wrong.size += 4096;
    assert_int_equal(ucpg_shm_log_attach(&wrong, &other), UCPG_ERR_NOT_FOUND);
    wrong = offer;
    wrong.shmid = -1;
    assert_int_equal(ucpg_shm_log_attach(&wrong, &other), UCPG_ERR_NOT_FOUND);
    /* A segment of ours that is not a log. */
    assert_int_equal(ucpg_shm_segment_create(offer.size, "test", &plain, &base), UCPG_OK);
    assert_int_equal(ucpg_shm_log_attach(&plain, &other), UCPG_ERR_MESSAGE);
    ucpg_shm_segment_detach(base);
    assert_int_equal(ucpg_shm_log_attach(&offer, &other), UCPG_OK);
    assert_int_equal(ucpg_shm_log_capacity(other), SMALL_CAP);
    ucpg_shm_log_detach(other);
    ucpg_shm_log_detach(log);
}

/* --- processes ---------------------------------------------------------------- */

/* The test's own handle, which a forked child inherits: a child attaches
 * the log itself, as an unrelated process would, and lets this one go. */
static ucpg_shm_log_t *inherited;

static ucpg_shm_log_t *child_attach(const ucpg_shm_offer_t *offer)
{
    ucpg_shm_log_t *log = NULL;

    ucpg_shm_log_detach(inherited);
    inherited = NULL;
    return (ucpg_shm_log_attach(offer, &log) == UCPG_OK) ? log : NULL;
}

#define PROCS_WRITERS  4u
#define PROCS_READERS  3u
#define PROCS_EACH     5000u

/* Appends writer id's PROCS_EACH numbered entries; 0 or an exit code. */
static int run_writer(ucpg_shm_log_t *log, uint32_t id)
{
    uint64_t until = now_ns() + WAIT_NS, wake;
    ucpg_shm_log_writer_t w;
    uint8_t buf[1024];
    uint32_t n = 0;
    ucpg_status_t status;

    if (ucpg_shm_log_writer_open(log, &w) != UCPG_OK) {
        return 10;
    }
    while (n < PROCS_EACH) {
        size_t len = 8 + size_of(n, 200);
        payload_fill(buf, len, id, n);
        status = ucpg_shm_log_append(&w, buf, len, NULL, &wake);
        if (status == UCPG_OK) {
            ++n;
        } else if ((status != UCPG_ERR_TRY_AGAIN) || (now_ns() > until)) {
            return 11;
        } else {
            sched_yield();
        }
    }
    ucpg_shm_log_writer_close(&w);
    return 0;
}

/* Reads every writer's entries, checking each writer's order and bodies;
 * *digest: the order seen (writer ids in order). 0 or an exit code. */
static int run_reader(ucpg_shm_log_reader_t *r, uint64_t *digest)
{
    uint32_t expect[PROCS_WRITERS + 1] = {0}, writer, n, got = 0;
    uint64_t until = now_ns() + WAIT_NS;
    ucpg_shm_log_entry_t e;
    ucpg_status_t status;

    *digest = 1469598103934665603ull;
    while (got < PROCS_WRITERS * PROCS_EACH) {
        status = ucpg_shm_log_next(r, &e);
        if (status == UCPG_OK) {
            memcpy(&writer, e.data, 4);
            memcpy(&n, (uint8_t*)e.data + 4, 4);
            if ((writer == 0) || (writer > PROCS_WRITERS) || (n != expect[writer]) ||
                (e.len != 8 + size_of(n, 200)) || !payload_ok(e.data, e.len, writer, n)) {
                return 21;
            }
            expect[writer]++;
            got++;
            *digest = (*digest ^ writer) * 1099511628211ull;
            ucpg_shm_log_release(r, r->next);
        } else if ((status == UCPG_ERR_MESSAGE) || (now_ns() > until)) {
            return 22;
        } else {
            sched_yield();
        }
    }
    return (r->voided == 0) ? 0 : 23;
}

/* A writer process: attaches, waits for the go, appends. */
static void proc_writer(const ucpg_shm_offer_t *offer, uint32_t id, int go_fd)
{
    ucpg_shm_log_t *log = child_attach(offer);
    int rc;
    char c;

    if ((log == NULL) || (read(go_fd, &c, 1) != 1)) {
        _exit(10);
    }
    rc = run_writer(log, id);
    ucpg_shm_log_detach(log);
    _exit(rc);
}

/* A reader process: attaches, says it is in, reads, writes its digest. */
static void proc_reader(const ucpg_shm_offer_t *offer, int ready_fd, int out_fd)
{
    ucpg_shm_log_t *log = child_attach(offer);
    ucpg_shm_log_reader_t r;
    uint64_t digest;
    int rc;

    if ((log == NULL) || (ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r) != UCPG_OK) ||
        (write(ready_fd, "r", 1) != 1)) {
        _exit(20);
    }
    rc = run_reader(&r, &digest);
    if ((rc == 0) && (write(out_fd, &digest, sizeof(digest)) != sizeof(digest))) {
        rc = 24;
    }
    ucpg_shm_log_reader_close(&r);
    ucpg_shm_log_detach(log);
    _exit(rc);
}

static void test_processes_agree_on_one_order(void **state)
{
    ucpg_shm_log_t *log = inherited = log_create(16 * 1024);
    pid_t pids[PROCS_WRITERS + PROCS_READERS];
    int ready[2], go[2], out[2], st;
    uint64_t digest[PROCS_READERS];
    ucpg_shm_offer_t offer;
    unsigned i;
    char c;

    (void)state;
    ucpg_shm_log_offer(log, &offer);
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(out), 0);
    for (i = 0; i < PROCS_READERS + PROCS_WRITERS; ++i) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if ((pids[i] == 0) && (i < PROCS_READERS)) {
            proc_reader(&offer, ready[1], out[1]);
        } else if (pids[i] == 0) {
            proc_writer(&offer, i - PROCS_READERS + 1, go[0]);
        }
    }
    for (i = 0; i < PROCS_READERS; ++i) {        /* every reader in before any entry */
        assert_int_equal(read(ready[0], &c, 1), 1);
    }
    for (i = 0; i < PROCS_WRITERS; ++i) {
        assert_int_equal(write(go[1], "g", 1), 1);
    }
    for (i = 0; i < PROCS_READERS + PROCS_WRITERS; ++i) {
        st = child_wait(pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    for (i = 0; i < PROCS_READERS; ++i) {
        assert_int_equal(read(out[0], &digest[i], sizeof(digest[i])), sizeof(digest[i]));
        assert_true(digest[i] == digest[0]);
    }
    close(ready[0]); close(ready[1]); close(go[0]); close(go[1]); close(out[0]); close(out[1]);
    ucpg_shm_log_detach(log);
}

/*
 * A writer process reserves an entry and stops there (half written) after
 * `lead` bytes of other entries; reports through fd. lead places the
 * reservation: across the end of the ring it first commits a PAD.
 */
static pid_t writer_stuck_in_entry(const ucpg_shm_offer_t *offer, size_t len, int fd)
{
    pid_t pid = fork();
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_entry_t e;
    ucpg_shm_log_t *log;

    assert_true(pid >= 0);
    if (pid == 0) {
        log = child_attach(offer);
        if ((log == NULL) ||
            (ucpg_shm_log_writer_open(log, &w) != UCPG_OK) ||
            (ucpg_shm_log_reserve(&w, len, &e) != UCPG_OK)) {
            _exit(30);
        }
        memset(e.data, 0xab, len / 2);
        if (write(fd, &e.pos, sizeof(e.pos)) != sizeof(e.pos)) {
            _exit(31);
        }
        pause();
        _exit(32);
    }
    return pid;
}

/* The dead writer's entry holds the reader up until reaped, then is skipped;
 * while the writer lives, a reap leaves it alone. at_end: the reservation
 * crosses the end of the ring. */
static void dead_writer_scenario(int at_end)
{
    ucpg_shm_log_t *log = inherited = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_reader_t r;
    ucpg_shm_log_entry_t e;
    ucpg_shm_offer_t offer;
    uint64_t stuck_at, tail0;
    int fds[2], st;
    pid_t pid;
    /* Leading entries, read and released: the stuck one starts 192 bytes
     * in, or 224 bytes before the end of the ring (it needs 320). */
    size_t lead[] = {1008, 1008, 1008, 784};
    unsigned nlead = at_end ? 4 : 3, i;

    ucpg_shm_log_offer(log, &offer);
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    for (i = 0; i < nlead; ++i) {
        append_ok(&w, at_end ? lead[i] : 40, 5, i);
        assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_OK);
        assert_true(payload_ok(e.data, e.len, 5, i));
        ucpg_shm_log_release(&r, r.next);
    }
    assert_int_equal(pipe(fds), 0);
    tail0 = ucpg_shm_log_tail(log);
    assert_int_equal(tail0, at_end ? 3872 : 192);
    pid   = writer_stuck_in_entry(&offer, 300, fds[1]);
    assert_int_equal(read(fds[0], &stuck_at, sizeof(stuck_at)), sizeof(stuck_at));
    assert_int_equal(stuck_at, at_end ? 4096 : 192);  /* after a PAD, or at the tail */
    append_ok(&w, 24, 5, 99);                        /* behind the stuck entry */
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_INPROGRESS);
    assert_int_equal(ucpg_shm_log_reap(log), 0);      /* alive: only slow */
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_INPROGRESS);
    kill(pid, SIGKILL);
    st = child_wait(pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(ucpg_shm_log_reap(log), 1);
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_OK);
    assert_true(payload_ok(e.data, e.len, 5, 99));
    assert_int_equal(r.voided, 1);
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_ERR_TRY_AGAIN);
    assert_int_equal(ucpg_shm_log_reap(log), 0);
    close(fds[0]);
    close(fds[1]);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_reader_close(&r);
    ucpg_shm_log_detach(log);
}

static void test_dead_writer_mid_entry_is_skipped(void **state)
{
    (void)state;
    dead_writer_scenario(0);
}

static void test_dead_writer_across_the_ring_end_is_skipped(void **state)
{
    (void)state;
    dead_writer_scenario(1);
}

/* A reader process that died holds the writers back until reaped. */
static void test_dead_reader_is_reaped(void **state)
{
    ucpg_shm_log_t *log = inherited = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t w;
    ucpg_shm_offer_t offer;
    uint8_t body[200] = {0};
    uint64_t wake;
    unsigned n;
    pid_t pid;
    int st;

    (void)state;
    ucpg_shm_log_offer(log, &offer);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ucpg_shm_log_t *mine = child_attach(&offer);
        ucpg_shm_log_reader_t r;
        int ok = (mine != NULL) && (ucpg_shm_log_reader_open(mine, UCPG_SHM_LOG_TAIL, &r) ==
                                    UCPG_OK);
        ucpg_shm_log_detach(mine);           /* gone without closing its reader */
        _exit(ok ? 0 : 1);
    }
    st = child_wait(pid);
    assert_true(WIFEXITED(st) && (WEXITSTATUS(st) == 0));
    assert_int_equal(ucpg_shm_log_writer_open(log, &w), UCPG_OK);
    for (n = 0; ucpg_shm_log_append(&w, body, sizeof(body), NULL, &wake) == UCPG_OK; ++n) {
        assert_true(n < SMALL_CAP / sizeof(body));
    }
    assert_int_equal(ucpg_shm_log_reap(log), 1);
    for (n = 0; n < 100; ++n) {
        assert_int_equal(ucpg_shm_log_append(&w, body, sizeof(body), NULL, &wake), UCPG_OK);
    }
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_detach(log);
}

static void test_closing_a_writer_voids_its_reservation(void **state)
{
    ucpg_shm_log_t *log = log_create(SMALL_CAP);
    ucpg_shm_log_writer_t a, b;
    ucpg_shm_log_reader_t r;
    ucpg_shm_log_entry_t e;

    (void)state;
    assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &r), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &a), UCPG_OK);
    assert_int_equal(ucpg_shm_log_writer_open(log, &b), UCPG_OK);
    assert_int_equal(ucpg_shm_log_reserve(&a, 64, &e), UCPG_OK);
    append_ok(&b, 16, 6, 0);
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_INPROGRESS);
    ucpg_shm_log_writer_close(&a);
    assert_int_equal(ucpg_shm_log_next(&r, &e), UCPG_OK);
    assert_true(payload_ok(e.data, e.len, 6, 0));
    assert_int_equal(r.voided, 1);
    ucpg_shm_log_writer_close(&b);
    ucpg_shm_log_reader_close(&r);
    ucpg_shm_log_detach(log);
}

/* The same through one handle shared by threads (what TSan can check). */
typedef struct thread_arg {
    ucpg_shm_log_t        *log;
    ucpg_shm_log_reader_t  r;
    uint32_t               id;
    uint64_t               digest;
    int                    rc;
} thread_arg_t;

static void *thread_writer(void *p)
{
    thread_arg_t *a = p;

    a->rc = run_writer(a->log, a->id);
    return NULL;
}

static void *thread_reader(void *p)
{
    thread_arg_t *a = p;

    a->rc = run_reader(&a->r, &a->digest);
    return NULL;
}

static void test_threads_agree_on_one_order(void **state)
{
    ucpg_shm_log_t *log = log_create(16 * 1024);
    thread_arg_t args[PROCS_READERS + PROCS_WRITERS];
    pthread_t tids[PROCS_READERS + PROCS_WRITERS];
    unsigned i;

    (void)state;
    memset(args, 0, sizeof(args));
    for (i = 0; i < PROCS_READERS + PROCS_WRITERS; ++i) {
        args[i].log = log;
        args[i].id  = i - PROCS_READERS + 1;
        if (i < PROCS_READERS) {
            assert_int_equal(ucpg_shm_log_reader_open(log, UCPG_SHM_LOG_TAIL, &args[i].r),
                             UCPG_OK);
        }
    }
    for (i = 0; i < PROCS_READERS + PROCS_WRITERS; ++i) {
        assert_int_equal(pthread_create(&tids[i], NULL,
                                        (i < PROCS_READERS) ? thread_reader : thread_writer,
                                        &args[i]), 0);
    }
    for (i = 0; i < PROCS_READERS + PROCS_WRITERS; ++i) {
        assert_int_equal(pthread_join(tids[i], NULL), 0);
        assert_int_equal(args[i].rc, 0);
    }
    for (i = 0; i < PROCS_READERS; ++i) {
        assert_true(args[i].digest == args[0].digest);
        ucpg_shm_log_reader_close(&args[i].r);
    }
    ucpg_shm_log_detach(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_refuses_bad_capacities),
        cmocka_unit_test(test_entries_read_in_place_in_order),
        cmocka_unit_test(test_ring_wraps_with_padding),
        cmocka_unit_test(test_full_log_waits_for_the_slowest_reader),
        cmocka_unit_test(test_without_readers_nothing_is_kept),
        cmocka_unit_test(test_reservation_limits),
        cmocka_unit_test(test_slots_run_out_and_come_back),
        cmocka_unit_test(test_sleepers_are_handed_to_the_commit),
        cmocka_unit_test(test_corrupt_entries_are_reported),
        cmocka_unit_test(test_attach_checks_the_offer),
        cmocka_unit_test(test_processes_agree_on_one_order),
        cmocka_unit_test(test_threads_agree_on_one_order),
        cmocka_unit_test(test_dead_writer_mid_entry_is_skipped),
        cmocka_unit_test(test_dead_writer_across_the_ring_end_is_skipped),
        cmocka_unit_test(test_dead_reader_is_reaped),
        cmocka_unit_test(test_closing_a_writer_voids_its_reservation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
