/*
 * test_cpg_abi.c - the binary interface of <corosync/cpg.h> and
 * <corosync/corotypes.h> is the one of corosync 3.1.7 on x86_64.
 *
 * A program compiled against corosync's headers must run unmodified on
 * ucx_cpg's libcpg.so.4, so every size, offset, alignment, field type, enum
 * value, constant and prototype listed in the reference (cpg.md section 1) is
 * pinned here. The checks are made twice: as _Static_assert, so that a wrong
 * header does not even compile, and as cmocka tests over the same tables, so
 * that a run lists every value it checked. Function types are checked with
 * _Generic, whose operand is not evaluated, so the test needs no library to
 * link against.
 *
 * test/unit/cpg_abi_vs_corosync.sh compares the same facts against the
 * installed corosync headers when they are present.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>

#if !defined(__x86_64__) || !defined(__LP64__)
#error "the reference ABI is x86_64 LP64"
#endif


/* --- the facts, as tables ------------------------------------------------- */

/* 1 if expression e has exactly type T (after lvalue conversion), else 0. */
#define HAS_TYPE(e, T) _Generic((e), T: 1, default: 0)

/* 1 if field f of struct/typedef S has exactly type T. */
#define FIELD_HAS_TYPE(S, f, T) HAS_TYPE(((S *)0)->f, T)

/* 1 if function fn has exactly the type (*T). */
#define FN_HAS_TYPE(fn, T) HAS_TYPE(&(fn), T)

typedef struct {
    const char *what;
    long long actual;
    long long expected;
} abi_fact_t;

#define FACT(actual, expected) {#actual, (long long)(actual), (long long)(expected)},

/* One table entry (FACT) or one compile-time assertion (STATIC_FACT) per fact. */
#define STATIC_FACT(actual, expected) _Static_assert((actual) == (expected), #actual);

/* sizeof, reference 1.1 and 1.2 */
#define SIZE_FACTS(X)                                                                              \
    X(sizeof(cpg_handle_t), 8)                                                                     \
    X(sizeof(cpg_iteration_handle_t), 8)                                                           \
    X(sizeof(cs_time_t), 8)                                                                        \
    X(sizeof(cs_error_t), 4)                                                                       \
    X(sizeof(cs_dispatch_flags_t), 4)                                                              \
    X(sizeof(cpg_guarantee_t), 4)                                                                  \
    X(sizeof(cpg_flow_control_state_t), 4)                                                         \
    X(sizeof(cpg_reason_t), 4)                                                                     \
    X(sizeof(cpg_iteration_type_t), 4)                                                             \
    X(sizeof(cpg_model_t), 4)                                                                      \
    X(sizeof(struct cpg_name), 132)                                                                \
    X(sizeof(((struct cpg_name *)0)->value), 128)                                                  \
    X(sizeof(struct cpg_address), 12)                                                              \
    X(sizeof(struct cpg_ring_id), 16)                                                              \
    X(sizeof(struct cpg_iteration_description_t), 140)                                             \
    X(sizeof(cpg_callbacks_t), 16)                                                                 \
    X(sizeof(cpg_model_data_t), 4)                                                                 \
    X(sizeof(cpg_model_v1_data_t), 40)                                                             \
    X(sizeof(cs_name_t), 258)                                                                      \
    X(sizeof(((cs_name_t *)0)->value), 256)                                                        \
    X(sizeof(cs_version_t), 3)                                                                     \
    X(sizeof(cpg_deliver_fn_t), 8)                                                                 \
    X(sizeof(cpg_confchg_fn_t), 8)                                                                 \
    X(sizeof(cpg_totem_confchg_fn_t), 8)

/* _Alignof */
#define ALIGN_FACTS(X)                                                                             \
    X(alignof(cpg_handle_t), 8)                                                                    \
    X(alignof(cpg_iteration_handle_t), 8)                                                          \
    X(alignof(cs_time_t), 8)                                                                       \
    X(alignof(cs_error_t), 4)                                                                      \
    X(alignof(cs_dispatch_flags_t), 4)                                                             \
    X(alignof(cpg_guarantee_t), 4)                                                                 \
    X(alignof(cpg_flow_control_state_t), 4)                                                        \
    X(alignof(cpg_reason_t), 4)                                                                    \
    X(alignof(cpg_iteration_type_t), 4)                                                            \
    X(alignof(cpg_model_t), 4)                                                                     \
    X(alignof(struct cpg_name), 4)                                                                 \
    X(alignof(struct cpg_address), 4)                                                              \
    X(alignof(struct cpg_ring_id), 8)                                                              \
    X(alignof(struct cpg_iteration_description_t), 4)                                              \
    X(alignof(cpg_callbacks_t), 8)                                                                 \
    X(alignof(cpg_model_data_t), 4)                                                                \
    X(alignof(cpg_model_v1_data_t), 8)                                                             \
    X(alignof(cs_name_t), 2)                                                                       \
    X(alignof(cs_version_t), 1)

/* offsetof, reference 1.2 */
#define OFFSET_FACTS(X)                                                                            \
    X(offsetof(struct cpg_name, length), 0)                                                        \
    X(offsetof(struct cpg_name, value), 4)                                                         \
    X(offsetof(struct cpg_address, nodeid), 0)                                                     \
    X(offsetof(struct cpg_address, pid), 4)                                                        \
    X(offsetof(struct cpg_address, reason), 8)                                                     \
    X(offsetof(struct cpg_ring_id, nodeid), 0)                                                     \
    X(offsetof(struct cpg_ring_id, seq), 8)                                                        \
    X(offsetof(struct cpg_iteration_description_t, group), 0)                                      \
    X(offsetof(struct cpg_iteration_description_t, nodeid), 132)                                   \
    X(offsetof(struct cpg_iteration_description_t, pid), 136)                                      \
    X(offsetof(cpg_callbacks_t, cpg_deliver_fn), 0)                                                \
    X(offsetof(cpg_callbacks_t, cpg_confchg_fn), 8)                                                \
    X(offsetof(cpg_model_data_t, model), 0)                                                        \
    X(offsetof(cpg_model_v1_data_t, model), 0)                                                     \
    X(offsetof(cpg_model_v1_data_t, cpg_deliver_fn), 8)                                            \
    X(offsetof(cpg_model_v1_data_t, cpg_confchg_fn), 16)                                           \
    X(offsetof(cpg_model_v1_data_t, cpg_totem_confchg_fn), 24)                                     \
    X(offsetof(cpg_model_v1_data_t, flags), 32)                                                    \
    X(offsetof(cs_name_t, length), 0)                                                              \
    X(offsetof(cs_name_t, value), 2)                                                               \
    X(offsetof(cs_version_t, releaseCode), 0)                                                      \
    X(offsetof(cs_version_t, majorVersion), 1)                                                     \
    X(offsetof(cs_version_t, minorVersion), 2)

/* Exact types of handles, scalars and struct fields (1 = matches). */
#define TYPE_FACTS(X)                                                                              \
    X(HAS_TYPE((cpg_handle_t)0, uint64_t), 1)                                                      \
    X(HAS_TYPE((cpg_iteration_handle_t)0, uint64_t), 1)                                            \
    X(HAS_TYPE((cs_time_t)0, int64_t), 1)                                                          \
    X(FIELD_HAS_TYPE(struct cpg_name, length, uint32_t), 1)                                        \
    X(FIELD_HAS_TYPE(struct cpg_name, value[0], char), 1)                                          \
    X(FIELD_HAS_TYPE(struct cpg_address, nodeid, uint32_t), 1)                                     \
    X(FIELD_HAS_TYPE(struct cpg_address, pid, uint32_t), 1)                                        \
    X(FIELD_HAS_TYPE(struct cpg_address, reason, uint32_t), 1)                                     \
    X(FIELD_HAS_TYPE(struct cpg_ring_id, nodeid, uint32_t), 1)                                     \
    X(FIELD_HAS_TYPE(struct cpg_ring_id, seq, uint64_t), 1)                                        \
    X(FIELD_HAS_TYPE(struct cpg_iteration_description_t, group, struct cpg_name), 1)               \
    X(FIELD_HAS_TYPE(struct cpg_iteration_description_t, nodeid, uint32_t), 1)                    \
    X(FIELD_HAS_TYPE(struct cpg_iteration_description_t, pid, uint32_t), 1)                       \
    X(FIELD_HAS_TYPE(cpg_callbacks_t, cpg_deliver_fn, cpg_deliver_fn_t), 1)                        \
    X(FIELD_HAS_TYPE(cpg_callbacks_t, cpg_confchg_fn, cpg_confchg_fn_t), 1)                        \
    X(FIELD_HAS_TYPE(cpg_model_data_t, model, cpg_model_t), 1)                                     \
    X(FIELD_HAS_TYPE(cpg_model_v1_data_t, model, cpg_model_t), 1)                                  \
    X(FIELD_HAS_TYPE(cpg_model_v1_data_t, cpg_deliver_fn, cpg_deliver_fn_t), 1)                    \
    X(FIELD_HAS_TYPE(cpg_model_v1_data_t, cpg_confchg_fn, cpg_confchg_fn_t), 1)                    \
    X(FIELD_HAS_TYPE(cpg_model_v1_data_t, cpg_totem_confchg_fn, cpg_totem_confchg_fn_t), 1)        \
    X(FIELD_HAS_TYPE(cpg_model_v1_data_t, flags, unsigned int), 1)                                 \
    X(FIELD_HAS_TYPE(cs_name_t, length, uint16_t), 1)                                              \
    X(FIELD_HAS_TYPE(cs_name_t, value[0], uint8_t), 1)                                             \
    X(FIELD_HAS_TYPE(cs_version_t, releaseCode, char), 1)                                          \
    X(FIELD_HAS_TYPE(cs_version_t, majorVersion, unsigned char), 1)                                \
    X(FIELD_HAS_TYPE(cs_version_t, minorVersion, unsigned char), 1)

/* The callback types, msg deliberately non-const (1 = matches). */
typedef void (*ref_deliver_fn_t)(cpg_handle_t, const struct cpg_name *, uint32_t, uint32_t, void *,
                                 size_t);
typedef void (*ref_confchg_fn_t)(cpg_handle_t, const struct cpg_name *, const struct cpg_address *,
                                 size_t, const struct cpg_address *, size_t,
                                 const struct cpg_address *, size_t);
typedef void (*ref_totem_confchg_fn_t)(cpg_handle_t, struct cpg_ring_id, uint32_t,
                                       const uint32_t *);

#define CALLBACK_FACTS(X)                                                                          \
    X(HAS_TYPE((cpg_deliver_fn_t)0, ref_deliver_fn_t), 1)                                          \
    X(HAS_TYPE((cpg_confchg_fn_t)0, ref_confchg_fn_t), 1)                                          \
    X(HAS_TYPE((cpg_totem_confchg_fn_t)0, ref_totem_confchg_fn_t), 1)

/* The 20 cpg_* functions and the 3 corotypes.h helpers, reference 1.4 (1 = matches). */
#define FUNCTION_FACTS(X)                                                                          \
    X(FN_HAS_TYPE(cpg_initialize, cs_error_t(*)(cpg_handle_t *, cpg_callbacks_t *)), 1)            \
    X(FN_HAS_TYPE(cpg_model_initialize,                                                            \
                  cs_error_t(*)(cpg_handle_t *, cpg_model_t, cpg_model_data_t *, void *)), 1)      \
    X(FN_HAS_TYPE(cpg_finalize, cs_error_t(*)(cpg_handle_t)), 1)                                   \
    X(FN_HAS_TYPE(cpg_fd_get, cs_error_t(*)(cpg_handle_t, int *)), 1)                              \
    X(FN_HAS_TYPE(cpg_max_atomic_msgsize_get, cs_error_t(*)(cpg_handle_t, uint32_t *)), 1)         \
    X(FN_HAS_TYPE(cpg_context_get, cs_error_t(*)(cpg_handle_t, void **)), 1)                       \
    X(FN_HAS_TYPE(cpg_context_set, cs_error_t(*)(cpg_handle_t, void *)), 1)                        \
    X(FN_HAS_TYPE(cpg_dispatch, cs_error_t(*)(cpg_handle_t, cs_dispatch_flags_t)), 1)              \
    X(FN_HAS_TYPE(cpg_join, cs_error_t(*)(cpg_handle_t, const struct cpg_name *)), 1)              \
    X(FN_HAS_TYPE(cpg_leave, cs_error_t(*)(cpg_handle_t, const struct cpg_name *)), 1)             \
    X(FN_HAS_TYPE(cpg_mcast_joined, cs_error_t(*)(cpg_handle_t, cpg_guarantee_t,                   \
                                                  const struct iovec *, unsigned int)), 1)         \
    X(FN_HAS_TYPE(cpg_membership_get, cs_error_t(*)(cpg_handle_t, struct cpg_name *,               \
                                                    struct cpg_address *, int *)), 1)              \
    X(FN_HAS_TYPE(cpg_local_get, cs_error_t(*)(cpg_handle_t, unsigned int *)), 1)                  \
    X(FN_HAS_TYPE(cpg_flow_control_state_get,                                                      \
                  cs_error_t(*)(cpg_handle_t, cpg_flow_control_state_t *)), 1)                     \
    X(FN_HAS_TYPE(cpg_zcb_alloc, cs_error_t(*)(cpg_handle_t, size_t, void **)), 1)                 \
    X(FN_HAS_TYPE(cpg_zcb_free, cs_error_t(*)(cpg_handle_t, void *)), 1)                           \
    X(FN_HAS_TYPE(cpg_zcb_mcast_joined,                                                            \
                  cs_error_t(*)(cpg_handle_t, cpg_guarantee_t, void *, size_t)), 1)                \
    X(FN_HAS_TYPE(cpg_iteration_initialize,                                                        \
                  cs_error_t(*)(cpg_handle_t, cpg_iteration_type_t, const struct cpg_name *,       \
                                cpg_iteration_handle_t *)), 1)                                     \
    X(FN_HAS_TYPE(cpg_iteration_next,                                                              \
                  cs_error_t(*)(cpg_iteration_handle_t, struct cpg_iteration_description_t *)), 1) \
    X(FN_HAS_TYPE(cpg_iteration_finalize, cs_error_t(*)(cpg_iteration_handle_t)), 1)               \
    X(FN_HAS_TYPE(qb_to_cs_error, cs_error_t(*)(int)), 1)                                          \
    X(FN_HAS_TYPE(cs_strerror, const char *(*)(cs_error_t)), 1)                                    \
    X(FN_HAS_TYPE(hdb_error_to_cs, cs_error_t(*)(int)), 1)                                         \
    X(FN_HAS_TYPE(cs_timestamp_get, uint64_t(*)(void)), 1)

/* Every cs_error_t value, reference 1.5 (29 is unused). */
#define CS_ERROR_FACTS(X)                                                                          \
    X(CS_OK, 1)                                                                                    \
    X(CS_ERR_LIBRARY, 2)                                                                           \
    X(CS_ERR_VERSION, 3)                                                                           \
    X(CS_ERR_INIT, 4)                                                                              \
    X(CS_ERR_TIMEOUT, 5)                                                                           \
    X(CS_ERR_TRY_AGAIN, 6)                                                                         \
    X(CS_ERR_INVALID_PARAM, 7)                                                                     \
    X(CS_ERR_NO_MEMORY, 8)                                                                         \
    X(CS_ERR_BAD_HANDLE, 9)                                                                        \
    X(CS_ERR_BUSY, 10)                                                                             \
    X(CS_ERR_ACCESS, 11)                                                                           \
    X(CS_ERR_NOT_EXIST, 12)                                                                        \
    X(CS_ERR_NAME_TOO_LONG, 13)                                                                    \
    X(CS_ERR_EXIST, 14)                                                                            \
    X(CS_ERR_NO_SPACE, 15)                                                                         \
    X(CS_ERR_INTERRUPT, 16)                                                                        \
    X(CS_ERR_NAME_NOT_FOUND, 17)                                                                   \
    X(CS_ERR_NO_RESOURCES, 18)                                                                     \
    X(CS_ERR_NOT_SUPPORTED, 19)                                                                    \
    X(CS_ERR_BAD_OPERATION, 20)                                                                    \
    X(CS_ERR_FAILED_OPERATION, 21)                                                                 \
    X(CS_ERR_MESSAGE_ERROR, 22)                                                                    \
    X(CS_ERR_QUEUE_FULL, 23)                                                                       \
    X(CS_ERR_QUEUE_NOT_AVAILABLE, 24)                                                              \
    X(CS_ERR_BAD_FLAGS, 25)                                                                        \
    X(CS_ERR_TOO_BIG, 26)                                                                          \
    X(CS_ERR_NO_SECTIONS, 27)                                                                      \
    X(CS_ERR_CONTEXT_NOT_FOUND, 28)                                                                \
    X(CS_ERR_TOO_MANY_GROUPS, 30)                                                                  \
    X(CS_ERR_SECURITY, 100)

/* The other enums, reference 1.5. */
#define ENUM_FACTS(X)                                                                              \
    X(CS_DISPATCH_ONE, 1)                                                                          \
    X(CS_DISPATCH_ALL, 2)                                                                          \
    X(CS_DISPATCH_BLOCKING, 3)                                                                     \
    X(CS_DISPATCH_ONE_NONBLOCKING, 4)                                                              \
    X(CPG_TYPE_UNORDERED, 0)                                                                       \
    X(CPG_TYPE_FIFO, 1)                                                                            \
    X(CPG_TYPE_AGREED, 2)                                                                          \
    X(CPG_TYPE_SAFE, 3)                                                                            \
    X(CPG_FLOW_CONTROL_DISABLED, 0)                                                                \
    X(CPG_FLOW_CONTROL_ENABLED, 1)                                                                 \
    X(CPG_REASON_UNDEFINED, 0)                                                                     \
    X(CPG_REASON_JOIN, 1)                                                                          \
    X(CPG_REASON_LEAVE, 2)                                                                         \
    X(CPG_REASON_NODEDOWN, 3)                                                                      \
    X(CPG_REASON_NODEUP, 4)                                                                        \
    X(CPG_REASON_PROCDOWN, 5)                                                                      \
    X(CPG_ITERATION_NAME_ONLY, 1)                                                                  \
    X(CPG_ITERATION_ONE_GROUP, 2)                                                                  \
    X(CPG_ITERATION_ALL, 3)                                                                        \
    X(CPG_MODEL_V1, 1)                                                                             \
    X(HAS_TYPE(CS_OK, int), 1)                                                                     \
    X(HAS_TYPE(CPG_MODEL_V1, int), 1)

/* Numeric constants, reference 1.2 (types checked in test_numeric_constant_types). */
#define CONSTANT_FACTS(X)                                                                          \
    X(CPG_MAX_NAME_LENGTH, 128)                                                                    \
    X(CPG_MEMBERS_MAX, 128)                                                                        \
    X(CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF, 0x01)                                               \
    X(CS_MAX_NAME_LENGTH, 256)                                                                     \
    X(CS_IPC_TIMEOUT_MS, -1)                                                                       \
    X(CS_TRACK_CURRENT, 1)                                                                         \
    X(CS_TRACK_CHANGES, 2)                                                                         \
    X(CS_TRACK_CHANGES_ONLY, 4)                                                                    \
    X(CS_TRUE, 1)                                                                                  \
    X(CS_FALSE, 0)                                                                                 \
    X(CS_TIME_END, INT64_MAX)                                                                      \
    X(CS_TIME_MS_IN_SEC, 1000)                                                                     \
    X(CS_TIME_US_IN_SEC, 1000000)                                                                  \
    X(CS_TIME_NS_IN_SEC, 1000000000)                                                               \
    X(CS_TIME_US_IN_MSEC, 1000)                                                                    \
    X(CS_TIME_NS_IN_MSEC, 1000000)                                                                 \
    X(CS_TIME_NS_IN_USEC, 1000)                                                                    \
    X(CS_MAX(3, 7), 7)                                                                             \
    X(CS_MAX(-3, -7), -3)                                                                          \
    X(HAS_TYPE(CS_TIME_END, cs_time_t), 1)                                                         \
    X(HAS_TYPE(CS_TIME_MS_IN_SEC, unsigned long long), 1)                                          \
    X(HAS_TYPE(CS_TIME_US_IN_SEC, unsigned long long), 1)                                          \
    X(HAS_TYPE(CS_TIME_NS_IN_SEC, unsigned long long), 1)                                          \
    X(HAS_TYPE(CS_TIME_US_IN_MSEC, unsigned long long), 1)                                         \
    X(HAS_TYPE(CS_TIME_NS_IN_MSEC, unsigned long long), 1)                                         \
    X(HAS_TYPE(CS_TIME_NS_IN_USEC, unsigned long long), 1)                                         \
    X(HAS_TYPE(CS_IPC_TIMEOUT_MS, int), 1)

/* The preprocessor must see the constants too (#if CPG_MAX_NAME_LENGTH ...). */
#if CPG_MAX_NAME_LENGTH != 128 || CPG_MEMBERS_MAX != 128 || CS_MAX_NAME_LENGTH != 256 ||          \
    CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF != 1 || CS_TRUE != 1 || CS_FALSE != 0 ||               \
    CS_IPC_TIMEOUT_MS != -1 || CS_TRACK_CURRENT != 1 || CS_TRACK_CHANGES != 2 ||                   \
    CS_TRACK_CHANGES_ONLY != 4 || CS_TIME_NS_IN_SEC != 1000000000
#error "a constant has the wrong value for the preprocessor"
#endif

/* Include guards are corosync's own, so a second copy of either header is skipped. */
#if !defined(COROSYNC_CPG_H_DEFINED) || !defined(COROTYPES_H_DEFINED)
#error "include guards differ from corosync's"
#endif

SIZE_FACTS(STATIC_FACT)
ALIGN_FACTS(STATIC_FACT)
OFFSET_FACTS(STATIC_FACT)
TYPE_FACTS(STATIC_FACT)
CALLBACK_FACTS(STATIC_FACT)
FUNCTION_FACTS(STATIC_FACT)
CS_ERROR_FACTS(STATIC_FACT)
ENUM_FACTS(STATIC_FACT)
CONSTANT_FACTS(STATIC_FACT)


/* --- helpers -------------------------------------------------------------- */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Checks every fact of a table and names each one that does not hold. */
static void check_facts(const abi_fact_t *facts, size_t n)
{
    size_t i, wrong = 0;

    for (i = 0; i < n; i++) {
        if (facts[i].actual != facts[i].expected) {
            print_error("%s is %lld, corosync has %lld\n", facts[i].what, facts[i].actual,
                        facts[i].expected);
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
    assert_true(n > 0);
}

#define CHECK_TABLE(FACTS)                                                                         \
    do {                                                                                           \
        static const abi_fact_t facts[] = {FACTS(FACT)};                                           \
        check_facts(facts, NELEM(facts));                                                          \
    } while (0)


/* --- tests ---------------------------------------------------------------- */

static void test_struct_and_scalar_sizes_are_corosyncs(void **state)
{
    (void)state;
    CHECK_TABLE(SIZE_FACTS);
}

static void test_alignments_are_corosyncs(void **state)
{
    (void)state;
    CHECK_TABLE(ALIGN_FACTS);
}

static void test_field_offsets_are_corosyncs(void **state)
{
    (void)state;
    CHECK_TABLE(OFFSET_FACTS);
}

static void test_field_and_handle_types_are_corosyncs(void **state)
{
    (void)state;
    CHECK_TABLE(TYPE_FACTS);
}

static void test_callback_types_are_corosyncs_with_non_const_msg(void **state)
{
    (void)state;
    CHECK_TABLE(CALLBACK_FACTS);
}

static void test_all_function_prototypes_are_corosyncs(void **state)
{
    static const abi_fact_t facts[] = {FUNCTION_FACTS(FACT)};

    (void)state;
    assert_int_equal(NELEM(facts), 20 + 3 + 1);
    check_facts(facts, NELEM(facts));
}

static void test_every_cs_error_value_is_corosyncs(void **state)
{
    static const abi_fact_t facts[] = {CS_ERROR_FACTS(FACT)};

    (void)state;
    assert_int_equal(NELEM(facts), 30);
    check_facts(facts, NELEM(facts));
}

static void test_other_enum_values_are_corosyncs(void **state)
{
    (void)state;
    CHECK_TABLE(ENUM_FACTS);
}

static void test_numeric_constants_are_corosyncs(void **state)
{
    (void)state;
    CHECK_TABLE(CONSTANT_FACTS);
}

static void test_in_c_cs_true_is_an_int(void **state)
{
    (void)state;
    assert_int_equal(HAS_TYPE(CS_TRUE, int), 1);
    assert_int_equal(HAS_TYPE(CS_FALSE, int), 1);
}

static void test_print_macros_format_as_corosyncs(void **state)
{
    char buf[64];
    struct cpg_ring_id ring = {1, 5};

    (void)state;
    assert_string_equal(CS_PRI_NODE_ID, "%" PRIu32);
    assert_string_equal(CS_PRI_NODE_ID_PADDED, "%10" PRIu32);
    assert_string_equal(CS_PRI_RING_ID_SEQ, "%" PRIx64);
    assert_string_equal(CS_PRI_RING_ID, "%" PRIx32 ".%" PRIx64);

    snprintf(buf, sizeof(buf), CS_PRI_RING_ID, ring.nodeid, ring.seq);
    assert_string_equal(buf, "1.5");
    snprintf(buf, sizeof(buf), CS_PRI_NODE_ID, UINT32_MAX);
    assert_string_equal(buf, "4294967295");
    snprintf(buf, sizeof(buf), CS_PRI_NODE_ID_PADDED, (uint32_t)42);
    assert_string_equal(buf, "        42");
    snprintf(buf, sizeof(buf), CS_PRI_RING_ID_SEQ, (uint64_t)0xabcdef0123ull);
    assert_string_equal(buf, "abcdef0123");
}

static void test_cs_timestamp_get_counts_nanoseconds_forward(void **state)
{
    uint64_t t0, t1;
    int i;

    (void)state;
    t0 = cs_timestamp_get();
    for (i = 0; i < 1000; i++) {
        t1 = cs_timestamp_get();
        assert_true(t1 >= t0);
        t0 = t1;
    }
    /* Nanoseconds, not micro- or milliseconds: more than 1 s worth since the clock's epoch. */
    assert_true(t0 > CS_TIME_NS_IN_SEC);
}

/* The structs hold what the reference says, laid out so a byte-wise view matches. */
static void test_cpg_name_holds_128_bytes_after_a_32_bit_length(void **state)
{
    struct cpg_name name;
    unsigned char raw[sizeof(name)];
    uint32_t len = 5;

    (void)state;
    memset(&name, 0, sizeof(name));
    name.length = len;
    memcpy(name.value, "GROUP", 5);
    name.value[CPG_MAX_NAME_LENGTH - 1] = 'z';
    memcpy(raw, &name, sizeof(raw));
    assert_memory_equal(raw, &len, sizeof(len));
    assert_memory_equal(raw + 4, "GROUP", 5);
    assert_int_equal(raw[131], 'z');
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_struct_and_scalar_sizes_are_corosyncs),
        cmocka_unit_test(test_alignments_are_corosyncs),
        cmocka_unit_test(test_field_offsets_are_corosyncs),
        cmocka_unit_test(test_field_and_handle_types_are_corosyncs),
        cmocka_unit_test(test_callback_types_are_corosyncs_with_non_const_msg),
        cmocka_unit_test(test_all_function_prototypes_are_corosyncs),
        cmocka_unit_test(test_every_cs_error_value_is_corosyncs),
        cmocka_unit_test(test_other_enum_values_are_corosyncs),
        cmocka_unit_test(test_numeric_constants_are_corosyncs),
        cmocka_unit_test(test_in_c_cs_true_is_an_int),
        cmocka_unit_test(test_print_macros_format_as_corosyncs),
        cmocka_unit_test(test_cs_timestamp_get_counts_nanoseconds_forward),
        cmocka_unit_test(test_cpg_name_holds_128_bytes_after_a_32_bit_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
