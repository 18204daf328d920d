/*
 * wire.c - little-endian byte codec, the common AM header and the core
 * control messages. See wire.h for the format rules.
 */
#include "wire.h"

#include <string.h>

ucpg_status_t ucpg_wire_reader_finish(const ucpg_wire_reader_t *r)
{
    return (!r->short_read && (r->pos == r->len)) ? UCPG_OK : UCPG_ERR_MESSAGE;
}

void ucpg_wire_hdr_encode(const ucpg_wire_hdr_t *hdr, uint8_t out[UCPG_WIRE_HDR_LEN])
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_WIRE_HDR_LEN);
    ucpg_wire_put_u16(&w, UCPG_WIRE_MAGIC);
    ucpg_wire_put_u8(&w, UCPG_WIRE_VERSION);
    ucpg_wire_put_u8(&w, hdr->am_id);
    ucpg_wire_put_u32(&w, hdr->src_peer);
    ucpg_wire_put_u64(&w, hdr->src_uuid);
}

ucpg_status_t ucpg_wire_hdr_decode(const void *buf, size_t len, ucpg_wire_hdr_t *hdr_p)
{
    ucpg_wire_reader_t r;
    ucpg_wire_hdr_t hdr;
    uint16_t magic;
    uint8_t version;

    /* The common header is a prefix: read exactly its bytes. */
    ucpg_wire_reader_init(&r, buf, (len < UCPG_WIRE_HDR_LEN) ? len : UCPG_WIRE_HDR_LEN);
    magic        = ucpg_wire_get_u16(&r);
    version      = ucpg_wire_get_u8(&r);
    hdr.am_id    = ucpg_wire_get_u8(&r);
    hdr.src_peer = ucpg_wire_get_u32(&r);
    hdr.src_uuid = ucpg_wire_get_u64(&r);
    if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || (magic != UCPG_WIRE_MAGIC) ||
        (version != UCPG_WIRE_VERSION) || (hdr.src_uuid == 0)) {
        return UCPG_ERR_MESSAGE;
    }
    *hdr_p = hdr;
    return UCPG_OK;
}

size_t ucpg_wire_ctl_encode(const ucpg_wire_ctl_t *ctl, uint8_t out[UCPG_WIRE_CTL_LEN])
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_WIRE_CTL_LEN);
    ucpg_wire_put_u8(&w, ctl->type);
    ucpg_wire_put_u32(&w, ctl->nodeid);
    ucpg_wire_put_u32(&w, ctl->pid);
    ucpg_wire_put_u64(&w, ctl->starttime);
    ucpg_wire_put_u64(&w, ctl->secret);
    ucpg_wire_put_u64(&w, ctl->cookie);
    return w.len;
}

static int ucpg_wire_ctl_carries_address(uint8_t type)
{
    return (type == UCPG_WIRE_CTL_HELLO) || (type == UCPG_WIRE_CTL_HELLO_ACK);
}

ucpg_status_t ucpg_wire_ctl_decode(const void *buf, size_t len, size_t data_len,
                                   ucpg_wire_ctl_t *ctl_p)
{
    ucpg_wire_reader_t r;
    ucpg_wire_ctl_t ctl;

    ucpg_wire_reader_init(&r, buf, len);
    ctl.type      = ucpg_wire_get_u8(&r);
    ctl.nodeid    = ucpg_wire_get_u32(&r);
    ctl.pid       = ucpg_wire_get_u32(&r);
    ctl.starttime = ucpg_wire_get_u64(&r);
    ctl.secret    = ucpg_wire_get_u64(&r);
    ctl.cookie    = ucpg_wire_get_u64(&r);
    if (ucpg_wire_reader_finish(&r) != UCPG_OK) {
        return UCPG_ERR_MESSAGE;
    }
    if ((ctl.type < UCPG_WIRE_CTL_HELLO) || (ctl.type > UCPG_WIRE_CTL_LAST) ||
        (ctl.nodeid == 0) || (ctl.nodeid > INT32_MAX) || (ctl.pid == 0) ||
        (ctl.pid > INT32_MAX)) {
        return UCPG_ERR_MESSAGE;
    }
    if (ucpg_wire_ctl_carries_address(ctl.type)) {
        if ((data_len == 0) || (data_len > UCPG_WIRE_ADDR_MAX)) {
            return UCPG_ERR_MESSAGE;
        }
    } else if (data_len != 0) {
        return UCPG_ERR_MESSAGE;
    }
    *ctl_p = ctl;
    return UCPG_OK;
}

void ucpg_wire_shm_encode(const ucpg_wire_shm_t *msg, uint8_t out[UCPG_WIRE_SHM_LEN])
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_WIRE_SHM_LEN);
    ucpg_wire_put_u8(&w, msg->type);
    ucpg_wire_put_u8(&w, msg->am_id);
    ucpg_wire_put_u32(&w, (uint32_t)msg->shmid);
    ucpg_wire_put_u64(&w, msg->size);
    ucpg_wire_put_u64(&w, msg->cookie);
    ucpg_wire_put_u64(&w, msg->offset);
    ucpg_wire_put_u64(&w, msg->gen);
    ucpg_wire_put_u64(&w, msg->len);
}

ucpg_status_t ucpg_wire_shm_decode(const void *buf, size_t len, ucpg_wire_shm_t *msg_p)
{
    ucpg_wire_reader_t r;
    ucpg_wire_shm_t msg;
    uint32_t shmid;

    ucpg_wire_reader_init(&r, buf, (len < UCPG_WIRE_SHM_LEN) ? len : UCPG_WIRE_SHM_LEN);
    msg.type   = ucpg_wire_get_u8(&r);
    msg.am_id  = ucpg_wire_get_u8(&r);
    shmid      = ucpg_wire_get_u32(&r);
    msg.size   = ucpg_wire_get_u64(&r);
    msg.cookie = ucpg_wire_get_u64(&r);
    msg.offset = ucpg_wire_get_u64(&r);
    msg.gen    = ucpg_wire_get_u64(&r);
    msg.len    = ucpg_wire_get_u64(&r);
    if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || (msg.type < UCPG_WIRE_SHM_OFFER) ||
        (msg.type > UCPG_WIRE_SHM_DONE) || (shmid > INT32_MAX)) {
        return UCPG_ERR_MESSAGE;
    }
    msg.shmid = (int32_t)shmid;
    if (((msg.type == UCPG_WIRE_SHM_BODY) || (msg.type == UCPG_WIRE_SHM_DONE)) &&
        (msg.gen == 0)) {
        return UCPG_ERR_MESSAGE;
    }
    if ((msg.type != UCPG_WIRE_SHM_BODY) && (len != UCPG_WIRE_SHM_LEN)) {
        return UCPG_ERR_MESSAGE;   /* only a BODY has more (its message's header) */
    }
    *msg_p = msg;
    return UCPG_OK;
}

static int ucpg_wire_card_valid(const ucpg_wire_card_t *card)
{
    return (card->uuid != 0) && (card->pid != 0) && (card->pid <= INT32_MAX) &&
           (card->nodeid != 0) && (card->nodeid <= INT32_MAX) &&
           (card->address_len != 0) && (card->address_len <= UCPG_WIRE_ADDR_MAX);
}

size_t ucpg_wire_card_encode(const ucpg_wire_card_t *card, void *buf, size_t cap)
{
    ucpg_wire_writer_t w;

    if (!ucpg_wire_card_valid(card) || (card->address == NULL)) {
        return 0;
    }
    ucpg_wire_writer_init(&w, buf, cap);
    ucpg_wire_put_u32(&w, UCPG_WIRE_CARD_MAGIC);
    ucpg_wire_put_u8(&w, UCPG_WIRE_VERSION);
    ucpg_wire_put_u64(&w, card->uuid);
    ucpg_wire_put_u64(&w, card->starttime);
    ucpg_wire_put_u32(&w, card->pid);
    ucpg_wire_put_u32(&w, card->nodeid);
    ucpg_wire_put_u32(&w, (uint32_t)card->address_len);
    ucpg_wire_put_bytes(&w, card->address, card->address_len);
    return w.overflow ? 0 : w.len;
}

ucpg_status_t ucpg_wire_card_decode(const void *buf, size_t len, ucpg_wire_card_t *card_p)
{
    ucpg_wire_reader_t r;
    ucpg_wire_card_t card;
    uint32_t magic;
    uint8_t version;

    ucpg_wire_reader_init(&r, buf, len);
    magic            = ucpg_wire_get_u32(&r);
    version          = ucpg_wire_get_u8(&r);
    card.uuid        = ucpg_wire_get_u64(&r);
    card.starttime   = ucpg_wire_get_u64(&r);
    card.pid         = ucpg_wire_get_u32(&r);
    card.nodeid      = ucpg_wire_get_u32(&r);
    card.address_len = ucpg_wire_get_u32(&r);
    if (r.short_read || (magic != UCPG_WIRE_CARD_MAGIC) || (version != UCPG_WIRE_VERSION) ||
        !ucpg_wire_card_valid(&card)) {
        return UCPG_ERR_MESSAGE;
    }
    card.address = ucpg_wire_get_bytes(&r, card.address_len);
    if (ucpg_wire_reader_finish(&r) != UCPG_OK) {
        return UCPG_ERR_MESSAGE;
    }
    *card_p = card;
    return UCPG_OK;
}
