/*
 * hostgroups.c - CPG groups as host groups: the registry rendezvous, the
 * process' list of its host groups, and their reaper (see hostgroups.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hostgroups.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "boot/registry.h"
#include "core/domain.h"
#include "core/log.h"
#include "core/shm_log.h"
#include "group_int.h"
#include "hostgroup_wire.h"

/* Rounds of lookup, attach or found, and record: each lost round means
 * another process changed the record meanwhile, which settles fast. */
#define UCPG_GROUP_HOST_JOIN_ROUNDS 16
/* How long a membership query waits for a table being changed. */
#define UCPG_GROUP_HOST_LIST_WAIT_MS 1000u

/* This process' host groups: for the reaper, and one membership per
 * process and name (as the engine's groups, and corosync). */
typedef struct ucpg_group_host_entry {
    ucpg_hostgroup_t *hg;
    size_t            name_len;
    uint8_t           name[UCPG_GROUP_NAME_MAX];
} ucpg_group_host_entry_t;

static pthread_mutex_t          ucpg_group_host_lock = PTHREAD_MUTEX_INITIALIZER;
static ucpg_group_host_entry_t *ucpg_group_host_groups;
static size_t                   ucpg_group_host_count, ucpg_group_host_cap;
/* Rings are owed (some group's ring_owed may be set), and the progress
 * thread was kicked since its hook last looked. */
static int                      ucpg_group_host_rings_owed, ucpg_group_host_rings_kicked;

int ucpg_group_host_enabled(void)
{
    return (ucpg_group_engine.config != NULL) &&
           (ucpg_group_engine.config->group_host_log_mb > 0);
}

/* The log's capacity: the key's MiB rounded down to a power of two. */
static size_t ucpg_group_host_capacity(void)
{
    size_t mb = ucpg_group_engine.config->group_host_log_mb, pow2 = 1;

    while (pow2 * 2 <= mb) {
        pow2 *= 2;
    }
    return pow2 << 20;
}

size_t ucpg_group_host_max_msg(void)
{
    /* ucpg_hostgroup_max_msg of such a log: its largest entry, less the
     * log's header and the group's */
    size_t quarter = ucpg_group_host_capacity() / 4 - UCPG_SHM_LOG_ENTRY_HDR -
                     UCPG_HOSTGROUP_HDR_LEN;
    size_t max     = ucpg_group_max_msg();

    return (quarter < max) ? quarter : max;
}

/* --- the reaper ---------------------------------------------------------------------- */

static void ucpg_group_host_timer(void *arg);

static void ucpg_group_host_timer_arm(void)
{
    if (ucpg_domain_timer_arm(ucpg_group_engine.domain, ucpg_group_host_timer, NULL,
                              UCPG_GROUP_HOST_REAP_MS) != UCPG_OK) {
        ucpg_warn("host groups: no timer to look for dead members; only the departures "
                  "the domain sees are noticed");
    }
}

void ucpg_group_host_reap_all(void)
{
    size_t i;

    pthread_mutex_lock(&ucpg_group_host_lock);
    for (i = 0; i < ucpg_group_host_count; ++i) {
        if (ucpg_group_host_groups[i].hg != NULL) {
            ucpg_hostgroup_reap(ucpg_group_host_groups[i].hg);   /* never blocks */
        }
    }
    pthread_mutex_unlock(&ucpg_group_host_lock);
}

/* --- rings left to the progress thread ------------------------------------------------ */

/* params.ring_later of our groups (a sender's thread; see hostgroups.h). */
static void ucpg_group_host_ring_later(void)
{
    ucpg_domain_t *d = ucpg_group_engine.domain;

    __atomic_store_n(&ucpg_group_host_rings_owed, 1, __ATOMIC_SEQ_CST);
    if (!ucpg_domain_progress_awake(d) &&
        !__atomic_exchange_n(&ucpg_group_host_rings_kicked, 1, __ATOMIC_ACQ_REL)) {
        ucpg_domain_kick(d);             /* asleep: its hook would not run */
    }
}

void ucpg_group_host_ring_owed_all(void)
{
    size_t i;

    if (!__atomic_load_n(&ucpg_group_host_rings_owed, __ATOMIC_SEQ_CST)) {
        return;
    }
    __atomic_store_n(&ucpg_group_host_rings_kicked, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ucpg_group_host_rings_owed, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&ucpg_group_host_lock);  /* a group leaving the list rings its own */
    for (i = 0; i < ucpg_group_host_count; ++i) {
        if (ucpg_group_host_groups[i].hg != NULL) {
            ucpg_hostgroup_ring_owed(ucpg_group_host_groups[i].hg);
        }
    }
    pthread_mutex_unlock(&ucpg_group_host_lock);
}

static void ucpg_group_host_timer(void *arg)
{
    size_t count;

    (void)arg;
    ucpg_group_host_reap_all();
    pthread_mutex_lock(&ucpg_group_host_lock);
    count = ucpg_group_host_count;
    pthread_mutex_unlock(&ucpg_group_host_lock);
    if (count > 0) {
        ucpg_group_host_timer_arm();
    }
}

/* The entry of name, or NULL (lock held). A group this process left but
 * whose handle is not destroyed yet still counts: its stream may not have
 * reached the view that removes us. */
static ucpg_group_host_entry_t *ucpg_group_host_find(const void *name, size_t name_len)
{
    size_t i;

    for (i = 0; i < ucpg_group_host_count; ++i) {
        if ((ucpg_group_host_groups[i].name_len == name_len) &&
            (memcmp(ucpg_group_host_groups[i].name, name, name_len) == 0) &&
            ((ucpg_group_host_groups[i].hg == NULL) ||        /* being joined */
             !ucpg_hostgroup_left(ucpg_group_host_groups[i].hg))) {
            return &ucpg_group_host_groups[i];
        }
    }
    return NULL;
}

/* Reserves name for this process: UCPG_ERR_EXISTS if it is a member. The
 * entry's hg is set once joined (NULL meanwhile: the reaper skips it). */
static ucpg_status_t ucpg_group_host_claim(const void *name, size_t name_len)
{
    ucpg_group_host_entry_t *grown, *e;
    ucpg_status_t status = UCPG_OK;
    size_t cap;

    pthread_mutex_lock(&ucpg_group_host_lock);
    if (ucpg_group_host_find(name, name_len) != NULL) {
        status = UCPG_ERR_EXISTS;
    } else if (ucpg_group_host_count == ucpg_group_host_cap) {
        cap   = (ucpg_group_host_cap > 0) ? 2 * ucpg_group_host_cap : 8;
        grown = realloc(ucpg_group_host_groups, cap * sizeof(*grown));
        if (grown == NULL) {
            status = UCPG_ERR_NO_MEMORY;
        } else {
            ucpg_group_host_groups = grown;
            ucpg_group_host_cap    = cap;
        }
    }
    if (status == UCPG_OK) {
        e           = &ucpg_group_host_groups[ucpg_group_host_count++];
        e->hg       = NULL;
        e->name_len = name_len;
        memcpy(e->name, name, name_len);
    }
    pthread_mutex_unlock(&ucpg_group_host_lock);
    return status;
}

/* Sets (hg) or gives up (NULL) the claim of name. */
static void ucpg_group_host_claimed(const void *name, size_t name_len, ucpg_hostgroup_t *hg)
{
    size_t i;

    pthread_mutex_lock(&ucpg_group_host_lock);
    for (i = 0; i < ucpg_group_host_count; ++i) {
        if ((ucpg_group_host_groups[i].hg == NULL) &&
            (ucpg_group_host_groups[i].name_len == name_len) &&
            (memcmp(ucpg_group_host_groups[i].name, name, name_len) == 0)) {
            if (hg != NULL) {
                ucpg_group_host_groups[i].hg = hg;
            } else {
                ucpg_group_host_groups[i] = ucpg_group_host_groups[--ucpg_group_host_count];
            }
            break;
        }
    }
    pthread_mutex_unlock(&ucpg_group_host_lock);
    if (hg != NULL) {
        ucpg_hostgroup_ring_owed(hg);    /* our JOIN's: the hook did not know of hg yet */
        ucpg_group_host_timer_arm();
    }
}

void ucpg_group_host_destroy(ucpg_hostgroup_t *hg)
{
    size_t i;

    if (hg == NULL) {
        return;
    }
    pthread_mutex_lock(&ucpg_group_host_lock);       /* a reap under way ends first */
    for (i = 0; i < ucpg_group_host_count; ++i) {
        if (ucpg_group_host_groups[i].hg == hg) {
            ucpg_group_host_groups[i] = ucpg_group_host_groups[--ucpg_group_host_count];
            break;
        }
    }
    if (ucpg_group_host_count == 0) {
        free(ucpg_group_host_groups);
        ucpg_group_host_groups = NULL;
        ucpg_group_host_cap    = 0;
    }
    pthread_mutex_unlock(&ucpg_group_host_lock);
    ucpg_hostgroup_destroy(hg);
}

/* --- joining -------------------------------------------------------------------------- */

/* Host groups need a domain of one node (see hostgroups.h). */
static ucpg_status_t ucpg_group_host_check_nodes(void)
{
    uint32_t nodes[2];
    uint64_t epoch;
    size_t n = 0;
    ucpg_status_t status = ucpg_group_nodes(nodes, 2, &n, &epoch);

    if ((status == UCPG_OK) && (n > 1)) {
        ucpg_error("host groups (group_host_log_mb) need a domain on one host, and this "
                   "one has processes on %zu nodes: set group_host_log_mb = 0", n);
        status = UCPG_ERR_UNSUPPORTED;
    }
    return status;
}

/* One round: joins the recorded log, or founds one and records it in place
 * of the stale record. UCPG_INPROGRESS: the record changed meanwhile. */
static ucpg_status_t ucpg_group_host_join_round(const void *name, size_t name_len,
                                                const ucpg_hostgroup_params_t *params,
                                                ucpg_hostgroup_t **hg_p)
{
    ucpg_registry_t *reg = ucpg_group_engine.registry;
    ucpg_shm_offer_t recorded, mine;
    ucpg_status_t status;
    int have;

    status = ucpg_registry_hostgroup_lookup(reg, name, name_len, &recorded);
    if ((status != UCPG_OK) && (status != UCPG_ERR_NOT_FOUND)) {
        return status;
    }
    have = (status == UCPG_OK);
    if (have) {
        status = ucpg_hostgroup_join(&recorded, params, hg_p);
        if ((status != UCPG_ERR_NOT_FOUND) && (status != UCPG_ERR_MESSAGE)) {
            return status;               /* joined, or a real failure */
        }
    }
    status = ucpg_hostgroup_found(ucpg_group_host_capacity(), params, hg_p);
    if (status != UCPG_OK) {
        return status;
    }
    ucpg_hostgroup_offer(*hg_p, &mine);
    status = ucpg_registry_hostgroup_swap(reg, name, name_len, have ? &recorded : NULL, &mine,
                                          NULL);
    if (status != UCPG_OK) {
        ucpg_hostgroup_destroy(*hg_p);   /* nobody else knew it */
        *hg_p = NULL;
    }
    return (status == UCPG_ERR_EXISTS) ? UCPG_INPROGRESS : status;
}

ucpg_status_t ucpg_group_host_join(const void *name, size_t name_len,
                                   const ucpg_hostgroup_callbacks_t *cb, void *arg,
                                   ucpg_hostgroup_t **hg_p)
{
    ucpg_hostgroup_params_t params;
    ucpg_status_t status;
    int round;

    if (!ucpg_group_host_enabled() || (ucpg_group_engine.registry == NULL)) {
        return UCPG_ERR_UNSUPPORTED;
    }
    if (name_len > UCPG_GROUP_NAME_MAX) {
        return UCPG_ERR_INVALID_PARAM;
    }
    status = ucpg_group_host_check_nodes();
    if (status != UCPG_OK) {
        return status;
    }
    memset(&params, 0, sizeof(params));
    params.nodeid            = ucpg_group_engine.nodeid;
    params.cb                = cb;
    params.arg               = arg;
    params.change_timeout_ms = ucpg_group_engine.config->group_join_timeout_ms;
    params.max_msg           = ucpg_group_max_msg();
    params.ring_later        = ucpg_group_host_ring_later;
    status                   = ucpg_group_host_claim(name, name_len);
    if (status != UCPG_OK) {
        return status;
    }
    status = UCPG_INPROGRESS;
    for (round = 0; (round < UCPG_GROUP_HOST_JOIN_ROUNDS) && (status == UCPG_INPROGRESS);
         ++round) {
        status = ucpg_group_host_join_round(name, name_len, &params, hg_p);
    }
    if (status == UCPG_INPROGRESS) {
        ucpg_error("host groups: the registry's record of a group kept changing");
        status = UCPG_ERR_TIMEOUT;
    }
    ucpg_group_host_claimed(name, name_len, (status == UCPG_OK) ? *hg_p : NULL);
    return status;
}

/* --- listing -------------------------------------------------------------------------- */

typedef struct ucpg_group_host_record {
    uint8_t          name[UCPG_GROUP_NAME_MAX];
    size_t           name_len;
    ucpg_shm_offer_t offer;
} ucpg_group_host_record_t;

typedef struct ucpg_group_host_records {
    const void               *name;      /* NULL: every record */
    size_t                    name_len;
    ucpg_group_host_record_t *r;
    size_t                    n, cap;
    int                       failed;    /* out of memory */
} ucpg_group_host_records_t;

/* Copies a record out (the registry is locked: nothing else happens here). */
static void ucpg_group_host_collect(void *arg, const uint8_t *name, size_t name_len,
                                    const ucpg_shm_offer_t *offer)
{
    ucpg_group_host_records_t *c = arg;
    ucpg_group_host_record_t *grown;

    if ((name_len > UCPG_GROUP_NAME_MAX) ||
        ((c->name != NULL) &&
         ((name_len != c->name_len) || (memcmp(name, c->name, name_len) != 0)))) {
        return;
    }
    if (c->n == c->cap) {
        c->cap = (c->cap > 0) ? 2 * c->cap : 16;
        grown  = realloc(c->r, c->cap * sizeof(*grown));
        if (grown == NULL) {
            c->failed = 1;
            return;
        }
        c->r = grown;
    }
    memcpy(c->r[c->n].name, name, name_len);
    c->r[c->n].name_len = name_len;
    c->r[c->n].offer    = *offer;
    ++c->n;
}

/* Lists one group from its log's table; a group without a live member
 * (or whose log is gone) does not exist. */
static ucpg_status_t ucpg_group_host_list_one(const ucpg_group_host_record_t *r,
                                              ucpg_group_list_cb_t cb, void *arg)
{
    ucpg_group_addr_t addrs[UCPG_HOSTGROUP_MEMBERS_MAX];
    size_t n = 0;
    ucpg_status_t status = ucpg_hostgroup_members(&r->offer, UCPG_GROUP_HOST_LIST_WAIT_MS,
                                                  addrs, UCPG_HOSTGROUP_MEMBERS_MAX, &n);

    if ((status == UCPG_ERR_NOT_FOUND) || (status == UCPG_ERR_MESSAGE)) {
        return UCPG_OK;
    }
    if ((status == UCPG_OK) && (n > 0)) {
        cb(arg, r->name, r->name_len, addrs, n);
    }
    return status;
}

ucpg_status_t ucpg_group_host_list(const void *name, size_t name_len, ucpg_group_list_cb_t cb,
                                   void *arg)
{
    ucpg_group_host_records_t c;
    ucpg_status_t status;
    size_t i;

    memset(&c, 0, sizeof(c));
    c.name     = name;
    c.name_len = name_len;
    status     = ucpg_registry_hostgroup_foreach(ucpg_group_engine.registry,
                                                 ucpg_group_host_collect, &c);
    if ((status == UCPG_OK) && c.failed) {
        status = UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; (i < c.n) && (status == UCPG_OK); ++i) {
        status = ucpg_group_host_list_one(&c.r[i], cb, arg);
    }
    free(c.r);
    return status;
}
