/*
 * hostgroup_dispatch.c - reading a host group's log: each message's callback
 * runs on the bytes in the ring, and each change to the membership becomes
 * a view (see hostgroup.h).
 *
 * Every member applies the same JOIN and LEAVE entries in the same order to
 * the same starting table (a joiner's copy, made at its JOIN), so views are
 * identical everywhere without any exchange. A LEAVE for a member the view
 * does not hold (a duplicate, or the departure a dead joiner's recovery
 * appends) changes nothing and shows nothing, at every member alike.
 *
 * Each entry before the one whose callback runs is released first: a
 * callback may leave, and a LEAVE must not wait for room we hold. A release
 * is a store to our own slot's line, which writers read only when the ring
 * looks full (about once per lap).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hostgroup_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/proc.h"

static void ucpg_hostgroup_addr_set(ucpg_group_addr_t *a, const ucpg_hostgroup_row_t *row,
                                    uint32_t reason)
{
    a->nodeid = row->nodeid;
    a->pid    = row->pid;
    a->reason = reason;
}

/* Shows the view after a change concerning row (in members already if it
 * joined, removed already if it left). */
static void ucpg_hostgroup_show_view(ucpg_hostgroup_t *hg, uint64_t view_id,
                                     const ucpg_hostgroup_row_t *row, uint32_t reason)
{
    ucpg_group_addr_t *a = hg->addrs;
    ucpg_group_view_t v;
    size_t i;

    for (i = 0; i < hg->nmembers; ++i) {
        ucpg_hostgroup_addr_set(&a[i], &hg->members[i], UCPG_GROUP_REASON_JOIN);
    }
    qsort(a, hg->nmembers, sizeof(*a), ucpg_group_addr_cmp);
    ucpg_hostgroup_addr_set(&a[hg->nmembers], row, reason);
    memset(&v, 0, sizeof(v));
    v.view_id   = view_id;
    v.members   = a;
    v.nmembers  = hg->nmembers;
    if (reason == UCPG_GROUP_REASON_JOIN) {
        v.joined  = &a[hg->nmembers];
        v.njoined = 1;
    } else {
        v.left      = &a[hg->nmembers];
        v.nleft     = 1;
        v.self_left = (row->mid == hg->self.mid);
    }
    if (hg->cb.view != NULL) {
        hg->cb.view(hg->params.arg, &v);
    }
}

/* A JOIN: the member is added (ours is the view that starts our stream). */
static void ucpg_hostgroup_apply_join(ucpg_hostgroup_t *hg, const ucpg_hostgroup_entry_t *e,
                                      uint64_t pos)
{
    ucpg_hostgroup_row_t row = {0, 0, e->hdr.pid, e->hdr.nodeid, 0, 0};

    row.mid = ucpg_hostgroup_mid_of(pos);
    if ((e->mid != row.mid) || (hg->nmembers >= UCPG_HOSTGROUP_MEMBERS_MAX)) {
        ucpg_error("host group: a JOIN at %" PRIu64 " names member %" PRIu64
                   " with %zu members; ignored", pos, e->mid, hg->nmembers);
        return;
    }
    hg->members[hg->nmembers++] = row;
    ucpg_hostgroup_show_view(hg, pos, &row, UCPG_GROUP_REASON_JOIN);
}

/* A LEAVE: the member is removed, if the view holds it (else nothing is
 * shown: *shown = 0). Returns 1 if it removed us (the stream ends). */
static int ucpg_hostgroup_apply_leave(ucpg_hostgroup_t *hg, const ucpg_hostgroup_entry_t *e,
                                      uint64_t pos, int *shown)
{
    ucpg_hostgroup_row_t row;
    size_t i;

    for (i = 0; (i < hg->nmembers) && (hg->members[i].mid != e->mid); ++i) {
    }
    if (i == hg->nmembers) {
        *shown = 0;
        return 0;
    }
    row = hg->members[i];
    memmove(&hg->members[i], &hg->members[i + 1], (hg->nmembers - i - 1) * sizeof(row));
    --hg->nmembers;
    ucpg_hostgroup_show_view(hg, pos, &row, e->hdr.reason);
    return row.mid == hg->self.mid;
}

/* Runs the callback of one entry; 1 if it ended our stream. *shown: 0 if
 * the entry changed nothing (no callback). */
static int ucpg_hostgroup_apply(ucpg_hostgroup_t *hg, const ucpg_hostgroup_entry_t *e,
                                uint64_t pos, int *shown)
{
    ucpg_group_addr_t sender;

    switch (e->hdr.type) {
    case UCPG_HOSTGROUP_MSG:
        if (hg->cb.deliver != NULL) {
            sender.nodeid = e->hdr.nodeid;
            sender.pid    = e->hdr.pid;
            sender.reason = 0;
            hg->cb.deliver(hg->params.arg, &sender, e->hdr.guarantee, e->data, e->len);
        }
        return 0;
    case UCPG_HOSTGROUP_JOIN:
        ucpg_hostgroup_apply_join(hg, e, pos);
        return 0;
    default:
        return ucpg_hostgroup_apply_leave(hg, e, pos, shown);
    }
}

/* The stream ended (the view removing us ran, or the log is corrupt): our
 * reader goes, so that our room is nobody's wait. Read lock held. */
static void ucpg_hostgroup_end(ucpg_hostgroup_t *hg)
{
    ucpg_hostgroup_self_bit_clear(hg);
    ucpg_shm_log_reader_close(&hg->reader);
    hg->reading = 0;
    __atomic_store_n(&hg->state, UCPG_HOSTGROUP_GONE, __ATOMIC_RELEASE);
}

/* The next entry is reserved but not committed: a writer is writing it, or
 * died doing so. After reap_after_ms, look (the reap voids a dead one's). */
static void ucpg_hostgroup_stuck(ucpg_hostgroup_t *hg)
{
    uint64_t now = ucpg_time_coarse_ns();

    if (hg->stuck_since == 0) {
        hg->stuck_since = now;
    } else if ((now - hg->stuck_since > (uint64_t)hg->params.reap_after_ms * 1000000ull) &&
               ucpg_hostgroup_reap_due(hg, now)) {
        ucpg_shm_log_release(&hg->reader, hg->reader.next);
        ucpg_hostgroup_reap(hg);
    }
}

/* Reads and applies the next entry. UCPG_OK: a callback ran (*ended if it
 * was the view removing us); UCPG_ERR_TRY_AGAIN: none was ready;
 * UCPG_INPROGRESS: an entry ran no callback (before our JOIN, or a LEAVE of
 * no member); UCPG_ERR_MESSAGE. */
static ucpg_status_t ucpg_hostgroup_step(ucpg_hostgroup_t *hg, int *ended)
{
    ucpg_shm_log_entry_t le;
    ucpg_hostgroup_entry_t e;
    ucpg_status_t status = ucpg_shm_log_next(&hg->reader, &le);
    int shown = 1;

    if (status == UCPG_INPROGRESS) {
        ucpg_hostgroup_stuck(hg);
        return UCPG_ERR_TRY_AGAIN;
    }
    if (status != UCPG_OK) {
        return status;
    }
    hg->stuck_since = 0;
    if (ucpg_hostgroup_mid_of(le.pos) < hg->self.mid) {
        return UCPG_INPROGRESS;          /* before our JOIN: in the table we copied */
    }
    if (ucpg_hostgroup_decode(le.data, le.len, &e) != UCPG_OK) {
        ucpg_error("host group: corrupt entry at %" PRIu64 " (%zu bytes); the stream ends",
                   le.pos, le.len);
        return UCPG_ERR_MESSAGE;
    }
    ucpg_shm_log_release(&hg->reader, le.pos);
    *ended = ucpg_hostgroup_apply(hg, &e, le.pos, &shown);
    return shown ? UCPG_OK : UCPG_INPROGRESS;
}

ucpg_status_t ucpg_hostgroup_dispatch(ucpg_hostgroup_t *hg, unsigned max, unsigned *ran_p)
{
    ucpg_status_t status = UCPG_OK;
    unsigned ran = 0;
    int ended = 0;

    if (ucpg_hostgroup_forked(hg)) {
        return UCPG_ERR_FORKED;
    }
    pthread_mutex_lock(&hg->read_lock);
    if (!hg->reading) {
        status = UCPG_ERR_NOT_FOUND;
    }
    while ((status == UCPG_OK) && (ran < max) && !ended) {
        status = ucpg_hostgroup_step(hg, &ended);
        if (status == UCPG_INPROGRESS) {
            status = UCPG_OK;
        } else if (status == UCPG_OK) {
            ++ran;
        }
    }
    if (hg->reading) {
        ucpg_shm_log_release(&hg->reader, hg->reader.next);
    }
    if (ended || (status == UCPG_ERR_MESSAGE)) {
        ucpg_hostgroup_end(hg);
    }
    pthread_mutex_unlock(&hg->read_lock);
    if (ran_p != NULL) {
        *ran_p = ran;
    }
    return (status == UCPG_ERR_TRY_AGAIN) ? UCPG_OK : status;
}
