/*
 * proc.h - facts about local processes: identity that survives pid reuse,
 * liveness, and a pidfd that becomes readable the moment a process dies.
 */
#ifndef UCPG_CORE_PROC_H
#define UCPG_CORE_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* Start time of pid in clock ticks since boot (field 22 of /proc/<pid>/stat),
 * or 0 if the process does not exist. (pid, starttime) names one process
 * for the lifetime of the host: a reused pid has a different start time. */
uint64_t ucpg_proc_starttime(pid_t pid);

/* Non-zero iff the process (pid, starttime) exists and is not a zombie. */
int ucpg_proc_alive(pid_t pid, uint64_t starttime);

/* Non-zero iff the process (pid, starttime) exists and is stopped: by a
 * signal (SIGSTOP, SIGTSTP: state T) or by a tracer (state t). Such a
 * process answers nothing until it runs again. The state read is that of
 * its main thread, which a stop signal stops with all the others. */
int ucpg_proc_stopped(pid_t pid, uint64_t starttime);

/* A pidfd for (pid, starttime), or -1 if the process is already gone (or the
 * kernel lacks pidfd_open, errno ENOSYS). Checks the start time after opening
 * so that a reused pid is never watched by mistake. */
int ucpg_proc_pidfd_open(pid_t pid, uint64_t starttime);

/* This process' pid without a system call (getpid() costs ~1 µs on a VM and
 * the data path checks it on every call); kept right across fork() by an
 * atfork handler. */
pid_t ucpg_proc_self(void);

/*
 * The process that peers see this one as: its own pid, unless a relay
 * (cpg/relay_main.c) stands in for a forked process that cannot run UCX
 * itself. The domain then announces that process's pid and start time, so
 * peers watch its life, not the relay's. Set before the domain is created.
 */
void  ucpg_proc_identity_set(pid_t pid);
pid_t ucpg_proc_identity(void);

/* How many CPUs the calling thread may run on (its affinity mask, read at
 * most every 100 ms per thread), at least 1. */
unsigned ucpg_proc_cpus(void);

/* A random non-zero 64-bit value from the kernel (getrandom). */
uint64_t ucpg_proc_random64(void);

/* Monotonic clock in nanoseconds / milliseconds. */
uint64_t ucpg_time_ns(void);
uint64_t ucpg_time_ms(void);

/* The same clock read coarsely: it lags ucpg_time_ns() by up to one
 * scheduler tick (1-4 ms) and costs a fifth of it (6 against 29 ns on a
 * kvm-clock VM). For stamps compared against limits of 100 ms and more
 * that are taken once per message. */
uint64_t ucpg_time_coarse_ns(void);

#endif
