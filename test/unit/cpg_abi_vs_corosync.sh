#!/bin/sh
#
# cpg_abi_vs_corosync.sh - compare ucx_cpg's <corosync/cpg.h> and
# <corosync/corotypes.h> with the installed corosync headers (Debian:
# libcpg-dev, /usr/include/corosync).
#
# The same small program, which prints every sizeof, alignment, offsetof,
# field type, enum value and macro value of the two headers, is built once
# against corosync's headers and once against ours (-I include), and the
# outputs are diffed. It is built as C and, when a C++ compiler is present, as
# C++ too, where it also prints the exact type of every function, callback
# and field (typeid). In addition the script compares the function
# declarations (gcc -aux-info) and the names of the CS_* / CPG_* macros.
#
# Exit status (automake conventions): 0 identical, 1 a difference (or our
# headers do not compile), 77 skipped (no corosync headers or no compiler),
# 99 the program does not build against corosync's own headers.
#
# Environment: CC (default cc), CXX (default c++), COROSYNC_INCLUDEDIR (the
# directory holding corosync/cpg.h, default /usr/include), srcdir (automake).

set -u

here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/include/corosync/cpg.h" ]; then
    top=$(cd "$srcdir" && pwd)
else
    top=$(cd "$here/../.." && pwd)
fi
ours_inc="$top/include"
sys_inc=${COROSYNC_INCLUDEDIR:-/usr/include}
CC=${CC:-cc}
CXX=${CXX:-c++}

if [ ! -f "$sys_inc/corosync/cpg.h" ] || [ ! -f "$sys_inc/corosync/corotypes.h" ]; then
    echo "SKIP: corosync headers not found in $sys_inc/corosync (install libcpg-dev:" \
         "apt-get install -y libcpg-dev, or set COROSYNC_INCLUDEDIR)"
    exit 77
fi
if [ ! -f "$ours_inc/corosync/cpg.h" ]; then
    echo "FAIL: ucx_cpg's header $ours_inc/corosync/cpg.h is missing"
    exit 1
fi
if ! command -v "${CC%% *}" >/dev/null 2>&1; then
    echo "SKIP: no C compiler ($CC)"
    exit 77
fi
have_cxx=yes
if ! command -v "${CXX%% *}" >/dev/null 2>&1; then
    have_cxx=no
fi

# Flags selecting one set of headers. /usr/include is searched anyway and must
# not be given with -I (that would reorder the system directories).
if [ "$sys_inc" = /usr/include ]; then
    corosync_flags=""
else
    corosync_flags="-I$sys_inc"
fi
ours_flags="-I$ours_inc"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpg_abi_vs_corosync.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

# --- the program ------------------------------------------------------------

cat > "$tmp/abi_print.c" <<'EOF'
/* Prints the binary interface of <corosync/cpg.h>, one fact per line. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>

#ifdef __cplusplus
#include <cstdlib>
#include <cxxabi.h>
#include <typeinfo>

static const char *pretty(const char *mangled)
{
    int status = 0;
    char *s = abi::__cxa_demangle(mangled, NULL, NULL, &status);

    return status == 0 && s != NULL ? s : mangled; /* leaked; the program is short-lived */
}
#define EXPR_TYPE(e)  pretty(typeid(e).name())
#define TYPE_NAME(T)  pretty(typeid(T).name())
#define ALIGN_OF(T)   alignof(T)
#else
#define EXPR_TYPE(e)                                                                               \
    _Generic((e), _Bool: "_Bool", char: "char", signed char: "signed char",                        \
             unsigned char: "unsigned char", short: "short", unsigned short: "unsigned short",     \
             int: "int", unsigned int: "unsigned int", long: "long",                               \
             unsigned long: "unsigned long", long long: "long long",                               \
             unsigned long long: "unsigned long long", char *: "char *",                           \
             const char *: "const char *", unsigned char *: "unsigned char *", default: "other")
#define TYPE_NAME(T)  EXPR_TYPE(*(T *)0)
#define ALIGN_OF(T)   _Alignof(T)
#endif

#define TYPE(T)                                                                                    \
    printf("type %s: sizeof %zu alignof %zu is %s\n", #T, sizeof(T), (size_t)ALIGN_OF(T),          \
           TYPE_NAME(T))
#define FIELD(T, f)                                                                                \
    printf("field %s.%s: offset %zu sizeof %zu is %s\n", #T, #f, offsetof(T, f),                   \
           sizeof(((T *)0)->f), EXPR_TYPE(((T *)0)->f))
#define VALUE(e) printf("value %s = %lld is %s\n", #e, (long long)(e), EXPR_TYPE(e))
#define STRING(e) printf("string %s = \"%s\"\n", #e, e)

#ifdef __cplusplus
#define FUNCTION(fn) printf("function %s is %s\n", #fn, EXPR_TYPE(fn))
#else
#define FUNCTION(fn) ((void)sizeof(&(fn)), printf("function %s declared\n", #fn))
#endif

int main(void)
{
    /* scalars, handles, enums, callbacks, structs */
    TYPE(cs_time_t);
    TYPE(cpg_handle_t);
    TYPE(cpg_iteration_handle_t);
    TYPE(cs_error_t);
    TYPE(cs_dispatch_flags_t);
    TYPE(cpg_guarantee_t);
    TYPE(cpg_flow_control_state_t);
    TYPE(cpg_reason_t);
    TYPE(cpg_iteration_type_t);
    TYPE(cpg_model_t);
    TYPE(cpg_deliver_fn_t);
    TYPE(cpg_confchg_fn_t);
    TYPE(cpg_totem_confchg_fn_t);
    TYPE(cs_name_t);
    TYPE(cs_version_t);
    TYPE(struct cpg_address);
    TYPE(struct cpg_name);
    TYPE(struct cpg_iteration_description_t);
    TYPE(struct cpg_ring_id);
    TYPE(cpg_callbacks_t);
    TYPE(cpg_model_data_t);
    TYPE(cpg_model_v1_data_t);

    FIELD(cs_name_t, length);
    FIELD(cs_name_t, value);
    FIELD(cs_version_t, releaseCode);
    FIELD(cs_version_t, majorVersion);
    FIELD(cs_version_t, minorVersion);
    FIELD(struct cpg_address, nodeid);
    FIELD(struct cpg_address, pid);
    FIELD(struct cpg_address, reason);
    FIELD(struct cpg_name, length);
    FIELD(struct cpg_name, value);
    FIELD(struct cpg_iteration_description_t, group);
    FIELD(struct cpg_iteration_description_t, nodeid);
    FIELD(struct cpg_iteration_description_t, pid);
    FIELD(struct cpg_ring_id, nodeid);
    FIELD(struct cpg_ring_id, seq);
    FIELD(cpg_callbacks_t, cpg_deliver_fn);
    FIELD(cpg_callbacks_t, cpg_confchg_fn);
    FIELD(cpg_model_data_t, model);
    FIELD(cpg_model_v1_data_t, model);
    FIELD(cpg_model_v1_data_t, cpg_deliver_fn);
    FIELD(cpg_model_v1_data_t, cpg_confchg_fn);
    FIELD(cpg_model_v1_data_t, cpg_totem_confchg_fn);
    FIELD(cpg_model_v1_data_t, flags);

    /* enum values */
    VALUE(CS_DISPATCH_ONE);
    VALUE(CS_DISPATCH_ALL);
    VALUE(CS_DISPATCH_BLOCKING);
    VALUE(CS_DISPATCH_ONE_NONBLOCKING);
    VALUE(CS_OK);
    VALUE(CS_ERR_LIBRARY);
    VALUE(CS_ERR_VERSION);
    VALUE(CS_ERR_INIT);
    VALUE(CS_ERR_TIMEOUT);
    VALUE(CS_ERR_TRY_AGAIN);
    VALUE(CS_ERR_INVALID_PARAM);
    VALUE(CS_ERR_NO_MEMORY);
    VALUE(CS_ERR_BAD_HANDLE);
    VALUE(CS_ERR_BUSY);
    VALUE(CS_ERR_ACCESS);
    VALUE(CS_ERR_NOT_EXIST);
    VALUE(CS_ERR_NAME_TOO_LONG);
    VALUE(CS_ERR_EXIST);
    VALUE(CS_ERR_NO_SPACE);
    VALUE(CS_ERR_INTERRUPT);
    VALUE(CS_ERR_NAME_NOT_FOUND);
    VALUE(CS_ERR_NO_RESOURCES);
    VALUE(CS_ERR_NOT_SUPPORTED);
    VALUE(CS_ERR_BAD_OPERATION);
    VALUE(CS_ERR_FAILED_OPERATION);
    VALUE(CS_ERR_MESSAGE_ERROR);
    VALUE(CS_ERR_QUEUE_FULL);
    VALUE(CS_ERR_QUEUE_NOT_AVAILABLE);
    VALUE(CS_ERR_BAD_FLAGS);
    VALUE(CS_ERR_TOO_BIG);
    VALUE(CS_ERR_NO_SECTIONS);
    VALUE(CS_ERR_CONTEXT_NOT_FOUND);
    VALUE(CS_ERR_TOO_MANY_GROUPS);
    VALUE(CS_ERR_SECURITY);
    VALUE(CPG_TYPE_UNORDERED);
    VALUE(CPG_TYPE_FIFO);
    VALUE(CPG_TYPE_AGREED);
    VALUE(CPG_TYPE_SAFE);
    VALUE(CPG_FLOW_CONTROL_DISABLED);
    VALUE(CPG_FLOW_CONTROL_ENABLED);
    VALUE(CPG_REASON_UNDEFINED);
    VALUE(CPG_REASON_JOIN);
    VALUE(CPG_REASON_LEAVE);
    VALUE(CPG_REASON_NODEDOWN);
    VALUE(CPG_REASON_NODEUP);
    VALUE(CPG_REASON_PROCDOWN);
    VALUE(CPG_ITERATION_NAME_ONLY);
    VALUE(CPG_ITERATION_ONE_GROUP);
    VALUE(CPG_ITERATION_ALL);
    VALUE(CPG_MODEL_V1);

    /* macros */
    VALUE(CS_FALSE);
    VALUE(CS_TRUE);
    VALUE(CS_MAX_NAME_LENGTH);
    VALUE(CS_TIME_END);
    VALUE(CS_MAX(2, 9));
    VALUE(CS_TRACK_CURRENT);
    VALUE(CS_TRACK_CHANGES);
    VALUE(CS_TRACK_CHANGES_ONLY);
    VALUE(CS_IPC_TIMEOUT_MS);
    VALUE(CS_TIME_MS_IN_SEC);
    VALUE(CS_TIME_US_IN_SEC);
    VALUE(CS_TIME_NS_IN_SEC);
    VALUE(CS_TIME_US_IN_MSEC);
    VALUE(CS_TIME_NS_IN_MSEC);
    VALUE(CS_TIME_NS_IN_USEC);
    VALUE(CPG_MAX_NAME_LENGTH);
    VALUE(CPG_MEMBERS_MAX);
    VALUE(CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF);
    STRING(CS_PRI_NODE_ID);
    STRING(CS_PRI_NODE_ID_PADDED);
    STRING(CS_PRI_RING_ID_SEQ);
    STRING(CS_PRI_RING_ID);
    printf("ring id 1,5 prints as " CS_PRI_RING_ID "\n", (uint32_t)1, (uint64_t)5);

    /* functions */
    FUNCTION(cs_timestamp_get);
    FUNCTION(qb_to_cs_error);
    FUNCTION(cs_strerror);
    FUNCTION(hdb_error_to_cs);
    FUNCTION(cpg_initialize);
    FUNCTION(cpg_model_initialize);
    FUNCTION(cpg_finalize);
    FUNCTION(cpg_fd_get);
    FUNCTION(cpg_max_atomic_msgsize_get);
    FUNCTION(cpg_context_get);
    FUNCTION(cpg_context_set);
    FUNCTION(cpg_dispatch);
    FUNCTION(cpg_join);
    FUNCTION(cpg_leave);
    FUNCTION(cpg_mcast_joined);
    FUNCTION(cpg_membership_get);
    FUNCTION(cpg_local_get);
    FUNCTION(cpg_flow_control_state_get);
    FUNCTION(cpg_zcb_alloc);
    FUNCTION(cpg_zcb_free);
    FUNCTION(cpg_zcb_mcast_joined);
    FUNCTION(cpg_iteration_initialize);
    FUNCTION(cpg_iteration_next);
    FUNCTION(cpg_iteration_finalize);
    return 0;
}
EOF

# --- helpers ----------------------------------------------------------------

status=0

# same LABEL FILE_COROSYNC FILE_OURS: diff two outputs, remember a difference.
same()
{
    if diff -u --label "corosync: $1" --label "ucx_cpg: $1" "$2" "$3" >"$tmp/diff"; then
        echo "ok: $1 identical ($(wc -l <"$2") lines)"
    else
        echo "DIFFERENT: $1"
        cat "$tmp/diff"
        status=1
    fi
}

# headers_used COMPILER FLAGS...: the corosync/*.h files a build includes.
headers_used()
{
    _cc=$1
    shift
    # shellcheck disable=SC1003,SC2020
    $_cc "$@" -M "$tmp/abi_print.c" 2>/dev/null | tr ' \\' '\n\n' | grep '/corosync/[a-z]*\.h$' |
        sort -u
}

# build LANG COMPILER STD SIDE FLAGS...: compile and run the program; the output
# goes to $tmp/LANG.SIDE.out. Returns non-zero if it does not compile or run.
build()
{
    _lang=$1 _cc=$2 _std=$3 _side=$4
    shift 4
    # shellcheck disable=SC2086
    if ! $_cc -x "$_lang" $_std -w "$@" -o "$tmp/$_lang.$_side" "$tmp/abi_print.c" \
            2>"$tmp/$_lang.$_side.err"; then
        echo "$_lang program does not compile against $_side's headers:"
        sed 's/^/    /' "$tmp/$_lang.$_side.err" | head -40
        return 1
    fi
    if ! "$tmp/$_lang.$_side" >"$tmp/$_lang.$_side.out"; then
        echo "$_lang program built against $_side's headers fails to run"
        return 1
    fi
    return 0
}

# --- make sure each side really uses the headers it is meant to ------------

# only_from SIDE DIR HEADERS: every header listed is under DIR/corosync, cpg.h among them.
only_from()
{
    case "$3" in
    *"$2/corosync/cpg.h"*) ;;
    *) echo "ERROR: the $1 build does not include $2/corosync/cpg.h"; exit 99 ;;
    esac
    for _h in $3; do
        case "$_h" in
        "$2/corosync/"*) ;;
        *) echo "ERROR: the $1 build includes $_h, not from $2/corosync"; exit 99 ;;
        esac
    done
}

# shellcheck disable=SC2086
only_from corosync "$sys_inc" "$(headers_used "$CC" -x c $corosync_flags)"
only_from ucx_cpg "$ours_inc" "$(headers_used "$CC" -x c "$ours_flags")"

# --- 1. the program as C and C++ ------------------------------------------

# shellcheck disable=SC2086
build c "$CC" -std=gnu11 corosync $corosync_flags || exit 99
if build c "$CC" -std=gnu11 ucx_cpg "$ours_flags"; then
    same "C program (sizeof, alignof, offsetof, field types, enum and macro values)" \
        "$tmp/c.corosync.out" "$tmp/c.ucx_cpg.out"
else
    status=1
fi

if [ "$have_cxx" = yes ]; then
    # shellcheck disable=SC2086
    build c++ "$CXX" -std=gnu++11 corosync $corosync_flags || exit 99
    if build c++ "$CXX" -std=gnu++11 ucx_cpg "$ours_flags"; then
        same "C++ program (the above plus exact function, callback and field types)" \
            "$tmp/c++.corosync.out" "$tmp/c++.ucx_cpg.out"
    else
        status=1
    fi
else
    echo "note: no C++ compiler ($CXX); exact function types checked by -aux-info only"
fi

# --- 2. function declarations ------------------------------------------------

# aux_info SIDE FLAGS...: every function declared in a corosync/*.h header, as
# gcc prints it, without the file and line.
aux_info()
{
    _side=$1
    shift
    # shellcheck disable=SC2086
    if ! $CC -x c -std=gnu11 -w "$@" -aux-info "$tmp/aux.$_side.raw" -c "$tmp/abi_print.c" \
            -o "$tmp/aux.$_side.o" 2>/dev/null; then
        return 1
    fi
    grep '^/\* [^ ]*/corosync/[a-z]*\.h:' "$tmp/aux.$_side.raw" |
        sed 's|^/\* [^ ]*/corosync/\([a-z]*\.h\):[0-9]*:\([A-Z]*\) \*/ |\1 \2 |' |
        sort >"$tmp/aux.$_side"
}

# shellcheck disable=SC2086
if aux_info corosync $corosync_flags; then
    if aux_info ucx_cpg "$ours_flags"; then
        same "function declarations (gcc -aux-info)" "$tmp/aux.corosync" "$tmp/aux.ucx_cpg"
    else
        echo "DIFFERENT: function declarations: ucx_cpg's headers do not compile"
        status=1
    fi
else
    echo "note: $CC does not support -aux-info; declarations compared through the programs only"
fi

# --- 3. macro names ----------------------------------------------------------

# macros SIDE FLAGS...: the names of the CS_* / CPG_* / guard macros defined.
macros()
{
    _side=$1
    shift
    # shellcheck disable=SC2086
    $CC -x c -std=gnu11 "$@" -dM -E "$tmp/abi_print.c" 2>/dev/null |
        sed -n 's/^#define \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' |
        grep -E '^(CS_|CPG_|COROSYNC_|COROTYPES_)' | sort >"$tmp/macros.$_side"
}

# shellcheck disable=SC2086
macros corosync $corosync_flags
macros ucx_cpg "$ours_flags"
same "CS_* / CPG_* macro names and include guards" "$tmp/macros.corosync" "$tmp/macros.ucx_cpg"

if [ "$status" -eq 0 ]; then
    echo "PASS: ucx_cpg's headers match $sys_inc/corosync"
else
    echo "FAIL: ucx_cpg's headers differ from $sys_inc/corosync"
fi
exit "$status"
