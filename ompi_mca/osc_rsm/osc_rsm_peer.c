/*
 * osc_rsm_peer.c - reaching a peer's window and state: bounds checks, data
 * transfers, 64-bit atomics on the state segment, and RSM error mapping.
 *
 * Ways to reach a rank's window bytes, chosen per byte range:
 *   - ourselves: memcpy on our own memory.
 *   - the inner range of a peer (its whole exported pages, which is the
 *     whole window for MPI_Win_allocate and aligned MPI_Win_create):
 *       with a direct view (ucx_cpg_rsm_import_direct, peer on this host,
 *       osc_rsm_direct=true): memcpy through the view, then a full fence,
 *       so a put is in the target's memory on return;
 *       otherwise rsm_memseg_import_put/get (implicit barrier mode:
 *       synchronous, complete at the exporter on return).
 *   - the edges of a peer's unaligned MPI_Win_create buffer (partial first
 *     and last pages, never exported, osc_rsm_region.c):
 *     process_vm_writev/readv into the peer's address space, which is
 *     complete in the peer's memory when it returns.
 * State-segment atomics: __atomic builtins on our own state (the library
 * guarantees its atomics on a word are atomic with the exporter's own
 * __atomic builtins on it, ucx_cpg_rsm.h), ucx_cpg_rsm_atomic64 on a
 * peer's (complete at the target on return).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* process_vm_readv/writev */
#endif
#include "ompi_config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "osc_rsm.h"

#include "opal/runtime/opal_progress.h"

int ompi_osc_rsm_err(int rsm_err, const char *what)
{
    int ret;

    switch (rsm_err) {
    case RSM_SUCCESS:
        return OMPI_SUCCESS;
    case RSMERR_BAD_OFFSET:
    case RSMERR_BAD_LENGTH:
        ret = OMPI_ERR_RMA_RANGE;
        break;
    case RSMERR_INSUFFICIENT_MEM:
    case RSMERR_INSUFFICIENT_RESOURCES:
        ret = OMPI_ERR_OUT_OF_RESOURCE;
        break;
    case RSMERR_BAD_ADDR:
    case RSMERR_BAD_MEM_ALIGNMENT:
    case RSMERR_BAD_ARGS_ERRORS:
        ret = OMPI_ERR_BAD_PARAM;
        break;
    case RSMERR_CONN_ABORTED:
    case RSMERR_REMOTE_NODE_UNREACHABLE:
    case RSMERR_SEG_NOT_PUBLISHED:
    case RSMERR_SEG_NOT_PUBLISHED_TO_NODE:
        ret = OMPI_ERR_UNREACH;
        break;
    default:
        ret = OMPI_ERROR;
        break;
    }
    OSC_RSM_VERBOSE(10, "%s: RSM error %d -> OMPI error %d", what, rsm_err, ret);
    return ret;
}

int ompi_osc_rsm_peer_range(const ompi_osc_rsm_peer_t *peer, ptrdiff_t disp, ptrdiff_t lo,
                            ptrdiff_t hi, ptrdiff_t *off_p)
{
    ptrdiff_t off, start = 0, end = 0;

    if (__builtin_mul_overflow(disp, (ptrdiff_t)peer->disp_unit, &off)) {
        return OMPI_ERR_RMA_RANGE;
    }
    *off_p = off;
    if (hi <= lo) {
        return OMPI_SUCCESS;                     /* touches nothing */
    }
    if (__builtin_add_overflow(off, lo, &start) || __builtin_add_overflow(off, hi, &end) ||
        (start < 0) || ((uint64_t)end > peer->size)) {
        OSC_RSM_VERBOSE(10, "access [%td, %td) outside the target's %" PRIu64 "-byte window",
                        start, end, peer->size);
        return OMPI_ERR_RMA_RANGE;
    }
    return OMPI_SUCCESS;
}

/* Bytes of a peer's unaligned window edge, through cross-memory attach. */
static int peer_edge(const ompi_osc_rsm_peer_t *peer, uint64_t off, void *buf, size_t len,
                     bool is_put)
{
    struct iovec local, remote;
    ssize_t n;

    while (len > 0) {
        local.iov_base  = buf;
        local.iov_len   = len;
        remote.iov_base = (void *)(uintptr_t)(peer->base_addr + off);
        remote.iov_len  = len;
        n = is_put ? process_vm_writev(peer->pid, &local, 1, &remote, 1, 0)
                   : process_vm_readv(peer->pid, &local, 1, &remote, 1, 0);
        if (n <= 0) {
            int err = (n < 0) ? errno : EFAULT;

            OSC_RSM_VERBOSE(10, "process_vm_%sv(pid %d, %zu bytes): %s", is_put ? "write" : "read",
                            (int)peer->pid, len, strerror(err));
            return (err == ESRCH) ? OMPI_ERR_UNREACH
                 : (err == EPERM) ? OMPI_ERR_PERM : OMPI_ERROR;
        }
        buf  = (char *)buf + n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return OMPI_SUCCESS;
}

/* Bytes of a peer's inner range (its exported pages); off is a window offset. */
static int peer_inner(const ompi_osc_rsm_peer_t *peer, uint64_t off, void *buf, size_t len,
                      bool is_put)
{
    off_t seg_off = (off_t)(peer->seg_off + (off - peer->inner_off));

    if (peer->inner_view != NULL) {
        char *p = peer->inner_view + (off - peer->inner_off);

        if (is_put) {
            memcpy(p, buf, len);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
        } else {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            memcpy(buf, p, len);
        }
        return OMPI_SUCCESS;
    }
    if (peer->data_im == NULL) {
        return OMPI_ERR_RMA_RANGE;
    }
    return ompi_osc_rsm_err(is_put ? rsm_memseg_import_put(peer->data_im, seg_off, buf, len)
                                   : rsm_memseg_import_get(peer->data_im, seg_off, buf, len),
                            is_put ? "import_put" : "import_get");
}

/* Moves [off, off + len) of the peer's window (already bounds-checked),
 * splitting it into edge and inner pieces. */
static int peer_xfer(const ompi_osc_rsm_peer_t *peer, uint64_t off, void *buf, size_t len,
                     bool is_put)
{
    uint64_t inner_end = peer->inner_off + peer->inner_len;
    size_t n;
    int ret = OMPI_SUCCESS;

    if (peer->self_base != NULL) {
        if (is_put) {
            memcpy(peer->self_base + off, buf, len);
        } else {
            memcpy(buf, peer->self_base + off, len);
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return OMPI_SUCCESS;
    }
    while ((ret == OMPI_SUCCESS) && (len > 0)) {
        if ((off < peer->inner_off) || (off >= inner_end)) {
            n   = (off < peer->inner_off) ? (size_t)(peer->inner_off - off) : len;
            n   = (n < len) ? n : len;
            ret = peer_edge(peer, off, buf, n, is_put);
        } else {
            n   = (size_t)(inner_end - off);
            n   = (n < len) ? n : len;
            ret = peer_inner(peer, off, buf, n, is_put);
        }
        buf  = (char *)buf + n;
        off += n;
        len -= n;
    }
    return ret;
}

int ompi_osc_rsm_peer_put(const ompi_osc_rsm_peer_t *peer, uint64_t off, const void *buf,
                          size_t len)
{
    /* neither rsm_memseg_import_put nor process_vm_writev writes to buf */
    return (len == 0) ? OMPI_SUCCESS : peer_xfer(peer, off, (void *)buf, len, true);
}

int ompi_osc_rsm_peer_get(const ompi_osc_rsm_peer_t *peer, uint64_t off, void *buf, size_t len)
{
    return (len == 0) ? OMPI_SUCCESS : peer_xfer(peer, off, buf, len, false);
}

static uint64_t local_atomic(uint64_t *word, ucx_cpg_rsm_atomic_op_t op, uint64_t value,
                             uint64_t compare)
{
    uint64_t expected = compare;

    switch (op) {
    case UCX_CPG_RSM_ATOMIC_ADD:
        return __atomic_fetch_add(word, value, __ATOMIC_SEQ_CST);
    case UCX_CPG_RSM_ATOMIC_AND:
        return __atomic_fetch_and(word, value, __ATOMIC_SEQ_CST);
    case UCX_CPG_RSM_ATOMIC_OR:
        return __atomic_fetch_or(word, value, __ATOMIC_SEQ_CST);
    case UCX_CPG_RSM_ATOMIC_XOR:
        return __atomic_fetch_xor(word, value, __ATOMIC_SEQ_CST);
    case UCX_CPG_RSM_ATOMIC_SWAP:
        return __atomic_exchange_n(word, value, __ATOMIC_SEQ_CST);
    case UCX_CPG_RSM_ATOMIC_CSWAP:
    default:
        /* on failure expected receives the current value; on success it
         * still holds compare, which was the value */
        __atomic_compare_exchange_n(word, &expected, value, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
        return expected;
    }
}

int ompi_osc_rsm_peer_atomic(const ompi_osc_rsm_peer_t *peer, size_t off,
                             ucx_cpg_rsm_atomic_op_t op, uint64_t value, uint64_t compare,
                             uint64_t *old_p)
{
    uint64_t old;
    int ret;

    if (peer->state_local != NULL) {
        old = local_atomic(&peer->state_local[off / sizeof(uint64_t)], op, value, compare);
    } else {
        ret = ucx_cpg_rsm_atomic64(peer->state_im, (off_t)off, op, value, compare, &old);
        if (ret != RSM_SUCCESS) {
            return ompi_osc_rsm_err(ret, "atomic64");
        }
    }
    if (old_p != NULL) {
        *old_p = old;
    }
    return OMPI_SUCCESS;
}

uint64_t ompi_osc_rsm_state_read(ompi_osc_rsm_module_t *module, size_t off)
{
    return __atomic_load_n(&module->state[off / sizeof(uint64_t)], __ATOMIC_ACQUIRE);
}

/* Spin-waits poll MPI progress every round; after a few rounds they yield
 * the CPU (ranks are often oversubscribed), and after many they sleep a
 * little so that a long wait (a PSCW target waiting for a slow origin) does
 * not burn a core. */
void ompi_osc_rsm_backoff(unsigned *spins)
{
    static const struct timespec nap = { 0, 20000 };   /* 20 us */

    opal_progress();
    if (*spins < 10000) {
        ++*spins;
    }
    if (*spins > 4000) {
        nanosleep(&nap, NULL);
    } else if (*spins > 8) {
        sched_yield();
    }
}
