/*
 * shm_log.h - a host-wide log in shared memory: any number of writers
 * append entries, and every reader reads every entry, in place, in the one
 * order of the log.
 *
 * Why: on one host the group engine orders each message once and then hands
 * it to every member through its own events, allocations and wake-ups;
 * eight members pay that eight times. A log that a message is written into
 * once, and that every member reads where it lies, makes the position in the
 * log the total order (docs/protocol.md, "The host log and host groups").
 *
 * The segment (shm_segment.h: private, found by id, size and cookie) holds a
 * header, 64 reader slots, 64 writer slots and a ring of capacity bytes.
 * Positions are byte offsets that only grow (a 64-bit count never wraps);
 * position p lies at p mod capacity in the ring. An entry is a 16-byte
 * header and its payload rounded up to 16 bytes; it never crosses the end of
 * the ring (a PAD entry fills the rest of the ring instead).
 *
 * Writing: a writer reserves room by moving the shared tail with one
 * compare-and-swap, writes the payload in place and commits by storing the
 * entry's own position (plus one, so that zeros name nothing) into its
 * header, last. A reader at position p waits until the header there names
 * p: older laps name smaller positions, so a half-written entry is never
 * read.
 *
 * Room: a reader publishes how far it has finished with the log (its cursor,
 * ucpg_shm_log_release); writers never write past the slowest cursor plus
 * capacity, and see UCPG_ERR_TRY_AGAIN instead (flow control). With no
 * reader at all, entries are not kept for anyone.
 *
 * Failures, which any process of the host may clear with ucpg_shm_log_reap:
 *   - a writer that died between its reservation and its commit would stop
 *     every reader at that position for good (as a killed sender does in
 *     UCX 1.13's shared receive ring). Its writer slot names the reserved
 *     range; once the process is gone and no live writer claims the
 *     position, the range is committed as VOID entries, which readers skip
 *     (and count);
 *   - a reader that died would hold every writer back; its slot is freed.
 * Identity is (pid, start time) (proc.h), so a reused pid is not mistaken
 * for the dead process.
 *
 * Wake-ups: a reader about to block sets its bit in the sleepers mask
 * (ucpg_shm_log_sleep_prepare); the commit that finds bits set takes them
 * and returns them, and its caller rings those readers by whatever means it
 * has (a message, a pipe). A flood therefore makes no system call at all.
 *
 * Trust: every process attached can write the whole segment, like the rest
 * of its memory through /proc (same user). The geometry is copied at attach
 * and entries are checked before use, so a corrupt log makes a reader fail
 * with UCPG_ERR_MESSAGE, never read outside the segment.
 *
 * Thread safety: a log handle may be shared by threads; a writer or reader
 * handle belongs to one thread at a time. A writer has at most one
 * reservation open.
 */
#ifndef UCPG_CORE_SHM_LOG_H
#define UCPG_CORE_SHM_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "shm_segment.h"
#include "status.h"

#define UCPG_SHM_LOG_READERS   64u          /* reader slots: one bit each in a mask */
#define UCPG_SHM_LOG_WRITERS   64u
#define UCPG_SHM_LOG_ENTRY_HDR 16u
#define UCPG_SHM_LOG_MIN_CAP   (4u * 1024u)
#define UCPG_SHM_LOG_MAX_CAP   ((size_t)1 << 32)
#define UCPG_SHM_LOG_TAIL      UINT64_MAX   /* ucpg_shm_log_reader_open: from the end */

typedef struct ucpg_shm_log ucpg_shm_log_t;

/* A process' (or thread's) right to append: a writer slot. */
typedef struct ucpg_shm_log_writer {
    ucpg_shm_log_t *log;
    unsigned        slot;
    uint64_t        reserved;   /* the open reservation's entry position, or UINT64_MAX */
} ucpg_shm_log_writer_t;

/* A reader: its slot, its cursor and where it reads next. */
typedef struct ucpg_shm_log_reader {
    ucpg_shm_log_t *log;
    unsigned        slot;
    uint64_t        next;       /* the position of the next entry to read */
    uint64_t        voided;     /* VOID entries skipped: reservations of dead writers */
} ucpg_shm_log_reader_t;

/* An entry in place: to write (reserved) or to read. */
typedef struct ucpg_shm_log_entry {
    uint64_t pos;               /* the entry's position: its place in the order */
    uint64_t end;               /* the position after it (release up to here) */
    void    *data;              /* the payload, inside the ring */
    size_t   len;
} ucpg_shm_log_entry_t;

/* --- the log ------------------------------------------------------------------ */

/* A new log with a ring of capacity bytes (a power of two from 4 KiB to
 * 4 GiB). UCPG_ERR_INVALID_PARAM for another capacity; UCPG_ERR_IO if the
 * system refuses the segment. */
ucpg_status_t ucpg_shm_log_create(size_t capacity, ucpg_shm_log_t **log_p);
/* Attaches a log another process of this host created. UCPG_ERR_NOT_FOUND
 * if the offer names no segment of ours; UCPG_ERR_MESSAGE if the segment is
 * not a log or its geometry does not match its size. */
ucpg_status_t ucpg_shm_log_attach(const ucpg_shm_offer_t *offer, ucpg_shm_log_t **log_p);
void          ucpg_shm_log_offer(const ucpg_shm_log_t *log, ucpg_shm_offer_t *offer);
/* Detaches (the creator too); open readers and writers must be closed. The
 * segment lives on while any process has it attached. */
void          ucpg_shm_log_detach(ucpg_shm_log_t *log);

size_t        ucpg_shm_log_capacity(const ucpg_shm_log_t *log);
/* The largest payload one entry can hold: a quarter of the ring, less a
 * header, so that an entry and the padding before it always fit. */
size_t        ucpg_shm_log_max_entry(const ucpg_shm_log_t *log);
/* The position the next reservation will take (entries before it are
 * reserved, not necessarily committed). */
uint64_t      ucpg_shm_log_tail(const ucpg_shm_log_t *log);

/*
 * Clears what dead processes left: commits as VOID every range reserved by
 * a writer process that is gone (unless a live writer claims the same
 * position), and frees the slots of dead readers and writers. Returns how
 * many slots it freed. Costs a /proc read per slot in use: call it when a
 * reader waits on an uncommitted entry or writers wait for room, not per
 * entry.
 */
unsigned      ucpg_shm_log_reap(ucpg_shm_log_t *log);

/* Bytes of the header page left to the log's user (UCPG_SHM_LOG_USER_SIZE of
 * them, zeroed at creation): a layer on top keeps what must change together
 * with the entries it appends there (group/hostgroup.c: the member table). */
#define UCPG_SHM_LOG_USER_SIZE 2048u
void         *ucpg_shm_log_user_area(const ucpg_shm_log_t *log);

/* --- writers ------------------------------------------------------------------ */

/* UCPG_ERR_NO_RESOURCE if all writer slots are taken by live processes. */
ucpg_status_t ucpg_shm_log_writer_open(ucpg_shm_log_t *log, ucpg_shm_log_writer_t *w);
void          ucpg_shm_log_writer_close(ucpg_shm_log_writer_t *w);

/*
 * Reserves an entry of len bytes at the tail; entry->data is where to write
 * them. UCPG_ERR_TRY_AGAIN if the slowest reader leaves no room (retry after
 * readers release, or reap); UCPG_ERR_TOO_BIG above ucpg_shm_log_max_entry;
 * UCPG_ERR_BUSY if this writer already has a reservation open.
 */
ucpg_status_t ucpg_shm_log_reserve(ucpg_shm_log_writer_t *w, size_t len,
                                   ucpg_shm_log_entry_t *entry);
/* Makes the reserved entry readable. Returns the readers to wake (a mask of
 * reader slots that were asleep); the caller rings them. */
uint64_t      ucpg_shm_log_commit(ucpg_shm_log_writer_t *w, const ucpg_shm_log_entry_t *entry);
/* Reserve, copy len bytes, commit. *wake_p gets the readers to wake. */
ucpg_status_t ucpg_shm_log_append(ucpg_shm_log_writer_t *w, const void *data, size_t len,
                                  uint64_t *pos_p, uint64_t *wake_p);

/* --- readers ------------------------------------------------------------------ */

/*
 * A reader that reads from position from on (an entry boundary this log
 * gave, or UCPG_SHM_LOG_TAIL for whatever is appended from now). Its cursor
 * starts there, so nothing from there on is overwritten until it releases.
 * UCPG_ERR_NOT_FOUND if from was already given up for reuse;
 * UCPG_ERR_INVALID_PARAM if from is beyond the tail; UCPG_ERR_NO_RESOURCE if
 * all reader slots are taken by live processes.
 */
ucpg_status_t ucpg_shm_log_reader_open(ucpg_shm_log_t *log, uint64_t from,
                                       ucpg_shm_log_reader_t *r);
void          ucpg_shm_log_reader_close(ucpg_shm_log_reader_t *r);

/*
 * The next committed entry, in place (PAD and VOID entries are skipped), and
 * r->next moves past it. The entry stays valid until the reader releases
 * past it. UCPG_ERR_TRY_AGAIN: nothing reserved there yet; UCPG_INPROGRESS:
 * reserved but not committed yet (a writer is writing it, or died: reap
 * after a while); UCPG_ERR_MESSAGE: the log is corrupt at r->next (not
 * logged here, like any decoder's refusal: the caller says what it was
 * reading).
 */
ucpg_status_t ucpg_shm_log_next(ucpg_shm_log_reader_t *r, ucpg_shm_log_entry_t *entry);
/* Publishes that the reader is done with every entry before pos (at most
 * r->next): writers may reuse their room. */
void          ucpg_shm_log_release(ucpg_shm_log_reader_t *r, uint64_t pos);

/* Before blocking: asks the next commit to wake this reader. Returns 0 if
 * an entry is already committed at r->next (do not block; the request is
 * withdrawn), 1 if the reader may block until rung. */
int           ucpg_shm_log_sleep_prepare(ucpg_shm_log_reader_t *r);
/* Withdraws the request (woken by a timeout rather than a ring). Returns 1
 * if it had been taken already (a ring is owed or came), 0 if it was
 * still pending. */
int           ucpg_shm_log_sleep_cancel(ucpg_shm_log_reader_t *r);

#endif
