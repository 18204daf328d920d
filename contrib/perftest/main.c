/*
 * main.c - ucx_cpg_perftest: which mode, CPU pinning, and the server and
 * client sessions around the tests.
 *
 *   ucx_cpg_perftest [options]                  server: serves one client, then exits
 *   ucx_cpg_perftest HOST -t TEST [options]     client: runs TEST with HOST's server
 *   ucx_cpg_perftest -N MEMBERS -t TEST [...]   local: a group of MEMBERS processes here
 *
 * As with ucx_perftest, the client decides the test and prints the
 * results; the server takes everything from the client's HELLO. The two
 * meet through the control channel (control.c) and then in the ucx_cpg
 * domain: the server tells its domain in WELCOME, and a client whose
 * UCX_CPG_DOMAIN is not set adopts it, before it first touches the
 * library. Usage: pt_usage in options.c; everything else: docs/perftest.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PT_CONNECT_RETRY_MS 3000u    /* a client may start just before its server */

static uint64_t pt_start_ns;         /* when the program started (for -T) */

uint64_t pt_deadline(const pt_opts_t *o)
{
    return (o->timeout_s == 0) ? 0 : pt_start_ns + (uint64_t)o->timeout_s * 1000000000ull;
}

void pt_error_set(pt_error_t *e, int status, const char *fmt, ...)
{
    va_list ap;

    if (e->status != PT_EXIT_OK) {
        return;                       /* the first error is the one to tell */
    }
    e->status = status;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
}

int pt_pin_cpus(const int *cpus, unsigned ncpus, char *err, size_t errlen)
{
    cpu_set_t set;
    unsigned i;

    CPU_ZERO(&set);
    for (i = 0; i < ncpus; ++i) {
        CPU_SET(cpus[i], &set);
    }
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        snprintf(err, errlen, "cannot pin to CPU%s %d%s: %s", (ncpus > 1) ? "s" : "", cpus[0],
                 (ncpus > 1) ? ",..." : "", strerror(errno));
        return -1;
    }
    return 0;
}

/* The domain settings a client must share with its server. */
static const char *pt_env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return ((v != NULL) && (v[0] != '\0')) ? v : dflt;
}

void pt_welcome_init(pt_msg_t *m)
{
    pt_msg_init(m, "WELCOME");
    pt_msg_set_u64(m, "version", PT_PROTO_VERSION);
    pt_msg_set(m, "domain", pt_env_or("UCX_CPG_DOMAIN", "default"));
    pt_msg_set(m, "registry", pt_env_or("UCX_CPG_REGISTRY_DIR", ""));
    pt_msg_set_u64(m, "pid", (uint64_t)getpid());
}

/* A client without its own setting takes the server's; different settings
 * mean the two would never meet. */
static int pt_adopt(const char *name, const char *server_value, const char *dflt, char *err,
                    size_t errlen)
{
    const char *mine = getenv(name);

    if ((mine == NULL) || (mine[0] == '\0')) {
        if ((server_value[0] != '\0') && (strcmp(server_value, dflt) != 0)) {
            setenv(name, server_value, 1);
        }
        return 0;
    }
    if (strcmp(mine, (server_value[0] != '\0') ? server_value : dflt) != 0) {
        snprintf(err, errlen, "the server uses %s=%s, this client %s: set the same value "
                 "or leave it unset here", name, (server_value[0] != '\0') ? server_value : dflt,
                 mine);
        return -1;
    }
    return 0;
}

/* --- server ----------------------------------------------------------------------- */

static int pt_server(pt_opts_t *o)
{
    FILE *info = (o->output == PT_OUT_TABLE) ? stdout : stderr;
    pt_error_t e = {PT_EXIT_OK, ""};
    char err[256], group[PT_NAME_MAX];
    pt_msg_t hello, welcome;
    pt_opts_t so = *o;
    unsigned port;
    pt_conn_t c;
    int lfd, ret;

    lfd = pt_control_listen(o->port, err, sizeof(err));
    if (lfd < 0) {
        fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        return PT_EXIT_SETUP;
    }
    if (pt_control_port(lfd, &port) != 0) {
        port = o->port;
    }
    fprintf(info, "Waiting for connection on 127.0.0.1:%u...\n", port);
    fflush(info);
    ret = pt_control_accept(lfd, &c, pt_deadline(o), err, sizeof(err));
    close(lfd);
    if (ret != 0) {
        fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        return (ret == -2) ? PT_EXIT_TIMEOUT : PT_EXIT_SETUP;
    }
    fprintf(info, "Accepted connection from %s\n", c.peer);
    fflush(info);
    ret = pt_control_recv(&c, &hello, pt_deadline(o));
    if ((ret != 0) || (pt_hello_to_opts(&hello, &so, group, sizeof(group), err,
                                        sizeof(err)) != 0)) {
        if (ret != 0) {
            snprintf(err, sizeof(err), "no HELLO from the client");
        }
        pt_control_send_error(&c, err);
        fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        pt_control_close(&c);
        return PT_EXIT_SETUP;
    }
    fprintf(info, "Test: %s, %u size(s) from %zu bytes, %llu iterations\n",
            pt_tests[so.test].name, so.nsizes, so.sizes[0], (unsigned long long)so.iters);
    fflush(info);
    pt_welcome_init(&welcome);
    if (pt_tests[so.test].flags & PT_TF_RSM) {
#ifdef PT_CPG_ONLY
        pt_error_set(&e, PT_EXIT_SETUP, "this build of ucx_cpg_perftest has the CPG tests only");
        pt_control_send_error(&c, e.text);
        ret = -1;
#else
        ret = pt_rsm_server(&so, &c, &welcome, &e);
#endif
    } else {
        ret = pt_cpg_server(&so, &c, &welcome, group, &e);
    }
    pt_control_close(&c);
    if (ret != 0) {
        fprintf(stderr, "ucx_cpg_perftest: %s\n", e.text);
        return (e.status != PT_EXIT_OK) ? e.status : PT_EXIT_FAIL;
    }
    return PT_EXIT_OK;
}

/* --- client ------------------------------------------------------------------------ */

static int pt_client(pt_opts_t *o)
{
    pt_error_t e = {PT_EXIT_OK, ""};
    char err[300], group[PT_NAME_MAX];
    const char *domain, *registry;
    pt_msg_t hello, welcome;
    pt_report_t rep;
    pt_conn_t c;
    int ret;

    ret = pt_host_is_local(o->host, err, sizeof(err));
    if (ret != 1) {
        if (ret == 0) {
            fprintf(stderr, "ucx_cpg_perftest: '%s' is not this host: the server and the "
                    "client meet in this host's registry and talk over the loopback; run "
                    "both on the same host (localhost)\n", o->host);
        } else {
            fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        }
        return PT_EXIT_USAGE;
    }
    if (pt_control_connect(o->port, PT_CONNECT_RETRY_MS, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        return PT_EXIT_SETUP;
    }
    snprintf(group, sizeof(group), "ucx_cpg_perftest.%d", (int)getpid());
    pt_hello_from_opts(o, group, &hello);
    if ((pt_control_send(&c, &hello) != 0) ||
        ((ret = pt_control_recv(&c, &welcome, pt_deadline(o))) != 0)) {
        fprintf(stderr, "ucx_cpg_perftest: the server did not answer%s\n",
                (ret == -2) ? " within the time limit" : "");
        pt_control_close(&c);
        return (ret == -2) ? PT_EXIT_TIMEOUT : PT_EXIT_SETUP;
    }
    if (strcmp(welcome.verb, "WELCOME") != 0) {
        fprintf(stderr, "ucx_cpg_perftest: the server refused: %s\n",
                (pt_msg_get(&welcome, "msg") != NULL) ? pt_msg_get(&welcome, "msg") : welcome.verb);
        pt_control_close(&c);
        return PT_EXIT_SETUP;
    }
    domain   = pt_msg_get(&welcome, "domain");
    registry = pt_msg_get(&welcome, "registry");
    if ((domain == NULL) || (registry == NULL) ||
        (pt_adopt("UCX_CPG_DOMAIN", domain, "default", err, sizeof(err)) != 0) ||
        (pt_adopt("UCX_CPG_REGISTRY_DIR", registry, "", err, sizeof(err)) != 0)) {
        if ((domain == NULL) || (registry == NULL)) {
            snprintf(err, sizeof(err), "malformed WELCOME from the server");
        }
        fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        pt_control_send_error(&c, err);
        pt_control_close(&c);
        return PT_EXIT_SETUP;
    }
    pt_report_init(&rep, stdout, o, "client");
    pt_report_begin(&rep, o);
    if (pt_tests[o->test].flags & PT_TF_RSM) {
#ifdef PT_CPG_ONLY
        pt_error_set(&e, PT_EXIT_USAGE, "this build of ucx_cpg_perftest has the CPG tests only");
        pt_control_send_error(&c, e.text);
        ret = -1;
#else
        ret = pt_rsm_client(o, &c, &welcome, &rep, &e);
#endif
    } else {
        ret = pt_cpg_client(o, &c, group, &rep, &e);
    }
    pt_control_close(&c);
    if ((ret != 0) && (e.status == PT_EXIT_OK)) {
        pt_error_set(&e, PT_EXIT_FAIL, "the test failed");
    }
    pt_report_end(&rep, e.status, (ret != 0) ? e.text : NULL);
    if (ret != 0) {
        fprintf(stderr, "ucx_cpg_perftest: %s\n", e.text);
        return e.status;
    }
    return PT_EXIT_OK;
}

int main(int argc, char **argv)
{
    char err[300];
    pt_opts_t o;

    pt_start_ns = pt_clock_ns();
    switch (pt_opts_parse(argc, argv, &o, err, sizeof(err))) {
    case PT_PARSE_HELP:
        pt_usage(stdout);
        return PT_EXIT_OK;
    case PT_PARSE_ERROR:
        fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        pt_usage(stderr);
        return PT_EXIT_USAGE;
    case PT_PARSE_OK:
        break;
    }
#ifdef PT_CPG_ONLY
    if ((o.test >= 0) && (pt_tests[o.test].flags & PT_TF_RSM)) {
        fprintf(stderr, "ucx_cpg_perftest: this build has the CPG tests only (built with "
                "-DPT_CPG_ONLY against libcpg)\n");
        return PT_EXIT_USAGE;
    }
#endif
    signal(SIGPIPE, SIG_IGN);
    pt_clock_init();
    if ((o.mode != PT_MODE_LOCAL) && (o.mode != PT_MODE_MEMBER) && (o.ncpus > 0) &&
        (pt_pin_cpus(o.cpus, o.ncpus, err, sizeof(err)) != 0)) {
        fprintf(stderr, "ucx_cpg_perftest: %s\n", err);
        return PT_EXIT_SETUP;
    }
    switch (o.mode) {
    case PT_MODE_SERVER:
        return pt_server(&o);
    case PT_MODE_CLIENT:
        return pt_client(&o);
    case PT_MODE_LOCAL:
        return pt_local_run(&o, argc, argv);
    case PT_MODE_MEMBER:
        return pt_member_run(&o);
    }
    return PT_EXIT_USAGE;
}
