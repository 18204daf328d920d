/*
 * osc_rsm_region.c - exporting this process's memory as RSM segments.
 *
 * rsm_memseg_export_create needs a page-aligned range and makes it
 * shareable by remapping the caller's pages onto shared memory in place:
 * the library copies the pages aside, maps shared memory over them and
 * copies the contents back; destroy does the same in reverse (docs/rsm.md).
 * Between the two copies the pages read as zeroes and writes to them are
 * lost. That is harmless for pages that hold nothing but the window, and
 * fatal for pages shared with other live data: an earlier version exported
 * the page range enclosing an unaligned MPI_Win_create buffer, and malloc
 * chunk headers, a TLS vector (realloc'd by glibc inside UCX) and a UCX
 * hash table (realloc'd in ucm_shmat) that happened to share those pages
 * were corrupted during ucp_mem_map ("realloc(): invalid pointer"); a stack
 * buffer's page held the caller's own frames. No choice of thread makes
 * that safe, because UCX itself writes to heap objects while it maps.
 *
 * So a window is exported only where it owns whole pages:
 *   MPI_Win_allocate  pages we map for it (the whole window);
 *   MPI_Win_create    the whole pages inside the user's buffer (its
 *                     "inner" range), which hold nothing else. The partial
 *                     first and last pages (the "edges") stay private and
 *                     peers reach them with cross-memory attach
 *                     (process_vm_readv/writev, osc_rsm_peer.c). A buffer
 *                     smaller than a page is all edge. A page-aligned buffer
 *                     of whole pages has no edges.
 *
 * Regions are kept in one process-wide list so that a second window whose
 * inner pages are already exported (a window on the memory of another
 * window) shares the segment instead of remapping the pages again, which
 * would cut the first segment's importers off. A range that overlaps an
 * existing region without lying inside it cannot be exported (pages cannot
 * belong to two segments): that window creation fails on every rank with
 * OMPI_ERR_NOT_SUPPORTED.
 */
#include "ompi_config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "osc_rsm.h"

static pthread_mutex_t        region_lock = PTHREAD_MUTEX_INITIALIZER;
static ompi_osc_rsm_region_t *region_list;   /* region_lock */

size_t ompi_osc_rsm_page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Exports and publishes [addr, addr + len) (page aligned) as a new region.
 * Called with region_lock held. */
static int region_create(char *addr, size_t len, bool owned, ompi_osc_rsm_region_t **region_p)
{
    rsm_memseg_export_handle_t export;
    ompi_osc_rsm_region_t *region;
    int ret;

    region = calloc(1, sizeof(*region));
    if (region == NULL) {
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    ret = rsm_memseg_export_create(mca_osc_rsm_component.ctlr, &export, addr, len, 0);
    if (ret != RSM_SUCCESS) {
        OSC_RSM_ERROR("rsm_memseg_export_create(%p, %zu bytes) failed: RSM error %d",
                      (void *)addr, len, ret);
        free(region);
        return ompi_osc_rsm_err(ret, "export_create");
    }
    region->segid = 0;   /* system-assigned */
    ret = rsm_memseg_export_publish(export, &region->segid, NULL, 0);
    if (ret != RSM_SUCCESS) {
        OSC_RSM_ERROR("rsm_memseg_export_publish failed: RSM error %d", ret);
        rsm_memseg_export_destroy(export);
        free(region);
        return ompi_osc_rsm_err(ret, "export_publish");
    }
    region->page_base = addr;
    region->page_len  = len;
    region->export    = export;
    region->owned     = owned;
    region->refs      = 1;
    region->next      = region_list;
    region_list       = region;
    *region_p         = region;
    OSC_RSM_VERBOSE(20, "exported %p + %zu as segment %#x", (void *)addr, len,
                    (unsigned)region->segid);
    return OMPI_SUCCESS;
}

int ompi_osc_rsm_region_alloc(size_t len, ompi_osc_rsm_region_t **region_p)
{
    size_t page = ompi_osc_rsm_page_size();
    size_t plen = (len + page - 1) / page * page;
    void *mem;
    int ret;

    if ((len == 0) || (plen < len)) {
        return OMPI_ERR_BAD_PARAM;
    }
    mem = mmap(NULL, plen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        OSC_RSM_ERROR("cannot map %zu bytes: %s", plen, strerror(errno));
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    pthread_mutex_lock(&region_lock);
    ret = region_create(mem, plen, true, region_p);
    pthread_mutex_unlock(&region_lock);
    if (ret != OMPI_SUCCESS) {
        munmap(mem, plen);
    }
    return ret;
}

int ompi_osc_rsm_region_attach(void *base, size_t len, ompi_osc_rsm_region_t **region_p,
                               uint64_t *inner_off_p, uint64_t *inner_len_p,
                               uint64_t *seg_off_p)
{
    size_t page = ompi_osc_rsm_page_size();
    uintptr_t start = (uintptr_t)base, end = start + len;
    uintptr_t lo = (start + page - 1) / page * page;     /* first whole page */
    uintptr_t hi = end / page * page;                    /* end of the last one */
    ompi_osc_rsm_region_t *r;
    int ret = OMPI_SUCCESS;

    *region_p = NULL;
    *inner_off_p = *inner_len_p = *seg_off_p = 0;
    if ((base == NULL) || (len == 0) || (end < start)) {
        return OMPI_ERR_BAD_PARAM;
    }
    if ((lo < start) || (hi <= lo)) {
        return OMPI_SUCCESS;                 /* no whole page: all edge */
    }
    pthread_mutex_lock(&region_lock);
    for (r = region_list; r != NULL; r = r->next) {
        uintptr_t rlo = (uintptr_t)r->page_base, rhi = rlo + r->page_len;

        if ((lo >= rlo) && (hi <= rhi)) {
            ++r->refs;                       /* already exported: share it */
            break;
        }
        if ((lo < rhi) && (hi > rlo)) {
            OSC_RSM_ERROR("window pages %p + %zu partly overlap the exported pages %p + %zu "
                          "of another window", (void *)lo, (size_t)(hi - lo),
                          (void *)r->page_base, r->page_len);
            ret = OMPI_ERR_NOT_SUPPORTED;
            break;
        }
    }
    if ((ret == OMPI_SUCCESS) && (r == NULL)) {
        ret = region_create((char *)lo, hi - lo, false, &r);
    }
    pthread_mutex_unlock(&region_lock);
    if (ret == OMPI_SUCCESS) {
        *region_p    = r;
        *inner_off_p = lo - start;
        *inner_len_p = hi - lo;
        *seg_off_p   = lo - (uintptr_t)r->page_base;
    }
    return ret;
}

void ompi_osc_rsm_region_release(ompi_osc_rsm_region_t *region)
{
    ompi_osc_rsm_region_t **pp;
    int ret;

    if (region == NULL) {
        return;
    }
    pthread_mutex_lock(&region_lock);
    if (--region->refs > 0) {
        pthread_mutex_unlock(&region_lock);
        return;
    }
    for (pp = &region_list; *pp != region; pp = &(*pp)->next) {
    }
    *pp = region->next;
    /* destroy unpublishes too; importers are gone by now (osc_rsm_free) */
    ret = rsm_memseg_export_destroy(region->export);
    if (ret != RSM_SUCCESS) {
        OSC_RSM_ERROR("rsm_memseg_export_destroy failed: RSM error %d", ret);
    }
    pthread_mutex_unlock(&region_lock);
    if (region->owned) {
        munmap(region->page_base, region->page_len);
    }
    free(region);
}
