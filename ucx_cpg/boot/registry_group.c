/*
 * registry_group.c - the CPG group directory inside the host registry.
 *
 * Two tables after the segment ids: UCPG_REGISTRY_NGROUPS entry headers
 * (name, incarnation, sequencer, view id), read in one go for lookups and
 * listings, then the member arrays, one per entry, read only for the entries
 * a caller asks about. Like the rest of the registry the file is only read
 * and written with pread/pwrite under the lock, and whatever is read back is
 * validated: a garbled entry counts as free.
 *
 * Liveness is not trusted from the file: a member is listed only if its
 * registry slot still holds the same live incarnation, so a group whose
 * processes all crashed disappears by itself (no ghost members, and the
 * next joiner simply recreates it). Members of other nodes (a directory
 * serving a domain that spans hosts) have no slot here; the oracle set by
 * the boot layer answers for them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "registry_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/proc.h"

typedef struct ucpg_registry_group_hdr {
    uint32_t state;        /* UCPG_REGISTRY_SLOT_FREE / _USED */
    uint32_t name_len;
    uint8_t  name[UCPG_REGISTRY_GROUP_NAME_MAX];
    uint64_t gen;
    uint64_t seq_uuid;
    uint64_t view_id;
    uint32_t seq_slot;
    uint32_t nmembers;
} ucpg_registry_group_hdr_t;

_Static_assert(sizeof(ucpg_registry_group_hdr_t) == 168, "directory entry header is 168 bytes");
_Static_assert(sizeof(ucpg_registry_gmember_t) == 24, "directory member is 24 bytes");

#define UCPG_REGISTRY_GROUP_HDRS_SIZE \
    ((size_t)UCPG_REGISTRY_NGROUPS * sizeof(ucpg_registry_group_hdr_t))
#define UCPG_REGISTRY_GROUP_MEMBERS_SIZE \
    ((size_t)UCPG_REGISTRY_GROUP_MEMBERS * sizeof(ucpg_registry_gmember_t))

size_t ucpg_registry_group_tables_size(void)
{
    return UCPG_REGISTRY_GROUP_HDRS_SIZE +
           (size_t)UCPG_REGISTRY_NGROUPS * UCPG_REGISTRY_GROUP_MEMBERS_SIZE;
}

static off_t ucpg_registry_group_hdr_offset(const ucpg_registry_t *reg, uint32_t i)
{
    return ucpg_registry_groups_offset(reg) + (off_t)i * sizeof(ucpg_registry_group_hdr_t);
}

static off_t ucpg_registry_group_members_offset(const ucpg_registry_t *reg, uint32_t i)
{
    return ucpg_registry_groups_offset(reg) + (off_t)UCPG_REGISTRY_GROUP_HDRS_SIZE +
           (off_t)i * UCPG_REGISTRY_GROUP_MEMBERS_SIZE;
}

static int ucpg_registry_group_hdr_sane(const ucpg_registry_group_hdr_t *h)
{
    return (h->state == UCPG_REGISTRY_SLOT_USED) &&
           (h->name_len <= UCPG_REGISTRY_GROUP_NAME_MAX) && (h->gen != 0) &&
           (h->nmembers <= UCPG_REGISTRY_GROUP_MEMBERS);
}

static ucpg_status_t ucpg_registry_group_read_hdrs(ucpg_registry_t *reg,
                                                   ucpg_registry_group_hdr_t *hdrs)
{
    return ucpg_registry_pio(0, reg->fd, hdrs, UCPG_REGISTRY_GROUP_HDRS_SIZE,
                             ucpg_registry_group_hdr_offset(reg, 0));
}

static ucpg_status_t ucpg_registry_group_write_hdr(ucpg_registry_t *reg, uint32_t i,
                                                   ucpg_registry_group_hdr_t *hdr)
{
    return ucpg_registry_pio(1, reg->fd, hdr, sizeof(*hdr),
                             ucpg_registry_group_hdr_offset(reg, i));
}

void ucpg_registry_set_oracle(ucpg_registry_t *reg, uint32_t self_node,
                              ucpg_registry_alive_fn_t alive, void *arg)
{
    pthread_mutex_lock(&reg->lock);
    reg->self_node = self_node;
    reg->alive_fn  = alive;
    reg->alive_arg = arg;
    pthread_mutex_unlock(&reg->lock);
}

static int ucpg_registry_member_alive(ucpg_registry_t *reg, const ucpg_registry_gmember_t *m)
{
    if ((reg->alive_fn != NULL) && (m->nodeid != reg->self_node)) {
        return reg->alive_fn(reg->alive_arg, m->slot, m->uuid);
    }
    return ucpg_registry_owner_alive(reg, m->slot, m->uuid);
}

/* Reads entry i's members and keeps only the live ones; returns how many. */
static uint32_t ucpg_registry_group_live_members(ucpg_registry_t *reg, uint32_t i,
                                                 const ucpg_registry_group_hdr_t *hdr,
                                                 ucpg_registry_gmember_t *members)
{
    uint32_t n = 0, k;

    if (ucpg_registry_pio(0, reg->fd, members, hdr->nmembers * sizeof(*members),
                          ucpg_registry_group_members_offset(reg, i)) != UCPG_OK) {
        return 0;
    }
    for (k = 0; k < hdr->nmembers; ++k) {
        if (ucpg_registry_member_alive(reg, &members[k])) {
            members[n++] = members[k];
        }
    }
    return n;
}

static int ucpg_registry_group_name_eq(const ucpg_registry_group_hdr_t *h, const void *name,
                                       size_t name_len)
{
    return (h->name_len == name_len) && (memcmp(h->name, name, name_len) == 0);
}

/* Writes entry i: group name, incarnation gen, and a view of nmembers
 * (at least one) whose first member is the sequencer. */
static ucpg_status_t ucpg_registry_group_write(ucpg_registry_t *reg, uint32_t i,
                                               const void *name, size_t name_len, uint64_t gen,
                                               uint64_t view_id,
                                               const ucpg_registry_gmember_t *members,
                                               uint32_t nmembers, ucpg_registry_group_hdr_t *hdr)
{
    ucpg_status_t status;

    memset(hdr, 0, sizeof(*hdr));
    hdr->state    = UCPG_REGISTRY_SLOT_USED;
    hdr->name_len = (uint32_t)name_len;
    if (name_len > 0) {
        memcpy(hdr->name, name, name_len);
    }
    hdr->gen      = gen;
    hdr->seq_slot = members[0].slot;
    hdr->seq_uuid = members[0].uuid;
    hdr->view_id  = view_id;
    hdr->nmembers = nmembers;
    status = ucpg_registry_pio(1, reg->fd, (void*)members, nmembers * sizeof(*members),
                               ucpg_registry_group_members_offset(reg, i));
    return (status == UCPG_OK) ? ucpg_registry_group_write_hdr(reg, i, hdr) : status;
}

/* A fresh incarnation of name at entry i with creator alone in it. */
static ucpg_status_t ucpg_registry_group_create(ucpg_registry_t *reg, uint32_t i,
                                                const void *name, size_t name_len,
                                                const ucpg_registry_gmember_t *creator,
                                                ucpg_registry_group_hdr_t *hdr)
{
    uint64_t gen;

    do {
        gen = ucpg_proc_random64();
    } while (gen == 0);
    return ucpg_registry_group_write(reg, i, name, name_len, gen, 1, creator, 1, hdr);
}

static void ucpg_registry_group_export(uint32_t i, const ucpg_registry_group_hdr_t *h,
                                       uint32_t nlive, ucpg_registry_group_t *g)
{
    memset(g, 0, sizeof(*g));
    g->index    = i;
    g->gen      = h->gen;
    g->name_len = h->name_len;
    memcpy(g->name, h->name, h->name_len);
    g->seq_slot = h->seq_slot;
    g->seq_uuid = h->seq_uuid;
    g->view_id  = h->view_id;
    g->nmembers = nlive;
}

/* Where name is in the directory (called locked). */
typedef struct ucpg_registry_group_find {
    ucpg_registry_group_hdr_t *hdrs;      /* every entry header, read in one go */
    ucpg_registry_gmember_t   *members;   /* the live members of the entry found */
    int                        found;     /* entry of name, or -1 */
    int                        free_index;/* first free entry, or -1 */
    uint32_t                   nlive;
} ucpg_registry_group_find_t;

static ucpg_status_t ucpg_registry_group_find(ucpg_registry_t *reg, const void *name,
                                              size_t name_len, ucpg_registry_group_find_t *f)
{
    ucpg_status_t status = ucpg_registry_group_read_hdrs(reg, f->hdrs);
    uint32_t i;

    f->found      = -1;
    f->free_index = -1;
    f->nlive      = 0;
    for (i = 0; (status == UCPG_OK) && (i < UCPG_REGISTRY_NGROUPS) && (f->found < 0); ++i) {
        if (!ucpg_registry_group_hdr_sane(&f->hdrs[i])) {
            f->free_index = (f->free_index < 0) ? (int)i : f->free_index;
        } else if (ucpg_registry_group_name_eq(&f->hdrs[i], name, name_len)) {
            f->nlive = ucpg_registry_group_live_members(reg, i, &f->hdrs[i], f->members);
            f->found = (int)i;
        }
    }
    return status;
}

/* Runs op(reg, &find, ctx) with the registry locked and name looked up. */
typedef ucpg_status_t (*ucpg_registry_group_op_t)(ucpg_registry_t *reg,
                                                  ucpg_registry_group_find_t *f, void *ctx);

static ucpg_status_t ucpg_registry_group_locked(ucpg_registry_t *reg, const void *name,
                                                size_t name_len, ucpg_registry_group_op_t op,
                                                void *ctx)
{
    ucpg_registry_group_find_t f;
    ucpg_status_t status;

    f.hdrs    = malloc(UCPG_REGISTRY_GROUP_HDRS_SIZE);
    f.members = malloc(UCPG_REGISTRY_GROUP_MEMBERS_SIZE);
    if ((f.hdrs == NULL) || (f.members == NULL)) {
        status = UCPG_ERR_NO_MEMORY;
        goto out_free;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        goto out_free;
    }
    status = ucpg_registry_group_find(reg, name, name_len, &f);
    if (status == UCPG_OK) {
        status = op(reg, &f, ctx);
    }
    ucpg_registry_unlock(reg);
out_free:
    free(f.members);
    free(f.hdrs);
    return status;
}

/* Where a new incarnation of the name goes: its old entry, else the first
 * free one. 0 if the directory is full. */
static int ucpg_registry_group_place(const ucpg_registry_group_find_t *f, uint32_t *i_p)
{
    if (f->found >= 0) {
        *i_p = (uint32_t)f->found;
    } else if (f->free_index >= 0) {
        *i_p = (uint32_t)f->free_index;
    }
    return (f->found >= 0) || (f->free_index >= 0);
}

/* Is m the only live member of the entry found? */
static int ucpg_registry_group_only(const ucpg_registry_group_find_t *f,
                                    const ucpg_registry_gmember_t *m)
{
    return (f->nlive == 1) && (f->members[0].slot == m->slot) &&
           (f->members[0].uuid == m->uuid);
}

/* What open and supersede ask for. */
typedef struct ucpg_registry_group_open_ctx {
    const void                    *name;
    size_t                         name_len;
    const ucpg_registry_gmember_t *creator;
    int                            may_create;
    uint64_t                       old_gen;   /* supersede: the incarnation to replace */
    ucpg_registry_group_t         *group;
    int                           *created;
} ucpg_registry_group_open_ctx_t;

/* Writes a new incarnation with c's creator alone at entry i and returns it. */
static ucpg_status_t ucpg_registry_group_create_export(ucpg_registry_t *reg, uint32_t i,
                                                       const ucpg_registry_group_open_ctx_t *c)
{
    ucpg_registry_group_hdr_t hdr;
    ucpg_status_t status = ucpg_registry_group_create(reg, i, c->name, c->name_len, c->creator,
                                                      &hdr);

    ucpg_registry_group_export(i, &hdr, 1, c->group);
    return status;
}

static ucpg_status_t ucpg_registry_group_open_op(ucpg_registry_t *reg,
                                                 ucpg_registry_group_find_t *f, void *arg)
{
    ucpg_registry_group_open_ctx_t *c = arg;
    ucpg_status_t status;
    uint32_t i = 0;

    if ((f->found >= 0) && (f->nlive > 0) && !ucpg_registry_group_only(f, c->creator)) {
        ucpg_registry_group_export((uint32_t)f->found, &f->hdrs[f->found], f->nlive, c->group);
        return UCPG_OK;
    }
    /* Absent, every member died, or the joiner is all that lives of it: the
     * answer to its own creation was lost, or its leave is not recorded yet;
     * nobody else can be in that group. (Re)create it in place. */
    if (!c->may_create) {
        return UCPG_ERR_BUSY;
    }
    if (!ucpg_registry_group_place(f, &i)) {
        return UCPG_ERR_NO_RESOURCE;
    }
    status      = ucpg_registry_group_create_export(reg, i, c);
    *c->created = (status == UCPG_OK);
    return status;
}

ucpg_status_t ucpg_registry_group_open(ucpg_registry_t *reg, const void *name, size_t name_len,
                                       const ucpg_registry_gmember_t *creator, int may_create,
                                       ucpg_registry_group_t *group_p, int *created_p)
{
    ucpg_registry_group_open_ctx_t ctx = {name, name_len, creator, may_create, 0, group_p,
                                          created_p};

    if ((name_len > UCPG_REGISTRY_GROUP_NAME_MAX) || ((name == NULL) && (name_len > 0)) ||
        (creator == NULL) || (group_p == NULL) || (created_p == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    *created_p = 0;
    return ucpg_registry_group_locked(reg, name, name_len, ucpg_registry_group_open_op, &ctx);
}

static ucpg_status_t ucpg_registry_group_supersede_op(ucpg_registry_t *reg,
                                                      ucpg_registry_group_find_t *f, void *arg)
{
    const ucpg_registry_group_open_ctx_t *c = arg;

    if (f->found < 0) {
        return UCPG_ERR_NOT_FOUND;
    }
    if (f->hdrs[f->found].gen != c->old_gen) {
        return UCPG_ERR_BUSY;             /* it changed since the caller looked */
    }
    return ucpg_registry_group_create_export(reg, (uint32_t)f->found, c);
}

ucpg_status_t ucpg_registry_group_supersede(ucpg_registry_t *reg, const void *name,
                                            size_t name_len, uint64_t old_gen,
                                            const ucpg_registry_gmember_t *creator,
                                            ucpg_registry_group_t *group_p)
{
    ucpg_registry_group_open_ctx_t ctx = {name, name_len, creator, 0, old_gen, group_p, NULL};

    if ((name_len > UCPG_REGISTRY_GROUP_NAME_MAX) || ((name == NULL) && (name_len > 0)) ||
        (creator == NULL) || (group_p == NULL) || (old_gen == 0)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    return ucpg_registry_group_locked(reg, name, name_len, ucpg_registry_group_supersede_op,
                                      &ctx);
}

typedef struct ucpg_registry_group_publish_ctx {
    const void                    *name;
    size_t                         name_len;
    uint64_t                       gen;
    uint64_t                       view_id;
    const ucpg_registry_gmember_t *members;
    uint32_t                       nmembers;
} ucpg_registry_group_publish_ctx_t;

static ucpg_status_t ucpg_registry_group_publish_op(ucpg_registry_t *reg,
                                                    ucpg_registry_group_find_t *f, void *arg)
{
    ucpg_registry_group_publish_ctx_t *c = arg;
    ucpg_registry_group_hdr_t hdr;
    uint32_t i = 0;

    if ((f->found >= 0) && (f->hdrs[f->found].gen == c->gen)) {
        i = (uint32_t)f->found;
        if (c->view_id < f->hdrs[i].view_id) {
            return UCPG_OK;                        /* a late writer */
        }
        if (c->nmembers == 0) {
            memset(&hdr, 0, sizeof(hdr));
            return ucpg_registry_group_write_hdr(reg, i, &hdr);
        }
    } else if ((f->found >= 0) && (f->nlive > 0)) {
        return UCPG_ERR_EXISTS;                    /* another incarnation lives */
    } else if (c->nmembers == 0) {
        return UCPG_OK;                            /* nothing to record */
    } else if (!ucpg_registry_group_place(f, &i)) {
        return UCPG_ERR_NO_RESOURCE;
    }
    return ucpg_registry_group_write(reg, i, c->name, c->name_len, c->gen, c->view_id,
                                     c->members, c->nmembers, &hdr);
}

ucpg_status_t ucpg_registry_group_publish(ucpg_registry_t *reg, const void *name,
                                          size_t name_len, uint64_t gen, uint64_t view_id,
                                          const ucpg_registry_gmember_t *members,
                                          uint32_t nmembers)
{
    ucpg_registry_group_publish_ctx_t ctx = {name, name_len, gen, view_id, members, nmembers};

    if ((name_len > UCPG_REGISTRY_GROUP_NAME_MAX) || ((name == NULL) && (name_len > 0)) ||
        (gen == 0) || (nmembers > UCPG_REGISTRY_GROUP_MEMBERS) ||
        ((members == NULL) && (nmembers > 0))) {
        return UCPG_ERR_INVALID_PARAM;
    }
    return ucpg_registry_group_locked(reg, name, name_len, ucpg_registry_group_publish_op, &ctx);
}

ucpg_status_t ucpg_registry_group_foreach(ucpg_registry_t *reg, const void *name,
                                          size_t name_len, ucpg_registry_group_cb_t cb,
                                          void *arg)
{
    ucpg_registry_group_hdr_t *hdrs;
    ucpg_registry_gmember_t *members;
    ucpg_registry_group_t group;
    ucpg_status_t status;
    uint32_t i, nlive;

    if ((cb == NULL) || (name_len > UCPG_REGISTRY_GROUP_NAME_MAX)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    hdrs    = malloc(UCPG_REGISTRY_GROUP_HDRS_SIZE);
    members = malloc(UCPG_REGISTRY_GROUP_MEMBERS_SIZE);
    if ((hdrs == NULL) || (members == NULL)) {
        status = UCPG_ERR_NO_MEMORY;
        goto out_free;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        goto out_free;
    }
    status = ucpg_registry_group_read_hdrs(reg, hdrs);
    for (i = 0; (status == UCPG_OK) && (i < UCPG_REGISTRY_NGROUPS); ++i) {
        if (!ucpg_registry_group_hdr_sane(&hdrs[i]) ||
            ((name != NULL) && !ucpg_registry_group_name_eq(&hdrs[i], name, name_len))) {
            continue;
        }
        nlive = ucpg_registry_group_live_members(reg, i, &hdrs[i], members);
        if (nlive > 0) {
            ucpg_registry_group_export(i, &hdrs[i], nlive, &group);
            cb(arg, &group, members, nlive);
        }
    }
    ucpg_registry_unlock(reg);
out_free:
    free(members);
    free(hdrs);
    return status;
}

ucpg_status_t ucpg_registry_group_clear(ucpg_registry_t *reg)
{
    ucpg_registry_group_hdr_t *hdrs = calloc(1, UCPG_REGISTRY_GROUP_HDRS_SIZE);
    ucpg_status_t status;

    if (hdrs == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    status = ucpg_registry_lock(reg);
    if (status == UCPG_OK) {
        status = ucpg_registry_pio(1, reg->fd, hdrs, UCPG_REGISTRY_GROUP_HDRS_SIZE,
                                   ucpg_registry_group_hdr_offset(reg, 0));
        ucpg_registry_unlock(reg);
    }
    free(hdrs);
    return status;
}
