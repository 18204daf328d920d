/*
 * test_group_tree.c - the layout of the delivery tree (group/tree.c).
 *
 * What the protocol relies on: from the root (index 0) every member but the
 * message's sender is reached exactly once, the sender never, every
 * member's children are computed the same way by everyone, and fan-out 0
 * means the root sends to everybody itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "group/group_int.h"

#define MAX_N 64

/* Walks the tree from the root; counts how often each index is reached and
 * the depth of the deepest member. */
static unsigned walk(size_t n, int skip, unsigned fanout, unsigned reached[MAX_N])
{
    size_t queue[MAX_N * 2], depth_of[MAX_N] = {0}, head = 0, tail = 0, first, end, pos, i;
    unsigned depth = 0;

    memset(reached, 0, sizeof(unsigned) * MAX_N);
    queue[tail++] = 0;
    reached[0]    = 1;
    while (head < tail) {
        size_t self = queue[head++];
        ucpg_group_tree_children(n, skip, self, fanout, &first, &end);
        for (pos = first; pos < end; ++pos) {
            i = ucpg_group_tree_index(pos, skip);
            assert_true(i < n);
            reached[i]++;
            depth_of[i] = depth_of[self] + 1;
            depth       = (depth_of[i] > depth) ? (unsigned)depth_of[i] : depth;
            if (reached[i] == 1) {
                queue[tail++] = i;
            }
        }
    }
    return depth;
}

static void check_every_layout(unsigned fanout)
{
    unsigned reached[MAX_N];
    size_t n, i;
    int skip;

    for (n = 1; n <= MAX_N; ++n) {
        for (skip = -1; skip < (int)n; ++skip) {
            walk(n, skip, fanout, reached);
            for (i = 0; i < n; ++i) {
                unsigned want = ((skip > 0) && (i == (size_t)skip)) ? 0 : 1;
                if (reached[i] != want) {
                    fail_msg("n %zu skip %d fanout %u: member %zu reached %u times", n, skip,
                             fanout, i, reached[i]);
                }
            }
        }
    }
}

static void test_every_member_but_the_sender_reached_once(void **state)
{
    unsigned fanout;

    (void)state;
    for (fanout = 0; fanout <= 9; ++fanout) {
        check_every_layout(fanout);
    }
}

static void test_fanout_zero_is_flat(void **state)
{
    unsigned reached[MAX_N];
    size_t first, end;

    (void)state;
    assert_int_equal(walk(8, 3, 0, reached), 1);
    ucpg_group_tree_children(8, 3, 0, 0, &first, &end);
    assert_int_equal(end - first, 6);              /* 8 minus the root and the sender */
    ucpg_group_tree_children(8, 3, 2, 0, &first, &end);
    assert_int_equal(end - first, 0);              /* nobody else forwards */
}

static void test_depth_is_logarithmic(void **state)
{
    unsigned reached[MAX_N];

    (void)state;
    assert_int_equal(walk(64, -1, 1, reached), 63);   /* fan-out 1: a chain */
    assert_int_equal(walk(63, -1, 2, reached), 5);    /* a full binary heap of 63 */
    assert_int_equal(walk(64, -1, 2, reached), 6);    /* ... and one more level */
    assert_int_equal(walk(9, -1, 8, reached), 1);     /* fits under the root */
    assert_int_equal(walk(10, 5, 8, reached), 1);     /* the sender leaves room */
    assert_int_equal(walk(10, -1, 8, reached), 2);
}

static void test_sender_is_never_a_forwarder(void **state)
{
    size_t first, end;

    (void)state;
    ucpg_group_tree_children(16, 1, 1, 2, &first, &end);
    assert_int_equal(end - first, 0);
    /* with index 1 left out, index 2 takes position 1 and its children */
    ucpg_group_tree_children(16, 1, 2, 2, &first, &end);
    assert_int_equal(first, 3);
    assert_int_equal(end, 5);
    assert_int_equal(ucpg_group_tree_index(3, 1), 4);
    assert_int_equal(ucpg_group_tree_index(4, 1), 5);
}

static void test_out_of_range_self_has_no_children(void **state)
{
    size_t first, end;

    (void)state;
    ucpg_group_tree_children(4, -1, 4, 2, &first, &end);
    assert_int_equal(end - first, 0);
    ucpg_group_tree_children(0, -1, 0, 2, &first, &end);
    assert_int_equal(end - first, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_member_but_the_sender_reached_once),
        cmocka_unit_test(test_fanout_zero_is_flat),
        cmocka_unit_test(test_depth_is_logarithmic),
        cmocka_unit_test(test_sender_is_never_a_forwarder),
        cmocka_unit_test(test_out_of_range_self_has_no_children),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
