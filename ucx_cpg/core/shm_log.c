/*
 * shm_log.c - the host-wide log in shared memory (see shm_log.h for the
 * design: reservation by one compare-and-swap, commit by the entry's own
 * position, cursors for room, reaping of dead writers and readers).
 *
 * Memory order, in short: a writer publishes its reservation record before
 * it moves the tail (so a live writer always claims the position it may
 * own), and the payload before the commit word; a reader acquires the
 * commit word before it reads the payload. The sleepers mask and the commit
 * word form a Dekker pair (each side stores, then loads the other's word,
 * all sequentially consistent), so a reader that goes to sleep is either
 * seen by the commit or sees it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shm_log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mutex.h"
#include "proc.h"

#define UCPG_SHM_LOG_MAGIC  0x31474f4c47504355ull   /* "UCPGLOG1", little-endian */
#define UCPG_SHM_LOG_HDR    (3u * 4096u)            /* header page, reader and writer slots */
#define UCPG_SHM_LOG_NONE   UINT64_MAX

enum {
    UCPG_SHM_LOG_KIND_DATA = 1,
    UCPG_SHM_LOG_KIND_PAD  = 2,     /* the rest of the ring: go on at its start */
    UCPG_SHM_LOG_KIND_VOID = 3      /* a dead writer's reservation */
};

/* The first page. Each word that several processes write has its own line. */
typedef struct ucpg_shm_log_shared {
    uint64_t        cookie;         /* shm_segment's */
    uint64_t        magic;          /* stored last by the creator */
    uint64_t        capacity;
    pthread_mutex_t lock;           /* robust, process-shared: slots and head */
    alignas(64) uint64_t tail;      /* the next position to reserve */
    alignas(64) uint64_t head;      /* no reader needs a position below it */
    alignas(64) uint64_t sleepers;  /* reader slots that want to be woken */
    alignas(64) uint64_t readers;   /* reader slots in use (under the lock) */
} ucpg_shm_log_shared_t;

/* Who holds a slot: (pid, start time) names one process for the host's life. */
typedef struct ucpg_shm_log_owner {
    uint64_t starttime;
    uint32_t pid;                   /* 0: the slot is free */
    uint32_t unused;
} ucpg_shm_log_owner_t;

typedef struct ucpg_shm_log_rslot {
    alignas(64) uint64_t cursor;    /* the reader is done with positions below */
    ucpg_shm_log_owner_t owner;
} ucpg_shm_log_rslot_t;

typedef struct ucpg_shm_log_wslot {
    alignas(64) uint64_t res_from;  /* the reservation: [res_from, res_to), or NONE */
    uint64_t             res_to;
    ucpg_shm_log_owner_t owner;
} ucpg_shm_log_wslot_t;

/* An entry's header in the ring; stamp is the commit word: the entry's
 * position plus one (a fresh segment's zeros name no position). */
typedef struct ucpg_shm_log_ehdr {
    uint64_t stamp;
    uint32_t len;
    uint16_t kind;
    uint16_t writer;
} ucpg_shm_log_ehdr_t;

_Static_assert(sizeof(ucpg_shm_log_shared_t) <= 4096 - UCPG_SHM_LOG_USER_SIZE,
               "the log header and the user area share a page");
_Static_assert(sizeof(ucpg_shm_log_rslot_t) == 64, "a reader slot is a cache line");
_Static_assert(sizeof(ucpg_shm_log_wslot_t) == 64, "a writer slot is a cache line");
_Static_assert(sizeof(ucpg_shm_log_ehdr_t) == UCPG_SHM_LOG_ENTRY_HDR, "entry header size");
_Static_assert(UCPG_SHM_LOG_READERS <= 64, "one bit per reader in a 64-bit mask");

struct ucpg_shm_log {
    uint8_t               *base;
    ucpg_shm_offer_t       offer;
    uint64_t               capacity;    /* copied at attach: never read back from the segment */
    uint64_t               mask;
    ucpg_shm_log_shared_t *sh;
    ucpg_shm_log_rslot_t  *rslots;
    ucpg_shm_log_wslot_t  *wslots;
    uint8_t               *ring;
};

/* --- the segment ---------------------------------------------------------------- */

static void ucpg_shm_log_map(ucpg_shm_log_t *log, void *base, uint64_t capacity)
{
    log->base     = base;
    log->capacity = capacity;
    log->mask     = capacity - 1;
    log->sh       = base;
    log->rslots   = (ucpg_shm_log_rslot_t*)(log->base + 4096);
    log->wslots   = (ucpg_shm_log_wslot_t*)(log->base + 8192);
    log->ring     = log->base + UCPG_SHM_LOG_HDR;
}

static int ucpg_shm_log_capacity_ok(uint64_t capacity)
{
    return (capacity >= UCPG_SHM_LOG_MIN_CAP) && (capacity <= UCPG_SHM_LOG_MAX_CAP) &&
           ((capacity & (capacity - 1)) == 0);
}

static ucpg_status_t ucpg_shm_log_init_lock(ucpg_shm_log_shared_t *sh)
{
    int rc = ucpg_mutex_init_shared(&sh->lock);

    if (rc != 0) {
        ucpg_error("host log: pthread_mutex_init: %s", strerror(rc));
        return UCPG_ERR_IO;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_shm_log_create(size_t capacity, ucpg_shm_log_t **log_p)
{
    ucpg_shm_log_t *log;
    ucpg_status_t status;
    void *base;
    unsigned i;

    if (!ucpg_shm_log_capacity_ok(capacity)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    status = ucpg_shm_segment_create(UCPG_SHM_LOG_HDR + capacity, "host log", &log->offer,
                                     &base);
    if (status == UCPG_OK) {
        ucpg_shm_log_map(log, base, capacity);
        status = ucpg_shm_log_init_lock(log->sh);
        if (status != UCPG_OK) {
            ucpg_shm_segment_detach(base);
        }
    }
    if (status != UCPG_OK) {
        free(log);
        return status;
    }
    for (i = 0; i < UCPG_SHM_LOG_WRITERS; ++i) {
        log->wslots[i].res_from = UCPG_SHM_LOG_NONE;
    }
    log->sh->capacity = capacity;
    __atomic_store_n(&log->sh->magic, UCPG_SHM_LOG_MAGIC, __ATOMIC_RELEASE);
    *log_p = log;
    return UCPG_OK;
}

ucpg_status_t ucpg_shm_log_attach(const ucpg_shm_offer_t *offer, ucpg_shm_log_t **log_p)
{
    const ucpg_shm_log_shared_t *sh;
    ucpg_shm_log_t *log;
    uint64_t capacity;
    void *base;

    if ((offer->size <= UCPG_SHM_LOG_HDR) ||
        (ucpg_shm_segment_attach(offer, 1, &base) != UCPG_OK)) {
        return UCPG_ERR_NOT_FOUND;
    }
    sh       = base;
    capacity = sh->capacity;
    if ((__atomic_load_n(&sh->magic, __ATOMIC_ACQUIRE) != UCPG_SHM_LOG_MAGIC) ||
        !ucpg_shm_log_capacity_ok(capacity) || (offer->size != UCPG_SHM_LOG_HDR + capacity)) {
        ucpg_shm_segment_detach(base);
        return UCPG_ERR_MESSAGE;
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        ucpg_shm_segment_detach(base);
        return UCPG_ERR_NO_MEMORY;
    }
    log->offer = *offer;
    ucpg_shm_log_map(log, base, capacity);
    *log_p = log;
    return UCPG_OK;
}

void ucpg_shm_log_offer(const ucpg_shm_log_t *log, ucpg_shm_offer_t *offer)
{
    *offer = log->offer;
}

void ucpg_shm_log_detach(ucpg_shm_log_t *log)
{
    if (log != NULL) {
        ucpg_shm_segment_detach(log->base);
        free(log);
    }
}

void *ucpg_shm_log_user_area(const ucpg_shm_log_t *log)
{
    return log->base + 4096 - UCPG_SHM_LOG_USER_SIZE;
}

size_t ucpg_shm_log_capacity(const ucpg_shm_log_t *log)
{
    return (size_t)log->capacity;
}

size_t ucpg_shm_log_max_entry(const ucpg_shm_log_t *log)
{
    return (size_t)(log->capacity / 4 - UCPG_SHM_LOG_ENTRY_HDR);
}

uint64_t ucpg_shm_log_tail(const ucpg_shm_log_t *log)
{
    return __atomic_load_n(&log->sh->tail, __ATOMIC_ACQUIRE);
}

/* The lock's holder may have died: what it guards (slots, head) is checked
 * again by every holder, so the state is taken over as it is. */
static void ucpg_shm_log_lock(ucpg_shm_log_t *log)
{
    ucpg_mutex_lock_shared(&log->sh->lock, -1);   /* held for a few stores only */
}

static void ucpg_shm_log_unlock(ucpg_shm_log_t *log)
{
    pthread_mutex_unlock(&log->sh->lock);
}

static ucpg_shm_log_ehdr_t *ucpg_shm_log_ehdr(const ucpg_shm_log_t *log, uint64_t pos)
{
    return (ucpg_shm_log_ehdr_t*)(log->ring + (pos & log->mask));
}

static uint64_t ucpg_shm_log_stamp(uint64_t pos)
{
    return pos + 1;
}

static uint64_t ucpg_shm_log_align(uint64_t len)
{
    return (len + UCPG_SHM_LOG_ENTRY_HDR - 1) & ~(uint64_t)(UCPG_SHM_LOG_ENTRY_HDR - 1);
}

/* An entry's length and kind, before its commit (atomic: readers may look). */
static void ucpg_shm_log_ehdr_set(ucpg_shm_log_ehdr_t *h, uint32_t len, uint16_t kind,
                                  uint16_t writer)
{
    __atomic_store_n(&h->len, len, __ATOMIC_RELAXED);
    __atomic_store_n(&h->kind, kind, __ATOMIC_RELAXED);
    __atomic_store_n(&h->writer, writer, __ATOMIC_RELAXED);
}

/* Writes and commits the header of a PAD or VOID entry filling [pos, end). */
static void ucpg_shm_log_fill(ucpg_shm_log_t *log, uint64_t pos, uint64_t end, uint16_t kind,
                              uint16_t writer)
{
    ucpg_shm_log_ehdr_t *h = ucpg_shm_log_ehdr(log, pos);

    ucpg_shm_log_ehdr_set(h, (uint32_t)(end - pos - UCPG_SHM_LOG_ENTRY_HDR), kind, writer);
    __atomic_store_n(&h->stamp, ucpg_shm_log_stamp(pos), __ATOMIC_RELEASE);
}

/* --- room: the slowest reader ---------------------------------------------------- */

/* The lowest cursor of the readers in use, or the tail if there are none.
 * Called with the lock held. */
static uint64_t ucpg_shm_log_min_cursor(ucpg_shm_log_t *log)
{
    uint64_t readers = log->sh->readers, low = ucpg_shm_log_tail(log), c;
    unsigned i;

    for (; readers != 0; readers &= readers - 1) {
        i = (unsigned)__builtin_ctzll(readers);
        c = __atomic_load_n(&log->rslots[i].cursor, __ATOMIC_ACQUIRE);
        low = (c < low) ? c : low;
    }
    return low;
}

/* Moves head up to the slowest cursor; non-zero if [.., end) then fits. */
static int ucpg_shm_log_room(ucpg_shm_log_t *log, uint64_t end)
{
    uint64_t low;

    ucpg_shm_log_lock(log);
    low = ucpg_shm_log_min_cursor(log);
    if (low > __atomic_load_n(&log->sh->head, __ATOMIC_RELAXED)) {
        __atomic_store_n(&log->sh->head, low, __ATOMIC_RELEASE);
    } else {
        low = __atomic_load_n(&log->sh->head, __ATOMIC_RELAXED);
    }
    ucpg_shm_log_unlock(log);
    return end - low <= log->capacity;
}

/* --- slots ----------------------------------------------------------------------- */

/* Takes a free slot for the calling process (starttime: its own); 0 if taken. */
static int ucpg_shm_log_owner_claim(ucpg_shm_log_owner_t *o, uint64_t starttime)
{
    if (__atomic_load_n(&o->pid, __ATOMIC_ACQUIRE) != 0) {
        return 0;
    }
    o->starttime = starttime;
    __atomic_store_n(&o->pid, (uint32_t)ucpg_proc_self(), __ATOMIC_RELEASE);
    return 1;
}

static uint32_t ucpg_shm_log_owner_pid(const ucpg_shm_log_owner_t *o)
{
    return __atomic_load_n(&o->pid, __ATOMIC_ACQUIRE);
}

/* Non-zero iff the slot is held by a process that is gone. */
static int ucpg_shm_log_owner_dead(const ucpg_shm_log_owner_t *o)
{
    uint32_t pid = ucpg_shm_log_owner_pid(o);

    return (pid != 0) && !ucpg_proc_alive((pid_t)pid, o->starttime);
}

static void ucpg_shm_log_owner_free(ucpg_shm_log_owner_t *o)
{
    __atomic_store_n(&o->pid, 0, __ATOMIC_RELEASE);
}

ucpg_status_t ucpg_shm_log_writer_open(ucpg_shm_log_t *log, ucpg_shm_log_writer_t *w)
{
    uint64_t starttime = ucpg_proc_starttime(ucpg_proc_self());
    int slot;

    ucpg_shm_log_lock(log);
    for (slot = 0; slot < (int)UCPG_SHM_LOG_WRITERS; ++slot) {
        if (ucpg_shm_log_owner_claim(&log->wslots[slot].owner, starttime)) {
            __atomic_store_n(&log->wslots[slot].res_from, UCPG_SHM_LOG_NONE, __ATOMIC_RELEASE);
            break;
        }
    }
    ucpg_shm_log_unlock(log);
    if (slot == (int)UCPG_SHM_LOG_WRITERS) {
        return UCPG_ERR_NO_RESOURCE;
    }
    w->log      = log;
    w->slot     = (unsigned)slot;
    w->reserved = UCPG_SHM_LOG_NONE;
    return UCPG_OK;
}

void ucpg_shm_log_writer_close(ucpg_shm_log_writer_t *w)
{
    ucpg_shm_log_wslot_t *ws = &w->log->wslots[w->slot];

    if (w->reserved != UCPG_SHM_LOG_NONE) {     /* readers skip what was never written */
        ucpg_shm_log_fill(w->log, w->reserved, __atomic_load_n(&ws->res_to, __ATOMIC_RELAXED),
                          UCPG_SHM_LOG_KIND_VOID, (uint16_t)w->slot);
    }
    ucpg_shm_log_lock(w->log);
    __atomic_store_n(&ws->res_from, UCPG_SHM_LOG_NONE, __ATOMIC_RELEASE);
    ucpg_shm_log_owner_free(&ws->owner);
    ucpg_shm_log_unlock(w->log);
    w->reserved = UCPG_SHM_LOG_NONE;
}

ucpg_status_t ucpg_shm_log_reader_open(ucpg_shm_log_t *log, uint64_t from,
                                       ucpg_shm_log_reader_t *r)
{
    uint64_t starttime = ucpg_proc_starttime(ucpg_proc_self()), tail;
    ucpg_status_t status = UCPG_OK;
    int slot = 0;

    ucpg_shm_log_lock(log);
    tail = ucpg_shm_log_tail(log);
    from = (from == UCPG_SHM_LOG_TAIL) ? tail : from;
    if (from > tail) {
        status = UCPG_ERR_INVALID_PARAM;
    } else if (from < __atomic_load_n(&log->sh->head, __ATOMIC_ACQUIRE)) {
        status = UCPG_ERR_NOT_FOUND;             /* writers may have reused it */
    } else {
        while ((slot < (int)UCPG_SHM_LOG_READERS) &&
               !ucpg_shm_log_owner_claim(&log->rslots[slot].owner, starttime)) {
            ++slot;
        }
        status = (slot == (int)UCPG_SHM_LOG_READERS) ? UCPG_ERR_NO_RESOURCE : UCPG_OK;
    }
    if (status == UCPG_OK) {
        __atomic_store_n(&log->rslots[slot].cursor, from, __ATOMIC_RELEASE);
        log->sh->readers |= 1ull << slot;
    }
    ucpg_shm_log_unlock(log);
    if (status == UCPG_OK) {
        r->log    = log;
        r->slot   = (unsigned)slot;
        r->next   = from;
        r->voided = 0;
    }
    return status;
}

/* Frees reader slot i. Called with the lock held. */
static void ucpg_shm_log_reader_free(ucpg_shm_log_t *log, unsigned i)
{
    log->sh->readers &= ~(1ull << i);
    __atomic_fetch_and(&log->sh->sleepers, ~(1ull << i), __ATOMIC_SEQ_CST);
    ucpg_shm_log_owner_free(&log->rslots[i].owner);
}

void ucpg_shm_log_reader_close(ucpg_shm_log_reader_t *r)
{
    ucpg_shm_log_lock(r->log);
    ucpg_shm_log_reader_free(r->log, r->slot);
    ucpg_shm_log_unlock(r->log);
}

/* --- writing --------------------------------------------------------------------- */

ucpg_status_t ucpg_shm_log_reserve(ucpg_shm_log_writer_t *w, size_t len,
                                   ucpg_shm_log_entry_t *entry)
{
    ucpg_shm_log_t *log      = w->log;
    ucpg_shm_log_wslot_t *ws = &log->wslots[w->slot];
    uint64_t need = UCPG_SHM_LOG_ENTRY_HDR + ucpg_shm_log_align(len), t, at, end, off;

    if (w->reserved != UCPG_SHM_LOG_NONE) {
        return UCPG_ERR_BUSY;
    }
    if (len > ucpg_shm_log_max_entry(log)) {
        return UCPG_ERR_TOO_BIG;
    }
    t = ucpg_shm_log_tail(log);
    for (;;) {
        off = t & log->mask;
        at  = (off + need > log->capacity) ? t + (log->capacity - off) : t;
        end = at + need;
        if ((end - __atomic_load_n(&log->sh->head, __ATOMIC_ACQUIRE) > log->capacity) &&
            !ucpg_shm_log_room(log, end)) {
            return UCPG_ERR_TRY_AGAIN;
        }
        /* Claimed before the tail moves: a reaper never takes a live
         * writer's reservation for a dead one's. */
        __atomic_store_n(&ws->res_to, end, __ATOMIC_RELAXED);
        __atomic_store_n(&ws->res_from, t, __ATOMIC_SEQ_CST);
        if (__atomic_compare_exchange_n(&log->sh->tail, &t, end, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_ACQUIRE)) {
            break;
        }
    }
    if (at != t) {
        ucpg_shm_log_fill(log, t, at, UCPG_SHM_LOG_KIND_PAD, (uint16_t)w->slot);
    }
    w->reserved = at;
    entry->pos  = at;
    entry->end  = end;
    entry->data = (uint8_t*)ucpg_shm_log_ehdr(log, at) + UCPG_SHM_LOG_ENTRY_HDR;
    entry->len  = len;
    return UCPG_OK;
}

uint64_t ucpg_shm_log_commit(ucpg_shm_log_writer_t *w, const ucpg_shm_log_entry_t *entry)
{
    ucpg_shm_log_t *log    = w->log;
    ucpg_shm_log_ehdr_t *h = ucpg_shm_log_ehdr(log, entry->pos);

    ucpg_shm_log_ehdr_set(h, (uint32_t)entry->len, UCPG_SHM_LOG_KIND_DATA, (uint16_t)w->slot);
    __atomic_store_n(&h->stamp, ucpg_shm_log_stamp(entry->pos), __ATOMIC_SEQ_CST);
    __atomic_store_n(&log->wslots[w->slot].res_from, UCPG_SHM_LOG_NONE, __ATOMIC_RELEASE);
    w->reserved = UCPG_SHM_LOG_NONE;
    if (__atomic_load_n(&log->sh->sleepers, __ATOMIC_SEQ_CST) == 0) {
        return 0;                        /* the flood's case: nobody to ring */
    }
    return __atomic_exchange_n(&log->sh->sleepers, 0, __ATOMIC_SEQ_CST);
}

ucpg_status_t ucpg_shm_log_append(ucpg_shm_log_writer_t *w, const void *data, size_t len,
                                  uint64_t *pos_p, uint64_t *wake_p)
{
    ucpg_shm_log_entry_t e;
    ucpg_status_t status = ucpg_shm_log_reserve(w, len, &e);

    if (status != UCPG_OK) {
        return status;
    }
    memcpy(e.data, data, len);
    *wake_p = ucpg_shm_log_commit(w, &e);
    if (pos_p != NULL) {
        *pos_p = e.pos;
    }
    return UCPG_OK;
}

/* --- reading --------------------------------------------------------------------- */

ucpg_status_t ucpg_shm_log_next(ucpg_shm_log_reader_t *r, ucpg_shm_log_entry_t *entry)
{
    const ucpg_shm_log_t *log = r->log;
    const ucpg_shm_log_ehdr_t *h;
    uint64_t c, off, need;
    uint32_t len;
    uint16_t kind;

    for (;;) {
        c   = r->next;
        off = c & log->mask;
        h   = ucpg_shm_log_ehdr(log, c);
        if (__atomic_load_n(&h->stamp, __ATOMIC_ACQUIRE) != ucpg_shm_log_stamp(c)) {
            return (c < ucpg_shm_log_tail(log)) ? UCPG_INPROGRESS : UCPG_ERR_TRY_AGAIN;
        }
        len  = __atomic_load_n(&h->len, __ATOMIC_RELAXED);     /* read once: checked, then used */
        kind = __atomic_load_n(&h->kind, __ATOMIC_RELAXED);
        need = UCPG_SHM_LOG_ENTRY_HDR + ucpg_shm_log_align(len);
        if ((off % UCPG_SHM_LOG_ENTRY_HDR != 0) || (need > log->capacity - off) ||
            (kind < UCPG_SHM_LOG_KIND_DATA) || (kind > UCPG_SHM_LOG_KIND_VOID) ||
            ((kind == UCPG_SHM_LOG_KIND_PAD) && (need != log->capacity - off))) {
            return UCPG_ERR_MESSAGE;
        }
        r->next = c + need;
        if (kind == UCPG_SHM_LOG_KIND_DATA) {
            entry->pos  = c;
            entry->end  = r->next;
            entry->data = (uint8_t*)h + UCPG_SHM_LOG_ENTRY_HDR;
            entry->len  = len;
            return UCPG_OK;
        }
        r->voided += (kind == UCPG_SHM_LOG_KIND_VOID);
    }
}

void ucpg_shm_log_release(ucpg_shm_log_reader_t *r, uint64_t pos)
{
    uint64_t *cursor = &r->log->rslots[r->slot].cursor;

    pos = (pos > r->next) ? r->next : pos;
    if (pos > __atomic_load_n(cursor, __ATOMIC_RELAXED)) {
        __atomic_store_n(cursor, pos, __ATOMIC_RELEASE);
    }
}

int ucpg_shm_log_sleep_prepare(ucpg_shm_log_reader_t *r)
{
    const ucpg_shm_log_ehdr_t *h = ucpg_shm_log_ehdr(r->log, r->next);

    __atomic_fetch_or(&r->log->sh->sleepers, 1ull << r->slot, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&h->stamp, __ATOMIC_SEQ_CST) == ucpg_shm_log_stamp(r->next)) {
        ucpg_shm_log_sleep_cancel(r);
        return 0;
    }
    return 1;
}

int ucpg_shm_log_sleep_cancel(ucpg_shm_log_reader_t *r)
{
    uint64_t bit = 1ull << r->slot;

    return (__atomic_fetch_and(&r->log->sh->sleepers, ~bit, __ATOMIC_SEQ_CST) & bit) == 0;
}

/* --- what dead processes left ---------------------------------------------------- */

/* Non-zero if an entry header at pos is committed (names pos). */
static int ucpg_shm_log_committed(const ucpg_shm_log_t *log, uint64_t pos)
{
    return __atomic_load_n(&ucpg_shm_log_ehdr(log, pos)->stamp, __ATOMIC_ACQUIRE) ==
           ucpg_shm_log_stamp(pos);
}

/* Non-zero if a committed PAD lies at pos. */
static int ucpg_shm_log_is_pad(const ucpg_shm_log_t *log, uint64_t pos)
{
    return ucpg_shm_log_committed(log, pos) &&
           (__atomic_load_n(&ucpg_shm_log_ehdr(log, pos)->kind, __ATOMIC_RELAXED) ==
            UCPG_SHM_LOG_KIND_PAD);
}

/* The position of [from, end)'s entry: after the PAD a writer commits first. */
static uint64_t ucpg_shm_log_entry_at(const ucpg_shm_log_t *log, uint64_t from, uint64_t end)
{
    uint64_t off = from & log->mask;

    return ((off + (end - from) > log->capacity) && ucpg_shm_log_is_pad(log, from)) ?
           from + (log->capacity - off) : from;
}

/*
 * Where the reservation that starts at from ends, if it is a dead writer's
 * to void; 0 if not. A dead writer whose compare-and-swap failed left a
 * record that starts at a boundary another writer took, so: nothing is done
 * while a live writer claims from (it may be the owner), and dead records
 * that disagree on the end are left alone rather than guessed between (the
 * loser of that race died in the few instructions after it, twice over).
 * Called with the lock held.
 */
static uint64_t ucpg_shm_log_orphan_end(ucpg_shm_log_t *log, uint64_t from)
{
    uint64_t end = 0, to;
    unsigned i;

    for (i = 0; i < UCPG_SHM_LOG_WRITERS; ++i) {
        const ucpg_shm_log_wslot_t *ws = &log->wslots[i];
        if ((ucpg_shm_log_owner_pid(&ws->owner) == 0) ||
            (__atomic_load_n(&ws->res_from, __ATOMIC_ACQUIRE) != from)) {
            continue;
        }
        if (!ucpg_shm_log_owner_dead(&ws->owner)) {
            return 0;
        }
        to = __atomic_load_n(&ws->res_to, __ATOMIC_RELAXED);
        if ((end != 0) && (to != end)) {
            ucpg_warn("host log: two dead writers claim position %" PRIu64 "; left as is",
                      from);
            return 0;
        }
        end = to;
    }
    return end;
}

/* Commits [from, end) as PAD and VOID entries, keeping a PAD already
 * committed at from. Called with the lock held. */
static void ucpg_shm_log_void(ucpg_shm_log_t *log, uint64_t from, uint64_t end, unsigned slot)
{
    uint64_t p = ucpg_shm_log_entry_at(log, from, end), off = p & log->mask;

    if (off + (end - p) > log->capacity) {          /* its PAD was not written either */
        ucpg_shm_log_fill(log, p, p + (log->capacity - off), UCPG_SHM_LOG_KIND_PAD,
                          (uint16_t)slot);
        p += log->capacity - off;
    }
    ucpg_shm_log_fill(log, p, end, UCPG_SHM_LOG_KIND_VOID, (uint16_t)slot);
}

/*
 * Voids a dead writer's open reservation, then frees its slot; 1 if freed.
 * Its record may be stale (a failed compare-and-swap): only a position not
 * yet given up for reuse (at or above head), below the tail and still
 * uncommitted can be its own. Called with the lock held.
 */
static unsigned ucpg_shm_log_reap_writer(ucpg_shm_log_t *log, unsigned i)
{
    ucpg_shm_log_wslot_t *ws = &log->wslots[i];
    uint64_t from = __atomic_load_n(&ws->res_from, __ATOMIC_ACQUIRE), end;
    uint64_t tail = ucpg_shm_log_tail(log);

    if ((from != UCPG_SHM_LOG_NONE) && (from < tail) &&
        (from >= __atomic_load_n(&log->sh->head, __ATOMIC_ACQUIRE))) {
        end = ucpg_shm_log_orphan_end(log, from);
        if ((end > from) && (end <= tail) &&
            !ucpg_shm_log_committed(log, ucpg_shm_log_entry_at(log, from, end))) {
            ucpg_warn("host log: a writer (pid %u) died in the middle of its entry at %"
                      PRIu64 "; readers skip it", ws->owner.pid, from);
            ucpg_shm_log_void(log, from, end, i);
        } else if (!ucpg_shm_log_committed(log, from) && (end == 0)) {
            return 0;                       /* not provably its own: kept for later */
        }
    }
    __atomic_store_n(&ws->res_from, UCPG_SHM_LOG_NONE, __ATOMIC_RELEASE);
    ucpg_shm_log_owner_free(&ws->owner);
    return 1;
}

unsigned ucpg_shm_log_reap(ucpg_shm_log_t *log)
{
    unsigned i, freed = 0;

    ucpg_shm_log_lock(log);
    for (i = 0; i < UCPG_SHM_LOG_WRITERS; ++i) {
        if (ucpg_shm_log_owner_dead(&log->wslots[i].owner)) {
            freed += ucpg_shm_log_reap_writer(log, i);
        }
    }
    for (i = 0; i < UCPG_SHM_LOG_READERS; ++i) {
        if (ucpg_shm_log_owner_dead(&log->rslots[i].owner)) {
            ucpg_shm_log_reader_free(log, i);
            ++freed;
        }
    }
    ucpg_shm_log_unlock(log);
    return freed;
}
