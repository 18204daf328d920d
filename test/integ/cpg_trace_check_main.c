/*
 * cpg_trace_check_main.c - the trace checker (cpg_trace.h) as a command,
 * for tests whose processes are not started by the integration harness
 * (test_mpirun_hosts.sh):
 *
 *   cpg_trace_check TRACE...
 *
 * Exit 0 and "traces ok: ..." if every group-semantics property holds over
 * the traces, 1 and the checker's explanation if not, 2 on bad usage.
 */
#include <stdio.h>

#include "cpg_trace.h"

int main(int argc, char **argv)
{
    size_t nconfchg = 0, ndeliver = 0, c, d;
    char err[1024];
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: cpg_trace_check TRACE...\n");
        return 2;
    }
    if (cpg_trace_check((const char *const *)(argv + 1), (size_t)(argc - 1), err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "cpg_trace_check: %s\n", err);
        return 1;
    }
    for (i = 1; i < argc; ++i) {
        if (cpg_trace_count(argv[i], NULL, &c, &d) == 0) {
            nconfchg += c;
            ndeliver += d;
        }
    }
    printf("traces ok: %d trace(s), %zu confchg(s), %zu deliveries\n", argc - 1, nconfchg,
           ndeliver);
    return 0;
}
