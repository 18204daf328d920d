/*
 * pmix.c - the boot method under a PMIx launcher (mpirun, prterun, srun):
 * the domain forms from the job.
 *
 * Ids. A process' peer id is its PMIx rank, so an id means the same process
 * on every host, and the id space is the job size. Its node id is the
 * launcher's (PMIX_NODEID + 1), the same for every rank of a host and
 * different between hosts even when they were cloned from one image (equal
 * /etc/machine-id); an explicit UCX_CPG_NODEID still wins.
 *
 * Addresses. On its own host a process joins the host registry at the slot
 * of its rank (host.h): the registry serializes arrivals, so one side of each
 * pair of the host says HELLO, reclaims the dead, and keeps the RSM segment
 * ids and the CPG directory. Every process also puts its card (core/wire.h:
 * uuid, pid, node id, worker address) into the PMIx key-value store. A
 * process connects to the ranks of *other* hosts whose cards it finds there,
 * and admits a HELLO from another host only if the store holds the sender's
 * card with the same uuid: nobody outside the job can write the job's store,
 * which is what the registry's secret proves on one host.
 *
 * No collective. The domain is created lazily, by the first user of each
 * process, and a rank that never uses the library must not make the others
 * wait, so there is no PMIx_Fence: the cards of other hosts are fetched
 * with a bounded wait, ranks not there yet are not waited for, and they say
 * HELLO themselves when they arrive (their card is in the store before
 * their first HELLO). Two processes of two hosts that arrive together may
 * both find each other; the core takes crossing HELLOs as answers.
 *
 * A consequence of Open MPI's runtime, documented in docs/configuration.md:
 * once one rank of an mpirun job has initialized PMIx, mpirun expects every
 * rank to, so a non-MPI program in which only some ranks use ucx_cpg should
 * set UCX_CPG_BOOT=local.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "boot.h"

#include <pmix.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"
#include "core/wire.h"
#include "host.h"
#include "remote.h"

#define UCPG_BOOT_PMIX_CARD_KEY     "ucx_cpg.card"
#define UCPG_BOOT_PMIX_FETCH_SEC    1    /* wait for a card of another host */

typedef struct ucpg_boot_pmix {
    ucpg_boot_host_t host;            /* first: the registry accessor uses it */
    pmix_proc_t      self;            /* our namespace and rank */
    uint32_t         job_size;
    uint8_t         *local;           /* [job_size]: rank runs on this host */
    uint32_t         nodeid;
    int              pmix_up;
} ucpg_boot_pmix_t;

/* --- PMIx queries ---------------------------------------------------------- */

static ucpg_status_t ucpg_boot_pmix_get_u32(const pmix_proc_t *proc, const char *key,
                                            uint32_t *value_p)
{
    pmix_value_t *val = NULL;
    pmix_status_t rc;
    ucpg_status_t status = UCPG_ERR_NOT_FOUND;

    rc = PMIx_Get(proc, key, NULL, 0, &val);
    if ((rc == PMIX_SUCCESS) && (val != NULL)) {
        if (val->type == PMIX_UINT32) {
            *value_p = val->data.uint32;
            status   = UCPG_OK;
        }
        PMIX_VALUE_RELEASE(val);
    }
    return status;
}

/* Marks the ranks that run on this host: those with our PMIX_NODEID. (Open
 * MPI 4.1's runtime answers PMIX_LOCAL_PEERS with the first node's ranks on
 * every node, so that key cannot be used.) Without node ids every rank is
 * taken as local: then only the registry is used, as on one host. */
static void ucpg_boot_pmix_local_peers(ucpg_boot_pmix_t *ctx)
{
    uint32_t mine, theirs, r;
    pmix_proc_t proc;

    if (ucpg_boot_pmix_get_u32(&ctx->self, PMIX_NODEID, &mine) != UCPG_OK) {
        ucpg_warn("PMIx does not say which ranks share this host; assuming all do");
        memset(ctx->local, 1, ctx->job_size);
        return;
    }
    for (r = 0; r < ctx->job_size; ++r) {
        PMIX_LOAD_PROCID(&proc, ctx->self.nspace, r);
        ctx->local[r] = (ucpg_boot_pmix_get_u32(&proc, PMIX_NODEID, &theirs) == UCPG_OK) &&
                        (theirs == mine);
    }
}

static ucpg_status_t ucpg_boot_pmix_job_info(ucpg_boot_pmix_t *ctx)
{
    pmix_proc_t job;

    PMIX_LOAD_PROCID(&job, ctx->self.nspace, PMIX_RANK_WILDCARD);
    if (ucpg_boot_pmix_get_u32(&job, PMIX_JOB_SIZE, &ctx->job_size) != UCPG_OK) {
        ucpg_error("PMIx did not give the job size of namespace %s", ctx->self.nspace);
        return UCPG_ERR_UNSUPPORTED;
    }
    if ((ctx->job_size > UCPG_REGISTRY_MAX_SLOTS) || (ctx->self.rank >= ctx->job_size)) {
        ucpg_error("PMIx job of %u ranks (this is rank %u): at most %u are supported",
                   ctx->job_size, ctx->self.rank, UCPG_REGISTRY_MAX_SLOTS);
        return UCPG_ERR_UNSUPPORTED;
    }
    ctx->local = calloc(ctx->job_size, 1);
    if (ctx->local == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    ucpg_boot_pmix_local_peers(ctx);
    ctx->local[ctx->self.rank] = 1;
    return UCPG_OK;
}

/* The node id: explicit configuration, else the launcher's node index. */
static void ucpg_boot_pmix_nodeid(ucpg_boot_pmix_t *ctx, ucpg_config_t *config)
{
    uint32_t index;
    char value[16];

    if ((strcmp(ucpg_config_origin(config, "nodeid"), "default") == 0) &&
        (ucpg_boot_pmix_get_u32(&ctx->self, PMIX_NODEID, &index) == UCPG_OK) &&
        (index < INT32_MAX)) {
        snprintf(value, sizeof(value), "%u", index + 1);
        ucpg_config_set(config, "nodeid", value, "PMIX_NODEID");
    }
    ctx->nodeid = config->nodeid;
}

/* --- cards ------------------------------------------------------------------ */

static ucpg_status_t ucpg_boot_pmix_put_card(ucpg_boot_pmix_t *ctx, ucpg_domain_t *d)
{
    uint8_t buf[UCPG_WIRE_CARD_FIXED_LEN + UCPG_WIRE_ADDR_MAX];
    ucpg_wire_card_t card;
    pmix_value_t val;
    size_t len;

    card.uuid      = ucpg_domain_uuid(d);
    card.pid       = (uint32_t)getpid();
    card.starttime = ucpg_proc_starttime(getpid());
    card.nodeid    = ctx->nodeid;
    ucpg_domain_address(d, &card.address, &card.address_len);
    len = ucpg_wire_card_encode(&card, buf, sizeof(buf));
    if (len == 0) {
        ucpg_error("worker address of %zu bytes does not fit a PMIx card", card.address_len);
        return UCPG_ERR_UNSUPPORTED;
    }
    PMIX_VALUE_CONSTRUCT(&val);
    val.type          = PMIX_BYTE_OBJECT;
    val.data.bo.bytes = (char*)buf;
    val.data.bo.size  = len;
    if ((PMIx_Put(PMIX_GLOBAL, UCPG_BOOT_PMIX_CARD_KEY, &val) != PMIX_SUCCESS) ||
        (PMIx_Commit() != PMIX_SUCCESS)) {
        ucpg_error("cannot put this process' card into the PMIx key-value store");
        return UCPG_ERR_IO;
    }
    return UCPG_OK;
}

/* On leave: a card that decodes to nothing, so a process arriving later does
 * not wait for our HELLO_ACK (the store cannot delete a key). */
static void ucpg_boot_pmix_withdraw_card(void)
{
    pmix_value_t val;
    char none = 0;

    PMIX_VALUE_CONSTRUCT(&val);
    val.type          = PMIX_BYTE_OBJECT;
    val.data.bo.bytes = &none;
    val.data.bo.size  = 1;
    if ((PMIx_Put(PMIX_GLOBAL, UCPG_BOOT_PMIX_CARD_KEY, &val) != PMIX_SUCCESS) ||
        (PMIx_Commit() != PMIX_SUCCESS)) {
        ucpg_debug("could not withdraw this process' PMIx card");
    }
}

/* Fetches and decodes the card of rank; waits at most wait_sec for a rank
 * that has not put one yet. buf must hold a card. */
static ucpg_status_t ucpg_boot_pmix_get_card(ucpg_boot_pmix_t *ctx, uint32_t rank, int wait_sec,
                                             uint8_t *buf, size_t cap, ucpg_wire_card_t *card)
{
    pmix_value_t *val = NULL;
    pmix_info_t info;
    pmix_proc_t proc;
    ucpg_status_t status = UCPG_ERR_NOT_FOUND;

    PMIX_LOAD_PROCID(&proc, ctx->self.nspace, rank);
    PMIX_INFO_LOAD(&info, PMIX_TIMEOUT, &wait_sec, PMIX_INT);
    if ((PMIx_Get(&proc, UCPG_BOOT_PMIX_CARD_KEY, &info, 1, &val) == PMIX_SUCCESS) &&
        (val != NULL) && (val->type == PMIX_BYTE_OBJECT) && (val->data.bo.size <= cap)) {
        memcpy(buf, val->data.bo.bytes, val->data.bo.size);
        status = ucpg_wire_card_decode(buf, val->data.bo.size, card);
    }
    PMIX_INFO_DESTRUCT(&info);
    if (val != NULL) {
        PMIX_VALUE_RELEASE(val);
    }
    return status;
}

/* Connects to the ranks of other hosts that have put their card. */
static void ucpg_boot_pmix_connect_remote(ucpg_boot_pmix_t *ctx, ucpg_domain_t *d)
{
    uint8_t buf[UCPG_WIRE_CARD_FIXED_LEN + UCPG_WIRE_ADDR_MAX];
    ucpg_wire_card_t card;
    ucpg_peer_desc_t desc;
    unsigned found = 0;
    uint32_t r;

    for (r = 0; r < ctx->job_size; ++r) {
        if (ctx->local[r] ||
            (ucpg_boot_pmix_get_card(ctx, r, UCPG_BOOT_PMIX_FETCH_SEC, buf, sizeof(buf),
                                     &card) != UCPG_OK)) {
            continue;                     /* not there: it will say HELLO itself */
        }
        if (card.nodeid == ctx->nodeid) {
            ucpg_error("rank %u runs on another host but has this host's node id %u; "
                       "give each host its own UCX_CPG_NODEID", r, card.nodeid);
            continue;
        }
        desc.id          = r;
        desc.uuid        = card.uuid;
        desc.nodeid      = card.nodeid;
        desc.pid         = (pid_t)card.pid;
        desc.starttime   = card.starttime;
        desc.address     = card.address;
        desc.address_len = card.address_len;
        desc.same_host   = 0;
        if (ucpg_domain_connect(d, &desc) == UCPG_OK) {
            ++found;
        } else {
            ucpg_warn("cannot reach rank %u (node %u); continuing without it", r, card.nodeid);
        }
    }
    if (found > 0) {
        ucpg_info("%u process(es) of other hosts found through PMIx", found);
    }
}

/* --- boot method -------------------------------------------------------------- */

static void ucpg_boot_pmix_peer_gone(void *arg, ucpg_peer_id_t id, uint64_t uuid)
{
    ucpg_boot_pmix_t *ctx = arg;

    if ((id < ctx->job_size) && ctx->local[id]) {
        ucpg_boot_host_reclaim(&ctx->host, id, uuid);
    }
}

/* A HELLO from another host: the job's store must hold that very process. */
static int ucpg_boot_pmix_admit(void *arg, const ucpg_peer_desc_t *peer)
{
    uint8_t buf[UCPG_WIRE_CARD_FIXED_LEN + UCPG_WIRE_ADDR_MAX];
    ucpg_boot_pmix_t *ctx = arg;
    ucpg_wire_card_t card;

    return (peer->id < ctx->job_size) && !ctx->local[peer->id] &&
           (ucpg_boot_pmix_get_card(ctx, peer->id, UCPG_BOOT_PMIX_FETCH_SEC, buf, sizeof(buf),
                                    &card) == UCPG_OK) &&
           (card.uuid == peer->uuid) && (card.nodeid == peer->nodeid) &&
           (card.pid == (uint32_t)peer->pid);
}

static const ucpg_boot_ops_t ucpg_boot_pmix_ops = {
    .peer_gone = ucpg_boot_pmix_peer_gone,
    .admit     = ucpg_boot_pmix_admit
};

static void ucpg_boot_pmix_cleanup(void *arg)
{
    ucpg_boot_pmix_t *ctx = arg;

    ucpg_boot_host_close(&ctx->host);
    if (ctx->pmix_up) {
        PMIx_Finalize(NULL, 0);
    }
    free(ctx->local);
    free(ctx);
}

static ucpg_status_t ucpg_boot_pmix_init(ucpg_config_t *config, void **ctx_p)
{
    ucpg_boot_pmix_t *ctx;
    pmix_status_t rc;
    ucpg_status_t status;

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    /* Reference counted by PMIx: fine inside an MPI process. */
    rc = PMIx_Init(&ctx->self, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        ucpg_error("PMIx_Init failed: %s", PMIx_Error_string(rc));
        free(ctx);
        return UCPG_ERR_TRANSPORT;     /* no launcher to talk to */
    }
    ctx->pmix_up = 1;
    status = ucpg_boot_pmix_job_info(ctx);
    if (status != UCPG_OK) {
        ucpg_boot_pmix_cleanup(ctx);
        return status;
    }
    ucpg_boot_pmix_nodeid(ctx, config);
    *ctx_p = ctx;
    return UCPG_OK;
}

static ucpg_status_t ucpg_boot_pmix_join(void *arg, ucpg_domain_t *d,
                                         const ucpg_config_t *config)
{
    ucpg_boot_pmix_t *ctx = arg;
    ucpg_registry_entry_t *peers;
    ucpg_status_t status;
    unsigned nslots, npeers = 0;

    /* Every rank computes the same size, so whoever creates the file fits all. */
    nslots = (config->max_procs > ctx->job_size) ? config->max_procs : ctx->job_size;
    status = ucpg_boot_host_join(&ctx->host, d, config, nslots, (int)ctx->self.rank, &peers,
                                 &npeers);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_boot_pmix_put_card(ctx, d);
    if (status == UCPG_OK) {
        status = ucpg_domain_start(d, ctx->self.rank, ucpg_registry_nslots(ctx->host.registry),
                                   ucpg_registry_secret(ctx->host.registry),
                                   &ucpg_boot_pmix_ops, ctx);
    }
    if (status == UCPG_OK) {
        /* before anyone hears of us: an UP peer always answers queries */
        status = ucpg_boot_remote_start(d, ctx->host.registry);
    }
    if (status == UCPG_OK) {
        ucpg_info("joined domain '%s' as rank %u of %u (node %u), %u other process(es) of "
                  "this host found", config->domain, ctx->self.rank, ctx->job_size,
                  ctx->nodeid, npeers);
        ucpg_boot_host_connect(d, peers, npeers);
        ucpg_boot_pmix_connect_remote(ctx, d);
    }
    free(peers);
    return status;
}

static void ucpg_boot_pmix_leave(void *arg)
{
    ucpg_boot_pmix_t *ctx = arg;

    ucpg_boot_host_leave(&ctx->host);
    ucpg_boot_pmix_withdraw_card();
}

static struct ucpg_registry *ucpg_boot_pmix_registry(void *arg)
{
    return ((ucpg_boot_pmix_t*)arg)->host.registry;
}

const ucpg_boot_method_t ucpg_boot_pmix = {
    .name     = "pmix",
    .init     = ucpg_boot_pmix_init,
    .join     = ucpg_boot_pmix_join,
    .leave    = ucpg_boot_pmix_leave,
    .cleanup  = ucpg_boot_pmix_cleanup,
    .registry = ucpg_boot_pmix_registry
};
