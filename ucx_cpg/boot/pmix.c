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
 * A consequence of Open MPI's runtime: once one rank of an mpirun job has
 * initialized PMIx, mpirun expects every rank to. So boot = auto chooses this
 * method only for MPI processes (PMIx is up already) and for jobs that span
 * hosts (boot.c); a non-MPI program on several hosts in which only some
 * ranks use ucx_cpg must still set UCX_CPG_BOOT=local (docs/configuration.md).
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

/* Who a rank of another host is, as its card said (uuid 0: not known). */
typedef struct ucpg_boot_pmix_known {
    uint64_t uuid;
    uint32_t pid;
    uint32_t nodeid;
} ucpg_boot_pmix_known_t;

typedef struct ucpg_boot_pmix {
    ucpg_boot_host_t        host;      /* our slot in the host registry */
    pmix_proc_t             self;      /* our namespace and rank */
    uint32_t                job_size;
    uint8_t                *local;     /* [job_size]: rank runs on this host */
    uint32_t                nodeid;
    int                     pmix_up;
    /* Cards fetched at join, so that admitting their HELLOs (the progress
     * thread) needs no PMIx round trip; known_lock guards known[]. */
    pthread_mutex_t         known_lock;
    ucpg_boot_pmix_known_t *known;     /* [job_size] */
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
    ctx->known = calloc(ctx->job_size, sizeof(*ctx->known));
    if ((ctx->local == NULL) || (ctx->known == NULL)) {
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

/* Fetches and decodes the card of rank. For admission only: that rank put
 * its card before its first HELLO, so the answer does not wait (Open MPI
 * would hold a request for a card not yet committed, whatever wait_sec
 * says). buf must hold a card. */
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

/*
 * Fetching the cards of the ranks of other hosts, all at once, for at most
 * UCPG_BOOT_PMIX_FETCH_SEC. Open MPI's runtime holds a request for a rank
 * that has not committed yet until it does (it ignores PMIX_TIMEOUT), so
 * the answers for ranks that arrive later come after we stopped waiting:
 * the fetch state is reference counted (one reference per request still
 * out, one for the waiter) and freed by whoever drops the last one. Those
 * late ranks say HELLO to us themselves.
 */
typedef struct ucpg_boot_pmix_fetch {
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    unsigned        refs;         /* requests out + the waiter */
    int             abandoned;    /* the waiter is gone: drop late cards */
    uint32_t        n;
    uint8_t       **cards;        /* [n]: card bytes, or NULL */
    size_t         *lens;         /* [n] */
    struct ucpg_boot_pmix_fetch_req {
        struct ucpg_boot_pmix_fetch *fetch;
        uint32_t                     rank;
    } *reqs;                      /* [n]: callback arguments */
} ucpg_boot_pmix_fetch_t;

static void ucpg_boot_pmix_fetch_free(ucpg_boot_pmix_fetch_t *f)
{
    uint32_t r;

    for (r = 0; (f->cards != NULL) && (r < f->n); ++r) {
        free(f->cards[r]);
    }
    free(f->cards);
    free(f->lens);
    free(f->reqs);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* Drops one reference (lock held on entry, released here). */
static void ucpg_boot_pmix_fetch_put(ucpg_boot_pmix_fetch_t *f)
{
    int last = (--f->refs == 0);

    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    if (last) {
        ucpg_boot_pmix_fetch_free(f);
    }
}

/* PMIx's thread: keep a copy of the card (kv is PMIx's). */
static void ucpg_boot_pmix_fetched(pmix_status_t rc, pmix_value_t *kv, void *arg)
{
    struct ucpg_boot_pmix_fetch_req *req = arg;
    ucpg_boot_pmix_fetch_t *f            = req->fetch;
    uint8_t *copy                        = NULL;

    if ((rc == PMIX_SUCCESS) && (kv != NULL) && (kv->type == PMIX_BYTE_OBJECT) &&
        (kv->data.bo.size <= UCPG_WIRE_CARD_FIXED_LEN + UCPG_WIRE_ADDR_MAX) &&
        ((copy = malloc(kv->data.bo.size + 1)) != NULL)) {
        memcpy(copy, kv->data.bo.bytes, kv->data.bo.size);
    }
    pthread_mutex_lock(&f->lock);
    if ((copy != NULL) && !f->abandoned) {
        f->cards[req->rank] = copy;
        f->lens[req->rank]  = kv->data.bo.size;
        copy                = NULL;
    }
    free(copy);
    ucpg_boot_pmix_fetch_put(f);
    if (kv != NULL) {
        PMIX_VALUE_RELEASE(kv);      /* the callback owns it (valgrind: lost otherwise) */
    }
}

static ucpg_boot_pmix_fetch_t *ucpg_boot_pmix_fetch_new(uint32_t n)
{
    ucpg_boot_pmix_fetch_t *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->refs  = 1;                         /* the waiter's */
    f->n     = n;
    f->cards = calloc(n, sizeof(*f->cards));
    f->lens  = calloc(n, sizeof(*f->lens));
    f->reqs  = calloc(n, sizeof(*f->reqs));
    if ((f->cards == NULL) || (f->lens == NULL) || (f->reqs == NULL)) {
        ucpg_boot_pmix_fetch_free(f);
        return NULL;
    }
    return f;
}

/* Asks for every remote rank's card and waits (bounded) for the answers;
 * the cards that came are moved to cards[] (free() each). */
static void ucpg_boot_pmix_fetch_cards(ucpg_boot_pmix_t *ctx, uint8_t **cards, size_t *lens)
{
    static pmix_info_t info;              /* PMIx may read it after we return */
    static int wait_sec = UCPG_BOOT_PMIX_FETCH_SEC;
    ucpg_boot_pmix_fetch_t *f = ucpg_boot_pmix_fetch_new(ctx->job_size);
    struct timespec deadline;
    pmix_proc_t proc;
    uint32_t r;

    if (f == NULL) {
        return;
    }
    PMIX_INFO_LOAD(&info, PMIX_TIMEOUT, &wait_sec, PMIX_INT);
    for (r = 0; r < ctx->job_size; ++r) {
        if (ctx->local[r]) {
            continue;
        }
        f->reqs[r].fetch = f;
        f->reqs[r].rank  = r;
        PMIX_LOAD_PROCID(&proc, ctx->self.nspace, r);
        pthread_mutex_lock(&f->lock);
        ++f->refs;
        pthread_mutex_unlock(&f->lock);
        if (PMIx_Get_nb(&proc, UCPG_BOOT_PMIX_CARD_KEY, &info, 1, ucpg_boot_pmix_fetched,
                        &f->reqs[r]) != PMIX_SUCCESS) {
            pthread_mutex_lock(&f->lock);
            ucpg_boot_pmix_fetch_put(f);  /* no callback will come */
        }
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += UCPG_BOOT_PMIX_FETCH_SEC;
    pthread_mutex_lock(&f->lock);
    while ((f->refs > 1) &&
           (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == 0)) {
    }
    for (r = 0; r < ctx->job_size; ++r) {
        cards[r]    = f->cards[r];
        lens[r]     = f->lens[r];
        f->cards[r] = NULL;
    }
    if (f->refs > 1) {
        ucpg_debug("%u rank(s) of other hosts have no card yet; they will say HELLO",
                   f->refs - 1);
    }
    f->abandoned = 1;
    ucpg_boot_pmix_fetch_put(f);
}

/* Connects to rank r of another host from its card. */
static int ucpg_boot_pmix_connect_card(ucpg_boot_pmix_t *ctx, ucpg_domain_t *d, uint32_t r,
                                       const uint8_t *bytes, size_t len)
{
    ucpg_wire_card_t card;
    ucpg_peer_desc_t desc;

    if (ucpg_wire_card_decode(bytes, len, &card) != UCPG_OK) {
        return 0;                         /* withdrawn: it left */
    }
    if (card.nodeid == ctx->nodeid) {
        ucpg_error("rank %u runs on another host but has this host's node id %u; "
                   "give each host its own UCX_CPG_NODEID", r, card.nodeid);
        return 0;
    }
    pthread_mutex_lock(&ctx->known_lock);
    ctx->known[r].uuid   = card.uuid;
    ctx->known[r].pid    = card.pid;
    ctx->known[r].nodeid = card.nodeid;
    pthread_mutex_unlock(&ctx->known_lock);
    desc.id          = r;
    desc.uuid        = card.uuid;
    desc.nodeid      = card.nodeid;
    desc.pid         = (pid_t)card.pid;
    desc.starttime   = card.starttime;
    desc.address     = card.address;
    desc.address_len = card.address_len;
    desc.same_host   = 0;
    if (ucpg_domain_connect(d, &desc) != UCPG_OK) {
        ucpg_warn("cannot reach rank %u (node %u); continuing without it", r, card.nodeid);
        return 0;
    }
    return 1;
}

/* Connects to the ranks of other hosts that have put their card; those not
 * there yet say HELLO themselves when they arrive. */
static void ucpg_boot_pmix_connect_remote(ucpg_boot_pmix_t *ctx, ucpg_domain_t *d)
{
    unsigned found = 0;
    uint8_t **cards;
    size_t *lens;
    uint32_t r;

    if (memchr(ctx->local, 0, ctx->job_size) == NULL) {
        return;                           /* the whole job is on this host */
    }
    cards = calloc(ctx->job_size, sizeof(*cards));
    lens  = calloc(ctx->job_size, sizeof(*lens));
    if ((cards != NULL) && (lens != NULL)) {
        ucpg_boot_pmix_fetch_cards(ctx, cards, lens);
        for (r = 0; r < ctx->job_size; ++r) {
            if (cards[r] != NULL) {
                found += ucpg_boot_pmix_connect_card(ctx, d, r, cards[r], lens[r]);
                free(cards[r]);
            }
        }
    }
    free(cards);
    free(lens);
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

/* A HELLO from another host: the job's store must hold that very process
 * (a card fetched at join, or else fetched now). */
static int ucpg_boot_pmix_admit(void *arg, const ucpg_peer_desc_t *peer)
{
    uint8_t buf[UCPG_WIRE_CARD_FIXED_LEN + UCPG_WIRE_ADDR_MAX];
    ucpg_boot_pmix_t *ctx = arg;
    ucpg_boot_pmix_known_t k;
    ucpg_wire_card_t card;

    if ((peer->id >= ctx->job_size) || ctx->local[peer->id]) {
        return 0;
    }
    pthread_mutex_lock(&ctx->known_lock);
    k = ctx->known[peer->id];
    pthread_mutex_unlock(&ctx->known_lock);
    if (k.uuid != peer->uuid) {
        if (ucpg_boot_pmix_get_card(ctx, peer->id, UCPG_BOOT_PMIX_FETCH_SEC, buf, sizeof(buf),
                                    &card) != UCPG_OK) {
            return 0;
        }
        k.uuid   = card.uuid;
        k.pid    = card.pid;
        k.nodeid = card.nodeid;
    }
    return (k.uuid == peer->uuid) && (k.nodeid == peer->nodeid) &&
           (k.pid == (uint32_t)peer->pid);
}

/* Only processes of this host have a registration here to look at. */
static int ucpg_boot_pmix_registered(void *arg, ucpg_peer_id_t id, uint64_t uuid)
{
    ucpg_boot_pmix_t *ctx = arg;

    return (id < ctx->job_size) && ctx->local[id] && ucpg_boot_host_holds(&ctx->host, id, uuid);
}

static const ucpg_boot_ops_t ucpg_boot_pmix_ops = {
    .peer_gone  = ucpg_boot_pmix_peer_gone,
    .admit      = ucpg_boot_pmix_admit,
    .registered = ucpg_boot_pmix_registered
};

static void ucpg_boot_pmix_cleanup(void *arg)
{
    ucpg_boot_pmix_t *ctx = arg;

    ucpg_boot_host_close(&ctx->host);
    if (ctx->pmix_up) {
        PMIx_Finalize(NULL, 0);
    }
    pthread_mutex_destroy(&ctx->known_lock);
    free(ctx->known);
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
    pthread_mutex_init(&ctx->known_lock, NULL);
    /* Reference counted by PMIx: fine inside an MPI process. */
    rc = PMIx_Init(&ctx->self, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        ucpg_error("PMIx_Init failed: %s", PMIx_Error_string(rc));
        pthread_mutex_destroy(&ctx->known_lock);
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

int ucpg_boot_pmix_initialized(void)
{
    return PMIx_Initialized();
}

const ucpg_boot_method_t ucpg_boot_pmix = {
    .name     = "pmix",
    .init     = ucpg_boot_pmix_init,
    .join     = ucpg_boot_pmix_join,
    .leave    = ucpg_boot_pmix_leave,
    .cleanup  = ucpg_boot_pmix_cleanup,
    .registry = ucpg_boot_pmix_registry
};
