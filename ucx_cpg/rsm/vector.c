/*
 * vector.c - scatter/gather (putv/getv) and local memory handles.
 *
 * Each entry is one transfer through the same path as put/get (bounds,
 * permissions, barrier mode), done in order; the first failure abandons the
 * rest and io_residual_count says how many entries were not completed. A
 * local memory handle names a page-aligned local range once so entries can
 * refer to it by handle and offset (bounds-checked, unlike the reference's
 * loopback path).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <stdlib.h>
#include <unistd.h>

#define UCPG_RSM_LOCALMEM_MAGIC 0x52534d4cu   /* "RSML" */

struct __rsm_localmemory_handle {
    uint32_t                         magic;
    rsmapi_controller_handle_t       ctlr;
    char                            *vaddr;
    size_t                           len;
    struct __rsm_localmemory_handle *next;   /* engine lock */
};

static struct __rsm_localmemory_handle *ucpg_rsm_localmems;   /* engine lock */

/* Called with the engine lock held. */
static struct __rsm_localmemory_handle *ucpg_rsm_localmem_find(rsm_localmemory_handle_t lh)
{
    struct __rsm_localmemory_handle *l;

    for (l = ucpg_rsm_localmems; (l != NULL) && (l != lh); l = l->next) {
    }
    return l;
}

int rsm_create_localmemory_handle(rsmapi_controller_handle_t controller,
                                  rsm_localmemory_handle_t *l_handle, caddr_t local_vaddr,
                                  size_t length)
{
    long page = sysconf(_SC_PAGESIZE);
    struct __rsm_localmemory_handle *l;

    if ((controller == NULL) || !ucpg_rsm_controller_held(controller)) {
        return RSMERR_BAD_CTLR_HNDL;
    }
    if (l_handle == NULL) {
        return RSMERR_BAD_LOCALMEM_HNDL;
    }
    if ((local_vaddr == NULL) || (((uintptr_t)local_vaddr % (uintptr_t)page) != 0)) {
        return RSMERR_BAD_ADDR;
    }
    if (length == 0) {
        return RSMERR_BAD_LENGTH;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return RSMERR_INSUFFICIENT_MEM;
    }
    l->magic = UCPG_RSM_LOCALMEM_MAGIC;
    l->ctlr  = controller;
    l->vaddr = local_vaddr;
    l->len   = length;
    ucpg_rsm_engine_lock();
    l->next            = ucpg_rsm_localmems;
    ucpg_rsm_localmems = l;
    ucpg_rsm_engine_unlock();
    *l_handle = l;
    return RSM_SUCCESS;
}

int rsm_free_localmemory_handle(rsmapi_controller_handle_t controller,
                                rsm_localmemory_handle_t l_handle)
{
    struct __rsm_localmemory_handle **pp, *l = NULL;

    if ((controller == NULL) || !ucpg_rsm_controller_held(controller)) {
        return RSMERR_BAD_CTLR_HNDL;
    }
    ucpg_rsm_engine_lock();
    for (pp = &ucpg_rsm_localmems; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == l_handle) {
            l   = *pp;
            *pp = l->next;
            break;
        }
    }
    ucpg_rsm_engine_unlock();
    if (l == NULL) {
        return RSMERR_BAD_LOCALMEM_HNDL;
    }
    l->magic = 0;
    free(l);
    return RSM_SUCCESS;
}

/* The local buffer of one entry, or NULL with *ret_p set. */
static void *ucpg_rsm_iov_buffer(const rsm_iovec_t *iov, int *ret_p)
{
    struct __rsm_localmemory_handle *l;
    void *buf = NULL;

    *ret_p = RSM_SUCCESS;
    if (iov->io_type == RSM_VA_TYPE) {
        if (iov->local.vaddr == NULL) {
            *ret_p = RSMERR_BAD_ADDR;
            return NULL;
        }
        return iov->local.vaddr + iov->local_offset;
    }
    if (iov->io_type != RSM_HANDLE_TYPE) {
        *ret_p = RSMERR_BAD_SGIO;
        return NULL;
    }
    ucpg_rsm_engine_lock();
    l = ucpg_rsm_localmem_find(iov->local.handle);
    if (l == NULL) {
        *ret_p = RSMERR_BAD_SGIO;
    } else if ((iov->local_offset > l->len) ||
               (iov->transfer_length > l->len - iov->local_offset)) {
        *ret_p = RSMERR_BAD_LENGTH;
    } else {
        buf = l->vaddr + iov->local_offset;
    }
    ucpg_rsm_engine_unlock();
    return buf;
}

static int ucpg_rsm_vector(rsm_scat_gath_t *sg, int is_put)
{
    ulong_t i;
    void *buf;
    int ret, valid;

    if ((sg == NULL) || (sg->io_request_count == 0) ||
        (sg->io_request_count > RSM_MAX_SGIOREQS) || (sg->iovec == NULL)) {
        return RSMERR_BAD_SGIO;
    }
    valid = ucpg_rsm_import_held(sg->remote_handle);
    if (!valid) {
        return RSMERR_BAD_SEG_HNDL;
    }
    for (i = 0; i < sg->io_request_count; ++i) {
        buf = ucpg_rsm_iov_buffer(&sg->iovec[i], &ret);
        if (ret == RSM_SUCCESS) {
            ret = ucpg_rsm_xfer(sg->remote_handle, (off_t)sg->iovec[i].remote_offset, buf,
                                sg->iovec[i].transfer_length, 1, is_put);
        }
        if (ret != RSM_SUCCESS) {
            sg->io_residual_count = sg->io_request_count - i;
            return ret;
        }
    }
    sg->io_residual_count = 0;
    if (sg->flags & RSM_IMPLICIT_SIGPOST) {
        return rsm_intr_signal_post(sg->remote_handle, sg->flags & RSM_SIGPOST_NO_ACCUMULATE);
    }
    return RSM_SUCCESS;
}

int rsm_memseg_import_putv(rsm_scat_gath_t *sg_io)
{
    return ucpg_rsm_vector(sg_io, 1);
}

int rsm_memseg_import_getv(rsm_scat_gath_t *sg_io)
{
    return ucpg_rsm_vector(sg_io, 0);
}
