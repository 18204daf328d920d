/*
 * osc_rsm.h - the osc/rsm component: MPI one-sided windows on RSM segments.
 *
 * Every rank of a window exports up to two RSM segments and imports those
 * of every other rank:
 *
 *   data   the window memory itself. MPI_Win_allocate: pages we map for it.
 *          MPI_Win_create: the whole pages inside the user's buffer, in
 *          place; the partial first and last pages of an unaligned buffer
 *          are never exported (the library remaps exported pages, which is
 *          unsafe for pages shared with other data, see osc_rsm_region.c)
 *          and peers reach them with process_vm_readv/writev. None for a
 *          0-byte window or a buffer inside a single page.
 *   state  one small segment of 64-bit words used only through atomics: the
 *          passive-target lock word, the accumulate lock word, the PSCW
 *          complete counter and one post counter per rank (layout below).
 *
 * RMA data movement is rsm_memseg_import_put/get in the default implicit
 * barrier mode, which are synchronous: when they return the data is in the
 * target's memory (put) or in ours (get). Where the library offers a direct
 * view of a peer's segment (exporter on this host,
 * ucx_cpg_rsm_import_direct) data moves by memcpy through it instead, and
 * process_vm_writev/readv for the edges are synchronous too. Every
 * one-sided operation is thus complete at the target when the MPI call
 * returns, and the synchronization calls only have to order memory and tell
 * peers (see osc_rsm_active.c and osc_rsm_passive.c).
 *
 * Accumulate-family operations (accumulate, get_accumulate, fetch_and_op,
 * compare_and_swap and their request forms) all take the target's
 * accumulate lock word (a CSWAP spin lock over ucx_cpg_rsm_atomic64) and
 * then read, combine and write the target data. There is no lock-free fast
 * path, so every accumulate is atomic with respect to every other one on the
 * same window, whatever its datatype and op.
 *
 * File map: osc_rsm_component.c (component, parameters, query/select),
 * osc_rsm_region.c (exporting process memory), osc_rsm_window.c (window
 * create/allocate/free), osc_rsm_peer.c (reaching a peer's memory and
 * state), osc_rsm_dtype.c (datatype layouts), osc_rsm_comm.c (put/get),
 * osc_rsm_accumulate.c, osc_rsm_active.c (fence, PSCW), osc_rsm_passive.c
 * (lock/unlock, flush, sync), osc_rsm_request.c (completed requests).
 */
#ifndef OMPI_OSC_RSM_H
#define OMPI_OSC_RSM_H

#include "ompi_config.h"

#include <stdbool.h>
#include <stdint.h>

#include "mpi.h"
#include "ompi/communicator/communicator.h"
#include "ompi/datatype/ompi_datatype.h"
#include "ompi/group/group.h"
#include "ompi/mca/osc/base/base.h"
#include "ompi/mca/osc/osc.h"
#include "ompi/request/request.h"
#include "ompi/win/win.h"
#include "opal/threads/mutex.h"
#include "opal/util/output.h"

#include <rsmapi.h>
#include <ucx_cpg_rsm.h>

BEGIN_C_DECLS

/* --- component ------------------------------------------------------------- */

/* Default osc_rsm_priority: below every stock component that can take a
 * window (pt2pt 10, ucx 60, sm 100, rdma 101), and pt2pt serves every
 * create/allocate window, so merely adding our directory to
 * mca_base_component_path never selects osc/rsm. It is chosen when asked
 * for: "--mca osc rsm" (only rsm opened) or "--mca osc_rsm_priority 200"
 * (rsm for create/allocate, the stock components for dynamic and shared). */
#define OMPI_OSC_RSM_DEFAULT_PRIORITY 5

typedef struct ompi_osc_rsm_component {
    ompi_osc_base_component_t super;

    /* MCA parameters (registered in component_register) */
    int  priority;      /* osc_rsm_priority */
    bool use_direct;    /* osc_rsm_direct: move data through direct views */

    /* The RSM library, opened at the first query (lib_lock guards these). */
    opal_mutex_t               lib_lock;
    int                        lib_state;   /* 0 untried, 1 usable, -1 failed */
    rsmapi_controller_handle_t ctlr;
    rsm_node_id_t              node_id;     /* this host's node id */
} ompi_osc_rsm_component_t;

OMPI_MODULE_DECLSPEC extern ompi_osc_rsm_component_t mca_osc_rsm_component;

/* Verbose output goes to the osc framework's stream (--mca osc_base_verbose N). */
#define OSC_RSM_VERBOSE(level, ...) \
    opal_output_verbose((level), ompi_osc_base_framework.framework_output, "osc/rsm: " __VA_ARGS__)
/* Reasons for failing a window creation are always printed. */
#define OSC_RSM_ERROR(...) opal_output(0, "osc/rsm: " __VA_ARGS__)

/* --- exported memory (osc_rsm_region.c) -------------------------------------- */

/*
 * A page range of this process exported and published as one RSM segment.
 * Regions are shared: a window whose whole pages are already exported
 * (a window on the memory of another window) reuses that segment. Fields
 * are constant after creation except refs (region list lock).
 */
typedef struct ompi_osc_rsm_region {
    char                      *page_base;  /* page aligned */
    size_t                     page_len;   /* multiple of the page size */
    rsm_memseg_export_handle_t export;
    rsm_memseg_id_t            segid;      /* system-assigned at publish */
    bool                       owned;      /* we mmap'd the pages: munmap on release */
    int                        refs;
    struct ompi_osc_rsm_region *next;
} ompi_osc_rsm_region_t;

size_t ompi_osc_rsm_page_size(void);
/* Maps len bytes (rounded up to pages) of fresh private memory, exports and
 * publishes them. */
int ompi_osc_rsm_region_alloc(size_t len, ompi_osc_rsm_region_t **region_p);
/* Exports and publishes the whole pages inside [base, base + len) of the
 * caller's memory (its "inner" range), or takes a reference on the region
 * already holding them. *inner_off_p / *inner_len_p: where the inner range
 * lies in the window; *seg_off_p: where it starts in the region's segment.
 * No whole page inside: *region_p = NULL and an empty inner range. */
int ompi_osc_rsm_region_attach(void *base, size_t len, ompi_osc_rsm_region_t **region_p,
                               uint64_t *inner_off_p, uint64_t *inner_len_p,
                               uint64_t *seg_off_p);
/* Drops a reference; the last one unpublishes and destroys the export (the
 * library gives the pages back as private memory with their contents). */
void ompi_osc_rsm_region_release(ompi_osc_rsm_region_t *region);

/* --- the per-rank state segment ---------------------------------------------------- */

/* Byte offsets of the 64-bit words of the state segment. */
#define OSC_RSM_STATE_LOCK      0    /* passive-target lock: see below */
#define OSC_RSM_STATE_ACC_LOCK  8    /* accumulate lock: 0 free, else holder rank + 1 */
#define OSC_RSM_STATE_COMPLETE  16   /* MPI_Win_complete calls received (PSCW) */
#define OSC_RSM_STATE_POST      64   /* + 8 * r: MPI_Win_post calls received from rank r */
#define OSC_RSM_STATE_BYTES(nprocs) (OSC_RSM_STATE_POST + 8 * (size_t)(nprocs))

/* Passive-target lock word: the number of shared holders, plus this bit
 * while an exclusive holder has it. A would-be shared locker adds 1 and backs
 * out if it saw the bit; an exclusive locker swaps 0 -> EXCL. */
#define OSC_RSM_LOCK_EXCL       (1ULL << 40)

/* --- peers (osc_rsm_peer.c) ---------------------------------------------------------- */

/*
 * How this rank reaches one rank of the window. Window bytes
 * [inner_off, inner_off + inner_len) are in the peer's data segment from
 * segment offset seg_off on; the bytes before and after (the edges of an
 * unaligned MPI_Win_create buffer, osc_rsm_region.c) are reached in the
 * peer's address space at base_addr with process_vm_readv/writev. Written
 * during window creation only; read-only afterwards.
 */
typedef struct ompi_osc_rsm_peer {
    rsm_memseg_import_handle_t data_im;     /* NULL: self, or no inner pages */
    rsm_memseg_import_handle_t state_im;    /* NULL for self */
    char                      *self_base;   /* self: our window base; else NULL */
    char                      *inner_view;  /* direct view of the inner range, or NULL */
    uint64_t                  *state_local; /* self: our state segment; else NULL */
    uint64_t                   size;        /* window size in bytes */
    uint64_t                   inner_off;
    uint64_t                   inner_len;
    uint64_t                   seg_off;
    uint64_t                   base_addr;   /* the window's address in the peer */
    pid_t                      pid;
    int                        disp_unit;
} ompi_osc_rsm_peer_t;

struct ompi_osc_rsm_module;

/* Bounds check: [disp * disp_unit + lo, disp * disp_unit + hi) must lie in
 * the target's window; *off_p receives disp * disp_unit. Returns
 * OMPI_ERR_RMA_RANGE otherwise. */
int ompi_osc_rsm_peer_range(const ompi_osc_rsm_peer_t *peer, ptrdiff_t disp, ptrdiff_t lo,
                            ptrdiff_t hi, ptrdiff_t *off_p);
/* Copies len bytes to / from window offset off of the peer. Complete at the
 * target on return. */
int ompi_osc_rsm_peer_put(const ompi_osc_rsm_peer_t *peer, uint64_t off, const void *buf,
                          size_t len);
int ompi_osc_rsm_peer_get(const ompi_osc_rsm_peer_t *peer, uint64_t off, void *buf, size_t len);
/* A 64-bit atomic on the word at byte offset off of the peer's state
 * segment; *old_p (may be NULL) receives the previous value. */
int ompi_osc_rsm_peer_atomic(const ompi_osc_rsm_peer_t *peer, size_t off,
                             ucx_cpg_rsm_atomic_op_t op, uint64_t value, uint64_t compare,
                             uint64_t *old_p);
/* Plain read of a word of our own state segment (acquire). */
uint64_t ompi_osc_rsm_state_read(struct ompi_osc_rsm_module *module, size_t off);
/* Maps an RSMAPI error to an OMPI error code (and says so at verbose 10). */
int ompi_osc_rsm_err(int rsm_err, const char *what);
/* Pause in a spin-wait: lets MPI progress and other ranks run. */
void ompi_osc_rsm_backoff(unsigned *spins);

/* --- the module ------------------------------------------------------------------------- */

/* Access epoch of this rank on the window (module->access). */
enum {
    OSC_RSM_EPOCH_NONE = 0,
    OSC_RSM_EPOCH_FENCE,        /* after a fence without MPI_MODE_NOSUCCEED */
    OSC_RSM_EPOCH_PSCW,         /* between MPI_Win_start and MPI_Win_complete */
    OSC_RSM_EPOCH_PASSIVE,      /* one or more MPI_Win_lock */
    OSC_RSM_EPOCH_PASSIVE_ALL   /* MPI_Win_lock_all */
};

/* module->lock_state[target] */
#define OSC_RSM_LOCKED_SHARED     0x1
#define OSC_RSM_LOCKED_EXCLUSIVE  0x2
#define OSC_RSM_LOCKED_NOCHECK    0x4   /* MPI_MODE_NOCHECK: no lock word taken */

typedef struct ompi_osc_rsm_module {
    ompi_osc_base_module_t super;      /* the 29-entry table; must be first */

    struct ompi_win_t          *win;
    struct ompi_communicator_t *comm;  /* our duplicate of the window's communicator */
    int                         rank;
    int                         nprocs;
    int                         flavor;
    void                       *base;  /* this rank's window memory */
    size_t                      size;
    int                         disp_unit;

    ompi_osc_rsm_region_t      *data;  /* our exported window pages; NULL: none */
    ompi_osc_rsm_region_t      *state_region;
    uint64_t                   *state; /* = state_region->page_base */

    ompi_osc_rsm_peer_t        *peers; /* [nprocs], by rank in comm */

    /* Epoch bookkeeping: changed only by synchronization calls, under
     * sync_lock (RMA calls read it to check that an epoch is open). */
    opal_mutex_t                sync_lock;
    int                         access;         /* OSC_RSM_EPOCH_* */
    int                        *start_ranks;    /* PSCW access group, as comm ranks */
    int                         start_n;
    int                        *post_ranks;     /* PSCW exposure group, as comm ranks */
    int                         post_n;         /* -1: no exposure epoch */
    uint8_t                    *lock_state;     /* [nprocs] OSC_RSM_LOCKED_* */
    int                         nlocks;         /* targets locked by MPI_Win_lock */
} ompi_osc_rsm_module_t;

static inline ompi_osc_rsm_module_t *ompi_osc_rsm_module(struct ompi_win_t *win)
{
    return (ompi_osc_rsm_module_t *)win->w_osc_module;
}

extern const ompi_osc_base_module_t ompi_osc_rsm_module_template;

/* osc_rsm_window.c */
int ompi_osc_rsm_attach(struct ompi_win_t *win, void *base, size_t len);
int ompi_osc_rsm_detach(struct ompi_win_t *win, const void *base);
int ompi_osc_rsm_window_select(struct ompi_win_t *win, void **base, size_t size, int disp_unit,
                               struct ompi_communicator_t *comm, struct opal_info_t *info,
                               int flavor, int *model);
int ompi_osc_rsm_free(struct ompi_win_t *win);

/* osc_rsm_dtype.c: the layout of count elements of a datatype as byte
 * segments relative to the buffer address, in type-map order. */
typedef struct ompi_osc_rsm_seg {
    ptrdiff_t off;
    size_t    len;
} ompi_osc_rsm_seg_t;

typedef struct ompi_osc_rsm_layout {
    ompi_osc_rsm_seg_t *segs;    /* == &one when the layout is contiguous */
    size_t              nsegs;
    size_t              bytes;   /* packed size: sum of the lengths */
    ptrdiff_t           lo, hi;  /* extent of the touched bytes [lo, hi) */
    ompi_osc_rsm_seg_t  one;
} ompi_osc_rsm_layout_t;

int  ompi_osc_rsm_layout(int count, struct ompi_datatype_t *dt, ompi_osc_rsm_layout_t *l);
void ompi_osc_rsm_layout_fini(ompi_osc_rsm_layout_t *l);
/* Packs count elements at addr into a contiguous buffer. When the data is
 * already contiguous *packed_p points into addr and *to_free_p is NULL;
 * otherwise *to_free_p is the allocation to free. */
int ompi_osc_rsm_pack(const void *addr, int count, struct ompi_datatype_t *dt, size_t bytes,
                      const void **packed_p, void **to_free_p);
/* Unpacks bytes of packed data into count elements at addr. */
int ompi_osc_rsm_unpack(void *addr, int count, struct ompi_datatype_t *dt, const void *packed,
                        size_t bytes);

/* osc_rsm_comm.c */
int ompi_osc_rsm_check_access(ompi_osc_rsm_module_t *module, int target, bool request_based);
int ompi_osc_rsm_put(const void *origin_addr, int origin_count,
                     struct ompi_datatype_t *origin_dt, int target, ptrdiff_t target_disp,
                     int target_count, struct ompi_datatype_t *target_dt,
                     struct ompi_win_t *win);
int ompi_osc_rsm_get(void *origin_addr, int origin_count, struct ompi_datatype_t *origin_dt,
                     int target, ptrdiff_t target_disp, int target_count,
                     struct ompi_datatype_t *target_dt, struct ompi_win_t *win);
int ompi_osc_rsm_rput(const void *origin_addr, int origin_count,
                      struct ompi_datatype_t *origin_dt, int target, ptrdiff_t target_disp,
                      int target_count, struct ompi_datatype_t *target_dt,
                      struct ompi_win_t *win, struct ompi_request_t **request);
int ompi_osc_rsm_rget(void *origin_addr, int origin_count, struct ompi_datatype_t *origin_dt,
                      int target, ptrdiff_t target_disp, int target_count,
                      struct ompi_datatype_t *target_dt, struct ompi_win_t *win,
                      struct ompi_request_t **request);

/* osc_rsm_accumulate.c */
int ompi_osc_rsm_accumulate(const void *origin_addr, int origin_count,
                            struct ompi_datatype_t *origin_dt, int target,
                            ptrdiff_t target_disp, int target_count,
                            struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                            struct ompi_win_t *win);
int ompi_osc_rsm_compare_and_swap(const void *origin_addr, const void *compare_addr,
                                  void *result_addr, struct ompi_datatype_t *dt, int target,
                                  ptrdiff_t target_disp, struct ompi_win_t *win);
int ompi_osc_rsm_fetch_and_op(const void *origin_addr, void *result_addr,
                              struct ompi_datatype_t *dt, int target, ptrdiff_t target_disp,
                              struct ompi_op_t *op, struct ompi_win_t *win);
int ompi_osc_rsm_get_accumulate(const void *origin_addr, int origin_count,
                                struct ompi_datatype_t *origin_dt, void *result_addr,
                                int result_count, struct ompi_datatype_t *result_dt,
                                int target, ptrdiff_t target_disp, int target_count,
                                struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                                struct ompi_win_t *win);
int ompi_osc_rsm_raccumulate(const void *origin_addr, int origin_count,
                             struct ompi_datatype_t *origin_dt, int target,
                             ptrdiff_t target_disp, int target_count,
                             struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                             struct ompi_win_t *win, struct ompi_request_t **request);
int ompi_osc_rsm_rget_accumulate(const void *origin_addr, int origin_count,
                                 struct ompi_datatype_t *origin_dt, void *result_addr,
                                 int result_count, struct ompi_datatype_t *result_dt,
                                 int target, ptrdiff_t target_disp, int target_count,
                                 struct ompi_datatype_t *target_dt, struct ompi_op_t *op,
                                 struct ompi_win_t *win, struct ompi_request_t **request);

/* osc_rsm_active.c */
int ompi_osc_rsm_fence(int assert, struct ompi_win_t *win);
int ompi_osc_rsm_start(struct ompi_group_t *group, int assert, struct ompi_win_t *win);
int ompi_osc_rsm_complete(struct ompi_win_t *win);
int ompi_osc_rsm_post(struct ompi_group_t *group, int assert, struct ompi_win_t *win);
int ompi_osc_rsm_wait(struct ompi_win_t *win);
int ompi_osc_rsm_test(struct ompi_win_t *win, int *flag);

/* osc_rsm_passive.c */
int ompi_osc_rsm_lock(int lock_type, int target, int assert, struct ompi_win_t *win);
int ompi_osc_rsm_unlock(int target, struct ompi_win_t *win);
int ompi_osc_rsm_lock_all(int assert, struct ompi_win_t *win);
int ompi_osc_rsm_unlock_all(struct ompi_win_t *win);
int ompi_osc_rsm_sync(struct ompi_win_t *win);
int ompi_osc_rsm_flush(int target, struct ompi_win_t *win);
int ompi_osc_rsm_flush_all(struct ompi_win_t *win);
int ompi_osc_rsm_flush_local(int target, struct ompi_win_t *win);
int ompi_osc_rsm_flush_local_all(struct ompi_win_t *win);

/* osc_rsm_request.c: a request that is already complete (our operations
 * finish before the call returns); MPI_Wait/Test just free it. */
int ompi_osc_rsm_request_completed(struct ompi_win_t *win, int status,
                                   struct ompi_request_t **request);

END_C_DECLS

#endif /* OMPI_OSC_RSM_H */
