/*
 * export.c - export segments: create, destroy, publish, republish,
 * unpublish, and the exporter's side of the connect handshake (rebind:
 * rebind.c).
 *
 * Making the caller's memory shareable. UCX can register arbitrary memory,
 * but shared-memory transports can only reach memory they allocated, so a
 * merely registered buffer would be served by software RMA through our
 * progress thread (slow) and could never be mapped by a local importer.
 * So export_create saves the range, asks UCX to allocate shared memory at
 * exactly the caller's address (UCP_MEM_MAP_ALLOCATE | FIXED) and copies the
 * contents back: the caller keeps its pointer, importers get one-sided RMA.
 * Destroy reverses it (private anonymous memory with the contents again).
 * If that fails, the range is registered as it is (software RMA).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/registry.h"
#include "core/log.h"
#include "core/proc.h"
#include "protocol.h"

#define UCPG_RSM_ACL_MAX       64u
#define UCPG_RSM_RESERVED_TOP  0x3fffffu     /* ids 1..this are reserved */
#define UCPG_RSM_AUTO_BASE     0x80000000u   /* system-assigned ids only */

struct __rsm_memseg_export_handle *ucpg_rsm_exports;  /* engine lock */
static uint64_t ucpg_rsm_next_token = 1;                       /* engine lock */

/* Called with the engine lock held: is h one of our live export handles? */
int ucpg_rsm_export_valid(rsm_memseg_export_handle_t h)
{
    struct __rsm_memseg_export_handle *e;

    for (e = ucpg_rsm_exports; e != NULL; e = e->next) {
        if (e == h) {
            return e->magic == UCPG_RSM_EXPORT_MAGIC;
        }
    }
    return 0;
}

/* The process umask, without the race of umask(umask(0)). */
static mode_t ucpg_rsm_umask(void)
{
    char line[128];
    unsigned mask = 022;
    FILE *f = fopen("/proc/self/status", "r");

    while ((f != NULL) && (fgets(line, sizeof(line), f) != NULL)) {
        if (sscanf(line, "Umask: %o", &mask) == 1) {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return (mode_t)mask;
}

static ucpg_status_t ucpg_rsm_map_memory(struct __rsm_memseg_export_handle *e)
{
    ucp_mem_map_params_t params;
    ucp_mem_attr_t attr;
    void *saved;
    ucs_status_t status;

    memset(&params, 0, sizeof(params));
    params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                        UCP_MEM_MAP_PARAM_FIELD_FLAGS;
    params.address    = e->vaddr;
    params.length     = e->size;
    saved = malloc(e->size);
    if (saved != NULL) {
        memcpy(saved, e->vaddr, e->size);
        params.flags = UCP_MEM_MAP_ALLOCATE | UCP_MEM_MAP_FIXED;
        status = ucp_mem_map(ucpg_domain_ucp_context(e->domain), &params, &e->memh);
        attr.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS;
        if ((status == UCS_OK) && (ucp_mem_query(e->memh, &attr) == UCS_OK) &&
            (attr.address == e->vaddr)) {
            memcpy(e->vaddr, saved, e->size);
            free(saved);
            e->shared = 1;
            return UCPG_OK;
        }
        if (status == UCS_OK) {
            ucp_mem_unmap(ucpg_domain_ucp_context(e->domain), e->memh);
        }
        free(saved);
        ucpg_debug("cannot place shared memory at %p: registering it as it is", e->vaddr);
    }
    params.flags = 0;
    status = ucp_mem_map(ucpg_domain_ucp_context(e->domain), &params, &e->memh);
    return (status == UCS_OK) ? UCPG_OK : UCPG_ERR_NO_MEMORY;
}

/* Maps private memory over e's range with the contents of saved (NULL:
 * zero pages). MAP_FIXED replaces what is there in one step, so a thread
 * using the range never finds it unmapped. */
static void ucpg_rsm_map_private(struct __rsm_memseg_export_handle *e, const void *saved)
{
    if (mmap(e->vaddr, e->size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        ucpg_error("cannot restore private memory at %p: %m", e->vaddr);
    } else if (saved != NULL) {
        memcpy(e->vaddr, saved, e->size);
    }
}

/*
 * Gives e's range back as private memory with its contents, releasing UCX's
 * registration first when release_ucx is set. Without it (at exit, or once
 * the domain stops) another thread may still write into the range, since
 * the exit handler does not stop it: releasing UCX's shared memory first
 * left the range unmapped for a moment and such a writer faulted. The
 * private copy then replaces the shared mapping in place, and UCX's
 * allocation is left to UCX's end (releasing it would unmap the copy);
 * writes made meanwhile may be lost, the process is exiting.
 */
static void ucpg_rsm_give_back(struct __rsm_memseg_export_handle *e, int release_ucx)
{
    void *saved = e->shared ? malloc(e->size) : NULL;

    if (saved != NULL) {
        memcpy(saved, e->vaddr, e->size);
    }
    if (release_ucx) {
        ucp_mem_unmap(ucpg_domain_ucp_context(e->domain), e->memh);
    }
    if (e->shared && (release_ucx || (saved != NULL))) {   /* else the shared one stays */
        ucpg_rsm_map_private(e, saved);
    }
    free(saved);
}

/* Releases e's rkey and registration (inside ucpg_domain_ucx_enter/leave). */
static void ucpg_rsm_release_registration(struct __rsm_memseg_export_handle *e)
{
    if (e->rkey != NULL) {
        ucp_rkey_buffer_release(e->rkey);
        e->rkey = NULL;
    }
    if (e->memh != NULL) {
        ucpg_rsm_give_back(e, 1);
        e->memh = NULL;
    }
}

/* Registers e's range with UCX (as shared memory in place when it can) and
 * packs its rkey for importers; an RSM error code. Inside
 * ucpg_domain_ucx_enter/leave. */
static int ucpg_rsm_register_entered(struct __rsm_memseg_export_handle *e)
{
    int ret = RSM_SUCCESS;

    if ((ucpg_rsm_map_memory(e) != UCPG_OK) ||
        (ucp_rkey_pack(ucpg_domain_ucp_context(e->domain), e->memh, &e->rkey,
                       &e->rkey_len) != UCS_OK)) {
        ret = RSMERR_INSUFFICIENT_MEM;
    } else if (e->rkey_len > UCPG_RSM_RKEY_MAX) {
        /* importers would reject the CONNECT_REP: fail now, not at connect */
        ucpg_error("packed rkey of %zu bytes exceeds the protocol's %u", e->rkey_len,
                   UCPG_RSM_RKEY_MAX);
        ret = RSMERR_INSUFFICIENT_RESOURCES;
    }
    if (ret != RSM_SUCCESS) {
        ucpg_rsm_release_registration(e);
    }
    return ret;
}

/*
 * ucpg_rsm_register_entered, bracketed like a put's (ucpg_domain_ucx_enter):
 * at exit another thread may be here while the exit handler releases UCX
 * (a ucp_mem_map then faulted under it).
 */
int ucpg_rsm_register(struct __rsm_memseg_export_handle *e)
{
    int ret;

    if (ucpg_domain_ucx_enter(e->domain) != UCPG_OK) {
        return RSMERR_CTLR_NOT_PRESENT;          /* the domain stops */
    }
    ret = ucpg_rsm_register_entered(e);
    ucpg_domain_ucx_leave(e->domain);
    return ret;
}

/*
 * Registers a new export and puts it on the list, both before the domain
 * may stop (the stop waits for the bracket to close). An exit handler that
 * tore the exports down meanwhile did not see this one: it is unregistered
 * here, while UCX still stands, and the create fails with
 * RSMERR_CTLR_NOT_PRESENT. Listed after the teardown instead, it would
 * have kept its registration past UCX's end (ucp_cleanup asserted on it).
 */
static int ucpg_rsm_register_listed(struct __rsm_memseg_export_handle *e)
{
    int ret, torn = 0;

    if (ucpg_domain_ucx_enter(e->domain) != UCPG_OK) {
        return RSMERR_CTLR_NOT_PRESENT;
    }
    ret = ucpg_rsm_register_entered(e);
    if (ret == RSM_SUCCESS) {
        ucpg_rsm_engine_lock();
        torn = ucpg_rsm_engine_torn_down();
        if (!torn) {
            e->next          = ucpg_rsm_exports;
            ucpg_rsm_exports = e;
        }
        ucpg_rsm_engine_unlock();
    }
    if (torn) {
        ucpg_rsm_release_registration(e);        /* no UCX call under the engine lock */
        ret = RSMERR_CTLR_NOT_PRESENT;
    }
    ucpg_domain_ucx_leave(e->domain);
    return ret;
}

/* Undoes ucpg_rsm_register; once the domain stops, only gives the range
 * back (UCX goes with the domain). */
void ucpg_rsm_unregister(struct __rsm_memseg_export_handle *e)
{
    if (ucpg_domain_ucx_enter(e->domain) != UCPG_OK) {
        ucpg_rsm_give_back(e, 0);
        return;
    }
    ucpg_rsm_release_registration(e);
    ucpg_domain_ucx_leave(e->domain);
}

int rsm_memseg_export_create(rsmapi_controller_handle_t controller,
                             rsm_memseg_export_handle_t *memseg, void *vaddr, size_t size,
                             uint_t flags)
{
    long page = sysconf(_SC_PAGESIZE);
    struct __rsm_memseg_export_handle *e;
    ucpg_domain_t *d;
    ucpg_status_t status;
    int ret;

    if (memseg == NULL) {
        return RSMERR_BAD_SEG_HNDL;
    }
    if ((controller == NULL) || !ucpg_rsm_controller_held(controller)) {
        return RSMERR_BAD_CTLR_HNDL;
    }
    if (vaddr == NULL) {
        return RSMERR_BAD_ADDR;
    }
    if (size == 0) {
        return RSMERR_BAD_LENGTH;
    }
    if ((((uintptr_t)vaddr % (uintptr_t)page) != 0) || ((size % (size_t)page) != 0)) {
        return RSMERR_BAD_MEM_ALIGNMENT;
    }
    if (size > controller->attr.attr_max_export_segment_size) {
        return RSMERR_BAD_LENGTH;
    }
    if (madvise(vaddr, size, MADV_NORMAL) != 0) {
        return RSMERR_BAD_ADDR;                  /* not (entirely) mapped */
    }
    status = ucpg_rsm_engine_acquire(&d);
    if (status != UCPG_OK) {
        return ucpg_rsm_err_from_status(status);
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        ucpg_rsm_engine_release();
        return RSMERR_INSUFFICIENT_MEM;
    }
    e->magic   = UCPG_RSM_EXPORT_MAGIC;
    e->ctlr    = controller;
    e->domain  = d;
    e->creator = ucpg_proc_self();
    e->vaddr   = vaddr;
    e->size    = size;
    e->flags   = flags;
    e->mode    = 0777 & ~ucpg_rsm_umask();
    e->eventfd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    e->uid     = geteuid();
    e->gid     = getegid();
    if (e->eventfd < 0) {
        ret = RSMERR_INSUFFICIENT_RESOURCES;   /* as a failed open of /dev/rsm */
        goto err;
    }
    if ((ret = ucpg_rsm_register_listed(e)) != RSM_SUCCESS) {
        goto err;
    }
    *memseg = e;
    return RSM_SUCCESS;

err:
    if (e->eventfd >= 0) {
        close(e->eventfd);
    }
    free(e);
    ucpg_rsm_engine_release();
    return ret;
}

/*
 * Lock order: UCX's worker lock, then the engine lock (the progress thread
 * answers connects under both). So an application thread never calls UCX
 * with the engine lock held: importers to abort are taken out of the export
 * under the lock and told after it is released.
 */
typedef struct ucpg_rsm_abort_list {
    ucpg_domain_t       *domain;
    uint32_t             segid;
    ucpg_rsm_importer_t *importers;
    unsigned             count;
} ucpg_rsm_abort_list_t;

/* Called with the engine lock held. */
static void ucpg_rsm_export_take_importers(struct __rsm_memseg_export_handle *e,
                                           ucpg_rsm_abort_list_t *list)
{
    list->domain    = e->domain;
    list->segid     = e->segid;
    list->importers = e->importers;
    list->count     = e->nimporters;
    e->importers    = NULL;
    e->nimporters   = e->importers_cap = 0;
}

/* Called without the engine lock: tells every importer the segment is gone. */
static void ucpg_rsm_abort_list_send(ucpg_rsm_abort_list_t *list)
{
    ucpg_rsm_msg_t msg;
    unsigned i;

    memset(&msg, 0, sizeof(msg));
    msg.type  = UCPG_RSM_MSG_ABORT;
    msg.segid = list->segid;
    for (i = 0; i < list->count; ++i) {
        msg.token = list->importers[i].token;
        ucpg_rsm_send(list->domain, list->importers[i].peer, &msg, NULL, 0);
    }
    free(list->importers);
    list->importers = NULL;
    list->count     = 0;
}

/* Called with the engine lock held. */
static int ucpg_rsm_export_unpublish_locked(struct __rsm_memseg_export_handle *e,
                                            ucpg_rsm_abort_list_t *list)
{
    struct ucpg_registry *reg = ucpg_rsm_engine_registry();

    if (!e->published) {
        return RSMERR_SEG_NOT_PUBLISHED;
    }
    ucpg_rsm_export_take_importers(e, list);
    if (reg != NULL) {
        ucpg_registry_seg_release(reg, ucpg_domain_nodeid(e->domain), e->segid,
                                  ucpg_domain_uuid(e->domain));
    }
    e->published = 0;
    return RSM_SUCCESS;
}

int rsm_memseg_export_destroy(rsm_memseg_export_handle_t memseg)
{
    ucpg_rsm_abort_list_t aborts = {NULL, 0, NULL, 0};
    struct __rsm_memseg_export_handle **pp;

    ucpg_rsm_engine_lock();
    if ((memseg == NULL) || !ucpg_rsm_export_valid(memseg)) {
        ucpg_rsm_engine_unlock();
        return RSMERR_BAD_SEG_HNDL;
    }
    if (memseg->pollfd_refs > 0) {
        ucpg_rsm_engine_unlock();
        return RSMERR_POLLFD_IN_USE;
    }
    if (memseg->published) {
        ucpg_rsm_export_unpublish_locked(memseg, &aborts);
    }
    for (pp = &ucpg_rsm_exports; *pp != memseg; pp = &(*pp)->next) {
    }
    *pp = memseg->next;
    memseg->magic = 0;
    ucpg_rsm_engine_unlock();
    ucpg_rsm_abort_list_send(&aborts);
    ucpg_rsm_unregister(memseg);
    close(memseg->eventfd);
    free(memseg->importers);
    free(memseg);
    ucpg_rsm_engine_release();
    return RSM_SUCCESS;
}

/* Checks an access list; loopback allows at most the local node. */
static int ucpg_rsm_acl_check(const struct __rsm_memseg_export_handle *e,
                              const rsmapi_access_entry_t *acl, uint_t n)
{
    uint_t i;

    if ((n > 0) && (acl == NULL)) {
        return RSMERR_BAD_ACL;
    }
    if ((n > UCPG_RSM_ACL_MAX) || (e->ctlr->loopback && (n > 1))) {
        return RSMERR_BAD_ACL;
    }
    for (i = 0; i < n; ++i) {
        if ((acl[i].ae_permission & ~(rsm_permission_t)0666) != 0) {
            return RSMERR_BAD_ACL;
        }
        if (e->ctlr->loopback && (acl[i].ae_node != ucpg_domain_nodeid(e->domain))) {
            return RSMERR_BAD_ACL;
        }
    }
    return RSM_SUCCESS;
}

static void ucpg_rsm_acl_store(struct __rsm_memseg_export_handle *e,
                               const rsmapi_access_entry_t *acl, uint_t n)
{
    if (n > 0) {
        memcpy(e->acl, acl, n * sizeof(*acl));
    }
    e->acl_len = n;
}

int rsm_memseg_export_publish(rsm_memseg_export_handle_t memseg, rsm_memseg_id_t *segment_id,
                              rsmapi_access_entry_t access_list[], uint_t access_list_length)
{
    struct ucpg_registry *reg;
    ucpg_status_t status;
    uint32_t segid;
    int ret;

    if (segment_id == NULL) {
        return RSMERR_BAD_SEGID;
    }
    ucpg_rsm_engine_lock();
    if ((memseg == NULL) || !ucpg_rsm_export_valid(memseg)) {
        ret = RSMERR_BAD_SEG_HNDL;
    } else if (memseg->published) {
        ret = RSMERR_SEG_ALREADY_PUBLISHED;
    } else if (memseg->creator != ucpg_proc_self()) {
        ret = RSMERR_NOT_CREATOR;
    } else if (((*segment_id > 0) && (*segment_id <= UCPG_RSM_RESERVED_TOP)) ||
               (*segment_id >= UCPG_RSM_AUTO_BASE)) {
        ret = RSMERR_RESERVED_SEGID;
    } else {
        ret = ucpg_rsm_acl_check(memseg, access_list, access_list_length);
    }
    if (ret != RSM_SUCCESS) {
        ucpg_rsm_engine_unlock();
        return ret;
    }
    reg   = ucpg_rsm_engine_registry();
    segid = *segment_id;
    status = (reg == NULL) ? UCPG_ERR_NO_RESOURCE
                           : ucpg_registry_seg_claim(reg, ucpg_domain_nodeid(memseg->domain),
                                                     &segid, ucpg_domain_self(memseg->domain),
                                                     ucpg_domain_uuid(memseg->domain));
    if (status == UCPG_OK) {
        ucpg_rsm_acl_store(memseg, access_list, access_list_length);
        memseg->segid     = segid;
        memseg->published = 1;
        *segment_id       = segid;
        ret = RSM_SUCCESS;
    } else {
        ret = (status == UCPG_ERR_EXISTS) ? RSMERR_SEGID_IN_USE
                                          : RSMERR_INSUFFICIENT_RESOURCES;
    }
    ucpg_rsm_engine_unlock();
    return ret;
}

int rsm_memseg_export_republish(rsm_memseg_export_handle_t memseg,
                                rsmapi_access_entry_t access_list[], uint_t access_list_length)
{
    int ret;

    ucpg_rsm_engine_lock();
    if ((memseg == NULL) || !ucpg_rsm_export_valid(memseg)) {
        ret = RSMERR_BAD_SEG_HNDL;
    } else if (!memseg->published) {
        ret = RSMERR_SEG_NOT_PUBLISHED;
    } else if (memseg->creator != ucpg_proc_self()) {
        ret = RSMERR_NOT_CREATOR;
    } else {
        ret = ucpg_rsm_acl_check(memseg, access_list, access_list_length);
    }
    if (ret == RSM_SUCCESS) {
        /* Only new connections see the new list, as on Solaris. */
        ucpg_rsm_acl_store(memseg, access_list, access_list_length);
    }
    ucpg_rsm_engine_unlock();
    return ret;
}

int rsm_memseg_export_unpublish(rsm_memseg_export_handle_t memseg)
{
    ucpg_rsm_abort_list_t aborts = {NULL, 0, NULL, 0};
    int ret;

    ucpg_rsm_engine_lock();
    if ((memseg == NULL) || !ucpg_rsm_export_valid(memseg)) {
        ret = RSMERR_BAD_SEG_HNDL;
    } else if (memseg->creator != ucpg_proc_self()) {
        ret = memseg->published ? RSMERR_NOT_CREATOR : RSMERR_SEG_NOT_PUBLISHED;
    } else {
        ret = ucpg_rsm_export_unpublish_locked(memseg, &aborts);
    }
    ucpg_rsm_engine_unlock();
    ucpg_rsm_abort_list_send(&aborts);
    return ret;
}

/* --- the exporter's side of the handshake (progress thread) ----------------- */

struct __rsm_memseg_export_handle *ucpg_rsm_export_find(uint32_t segid)
{
    struct __rsm_memseg_export_handle *e;

    for (e = ucpg_rsm_exports; e != NULL; e = e->next) {
        if (e->published && (e->segid == segid)) {
            return e;
        }
    }
    return NULL;
}

/* The mode an importer on node gets: its ACL entry, or the creation mode. */
static int ucpg_rsm_export_mode_for(const struct __rsm_memseg_export_handle *e, uint32_t node,
                                    rsm_permission_t *mode_p)
{
    uint_t i;

    /* A segment of the loopback controller is for this node only, whatever
     * its access list says (an empty one would let every node in). */
    if (e->ctlr->loopback && (node != ucpg_domain_nodeid(e->domain))) {
        return RSMERR_SEG_NOT_PUBLISHED_TO_NODE;
    }
    if (e->acl_len == 0) {
        *mode_p = e->mode & 0666;
        return RSM_SUCCESS;
    }
    for (i = 0; i < e->acl_len; ++i) {
        if (e->acl[i].ae_node == node) {
            *mode_p = e->acl[i].ae_permission & 0666;
            return RSM_SUCCESS;
        }
    }
    return RSMERR_SEG_NOT_PUBLISHED_TO_NODE;
}

/* The Unix rule: owner bits for the same uid, group bits for the same gid,
 * else other bits; every requested right must be granted. */
static int ucpg_rsm_export_perm_ok(const struct __rsm_memseg_export_handle *e,
                                   rsm_permission_t mode, const ucpg_rsm_msg_t *req)
{
    unsigned shift = (req->uid == (uint32_t)e->uid) ? 6 : (req->gid == (uint32_t)e->gid) ? 3 : 0;
    unsigned bits  = (mode >> shift) & 07;
    unsigned want  = ((req->perm & RSM_PERM_READ) ? 04 : 0) |
                     ((req->perm & RSM_PERM_WRITE) ? 02 : 0);

    return (bits & want) == want;
}

static int ucpg_rsm_export_add_importer(struct __rsm_memseg_export_handle *e,
                                        const ucpg_peer_info_t *info, uint64_t *token_p)
{
    ucpg_rsm_importer_t *grown;

    if (e->nimporters == e->importers_cap) {
        grown = realloc(e->importers, (e->importers_cap * 2 + 4) * sizeof(*grown));
        if (grown == NULL) {
            return RSMERR_INSUFFICIENT_MEM;
        }
        e->importers     = grown;
        e->importers_cap = e->importers_cap * 2 + 4;
    }
    *token_p = ucpg_rsm_next_token++;
    e->importers[e->nimporters] = (ucpg_rsm_importer_t){info->id, info->uuid, *token_p, 0};
    ++e->nimporters;
    return RSM_SUCCESS;
}

static void ucpg_rsm_export_connect(ucpg_domain_t *d, ucpg_peer_id_t src,
                                    const ucpg_rsm_msg_t *req)
{
    struct __rsm_memseg_export_handle *e;
    rsm_permission_t mode = 0;
    ucpg_peer_info_t info;
    ucpg_rsm_msg_t rep;
    void *rkey = NULL;
    size_t rkey_len = 0;

    memset(&rep, 0, sizeof(rep));
    rep.type   = UCPG_RSM_MSG_CONNECT_REP;
    rep.req_id = req->req_id;
    rep.segid  = req->segid;
    ucpg_rsm_engine_lock();
    e = ucpg_rsm_export_find(req->segid);
    if (e == NULL) {
        rep.err = RSMERR_SEG_NOT_PUBLISHED;
    } else if (ucpg_domain_peer_info(d, src, &info) != UCPG_OK) {
        rep.err = RSMERR_REMOTE_NODE_UNREACHABLE;
    } else {
        /* The access list is judged by the node the domain knows the peer
         * by, not by the node the request claims. */
        rep.err = ucpg_rsm_export_mode_for(e, info.nodeid, &mode);
    }
    if ((rep.err == RSM_SUCCESS) && !ucpg_rsm_export_perm_ok(e, mode, req)) {
        rep.err = RSMERR_PERM_DENIED;
    }
    if (rep.err == RSM_SUCCESS) {
        rep.err = ucpg_rsm_export_add_importer(e, &info, &rep.token);
    }
    if (rep.err == RSM_SUCCESS) {
        rep.mode = mode;
        rep.size = e->size;
        rep.base = (uint64_t)(uintptr_t)e->vaddr;
        rkey     = e->rkey;
        rkey_len = e->rkey_len;
    }
    /* ucpg_rsm_send copies the rkey, so it may be sent under the lock. */
    if (ucpg_rsm_send(d, src, &rep, rkey, rkey_len) != UCPG_OK) {
        ucpg_warn("cannot answer a connect request from peer %u", src);
    }
    ucpg_rsm_engine_unlock();
}

static void ucpg_rsm_export_disconnect(const ucpg_rsm_msg_t *msg, ucpg_peer_id_t src)
{
    struct __rsm_memseg_export_handle *e;
    unsigned i;

    ucpg_rsm_engine_lock();
    for (e = ucpg_rsm_exports; e != NULL; e = e->next) {
        for (i = 0; i < e->nimporters; ++i) {
            if ((e->importers[i].token == msg->token) && (e->importers[i].peer == src)) {
                e->importers[i] = e->importers[--e->nimporters];
                break;
            }
        }
    }
    ucpg_rsm_engine_unlock();
}

/* An importer posted a signal: count one event on the export. */
static void ucpg_rsm_export_signal(const ucpg_rsm_msg_t *msg, ucpg_peer_id_t src)
{
    struct __rsm_memseg_export_handle *e;
    uint64_t one = 1;
    unsigned i;

    ucpg_rsm_engine_lock();
    e = ucpg_rsm_export_find(msg->segid);
    for (i = 0; (e != NULL) && (i < e->nimporters); ++i) {
        if ((e->importers[i].token == msg->token) && (e->importers[i].peer == src)) {
            if (write(e->eventfd, &one, sizeof(one)) < 0) {
                ucpg_warn("signal for segment %#x lost: %m", msg->segid);
            }
            break;
        }
    }
    ucpg_rsm_engine_unlock();
}

void ucpg_rsm_export_recv(ucpg_domain_t *d, ucpg_peer_id_t src, const ucpg_rsm_msg_t *msg)
{
    if (msg->type == UCPG_RSM_MSG_CONNECT_REQ) {
        ucpg_rsm_export_connect(d, src, msg);
    } else if (msg->type == UCPG_RSM_MSG_SIGNAL_TO_EXPORT) {
        ucpg_rsm_export_signal(msg, src);
    } else {
        ucpg_rsm_export_disconnect(msg, src);
    }
}

void ucpg_rsm_export_peer_down(ucpg_peer_id_t peer, uint64_t uuid)
{
    struct __rsm_memseg_export_handle *e;
    unsigned i;

    ucpg_rsm_engine_lock();
    for (e = ucpg_rsm_exports; e != NULL; e = e->next) {
        for (i = 0; i < e->nimporters;) {
            if ((e->importers[i].peer == peer) && (e->importers[i].uuid == uuid)) {
                e->importers[i] = e->importers[--e->nimporters];
            } else {
                ++i;
            }
        }
    }
    ucpg_rsm_engine_unlock();
}

/* The domain goes away under live exports (exit without destroying them):
 * give every exporter its memory back as private memory, in place (see
 * ucpg_rsm_give_back). The handles become invalid. Engine lock held. */
void ucpg_rsm_export_teardown_all(void)
{
    struct __rsm_memseg_export_handle *e;

    for (e = ucpg_rsm_exports; e != NULL; e = e->next) {
        if (e->memh != NULL) {
            ucpg_rsm_give_back(e, 0);  /* UCX's end releases the registration */
        }
        e->magic = 0;
    }
    ucpg_rsm_exports = NULL;
}
