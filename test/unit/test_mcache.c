/*
 * test_mcache.c - unit tests of core/mcache: size classes, reuse within a
 * thread and across threads (a producer allocates, a consumer frees: the
 * pattern of a CPG message), the bound on what the depot keeps, a thread's
 * blocks going to the depot when it exits, fork while another thread
 * trades magazines, and a forked child taking over the caches of the
 * threads it left behind.
 *
 * Built with AddressSanitizer the cache passes everything to malloc(), so
 * the tests of reuse and fork are skipped there (cmocka reports them
 * SKIPPED); the size tests run in every build.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mcache.h"

static int setup_trimmed(void **state)
{
    (void)state;
    ucpg_mcache_trim();
    return 0;
}

static void skip_without_cache(void)
{
    if (!ucpg_mcache_enabled()) {
        skip();     /* AddressSanitizer build: blocks go to malloc() */
    }
}

static void test_sizes_round_up_to_their_class(void **state)
{
    (void)state;
    assert_int_equal(ucpg_mcache_size(0), UCPG_MCACHE_MIN);
    assert_int_equal(ucpg_mcache_size(1), UCPG_MCACHE_MIN);
    assert_int_equal(ucpg_mcache_size(UCPG_MCACHE_MIN), UCPG_MCACHE_MIN);
    assert_int_equal(ucpg_mcache_size(UCPG_MCACHE_MIN + 1), 2 * UCPG_MCACHE_MIN);
    assert_int_equal(ucpg_mcache_size(100), 128);
    assert_int_equal(ucpg_mcache_size(4097), 8192);
    assert_int_equal(ucpg_mcache_size(UCPG_MCACHE_MAX), UCPG_MCACHE_MAX);
    assert_int_equal(ucpg_mcache_size(UCPG_MCACHE_MAX + 1), UCPG_MCACHE_MAX + 1);
}

static void test_every_byte_of_a_block_is_usable(void **state)
{
    size_t sizes[] = {0, 1, 31, 32, 33, 100, 1000, UCPG_MCACHE_MAX, UCPG_MCACHE_MAX + 1,
                      1u << 20};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        unsigned char *p = ucpg_mcache_alloc(sizes[i]);
        assert_non_null(p);
        memset(p, 0x5a, ucpg_mcache_size(sizes[i]));   /* ASan/valgrind check the bounds */
        if (sizes[i] >= 64) {
            assert_int_equal((uintptr_t)p % 16, 0);
        }
        ucpg_mcache_free(p, sizes[i]);
    }
    ucpg_mcache_free(NULL, 100);                         /* ignored */
}

static void test_freed_block_is_reused_by_its_thread(void **state)
{
    void *a, *b;

    (void)state;
    skip_without_cache();
    a = ucpg_mcache_alloc(100);
    ucpg_mcache_free(a, 100);
    b = ucpg_mcache_alloc(128);                          /* the same class */
    assert_ptr_equal(a, b);
    ucpg_mcache_free(b, ucpg_mcache_size(100));          /* the class size is as good */
}

/* --- across threads -------------------------------------------------------- */

enum { N_BLOCKS = 4000 };

typedef struct {
    void  *blocks[N_BLOCKS];
    size_t size;
} blocks_t;

static void *alloc_blocks(void *arg)
{
    blocks_t *b = arg;
    int i;

    for (i = 0; i < N_BLOCKS; ++i) {
        b->blocks[i] = ucpg_mcache_alloc(b->size);
        memset(b->blocks[i], i & 0xff, b->size);
    }
    return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static int in_set(void *const *set, int n, const void *p)
{
    int i;

    for (i = 0; i < n; ++i) {
        if (set[i] == p) {
            return 1;
        }
    }
    return 0;
}

/* The pattern of a message: made by one thread, freed by another. The
 * consumer's frees reach the depot, and the producer's next allocations
 * come from there, not from the heap. */
static void test_blocks_freed_by_another_thread_come_back(void **state)
{
    static blocks_t first, second;
    int i, reused = 0;

    (void)state;
    skip_without_cache();
    first.size = second.size = 200;
    run_thread(alloc_blocks, &first);
    for (i = 0; i < N_BLOCKS; ++i) {
        assert_int_equal(((unsigned char*)first.blocks[i])[199], i & 0xff);
        ucpg_mcache_free(first.blocks[i], first.size);
    }
    assert_true(ucpg_mcache_depot_bytes() > 0);
    run_thread(alloc_blocks, &second);
    for (i = 0; i < N_BLOCKS; ++i) {
        reused += in_set(first.blocks, N_BLOCKS, second.blocks[i]);
    }
    /* All but what our own cache still holds (two magazines at most). */
    assert_true(reused >= N_BLOCKS - 2 * 64);
    for (i = 0; i < N_BLOCKS; ++i) {
        ucpg_mcache_free(second.blocks[i], second.size);
    }
}

static void *alloc_free_and_exit(void *arg)
{
    void *p[100];
    int i;

    (void)arg;
    for (i = 0; i < 100; ++i) {
        p[i] = ucpg_mcache_alloc(1000);
    }
    for (i = 0; i < 100; ++i) {
        ucpg_mcache_free(p[i], 1000);
    }
    return NULL;     /* what our cache holds goes to the depot now */
}

static void test_exiting_thread_gives_its_blocks_to_the_depot(void **state)
{
    (void)state;
    skip_without_cache();
    assert_int_equal(ucpg_mcache_depot_bytes(), 0);
    run_thread(alloc_free_and_exit, NULL);
    assert_int_equal(ucpg_mcache_depot_bytes(), 100 * 1024);
    ucpg_mcache_trim();
    assert_int_equal(ucpg_mcache_depot_bytes(), 0);
}

static void test_depot_is_bounded_per_class(void **state)
{
    enum { N = 40000 };                 /* 40000 x 128 B = 5 MiB of one class */
    static void *p[N];
    int i;

    (void)state;
    skip_without_cache();
    for (i = 0; i < N; ++i) {
        p[i] = ucpg_mcache_alloc(128);
        assert_non_null(p[i]);
    }
    for (i = 0; i < N; ++i) {
        ucpg_mcache_free(p[i], 128);
        assert_true(ucpg_mcache_depot_bytes() <= UCPG_MCACHE_DEPOT_BYTES);
    }
    assert_true(ucpg_mcache_depot_bytes() > UCPG_MCACHE_DEPOT_BYTES / 2);
    ucpg_mcache_trim();
    assert_int_equal(ucpg_mcache_depot_bytes(), 0);
}

/* --- fork -------------------------------------------------------------------------- */

static int churn_stop;     /* atomic */

/* Trades magazines with the depot all the time (allocate and free more
 * than two magazines' worth). */
static void *churn_blocks[256];   /* global: a child's valgrind still sees them */

static void *churn(void *arg)
{
    void **p = churn_blocks;
    int i;

    (void)arg;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
        for (i = 0; i < 256; ++i) {
            p[i] = ucpg_mcache_alloc(64);
        }
        for (i = 0; i < 256; ++i) {
            ucpg_mcache_free(p[i], 64);
        }
    }
    return NULL;
}

/* A child forked while another thread held a depot lock would hang on it:
 * the atfork handlers make fork wait for that lock instead. Skipped where
 * blocks go to malloc(): AddressSanitizer's allocator is not fork-safe in
 * this way (its children hang), and there is no depot to test. */
static void test_fork_while_another_thread_trades(void **state)
{
    pthread_t t;
    int round, status;

    (void)state;
    skip_without_cache();
    __atomic_store_n(&churn_stop, 0, __ATOMIC_RELAXED);
    assert_int_equal(pthread_create(&t, NULL, churn, NULL), 0);
    for (round = 0; round < 30; ++round) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(10);                    /* a hang fails the test */
            for (int i = 0; i < 20; ++i) {
                void *p[256];
                for (int j = 0; j < 256; ++j) {
                    p[j] = ucpg_mcache_alloc(64);
                }
                for (int j = 0; j < 256; ++j) {
                    ucpg_mcache_free(p[j], 64);
                }
            }
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* A thread that keeps 100 blocks in its cache and waits: alive in the
 * parent, left behind by fork. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int             cached, done;
} holder_t;

static void *hold_blocks(void *arg)
{
    holder_t *h = arg;

    alloc_free_and_exit(NULL);          /* 100 x 1000 B, all still in our cache */
    pthread_mutex_lock(&h->lock);
    h->cached = 1;
    pthread_cond_broadcast(&h->cond);
    while (!h->done) {
        pthread_cond_wait(&h->cond, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void test_child_takes_over_the_caches_of_threads_left_behind(void **state)
{
    holder_t h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_t t;
    int status;
    pid_t pid;

    (void)state;
    skip_without_cache();
    assert_int_equal(pthread_create(&t, NULL, hold_blocks, &h), 0);
    pthread_mutex_lock(&h.lock);
    while (!h.cached) {
        pthread_cond_wait(&h.cond, &h.lock);
    }
    pthread_mutex_unlock(&h.lock);
    assert_int_equal(ucpg_mcache_depot_bytes(), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(ucpg_mcache_depot_bytes() == 100 * 1024 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(ucpg_mcache_depot_bytes(), 0);    /* the parent's thread keeps them */
    pthread_mutex_lock(&h.lock);
    h.done = 1;
    pthread_cond_broadcast(&h.cond);
    pthread_mutex_unlock(&h.lock);
    assert_int_equal(pthread_join(t, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_round_up_to_their_class),
        cmocka_unit_test(test_every_byte_of_a_block_is_usable),
        cmocka_unit_test_setup(test_freed_block_is_reused_by_its_thread, setup_trimmed),
        cmocka_unit_test_setup(test_blocks_freed_by_another_thread_come_back, setup_trimmed),
        cmocka_unit_test_setup(test_exiting_thread_gives_its_blocks_to_the_depot,
                               setup_trimmed),
        cmocka_unit_test_setup(test_depot_is_bounded_per_class, setup_trimmed),
        cmocka_unit_test(test_fork_while_another_thread_trades),
        cmocka_unit_test_setup(test_child_takes_over_the_caches_of_threads_left_behind,
                               setup_trimmed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
