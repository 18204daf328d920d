/*
 * barrier.c - RSMAPI barriers: error detection over a span of accesses.
 *
 * A barrier records, at open, how many transfers of its import had failed;
 * close flushes every put to the exporter's memory (UCP endpoint flush) and
 * fails with BARRIER_FAILURE if a transfer failed since open, or with
 * CONN_ABORTED (sticky until disconnect) once the segment was unpublished,
 * destroyed or its exporter died. The state lives in a library object that
 * rsmapi_barrier_t.privdata points to; a barrier the library does not know
 * is "uninitialized", never dereferenced.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <stdlib.h>

#define UCPG_RSM_BARRIER_MAGIC 0x52534d42u   /* "RSMB" */

struct ucpg_rsm_barrier {
    uint32_t                   magic;
    rsm_memseg_import_handle_t import;
    unsigned                   errors_at_open;
    struct ucpg_rsm_barrier   *next;          /* engine lock */
};

static struct ucpg_rsm_barrier *ucpg_rsm_barriers;   /* engine lock */

/* Finds the state of bar; *ret_p gets the error for an unusable barrier. */
static struct ucpg_rsm_barrier *ucpg_rsm_barrier_get(rsmapi_barrier_t *bar, int *ret_p)
{
    struct ucpg_rsm_barrier *b;

    if (bar == NULL) {
        *ret_p = RSMERR_BAD_BARRIER_PTR;
        return NULL;
    }
    ucpg_rsm_engine_lock();
    for (b = ucpg_rsm_barriers; (b != NULL) && (b != bar->privdata); b = b->next) {
    }
    *ret_p = (b == NULL) ? RSMERR_BARRIER_UNINITIALIZED
                         : !ucpg_rsm_import_valid(b->import) ? RSMERR_BAD_SEG_HNDL
                                                             : RSM_SUCCESS;
    ucpg_rsm_engine_unlock();
    return (*ret_p == RSM_SUCCESS) ? b : NULL;
}

static void ucpg_rsm_barrier_unlink(struct ucpg_rsm_barrier *b)
{
    struct ucpg_rsm_barrier **pp;

    for (pp = &ucpg_rsm_barriers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    }
}

/* With the engine lock held: frees the state that bar names, if it names one
 * of ours (privdata is only compared, never followed: it may be garbage).
 * Returns whether it did. */
static int ucpg_rsm_barrier_forget(rsmapi_barrier_t *bar)
{
    struct ucpg_rsm_barrier *b;

    for (b = ucpg_rsm_barriers; (b != NULL) && (b != bar->privdata); b = b->next) {
    }
    if (b == NULL) {
        return 0;
    }
    ucpg_rsm_barrier_unlink(b);
    if (ucpg_rsm_import_valid(b->import) && (b->import->barrier == b)) {
        b->import->barrier = NULL;
    }
    b->magic      = 0;
    bar->privdata = NULL;
    free(b);
    return 1;
}

void ucpg_rsm_barriers_orphan(rsm_memseg_import_handle_t im)
{
    struct ucpg_rsm_barrier *b;

    for (b = ucpg_rsm_barriers; b != NULL; b = b->next) {
        if (b->import == im) {
            b->import = NULL;
        }
    }
}

int rsm_memseg_import_init_barrier(rsm_memseg_import_handle_t im_memseg,
                                   rsm_barrier_type_t type, rsmapi_barrier_t *barrier)
{
    struct ucpg_rsm_barrier *b;
    int valid;

    (void)type;                   /* ignored, as by the reference */
    valid = ucpg_rsm_import_held(im_memseg);
    if (!valid) {
        return RSMERR_BAD_SEG_HNDL;
    }
    if (barrier == NULL) {
        return RSMERR_BAD_BARRIER_PTR;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return RSMERR_INSUFFICIENT_MEM;
    }
    b->magic  = UCPG_RSM_BARRIER_MAGIC;
    b->import = im_memseg;
    ucpg_rsm_engine_lock();
    ucpg_rsm_barrier_forget(barrier);     /* initialized again: its old state goes */
    b->next            = ucpg_rsm_barriers;
    ucpg_rsm_barriers  = b;
    im_memseg->barrier = b;       /* the implicit-mode barrier of the handle */
    ucpg_rsm_engine_unlock();
    barrier->seg      = im_memseg;
    barrier->gnum     = 0;
    barrier->privdata = b;
    return RSM_SUCCESS;
}

int rsm_memseg_import_open_barrier(rsmapi_barrier_t *barrier)
{
    struct ucpg_rsm_barrier *b;
    int ret;

    b = ucpg_rsm_barrier_get(barrier, &ret);
    if (b != NULL) {
        b->errors_at_open = __atomic_load_n(&b->import->errors, __ATOMIC_ACQUIRE);
    }
    return ret;
}

/* Flushes and reports what went wrong since open. */
static int ucpg_rsm_barrier_check(rsmapi_barrier_t *barrier)
{
    struct ucpg_rsm_barrier *b;
    int ret;

    b = ucpg_rsm_barrier_get(barrier, &ret);
    if (b == NULL) {
        return ret;
    }
    ret = ucpg_rsm_import_flush(b->import);
    if ((ret == RSM_SUCCESS) &&
        (__atomic_load_n(&b->import->errors, __ATOMIC_ACQUIRE) != b->errors_at_open)) {
        ret = RSMERR_BARRIER_FAILURE;
    }
    return ret;
}

int rsm_memseg_import_order_barrier(rsmapi_barrier_t *barrier)
{
    return ucpg_rsm_barrier_check(barrier);
}

int rsm_memseg_import_close_barrier(rsmapi_barrier_t *barrier)
{
    return ucpg_rsm_barrier_check(barrier);
}

int rsm_memseg_import_destroy_barrier(rsmapi_barrier_t *barrier)
{
    int known;

    if (barrier == NULL) {
        return RSMERR_BAD_BARRIER_PTR;
    }
    ucpg_rsm_engine_lock();
    known = ucpg_rsm_barrier_forget(barrier);
    ucpg_rsm_engine_unlock();
    return known ? RSM_SUCCESS : RSMERR_BARRIER_UNINITIALIZED;
}
