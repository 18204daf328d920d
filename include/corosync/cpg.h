/*
 * corosync/cpg.h - Closed Process Groups, the corosync CPG API as provided by
 * ucx_cpg.
 *
 * This is ucx_cpg's own header. It is source- and binary-compatible with the
 * <corosync/cpg.h> of corosync 3.1 (libcpg.so.4, x86_64 / LP64): the same
 * names, types, enum values, macros and struct layouts, so a program built
 * against corosync runs on ucx_cpg's libcpg.so.4 unmodified. The include
 * guard is the one corosync uses.
 *
 * Model: a process opens handles; each handle joins at most one group (use
 * several handles for several groups). Every member of a group sees the same
 * single, totally ordered stream of membership changes (confchg) and messages,
 * its own messages included. Group names are length-counted byte strings, not
 * C strings: two names are the same group when length and the first length
 * bytes of value are equal. Callbacks run in the thread that calls
 * cpg_dispatch().
 *
 * The comments below describe ucx_cpg. Where it behaves differently from
 * corosync 3.1.7 (mostly to fix corosync defects) they say so; everything not
 * mentioned behaves as in corosync.
 *
 * Layout facts are pinned by test/unit/test_cpg_abi.c and compared against the
 * installed corosync headers by test/unit/cpg_abi_vs_corosync.sh.
 */
#ifndef COROSYNC_CPG_H_DEFINED
#define COROSYNC_CPG_H_DEFINED

/* corosync's header includes <netinet/in.h>; programs may rely on that. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <corosync/corotypes.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Also defined in <corosync/corotypes.h>; repeated in case another copy of that came first. */
#ifndef UCX_CPG_COROSYNC_API
#if defined(__GNUC__)
#define UCX_CPG_COROSYNC_API __attribute__((visibility("default")))
#else
#define UCX_CPG_COROSYNC_API
#endif
#endif

/* --- types ---------------------------------------------------------------- */

/* An open connection to the group service (opaque 64-bit value). */
typedef uint64_t cpg_handle_t;

/* A group iterator; its own handle space, see cpg_iteration_initialize(). */
typedef uint64_t cpg_iteration_handle_t;

/*
 * Delivery guarantee asked for by a sender. Every type is accepted and is
 * delivered in the one total order (corosync treats all four as AGREED).
 */
typedef enum {
    CPG_TYPE_UNORDERED = 0,
    CPG_TYPE_FIFO      = 1,
    CPG_TYPE_AGREED    = 2,
    CPG_TYPE_SAFE      = 3
} cpg_guarantee_t;

typedef enum {
    CPG_FLOW_CONTROL_DISABLED = 0, /* sending is expected to succeed */
    CPG_FLOW_CONTROL_ENABLED  = 1  /* the sender should wait; sends get CS_ERR_TRY_AGAIN */
} cpg_flow_control_state_t;

/* Why a process appears in a confchg list (struct cpg_address.reason). */
typedef enum {
    CPG_REASON_UNDEFINED = 0, /* entries of member_list */
    CPG_REASON_JOIN      = 1, /* cpg_join() */
    CPG_REASON_LEAVE     = 2, /* cpg_leave() */
    CPG_REASON_NODEDOWN  = 3, /* its node left the cluster */
    CPG_REASON_NODEUP    = 4, /* its node (re)joined the cluster */
    CPG_REASON_PROCDOWN  = 5  /* the process finalized or died while joined */
} cpg_reason_t;

typedef enum {
    CPG_ITERATION_NAME_ONLY = 1, /* one entry per group, nodeid = pid = 0 */
    CPG_ITERATION_ONE_GROUP = 2, /* the members of one group */
    CPG_ITERATION_ALL       = 3  /* every (group, nodeid, pid), grouped by name */
} cpg_iteration_type_t;

typedef enum {
    CPG_MODEL_V1 = 1 /* the only model */
} cpg_model_t;

/* One process in a group: its node and the pid it had when it joined. 12 bytes. */
struct cpg_address {
    uint32_t nodeid;
    uint32_t pid;
    uint32_t reason; /* a cpg_reason_t */
};

#define CPG_MAX_NAME_LENGTH 128

/* A group name: length bytes of value, not NUL-terminated. 132 bytes. */
struct cpg_name {
    uint32_t length;
    char value[CPG_MAX_NAME_LENGTH];
};

/*
 * corosync's limit on confchg lists. ucx_cpg has no such limit; it also
 * serves as the default capacity in cpg_membership_get().
 */
#define CPG_MEMBERS_MAX 128

/* One entry returned by cpg_iteration_next(). 140 bytes. */
struct cpg_iteration_description_t {
    struct cpg_name group;
    uint32_t nodeid;
    uint32_t pid;
};

/* A membership (ring) id: representative node and sequence. 16 bytes, 4 of them padding. */
struct cpg_ring_id {
    uint32_t nodeid;
    uint64_t seq;
};

/*
 * A message for group_name, sent by (nodeid, pid). msg is deliberately not
 * const: the receiver may convert it in place. msg is valid only until the
 * callback returns.
 */
typedef void (*cpg_deliver_fn_t)(cpg_handle_t handle, const struct cpg_name *group_name,
                                 uint32_t nodeid, uint32_t pid, void *msg, size_t msg_len);

/*
 * A membership change of group_name: member_list is the membership after the
 * change (reason 0), left_list and joined_list the processes that left or
 * joined and why. The lists are valid only until the callback returns.
 */
typedef void (*cpg_confchg_fn_t)(cpg_handle_t handle, const struct cpg_name *group_name,
                                 const struct cpg_address *member_list, size_t member_list_entries,
                                 const struct cpg_address *left_list, size_t left_list_entries,
                                 const struct cpg_address *joined_list, size_t joined_list_entries);

/*
 * The cluster's node membership changed (model v1). Delivered to every handle,
 * joined or not, after the confchgs that the change caused. ring_id is passed
 * by value.
 */
typedef void (*cpg_totem_confchg_fn_t)(cpg_handle_t handle, struct cpg_ring_id ring_id,
                                       uint32_t member_list_entries, const uint32_t *member_list);

/* Callbacks of cpg_initialize(); either may be NULL. */
typedef struct {
    cpg_deliver_fn_t cpg_deliver_fn;
    cpg_confchg_fn_t cpg_confchg_fn;
} cpg_callbacks_t;

/* Common head of the model data structs; cast a cpg_model_v1_data_t * to this. */
typedef struct {
    cpg_model_t model;
} cpg_model_data_t;

/* cpg_model_v1_data_t.flags: deliver one totem confchg right after the handle's
 * first confchg after each cpg_join(). */
#define CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF 0x01

/* Model data of CPG_MODEL_V1; any callback may be NULL. 40 bytes. */
typedef struct {
    cpg_model_t model; /* CPG_MODEL_V1 */
    cpg_deliver_fn_t cpg_deliver_fn;
    cpg_confchg_fn_t cpg_confchg_fn;
    cpg_totem_confchg_fn_t cpg_totem_confchg_fn;
    unsigned int flags; /* 0 or CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF */
} cpg_model_v1_data_t;

/* --- handles -------------------------------------------------------------- */

/*
 * Old form of cpg_model_initialize(): CPG_MODEL_V1 with the two callbacks of
 * *callbacks (NULL = none), no totem callback, flags 0, context NULL.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_initialize(cpg_handle_t *handle, cpg_callbacks_t *callbacks);

/*
 * Opens a handle. model must be CPG_MODEL_V1; model_data (NULL = no callbacks)
 * points to a cpg_model_v1_data_t whose flags are 0 or
 * CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF, else CS_ERR_INVALID_PARAM (with
 * nothing leaked, unlike corosync). context is what cpg_context_get() returns
 * until cpg_context_set() changes it.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_model_initialize(cpg_handle_t *handle, cpg_model_t model,
                                                     cpg_model_data_t *model_data, void *context);

/*
 * Closes the handle and its iterators; afterwards every call with it returns
 * CS_ERR_BAD_HANDLE. A handle still in a group leaves it, and the others see
 * CPG_REASON_PROCDOWN (as in corosync). May be called from a callback. Unlike
 * corosync, a thread blocked in cpg_dispatch() on this handle, in any mode, is
 * woken and returns CS_ERR_BAD_HANDLE.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_finalize(cpg_handle_t handle);

/*
 * A descriptor that polls readable (POLLIN) while events wait for
 * cpg_dispatch(). It belongs to the handle (do not read, write or close it)
 * and stays the same for the handle's lifetime.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_fd_get(cpg_handle_t handle, int *fd);

/*
 * The largest message cpg_mcast_joined() and cpg_zcb_mcast_joined() accept
 * (the group_max_msg setting, 64 MiB by default; corosync: 1047552). It is
 * delivered whole; a larger one gets CS_ERR_TOO_BIG.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_max_atomic_msgsize_get(cpg_handle_t handle, uint32_t *size);

/* The caller's pointer stored with the handle. */
UCX_CPG_COROSYNC_API cs_error_t cpg_context_get(cpg_handle_t handle, void **context);

/* Stores a caller's pointer with the handle; the library never dereferences it. */
UCX_CPG_COROSYNC_API cs_error_t cpg_context_set(cpg_handle_t handle, void *context);

/*
 * Runs the callbacks of waiting events in the calling thread.
 *   CS_DISPATCH_ONE              waits for one event and handles it.
 *   CS_DISPATCH_ALL              handles what is waiting now, without waiting;
 *                                CS_OK also when nothing was. What keeps
 *                                arriving is taken for at most 1 ms more.
 *   CS_DISPATCH_BLOCKING         handles events until the handle is finalized
 *                                (then CS_ERR_BAD_HANDLE) or an error occurs.
 *   CS_DISPATCH_ONE_NONBLOCKING  handles at most one; CS_ERR_TRY_AGAIN if none.
 * Unlike corosync: cpg_finalize() from another thread wakes a waiting
 * dispatch; confchg lists are not limited to CPG_MEMBERS_MAX entries; the
 * dispatching thread needs no large stack.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_dispatch(cpg_handle_t handle,
                                             cs_dispatch_flags_t dispatch_types);

/* --- membership ----------------------------------------------------------- */

/*
 * Joins group. Returns once the join is submitted; the joiner's first
 * callback for the group is the confchg with itself in joined_list
 * (CPG_REASON_JOIN). CS_ERR_NAME_TOO_LONG if group->length >
 * CPG_MAX_NAME_LENGTH; CS_ERR_EXIST if the handle is already joined, or this
 * process already joined group through another handle. Unlike corosync: after
 * its cpg_leave() completes the handle may join again (any group); while that
 * leave is still in progress cpg_join() waits for it (up to 10 s, then
 * CS_ERR_TRY_AGAIN); a zero-length name is an ordinary group that leaves no ghost
 * member behind.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_join(cpg_handle_t handle, const struct cpg_name *group);

/*
 * Leaves the handle's group; group must name it. Every member, the leaver
 * included, gets a confchg with the leaver in left_list (CPG_REASON_LEAVE).
 * CS_ERR_NOT_EXIST if the handle is not joined, already leaving, or group is
 * not its group. Unlike corosync: a wrong name is refused (corosync accepts it
 * and leaves a ghost member); a leave right after cpg_join() is accepted and
 * ordered after the join without spinning; once the leave confchg has been
 * delivered the handle receives nothing more from the group.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_leave(cpg_handle_t handle, const struct cpg_name *group);

/*
 * Sends the concatenation of iovec[0 .. iov_len-1] to the handle's group.
 * Every member, the sender included, delivers it once and whole, in the
 * order it shares with confchgs; a message sent before the own join confchg
 * is delivered after it. CS_ERR_TRY_AGAIN is back-pressure: retry later.
 * Unlike corosync: CS_ERR_NOT_EXIST when the handle is not joined (corosync
 * returns CS_OK and drops the message); any iov_len works (corosync aborts at
 * 64 or more); queues towards slow receivers are bounded, which shows up as
 * CS_ERR_TRY_AGAIN here; nothing is printed to stderr.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
                                                 const struct iovec *iovec, unsigned int iov_len);

/*
 * The current members of groupName (joined or not; an unused name gives 0
 * entries). Unlike corosync, which ignores it, *member_list_entries on input
 * is the capacity of member_list; a value <= 0 (what corosync callers often
 * pass) means CPG_MEMBERS_MAX. On CS_OK it is set to the number of entries
 * written. If the group has more members than fit, at most the capacity is
 * written, *member_list_entries is set to the member count and
 * CS_ERR_NO_SPACE is returned. CS_ERR_INVALID_PARAM if a pointer is NULL.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_membership_get(cpg_handle_t handle, struct cpg_name *groupName,
                                                   struct cpg_address *member_list,
                                                   int *member_list_entries);

/* This node's id, the nodeid others see in this process's confchg entries and messages. */
UCX_CPG_COROSYNC_API cs_error_t cpg_local_get(cpg_handle_t handle, unsigned int *local_nodeid);

/*
 * CPG_FLOW_CONTROL_ENABLED while sends on this handle would get
 * CS_ERR_TRY_AGAIN, else CPG_FLOW_CONTROL_DISABLED. corosync always reports
 * DISABLED.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_flow_control_state_get(
    cpg_handle_t handle, cpg_flow_control_state_t *flow_control_enabled);

/* --- zero-copy send buffers ------------------------------------------------ */

/*
 * Allocates a size-byte send buffer for cpg_zcb_mcast_joined().
 * CS_ERR_NO_MEMORY on failure (corosync aborts the process).
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_zcb_alloc(cpg_handle_t handle, size_t size, void **buffer);

/*
 * Frees a buffer of cpg_zcb_alloc() on this handle; any other pointer gets
 * CS_ERR_INVALID_PARAM. cpg_finalize() frees the handle's remaining buffers.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_zcb_free(cpg_handle_t handle, void *buffer);

/*
 * Sends the first msg_len bytes of a cpg_zcb_alloc() buffer, as
 * cpg_mcast_joined() does; the buffer may be reused when the call returns
 * CS_OK. CS_ERR_INVALID_PARAM if msg is not such a buffer of this handle or
 * msg_len exceeds its size; CS_ERR_TOO_BIG above
 * cpg_max_atomic_msgsize_get(); CS_ERR_BUSY while an earlier send of the
 * buffer is in progress; CS_ERR_TIMEOUT if the library still reads the buffer
 * group_join_timeout_ms after queueing the message: it will be delivered, so
 * do not send it again (a retry would deliver it twice), and do not write the
 * buffer until a send of it stops returning CS_ERR_BUSY.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_zcb_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
                                                     void *msg, size_t msg_len);

/* --- iteration over all groups --------------------------------------------- */

/*
 * Starts an iteration over a snapshot of the groups (see
 * cpg_iteration_type_t). group names the group for CPG_ITERATION_ONE_GROUP
 * and must be NULL otherwise; a wrong combination gives CS_ERR_INVALID_PARAM.
 */
UCX_CPG_COROSYNC_API cs_error_t cpg_iteration_initialize(
    cpg_handle_t handle, cpg_iteration_type_t iteration_type, const struct cpg_name *group,
    cpg_iteration_handle_t *cpg_iteration_handle);

/* The next entry; CS_ERR_NO_SECTIONS after the last one. */
UCX_CPG_COROSYNC_API cs_error_t cpg_iteration_next(
    cpg_iteration_handle_t handle, struct cpg_iteration_description_t *description);

/* Ends an iteration. Iterations also end with the cpg handle they came from. */
UCX_CPG_COROSYNC_API cs_error_t cpg_iteration_finalize(cpg_iteration_handle_t handle);

#ifdef __cplusplus
}
#endif

#endif /* COROSYNC_CPG_H_DEFINED */
