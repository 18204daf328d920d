/*
 * timer.c - one-shot timers run by the progress thread.
 *
 * Upper layers need a few deadlines (a stalled group member, a delayed
 * acknowledgement) but an idle process must not wake up periodically, so a
 * timer exists only while armed. The table is tiny and scanned linearly;
 * timer_next lets the progress loop test "anything due?" with one load.
 * Callbacks run under event_lock, which is what makes cancel synchronous,
 * exactly as for peer-event listeners; the table itself has a leaf lock so
 * that arming is allowed from anywhere, even inside an upper layer's lock.
 */
#include "domain_int.h"

#include <unistd.h>

#include "proc.h"

static void ucpg_timer_update_next(ucpg_domain_t *d)
{
    uint64_t next = 0;
    unsigned i;

    for (i = 0; i < UCPG_DOMAIN_MAX_TIMERS; ++i) {
        uint64_t t = d->timers[i].deadline_ns;
        if ((t != 0) && ((next == 0) || (t < next))) {
            next = t;
        }
    }
    __atomic_store_n(&d->timer_next, next, __ATOMIC_RELEASE);
}

ucpg_status_t ucpg_domain_timer_arm(ucpg_domain_t *d, ucpg_domain_timer_cb_t cb, void *arg,
                                    unsigned delay_ms)
{
    uint64_t deadline = ucpg_time_ns() + (uint64_t)delay_ms * 1000000ull;
    ucpg_domain_timer_t *t = NULL, *free_t = NULL;
    uint64_t one = 1, before;
    unsigned i;
    int wake;

    pthread_mutex_lock(&d->timer_lock);
    for (i = 0; i < UCPG_DOMAIN_MAX_TIMERS; ++i) {
        if ((d->timers[i].cb == cb) && (d->timers[i].arg == arg)) {
            t = &d->timers[i];
        } else if ((d->timers[i].cb == NULL) && (free_t == NULL)) {
            free_t = &d->timers[i];
        }
    }
    if (t == NULL) {
        t = free_t;
    }
    if (t == NULL) {
        pthread_mutex_unlock(&d->timer_lock);
        return UCPG_ERR_NO_RESOURCE;
    }
    t->cb  = cb;
    t->arg = arg;
    if ((t->deadline_ns == 0) || (deadline < t->deadline_ns)) {
        t->deadline_ns = deadline;
    }
    before = d->timer_next;
    ucpg_timer_update_next(d);
    /* Only an earlier first deadline can shorten the progress thread's sleep,
     * and the thread itself reads timer_next before it sleeps: a kick costs
     * a system call, and timers are re-armed for nearly every event. */
    wake = (d->timer_next != before) && !ucpg_progress_is_current(d);
    pthread_mutex_unlock(&d->timer_lock);
    if (wake && (write(d->wakefd, &one, sizeof(one)) < 0)) {
        /* EAGAIN: already signalled; the loop re-reads timer_next */
    }
    return UCPG_OK;
}

void ucpg_domain_timer_cancel(ucpg_domain_t *d, ucpg_domain_timer_cb_t cb, void *arg)
{
    unsigned i;

    pthread_mutex_lock(&d->event_lock);     /* waits for a running callback */
    pthread_mutex_lock(&d->timer_lock);
    for (i = 0; i < UCPG_DOMAIN_MAX_TIMERS; ++i) {
        if ((d->timers[i].cb == cb) && (d->timers[i].arg == arg)) {
            d->timers[i].cb          = NULL;
            d->timers[i].arg         = NULL;
            d->timers[i].deadline_ns = 0;
        }
    }
    ucpg_timer_update_next(d);
    pthread_mutex_unlock(&d->timer_lock);
    pthread_mutex_unlock(&d->event_lock);
}

void ucpg_timer_run_due(ucpg_domain_t *d, uint64_t now_ns)
{
    uint64_t next = __atomic_load_n(&d->timer_next, __ATOMIC_ACQUIRE);
    ucpg_domain_timer_cb_t cb;
    void *arg;
    unsigned i;

    if ((next == 0) || (next > now_ns)) {
        return;
    }
    pthread_mutex_lock(&d->event_lock);
    for (i = 0; i < UCPG_DOMAIN_MAX_TIMERS; ++i) {
        pthread_mutex_lock(&d->timer_lock);
        cb = NULL;
        arg = NULL;
        if ((d->timers[i].deadline_ns != 0) && (d->timers[i].deadline_ns <= now_ns)) {
            cb  = d->timers[i].cb;
            arg = d->timers[i].arg;
            d->timers[i].cb          = NULL;    /* one-shot: the callback may re-arm */
            d->timers[i].arg         = NULL;
            d->timers[i].deadline_ns = 0;
            ucpg_timer_update_next(d);
        }
        pthread_mutex_unlock(&d->timer_lock);
        if (cb != NULL) {
            cb(arg);
        }
    }
    pthread_mutex_unlock(&d->event_lock);
}

void ucpg_timer_clip_timeout(ucpg_domain_t *d, int *timeout_ms_p)
{
    uint64_t next = __atomic_load_n(&d->timer_next, __ATOMIC_ACQUIRE), now, wait_ms;

    if (next == 0) {
        return;
    }
    now     = ucpg_time_ns();
    wait_ms = (next > now) ? ((next - now) + 999999ull) / 1000000ull : 0;
    if ((*timeout_ms_p < 0) || (wait_ms < (uint64_t)*timeout_ms_p)) {
        *timeout_ms_p = (int)wait_ms;
    }
}
