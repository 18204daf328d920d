/*
 * log.h - the library's logging.
 *
 * One process-wide threshold (ucpg_log_level_current) and one destination
 * (stderr or a file opened by ucpg_log_configure). The level check is inlined
 * in the ucpg_log() macro so that a disabled message costs one comparison and
 * its arguments are not evaluated.
 *
 * Every message becomes exactly one line:
 *
 *   [ucx_cpg <pid>.<tid> HH:MM:SS.uuuuuu] LEVEL file.c:123 message
 *
 * The line is formatted into one buffer (at most UCPG_LOG_LINE_MAX bytes,
 * longer messages are cut and end in "...") and handed to the kernel with a
 * single write(2), so lines from different threads or processes sharing one
 * file never interleave. All functions are thread-safe; none is
 * async-signal-safe, so do not log from a signal handler.
 */
#ifndef UCPG_CORE_LOG_H
#define UCPG_CORE_LOG_H

#include "status.h"

#define UCPG_LOG_LINE_MAX 4096   /* bytes of one line including its '\n' */

typedef enum ucpg_log_level {
    UCPG_LOG_ERROR = 0,  /* the library or the caller cannot go on as asked */
    UCPG_LOG_WARN,       /* something is wrong but handled, e.g. a dead peer */
    UCPG_LOG_INFO,       /* rare events worth a line: membership changes */
    UCPG_LOG_DEBUG,      /* what a developer needs to follow a session */
    UCPG_LOG_TRACE       /* per-message detail; very verbose */
} ucpg_log_level_t;

/*
 * Messages with a level above this are dropped. Read without a lock by every
 * ucpg_log() call; written by ucpg_log_configure (or directly by tests). An
 * aligned enum store is atomic on every target we build for, and a reader
 * seeing the old value for a moment is harmless.
 */
extern volatile ucpg_log_level_t ucpg_log_level_current;   /* UCPG_LOG_WARN */

/*
 * Set the threshold and the destination. file NULL or "" means stderr;
 * otherwise the file is opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC with mode
 * 0600 (O_APPEND keeps lines of several processes whole in one file).
 * May be called again at any time: the previous file is closed after the new
 * one is in place. Returns UCPG_ERR_IO (after a message on stderr) if the file
 * cannot be opened, UCPG_ERR_INVALID_PARAM for a level out of range; in both
 * cases the previous level and destination stay in effect.
 */
ucpg_status_t ucpg_log_configure(ucpg_log_level_t level, const char *file);

/*
 * Parse "error", "warn", "info", "debug" or "trace" (any case). Returns
 * UCPG_ERR_INVALID_PARAM for anything else without logging: the caller knows
 * where the text came from and reports it with that context.
 */
ucpg_status_t ucpg_log_level_parse(const char *text, ucpg_log_level_t *level_p);

/* Lower-case name of a level ("error" ... "trace"); "unknown" if out of range. */
const char *ucpg_log_level_name(ucpg_log_level_t level);

/*
 * Format and emit one line unconditionally (the level check is the macro's
 * job). file is __FILE__ (only its base name is printed); func is accepted for
 * future formats and currently not printed. A NULL fmt prints "(null)".
 */
void ucpg_log_write(ucpg_log_level_t level, const char *file, int line,
                    const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Close the log file, if any, and go back to stderr. Called at library teardown. */
void ucpg_log_close(void);

#define ucpg_log(level, ...) \
    do { \
        if ((level) <= ucpg_log_level_current) { \
            ucpg_log_write((level), __FILE__, __LINE__, __func__, __VA_ARGS__); \
        } \
    } while (0)

#define ucpg_error(...) ucpg_log(UCPG_LOG_ERROR, __VA_ARGS__)
#define ucpg_warn(...)  ucpg_log(UCPG_LOG_WARN,  __VA_ARGS__)
#define ucpg_info(...)  ucpg_log(UCPG_LOG_INFO,  __VA_ARGS__)
#define ucpg_debug(...) ucpg_log(UCPG_LOG_DEBUG, __VA_ARGS__)
#define ucpg_trace(...) ucpg_log(UCPG_LOG_TRACE, __VA_ARGS__)

#endif
