/*
 * hostgroups.h - CPG groups as host groups (hostgroup.h) when the domain runs on
 * one host: where a group's log is found, and who notices that a member
 * died while every other member sleeps.
 *
 * Switched on by the key group_host_log_mb (core/config.h); the size of
 * each group's log. A group of one name is then a host group for every
 * process of the domain, never a sequencer group for some: the key must be
 * the same in all of them (it is read from the same file and environment).
 *
 * Rendezvous: the host registry (boot/registry.h) records, per group name,
 * the offer of the log its members meet on. A joiner attaches the log the
 * record names; if none is recorded, or the log is gone (its segment is
 * freed with the last process that let go of it), it founds a new log and
 * records it with a compare-and-swap, so that two joiners racing to found
 * the same group end up in one log (the loser drops its own).
 *
 * One host only: a host group cannot reach a process on another host, and
 * two hosts' logs of one name would be two groups. So a join fails with
 * UCPG_ERR_UNSUPPORTED while the domain knows processes on another node;
 * since every joiner checks, a host that arrives later cannot make a
 * second group of a name either: its processes see ours and are refused.
 *
 * Deaths: a host group's members find dead members themselves only while
 * they send or wait in ucpg_hostgroup_wait; an application asleep in poll()
 * on cpg_fd_get's descriptor does neither. The domain watches every process
 * of the host (a pidfd), so its peer-down event reaps this process' host
 * groups at once; a timer does it again every UCPG_GROUP_HOST_REAP_MS in
 * case the log had no room for the LEAVE at that moment.
 */
#ifndef UCPG_GROUP_HOSTGROUPS_H
#define UCPG_GROUP_HOSTGROUPS_H

#include "group.h"
#include "hostgroup.h"

#define UCPG_GROUP_HOST_REAP_MS 500u

/* Whether CPG groups are host groups (group_host_log_mb > 0). Needs
 * ucpg_group_use. */
int           ucpg_group_host_enabled(void);

/* The largest message of a host group: a quarter of its log, within
 * group_max_msg. */
size_t        ucpg_group_host_max_msg(void);

/*
 * Joins host group name (0..UCPG_GROUP_NAME_MAX bytes), founding it if it
 * has no live log; the first event dispatched is the view that adds us.
 * Errors: UCPG_ERR_UNSUPPORTED (the domain spans hosts, or host groups are
 * off), UCPG_ERR_NO_RESOURCE (the registry's table or the group is full),
 * UCPG_ERR_TIMEOUT (the member table kept busy for group_join_timeout_ms),
 * and those of ucpg_hostgroup_join.
 */
ucpg_status_t ucpg_group_host_join(const void *name, size_t name_len,
                                   const ucpg_hostgroup_callbacks_t *cb, void *arg,
                                   ucpg_hostgroup_t **hg_p);

/* ucpg_hostgroup_destroy, after the reaper has let go of it. */
void          ucpg_group_host_destroy(ucpg_hostgroup_t *hg);

/* ucpg_group_list for host groups: the live members each group's table
 * holds (a group none of whose members lives is not listed). */
ucpg_status_t ucpg_group_host_list(const void *name, size_t name_len, ucpg_group_list_cb_t cb,
                                   void *arg);

/* Looks for dead members in every host group of this process (engine.c,
 * on a peer's departure; never with the engine lock held). */
void          ucpg_group_host_reap_all(void);

/*
 * Rings the sleepers that sends left to the progress thread (engine.c's
 * flush hook, after each round of the progress thread). A send whose
 * message finds more than UCPG_HOSTGROUP_RING_INLINE members asleep does
 * not ring them itself, a system call each: it leaves them owed and kicks
 * the progress thread unless that one is awake (the same handshake as the
 * outbox: the hook runs again after the thread marks itself asleep). The
 * sender pays one kick, or nothing, instead of a ring per sleeper.
 */
void          ucpg_group_host_ring_owed_all(void);

#endif
