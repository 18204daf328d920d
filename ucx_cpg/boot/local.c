/*
 * local.c - the embedded boot method: every process of one user on this host
 * that uses the same domain name meets in the registry (registry.h). No
 * daemon and no launcher: processes arrive and leave at any time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "boot.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"
#include "registry.h"

typedef struct ucpg_boot_local {
    ucpg_registry_t *registry;
    uint32_t         slot;
    uint64_t         uuid;
} ucpg_boot_local_t;

/* A peer died without BYE: free its slot so the registry never fills up
 * with the dead (the registry re-checks that the process is really gone). */
static void ucpg_boot_local_peer_gone(void *arg, ucpg_peer_id_t id, uint64_t uuid)
{
    ucpg_boot_local_t *ctx = arg;

    ucpg_registry_reclaim(ctx->registry, id, uuid);
}

static const ucpg_boot_ops_t ucpg_boot_local_ops = {
    .peer_gone = ucpg_boot_local_peer_gone
};

static void ucpg_boot_local_connect_all(ucpg_domain_t *d, const ucpg_registry_entry_t *peers,
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

static ucpg_status_t ucpg_boot_local_join(ucpg_domain_t *d, const ucpg_config_t *config,
                                          void **ctx_p)
{
    ucpg_registry_entry_t *self = NULL, *peers = NULL;
    ucpg_boot_local_t *ctx;
    ucpg_status_t status;
    const void *addr;
    unsigned npeers = 0;
    size_t addr_len;

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    status = ucpg_registry_open(config->registry_dir, config->domain, config->max_procs,
                                &ctx->registry);
    if (status != UCPG_OK) {
        goto err;
    }
    ucpg_domain_address(d, &addr, &addr_len);
    self  = calloc(1, sizeof(*self));
    peers = calloc(ucpg_registry_nslots(ctx->registry), sizeof(*peers));
    if ((self == NULL) || (peers == NULL)) {
        status = UCPG_ERR_NO_MEMORY;
        goto err;
    }
    if (addr_len > UCPG_REGISTRY_ADDR_MAX) {
        ucpg_error("UCP worker address (%zu bytes) does not fit the registry (%u)",
                   addr_len, UCPG_REGISTRY_ADDR_MAX);
        status = UCPG_ERR_UNSUPPORTED;
        goto err;
    }
    self->pid       = getpid();
    self->starttime = ucpg_proc_starttime(self->pid);
    self->uuid      = ucpg_domain_uuid(d);
    self->nodeid    = config->nodeid;
    self->addr_len  = (uint32_t)addr_len;
    memcpy(self->addr, addr, addr_len);
    status = ucpg_registry_join(ctx->registry, self, peers, &npeers);
    if (status != UCPG_OK) {
        goto err;
    }
    ctx->slot = self->slot;
    ctx->uuid = self->uuid;
    status = ucpg_domain_start(d, self->slot, ucpg_registry_nslots(ctx->registry),
                               ucpg_registry_secret(ctx->registry), &ucpg_boot_local_ops,
                               ctx);
    if (status != UCPG_OK) {
        ucpg_registry_leave(ctx->registry, ctx->slot, ctx->uuid);
        goto err;
    }
    ucpg_info("joined domain '%s' as peer %u (node %u), %u other process(es) found",
              config->domain, ctx->slot, config->nodeid, npeers);
    ucpg_boot_local_connect_all(d, peers, npeers);
    free(self);
    free(peers);
    *ctx_p = ctx;
    return UCPG_OK;

err:
    free(self);
    free(peers);
    ucpg_registry_close(ctx->registry);
    free(ctx);
    return status;
}

static void ucpg_boot_local_leave(void *arg)
{
    ucpg_boot_local_t *ctx = arg;

    ucpg_registry_leave(ctx->registry, ctx->slot, ctx->uuid);
}

static void ucpg_boot_local_cleanup(void *arg)
{
    ucpg_boot_local_t *ctx = arg;

    ucpg_registry_close(ctx->registry);
    free(ctx);
}

static struct ucpg_registry *ucpg_boot_local_registry(void *arg)
{
    return ((ucpg_boot_local_t*)arg)->registry;
}

const ucpg_boot_method_t ucpg_boot_local = {
    .name     = "local",
    .join     = ucpg_boot_local_join,
    .leave    = ucpg_boot_local_leave,
    .cleanup  = ucpg_boot_local_cleanup,
    .registry = ucpg_boot_local_registry
};
