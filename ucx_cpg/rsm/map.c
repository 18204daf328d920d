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
 * The library keeps a view of its own over the whole segment (h->direct,
 * made at connect) for the data path: put, get and the atomics of an import
 * whose exporter is on this host copy through it instead of going through
 * UCP (rsm_direct = 1, the default; docs/rsm.md "Same-host data path").
 *
 * After the segment is unpublished, destroyed or its exporter dies, every
 * view is replaced by private zero pages: stray stores land nowhere, as with
 * the reference's "trash page", and a transfer racing with the revocation
 * touches those pages, never an unmapped address.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "ucx_cpg_rsm.h"

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

/* Points view (at view->addr, or anywhere if NULL) at the exporter's pages
 * [offset, offset + len) with the given protection. */
static int ucpg_rsm_view_place(rsm_memseg_import_handle_t h, ucpg_rsm_view_t *view,
                               void *at, uint64_t offset, size_t len, int prot)
{
    int flags = MREMAP_MAYMOVE | ((at != NULL) ? MREMAP_FIXED : 0);
    void *shared, *addr;

    if (ucp_rkey_ptr(h->rkey, h->base + offset, &shared) != UCS_OK) {
        return RSMERR_MAP_FAILED;          /* no shared-memory path to the exporter */
    }
    /* The raw system call: glibc 2.36's mremap() wrapper was seen to drop
     * the new address of an old_size 0 MREMAP_FIXED call and map at 0. */
    addr = (void*)syscall(SYS_mremap, shared, (size_t)0, len, flags, at);
    if (addr == MAP_FAILED) {
        return RSMERR_MAP_FAILED;
    }
    if (((at != NULL) && (addr != at)) || (mprotect(addr, len, prot) != 0)) {
        munmap(addr, len);
        return RSMERR_MAP_FAILED;
    }
    view->addr   = addr;
    view->len    = len;
    view->offset = offset;
    view->prot   = prot;
    return RSM_SUCCESS;
}

static void ucpg_rsm_view_revoke(const rsm_memseg_import_handle_t h, ucpg_rsm_view_t *view)
{
    if ((view->addr != NULL) &&
        (mmap(view->addr, view->len, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)) {
        ucpg_error("cannot revoke the mapping of segment %#x: %m", h->segid);
    }
}

static void ucpg_rsm_view_repoint(rsm_memseg_import_handle_t h, ucpg_rsm_view_t *view)
{
    if ((view->addr != NULL) &&
        (ucpg_rsm_view_place(h, view, view->addr, view->offset, view->len, view->prot) !=
         RSM_SUCCESS)) {
        ucpg_error("cannot follow the rebind of segment %#x with a mapping", h->segid);
        ucpg_rsm_view_revoke(h, view);
    }
}

static void ucpg_rsm_view_remove(ucpg_rsm_view_t *view)
{
    if (view->addr != NULL) {
        munmap(view->addr, view->len);
    }
    memset(view, 0, sizeof(*view));
}

static int ucpg_rsm_map_checks(rsm_memseg_import_handle_t h, void **address,
                               rsm_attribute_t attr, rsm_permission_t perm, off_t offset,
                               size_t length)
{
    long page = sysconf(_SC_PAGESIZE);

    if (h->map.addr != NULL) {
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
    int ret;

    ucpg_rsm_engine_lock();
    if ((im_memseg == NULL) || !ucpg_rsm_import_valid(im_memseg)) {
        ucpg_rsm_engine_unlock();
        return RSMERR_BAD_SEG_HNDL;
    }
    ret = ucpg_rsm_map_checks(im_memseg, address, attr, perm, offset, length);
    if (ret == RSM_SUCCESS) {
        ret = ucpg_rsm_view_place(im_memseg, &im_memseg->map,
                                  (attr == RSM_MAP_FIXED) ? *address : NULL,
                                  (uint64_t)offset, length, ucpg_rsm_map_prot(perm));
    }
    if (ret == RSM_SUCCESS) {
        *address = im_memseg->map.addr;
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
    } else if (im_memseg->map.addr == NULL) {
        ret = RSMERR_SEG_NOT_MAPPED;
    } else {
        ucpg_rsm_view_remove(&im_memseg->map);
    }
    ucpg_rsm_engine_unlock();
    return ret;
}

void ucpg_rsm_map_revoke(rsm_memseg_import_handle_t h)
{
    ucpg_rsm_view_revoke(h, &h->map);
    ucpg_rsm_view_revoke(h, &h->direct);
}

void ucpg_rsm_map_repoint(rsm_memseg_import_handle_t h)
{
    ucpg_rsm_view_repoint(h, &h->map);
    ucpg_rsm_view_repoint(h, &h->direct);
}

void ucpg_rsm_direct_open(rsm_memseg_import_handle_t h)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len  = (h->size + page - 1) & ~(page - 1);

    if (!ucpg_domain_config(h->domain)->rsm_direct || (len == 0)) {
        return;
    }
    if (ucpg_rsm_view_place(h, &h->direct, NULL, 0, len, ucpg_rsm_map_prot(h->perm)) !=
        RSM_SUCCESS) {
        ucpg_debug("segment %#x: no shared mapping, transfers use UCP RMA", h->segid);
    }
}

void ucpg_rsm_direct_close(rsm_memseg_import_handle_t h)
{
    ucpg_rsm_view_remove(&h->direct);
}

int ucx_cpg_rsm_import_direct(rsm_memseg_import_handle_t im_memseg, void **address)
{
    int ret = RSM_SUCCESS;

    ucpg_rsm_engine_lock();
    if ((im_memseg == NULL) || !ucpg_rsm_import_valid(im_memseg)) {
        ret = RSMERR_BAD_SEG_HNDL;
    } else if (address == NULL) {
        ret = RSMERR_BAD_ADDR;
    } else if (__atomic_load_n(&im_memseg->aborted, __ATOMIC_ACQUIRE)) {
        ret = RSMERR_CONN_ABORTED;
    } else if (im_memseg->direct.addr == NULL) {
        ret = RSMERR_MAP_FAILED;
    } else {
        *address = im_memseg->direct.addr;
    }
    ucpg_rsm_engine_unlock();
    return ret;
}
