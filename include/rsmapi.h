/*
 * rsmapi.h - the Solaris / illumos RSMAPI (Remote Shared Memory API) as
 * implemented by ucx_cpg on top of UCX.
 *
 * This is ucx_cpg's own writing of the RSMAPI interface: names, values,
 * structure layouts and prototypes follow the published interface (illumos
 * <rsmapi.h>, <sys/rsm/rsm_common.h>, <sys/rsm/rsmapi_common.h> and the
 * section 3RSM manual pages) so that a program written for Solaris compiles
 * unchanged on Linux; the text, the comments and the Linux compatibility
 * layer are ucx_cpg's. Behaviour (checks, error precedence, state machine)
 * is specified by the project's RSMAPI fact sheet, rsmapi.md, section 3.
 *
 * One header stands in for the three Solaris ones. Link with -lrsm (after
 * make install, librsm.so is a linker script naming libucx_cpg) or
 * -lucx_cpg. Manual pages: rsmapi(3) and one per function.
 *
 * Conventions of the API:
 *   - Every function returns int: RSM_SUCCESS (0) or a positive RSMERR_*
 *     value, never -1/errno (the one exception, rsm_free_interconnect_topology,
 *     returns nothing).
 *   - Handles are opaque pointers; memory passed to rsm_memseg_export_create
 *     and rsm_memseg_import_map offsets must be page aligned (PAGESIZE).
 *   - Permissions are Unix-style octal modes (RSM_PERM_READ = 0400 ...).
 *   - All functions are MT-Safe.
 *
 * Compatibility layer (Linux): Solaris programs get from <sys/types.h> and
 * <sys/param.h> some names Linux lacks. This header supplies them, each only
 * when it is not already there:
 *   uint_t, ulong_t, uchar_t, offset_t, caddr_t  (see the comments below)
 *   MAXNAMELEN (256), PAGESIZE / PAGEOFFSET / PAGEMASK (from sysconf)
 * Define RSMAPI_NO_SOLARIS_COMPAT to suppress the macros (MAXNAMELEN,
 * PAGESIZE, PAGEOFFSET, PAGEMASK); predefine RSMAPI_<TYPE>_DEFINED (e.g.
 * RSMAPI_UINT_T_DEFINED) to suppress one of the typedefs when another
 * header of the program already declares it with a different spelling.
 * Extensions of ucx_cpg use the prefix RSMAPI_ (and UCX_CPG_).
 *
 * Note on off_t: get/put/map offsets are off_t as on Solaris. On 32-bit
 * Linux its size depends on _FILE_OFFSET_BITS; the library and the program
 * must be built alike (ucx_cpg targets LP64, where off_t is always 64 bits).
 */
#ifndef UCX_CPG_RSMAPI_H
#define UCX_CPG_RSMAPI_H

/* The system headers a Solaris <rsmapi.h> brings in (or their Linux
 * equivalents): size_t/off_t, struct pollfd/nfds_t, the fixed-width integer
 * types, MAXPATHLEN and friends, and sysconf() for PAGESIZE. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/param.h>
#include <poll.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Lets a program tell this implementation from the Solaris one. */
#define UCX_CPG_RSMAPI 1

/* Marks the entry points exported by libucx_cpg, which is built with
 * -fvisibility=hidden. */
#ifndef RSMAPI_API
#if defined(__GNUC__) || defined(__clang__)
#define RSMAPI_API __attribute__((visibility("default")))
#else
#define RSMAPI_API
#endif
#endif


/* ==========================================================================
 * Solaris scalar types missing on Linux
 *
 * A typedef cannot be tested by the preprocessor, so each one is guarded by
 * a macro of its own. All are Solaris's exact types; C11 and C++ accept a
 * repeated typedef naming the same type, so another header declaring the
 * same type again is harmless (only a C99 -pedantic build would warn).
 * On Solaris itself <sys/types.h> already has all of them.
 * ========================================================================== */
#if !defined(__sun)

#ifndef RSMAPI_UINT_T_DEFINED
#define RSMAPI_UINT_T_DEFINED 1
typedef unsigned int uint_t;
#endif

#ifndef RSMAPI_ULONG_T_DEFINED
#define RSMAPI_ULONG_T_DEFINED 1
typedef unsigned long ulong_t;
#endif

#ifndef RSMAPI_UCHAR_T_DEFINED
#define RSMAPI_UCHAR_T_DEFINED 1
typedef unsigned char uchar_t;
#endif

/* Solaris: a 64-bit file offset even in 32-bit programs (long long). */
#ifndef RSMAPI_OFFSET_T_DEFINED
#define RSMAPI_OFFSET_T_DEFINED 1
typedef long long offset_t;
#endif

/*
 * caddr_t (char *) is the one type glibc does have, but only conditionally:
 * <sys/types.h> declares it when __USE_MISC is on (_DEFAULT_SOURCE, _GNU_SOURCE,
 * _BSD_SOURCE, or no strict -std=c.. option) and then defines the marker
 * __daddr_t_defined (<rpc/types.h> uses the same marker). It is therefore
 * tested after <sys/types.h> was included above: with the marker (or
 * __USE_MISC) the system's declaration is used, otherwise, e.g. under
 * -std=c11 without feature macros, it is declared here with the same type.
 * musl declares it for _GNU_SOURCE / _BSD_SOURCE without a marker.
 */
#ifndef RSMAPI_CADDR_T_DEFINED
#define RSMAPI_CADDR_T_DEFINED 1
#if !defined(__daddr_t_defined) && !defined(__USE_MISC) && \
    !(!defined(__GLIBC__) && (defined(_GNU_SOURCE) || defined(_BSD_SOURCE)))
typedef char *caddr_t;
#endif
#endif

#endif /* !__sun */


/* ==========================================================================
 * Solaris <sys/param.h> names used with RSMAPI
 * ========================================================================== */

/* Length of the controller name arrays of the topology structures. The
 * structures use RSMAPI_MAXNAMELEN so their layout does not depend on a
 * MAXNAMELEN defined elsewhere. */
#define RSMAPI_MAXNAMELEN 256

#if !defined(RSMAPI_NO_SOLARIS_COMPAT) && !defined(__sun)
#ifndef MAXNAMELEN
#define MAXNAMELEN 256
#endif
/* Solaris user-level definitions: the page size is a run-time value. */
#ifndef PAGESIZE
#define PAGESIZE (sysconf(_SC_PAGESIZE))
#endif
#ifndef PAGEOFFSET
#define PAGEOFFSET (PAGESIZE - 1)
#endif
#ifndef PAGEMASK
#define PAGEMASK (~PAGEOFFSET)
#endif
#endif


/* ==========================================================================
 * Return values
 * ========================================================================== */

/* Version of the kernel agent protocol of the Solaris implementation. */
#define RSM_VERSION 5

#define RSM_SUCCESS 0

/* RSMAPI errors */
#define RSMERR_BAD_LIBRARY_VERSION          1
#define RSMERR_BAD_TOPOLOGY_PTR             2
#define RSMERR_BAD_CTLR_HNDL                3
#define RSMERR_CTLR_NOT_PRESENT             4
#define RSMERR_BAD_SEG_HNDL                 5
#define RSMERR_SEG_ALREADY_PUBLISHED        6
#define RSMERR_SEG_NOT_PUBLISHED            7
#define RSMERR_SEG_NOT_PUBLISHED_TO_NODE    8
#define RSMERR_SEG_ALREADY_MAPPED           9
#define RSMERR_SEG_STILL_MAPPED             10
#define RSMERR_SEG_NOT_MAPPED               11
#define RSMERR_NOT_CREATOR                  12
#define RSMERR_BAD_BARRIER_PTR              13
#define RSMERR_BAD_SGIO                     14
#define RSMERR_BAD_LOCALMEM_HNDL            15
#define RSMERR_BAD_ADDR                     16
#define RSMERR_BAD_MEM_ALIGNMENT            17
#define RSMERR_BAD_OFFSET                   18
#define RSMERR_MISALIGNED_OFFSET            19
#define RSMERR_BAD_LENGTH                   20
#define RSMERR_BAD_ACL                      21
#define RSMERR_BAD_SEGID                    22
#define RSMERR_RESERVED_SEGID               23
#define RSMERR_SEGID_IN_USE                 24
#define RSMERR_BAD_MODE                     25
#define RSMERR_BAD_PERMS                    26
#define RSMERR_PERM_DENIED                  27
#define RSMERR_LOCKS_NOT_SUPPORTED          28
#define RSMERR_LOCKS_NOT_ENABLED            29
#define RSMERR_REBIND_NOT_ALLOWED           30
#define RSMERR_INSUFFICIENT_RESOURCES       31
#define RSMERR_INSUFFICIENT_MEM             32
#define RSMERR_MAP_FAILED                   33
#define RSMERR_POLLFD_IN_USE                34
#define RSMERR_BARRIER_UNINITIALIZED        35
#define RSMERR_BARRIER_OPEN_FAILED          36
#define RSMERR_BARRIER_NOT_OPENED           37
#define RSMERR_BARRIER_FAILURE              38
#define RSMERR_REMOTE_NODE_UNREACHABLE      39
#define RSMERR_CONN_ABORTED                 40
#define RSMERR_INTERRUPTED                  41
#define RSMERR_TIMEOUT                      42
#define RSMERR_BAD_APPID                    43
#define RSMERR_BAD_CONF                     44
#define RSMERR_SEG_NOT_CONNECTED            45

/* RSMPI (driver interface) errors; a few of them, notably
 * RSMERR_BAD_ARGS_ERRORS and RSMERR_BAD_DRIVER_VERSION, reach applications. */
#define RSMERR_INTERNAL_ERROR               100
#define RSMERR_BAD_DRIVER_VERSION           101
#define RSMERR_UNSUPPORTED_VERSION          102
#define RSMERR_DRIVER_NAME_IN_USE           103
#define RSMERR_DRIVER_NOT_REGISTERED        104
#define RSMERR_DRIVER_THREAD_RUNNING        105
#define RSMERR_NEED_THREAD_INIT             106
#define RSMERR_THREAD_NOT_INITED            107
#define RSMERR_CTLRS_REGISTERED             108
#define RSMERR_CTLR_NOT_REGISTERED          109
#define RSMERR_CTLR_ALREADY_REGISTERED      110
#define RSMERR_CTLR_IN_USE                  111
#define RSMERR_NAME_TOO_LONG                112
#define RSMERR_SEG_PUBLISHED                113
#define RSMERR_SEG_NOT_PUBLISHED_TO_RSM_ADDR 114
#define RSMERR_SEG_IN_USE                   115
#define RSMERR_BAD_SENDQ_HNDL               116
#define RSMERR_BAD_ARGS_ERRORS              117
#define RSMERR_BAD_MSTYPE                   118
#define RSMERR_NO_BACKING_MEM               119
#define RSMERR_NOT_MEM                      120
#define RSMERR_MEM_ALREADY_BOUND            121
#define RSMERR_MEM_NOT_BOUND                122
#define RSMERR_HANDLER_NOT_REGISTERED       123
#define RSMERR_NO_HANDLER                   124
#define RSMERR_UNBIND_REBIND_NOT_ALLOWED    125
#define RSMERR_CALLBACKS_NOT_SUPPORTED      126
#define RSMERR_UNSUPPORTED_OPERATION        127
#define RSMERR_RSM_ADDR_UNREACHABLE         128
#define RSMERR_UNKNOWN_RSM_ADDR             129
#define RSMERR_BAD_BARRIER_HNDL             130
#define RSMERR_COMM_ERR_MAYBE_DELIVERED     131
#define RSMERR_COMM_ERR_NOT_DELIVERED       132
#define RSMERR_QUEUE_FENCE_UP               133
#define RSMERR_QUEUE_FULL                   134


/* ==========================================================================
 * Segment ids
 *
 * A segment id is unique per exporting node. Publishing with id 0 makes the
 * system assign one from the RSM_USER_APP_ID range. Applications may choose
 * ids from 0x400000 up to 0x7FFFFFFF (HPC, OPS and the unnamed range
 * 0x600000-0x7FFFFFFF, reserved per application in /etc/rsm/rsm.segmentid);
 * the ranges below 0x400000 are reserved (RSMERR_RESERVED_SEGID).
 * ========================================================================== */
#define RSM_DRIVER_PRIVATE_ID_BASE      0
#define RSM_DRIVER_PRIVATE_ID_END       0x0FFFFF
#define RSM_CLUSTER_TRANSPORT_ID_BASE   0x100000
#define RSM_CLUSTER_TRANSPORT_ID_END    0x1FFFFF
#define RSM_RSMLIB_ID_BASE              0x200000
#define RSM_RSMLIB_ID_END               0x2FFFFF
#define RSM_DLPI_ID_BASE                0x300000
#define RSM_DLPI_ID_END                 0x3FFFFF
#define RSM_HPC_ID_BASE                 0x400000
#define RSM_HPC_ID_END                  0x4FFFFF
#define RSM_OPS_ID_BASE                 0x500000
#define RSM_OPS_ID_END                  0x5FFFFF
#define RSM_USER_APP_ID_BASE            0x80000000
#define RSM_USER_APP_ID_END             0xFFFFFFFF


/* ==========================================================================
 * Permissions, flags and limits
 * ========================================================================== */

/* Access rights (octal, owner/group/other like file modes): requested at
 * connect and map, granted per node in access lists. */
#define RSM_PERM_NONE   0
#define RSM_PERM_READ   0400
#define RSM_PERM_WRITE  0200
#define RSM_PERM_RDWR   (RSM_PERM_READ|RSM_PERM_WRITE)

/* rsm_memseg_export_create flags */
#define RSM_ALLOW_REBIND        0x01  /* rebind allowed for the segment's life */
#define RSM_CREATE_SEG_DONTWAIT 0x02  /* fail rather than wait for resources */

/* rsm_scat_gath_t.flags; rsm_intr_signal_post flags */
#define RSM_IMPLICIT_SIGPOST      0x01  /* signal the exporter after putv/getv */
#define RSM_SIGPOST_NO_ACCUMULATE 0x02  /* do not queue if an event is pending */

/* rsm_iovec_t.io_type */
#define RSM_HANDLE_TYPE 0x01  /* local.handle is a local memory handle */
#define RSM_VA_TYPE     0x02  /* local.vaddr is a virtual address */

/* Largest rsm_scat_gath_t.io_request_count */
#define RSM_MAX_SGIOREQS 16

/* rsm_remote_cntlr_t.connection_state of a usable connection */
#define RSM_CONNECTION_ACTIVE 3


/* ==========================================================================
 * Scalar and handle types
 * ========================================================================== */
typedef uint64_t rsm_addr_t;        /* controller hardware address */
typedef uint32_t rsm_node_id_t;     /* cluster node id */
typedef uint32_t rsm_memseg_id_t;   /* segment id, unique per exporting node */
typedef uint32_t rsm_permission_t;  /* RSM_PERM_* mode bits */

struct __rsm_memseg_import_handle;
typedef struct __rsm_memseg_import_handle *rsm_memseg_import_handle_t;

struct __rsm_memseg_export_handle;
typedef struct __rsm_memseg_export_handle *rsm_memseg_export_handle_t;

struct __rsm_localmemory_handle;
typedef struct __rsm_localmemory_handle *rsm_localmemory_handle_t;

struct __rsmapi_controller_handle;
typedef struct __rsmapi_controller_handle *rsmapi_controller_handle_t;


/* ==========================================================================
 * Enumerations
 * ========================================================================== */

/* Bits of attr_direct_access_sizes / attr_atomic_sizes */
typedef enum {
    RSM_DAS8  = 1,
    RSM_DAS16 = 2,
    RSM_DAS32 = 4,
    RSM_DAS64 = 8
} rsm_access_size_t;

/* rsm_memseg_import_init_barrier: scope of a barrier (the type is accepted
 * but not acted upon; all types behave as RSM_BARRIER_SEGMENT). */
typedef enum {
    RSM_BARRIER_SEGMENT        = 0x01,
    RSM_BARRIER_NODE           = 0x02,
    RSM_BARRIER_SEGMENT_THREAD = 0x11,
    RSM_BARRIER_NODE_THREAD    = 0x12
} rsm_barrier_type_t;

/* Barrier mode of an import segment: IMPLICIT (the default after connect)
 * wraps every get/put in a barrier; EXPLICIT leaves it to the program. */
typedef enum {
    RSM_BARRIER_MODE_EXPLICIT = 0,
    RSM_BARRIER_MODE_IMPLICIT = 1
} rsm_barrier_mode_t;

/* rsm_memseg_import_map placement */
typedef enum {
    RSM_MAP_NONE     = 0x0,  /* the system chooses the address */
    RSM_MAP_FIXED    = 0x1,  /* map at *address (page aligned) */
    RSM_MAP_RESERVED = 0x2   /* reserved, ignored */
} rsm_attribute_t;


/* ==========================================================================
 * Structures
 * ========================================================================== */

/* Controller attributes (rsm_get_controller_attr) */
typedef struct {
    uint_t  attr_direct_access_sizes;      /* RSM_DAS* bits */
    uint_t  attr_atomic_sizes;             /* RSM_DAS* bits */
    size_t  attr_page_size;
    size_t  attr_max_export_segment_size;  /* 0: no limit */
    size_t  attr_tot_export_segment_size;
    ulong_t attr_max_export_segments;
    size_t  attr_max_import_map_size;
    size_t  attr_tot_import_map_size;
    ulong_t attr_max_import_segments;
} rsmapi_controller_attr_t;

/* One entry of a publish access list */
typedef struct {
    rsm_node_id_t    ae_node;        /* node allowed to connect */
    rsm_permission_t ae_permission;  /* its rights, an octal mode <= 0666 */
} rsmapi_access_entry_t;

/* Barrier: allocated by the program, initialised and owned by the library */
typedef struct {
    void     *seg;       /* import segment */
    uint16_t  gnum;      /* connection generation at open */
    void     *privdata;  /* implementation data */
} rsmapi_barrier_t;

/* One transfer of a putv/getv request */
typedef struct {
    int io_type;                           /* RSM_HANDLE_TYPE or RSM_VA_TYPE */
    union {
        rsm_localmemory_handle_t handle;
        caddr_t                  vaddr;
    } local;
    size_t local_offset;                   /* into the local memory */
    size_t remote_offset;                  /* into the import segment */
    size_t transfer_length;                /* bytes */
} rsm_iovec_t;

/* A putv/getv request: up to RSM_MAX_SGIOREQS transfers to/from one
 * import segment */
typedef struct {
    rsm_node_id_t              local_nodeid;       /* informational */
    ulong_t                    io_request_count;   /* entries in iovec */
    ulong_t                    io_residual_count;  /* out: entries not done */
    uint_t                     flags;              /* RSM_IMPLICIT_SIGPOST ... */
    rsm_memseg_import_handle_t remote_handle;
    rsm_iovec_t               *iovec;
} rsm_scat_gath_t;

/* Driver-level barrier object of <sys/rsm/rsm_common.h> (RSMPI); not used by
 * any RSMAPI function, provided for programs that name it. */
typedef union {
    uint64_t u64;
    int64_t  i64;
    uint32_t u32[2];
    int32_t  i32[2];
    uint16_t u16[4];
    int16_t  i16[4];
    uint8_t  u8[8];
    int8_t   i8[8];
    uchar_t  uc[8];
    char     c[8];
    void    *vp;
} rsm_barrier_component_t;

typedef struct {
    rsm_barrier_component_t comp[4];
} rsm_barrier_t;

/*
 * Interconnect topology (rsm_get_interconnect_topology). The result is one
 * allocated block: the header, then local_cntlr_count pointers to the
 * per-controller records, each followed by its remote_cntlr_count remote
 * controllers. The [1] arrays are really that long.
 */
typedef struct rsm_topology_hdr {
    rsm_node_id_t local_nodeid;
    uint_t        local_cntlr_count;
} rsm_topology_hdr_t;

typedef struct rsm_connections_hdr {
    char       cntlr_name[RSMAPI_MAXNAMELEN];  /* "<type><unit>", e.g. "sci0" */
    rsm_addr_t local_hwaddr;
    int        remote_cntlr_count;
} rsm_connections_hdr_t;

typedef struct rsm_remote_cntlr {
    rsm_node_id_t remote_nodeid;
    char          remote_cntlrname[RSMAPI_MAXNAMELEN];
    rsm_addr_t    remote_hwaddr;
    uint_t        connection_state;  /* use only if RSM_CONNECTION_ACTIVE */
} rsm_remote_cntlr_t;

typedef struct rsm_connection {
    rsm_connections_hdr_t hdr;
    rsm_remote_cntlr_t    remote_cntlr[1];  /* [hdr.remote_cntlr_count] */
} rsm_connections_t;

typedef struct rsm_topology {
    rsm_topology_hdr_t topology_hdr;
    rsm_connections_t *connections[1];  /* [topology_hdr.local_cntlr_count] */
} rsm_topology_t;


/* ==========================================================================
 * Functions
 * ========================================================================== */

/* --- controllers ---------------------------------------------------------- */

/* Opens controller `name` ("<type><unit>"; NULL or "loopback" = the local
 * loopback controller); handles are reference counted per name.
 * RSMERR_CTLR_NOT_PRESENT, RSMERR_BAD_CTLR_HNDL (NULL out pointer),
 * RSMERR_BAD_LIBRARY_VERSION. */
RSMAPI_API int rsm_get_controller(char *name,
                                  rsmapi_controller_handle_t *controller);

/* Copies the controller's attributes to *attr.
 * RSMERR_BAD_CTLR_HNDL, RSMERR_BAD_ADDR (attr NULL), RSMERR_CTLR_NOT_PRESENT. */
RSMAPI_API int rsm_get_controller_attr(rsmapi_controller_handle_t chdl,
                                       rsmapi_controller_attr_t *attr);

/* Drops one reference taken by rsm_get_controller.
 * RSMERR_BAD_CTLR_HNDL (NULL or already fully released). */
RSMAPI_API int rsm_release_controller(rsmapi_controller_handle_t controller);

/* --- topology and administration ------------------------------------------ */

/* Returns the interconnect topology as one allocated block in *topology_data;
 * free it with rsm_free_interconnect_topology.
 * RSMERR_BAD_TOPOLOGY_PTR (NULL), RSMERR_INSUFFICIENT_MEM, RSMERR_BAD_ADDR. */
RSMAPI_API int rsm_get_interconnect_topology(rsm_topology_t **topology_data);

/* Frees a block returned by rsm_get_interconnect_topology. */
RSMAPI_API void rsm_free_interconnect_topology(rsm_topology_t *topology_data);

/* Looks up the segment ids reserved for `appid` in /etc/rsm/rsm.segmentid:
 * the application may use [*baseid, *baseid + *length).
 * RSMERR_BAD_ADDR (NULL argument), RSMERR_BAD_CONF, RSMERR_BAD_APPID. */
RSMAPI_API int rsm_get_segmentid_range(const char *appid,
                                       rsm_memseg_id_t *baseid,
                                       uint32_t *length);

/* --- export side ----------------------------------------------------------- */

/* Creates an export segment over [vaddr, vaddr + size) (both page aligned),
 * locking the memory; flags: RSM_ALLOW_REBIND, RSM_CREATE_SEG_DONTWAIT.
 * RSMERR_BAD_MEM_ALIGNMENT, RSMERR_BAD_ADDR, RSMERR_BAD_LENGTH,
 * RSMERR_BAD_SEG_HNDL, RSMERR_INSUFFICIENT_MEM / _RESOURCES. */
RSMAPI_API int rsm_memseg_export_create(rsmapi_controller_handle_t controller,
                                        rsm_memseg_export_handle_t *memseg,
                                        void *vaddr, size_t size, uint_t flags);

/* Destroys an export segment, unpublishing it first (importers are forcibly
 * disconnected). RSMERR_BAD_SEG_HNDL, RSMERR_POLLFD_IN_USE. */
RSMAPI_API int rsm_memseg_export_destroy(rsm_memseg_export_handle_t memseg);

/* Replaces the segment's memory by [vaddr, vaddr + size) (same size; `off`
 * is ignored), transparently to importers. RSMERR_REBIND_NOT_ALLOWED,
 * RSMERR_NOT_CREATOR, RSMERR_BAD_LENGTH, RSMERR_BAD_ADDR, RSMERR_BAD_SEG_HNDL. */
RSMAPI_API int rsm_memseg_export_rebind(rsm_memseg_export_handle_t memseg,
                                        void *vaddr, offset_t off,
                                        size_t size);

/* Makes the segment importable under *segment_id (0 in: an id is assigned
 * and written back) for the nodes of access_list (NULL/0: all nodes).
 * RSMERR_SEG_ALREADY_PUBLISHED, RSMERR_RESERVED_SEGID, RSMERR_SEGID_IN_USE,
 * RSMERR_BAD_SEGID, RSMERR_BAD_ACL, RSMERR_NOT_CREATOR. */
RSMAPI_API int rsm_memseg_export_publish(rsm_memseg_export_handle_t memseg,
                                         rsm_memseg_id_t *segment_id,
                                         rsmapi_access_entry_t access_list[],
                                         uint_t access_list_length);

/* Withdraws the segment id; importers are forcibly disconnected (their next
 * barrier close fails with RSMERR_CONN_ABORTED). RSMERR_SEG_NOT_PUBLISHED,
 * RSMERR_NOT_CREATOR, RSMERR_BAD_SEG_HNDL. */
RSMAPI_API int rsm_memseg_export_unpublish(rsm_memseg_export_handle_t memseg);

/* Replaces the access list of a published segment; affects later connects
 * only. RSMERR_SEG_NOT_PUBLISHED, RSMERR_BAD_ACL, RSMERR_NOT_CREATOR. */
RSMAPI_API int rsm_memseg_export_republish(rsm_memseg_export_handle_t memseg,
                                           rsmapi_access_entry_t access_list[],
                                           uint_t access_list_length);

/* --- import side: connection ----------------------------------------------- */

/* Connects to segment `segment_id` of node `node_id` with rights `perm`
 * (subset of RSM_PERM_RDWR); the new handle is in IMPLICIT barrier mode.
 * RSMERR_SEG_NOT_PUBLISHED(_TO_NODE), RSMERR_PERM_DENIED,
 * RSMERR_REMOTE_NODE_UNREACHABLE, RSMERR_CTLR_NOT_PRESENT. */
RSMAPI_API int rsm_memseg_import_connect(rsmapi_controller_handle_t controller,
                                         rsm_node_id_t node_id,
                                         rsm_memseg_id_t segment_id,
                                         rsm_permission_t perm,
                                         rsm_memseg_import_handle_t *im_memseg);

/* Disconnects and frees the import handle.
 * RSMERR_SEG_STILL_MAPPED, RSMERR_POLLFD_IN_USE, RSMERR_BAD_SEG_HNDL. */
RSMAPI_API int rsm_memseg_import_disconnect(rsm_memseg_import_handle_t im_memseg);

/* --- import side: reads ---------------------------------------------------- */

/* rsm_memseg_import_get8/16/32/64: read rep_cnt elements of N bits at
 * `offset` into datap, one N-bit access each; offset and datap must be
 * N/8-aligned (RSMERR_BAD_MEM_ALIGNMENT). Also RSMERR_PERM_DENIED (no READ),
 * RSMERR_BAD_OFFSET / _LENGTH, RSMERR_CONN_ABORTED, RSMERR_BARRIER_FAILURE.
 * IMPLICIT mode needs no init_barrier: each transfer is complete when it
 * returns (docs/rsm.md, quirk 1). */
RSMAPI_API int rsm_memseg_import_get8(rsm_memseg_import_handle_t im_memseg,
                                      off_t offset, uint8_t *datap,
                                      ulong_t rep_cnt);
RSMAPI_API int rsm_memseg_import_get16(rsm_memseg_import_handle_t im_memseg,
                                       off_t offset, uint16_t *datap,
                                       ulong_t rep_cnt);
RSMAPI_API int rsm_memseg_import_get32(rsm_memseg_import_handle_t im_memseg,
                                       off_t offset, uint32_t *datap,
                                       ulong_t rep_cnt);
RSMAPI_API int rsm_memseg_import_get64(rsm_memseg_import_handle_t im_memseg,
                                       off_t offset, uint64_t *datap,
                                       ulong_t rep_cnt);

/* Reads `length` bytes at `offset` into dst_addr; errors as for getN. */
RSMAPI_API int rsm_memseg_import_get(rsm_memseg_import_handle_t im_memseg,
                                     off_t offset, void *dst_addr,
                                     size_t length);

/* Scatters 1..RSM_MAX_SGIOREQS pieces of the segment into local memory;
 * io_residual_count = entries not completed. RSMERR_BAD_SGIO,
 * RSMERR_BAD_SEG_HNDL, RSMERR_PERM_DENIED, RSMERR_BARRIER_FAILURE. */
RSMAPI_API int rsm_memseg_import_getv(rsm_scat_gath_t *sg_io);

/* --- import side: writes --------------------------------------------------- */

/* rsm_memseg_import_put8/16/32/64: write rep_cnt elements of N bits from
 * datap at `offset`; alignment and errors as for getN (PERM_DENIED without
 * WRITE). */
RSMAPI_API int rsm_memseg_import_put8(rsm_memseg_import_handle_t im_memseg,
                                      off_t offset, uint8_t *datap,
                                      ulong_t rep_cnt);
RSMAPI_API int rsm_memseg_import_put16(rsm_memseg_import_handle_t im_memseg,
                                       off_t offset, uint16_t *datap,
                                       ulong_t rep_cnt);
RSMAPI_API int rsm_memseg_import_put32(rsm_memseg_import_handle_t im_memseg,
                                       off_t offset, uint32_t *datap,
                                       ulong_t rep_cnt);
RSMAPI_API int rsm_memseg_import_put64(rsm_memseg_import_handle_t im_memseg,
                                       off_t offset, uint64_t *datap,
                                       ulong_t rep_cnt);

/* Writes `length` bytes from src_addr at `offset`; errors as for putN. */
RSMAPI_API int rsm_memseg_import_put(rsm_memseg_import_handle_t im_memseg,
                                     off_t offset, void *src_addr,
                                     size_t length);

/* Gathers 1..RSM_MAX_SGIOREQS pieces of local memory into the segment;
 * RSM_IMPLICIT_SIGPOST signals the exporter once at the end. Errors as
 * for getv. */
RSMAPI_API int rsm_memseg_import_putv(rsm_scat_gath_t *sg_io);

/* --- import side: mapping -------------------------------------------------- */

/* Maps [offset, offset + length) of the segment (offset page aligned) with
 * rights `perm`; *address receives the address (RSM_MAP_FIXED: placed at
 * *address). One mapping per handle. RSMERR_SEG_ALREADY_MAPPED,
 * RSMERR_BAD_PERMS, RSMERR_BAD_LENGTH, RSMERR_BAD_MEM_ALIGNMENT,
 * RSMERR_MAP_FAILED (interconnect cannot map), RSMERR_CONN_ABORTED. */
RSMAPI_API int rsm_memseg_import_map(rsm_memseg_import_handle_t im_memseg,
                                     void **address, rsm_attribute_t attr,
                                     rsm_permission_t perm, off_t offset,
                                     size_t length);

/* Removes the mapping. RSMERR_SEG_NOT_MAPPED, RSMERR_BAD_SEG_HNDL. */
RSMAPI_API int rsm_memseg_import_unmap(rsm_memseg_import_handle_t im_memseg);

/* --- import side: barriers and mode ---------------------------------------- */

/* Binds *barrier to the segment (it also becomes the segment's IMPLICIT-mode
 * barrier); needed for open/close/order_barrier, not for get/put in
 * IMPLICIT mode (Solaris's librsm refuses those without one; ucx_cpg does
 * not). `type` is advisory.
 * RSMERR_BAD_SEG_HNDL, RSMERR_BAD_BARRIER_PTR, RSMERR_INSUFFICIENT_MEM. */
RSMAPI_API int rsm_memseg_import_init_barrier(rsm_memseg_import_handle_t im_memseg,
                                              rsm_barrier_type_t type,
                                              rsmapi_barrier_t *barrier);

/* Starts an access span. RSMERR_BAD_BARRIER_PTR,
 * RSMERR_BARRIER_UNINITIALIZED, RSMERR_BARRIER_OPEN_FAILED. */
RSMAPI_API int rsm_memseg_import_open_barrier(rsmapi_barrier_t *barrier);

/* Ends the span: success means every access since open completed.
 * RSMERR_BARRIER_FAILURE (retry the span), RSMERR_CONN_ABORTED (sticky:
 * reconnect), RSMERR_BARRIER_UNINITIALIZED, RSMERR_BAD_BARRIER_PTR. */
RSMAPI_API int rsm_memseg_import_close_barrier(rsmapi_barrier_t *barrier);

/* Orders writes: those before complete before those after, without ending
 * the span. RSMERR_BARRIER_FAILURE, RSMERR_BARRIER_UNINITIALIZED. */
RSMAPI_API int rsm_memseg_import_order_barrier(rsmapi_barrier_t *barrier);

/* Releases the barrier's resources.
 * RSMERR_BAD_BARRIER_PTR, RSMERR_BARRIER_UNINITIALIZED. */
RSMAPI_API int rsm_memseg_import_destroy_barrier(rsmapi_barrier_t *barrier);

/* Returns the segment's barrier mode in *mode. RSMERR_BAD_SEG_HNDL. */
RSMAPI_API int rsm_memseg_import_get_mode(rsm_memseg_import_handle_t im_memseg,
                                          rsm_barrier_mode_t *mode);

/* Sets the barrier mode (RSM_BARRIER_MODE_EXPLICIT or _IMPLICIT).
 * RSMERR_BAD_SEG_HNDL, RSMERR_BAD_MODE. */
RSMAPI_API int rsm_memseg_import_set_mode(rsm_memseg_import_handle_t im_memseg,
                                          rsm_barrier_mode_t mode);

/* --- events (memseg: an import OR an export handle) ------------------------- */

/* Posts one event: import handle -> the exporter; export handle -> every
 * importer. flags: 0 or RSM_SIGPOST_NO_ACCUMULATE. RSMERR_BAD_SEG_HNDL,
 * RSMERR_CONN_ABORTED, RSMERR_REMOTE_NODE_UNREACHABLE. */
RSMAPI_API int rsm_intr_signal_post(void *memseg, uint_t flags);

/* Waits for and consumes one event; timeout in ms (-1 forever, 0 poll).
 * RSMERR_TIMEOUT, RSMERR_INTERRUPTED, RSMERR_BAD_SEG_HNDL,
 * RSMERR_BAD_ARGS_ERRORS; RSMERR_CONN_ABORTED on an import whose exporter
 * withdrew the segment or died (within 0.1 s, also with -1). */
RSMAPI_API int rsm_intr_signal_wait(void *memseg, int timeout);

/* Fills *poll_fd for use with rsm_intr_signal_wait_pollfd (not plain poll);
 * counted, release with rsm_memseg_release_pollfd. RSMERR_BAD_SEG_HNDL. */
RSMAPI_API int rsm_memseg_get_pollfd(void *memseg, struct pollfd *poll_fd);

/* Releases one rsm_memseg_get_pollfd reference. RSMERR_BAD_SEG_HNDL. */
RSMAPI_API int rsm_memseg_release_pollfd(void *memseg);

/* poll() over RSM pollfds and ordinary fds, consuming one event per RSM fd
 * that fired; *numfdsp (may be NULL) = fds with events. RSMERR_TIMEOUT,
 * RSMERR_INTERRUPTED, RSMERR_BAD_ADDR, RSMERR_BAD_ARGS_ERRORS. */
RSMAPI_API int rsm_intr_signal_wait_pollfd(struct pollfd fds[], nfds_t nfds,
                                           int timeout, int *numfdsp);

/* --- local memory handles (for putv/getv) ---------------------------------- */

/* Registers [local_vaddr, local_vaddr + length) (page aligned) for use as
 * RSM_HANDLE_TYPE entries. RSMERR_BAD_CTLR_HNDL, RSMERR_BAD_LOCALMEM_HNDL,
 * RSMERR_BAD_ADDR, RSMERR_BAD_LENGTH, RSMERR_INSUFFICIENT_MEM. */
RSMAPI_API int rsm_create_localmemory_handle(rsmapi_controller_handle_t controller,
                                             rsm_localmemory_handle_t *l_handle,
                                             caddr_t local_vaddr, size_t length);

/* Releases a local memory handle.
 * RSMERR_BAD_CTLR_HNDL, RSMERR_BAD_LOCALMEM_HNDL. */
RSMAPI_API int rsm_free_localmemory_handle(rsmapi_controller_handle_t controller,
                                           rsm_localmemory_handle_t l_handle);

#ifdef __cplusplus
}
#endif

#endif /* UCX_CPG_RSMAPI_H */
