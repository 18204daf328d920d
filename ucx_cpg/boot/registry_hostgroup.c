/*
 * registry_hostgroup.c - host-group records inside the host registry (see
 * registry.h for what they mean).
 *
 * One table of UCPG_REGISTRY_NHOSTGROUPS records after the group directory:
 * a name and the offer of the shared-memory log that group's members meet
 * on. Like the rest of the registry it is only read and written with
 * pread/pwrite under the lock: read whole in one go (40 KiB) for every
 * operation, written one record at a time. What is read back is validated:
 * a garbled record counts as free.
 *
 * Staleness is not this file's business while there is room: a record of a
 * log that is gone stays until its name is swapped or removed by a caller
 * that attached and failed. Only when a new record is needed and none is
 * free are the recorded logs attached, to reuse the record of one that is
 * gone; a full table of live logs is a real limit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "registry_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

typedef struct ucpg_registry_hostgroup_rec {
    uint32_t state;        /* UCPG_REGISTRY_SLOT_FREE / _USED */
    uint32_t name_len;
    uint8_t  name[UCPG_REGISTRY_GROUP_NAME_MAX];
    int32_t  shmid;        /* the log's ucpg_shm_offer_t */
    uint32_t reserved;
    uint64_t size;
    uint64_t cookie;
} ucpg_registry_hostgroup_rec_t;

_Static_assert(sizeof(ucpg_registry_hostgroup_rec_t) == 160, "host-group record is 160 bytes");

#define UCPG_REGISTRY_HOSTGROUP_TABLE_SIZE \
    ((size_t)UCPG_REGISTRY_NHOSTGROUPS * sizeof(ucpg_registry_hostgroup_rec_t))

size_t ucpg_registry_hostgroup_table_size(void)
{
    return UCPG_REGISTRY_HOSTGROUP_TABLE_SIZE;
}

static off_t ucpg_registry_hostgroup_rec_offset(const ucpg_registry_t *reg, uint32_t i)
{
    return ucpg_registry_hostgroups_offset(reg) +
           (off_t)i * sizeof(ucpg_registry_hostgroup_rec_t);
}

/* A record marked used with a name that does not fit is garbled: free. */
static int ucpg_registry_hostgroup_rec_sane(const ucpg_registry_hostgroup_rec_t *r)
{
    return (r->state == UCPG_REGISTRY_SLOT_USED) &&
           (r->name_len <= UCPG_REGISTRY_GROUP_NAME_MAX);
}

static int ucpg_registry_hostgroup_name_eq(const ucpg_registry_hostgroup_rec_t *r,
                                           const void *name, size_t name_len)
{
    return (r->name_len == name_len) && ((name_len == 0) || !memcmp(r->name, name, name_len));
}

static void ucpg_registry_hostgroup_rec_offer(const ucpg_registry_hostgroup_rec_t *r,
                                              ucpg_shm_offer_t *offer)
{
    offer->shmid  = r->shmid;
    offer->size   = r->size;
    offer->cookie = r->cookie;
}

static int ucpg_registry_hostgroup_offer_eq(const ucpg_registry_hostgroup_rec_t *r,
                                            const ucpg_shm_offer_t *offer)
{
    return (r->shmid == offer->shmid) && (r->size == offer->size) &&
           (r->cookie == offer->cookie);
}

static ucpg_status_t ucpg_registry_hostgroup_read_all(ucpg_registry_t *reg,
                                                      ucpg_registry_hostgroup_rec_t *recs)
{
    return ucpg_registry_pio(0, reg->fd, recs, UCPG_REGISTRY_HOSTGROUP_TABLE_SIZE,
                             ucpg_registry_hostgroup_rec_offset(reg, 0));
}

static ucpg_status_t ucpg_registry_hostgroup_write(ucpg_registry_t *reg, uint32_t i,
                                                   ucpg_registry_hostgroup_rec_t *r)
{
    return ucpg_registry_pio(1, reg->fd, r, sizeof(*r),
                             ucpg_registry_hostgroup_rec_offset(reg, i));
}

/*
 * Has the log r names gone (it cannot be attached: freed with its last
 * member, or the id names another segment by now)? Attaching is what tells;
 * a live one is detached at once.
 */
static int ucpg_registry_hostgroup_rec_stale(const ucpg_registry_hostgroup_rec_t *r)
{
    ucpg_shm_offer_t offer;
    void *base;

    ucpg_registry_hostgroup_rec_offer(r, &offer);
    if (ucpg_shm_segment_attach(&offer, 0, &base) != UCPG_OK) {
        return 1;
    }
    ucpg_shm_segment_detach(base);
    return 0;
}

/* The table, read in one go, and where name is in it (called locked). */
typedef struct ucpg_registry_hostgroup_find {
    ucpg_registry_hostgroup_rec_t *recs;       /* [UCPG_REGISTRY_NHOSTGROUPS] */
    int                            found;      /* record of name, or -1 */
    int                            free_index; /* first free record, or -1 */
} ucpg_registry_hostgroup_find_t;

static ucpg_status_t ucpg_registry_hostgroup_find(ucpg_registry_t *reg, const void *name,
                                                  size_t name_len,
                                                  ucpg_registry_hostgroup_find_t *f)
{
    ucpg_status_t status = ucpg_registry_hostgroup_read_all(reg, f->recs);
    uint32_t i;

    f->found      = -1;
    f->free_index = -1;
    for (i = 0; (status == UCPG_OK) && (i < UCPG_REGISTRY_NHOSTGROUPS) && (f->found < 0); ++i) {
        if (!ucpg_registry_hostgroup_rec_sane(&f->recs[i])) {
            f->free_index = (f->free_index < 0) ? (int)i : f->free_index;
        } else if (ucpg_registry_hostgroup_name_eq(&f->recs[i], name, name_len)) {
            f->found = (int)i;
        }
    }
    return status;
}

/* Runs op(reg, &find, ctx) with the registry locked and name looked up. */
typedef ucpg_status_t (*ucpg_registry_hostgroup_op_t)(ucpg_registry_t *reg,
                                                      ucpg_registry_hostgroup_find_t *f,
                                                      void *ctx);

static ucpg_status_t ucpg_registry_hostgroup_locked(ucpg_registry_t *reg, const void *name,
                                                    size_t name_len,
                                                    ucpg_registry_hostgroup_op_t op, void *ctx)
{
    ucpg_registry_hostgroup_find_t f;
    ucpg_status_t status;

    f.recs = malloc(UCPG_REGISTRY_HOSTGROUP_TABLE_SIZE);
    if (f.recs == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        goto out_free;
    }
    status = ucpg_registry_hostgroup_find(reg, name, name_len, &f);
    if (status == UCPG_OK) {
        status = op(reg, &f, ctx);
    }
    ucpg_registry_unlock(reg);
out_free:
    free(f.recs);
    return status;
}

static int ucpg_registry_hostgroup_name_valid(const void *name, size_t name_len)
{
    return (name_len <= UCPG_REGISTRY_GROUP_NAME_MAX) && ((name != NULL) || (name_len == 0));
}

static ucpg_status_t ucpg_registry_hostgroup_lookup_op(ucpg_registry_t *reg,
                                                       ucpg_registry_hostgroup_find_t *f,
                                                       void *arg)
{
    (void)reg;
    if (f->found < 0) {
        return UCPG_ERR_NOT_FOUND;
    }
    ucpg_registry_hostgroup_rec_offer(&f->recs[f->found], arg);
    return UCPG_OK;
}

ucpg_status_t ucpg_registry_hostgroup_lookup(ucpg_registry_t *reg, const void *name,
                                             size_t name_len, ucpg_shm_offer_t *offer)
{
    if (!ucpg_registry_hostgroup_name_valid(name, name_len) || (offer == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    return ucpg_registry_hostgroup_locked(reg, name, name_len,
                                          ucpg_registry_hostgroup_lookup_op, offer);
}

/* What swap asks for. */
typedef struct ucpg_registry_hostgroup_swap_ctx {
    const void             *name;
    size_t                  name_len;
    const ucpg_shm_offer_t *expected;
    const ucpg_shm_offer_t *offer;
    ucpg_shm_offer_t       *current;
} ucpg_registry_hostgroup_swap_ctx_t;

/* Does name's record (or its absence) match what the caller expects? */
static int ucpg_registry_hostgroup_expected(const ucpg_registry_hostgroup_find_t *f,
                                            const ucpg_shm_offer_t *expected)
{
    if (expected == NULL) {
        return f->found < 0;
    }
    return (f->found >= 0) && ucpg_registry_hostgroup_offer_eq(&f->recs[f->found], expected);
}

/* What name has recorded now, for a caller whose compare failed. */
static void ucpg_registry_hostgroup_current(const ucpg_registry_hostgroup_find_t *f,
                                            ucpg_shm_offer_t *current)
{
    if (f->found >= 0) {
        ucpg_registry_hostgroup_rec_offer(&f->recs[f->found], current);
    } else {
        current->shmid  = -1;
        current->size   = 0;
        current->cookie = 0;
    }
}

/*
 * Where a new record goes: the first free one, else the first whose log is
 * gone (every record is used and sane here: garbled ones count as free).
 * -1 if every record names a live log.
 */
static int ucpg_registry_hostgroup_place(const ucpg_registry_hostgroup_find_t *f)
{
    uint32_t i;

    if (f->free_index >= 0) {
        return f->free_index;
    }
    for (i = 0; i < UCPG_REGISTRY_NHOSTGROUPS; ++i) {
        if (ucpg_registry_hostgroup_rec_stale(&f->recs[i])) {
            ucpg_debug("reusing host-group record %u (shmid %d): its log is gone", i,
                       (int)f->recs[i].shmid);
            return (int)i;
        }
    }
    return -1;
}

/* Records c's name and offer at record i (its own, or a new one). */
static ucpg_status_t ucpg_registry_hostgroup_record(ucpg_registry_t *reg, uint32_t i,
                                                    const ucpg_registry_hostgroup_swap_ctx_t *c)
{
    ucpg_registry_hostgroup_rec_t r;

    memset(&r, 0, sizeof(r));
    r.state    = UCPG_REGISTRY_SLOT_USED;
    r.name_len = (uint32_t)c->name_len;
    if (c->name_len > 0) {
        memcpy(r.name, c->name, c->name_len);
    }
    r.shmid  = c->offer->shmid;
    r.size   = c->offer->size;
    r.cookie = c->offer->cookie;
    return ucpg_registry_hostgroup_write(reg, i, &r);
}

static ucpg_status_t ucpg_registry_hostgroup_swap_op(ucpg_registry_t *reg,
                                                     ucpg_registry_hostgroup_find_t *f,
                                                     void *arg)
{
    const ucpg_registry_hostgroup_swap_ctx_t *c = arg;
    ucpg_registry_hostgroup_rec_t empty;
    int i = f->found;

    if (!ucpg_registry_hostgroup_expected(f, c->expected)) {
        if (c->current != NULL) {
            ucpg_registry_hostgroup_current(f, c->current);
        }
        return UCPG_ERR_EXISTS;
    }
    if (c->offer == NULL) {
        if (i < 0) {
            return UCPG_OK;                        /* no record to remove */
        }
        memset(&empty, 0, sizeof(empty));
        return ucpg_registry_hostgroup_write(reg, (uint32_t)i, &empty);
    }
    if (i < 0) {
        i = ucpg_registry_hostgroup_place(f);
    }
    if (i < 0) {
        ucpg_error("registry %s: all %u host-group records name live logs", reg->path,
                   UCPG_REGISTRY_NHOSTGROUPS);
        return UCPG_ERR_NO_RESOURCE;
    }
    return ucpg_registry_hostgroup_record(reg, (uint32_t)i, c);
}

ucpg_status_t ucpg_registry_hostgroup_swap(ucpg_registry_t *reg, const void *name,
                                           size_t name_len, const ucpg_shm_offer_t *expected,
                                           const ucpg_shm_offer_t *offer,
                                           ucpg_shm_offer_t *current)
{
    ucpg_registry_hostgroup_swap_ctx_t ctx = {name, name_len, expected, offer, current};

    if (!ucpg_registry_hostgroup_name_valid(name, name_len)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    return ucpg_registry_hostgroup_locked(reg, name, name_len, ucpg_registry_hostgroup_swap_op,
                                          &ctx);
}

ucpg_status_t ucpg_registry_hostgroup_foreach(ucpg_registry_t *reg,
                                              ucpg_registry_hostgroup_cb_t cb, void *arg)
{
    ucpg_registry_hostgroup_rec_t *recs;
    ucpg_shm_offer_t offer;
    ucpg_status_t status;
    uint32_t i;

    if (cb == NULL) {
        return UCPG_ERR_INVALID_PARAM;
    }
    recs = malloc(UCPG_REGISTRY_HOSTGROUP_TABLE_SIZE);
    if (recs == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        goto out_free;
    }
    status = ucpg_registry_hostgroup_read_all(reg, recs);
    for (i = 0; (status == UCPG_OK) && (i < UCPG_REGISTRY_NHOSTGROUPS); ++i) {
        if (ucpg_registry_hostgroup_rec_sane(&recs[i])) {
            ucpg_registry_hostgroup_rec_offer(&recs[i], &offer);
            cb(arg, recs[i].name, recs[i].name_len, &offer);
        }
    }
    ucpg_registry_unlock(reg);
out_free:
    free(recs);
    return status;
}
