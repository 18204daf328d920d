/*
 * hostgroup.c - a host group's life: found, join, send, leave, wake-ups,
 * destroy (the design is in hostgroup.h; the member table's changes in
 * hostgroup_table.c; reading in hostgroup_dispatch.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hostgroup_int.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/doorbell.h"
#include "core/log.h"
#include "core/proc.h"

/* While a change waits for room: how long each try sleeps. */
#define UCPG_HOSTGROUP_ROOM_POLL_US 200u

void ucpg_hostgroup_offer(const ucpg_hostgroup_t *hg, ucpg_shm_offer_t *offer)
{
    ucpg_shm_log_offer(hg->log, offer);
}

size_t ucpg_hostgroup_max_msg(const ucpg_hostgroup_t *hg)
{
    size_t fits = ucpg_shm_log_max_entry(hg->log) - UCPG_HOSTGROUP_HDR_LEN;

    return ((hg->params.max_msg > 0) && (hg->params.max_msg < fits)) ? hg->params.max_msg : fits;
}

int ucpg_hostgroup_reap_due(ucpg_hostgroup_t *hg, uint64_t now)
{
    uint64_t last = __atomic_load_n(&hg->reaped_at, __ATOMIC_RELAXED);

    /* The sender and the dispatcher both ask: one of them gets the turn. */
    return (now - last >= (uint64_t)hg->params.reap_after_ms * 1000000ull) &&
           __atomic_compare_exchange_n(&hg->reaped_at, &last, now, 0, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

/* --- doorbells: one per reader slot, named after the log ------------------------- */

static void ucpg_hostgroup_bell_name(const ucpg_hostgroup_t *hg, unsigned slot, char *name,
                                     size_t size)
{
    snprintf(name, size, "%s%u", hg->bell_base, slot);
}

void ucpg_hostgroup_ring(ucpg_hostgroup_t *hg, uint64_t mask)
{
    char name[UCPG_DOORBELL_NAME_MAX];

    for (; mask != 0; mask &= mask - 1) {
        ucpg_hostgroup_bell_name(hg, (unsigned)__builtin_ctzll(mask), name, sizeof(name));
        ucpg_doorbell_ring(hg->ringer, name);
    }
}

/* Wakes the sleepers of mask: rings them, or leaves them owed to the
 * thread params.ring_later calls on. */
static void ucpg_hostgroup_ring_or_owe(ucpg_hostgroup_t *hg, uint64_t mask)
{
    if ((hg->params.ring_later == NULL) ||
        ((unsigned)__builtin_popcountll(mask) <= UCPG_HOSTGROUP_RING_INLINE)) {
        ucpg_hostgroup_ring(hg, mask);
        return;
    }
    __atomic_fetch_or(&hg->ring_owed, mask, __ATOMIC_SEQ_CST);
    hg->params.ring_later();
}

void ucpg_hostgroup_ring_owed(ucpg_hostgroup_t *hg)
{
    if (__atomic_load_n(&hg->ring_owed, __ATOMIC_SEQ_CST) != 0) {
        ucpg_hostgroup_ring(hg, __atomic_exchange_n(&hg->ring_owed, 0, __ATOMIC_SEQ_CST));
    }
}

/* Binds our reader slot's bell. A process that held the slot before us and
 * left closes its bell before its reader, so the name is free unless it died
 * an instant ago with the socket still being closed: wait that out. */
static ucpg_status_t ucpg_hostgroup_bell_open(ucpg_hostgroup_t *hg)
{
    char name[UCPG_DOORBELL_NAME_MAX];
    ucpg_status_t status;
    int tries;

    ucpg_hostgroup_bell_name(hg, hg->reader.slot, name, sizeof(name));
    for (tries = 0; tries < 100; ++tries) {
        status = ucpg_doorbell_open(name, &hg->bell);
        if (status != UCPG_ERR_EXISTS) {
            return status;
        }
        usleep(10000);
    }
    ucpg_error("host group: doorbell %s stays taken", name);
    return UCPG_ERR_EXISTS;
}

/* --- appending --------------------------------------------------------------------- */

/* One try at appending; the send lock is held. Our own sleeper bit is
 * taken out of *wake_p: the send lock keeps our reader (and its slot) ours
 * meanwhile (ucpg_hostgroup_self_bit_clear). */
static ucpg_status_t ucpg_hostgroup_append_once(ucpg_hostgroup_t *hg, size_t len,
                                                ucpg_hostgroup_encode_fn_t encode, void *arg,
                                                uint64_t *pos_p, uint64_t *wake_p, int *self_p)
{
    ucpg_shm_log_entry_t e;
    ucpg_status_t status = ucpg_shm_log_reserve(&hg->writer, len, &e);

    if (status != UCPG_OK) {
        return status;
    }
    encode(e.data, e.pos, arg);
    *wake_p = ucpg_shm_log_commit(&hg->writer, &e);
    *self_p = (*wake_p & hg->self_bit) != 0;
    *wake_p &= ~hg->self_bit;
    if (pos_p != NULL) {
        *pos_p = e.pos;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_hostgroup_append(ucpg_hostgroup_t *hg, size_t len,
                                    ucpg_hostgroup_encode_fn_t encode, void *arg,
                                    int change, unsigned timeout_ms, uint64_t *pos_p)
{
    uint64_t deadline = 0, wake = 0;     /* the clock is read only once it waits */
    uint32_t *waits   = &hg->table->change_waits;
    ucpg_status_t status;
    int self = 0;

    for (;;) {
        pthread_mutex_lock(&hg->send_lock);
        status = ucpg_hostgroup_append_once(hg, len, encode, arg, pos_p, &wake, &self);
        pthread_mutex_unlock(&hg->send_lock);
        if ((status != UCPG_ERR_TRY_AGAIN) || (timeout_ms == 0)) {
            break;
        }
        if (deadline == 0) {
            deadline = ucpg_time_ns() + (uint64_t)timeout_ms * 1000000ull;
        } else if (ucpg_time_ns() >= deadline) {
            break;
        }
        if (change) {
            __atomic_store_n(waits, 1, __ATOMIC_RELAXED);
        }
        if (ucpg_hostgroup_reap_due(hg, ucpg_time_coarse_ns())) {
            ucpg_shm_log_reap(hg->log);  /* a dead reader may be what holds the room */
        }
        usleep(UCPG_HOSTGROUP_ROOM_POLL_US);
    }
    if (change && __atomic_load_n(waits, __ATOMIC_RELAXED)) {
        __atomic_store_n(waits, 0, __ATOMIC_RELAXED);
    }
    if (status == UCPG_ERR_TRY_AGAIN) {
        return (timeout_ms > 0) ? UCPG_ERR_TIMEOUT : UCPG_ERR_TRY_AGAIN;
    }
    if (status == UCPG_OK) {
        ucpg_hostgroup_ring_or_owe(hg, wake);
        if (self) {
            hg->cb.self_rung(hg->params.arg);
        }
    }
    return status;
}

/* --- a message ---------------------------------------------------------------------- */

typedef struct ucpg_hostgroup_msg {
    const ucpg_hostgroup_t *hg;
    uint8_t                 guarantee;
    const struct iovec     *iov;
    unsigned                iovcnt;
} ucpg_hostgroup_msg_t;

static void ucpg_hostgroup_msg_encode(void *buf, uint64_t pos, void *arg)
{
    const ucpg_hostgroup_msg_t *m = arg;
    uint8_t *p = (uint8_t*)buf + UCPG_HOSTGROUP_HDR_LEN;
    unsigned i;

    (void)pos;
    ucpg_hostgroup_encode_msg(buf, m->guarantee, m->hg->self.nodeid, m->hg->self.pid);
    for (i = 0; i < m->iovcnt; ++i) {
        if (m->iov[i].iov_len > 0) {
            memcpy(p, m->iov[i].iov_base, m->iov[i].iov_len);
            p += m->iov[i].iov_len;
        }
    }
}

/* The ring stays full: after reap_after_ms, look for a dead member (its
 * reader would hold the room for good). */
static void ucpg_hostgroup_mcast_full(ucpg_hostgroup_t *hg)
{
    uint64_t now = ucpg_time_coarse_ns(), since = __atomic_load_n(&hg->full_since,
                                                                    __ATOMIC_RELAXED);

    if (since == 0) {
        __atomic_store_n(&hg->full_since, now, __ATOMIC_RELAXED);
    } else if ((now - since > (uint64_t)hg->params.reap_after_ms * 1000000ull) &&
               ucpg_hostgroup_reap_due(hg, now)) {
        ucpg_hostgroup_reap(hg);
    }
}

ucpg_status_t ucpg_hostgroup_mcast(ucpg_hostgroup_t *hg, int guarantee,
                                   const struct iovec *iov, unsigned iovcnt)
{
    ucpg_hostgroup_msg_t m = {hg, (uint8_t)guarantee, iov, iovcnt};
    ucpg_status_t status;
    size_t len = 0;
    unsigned i;

    if ((guarantee < UCPG_GROUP_UNORDERED) || (guarantee > UCPG_GROUP_SAFE) ||
        ((iov == NULL) && (iovcnt > 0))) {
        return UCPG_ERR_INVALID_PARAM;
    }
    if (ucpg_hostgroup_forked(hg)) {
        return UCPG_ERR_FORKED;
    }
    for (i = 0; i < iovcnt; ++i) {
        len += iov[i].iov_len;
    }
    if (len > ucpg_hostgroup_max_msg(hg)) {
        return UCPG_ERR_TOO_BIG;
    }
    if (__atomic_load_n(&hg->state, __ATOMIC_ACQUIRE) != UCPG_HOSTGROUP_JOINED) {
        return UCPG_ERR_NOT_FOUND;
    }
    if (__atomic_load_n(&hg->table->change_waits, __ATOMIC_RELAXED)) {
        status = UCPG_ERR_TRY_AGAIN;     /* a join or leave goes first */
    } else {
        status = ucpg_hostgroup_append(hg, UCPG_HOSTGROUP_HDR_LEN + len,
                                       ucpg_hostgroup_msg_encode, &m, 0, 0, NULL);
    }
    if (status == UCPG_ERR_TRY_AGAIN) {
        ucpg_hostgroup_mcast_full(hg);
    } else if (__atomic_load_n(&hg->full_since, __ATOMIC_RELAXED) != 0) {
        __atomic_store_n(&hg->full_since, 0, __ATOMIC_RELAXED);
    }
    return status;
}

/* --- joining ------------------------------------------------------------------------ */

static ucpg_hostgroup_t *ucpg_hostgroup_alloc(const ucpg_hostgroup_params_t *params)
{
    ucpg_hostgroup_t *hg = calloc(1, sizeof(*hg));

    if (hg == NULL) {
        return NULL;
    }
    hg->params          = *params;
    if (hg->params.change_timeout_ms == 0) {
        hg->params.change_timeout_ms = UCPG_HOSTGROUP_CHANGE_TIMEOUT_MS;
    }
    if (hg->params.reap_after_ms == 0) {
        hg->params.reap_after_ms = UCPG_HOSTGROUP_REAP_AFTER_MS;
    }
    hg->cb              = *params->cb;
    hg->params.cb       = &hg->cb;
    hg->bell            = -1;
    hg->ringer          = -1;
    hg->self.pid        = (uint32_t)ucpg_proc_identity();
    hg->self.proc       = (uint32_t)ucpg_proc_self();
    hg->self.starttime  = ucpg_proc_starttime(ucpg_proc_self());
    hg->self.nodeid     = params->nodeid;
    pthread_mutex_init(&hg->send_lock, NULL);
    pthread_mutex_init(&hg->read_lock, NULL);
    return hg;
}

/* The doorbells' names: the segment's id and cookie make them the log's own. */
static void ucpg_hostgroup_bell_base(ucpg_hostgroup_t *hg)
{
    ucpg_shm_offer_t offer;

    ucpg_shm_log_offer(hg->log, &offer);
    snprintf(hg->bell_base, sizeof(hg->bell_base), "ucx_cpg-hg-%d-%016" PRIx64 "-",
             (int)offer.shmid, offer.cookie);
}

/* Opens our reader at the tail and appends our JOIN: both under the table's
 * lock, so the table copied is the view just before our JOIN. */
static ucpg_status_t ucpg_hostgroup_enter(ucpg_hostgroup_t *hg)
{
    ucpg_status_t status = ucpg_hostgroup_table_lock(hg, hg->params.change_timeout_ms);

    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_shm_log_reader_open(hg->log, UCPG_SHM_LOG_TAIL, &hg->reader);
    if (status == UCPG_OK) {
        hg->reading  = 1;
        hg->self_bit = (hg->cb.self_rung != NULL) ? 1ull << hg->reader.slot : 0;
        status      = ucpg_hostgroup_table_join(hg);
    }
    ucpg_hostgroup_table_unlock(hg);
    return status;
}

/* Takes a writer slot, joins and binds our doorbell; undone on failure by
 * ucpg_hostgroup_destroy. */
static ucpg_status_t ucpg_hostgroup_start(ucpg_hostgroup_t *hg)
{
    ucpg_status_t status;

    ucpg_hostgroup_bell_base(hg);
    hg->ringer = ucpg_doorbell_ringer();
    if (hg->ringer < 0) {
        return UCPG_ERR_IO;
    }
    status = ucpg_shm_log_writer_open(hg->log, &hg->writer);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_hostgroup_enter(hg);
    if (status == UCPG_OK) {
        status = ucpg_hostgroup_bell_open(hg);
    }
    return status;
}

/* Finishes found or join: on failure, the half-made handle is undone. */
static ucpg_status_t ucpg_hostgroup_started(ucpg_hostgroup_t *hg, ucpg_hostgroup_t **hg_p)
{
    ucpg_status_t status = ucpg_hostgroup_start(hg);

    if (status != UCPG_OK) {
        ucpg_hostgroup_destroy(hg);
        return status;
    }
    *hg_p = hg;
    return UCPG_OK;
}

/* Attaches the log an offer names, or creates one (offer NULL) with a new
 * table, then joins it. */
static ucpg_status_t ucpg_hostgroup_open(const ucpg_shm_offer_t *offer, size_t capacity,
                                         const ucpg_hostgroup_params_t *params,
                                         ucpg_hostgroup_t **hg_p)
{
    ucpg_hostgroup_t *hg = ucpg_hostgroup_alloc(params);
    ucpg_status_t status;

    if (hg == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    status = (offer == NULL) ? ucpg_shm_log_create(capacity, &hg->log) :
                               ucpg_shm_log_attach(offer, &hg->log);
    if (status == UCPG_OK) {
        hg->table = ucpg_shm_log_user_area(hg->log);
        if (offer == NULL) {
            status = ucpg_hostgroup_table_init(hg->table);
        } else if (!ucpg_hostgroup_table_valid(hg->table)) {
            status = UCPG_ERR_MESSAGE;
        }
    }
    if (status != UCPG_OK) {
        ucpg_hostgroup_destroy(hg);
        return status;
    }
    return ucpg_hostgroup_started(hg, hg_p);
}

ucpg_status_t ucpg_hostgroup_found(size_t capacity, const ucpg_hostgroup_params_t *params,
                                   ucpg_hostgroup_t **hg_p)
{
    return ucpg_hostgroup_open(NULL, capacity, params, hg_p);
}

ucpg_status_t ucpg_hostgroup_join(const ucpg_shm_offer_t *offer,
                                  const ucpg_hostgroup_params_t *params,
                                  ucpg_hostgroup_t **hg_p)
{
    return ucpg_hostgroup_open(offer, 0, params, hg_p);
}

void ucpg_hostgroup_self_bit_clear(ucpg_hostgroup_t *hg)
{
    pthread_mutex_lock(&hg->send_lock);
    hg->self_bit = 0;
    pthread_mutex_unlock(&hg->send_lock);
}

/* --- leaving ------------------------------------------------------------------------ */

/* Appends our LEAVE with reason; the state moves to LEAVING if it did. */
static ucpg_status_t ucpg_hostgroup_depart(ucpg_hostgroup_t *hg, uint16_t reason,
                                           unsigned timeout_ms)
{
    ucpg_status_t status = ucpg_hostgroup_table_lock(hg, hg->params.change_timeout_ms);

    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_hostgroup_table_leave(hg, reason, timeout_ms);
    ucpg_hostgroup_table_unlock(hg);
    if (status == UCPG_OK) {
        int joined = UCPG_HOSTGROUP_JOINED;

        __atomic_compare_exchange_n(&hg->state, &joined, UCPG_HOSTGROUP_LEAVING, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
    return status;
}

int ucpg_hostgroup_left(const ucpg_hostgroup_t *hg)
{
    return __atomic_load_n(&hg->state, __ATOMIC_ACQUIRE) != UCPG_HOSTGROUP_JOINED;
}

ucpg_status_t ucpg_hostgroup_leave(ucpg_hostgroup_t *hg)
{
    ucpg_status_t status;

    if (ucpg_hostgroup_forked(hg)) {
        return UCPG_ERR_FORKED;
    }
    if (__atomic_load_n(&hg->state, __ATOMIC_ACQUIRE) != UCPG_HOSTGROUP_JOINED) {
        return UCPG_ERR_NOT_FOUND;
    }
    status = ucpg_hostgroup_depart(hg, UCPG_GROUP_REASON_LEAVE, hg->params.change_timeout_ms);
    return (status == UCPG_ERR_TIMEOUT) ? UCPG_ERR_TRY_AGAIN : status;
}

void ucpg_hostgroup_destroy(ucpg_hostgroup_t *hg)
{
    if (hg == NULL) {
        return;
    }
    if (ucpg_hostgroup_forked(hg)) {     /* a fork's copy: only this process' memory */
        ucpg_doorbell_close(hg->bell);
        ucpg_doorbell_close(hg->ringer);
        ucpg_shm_log_detach(hg->log);
        free(hg);
        return;
    }
    pthread_mutex_lock(&hg->read_lock);
    ucpg_doorbell_close(hg->bell);       /* before the reader: its name goes with the slot */
    hg->bell = -1;
    if (hg->reading) {                   /* gone first: our room is no one's wait */
        ucpg_hostgroup_self_bit_clear(hg);
        ucpg_shm_log_reader_close(&hg->reader);
        hg->reading = 0;
    }
    pthread_mutex_unlock(&hg->read_lock);
    if ((hg->self.mid != 0) &&           /* ids start at 1: 0 is no JOIN yet */
        (__atomic_load_n(&hg->state, __ATOMIC_ACQUIRE) == UCPG_HOSTGROUP_JOINED) &&
        (ucpg_hostgroup_depart(hg, UCPG_GROUP_REASON_PROCDOWN,
                               hg->params.change_timeout_ms) != UCPG_OK)) {
        ucpg_warn("host group: no room to announce our departure; the others will see it "
                  "once this process is gone");
    }
    if (hg->writer.log != NULL) {
        ucpg_shm_log_writer_close(&hg->writer);
    }
    ucpg_hostgroup_ring_owed(hg);        /* ring_later's thread no longer knows of us */
    ucpg_doorbell_close(hg->ringer);
    ucpg_shm_log_detach(hg->log);
    pthread_mutex_destroy(&hg->send_lock);
    pthread_mutex_destroy(&hg->read_lock);
    free(hg);
}

/* --- sleeping ----------------------------------------------------------------------- */

int ucpg_hostgroup_fd(const ucpg_hostgroup_t *hg)
{
    return hg->bell;
}

int ucpg_hostgroup_sleep(ucpg_hostgroup_t *hg)
{
    int may_block;

    if (ucpg_hostgroup_forked(hg)) {
        return 0;
    }
    pthread_mutex_lock(&hg->read_lock);
    may_block = hg->reading && ucpg_shm_log_sleep_prepare(&hg->reader);
    pthread_mutex_unlock(&hg->read_lock);
    return may_block;
}

void ucpg_hostgroup_wake(ucpg_hostgroup_t *hg)
{
    pthread_mutex_lock(&hg->read_lock);
    if (hg->reading) {
        ucpg_shm_log_sleep_cancel(&hg->reader);
    }
    ucpg_doorbell_drain(hg->bell);
    pthread_mutex_unlock(&hg->read_lock);
}

ucpg_status_t ucpg_hostgroup_wait(ucpg_hostgroup_t *hg, unsigned timeout_ms)
{
    uint64_t now = ucpg_time_ns(), deadline = now + (uint64_t)timeout_ms * 1000000ull;
    struct pollfd pfd;
    uint64_t slice;
    int ready;

    if (ucpg_hostgroup_forked(hg)) {
        return UCPG_ERR_FORKED;
    }
    for (;;) {
        if (__atomic_load_n(&hg->state, __ATOMIC_ACQUIRE) == UCPG_HOSTGROUP_GONE) {
            return UCPG_ERR_NOT_FOUND;
        }
        if (!ucpg_hostgroup_sleep(hg)) {
            return UCPG_OK;
        }
        slice = (deadline > now) ? (deadline - now + 999999ull) / 1000000ull : 0;
        slice = (slice > hg->params.reap_after_ms) ? hg->params.reap_after_ms : slice;
        pfd.fd     = hg->bell;
        pfd.events = POLLIN;
        ready      = poll(&pfd, 1, (int)slice);
        ucpg_hostgroup_wake(hg);
        now = ucpg_time_ns();
        if ((ready > 0) || ((ready < 0) && (errno == EINTR))) {
            return UCPG_OK;              /* rung: dispatch tells what came */
        }
        if (ucpg_hostgroup_reap_due(hg, now) && (ucpg_hostgroup_reap(hg) > 0)) {
            return UCPG_OK;
        }
        if (now >= deadline) {
            return UCPG_ERR_TIMEOUT;
        }
    }
}
