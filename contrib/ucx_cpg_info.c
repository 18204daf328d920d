/*
 * ucx_cpg_info - what ucx_cpg is and what it sees.
 *
 * Prints the version, the build configuration, the effective configuration
 * (with where each value came from), the UCX version and transports, and the
 * domain as this process sees it: every peer with its node id, pid, state and
 * the UCX transports used to reach it. With -w N it waits until N other
 * processes are in the domain, which is the quickest way to watch several
 * terminals find each other.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "core/config.h"
#include "core/log.h"
#include "core/proc.h"
#include "ucx_cpg.h"

enum { INFO_EXIT_OK = 0, INFO_EXIT_TIMEOUT = 1, INFO_EXIT_USAGE = 2, INFO_EXIT_INIT = 3 };

typedef struct info_opts {
    int      wait_peers;    /* -w: other processes to wait for, -1 = don't wait */
    unsigned timeout_s;     /* -t */
    unsigned linger_ms;     /* -l */
    int      config_only;   /* -c */
} info_opts_t;

static void info_usage(FILE *stream)
{
    fprintf(stream,
            "usage: ucx_cpg_info [-c] [-w N [-t SEC] [-l MS]] [-h]\n"
            "  -c       print version and configuration only; do not join the domain\n"
            "  -w N     wait until N other processes are in the domain, then print them\n"
            "  -t SEC   give up waiting after SEC seconds (default 30; exit status 1)\n"
            "  -l MS    stay in the domain MS milliseconds after printing (default 1000\n"
            "           with -w, so that processes started together all see each other)\n"
            "  -h       this help\n"
            "Configuration: UCX_CPG_* environment variables and UCX_CPG_CONFIG\n"
            "(default /etc/ucx_cpg.conf); see the README.\n");
}

static int info_parse_uint(const char *text, unsigned max, unsigned *value_p)
{
    char *end;
    unsigned long v;

    if ((text[0] < '0') || (text[0] > '9')) {
        return -1;
    }
    v = strtoul(text, &end, 10);
    if ((*end != '\0') || (v > max)) {
        return -1;
    }
    *value_p = (unsigned)v;
    return 0;
}

static int info_parse_args(int argc, char **argv, info_opts_t *opts)
{
    unsigned value;
    int c, linger_set = 0;

    opts->wait_peers  = -1;
    opts->timeout_s   = 30;
    opts->linger_ms   = 0;
    opts->config_only = 0;
    while ((c = getopt(argc, argv, "cw:t:l:h")) != -1) {
        switch (c) {
        case 'c':
            opts->config_only = 1;
            break;
        case 'w':
            if (info_parse_uint(optarg, 1023, &value) != 0) {
                fprintf(stderr, "ucx_cpg_info: -w expects a number of peers in 0..1023\n");
                return -1;
            }
            opts->wait_peers = (int)value;
            break;
        case 't':
            if (info_parse_uint(optarg, 86400, &opts->timeout_s) != 0) {
                fprintf(stderr, "ucx_cpg_info: -t expects seconds in 0..86400\n");
                return -1;
            }
            break;
        case 'l':
            if (info_parse_uint(optarg, 3600000, &opts->linger_ms) != 0) {
                fprintf(stderr, "ucx_cpg_info: -l expects milliseconds in 0..3600000\n");
                return -1;
            }
            linger_set = 1;
            break;
        case 'h':
            info_usage(stdout);
            exit(INFO_EXIT_OK);
        default:
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ucx_cpg_info: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if ((opts->wait_peers >= 0) && !linger_set) {
        opts->linger_ms = 1000;
    }
    return 0;
}

static void info_print_header(const ucpg_config_t *config)
{
    unsigned major, minor, release;

    ucp_get_version(&major, &minor, &release);
    printf("ucx_cpg %s\n", ucx_cpg_version());
    printf("  build:         %s\n", ucx_cpg_build_config());
    printf("  configured:    %s\n", UCPG_CONFIGURE_ARGS);
    printf("  UCX:           %u.%u.%u (compiled against %d.%d)\n", major, minor, release,
           UCP_API_MAJOR, UCP_API_MINOR);
    printf("  UCX_TLS:       %s\n", getenv("UCX_TLS") ? getenv("UCX_TLS") : "(default: all)");
    printf("\nconfiguration (file: %s):\n",
           config->config_file[0] ? config->config_file : "none");
    ucpg_config_print(config, stdout);
}

/*
 * The transports UCX picked for an endpoint, from ucp_ep_print_info's lane
 * lines ("lane[0]:  2:sysv/memory.0 md[2] ... am am_bw#0"): "sysv/memory(am)".
 */
static void info_ep_transports(ucp_ep_h ep, char *out, size_t len)
{
    char *text = NULL, *line, *save = NULL, *p, *tl, *uses;
    size_t size = 0, used = 0;
    FILE *mem;

    out[0] = '\0';
    mem = open_memstream(&text, &size);
    if (mem == NULL) {
        return;
    }
    ucp_ep_print_info(ep, mem);
    fclose(mem);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        p = strstr(line, "lane[");
        if ((p == NULL) || ((p = strstr(p, "]:")) == NULL)) {
            continue;
        }
        tl = strchr(p, ':') + 1;
        tl = strchr(tl, ':');              /* "2:sysv/memory.0" -> after the rsc index */
        if (tl == NULL) {
            continue;
        }
        ++tl;
        tl[strcspn(tl, ". ")] = '\0';
        uses = tl + strlen(tl) + 1;
        uses = strstr(uses, " -> ");
        uses = (uses != NULL) ? strchr(uses + 4, ' ') : NULL;
        while ((uses != NULL) && (*uses == ' ')) {
            ++uses;
        }
        used += (size_t)snprintf(out + used, (used < len) ? len - used : 0, "%s%s(%s)",
                                 used ? " " : "", tl, uses ? uses : "");
    }
    free(text);
}

static void info_print_domain(ucpg_domain_t *d)
{
    const ucpg_config_t *config = ucpg_domain_config(d);
    ucpg_peer_info_t *peers;
    size_t count = 0, total = 0, i;
    ucpg_ep_ref_t *ref;
    char transports[512];
    ucp_ep_h ep;

    peers = calloc(config->max_procs > 1024 ? config->max_procs : 1024, sizeof(*peers));
    if (peers == NULL) {
        return;
    }
    ucpg_domain_peers(d, peers, 1024, &count, &total);
    /* the node id in use: the PMIx boot may have replaced the configured one */
    printf("\ndomain '%s' (boot: %s, node %u, registry: %s/ucx_cpg-%u-%s): %zu process(es)\n",
           config->domain, ucpg_boot_method_name(), ucpg_domain_nodeid(d),
           config->registry_dir, (unsigned)geteuid(), config->domain, total);
    printf("  %-6s %-10s %-8s %-6s %s\n", "peer", "node", "pid", "state", "transports");
    for (i = 0; i < count; ++i) {
        transports[0] = '\0';
        if (ucpg_domain_ep_get(d, peers[i].id, peers[i].uuid, &ep, &ref) == UCPG_OK) {
            info_ep_transports(ep, transports, sizeof(transports));
            ucpg_domain_ep_put(d, ref);
        }
        printf("  %-6u %-10u %-8d %-6s %s%s\n", peers[i].id, peers[i].nodeid,
               (int)peers[i].pid, "up", peers[i].is_self ? "(this process) " : "",
               transports);
    }
    fflush(stdout);
    free(peers);
}

int main(int argc, char **argv)
{
    ucpg_config_t config;
    ucpg_domain_t *d;
    ucpg_status_t status;
    info_opts_t opts;
    int rc = INFO_EXIT_OK;

    if (info_parse_args(argc, argv, &opts) != 0) {
        info_usage(stderr);
        return INFO_EXIT_USAGE;
    }
    if (ucpg_config_load(&config) != UCPG_OK) {
        return INFO_EXIT_INIT;             /* the loader printed what is wrong */
    }
    info_print_header(&config);
    if (opts.config_only) {
        return INFO_EXIT_OK;
    }
    status = ucpg_boot_domain_get(&d);
    if (status != UCPG_OK) {
        fprintf(stderr, "ucx_cpg_info: cannot join the domain: %s\n",
                ucpg_status_string(status));
        return INFO_EXIT_INIT;
    }
    if (opts.wait_peers >= 0) {
        printf("\nwaiting up to %u s for %d other process(es)...\n", opts.timeout_s,
               opts.wait_peers);
        fflush(stdout);
        status = ucpg_domain_wait_peers(d, (unsigned)opts.wait_peers, opts.timeout_s * 1000);
        if (status != UCPG_OK) {
            fprintf(stderr, "ucx_cpg_info: timed out waiting for %d peer(s)\n",
                    opts.wait_peers);
            rc = INFO_EXIT_TIMEOUT;
        }
    }
    info_print_domain(d);
    if (opts.linger_ms > 0) {
        usleep(opts.linger_ms * 1000u);
    }
    ucpg_boot_domain_put(d);
    return rc;
}
