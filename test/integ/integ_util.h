/*
 * integ_util.h - the child side of the integration tests: a test node is a
 * process that holds the domain, receives test messages on UCPG_AM_ID_TEST,
 * checks every payload byte, and records peer events.
 */
#ifndef UCPG_TEST_INTEG_UTIL_H
#define UCPG_TEST_INTEG_UTIL_H

#include <pthread.h>
#include <stdint.h>

#include "boot/boot.h"
#include "core/am.h"

#define INTEG_MAX_PEERS 64
#define INTEG_MAX_EVENTS 256

typedef struct integ_event {
    ucpg_peer_id_t     peer;
    ucpg_peer_event_t  event;
    ucpg_peer_reason_t reason;
    uint64_t           time_ms;     /* CLOCK_MONOTONIC, comparable across processes */
} integ_event_t;

typedef struct integ_node {
    ucpg_domain_t  *d;
    int             listener;
    pthread_mutex_t lock;
    uint64_t        received;              /* test messages received and checked */
    uint64_t        bytes;
    uint64_t        bad;                   /* payload or header mismatches */
    uint64_t        with_buf;              /* bodies handed over as a buffer */
    uint64_t        from[INTEG_MAX_PEERS]; /* messages per sender */
    integ_event_t   events[INTEG_MAX_EVENTS];
    unsigned        nevents;
    unsigned        recv_delay_us;         /* a slow reader: sleep per message */
    unsigned        echo_to;               /* peer id + 1: answer each message (empty) */
} integ_node_t;

/* Joins the domain (ucpg_boot_domain_get), registers the test handler and a
 * peer-event listener. Returns a ucpg_status_t. */
int  integ_node_start(integ_node_t *n);
void integ_node_stop(integ_node_t *n);

/* Sends len bytes of a pattern derived from seed; blocking. */
int  integ_send_pattern(integ_node_t *n, ucpg_peer_id_t dst, size_t len, uint32_t seed);
/* The same from a buffer of ucpg_am_buf_new (the shared-memory pool when
 * len is large) through ucpg_am_send_buf_nb; waits for local completion. */
int  integ_send_pattern_buf(integ_node_t *n, ucpg_peer_id_t dst, size_t len, uint32_t seed);
/* Waits until at least count messages were received. 0 or -1 on timeout. */
int  integ_wait_received(integ_node_t *n, uint64_t count, unsigned timeout_ms);
/* Waits for a DOWN event of peer; fills *ev. 0 or -1 on timeout. */
int  integ_wait_down(integ_node_t *n, ucpg_peer_id_t peer, integ_event_t *ev,
                     unsigned timeout_ms);
/* Comma-separated ids of all UP processes including self, e.g. "0,1,3". */
void integ_view(integ_node_t *n, char *buf, size_t len);
uint64_t integ_cpu_ms(void);   /* user + system CPU of this process */

#endif
