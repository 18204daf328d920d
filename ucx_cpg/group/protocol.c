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

/* Where each field of the fixed header lies (UCPG_GROUP_MSG_LEN in all). */
enum {
    UCPG_GROUP_OFF_TYPE   = 0,
    UCPG_GROUP_OFF_KIND   = 1,
    UCPG_GROUP_OFF_GUAR   = 2,
    UCPG_GROUP_OFF_FLAGS  = 3,
    UCPG_GROUP_OFF_GINDEX = 4,
    UCPG_GROUP_OFF_GGEN   = 8,
    UCPG_GROUP_OFF_A      = 16,
    UCPG_GROUP_OFF_B      = 24,
    UCPG_GROUP_OFF_SLOT   = 32,
    UCPG_GROUP_OFF_NODEID = 36,
    UCPG_GROUP_OFF_PID    = 40,
    UCPG_GROUP_OFF_UUID   = 44,
    UCPG_GROUP_OFF_LSEQ   = 52
};

_Static_assert(UCPG_GROUP_OFF_LSEQ + 8 == UCPG_GROUP_MSG_LEN, "the header's layout");

size_t ucpg_group_msg_encode(const ucpg_group_msg_t *msg, uint8_t out[UCPG_GROUP_MSG_LEN])
{
    out[UCPG_GROUP_OFF_TYPE]  = msg->type;
    out[UCPG_GROUP_OFF_KIND]  = msg->kind;
    out[UCPG_GROUP_OFF_GUAR]  = msg->guarantee;
    out[UCPG_GROUP_OFF_FLAGS] = msg->flags;
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_GINDEX, msg->gindex, 4);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_GGEN, msg->ggen, 8);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_A, msg->a, 8);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_B, msg->b, 8);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_SLOT, msg->origin.slot, 4);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_NODEID, msg->origin.nodeid, 4);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_PID, msg->origin.pid, 4);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_UUID, msg->origin.uuid, 8);
    ucpg_wire_le_store(out + UCPG_GROUP_OFF_LSEQ, msg->origin.lseq, 8);
    return UCPG_GROUP_MSG_LEN;
}

/* What each kind may carry: LEAVE's guarantee field is a CPG reason. */
static int ucpg_group_msg_valid(const ucpg_group_msg_t *m)
{
    if ((m->type == 0) || (m->type > UCPG_GROUP_MSG_LAST) || (m->kind > UCPG_GROUP_KIND_LAST) ||
        ((m->flags & ~(UCPG_GROUP_FLAG_RETRANS | UCPG_GROUP_FLAG_OWN |
                       UCPG_GROUP_FLAG_REPAIR | UCPG_GROUP_FLAG_FLAT |
                       UCPG_GROUP_FLAG_SUPERSEDED)) != 0) ||
        (m->ggen == 0)) {
        return 0;
    }
    if ((m->flags & UCPG_GROUP_FLAG_REPAIR) && (m->type != UCPG_GROUP_MSG_ACK)) {
        return 0;
    }
    if ((m->flags & UCPG_GROUP_FLAG_SUPERSEDED) && (m->type != UCPG_GROUP_MSG_EXPEL)) {
        return 0;
    }
    if ((m->flags & UCPG_GROUP_FLAG_RETRANS) && (m->type != UCPG_GROUP_MSG_EVT)) {
        return 0;                       /* only events are resent */
    }
    if ((m->flags & (UCPG_GROUP_FLAG_OWN | UCPG_GROUP_FLAG_FLAT)) &&
        ((m->type != UCPG_GROUP_MSG_EVT) || (m->kind != UCPG_GROUP_KIND_DATA) ||
         (m->flags & UCPG_GROUP_FLAG_RETRANS))) {
        return 0;                       /* only fresh DATA events */
    }
    if ((m->flags & UCPG_GROUP_FLAG_OWN) && (m->flags & UCPG_GROUP_FLAG_FLAT)) {
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

/*
 * The header has a fixed layout, so it is read at fixed offsets straight
 * into the caller's struct once its length is known to be exact: decoding
 * into a local and copying it out made each 16-byte load of the copy wait
 * for the narrower stores just made (a failed store forwarding), 6% of all
 * CPU in an 8-member flood, where every delivered message passes here.
 */
ucpg_status_t ucpg_group_msg_decode(const void *buf, size_t len, ucpg_group_msg_t *msg)
{
    const uint8_t *p = buf;

    if ((p == NULL) || (len != UCPG_GROUP_MSG_LEN)) {
        return UCPG_ERR_MESSAGE;
    }
    msg->type          = p[UCPG_GROUP_OFF_TYPE];
    msg->kind          = p[UCPG_GROUP_OFF_KIND];
    msg->guarantee     = p[UCPG_GROUP_OFF_GUAR];
    msg->flags         = p[UCPG_GROUP_OFF_FLAGS];
    msg->gindex        = (uint32_t)ucpg_wire_le_load(p + UCPG_GROUP_OFF_GINDEX, 4);
    msg->ggen          = ucpg_wire_le_load(p + UCPG_GROUP_OFF_GGEN, 8);
    msg->a             = ucpg_wire_le_load(p + UCPG_GROUP_OFF_A, 8);
    msg->b             = ucpg_wire_le_load(p + UCPG_GROUP_OFF_B, 8);
    msg->origin.slot   = (uint32_t)ucpg_wire_le_load(p + UCPG_GROUP_OFF_SLOT, 4);
    msg->origin.nodeid = (uint32_t)ucpg_wire_le_load(p + UCPG_GROUP_OFF_NODEID, 4);
    msg->origin.pid    = (uint32_t)ucpg_wire_le_load(p + UCPG_GROUP_OFF_PID, 4);
    msg->origin.uuid   = ucpg_wire_le_load(p + UCPG_GROUP_OFF_UUID, 8);
    msg->origin.lseq   = ucpg_wire_le_load(p + UCPG_GROUP_OFF_LSEQ, 8);
    return ucpg_group_msg_valid(msg) ? UCPG_OK : UCPG_ERR_MESSAGE;
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
