/*
 * zcb.c - zero-copy send buffers (cpg_zcb_*).
 *
 * A buffer comes from the group layer, so cpg_zcb_mcast_joined sends it in
 * place: the transport reads the application's memory directly (UCX
 * registers it on first use and caches the registration), and no copy is
 * made on the sending side. The call returns once the library no longer
 * reads the buffer, so it can be refilled at once, as with corosync.
 * Buffers not freed are freed by cpg_finalize.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpg_int.h"

#include <stdlib.h>

UCX_CPG_COROSYNC_API cs_error_t cpg_zcb_alloc(cpg_handle_t handle, size_t size, void **buffer)
{
    ucpg_cpg_handle_t *h;
    ucpg_cpg_zcb_t *z;
    cs_error_t err;

    if (buffer == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_zcb_alloc(handle, size, buffer);
    }
    if (size > ucpg_group_max_msg()) {
        return CS_ERR_TOO_BIG;
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    z = calloc(1, sizeof(*z));
    if ((z == NULL) || ((z->user = ucpg_group_zbuf_alloc(size)) == NULL)) {
        free(z);
        ucpg_cpg_handle_put(h);
        return CS_ERR_NO_MEMORY;
    }
    z->size = size;
    pthread_mutex_lock(&h->lock);
    z->next = h->zcbs;
    h->zcbs = z;
    pthread_mutex_unlock(&h->lock);
    *buffer = z->user;
    ucpg_cpg_handle_put(h);
    return CS_OK;
}

/* Unlinks the record of buffer from h; NULL if h did not allocate it. */
static ucpg_cpg_zcb_t *ucpg_cpg_zcb_take(ucpg_cpg_handle_t *h, void *buffer)
{
    ucpg_cpg_zcb_t **pp, *z = NULL;

    pthread_mutex_lock(&h->lock);
    for (pp = &h->zcbs; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->user == buffer) {
            z   = *pp;
            *pp = z->next;
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return z;
}

static int ucpg_cpg_zcb_owned(ucpg_cpg_handle_t *h, void *buffer, size_t len)
{
    const ucpg_cpg_zcb_t *z;
    int ok = 0;

    pthread_mutex_lock(&h->lock);
    for (z = h->zcbs; (z != NULL) && !ok; z = z->next) {
        ok = (z->user == buffer) && (len <= z->size);
    }
    pthread_mutex_unlock(&h->lock);
    return ok;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_zcb_free(cpg_handle_t handle, void *buffer)
{
    ucpg_cpg_handle_t *h;
    ucpg_cpg_zcb_t *z;
    cs_error_t err;

    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_zcb_free(handle, buffer);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    z = (buffer != NULL) ? ucpg_cpg_zcb_take(h, buffer) : NULL;
    if (z == NULL) {
        err = CS_ERR_INVALID_PARAM;
    } else {
        ucpg_group_zbuf_free(z->user);
        free(z);
    }
    ucpg_cpg_handle_put(h);
    return err;
}

/* A send still reading the buffer after group_join_timeout_ms is queued and
 * will be delivered: CS_ERR_TRY_AGAIN would invite a retry, and with it a
 * duplicate, so it is CS_ERR_TIMEOUT (the buffer stays in use meanwhile:
 * CS_ERR_BUSY). */
static cs_error_t ucpg_cpg_zcb_error(ucpg_status_t status)
{
    return (status == UCPG_ERR_TIMEOUT) ? CS_ERR_TIMEOUT : ucpg_cpg_error(status);
}

UCX_CPG_COROSYNC_API cs_error_t cpg_zcb_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
                                                     void *msg, size_t msg_len)
{
    ucpg_cpg_handle_t *h;
    ucpg_group_t *g;
    cs_error_t err;

    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_zcb_mcast(handle, guarantee, msg, msg_len);
    }
    if (msg_len > ucpg_group_max_msg()) {
        return CS_ERR_TOO_BIG;
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    pthread_mutex_lock(&h->lock);
    g = (h->joined && !h->leaving) ? h->group : NULL;
    pthread_mutex_unlock(&h->lock);
    if ((msg == NULL) || !ucpg_cpg_zcb_owned(h, msg, msg_len)) {
        err = CS_ERR_INVALID_PARAM;
    } else if (h->host) {
        struct iovec iov = {msg, msg_len};

        err = ucpg_cpg_host_mcast(h, (int)guarantee, &iov, 1);
    } else if (g == NULL) {
        err = CS_ERR_NOT_EXIST;
    } else {
        err = ucpg_cpg_zcb_error(ucpg_group_mcast_zbuf(g, (int)guarantee, msg, msg_len));
    }
    ucpg_cpg_handle_put(h);
    return err;
}

void ucpg_cpg_zcb_free_all(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_zcb_t *z;

    while ((z = h->zcbs) != NULL) {
        h->zcbs = z->next;
        ucpg_group_zbuf_free(z->user);
        free(z);
    }
}
