/*
 * rsm_int.h - private state of the RSM layer (RSMAPI over the domain).
 *
 * The rsm layer implements <rsmapi.h> directly: its public functions return
 * RSMERR_* codes; internal helpers use ucpg_status_t and are translated at
 * the function boundary (ucpg_rsm_err_from_status).
 *
 * The engine is the per-process state shared by all handles: the domain it
 * holds, the AM handler for the RSM protocol, and the lists of controllers,
 * published exports and imports. It lives while any controller or segment
 * handle exists; every list is guarded by the engine lock.
 */
#ifndef UCPG_RSM_RSM_INT_H
#define UCPG_RSM_RSM_INT_H

#include <pthread.h>
#include <stdint.h>

#include "rsmapi.h"
#include "core/domain.h"
#include "core/status.h"

#define UCPG_RSM_CTLR_NAME_MAX  32
#define UCPG_RSM_CTLR_UCX       "ucx0"
#define UCPG_RSM_CTLR_LOOPBACK  "loopback"

/* A controller: reference-counted per name; holds the engine while held. */
struct __rsmapi_controller_handle {
    char                               name[UCPG_RSM_CTLR_NAME_MAX];
    unsigned                           refcount;   /* engine lock */
    int                                loopback;   /* only the local node */
    ucpg_domain_t                     *domain;
    rsmapi_controller_attr_t           attr;
    struct __rsmapi_controller_handle *next;       /* engine's controller list */
};

#define UCPG_RSM_EXPORT_MAGIC  0x52534d45u   /* "RSME" */
#define UCPG_RSM_EXPORT_ACL_MAX 64u

struct ucpg_rsm_msg;

/* One importer connected to an export. */
typedef struct ucpg_rsm_importer {
    ucpg_peer_id_t peer;
    uint64_t       uuid;
    uint64_t       token;
    uint64_t       rebound;    /* the base of the last rebind it confirmed */
} ucpg_rsm_importer_t;

/* Guarded by the engine lock. */
struct __rsm_memseg_export_handle {
    uint32_t                   magic;
    rsmapi_controller_handle_t ctlr;
    ucpg_domain_t             *domain;
    pid_t                      creator;
    void                      *vaddr;
    size_t                     size;
    uint_t                     flags;
    int                        shared;     /* UCX shared memory at vaddr */
    ucp_mem_h                  memh;
    void                      *rkey;
    size_t                     rkey_len;
    int                        published;
    rsm_memseg_id_t            segid;
    rsmapi_access_entry_t      acl[UCPG_RSM_EXPORT_ACL_MAX];
    uint_t                     acl_len;    /* 0: every node, with mode */
    rsm_permission_t           mode;       /* 0777 & ~umask at create */
    uid_t                      uid;
    gid_t                      gid;
    int                        eventfd;    /* signals from importers (semaphore) */
    int                        pollfd_refs;
    ucpg_rsm_importer_t       *importers;
    unsigned                   nimporters, importers_cap;
    struct __rsm_memseg_export_handle *next;
};

/* export.c */
extern struct __rsm_memseg_export_handle *ucpg_rsm_exports;   /* engine lock */
int ucpg_rsm_export_valid(rsm_memseg_export_handle_t h);      /* engine lock held */
/* The published export of segid, or NULL (engine lock held). */
struct __rsm_memseg_export_handle *ucpg_rsm_export_find(uint32_t segid);
/* Makes e->vaddr's range shareable in place when it can, registers it and
 * packs its rkey: an RSM error code (RSMERR_CTLR_NOT_PRESENT once the domain
 * stops). Unregistering gives the range back as private memory with its
 * contents. */
int           ucpg_rsm_register(struct __rsm_memseg_export_handle *e);
void          ucpg_rsm_unregister(struct __rsm_memseg_export_handle *e);
/* rebind.c, progress thread: an importer follows the rebind to msg->base. */
void ucpg_rsm_rebind_recv_ack(ucpg_peer_id_t src, const struct ucpg_rsm_msg *msg);

#define UCPG_RSM_IMPORT_MAGIC 0x52534d49u   /* "RSMI" */

/* A mapping of (part of) an exporter's shared memory into this process:
 * a second mapping of the pages UCX attached for the rkey (see map.c). */
typedef struct ucpg_rsm_view {
    void     *addr;       /* NULL: none */
    size_t    len;
    uint64_t  offset;     /* into the segment */
    int       prot;
} ucpg_rsm_view_t;


/* Guarded by the engine lock, except the fields written once at connect. */
struct __rsm_memseg_import_handle {
    uint32_t                   magic;
    rsmapi_controller_handle_t ctlr;
    ucpg_domain_t             *domain;
    rsm_node_id_t              node;
    rsm_memseg_id_t            segid;
    rsm_permission_t           perm;       /* requested at connect */
    rsm_permission_t           mode;       /* granted by the exporter */
    ucpg_peer_id_t             owner;
    uint64_t                   owner_uuid;
    uint64_t                   token;
    size_t                     size;
    uint64_t                   base;
    ucp_rkey_h                 rkey;
    int                        aborted;    /* atomic */
    rsm_barrier_mode_t         barrier_mode;
    unsigned                   errors;     /* atomic: transfer failures since connect */
    struct ucpg_rsm_barrier   *barrier;    /* the implicit-mode barrier, if any */
    int                        pollfd_refs; /* engine lock */
    int                        eventfd;    /* signals from the exporter (semaphore) */
    int                        signals;    /* engine lock: of eventfd's count, signals */
    int                        abort_told; /* atomic: eventfd holds one more count, which
                                            * says the import was aborted */
    ucpg_rsm_view_t            map;        /* engine lock: rsm_memseg_import_map's view */
    ucpg_rsm_view_t            direct;     /* the library's view of the whole segment
                                            * (exporter on this host), set at connect */
    ucp_rkey_h                *old_rkeys;  /* engine lock: replaced by rebind, freed at
                                            * disconnect (a transfer may still use one) */
    unsigned                   nold_rkeys;
    struct __rsm_memseg_import_handle *next;
};

/* import.c */
extern struct __rsm_memseg_import_handle *ucpg_rsm_imports;   /* engine lock */
int ucpg_rsm_import_valid(rsm_memseg_import_handle_t h);   /* engine lock held */
/* barrier.c, engine lock held: im is being freed; its barriers answer
 * RSMERR_BAD_SEG_HNDL from now on, even if a new import gets its address. */
void ucpg_rsm_barriers_orphan(rsm_memseg_import_handle_t im);
int ucpg_rsm_import_held(rsm_memseg_import_handle_t h);    /* takes the engine lock */
/* Marks h aborted (any thread). Its eventfd then stays readable, so that a
 * poll on its pollfd ends; that count is not a signal (signal.c). */
void ucpg_rsm_import_abort(rsm_memseg_import_handle_t h);
int ucpg_rsm_xfer(rsm_memseg_import_handle_t h, off_t offset, void *buf, size_t len,
                  size_t align, int is_put);
/* The argument and state checks of a transfer, in the reference's order:
 * handle, buffer, alignment, permission, bounds, connection. */
int ucpg_rsm_xfer_check(rsm_memseg_import_handle_t h, off_t offset, const void *buf,
                        size_t len, size_t align, rsm_permission_t need);
/* The RSM result of a UCP transfer (counts failures, notices a gone exporter). */
int ucpg_rsm_xfer_result(rsm_memseg_import_handle_t h, ucs_status_t status);

/* A blocking UCP operation: ucpg_rsm_req_param fills param to complete into
 * w, ucpg_rsm_wait_req waits for the request the operation returned. */
typedef struct ucpg_rsm_wait {
    int          done;
    ucs_status_t status;
} ucpg_rsm_wait_t;
void         ucpg_rsm_req_param(ucp_request_param_t *param, ucpg_rsm_wait_t *w);
ucs_status_t ucpg_rsm_wait_req(ucpg_domain_t *d, void *req, ucpg_rsm_wait_t *w);
/* map.c: after a forced disconnect, points the import's views at private
 * memory so stray stores no longer reach the exporter (engine lock held). */
void ucpg_rsm_map_revoke(rsm_memseg_import_handle_t h);

/* map.c: points the views at the segment's new memory after a rebind
 * (engine lock held). */
void ucpg_rsm_map_repoint(rsm_memseg_import_handle_t h);

/* map.c: at connect, the library's own view of the whole segment when the
 * exporter is on this host (h->direct stays empty otherwise); at
 * disconnect, its removal. */
void ucpg_rsm_direct_open(rsm_memseg_import_handle_t h);
void ucpg_rsm_direct_close(rsm_memseg_import_handle_t h);

/* Remote completion of everything put so far: RSM_SUCCESS or CONN_ABORTED
 * (transfer failures are counted in h->errors). */
int ucpg_rsm_import_flush(rsm_memseg_import_handle_t h);


/* --- engine (engine.c) ----------------------------------------------------- */

/* Takes a reference on the engine (creating it, and the domain, on first
 * use) and returns the domain. UCPG_ERR_* on failure (config, transport). */
ucpg_status_t ucpg_rsm_engine_acquire(ucpg_domain_t **domain_p);
void          ucpg_rsm_engine_release(void);
/* The engine lock, for the lists owned by the other files. */
void          ucpg_rsm_engine_lock(void);
void          ucpg_rsm_engine_unlock(void);
/* Non-zero if the engine lock was free and is now taken (exit paths only). */
int           ucpg_rsm_engine_trylock(void);
/* The domain's registry (segment ids), or NULL once the domain is torn
 * down. Engine lock held: the pointer is fetched from the boot layer at
 * acquire, so publish never takes the boot lock under the engine lock
 * (boot teardown takes them in the other order). */
struct ucpg_registry *ucpg_rsm_engine_registry(void);
/* Whether the teardown hook ran (exit under live objects); engine lock held. */
int                   ucpg_rsm_engine_torn_down(void);

/* --- protocol dispatch (engine.c calls these in the progress thread) --------- */

/* export.c: a CONNECT_REQ or DISCONNECT for one of our exports. */
void ucpg_rsm_export_recv(ucpg_domain_t *d, ucpg_peer_id_t src, const struct ucpg_rsm_msg *msg);
/* export.c: a peer went down: forget its connections. */
void ucpg_rsm_export_peer_down(ucpg_peer_id_t peer, uint64_t uuid);
/* import.c: a CONNECT_REP (with the rkey) or an ABORT. */
void ucpg_rsm_import_recv(ucpg_peer_id_t src, const struct ucpg_rsm_msg *msg,
                          const void *rkey, size_t rkey_len);
/* export.c, import.c: the domain is torn down under live objects (exit). */
void ucpg_rsm_export_teardown_all(void);
void ucpg_rsm_import_teardown_all(void);
/* import.c: a peer went down: its exports are gone for our imports. */
void ucpg_rsm_import_peer_down(ucpg_peer_id_t peer, uint64_t uuid);

/* Sends a protocol message without blocking (from any thread); data is
 * copied, so it may be freed at once. */
ucpg_status_t ucpg_rsm_send(ucpg_domain_t *d, ucpg_peer_id_t dst, const struct ucpg_rsm_msg *msg,
                            const void *data, size_t len);

/* --- controllers (controller.c) --------------------------------------------- */

/* Non-zero iff c is a controller handle currently held (engine lock taken
 * inside). */
int ucpg_rsm_controller_held(rsmapi_controller_handle_t c);

/* --- status translation ------------------------------------------------------ */

int ucpg_rsm_err_from_status(ucpg_status_t status);

#endif
