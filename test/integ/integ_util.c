/* integ_util.c - child side of the integration tests (see integ_util.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "integ_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/proc.h"
#include "harness.h"

typedef struct integ_msg_hdr {
    uint32_t seed;
    uint64_t len;
} integ_msg_hdr_t;

static uint8_t integ_pattern_byte(uint32_t seed, size_t i)
{
    return (uint8_t)((seed * 131u) + (i * 31u) + (i >> 8));
}

static void integ_echo_done(void *arg, ucpg_status_t status)
{
    (void)arg;
    (void)status;
}

/* An empty test message, sent from the receive handler (non-blocking: the
 * progress thread cannot wait for itself); what it sends never changes. */
static void integ_echo(integ_node_t *n, ucpg_peer_id_t dst)
{
    static const integ_msg_hdr_t empty = {0, 0};

    ucpg_am_send_nb(n->d, dst, UCPG_AM_ID_TEST, &empty, sizeof(empty), NULL, 0,
                    integ_echo_done, NULL);
}

static void integ_recv(void *arg, ucpg_peer_id_t src, const void *hdr, size_t hdr_len,
                       void *data, size_t len, ucpg_buf_t *buf)
{
    integ_node_t *n = arg;
    integ_msg_hdr_t h;
    const uint8_t *p = data;
    int ok = (hdr_len == sizeof(h));
    size_t i;

    if (ok) {
        memcpy(&h, hdr, sizeof(h));
        ok = (h.len == len);
        for (i = 0; ok && (i < len); ++i) {
            ok = (p[i] == integ_pattern_byte(h.seed, i));
        }
    }
    if (n->recv_delay_us > 0) {
        usleep(n->recv_delay_us);   /* in the progress thread: nothing else is read meanwhile */
    }
    if (n->echo_to > 0) {
        integ_echo(n, n->echo_to - 1);
    }
    pthread_mutex_lock(&n->lock);
    n->received++;
    n->bytes += len;
    n->bad   += !ok;
    n->with_buf += (buf != NULL);
    if (src < INTEG_MAX_PEERS) {
        n->from[src]++;
    }
    pthread_mutex_unlock(&n->lock);
}

static void integ_on_event(void *arg, const ucpg_peer_info_t *peer, ucpg_peer_event_t event,
                           ucpg_peer_reason_t reason)
{
    integ_node_t *n = arg;

    pthread_mutex_lock(&n->lock);
    if (n->nevents < INTEG_MAX_EVENTS) {
        n->events[n->nevents].peer    = peer->id;
        n->events[n->nevents].event   = event;
        n->events[n->nevents].reason  = reason;
        n->events[n->nevents].time_ms = ucpg_test_now_ms();
        n->nevents++;
    }
    pthread_mutex_unlock(&n->lock);
}

int integ_node_start(integ_node_t *n)
{
    ucpg_status_t status;

    memset(n, 0, sizeof(*n));
    pthread_mutex_init(&n->lock, NULL);
    status = ucpg_boot_domain_get(&n->d);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_am_register(n->d, UCPG_AM_ID_TEST, integ_recv, n);
    if (status == UCPG_OK) {
        status = ucpg_domain_listen(n->d, integ_on_event, n, 0, &n->listener);
    }
    if (status != UCPG_OK) {
        ucpg_boot_domain_put(n->d);
    }
    return status;
}

void integ_node_stop(integ_node_t *n)
{
    ucpg_domain_unlisten(n->d, n->listener);
    ucpg_am_unregister(n->d, UCPG_AM_ID_TEST);
    ucpg_boot_domain_put(n->d);
    pthread_mutex_destroy(&n->lock);
}

int integ_send_pattern(integ_node_t *n, ucpg_peer_id_t dst, size_t len, uint32_t seed)
{
    integ_msg_hdr_t h = {seed, len};
    uint8_t *buf      = malloc(len ? len : 1);
    size_t i;
    int status;

    if (buf == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < len; ++i) {
        buf[i] = integ_pattern_byte(seed, i);
    }
    status = ucpg_am_send(n->d, dst, UCPG_AM_ID_TEST, &h, sizeof(h), buf, len);
    free(buf);
    return status;
}

int integ_send_pattern_buf(integ_node_t *n, ucpg_peer_id_t dst, size_t len, uint32_t seed)
{
    integ_msg_hdr_t h    = {seed, len};
    ucpg_buf_t *buf      = ucpg_am_buf_new(n->d, len);
    ucpg_status_t status;
    size_t i;

    if (buf == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    for (i = 0; i < len; ++i) {
        buf->data[i] = (char)integ_pattern_byte(seed, i);
    }
    status = ucpg_am_send_buf(n->d, dst, UCPG_AM_ID_TEST, &h, sizeof(h), buf);
    ucpg_buf_put(buf);
    return status;
}

int integ_wait_received(integ_node_t *n, uint64_t count, unsigned timeout_ms)
{
    uint64_t deadline = ucpg_test_now_ms() + timeout_ms;
    uint64_t got;

    for (;;) {
        pthread_mutex_lock(&n->lock);
        got = n->received;
        pthread_mutex_unlock(&n->lock);
        if (got >= count) {
            return 0;
        }
        if (ucpg_test_now_ms() > deadline) {
            return -1;
        }
        usleep(1000);
    }
}

int integ_wait_down(integ_node_t *n, ucpg_peer_id_t peer, integ_event_t *ev,
                    unsigned timeout_ms)
{
    uint64_t deadline = ucpg_test_now_ms() + timeout_ms;
    unsigned i;

    for (;;) {
        pthread_mutex_lock(&n->lock);
        for (i = 0; i < n->nevents; ++i) {
            if ((n->events[i].peer == peer) && (n->events[i].event == UCPG_PEER_EVENT_DOWN)) {
                *ev = n->events[i];
                pthread_mutex_unlock(&n->lock);
                return 0;
            }
        }
        pthread_mutex_unlock(&n->lock);
        if (ucpg_test_now_ms() > deadline) {
            return -1;
        }
        usleep(1000);
    }
}

void integ_view(integ_node_t *n, char *buf, size_t len)
{
    ucpg_peer_info_t peers[INTEG_MAX_PEERS];
    size_t count = 0, i, used = 0;

    buf[0] = '\0';
    ucpg_domain_peers(n->d, peers, INTEG_MAX_PEERS, &count, NULL);
    for (i = 0; (i < count) && (used < len); ++i) {
        used += (size_t)snprintf(buf + used, len - used, "%s%u", i ? "," : "", peers[i].id);
    }
}

uint64_t integ_cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000u;
}
