/*
 * relay_client.c - CPG handles of a process forked while its parent had a
 * domain.
 *
 * Such a process cannot run UCX (docs/architecture.md, "Fork"), yet corosync
 * lets it call cpg_initialize again, and programs do. So its handles are
 * served by a relay: cpg_initialize starts ucx_cpg_relay (the configured
 * relay setting) with two sockets, and every call on the handle becomes a
 * request that the relay runs on a real handle of its own (relay_main.c).
 * Callbacks come back as frames on the second socket, which is the handle's
 * cpg_fd_get descriptor: readable while callbacks wait, like the native one.
 * The relay joins the domain as this process (peers see and watch our pid),
 * so member lists, confchgs and deaths look exactly as for a native handle.
 *
 * Handles are tagged with UCPG_CPG_RELAY_TAG, which native handles never
 * carry, so every entry point can tell them apart at once. Differences from
 * a native handle, documented in docs/cpg.md: each call costs a round trip
 * to the relay, and zero-copy buffers are copied once on send.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpg_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/boot.h"
#include "core/config.h"
#include "core/log.h"
#include "core/proc.h"
#include "relay_int.h"

extern char **environ;

#define UCPG_CPG_RELAYS        256u      /* handles per process */
#define UCPG_CPG_RELAY_ITERS   256u      /* iterations per process */
#define UCPG_CPG_RELAY_WAIT_MS 2000u     /* for the relay to exit after finalize */
#define UCPG_CPG_RELAY_SLACK_MS 2000u    /* a call's bound beyond the join timeout */

static pthread_mutex_t   ucpg_cpg_relay_table_lock = PTHREAD_MUTEX_INITIALIZER;
static ucpg_cpg_relay_t *ucpg_cpg_relay_table[UCPG_CPG_RELAYS];

/* --- the table ----------------------------------------------------------------------- */

ucpg_cpg_relay_t *ucpg_cpg_relay_get(cpg_handle_t id)
{
    uint32_t i = (uint32_t)(id & 0xffffffffu);
    ucpg_cpg_relay_t *r = NULL;

    pthread_mutex_lock(&ucpg_cpg_relay_table_lock);
    if ((i < UCPG_CPG_RELAYS) && (ucpg_cpg_relay_table[i] != NULL) &&
        (ucpg_cpg_relay_table[i]->id == id) && !ucpg_cpg_relay_table[i]->finalized) {
        r = ucpg_cpg_relay_table[i];
        ++r->refs;
    }
    pthread_mutex_unlock(&ucpg_cpg_relay_table_lock);
    return r;
}

/* Waits a bounded time for the relay to exit, then makes sure it does. */
static void ucpg_cpg_relay_reap(pid_t pid)
{
    uint64_t deadline = ucpg_time_ms() + UCPG_CPG_RELAY_WAIT_MS;
    int status;

    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (ucpg_time_ms() > deadline) {
            ucpg_warn("CPG relay %d did not exit; killing it", (int)pid);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return;
        }
        usleep(1000);
    }
}

static void ucpg_cpg_relay_destroy(ucpg_cpg_relay_t *r)
{
    ucpg_cpg_zcb_t *z;

    if (r->rfd >= 0) {
        close(r->rfd);                    /* the relay sees the end and leaves */
    }
    if (r->efd >= 0) {
        close(r->efd);
    }
    if (r->pid > 0) {
        ucpg_cpg_relay_reap(r->pid);
    }
    while ((z = r->zcbs) != NULL) {
        r->zcbs = z->next;
        free(z->user);
        free(z);
    }
    pthread_mutex_destroy(&r->rpc_lock);
    pthread_mutex_destroy(&r->ev_lock);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void ucpg_cpg_relay_put(ucpg_cpg_relay_t *r)
{
    int last;

    pthread_mutex_lock(&ucpg_cpg_relay_table_lock);
    last = (--r->refs == 0);
    pthread_mutex_unlock(&ucpg_cpg_relay_table_lock);
    if (last) {
        ucpg_cpg_relay_destroy(r);
    }
}

static cs_error_t ucpg_cpg_relay_insert(ucpg_cpg_relay_t *r)
{
    uint32_t i;

    pthread_mutex_lock(&ucpg_cpg_relay_table_lock);
    for (i = 0; (i < UCPG_CPG_RELAYS) && (ucpg_cpg_relay_table[i] != NULL); ++i) {
    }
    if (i < UCPG_CPG_RELAYS) {
        r->id = UCPG_CPG_RELAY_TAG | ((ucpg_proc_random64() & 0x7fffffffull) << 32) | i;
        r->refs                   = 1;
        ucpg_cpg_relay_table[i] = r;
    }
    pthread_mutex_unlock(&ucpg_cpg_relay_table_lock);
    return (i < UCPG_CPG_RELAYS) ? CS_OK : CS_ERR_NO_RESOURCES;
}

/* Takes it out of the table: later lookups fail; the caller gets a
 * reference. NULL if it is not there (or another finalize came first). */
static ucpg_cpg_relay_t *ucpg_cpg_relay_retire(cpg_handle_t id)
{
    uint32_t i = (uint32_t)(id & 0xffffffffu);
    ucpg_cpg_relay_t *r = NULL;

    pthread_mutex_lock(&ucpg_cpg_relay_table_lock);
    if ((i < UCPG_CPG_RELAYS) && (ucpg_cpg_relay_table[i] != NULL) &&
        (ucpg_cpg_relay_table[i]->id == id)) {
        r = ucpg_cpg_relay_table[i];      /* the table's reference becomes ours */
        ucpg_cpg_relay_table[i] = NULL;
        __atomic_store_n(&r->finalized, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&ucpg_cpg_relay_table_lock);
    return r;
}

/* --- requests ------------------------------------------------------------------------ */

/*
 * Sends the request frame(s) in iov and reads the reply into *reply (its
 * body after the status; the caller frees reply->body). CS_ERR_LIBRARY if
 * the relay is gone or answered nonsense.
 */
static cs_error_t ucpg_cpg_relay_call(ucpg_cpg_relay_t *r, uint32_t type,
                                      const struct iovec *iov, int iovcnt,
                                      ucpg_relay_frame_t *reply, ucpg_wire_reader_t *rd)
{
    ucpg_status_t status;
    uint32_t err;

    memset(reply, 0, sizeof(*reply));
    ucpg_wire_reader_init(rd, NULL, 0);
    pthread_mutex_lock(&r->rpc_lock);
    status = ucpg_relay_frame_send(r->rfd, type, iov, iovcnt);
    if (status == UCPG_OK) {
        status = ucpg_relay_frame_recv(r->rfd, UCPG_RELAY_SMALL_MAX, reply);
    }
    if ((status == UCPG_OK) && (reply->type == UCPG_RELAY_REPLY)) {
        ucpg_wire_reader_init(rd, reply->body, reply->len);
        err = ucpg_wire_get_u32(rd);
        status = rd->short_read ? UCPG_ERR_MESSAGE : UCPG_OK;
    } else if (status == UCPG_OK) {
        status = UCPG_ERR_MESSAGE;
    }
    if (status != UCPG_OK) {
        /* The stream is out of step (or the relay gone, stopped past the
         * socket timeouts): later calls fail at once instead of reading a
         * late answer as theirs. */
        shutdown(r->rfd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&r->rpc_lock);
    if (status != UCPG_OK) {
        ucpg_error("CPG relay %d: %s", (int)r->pid, (status == UCPG_ERR_PEER_DOWN) ?
                   "gone, or no answer within the timeout" : "malformed reply");
        free(reply->body);
        reply->body = NULL;
        ucpg_wire_reader_init(rd, NULL, 0);
        return CS_ERR_LIBRARY;
    }
    return (cs_error_t)err;
}

/* A request whose reply carries nothing but its status. */
static cs_error_t ucpg_cpg_relay_simple(ucpg_cpg_relay_t *r, uint32_t type,
                                        const ucpg_relay_out_t *body)
{
    ucpg_relay_frame_t reply;
    ucpg_wire_reader_t rd;
    struct iovec iov;
    cs_error_t err;

    if ((body != NULL) && body->failed) {
        return CS_ERR_NO_MEMORY;
    }
    iov.iov_base = (body != NULL) ? body->p : NULL;
    iov.iov_len  = (body != NULL) ? body->len : 0;
    err = ucpg_cpg_relay_call(r, type, &iov, 1, &reply, &rd);
    free(reply.body);
    return err;
}

/* A request with a name as its whole body (join, leave). */
static cs_error_t ucpg_cpg_relay_name_op(cpg_handle_t handle, uint32_t type,
                                         const struct cpg_name *group)
{
    ucpg_cpg_relay_t *r;
    ucpg_relay_out_t body;
    cs_error_t err;

    if (group == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (group->length > CPG_MAX_NAME_LENGTH) {
        return CS_ERR_NAME_TOO_LONG;
    }
    if ((r = ucpg_cpg_relay_get(handle)) == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    ucpg_relay_out_init(&body);
    ucpg_relay_out_name(&body, group);
    err = ucpg_cpg_relay_simple(r, type, &body);
    ucpg_relay_out_free(&body);
    ucpg_cpg_relay_put(r);
    return err;
}

/* Queries answered with one u32. */
static cs_error_t ucpg_cpg_relay_query(cpg_handle_t handle, uint32_t type, uint32_t *v)
{
    ucpg_relay_frame_t reply;
    ucpg_wire_reader_t rd;
    ucpg_cpg_relay_t *r;
    cs_error_t err;
    uint32_t value;

    if ((r = ucpg_cpg_relay_get(handle)) == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    err   = ucpg_cpg_relay_call(r, type, NULL, 0, &reply, &rd);
    value = ucpg_wire_get_u32(&rd);
    if ((err == CS_OK) && (ucpg_wire_reader_finish(&rd) != UCPG_OK)) {
        err = CS_ERR_LIBRARY;
    }
    if (err == CS_OK) {
        *v = value;
    }
    free(reply.body);
    ucpg_cpg_relay_put(r);
    return err;
}

/* --- starting the relay ------------------------------------------------------------- */

/* Our environment with the relay's domain settings in front (the first
 * definition of a name wins in getenv). */
static char **ucpg_cpg_relay_env(const char *domain)
{
    size_t n = 0, i;
    char **env;

    while ((environ != NULL) && (environ[n] != NULL)) {
        ++n;
    }
    env = calloc(n + 3, sizeof(*env));
    if ((env == NULL) || (asprintf(&env[0], "UCX_CPG_DOMAIN=%s", domain) < 0)) {
        free(env);
        return NULL;
    }
    env[1] = (char*)"UCX_CPG_BOOT=local";
    for (i = 0; i < n; ++i) {
        env[i + 2] = environ[i];
    }
    return env;
}

/*
 * A relay that is alive but stopped (SIGSTOP) would leave a call or the
 * rest of a callback frame waiting for ever; the sockets' timeouts bound
 * that. The longest call is a join, which the relay gives up after
 * group_join_timeout_ms itself, so that plus some slack is the bound.
 */
static void ucpg_cpg_relay_timeouts(ucpg_cpg_relay_t *r, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};

    if ((setsockopt(r->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) ||
        (setsockopt(r->rfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) ||
        (setsockopt(r->efd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)) {
        ucpg_warn("CPG relay %d: socket timeouts not set: %m", (int)r->pid);
    }
}

static cs_error_t ucpg_cpg_relay_spawn(ucpg_cpg_relay_t *r, const char *path, const char *domain)
{
    int rs[2] = {-1, -1}, es[2] = {-1, -1}, rc = -1;
    char for_s[16], rfd_s[16], efd_s[16];
    posix_spawn_file_actions_t fa;
    char **env = NULL;

    if ((socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rs) == 0) &&
        (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, es) == 0) &&
        ((env = ucpg_cpg_relay_env(domain)) != NULL)) {
        char *argv[] = {(char*)"ucx_cpg_relay", (char*)"--for", for_s, (char*)"--requests",
                        rfd_s, (char*)"--events", efd_s, NULL};
        snprintf(for_s, sizeof(for_s), "%d", (int)getpid());
        snprintf(rfd_s, sizeof(rfd_s), "%d", rs[1]);
        snprintf(efd_s, sizeof(efd_s), "%d", es[1]);
        posix_spawn_file_actions_init(&fa);
        /* dup2 onto itself clears close-on-exec for the relay only */
        posix_spawn_file_actions_adddup2(&fa, rs[1], rs[1]);
        posix_spawn_file_actions_adddup2(&fa, es[1], es[1]);
        rc = posix_spawn(&r->pid, path, &fa, NULL, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        free(env[0]);
    }
    free(env);
    if (rs[1] >= 0) {
        close(rs[1]);
    }
    if (es[1] >= 0) {
        close(es[1]);
    }
    r->rfd = rs[0];
    r->efd = es[0];
    if (rc != 0) {
        r->pid = 0;
        ucpg_error("cannot start the CPG relay %s: %s", path,
                   (rc < 0) ? strerror(errno) : strerror(rc));
        return CS_ERR_LIBRARY;
    }
    return CS_OK;
}

int ucpg_cpg_relay_wanted(void)
{
    const char *method;
    char domain[64];

    return ucpg_boot_inherited(domain, sizeof(domain), &method) == UCPG_OK;
}

cs_error_t ucpg_cpg_relay_initialize(cpg_handle_t *handle, const cpg_model_v1_data_t *model,
                                     void *context)
{
    ucpg_relay_out_t body;
    ucpg_cpg_relay_t *r;
    ucpg_config_t config;
    const char *method;
    char domain[64];
    cs_error_t err;

    if ((ucpg_boot_inherited(domain, sizeof(domain), &method) != UCPG_OK) ||
        (ucpg_config_load(&config) != UCPG_OK)) {
        return CS_ERR_LIBRARY;
    }
    if ((strcmp(method, "local") != 0) || (config.relay[0] == '\0')) {
        ucpg_error("process %d was forked while its parent had a ucx_cpg domain (boot %s); "
                   "%s: exec() a new program or release the domain before fork()",
                   (int)getpid(), method, (config.relay[0] == '\0') ?
                   "the relay setting is empty" : "relays serve only the local boot method");
        return CS_ERR_LIBRARY;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        return CS_ERR_NO_MEMORY;
    }
    r->rfd = r->efd = -1;
    pthread_mutex_init(&r->rpc_lock, NULL);
    pthread_mutex_init(&r->ev_lock, NULL);
    pthread_mutex_init(&r->lock, NULL);
    r->model         = *model;
    r->context       = context;
    r->totem_initial = (model->flags & CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF) &&
                       (model->cpg_totem_confchg_fn != NULL);
    err = ucpg_cpg_relay_spawn(r, config.relay, domain);
    if (err == CS_OK) {
        ucpg_cpg_relay_timeouts(r, config.group_join_timeout_ms + UCPG_CPG_RELAY_SLACK_MS);
        ucpg_relay_out_init(&body);
        ucpg_relay_out_u32(&body, model->flags);
        ucpg_relay_out_u32(&body, model->cpg_totem_confchg_fn != NULL);
        err = ucpg_cpg_relay_simple(r, UCPG_RELAY_INIT, &body);
        ucpg_relay_out_free(&body);
    }
    if (err == CS_OK) {
        err = ucpg_cpg_relay_insert(r);
    }
    if (err != CS_OK) {
        ucpg_cpg_relay_destroy(r);
        return err;
    }
    *handle = r->id;
    return CS_OK;
}

/* --- the API ------------------------------------------------------------------------- */

static void ucpg_cpg_relay_iter_drop_all(cpg_handle_t handle);

cs_error_t ucpg_cpg_relay_finalize(cpg_handle_t handle)
{
    ucpg_cpg_relay_t *r = ucpg_cpg_relay_retire(handle);

    if (r == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    ucpg_cpg_relay_iter_drop_all(handle);
    (void)ucpg_cpg_relay_simple(r, UCPG_RELAY_FINALIZE, NULL);   /* gone: finalized too */
    shutdown(r->efd, SHUT_RDWR);          /* a blocked cpg_dispatch returns */
    ucpg_cpg_relay_put(r);
    return CS_OK;
}

cs_error_t ucpg_cpg_relay_fd_get(cpg_handle_t handle, int *fd)
{
    ucpg_cpg_relay_t *r = ucpg_cpg_relay_get(handle);

    if (r == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    *fd = r->efd;
    ucpg_cpg_relay_put(r);
    return CS_OK;
}

cs_error_t ucpg_cpg_relay_context(cpg_handle_t handle, void **get, void *set)
{
    ucpg_cpg_relay_t *r = ucpg_cpg_relay_get(handle);

    if (r == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    pthread_mutex_lock(&r->lock);
    if (get != NULL) {
        *get = r->context;
    } else {
        r->context = set;
    }
    pthread_mutex_unlock(&r->lock);
    ucpg_cpg_relay_put(r);
    return CS_OK;
}

cs_error_t ucpg_cpg_relay_join(cpg_handle_t handle, const struct cpg_name *group)
{
    return ucpg_cpg_relay_name_op(handle, UCPG_RELAY_JOIN, group);
}

cs_error_t ucpg_cpg_relay_leave(cpg_handle_t handle, const struct cpg_name *group)
{
    return ucpg_cpg_relay_name_op(handle, UCPG_RELAY_LEAVE, group);
}

cs_error_t ucpg_cpg_relay_mcast(cpg_handle_t handle, cpg_guarantee_t guarantee,
                                const struct iovec *iovec, unsigned int iov_len)
{
    ucpg_relay_frame_t reply = {0, NULL, 0};
    ucpg_wire_reader_t rd;
    ucpg_relay_out_t head;
    struct iovec *iov;
    ucpg_cpg_relay_t *r;
    uint64_t total = 0;
    unsigned i;
    cs_error_t err;

    if ((r = ucpg_cpg_relay_get(handle)) == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    for (i = 0; i < iov_len; ++i) {
        total += iovec[i].iov_len;
    }
    if ((iov = calloc((size_t)iov_len + 1, sizeof(*iov))) == NULL) {
        ucpg_cpg_relay_put(r);
        return CS_ERR_NO_MEMORY;
    }
    ucpg_relay_out_init(&head);               /* guarantee and length; the bytes follow */
    ucpg_relay_out_u32(&head, (uint32_t)guarantee);
    ucpg_relay_out_u64(&head, total);
    iov[0].iov_base = head.p;
    iov[0].iov_len  = head.len;
    for (i = 0; i < iov_len; ++i) {
        iov[i + 1] = iovec[i];
    }
    err = head.failed ? CS_ERR_NO_MEMORY :
          (total > ((uint64_t)1 << 30)) ? CS_ERR_TOO_BIG :     /* above any group_max_msg */
          ucpg_cpg_relay_call(r, UCPG_RELAY_MCAST, iov, (int)iov_len + 1, &reply, &rd);
    free(reply.body);
    ucpg_relay_out_free(&head);
    free(iov);
    ucpg_cpg_relay_put(r);
    return err;
}

cs_error_t ucpg_cpg_relay_membership(cpg_handle_t handle, const struct cpg_name *group,
                                     struct cpg_address *list, int *entries)
{
    ucpg_relay_frame_t reply = {0, NULL, 0};
    ucpg_wire_reader_t rd;
    ucpg_relay_out_t body;
    ucpg_cpg_relay_t *r;
    uint32_t total;
    size_t n = 0;
    cs_error_t err;

    if ((r = ucpg_cpg_relay_get(handle)) == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    ucpg_relay_out_init(&body);
    ucpg_relay_out_name(&body, group);
    ucpg_relay_out_u32(&body, ((unsigned)*entries > UCPG_RELAY_LIST_MAX) ?
                              UCPG_RELAY_LIST_MAX : (uint32_t)*entries);
    err = body.failed ? CS_ERR_NO_MEMORY :
          ucpg_cpg_relay_call(r, UCPG_RELAY_MEMBERSHIP, &(struct iovec){body.p, body.len}, 1,
                              &reply, &rd);
    if ((err == CS_OK) || (err == CS_ERR_NO_SPACE)) {
        total = ucpg_wire_get_u32(&rd);
        if ((ucpg_relay_get_list(&rd, list, (size_t)*entries, &n) != UCPG_OK) ||
            (ucpg_wire_reader_finish(&rd) != UCPG_OK) || (total > INT32_MAX)) {
            err = CS_ERR_LIBRARY;
        } else {
            *entries = (int)total;
        }
    }
    free(reply.body);
    ucpg_relay_out_free(&body);
    ucpg_cpg_relay_put(r);
    return err;
}

cs_error_t ucpg_cpg_relay_local_get(cpg_handle_t handle, unsigned int *nodeid)
{
    uint32_t v = 0;
    cs_error_t err = ucpg_cpg_relay_query(handle, UCPG_RELAY_LOCAL_GET, &v);

    if (err == CS_OK) {
        *nodeid = v;
    }
    return err;
}

cs_error_t ucpg_cpg_relay_max_msg(cpg_handle_t handle, uint32_t *size)
{
    return ucpg_cpg_relay_query(handle, UCPG_RELAY_MAX_MSG, size);
}

cs_error_t ucpg_cpg_relay_flow(cpg_handle_t handle, cpg_flow_control_state_t *state)
{
    uint32_t v = 0;
    cs_error_t err = ucpg_cpg_relay_query(handle, UCPG_RELAY_FLOW, &v);

    if (err == CS_OK) {
        *state = (v == CPG_FLOW_CONTROL_ENABLED) ? CPG_FLOW_CONTROL_ENABLED :
                                                   CPG_FLOW_CONTROL_DISABLED;
    }
    return err;
}

/* --- iteration: the relay's iterators, behind ids of ours ----------------------------- */

typedef struct ucpg_cpg_relay_iter {
    cpg_iteration_handle_t id;
    cpg_handle_t           handle;     /* the relayed handle it belongs to */
    uint64_t               remote;     /* the relay's iterator */
} ucpg_cpg_relay_iter_t;

static ucpg_cpg_relay_iter_t ucpg_cpg_relay_iters[UCPG_CPG_RELAY_ITERS];

/* Finds (and with take, removes) the iterator id; 0 if there is none. */
static int ucpg_cpg_relay_iter_find(cpg_iteration_handle_t id, int take,
                                    ucpg_cpg_relay_iter_t *it)
{
    uint32_t i = (uint32_t)(id & 0xffffffffu);
    int found;

    pthread_mutex_lock(&ucpg_cpg_relay_table_lock);
    found = (i < UCPG_CPG_RELAY_ITERS) && (ucpg_cpg_relay_iters[i].id == id) && (id != 0);
    if (found) {
        *it = ucpg_cpg_relay_iters[i];
        if (take) {
            memset(&ucpg_cpg_relay_iters[i], 0, sizeof(*it));
        }
    }
    pthread_mutex_unlock(&ucpg_cpg_relay_table_lock);
    return found;
}

static cpg_iteration_handle_t ucpg_cpg_relay_iter_add(cpg_handle_t handle, uint64_t remote)
{
    cpg_iteration_handle_t id = 0;
    uint32_t i;

    pthread_mutex_lock(&ucpg_cpg_relay_table_lock);
    for (i = 0; (i < UCPG_CPG_RELAY_ITERS) && (ucpg_cpg_relay_iters[i].id != 0); ++i) {
    }
    if (i < UCPG_CPG_RELAY_ITERS) {
        id = UCPG_CPG_RELAY_TAG | ((ucpg_proc_random64() & 0x7fffffffull) << 32) | i;
        ucpg_cpg_relay_iters[i].id     = id;
        ucpg_cpg_relay_iters[i].handle = handle;
        ucpg_cpg_relay_iters[i].remote = remote;
    }
    pthread_mutex_unlock(&ucpg_cpg_relay_table_lock);
    return id;
}

/* One iteration request on the handle (init: itype and name, which may be
 * NULL; next, finalize: remote); the reply's reader is left for the caller. */
static cs_error_t ucpg_cpg_relay_iter_call(cpg_handle_t handle, uint32_t type, uint32_t itype,
                                           const struct cpg_name *name, uint64_t remote,
                                           ucpg_relay_frame_t *reply, ucpg_wire_reader_t *rd)
{
    ucpg_cpg_relay_t *r = ucpg_cpg_relay_get(handle);
    ucpg_relay_out_t body;
    cs_error_t err;

    memset(reply, 0, sizeof(*reply));
    if (r == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    ucpg_relay_out_init(&body);
    if (type == UCPG_RELAY_ITER_INIT) {
        struct cpg_name none;

        memset(&none, 0, sizeof(none));
        ucpg_relay_out_u32(&body, itype);
        ucpg_relay_out_u32(&body, name != NULL);
        ucpg_relay_out_name(&body, (name != NULL) ? name : &none);
    } else {
        ucpg_relay_out_u64(&body, remote);
    }
    err = body.failed ? CS_ERR_NO_MEMORY :
          ucpg_cpg_relay_call(r, type, &(struct iovec){body.p, body.len}, 1, reply, rd);
    ucpg_relay_out_free(&body);
    ucpg_cpg_relay_put(r);
    return err;
}

cs_error_t ucpg_cpg_relay_iter_init(cpg_handle_t handle, cpg_iteration_type_t type,
                                    const struct cpg_name *group, cpg_iteration_handle_t *it)
{
    ucpg_relay_frame_t reply;
    ucpg_wire_reader_t rd;
    uint64_t remote;
    cs_error_t err;

    err = ucpg_cpg_relay_iter_call(handle, UCPG_RELAY_ITER_INIT, (uint32_t)type, group, 0,
                                   &reply, &rd);
    remote = ucpg_wire_get_u64(&rd);
    if ((err == CS_OK) && (ucpg_wire_reader_finish(&rd) != UCPG_OK)) {
        err = CS_ERR_LIBRARY;
    }
    free(reply.body);
    if (err == CS_OK) {
        *it = ucpg_cpg_relay_iter_add(handle, remote);
        if (*it == 0) {
            ucpg_cpg_relay_iter_call(handle, UCPG_RELAY_ITER_FINALIZE, 0, NULL, remote,
                                     &reply, &rd);
            free(reply.body);
            err = CS_ERR_NO_RESOURCES;
        }
    }
    return err;
}

/* Next (desc != NULL) or finalize (desc == NULL, the iterator goes). */
static cs_error_t ucpg_cpg_relay_iter_step(cpg_iteration_handle_t id,
                                           struct cpg_iteration_description_t *desc)
{
    ucpg_cpg_relay_iter_t it;
    ucpg_relay_frame_t reply;
    ucpg_wire_reader_t rd;
    cs_error_t err;

    if (!ucpg_cpg_relay_iter_find(id, desc == NULL, &it)) {
        return CS_ERR_BAD_HANDLE;
    }
    err = ucpg_cpg_relay_iter_call(it.handle, (desc != NULL) ? UCPG_RELAY_ITER_NEXT :
                                   UCPG_RELAY_ITER_FINALIZE, 0, NULL, it.remote, &reply, &rd);
    if ((err == CS_OK) && (desc != NULL)) {
        if (ucpg_relay_get_name(&rd, &desc->group) != UCPG_OK) {
            err = CS_ERR_LIBRARY;
        }
        desc->nodeid = ucpg_wire_get_u32(&rd);
        desc->pid    = ucpg_wire_get_u32(&rd);
        if (ucpg_wire_reader_finish(&rd) != UCPG_OK) {
            err = CS_ERR_LIBRARY;
        }
    }
    free(reply.body);
    return err;
}

cs_error_t ucpg_cpg_relay_iter_next(cpg_iteration_handle_t id,
                                    struct cpg_iteration_description_t *desc)
{
    return ucpg_cpg_relay_iter_step(id, desc);
}

cs_error_t ucpg_cpg_relay_iter_finalize(cpg_iteration_handle_t id)
{
    return ucpg_cpg_relay_iter_step(id, NULL);
}

/* A finalized handle takes its iterators along (as natively). */
static void ucpg_cpg_relay_iter_drop_all(cpg_handle_t handle)
{
    uint32_t i;

    pthread_mutex_lock(&ucpg_cpg_relay_table_lock);
    for (i = 0; i < UCPG_CPG_RELAY_ITERS; ++i) {
        if (ucpg_cpg_relay_iters[i].handle == handle) {
            memset(&ucpg_cpg_relay_iters[i], 0, sizeof(ucpg_cpg_relay_iters[i]));
        }
    }
    pthread_mutex_unlock(&ucpg_cpg_relay_table_lock);
}

/* --- zero-copy buffers: plain memory here, copied once on send ----------------------- */

cs_error_t ucpg_cpg_relay_zcb_alloc(cpg_handle_t handle, size_t size, void **buffer)
{
    ucpg_cpg_relay_t *r;
    ucpg_cpg_zcb_t *z;
    uint32_t max = 0;
    cs_error_t err = ucpg_cpg_relay_max_msg(handle, &max);   /* as natively: TOO_BIG */

    if (err != CS_OK) {
        return err;
    }
    if (size > max) {
        return CS_ERR_TOO_BIG;
    }
    if ((r = ucpg_cpg_relay_get(handle)) == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    z = calloc(1, sizeof(*z));
    if ((z == NULL) || ((z->user = calloc(1, (size == 0) ? 1 : size)) == NULL)) {
        free(z);
        ucpg_cpg_relay_put(r);
        return CS_ERR_NO_MEMORY;
    }
    z->size = size;
    pthread_mutex_lock(&r->lock);
    z->next = r->zcbs;
    r->zcbs = z;
    pthread_mutex_unlock(&r->lock);
    *buffer = z->user;
    ucpg_cpg_relay_put(r);
    return CS_OK;
}

/* The size of buffer if it is one of r's (with take, no longer), or 0. */
static int ucpg_cpg_relay_zcb_find(ucpg_cpg_relay_t *r, void *buffer, int take, size_t *size)
{
    ucpg_cpg_zcb_t **pz, *z = NULL;

    pthread_mutex_lock(&r->lock);
    for (pz = &r->zcbs; (*pz != NULL) && ((*pz)->user != buffer); pz = &(*pz)->next) {
    }
    if ((z = *pz) != NULL) {
        *size = z->size;
        if (take) {
            *pz = z->next;
        }
    }
    pthread_mutex_unlock(&r->lock);
    if ((z != NULL) && take) {
        free(z->user);
        free(z);
    }
    return z != NULL;
}

cs_error_t ucpg_cpg_relay_zcb_free(cpg_handle_t handle, void *buffer)
{
    ucpg_cpg_relay_t *r = ucpg_cpg_relay_get(handle);
    cs_error_t err;
    size_t size;

    if (r == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    err = ucpg_cpg_relay_zcb_find(r, buffer, 1, &size) ? CS_OK : CS_ERR_INVALID_PARAM;
    ucpg_cpg_relay_put(r);
    return err;
}

cs_error_t ucpg_cpg_relay_zcb_mcast(cpg_handle_t handle, cpg_guarantee_t guarantee, void *msg,
                                    size_t msg_len)
{
    ucpg_cpg_relay_t *r = ucpg_cpg_relay_get(handle);
    struct iovec iov;
    size_t size = 0;
    int ours;

    if (r == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    ours = ucpg_cpg_relay_zcb_find(r, msg, 0, &size);
    ucpg_cpg_relay_put(r);
    if (!ours || (msg_len > size)) {
        return CS_ERR_INVALID_PARAM;
    }
    iov.iov_base = msg;
    iov.iov_len  = msg_len;
    return ucpg_cpg_relay_mcast(handle, guarantee, &iov, 1);
}
