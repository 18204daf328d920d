/*
 * fuzz_driver.c - a stand-alone main() for fuzz targets, for builds without
 * libFuzzer (gcc, valgrind, "make check").
 *
 * It is not coverage guided, so instead of learning the format it is told it:
 * besides purely random inputs it builds valid headers and control messages,
 * sets one field to a boundary value (0, INT32_MAX + 1, ...) and mutates the
 * bytes a little (bit flips, byte changes, insertions, deletions,
 * truncation). That keeps most inputs near the edge between accepted and
 * rejected, where decoder bugs live; random bytes alone would almost never
 * produce, say, a valid header whose uuid is 0. Everything comes from one
 * seeded PRNG, so a run is reproducible: the same FUZZ_SEED gives the same
 * inputs.
 *
 * Those valid headers and control messages suit fuzz_wire.c. Another target
 * brings its own: it defines fuzz_target_generate (declared below), and the
 * driver then takes its valid inputs from there instead, mutating them the
 * same way. A target without it (fuzz_wire) gets exactly the inputs it always
 * got.
 *
 *   fuzz_driver [file-or-directory ...]
 *
 * Runs the target on every file given (a directory: on each regular file in
 * it, as in a libFuzzer corpus), then on FUZZ_ITERATIONS (default 200000)
 * generated inputs from FUZZ_SEED (default 1). Generation stops early after
 * FUZZ_MAX_SECONDS (default 8) so a slow build (valgrind) stays bounded.
 * Every input is copied into a buffer of exactly its size, so that
 * AddressSanitizer or valgrind see any read past its end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/wire.h"

#define FUZZ_RANDOM_MAX_LEN   256u
/* Room for a target's valid inputs: the longest, ucx_cpg_perftest's RESULT
 * lines, take about 500 bytes. */
#define FUZZ_BUF_MAX          1024u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Optional hook of the target (weak: NULL unless the target defines it).
 * Writes one valid input of at most cap bytes to buf and returns its length;
 * with edit != 0 it may also set a field to a boundary value. Every random
 * choice must come from rng, so that FUZZ_SEED still reproduces a run.
 */
extern size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit,
                                   uint64_t (*rng)(void)) __attribute__((weak));

/* Set by the sanitizer runtime if present (weak: the driver also links without). */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* What is running now, for the report when the target crashes. */
static const char *current_what = "startup";
static unsigned long current_iteration;


/* --- PRNG: splitmix64, tiny and the same everywhere ----------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for n far below 2^64. */
static size_t rng_below(size_t n)
{
    return (n == 0) ? 0 : (size_t)(rng_next() % n);
}

static void rng_fill(uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        p[i] = (uint8_t)rng_next();
    }
}


/* --- running one input ---------------------------------------------------- */

static void run_one(const uint8_t *data, size_t size)
{
    /* A fresh, exactly sized copy: one byte too far is a heap overflow. */
    uint8_t *copy = malloc((size > 0) ? size : 1);

    if (copy == NULL) {
        fprintf(stderr, "fuzz_driver: out of memory\n");
        exit(2);
    }
    if (size > 0) {
        memcpy(copy, data, size);
    }
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

static void on_death(void)
{
    fprintf(stderr, "fuzz_driver: target died while running %s (iteration %lu); "
            "rerun with the same FUZZ_SEED to reproduce\n", current_what,
            current_iteration);
}

static int run_file(const char *path)
{
    uint8_t *data = NULL;
    size_t size   = 0;
    FILE *file;
    long len;

    file = fopen(path, "rb");
    if ((file == NULL) || (fseek(file, 0, SEEK_END) != 0) || ((len = ftell(file)) < 0)) {
        fprintf(stderr, "fuzz_driver: cannot read %s: %s\n", path, strerror(errno));
        if (file != NULL) {
            fclose(file);
        }
        return -1;
    }
    rewind(file);
    size = (size_t)len;
    data = malloc((size > 0) ? size : 1);
    if ((data == NULL) || (fread(data, 1, size, file) != size)) {
        fprintf(stderr, "fuzz_driver: cannot read %s\n", path);
        free(data);
        fclose(file);
        return -1;
    }
    fclose(file);
    current_what = path;
    run_one(data, size);
    free(data);
    return 0;
}

/* A file runs as one input; a directory runs each regular file in it. */
static int run_path(const char *path, unsigned long *nfiles_p)
{
    char child[4096];
    struct dirent *de;
    struct stat st;
    int ret = 0;
    DIR *dir;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz_driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        ++*nfiles_p;
        return run_file(path);
    }
    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "fuzz_driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >=
            sizeof(child)) {
            continue;
        }
        if ((stat(child, &st) == 0) && S_ISREG(st.st_mode)) {
            ++*nfiles_p;
            ret |= run_file(child);
        }
    }
    closedir(dir);
    return ret;
}


/* --- generating inputs ---------------------------------------------------- */

/* Random header fields, uuid non-zero so that the encoding is valid. */
static size_t gen_valid_hdr(uint8_t *buf)
{
    ucpg_wire_hdr_t hdr;
    size_t tail;

    hdr.am_id    = (uint8_t)rng_next();
    hdr.src_peer = (uint32_t)rng_next();
    hdr.src_uuid = rng_next() | 1;
    ucpg_wire_hdr_encode(&hdr, buf);
    /* Often followed by a layer header, as on the wire. */
    tail = rng_below(2) ? rng_below(48) : 0;
    rng_fill(buf + UCPG_WIRE_HDR_LEN, tail);
    return UCPG_WIRE_HDR_LEN + tail;
}

/* The fuzz target reads the first byte as the AM data length (254 stands for
 * UCPG_WIRE_ADDR_MAX) and the rest as the control message. */
static size_t gen_valid_ctl(uint8_t *buf)
{
    ucpg_wire_ctl_t ctl;

    ctl.type      = (uint8_t)(UCPG_WIRE_CTL_HELLO + rng_below(UCPG_WIRE_CTL_LAST));
    ctl.nodeid    = 1 + (uint32_t)rng_below(INT32_MAX);
    ctl.pid       = 1 + (uint32_t)rng_below(INT32_MAX);
    ctl.starttime = rng_next();
    ctl.secret    = rng_next();
    ctl.cookie    = rng_next();
    if ((ctl.type == UCPG_WIRE_CTL_HELLO) || (ctl.type == UCPG_WIRE_CTL_HELLO_ACK)) {
        buf[0] = rng_below(8) ? (uint8_t)(1 + rng_below(252)) : 254;
    } else {
        buf[0] = 0;
    }
    return 1 + ucpg_wire_ctl_encode(&ctl, buf + 1);
}

/* Where the fields of an encoding are: (offset, width) in bytes. */
typedef struct {
    uint8_t off;
    uint8_t width;
} field_t;

static const field_t hdr_fields[] = {
    { 0, 2 }, { 2, 1 }, { 3, 1 }, { 4, 4 }, { 8, 8 }     /* magic ... src_uuid */
};

/* Offsets count the data length byte that precedes the control message. */
static const field_t ctl_fields[] = {
    { 0, 1 }, { 1, 1 }, { 2, 4 }, { 6, 4 }, { 10, 8 }, { 18, 8 }, { 26, 8 }
};

/* Values on either side of every limit the decoders check. */
static const uint64_t boundary_values[] = {
    0, 1, 2, UCPG_WIRE_CTL_LAST, UCPG_WIRE_CTL_LAST + 1, 0x7f, 0x80, 0xfd, 0xfe, 0xff,
    UCPG_WIRE_MAGIC, 0x5543, UCPG_WIRE_ADDR_MAX, UCPG_WIRE_ADDR_MAX + 1,
    0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x8000000000000000ull, UINT64_MAX
};

/* Overwrites one field of the len-byte encoding in buf with a boundary value. */
static void set_boundary_field(uint8_t *buf, size_t len, const field_t *fields,
                               size_t nfields)
{
    const field_t *f = &fields[rng_below(nfields)];
    uint64_t v       = boundary_values[rng_below(sizeof(boundary_values) /
                                                 sizeof(boundary_values[0]))];
    size_t i;

    for (i = 0; (i < f->width) && ((size_t)f->off + i < len); ++i) {
        buf[f->off + i] = (uint8_t)(v >> (8 * i));
    }
}

/* One to four random edits; len stays within FUZZ_BUF_MAX. */
static size_t mutate(uint8_t *buf, size_t len)
{
    size_t nedits = 1 + rng_below(4), i, at;

    for (i = 0; i < nedits; ++i) {
        switch (rng_below(6)) {
        case 0:                                         /* flip one bit */
            if (len > 0) {
                buf[rng_below(len)] ^= (uint8_t)(1u << rng_below(8));
            }
            break;
        case 1:                                         /* replace one byte */
            if (len > 0) {
                buf[rng_below(len)] = (uint8_t)rng_next();
            }
            break;
        case 2:                                         /* insert one byte */
            if (len < FUZZ_BUF_MAX) {
                at = rng_below(len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)rng_next();
                ++len;
            }
            break;
        case 3:                                         /* delete one byte */
            if (len > 0) {
                at = rng_below(len);
                memmove(buf + at, buf + at + 1, len - at - 1);
                --len;
            }
            break;
        case 4:                                         /* truncate */
            len = rng_below(len + 1);
            break;
        default:                                        /* an extreme value */
            if (len > 0) {
                buf[rng_below(len)] = rng_below(2) ? 0x00 : 0xff;
            }
            break;
        }
    }
    return len;
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
    const char *text = getenv(name);
    char *end;
    unsigned long v;

    if ((text == NULL) || (*text == '\0')) {
        return dflt;
    }
    errno = 0;
    v     = strtoul(text, &end, 0);
    if ((errno != 0) || (*end != '\0')) {
        fprintf(stderr, "fuzz_driver: ignoring invalid %s=%s\n", name, text);
        return dflt;
    }
    return v;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


int main(int argc, char **argv)
{
    unsigned long iterations = env_ulong("FUZZ_ITERATIONS", 200000);
    unsigned long seed       = env_ulong("FUZZ_SEED", 1);
    unsigned long max_secs   = env_ulong("FUZZ_MAX_SECONDS", 8);
    unsigned long nfiles = 0, i;
    uint8_t buf[FUZZ_BUF_MAX];
    double start, elapsed;
    size_t len;
    int ret = 0, a;

    if (__sanitizer_set_death_callback != NULL) {
        __sanitizer_set_death_callback(on_death);
    }
    for (a = 1; a < argc; ++a) {
        ret |= run_path(argv[a], &nfiles);
    }

    rng_state    = seed;
    current_what = "generated input";
    start        = now_seconds();
    for (i = 0; i < iterations; ++i) {
        current_iteration = i;
        /* Check the clock only now and then: it costs more than an input. */
        if (((i % 1024) == 0) && ((now_seconds() - start) > (double)max_secs)) {
            fprintf(stderr, "fuzz_driver: time limit of %lu s reached\n", max_secs);
            break;
        }
        if ((fuzz_target_generate != NULL) && ((i % 4) != 0)) {
            /* The target's valid inputs: as they are (every fourth), with a
             * boundary field and/or mutated bytes. */
            if ((i % 4) == 3) {
                len = fuzz_target_generate(buf, sizeof(buf), 0, rng_next);
            } else {
                len = fuzz_target_generate(buf, sizeof(buf), (int)rng_below(2), rng_next);
                if (rng_below(2)) {
                    len = mutate(buf, len);
                }
            }
            run_one(buf, len);
            continue;
        }
        switch (i % 4) {
        case 0:                 /* random bytes of random length */
            len = rng_below(FUZZ_RANDOM_MAX_LEN + 1);
            rng_fill(buf, len);
            break;
        case 1:                 /* a valid header, one field and/or bytes changed */
            len = gen_valid_hdr(buf);
            if (rng_below(2)) {
                set_boundary_field(buf, len, hdr_fields,
                                   sizeof(hdr_fields) / sizeof(hdr_fields[0]));
            }
            if (rng_below(2)) {
                len = mutate(buf, len);
            }
            break;
        case 2:                 /* a valid control message, likewise */
            len = gen_valid_ctl(buf);
            if (rng_below(2)) {
                set_boundary_field(buf, len, ctl_fields,
                                   sizeof(ctl_fields) / sizeof(ctl_fields[0]));
            }
            if (rng_below(2)) {
                len = mutate(buf, len);
            }
            break;
        default:                /* valid ones untouched: the accept path */
            len = rng_below(2) ? gen_valid_hdr(buf) : gen_valid_ctl(buf);
            break;
        }
        run_one(buf, len);
    }
    elapsed = now_seconds() - start;

    printf("fuzz_driver: %lu corpus file(s), %lu generated input(s) (seed %lu) "
           "in %.2f s: %s\n", nfiles, i, seed, elapsed, (ret == 0) ? "OK" : "ERRORS");
    return (ret == 0) ? 0 : 1;
}
