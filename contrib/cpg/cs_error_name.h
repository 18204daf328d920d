/*
 * cs_error_name.h - the name of a cs_error_t value, for the CPG tools and
 * the benchmark (corosync keeps cs_strerror in libcorosync_common, which a
 * program running on ucx_cpg's libcpg.so.4 should not need). Header-only:
 * cpg_compare.sh compiles cpg_bench.c on its own.
 */
#ifndef UCX_CPG_CONTRIB_CS_ERROR_NAME_H
#define UCX_CPG_CONTRIB_CS_ERROR_NAME_H

#include <stddef.h>
#include <corosync/corotypes.h>

static inline const char *cpg_cs_error_name(cs_error_t err)
{
    static const char *const names[] = {
        [CS_OK]                      = "CS_OK",
        [CS_ERR_LIBRARY]             = "CS_ERR_LIBRARY",
        [CS_ERR_VERSION]             = "CS_ERR_VERSION",
        [CS_ERR_INIT]                = "CS_ERR_INIT",
        [CS_ERR_TIMEOUT]             = "CS_ERR_TIMEOUT",
        [CS_ERR_TRY_AGAIN]           = "CS_ERR_TRY_AGAIN",
        [CS_ERR_INVALID_PARAM]       = "CS_ERR_INVALID_PARAM",
        [CS_ERR_NO_MEMORY]           = "CS_ERR_NO_MEMORY",
        [CS_ERR_BAD_HANDLE]          = "CS_ERR_BAD_HANDLE",
        [CS_ERR_BUSY]                = "CS_ERR_BUSY",
        [CS_ERR_ACCESS]              = "CS_ERR_ACCESS",
        [CS_ERR_NOT_EXIST]           = "CS_ERR_NOT_EXIST",
        [CS_ERR_NAME_TOO_LONG]       = "CS_ERR_NAME_TOO_LONG",
        [CS_ERR_EXIST]               = "CS_ERR_EXIST",
        [CS_ERR_NO_SPACE]            = "CS_ERR_NO_SPACE",
        [CS_ERR_INTERRUPT]           = "CS_ERR_INTERRUPT",
        [CS_ERR_NAME_NOT_FOUND]      = "CS_ERR_NAME_NOT_FOUND",
        [CS_ERR_NO_RESOURCES]        = "CS_ERR_NO_RESOURCES",
        [CS_ERR_NOT_SUPPORTED]       = "CS_ERR_NOT_SUPPORTED",
        [CS_ERR_BAD_OPERATION]       = "CS_ERR_BAD_OPERATION",
        [CS_ERR_FAILED_OPERATION]    = "CS_ERR_FAILED_OPERATION",
        [CS_ERR_MESSAGE_ERROR]       = "CS_ERR_MESSAGE_ERROR",
        [CS_ERR_QUEUE_FULL]          = "CS_ERR_QUEUE_FULL",
        [CS_ERR_QUEUE_NOT_AVAILABLE] = "CS_ERR_QUEUE_NOT_AVAILABLE",
        [CS_ERR_BAD_FLAGS]           = "CS_ERR_BAD_FLAGS",
        [CS_ERR_TOO_BIG]             = "CS_ERR_TOO_BIG",
        [CS_ERR_NO_SECTIONS]         = "CS_ERR_NO_SECTIONS",
        [CS_ERR_CONTEXT_NOT_FOUND]   = "CS_ERR_CONTEXT_NOT_FOUND",
        [CS_ERR_TOO_MANY_GROUPS]     = "CS_ERR_TOO_MANY_GROUPS",
    };

    if (err == CS_ERR_SECURITY) {
        return "CS_ERR_SECURITY";
    }
    if (((int)err >= 0) && ((size_t)err < sizeof(names) / sizeof(names[0])) &&
        (names[err] != NULL)) {
        return names[err];
    }
    return "unknown cs_error_t";
}

#endif
