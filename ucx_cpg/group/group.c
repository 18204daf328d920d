/*
 * group.c - the API of group.h: join through the directory, leave, send,
 * and the domain-wide listing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "group_int.h"
#include "hostgroups.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot/directory.h"
#include "boot/registry.h"
#include "core/am.h"
#include "core/log.h"
#include "core/proc.h"

#define UCPG_GROUP_JOIN_RESEND_MS  250u

size_t ucpg_group_max_msg(void)
{
    ucpg_config_t cfg;

    if (ucpg_group_engine.config != NULL) {
        return ucpg_group_engine.config->group_max_msg;
    }
    if (ucpg_config_load(&cfg) != UCPG_OK) {
        ucpg_config_defaults(&cfg);
    }
    return cfg.group_max_msg;
}

/* Is this process already in (or on its way into) a group of that name? */
static int ucpg_group_name_busy(const void *name, size_t name_len)
{
    const ucpg_group_t *g;

    for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
        if ((g->name_len == name_len) && (memcmp(g->name, name, name_len) == 0) &&
            ((g->state == UCPG_GROUP_JOINING) || (g->state == UCPG_GROUP_JOINED) ||
             (g->state == UCPG_GROUP_LEAVING))) {
            return 1;
        }
    }
    return 0;
}

static ucpg_group_t *ucpg_group_alloc(const void *name, size_t name_len,
                                      const ucpg_group_callbacks_t *cb, void *arg)
{
    ucpg_group_t *g = calloc(1, sizeof(*g));
    pthread_condattr_t attr;

    if (g == NULL) {
        return NULL;
    }
    memcpy(g->name, name, name_len);
    g->name_len     = name_len;
    g->cb           = *cb;
    g->cb_arg       = arg;
    g->state        = UCPG_GROUP_JOINING;
    g->next_lseq    = 1;
    g->pending_tail = &g->pending;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cond, &attr);
    pthread_condattr_destroy(&attr);
    return g;
}

static void ucpg_group_self_req(ucpg_group_req_t *req, uint8_t kind, uint64_t lseq)
{
    memset(req, 0, sizeof(*req));
    req->slot   = ucpg_group_engine.self;
    req->uuid   = ucpg_group_engine.self_uuid;
    req->nodeid = ucpg_group_engine.nodeid;
    req->pid    = ucpg_group_engine.pid;
    req->kind   = kind;
    req->lseq   = lseq;
}

/* We created the group: we are its first member and its sequencer. */
static void ucpg_group_found(ucpg_group_t *g)
{
    ucpg_group_req_t join;

    g->view_id  = 0;
    g->received = 0;
    g->stable   = 0;
    ucpg_group_seq_become(g);
    ucpg_group_self_req(&join, UCPG_GROUP_KIND_JOIN, g->next_lseq++);
    ucpg_group_seq_view(g, NULL, &join);      /* view 1, number 1: ourselves */
}

static void ucpg_group_link(ucpg_group_t *g)
{
    ucpg_group_t *p;

    for (p = ucpg_group_engine.groups; (p != NULL) && (p != g); p = p->next) {
    }
    if (p == NULL) {
        g->next                  = ucpg_group_engine.groups;
        ucpg_group_engine.groups = g;
    }
}

static void ucpg_group_unlink(ucpg_group_t *g)
{
    ucpg_group_t **pp;

    for (pp = &ucpg_group_engine.groups; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            return;
        }
    }
}

/*
 * Sends our JOIN to the sequencer and waits for our view, a refusal or the
 * deadline. The JOIN is sent again every UCPG_GROUP_JOIN_RESEND_MS: a
 * sequencer on another host that has not finished its handshake with us yet
 * drops what we send (the handshakes of two hosts cross), and a resent JOIN
 * of a member already in is ignored. Called locked.
 */
static void ucpg_group_join_send_wait(ucpg_group_t *g, const ucpg_group_req_t *join,
                                      uint64_t deadline_ns)
{
    uint64_t slice;

    while ((g->state == UCPG_GROUP_JOINING) && !g->join_retry &&
           (ucpg_time_ns() < deadline_ns)) {
        ucpg_group_member_send_req(g, join);
        ucpg_group_engine_unlock();            /* sends it */
        ucpg_group_engine_lock();
        slice = ucpg_time_ns() + UCPG_GROUP_JOIN_RESEND_MS * 1000000ull;
        while ((g->state == UCPG_GROUP_JOINING) && !g->join_retry &&
               (ucpg_group_engine_wait(&g->cond, (slice < deadline_ns) ? slice : deadline_ns) !=
                ETIMEDOUT)) {
        }
        if (g->state == UCPG_GROUP_JOINING) {
            /* Never cleared here: a handler may set join_retry meanwhile. */
            int next = ucpg_group_silence_joining(g, g->seq_slot, g->seq_uuid);

            if (next != UCPG_GROUP_JOINING_WAIT) {
                g->join_retry     = 1;     /* the directory names another sequencer */
                g->join_supersede = (next == UCPG_GROUP_JOINING_SUPERSEDE);
            }
        }
    }
}

/*
 * Every member of the incarnation the directory lists has been stopped for
 * the stall timeout (silence.c): replace it with a new one of our own, as
 * if we created the group, and tell its members they were removed once
 * they run again. Called locked; returns with the lock held. UCPG_INPROGRESS
 * if the directory changed meanwhile (look it up again).
 */
static ucpg_status_t ucpg_group_supersede(ucpg_group_t *g)
{
    ucpg_registry_gmember_t self = {ucpg_group_engine.self, ucpg_group_engine.nodeid,
                                    ucpg_group_engine.pid, 0, ucpg_group_engine.self_uuid};
    ucpg_registry_group_t entry;
    ucpg_status_t status;

    g->join_supersede = 0;
    ucpg_group_engine_unlock();
    status = ucpg_boot_dir_supersede(ucpg_group_engine.domain, g->name, g->name_len,
                                     g->superseded_gen, &self, &entry);
    ucpg_group_engine_lock();
    if (status != UCPG_OK) {
        ucpg_info("group: could not found the group anew (%s): looking it up again",
                  ucpg_status_string(status));
        g->nsuperseded = 0;
        return UCPG_INPROGRESS;
    }
    g->gindex = entry.index;
    g->ggen   = entry.gen;
    ucpg_group_found(g);
    ucpg_group_silence_tell_superseded(g);
    return UCPG_OK;
}

/* One attempt: ask the sequencer named by the directory. Called locked
 * with g linked; returns with the lock held. UCPG_INPROGRESS: try again. */
static ucpg_status_t ucpg_group_join_attempt(ucpg_group_t *g, uint64_t deadline_ns)
{
    ucpg_registry_gmember_t self = {ucpg_group_engine.self, ucpg_group_engine.nodeid,
                                    ucpg_group_engine.pid, 0, ucpg_group_engine.self_uuid};
    ucpg_registry_group_t entry;
    ucpg_peer_info_t seq;
    ucpg_group_req_t join;
    ucpg_status_t status;
    int created = 0;

    g->ggen = 0;                        /* no message finds g until it knows its group */
    /* Unlocked: the directory may be another node's, asked through the
     * progress thread, which must stay free to run group messages. */
    ucpg_group_engine_unlock();
    status = ucpg_boot_dir_open(ucpg_group_engine.domain, g->name, g->name_len, &self, &entry,
                                &created);
    if (status == UCPG_ERR_BUSY) {
        usleep(10000);                  /* a coordinator in its grace period, or changing */
    }
    ucpg_group_engine_lock();
    if (status != UCPG_OK) {
        return (status == UCPG_ERR_BUSY) ? UCPG_INPROGRESS : status;
    }
    g->gindex = entry.index;
    g->ggen   = entry.gen;
    if (created) {
        ucpg_group_found(g);
        return UCPG_OK;
    }
    if ((ucpg_domain_peer_info(ucpg_group_engine.domain, entry.seq_slot, &seq) != UCPG_OK) ||
        (seq.uuid != entry.seq_uuid) || (seq.state != UCPG_PEER_STATE_UP)) {
        /* A new sequencer is taking over, or it is still connecting to us
         * (for good, if it is stopped: silence.c). */
        if (ucpg_group_silence_joining(g, entry.seq_slot, entry.seq_uuid) ==
            UCPG_GROUP_JOINING_SUPERSEDE) {
            return ucpg_group_supersede(g);
        }
        ucpg_group_engine_unlock();
        usleep(1000);
        ucpg_group_engine_lock();
        return UCPG_INPROGRESS;
    }
    g->seq_slot   = entry.seq_slot;
    g->seq_uuid   = entry.seq_uuid;
    g->join_retry = 0;
    ucpg_group_self_req(&join, UCPG_GROUP_KIND_JOIN, g->next_lseq);
    ucpg_group_join_send_wait(g, &join, deadline_ns);
    if (g->state == UCPG_GROUP_JOINED) {
        g->next_lseq++;
        return UCPG_OK;
    }
    if (g->state != UCPG_GROUP_JOINING) {
        return UCPG_ERR_NOT_FOUND;
    }
    if (g->join_supersede) {
        return ucpg_group_supersede(g);
    }
    return g->join_retry ? UCPG_INPROGRESS : UCPG_ERR_TIMEOUT;
}

ucpg_status_t ucpg_group_join(const void *name, size_t name_len,
                              const ucpg_group_callbacks_t *cb, void *arg,
                              ucpg_group_t **group_p)
{
    uint64_t deadline;
    ucpg_status_t status;
    ucpg_group_t *g;

    if ((name_len > UCPG_GROUP_NAME_MAX) || ((name == NULL) && (name_len > 0)) ||
        (cb == NULL) || (group_p == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    status = ucpg_group_engine_acquire();
    if (status != UCPG_OK) {
        return status;
    }
    deadline = ucpg_time_ns() +
               (uint64_t)ucpg_group_engine.config->group_join_timeout_ms * 1000000ull;
    ucpg_group_engine_lock();
    if (ucpg_group_name_busy(name, name_len)) {
        ucpg_debug("join refused: this process is already in that group");
        ucpg_group_engine_unlock();
        ucpg_group_engine_release();
        return UCPG_ERR_EXISTS;
    }
    g = ucpg_group_alloc(name, name_len, cb, arg);
    status = (g == NULL) ? UCPG_ERR_NO_MEMORY : UCPG_INPROGRESS;
    if (g != NULL) {
        ucpg_group_link(g);                    /* the name is taken while we try */
    }
    while ((status == UCPG_INPROGRESS) && (ucpg_time_ns() < deadline)) {
        status = ucpg_group_join_attempt(g, deadline);
    }
    if (status == UCPG_INPROGRESS) {
        status = UCPG_ERR_TIMEOUT;
    }
    ucpg_debug("join of a %zu-byte group name: %s", name_len, ucpg_status_string(status));
    if (status == UCPG_OK) {
        *group_p = g;
    } else if ((g != NULL) && (status == UCPG_ERR_TIMEOUT)) {
        /* Our join may still be ordered later: leave again if it is. */
        ucpg_group_link(g);
        g->state     = UCPG_GROUP_ABANDONED;
        g->destroyed = 1;
    } else if (g != NULL) {
        ucpg_group_unlink(g);
        ucpg_group_free(g);
    }
    ucpg_group_engine_unlock();
    if (status != UCPG_OK) {
        ucpg_group_engine_release();
    }
    return status;
}

ucpg_status_t ucpg_group_leave(ucpg_group_t *g)
{
    ucpg_status_t status;

    ucpg_group_engine_lock();
    status = (g->state == UCPG_GROUP_JOINED) ?
             ucpg_group_member_leave(g, UCPG_GROUP_REASON_LEAVE) : UCPG_ERR_NOT_FOUND;
    ucpg_group_engine_unlock();
    return status;
}

void ucpg_group_destroy(ucpg_group_t *g)
{
    ucpg_group_engine_lock();
    g->destroyed = 1;
    g->cb.event  = NULL;
    if (g->state == UCPG_GROUP_JOINED) {
        ucpg_group_member_leave(g, UCPG_GROUP_REASON_PROCDOWN);
    }
    /* Whatever is undelivered is consumed now, so we never hold the window. */
    if ((g->state == UCPG_GROUP_JOINED) || (g->state == UCPG_GROUP_LEAVING)) {
        g->released += g->received - g->consumed;
        g->consumed  = g->received;
        g->delivered = g->received;
        ucpg_group_member_ack(g, 1);
    }
    ucpg_group_engine_unlock();       /* frees it once the leave is ordered */
    ucpg_group_engine_release();
}

ucpg_status_t ucpg_group_mcast(ucpg_group_t *g, int guarantee, const struct iovec *iov,
                               unsigned iovcnt)
{
    const ucpg_config_t *cfg = ucpg_group_engine.config;
    size_t total = 0, off = 0;
    ucpg_group_req_t *req;
    ucpg_status_t status = UCPG_OK;
    unsigned i;

    for (i = 0; i < iovcnt; ++i) {
        if ((iov[i].iov_base == NULL) && (iov[i].iov_len > 0)) {
            return UCPG_ERR_INVALID_PARAM;
        }
        total += iov[i].iov_len;
        if (total < iov[i].iov_len) {
            return UCPG_ERR_TOO_BIG;              /* wrapped */
        }
    }
    if ((guarantee < UCPG_GROUP_UNORDERED) || (guarantee > UCPG_GROUP_SAFE)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    if (total > cfg->group_max_msg) {
        return UCPG_ERR_TOO_BIG;
    }
    req = ucpg_group_req_new();
    if ((req == NULL) ||
        ((req->buf = ucpg_am_buf_new(ucpg_group_engine.domain, total)) == NULL)) {
        ucpg_group_req_free(req);
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < iovcnt; ++i) {               /* copy before taking the lock */
        ucpg_am_buf_write(ucpg_group_engine.domain, req->buf, off, iov[i].iov_base,
                          iov[i].iov_len);
        off += iov[i].iov_len;
    }
    ucpg_group_engine_lock();
    if (g->state != UCPG_GROUP_JOINED) {
        status = UCPG_ERR_NOT_FOUND;
    } else if (ucpg_group_flow_control(g)) {
        status = UCPG_ERR_TRY_AGAIN;
    } else {
        ucpg_buf_t *buf = req->buf;
        ucpg_group_self_req(req, UCPG_GROUP_KIND_DATA, g->next_lseq++);
        req->guarantee = (uint8_t)guarantee;
        req->buf       = buf;
        ucpg_group_member_enqueue(g, req);
        req = NULL;
    }
    ucpg_group_engine_unlock();
    ucpg_group_req_free(req);
    return status;
}

/* --- zero copy ------------------------------------------------------------------------ */

void *ucpg_group_zbuf_alloc(size_t len)
{
    ucpg_buf_t *buf = ucpg_buf_new(len);

    if (buf == NULL) {
        return NULL;
    }
    buf->user = 1;
    memset(buf->data, 0, len);
    return buf->data;
}

void ucpg_group_zbuf_free(void *p)
{
    if (p != NULL) {
        ucpg_buf_put(ucpg_buf_of(p));   /* sends in flight keep it */
    }
}

ucpg_status_t ucpg_group_mcast_zbuf(ucpg_group_t *g, int guarantee, void *p, size_t len)
{
    uint64_t deadline = ucpg_time_ns() +
                        (uint64_t)ucpg_group_engine.config->group_join_timeout_ms * 1000000ull;
    ucpg_buf_t *buf = ucpg_buf_of(p);
    ucpg_group_req_t *req;
    ucpg_status_t status = UCPG_OK;

    if ((guarantee < UCPG_GROUP_UNORDERED) || (guarantee > UCPG_GROUP_SAFE) ||
        (len > buf->cap)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    if (len > ucpg_group_engine.config->group_max_msg) {
        return UCPG_ERR_TOO_BIG;
    }
    req = ucpg_group_req_new();
    if (req == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    ucpg_group_engine_lock();
    if (__atomic_load_n(&buf->refs, __ATOMIC_ACQUIRE) != 1) {
        status = UCPG_ERR_BUSY;                  /* still being sent */
    } else if (g->state != UCPG_GROUP_JOINED) {
        status = UCPG_ERR_NOT_FOUND;
    } else if (ucpg_group_flow_control(g)) {
        status = UCPG_ERR_TRY_AGAIN;
    } else {
        buf->len = len;
        ucpg_group_self_req(req, UCPG_GROUP_KIND_DATA, g->next_lseq++);
        req->guarantee = (uint8_t)guarantee;
        req->buf       = ucpg_buf_ref(buf);
        ucpg_group_member_enqueue(g, req);
        req = NULL;
    }
    ucpg_group_engine_unlock();
    ucpg_group_req_free(req);
    /* Ordered and sent: nothing but the caller refers to the buffer. */
    while ((status == UCPG_OK) && (__atomic_load_n(&buf->refs, __ATOMIC_ACQUIRE) > 1)) {
        if (ucpg_time_ns() > deadline) {
            status = UCPG_ERR_TIMEOUT;
            break;
        }
        sched_yield();
    }
    return status;
}

ucpg_status_t ucpg_group_wait_gone(ucpg_group_t *g, unsigned timeout_ms)
{
    uint64_t deadline = ucpg_time_ns() + (uint64_t)timeout_ms * 1000000ull;
    ucpg_status_t status = UCPG_OK;

    ucpg_group_engine_lock();
    while ((g->state == UCPG_GROUP_LEAVING) && (status == UCPG_OK)) {
        if (ucpg_group_engine_wait(&g->cond, deadline) == ETIMEDOUT) {
            status = UCPG_ERR_TIMEOUT;
        }
    }
    ucpg_group_engine_unlock();
    return status;
}

/*
 * Whether a send must wait (TRY_AGAIN): our own requests not yet delivered
 * back fill a window, as every member's do. The sequencer also stops at a
 * full ordering window, but not while other processes' requests wait for
 * room (held_others): its own then queue behind them in arrival order.
 * Refusing them there starved it: every bit of room went to the held
 * requests before its application could ask again (1% of an even share
 * with four members all sending, docs/cpg-bench.md session 30). Its own
 * held requests do not count: a lone sender that once had some held (at a
 * hand-over) would otherwise keep queueing copies of its every request
 * behind them, at twice the CPU per message.
 */
int ucpg_group_flow_control(ucpg_group_t *g)
{
    const ucpg_config_t *cfg = ucpg_group_engine.config;
    uint64_t max_bytes = (uint64_t)cfg->group_window_mb << 20;
    int full;

    ucpg_group_engine_lock();
    full = (g->pending_count >= cfg->group_window) ||
           ((g->pending_count > 0) && (g->pending_bytes >= max_bytes)) ||
           (g->is_seq && (g->held_others == 0) && ucpg_group_seq_window_full(g, 0));
    ucpg_group_engine_unlock();
    return full;
}

ucpg_status_t ucpg_group_local_nodeid(uint32_t *nodeid_p)
{
    ucpg_status_t status = ucpg_group_engine_acquire();

    if (status == UCPG_OK) {
        *nodeid_p = ucpg_group_engine.nodeid;
        ucpg_group_engine_release();
    }
    return status;
}

ucpg_status_t ucpg_group_nodes(uint32_t *nodes, size_t max, size_t *n_p, uint64_t *epoch_p)
{
    ucpg_status_t status = ucpg_group_engine_acquire();

    if (status == UCPG_OK) {
        *n_p = ucpg_boot_dir_nodes(ucpg_group_engine.domain, nodes, max, epoch_p);
        ucpg_group_engine_release();
    }
    return status;
}

/* --- listing ---------------------------------------------------------------------- */

typedef struct ucpg_group_list_ctx {
    ucpg_group_list_cb_t cb;
    void                *arg;
} ucpg_group_list_ctx_t;

int ucpg_group_addr_cmp(const void *a, const void *b)
{
    const ucpg_group_addr_t *x = a, *y = b;

    if (x->nodeid != y->nodeid) {
        return (x->nodeid < y->nodeid) ? -1 : 1;
    }
    return (x->pid < y->pid) ? -1 : (x->pid > y->pid);
}

static void ucpg_group_list_one(void *arg, const ucpg_registry_group_t *group,
                                const ucpg_registry_gmember_t *members, uint32_t nmembers)
{
    ucpg_group_list_ctx_t *ctx = arg;
    ucpg_group_addr_t *addrs   = calloc(nmembers ? nmembers : 1, sizeof(*addrs));
    uint32_t i;

    if (addrs == NULL) {
        return;
    }
    for (i = 0; i < nmembers; ++i) {
        addrs[i].nodeid = members[i].nodeid;
        addrs[i].pid    = members[i].pid;
    }
    qsort(addrs, nmembers, sizeof(*addrs), ucpg_group_addr_cmp);
    ctx->cb(ctx->arg, group->name, group->name_len, addrs, nmembers);
    free(addrs);
}

/*
 * A group this process is in is listed from its own current view: the
 * directory follows views a message later (at once on one host, one
 * one-way message away across hosts), and a member must never see fewer
 * members than its last confchg showed. Returns 0 if we are not in it.
 */
static int ucpg_group_list_own(const void *name, size_t name_len, ucpg_group_list_ctx_t *ctx)
{
    ucpg_registry_gmember_t *members = NULL;
    ucpg_registry_group_t entry;
    const ucpg_group_t *g;
    uint32_t n = 0, i;

    ucpg_group_engine_lock();
    for (g = ucpg_group_engine.groups; g != NULL; g = g->next) {
        if ((g->state == UCPG_GROUP_JOINED) && (g->name_len == name_len) &&
            (memcmp(g->name, name, name_len) == 0)) {
            break;
        }
    }
    if ((g != NULL) && ((members = calloc(g->nmembers + 1, sizeof(*members))) != NULL)) {
        memset(&entry, 0, sizeof(entry));
        entry.name_len = (uint32_t)name_len;
        memcpy(entry.name, name, name_len);
        for (i = 0; i < g->nmembers; ++i) {
            members[n].nodeid = g->members[i].nodeid;
            members[n].pid    = g->members[i].pid;
            n++;
        }
    }
    ucpg_group_engine_unlock();
    if (members == NULL) {
        return 0;
    }
    ucpg_group_list_one(ctx, &entry, members, n);       /* outside the lock: a callback */
    free(members);
    return 1;
}

ucpg_status_t ucpg_group_list(const void *name, size_t name_len, ucpg_group_list_cb_t cb,
                              void *arg)
{
    ucpg_group_list_ctx_t ctx = {cb, arg};
    ucpg_status_t status;

    if ((cb == NULL) || (name_len > UCPG_GROUP_NAME_MAX)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    status = ucpg_group_engine_acquire();
    if (status != UCPG_OK) {
        return status;
    }
    if (ucpg_group_host_enabled()) {
        status = ucpg_group_host_list(name, name_len, cb, arg);
    } else if ((name == NULL) || !ucpg_group_list_own(name, name_len, &ctx)) {
        status = ucpg_boot_dir_foreach(ucpg_group_engine.domain, name, name_len,
                                       ucpg_group_list_one, &ctx);
    }
    ucpg_group_engine_release();
    return status;
}

/* The directory lists a group's members in the order of its latest view,
 * whose first member orders the group. */
static void ucpg_group_orderer_one(void *arg, const ucpg_registry_group_t *group,
                                   const ucpg_registry_gmember_t *members, uint32_t nmembers)
{
    ucpg_group_addr_t *addr = arg;

    (void)group;
    if ((nmembers > 0) && (addr->pid == 0)) {
        addr->nodeid = members[0].nodeid;
        addr->pid    = members[0].pid;
    }
}

ucpg_status_t ucpg_group_orderer(const void *name, size_t name_len, ucpg_group_addr_t *addr)
{
    ucpg_status_t status;

    if ((name == NULL) || (addr == NULL) || (name_len > UCPG_GROUP_NAME_MAX)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    memset(addr, 0, sizeof(*addr));
    status = ucpg_group_engine_acquire();
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_boot_dir_foreach(ucpg_group_engine.domain, name, name_len,
                                   ucpg_group_orderer_one, addr);
    ucpg_group_engine_release();
    if ((status == UCPG_OK) && (addr->pid == 0)) {
        status = UCPG_ERR_NOT_FOUND;
    }
    return status;
}
