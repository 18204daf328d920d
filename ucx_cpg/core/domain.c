/*
 * domain.c - lifecycle of a domain: UCP context and worker, start, stop,
 * destroy, and the simple queries. Peers live in peer.c, the progress thread
 * in progress.c, active messages in am.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "domain_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ucs/config/global_opts.h>

#include "buf.h"
#include "log.h"
#include "mcache.h"
#include "mutex.h"
#include "proc.h"

/*
 * Peer failure must be detectable on every transport: endpoints use
 * UCP_ERR_HANDLING_MODE_PEER, and the shared-memory transports only qualify
 * for that mode when their error handling is switched on (otherwise UCX
 * falls back to tcp on loopback). The keepalive interval bounds how long a
 * dead peer that no pidfd watches goes unnoticed. UCX 1.13 reads the
 * transport options only from the environment (ucp_config_modify cannot set
 * them), so they are set there, before UCX reads it, and only if the user did
 * not set them. UCX would also warn about our own UCX_CPG_* variables as
 * "unused UCX_ variables"; unless the user asked for that warning, it is
 * switched off in UCX's global options (parsed when libucs was loaded).
 */
static void ucpg_domain_tune_ucx(const ucpg_config_t *config)
{
    char value[32];

    snprintf(value, sizeof(value), "%ums", config->keepalive_ms);
    setenv("UCX_KEEPALIVE_INTERVAL", value, 0);
    setenv("UCX_POSIX_ERROR_HANDLING", "y", 0);
    setenv("UCX_SYSV_ERROR_HANDLING", "y", 0);
    if (getenv("UCX_WARN_UNUSED_ENV_VARS") == NULL) {
        ucs_global_opts_set_value("WARN_UNUSED_ENV_VARS", "n");
    }
}

static ucpg_status_t ucpg_domain_init_ucp(ucpg_domain_t *d)
{
    ucp_params_t params = {0};
    ucp_worker_params_t wparams = {0};
    ucp_worker_attr_t wattr = {0};
    ucp_config_t *ucfg;
    ucs_status_t status;

    ucpg_domain_tune_ucx(&d->config);
    status = ucp_config_read(NULL, NULL, &ucfg);
    if (status != UCS_OK) {
        ucpg_error("ucp_config_read failed: %s", ucs_status_string(status));
        return UCPG_ERR_TRANSPORT;
    }
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_NAME;
    params.features   = UCP_FEATURE_AM | UCP_FEATURE_RMA | UCP_FEATURE_AMO32 |
                        UCP_FEATURE_AMO64 | UCP_FEATURE_WAKEUP;
    params.name       = "ucx_cpg";
    status = ucp_init(&params, ucfg, &d->context);
    ucp_config_release(ucfg);
    if (status != UCS_OK) {
        ucpg_error("ucp_init failed: %s", ucs_status_string(status));
        return UCPG_ERR_TRANSPORT;
    }
    /* MULTI: the progress thread and application threads share the worker. */
    wparams.field_mask  = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wparams.thread_mode = UCS_THREAD_MODE_MULTI;
    status = ucp_worker_create(d->context, &wparams, &d->worker);
    if (status != UCS_OK) {
        ucpg_error("ucp_worker_create failed: %s", ucs_status_string(status));
        return UCPG_ERR_TRANSPORT;
    }
    wattr.field_mask = UCP_WORKER_ATTR_FIELD_THREAD_MODE;
    if ((ucp_worker_query(d->worker, &wattr) != UCS_OK) ||
        (wattr.thread_mode != UCS_THREAD_MODE_MULTI)) {
        ucpg_error("UCX does not grant UCS_THREAD_MODE_MULTI (built without --enable-mt?)");
        return UCPG_ERR_UNSUPPORTED;
    }
    status = ucp_worker_get_address(d->worker, &d->address, &d->address_len);
    if (status != UCS_OK) {
        ucpg_error("ucp_worker_get_address failed: %s", ucs_status_string(status));
        return UCPG_ERR_TRANSPORT;
    }
    if (d->address_len > UCPG_WIRE_ADDR_MAX) {
        ucpg_error("UCP worker address of %zu bytes exceeds the %u supported; restrict "
                   "UCX_TLS/UCX_NET_DEVICES", d->address_len, UCPG_WIRE_ADDR_MAX);
        return UCPG_ERR_UNSUPPORTED;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_domain_create(const ucpg_config_t *config, ucpg_domain_t **domain_p)
{
    pthread_mutexattr_t attr;
    ucpg_domain_t *d;
    ucpg_status_t status;

    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    d->config    = *config;
    d->owner_pid = ucpg_proc_self();
    d->pid       = ucpg_proc_identity();
    d->starttime = ucpg_proc_starttime(d->pid);
    d->uuid      = ucpg_proc_random64();
    d->self      = UCPG_PEER_ID_NONE;
    d->epfd = d->ucp_efd = d->wakefd = -1;
    pthread_mutex_init(&d->connect_lock, NULL);
    ucpg_mutex_init_adaptive(&d->lock);
    pthread_cond_init(&d->changed, NULL);
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&d->event_lock, &attr);
    pthread_mutex_init(&d->timer_lock, NULL);
    pthread_mutexattr_destroy(&attr);

    status = ucpg_domain_init_ucp(d);
    if (status == UCPG_OK) {
        status = ucpg_am_init(d);
    }
    if (status == UCPG_OK) {
        status = ucpg_progress_init(d);
    }
    if (status == UCPG_OK) {
        ucpg_am_shm_init(d);
    }
    if (status != UCPG_OK) {
        ucpg_domain_destroy(d);
        return status;
    }
    *domain_p = d;
    return UCPG_OK;
}

void ucpg_domain_address(ucpg_domain_t *d, const void **addr_p, size_t *len_p)
{
    *addr_p = d->address;
    *len_p  = d->address_len;
}

uint64_t ucpg_domain_uuid(ucpg_domain_t *d)
{
    return d->uuid;
}

ucpg_status_t ucpg_domain_start(ucpg_domain_t *d, ucpg_peer_id_t self, unsigned npeers,
                                uint64_t secret, const ucpg_boot_ops_t *ops, void *boot_arg)
{
    ucpg_status_t status;

    if ((self >= npeers) || (secret == 0) || (ops == NULL) || (d->peers != NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    d->self     = self;
    d->npeers   = npeers;
    d->secret   = secret;
    d->boot_ops = ops;
    d->boot_arg = boot_arg;
    status = ucpg_peer_table_init(d);
    if (status != UCPG_OK) {
        return status;
    }
    return ucpg_progress_start(d);
}

void ucpg_domain_stop(ucpg_domain_t *d)
{
    int was_stopping;

    if (d->peers == NULL) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    was_stopping = d->stopping;
    d->stopping  = 1;
    pthread_mutex_unlock(&d->lock);
    if (was_stopping) {
        return;                           /* stop once; destroy calls it too */
    }
    if (ucpg_peer_say_bye_all(d, 1000)) {
        ucpg_peer_flush_all(d, 1000);     /* a peer that took no BYE would not read */
    }
    ucpg_peer_drain_calls(d, 1000);       /* other threads may be inside a put */
    ucpg_progress_stop(d);
    ucpg_peer_table_cleanup(d);
}

/* Everything UCX: the domain answers every call with PEER_DOWN after it. */
static void ucpg_domain_close_ucx(ucpg_domain_t *d)
{
    if (d->peers != NULL) {
        ucpg_domain_stop(d);
    }
    ucpg_progress_cleanup(d);
    if (d->address != NULL) {
        ucp_worker_release_address(d->worker, d->address);
        d->address = NULL;
    }
    if (d->worker != NULL) {
        ucp_worker_destroy(d->worker);
        d->worker = NULL;
    }
    if (d->context != NULL) {
        ucp_cleanup(d->context);
        d->context = NULL;
    }
    ucpg_am_shm_cleanup(d);
}

void ucpg_domain_destroy(ucpg_domain_t *d)
{
    if (d == NULL) {
        return;
    }
    ucpg_domain_close_ucx(d);
    free(d->peers);
    pthread_mutex_destroy(&d->event_lock);
    pthread_mutex_destroy(&d->timer_lock);
    pthread_cond_destroy(&d->changed);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->connect_lock);
    free(d);
    ucpg_buf_cache_trim();     /* buffers still referenced come back later */
    ucpg_mcache_trim();
}

/* Kept reachable, so that leak checkers do not count it as lost. */
static ucpg_domain_t *ucpg_domain_abandoned;

void ucpg_domain_abandon(ucpg_domain_t *d)
{
    if (d == NULL) {
        return;
    }
    ucpg_domain_close_ucx(d);
    ucpg_domain_abandoned = d;
}

const ucpg_config_t *ucpg_domain_config(ucpg_domain_t *d) { return &d->config; }
ucpg_peer_id_t       ucpg_domain_self(ucpg_domain_t *d)   { return d->self; }
uint32_t             ucpg_domain_nodeid(ucpg_domain_t *d) { return d->config.nodeid; }
ucp_context_h        ucpg_domain_ucp_context(ucpg_domain_t *d) { return d->context; }
ucp_worker_h         ucpg_domain_ucp_worker(ucpg_domain_t *d)  { return d->worker; }

ucpg_status_t ucpg_domain_check_owner(ucpg_domain_t *d)
{
    return (d->owner_pid == ucpg_proc_self()) ? UCPG_OK : UCPG_ERR_FORKED;
}

ucpg_status_t ucpg_domain_wait_flag(ucpg_domain_t *d, const int *done, unsigned timeout_ms)
{
    if (ucpg_domain_check_owner(d) != UCPG_OK) {
        return UCPG_ERR_FORKED;
    }
    return ucpg_progress_wait_flag(d, done, timeout_ms);
}
