/*
 * ucx_cpg_demo - start it in several terminals (or let contrib/quickstart.sh
 * start four): the processes find each other through the local boot
 * registry, measure round trips and bulk transfers to every other process
 * over UCX active messages, check every byte, and print a small table.
 *
 *   ucx_cpg_demo [-n PROCS] [-i ITERS] [-s BYTES] [-b COUNT] [-t SEC]
 *
 * The processes measure one after the other, in peer id order, passing a
 * turn message along, so that the numbers are not just CPU contention of
 * several processes measuring at once on a small machine.
 *
 * Exit status: 0 success, 1 timeout or data error, 2 usage, 3 init failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "core/am.h"
#include "core/config.h"
#include "core/proc.h"

enum { DEMO_PING = 1, DEMO_PONG, DEMO_BULK, DEMO_BULK_ACK, DEMO_TURN, DEMO_DONE };

typedef struct demo_hdr {
    uint32_t type;
    uint32_t seq;     /* PING/PONG: sequence; BULK: index; ACK: messages checked */
    uint64_t value;   /* ACK: bad messages */
} demo_hdr_t;

typedef struct demo_opts {
    unsigned nprocs, iters, size, bulk, timeout_s;
} demo_opts_t;

/* Shared with the AM handler, which runs in the progress thread. */
typedef struct demo_state {
    ucpg_domain_t *d;
    unsigned       size;
    int            pongs;                  /* atomic */
    int            acks;                   /* atomic */
    uint64_t       ack_checked, ack_bad;
    int            turn;                   /* atomic: our turn to measure came */
    int            done;                   /* atomic: the last process finished */
    uint32_t       bulk_seen[1024];        /* per sender: bulk messages checked */
    uint32_t       bulk_bad[1024];
} demo_state_t;

/* Bulk payload: a fixed pattern (built once) with the message index in its
 * first 4 bytes, checked with memcmp so the check does not dominate. */
static uint8_t *demo_pattern;

static void demo_pattern_init(size_t size)
{
    size_t i;

    demo_pattern = malloc(size);
    for (i = 0; (demo_pattern != NULL) && (i < size); ++i) {
        demo_pattern[i] = (uint8_t)(i * 13u + (i >> 10));
    }
}

static int demo_payload_ok(const uint8_t *p, size_t len, uint32_t seq)
{
    uint32_t got;

    if (len < sizeof(got)) {
        return memcmp(p, demo_pattern, len) == 0;
    }
    memcpy(&got, p, sizeof(got));
    return (got == seq) && (memcmp(p + sizeof(got), demo_pattern + sizeof(got),
                                   len - sizeof(got)) == 0);
}

static void demo_reply(demo_state_t *s, ucpg_peer_id_t src, uint32_t type, uint32_t seq,
                       uint64_t value)
{
    demo_hdr_t h = {type, seq, value};

    /* Non-blocking: this runs in the progress thread (header is copied). */
    if (ucpg_am_send_nb(s->d, src, UCPG_AM_ID_TEST, &h, sizeof(h), NULL, 0, NULL, NULL) < 0) {
        fprintf(stderr, "ucx_cpg_demo: reply to peer %u failed\n", src);
    }
}

static void demo_recv(void *arg, ucpg_peer_id_t src, const void *hdr, size_t hdr_len,
                      void *data, size_t len, ucpg_buf_t *buf)
{
    demo_state_t *s = arg;
    const uint8_t *p = data;
    demo_hdr_t h;
    int ok;

    (void)buf;   /* the body is used in place */
    if ((hdr_len != sizeof(h)) || (src >= 1024)) {
        return;
    }
    memcpy(&h, hdr, sizeof(h));
    switch (h.type) {
    case DEMO_PING:
        demo_reply(s, src, DEMO_PONG, h.seq, 0);
        break;
    case DEMO_PONG:
        __atomic_add_fetch(&s->pongs, 1, __ATOMIC_RELEASE);
        break;
    case DEMO_BULK:
        ok = (len == s->size) && demo_payload_ok(p, len, h.seq);
        s->bulk_seen[src]++;
        s->bulk_bad[src] += !ok;
        if (h.value != 0) {                /* the last one asks for an ACK */
            demo_reply(s, src, DEMO_BULK_ACK, s->bulk_seen[src], s->bulk_bad[src]);
            s->bulk_seen[src] = s->bulk_bad[src] = 0;
        }
        break;
    case DEMO_BULK_ACK:
        s->ack_checked = h.seq;
        s->ack_bad     = h.value;
        __atomic_add_fetch(&s->acks, 1, __ATOMIC_RELEASE);
        break;
    case DEMO_TURN:
        __atomic_store_n(&s->turn, 1, __ATOMIC_RELEASE);
        break;
    case DEMO_DONE:
        __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
        break;
    }
}

/* Spins for replies (latency matters); sleeps for turns (idle processes
 * must leave the CPU to the one measuring). */
static int demo_wait(const int *counter, int want, uint64_t deadline_ms, int sleep)
{
    while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < want) {
        if (ucpg_time_ms() > deadline_ms) {
            return -1;
        }
        if (sleep) {
            usleep(1000);
        } else {
            sched_yield();
        }
    }
    return 0;
}

/* Round trip: ITERS ping-pongs with 8-byte headers, one at a time. */
static int demo_rtt(demo_state_t *s, ucpg_peer_id_t peer, unsigned iters, uint64_t deadline,
                    double *rtt_us_p)
{
    demo_hdr_t h = {DEMO_PING, 0, 0};
    uint64_t t0 = ucpg_time_ns();
    unsigned i;

    __atomic_store_n(&s->pongs, 0, __ATOMIC_RELEASE);
    for (i = 0; i < iters; ++i) {
        h.seq = i;
        if ((ucpg_am_send(s->d, peer, UCPG_AM_ID_TEST, &h, sizeof(h), NULL, 0) != UCPG_OK) ||
            (demo_wait(&s->pongs, (int)i + 1, deadline, 0) != 0)) {
            return -1;
        }
    }
    *rtt_us_p = (double)(ucpg_time_ns() - t0) / 1000.0 / iters;
    return 0;
}

/* Bulk: COUNT messages of SIZE bytes, checked byte by byte at the peer. */
static int demo_bulk(demo_state_t *s, ucpg_peer_id_t peer, unsigned count, uint8_t *buf,
                     uint64_t deadline, double *mbps_p)
{
    demo_hdr_t h = {DEMO_BULK, 0, 0};
    uint64_t t0;
    unsigned i;

    __atomic_store_n(&s->acks, 0, __ATOMIC_RELEASE);
    memcpy(buf, demo_pattern, s->size);
    t0 = ucpg_time_ns();
    for (i = 0; i < count; ++i) {
        h.seq   = i;
        h.value = (i + 1 == count);
        if (s->size >= sizeof(i)) {
            memcpy(buf, &i, sizeof(i));
        }
        if (ucpg_am_send(s->d, peer, UCPG_AM_ID_TEST, &h, sizeof(h), buf, s->size) != UCPG_OK) {
            return -1;
        }
    }
    if (demo_wait(&s->acks, 1, deadline, 0) != 0) {
        return -1;
    }
    *mbps_p = (double)s->size * count / ((double)(ucpg_time_ns() - t0) / 1e3);
    return ((s->ack_checked == count) && (s->ack_bad == 0)) ? 0 : -1;
}

/* A number in min..max and nothing else ("4x", "-1" and overflow are refused
 * rather than read as 4, 4294967295 or a wrapped value). */
static int demo_number(const char *text, unsigned long min, unsigned long max, unsigned *out)
{
    unsigned long v;

    if (ucpg_config_parse_uint(text, min, max, &v) != NULL) {
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* 0 to run, 1 for -h, -1 for a usage error. */
static int demo_parse(int argc, char **argv, demo_opts_t *o)
{
    int c, bad = 0;

    o->nprocs = 4; o->iters = 1000; o->size = 1u << 20; o->bulk = 100; o->timeout_s = 30;
    while (!bad && ((c = getopt(argc, argv, "n:i:s:b:t:h")) != -1)) {
        switch (c) {
        case 'n': bad = demo_number(optarg, 1, 64, &o->nprocs); break;
        case 'i': bad = demo_number(optarg, 1, UINT_MAX, &o->iters); break;
        case 's': bad = demo_number(optarg, 1, 64u << 20, &o->size); break;
        case 'b': bad = demo_number(optarg, 1, UINT_MAX, &o->bulk); break;
        case 't': bad = demo_number(optarg, 1, 86400, &o->timeout_s); break;
        case 'h': return 1;
        default:  return -1;
        }
    }
    return (bad || (optind != argc)) ? -1 : 0;
}

int main(int argc, char **argv)
{
    static demo_state_t s;
    ucpg_peer_info_t peers[64];
    size_t count = 0, i, self_index = 0;
    double rtt, mbps;
    uint64_t t0, deadline, formed_ms;
    demo_hdr_t done = {DEMO_DONE, 0, 0}, turn = {DEMO_TURN, 0, 0};
    demo_opts_t o;
    uint8_t *buf;
    int rc = 0;

    if ((rc = demo_parse(argc, argv, &o)) != 0) {
        fprintf((rc > 0) ? stdout : stderr,
                "usage: ucx_cpg_demo [-n PROCS(1-64)] [-i ITERS] [-s BYTES(1-64MiB)] "
                "[-b COUNT] [-t SEC(1-86400)] [-h]\n");
        return (rc > 0) ? 0 : 2;
    }
    t0 = ucpg_time_ms();
    if (ucpg_boot_domain_get(&s.d) != UCPG_OK) {
        return 3;
    }
    s.size   = o.size;
    deadline = t0 + o.timeout_s * 1000ull;
    buf      = malloc(o.size);
    demo_pattern_init(o.size);
    if ((buf == NULL) || (demo_pattern == NULL) || (ucpg_am_register(s.d, UCPG_AM_ID_TEST, demo_recv, &s) != UCPG_OK)) {
        return 3;
    }
    if (ucpg_domain_wait_peers(s.d, o.nprocs - 1, o.timeout_s * 1000) != UCPG_OK) {
        fprintf(stderr, "ucx_cpg_demo: pid %d: only some of %u processes arrived\n",
                (int)getpid(), o.nprocs);
        return 1;
    }
    formed_ms = ucpg_time_ms() - t0;
    usleep(200000);        /* let the last arrival register its handler */
    ucpg_domain_peers(s.d, peers, 64, &count, NULL);
    /* Wait for our turn: the process before us in peer id order hands it on. */
    if (!peers[0].is_self && (demo_wait(&s.turn, 1, deadline, 1) != 0)) {
        fprintf(stderr, "ucx_cpg_demo: pid %d: turn never came\n", (int)getpid());
        return 1;
    }
    printf("pid %-7d peer %-3u node %u: domain of %zu processes formed in %llu ms\n",
           (int)getpid(), ucpg_domain_self(s.d), ucpg_domain_nodeid(s.d), count,
           (unsigned long long)formed_ms);
    printf("  %-8s %-8s %-12s %-12s %s\n", "to peer", "pid", "rtt (us)",
           "bulk (MB/s)", "bytes checked");
    for (i = 0; i < count; ++i) {
        if (peers[i].is_self) {
            self_index = i;
            continue;
        }
        if ((demo_rtt(&s, peers[i].id, o.iters, deadline, &rtt) != 0) ||
            (demo_bulk(&s, peers[i].id, o.bulk, buf, deadline, &mbps) != 0)) {
            printf("  %-8u %-8d FAILED\n", peers[i].id, (int)peers[i].pid);
            rc = 1;
            continue;
        }
        printf("  %-8u %-8d %-12.2f %-12.0f %llu, all correct\n", peers[i].id,
               (int)peers[i].pid, rtt, mbps, (unsigned long long)o.size * o.bulk);
    }
    fflush(stdout);
    /* Hand the turn on; the last process tells everyone that it is over. */
    if (self_index + 1 < count) {
        ucpg_am_send(s.d, peers[self_index + 1].id, UCPG_AM_ID_TEST, &turn, sizeof(turn),
                     NULL, 0);
        if (demo_wait(&s.done, 1, deadline, 1) != 0) {
            rc = 1;
        }
    } else {
        for (i = 0; i + 1 < count; ++i) {
            ucpg_am_send(s.d, peers[i].id, UCPG_AM_ID_TEST, &done, sizeof(done), NULL, 0);
        }
    }
    ucpg_am_unregister(s.d, UCPG_AM_ID_TEST);
    ucpg_boot_domain_put(s.d);
    free(buf);
    free(demo_pattern);
    return rc;
}
