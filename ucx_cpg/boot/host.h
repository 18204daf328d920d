/*
 * host.h - joining the host registry: what every boot method does on its own
 * host (boot/local.c alone, boot/pmix.c for the processes of its host).
 *
 * ucpg_boot_host_join() opens the registry of the domain, records this
 * process in a slot (any free one, or the one asked for) and returns the
 * other live processes; the caller starts the domain with the slot as its
 * peer id and then ucpg_boot_host_connect()s to them. Because the registry
 * is locked while a process takes its slot, of two processes of one host
 * exactly one finds the other, so exactly one says HELLO.
 */
#ifndef UCPG_BOOT_HOST_H
#define UCPG_BOOT_HOST_H

#include "core/domain.h"
#include "registry.h"

typedef struct ucpg_boot_host {
    ucpg_registry_t *registry;   /* NULL until joined */
    uint32_t         slot;
    uint64_t         uuid;
    int              joined;
} ucpg_boot_host_t;

/* want < 0: any free slot. On success *peers_p (free() it) holds *npeers_p
 * entries. */
ucpg_status_t ucpg_boot_host_join(ucpg_boot_host_t *host, ucpg_domain_t *d,
                                  const ucpg_config_t *config, unsigned nslots, int want,
                                  ucpg_registry_entry_t **peers_p, unsigned *npeers_p);
/* Connects to registry peers; one that cannot be reached is logged and skipped. */
void          ucpg_boot_host_connect(ucpg_domain_t *d, const ucpg_registry_entry_t *peers,
                                     unsigned npeers);
/* Frees our slot (no newcomer finds us any more). */
void          ucpg_boot_host_leave(ucpg_boot_host_t *host);
/* A peer died without BYE: free its slot (checked to be dead first). */
void          ucpg_boot_host_reclaim(ucpg_boot_host_t *host, ucpg_peer_id_t id, uint64_t uuid);
/* Whether peer id (a slot of this host) is still that process, in the domain. */
int           ucpg_boot_host_holds(ucpg_boot_host_t *host, ucpg_peer_id_t id, uint64_t uuid);
void          ucpg_boot_host_close(ucpg_boot_host_t *host);

#endif
