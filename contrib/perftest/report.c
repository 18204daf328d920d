/*
 * report.c - what ucx_cpg_perftest prints: ucx_perftest's table (box,
 * column header, progress lines, "Final:" line), its -f form, CSV and JSON.
 *
 * The table's columns are ucx_perftest 1.13's, character for character
 * (widths 10+18+11+10+10+12+11+12+12 = 106), so scripts that read
 * ucx_perftest's output read ours: the -f line is eight numbers, the
 * "Final:" line the word and eight numbers. CSV has one row and JSON one
 * object per size, final results only; progress lines appear in the table
 * only (not with -f).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <math.h>
#include <string.h>

#define PT_BOX_WIDTH 108   /* ucx_perftest's test box is two wider than its table */

static const char pt_rule[] =
    "+--------------+--------------+----------+---------+---------+----------+----------+"
    "-----------+-----------+";

void pt_report_init(pt_report_t *rep, FILE *out, const pt_opts_t *o, const char *mode_name)
{
    memset(rep, 0, sizeof(*rep));
    rep->out        = out;
    rep->format     = o->output;
    rep->final_only = o->final_only;
    rep->percentile = o->percentile;
    rep->mode_name  = mode_name;
    rep->guarantee_name = pt_guarantee_name(o->guarantee);
}

static int pt_is_latency_test(int test)
{
    const char *name = pt_tests[test].name;
    size_t len       = strlen(name);

    return (len > 4) && (strcmp(name + len - 4, "_lat") == 0);
}

/* "| text...padded |" */
static void pt_box_line(FILE *out, const char *label, const char *text)
{
    char line[512];

    snprintf(line, sizeof(line), "%-14s%s", label, text);
    fprintf(out, "| %-*.*s|\n", PT_BOX_WIDTH - 3, PT_BOX_WIDTH - 3, line);
}

static void pt_box_rule(FILE *out)
{
    char line[PT_BOX_WIDTH + 1];

    memset(line, '-', PT_BOX_WIDTH);
    line[0]                = '+';
    line[PT_BOX_WIDTH - 1] = '+';
    line[PT_BOX_WIDTH]     = '\0';
    fprintf(out, "%s\n", line);
}

static void pt_column_header(FILE *out, int test, double percentile, int final_only)
{
    char pct[16], cell[32];
    size_t len, left;

    snprintf(pct, sizeof(pct), "%.1f%%ile", percentile);
    len  = strlen(pct);
    left = (len < 10) ? (10 - len + 1) / 2 : 0;
    memset(cell, ' ', 10);
    memcpy(cell + left, pct, (len < 10) ? len : 10);
    cell[(len < 10) ? 10 : left + len] = '\0';
    fprintf(out, "%s\n", pt_rule);
    fprintf(out, "|              |              |%s|   bandwidth (MB/s)  |"
                 "  message rate (msg/s) |\n",
            pt_is_latency_test(test) ? "        latency (usec)        "
                                     : "       overhead (usec)        ");
    fprintf(out, "%s\n", pt_rule);
    fprintf(out, "|%s| # iterations |%s| average | overall |  average |  overall |  average  |"
                 "  overall  |\n",
            final_only ? "     Test     " : "    Stage     ", cell);
    fprintf(out, "%s\n", pt_rule);
}

void pt_report_format_line(char *buf, size_t len, const pt_result_t *r, int final_only)
{
    char stage[32];

    if (final_only) {
        stage[0] = '\0';
    } else if (r->final) {
        snprintf(stage, sizeof(stage), "Final:");
    } else {
        snprintf(stage, sizeof(stage), "[%.1f s]", r->elapsed_s);
    }
    snprintf(buf, len, "%-10s%18.0f %10.3f %9.3f %9.3f %11.2f %10.2f %11.0f %11.0f", stage,
             (double)r->iters, r->typical_us, r->moment_lat_us, r->total_lat_us, r->moment_bw,
             r->total_bw, r->moment_mr, r->total_mr);
}

unsigned pt_result_pick(const pt_result_t *rs, unsigned n)
{
    unsigned i, pick = 0;

    if (n == 0) {
        return 0;
    }
    if (rs[0].test == PT_TEST_CPG_MCAST_LAT) {
        for (i = 0; i < n; ++i) {
            if (rs[i].rank == 0) {
                return i;
            }
        }
        return 0;
    }
    for (i = 1; i < n; ++i) {
        if (rs[i].total_mr < rs[pick].total_mr) {
            pick = i;
        }
    }
    return pick;
}

void pt_json_number(char *buf, size_t len, double v)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, len, "null");
    } else {
        snprintf(buf, len, "%.6g", v);
        if ((fabs(v) >= 1e6) && (fabs(v) < 1e15) && (v == floor(v))) {
            snprintf(buf, len, "%.0f", v);     /* large counts and rates without exponent */
        }
    }
}

/* A JSON string (the texts here are test names and messages: escape the
 * few characters that need it, drop other control bytes). */
static void pt_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; (s != NULL) && (*s != '\0'); ++s) {
        unsigned char ch = (unsigned char)*s;

        if ((ch == '"') || (ch == '\\')) {
            fputc('\\', out);
            fputc(ch, out);
        } else if (ch == '\n') {
            fputs("\\n", out);
        } else if (ch == '\t') {
            fputs("\\t", out);
        } else if (ch >= 0x20) {
            fputc(ch, out);
        }
    }
    fputc('"', out);
}

static const char *pt_api_name(int test)
{
    return (pt_tests[test].flags & PT_TF_RSM) ? "ucx_cpg RSMAPI (<rsmapi.h>)"
                                              : "CPG (<corosync/cpg.h>)";
}

void pt_report_begin(pt_report_t *rep, const pt_opts_t *o)
{
    FILE *out = rep->out;
    int cpg   = (pt_tests[o->test].flags & PT_TF_CPG) != 0;
    char num[64];

    rep->started = 1;
    switch (rep->format) {
    case PT_OUT_CSV:
        fprintf(out, "test,size,members,senders,guarantee,iterations,%.1f_percentile_lat,"
                     "avg_lat,overall_lat,avg_bw,overall_bw,avg_mr,overall_mr,elapsed_s,"
                     "retries\n", rep->percentile);
        break;
    case PT_OUT_JSON:
        fprintf(out, "{\"tool\":\"ucx_cpg_perftest\",\"version\":");
        pt_json_string(out, PT_VERSION);
        fprintf(out, ",\"mode\":");
        pt_json_string(out, rep->mode_name);
        fprintf(out, ",\"test\":");
        pt_json_string(out, pt_tests[o->test].name);
        fprintf(out, ",\"title\":");
        pt_json_string(out, pt_tests[o->test].title);
        pt_json_number(num, sizeof(num), rep->percentile);
        fprintf(out, ",\"percentile\":%s,\"iterations\":%llu,\"warmup\":%llu", num,
                (unsigned long long)o->iters, (unsigned long long)o->warmup);
        if (cpg) {
            fprintf(out, ",\"members\":%u,\"senders\":%u,\"guarantee\":\"%s\"",
                    pt_opts_members(o), pt_opts_senders(o), pt_guarantee_name(o->guarantee));
        }
        fprintf(out, ",\"units\":{\"latency\":\"usec\",\"bandwidth\":\"MiB/s\","
                     "\"message_rate\":\"msg/s\"},\"results\":[");
        break;
    case PT_OUT_TABLE:
        if (rep->final_only) {
            pt_column_header(out, o->test, rep->percentile, 1);
        }
        break;
    }
    fflush(out);
}

void pt_report_phase(pt_report_t *rep, const pt_opts_t *o, size_t size)
{
    FILE *out = rep->out;
    char text[256];

    if ((rep->format != PT_OUT_TABLE) || rep->final_only) {
        return;
    }
    pt_box_rule(out);
    pt_box_line(out, "API:", pt_api_name(o->test));
    pt_box_line(out, "Test:", pt_tests[o->test].name);
    pt_box_line(out, "Measures:", pt_tests[o->test].title);
    snprintf(text, sizeof(text), "%zu", size);
    pt_box_line(out, "Message size:", text);
    snprintf(text, sizeof(text), "%llu (after %llu warm-up)", (unsigned long long)o->iters,
             (unsigned long long)o->warmup);
    pt_box_line(out, "Iterations:", text);
    if (pt_tests[o->test].flags & PT_TF_CPG) {
        snprintf(text, sizeof(text), "%u members, %u sender(s), %s, wait mode %s",
                 pt_opts_members(o), pt_opts_senders(o), pt_guarantee_name(o->guarantee),
                 pt_opts_busy_wait(o) ? "poll" : "sleep");
        pt_box_line(out, "Group:", text);
    }
    pt_box_rule(out);
    pt_column_header(out, o->test, rep->percentile, 0);
    fflush(out);
}

static void pt_report_json_result(pt_report_t *rep, const pt_result_t *r)
{
    FILE *out = rep->out;
    char v[9][64];

    pt_json_number(v[0], sizeof(v[0]), r->elapsed_s);
    pt_json_number(v[1], sizeof(v[1]), r->typical_us);
    pt_json_number(v[2], sizeof(v[2]), r->moment_lat_us);
    pt_json_number(v[3], sizeof(v[3]), r->total_lat_us);
    pt_json_number(v[4], sizeof(v[4]), r->moment_bw);
    pt_json_number(v[5], sizeof(v[5]), r->total_bw);
    pt_json_number(v[6], sizeof(v[6]), r->moment_mr);
    pt_json_number(v[7], sizeof(v[7]), r->total_mr);
    fprintf(out, "%s\n  {\"size\":%zu,\"iterations\":%llu,\"elapsed_s\":%s,"
                 "\"latency\":{\"typical\":%s,\"average\":%s,\"overall\":%s},"
                 "\"bandwidth\":{\"average\":%s,\"overall\":%s},"
                 "\"message_rate\":{\"average\":%s,\"overall\":%s},"
                 "\"members\":%u,\"senders\":%u,\"rank\":%u,\"retries\":%llu,\"errors\":%llu}",
            (rep->results > 0) ? "," : "", r->size, (unsigned long long)r->iters, v[0], v[1],
            v[2], v[3], v[4], v[5], v[6], v[7], r->members, r->senders, r->rank,
            (unsigned long long)r->retries, (unsigned long long)r->errors);
}

void pt_report_result(pt_report_t *rep, const pt_result_t *r)
{
    FILE *out = rep->out;
    char line[256];

    if (!r->final && ((rep->format != PT_OUT_TABLE) || rep->final_only)) {
        return;
    }
    switch (rep->format) {
    case PT_OUT_TABLE:
        pt_report_format_line(line, sizeof(line), r, rep->final_only);
        fprintf(out, "%s\n", line);
        break;
    case PT_OUT_CSV:
        fprintf(out, "%s,%zu,%u,%u,%s,%llu,%.3f,%.3f,%.3f,%.2f,%.2f,%.0f,%.0f,%.6f,%llu\n",
                pt_tests[r->test].name, r->size, r->members, r->senders,
                (pt_tests[r->test].flags & PT_TF_CPG) ? rep->guarantee_name : "",
                (unsigned long long)r->iters, r->typical_us, r->moment_lat_us, r->total_lat_us,
                r->moment_bw, r->total_bw, r->moment_mr, r->total_mr, r->elapsed_s,
                (unsigned long long)r->retries);
        break;
    case PT_OUT_JSON:
        pt_report_json_result(rep, r);
        break;
    }
    if (r->final) {
        rep->results++;
    }
    fflush(out);
}

void pt_report_end(pt_report_t *rep, int status, const char *error)
{
    FILE *out = rep->out;

    if ((rep->format == PT_OUT_JSON) && rep->started) {
        fprintf(out, "\n],\"status\":\"%s\",\"exit_status\":%d,\"error\":",
                (status == PT_EXIT_OK) ? "ok" : "failed", status);
        if ((error != NULL) && (error[0] != '\0')) {
            pt_json_string(out, error);
        } else {
            fputs("null", out);
        }
        fputs("}\n", out);
    }
    fflush(out);
}
