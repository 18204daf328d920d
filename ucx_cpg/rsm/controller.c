/*
 * controller.c - RSMAPI controllers and the interconnect topology:
 * rsm_get_controller / rsm_release_controller / rsm_get_controller_attr,
 * rsm_get_interconnect_topology / rsm_free_interconnect_topology.
 *
 * ucx_cpg has two controllers. "ucx0" stands for the UCX transport of the
 * whole domain; "loopback" (also selected by a NULL name) reaches the local
 * node only, as on Solaris. A handle is reference counted per name: every
 * rsm_get_controller of a name returns the same pointer, and each needs one
 * rsm_release_controller. While a handle is held it keeps one reference on the
 * RSM engine, so the domain lives as long as any controller does.
 *
 * Handles that went back to refcount 0 are not freed but kept on a "retired"
 * list, and reused by the next get of the same name. That keeps a stale
 * pointer recognisable: the reference answers CTLR_NOT_PRESENT (attr) and
 * BAD_CTLR_HNDL (release) for a released handle, and we can do the same
 * without ever reading memory that was freed. At most one handle per name is
 * ever allocated, so nothing grows. Every pointer an application passes in is
 * looked up in the two lists before it is dereferenced; anything else is
 * answered BAD_CTLR_HNDL.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <hwloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ucx_cpg_rsm.h"
#include "boot/boot.h"
#include "boot/registry.h"
#include "core/log.h"

/* Import segments one process may hold at once. There is no table behind it
 * (imports are a list), so this is the advertised figure only; it matches the
 * registry's export limit in size. */
#define UCPG_RSM_MAX_IMPORT_SEGMENTS 4096ul

/* Both lists are guarded by the engine lock (ucpg_rsm_engine_lock). held is
 * the engine's controller list: handles with refcount > 0. retired holds the
 * handles whose refcount went back to 0 (see the file comment). */
static struct __rsmapi_controller_handle *ucpg_rsm_ctlr_held;
static struct __rsmapi_controller_handle *ucpg_rsm_ctlr_retired;


/* When the library is unloaded (Open MPI dlcloses osc/rsm, and this library
 * with it, at MPI_Finalize) or the process exits, the retired handles go, so
 * that leak checkers see no loss. A handle still held is the application's
 * and stays. trylock: a thread still inside the library at exit keeps them. */
__attribute__((destructor)) static void ucpg_rsm_ctlr_unload(void)
{
    struct __rsmapi_controller_handle *c;

    if (!ucpg_rsm_engine_trylock()) {
        return;
    }
    while ((c = ucpg_rsm_ctlr_retired) != NULL) {
        ucpg_rsm_ctlr_retired = c->next;
        free(c);
    }
    ucpg_rsm_engine_unlock();
}

/* --- attributes ------------------------------------------------------------ */

static pthread_once_t ucpg_rsm_physmem_once = PTHREAD_ONCE_INIT;
static size_t         ucpg_rsm_physmem;     /* written once, then read-only */

/* Physical memory of the machine: the machine object's total memory in the
 * hwloc topology, or, when hwloc cannot load one, _SC_PHYS_PAGES pages.
 * Computed once: loading a topology takes milliseconds. */
static void ucpg_rsm_physmem_init(void)
{
    long pages     = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    hwloc_topology_t topology;
    hwloc_obj_t root;

    if (hwloc_topology_init(&topology) == 0) {
        if (hwloc_topology_load(topology) == 0) {
            root = hwloc_get_root_obj(topology);
            if ((root != NULL) && (root->type == HWLOC_OBJ_MACHINE)) {
                ucpg_rsm_physmem = (size_t)root->total_memory;
            }
        }
        hwloc_topology_destroy(topology);
    }

    if ((ucpg_rsm_physmem == 0) && (pages > 0) && (page_size > 0)) {
        ucpg_rsm_physmem = (size_t)pages * (size_t)page_size;
    }
    ucpg_debug("rsm: physical memory %zu bytes", ucpg_rsm_physmem);
}

/*
 * The attributes of both controllers. Solaris' loopback reports
 * attr_max_export_segment_size = 0 and skips the size check in export_create;
 * we report the real limits for loopback too, because a program that sizes
 * its segments from the attributes should get a usable number from either
 * controller, and both controllers export the same memory the same way here.
 */
static void ucpg_rsm_ctlr_attr_fill(rsmapi_controller_attr_t *attr)
{
    long page_size = sysconf(_SC_PAGESIZE);

    pthread_once(&ucpg_rsm_physmem_once, ucpg_rsm_physmem_init);

    memset(attr, 0, sizeof(*attr));
    /* getN/putN copy element by element with N-bit accesses, and naturally
     * aligned accesses of every width are single-copy atomic on the machines
     * UCX runs on, so all four widths are both direct and atomic. */
    attr->attr_direct_access_sizes     = RSM_DAS8 | RSM_DAS16 | RSM_DAS32 | RSM_DAS64;
    attr->attr_atomic_sizes            = RSM_DAS8 | RSM_DAS16 | RSM_DAS32 | RSM_DAS64;
    attr->attr_page_size               = (page_size > 0) ? (size_t)page_size : 4096;
    attr->attr_max_export_segment_size = ucpg_rsm_physmem;
    attr->attr_tot_export_segment_size = ucpg_rsm_physmem;
    /* Every published segment takes one slot of the host registry's table. */
    attr->attr_max_export_segments     = UCPG_REGISTRY_NSEGS;
    attr->attr_max_import_map_size     = ucpg_rsm_physmem;
    attr->attr_tot_import_map_size     = ucpg_rsm_physmem;
    attr->attr_max_import_segments     = UCPG_RSM_MAX_IMPORT_SEGMENTS;
}


/* --- handle lists (engine lock held) ------------------------------------------ */

static struct __rsmapi_controller_handle **
ucpg_rsm_ctlr_find_by_name(struct __rsmapi_controller_handle **list, const char *name)
{
    for (; *list != NULL; list = &(*list)->next) {
        if (strcmp((*list)->name, name) == 0) {
            return list;
        }
    }
    return NULL;
}

/* Compares pointers only, so a bogus c is never dereferenced. */
static struct __rsmapi_controller_handle **
ucpg_rsm_ctlr_find(struct __rsmapi_controller_handle **list,
                   rsmapi_controller_handle_t c)
{
    for (; *list != NULL; list = &(*list)->next) {
        if (*list == c) {
            return list;
        }
    }
    return NULL;
}

int ucpg_rsm_controller_held(rsmapi_controller_handle_t c)
{
    int held;

    if (c == NULL) {
        return 0;
    }
    ucpg_rsm_engine_lock();
    held = (ucpg_rsm_ctlr_find(&ucpg_rsm_ctlr_held, c) != NULL);
    ucpg_rsm_engine_unlock();
    return held;
}


/* --- get / release / attr ----------------------------------------------------- */

/* The canonical name of the controller `name` selects, or NULL if none. */
static const char *ucpg_rsm_ctlr_canonical(const char *name)
{
    if ((name == NULL) || (strcmp(name, UCPG_RSM_CTLR_LOOPBACK) == 0)) {
        return UCPG_RSM_CTLR_LOOPBACK;
    }
    if (strcmp(name, UCPG_RSM_CTLR_UCX) == 0) {
        return UCPG_RSM_CTLR_UCX;
    }
    return NULL;
}

int rsm_get_controller(char *name, rsmapi_controller_handle_t *controller)
{
    struct __rsmapi_controller_handle **link, *c;
    rsmapi_controller_attr_t attr;
    const char *canonical;
    ucpg_domain_t *domain;
    ucpg_status_t status;
    int extra_ref = 0;

    if (controller == NULL) {
        return RSMERR_BAD_CTLR_HNDL;
    }
    canonical = ucpg_rsm_ctlr_canonical(name);
    if (canonical == NULL) {
        ucpg_debug("rsm: no controller named \"%.64s\"", name);
        return RSMERR_CTLR_NOT_PRESENT;
    }

    ucpg_rsm_ctlr_attr_fill(&attr);    /* outside the lock: hwloc may be slow */

    /* The engine reference a new handle keeps, taken before the lock: the
     * first acquire boots the domain, and the engine lock must never be held
     * while the domain delivers peer events (its listener takes that lock). */
    status = ucpg_rsm_engine_acquire(&domain);
    if (status != UCPG_OK) {
        return ucpg_rsm_err_from_status(status);
    }
    ucpg_rsm_engine_lock();
    link = ucpg_rsm_ctlr_find_by_name(&ucpg_rsm_ctlr_held, canonical);
    if (link != NULL) {
        c = *link;
        ++c->refcount;
        extra_ref = 1;                 /* the handle already holds one */
        goto out_found;
    }

    link = ucpg_rsm_ctlr_find_by_name(&ucpg_rsm_ctlr_retired, canonical);
    if (link != NULL) {
        /* Reuse: the same pointer as before, as Solaris gives for a name. */
        c     = *link;
        *link = c->next;
    } else {
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            ucpg_rsm_engine_unlock();
            ucpg_rsm_engine_release();
            ucpg_error("rsm: no memory for controller %s", canonical);
            return RSMERR_INSUFFICIENT_MEM;
        }
        strncpy(c->name, canonical, sizeof(c->name) - 1);
        c->loopback = (strcmp(canonical, UCPG_RSM_CTLR_LOOPBACK) == 0);
    }
    c->refcount        = 1;
    c->domain          = domain;
    c->attr            = attr;
    c->next            = ucpg_rsm_ctlr_held;
    ucpg_rsm_ctlr_held = c;

out_found:
    ucpg_rsm_engine_unlock();
    if (extra_ref) {
        ucpg_rsm_engine_release();     /* never the last one: the handle holds one */
    }
    *controller = c;
    return RSM_SUCCESS;
}

int rsm_release_controller(rsmapi_controller_handle_t controller)
{
    struct __rsmapi_controller_handle **link, *c;

    if (controller == NULL) {
        return RSMERR_BAD_CTLR_HNDL;
    }

    ucpg_rsm_engine_lock();
    link = ucpg_rsm_ctlr_find(&ucpg_rsm_ctlr_held, controller);
    if (link == NULL) {
        /* Released already (retired) or never ours. */
        ucpg_rsm_engine_unlock();
        return RSMERR_BAD_CTLR_HNDL;
    }

    c = *link;
    if (--c->refcount > 0) {
        ucpg_rsm_engine_unlock();
        return RSM_SUCCESS;
    }

    *link                 = c->next;
    c->domain             = NULL;
    c->next               = ucpg_rsm_ctlr_retired;
    ucpg_rsm_ctlr_retired = c;
    ucpg_rsm_engine_unlock();

    /* Outside the controller lists' critical section: the last engine release
     * tears the domain down, which takes a while. */
    ucpg_rsm_engine_release();
    return RSM_SUCCESS;
}

int rsm_get_controller_attr(rsmapi_controller_handle_t chdl,
                            rsmapi_controller_attr_t *attr)
{
    struct __rsmapi_controller_handle **link;
    int ret;

    /* Checked in the reference's order: handle, attr, then released. */
    if (chdl == NULL) {
        return RSMERR_BAD_CTLR_HNDL;
    }
    if (attr == NULL) {
        return RSMERR_BAD_ADDR;
    }

    ucpg_rsm_engine_lock();
    link = ucpg_rsm_ctlr_find(&ucpg_rsm_ctlr_held, chdl);
    if (link != NULL) {
        *attr = (*link)->attr;
        ret   = RSM_SUCCESS;
    } else if (ucpg_rsm_ctlr_find(&ucpg_rsm_ctlr_retired, chdl) != NULL) {
        ret = RSMERR_CTLR_NOT_PRESENT;
    } else {
        ret = RSMERR_BAD_CTLR_HNDL;
    }
    ucpg_rsm_engine_unlock();
    return ret;
}


/* --- interconnect topology ----------------------------------------------------- */

/* Every block part starts 8-byte aligned (rsm_addr_t members). */
static size_t ucpg_rsm_align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static int ucpg_rsm_nodeid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;

    return (x > y) - (x < y);
}

/*
 * The node ids other than ours among the domain's UP peers, sorted and without
 * duplicates (several processes of one node are one remote node). *ids_p is
 * malloc'ed (possibly NULL when *count_p is 0).
 */
static ucpg_status_t ucpg_rsm_remote_nodes(ucpg_domain_t *d, uint32_t **ids_p,
                                           size_t *count_p)
{
    uint32_t self_node     = ucpg_domain_nodeid(d);
    ucpg_peer_info_t *info = NULL, *grown;
    size_t max = 0, count = 0, total = 0, i, n = 0;
    ucpg_status_t status;
    uint32_t *ids;

    /* Peers may join between the size query and the snapshot: retry until
     * the snapshot holds them all. */
    for (;;) {
        status = ucpg_domain_peers(d, info, max, &count, &total);
        if ((status != UCPG_OK) || (total <= max)) {
            break;
        }
        max   = total + 4;
        grown = realloc(info, max * sizeof(*info));
        if (grown == NULL) {
            status = UCPG_ERR_NO_MEMORY;
            break;
        }
        info = grown;
    }
    if (status != UCPG_OK) {
        free(info);
        return status;
    }

    ids = malloc((count > 0 ? count : 1) * sizeof(*ids));
    if (ids == NULL) {
        free(info);
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < count; ++i) {
        if (!info[i].is_self && (info[i].state == UCPG_PEER_STATE_UP) &&
            (info[i].nodeid != self_node)) {
            ids[n++] = info[i].nodeid;
        }
    }
    free(info);

    qsort(ids, n, sizeof(*ids), ucpg_rsm_nodeid_cmp);
    count = 0;
    for (i = 0; i < n; ++i) {
        if ((count == 0) || (ids[count - 1] != ids[i])) {
            ids[count++] = ids[i];
        }
    }

    *ids_p   = ids;
    *count_p = count;
    return UCPG_OK;
}

/*
 * Block layout (one malloc, 8-byte aligned, pointers into itself):
 *   rsm_topology_t      header + connections[1]   (one local controller)
 *   rsm_connections_t   "ucx0" + remote_cntlr[nremote]
 * A controller with no remote entry still gets the room of one, so that
 * remote_cntlr[1] of the declared struct is never outside the block.
 */
int rsm_get_interconnect_topology(rsm_topology_t **topology_data)
{
    const size_t ncntlr = 1;
    size_t nremote = 0, hdr_size, conn_size, i;
    rsm_connections_t *conn;
    rsm_remote_cntlr_t *remote;
    uint32_t *ids = NULL;
    ucpg_domain_t *d;
    ucpg_status_t status;
    rsm_topology_t *tp;
    uint32_t self_node;

    if (topology_data == NULL) {
        return RSMERR_BAD_TOPOLOGY_PTR;
    }

    status = ucpg_rsm_engine_acquire(&d);
    if (status != UCPG_OK) {
        return ucpg_rsm_err_from_status(status);
    }

    self_node = ucpg_domain_nodeid(d);
    status    = ucpg_rsm_remote_nodes(d, &ids, &nremote);
    if (status != UCPG_OK) {
        goto out_release;
    }

    hdr_size  = ucpg_rsm_align8(offsetof(rsm_topology_t, connections) +
                                ncntlr * sizeof(rsm_connections_t*));
    conn_size = ucpg_rsm_align8(offsetof(rsm_connections_t, remote_cntlr) +
                                (nremote > 0 ? nremote : 1) * sizeof(rsm_remote_cntlr_t));
    /* calloc: names are NUL-padded and no padding byte leaks heap contents. */
    tp = calloc(1, hdr_size + ncntlr * conn_size);
    if (tp == NULL) {
        ucpg_error("rsm: no memory for a topology of %zu nodes", nremote + 1);
        status = UCPG_ERR_NO_MEMORY;
        goto out_free_ids;
    }

    tp->topology_hdr.local_nodeid      = self_node;
    tp->topology_hdr.local_cntlr_count = (uint_t)ncntlr;

    conn = (rsm_connections_t*)((char*)tp + hdr_size);
    tp->connections[0] = conn;
    strncpy(conn->hdr.cntlr_name, UCPG_RSM_CTLR_UCX, sizeof(conn->hdr.cntlr_name) - 1);
    /* A node's UCX "controller" is reached through its node id. */
    conn->hdr.local_hwaddr       = self_node;
    conn->hdr.remote_cntlr_count = (int)nremote;

    for (i = 0; i < nremote; ++i) {
        remote                   = &conn->remote_cntlr[i];
        remote->remote_nodeid    = ids[i];
        strncpy(remote->remote_cntlrname, UCPG_RSM_CTLR_UCX,
                sizeof(remote->remote_cntlrname) - 1);
        remote->remote_hwaddr    = ids[i];
        remote->connection_state = RSM_CONNECTION_ACTIVE;
    }

    *topology_data = tp;

out_free_ids:
    free(ids);
out_release:
    ucpg_rsm_engine_release();
    return ucpg_rsm_err_from_status(status);
}

void rsm_free_interconnect_topology(rsm_topology_t *topology_data)
{
    free(topology_data);
}

int ucx_cpg_rsm_reaches_other_hosts(void)
{
    const char *method;
    ucpg_domain_t *d;
    int reaches;

    if (ucpg_rsm_engine_acquire(&d) != UCPG_OK) {
        return 0;
    }
    /* only the PMIx boot connects to processes of other hosts */
    method  = ucpg_boot_method_name();
    reaches = (method != NULL) && (strcmp(method, "pmix") == 0);
    ucpg_rsm_engine_release();
    return reaches;
}
