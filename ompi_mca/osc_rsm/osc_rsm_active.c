/*
 * osc_rsm_active.c - active-target synchronization: MPI_Win_fence and
 * post/start/complete/wait/test (PSCW).
 *
 * What each call guarantees and how. Every RMA operation of this component
 * is complete at its target when it returns (osc_rsm_peer.c), so closing an
 * access epoch never has to wait for data; it only has to order memory and
 * tell the targets.
 *
 *   fence     Full memory fence, then a barrier on the window's
 *             communicator, then another fence. When any rank leaves the
 *             fence, every rank's RMA issued before it has landed (it was
 *             complete before that rank entered the barrier) and every
 *             rank's local stores before it are visible; no RMA issued after
 *             it can land before every rank entered it. The barrier is kept
 *             even for MPI_MODE_NOPRECEDE / NOSUCCEED: it is what orders the
 *             next epoch's accesses after the targets' local stores.
 *   post      Fence, then one atomic increment of post[our rank] in the
 *             state segment of each origin of the group: "you may access
 *             me". Does not block.
 *   start     For each target of the group waits until post[target] in our
 *             own state segment is non-zero and takes one post (atomic
 *             decrement); per-target counters keep a post that arrives early
 *             for a later epoch from satisfying the wrong start.
 *             MPI_MODE_NOCHECK skips the wait (the matching post must also
 *             carry NOCHECK: then neither side touches the counters).
 *   complete  Fence (our accesses are already in the targets' memory), then
 *             one atomic increment of the complete counter of each target.
 *   wait      Waits until our complete counter reaches the size of the post
 *             group, subtracts that many and fences: every origin's accesses
 *             landed before its increment. A complete for the next epoch
 *             cannot arrive early: it needs our next post first.
 *   test      wait without blocking.
 */
#include "ompi_config.h"

#include <stdlib.h>

#include "osc_rsm.h"

/* The ranks of group in the window's communicator. */
static int active_group_ranks(ompi_osc_rsm_module_t *module, struct ompi_group_t *group,
                              int **ranks_p, int *n_p)
{
    int i, n = ompi_group_size(group), *in, *out;
    int ret;

    in  = calloc((size_t)n + 1, sizeof(int));
    out = calloc((size_t)n + 1, sizeof(int));
    if ((in == NULL) || (out == NULL)) {
        free(in);
        free(out);
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    for (i = 0; i < n; ++i) {
        in[i] = i;
    }
    ret = ompi_group_translate_ranks(group, n, in, module->comm->c_local_group, out);
    free(in);
    for (i = 0; (ret == OMPI_SUCCESS) && (i < n); ++i) {
        if ((out[i] < 0) || (out[i] >= module->nprocs)) {
            ret = OMPI_ERR_BAD_PARAM;           /* not a member of the window */
        }
    }
    if (ret != OMPI_SUCCESS) {
        free(out);
        return ret;
    }
    *ranks_p = out;
    *n_p     = n;
    return OMPI_SUCCESS;
}

int ompi_osc_rsm_fence(int assert, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int ret;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if (((module->access != OSC_RSM_EPOCH_NONE) && (module->access != OSC_RSM_EPOCH_FENCE)) ||
        (module->post_n >= 0)) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    ret = module->comm->c_coll->coll_barrier(module->comm,
                                             module->comm->c_coll->coll_barrier_module);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    module->access = (assert & MPI_MODE_NOSUCCEED) ? OSC_RSM_EPOCH_NONE : OSC_RSM_EPOCH_FENCE;
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

int ompi_osc_rsm_start(struct ompi_group_t *group, int assert, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    const ompi_osc_rsm_peer_t *self = &module->peers[module->rank];
    unsigned spins;
    size_t word;
    int i, ret;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if ((module->access != OSC_RSM_EPOCH_NONE) && (module->access != OSC_RSM_EPOCH_FENCE)) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    ret = active_group_ranks(module, group, &module->start_ranks, &module->start_n);
    for (i = 0; (ret == OMPI_SUCCESS) && !(assert & MPI_MODE_NOCHECK) && (i < module->start_n);
         ++i) {
        word  = OSC_RSM_STATE_POST + 8 * (size_t)module->start_ranks[i];
        spins = 0;
        while (ompi_osc_rsm_state_read(module, word) == 0) {
            ompi_osc_rsm_backoff(&spins);
        }
        ret = ompi_osc_rsm_peer_atomic(self, word, UCX_CPG_RSM_ATOMIC_ADD, (uint64_t)-1, 0, NULL);
    }
    if (ret == OMPI_SUCCESS) {
        module->access = OSC_RSM_EPOCH_PSCW;
    } else {
        free(module->start_ranks);
        module->start_ranks = NULL;
        module->start_n     = 0;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

int ompi_osc_rsm_complete(struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int i, ret = OMPI_SUCCESS, ret2;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if (module->access != OSC_RSM_EPOCH_PSCW) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (i = 0; i < module->start_n; ++i) {
        ret2 = ompi_osc_rsm_peer_atomic(&module->peers[module->start_ranks[i]],
                                        OSC_RSM_STATE_COMPLETE, UCX_CPG_RSM_ATOMIC_ADD, 1, 0,
                                        NULL);
        if (ret == OMPI_SUCCESS) {
            ret = ret2;           /* tell the others anyway: they are waiting */
        }
    }
    free(module->start_ranks);
    module->start_ranks = NULL;
    module->start_n     = 0;
    module->access      = OSC_RSM_EPOCH_NONE;
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

int ompi_osc_rsm_post(struct ompi_group_t *group, int assert, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    size_t word = OSC_RSM_STATE_POST + 8 * (size_t)module->rank;
    int i, n, ret, ret2, *ranks;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if (module->post_n >= 0) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    ret = active_group_ranks(module, group, &ranks, &n);
    if (ret != OMPI_SUCCESS) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return ret;
    }
    /* our local stores before the post must be visible to the origins */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (i = 0; !(assert & MPI_MODE_NOCHECK) && (i < n); ++i) {
        ret2 = ompi_osc_rsm_peer_atomic(&module->peers[ranks[i]], word, UCX_CPG_RSM_ATOMIC_ADD,
                                        1, 0, NULL);
        if (ret == OMPI_SUCCESS) {
            ret = ret2;
        }
    }
    module->post_ranks = ranks;
    module->post_n     = n;
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

/* Ends the exposure epoch if every origin completed; called with sync_lock. */
static bool active_try_wait(ompi_osc_rsm_module_t *module, int *ret_p)
{
    const ompi_osc_rsm_peer_t *self = &module->peers[module->rank];
    uint64_t n = (uint64_t)module->post_n;

    if (ompi_osc_rsm_state_read(module, OSC_RSM_STATE_COMPLETE) < n) {
        return false;
    }
    *ret_p = (n == 0) ? OMPI_SUCCESS
                      : ompi_osc_rsm_peer_atomic(self, OSC_RSM_STATE_COMPLETE,
                                                 UCX_CPG_RSM_ATOMIC_ADD, (uint64_t)0 - n, 0,
                                                 NULL);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    free(module->post_ranks);
    module->post_ranks = NULL;
    module->post_n     = -1;
    return true;
}

int ompi_osc_rsm_wait(struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    unsigned spins = 0;
    int ret = OMPI_SUCCESS;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if (module->post_n < 0) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    while (!active_try_wait(module, &ret)) {
        ompi_osc_rsm_backoff(&spins);
    }
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

int ompi_osc_rsm_test(struct ompi_win_t *win, int *flag)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    unsigned spins = 0;
    int ret = OMPI_SUCCESS;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if (module->post_n < 0) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    *flag = active_try_wait(module, &ret);
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    if (!*flag) {
        ompi_osc_rsm_backoff(&spins);   /* let the caller's test loop make progress */
    }
    return ret;
}
