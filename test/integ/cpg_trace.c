/*
 * cpg_trace.c - writer and checker of CPG delivery traces (see cpg_trace.h
 * for the format and /work/shared/reference/group-semantics.md §2 for the
 * properties).
 *
 * The checker works group by group. For each group it cuts every trace down
 * to that group's records (its "stream") and then runs two kinds of checks:
 *
 *  - local ones, on one stream at a time: M2 self-inclusion, M3 confchg
 *    consistency, D1 integrity, D2 sending-view delivery, F1 FIFO (which also
 *    covers gap-free self-delivery, the checkable part of D3);
 *  - pairwise ones, for every ordered pair (q, p): every stretch of q's stream
 *    during which p is a member is aligned with p's stream at the confchg that
 *    opens it, and from there the two streams must be identical until one of
 *    the two leaves (A1 order, V1 same set between views, A3 confchg position,
 *    M1 same views), except that a stream that simply ends is a prefix of the
 *    other, and a crashed process may end with extra non-SAFE deliveries (an
 *    extra SAFE one violates S1).
 *
 * The first violation found is reported; groups are checked in order of first
 * appearance, traces in the order given, so the report is deterministic.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "cpg_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Callers cast struct cpg_address lists to struct cpg_trace_addr. */
_Static_assert(sizeof(struct cpg_trace_addr) == 12, "layout of cpg_address");
_Static_assert(offsetof(struct cpg_trace_addr, pid) == 4, "layout of cpg_address");
_Static_assert(offsetof(struct cpg_trace_addr, reason) == 8, "layout of cpg_address");

/* Longer lines are rejected (never cut): even a 10000-member confchg fits. */
#define TRACE_LINE_MAX (1u << 20)

/* Diagnostics quote records, shortened to this many bytes. */
#define DESC_MAX 160


/* --- growable strings ---------------------------------------------------------- */

typedef struct strbuf {
    char  *buf;
    size_t len;
    size_t cap;
    bool   failed; /* out of memory: the content is incomplete */
} strbuf_t;

static void sb_reserve(strbuf_t *sb, size_t extra)
{
    size_t need, cap;
    char *buf;

    if (sb->failed) {
        return;
    }
    if (extra > SIZE_MAX - sb->len - 1) {
        sb->failed = true;
        return;
    }
    need = sb->len + extra + 1;
    if (need <= sb->cap) {
        return;
    }
    cap = (sb->cap != 0) ? sb->cap : 128;
    while (cap < need) {
        cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
    }
    buf = realloc(sb->buf, cap);
    if (buf == NULL) {
        sb->failed = true;
        return;
    }
    sb->buf = buf;
    sb->cap = cap;
}

static void sb_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (sb->failed) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    sb_reserve(sb, (size_t)n);
    if (sb->failed) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}


/* --- record formatting (shared by the writer and the diagnostics) ----------------- */

static void fmt_group_bytes(strbuf_t *sb, const void *group, size_t len)
{
    static const char hex_digits[] = "0123456789abcdef";
    const unsigned char *bytes = group;
    size_t i;

    if (len == 0) {
        sb_printf(sb, " -");
        return;
    }
    /* By hand: this runs for every record a test process writes. */
    if (len > (SIZE_MAX - 2) / 2) {
        sb->failed = true;
        return;
    }
    sb_reserve(sb, 1 + 2 * len);
    if (sb->failed) {
        return;
    }
    sb->buf[sb->len++] = ' ';
    for (i = 0; i < len; ++i) {
        sb->buf[sb->len++] = hex_digits[bytes[i] >> 4];
        sb->buf[sb->len++] = hex_digits[bytes[i] & 0xf];
    }
    sb->buf[sb->len] = '\0';
}

static void fmt_addrs(strbuf_t *sb, const struct cpg_trace_addr *a, size_t n, bool with_reason)
{
    size_t i;

    if (n == 0) {
        sb_printf(sb, " -");
        return;
    }
    for (i = 0; i < n; ++i) {
        sb_printf(sb, "%c%" PRIu32 ":%" PRIu32, (i == 0) ? ' ' : ',', a[i].nodeid, a[i].pid);
        if (with_reason) {
            sb_printf(sb, ":%" PRIu32, a[i].reason);
        }
    }
}

/* The fields after the group name of a C record. */
static void fmt_confchg_lists(strbuf_t *sb, const struct cpg_trace_addr *members, size_t nm,
                              const struct cpg_trace_addr *left, size_t nl,
                              const struct cpg_trace_addr *joined, size_t nj)
{
    fmt_addrs(sb, members, nm, false);
    fmt_addrs(sb, left, nl, true);
    fmt_addrs(sb, joined, nj, true);
}

/* The fields after the group name of a D record. */
static void fmt_deliver_fields(strbuf_t *sb, uint32_t nodeid, uint32_t pid, int guarantee,
                               uint64_t len, bool has_tag, uint32_t tag_pid, uint64_t counter)
{
    sb_printf(sb, " %" PRIu32 " %" PRIu32 " %d %" PRIu64, nodeid, pid, guarantee, len);
    if (has_tag) {
        sb_printf(sb, " %" PRIu32 ".%" PRIu64, tag_pid, counter);
    } else {
        sb_printf(sb, " -");
    }
}


/* --- writer ------------------------------------------------------------------------ */

/* Writes one record with a single write(2), so that a killed process leaves
 * whole lines only. After the first failure nothing more is written: the
 * trace then stays a valid prefix, and cpg_trace_close() reports the error. */
static void writer_emit(cpg_trace_writer_t *w, strbuf_t *sb)
{
    int saved_errno = errno; /* called from CPG callbacks: leave errno alone */
    ssize_t n;

    sb_printf(sb, "\n");
    if ((w->fd < 0) || (w->error != 0)) {
        goto out;
    }
    if (sb->failed) {
        w->error = ENOMEM;
        goto out;
    }
    do {
        n = write(w->fd, sb->buf, sb->len);
    } while ((n < 0) && (errno == EINTR));
    if (n < 0) {
        w->error = (errno != 0) ? errno : EIO;
    } else if ((size_t)n != sb->len) {
        w->error = EIO; /* a partial line: the checker rejects the trace */
    }
out:
    free(sb->buf);
    errno = saved_errno;
}

int cpg_trace_open(cpg_trace_writer_t *w, const char *path, uint32_t nodeid, uint32_t pid)
{
    strbuf_t sb = {0};

    w->error = 0;
    w->fd    = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        w->error = errno;
        return -1;
    }
    sb_printf(&sb, "P %" PRIu32 " %" PRIu32, nodeid, pid);
    writer_emit(w, &sb);
    if (w->error != 0) {
        int error = w->error;

        (void)close(w->fd);
        w->fd = -1;
        errno = error;
        return -1;
    }
    return 0;
}

void cpg_trace_confchg(cpg_trace_writer_t *w, const void *group, size_t group_len,
                       const struct cpg_trace_addr *members, size_t nm,
                       const struct cpg_trace_addr *left, size_t nl,
                       const struct cpg_trace_addr *joined, size_t nj)
{
    strbuf_t sb = {0};

    sb_printf(&sb, "C");
    fmt_group_bytes(&sb, group, group_len);
    fmt_confchg_lists(&sb, members, nm, left, nl, joined, nj);
    writer_emit(w, &sb);
}

void cpg_trace_deliver(cpg_trace_writer_t *w, const void *group, size_t group_len,
                       uint32_t nodeid, uint32_t pid, int guarantee, size_t len,
                       int has_tag, uint32_t tag_pid, uint64_t tag_counter)
{
    strbuf_t sb = {0};

    sb_printf(&sb, "D");
    fmt_group_bytes(&sb, group, group_len);
    fmt_deliver_fields(&sb, nodeid, pid, guarantee, (uint64_t)len, has_tag != 0, tag_pid,
                       tag_counter);
    writer_emit(w, &sb);
}

int cpg_trace_close(cpg_trace_writer_t *w)
{
    strbuf_t sb = {0};
    int error;

    if (w->fd < 0) {
        errno = (w->error != 0) ? w->error : EBADF;
        return -1;
    }
    sb_printf(&sb, "X");
    writer_emit(w, &sb); /* skipped if an earlier record failed */
    if ((close(w->fd) != 0) && (w->error == 0)) {
        w->error = errno;
    }
    w->fd = -1;
    error = w->error;
    if (error != 0) {
        errno = error;
        return -1;
    }
    return 0;
}


/* --- parsed traces ---------------------------------------------------------------- */

typedef struct trace_c {
    struct cpg_trace_addr *members; /* in file order (M3 checks that it is sorted) */
    struct cpg_trace_addr *left;    /* sorted by (nodeid, pid, reason) for comparison */
    struct cpg_trace_addr *joined;  /* likewise */
    size_t nm, nl, nj;
} trace_c_t;

typedef struct trace_d {
    uint32_t nodeid;
    uint32_t pid;
    int      guarantee;
    uint64_t len;
    bool     has_tag;
    uint32_t tag_pid;
    uint64_t counter;
} trace_d_t;

typedef struct trace_rec {
    char   type;  /* 'C' or 'D' */
    size_t line;  /* 1-based line number in the file */
    size_t group; /* index into the group table */
    union {
        trace_c_t c;
        trace_d_t d;
    } u;
} trace_rec_t;

typedef struct trace {
    const char  *path;
    uint32_t     nodeid;
    uint32_t     pid;
    bool         clean; /* ended with X */
    trace_rec_t *recs;
    size_t       nrecs;
    size_t       cap;
} trace_t;

/* Group names (normalised hex) of every trace read in one check. */
typedef struct group_table {
    char **hex;
    size_t n;
    size_t cap;
    size_t last; /* index of the last hit: records of one group come in runs */
} group_table_t;

typedef struct errbuf {
    char  *buf;
    size_t len;
} errbuf_t;

static int fail(errbuf_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stores a one-line message and returns -1, so callers can "return fail(...)". */
static int fail(errbuf_t *e, const char *fmt, ...)
{
    va_list ap;

    if ((e->buf != NULL) && (e->len > 0)) {
        va_start(ap, fmt);
        (void)vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void trace_free(trace_t *t)
{
    size_t i;

    for (i = 0; i < t->nrecs; ++i) {
        if (t->recs[i].type == 'C') {
            free(t->recs[i].u.c.members);
            free(t->recs[i].u.c.left);
            free(t->recs[i].u.c.joined);
        }
    }
    free(t->recs);
    t->recs  = NULL;
    t->nrecs = 0;
    t->cap   = 0;
}

static void groups_free(group_table_t *g)
{
    size_t i;

    for (i = 0; i < g->n; ++i) {
        free(g->hex[i]);
    }
    free(g->hex);
    memset(g, 0, sizeof(*g));
}

/* Grows a dynamic array of elem-sized items to hold one more. */
static int grow(void **array, size_t *cap, size_t n, size_t elem)
{
    size_t new_cap;
    void *p;

    if (n < *cap) {
        return 0;
    }
    new_cap = (*cap != 0) ? *cap * 2 : 16;
    if (new_cap > SIZE_MAX / elem) {
        return -1;
    }
    p = realloc(*array, new_cap * elem);
    if (p == NULL) {
        return -1;
    }
    *array = p;
    *cap   = new_cap;
    return 0;
}


/* --- parsing -------------------------------------------------------------------------- */

/* Splits line at single spaces into at most max fields. Returns the number of
 * fields, or -1 if there are more than max or one is empty (double, leading
 * or trailing space): the format has exactly one space between fields. */
static int split_fields(char *line, char **field, int max)
{
    int n = 0;
    char *p = line, *space;

    for (;;) {
        if (n == max) {
            return -1;
        }
        field[n++] = p;
        space = strchr(p, ' ');
        if (space == NULL) {
            break;
        }
        *space = '\0';
        p      = space + 1;
    }
    for (int i = 0; i < n; ++i) {
        if (field[i][0] == '\0') {
            return -1;
        }
    }
    return n;
}

/* Decimal digits only (no sign, no spaces), at most max. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; ++s) {
        unsigned d;

        if ((*s < '0') || (*s > '9')) {
            return false;
        }
        d = (unsigned)(*s - '0');
        if ((d > max) || (v > (max - d) / 10)) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;

    if (!parse_uint(s, UINT32_MAX, &v)) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* Checks a group field and lowercases it in place: "-" or an even number of
 * hex digits. */
static bool normalise_group(char *hex)
{
    size_t i, len = strlen(hex);

    if (strcmp(hex, "-") == 0) {
        return true;
    }
    if ((len == 0) || ((len % 2) != 0)) {
        return false;
    }
    for (i = 0; i < len; ++i) {
        char c = hex[i];

        if ((c >= 'A') && (c <= 'F')) {
            hex[i] = (char)(c - 'A' + 'a');
        } else if (!(((c >= '0') && (c <= '9')) || ((c >= 'a') && (c <= 'f')))) {
            return false;
        }
    }
    return true;
}

/* Index of a (normalised) group name, added if new. Returns -1 on ENOMEM. */
static int group_intern(group_table_t *g, const char *hex, size_t *index)
{
    size_t i;
    char *copy;

    if ((g->last < g->n) && (strcmp(g->hex[g->last], hex) == 0)) {
        *index = g->last;
        return 0;
    }
    for (i = 0; i < g->n; ++i) {
        if (strcmp(g->hex[i], hex) == 0) {
            *index = g->last = i;
            return 0;
        }
    }
    copy = strdup(hex);
    if ((copy == NULL) || (grow((void **)&g->hex, &g->cap, g->n, sizeof(*g->hex)) != 0)) {
        free(copy);
        return -1;
    }
    g->hex[g->n] = copy;
    *index = g->last = g->n++;
    return 0;
}

static int addr_cmp(const struct cpg_trace_addr *a, const struct cpg_trace_addr *b)
{
    if (a->nodeid != b->nodeid) {
        return (a->nodeid < b->nodeid) ? -1 : 1;
    }
    if (a->pid != b->pid) {
        return (a->pid < b->pid) ? -1 : 1;
    }
    return 0;
}

static int addr_cmp_full(const void *va, const void *vb)
{
    const struct cpg_trace_addr *a = va, *b = vb;
    int c = addr_cmp(a, b);

    if (c != 0) {
        return c;
    }
    return (a->reason < b->reason) ? -1 : (a->reason > b->reason) ? 1 : 0;
}

enum { PARSE_OK = 0, PARSE_BAD = -1, PARSE_NOMEM = -2 };

/* Parses "-" or "n:p,n:p" (with_reason: "n:p:r,..."), modifying s. */
static int parse_addrs(char *s, bool with_reason, struct cpg_trace_addr **out, size_t *nout)
{
    struct cpg_trace_addr *a;
    size_t n = 1, i = 0;
    char *item, *next;

    *out  = NULL;
    *nout = 0;
    if (strcmp(s, "-") == 0) {
        return PARSE_OK;
    }
    for (const char *c = s; *c != '\0'; ++c) {
        n += (*c == ',');
    }
    a = calloc(n, sizeof(*a));
    if (a == NULL) {
        return PARSE_NOMEM;
    }
    for (item = s; item != NULL; item = next, ++i) {
        char *f1, *f2;

        next = strchr(item, ',');
        if (next != NULL) {
            *next++ = '\0';
        }
        f1 = strchr(item, ':');
        f2 = (f1 != NULL) ? strchr(f1 + 1, ':') : NULL;
        if ((f1 == NULL) || ((f2 != NULL) != with_reason) ||
            ((f2 != NULL) && (strchr(f2 + 1, ':') != NULL))) {
            goto bad;
        }
        *f1 = '\0';
        if (f2 != NULL) {
            *f2 = '\0';
            if (!parse_u32(f2 + 1, &a[i].reason)) {
                goto bad;
            }
        }
        if (!parse_u32(item, &a[i].nodeid) || !parse_u32(f1 + 1, &a[i].pid)) {
            goto bad;
        }
    }
    *out  = a;
    *nout = n;
    return PARSE_OK;
bad:
    free(a);
    return PARSE_BAD;
}

/* "C <group> <members> <left> <joined>", group already handled. */
static int parse_confchg(char **f, int nf, trace_rec_t *r)
{
    trace_c_t *c = &r->u.c;
    int rc;

    memset(c, 0, sizeof(*c));
    if (nf != 5) {
        return PARSE_BAD;
    }
    rc = parse_addrs(f[2], false, &c->members, &c->nm);
    if (rc == PARSE_OK) {
        rc = parse_addrs(f[3], true, &c->left, &c->nl);
    }
    if (rc == PARSE_OK) {
        rc = parse_addrs(f[4], true, &c->joined, &c->nj);
    }
    if (rc != PARSE_OK) {
        free(c->members);
        free(c->left);
        free(c->joined);
        memset(c, 0, sizeof(*c));
        return rc;
    }
    /* Order in left/joined carries no meaning; sorted, they compare as sets. */
    if (c->nl > 1) {
        qsort(c->left, c->nl, sizeof(*c->left), addr_cmp_full);
    }
    if (c->nj > 1) {
        qsort(c->joined, c->nj, sizeof(*c->joined), addr_cmp_full);
    }
    return PARSE_OK;
}

/* "D <group> <nodeid> <pid> <g> <len> <tag>", group already handled. */
static int parse_deliver(char **f, int nf, trace_rec_t *r)
{
    trace_d_t *d = &r->u.d;
    uint64_t g;
    char *dot;

    memset(d, 0, sizeof(*d));
    if ((nf != 7) || !parse_u32(f[2], &d->nodeid) || !parse_u32(f[3], &d->pid) ||
        !parse_uint(f[4], CPG_TRACE_SAFE, &g) || !parse_uint(f[5], UINT64_MAX, &d->len)) {
        return PARSE_BAD;
    }
    d->guarantee = (int)g;
    if (strcmp(f[6], "-") == 0) {
        return PARSE_OK;
    }
    dot = strchr(f[6], '.');
    if (dot == NULL) {
        return PARSE_BAD;
    }
    *dot = '\0';
    if (!parse_u32(f[6], &d->tag_pid) || !parse_uint(dot + 1, UINT64_MAX, &d->counter)) {
        return PARSE_BAD;
    }
    d->has_tag = true;
    return PARSE_OK;
}

/* Parses one line (NUL-terminated, newline removed) after the P line. */
static int parse_record(trace_t *t, group_table_t *groups, char *line, size_t lineno,
                        errbuf_t *e)
{
    char *f[8];
    int nf = split_fields(line, f, 8);
    trace_rec_t *r;
    int rc;

    if (nf < 0) {
        return fail(e, "%s:%zu: malformed record (fields must be separated by single spaces)",
                    t->path, lineno);
    }
    if ((nf == 1) && (strcmp(f[0], "X") == 0)) {
        t->clean = true;
        return 0;
    }
    if (((strcmp(f[0], "C") != 0) && (strcmp(f[0], "D") != 0)) || (nf < 2)) {
        return fail(e, "%s:%zu: unknown record type '%.20s' (expected C, D or X)", t->path,
                    lineno, f[0]);
    }
    if (!normalise_group(f[1])) {
        return fail(e, "%s:%zu: malformed group name '%.40s' (expected hex bytes or -)",
                    t->path, lineno, f[1]);
    }
    if (grow((void **)&t->recs, &t->cap, t->nrecs, sizeof(*t->recs)) != 0) {
        return fail(e, "%s:%zu: out of memory", t->path, lineno);
    }
    r = &t->recs[t->nrecs];
    memset(r, 0, sizeof(*r));
    r->type = f[0][0];
    r->line = lineno;
    if (group_intern(groups, f[1], &r->group) != 0) {
        return fail(e, "%s:%zu: out of memory", t->path, lineno);
    }
    rc = (r->type == 'C') ? parse_confchg(f, nf, r) : parse_deliver(f, nf, r);
    if (rc == PARSE_NOMEM) {
        return fail(e, "%s:%zu: out of memory", t->path, lineno);
    }
    if (rc != PARSE_OK) {
        return fail(e, "%s:%zu: malformed %c record (see cpg_trace.h for the format)", t->path,
                    lineno, r->type);
    }
    t->nrecs++;
    return 0;
}

static int parse_identity(trace_t *t, char *line, errbuf_t *e)
{
    char *f[3];

    if ((split_fields(line, f, 3) != 3) || (strcmp(f[0], "P") != 0) ||
        !parse_u32(f[1], &t->nodeid) || !parse_u32(f[2], &t->pid)) {
        return fail(e, "%s:1: the first line must be 'P <nodeid> <pid>'", t->path);
    }
    return 0;
}

/* Reads the whole trace at path into t (t->path must outlive t). */
static int parse_trace(trace_t *t, const char *path, group_table_t *groups, errbuf_t *e)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    FILE *file;
    int rc = 0;

    memset(t, 0, sizeof(*t));
    t->path = path;
    file    = fopen(path, "r");
    if (file == NULL) {
        return fail(e, "%s: cannot open: %s", path, strerror(errno));
    }
    while ((rc == 0) && ((n = getline(&line, &cap, file)) >= 0)) {
        ++lineno;
        if ((n == 0) || (line[n - 1] != '\n')) {
            /* Records are written whole; a cut line means a failed write. */
            rc = fail(e, "%s:%zu: incomplete last line (no newline)", path, lineno);
            break;
        }
        line[--n] = '\0';
        if ((size_t)n > TRACE_LINE_MAX) {
            rc = fail(e, "%s:%zu: line longer than %u bytes", path, lineno, TRACE_LINE_MAX);
        } else if (strlen(line) != (size_t)n) {
            rc = fail(e, "%s:%zu: NUL byte in line", path, lineno);
        } else if (t->clean) {
            rc = fail(e, "%s:%zu: record after the final X line", path, lineno);
        } else if (lineno == 1) {
            rc = parse_identity(t, line, e);
        } else {
            rc = parse_record(t, groups, line, lineno, e);
        }
    }
    if ((rc == 0) && ferror(file)) {
        rc = fail(e, "%s: read error", path);
    }
    if ((rc == 0) && (lineno == 0)) {
        rc = fail(e, "%s: empty trace (no P line)", path);
    }
    free(line);
    fclose(file);
    return rc;
}


/* --- views and records ------------------------------------------------------------- */

/* One trace cut down to the records of one group. */
typedef struct stream {
    const trace_t      *t;
    const trace_rec_t **r;
    size_t              n;
} stream_t;

/* What diagnostics need to know. */
typedef struct check_ctx {
    const group_table_t *groups;
    const char          *ghex; /* the group being checked */
    errbuf_t            *e;
} check_ctx_t;

/* Entry of (nodeid, pid) in an unsorted list, or NULL. */
static const struct cpg_trace_addr *addr_find(const struct cpg_trace_addr *list, size_t n,
                                              uint32_t nodeid, uint32_t pid)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        if ((list[i].nodeid == nodeid) && (list[i].pid == pid)) {
            return &list[i];
        }
    }
    return NULL;
}

/* Membership in a member list already checked to be sorted. */
static bool member_of(const trace_c_t *c, uint32_t nodeid, uint32_t pid)
{
    struct cpg_trace_addr key = {nodeid, pid, 0};
    size_t lo = 0, hi = c->nm;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp    = addr_cmp(&c->members[mid], &key);

        if (cmp == 0) {
            return true;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

static bool c_has_member(const trace_rec_t *r, const trace_t *t)
{
    return (r->type == 'C') && member_of(&r->u.c, t->nodeid, t->pid);
}

static const struct cpg_trace_addr *c_left_entry(const trace_rec_t *r, const trace_t *t)
{
    return (r->type == 'C') ? addr_find(r->u.c.left, r->u.c.nl, t->nodeid, t->pid) : NULL;
}

static bool addrs_equal(const struct cpg_trace_addr *a, const struct cpg_trace_addr *b, size_t n,
                        bool with_reason)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        if ((addr_cmp(&a[i], &b[i]) != 0) || (with_reason && (a[i].reason != b[i].reason))) {
            return false;
        }
    }
    return true;
}

/* Same record, as far as two processes must agree (not the line number). */
static bool rec_equal(const trace_rec_t *a, const trace_rec_t *b)
{
    if (a->type != b->type) {
        return false;
    }
    if (a->type == 'C') {
        const trace_c_t *x = &a->u.c, *y = &b->u.c;

        return (x->nm == y->nm) && (x->nl == y->nl) && (x->nj == y->nj) &&
               addrs_equal(x->members, y->members, x->nm, false) &&
               addrs_equal(x->left, y->left, x->nl, true) &&
               addrs_equal(x->joined, y->joined, x->nj, true);
    } else {
        const trace_d_t *x = &a->u.d, *y = &b->u.d;

        return (x->nodeid == y->nodeid) && (x->pid == y->pid) &&
               (x->guarantee == y->guarantee) && (x->len == y->len) &&
               (x->has_tag == y->has_tag) &&
               (!x->has_tag || ((x->tag_pid == y->tag_pid) && (x->counter == y->counter)));
    }
}

typedef struct desc {
    char s[DESC_MAX];
} desc_t;

/* The record as it would appear in a trace (left/joined sorted), shortened
 * to fit a diagnostic. */
static const char *describe(desc_t *d, const check_ctx_t *ctx, const trace_rec_t *r)
{
    strbuf_t sb = {0};

    sb_printf(&sb, "%c %s", r->type, ctx->groups->hex[r->group]);
    if (r->type == 'C') {
        fmt_confchg_lists(&sb, r->u.c.members, r->u.c.nm, r->u.c.left, r->u.c.nl,
                          r->u.c.joined, r->u.c.nj);
    } else {
        fmt_deliver_fields(&sb, r->u.d.nodeid, r->u.d.pid, r->u.d.guarantee, r->u.d.len,
                           r->u.d.has_tag, r->u.d.tag_pid, r->u.d.counter);
    }
    if (sb.failed) {
        snprintf(d->s, sizeof(d->s), "%c record", r->type);
    } else if (sb.len < sizeof(d->s)) {
        memcpy(d->s, sb.buf, sb.len + 1);
    } else {
        memcpy(d->s, sb.buf, sizeof(d->s) - 4);
        memcpy(d->s + sizeof(d->s) - 4, "...", 4);
    }
    free(sb.buf);
    return d->s;
}


/* --- local checks: M2, M3, D1, D2, F1 ------------------------------------------------- */

/* The deliveries seen from one sender since it (last) became a member of
 * the observer's view: counters first..last, contiguous. */
typedef struct sender_run {
    uint32_t nodeid;
    uint32_t pid;
    uint64_t first;
    uint64_t last;
    size_t   since_line;
} sender_run_t;

typedef struct runs {
    sender_run_t *v;
    size_t        n;
    size_t        cap;
} runs_t;

static sender_run_t *runs_find(runs_t *runs, uint32_t nodeid, uint32_t pid)
{
    size_t i;

    for (i = 0; i < runs->n; ++i) {
        if ((runs->v[i].nodeid == nodeid) && (runs->v[i].pid == pid)) {
            return &runs->v[i];
        }
    }
    return NULL;
}

/* A sender that left the view may come back and number afresh: forget it. */
static void runs_prune(runs_t *runs, const trace_c_t *view)
{
    size_t i = 0;

    while (i < runs->n) {
        if (member_of(view, runs->v[i].nodeid, runs->v[i].pid)) {
            ++i;
        } else {
            runs->v[i] = runs->v[--runs->n];
        }
    }
}

/* Compares the set a \ b with s (all sorted by (nodeid, pid), no duplicates).
 * On a difference, *missing is an element of a \ b absent from s, or *extra
 * an element of s not in a \ b. */
static bool diff_equals(const struct cpg_trace_addr *a, size_t na, const struct cpg_trace_addr *b,
                        size_t nb, const struct cpg_trace_addr *s, size_t ns,
                        const struct cpg_trace_addr **missing,
                        const struct cpg_trace_addr **extra)
{
    size_t i = 0, j = 0, k = 0;

    *missing = *extra = NULL;
    while (i < na) {
        while ((j < nb) && (addr_cmp(&b[j], &a[i]) < 0)) {
            ++j;
        }
        if ((j < nb) && (addr_cmp(&b[j], &a[i]) == 0)) {
            ++i; /* in b: not part of the difference */
            continue;
        }
        if ((k < ns) && (addr_cmp(&s[k], &a[i]) == 0)) {
            ++i;
            ++k;
            continue;
        }
        if ((k < ns) && (addr_cmp(&s[k], &a[i]) < 0)) {
            *extra = &s[k];
        } else {
            *missing = &a[i];
        }
        return false;
    }
    if (k < ns) {
        *extra = &s[k];
        return false;
    }
    return true;
}

/* Strictly ascending by (nodeid, pid): sorted and no duplicates. Returns
 * the index of the first offending entry, or 0 if fine. */
static size_t unsorted_at(const struct cpg_trace_addr *a, size_t n)
{
    size_t i;

    for (i = 1; i < n; ++i) {
        if (addr_cmp(&a[i - 1], &a[i]) >= 0) {
            return i;
        }
    }
    return 0;
}

static int fail_m3(const check_ctx_t *ctx, const stream_t *s, const trace_rec_t *r,
                   const char *what, const struct cpg_trace_addr *a)
{
    desc_t d;

    if (a != NULL) {
        return fail(ctx->e, "M3 confchg consistency: group %s: %s:%zu: %s %" PRIu32 ":%" PRIu32
                    " in '%s'", ctx->ghex, s->t->path, r->line, what, a->nodeid, a->pid,
                    describe(&d, ctx, r));
    }
    return fail(ctx->e, "M3 confchg consistency: group %s: %s:%zu: %s in '%s'", ctx->ghex,
                s->t->path, r->line, what, describe(&d, ctx, r));
}

/* Shape of one confchg on its own: sorted lists, no duplicates, reasons that
 * fit the list they are in. */
static int check_confchg_lists(const check_ctx_t *ctx, const stream_t *s, const trace_rec_t *r)
{
    const trace_c_t *c = &r->u.c;
    size_t i;

    if ((i = unsorted_at(c->members, c->nm)) != 0) {
        return fail_m3(ctx, s, r,
                       (addr_cmp(&c->members[i - 1], &c->members[i]) == 0)
                           ? "member list has a duplicate"
                           : "member list is not sorted by (nodeid, pid) at",
                       &c->members[i]);
    }
    if ((i = unsorted_at(c->left, c->nl)) != 0) {
        return fail_m3(ctx, s, r, "left list has a duplicate", &c->left[i]);
    }
    if ((i = unsorted_at(c->joined, c->nj)) != 0) {
        return fail_m3(ctx, s, r, "joined list has a duplicate", &c->joined[i]);
    }
    for (i = 0; i < c->nj; ++i) {
        if ((c->joined[i].reason != CPG_TRACE_JOIN) && (c->joined[i].reason != CPG_TRACE_NODEUP)) {
            return fail_m3(ctx, s, r, "joined reason is not JOIN(1) or NODEUP(4) for",
                           &c->joined[i]);
        }
    }
    for (i = 0; i < c->nl; ++i) {
        if ((c->left[i].reason != CPG_TRACE_LEAVE) && (c->left[i].reason != CPG_TRACE_NODEDOWN) &&
            (c->left[i].reason != CPG_TRACE_PROCDOWN)) {
            return fail_m3(ctx, s, r,
                           "left reason is not LEAVE(2), NODEDOWN(3) or PROCDOWN(5) for",
                           &c->left[i]);
        }
    }
    return 0;
}

/* The first confchg of a membership episode: nothing to diff against. */
static int check_episode_start(const check_ctx_t *ctx, const stream_t *s, const trace_rec_t *r)
{
    const trace_c_t *c = &r->u.c;
    size_t i;

    if (addr_find(c->joined, c->nj, s->t->nodeid, s->t->pid) == NULL) {
        return fail_m3(ctx, s, r,
                       "the first confchg of a membership episode does not list the process "
                       "itself in joined",
                       NULL);
    }
    if (addr_find(c->left, c->nl, s->t->nodeid, s->t->pid) != NULL) {
        return fail_m3(ctx, s, r, "the process leaves in the confchg that starts its episode",
                       NULL);
    }
    for (i = 0; i < c->nl; ++i) {
        if (member_of(c, c->left[i].nodeid, c->left[i].pid)) {
            return fail_m3(ctx, s, r, "left list names a member", &c->left[i]);
        }
    }
    for (i = 0; i < c->nj; ++i) {
        if (!member_of(c, c->joined[i].nodeid, c->joined[i].pid)) {
            return fail_m3(ctx, s, r, "joined list names a non-member", &c->joined[i]);
        }
    }
    return 0;
}

/* V -> V': joined = V' - V and left = V - V' as sets. */
static int check_view_change(const check_ctx_t *ctx, const stream_t *s, const trace_rec_t *prev,
                             const trace_rec_t *r)
{
    const trace_c_t *v = &prev->u.c, *w = &r->u.c;
    const struct cpg_trace_addr *missing, *extra;
    char what[160];

    if (!diff_equals(w->members, w->nm, v->members, v->nm, w->joined, w->nj, &missing, &extra)) {
        snprintf(what, sizeof(what),
                 "joined list is not the members added since the previous view (line %zu): %s",
                 prev->line, (missing != NULL) ? "missing new member" : "lists non-new member");
        return fail_m3(ctx, s, r, what, (missing != NULL) ? missing : extra);
    }
    if (!diff_equals(v->members, v->nm, w->members, w->nm, w->left, w->nl, &missing, &extra)) {
        snprintf(what, sizeof(what),
                 "left list is not the members removed since the previous view (line %zu): %s",
                 prev->line,
                 (missing != NULL) ? "missing removed member" : "lists non-removed member");
        return fail_m3(ctx, s, r, what, (missing != NULL) ? missing : extra);
    }
    return 0;
}

/* M2, then M3. *view is the view in force (NULL outside an episode); it is
 * updated to the one this confchg installs. */
static int check_confchg(const check_ctx_t *ctx, const stream_t *s, const trace_rec_t *r,
                         const trace_rec_t **view, runs_t *runs)
{
    const trace_c_t *c = &r->u.c;
    bool self_left   = (addr_find(c->left, c->nl, s->t->nodeid, s->t->pid) != NULL);
    bool self_member = (addr_find(c->members, c->nm, s->t->nodeid, s->t->pid) != NULL);
    desc_t d;
    int rc;

    if (self_left && self_member) {
        return fail(ctx->e, "M2 self-inclusion: group %s: %s:%zu: the process %" PRIu32 ":%" PRIu32
                    " is both in left and in members of '%s'", ctx->ghex, s->t->path, r->line,
                    s->t->nodeid, s->t->pid, describe(&d, ctx, r));
    }
    if (!self_left && !self_member) {
        return fail(ctx->e, "M2 self-inclusion: group %s: %s:%zu: the member list does not "
                    "contain the process itself (%" PRIu32 ":%" PRIu32 ") in '%s'", ctx->ghex,
                    s->t->path, r->line, s->t->nodeid, s->t->pid, describe(&d, ctx, r));
    }
    rc = check_confchg_lists(ctx, s, r);
    if (rc == 0) {
        rc = (*view == NULL) ? check_episode_start(ctx, s, r)
                             : check_view_change(ctx, s, *view, r);
    }
    if (rc != 0) {
        return rc;
    }
    if (*view == NULL) {
        runs->n = 0; /* a new episode: every sender may start anywhere */
    } else {
        runs_prune(runs, c);
    }
    *view = self_left ? NULL : r;
    return 0;
}

/* D2, D1 and F1 for one delivery in the view installed by *view. */
static int check_deliver(const check_ctx_t *ctx, const stream_t *s, const trace_rec_t *r,
                         const trace_rec_t *view, runs_t *runs)
{
    const trace_d_t *m = &r->u.d;
    bool self = (m->nodeid == s->t->nodeid) && (m->pid == s->t->pid);
    const char *f1 = self ? "F1 FIFO (self-delivery, D3)" : "F1 FIFO";
    sender_run_t *run;
    desc_t d;

    if (view == NULL) {
        return fail(ctx->e, "D2 sending-view delivery: group %s: %s:%zu: delivery outside a "
                    "membership episode (before the process's first confchg or after it left): "
                    "'%s'", ctx->ghex, s->t->path, r->line, describe(&d, ctx, r));
    }
    if (!member_of(&view->u.c, m->nodeid, m->pid)) {
        return fail(ctx->e, "D2 sending-view delivery: group %s: %s:%zu: sender %" PRIu32
                    ":%" PRIu32 " is not a member of the current view (installed at line %zu): "
                    "'%s'", ctx->ghex, s->t->path, r->line, m->nodeid, m->pid, view->line,
                    describe(&d, ctx, r));
    }
    if (!m->has_tag) {
        return 0; /* untagged: only its position is checked (pairwise) */
    }
    if (m->tag_pid != m->pid) {
        return fail(ctx->e, "D1 integrity: group %s: %s:%zu: tag %" PRIu32 ".%" PRIu64
                    " names sender pid %" PRIu32 " but the message came from %" PRIu32 ":%" PRIu32,
                    ctx->ghex, s->t->path, r->line, m->tag_pid, m->counter, m->tag_pid, m->nodeid,
                    m->pid);
    }
    run = runs_find(runs, m->nodeid, m->pid);
    if (run == NULL) {
        if (grow((void **)&runs->v, &runs->cap, runs->n, sizeof(*runs->v)) != 0) {
            return fail(ctx->e, "out of memory");
        }
        runs->v[runs->n++] = (sender_run_t){m->nodeid, m->pid, m->counter, m->counter, r->line};
        return 0;
    }
    if ((run->last != UINT64_MAX) && (m->counter == run->last + 1)) {
        run->last = m->counter;
        return 0;
    }
    if ((m->counter >= run->first) && (m->counter <= run->last)) {
        return fail(ctx->e, "D1 integrity: group %s: %s:%zu: tag %" PRIu32 ".%" PRIu64
                    " delivered twice in one membership episode (%" PRIu32 ".%" PRIu64 "..%" PRIu64
                    " were delivered since line %zu)", ctx->ghex, s->t->path, r->line, m->tag_pid,
                    m->counter, m->tag_pid, run->first, run->last, run->since_line);
    }
    if (m->counter > run->last) {
        return fail(ctx->e, "%s: group %s: %s:%zu: gap: expected tag %" PRIu32 ".%" PRIu64
                    " next, got %" PRIu32 ".%" PRIu64, f1, ctx->ghex, s->t->path, r->line,
                    m->tag_pid, run->last + 1, m->tag_pid, m->counter);
    }
    return fail(ctx->e, "%s: group %s: %s:%zu: tag %" PRIu32 ".%" PRIu64 " delivered after the "
                "later %" PRIu32 ".%" PRIu64 "..%" PRIu64 " (delivered since line %zu)", f1,
                ctx->ghex, s->t->path, r->line, m->tag_pid, m->counter, m->tag_pid, run->first,
                run->last, run->since_line);
}

/* Every property one process's stream must satisfy on its own. An episode
 * runs from a confchg joining the process to one where it is in left. */
static int check_stream(const check_ctx_t *ctx, const stream_t *s)
{
    const trace_rec_t *view = NULL;
    runs_t runs = {0};
    size_t i;
    int rc = 0;

    for (i = 0; (i < s->n) && (rc == 0); ++i) {
        const trace_rec_t *r = s->r[i];

        rc = (r->type == 'C') ? check_confchg(ctx, s, r, &view, &runs)
                              : check_deliver(ctx, s, r, view, &runs);
    }
    free(runs.v);
    return rc;
}


/* --- pairwise checks: M1, A1, A3, V1, S1 ------------------------------------------------ */

enum { PAIR_ERROR = -1, PAIR_CONTINUE = 0, PAIR_DONE = 1 };

/* The first confchg equal to r in s at or after from, or s->n. */
static size_t find_confchg(const stream_t *s, size_t from, const trace_rec_t *r)
{
    for (; from < s->n; ++from) {
        if (rec_equal(s->r[from], r)) {
            break;
        }
    }
    return from;
}

/* A delivery equal to r in s at or after from, before s leaves; or s->n. */
static size_t find_deliver(const stream_t *s, size_t from, const trace_rec_t *r)
{
    for (; from < s->n; ++from) {
        if (rec_equal(s->r[from], r)) {
            return from;
        }
        if (c_left_entry(s->r[from], s->t) != NULL) {
            break;
        }
    }
    return s->n;
}

/* A crashed process (no X) whose stream from i on holds deliveries only:
 * the deliveries it made just before dying. */
static bool is_crash_tail(const stream_t *s, size_t i)
{
    if (s->t->clean) {
        return false;
    }
    for (; i < s->n; ++i) {
        if (s->r[i]->type != 'D') {
            return false;
        }
    }
    return true;
}

/* A crashed process c delivered s->r[i..] where the survivor o installs
 * the confchg o->r[j] instead. Without uniform agreement that is fine for
 * non-SAFE messages; a SAFE one must have reached every member (S1). */
static int check_crash_tail(const check_ctx_t *ctx, const stream_t *c, size_t i,
                            const stream_t *o, size_t j)
{
    const trace_rec_t *view = o->r[j];
    const struct cpg_trace_addr *gone = c_left_entry(view, c->t);
    desc_t d1, d2;

    for (; i < c->n; ++i) {
        if (c->r[i]->u.d.guarantee == CPG_TRACE_SAFE) {
            return fail(ctx->e, "S1 SAFE: group %s: crashed process %s:%zu delivered SAFE '%s' "
                        "that survivor %s did not deliver in that view (%s:%zu installs '%s' "
                        "instead)", ctx->ghex, c->t->path, c->r[i]->line,
                        describe(&d1, ctx, c->r[i]), o->t->path, o->t->path, view->line,
                        describe(&d2, ctx, view));
        }
    }
    if ((gone != NULL) && (gone->reason != CPG_TRACE_NODEDOWN) &&
        (gone->reason != CPG_TRACE_PROCDOWN)) {
        return fail(ctx->e, "M3 confchg consistency: group %s: %s:%zu removes the crashed "
                    "process %s with reason %" PRIu32 ", expected NODEDOWN(3) or PROCDOWN(5): "
                    "'%s'", ctx->ghex, o->t->path, view->line, c->t->path, gone->reason,
                    describe(&d1, ctx, view));
    }
    return PAIR_DONE;
}

/* q->r[iq] and p->r[ip] differ, having agreed since (aq, ap). Decides which
 * property that breaks, or accepts a crashed process's last deliveries. */
static int pair_mismatch(const check_ctx_t *ctx, const stream_t *q, size_t iq, const stream_t *p,
                         size_t ip, size_t aq, size_t ap)
{
    const trace_rec_t *a = q->r[iq], *b = p->r[ip];
    const stream_t *ds, *cs; /* the side that delivers and the side that installs a view */
    const trace_rec_t *dr, *cr;
    size_t later;
    desc_t d1, d2;
    char since[512];

    if ((b->type == 'C') && is_crash_tail(q, iq)) {
        return check_crash_tail(ctx, q, iq, p, ip);
    }
    if ((a->type == 'C') && is_crash_tail(p, ip)) {
        return check_crash_tail(ctx, p, ip, q, iq);
    }
    snprintf(since, sizeof(since), "(streams agree from %s:%zu / %s:%zu)", q->t->path,
             q->r[aq]->line, p->t->path, p->r[ap]->line);
    if ((a->type == 'C') && (b->type == 'C')) {
        return fail(ctx->e, "M1 view identity: group %s: %s:%zu installs '%s' but %s:%zu "
                    "installs '%s' %s", ctx->ghex, q->t->path, a->line, describe(&d1, ctx, a),
                    p->t->path, b->line, describe(&d2, ctx, b), since);
    }
    if ((a->type == 'D') && (b->type == 'D')) {
        return fail(ctx->e, "A1 total order: group %s: %s:%zu delivers '%s' but %s:%zu delivers "
                    "'%s' at the same position %s", ctx->ghex, q->t->path, a->line,
                    describe(&d1, ctx, a), p->t->path, b->line, describe(&d2, ctx, b), since);
    }
    if (a->type == 'D') {
        ds = q, dr = a, cs = p, cr = b;
        later = find_deliver(p, ip + 1, a);
    } else {
        ds = p, dr = b, cs = q, cr = a;
        later = find_deliver(q, iq + 1, b);
    }
    if (later < cs->n) {
        return fail(ctx->e, "A3 confchg position: group %s: %s:%zu delivers '%s' before the "
                    "view change, but %s:%zu installs '%s' first and delivers it after, at "
                    "line %zu %s", ctx->ghex, ds->t->path, dr->line, describe(&d1, ctx, dr),
                    cs->t->path, cr->line, describe(&d2, ctx, cr), cs->r[later]->line, since);
    }
    return fail(ctx->e, "V1 virtual synchrony: group %s: %s:%zu delivers '%s' in the view, but "
                "%s:%zu installs the next view '%s' without delivering it %s", ctx->ghex,
                ds->t->path, dr->line, describe(&d1, ctx, dr), cs->t->path, cr->line,
                describe(&d2, ctx, cr), since);
}

/* Walks q from *iq and p from *ip, which hold the same confchg, while both
 * are in the group together: the records must be equal until one of them
 * leaves (PAIR_CONTINUE, indexes past that confchg) or a stream ends, which
 * makes it a prefix of the other (PAIR_DONE). */
static int pair_compare(const check_ctx_t *ctx, const stream_t *q, size_t *iq, const stream_t *p,
                        size_t *ip)
{
    size_t aq = *iq, ap = *ip;

    while ((*iq < q->n) && (*ip < p->n)) {
        const trace_rec_t *a = q->r[*iq], *b = p->r[*ip];

        if (!rec_equal(a, b)) {
            return pair_mismatch(ctx, q, *iq, p, *ip, aq, ap);
        }
        ++*iq;
        ++*ip;
        if ((c_left_entry(a, q->t) != NULL) || (c_left_entry(a, p->t) != NULL)) {
            return PAIR_CONTINUE;
        }
    }
    return PAIR_DONE;
}

/* q's view r lists p as a member but p never installs it. Fine if p's
 * stream ends before that view; a contradiction if p later shows q as a
 * member (or as leaving), since p then went on past it. */
static int pair_unmatched(const check_ctx_t *ctx, const stream_t *q, size_t iq, const stream_t *p,
                          size_t ip)
{
    desc_t d1, d2;

    for (; ip < p->n; ++ip) {
        const trace_rec_t *b = p->r[ip];

        if ((b->type == 'C') && (c_has_member(b, q->t) || (c_left_entry(b, q->t) != NULL))) {
            return fail(ctx->e, "M1 view identity: group %s: %s:%zu installs '%s' listing %s as "
                        "a member, which never installs that view, though it goes on to %s:%zu "
                        "'%s'", ctx->ghex, q->t->path, q->r[iq]->line,
                        describe(&d1, ctx, q->r[iq]), p->t->path, p->t->path, b->line,
                        describe(&d2, ctx, b));
        }
    }
    return PAIR_DONE;
}

/* Every stretch of q's stream in which p is a member, against p's stream. */
static int check_pair(const check_ctx_t *ctx, const stream_t *q, const stream_t *p)
{
    size_t iq = 0, ip = 0, m;
    int rc;

    for (;;) {
        /* The confchg that opens the next stretch: q's own join while p is a
         * member, or p joining q's view. */
        while ((iq < q->n) && !c_has_member(q->r[iq], p->t)) {
            ++iq;
        }
        if (iq == q->n) {
            return 0;
        }
        /* The first equal confchg is the right one: an earlier look-alike
         * would mean p saw q join in a view that q's stream lacks. */
        m = find_confchg(p, ip, q->r[iq]);
        rc = (m == p->n) ? pair_unmatched(ctx, q, iq, p, ip) : pair_compare(ctx, q, &iq, p, &m);
        if (rc != PAIR_CONTINUE) {
            return (rc == PAIR_ERROR) ? -1 : 0;
        }
        ip = m;
    }
}


/* --- driver ------------------------------------------------------------------------------ */

static void streams_free(stream_t *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        free(s[i].r);
    }
    free(s);
}

/* Every trace cut down to group g (traces without it get an empty stream). */
static stream_t *streams_build(const trace_t *traces, size_t n, size_t g)
{
    stream_t *s = calloc(n ? n : 1, sizeof(*s));
    size_t i, j, k;

    if (s == NULL) {
        return NULL;
    }
    for (i = 0; i < n; ++i) {
        s[i].t = &traces[i];
        for (k = 0, j = 0; j < traces[i].nrecs; ++j) {
            k += (traces[i].recs[j].group == g);
        }
        if (k == 0) {
            continue;
        }
        s[i].r = malloc(k * sizeof(*s[i].r));
        if (s[i].r == NULL) {
            streams_free(s, n);
            return NULL;
        }
        for (j = 0; j < traces[i].nrecs; ++j) {
            if (traces[i].recs[j].group == g) {
                s[i].r[s[i].n++] = &traces[i].recs[j];
            }
        }
    }
    return s;
}

static int check_group(const trace_t *traces, size_t n, const group_table_t *groups, size_t g,
                       errbuf_t *e)
{
    check_ctx_t ctx = {groups, groups->hex[g], e};
    stream_t *s = streams_build(traces, n, g);
    size_t i, j;
    int rc = 0;

    if (s == NULL) {
        return fail(e, "out of memory");
    }
    for (i = 0; (i < n) && (rc == 0); ++i) {
        rc = check_stream(&ctx, &s[i]);
    }
    for (i = 0; (i < n) && (rc == 0); ++i) {
        for (j = 0; (j < n) && (rc == 0); ++j) {
            if ((i != j) && (s[i].n != 0) && (s[j].n != 0)) {
                rc = check_pair(&ctx, &s[i], &s[j]);
            }
        }
    }
    streams_free(s, n);
    return rc;
}

/* The pairwise checks identify a process by (nodeid, pid). */
static int check_identities(const trace_t *traces, size_t n, errbuf_t *e)
{
    size_t i, j;

    for (i = 0; i < n; ++i) {
        for (j = i + 1; j < n; ++j) {
            if ((traces[i].nodeid == traces[j].nodeid) && (traces[i].pid == traces[j].pid)) {
                return fail(e, "%s and %s were written by the same process %" PRIu32 ":%" PRIu32,
                            traces[i].path, traces[j].path, traces[i].nodeid, traces[i].pid);
            }
        }
    }
    return 0;
}

int cpg_trace_check(const char *const *paths, size_t npaths, char *err, size_t errlen)
{
    errbuf_t e = {err, errlen};
    group_table_t groups = {0};
    trace_t *traces;
    size_t i, parsed = 0;
    int rc = 0;

    if ((err != NULL) && (errlen > 0)) {
        err[0] = '\0';
    }
    if ((paths == NULL) && (npaths > 0)) {
        return fail(&e, "no trace paths");
    }
    traces = calloc(npaths ? npaths : 1, sizeof(*traces));
    if (traces == NULL) {
        return fail(&e, "out of memory");
    }
    for (i = 0; (i < npaths) && (rc == 0); ++i, ++parsed) {
        rc = parse_trace(&traces[i], paths[i], &groups, &e);
    }
    if (rc == 0) {
        rc = check_identities(traces, npaths, &e);
    }
    for (i = 0; (i < groups.n) && (rc == 0); ++i) {
        rc = check_group(traces, npaths, &groups, i, &e);
    }
    for (i = 0; i < parsed; ++i) {
        trace_free(&traces[i]);
    }
    free(traces);
    groups_free(&groups);
    return rc;
}

int cpg_trace_count(const char *path, const char *group_hex, size_t *nconfchg, size_t *ndeliver)
{
    group_table_t groups = {0};
    errbuf_t e = {NULL, 0};
    char *want = NULL;
    size_t i, g = SIZE_MAX, nc = 0, nd = 0;
    trace_t t;
    int rc;

    if (group_hex != NULL) {
        want = strdup(group_hex);
        if ((want == NULL) || !normalise_group(want)) {
            free(want);
            return -1;
        }
    }
    rc = parse_trace(&t, path, &groups, &e);
    if ((rc == 0) && (want != NULL)) {
        for (i = 0; i < groups.n; ++i) {
            if (strcmp(groups.hex[i], want) == 0) {
                g = i;
            }
        }
    }
    for (i = 0; (rc == 0) && (i < t.nrecs); ++i) {
        if ((want == NULL) || (t.recs[i].group == g)) {
            nc += (t.recs[i].type == 'C');
            nd += (t.recs[i].type == 'D');
        }
    }
    trace_free(&t);
    groups_free(&groups);
    free(want);
    if (rc != 0) {
        return -1;
    }
    if (nconfchg != NULL) {
        *nconfchg = nc;
    }
    if (ndeliver != NULL) {
        *ndeliver = nd;
    }
    return 0;
}
