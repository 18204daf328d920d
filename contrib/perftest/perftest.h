/*
 * perftest.h - ucx_cpg_perftest: the types shared by its parts.
 *
 * ucx_cpg_perftest measures RSMAPI and CPG the way ucx_perftest measures UCX:
 * the same command line (server: no host; client: a host and -t TEST), the
 * same report columns, the same units. The program is split by concept:
 *
 *   options.c    the command line: tests, sizes, CPU lists, validation
 *   measure.c    the clock (TSC on x86-64) and the meter that turns samples
 *                into ucx_perftest's numbers (typical / average / overall)
 *   report.c     the table, CSV and JSON output
 *   proto.c      the text messages of the control channel and of the result
 *                records members send to the process that reports
 *   control.c    the control channel itself: TCP on the loopback, the check
 *                that a host name means this host, line I/O with deadlines
 *   rsm_tests.c  the RSM tests (server and client sides)
 *   cpg_tests.c  the CPG tests (one group member)
 *   local.c      local mode: starts the members (-N) and gathers results
 *   main.c       mode selection, CPU pinning, the server and client sessions
 *
 * Only the public APIs are used (<rsmapi.h>, <corosync/cpg.h>). Built with
 * -DPT_CPG_ONLY and linked with -lcpg, the same sources give a CPG-only
 * program that runs on corosync's libcpg.so.4 as well as on ucx_cpg's
 * (contrib/bench/compare.sh does this).
 *
 * This header includes neither API header, so that the option, report and
 * protocol parts build and are unit-tested without either library.
 */
#ifndef UCPG_PERFTEST_H
#define UCPG_PERFTEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef PT_VERSION
#define PT_VERSION "unknown"
#endif

/* Exit status of the program. */
enum {
    PT_EXIT_OK      = 0,   /* every test ran and every check passed */
    PT_EXIT_FAIL    = 1,   /* an API call failed, a data check failed, a peer failed */
    PT_EXIT_USAGE   = 2,   /* bad command line (a usage message was printed) */
    PT_EXIT_SETUP   = 3,   /* could not start: library, control channel, peer refused */
    PT_EXIT_TIMEOUT = 4    /* the time limit (-T) ran out */
};

#define PT_DEFAULT_PORT     13338u   /* ucx_perftest's is 13337 */
#define PT_MAX_SIZES        32u      /* entries of a -s list (one phase each) */
#define PT_MAX_CPUS         256u     /* entries of a -c list */
#define PT_MAX_MEMBERS      64u      /* -N */
#define PT_MAX_RSM_SIZE     (1ull << 30)
#define PT_MAX_CPG_SIZE     (64ull << 20)  /* ucx_cpg's default group_max_msg */
#define PT_MAX_ITERS        1000000000000ull
#define PT_CPG_HDR_SIZE     8u       /* smallest CPG message: the header */
#define PT_NAME_MAX         128u     /* group names, host names */
#define PT_MIB              (1024.0 * 1024.0)

/* --- tests ----------------------------------------------------------------- */

typedef enum {
    PT_TEST_RSM_PUT_LAT,
    PT_TEST_RSM_GET_LAT,
    PT_TEST_RSM_PUT_BW,
    PT_TEST_RSM_GET_BW,
    PT_TEST_RSM_PUTV_BW,
    PT_TEST_RSM_MAP_BW,
    PT_TEST_RSM_SIGNAL_LAT,
    PT_TEST_CPG_MCAST_LAT,
    PT_TEST_CPG_MCAST_BW,
    PT_TEST_CPG_MCAST_RATE,
    PT_TEST_COUNT
} pt_test_id_t;

/* pt_test_info_t.flags */
#define PT_TF_RSM       0x1u   /* an RSM test: server and client */
#define PT_TF_CPG       0x2u   /* a CPG test: group members */
#define PT_TF_PINGPONG  0x4u   /* one iteration = a round trip; latency = half of it */
#define PT_TF_CLIENT_SEG 0x8u  /* the client exports a segment too (ping-pong) */

typedef struct pt_test_info {
    const char   *name;          /* as given to -t */
    const char   *title;         /* one line, for the report box and -h */
    unsigned      flags;         /* PT_TF_* */
    size_t        min_size;      /* smallest -s */
    uint64_t      max_size;      /* largest -s */
    uint64_t      def_iters;     /* -n default */
    uint64_t      def_warmup;    /* -w default */
} pt_test_info_t;

/* The table of tests, indexed by pt_test_id_t. */
extern const pt_test_info_t pt_tests[PT_TEST_COUNT];

/* Test id by name, -1 if there is none. */
int pt_test_find(const char *name);

/* --- options --------------------------------------------------------------- */

typedef enum {
    PT_MODE_SERVER,   /* no host, no -N: serve one client */
    PT_MODE_CLIENT,   /* a host: run -t against that host's server */
    PT_MODE_LOCAL,    /* -N: start the members here, report */
    PT_MODE_MEMBER    /* internal (--member): one member started by local mode */
} pt_mode_t;

typedef enum { PT_OUT_TABLE, PT_OUT_CSV, PT_OUT_JSON } pt_output_t;
typedef enum { PT_WAIT_AUTO, PT_WAIT_POLL, PT_WAIT_SLEEP } pt_wait_t;
typedef enum { PT_GUARANTEE_AGREED, PT_GUARANTEE_SAFE } pt_guarantee_t;

typedef struct pt_opts {
    pt_mode_t      mode;
    int            test;                /* pt_test_id_t; -1 = none given */
    char           host[PT_NAME_MAX];   /* client: the server's host */
    unsigned       port;                /* -p */
    size_t         sizes[PT_MAX_SIZES]; /* -s, in the order given */
    unsigned       nsizes;
    uint64_t       iters;               /* -n (0 before defaults are applied) */
    uint64_t       warmup;              /* -w */
    int            iters_set, warmup_set, sizes_set;
    int            cpus[PT_MAX_CPUS];   /* -c, in the order given */
    unsigned       ncpus;
    unsigned       members;             /* -N (0: not local mode) */
    unsigned       senders;             /* -S (0: the test's default) */
    pt_guarantee_t guarantee;           /* -g */
    int            guarantee_set;
    pt_output_t    output;              /* -o, -v */
    int            final_only;          /* -f */
    double         percentile;          /* -R */
    unsigned       timeout_s;           /* -T (0 = none) */
    pt_wait_t      wait;                /* -E */
    int            verify_all;          /* -V */
    /* member mode (set by local mode on the members' command lines) */
    int            rank;                /* --member */
    char           group[PT_NAME_MAX];  /* --group */
    int            result_fd;           /* --result-fd */
} pt_opts_t;

typedef enum { PT_PARSE_OK = 0, PT_PARSE_HELP = 1, PT_PARSE_ERROR = -1 } pt_parse_status_t;

/* Parses argv into *o, applies the defaults and checks the combination.
 * PT_PARSE_ERROR: err holds a one-line reason (no output is made). */
pt_parse_status_t pt_opts_parse(int argc, char *const argv[], pt_opts_t *o,
                                char *err, size_t errlen);

/* The usage text (-h). */
void pt_usage(FILE *stream);

/* A size: decimal digits with an optional binary suffix k/K, m/M, g/G. */
int pt_parse_size(const char *text, uint64_t *value_p);

/* A list of sizes "8,4k,1m" (at most max entries). */
int pt_parse_size_list(const char *text, size_t *sizes, unsigned max, unsigned *n_p);

/* A CPU list "0,2-3" (at most max entries, each below max_cpu). */
int pt_parse_cpu_list(const char *text, int *cpus, unsigned max, unsigned *n_p);

/* Senders of a CPG test after defaults: -S, else 1 for cpg_mcast_bw and every
 * member for cpg_mcast_rate; 1 for the others (rank 0 sends the pings). */
unsigned pt_opts_senders(const pt_opts_t *o);

/* Group size of a CPG test: -N in local mode, 2 in server/client mode. */
unsigned pt_opts_members(const pt_opts_t *o);

const char *pt_guarantee_name(pt_guarantee_t g);

/* CPG wait mode after defaults: 1 = busy dispatch (-E poll, or by default
 * when every member can have a CPU of its own), 0 = poll(2) on the fd. */
int pt_opts_busy_wait(const pt_opts_t *o);

/* --- results --------------------------------------------------------------- */

/* One line of the report: a progress line or the final result of one size.
 * Times in microseconds, bandwidth in MiB/s (2^20 B/s, as ucx_perftest's
 * "MB/s"), message rate in messages per second. "moment" = since the
 * previous progress line (ucx_perftest's "average" column), "total" = since
 * the start of the timed iterations ("overall"). */
typedef struct pt_result {
    int      test;            /* pt_test_id_t */
    size_t   size;
    unsigned phase;           /* index of the size in the -s list */
    unsigned rank;            /* member that measured it */
    unsigned members, senders;
    int      final;           /* 0 = progress line */
    uint64_t iters;           /* timed operations (deliveries) so far */
    double   elapsed_s;       /* since the start of the timed iterations */
    double   typical_us;      /* percentile (-R) of the recent per-operation samples */
    double   moment_lat_us, total_lat_us;
    double   moment_bw, total_bw;
    double   moment_mr, total_mr;
    uint64_t retries;         /* CPG: CS_ERR_TRY_AGAIN answers to the senders */
    uint64_t errors;          /* data errors seen (a failed run reports them) */
} pt_result_t;

/* --- the clock and the meter (measure.c) ----------------------------------- */

#if defined(__x86_64__)
#include <x86intrin.h>
#define PT_CLOCK_TSC 1
#endif

/* Ticks: TSC cycles on x86-64 (constant and invariant on the CPUs this
 * targets; calibrated against CLOCK_MONOTONIC), nanoseconds elsewhere. */
uint64_t pt_clock_ns(void);
void     pt_clock_init(void);
double   pt_clock_ticks_per_us(void);

#ifdef PT_CLOCK_TSC
extern int pt_clock_tsc;   /* 1: the TSC is used (set once by pt_clock_init) */
#endif

static inline uint64_t pt_clock_now(void)
{
#ifdef PT_CLOCK_TSC
    if (pt_clock_tsc) {
        return __rdtsc();
    }
#endif
    return pt_clock_ns();
}

#define PT_RING_SIZE 2048u   /* samples kept for the percentile (ucx_perftest: 2048) */

/* Accumulates per-operation samples of one timed phase. Owned by one thread. */
typedef struct pt_meter {
    int      test;
    size_t   size;
    unsigned phase, rank, members, senders;
    double   percentile;          /* -R */
    unsigned divisor;             /* 2 for ping-pong tests (half round trip), else 1 */
    uint64_t interval;            /* ticks between progress lines (1 s) */
    uint64_t t_start;             /* start of the timed iterations */
    uint64_t t_last;              /* last sample */
    uint64_t t_report;            /* last progress line (or the start) */
    uint64_t t_next;              /* when the next progress line is due */
    uint64_t count, count_report; /* samples in total / at the last report */
    uint64_t retries, errors;
    uint64_t ring[PT_RING_SIZE];  /* recent samples, ticks */
    unsigned ring_head, ring_len;
} pt_meter_t;

void pt_meter_init(pt_meter_t *m, int test, size_t size, unsigned phase, double percentile);

/* The timed iterations start at `now`. */
void pt_meter_start(pt_meter_t *m, uint64_t now);

/* One operation that took `sample` ticks and ended at `now`. */
static inline void pt_meter_add(pt_meter_t *m, uint64_t sample, uint64_t now)
{
    m->ring[m->ring_head] = sample;
    m->ring_head          = (m->ring_head + 1u) % PT_RING_SIZE;
    if (m->ring_len < PT_RING_SIZE) {
        m->ring_len++;
    }
    m->count++;
    m->t_last = now;
}

/* Is a progress line due at `now`? */
static inline int pt_meter_due(const pt_meter_t *m, uint64_t now)
{
    return now >= m->t_next;
}

/* The numbers as of `now` (final: the end of the phase is the last sample);
 * a progress line also starts the next interval. */
void pt_meter_result(pt_meter_t *m, uint64_t now, int final, pt_result_t *r);

/* Nearest-rank percentile (0 < p <= 100) of n samples; sorts them. */
uint64_t pt_percentile(uint64_t *samples, unsigned n, double p);

/* Fills *r from raw figures (used by the meter and by the unit tests):
 * `ops` operations in `total_us`, of which `moment_ops` in the last
 * `moment_us`; `divisor` 2 halves every time (ping-pong). */
void pt_result_compute(pt_result_t *r, size_t size, uint64_t ops, double total_us,
                       uint64_t moment_ops, double moment_us, double typical_us,
                       unsigned divisor);

/* --- output (report.c) ----------------------------------------------------- */

/* Where results go and in which form. */
typedef struct pt_report {
    FILE          *out;
    pt_output_t    format;
    int            final_only;
    double         percentile;
    int            started;        /* JSON: the document is open; CSV: header printed */
    unsigned       results;        /* results printed so far */
    const char    *mode_name;      /* "client", "local" */
    const char    *guarantee_name; /* CPG tests: "agreed" or "safe" */
} pt_report_t;

void pt_report_init(pt_report_t *rep, FILE *out, const pt_opts_t *o, const char *mode_name);

/* Before the first phase (JSON: opens the document; CSV: the header). */
void pt_report_begin(pt_report_t *rep, const pt_opts_t *o);

/* Before each size (table: the test box and the column header). */
void pt_report_phase(pt_report_t *rep, const pt_opts_t *o, size_t size);

/* A progress line (table only, not with -f) or a final result. */
void pt_report_result(pt_report_t *rep, const pt_result_t *r);

/* After the last phase or on failure (JSON: closes the document with the
 * status and the error, if any). */
void pt_report_end(pt_report_t *rep, int status, const char *error);

/* The two lines of the column header for ucx_perftest's table, and one data
 * line, as the table shows them (exposed for the unit tests). */
void pt_report_format_line(char *buf, size_t len, const pt_result_t *r, int final_only);

/* Which of n members' results of one phase is reported: rank 0's for
 * cpg_mcast_lat (it measures the round trips), the slowest member's (lowest
 * overall message rate) otherwise. */
unsigned pt_result_pick(const pt_result_t *rs, unsigned n);

/* "12.5" as a JSON number; NaN and infinities become null. */
void pt_json_number(char *buf, size_t len, double v);

/* --- control channel messages and result records (proto.c) ------------------ */

#define PT_LINE_MAX 4096u
#define PT_PROTO_VERSION 1u

/* A message is one line "VERB key=value key=value ...". Values are
 * percent-encoded (space, '%', '=', control bytes), so any string fits. */
typedef struct pt_msg {
    char     verb[16];
    unsigned nfields;
    struct {
        char key[24];
        char value[512];
    } field[24];
} pt_msg_t;

void pt_msg_init(pt_msg_t *m, const char *verb);
int  pt_msg_set(pt_msg_t *m, const char *key, const char *value);
int  pt_msg_set_u64(pt_msg_t *m, const char *key, uint64_t value);
int  pt_msg_set_double(pt_msg_t *m, const char *key, double value);
/* NULL if the key is absent. */
const char *pt_msg_get(const pt_msg_t *m, const char *key);
int  pt_msg_get_u64(const pt_msg_t *m, const char *key, uint64_t *value_p);
int  pt_msg_get_double(const pt_msg_t *m, const char *key, double *value_p);
/* Encodes into buf with the trailing newline; -1 if it does not fit. */
int  pt_msg_encode(const pt_msg_t *m, char *buf, size_t len);
/* Decodes one line (with or without its newline); -1 if malformed. */
int  pt_msg_decode(const char *line, pt_msg_t *m);
/* The same from len bytes as they came off the wire: -1 also if they hold a
 * NUL or a newline before the last byte. */
int  pt_msg_decode_bytes(const char *line, size_t len, pt_msg_t *m);

/* A result as a "RESULT" / "PROGRESS" message and back. */
void pt_result_to_msg(const pt_result_t *r, pt_msg_t *m);
int  pt_result_from_msg(const pt_msg_t *m, pt_result_t *r);

/* The session parameters the client sends (HELLO) and their check on the
 * server side: the test, sizes and counts must be valid on their own. */
void pt_hello_from_opts(const pt_opts_t *o, const char *group, pt_msg_t *m);
int  pt_hello_to_opts(const pt_msg_t *m, pt_opts_t *o, char *group, size_t grouplen,
                      char *err, size_t errlen);

/* --- control channel (control.c) ------------------------------------------- */

/* 1: host names this machine (localhost, 127.0.0.0/8, ::1, this host's
 * name or one of its interface addresses); 0: another host; -1: cannot be
 * resolved (err says why). */
int pt_host_is_local(const char *host, char *err, size_t errlen);

typedef struct pt_conn {
    int    fd;
    char   buf[PT_LINE_MAX];
    size_t len;
    char   peer[64];          /* "127.0.0.1:45094" */
    char   error[256];        /* the peer's ERROR text, once pt_control_peer_gone saw it */
} pt_conn_t;

/* Server: listens on 127.0.0.1:port (0: a free port); returns the socket or
 * -1 (err). pt_control_port tells the port it got. */
int  pt_control_listen(unsigned port, char *err, size_t errlen);
int  pt_control_port(int lfd, unsigned *port_p);
/* Accepts one client until deadline_ns (0: none); 0 ok, -1 error, -2 timeout. */
int  pt_control_accept(int lfd, pt_conn_t *c, uint64_t deadline_ns, char *err, size_t errlen);
/* Client: connects to 127.0.0.1:port, retrying a refused connection for
 * retry_ms (the server may still be starting). */
int  pt_control_connect(unsigned port, unsigned retry_ms, pt_conn_t *c, char *err, size_t errlen);
int  pt_control_send(pt_conn_t *c, const pt_msg_t *m);
/* One message until deadline_ns (0: none): 0 ok, -1 error or end of file,
 * -2 timeout, -3 malformed. */
int  pt_control_recv(pt_conn_t *c, pt_msg_t *m, uint64_t deadline_ns);
/* Non-blocking: 1 if the peer closed the connection, it failed, or the peer
 * sent ERROR (its text is then in c->error). Data that arrived is kept for
 * pt_control_recv. */
int  pt_control_peer_gone(pt_conn_t *c);
void pt_control_close(pt_conn_t *c);
/* Sends "ERROR msg=..." (best effort). */
void pt_control_send_error(pt_conn_t *c, const char *text);

/* The WELCOME the server answers a HELLO with: its domain settings. */
void pt_welcome_init(pt_msg_t *m);

/* --- the tests ---------------------------------------------------------------- */

/* Where a measuring side sends its progress lines and per-size results. */
typedef struct pt_sink pt_sink_t;
struct pt_sink {
    void (*phase)(pt_sink_t *s, const pt_opts_t *o, unsigned phase);   /* may be NULL */
    void (*progress)(pt_sink_t *s, const pt_result_t *r);              /* may be NULL */
    void (*final)(pt_sink_t *s, const pt_result_t *r);
    void *arg;
};

/* A session deadline: CLOCK_MONOTONIC ns, 0 = none. */
uint64_t pt_deadline(const pt_opts_t *o);

/* Shared failure text of a side (first error wins). */
typedef struct pt_error {
    int  status;              /* PT_EXIT_* */
    char text[256];
} pt_error_t;

void pt_error_set(pt_error_t *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifndef PT_CPG_ONLY
/* RSM: server side of a session (after HELLO; sends *welcome with its
 * segment added), client side of a session (after WELCOME). */
int pt_rsm_server(const pt_opts_t *o, pt_conn_t *c, pt_msg_t *welcome, pt_error_t *e);
int pt_rsm_client(const pt_opts_t *o, pt_conn_t *c, const pt_msg_t *welcome,
                  pt_report_t *rep, pt_error_t *e);
#endif

/* CPG: one member of the group, all sizes in turn; results go to sink. */
typedef struct pt_cpg_member pt_cpg_member_t;
pt_cpg_member_t *pt_cpg_member_create(const pt_opts_t *o, unsigned rank, const char *group,
                                      pt_error_t *e);
int  pt_cpg_member_run(pt_cpg_member_t *m, pt_sink_t *sink, pt_conn_t *watch, pt_error_t *e);
void pt_cpg_member_destroy(pt_cpg_member_t *m);
/* The server and client sides of a CPG session (rank 1 and rank 0). */
int pt_cpg_server(const pt_opts_t *o, pt_conn_t *c, pt_msg_t *welcome, const char *group,
                  pt_error_t *e);
int pt_cpg_client(const pt_opts_t *o, pt_conn_t *c, const char *group, pt_report_t *rep,
                  pt_error_t *e);

/* Local mode: starts the members, reports, returns the exit status. */
int pt_local_run(const pt_opts_t *o, int argc, char *const argv[]);
/* Member mode: one member, results to o->result_fd. */
int pt_member_run(const pt_opts_t *o);

/* Pins the calling process (all threads created later) to the CPUs. */
int pt_pin_cpus(const int *cpus, unsigned ncpus, char *err, size_t errlen);

#endif /* UCPG_PERFTEST_H */
