/*
 * osc_rsm_component.c - the MCA component: its structure, parameters, the
 * module table, and the query/select entry points Open MPI calls for every
 * new window.
 *
 * Selection (ompi_osc_base_select) asks every opened osc component for a
 * priority and calls select on the highest one only; there is no fallback
 * if that select fails. So query must refuse (negative priority) every
 * window this component cannot serve, and do so identically on every rank
 * of the communicator, or ranks would pick different components:
 *   - MPI_WIN_FLAVOR_DYNAMIC and MPI_WIN_FLAVOR_SHARED (not implemented);
 *   - a communicator with a rank on another host when the library's domain
 *     reaches this host only (UCX_CPG_BOOT=local; under mpirun the PMIx boot
 *     reaches every host of the job, ucx_cpg_rsm_reaches_other_hosts);
 *   - a process where the RSM library cannot be opened (no controller).
 * The first two are the same answer on every rank by construction; the last
 * can differ only when the library is broken on some ranks, and then window
 * creation fails collectively rather than hanging (see osc_rsm_window.c).
 */
#include "ompi_config.h"

#include <stdlib.h>
#include <string.h>

#include "osc_rsm.h"

#include "ompi/proc/proc.h"
#include "opal/mca/base/mca_base_var.h"
#include "opal/mca/hwloc/hwloc-internal.h"

static int component_open(void);
static int component_close(void);
static int component_register(void);
static int component_init(bool enable_progress_threads, bool enable_mpi_threads);
static int component_finalize(void);
static int component_query(struct ompi_win_t *win, void **base, size_t size, int disp_unit,
                           struct ompi_communicator_t *comm, struct opal_info_t *info,
                           int flavor);

ompi_osc_rsm_component_t mca_osc_rsm_component = {
    .super = {
        .osc_version = {
            OMPI_OSC_BASE_VERSION_3_0_0,
            .mca_component_name = "rsm",
            MCA_BASE_MAKE_VERSION(component, 0, 1, 0),
            .mca_open_component = component_open,
            .mca_close_component = component_close,
            .mca_register_component_params = component_register,
        },
        .osc_data = {
            .param_field = MCA_BASE_METADATA_PARAM_NONE
        },
        .osc_init = component_init,
        .osc_query = component_query,
        .osc_select = ompi_osc_rsm_window_select,
        .osc_finalize = component_finalize,
    },
    .priority   = OMPI_OSC_RSM_DEFAULT_PRIORITY,
    .use_direct = true,
};

static int component_open(void)
{
    OBJ_CONSTRUCT(&mca_osc_rsm_component.lib_lock, opal_mutex_t);
    mca_osc_rsm_component.lib_state = 0;
    mca_osc_rsm_component.ctlr      = NULL;
    return OMPI_SUCCESS;
}

static int component_close(void)
{
    OBJ_DESTRUCT(&mca_osc_rsm_component.lib_lock);
    return OMPI_SUCCESS;
}

static int component_register(void)
{
    mca_osc_rsm_component.priority = OMPI_OSC_RSM_DEFAULT_PRIORITY;
    (void)mca_base_component_var_register(&mca_osc_rsm_component.super.osc_version, "priority",
                                          "Priority of the osc/rsm component (default: 5, "
                                          "below every stock component: chosen only with "
                                          "--mca osc rsm or a higher priority)",
                                          MCA_BASE_VAR_TYPE_INT, NULL, 0, 0, OPAL_INFO_LVL_3,
                                          MCA_BASE_VAR_SCOPE_GROUP,
                                          &mca_osc_rsm_component.priority);
    mca_osc_rsm_component.use_direct = true;
    (void)mca_base_component_var_register(&mca_osc_rsm_component.super.osc_version, "direct",
                                          "Move data by memcpy through the library's direct "
                                          "view of a peer's segment when the peer is on this "
                                          "host (false: always rsm_memseg_import_put/get)",
                                          MCA_BASE_VAR_TYPE_BOOL, NULL, 0, 0, OPAL_INFO_LVL_5,
                                          MCA_BASE_VAR_SCOPE_LOCAL,
                                          &mca_osc_rsm_component.use_direct);
    return OMPI_SUCCESS;
}

static int component_init(bool enable_progress_threads, bool enable_mpi_threads)
{
    /* The library is opened lazily at the first query: a process that never
     * creates a window on this component pays nothing for it. */
    return OMPI_SUCCESS;
}

static int component_finalize(void)
{
    if (mca_osc_rsm_component.ctlr != NULL) {
        /* the last reference: the library tears its domain down */
        rsm_release_controller(mca_osc_rsm_component.ctlr);
        mca_osc_rsm_component.ctlr = NULL;
    }
    mca_osc_rsm_component.lib_state = 0;
    return OMPI_SUCCESS;
}

/* Opens the "ucx0" controller (which joins this process to the library's
 * domain) and learns this host's node id. Once per process; a failure is
 * remembered so that every later window is refused the same way. */
static bool component_library_usable(void)
{
    rsm_topology_t *topo = NULL;
    int ret;

    OPAL_THREAD_LOCK(&mca_osc_rsm_component.lib_lock);
    if (mca_osc_rsm_component.lib_state == 0) {
        ret = rsm_get_controller("ucx0", &mca_osc_rsm_component.ctlr);
        if (ret != RSM_SUCCESS) {
            OSC_RSM_VERBOSE(1, "rsm_get_controller(\"ucx0\") failed: RSM error %d", ret);
            mca_osc_rsm_component.ctlr = NULL;
        } else if ((ret = rsm_get_interconnect_topology(&topo)) != RSM_SUCCESS) {
            OSC_RSM_VERBOSE(1, "rsm_get_interconnect_topology failed: RSM error %d", ret);
            rsm_release_controller(mca_osc_rsm_component.ctlr);
            mca_osc_rsm_component.ctlr = NULL;
        } else {
            mca_osc_rsm_component.node_id = topo->topology_hdr.local_nodeid;
            rsm_free_interconnect_topology(topo);
        }
        mca_osc_rsm_component.lib_state = (mca_osc_rsm_component.ctlr != NULL) ? 1 : -1;
    }
    ret = mca_osc_rsm_component.lib_state;
    OPAL_THREAD_UNLOCK(&mca_osc_rsm_component.lib_lock);
    return ret == 1;
}

static bool component_comm_is_local(struct ompi_communicator_t *comm)
{
    int i, n = ompi_comm_size(comm);

    for (i = 0; i < n; ++i) {
        ompi_proc_t *proc = ompi_comm_peer_lookup(comm, i);

        if ((proc == NULL) || !OPAL_PROC_ON_LOCAL_NODE(proc->super.proc_flags)) {
            return false;
        }
    }
    return true;
}

static int component_query(struct ompi_win_t *win, void **base, size_t size, int disp_unit,
                           struct ompi_communicator_t *comm, struct opal_info_t *info,
                           int flavor)
{
    if ((flavor != MPI_WIN_FLAVOR_CREATE) && (flavor != MPI_WIN_FLAVOR_ALLOCATE)) {
        return -1;
    }
    if (mca_osc_rsm_component.priority < 0) {
        return -1;        /* switched off: do not even open the library */
    }
    if (!component_library_usable()) {
        return -1;
    }
    if (!component_comm_is_local(comm) && !ucx_cpg_rsm_reaches_other_hosts()) {
        OSC_RSM_VERBOSE(10, "communicator spans hosts, the library's domain does not: not ours");
        return -1;
    }
    return mca_osc_rsm_component.priority;
}

/* The module table every window starts from (copied into the module). */
const ompi_osc_base_module_t ompi_osc_rsm_module_template = {
    .osc_win_shared_query = NULL,           /* shared windows are not ours */
    .osc_win_attach       = ompi_osc_rsm_attach,   /* refused: not a dynamic window */
    .osc_win_detach       = ompi_osc_rsm_detach,
    .osc_free             = ompi_osc_rsm_free,

    .osc_put              = ompi_osc_rsm_put,
    .osc_get              = ompi_osc_rsm_get,
    .osc_accumulate       = ompi_osc_rsm_accumulate,
    .osc_compare_and_swap = ompi_osc_rsm_compare_and_swap,
    .osc_fetch_and_op     = ompi_osc_rsm_fetch_and_op,
    .osc_get_accumulate   = ompi_osc_rsm_get_accumulate,

    .osc_rput             = ompi_osc_rsm_rput,
    .osc_rget             = ompi_osc_rsm_rget,
    .osc_raccumulate      = ompi_osc_rsm_raccumulate,
    .osc_rget_accumulate  = ompi_osc_rsm_rget_accumulate,

    .osc_fence            = ompi_osc_rsm_fence,

    .osc_start            = ompi_osc_rsm_start,
    .osc_complete         = ompi_osc_rsm_complete,
    .osc_post             = ompi_osc_rsm_post,
    .osc_wait             = ompi_osc_rsm_wait,
    .osc_test             = ompi_osc_rsm_test,

    .osc_lock             = ompi_osc_rsm_lock,
    .osc_unlock           = ompi_osc_rsm_unlock,
    .osc_lock_all         = ompi_osc_rsm_lock_all,
    .osc_unlock_all       = ompi_osc_rsm_unlock_all,

    .osc_sync             = ompi_osc_rsm_sync,
    .osc_flush            = ompi_osc_rsm_flush,
    .osc_flush_all        = ompi_osc_rsm_flush_all,
    .osc_flush_local      = ompi_osc_rsm_flush_local,
    .osc_flush_local_all  = ompi_osc_rsm_flush_local_all,
};
