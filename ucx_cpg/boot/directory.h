/*
 * directory.h - the CPG group directory of a domain, on one node or many.
 *
 * Each host registry holds a group directory (registry.h): name ->
 * incarnation, sequencer, member list. A domain on one host uses its
 * registry's directly. A domain that spans hosts (the PMIx boot) must have
 * one directory, or each host would create its own group of a name: it is
 * the registry of the *coordinator node*, the lowest node id with a live
 * process, which every process computes from the peers it sees UP. Other
 * nodes reach it through the boot query service (remote.c; every process
 * answers, CPG user or not):
 *
 *   - open (a join): DIR_OPEN to a process of the coordinator node, which
 *     runs ucpg_registry_group_open there and answers;
 *   - publish (every view a sequencer orders): one-way DIR_PUBLISH; the
 *     progress thread that orders views cannot wait for answers that arrive
 *     through itself. A lost one is repaired by the next view;
 *   - list (membership queries, iteration): DIR_LIST, answered with records.
 *
 * When the coordinator changes (its last process went down, or a node with
 * a lower id arrived), every sequencer publishes its groups' views to the
 * new one (the group layer watches ucpg_boot_dir_coordinator), and a node
 * that stopped being the coordinator empties its registry's directory, so
 * nothing stale outlives it there. For a grace period after any change in
 * the set of nodes (2 x keepalive_ms: the time for every sequencer to
 * notice) the coordinator refuses to *create* groups (UCPG_ERR_BUSY:
 * joiners retry), so a group whose sequencer has not re-registered yet is
 * not created twice. Lookups of existing groups are served at once.
 *
 * Liveness of members of other nodes, which have no slot in the
 * coordinator's registry, is the answering process's view of them: UP or
 * CONNECTING peers with that incarnation (ucpg_registry_set_oracle).
 *
 * Network partitions are out of scope: both sides would go on with their
 * own coordinator, and after the network heals the groups of one name stay
 * apart (a publish that meets another incarnation of its name is logged).
 */
#ifndef UCPG_BOOT_DIRECTORY_H
#define UCPG_BOOT_DIRECTORY_H

#include "core/domain.h"
#include "registry.h"

/* Started and stopped with the query service (ucpg_boot_remote_start). */
ucpg_status_t ucpg_boot_dir_start(ucpg_domain_t *d, ucpg_registry_t *reg);
void          ucpg_boot_dir_stop(void);

/* The coordinator node: the lowest node id among ours and the UP peers'. */
uint32_t ucpg_boot_dir_coordinator(ucpg_domain_t *d);

/* The node ids with a live process (ours and UP peers'), ascending, into
 * nodes (capacity max); returns how many there are. *epoch_p (may be NULL)
 * counts the changes of that set since the domain started, from 1. */
size_t ucpg_boot_dir_nodes(ucpg_domain_t *d, uint32_t *nodes, size_t max, uint64_t *epoch_p);

/* Does node have a live process (an UP peer, or ourselves)? */
int ucpg_boot_dir_node_up(ucpg_domain_t *d, uint32_t node);

/*
 * ucpg_registry_group_open at the coordinator. UCPG_ERR_BUSY: ask again
 * later (the coordinator is in its grace period, is changing, or did not
 * answer within connect_timeout_ms); the caller's own deadline bounds the
 * retries. Any thread but the progress thread.
 */
ucpg_status_t ucpg_boot_dir_open(ucpg_domain_t *d, const void *name, size_t name_len,
                                 const ucpg_registry_gmember_t *creator,
                                 ucpg_registry_group_t *group_p, int *created_p);

/* ucpg_registry_group_supersede, when this node is the coordinator;
 * UCPG_ERR_UNSUPPORTED otherwise. Any thread but the progress thread. */
ucpg_status_t ucpg_boot_dir_supersede(ucpg_domain_t *d, const void *name, size_t name_len,
                                      uint64_t old_gen, const ucpg_registry_gmember_t *creator,
                                      ucpg_registry_group_t *group_p);

/* ucpg_registry_group_publish at the coordinator, without waiting. Any
 * thread, the progress thread included. */
void ucpg_boot_dir_publish(ucpg_domain_t *d, const void *name, size_t name_len, uint64_t gen,
                           uint64_t view_id, const ucpg_registry_gmember_t *members,
                           uint32_t nmembers);

/* ucpg_registry_group_foreach at the coordinator (name NULL: every group).
 * UCPG_ERR_BUSY if no process of the coordinator node answered. Any thread
 * but the progress thread. */
ucpg_status_t ucpg_boot_dir_foreach(ucpg_domain_t *d, const void *name, size_t name_len,
                                    ucpg_registry_group_cb_t cb, void *arg);

/* The query service hands directory messages here (progress thread). */
void ucpg_boot_dir_serve(ucpg_domain_t *d, ucpg_peer_id_t src, uint8_t type, uint64_t req_id,
                         const void *body, size_t len);

#endif
