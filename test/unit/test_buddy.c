/*
 * test_buddy.c - unit tests of core/buddy, the allocator that carves the
 * shared-memory pool (shm_pool.c) into message buffers.
 *
 * What the pool relies on: a block is never handed out twice (two messages
 * would share a body), sizes are powers of two that hold what was asked,
 * freed blocks merge so a full-size body fits again after a burst of small
 * ones, the lowest free block is taken first (the pool's pages stay warm and
 * a reused block is recognisably the same offset), and a bogus free (a peer
 * or a bug naming the wrong offset) changes nothing. A randomized run checks
 * all of it against a model that knows nothing of buddies: an array with one
 * entry per smallest block.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buddy.h"


/* --- helpers -------------------------------------------------------------- */

static uint64_t pow2(unsigned k)
{
    return (uint64_t)1 << k;
}

/* A buddy over [0, 2^max_order) that must initialize. */
static void init_ok(ucpg_buddy_t *b, unsigned min_order, unsigned max_order)
{
    assert_int_equal(ucpg_buddy_init(b, min_order, max_order), UCPG_OK);
    assert_int_equal(b->used, 0);
}

/* Allocates len bytes, which must succeed, and returns the offset. */
static uint64_t alloc_ok(ucpg_buddy_t *b, size_t len)
{
    uint64_t off = ucpg_buddy_alloc(b, len);

    assert_true(off != UCPG_BUDDY_NONE);
    return off;
}

/* A free that must be refused, and must leave the bookkeeping as it was:
 * `used`, and the size of every block the caller still holds. */
static void assert_free_refused(ucpg_buddy_t *b, uint64_t offset, const uint64_t *held,
                                size_t nheld)
{
    uint64_t used = b->used;
    size_t sizes[8], i;

    assert_true(nheld <= 8);
    for (i = 0; i < nheld; ++i) {
        sizes[i] = ucpg_buddy_block_size(b, held[i]);
    }
    assert_int_equal(ucpg_buddy_free(b, offset), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(b->used, used);
    for (i = 0; i < nheld; ++i) {
        assert_int_equal(ucpg_buddy_block_size(b, held[i]), sizes[i]);
    }
}


/* --- init ----------------------------------------------------------------- */

static void test_init_rejects_min_order_above_max_order(void **state)
{
    ucpg_buddy_t b;

    (void)state;
    assert_int_equal(ucpg_buddy_init(&b, 11, 10), UCPG_ERR_INVALID_PARAM);
}

static void test_init_rejects_max_order_beyond_the_order_table(void **state)
{
    ucpg_buddy_t b;

    (void)state;
    assert_int_equal(ucpg_buddy_init(&b, 40, UCPG_BUDDY_ORDERS), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_buddy_init(&b, 40, UCPG_BUDDY_ORDERS + 10), UCPG_ERR_INVALID_PARAM);
}

/* The bookkeeping is one entry per smallest block: more than 2^24 of them
 * is refused rather than allocated. */
static void test_init_rejects_more_than_2_pow_24_smallest_blocks(void **state)
{
    ucpg_buddy_t b;

    (void)state;
    assert_int_equal(ucpg_buddy_init(&b, 0, 25), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_buddy_init(&b, 16, 16 + 25), UCPG_ERR_INVALID_PARAM);
}

/* The largest range the table allows (2^47 bytes) works and is one block. */
static void test_largest_order_range_is_one_block(void **state)
{
    ucpg_buddy_t b;

    (void)state;
    init_ok(&b, 30, UCPG_BUDDY_ORDERS - 1);
    assert_int_equal(ucpg_buddy_alloc(&b, (size_t)pow2(47) + 1), UCPG_BUDDY_NONE);
    assert_int_equal(alloc_ok(&b, (size_t)pow2(47)), 0);
    assert_int_equal(b.used, pow2(47));
    assert_int_equal(ucpg_buddy_block_size(&b, 0), (size_t)pow2(47));
    assert_int_equal(ucpg_buddy_alloc(&b, 1), UCPG_BUDDY_NONE);
    assert_int_equal(ucpg_buddy_free(&b, 0), UCPG_OK);
    assert_int_equal(b.used, 0);
    ucpg_buddy_cleanup(&b);
}

/* min_order == max_order: a range of exactly one smallest block. */
static void test_single_block_range_hands_out_one_block(void **state)
{
    ucpg_buddy_t b;

    (void)state;
    init_ok(&b, 6, 6);
    assert_int_equal(alloc_ok(&b, 1), 0);
    assert_int_equal(ucpg_buddy_alloc(&b, 1), UCPG_BUDDY_NONE);
    assert_int_equal(ucpg_buddy_free(&b, 0), UCPG_OK);
    assert_int_equal(alloc_ok(&b, 64), 0);
    ucpg_buddy_cleanup(&b);
}


/* --- sizes ------------------------------------------------------------------ */

/* Every request gets the smallest power of two, at least 2^min_order, that
 * holds it; `used` counts those block sizes, not the bytes asked for. */
static void test_sizes_round_up_to_powers_of_two(void **state)
{
    static const struct {
        size_t len;
        size_t block;
    } cases[] = {
        { 0, 16 }, { 1, 16 }, { 15, 16 }, { 16, 16 }, { 17, 32 }, { 32, 32 },
        { 33, 64 }, { 100, 128 }, { 128, 128 }, { 129, 256 }, { 1023, 1024 },
    };
    ucpg_buddy_t b;
    uint64_t off;
    size_t i;

    (void)state;
    init_ok(&b, 4, 10);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        off = alloc_ok(&b, cases[i].len);
        assert_int_equal(ucpg_buddy_block_size(&b, off), cases[i].block);
        assert_int_equal(off % cases[i].block, 0);      /* blocks are aligned */
        assert_int_equal(b.used, cases[i].block);
        assert_int_equal(ucpg_buddy_free(&b, off), UCPG_OK);
        assert_int_equal(b.used, 0);
    }
    ucpg_buddy_cleanup(&b);
}

static void test_request_larger_than_the_range_gets_none(void **state)
{
    ucpg_buddy_t b;

    (void)state;
    init_ok(&b, 4, 10);
    assert_int_equal(ucpg_buddy_alloc(&b, 1025), UCPG_BUDDY_NONE);
    assert_int_equal(ucpg_buddy_alloc(&b, SIZE_MAX), UCPG_BUDDY_NONE);
    assert_int_equal(b.used, 0);
    assert_int_equal(alloc_ok(&b, 1024), 0);            /* nothing was taken */
    ucpg_buddy_cleanup(&b);
}

static void test_block_size_is_zero_where_no_allocated_block_starts(void **state)
{
    ucpg_buddy_t b;
    uint64_t off;

    (void)state;
    init_ok(&b, 4, 10);
    assert_int_equal(ucpg_buddy_block_size(&b, 0), 0);      /* free */
    off = alloc_ok(&b, 64);
    assert_int_equal(ucpg_buddy_block_size(&b, off), 64);
    assert_int_equal(ucpg_buddy_block_size(&b, off + 16), 0);  /* inside */
    assert_int_equal(ucpg_buddy_block_size(&b, off + 1), 0);   /* misaligned */
    assert_int_equal(ucpg_buddy_block_size(&b, 64), 0);        /* free buddy */
    assert_int_equal(ucpg_buddy_block_size(&b, 1024), 0);      /* past the end */
    assert_int_equal(ucpg_buddy_block_size(&b, UINT64_MAX), 0);
    ucpg_buddy_cleanup(&b);
}


/* --- never twice, full, merge --------------------------------------------------- */

/* Mixed sizes until not even the smallest block is left: every block lies in
 * the range, is aligned to its size and overlaps no other, and together they
 * cover the range exactly. */
static void test_blocks_never_overlap_until_full(void **state)
{
    static const size_t lens[] = { 1, 100, 16, 300, 17, 64, 1000, 33, 2000, 5, 129, 4096 };
    enum { MIN = 4, MAX = 14, MAXBLOCKS = 1u << (MAX - MIN) };
    static uint64_t off[MAXBLOCKS], size[MAXBLOCKS];
    ucpg_buddy_t b;
    uint64_t o, total = 0;
    size_t n = 0, i, j, misses = 0;

    (void)state;
    init_ok(&b, MIN, MAX);
    /* Keep asking in turn; a size that no longer fits is skipped, until a
     * whole round of sizes fails (then even 1 byte failed). */
    for (i = 0; misses < sizeof(lens) / sizeof(lens[0]); ++i) {
        o = ucpg_buddy_alloc(&b, lens[i % (sizeof(lens) / sizeof(lens[0]))]);
        if (o == UCPG_BUDDY_NONE) {
            ++misses;
            continue;
        }
        misses = 0;
        assert_true(n < MAXBLOCKS);
        off[n]  = o;
        size[n] = ucpg_buddy_block_size(&b, o);
        ++n;
    }
    assert_true(n > 10);
    for (i = 0; i < n; ++i) {
        assert_true(size[i] >= pow2(MIN));
        assert_int_equal(off[i] % size[i], 0);
        assert_true(off[i] + size[i] <= pow2(MAX));
        for (j = i + 1; j < n; ++j) {
            assert_true((off[i] + size[i] <= off[j]) || (off[j] + size[j] <= off[i]));
        }
        total += size[i];
    }
    assert_int_equal(total, pow2(MAX));
    assert_int_equal(b.used, pow2(MAX));
    ucpg_buddy_cleanup(&b);
}

static void test_full_range_gives_none_and_takes_nothing(void **state)
{
    ucpg_buddy_t b;

    (void)state;
    init_ok(&b, 4, 8);
    assert_int_equal(alloc_ok(&b, 128), 0);
    assert_int_equal(alloc_ok(&b, 64), 128);
    assert_int_equal(alloc_ok(&b, 64), 192);
    assert_int_equal(b.used, 256);
    assert_int_equal(ucpg_buddy_alloc(&b, 0), UCPG_BUDDY_NONE);
    assert_int_equal(ucpg_buddy_alloc(&b, 16), UCPG_BUDDY_NONE);
    assert_int_equal(ucpg_buddy_alloc(&b, 256), UCPG_BUDDY_NONE);
    assert_int_equal(b.used, 256);
    ucpg_buddy_cleanup(&b);
}

/* After a burst of small blocks, freed in an order that leaves no two
 * neighbours free for a while, the range merges back into one block. */
static void test_freeing_everything_merges_back_to_one_max_block(void **state)
{
    enum { MIN = 4, MAX = 10, N = 1u << (MAX - MIN) };
    uint64_t off[N];
    ucpg_buddy_t b;
    size_t i;

    (void)state;
    init_ok(&b, MIN, MAX);
    for (i = 0; i < N; ++i) {
        off[i] = alloc_ok(&b, 1);
    }
    assert_int_equal(ucpg_buddy_alloc(&b, 1), UCPG_BUDDY_NONE);
    for (i = 0; i < N; i += 2) {                   /* every other one first */
        assert_int_equal(ucpg_buddy_free(&b, off[i]), UCPG_OK);
    }
    /* Half the range is free but no two free blocks are buddies. */
    assert_int_equal(b.used, pow2(MAX) / 2);
    assert_int_equal(ucpg_buddy_alloc(&b, 2 * pow2(MIN)), UCPG_BUDDY_NONE);
    for (i = 1; i < N; i += 2) {
        assert_int_equal(ucpg_buddy_free(&b, off[i]), UCPG_OK);
    }
    assert_int_equal(b.used, 0);
    assert_int_equal(alloc_ok(&b, (size_t)pow2(MAX)), 0);
    ucpg_buddy_cleanup(&b);
}

/* Mixed sizes freed in reverse order merge back too. */
static void test_mixed_sizes_freed_in_reverse_merge_back(void **state)
{
    static const size_t lens[] = { 16, 512, 32, 64, 16, 128, 100, 16 };
    enum { N = sizeof(lens) / sizeof(lens[0]) };
    uint64_t off[N];
    ucpg_buddy_t b;
    size_t i;

    (void)state;
    init_ok(&b, 4, 11);
    for (i = 0; i < N; ++i) {
        off[i] = alloc_ok(&b, lens[i]);
    }
    for (i = N; i-- > 0;) {
        assert_int_equal(ucpg_buddy_free(&b, off[i]), UCPG_OK);
    }
    assert_int_equal(b.used, 0);
    assert_int_equal(alloc_ok(&b, 2048), 0);
    ucpg_buddy_cleanup(&b);
}


/* --- lowest offset first ---------------------------------------------------------- */

static void test_allocation_takes_the_lowest_free_block(void **state)
{
    uint64_t a, c, d, e;
    ucpg_buddy_t b;

    (void)state;
    init_ok(&b, 4, 10);
    a = alloc_ok(&b, 16);
    assert_int_equal(a, 0);
    assert_int_equal(alloc_ok(&b, 16), 16);
    c = alloc_ok(&b, 16);
    assert_int_equal(c, 32);
    d = alloc_ok(&b, 64);
    assert_int_equal(d, 64);
    e = alloc_ok(&b, 16);
    assert_int_equal(e, 48);                       /* the hole before d */

    /* A freed low block is the next one of its size handed out, although
     * higher blocks of that size are free too. */
    assert_int_equal(ucpg_buddy_free(&b, a), UCPG_OK);
    assert_int_equal(alloc_ok(&b, 16), a);
    assert_int_equal(ucpg_buddy_free(&b, c), UCPG_OK);
    assert_int_equal(alloc_ok(&b, 1), c);
    ucpg_buddy_cleanup(&b);
}

/* The lowest suitable block wins even if a larger free block must be split
 * for it while a block of the exact size is free higher up. */
static void test_lowest_offset_wins_over_an_exact_fit_higher_up(void **state)
{
    uint64_t lo, mid, hi;
    ucpg_buddy_t b;

    (void)state;
    init_ok(&b, 4, 8);
    lo  = alloc_ok(&b, 64);                        /* 0 */
    mid = alloc_ok(&b, 64);                        /* 64 */
    hi  = alloc_ok(&b, 16);                        /* 128, splits 128..255 */
    assert_int_equal(lo, 0);
    assert_int_equal(mid, 64);
    assert_int_equal(hi, 128);
    /* Now free: 16-byte block at 144, 32 at 160, 64 at 192. Freeing lo adds
     * a 64-byte block at 0: lower than the 16-byte one at 144. */
    assert_int_equal(ucpg_buddy_free(&b, lo), UCPG_OK);
    assert_int_equal(alloc_ok(&b, 16), 0);
    ucpg_buddy_cleanup(&b);
}


/* --- bogus frees change nothing -------------------------------------------------- */

static void test_double_free_is_refused_and_changes_nothing(void **state)
{
    ucpg_buddy_t b;
    uint64_t a, c;

    (void)state;
    init_ok(&b, 4, 10);
    a = alloc_ok(&b, 64);
    c = alloc_ok(&b, 64);
    assert_int_equal(ucpg_buddy_free(&b, a), UCPG_OK);
    assert_free_refused(&b, a, &c, 1);
    /* Were the second free taken, `used` would drop below c's 64 bytes or
     * a would be handed out twice. */
    assert_int_equal(b.used, 64);
    assert_int_equal(alloc_ok(&b, 64), a);
    assert_int_equal(ucpg_buddy_alloc(&b, 1024), UCPG_BUDDY_NONE);
    ucpg_buddy_cleanup(&b);
}

static void test_free_of_an_interior_offset_is_refused(void **state)
{
    ucpg_buddy_t b;
    uint64_t a;

    (void)state;
    init_ok(&b, 4, 10);
    a = alloc_ok(&b, 256);
    assert_free_refused(&b, a + 16, &a, 1);        /* a smallest-block boundary */
    assert_free_refused(&b, a + 128, &a, 1);       /* a would-be buddy's start */
    assert_int_equal(ucpg_buddy_block_size(&b, a), 256);
    ucpg_buddy_cleanup(&b);
}

static void test_free_of_a_misaligned_offset_is_refused(void **state)
{
    ucpg_buddy_t b;
    uint64_t a;

    (void)state;
    init_ok(&b, 4, 10);
    a = alloc_ok(&b, 16);
    assert_free_refused(&b, a + 1, &a, 1);
    assert_free_refused(&b, a + 8, &a, 1);
    assert_free_refused(&b, a + 15, &a, 1);
    ucpg_buddy_cleanup(&b);
}

static void test_free_out_of_range_is_refused(void **state)
{
    ucpg_buddy_t b;
    uint64_t a;

    (void)state;
    init_ok(&b, 4, 10);
    a = alloc_ok(&b, 16);
    assert_free_refused(&b, 1024, &a, 1);
    assert_free_refused(&b, 2048, &a, 1);
    assert_free_refused(&b, UINT64_MAX, &a, 1);
    assert_free_refused(&b, UCPG_BUDDY_NONE, &a, 1);
    assert_free_refused(&b, UINT64_MAX & ~(uint64_t)15, &a, 1);  /* aligned, far out */
    ucpg_buddy_cleanup(&b);
}

/* A free block's start is not an allocated block either, including the
 * whole range before anything was allocated. */
static void test_free_of_a_free_block_is_refused(void **state)
{
    ucpg_buddy_t b;
    uint64_t a;

    (void)state;
    init_ok(&b, 4, 10);
    assert_free_refused(&b, 0, NULL, 0);
    a = alloc_ok(&b, 16);                          /* splits: free 16, 32, ... 512 */
    assert_free_refused(&b, 16, &a, 1);
    assert_free_refused(&b, 32, &a, 1);
    assert_free_refused(&b, 512, &a, 1);
    assert_int_equal(ucpg_buddy_free(&b, a), UCPG_OK);
    assert_int_equal(alloc_ok(&b, 1024), 0);       /* still merges back whole */
    ucpg_buddy_cleanup(&b);
}


/* --- randomized, against a shadow model ------------------------------------------- */

/*
 * The model: owner[i] is 0 when smallest block i is free, else the number of
 * the allocation holding it. It predicts every answer of the allocator:
 * with buddies that always merge, a request of order k fails exactly when no
 * aligned run of 2^k bytes is wholly free, and lowest-first returns the
 * lowest such run.
 */
typedef struct {
    uint64_t off;
    uint64_t size;
} live_t;

static uint64_t rng_state;

static uint64_t rng_next(void)          /* splitmix64: the same on every host */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t n)
{
    return rng_next() % n;
}

/* The lowest offset of a wholly free aligned run of `span` smallest blocks. */
static uint64_t model_lowest_free(const uint32_t *owner, uint32_t nblocks, uint32_t span,
                                  unsigned min_order)
{
    uint32_t i, j;

    for (i = 0; i < nblocks; i += span) {
        for (j = 0; (j < span) && (owner[i + j] == 0); ++j) {
        }
        if (j == span) {
            return (uint64_t)i << min_order;
        }
    }
    return UCPG_BUDDY_NONE;
}

static void stress(unsigned min_order, unsigned max_order, unsigned long ops, uint64_t seed)
{
    const uint32_t nblocks = (uint32_t)1 << (max_order - min_order);
    uint32_t *owner = calloc(nblocks, sizeof(*owner));
    live_t *live    = calloc(nblocks, sizeof(*live));
    uint64_t used = 0, expect, got, off, len;
    uint32_t nlive = 0, span = 0, i, id = 0;
    unsigned long op;
    unsigned k;
    ucpg_buddy_t b;

    assert_non_null(owner);
    assert_non_null(live);
    rng_state = seed;
    init_ok(&b, min_order, max_order);
    for (op = 0; op < ops; ++op) {
        unsigned what = (unsigned)rng_below(100);

        if ((what < 55) || (nlive == 0)) {
            /* Allocate: an order skewed to small (so the range fills up),
             * a length anywhere in (2^(k-1), 2^k] to exercise rounding. */
            k   = min_order + (unsigned)rng_below(1 + rng_below(max_order - min_order + 2));
            len = (k > max_order) ? pow2(max_order) + 1 + rng_below(64)
                                  : (k == min_order) ? rng_below(pow2(k) + 1)
                                                     : pow2(k - 1) + 1 + rng_below(pow2(k - 1));
            if (k > max_order) {
                expect = UCPG_BUDDY_NONE;
            } else {
                span   = (uint32_t)1 << (k - min_order);
                expect = model_lowest_free(owner, nblocks, span, min_order);
            }
            got = ucpg_buddy_alloc(&b, (size_t)len);
            assert_int_equal(got, expect);
            if (got != UCPG_BUDDY_NONE) {
                assert_int_equal(ucpg_buddy_block_size(&b, got), pow2(k));
                ++id;
                for (i = 0; i < span; ++i) {
                    owner[(got >> min_order) + i] = id;
                }
                live[nlive].off  = got;
                live[nlive].size = pow2(k);
                ++nlive;
                used += pow2(k);
            }
        } else if (what < 95) {
            /* Free a random live block. */
            i   = (uint32_t)rng_below(nlive);
            off = live[i].off;
            assert_int_equal(ucpg_buddy_block_size(&b, off), live[i].size);
            assert_int_equal(ucpg_buddy_free(&b, off), UCPG_OK);
            memset(&owner[off >> min_order], 0,
                   (size_t)(live[i].size >> min_order) * sizeof(*owner));
            used    -= live[i].size;
            live[i]  = live[--nlive];
        } else {
            /* A bogus free: any offset where no live block starts. */
            off = rng_below(pow2(max_order) + pow2(min_order) * 2);
            for (i = 0; (i < nlive) && (live[i].off != off); ++i) {
            }
            if (i == nlive) {
                assert_int_equal(ucpg_buddy_free(&b, off), UCPG_ERR_INVALID_PARAM);
            }
        }
        assert_int_equal(b.used, used);
    }

    /* Whatever the history, freeing what is left gives the whole range back. */
    while (nlive > 0) {
        assert_int_equal(ucpg_buddy_free(&b, live[--nlive].off), UCPG_OK);
    }
    assert_int_equal(b.used, 0);
    assert_int_equal(alloc_ok(&b, (size_t)pow2(max_order)), 0);
    ucpg_buddy_cleanup(&b);
    free(live);
    free(owner);
}

static void test_random_operations_match_a_shadow_model(void **state)
{
    (void)state;
    stress(4, 12, 100000, 1);       /* 256 smallest blocks */
}

/* Byte-sized smallest blocks: order 0 and lengths 0 and 1 get no special case. */
static void test_random_operations_with_byte_blocks_match_a_shadow_model(void **state)
{
    (void)state;
    stress(0, 6, 20000, 2);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_min_order_above_max_order),
        cmocka_unit_test(test_init_rejects_max_order_beyond_the_order_table),
        cmocka_unit_test(test_init_rejects_more_than_2_pow_24_smallest_blocks),
        cmocka_unit_test(test_largest_order_range_is_one_block),
        cmocka_unit_test(test_single_block_range_hands_out_one_block),
        cmocka_unit_test(test_sizes_round_up_to_powers_of_two),
        cmocka_unit_test(test_request_larger_than_the_range_gets_none),
        cmocka_unit_test(test_block_size_is_zero_where_no_allocated_block_starts),
        cmocka_unit_test(test_blocks_never_overlap_until_full),
        cmocka_unit_test(test_full_range_gives_none_and_takes_nothing),
        cmocka_unit_test(test_freeing_everything_merges_back_to_one_max_block),
        cmocka_unit_test(test_mixed_sizes_freed_in_reverse_merge_back),
        cmocka_unit_test(test_allocation_takes_the_lowest_free_block),
        cmocka_unit_test(test_lowest_offset_wins_over_an_exact_fit_higher_up),
        cmocka_unit_test(test_double_free_is_refused_and_changes_nothing),
        cmocka_unit_test(test_free_of_an_interior_offset_is_refused),
        cmocka_unit_test(test_free_of_a_misaligned_offset_is_refused),
        cmocka_unit_test(test_free_out_of_range_is_refused),
        cmocka_unit_test(test_free_of_a_free_block_is_refused),
        cmocka_unit_test(test_random_operations_match_a_shadow_model),
        cmocka_unit_test(test_random_operations_with_byte_blocks_match_a_shadow_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
