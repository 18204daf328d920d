/*
 * registry_int.h - the registry's file format and the helpers its parts
 * share (registry.c: slots and segment ids; registry_group.c: the CPG group
 * directory; registry_hostgroup.c: host-group records). Nothing outside
 * boot/ includes this.
 */
#ifndef UCPG_BOOT_REGISTRY_INT_H
#define UCPG_BOOT_REGISTRY_INT_H

#include <limits.h>
#include <pthread.h>
#include <sys/types.h>

#include "registry.h"

#define UCPG_REGISTRY_MAGIC    "UCPGREG"
/* 2: segment-id table; 3: group directory; 4: host-group records */
#define UCPG_REGISTRY_VERSION  4u
#define UCPG_REGISTRY_AUTO_SEGID_BASE 0x80000000u

enum { UCPG_REGISTRY_SLOT_FREE = 0, UCPG_REGISTRY_SLOT_USED = 1 };

typedef struct ucpg_registry_hdr {
    char     magic[8];
    uint32_t version;
    uint32_t hdr_size;
    uint32_t slot_size;
    uint32_t nslots;
    uint64_t secret;       /* shown in HELLO to prove the sender read this file */
    uint64_t generation;   /* bumped on every change, for cheap change detection */
    uint32_t owner_uid;
    uint32_t nsegs;        /* entries of the segment-id table */
    uint32_t next_segid;   /* next system-assigned segment id (never reused) */
    uint32_t reserved[3];
} ucpg_registry_hdr_t;

/* A published segment id: (nodeid, segid) belongs to (owner_slot, owner_uuid)
 * as long as that process lives. */
typedef struct ucpg_registry_seg {
    uint32_t state;        /* UCPG_REGISTRY_SLOT_FREE / _USED */
    uint32_t nodeid;
    uint32_t segid;
    uint32_t owner_slot;
    uint64_t owner_uuid;
} ucpg_registry_seg_t;

typedef struct ucpg_registry_slot {
    uint32_t state;
    int32_t  pid;
    uint64_t starttime;
    uint64_t uuid;
    uint32_t nodeid;
    uint32_t addr_len;
    uint8_t  addr[UCPG_REGISTRY_ADDR_MAX];
} ucpg_registry_slot_t;

_Static_assert(sizeof(ucpg_registry_hdr_t) == 64, "registry header is 64 bytes");

struct ucpg_registry {
    pthread_mutex_t lock;    /* serializes threads; flock serializes processes */
    int             fd;
    unsigned        want_nslots; /* slots of a file this handle creates */
    unsigned        nslots;
    uint64_t        secret;
    int             left;    /* our slot is gone: never create the file again */
    int             created; /* this handle made the file (ucpg_registry_sweep) */
    char            path[PATH_MAX];
    /* Liveness of directory members of other nodes (ucpg_registry_set_oracle):
     * their slots here belong to this host's processes, so the file cannot
     * tell. Without an oracle such members count as dead. */
    uint32_t        self_node;
    ucpg_registry_alive_fn_t alive_fn;
    void           *alive_arg;
};

/* All of these are called with the lock held (except lock itself). */
ucpg_status_t ucpg_registry_lock(ucpg_registry_t *reg);
void          ucpg_registry_unlock(ucpg_registry_t *reg);
ucpg_status_t ucpg_registry_pio(int write_op, int fd, void *buf, size_t len, off_t off);
/* Does (slot, uuid) still name a live process? */
int           ucpg_registry_owner_alive(ucpg_registry_t *reg, uint32_t slot_index,
                                        uint64_t uuid);
/* With flock held: whether the path names another file than ours now. */
int           ucpg_registry_unlinked(ucpg_registry_t *reg);
/* Removes the file if no live process is registered in it. */
void          ucpg_registry_remove_if_empty(ucpg_registry_t *reg);
/* A header of this library's format that fits a file of file_size bytes. */
int           ucpg_registry_header_consistent(const ucpg_registry_hdr_t *hdr, off_t file_size);
/* registry_sweep.c: removes the registries of our user in dir, other than
 * keep_path, in which no live process is registered (no lock needed). */
void          ucpg_registry_sweep(const char *dir, const char *keep_path);

/* Where the group directory starts, and how many bytes it takes. */
off_t         ucpg_registry_groups_offset(const ucpg_registry_t *reg);
size_t        ucpg_registry_group_tables_size(void);
/* Where the host-group records start (after the group directory), and how
 * many bytes they take. */
off_t         ucpg_registry_hostgroups_offset(const ucpg_registry_t *reg);
size_t        ucpg_registry_hostgroup_table_size(void);

#endif
