/*
 * iteration.c - cpg_iteration_* over a snapshot of the domain's groups.
 *
 * The snapshot is taken from the group directory when the iteration starts
 * (like corosync's daemon-side snapshot), so iterating is consistent even
 * while groups change. Iteration handles have their own table and die with
 * the CPG handle that created them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/proc.h"

typedef struct ucpg_cpg_iter {
    cpg_iteration_handle_t                    id;
    cpg_handle_t                              owner;
    struct cpg_iteration_description_t       *items;
    size_t                                    count, cap, next;
    cpg_iteration_type_t                      type;
} ucpg_cpg_iter_t;

static pthread_mutex_t   ucpg_cpg_iter_lock = PTHREAD_MUTEX_INITIALIZER;
static ucpg_cpg_iter_t **ucpg_cpg_iters;
static uint32_t          ucpg_cpg_iters_size;

static int ucpg_cpg_iter_add(ucpg_cpg_iter_t *it, const uint8_t *name, size_t name_len,
                             uint32_t nodeid, uint32_t pid)
{
    struct cpg_iteration_description_t *d;

    if (it->count == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        d = realloc(it->items, cap * sizeof(*d));
        if (d == NULL) {
            return -1;
        }
        it->items = d;
        it->cap   = cap;
    }
    d = &it->items[it->count++];
    memset(d, 0, sizeof(*d));
    d->group.length = (uint32_t)name_len;
    memcpy(d->group.value, name, name_len);
    d->nodeid = nodeid;
    d->pid    = pid;
    return 0;
}

static void ucpg_cpg_iter_collect(void *arg, const uint8_t *name, size_t name_len,
                                  const ucpg_group_addr_t *members, size_t nmembers)
{
    ucpg_cpg_iter_t *it = arg;
    size_t i;

    if (it->type == CPG_ITERATION_NAME_ONLY) {
        ucpg_cpg_iter_add(it, name, name_len, 0, 0);
        return;
    }
    for (i = 0; i < nmembers; ++i) {
        ucpg_cpg_iter_add(it, name, name_len, members[i].nodeid, members[i].pid);
    }
}

/* Stores it in the table and gives it an id. */
static cs_error_t ucpg_cpg_iter_register(ucpg_cpg_iter_t *it)
{
    ucpg_cpg_iter_t **table;
    uint32_t i, size;

    pthread_mutex_lock(&ucpg_cpg_iter_lock);
    for (i = 0; (i < ucpg_cpg_iters_size) && (ucpg_cpg_iters[i] != NULL); ++i) {
    }
    if (i == ucpg_cpg_iters_size) {
        size  = ucpg_cpg_iters_size ? ucpg_cpg_iters_size * 2 : 16;
        table = realloc(ucpg_cpg_iters, size * sizeof(*table));
        if (table == NULL) {
            pthread_mutex_unlock(&ucpg_cpg_iter_lock);
            return CS_ERR_NO_MEMORY;
        }
        memset(table + ucpg_cpg_iters_size, 0, (size - ucpg_cpg_iters_size) * sizeof(*table));
        ucpg_cpg_iters      = table;
        ucpg_cpg_iters_size = size;
    }
    it->id            = ((ucpg_proc_random64() & 0x7ffffffeull) + 1) << 32 | i;
    ucpg_cpg_iters[i] = it;
    pthread_mutex_unlock(&ucpg_cpg_iter_lock);
    return CS_OK;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_iteration_initialize(
    cpg_handle_t handle, cpg_iteration_type_t iteration_type, const struct cpg_name *group,
    cpg_iteration_handle_t *cpg_iteration_handle)
{
    ucpg_cpg_handle_t *h;
    ucpg_cpg_iter_t *it;
    cs_error_t err;

    if ((cpg_iteration_handle == NULL) ||
        ((iteration_type != CPG_ITERATION_NAME_ONLY) && (iteration_type != CPG_ITERATION_ONE_GROUP) &&
         (iteration_type != CPG_ITERATION_ALL)) ||
        ((iteration_type == CPG_ITERATION_ONE_GROUP) != (group != NULL))) {
        return CS_ERR_INVALID_PARAM;
    }
    if ((group != NULL) && (group->length > CPG_MAX_NAME_LENGTH)) {
        return CS_ERR_NAME_TOO_LONG;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_iter_init(handle, iteration_type, group, cpg_iteration_handle);
    }
    err = ucpg_cpg_handle_get(handle, &h);
    if (err != CS_OK) {
        return err;
    }
    it = calloc(1, sizeof(*it));
    if (it == NULL) {
        ucpg_cpg_handle_put(h);
        return CS_ERR_NO_MEMORY;
    }
    it->owner = handle;
    it->type  = iteration_type;
    err = ucpg_cpg_error(ucpg_group_list((group != NULL) ? group->value : NULL,
                                         (group != NULL) ? group->length : 0,
                                         ucpg_cpg_iter_collect, it));
    if (err == CS_OK) {
        err = ucpg_cpg_iter_register(it);
    }
    if (err == CS_OK) {
        *cpg_iteration_handle = it->id;
    } else {
        free(it->items);
        free(it);
    }
    ucpg_cpg_handle_put(h);
    return err;
}

/* Called with the iteration lock held. */
static ucpg_cpg_iter_t *ucpg_cpg_iter_find(cpg_iteration_handle_t id)
{
    uint32_t i = (uint32_t)(id & 0xffffffffu);

    return ((i < ucpg_cpg_iters_size) && (ucpg_cpg_iters[i] != NULL) &&
            (ucpg_cpg_iters[i]->id == id)) ? ucpg_cpg_iters[i] : NULL;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_iteration_next(cpg_iteration_handle_t handle,
                                                   struct cpg_iteration_description_t *description)
{
    ucpg_cpg_iter_t *it;
    cs_error_t err = CS_OK;

    if (description == NULL) {
        return CS_ERR_INVALID_PARAM;
    }
    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_iter_next(handle, description);
    }
    pthread_mutex_lock(&ucpg_cpg_iter_lock);
    it = ucpg_cpg_iter_find(handle);
    if (it == NULL) {
        err = CS_ERR_BAD_HANDLE;
    } else if (it->next >= it->count) {
        err = CS_ERR_NO_SECTIONS;
    } else {
        *description = it->items[it->next++];
    }
    pthread_mutex_unlock(&ucpg_cpg_iter_lock);
    return err;
}

static void ucpg_cpg_iter_free_at(uint32_t i)
{
    free(ucpg_cpg_iters[i]->items);
    free(ucpg_cpg_iters[i]);
    ucpg_cpg_iters[i] = NULL;
}

UCX_CPG_COROSYNC_API cs_error_t cpg_iteration_finalize(cpg_iteration_handle_t handle)
{
    cs_error_t err = CS_ERR_BAD_HANDLE;

    if (UCPG_CPG_RELAYED(handle)) {
        return ucpg_cpg_relay_iter_finalize(handle);
    }
    pthread_mutex_lock(&ucpg_cpg_iter_lock);
    if (ucpg_cpg_iter_find(handle) != NULL) {
        ucpg_cpg_iter_free_at((uint32_t)(handle & 0xffffffffu));
        err = CS_OK;
    }
    pthread_mutex_unlock(&ucpg_cpg_iter_lock);
    return err;
}

void ucpg_cpg_iteration_drop_all(cpg_handle_t owner)
{
    uint32_t i;

    pthread_mutex_lock(&ucpg_cpg_iter_lock);
    for (i = 0; i < ucpg_cpg_iters_size; ++i) {
        if ((ucpg_cpg_iters[i] != NULL) && (ucpg_cpg_iters[i]->owner == owner)) {
            ucpg_cpg_iter_free_at(i);
        }
    }
    pthread_mutex_unlock(&ucpg_cpg_iter_lock);
}
