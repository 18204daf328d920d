/*
 * osc_rsm_comm.c - MPI_Put, MPI_Get and their request forms.
 *
 * Both are synchronous: every byte is in the target window (put) or in the
 * origin buffer (get) when the call returns, because each segment moves
 * with a synchronous RSM transfer, a memcpy through a direct view followed
 * by a fence, or process_vm_writev/readv (osc_rsm_peer.c). MPI_Rput/MPI_Rget therefore return
 * a request that is already complete; MPI_Wait on it only frees it.
 */
#include "ompi_config.h"

#include <stdlib.h>

#include "osc_rsm.h"

/* Is an access epoch to target open? Request-based operations are allowed
 * only in passive-target epochs (MPI-3.1 11.3.5). */
int ompi_osc_rsm_check_access(ompi_osc_rsm_module_t *module, int target, bool request_based)
{
    int i;

    switch (module->access) {
    case OSC_RSM_EPOCH_FENCE:
        return request_based ? OMPI_ERR_RMA_SYNC : OMPI_SUCCESS;
    case OSC_RSM_EPOCH_PSCW:
        if (!request_based) {
            for (i = 0; i < module->start_n; ++i) {
                if (module->start_ranks[i] == target) {
                    return OMPI_SUCCESS;
                }
            }
        }
        return OMPI_ERR_RMA_SYNC;
    case OSC_RSM_EPOCH_PASSIVE:
        return (module->lock_state[target] != 0) ? OMPI_SUCCESS : OMPI_ERR_RMA_SYNC;
    case OSC_RSM_EPOCH_PASSIVE_ALL:
        return OMPI_SUCCESS;
    default:
        return OMPI_ERR_RMA_SYNC;
    }
}

/* The bytes of count elements of dt; fails if the origin and target sides
 * of a transfer do not move the same number of bytes. */
static int comm_check_sizes(int origin_count, struct ompi_datatype_t *origin_dt,
                            const ompi_osc_rsm_layout_t *target)
{
    size_t tsize;

    ompi_datatype_type_size(origin_dt, &tsize);
    if (tsize * (size_t)origin_count != target->bytes) {
        OSC_RSM_VERBOSE(10, "origin moves %zu bytes, target %zu",
                        tsize * (size_t)origin_count, target->bytes);
        return OMPI_ERR_BAD_PARAM;
    }
    return OMPI_SUCCESS;
}

static int comm_put(const void *origin_addr, int origin_count,
                    struct ompi_datatype_t *origin_dt, int target, ptrdiff_t target_disp,
                    int target_count, struct ompi_datatype_t *target_dt,
                    ompi_osc_rsm_module_t *module)
{
    const ompi_osc_rsm_peer_t *peer = &module->peers[target];
    ompi_osc_rsm_layout_t tl;
    const void *packed;
    void *to_free = NULL;
    ptrdiff_t off = 0;
    size_t i, pos = 0;
    int ret;

    ret = ompi_osc_rsm_layout(target_count, target_dt, &tl);
    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    ret = comm_check_sizes(origin_count, origin_dt, &tl);
    if (ret == OMPI_SUCCESS) {
        ret = ompi_osc_rsm_peer_range(peer, target_disp, tl.lo, tl.hi, &off);
    }
    if (ret == OMPI_SUCCESS) {
        ret = ompi_osc_rsm_pack(origin_addr, origin_count, origin_dt, tl.bytes, &packed,
                                &to_free);
    }
    for (i = 0; (ret == OMPI_SUCCESS) && (i < tl.nsegs); ++i) {
        ret = ompi_osc_rsm_peer_put(peer, (uint64_t)(off + tl.segs[i].off),
                                    (const char *)packed + pos, tl.segs[i].len);
        pos += tl.segs[i].len;
    }
    free(to_free);
    ompi_osc_rsm_layout_fini(&tl);
    return ret;
}

static int comm_get(void *origin_addr, int origin_count, struct ompi_datatype_t *origin_dt,
                    int target, ptrdiff_t target_disp, int target_count,
                    struct ompi_datatype_t *target_dt, ompi_osc_rsm_module_t *module)
{
    const ompi_osc_rsm_peer_t *peer = &module->peers[target];
    ompi_osc_rsm_layout_t tl;
    char *dst = NULL, *tmp = NULL;
    ptrdiff_t off = 0, gap;
    size_t i, pos = 0;
    int ret;

    ret = ompi_osc_rsm_layout(target_count, target_dt, &tl);
    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    ret = comm_check_sizes(origin_count, origin_dt, &tl);
    if (ret == OMPI_SUCCESS) {
        ret = ompi_osc_rsm_peer_range(peer, target_disp, tl.lo, tl.hi, &off);
    }
    if ((ret == OMPI_SUCCESS) && (tl.bytes > 0)) {
        if (ompi_datatype_is_contiguous_memory_layout(origin_dt, origin_count)) {
            (void)opal_datatype_span(&origin_dt->super, (size_t)origin_count, &gap);
            dst = (char *)origin_addr + gap;      /* straight into the origin buffer */
        } else if ((dst = tmp = malloc(tl.bytes)) == NULL) {
            ret = OMPI_ERR_OUT_OF_RESOURCE;
        }
    }
    for (i = 0; (ret == OMPI_SUCCESS) && (i < tl.nsegs); ++i) {
        ret = ompi_osc_rsm_peer_get(peer, (uint64_t)(off + tl.segs[i].off), dst + pos,
                                    tl.segs[i].len);
        pos += tl.segs[i].len;
    }
    if ((ret == OMPI_SUCCESS) && (tmp != NULL)) {
        ret = ompi_osc_rsm_unpack(origin_addr, origin_count, origin_dt, tmp, tl.bytes);
    }
    free(tmp);
    ompi_osc_rsm_layout_fini(&tl);
    return ret;
}

int ompi_osc_rsm_put(const void *origin_addr, int origin_count,
                     struct ompi_datatype_t *origin_dt, int target, ptrdiff_t target_disp,
                     int target_count, struct ompi_datatype_t *target_dt,
                     struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int ret = ompi_osc_rsm_check_access(module, target, false);

    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    return comm_put(origin_addr, origin_count, origin_dt, target, target_disp, target_count,
                    target_dt, module);
}

int ompi_osc_rsm_get(void *origin_addr, int origin_count, struct ompi_datatype_t *origin_dt,
                     int target, ptrdiff_t target_disp, int target_count,
                     struct ompi_datatype_t *target_dt, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int ret = ompi_osc_rsm_check_access(module, target, false);

    if (ret != OMPI_SUCCESS) {
        return ret;
    }
    return comm_get(origin_addr, origin_count, origin_dt, target, target_disp, target_count,
                    target_dt, module);
}

/* The request-based forms: the operation is complete at the target when it
 * returns, so the request handed back is already complete. */
static int comm_request_done(int ret, struct ompi_win_t *win, struct ompi_request_t **request)
{
    return (ret != OMPI_SUCCESS) ? ret : ompi_osc_rsm_request_completed(win, OMPI_SUCCESS,
                                                                        request);
}

int ompi_osc_rsm_rput(const void *origin_addr, int origin_count,
                      struct ompi_datatype_t *origin_dt, int target, ptrdiff_t target_disp,
                      int target_count, struct ompi_datatype_t *target_dt,
                      struct ompi_win_t *win, struct ompi_request_t **request)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int ret = ompi_osc_rsm_check_access(module, target, true);

    if (ret == OMPI_SUCCESS) {
        ret = comm_put(origin_addr, origin_count, origin_dt, target, target_disp, target_count,
                       target_dt, module);
    }
    return comm_request_done(ret, win, request);
}

int ompi_osc_rsm_rget(void *origin_addr, int origin_count, struct ompi_datatype_t *origin_dt,
                      int target, ptrdiff_t target_disp, int target_count,
                      struct ompi_datatype_t *target_dt, struct ompi_win_t *win,
                      struct ompi_request_t **request)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int ret = ompi_osc_rsm_check_access(module, target, true);

    if (ret == OMPI_SUCCESS) {
        ret = comm_get(origin_addr, origin_count, origin_dt, target, target_disp, target_count,
                       target_dt, module);
    }
    return comm_request_done(ret, win, request);
}
