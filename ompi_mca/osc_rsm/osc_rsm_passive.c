/*
 * osc_rsm_passive.c - passive-target synchronization: MPI_Win_lock/unlock,
 * lock_all/unlock_all, flush, flush_all, flush_local, flush_local_all and
 * MPI_Win_sync.
 *
 * The lock is the word OSC_RSM_STATE_LOCK of the target's state segment,
 * changed only with 64-bit atomics (ucx_cpg_rsm_atomic64, or __atomic for
 * ourselves): it holds the number of shared holders plus OSC_RSM_LOCK_EXCL
 * while an exclusive holder has it.
 *   shared     fetch-add 1; if the exclusive bit was set, add -1 back and
 *              poll (fetch-add 0) until it is clear, then try again.
 *   exclusive  CSWAP 0 -> EXCL until it succeeds.
 *   unlock     add -1 (shared) or -EXCL (exclusive). Not a plain store: a
 *              shared locker may have a transient +1 in the word.
 * The lock is taken eagerly in MPI_Win_lock (MPI allows lock to block).
 * MPI_MODE_NOCHECK takes no lock word at all, as MPI permits. Locks and
 * accumulates use different words: the accumulate lock
 * (osc_rsm_accumulate.c) is held only for the duration of one operation.
 *
 * What each call guarantees and how:
 *   unlock / unlock_all  every operation to the target(s) is complete at
 *              the target before the call: each one already was when it
 *              returned; a fence orders them before the lock release.
 *   flush, flush_all     complete at the target: already true, so they are a
 *              memory fence after the epoch check.
 *   flush_local(_all)    origin buffers reusable: already true (a put has
 *              read its buffer before returning).
 *   sync       a full memory fence: under the unified model our loads see
 *              remote writes that completed, and remote readers see our
 *              stores.
 */
#include "ompi_config.h"

#include "osc_rsm.h"

static int passive_acquire(ompi_osc_rsm_module_t *module, int target, bool exclusive)
{
    const ompi_osc_rsm_peer_t *peer = &module->peers[target];
    unsigned spins = 0;
    uint64_t old;
    int ret;

    for (;;) {
        if (exclusive) {
            ret = ompi_osc_rsm_peer_atomic(peer, OSC_RSM_STATE_LOCK, UCX_CPG_RSM_ATOMIC_CSWAP,
                                           OSC_RSM_LOCK_EXCL, 0, &old);
            if ((ret != OMPI_SUCCESS) || (old == 0)) {
                return ret;
            }
        } else {
            ret = ompi_osc_rsm_peer_atomic(peer, OSC_RSM_STATE_LOCK, UCX_CPG_RSM_ATOMIC_ADD, 1, 0,
                                           &old);
            if ((ret != OMPI_SUCCESS) || !(old & OSC_RSM_LOCK_EXCL)) {
                return ret;
            }
            ret = ompi_osc_rsm_peer_atomic(peer, OSC_RSM_STATE_LOCK, UCX_CPG_RSM_ATOMIC_ADD,
                                           (uint64_t)-1, 0, NULL);
            /* wait for the exclusive holder to leave before trying again */
            while ((ret == OMPI_SUCCESS) && (old & OSC_RSM_LOCK_EXCL)) {
                ompi_osc_rsm_backoff(&spins);
                ret = ompi_osc_rsm_peer_atomic(peer, OSC_RSM_STATE_LOCK, UCX_CPG_RSM_ATOMIC_ADD,
                                               0, 0, &old);
            }
            if (ret != OMPI_SUCCESS) {
                return ret;
            }
        }
        ompi_osc_rsm_backoff(&spins);
    }
}

static int passive_release(ompi_osc_rsm_module_t *module, int target, uint8_t state)
{
    uint64_t delta = (state & OSC_RSM_LOCKED_EXCLUSIVE) ? (uint64_t)0 - OSC_RSM_LOCK_EXCL
                                                         : (uint64_t)-1;

    if (state & OSC_RSM_LOCKED_NOCHECK) {
        return OMPI_SUCCESS;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return ompi_osc_rsm_peer_atomic(&module->peers[target], OSC_RSM_STATE_LOCK,
                                    UCX_CPG_RSM_ATOMIC_ADD, delta, 0, NULL);
}

int ompi_osc_rsm_lock(int lock_type, int target, int assert, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    bool exclusive = (lock_type == MPI_LOCK_EXCLUSIVE);
    uint8_t state = exclusive ? OSC_RSM_LOCKED_EXCLUSIVE : OSC_RSM_LOCKED_SHARED;
    int ret = OMPI_SUCCESS;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if (((module->access != OSC_RSM_EPOCH_NONE) && (module->access != OSC_RSM_EPOCH_FENCE) &&
         (module->access != OSC_RSM_EPOCH_PASSIVE)) ||
        (module->lock_state[target] != 0)) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    if (assert & MPI_MODE_NOCHECK) {
        state |= OSC_RSM_LOCKED_NOCHECK;
    } else {
        ret = passive_acquire(module, target, exclusive);
    }
    if (ret == OMPI_SUCCESS) {
        module->lock_state[target] = state;
        ++module->nlocks;
        module->access = OSC_RSM_EPOCH_PASSIVE;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

int ompi_osc_rsm_unlock(int target, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int ret;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if ((module->access != OSC_RSM_EPOCH_PASSIVE) || (module->lock_state[target] == 0)) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    ret = passive_release(module, target, module->lock_state[target]);
    module->lock_state[target] = 0;
    if (--module->nlocks == 0) {
        module->access = OSC_RSM_EPOCH_NONE;
    }
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

int ompi_osc_rsm_lock_all(int assert, struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    uint8_t state = OSC_RSM_LOCKED_SHARED;
    int i, ret = OMPI_SUCCESS;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if ((module->access != OSC_RSM_EPOCH_NONE) && (module->access != OSC_RSM_EPOCH_FENCE)) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    if (assert & MPI_MODE_NOCHECK) {
        state |= OSC_RSM_LOCKED_NOCHECK;
    }
    for (i = 0; (ret == OMPI_SUCCESS) && (i < module->nprocs); ++i) {
        if (!(state & OSC_RSM_LOCKED_NOCHECK)) {
            ret = passive_acquire(module, i, false);
        }
        if (ret == OMPI_SUCCESS) {
            module->lock_state[i] = state;
        }
    }
    if (ret != OMPI_SUCCESS) {
        while (--i >= 0) {                       /* give back what we took */
            if (module->lock_state[i] != 0) {
                passive_release(module, i, module->lock_state[i]);
                module->lock_state[i] = 0;
            }
        }
    } else {
        module->access = OSC_RSM_EPOCH_PASSIVE_ALL;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

int ompi_osc_rsm_unlock_all(struct ompi_win_t *win)
{
    ompi_osc_rsm_module_t *module = ompi_osc_rsm_module(win);
    int i, ret = OMPI_SUCCESS, ret2;

    OPAL_THREAD_LOCK(&module->sync_lock);
    if (module->access != OSC_RSM_EPOCH_PASSIVE_ALL) {
        OPAL_THREAD_UNLOCK(&module->sync_lock);
        return OMPI_ERR_RMA_SYNC;
    }
    for (i = 0; i < module->nprocs; ++i) {
        ret2 = passive_release(module, i, module->lock_state[i]);
        module->lock_state[i] = 0;
        if (ret == OMPI_SUCCESS) {
            ret = ret2;
        }
    }
    module->access = OSC_RSM_EPOCH_NONE;
    OPAL_THREAD_UNLOCK(&module->sync_lock);
    return ret;
}

/* Flushes are legal only inside a passive-target epoch on the target. */
static int passive_flush(ompi_osc_rsm_module_t *module, int target)
{
    bool ok = (module->access == OSC_RSM_EPOCH_PASSIVE_ALL) ||
              ((module->access == OSC_RSM_EPOCH_PASSIVE) &&
               ((target < 0) || (module->lock_state[target] != 0)));

    if (!ok) {
        return OMPI_ERR_RMA_SYNC;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return OMPI_SUCCESS;
}

int ompi_osc_rsm_flush(int target, struct ompi_win_t *win)
{
    return passive_flush(ompi_osc_rsm_module(win), target);
}

int ompi_osc_rsm_flush_all(struct ompi_win_t *win)
{
    return passive_flush(ompi_osc_rsm_module(win), -1);
}

int ompi_osc_rsm_flush_local(int target, struct ompi_win_t *win)
{
    return passive_flush(ompi_osc_rsm_module(win), target);
}

int ompi_osc_rsm_flush_local_all(struct ompi_win_t *win)
{
    return passive_flush(ompi_osc_rsm_module(win), -1);
}

int ompi_osc_rsm_sync(struct ompi_win_t *win)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return OMPI_SUCCESS;
}
