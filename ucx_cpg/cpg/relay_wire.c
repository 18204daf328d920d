/*
 * relay_wire.c - frames between a forked process's CPG handles and their
 * relay: reading and writing them whole, building and decoding bodies.
 * The format is in relay_wire.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "relay_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- frames on a socket ----------------------------------------------------------- */

/* Writes all of iov, resuming after partial writes. MSG_NOSIGNAL: a relay
 * that died must not kill the application with SIGPIPE. */
static ucpg_status_t ucpg_relay_write_all(int fd, struct iovec *iov, int iovcnt)
{
    struct msghdr mh;
    ssize_t n;

    while (iovcnt > 0) {
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov    = iov;
        mh.msg_iovlen = (size_t)iovcnt;
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return UCPG_ERR_PEER_DOWN;
        }
        while ((iovcnt > 0) && ((size_t)n >= iov->iov_len)) {
            n -= (ssize_t)iov->iov_len;
            ++iov;
            --iovcnt;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t*)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_relay_frame_send(int fd, uint32_t type, const struct iovec *iov, int iovcnt)
{
    uint8_t hdr[UCPG_RELAY_FRAME_HDR];
    struct iovec stack[9], *v = stack;
    ucpg_wire_writer_t w;
    ucpg_status_t status;
    uint64_t len = 0;
    int i;

    for (i = 0; i < iovcnt; ++i) {
        len += iov[i].iov_len;
    }
    if (len > UINT32_MAX) {
        return UCPG_ERR_TOO_BIG;
    }
    if ((iovcnt + 1 > (int)(sizeof(stack) / sizeof(stack[0]))) &&
        ((v = malloc(sizeof(*v) * (size_t)(iovcnt + 1))) == NULL)) {
        return UCPG_ERR_NO_MEMORY;
    }
    ucpg_wire_writer_init(&w, hdr, sizeof(hdr));
    ucpg_wire_put_u32(&w, (uint32_t)len);
    ucpg_wire_put_u32(&w, type);
    v[0].iov_base = hdr;
    v[0].iov_len  = sizeof(hdr);
    for (i = 0; i < iovcnt; ++i) {
        v[i + 1] = iov[i];
    }
    status = ucpg_relay_write_all(fd, v, iovcnt + 1);
    if (v != stack) {
        free(v);
    }
    return status;
}

/* Reads exactly len bytes; UCPG_ERR_PEER_DOWN at end of stream or error. */
static ucpg_status_t ucpg_relay_read_all(int fd, void *p, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = read(fd, p, len);
        if ((n < 0) && (errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            return UCPG_ERR_PEER_DOWN;
        }
        p    = (uint8_t*)p + n;
        len -= (size_t)n;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_relay_frame_recv(int fd, size_t max, ucpg_relay_frame_t *f)
{
    uint8_t hdr[UCPG_RELAY_FRAME_HDR];
    ucpg_wire_reader_t r;
    ucpg_status_t status;

    memset(f, 0, sizeof(*f));
    status = ucpg_relay_read_all(fd, hdr, sizeof(hdr));
    if (status != UCPG_OK) {
        return status;
    }
    ucpg_wire_reader_init(&r, hdr, sizeof(hdr));
    f->len  = ucpg_wire_get_u32(&r);
    f->type = ucpg_wire_get_u32(&r);
    if (f->len > max) {
        return UCPG_ERR_MESSAGE;          /* the stream cannot be trusted past this */
    }
    f->body = malloc(f->len + 1);
    if (f->body == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    status = ucpg_relay_read_all(fd, f->body, f->len);
    if (status != UCPG_OK) {
        free(f->body);
        f->body = NULL;
    }
    return status;
}

/* --- building bodies -------------------------------------------------------------- */

void ucpg_relay_out_init(ucpg_relay_out_t *o)
{
    memset(o, 0, sizeof(*o));
}

void ucpg_relay_out_free(ucpg_relay_out_t *o)
{
    free(o->p);
    ucpg_relay_out_init(o);
}

/* Room for n more bytes; 0 (and failed) if memory ran out. */
static int ucpg_relay_out_room(ucpg_relay_out_t *o, size_t n)
{
    size_t cap = (o->cap == 0) ? 256 : o->cap;
    uint8_t *p;

    if (o->failed) {
        return 0;
    }
    while (cap < o->len + n) {
        cap *= 2;
    }
    if (cap != o->cap) {
        if ((p = realloc(o->p, cap)) == NULL) {
            o->failed = 1;
            return 0;
        }
        o->p   = p;
        o->cap = cap;
    }
    return 1;
}

static void ucpg_relay_out_raw(ucpg_relay_out_t *o, const void *p, size_t n)
{
    if ((n > 0) && ucpg_relay_out_room(o, n)) {
        memcpy(o->p + o->len, p, n);
        o->len += n;
    }
}

/* An integer of size bytes (4 or 8), little-endian as ucpg_wire writes it. */
static void ucpg_relay_out_int(ucpg_relay_out_t *o, uint64_t v, size_t size)
{
    uint8_t b[8];
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, b, size);
    if (size == 4) {
        ucpg_wire_put_u32(&w, (uint32_t)v);
    } else {
        ucpg_wire_put_u64(&w, v);
    }
    ucpg_relay_out_raw(o, b, size);
}

void ucpg_relay_out_u32(ucpg_relay_out_t *o, uint32_t v)
{
    ucpg_relay_out_int(o, v, 4);
}

void ucpg_relay_out_u64(ucpg_relay_out_t *o, uint64_t v)
{
    ucpg_relay_out_int(o, v, 8);
}

void ucpg_relay_out_bytes(ucpg_relay_out_t *o, const void *p, size_t n)
{
    ucpg_relay_out_u64(o, n);
    ucpg_relay_out_raw(o, p, n);
}

void ucpg_relay_out_name(ucpg_relay_out_t *o, const struct cpg_name *name)
{
    uint32_t len = (name->length > CPG_MAX_NAME_LENGTH) ? CPG_MAX_NAME_LENGTH : name->length;

    ucpg_relay_out_u32(o, len);
    ucpg_relay_out_raw(o, name->value, len);
}

void ucpg_relay_out_list(ucpg_relay_out_t *o, const struct cpg_address *a, size_t n)
{
    size_t i;

    ucpg_relay_out_u32(o, (uint32_t)n);
    for (i = 0; i < n; ++i) {
        ucpg_relay_out_u32(o, a[i].nodeid);
        ucpg_relay_out_u32(o, a[i].pid);
        ucpg_relay_out_u32(o, a[i].reason);
    }
}

size_t ucpg_relay_out_begin(ucpg_relay_out_t *o)
{
    size_t start = o->len;

    ucpg_relay_out_u32(o, 0);            /* the header, written by _end */
    ucpg_relay_out_u32(o, 0);
    return start;
}

void ucpg_relay_out_u32_at(ucpg_relay_out_t *o, size_t offset, uint32_t v)
{
    ucpg_wire_writer_t w;

    if (!o->failed && (offset + 4 <= o->len)) {
        ucpg_wire_writer_init(&w, o->p + offset, 4);
        ucpg_wire_put_u32(&w, v);
    }
}

ucpg_status_t ucpg_relay_out_end(ucpg_relay_out_t *o, size_t start, uint32_t type)
{
    ucpg_wire_writer_t w;

    if (o->failed || (start + UCPG_RELAY_FRAME_HDR > o->len)) {
        return UCPG_ERR_NO_MEMORY;
    }
    if (o->len - start - UCPG_RELAY_FRAME_HDR > UINT32_MAX) {
        return UCPG_ERR_TOO_BIG;
    }
    ucpg_wire_writer_init(&w, o->p + start, UCPG_RELAY_FRAME_HDR);
    ucpg_wire_put_u32(&w, (uint32_t)(o->len - start - UCPG_RELAY_FRAME_HDR));
    ucpg_wire_put_u32(&w, type);
    return UCPG_OK;
}

ucpg_status_t ucpg_relay_out_send(int fd, ucpg_relay_out_t *o)
{
    struct iovec iov;
    ucpg_status_t status;

    if (o->failed) {
        return UCPG_ERR_NO_MEMORY;
    }
    iov.iov_base = o->p;
    iov.iov_len  = o->len;
    status       = ucpg_relay_write_all(fd, &iov, 1);
    o->len       = 0;
    return status;
}

/* --- reading bodies --------------------------------------------------------------- */

ucpg_status_t ucpg_relay_get_name(ucpg_wire_reader_t *r, struct cpg_name *name)
{
    uint32_t len = ucpg_wire_get_u32(r);
    const void *p;

    memset(name, 0, sizeof(*name));
    if (len > CPG_MAX_NAME_LENGTH) {
        return UCPG_ERR_MESSAGE;
    }
    p = ucpg_wire_get_bytes(r, len);
    if ((p == NULL) && (len > 0)) {
        return UCPG_ERR_MESSAGE;
    }
    name->length = len;
    if (len > 0) {
        memcpy(name->value, p, len);
    }
    return r->short_read ? UCPG_ERR_MESSAGE : UCPG_OK;
}

ucpg_status_t ucpg_relay_get_list(ucpg_wire_reader_t *r, struct cpg_address *a, size_t max,
                                  size_t *n)
{
    uint32_t count = ucpg_wire_get_u32(r);
    size_t i;

    /* each entry is 12 bytes: a count the frame cannot hold is a lie */
    if (r->short_read || (count > max) || ((size_t)count * 12u > r->len - r->pos)) {
        return UCPG_ERR_MESSAGE;
    }
    for (i = 0; i < count; ++i) {
        a[i].nodeid = ucpg_wire_get_u32(r);
        a[i].pid    = ucpg_wire_get_u32(r);
        a[i].reason = ucpg_wire_get_u32(r);
    }
    *n = count;
    return UCPG_OK;
}

/* The three confchg lists, in one allocation sized by what the frame holds. */
static ucpg_status_t ucpg_relay_decode_confchg(ucpg_wire_reader_t *r, ucpg_relay_event_t *ev)
{
    size_t room = (r->len - r->pos) / 12u + 1, i;
    ucpg_status_t status = UCPG_OK;
    struct cpg_address *all;

    if (room > 3u * UCPG_RELAY_LIST_MAX) {
        room = 3u * UCPG_RELAY_LIST_MAX;
    }
    all = calloc(room, sizeof(*all));
    if (all == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    ev->lists[0] = all;
    for (i = 0; (i < 3) && (status == UCPG_OK); ++i) {
        size_t max = room - (size_t)(ev->lists[i] - all);
        status = ucpg_relay_get_list(r, ev->lists[i],
                                     (max > UCPG_RELAY_LIST_MAX) ? UCPG_RELAY_LIST_MAX : max,
                                     &ev->counts[i]);
        if ((status == UCPG_OK) && (i < 2)) {
            ev->lists[i + 1] = ev->lists[i] + ev->counts[i];
        }
    }
    return status;
}

static ucpg_status_t ucpg_relay_decode_totem(ucpg_wire_reader_t *r, ucpg_relay_event_t *ev)
{
    uint32_t n;
    size_t i;

    ev->ring.nodeid = ucpg_wire_get_u32(r);
    ev->ring.seq    = ucpg_wire_get_u64(r);
    n               = ucpg_wire_get_u32(r);
    if (r->short_read || (n > UCPG_RELAY_LIST_MAX) || ((size_t)n * 4u > r->len - r->pos)) {
        return UCPG_ERR_MESSAGE;
    }
    ev->nodes = calloc((size_t)n + 1, sizeof(*ev->nodes));
    if (ev->nodes == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < n; ++i) {
        ev->nodes[i] = ucpg_wire_get_u32(r);
    }
    ev->nnodes = n;
    return UCPG_OK;
}

static ucpg_status_t ucpg_relay_decode_deliver(ucpg_wire_reader_t *r, ucpg_relay_event_t *ev)
{
    uint64_t len;

    ev->nodeid = ucpg_wire_get_u32(r);
    ev->pid    = ucpg_wire_get_u32(r);
    len        = ucpg_wire_get_u64(r);
    if (r->short_read || (len > r->len - r->pos)) {
        return UCPG_ERR_MESSAGE;
    }
    ev->msg_len = (size_t)len;
    ev->msg     = (void*)(uintptr_t)ucpg_wire_get_bytes(r, ev->msg_len);
    if (ev->msg == NULL) {
        ev->msg = (void*)(uintptr_t)(r->buf + r->pos);   /* 0 bytes: a valid pointer */
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_relay_event_decode(ucpg_relay_frame_t *f, ucpg_relay_event_t *ev)
{
    ucpg_wire_reader_t r;
    ucpg_status_t status;

    memset(ev, 0, sizeof(*ev));
    ev->type = f->type;
    ucpg_wire_reader_init(&r, f->body, f->len);
    switch (f->type) {
    case UCPG_RELAY_EV_DELIVER:
        status = ucpg_relay_get_name(&r, &ev->group);
        if (status == UCPG_OK) {
            status = ucpg_relay_decode_deliver(&r, ev);
        }
        break;
    case UCPG_RELAY_EV_CONFCHG:
        status = ucpg_relay_get_name(&r, &ev->group);
        if (status == UCPG_OK) {
            status = ucpg_relay_decode_confchg(&r, ev);
        }
        break;
    case UCPG_RELAY_EV_TOTEM:
        status = ucpg_relay_decode_totem(&r, ev);
        break;
    default:
        status = UCPG_ERR_MESSAGE;
        break;
    }
    if ((status == UCPG_OK) && (ucpg_wire_reader_finish(&r) != UCPG_OK)) {
        status = UCPG_ERR_MESSAGE;
    }
    if (status != UCPG_OK) {
        ucpg_relay_event_free(ev);
    }
    return status;
}

void ucpg_relay_event_free(ucpg_relay_event_t *ev)
{
    free(ev->lists[0]);
    free(ev->nodes);
    memset(ev, 0, sizeof(*ev));
}
