/*
 * test_hostgroup.c - unit tests of group/hostgroup: a closed process group
 * of one host's processes on one shared log.
 *
 * Real segments and real processes (fork): a member is one process, and
 * what a group promises is about processes that share nothing but the log.
 * Each member records every event it dispatches (views and messages) in a
 * shared recorder; the parent then checks what users of a group rely on:
 *   - one order: from any member's join on, its stream and an older
 *     member's are the same events in the same order (messages and views:
 *     virtual synchrony);
 *   - each sender's messages arrive in the order sent, none lost, none twice;
 *   - a joiner's first event is the view that adds it, with the members
 *     before it;
 *   - a member killed at any point is announced once, to everyone, as
 *     PROCDOWN, within a bounded time, and the others go on (no hang);
 *   - what a dead process left (a half-written entry, the member table's
 *     lock in the middle of a change) stops nobody;
 *   - flow control, wake-ups, and the documented error codes.
 * Children report by exit status (cmocka runs in the parent only); every
 * wait is bounded, and the parent kills what outlives WAIT_S.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/shm_log.h"
#include "group/hostgroup.h"
#include "group/hostgroup_int.h"

#define MAXM    6
#define MAXREC  100000
#define CAP     (64u * 1024u)     /* small: flow control and wrapping happen */
#define WAIT_S  25                /* no child may take longer */

/* One dispatched event: a view (kind 'V') or a message ('M'). */
typedef struct rec {
    uint8_t  kind;
    uint8_t  reason;      /* V: why the member concerned joined or left */
    uint16_t nmembers;    /* V */
    uint32_t pid;         /* V: the member concerned; M: the sender */
    uint64_t x;           /* V: view id; M: sender index << 32 | number */
} rec_t;

typedef struct spec {
    int nsend;            /* messages it sends */
    int join_after_ms;    /* joins this long after the others start (0: before) */
} spec_t;

typedef struct shared {
    ucpg_shm_offer_t offer;
    int              offer_ready;
    int              nmembers;         /* in the scenario */
    int              nearly;           /* of them, joined before the start */
    int              go;
    spec_t           spec[MAXM];
    int              joined[MAXM];
    int              sent[MAXM];       /* -1 while sending */
    int              dead[MAXM];       /* killed by the parent: wait for its PROCDOWN */
    pid_t            pid[MAXM];
    uint32_t         from[MAXM][MAXM]; /* [member][sender]: the next number expected */
    uint8_t          seen[MAXM][MAXM]; /* [member][sender]: a message came */
    int              fifo_bad[MAXM];
    int              procdown_seen[MAXM][MAXM];
    size_t           nrec[MAXM];
    rec_t            rec[MAXM][MAXREC];
} shared_t;

static shared_t *sh;

static shared_t *shared_new(void)
{
    shared_t *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);

    assert_true(s != MAP_FAILED);
    memset(s, 0, sizeof(*s));
    return s;
}

static int ld(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- a member (in a child) ------------------------------------------------------ */

typedef struct member {
    int               idx;
    ucpg_hostgroup_t *hg;
    size_t            view_members;   /* of the last view */
    int               gone;
} member_t;

static void rec_add(int idx, const rec_t *r)
{
    if (sh->nrec[idx] < MAXREC) {
        sh->rec[idx][sh->nrec[idx]++] = *r;
    }
}

static void on_deliver(void *arg, const ucpg_group_addr_t *sender, int guarantee,
                       const void *data, size_t len)
{
    member_t *m = arg;
    uint32_t body[2];
    rec_t r     = {'M', 0, 0, sender->pid, 0};

    (void)guarantee;
    if (len < sizeof(body)) {
        sh->fifo_bad[m->idx] = 1;
        return;
    }
    memcpy(body, data, sizeof(body));
    if (body[0] >= MAXM) {
        sh->fifo_bad[m->idx] = 1;
    } else if (!sh->seen[m->idx][body[0]]) {     /* a late joiner starts anywhere */
        sh->seen[m->idx][body[0]] = 1;
        sh->fifo_bad[m->idx] |= (sh->spec[m->idx].join_after_ms == 0) && (body[1] != 0);
        sh->from[m->idx][body[0]] = body[1] + 1;
    } else if (body[1] != sh->from[m->idx][body[0]]) {
        sh->fifo_bad[m->idx] = 1;
    } else {
        ++sh->from[m->idx][body[0]];
    }
    r.x = ((uint64_t)body[0] << 32) | body[1];
    rec_add(m->idx, &r);
}

static void on_view(void *arg, const ucpg_group_view_t *v)
{
    member_t *m = arg;
    const ucpg_group_addr_t *who = (v->njoined > 0) ? v->joined : v->left;
    rec_t r = {'V', (uint8_t)who->reason, (uint16_t)v->nmembers, who->pid, v->view_id};
    int j;

    m->view_members = v->nmembers;
    m->gone        |= v->self_left;
    for (j = 0; j < MAXM; ++j) {
        if ((v->nleft > 0) && (who->reason == UCPG_GROUP_REASON_PROCDOWN) &&
            (sh->pid[j] == (pid_t)who->pid)) {
            ++sh->procdown_seen[m->idx][j];
        }
    }
    rec_add(m->idx, &r);
}

static const ucpg_hostgroup_callbacks_t member_cb = {on_deliver, on_view, NULL};

static ucpg_hostgroup_params_t member_params(member_t *m)
{
    ucpg_hostgroup_params_t p = {7, &member_cb, m, 5000, 50, 0, NULL};

    return p;
}

#define CHILD_CHECK(cond, code) do { if (!(cond)) { \
        fprintf(stderr, "member %d: %s failed (line %d)\n", m.idx, #cond, __LINE__); \
        _exit(code); } } while (0)

/* Dispatches what is ready, or waits a little; 0 once the stream ended. */
static int member_pump(member_t *m)
{
    unsigned ran = 0;
    ucpg_status_t s = ucpg_hostgroup_dispatch(m->hg, 64, &ran);

    if (s == UCPG_ERR_NOT_FOUND) {
        return 0;
    }
    if (s != UCPG_OK) {
        fprintf(stderr, "member %d: dispatch: %d\n", m->idx, s);
        _exit(4);
    }
    if (ran == 0) {
        ucpg_hostgroup_wait(m->hg, 5);
    }
    return 1;
}

/* Whether everything every sender sent has been delivered here, and every
 * killed member announced. */
static int member_drained(const member_t *m)
{
    int j;

    for (j = 0; j < sh->nmembers; ++j) {
        if (ld(&sh->dead[j])) {
            if (sh->procdown_seen[m->idx][j] == 0) {
                return 0;
            }
        } else if ((ld(&sh->sent[j]) < 0) || (sh->from[m->idx][j] != (uint32_t)sh->sent[j])) {
            return 0;
        }
    }
    return 1;
}

static void member_join(member_t *m)
{
    ucpg_hostgroup_params_t p = member_params(m);
    ucpg_status_t s;

    if (m->idx == 0) {
        s = ucpg_hostgroup_found(CAP, &p, &m->hg);
        if (s == UCPG_OK) {
            ucpg_hostgroup_offer(m->hg, &sh->offer);
            st(&sh->offer_ready, 1);
        }
    } else {
        while (!ld(&sh->offer_ready)) {
            usleep(1000);
        }
        s = ucpg_hostgroup_join(&sh->offer, &p, &m->hg);
    }
    if (s != UCPG_OK) {
        fprintf(stderr, "member %d: join: %d\n", m->idx, s);
        _exit(2);
    }
}

/* Senders go on until every late joiner is in, so that it sees them all
 * (its JOIN is committed before it says it joined). */
static int late_ones_joined(void)
{
    int j;

    for (j = 0; j < sh->nmembers; ++j) {
        if ((sh->spec[j].join_after_ms > 0) && !ld(&sh->joined[j])) {
            return 0;
        }
    }
    return 1;
}

static void member_send_all(member_t *m, uint64_t deadline)
{
    uint32_t body[2] = {(uint32_t)m->idx, 0};
    struct iovec iov = {body, sizeof(body)};
    ucpg_status_t s;

    int after_joins = 0;     /* a message of ours follows every late JOIN */

    while (((int)body[1] < sh->spec[m->idx].nsend) || !after_joins) {
        int joined = late_ones_joined();

        s = ucpg_hostgroup_mcast(m->hg, UCPG_GROUP_AGREED, &iov, 1);
        if (s == UCPG_OK) {
            after_joins |= joined;
            ++body[1];
        } else if ((s != UCPG_ERR_TRY_AGAIN) || (now_ms() > deadline)) {
            fprintf(stderr, "member %d: mcast: %d\n", m->idx, s);
            _exit(5);
        }
        ucpg_hostgroup_dispatch(m->hg, 16, NULL);
    }
    st(&sh->sent[m->idx], (int)body[1]);
}

static void member_main(int idx)
{
    member_t m       = {idx, NULL, 0, 0};
    uint64_t deadline = now_ms() + WAIT_S * 1000u;

    if (sh->spec[idx].join_after_ms > 0) {
        while (!ld(&sh->go)) {
            usleep(1000);
        }
        usleep((useconds_t)sh->spec[idx].join_after_ms * 1000u);
    }
    member_join(&m);
    while ((idx < sh->nearly) && (m.view_members < (size_t)sh->nearly)) {
        CHILD_CHECK(member_pump(&m) && (now_ms() < deadline), 3);
    }
    st(&sh->joined[idx], 1);
    while (!ld(&sh->go)) {
        CHILD_CHECK(member_pump(&m) && (now_ms() < deadline), 3);
    }
    member_send_all(&m, deadline);
    while (!member_drained(&m)) {
        CHILD_CHECK(member_pump(&m) && (now_ms() < deadline), 6);
    }
    CHILD_CHECK(ucpg_hostgroup_leave(m.hg) == UCPG_OK, 7);
    while (member_pump(&m)) {
        CHILD_CHECK(now_ms() < deadline, 8);
    }
    CHILD_CHECK(m.gone, 9);
    ucpg_hostgroup_destroy(m.hg);
    _exit(sh->fifo_bad[idx] ? 10 : 0);
}

/* --- the parent ------------------------------------------------------------------ */

static void scenario_init(int nmembers, int nearly, int nsend)
{
    int i;

    sh           = shared_new();
    sh->nmembers = nmembers;
    sh->nearly   = nearly;
    for (i = 0; i < nmembers; ++i) {
        sh->spec[i].nsend = nsend;
        sh->sent[i]       = -1;
    }
}

static void scenario_fork(void)
{
    pid_t pid;
    int i;

    for (i = 0; i < sh->nmembers; ++i) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            sh->pid[i] = getpid();
            member_main(i);
        }
        sh->pid[i] = pid;
    }
}

/* Waits until the early members joined, then starts everyone. */
static void scenario_start(void)
{
    uint64_t deadline = now_ms() + WAIT_S * 1000u;
    int i;

    for (i = 0; i < sh->nearly; ++i) {
        while (!ld(&sh->joined[i]) && (now_ms() < deadline)) {
            usleep(1000);
        }
        assert_true(ld(&sh->joined[i]));
    }
    st(&sh->go, 1);
}

/* Waits for every child (bounded: late ones are killed and fail the test);
 * killed members are expected to have died by SIGKILL. */
static void scenario_reap(void)
{
    uint64_t deadline = now_ms() + (WAIT_S + 5) * 1000u;
    int i, status, left = sh->nmembers;
    pid_t pid;

    while (left > 0) {
        pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (i = 0; (i < sh->nmembers) && (sh->pid[i] != pid); ++i) {
            }
            assert_true(i < sh->nmembers);
            if (sh->dead[i]) {
                assert_true(WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL));
            } else {
                if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0)) {
                    fprintf(stderr, "member %d ended with status %#x\n", i, status);
                }
                assert_true(WIFEXITED(status) && (WEXITSTATUS(status) == 0));
            }
            --left;
            continue;
        }
        if (now_ms() > deadline) {
            for (i = 0; i < sh->nmembers; ++i) {
                kill(sh->pid[i], SIGKILL);
            }
            fail_msg("members still running after %d s", WAIT_S + 5);
        }
        usleep(2000);
    }
}

static int rec_equal(const rec_t *a, const rec_t *b)
{
    return (a->kind == b->kind) && (a->reason == b->reason) && (a->nmembers == b->nmembers) &&
           (a->pid == b->pid) && (a->x == b->x);
}

/* From the later joiner's first event on, two streams are the same events
 * in the same order, up to where the shorter one ends. */
static void assert_streams_agree(int a, int b)
{
    const rec_t *ra, *rb;
    size_t ia = 0, n, i;

    assert_true((sh->nrec[a] > 0) && (sh->nrec[b] > 0));     /* (the recorder may be full) */
    if (sh->rec[a][0].x > sh->rec[b][0].x) {       /* b: the later joiner */
        int t = a;
        a = b;
        b = t;
    }
    ra = sh->rec[a];
    rb = sh->rec[b];
    assert_int_equal(rb[0].kind, 'V');
    while ((ia < sh->nrec[a]) && !rec_equal(&ra[ia], &rb[0])) {
        ++ia;
    }
    assert_true(ia < sh->nrec[a]);                  /* the older one saw b's join */
    n = sh->nrec[a] - ia;
    n = (n < sh->nrec[b]) ? n : sh->nrec[b];
    for (i = 0; i < n; ++i) {
        if (!rec_equal(&ra[ia + i], &rb[i])) {
            fail_msg("members %d and %d differ at event %zu of %d's stream", a, b, i, b);
        }
    }
}

/* The checks every scenario ends with. */
static void scenario_verify(void)
{
    int a, b;

    for (a = 0; a < sh->nmembers; ++a) {
        if (sh->dead[a]) {
            continue;
        }
        assert_int_equal(sh->fifo_bad[a], 0);
        assert_int_equal(sh->rec[a][0].kind, 'V');          /* first: the view adding it */
        assert_int_equal(sh->rec[a][0].pid, (uint32_t)sh->pid[a]);
        assert_int_equal(sh->rec[a][0].reason, UCPG_GROUP_REASON_JOIN);
        for (b = 0; b < sh->nmembers; ++b) {
            if (!sh->dead[b] && (b != a)) {
                assert_streams_agree(a, b);
            }
            if (sh->dead[b]) {
                assert_int_equal(sh->procdown_seen[a][b], 1);   /* announced once */
            }
        }
    }
}

static void scenario_end(void)
{
    munmap(sh, sizeof(*sh));
    sh = NULL;
}

/* --- the tests ------------------------------------------------------------------- */

static void run_scenario(void)
{
    scenario_fork();
    scenario_start();
    scenario_reap();
    scenario_verify();
}

/* Four members all sending through a small ring: one order, FIFO, views. */
static void test_members_agree_on_one_stream(void **state)
{
    int a;

    (void)state;
    scenario_init(4, 4, 3000);
    run_scenario();
    for (a = 0; a < 4; ++a) {
        assert_int_equal(sh->from[a][(a + 1) % 4], 3000);   /* all delivered */
    }
    scenario_end();
}

/* A member joins in the middle of a flood: its first event is its view,
 * with the three before it, and from there its stream is the others'. */
static void test_late_joiner_starts_at_its_view(void **state)
{
    (void)state;
    scenario_init(4, 3, 2000);
    sh->spec[3].join_after_ms = 20;
    run_scenario();
    assert_int_equal(sh->rec[3][0].nmembers, 4);
    assert_int_equal(sh->from[0][3], 2000);                 /* its messages reached all */
    scenario_end();
}

/* A member killed in the middle of a flood: announced once (PROCDOWN) to
 * every other member, which all finish. */
static void test_killed_member_is_announced_once(void **state)
{
    (void)state;
    scenario_init(4, 4, 200000);
    sh->spec[2].nsend = 1000000000;                        /* still sending when killed */
    scenario_fork();
    scenario_start();
    usleep(100000);
    st(&sh->dead[2], 1);
    kill(sh->pid[2], SIGKILL);
    scenario_reap();
    scenario_verify();
    scenario_end();
}

/* Two members killed at once, one of them while the others wait for room. */
static void test_two_killed_members(void **state)
{
    (void)state;
    scenario_init(5, 5, 100000);
    sh->spec[1].nsend = sh->spec[4].nsend = 1000000000;
    scenario_fork();
    scenario_start();
    usleep(50000);
    st(&sh->dead[1], 1);
    st(&sh->dead[4], 1);
    kill(sh->pid[1], SIGSTOP);                              /* holds the ring full ... */
    usleep(100000);
    kill(sh->pid[1], SIGKILL);                              /* ... then dies */
    kill(sh->pid[4], SIGKILL);
    scenario_reap();
    scenario_verify();
    scenario_end();
}

/* --- one member, driven by the test itself ----------------------------------------- */

typedef struct solo {
    int               views, msgs, self_left;
    ucpg_group_view_t last;
    ucpg_group_addr_t last_who;
    char              body[64];
    size_t            len;
} solo_t;

static void solo_deliver(void *arg, const ucpg_group_addr_t *sender, int guarantee,
                         const void *data, size_t len)
{
    solo_t *s = arg;

    (void)sender;
    (void)guarantee;
    ++s->msgs;
    s->len = (len < sizeof(s->body)) ? len : sizeof(s->body);
    memcpy(s->body, data, s->len);
}

static void solo_view(void *arg, const ucpg_group_view_t *v)
{
    solo_t *s = arg;

    ++s->views;
    s->last      = *v;
    s->last_who  = (v->njoined > 0) ? v->joined[0] : v->left[0];
    s->self_left = v->self_left;
}

static const ucpg_hostgroup_callbacks_t solo_cb = {solo_deliver, solo_view, NULL};

static ucpg_hostgroup_t *solo_found(solo_t *s, size_t cap)
{
    ucpg_hostgroup_params_t p = {7, &solo_cb, s, 2000, 50, 0, NULL};
    ucpg_hostgroup_t *hg      = NULL;

    memset(s, 0, sizeof(*s));
    assert_int_equal(ucpg_hostgroup_found(cap, &p, &hg), UCPG_OK);
    return hg;
}

static ucpg_hostgroup_t *solo_join(solo_t *s, const ucpg_shm_offer_t *offer)
{
    ucpg_hostgroup_params_t p = {7, &solo_cb, s, 2000, 50, 0, NULL};
    ucpg_hostgroup_t *hg      = NULL;

    memset(s, 0, sizeof(*s));
    assert_int_equal(ucpg_hostgroup_join(offer, &p, &hg), UCPG_OK);
    return hg;
}

/* Dispatches until n more callbacks ran (bounded). */
static void solo_run(ucpg_hostgroup_t *hg, int n)
{
    uint64_t deadline = now_ms() + 10000;
    unsigned ran;

    while (n > 0) {
        assert_int_equal(ucpg_hostgroup_dispatch(hg, (unsigned)n, &ran), UCPG_OK);
        n -= (int)ran;
        if (ran == 0) {
            assert_true(now_ms() < deadline);
            ucpg_hostgroup_wait(hg, 10);
        }
    }
}

/* A founded group past its first view, and its offer. */
static ucpg_hostgroup_t *solo_start(solo_t *s, ucpg_shm_offer_t *offer)
{
    ucpg_hostgroup_t *hg = solo_found(s, CAP);

    solo_run(hg, 1);
    ucpg_hostgroup_offer(hg, offer);
    return hg;
}

static ucpg_status_t solo_send(ucpg_hostgroup_t *hg, const char *text)
{
    struct iovec iov[2] = {{(void*)text, 3}, {(void*)(text + 3), strlen(text) - 3}};

    return ucpg_hostgroup_mcast(hg, UCPG_GROUP_SAFE, iov, 2);
}

/* One member: its view, its own messages in place, its leave. */
static void test_single_member_sees_itself(void **state)
{
    ucpg_hostgroup_t *hg;
    unsigned ran;
    solo_t s;

    (void)state;
    hg = solo_found(&s, CAP);
    solo_run(hg, 1);
    assert_int_equal(s.last.nmembers, 1);
    assert_int_equal(s.last.members[0].pid, (uint32_t)getpid());
    assert_int_equal(s.last.members[0].nodeid, 7);
    assert_int_equal(s.last_who.reason, UCPG_GROUP_REASON_JOIN);
    assert_int_equal(solo_send(hg, "hello, group"), UCPG_OK);
    solo_run(hg, 1);
    assert_int_equal(s.len, 12);
    assert_memory_equal(s.body, "hello, group", 12);
    assert_int_equal(ucpg_hostgroup_leave(hg), UCPG_OK);
    assert_int_equal(ucpg_hostgroup_leave(hg), UCPG_ERR_NOT_FOUND);
    assert_int_equal(solo_send(hg, "too late"), UCPG_ERR_NOT_FOUND);
    solo_run(hg, 1);
    assert_true(s.self_left);
    assert_int_equal(s.last_who.reason, UCPG_GROUP_REASON_LEAVE);
    assert_int_equal(s.last.nmembers, 0);
    assert_int_equal(ucpg_hostgroup_dispatch(hg, 8, &ran), UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_hostgroup_wait(hg, 10), UCPG_ERR_NOT_FOUND);
    ucpg_hostgroup_destroy(hg);
}

/* Bad arguments and offers get their documented codes. */
static void test_bad_input_gets_documented_errors(void **state)
{
    ucpg_hostgroup_params_t p = {7, &solo_cb, NULL, 200, 50, 0, NULL};
    ucpg_hostgroup_t *hg, *other = NULL;
    ucpg_shm_offer_t offer;
    ucpg_shm_log_t *plain;
    struct iovec iov;
    static char big[CAP];
    solo_t s;

    (void)state;
    hg = solo_found(&s, CAP);
    iov.iov_base = big;
    iov.iov_len  = ucpg_hostgroup_max_msg(hg) + 1;
    assert_int_equal(ucpg_hostgroup_mcast(hg, UCPG_GROUP_AGREED, &iov, 1), UCPG_ERR_TOO_BIG);
    iov.iov_len = ucpg_hostgroup_max_msg(hg);
    assert_int_equal(ucpg_hostgroup_mcast(hg, UCPG_GROUP_AGREED, &iov, 1), UCPG_OK);
    assert_int_equal(ucpg_hostgroup_mcast(hg, 4, &iov, 1), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_hostgroup_mcast(hg, -1, &iov, 1), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_hostgroup_mcast(hg, UCPG_GROUP_AGREED, NULL, 1),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_hostgroup_mcast(hg, UCPG_GROUP_AGREED, NULL, 0), UCPG_OK); /* empty */
    solo_run(hg, 3);                                     /* view, big, empty */
    assert_int_equal(s.msgs, 2);
    assert_int_equal(s.len, 0);

    ucpg_hostgroup_offer(hg, &offer);
    offer.cookie ^= 1;                                   /* not the segment offered */
    assert_int_equal(ucpg_hostgroup_join(&offer, &p, &other), UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_shm_log_create(CAP, &plain), UCPG_OK);
    ucpg_shm_log_offer(plain, &offer);                   /* a log, not a group's */
    assert_int_equal(ucpg_hostgroup_join(&offer, &p, &other), UCPG_ERR_MESSAGE);
    assert_null(other);
    ucpg_shm_log_detach(plain);

    ucpg_hostgroup_offer(hg, &offer);                    /* a member with a lower limit */
    p.max_msg = 100;
    assert_int_equal(ucpg_hostgroup_join(&offer, &p, &other), UCPG_OK);
    assert_int_equal(ucpg_hostgroup_max_msg(other), 100);
    iov.iov_len = 101;
    assert_int_equal(ucpg_hostgroup_mcast(other, UCPG_GROUP_AGREED, &iov, 1), UCPG_ERR_TOO_BIG);
    iov.iov_len = 100;
    assert_int_equal(ucpg_hostgroup_mcast(other, UCPG_GROUP_AGREED, &iov, 1), UCPG_OK);
    ucpg_hostgroup_destroy(other);
    ucpg_hostgroup_destroy(hg);
}

/* A second member in this process's child; the test drives both. The
 * member that does not dispatch holds the ring full: the other sees
 * TRY_AGAIN until it does. */
static void test_flow_control_waits_for_the_slowest(void **state)
{
    ucpg_hostgroup_t *hg, *hg2;
    ucpg_shm_offer_t offer;
    char msg[200] = "m";
    struct iovec iov = {msg, sizeof(msg)};
    ucpg_status_t st2 = UCPG_OK;
    int sent = 0;
    solo_t s, s2;

    (void)state;
    hg = solo_found(&s, 4096);                           /* a 4 KiB ring: a few entries */
    ucpg_hostgroup_offer(hg, &offer);
    hg2 = solo_join(&s2, &offer);                        /* same process: two members */
    solo_run(hg, 2);
    solo_run(hg2, 1);
    while ((sent < 100) && ((st2 = ucpg_hostgroup_mcast(hg, UCPG_GROUP_AGREED, &iov, 1)) ==
                            UCPG_OK)) {
        ++sent;
        ucpg_hostgroup_dispatch(hg, 64, NULL);           /* hg keeps up, hg2 does not */
    }
    assert_int_equal(st2, UCPG_ERR_TRY_AGAIN);
    assert_true((sent > 3) && (sent < 100));
    solo_run(hg2, sent);                                 /* the slow one catches up */
    assert_int_equal(s2.msgs, sent);
    assert_int_equal(ucpg_hostgroup_mcast(hg, UCPG_GROUP_AGREED, &iov, 1), UCPG_OK);
    ucpg_hostgroup_destroy(hg2);                         /* without leave: PROCDOWN */
    solo_run(hg, 2);                                     /* the last message, the view */
    assert_int_equal(s.last_who.reason, UCPG_GROUP_REASON_PROCDOWN);
    assert_int_equal(s.last.nmembers, 1);
    ucpg_hostgroup_destroy(hg);
}

/* A fork's child cannot act in its parent's name; the founder (whose JOIN
 * is the log's first entry) destroyed without leaving is announced. */
static void test_fork_and_founder_departure(void **state)
{
    ucpg_hostgroup_t *hg, *hg2;
    ucpg_shm_offer_t offer;
    struct iovec iov = {"x", 1};
    int status;
    pid_t pid;
    solo_t s, s2;

    (void)state;
    hg = solo_found(&s, CAP);
    ucpg_hostgroup_offer(hg, &offer);
    hg2 = solo_join(&s2, &offer);
    solo_run(hg, 2);
    solo_run(hg2, 1);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = (ucpg_hostgroup_mcast(hg, UCPG_GROUP_AGREED, &iov, 1) == UCPG_ERR_FORKED) &&
                 (ucpg_hostgroup_dispatch(hg, 1, NULL) == UCPG_ERR_FORKED) &&
                 (ucpg_hostgroup_leave(hg) == UCPG_ERR_FORKED) &&
                 (ucpg_hostgroup_wait(hg, 1) == UCPG_ERR_FORKED) &&
                 (ucpg_hostgroup_reap(hg) == 0);

        ucpg_hostgroup_destroy(hg);                      /* the copy only */
        ucpg_hostgroup_destroy(hg2);
        _exit(ok ? 0 : 3);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && (WEXITSTATUS(status) == 0));
    assert_int_equal(solo_send(hg, "still here"), UCPG_OK);   /* both still members */
    solo_run(hg2, 1);
    assert_int_equal(s2.len, 10);
    assert_int_equal(s2.last.nmembers, 2);
    ucpg_hostgroup_destroy(hg);                          /* the founder, without leave */
    solo_run(hg2, 1);
    assert_int_equal(s2.last_who.reason, UCPG_GROUP_REASON_PROCDOWN);
    assert_int_equal(s2.last.nmembers, 1);
    ucpg_hostgroup_destroy(hg2);
}

/* A child that sleeps in wait is rung by the parent's message. */
static void test_sleeper_is_woken(void **state)
{
    ucpg_hostgroup_t *hg;
    ucpg_shm_offer_t offer;
    int pipefd[2], status;
    char c;
    pid_t pid;
    solo_t s;

    (void)state;
    hg = solo_start(&s, &offer);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ucpg_hostgroup_t *hg2 = solo_join(&s, &offer);
        uint64_t t0;
        ucpg_status_t w;

        solo_run(hg2, 1);                                /* its view */
        if (write(pipefd[1], "j", 1) != 1) {
            _exit(2);
        }
        t0 = now_ms();
        w  = ucpg_hostgroup_wait(hg2, 10000);            /* only a ring ends it early */
        solo_run(hg2, 1);
        _exit(((w == UCPG_OK) && (now_ms() - t0 < 5000) && (s.msgs == 1)) ? 0 : 3);
    }
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    solo_run(hg, 1);                                     /* its join */
    usleep(200000);                                      /* it sleeps by now */
    assert_int_equal(solo_send(hg, "wake up!"), UCPG_OK);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && (WEXITSTATUS(status) == 0));
    close(pipefd[0]);
    close(pipefd[1]);
    ucpg_hostgroup_destroy(hg);
}

/* --- rings left to another thread (params.ring_later) ------------------------------ */

static int rings_later;

static void count_ring_later(void)
{
    ++rings_later;
}

/* A child that joins, says 'j', then sleeps in wait until a message comes
 * (views may wake it before), says 'w' and exits 0 if that took < 8 s.
 * Its look for the dead is 10 s apart, so only a ring wakes it. */
static void sleeper_child(const ucpg_shm_offer_t *offer, int wfd)
{
    ucpg_hostgroup_params_t p = {7, &solo_cb, NULL, 2000, 10000, 0, NULL};
    ucpg_hostgroup_t *hg      = NULL;
    uint64_t deadline;
    unsigned ran;
    solo_t s;

    memset(&s, 0, sizeof(s));
    p.arg = &s;
    if ((ucpg_hostgroup_join(offer, &p, &hg) != UCPG_OK) ||
        (ucpg_hostgroup_dispatch(hg, 1, &ran) != UCPG_OK) || (write(wfd, "j", 1) != 1)) {
        _exit(2);
    }
    deadline = now_ms() + 8000;
    while ((s.msgs == 0) && (now_ms() < deadline)) {
        if ((ucpg_hostgroup_wait(hg, (unsigned)(deadline - now_ms())) == UCPG_OK) &&
            (ucpg_hostgroup_dispatch(hg, 16, &ran) != UCPG_OK)) {
            _exit(3);
        }
    }
    _exit(((s.msgs > 0) && (write(wfd, "w", 1) == 1)) ? 0 : 4);
}

/* Reads n bytes of c from fd within ms; how many came. */
static int pipe_count(int fd, char c, int n, int ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    uint64_t deadline = now_ms() + (uint64_t)ms;
    int got = 0;
    char b;

    while ((got < n) && (now_ms() < deadline) &&
           (poll(&pfd, 1, (int)(deadline - now_ms())) > 0) && (read(fd, &b, 1) == 1)) {
        got += (b == c);
    }
    return got;
}

/* Two members asleep: a send leaves their rings to ring_later's thread,
 * and they sleep on until ucpg_hostgroup_ring_owed (or a destroy) rings
 * them; one sleeper alone is rung by the sender. */
/* A founder whose ring_later counts, past its first view; its offer, and
 * the pipe its sleeper children talk through. */
static ucpg_hostgroup_t *ring_founder(solo_t *s, ucpg_shm_offer_t *offer, int pipefd[2])
{
    ucpg_hostgroup_params_t p = {7, &solo_cb, NULL, 2000, 50, 0, count_ring_later};
    ucpg_hostgroup_t *hg      = NULL;

    memset(s, 0, sizeof(*s));
    p.arg = s;
    assert_int_equal(ucpg_hostgroup_found(CAP, &p, &hg), UCPG_OK);
    solo_run(hg, 1);
    ucpg_hostgroup_offer(hg, offer);
    assert_int_equal(pipe(pipefd), 0);
    return hg;
}

static void check_rings_later(int destroy_rings)
{
    ucpg_shm_offer_t offer;
    int pipefd[2], status, i;
    ucpg_hostgroup_t *hg;
    pid_t pid[2];
    solo_t s;

    hg = ring_founder(&s, &offer, pipefd);
    for (i = 0; i < 2; ++i) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            sleeper_child(&offer, pipefd[1]);
        }
        assert_int_equal(pipe_count(pipefd[0], 'j', 1, 5000), 1);
        solo_run(hg, 1);                                 /* its join */
    }
    usleep(200000);                                      /* both sleep by now */
    rings_later = 0;
    assert_int_equal(solo_send(hg, "ring later"), UCPG_OK);
    assert_int_equal(rings_later, 1);
    assert_int_equal(pipe_count(pipefd[0], 'w', 2, 300), 0);   /* nobody rang yet */
    if (destroy_rings) {
        ucpg_hostgroup_destroy(hg);
        hg = NULL;
    } else {
        ucpg_hostgroup_ring_owed(hg);
    }
    assert_int_equal(pipe_count(pipefd[0], 'w', 2, 5000), 2);
    for (i = 0; i < 2; ++i) {
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        assert_true(WIFEXITED(status) && (WEXITSTATUS(status) == 0));
    }
    close(pipefd[0]);
    close(pipefd[1]);
    ucpg_hostgroup_destroy(hg);
}

static void test_rings_left_to_another_thread(void **state)
{
    (void)state;
    check_rings_later(0);
}

static void test_destroy_pays_the_rings_owed(void **state)
{
    (void)state;
    check_rings_later(1);
}

/* One member asleep: the sender rings it itself, ring_later is not called. */
static void test_one_sleeper_is_rung_at_once(void **state)
{
    ucpg_shm_offer_t offer;
    int pipefd[2], status;
    ucpg_hostgroup_t *hg;
    pid_t pid;
    solo_t s;

    (void)state;
    hg  = ring_founder(&s, &offer, pipefd);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sleeper_child(&offer, pipefd[1]);
    }
    assert_int_equal(pipe_count(pipefd[0], 'j', 1, 5000), 1);
    solo_run(hg, 1);
    usleep(200000);
    rings_later = 0;
    assert_int_equal(solo_send(hg, "ring now"), UCPG_OK);
    assert_int_equal(rings_later, 0);
    assert_int_equal(pipe_count(pipefd[0], 'w', 1, 5000), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && (WEXITSTATUS(status) == 0));
    close(pipefd[0]);
    close(pipefd[1]);
    ucpg_hostgroup_destroy(hg);
}

/* A writer of the group's log that is no member (a stray or hostile one). */
static ucpg_status_t raw_writer(const ucpg_shm_offer_t *offer, ucpg_shm_log_t **log_p,
                                ucpg_shm_log_writer_t *w)
{
    ucpg_status_t s = ucpg_shm_log_attach(offer, log_p);

    return (s == UCPG_OK) ? ucpg_shm_log_writer_open(*log_p, w) : s;
}

/* A process attached to the log dies between reserving an entry and
 * committing it: readers stop there, reap it and go on. */
static void test_dead_writer_mid_entry_is_skipped(void **state)
{
    ucpg_hostgroup_t *hg;
    ucpg_shm_offer_t offer;
    int status;
    pid_t pid;
    solo_t s;

    (void)state;
    hg = solo_start(&s, &offer);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ucpg_shm_log_t *log;
        ucpg_shm_log_writer_t w;
        ucpg_shm_log_entry_t e;

        if ((raw_writer(&offer, &log, &w) != UCPG_OK) ||
            (ucpg_shm_log_reserve(&w, 40, &e) != UCPG_OK)) {
            _exit(2);
        }
        raise(SIGKILL);                                  /* never commits */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(solo_send(hg, "after the hole"), UCPG_OK);
    solo_run(hg, 1);                                     /* bounded: fails if stuck */
    assert_int_equal(s.len, 14);
    ucpg_hostgroup_destroy(hg);
}

/* In a child: joins as a member, takes the table's lock for its LEAVE and
 * dies before appending it. */
static void die_leaving(const ucpg_shm_offer_t *offer)
{
    solo_t s;
    ucpg_hostgroup_t *hg2 = solo_join(&s, offer);
    ucpg_hostgroup_table_t *t = hg2->table;

    ucpg_hostgroup_table_lock(hg2, 1000);
    t->op = hg2->self;
    __atomic_store_n(&t->pending, UCPG_HOSTGROUP_LEAVE, __ATOMIC_RELEASE);
    raise(SIGKILL);
}

/* In a child that is no member: takes the table's lock for its JOIN,
 * reserves the entry and dies before committing it. */
static void die_joining(const ucpg_shm_offer_t *offer)
{
    ucpg_shm_log_t *log;
    ucpg_shm_log_writer_t w;
    ucpg_shm_log_entry_t e;
    ucpg_hostgroup_table_t *t;

    if (raw_writer(offer, &log, &w) != UCPG_OK) {
        _exit(2);
    }
    t = ucpg_shm_log_user_area(log);
    pthread_mutex_lock(&t->lock);
    t->op.pid       = (uint32_t)getpid();
    t->op.nodeid    = 7;
    t->op.mid       = 0;
    __atomic_store_n(&t->pending, UCPG_HOSTGROUP_JOIN, __ATOMIC_RELEASE);
    if (ucpg_shm_log_reserve(&w, UCPG_HOSTGROUP_CHANGE_LEN, &e) != UCPG_OK) {
        _exit(2);
    }
    t->op.mid = ucpg_hostgroup_mid_of(e.pos);
    raise(SIGKILL);
}

/* A member stopped (SIGSTOP) while it holds the member table's lock: a
 * join gives up after change_timeout_ms instead of hanging, and succeeds
 * once the holder is killed (its death then announced). */
static void test_stopped_table_holder_times_out(void **state)
{
    ucpg_hostgroup_params_t p = {7, &solo_cb, NULL, 300, 50, 0, NULL};
    ucpg_hostgroup_t *hg, *hg3 = NULL;
    ucpg_shm_offer_t offer;
    int status;
    uint64_t t0;
    pid_t pid;
    solo_t s, s3;

    (void)state;
    hg = solo_start(&s, &offer);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ucpg_hostgroup_t *hg2 = solo_join(&s, &offer);

        ucpg_hostgroup_table_lock(hg2, 1000);
        raise(SIGSTOP);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    p.arg = &s3;
    t0    = now_ms();
    assert_int_equal(ucpg_hostgroup_join(&offer, &p, &hg3), UCPG_ERR_TIMEOUT);
    assert_true(now_ms() - t0 < 5000);
    assert_null(hg3);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    memset(&s3, 0, sizeof(s3));
    assert_int_equal(ucpg_hostgroup_join(&offer, &p, &hg3), UCPG_OK);
    solo_run(hg, 1);                                     /* the child's join */
    assert_int_equal(s.last.nmembers, 2);
    assert_int_equal(ucpg_hostgroup_reap(hg), 1);        /* it is dead (waited for) */
    solo_run(hg, 2);                                     /* hg3's join, its PROCDOWN */
    assert_int_equal(s.last_who.reason, UCPG_GROUP_REASON_PROCDOWN);
    assert_int_equal(s.last.nmembers, 2);
    ucpg_hostgroup_destroy(hg3);
    ucpg_hostgroup_destroy(hg);
}

/* A process dies holding the member table's lock in the middle of a
 * change: the next holder completes it as a departure, shown once, and the
 * views agree with the table again. */
static void check_dead_holder(int joining)
{
    ucpg_hostgroup_t *hg, *hg3;
    ucpg_shm_offer_t offer;
    int status, views;
    pid_t pid;
    solo_t s, s3;

    hg = solo_start(&s, &offer);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (joining) {
            die_joining(&offer);
        }
        die_leaving(&offer);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL));
    if (!joining) {
        solo_run(hg, 1);                                 /* the child's join */
        assert_int_equal(s.last.nmembers, 2);
    }
    views = s.views;
    hg3 = solo_join(&s3, &offer);                        /* takes the lock: completes it */
    solo_run(hg3, 1);
    assert_int_equal(s3.last.nmembers, 2);               /* us and hg's: not the dead one */
    solo_run(hg, joining ? 1 : 2);                       /* [its departure,] hg3's join */
    assert_int_equal(s.views, views + (joining ? 1 : 2));
    assert_int_equal(s.last.nmembers, 2);
    assert_int_equal(s.last_who.pid, (uint32_t)getpid());
    assert_int_equal(ucpg_hostgroup_reap(hg), 0);        /* announced once only */
    assert_int_equal(hg->table->count, 2);
    assert_int_equal(hg->table->pending, 0);
    ucpg_hostgroup_destroy(hg3);
    ucpg_hostgroup_destroy(hg);
}

static void test_dead_table_holder_leaving(void **state)
{
    (void)state;
    check_dead_holder(0);
}

static void test_dead_table_holder_joining(void **state)
{
    (void)state;
    check_dead_holder(1);
}

/* An entry that is not a group's ends the stream with UCPG_ERR_MESSAGE. */
static void test_corrupt_entry_ends_the_stream(void **state)
{
    ucpg_hostgroup_t *hg;
    ucpg_shm_offer_t offer;
    ucpg_shm_log_t *log;
    ucpg_shm_log_writer_t w;
    uint64_t wake;
    unsigned ran;
    uint8_t junk[20];
    solo_t s;

    (void)state;
    hg = solo_start(&s, &offer);
    assert_int_equal(raw_writer(&offer, &log, &w), UCPG_OK);
    memset(junk, 0x5a, sizeof(junk));
    assert_int_equal(ucpg_shm_log_append(&w, junk, sizeof(junk), NULL, &wake), UCPG_OK);
    assert_int_equal(ucpg_hostgroup_dispatch(hg, 8, &ran), UCPG_ERR_MESSAGE);
    assert_int_equal(ucpg_hostgroup_dispatch(hg, 8, &ran), UCPG_ERR_NOT_FOUND);
    ucpg_shm_log_writer_close(&w);
    ucpg_shm_log_detach(log);
    ucpg_hostgroup_destroy(hg);
}

/* Threads of one member: two send while the main thread dispatches and a
 * third looks for dead members (for TSan: the handle is shared). */
typedef struct sender_arg {
    ucpg_hostgroup_t *hg;
    uint32_t          id;
    int               n;
} sender_arg_t;

static void *sender_thread(void *arg)
{
    sender_arg_t *a  = arg;
    uint32_t body[2] = {a->id, 0};
    struct iovec iov = {body, sizeof(body)};
    uint64_t deadline = now_ms() + 20000;
    unsigned full = 0;

    while (((int)body[1] < a->n) && (now_ms() < deadline)) {
        if (ucpg_hostgroup_mcast(a->hg, UCPG_GROUP_FIFO, &iov, 1) == UCPG_OK) {
            ++body[1];
        } else if ((++full & 255) == 0) {
            ucpg_hostgroup_reap(a->hg);             /* beside the dispatcher */
        } else {
            sched_yield();
        }
    }
    return NULL;
}

typedef struct count {
    uint32_t next[2];
    int      bad, msgs;
} count_t;

static void count_deliver(void *arg, const ucpg_group_addr_t *sender, int guarantee,
                          const void *data, size_t len)
{
    count_t *c = arg;
    uint32_t body[2];

    (void)sender;
    (void)guarantee;
    memcpy(body, data, (len < sizeof(body)) ? len : sizeof(body));
    c->bad |= (len != sizeof(body)) || (body[0] > 1) || (body[1] != c->next[body[0]]++);
    ++c->msgs;
}

static void count_view(void *arg, const ucpg_group_view_t *v)
{
    (void)arg;
    (void)v;
}

static void test_threads_share_a_member(void **state)
{
    static const ucpg_hostgroup_callbacks_t cb = {count_deliver, count_view, NULL};
    count_t c                 = {{0, 0}, 0, 0};
    ucpg_hostgroup_params_t p = {7, &cb, &c, 2000, 50, 0, NULL};
    ucpg_hostgroup_t *hg      = NULL;
    sender_arg_t a[2];
    pthread_t t[2];
    uint64_t deadline = now_ms() + 20000;
    int i;

    (void)state;
    assert_int_equal(ucpg_hostgroup_found(4096, &p, &hg), UCPG_OK);
    for (i = 0; i < 2; ++i) {
        a[i].hg = hg;
        a[i].id = (uint32_t)i;
        a[i].n  = 3000;
        assert_int_equal(pthread_create(&t[i], NULL, sender_thread, &a[i]), 0);
    }
    while ((c.msgs < 6000) && (now_ms() < deadline)) {
        ucpg_hostgroup_dispatch(hg, 64, NULL);
    }
    for (i = 0; i < 2; ++i) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(c.msgs, 6000);
    assert_int_equal(c.bad, 0);
    ucpg_hostgroup_destroy(hg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_member_sees_itself),
        cmocka_unit_test(test_bad_input_gets_documented_errors),
        cmocka_unit_test(test_flow_control_waits_for_the_slowest),
        cmocka_unit_test(test_sleeper_is_woken),
        cmocka_unit_test(test_one_sleeper_is_rung_at_once),
        cmocka_unit_test(test_rings_left_to_another_thread),
        cmocka_unit_test(test_destroy_pays_the_rings_owed),
        cmocka_unit_test(test_fork_and_founder_departure),
        cmocka_unit_test(test_dead_writer_mid_entry_is_skipped),
        cmocka_unit_test(test_dead_table_holder_leaving),
        cmocka_unit_test(test_dead_table_holder_joining),
        cmocka_unit_test(test_stopped_table_holder_times_out),
        cmocka_unit_test(test_corrupt_entry_ends_the_stream),
        cmocka_unit_test(test_members_agree_on_one_stream),
        cmocka_unit_test(test_late_joiner_starts_at_its_view),
        cmocka_unit_test(test_killed_member_is_announced_once),
        cmocka_unit_test(test_two_killed_members),
        cmocka_unit_test(test_threads_share_a_member),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
