/*
 * cpg_tests.c - the CPG tests: one member of the benchmark group, and the
 * server and client sessions built on it.
 *
 * Every process of a CPG test is a member of one group ("ucx_cpg_perftest.
 * <pid>"): MEMBERS processes started by local mode, or the client (rank 0)
 * and the server (rank 1). A member runs the sizes in turn; each size is a
 * phase, and every message carries its phase, so no phase's messages can be
 * taken for another's.
 *
 *   cpg_mcast_lat   rank 0 multicasts PING i and waits until it delivers
 *                   rank 1's PONG i, which rank 1 sends when it delivers
 *                   PING i; the other members only deliver. One iteration =
 *                   one round trip through the group's total order; latency
 *                   = half of it (ucx_perftest's ucp_am_lat). Rank 0 ends
 *                   the phase with END.
 *   cpg_mcast_bw,   ranks 0..SENDERS-1 multicast WARMUP messages each; a
 *   cpg_mcast_rate  member that has delivered all of them multicasts READY;
 *                   the timed part starts, at each member, when it delivers
 *                   the last READY (the same point of the total order
 *                   everywhere). Then every sender multicasts ITERS messages
 *                   back to back and END. Each member times its own
 *                   deliveries from that start to the last message; the
 *                   report is the slowest member. bw and rate differ in
 *                   their default senders (1 / every member).
 *
 * A message is an 8-byte header (magic, kind and phase, rank, sequence
 * number), a body with a pattern of (rank, phase) and, from 12 bytes on, a
 * trailing copy of the sequence number. Every member checks every message:
 * magic, kind, phase, sender, length, the sender's sequence (no gap, no
 * duplicate, no reordering), the trailer, and the protocol order (PONG i
 * after PING i, READY after the warm-up, END after the last message); the
 * body is compared for the warm-up, every 64th timed message and, with -V,
 * for every message. Any violation fails the run.
 *
 * Single-threaded: callbacks run inside cpg_dispatch, called by the member's
 * own loop (busy CS_DISPATCH_ALL with -E poll, poll(2) on the CPG fd with -E
 * sleep); they only check and record, the loop sends. The sender retries
 * CS_ERR_TRY_AGAIN after dispatching (that is what frees the window).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>

#define PT_MAGIC         0x5043u    /* "PC" */
#define PT_KIND_DATA     1u
#define PT_KIND_READY    2u
#define PT_KIND_END      3u
#define PT_KIND_PING     4u
#define PT_KIND_PONG     5u
#define PT_TRAILER_MIN   12u        /* from this size on, the last 4 bytes repeat seq */
#define PT_PATTERN_SPAN  256u
#define PT_BODY_SAMPLE   64u        /* timed bodies checked: every 64th */
#define PT_SEND_PUMP     16u        /* a sender dispatches after this many sends */
#define PT_SLEEP_MS      100
#define PT_RETRY_NAP_EVERY 64u      /* CS_ERR_TRY_AGAIN: yield, every 64th retry sleep */
#define PT_RETRY_NAP_US  50

typedef struct pt_hdr {
    uint16_t magic;
    uint8_t  kind_phase;            /* kind in bits 0..2, phase in bits 3..7 */
    uint8_t  rank;
    uint32_t seq;
} pt_hdr_t;

/* What the delivery callbacks record for the phase being received. Touched
 * only by the member's thread (callbacks run inside its cpg_dispatch). */
typedef struct pt_rx {
    unsigned phase;                 /* phase being received; == nsizes when all done */
    uint32_t next_seq[PT_MAX_MEMBERS];
    unsigned readies, ends;
    uint64_t warm_seen;
    int      timed;                 /* the last READY was delivered */
    uint32_t pings, pongs;          /* lat: last PING / PONG delivered */
    uint64_t pong_time;             /* lat: delivery of the last PONG (ticks) */
    uint64_t last_delivery;         /* ticks */
    uint64_t delivered;             /* messages delivered in this phase */
    pt_meter_t meter;               /* bw/rate: this member's deliveries */
} pt_rx_t;

struct pt_cpg_member {
    const pt_opts_t *o;
    pt_error_t      *e;
    pt_conn_t       *watch;         /* server/client: the control connection */
    unsigned         rank, members, senders, nsizes;
    int              test;
    cpg_guarantee_t  guarantee;
    cpg_handle_t     h;
    int              have_handle, joined;
    int              fd;
    int              busy;          /* wait mode poll */
    struct cpg_name  group;
    uint64_t         deadline;      /* ns, 0 = none */
    uint64_t         next_watch;    /* ns: next look at the deadline and the peer */
    unsigned         view;          /* members in the last confchg */
    int              all_joined;
    int              failed;        /* set by a callback: stop */
    uint64_t         retries;       /* CS_ERR_TRY_AGAIN answers in this phase */
    pt_rx_t          rx;
    pt_result_t      done[PT_MAX_SIZES];
    unsigned         ndone;         /* phases whose result is in done[] */
    uint8_t         *sendbuf;
    uint8_t         *pattern;       /* PT_PATTERN_SPAN + largest size */
    size_t           max_size;
    pt_meter_t       lat;           /* rank 0 of cpg_mcast_lat */
};

/* The one member of this process (the callbacks have no user argument in
 * corosync's CPG model v1 other than a context we do not need). */
static pt_cpg_member_t *pt_self;

static const char *pt_cs_name(cs_error_t err)
{
    switch (err) {
    case CS_OK: return "CS_OK";
    case CS_ERR_LIBRARY: return "CS_ERR_LIBRARY";
    case CS_ERR_TRY_AGAIN: return "CS_ERR_TRY_AGAIN";
    case CS_ERR_INVALID_PARAM: return "CS_ERR_INVALID_PARAM";
    case CS_ERR_NO_MEMORY: return "CS_ERR_NO_MEMORY";
    case CS_ERR_BAD_HANDLE: return "CS_ERR_BAD_HANDLE";
    case CS_ERR_ACCESS: return "CS_ERR_ACCESS";
    case CS_ERR_NOT_EXIST: return "CS_ERR_NOT_EXIST";
    case CS_ERR_EXIST: return "CS_ERR_EXIST";
    case CS_ERR_TOO_BIG: return "CS_ERR_TOO_BIG";
    case CS_ERR_TIMEOUT: return "CS_ERR_TIMEOUT";
    default: return "CS_ERR_(other)";
    }
}

static void pt_cpg_cs_fail(pt_cpg_member_t *m, const char *call, cs_error_t err)
{
    pt_error_set(m->e, PT_EXIT_FAIL, "rank %u: %s: %s (%d)%s", m->rank, call, pt_cs_name(err),
                 (int)err, (err == CS_ERR_LIBRARY) ? " - is the CPG service (domain) there?" : "");
    m->failed = 1;
}

static void pt_cpg_data_error(pt_cpg_member_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pt_cpg_data_error(pt_cpg_member_t *m, const char *fmt, ...)
{
    char text[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    m->rx.meter.errors++;
    if (!m->failed) {
        pt_error_set(m->e, PT_EXIT_FAIL, "rank %u: data error in phase %u: %s", m->rank,
                     m->rx.phase, text);
    }
    m->failed = 1;
}

static const uint8_t *pt_body_pattern(const pt_cpg_member_t *m, unsigned rank, unsigned phase)
{
    return m->pattern + (rank * 37u + phase * 11u) % PT_PATTERN_SPAN;
}

static size_t pt_body_len(size_t size)
{
    return size - PT_CPG_HDR_SIZE - ((size >= PT_TRAILER_MIN) ? sizeof(uint32_t) : 0);
}

/* --- receive side (callbacks) ---------------------------------------------------- */

static void pt_rx_reset(pt_cpg_member_t *m, unsigned phase)
{
    pt_rx_t *rx = &m->rx;
    unsigned r;

    rx->phase     = phase;
    rx->readies   = rx->ends = 0;
    rx->warm_seen = 0;
    rx->timed     = 0;
    rx->pings     = rx->pongs = 0;
    rx->delivered = 0;
    for (r = 0; r < PT_MAX_MEMBERS; ++r) {
        rx->next_seq[r] = 1;
    }
    if (phase < m->nsizes) {
        pt_meter_init(&rx->meter, m->test, m->o->sizes[phase], phase, m->o->percentile);
        rx->meter.rank    = m->rank;
        rx->meter.members = m->members;
        rx->meter.senders = m->senders;
    }
}

/* The phase being received is complete: keep this member's result. */
static void pt_rx_phase_done(pt_cpg_member_t *m, uint64_t now)
{
    pt_rx_t *rx = &m->rx;
    pt_result_t *r = &m->done[rx->phase];

    if (m->test == PT_TEST_CPG_MCAST_LAT) {
        if (m->rank == 0) {
            pt_meter_result(&m->lat, now, 1, r);    /* rank 0's own numbers */
        } else {                                     /* a receiver: counts only */
            memset(r, 0, sizeof(*r));
            r->test    = m->test;
            r->size    = m->o->sizes[rx->phase];
            r->phase   = rx->phase;
            r->final   = 1;
            r->iters   = rx->pongs;
        }
    } else {
        rx->meter.retries = m->retries;
        pt_meter_result(&rx->meter, now, 1, r);
    }
    r->rank    = m->rank;
    r->members = m->members;
    r->senders = m->senders;
    r->errors  = rx->meter.errors;
    m->ndone   = rx->phase + 1;
    pt_rx_reset(m, rx->phase + 1);
}

static int pt_check_body(pt_cpg_member_t *m, const pt_hdr_t *h, const uint8_t *msg, size_t len,
                         int full)
{
    uint32_t trailer;

    if (len >= PT_TRAILER_MIN) {
        memcpy(&trailer, msg + len - sizeof(trailer), sizeof(trailer));
        if (trailer != h->seq) {
            pt_cpg_data_error(m, "rank %u seq %u: the trailer says %u (message cut or mixed)",
                              h->rank, h->seq, trailer);
            return -1;
        }
    }
    if (full && (memcmp(msg + PT_CPG_HDR_SIZE, pt_body_pattern(m, h->rank, m->rx.phase),
                        pt_body_len(len)) != 0)) {
        pt_cpg_data_error(m, "rank %u seq %u: corrupted body", h->rank, h->seq);
        return -1;
    }
    return 0;
}

static void pt_rx_data(pt_cpg_member_t *m, const pt_hdr_t *h, const uint8_t *msg, size_t len,
                       uint64_t now)
{
    pt_rx_t *rx = &m->rx;
    uint64_t warm = m->o->warmup;

    if (h->rank >= m->senders) {
        pt_cpg_data_error(m, "a message from rank %u, which does not send", h->rank);
        return;
    }
    if (h->seq != rx->next_seq[h->rank]) {
        pt_cpg_data_error(m, "rank %u: seq %u where %u was due (%s)", h->rank, h->seq,
                          rx->next_seq[h->rank],
                          (h->seq < rx->next_seq[h->rank]) ? "duplicate or reordered" : "gap");
        return;
    }
    rx->next_seq[h->rank] = h->seq + 1;
    if (pt_check_body(m, h, msg, len, m->o->verify_all || (h->seq <= warm) ||
                                      ((h->seq % PT_BODY_SAMPLE) == 0)) != 0) {
        return;
    }
    rx->delivered++;
    if (h->seq <= warm) {
        if (rx->timed) {
            pt_cpg_data_error(m, "a warm-up message of rank %u after the start", h->rank);
            return;
        }
        rx->warm_seen++;
        return;
    }
    if (!rx->timed) {
        pt_cpg_data_error(m, "a timed message of rank %u before every member was ready",
                          h->rank);
        return;
    }
    pt_meter_add(&rx->meter, now - rx->last_delivery, now);
    rx->last_delivery = now;
}

static void pt_rx_control(pt_cpg_member_t *m, unsigned kind, const pt_hdr_t *h, size_t len,
                          uint64_t now)
{
    pt_rx_t *rx = &m->rx;
    uint32_t total = (uint32_t)(m->o->warmup + m->o->iters);

    if ((kind == PT_KIND_READY) || (kind == PT_KIND_END)) {
        if (len != PT_CPG_HDR_SIZE) {
            pt_cpg_data_error(m, "a %s of %zu bytes", (kind == PT_KIND_END) ? "END" : "READY",
                              len);
            return;
        }
    }
    switch (kind) {
    case PT_KIND_READY:
        if (rx->warm_seen != (uint64_t)m->senders * m->o->warmup) {
            pt_cpg_data_error(m, "READY of rank %u before the whole warm-up", h->rank);
            return;
        }
        if (++rx->readies == m->members) {
            rx->timed         = 1;
            rx->last_delivery = now;
            pt_meter_start(&rx->meter, now);
        }
        return;
    case PT_KIND_END:
        if (m->test == PT_TEST_CPG_MCAST_LAT) {
            if ((h->rank != 0) || (h->seq != total) || (rx->pings != total) ||
                (rx->pongs != total)) {
                pt_cpg_data_error(m, "END (rank %u, %u) after %u pings and %u pongs of %u",
                                  h->rank, h->seq, rx->pings, rx->pongs, total);
                return;
            }
            pt_rx_phase_done(m, now);
            return;
        }
        if ((h->rank >= m->senders) || (h->seq != total) ||
            (rx->next_seq[h->rank] != total + 1)) {
            pt_cpg_data_error(m, "END of rank %u says %u messages, %u arrived", h->rank, h->seq,
                              (h->rank < m->senders) ? rx->next_seq[h->rank] - 1 : 0);
            return;
        }
        if (++rx->ends == m->senders) {
            pt_rx_phase_done(m, now);
        }
        return;
    case PT_KIND_PING:
        if ((h->rank != 0) || (h->seq != rx->pings + 1) || (rx->pongs != rx->pings)) {
            pt_cpg_data_error(m, "PING %u of rank %u after PING %u and PONG %u", h->seq,
                              h->rank, rx->pings, rx->pongs);
            return;
        }
        rx->pings = h->seq;
        return;
    case PT_KIND_PONG:
        if ((h->rank != 1) || (h->seq != rx->pings) || (rx->pongs + 1 != h->seq)) {
            pt_cpg_data_error(m, "PONG %u of rank %u after PING %u and PONG %u", h->seq,
                              h->rank, rx->pings, rx->pongs);
            return;
        }
        rx->pongs     = h->seq;
        rx->pong_time = now;
        return;
    default:
        pt_cpg_data_error(m, "unknown kind %u", kind);
    }
}

static void pt_cpg_deliver(cpg_handle_t handle, const struct cpg_name *group_name,
                           uint32_t nodeid, uint32_t pid, void *msg, size_t msg_len)
{
    pt_cpg_member_t *m = pt_self;
    uint64_t now = pt_clock_now();
    unsigned kind, phase;
    pt_hdr_t h;

    (void)handle;
    (void)group_name;
    if ((m == NULL) || m->failed) {
        return;
    }
    if (m->rx.phase >= m->nsizes) {
        pt_cpg_data_error(m, "a message from %u/%u after the last phase", nodeid, pid);
        return;
    }
    if (msg_len < sizeof(h)) {
        pt_cpg_data_error(m, "a message of %zu bytes from %u/%u", msg_len, nodeid, pid);
        return;
    }
    memcpy(&h, msg, sizeof(h));
    kind  = h.kind_phase & 0x7u;
    phase = h.kind_phase >> 3;
    if ((h.magic != PT_MAGIC) || (h.rank >= m->members)) {
        pt_cpg_data_error(m, "a foreign message from %u/%u (magic %#x, rank %u)", nodeid, pid,
                          h.magic, h.rank);
        return;
    }
    if (phase != m->rx.phase) {
        pt_cpg_data_error(m, "a message of phase %u from rank %u", phase, h.rank);
        return;
    }
    if ((kind == PT_KIND_DATA) || (kind == PT_KIND_PING) || (kind == PT_KIND_PONG)) {
        if (msg_len != m->o->sizes[phase]) {
            pt_cpg_data_error(m, "rank %u seq %u: %zu bytes, %zu expected", h.rank, h.seq,
                              msg_len, m->o->sizes[phase]);
            return;
        }
    }
    if (kind == PT_KIND_DATA) {
        if (m->test == PT_TEST_CPG_MCAST_LAT) {
            pt_cpg_data_error(m, "DATA in a latency test");
            return;
        }
        pt_rx_data(m, &h, msg, msg_len, now);
        return;
    }
    if ((kind == PT_KIND_PING) || (kind == PT_KIND_PONG)) {
        if (m->test != PT_TEST_CPG_MCAST_LAT) {
            pt_cpg_data_error(m, "PING/PONG in a bandwidth test");
            return;
        }
        if (pt_check_body(m, &h, msg, msg_len, m->o->verify_all || (h.seq <= m->o->warmup) ||
                                               ((h.seq % PT_BODY_SAMPLE) == 0)) != 0) {
            return;
        }
    }
    pt_rx_control(m, kind, &h, msg_len, now);
}

static void pt_cpg_confchg(cpg_handle_t handle, const struct cpg_name *group_name,
                           const struct cpg_address *member_list, size_t member_list_entries,
                           const struct cpg_address *left_list, size_t left_list_entries,
                           const struct cpg_address *joined_list, size_t joined_list_entries)
{
    pt_cpg_member_t *m = pt_self;

    (void)handle;
    (void)group_name;
    (void)member_list;
    (void)joined_list;
    (void)joined_list_entries;
    if (m == NULL) {
        return;
    }
    m->view = (unsigned)member_list_entries;
    if (m->view >= m->members) {
        if (m->view > m->members) {
            pt_error_set(m->e, PT_EXIT_FAIL, "rank %u: %u members in the group, %u expected "
                         "(another run with the same group name?)", m->rank, m->view,
                         m->members);
            m->failed = 1;
        }
        m->all_joined = 1;
    } else if (m->all_joined && (left_list_entries > 0) && (m->rx.phase < m->nsizes) &&
               !m->failed) {
        pt_error_set(m->e, PT_EXIT_FAIL, "rank %u: a member (pid %u) left the group during "
                     "phase %u (reason %u): it failed or was stopped", m->rank,
                     left_list[0].pid, m->rx.phase, left_list[0].reason);
        m->failed = 1;
    }
}

/* --- the member's loop --------------------------------------------------------------- */

/* Dispatches what is there (block: wait a little if nothing is). 0 go on. */
static int pt_cpg_pump(pt_cpg_member_t *m, int block)
{
    uint64_t before = m->rx.delivered + m->rx.pings + m->rx.pongs + m->rx.readies + m->rx.ends;
    cs_error_t err;

    if (m->busy) {
        err = cpg_dispatch(m->h, CS_DISPATCH_ALL);
        if (block && (before == m->rx.delivered + m->rx.pings + m->rx.pongs + m->rx.readies +
                                m->rx.ends)) {
            sched_yield();   /* let this process' progress thread (ucx_cpg) or the peer run */
        }
    } else {
        struct pollfd pfd = {m->fd, POLLIN, 0};
        int ret = poll(&pfd, 1, block ? PT_SLEEP_MS : 0);

        if ((ret < 0) && (errno != EINTR)) {
            pt_error_set(m->e, PT_EXIT_FAIL, "rank %u: poll: %s", m->rank, strerror(errno));
            return -1;
        }
        err = (ret > 0) ? cpg_dispatch(m->h, CS_DISPATCH_ALL) : CS_OK;
    }
    if ((err != CS_OK) && (err != CS_ERR_TRY_AGAIN)) {
        pt_cpg_cs_fail(m, "cpg_dispatch", err);
        return -1;
    }
    if (m->failed) {
        return -1;
    }
    if (block || (pt_clock_ns() >= m->next_watch)) {
        uint64_t ns = pt_clock_ns();

        if (ns >= m->next_watch) {
            m->next_watch = ns + 50u * 1000u * 1000u;
            if ((m->deadline != 0) && (ns >= m->deadline)) {
                pt_error_set(m->e, PT_EXIT_TIMEOUT, "rank %u: time limit reached in phase %u "
                             "(%u of %u members joined; %llu messages delivered)", m->rank,
                             m->rx.phase, m->view, m->members,
                             (unsigned long long)m->rx.delivered);
                return -1;
            }
            if ((m->watch != NULL) && pt_control_peer_gone(m->watch)) {
                if (m->watch->error[0] != '\0') {
                    pt_error_set(m->e, PT_EXIT_FAIL, "rank %u: the peer failed: %s", m->rank,
                                 m->watch->error);
                } else {
                    pt_error_set(m->e, PT_EXIT_FAIL, "rank %u: the peer closed the control "
                                 "connection", m->rank);
                }
                return -1;
            }
        }
    }
    return 0;
}

/* Multicasts one message of len bytes (kind, seq) of the current send phase. */
static int pt_cpg_send(pt_cpg_member_t *m, unsigned phase, unsigned kind, uint32_t seq,
                       size_t len)
{
    pt_hdr_t h = {PT_MAGIC, (uint8_t)((phase << 3) | kind), (uint8_t)m->rank, seq};
    struct iovec iov = {m->sendbuf, len};
    unsigned spins = 0;

    memcpy(m->sendbuf, &h, sizeof(h));
    if (len >= PT_TRAILER_MIN) {
        memcpy(m->sendbuf + len - sizeof(seq), &seq, sizeof(seq));
    }
    for (;;) {
        cs_error_t err = cpg_mcast_joined(m->h, m->guarantee, &iov, 1);

        if (err == CS_OK) {
            return 0;
        }
        if (err != CS_ERR_TRY_AGAIN) {
            pt_cpg_cs_fail(m, "cpg_mcast_joined", err);
            return -1;
        }
        /* The window opens when the members consume (ucx_cpg) or when the
         * daemon's queue drains (corosync): neither need make our fd
         * readable, so never block on it here. Dispatch what is there (our
         * own consumption counts too), then yield; now and then nap. */
        m->retries++;
        if (pt_cpg_pump(m, 0) != 0) {
            return -1;
        }
        if ((++spins % PT_RETRY_NAP_EVERY) == 0) {
            struct timespec nap = {0, PT_RETRY_NAP_US * 1000};

            nanosleep(&nap, NULL);
        } else {
            sched_yield();
        }
    }
}

/* Progress lines of the reporting member (rank 0). */
static void pt_cpg_progress(pt_cpg_member_t *m, pt_meter_t *meter, pt_sink_t *sink)
{
    uint64_t now;
    pt_result_t r;

    if ((m->rank != 0) || (sink->progress == NULL)) {
        return;
    }
    now = pt_clock_now();
    if (pt_meter_due(meter, now) && (meter->count > 0)) {
        meter->retries = m->retries;
        pt_meter_result(meter, now, 0, &r);
        r.rank    = m->rank;
        r.members = m->members;
        r.senders = m->senders;
        sink->progress(sink, &r);
    }
}

static void pt_cpg_prepare_phase(pt_cpg_member_t *m, unsigned phase)
{
    size_t size = m->o->sizes[phase];

    memcpy(m->sendbuf + PT_CPG_HDR_SIZE, pt_body_pattern(m, m->rank, phase),
           size - PT_CPG_HDR_SIZE);
    m->retries = 0;
}

static int pt_cpg_phase_lat(pt_cpg_member_t *m, unsigned phase, pt_sink_t *sink)
{
    uint64_t total = m->o->warmup + m->o->iters, i;
    size_t size = m->o->sizes[phase];

    if (m->rank == 0) {
        pt_meter_init(&m->lat, m->test, size, phase, m->o->percentile);
        m->lat.rank    = 0;
        m->lat.members = m->members;
        m->lat.senders = 1;
        if (m->o->warmup == 0) {
            pt_meter_start(&m->lat, pt_clock_now());
        }
        for (i = 1; i <= total; ++i) {
            uint64_t t0 = pt_clock_now();

            if (pt_cpg_send(m, phase, PT_KIND_PING, (uint32_t)i, size) != 0) {
                return -1;
            }
            while (m->rx.pongs < i) {
                if (pt_cpg_pump(m, 1) != 0) {
                    return -1;
                }
            }
            if (i > m->o->warmup) {
                pt_meter_add(&m->lat, m->rx.pong_time - t0, m->rx.pong_time);
                pt_cpg_progress(m, &m->lat, sink);
            } else if (i == m->o->warmup) {
                pt_meter_start(&m->lat, m->rx.pong_time);
            }
        }
        if (pt_cpg_send(m, phase, PT_KIND_END, (uint32_t)total, PT_CPG_HDR_SIZE) != 0) {
            return -1;
        }
    } else if (m->rank == 1) {
        uint32_t answered = 0;

        while (m->rx.phase == phase) {
            if (m->rx.pings > answered) {
                answered = m->rx.pings;
                if (pt_cpg_send(m, phase, PT_KIND_PONG, answered, size) != 0) {
                    return -1;
                }
            }
            if (pt_cpg_pump(m, 1) != 0) {
                return -1;
            }
        }
    }
    while (m->rx.phase == phase) {
        if (pt_cpg_pump(m, 1) != 0) {
            return -1;
        }
    }
    return 0;
}

static int pt_cpg_phase_flood(pt_cpg_member_t *m, unsigned phase, pt_sink_t *sink)
{
    uint64_t warm = m->o->warmup, total = warm + m->o->iters, seq;
    size_t size = m->o->sizes[phase];
    int sender = (m->rank < m->senders);

    if (sender) {
        for (seq = 1; seq <= warm; ++seq) {
            if ((pt_cpg_send(m, phase, PT_KIND_DATA, (uint32_t)seq, size) != 0) ||
                (((seq % PT_SEND_PUMP) == 0) && (pt_cpg_pump(m, 0) != 0))) {
                return -1;
            }
        }
    }
    while ((m->rx.phase == phase) && (m->rx.warm_seen < (uint64_t)m->senders * warm)) {
        if (pt_cpg_pump(m, 1) != 0) {
            return -1;
        }
    }
    if (pt_cpg_send(m, phase, PT_KIND_READY, 0, PT_CPG_HDR_SIZE) != 0) {
        return -1;
    }
    while ((m->rx.phase == phase) && !m->rx.timed) {
        if (pt_cpg_pump(m, 1) != 0) {
            return -1;
        }
    }
    if (sender) {
        for (seq = warm + 1; seq <= total; ++seq) {
            if (pt_cpg_send(m, phase, PT_KIND_DATA, (uint32_t)seq, size) != 0) {
                return -1;
            }
            if ((seq % PT_SEND_PUMP) == 0) {
                if (pt_cpg_pump(m, 0) != 0) {
                    return -1;
                }
                if (m->rx.phase == phase) {
                    pt_cpg_progress(m, &m->rx.meter, sink);
                }
            }
        }
        if (pt_cpg_send(m, phase, PT_KIND_END, (uint32_t)total, PT_CPG_HDR_SIZE) != 0) {
            return -1;
        }
    }
    while (m->rx.phase == phase) {
        if (pt_cpg_pump(m, 1) != 0) {
            return -1;
        }
        if (m->rx.phase == phase) {
            pt_cpg_progress(m, &m->rx.meter, sink);
        }
    }
    return 0;
}

pt_cpg_member_t *pt_cpg_member_create(const pt_opts_t *o, unsigned rank, const char *group,
                                      pt_error_t *e)
{
    cpg_callbacks_t cb = {pt_cpg_deliver, pt_cpg_confchg};
    pt_cpg_member_t *m;
    cs_error_t err;
    unsigned i;

    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        pt_error_set(e, PT_EXIT_SETUP, "out of memory");
        return NULL;
    }
    m->o         = o;
    m->e         = e;
    m->rank      = rank;
    m->test      = o->test;
    m->members   = pt_opts_members(o);
    m->senders   = pt_opts_senders(o);   /* lat: 1 (rank 0 pings; rank 1 only answers) */
    m->nsizes    = o->nsizes;
    m->guarantee = (o->guarantee == PT_GUARANTEE_SAFE) ? CPG_TYPE_SAFE : CPG_TYPE_AGREED;
    m->deadline  = pt_deadline(o);
    m->fd        = -1;
    m->busy      = pt_opts_busy_wait(o);
    for (i = 0; i < o->nsizes; ++i) {
        m->max_size = (o->sizes[i] > m->max_size) ? o->sizes[i] : m->max_size;
    }
    m->sendbuf = malloc(m->max_size);
    m->pattern = malloc(PT_PATTERN_SPAN + m->max_size);
    if ((m->sendbuf == NULL) || (m->pattern == NULL)) {
        pt_error_set(e, PT_EXIT_SETUP, "cannot allocate 2 x %zu bytes", m->max_size);
        pt_cpg_member_destroy(m);
        return NULL;
    }
    for (i = 0; i < PT_PATTERN_SPAN + m->max_size; ++i) {
        m->pattern[i] = (uint8_t)((i * 131u) ^ (i >> 8) ^ 0x5au);
    }
    pt_rx_reset(m, 0);
    m->group.length = (uint32_t)strlen(group);
    memcpy(m->group.value, group, m->group.length);
    pt_self = m;
    err = cpg_initialize(&m->h, &cb);
    if (err != CS_OK) {
        pt_error_set(e, PT_EXIT_SETUP, "rank %u: cpg_initialize: %s (%d)%s", rank,
                     pt_cs_name(err), (int)err,
                     (err == CS_ERR_LIBRARY) ? ": no CPG service (corosync not running, or no "
                                               "ucx_cpg domain)" : "");
        pt_cpg_member_destroy(m);
        return NULL;
    }
    m->have_handle = 1;
    if (((err = cpg_fd_get(m->h, &m->fd)) != CS_OK) ||
        ((err = cpg_join(m->h, &m->group)) != CS_OK)) {
        pt_error_set(e, PT_EXIT_SETUP, "rank %u: cpg_join(%s): %s (%d)", rank, group,
                     pt_cs_name(err), (int)err);
        pt_cpg_member_destroy(m);
        return NULL;
    }
    m->joined = 1;
    return m;
}

int pt_cpg_member_run(pt_cpg_member_t *m, pt_sink_t *sink, pt_conn_t *watch, pt_error_t *e)
{
    unsigned phase;

    m->e     = e;
    m->watch = watch;
    while (!m->all_joined) {
        if (pt_cpg_pump(m, 1) != 0) {
            return -1;
        }
    }
    for (phase = 0; phase < m->nsizes; ++phase) {
        int ret;

        pt_cpg_prepare_phase(m, phase);
        if (sink->phase != NULL) {
            sink->phase(sink, m->o, phase);
        }
        ret = (m->test == PT_TEST_CPG_MCAST_LAT) ? pt_cpg_phase_lat(m, phase, sink)
                                                 : pt_cpg_phase_flood(m, phase, sink);
        if ((ret != 0) || (m->ndone <= phase)) {
            if (e->status == PT_EXIT_OK) {
                pt_error_set(e, PT_EXIT_FAIL, "rank %u: phase %u did not complete", m->rank,
                             phase);
            }
            return -1;
        }
        m->done[phase].retries = m->retries;
        sink->final(sink, &m->done[phase]);
    }
    return 0;
}

void pt_cpg_member_destroy(pt_cpg_member_t *m)
{
    if (m == NULL) {
        return;
    }
    if (m->joined) {
        cpg_leave(m->h, &m->group);
    }
    if (m->have_handle) {
        cpg_finalize(m->h);
    }
    if (pt_self == m) {
        pt_self = NULL;
    }
    free(m->sendbuf);
    free(m->pattern);
    free(m);
}

/* --- server and client sessions ------------------------------------------------------ */

/* Server: every result goes to the client. */
static void pt_sink_conn_final(pt_sink_t *s, const pt_result_t *r)
{
    pt_msg_t msg;

    pt_result_to_msg(r, &msg);
    pt_control_send(s->arg, &msg);
}

int pt_cpg_server(const pt_opts_t *o, pt_conn_t *c, pt_msg_t *welcome, const char *group,
                  pt_error_t *e)
{
    pt_sink_t sink = {NULL, NULL, pt_sink_conn_final, c};
    pt_cpg_member_t *m;
    pt_msg_t msg;
    int ret;

    m = pt_cpg_member_create(o, 1, group, e);
    if (m == NULL) {
        pt_control_send_error(c, e->text);
        return -1;
    }
    pt_control_send(c, welcome);
    ret = pt_cpg_member_run(m, &sink, c, e);
    if (ret != 0) {
        pt_control_send_error(c, e->text);
    } else if ((pt_control_recv(c, &msg, pt_deadline(o)) != 0) || (strcmp(msg.verb, "BYE") != 0)) {
        /* the client finished after us; a missing BYE means it failed at the end */
        if (strcmp(msg.verb, "ERROR") == 0) {
            pt_error_set(e, PT_EXIT_FAIL, "the client failed: %s", pt_msg_get(&msg, "msg"));
            ret = -1;
        }
    }
    pt_cpg_member_destroy(m);
    return ret;
}

/* Client: its own result, then the server's, then the reported one. */
typedef struct pt_client_sink {
    pt_sink_t     sink;
    pt_report_t  *rep;
    pt_conn_t    *conn;
    uint64_t      deadline;
    pt_error_t   *e;
    int           failed;
} pt_client_sink_t;

static void pt_sink_client_phase(pt_sink_t *s, const pt_opts_t *o, unsigned phase)
{
    pt_client_sink_t *cs = s->arg;

    pt_report_phase(cs->rep, o, o->sizes[phase]);
}

static void pt_sink_client_progress(pt_sink_t *s, const pt_result_t *r)
{
    pt_client_sink_t *cs = s->arg;

    pt_report_result(cs->rep, r);
}

static void pt_sink_client_final(pt_sink_t *s, const pt_result_t *r)
{
    pt_client_sink_t *cs = s->arg;
    pt_result_t both[2], theirs;
    pt_msg_t msg;
    int ret;

    ret = pt_control_recv(cs->conn, &msg, cs->deadline);
    if ((ret != 0) || (pt_result_from_msg(&msg, &theirs) != 0) || (theirs.phase != r->phase)) {
        pt_error_set(cs->e, PT_EXIT_FAIL, "no result from the server for the %zu-byte phase%s%s",
                     r->size, ((ret == 0) && (strcmp(msg.verb, "ERROR") == 0)) ? ": " : "",
                     ((ret == 0) && (strcmp(msg.verb, "ERROR") == 0)) ? pt_msg_get(&msg, "msg")
                                                                      : "");
        cs->failed = 1;
        return;
    }
    both[0] = *r;
    both[1] = theirs;
    pt_report_result(cs->rep, &both[pt_result_pick(both, 2)]);
}

int pt_cpg_client(const pt_opts_t *o, pt_conn_t *c, const char *group, pt_report_t *rep,
                  pt_error_t *e)
{
    pt_client_sink_t cs;
    pt_cpg_member_t *m;
    pt_msg_t msg;
    int ret;

    memset(&cs, 0, sizeof(cs));
    cs.sink.phase    = pt_sink_client_phase;
    cs.sink.progress = pt_sink_client_progress;
    cs.sink.final    = pt_sink_client_final;
    cs.sink.arg      = &cs;
    cs.rep           = rep;
    cs.conn          = c;
    cs.deadline      = pt_deadline(o);
    cs.e             = e;
    m = pt_cpg_member_create(o, 0, group, e);
    if (m == NULL) {
        pt_control_send_error(c, e->text);
        return -1;
    }
    ret = pt_cpg_member_run(m, &cs.sink, c, e);
    if ((ret == 0) && cs.failed) {
        ret = -1;
    }
    if (ret == 0) {
        pt_msg_init(&msg, "BYE");
        pt_control_send(c, &msg);
    } else {
        pt_control_send_error(c, e->text);
    }
    pt_cpg_member_destroy(m);
    return ret;
}
