/*
 * registry.c - the host registry file (see registry.h for the model).
 *
 * Layout: a 64-byte header, nslots fixed-size process slots, a table of
 * UCPG_REGISTRY_NSEGS segment-id claims, then the group directory
 * (registry_group.c) and the host-group records (registry_hostgroup.c). The
 * file is only ever read and written with pread/pwrite under the lock, never
 * mapped, so a truncated or garbled file cannot fault the process; every
 * slot read back is validated and treated as free if it makes no sense.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "registry_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"

static off_t ucpg_registry_slot_offset(uint32_t slot)
{
    return (off_t)sizeof(ucpg_registry_hdr_t) + (off_t)slot * sizeof(ucpg_registry_slot_t);
}

static size_t ucpg_registry_file_size(unsigned nslots)
{
    return sizeof(ucpg_registry_hdr_t) + (size_t)nslots * sizeof(ucpg_registry_slot_t) +
           (size_t)UCPG_REGISTRY_NSEGS * sizeof(ucpg_registry_seg_t) +
           ucpg_registry_group_tables_size() + ucpg_registry_hostgroup_table_size();
}

off_t ucpg_registry_groups_offset(const ucpg_registry_t *reg)
{
    return ucpg_registry_slot_offset(reg->nslots) +
           (off_t)UCPG_REGISTRY_NSEGS * sizeof(ucpg_registry_seg_t);
}

off_t ucpg_registry_hostgroups_offset(const ucpg_registry_t *reg)
{
    return ucpg_registry_groups_offset(reg) + (off_t)ucpg_registry_group_tables_size();
}

static off_t ucpg_registry_seg_offset(const ucpg_registry_t *reg, uint32_t i)
{
    return ucpg_registry_slot_offset(reg->nslots) + (off_t)i * sizeof(ucpg_registry_seg_t);
}

ucpg_status_t ucpg_registry_pio(int write_op, int fd, void *buf, size_t len, off_t off)
{
    ssize_t n;
    size_t done = 0;

    while (done < len) {
        n = write_op ? pwrite(fd, (char*)buf + done, len - done, off + (off_t)done)
                     : pread(fd, (char*)buf + done, len - done, off + (off_t)done);
        if ((n < 0) && (errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            return UCPG_ERR_IO;
        }
        done += (size_t)n;
    }
    return UCPG_OK;
}

static ucpg_status_t ucpg_registry_check_owner(ucpg_registry_t *reg);
static ucpg_status_t ucpg_registry_load_header(ucpg_registry_t *reg, unsigned nslots);

static ucpg_status_t ucpg_registry_flock(ucpg_registry_t *reg)
{
    while (flock(reg->fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            ucpg_error("flock(%s) failed: %m", reg->path);
            return UCPG_ERR_IO;
        }
    }
    return UCPG_OK;
}

/* With flock held: was the file removed (or replaced) since we opened it? */
int ucpg_registry_unlinked(ucpg_registry_t *reg)
{
    struct stat by_fd, by_path;

    if (fstat(reg->fd, &by_fd) != 0) {
        return 0;
    }
    if (lstat(reg->path, &by_path) != 0) {
        return 1;
    }
    return (by_fd.st_ino != by_path.st_ino) || (by_fd.st_dev != by_path.st_dev);
}

/*
 * The last process to leave removes the file (so /dev/shm does not collect
 * registries). A process that opened it just before holds a removed file:
 * it must move to the file at the path, creating it, or it would form a
 * domain of its own. A process that left already must not create it: its
 * progress thread still reclaims the slots of peers it sees die, and doing
 * so after the last one removed the file left a new, empty one behind
 * (seen once in a loaded make distcheck). It gets UCPG_ERR_NOT_FOUND: there
 * is nothing left to change. Called with flock held; returns with flock held
 * on the current file.
 */
static ucpg_status_t ucpg_registry_follow_path(ucpg_registry_t *reg)
{
    int create = __atomic_load_n(&reg->left, __ATOMIC_ACQUIRE) ? 0 : O_CREAT;
    ucpg_status_t status;
    int fd, moved = 0;

    while (ucpg_registry_unlinked(reg)) {
        fd = open(reg->path, O_RDWR | create | O_NOFOLLOW | O_CLOEXEC, 0600);
        if ((fd < 0) && !create && (errno == ENOENT)) {
            return UCPG_ERR_NOT_FOUND;
        }
        if (fd < 0) {
            ucpg_error("cannot reopen registry %s: %m", reg->path);
            return UCPG_ERR_IO;
        }
        close(reg->fd);                   /* also drops the old file's flock */
        reg->fd = fd;
        status  = ucpg_registry_check_owner(reg);
        if (status == UCPG_OK) {
            status = ucpg_registry_flock(reg);
        }
        if (status != UCPG_OK) {
            return status;
        }
        moved = 1;
    }
    return moved ? ucpg_registry_load_header(reg, reg->want_nslots) : UCPG_OK;
}

/* Takes both locks; flock is released automatically if the process dies. */
ucpg_status_t ucpg_registry_lock(ucpg_registry_t *reg)
{
    ucpg_status_t status;

    pthread_mutex_lock(&reg->lock);
    status = ucpg_registry_flock(reg);
    if (status == UCPG_OK) {
        status = ucpg_registry_follow_path(reg);
        if (status != UCPG_OK) {
            flock(reg->fd, LOCK_UN);
        }
    }
    if (status != UCPG_OK) {
        pthread_mutex_unlock(&reg->lock);
    }
    return status;
}

void ucpg_registry_unlock(ucpg_registry_t *reg)
{
    flock(reg->fd, LOCK_UN);
    pthread_mutex_unlock(&reg->lock);
}

static int ucpg_registry_name_valid(const char *domain)
{
    size_t len = strlen(domain);

    return (len > 0) && (len < 64) && (strchr(domain, '/') == NULL) &&
           (strcmp(domain, ".") != 0) && (strcmp(domain, "..") != 0);
}

/* Refuses files that another user could have planted or can read. */
static ucpg_status_t ucpg_registry_check_owner(ucpg_registry_t *reg)
{
    struct stat st;

    if (fstat(reg->fd, &st) != 0) {
        ucpg_error("fstat(%s) failed: %m", reg->path);
        return UCPG_ERR_IO;
    }
    if (!S_ISREG(st.st_mode) || (st.st_uid != geteuid()) || ((st.st_mode & 077) != 0)) {
        ucpg_error("registry %s is not a private file of uid %u (owner %u, mode %o): "
                   "refusing to use it", reg->path, (unsigned)geteuid(),
                   (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return UCPG_ERR_ACCESS;
    }
    return UCPG_OK;
}

static ucpg_status_t ucpg_registry_format(ucpg_registry_t *reg, unsigned nslots)
{
    ucpg_registry_hdr_t hdr;

    /* Truncating to 0 first zeroes every slot of an old file. */
    if ((ftruncate(reg->fd, 0) != 0) ||
        (ftruncate(reg->fd, (off_t)ucpg_registry_file_size(nslots)) != 0)) {
        ucpg_error("cannot size registry %s: %m", reg->path);
        return UCPG_ERR_IO;
    }
    memset(&hdr, 0, sizeof(hdr));
    memcpy(hdr.magic, UCPG_REGISTRY_MAGIC, sizeof(UCPG_REGISTRY_MAGIC));
    hdr.version   = UCPG_REGISTRY_VERSION;
    hdr.hdr_size  = sizeof(hdr);
    hdr.slot_size = sizeof(ucpg_registry_slot_t);
    hdr.nslots    = nslots;
    hdr.secret     = ucpg_proc_random64();
    hdr.owner_uid  = (uint32_t)geteuid();
    hdr.nsegs      = UCPG_REGISTRY_NSEGS;
    hdr.next_segid = UCPG_REGISTRY_AUTO_SEGID_BASE;
    reg->nslots   = nslots;
    reg->secret   = hdr.secret;
    return ucpg_registry_pio(1, reg->fd, &hdr, sizeof(hdr), 0);
}

/* Reads and checks the header; formats a new or corrupt file. */
static ucpg_status_t ucpg_registry_load_header(ucpg_registry_t *reg, unsigned nslots)
{
    ucpg_registry_hdr_t hdr;
    struct stat st;

    if (fstat(reg->fd, &st) != 0) {
        return UCPG_ERR_IO;
    }
    if (st.st_size == 0) {
        reg->created = 1;
        return ucpg_registry_format(reg, nslots);
    }
    if ((ucpg_registry_pio(0, reg->fd, &hdr, sizeof(hdr), 0) != UCPG_OK) ||
        (memcmp(hdr.magic, UCPG_REGISTRY_MAGIC, sizeof(UCPG_REGISTRY_MAGIC)) != 0)) {
        ucpg_warn("registry %s has no valid header: rebuilding it", reg->path);
        return ucpg_registry_format(reg, nslots);
    }
    if (hdr.version != UCPG_REGISTRY_VERSION) {
        ucpg_error("registry %s has format version %u, this library uses %u: stop the "
                   "other processes or use another UCX_CPG_DOMAIN", reg->path,
                   hdr.version, UCPG_REGISTRY_VERSION);
        return UCPG_ERR_REGISTRY;
    }
    if (!ucpg_registry_header_consistent(&hdr, st.st_size)) {
        ucpg_warn("registry %s is inconsistent (size %lld, %u slots): rebuilding it",
                  reg->path, (long long)st.st_size, hdr.nslots);
        return ucpg_registry_format(reg, nslots);
    }
    reg->nslots = hdr.nslots;
    reg->secret = hdr.secret;
    return UCPG_OK;
}

int ucpg_registry_header_consistent(const ucpg_registry_hdr_t *hdr, off_t file_size)
{
    return (memcmp(hdr->magic, UCPG_REGISTRY_MAGIC, sizeof(UCPG_REGISTRY_MAGIC)) == 0) &&
           (hdr->version == UCPG_REGISTRY_VERSION) && (hdr->hdr_size == sizeof(*hdr)) &&
           (hdr->slot_size == sizeof(ucpg_registry_slot_t)) &&
           (hdr->nslots >= UCPG_REGISTRY_MIN_SLOTS) && (hdr->nslots <= UCPG_REGISTRY_MAX_SLOTS) &&
           ((size_t)file_size == ucpg_registry_file_size(hdr->nslots)) && (hdr->secret != 0) &&
           (hdr->nsegs == UCPG_REGISTRY_NSEGS);
}

ucpg_status_t ucpg_registry_open(const char *dir, const char *domain, unsigned nslots,
                                 ucpg_registry_t **reg_p)
{
    ucpg_registry_t *reg;
    ucpg_status_t status;
    int n;

    if ((dir == NULL) || (domain == NULL) || !ucpg_registry_name_valid(domain) ||
        (nslots < UCPG_REGISTRY_MIN_SLOTS) || (nslots > UCPG_REGISTRY_MAX_SLOTS)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    reg = calloc(1, sizeof(*reg));
    if (reg == NULL) {
        return UCPG_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&reg->lock, NULL);
    reg->want_nslots = nslots;
    n = snprintf(reg->path, sizeof(reg->path), "%s/ucx_cpg-%u-%s", dir,
                 (unsigned)geteuid(), domain);
    if ((n < 0) || ((size_t)n >= sizeof(reg->path))) {
        status = UCPG_ERR_INVALID_PARAM;
        goto err_free;
    }
    /* O_NOFOLLOW: never follow a symlink planted in a shared directory. */
    reg->fd = open(reg->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (reg->fd < 0) {
        ucpg_error("cannot open registry %s: %m", reg->path);
        status = (errno == EACCES || errno == ELOOP || errno == EPERM) ? UCPG_ERR_ACCESS
                                                                        : UCPG_ERR_IO;
        goto err_free;
    }
    status = ucpg_registry_check_owner(reg);
    if (status != UCPG_OK) {
        goto err_close;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        goto err_close;
    }
    status = ucpg_registry_load_header(reg, nslots);
    ucpg_registry_unlock(reg);
    if (status != UCPG_OK) {
        goto err_close;
    }
    if (reg->created) {
        ucpg_registry_sweep(dir, reg->path);     /* once per new domain */
    }
    *reg_p = reg;
    return UCPG_OK;

err_close:
    close(reg->fd);
err_free:
    pthread_mutex_destroy(&reg->lock);
    free(reg);
    return status;
}

void ucpg_registry_close(ucpg_registry_t *reg)
{
    if (reg == NULL) {
        return;
    }
    close(reg->fd);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

const char *ucpg_registry_path(const ucpg_registry_t *reg) { return reg->path; }
uint64_t    ucpg_registry_secret(const ucpg_registry_t *reg) { return reg->secret; }
unsigned    ucpg_registry_nslots(const ucpg_registry_t *reg) { return reg->nslots; }

static ucpg_status_t ucpg_registry_read_slot(ucpg_registry_t *reg, uint32_t i,
                                             ucpg_registry_slot_t *slot)
{
    return ucpg_registry_pio(0, reg->fd, slot, sizeof(*slot), ucpg_registry_slot_offset(i));
}

static ucpg_status_t ucpg_registry_write_slot(ucpg_registry_t *reg, uint32_t i,
                                              const ucpg_registry_slot_t *slot)
{
    ucpg_registry_hdr_t hdr;
    ucpg_status_t status;

    status = ucpg_registry_pio(1, reg->fd, (void*)slot, sizeof(*slot),
                               ucpg_registry_slot_offset(i));
    if ((status == UCPG_OK) &&
        (ucpg_registry_pio(0, reg->fd, &hdr, sizeof(hdr), 0) == UCPG_OK)) {
        ++hdr.generation;
        status = ucpg_registry_pio(1, reg->fd, &hdr, sizeof(hdr), 0);
    }
    return status;
}

static void ucpg_registry_clear_slot(ucpg_registry_t *reg, uint32_t i)
{
    ucpg_registry_slot_t slot;

    memset(&slot, 0, sizeof(slot));
    if (ucpg_registry_write_slot(reg, i, &slot) != UCPG_OK) {
        ucpg_warn("cannot clear slot %u of %s: %m", i, reg->path);
    }
}

/* A used slot whose contents are nonsense is as good as free. */
static int ucpg_registry_slot_sane(const ucpg_registry_slot_t *slot)
{
    return (slot->pid > 0) && (slot->uuid != 0) && (slot->nodeid != 0) &&
           (slot->addr_len > 0) && (slot->addr_len <= UCPG_REGISTRY_ADDR_MAX);
}

static void ucpg_registry_slot_to_entry(uint32_t i, const ucpg_registry_slot_t *slot,
                                        ucpg_registry_entry_t *e)
{
    e->slot      = i;
    e->pid       = slot->pid;
    e->starttime = slot->starttime;
    e->uuid      = slot->uuid;
    e->nodeid    = slot->nodeid;
    e->addr_len  = slot->addr_len;
    memcpy(e->addr, slot->addr, slot->addr_len);
}

/*
 * Walks all slots under the lock: frees dead or garbled ones, copies live
 * ones other than skip_uuid into entries[], and reports the first free slot.
 */
static ucpg_status_t ucpg_registry_scan(ucpg_registry_t *reg, uint64_t skip_uuid,
                                        ucpg_registry_entry_t *entries, unsigned *n_p,
                                        int *free_slot_p)
{
    ucpg_registry_slot_t slot;
    ucpg_status_t status;
    unsigned n = 0;
    uint32_t i;

    *free_slot_p = -1;
    for (i = 0; i < reg->nslots; ++i) {
        status = ucpg_registry_read_slot(reg, i, &slot);
        if (status != UCPG_OK) {
            ucpg_error("cannot read slot %u of %s", i, reg->path);
            return status;
        }
        if (slot.state != UCPG_REGISTRY_SLOT_FREE) {
            if ((slot.state != UCPG_REGISTRY_SLOT_USED) || !ucpg_registry_slot_sane(&slot) ||
                !ucpg_proc_alive(slot.pid, slot.starttime)) {
                ucpg_debug("reclaiming slot %u of %s (pid %d)", i, reg->path, slot.pid);
                ucpg_registry_clear_slot(reg, i);
                slot.state = UCPG_REGISTRY_SLOT_FREE;
            }
        }
        if (slot.state == UCPG_REGISTRY_SLOT_FREE) {
            if (*free_slot_p < 0) {
                *free_slot_p = (int)i;
            }
        } else if ((slot.uuid != skip_uuid) && (entries != NULL)) {
            ucpg_registry_slot_to_entry(i, &slot, &entries[n++]);
        }
    }
    *n_p = n;
    return UCPG_OK;
}

/* Picks the slot for a joiner after a scan: want (or any free one if want < 0). */
static ucpg_status_t ucpg_registry_pick_slot(ucpg_registry_t *reg, int want, int free_slot,
                                             uint32_t *slot_p)
{
    ucpg_registry_slot_t slot;
    ucpg_status_t status;

    if (want < 0) {
        if (free_slot < 0) {
            ucpg_error("registry %s is full (%u processes); raise UCX_CPG_MAX_PROCS and "
                       "restart the domain", reg->path, reg->nslots);
            return UCPG_ERR_NO_RESOURCE;
        }
        *slot_p = (uint32_t)free_slot;
        return UCPG_OK;
    }
    if ((unsigned)want >= reg->nslots) {
        ucpg_error("registry %s has %u slots, slot %d was asked for; raise "
                   "UCX_CPG_MAX_PROCS", reg->path, reg->nslots, want);
        return UCPG_ERR_NO_RESOURCE;
    }
    status = ucpg_registry_read_slot(reg, (uint32_t)want, &slot);
    if ((status == UCPG_OK) && (slot.state != UCPG_REGISTRY_SLOT_FREE)) {
        ucpg_error("slot %d of %s is held by live pid %d", want, reg->path, (int)slot.pid);
        return UCPG_ERR_EXISTS;           /* the scan already freed dead holders */
    }
    *slot_p = (uint32_t)want;
    return status;
}

static ucpg_status_t ucpg_registry_take(ucpg_registry_t *reg, int want,
                                        ucpg_registry_entry_t *self,
                                        ucpg_registry_entry_t *peers, unsigned *npeers_p)
{
    ucpg_registry_slot_t slot;
    ucpg_status_t status;
    uint32_t index = 0;
    int free_slot;

    if ((self->addr_len == 0) || (self->addr_len > UCPG_REGISTRY_ADDR_MAX) ||
        (self->uuid == 0) || (self->nodeid == 0) || (self->pid <= 0)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    __atomic_store_n(&reg->left, 0, __ATOMIC_RELEASE);   /* joining: follow, create */
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_registry_scan(reg, self->uuid, peers, npeers_p, &free_slot);
    if (status == UCPG_OK) {
        status = ucpg_registry_pick_slot(reg, want, free_slot, &index);
    }
    if (status != UCPG_OK) {
        goto out;
    }
    memset(&slot, 0, sizeof(slot));
    slot.state     = UCPG_REGISTRY_SLOT_USED;
    slot.pid       = self->pid;
    slot.starttime = self->starttime;
    slot.uuid      = self->uuid;
    slot.nodeid    = self->nodeid;
    slot.addr_len  = self->addr_len;
    memcpy(slot.addr, self->addr, self->addr_len);
    status = ucpg_registry_write_slot(reg, index, &slot);
    if (status == UCPG_OK) {
        self->slot = index;
    } else {
        ucpg_error("cannot write slot %u of %s: %m", index, reg->path);
    }
out:
    ucpg_registry_unlock(reg);
    return status;
}

ucpg_status_t ucpg_registry_join(ucpg_registry_t *reg, ucpg_registry_entry_t *self,
                                 ucpg_registry_entry_t *peers, unsigned *npeers_p)
{
    return ucpg_registry_take(reg, -1, self, peers, npeers_p);
}

ucpg_status_t ucpg_registry_join_at(ucpg_registry_t *reg, uint32_t slot,
                                    ucpg_registry_entry_t *self,
                                    ucpg_registry_entry_t *peers, unsigned *npeers_p)
{
    if (slot > (uint32_t)INT32_MAX) {
        return UCPG_ERR_INVALID_PARAM;
    }
    return ucpg_registry_take(reg, (int)slot, self, peers, npeers_p);
}

/* Clears slot if it holds uuid and, when only_dead, its process is gone. */
static ucpg_status_t ucpg_registry_release_slot(ucpg_registry_t *reg, uint32_t i,
                                                uint64_t uuid, int only_dead)
{
    ucpg_registry_slot_t slot;
    ucpg_status_t status;

    if (i >= reg->nslots) {
        return UCPG_ERR_INVALID_PARAM;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_registry_read_slot(reg, i, &slot);
    if ((status == UCPG_OK) && (slot.state == UCPG_REGISTRY_SLOT_USED) &&
        (slot.uuid == uuid)) {
        if (only_dead && ucpg_proc_alive(slot.pid, slot.starttime)) {
            status = UCPG_ERR_BUSY;
        } else {
            ucpg_registry_clear_slot(reg, i);
        }
    }
    ucpg_registry_unlock(reg);
    return status;
}

/* With the lock held: removes the file if no live process is registered. */
void ucpg_registry_remove_if_empty(ucpg_registry_t *reg)
{
    ucpg_registry_slot_t slot;
    uint32_t i;

    for (i = 0; i < reg->nslots; ++i) {
        if ((ucpg_registry_read_slot(reg, i, &slot) != UCPG_OK) ||
            ((slot.state == UCPG_REGISTRY_SLOT_USED) && ucpg_registry_slot_sane(&slot) &&
             ucpg_proc_alive(slot.pid, slot.starttime))) {
            return;
        }
    }
    /* Segment claims die with their owners, so none is left either. */
    if (unlink(reg->path) != 0) {
        ucpg_debug("cannot remove registry %s: %m", reg->path);
    }
}

ucpg_status_t ucpg_registry_leave(ucpg_registry_t *reg, uint32_t slot, uint64_t uuid)
{
    ucpg_status_t status = ucpg_registry_release_slot(reg, slot, uuid, 0);

    __atomic_store_n(&reg->left, 1, __ATOMIC_RELEASE);
    if ((status == UCPG_OK) && (ucpg_registry_lock(reg) == UCPG_OK)) {
        ucpg_registry_remove_if_empty(reg);
        ucpg_registry_unlock(reg);
    }
    return status;
}

ucpg_status_t ucpg_registry_reclaim(ucpg_registry_t *reg, uint32_t slot, uint64_t uuid)
{
    return ucpg_registry_release_slot(reg, slot, uuid, 1);
}

int ucpg_registry_holds(ucpg_registry_t *reg, uint32_t slot, uint64_t uuid)
{
    int held;

    if ((reg == NULL) || (ucpg_registry_lock(reg) != UCPG_OK)) {
        return 0;
    }
    held = ucpg_registry_owner_alive(reg, slot, uuid);
    ucpg_registry_unlock(reg);
    return held;
}

ucpg_status_t ucpg_registry_snapshot(ucpg_registry_t *reg, ucpg_registry_entry_t *entries,
                                     unsigned *nentries_p)
{
    ucpg_status_t status;
    int free_slot;

    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_registry_scan(reg, 0, entries, nentries_p, &free_slot);
    ucpg_registry_unlock(reg);
    return status;
}

/* --- segment ids ------------------------------------------------------------- */

/* Called with the lock held: does (slot, uuid) still name a live process? */
int ucpg_registry_owner_alive(ucpg_registry_t *reg, uint32_t slot_index, uint64_t uuid)
{
    ucpg_registry_slot_t slot;

    if ((slot_index >= reg->nslots) ||
        (ucpg_registry_read_slot(reg, slot_index, &slot) != UCPG_OK)) {
        return 0;
    }
    return (slot.state == UCPG_REGISTRY_SLOT_USED) && (slot.uuid == uuid) &&
           ucpg_proc_alive(slot.pid, slot.starttime);
}

static ucpg_status_t ucpg_registry_seg_io(ucpg_registry_t *reg, int write_op, uint32_t i,
                                          ucpg_registry_seg_t *seg)
{
    return ucpg_registry_pio(write_op, reg->fd, seg, sizeof(*seg),
                             ucpg_registry_seg_offset(reg, i));
}

/* One scan of the segment-id table: read in one go, owners checked once. */
typedef struct ucpg_registry_seg_scan {
    ucpg_registry_seg_t *segs;      /* [UCPG_REGISTRY_NSEGS] */
    int                  found;     /* index of the live claim looked for, or -1 */
    int                  free_index; /* first reusable entry, or -1 */
} ucpg_registry_seg_scan_t;

/*
 * Called with the lock held. Reads the table, drops claims whose owner died
 * (writing the cleared entries back) and finds (nodeid, segid) and a free
 * entry. Liveness is checked once per owner slot, not once per claim.
 */
static ucpg_status_t ucpg_registry_seg_scan(ucpg_registry_t *reg, uint32_t nodeid,
                                            uint32_t segid, ucpg_registry_seg_scan_t *scan)
{
    size_t table_len = (size_t)UCPG_REGISTRY_NSEGS * sizeof(ucpg_registry_seg_t);
    signed char *alive;          /* per owner slot: -1 unknown, 0 dead, 1 alive */
    uint64_t *alive_uuid;
    ucpg_registry_seg_t *seg;
    ucpg_status_t status;
    uint32_t i;

    scan->found = scan->free_index = -1;
    scan->segs  = malloc(table_len);
    alive       = malloc(reg->nslots);
    alive_uuid  = calloc(reg->nslots, sizeof(*alive_uuid));
    if ((scan->segs == NULL) || (alive == NULL) || (alive_uuid == NULL)) {
        status = UCPG_ERR_NO_MEMORY;
        goto out;
    }
    memset(alive, -1, reg->nslots);
    status = ucpg_registry_pio(0, reg->fd, scan->segs, table_len,
                               ucpg_registry_seg_offset(reg, 0));
    for (i = 0; (status == UCPG_OK) && (i < UCPG_REGISTRY_NSEGS); ++i) {
        seg = &scan->segs[i];
        if (seg->state == UCPG_REGISTRY_SLOT_USED) {
            if (seg->owner_slot >= reg->nslots) {
                seg->state = UCPG_REGISTRY_SLOT_FREE;            /* garbled */
            } else if ((alive[seg->owner_slot] < 0) ||
                       (alive_uuid[seg->owner_slot] != seg->owner_uuid)) {
                alive[seg->owner_slot]      = (signed char)ucpg_registry_owner_alive(
                                                  reg, seg->owner_slot, seg->owner_uuid);
                alive_uuid[seg->owner_slot] = seg->owner_uuid;
            }
            if ((seg->state == UCPG_REGISTRY_SLOT_USED) && !alive[seg->owner_slot]) {
                memset(seg, 0, sizeof(*seg));                     /* its publisher died */
                status = ucpg_registry_seg_io(reg, 1, i, seg);
            } else if (seg->state != UCPG_REGISTRY_SLOT_USED) {
                memset(seg, 0, sizeof(*seg));
                status = ucpg_registry_seg_io(reg, 1, i, seg);
            }
        }
        if (seg->state != UCPG_REGISTRY_SLOT_USED) {
            if (scan->free_index < 0) {
                scan->free_index = (int)i;
            }
        } else if ((seg->nodeid == nodeid) && (seg->segid == segid) && (scan->found < 0)) {
            scan->found = (int)i;
        }
    }
out:
    free(alive);
    free(alive_uuid);
    if (status != UCPG_OK) {
        free(scan->segs);
        scan->segs = NULL;
    }
    return status;
}

/* Is (nodeid, segid) claimed in the scanned table? */
static int ucpg_registry_seg_taken(const ucpg_registry_seg_scan_t *scan, uint32_t nodeid,
                                   uint32_t segid)
{
    uint32_t i;

    for (i = 0; i < UCPG_REGISTRY_NSEGS; ++i) {
        if ((scan->segs[i].state == UCPG_REGISTRY_SLOT_USED) &&
            (scan->segs[i].nodeid == nodeid) && (scan->segs[i].segid == segid)) {
            return 1;
        }
    }
    return 0;
}

/* Called with the lock held: the next system-assigned id, never reused and
 * never one that is claimed explicitly right now. */
static ucpg_status_t ucpg_registry_seg_next_auto(ucpg_registry_t *reg, uint32_t nodeid,
                                                 const ucpg_registry_seg_scan_t *scan,
                                                 uint32_t *segid_p)
{
    ucpg_registry_hdr_t hdr;
    ucpg_status_t status;

    status = ucpg_registry_pio(0, reg->fd, &hdr, sizeof(hdr), 0);
    if (status != UCPG_OK) {
        return status;
    }
    do {
        if (hdr.next_segid < UCPG_REGISTRY_AUTO_SEGID_BASE) {
            return UCPG_ERR_NO_RESOURCE;      /* wrapped: the id space is used up */
        }
        *segid_p = hdr.next_segid++;
    } while (ucpg_registry_seg_taken(scan, nodeid, *segid_p));
    return ucpg_registry_pio(1, reg->fd, &hdr, sizeof(hdr), 0);
}

ucpg_status_t ucpg_registry_seg_claim(ucpg_registry_t *reg, uint32_t nodeid, uint32_t *segid_p,
                                      uint32_t owner_slot, uint64_t owner_uuid)
{
    ucpg_registry_seg_scan_t scan = {NULL, -1, -1};
    ucpg_registry_seg_t seg;
    ucpg_status_t status;

    if ((segid_p == NULL) || (nodeid == 0) || (owner_slot >= reg->nslots) ||
        (owner_uuid == 0)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_registry_seg_scan(reg, nodeid, *segid_p, &scan);
    if (status != UCPG_OK) {
        goto out;
    }
    if ((*segid_p != 0) && (scan.found >= 0)) {
        status = UCPG_ERR_EXISTS;
        goto out;
    }
    if (scan.free_index < 0) {
        ucpg_error("registry %s: all %u segment ids are in use", reg->path,
                   UCPG_REGISTRY_NSEGS);
        status = UCPG_ERR_NO_RESOURCE;
        goto out;
    }
    memset(&seg, 0, sizeof(seg));
    seg.state      = UCPG_REGISTRY_SLOT_USED;
    seg.nodeid     = nodeid;
    seg.segid      = *segid_p;
    seg.owner_slot = owner_slot;
    seg.owner_uuid = owner_uuid;
    if (seg.segid == 0) {
        status = ucpg_registry_seg_next_auto(reg, nodeid, &scan, &seg.segid);
        if (status != UCPG_OK) {
            goto out;
        }
    }
    status = ucpg_registry_seg_io(reg, 1, (uint32_t)scan.free_index, &seg);
    if (status == UCPG_OK) {
        *segid_p = seg.segid;
    }
out:
    free(scan.segs);
    ucpg_registry_unlock(reg);
    return status;
}

ucpg_status_t ucpg_registry_seg_release(ucpg_registry_t *reg, uint32_t nodeid, uint32_t segid,
                                        uint64_t owner_uuid)
{
    ucpg_registry_seg_scan_t scan = {NULL, -1, -1};
    ucpg_registry_seg_t seg;
    ucpg_status_t status;

    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_registry_seg_scan(reg, nodeid, segid, &scan);
    if ((status == UCPG_OK) && (scan.found < 0)) {
        status = UCPG_ERR_NOT_FOUND;
    } else if ((status == UCPG_OK) && (scan.segs[scan.found].owner_uuid != owner_uuid)) {
        status = UCPG_ERR_ACCESS;              /* someone else's claim */
    } else if (status == UCPG_OK) {
        memset(&seg, 0, sizeof(seg));
        status = ucpg_registry_seg_io(reg, 1, (uint32_t)scan.found, &seg);
    }
    free(scan.segs);
    ucpg_registry_unlock(reg);
    return status;
}

ucpg_status_t ucpg_registry_seg_lookup(ucpg_registry_t *reg, uint32_t nodeid, uint32_t segid,
                                       uint32_t *owner_slot_p, uint64_t *owner_uuid_p)
{
    ucpg_registry_seg_scan_t scan = {NULL, -1, -1};
    ucpg_status_t status;

    if ((owner_slot_p == NULL) || (owner_uuid_p == NULL)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    status = ucpg_registry_lock(reg);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_registry_seg_scan(reg, nodeid, segid, &scan);
    if ((status == UCPG_OK) && (scan.found < 0)) {
        status = UCPG_ERR_NOT_FOUND;
    }
    if (status == UCPG_OK) {
        *owner_slot_p = scan.segs[scan.found].owner_slot;
        *owner_uuid_p = scan.segs[scan.found].owner_uuid;
    }
    free(scan.segs);
    ucpg_registry_unlock(reg);
    return status;
}
