/*
 * map.c - direct load/store access to an import (rsm_memseg_import_map).
 *
 * Export segments live in UCX-allocated shared memory (see export.c), and
 * for an exporter on this host UCX attaches that memory when the importer
 * unpacks the rkey; ucp_rkey_ptr gives its address here. UCX's attachment is
 * writable whatever was granted, so the application never gets it: map makes
 * a second mapping of the same pages (mremap with old size 0 duplicates a
 * shared mapping), at the caller's address for RSM_MAP_FIXED, and protects it
 * with exactly the requested rights, so a store through a read-only map
 * faults. Where no shared-memory transport reaches the exporter (another
 * host, or memory that could not be made shareable) map fails with
 * RSMERR_MAP_FAILED and put/get remain.
 *
 * After the segment is unpublished, destroyed or its exporter dies, the
 * mapping is replaced by private zero pages: stray stores land nowhere, as
 * with the reference's "trash page".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"

static int ucpg_rsm_map_prot(rsm_permission_t perm)
{
    int prot = PROT_NONE;

    if (perm & RSM_PERM_READ) {
        prot |= PROT_READ;
    }
    if (perm & RSM_PERM_WRITE) {
        prot |= PROT_READ | PROT_WRITE;   /* the MMU cannot write without read */
    }
    return prot;
}

static int ucpg_rsm_map_checks(rsm_memseg_import_handle_t h, void **address,
                               rsm_attribute_t attr, rsm_permission_t perm, off_t offset,
                               size_t length)
{
    long page = sysconf(_SC_PAGESIZE);

    if (h->map_addr != NULL) {
        return RSMERR_SEG_ALREADY_MAPPED;
    }
    if (address == NULL) {
        return RSMERR_BAD_ADDR;
    }
    if ((perm & ~(rsm_permission_t)RSM_PERM_RDWR) != 0) {
        return RSMERR_BAD_PERMS;
    }
    /* Only what was asked at connect and granted by the exporter. */
    if (((perm & h->perm) != perm) ||
        (((perm & RSM_PERM_READ) != 0) && ((h->mode & 0444) == 0)) ||
        (((perm & RSM_PERM_WRITE) != 0) && ((h->mode & 0222) == 0))) {
        return RSMERR_BAD_PERMS;
    }
    if ((length == 0) || (offset < 0) || ((uint64_t)offset > h->size) ||
        (length > h->size - (uint64_t)offset)) {
        return RSMERR_BAD_LENGTH;
    }
    if ((((uint64_t)offset % (uint64_t)page) != 0) ||
        ((attr == RSM_MAP_FIXED) && (((uintptr_t)*address % (uintptr_t)page) != 0))) {
        return RSMERR_BAD_MEM_ALIGNMENT;
    }
    if (__atomic_load_n(&h->aborted, __ATOMIC_ACQUIRE)) {
        return RSMERR_CONN_ABORTED;
    }
    return RSM_SUCCESS;
}

int rsm_memseg_import_map(rsm_memseg_import_handle_t im_memseg, void **address,
                          rsm_attribute_t attr, rsm_permission_t perm, off_t offset,
                          size_t length)
{
    void *shared, *view;
    int ret, flags = MREMAP_MAYMOVE;

    ucpg_rsm_engine_lock();
    if ((im_memseg == NULL) || !ucpg_rsm_import_valid(im_memseg)) {
        ucpg_rsm_engine_unlock();
        return RSMERR_BAD_SEG_HNDL;
    }
    ret = ucpg_rsm_map_checks(im_memseg, address, attr, perm, offset, length);
    if ((ret == RSM_SUCCESS) &&
        (ucp_rkey_ptr(im_memseg->rkey, im_memseg->base + (uint64_t)offset, &shared) != UCS_OK)) {
        ret = RSMERR_MAP_FAILED;          /* no shared-memory path to the exporter */
    }
    if (ret == RSM_SUCCESS) {
        if (attr == RSM_MAP_FIXED) {
            flags |= MREMAP_FIXED;
        }
        /* The raw system call: glibc 2.36's mremap() wrapper was seen to drop
         * the new address of an old_size 0 MREMAP_FIXED call and map at 0. */
        view = (void*)syscall(SYS_mremap, shared, (size_t)0, length, flags, *address);
        if (view == MAP_FAILED) {
            ret = RSMERR_MAP_FAILED;
        } else if (mprotect(view, length, ucpg_rsm_map_prot(perm)) != 0) {
            munmap(view, length);
            ret = RSMERR_MAP_FAILED;
        } else {
            im_memseg->map_addr   = view;
            im_memseg->map_len    = length;
            im_memseg->map_offset = (uint64_t)offset;
            im_memseg->map_prot   = ucpg_rsm_map_prot(perm);
            *address              = view;
        }
    }
    ucpg_rsm_engine_unlock();
    return ret;
}

int rsm_memseg_import_unmap(rsm_memseg_import_handle_t im_memseg)
{
    int ret = RSM_SUCCESS;

    ucpg_rsm_engine_lock();
    if ((im_memseg == NULL) || !ucpg_rsm_import_valid(im_memseg)) {
        ret = RSMERR_BAD_SEG_HNDL;
    } else if (im_memseg->map_addr == NULL) {
        ret = RSMERR_SEG_NOT_MAPPED;
    } else {
        munmap(im_memseg->map_addr, im_memseg->map_len);
        im_memseg->map_addr = NULL;
        im_memseg->map_len  = 0;
    }
    ucpg_rsm_engine_unlock();
    return ret;
}

void ucpg_rsm_map_revoke(rsm_memseg_import_handle_t h)
{
    if ((h->map_addr != NULL) &&
        (mmap(h->map_addr, h->map_len, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)) {
        ucpg_error("cannot revoke the mapping of segment %#x: %m", h->segid);
    }
}

void ucpg_rsm_map_repoint(rsm_memseg_import_handle_t h)
{
    void *shared, *view;

    if (h->map_addr == NULL) {
        return;
    }
    if (ucp_rkey_ptr(h->rkey, h->base + h->map_offset, &shared) == UCS_OK) {
        view = (void*)syscall(SYS_mremap, shared, (size_t)0, h->map_len,
                              MREMAP_MAYMOVE | MREMAP_FIXED, h->map_addr);
        if ((view == h->map_addr) && (mprotect(view, h->map_len, h->map_prot) == 0)) {
            return;
        }
    }
    ucpg_error("cannot follow the rebind of segment %#x with the mapping", h->segid);
    ucpg_rsm_map_revoke(h);
}
