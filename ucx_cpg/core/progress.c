/*
 * progress.c - the progress thread of a domain.
 *
 * Protocol duties (answering handshakes, receiving messages, noticing dead
 * peers, closing endpoints) must happen even while the application is busy
 * elsewhere, so each domain runs one thread that progresses the UCP worker.
 * It spins for progress_spin_us after the last event (cheap latency under
 * load), then arms the worker and sleeps in epoll_wait on: the worker's
 * wakeup fd, an eventfd used to interrupt it, and one pidfd per local peer,
 * which becomes readable the instant that process dies. An idle process
 * therefore uses no CPU at all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "domain_int.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

static ucpg_status_t ucpg_progress_epoll_add(ucpg_domain_t *d, int fd, uint64_t tag)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events   = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ucpg_error("epoll_ctl(ADD %d) failed: %m", fd);
        return UCPG_ERR_IO;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_progress_init(ucpg_domain_t *d)
{
    ucs_status_t status;

    d->epfd   = epoll_create1(EPOLL_CLOEXEC);
    d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if ((d->epfd < 0) || (d->wakefd < 0)) {
        ucpg_error("cannot create epoll/eventfd: %m");
        return UCPG_ERR_IO;
    }
    status = ucp_worker_get_efd(d->worker, &d->ucp_efd);
    if (status != UCS_OK) {
        ucpg_error("ucp_worker_get_efd failed: %s", ucs_status_string(status));
        return UCPG_ERR_TRANSPORT;
    }
    if ((ucpg_progress_epoll_add(d, d->ucp_efd, UCPG_EPOLL_TAG_UCP) != UCPG_OK) ||
        (ucpg_progress_epoll_add(d, d->wakefd, UCPG_EPOLL_TAG_WAKE) != UCPG_OK)) {
        return UCPG_ERR_IO;
    }
    return UCPG_OK;
}

void ucpg_progress_wake(ucpg_domain_t *d)
{
    uint64_t one = 1;

    __atomic_store_n(&d->control_pending, 1, __ATOMIC_RELEASE);
    if (write(d->wakefd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, the thread will wake. */
    }
}

/*
 * Closes endpoints whose peer went down once nobody pins them. Runs only in
 * the progress thread (or at teardown after it stopped), outside
 * ucp_worker_progress, because closing inside a UCP callback is not allowed.
 */
void ucpg_progress_close_endpoints(ucpg_domain_t *d)
{
    ucpg_ep_ref_t **pp, *ref, *ready = NULL;
    ucp_request_param_t param;
    void *req;

    pthread_mutex_lock(&d->lock);
    pp = &d->closing;
    while ((ref = *pp) != NULL) {
        if (ref->refs == 0) {
            *pp       = ref->next;
            ref->next = ready;
            ready     = ref;
        } else {
            pp = &ref->next;
        }
    }
    pthread_mutex_unlock(&d->lock);

    memset(&param, 0, sizeof(param));
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags        = UCP_EP_CLOSE_FLAG_FORCE;
    while ((ref = ready) != NULL) {
        ready = ref->next;
        req   = ucp_ep_close_nbx(ref->ep, &param);
        if (UCS_PTR_IS_PTR(req)) {
            /* FORCE with PEER error mode completes at once; if not, let UCX
             * finish it in the background. */
            ucp_request_free(req);
        }
        ucpg_am_shm_ep_cleanup(ref);
        free(ref);
    }
}

/*
 * A local process that exited may have left its last messages (a leaving
 * sequencer's final VIEW, say) in our shared-memory FIFOs: they were sent
 * while it was alive, so take them before it is declared gone, or they would
 * be dropped as coming from a dead peer. Bounded, so that a flood from other
 * peers cannot hold the death back.
 */
#define UCPG_PROGRESS_DRAIN_ROUNDS 4096

/* One round of UCX progress, flagged for application threads that leave
 * their sends to us meanwhile (ucpg_domain_progress_busy). */
static unsigned ucpg_progress_worker(ucpg_domain_t *d)
{
    unsigned count;

    __atomic_store_n(&d->thread_in_ucp, 1, __ATOMIC_SEQ_CST);
    count = ucp_worker_progress(d->worker);
    __atomic_store_n(&d->thread_in_ucp, 0, __ATOMIC_SEQ_CST);
    return count;
}

static void ucpg_progress_drain(ucpg_domain_t *d)
{
    unsigned round;

    for (round = 0; round < UCPG_PROGRESS_DRAIN_ROUNDS; ++round) {
        if (ucpg_progress_worker(d) == 0) {
            break;
        }
    }
}

/* Reads one pidfd event: the process of peer id died. */
static void ucpg_progress_pidfd_event(ucpg_domain_t *d, ucpg_peer_id_t id)
{
    uint64_t uuid = 0;

    pthread_mutex_lock(&d->lock);
    if ((id < d->npeers) && (d->peers[id].state != UCPG_PEER_STATE_FREE)) {
        uuid                 = d->peers[id].uuid;
        d->peers[id].exited  = 1;     /* UCX may report it first, during the drain */
    }
    pthread_mutex_unlock(&d->lock);
    if (uuid != 0) {
        ucpg_progress_drain(d);
        ucpg_peer_down(d, id, uuid, UCPG_PEER_REASON_EXITED);
    }
}

static void ucpg_progress_dispatch(ucpg_domain_t *d, const struct epoll_event *ev)
{
    uint64_t value;

    if (ev->data.u64 == UCPG_EPOLL_TAG_WAKE) {
        if (read(d->wakefd, &value, sizeof(value)) < 0) {
            /* EAGAIN: someone else drained it */
        }
    } else if (ev->data.u64 != UCPG_EPOLL_TAG_UCP) {
        ucpg_progress_pidfd_event(d, (ucpg_peer_id_t)ev->data.u64);
    }
}

/* Handles ready fds, waiting at most timeout_ms (-1: until one is ready).
 * Returns how many of them were not the UCP worker's. */
static int ucpg_progress_poll(ucpg_domain_t *d, int timeout_ms)
{
    struct epoll_event events[16];
    int n, i, others = 0;

    n = epoll_wait(d->epfd, events, 16, timeout_ms);
    if ((n < 0) && (errno != EINTR)) {
        ucpg_error("epoll_wait failed: %m");
        usleep(1000);   /* never spin hot on a persistent error */
        return 0;
    }
    for (i = 0; i < n; ++i) {
        others += (events[i].data.u64 != UCPG_EPOLL_TAG_UCP);
        ucpg_progress_dispatch(d, &events[i]);
    }
    return others;
}

/* While the thread does not sleep it still looks at the pidfds every
 * millisecond, so a peer that dies while we stream to it, or while a send
 * waits for room in its FIFO, is noticed: its requests then fail instead of
 * waiting forever. */
static void ucpg_progress_poll_awake(ucpg_domain_t *d, uint64_t now, uint64_t *last_poll_p)
{
    if ((now - *last_poll_p) > 1000000ull) {
        ucpg_progress_poll(d, 0);
        *last_poll_p = now;
    }
}

/*
 * ucp_worker_arm() answered BUSY although progress found nothing: UCX has
 * sends it cannot make yet, waiting for peers to drain their shared-memory
 * FIFOs, and no event tells when there is room. In a flood that lasts
 * microseconds and only the readers running helps, so give them the CPU
 * (re-arming in a tight loop instead: 850,000 arm calls a second in an
 * 8-member flood on 2 CPUs, half of all CPU time). A reader that stays away
 * (stopped, or slow) is waited for in naps of UCPG_PROGRESS_BUSY_NAP_MS on
 * our epoll set, so a wake-up from an application thread or a pidfd still
 * ends the nap at once, and a dead peer's sends fail.
 */
#define UCPG_PROGRESS_BUSY_YIELD_NS 10000000ull  /* yield for this long, then nap */
#define UCPG_PROGRESS_BUSY_NAP_MS   1

/* Sleeps until nap_ms after start_ns (no-op if that has passed). */
static void ucpg_progress_nap_rest(uint64_t start_ns, unsigned nap_ms)
{
    uint64_t end = start_ns + (uint64_t)nap_ms * 1000000ull, now = ucpg_time_ns();
    struct timespec ts;

    if (now < end) {
        ts.tv_sec  = (time_t)((end - now) / 1000000000ull);
        ts.tv_nsec = (long)((end - now) % 1000000000ull);
        nanosleep(&ts, NULL);
    }
}

static void ucpg_progress_wait_busy(ucpg_domain_t *d, uint64_t now, uint64_t *busy_since_p,
                                    uint64_t *last_poll_p)
{
    if (*busy_since_p == 0) {
        *busy_since_p = now;
    }
    if ((now - *busy_since_p) < UCPG_PROGRESS_BUSY_YIELD_NS) {
        sched_yield();
        ucpg_progress_poll_awake(d, now, last_poll_p);
        return;
    }
    /* The worker's fd may stay readable while arm answers BUSY (seen under
     * load: 200,000 "naps" a second, a core burnt waiting for a stopped
     * reader), so only another fd may end the nap early. */
    if (ucpg_progress_poll(d, UCPG_PROGRESS_BUSY_NAP_MS) == 0) {
        ucpg_progress_nap_rest(now, UCPG_PROGRESS_BUSY_NAP_MS);
    }
    *last_poll_p = now;
}

/* Sleeps until an fd is ready or the next handshake deadline. */
static void ucpg_progress_sleep(ucpg_domain_t *d)
{
    int timeout_ms = -1;

    ucpg_peer_check_deadlines(d, &timeout_ms);
    ucpg_timer_clip_timeout(d, &timeout_ms);
    if (!__atomic_load_n(&d->thread_stop, __ATOMIC_ACQUIRE)) {
        ucpg_progress_poll(d, timeout_ms);
    }
}

/* The upper layer's deferred sends leave after each round (see domain.h). */
static void ucpg_progress_run_flush_hook(ucpg_domain_t *d)
{
    if (__atomic_load_n(&d->flush_hook, __ATOMIC_ACQUIRE) == NULL) {
        return;
    }
    pthread_mutex_lock(&d->event_lock);
    if (d->flush_hook != NULL) {
        d->flush_hook(d->flush_arg);
    }
    pthread_mutex_unlock(&d->event_lock);
}

void ucpg_domain_set_flush_hook(ucpg_domain_t *d, ucpg_domain_flush_hook_t hook, void *arg)
{
    pthread_mutex_lock(&d->event_lock);     /* waits for a running hook */
    d->flush_arg = arg;
    __atomic_store_n(&d->flush_hook, hook, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&d->event_lock);
}

void ucpg_domain_kick(ucpg_domain_t *d)
{
    uint64_t one = 1;

    if (write(d->wakefd, &one, sizeof(one)) < 0) {
        /* EAGAIN: already kicked */
    }
}

int ucpg_domain_in_progress_thread(ucpg_domain_t *d)
{
    return ucpg_progress_is_current(d);
}

int ucpg_domain_progress_busy(ucpg_domain_t *d)
{
    return __atomic_load_n(&d->thread_in_ucp, __ATOMIC_SEQ_CST);
}

int ucpg_domain_progress_awake(ucpg_domain_t *d)
{
    return __atomic_load_n(&d->thread_awake, __ATOMIC_SEQ_CST);
}

/*
 * One idle poll of the spin found nothing. Where processes outnumber CPUs,
 * another thread that has work (an application thread with callbacks to
 * run, another member's progress thread with events to order) is usually
 * waiting for this CPU, and polling on for the whole spin keeps it waiting.
 * sched_yield() lets it run and returns at once when nobody waits, so the
 * spin still catches the next event within a system call's time. Measured
 * on 2 vCPUs, 64 B floods, unbound members: every member sending 224k ->
 * 286k msgs/s at 8 members, 340k -> 387k at 4; one sender 97k -> 240k at 8;
 * bound members unchanged; p50 send-to-own-delivery 0.5-1 us later, the
 * system call's delay (docs/cpg-bench.md, session 25).
 */
static void ucpg_progress_spin_pause(ucpg_domain_t *d)
{
    if (d->config.progress_spin_yield) {
        sched_yield();
    }
}

/* The domain whose progress thread this is: set by that thread itself, so
 * the answer never depends on when the creator stored the thread's id. */
static __thread const ucpg_domain_t *ucpg_progress_self;

static void *ucpg_progress_thread(void *arg)
{
    ucpg_domain_t *d    = arg;
    uint64_t spin_ns    = (uint64_t)d->config.progress_spin_us * 1000ull;
    uint64_t last_event = ucpg_time_ns(), last_poll = last_event, busy_since = 0, now;
    ucs_status_t status;
    unsigned count;

    ucpg_progress_self = d;
    pthread_setname_np(pthread_self(), "ucpg-progress");   /* for top -H, perf, gdb */
    while (!__atomic_load_n(&d->thread_stop, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&d->thread_awake, 1, __ATOMIC_RELAXED);
        count = ucpg_progress_worker(d);
        ucpg_am_shm_send_owed(d, 0);
        ucpg_progress_run_flush_hook(d);
        if (__atomic_exchange_n(&d->control_pending, 0, __ATOMIC_ACQ_REL)) {
            ucpg_peer_run_control(d);
            ucpg_progress_close_endpoints(d);
            ++count;
        }
        now = ucpg_time_ns();
        ucpg_timer_run_due(d, now);
        if ((count != 0) || __atomic_load_n(&d->waiters, __ATOMIC_ACQUIRE)) {
            ucpg_progress_poll_awake(d, now, &last_poll);
            last_event = now;
            busy_since = 0;
            continue;
        }
        if ((now - last_event) < spin_ns) {
            ucpg_progress_spin_pause(d);
            continue;
        }
        /* Not awake from here: what is queued after this store is seen by
         * the hook below or kicked (ucpg_domain_progress_awake). */
        __atomic_store_n(&d->thread_awake, 0, __ATOMIC_SEQ_CST);
        ucpg_progress_run_flush_hook(d);
        ucpg_am_shm_send_owed(d, 1);
        status = ucp_worker_arm(d->worker);
        if (status == UCS_ERR_BUSY) {
            ucpg_progress_wait_busy(d, now, &busy_since, &last_poll);
            continue;
        }
        if (status != UCS_OK) {
            ucpg_error("ucp_worker_arm failed: %s", ucs_status_string(status));
        }
        ucpg_progress_sleep(d);
        busy_since = 0;
        last_event = ucpg_time_ns();
        ucpg_timer_run_due(d, last_event);
    }
    return NULL;
}

int ucpg_progress_is_current(ucpg_domain_t *d)
{
    return ucpg_progress_self == d;
}

ucpg_status_t ucpg_progress_wait_flag(ucpg_domain_t *d, const int *done, unsigned timeout_ms)
{
    uint64_t deadline    = ucpg_time_ns() + (uint64_t)timeout_ms * 1000000ull;
    ucpg_status_t status = UCPG_OK;
    uint64_t one         = 1;
    unsigned spins       = 0;

    if (ucpg_progress_is_current(d) || !__atomic_load_n(&d->thread_running, __ATOMIC_ACQUIRE)) {
        return UCPG_ERR_BUSY;
    }
    __atomic_add_fetch(&d->waiters, 1, __ATOMIC_ACQ_REL);
    if (write(d->wakefd, &one, sizeof(one)) < 0) {
        /* EAGAIN: already signalled */
    }
    while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
        if (++spins > 200) {
            sched_yield();     /* the progress thread may share our core */
            if ((timeout_ms > 0) && (ucpg_time_ns() > deadline)) {
                status = UCPG_ERR_TIMEOUT;
                break;
            }
        }
    }
    __atomic_sub_fetch(&d->waiters, 1, __ATOMIC_ACQ_REL);
    return status;
}

ucpg_status_t ucpg_progress_start(ucpg_domain_t *d)
{
    int ret;

    __atomic_store_n(&d->thread_stop, 0, __ATOMIC_RELEASE);
    ret = pthread_create(&d->thread, NULL, ucpg_progress_thread, d);
    if (ret != 0) {
        ucpg_error("cannot create the progress thread: %s", strerror(ret));
        return UCPG_ERR_NO_RESOURCE;
    }
    __atomic_store_n(&d->thread_running, 1, __ATOMIC_RELEASE);
    return UCPG_OK;
}

void ucpg_progress_stop(ucpg_domain_t *d)
{
    if (!d->thread_running) {
        return;
    }
    __atomic_store_n(&d->thread_stop, 1, __ATOMIC_RELEASE);
    ucpg_progress_wake(d);
    if (pthread_equal(pthread_self(), d->thread)) {
        /* Released from inside a callback: the thread exits on its own. */
        pthread_detach(d->thread);
    } else {
        pthread_join(d->thread, NULL);
    }
    __atomic_store_n(&d->thread_running, 0, __ATOMIC_RELEASE);
}

void ucpg_progress_cleanup(ucpg_domain_t *d)
{
    if (d->epfd >= 0) {
        close(d->epfd);
    }
    if (d->wakefd >= 0) {
        close(d->wakefd);
    }
    d->epfd = d->wakefd = -1;
}
