/*
 * hostgroup_table.c - the member table of a host group and the membership
 * changes appended under its lock (see hostgroup.h for why the table exists
 * and hostgroup_int.h for its invariant).
 *
 * A dead lock holder is the one case that needs care. Its operation is in
 * the table (pending); the next holder first voids whatever the dead
 * process left half-written in the log (ucpg_shm_log_reap), then appends a
 * LEAVE for the member concerned if it had reserved an entry, and removes
 * its row. Whatever point the holder died at, the log's changes and the
 * table agree again:
 *   - before its reservation: nothing is in the log, and nothing is added;
 *   - reserved, not committed: the entry becomes VOID; the LEAVE names a
 *     member nobody added, and readers ignore it;
 *   - committed, the table not updated yet: readers added (or kept) the
 *     member, and the LEAVE removes it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hostgroup_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mutex.h"
#include "core/proc.h"

#define UCPG_HOSTGROUP_TABLE_MAGIC 0x3254474847504355ull   /* "UCPGHGT2" */

ucpg_status_t ucpg_hostgroup_table_init(ucpg_hostgroup_table_t *t)
{
    int rc = ucpg_mutex_init_shared(&t->lock);

    if (rc != 0) {
        ucpg_error("host group: pthread_mutex_init: %s", strerror(rc));
        return UCPG_ERR_IO;
    }
    __atomic_store_n(&t->magic, UCPG_HOSTGROUP_TABLE_MAGIC, __ATOMIC_RELEASE);
    return UCPG_OK;
}

int ucpg_hostgroup_table_valid(const ucpg_hostgroup_table_t *t)
{
    return __atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) == UCPG_HOSTGROUP_TABLE_MAGIC;
}

/* The row of mid, or -1. A count out of range (a corrupt table) finds none. */
static int ucpg_hostgroup_table_find(const ucpg_hostgroup_table_t *t, uint64_t mid)
{
    uint32_t i;

    for (i = 0; (i < t->count) && (i < UCPG_HOSTGROUP_MEMBERS_MAX); ++i) {
        if (t->rows[i].mid == mid) {
            return (int)i;
        }
    }
    return -1;
}

/* Removes mid's row, keeping the others in age order. */
static void ucpg_hostgroup_table_remove(ucpg_hostgroup_table_t *t, uint64_t mid)
{
    int i = ucpg_hostgroup_table_find(t, mid);

    if (i >= 0) {
        memmove(&t->rows[i], &t->rows[i + 1], (t->count - (uint32_t)i - 1) * sizeof(t->rows[0]));
        --t->count;
    }
}

/* What a change's encoder needs. */
typedef struct ucpg_hostgroup_change {
    ucpg_hostgroup_table_t *table;
    uint8_t                 type;
    uint16_t                reason;
    ucpg_hostgroup_row_t    row;     /* mid 0 for a JOIN: its own position */
} ucpg_hostgroup_change_t;

/* A JOIN's member id is its own position, known once reserved: the table
 * records it before the commit, so a dead joiner is found either way. */
static void ucpg_hostgroup_change_encode(void *buf, uint64_t pos, void *arg)
{
    ucpg_hostgroup_change_t *c = arg;

    if (c->type == UCPG_HOSTGROUP_JOIN) {
        c->row.mid       = ucpg_hostgroup_mid_of(pos);
        c->table->op.mid = c->row.mid;
    }
    ucpg_hostgroup_encode_change(buf, c->type, c->reason, c->row.nodeid, c->row.pid,
                                 c->row.mid);
}

/* Appends a change about row (table locked), recorded as pending meanwhile. */
static ucpg_status_t ucpg_hostgroup_table_append(ucpg_hostgroup_t *hg, uint8_t type,
                                                 uint16_t reason, ucpg_hostgroup_row_t *row,
                                                 unsigned timeout_ms)
{
    ucpg_hostgroup_table_t *t = hg->table;
    ucpg_hostgroup_change_t c = {t, type, reason, *row};
    ucpg_status_t status;

    t->op = *row;
    __atomic_store_n(&t->pending, type, __ATOMIC_RELEASE);
    status = ucpg_hostgroup_append(hg, UCPG_HOSTGROUP_CHANGE_LEN, ucpg_hostgroup_change_encode,
                                   &c, 1, timeout_ms, NULL);
    if (status != UCPG_OK) {
        __atomic_store_n(&t->pending, 0, __ATOMIC_RELEASE);   /* nothing was done */
        return status;
    }
    *row = c.row;
    return UCPG_OK;
}

/* Completes a dead holder's operation as a departure (see the top). */
static ucpg_status_t ucpg_hostgroup_table_recover(ucpg_hostgroup_t *hg)
{
    ucpg_hostgroup_table_t *t = hg->table;
    ucpg_hostgroup_row_t row  = t->op;
    ucpg_status_t status;

    ucpg_warn("host group: process %u died changing the member table; completing it",
              row.pid);
    ucpg_shm_log_reap(hg->log);
    __atomic_store_n(&t->change_waits, 0, __ATOMIC_RELAXED);
    if (row.mid != 0) {
        status = ucpg_hostgroup_table_append(hg, UCPG_HOSTGROUP_LEAVE,
                                             UCPG_GROUP_REASON_PROCDOWN, &row, 0);
        if (status != UCPG_OK) {
            t->op = row;                 /* still owed: the next holder tries again */
            __atomic_store_n(&t->pending, UCPG_HOSTGROUP_LEAVE, __ATOMIC_RELEASE);
            return UCPG_ERR_TRY_AGAIN;
        }
    }
    ucpg_hostgroup_table_remove(t, row.mid);
    __atomic_store_n(&t->pending, 0, __ATOMIC_RELEASE);
    return UCPG_OK;
}

ucpg_status_t ucpg_hostgroup_table_lock(ucpg_hostgroup_t *hg, unsigned wait_ms)
{
    ucpg_hostgroup_table_t *t = hg->table;
    int rc = ucpg_mutex_lock_shared(&t->lock, (int)wait_ms);

    if (rc != 0) {                       /* a live holder is changing it, or stopped */
        return (wait_ms > 0) ? UCPG_ERR_TIMEOUT : UCPG_ERR_TRY_AGAIN;
    }
    if (t->count > UCPG_HOSTGROUP_MEMBERS_MAX) {
        ucpg_error("host group: member table corrupt (%u rows); taken as empty", t->count);
        t->count = 0;
    }
    if ((__atomic_load_n(&t->pending, __ATOMIC_ACQUIRE) != 0) &&
        (ucpg_hostgroup_table_recover(hg) != UCPG_OK)) {
        pthread_mutex_unlock(&t->lock);
        return UCPG_ERR_TRY_AGAIN;
    }
    return UCPG_OK;
}

void ucpg_hostgroup_table_unlock(ucpg_hostgroup_t *hg)
{
    pthread_mutex_unlock(&hg->table->lock);
}

ucpg_status_t ucpg_hostgroup_table_join(ucpg_hostgroup_t *hg)
{
    ucpg_hostgroup_table_t *t = hg->table;
    ucpg_hostgroup_row_t row  = hg->self;
    ucpg_status_t status;

    if (t->count >= UCPG_HOSTGROUP_MEMBERS_MAX) {
        return UCPG_ERR_NO_RESOURCE;
    }
    row.mid = 0;
    status  = ucpg_hostgroup_table_append(hg, UCPG_HOSTGROUP_JOIN, UCPG_GROUP_REASON_JOIN, &row,
                                          hg->params.change_timeout_ms);
    if (status != UCPG_OK) {
        return status;
    }
    hg->self     = row;
    hg->nmembers = t->count;
    memcpy(hg->members, t->rows, t->count * sizeof(t->rows[0]));
    t->rows[t->count++] = row;
    __atomic_store_n(&t->pending, 0, __ATOMIC_RELEASE);
    return UCPG_OK;
}

ucpg_status_t ucpg_hostgroup_table_leave(ucpg_hostgroup_t *hg, uint16_t reason,
                                         unsigned timeout_ms)
{
    ucpg_hostgroup_row_t row = hg->self;
    ucpg_status_t status;

    if (ucpg_hostgroup_table_find(hg->table, row.mid) < 0) {
        return UCPG_OK;                  /* already announced (taken for dead) */
    }
    status = ucpg_hostgroup_table_append(hg, UCPG_HOSTGROUP_LEAVE, reason, &row, timeout_ms);
    if (status == UCPG_OK) {
        ucpg_hostgroup_table_remove(hg->table, row.mid);
        __atomic_store_n(&hg->table->pending, 0, __ATOMIC_RELEASE);
    }
    return status;
}

/* Announces the members whose processes are gone; how many. Table locked. */
static unsigned ucpg_hostgroup_table_reap(ucpg_hostgroup_t *hg)
{
    ucpg_hostgroup_table_t *t = hg->table;
    ucpg_hostgroup_row_t row;
    unsigned gone = 0;
    uint32_t i = 0;

    while (i < t->count) {
        row = t->rows[i];
        if (ucpg_proc_alive((pid_t)row.proc, row.starttime)) {
            ++i;
            continue;
        }
        if (ucpg_hostgroup_table_append(hg, UCPG_HOSTGROUP_LEAVE, UCPG_GROUP_REASON_PROCDOWN,
                                        &row, 0) != UCPG_OK) {
            break;                       /* no room now: the next look tries again */
        }
        ucpg_debug("host group: member %u (pid %u) is gone", (unsigned)row.mid, row.pid);
        ucpg_hostgroup_table_remove(t, row.mid);
        __atomic_store_n(&t->pending, 0, __ATOMIC_RELEASE);
        ++gone;
    }
    return gone;
}

unsigned ucpg_hostgroup_reap(ucpg_hostgroup_t *hg)
{
    unsigned gone;

    if (ucpg_hostgroup_forked(hg)) {
        return 0;
    }
    ucpg_shm_log_reap(hg->log);          /* first: a dead reader may hold the room */
    if (ucpg_hostgroup_table_lock(hg, 0) != UCPG_OK) {   /* busy: the next look */
        return 0;
    }
    gone = ucpg_hostgroup_table_reap(hg);
    ucpg_hostgroup_table_unlock(hg);
    return gone;
}

/* Copies the live rows (table locked). A dead holder's pending change is
 * left to the next member that takes the lock: the rows themselves are
 * only changed after an entry is appended, so they are whole. */
static size_t ucpg_hostgroup_table_live(const ucpg_hostgroup_table_t *t, ucpg_group_addr_t *addrs,
                                        size_t max)
{
    uint32_t count = (t->count <= UCPG_HOSTGROUP_MEMBERS_MAX) ? t->count : 0, i;
    size_t n = 0;

    for (i = 0; i < count; ++i) {
        if (!ucpg_proc_alive((pid_t)t->rows[i].proc, t->rows[i].starttime)) {
            continue;                    /* gone: its LEAVE is on its way */
        }
        if (n < max) {
            addrs[n].nodeid = t->rows[i].nodeid;
            addrs[n].pid    = t->rows[i].pid;
            addrs[n].reason = 0;
        }
        ++n;
    }
    return n;
}

ucpg_status_t ucpg_hostgroup_members(const ucpg_shm_offer_t *offer, unsigned wait_ms,
                                     ucpg_group_addr_t *addrs, size_t max, size_t *n_p)
{
    ucpg_hostgroup_table_t *t;
    ucpg_shm_log_t *log;
    ucpg_status_t status = ucpg_shm_log_attach(offer, &log);
    size_t n = 0;

    if (status != UCPG_OK) {
        return status;
    }
    t = ucpg_shm_log_user_area(log);
    if (!ucpg_hostgroup_table_valid(t)) {
        status = UCPG_ERR_MESSAGE;
    } else if (ucpg_mutex_lock_shared(&t->lock, (int)wait_ms) != 0) {
        status = UCPG_ERR_TIMEOUT;
    } else {
        n = ucpg_hostgroup_table_live(t, addrs, max);
        pthread_mutex_unlock(&t->lock);
        qsort(addrs, (n < max) ? n : max, sizeof(*addrs), ucpg_group_addr_cmp);
    }
    ucpg_shm_log_detach(log);
    *n_p = n;
    return status;
}
