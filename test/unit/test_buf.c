/*
 * test_buf.c - unit tests of core/buf: reference counting, slices of a
 * block (the bodies of a received batch), and the cache
 * that gives large message buffers back instead of returning them to the
 * kernel (the reason a CPG stream of large messages does not page-fault on
 * every message), and message bodies of a few KiB at their exact size.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/mcache.h"

static int setup_empty_cache(void **state)
{
    (void)state;
    ucpg_buf_cache_trim();
    return 0;
}

static void test_new_sets_length_and_one_reference(void **state)
{
    size_t sizes[] = {0, 1, 100, UCPG_BUF_CACHE_MIN - 1, UCPG_BUF_CACHE_MIN, 1u << 20};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        ucpg_buf_t *buf = ucpg_buf_new(sizes[i]);
        assert_non_null(buf);
        assert_int_equal(buf->refs, 1);
        assert_int_equal(buf->user, 0);
        assert_int_equal(buf->len, sizes[i]);
        assert_int_equal(buf->cap, sizes[i]);
        memset(buf->data, 0xa5, sizes[i]);          /* all of it is ours (ASan) */
        assert_ptr_equal(ucpg_buf_of(buf->data), buf);
        ucpg_buf_put(buf);
    }
}

static void test_impossible_size_is_refused(void **state)
{
    (void)state;
    assert_null(ucpg_buf_new(SIZE_MAX));
    assert_null(ucpg_buf_new(SIZE_MAX - sizeof(ucpg_buf_t) + 1));
}

static void test_last_reference_releases(void **state)
{
    ucpg_buf_t *buf = ucpg_buf_new(1u << 20);

    (void)state;
    assert_ptr_equal(ucpg_buf_ref(buf), buf);
    assert_int_equal(buf->refs, 2);
    ucpg_buf_put(buf);
    assert_int_equal(ucpg_buf_cache_bytes(), 0);    /* still referenced */
    buf->data[(1u << 20) - 1] = 1;                  /* and still valid */
    ucpg_buf_put(buf);
    assert_true(ucpg_buf_cache_bytes() > 0);
    ucpg_buf_put(NULL);                             /* ignored */
    assert_null(ucpg_buf_ref(NULL));
}

static void test_large_buffer_is_reused(void **state)
{
    ucpg_buf_t *a, *b;

    (void)state;
    a = ucpg_buf_new(64u * 1024u);
    ucpg_buf_put(a);
    b = ucpg_buf_new(100u * 1024u);                 /* same power-of-two class */
    assert_ptr_equal(a, b);
    assert_int_equal(b->len, 100u * 1024u);
    assert_int_equal(b->refs, 1);
    assert_int_equal(ucpg_buf_cache_bytes(), 0);
    ucpg_buf_put(b);
}

static void test_other_class_is_not_reused(void **state)
{
    ucpg_buf_t *a, *b;

    (void)state;
    a = ucpg_buf_new(64u * 1024u);
    ucpg_buf_put(a);
    b = ucpg_buf_new(1u << 20);
    assert_ptr_not_equal(a, b);
    assert_true(ucpg_buf_cache_bytes() > 0);        /* a is still cached */
    ucpg_buf_put(b);
}

/* Up to UCPG_MCACHE_MAX with the header: core/mcache's, not this cache's. */
static void test_small_buffers_bypass_the_cache(void **state)
{
    ucpg_buf_t *a = ucpg_buf_new(UCPG_MCACHE_MAX - sizeof(ucpg_buf_t));
    ucpg_buf_t *b = ucpg_buf_new(UCPG_MCACHE_MAX - sizeof(ucpg_buf_t) + 1);

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    ucpg_buf_put(a);
    assert_int_equal(ucpg_buf_cache_bytes(), 0);
    ucpg_buf_put(b);                                 /* one byte more: cached here */
    assert_int_equal(ucpg_buf_cache_bytes(), UCPG_BUF_CACHE_MIN);
}

/* A body above UCPG_BUF_EXACT_MIN up to mcache's largest class takes
 * exactly its size (a power-of-two block would double it); smaller and
 * larger ones are allocated as ucpg_buf_new's. */
static void test_body_takes_its_exact_size(void **state)
{
    size_t sizes[] = {UCPG_BUF_EXACT_MIN + 1, 4096, 8000,
                      UCPG_MCACHE_MAX - sizeof(ucpg_buf_t)};
    ucpg_buf_t *buf, *ref;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        buf = ucpg_buf_new_body(sizes[i]);
        assert_non_null(buf);
        assert_int_equal(buf->refs, 1);
        assert_int_equal(buf->len, sizes[i]);
        assert_int_equal(buf->alloc_size, sizeof(ucpg_buf_t) + sizes[i]);
        memset(buf->data, 0x5a, sizes[i]);          /* all of it is ours (ASan) */
        assert_ptr_equal(ucpg_buf_of(buf->data), buf);
        ref = ucpg_buf_ref(buf);
        ucpg_buf_put(buf);
        assert_int_equal(ref->data[sizes[i] - 1], 0x5a);   /* still there */
        ucpg_buf_put(ref);                          /* freed (ASan/valgrind: no leak) */
    }
    buf = ucpg_buf_new_body(UCPG_BUF_EXACT_MIN);    /* small: mcache's class */
    assert_non_null(buf);
    assert_int_equal(buf->alloc_size,
                     ucpg_mcache_size(sizeof(ucpg_buf_t) + UCPG_BUF_EXACT_MIN));
    ucpg_buf_put(buf);
    buf = ucpg_buf_new_body(UCPG_MCACHE_MAX);       /* large: this cache's class */
    assert_non_null(buf);
    assert_int_equal(buf->alloc_size, UCPG_BUF_CACHE_MIN);
    ucpg_buf_put(buf);
    assert_int_equal(ucpg_buf_cache_bytes(), UCPG_BUF_CACHE_MIN);
    assert_null(ucpg_buf_new_body(SIZE_MAX));
}

static void test_huge_buffers_bypass_the_cache(void **state)
{
    ucpg_buf_t *buf = ucpg_buf_new(UCPG_BUF_CACHE_MAX);   /* + header: too big */

    (void)state;
    assert_non_null(buf);
    ucpg_buf_put(buf);
    assert_int_equal(ucpg_buf_cache_bytes(), 0);
}

static void test_cache_is_bounded(void **state)
{
    enum { N = 200 };
    static ucpg_buf_t *bufs[N];   /* 200 x 1 MiB buffers = 400 MiB of classes */
    int i;

    (void)state;
    for (i = 0; i < N; ++i) {
        bufs[i] = ucpg_buf_new(1u << 20);
        assert_non_null(bufs[i]);
    }
    for (i = 0; i < N; ++i) {
        ucpg_buf_put(bufs[i]);
        assert_true(ucpg_buf_cache_bytes() <= UCPG_BUF_CACHE_BYTES);
    }
    assert_true(ucpg_buf_cache_bytes() > UCPG_BUF_CACHE_BYTES / 2);
    ucpg_buf_cache_trim();
    assert_int_equal(ucpg_buf_cache_bytes(), 0);
}

/* Two threads create, fill, check and release buffers of mixed classes;
 * a buffer handed out twice would show as a wrong byte. */
static void *churn(void *arg)
{
    uint8_t tag = (uint8_t)(uintptr_t)arg;
    unsigned i;

    for (i = 0; i < 2000; ++i) {
        size_t len = (size_t)(16u * 1024u) << (i % 5);
        ucpg_buf_t *buf = ucpg_buf_new(len);
        size_t j;
        if (buf == NULL) {
            return (void*)1;
        }
        memset(buf->data, tag, len);
        for (j = 0; j < len; j += 4096) {
            if ((uint8_t)buf->data[j] != tag) {
                return (void*)1;
            }
        }
        ucpg_buf_put(ucpg_buf_ref(buf));
        ucpg_buf_put(buf);
    }
    return NULL;
}

static void test_threads_never_share_a_buffer(void **state)
{
    pthread_t t1, t2;
    void *r1, *r2;

    (void)state;
    assert_int_equal(pthread_create(&t1, NULL, churn, (void*)(uintptr_t)0x11), 0);
    assert_int_equal(pthread_create(&t2, NULL, churn, (void*)(uintptr_t)0x22), 0);
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    assert_null(r1);
    assert_null(r2);
}

/* --- slices of a block ----------------------------------------------------------- */

static void test_block_copies_and_slices_point_into_the_copy(void **state)
{
    char bytes[] = "0123456789abcdef";
    ucpg_buf_t *block = ucpg_buf_block_new(bytes, 16, 3), *a, *b;

    (void)state;
    assert_non_null(block);
    assert_int_equal(block->len, 16);
    assert_memory_equal(block->data, bytes, 16);
    assert_ptr_not_equal(block->data, bytes);            /* a copy */
    a = ucpg_buf_block_slice(block, 0, 2, 4);
    b = ucpg_buf_block_slice(block, 2, 10, 6);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->len, 4);
    assert_ptr_equal(a->data, block->data + 2);
    assert_memory_equal(a->data, "2345", 4);
    assert_memory_equal(b->data, "abcdef", 6);
    assert_int_equal(block->refs, 3);                    /* ours and one per slice */
    ucpg_buf_put(block);
    /* the slices keep the block: ASan would report reading freed memory */
    assert_memory_equal(ucpg_buf_ref(a)->data, "2345", 4);
    ucpg_buf_put(a);
    ucpg_buf_put(a);
    assert_memory_equal(b->data, "abcdef", 6);
    ucpg_buf_put(b);                                     /* the last: freed (LSan) */
}

static void test_slice_out_of_bounds_is_refused(void **state)
{
    char bytes[8] = {0};
    ucpg_buf_t *block = ucpg_buf_block_new(bytes, sizeof(bytes), 2);

    (void)state;
    assert_non_null(block);
    assert_null(ucpg_buf_block_slice(block, 2, 0, 1));   /* index */
    assert_null(ucpg_buf_block_slice(block, 0, 9, 0));   /* offset */
    assert_null(ucpg_buf_block_slice(block, 0, 4, 5));   /* length */
    assert_null(ucpg_buf_block_slice(block, 0, 0, SIZE_MAX));
    assert_int_equal(block->refs, 1);
    ucpg_buf_put(block);
    assert_null(ucpg_buf_block_new(bytes, SIZE_MAX, 1));
    block = ucpg_buf_block_new(bytes, 0, 0);             /* nothing: still a block */
    assert_non_null(block);
    assert_null(ucpg_buf_block_slice(block, 0, 0, 0));
    ucpg_buf_put(block);
}

/* A batch of 64 KiB lands in the cache's class and comes back whole. */
static void test_large_block_goes_back_to_the_cache(void **state)
{
    static char bytes[60000];
    ucpg_buf_t *block = ucpg_buf_block_new(bytes, sizeof(bytes), 40), *s;

    (void)state;
    assert_non_null(block);
    s = ucpg_buf_block_slice(block, 39, sizeof(bytes) - 1, 1);
    assert_non_null(s);
    ucpg_buf_put(block);
    assert_int_equal(ucpg_buf_cache_bytes(), 0);
    ucpg_buf_put(s);
    assert_int_equal(ucpg_buf_cache_bytes(), 65536);
}

/* Every byte of every length arrives, with source and destination at every
 * alignment within a line (alike or not: the streaming path and its head
 * and tail), and nothing beyond the destination is touched. */
static void check_copy(void (*copy)(void *, const void *, size_t))
{
    const size_t piece = UCPG_BUF_COPY_PIECE, stream = UCPG_BUF_STREAM_MIN;
    const size_t lens[] = {0, 1, 63, 64, stream - 1, stream, stream + 65, piece - 1, piece,
                           piece + 1, 2 * piece, 3 * piece + 7};
    const size_t max = 3 * piece + 7, guard = 16, room = max + 2 * guard + 128;
    unsigned char *src = malloc(max + 128), *dst = malloc(room);
    size_t i, k;

    assert_non_null(src);
    assert_non_null(dst);
    for (i = 0; i < max + 128; ++i) {
        src[i] = (unsigned char)(i * 31u + 7u);
    }
    for (k = 0; k < 4 * sizeof(lens) / sizeof(lens[0]); ++k) {
        size_t len = lens[k % (sizeof(lens) / sizeof(lens[0]))];
        unsigned char *to = dst + guard + (k * 7u) % 64u;
        const unsigned char *from = src + (k * 13u) % 64u;

        memset(dst, 0xA5, room);
        copy(to, from, len);
        assert_memory_equal(to, from, len);
        for (i = 0; i < guard; ++i) {
            assert_int_equal(to[-1 - (ptrdiff_t)i], 0xA5);
            assert_int_equal(to[len + i], 0xA5);
        }
    }
    free(src);
    free(dst);
}

static void test_copy_moves_every_byte_and_no_more(void **state)
{
    (void)state;
    check_copy(ucpg_buf_copy);
}

static void test_shared_copy_moves_every_byte_and_no_more(void **state)
{
    (void)state;
    check_copy(ucpg_buf_copy_shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_new_sets_length_and_one_reference, setup_empty_cache),
        cmocka_unit_test_setup(test_impossible_size_is_refused, setup_empty_cache),
        cmocka_unit_test_setup(test_last_reference_releases, setup_empty_cache),
        cmocka_unit_test_setup(test_large_buffer_is_reused, setup_empty_cache),
        cmocka_unit_test_setup(test_other_class_is_not_reused, setup_empty_cache),
        cmocka_unit_test_setup(test_small_buffers_bypass_the_cache, setup_empty_cache),
        cmocka_unit_test_setup(test_huge_buffers_bypass_the_cache, setup_empty_cache),
        cmocka_unit_test_setup(test_body_takes_its_exact_size, setup_empty_cache),
        cmocka_unit_test_setup(test_cache_is_bounded, setup_empty_cache),
        cmocka_unit_test_setup(test_threads_never_share_a_buffer, setup_empty_cache),
        cmocka_unit_test_setup(test_block_copies_and_slices_point_into_the_copy,
                               setup_empty_cache),
        cmocka_unit_test_setup(test_slice_out_of_bounds_is_refused, setup_empty_cache),
        cmocka_unit_test_setup(test_large_block_goes_back_to_the_cache, setup_empty_cache),
        cmocka_unit_test(test_copy_moves_every_byte_and_no_more),
        cmocka_unit_test(test_shared_copy_moves_every_byte_and_no_more),
    };

    return cmocka_run_group_tests(tests, NULL, setup_empty_cache);
}
