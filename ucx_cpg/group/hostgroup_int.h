/*
 * hostgroup_int.h - a host group's state, shared by its files:
 *   hostgroup.c           join, leave, send, wake-ups, destroy
 *   hostgroup_table.c     the member table in the log and the changes
 *                         appended under its lock (joins, leaves, deaths)
 *   hostgroup_dispatch.c  reading the log: messages and views to callbacks
 *   hostgroup_wire.c      the entries' format
 */
#ifndef UCPG_GROUP_HOSTGROUP_INT_H
#define UCPG_GROUP_HOSTGROUP_INT_H

#include <pthread.h>
#include <stdint.h>

#include "core/proc.h"
#include "core/shm_log.h"
#include "hostgroup.h"
#include "hostgroup_wire.h"

/* One member as the table and the views know it. mid: the position of the
 * JOIN entry that added it, plus one (unique for the log's life; 0 names
 * nobody, and the founder's JOIN is at position 0). pid is the one views
 * show (ucpg_proc_identity: a CPG relay speaks for the process it serves);
 * proc with starttime names the process whose life is the membership's. */
typedef struct ucpg_hostgroup_row {
    uint64_t mid;
    uint64_t starttime;
    uint32_t pid;
    uint32_t nodeid;
    uint32_t proc;
    uint32_t unused;
} ucpg_hostgroup_row_t;

/*
 * The member table, in the log's user area. Changed only with lock held,
 * together with the entry that records the change, so that it always holds
 * the members the log's changes so far add up to. pending names an
 * operation under way: set before its entry is reserved, cleared after the
 * table is updated; a holder that finds it set took the lock from a dead
 * process (hostgroup_table.c completes it).
 */
typedef struct ucpg_hostgroup_table {
    uint64_t             magic;
    pthread_mutex_t      lock;       /* robust, process-shared */
    uint32_t             count;
    uint32_t             pending;    /* 0, or the JOIN or LEAVE under way */
    uint32_t             change_waits; /* a change waits for room: messages hold back */
    uint32_t             unused;
    ucpg_hostgroup_row_t op;         /* whom it concerns (mid 0: nothing reserved yet) */
    ucpg_hostgroup_row_t rows[UCPG_HOSTGROUP_MEMBERS_MAX];
} ucpg_hostgroup_table_t;

_Static_assert(sizeof(ucpg_hostgroup_table_t) <= UCPG_SHM_LOG_USER_SIZE,
               "the member table fits the log's user area");

enum {
    UCPG_HOSTGROUP_JOINED = 0,
    UCPG_HOSTGROUP_LEAVING,      /* our LEAVE is in the log */
    UCPG_HOSTGROUP_GONE          /* the view removing us ran (or the log is corrupt) */
};

struct ucpg_hostgroup {
    ucpg_shm_log_t             *log;
    ucpg_hostgroup_table_t     *table;
    ucpg_hostgroup_params_t     params;
    ucpg_hostgroup_callbacks_t  cb;
    ucpg_hostgroup_row_t        self;       /* mid set once our JOIN is reserved */
    int                         state;      /* atomic */

    pthread_mutex_t             send_lock;  /* the writer: one thread at a time */
    ucpg_shm_log_writer_t       writer;
    uint64_t                    full_since; /* ns: appends find no room since (0: they do) */
    uint64_t                    self_bit;   /* our reader's sleeper bit while it is open,
                                             * if cb.self_rung is set (else 0) */
    uint64_t                    ring_owed;  /* sleepers whose rings ring_later took */

    pthread_mutex_t             read_lock;  /* the reader and the view */
    ucpg_shm_log_reader_t       reader;
    int                         reading;    /* the reader is open */
    uint64_t                    stuck_since; /* ns: the next entry uncommitted since */
    ucpg_hostgroup_row_t        members[UCPG_HOSTGROUP_MEMBERS_MAX]; /* the view, by age */
    size_t                      nmembers;
    ucpg_group_addr_t           addrs[UCPG_HOSTGROUP_MEMBERS_MAX + 1]; /* a view's lists */

    int                         bell;       /* our doorbell, -1 if none */
    int                         ringer;     /* the socket we ring others' with */
    char                        bell_base[64]; /* the log's doorbell names: base + slot */
    uint64_t                    reaped_at;  /* ns: the last look for dead processes */
};

/* The handle belongs to the process that made it: a fork's child must not
 * write in its parent's name (its slots, its pid in entries). */
static inline int ucpg_hostgroup_forked(const ucpg_hostgroup_t *hg)
{
    return hg->self.proc != (uint32_t)ucpg_proc_self();
}

static inline uint64_t ucpg_hostgroup_mid_of(uint64_t join_pos)
{
    return join_pos + 1;
}

/* --- hostgroup_table.c -------------------------------------------------------- */
/* A new table in a fresh log's user area. */
ucpg_status_t ucpg_hostgroup_table_init(ucpg_hostgroup_table_t *t);
int           ucpg_hostgroup_table_valid(const ucpg_hostgroup_table_t *t);
/* Takes the lock, completing what a dead holder left, waiting up to
 * wait_ms for a live holder (0: not at all). UCPG_ERR_TIMEOUT if a live
 * holder kept it (a stopped one does); UCPG_ERR_TRY_AGAIN if it is held and
 * wait_ms is 0, or what a dead holder left could not be completed yet (no
 * room). The lock is then not held. */
ucpg_status_t ucpg_hostgroup_table_lock(ucpg_hostgroup_t *hg, unsigned wait_ms);
void          ucpg_hostgroup_table_unlock(ucpg_hostgroup_t *hg);
/* Appends our JOIN and adds us (table locked; the reader is open). The rows
 * before us are copied into hg->members. */
ucpg_status_t ucpg_hostgroup_table_join(ucpg_hostgroup_t *hg);
/* Appends a LEAVE of ours with reason and removes our row (table locked). */
ucpg_status_t ucpg_hostgroup_table_leave(ucpg_hostgroup_t *hg, uint16_t reason,
                                         unsigned timeout_ms);

/* --- hostgroup.c --------------------------------------------------------------- */
/* Rings the doorbells of the readers in mask. */
void          ucpg_hostgroup_ring(ucpg_hostgroup_t *hg, uint64_t mask);
/* Appends len bytes made by encode(buf, arg) once room is found, waiting up
 * to timeout_ms (0: one try) and reaping dead readers while it waits. A
 * change (table locked) that waits holds messages back meanwhile, or a
 * flood would take every byte of room the readers free before it.
 * *pos_p gets the entry's position; pos_hook (may be NULL) is told it
 * before the commit. UCPG_ERR_TIMEOUT if no room came. */
typedef void (*ucpg_hostgroup_encode_fn_t)(void *buf, uint64_t pos, void *arg);
ucpg_status_t ucpg_hostgroup_append(ucpg_hostgroup_t *hg, size_t len,
                                    ucpg_hostgroup_encode_fn_t encode, void *arg,
                                    int change, unsigned timeout_ms, uint64_t *pos_p);
/* Before our reader closes (read lock held): its slot may be another's
 * soon, so no send of ours may take its bit for ours. */
void          ucpg_hostgroup_self_bit_clear(ucpg_hostgroup_t *hg);
/* Marks the time of a look for dead processes; 1 if one is due (none for
 * reap_after_ms). */
int           ucpg_hostgroup_reap_due(ucpg_hostgroup_t *hg, uint64_t now);

#endif
