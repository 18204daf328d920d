/*
 * osc_rsm_accumulate.c - MPI_Accumulate, MPI_Get_accumulate,
 * MPI_Fetch_and_op, MPI_Compare_and_swap and the request forms.
 *
 * Atomicity. MPI requires accumulate-family operations on the same target
 * location to be atomic with respect to each other (per basic element),
 * whatever origin issues them. Every such operation here runs as
 *
 *     take the target's accumulate lock   (state word OSC_RSM_STATE_ACC_LOCK:
 *                                          CSWAP 0 -> our rank + 1, spinning)
 *     read the target bytes               (synchronous get)
 *     combine with the origin data        (PMPI_Reduce_local on the
 *                                          predefined element type)
 *     write them back                     (synchronous put)
 *     release the lock                    (SWAP -> 0)
 *
 * The lock covers the whole target window, so all accumulate-family
 * operations on one target are serialized, which is stronger than MPI needs
 * and keeps one code path for every datatype and op: there is no lock-free
 * fast path, so nothing can be mixed inconsistently. The read is complete
 * before the combine and the write is complete at the target before the
 * release (both transfers are synchronous), so the next holder sees it.
 *
 * Plain MPI_Put/MPI_Get do not take the lock; MPI leaves concurrent puts
 * and accumulates to the same location undefined, so that is allowed.
 */
#include "ompi_config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "osc_rsm.h"

/* --- the per-target accumulate lock ----------------------------------------------------- */

static int acc_lock(ompi_osc_rsm_module_t *module, const ompi_osc_rsm_peer_t *peer)
{
    uint64_t me = (uint64_t)module->rank + 1, old;
    unsigned spins = 0;
    int ret;

    for (;;) {
        ret = ompi_osc_rsm_peer_atomic(peer, OSC_RSM_STATE_ACC_LOCK, UCX_CPG_RSM_ATOMIC_CSWAP,
                                       me, 0, &old);
        if ((ret != OMPI_SUCCESS) || (old == 0)) {
            return ret;
        }
        ompi_osc_rsm_backoff(&spins);
    }
}

static int acc_unlock(ompi_osc_rsm_module_t *module, const ompi_osc_rsm_peer_t *peer)
{
    uint64_t old;
    int ret;

    ret = ompi_osc_rsm_peer_atomic(peer, OSC_RSM_STATE_ACC_LOCK, UCX_CPG_RSM_ATOMIC_SWAP, 0, 0,
                                   &old);
    if ((ret == OMPI_SUCCESS) && (old != (uint64_t)module->rank + 1)) {
        OSC_RSM_ERROR("accumulate lock held by %" PRIu64 " at release by rank %d",
                      old - 1, module->rank);
        ret = OMPI_ERROR;
    }
    return ret;
}

/* --- combining ------------------------------------------------------------------------ */

/* inout[i] = in[i] op inout[i] for n elements of the predefined type prim. */
static int acc_reduce(const void *in, void *inout, size_t n, struct ompi_datatype_t *prim,
                      struct ompi_op_t *op)
{
    size_t esize, chunk;
    int ret;

    ompi_datatype_type_size(prim, &esize);
    while (n > 0) {
        chunk = (n > (size_t)INT_MAX) ? (size_t)INT_MAX : n;
        ret = PMPI_Reduce_local(in, inout, (int)chunk, prim, op);
        if (ret != MPI_SUCCESS) {
            return OMPI_ERROR;
        }
        in    = (const char *)in + chunk * esize;
        inout = (char *)inout + chunk * esize;
        n    -= chunk;
    }
    return OMPI_SUCCESS;
}

/* The predefined type an accumulate combines on: the target type's single
 * building block (the MPI layer already checked that origin and target
 * agree and that op is valid for it). */
static int acc_prim(struct ompi_datatype_t *target_dt, struct ompi_datatype_t **prim_p,
                    size_t *esize_p)
{
    struct ompi_datatype_t *prim = ompi_datatype_get_single_predefined_type_from_args(target_dt);

    if (prim == NULL) {
        OSC_RSM_VERBOSE(10, "accumulate datatype is not built from one predefined type");
        return OMPI_ERR_NOT_SUPPORTED;
    }
    ompi_datatype_type_size(prim, esize_p);
    if (*esize_p == 0) {
        return OMPI_ERR_NOT_SUPPORTED;
    }
    *prim_p = prim;
    return OMPI_SUCCESS;
}

static bool acc_size_is(int count, struct ompi_datatype_t *dt, size_t bytes)
{
    size_t tsize;

    ompi_datatype_type_size(dt, &tsize);
    return tsize * (size_t)count == bytes;
}

/* --- the one path every accumulate-family operation takes ------------------------------ */

typedef struct acc_args {
    const void              *origin_addr;   /* ignored for MPI_NO_OP */
    int                      origin_count;
    struct ompi_datatype_t  *origin_dt;
    void                    *result_addr;   /* NULL: no result wanted */
    int                      result_count;
    struct ompi_datatype_t  *result_dt;
    int                      target;
    ptrdiff_t                target_disp;
    int                      target_count;
    struct ompi_datatype_t  *target_dt;
    struct ompi_op_t        *op;
} acc_args_t;

static int acc_run(ompi_osc_rsm_module_t *module, const acc_args_t *a)
{
    const ompi_osc_rsm_peer_t *peer = &module->peers[a->target];
    bool replace = (a->op == MPI_REPLACE), no_op = (a->op == MPI_NO_OP);
    bool need_old = (a->result_addr != NULL) || (!replace && !no_op);
    struct ompi_datatype_t *prim = NULL;
    ompi_osc_rsm_layout_t tl;
    const void *packed = NULL;
    void *to_free = NULL;
    char *cur = NULL;
    size_t i, pos, esize = 0;
    ptrdiff_t off = 0;
    int ret, ret2;

    ret = ompi_osc_rsm_layout(a->target_count, a->target_dt, &tl);
    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    ret = ompi_osc_rsm_peer_range(peer, a->target_disp, tl.lo, tl.hi, &off);
    if ((ret == OMPI_SUCCESS) &&
        ((!no_op && !acc_size_is(a->origin_count, a->origin_dt, tl.bytes)) ||
         ((a->result_addr != NULL) && !acc_size_is(a->result_count, a->result_dt, tl.bytes)))) {
        ret = OMPI_ERR_BAD_PARAM;
    }
    if ((ret == OMPI_SUCCESS) && !replace && !no_op && (tl.bytes > 0)) {
        ret = acc_prim(a->target_dt, &prim, &esize);
    }
    if ((ret == OMPI_SUCCESS) && !no_op) {
        ret = ompi_osc_rsm_pack(a->origin_addr, a->origin_count, a->origin_dt, tl.bytes,
                                &packed, &to_free);
    }
    if ((ret == OMPI_SUCCESS) && need_old && (tl.bytes > 0) &&
        ((cur = malloc(tl.bytes)) == NULL)) {
        ret = OMPI_ERR_OUT_OF_RESOURCE;
    }
    if ((ret != OMPI_SUCCESS) || (tl.bytes == 0)) {
        goto out;
    }

    ret = acc_lock(module, peer);
    if (ret != OMPI_SUCCESS) {
        goto out;
    }
    /* read the current target values */
    for (i = 0, pos = 0; need_old && (ret == OMPI_SUCCESS) && (i < tl.nsegs); ++i) {
        ret = ompi_osc_rsm_peer_get(peer, (uint64_t)(off + tl.segs[i].off), cur + pos,
                                    tl.segs[i].len);
        pos += tl.segs[i].len;
    }
    if ((ret == OMPI_SUCCESS) && (a->result_addr != NULL)) {
        ret = ompi_osc_rsm_unpack(a->result_addr, a->result_count, a->result_dt, cur, tl.bytes);
    }
    if ((ret == OMPI_SUCCESS) && !replace && !no_op) {
        ret = acc_reduce(packed, cur, tl.bytes / esize, prim, a->op);
        packed = cur;                      /* write back the combination */
    }
    /* write the new values */
    for (i = 0, pos = 0; !no_op && (ret == OMPI_SUCCESS) && (i < tl.nsegs); ++i) {
        ret = ompi_osc_rsm_peer_put(peer, (uint64_t)(off + tl.segs[i].off),
                                    (const char *)packed + pos, tl.segs[i].len);
        pos += tl.segs[i].len;
    }
    ret2 = acc_unlock(module, peer);
    if (ret == OMPI_SUCCESS) {
        ret = ret2;
    }

out:
    free(cur);
    free(to_free);
    ompi_osc_rsm_layout_fini(&tl);
    return ret;
}

/* --- MPI entry points ------------------------------------------------------------------- */

int ompi_osc_rsm_accumulate(const void *origin_addr, int origin_count,
                            struct ompi_datatype_t *origin_dt, int target,
                            ptrdiff_t target_disp, int target_count,
                            struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                            struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    acc_args_t a = { origin_addr, origin_count, origin_dt, NULL, 0, NULL, target, target_disp,
                     target_count, target_dt, op };
    int ret = ompi_osc_rsm_check_access(module, target, false);

    return (ret == OMPI_SUCCESS) ? acc_run(module, &a) : ret;
}

int ompi_osc_rsm_get_accumulate(const void *origin_addr, int origin_count,
                                struct ompi_datatype_t *origin_dt, void *result_addr,
                                int result_count, struct ompi_datatype_t *result_dt,
                                int target, ptrdiff_t target_disp, int target_count,
                                struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                                struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    acc_args_t a = { origin_addr, origin_count, origin_dt, result_addr, result_count, result_dt,
                     target, target_disp, target_count, target_dt, op };
    int ret = ompi_osc_rsm_check_access(module, target, false);

    return (ret == OMPI_SUCCESS) ? acc_run(module, &a) : ret;
}

int ompi_osc_rsm_fetch_and_op(const void *origin_addr, void *result_addr,
                              struct ompi_datatype_t *dt, int target, ptrdiff_t target_disp,
                              struct ompi_op_t *op, struct ompi_win_t *win)
{
    return ompi_osc_rsm_get_accumulate(origin_addr, 1, dt, result_addr, 1, dt, target,
                                       target_disp, 1, dt, op, win);
}

int ompi_osc_rsm_compare_and_swap(const void *origin_addr, const void *compare_addr,
                                  void *result_addr, struct ompi_datatype_t *dt, int target,
                                  ptrdiff_t target_disp, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    const ompi_osc_rsm_peer_t *peer = &module->peers[target];
    ptrdiff_t off, lb, extent;
    size_t size;
    int ret, ret2;

    ret = ompi_osc_rsm_check_access(module, target, false);
    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    /* one element of a predefined type (the MPI layer checks that) */
    ompi_datatype_type_size(dt, &size);
    ompi_datatype_get_true_extent(dt, &lb, &extent);
    ret = ompi_osc_rsm_peer_range(peer, target_disp, lb, lb + (ptrdiff_t)size, &off);
    if ((ret != OMPI_SUCCESS) || (size == 0)) {
        return ret;
    }
    ret = acc_lock(module, peer);
    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    ret = ompi_osc_rsm_peer_get(peer, (uint64_t)(off + lb), (char *)result_addr + lb, size);
    if ((ret == OMPI_SUCCESS) &&
        (memcmp((const char *)result_addr + lb, (const char *)compare_addr + lb, size) == 0)) {
        ret = ompi_osc_rsm_peer_put(peer, (uint64_t)(off + lb), (const char *)origin_addr + lb,
                                    size);
    }
    ret2 = acc_unlock(module, peer);
    return (ret == OMPI_SUCCESS) ? ret2 : ret;
}

int ompi_osc_rsm_raccumulate(const void *origin_addr, int origin_count,
                             struct ompi_datatype_t *origin_dt, int target,
                             ptrdiff_t target_disp, int target_count,
                             struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                             struct ompi_win_t *win, struct ompi_request_t **request)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    acc_args_t a = { origin_addr, origin_count, origin_dt, NULL, 0, NULL, target, target_disp,
                     target_count, target_dt, op };
    int ret = ompi_osc_rsm_check_access(module, target, true);

    if (ret == OMPI_SUCCESS) {
        ret = acc_run(module, &a);
    }
    return (ret == OMPI_SUCCESS) ? ompi_osc_rsm_request_completed(win, ret, request) : ret;
}

int ompi_osc_rsm_rget_accumulate(const void *origin_addr, int origin_count,
                                 struct ompi_datatype_t *origin_dt, void *result_addr,
                                 int result_count, struct ompi_datatype_t *result_dt,
                                 int target, ptrdiff_t target_disp, int target_count,
                                 struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                                 struct ompi_win_t *win, struct ompi_request_t **request)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    acc_args_t a = { origin_addr, origin_count, origin_dt, result_addr, result_count, result_dt,
                     target, target_disp, target_count, target_dt, op };
    int ret = ompi_osc_rsm_check_access(module, target, true);

    if (ret == OMPI_SUCCESS) {
        ret = acc_run(module, &a);
    }
    return (ret == OMPI_SUCCESS) ? ompi_osc_rsm_request_completed(win, ret, request) : ret;
}
