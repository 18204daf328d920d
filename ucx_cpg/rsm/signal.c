/*
 * signal.c - RSMAPI events: post, wait, and pollfds.
 *
 * Every segment handle (import or export) owns an eventfd in semaphore mode:
 * each event received adds one, each successful wait consumes one, so events
 * are counted as on Solaris. A post on an import handle sends one event to
 * the exporter; a post on an export handle sends one to every importer. The
 * eventfd is also the pollfd handed out by rsm_memseg_get_pollfd, so RSM
 * events and ordinary fds can be waited for in one poll.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rsm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/proc.h"
#include "protocol.h"

/* Called with the engine lock held: the eventfd and pollfd count of memseg,
 * an import or an export handle. */
static int *ucpg_rsm_signal_state(void *memseg, int *fd_p)
{
    struct __rsm_memseg_import_handle *im = memseg;
    struct __rsm_memseg_export_handle *ex = memseg;

    if ((memseg != NULL) && ucpg_rsm_import_valid(im)) {
        *fd_p = im->eventfd;
        return &im->pollfd_refs;
    }
    if ((memseg != NULL) && ucpg_rsm_export_valid(ex)) {
        *fd_p = ex->eventfd;
        return &ex->pollfd_refs;
    }
    return NULL;
}

/* The targets of a post, collected under the lock, sent after it. */
typedef struct ucpg_rsm_post {
    ucpg_domain_t  *domain;
    ucpg_rsm_msg_t  msg;
    ucpg_peer_id_t *peers;
    uint64_t       *tokens;
    unsigned        count;
} ucpg_rsm_post_t;

static int ucpg_rsm_post_collect(void *memseg, ucpg_rsm_post_t *post)
{
    struct __rsm_memseg_import_handle *im = memseg;
    struct __rsm_memseg_export_handle *ex = memseg;
    unsigned i, n;
    int is_export = 0;

    memset(post, 0, sizeof(*post));
    if ((memseg != NULL) && ucpg_rsm_import_valid(im)) {
        if (__atomic_load_n(&im->aborted, __ATOMIC_ACQUIRE)) {
            return RSMERR_CONN_ABORTED;
        }
        n = 1;
        post->msg.type  = UCPG_RSM_MSG_SIGNAL_TO_EXPORT;
        post->msg.segid = im->segid;
        post->domain    = im->domain;
    } else if ((memseg != NULL) && ucpg_rsm_export_valid(ex)) {
        is_export = 1;
        n = ex->nimporters;
        post->msg.type  = UCPG_RSM_MSG_SIGNAL_TO_IMPORT;
        post->msg.segid = ex->segid;
        post->domain    = ex->domain;
    } else {
        return RSMERR_BAD_SEG_HNDL;
    }
    post->peers  = calloc(n + 1, sizeof(*post->peers));
    post->tokens = calloc(n + 1, sizeof(*post->tokens));
    if ((post->peers == NULL) || (post->tokens == NULL)) {
        return RSMERR_INSUFFICIENT_MEM;
    }
    for (i = 0; i < n; ++i) {
        post->peers[i]  = is_export ? ex->importers[i].peer : im->owner;
        post->tokens[i] = is_export ? ex->importers[i].token : im->token;
    }
    post->count = n;
    return RSM_SUCCESS;
}

int rsm_intr_signal_post(void *memseg, uint_t flags)
{
    ucpg_rsm_post_t post;
    unsigned i;
    int ret;

    (void)flags;     /* RSM_SIGPOST_NO_ACCUMULATE: events are always counted */
    ucpg_rsm_engine_lock();
    ret = ucpg_rsm_post_collect(memseg, &post);
    ucpg_rsm_engine_unlock();
    for (i = 0; (ret == RSM_SUCCESS) && (i < post.count); ++i) {
        post.msg.token = post.tokens[i];
        if ((ucpg_rsm_send(post.domain, post.peers[i], &post.msg, NULL, 0) != UCPG_OK) &&
            (post.msg.type == UCPG_RSM_MSG_SIGNAL_TO_EXPORT)) {
            ret = RSMERR_REMOTE_NODE_UNREACHABLE;
        }
    }
    free(post.peers);
    free(post.tokens);
    return ret;
}

/* Takes one event from fd if there is one. */
static int ucpg_rsm_take_event(int fd)
{
    uint64_t value;

    return read(fd, &value, sizeof(value)) == (ssize_t)sizeof(value);
}

enum {
    UCPG_RSM_TAKE_NONE    = 0,    /* no signal waiting */
    UCPG_RSM_TAKE_SIGNAL  = 1,    /* one taken */
    UCPG_RSM_TAKE_ABORTED = 2,    /* none, and none will come: the import was aborted */
    UCPG_RSM_TAKE_INVALID = 3     /* not a handle (any more) */
};

/*
 * Takes one signal of memseg, engine lock held. An import's eventfd also
 * counts its abort (ucpg_rsm_import_abort: the exporter unpublished,
 * destroyed the segment or died), which keeps its pollfd readable for good;
 * im->signals says how much of the count is signals, so that the abort is
 * never taken as one. Signals that came before the abort are taken first.
 */
static int ucpg_rsm_signal_take(void *memseg)
{
    struct __rsm_memseg_import_handle *im = memseg;
    struct __rsm_memseg_export_handle *ex = memseg;

    if ((memseg != NULL) && ucpg_rsm_import_valid(im)) {
        if ((im->signals > 0) && ucpg_rsm_take_event(im->eventfd)) {
            --im->signals;
            return UCPG_RSM_TAKE_SIGNAL;
        }
        return __atomic_load_n(&im->aborted, __ATOMIC_ACQUIRE) ? UCPG_RSM_TAKE_ABORTED
                                                               : UCPG_RSM_TAKE_NONE;
    }
    if ((memseg != NULL) && ucpg_rsm_export_valid(ex)) {
        return ucpg_rsm_take_event(ex->eventfd) ? UCPG_RSM_TAKE_SIGNAL : UCPG_RSM_TAKE_NONE;
    }
    return UCPG_RSM_TAKE_INVALID;
}

static int ucpg_rsm_signal_take_locked(void *memseg)
{
    int taken;

    ucpg_rsm_engine_lock();
    taken = ucpg_rsm_signal_take(memseg);
    ucpg_rsm_engine_unlock();
    return taken;
}

/* Milliseconds left until deadline (-1: no timeout). */
static int ucpg_rsm_signal_left(int timeout, uint64_t deadline)
{
    uint64_t now = ucpg_time_ms();

    if (timeout < 0) {
        return -1;
    }
    return (deadline > now) ? (int)(deadline - now) : 0;
}

int rsm_intr_signal_wait(void *memseg, int timeout)
{
    uint64_t deadline = ucpg_time_ms() + (uint64_t)((timeout > 0) ? timeout : 0);
    struct pollfd pfd;
    int fd = -1, left, n;

    ucpg_rsm_engine_lock();
    n = (ucpg_rsm_signal_state(memseg, &fd) != NULL);
    ucpg_rsm_engine_unlock();
    if (!n) {
        return RSMERR_BAD_SEG_HNDL;
    }
    for (;;) {
        switch (ucpg_rsm_signal_take_locked(memseg)) {
        case UCPG_RSM_TAKE_SIGNAL:
            return RSM_SUCCESS;
        case UCPG_RSM_TAKE_ABORTED:
            return RSMERR_CONN_ABORTED;
        case UCPG_RSM_TAKE_INVALID:
            return RSMERR_BAD_SEG_HNDL;      /* disconnected meanwhile by another thread */
        }
        if ((left = ucpg_rsm_signal_left(timeout, deadline)) == 0) {
            return RSMERR_TIMEOUT;
        }
        pfd.fd     = fd;
        pfd.events = POLLIN;
        n = poll(&pfd, 1, left);
        if ((n < 0) && (errno == EINTR)) {
            return RSMERR_INTERRUPTED;
        }
        if (n < 0) {
            return RSMERR_BAD_ARGS_ERRORS;
        }
        /* n == 0 re-checks the deadline; an event taken by a concurrent
         * waiter just loops (and times out like on Solaris) */
    }
}

int rsm_memseg_get_pollfd(void *memseg, struct pollfd *poll_fd)
{
    int *refs, fd = -1;

    ucpg_rsm_engine_lock();
    refs = ucpg_rsm_signal_state(memseg, &fd);
    if ((refs != NULL) && (poll_fd != NULL)) {
        ++*refs;
        poll_fd->fd      = fd;
        poll_fd->events  = POLLRDNORM;
        poll_fd->revents = 0;
    }
    ucpg_rsm_engine_unlock();
    return ((refs != NULL) && (poll_fd != NULL)) ? RSM_SUCCESS : RSMERR_BAD_SEG_HNDL;
}

int rsm_memseg_release_pollfd(void *memseg)
{
    int *refs, fd = -1, ret = RSMERR_BAD_SEG_HNDL;

    ucpg_rsm_engine_lock();
    refs = ucpg_rsm_signal_state(memseg, &fd);
    if ((refs != NULL) && (*refs > 0)) {
        --*refs;
        ret = RSM_SUCCESS;
    }
    ucpg_rsm_engine_unlock();
    return ret;
}

/* Called with the engine lock held: the handle whose pollfd fd is, or NULL. */
static void *ucpg_rsm_event_fd_owner(int fd)
{
    struct __rsm_memseg_import_handle *im;
    struct __rsm_memseg_export_handle *ex;

    for (im = ucpg_rsm_imports; im != NULL; im = im->next) {
        if ((im->eventfd == fd) && (im->pollfd_refs > 0)) {
            return im;
        }
    }
    for (ex = ucpg_rsm_exports; ex != NULL; ex = ex->next) {
        if ((ex->eventfd == fd) && (ex->pollfd_refs > 0)) {
            return ex;
        }
    }
    return NULL;
}

/* What an RSM pollfd that poll() found readable reports: POLLRDNORM with
 * one signal consumed, POLLHUP if its import was aborted (the count that
 * says so stays), 0 if another waiter took the signal. Engine lock held. */
static short ucpg_rsm_pollfd_revents(int fd)
{
    void *owner = ucpg_rsm_event_fd_owner(fd);

    switch ((owner != NULL) ? ucpg_rsm_signal_take(owner) : UCPG_RSM_TAKE_NONE) {
    case UCPG_RSM_TAKE_SIGNAL:
        return POLLRDNORM;
    case UCPG_RSM_TAKE_ABORTED:
        return POLLHUP;
    default:
        return 0;
    }
}

int rsm_intr_signal_wait_pollfd(struct pollfd fds[], nfds_t nfds, int timeout, int *numfdsp)
{
    char *is_rsm = NULL;
    short *asked = NULL;
    nfds_t i;
    int n, poll_errno, fired = 0;

    if ((fds == NULL) && (nfds > 0)) {
        return RSMERR_BAD_ADDR;
    }
    is_rsm = calloc(nfds + 1, 1);
    asked  = calloc(nfds + 1, sizeof(*asked));
    if ((is_rsm == NULL) || (asked == NULL)) {
        free(is_rsm);
        free(asked);
        return RSMERR_INSUFFICIENT_MEM;
    }
    /* An eventfd reports POLLIN, not the POLLRDNORM RSM pollfds ask for. */
    ucpg_rsm_engine_lock();
    for (i = 0; i < nfds; ++i) {
        asked[i]  = fds[i].events;
        is_rsm[i] = (char)(ucpg_rsm_event_fd_owner(fds[i].fd) != NULL);
        if (is_rsm[i]) {
            fds[i].events |= POLLIN;
        }
    }
    ucpg_rsm_engine_unlock();
    n       = poll(fds, nfds, timeout);
    poll_errno = errno;                 /* the lock below may change errno */
    ucpg_rsm_engine_lock();
    for (i = 0; i < nfds; ++i) {
        fds[i].events = asked[i];
        if ((n > 0) && is_rsm[i] && (fds[i].revents != 0)) {
            fds[i].revents = ucpg_rsm_pollfd_revents(fds[i].fd);
        }
        fired += (n > 0) && (fds[i].revents != 0);
    }
    ucpg_rsm_engine_unlock();
    free(is_rsm);
    free(asked);
    if (n < 0) {
        return (poll_errno == EINTR) ? RSMERR_INTERRUPTED : RSMERR_BAD_ARGS_ERRORS;
    }
    if (numfdsp != NULL) {
        *numfdsp = fired;
    }
    return (fired > 0) ? RSM_SUCCESS : RSMERR_TIMEOUT;
}
