/*
 * test_rsm_controller.c - RSMAPI controllers and the interconnect topology
 * in real processes: handles are reference counted per name, names select
 * the loopback or the UCX controller or nothing, attributes carry the
 * machine's limits, released and bogus handles are told apart, and the
 * topology of a domain of three processes on two node ids lists the other
 * node once, from either side.
 *
 * Every test runs its RSMAPI calls in children started by the harness, so
 * the test process itself never holds a domain (a child forked from a
 * process with a live domain could not create one).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rsmapi.h"
#include "rsm/rsm_int.h"
#include "harness.h"
#include "integ_run.h"

#define STEP_MS 20000u

/* Fails the child with a message naming the call and both codes. */
#define EXPECT_RSM(call, want) \
    do { \
        int got_ = (call); \
        if (got_ != (want)) { \
            ucpg_test_say("ERR %s:%d %s = %d, want %d", __FILE__, __LINE__, #call, got_, \
                          (int)(want)); \
            return 1; \
        } \
    } while (0)

/* Fails the child with a message when cond is false. */
#define EXPECT_TRUE(cond, ...) \
    do { \
        if (!(cond)) { \
            ucpg_test_say("ERR %s:%d %s", __FILE__, __LINE__, #cond); \
            ucpg_test_say("ERR " __VA_ARGS__); \
            return 1; \
        } \
    } while (0)

/* Runs fn in one child and passes iff the child exits 0. */
static int run_in_one_child(ucpg_harness_child_func_t fn)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);

    INTEG_CHECK(h != NULL, "no harness");
    INTEG_CHECK(ucpg_harness_fork(h, 1, fn, NULL) == 0, "fork failed");
    INTEG_CHECK(integ_wait_rank_ok(h, 0, STEP_MS) == 0, "the child failed");
    return integ_end(h, 1);
fail:
    return integ_end(h, 0);
}


/* --- reference counting --------------------------------------------------- */

static int child_same_name_gives_same_handle(int rank, int nprocs, void *arg)
{
    rsmapi_controller_handle_t a = NULL, b = NULL;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller("ucx0", &a), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller("ucx0", &b), RSM_SUCCESS);
    EXPECT_TRUE(a == b, "two gets of ucx0 gave %p and %p", (void*)a, (void*)b);
    EXPECT_RSM(rsm_release_controller(a), RSM_SUCCESS);
    EXPECT_RSM(rsm_release_controller(b), RSM_SUCCESS);
    return 0;
}

static int test_get_of_the_same_name_twice_gives_the_same_handle(void)
{
    return run_in_one_child(child_same_name_gives_same_handle);
}

static int child_each_get_needs_a_release(int rank, int nprocs, void *arg)
{
    rsmapi_controller_handle_t c = NULL;
    rsmapi_controller_attr_t attr;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller("ucx0", &c), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller("ucx0", &c), RSM_SUCCESS);
    EXPECT_RSM(rsm_release_controller(c), RSM_SUCCESS);
    /* One get still outstanding: the handle is still usable. */
    EXPECT_TRUE(ucpg_rsm_controller_held(c), "handle dropped after one of two releases");
    EXPECT_RSM(rsm_get_controller_attr(c, &attr), RSM_SUCCESS);
    EXPECT_RSM(rsm_release_controller(c), RSM_SUCCESS);
    EXPECT_TRUE(!ucpg_rsm_controller_held(c), "handle still held after two releases");
    EXPECT_RSM(rsm_release_controller(c), RSMERR_BAD_CTLR_HNDL);
    return 0;
}

static int test_each_get_needs_one_release_and_a_third_is_bad_handle(void)
{
    return run_in_one_child(child_each_get_needs_a_release);
}

static int child_names_count_separately(int rank, int nprocs, void *arg)
{
    rsmapi_controller_handle_t ucx = NULL, loop = NULL;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller("ucx0", &ucx), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller("loopback", &loop), RSM_SUCCESS);
    EXPECT_TRUE(ucx != loop, "ucx0 and loopback share handle %p", (void*)ucx);
    EXPECT_RSM(rsm_release_controller(loop), RSM_SUCCESS);
    /* Releasing loopback leaves ucx0 alone. */
    EXPECT_TRUE(ucpg_rsm_controller_held(ucx), "ucx0 dropped by loopback's release");
    EXPECT_RSM(rsm_release_controller(loop), RSMERR_BAD_CTLR_HNDL);
    EXPECT_RSM(rsm_release_controller(ucx), RSM_SUCCESS);
    return 0;
}

static int test_handles_are_counted_per_name(void)
{
    return run_in_one_child(child_names_count_separately);
}

static int child_regets_after_full_release(int rank, int nprocs, void *arg)
{
    rsmapi_controller_handle_t first = NULL, again = NULL;
    rsmapi_controller_attr_t attr;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller("ucx0", &first), RSM_SUCCESS);
    EXPECT_RSM(rsm_release_controller(first), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller("ucx0", &again), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller_attr(again, &attr), RSM_SUCCESS);
    EXPECT_TRUE(attr.attr_page_size > 0, "no page size after the second get");
    EXPECT_RSM(rsm_release_controller(again), RSM_SUCCESS);
    return 0;
}

static int test_controller_can_be_got_again_after_its_last_release(void)
{
    return run_in_one_child(child_regets_after_full_release);
}


/* --- names ------------------------------------------------------------------- */

static int child_null_name_is_loopback(int rank, int nprocs, void *arg)
{
    rsmapi_controller_handle_t by_null = NULL, by_name = NULL, ucx = NULL;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller(NULL, &by_null), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller("loopback", &by_name), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller("ucx0", &ucx), RSM_SUCCESS);
    EXPECT_TRUE(by_null == by_name, "NULL gave %p, loopback %p", (void*)by_null,
                (void*)by_name);
    EXPECT_TRUE(by_null->loopback, "the loopback handle is not flagged loopback");
    EXPECT_TRUE(!ucx->loopback, "the ucx0 handle is flagged loopback");
    EXPECT_RSM(rsm_release_controller(by_null), RSM_SUCCESS);
    EXPECT_RSM(rsm_release_controller(by_name), RSM_SUCCESS);
    EXPECT_RSM(rsm_release_controller(ucx), RSM_SUCCESS);
    return 0;
}

static int test_null_name_selects_the_loopback_controller(void)
{
    return run_in_one_child(child_null_name_is_loopback);
}

static int child_unknown_names(int rank, int nprocs, void *arg)
{
    static char *const names[] = { "sci0", "ucx1", "UCX0", "Loopback", "ucx", "", "ucx0 " };
    rsmapi_controller_handle_t c;
    size_t i;

    (void)rank; (void)nprocs; (void)arg;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        c = (rsmapi_controller_handle_t)&c;   /* must stay untouched */
        EXPECT_RSM(rsm_get_controller(names[i], &c), RSMERR_CTLR_NOT_PRESENT);
        EXPECT_TRUE(c == (rsmapi_controller_handle_t)&c, "\"%s\" wrote the handle",
                    names[i]);
    }
    return 0;
}

static int test_unknown_controller_name_is_not_present(void)
{
    return run_in_one_child(child_unknown_names);
}

static int child_null_out_pointer(int rank, int nprocs, void *arg)
{
    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller("ucx0", NULL), RSMERR_BAD_CTLR_HNDL);
    EXPECT_RSM(rsm_get_controller(NULL, NULL), RSMERR_BAD_CTLR_HNDL);
    return 0;
}

static int test_null_out_pointer_is_bad_controller_handle(void)
{
    return run_in_one_child(child_null_out_pointer);
}

static int child_release_bogus(int rank, int nprocs, void *arg)
{
    char not_a_handle[sizeof(struct __rsmapi_controller_handle)];
    rsmapi_controller_attr_t attr;

    (void)rank; (void)nprocs; (void)arg;
    memset(not_a_handle, 0x5a, sizeof(not_a_handle));
    EXPECT_RSM(rsm_release_controller(NULL), RSMERR_BAD_CTLR_HNDL);
    EXPECT_RSM(rsm_release_controller((rsmapi_controller_handle_t)not_a_handle),
               RSMERR_BAD_CTLR_HNDL);
    EXPECT_RSM(rsm_get_controller_attr((rsmapi_controller_handle_t)not_a_handle, &attr),
               RSMERR_BAD_CTLR_HNDL);
    EXPECT_TRUE(!ucpg_rsm_controller_held((rsmapi_controller_handle_t)not_a_handle),
                "a bogus pointer counts as held");
    return 0;
}

static int test_null_or_bogus_handle_is_bad_controller_handle(void)
{
    return run_in_one_child(child_release_bogus);
}


/* --- attributes -------------------------------------------------------------- */

/* The attributes of the controller `name` are the documented values. */
static int check_attr_of(char *name)
{
    const uint_t all_sizes = RSM_DAS8 | RSM_DAS16 | RSM_DAS32 | RSM_DAS64;
    rsmapi_controller_handle_t c = NULL;
    rsmapi_controller_attr_t attr;

    EXPECT_RSM(rsm_get_controller(name, &c), RSM_SUCCESS);
    memset(&attr, 0, sizeof(attr));
    EXPECT_RSM(rsm_get_controller_attr(c, &attr), RSM_SUCCESS);
    EXPECT_TRUE(attr.attr_page_size == (size_t)sysconf(_SC_PAGESIZE),
                "%s: page size %zu", name, attr.attr_page_size);
    EXPECT_TRUE(attr.attr_direct_access_sizes == all_sizes, "%s: direct sizes %#x", name,
                attr.attr_direct_access_sizes);
    EXPECT_TRUE(attr.attr_atomic_sizes == all_sizes, "%s: atomic sizes %#x", name,
                attr.attr_atomic_sizes);
    /* Limits are the physical memory: at least a page, at most the address space. */
    EXPECT_TRUE(attr.attr_max_export_segment_size >= attr.attr_page_size,
                "%s: max export segment size %zu", name, attr.attr_max_export_segment_size);
    EXPECT_TRUE(attr.attr_tot_export_segment_size >= attr.attr_max_export_segment_size,
                "%s: total export size %zu", name, attr.attr_tot_export_segment_size);
    EXPECT_TRUE(attr.attr_max_import_map_size >= attr.attr_page_size,
                "%s: max import map size %zu", name, attr.attr_max_import_map_size);
    EXPECT_TRUE(attr.attr_tot_import_map_size >= attr.attr_max_import_map_size,
                "%s: total import map size %zu", name, attr.attr_tot_import_map_size);
    EXPECT_TRUE(attr.attr_max_export_segments == 4096, "%s: max export segments %lu",
                name, attr.attr_max_export_segments);
    EXPECT_TRUE(attr.attr_max_import_segments == 4096, "%s: max import segments %lu",
                name, attr.attr_max_import_segments);
    EXPECT_RSM(rsm_release_controller(c), RSM_SUCCESS);
    return 0;
}

static int child_attr_values(int rank, int nprocs, void *arg)
{
    (void)rank; (void)nprocs; (void)arg;
    return check_attr_of("ucx0") || check_attr_of("loopback");
}

static int test_attributes_report_page_size_access_sizes_and_limits(void)
{
    return run_in_one_child(child_attr_values);
}

static int child_attr_null_args(int rank, int nprocs, void *arg)
{
    rsmapi_controller_handle_t c = NULL;
    rsmapi_controller_attr_t attr;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller("ucx0", &c), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller_attr(c, NULL), RSMERR_BAD_ADDR);
    EXPECT_RSM(rsm_get_controller_attr(NULL, &attr), RSMERR_BAD_CTLR_HNDL);
    EXPECT_RSM(rsm_get_controller_attr(NULL, NULL), RSMERR_BAD_CTLR_HNDL);
    EXPECT_RSM(rsm_release_controller(c), RSM_SUCCESS);
    return 0;
}

static int test_attr_with_null_attr_is_bad_addr_and_null_handle_bad_handle(void)
{
    return run_in_one_child(child_attr_null_args);
}

static int child_attr_released(int rank, int nprocs, void *arg)
{
    rsmapi_controller_handle_t c = NULL;
    rsmapi_controller_attr_t attr;

    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_controller("ucx0", &c), RSM_SUCCESS);
    EXPECT_RSM(rsm_release_controller(c), RSM_SUCCESS);
    EXPECT_RSM(rsm_get_controller_attr(c, &attr), RSMERR_CTLR_NOT_PRESENT);
    /* As in the reference, the NULL attr check comes first. */
    EXPECT_RSM(rsm_get_controller_attr(c, NULL), RSMERR_BAD_ADDR);
    return 0;
}

static int test_attr_of_a_released_handle_is_not_present(void)
{
    return run_in_one_child(child_attr_released);
}


/* --- topology ---------------------------------------------------------------- */

static int child_topology_null(int rank, int nprocs, void *arg)
{
    (void)rank; (void)nprocs; (void)arg;
    EXPECT_RSM(rsm_get_interconnect_topology(NULL), RSMERR_BAD_TOPOLOGY_PTR);
    rsm_free_interconnect_topology(NULL);     /* must be harmless */
    return 0;
}

static int test_topology_into_null_is_bad_topology_ptr(void)
{
    return run_in_one_child(child_topology_null);
}

/* Is [p, p + len) inside the malloc'ed block tp? */
static int inside_block(const rsm_topology_t *tp, const void *p, size_t len)
{
    const char *start = (const char*)tp;
    const char *end   = start + malloc_usable_size((void*)tp);

    return ((const char*)p >= start) && ((const char*)p + len <= end);
}

/*
 * Writes tp as one line, "TOPO local=<node> cntlrs=<n> <name> hw=<addr>
 * remotes=<n> <node>:<name>:<addr>:<state> ...", after checking that every
 * part lies inside the one block, 8-byte aligned. Returns 0 or 1.
 */
static int say_topology(const rsm_topology_t *tp)
{
    const rsm_connections_t *conn;
    const rsm_remote_cntlr_t *r;
    char line[1024];
    size_t used;
    int i;

    EXPECT_TRUE(((uintptr_t)tp % 8) == 0, "block at %p", (const void*)tp);
    EXPECT_TRUE(tp->topology_hdr.local_cntlr_count == 1, "%u controllers",
                tp->topology_hdr.local_cntlr_count);
    conn = tp->connections[0];
    EXPECT_TRUE(((uintptr_t)conn % 8) == 0, "controller record at %p", (const void*)conn);
    EXPECT_TRUE(inside_block(tp, conn, sizeof(*conn)), "controller record outside the block");
    EXPECT_TRUE(conn->hdr.remote_cntlr_count >= 0, "%d remotes", conn->hdr.remote_cntlr_count);
    EXPECT_TRUE(inside_block(tp, conn->remote_cntlr,
                             (size_t)conn->hdr.remote_cntlr_count * sizeof(*r)),
                "remote entries outside the block");
    EXPECT_TRUE(memchr(conn->hdr.cntlr_name, '\0', sizeof(conn->hdr.cntlr_name)) != NULL,
                "controller name not terminated");

    used = (size_t)snprintf(line, sizeof(line), "TOPO local=%u cntlrs=%u %s hw=%llu remotes=%d",
                            tp->topology_hdr.local_nodeid, tp->topology_hdr.local_cntlr_count,
                            conn->hdr.cntlr_name, (unsigned long long)conn->hdr.local_hwaddr,
                            conn->hdr.remote_cntlr_count);
    for (i = 0; (i < conn->hdr.remote_cntlr_count) && (used < sizeof(line)); ++i) {
        r = &conn->remote_cntlr[i];
        EXPECT_TRUE(memchr(r->remote_cntlrname, '\0', sizeof(r->remote_cntlrname)) != NULL,
                    "remote name %d not terminated", i);
        used += (size_t)snprintf(line + used, sizeof(line) - used, " %u:%s:%llu:%u",
                                 r->remote_nodeid, r->remote_cntlrname,
                                 (unsigned long long)r->remote_hwaddr, r->connection_state);
    }
    ucpg_test_say("%s", line);
    return 0;
}

/*
 * A member of a domain whose node id is the one given in arg (a string for
 * UCX_CPG_NODEID, or NULL: 11 for the first two ranks, 22 for the others).
 * Joins through rsm_get_controller, waits until all nprocs see each other,
 * says READY, and on GO says its topology; stays until DONE so that no peer
 * leaves while another one reads the topology.
 */
static int child_topology_member(int rank, int nprocs, void *arg)
{
    const char *nodeid = (arg != NULL) ? arg : ((rank < 2) ? "11" : "22");
    rsmapi_controller_handle_t c = NULL;
    rsm_topology_t *tp = NULL;
    ucpg_domain_t *d;
    int failed;

    /* Before the first RSM call: the domain reads its node id when created. */
    setenv("UCX_CPG_NODEID", nodeid, 1);
    EXPECT_RSM(rsm_get_controller("ucx0", &c), RSM_SUCCESS);
    EXPECT_TRUE(ucpg_rsm_engine_acquire(&d) == UCPG_OK, "no engine");
    failed = (ucpg_domain_wait_peers(d, (unsigned)nprocs - 1, STEP_MS) != UCPG_OK);
    ucpg_rsm_engine_release();
    EXPECT_TRUE(!failed, "rank %d: the other %d processes did not come up", rank,
                nprocs - 1);

    ucpg_test_say("READY");
    EXPECT_TRUE(ucpg_test_wait_for("GO", STEP_MS) == 0, "no GO");
    EXPECT_RSM(rsm_get_interconnect_topology(&tp), RSM_SUCCESS);
    failed = say_topology(tp);
    rsm_free_interconnect_topology(tp);
    if (failed) {
        return 1;
    }

    EXPECT_TRUE(ucpg_test_wait_for("DONE", STEP_MS) == 0, "no DONE");
    EXPECT_RSM(rsm_release_controller(c), RSM_SUCCESS);
    return 0;
}

static int test_topology_of_3_processes_on_2_nodes_lists_the_other_node_once(void)
{
    static const char *const want[] = {
        "TOPO local=11 cntlrs=1 ucx0 hw=11 remotes=1 22:ucx0:22:3",
        "TOPO local=11 cntlrs=1 ucx0 hw=11 remotes=1 22:ucx0:22:3",
        "TOPO local=22 cntlrs=1 ucx0 hw=22 remotes=1 11:ucx0:11:3",
    };
    ucpg_harness_t *h = ucpg_harness_create(60000);
    char line[1024];
    int r;

    INTEG_CHECK(h != NULL, "no harness");
    INTEG_CHECK(ucpg_harness_fork(h, 3, child_topology_member, NULL) == 0, "fork failed");
    INTEG_CHECK(ucpg_harness_expect_all(h, "READY", STEP_MS) == 0, "domain not formed");
    INTEG_CHECK(ucpg_harness_send_all(h, "GO") == 0, "GO not sent");
    for (r = 0; r < 3; ++r) {
        INTEG_CHECK(ucpg_harness_expect(h, r, "TOPO ", line, sizeof(line), STEP_MS) == 0,
                    "rank %d gave no topology", r);
        INTEG_CHECK(strcmp(line, want[r]) == 0, "rank %d: '%s', want '%s'", r, line,
                    want[r]);
    }
    INTEG_CHECK(integ_release_all(h, STEP_MS) == 0, "children failed");
    return integ_end(h, 1);
fail:
    return integ_end(h, 0);
}

static int test_topology_of_a_single_process_has_no_remote_node(void)
{
    ucpg_harness_t *h = ucpg_harness_create(60000);
    char line[1024];

    INTEG_CHECK(h != NULL, "no harness");
    INTEG_CHECK(ucpg_harness_fork(h, 1, child_topology_member, "33") == 0, "fork failed");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "READY", NULL, 0, STEP_MS) == 0, "no domain");
    INTEG_CHECK(ucpg_harness_send(h, 0, "GO") == 0, "GO not sent");
    INTEG_CHECK(ucpg_harness_expect(h, 0, "TOPO ", line, sizeof(line), STEP_MS) == 0,
                "no topology");
    INTEG_CHECK(strcmp(line, "TOPO local=33 cntlrs=1 ucx0 hw=33 remotes=0") == 0,
                "'%s'", line);
    INTEG_CHECK(integ_release_all(h, STEP_MS) == 0, "child failed");
    return integ_end(h, 1);
fail:
    return integ_end(h, 0);
}

static int child_topology_without_controller(int rank, int nprocs, void *arg)
{
    rsm_topology_t *tp = NULL;

    (void)rank; (void)nprocs; (void)arg;
    /* The call holds the domain for its own duration; no controller needed. */
    setenv("UCX_CPG_NODEID", "44", 1);
    EXPECT_RSM(rsm_get_interconnect_topology(&tp), RSM_SUCCESS);
    EXPECT_TRUE(tp->topology_hdr.local_nodeid == 44, "local node %u",
                tp->topology_hdr.local_nodeid);
    rsm_free_interconnect_topology(tp);
    return 0;
}

static int test_topology_needs_no_controller(void)
{
    return run_in_one_child(child_topology_without_controller);
}


int main(int argc, char **argv)
{
    static const integ_test_t tests[] = {
        INTEG_TEST(test_get_of_the_same_name_twice_gives_the_same_handle),
        INTEG_TEST(test_each_get_needs_one_release_and_a_third_is_bad_handle),
        INTEG_TEST(test_handles_are_counted_per_name),
        INTEG_TEST(test_controller_can_be_got_again_after_its_last_release),
        INTEG_TEST(test_null_name_selects_the_loopback_controller),
        INTEG_TEST(test_unknown_controller_name_is_not_present),
        INTEG_TEST(test_null_out_pointer_is_bad_controller_handle),
        INTEG_TEST(test_null_or_bogus_handle_is_bad_controller_handle),
        INTEG_TEST(test_attributes_report_page_size_access_sizes_and_limits),
        INTEG_TEST(test_attr_with_null_attr_is_bad_addr_and_null_handle_bad_handle),
        INTEG_TEST(test_attr_of_a_released_handle_is_not_present),
        INTEG_TEST(test_topology_into_null_is_bad_topology_ptr),
        INTEG_TEST(test_topology_of_3_processes_on_2_nodes_lists_the_other_node_once),
        INTEG_TEST(test_topology_of_a_single_process_has_no_remote_node),
        INTEG_TEST(test_topology_needs_no_controller),
    };

    return integ_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
