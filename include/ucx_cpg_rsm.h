/*
 * ucx_cpg_rsm.h - ucx_cpg extensions to RSMAPI: remote atomic operations.
 *
 * Solaris RSMAPI has no atomics; MPI one-sided windows (ompi_mca/osc_rsm)
 * and lock-free protocols over a segment need them. These calls work on an
 * import handle like rsm_memseg_import_put/get and follow their rules:
 *
 *   - the import must have been connected with RSM_PERM_RDWR (an atomic both
 *     reads and writes), else RSMERR_PERM_DENIED;
 *   - offset must be a multiple of the operand size, else
 *     RSMERR_BAD_MEM_ALIGNMENT; offset + size must lie inside the segment,
 *     else RSMERR_BAD_OFFSET / RSMERR_BAD_LENGTH;
 *   - an unknown op gives RSMERR_BAD_ARGS_ERRORS; a stale handle
 *     RSMERR_BAD_SEG_HNDL; an unpublished segment or a dead exporter
 *     RSMERR_CONN_ABORTED.
 *
 * The operation is atomic with respect to every other ucx_cpg atomic on the
 * same word and to the exporter's own CPU atomics (__atomic builtins) on it:
 * for an exporter on this host it is a CPU atomic through the shared mapping;
 * otherwise it is a UCP atomic (ucp_atomic_op_nbx), which the exporter's
 * progress thread applies with CPU atomics where the transport emulates it.
 * Like a put in implicit barrier mode, it is complete at the exporter when
 * the call returns. Plain stores racing with an atomic on the same word are
 * not atomic with it (as in C11).
 *
 * old_value receives the value before the operation; it may be NULL for
 * ADD/AND/OR/XOR/SWAP/CSWAP when the caller does not need it.
 */
#ifndef UCX_CPG_RSM_H
#define UCX_CPG_RSM_H

#include <stdint.h>

#include "rsmapi.h"
#include "ucx_cpg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    UCX_CPG_RSM_ATOMIC_ADD   = 0,   /* *target += value               */
    UCX_CPG_RSM_ATOMIC_AND   = 1,   /* *target &= value               */
    UCX_CPG_RSM_ATOMIC_OR    = 2,   /* *target |= value               */
    UCX_CPG_RSM_ATOMIC_XOR   = 3,   /* *target ^= value               */
    UCX_CPG_RSM_ATOMIC_SWAP  = 4,   /* *target  = value               */
    UCX_CPG_RSM_ATOMIC_CSWAP = 5    /* if (*target == compare) *target = value */
} ucx_cpg_rsm_atomic_op_t;

UCX_CPG_API int ucx_cpg_rsm_atomic64(rsm_memseg_import_handle_t im_memseg, off_t offset,
                                     ucx_cpg_rsm_atomic_op_t op, uint64_t value,
                                     uint64_t compare, uint64_t *old_value);

UCX_CPG_API int ucx_cpg_rsm_atomic32(rsm_memseg_import_handle_t im_memseg, off_t offset,
                                     ucx_cpg_rsm_atomic_op_t op, uint32_t value,
                                     uint32_t compare, uint32_t *old_value);

/*
 * Direct pointer into an import for an exporter on this host: the same
 * access rights as the import (a read-only import gives a read-only view).
 * Returns RSM_SUCCESS and *address, or RSMERR_MAP_FAILED where no shared
 * mapping exists (the exporter is on another host); the usual handle errors
 * otherwise. The view is the library's own: valid until disconnect, replaced
 * by private zero pages when the segment is unpublished or its exporter dies
 * (check with a transfer or a barrier, which then return
 * RSMERR_CONN_ABORTED). Unlike rsm_memseg_import_map it needs no
 * unmap and may be asked for any number of times.
 */
UCX_CPG_API int ucx_cpg_rsm_import_direct(rsm_memseg_import_handle_t im_memseg,
                                          void **address);

/*
 * Non-zero if this process' domain reaches processes of other hosts, so that
 * rsm_memseg_import_connect may name a segment exported on another node: the
 * domain was formed by a launcher's PMIx boot (UCX_CPG_BOOT=auto or pmix
 * under mpirun). 0 for a domain of this host only (UCX_CPG_BOOT=local), and
 * when the library cannot be opened. Opens the library's domain if this
 * process has none yet, like rsm_get_controller.
 */
UCX_CPG_API int ucx_cpg_rsm_reaches_other_hosts(void);

#ifdef __cplusplus
}
#endif

#endif
