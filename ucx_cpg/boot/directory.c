/*
 * directory.c - the CPG group directory across nodes (directory.h).
 *
 * The set of live nodes is recomputed from the domain's peer table whenever
 * a peer comes or goes and whenever a caller asks (so an upper layer that
 * hears of a peer event before our listener does still sees the new set).
 * A change of that set bumps the epoch (the totem ring's seq), starts the
 * grace period, and, if this node stopped being the coordinator, empties
 * its registry's directory.
 */
#include "directory.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/proc.h"
#include "dir_wire.h"
#include "remote.h"

/* A DIR_PUBLISH waiting for the progress thread (see ucpg_boot_dir_publish). */
typedef struct ucpg_boot_dir_post {
    struct ucpg_boot_dir_post *next;
    uint32_t                   coord;
    size_t                     len;
    uint8_t                    body[];
} ucpg_boot_dir_post_t;

static struct {
    pthread_mutex_t  lock;         /* guards everything below */
    ucpg_boot_dir_post_t *posts;   /* publishes to send, oldest first */
    ucpg_boot_dir_post_t **posts_tail;
    ucpg_domain_t   *domain;
    ucpg_registry_t *registry;
    int              listener;
    uint32_t         self_node;
    uint32_t        *nodes;        /* live node ids, ascending, ours included */
    size_t           nnodes;
    uint64_t         epoch;
    uint64_t         grace_until;  /* ns: no group creation before */
} ucpg_boot_dir = { .lock = PTHREAD_MUTEX_INITIALIZER, .posts_tail = &ucpg_boot_dir.posts,
                    .listener = -1 };

/* Takes the queued publishes (all, or none if d is not ours). */
static ucpg_boot_dir_post_t *ucpg_boot_dir_posts_take(ucpg_domain_t *d)
{
    ucpg_boot_dir_post_t *list = NULL;

    pthread_mutex_lock(&ucpg_boot_dir.lock);
    if ((ucpg_boot_dir.domain == d) || (d == NULL)) {
        list                     = ucpg_boot_dir.posts;
        ucpg_boot_dir.posts      = NULL;
        ucpg_boot_dir.posts_tail = &ucpg_boot_dir.posts;
    }
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    return list;
}

/* --- the set of live nodes ----------------------------------------------------- */

static int ucpg_boot_dir_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;

    return (x > y) - (x < y);
}

/* Fills nodes (capacity UCPG_REGISTRY_MAX_SLOTS + 1) from the peer table. */
static size_t ucpg_boot_dir_scan(ucpg_domain_t *d, uint32_t self_node, uint32_t *nodes)
{
    ucpg_peer_info_t *peers = calloc(UCPG_REGISTRY_MAX_SLOTS, sizeof(*peers));
    size_t count = 0, i, n = 0;

    nodes[n++] = self_node;
    if (peers != NULL) {
        ucpg_domain_peers(d, peers, UCPG_REGISTRY_MAX_SLOTS, &count, NULL);
    }
    for (i = 0; i < count; ++i) {
        nodes[n++] = peers[i].nodeid;
    }
    free(peers);
    qsort(nodes, n, sizeof(*nodes), ucpg_boot_dir_u32_cmp);
    for (i = 1, count = 1; i < n; ++i) {
        if (nodes[i] != nodes[count - 1]) {
            nodes[count++] = nodes[i];
        }
    }
    return count;
}

/*
 * Brings the node set up to date; returns the coordinator (0 if the
 * directory is not running for d). Never called with the registry locked.
 */
static uint32_t ucpg_boot_dir_refresh(ucpg_domain_t *d)
{
    uint32_t *nodes = malloc((UCPG_REGISTRY_MAX_SLOTS + 1) * sizeof(*nodes));
    uint32_t coord = 0, old_coord;
    ucpg_registry_t *wipe = NULL;
    size_t n;

    if (nodes == NULL) {
        pthread_mutex_lock(&ucpg_boot_dir.lock);
        coord = (ucpg_boot_dir.domain == d) ? ucpg_boot_dir.nodes[0] : 0;
        pthread_mutex_unlock(&ucpg_boot_dir.lock);
        return coord;                        /* the last set known */
    }
    n = ucpg_boot_dir_scan(d, ucpg_domain_nodeid(d), nodes);
    pthread_mutex_lock(&ucpg_boot_dir.lock);
    if (ucpg_boot_dir.domain == d) {
        old_coord = ucpg_boot_dir.nodes[0];
        if ((n != ucpg_boot_dir.nnodes) ||
            (memcmp(nodes, ucpg_boot_dir.nodes, n * sizeof(*nodes)) != 0)) {
            memcpy(ucpg_boot_dir.nodes, nodes, n * sizeof(*nodes));
            ucpg_boot_dir.nnodes      = n;
            ucpg_boot_dir.epoch      += 1;
            ucpg_boot_dir.grace_until = ucpg_time_ns() +
                2ull * ucpg_domain_config(d)->keepalive_ms * 1000000ull;
            if ((old_coord == ucpg_boot_dir.self_node) && (nodes[0] != old_coord)) {
                wipe = ucpg_boot_dir.registry;
            }
            ucpg_info("directory: %zu node(s) live, coordinator node %u (epoch %llu)", n,
                      nodes[0], (unsigned long long)ucpg_boot_dir.epoch);
        }
        coord = ucpg_boot_dir.nodes[0];
    }
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    free(nodes);
    if ((wipe != NULL) && (ucpg_registry_group_clear(wipe) != UCPG_OK)) {
        ucpg_warn("directory: cannot empty this node's stale group directory");
    }
    return coord;
}

uint32_t ucpg_boot_dir_coordinator(ucpg_domain_t *d)
{
    return ucpg_boot_dir_refresh(d);
}

size_t ucpg_boot_dir_nodes(ucpg_domain_t *d, uint32_t *nodes, size_t max, uint64_t *epoch_p)
{
    size_t n;

    ucpg_boot_dir_refresh(d);
    pthread_mutex_lock(&ucpg_boot_dir.lock);
    n = (ucpg_boot_dir.domain == d) ? ucpg_boot_dir.nnodes : 0;
    if (nodes != NULL) {
        memcpy(nodes, ucpg_boot_dir.nodes, ((n < max) ? n : max) * sizeof(*nodes));
    }
    if (epoch_p != NULL) {
        *epoch_p = ucpg_boot_dir.epoch;
    }
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    return n;
}

int ucpg_boot_dir_node_up(ucpg_domain_t *d, uint32_t node)
{
    size_t i;
    int up = 0;

    ucpg_boot_dir_refresh(d);
    pthread_mutex_lock(&ucpg_boot_dir.lock);
    for (i = 0; (ucpg_boot_dir.domain == d) && (i < ucpg_boot_dir.nnodes) && !up; ++i) {
        up = (ucpg_boot_dir.nodes[i] == node);
    }
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    return up;
}

/* May the coordinator create groups now? (called as the coordinator) */
static int ucpg_boot_dir_may_create(void)
{
    int may;

    pthread_mutex_lock(&ucpg_boot_dir.lock);
    may = (ucpg_time_ns() >= ucpg_boot_dir.grace_until);
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    return may;
}

static void ucpg_boot_dir_peer_event(void *arg, const ucpg_peer_info_t *peer,
                                     ucpg_peer_event_t event, ucpg_peer_reason_t reason)
{
    (void)peer;
    (void)event;
    (void)reason;
    ucpg_boot_dir_refresh(arg);
}

/* The registry's oracle for members of other nodes. */
static int ucpg_boot_dir_alive(void *arg, uint32_t slot, uint64_t uuid)
{
    ucpg_peer_info_t info;

    return (ucpg_domain_peer_info(arg, slot, &info) == UCPG_OK) && (info.uuid == uuid) &&
           ((info.state == UCPG_PEER_STATE_UP) || (info.state == UCPG_PEER_STATE_CONNECTING));
}

/* --- service --------------------------------------------------------------------- */

ucpg_status_t ucpg_boot_dir_start(ucpg_domain_t *d, ucpg_registry_t *reg)
{
    uint32_t *nodes = calloc(UCPG_REGISTRY_MAX_SLOTS + 1, sizeof(*nodes));
    ucpg_status_t status;
    int listener;

    if (nodes == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    nodes[0] = ucpg_domain_nodeid(d);
    pthread_mutex_lock(&ucpg_boot_dir.lock);
    ucpg_boot_dir.domain      = d;
    ucpg_boot_dir.registry    = reg;
    ucpg_boot_dir.self_node   = nodes[0];
    ucpg_boot_dir.nodes       = nodes;
    ucpg_boot_dir.nnodes      = 1;
    ucpg_boot_dir.epoch       = 1;
    ucpg_boot_dir.grace_until = 0;
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    if (reg != NULL) {
        ucpg_registry_set_oracle(reg, nodes[0], ucpg_boot_dir_alive, d);
    }
    status = ucpg_domain_listen(d, ucpg_boot_dir_peer_event, d, 1, &listener);
    if (status != UCPG_OK) {
        ucpg_boot_dir_stop();
        return status;
    }
    pthread_mutex_lock(&ucpg_boot_dir.lock);
    ucpg_boot_dir.listener = listener;
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    return UCPG_OK;
}

void ucpg_boot_dir_stop(void)
{
    ucpg_boot_dir_post_t *post, *next;
    ucpg_registry_t *reg;
    ucpg_domain_t *d;
    uint32_t *nodes;
    int listener;

    pthread_mutex_lock(&ucpg_boot_dir.lock);
    d        = ucpg_boot_dir.domain;
    reg      = ucpg_boot_dir.registry;
    listener = ucpg_boot_dir.listener;
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    if (d == NULL) {
        return;
    }
    if (listener >= 0) {
        ucpg_domain_unlisten(d, listener);     /* outside our lock: it may be running */
    }
    if (reg != NULL) {
        ucpg_registry_set_oracle(reg, 0, NULL, NULL);
    }
    pthread_mutex_lock(&ucpg_boot_dir.lock);
    nodes                  = ucpg_boot_dir.nodes;
    ucpg_boot_dir.domain   = NULL;
    ucpg_boot_dir.registry = NULL;
    ucpg_boot_dir.listener = -1;
    ucpg_boot_dir.nodes    = NULL;
    ucpg_boot_dir.nnodes   = 0;
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    free(nodes);
    for (post = ucpg_boot_dir_posts_take(NULL); post != NULL; post = next) {
        next = post->next;                 /* never sent: the domain is going */
        free(post);
    }
}

static ucpg_registry_t *ucpg_boot_dir_registry(ucpg_domain_t *d)
{
    ucpg_registry_t *reg;

    pthread_mutex_lock(&ucpg_boot_dir.lock);
    reg = (ucpg_boot_dir.domain == d) ? ucpg_boot_dir.registry : NULL;
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    return reg;
}

/* --- asking the coordinator ------------------------------------------------------ */

/*
 * How long one process of the coordinator node is given to answer. A query
 * can go unanswered by a live process too: one that has not finished its
 * handshake with us drops our message. Every directory operation may be
 * asked again (the caller retries on UCPG_ERR_BUSY), so waiting for a
 * keepalive interval, not for a whole connect timeout, is enough.
 */
static unsigned ucpg_boot_dir_ask_ms(ucpg_domain_t *d)
{
    const ucpg_config_t *cfg = ucpg_domain_config(d);

    return (cfg->keepalive_ms < cfg->connect_timeout_ms) ? cfg->keepalive_ms
                                                          : cfg->connect_timeout_ms;
}

/*
 * Sends (type, body) to the processes of node `coord` in id order until one
 * answers. UCPG_OK: the decoded answer, whose bytes *raw_p holds (free it).
 * UCPG_ERR_BUSY: nobody answered.
 */
static ucpg_status_t ucpg_boot_dir_ask(ucpg_domain_t *d, uint32_t coord, uint8_t type,
                                       const void *body, size_t len, ucpg_boot_dir_msg_t *ans,
                                       void **raw_p)
{
    ucpg_peer_info_t *peers = calloc(UCPG_REGISTRY_MAX_SLOTS, sizeof(*peers));
    ucpg_status_t status = UCPG_ERR_BUSY;
    size_t count = 0, i, raw_len;
    void *raw;

    if (peers == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    ucpg_domain_peers(d, peers, UCPG_REGISTRY_MAX_SLOTS, &count, NULL);
    for (i = 0; (i < count) && (status == UCPG_ERR_BUSY); ++i) {
        if ((peers[i].nodeid != coord) ||
            (ucpg_boot_remote_call(d, peers[i].id, type, body, len, ucpg_boot_dir_ask_ms(d), &raw,
                                   &raw_len) != UCPG_OK)) {
            continue;                        /* gone or wedged: the next one */
        }
        if (ucpg_boot_dir_msg_decode(UCPG_BOOT_MSG_DIR_ANSWER, raw, raw_len, ans) != UCPG_OK) {
            ucpg_warn("directory: malformed answer from peer %u", peers[i].id);
            free(raw);
            continue;
        }
        *raw_p = raw;
        status = UCPG_OK;
    }
    free(peers);
    return status;
}

ucpg_status_t ucpg_boot_dir_open(ucpg_domain_t *d, const void *name, size_t name_len,
                                 const ucpg_registry_gmember_t *creator,
                                 ucpg_registry_group_t *group_p, int *created_p)
{
    uint8_t body[UCPG_BOOT_DIR_OPEN_LEN(UCPG_REGISTRY_GROUP_NAME_MAX)];
    ucpg_registry_t *reg = ucpg_boot_dir_registry(d);
    uint32_t coord       = ucpg_boot_dir_refresh(d);
    ucpg_registry_gmember_t none[1];
    ucpg_boot_dir_records_t it;
    ucpg_boot_dir_msg_t ans;
    ucpg_wire_writer_t w;
    ucpg_status_t status;
    void *raw = NULL;

    if ((reg == NULL) || (coord == 0)) {
        return UCPG_ERR_SHUTDOWN;
    }
    if ((name_len > UCPG_REGISTRY_GROUP_NAME_MAX) || (creator == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    if (coord == ucpg_domain_nodeid(d)) {
        return ucpg_registry_group_open(reg, name, name_len, creator,
                                        ucpg_boot_dir_may_create(), group_p, created_p);
    }
    ucpg_wire_writer_init(&w, body, sizeof(body));
    ucpg_boot_dir_put_open(&w, creator, name, (uint32_t)name_len);
    status = ucpg_boot_dir_ask(d, coord, UCPG_BOOT_MSG_DIR_OPEN, body, w.len, &ans, &raw);
    if ((status == UCPG_OK) && (ans.status == UCPG_OK)) {
        ucpg_boot_dir_records_init(&it, &ans);
        status = ((ans.nrecords == 1) && ucpg_boot_dir_records_next(&it, group_p, none))
                     ? UCPG_OK : UCPG_ERR_BUSY;
        *created_p = ans.created;
    } else if (status == UCPG_OK) {
        status = ans.status;
    }
    free(raw);
    return status;
}

ucpg_status_t ucpg_boot_dir_supersede(ucpg_domain_t *d, const void *name, size_t name_len,
                                      uint64_t old_gen, const ucpg_registry_gmember_t *creator,
                                      ucpg_registry_group_t *group_p)
{
    ucpg_registry_t *reg = ucpg_boot_dir_registry(d);
    uint32_t coord       = ucpg_boot_dir_refresh(d);

    if ((reg == NULL) || (coord == 0)) {
        return UCPG_ERR_SHUTDOWN;
    }
    if (coord != ucpg_domain_nodeid(d)) {
        return UCPG_ERR_UNSUPPORTED;      /* no wire message for it (docs/protocol.md) */
    }
    return ucpg_registry_group_supersede(reg, name, name_len, old_gen, creator, group_p);
}

/* The first UP process of node, or -1. */
static int ucpg_boot_dir_first_of(ucpg_domain_t *d, uint32_t node)
{
    ucpg_peer_info_t *peers = calloc(UCPG_REGISTRY_MAX_SLOTS, sizeof(*peers));
    size_t count = 0, i;
    int id = -1;

    if (peers == NULL) {
        return -1;
    }
    ucpg_domain_peers(d, peers, UCPG_REGISTRY_MAX_SLOTS, &count, NULL);
    for (i = 0; (i < count) && (id < 0); ++i) {
        id = (peers[i].nodeid == node) ? (int)peers[i].id : -1;
    }
    free(peers);
    return id;
}

static void ucpg_boot_dir_publish_local(ucpg_registry_t *reg, const void *name, size_t name_len,
                                        uint64_t gen, uint64_t view_id,
                                        const ucpg_registry_gmember_t *members,
                                        uint32_t nmembers)
{
    ucpg_status_t status = ucpg_registry_group_publish(reg, name, name_len, gen, view_id,
                                                       members, nmembers);

    if (status == UCPG_ERR_EXISTS) {
        ucpg_warn("directory: two groups named '%.*s' (they formed apart, e.g. before their "
                  "nodes met, or one replaced the other while all its members were "
                  "stopped); the directory keeps the one it has", (int)name_len,
                  (const char*)name);
    } else if (status != UCPG_OK) {
        ucpg_warn("directory: cannot record a view: %s", ucpg_status_string(status));
    }
}

/* Progress thread (a timer): sends the queued publishes. One that finds no
 * process of its coordinator any more is dropped: the coordinator change
 * makes every sequencer publish again. */
static void ucpg_boot_dir_posts_flush(void *arg)
{
    ucpg_boot_dir_post_t *p = ucpg_boot_dir_posts_take(arg), *next;
    int dst;

    for (; p != NULL; p = next) {
        next = p->next;
        dst  = ucpg_boot_dir_first_of(arg, p->coord);
        if (dst >= 0) {
            (void)ucpg_boot_remote_post(arg, (ucpg_peer_id_t)dst, UCPG_BOOT_MSG_DIR_PUBLISH, 0,
                                        p->body, p->len);
        }
        free(p);
    }
}

/* Queues a record for coord and has the progress thread send it. */
static void ucpg_boot_dir_post(ucpg_domain_t *d, uint32_t coord, const ucpg_registry_group_t *g,
                               const ucpg_registry_gmember_t *members, uint32_t nmembers)
{
    size_t len = ucpg_boot_dir_record_len(g->name_len, nmembers);
    ucpg_boot_dir_post_t *p = malloc(sizeof(*p) + len);
    ucpg_wire_writer_t w;

    if (p == NULL) {
        return;                  /* as a lost message: the next view repairs it */
    }
    p->next  = NULL;
    p->coord = coord;
    ucpg_wire_writer_init(&w, p->body, len);
    ucpg_boot_dir_put_record(&w, g, members, nmembers);
    p->len = w.len;
    pthread_mutex_lock(&ucpg_boot_dir.lock);
    *ucpg_boot_dir.posts_tail = p;
    ucpg_boot_dir.posts_tail  = &p->next;
    pthread_mutex_unlock(&ucpg_boot_dir.lock);
    if (ucpg_domain_timer_arm(d, ucpg_boot_dir_posts_flush, d, 0) != UCPG_OK) {
        ucpg_warn("directory: no timer left to send a view to the coordinator");
    }
}

/*
 * The caller may hold locks that a UCX callback in the progress thread
 * waits for (the group engine's, when a sequencer orders a view from an
 * application thread), and sending takes UCX's worker lock: so a publish to
 * another node is queued and sent by the progress thread.
 */
void ucpg_boot_dir_publish(ucpg_domain_t *d, const void *name, size_t name_len, uint64_t gen,
                           uint64_t view_id, const ucpg_registry_gmember_t *members,
                           uint32_t nmembers)
{
    ucpg_registry_t *reg = ucpg_boot_dir_registry(d);
    uint32_t coord       = ucpg_boot_dir_refresh(d);
    ucpg_registry_group_t g;

    if ((reg == NULL) || (coord == 0) || (name_len > UCPG_REGISTRY_GROUP_NAME_MAX) ||
        (nmembers > UCPG_REGISTRY_GROUP_MEMBERS)) {
        return;
    }
    if (coord == ucpg_domain_nodeid(d)) {
        ucpg_boot_dir_publish_local(reg, name, name_len, gen, view_id, members, nmembers);
        return;
    }
    memset(&g, 0, sizeof(g));
    g.gen      = gen;
    g.view_id  = view_id;
    g.name_len = (uint32_t)name_len;
    memcpy(g.name, name, name_len);
    g.seq_slot = (nmembers > 0) ? members[0].slot : 0;
    g.seq_uuid = (nmembers > 0) ? members[0].uuid : ~0ull;   /* never 0 on the wire */
    ucpg_boot_dir_post(d, coord, &g, members, nmembers);
}

typedef struct ucpg_boot_dir_list_ctx {
    ucpg_registry_group_cb_t cb;
    void                    *arg;
} ucpg_boot_dir_list_ctx_t;

static ucpg_status_t ucpg_boot_dir_list_remote(ucpg_domain_t *d, uint32_t coord,
                                               const void *name, size_t name_len,
                                               ucpg_registry_group_cb_t cb, void *arg)
{
    uint8_t body[UCPG_BOOT_DIR_LIST_LEN(UCPG_REGISTRY_GROUP_NAME_MAX)];
    ucpg_registry_gmember_t *members = malloc(UCPG_REGISTRY_GROUP_MEMBERS * sizeof(*members));
    ucpg_registry_group_t group;
    ucpg_boot_dir_records_t it;
    ucpg_boot_dir_msg_t ans;
    ucpg_wire_writer_t w;
    ucpg_status_t status;
    void *raw = NULL;

    if (members == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    ucpg_wire_writer_init(&w, body, sizeof(body));
    ucpg_boot_dir_put_list(&w, name == NULL, name, (uint32_t)((name != NULL) ? name_len : 0));
    status = ucpg_boot_dir_ask(d, coord, UCPG_BOOT_MSG_DIR_LIST, body, w.len, &ans, &raw);
    if (status == UCPG_OK) {
        status = ans.status;
    }
    if (status == UCPG_OK) {
        ucpg_boot_dir_records_init(&it, &ans);
        while (ucpg_boot_dir_records_next(&it, &group, members)) {
            cb(arg, &group, members, group.nmembers);
        }
    }
    free(raw);
    free(members);
    return status;
}

ucpg_status_t ucpg_boot_dir_foreach(ucpg_domain_t *d, const void *name, size_t name_len,
                                    ucpg_registry_group_cb_t cb, void *arg)
{
    ucpg_registry_t *reg = ucpg_boot_dir_registry(d);
    uint32_t coord       = ucpg_boot_dir_refresh(d);

    if ((reg == NULL) || (coord == 0)) {
        return UCPG_ERR_SHUTDOWN;
    }
    if ((cb == NULL) || (name_len > UCPG_REGISTRY_GROUP_NAME_MAX)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    if (coord == ucpg_domain_nodeid(d)) {
        return ucpg_registry_group_foreach(reg, name, name_len, cb, arg);
    }
    return ucpg_boot_dir_list_remote(d, coord, name, name_len, cb, arg);
}

/* --- answering (progress thread) ------------------------------------------------- */

typedef struct ucpg_boot_dir_answer {
    ucpg_wire_writer_t w;
    uint32_t           nrecords;
} ucpg_boot_dir_answer_t;

static void ucpg_boot_dir_answer_one(void *arg, const ucpg_registry_group_t *group,
                                     const ucpg_registry_gmember_t *members, uint32_t nmembers)
{
    ucpg_boot_dir_answer_t *a = arg;

    ucpg_boot_dir_put_record(&a->w, group, members, nmembers);
    a->nrecords++;
}

/* Answers OPEN or LIST: head, then the records the registry gives. */
static void ucpg_boot_dir_answer(ucpg_domain_t *d, ucpg_peer_id_t src, uint64_t req_id,
                                 const ucpg_boot_dir_msg_t *q, ucpg_registry_t *reg)
{
    size_t cap = UCPG_BOOT_DIR_ANSWER_HEAD_LEN +
                 ((q->type == UCPG_BOOT_MSG_DIR_LIST && q->all) ? UCPG_REGISTRY_NGROUPS : 1) *
                 ucpg_boot_dir_record_len(UCPG_REGISTRY_GROUP_NAME_MAX,
                                          UCPG_REGISTRY_GROUP_MEMBERS);
    uint8_t *out = malloc(cap);
    ucpg_boot_dir_answer_t a;
    ucpg_registry_group_t group;
    ucpg_status_t status;
    int created = 0;

    if (out == NULL) {
        return;                                   /* the asker tries another */
    }
    memset(&a, 0, sizeof(a));
    ucpg_wire_writer_init(&a.w, out, cap);
    ucpg_boot_dir_put_answer_head(&a.w, UCPG_OK, 0, 0);     /* rewritten below */
    if (reg == NULL) {
        status = UCPG_ERR_BUSY;                    /* not the coordinator */
    } else if (q->type == UCPG_BOOT_MSG_DIR_OPEN) {
        status = ucpg_registry_group_open(reg, q->name, q->name_len, &q->creator,
                                          ucpg_boot_dir_may_create(), &group, &created);
        if (status == UCPG_OK) {
            ucpg_boot_dir_answer_one(&a, &group, NULL, 0);
        }
    } else {
        status = ucpg_registry_group_foreach(reg, q->all ? NULL : q->name, q->name_len,
                                             ucpg_boot_dir_answer_one, &a);
    }
    if (a.w.overflow) {
        status = UCPG_ERR_NO_RESOURCE;             /* cannot happen: cap is the maximum */
    }
    if (status != UCPG_OK) {
        a.w.len = UCPG_BOOT_DIR_ANSWER_HEAD_LEN;   /* no records with an error */
        a.nrecords = 0;
        status  = ucpg_boot_dir_status_valid(status) ? status : UCPG_ERR_BUSY;
    }
    cap     = a.w.len;
    ucpg_wire_writer_init(&a.w, out, UCPG_BOOT_DIR_ANSWER_HEAD_LEN);
    ucpg_boot_dir_put_answer_head(&a.w, status, created, a.nrecords);
    (void)ucpg_boot_remote_post(d, src, UCPG_BOOT_MSG_DIR_ANSWER, req_id, out, cap);
    free(out);
}

/* Does m name the sender itself? A joiner may only create a group with
 * itself as its sequencer. */
static int ucpg_boot_dir_is_sender(ucpg_domain_t *d, ucpg_peer_id_t src,
                                   const ucpg_registry_gmember_t *m)
{
    ucpg_peer_info_t info;

    return (m->slot == src) && (ucpg_domain_peer_info(d, src, &info) == UCPG_OK) &&
           (m->uuid == info.uuid) && (m->nodeid == info.nodeid);
}

void ucpg_boot_dir_serve(ucpg_domain_t *d, ucpg_peer_id_t src, uint8_t type, uint64_t req_id,
                         const void *body, size_t len)
{
    ucpg_registry_gmember_t *members;
    ucpg_registry_group_t group;
    ucpg_boot_dir_records_t it;
    ucpg_boot_dir_msg_t msg;
    ucpg_registry_t *reg = ucpg_boot_dir_registry(d);

    if (ucpg_boot_dir_msg_decode(type, body, len, &msg) != UCPG_OK) {
        ucpg_warn("directory: dropping a malformed message from peer %u", src);
        return;
    }
    if ((type == UCPG_BOOT_MSG_DIR_OPEN) && !ucpg_boot_dir_is_sender(d, src, &msg.creator)) {
        ucpg_warn("directory: peer %u asked to open a group in another process's name", src);
        return;                 /* unanswered: the asker times out */
    }
    if (ucpg_boot_dir_refresh(d) != ucpg_domain_nodeid(d)) {
        reg = NULL;             /* we are not (or no longer) the coordinator */
    }
    if (type != UCPG_BOOT_MSG_DIR_PUBLISH) {
        ucpg_boot_dir_answer(d, src, req_id, &msg, reg);
        return;
    }
    members = malloc(UCPG_REGISTRY_GROUP_MEMBERS * sizeof(*members));
    ucpg_boot_dir_records_init(&it, &msg);
    /* The publisher is not checked against the view: a sequencer that leaves
     * or hands its role over publishes a view naming its successor first. */
    if ((reg != NULL) && (members != NULL) && ucpg_boot_dir_records_next(&it, &group, members)) {
        ucpg_boot_dir_publish_local(reg, group.name, group.name_len, group.gen, group.view_id,
                                    members, group.nmembers);
    } else if (reg == NULL) {
        ucpg_debug("directory: a view published to a node that is not the coordinator");
    }
    free(members);
}
