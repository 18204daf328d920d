/*
 * corosync/corotypes.h - common types of the corosync client APIs, as
 * provided by ucx_cpg.
 *
 * This is ucx_cpg's own header. It is source- and binary-compatible with the
 * <corosync/corotypes.h> of corosync 3.1 (x86_64 / LP64): the same names,
 * types, enum values, macros and struct layouts, so a program built against
 * corosync's header runs with ucx_cpg's libraries and vice versa. The include
 * guard is the one corosync uses, so whichever copy comes first wins and the
 * other is skipped.
 *
 * Layout and value facts are pinned by test/unit/test_cpg_abi.c and compared
 * against the installed corosync headers by test/unit/cpg_abi_vs_corosync.sh.
 */
#ifndef COROTYPES_H_DEFINED
#define COROTYPES_H_DEFINED

/*
 * corosync's header pulls in <stdint.h>, <errno.h>, <time.h> and
 * <sys/time.h>; programs may rely on that, so we do the same. <inttypes.h>
 * and <stddef.h> are extras so that the CS_PRI_* macros and NULL work without
 * further includes.
 */
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <errno.h>
#include <time.h>
#include <sys/time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from the library even when it is built with -fvisibility=hidden. */
#ifndef UCX_CPG_COROSYNC_API
#if defined(__GNUC__)
#define UCX_CPG_COROSYNC_API __attribute__((visibility("default")))
#else
#define UCX_CPG_COROSYNC_API
#endif
#endif

/* A time or duration in nanoseconds. */
typedef int64_t cs_time_t;

#define CS_FALSE 0
/* Spelled as in corosync, so that in C++ it is a bool like theirs. */
#define CS_TRUE (!CS_FALSE)

#define CS_MAX_NAME_LENGTH 256

/* "No deadline": the largest cs_time_t. */
#define CS_TIME_END ((cs_time_t)INT64_MAX)

/* Evaluates its arguments twice. */
#define CS_MAX(x, y) (((x) > (y)) ? (x) : (y))

/* printf formats for node ids (uint32_t) and ring ids (nodeid uint32_t, seq uint64_t). */
#define CS_PRI_NODE_ID        "%" PRIu32
#define CS_PRI_NODE_ID_PADDED "%10" PRIu32
#define CS_PRI_RING_ID_SEQ    "%" PRIx64
/* Ring id as "<nodeid hex>.<seq hex>", e.g. nodeid 1, seq 5 prints "1.5". */
#define CS_PRI_RING_ID        "%" PRIx32 ".%" PRIx64

/* A length-counted name; value is not NUL-terminated. 258 bytes, align 2. */
typedef struct {
    uint16_t length;
    uint8_t value[CS_MAX_NAME_LENGTH];
} cs_name_t;

/* 3 bytes, no padding. */
typedef struct {
    char releaseCode;
    unsigned char majorVersion;
    unsigned char minorVersion;
} cs_version_t;

/* How much a *_dispatch() call processes; see cpg_dispatch() in <corosync/cpg.h>. */
typedef enum {
    CS_DISPATCH_ONE             = 1,
    CS_DISPATCH_ALL             = 2,
    CS_DISPATCH_BLOCKING        = 3,
    CS_DISPATCH_ONE_NONBLOCKING = 4
} cs_dispatch_flags_t;

#define CS_TRACK_CURRENT      0x01
#define CS_TRACK_CHANGES      0x02
#define CS_TRACK_CHANGES_ONLY 0x04

/*
 * Result of every corosync API call. Note that success is 1, not 0.
 * 29 is not used.
 */
typedef enum {
    CS_OK                      = 1,
    CS_ERR_LIBRARY             = 2,
    CS_ERR_VERSION             = 3,
    CS_ERR_INIT                = 4,
    CS_ERR_TIMEOUT             = 5,
    CS_ERR_TRY_AGAIN           = 6,
    CS_ERR_INVALID_PARAM       = 7,
    CS_ERR_NO_MEMORY           = 8,
    CS_ERR_BAD_HANDLE          = 9,
    CS_ERR_BUSY                = 10,
    CS_ERR_ACCESS              = 11,
    CS_ERR_NOT_EXIST           = 12,
    CS_ERR_NAME_TOO_LONG       = 13,
    CS_ERR_EXIST               = 14,
    CS_ERR_NO_SPACE            = 15,
    CS_ERR_INTERRUPT           = 16,
    CS_ERR_NAME_NOT_FOUND      = 17,
    CS_ERR_NO_RESOURCES        = 18,
    CS_ERR_NOT_SUPPORTED       = 19,
    CS_ERR_BAD_OPERATION       = 20,
    CS_ERR_FAILED_OPERATION    = 21,
    CS_ERR_MESSAGE_ERROR       = 22,
    CS_ERR_QUEUE_FULL          = 23,
    CS_ERR_QUEUE_NOT_AVAILABLE = 24,
    CS_ERR_BAD_FLAGS           = 25,
    CS_ERR_TOO_BIG             = 26,
    CS_ERR_NO_SECTIONS         = 27,
    CS_ERR_CONTEXT_NOT_FOUND   = 28,
    CS_ERR_TOO_MANY_GROUPS     = 30,
    CS_ERR_SECURITY            = 100
} cs_error_t;

/* IPC timeout of the corosync libraries (-1 = wait forever). Unused by ucx_cpg. */
#define CS_IPC_TIMEOUT_MS (-1)

#define CS_TIME_MS_IN_SEC  1000ULL
#define CS_TIME_US_IN_SEC  1000000ULL
#define CS_TIME_NS_IN_SEC  1000000000ULL
#define CS_TIME_US_IN_MSEC 1000ULL
#define CS_TIME_NS_IN_MSEC 1000000ULL
#define CS_TIME_NS_IN_USEC 1000ULL

/*
 * Current time in nanoseconds from CLOCK_MONOTONIC. Only where <time.h> does
 * not offer CLOCK_MONOTONIC (strict ISO C without POSIX feature macros) does
 * it fall back to the wall clock. corosync's copy picks the wall clock unless
 * <unistd.h> was included first.
 */
static inline uint64_t cs_timestamp_get(void)
{
#if defined(CLOCK_MONOTONIC)
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * CS_TIME_NS_IN_SEC + (uint64_t)ts.tv_nsec;
#else
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * CS_TIME_NS_IN_SEC + (uint64_t)tv.tv_usec * CS_TIME_NS_IN_USEC;
#endif
}

/*
 * Error translation helpers. In corosync they live in libcorosync_common.so.4
 * (link with -lcorosync_common), not in libcpg.
 */

/* Maps a libqb result to a cs_error_t: any value >= 0 is CS_OK, -errno the matching error. */
UCX_CPG_COROSYNC_API cs_error_t qb_to_cs_error(int result);

/*
 * A static string naming err: "success" for CS_OK, the enum name for the
 * other defined values, "unknown error" otherwise.
 */
UCX_CPG_COROSYNC_API const char *cs_strerror(cs_error_t err);

/* Maps a handle-table result (0 or -errno, as libqb's hdb returns) to a cs_error_t. */
UCX_CPG_COROSYNC_API cs_error_t hdb_error_to_cs(int res);

#ifdef __cplusplus
}
#endif

#endif /* COROTYPES_H_DEFINED */
