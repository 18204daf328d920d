/*
 * handle.c - the table of CPG handles.
 *
 * A handle is (random check value << 32 | table index), as in corosync, so a
 * stale or made-up handle is recognised (CS_ERR_BAD_HANDLE) instead of
 * being used. Handles are reference counted: a call in progress keeps its
 * handle alive while another thread finalizes it; the finalize makes every
 * later lookup fail at once and the last reference frees the memory.
 *
 * Every cpg_mcast_joined and cpg_dispatch looks its handle up, often from
 * two threads at once (a sender and a dispatcher): the table's lock spins
 * before it sleeps (core/mutex.h), and a reference is dropped without it
 * (refs is atomic; only a lookup needs the table to hold still).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpg_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/mutex.h"
#include "core/proc.h"

static pthread_mutex_t     ucpg_cpg_table_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static ucpg_cpg_handle_t **ucpg_cpg_table;
static uint32_t            ucpg_cpg_table_size;

cs_error_t ucpg_cpg_error(ucpg_status_t status)
{
    switch (status) {
    case UCPG_OK:                return CS_OK;
    case UCPG_ERR_INVALID_PARAM: return CS_ERR_INVALID_PARAM;
    case UCPG_ERR_NO_MEMORY:     return CS_ERR_NO_MEMORY;
    case UCPG_ERR_TIMEOUT:       return CS_ERR_TRY_AGAIN;
    case UCPG_ERR_TRY_AGAIN:     return CS_ERR_TRY_AGAIN;
    case UCPG_ERR_NOT_FOUND:     return CS_ERR_NOT_EXIST;
    case UCPG_ERR_EXISTS:        return CS_ERR_EXIST;
    case UCPG_ERR_TOO_BIG:       return CS_ERR_TOO_BIG;
    case UCPG_ERR_NO_RESOURCE:   return CS_ERR_NO_RESOURCES;
    case UCPG_ERR_ACCESS:        return CS_ERR_ACCESS;
    case UCPG_ERR_BUSY:          return CS_ERR_BUSY;
    case UCPG_ERR_UNSUPPORTED:   return CS_ERR_NOT_SUPPORTED;
    default:                     return CS_ERR_LIBRARY;
    }
}

static uint32_t ucpg_cpg_check_value(void)
{
    uint32_t v;

    do {
        v = (uint32_t)(ucpg_proc_random64() & 0x7fffffffu);
    } while ((v == 0) || (v == 0x7fffffffu));
    return v;
}

/* Called with the table lock held: a free index, growing the table. */
static int ucpg_cpg_table_slot(void)
{
    ucpg_cpg_handle_t **table;
    uint32_t i, size;

    for (i = 0; i < ucpg_cpg_table_size; ++i) {
        if (ucpg_cpg_table[i] == NULL) {
            return (int)i;
        }
    }
    size  = ucpg_cpg_table_size ? ucpg_cpg_table_size * 2 : 16;
    table = realloc(ucpg_cpg_table, size * sizeof(*table));
    if (table == NULL) {
        return -1;
    }
    memset(table + ucpg_cpg_table_size, 0, (size - ucpg_cpg_table_size) * sizeof(*table));
    i                   = ucpg_cpg_table_size;
    ucpg_cpg_table      = table;
    ucpg_cpg_table_size = size;
    return (int)i;
}

cs_error_t ucpg_cpg_handle_create(ucpg_cpg_handle_t **h_p)
{
    ucpg_cpg_handle_t *h = calloc(1, sizeof(*h));
    int slot;

    if (h == NULL) {
        return CS_ERR_NO_MEMORY;
    }
    h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h->efd < 0) {
        free(h);
        return CS_ERR_NO_RESOURCES;
    }
    ucpg_mutex_init_adaptive(&h->lock);
    h->refs      = 1;                 /* the table's */
    h->owner_pid = ucpg_proc_self();
    pthread_mutex_lock(&ucpg_cpg_table_lock);
    slot = ucpg_cpg_table_slot();
    if (slot >= 0) {
        h->id                = ((uint64_t)ucpg_cpg_check_value() << 32) | (uint32_t)slot;
        ucpg_cpg_table[slot] = h;
    }
    pthread_mutex_unlock(&ucpg_cpg_table_lock);
    if (slot < 0) {
        close(h->efd);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return CS_ERR_NO_MEMORY;
    }
    *h_p = h;
    return CS_OK;
}

/* Called with the table lock held. */
static ucpg_cpg_handle_t *ucpg_cpg_table_find(cpg_handle_t id)
{
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    ucpg_cpg_handle_t *h;

    if (slot >= ucpg_cpg_table_size) {
        return NULL;
    }
    h = ucpg_cpg_table[slot];
    return ((h != NULL) && (h->id == id) && !h->finalized) ? h : NULL;
}

cs_error_t ucpg_cpg_handle_get(cpg_handle_t id, ucpg_cpg_handle_t **h_p)
{
    ucpg_cpg_handle_t *h;

    pthread_mutex_lock(&ucpg_cpg_table_lock);
    h = ucpg_cpg_table_find(id);
    if (h != NULL) {
        __atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);   /* the table holds one */
    }
    pthread_mutex_unlock(&ucpg_cpg_table_lock);
    if (h == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    if (h->owner_pid != ucpg_proc_self()) {
        /* Inherited over fork(): the connection belongs to the parent. */
        ucpg_cpg_handle_put(h);
        return CS_ERR_BAD_HANDLE;
    }
    *h_p = h;
    return CS_OK;
}

void ucpg_cpg_handles_each(void (*fn)(ucpg_cpg_handle_t *h))
{
    ucpg_cpg_handle_t **live;
    uint32_t i, n = 0;

    pthread_mutex_lock(&ucpg_cpg_table_lock);
    live = calloc(ucpg_cpg_table_size ? ucpg_cpg_table_size : 1, sizeof(*live));
    for (i = 0; (live != NULL) && (i < ucpg_cpg_table_size); ++i) {
        if ((ucpg_cpg_table[i] != NULL) && !ucpg_cpg_table[i]->finalized) {
            live[n] = ucpg_cpg_table[i];
            __atomic_add_fetch(&live[n++]->refs, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&ucpg_cpg_table_lock);
    for (i = 0; i < n; ++i) {
        fn(live[i]);
        ucpg_cpg_handle_put(live[i]);
    }
    free(live);
}

static void ucpg_cpg_handle_free(ucpg_cpg_handle_t *h)
{
    ucpg_cpg_host_free(h);               /* its groups' callbacks queue nothing */
    ucpg_cpg_queue_clear(h);
    ucpg_cpg_zcb_free_all(h);
    free(h->view_nodes);
    close(h->efd);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void ucpg_cpg_handle_put(ucpg_cpg_handle_t *h)
{
    /* Acquire-release: the last one frees what the others wrote. */
    if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        ucpg_cpg_handle_free(h);
    }
}

cs_error_t ucpg_cpg_handle_retire(cpg_handle_t id, ucpg_cpg_handle_t **h_p)
{
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    ucpg_cpg_handle_t *h;

    pthread_mutex_lock(&ucpg_cpg_table_lock);
    h = ucpg_cpg_table_find(id);
    if ((h != NULL) && (h->owner_pid != ucpg_proc_self())) {
        h = NULL;                    /* inherited over fork(): not ours to finalize */
    }
    if (h != NULL) {
        h->finalized         = 1;
        ucpg_cpg_table[slot] = NULL;
        /* the table's reference passes to the caller */
    }
    pthread_mutex_unlock(&ucpg_cpg_table_lock);
    if (h == NULL) {
        return CS_ERR_BAD_HANDLE;
    }
    *h_p = h;
    return CS_OK;
}
