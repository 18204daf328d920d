/*
 * fuzz_util.h - what every fuzz target here shares: the input being run (for
 * the report) and FUZZ_CHECK, which prints the input in hex and aborts.
 * Header-only: each target is its own program.
 */
#ifndef UCPG_TEST_FUZZ_UTIL_H
#define UCPG_TEST_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The input being run, for the report of a failed check. */
static const uint8_t *fuzz_input;
static size_t         fuzz_input_size;

static inline void fuzz_fail(const char *file, int line, const char *cond)
{
    size_t i;

    fprintf(stderr, "%s:%d: fuzz check failed: %s\ninput (%zu bytes):", file, line, cond,
            fuzz_input_size);
    for (i = 0; i < fuzz_input_size; ++i) {
        fprintf(stderr, "%s%02x", (i % 32) ? "" : "\n  ", fuzz_input[i]);
    }
    fprintf(stderr, "\n");
    abort();
}

/* Not assert(): it must stay active in builds with NDEBUG. */
#define FUZZ_CHECK(_cond) \
    do { \
        if (!(_cond)) { \
            fuzz_fail(__FILE__, __LINE__, #_cond); \
        } \
    } while (0)

#endif
