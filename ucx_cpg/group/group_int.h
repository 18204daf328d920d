/*
 * group_int.h - the group engine's state, shared by its files:
 *   engine.c     life of the engine, message dispatch, peer events, outbox flushes
 *   outbox.c     messages queued under the lock, packed per destination, sent after
 *   member.c     the member side: receive, reorder, deliver, acknowledge, resend
 *   sequencer.c  the sequencer side: order requests, views, stability, flow control
 *   recovery.c   taking over from a dead sequencer (sync, cut, retransmit)
 *   tree.c       the delivery tree: who forwards a message to whom
 *   handover.c   the sequencer role moves to a member that sends nearly everything
 *   group.c      the API of group.h on top of them
 *
 * One engine lock guards everything here. Application threads never call
 * UCX while holding it (the progress thread holds UCX's worker lock while it
 * runs our handlers and then takes this one): they queue sends in the outbox
 * and flush it after unlocking.
 */
#ifndef UCPG_GROUP_GROUP_INT_H
#define UCPG_GROUP_GROUP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/domain.h"
#include "group.h"
#include "protocol.h"

struct ucpg_registry;


/* The body of a received message as a buffer of ours: body itself when the
 * receive path gave one (a reference), else a copy of data. */
ucpg_buf_t *ucpg_group_body_keep(ucpg_buf_t *body, const void *data, size_t len);

/*
 * One numbered event of a group's stream. Made by one thread, read by the
 * dispatcher and released by a third, each possibly on another CPU, and
 * recycled thousands of messages later: every line it spans is a miss on
 * each of those trips, so it is laid out by who touches what.
 *
 * Line 0 holds what a message's delivery and release touch, the sender's
 * slot, nodeid and pid included. The body's bytes and length are copied
 * there too (ucpg_group_event_set_buf), so that the dispatcher never reads
 * the body's descriptor: its reference count is then changed only by the
 * engine's thread, on a line no other CPU holds. The number (seq) sits in
 * line 1, which nobody writes after the event is made: the collection,
 * thousands of messages later, reads it from a clean line while line 0 was
 * last written by the dispatcher's CPU (seq in line 0 measured no better,
 * session 30).
 *
 * A small DATA message keeps its body inside the event (body[], see
 * UCPG_GROUP_EVENT_INLINE) instead of a slice of the received batch: no
 * descriptor, no reference to take and drop, and the batch's copy is not
 * held until the event is stable (docs/cpg-bench.md, session 27). Paths
 * that send the event on get a buffer made at first need
 * (ucpg_group_event_body). The inline body shares its bytes with the view
 * part that only VIEW events use (they never keep a body inline), so a
 * 64-byte message spans lines 0 to 2, not 0 to 3 (session 30).
 */
#define UCPG_GROUP_EVENT_SIZE 256u  /* every event's bytes: a class of core/mcache */
#define UCPG_GROUP_EVENT_HEAD 96u   /* where the inline body starts */

struct ucpg_group_event {
    int                  refs;      /* engine lock */
    uint8_t              kind;      /* DATA or VIEW */
    uint8_t              guarantee;
    uint8_t              delivered; /* handed to the façade */
    uint8_t              forward;   /* came down the tree: pass it on when it takes effect */
    ucpg_buf_t          *buf;       /* payload, or encoded view body */
    struct ucpg_group   *group;     /* for consumption accounting (NULL once detached) */
    struct ucpg_group_event *release_next; /* in the engine's released stack */
    char                *data;      /* buf's bytes and length (NULL, 0 without one) */
    size_t               len;
    ucpg_group_origin_t  origin;    /* slot, nodeid and pid within the first line */
    uint64_t             seq;
    uint8_t              handover;  /* VIEW that only moves the sequencer: not shown */
    union {
        struct {                    /* VIEW, decoded when delivered: */
            ucpg_group_addr_t *addrs; /* members, left, joined (sorted) */
            ucpg_group_view_t  view;
        };
        char body[UCPG_GROUP_EVENT_SIZE - UCPG_GROUP_EVENT_HEAD]; /* DATA (data points here) */
    };
};

#define UCPG_GROUP_EVENT_INLINE sizeof(((ucpg_group_event_t*)NULL)->body)

_Static_assert(offsetof(ucpg_group_event_t, body) == UCPG_GROUP_EVENT_HEAD,
               "UCPG_GROUP_EVENT_HEAD must be where the fields end");
_Static_assert(sizeof(ucpg_group_event_t) == UCPG_GROUP_EVENT_SIZE,
               "an event must fill its mcache class exactly");

/* Whether a received EVT keeps its body inline: a small DATA message that
 * came with its body (one of ours, FLAG_OWN, is our pending request's). */
static inline int ucpg_group_evt_inline(const ucpg_group_msg_t *msg, size_t len)
{
    return (msg->type == UCPG_GROUP_MSG_EVT) && (msg->kind == UCPG_GROUP_KIND_DATA) &&
           !(msg->flags & UCPG_GROUP_FLAG_OWN) && (len <= UCPG_GROUP_EVENT_INLINE);
}

/* Sets (or replaces: the reference moves to the event) the body of ev. */
static inline void ucpg_group_event_set_buf(ucpg_group_event_t *ev, ucpg_buf_t *buf)
{
    ev->buf  = buf;
    ev->data = (buf != NULL) ? buf->data : NULL;
    ev->len  = (buf != NULL) ? buf->len : 0;
}

/* A process in our current view, in age order. */
typedef struct ucpg_group_member {
    uint32_t slot;
    uint64_t uuid;
    uint32_t nodeid;
    uint32_t pid;
    uint64_t next_lseq;   /* next request number expected from it */
    int      dead;        /* seen DOWN (or evicted); the next view removes it */
    int      evicted;     /* alive but removed for stalling: still told so */
    /* sequencer side */
    uint64_t received;    /* acknowledged received-through */
    uint64_t consumed;    /* acknowledged consumed-through */
    uint64_t stall_since; /* ns since it holds the window full; 0 = not */
    uint64_t joined_seq;  /* number of the view that added it, if we saw it */
    int      repaired;    /* was sent what it lacked; again only once it advanced */
    /* a silent sequencer (silence.c), for this view only */
    uint8_t  passed_over; /* as the candidate it never probed: silent too */
    uint8_t  answered;    /* answered our probe */
} ucpg_group_member_t;

/* A request to the sequencer: ours (pending until delivered back) or, at
 * the sequencer, someone's waiting for its turn. */
typedef struct ucpg_group_req {
    struct ucpg_group_req *next;
    uint32_t               slot;     /* sender */
    uint64_t               uuid;
    uint32_t               nodeid;
    uint32_t               pid;
    uint64_t               lseq;
    uint8_t                kind;
    uint8_t                guarantee;
    ucpg_buf_t      *buf;      /* may be NULL (empty) */
} ucpg_group_req_t;

typedef enum ucpg_group_state {
    UCPG_GROUP_JOINING = 0,   /* join sent, our view not yet received */
    UCPG_GROUP_JOINED,
    UCPG_GROUP_LEAVING,       /* leave sent */
    UCPG_GROUP_GONE,          /* the view removing us was received */
    UCPG_GROUP_ABANDONED      /* join timed out; leave again if it ever lands */
} ucpg_group_state_t;

/* Retained events by number: a power-of-two ring that grows when needed. */
typedef struct ucpg_group_evbuf {
    ucpg_group_event_t **ring;
    uint64_t             mask;
    size_t               count;
} ucpg_group_evbuf_t;

/* A process incarnation: its peer id and uuid. */
typedef struct ucpg_group_proc {
    uint32_t slot;
    uint64_t uuid;
} ucpg_group_proc_t;

#define UCPG_GROUP_EXPELLED_MAX 4u   /* silent sequencers remembered per group */

struct ucpg_group {
    struct ucpg_group     *next;          /* engine list */
    uint32_t               gindex;
    uint64_t               ggen;
    uint8_t                name[UCPG_GROUP_NAME_MAX];
    size_t                 name_len;
    ucpg_group_state_t     state;
    ucpg_group_callbacks_t cb;
    void                  *cb_arg;
    int                    destroyed;     /* the façade let go; free when possible */
    unsigned               outstanding;   /* events held by the façade */
    int                    orphan;        /* the engine went away first */
    pthread_cond_t         cond;          /* join / leave progress */
    int                    join_retry;    /* look the group up again */

    /* view */
    uint64_t               view_id;
    ucpg_group_member_t   *members;       /* age order; [0] is the sequencer */
    size_t                 nmembers;
    uint32_t               seq_slot;      /* whom we send requests to */
    uint64_t               seq_uuid;

    /* member side */
    ucpg_group_evbuf_t     evbuf;         /* received, not yet stable or delivered */
    uint64_t               first_seq;     /* our join view's number (0 = not yet) */
    uint64_t               received;      /* contiguous through */
    uint64_t               delivered;     /* handed to the façade through */
    uint64_t               consumed;      /* released by the façade through */
    uint64_t               released;      /* count of released events */
    uint64_t               stable;
    uint64_t               gc_through;    /* events up to here left evbuf */
    uint64_t               acked_received, acked_consumed;
    int                    ack_renew;     /* acknowledge again on the new sequencer's STABLE */
    int                    seq_died_early; /* a view named a sequencer already seen dead */
    uint64_t               unacked_bytes;  /* payload consumed since the last ACK */
    int                    ack_timer;      /* the timer will acknowledge (armed for it) */
    uint64_t               next_lseq;     /* our next request number */
    ucpg_group_req_t      *pending;       /* ours, not yet delivered back (lseq order) */
    ucpg_group_req_t     **pending_tail;
    size_t                 pending_count, pending_bytes;
    ucpg_group_req_t      *own_found;     /* in pending: the last one an EVT of ours named */

    /* sequencer side (is_seq) */
    int                    is_seq;
    uint64_t               seq_last;      /* last number assigned */
    ucpg_group_req_t      *held;          /* requests waiting: out of order or window full */
    ucpg_group_req_t     **held_tail;     /* where the next one goes (stale if held is NULL) */
    size_t                 held_others;   /* of them, other processes' (flow control) */
    uint64_t               window_bytes;  /* payload bytes in (min consumed, seq_last] */
    uint64_t               safe_pending;  /* highest SAFE number not yet announced stable */
    uint64_t              *win_len;       /* payload length by number, for the byte window */
    uint64_t               win_mask;
    uint64_t               win_base;      /* min consumed the byte count refers to */
    int                    stall_armed;   /* a stall check is scheduled */
    int                    draining;      /* in ucpg_group_seq_drain (no recursion) */
    uint64_t               lag_seq;       /* lag check: every member should have this ... */
    uint64_t               lag_at;        /* ... by this time (ns); 0 = no check armed */
    uint32_t               ho_slot;       /* hand-over: the first sender of this round ... */
    uint64_t               ho_uuid;
    uint32_t               ho_lead;       /* ... how many of the round are its */
    uint32_t               ho_total;      /* messages ordered in this round */
    uint64_t               ho_start;      /* ns: when the round began */
    int                    ho_due;        /* it sent enough: hand over when we may */
    uint32_t               mix_total;     /* DATA ordered in this round (tree.c) ... */
    uint32_t               mix_own;       /* ... how many of them ours */
    int                    own_flat;      /* our own messages go to everyone directly */

    /* member side: requests from members already in a later view, which may
     * name us the sequencer (in held; see handover.c) */
    uint64_t               early_view;    /* the latest view they were sent in */
    size_t                 early_count;

    /* member side: a view came straight from the sequencer past a gap */
    uint64_t               repair_upto;   /* we lack events below this view's number */
    uint64_t               repair_at;     /* ns: ask the sequencer if still so by then */

    /* recovery */
    int                    recovering;
    int                    fenced;        /* recovering, and answered (or are) the successor */
    uint64_t               sync_attempt;  /* ours, as the recovering sequencer */
    uint32_t               sync_from_slot; /* a SYNC_REQ we hold: sender and attempt */
    uint64_t               sync_from_uuid;
    uint64_t               sync_from_attempt;
    int                    sync_from_valid;
    uint8_t               *sync_waiting;  /* per member index: reply still due */
    ucpg_group_evbuf_t     sync_union;
    ucpg_group_evbuf_t     fence_stash;   /* events from others while fenced (member.c) */
    uint64_t              *sync_received; /* per member index */
    uint64_t               recovery_since; /* ns: when this group started recovering */
    uint64_t               last_heard;     /* ns: last event or STABLE from the sequencer */
    uint64_t               safe_held;      /* the SAFE event last held for stability */
    uint64_t               node_settle;    /* ns: order the view removing the dead
                                            * then, unless their node goes first */

    /* a silent sequencer (silence.c) */
    uint64_t               silent_told;    /* ns: we last told the candidate */
    uint64_t               silent_cand;    /* uuid of the candidate we tell, */
    uint64_t               silent_since;   /* ns: since when, without a probe from it */
    uint64_t               probe_heard;    /* ns: a member's probe came (0: none yet) */
    uint64_t               probe_heard_from; /* uuid of that member */
    uint64_t               probe_id;       /* as the candidate: the probe out, */
    uint64_t               probe_since;    /* ns, sent then (0: none) */
    uint64_t               joiner_waits;   /* ns: a joiner last said the sequencer does
                                            * not answer it (UNANSWERED; 0: never) */
    uint64_t               join_seq_uuid;  /* joining: the sequencer we wait on, */
    uint64_t               join_since;     /* ns, since then, */
    uint64_t               join_told;      /* ns, and when we last told the members */
    ucpg_group_proc_t     *superseded;     /* as the founder of a new incarnation: the
                                            * stopped members of the one it replaced, */
    size_t                 nsuperseded;    /* still to be told (EXPEL) once they run, */
    uint64_t               superseded_gen; /* and that incarnation */
    int                    join_supersede; /* joining: replace the incarnation instead */
    unsigned               nexpelled;      /* ever; the last few are kept */
    ucpg_group_proc_t      expelled[UCPG_GROUP_EXPELLED_MAX];
};

/* The engine (one per process). */
typedef struct ucpg_group_engine {
    pthread_mutex_t        lock;          /* adaptive; nesting counted per thread */
    ucpg_domain_t         *domain;
    struct ucpg_registry  *registry;
    ucpg_peer_id_t         self;
    uint64_t               self_uuid;
    uint32_t               nodeid;
    uint32_t               pid;
    const ucpg_config_t   *config;
    struct ucpg_group     *groups;
    unsigned               users;
    int                    listener;
    int                    releasing;     /* the last user is leaving */
    uint32_t               dir_coord;     /* directory coordinator node our groups
                                           * are published to (boot/directory.h) */
    ucpg_group_event_t    *released;      /* atomic: released by the façade, not yet
                                           * taken (see ucpg_group_events_release) */
    uint64_t               nodes_epoch;   /* the node set's epoch last announced
                                           * (ucpg_group_nodes_hook); progress thread */
    uint64_t               recv_ns;       /* coarse clock when the active message being
                                           * handled arrived (ucpg_group_am_recv) */
    uint64_t               stopped_gen;   /* joining: an incarnation whose listed members
                                           * were all seen stopped (silence.c), */
    uint64_t               stopped_since; /* ns, continuously since then, */
    uint64_t               stopped_seen;  /* ns, last seen so */
} ucpg_group_engine_t;

extern ucpg_group_engine_t ucpg_group_engine;

static inline int ucpg_group_is_self(uint32_t slot, uint64_t uuid)
{
    return (slot == ucpg_group_engine.self) && (uuid == ucpg_group_engine.self_uuid);
}

/* --- engine.c -------------------------------------------------------------- */
ucpg_status_t ucpg_group_engine_acquire(void);
void          ucpg_group_engine_release(void);
void          ucpg_group_engine_lock(void);
void          ucpg_group_engine_unlock(void);     /* also flushes the outbox */
/* pthread_cond_timedwait on the engine lock until deadline_ns (CLOCK_MONOTONIC,
 * ucpg_time_ns), in slices that first take what
 * the façade released meanwhile (a releaser that found the lock taken left
 * it to the holder, and a holder waiting here does not unlock). */
int           ucpg_group_engine_wait(pthread_cond_t *cond, uint64_t deadline_ns);
ucpg_group_t *ucpg_group_find(uint32_t gindex, uint64_t ggen);
/* --- outbox.c ------------------------------------------------------------- */
/* Queues a message (buf may be NULL; it is referenced or copied, never
 * changed); it leaves at the next ucpg_group_out_flush. */
void          ucpg_group_send(ucpg_peer_id_t dst, uint64_t dst_uuid, const ucpg_group_msg_t *msg,
                              ucpg_buf_t *buf);
/* The same message for each of ndst peers (queued once; see outbox.c). */
void          ucpg_group_send_many(const ucpg_peer_id_t *dst, size_t ndst,
                                   const ucpg_group_msg_t *msg, ucpg_buf_t *buf);
/* Sends everything queued; any thread, without the engine lock. */
void          ucpg_group_out_flush(void);
/* Is something queued? */
int           ucpg_group_out_pending(void);
/* 1 for the first caller since the last flush (it wakes the progress thread). */
int           ucpg_group_out_kick_claim(void);
/* Waits (bounded) until the sends in flight completed. */
void          ucpg_group_out_wait_inflight(unsigned timeout_ms);

/* --- engine.c (continued) --------------------------------------------------- */
void          ucpg_group_msg_init(const ucpg_group_t *g, uint8_t type, ucpg_group_msg_t *msg);
void          ucpg_group_free(ucpg_group_t *g);
/* 1 if armed (the timer runs within delay_ms), 0 if it could not be. */
int           ucpg_group_timer_arm(unsigned delay_ms);
/* Whether the deadline *at_p (ns, 0 = none) has come: if so it is cleared;
 * if not, the timer is armed for it. */
int           ucpg_group_timer_due(uint64_t *at_p, uint64_t now);

/* --- member.c -------------------------------------------------------------- */
ucpg_group_member_t *ucpg_group_member_find(ucpg_group_t *g, uint32_t slot, uint64_t uuid);
int                  ucpg_group_member_index(ucpg_group_t *g, uint32_t slot, uint64_t uuid);
void ucpg_group_member_recv_evt(ucpg_group_t *g, uint32_t src, const ucpg_group_msg_t *msg,
                                const void *data, size_t len, ucpg_buf_t *body);
/* Takes a reference on ev; runs every consequence of receiving it. */
void ucpg_group_member_receive(ucpg_group_t *g, ucpg_group_event_t *ev);
void ucpg_group_member_stable(ucpg_group_t *g, uint64_t stable);
void ucpg_group_member_recv_stable(ucpg_group_t *g, uint64_t stable);
/* Whether ev is a SAFE message not yet known stable (it waits). */
int  ucpg_group_event_awaits_stability(const ucpg_group_t *g, const ucpg_group_event_t *ev);
void ucpg_group_member_ack(ucpg_group_t *g, int force);
/* Sends (or, as the sequencer, orders) every pending request of ours. */
void ucpg_group_member_resend(ucpg_group_t *g);
void ucpg_group_member_enqueue(ucpg_group_t *g, ucpg_group_req_t *req);
/* A request is made and freed once per message, often by different
 * threads: from core/mcache. New ones are zeroed; freeing drops the
 * request's buffer reference (NULL is ignored). */
ucpg_group_req_t *ucpg_group_req_new(void);
void ucpg_group_req_free(ucpg_group_req_t *req);
/* The wait for answers to our pending requests starts now: a member that
 * then hears nothing for too long is cut off (ucpg_group_recovery_check_deaf). */
void ucpg_group_member_await(ucpg_group_t *g);
void ucpg_group_member_drop_above(ucpg_group_t *g, uint64_t seq);
/* Queues a LEAVE of ours with reason LEAVE or PROCDOWN. */
ucpg_status_t ucpg_group_member_leave(ucpg_group_t *g, uint32_t reason);
void ucpg_group_member_send_req(ucpg_group_t *g, const ucpg_group_req_t *req);

ucpg_group_event_t *ucpg_group_event_new(uint64_t seq, uint8_t kind, uint8_t guarantee,
                                         const ucpg_group_origin_t *origin,
                                         ucpg_buf_t *buf);
/* The same, taking over the caller's reference to buf (kept on failure). */
ucpg_group_event_t *ucpg_group_event_adopt(uint64_t seq, uint8_t kind, uint8_t guarantee,
                                           const ucpg_group_origin_t *origin,
                                           ucpg_buf_t *buf);
/* A DATA event like them with a copy of len bytes of data kept inline (len
 * at most UCPG_GROUP_EVENT_INLINE); only DATA, whose body[] is not the view
 * part. */
ucpg_group_event_t *ucpg_group_event_copy(uint64_t seq, uint8_t guarantee,
                                          const ucpg_group_origin_t *origin,
                                          const void *data, size_t len);
/* A reference to the body of ev as a buffer, for sending it on: a copy
 * of an inline body. Returns 0 if out of memory (logged); *buf_p is NULL
 * for an empty body. The caller puts it once the send is queued. */
int  ucpg_group_event_body(const ucpg_group_event_t *ev, ucpg_buf_t **buf_p);
void ucpg_group_event_put(ucpg_group_event_t *ev);
/* Frees the events kept for reuse (the engine is going away). */
void ucpg_group_event_spares_free(void);
/* Accounts a chain of released events (linked by release_next, in release
 * order) as consumed and drops the façade's references; engine lock held. */
void ucpg_group_events_consume(ucpg_group_event_t *list);

/* --- evbuf (member.c) -------------------------------------------------------- */
ucpg_status_t       ucpg_group_evbuf_put(ucpg_group_evbuf_t *b, ucpg_group_event_t *ev);
ucpg_group_event_t *ucpg_group_evbuf_get(ucpg_group_evbuf_t *b, uint64_t seq);
void                ucpg_group_evbuf_remove(ucpg_group_evbuf_t *b, uint64_t seq);
void                ucpg_group_evbuf_clear(ucpg_group_evbuf_t *b);

/* A view arrived past a gap: ask the sequencer for what is missing if the
 * tree does not fill the gap soon (its forwarders may be slower than the
 * sequencer's direct send, or dead). */
void ucpg_group_member_note_gap(ucpg_group_t *g, uint64_t view_seq);
/* Recovering, and past the point where events from others may count. */
int  ucpg_group_fenced(const ucpg_group_t *g);
void ucpg_group_member_check_repair(ucpg_group_t *g, uint64_t now);
/* Recovery ended with the successor's view: what others sent meanwhile
 * (a sequencer after it) joins the stream; or, as the successor, is void. */
void ucpg_group_member_unstash(ucpg_group_t *g);

/* --- tree.c ------------------------------------------------------------------ */
/* Positions [*first_p, *end_p) of the children of member index self among
 * nmembers, the member at index skip (the message's sender) left out. */
void   ucpg_group_tree_children(size_t nmembers, int skip, size_t self, unsigned fanout,
                                size_t *first_p, size_t *end_p);
/* The fan-out of a message from origin in g's current view. */
unsigned ucpg_group_tree_fanout(const ucpg_group_t *g, const ucpg_group_origin_t *origin);
/* The narrower of the two (0 only if both are flat): indexes 1..it are the
 * sequencer's children in every layout. */
unsigned ucpg_group_tree_fanout_min(void);
/* Member index at a position of that layout. */
size_t ucpg_group_tree_index(size_t pos, int skip);
/* The sequencer ordered a DATA message of origin: counts who sends. */
void   ucpg_group_tree_note_order(ucpg_group_t *g, const ucpg_group_origin_t *origin);
/* Whether the sequencer sends DATA event ev to every member itself
 * (FLAG_FLAT) instead of down the tree. */
int    ucpg_group_tree_sends_flat(const ucpg_group_t *g, const ucpg_group_event_t *ev);
/* The EVT header of ev (b: what we know to be stable). */
void   ucpg_group_evt_msg(const ucpg_group_t *g, const ucpg_group_event_t *ev, uint8_t flags,
                          ucpg_group_msg_t *msg);
/* Sends ev with body (the wire's copy of its bytes; NULL: empty) to the
 * tree children of member index self. */
void   ucpg_group_tree_send(ucpg_group_t *g, const ucpg_group_event_t *ev, size_t self,
                            ucpg_buf_t *body);
/* Passes on an event that came down the tree and just took effect here. */
void   ucpg_group_tree_forward(ucpg_group_t *g, const ucpg_group_event_t *ev);
/* Passes on a BATCH (len bytes of entries) received from peer (src, uuid)
 * whole, if every entry
 * is an event this member would pass on to the same children the moment it
 * takes effect: DATA events of one group and one origin, numbered on from
 * the last event received, not resent. Returns 1 if it did (its events are
 * then not passed on one by one: UCPG_GROUP_FLAG_PASSED). */
int    ucpg_group_tree_forward_batch(uint32_t src, uint64_t src_uuid, const void *data,
                                     size_t len);

/* --- sequencer.c ----------------------------------------------------------- */
void ucpg_group_seq_become(ucpg_group_t *g);
void ucpg_group_seq_recv_req(ucpg_group_t *g, const ucpg_group_req_t *req);
void ucpg_group_seq_recv_ack(ucpg_group_t *g, uint32_t src, uint64_t uuid, uint64_t received,
                             uint64_t consumed, int repair);
/* Orders a view removing every dead member (and the given leaver). */
void ucpg_group_seq_view(ucpg_group_t *g, const ucpg_group_req_t *leave,
                         const ucpg_group_req_t *join);
void ucpg_group_seq_drain(ucpg_group_t *g);
int  ucpg_group_seq_window_full(ucpg_group_t *g, size_t extra_bytes);
void ucpg_group_seq_check_stall(ucpg_group_t *g, uint64_t now);
void ucpg_group_seq_adopt_dead(ucpg_group_t *g);
/* Resends to members that still lack events numbered a while ago. */
void ucpg_group_seq_check_lag(ucpg_group_t *g, uint64_t now);
void ucpg_group_seq_refuse_held(ucpg_group_t *g);
/* Recomputes stability and the window after acks or a view; drains. */
void ucpg_group_seq_update(ucpg_group_t *g);
/* Sends m every event after from that we hold, as RETRANS. */
void ucpg_group_seq_resend(ucpg_group_t *g, ucpg_group_member_t *m, uint64_t from);
/* We numbered a view naming another sequencer and applied it ourselves. */
void ucpg_group_seq_step_down(ucpg_group_t *g);
void ucpg_group_seq_emit(ucpg_group_t *g, uint8_t kind, uint8_t guarantee,
                         const ucpg_group_origin_t *origin, ucpg_buf_t *buf,
                         const ucpg_group_req_t *extra);
void ucpg_group_seq_publish(ucpg_group_t *g, const ucpg_group_vbody_t *v);
void ucpg_group_seq_republish(ucpg_group_t *g);
void ucpg_group_seq_hold(ucpg_group_t *g, const ucpg_group_req_t *req);
void ucpg_group_vmember_set(ucpg_group_vmember_t *e, uint32_t slot, uint64_t uuid,
                            uint32_t nodeid, uint32_t pid, uint32_t reason, uint64_t next_lseq);

/* --- handover.c ------------------------------------------------------------ */
void ucpg_group_handover_reset(ucpg_group_t *g);
/* The sequencer ordered a message of origin's. */
void ucpg_group_handover_note(ucpg_group_t *g, const ucpg_group_origin_t *origin);
/* Hands the role over if a member earned it and the group allows it now. */
void ucpg_group_handover_run(ucpg_group_t *g);
/* A request reached us, not the sequencer, from a member in view view_id:
 * keeps it if that view is later than ours (it may name us). 1 if kept. */
int  ucpg_group_handover_hold_early(ucpg_group_t *g, const ucpg_group_req_t *req,
                                    uint64_t view_id);
/* After applying a view: drops what was kept early if it did not name us. */
void ucpg_group_handover_drop_early(ucpg_group_t *g);
/* ACK|REPAIR reached us, not the sequencer: serve it from what we hold. */
void ucpg_group_handover_serve_repair(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                      uint64_t from);

/* --- recovery.c ------------------------------------------------------------ */
void ucpg_group_recovery_peer_down(ucpg_group_t *g);
void ucpg_group_recovery_recv_req(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                  uint64_t attempt);
void ucpg_group_recovery_recv_rep(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                                  const ucpg_group_msg_t *msg, const void *data, size_t len);
/* Timer: gives up on members that do not answer, or on a successor that
 * never asks (we are then cut off). */
void ucpg_group_recovery_check(ucpg_group_t *g, uint64_t now);
/* We have been waiting for our own requests and heard nothing for longer
 * than the group could legitimately be held up: we are cut off. */
void ucpg_group_recovery_check_deaf(ucpg_group_t *g, uint64_t now);
/* Removes ourselves from g locally (PROCDOWN in our own confchg): we cannot
 * hear the group, or it expelled us. */
void ucpg_group_recovery_cut_off(ucpg_group_t *g);

/* --- silence.c ------------------------------------------------------------- */
/* Timer, as a member: suspects a silent sequencer, or decides a probe. */
void ucpg_group_silence_check(ucpg_group_t *g, uint64_t now);
/* SILENT, PROBE, ALIVE, EXPEL or UNANSWERED from peer src. */
void ucpg_group_silence_recv(ucpg_group_t *g, uint32_t src, uint64_t uuid,
                             const ucpg_group_msg_t *msg);
/* What a joiner does next (ucpg_group_silence_joining). */
enum {
    UCPG_GROUP_JOINING_WAIT      = 0,   /* go on waiting */
    UCPG_GROUP_JOINING_MOVED     = 1,   /* look the group up again */
    UCPG_GROUP_JOINING_SUPERSEDE = 2    /* replace the incarnation (g->superseded set) */
};

/* Joining, locked: the sequencer (seq_slot, seq_uuid) the directory named
 * has not answered our JOIN yet, or cannot even be reached. After
 * UCPG_GROUP_JOIN_TELL_MS of that, and then once a second, the group's other
 * members are told (UNANSWERED). MOVED if the directory names another
 * sequencer or incarnation by then; SUPERSEDE once every member it lists is
 * a stopped process of this host (or gone) and has been for
 * group_stall_timeout_ms: nobody is left to remove them. Unlocks while it
 * reads the directory. */
int  ucpg_group_silence_joining(ucpg_group_t *g, uint32_t seq_slot, uint64_t seq_uuid);
/* As the founder of an incarnation that replaced one whose members were all
 * stopped: EXPELs each of them once it runs again (timer). */
void ucpg_group_silence_tell_superseded(ucpg_group_t *g);
/* Whether peer (slot, uuid) was expelled from g: its messages are dropped. */
int  ucpg_group_silence_expelled(const ucpg_group_t *g, uint32_t slot, uint64_t uuid);

/* How long recovery waits for a member's answer (and a member for the
 * successor) before giving up on it. */
#define UCPG_GROUP_SYNC_TIMEOUT_MS 2000u

#endif
