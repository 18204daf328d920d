/*
 * registry_sweep.c - removes the registry files that nobody will remove.
 *
 * The last process to leave a domain removes its registry (registry.c,
 * ucpg_registry_leave). A domain whose processes were all killed keeps it,
 * and since the domain of a job (job.<namespace>, boot/pmix.c) is never
 * named again, nobody would ever open that file and find it empty: /dev/shm
 * collected a 1.8 MB file per job that ended in a crash. So a process that
 * creates a registry also looks, once, at the other registries of its user
 * in the same directory and removes each one in which no live process is
 * registered. It does so under that file's lock, as its last leaver would;
 * a process that opened the file just before moves to a new one at the
 * same path, as after any removal (ucpg_registry_follow_path). A file it
 * cannot lock at once, that is not a private file of ours, or that is not
 * a registry of this library's format is left alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "registry_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* Opened, ours, locked and still at its path: then the header is read. */
static int ucpg_registry_sweep_open(ucpg_registry_t *reg)
{
    ucpg_registry_hdr_t hdr;
    struct stat st;

    reg->fd = open(reg->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (reg->fd < 0) {
        return 0;
    }
    if ((fstat(reg->fd, &st) != 0) || !S_ISREG(st.st_mode) || (st.st_uid != geteuid()) ||
        ((st.st_mode & 077) != 0) || (flock(reg->fd, LOCK_EX | LOCK_NB) != 0) ||
        ucpg_registry_unlinked(reg) ||
        (ucpg_registry_pio(0, reg->fd, &hdr, sizeof(hdr), 0) != UCPG_OK) ||
        !ucpg_registry_header_consistent(&hdr, st.st_size)) {
        return 0;
    }
    reg->nslots = hdr.nslots;
    return 1;
}

static void ucpg_registry_sweep_one(const char *path)
{
    ucpg_registry_t *reg = calloc(1, sizeof(*reg));   /* PATH_MAX: not on the stack */

    if (reg == NULL) {
        return;
    }
    snprintf(reg->path, sizeof(reg->path), "%s", path);
    reg->left = 1;                        /* never create anything */
    if (ucpg_registry_sweep_open(reg)) {
        ucpg_registry_remove_if_empty(reg);
        if (access(reg->path, F_OK) != 0) {
            ucpg_info("removed registry %s: every process of its domain is gone", path);
        }
    }
    if (reg->fd >= 0) {
        close(reg->fd);                   /* also drops the flock */
    }
    free(reg);
}

void ucpg_registry_sweep(const char *dir, const char *keep_path)
{
    char prefix[64], path[PATH_MAX];
    struct dirent *e;
    size_t plen;
    DIR *d;
    int n;

    snprintf(prefix, sizeof(prefix), "ucx_cpg-%u-", (unsigned)geteuid());
    plen = strlen(prefix);
    d    = opendir(dir);
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) != 0) {
            continue;                     /* another user's, or not a registry */
        }
        n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if ((n > 0) && ((size_t)n < sizeof(path)) && (strcmp(path, keep_path) != 0)) {
            ucpg_registry_sweep_one(path);
        }
    }
    closedir(d);
}
