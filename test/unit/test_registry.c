/*
 * test_registry.c - unit tests of boot/registry: the per-user, per-domain
 * registry file through which independently started processes find each
 * other.
 *
 * Each test runs in a fresh directory made with mkdtemp under /tmp (removed
 * in teardown) with the library log captured in a file inside it, so tests
 * never see each other's registries and can check what was reported.
 *
 * The "processes" that join are fakes: all carry this process' pid and its
 * real start time (so the registry sees them as alive) and differ in their
 * uuid. Dead processes are real children that have been reaped, and pid
 * reuse is simulated with our own pid and a wrong start time. Some tests write
 * the file directly; they mirror the on-disk layout of registry.c, which is
 * private to it, and check its size so a layout change shows up here first.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot/registry.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/shm_segment.h"

#define TEMP_TEMPLATE  "/tmp/ucpg_test_registry_XXXXXX"
#define LOG_NAME       "test.log"
#define DOMAIN         "unit"
#define NSLOTS         4u


/* --- on-disk layout mirrored from registry.c ------------------------------ */

#define REG_MAGIC      "UCPGREG"
#define REG_VERSION    4u

typedef struct {
    char     magic[8];
    uint32_t version;
    uint32_t hdr_size;
    uint32_t slot_size;
    uint32_t nslots;
    uint64_t secret;
    uint64_t generation;
    uint32_t owner_uid;
    uint32_t nsegs;
    uint32_t next_segid;
    uint32_t reserved[3];
} reg_hdr_t;

typedef struct {
    uint32_t state;
    int32_t  pid;
    uint64_t starttime;
    uint64_t uuid;
    uint32_t nodeid;
    uint32_t addr_len;
    uint8_t  addr[UCPG_REGISTRY_ADDR_MAX];
} reg_slot_t;

/* One entry of the segment-id table that follows the slots. */
typedef struct {
    uint32_t state;
    uint32_t nodeid;
    uint32_t segid;
    uint32_t owner_slot;
    uint64_t owner_uuid;
} reg_seg_t;

#define REG_AUTO_SEGID_BASE  0x80000000u

_Static_assert(sizeof(reg_hdr_t) == 64, "mirrored registry header is 64 bytes");
_Static_assert(sizeof(reg_seg_t) == 24, "mirrored segment-id entry is 24 bytes");

/* One host-group record; the table follows the group directory. */
typedef struct {
    uint32_t state;
    uint32_t name_len;
    uint8_t  name[UCPG_REGISTRY_GROUP_NAME_MAX];
    int32_t  shmid;
    uint32_t reserved;
    uint64_t size;
    uint64_t cookie;
} reg_hostgroup_t;

_Static_assert(sizeof(reg_hostgroup_t) == 160, "mirrored host-group record is 160 bytes");

static off_t reg_seg_table_offset(unsigned nslots)
{
    return (off_t)(sizeof(reg_hdr_t) + (size_t)nslots * sizeof(reg_slot_t));
}

/* After the segment-id table (24-byte entries) comes the group directory:
 * 168-byte entry headers and 24-byte members per entry. */
static off_t reg_hostgroup_table_offset(unsigned nslots)
{
    return reg_seg_table_offset(nslots) +
           (off_t)((size_t)UCPG_REGISTRY_NSEGS * sizeof(reg_seg_t) +
                   (size_t)UCPG_REGISTRY_NGROUPS * (168u + UCPG_REGISTRY_GROUP_MEMBERS * 24u));
}

static size_t reg_file_size(unsigned nslots)
{
    return (size_t)reg_hostgroup_table_offset(nslots) +
           (size_t)UCPG_REGISTRY_NHOSTGROUPS * sizeof(reg_hostgroup_t);
}


/* --- per-test directory and log capture ----------------------------------- */

typedef struct {
    char dir[sizeof(TEMP_TEMPLATE)];
    char log_path[sizeof(TEMP_TEMPLATE) + sizeof(LOG_NAME) + 1];
} test_ctx_t;

static int dir_setup(void **state)
{
    test_ctx_t *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL) {
        return -1;
    }
    strcpy(ctx->dir, TEMP_TEMPLATE);
    if (mkdtemp(ctx->dir) == NULL) {
        free(ctx);
        return -1;
    }
    snprintf(ctx->log_path, sizeof(ctx->log_path), "%s/%s", ctx->dir, LOG_NAME);
    if (ucpg_log_configure(UCPG_LOG_WARN, ctx->log_path) != UCPG_OK) {
        rmdir(ctx->dir);
        free(ctx);
        return -1;
    }
    *state = ctx;
    return 0;
}

/* The directory is flat (tests create no subdirectories), so one pass of
 * unlink removes everything, symlinks included and never their targets. */
static int dir_teardown(void **state)
{
    test_ctx_t *ctx = *state;
    struct dirent *de;
    DIR *d;

    ucpg_log_close();
    ucpg_log_level_current = UCPG_LOG_WARN;
    d = opendir(ctx->dir);
    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                unlinkat(dirfd(d), de->d_name, 0);
            }
        }
        closedir(d);
    }
    rmdir(ctx->dir);
    free(ctx);
    return 0;
}


/* --- helpers -------------------------------------------------------------- */

static void registry_path(const test_ctx_t *ctx, const char *domain, char *path,
                          size_t size)
{
    int n = snprintf(path, size, "%s/ucx_cpg-%u-%s", ctx->dir, (unsigned)geteuid(),
                     domain);

    assert_true((n > 0) && ((size_t)n < size));
}

static ucpg_registry_t *registry_open_ok(const test_ctx_t *ctx, const char *domain,
                                         unsigned nslots)
{
    ucpg_registry_t *reg = NULL;

    assert_int_equal(ucpg_registry_open(ctx->dir, domain, nslots, &reg), UCPG_OK);
    assert_non_null(reg);
    return reg;
}

/* Creates the registry file and closes it again, for tests that then tamper
 * with it. */
static void registry_create(const test_ctx_t *ctx, const char *domain, unsigned nslots)
{
    ucpg_registry_close(registry_open_ok(ctx, domain, nslots));
}

/* A live fake process: our own pid and start time, told apart by uuid. */
static ucpg_registry_entry_t *entry_new(uint64_t uuid)
{
    ucpg_registry_entry_t *e = calloc(1, sizeof(*e));
    uint32_t i;

    assert_non_null(e);
    e->slot      = UINT32_MAX;
    e->pid       = getpid();
    e->starttime = ucpg_proc_starttime(getpid());
    e->uuid      = uuid;
    e->nodeid    = 1;
    e->addr_len  = 16 + (uint32_t)(uuid % 16);
    for (i = 0; i < e->addr_len; ++i) {
        e->addr[i] = (uint8_t)(uuid * 31 + i);
    }
    assert_true(e->starttime != 0);
    return e;
}

static ucpg_registry_entry_t *entries_new(unsigned n)
{
    ucpg_registry_entry_t *e = calloc(n, sizeof(*e));

    assert_non_null(e);
    return e;
}

static void assert_entry_equal(const ucpg_registry_entry_t *got,
                               const ucpg_registry_entry_t *expected)
{
    assert_int_equal(got->slot, expected->slot);
    assert_int_equal(got->pid, expected->pid);
    assert_int_equal(got->starttime, expected->starttime);
    assert_int_equal(got->uuid, expected->uuid);
    assert_int_equal(got->nodeid, expected->nodeid);
    assert_int_equal(got->addr_len, expected->addr_len);
    assert_memory_equal(got->addr, expected->addr, expected->addr_len);
}

/* Joins self and returns its slot. */
static uint32_t join_ok(ucpg_registry_t *reg, ucpg_registry_entry_t *self)
{
    ucpg_registry_entry_t *peers = entries_new(ucpg_registry_nslots(reg));
    unsigned npeers;

    assert_int_equal(ucpg_registry_join(reg, self, peers, &npeers), UCPG_OK);
    free(peers);
    return self->slot;
}

/* Number of live entries; if uuids is given, their uuids in slot order. */
static unsigned snapshot_count(ucpg_registry_t *reg, uint64_t *uuids)
{
    ucpg_registry_entry_t *entries = entries_new(ucpg_registry_nslots(reg));
    unsigned i, n = UINT_MAX;

    assert_int_equal(ucpg_registry_snapshot(reg, entries, &n), UCPG_OK);
    assert_true(n <= ucpg_registry_nslots(reg));
    for (i = 0; (uuids != NULL) && (i < n); ++i) {
        uuids[i] = entries[i].uuid;
    }
    free(entries);
    return n;
}

/* Is there a live entry with this uuid? */
static int snapshot_has_uuid(ucpg_registry_t *reg, uint64_t uuid)
{
    uint64_t uuids[UCPG_REGISTRY_MAX_SLOTS];
    unsigned i, n = snapshot_count(reg, uuids);

    for (i = 0; i < n; ++i) {
        if (uuids[i] == uuid) {
            return 1;
        }
    }
    return 0;
}

/* A forked child that blocks until released, so the test controls when it
 * dies. */
typedef struct {
    pid_t    pid;
    uint64_t starttime;
    int      release_fd;   /* closing it lets the child exit */
} child_t;

static void child_start(child_t *child)
{
    int fds[2];
    char c;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[1]);
        while ((read(fds[0], &c, 1) < 0) && (errno == EINTR)) {
        }
        _exit(0);
    }
    close(fds[0]);
    child->pid        = pid;
    child->release_fd = fds[1];
    child->starttime  = ucpg_proc_starttime(pid);
    assert_true(child->starttime != 0);
    assert_true(ucpg_proc_alive(pid, child->starttime));
}

/* Lets the child exit and reaps it: afterwards its (pid, start time) names a
 * process that is certainly dead. */
static void child_end(child_t *child)
{
    int wstatus;

    close(child->release_fd);      /* EOF releases the child */
    assert_int_equal(waitpid(child->pid, &wstatus, 0), child->pid);
    assert_false(ucpg_proc_alive(child->pid, child->starttime));
}

/*
 * Forks a child, notes its (pid, start time) while it lives, then lets it
 * exit and reaps it: the pair names a process that is certainly dead, which
 * is what a crashed peer leaves behind in the registry.
 */
static void dead_process(pid_t *pid_p, uint64_t *starttime_p)
{
    child_t child;

    child_start(&child);
    child_end(&child);
    *pid_p       = child.pid;
    *starttime_p = child.starttime;
}

static void file_write(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);  /* mode of open() is masked by umask */
    assert_int_equal(close(fd), 0);
}

static void file_pwrite(const char *path, const void *data, size_t len, off_t off)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void file_pread(const char *path, void *data, size_t len, off_t off)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, data, len, off), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Whole content of a small file as a malloc'ed, NUL-terminated buffer. */
static char *file_read_all(const char *path, size_t *len_p)
{
    struct stat st;
    char *data;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    data = malloc((size_t)st.st_size + 1);
    assert_non_null(data);
    assert_int_equal(read(fd, data, (size_t)st.st_size), (ssize_t)st.st_size);
    data[st.st_size] = '\0';
    close(fd);
    if (len_p != NULL) {
        *len_p = (size_t)st.st_size;
    }
    return data;
}

static int captured_log_contains(const test_ctx_t *ctx, const char *needle)
{
    char *text = file_read_all(ctx->log_path, NULL);
    int found  = (strstr(text, needle) != NULL);

    free(text);
    return found;
}

/* Number of registry files in the test directory. */
static unsigned registry_file_count(const test_ctx_t *ctx)
{
    struct dirent *de;
    unsigned n = 0;
    DIR *d = opendir(ctx->dir);

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += (strncmp(de->d_name, "ucx_cpg-", 8) == 0);
    }
    closedir(d);
    return n;
}

/* Opening with these arguments is refused, leaves *reg_p alone and creates
 * no file. */
static void assert_open_invalid(const test_ctx_t *ctx, const char *dir, const char *domain,
                                unsigned nslots)
{
    ucpg_registry_t *reg = (ucpg_registry_t*)(uintptr_t)0x1;
    unsigned nfiles      = registry_file_count(ctx);

    assert_int_equal(ucpg_registry_open(dir, domain, nslots, &reg), UCPG_ERR_INVALID_PARAM);
    assert_ptr_equal(reg, (ucpg_registry_t*)(uintptr_t)0x1);
    assert_int_equal(registry_file_count(ctx), nfiles);
}

/* Reads slot i straight from the file, bypassing the library (whose every
 * scan would reclaim what the test wants to look at). */
static void raw_slot_read(const test_ctx_t *ctx, const char *domain, uint32_t i,
                          reg_slot_t *slot)
{
    char path[PATH_MAX];
    int fd;

    registry_path(ctx, domain, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, slot, sizeof(*slot),
                           (off_t)(sizeof(reg_hdr_t) + i * sizeof(reg_slot_t))),
                     (ssize_t)sizeof(*slot));
    close(fd);
}

/* Joining self must be refused as an invalid argument and change nothing. */
static void assert_join_invalid(const test_ctx_t *ctx, ucpg_registry_entry_t *self)
{
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *peers = entries_new(NSLOTS);
    unsigned npeers;

    assert_int_equal(ucpg_registry_join(reg, self, peers, &npeers), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(self->slot, UINT32_MAX);
    assert_int_equal(snapshot_count(reg, NULL), 0);
    free(peers);
    ucpg_registry_close(reg);
}

/* The header straight from the file. */
static void raw_hdr_read(const test_ctx_t *ctx, const char *domain, reg_hdr_t *hdr)
{
    char path[PATH_MAX];
    int fd;

    registry_path(ctx, domain, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, hdr, sizeof(*hdr), 0), (ssize_t)sizeof(*hdr));
    close(fd);
}

/* The whole segment-id table straight from the file, as a malloc'ed array
 * of UCPG_REGISTRY_NSEGS entries (no scan has dropped dead claims from it). */
static reg_seg_t *raw_seg_table_read(const test_ctx_t *ctx, const char *domain,
                                     unsigned nslots)
{
    size_t len = UCPG_REGISTRY_NSEGS * sizeof(reg_seg_t);
    reg_seg_t *table = malloc(len);
    char path[PATH_MAX];
    int fd;

    assert_non_null(table);
    registry_path(ctx, domain, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, table, len, reg_seg_table_offset(nslots)), (ssize_t)len);
    close(fd);
    return table;
}

/* Used entries of the table in the file; nodeid 0 counts all of them,
 * otherwise only those of (nodeid, segid). */
static unsigned raw_seg_count(const test_ctx_t *ctx, const char *domain, unsigned nslots,
                              uint32_t nodeid, uint32_t segid)
{
    reg_seg_t *table = raw_seg_table_read(ctx, domain, nslots);
    unsigned i, n = 0;

    for (i = 0; i < UCPG_REGISTRY_NSEGS; ++i) {
        n += (table[i].state == 1) &&
             ((nodeid == 0) || ((table[i].nodeid == nodeid) && (table[i].segid == segid)));
    }
    free(table);
    return n;
}

/* Claims (nodeid, segid) for owner (segid 0: a system-assigned id) and
 * returns the id. */
static uint32_t seg_claim_ok(ucpg_registry_t *reg, uint32_t nodeid, uint32_t segid,
                             const ucpg_registry_entry_t *owner)
{
    uint32_t id = segid;

    assert_int_equal(ucpg_registry_seg_claim(reg, nodeid, &id, owner->slot, owner->uuid),
                     UCPG_OK);
    if (segid != 0) {
        assert_int_equal(id, segid);
    }
    return id;
}

static void assert_seg_owner(ucpg_registry_t *reg, uint32_t nodeid, uint32_t segid,
                             const ucpg_registry_entry_t *owner)
{
    uint32_t slot = UINT32_MAX;
    uint64_t uuid = 0;

    assert_int_equal(ucpg_registry_seg_lookup(reg, nodeid, segid, &slot, &uuid), UCPG_OK);
    assert_int_equal(slot, owner->slot);
    assert_int_equal(uuid, owner->uuid);
}

static void assert_seg_unclaimed(ucpg_registry_t *reg, uint32_t nodeid, uint32_t segid)
{
    uint32_t slot;
    uint64_t uuid;

    assert_int_equal(ucpg_registry_seg_lookup(reg, nodeid, segid, &slot, &uuid),
                     UCPG_ERR_NOT_FOUND);
}

/* A refused claim must leave the file as it was: no entry in the table and
 * the auto-id counter untouched. */
static void assert_seg_table_untouched(const test_ctx_t *ctx, const char *domain,
                                       unsigned nslots)
{
    reg_hdr_t hdr;

    assert_int_equal(raw_seg_count(ctx, domain, nslots, 0, 0), 0);
    raw_hdr_read(ctx, domain, &hdr);
    assert_int_equal(hdr.next_segid, REG_AUTO_SEGID_BASE);
}


/* --- open: creation and reopening ----------------------------------------- */

static void test_open_creates_file_named_after_euid_and_domain(void **state)
{
    test_ctx_t *ctx = *state;
    char path[PATH_MAX];
    ucpg_registry_t *reg;
    struct stat st;

    registry_path(ctx, DOMAIN, path, sizeof(path));
    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_string_equal(ucpg_registry_path(reg), path);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal((size_t)st.st_size, reg_file_size(NSLOTS));
    ucpg_registry_close(reg);
}

/* 0600 whatever the umask: with umask 0 a sloppy mode argument would show. */
static void test_open_creates_file_with_mode_0600(void **state)
{
    test_ctx_t *ctx = *state;
    char path[PATH_MAX];
    struct stat st;
    mode_t old_umask;

    registry_path(ctx, DOMAIN, path, sizeof(path));
    old_umask = umask(0);
    registry_create(ctx, DOMAIN, NSLOTS);
    umask(old_umask);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_new_registry_has_nonzero_secret_and_requested_nslots(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);

    assert_true(ucpg_registry_secret(reg) != 0);
    assert_int_equal(ucpg_registry_nslots(reg), NSLOTS);
    ucpg_registry_close(reg);
}

/* The secret is what peers compare in HELLO: every opener must read the same. */
static void test_reopen_keeps_secret(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *first = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_t *second = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_t *third;
    uint64_t secret = ucpg_registry_secret(first);

    assert_int_equal(ucpg_registry_secret(second), secret);
    ucpg_registry_close(first);
    ucpg_registry_close(second);

    /* Also after everybody closed it: the file, not a process, holds it. */
    third = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_int_equal(ucpg_registry_secret(third), secret);
    ucpg_registry_close(third);
}

/* Slot indices are peer ids, so a later process with another UCX_CPG_MAX_PROCS
 * must adopt the size of the existing file rather than reformat it. */
static void test_reopen_keeps_nslots_of_file_not_requested_one(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg;

    registry_create(ctx, DOMAIN, NSLOTS);
    reg = registry_open_ok(ctx, DOMAIN, 2 * NSLOTS);
    assert_int_equal(ucpg_registry_nslots(reg), NSLOTS);
    ucpg_registry_close(reg);
    reg = registry_open_ok(ctx, DOMAIN, UCPG_REGISTRY_MIN_SLOTS);
    assert_int_equal(ucpg_registry_nslots(reg), NSLOTS);
    ucpg_registry_close(reg);
}

static void test_reopen_keeps_joined_entries(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_entry_t *a = entry_new(11);
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);

    join_ok(reg, a);
    ucpg_registry_close(reg);
    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_true(snapshot_has_uuid(reg, 11));
    ucpg_registry_close(reg);
    free(a);
}


/* --- open: parameter validation ------------------------------------------- */

static void test_open_rejects_null_dir_or_domain(void **state)
{
    test_ctx_t *ctx = *state;

    assert_open_invalid(ctx, NULL, DOMAIN, NSLOTS);
    assert_open_invalid(ctx, ctx->dir, NULL, NSLOTS);
}

static void test_open_rejects_empty_domain(void **state)
{
    test_ctx_t *ctx = *state;

    assert_open_invalid(ctx, ctx->dir, "", NSLOTS);
}

/* A '/' would put the file in another directory than the one checked. */
static void test_open_rejects_domain_with_slash(void **state)
{
    test_ctx_t *ctx = *state;

    assert_open_invalid(ctx, ctx->dir, "a/b", NSLOTS);
    assert_open_invalid(ctx, ctx->dir, "/", NSLOTS);
    assert_open_invalid(ctx, ctx->dir, "../x", NSLOTS);
}

static void test_open_rejects_dot_and_dotdot_domains(void **state)
{
    test_ctx_t *ctx = *state;

    assert_open_invalid(ctx, ctx->dir, ".", NSLOTS);
    assert_open_invalid(ctx, ctx->dir, "..", NSLOTS);
}

/* The configuration accepts domains of up to 63 characters; so must we. */
static void test_open_accepts_63_char_domain_and_rejects_64(void **state)
{
    test_ctx_t *ctx = *state;
    char name[65];

    memset(name, 'd', 64);
    name[63] = '\0';
    registry_create(ctx, name, NSLOTS);
    name[63] = 'd';
    name[64] = '\0';
    assert_open_invalid(ctx, ctx->dir, name, NSLOTS);
}

static void test_open_rejects_nslots_below_2(void **state)
{
    test_ctx_t *ctx = *state;

    assert_open_invalid(ctx, ctx->dir, DOMAIN, 0);
    assert_open_invalid(ctx, ctx->dir, DOMAIN, 1);
}

static void test_open_rejects_nslots_above_1024(void **state)
{
    test_ctx_t *ctx = *state;

    assert_open_invalid(ctx, ctx->dir, DOMAIN, UCPG_REGISTRY_MAX_SLOTS + 1);
    assert_open_invalid(ctx, ctx->dir, DOMAIN, UINT_MAX);
}

static void test_open_accepts_nslots_2_and_1024(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg;

    reg = registry_open_ok(ctx, "min", UCPG_REGISTRY_MIN_SLOTS);
    assert_int_equal(ucpg_registry_nslots(reg), UCPG_REGISTRY_MIN_SLOTS);
    ucpg_registry_close(reg);
    reg = registry_open_ok(ctx, "max", UCPG_REGISTRY_MAX_SLOTS);
    assert_int_equal(ucpg_registry_nslots(reg), UCPG_REGISTRY_MAX_SLOTS);
    ucpg_registry_close(reg);
}


/* --- join, leave, snapshot ------------------------------------------------ */

static void test_join_assigns_distinct_slots(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *e[NSLOTS];
    unsigned i, j;

    for (i = 0; i < NSLOTS; ++i) {
        e[i] = entry_new(100 + i);
        join_ok(reg, e[i]);
        assert_true(e[i]->slot < NSLOTS);
        for (j = 0; j < i; ++j) {
            assert_int_not_equal(e[i]->slot, e[j]->slot);
        }
    }
    for (i = 0; i < NSLOTS; ++i) {
        free(e[i]);
    }
    ucpg_registry_close(reg);
}

/* The joiner learns everybody else, with full entries, in slot order. */
static void test_join_returns_other_live_entries_in_slot_order(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(21), *b = entry_new(22), *c = entry_new(23);
    ucpg_registry_entry_t *peers = entries_new(NSLOTS);
    unsigned npeers = UINT_MAX;

    join_ok(reg, a);
    join_ok(reg, b);
    assert_int_equal(ucpg_registry_join(reg, c, peers, &npeers), UCPG_OK);
    assert_int_equal(npeers, 2);
    assert_true(peers[0].slot < peers[1].slot);
    assert_entry_equal(&peers[0], (a->slot < b->slot) ? a : b);
    assert_entry_equal(&peers[1], (a->slot < b->slot) ? b : a);
    free(peers);
    free(a);
    free(b);
    free(c);
    ucpg_registry_close(reg);
}

static void test_first_join_returns_no_peers(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(31);
    ucpg_registry_entry_t *peers = entries_new(NSLOTS);
    unsigned npeers = UINT_MAX;

    assert_int_equal(ucpg_registry_join(reg, a, peers, &npeers), UCPG_OK);
    assert_int_equal(npeers, 0);
    free(peers);
    free(a);
    ucpg_registry_close(reg);
}

static void test_snapshot_includes_own_entry(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(41);
    ucpg_registry_entry_t *entries = entries_new(NSLOTS);
    unsigned n = UINT_MAX;

    join_ok(reg, a);
    assert_int_equal(ucpg_registry_snapshot(reg, entries, &n), UCPG_OK);
    assert_int_equal(n, 1);
    assert_entry_equal(&entries[0], a);
    free(entries);
    free(a);
    ucpg_registry_close(reg);
}

/* Every registry handle sees joins made through another one (other processes
 * open their own handle on the same file). */
static void test_join_is_visible_through_another_handle(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *r1 = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_t *r2 = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(51), *b = entry_new(52);

    join_ok(r1, a);
    join_ok(r2, b);
    assert_int_not_equal(a->slot, b->slot);
    assert_true(snapshot_has_uuid(r1, 52));
    assert_true(snapshot_has_uuid(r2, 51));
    free(a);
    free(b);
    ucpg_registry_close(r1);
    ucpg_registry_close(r2);
}

static void test_join_when_full_returns_no_resource(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, UCPG_REGISTRY_MIN_SLOTS);
    ucpg_registry_entry_t *a = entry_new(61), *b = entry_new(62), *c = entry_new(63);
    ucpg_registry_entry_t *peers = entries_new(UCPG_REGISTRY_MIN_SLOTS);
    unsigned npeers;

    join_ok(reg, a);
    join_ok(reg, b);
    assert_int_equal(ucpg_registry_join(reg, c, peers, &npeers), UCPG_ERR_NO_RESOURCE);
    assert_int_equal(c->slot, UINT32_MAX);
    /* Nobody was pushed out to make room. */
    assert_int_equal(snapshot_count(reg, NULL), 2);
    assert_true(snapshot_has_uuid(reg, 61));
    assert_true(snapshot_has_uuid(reg, 62));
    free(peers);
    free(a);
    free(b);
    free(c);
    ucpg_registry_close(reg);
}

/* join_at (PMIx boot: slot = rank) takes exactly the slot asked for, reports
 * the others, refuses a slot held by a live process or past the end, and
 * takes over the slot of a dead one. */
static void test_join_at_takes_the_slot_asked_for(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(201), *b = entry_new(202);
    ucpg_registry_entry_t *peers = entries_new(NSLOTS);
    unsigned npeers = UINT_MAX;

    assert_int_equal(ucpg_registry_join_at(reg, NSLOTS - 1, a, peers, &npeers), UCPG_OK);
    assert_int_equal(a->slot, NSLOTS - 1);
    assert_int_equal(npeers, 0);
    assert_int_equal(ucpg_registry_join_at(reg, 2, b, peers, &npeers), UCPG_OK);
    assert_int_equal(b->slot, 2);
    assert_int_equal(npeers, 1);
    assert_entry_equal(&peers[0], a);
    /* a plain join still fills from the lowest free slot */
    free(a);
    a = entry_new(203);
    assert_int_equal(join_ok(reg, a), 0);
    free(peers);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}

static void test_join_at_refuses_a_live_holder_and_a_slot_past_the_end(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(211), *b = entry_new(212);
    ucpg_registry_entry_t *peers = entries_new(NSLOTS);
    unsigned npeers;

    assert_int_equal(ucpg_registry_join_at(reg, 1, a, peers, &npeers), UCPG_OK);
    assert_int_equal(ucpg_registry_join_at(reg, 1, b, peers, &npeers), UCPG_ERR_EXISTS);
    assert_int_equal(b->slot, UINT32_MAX);
    assert_int_equal(ucpg_registry_join_at(reg, NSLOTS, b, peers, &npeers),
                     UCPG_ERR_NO_RESOURCE);
    assert_int_equal(ucpg_registry_join_at(reg, UINT32_MAX, b, peers, &npeers),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(snapshot_count(reg, NULL), 1);
    assert_true(snapshot_has_uuid(reg, 211));
    free(peers);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}

static void test_join_at_takes_over_the_slot_of_a_dead_process(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *dead = entry_new(221), *next = entry_new(222);
    ucpg_registry_entry_t *peers = entries_new(NSLOTS);
    unsigned npeers = UINT_MAX;

    dead_process(&dead->pid, &dead->starttime);
    assert_int_equal(ucpg_registry_join_at(reg, 3, dead, peers, &npeers), UCPG_OK);
    assert_int_equal(ucpg_registry_join_at(reg, 3, next, peers, &npeers), UCPG_OK);
    assert_int_equal(next->slot, 3);
    assert_int_equal(npeers, 0);
    assert_int_equal(snapshot_count(reg, NULL), 1);
    assert_true(snapshot_has_uuid(reg, 222));
    free(peers);
    free(dead);
    free(next);
    ucpg_registry_close(reg);
}

static void test_leave_frees_slot_for_next_join(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, UCPG_REGISTRY_MIN_SLOTS);
    ucpg_registry_entry_t *a = entry_new(71), *b = entry_new(72), *c = entry_new(73);

    join_ok(reg, a);
    join_ok(reg, b);
    assert_int_equal(ucpg_registry_leave(reg, a->slot, a->uuid), UCPG_OK);
    assert_false(snapshot_has_uuid(reg, 71));
    assert_int_equal(join_ok(reg, c), a->slot);
    free(a);
    free(b);
    free(c);
    ucpg_registry_close(reg);
}

/* A slot already taken over by a new incarnation must not be freed by a late
 * leave of the old one. */
static void test_leave_with_wrong_uuid_keeps_slot(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(81);

    join_ok(reg, a);
    assert_int_equal(ucpg_registry_leave(reg, a->slot, a->uuid + 1), UCPG_OK);
    assert_true(snapshot_has_uuid(reg, 81));
    free(a);
    ucpg_registry_close(reg);
}

static void test_leave_of_slot_out_of_range_is_invalid(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);

    assert_int_equal(ucpg_registry_leave(reg, NSLOTS, 1), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_registry_leave(reg, UINT32_MAX, 1), UCPG_ERR_INVALID_PARAM);
    ucpg_registry_close(reg);
}

/* What a domain asks before it gives up on a local peer that does not answer
 * (ucpg_boot_ops_t.registered): only that live incarnation, in its slot. */
static void test_holds_names_only_the_live_incarnation_in_its_slot(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, UCPG_REGISTRY_MIN_SLOTS);
    ucpg_registry_entry_t *a = entry_new(75), *dead = entry_new(76);

    join_ok(reg, a);
    assert_true(ucpg_registry_holds(reg, a->slot, a->uuid));
    assert_false(ucpg_registry_holds(reg, a->slot, a->uuid + 1));
    assert_false(ucpg_registry_holds(reg, UCPG_REGISTRY_MIN_SLOTS, a->uuid));
    assert_false(ucpg_registry_holds(NULL, a->slot, a->uuid));
    dead_process(&dead->pid, &dead->starttime);
    join_ok(reg, dead);
    assert_false(ucpg_registry_holds(reg, dead->slot, dead->uuid));   /* a corpse */
    assert_int_equal(ucpg_registry_leave(reg, a->slot, a->uuid), UCPG_OK);
    assert_false(ucpg_registry_holds(reg, a->slot, a->uuid));         /* it left */
    free(a);
    free(dead);
    ucpg_registry_close(reg);
}


/* --- dead processes ------------------------------------------------------- */

/* Every scan reclaims dead slots, so the corpse joins last: then it is still
 * in the file, as after a crash, when the join under test comes. */
static void test_dead_process_slot_is_reclaimed_by_join(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, UCPG_REGISTRY_MIN_SLOTS);
    ucpg_registry_entry_t *live = entry_new(91), *dead = entry_new(92);
    ucpg_registry_entry_t *late = entry_new(93);
    ucpg_registry_entry_t *peers = entries_new(UCPG_REGISTRY_MIN_SLOTS);
    unsigned npeers;
    reg_slot_t slot;

    dead_process(&dead->pid, &dead->starttime);
    join_ok(reg, live);
    join_ok(reg, dead);
    raw_slot_read(ctx, DOMAIN, dead->slot, &slot);
    assert_int_equal(slot.uuid, 92);

    /* The registry is full, but one of its two slots belongs to a corpse. */
    assert_int_equal(ucpg_registry_join(reg, late, peers, &npeers), UCPG_OK);
    assert_int_equal(late->slot, dead->slot);
    assert_int_equal(npeers, 1);
    assert_int_equal(peers[0].uuid, 91);
    free(peers);
    free(dead);
    free(live);
    free(late);
    ucpg_registry_close(reg);
}

static void test_dead_process_slot_is_reclaimed_by_snapshot(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *live = entry_new(101), *dead = entry_new(102);
    reg_slot_t slot;

    dead_process(&dead->pid, &dead->starttime);
    join_ok(reg, live);
    join_ok(reg, dead);
    raw_slot_read(ctx, DOMAIN, dead->slot, &slot);
    assert_int_equal(slot.state, 1);

    assert_int_equal(snapshot_count(reg, NULL), 1);
    assert_true(snapshot_has_uuid(reg, 101));
    /* Reclaimed means cleared in the file, not only hidden from the caller. */
    raw_slot_read(ctx, DOMAIN, dead->slot, &slot);
    assert_int_equal(slot.state, 0);
    assert_int_equal(slot.uuid, 0);
    free(dead);
    free(live);
    ucpg_registry_close(reg);
}

/* Same pid, other start time: the pid was reused by an unrelated process. */
/*
 * What lets a newcomer's start skip a stopped peer (core/peer.c): a process
 * stopped by SIGSTOP is alive and stopped, and no longer stopped after
 * SIGCONT; another start time (a reused pid) or a dead process is never
 * taken for a stopped one.
 */
static void test_proc_stopped_follows_sigstop_and_sigcont(void **state)
{
    child_t child;
    int wstatus;

    (void)state;
    child_start(&child);
    assert_false(ucpg_proc_stopped(child.pid, child.starttime));
    assert_int_equal(kill(child.pid, SIGSTOP), 0);
    assert_int_equal(waitpid(child.pid, &wstatus, WUNTRACED), child.pid);
    assert_true(WIFSTOPPED(wstatus));
    assert_true(ucpg_proc_stopped(child.pid, child.starttime));
    assert_true(ucpg_proc_alive(child.pid, child.starttime));
    assert_false(ucpg_proc_stopped(child.pid, child.starttime + 1));
    assert_int_equal(kill(child.pid, SIGCONT), 0);
    assert_int_equal(waitpid(child.pid, &wstatus, WCONTINUED), child.pid);
    assert_true(WIFCONTINUED(wstatus));
    assert_false(ucpg_proc_stopped(child.pid, child.starttime));
    child_end(&child);
    assert_false(ucpg_proc_stopped(child.pid, child.starttime));
}

static void test_slot_with_mismatched_starttime_counts_as_dead(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *reused = entry_new(111);
    reg_slot_t slot;

    reused->starttime += 1;
    join_ok(reg, reused);
    raw_slot_read(ctx, DOMAIN, reused->slot, &slot);
    assert_int_equal(slot.state, 1);
    assert_int_equal(snapshot_count(reg, NULL), 0);
    free(reused);
    ucpg_registry_close(reg);
}

static void test_reclaim_of_live_process_returns_busy_and_keeps_slot(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(121);

    join_ok(reg, a);
    assert_int_equal(ucpg_registry_reclaim(reg, a->slot, a->uuid), UCPG_ERR_BUSY);
    assert_true(snapshot_has_uuid(reg, 121));
    free(a);
    ucpg_registry_close(reg);
}

/* Reclaim is what a peer calls when it sees another one die: it must free the
 * slot at once, without waiting for the next scan. */
static void test_reclaim_of_dead_process_frees_slot(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, UCPG_REGISTRY_MIN_SLOTS);
    ucpg_registry_entry_t *dead = entry_new(131), *other = entry_new(132);
    reg_slot_t slot;

    dead_process(&dead->pid, &dead->starttime);
    join_ok(reg, dead);
    raw_slot_read(ctx, DOMAIN, dead->slot, &slot);
    assert_int_equal(slot.state, 1);
    assert_int_equal(ucpg_registry_reclaim(reg, dead->slot, dead->uuid), UCPG_OK);
    /* Read the slot directly: a snapshot would clear it by itself. */
    raw_slot_read(ctx, DOMAIN, dead->slot, &slot);
    assert_int_equal(slot.state, 0);
    assert_int_equal(join_ok(reg, other), dead->slot);
    free(dead);
    free(other);
    ucpg_registry_close(reg);
}

/* A slot marked used whose fields make no sense (a crash mid-write, a stray
 * writer) is treated as free rather than trusted. */
static void test_garbled_used_slot_is_treated_as_free(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_entry_t *a = entry_new(141);
    char path[PATH_MAX];
    ucpg_registry_t *reg;
    reg_slot_t slot;

    registry_create(ctx, DOMAIN, NSLOTS);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    memset(&slot, 0, sizeof(slot));
    slot.state     = 1;
    slot.pid       = getpid();
    slot.starttime = ucpg_proc_starttime(getpid());
    slot.uuid      = 999;
    slot.nodeid    = 1;
    slot.addr_len  = UCPG_REGISTRY_ADDR_MAX + 1;   /* the nonsense */
    file_pwrite(path, &slot, sizeof(slot), sizeof(reg_hdr_t));
    slot.state    = 77;                            /* no such state */
    slot.addr_len = 8;
    file_pwrite(path, &slot, sizeof(slot), sizeof(reg_hdr_t) + sizeof(reg_slot_t));

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_int_equal(snapshot_count(reg, NULL), 0);
    assert_int_equal(join_ok(reg, a), 0);
    free(a);
    ucpg_registry_close(reg);
}


/* --- damaged, foreign and hostile files ----------------------------------- */

static void test_garbage_file_is_rebuilt_with_warning(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_entry_t *a = entry_new(151);
    size_t len = reg_file_size(NSLOTS) + 123, i;
    char path[PATH_MAX];
    ucpg_registry_t *reg;
    uint8_t *garbage;
    struct stat st;

    registry_path(ctx, DOMAIN, path, sizeof(path));
    garbage = malloc(len);
    assert_non_null(garbage);
    srandom(12345);
    for (i = 0; i < len; ++i) {
        garbage[i] = (uint8_t)random();
    }
    garbage[0] = 'X';   /* never the magic by chance */
    file_write(path, garbage, len, 0600);
    free(garbage);

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_true(captured_log_contains(ctx, "rebuilding"));
    assert_int_equal(ucpg_registry_nslots(reg), NSLOTS);
    assert_true(ucpg_registry_secret(reg) != 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, reg_file_size(NSLOTS));
    assert_int_equal(snapshot_count(reg, NULL), 0);
    assert_int_equal(join_ok(reg, a), 0);
    free(a);
    ucpg_registry_close(reg);
}

/* Right magic and version, impossible geometry: also rebuilt, not trusted. */
static void test_inconsistent_header_is_rebuilt_with_warning(void **state)
{
    test_ctx_t *ctx = *state;
    char path[PATH_MAX];
    ucpg_registry_t *reg;
    reg_hdr_t hdr;

    registry_create(ctx, DOMAIN, NSLOTS);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    memset(&hdr, 0, sizeof(hdr));
    memcpy(hdr.magic, REG_MAGIC, sizeof(REG_MAGIC));
    hdr.version   = REG_VERSION;
    hdr.hdr_size  = sizeof(reg_hdr_t);
    hdr.slot_size = sizeof(reg_slot_t);
    hdr.nslots    = 100000;
    hdr.secret    = 1;
    file_pwrite(path, &hdr, sizeof(hdr), 0);

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_true(captured_log_contains(ctx, "rebuilding"));
    assert_int_equal(ucpg_registry_nslots(reg), NSLOTS);
    ucpg_registry_close(reg);
}

static void test_file_truncated_inside_slots_is_rebuilt(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_entry_t *a = entry_new(161);
    char path[PATH_MAX];
    ucpg_registry_t *reg;
    struct stat st;

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    join_ok(reg, a);
    ucpg_registry_close(reg);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    assert_int_equal(truncate(path, (off_t)reg_file_size(NSLOTS / 2) + 10), 0);

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_true(captured_log_contains(ctx, "rebuilding"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, reg_file_size(NSLOTS));
    assert_int_equal(snapshot_count(reg, NULL), 0);
    assert_int_equal(join_ok(reg, a), 0);
    free(a);
    ucpg_registry_close(reg);
}

static void test_file_truncated_inside_header_is_rebuilt(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_entry_t *a = entry_new(171);
    char path[PATH_MAX];
    ucpg_registry_t *reg;

    registry_create(ctx, DOMAIN, NSLOTS);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    assert_int_equal(truncate(path, 20), 0);   /* past the magic, short of the rest */

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_true(captured_log_contains(ctx, "rebuilding"));
    assert_int_equal(ucpg_registry_nslots(reg), NSLOTS);
    assert_int_equal(join_ok(reg, a), 0);
    free(a);
    ucpg_registry_close(reg);
}

/* Another library version may be using the file right now: refuse, and leave
 * the file exactly as it is. */
static void test_file_of_other_version_returns_registry_error(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = NULL;
    size_t len = reg_file_size(NSLOTS), after_len;
    char path[PATH_MAX];
    reg_hdr_t hdr;
    char *data, *after;

    registry_path(ctx, DOMAIN, path, sizeof(path));
    data = calloc(1, len);
    assert_non_null(data);
    memset(&hdr, 0, sizeof(hdr));
    memcpy(hdr.magic, REG_MAGIC, sizeof(REG_MAGIC));
    hdr.version   = REG_VERSION + 1;
    hdr.hdr_size  = sizeof(reg_hdr_t);
    hdr.slot_size = sizeof(reg_slot_t);
    hdr.nslots    = NSLOTS;
    hdr.secret    = 0x1234;
    hdr.owner_uid = (uint32_t)geteuid();
    memcpy(data, &hdr, sizeof(hdr));
    file_write(path, data, len, 0600);

    assert_int_equal(ucpg_registry_open(ctx->dir, DOMAIN, NSLOTS, &reg), UCPG_ERR_REGISTRY);
    assert_null(reg);
    after = file_read_all(path, &after_len);
    assert_int_equal(after_len, len);
    assert_memory_equal(after, data, len);
    free(after);
    free(data);
}

/* Whoever can read the file can read the secret and pass as a member; whoever
 * can write it can plant slots. 0644 is the usual mistake. */
static void test_file_accessible_by_group_or_others_returns_access(void **state)
{
    static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0602 };
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = NULL;
    char path[PATH_MAX];
    size_t i;

    registry_create(ctx, DOMAIN, NSLOTS);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); ++i) {
        assert_int_equal(chmod(path, modes[i]), 0);
        assert_int_equal(ucpg_registry_open(ctx->dir, DOMAIN, NSLOTS, &reg),
                         UCPG_ERR_ACCESS);
        assert_null(reg);
    }
}

/* A file planted by another user could carry a secret and slots they chose. */
static void test_file_owned_by_other_uid_returns_access(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = NULL;
    char path[PATH_MAX];

    if (geteuid() != 0) {
        print_message("skipped: chown to another uid needs root (euid %u)\n",
                      (unsigned)geteuid());
        skip();
    }
    registry_create(ctx, DOMAIN, NSLOTS);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(ucpg_registry_open(ctx->dir, DOMAIN, NSLOTS, &reg), UCPG_ERR_ACCESS);
    assert_null(reg);
}

/* /dev/shm is shared by all users: a symlink planted at our path must not make
 * us write through it into a file of the attacker's choosing. */
static void test_symlink_at_registry_path_is_refused_and_target_untouched(void **state)
{
    static const char content[] = "precious data, not a registry\n";
    test_ctx_t *ctx = *state;
    char path[PATH_MAX], target[PATH_MAX];
    struct stat before, after;
    ucpg_registry_t *reg = NULL;
    ucpg_status_t status;
    size_t len;
    char *data;

    registry_path(ctx, DOMAIN, path, sizeof(path));
    snprintf(target, sizeof(target), "%s/target", ctx->dir);
    file_write(target, content, sizeof(content) - 1, 0600);
    assert_int_equal(stat(target, &before), 0);
    assert_int_equal(symlink(target, path), 0);

    status = ucpg_registry_open(ctx->dir, DOMAIN, NSLOTS, &reg);
    assert_true((status == UCPG_ERR_ACCESS) || (status == UCPG_ERR_IO));
    assert_null(reg);

    assert_int_equal(stat(target, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_mode, before.st_mode);
    assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    data = file_read_all(target, &len);
    assert_int_equal(len, sizeof(content) - 1);
    assert_memory_equal(data, content, len);
    free(data);
    assert_int_equal(lstat(path, &after), 0);
    assert_true(S_ISLNK(after.st_mode));
}

/* A dangling symlink must not lead O_CREAT to create its target. */
static void test_dangling_symlink_is_refused_and_target_not_created(void **state)
{
    test_ctx_t *ctx = *state;
    char path[PATH_MAX], target[PATH_MAX];
    ucpg_registry_t *reg = NULL;
    ucpg_status_t status;
    struct stat st;

    registry_path(ctx, DOMAIN, path, sizeof(path));
    snprintf(target, sizeof(target), "%s/not-there", ctx->dir);
    assert_int_equal(symlink(target, path), 0);

    status = ucpg_registry_open(ctx->dir, DOMAIN, NSLOTS, &reg);
    assert_true((status == UCPG_ERR_ACCESS) || (status == UCPG_ERR_IO));
    assert_null(reg);
    assert_int_equal(lstat(target, &st), -1);
    assert_int_equal(errno, ENOENT);
}


/* --- join: parameter validation ------------------------------------------- */

static void test_join_rejects_addr_len_zero(void **state)
{
    ucpg_registry_entry_t *a = entry_new(181);

    a->addr_len = 0;
    assert_join_invalid(*state, a);
    free(a);
}

static void test_join_rejects_addr_len_above_max(void **state)
{
    ucpg_registry_entry_t *a = entry_new(182);

    a->addr_len = UCPG_REGISTRY_ADDR_MAX + 1;
    assert_join_invalid(*state, a);
    a->addr_len = UINT32_MAX;
    assert_join_invalid(*state, a);
    free(a);
}

static void test_join_accepts_addr_len_max(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(183);
    ucpg_registry_entry_t *entries = entries_new(NSLOTS);
    unsigned n;

    a->addr_len = UCPG_REGISTRY_ADDR_MAX;
    memset(a->addr, 0x5c, UCPG_REGISTRY_ADDR_MAX);
    join_ok(reg, a);
    assert_int_equal(ucpg_registry_snapshot(reg, entries, &n), UCPG_OK);
    assert_int_equal(n, 1);
    assert_entry_equal(&entries[0], a);
    free(entries);
    free(a);
    ucpg_registry_close(reg);
}

static void test_join_rejects_uuid_zero(void **state)
{
    ucpg_registry_entry_t *a = entry_new(184);

    a->uuid = 0;
    assert_join_invalid(*state, a);
    free(a);
}

static void test_join_rejects_nodeid_zero(void **state)
{
    ucpg_registry_entry_t *a = entry_new(185);

    a->nodeid = 0;
    assert_join_invalid(*state, a);
    free(a);
}

static void test_join_rejects_pid_zero_or_negative(void **state)
{
    ucpg_registry_entry_t *a = entry_new(186);

    a->pid = 0;
    assert_join_invalid(*state, a);
    a->pid = -1;
    assert_join_invalid(*state, a);
    free(a);
}


/* --- domains -------------------------------------------------------------- */

static void test_registries_of_different_domains_are_independent(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *ra = registry_open_ok(ctx, "alpha", NSLOTS);
    ucpg_registry_t *rb = registry_open_ok(ctx, "beta", 2 * NSLOTS);
    ucpg_registry_entry_t *a = entry_new(191), *b = entry_new(192);

    assert_string_not_equal(ucpg_registry_path(ra), ucpg_registry_path(rb));
    assert_int_not_equal(ucpg_registry_secret(ra), ucpg_registry_secret(rb));
    assert_int_equal(ucpg_registry_nslots(rb), 2 * NSLOTS);

    /* Both get slot 0: neither sees the other's occupant. */
    assert_int_equal(join_ok(ra, a), 0);
    assert_int_equal(join_ok(rb, b), 0);
    assert_int_equal(snapshot_count(ra, NULL), 1);
    assert_int_equal(snapshot_count(rb, NULL), 1);
    assert_true(snapshot_has_uuid(ra, 191));
    assert_true(snapshot_has_uuid(rb, 192));

    assert_int_equal(ucpg_registry_leave(ra, a->slot, a->uuid), UCPG_OK);
    assert_true(snapshot_has_uuid(rb, 192));
    free(a);
    free(b);
    ucpg_registry_close(ra);
    ucpg_registry_close(rb);
}


/* Two processes leave (two handles here); the last removes the file. The
 * first one's progress thread then reclaims a slot of a peer it saw die:
 * that must not create the file again (it did: an empty registry stayed in
 * /dev/shm after everyone left, seen in a loaded make distcheck). */
static void test_reclaim_after_leave_does_not_recreate_the_file(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *ra = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_t *rb = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(301), *b = entry_new(302);
    ucpg_registry_entry_t *peers = entries_new(NSLOTS);
    char path[PATH_MAX];
    unsigned npeers;

    registry_path(ctx, DOMAIN, path, sizeof(path));
    join_ok(ra, a);
    join_ok(rb, b);
    assert_int_equal(ucpg_registry_leave(ra, a->slot, a->uuid), UCPG_OK);
    assert_int_equal(access(path, F_OK), 0);           /* b is still in */
    assert_int_equal(ucpg_registry_leave(rb, b->slot, b->uuid), UCPG_OK);
    assert_int_not_equal(access(path, F_OK), 0);       /* the last one removed it */
    assert_int_equal(ucpg_registry_reclaim(ra, b->slot, b->uuid), UCPG_ERR_NOT_FOUND);
    assert_int_not_equal(access(path, F_OK), 0);
    /* joining again follows the path and creates it, as a first joiner does */
    assert_int_equal(ucpg_registry_join(ra, a, peers, &npeers), UCPG_OK);
    assert_int_equal(npeers, 0);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(ucpg_registry_leave(ra, a->slot, a->uuid), UCPG_OK);
    assert_int_not_equal(access(path, F_OK), 0);
    free(peers);
    free(a);
    free(b);
    ucpg_registry_close(ra);
    ucpg_registry_close(rb);
}

/* --- sweeping registries left behind ------------------------------------- */

/* A registry whose only process died without leaving (killed): the file
 * stays behind. */
static void registry_left_by_the_dead(const test_ctx_t *ctx, const char *domain)
{
    ucpg_registry_t *reg = registry_open_ok(ctx, domain, NSLOTS);
    ucpg_registry_entry_t *dead = entry_new(401);

    dead_process(&dead->pid, &dead->starttime);
    join_ok(reg, dead);
    ucpg_registry_close(reg);
    free(dead);
}

/* Copies the registry of domain from to the file name in the directory. */
static void registry_copy_to(const test_ctx_t *ctx, const char *from, const char *name)
{
    char src[PATH_MAX], dst[PATH_MAX * 2];
    static char bytes[4u << 20];
    ssize_t n;
    int fd;

    registry_path(ctx, from, src, sizeof(src));
    snprintf(dst, sizeof(dst), "%s/%s", ctx->dir, name);
    fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    n = read(fd, bytes, sizeof(bytes));
    close(fd);
    assert_true((n > 0) && ((size_t)n < sizeof(bytes)));
    file_write(dst, bytes, (size_t)n, 0600);
}

static void registry_copy(const test_ctx_t *ctx, const char *from, const char *to)
{
    char name[128];

    snprintf(name, sizeof(name), "ucx_cpg-%u-%s", (unsigned)geteuid(), to);
    registry_copy_to(ctx, from, name);
}

static int registry_exists(const test_ctx_t *ctx, const char *domain)
{
    char path[PATH_MAX];

    registry_path(ctx, domain, path, sizeof(path));
    return access(path, F_OK) == 0;
}

/*
 * Creating a registry removes the others of this user in the directory in
 * which no live process is registered; it leaves alone one with a live
 * process, one that is locked, a file that is not a registry, and another
 * user's. Opening an existing registry sweeps nothing.
 */
static void test_creating_a_registry_removes_those_left_by_the_dead(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *live = registry_open_ok(ctx, "live", NSLOTS), *fresh;
    ucpg_registry_entry_t *self = entry_new(402);
    char path[PATH_MAX], other_uid[PATH_MAX * 2];
    int busy_fd;

    join_ok(live, self);
    registry_left_by_the_dead(ctx, "stale");   /* copied: creating one would sweep */
    registry_copy(ctx, "stale", "busy");
    snprintf(other_uid, sizeof(other_uid), "ucx_cpg-%u-x", (unsigned)geteuid() + 1);
    registry_copy_to(ctx, "stale", other_uid);
    snprintf(other_uid, sizeof(other_uid), "%s/ucx_cpg-%u-x", ctx->dir, (unsigned)geteuid() + 1);
    registry_path(ctx, "junk", path, sizeof(path));
    file_write(path, "not a registry", 14, 0600);
    registry_path(ctx, "busy", path, sizeof(path));
    busy_fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true((busy_fd >= 0) && (flock(busy_fd, LOCK_SH) == 0));

    fresh = registry_open_ok(ctx, "fresh", NSLOTS);
    assert_false(registry_exists(ctx, "stale"));
    assert_true(registry_exists(ctx, "live") && registry_exists(ctx, "busy") &&
                registry_exists(ctx, "junk") && registry_exists(ctx, "fresh"));
    assert_int_equal(access(other_uid, F_OK), 0);
    ucpg_registry_close(fresh);

    close(busy_fd);                                  /* unlocked, but only ... */
    ucpg_registry_close(registry_open_ok(ctx, "fresh", NSLOTS));
    assert_true(registry_exists(ctx, "busy"));       /* ... a new registry sweeps */
    ucpg_registry_close(registry_open_ok(ctx, "fresh2", NSLOTS));
    assert_false(registry_exists(ctx, "busy"));
    assert_true(registry_exists(ctx, "live"));
    assert_int_equal(ucpg_registry_leave(live, self->slot, self->uuid), UCPG_OK);
    free(self);
    ucpg_registry_close(live);
}

/* --- segment ids: claim and lookup ---------------------------------------- */

/* The owner is not in slot 0, so a lookup that ignored the slot would show. */
static void test_seg_claim_explicit_id_is_returned_by_lookup(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(201), *b = entry_new(202);
    uint32_t segid = 42;

    join_ok(reg, a);
    join_ok(reg, b);
    assert_int_not_equal(b->slot, 0);
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, b->slot, b->uuid), UCPG_OK);
    assert_int_equal(segid, 42);          /* an explicit id is kept as is */
    assert_seg_owner(reg, 1, 42, b);
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 1, 42), 1);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}

static void test_seg_claim_of_live_claimed_id_returns_exists(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(211), *b = entry_new(212);
    uint32_t segid;

    join_ok(reg, a);
    join_ok(reg, b);
    seg_claim_ok(reg, 1, 42, a);
    segid = 42;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, a->slot, a->uuid),
                     UCPG_ERR_EXISTS);
    segid = 42;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, b->slot, b->uuid),
                     UCPG_ERR_EXISTS);
    assert_int_equal(segid, 42);
    /* The first claim stands, and was not duplicated. */
    assert_seg_owner(reg, 1, 42, a);
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 1, 42), 1);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}

/* Segment ids are per node: (1, 42) and (2, 42) are two different segments. */
static void test_seg_same_id_on_other_nodeid_is_independent(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(221), *b = entry_new(222);

    join_ok(reg, a);
    join_ok(reg, b);
    seg_claim_ok(reg, 1, 42, a);
    seg_claim_ok(reg, 2, 42, b);
    assert_seg_owner(reg, 1, 42, a);
    assert_seg_owner(reg, 2, 42, b);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, a->uuid), UCPG_OK);
    assert_seg_unclaimed(reg, 1, 42);
    assert_seg_owner(reg, 2, 42, b);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}


/* --- segment ids: system-assigned ids ------------------------------------- */

static void test_seg_auto_ids_start_at_0x80000000_and_increase(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(231);
    uint32_t i, segid;

    join_ok(reg, a);
    for (i = 0; i < 3; ++i) {
        segid = 0;
        assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, a->slot, a->uuid), UCPG_OK);
        assert_int_equal(segid, REG_AUTO_SEGID_BASE + i);   /* written back */
        assert_seg_owner(reg, 1, segid, a);
    }
    free(a);
    ucpg_registry_close(reg);
}

/* An id handed out once may still be cached by an importer: never again. */
static void test_seg_released_auto_id_is_not_reused(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(241);
    uint32_t first, second;

    join_ok(reg, a);
    first = seg_claim_ok(reg, 1, 0, a);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, first, a->uuid), UCPG_OK);
    second = seg_claim_ok(reg, 1, 0, a);
    assert_int_not_equal(second, first);
    assert_int_equal(second, first + 1);
    assert_seg_unclaimed(reg, 1, first);
    free(a);
    ucpg_registry_close(reg);
}

/* The counter lives in the file, not in a process: a later process with a
 * fresh handle continues it. The first id is released before closing so that
 * only the counter can carry the information. */
static void test_seg_auto_id_counter_survives_reopen(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(251);
    uint32_t first;

    join_ok(reg, a);
    first = seg_claim_ok(reg, 1, 0, a);
    assert_int_equal(first, REG_AUTO_SEGID_BASE);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, first, a->uuid), UCPG_OK);
    ucpg_registry_close(reg);

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_int_equal(seg_claim_ok(reg, 1, 0, a), first + 1);
    free(a);
    ucpg_registry_close(reg);
}

/* 0xFFFFFFFF is the last id: handed out once, then the id space is used up
 * rather than starting over at 0 (which means "assign one") or below the base. */
static void test_seg_auto_id_after_0xffffffff_returns_no_resource(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_entry_t *a = entry_new(261);
    char path[PATH_MAX];
    ucpg_registry_t *reg;
    uint32_t segid;
    reg_hdr_t hdr;

    registry_create(ctx, DOMAIN, NSLOTS);
    raw_hdr_read(ctx, DOMAIN, &hdr);
    assert_int_equal(hdr.next_segid, REG_AUTO_SEGID_BASE);
    hdr.next_segid = UINT32_MAX;
    registry_path(ctx, DOMAIN, path, sizeof(path));
    file_pwrite(path, &hdr, sizeof(hdr), 0);

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    join_ok(reg, a);
    assert_int_equal(seg_claim_ok(reg, 1, 0, a), UINT32_MAX);
    assert_seg_owner(reg, 1, UINT32_MAX, a);
    segid = 0;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, a->slot, a->uuid),
                     UCPG_ERR_NO_RESOURCE);
    assert_int_equal(segid, 0);
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 0, 0), 1);
    free(a);
    ucpg_registry_close(reg);
}

/* Whatever the policy on explicit ids in the automatic range (refuse them or
 * skip them when assigning), an automatic claim must never hand out a pair
 * that a live process already holds. */
static void test_seg_auto_id_never_duplicates_live_explicit_claim(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(271), *b = entry_new(272);
    uint32_t segid = REG_AUTO_SEGID_BASE, auto_id;

    join_ok(reg, a);
    join_ok(reg, b);
    if (ucpg_registry_seg_claim(reg, 1, &segid, a->slot, a->uuid) == UCPG_OK) {
        auto_id = seg_claim_ok(reg, 1, 0, b);
        assert_int_not_equal(auto_id, REG_AUTO_SEGID_BASE);
        assert_seg_owner(reg, 1, REG_AUTO_SEGID_BASE, a);
        assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 1, REG_AUTO_SEGID_BASE), 1);
    }
    free(a);
    free(b);
    ucpg_registry_close(reg);
}


/* --- segment ids: release ------------------------------------------------- */

static void test_seg_release_frees_id_for_new_claim(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(281), *b = entry_new(282);

    join_ok(reg, a);
    join_ok(reg, b);
    seg_claim_ok(reg, 1, 42, a);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, a->uuid), UCPG_OK);
    assert_seg_unclaimed(reg, 1, 42);
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 0, 0), 0);
    seg_claim_ok(reg, 1, 42, b);
    assert_seg_owner(reg, 1, 42, b);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}

/* Never claimed, and released twice: both are NOT_FOUND. */
static void test_seg_release_of_unclaimed_id_returns_not_found(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(291);

    join_ok(reg, a);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, a->uuid), UCPG_ERR_NOT_FOUND);
    seg_claim_ok(reg, 1, 42, a);
    assert_int_equal(ucpg_registry_seg_release(reg, 2, 42, a->uuid), UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 43, a->uuid), UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, a->uuid), UCPG_OK);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, a->uuid), UCPG_ERR_NOT_FOUND);
    free(a);
    ucpg_registry_close(reg);
}

static void test_seg_release_with_other_uuid_returns_access_and_keeps_claim(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(301), *b = entry_new(302);

    join_ok(reg, a);
    join_ok(reg, b);
    seg_claim_ok(reg, 1, 42, a);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, b->uuid), UCPG_ERR_ACCESS);
    assert_seg_owner(reg, 1, 42, a);
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, a->uuid), UCPG_OK);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}


/* --- segment ids: claims of dead owners ------------------------------------ */

/* The owner is a real child: alive when it claims, then it dies without
 * releasing, as after a crash. Its process slot is still in the file. */
static void test_seg_claim_of_dead_owner_is_dropped(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *live = entry_new(311), *owner = entry_new(312);
    reg_slot_t slot;
    child_t child;

    join_ok(reg, live);
    child_start(&child);
    owner->pid       = child.pid;
    owner->starttime = child.starttime;
    join_ok(reg, owner);
    seg_claim_ok(reg, 1, 42, owner);
    assert_seg_owner(reg, 1, 42, owner);

    child_end(&child);
    raw_slot_read(ctx, DOMAIN, owner->slot, &slot);
    assert_int_equal(slot.uuid, owner->uuid);
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 1, 42), 1);
    assert_seg_unclaimed(reg, 1, 42);
    /* Dropped means cleared in the file, not only hidden from the caller. */
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 1, 42), 0);
    seg_claim_ok(reg, 1, 42, live);
    assert_seg_owner(reg, 1, 42, live);
    free(owner);
    free(live);
    ucpg_registry_close(reg);
}

/* The owner left the domain (its slot is free) without releasing its ids. */
static void test_seg_claim_of_owner_that_left_is_dropped(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(321), *b = entry_new(322);

    join_ok(reg, a);
    join_ok(reg, b);
    seg_claim_ok(reg, 1, 42, a);
    assert_int_equal(ucpg_registry_leave(reg, a->slot, a->uuid), UCPG_OK);
    assert_seg_unclaimed(reg, 1, 42);
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 1, 42), 0);
    seg_claim_ok(reg, 1, 42, b);
    assert_seg_owner(reg, 1, 42, b);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}

/* The owner's slot now holds a live process of another incarnation: the
 * claim belonged to the previous occupant and must not pass to the new one. */
static void test_seg_claim_of_reused_owner_slot_counts_as_dead(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(331), *b = entry_new(332);
    uint32_t segid;

    join_ok(reg, a);
    seg_claim_ok(reg, 1, 42, a);
    assert_int_equal(ucpg_registry_leave(reg, a->slot, a->uuid), UCPG_OK);
    assert_int_equal(join_ok(reg, b), a->slot);
    assert_seg_unclaimed(reg, 1, 42);
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 1, 42), 0);
    /* The new occupant cannot release it in the old one's name either. */
    assert_int_equal(ucpg_registry_seg_release(reg, 1, 42, a->uuid), UCPG_ERR_NOT_FOUND);
    segid = 42;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, b->slot, b->uuid), UCPG_OK);
    assert_seg_owner(reg, 1, 42, b);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}


/* --- segment ids: parameter validation ------------------------------------ */

static void test_seg_claim_rejects_null_segid_p(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(341);

    join_ok(reg, a);
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, NULL, a->slot, a->uuid),
                     UCPG_ERR_INVALID_PARAM);
    assert_seg_table_untouched(ctx, DOMAIN, NSLOTS);
    free(a);
    ucpg_registry_close(reg);
}

static void test_seg_claim_rejects_nodeid_zero(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(351);
    uint32_t segid;

    join_ok(reg, a);
    segid = 42;
    assert_int_equal(ucpg_registry_seg_claim(reg, 0, &segid, a->slot, a->uuid),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(segid, 42);
    segid = 0;
    assert_int_equal(ucpg_registry_seg_claim(reg, 0, &segid, a->slot, a->uuid),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(segid, 0);
    assert_seg_table_untouched(ctx, DOMAIN, NSLOTS);
    free(a);
    ucpg_registry_close(reg);
}

static void test_seg_claim_rejects_owner_slot_out_of_range(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(361);
    uint32_t segid;

    join_ok(reg, a);
    segid = 42;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, NSLOTS, a->uuid),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(segid, 42);
    segid = 0;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, UINT32_MAX, a->uuid),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(segid, 0);
    assert_seg_table_untouched(ctx, DOMAIN, NSLOTS);
    free(a);
    ucpg_registry_close(reg);
}

static void test_seg_claim_rejects_uuid_zero(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(371);
    uint32_t segid;

    join_ok(reg, a);
    segid = 42;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, a->slot, 0),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(segid, 42);
    segid = 0;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, a->slot, 0),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(segid, 0);
    assert_seg_table_untouched(ctx, DOMAIN, NSLOTS);
    free(a);
    ucpg_registry_close(reg);
}


/* --- segment ids: capacity ------------------------------------------------ */

/*
 * Every claim scans the whole table and checks the owner of each used entry
 * for liveness (a read of its slot and of /proc/<pid>/stat), so filling all
 * UCPG_REGISTRY_NSEGS entries through the API is quadratic and takes minutes.
 * The first NSEGS - 1 claims are therefore written into the file directly,
 * all live and owned by a; the last one goes through the API.
 */
static void test_seg_claim_when_table_full_returns_no_resource(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_registry_entry_t *a = entry_new(381), *b = entry_new(382);
    reg_seg_t *table = calloc(UCPG_REGISTRY_NSEGS, sizeof(*table));
    char path[PATH_MAX];
    uint32_t i, segid;
    reg_hdr_t hdr;

    assert_non_null(table);
    join_ok(reg, a);
    join_ok(reg, b);
    for (i = 0; i < UCPG_REGISTRY_NSEGS - 1; ++i) {
        table[i].state      = 1;
        table[i].nodeid     = 1;
        table[i].segid      = i + 1;
        table[i].owner_slot = a->slot;
        table[i].owner_uuid = a->uuid;
    }
    registry_path(ctx, DOMAIN, path, sizeof(path));
    file_pwrite(path, table, UCPG_REGISTRY_NSEGS * sizeof(*table),
                reg_seg_table_offset(NSLOTS));
    free(table);
    assert_seg_owner(reg, 1, UCPG_REGISTRY_NSEGS - 1, a);   /* the layout is right */

    seg_claim_ok(reg, 1, 100000, b);                        /* the last free entry */
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 0, 0), UCPG_REGISTRY_NSEGS);

    segid = 100001;
    assert_int_equal(ucpg_registry_seg_claim(reg, 1, &segid, b->slot, b->uuid),
                     UCPG_ERR_NO_RESOURCE);
    assert_int_equal(segid, 100001);
    segid = 0;
    assert_int_equal(ucpg_registry_seg_claim(reg, 2, &segid, b->slot, b->uuid),
                     UCPG_ERR_NO_RESOURCE);
    assert_int_equal(segid, 0);
    /* Nobody was pushed out, and the refused automatic claim used no id. */
    assert_int_equal(raw_seg_count(ctx, DOMAIN, NSLOTS, 0, 0), UCPG_REGISTRY_NSEGS);
    assert_seg_owner(reg, 1, 1, a);
    assert_seg_owner(reg, 1, 100000, b);
    raw_hdr_read(ctx, DOMAIN, &hdr);
    assert_int_equal(hdr.next_segid, REG_AUTO_SEGID_BASE);
    free(a);
    free(b);
    ucpg_registry_close(reg);
}


/* --- the CPG group directory ---------------------------------------------- */

/* A directory member for a fake process joined in reg (node 1). */
static ucpg_registry_gmember_t gmember_of(const ucpg_registry_entry_t *e)
{
    ucpg_registry_gmember_t m = {e->slot, e->nodeid, (uint32_t)e->pid, 0, e->uuid};

    return m;
}

/* A registry with n (1 or 2) joined fake processes and their directory
 * members; dir_fix_end frees it all. */
typedef struct {
    ucpg_registry_t         *reg;
    ucpg_registry_entry_t   *e[2];
    ucpg_registry_gmember_t  m[2];
    unsigned                 n;
} dir_fix_t;

static void dir_fix_begin(dir_fix_t *f, const test_ctx_t *ctx, unsigned n)
{
    unsigned i;

    memset(f, 0, sizeof(*f));
    f->reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    f->n   = n;
    for (i = 0; i < n; ++i) {
        f->e[i] = entry_new(100 + i);
        join_ok(f->reg, f->e[i]);
        f->m[i] = gmember_of(f->e[i]);
    }
}

static void dir_fix_end(dir_fix_t *f)
{
    unsigned i;

    for (i = 0; i < f->n; ++i) {
        free(f->e[i]);
    }
    ucpg_registry_close(f->reg);
}

/* The oracle for members of other nodes: alive iff their uuid is odd. */
static int oracle_odd_alive(void *arg, uint32_t slot, uint64_t uuid)
{
    (void)slot;
    ++*(int*)arg;
    return (uuid & 1) != 0;
}

typedef struct {
    unsigned                groups;
    ucpg_registry_group_t   last;
    uint32_t                nmembers;
    ucpg_registry_gmember_t members[4];
} dir_list_t;

static void dir_list_one(void *arg, const ucpg_registry_group_t *group,
                         const ucpg_registry_gmember_t *members, uint32_t nmembers)
{
    dir_list_t *l = arg;

    l->groups++;
    l->last     = *group;
    l->nmembers = nmembers;
    memcpy(l->members, members, ((nmembers < 4) ? nmembers : 4) * sizeof(*members));
}

static dir_list_t dir_list(ucpg_registry_t *reg, const char *name)
{
    dir_list_t l;

    memset(&l, 0, sizeof(l));
    assert_int_equal(ucpg_registry_group_foreach(reg, name, (name != NULL) ? strlen(name) : 0,
                                                 dir_list_one, &l), UCPG_OK);
    return l;
}

static void test_dir_open_creates_then_finds_the_group(void **state)
{
    ucpg_registry_group_t g1, g2;
    int created = 0;
    dir_fix_t f;

    dir_fix_begin(&f, *state, 2);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[0], 1, &g1, &created), UCPG_OK);
    assert_true(created);
    assert_int_equal(g1.seq_slot, f.e[0]->slot);
    assert_int_equal(g1.seq_uuid, f.e[0]->uuid);
    assert_int_equal(g1.view_id, 1);
    assert_int_not_equal(g1.gen, 0);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[1], 1, &g2, &created), UCPG_OK);
    assert_false(created);
    assert_int_equal(g2.gen, g1.gen);
    assert_int_equal(g2.seq_uuid, f.e[0]->uuid);
    dir_fix_end(&f);
}

/* A joiner replaces an incarnation whose members are all stopped: only the
 * incarnation it looked at (a changed entry is BUSY, an absent one
 * NOT_FOUND), in place, with the joiner alone as member and sequencer. */
static void test_dir_supersede_replaces_only_the_incarnation_seen(void **state)
{
    ucpg_registry_group_t old, g, again;
    int created = 0;
    dir_list_t l;
    dir_fix_t f;

    dir_fix_begin(&f, *state, 2);
    assert_int_equal(ucpg_registry_group_supersede(f.reg, "g", 1, 42, &f.m[1], &g),
                     UCPG_ERR_NOT_FOUND);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[0], 1, &old, &created), UCPG_OK);
    assert_int_equal(ucpg_registry_group_supersede(f.reg, "g", 1, old.gen + 1, &f.m[1], &g),
                     UCPG_ERR_BUSY);
    assert_int_equal(ucpg_registry_group_supersede(f.reg, "g", 1, 0, &f.m[1], &g),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_registry_group_supersede(f.reg, "g", 1, old.gen, &f.m[1], &g), UCPG_OK);
    assert_int_equal(g.index, old.index);
    assert_int_not_equal(g.gen, old.gen);
    assert_int_not_equal(g.gen, 0);
    assert_int_equal(g.seq_uuid, f.e[1]->uuid);
    assert_int_equal(g.view_id, 1);
    l = dir_list(f.reg, "g");
    assert_int_equal(l.groups, 1);
    assert_int_equal(l.nmembers, 1);
    assert_int_equal(l.members[0].uuid, f.e[1]->uuid);
    /* A second joiner that looked at the old incarnation is too late. */
    assert_int_equal(ucpg_registry_group_supersede(f.reg, "g", 1, old.gen, &f.m[0], &again),
                     UCPG_ERR_BUSY);
    /* The old sequencer's view (it runs again) does not take the entry back. */
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, old.gen, 2, &f.m[0], 1),
                     UCPG_ERR_EXISTS);
    assert_int_equal(dir_list(f.reg, "g").last.gen, g.gen);
    dir_fix_end(&f);
}

/* A coordinator in its grace period finds groups but creates none. */
static void test_dir_open_without_may_create_is_busy_only_for_absent_groups(void **state)
{
    ucpg_registry_group_t g;
    int created = 1;
    dir_fix_t f;

    dir_fix_begin(&f, *state, 2);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[0], 0, &g, &created),
                     UCPG_ERR_BUSY);
    assert_false(created);
    assert_int_equal(dir_list(f.reg, NULL).groups, 0);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[0], 1, &g, &created), UCPG_OK);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[1], 0, &g, &created), UCPG_OK);
    assert_false(created);
    dir_fix_end(&f);
}

/* The joiner alone in an entry (its creation's answer was lost): a new
 * incarnation, created for it, never a group it would wait in for ever. */
static void test_dir_open_by_the_only_live_member_recreates_the_group(void **state)
{
    ucpg_registry_group_t g1, g2;
    int created = 0;
    dir_fix_t f;

    dir_fix_begin(&f, *state, 1);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[0], 1, &g1, &created), UCPG_OK);
    assert_int_equal(ucpg_registry_group_open(f.reg, "g", 1, &f.m[0], 1, &g2, &created), UCPG_OK);
    assert_true(created);
    assert_int_not_equal(g2.gen, g1.gen);
    assert_int_equal(dir_list(f.reg, NULL).groups, 1);
    dir_fix_end(&f);
}

/* publish finds its entry by name: a new coordinator learns groups it never
 * saw; an older view never overwrites a newer; nmembers 0 removes. */
static void test_dir_publish_creates_updates_and_removes_by_name(void **state)
{
    ucpg_registry_gmember_t m[2];
    dir_list_t l;
    dir_fix_t f;

    dir_fix_begin(&f, *state, 2);
    m[0] = f.m[1];                                          /* b orders the group */
    m[1] = f.m[0];
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 77, 5, m, 2), UCPG_OK);
    l = dir_list(f.reg, "g");
    assert_int_equal(l.groups, 1);
    assert_int_equal(l.last.gen, 77);
    assert_int_equal(l.last.view_id, 5);
    assert_int_equal(l.last.seq_uuid, f.e[1]->uuid);       /* the first member orders */
    assert_int_equal(l.nmembers, 2);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 77, 4, m + 1, 1), UCPG_OK);
    assert_int_equal(dir_list(f.reg, "g").nmembers, 2);     /* view 4 is older: ignored */
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 77, 6, m + 1, 1), UCPG_OK);
    l = dir_list(f.reg, "g");
    assert_int_equal(l.nmembers, 1);
    assert_int_equal(l.last.seq_uuid, f.e[0]->uuid);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 77, 7, NULL, 0), UCPG_OK);
    assert_int_equal(dir_list(f.reg, NULL).groups, 0);
    dir_fix_end(&f);
}

/* Two incarnations of one name: the live one stays, the other is told. */
static void test_dir_publish_of_another_gen_while_live_returns_exists(void **state)
{
    ucpg_registry_gmember_t gone = {3, 1, 1, 0, 999};
    dir_fix_t f;

    dir_fix_begin(&f, *state, 1);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 77, 1, f.m, 1), UCPG_OK);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 78, 9, f.m, 1), UCPG_ERR_EXISTS);
    assert_int_equal(dir_list(f.reg, "g").last.gen, 77);
    /* an incarnation whose members are all dead is replaced */
    assert_int_equal(ucpg_registry_group_publish(f.reg, "h", 1, 80, 1, &gone, 1), UCPG_OK);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "h", 1, 81, 1, f.m, 1), UCPG_OK);
    assert_int_equal(dir_list(f.reg, "h").last.gen, 81);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "h", 1, 0, 1, f.m, 1),
                     UCPG_ERR_INVALID_PARAM);
    dir_fix_end(&f);
}

/* Members of other nodes have no slot here: the oracle decides, and
 * without one they count as dead. */
static void test_dir_members_of_other_nodes_are_judged_by_the_oracle(void **state)
{
    ucpg_registry_gmember_t m[3];
    int calls = 0;
    dir_list_t l;
    dir_fix_t f;

    dir_fix_begin(&f, *state, 1);
    m[0] = f.m[0];
    m[1] = (ucpg_registry_gmember_t){f.m[0].slot, 2, 4242, 0, 7};   /* node 2, odd: alive */
    m[2] = (ucpg_registry_gmember_t){f.m[0].slot, 2, 4243, 0, 8};   /* node 2, even: dead */
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 77, 1, m, 3), UCPG_OK);
    assert_int_equal(dir_list(f.reg, "g").nmembers, 1);             /* no oracle yet */
    ucpg_registry_set_oracle(f.reg, 1, oracle_odd_alive, &calls);
    l = dir_list(f.reg, "g");
    assert_int_equal(l.nmembers, 2);
    assert_int_equal(l.members[1].pid, 4242);
    assert_int_equal(calls, 2);                                     /* only node 2's asked */
    ucpg_registry_set_oracle(f.reg, 0, NULL, NULL);
    dir_fix_end(&f);
}

static void test_dir_clear_empties_the_directory(void **state)
{
    dir_fix_t f;

    dir_fix_begin(&f, *state, 1);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "g", 1, 77, 1, f.m, 1), UCPG_OK);
    assert_int_equal(ucpg_registry_group_publish(f.reg, "h", 1, 78, 1, f.m, 1), UCPG_OK);
    assert_int_equal(dir_list(f.reg, NULL).groups, 2);
    assert_int_equal(ucpg_registry_group_clear(f.reg), UCPG_OK);
    assert_int_equal(dir_list(f.reg, NULL).groups, 0);
    dir_fix_end(&f);
}


/* --- host-group records --------------------------------------------------- */

/* An offer no process can attach: no segment has a negative id. */
static ucpg_shm_offer_t hg_dead_offer(uint64_t cookie)
{
    ucpg_shm_offer_t offer = {-1, 4096, cookie};

    return offer;
}

static void assert_offer_equal(const ucpg_shm_offer_t *got, const ucpg_shm_offer_t *expected)
{
    assert_int_equal(got->shmid, expected->shmid);
    assert_int_equal(got->size, expected->size);
    assert_int_equal(got->cookie, expected->cookie);
}

/* What swap reports as the current offer of a name without a record. */
static void assert_offer_none(const ucpg_shm_offer_t *got)
{
    assert_int_equal(got->shmid, -1);
    assert_int_equal(got->size, 0);
    assert_int_equal(got->cookie, 0);
}

/* Host-group name i of a full table: "hg-<i>". */
static size_t hg_name(unsigned i, char *name, size_t size)
{
    int n = snprintf(name, size, "hg-%u", i);

    assert_true((n > 0) && ((size_t)n < size));
    return (size_t)n;
}

static void hg_create_ok(ucpg_registry_t *reg, const char *name, const ucpg_shm_offer_t *offer)
{
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, name, strlen(name), NULL, offer, NULL),
                     UCPG_OK);
}

static void assert_hg_recorded(ucpg_registry_t *reg, const char *name,
                               const ucpg_shm_offer_t *expected)
{
    ucpg_shm_offer_t got;

    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, name, strlen(name), &got), UCPG_OK);
    assert_offer_equal(&got, expected);
}

static void assert_hg_absent(ucpg_registry_t *reg, const char *name)
{
    ucpg_shm_offer_t got;

    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, name, strlen(name), &got),
                     UCPG_ERR_NOT_FOUND);
}

/* What foreach reported: how many records, and the last one. */
typedef struct {
    unsigned         n;
    unsigned         named_g;      /* records named "g" */
    size_t           last_len;
    uint8_t          last_name[UCPG_REGISTRY_GROUP_NAME_MAX];
    ucpg_shm_offer_t last_offer;
} hg_list_t;

static void hg_list_one(void *arg, const uint8_t *name, size_t name_len,
                        const ucpg_shm_offer_t *offer)
{
    hg_list_t *l = arg;

    assert_true(name_len <= UCPG_REGISTRY_GROUP_NAME_MAX);
    l->n++;
    l->named_g += (name_len == 1) && (name[0] == 'g');
    l->last_len   = name_len;
    l->last_offer = *offer;
    memcpy(l->last_name, name, name_len);
}

static hg_list_t hg_list(ucpg_registry_t *reg)
{
    hg_list_t l;

    memset(&l, 0, sizeof(l));
    assert_int_equal(ucpg_registry_hostgroup_foreach(reg, hg_list_one, &l), UCPG_OK);
    return l;
}

static void test_hostgroup_lookup_in_an_empty_registry_returns_not_found(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t got = {7, 8, 9};

    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, "g", 1, &got), UCPG_ERR_NOT_FOUND);
    assert_int_equal(got.shmid, 7);                  /* untouched */
    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, "", 0, &got), UCPG_ERR_NOT_FOUND);
    assert_int_equal(hg_list(reg).n, 0);
    ucpg_registry_close(reg);
}

/* expected NULL: create; another handle (another process) sees the record. */
static void test_hostgroup_swap_from_no_record_creates_it(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_registry_t *other = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t a = hg_dead_offer(11);

    hg_create_ok(reg, "g", &a);
    assert_hg_recorded(reg, "g", &a);
    assert_hg_recorded(other, "g", &a);
    assert_hg_absent(other, "h");
    ucpg_registry_close(other);
    ucpg_registry_close(reg);
}

/* Of two creators the second is told what the first recorded. */
static void test_hostgroup_second_create_returns_exists_and_the_first_offer(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t a = hg_dead_offer(11), b = hg_dead_offer(12), current;

    hg_create_ok(reg, "g", &a);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, NULL, &b, &current),
                     UCPG_ERR_EXISTS);
    assert_offer_equal(&current, &a);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, NULL, &b, NULL), UCPG_ERR_EXISTS);
    assert_hg_recorded(reg, "g", &a);
    ucpg_registry_close(reg);
}

static void test_hostgroup_swap_with_the_recorded_offer_replaces_it(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t a = hg_dead_offer(11), b = {5, 8192, 12};
    hg_list_t l;

    hg_create_ok(reg, "g", &a);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &a, &b, NULL), UCPG_OK);
    assert_hg_recorded(reg, "g", &b);
    l = hg_list(reg);
    assert_int_equal(l.n, 1);                        /* in place, not a second record */
    ucpg_registry_close(reg);
}

/* Offers compare on shmid, size and cookie each; a differing one (or an
 * expected offer where there is no record) changes nothing. */
static void test_hostgroup_swap_with_a_wrong_expected_returns_exists(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t a = {5, 8192, 11}, b = {6, 4096, 12}, wrong, current;

    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &a, &b, &current),
                     UCPG_ERR_EXISTS);
    assert_offer_none(&current);
    assert_hg_absent(reg, "g");
    hg_create_ok(reg, "g", &a);
    wrong = a;
    wrong.shmid++;
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &wrong, &b, &current),
                     UCPG_ERR_EXISTS);
    assert_offer_equal(&current, &a);
    wrong = a;
    wrong.size++;
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &wrong, &b, NULL),
                     UCPG_ERR_EXISTS);
    wrong = a;
    wrong.cookie++;
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &wrong, NULL, NULL),
                     UCPG_ERR_EXISTS);
    assert_hg_recorded(reg, "g", &a);
    ucpg_registry_close(reg);
}

/* offer NULL removes, under the same compare; removing nothing is a no-op. */
static void test_hostgroup_swap_to_null_removes_the_record(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t a = hg_dead_offer(11), b = hg_dead_offer(12), current;

    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, NULL, NULL, NULL), UCPG_OK);
    assert_hg_absent(reg, "g");
    hg_create_ok(reg, "g", &a);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &b, NULL, &current),
                     UCPG_ERR_EXISTS);
    assert_offer_equal(&current, &a);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, NULL, NULL, NULL),
                     UCPG_ERR_EXISTS);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &a, NULL, NULL), UCPG_OK);
    assert_hg_absent(reg, "g");
    assert_int_equal(hg_list(reg).n, 0);
    hg_create_ok(reg, "g", &b);                      /* the name can be recorded again */
    assert_hg_recorded(reg, "g", &b);
    ucpg_registry_close(reg);
}

static void test_hostgroup_name_longer_than_max_is_invalid(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    uint8_t name[UCPG_REGISTRY_GROUP_NAME_MAX + 1];
    ucpg_shm_offer_t a = hg_dead_offer(11), got, current = {7, 8, 9};
    hg_list_t l;

    memset(name, 'n', sizeof(name));
    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, name, sizeof(name), &got),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, name, sizeof(name), NULL, &a, &current),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(current.shmid, 7);
    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, NULL, 1, &got), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, "g", 1, NULL), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_registry_hostgroup_foreach(reg, NULL, NULL), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(hg_list(reg).n, 0);
    /* The longest name there is fits. */
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, name, sizeof(name) - 1, NULL, &a, NULL),
                     UCPG_OK);
    assert_int_equal(ucpg_registry_hostgroup_lookup(reg, name, sizeof(name) - 1, &got), UCPG_OK);
    assert_offer_equal(&got, &a);
    l = hg_list(reg);
    assert_int_equal(l.last_len, UCPG_REGISTRY_GROUP_NAME_MAX);
    assert_memory_equal(l.last_name, name, UCPG_REGISTRY_GROUP_NAME_MAX);
    ucpg_registry_close(reg);
}

/* foreach lists every record, those of live and of dead logs alike (it
 * attaches nothing: the caller judges). */
static void test_hostgroup_foreach_lists_every_record(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t live, dead = hg_dead_offer(11);
    void *base;
    hg_list_t l;

    assert_int_equal(ucpg_shm_segment_create(4096, "test", &live, &base), UCPG_OK);
    hg_create_ok(reg, "g", &dead);
    hg_create_ok(reg, "live", &live);
    l = hg_list(reg);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.named_g, 1);
    assert_int_equal(l.last_len, 4);
    assert_memory_equal(l.last_name, "live", 4);
    assert_offer_equal(&l.last_offer, &live);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, &dead, NULL, NULL), UCPG_OK);
    l = hg_list(reg);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.named_g, 0);
    ucpg_shm_segment_detach(base);
    ucpg_registry_close(reg);
}

/* A record marked used whose name does not fit, or with no such state, is
 * garbled: it is not listed, not found, and its room is taken. */
static void test_hostgroup_garbled_record_counts_as_free(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_shm_offer_t a = hg_dead_offer(11);
    reg_hostgroup_t rec[2];
    char path[PATH_MAX];
    ucpg_registry_t *reg;

    registry_create(ctx, DOMAIN, NSLOTS);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    memset(rec, 0, sizeof(rec));
    rec[0].state    = 1;
    rec[0].name_len = UCPG_REGISTRY_GROUP_NAME_MAX + 1;       /* the nonsense */
    rec[0].name[0]  = 'g';
    rec[0].shmid    = 3;
    rec[1].state    = 77;                                     /* no such state */
    rec[1].name_len = 1;
    rec[1].name[0]  = 'g';
    rec[1].shmid    = 4;
    file_pwrite(path, rec, sizeof(rec), reg_hostgroup_table_offset(NSLOTS));

    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_hg_absent(reg, "g");
    assert_int_equal(hg_list(reg).n, 0);
    hg_create_ok(reg, "h", &a);
    ucpg_registry_close(reg);
    memset(rec, 0, sizeof(rec));
    file_pread(path, rec, sizeof(rec[0]), reg_hostgroup_table_offset(NSLOTS));
    assert_int_equal(rec[0].state, 1);                        /* the first garbled one */
    assert_int_equal(rec[0].name_len, 1);
    assert_int_equal(rec[0].name[0], 'h');
    assert_int_equal(rec[0].shmid, -1);
}

/* A new file has no records, and neither has one rebuilt over a corrupt
 * header: the table is zeroed with the rest of the file. */
static void test_hostgroup_rebuilt_registry_has_no_records(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    ucpg_shm_offer_t a = hg_dead_offer(11);
    char path[PATH_MAX];

    hg_create_ok(reg, "g", &a);
    ucpg_registry_close(reg);
    registry_path(ctx, DOMAIN, path, sizeof(path));
    file_pwrite(path, "garbage!", 8, 0);
    reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    assert_true(captured_log_contains(ctx, "rebuilding"));
    assert_hg_absent(reg, "g");
    assert_int_equal(hg_list(reg).n, 0);
    ucpg_registry_close(reg);
}

/* Every record names a log that is gone: a new name still gets one, by
 * reusing a stale record (which drops that name), never a second table. */
static void test_hostgroup_full_table_of_dead_logs_reuses_a_stale_record(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t dead, a = hg_dead_offer(0xabc), got;
    unsigned i, gone = 0;
    char name[32];
    size_t len;

    for (i = 0; i < UCPG_REGISTRY_NHOSTGROUPS; ++i) {
        dead = hg_dead_offer(ucpg_proc_random64());
        len  = hg_name(i, name, sizeof(name));
        assert_int_equal(ucpg_registry_hostgroup_swap(reg, name, len, NULL, &dead, NULL),
                         UCPG_OK);
    }
    assert_int_equal(hg_list(reg).n, UCPG_REGISTRY_NHOSTGROUPS);
    hg_create_ok(reg, "new", &a);
    assert_hg_recorded(reg, "new", &a);
    assert_int_equal(hg_list(reg).n, UCPG_REGISTRY_NHOSTGROUPS);
    for (i = 0; i < UCPG_REGISTRY_NHOSTGROUPS; ++i) {
        len = hg_name(i, name, sizeof(name));
        gone += (ucpg_registry_hostgroup_lookup(reg, name, len, &got) == UCPG_ERR_NOT_FOUND);
    }
    assert_int_equal(gone, 1);
    ucpg_registry_close(reg);
}

/* Records every name of a full table with one live segment's offer; the
 * caller detaches *base_p. */
static void hg_fill_live(ucpg_registry_t *reg, ucpg_shm_offer_t *live, void **base_p)
{
    char name[32];
    size_t len;
    unsigned i;

    assert_int_equal(ucpg_shm_segment_create(4096, "test", live, base_p), UCPG_OK);
    for (i = 0; i < UCPG_REGISTRY_NHOSTGROUPS; ++i) {
        len = hg_name(i, name, sizeof(name));
        assert_int_equal(ucpg_registry_hostgroup_swap(reg, name, len, NULL, live, NULL),
                         UCPG_OK);
    }
}

static void test_hostgroup_full_table_of_live_logs_returns_no_resource(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t live, a = hg_dead_offer(11), current = {7, 8, 9};
    void *base;

    hg_fill_live(reg, &live, &base);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "g", 1, NULL, &a, &current),
                     UCPG_ERR_NO_RESOURCE);
    assert_int_equal(current.shmid, 7);              /* untouched */
    assert_true(captured_log_contains(*state, "host-group records name live logs"));
    assert_hg_absent(reg, "g");
    assert_int_equal(hg_list(reg).n, UCPG_REGISTRY_NHOSTGROUPS);
    /* Recorded names can still be changed and removed. */
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "hg-7", 4, &live, &a, NULL), UCPG_OK);
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "hg-8", 4, &live, NULL, NULL), UCPG_OK);
    hg_create_ok(reg, "g", &a);                      /* into hg-8's record */
    ucpg_shm_segment_detach(base);
    ucpg_registry_close(reg);
}

/* In a full table only a record whose log cannot be attached is reused: an
 * offer with a live segment's id and size but another cookie is such a one. */
static void test_hostgroup_only_a_record_of_a_gone_log_is_reused(void **state)
{
    ucpg_registry_t *reg = registry_open_ok(*state, DOMAIN, NSLOTS);
    ucpg_shm_offer_t live, impostor, a = hg_dead_offer(11);
    char name[32];
    unsigned i;
    void *base;

    hg_fill_live(reg, &live, &base);
    impostor = live;
    impostor.cookie ^= 1;
    assert_int_equal(ucpg_registry_hostgroup_swap(reg, "hg-200", 6, &live, &impostor, NULL),
                     UCPG_OK);
    hg_create_ok(reg, "g", &a);
    assert_hg_recorded(reg, "g", &a);
    assert_hg_absent(reg, "hg-200");
    for (i = 0; i < UCPG_REGISTRY_NHOSTGROUPS; ++i) {
        if (i != 200) {
            hg_name(i, name, sizeof(name));
            assert_hg_recorded(reg, name, &live);
        }
    }
    ucpg_shm_segment_detach(base);
    ucpg_registry_close(reg);
}

/*
 * Two processes create the same name at once: exactly one wins, the other
 * is told the winner's offer. The child opens its own handle (a descriptor
 * shared across fork would share its flock too). Both spin on a flag in
 * shared memory and start on it together, so either may win; a few rounds,
 * a fresh name each.
 */
typedef struct {
    int ready;     /* the child has its handle */
    int go;
} hg_race_t;

/* Spins until *flag is set (10 s at most: a failed parent must not leave
 * the child spinning for ever). */
static int hg_race_wait(int *flag)
{
    uint64_t until = ucpg_time_ns() + 10000000000ull;

    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
        if (ucpg_time_ns() > until) {
            return 0;
        }
    }
    return 1;
}

static void hg_race_child(const test_ctx_t *ctx, const char *name, hg_race_t *race,
                          const ucpg_shm_offer_t *mine, const ucpg_shm_offer_t *theirs)
{
    ucpg_registry_t *reg = NULL;
    ucpg_shm_offer_t current;
    ucpg_status_t status;

    if (ucpg_registry_open(ctx->dir, DOMAIN, NSLOTS, &reg) != UCPG_OK) {
        _exit(3);
    }
    __atomic_store_n(&race->ready, 1, __ATOMIC_RELEASE);
    if (!hg_race_wait(&race->go)) {
        _exit(3);
    }
    status = ucpg_registry_hostgroup_swap(reg, name, strlen(name), NULL, mine, &current);
    ucpg_registry_close(reg);
    if (status == UCPG_OK) {
        _exit(0);
    }
    _exit(((status == UCPG_ERR_EXISTS) && (current.cookie == theirs->cookie)) ? 1 : 2);
}

static void test_hostgroup_concurrent_creates_by_two_processes_one_wins(void **state)
{
    test_ctx_t *ctx = *state;
    ucpg_registry_t *reg = registry_open_ok(ctx, DOMAIN, NSLOTS);
    hg_race_t *race = mmap(NULL, sizeof(*race), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ucpg_shm_offer_t mine, theirs, current, got;
    ucpg_status_t status;
    int wstatus, round;
    char name[32];
    pid_t pid;

    assert_true(race != MAP_FAILED);
    for (round = 0; round < 16; ++round) {
        hg_name((unsigned)round, name, sizeof(name));
        mine   = hg_dead_offer(1000 + (uint64_t)round);
        theirs = hg_dead_offer(2000 + (uint64_t)round);
        memset(race, 0, sizeof(*race));
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            hg_race_child(ctx, name, race, &theirs, &mine);
        }
        assert_true(hg_race_wait(&race->ready));
        __atomic_store_n(&race->go, 1, __ATOMIC_RELEASE);
        status = ucpg_registry_hostgroup_swap(reg, name, strlen(name), NULL, &mine, &current);
        assert_int_equal(waitpid(pid, &wstatus, 0), pid);
        assert_true(WIFEXITED(wstatus));
        assert_int_equal(ucpg_registry_hostgroup_lookup(reg, name, strlen(name), &got), UCPG_OK);
        if (status == UCPG_OK) {
            assert_int_equal(WEXITSTATUS(wstatus), 1);      /* the child lost */
            assert_offer_equal(&got, &mine);
        } else {
            assert_int_equal(status, UCPG_ERR_EXISTS);
            assert_int_equal(WEXITSTATUS(wstatus), 0);      /* the child won */
            assert_offer_equal(&current, &theirs);
            assert_offer_equal(&got, &theirs);
        }
    }
    assert_int_equal(hg_list(reg).n, 16);
    munmap(race, sizeof(*race));
    ucpg_registry_close(reg);
}


int main(void)
{
#define T(_test) cmocka_unit_test_setup_teardown(_test, dir_setup, dir_teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_creates_file_named_after_euid_and_domain),
        T(test_open_creates_file_with_mode_0600),
        T(test_new_registry_has_nonzero_secret_and_requested_nslots),
        T(test_reopen_keeps_secret),
        T(test_reopen_keeps_nslots_of_file_not_requested_one),
        T(test_reopen_keeps_joined_entries),
        T(test_open_rejects_null_dir_or_domain),
        T(test_open_rejects_empty_domain),
        T(test_open_rejects_domain_with_slash),
        T(test_open_rejects_dot_and_dotdot_domains),
        T(test_open_accepts_63_char_domain_and_rejects_64),
        T(test_open_rejects_nslots_below_2),
        T(test_open_rejects_nslots_above_1024),
        T(test_open_accepts_nslots_2_and_1024),
        T(test_join_assigns_distinct_slots),
        T(test_join_returns_other_live_entries_in_slot_order),
        T(test_first_join_returns_no_peers),
        T(test_snapshot_includes_own_entry),
        T(test_join_is_visible_through_another_handle),
        T(test_join_when_full_returns_no_resource),
        T(test_join_at_takes_the_slot_asked_for),
        T(test_join_at_refuses_a_live_holder_and_a_slot_past_the_end),
        T(test_join_at_takes_over_the_slot_of_a_dead_process),
        T(test_leave_frees_slot_for_next_join),
        T(test_leave_with_wrong_uuid_keeps_slot),
        T(test_leave_of_slot_out_of_range_is_invalid),
        T(test_reclaim_after_leave_does_not_recreate_the_file),
        T(test_holds_names_only_the_live_incarnation_in_its_slot),
        T(test_creating_a_registry_removes_those_left_by_the_dead),
        T(test_dead_process_slot_is_reclaimed_by_join),
        T(test_dead_process_slot_is_reclaimed_by_snapshot),
        T(test_slot_with_mismatched_starttime_counts_as_dead),
        T(test_proc_stopped_follows_sigstop_and_sigcont),
        T(test_reclaim_of_live_process_returns_busy_and_keeps_slot),
        T(test_reclaim_of_dead_process_frees_slot),
        T(test_garbled_used_slot_is_treated_as_free),
        T(test_garbage_file_is_rebuilt_with_warning),
        T(test_inconsistent_header_is_rebuilt_with_warning),
        T(test_file_truncated_inside_slots_is_rebuilt),
        T(test_file_truncated_inside_header_is_rebuilt),
        T(test_file_of_other_version_returns_registry_error),
        T(test_file_accessible_by_group_or_others_returns_access),
        T(test_file_owned_by_other_uid_returns_access),
        T(test_symlink_at_registry_path_is_refused_and_target_untouched),
        T(test_dangling_symlink_is_refused_and_target_not_created),
        T(test_join_rejects_addr_len_zero),
        T(test_join_rejects_addr_len_above_max),
        T(test_join_accepts_addr_len_max),
        T(test_join_rejects_uuid_zero),
        T(test_join_rejects_nodeid_zero),
        T(test_join_rejects_pid_zero_or_negative),
        T(test_registries_of_different_domains_are_independent),
        T(test_seg_claim_explicit_id_is_returned_by_lookup),
        T(test_seg_claim_of_live_claimed_id_returns_exists),
        T(test_seg_same_id_on_other_nodeid_is_independent),
        T(test_seg_auto_ids_start_at_0x80000000_and_increase),
        T(test_seg_released_auto_id_is_not_reused),
        T(test_seg_auto_id_counter_survives_reopen),
        T(test_seg_auto_id_after_0xffffffff_returns_no_resource),
        T(test_seg_auto_id_never_duplicates_live_explicit_claim),
        T(test_seg_release_frees_id_for_new_claim),
        T(test_seg_release_of_unclaimed_id_returns_not_found),
        T(test_seg_release_with_other_uuid_returns_access_and_keeps_claim),
        T(test_seg_claim_of_dead_owner_is_dropped),
        T(test_seg_claim_of_owner_that_left_is_dropped),
        T(test_seg_claim_of_reused_owner_slot_counts_as_dead),
        T(test_seg_claim_rejects_null_segid_p),
        T(test_seg_claim_rejects_nodeid_zero),
        T(test_seg_claim_rejects_owner_slot_out_of_range),
        T(test_seg_claim_rejects_uuid_zero),
        T(test_seg_claim_when_table_full_returns_no_resource),
        T(test_dir_open_creates_then_finds_the_group),
        T(test_dir_supersede_replaces_only_the_incarnation_seen),
        T(test_dir_open_without_may_create_is_busy_only_for_absent_groups),
        T(test_dir_open_by_the_only_live_member_recreates_the_group),
        T(test_dir_publish_creates_updates_and_removes_by_name),
        T(test_dir_publish_of_another_gen_while_live_returns_exists),
        T(test_dir_members_of_other_nodes_are_judged_by_the_oracle),
        T(test_dir_clear_empties_the_directory),
        T(test_hostgroup_lookup_in_an_empty_registry_returns_not_found),
        T(test_hostgroup_swap_from_no_record_creates_it),
        T(test_hostgroup_second_create_returns_exists_and_the_first_offer),
        T(test_hostgroup_swap_with_the_recorded_offer_replaces_it),
        T(test_hostgroup_swap_with_a_wrong_expected_returns_exists),
        T(test_hostgroup_swap_to_null_removes_the_record),
        T(test_hostgroup_name_longer_than_max_is_invalid),
        T(test_hostgroup_foreach_lists_every_record),
        T(test_hostgroup_garbled_record_counts_as_free),
        T(test_hostgroup_rebuilt_registry_has_no_records),
        T(test_hostgroup_full_table_of_dead_logs_reuses_a_stale_record),
        T(test_hostgroup_full_table_of_live_logs_returns_no_resource),
        T(test_hostgroup_only_a_record_of_a_gone_log_is_reused),
        T(test_hostgroup_concurrent_creates_by_two_processes_one_wins),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
