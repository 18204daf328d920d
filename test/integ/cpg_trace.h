/*
 * cpg_trace.h - delivery traces of CPG test processes, and a checker of the
 * group-semantics properties of /work/shared/reference/group-semantics.md §2
 * (M1-M3, D1, D2, F1, A1, A3, V1, S1) over the traces of several processes.
 *
 * Each test process writes one trace file: one line per callback, in callback
 * order, each line written with a single write(2) so that a process killed
 * with SIGKILL leaves a complete prefix. Standalone: no dependency on
 * <corosync/cpg.h> or on the library.
 *
 * Trace format (fields separated by single spaces, one record per line):
 *
 *   P <nodeid> <pid>                          first line: who wrote the trace
 *   C <group> <members> <left> <joined>       a confchg callback
 *   D <group> <nodeid> <pid> <g> <len> <tag>  a deliver callback
 *   X                                         last line iff the process ended cleanly
 *
 *   <group>   the group name as lowercase hex bytes, "-" for the empty name
 *   <members> "nodeid:pid,nodeid:pid,..." or "-"
 *   <left>, <joined>  "nodeid:pid:reason,..." or "-" (reasons as cpg_reason_t)
 *   <g>       the guarantee the sender used (CPG_TRACE_UNORDERED..CPG_TRACE_SAFE)
 *   <len>     the delivered length
 *   <tag>     "<senderpid>.<counter>" taken from the payload, "-" if untagged
 */
#ifndef UCPG_TEST_INTEG_CPG_TRACE_H
#define UCPG_TEST_INTEG_CPG_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* Same layout as struct cpg_address (three uint32_t), so a confchg callback
 * can pass its lists with a cast. */
struct cpg_trace_addr {
    uint32_t nodeid;
    uint32_t pid;
    uint32_t reason; /* cpg_reason_t; ignored for member lists */
};

/* The guarantee values of cpg_guarantee_t. */
enum {
    CPG_TRACE_UNORDERED = 0,
    CPG_TRACE_FIFO      = 1,
    CPG_TRACE_AGREED    = 2,
    CPG_TRACE_SAFE      = 3
};

/* The reason values of cpg_reason_t. */
enum {
    CPG_TRACE_JOIN     = 1,
    CPG_TRACE_LEAVE    = 2,
    CPG_TRACE_NODEDOWN = 3,
    CPG_TRACE_NODEUP   = 4,
    CPG_TRACE_PROCDOWN = 5
};

/* --- writer (used by test processes) ---------------------------------------- */

typedef struct cpg_trace_writer {
    int fd;    /* -1 once closed or if open failed */
    int error; /* errno of the first failed write, 0 if none */
} cpg_trace_writer_t;

/* Creates (truncates) the trace at path and writes its P line.
 * Returns 0, or -1 with errno set (w->fd is then -1). */
int cpg_trace_open(cpg_trace_writer_t *w, const char *path, uint32_t nodeid, uint32_t pid);

/* Records a confchg callback. group is group_len raw bytes (any bytes). */
void cpg_trace_confchg(cpg_trace_writer_t *w, const void *group, size_t group_len,
                       const struct cpg_trace_addr *members, size_t nm,
                       const struct cpg_trace_addr *left, size_t nl,
                       const struct cpg_trace_addr *joined, size_t nj);

/* Records a deliver callback; tag_pid and tag_counter are used iff has_tag. */
void cpg_trace_deliver(cpg_trace_writer_t *w, const void *group, size_t group_len,
                       uint32_t nodeid, uint32_t pid, int guarantee, size_t len,
                       int has_tag, uint32_t tag_pid, uint64_t tag_counter);

/* Writes the X line (unless an earlier record failed, so that a trace with a
 * hole never claims a clean end) and closes the file. Returns 0 if every
 * record was written in full, else -1 with errno set to the first error. */
int cpg_trace_close(cpg_trace_writer_t *w);

/* --- checker ------------------------------------------------------------------ */

/* Reads npaths traces and checks every group they mention, each group on its
 * own. Returns 0 if all properties hold; else -1 and a one-line explanation in
 * err (property, file:line of the offending record(s)), truncated to errlen.
 * A malformed trace is reported the same way. err may be NULL if errlen is 0. */
int cpg_trace_check(const char *const *paths, size_t npaths, char *err, size_t errlen);

/* Counts the C and D records of one trace that belong to group_hex (as written
 * in the trace, "-" for the empty name; NULL = every group). The trace must be
 * well-formed. Either output may be NULL. Returns 0, or -1 on a read or
 * format error or a malformed group_hex. */
int cpg_trace_count(const char *path, const char *group_hex, size_t *nconfchg,
                    size_t *ndeliver);

#endif
