/*
 * relay_int.h - a CPG handle served by a relay, shared by relay_client.c
 * (requests) and relay_dispatch.c (callbacks).
 */
#ifndef UCPG_CPG_RELAY_INT_H
#define UCPG_CPG_RELAY_INT_H

#include "cpg_int.h"
#include "relay_wire.h"

typedef struct ucpg_cpg_relay {
    cpg_handle_t        id;
    int                 refs;            /* table lock */
    int                 finalized;       /* table lock; atomic reads */
    pid_t               pid;             /* of the relay */
    int                 rfd, efd;        /* requests and replies; callbacks */
    pthread_mutex_t     rpc_lock;        /* one request at a time */
    pthread_mutex_t     ev_lock;         /* one reader of callback frames at a time */
    pthread_mutex_t     lock;            /* context, zcbs */
    cpg_model_v1_data_t model;
    void               *context;
    ucpg_cpg_zcb_t     *zcbs;
    int                 totem_initial;   /* atomic: the INITIAL totem is still to come */
} ucpg_cpg_relay_t;

/* A reference to a live (not finalized) relayed handle, or NULL. */
ucpg_cpg_relay_t *ucpg_cpg_relay_get(cpg_handle_t id);
void              ucpg_cpg_relay_put(ucpg_cpg_relay_t *r);

#endif
