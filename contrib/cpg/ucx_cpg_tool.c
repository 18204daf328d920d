/*
 * ucx_cpg_tool - list CPG groups and their members, like corosync-cpgtool.
 *
 *   ucx_cpg_tool [-n] [-e] [-z] [-g GROUP]
 *
 * Uses the public corosync CPG API only (cpg_initialize without callbacks,
 * then cpg_iteration_initialize / cpg_iteration_next / cpg_iteration_finalize),
 * so it builds against corosync's <corosync/cpg.h> (-lcpg) and runs with
 * either corosync's libcpg.so.4 or ucx_cpg's (chosen by LD_LIBRARY_PATH).
 *
 *   (default)   CPG_ITERATION_ALL: every group with every member
 *   -g GROUP    CPG_ITERATION_ONE_GROUP: the members of GROUP only
 *   -n          CPG_ITERATION_NAME_ONLY: group names only
 *   -e          print names escaped: bytes outside ' '..'~' and '\' as \xNN
 *               (default: the name's bytes as they are)
 *   -z          with -g: count a terminating NUL in the name length (corosync's
 *               testcpg does; by default "GROUP" has length 5)
 *
 * Output: one line per group with its name, followed (unless -n) by one line
 * per member, indented by a tab: "<nodeid> <pid>". A group without members
 * does not exist for CPG and is not printed, so -g of an unused name prints
 * nothing and exits 0.
 *
 * Exit status: 0 success, 1 CPG error (the message names the cs_error_t
 * value), 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>

#include "cs_error_name.h"

enum { TOOL_EXIT_OK = 0, TOOL_EXIT_FAIL = 1, TOOL_EXIT_USAGE = 2 };

#define TOOL_RETRY_SLEEP_MS 10
#define TOOL_RETRY_MAX      500   /* x 10 ms: about 5 s of CS_ERR_TRY_AGAIN */

typedef struct tool_opts {
    cpg_iteration_type_t type;
    int                  escape;      /* -e */
    int                  count_nul;   /* -z */
    const char          *group;       /* -g */
} tool_opts_t;

static void tool_report(const char *what, cs_error_t err)
{
    fprintf(stderr, "ucx_cpg_tool: %s: %s (%d)%s\n", what, cpg_cs_error_name(err), (int)err,
            (err == CS_ERR_LIBRARY) ? " - is the CPG service (corosync) running?" : "");
}

/* After CS_ERR_TRY_AGAIN: sleeps and says whether to try again (bounded). */
static int tool_again(cs_error_t err, int *tries_p)
{
    struct timespec ts = {0, TOOL_RETRY_SLEEP_MS * 1000000L};

    if ((err != CS_ERR_TRY_AGAIN) || (++*tries_p > TOOL_RETRY_MAX)) {
        return 0;
    }
    nanosleep(&ts, NULL);
    return 1;
}

static void tool_print_name(const struct cpg_name *name, int escape)
{
    uint32_t i, len = name->length;

    if (len > CPG_MAX_NAME_LENGTH) {
        len = CPG_MAX_NAME_LENGTH;
    }
    if (!escape) {
        fwrite(name->value, 1, len, stdout);
    } else {
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char)name->value[i];

            if ((c < ' ') || (c > '~') || (c == '\\')) {
                printf("\\x%02x", c);
            } else {
                putchar(c);
            }
        }
    }
    putchar('\n');
}

static int tool_same_name(const struct cpg_name *a, const struct cpg_name *b)
{
    return (a->length == b->length) && (a->length <= CPG_MAX_NAME_LENGTH) &&
           (memcmp(a->value, b->value, a->length) == 0);
}

/* Prints what one iteration handle yields. */
static cs_error_t tool_print_iteration(cpg_iteration_handle_t it, const tool_opts_t *opts)
{
    struct cpg_iteration_description_t desc;
    struct cpg_name last;
    int have_last = 0, tries = 0;
    cs_error_t err;

    for (;;) {
        memset(&desc, 0, sizeof(desc));
        err = cpg_iteration_next(it, &desc);
        if (tool_again(err, &tries)) {
            continue;
        }
        tries = 0;
        if (err == CS_ERR_NO_SECTIONS) {
            return CS_OK;   /* the end */
        }
        if (err != CS_OK) {
            tool_report("cpg_iteration_next", err);
            return err;
        }
        if (!have_last || !tool_same_name(&last, &desc.group)) {
            tool_print_name(&desc.group, opts->escape);
            last      = desc.group;
            have_last = 1;
        }
        if (opts->type != CPG_ITERATION_NAME_ONLY) {
            printf("\t%" PRIu32 " %" PRIu32 "\n", desc.nodeid, desc.pid);
        }
    }
}

static int tool_run(const tool_opts_t *opts)
{
    struct cpg_name group, *groupp = NULL;
    cpg_iteration_handle_t it;
    cpg_handle_t handle;
    cs_error_t err;
    int tries = 0, rc = TOOL_EXIT_OK;

    if (opts->group != NULL) {
        size_t len = strlen(opts->group) + (opts->count_nul ? 1 : 0);

        if (len > CPG_MAX_NAME_LENGTH) {
            fprintf(stderr, "ucx_cpg_tool: group name longer than %d bytes\n",
                    CPG_MAX_NAME_LENGTH);
            return TOOL_EXIT_USAGE;
        }
        memset(&group, 0, sizeof(group));
        memcpy(group.value, opts->group, len);
        group.length = (uint32_t)len;
        groupp       = &group;
    }
    do {
        err = cpg_initialize(&handle, NULL);
    } while (tool_again(err, &tries));
    if (err != CS_OK) {
        tool_report("cpg_initialize", err);
        return TOOL_EXIT_FAIL;
    }
    tries = 0;
    do {
        err = cpg_iteration_initialize(handle, opts->type, groupp, &it);
    } while (tool_again(err, &tries));
    if (err != CS_OK) {
        tool_report("cpg_iteration_initialize", err);
        rc = TOOL_EXIT_FAIL;
    } else {
        if (tool_print_iteration(it, opts) != CS_OK) {
            rc = TOOL_EXIT_FAIL;
        }
        err = cpg_iteration_finalize(it);
        if (err != CS_OK) {
            tool_report("cpg_iteration_finalize", err);
            rc = TOOL_EXIT_FAIL;
        }
    }
    err = cpg_finalize(handle);
    if (err != CS_OK) {
        tool_report("cpg_finalize", err);
        rc = TOOL_EXIT_FAIL;
    }
    if ((fflush(stdout) != 0) || ferror(stdout)) {
        perror("ucx_cpg_tool: stdout");
        rc = TOOL_EXIT_FAIL;
    }
    return rc;
}

static void tool_usage(FILE *stream)
{
    fprintf(stream,
            "usage: ucx_cpg_tool [-e] [-n | [-z] -g GROUP]\n"
            "  (default)  every group and its members (CPG_ITERATION_ALL)\n"
            "  -g GROUP   only GROUP (CPG_ITERATION_ONE_GROUP)\n"
            "  -n         group names only (CPG_ITERATION_NAME_ONLY); not with -g\n"
            "  -e         escape names: non-printable bytes and '\\' as \\xNN\n"
            "  -z         with -g: the name length counts a terminating NUL\n"
            "  -h         this help\n"
            "Output: the group name, then one tab-indented \"nodeid pid\" line per member.\n"
            "Exit status: 0 ok, 1 CPG error, 2 usage.\n");
}

int main(int argc, char **argv)
{
    tool_opts_t opts = {CPG_ITERATION_ALL, 0, 0, NULL};
    int names_only = 0, opt;

    while ((opt = getopt(argc, argv, "neg:zh")) != -1) {
        switch (opt) {
        case 'n': names_only = 1; break;
        case 'e': opts.escape = 1; break;
        case 'g': opts.group = optarg; break;
        case 'z': opts.count_nul = 1; break;
        case 'h': tool_usage(stdout); return TOOL_EXIT_OK;
        default: tool_usage(stderr); return TOOL_EXIT_USAGE;
        }
    }
    if ((optind != argc) || (names_only && (opts.group != NULL)) ||
        (opts.count_nul && (opts.group == NULL))) {
        tool_usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (names_only) {
        opts.type = CPG_ITERATION_NAME_ONLY;
    } else if (opts.group != NULL) {
        opts.type = CPG_ITERATION_ONE_GROUP;
    }
    return tool_run(&opts);
}
