/*
 * local.c - local mode (-N MEMBERS): this process starts the members of a
 * CPG test and reports for them; and member mode, what each of them runs.
 *
 * The reporter never touches the CPG library. It forks and execs this
 * program once per rank with the same options plus --member RANK --group
 * NAME --result-fd 3, so every member is a fresh process (UCX is not
 * fork-safe) that dies with the reporter (PR_SET_PDEATHSIG). Each member
 * writes its records to its pipe, one proto.c line each (shorter than
 * PIPE_BUF, so never interleaved): PROGRESS (rank 0 only), RESULT per size,
 * ERROR if it fails. The reporter prints rank 0's progress lines and, once
 * every member's RESULT of a size is in, the picked one (pt_result_pick).
 *
 * If a member fails, the others notice it leaving the group and fail too;
 * the reporter reaps everyone, kills what is still running after a grace
 * period, and exits with the most severe status (time limit, then failure).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PT_MEMBER_FD      3
#define PT_GRACE_NS       (5ull * 1000000000ull)   /* past -T, for the members' own messages */
#define PT_KILL_GRACE_NS  (2ull * 1000000000ull)   /* after a failure, before SIGKILL */

typedef struct pt_child {
    pid_t    pid;
    int      fd;              /* read end of its result pipe; -1 at end of file */
    int      status;          /* waitpid status; -1 not reaped */
    char     buf[PT_LINE_MAX];
    size_t   len;
    unsigned results;         /* RESULT records received */
    char     error[256];      /* its ERROR text, if any */
} pt_child_t;

typedef struct pt_local {
    const pt_opts_t *o;
    pt_report_t      rep;
    unsigned         n;
    pt_child_t       child[PT_MAX_MEMBERS];
    pt_result_t      results[PT_MAX_SIZES][PT_MAX_MEMBERS];
    unsigned         have[PT_MAX_SIZES];
    unsigned         printed;         /* phases whose final line is out */
    int              headed;          /* phases whose header is out (table) */
    int              bad_record;
} pt_local_t;

static volatile sig_atomic_t pt_local_interrupted;

static void pt_local_on_signal(int sig)
{
    (void)sig;
    pt_local_interrupted = 1;
}

static void pt_local_head(pt_local_t *l, unsigned phase)
{
    while (l->headed <= (int)phase) {
        pt_report_phase(&l->rep, l->o, l->o->sizes[l->headed]);
        l->headed++;
    }
}

static void pt_local_record(pt_local_t *l, unsigned rank, const char *line)
{
    pt_child_t *c = &l->child[rank];
    pt_result_t r;
    pt_msg_t m;

    if (pt_msg_decode(line, &m) != 0) {
        fprintf(stderr, "ucx_cpg_perftest: rank %u sent a malformed record\n", rank);
        l->bad_record = 1;
        return;
    }
    if (strcmp(m.verb, "ERROR") == 0) {
        snprintf(c->error, sizeof(c->error), "%s",
                 (pt_msg_get(&m, "msg") != NULL) ? pt_msg_get(&m, "msg") : "?");
        return;
    }
    if ((pt_result_from_msg(&m, &r) != 0) || (r.rank != rank) || (r.phase >= l->o->nsizes)) {
        fprintf(stderr, "ucx_cpg_perftest: rank %u sent a bad result record\n", rank);
        l->bad_record = 1;
        return;
    }
    if (!r.final) {
        if ((rank == 0) && (r.phase == l->printed)) {
            pt_local_head(l, r.phase);
            pt_report_result(&l->rep, &r);
        }
        return;
    }
    if (r.phase != c->results) {
        fprintf(stderr, "ucx_cpg_perftest: rank %u reported phase %u out of order\n", rank,
                r.phase);
        l->bad_record = 1;
        return;
    }
    c->results++;
    l->results[r.phase][rank] = r;
    l->have[r.phase]++;
    while ((l->printed < l->o->nsizes) && (l->have[l->printed] == l->n)) {
        const pt_result_t *rs = l->results[l->printed];

        pt_local_head(l, l->printed);
        pt_report_result(&l->rep, &rs[pt_result_pick(rs, l->n)]);
        l->printed++;
    }
}

/* Reads what child rank has written; splits lines. */
static void pt_local_read(pt_local_t *l, unsigned rank)
{
    pt_child_t *c = &l->child[rank];
    ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    char *nl;

    if (r <= 0) {
        if ((r < 0) && ((errno == EINTR) || (errno == EAGAIN))) {
            return;
        }
        close(c->fd);
        c->fd = -1;
        return;
    }
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
        *nl = '\0';
        pt_local_record(l, rank, c->buf);
        c->len -= (size_t)(nl + 1 - c->buf);
        memmove(c->buf, nl + 1, c->len);
    }
    if (c->len == sizeof(c->buf) - 1) {
        c->len = 0;                      /* a record longer than any: drop it */
        l->bad_record = 1;
    }
}

static int pt_local_spawn(pt_local_t *l, unsigned rank, int argc, char *const argv[],
                          const char *group)
{
    char rank_text[16], fd_text[16];
    const char **args;
    int p[2], i, n = 0;
    pid_t pid, parent = getpid();

    args = calloc((size_t)argc + 8, sizeof(*args));
    if ((args == NULL) || (pipe2(p, O_CLOEXEC) != 0)) {
        free(args);
        fprintf(stderr, "ucx_cpg_perftest: pipe: %s\n", strerror(errno));
        return -1;
    }
    snprintf(rank_text, sizeof(rank_text), "%u", rank);
    snprintf(fd_text, sizeof(fd_text), "%d", PT_MEMBER_FD);
    for (i = 0; i < argc; ++i) {
        args[n++] = argv[i];
    }
    args[n++] = "--member";
    args[n++] = rank_text;
    args[n++] = "--group";
    args[n++] = group;
    args[n++] = "--result-fd";
    args[n++] = fd_text;
    args[n]   = NULL;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ucx_cpg_perftest: fork: %s\n", strerror(errno));
        close(p[0]);
        close(p[1]);
        free(args);
        return -1;
    }
    if (pid == 0) {
        if ((prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) || (getppid() != parent)) {
            _exit(PT_EXIT_SETUP);
        }
        if (p[1] == PT_MEMBER_FD) {
            fcntl(p[1], F_SETFD, 0);
        } else if (dup2(p[1], PT_MEMBER_FD) != PT_MEMBER_FD) {
            _exit(PT_EXIT_SETUP);
        }
        execv("/proc/self/exe", (char *const*)args);
        fprintf(stderr, "ucx_cpg_perftest: exec /proc/self/exe: %s\n", strerror(errno));
        _exit(PT_EXIT_SETUP);
    }
    free(args);
    close(p[1]);
    l->child[rank].pid    = pid;
    l->child[rank].fd     = p[0];
    l->child[rank].status = -1;
    return 0;
}

static void pt_local_kill(pt_local_t *l, int sig)
{
    unsigned r;

    for (r = 0; r < l->n; ++r) {
        if ((l->child[r].pid > 0) && (l->child[r].status == -1)) {
            kill(l->child[r].pid, sig);
        }
    }
}

/* Reaps whoever has exited; the number still running. */
static unsigned pt_local_reap(pt_local_t *l, int block)
{
    unsigned r, running = 0;

    for (r = 0; r < l->n; ++r) {
        pt_child_t *c = &l->child[r];

        if ((c->pid > 0) && (c->status == -1)) {
            int st;
            pid_t w = waitpid(c->pid, &st, block ? 0 : WNOHANG);

            if (w == c->pid) {
                c->status = st;
            } else if ((w < 0) && (errno == ECHILD)) {
                c->status = 0;
            } else {
                running++;
            }
        }
    }
    return running;
}

static int pt_local_child_status(const pt_child_t *c)
{
    if (c->status == -1) {
        return PT_EXIT_FAIL;
    }
    if (WIFEXITED(c->status)) {
        return WEXITSTATUS(c->status);
    }
    return PT_EXIT_FAIL;
}

int pt_local_run(const pt_opts_t *o, int argc, char *const argv[])
{
    uint64_t deadline = 0, kill_at = 0;
    char group[PT_NAME_MAX], error[300] = "";
    struct sigaction sa;
    pt_local_t *l;
    unsigned r, open_fds;
    int status = PT_EXIT_OK, killed = 0, timed_out = 0;

    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        fprintf(stderr, "ucx_cpg_perftest: out of memory\n");
        return PT_EXIT_SETUP;
    }
    l->o = o;
    l->n = o->members;
    pt_report_init(&l->rep, stdout, o, "local");
    snprintf(group, sizeof(group), "ucx_cpg_perftest.%d", (int)getpid());
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pt_local_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o->timeout_s != 0) {
        deadline = pt_deadline(o) + PT_GRACE_NS;
    }
    pt_report_begin(&l->rep, o);
    for (r = 0; r < l->n; ++r) {
        l->child[r].fd = -1;
        if (pt_local_spawn(l, r, argc, argv, group) != 0) {
            status = PT_EXIT_SETUP;
            snprintf(error, sizeof(error), "could not start member %u", r);
            pt_local_kill(l, SIGKILL);
            l->n = r;
            break;
        }
    }
    /* gather until every pipe is closed */
    for (;;) {
        struct pollfd pfd[PT_MAX_MEMBERS];
        unsigned idx[PT_MAX_MEMBERS];
        uint64_t now = pt_clock_ns();
        int ret;

        open_fds = 0;
        for (r = 0; r < l->n; ++r) {
            if (l->child[r].fd >= 0) {
                pfd[open_fds].fd      = l->child[r].fd;
                pfd[open_fds].events  = POLLIN;
                pfd[open_fds].revents = 0;
                idx[open_fds++]       = r;
            }
        }
        if (open_fds == 0) {
            break;
        }
        if (pt_local_interrupted && !killed) {
            snprintf(error, sizeof(error), "interrupted");
            status = PT_EXIT_FAIL;
            pt_local_kill(l, SIGTERM);
            killed  = 1;
            kill_at = now + PT_KILL_GRACE_NS;
        }
        if ((deadline != 0) && (now >= deadline) && !timed_out) {
            timed_out = 1;
            pt_local_kill(l, SIGKILL);
        }
        if ((kill_at != 0) && (now >= kill_at)) {
            pt_local_kill(l, SIGKILL);
            kill_at = 0;
        }
        ret = poll(pfd, open_fds, 100);
        if ((ret < 0) && (errno != EINTR)) {
            break;
        }
        for (r = 0; (ret > 0) && (r < open_fds); ++r) {
            if (pfd[r].revents != 0) {
                pt_local_read(l, idx[r]);
            }
        }
        /* a member that exited with an error: stop the others after a grace
         * period (they normally fail at once when it leaves the group) */
        if (pt_local_reap(l, 0) < l->n) {
            for (r = 0; r < l->n; ++r) {
                if ((l->child[r].status != -1) && (pt_local_child_status(&l->child[r]) != 0) &&
                    !killed) {
                    killed  = 1;
                    kill_at = pt_clock_ns() + PT_KILL_GRACE_NS;
                }
            }
        }
    }
    if (pt_local_reap(l, 0) > 0) {
        pt_local_kill(l, SIGKILL);
    }
    pt_local_reap(l, 1);

    for (r = 0; r < l->n; ++r) {
        pt_child_t *c = &l->child[r];
        int st = pt_local_child_status(c);

        if (c->error[0] != '\0') {
            fprintf(stderr, "ucx_cpg_perftest: %s\n", c->error);
            if (error[0] == '\0') {
                snprintf(error, sizeof(error), "%s", c->error);
            }
        } else if ((c->status != -1) && WIFSIGNALED(c->status) && !timed_out) {
            fprintf(stderr, "ucx_cpg_perftest: rank %u (pid %d) was killed by signal %d\n", r,
                    (int)c->pid, WTERMSIG(c->status));
        }
        if (st == PT_EXIT_TIMEOUT) {
            timed_out = 1;
        } else if ((st != PT_EXIT_OK) && (status == PT_EXIT_OK)) {
            status = (st == PT_EXIT_USAGE) ? PT_EXIT_FAIL : st;
        }
        if ((st == PT_EXIT_OK) && (c->results != o->nsizes)) {
            status = (status == PT_EXIT_OK) ? PT_EXIT_FAIL : status;
            if (error[0] == '\0') {
                snprintf(error, sizeof(error), "rank %u ended after %u of %u sizes", r,
                         c->results, o->nsizes);
            }
        }
    }
    if (l->bad_record && (status == PT_EXIT_OK)) {
        status = PT_EXIT_FAIL;
        snprintf(error, sizeof(error), "a member sent a malformed record");
    }
    if (timed_out) {
        status = PT_EXIT_TIMEOUT;
        if (error[0] == '\0') {
            snprintf(error, sizeof(error), "time limit (-T %u) reached", o->timeout_s);
        }
        fprintf(stderr, "ucx_cpg_perftest: time limit (-T %u) reached\n", o->timeout_s);
    }
    if ((status == PT_EXIT_OK) && (l->printed != o->nsizes)) {
        status = PT_EXIT_FAIL;
        snprintf(error, sizeof(error), "only %u of %u sizes completed", l->printed, o->nsizes);
    }
    pt_report_end(&l->rep, status, (status == PT_EXIT_OK) ? NULL : error);
    free(l);
    return status;
}

/* --- member mode ---------------------------------------------------------------- */

static void pt_member_write(int fd, const pt_msg_t *m)
{
    char line[PT_LINE_MAX];
    int n = pt_msg_encode(m, line, sizeof(line));

    if ((n > 0) && (write(fd, line, (size_t)n) != n)) {
        /* the reporter is gone: nothing to tell */
    }
}

static void pt_sink_pipe_result(pt_sink_t *s, const pt_result_t *r)
{
    pt_msg_t m;

    pt_result_to_msg(r, &m);
    pt_member_write(*(int*)s->arg, &m);
}

int pt_member_run(const pt_opts_t *o)
{
    int fd = o->result_fd;
    pt_sink_t sink = {NULL, pt_sink_pipe_result, pt_sink_pipe_result, &fd};
    pt_error_t e = {PT_EXIT_OK, ""};
    pt_cpg_member_t *m;
    char err[256];
    int ret = -1;

    if (o->ncpus > 0) {
        int cpu = o->cpus[(unsigned)o->rank % o->ncpus];

        if (pt_pin_cpus(&cpu, 1, err, sizeof(err)) != 0) {
            pt_error_set(&e, PT_EXIT_SETUP, "rank %d: %s", o->rank, err);
        }
    }
    if (e.status == PT_EXIT_OK) {
        m = pt_cpg_member_create(o, (unsigned)o->rank, o->group, &e);
        if (m != NULL) {
            ret = pt_cpg_member_run(m, &sink, NULL, &e);
            pt_cpg_member_destroy(m);
        }
    }
    if (ret != 0) {
        pt_msg_t msg;

        pt_msg_init(&msg, "ERROR");
        pt_msg_set(&msg, "msg", e.text);
        pt_member_write(fd, &msg);
        return (e.status != PT_EXIT_OK) ? e.status : PT_EXIT_FAIL;
    }
    return PT_EXIT_OK;
}
