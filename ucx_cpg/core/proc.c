/* proc.c - process identity, liveness and pidfds (see proc.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Reads /proc/<pid>/stat; returns the state letter (0 if absent) and the
 * start time. The command name may contain spaces and ')' so parsing starts
 * after the last ')'. */
static char ucpg_proc_stat(pid_t pid, uint64_t *starttime_p)
{
    char path[64], buf[1024], *p, *end;
    ssize_t n;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if ((p == NULL) || (p[1] != ' ')) {
        return 0;
    }
    p += 2;                             /* now at field 3, the state */
    char state = *p;
    for (field = 3; field < 22; ++field) {
        p = strchr(p, ' ');
        if (p == NULL) {
            return 0;
        }
        ++p;
    }
    *starttime_p = strtoull(p, &end, 10);
    return (end == p) ? 0 : state;
}

uint64_t ucpg_proc_starttime(pid_t pid)
{
    uint64_t start = 0;

    return (ucpg_proc_stat(pid, &start) != 0) ? start : 0;
}

/* The state letter of the process (pid, starttime), 0 if there is none. */
static char ucpg_proc_state(pid_t pid, uint64_t starttime)
{
    uint64_t start = 0;
    char state;

    if (pid <= 0) {
        return 0;
    }
    state = ucpg_proc_stat(pid, &start);
    return (start == starttime) ? state : 0;
}

int ucpg_proc_alive(pid_t pid, uint64_t starttime)
{
    char state = ucpg_proc_state(pid, starttime);

    return (state != 0) && (state != 'Z') && (state != 'X');
}

int ucpg_proc_stopped(pid_t pid, uint64_t starttime)
{
    char state = ucpg_proc_state(pid, starttime);

    return (state == 'T') || (state == 't');
}

int ucpg_proc_pidfd_open(pid_t pid, uint64_t starttime)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);

    if (fd < 0) {
        return -1;
    }
    /* pidfds are close-on-exec by kernel definition. */
    if (!ucpg_proc_alive(pid, starttime)) {
        close(fd);
        errno = ESRCH;
        return -1;
    }
    return fd;
}

static pid_t          ucpg_proc_pid;       /* 0 until first use; atomic */
static pthread_once_t ucpg_proc_once = PTHREAD_ONCE_INIT;

/* Asked on hot paths (per dispatch, per release), so each thread keeps the
 * answer for UCPG_PROC_CPUS_TTL_NS: sched_getaffinity is a system call
 * (about a microsecond on a VM), and affinity rarely changes. */
#define UCPG_PROC_CPUS_TTL_NS 100000000ull

unsigned ucpg_proc_cpus(void)
{
    static __thread unsigned cached;
    static __thread uint64_t cached_at;
    uint64_t now = ucpg_time_coarse_ns();
    cpu_set_t set;
    int n;

    if ((cached != 0) && (now - cached_at < UCPG_PROC_CPUS_TTL_NS)) {
        return cached;
    }
    n         = (sched_getaffinity(0, sizeof(set), &set) == 0) ? CPU_COUNT(&set) : 1;
    cached    = (n > 0) ? (unsigned)n : 1;
    cached_at = now;
    return cached;
}

static pid_t          ucpg_proc_identity_pid;   /* 0: ourselves; atomic */

void ucpg_proc_identity_set(pid_t pid)
{
    __atomic_store_n(&ucpg_proc_identity_pid, pid, __ATOMIC_RELEASE);
}

pid_t ucpg_proc_identity(void)
{
    pid_t pid = __atomic_load_n(&ucpg_proc_identity_pid, __ATOMIC_ACQUIRE);

    return (pid > 0) ? pid : ucpg_proc_self();
}

static void ucpg_proc_atfork_child(void)
{
    __atomic_store_n(&ucpg_proc_pid, getpid(), __ATOMIC_RELEASE);
}

static void ucpg_proc_init(void)
{
    pthread_atfork(NULL, NULL, ucpg_proc_atfork_child);
    __atomic_store_n(&ucpg_proc_pid, getpid(), __ATOMIC_RELEASE);
}

pid_t ucpg_proc_self(void)
{
    pid_t pid = __atomic_load_n(&ucpg_proc_pid, __ATOMIC_ACQUIRE);

    if (pid == 0) {
        pthread_once(&ucpg_proc_once, ucpg_proc_init);
        pid = __atomic_load_n(&ucpg_proc_pid, __ATOMIC_ACQUIRE);
    }
    return pid;
}

uint64_t ucpg_proc_random64(void)
{
    uint64_t v = 0;

    /* getrandom() of 8 bytes only fails on ancient kernels; the clock and pid
     * still give a value unique enough to tell incarnations apart. */
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
        v = ucpg_time_ns() ^ ((uint64_t)getpid() << 32);
    }
    return (v != 0) ? v : 1;
}

uint64_t ucpg_time_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ucpg_time_coarse_ns(void)
{
    struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ucpg_time_ms(void)
{
    return ucpg_time_ns() / 1000000ull;
}
