/*
 * cpg.c - the corosync CPG API (<corosync/cpg.h>) on the group engine.
 *
 * Semantics follow corosync 3.1 (docs/cpg.md lists every difference). Where
 * corosync is wrong we are right: sending while not joined is
 * CS_ERR_NOT_EXIST, not a silent drop; leaving and joining again works;
 * cpg_leave with a name other than the joined group is CS_ERR_NOT_EXIST;
 * any iovec count is accepted; cpg_membership_get honours the caller's array
 * size; cpg_finalize wakes a thread blocked in cpg_dispatch.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpg_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/proc.h"
#include "group/hostgroups.h"

static const ucpg_group_callbacks_t ucpg_cpg_group_callbacks = {ucpg_cpg_queue_event};

static int ucpg_cpg_name_bad(const struct cpg_name *name)
{
    return name->length > CPG_MAX_NAME_LENGTH;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_model_initialize(cpg_handle_t *handle, cpg_model_t model,
                                                     cpg_model_data_t *model_data, void *context)
{
    const cpg_model_v1_data_t *v1 = (const cpg_model_v1_data_t*)model_data;
    ucpg_cpg_handle_t *h;
    cs_error_t err;

    if ((handle == NULL) || (model != CPG_MODEL_V1)) {
        return CS_ERR_INVALID_PARAM;
    }
    if ((v1 != NULL) && ((v1->model != CPG_MODEL_V1) ||
                         ((v1->flags & ~(unsigned)CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF) != 0))) {
        return CS_ERR_INVALID_PARAM;        /* checked before anything is allocated */
    }
    if (ucpg_cpg_relay_wanted()) {
        cpg_model_v1_data_t m;            /* a forked process: UCX cannot run here */

        memset(&m, 0, sizeof(m));
        m.model = CPG_MODEL_V1;
        return ucpg_cpg_relay_initialize(handle, (v1 != NULL) ? v1 : &m, context);
    }
    /* Like corosync's connection to its daemon: the domain lives as long as
     * the handle. CS_ERR_LIBRARY if it cannot be had (as with no daemon). */
    err = ucpg_cpg_error(ucpg_group_use());
    if (err != CS_OK) {
        return (err == CS_ERR_NO_MEMORY) ? err : CS_ERR_LIBRARY;
    }
    err = ucpg_cpg_handle_create(&h);
    if (err != CS_OK) {
        ucpg_group_unuse();
        return err;
    }
    if (ucpg_group_host_enabled() && ((err = ucpg_cpg_host_init(h)) != CS_OK)) {
        ucpg_cpg_handle_retire(h->id, &h);
        ucpg_cpg_handle_put(h);
        ucpg_group_unuse();
        return err;
    }
    ucpg_group_nodes_hook(ucpg_cpg_nodes_changed, NULL);   /* totem confchgs */
    h->model.model = CPG_MODEL_V1;
    if (v1 != NULL) {
        h->model = *v1;
    }
    h->context = context;
    *handle    = h->id;
    return CS_OK;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_initialize(cpg_handle_t *handle, cpg_callbacks_t *callbacks)
{
    cpg_model_v1_data_t v1;

    memset(&v1, 0, sizeof(v1));
    v1.model = CPG_MODEL_V1;
    if (callbacks != NULL) {
        v1.cpg_deliver_fn = callbacks->cpg_deliver_fn;
        v1.cpg_confchg_fn = callbacks->cpg_confchg_fn;
    }
    return cpg_model_initialize(handle, CPG_MODEL_V1, (cpg_model_data_t*)&v1, NULL);
}

UCX_CPG_COROSYNC_API cs_error_t cpg_finalize(cpg_handle_t handle)
{
    ucpg_cpg_handle_t *h;
    ucpg_group_t *group;
    int h_owner_is_self;
    cs_error_t err;

    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_finalize(handle);
    }
    err = ucpg_cpg_handle_retire(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    h_owner_is_self = (h->owner_pid == ucpg_proc_self());
    ucpg_cpg_iteration_drop_all(handle);
    pthread_mutex_lock(&h->lock);
    group    = h->group;
    h->group = NULL;
    pthread_mutex_unlock(&h->lock);
    if ((group != NULL) && h_owner_is_self) {
        ucpg_group_destroy(group);          /* still joined: the others see PROCDOWN */
    }
    ucpg_cpg_wake(h);                       /* a blocked cpg_dispatch returns */
    ucpg_cpg_queue_clear(h);                /* events go back before the engine does */
    ucpg_cpg_handle_put(h);
    if (h_owner_is_self) {
        ucpg_group_unuse();
    }
    return CS_OK;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_context_get(cpg_handle_t handle, void **context)
{
    ucpg_cpg_handle_t *h;
    cs_error_t err;

    if (context == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_context(handle, context, NULL);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err == CS_OK) {
        pthread_mutex_lock(&h->lock);
        *context = h->context;
        pthread_mutex_unlock(&h->lock);
        ucpg_cpg_handle_put(h);
    }
    return err;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_context_set(cpg_handle_t handle, void *context)
{
    ucpg_cpg_handle_t *h;
    cs_error_t err;

    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_context(handle, NULL, context);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err == CS_OK) {
        pthread_mutex_lock(&h->lock);
        h->context = context;
        pthread_mutex_unlock(&h->lock);
        ucpg_cpg_handle_put(h);
    }
    return err;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_max_atomic_msgsize_get(cpg_handle_t handle, uint32_t *size)
{
    ucpg_cpg_handle_t *h;
    cs_error_t err;
    size_t max;

    if (size == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_max_msg(handle, size);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err == CS_OK) {
        max   = h->host ? ucpg_group_host_max_msg() : ucpg_group_max_msg();
        *size = (max > UINT32_MAX) ? UINT32_MAX : (uint32_t)max;
        ucpg_cpg_handle_put(h);
    }
    return err;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_local_get(cpg_handle_t handle, unsigned int *local_nodeid)
{
    ucpg_cpg_handle_t *h;
    uint32_t nodeid = 0;
    cs_error_t err;

    if (local_nodeid == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_local_get(handle, local_nodeid);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err == CS_OK) {
        err = ucpg_cpg_error(ucpg_group_local_nodeid(&nodeid));
        if (err == CS_OK) {
            *local_nodeid = nodeid;
        }
        ucpg_cpg_handle_put(h);
    }
    return err;
}

/* A previous group of this handle that is leaving must be gone first;
 * *old_p is then to be destroyed (after the new join, so that the domain
 * stays up in between). */
static cs_error_t ucpg_cpg_join_prepare(ucpg_cpg_handle_t *h, ucpg_group_t **old_p)
{
    ucpg_group_t *old;

    pthread_mutex_lock(&h->lock);
    old = h->group;
    pthread_mutex_unlock(&h->lock);
    *old_p = NULL;
    if (old == NULL) {
        return CS_OK;
    }
    if (ucpg_group_wait_gone(old, 10000) != UCPG_OK) {
        return CS_ERR_TRY_AGAIN;
    }
    pthread_mutex_lock(&h->lock);
    if (h->group != old) {
        pthread_mutex_unlock(&h->lock);
        return CS_ERR_EXIST;                 /* another thread joined meanwhile */
    }
    h->group   = NULL;
    h->joined  = 0;
    h->leaving = 0;
    pthread_mutex_unlock(&h->lock);
    *old_p = old;
    return CS_OK;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_join(cpg_handle_t handle, const struct cpg_name *group)
{
    ucpg_group_t *g = NULL, *old = NULL;
    ucpg_cpg_handle_t *h;
    cs_error_t err;

    if (group == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (ucpg_cpg_name_bad(group)) {
        return CS_ERR_NAME_TOO_LONG;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_join(handle, group);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    if (h->host) {
        err = ucpg_cpg_host_join(h, group);
        ucpg_cpg_handle_put(h);
        return err;
    }
    pthread_mutex_lock(&h->lock);
    /* one group per handle, as corosync; after cpg_leave, joining again
     * waits for the leave to be ordered (corosync: EXIST, or a hang) */
    err = (h->joined && !h->leaving) ? CS_ERR_EXIST : CS_OK;
    pthread_mutex_unlock(&h->lock);
    if (err == CS_OK) {
        err = ucpg_cpg_join_prepare(h, &old);
    }
    if (err == CS_OK) {
        pthread_mutex_lock(&h->lock);
        h->group_name    = *group;
        h->joined        = 1;
        h->totem_initial = (h->model.flags & CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF) != 0;
        pthread_mutex_unlock(&h->lock);
        err = ucpg_cpg_error(ucpg_group_join(group->value, group->length,
                                             &ucpg_cpg_group_callbacks, h, &g));
        pthread_mutex_lock(&h->lock);
        h->group  = g;
        h->joined = (err == CS_OK);
        pthread_mutex_unlock(&h->lock);
    }
    if (old != NULL) {
        ucpg_group_destroy(old);
    }
    ucpg_cpg_handle_put(h);
    return err;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_leave(cpg_handle_t handle, const struct cpg_name *group)
{
    ucpg_cpg_handle_t *h;
    ucpg_group_t *g;
    cs_error_t err;

    if (group == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (ucpg_cpg_name_bad(group)) {
        return CS_ERR_NAME_TOO_LONG;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_leave(handle, group);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    if (h->host) {
        err = ucpg_cpg_host_leave(h, group);
        ucpg_cpg_handle_put(h);
        return err;
    }
    pthread_mutex_lock(&h->lock);
    g = h->group;
    if (!h->joined || h->leaving || (g == NULL) || (group->length != h->group_name.length) ||
        (memcmp(group->value, h->group_name.value, group->length) != 0)) {
        err = CS_ERR_NOT_EXIST;
    }
    pthread_mutex_unlock(&h->lock);
    if (err == CS_OK) {
        err = ucpg_cpg_error(ucpg_group_leave(g));
    }
    if (err == CS_OK) {
        pthread_mutex_lock(&h->lock);
        h->leaving = 1;
        pthread_mutex_unlock(&h->lock);
    }
    ucpg_cpg_handle_put(h);
    return err;
}

/* The joined group of h, or NULL (CS_ERR_NOT_EXIST). */
static ucpg_group_t *ucpg_cpg_joined_group(ucpg_cpg_handle_t *h)
{
    ucpg_group_t *g;

    pthread_mutex_lock(&h->lock);
    g = (h->joined && !h->leaving) ? h->group : NULL;
    pthread_mutex_unlock(&h->lock);
    return g;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
                                                 const struct iovec *iovec, unsigned int iov_len)
{
    ucpg_cpg_handle_t *h;
    ucpg_group_t *g;
    cs_error_t err;

    if ((iovec == NULL) && (iov_len > 0)) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_mcast(handle, guarantee, iovec, iov_len);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    if (h->host) {
        err = ucpg_cpg_host_mcast(h, (int)guarantee, iovec, iov_len);
        ucpg_cpg_handle_put(h);
        return err;
    }
    g   = ucpg_cpg_joined_group(h);
    err = (g == NULL) ? CS_ERR_NOT_EXIST :
          ucpg_cpg_error(ucpg_group_mcast(g, (int)guarantee, iovec, iov_len));
    ucpg_cpg_handle_put(h);
    return err;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_flow_control_state_get(
    cpg_handle_t handle, cpg_flow_control_state_t *flow_control_enabled)
{
    ucpg_cpg_handle_t *h;
    ucpg_group_t *g;
    cs_error_t err;

    if (flow_control_enabled == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_flow(handle, flow_control_enabled);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err == CS_OK) {
        g = ucpg_cpg_joined_group(h);
        *flow_control_enabled = (h->host ? __atomic_load_n(&h->host_full, __ATOMIC_RELAXED) :
                                 ((g != NULL) && ucpg_group_flow_control(g))) ?
                                CPG_FLOW_CONTROL_ENABLED : CPG_FLOW_CONTROL_DISABLED;
        ucpg_cpg_handle_put(h);
    }
    return err;
}

/* --- membership_get ------------------------------------------------------------------ */

typedef struct ucpg_cpg_members_ctx {
    struct cpg_address *list;
    size_t              max;
    size_t              count;
} ucpg_cpg_members_ctx_t;

static void ucpg_cpg_members_one(void *arg, const uint8_t *name, size_t name_len,
                                 const ucpg_group_addr_t *members, size_t nmembers)
{
    ucpg_cpg_members_ctx_t *ctx = arg;
    size_t i;

    (void)name;
    (void)name_len;
    for (i = 0; i < nmembers; ++i, ++ctx->count) {
        if (ctx->count < ctx->max) {
            ctx->list[ctx->count].nodeid = members[i].nodeid;
            ctx->list[ctx->count].pid    = members[i].pid;
            ctx->list[ctx->count].reason = 0;
        }
    }
}

UCX_CPG_COROSYNC_API cs_error_t cpg_membership_get(cpg_handle_t handle, struct cpg_name *groupName,
                                                   struct cpg_address *member_list,
                                                   int *member_list_entries)
{
    ucpg_cpg_members_ctx_t ctx;
    ucpg_cpg_handle_t *h;
    cs_error_t err;

    if ((groupName == NULL) || (member_list == NULL) || (member_list_entries == NULL)) {
        return CS_ERR_INVALID_PARAM;
    }
    if (ucpg_cpg_name_bad(groupName)) {
        return CS_ERR_NAME_TOO_LONG;
    }
    /* corosync ignores the value and its callers (its own testcpg among them)
     * often leave it unset: what cannot be a capacity means corosync's own
     * bound, so that an unmodified program does not fail at random. */
    if (*member_list_entries <= 0) {
        *member_list_entries = CPG_MEMBERS_MAX;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_membership(handle, groupName, member_list, member_list_entries);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    if (h->host && ucpg_cpg_host_members(h, groupName, member_list, member_list_entries, &err)) {
        ucpg_cpg_handle_put(h);          /* our group: its last view dispatched */
        return err;
    }
    ctx.list  = member_list;
    ctx.max   = (size_t)*member_list_entries;
    ctx.count = 0;
    err = ucpg_cpg_error(ucpg_group_list(groupName->value, groupName->length,
                                         ucpg_cpg_members_one, &ctx));
    if (err == CS_OK) {
        /* More members than room: the first ones, and how many there are. */
        err = (ctx.count > ctx.max) ? CS_ERR_NO_SPACE : CS_OK;
        *member_list_entries = (int)ctx.count;
    }
    ucpg_cpg_handle_put(h);
    return err;
}
