/*
 * remote.c - queries of another host's registry (remote.h).
 *
 * One service per process, like the domain. A query waits in a pending list
 * until its answer arrives (the progress thread marks it done), the peer it
 * asked goes down (the peer listener marks it done at once), or
 * connect_timeout_ms passes (a peer that is alive but wedged).
 */
#include "remote.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/am.h"
#include "core/log.h"
#include "core/wire.h"
#include "dir_wire.h"
#include "directory.h"

typedef struct ucpg_boot_query {
    uint64_t                req_id;
    ucpg_peer_id_t          asked;
    int                     done;      /* atomic */
    ucpg_boot_msg_t         answer;    /* valid once done, unless asked died */
    void                   *body;      /* a DIR_ANSWER's body (malloc'ed copy) */
    size_t                  body_len;
    int                     asked_down;
    struct ucpg_boot_query *next;
} ucpg_boot_query_t;

static struct {
    pthread_mutex_t    lock;       /* guards everything below */
    ucpg_domain_t     *domain;
    ucpg_registry_t   *registry;
    int                listener;
    ucpg_boot_query_t *queries;
    uint64_t           next_req;
} ucpg_boot_remote = { .lock = PTHREAD_MUTEX_INITIALIZER, .listener = -1, .next_req = 1 };

/* --- wire ------------------------------------------------------------------ */

size_t ucpg_boot_msg_encode(const ucpg_boot_msg_t *msg, uint8_t out[UCPG_BOOT_ANSWER_LEN])
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_BOOT_ANSWER_LEN);
    ucpg_wire_put_u8(&w, msg->type);
    ucpg_wire_put_u64(&w, msg->req_id);
    if (msg->type == UCPG_BOOT_MSG_SEG_QUERY) {
        ucpg_wire_put_u32(&w, msg->node);
        ucpg_wire_put_u32(&w, msg->segid);
    } else {
        ucpg_wire_put_u32(&w, (uint32_t)msg->status);
        ucpg_wire_put_u32(&w, msg->owner);
        ucpg_wire_put_u64(&w, msg->uuid);
    }
    return w.len;
}

static int ucpg_boot_answer_valid(const ucpg_boot_msg_t *m)
{
    if (m->status == UCPG_OK) {
        return m->uuid != 0;
    }
    return (m->status == UCPG_ERR_NOT_FOUND) && (m->owner == 0) && (m->uuid == 0);
}

/* Every message starts with u8 type, u64 req_id. */
static void ucpg_boot_prefix_read(ucpg_wire_reader_t *r, const void *buf, size_t len,
                                  ucpg_boot_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    ucpg_wire_reader_init(r, buf, len);
    m->type   = ucpg_wire_get_u8(r);
    m->req_id = ucpg_wire_get_u64(r);
}

ucpg_status_t ucpg_boot_msg_decode(const void *buf, size_t len, ucpg_boot_msg_t *msg_p)
{
    ucpg_wire_reader_t r;
    ucpg_boot_msg_t m;

    ucpg_boot_prefix_read(&r, buf, len, &m);
    if (m.type == UCPG_BOOT_MSG_SEG_QUERY) {
        m.node  = ucpg_wire_get_u32(&r);
        m.segid = ucpg_wire_get_u32(&r);
        if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || (m.node == 0)) {
            return UCPG_ERR_MESSAGE;
        }
    } else if (m.type == UCPG_BOOT_MSG_SEG_ANSWER) {
        m.status = (ucpg_status_t)(int32_t)ucpg_wire_get_u32(&r);
        m.owner  = ucpg_wire_get_u32(&r);
        m.uuid   = ucpg_wire_get_u64(&r);
        if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || !ucpg_boot_answer_valid(&m)) {
            return UCPG_ERR_MESSAGE;
        }
    } else {
        return UCPG_ERR_MESSAGE;
    }
    *msg_p = m;
    return UCPG_OK;
}

size_t ucpg_boot_prefix_encode(uint8_t type, uint64_t req_id, uint8_t out[UCPG_BOOT_PREFIX_LEN])
{
    ucpg_wire_writer_t w;

    ucpg_wire_writer_init(&w, out, UCPG_BOOT_PREFIX_LEN);
    ucpg_wire_put_u8(&w, type);
    ucpg_wire_put_u64(&w, req_id);
    return w.len;
}

ucpg_status_t ucpg_boot_prefix_decode(const void *buf, size_t len, ucpg_boot_msg_t *msg_p)
{
    ucpg_wire_reader_t r;
    ucpg_boot_msg_t m;

    ucpg_boot_prefix_read(&r, buf, len, &m);
    if ((ucpg_wire_reader_finish(&r) != UCPG_OK) || (m.type < UCPG_BOOT_MSG_DIR_OPEN) ||
        (m.type > UCPG_BOOT_MSG_DIR_ANSWER)) {
        return UCPG_ERR_MESSAGE;
    }
    *msg_p = m;
    return UCPG_OK;
}

/* --- answering (progress thread) -------------------------------------------- */

static void ucpg_boot_remote_answer(ucpg_domain_t *d, ucpg_peer_id_t src,
                                    const ucpg_boot_msg_t *query)
{
    uint8_t buf[UCPG_BOOT_ANSWER_LEN];
    ucpg_boot_msg_t answer;
    ucpg_registry_t *reg;

    memset(&answer, 0, sizeof(answer));
    answer.type   = UCPG_BOOT_MSG_SEG_ANSWER;
    answer.req_id = query->req_id;
    answer.status = UCPG_ERR_NOT_FOUND;
    pthread_mutex_lock(&ucpg_boot_remote.lock);
    reg = ucpg_boot_remote.registry;
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
    /* Only our own node's ids are ours to tell; the registry is flock'ed
     * briefly, which a progress thread may afford. */
    if ((reg != NULL) && (query->node == ucpg_domain_nodeid(d)) &&
        (ucpg_registry_seg_lookup(reg, query->node, query->segid, &answer.owner,
                                  &answer.uuid) == UCPG_OK)) {
        answer.status = UCPG_OK;
    } else {
        answer.owner = 0;
        answer.uuid  = 0;
    }
    /* The header is copied; a lost answer makes the asker try another. */
    (void)ucpg_am_send_nb(d, src, UCPG_AM_ID_BOOT, buf, ucpg_boot_msg_encode(&answer, buf), NULL,
                          0, NULL, NULL);
}

/* Hands an answer (and a copy of its body, if any) to the query waiting. */
static void ucpg_boot_remote_answered(ucpg_peer_id_t src, const ucpg_boot_msg_t *answer,
                                      const void *body, size_t body_len)
{
    ucpg_boot_query_t *q;
    void *copy = NULL;

    if ((body_len > 0) && ((copy = malloc(body_len)) == NULL)) {
        ucpg_warn("out of memory taking a registry answer of %zu bytes", body_len);
        return;                            /* the asker times out and tries another */
    }
    if (copy != NULL) {
        memcpy(copy, body, body_len);
    }
    pthread_mutex_lock(&ucpg_boot_remote.lock);
    for (q = ucpg_boot_remote.queries; q != NULL; q = q->next) {
        if ((q->req_id == answer->req_id) && (q->asked == src) && !q->done) {
            q->answer   = *answer;
            q->body     = copy;
            q->body_len = body_len;
            copy        = NULL;
            __atomic_store_n(&q->done, 1, __ATOMIC_RELEASE);
            break;
        }
    }
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
    free(copy);
    if (q == NULL) {
        ucpg_debug("late or unknown registry answer from peer %u", src);
    }
}

static void ucpg_boot_remote_recv(void *arg, ucpg_peer_id_t src, const void *hdr,
                                  size_t hdr_len, void *data, size_t len, ucpg_buf_t *buf)
{
    ucpg_boot_msg_t msg;

    (void)buf;   /* the body is used in place */
    if ((hdr_len == UCPG_BOOT_PREFIX_LEN) &&
        (ucpg_boot_prefix_decode(hdr, hdr_len, &msg) == UCPG_OK)) {
        if (msg.type == UCPG_BOOT_MSG_DIR_ANSWER) {
            ucpg_boot_remote_answered(src, &msg, data, len);
        } else {
            ucpg_boot_dir_serve(arg, src, msg.type, msg.req_id, data, len);
        }
        return;
    }
    if ((len != 0) || (ucpg_boot_msg_decode(hdr, hdr_len, &msg) != UCPG_OK)) {
        ucpg_warn("dropping malformed registry query from peer %u", src);
        return;
    }
    (void)data;
    if (msg.type == UCPG_BOOT_MSG_SEG_QUERY) {
        ucpg_boot_remote_answer(arg, src, &msg);
    } else {
        ucpg_boot_remote_answered(src, &msg, NULL, 0);
    }
}

/* A peer went down: its unanswered queries end now. */
static void ucpg_boot_remote_peer_event(void *arg, const ucpg_peer_info_t *peer,
                                        ucpg_peer_event_t event, ucpg_peer_reason_t reason)
{
    ucpg_boot_query_t *q;

    (void)arg;
    (void)reason;
    if (event != UCPG_PEER_EVENT_DOWN) {
        return;
    }
    pthread_mutex_lock(&ucpg_boot_remote.lock);
    for (q = ucpg_boot_remote.queries; q != NULL; q = q->next) {
        if ((q->asked == peer->id) && !q->done) {
            q->asked_down = 1;
            __atomic_store_n(&q->done, 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
}

/* --- service ------------------------------------------------------------------ */

ucpg_status_t ucpg_boot_remote_start(ucpg_domain_t *d, ucpg_registry_t *reg)
{
    ucpg_status_t status;
    int listener;

    status = ucpg_domain_listen(d, ucpg_boot_remote_peer_event, NULL, 0, &listener);
    if (status != UCPG_OK) {
        return status;
    }
    pthread_mutex_lock(&ucpg_boot_remote.lock);
    ucpg_boot_remote.domain   = d;
    ucpg_boot_remote.registry = reg;
    ucpg_boot_remote.listener = listener;
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
    status = ucpg_boot_dir_start(d, reg);     /* before any message can need it */
    if (status == UCPG_OK) {
        status = ucpg_am_register(d, UCPG_AM_ID_BOOT, ucpg_boot_remote_recv, d);
    }
    if (status != UCPG_OK) {
        ucpg_boot_remote_stop();
    }
    return status;
}

void ucpg_boot_remote_stop(void)
{
    ucpg_domain_t *d;
    int listener;

    pthread_mutex_lock(&ucpg_boot_remote.lock);
    d        = ucpg_boot_remote.domain;
    listener = ucpg_boot_remote.listener;
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
    if (d == NULL) {
        return;
    }
    /* outside our lock: both wait for a running handler, which takes it */
    ucpg_am_unregister(d, UCPG_AM_ID_BOOT);
    ucpg_domain_unlisten(d, listener);
    ucpg_boot_dir_stop();
    pthread_mutex_lock(&ucpg_boot_remote.lock);
    ucpg_boot_remote.domain   = NULL;
    ucpg_boot_remote.registry = NULL;
    ucpg_boot_remote.listener = -1;
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
}

/* --- asking -------------------------------------------------------------------- */

/* Makes q findable by its answer; returns its fresh req_id. */
static uint64_t ucpg_boot_query_track(ucpg_boot_query_t *q, ucpg_peer_id_t asked)
{
    memset(q, 0, sizeof(*q));
    q->asked = asked;
    pthread_mutex_lock(&ucpg_boot_remote.lock);
    q->req_id = ucpg_boot_remote.next_req++;
    q->next   = ucpg_boot_remote.queries;
    ucpg_boot_remote.queries = q;
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
    return q->req_id;
}

/* Sends the query (hdr, body) and waits for the answer, the asked peer's
 * death or timeout_ms; q is no longer tracked on return.
 * UCPG_OK: q->answer (and q->body) hold the answer. */
static ucpg_status_t ucpg_boot_query_run(ucpg_domain_t *d, ucpg_boot_query_t *q,
                                         const void *hdr, size_t hdr_len, const void *body,
                                         size_t len, unsigned timeout_ms)
{
    ucpg_boot_query_t **pp;
    ucpg_status_t status;

    status = ucpg_am_send(d, q->asked, UCPG_AM_ID_BOOT, hdr, hdr_len, body, len);
    if (status == UCPG_OK) {
        status = ucpg_domain_wait_flag(d, &q->done, timeout_ms);
    }
    pthread_mutex_lock(&ucpg_boot_remote.lock);
    for (pp = &ucpg_boot_remote.queries; *pp != q; pp = &(*pp)->next) {
    }
    *pp = q->next;
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
    if ((status == UCPG_OK) && q->asked_down) {
        status = UCPG_ERR_PEER_DOWN;
    }
    if (status != UCPG_OK) {
        free(q->body);               /* an answer may have raced the timeout */
        q->body = NULL;
    }
    return status;
}

/* Asks peer `asked`. UCPG_OK/NOT_FOUND: its answer; PEER_DOWN/TIMEOUT: none. */
static ucpg_status_t ucpg_boot_remote_ask(ucpg_domain_t *d, ucpg_peer_id_t asked, uint32_t node,
                                          uint32_t segid, uint32_t *owner_p, uint64_t *uuid_p)
{
    uint8_t buf[UCPG_BOOT_ANSWER_LEN];
    ucpg_boot_query_t q;
    ucpg_boot_msg_t msg;
    ucpg_status_t status;

    memset(&msg, 0, sizeof(msg));
    msg.type   = UCPG_BOOT_MSG_SEG_QUERY;
    msg.node   = node;
    msg.segid  = segid;
    msg.req_id = ucpg_boot_query_track(&q, asked);
    status = ucpg_boot_query_run(d, &q, buf, ucpg_boot_msg_encode(&msg, buf), NULL, 0,
                                 ucpg_domain_config(d)->connect_timeout_ms);
    free(q.body);                    /* a peer answering a SEG query with a body */
    if (status != UCPG_OK) {
        return status;
    }
    if (q.answer.type != UCPG_BOOT_MSG_SEG_ANSWER) {
        return UCPG_ERR_MESSAGE;
    }
    *owner_p = q.answer.owner;
    *uuid_p  = q.answer.uuid;
    return q.answer.status;
}

ucpg_status_t ucpg_boot_remote_call(ucpg_domain_t *d, ucpg_peer_id_t asked, uint8_t type,
                                    const void *body, size_t len, unsigned timeout_ms,
                                    void **answer_p, size_t *answer_len_p)
{
    uint8_t hdr[UCPG_BOOT_PREFIX_LEN];
    ucpg_boot_query_t q;
    ucpg_status_t status;

    ucpg_boot_prefix_encode(type, ucpg_boot_query_track(&q, asked), hdr);
    status = ucpg_boot_query_run(d, &q, hdr, sizeof(hdr), body, len, timeout_ms);
    if ((status == UCPG_OK) && (q.answer.type != UCPG_BOOT_MSG_DIR_ANSWER)) {
        free(q.body);
        return UCPG_ERR_MESSAGE;
    }
    if (status == UCPG_OK) {
        *answer_p     = q.body;
        *answer_len_p = q.body_len;
    }
    return status;
}

static void ucpg_boot_remote_posted(void *arg, ucpg_status_t status)
{
    (void)status;                       /* one-way: a loss is repaired by the caller */
    free(arg);
}

ucpg_status_t ucpg_boot_remote_post(ucpg_domain_t *d, ucpg_peer_id_t dst, uint8_t type,
                                    uint64_t req_id, const void *body, size_t len)
{
    uint8_t hdr[UCPG_BOOT_PREFIX_LEN];
    ucpg_status_t status;
    void *copy = malloc(len ? len : 1);

    if (copy == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    memcpy(copy, body, len);
    ucpg_boot_prefix_encode(type, req_id, hdr);
    status = ucpg_am_send_nb(d, dst, UCPG_AM_ID_BOOT, hdr, sizeof(hdr), copy, len,
                             ucpg_boot_remote_posted, copy);
    if (status != UCPG_INPROGRESS) {
        free(copy);
    }
    return (status == UCPG_INPROGRESS) ? UCPG_OK : status;
}

ucpg_status_t ucpg_boot_remote_seg_lookup(ucpg_domain_t *d, uint32_t node, uint32_t segid,
                                          uint32_t *owner_p, uint64_t *uuid_p)
{
    ucpg_peer_info_t *peers;
    size_t count = 0, i;
    ucpg_status_t status = UCPG_ERR_PEER_DOWN;

    pthread_mutex_lock(&ucpg_boot_remote.lock);
    if (ucpg_boot_remote.domain != d) {
        status = UCPG_ERR_SHUTDOWN;
    }
    pthread_mutex_unlock(&ucpg_boot_remote.lock);
    if ((status == UCPG_ERR_SHUTDOWN) || (node == ucpg_domain_nodeid(d))) {
        return (status == UCPG_ERR_SHUTDOWN) ? status : UCPG_ERR_INVALID_PARAM;
    }
    peers = calloc(UCPG_REGISTRY_MAX_SLOTS, sizeof(*peers));
    if (peers == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    ucpg_domain_peers(d, peers, UCPG_REGISTRY_MAX_SLOTS, &count, NULL);
    for (i = 0; i < count; ++i) {
        if (peers[i].nodeid != node) {
            continue;
        }
        status = ucpg_boot_remote_ask(d, peers[i].id, node, segid, owner_p, uuid_p);
        if ((status == UCPG_OK) || (status == UCPG_ERR_NOT_FOUND)) {
            break;                        /* else: that one is gone or wedged */
        }
    }
    free(peers);
    return ((status == UCPG_OK) || (status == UCPG_ERR_NOT_FOUND)) ? status
                                                                   : UCPG_ERR_PEER_DOWN;
}
