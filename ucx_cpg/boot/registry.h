/*
 * registry.h - the per-host, per-user, per-domain process registry.
 *
 * A small file in a tmpfs directory (default /dev/shm), named
 * "ucx_cpg-<uid>-<domain>", mode 0600 and owned by the user: the only
 * rendezvous point of processes that were started independently. Each live
 * process holds one slot with its pid, start time, incarnation uuid, node id
 * and UCP worker address; the slot index is the process' peer id in the
 * domain. The header holds a random secret that a process must show in its
 * HELLO, so only processes able to read the file can join.
 *
 * Every access holds flock(LOCK_EX) on the file (between processes) and a
 * mutex (between threads of one process). A slot whose process is dead is
 * reclaimed by whoever notices first, so a crashed run never blocks a new one.
 * The last process to leave removes the file; a process that opened it just
 * before moves to the new file at the same path under the lock.
 */
#ifndef UCPG_BOOT_REGISTRY_H
#define UCPG_BOOT_REGISTRY_H

#include <stdint.h>
#include <sys/types.h>

#include "core/shm_segment.h"
#include "core/status.h"

#define UCPG_REGISTRY_ADDR_MAX   2048u   /* bytes of worker address per slot */
#define UCPG_REGISTRY_MIN_SLOTS  2u
#define UCPG_REGISTRY_MAX_SLOTS  1024u
#define UCPG_REGISTRY_NSEGS      4096u   /* published segment ids per registry */
#define UCPG_REGISTRY_NGROUPS    256u    /* CPG groups per registry */
#define UCPG_REGISTRY_GROUP_MEMBERS 256u /* members per CPG group */
#define UCPG_REGISTRY_GROUP_NAME_MAX 128u
#define UCPG_REGISTRY_NHOSTGROUPS 256u   /* host-group records per registry */

typedef struct ucpg_registry ucpg_registry_t;

/* One process as recorded in the registry. */
typedef struct ucpg_registry_entry {
    uint32_t slot;        /* index = peer id */
    pid_t    pid;
    uint64_t starttime;   /* see ucpg_proc_starttime() */
    uint64_t uuid;        /* incarnation id, never 0 */
    uint32_t nodeid;
    uint32_t addr_len;
    uint8_t  addr[UCPG_REGISTRY_ADDR_MAX];
} ucpg_registry_entry_t;

/* Opens (creating if needed, with nslots slots) the registry of domain in dir.
 * UCPG_ERR_ACCESS: the file exists but belongs to another user, is not a
 * regular file or is readable by others. UCPG_ERR_REGISTRY: it was written by
 * an incompatible version of the library. A file with a corrupt header is
 * rebuilt (and a warning logged). */
ucpg_status_t ucpg_registry_open(const char *dir, const char *domain, unsigned nslots,
                                 ucpg_registry_t **reg_p);
void          ucpg_registry_close(ucpg_registry_t *reg);

const char *ucpg_registry_path(const ucpg_registry_t *reg);
uint64_t    ucpg_registry_secret(const ucpg_registry_t *reg);
unsigned    ucpg_registry_nslots(const ucpg_registry_t *reg);

/* Reclaims dead slots, takes a free one for self (self->slot is ignored and
 * set on return) and returns a snapshot of the other live entries, in slot
 * order, in peers[] (capacity nslots). UCPG_ERR_NO_RESOURCE if full. */
ucpg_status_t ucpg_registry_join(ucpg_registry_t *reg, ucpg_registry_entry_t *self,
                                 ucpg_registry_entry_t *peers, unsigned *npeers_p);

/* As ucpg_registry_join, but takes slot `slot` (a launcher-given rank, so that
 * slot = peer id holds on every host). UCPG_ERR_EXISTS if a live process
 * holds it, UCPG_ERR_NO_RESOURCE if the registry has no such slot. */
ucpg_status_t ucpg_registry_join_at(ucpg_registry_t *reg, uint32_t slot,
                                    ucpg_registry_entry_t *self,
                                    ucpg_registry_entry_t *peers, unsigned *npeers_p);

/* Frees slot if it still belongs to incarnation uuid. */
ucpg_status_t ucpg_registry_leave(ucpg_registry_t *reg, uint32_t slot, uint64_t uuid);

/* Frees slot if it belongs to uuid and that process is dead. Returns
 * UCPG_ERR_BUSY if the process is still alive. */
ucpg_status_t ucpg_registry_reclaim(ucpg_registry_t *reg, uint32_t slot, uint64_t uuid);

/* Whether slot still belongs to incarnation uuid and that process lives:
 * it has not left the domain. 0 also if the registry cannot be read. */
int           ucpg_registry_holds(ucpg_registry_t *reg, uint32_t slot, uint64_t uuid);

/* Copies the live entries (including the caller's own) in slot order. */
ucpg_status_t ucpg_registry_snapshot(ucpg_registry_t *reg, ucpg_registry_entry_t *entries,
                                     unsigned *nentries_p);

/*
 * Segment ids (RSMAPI): a (nodeid, segid) pair is claimed by one live process;
 * a claim whose owner died is dropped by the next scan.
 *
 * claim: *segid_p == 0 asks for a system-assigned id (>= 0x80000000, from a
 * counter that never repeats; UCPG_ERR_NO_RESOURCE once it wraps), written
 * back. UCPG_ERR_EXISTS if the id is held by a live process,
 * UCPG_ERR_NO_RESOURCE if the table is full.
 * release: UCPG_ERR_NOT_FOUND if unclaimed, UCPG_ERR_ACCESS if another
 * process holds it. lookup: the owner, or UCPG_ERR_NOT_FOUND.
 */
ucpg_status_t ucpg_registry_seg_claim(ucpg_registry_t *reg, uint32_t nodeid, uint32_t *segid_p,
                                      uint32_t owner_slot, uint64_t owner_uuid);
ucpg_status_t ucpg_registry_seg_release(ucpg_registry_t *reg, uint32_t nodeid, uint32_t segid,
                                        uint64_t owner_uuid);
ucpg_status_t ucpg_registry_seg_lookup(ucpg_registry_t *reg, uint32_t nodeid, uint32_t segid,
                                       uint32_t *owner_slot_p, uint64_t *owner_uuid_p);

/*
 * The CPG group directory: for each group with live members, its current
 * sequencer and member list, as last written by that sequencer. It is how a
 * joiner finds a group's sequencer and what membership queries and
 * iteration read; the ordering protocol itself never depends on it.
 */
typedef struct ucpg_registry_gmember {
    uint32_t slot;
    uint32_t nodeid;
    uint32_t pid;
    uint32_t reserved;
    uint64_t uuid;
} ucpg_registry_gmember_t;

typedef struct ucpg_registry_group {
    uint32_t index;        /* directory entry */
    uint64_t gen;          /* incarnation of the group (random, never 0) */
    uint32_t name_len;
    uint8_t  name[UCPG_REGISTRY_GROUP_NAME_MAX];
    uint32_t seq_slot;     /* sequencer */
    uint64_t seq_uuid;
    uint64_t view_id;      /* of the view the members below belong to */
    uint32_t nmembers;
} ucpg_registry_group_t;

/*
 * Who vouches for members of other nodes. A member listed with a node id
 * other than self_node is alive iff alive(arg, slot, uuid) says so (the
 * domain's view of that peer); members of self_node are checked against
 * their registry slot as always. alive is called with the registry locked:
 * it may take the domain's lock, never the registry's.
 */
typedef int (*ucpg_registry_alive_fn_t)(void *arg, uint32_t slot, uint64_t uuid);
void ucpg_registry_set_oracle(ucpg_registry_t *reg, uint32_t self_node,
                              ucpg_registry_alive_fn_t alive, void *arg);

/*
 * Finds group name. If it has no entry, no member of the entry is alive, or
 * creator is its only live member (a creation whose answer was lost, a leave
 * not recorded yet), creates one with creator as its only member and
 * sequencer (view_id 1, a new gen) and sets *created_p, unless may_create is 0: then UCPG_ERR_BUSY (the caller
 * tries again later; see boot/directory.c). UCPG_ERR_NO_RESOURCE if the
 * directory is full.
 */
ucpg_status_t ucpg_registry_group_open(ucpg_registry_t *reg, const void *name, size_t name_len,
                                       const ucpg_registry_gmember_t *creator, int may_create,
                                       ucpg_registry_group_t *group_p, int *created_p);

/*
 * Replaces incarnation old_gen of group name, whose members are all stopped
 * (the caller checked), by a fresh one with creator as its only member and
 * sequencer (view_id 1, a new gen), in the same entry. UCPG_ERR_BUSY if the
 * entry holds another incarnation by now, UCPG_ERR_NOT_FOUND if it is gone
 * (the caller looks the group up again).
 */
ucpg_status_t ucpg_registry_group_supersede(ucpg_registry_t *reg, const void *name,
                                            size_t name_len, uint64_t old_gen,
                                            const ucpg_registry_gmember_t *creator,
                                            ucpg_registry_group_t *group_p);

/*
 * Records a new view of group (name, gen): its members, the first of which
 * is its sequencer (the order of ucpg_group views). The
 * entry is found by name, so a sequencer can register its group with a
 * directory that never heard of it (a new coordinator node):
 *   - an entry of that name and gen takes the view if view_id is at least
 *     the recorded one (a late writer never rolls it back); nmembers 0
 *     removes it;
 *   - no entry, or one of another gen whose members all died: the view is
 *     written as a new entry (nmembers 0: nothing to do);
 *   - an entry of another gen with live members: UCPG_ERR_EXISTS (two
 *     groups of one name: the directory keeps the one it has).
 * UCPG_ERR_NO_RESOURCE if a new entry is needed and the directory is full.
 */
ucpg_status_t ucpg_registry_group_publish(ucpg_registry_t *reg, const void *name,
                                          size_t name_len, uint64_t gen, uint64_t view_id,
                                          const ucpg_registry_gmember_t *members,
                                          uint32_t nmembers);

/* Empties the directory (a node that stopped being the domain's directory
 * coordinator, boot/directory.c). */
ucpg_status_t ucpg_registry_group_clear(ucpg_registry_t *reg);

/* Called with the registry locked: must not call back into the registry.
 * members holds only live processes. */
typedef void (*ucpg_registry_group_cb_t)(void *arg, const ucpg_registry_group_t *group,
                                         const ucpg_registry_gmember_t *members,
                                         uint32_t nmembers);

/* Calls cb for group name (name NULL: every group, in entry order) if it has
 * a live member. */
ucpg_status_t ucpg_registry_group_foreach(ucpg_registry_t *reg, const void *name,
                                          size_t name_len, ucpg_registry_group_cb_t cb,
                                          void *arg);

/*
 * Host-group records: for each CPG group whose members all run on this host
 * (a host group, group/hostgroup.h), the shared-memory log its members meet
 * on, as the offer that attaches it (core/shm_segment.h). One record per
 * group name, names as in the group directory (up to
 * UCPG_REGISTRY_GROUP_NAME_MAX bytes, compared byte for byte).
 *
 * The registry cannot tell whether a recorded log is still in use: the
 * kernel frees a log with the last member that detaches it, and the record
 * stays. A caller that finds a record attaches the log to see whether it
 * lives, and replaces a dead one with ucpg_registry_hostgroup_swap: a
 * compare-and-swap, so of the processes that found the same dead log only
 * one installs its own. Offers compare equal when all three fields (shmid,
 * size, cookie) do.
 */

/* Called with the registry locked: must not call back into the registry.
 * name and offer are valid until the callback returns. */
typedef void (*ucpg_registry_hostgroup_cb_t)(void *arg, const uint8_t *name, size_t name_len,
                                             const ucpg_shm_offer_t *offer);

/* Copies the offer recorded for name into *offer. UCPG_ERR_NOT_FOUND if name
 * has no record; UCPG_ERR_INVALID_PARAM if name_len >
 * UCPG_REGISTRY_GROUP_NAME_MAX or offer is NULL. The log need not live. */
ucpg_status_t ucpg_registry_hostgroup_lookup(ucpg_registry_t *reg, const void *name,
                                             size_t name_len, ucpg_shm_offer_t *offer);

/*
 * Compare-and-swap of name's record. If what name has recorded now is
 * *expected (expected NULL: name has no record), records offer for name, or
 * removes name's record if offer is NULL (nothing to do if there is none),
 * and returns UCPG_OK. Otherwise returns UCPG_ERR_EXISTS and, if current is
 * not NULL, sets *current to the offer recorded now, or to shmid -1, size 0,
 * cookie 0 if name has no record; current is not touched on any other
 * return.
 *
 * A new record takes a free one; if none is free, a record whose log can no
 * longer be attached (its group is gone) is reused, and only then are the
 * recorded logs attached to find out. UCPG_ERR_NO_RESOURCE if a new record
 * is needed and every record names a live log. UCPG_ERR_INVALID_PARAM if
 * name_len > UCPG_REGISTRY_GROUP_NAME_MAX.
 */
ucpg_status_t ucpg_registry_hostgroup_swap(ucpg_registry_t *reg, const void *name,
                                           size_t name_len, const ucpg_shm_offer_t *expected,
                                           const ucpg_shm_offer_t *offer,
                                           ucpg_shm_offer_t *current);

/* Calls cb for every record, in record order, with the registry locked
 * (see ucpg_registry_hostgroup_cb_t). Records of dead logs are listed too:
 * the caller decides what to do with them. */
ucpg_status_t ucpg_registry_hostgroup_foreach(ucpg_registry_t *reg,
                                              ucpg_registry_hostgroup_cb_t cb, void *arg);

#endif
