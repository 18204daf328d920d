/* protocol.c - encode and validate group messages (see protocol.h). */
#include "protocol.h"

#include <stdlib.h>
#include <string.h>

#include "core/wire.h"

static void ucpg_group_origin_put(ucpg_wire_writer_t *w, const ucpg_group_origin_t *o)
{
    ucpg_wire_put_u32(w, o->slot);
    ucpg_wire_put_u32(w, o->nodeid);
    ucpg_wire_put_u32(w, o->pid);
    ucpg_wire_put_u64(w, o->uuid);
    ucpg_wire_put_u64(w, o->lseq);
}

static void ucpg_group_origin_get(ucpg_wire_reader_t *r, ucpg_group_origin_t *o)
{
    o->slot   = ucpg_wire_get_u32(r);
    o->nodeid = ucpg_wire_get_u32(r);
    o->pid    = ucpg_wire_get_u32(r);
    o->uuid   = ucpg_wire_get_u64(r);
    o->lseq   = ucpg_wire_get_u64(r);
}

size_t ucpg_group_msg_encode(const ucpg_group_msg_t *msg, uint8_t out[UCPG_GROUP_MSG_LEN])
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_GROUP_MSG_LEN);
    ucpg_wire_put_u8(&w, msg->type);
    ucpg_wire_put_u8(&w, msg->kind);
    ucpg_wire_put_u8(&w, msg->guarantee);
    ucpg_wire_put_u8(&w, msg->flags);
    ucpg_wire_put_u32(&w, msg->gindex);
    ucpg_wire_put_u64(&w, msg->ggen);
    ucpg_wire_put_u64(&w, msg->a);
    ucpg_wire_put_u64(&w, msg->b);
    ucpg_group_origin_put(&w, &msg->origin);
    return w.len;
}

/* What each kind may carry: LEAVE's guarantee field is a CPG reason. */
static int ucpg_group_msg_valid(const ucpg_group_msg_t *m)
{
    if ((m->type == 0) || (m->type > UCPG_GROUP_MSG_LAST) || (m->kind > UCPG_GROUP_KIND_LAST) ||
        ((m->flags & ~(UCPG_GROUP_FLAG_RETRANS | UCPG_GROUP_FLAG_OWN |
                       UCPG_GROUP_FLAG_REPAIR)) != 0) ||
        (m->ggen == 0)) {
        return 0;
    }
    if ((m->flags & UCPG_GROUP_FLAG_REPAIR) && (m->type != UCPG_GROUP_MSG_ACK)) {
        return 0;
    }
    if ((m->flags & UCPG_GROUP_FLAG_RETRANS) && (m->type != UCPG_GROUP_MSG_EVT)) {
        return 0;                       /* only events are resent */
    }
    if ((m->flags & UCPG_GROUP_FLAG_OWN) &&
        ((m->type != UCPG_GROUP_MSG_EVT) || (m->kind != UCPG_GROUP_KIND_DATA) ||
         (m->flags & UCPG_GROUP_FLAG_RETRANS))) {
        return 0;
    }
    if (m->kind == UCPG_GROUP_KIND_LEAVE) {
        return (m->type == UCPG_GROUP_MSG_REQ) && (m->guarantee >= 2) && (m->guarantee <= 5);
    }
    if (m->guarantee > 3) {
        return 0;
    }
    switch (m->type) {
    case UCPG_GROUP_MSG_REQ:
        return (m->kind != UCPG_GROUP_KIND_VIEW) && (m->a != 0);
    case UCPG_GROUP_MSG_EVT:
        return ((m->kind == UCPG_GROUP_KIND_DATA) || (m->kind == UCPG_GROUP_KIND_VIEW)) &&
               (m->a != 0) && (m->b < m->a);
    case UCPG_GROUP_MSG_BATCH:
        return (m->kind == UCPG_GROUP_KIND_DATA) && (m->a != 0) && (m->guarantee == 0);
    case UCPG_GROUP_MSG_SILENT:
    case UCPG_GROUP_MSG_EXPEL:
    case UCPG_GROUP_MSG_UNANSWERED:
        return (m->kind == UCPG_GROUP_KIND_DATA) && (m->origin.uuid != 0);
    case UCPG_GROUP_MSG_PROBE:
    case UCPG_GROUP_MSG_ALIVE:
        return (m->kind == UCPG_GROUP_KIND_DATA) && (m->a != 0);
    default:
        return m->kind == UCPG_GROUP_KIND_DATA;
    }
}

ucpg_status_t ucpg_group_msg_decode(const void *buf, size_t len, ucpg_group_msg_t *msg)
{
    ucpg_wire_reader_t r;
    ucpg_group_msg_t m;

    ucpg_wire_reader_init(&r, buf, len);
    m.type      = ucpg_wire_get_u8(&r);
    m.kind      = ucpg_wire_get_u8(&r);
    m.guarantee = ucpg_wire_get_u8(&r);
    m.flags     = ucpg_wire_get_u8(&r);
    m.gindex    = ucpg_wire_get_u32(&r);
    m.ggen      = ucpg_wire_get_u64(&r);
    m.a         = ucpg_wire_get_u64(&r);
    m.b         = ucpg_wire_get_u64(&r);
    ucpg_group_origin_get(&r, &m.origin);
    if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || !ucpg_group_msg_valid(&m)) {
        return UCPG_ERR_MESSAGE;
    }
    *msg = m;
    return UCPG_OK;
}

/* --- batch body ------------------------------------------------------------ */

size_t ucpg_group_batch_put(void *out, const uint8_t hdr[UCPG_GROUP_MSG_LEN], const void *data,
                            uint32_t len)
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_GROUP_BATCH_ENTRY_HDR + len);
    ucpg_wire_put_u32(&w, len);
    ucpg_wire_put_bytes(&w, hdr, UCPG_GROUP_MSG_LEN);
    ucpg_wire_put_bytes(&w, data, len);
    return w.len;
}

ucpg_status_t ucpg_group_batch_next(const void *buf, size_t len, size_t *pos,
                                    ucpg_group_msg_t *msg, const void **data_p,
                                    size_t *data_len_p)
{
    ucpg_wire_reader_t r;
    const void *hdr;
    uint32_t n;

    if (*pos >= len) {
        return UCPG_ERR_NOT_FOUND;
    }
    ucpg_wire_reader_init(&r, (const uint8_t*)buf + *pos, len - *pos);
    n       = ucpg_wire_get_u32(&r);
    hdr     = ucpg_wire_get_bytes(&r, UCPG_GROUP_MSG_LEN);
    *data_p = ucpg_wire_get_bytes(&r, n);
    if (r.short_read || (ucpg_group_msg_decode(hdr, UCPG_GROUP_MSG_LEN, msg) != UCPG_OK) ||
        (msg->type == UCPG_GROUP_MSG_BATCH)) {
        return UCPG_ERR_MESSAGE;
    }
    *data_len_p = n;
    *pos       += r.pos;
    return UCPG_OK;
}

/* --- view body -------------------------------------------------------------- */

static size_t ucpg_group_vbody_count(const ucpg_group_vbody_t *v)
{
    return (size_t)v->nmembers + v->nleft + v->njoined;
}

size_t ucpg_group_vbody_len(const ucpg_group_vbody_t *v)
{
    return 8 + 3 * 4 + ucpg_group_vbody_count(v) * UCPG_GROUP_VMEMBER_LEN;
}

void ucpg_group_vbody_encode(const ucpg_group_vbody_t *v, void *out)
{
    size_t len = ucpg_group_vbody_len(v), i;
    const ucpg_group_vmember_t *e;
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, len);
    ucpg_wire_put_u64(&w, v->view_id);
    ucpg_wire_put_u32(&w, v->nmembers);
    ucpg_wire_put_u32(&w, v->nleft);
    ucpg_wire_put_u32(&w, v->njoined);
    for (i = 0; i < ucpg_group_vbody_count(v); ++i) {
        e = &v->members[i];
        ucpg_wire_put_u32(&w, e->slot);
        ucpg_wire_put_u32(&w, e->nodeid);
        ucpg_wire_put_u32(&w, e->pid);
        ucpg_wire_put_u32(&w, e->reason);
        ucpg_wire_put_u64(&w, e->uuid);
        ucpg_wire_put_u64(&w, e->next_lseq);
    }
}

/* No process twice in members, nor twice in left or joined. */
static int ucpg_group_vbody_unique(const ucpg_group_vmember_t *list, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; ++i) {
        for (j = i + 1; j < n; ++j) {
            if ((list[i].slot == list[j].slot) && (list[i].uuid == list[j].uuid)) {
                return 0;
            }
        }
    }
    return 1;
}

static int ucpg_group_vbody_valid(const ucpg_group_vbody_t *v)
{
    size_t i, n = ucpg_group_vbody_count(v);

    for (i = 0; i < n; ++i) {
        const ucpg_group_vmember_t *e = &v->members[i];
        int is_member = (i < v->nmembers);
        if ((e->uuid == 0) || (e->pid == 0) || (is_member && (e->reason != 0)) ||
            (!is_member && ((e->reason == 0) || (e->reason > 5)))) {
            return 0;
        }
    }
    return (v->view_id != 0) && ucpg_group_vbody_unique(v->members, v->nmembers) &&
           ucpg_group_vbody_unique(v->members + v->nmembers, v->nleft) &&
           ucpg_group_vbody_unique(v->members + v->nmembers + v->nleft, v->njoined);
}

ucpg_status_t ucpg_group_vbody_decode(const void *buf, size_t len, ucpg_group_vbody_t *v)
{
    ucpg_group_vmember_t *e;
    ucpg_wire_reader_t r;
    size_t i, n;

    memset(v, 0, sizeof(*v));
    ucpg_wire_reader_init(&r, buf, len);
    v->view_id  = ucpg_wire_get_u64(&r);
    v->nmembers = ucpg_wire_get_u32(&r);
    v->nleft    = ucpg_wire_get_u32(&r);
    v->njoined  = ucpg_wire_get_u32(&r);
    if (r.short_read || (v->nmembers > UCPG_GROUP_VIEW_MAX) || (v->nleft > UCPG_GROUP_VIEW_MAX) ||
        (v->njoined > UCPG_GROUP_VIEW_MAX) || (len != ucpg_group_vbody_len(v))) {
        return UCPG_ERR_MESSAGE;
    }
    n          = ucpg_group_vbody_count(v);
    v->members = calloc(n ? n : 1, sizeof(*v->members));
    if (v->members == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < n; ++i) {
        e            = &v->members[i];
        e->slot      = ucpg_wire_get_u32(&r);
        e->nodeid    = ucpg_wire_get_u32(&r);
        e->pid       = ucpg_wire_get_u32(&r);
        e->reason    = ucpg_wire_get_u32(&r);
        e->uuid      = ucpg_wire_get_u64(&r);
        e->next_lseq = ucpg_wire_get_u64(&r);
    }
    if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || !ucpg_group_vbody_valid(v)) {
        free(v->members);
        v->members = NULL;
        return UCPG_ERR_MESSAGE;
    }
    return UCPG_OK;
}

/* --- sync records --------------------------------------------------------- */

size_t ucpg_group_srec_encode(const ucpg_group_srec_t *rec, void *out)
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_GROUP_SREC_HDR_LEN + rec->len);
    ucpg_wire_put_u64(&w, rec->seq);
    ucpg_wire_put_u8(&w, rec->kind);
    ucpg_wire_put_u8(&w, rec->guarantee);
    ucpg_group_origin_put(&w, &rec->origin);
    ucpg_wire_put_u32(&w, rec->len);
    ucpg_wire_put_bytes(&w, rec->data, rec->len);
    return w.len;
}

ucpg_status_t ucpg_group_srec_next(const void *buf, size_t len, size_t *pos,
                                   ucpg_group_srec_t *rec)
{
    ucpg_wire_reader_t r;

    if (*pos >= len) {
        return UCPG_ERR_NOT_FOUND;
    }
    ucpg_wire_reader_init(&r, (const uint8_t*)buf + *pos, len - *pos);
    rec->seq       = ucpg_wire_get_u64(&r);
    rec->kind      = ucpg_wire_get_u8(&r);
    rec->guarantee = ucpg_wire_get_u8(&r);
    ucpg_group_origin_get(&r, &rec->origin);
    rec->len       = ucpg_wire_get_u32(&r);
    rec->data      = ucpg_wire_get_bytes(&r, rec->len);
    if (r.short_read || (rec->seq == 0) || (rec->guarantee > 3) ||
        ((rec->kind != UCPG_GROUP_KIND_DATA) && (rec->kind != UCPG_GROUP_KIND_VIEW))) {
        return UCPG_ERR_MESSAGE;
    }
    *pos += r.pos;
    return UCPG_OK;
}
