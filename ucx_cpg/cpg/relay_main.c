/*
 * relay_main.c - ucx_cpg_relay: the CPG handle of a forked process.
 *
 *   ucx_cpg_relay --for PID --requests FD --events FD
 *
 * Started by relay_client.c in a process that was forked while its parent
 * had a ucx_cpg domain (UCX cannot run there: docs/architecture.md, "Fork").
 * A fresh program can: it opens a real handle and serves that process's
 * calls (requests on one socket, one reply each) and forwards every callback
 * of the handle (frames on the other socket, which the process reads in
 * cpg_dispatch). The wire is relay_wire.h.
 *
 * It joins the domain as that process: peers see and watch the pid it speaks
 * for (ucpg_proc_identity_set), so the member list shows that pid and the
 * process's death removes the member (PROCDOWN) at once, as any death.
 * It ends when that process finalizes the handle, closes the sockets or
 * exits (its parent changes); the handle is finalized then (a process that
 * died without cpg_leave is PROCDOWN to the others, as in corosync).
 *
 * Callback frames wait in a buffer while the process does not read them;
 * above UCPG_RELAY_PENDING_MAX the relay stops dispatching, so the library's
 * own flow control, not this buffer, absorbs a slow reader.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/proc.h"
#include "relay_wire.h"

#define UCPG_RELAY_PENDING_MAX (4u << 20)

typedef struct ucpg_relay {
    pid_t            for_pid;
    int              rfd, efd;        /* requests and replies; callbacks */
    cpg_handle_t     handle;
    int              have_handle;
    ucpg_relay_out_t pending;         /* callback frames not written yet */
    size_t           pending_sent;    /* of them, bytes written */
    int              done;
} ucpg_relay_t;

static ucpg_relay_t ucpg_relay;

/* --- callbacks: queued as frames ----------------------------------------------------- */

static void ucpg_relay_queue_end(size_t start, uint32_t type)
{
    if (ucpg_relay_out_end(&ucpg_relay.pending, start, type) != UCPG_OK) {
        fprintf(stderr, "ucx_cpg_relay: out of memory queueing a callback\n");
        ucpg_relay.done = 1;              /* better gone (PROCDOWN) than silently lossy */
    }
}

static void ucpg_relay_on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid,
                                  uint32_t pid, void *msg, size_t len)
{
    size_t start = ucpg_relay_out_begin(&ucpg_relay.pending);

    (void)h;
    ucpg_relay_out_name(&ucpg_relay.pending, group);
    ucpg_relay_out_u32(&ucpg_relay.pending, nodeid);
    ucpg_relay_out_u32(&ucpg_relay.pending, pid);
    ucpg_relay_out_bytes(&ucpg_relay.pending, msg, len);
    ucpg_relay_queue_end(start, UCPG_RELAY_EV_DELIVER);
}

static void ucpg_relay_on_confchg(cpg_handle_t h, const struct cpg_name *group,
                                  const struct cpg_address *members, size_t nmembers,
                                  const struct cpg_address *left, size_t nleft,
                                  const struct cpg_address *joined, size_t njoined)
{
    size_t start = ucpg_relay_out_begin(&ucpg_relay.pending);

    (void)h;
    ucpg_relay_out_name(&ucpg_relay.pending, group);
    ucpg_relay_out_list(&ucpg_relay.pending, members, nmembers);
    ucpg_relay_out_list(&ucpg_relay.pending, left, nleft);
    ucpg_relay_out_list(&ucpg_relay.pending, joined, njoined);
    ucpg_relay_queue_end(start, UCPG_RELAY_EV_CONFCHG);
}

static void ucpg_relay_on_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n,
                                const uint32_t *nodes)
{
    size_t start = ucpg_relay_out_begin(&ucpg_relay.pending);
    uint32_t i;

    (void)h;
    ucpg_relay_out_u32(&ucpg_relay.pending, ring.nodeid);
    ucpg_relay_out_u64(&ucpg_relay.pending, ring.seq);
    ucpg_relay_out_u32(&ucpg_relay.pending, n);
    for (i = 0; i < n; ++i) {
        ucpg_relay_out_u32(&ucpg_relay.pending, nodes[i]);
    }
    ucpg_relay_queue_end(start, UCPG_RELAY_EV_TOTEM);
}

/* Writes what the socket takes now; the rest waits for POLLOUT. */
static void ucpg_relay_flush(void)
{
    ucpg_relay_out_t *q = &ucpg_relay.pending;
    ssize_t n;

    while (ucpg_relay.pending_sent < q->len) {
        n = send(ucpg_relay.efd, q->p + ucpg_relay.pending_sent, q->len - ucpg_relay.pending_sent,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if ((errno != EAGAIN) && (errno != EWOULDBLOCK) && (errno != EINTR)) {
                ucpg_relay.done = 1;      /* the process stopped listening: it is gone */
            }
            if (errno != EINTR) {
                return;
            }
            continue;
        }
        ucpg_relay.pending_sent += (size_t)n;
    }
    q->len = ucpg_relay.pending_sent = 0;
}

/* --- requests ---------------------------------------------------------------------- */

static cs_error_t ucpg_relay_do_init(ucpg_wire_reader_t *r)
{
    cpg_model_v1_data_t v1;
    uint32_t flags      = ucpg_wire_get_u32(r);
    uint32_t with_totem = ucpg_wire_get_u32(r);

    if (ucpg_wire_reader_finish(r) != UCPG_OK) {
        return CS_ERR_INVALID_PARAM;
    }
    if (ucpg_relay.have_handle) {
        return CS_ERR_EXIST;
    }
    memset(&v1, 0, sizeof(v1));
    v1.model                = CPG_MODEL_V1;
    v1.cpg_deliver_fn       = ucpg_relay_on_deliver;
    v1.cpg_confchg_fn       = ucpg_relay_on_confchg;
    v1.cpg_totem_confchg_fn = with_totem ? ucpg_relay_on_totem : NULL;
    v1.flags                = flags;
    if (cpg_model_initialize(&ucpg_relay.handle, CPG_MODEL_V1, (cpg_model_data_t*)&v1, NULL) !=
        CS_OK) {
        return CS_ERR_LIBRARY;
    }
    ucpg_relay.have_handle = 1;
    return CS_OK;
}

static cs_error_t ucpg_relay_do_name_op(ucpg_wire_reader_t *r, uint32_t type)
{
    struct cpg_name name;

    if ((ucpg_relay_get_name(r, &name) != UCPG_OK) || (ucpg_wire_reader_finish(r) != UCPG_OK)) {
        return CS_ERR_INVALID_PARAM;
    }
    return (type == UCPG_RELAY_JOIN) ? cpg_join(ucpg_relay.handle, &name) :
                                       cpg_leave(ucpg_relay.handle, &name);
}

static cs_error_t ucpg_relay_do_mcast(ucpg_wire_reader_t *r)
{
    uint32_t guarantee = ucpg_wire_get_u32(r);
    uint64_t len       = ucpg_wire_get_u64(r);
    struct iovec iov;

    if (r->short_read || (len != r->len - r->pos)) {
        return CS_ERR_INVALID_PARAM;
    }
    iov.iov_base = (void*)(uintptr_t)(r->buf + r->pos);
    iov.iov_len  = (size_t)len;
    return cpg_mcast_joined(ucpg_relay.handle, (cpg_guarantee_t)guarantee, &iov, 1);
}

static cs_error_t ucpg_relay_do_membership(ucpg_wire_reader_t *r, ucpg_relay_out_t *o)
{
    struct cpg_address *list;
    struct cpg_name name;
    uint32_t room;
    int n;
    cs_error_t err;

    if ((ucpg_relay_get_name(r, &name) != UCPG_OK)) {
        return CS_ERR_INVALID_PARAM;
    }
    room = ucpg_wire_get_u32(r);
    if ((ucpg_wire_reader_finish(r) != UCPG_OK) || (room > UCPG_RELAY_LIST_MAX)) {
        return CS_ERR_INVALID_PARAM;
    }
    list = calloc((size_t)room + 1, sizeof(*list));
    if (list == NULL) {
        return CS_ERR_NO_MEMORY;
    }
    n   = (int)room;
    err = cpg_membership_get(ucpg_relay.handle, &name, list, &n);
    if ((err == CS_OK) || (err == CS_ERR_NO_SPACE)) {
        ucpg_relay_out_u32(o, (uint32_t)n);                       /* how many there are */
        ucpg_relay_out_list(o, list, ((uint32_t)n < room) ? (size_t)n : room);
    }
    free(list);
    return err;
}

static cs_error_t ucpg_relay_do_iter(ucpg_wire_reader_t *r, uint32_t type, ucpg_relay_out_t *o)
{
    struct cpg_iteration_description_t desc;
    cpg_iteration_handle_t it;
    struct cpg_name name;
    uint32_t itype, has_name;
    cs_error_t err;

    if (type == UCPG_RELAY_ITER_INIT) {
        itype    = ucpg_wire_get_u32(r);
        has_name = ucpg_wire_get_u32(r);
        if ((ucpg_relay_get_name(r, &name) != UCPG_OK) ||
            (ucpg_wire_reader_finish(r) != UCPG_OK)) {
            return CS_ERR_INVALID_PARAM;
        }
        err = cpg_iteration_initialize(ucpg_relay.handle, (cpg_iteration_type_t)itype,
                                       has_name ? &name : NULL, &it);
        ucpg_relay_out_u64(o, (err == CS_OK) ? it : 0);
        return err;
    }
    it = ucpg_wire_get_u64(r);
    if (ucpg_wire_reader_finish(r) != UCPG_OK) {
        return CS_ERR_INVALID_PARAM;
    }
    if (type == UCPG_RELAY_ITER_FINALIZE) {
        return cpg_iteration_finalize(it);
    }
    err = cpg_iteration_next(it, &desc);
    if (err == CS_OK) {
        ucpg_relay_out_name(o, &desc.group);
        ucpg_relay_out_u32(o, desc.nodeid);
        ucpg_relay_out_u32(o, desc.pid);
    }
    return err;
}

/* Queries answered with one u32. */
static cs_error_t ucpg_relay_do_query(ucpg_wire_reader_t *r, uint32_t type, ucpg_relay_out_t *o)
{
    cpg_flow_control_state_t flow = CPG_FLOW_CONTROL_DISABLED;
    unsigned int nodeid = 0;
    uint32_t size = 0, v;
    cs_error_t err;

    if (ucpg_wire_reader_finish(r) != UCPG_OK) {
        return CS_ERR_INVALID_PARAM;
    }
    if (type == UCPG_RELAY_LOCAL_GET) {
        err = cpg_local_get(ucpg_relay.handle, &nodeid);
        v   = nodeid;
    } else if (type == UCPG_RELAY_MAX_MSG) {
        err = cpg_max_atomic_msgsize_get(ucpg_relay.handle, &size);
        v   = size;
    } else {
        err = cpg_flow_control_state_get(ucpg_relay.handle, &flow);
        v   = (uint32_t)flow;
    }
    ucpg_relay_out_u32(o, v);
    return err;
}

/* Runs one request; its reply payload goes to o (after the status). */
static cs_error_t ucpg_relay_run(const ucpg_relay_frame_t *f, ucpg_relay_out_t *o)
{
    ucpg_wire_reader_t r;

    ucpg_wire_reader_init(&r, f->body, f->len);
    if (f->type == UCPG_RELAY_INIT) {
        return ucpg_relay_do_init(&r);
    }
    if (!ucpg_relay.have_handle) {
        return CS_ERR_BAD_HANDLE;
    }
    switch (f->type) {
    case UCPG_RELAY_FINALIZE:
        ucpg_relay.done = 1;              /* the handle goes after the reply */
        return (ucpg_wire_reader_finish(&r) == UCPG_OK) ? CS_OK : CS_ERR_INVALID_PARAM;
    case UCPG_RELAY_JOIN:
    case UCPG_RELAY_LEAVE:
        return ucpg_relay_do_name_op(&r, f->type);
    case UCPG_RELAY_MCAST:
        return ucpg_relay_do_mcast(&r);
    case UCPG_RELAY_MEMBERSHIP:
        return ucpg_relay_do_membership(&r, o);
    case UCPG_RELAY_LOCAL_GET:
    case UCPG_RELAY_MAX_MSG:
    case UCPG_RELAY_FLOW:
        return ucpg_relay_do_query(&r, f->type, o);
    case UCPG_RELAY_ITER_INIT:
    case UCPG_RELAY_ITER_NEXT:
    case UCPG_RELAY_ITER_FINALIZE:
        return ucpg_relay_do_iter(&r, f->type, o);
    default:
        return CS_ERR_INVALID_PARAM;
    }
}

/* Reads one request and answers it; the relay is done when the stream is. */
static void ucpg_relay_serve_one(void)
{
    ucpg_relay_frame_t f;
    ucpg_relay_out_t o;
    size_t start;
    cs_error_t err;

    if (ucpg_relay_frame_recv(ucpg_relay.rfd, UCPG_RELAY_FRAME_MAX, &f) != UCPG_OK) {
        ucpg_relay.done = 1;
        return;
    }
    ucpg_relay_out_init(&o);
    start = ucpg_relay_out_begin(&o);
    ucpg_relay_out_u32(&o, 0);                 /* the status, set below */
    err = ucpg_relay_run(&f, &o);
    free(f.body);
    ucpg_relay_out_u32_at(&o, start + UCPG_RELAY_FRAME_HDR, (uint32_t)err);
    if ((ucpg_relay_out_end(&o, start, UCPG_RELAY_REPLY) != UCPG_OK) ||
        (ucpg_relay_out_send(ucpg_relay.rfd, &o) != UCPG_OK)) {
        ucpg_relay.done = 1;
    }
    ucpg_relay_out_free(&o);
}

/* --- the loop ---------------------------------------------------------------------- */

static void ucpg_relay_loop(void)
{
    struct pollfd pfd[3];
    int cfd = -1;

    while (!ucpg_relay.done) {
        if (ucpg_relay.have_handle && (cfd < 0) && (cpg_fd_get(ucpg_relay.handle, &cfd) != CS_OK)) {
            break;
        }
        pfd[0].fd      = ucpg_relay.rfd;
        pfd[0].events  = POLLIN;
        pfd[1].fd      = ucpg_relay.efd;
        pfd[1].events  = (ucpg_relay.pending.len > 0) ? POLLOUT : 0;
        pfd[2].fd      = (ucpg_relay.pending.len < UCPG_RELAY_PENDING_MAX) ? cfd : -1;
        pfd[2].events  = POLLIN;
        pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
        if ((poll(pfd, 3, 1000) < 0) && (errno != EINTR)) {
            break;
        }
        if (getppid() != ucpg_relay.for_pid) {
            break;                        /* the process we speak for is gone */
        }
        if (pfd[1].revents & (POLLERR | POLLHUP)) {
            break;
        }
        if ((pfd[2].revents & POLLIN) &&
            (cpg_dispatch(ucpg_relay.handle, CS_DISPATCH_ALL) != CS_OK)) {
            break;
        }
        ucpg_relay_flush();
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ucpg_relay_serve_one();
        }
    }
}

static int ucpg_relay_usage(void)
{
    fprintf(stderr, "usage: ucx_cpg_relay --for PID --requests FD --events FD\n"
                    "(started by libucx_cpg in a process forked while its parent had a "
                    "ucx_cpg domain)\n");
    return 2;
}

static int ucpg_relay_parse(int argc, char **argv)
{
    long v[3] = {-1, -1, -1};
    const char *keys[3] = {"--for", "--requests", "--events"};
    char *end;
    int i, k;

    for (i = 1; i + 1 < argc; i += 2) {
        for (k = 0; (k < 3) && (strcmp(argv[i], keys[k]) != 0); ++k) {
        }
        if (k == 3) {
            return -1;
        }
        errno = 0;
        v[k]  = strtol(argv[i + 1], &end, 10);
        if ((errno != 0) || (*end != '\0') || (v[k] < 0) || (v[k] > INT32_MAX)) {
            return -1;
        }
    }
    if ((i != argc) || (v[0] <= 0) || (v[1] < 0) || (v[2] < 0) || (v[1] == v[2])) {
        return -1;
    }
    ucpg_relay.for_pid = (pid_t)v[0];
    ucpg_relay.rfd     = (int)v[1];
    ucpg_relay.efd     = (int)v[2];
    return 0;
}

/* Descriptors the process had open are not ours to keep open (a pipe it
 * shares with its parent would not see end of file while we live). */
static void ucpg_relay_close_others(void)
{
    int keep[2] = {ucpg_relay.rfd, ucpg_relay.efd}, i;
    unsigned next = 3;

    if (keep[0] > keep[1]) {
        keep[0] = ucpg_relay.efd;
        keep[1] = ucpg_relay.rfd;
    }
    for (i = 0; i < 2; ++i) {
        if ((unsigned)keep[i] > next) {
            close_range(next, (unsigned)keep[i] - 1, 0);
        }
        if ((unsigned)keep[i] >= next) {
            next = (unsigned)keep[i] + 1;
        }
    }
    close_range(next, ~0u, 0);
}

int main(int argc, char **argv)
{
    if (ucpg_relay_parse(argc, argv) != 0) {
        return ucpg_relay_usage();
    }
    if (getppid() != ucpg_relay.for_pid) {
        fprintf(stderr, "ucx_cpg_relay: must be started by process %d itself\n",
                (int)ucpg_relay.for_pid);
        return 2;
    }
    ucpg_relay_close_others();
    signal(SIGPIPE, SIG_IGN);
    ucpg_relay_out_init(&ucpg_relay.pending);
    ucpg_proc_identity_set(ucpg_relay.for_pid);
    ucpg_relay_loop();
    if (ucpg_relay.have_handle) {
        cpg_finalize(ucpg_relay.handle);
    }
    ucpg_relay_out_free(&ucpg_relay.pending);
    return 0;
}
