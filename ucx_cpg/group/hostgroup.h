/*
 * hostgroup.h - a closed process group whose members all run on this host,
 * on one host log (core/shm_log.h): the order of the log is the group's
 * order, and every member reads each message where it was written.
 *
 * Why: the sequencer engine (group.h) orders each message once and then
 * hands it to every member through its own active message, event, queue and
 * wake-up; eight members on one host pay that eight times, and that per-
 * member cost is what held an 8-member flood at 742k messages/s
 * (docs/cpg-bench.md, sessions 36-38). Here a sender appends its message to
 * the log itself, and each member's dispatcher runs the callback on the
 * bytes in the ring; nothing is allocated, copied or queued per member.
 *
 * Membership is in the log too, so views and messages share one order
 * (virtual synchrony): JOIN and LEAVE entries change the view, and every
 * member derives the same views from the same entries. A member table in
 * the log's user area, changed only under its own robust mutex together
 * with the entry that records the change, tells a joiner the membership at
 * its JOIN and tells anyone which processes to watch:
 *   - join: lock the table, open a reader at the tail, append the JOIN,
 *     copy the table (the view before us), add our row, unlock. The joiner
 *     skips everything before its JOIN; its first event is the view that
 *     adds it.
 *   - leave: append a LEAVE (reason LEAVE) and drop our row; the stream ends
 *     with the view that removes us, after every message ordered before it.
 *   - death: ucpg_hostgroup_reap (run by any member) voids what dead writers
 *     left half-written, frees dead readers' room, and appends a LEAVE
 *     (reason PROCDOWN) for every row whose process is gone. Only rows still
 *     in the table get one, so a death is announced once.
 *   - a process that dies holding the table's lock leaves its operation in
 *     the table (pending): the next holder completes it as a departure (a
 *     LEAVE for that member, which readers that never saw it join ignore),
 *     so the table and the views agree again.
 * A committed entry is in memory every member maps, so it cannot be lost
 * by any member's death: SAFE messages are delivered as soon as they are
 * committed, like AGREED ones, and still keep the SAFE promise.
 *
 * Flow control: a sender gets UCPG_ERR_TRY_AGAIN while the slowest member's
 * dispatcher holds the ring full (as cpg_mcast_joined's CS_ERR_TRY_AGAIN).
 *
 * Wake-ups: a member about to sleep sets its bit in the log's sleepers mask;
 * the next commit returns it, and the writer rings the member's doorbell
 * (core/doorbell.h), whose descriptor is the one to poll.
 *
 * Not yet (docs/protocol.md, "The host log and host groups"): members on
 * other hosts, the directory and the CPG façade, and removing a live member
 * that stops dispatching (it holds the ring full: senders see TRY_AGAIN
 * until it dispatches or dies).
 *
 * Threads: mcast may be called from any thread; one thread at a time
 * dispatches (others wait on the lock). Callbacks run in the dispatching
 * thread; they may call mcast and leave, not dispatch.
 *
 * Fork: a handle belongs to the process that made it. In a fork's child,
 * mcast, leave, dispatch and wait return UCPG_ERR_FORKED, sleep and reap do
 * nothing, and destroy frees only the child's copy (the parent stays a
 * member).
 */
#ifndef UCPG_GROUP_HOSTGROUP_H
#define UCPG_GROUP_HOSTGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/shm_segment.h"
#include "core/status.h"
#include "group.h"

#define UCPG_HOSTGROUP_MEMBERS_MAX 48u     /* rows of the member table */
#define UCPG_HOSTGROUP_CHANGE_TIMEOUT_MS 5000u  /* params' defaults (for 0) */
#define UCPG_HOSTGROUP_REAP_AFTER_MS     100u

typedef struct ucpg_hostgroup ucpg_hostgroup_t;

typedef struct ucpg_hostgroup_callbacks {
    /* A message, in place: data is valid until the callback returns. */
    void (*deliver)(void *arg, const ucpg_group_addr_t *sender, int guarantee,
                    const void *data, size_t len);
    /* A view (lists sorted by nodeid, pid, as in group.h); valid until return. */
    void (*view)(void *arg, const ucpg_group_view_t *view);
    /* Optional: our own send found us asleep (ucpg_hostgroup_sleep), in the
     * sending thread. Instead of ringing our own doorbell (a system call
     * that costs the sender a microsecond), this is called: the caller
     * wakes its poller its own way. NULL: the doorbell is rung. */
    void (*self_rung)(void *arg);
} ucpg_hostgroup_callbacks_t;

typedef struct ucpg_hostgroup_params {
    uint32_t                          nodeid;       /* ours, as views show it */
    const ucpg_hostgroup_callbacks_t *cb;
    void                             *arg;
    unsigned                          change_timeout_ms; /* a JOIN or a LEAVE waits this
                                                          * long for room in the ring,
                                                          * holding the member table's
                                                          * lock (others' changes wait) */
    unsigned                          reap_after_ms;     /* an entry left uncommitted, or
                                                          * no room, this long: look for
                                                          * dead processes (also the
                                                          * period of that look in
                                                          * ucpg_hostgroup_wait) */
    size_t                            max_msg;      /* the largest message, within
                                                     * what the log holds (0: that) */
    /* Optional: when an append finds more than UCPG_HOSTGROUP_RING_INLINE
     * members asleep, their rings are left owed and this is called (in the
     * appending thread) so that another thread pays them with
     * ucpg_hostgroup_ring_owed: a ring is a system call, and a sender whose
     * message finds 7 members asleep would pay 7 before it could go on.
     * It must make sure that the call comes. NULL: the appender rings. */
    void                            (*ring_later)(void);
} ucpg_hostgroup_params_t;

/* At most this many sleepers an append rings itself (with ring_later). One:
 * handing a single ring to another thread saves the sender nothing and
 * costs the sleeper a second wake-up in between. */
#define UCPG_HOSTGROUP_RING_INLINE 1u

/* Creates a log of capacity bytes (shm_log.h's limits) and joins it as its
 * first member. Errors: those of ucpg_shm_log_create and ucpg_hostgroup_join. */
ucpg_status_t ucpg_hostgroup_found(size_t capacity, const ucpg_hostgroup_params_t *params,
                                   ucpg_hostgroup_t **hg_p);
/*
 * Joins the group whose log an offer names (ucpg_hostgroup_offer of a
 * member). The first event dispatched is the view that adds us. Errors:
 * UCPG_ERR_NOT_FOUND (no such log on this host), UCPG_ERR_MESSAGE (not a
 * host group's log), UCPG_ERR_NO_RESOURCE (table, reader or writer slots
 * full), UCPG_ERR_TIMEOUT (no room for the JOIN in change_timeout_ms, or
 * the member table kept that long by a live process, e.g. a stopped one).
 */
ucpg_status_t ucpg_hostgroup_join(const ucpg_shm_offer_t *offer,
                                  const ucpg_hostgroup_params_t *params,
                                  ucpg_hostgroup_t **hg_p);
void          ucpg_hostgroup_offer(const ucpg_hostgroup_t *hg, ucpg_shm_offer_t *offer);
/* The largest message: params' max_msg, or less if the log's largest entry
 * (less the header) is smaller. */
size_t        ucpg_hostgroup_max_msg(const ucpg_hostgroup_t *hg);

/*
 * Appends the concatenation of iov. UCPG_ERR_TRY_AGAIN: the ring is full
 * (the slowest member has not dispatched yet); UCPG_ERR_TOO_BIG above
 * ucpg_hostgroup_max_msg; UCPG_ERR_INVALID_PARAM for a guarantee out of
 * range; UCPG_ERR_NOT_FOUND once we left (or asked to).
 */
ucpg_status_t ucpg_hostgroup_mcast(ucpg_hostgroup_t *hg, int guarantee,
                                   const struct iovec *iov, unsigned iovcnt);
/* Whether we left or asked to (or never finished joining). */
int           ucpg_hostgroup_left(const ucpg_hostgroup_t *hg);
/* Asks to leave: the view removing us ends the stream. UCPG_ERR_NOT_FOUND
 * if already leaving or gone; UCPG_ERR_TRY_AGAIN if the ring had no room
 * for the LEAVE, or the member table was not free, in change_timeout_ms
 * (dispatch, then call again). */
ucpg_status_t ucpg_hostgroup_leave(ucpg_hostgroup_t *hg);

/*
 * Runs the callbacks of up to max entries that are ready, in log order;
 * *ran_p (may be NULL) gets how many callbacks ran. UCPG_OK, also when
 * nothing was ready; UCPG_ERR_NOT_FOUND once the stream ended (the view
 * removing us ran); UCPG_ERR_MESSAGE if the log is corrupt (logged; the
 * stream ends).
 */
ucpg_status_t ucpg_hostgroup_dispatch(ucpg_hostgroup_t *hg, unsigned max, unsigned *ran_p);

/* The descriptor to poll: readable once rung after ucpg_hostgroup_sleep
 * returned 1. */
int           ucpg_hostgroup_fd(const ucpg_hostgroup_t *hg);
/* Before polling the fd: 1 if the caller may block (the next commit rings),
 * 0 if an entry is ready already (dispatch instead). */
int           ucpg_hostgroup_sleep(ucpg_hostgroup_t *hg);
/* After the poll: takes the ring and withdraws the request. */
void          ucpg_hostgroup_wake(ucpg_hostgroup_t *hg);
/* Sleep, poll and wake in one: UCPG_OK once an entry is ready,
 * UCPG_ERR_TIMEOUT after timeout_ms, UCPG_ERR_NOT_FOUND once gone. While
 * it waits it looks for dead members every reap_after_ms. */
ucpg_status_t ucpg_hostgroup_wait(ucpg_hostgroup_t *hg, unsigned timeout_ms);

/* Removes dead processes' traces and members (see above); returns how many
 * members it announced gone (0 also when another process is changing the
 * member table: the next look does it). */
unsigned      ucpg_hostgroup_reap(ucpg_hostgroup_t *hg);

/*
 * The live members of the group whose log an offer names, as its member
 * table holds them now (which may be ahead of the views a member has
 * dispatched), sorted by (nodeid, pid); for processes that are not members
 * (a membership query). Up to max go to addrs; *n_p gets how many there
 * are. UCPG_ERR_NOT_FOUND: no such log (every process let go of it);
 * UCPG_ERR_MESSAGE: not a host group's log; UCPG_ERR_TIMEOUT: a live
 * process kept the table locked for wait_ms.
 */
ucpg_status_t ucpg_hostgroup_members(const ucpg_shm_offer_t *offer, unsigned wait_ms,
                                     ucpg_group_addr_t *addrs, size_t max, size_t *n_p);

/* Rings what appends left owed (params.ring_later), in any thread; hg must
 * stay alive meanwhile. Cheap when nothing is owed. */
void          ucpg_hostgroup_ring_owed(ucpg_hostgroup_t *hg);

/* Frees the handle, ringing what is still owed. Still a member: leaves at
 * once, and the others see reason PROCDOWN (as ucpg_group_destroy). */
void          ucpg_hostgroup_destroy(ucpg_hostgroup_t *hg);

#endif
