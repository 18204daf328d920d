/*
 * contrib_args.h - command-line numbers for the programs of contrib (the
 * benchmarks, ucx_cpg_testcpg). Header-only: each is its own program.
 */
#ifndef UCPG_CONTRIB_ARGS_H
#define UCPG_CONTRIB_ARGS_H

#include <errno.h>
#include <stdlib.h>

/* A decimal number in [min, max], nothing else (no sign, no suffix): 0, or
 * -1 if text is not one. */
static inline int contrib_parse_ulong(const char *text, unsigned long min, unsigned long max,
                                      unsigned long *value_p)
{
    char *end;
    unsigned long v;

    if ((text[0] < '0') || (text[0] > '9')) {
        return -1;
    }
    errno = 0;
    v     = strtoul(text, &end, 10);
    if ((errno != 0) || (*end != '\0') || (v < min) || (v > max)) {
        return -1;
    }
    *value_p = v;
    return 0;
}

#endif
