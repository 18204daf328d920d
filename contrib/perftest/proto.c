/*
 * proto.c - the messages of the control channel (client <-> server) and the
 * result records (member -> local mode's reporter, server -> client).
 *
 * A message is one text line: a verb of capital letters, then "key=value"
 * fields separated by single spaces, then a newline. Keys are [a-z0-9_];
 * values are percent-encoded (every byte <= 0x20, '%', '=', >= 0x7f), so
 * error texts and names travel unchanged. Text keeps the channel readable
 * with strace or tcpdump and its decoder small: every field is checked
 * (known key, syntax, range) before use, and the decoder is unit-tested
 * with malformed lines (test/unit/test_perftest_proto.c).
 *
 * The session (see docs/perftest.md, "Modes"):
 *   C: HELLO version test sizes iters warmup senders guarantee verify wait
 *            percentile group
 *   S: WELCOME version domain registry pid [node segid seglen]   or  ERROR msg
 *   RSM:  C: SETUP node segid   S: READY           (client's segment, if any)
 *         per size: C: RUN size   S: GO   ...   C: DONE   S: OK | ERROR msg
 *   CPG:  per size: S: RESULT ... (the server member's numbers)
 *   C: BYE
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void pt_msg_init(pt_msg_t *m, const char *verb)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->verb, sizeof(m->verb), "%s", verb);
}

static int pt_key_ok(const char *key)
{
    size_t n = 0;

    for (; key[n] != '\0'; ++n) {
        if (!(islower((unsigned char)key[n]) || isdigit((unsigned char)key[n]) ||
              (key[n] == '_'))) {
            return 0;
        }
    }
    return (n > 0) && (n < sizeof(((pt_msg_t*)0)->field[0].key));
}

int pt_msg_set(pt_msg_t *m, const char *key, const char *value)
{
    unsigned i;

    if (!pt_key_ok(key) || (strlen(value) >= sizeof(m->field[0].value))) {
        return -1;
    }
    for (i = 0; i < m->nfields; ++i) {
        if (strcmp(m->field[i].key, key) == 0) {
            break;
        }
    }
    if (i == m->nfields) {
        if (m->nfields == sizeof(m->field) / sizeof(m->field[0])) {
            return -1;
        }
        m->nfields++;
    }
    snprintf(m->field[i].key, sizeof(m->field[i].key), "%s", key);
    snprintf(m->field[i].value, sizeof(m->field[i].value), "%s", value);
    return 0;
}

int pt_msg_set_u64(pt_msg_t *m, const char *key, uint64_t value)
{
    char text[32];

    snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
    return pt_msg_set(m, key, text);
}

int pt_msg_set_double(pt_msg_t *m, const char *key, double value)
{
    char text[48];

    snprintf(text, sizeof(text), "%.17g", value);
    return pt_msg_set(m, key, text);
}

const char *pt_msg_get(const pt_msg_t *m, const char *key)
{
    unsigned i;

    for (i = 0; i < m->nfields; ++i) {
        if (strcmp(m->field[i].key, key) == 0) {
            return m->field[i].value;
        }
    }
    return NULL;
}

int pt_msg_get_u64(const pt_msg_t *m, const char *key, uint64_t *value_p)
{
    const char *text = pt_msg_get(m, key);
    unsigned long long v;
    char *end;

    if ((text == NULL) || !isdigit((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    v     = strtoull(text, &end, 10);
    if ((errno != 0) || (*end != '\0')) {
        return -1;
    }
    *value_p = v;
    return 0;
}

int pt_msg_get_double(const pt_msg_t *m, const char *key, double *value_p)
{
    const char *text = pt_msg_get(m, key);
    char *end;
    double v;

    if ((text == NULL) || (text[0] == '\0')) {
        return -1;
    }
    errno = 0;
    v     = strtod(text, &end);
    if ((errno != 0) || (*end != '\0') || isnan(v) || isinf(v)) {
        return -1;
    }
    *value_p = v;
    return 0;
}

static int pt_needs_escape(unsigned char ch)
{
    return (ch <= 0x20) || (ch >= 0x7f) || (ch == '%') || (ch == '=');
}

int pt_msg_encode(const pt_msg_t *m, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t pos = 0;
    unsigned i;
    int n;

    n = snprintf(buf, len, "%s", m->verb);
    if ((n < 0) || ((size_t)n >= len)) {
        return -1;
    }
    pos = (size_t)n;
    for (i = 0; i < m->nfields; ++i) {
        const unsigned char *v = (const unsigned char*)m->field[i].value;

        n = snprintf(buf + pos, len - pos, " %s=", m->field[i].key);
        if ((n < 0) || ((size_t)n >= len - pos)) {
            return -1;
        }
        pos += (size_t)n;
        for (; *v != '\0'; ++v) {
            if (pos + 4 >= len) {
                return -1;
            }
            if (pt_needs_escape(*v)) {
                buf[pos++] = '%';
                buf[pos++] = hex[*v >> 4];
                buf[pos++] = hex[*v & 0xf];
            } else {
                buf[pos++] = (char)*v;
            }
        }
    }
    if (pos + 2 > len) {
        return -1;
    }
    buf[pos++] = '\n';
    buf[pos]   = '\0';
    return (int)pos;
}

static int pt_hex_value(char c)
{
    if ((c >= '0') && (c <= '9')) {
        return c - '0';
    }
    if ((c >= 'A') && (c <= 'F')) {
        return c - 'A' + 10;
    }
    if ((c >= 'a') && (c <= 'f')) {
        return c - 'a' + 10;
    }
    return -1;
}

/* The verb: capital letters, at least one. Returns where it ends, or NULL. */
static const char *pt_msg_decode_verb(const char *p, const char *end, pt_msg_t *m)
{
    size_t n = 0;

    while ((p < end) && (*p >= 'A') && (*p <= 'Z')) {
        if (n + 1 >= sizeof(m->verb)) {
            return NULL;
        }
        m->verb[n++] = *p++;
    }
    return (n == 0) ? NULL : p;
}

/* One " key=value" field, added to m. Returns where it ends, or NULL. */
static const char *pt_msg_decode_field(const char *p, const char *end, pt_msg_t *m)
{
    char key[sizeof(m->field[0].key)], value[sizeof(m->field[0].value)];
    size_t k = 0, v = 0;

    if (*p++ != ' ') {
        return NULL;
    }
    while ((p < end) && (*p != '=') && (*p != ' ')) {
        if (k + 1 >= sizeof(key)) {
            return NULL;
        }
        key[k++] = *p++;
    }
    key[k] = '\0';
    if ((p == end) || (*p++ != '=') || !pt_key_ok(key) || (pt_msg_get(m, key) != NULL)) {
        return NULL;
    }
    while ((p < end) && (*p != ' ')) {
        unsigned char ch = (unsigned char)*p;
        int hi, lo;

        if (v + 1 >= sizeof(value)) {
            return NULL;
        }
        if (ch != '%') {
            if (pt_needs_escape(ch)) {
                return NULL;
            }
            value[v++] = (char)ch;
            p++;
            continue;
        }
        hi = (end - p > 2) ? pt_hex_value(p[1]) : -1;
        lo = (hi < 0) ? -1 : pt_hex_value(p[2]);
        if ((lo < 0) || ((hi == 0) && (lo == 0))) {
            return NULL;              /* not two hex digits, or a NUL */
        }
        value[v++] = (char)(hi * 16 + lo);
        p += 3;
    }
    value[v] = '\0';
    return (pt_msg_set(m, key, value) == 0) ? p : NULL;
}

int pt_msg_decode_bytes(const char *line, size_t len, pt_msg_t *m)
{
    const char *end = line + len, *p;

    memset(m, 0, sizeof(*m));
    if ((len > 0) && (line[len - 1] == '\n')) {
        --end;
    }
    /* One line of text: a NUL or a newline inside would cut it short for
     * whoever reads it as a C string after us. */
    if ((memchr(line, '\0', (size_t)(end - line)) != NULL) ||
        (memchr(line, '\n', (size_t)(end - line)) != NULL)) {
        return -1;
    }
    p = pt_msg_decode_verb(line, end, m);
    while ((p != NULL) && (p < end)) {
        p = pt_msg_decode_field(p, end, m);
    }
    return (p == NULL) ? -1 : 0;
}

int pt_msg_decode(const char *line, pt_msg_t *m)
{
    return pt_msg_decode_bytes(line, strlen(line), m);
}

/* --- result records ---------------------------------------------------------- */

void pt_result_to_msg(const pt_result_t *r, pt_msg_t *m)
{
    pt_msg_init(m, r->final ? "RESULT" : "PROGRESS");
    pt_msg_set(m, "test", pt_tests[r->test].name);
    pt_msg_set_u64(m, "size", r->size);
    pt_msg_set_u64(m, "phase", r->phase);
    pt_msg_set_u64(m, "rank", r->rank);
    pt_msg_set_u64(m, "members", r->members);
    pt_msg_set_u64(m, "senders", r->senders);
    pt_msg_set_u64(m, "iters", r->iters);
    pt_msg_set_double(m, "elapsed", r->elapsed_s);
    pt_msg_set_double(m, "typical", r->typical_us);
    pt_msg_set_double(m, "mlat", r->moment_lat_us);
    pt_msg_set_double(m, "tlat", r->total_lat_us);
    pt_msg_set_double(m, "mbw", r->moment_bw);
    pt_msg_set_double(m, "tbw", r->total_bw);
    pt_msg_set_double(m, "mmr", r->moment_mr);
    pt_msg_set_double(m, "tmr", r->total_mr);
    pt_msg_set_u64(m, "retries", r->retries);
    pt_msg_set_u64(m, "errors", r->errors);
}

int pt_result_from_msg(const pt_msg_t *m, pt_result_t *r)
{
    uint64_t size, phase, rank, members, senders;
    const char *test;

    memset(r, 0, sizeof(*r));
    if (strcmp(m->verb, "RESULT") == 0) {
        r->final = 1;
    } else if (strcmp(m->verb, "PROGRESS") != 0) {
        return -1;
    }
    test = pt_msg_get(m, "test");
    if ((test == NULL) || ((r->test = pt_test_find(test)) < 0) ||
        (pt_msg_get_u64(m, "size", &size) != 0) || (size > PT_MAX_RSM_SIZE) ||
        (pt_msg_get_u64(m, "phase", &phase) != 0) || (phase >= PT_MAX_SIZES) ||
        (pt_msg_get_u64(m, "rank", &rank) != 0) || (rank >= PT_MAX_MEMBERS) ||
        (pt_msg_get_u64(m, "members", &members) != 0) || (members > PT_MAX_MEMBERS) ||
        (pt_msg_get_u64(m, "senders", &senders) != 0) || (senders > PT_MAX_MEMBERS) ||
        (pt_msg_get_u64(m, "iters", &r->iters) != 0) ||
        (pt_msg_get_double(m, "elapsed", &r->elapsed_s) != 0) ||
        (pt_msg_get_double(m, "typical", &r->typical_us) != 0) ||
        (pt_msg_get_double(m, "mlat", &r->moment_lat_us) != 0) ||
        (pt_msg_get_double(m, "tlat", &r->total_lat_us) != 0) ||
        (pt_msg_get_double(m, "mbw", &r->moment_bw) != 0) ||
        (pt_msg_get_double(m, "tbw", &r->total_bw) != 0) ||
        (pt_msg_get_double(m, "mmr", &r->moment_mr) != 0) ||
        (pt_msg_get_double(m, "tmr", &r->total_mr) != 0) ||
        (pt_msg_get_u64(m, "retries", &r->retries) != 0) ||
        (pt_msg_get_u64(m, "errors", &r->errors) != 0)) {
        return -1;
    }
    r->size    = (size_t)size;
    r->phase   = (unsigned)phase;
    r->rank    = (unsigned)rank;
    r->members = (unsigned)members;
    r->senders = (unsigned)senders;
    return 0;
}

/* --- HELLO ---------------------------------------------------------------------- */

void pt_hello_from_opts(const pt_opts_t *o, const char *group, pt_msg_t *m)
{
    char sizes[PT_MAX_SIZES * 24] = "", one[24];
    unsigned i;

    for (i = 0; i < o->nsizes; ++i) {
        snprintf(one, sizeof(one), "%s%zu", (i > 0) ? "," : "", o->sizes[i]);
        strncat(sizes, one, sizeof(sizes) - strlen(sizes) - 1);
    }
    pt_msg_init(m, "HELLO");
    pt_msg_set_u64(m, "version", PT_PROTO_VERSION);
    pt_msg_set(m, "test", pt_tests[o->test].name);
    pt_msg_set(m, "sizes", sizes);
    pt_msg_set_u64(m, "iters", o->iters);
    pt_msg_set_u64(m, "warmup", o->warmup);
    pt_msg_set_u64(m, "senders", o->senders);
    pt_msg_set(m, "guarantee", pt_guarantee_name(o->guarantee));
    pt_msg_set_u64(m, "verify", (uint64_t)o->verify_all);
    pt_msg_set(m, "wait", (o->wait == PT_WAIT_POLL) ? "poll" :
                          (o->wait == PT_WAIT_SLEEP) ? "sleep" : "auto");
    pt_msg_set_double(m, "percentile", o->percentile);
    pt_msg_set(m, "group", (group != NULL) ? group : "");
}

int pt_hello_to_opts(const pt_msg_t *m, pt_opts_t *o, char *group, size_t grouplen,
                     char *err, size_t errlen)
{
    const char *test = pt_msg_get(m, "test"), *sizes = pt_msg_get(m, "sizes");
    const char *g = pt_msg_get(m, "guarantee"), *wait = pt_msg_get(m, "wait");
    const char *name = pt_msg_get(m, "group");
    uint64_t version, verify, senders;
    const pt_test_info_t *ti;
    unsigned i;

    if ((strcmp(m->verb, "HELLO") != 0) || (pt_msg_get_u64(m, "version", &version) != 0)) {
        snprintf(err, errlen, "the client did not start with HELLO");
        return -1;
    }
    if (version != PT_PROTO_VERSION) {
        snprintf(err, errlen, "client speaks control protocol %llu, this server %u",
                 (unsigned long long)version, PT_PROTO_VERSION);
        return -1;
    }
    if ((test == NULL) || ((o->test = pt_test_find(test)) < 0)) {
        snprintf(err, errlen, "unknown test '%s'", (test != NULL) ? test : "");
        return -1;
    }
    ti = &pt_tests[o->test];
    if ((sizes == NULL) ||
        (pt_parse_size_list(sizes, o->sizes, PT_MAX_SIZES, &o->nsizes) != 0) ||
        (pt_msg_get_u64(m, "iters", &o->iters) != 0) || (o->iters < 1) ||
        (o->iters > PT_MAX_ITERS) || (pt_msg_get_u64(m, "warmup", &o->warmup) != 0) ||
        (o->warmup > PT_MAX_ITERS) || (pt_msg_get_u64(m, "senders", &senders) != 0) ||
        (senders > 2) || (pt_msg_get_u64(m, "verify", &verify) != 0) || (verify > 1) ||
        (pt_msg_get_double(m, "percentile", &o->percentile) != 0) ||
        !(o->percentile > 0.0) || (o->percentile > 100.0) || (g == NULL) || (wait == NULL) ||
        (name == NULL) || (strlen(name) >= grouplen)) {
        snprintf(err, errlen, "malformed HELLO");
        return -1;
    }
    for (i = 0; i < o->nsizes; ++i) {
        if ((o->sizes[i] < ti->min_size) || ((uint64_t)o->sizes[i] > ti->max_size)) {
            snprintf(err, errlen, "size %zu out of range for %s", o->sizes[i], ti->name);
            return -1;
        }
    }
    if (strcmp(g, "agreed") == 0) {
        o->guarantee = PT_GUARANTEE_AGREED;
    } else if (strcmp(g, "safe") == 0) {
        o->guarantee = PT_GUARANTEE_SAFE;
    } else {
        snprintf(err, errlen, "malformed HELLO (guarantee)");
        return -1;
    }
    if (strcmp(wait, "poll") == 0) {
        o->wait = PT_WAIT_POLL;
    } else if (strcmp(wait, "sleep") == 0) {
        o->wait = PT_WAIT_SLEEP;
    } else if (strcmp(wait, "auto") == 0) {
        o->wait = PT_WAIT_AUTO;
    } else {
        snprintf(err, errlen, "malformed HELLO (wait)");
        return -1;
    }
    if ((ti->flags & PT_TF_CPG) && (name[0] == '\0')) {
        snprintf(err, errlen, "malformed HELLO (no group name)");
        return -1;
    }
    o->senders    = (unsigned)senders;
    o->verify_all = (int)verify;
    o->sizes_set = o->iters_set = o->warmup_set = 1;
    snprintf(group, grouplen, "%s", name);
    return 0;
}
