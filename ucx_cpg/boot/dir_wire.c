/*
 * dir_wire.c - encoding and validating the group directory's messages
 * (dir_wire.h). Everything a peer sends is checked here before the
 * directory looks at it; fuzz_dir exercises the decoder.
 */
#include "dir_wire.h"

#include <string.h>

size_t ucpg_boot_dir_record_len(uint32_t name_len, uint32_t nmembers)
{
    return 8u + 8u + 4u + 4u + 8u + 4u + name_len + 4u +
           (size_t)nmembers * UCPG_BOOT_DIR_MEMBER_LEN;
}

static void ucpg_boot_dir_put_member(ucpg_wire_writer_t *w, const ucpg_registry_gmember_t *m)
{
    ucpg_wire_put_u32(w, m->slot);
    ucpg_wire_put_u32(w, m->nodeid);
    ucpg_wire_put_u32(w, m->pid);
    ucpg_wire_put_u64(w, m->uuid);
}

static void ucpg_boot_dir_get_member(ucpg_wire_reader_t *r, ucpg_registry_gmember_t *m)
{
    memset(m, 0, sizeof(*m));
    m->slot   = ucpg_wire_get_u32(r);
    m->nodeid = ucpg_wire_get_u32(r);
    m->pid    = ucpg_wire_get_u32(r);
    m->uuid   = ucpg_wire_get_u64(r);
}

static void ucpg_boot_dir_put_name(ucpg_wire_writer_t *w, const void *name, uint32_t name_len)
{
    ucpg_wire_put_u32(w, name_len);
    ucpg_wire_put_bytes(w, name, name_len);
}

/* NULL (and the reader marked short) if the name is too long or cut off. */
static const uint8_t *ucpg_boot_dir_get_name(ucpg_wire_reader_t *r, uint32_t *len_p)
{
    *len_p = ucpg_wire_get_u32(r);
    if (*len_p > UCPG_REGISTRY_GROUP_NAME_MAX) {
        r->short_read = 1;
        return NULL;
    }
    return ucpg_wire_get_bytes(r, *len_p);
}

void ucpg_boot_dir_put_open(ucpg_wire_writer_t *w, const ucpg_registry_gmember_t *creator,
                            const void *name, uint32_t name_len)
{
    ucpg_boot_dir_put_member(w, creator);
    ucpg_boot_dir_put_name(w, name, name_len);
}

void ucpg_boot_dir_put_list(ucpg_wire_writer_t *w, int all, const void *name, uint32_t name_len)
{
    ucpg_wire_put_u8(w, (uint8_t)(all != 0));
    ucpg_boot_dir_put_name(w, name, name_len);
}

void ucpg_boot_dir_put_answer_head(ucpg_wire_writer_t *w, ucpg_status_t status, int created,
                                   uint32_t nrecords)
{
    ucpg_wire_put_u32(w, (uint32_t)(int32_t)status);
    ucpg_wire_put_u8(w, (uint8_t)(created != 0));
    ucpg_wire_put_u32(w, nrecords);
}

void ucpg_boot_dir_put_record(ucpg_wire_writer_t *w, const ucpg_registry_group_t *group,
                              const ucpg_registry_gmember_t *members, uint32_t nmembers)
{
    uint32_t i;

    ucpg_wire_put_u64(w, group->gen);
    ucpg_wire_put_u64(w, group->view_id);
    ucpg_wire_put_u32(w, group->index);
    ucpg_wire_put_u32(w, group->seq_slot);
    ucpg_wire_put_u64(w, group->seq_uuid);
    ucpg_boot_dir_put_name(w, group->name, group->name_len);
    ucpg_wire_put_u32(w, nmembers);
    for (i = 0; i < nmembers; ++i) {
        ucpg_boot_dir_put_member(w, &members[i]);
    }
}

/* Reads one record; with group NULL it only checks it. 0 if malformed. */
static int ucpg_boot_dir_get_record(ucpg_wire_reader_t *r, ucpg_registry_group_t *group,
                                    ucpg_registry_gmember_t *members)
{
    ucpg_registry_group_t g;
    ucpg_registry_gmember_t m;
    const uint8_t *name;
    uint32_t i;

    memset(&g, 0, sizeof(g));
    g.gen     = ucpg_wire_get_u64(r);
    g.view_id = ucpg_wire_get_u64(r);
    g.index    = ucpg_wire_get_u32(r);
    g.seq_slot = ucpg_wire_get_u32(r);
    g.seq_uuid = ucpg_wire_get_u64(r);
    name       = ucpg_boot_dir_get_name(r, &g.name_len);
    g.nmembers = ucpg_wire_get_u32(r);
    if ((name == NULL) || r->short_read || (g.gen == 0) || (g.seq_uuid == 0) ||
        (g.nmembers > UCPG_REGISTRY_GROUP_MEMBERS)) {
        return 0;
    }
    memcpy(g.name, name, g.name_len);
    for (i = 0; i < g.nmembers; ++i) {
        ucpg_boot_dir_get_member(r, (members != NULL) ? &members[i] : &m);
    }
    if (r->short_read) {
        return 0;
    }
    if (group != NULL) {
        *group = g;
    }
    return 1;
}

int ucpg_boot_dir_status_valid(ucpg_status_t status)
{
    return (status == UCPG_OK) || (status == UCPG_ERR_BUSY) ||
           (status == UCPG_ERR_NO_RESOURCE) || (status == UCPG_ERR_NO_MEMORY) ||
           (status == UCPG_ERR_REGISTRY) || (status == UCPG_ERR_INVALID_PARAM);
}

/* Validates nrecords records from the reader's position to its end. */
static int ucpg_boot_dir_check_records(ucpg_wire_reader_t *r, ucpg_boot_dir_msg_t *m)
{
    uint32_t i;

    m->records     = r->buf + r->pos;
    m->records_len = r->len - r->pos;
    for (i = 0; i < m->nrecords; ++i) {
        if (!ucpg_boot_dir_get_record(r, NULL, NULL)) {
            return 0;
        }
    }
    return 1;
}

ucpg_status_t ucpg_boot_dir_msg_decode(uint8_t type, const void *buf, size_t len,
                                       ucpg_boot_dir_msg_t *msg_p)
{
    ucpg_wire_reader_t r;
    ucpg_boot_dir_msg_t m;
    int ok = 1;

    if (buf == NULL) {
        return UCPG_ERR_MESSAGE;          /* every body has a few bytes at least */
    }
    memset(&m, 0, sizeof(m));
    m.type = type;
    ucpg_wire_reader_init(&r, buf, len);
    switch (type) {
    case UCPG_BOOT_MSG_DIR_OPEN:
        ucpg_boot_dir_get_member(&r, &m.creator);
        m.name = ucpg_boot_dir_get_name(&r, &m.name_len);
        ok     = (m.creator.uuid != 0);
        break;
    case UCPG_BOOT_MSG_DIR_LIST:
        m.all  = ucpg_wire_get_u8(&r);
        m.name = ucpg_boot_dir_get_name(&r, &m.name_len);
        ok     = (m.all <= 1);
        break;
    case UCPG_BOOT_MSG_DIR_PUBLISH:
        m.nrecords = 1;
        ok         = ucpg_boot_dir_check_records(&r, &m);
        break;
    case UCPG_BOOT_MSG_DIR_ANSWER:
        m.status   = (ucpg_status_t)(int32_t)ucpg_wire_get_u32(&r);
        m.created  = ucpg_wire_get_u8(&r);
        m.nrecords = ucpg_wire_get_u32(&r);
        ok = !r.short_read && ucpg_boot_dir_status_valid(m.status) && (m.created <= 1) &&
             (m.nrecords <= UCPG_REGISTRY_NGROUPS) &&
             ((m.status == UCPG_OK) || (m.nrecords == 0)) &&
             ucpg_boot_dir_check_records(&r, &m);
        break;
    default:
        ok = 0;
    }
    if (!ok || (ucpg_wire_reader_finish(&r) != UCPG_OK)) {
        return UCPG_ERR_MESSAGE;
    }
    *msg_p = m;
    return UCPG_OK;
}

void ucpg_boot_dir_records_init(ucpg_boot_dir_records_t *it, const ucpg_boot_dir_msg_t *msg)
{
    ucpg_wire_reader_init(&it->r, msg->records, msg->records_len);
    it->left = msg->nrecords;
}

int ucpg_boot_dir_records_next(ucpg_boot_dir_records_t *it, ucpg_registry_group_t *group,
                               ucpg_registry_gmember_t *members)
{
    if (it->left == 0) {
        return 0;
    }
    --it->left;
    return ucpg_boot_dir_get_record(&it->r, group, members);
}
