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
 * next joiner simply recreates it).
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
        if (ucpg_registry_owner_alive(reg, members[k].slot, members[k].uuid)) {
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

/* Writes a fresh entry i for name with creator as its only member. */
static ucpg_status_t ucpg_registry_group_create(ucpg_registry_t *reg, uint32_t i,
                                                const void *name, size_t name_len,
                                                const ucpg_registry_gmember_t *creator,
                                                ucpg_registry_group_hdr_t *hdr)
{
    ucpg_status_t status;

    memset(hdr, 0, sizeof(*hdr));
    hdr->state    = UCPG_REGISTRY_SLOT_USED;
    hdr->name_len = (uint32_t)name_len;
    memcpy(hdr->name, name, name_len);
    do {
        hdr->gen = ucpg_proc_random64();
    } while (hdr->gen == 0);
    hdr->seq_slot = creator->slot;
    hdr->seq_uuid = creator->uuid;
    hdr->view_id  = 1;
    hdr->nmembers = 1;
    status = ucpg_registry_pio(1, reg->fd, (void*)creator, sizeof(*creator),
                               ucpg_registry_group_members_offset(reg, i));
    return (status == UCPG_OK) ? ucpg_registry_group_write_hdr(reg, i, hdr) : status;
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

ucpg_status_t ucpg_registry_group_open(ucpg_registry_t *reg, const void *name, size_t name_len,
                                       const ucpg_registry_gmember_t *creator,
                                       ucpg_registry_group_t *group_p, int *created_p)
{
    ucpg_registry_group_hdr_t *hdrs, hdr;
    ucpg_registry_gmember_t *members;
    ucpg_status_t status;
    int free_index = -1, found = -1;
    uint32_t i, nlive = 0;

    if ((name_len > UCPG_REGISTRY_GROUP_NAME_MAX) || ((name == NULL) && (name_len > 0)) ||
        (creator == NULL) || (group_p == NULL) || (created_p == NULL)) {
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
    for (i = 0; (status == UCPG_OK) && (i < UCPG_REGISTRY_NGROUPS) && (found < 0); ++i) {
        if (!ucpg_registry_group_hdr_sane(&hdrs[i])) {
            free_index = (free_index < 0) ? (int)i : free_index;
        } else if (ucpg_registry_group_name_eq(&hdrs[i], name, name_len)) {
            nlive = ucpg_registry_group_live_members(reg, i, &hdrs[i], members);
            found = (int)i;
        }
    }
    *created_p = 0;
    if ((status == UCPG_OK) && (found >= 0) && (nlive > 0)) {
        ucpg_registry_group_export((uint32_t)found, &hdrs[found], nlive, group_p);
    } else if (status == UCPG_OK) {
        /* Absent, or every member died: (re)create it in place. */
        i = (found >= 0) ? (uint32_t)found : (uint32_t)free_index;
        if ((found < 0) && (free_index < 0)) {
            status = UCPG_ERR_NO_RESOURCE;
        } else {
            status = ucpg_registry_group_create(reg, i, name, name_len, creator, &hdr);
            ucpg_registry_group_export(i, &hdr, 1, group_p);
            *created_p = (status == UCPG_OK);
        }
    }
    ucpg_registry_unlock(reg);
out_free:
    free(members);
    free(hdrs);
    return status;
}

ucpg_status_t ucpg_registry_group_update(ucpg_registry_t *reg, uint32_t index, uint64_t gen,
                                         uint64_t view_id, uint32_t seq_slot, uint64_t seq_uuid,
                                         const ucpg_registry_gmember_t *members,
                                         uint32_t nmembers)
{
    ucpg_registry_group_hdr_t hdr;
    ucpg_status_t status;

    if ((index >= UCPG_REGISTRY_NGROUPS) || (nmembers > UCPG_REGISTRY_GROUP_MEMBERS) ||
        ((members == NULL) && (nmembers > 0))) {
        return UCPG_ERR_INVALID_PARAM;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_registry_pio(0, reg->fd, &hdr, sizeof(hdr),
                               ucpg_registry_group_hdr_offset(reg, index));
    if ((status == UCPG_OK) && (!ucpg_registry_group_hdr_sane(&hdr) || (hdr.gen != gen))) {
        status = UCPG_ERR_NOT_FOUND;
    }
    if ((status == UCPG_OK) && (view_id >= hdr.view_id)) {
        if (nmembers == 0) {
            memset(&hdr, 0, sizeof(hdr));
        } else {
            hdr.view_id  = view_id;
            hdr.seq_slot = seq_slot;
            hdr.seq_uuid = seq_uuid;
            hdr.nmembers = nmembers;
            status = ucpg_registry_pio(1, reg->fd, (void*)members, nmembers * sizeof(*members),
                                       ucpg_registry_group_members_offset(reg, index));
        }
        if (status == UCPG_OK) {
            status = ucpg_registry_group_write_hdr(reg, index, &hdr);
        }
    }
    ucpg_registry_unlock(reg);
    return status;
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
