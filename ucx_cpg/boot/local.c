/*
 * local.c - the embedded boot method: every process of one user on this host
 * that uses the same domain name meets in the registry (registry.h). No
 * daemon and no launcher: processes arrive and leave at any time.
 */
#include "boot.h"

#include <stdlib.h>

#include "core/log.h"
#include "host.h"
#include "remote.h"

/* A peer died without BYE: free its slot so the registry never fills up
 * with the dead (the registry re-checks that the process is really gone). */
static void ucpg_boot_local_peer_gone(void *arg, ucpg_peer_id_t id, uint64_t uuid)
{
    ucpg_boot_host_reclaim(arg, id, uuid);
}

static int ucpg_boot_local_registered(void *arg, ucpg_peer_id_t id, uint64_t uuid)
{
    return ucpg_boot_host_holds(arg, id, uuid);
}

static const ucpg_boot_ops_t ucpg_boot_local_ops = {
    .peer_gone  = ucpg_boot_local_peer_gone,
    .registered = ucpg_boot_local_registered
};

static ucpg_status_t ucpg_boot_local_init(ucpg_config_t *config, void **ctx_p)
{
    (void)config;
    *ctx_p = calloc(1, sizeof(ucpg_boot_host_t));
    return (*ctx_p == NULL) ? UCPG_ERR_NO_MEMORY : UCPG_OK;
}

static ucpg_status_t ucpg_boot_local_join(void *arg, ucpg_domain_t *d,
                                          const ucpg_config_t *config)
{
    ucpg_boot_host_t *host = arg;
    ucpg_registry_entry_t *peers;
    ucpg_status_t status;
    unsigned npeers = 0;

    status = ucpg_boot_host_join(host, d, config, config->max_procs, -1, &peers, &npeers);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_domain_start(d, host->slot, ucpg_registry_nslots(host->registry),
                               ucpg_registry_secret(host->registry), &ucpg_boot_local_ops,
                               host);
    if (status == UCPG_OK) {
        /* before anyone hears of us: an UP peer always answers queries */
        status = ucpg_boot_remote_start(d, host->registry);
    }
    if (status == UCPG_OK) {
        ucpg_info("joined domain '%s' as peer %u (node %u), %u other process(es) found",
                  config->domain, host->slot, config->nodeid, npeers);
        ucpg_boot_host_connect(d, peers, npeers);
    }
    free(peers);
    return status;
}

static void ucpg_boot_local_leave(void *arg)
{
    ucpg_boot_host_leave(arg);
}

static void ucpg_boot_local_cleanup(void *arg)
{
    ucpg_boot_host_close(arg);
    free(arg);
}

static struct ucpg_registry *ucpg_boot_local_registry(void *arg)
{
    return ((ucpg_boot_host_t*)arg)->registry;
}

const ucpg_boot_method_t ucpg_boot_local = {
    .name     = "local",
    .init     = ucpg_boot_local_init,
    .join     = ucpg_boot_local_join,
    .leave    = ucpg_boot_local_leave,
    .cleanup  = ucpg_boot_local_cleanup,
    .registry = ucpg_boot_local_registry
};
