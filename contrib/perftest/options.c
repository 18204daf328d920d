/*
 * options.c - ucx_cpg_perftest's command line: the table of tests, option
 * parsing, defaults and the checks of the combination.
 *
 * The options follow ucx_perftest where it has one (-t -s -n -w -c -p -R -f
 * -v -h -E, the host as the only argument); -N -S -g -o -T -V are ours. A
 * bad command line is reported as one line in err; main prints it with the
 * usage and exits with PT_EXIT_USAGE. Nothing here touches a library, so the
 * unit tests (test/unit/test_perftest_options.c) drive it directly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PT_KIB 1024ull

const pt_test_info_t pt_tests[PT_TEST_COUNT] = {
    [PT_TEST_RSM_PUT_LAT] = {
        "rsm_put_lat",
        "RSM put latency (ping-pong: put, peer polls and puts back; half round trip)",
        PT_TF_RSM | PT_TF_PINGPONG | PT_TF_CLIENT_SEG, 1, PT_MAX_RSM_SIZE, 1000000, 10000},
    [PT_TEST_RSM_GET_LAT] = {
        "rsm_get_lat", "RSM get latency (one synchronous get at a time)",
        PT_TF_RSM, 1, PT_MAX_RSM_SIZE, 1000000, 10000},
    [PT_TEST_RSM_PUT_BW] = {
        "rsm_put_bw", "RSM put bandwidth (back-to-back puts in one explicit barrier)",
        PT_TF_RSM, 1, PT_MAX_RSM_SIZE, 1000000, 10000},
    [PT_TEST_RSM_GET_BW] = {
        "rsm_get_bw", "RSM get bandwidth (back-to-back gets in one explicit barrier)",
        PT_TF_RSM, 1, PT_MAX_RSM_SIZE, 1000000, 10000},
    [PT_TEST_RSM_PUTV_BW] = {
        "rsm_putv_bw", "RSM putv bandwidth (16-entry gather puts in one explicit barrier)",
        PT_TF_RSM, 1, PT_MAX_RSM_SIZE, 1000000, 10000},
    [PT_TEST_RSM_MAP_BW] = {
        "rsm_map_bw", "RSM mapped bandwidth (memcpy into rsm_memseg_import_map's mapping)",
        PT_TF_RSM, 1, PT_MAX_RSM_SIZE, 1000000, 10000},
    [PT_TEST_RSM_SIGNAL_LAT] = {
        "rsm_signal_lat",
        "RSM put + signal latency (ping-pong through rsm_intr_signal_*; half round trip)",
        PT_TF_RSM | PT_TF_PINGPONG | PT_TF_CLIENT_SEG, 0, PT_MAX_RSM_SIZE, 100000, 1000},
    [PT_TEST_CPG_MCAST_LAT] = {
        "cpg_mcast_lat",
        "CPG multicast latency (ping-pong between ranks 0 and 1; half round trip)",
        PT_TF_CPG | PT_TF_PINGPONG, PT_CPG_HDR_SIZE, PT_MAX_CPG_SIZE, 10000, 100},
    [PT_TEST_CPG_MCAST_BW] = {
        "cpg_mcast_bw", "CPG multicast bandwidth (senders flood; slowest member's deliveries)",
        PT_TF_CPG, PT_CPG_HDR_SIZE, PT_MAX_CPG_SIZE, 100000, 1000},
    [PT_TEST_CPG_MCAST_RATE] = {
        "cpg_mcast_rate",
        "CPG multicast message rate (every member sends; slowest member's deliveries)",
        PT_TF_CPG, PT_CPG_HDR_SIZE, PT_MAX_CPG_SIZE, 100000, 1000},
};

int pt_test_find(const char *name)
{
    int t;

    for (t = 0; t < PT_TEST_COUNT; ++t) {
        if (strcmp(name, pt_tests[t].name) == 0) {
            return t;
        }
    }
    return -1;
}

const char *pt_guarantee_name(pt_guarantee_t g)
{
    return (g == PT_GUARANTEE_SAFE) ? "safe" : "agreed";
}

void pt_usage(FILE *stream)
{
    int t;

    fprintf(stream,
        "usage: ucx_cpg_perftest [options]                     server: serve one client\n"
        "       ucx_cpg_perftest HOST -t TEST [options]        client: TEST with HOST's server\n"
        "       ucx_cpg_perftest -N MEMBERS -t TEST [options]  local: a group of MEMBERS here\n"
        "\n"
        "Tests (-t):\n");
    for (t = 0; t < PT_TEST_COUNT; ++t) {
        fprintf(stream, "  %-15s %s\n", pt_tests[t].name, pt_tests[t].title);
    }
    fprintf(stream,
        "\n"
        "Options:\n"
        "  -t TEST      test to run (client and local mode)\n"
        "  -s SIZES     message size in bytes, or a list run in turn: -s 8,4k,64k,1m (8;\n"
        "               suffixes k m g are powers of 1024; at most %u sizes)\n"
        "  -n ITERS     timed iterations per size (rsm: 1000000, rsm_signal_lat 100000,\n"
        "               cpg_mcast_lat 10000, cpg_mcast_bw/rate 100000 per sender)\n"
        "  -w ITERS     warm-up iterations before them (one hundredth of -n's default)\n"
        "  -c CPUS      pin to this CPU list, e.g. 0 or 0,2-3 (local mode: member i gets\n"
        "               the i-th CPU of the list, round robin)\n"
        "  -p PORT      TCP port of the control channel (%u; server: 0 = any free port)\n"
        "  -N MEMBERS   local mode: start MEMBERS group members on this host (CPG tests)\n"
        "  -S SENDERS   CPG bw/rate: ranks 0..SENDERS-1 send (bw: 1, rate: every member)\n"
        "  -g GUARANTEE CPG tests: agreed (default) or safe\n"
        "  -E MODE      wait mode of the CPG tests: poll (busy) or sleep (poll(2) on the\n"
        "               CPG fd); default poll if every process has two CPUs of its own\n"
        "  -o FORMAT    table (default), csv or json\n"
        "  -v           the same as -o csv (ucx_perftest's CSV option)\n"
        "  -f           print only the final numbers\n"
        "  -R RANK      percentile shown as the typical latency (50.0)\n"
        "  -T SEC       time limit of the whole run (default: none); exit status 4\n"
        "  -V           CPG tests: check the body of every message (default: headers of\n"
        "               all, bodies of the warm-up and of every 64th timed message)\n"
        "  -h           this help\n"
        "\n"
        "Server and client must be on the same host (they meet in its registry and talk\n"
        "over the loopback) and in the same ucx_cpg domain: a client without\n"
        "UCX_CPG_DOMAIN takes the server's. MB/s = 2^20 bytes per second, as ucx_perftest.\n"
        "Exit status: 0 ok, 1 test or data error, 2 usage, 3 set-up failure, 4 time limit.\n",
        PT_MAX_SIZES, PT_DEFAULT_PORT);
}

/* --- number parsers --------------------------------------------------------- */

static int pt_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *value_p)
{
    unsigned long long v;
    char *end;

    if ((text == NULL) || !isdigit((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    v     = strtoull(text, &end, 10);
    if ((errno != 0) || (*end != '\0') || (v < min) || (v > max)) {
        return -1;
    }
    *value_p = v;
    return 0;
}

int pt_parse_size(const char *text, uint64_t *value_p)
{
    unsigned long long v, mult = 1;
    char *end;

    if ((text == NULL) || !isdigit((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    v     = strtoull(text, &end, 10);
    if (errno != 0) {
        return -1;
    }
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = PT_KIB; end++; break;
    case 'm': case 'M': mult = PT_KIB * PT_KIB; end++; break;
    case 'g': case 'G': mult = PT_KIB * PT_KIB * PT_KIB; end++; break;
    default: return -1;
    }
    if ((*end != '\0') || ((mult > 1) && (v > ULLONG_MAX / mult))) {
        return -1;
    }
    *value_p = v * mult;
    return 0;
}

int pt_parse_size_list(const char *text, size_t *sizes, unsigned max, unsigned *n_p)
{
    char item[32];
    const char *p = text, *comma;
    unsigned n = 0;
    uint64_t v;

    if ((text == NULL) || (*text == '\0')) {
        return -1;
    }
    for (;;) {
        size_t len;

        comma = strchr(p, ',');
        len   = (comma != NULL) ? (size_t)(comma - p) : strlen(p);
        if ((len == 0) || (len >= sizeof(item)) || (n == max)) {
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if ((pt_parse_size(item, &v) != 0) || (v > SIZE_MAX)) {
            return -1;
        }
        sizes[n++] = (size_t)v;
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    *n_p = n;
    return 0;
}

int pt_parse_cpu_list(const char *text, int *cpus, unsigned max, unsigned *n_p)
{
    char item[32];
    const char *p = text, *comma;
    unsigned n = 0;

    if ((text == NULL) || (*text == '\0')) {
        return -1;
    }
    for (;;) {
        uint64_t lo, hi, c;
        char *dash;
        size_t len;

        comma = strchr(p, ',');
        len   = (comma != NULL) ? (size_t)(comma - p) : strlen(p);
        if ((len == 0) || (len >= sizeof(item))) {
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        dash      = strchr(item, '-');
        if (dash != NULL) {
            *dash = '\0';
            if ((pt_parse_u64(item, 0, CPU_SETSIZE - 1, &lo) != 0) ||
                (pt_parse_u64(dash + 1, 0, CPU_SETSIZE - 1, &hi) != 0) || (hi < lo)) {
                return -1;
            }
        } else if (pt_parse_u64(item, 0, CPU_SETSIZE - 1, &lo) != 0) {
            return -1;
        } else {
            hi = lo;
        }
        for (c = lo; c <= hi; ++c) {
            if (n == max) {
                return -1;
            }
            cpus[n++] = (int)c;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    *n_p = n;
    return 0;
}

/* --- the command line ------------------------------------------------------- */

enum { PT_OPT_MEMBER = 1000, PT_OPT_GROUP, PT_OPT_RESULT_FD };

static const struct option pt_long_options[] = {
    {"member",    required_argument, NULL, PT_OPT_MEMBER},
    {"group",     required_argument, NULL, PT_OPT_GROUP},
    {"result-fd", required_argument, NULL, PT_OPT_RESULT_FD},
    {"help",      no_argument,       NULL, 'h'},
    {NULL, 0, NULL, 0}
};

static pt_parse_status_t pt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static pt_parse_status_t pt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return PT_PARSE_ERROR;
}

unsigned pt_opts_members(const pt_opts_t *o)
{
    return ((o->mode == PT_MODE_LOCAL) || (o->mode == PT_MODE_MEMBER)) ? o->members : 2u;
}

unsigned pt_opts_senders(const pt_opts_t *o)
{
    if (o->senders != 0) {
        return o->senders;
    }
    return (o->test == PT_TEST_CPG_MCAST_RATE) ? pt_opts_members(o) : 1u;
}

/* Busy waiting only pays when nothing else needs the CPU: every member has
 * its own thread and ucx_cpg's progress thread, so two CPUs per member. */
int pt_opts_busy_wait(const pt_opts_t *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    return (o->wait == PT_WAIT_POLL) ||
           ((o->wait == PT_WAIT_AUTO) && (cpus > 0) &&
            (2u * pt_opts_members(o) <= (unsigned)cpus));
}

static void pt_opts_defaults(pt_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->test       = -1;
    o->port       = PT_DEFAULT_PORT;
    o->sizes[0]   = 8;
    o->nsizes     = 1;
    o->percentile = 50.0;
    o->rank       = -1;
    o->result_fd  = -1;
    o->output     = PT_OUT_TABLE;
    o->wait       = PT_WAIT_AUTO;
    o->guarantee  = PT_GUARANTEE_AGREED;
}

/* One option; PT_PARSE_OK or an error in err. */
static pt_parse_status_t pt_opt_one(pt_opts_t *o, int c, const char *arg, char *err,
                                    size_t errlen)
{
    uint64_t v;

    switch (c) {
    case 't':
        if ((o->test = pt_test_find(arg)) < 0) {
            return pt_fail(err, errlen, "unknown test '%s' (see -h for the list)", arg);
        }
        return PT_PARSE_OK;
    case 's':
        if (pt_parse_size_list(arg, o->sizes, PT_MAX_SIZES, &o->nsizes) != 0) {
            return pt_fail(err, errlen, "-s expects sizes like 8 or 8,4k,1m (at most %u): '%s'",
                           PT_MAX_SIZES, arg);
        }
        o->sizes_set = 1;
        return PT_PARSE_OK;
    case 'n':
        if (pt_parse_u64(arg, 1, PT_MAX_ITERS, &o->iters) != 0) {
            return pt_fail(err, errlen, "-n expects 1 .. %llu iterations: '%s'",
                           (unsigned long long)PT_MAX_ITERS, arg);
        }
        o->iters_set = 1;
        return PT_PARSE_OK;
    case 'w':
        if (pt_parse_u64(arg, 0, PT_MAX_ITERS, &o->warmup) != 0) {
            return pt_fail(err, errlen, "-w expects 0 .. %llu iterations: '%s'",
                           (unsigned long long)PT_MAX_ITERS, arg);
        }
        o->warmup_set = 1;
        return PT_PARSE_OK;
    case 'c':
        if (pt_parse_cpu_list(arg, o->cpus, PT_MAX_CPUS, &o->ncpus) != 0) {
            return pt_fail(err, errlen, "-c expects a CPU list like 0 or 0,2-3: '%s'", arg);
        }
        return PT_PARSE_OK;
    case 'p':
        if (pt_parse_u64(arg, 0, 65535, &v) != 0) {
            return pt_fail(err, errlen, "-p expects a TCP port 1 .. 65535 (server: 0 = any "
                           "free port): '%s'", arg);
        }
        o->port = (unsigned)v;
        return PT_PARSE_OK;
    case 'N':
        if (pt_parse_u64(arg, 1, PT_MAX_MEMBERS, &v) != 0) {
            return pt_fail(err, errlen, "-N expects 1 .. %u members: '%s'", PT_MAX_MEMBERS, arg);
        }
        o->members = (unsigned)v;
        return PT_PARSE_OK;
    case 'S':
        if (pt_parse_u64(arg, 1, PT_MAX_MEMBERS, &v) != 0) {
            return pt_fail(err, errlen, "-S expects 1 .. %u senders: '%s'", PT_MAX_MEMBERS, arg);
        }
        o->senders = (unsigned)v;
        return PT_PARSE_OK;
    case 'g':
        if (strcmp(arg, "agreed") == 0) {
            o->guarantee = PT_GUARANTEE_AGREED;
        } else if (strcmp(arg, "safe") == 0) {
            o->guarantee = PT_GUARANTEE_SAFE;
        } else {
            return pt_fail(err, errlen, "-g expects agreed or safe: '%s'", arg);
        }
        o->guarantee_set = 1;
        return PT_PARSE_OK;
    case 'E':
        if (strcmp(arg, "poll") == 0) {
            o->wait = PT_WAIT_POLL;
        } else if (strcmp(arg, "sleep") == 0) {
            o->wait = PT_WAIT_SLEEP;
        } else {
            return pt_fail(err, errlen, "-E expects poll or sleep: '%s'", arg);
        }
        return PT_PARSE_OK;
    case 'o':
        if (strcmp(arg, "table") == 0) {
            o->output = PT_OUT_TABLE;
        } else if (strcmp(arg, "csv") == 0) {
            o->output = PT_OUT_CSV;
        } else if (strcmp(arg, "json") == 0) {
            o->output = PT_OUT_JSON;
        } else {
            return pt_fail(err, errlen, "-o expects table, csv or json: '%s'", arg);
        }
        return PT_PARSE_OK;
    case 'v':
        o->output = PT_OUT_CSV;
        return PT_PARSE_OK;
    case 'f':
        o->final_only = 1;
        return PT_PARSE_OK;
    case 'V':
        o->verify_all = 1;
        return PT_PARSE_OK;
    case 'R': {
        char *end;
        double p;

        errno = 0;
        p     = strtod(arg, &end);
        if ((errno != 0) || (end == arg) || (*end != '\0') || !(p > 0.0) || (p > 100.0)) {
            return pt_fail(err, errlen, "-R expects a percentile rank in (0, 100]: '%s'", arg);
        }
        o->percentile = p;
        return PT_PARSE_OK;
    }
    case 'T':
        if (pt_parse_u64(arg, 0, 7 * 86400, &v) != 0) {
            return pt_fail(err, errlen, "-T expects 0 .. 604800 seconds: '%s'", arg);
        }
        o->timeout_s = (unsigned)v;
        return PT_PARSE_OK;
    case PT_OPT_MEMBER:
        if (pt_parse_u64(arg, 0, PT_MAX_MEMBERS - 1, &v) != 0) {
            return pt_fail(err, errlen, "--member expects a rank: '%s'", arg);
        }
        o->rank = (int)v;
        o->mode = PT_MODE_MEMBER;
        return PT_PARSE_OK;
    case PT_OPT_GROUP:
        if ((arg[0] == '\0') || (strlen(arg) >= sizeof(o->group))) {
            return pt_fail(err, errlen, "--group expects a name of 1 .. %zu bytes",
                           sizeof(o->group) - 1);
        }
        snprintf(o->group, sizeof(o->group), "%s", arg);
        return PT_PARSE_OK;
    case PT_OPT_RESULT_FD:
        if (pt_parse_u64(arg, 0, INT_MAX, &v) != 0) {
            return pt_fail(err, errlen, "--result-fd expects a file descriptor: '%s'", arg);
        }
        o->result_fd = (int)v;
        return PT_PARSE_OK;
    case ':':
        if ((optopt > 0) && (optopt < 128)) {
            return pt_fail(err, errlen, "option -%c needs a value", optopt);
        }
        return pt_fail(err, errlen, "an option needs a value");
    default:
        if (optopt != 0) {
            return pt_fail(err, errlen, "unknown option -%c", optopt);
        }
        return pt_fail(err, errlen, "unknown option");
    }
}

/* The combination of options, once they are all known. */
static pt_parse_status_t pt_opts_check(pt_opts_t *o, char *err, size_t errlen)
{
    const pt_test_info_t *ti;
    unsigned i, members;

    if (o->mode == PT_MODE_SERVER) {
        /* the server takes the test from its client; -t and the like are
         * accepted (ucx_perftest's servers are usually given them) */
        if ((o->members != 0) || (o->senders != 0)) {
            return pt_fail(err, errlen, "-N/-S select local mode: it needs -t TEST");
        }
        return PT_PARSE_OK;
    }
    if ((o->port == 0) && (o->mode == PT_MODE_CLIENT)) {
        return pt_fail(err, errlen, "-p 0 (any free port) is for the server; the client "
                       "needs the port the server printed");
    }
    if (o->test < 0) {
        return pt_fail(err, errlen, "no test given: -t TEST");
    }
    ti = &pt_tests[o->test];
    if (((o->mode == PT_MODE_LOCAL) || (o->mode == PT_MODE_MEMBER)) &&
        !(ti->flags & PT_TF_CPG)) {
        return pt_fail(err, errlen, "local mode (-N) runs the CPG tests; %s needs a server "
                       "(ucx_cpg_perftest) and a client (ucx_cpg_perftest localhost -t %s)",
                       ti->name, ti->name);
    }
    if (o->mode == PT_MODE_MEMBER) {
        if ((o->members == 0) || (o->group[0] == '\0') || (o->result_fd < 0) ||
            (o->rank < 0) || ((unsigned)o->rank >= o->members)) {
            return pt_fail(err, errlen, "--member needs -N, --group, --result-fd and a rank "
                           "below -N (it is for local mode's own use)");
        }
    }
    if (!(ti->flags & PT_TF_CPG)) {
        if (o->guarantee_set) {
            return pt_fail(err, errlen, "-g applies to the CPG tests, not to %s", ti->name);
        }
        if (o->senders != 0) {
            return pt_fail(err, errlen, "-S applies to cpg_mcast_bw and cpg_mcast_rate");
        }
        if (o->wait != PT_WAIT_AUTO) {
            return pt_fail(err, errlen, "-E applies to the CPG tests, not to %s", ti->name);
        }
        if (o->verify_all) {
            return pt_fail(err, errlen, "-V applies to the CPG tests (RSM tests check their "
                           "data before and after the timed loop)");
        }
    }
    members = pt_opts_members(o);
    if ((o->test == PT_TEST_CPG_MCAST_LAT) && (members < 2)) {
        return pt_fail(err, errlen, "cpg_mcast_lat needs at least 2 members (-N 2)");
    }
    if (o->senders != 0) {
        if ((o->test != PT_TEST_CPG_MCAST_BW) && (o->test != PT_TEST_CPG_MCAST_RATE)) {
            return pt_fail(err, errlen, "-S applies to cpg_mcast_bw and cpg_mcast_rate");
        }
        if (o->senders > members) {
            return pt_fail(err, errlen, "-S %u: more senders than the %u members", o->senders,
                           members);
        }
    }
    for (i = 0; i < o->nsizes; ++i) {
        if ((o->sizes[i] < ti->min_size) || ((uint64_t)o->sizes[i] > ti->max_size)) {
            return pt_fail(err, errlen, "-s %zu: %s takes %zu .. %llu bytes%s", o->sizes[i],
                           ti->name, ti->min_size, (unsigned long long)ti->max_size,
                           (ti->flags & PT_TF_CPG) ? " (a message holds an 8-byte header)" : "");
        }
    }
    if (!o->iters_set) {
        o->iters = ti->def_iters;
    }
    if (!o->warmup_set) {
        o->warmup = o->iters_set ? o->iters / 100 : ti->def_warmup;
    }
    if ((ti->flags & PT_TF_CPG) && (o->iters + o->warmup > UINT32_MAX - 2)) {
        return pt_fail(err, errlen, "CPG tests take at most %u iterations (-n plus -w)",
                       UINT32_MAX - 2);
    }
    return PT_PARSE_OK;
}

pt_parse_status_t pt_opts_parse(int argc, char *const argv[], pt_opts_t *o, char *err,
                                size_t errlen)
{
    pt_parse_status_t st;
    int c;

    pt_opts_defaults(o);
    err[0] = '\0';
    optind = 0;          /* glibc: a full re-initialisation (the unit tests parse often) */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":t:s:n:w:c:p:N:S:g:E:o:vfVR:T:h", pt_long_options,
                            NULL)) != -1) {
        if (c == 'h') {
            return PT_PARSE_HELP;
        }
        if ((c == '?') && (optind > 0) && (optind <= argc) && (optopt == 0)) {
            return pt_fail(err, errlen, "unknown option %s", argv[optind - 1]);
        }
        st = pt_opt_one(o, c, optarg, err, errlen);
        if (st != PT_PARSE_OK) {
            return st;
        }
    }
    if (optind < argc) {
        if (argc - optind > 1) {
            return pt_fail(err, errlen, "unexpected argument '%s' (only one host)",
                           argv[optind + 1]);
        }
        if (o->mode == PT_MODE_MEMBER) {
            return pt_fail(err, errlen, "unexpected argument '%s'", argv[optind]);
        }
        if ((argv[optind][0] == '\0') || (strlen(argv[optind]) >= sizeof(o->host))) {
            return pt_fail(err, errlen, "bad host name '%s'", argv[optind]);
        }
        if (o->members != 0) {
            return pt_fail(err, errlen, "-N starts a local group: give no host");
        }
        snprintf(o->host, sizeof(o->host), "%s", argv[optind]);
        o->mode = PT_MODE_CLIENT;
    } else if (o->mode != PT_MODE_MEMBER) {
        o->mode = (o->members != 0) ? PT_MODE_LOCAL : PT_MODE_SERVER;
    }
    return pt_opts_check(o, err, errlen);
}
