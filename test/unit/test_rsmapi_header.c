/*
 * test_rsmapi_header.c - conformance of include/rsmapi.h to the RSMAPI
 * fact sheet (rsmapi.md, sections 1 and 2).
 *
 * Every expected value and type below is typed from the reference, not
 * derived from the header, so a wrong header cannot agree with itself:
 *   - each constant, enum value and RSMERR_* code: _Static_assert at compile
 *     time and a name/value table at run time;
 *   - the Solaris scalar types and RSMAPI typedefs: _Generic type checks;
 *   - every struct field: presence and type (compile time), reference order
 *     (offsetof, run time), array lengths, and the LP64 sizes of Solaris amd64;
 *   - each of the 42 functions: redeclared here from the reference with
 *     __attribute__((weak)) (a different type is a "conflicting types"
 *     error), checked with _Generic, and assigned to a pointer of the exact
 *     function-pointer type. Weak references need no definition, so the test
 *     links without any implementation (the pointers are then NULL);
 *   - the header compiles as C99/C11/C17/gnu11 with -pedantic -Werror and as
 *     C++11/17 (g++ -fsyntax-only -x c++), is idempotent, and the Solaris-
 *     style example contrib/examples/rsm_solaris_compile_check.c compiles:
 *     these run the compilers ($CC, default cc; $CXX, default c++) and are
 *     skipped when a compiler or the source tree is not found.
 *
 * The header is included first, before anything else, so the file also
 * proves that it is self-contained. Nothing here defines _GNU_SOURCE: the
 * -std=c11 build exercises the header's own caddr_t declaration.
 */
#include <rsmapi.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>


/* ==========================================================================
 * Constants (reference section 2.2, 2.4, 2.5, 2.6, 2.3)
 * ========================================================================== */

/* RSM_SUCCESS and the RSMAPI error codes: 0 and 1..45 */
#define RSMAPI_ERRORS(X)                            \
    X(RSM_SUCCESS,                          0)      \
    X(RSMERR_BAD_LIBRARY_VERSION,           1)      \
    X(RSMERR_BAD_TOPOLOGY_PTR,              2)      \
    X(RSMERR_BAD_CTLR_HNDL,                 3)      \
    X(RSMERR_CTLR_NOT_PRESENT,              4)      \
    X(RSMERR_BAD_SEG_HNDL,                  5)      \
    X(RSMERR_SEG_ALREADY_PUBLISHED,         6)      \
    X(RSMERR_SEG_NOT_PUBLISHED,             7)      \
    X(RSMERR_SEG_NOT_PUBLISHED_TO_NODE,     8)      \
    X(RSMERR_SEG_ALREADY_MAPPED,            9)      \
    X(RSMERR_SEG_STILL_MAPPED,              10)     \
    X(RSMERR_SEG_NOT_MAPPED,                11)     \
    X(RSMERR_NOT_CREATOR,                   12)     \
    X(RSMERR_BAD_BARRIER_PTR,               13)     \
    X(RSMERR_BAD_SGIO,                      14)     \
    X(RSMERR_BAD_LOCALMEM_HNDL,             15)     \
    X(RSMERR_BAD_ADDR,                      16)     \
    X(RSMERR_BAD_MEM_ALIGNMENT,             17)     \
    X(RSMERR_BAD_OFFSET,                    18)     \
    X(RSMERR_MISALIGNED_OFFSET,             19)     \
    X(RSMERR_BAD_LENGTH,                    20)     \
    X(RSMERR_BAD_ACL,                       21)     \
    X(RSMERR_BAD_SEGID,                     22)     \
    X(RSMERR_RESERVED_SEGID,                23)     \
    X(RSMERR_SEGID_IN_USE,                  24)     \
    X(RSMERR_BAD_MODE,                      25)     \
    X(RSMERR_BAD_PERMS,                     26)     \
    X(RSMERR_PERM_DENIED,                   27)     \
    X(RSMERR_LOCKS_NOT_SUPPORTED,           28)     \
    X(RSMERR_LOCKS_NOT_ENABLED,             29)     \
    X(RSMERR_REBIND_NOT_ALLOWED,            30)     \
    X(RSMERR_INSUFFICIENT_RESOURCES,        31)     \
    X(RSMERR_INSUFFICIENT_MEM,              32)     \
    X(RSMERR_MAP_FAILED,                    33)     \
    X(RSMERR_POLLFD_IN_USE,                 34)     \
    X(RSMERR_BARRIER_UNINITIALIZED,         35)     \
    X(RSMERR_BARRIER_OPEN_FAILED,           36)     \
    X(RSMERR_BARRIER_NOT_OPENED,            37)     \
    X(RSMERR_BARRIER_FAILURE,               38)     \
    X(RSMERR_REMOTE_NODE_UNREACHABLE,       39)     \
    X(RSMERR_CONN_ABORTED,                  40)     \
    X(RSMERR_INTERRUPTED,                   41)     \
    X(RSMERR_TIMEOUT,                       42)     \
    X(RSMERR_BAD_APPID,                     43)     \
    X(RSMERR_BAD_CONF,                      44)     \
    X(RSMERR_SEG_NOT_CONNECTED,             45)

/* RSMPI error codes: 100..134 */
#define RSMPI_ERRORS(X)                             \
    X(RSMERR_INTERNAL_ERROR,                100)    \
    X(RSMERR_BAD_DRIVER_VERSION,            101)    \
    X(RSMERR_UNSUPPORTED_VERSION,           102)    \
    X(RSMERR_DRIVER_NAME_IN_USE,            103)    \
    X(RSMERR_DRIVER_NOT_REGISTERED,         104)    \
    X(RSMERR_DRIVER_THREAD_RUNNING,         105)    \
    X(RSMERR_NEED_THREAD_INIT,              106)    \
    X(RSMERR_THREAD_NOT_INITED,             107)    \
    X(RSMERR_CTLRS_REGISTERED,              108)    \
    X(RSMERR_CTLR_NOT_REGISTERED,           109)    \
    X(RSMERR_CTLR_ALREADY_REGISTERED,       110)    \
    X(RSMERR_CTLR_IN_USE,                   111)    \
    X(RSMERR_NAME_TOO_LONG,                 112)    \
    X(RSMERR_SEG_PUBLISHED,                 113)    \
    X(RSMERR_SEG_NOT_PUBLISHED_TO_RSM_ADDR, 114)    \
    X(RSMERR_SEG_IN_USE,                    115)    \
    X(RSMERR_BAD_SENDQ_HNDL,                116)    \
    X(RSMERR_BAD_ARGS_ERRORS,               117)    \
    X(RSMERR_BAD_MSTYPE,                    118)    \
    X(RSMERR_NO_BACKING_MEM,                119)    \
    X(RSMERR_NOT_MEM,                       120)    \
    X(RSMERR_MEM_ALREADY_BOUND,             121)    \
    X(RSMERR_MEM_NOT_BOUND,                 122)    \
    X(RSMERR_HANDLER_NOT_REGISTERED,        123)    \
    X(RSMERR_NO_HANDLER,                    124)    \
    X(RSMERR_UNBIND_REBIND_NOT_ALLOWED,     125)    \
    X(RSMERR_CALLBACKS_NOT_SUPPORTED,       126)    \
    X(RSMERR_UNSUPPORTED_OPERATION,         127)    \
    X(RSMERR_RSM_ADDR_UNREACHABLE,          128)    \
    X(RSMERR_UNKNOWN_RSM_ADDR,              129)    \
    X(RSMERR_BAD_BARRIER_HNDL,              130)    \
    X(RSMERR_COMM_ERR_MAYBE_DELIVERED,      131)    \
    X(RSMERR_COMM_ERR_NOT_DELIVERED,        132)    \
    X(RSMERR_QUEUE_FENCE_UP,                133)    \
    X(RSMERR_QUEUE_FULL,                    134)

/* Segment-id ranges (2.5) */
#define RSMAPI_SEGID_RANGES(X)                      \
    X(RSM_DRIVER_PRIVATE_ID_BASE,           0x000000)   \
    X(RSM_DRIVER_PRIVATE_ID_END,            0x0FFFFF)   \
    X(RSM_CLUSTER_TRANSPORT_ID_BASE,        0x100000)   \
    X(RSM_CLUSTER_TRANSPORT_ID_END,         0x1FFFFF)   \
    X(RSM_RSMLIB_ID_BASE,                   0x200000)   \
    X(RSM_RSMLIB_ID_END,                    0x2FFFFF)   \
    X(RSM_DLPI_ID_BASE,                     0x300000)   \
    X(RSM_DLPI_ID_END,                      0x3FFFFF)   \
    X(RSM_HPC_ID_BASE,                      0x400000)   \
    X(RSM_HPC_ID_END,                       0x4FFFFF)   \
    X(RSM_OPS_ID_BASE,                      0x500000)   \
    X(RSM_OPS_ID_END,                       0x5FFFFF)   \
    X(RSM_USER_APP_ID_BASE,                 0x80000000) \
    X(RSM_USER_APP_ID_END,                  0xFFFFFFFF)

/* Permissions, flags, limits, enum values and RSM_VERSION (2.2, 2.3, 2.6) */
#define RSMAPI_OTHER_CONSTANTS(X)                   \
    X(RSM_VERSION,                          5)      \
    X(RSM_PERM_NONE,                        0)      \
    X(RSM_PERM_READ,                        0400)   \
    X(RSM_PERM_WRITE,                       0200)   \
    X(RSM_PERM_RDWR,                        0600)   \
    X(RSM_ALLOW_REBIND,                     0x01)   \
    X(RSM_CREATE_SEG_DONTWAIT,              0x02)   \
    X(RSM_IMPLICIT_SIGPOST,                 0x01)   \
    X(RSM_SIGPOST_NO_ACCUMULATE,            0x02)   \
    X(RSM_HANDLE_TYPE,                      0x01)   \
    X(RSM_VA_TYPE,                          0x02)   \
    X(RSM_MAX_SGIOREQS,                     16)     \
    X(RSM_CONNECTION_ACTIVE,                3)      \
    X(RSM_MAP_NONE,                         0)      \
    X(RSM_MAP_FIXED,                        1)      \
    X(RSM_MAP_RESERVED,                     2)      \
    X(RSM_BARRIER_MODE_EXPLICIT,            0)      \
    X(RSM_BARRIER_MODE_IMPLICIT,            1)      \
    X(RSM_BARRIER_SEGMENT,                  0x01)   \
    X(RSM_BARRIER_NODE,                     0x02)   \
    X(RSM_BARRIER_SEGMENT_THREAD,           0x11)   \
    X(RSM_BARRIER_NODE_THREAD,              0x12)   \
    X(RSM_DAS8,                             1)      \
    X(RSM_DAS16,                            2)      \
    X(RSM_DAS32,                            4)      \
    X(RSM_DAS64,                            8)

#define ALL_CONSTANTS(X) \
    RSMAPI_ERRORS(X) RSMPI_ERRORS(X) RSMAPI_SEGID_RANGES(X) RSMAPI_OTHER_CONSTANTS(X)

/* Compile time: every value. */
#define STATIC_CHECK_VALUE(name, expected) \
    _Static_assert((long long)(name) == (long long)(expected), #name " == " #expected);
ALL_CONSTANTS(STATIC_CHECK_VALUE)

/* Error codes are ints. */
#define STATIC_CHECK_INT(name, expected) \
    _Static_assert(_Generic((name), int: 1, default: 0), #name " is an int");
RSMAPI_ERRORS(STATIC_CHECK_INT)
RSMPI_ERRORS(STATIC_CHECK_INT)

/* Every constant of the header not in the reference would be an invention:
 * the header scan below checks against this list, plus the ucx_cpg
 * extensions and Solaris compatibility macros. */
static const char *const extension_macros[] = {
    "MAXNAMELEN", "PAGESIZE", "PAGEOFFSET", "PAGEMASK", "UCX_CPG_RSMAPI_H", "UCX_CPG_RSMAPI",
};

typedef struct {
    const char *name;
    long long   value;     /* as defined by the header */
    long long   expected;  /* as typed from the reference */
} constant_t;

#define TABLE_ROW(name, expected) { #name, (long long)(name), (long long)(expected) },
static const constant_t error_table[] = { RSMAPI_ERRORS(TABLE_ROW) RSMPI_ERRORS(TABLE_ROW) };
static const constant_t constant_table[] = { ALL_CONSTANTS(TABLE_ROW) };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))


/* ==========================================================================
 * Types (2.1) and struct fields (2.3)
 * ========================================================================== */

#define TYPE_IS(expr, type) _Generic((expr), type: 1, default: 0)

/* Solaris scalar types */
_Static_assert(TYPE_IS((uint_t)0, unsigned int), "uint_t is unsigned int");
_Static_assert(TYPE_IS((ulong_t)0, unsigned long), "ulong_t is unsigned long");
_Static_assert(TYPE_IS((uchar_t)0, unsigned char), "uchar_t is unsigned char");
_Static_assert(TYPE_IS((offset_t)0, long long), "offset_t is long long");
_Static_assert(TYPE_IS((caddr_t)0, char *), "caddr_t is char *");

/* RSMAPI scalar and handle types */
_Static_assert(TYPE_IS((rsm_addr_t)0, uint64_t), "rsm_addr_t is uint64_t");
_Static_assert(TYPE_IS((rsm_node_id_t)0, uint32_t), "rsm_node_id_t is uint32_t");
_Static_assert(TYPE_IS((rsm_memseg_id_t)0, uint32_t), "rsm_memseg_id_t is uint32_t");
_Static_assert(TYPE_IS((rsm_permission_t)0, uint32_t), "rsm_permission_t is uint32_t");
_Static_assert(TYPE_IS((rsm_memseg_import_handle_t)0, struct __rsm_memseg_import_handle *),
               "rsm_memseg_import_handle_t");
_Static_assert(TYPE_IS((rsm_memseg_export_handle_t)0, struct __rsm_memseg_export_handle *),
               "rsm_memseg_export_handle_t");
_Static_assert(TYPE_IS((rsm_localmemory_handle_t)0, struct __rsm_localmemory_handle *),
               "rsm_localmemory_handle_t");
_Static_assert(TYPE_IS((rsmapi_controller_handle_t)0, struct __rsmapi_controller_handle *),
               "rsmapi_controller_handle_t");

/* The topology structures are also reachable by their struct tags. */
_Static_assert(TYPE_IS((struct rsm_topology *)0, rsm_topology_t *), "struct rsm_topology");
_Static_assert(TYPE_IS((struct rsm_topology_hdr *)0, rsm_topology_hdr_t *), "struct rsm_topology_hdr");
_Static_assert(TYPE_IS((struct rsm_connection *)0, rsm_connections_t *), "struct rsm_connection");
_Static_assert(TYPE_IS((struct rsm_connections_hdr *)0, rsm_connections_hdr_t *),
               "struct rsm_connections_hdr");
_Static_assert(TYPE_IS((struct rsm_remote_cntlr *)0, rsm_remote_cntlr_t *), "struct rsm_remote_cntlr");

/*
 * Fields in reference order. F(struct, field, type) is a scalar field;
 * A(struct, field, element type, length) an array. The union member `local`
 * of rsm_iovec_t is checked through its two members.
 */
#define STRUCT_FIELDS(F, A)                                                        \
    F(rsmapi_controller_attr_t, attr_direct_access_sizes, uint_t)                  \
    F(rsmapi_controller_attr_t, attr_atomic_sizes, uint_t)                         \
    F(rsmapi_controller_attr_t, attr_page_size, size_t)                            \
    F(rsmapi_controller_attr_t, attr_max_export_segment_size, size_t)              \
    F(rsmapi_controller_attr_t, attr_tot_export_segment_size, size_t)              \
    F(rsmapi_controller_attr_t, attr_max_export_segments, ulong_t)                 \
    F(rsmapi_controller_attr_t, attr_max_import_map_size, size_t)                  \
    F(rsmapi_controller_attr_t, attr_tot_import_map_size, size_t)                  \
    F(rsmapi_controller_attr_t, attr_max_import_segments, ulong_t)                 \
    F(rsmapi_access_entry_t, ae_node, rsm_node_id_t)                               \
    F(rsmapi_access_entry_t, ae_permission, rsm_permission_t)                      \
    F(rsmapi_barrier_t, seg, void *)                                               \
    F(rsmapi_barrier_t, gnum, uint16_t)                                            \
    F(rsmapi_barrier_t, privdata, void *)                                          \
    F(rsm_iovec_t, io_type, int)                                                   \
    F(rsm_iovec_t, local.handle, rsm_localmemory_handle_t)                         \
    F(rsm_iovec_t, local_offset, size_t)                                           \
    F(rsm_iovec_t, remote_offset, size_t)                                          \
    F(rsm_iovec_t, transfer_length, size_t)                                        \
    F(rsm_scat_gath_t, local_nodeid, rsm_node_id_t)                                \
    F(rsm_scat_gath_t, io_request_count, ulong_t)                                  \
    F(rsm_scat_gath_t, io_residual_count, ulong_t)                                 \
    F(rsm_scat_gath_t, flags, uint_t)                                              \
    F(rsm_scat_gath_t, remote_handle, rsm_memseg_import_handle_t)                  \
    F(rsm_scat_gath_t, iovec, rsm_iovec_t *)                                       \
    F(rsm_topology_hdr_t, local_nodeid, rsm_node_id_t)                             \
    F(rsm_topology_hdr_t, local_cntlr_count, uint_t)                               \
    A(rsm_connections_hdr_t, cntlr_name, char, 256)                                \
    F(rsm_connections_hdr_t, local_hwaddr, rsm_addr_t)                             \
    F(rsm_connections_hdr_t, remote_cntlr_count, int)                              \
    F(rsm_remote_cntlr_t, remote_nodeid, rsm_node_id_t)                            \
    A(rsm_remote_cntlr_t, remote_cntlrname, char, 256)                             \
    F(rsm_remote_cntlr_t, remote_hwaddr, rsm_addr_t)                               \
    F(rsm_remote_cntlr_t, connection_state, uint_t)                                \
    F(rsm_connections_t, hdr, rsm_connections_hdr_t)                               \
    A(rsm_connections_t, remote_cntlr, rsm_remote_cntlr_t, 1)                      \
    F(rsm_topology_t, topology_hdr, rsm_topology_hdr_t)                            \
    A(rsm_topology_t, connections, rsm_connections_t *, 1)                         \
    A(rsm_barrier_t, comp, rsm_barrier_component_t, 4)

/* The second union member sits at the same offset as the first. */
_Static_assert(TYPE_IS(((rsm_iovec_t *)0)->local.vaddr, caddr_t), "rsm_iovec_t.local.vaddr");
_Static_assert(offsetof(rsm_iovec_t, local.vaddr) == offsetof(rsm_iovec_t, local.handle),
               "rsm_iovec_t.local is a union");

/* Compile time: each field exists with the reference type. A struct-typed
 * field cannot go through _Generic's lvalue conversion portably, so its
 * address is checked instead. */
#define STATIC_CHECK_FIELD(s, f, type) \
    _Static_assert(TYPE_IS(&((s *)0)->f, type *), #s "." #f " has type " #type);
#define STATIC_CHECK_ARRAY(s, f, elem, n)                                            \
    _Static_assert(TYPE_IS(&((s *)0)->f[0], elem *), #s "." #f "[] of " #elem);      \
    _Static_assert(sizeof(((s *)0)->f) == (n) * sizeof(elem), #s "." #f "[" #n "]");
STRUCT_FIELDS(STATIC_CHECK_FIELD, STATIC_CHECK_ARRAY)

/* The driver-level barrier union (rsm_common.h): 8 bytes, 11 views. */
#define BARRIER_COMPONENT_FIELDS(A)                                                  \
    A(rsm_barrier_component_t, u64, uint64_t, 1) A(rsm_barrier_component_t, i64, int64_t, 1) \
    A(rsm_barrier_component_t, u32, uint32_t, 2) A(rsm_barrier_component_t, i32, int32_t, 2) \
    A(rsm_barrier_component_t, u16, uint16_t, 4) A(rsm_barrier_component_t, i16, int16_t, 4) \
    A(rsm_barrier_component_t, u8, uint8_t, 8)   A(rsm_barrier_component_t, i8, int8_t, 8)   \
    A(rsm_barrier_component_t, uc, uchar_t, 8)   A(rsm_barrier_component_t, c, char, 8)
#define STATIC_CHECK_UNION_VIEW(s, f, elem, n) \
    _Static_assert(sizeof(((s *)0)->f) == (n) * sizeof(elem), #s "." #f);
BARRIER_COMPONENT_FIELDS(STATIC_CHECK_UNION_VIEW)
_Static_assert(TYPE_IS(&((rsm_barrier_component_t *)0)->u32[0], uint32_t *), "u32");
_Static_assert(TYPE_IS(&((rsm_barrier_component_t *)0)->uc[0], uchar_t *), "uc");
_Static_assert(TYPE_IS(&((rsm_barrier_component_t *)0)->vp, void **), "vp");
_Static_assert(sizeof(rsm_barrier_t) == 32, "rsm_barrier_t is 4 x 8 bytes");

/* Enumeration types: the constants convert to them. */
_Static_assert(sizeof(rsm_attribute_t) == sizeof(int), "rsm_attribute_t is an int-sized enum");
_Static_assert(sizeof(rsm_barrier_mode_t) == sizeof(int), "rsm_barrier_mode_t");
_Static_assert(sizeof(rsm_barrier_type_t) == sizeof(int), "rsm_barrier_type_t");
_Static_assert(sizeof(rsm_access_size_t) == sizeof(int), "rsm_access_size_t");

#if defined(__LP64__) || defined(_LP64)
/* LP64 sizes, the same as on Solaris amd64 / sparcv9. */
_Static_assert(sizeof(rsmapi_controller_attr_t) == 64, "rsmapi_controller_attr_t");
_Static_assert(sizeof(rsmapi_access_entry_t) == 8, "rsmapi_access_entry_t");
_Static_assert(sizeof(rsmapi_barrier_t) == 24, "rsmapi_barrier_t");
_Static_assert(sizeof(rsm_iovec_t) == 40, "rsm_iovec_t");
_Static_assert(sizeof(rsm_scat_gath_t) == 48, "rsm_scat_gath_t");
_Static_assert(sizeof(rsm_topology_hdr_t) == 8, "rsm_topology_hdr_t");
_Static_assert(sizeof(rsm_connections_hdr_t) == 272, "rsm_connections_hdr_t");
_Static_assert(sizeof(rsm_remote_cntlr_t) == 280, "rsm_remote_cntlr_t");
_Static_assert(sizeof(rsm_connections_t) == 552, "rsm_connections_t");
_Static_assert(sizeof(rsm_topology_t) == 16, "rsm_topology_t");
#endif

typedef struct {
    const char *type;
    const char *field;
    size_t      offset;
} field_t;

#define FIELD_ROW(s, f, ...) { #s, #f, offsetof(s, f) },
static const field_t field_table[] = { STRUCT_FIELDS(FIELD_ROW, FIELD_ROW) };


/* ==========================================================================
 * The 42 functions (section 1), typed from the reference
 * ========================================================================== */

#define RSMAPI_FUNCTIONS(X)                                                                  \
    /* controller */                                                                          \
    X(int, rsm_get_controller, (char *name, rsmapi_controller_handle_t *controller))          \
    X(int, rsm_get_controller_attr, (rsmapi_controller_handle_t chdl,                         \
                                     rsmapi_controller_attr_t *attr))                         \
    X(int, rsm_release_controller, (rsmapi_controller_handle_t controller))                   \
    /* topology / administration */                                                           \
    X(int, rsm_get_interconnect_topology, (rsm_topology_t **topology_data))                   \
    X(void, rsm_free_interconnect_topology, (rsm_topology_t *topology_data))                  \
    X(int, rsm_get_segmentid_range, (const char *appid, rsm_memseg_id_t *baseid,              \
                                     uint32_t *length))                                       \
    /* export */                                                                              \
    X(int, rsm_memseg_export_create, (rsmapi_controller_handle_t controller,                  \
                                      rsm_memseg_export_handle_t *memseg, void *vaddr,        \
                                      size_t size, uint_t flags))                             \
    X(int, rsm_memseg_export_destroy, (rsm_memseg_export_handle_t memseg))                    \
    X(int, rsm_memseg_export_rebind, (rsm_memseg_export_handle_t memseg, void *vaddr,         \
                                      offset_t off, size_t size))                             \
    X(int, rsm_memseg_export_publish, (rsm_memseg_export_handle_t memseg,                     \
                                       rsm_memseg_id_t *segment_id,                           \
                                       rsmapi_access_entry_t access_list[],                   \
                                       uint_t access_list_length))                            \
    X(int, rsm_memseg_export_unpublish, (rsm_memseg_export_handle_t memseg))                  \
    X(int, rsm_memseg_export_republish, (rsm_memseg_export_handle_t memseg,                   \
                                         rsmapi_access_entry_t access_list[],                 \
                                         uint_t access_list_length))                          \
    /* import: connection */                                                                  \
    X(int, rsm_memseg_import_connect, (rsmapi_controller_handle_t controller,                 \
                                       rsm_node_id_t node_id, rsm_memseg_id_t segment_id,     \
                                       rsm_permission_t perm,                                 \
                                       rsm_memseg_import_handle_t *im_memseg))                \
    X(int, rsm_memseg_import_disconnect, (rsm_memseg_import_handle_t im_memseg))              \
    /* import: data */                                                                        \
    X(int, rsm_memseg_import_get8, (rsm_memseg_import_handle_t im_memseg, off_t offset,       \
                                    uint8_t *datap, ulong_t rep_cnt))                         \
    X(int, rsm_memseg_import_get16, (rsm_memseg_import_handle_t im_memseg, off_t offset,      \
                                     uint16_t *datap, ulong_t rep_cnt))                       \
    X(int, rsm_memseg_import_get32, (rsm_memseg_import_handle_t im_memseg, off_t offset,      \
                                     uint32_t *datap, ulong_t rep_cnt))                       \
    X(int, rsm_memseg_import_get64, (rsm_memseg_import_handle_t im_memseg, off_t offset,      \
                                     uint64_t *datap, ulong_t rep_cnt))                       \
    X(int, rsm_memseg_import_put8, (rsm_memseg_import_handle_t im_memseg, off_t offset,       \
                                    uint8_t *datap, ulong_t rep_cnt))                         \
    X(int, rsm_memseg_import_put16, (rsm_memseg_import_handle_t im_memseg, off_t offset,      \
                                     uint16_t *datap, ulong_t rep_cnt))                       \
    X(int, rsm_memseg_import_put32, (rsm_memseg_import_handle_t im_memseg, off_t offset,      \
                                     uint32_t *datap, ulong_t rep_cnt))                       \
    X(int, rsm_memseg_import_put64, (rsm_memseg_import_handle_t im_memseg, off_t offset,      \
                                     uint64_t *datap, ulong_t rep_cnt))                       \
    X(int, rsm_memseg_import_get, (rsm_memseg_import_handle_t im_memseg, off_t offset,        \
                                   void *dst_addr, size_t length))                            \
    X(int, rsm_memseg_import_put, (rsm_memseg_import_handle_t im_memseg, off_t offset,        \
                                   void *src_addr, size_t length))                            \
    X(int, rsm_memseg_import_getv, (rsm_scat_gath_t *sg_io))                                  \
    X(int, rsm_memseg_import_putv, (rsm_scat_gath_t *sg_io))                                  \
    /* import: mapping */                                                                     \
    X(int, rsm_memseg_import_map, (rsm_memseg_import_handle_t im_memseg, void **address,      \
                                   rsm_attribute_t attr, rsm_permission_t perm,               \
                                   off_t offset, size_t length))                              \
    X(int, rsm_memseg_import_unmap, (rsm_memseg_import_handle_t im_memseg))                   \
    /* import: barriers and mode */                                                           \
    X(int, rsm_memseg_import_init_barrier, (rsm_memseg_import_handle_t im_memseg,             \
                                            rsm_barrier_type_t type,                          \
                                            rsmapi_barrier_t *barrier))                       \
    X(int, rsm_memseg_import_open_barrier, (rsmapi_barrier_t *barrier))                       \
    X(int, rsm_memseg_import_close_barrier, (rsmapi_barrier_t *barrier))                      \
    X(int, rsm_memseg_import_order_barrier, (rsmapi_barrier_t *barrier))                      \
    X(int, rsm_memseg_import_destroy_barrier, (rsmapi_barrier_t *barrier))                    \
    X(int, rsm_memseg_import_get_mode, (rsm_memseg_import_handle_t im_memseg,                 \
                                        rsm_barrier_mode_t *mode))                            \
    X(int, rsm_memseg_import_set_mode, (rsm_memseg_import_handle_t im_memseg,                 \
                                        rsm_barrier_mode_t mode))                             \
    /* events */                                                                              \
    X(int, rsm_intr_signal_post, (void *memseg, uint_t flags))                                \
    X(int, rsm_intr_signal_wait, (void *memseg, int timeout))                                 \
    X(int, rsm_memseg_get_pollfd, (void *memseg, struct pollfd *poll_fd))                     \
    X(int, rsm_memseg_release_pollfd, (void *memseg))                                         \
    X(int, rsm_intr_signal_wait_pollfd, (struct pollfd fds[], nfds_t nfds, int timeout,       \
                                         int *numfdsp))                                       \
    /* local memory handles */                                                                \
    X(int, rsm_create_localmemory_handle, (rsmapi_controller_handle_t controller,             \
                                           rsm_localmemory_handle_t *l_handle,                \
                                           caddr_t local_vaddr, size_t length))               \
    X(int, rsm_free_localmemory_handle, (rsmapi_controller_handle_t controller,               \
                                         rsm_localmemory_handle_t l_handle))

/* The expected function type of each, e.g. rsm_get_controller_expected_t. */
#define DECLARE_EXPECTED_TYPE(ret, name, params) typedef ret name##_expected_t params;
RSMAPI_FUNCTIONS(DECLARE_EXPECTED_TYPE)

/* Redeclaration with the expected type, made weak: a different type in the
 * header is a "conflicting types" error, and no definition is needed. */
#define DECLARE_WEAK(ret, name, params) __attribute__((weak)) name##_expected_t name;
RSMAPI_FUNCTIONS(DECLARE_WEAK)

/* _Generic on the function's address: exact type, whatever the warning flags. */
#define STATIC_CHECK_FUNCTION(ret, name, params) \
    _Static_assert(TYPE_IS(&name, name##_expected_t *), #name " has the reference type");
RSMAPI_FUNCTIONS(STATIC_CHECK_FUNCTION)

/* Each function assigned to a pointer of the exact expected type (with
 * -Werror an incompatible initialiser fails to compile). */
#define TYPED_POINTER_MEMBER(ret, name, params) name##_expected_t *name;
#define TYPED_POINTER_INIT(ret, name, params) name,
static const struct {
    RSMAPI_FUNCTIONS(TYPED_POINTER_MEMBER)
} typed_pointers = { RSMAPI_FUNCTIONS(TYPED_POINTER_INIT) };

typedef struct {
    const char *name;
    void (*address)(void);  /* NULL when no implementation is linked */
} function_t;

#define FUNCTION_ROW(ret, name, params) { #name, (void (*)(void))name },
static const function_t function_table[] = { RSMAPI_FUNCTIONS(FUNCTION_ROW) };


/* ==========================================================================
 * Helpers: the source tree and the compilers, for the compile checks
 * ========================================================================== */

static char srcdir[1024];

/* The source root: $UCPG_TEST_SRCDIR, else -DUCPG_TEST_SRCDIR, else derived
 * from __FILE__ (relative to the directory the test was compiled in), else
 * the current directory. Returns 0 when include/rsmapi.h is not found. */
static int find_srcdir(void)
{
    const char *candidates[4] = { getenv("UCPG_TEST_SRCDIR"), NULL, NULL, "." };
    static char from_file[1024];
    const char *suffix = "test/unit/test_rsmapi_header.c";
    const char *file = __FILE__;
    size_t flen = strlen(file), slen = strlen(suffix);
    size_t i;

#ifdef UCPG_TEST_SRCDIR
    candidates[1] = UCPG_TEST_SRCDIR;
#endif
    if (flen >= slen && strcmp(file + flen - slen, suffix) == 0) {
        size_t len = flen - slen;
        if (len == 0) {
            strcpy(from_file, ".");
        } else if (len < sizeof(from_file)) {
            memcpy(from_file, file, len);
            from_file[len] = '\0';
        }
        candidates[2] = from_file[0] != '\0' ? from_file : NULL;
    }
    for (i = 0; i < COUNT(candidates); i++) {
        char path[1200];
        if (candidates[i] == NULL || candidates[i][0] == '\0' ||
            strchr(candidates[i], '\'') != NULL) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/include/rsmapi.h", candidates[i]);
        if (access(path, R_OK) == 0) {
            snprintf(srcdir, sizeof(srcdir), "%s", candidates[i]);
            return 1;
        }
    }
    return 0;
}

static const char *tool(const char *env, const char *fallback)
{
    const char *v = getenv(env);
    return (v != NULL && v[0] != '\0') ? v : fallback;
}

static int have_program(const char *prog)
{
    char cmd[512];
    /* Only the first word: $CC may carry options. */
    snprintf(cmd, sizeof(cmd), "set -- %s; command -v \"$1\" >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* Runs a compiler command line, printing it and its diagnostics; returns
 * the exit status (0 = compiled). */
static int run(const char *cmd)
{
    int status;
    const char *nl = strchr(cmd, '\n'); /* print a here-document's first line only */
    print_message("  %.*s\n", nl != NULL ? (int)(nl - cmd) : (int)strlen(cmd), cmd);
    fflush(stdout);
    status = system(cmd);
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

/* Skips the calling test unless the source tree and `compiler` exist. */
#define REQUIRE_TREE_AND(compiler)                                           \
    do {                                                                     \
        if (!find_srcdir()) {                                                \
            fail_msg("source tree not found (set UCPG_TEST_SRCDIR)");        \
        }                                                                    \
        if (!have_program(compiler)) {                                       \
            print_message("compiler '%s' not found\n", compiler);            \
            skip();                                                          \
        }                                                                    \
    } while (0)


/* ==========================================================================
 * Tests
 * ========================================================================== */

static void test_error_codes_have_reference_values(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < COUNT(error_table); i++) {
        if (error_table[i].value != error_table[i].expected) {
            print_error("%s = %lld, reference %lld\n", error_table[i].name,
                        error_table[i].value, error_table[i].expected);
        }
        assert_int_equal(error_table[i].value, error_table[i].expected);
    }
    /* RSM_SUCCESS + 45 RSMAPI codes + 35 RSMPI codes */
    assert_int_equal(COUNT(error_table), 1 + 45 + 35);
}

static void test_error_codes_are_distinct_and_contiguous(void **state)
{
    unsigned char seen[135] = { 0 };
    size_t i;
    (void)state;
    for (i = 0; i < COUNT(error_table); i++) {
        long long v = error_table[i].value;
        assert_in_range(v, 0, 134);
        assert_int_equal(seen[v], 0);
        seen[v] = 1;
    }
    for (i = 0; i <= 45; i++) {
        assert_int_equal(seen[i], 1);
    }
    for (i = 46; i < 100; i++) {
        assert_int_equal(seen[i], 0);
    }
    for (i = 100; i <= 134; i++) {
        assert_int_equal(seen[i], 1);
    }
}

static void test_constants_have_reference_values(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < COUNT(constant_table); i++) {
        if (constant_table[i].value != constant_table[i].expected) {
            print_error("%s = %lld, reference %lld\n", constant_table[i].name,
                        constant_table[i].value, constant_table[i].expected);
        }
        assert_int_equal(constant_table[i].value, constant_table[i].expected);
    }
}

static void test_permissions_compose(void **state)
{
    (void)state;
    assert_int_equal(RSM_PERM_RDWR, RSM_PERM_READ | RSM_PERM_WRITE);
    assert_int_equal(RSM_PERM_READ & RSM_PERM_WRITE, 0);
    /* The flags that share a word do not collide. */
    assert_int_equal(RSM_IMPLICIT_SIGPOST & RSM_SIGPOST_NO_ACCUMULATE, 0);
    assert_int_equal(RSM_ALLOW_REBIND & RSM_CREATE_SEG_DONTWAIT, 0);
}

static void test_segment_id_ranges_tile_the_reserved_space(void **state)
{
    (void)state;
    assert_int_equal(RSM_DRIVER_PRIVATE_ID_BASE, 0);
    assert_int_equal(RSM_CLUSTER_TRANSPORT_ID_BASE, RSM_DRIVER_PRIVATE_ID_END + 1);
    assert_int_equal(RSM_RSMLIB_ID_BASE, RSM_CLUSTER_TRANSPORT_ID_END + 1);
    assert_int_equal(RSM_DLPI_ID_BASE, RSM_RSMLIB_ID_END + 1);
    assert_int_equal(RSM_HPC_ID_BASE, RSM_DLPI_ID_END + 1);
    assert_int_equal(RSM_OPS_ID_BASE, RSM_HPC_ID_END + 1);
    /* The system-assigned range is the top half of the 32-bit id space. */
    assert_int_equal((rsm_memseg_id_t)RSM_USER_APP_ID_END, UINT32_MAX);
    assert_int_equal((rsm_memseg_id_t)RSM_USER_APP_ID_BASE, (uint32_t)1 << 31);
}

static void test_scalar_types_have_solaris_sizes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(uint_t), sizeof(unsigned int));
    assert_int_equal(sizeof(ulong_t), sizeof(unsigned long));
    assert_int_equal(sizeof(offset_t), 8);
    assert_int_equal(sizeof(caddr_t), sizeof(void *));
    assert_int_equal(sizeof(rsm_addr_t), 8);
    assert_int_equal(sizeof(rsm_node_id_t), 4);
    assert_int_equal(sizeof(rsm_memseg_id_t), 4);
    assert_int_equal(sizeof(rsm_permission_t), 4);
    assert_int_equal(sizeof(rsm_barrier_component_t), 8);
    assert_int_equal(sizeof(rsm_barrier_t), 32);
    /* MAXNAMELEN as on Solaris (the topology name arrays) */
    assert_int_equal(MAXNAMELEN, 256);
    /* PAGESIZE is the run-time page size, as Solaris defines it. */
    assert_int_equal(PAGESIZE, sysconf(_SC_PAGESIZE));
    assert_int_equal(PAGEOFFSET, PAGESIZE - 1);
    assert_int_equal(PAGEMASK & PAGESIZE, PAGESIZE);
}

static void test_struct_fields_are_in_reference_order(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < COUNT(field_table); i++) {
        int first = i == 0 || strcmp(field_table[i].type, field_table[i - 1].type) != 0;
        if (first) {
            if (field_table[i].offset != 0) {
                print_error("%s.%s is not first\n", field_table[i].type, field_table[i].field);
            }
            assert_int_equal(field_table[i].offset, 0);
        } else {
            if (field_table[i].offset <= field_table[i - 1].offset) {
                print_error("%s.%s (offset %zu) does not follow %s (offset %zu)\n",
                            field_table[i].type, field_table[i].field, field_table[i].offset,
                            field_table[i - 1].field, field_table[i - 1].offset);
            }
            assert_true(field_table[i].offset > field_table[i - 1].offset);
        }
    }
    /* Each struct's last field ends at or before its end (nothing missing
     * in between is checked by the sizes under LP64). */
    assert_true(offsetof(rsm_scat_gath_t, iovec) + sizeof(rsm_iovec_t *) ==
                sizeof(rsm_scat_gath_t));
    assert_true(offsetof(rsmapi_controller_attr_t, attr_max_import_segments) +
                sizeof(ulong_t) == sizeof(rsmapi_controller_attr_t));
}

static void test_topology_block_can_be_walked(void **state)
{
    /* The layout rsm_get_interconnect_topology returns: one block holding
     * the header, the controller pointer array, and the controller records
     * with their remote controllers. Two local controllers, 2 and 1 remotes. */
    size_t top = sizeof(rsm_topology_t) + sizeof(rsm_connections_t *);
    size_t c0 = sizeof(rsm_connections_t) + sizeof(rsm_remote_cntlr_t);
    size_t c1 = sizeof(rsm_connections_t);
    size_t size = top + c0 + c1;
    unsigned char *block = malloc(size);
    rsm_topology_t *tp = (rsm_topology_t *)(void *)block;
    uint_t i;
    int j, active = 0;
    (void)state;

    assert_non_null(block);
    memset(block, 0, size);
    tp->topology_hdr.local_nodeid = 7;
    tp->topology_hdr.local_cntlr_count = 2;
    tp->connections[0] = (rsm_connections_t *)(void *)(block + top);
    tp->connections[1] = (rsm_connections_t *)(void *)(block + top + c0);
    snprintf(tp->connections[0]->hdr.cntlr_name, MAXNAMELEN, "sci%d", 0);
    tp->connections[0]->hdr.remote_cntlr_count = 2;
    tp->connections[0]->remote_cntlr[0].connection_state = RSM_CONNECTION_ACTIVE;
    tp->connections[0]->remote_cntlr[1].connection_state = RSM_CONNECTION_ACTIVE;
    tp->connections[0]->remote_cntlr[1].remote_nodeid = 9;
    snprintf(tp->connections[1]->hdr.cntlr_name, MAXNAMELEN, "loopback");
    tp->connections[1]->hdr.remote_cntlr_count = 1;
    tp->connections[1]->remote_cntlr[0].connection_state = 0;

    for (i = 0; i < tp->topology_hdr.local_cntlr_count; i++) {
        rsm_connections_t *c = tp->connections[i];
        for (j = 0; j < c->hdr.remote_cntlr_count; j++) {
            active += c->remote_cntlr[j].connection_state == RSM_CONNECTION_ACTIVE;
        }
    }
    assert_int_equal(active, 2);
    assert_string_equal(tp->connections[0]->hdr.cntlr_name, "sci0");
    assert_int_equal(tp->connections[0]->remote_cntlr[1].remote_nodeid, 9);
    free(block);
}

static void test_all_42_functions_are_declared_with_reference_types(void **state)
{
    size_t i, j, linked = 0;
    (void)state;
    /* The types were checked at compile time; here: the list is complete
     * (42 distinct names, all rsm_*). */
    assert_int_equal(COUNT(function_table), 42);
    for (i = 0; i < COUNT(function_table); i++) {
        assert_memory_equal(function_table[i].name, "rsm_", 4);
        for (j = 0; j < i; j++) {
            assert_true(strcmp(function_table[i].name, function_table[j].name) != 0);
        }
        linked += function_table[i].address != NULL;
    }
    /* The typed pointers hold the same addresses. */
    i = 0;
#define CHECK_TYPED_POINTER(ret, fn, params)                                       \
    assert_string_equal(function_table[i].name, #fn);                              \
    assert_true((void (*)(void))typed_pointers.fn == function_table[i].address);   \
    i++;
    RSMAPI_FUNCTIONS(CHECK_TYPED_POINTER)
#undef CHECK_TYPED_POINTER
    assert_int_equal(i, 42);
    print_message("  %zu of 42 functions have a linked definition\n", linked);
#ifdef RSMAPI_TEST_REQUIRE_IMPL
    /* Built against the implementation: every symbol must resolve. */
    for (i = 0; i < COUNT(function_table); i++) {
        if (function_table[i].address == NULL) {
            print_error("%s is not defined\n", function_table[i].name);
        }
        assert_non_null(function_table[i].address);
    }
#endif
}

static int is_known_constant(const char *name)
{
    size_t i;
    for (i = 0; i < COUNT(constant_table); i++) {
        if (strcmp(constant_table[i].name, name) == 0) {
            return 1;
        }
    }
    for (i = 0; i < COUNT(extension_macros); i++) {
        if (strcmp(extension_macros[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_header_defines_no_constant_outside_the_reference(void **state)
{
    char path[1200], line[512];
    FILE *f;
    int unknown = 0, seen = 0;
    (void)state;
    if (!find_srcdir()) {
        fail_msg("source tree not found (set UCPG_TEST_SRCDIR)");
    }
    snprintf(path, sizeof(path), "%s/include/rsmapi.h", srcdir);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char name[128];
        const char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        /* "#define NAME" or an enumerator "NAME =" */
        if (sscanf(p, "#define %127[A-Za-z0-9_]", name) != 1 &&
            sscanf(p, "%127[A-Z0-9_] =", name) != 1) {
            continue;
        }
        if (strncmp(name, "RSMAPI_", 7) == 0) {
            continue; /* ucx_cpg's own configuration macros */
        }
        if (strncmp(name, "RSM", 3) != 0 && !is_known_constant(name)) {
            continue; /* not an enumerator/constant line */
        }
        seen++;
        if (!is_known_constant(name)) {
            print_error("%s is defined by the header but not in the reference\n", name);
            unknown++;
        }
    }
    fclose(f);
    assert_int_equal(unknown, 0);
    /* Every table entry was seen once (no duplicates, none via a detour). */
    assert_int_equal(seen, (int)(COUNT(constant_table) + COUNT(extension_macros)));
}

static void test_header_compiles_as_strict_c(void **state)
{
    static const char *const modes[] = {
        "-std=c99", "-std=c11", "-std=c17", "-std=gnu11",
        "-std=c11 -D_DEFAULT_SOURCE", "-std=c11 -D_GNU_SOURCE", "-std=c11 -D_POSIX_C_SOURCE=200809L",
    };
    const char *cc = tool("CC", "cc");
    char cmd[8192];
    size_t i;
    (void)state;
    REQUIRE_TREE_AND(cc);
    for (i = 0; i < COUNT(modes); i++) {
        snprintf(cmd, sizeof(cmd),
                 "%s %s -pedantic -Wall -Wextra -Werror -fsyntax-only -I'%s/include' -x c "
                 "'%s/include/rsmapi.h'",
                 cc, modes[i], srcdir, srcdir);
        assert_int_equal(run(cmd), 0);
    }
    /* Included twice, and after <sys/types.h> with and without caddr_t. */
    for (i = 0; i < 2; i++) {
        snprintf(cmd, sizeof(cmd),
                 "%s -std=c11 %s -pedantic -Wall -Wextra -Werror -fsyntax-only -I'%s/include' "
                 "-include sys/types.h -include rsmapi.h -include rsmapi.h -x c /dev/null",
                 cc, i == 0 ? "" : "-D_DEFAULT_SOURCE", srcdir);
        assert_int_equal(run(cmd), 0);
    }
}

static void test_header_compiles_as_cxx(void **state)
{
    static const char *const modes[] = { "-std=c++11", "-std=c++17" };
    const char *cxx = tool("CXX", "c++");
    char cmd[8192];
    size_t i;
    (void)state;
    REQUIRE_TREE_AND(cxx);
    for (i = 0; i < COUNT(modes); i++) {
        snprintf(cmd, sizeof(cmd),
                 "%s %s -pedantic -Wall -Wextra -Werror -fsyntax-only -I'%s/include' -x c++ "
                 "'%s/include/rsmapi.h'",
                 cxx, modes[i], srcdir, srcdir);
        assert_int_equal(run(cmd), 0);
    }
}

/* A translation unit that includes only <rsmapi.h> and uses what a Solaris
 * program gets from it (the system types of the prototypes, PAGESIZE and
 * MAXNAMELEN of <sys/param.h>, the Solaris scalar types). Fed to the
 * compiler on stdin; valid C and C++. */
static const char self_contained_tu[] =
    "#include <rsmapi.h>\n"
    "long page_bits(void);\n"
    "long page_bits(void) { return (long)PAGESIZE + (long)PAGEOFFSET + (long)PAGEMASK\n"
    "                       + MAXNAMELEN + MAXPATHLEN; }\n"
    "int use(rsm_memseg_import_handle_t im, struct pollfd *fds, nfds_t n);\n"
    "int use(rsm_memseg_import_handle_t im, struct pollfd *fds, nfds_t n) {\n"
    "    uint8_t b8 = 0; uint16_t b16 = 0; uint32_t b32 = 0; uint64_t b64 = 0;\n"
    "    off_t off = 0; size_t len = sizeof(b8); ulong_t one = 1; uint_t fl = 0;\n"
    "    offset_t ignored = 0; uchar_t uc = 0; caddr_t va = (caddr_t)&b8; int nf = 0;\n"
    "    (void)ignored; (void)uc; (void)va; (void)len;\n"
    "    return rsm_memseg_import_get8(im, off, &b8, one) + rsm_memseg_import_get16(im, off, &b16, one)\n"
    "         + rsm_memseg_import_put32(im, off, &b32, one) + rsm_memseg_import_put64(im, off, &b64, one)\n"
    "         + rsm_intr_signal_post(im, fl) + rsm_intr_signal_wait_pollfd(fds, n, -1, &nf);\n"
    "}\n"
    /* C++: the functions have C linkage (a redeclaration with another
     * language linkage is an error). */
    "#ifdef __cplusplus\n"
    "extern \"C\" int rsm_memseg_import_get8(rsm_memseg_import_handle_t, off_t, uint8_t *, ulong_t);\n"
    "extern \"C\" void rsm_free_interconnect_topology(rsm_topology_t *);\n"
    "extern \"C\" int rsm_intr_signal_wait_pollfd(struct pollfd[], nfds_t, int, int *);\n"
    "#endif\n";

static void test_header_alone_provides_what_programs_use(void **state)
{
    static const char *const modes[] = {
        "-x c -std=c11 -pedantic", "-x c -std=c99 -pedantic", "-x c -std=gnu11",
    };
    static const char *const cxx_modes[] = { "-x c++ -std=c++11 -pedantic" };
    const char *cc = tool("CC", "cc");
    const char *cxx = tool("CXX", "c++");
    char cmd[8192];
    size_t i;
    (void)state;
    REQUIRE_TREE_AND(cc);
    for (i = 0; i < COUNT(modes) + COUNT(cxx_modes); i++) {
        int is_cxx = i >= COUNT(modes);
        const char *compiler = is_cxx ? cxx : cc;
        if (is_cxx && !have_program(cxx)) {
            print_message("  (no C++ compiler '%s': C++ variant not run)\n", cxx);
            continue;
        }
        snprintf(cmd, sizeof(cmd),
                 "%s %s -Wall -Wextra -Werror -fsyntax-only -I'%s/include' - <<'EOF'\n%sEOF\n",
                 compiler, is_cxx ? cxx_modes[i - COUNT(modes)] : modes[i], srcdir,
                 self_contained_tu);
        assert_int_equal(run(cmd), 0);
    }
}

/* RSMAPI_API exports a function from a library built with
 * -fvisibility=hidden, as libucx_cpg is; an unmarked function stays hidden. */
static void test_functions_are_exported_under_hidden_visibility(void **state)
{
    const char *cc = tool("CC", "cc");
    char cmd[8192];
    (void)state;
    REQUIRE_TREE_AND(cc);
    if (!have_program("nm")) {
        print_message("nm not found\n");
        skip();
    }
    snprintf(cmd, sizeof(cmd),
             "so=\"${TMPDIR:-/tmp}/rsmapi_visibility_$$.so\"; "
             "%s -std=c11 -shared -fPIC -fvisibility=hidden -I'%s/include' -o \"$so\" -x c - <<'EOF' "
             "&& nm -D --defined-only \"$so\" | grep -q ' rsm_release_controller$' "
             "&& ! nm -D --defined-only \"$so\" | grep -q ' not_exported$'; "
             "rc=$?; rm -f \"$so\"; exit $rc\n"
             "#include <rsmapi.h>\n"
             "int rsm_release_controller(rsmapi_controller_handle_t c) { return c ? 0 : 3; }\n"
             "int not_exported(void);\n"
             "int not_exported(void) { return 1; }\n"
             "EOF\n",
             cc, srcdir);
    assert_int_equal(run(cmd), 0);
}

static void test_solaris_style_example_compiles(void **state)
{
    const char *cc = tool("CC", "cc");
    char cmd[8192], path[1200];
    (void)state;
    REQUIRE_TREE_AND(cc);
    snprintf(path, sizeof(path), "%s/contrib/examples/rsm_solaris_compile_check.c", srcdir);
    if (access(path, R_OK) != 0) {
        fail_msg("%s not found: it is part of the source tree", path);
    }
    snprintf(cmd, sizeof(cmd),
             "%s -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I'%s/include' '%s'", cc, srcdir,
             path);
    assert_int_equal(run(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_codes_have_reference_values),
        cmocka_unit_test(test_error_codes_are_distinct_and_contiguous),
        cmocka_unit_test(test_constants_have_reference_values),
        cmocka_unit_test(test_permissions_compose),
        cmocka_unit_test(test_segment_id_ranges_tile_the_reserved_space),
        cmocka_unit_test(test_scalar_types_have_solaris_sizes),
        cmocka_unit_test(test_struct_fields_are_in_reference_order),
        cmocka_unit_test(test_topology_block_can_be_walked),
        cmocka_unit_test(test_all_42_functions_are_declared_with_reference_types),
        cmocka_unit_test(test_header_defines_no_constant_outside_the_reference),
        cmocka_unit_test(test_header_compiles_as_strict_c),
        cmocka_unit_test(test_header_compiles_as_cxx),
        cmocka_unit_test(test_header_alone_provides_what_programs_use),
        cmocka_unit_test(test_functions_are_exported_under_hidden_visibility),
        cmocka_unit_test(test_solaris_style_example_compiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
