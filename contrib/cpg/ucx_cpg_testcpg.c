/*
 * ucx_cpg_testcpg - interactive CPG client in the manner of corosync's testcpg.
 *
 *   ucx_cpg_testcpg [-i] [-z] [-n COUNT [-w MEMBERS] [-T SEC]] [GROUP]
 *
 * Uses the public corosync CPG API only, so it builds against corosync's
 * <corosync/cpg.h> (-lcpg) and runs with either corosync's libcpg.so.4 or
 * ucx_cpg's (chosen by LD_LIBRARY_PATH at run time).
 *
 * It opens a handle with cpg_model_initialize (model V1, with the totem
 * confchg callback and, unless -i, CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF),
 * prints the local node id and the current membership of GROUP, joins GROUP
 * and then prints every event. Each line read from stdin is multicast
 * (CPG_TYPE_AGREED) as its text without the newline plus a terminating NUL
 * (as corosync's testcpg, which also sends the NUL). These lines are commands
 * instead:
 *   EXIT          leave the group, wait for the own leave, finalize, exit 0
 *                 (end of file on stdin does the same)
 *   LEAVE         leave the group and stay (corosync 3.1.7 keeps delivering
 *                 messages of a left group to the handle: its defect 1)
 *   JOIN NAME     switch to group NAME: leave the current group if still in
 *                 it, then finalize the handle and join NAME on a new one
 *                 (corosync 3.1.7 cannot join again on a handle that has left)
 *   MEMBERS       print cpg_membership_get of the current group
 * A process removed from its group (its own confchg lists it as left, PROCDOWN
 * say, without a LEAVE of ours) is treated as after LEAVE: further lines are
 * not sent, JOIN joins again. In -n mode a removal fails the run.
 *
 * GROUP defaults to "GROUP" with length 5: by default a name's length does NOT
 * count a terminating NUL. corosync's testcpg counts it ("GROUP" has length 6
 * there), which makes it a different group; -z counts the NUL as testcpg does,
 * so that both programs meet in one group.
 *
 * -n COUNT is the non-interactive mode for scripts: stdin is not read; after
 * the join (and, with -w, once the group has had at least MEMBERS members) it
 * multicasts COUNT numbered messages, waits until all of them were delivered
 * back to itself, in order, then leaves, waits for its own leave and exits 0.
 * -T bounds the whole run (default 60 s; exit status 1 on timeout).
 *
 * Output, one line per event, flushed at once, with stable prefixes:
 *   LOCAL nodeid=<n>
 *   MEMBERS group=<name> count=<k> [<nodeid>/<pid> ...]
 *   CONFCHG group=<name> members=[<nodeid>/<pid> ...] left=[<nodeid>/<pid>:<REASON> ...]
 *           joined=[<nodeid>/<pid>:<REASON> ...]                    (one line)
 *   TOTEM ring=<nodeid>.<seq hex> members=[<nodeid> ...]
 *   DELIVER group=<name> nodeid=<n> pid=<p> len=<l> text="<text>"   (printable,
 *           a single trailing NUL allowed and not shown) or hex=<first 32 bytes>[...]
 *   INFO ..., DONE ...                                              (progress)
 * Group names are printed with bytes outside '!'..'~', '"' and '\' as \xNN.
 * Errors go to stderr and name the cs_error_t value.
 *
 * CS_ERR_TRY_AGAIN is retried with a short sleep (bounded: about 5 s, while
 * dispatching events), then reported.
 *
 * Exit status: 0 success, 1 CPG error, data error or timeout, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>

#include "../contrib_args.h"
#include "cs_error_name.h"

enum { TC_EXIT_OK = 0, TC_EXIT_FAIL = 1, TC_EXIT_USAGE = 2 };

#define TC_RETRY_SLEEP_MS  10
#define TC_RETRY_MAX       500        /* x 10 ms: about 5 s of CS_ERR_TRY_AGAIN */
#define TC_LINE_MAX        65536
#define TC_HEX_BYTES       32
#define TC_MEMBERS_BUF     384        /* corosync's reply array; see reference §2.7 */
#define TC_LEAVE_WAIT_MS   10000
#define TC_DEFAULT_GROUP   "GROUP"

typedef struct tc_opts {
    int         initial_totem;   /* !-i */
    int         count_nul;       /* -z */
    long        count;           /* -n, -1 = interactive */
    unsigned    wait_members;    /* -w */
    unsigned    timeout_s;       /* -T */
    const char *group;
} tc_opts_t;

typedef struct tc_state {
    const tc_opts_t *opts;
    cpg_handle_t     handle;
    int              have_handle;
    int              fd;
    struct cpg_name  group;
    int              in_group;      /* joined and own leave not yet requested */
    int              ever_joined;   /* this handle has joined once */
    int              left_self;     /* own leave (or removal) seen in a confchg */
    unsigned         members;       /* member count of the last confchg */
    unsigned         max_members;   /* the most members seen at once (for -w) */
    unsigned int     nodeid;
    uint32_t         pid;
    long             own_delivered; /* -n: own numbered messages seen */
    int              data_error;
    int              stdin_open;
    char             line[TC_LINE_MAX + 1];
    size_t           line_len;
} tc_state_t;

/* ---- small helpers ---------------------------------------------------------- */

static void tc_report(const char *what, cs_error_t err)
{
    fprintf(stderr, "ucx_cpg_testcpg: %s: %s (%d)%s\n", what, cpg_cs_error_name(err), (int)err,
            (err == CS_ERR_LIBRARY) ? " - is the CPG service (corosync) running?" : "");
}

static const char *tc_reason_name(uint32_t reason)
{
    switch (reason) {
    case CPG_REASON_UNDEFINED: return "UNDEFINED";
    case CPG_REASON_JOIN:      return "JOIN";
    case CPG_REASON_LEAVE:     return "LEAVE";
    case CPG_REASON_NODEDOWN:  return "NODEDOWN";
    case CPG_REASON_NODEUP:    return "NODEUP";
    case CPG_REASON_PROCDOWN:  return "PROCDOWN";
    default:                   return "UNKNOWN";
    }
}

static void tc_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while ((nanosleep(&ts, &ts) != 0) && (errno == EINTR)) {
    }
}

/* After CS_ERR_TRY_AGAIN: sleeps and says whether to try again (bounded). */
static int tc_again(cs_error_t err, int *tries_p)
{
    if ((err != CS_ERR_TRY_AGAIN) || (++*tries_p > TC_RETRY_MAX)) {
        return 0;
    }
    tc_sleep_ms(TC_RETRY_SLEEP_MS);
    return 1;
}

static int64_t tc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints a group name: bytes outside '!'..'~', '"' and '\' as \xNN. */
static void tc_print_name(const struct cpg_name *name)
{
    uint32_t i, len = name->length;

    if (len > CPG_MAX_NAME_LENGTH) {
        len = CPG_MAX_NAME_LENGTH;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name->value[i];

        if ((c < '!') || (c > '~') || (c == '"') || (c == '\\')) {
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
    }
}

static int tc_set_name(struct cpg_name *name, const char *text, int count_nul)
{
    size_t len = strlen(text) + (count_nul ? 1 : 0);

    if (len > CPG_MAX_NAME_LENGTH) {
        fprintf(stderr, "ucx_cpg_testcpg: group name longer than %d bytes\n",
                CPG_MAX_NAME_LENGTH);
        return -1;
    }
    memset(name, 0, sizeof(*name));
    memcpy(name->value, text, len);   /* with -z the copied NUL is counted */
    name->length = (uint32_t)len;
    return 0;
}

static void tc_print_addresses(const char *label, const struct cpg_address *list, size_t n,
                               int with_reason)
{
    size_t i;

    printf(" %s=[", label);
    for (i = 0; i < n; i++) {
        printf("%s%" PRIu32 "/%" PRIu32, (i > 0) ? " " : "", list[i].nodeid, list[i].pid);
        if (with_reason) {
            printf(":%s", tc_reason_name(list[i].reason));
        }
    }
    printf("]");
}

/* text="..." when the message is printable (one trailing NUL allowed), else hex. */
static void tc_print_payload(const unsigned char *msg, size_t len)
{
    size_t i, text_len = len;
    int printable = 1;

    if ((text_len > 0) && (msg[text_len - 1] == '\0')) {
        text_len--;
    }
    for (i = 0; i < text_len; i++) {
        if ((msg[i] < ' ') || (msg[i] > '~')) {
            printable = 0;
            break;
        }
    }
    if (printable) {
        printf(" text=\"");
        for (i = 0; i < text_len; i++) {
            if ((msg[i] == '"') || (msg[i] == '\\')) {
                putchar('\\');
            }
            putchar(msg[i]);
        }
        printf("\"");
        return;
    }
    printf(" hex=");
    for (i = 0; (i < len) && (i < TC_HEX_BYTES); i++) {
        printf("%02x", msg[i]);
    }
    if (len > TC_HEX_BYTES) {
        printf("...");
    }
}

/* ---- callbacks ---------------------------------------------------------------- */

static tc_state_t *tc_state_of(cpg_handle_t handle)
{
    void *ctx = NULL;
    cs_error_t err = cpg_context_get(handle, &ctx);

    if ((err != CS_OK) || (ctx == NULL)) {
        tc_report("cpg_context_get", err);
        exit(TC_EXIT_FAIL);
    }
    return ctx;
}

/* -n mode: checks that own numbered messages come back complete and in order. */
static void tc_check_own(tc_state_t *st, const char *msg, size_t len)
{
    char text[128];
    unsigned long pid, index, count;

    if ((len == 0) || (len >= sizeof(text))) {
        goto bad;
    }
    memcpy(text, msg, len);
    text[len] = '\0';
    if ((sscanf(text, "message %lu %lu/%lu", &pid, &index, &count) != 3) ||
        (pid != st->pid) || (count != (unsigned long)st->opts->count)) {
        goto bad;
    }
    if (index != (unsigned long)st->own_delivered + 1) {
        fprintf(stderr, "ucx_cpg_testcpg: own message %lu delivered, expected %ld\n", index,
                st->own_delivered + 1);
        st->data_error = 1;
    }
    st->own_delivered++;
    return;
bad:
    fprintf(stderr, "ucx_cpg_testcpg: unexpected own message of %zu bytes\n", len);
    st->data_error = 1;
}

static void tc_deliver(cpg_handle_t handle, const struct cpg_name *group_name, uint32_t nodeid,
                       uint32_t pid, void *msg, size_t msg_len)
{
    tc_state_t *st = tc_state_of(handle);

    printf("DELIVER group=");
    tc_print_name(group_name);
    printf(" nodeid=%" PRIu32 " pid=%" PRIu32 " len=%zu", nodeid, pid, msg_len);
    tc_print_payload(msg, msg_len);
    printf("\n");
    fflush(stdout);
    if ((st->opts->count >= 0) && (nodeid == st->nodeid) && (pid == st->pid)) {
        tc_check_own(st, msg, msg_len);
    }
}

static void tc_confchg(cpg_handle_t handle, const struct cpg_name *group_name,
                       const struct cpg_address *member_list, size_t member_list_entries,
                       const struct cpg_address *left_list, size_t left_list_entries,
                       const struct cpg_address *joined_list, size_t joined_list_entries)
{
    tc_state_t *st = tc_state_of(handle);
    size_t i;

    printf("CONFCHG group=");
    tc_print_name(group_name);
    tc_print_addresses("members", member_list, member_list_entries, 0);
    tc_print_addresses("left", left_list, left_list_entries, 1);
    tc_print_addresses("joined", joined_list, joined_list_entries, 1);
    printf("\n");
    fflush(stdout);
    st->members = (unsigned)member_list_entries;
    if (st->members > st->max_members) {
        st->max_members = st->members;
    }
    for (i = 0; i < left_list_entries; i++) {
        if ((left_list[i].nodeid == st->nodeid) && (left_list[i].pid == st->pid)) {
            st->left_self = 1;
            printf("INFO this process has left group ");
            tc_print_name(group_name);
            printf("\n");
            if (st->in_group) {
                /* Removed, not a leave of ours: sending would only fail with
                 * CS_ERR_NOT_EXIST, so lines wait for a JOIN instead. */
                st->in_group = 0;
                printf("INFO removed from the group (%s): lines are not sent until JOIN\n",
                       tc_reason_name(left_list[i].reason));
            }
            fflush(stdout);
        }
    }
}

static void tc_totem_confchg(cpg_handle_t handle, struct cpg_ring_id ring_id,
                             uint32_t member_list_entries, const uint32_t *member_list)
{
    uint32_t i;

    (void)handle;
    printf("TOTEM ring=" CS_PRI_RING_ID " members=[", ring_id.nodeid, ring_id.seq);
    for (i = 0; i < member_list_entries; i++) {
        printf("%s%" PRIu32, (i > 0) ? " " : "", member_list[i]);
    }
    printf("]\n");
    fflush(stdout);
}

/* ---- CPG operations with bounded CS_ERR_TRY_AGAIN retries ------------------- */

static cs_error_t tc_dispatch(tc_state_t *st)
{
    cs_error_t err = cpg_dispatch(st->handle, CS_DISPATCH_ALL);

    if (err != CS_OK) {
        tc_report("cpg_dispatch", err);
    }
    return err;
}

static cs_error_t tc_open(tc_state_t *st)
{
    cpg_model_v1_data_t model = {
        .model                = CPG_MODEL_V1,
        .cpg_deliver_fn       = tc_deliver,
        .cpg_confchg_fn       = tc_confchg,
        .cpg_totem_confchg_fn = tc_totem_confchg,
        .flags = st->opts->initial_totem ? CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF : 0,
    };
    cs_error_t err;
    int tries = 0;

    do {
        err = cpg_model_initialize(&st->handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, st);
    } while (tc_again(err, &tries));
    if (err != CS_OK) {
        tc_report("cpg_model_initialize", err);
        return err;
    }
    st->have_handle = 1;
    st->ever_joined = 0;
    st->in_group    = 0;
    st->left_self   = 0;
    err = cpg_fd_get(st->handle, &st->fd);
    if (err != CS_OK) {
        tc_report("cpg_fd_get", err);
    }
    return err;
}

static void tc_close(tc_state_t *st)
{
    cs_error_t err;

    if (!st->have_handle) {
        return;
    }
    err = cpg_finalize(st->handle);
    if (err != CS_OK) {
        tc_report("cpg_finalize", err);
    }
    st->have_handle = 0;
}

static cs_error_t tc_local_get(tc_state_t *st)
{
    cs_error_t err;
    int tries = 0;

    do {
        err = cpg_local_get(st->handle, &st->nodeid);
    } while (tc_again(err, &tries));
    if (err != CS_OK) {
        tc_report("cpg_local_get", err);
        return err;
    }
    printf("LOCAL nodeid=" CS_PRI_NODE_ID "\n", st->nodeid);
    fflush(stdout);
    return CS_OK;
}

static cs_error_t tc_print_members(tc_state_t *st)
{
    static struct cpg_address list[TC_MEMBERS_BUF];
    int i, n = TC_MEMBERS_BUF, tries = 0;
    cs_error_t err;

    do {
        n   = TC_MEMBERS_BUF;
        err = cpg_membership_get(st->handle, &st->group, list, &n);
    } while (tc_again(err, &tries));
    if (err != CS_OK) {
        tc_report("cpg_membership_get", err);
        return err;
    }
    if ((n < 0) || (n > TC_MEMBERS_BUF)) {
        fprintf(stderr, "ucx_cpg_testcpg: cpg_membership_get returned %d entries\n", n);
        return CS_ERR_LIBRARY;
    }
    printf("MEMBERS group=");
    tc_print_name(&st->group);
    printf(" count=%d", n);
    for (i = 0; i < n; i++) {
        printf(" %" PRIu32 "/%" PRIu32, list[i].nodeid, list[i].pid);
    }
    printf("\n");
    fflush(stdout);
    return CS_OK;
}

static cs_error_t tc_join(tc_state_t *st)
{
    cs_error_t err;
    int tries = 0;

    do {
        err = cpg_join(st->handle, &st->group);
    } while (tc_again(err, &tries));
    if (err != CS_OK) {
        tc_report("cpg_join", err);
        return err;
    }
    st->pid         = (uint32_t)getpid();   /* the pid the join recorded */
    st->in_group    = 1;
    st->ever_joined = 1;
    st->left_self   = 0;
    printf("INFO joined group ");
    tc_print_name(&st->group);
    printf(" as " CS_PRI_NODE_ID "/%" PRIu32 "\n", st->nodeid, st->pid);
    fflush(stdout);
    return CS_OK;
}

static cs_error_t tc_leave(tc_state_t *st)
{
    cs_error_t err;
    int tries = 0;

    do {
        err = cpg_leave(st->handle, &st->group);
    } while (tc_again(err, &tries));
    if (err != CS_OK) {
        tc_report("cpg_leave", err);
        return err;
    }
    st->in_group = 0;
    return CS_OK;
}

/* Multicasts one message; on CS_ERR_TRY_AGAIN dispatches, sleeps and retries. */
static cs_error_t tc_send(tc_state_t *st, const void *buf, size_t len)
{
    struct iovec iov = {(void *)buf, len};
    cs_error_t err;
    int tries = 0;

    for (;;) {
        err = cpg_mcast_joined(st->handle, CPG_TYPE_AGREED, &iov, 1);
        if ((err != CS_ERR_TRY_AGAIN) || (++tries > TC_RETRY_MAX)) {
            break;
        }
        if (tc_dispatch(st) != CS_OK) {
            return CS_ERR_LIBRARY;
        }
        tc_sleep_ms(TC_RETRY_SLEEP_MS);
    }
    if (err != CS_OK) {
        tc_report("cpg_mcast_joined", err);
    }
    return err;
}

/*
 * Polls the CPG fd (and stdin if wanted) until timeout_ms (-1 = forever);
 * dispatches CPG events. Returns 1 if stdin is readable, 0 otherwise, -1 on
 * error.
 */
static int tc_poll_once(tc_state_t *st, int with_stdin, int timeout_ms)
{
    struct pollfd pfd[2] = {{st->fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int n = poll(pfd, with_stdin ? 2 : 1, timeout_ms);

    if (n < 0) {
        if (errno == EINTR) {
            return 0;
        }
        perror("ucx_cpg_testcpg: poll");
        return -1;
    }
    if ((n > 0) && (pfd[0].revents != 0)) {
        if (tc_dispatch(st) != CS_OK) {
            return -1;
        }
    }
    return (with_stdin && (pfd[1].revents != 0)) ? 1 : 0;
}

/* Dispatches until *flag becomes nonzero or the deadline (ms, monotonic) passes. */
static int tc_wait_for(tc_state_t *st, const int *flag, int64_t deadline_ms, const char *what)
{
    while (!*flag) {
        int64_t left = deadline_ms - tc_now_ms();

        if (left <= 0) {
            fprintf(stderr, "ucx_cpg_testcpg: timeout waiting for %s\n", what);
            return -1;
        }
        if (tc_poll_once(st, 0, (int)((left > 100) ? 100 : left)) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Leaves (if still in the group) and waits for the own leave confchg. */
static int tc_leave_and_wait(tc_state_t *st, int64_t deadline_ms)
{
    if (st->in_group) {
        if (tc_leave(st) != CS_OK) {
            return -1;
        }
    }
    if (!st->ever_joined) {
        return 0;
    }
    return tc_wait_for(st, &st->left_self, deadline_ms, "the own leave");
}

/* ---- interactive mode ---------------------------------------------------------- */

static int tc_switch_group(tc_state_t *st, const char *name)
{
    struct cpg_name next;

    if (tc_set_name(&next, name, st->opts->count_nul) != 0) {
        return 0;   /* reported; stay where we are */
    }
    if (st->ever_joined) {
        /* corosync 3.1.7 cannot join again on a handle that has left: new handle */
        if (tc_leave_and_wait(st, tc_now_ms() + TC_LEAVE_WAIT_MS) != 0) {
            return -1;
        }
        tc_close(st);
        if (tc_open(st) != CS_OK) {
            return -1;
        }
    }
    st->group = next;
    return (tc_join(st) == CS_OK) ? 0 : -1;
}

/* Handles one stdin line. Returns 1 to exit, 0 to go on, -1 on error. */
static int tc_handle_line(tc_state_t *st, const char *line)
{
    if (strcmp(line, "EXIT") == 0) {
        return 1;
    }
    if (strcmp(line, "LEAVE") == 0) {
        if (!st->in_group) {
            printf("INFO not in a group\n");
            fflush(stdout);
            return 0;
        }
        return (tc_leave(st) == CS_OK) ? 0 : -1;
    }
    if (strcmp(line, "MEMBERS") == 0) {
        return (tc_print_members(st) == CS_OK) ? 0 : -1;
    }
    if ((strncmp(line, "JOIN ", 5) == 0) && (line[5] != '\0')) {
        return tc_switch_group(st, line + 5);
    }
    if (!st->in_group) {
        printf("INFO not in a group: line not sent\n");
        fflush(stdout);
        return 0;
    }
    return (tc_send(st, line, strlen(line) + 1) == CS_OK) ? 0 : -1;
}

/* Reads what stdin has and handles every complete line. 1 = exit, -1 = error. */
static int tc_read_stdin(tc_state_t *st)
{
    ssize_t n = read(STDIN_FILENO, st->line + st->line_len, TC_LINE_MAX - st->line_len);
    size_t start = 0, i;
    int rc = 0;

    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            return 0;
        }
        perror("ucx_cpg_testcpg: read stdin");
        return -1;
    }
    if (n == 0) {
        st->stdin_open = 0;   /* end of file: a last partial line, then EXIT */
        if (st->line_len > 0) {
            st->line[st->line_len] = '\0';
            rc = tc_handle_line(st, st->line);
        }
        return (rc == 0) ? 1 : rc;
    }
    st->line_len += (size_t)n;
    for (i = 0; (i < st->line_len) && (rc == 0); i++) {
        if (st->line[i] == '\n') {
            st->line[i] = '\0';
            rc          = tc_handle_line(st, st->line + start);
            start       = i + 1;
        }
    }
    if ((rc == 0) && (start == 0) && (st->line_len == TC_LINE_MAX)) {
        st->line[TC_LINE_MAX] = '\0';   /* an over-long line goes out as it is */
        rc    = tc_handle_line(st, st->line);
        start = TC_LINE_MAX;
    }
    memmove(st->line, st->line + start, st->line_len - start);
    st->line_len -= start;
    return rc;
}

static int tc_interactive(tc_state_t *st)
{
    int rc = 0;

    printf("INFO type lines to multicast them; EXIT, LEAVE, JOIN <name>, MEMBERS are commands\n");
    fflush(stdout);
    st->stdin_open = 1;
    while (rc == 0) {
        rc = tc_poll_once(st, st->stdin_open, -1);
        if (rc == 1) {
            rc = tc_read_stdin(st);
        }
    }
    if (rc < 0) {
        return TC_EXIT_FAIL;
    }
    if (tc_leave_and_wait(st, tc_now_ms() + TC_LEAVE_WAIT_MS) != 0) {
        return TC_EXIT_FAIL;
    }
    return TC_EXIT_OK;
}

/* ---- -n mode ------------------------------------------------------------------------ */

static int tc_wait_members(tc_state_t *st, int64_t deadline_ms)
{
    /* "has had": a fast peer may already have left again */
    while (st->max_members < st->opts->wait_members) {
        int64_t left = deadline_ms - tc_now_ms();

        if (left <= 0) {
            fprintf(stderr, "ucx_cpg_testcpg: timeout: %u of %u members\n", st->members,
                    st->opts->wait_members);
            return -1;
        }
        if (tc_poll_once(st, 0, (int)((left > 100) ? 100 : left)) < 0) {
            return -1;
        }
    }
    return 0;
}

static int tc_count_mode(tc_state_t *st)
{
    int64_t deadline = tc_now_ms() + (int64_t)st->opts->timeout_s * 1000;
    char msg[128];
    long i;

    if (tc_wait_members(st, deadline) != 0) {
        return TC_EXIT_FAIL;
    }
    for (i = 1; i <= st->opts->count; i++) {
        int len = snprintf(msg, sizeof(msg), "message %" PRIu32 " %ld/%ld", st->pid, i,
                           st->opts->count);

        if (tc_send(st, msg, (size_t)len + 1) != CS_OK) {
            return TC_EXIT_FAIL;
        }
        if ((i % 64) == 0 && tc_poll_once(st, 0, 0) < 0) {
            return TC_EXIT_FAIL;
        }
    }
    while (st->own_delivered < st->opts->count) {
        int64_t left = deadline - tc_now_ms();

        if (left <= 0) {
            fprintf(stderr, "ucx_cpg_testcpg: timeout: %ld of %ld own messages delivered\n",
                    st->own_delivered, st->opts->count);
            return TC_EXIT_FAIL;
        }
        if (tc_poll_once(st, 0, (int)((left > 100) ? 100 : left)) < 0) {
            return TC_EXIT_FAIL;
        }
    }
    if (tc_leave_and_wait(st, deadline) != 0) {
        return TC_EXIT_FAIL;
    }
    printf("DONE sent=%ld own_delivered=%ld errors=%d\n", st->opts->count, st->own_delivered,
           st->data_error);
    fflush(stdout);
    return st->data_error ? TC_EXIT_FAIL : TC_EXIT_OK;
}

/* ---- main ------------------------------------------------------------------------------ */

static void tc_usage(FILE *stream)
{
    fprintf(stream,
            "usage: ucx_cpg_testcpg [-i] [-z] [-n COUNT [-w MEMBERS] [-T SEC]] [GROUP]\n"
            "  GROUP       group to join (default \"GROUP\", length 5: the NUL is not counted)\n"
            "  -i          no CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF flag\n"
            "  -z          count the terminating NUL in the name length (as corosync's\n"
            "              testcpg, whose \"GROUP\" has length 6)\n"
            "  -n COUNT    non-interactive: send COUNT numbered messages, wait until all\n"
            "              came back in order, leave, exit 0\n"
            "  -w MEMBERS  with -n: wait until the group has had MEMBERS members before sending\n"
            "  -T SEC      with -n: time limit of the whole run (default 60)\n"
            "  -h          this help\n"
            "Interactive: each stdin line is multicast (text + NUL); EXIT leaves and exits,\n"
            "LEAVE leaves, JOIN <name> switches groups, MEMBERS prints the membership.\n"
            "Exit status: 0 ok, 1 CPG error, data error or timeout, 2 usage.\n");
}

static int tc_parse_args(int argc, char **argv, tc_opts_t *opts)
{
    unsigned long v;
    int opt, shaped = 0;                 /* -w or -T given */

    opts->initial_totem = 1;
    opts->count_nul     = 0;
    opts->count         = -1;
    opts->wait_members  = 0;
    opts->timeout_s     = 60;
    opts->group         = TC_DEFAULT_GROUP;
    while ((opt = getopt(argc, argv, "izn:w:T:h")) != -1) {
        switch (opt) {
        case 'i': opts->initial_totem = 0; break;
        case 'z': opts->count_nul = 1; break;
        case 'n':
            if (contrib_parse_ulong(optarg, 0, 100000000ul, &v) != 0) {
                return -1;
            }
            opts->count = (long)v;
            break;
        case 'w':
            if (contrib_parse_ulong(optarg, 0, 100000ul, &v) != 0) {
                return -1;
            }
            opts->wait_members = (unsigned)v;
            shaped = 1;
            break;
        case 'T':
            if ((contrib_parse_ulong(optarg, 0, 86400ul, &v) != 0) || (v == 0)) {
                return -1;
            }
            opts->timeout_s = (unsigned)v;
            shaped = 1;
            break;
        case 'h': tc_usage(stdout); exit(TC_EXIT_OK);
        default: return -1;
        }
    }
    if (optind < argc) {
        opts->group = argv[optind++];
    }
    /* -w and -T shape the counted run of -n; alone they would be ignored */
    if ((opts->count < 0) && shaped) {
        return -1;
    }
    return (optind == argc) ? 0 : -1;
}

int main(int argc, char **argv)
{
    static tc_state_t st;
    tc_opts_t opts;
    int rc;

    if (tc_parse_args(argc, argv, &opts) != 0) {
        tc_usage(stderr);
        return TC_EXIT_USAGE;
    }
    st.opts = &opts;
    if (tc_set_name(&st.group, opts.group, opts.count_nul) != 0) {
        return TC_EXIT_USAGE;
    }
    if ((tc_open(&st) != CS_OK) || (tc_local_get(&st) != CS_OK) ||
        (tc_print_members(&st) != CS_OK) || (tc_join(&st) != CS_OK)) {
        tc_close(&st);
        return TC_EXIT_FAIL;
    }
    rc = (opts.count >= 0) ? tc_count_mode(&st) : tc_interactive(&st);
    tc_close(&st);
    return rc;
}
