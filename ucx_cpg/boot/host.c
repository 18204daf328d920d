/*
 * host.c - joining the host registry, shared by the boot methods (host.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "host.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"

static ucpg_status_t ucpg_boot_host_self(ucpg_domain_t *d, const ucpg_config_t *config,
                                         ucpg_registry_entry_t *self)
{
    const void *addr;
    size_t addr_len;

    ucpg_domain_address(d, &addr, &addr_len);
    if (addr_len > UCPG_REGISTRY_ADDR_MAX) {
        ucpg_error("UCP worker address (%zu bytes) does not fit the registry (%u)",
                   addr_len, UCPG_REGISTRY_ADDR_MAX);
        return UCPG_ERR_UNSUPPORTED;
    }
    self->pid       = ucpg_proc_identity();
    self->starttime = ucpg_proc_starttime(self->pid);
    self->uuid      = ucpg_domain_uuid(d);
    self->nodeid    = config->nodeid;
    self->addr_len  = (uint32_t)addr_len;
    memcpy(self->addr, addr, addr_len);
    return UCPG_OK;
}

ucpg_status_t ucpg_boot_host_join(ucpg_boot_host_t *host, ucpg_domain_t *d,
                                  const ucpg_config_t *config, unsigned nslots, int want,
                                  ucpg_registry_entry_t **peers_p, unsigned *npeers_p)
{
    ucpg_registry_entry_t *self, *peers = NULL;
    ucpg_status_t status;

    status = ucpg_registry_open(config->registry_dir, config->domain, nslots, &host->registry);
    if (status != UCPG_OK) {
        return status;
    }
    self = calloc(1, sizeof(*self));
    if (self != NULL) {
        peers = calloc(ucpg_registry_nslots(host->registry), sizeof(*peers));
    }
    if ((self == NULL) || (peers == NULL)) {
        status = UCPG_ERR_NO_MEMORY;
        goto out;
    }
    status = ucpg_boot_host_self(d, config, self);
    if (status != UCPG_OK) {
        goto out;
    }
    status = (want < 0) ? ucpg_registry_join(host->registry, self, peers, npeers_p)
                        : ucpg_registry_join_at(host->registry, (uint32_t)want, self, peers,
                                                npeers_p);
    if (status == UCPG_OK) {
        host->slot   = self->slot;
        host->uuid   = self->uuid;
        host->joined = 1;
        *peers_p     = peers;
        peers        = NULL;
    }
out:
    free(self);
    free(peers);
    return status;
}

void ucpg_boot_host_connect(ucpg_domain_t *d, const ucpg_registry_entry_t *peers,
                            unsigned npeers)
{
    ucpg_peer_desc_t desc;
    unsigned i;

    for (i = 0; i < npeers; ++i) {
        desc.id          = peers[i].slot;
        desc.uuid        = peers[i].uuid;
        desc.nodeid      = peers[i].nodeid;
        desc.pid         = peers[i].pid;
        desc.starttime   = peers[i].starttime;
        desc.address     = peers[i].addr;
        desc.address_len = peers[i].addr_len;
        desc.same_host   = 1;
        if (ucpg_domain_connect(d, &desc) != UCPG_OK) {
            ucpg_warn("cannot reach pid %d of the domain; continuing without it",
                      (int)peers[i].pid);
        }
    }
}

void ucpg_boot_host_leave(ucpg_boot_host_t *host)
{
    if (host->joined) {
        ucpg_registry_leave(host->registry, host->slot, host->uuid);
        host->joined = 0;
    }
}

void ucpg_boot_host_reclaim(ucpg_boot_host_t *host, ucpg_peer_id_t id, uint64_t uuid)
{
    ucpg_registry_reclaim(host->registry, id, uuid);
}

int ucpg_boot_host_holds(ucpg_boot_host_t *host, ucpg_peer_id_t id, uint64_t uuid)
{
    return ucpg_registry_holds(host->registry, id, uuid);
}

void ucpg_boot_host_close(ucpg_boot_host_t *host)
{
    ucpg_boot_host_leave(host);
    ucpg_registry_close(host->registry);
    host->registry = NULL;
}
