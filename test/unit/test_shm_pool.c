/*
 * test_shm_pool.c - unit tests of core/shm_pool: the System V segment that
 * carries large message bodies to the processes of this host, and the
 * read-only views through which they copy the bodies out.
 *
 * These tests create real segments (1 MiB each, marked for removal at once
 * by the pool, so a failed run leaves nothing behind). A host that refuses
 * them fails the tests: the feature is not tested there, which must not look
 * like a pass.
 *
 * What a sender relies on: pool buffers behave like heap buffers (one
 * reference, the last put returns the block), a full pool says so (NULL:
 * the caller falls back to UCX) and the pool lives on while a buffer is out.
 * What a reader relies on: a view of an offer reads the body byte for byte,
 * in this process or another; a body whose block was reused is reported,
 * never delivered; a released body that was not reused is still there (an
 * exiting sender's unconfirmed bodies); offsets and lengths from the wire
 * cannot reach outside the segment; an offer that does not name the pool
 * (other segment, size or cookie) is refused; and the view cannot write.
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
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/shm_pool.h"

#define POOL_BYTES  (1u << 20)          /* 16 blocks of 64 KiB */
#define BLOCK       (64u * 1024u)       /* the pool's smallest block */
#define NBLOCKS     (POOL_BYTES / BLOCK)
#define BODY_HDR    sizeof(ucpg_buf_t)          /* UCPG_BUF_BODY */
#define BODY_LEN    (100u * 1000u)      /* a large body: a 128 KiB block */


/* --- helpers -------------------------------------------------------------- */

static ucpg_shm_pool_t *pool_create(void)
{
    ucpg_shm_pool_t *pool = NULL;

    /* Fails (not skips) where the system refuses the segment. */
    assert_int_equal(ucpg_shm_pool_create(POOL_BYTES, &pool), UCPG_OK);
    assert_non_null(pool);
    assert_int_equal(ucpg_shm_pool_size(pool), POOL_BYTES);
    assert_int_equal(ucpg_shm_pool_used(pool), 0);
    return pool;
}

static ucpg_buf_t *buf_new_ok(ucpg_shm_pool_t *pool, size_t len)
{
    ucpg_buf_t *buf = ucpg_shm_pool_buf_new(pool, len);

    assert_non_null(buf);
    return buf;
}

/* A pattern that differs per position and per seed, and is not periodic in
 * a page or a block, so a shifted or mixed-up copy shows. */
static uint8_t pattern_byte(size_t i, unsigned seed)
{
    return (uint8_t)((i * 131u) ^ (i >> 9) ^ (seed * 0x5bu));
}

static void pattern_fill(void *p, size_t n, unsigned seed)
{
    uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; ++i) {
        b[i] = pattern_byte(i, seed);
    }
}

static int pattern_check(const void *p, size_t n, unsigned seed)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; ++i) {
        if (b[i] != pattern_byte(i, seed)) {
            return 0;
        }
    }
    return 1;
}

static void view_attach_ok(const ucpg_shm_pool_t *pool, ucpg_shm_view_t *view)
{
    ucpg_shm_offer_t offer;

    ucpg_shm_pool_offer(pool, &offer);
    assert_int_equal(ucpg_shm_view_attach(&offer, view), UCPG_OK);
    assert_non_null(view->base);
    assert_int_equal(view->size, offer.size);
    assert_int_equal(view->shmid, offer.shmid);
}

/* Waits at most ~10 s for a child; a child that hangs is killed and the
 * test fails instead of hanging the suite. Returns the wait status. */
static int wait_child(pid_t pid)
{
    struct timespec tick = { 0, 10 * 1000 * 1000 };
    int wstatus = 0, i;
    pid_t r;

    for (i = 0; i < 1000; ++i) {
        r = waitpid(pid, &wstatus, WNOHANG);
        if (r == pid) {
            return wstatus;
        }
        assert_int_equal(r, 0);
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &wstatus, 0);
    fail_msg("child %d did not finish within 10 s", (int)pid);
    return -1;
}

/* The permissions ("rw-s", "r--s", ...) of the mapping holding addr, from
 * /proc/self/maps, into perms[5]. */
static void mapping_perms(const void *addr, char perms[5])
{
    FILE *maps = fopen("/proc/self/maps", "r");
    unsigned long start, end;
    char line[512];
    int found = 0;

    assert_non_null(maps);
    while (!found && (fgets(line, sizeof(line), maps) != NULL)) {
        if ((sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3) &&
            ((uintptr_t)addr >= start) && ((uintptr_t)addr < end)) {
            found = 1;
        }
    }
    fclose(maps);
    assert_true(found);
}


/* --- creation --------------------------------------------------------------- */

static void test_pool_size_rounds_down_to_a_power_of_two(void **state)
{
    ucpg_shm_pool_t *pool = NULL;

    (void)state;
    assert_int_equal(ucpg_shm_pool_create(POOL_BYTES + POOL_BYTES / 2, &pool), UCPG_OK);
    assert_int_equal(ucpg_shm_pool_size(pool), POOL_BYTES);
    ucpg_shm_pool_release(pool);
}

/* Below one smallest block there is no pool to speak of. */
static void test_pool_smaller_than_one_block_is_refused(void **state)
{
    ucpg_shm_pool_t *pool = NULL;

    (void)state;
    assert_int_equal(ucpg_shm_pool_create(BLOCK - 1, &pool), UCPG_ERR_INVALID_PARAM);
    assert_null(pool);
    assert_int_equal(ucpg_shm_pool_create(0, &pool), UCPG_ERR_INVALID_PARAM);
    assert_null(pool);
    ucpg_shm_pool_release(NULL);                    /* ignored */
}


/* --- buffers ---------------------------------------------------------------- */

static void test_pool_buffer_has_one_reference_and_the_length_asked(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_buf_t *buf;
    uint64_t off;

    (void)state;
    buf = buf_new_ok(pool, BODY_LEN);
    assert_int_equal(buf->refs, 1);
    assert_int_equal(buf->user, 0);
    assert_int_equal(buf->len, BODY_LEN);
    assert_int_equal(buf->cap, BODY_LEN);
    assert_true(buf->gen != 0);
    assert_ptr_equal(ucpg_buf_of(buf->data), buf);
    memset(buf->data, 0xa5, BODY_LEN);              /* all of it is ours */

    /* In the segment, past the cookie page, at a block boundary. */
    off = ucpg_shm_pool_offset(pool, buf);
    assert_true(off >= UCPG_SHM_POOL_HDR);
    assert_true(off + BODY_HDR + BODY_LEN <= UCPG_SHM_POOL_HDR + POOL_BYTES);
    assert_int_equal((off - UCPG_SHM_POOL_HDR) % BLOCK, 0);
    assert_int_equal(ucpg_shm_pool_used(pool), 2 * BLOCK);   /* header + body round up */

    ucpg_buf_put(buf);
    assert_int_equal(ucpg_shm_pool_used(pool), 0);
    ucpg_shm_pool_release(pool);
}

static void test_last_reference_returns_the_block_to_the_pool(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_buf_t *buf;

    (void)state;
    buf = buf_new_ok(pool, 1);
    assert_ptr_equal(ucpg_buf_ref(buf), buf);
    assert_int_equal(buf->refs, 2);
    ucpg_buf_put(buf);
    assert_int_equal(ucpg_shm_pool_used(pool), BLOCK);      /* still referenced */
    buf->data[0] = 1;                                       /* and still valid */
    ucpg_buf_put(buf);
    assert_int_equal(ucpg_shm_pool_used(pool), 0);
    ucpg_shm_pool_release(pool);
}

/* A full pool says so: the sender then puts the body on the heap. */
static void test_full_pool_gives_null(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_buf_t *bufs[NBLOCKS], *again;
    size_t i;

    (void)state;
    for (i = 0; i < NBLOCKS; ++i) {
        bufs[i] = buf_new_ok(pool, 1);
    }
    assert_int_equal(ucpg_shm_pool_used(pool), POOL_BYTES);
    assert_null(ucpg_shm_pool_buf_new(pool, 0));
    assert_null(ucpg_shm_pool_buf_new(pool, 1));
    assert_int_equal(ucpg_shm_pool_used(pool), POOL_BYTES);

    /* One block back, one buffer more. */
    ucpg_buf_put(bufs[3]);
    again = buf_new_ok(pool, 1);
    assert_null(ucpg_shm_pool_buf_new(pool, 1));
    ucpg_buf_put(again);
    for (i = 0; i < NBLOCKS; ++i) {
        if (i != 3) {
            ucpg_buf_put(bufs[i]);
        }
    }
    assert_int_equal(ucpg_shm_pool_used(pool), 0);
    ucpg_shm_pool_release(pool);
}

/* The largest body is the whole pool less the buffer's header; one byte
 * more never fits, nor does a length whose header would overflow size_t. */
static void test_body_larger_than_the_pool_gives_null(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_buf_t *buf;

    (void)state;
    assert_null(ucpg_shm_pool_buf_new(pool, POOL_BYTES - sizeof(ucpg_buf_t) + 1));
    assert_null(ucpg_shm_pool_buf_new(pool, POOL_BYTES + UCPG_SHM_POOL_HDR));
    assert_null(ucpg_shm_pool_buf_new(pool, SIZE_MAX));
    assert_null(ucpg_shm_pool_buf_new(pool, SIZE_MAX - sizeof(ucpg_buf_t) + 1));
    assert_int_equal(ucpg_shm_pool_used(pool), 0);
    buf = buf_new_ok(pool, POOL_BYTES - sizeof(ucpg_buf_t));
    memset(buf->data, 0x5a, buf->len);
    assert_int_equal(ucpg_shm_pool_used(pool), POOL_BYTES);
    ucpg_buf_put(buf);
    ucpg_shm_pool_release(pool);
}

/* Buffers filled to the last byte of their blocks leave the cookie page
 * alone: the pool still proves itself to a reader. */
static void test_full_buffers_never_touch_the_cookie_page(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_buf_t *bufs[NBLOCKS];
    ucpg_shm_view_t view;
    size_t i;

    (void)state;
    for (i = 0; i < NBLOCKS; ++i) {
        bufs[i] = buf_new_ok(pool, BLOCK - sizeof(ucpg_buf_t));
        memset(bufs[i]->data, 0xff, bufs[i]->len);
    }
    view_attach_ok(pool, &view);
    ucpg_shm_view_detach(&view);
    for (i = 0; i < NBLOCKS; ++i) {
        ucpg_buf_put(bufs[i]);
    }
    ucpg_shm_pool_release(pool);
}

/* The sender tells pool bodies from heap ones by the offset. */
static void test_offset_of_a_buffer_not_in_the_pool_is_uint64_max(void **state)
{
    ucpg_shm_pool_t *pool = pool_create(), *other = pool_create();
    ucpg_buf_t *heap, *mine, *theirs;

    (void)state;
    heap   = ucpg_buf_new(BODY_LEN);
    mine   = buf_new_ok(pool, BODY_LEN);
    theirs = buf_new_ok(other, BODY_LEN);
    assert_non_null(heap);
    assert_int_equal(ucpg_shm_pool_offset(pool, heap), UINT64_MAX);
    assert_int_equal(ucpg_shm_pool_offset(pool, theirs), UINT64_MAX);
    assert_int_equal(ucpg_shm_pool_offset(NULL, mine), UINT64_MAX);
    assert_true(ucpg_shm_pool_offset(pool, mine) != UINT64_MAX);
    assert_true(ucpg_shm_pool_offset(other, theirs) != UINT64_MAX);
    ucpg_buf_put(heap);
    ucpg_buf_cache_trim();                          /* nothing left for valgrind */
    ucpg_buf_put(mine);
    ucpg_buf_put(theirs);
    ucpg_shm_pool_release(other);
    ucpg_shm_pool_release(pool);
}

/* Releasing the pool while a buffer is out (a sender shutting down with a
 * message in flight) keeps the segment until the buffer comes back. */
static void test_pool_outlives_release_while_a_buffer_is_out(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_buf_t *buf;

    (void)state;
    buf = buf_new_ok(pool, BODY_LEN);
    ucpg_shm_pool_release(pool);
    pattern_fill(buf->data, buf->len, 1);           /* still mapped */
    assert_true(pattern_check(buf->data, buf->len, 1));
    ucpg_buf_put(buf);                              /* now the pool goes */
}


/* --- views: reading ------------------------------------------------------------- */

static void test_view_of_the_offer_reads_the_body_byte_exact(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    static uint8_t dst[BODY_LEN];
    ucpg_shm_view_t view;
    ucpg_buf_t *first, *buf;
    uint64_t off;

    (void)state;
    first = buf_new_ok(pool, 10);                   /* so buf is not at the start */
    buf   = buf_new_ok(pool, BODY_LEN);
    pattern_fill(buf->data, BODY_LEN, 2);
    off = ucpg_shm_pool_offset(pool, buf);
    view_attach_ok(pool, &view);

    memset(dst, 0, sizeof(dst));
    assert_int_equal(ucpg_shm_view_read(&view, off, buf->gen, BODY_LEN, dst), UCPG_OK);
    assert_true(pattern_check(dst, BODY_LEN, 2));
    /* A prefix, and nothing at all, read as well. */
    memset(dst, 0, sizeof(dst));
    assert_int_equal(ucpg_shm_view_read(&view, off, buf->gen, 1000, dst), UCPG_OK);
    assert_true(pattern_check(dst, 1000, 2));
    assert_int_equal(dst[1000], 0);
    assert_int_equal(ucpg_shm_view_read(&view, off, buf->gen, 0, dst), UCPG_OK);

    /* What the view reads is what the owner writes now, not a snapshot. */
    pattern_fill(buf->data, BODY_LEN, 3);
    assert_int_equal(ucpg_shm_view_read(&view, off, buf->gen, BODY_LEN, dst), UCPG_OK);
    assert_true(pattern_check(dst, BODY_LEN, 3));

    ucpg_shm_view_detach(&view);
    assert_null(view.base);
    ucpg_shm_view_detach(&view);                    /* twice is harmless */
    ucpg_buf_put(buf);
    ucpg_buf_put(first);
    ucpg_shm_pool_release(pool);
}

static void test_read_with_a_wrong_generation_is_not_found(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    uint8_t dst[64];
    ucpg_shm_view_t view;
    ucpg_buf_t *buf;
    uint64_t off;

    (void)state;
    buf = buf_new_ok(pool, sizeof(dst));
    off = ucpg_shm_pool_offset(pool, buf);
    view_attach_ok(pool, &view);
    assert_int_equal(ucpg_shm_view_read(&view, off, buf->gen + 1, sizeof(dst), dst),
                     UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_shm_view_read(&view, off, buf->gen ^ (1ull << 63), sizeof(dst),
                                        dst), UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_shm_view_read(&view, off, 0, sizeof(dst), dst),
                     UCPG_ERR_NOT_FOUND);
    /* The right generation at a block where no buffer was ever made. */
    assert_int_equal(ucpg_shm_view_read(&view, off + BLOCK, buf->gen, sizeof(dst), dst),
                     UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_shm_view_read(&view, off, buf->gen, sizeof(dst), dst), UCPG_OK);
    ucpg_shm_view_detach(&view);
    ucpg_buf_put(buf);
    ucpg_shm_pool_release(pool);
}

/* The owner gave up on a reader and reused the block: the reader, late,
 * must learn that the body is gone instead of getting the new one. */
static void test_reused_block_is_not_found_with_the_old_generation(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    static uint8_t dst[BODY_LEN];
    ucpg_shm_view_t view;
    ucpg_buf_t *a, *b;
    uint64_t off, old_gen;

    (void)state;
    view_attach_ok(pool, &view);
    a = buf_new_ok(pool, BODY_LEN);
    pattern_fill(a->data, BODY_LEN, 4);
    off     = ucpg_shm_pool_offset(pool, a);
    old_gen = a->gen;
    ucpg_buf_put(a);

    b = buf_new_ok(pool, BODY_LEN);
    assert_int_equal(ucpg_shm_pool_offset(pool, b), off);   /* lowest first: same block */
    assert_true(b->gen != old_gen);
    pattern_fill(b->data, BODY_LEN, 5);
    assert_int_equal(ucpg_shm_view_read(&view, off, old_gen, BODY_LEN, dst),
                     UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_shm_view_read(&view, off, b->gen, BODY_LEN, dst), UCPG_OK);
    assert_true(pattern_check(dst, BODY_LEN, 5));
    ucpg_buf_put(b);

    /* Reused by a smaller buffer at the same offset: still a new generation. */
    old_gen = b->gen;
    a = buf_new_ok(pool, 1);
    assert_int_equal(ucpg_shm_pool_offset(pool, a), off);
    assert_int_equal(ucpg_shm_view_read(&view, off, old_gen, 1, dst), UCPG_ERR_NOT_FOUND);
    ucpg_buf_put(a);

    ucpg_shm_view_detach(&view);
    ucpg_shm_pool_release(pool);
}

/* A block merged from smaller ones holds old headers; a new owner that
 * writes its body back to front must not leave an old generation valid over
 * a half-new body (the headers inside are voided when the block is handed
 * out). */
static void test_old_header_inside_a_merged_block_is_voided(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    static uint8_t dst[1000];
    ucpg_shm_view_t view;
    ucpg_buf_t *lo, *a, *big;
    uint64_t off_a, gen_a, off_big;
    size_t i;

    (void)state;
    view_attach_ok(pool, &view);
    lo = buf_new_ok(pool, 1);                      /* the lowest block */
    a  = buf_new_ok(pool, sizeof(dst));            /* its buddy */
    memset(a->data, 'A', sizeof(dst));
    off_a = ucpg_shm_pool_offset(pool, a);
    gen_a = a->gen;
    ucpg_buf_put(lo);
    ucpg_buf_put(a);                               /* both merge into one block */
    big     = buf_new_ok(pool, 100000);            /* spans both, from the lower */
    off_big = ucpg_shm_pool_offset(pool, big);
    assert_true(off_big < off_a);
    /* Written from the end back, it reached a's old body, not its header. */
    for (i = 100000; i-- > (size_t)(off_a - off_big) + 100;) {
        big->data[i] = 'B';
    }
    assert_int_equal(ucpg_shm_view_read(&view, off_a, gen_a, sizeof(dst), dst),
                     UCPG_ERR_NOT_FOUND);
    ucpg_buf_put(big);
    ucpg_shm_view_detach(&view);
    ucpg_shm_pool_release(pool);
}

/* A process that exits releases the bodies its readers have not confirmed;
 * they still read them, as long as the block was not handed out again. */
static void test_released_body_stays_readable_until_its_block_is_reused(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    static uint8_t dst[BODY_LEN];
    ucpg_buf_t *first, *buf, *other;
    ucpg_shm_view_t view;
    uint64_t off, gen;

    (void)state;
    view_attach_ok(pool, &view);
    /* Held at the start of the pool, so that the free space below buf is
     * only the 64 KiB block that `other` will take (lowest first would
     * otherwise hand out buf's own block next). */
    first = buf_new_ok(pool, 1);
    buf   = buf_new_ok(pool, BODY_LEN);
    pattern_fill(buf->data, BODY_LEN, 6);
    off = ucpg_shm_pool_offset(pool, buf);
    gen = buf->gen;
    ucpg_buf_put(buf);
    assert_int_equal(ucpg_shm_pool_used(pool), BLOCK);

    assert_int_equal(ucpg_shm_view_read(&view, off, gen, BODY_LEN, dst), UCPG_OK);
    assert_true(pattern_check(dst, BODY_LEN, 6));
    /* Another block being handed out changes nothing for it. */
    other = buf_new_ok(pool, 1);
    assert_true(ucpg_shm_pool_offset(pool, other) < off);
    other->data[0] = 0;
    memset(dst, 0, sizeof(dst));
    assert_int_equal(ucpg_shm_view_read(&view, off, gen, BODY_LEN, dst), UCPG_OK);
    assert_true(pattern_check(dst, BODY_LEN, 6));
    ucpg_buf_put(other);
    ucpg_buf_put(first);
    ucpg_shm_view_detach(&view);
    ucpg_shm_pool_release(pool);
}

/* Even when the owner released its pool and every buffer (it exited), a
 * reader that had attached reads the bodies; the segment disappears only
 * when that reader detaches. */
static void test_bodies_outlive_their_owner_until_the_last_reader_detaches(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    static uint8_t dst[BODY_LEN];
    ucpg_shm_offer_t offer;
    ucpg_shm_view_t view, again;
    ucpg_buf_t *buf;
    uint64_t off, gen;

    (void)state;
    ucpg_shm_pool_offer(pool, &offer);
    assert_int_equal(ucpg_shm_view_attach(&offer, &view), UCPG_OK);
    buf = buf_new_ok(pool, BODY_LEN);
    pattern_fill(buf->data, BODY_LEN, 7);
    off = ucpg_shm_pool_offset(pool, buf);
    gen = buf->gen;
    ucpg_shm_pool_release(pool);
    ucpg_buf_put(buf);                              /* the owner is gone */

    assert_int_equal(ucpg_shm_view_read(&view, off, gen, BODY_LEN, dst), UCPG_OK);
    assert_true(pattern_check(dst, BODY_LEN, 7));
    ucpg_shm_view_detach(&view);
    /* Marked for removal at creation: nothing is left behind. */
    assert_int_equal(ucpg_shm_view_attach(&offer, &again), UCPG_ERR_NOT_FOUND);
}


/* --- views: what comes from the wire ----------------------------------------- */

/* Offsets and lengths are a peer's word: none may reach outside the segment
 * or read a buffer header at a misaligned place. */
static void test_read_outside_the_view_is_a_bad_message(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    const size_t seg = UCPG_SHM_POOL_HDR + POOL_BYTES;
    static uint8_t dst[POOL_BYTES];
    ucpg_shm_view_t view;
    ucpg_buf_t *buf;
    uint64_t off, gen;
    size_t max_len;

    (void)state;
    buf = buf_new_ok(pool, 64);
    off = ucpg_shm_pool_offset(pool, buf);
    gen = buf->gen;
    assert_int_equal(off, UCPG_SHM_POOL_HDR);       /* the first block */
    view_attach_ok(pool, &view);
    assert_int_equal(view.size, seg);

    /* Below the first block: the cookie page is no buffer. */
    assert_int_equal(ucpg_shm_view_read(&view, 0, gen, 8, dst), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_shm_view_read(&view, 8, gen, 8, dst), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_shm_view_read(&view, UCPG_SHM_POOL_HDR - 8, gen, 8, dst),
                     UCPG_ERR_MESSAGE);
    /* Misaligned. */
    assert_int_equal(ucpg_shm_view_read(&view, off + 1, gen, 8, dst), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_shm_view_read(&view, off + 4, gen, 8, dst), UCPG_ERR_MESSAGE);
    /* At or past the end, where not even a header fits. */
    assert_int_equal(ucpg_shm_view_read(&view, seg - BODY_HDR + 8, gen, 0, dst),
                     UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_shm_view_read(&view, seg, gen, 0, dst), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_shm_view_read(&view, UINT64_MAX - 7, gen, 0, dst),
                     UCPG_ERR_MESSAGE);
    /* A length that runs past the end of the segment, by one byte or by
     * wrapping around. */
    max_len = seg - off - BODY_HDR;
    assert_int_equal(ucpg_shm_view_read(&view, off, gen, max_len + 1, dst),
                     UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_shm_view_read(&view, off, gen, SIZE_MAX, dst), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_shm_view_read(&view, off, gen, SIZE_MAX - BODY_HDR - off + 1,
                                        dst), UCPG_ERR_MESSAGE);
    /* The limits themselves are fine. */
    assert_int_equal(ucpg_shm_view_read(&view, off, gen, max_len, dst), UCPG_OK);
    assert_int_equal(ucpg_shm_view_read(&view, seg - BODY_HDR, gen, 0, dst),
                     UCPG_ERR_NOT_FOUND);               /* in range, no such buffer */

    /* A detached view reads nothing. */
    ucpg_shm_view_detach(&view);
    assert_int_equal(ucpg_shm_view_read(&view, off, gen, 8, dst), UCPG_ERR_MESSAGE);
    ucpg_buf_put(buf);
    ucpg_shm_pool_release(pool);
}

static void test_attach_with_a_wrong_cookie_is_not_found(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_shm_offer_t offer;
    ucpg_shm_view_t view;

    (void)state;
    ucpg_shm_pool_offer(pool, &offer);
    offer.cookie ^= 1;
    assert_int_equal(ucpg_shm_view_attach(&offer, &view), UCPG_ERR_NOT_FOUND);
    offer.cookie ^= 1ull << 63;
    assert_int_equal(ucpg_shm_view_attach(&offer, &view), UCPG_ERR_NOT_FOUND);
    offer.cookie ^= (1ull << 63) | 1;               /* the right one again */
    assert_int_equal(ucpg_shm_view_attach(&offer, &view), UCPG_OK);
    ucpg_shm_view_detach(&view);
    ucpg_shm_pool_release(pool);
}

static void test_attach_with_a_wrong_size_is_not_found(void **state)
{
    static const int64_t deltas[] = { 1, -1, 4096, -4096, (int64_t)POOL_BYTES };
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_shm_offer_t offer, wrong;
    ucpg_shm_view_t view;
    size_t i;

    (void)state;
    ucpg_shm_pool_offer(pool, &offer);
    for (i = 0; i < sizeof(deltas) / sizeof(deltas[0]); ++i) {
        wrong      = offer;
        wrong.size = offer.size + (uint64_t)deltas[i];
        assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    }
    wrong = offer;
    wrong.size = 0;
    assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    wrong.size = UCPG_SHM_POOL_HDR;
    assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    wrong.size = UINT64_MAX;
    assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    ucpg_shm_pool_release(pool);
}

/* An id that named a segment once but no longer does, and ids that never
 * can: the reader answers REFUSE, it does not crash or hang. */
static void test_attach_of_a_nonexistent_segment_is_not_found(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_shm_offer_t offer, wrong;
    ucpg_shm_view_t view;
    int gone;

    (void)state;
    ucpg_shm_pool_offer(pool, &offer);
    /* Not attached by anyone, removed at once: the id is free again. */
    gone = shmget(IPC_PRIVATE, (size_t)offer.size, IPC_CREAT | 0600);
    assert_true(gone >= 0);
    assert_int_equal(shmctl(gone, IPC_RMID, NULL), 0);

    wrong       = offer;
    wrong.shmid = gone;
    assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    wrong.shmid = -1;
    assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    wrong.shmid = INT32_MIN;
    assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    ucpg_shm_pool_release(pool);
}

/* A segment of the right size that is not a pool (no cookie): refused, and
 * not left attached. */
static void test_attach_of_a_segment_that_is_not_a_pool_is_not_found(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_shm_offer_t offer, wrong;
    ucpg_shm_view_t view;
    struct shmid_ds ds;
    void *mine;
    int id;

    (void)state;
    ucpg_shm_pool_offer(pool, &offer);
    id = shmget(IPC_PRIVATE, (size_t)offer.size, IPC_CREAT | 0600);
    assert_true(id >= 0);
    mine = shmat(id, NULL, 0);
    shmctl(id, IPC_RMID, NULL);                     /* gone when we detach */
    assert_true(mine != (void*)-1);

    wrong       = offer;
    wrong.shmid = id;
    assert_int_equal(ucpg_shm_view_attach(&wrong, &view), UCPG_ERR_NOT_FOUND);
    assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
    assert_int_equal(ds.shm_nattch, 1);             /* only our own attachment */
    shmdt(mine);
    ucpg_shm_pool_release(pool);
}

/* A reader must not be able to scribble over its peer's bodies. Checked on
 * the mapping's permissions (no signal handler; a sanitizer's own SIGSEGV
 * handler would change how a faulting write ends). */
static void test_view_is_mapped_read_only(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    ucpg_shm_view_t view;
    ucpg_buf_t *buf;
    char perms[5];

    (void)state;
    buf = buf_new_ok(pool, 1);
    view_attach_ok(pool, &view);
    mapping_perms(view.base, perms);
    assert_int_equal(perms[0], 'r');
    assert_int_equal(perms[1], '-');
    /* The same check on the owner's mapping sees it writable. */
    mapping_perms(buf, perms);
    assert_int_equal(perms[1], 'w');
    ucpg_shm_view_detach(&view);
    ucpg_buf_put(buf);
    ucpg_shm_pool_release(pool);
}


/* --- another process ---------------------------------------------------------- */

enum {
    CHILD_OK           = 0,
    CHILD_ATTACH_FAIL  = 10,
    CHILD_READ_FAIL    = 11,
    CHILD_MISMATCH     = 12,
    CHILD_STALE_READ   = 13
};

/* In the child: no cmocka (a failed assert would longjmp into the parent's
 * test runner, in a copy of it), only an exit code. */
static int child_reads(const ucpg_shm_offer_t *offer, uint64_t off, uint64_t gen,
                       uint64_t stale_off, uint64_t stale_gen)
{
    static uint8_t dst[BODY_LEN];
    ucpg_shm_view_t view;
    int ret = CHILD_OK;

    if (ucpg_shm_view_attach(offer, &view) != UCPG_OK) {
        return CHILD_ATTACH_FAIL;
    }
    if (ucpg_shm_view_read(&view, off, gen, BODY_LEN, dst) != UCPG_OK) {
        ret = CHILD_READ_FAIL;
    } else if (!pattern_check(dst, BODY_LEN, 8)) {  /* computed here, not copied */
        ret = CHILD_MISMATCH;
    } else if (ucpg_shm_view_read(&view, stale_off, stale_gen, BODY_LEN, dst) !=
               UCPG_ERR_NOT_FOUND) {
        ret = CHILD_STALE_READ;
    }
    ucpg_shm_view_detach(&view);
    return ret;
}

static void test_another_process_reads_the_same_bytes(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    uint64_t off, gen, stale_off, stale_gen;
    ucpg_shm_offer_t offer;
    ucpg_buf_t *buf, *stale;
    int wstatus;
    pid_t pid;

    (void)state;
    /* A body the child must not get: its block is reused below. */
    stale = buf_new_ok(pool, BODY_LEN);
    stale_off = ucpg_shm_pool_offset(pool, stale);
    stale_gen = stale->gen;
    ucpg_buf_put(stale);
    stale = buf_new_ok(pool, BODY_LEN);
    buf   = buf_new_ok(pool, BODY_LEN);
    pattern_fill(buf->data, BODY_LEN, 8);
    off = ucpg_shm_pool_offset(pool, buf);
    gen = buf->gen;
    ucpg_shm_pool_offer(pool, &offer);

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(child_reads(&offer, off, gen, stale_off, stale_gen));
    }
    wstatus = wait_child(pid);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), CHILD_OK);
    ucpg_buf_put(buf);
    ucpg_buf_put(stale);
    ucpg_shm_pool_release(pool);
}


/* --- threads ------------------------------------------------------------------ */

/*
 * The reuse check under fire: a writer reuses one block over and over
 * (lowest first: always the same offset), filling each body with its own
 * generation and then publishing (offset, generation) as a BODY message
 * would; a reader copies whatever was published last. Every copy that
 * reports success must be one whole body of the generation asked for; a
 * copy that overlapped a reuse must say NOT_FOUND instead of mixing bodies.
 *
 * Every other round the writer waits until the reader has finished a copy
 * that started after the publication (two completed reads), so successful
 * copies are sure to happen; in the other rounds it reuses the block at
 * once, racing the copy in progress.
 */
#define SEQ_LEN     (32u * 1024u)
#define SEQ_WORDS   (SEQ_LEN / 8)
#define SEQ_ROUNDS  2000
#define SEQ_SECONDS 3               /* bound on the run (valgrind: fewer rounds) */

typedef struct {
    ucpg_shm_pool_t *pool;
    ucpg_shm_view_t  view;
    uint64_t         offset;     /* atomic */
    uint64_t         gen;        /* atomic: the last published, 0 = none yet */
    int              done;       /* atomic */
    unsigned long    reads;      /* atomic: copies finished */
    unsigned long    waited;     /* the writer's: rounds a copy surely read whole */
    unsigned long    ok, gone, torn, other;
} seq_t;

static void *seq_writer(void *arg)
{
    seq_t *s = arg;
    time_t deadline = time(NULL) + SEQ_SECONDS;
    unsigned long reads;
    ucpg_buf_t *buf;
    uint64_t *words;
    unsigned i, w;

    for (i = 0; (i < SEQ_ROUNDS) && (time(NULL) < deadline); ++i) {
        buf = ucpg_shm_pool_buf_new(s->pool, SEQ_LEN);
        if (buf == NULL) {
            break;
        }
        words = (uint64_t*)(void*)buf->data;
        for (w = 0; w < SEQ_WORDS; ++w) {
            words[w] = buf->gen;
        }
        __atomic_store_n(&s->offset, ucpg_shm_pool_offset(s->pool, buf), __ATOMIC_RELAXED);
        /* Sequentially consistent, so that of the copies finished after
         * `reads` was read, the second one began after the publication. */
        __atomic_store_n(&s->gen, buf->gen, __ATOMIC_SEQ_CST);
        reads = __atomic_load_n(&s->reads, __ATOMIC_SEQ_CST);
        if ((i % 2) == 0) {
            while ((__atomic_load_n(&s->reads, __ATOMIC_SEQ_CST) < reads + 2) &&
                   (time(NULL) < deadline)) {
                sched_yield();
            }
            s->waited += (__atomic_load_n(&s->reads, __ATOMIC_SEQ_CST) >= reads + 2);
        }
        ucpg_buf_put(buf);
    }
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *seq_reader(void *arg)
{
    static uint64_t words[SEQ_WORDS];
    seq_t *s = arg;
    ucpg_status_t status;
    uint64_t gen, off, last = 0;
    unsigned w;

    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
        gen = __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST);
        if (gen == 0) {
            continue;
        }
        if (gen == last) {
            /* Nothing new: let the writer run (valgrind runs one thread at
             * a time and would otherwise spend its slices here). */
            sched_yield();
        }
        last = gen;
        off    = __atomic_load_n(&s->offset, __ATOMIC_RELAXED);
        status = ucpg_shm_view_read(&s->view, off, gen, SEQ_LEN, words);
        if (status == UCPG_OK) {
            ++s->ok;
            for (w = 0; (w < SEQ_WORDS) && (words[w] == gen); ++w) {
            }
            s->torn += (w != SEQ_WORDS);
        } else if (status == UCPG_ERR_NOT_FOUND) {
            ++s->gone;
        } else {
            ++s->other;
        }
        __atomic_add_fetch(&s->reads, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_read_racing_a_reuse_never_returns_a_mixed_body(void **state)
{
    pthread_t writer, reader;
    seq_t s;

    (void)state;
#if defined(__SANITIZE_THREAD__)
    /* The copy races the reuse on purpose (the reader is a seqlock's), and
     * ThreadSanitizer rightly reports exactly that. */
    skip();
#endif
    memset(&s, 0, sizeof(s));
    s.pool = pool_create();
    view_attach_ok(s.pool, &s.view);
    assert_int_equal(pthread_create(&reader, NULL, seq_reader, &s), 0);
    assert_int_equal(pthread_create(&writer, NULL, seq_writer, &s), 0);
    pthread_join(writer, NULL);
    pthread_join(reader, NULL);
    print_message("%lu whole bodies read, %lu reused meanwhile\n", s.ok, s.gone);
    assert_true(s.waited > 0);
    assert_true(s.ok >= s.waited);
    assert_int_equal(s.torn, 0);
    assert_int_equal(s.other, 0);
    assert_int_equal(ucpg_shm_pool_used(s.pool), 0);
    ucpg_shm_view_detach(&s.view);
    ucpg_shm_pool_release(s.pool);
}

/* Two threads allocate, fill, check and return buffers of one pool; a
 * block handed out twice would show as a wrong byte. */
typedef struct {
    ucpg_shm_pool_t *pool;
    uint8_t          tag;        /* this thread's bytes: tag .. tag + 3 */
} churn_t;

static void *churn(void *arg)
{
    const churn_t *c = arg;
    ucpg_buf_t *bufs[4];
    unsigned i, j;
    size_t len;

    for (i = 0; i < 1000; ++i) {
        for (j = 0; j < 4; ++j) {
            len     = (size_t)1000 << ((i + j) % 7);  /* 1 KB .. 64 KB */
            bufs[j] = ucpg_shm_pool_buf_new(c->pool, len);
            if (bufs[j] != NULL) {
                memset(bufs[j]->data, c->tag + j, len);
            }
        }
        for (j = 0; j < 4; ++j) {
            if ((bufs[j] != NULL) &&
                (((uint8_t)bufs[j]->data[0] != (uint8_t)(c->tag + j)) ||
                 ((uint8_t)bufs[j]->data[bufs[j]->len - 1] != (uint8_t)(c->tag + j)))) {
                return (void*)1;
            }
            ucpg_buf_put(bufs[j]);
        }
    }
    return NULL;
}

static void test_threads_never_share_a_pool_buffer(void **state)
{
    ucpg_shm_pool_t *pool = pool_create();
    churn_t c1 = { pool, 0x10 }, c2 = { pool, 0x20 };
    pthread_t t1, t2;
    void *r1, *r2;

    (void)state;
    assert_int_equal(pthread_create(&t1, NULL, churn, &c1), 0);
    assert_int_equal(pthread_create(&t2, NULL, churn, &c2), 0);
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    assert_null(r1);
    assert_null(r2);
    assert_int_equal(ucpg_shm_pool_used(pool), 0);
    ucpg_shm_pool_release(pool);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_size_rounds_down_to_a_power_of_two),
        cmocka_unit_test(test_pool_smaller_than_one_block_is_refused),
        cmocka_unit_test(test_pool_buffer_has_one_reference_and_the_length_asked),
        cmocka_unit_test(test_last_reference_returns_the_block_to_the_pool),
        cmocka_unit_test(test_full_pool_gives_null),
        cmocka_unit_test(test_body_larger_than_the_pool_gives_null),
        cmocka_unit_test(test_full_buffers_never_touch_the_cookie_page),
        cmocka_unit_test(test_offset_of_a_buffer_not_in_the_pool_is_uint64_max),
        cmocka_unit_test(test_pool_outlives_release_while_a_buffer_is_out),
        cmocka_unit_test(test_view_of_the_offer_reads_the_body_byte_exact),
        cmocka_unit_test(test_read_with_a_wrong_generation_is_not_found),
        cmocka_unit_test(test_reused_block_is_not_found_with_the_old_generation),
        cmocka_unit_test(test_released_body_stays_readable_until_its_block_is_reused),
        cmocka_unit_test(test_bodies_outlive_their_owner_until_the_last_reader_detaches),
        cmocka_unit_test(test_read_outside_the_view_is_a_bad_message),
        cmocka_unit_test(test_attach_with_a_wrong_cookie_is_not_found),
        cmocka_unit_test(test_attach_with_a_wrong_size_is_not_found),
        cmocka_unit_test(test_attach_of_a_nonexistent_segment_is_not_found),
        cmocka_unit_test(test_attach_of_a_segment_that_is_not_a_pool_is_not_found),
        cmocka_unit_test(test_view_is_mapped_read_only),
        cmocka_unit_test(test_another_process_reads_the_same_bytes),
        cmocka_unit_test(test_read_racing_a_reuse_never_returns_a_mixed_body),
        cmocka_unit_test(test_old_header_inside_a_merged_block_is_voided),
        cmocka_unit_test(test_threads_never_share_a_pool_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
