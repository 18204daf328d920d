/*
 * osc_rsm_dtype.c - datatype layouts: where the bytes of count elements of
 * a (possibly derived) datatype lie, and packing to / unpacking from a
 * contiguous buffer.
 *
 * A one-sided operation with derived datatypes is done as: pack the origin
 * side into a contiguous byte stream (or use it in place when contiguous),
 * then move that stream segment by segment to / from the target layout. The
 * origin and target type signatures match (MPI requires it), and both the
 * packed stream and the raw segments of the target layout follow the type
 * map order, so the n-th packed byte belongs in the n-th byte of the target
 * segments. The target layout comes from opal_convertor_raw on a NULL base:
 * each segment's address is its displacement from the buffer start.
 */
#include "ompi_config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "osc_rsm.h"

#include "opal/datatype/opal_convertor.h"

#define OSC_RSM_RAW_BATCH 64

static int layout_append(ompi_osc_rsm_layout_t *l, size_t *cap, ptrdiff_t off, size_t len)
{
    ompi_osc_rsm_seg_t *grown;

    if (len == 0) {
        return OMPI_SUCCESS;
    }
    ompi_osc_rsm_seg_t *last = (l->nsegs > 0) ? &l->segs[l->nsegs - 1] : NULL;

    if ((last != NULL) && (last->off + (ptrdiff_t)last->len == off)) {
        last->len += len;                        /* adjacent: merge */
        return OMPI_SUCCESS;
    }
    if (l->nsegs == *cap) {
        *cap  = (*cap == 0) ? 16 : 2 * *cap;
        grown = realloc(l->segs, *cap * sizeof(*grown));
        if (grown == NULL) {
            return OMPI_ERR_OUT_OF_RESOURCE;
        }
        l->segs = grown;
    }
    l->segs[l->nsegs].off = off;
    l->segs[l->nsegs].len = len;
    ++l->nsegs;
    return OMPI_SUCCESS;
}

int ompi_osc_rsm_layout(int count, struct ompi_datatype_t *dt, ompi_osc_rsm_layout_t *l)
{
    struct iovec iov[OSC_RSM_RAW_BATCH];
    opal_convertor_t conv;
    size_t tsize, cap = 0, total = 0, length;
    ptrdiff_t gap, span;
    uint32_t i, n;
    int ret = OMPI_SUCCESS;
    bool done;

    memset(l, 0, sizeof(*l));
    l->segs = &l->one;
    ompi_datatype_type_size(dt, &tsize);
    if ((count <= 0) || (tsize == 0)) {
        return OMPI_SUCCESS;                     /* moves nothing */
    }
    span   = opal_datatype_span(&dt->super, (size_t)count, &gap);
    l->lo  = gap;
    l->hi  = gap + span;
    l->bytes = tsize * (size_t)count;
    if (ompi_datatype_is_contiguous_memory_layout(dt, count)) {
        l->one.off = gap;
        l->one.len = l->bytes;
        l->nsegs   = 1;
        return OMPI_SUCCESS;
    }

    l->segs = NULL;
    OBJ_CONSTRUCT(&conv, opal_convertor_t);
    ret = opal_convertor_copy_and_prepare_for_send(ompi_mpi_local_convertor, &dt->super,
                                                   (size_t)count, NULL, 0, &conv);
    do {
        if (ret != OMPI_SUCCESS) {
            break;
        }
        n    = OSC_RSM_RAW_BATCH;
        done = opal_convertor_raw(&conv, iov, &n, &length);
        for (i = 0; (i < n) && (ret == OMPI_SUCCESS); ++i) {
            ret = layout_append(l, &cap, (ptrdiff_t)(uintptr_t)iov[i].iov_base, iov[i].iov_len);
            total += iov[i].iov_len;
        }
    } while (!done);
    OBJ_DESTRUCT(&conv);
    if ((ret == OMPI_SUCCESS) && (total != l->bytes)) {
        OSC_RSM_ERROR("datatype layout covers %zu bytes, its size says %zu", total, l->bytes);
        ret = OMPI_ERROR;
    }
    if (ret != OMPI_SUCCESS) {
        ompi_osc_rsm_layout_fini(l);
    }
    return ret;
}

void ompi_osc_rsm_layout_fini(ompi_osc_rsm_layout_t *l)
{
    if (l->segs != &l->one) {
        free(l->segs);
    }
    l->segs  = &l->one;
    l->nsegs = 0;
}

int ompi_osc_rsm_pack(const void *addr, int count, struct ompi_datatype_t *dt, size_t bytes,
                      const void **packed_p, void **to_free_p)
{
    opal_convertor_t conv;
    struct iovec iov;
    uint32_t n = 1;
    size_t max = bytes;
    ptrdiff_t gap;
    void *buf;
    int ret;

    *to_free_p = NULL;
    if (bytes == 0) {
        *packed_p = addr;
        return OMPI_SUCCESS;
    }
    if (ompi_datatype_is_contiguous_memory_layout(dt, count)) {
        (void)opal_datatype_span(&dt->super, (size_t)count, &gap);
        *packed_p = (const char *)addr + gap;
        return OMPI_SUCCESS;
    }
    buf = malloc(bytes);
    if (buf == NULL) {
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    OBJ_CONSTRUCT(&conv, opal_convertor_t);
    ret = opal_convertor_copy_and_prepare_for_send(ompi_mpi_local_convertor, &dt->super,
                                                   (size_t)count, addr, 0, &conv);
    if (ret == OMPI_SUCCESS) {
        iov.iov_base = buf;
        iov.iov_len  = bytes;
        ret = (opal_convertor_pack(&conv, &iov, &n, &max) >= 0) && (max == bytes)
                  ? OMPI_SUCCESS : OMPI_ERROR;
    }
    OBJ_DESTRUCT(&conv);
    if (ret != OMPI_SUCCESS) {
        free(buf);
        return ret;
    }
    *packed_p  = buf;
    *to_free_p = buf;
    return OMPI_SUCCESS;
}

int ompi_osc_rsm_unpack(void *addr, int count, struct ompi_datatype_t *dt, const void *packed,
                        size_t bytes)
{
    opal_convertor_t conv;
    struct iovec iov;
    uint32_t n = 1;
    size_t max = bytes;
    ptrdiff_t gap;
    int ret;

    if (bytes == 0) {
        return OMPI_SUCCESS;
    }
    if (ompi_datatype_is_contiguous_memory_layout(dt, count)) {
        (void)opal_datatype_span(&dt->super, (size_t)count, &gap);
        memcpy((char *)addr + gap, packed, bytes);
        return OMPI_SUCCESS;
    }
    OBJ_CONSTRUCT(&conv, opal_convertor_t);
    ret = opal_convertor_copy_and_prepare_for_recv(ompi_mpi_local_convertor, &dt->super,
                                                   (size_t)count, addr, 0, &conv);
    if (ret == OMPI_SUCCESS) {
        iov.iov_base = (void *)packed;
        iov.iov_len  = bytes;
        ret = (opal_convertor_unpack(&conv, &iov, &n, &max) >= 0) && (max == bytes)
                  ? OMPI_SUCCESS : OMPI_ERROR;
    }
    OBJ_DESTRUCT(&conv);
    return ret;
}
