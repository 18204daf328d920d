/*
 * osc_rsm_window.c - creating and freeing windows (MPI_Win_create,
 * MPI_Win_allocate, MPI_Win_free).
 *
 * Creation, collectively on a private duplicate of the communicator:
 *   1. local set-up: the window's whole pages (allocate: fresh pages;
 *      create: the whole pages inside the user's buffer, see
 *      osc_rsm_region.c) exported and published as one segment, and the
 *      state segment (zeroed words) likewise;
 *   2. allgather of {status, node id, pid, data segment id, state segment
 *      id, window size, window address, where the exported pages lie in the
 *      window and in the segment, disp_unit};
 *   3. every rank imports every other rank's state segment and, where it
 *      has exported pages, its data segment (RSM_PERM_RDWR), asks for a
 *      direct view of the data, and checks that it can reach the peer's
 *      unexported edges (process_vm_readv of one byte) if it has any;
 *   4. an allreduce of "all went well".
 * A failure on any rank in step 1 or 3 makes every rank undo what it did
 * and fail the creation with the same decision, never leaving part of the
 * communicator waiting in a collective the others skipped.
 *
 * The window is MPI_WIN_UNIFIED: public and private copies are the same
 * memory (the exported pages are the user's pages; the edges are the
 * user's memory, written in place by process_vm_writev).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* process_vm_readv/writev */
#endif
#include "ompi_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "osc_rsm.h"

/* What a rank tells the others about its part of the window. */
typedef struct window_info {
    int32_t  status;       /* OMPI_SUCCESS, or why local set-up failed */
    uint32_t node;         /* rsm node id of the rank's host */
    int32_t  pid;
    uint32_t data_segid;   /* 0: no exported pages */
    uint32_t state_segid;
    uint32_t pad;
    uint64_t size;         /* window size in bytes */
    uint64_t base_addr;    /* the window's address in the rank */
    uint64_t inner_off;    /* exported pages: window bytes [inner_off, */
    uint64_t inner_len;    /*   inner_off + inner_len) ...               */
    uint64_t seg_off;      /* ... at this offset of the data segment */
    int64_t  disp_unit;
} window_info_t;

static int window_connect(ompi_osc_rsm_module_t *module, const window_info_t *info, int r)
{
    ompi_osc_rsm_peer_t *peer = &module->peers[r];
    struct iovec local, remote;
    void *view = NULL;
    char byte;
    int ret;

    ret = rsm_memseg_import_connect(mca_osc_rsm_component.ctlr, info->node, info->state_segid,
                                    RSM_PERM_RDWR, &peer->state_im);
    if (ret != RSM_SUCCESS) {
        OSC_RSM_ERROR("cannot import the state segment %#x of rank %d (node %u): RSM error %d",
                      (unsigned)info->state_segid, r, (unsigned)info->node, ret);
        peer->state_im = NULL;
        return ompi_osc_rsm_err(ret, "import_connect");
    }
    if (info->inner_len > 0) {
        ret = rsm_memseg_import_connect(mca_osc_rsm_component.ctlr, info->node, info->data_segid,
                                        RSM_PERM_RDWR, &peer->data_im);
        if (ret != RSM_SUCCESS) {
            OSC_RSM_ERROR("cannot import the window segment %#x of rank %d (node %u): "
                          "RSM error %d", (unsigned)info->data_segid, r, (unsigned)info->node,
                          ret);
            peer->data_im = NULL;
            return ompi_osc_rsm_err(ret, "import_connect");
        }
        if (mca_osc_rsm_component.use_direct &&
            (ucx_cpg_rsm_import_direct(peer->data_im, &view) == RSM_SUCCESS) && (view != NULL)) {
            peer->inner_view = (char *)view + info->seg_off;
        }
    }
    if (info->inner_len < info->size) {
        /* the peer has unexported edges: can we reach them? */
        local.iov_base  = &byte;
        local.iov_len   = 1;
        remote.iov_base = (void *)(uintptr_t)((info->inner_off > 0)
                                                  ? info->base_addr
                                                  : info->base_addr + info->size - 1);
        remote.iov_len  = 1;
        if (process_vm_readv((pid_t)info->pid, &local, 1, &remote, 1, 0) != 1) {
            OSC_RSM_ERROR("MPI_Win_create on a buffer that is not page aligned needs "
                          "process_vm_readv/writev to rank %d (pid %d) for its partial pages, "
                          "which failed: %s (use page-aligned buffers or MPI_Win_allocate)",
                          r, (int)info->pid, strerror(errno));
            return OMPI_ERR_PERM;
        }
    }
    return OMPI_SUCCESS;
}

static void window_disconnect(ompi_osc_rsm_module_t *module)
{
    int r;

    for (r = 0; (module->peers != NULL) && (r < module->nprocs); ++r) {
        ompi_osc_rsm_peer_t *peer = &module->peers[r];

        if (peer->data_im != NULL) {
            rsm_memseg_import_disconnect(peer->data_im);
        }
        if (peer->state_im != NULL) {
            rsm_memseg_import_disconnect(peer->state_im);
        }
        memset(peer, 0, sizeof(*peer));
    }
}

/* Frees everything local: imports first (ours of the others' segments),
 * then our exports, then the bookkeeping. */
static void window_destroy(ompi_osc_rsm_module_t *module)
{
    window_disconnect(module);
    ompi_osc_rsm_region_release(module->data);
    ompi_osc_rsm_region_release(module->state_region);
    if (module->comm != NULL) {
        ompi_comm_free(&module->comm);
    }
    free(module->peers);
    free(module->lock_state);
    free(module->start_ranks);
    free(module->post_ranks);
    OBJ_DESTRUCT(&module->sync_lock);
    free(module);
}

/* Step 1: this rank's memory and state segments. */
static int window_local_setup(ompi_osc_rsm_module_t *module, void **base, size_t size,
                              int flavor, window_info_t *mine)
{
    uint64_t inner_off = 0, inner_len = 0, seg_off = 0;
    int ret = OMPI_SUCCESS;

    if (size > 0) {
        if (flavor == MPI_WIN_FLAVOR_ALLOCATE) {
            ret = ompi_osc_rsm_region_alloc(size, &module->data);
            if (ret == OMPI_SUCCESS) {
                *base     = module->data->page_base;
                inner_len = size;
            }
        } else {
            ret = ompi_osc_rsm_region_attach(*base, size, &module->data, &inner_off,
                                             &inner_len, &seg_off);
        }
    } else if (flavor == MPI_WIN_FLAVOR_ALLOCATE) {
        *base = NULL;
    }
    if ((ret == OMPI_SUCCESS) && (inner_len < size)) {
        /* Peers reach our edges with process_vm_writev: where Yama restricts
         * ptrace to descendants, allow them (as Open MPI's vader does for
         * CMA). Harmless where Yama is absent (EINVAL). */
        (void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    }
    if (ret == OMPI_SUCCESS) {
        ret = ompi_osc_rsm_region_alloc(OSC_RSM_STATE_BYTES(module->nprocs),
                                        &module->state_region);
    }
    if (ret == OMPI_SUCCESS) {
        module->state = (uint64_t *)module->state_region->page_base;
        mine->state_segid = module->state_region->segid;
        mine->data_segid  = (module->data != NULL) ? module->data->segid : 0;
    }
    module->base    = *base;
    mine->status    = ret;
    mine->node      = mca_osc_rsm_component.node_id;
    mine->pid       = (int32_t)getpid();
    mine->size      = size;
    mine->base_addr = (uint64_t)(uintptr_t)*base;
    mine->inner_off = inner_off;
    mine->inner_len = inner_len;
    mine->seg_off   = seg_off;
    return ret;
}

/* Step 4 (and the end of step 2): did every rank succeed? */
static int window_all_ok(ompi_osc_rsm_module_t *module, int local_ret, bool *all_ok_p)
{
    int ok = (local_ret == OMPI_SUCCESS);
    int ret;

    ret = module->comm->c_coll->coll_allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND,
                                               module->comm,
                                               module->comm->c_coll->coll_allreduce_module);
    *all_ok_p = (ret == OMPI_SUCCESS) && ok;
    return ret;
}

int ompi_osc_rsm_window_select(struct ompi_win_t *win, void **base, size_t size, int disp_unit,
                               struct ompi_communicator_t *comm, struct opal_info_t *info,
                               int flavor, int *model)
{
    ompi_osc_rsm_module_t *module;
    window_info_t mine, *infos = NULL;
    char name[MPI_MAX_OBJECT_NAME];
    bool all_ok = false;
    int r, ret, local_ret;

    if ((flavor != MPI_WIN_FLAVOR_CREATE) && (flavor != MPI_WIN_FLAVOR_ALLOCATE)) {
        return OMPI_ERR_NOT_SUPPORTED;
    }
    module = calloc(1, sizeof(*module));
    if (module == NULL) {
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    memcpy(&module->super, &ompi_osc_rsm_module_template, sizeof(module->super));
    OBJ_CONSTRUCT(&module->sync_lock, opal_mutex_t);
    module->win       = win;
    module->flavor    = flavor;
    module->size      = size;
    module->disp_unit = disp_unit;
    module->post_n    = -1;
    module->access    = OSC_RSM_EPOCH_NONE;

    ret = ompi_comm_dup(comm, &module->comm);
    if (ret != OMPI_SUCCESS) {
        module->comm = NULL;
        window_destroy(module);
        return ret;
    }
    module->rank       = ompi_comm_rank(module->comm);
    module->nprocs     = ompi_comm_size(module->comm);
    module->peers      = calloc((size_t)module->nprocs, sizeof(*module->peers));
    module->lock_state = calloc((size_t)module->nprocs, sizeof(*module->lock_state));
    infos              = calloc((size_t)module->nprocs, sizeof(*infos));

    /* 1. local set-up */
    memset(&mine, 0, sizeof(mine));
    mine.disp_unit = disp_unit;
    if ((module->peers == NULL) || (module->lock_state == NULL) || (infos == NULL)) {
        mine.status = local_ret = OMPI_ERR_OUT_OF_RESOURCE;
    } else {
        local_ret = window_local_setup(module, base, size, flavor, &mine);
    }

    /* 2. exchange */
    ret = module->comm->c_coll->coll_allgather(&mine, sizeof(mine), MPI_BYTE, infos,
                                               sizeof(mine), MPI_BYTE, module->comm,
                                               module->comm->c_coll->coll_allgather_module);
    if (ret != OMPI_SUCCESS) {
        goto fail;
    }
    for (r = 0; r < module->nprocs; ++r) {
        if (infos[r].status != OMPI_SUCCESS) {
            OSC_RSM_VERBOSE(1, "rank %d could not set up its part of the window (%d)", r,
                            (int)infos[r].status);
            ret = (local_ret != OMPI_SUCCESS) ? local_ret : OMPI_ERR_WIN;
            goto fail;
        }
    }

    /* 3. imports */
    for (r = 0; (local_ret == OMPI_SUCCESS) && (r < module->nprocs); ++r) {
        ompi_osc_rsm_peer_t *peer = &module->peers[r];

        peer->size      = infos[r].size;
        peer->base_addr = infos[r].base_addr;
        peer->inner_off = infos[r].inner_off;
        peer->inner_len = infos[r].inner_len;
        peer->seg_off   = infos[r].seg_off;
        peer->pid       = (pid_t)infos[r].pid;
        peer->disp_unit = (int)infos[r].disp_unit;
        if (r == module->rank) {
            peer->self_base   = module->base;
            peer->state_local = module->state;
        } else {
            local_ret = window_connect(module, &infos[r], r);
        }
    }

    /* 4. agreement */
    ret = window_all_ok(module, local_ret, &all_ok);
    if ((ret != OMPI_SUCCESS) || !all_ok) {
        if (ret == OMPI_SUCCESS) {
            ret = (local_ret != OMPI_SUCCESS) ? local_ret : OMPI_ERR_WIN;
        }
        goto fail;
    }
    free(infos);

    snprintf(name, sizeof(name), "rsm window %u", (unsigned)ompi_comm_get_cid(module->comm));
    ompi_win_set_name(win, name);
    *model = MPI_WIN_UNIFIED;
    win->w_osc_module = &module->super;
    OSC_RSM_VERBOSE(10, "%s: %d ranks, %zu bytes here, %s", name, module->nprocs, size,
                    (flavor == MPI_WIN_FLAVOR_ALLOCATE) ? "allocated" : "created");
    return OMPI_SUCCESS;

fail:
    free(infos);
    window_destroy(module);
    return ret;
}

int ompi_osc_rsm_free(struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int ret;

    if (((module->access != OSC_RSM_EPOCH_NONE) && (module->access != OSC_RSM_EPOCH_FENCE)) ||
        (module->post_n >= 0)) {
        return OMPI_ERR_RMA_SYNC;                /* an epoch is still open */
    }
    /* Nobody accesses the window once everyone is here (every access was
     * complete when it returned)... */
    ret = module->comm->c_coll->coll_barrier(module->comm,
                                             module->comm->c_coll->coll_barrier_module);
    window_disconnect(module);
    /* ...and nobody imports our segments once everyone is here, so
     * destroying the exports aborts no importer. */
    if (ret == OMPI_SUCCESS) {
        ret = module->comm->c_coll->coll_barrier(module->comm,
                                                 module->comm->c_coll->coll_barrier_module);
    }
    win->w_osc_module = NULL;
    window_destroy(module);
    return ret;
}

int ompi_osc_rsm_attach(struct ompi_win_t *win, void *base, size_t len)
{
    return OMPI_ERR_RMA_FLAVOR;      /* only dynamic windows take attach */
}

int ompi_osc_rsm_detach(struct ompi_win_t *win, const void *base)
{
    return OMPI_ERR_RMA_FLAVOR;
}
