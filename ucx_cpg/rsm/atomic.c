/*
 * atomic.c - remote atomic operations on an import (<ucx_cpg_rsm.h>), the
 * ucx_cpg extension MPI windows need (RSMAPI itself has none).
 *
 * For an exporter on this host the operation is a CPU atomic through the
 * import's direct view (map.c), so it is atomic with the exporter's own
 * __atomic builtins and with every other local importer. Otherwise it is a
 * UCP atomic; the fetching form is always used, because its reply is what
 * tells us the operation reached the exporter's memory (a non-fetching UCP
 * atomic completes locally).
 */
#include "rsm_int.h"

#include "ucx_cpg_rsm.h"

/* ucpg_rsm_cpu_atomic32/64: one CPU atomic on *p; returns the old value. */
#define UCPG_RSM_CPU_ATOMIC(bits)                                                          \
    static uint##bits##_t ucpg_rsm_cpu_atomic##bits(uint##bits##_t *p,                     \
                                                    ucx_cpg_rsm_atomic_op_t op,            \
                                                    uint##bits##_t value,                  \
                                                    uint##bits##_t compare)                \
    {                                                                                      \
        switch (op) {                                                                      \
        case UCX_CPG_RSM_ATOMIC_ADD:  return __atomic_fetch_add(p, value, __ATOMIC_SEQ_CST); \
        case UCX_CPG_RSM_ATOMIC_AND:  return __atomic_fetch_and(p, value, __ATOMIC_SEQ_CST); \
        case UCX_CPG_RSM_ATOMIC_OR:   return __atomic_fetch_or(p, value, __ATOMIC_SEQ_CST);  \
        case UCX_CPG_RSM_ATOMIC_XOR:  return __atomic_fetch_xor(p, value, __ATOMIC_SEQ_CST); \
        case UCX_CPG_RSM_ATOMIC_SWAP: return __atomic_exchange_n(p, value, __ATOMIC_SEQ_CST); \
        default:                                                                           \
            __atomic_compare_exchange_n(p, &compare, value, 0, __ATOMIC_SEQ_CST,           \
                                        __ATOMIC_SEQ_CST);                                 \
            return compare;             /* the old value, equal or not */                  \
        }                                                                                  \
    }

UCPG_RSM_CPU_ATOMIC(32)
UCPG_RSM_CPU_ATOMIC(64)

static ucp_atomic_op_t ucpg_rsm_ucp_op(ucx_cpg_rsm_atomic_op_t op)
{
    switch (op) {
    case UCX_CPG_RSM_ATOMIC_ADD:  return UCP_ATOMIC_OP_ADD;
    case UCX_CPG_RSM_ATOMIC_AND:  return UCP_ATOMIC_OP_AND;
    case UCX_CPG_RSM_ATOMIC_OR:   return UCP_ATOMIC_OP_OR;
    case UCX_CPG_RSM_ATOMIC_XOR:  return UCP_ATOMIC_OP_XOR;
    case UCX_CPG_RSM_ATOMIC_SWAP: return UCP_ATOMIC_OP_SWAP;
    default:                      return UCP_ATOMIC_OP_CSWAP;
    }
}

/* The UCP path. value and compare are operands of `size` bytes; *result gets
 * the old value. For CSWAP UCP takes the compare value as the operand and
 * the swap value in the reply buffer. */
static int ucpg_rsm_atomic_ucp(rsm_memseg_import_handle_t h, off_t offset, size_t size,
                               ucx_cpg_rsm_atomic_op_t op, uint64_t value, uint64_t compare,
                               uint64_t *result)
{
    union { uint64_t u64; uint32_t u32; } operand, reply;
    ucp_request_param_t param;
    ucpg_ep_ref_t *ref;
    ucpg_rsm_wait_t w;
    ucs_status_t status;
    ucp_ep_h ep;
    void *req;

    if (size == 4) {
        operand.u32 = (uint32_t)((op == UCX_CPG_RSM_ATOMIC_CSWAP) ? compare : value);
        reply.u32   = (uint32_t)value;
    } else {
        operand.u64 = (op == UCX_CPG_RSM_ATOMIC_CSWAP) ? compare : value;
        reply.u64   = value;
    }
    if (ucpg_domain_ep_get(h->domain, h->owner, h->owner_uuid, &ep, &ref) != UCPG_OK) {
        return RSMERR_CONN_ABORTED;          /* the exporting process is gone */
    }
    ucpg_rsm_req_param(&param, &w);
    param.op_attr_mask |= UCP_OP_ATTR_FIELD_DATATYPE | UCP_OP_ATTR_FIELD_REPLY_BUFFER;
    param.datatype      = ucp_dt_make_contig(size);
    param.reply_buffer  = &reply;
    req = ucp_atomic_op_nbx(ep, ucpg_rsm_ucp_op(op), &operand, 1,
                            __atomic_load_n(&h->base, __ATOMIC_ACQUIRE) + (uint64_t)offset,
                            __atomic_load_n(&h->rkey, __ATOMIC_ACQUIRE), &param);
    status = ucpg_rsm_wait_req(h->domain, req, &w);
    ucpg_domain_ep_put(h->domain, ref);
    *result = (size == 4) ? reply.u32 : reply.u64;
    return ucpg_rsm_xfer_result(h, status);
}

static uint64_t ucpg_rsm_apply_bitwise(ucx_cpg_rsm_atomic_op_t op, uint64_t word, uint64_t value)
{
    switch (op) {
    case UCX_CPG_RSM_ATOMIC_AND: return word & value;
    case UCX_CPG_RSM_ATOMIC_OR:  return word | value;
    default:                     return word ^ value;
    }
}

/* AND, OR and XOR over UCP as a compare-and-swap loop: with UCX 1.13 on this
 * project's transports a fetching UCP AND/OR returned the old value but left
 * the word unchanged (found by test_rsm_rma.sh), while ADD, SWAP and CSWAP
 * work. The loop is atomic all the same: it only stores over the value it
 * read. */
static int ucpg_rsm_atomic_bitwise_ucp(rsm_memseg_import_handle_t h, off_t offset, size_t size,
                                       ucx_cpg_rsm_atomic_op_t op, uint64_t value,
                                       uint64_t *result)
{
    uint64_t mask = (size == 4) ? UINT32_MAX : UINT64_MAX, seen, old;
    int ret;

    ret = ucpg_rsm_atomic_ucp(h, offset, size, UCX_CPG_RSM_ATOMIC_ADD, 0, 0, &seen);
    while (ret == RSM_SUCCESS) {
        ret = ucpg_rsm_atomic_ucp(h, offset, size, UCX_CPG_RSM_ATOMIC_CSWAP,
                                  ucpg_rsm_apply_bitwise(op, seen, value) & mask, seen, &old);
        if (old == seen) {
            break;
        }
        seen = old;
    }
    *result = seen;
    return ret;
}

static int ucpg_rsm_atomic(rsm_memseg_import_handle_t h, off_t offset, size_t size,
                           ucx_cpg_rsm_atomic_op_t op, uint64_t value, uint64_t compare,
                           uint64_t *result)
{
    void *p;
    int ret;

    ret = ucpg_rsm_xfer_check(h, offset, &value, size, size, RSM_PERM_RDWR);
    if (ret != RSM_SUCCESS) {
        return ret;
    }
    if ((unsigned)op > UCX_CPG_RSM_ATOMIC_CSWAP) {
        return RSMERR_BAD_ARGS_ERRORS;
    }
    if ((h->direct.addr == NULL) && (op >= UCX_CPG_RSM_ATOMIC_AND) &&
        (op <= UCX_CPG_RSM_ATOMIC_XOR)) {
        return ucpg_rsm_atomic_bitwise_ucp(h, offset, size, op, value, result);
    }
    if (h->direct.addr == NULL) {
        return ucpg_rsm_atomic_ucp(h, offset, size, op, value, compare, result);
    }
    p = (char*)h->direct.addr + offset;
    if (size == 4) {
        *result = ucpg_rsm_cpu_atomic32(p, op, (uint32_t)value, (uint32_t)compare);
    } else {
        *result = ucpg_rsm_cpu_atomic64(p, op, value, compare);
    }
    /* as for a direct put: an operation racing with a forced disconnect hit
     * the zero pages */
    return __atomic_load_n(&h->aborted, __ATOMIC_ACQUIRE) ? RSMERR_CONN_ABORTED : RSM_SUCCESS;
}

int ucx_cpg_rsm_atomic64(rsm_memseg_import_handle_t im_memseg, off_t offset,
                         ucx_cpg_rsm_atomic_op_t op, uint64_t value, uint64_t compare,
                         uint64_t *old_value)
{
    uint64_t old = 0;
    int ret;

    ret = ucpg_rsm_atomic(im_memseg, offset, sizeof(uint64_t), op, value, compare, &old);
    if ((ret == RSM_SUCCESS) && (old_value != NULL)) {
        *old_value = old;
    }
    return ret;
}

int ucx_cpg_rsm_atomic32(rsm_memseg_import_handle_t im_memseg, off_t offset,
                         ucx_cpg_rsm_atomic_op_t op, uint32_t value, uint32_t compare,
                         uint32_t *old_value)
{
    uint64_t old = 0;
    int ret;

    ret = ucpg_rsm_atomic(im_memseg, offset, sizeof(uint32_t), op, value, compare, &old);
    if ((ret == RSM_SUCCESS) && (old_value != NULL)) {
        *old_value = (uint32_t)old;
    }
    return ret;
}
