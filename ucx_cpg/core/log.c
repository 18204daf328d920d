/*
 * log.c - formatting of log lines and the one log destination.
 *
 * A line is built completely in a stack buffer and then written with one
 * write(2). The destination descriptor is guarded by ucpg_log_lock, which is
 * also held across that write: otherwise ucpg_log_configure could close the
 * old file while another thread is about to write to it, and by then the
 * descriptor number may belong to an unrelated file (a socket, the registry).
 * Logging is never on a fast path, so serialising the write costs nothing
 * that matters.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

volatile ucpg_log_level_t ucpg_log_level_current = UCPG_LOG_WARN;

/* Guards ucpg_log_fd and every write to it; see the file comment. */
static pthread_mutex_t ucpg_log_lock = PTHREAD_MUTEX_INITIALIZER;
/* The log file opened by ucpg_log_configure, or -1 for stderr. */
static int             ucpg_log_fd   = -1;
/* Registers the fork handlers once, on first use of the lock. */
static pthread_once_t  ucpg_log_once = PTHREAD_ONCE_INIT;

/* Indexed by ucpg_log_level_t. */
static const char *const ucpg_log_names[] = {
    "error", "warn", "info", "debug", "trace"
};
static const char *const ucpg_log_tags[] = {
    "ERROR", "WARN", "INFO", "DEBUG", "TRACE"
};

/*
 * fork() copies the lock in whatever state it has at that moment. If another
 * thread were in the middle of a write, the child's only thread would find
 * the lock held forever and hang at its first log line. Taking the lock
 * around fork() makes the child start with it free.
 */
static void ucpg_log_atfork_prepare(void)
{
    pthread_mutex_lock(&ucpg_log_lock);
}

static void ucpg_log_atfork_release(void)
{
    pthread_mutex_unlock(&ucpg_log_lock);
}

static void ucpg_log_init_once(void)
{
    /* If registration fails we only lose the fork protection; logging works. */
    (void)pthread_atfork(ucpg_log_atfork_prepare, ucpg_log_atfork_release,
                         ucpg_log_atfork_release);
}

static int ucpg_log_level_valid(ucpg_log_level_t level)
{
    /* Cast: the enum may be unsigned, and "level < 0" would then warn. */
    return (unsigned)level <= (unsigned)UCPG_LOG_TRACE;
}

const char *ucpg_log_level_name(ucpg_log_level_t level)
{
    return ucpg_log_level_valid(level) ? ucpg_log_names[level] : "unknown";
}

ucpg_status_t ucpg_log_level_parse(const char *text, ucpg_log_level_t *level_p)
{
    unsigned i;

    if ((text == NULL) || (level_p == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }

    for (i = 0; i <= (unsigned)UCPG_LOG_TRACE; ++i) {
        if (strcasecmp(text, ucpg_log_names[i]) == 0) {
            *level_p = (ucpg_log_level_t)i;
            return UCPG_OK;
        }
    }
    return UCPG_ERR_INVALID_PARAM;
}

static const char *ucpg_log_basename(const char *path)
{
    const char *slash;

    if (path == NULL) {
        return "?";
    }
    slash = strrchr(path, '/');
    return (slash != NULL) ? slash + 1 : path;
}

/* Clamp an snprintf result to what actually landed in a buffer of size bytes. */
static size_t ucpg_log_clamp(int ret, size_t size)
{
    if (ret < 0) {
        return 0;               /* encoding error: keep what was there before */
    }
    return ((size_t)ret >= size) ? size - 1 : (size_t)ret;
}

/*
 * Build the complete line, '\n' included, in buf (size > 16 bytes) and
 * return its length. The result is never NUL-terminated on purpose: it goes
 * to write(2) with an explicit length.
 */
static size_t ucpg_log_format(char *buf, size_t size, ucpg_log_level_t level,
                              const char *file, int line, const char *fmt,
                              va_list ap)
    __attribute__((format(printf, 6, 0)));

static size_t ucpg_log_format(char *buf, size_t size, ucpg_log_level_t level,
                              const char *file, int line, const char *fmt,
                              va_list ap)
{
    struct timespec ts;
    struct tm tm;
    size_t len, avail;
    int ret;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        ts.tv_sec  = 0;
        ts.tv_nsec = 0;
    }
    if (localtime_r(&ts.tv_sec, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
    }

    /* size - 1: the last byte is reserved for the '\n' appended below. */
    ret = snprintf(buf, size - 1, "[ucx_cpg %d.%ld %02d:%02d:%02d.%06ld] %-5s %s:%d ",
                   (int)getpid(), (long)syscall(SYS_gettid), tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (long)(ts.tv_nsec / 1000),
                   ucpg_log_level_valid(level) ? ucpg_log_tags[level] : "?????",
                   ucpg_log_basename(file), line);
    len = ucpg_log_clamp(ret, size - 1);

    avail = size - 1 - len;     /* bytes left for the message and its NUL */
    if (fmt == NULL) {
        ret = snprintf(buf + len, avail, "%s", "(null)");
    } else {
        ret = vsnprintf(buf + len, avail, fmt, ap);
    }

    if ((ret >= 0) && ((size_t)ret >= avail)) {
        /* Cut: mark it, so nobody mistakes the visible part for the whole. */
        len = size - 2;
        memcpy(buf + len - 3, "...", 3);
    } else {
        len += ucpg_log_clamp(ret, avail);
        /* Callers sometimes end a message with '\n'; do not double it. */
        if ((ret > 0) && (buf[len - 1] == '\n')) {
            --len;
        }
    }

    buf[len++] = '\n';
    return len;
}

/*
 * One write(2) for the line. The loop only matters for EINTR or a short write
 * to a pipe or full disk; a regular file opened O_APPEND takes it in one go.
 * Errors are dropped: there is nowhere left to report a failing log.
 */
static void ucpg_log_emit(int fd, const char *buf, size_t len)
{
    ssize_t ret;

    while (len > 0) {
        ret = write(fd, buf, len);
        if (ret < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        buf += ret;
        len -= (size_t)ret;
    }
}

/* Format and write one line to a given descriptor, bypassing the lock. */
static void ucpg_log_write_fd(int fd, ucpg_log_level_t level, const char *file,
                              int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void ucpg_log_write_fd(int fd, ucpg_log_level_t level, const char *file,
                              int line, const char *fmt, ...)
{
    char buf[UCPG_LOG_LINE_MAX];
    va_list ap;
    size_t len;

    va_start(ap, fmt);
    len = ucpg_log_format(buf, sizeof(buf), level, file, line, fmt, ap);
    va_end(ap);
    ucpg_log_emit(fd, buf, len);
}

void ucpg_log_write(ucpg_log_level_t level, const char *file, int line,
                    const char *func, const char *fmt, ...)
{
    char buf[UCPG_LOG_LINE_MAX];
    int saved_errno = errno;   /* callers may still look at errno afterwards */
    va_list ap;
    size_t len;

    (void)func;

    /* Format outside the lock: only the write itself needs to be serialised. */
    va_start(ap, fmt);
    len = ucpg_log_format(buf, sizeof(buf), level, file, line, fmt, ap);
    va_end(ap);

    pthread_once(&ucpg_log_once, ucpg_log_init_once);
    pthread_mutex_lock(&ucpg_log_lock);
    ucpg_log_emit((ucpg_log_fd >= 0) ? ucpg_log_fd : STDERR_FILENO, buf, len);
    pthread_mutex_unlock(&ucpg_log_lock);

    errno = saved_errno;
}

/* Install new_fd (-1 = stderr) as the destination and close the old file. */
static void ucpg_log_swap_fd(int new_fd, int set_level, ucpg_log_level_t level)
{
    int old_fd;

    pthread_once(&ucpg_log_once, ucpg_log_init_once);
    pthread_mutex_lock(&ucpg_log_lock);
    old_fd      = ucpg_log_fd;
    ucpg_log_fd = new_fd;
    if (set_level) {
        ucpg_log_level_current = level;
    }
    pthread_mutex_unlock(&ucpg_log_lock);

    /* No writer can hold old_fd now: they all use it under the lock. */
    if (old_fd >= 0) {
        close(old_fd);
    }
}

ucpg_status_t ucpg_log_configure(ucpg_log_level_t level, const char *file)
{
    int fd = -1;

    if (!ucpg_log_level_valid(level)) {
        ucpg_log_write_fd(STDERR_FILENO, UCPG_LOG_ERROR, __FILE__, __LINE__,
                          "invalid log level %d", (int)level);
        return UCPG_ERR_INVALID_PARAM;
    }

    /* Open the new file first, so that on failure nothing has changed. */
    if ((file != NULL) && (file[0] != '\0')) {
        do {
            fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        } while ((fd < 0) && (errno == EINTR));

        if (fd < 0) {
            /*
             * To stderr rather than the current destination: the user just
             * asked to log to this file, so stderr is where they will look
             * when it does not appear.
             */
            ucpg_log_write_fd(STDERR_FILENO, UCPG_LOG_ERROR, __FILE__, __LINE__,
                              "cannot open log file '%s': %s", file,
                              strerror(errno));
            return UCPG_ERR_IO;
        }
    }

    ucpg_log_swap_fd(fd, 1, level);
    return UCPG_OK;
}

void ucpg_log_close(void)
{
    ucpg_log_swap_fd(-1, 0, UCPG_LOG_ERROR);
}
