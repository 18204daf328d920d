/*
 * config.c - the key table and everything that reads, checks and prints it.
 *
 * The whole configuration is described by ucpg_config_keys[] below: one row
 * per key with its names, type, place in ucpg_config_t, limits, default and
 * documentation. Defaults, the file and environment readers, validation,
 * printing and the documentation accessors are all driven by that table, so
 * a new key needs one row here and one field in ucpg_config_t.
 *
 * Setting a value is split in two steps: parse and validate the text into a
 * ucpg_config_value_t without touching the configuration, then store it.
 * That is what lets every error leave the configuration exactly as it was;
 * the readers go one step further and work on a copy, so a file or an
 * environment with one bad entry changes nothing at all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* environ */
#endif

#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

typedef enum ucpg_config_type {
    UCPG_CONFIG_TYPE_STRING,    /* a name: min..max characters of [A-Za-z0-9._-] */
    UCPG_CONFIG_TYPE_UINT,      /* an unsigned integer in min..max */
    UCPG_CONFIG_TYPE_NODEID,    /* as UINT, but the default depends on the host */
    UCPG_CONFIG_TYPE_ENUM,      /* one of allowed[], any case, stored as listed */
    UCPG_CONFIG_TYPE_LOGLEVEL,  /* a ucpg_log_level_t by name */
    UCPG_CONFIG_TYPE_PATH       /* min..max bytes, absolute if UCPG_CONFIG_F_ABSOLUTE */
} ucpg_config_type_t;

#define UCPG_CONFIG_F_ABSOLUTE  0x1u   /* PATH: must start with '/' (unless empty) */

typedef struct ucpg_config_key {
    const char         *key;      /* name in the configuration file */
    const char         *env;      /* name in the environment */
    ucpg_config_type_t  type;
    size_t              offset;   /* of the field in ucpg_config_t */
    size_t              size;     /* of that field: bytes of a char array, or
                                     of the integer (2, 4 or 8) */
    unsigned long       min;      /* UINT/NODEID: value; STRING/PATH: length */
    unsigned long       max;
    unsigned            flags;    /* UCPG_CONFIG_F_* */
    const char *const  *allowed;  /* ENUM: NULL-terminated accepted values */
    const char         *def;      /* default as text; parsed by
                                     ucpg_config_defaults except for NODEID */
    const char         *valid;    /* valid values, for messages and docs */
    const char         *doc;      /* one line: what the key means */
} ucpg_config_key_t;

#define UCPG_CONFIG_FIELD(_field) \
    .offset = offsetof(ucpg_config_t, _field), \
    .size   = sizeof(((ucpg_config_t*)NULL)->_field)

static const char *const ucpg_config_boot_values[] = {
    "auto", "local", "pmix", NULL
};

static const ucpg_config_key_t ucpg_config_keys[] = {
    {
        .key = "domain", .env = "UCX_CPG_DOMAIN",
        .type = UCPG_CONFIG_TYPE_STRING, UCPG_CONFIG_FIELD(domain),
        .min = 1, .max = 63,
        .def = "default",
        .valid = "1..63 characters of A-Z a-z 0-9 . _ -",
        .doc = "Name of the domain this process joins; processes in different "
               "domains never see each other's groups"
    },
    {
        .key = "nodeid", .env = "UCX_CPG_NODEID",
        .type = UCPG_CONFIG_TYPE_NODEID, UCPG_CONFIG_FIELD(nodeid),
        .min = 1, .max = 2147483647,
        .def = "hash of /etc/machine-id",
        .valid = "1..2147483647 (decimal or 0x hex)",
        .doc = "Id of this host in the cluster; the same for every process of a "
               "host and different between hosts"
    },
    {
        .key = "log_level", .env = "UCX_CPG_LOG_LEVEL",
        .type = UCPG_CONFIG_TYPE_LOGLEVEL, UCPG_CONFIG_FIELD(log_level),
        .def = "warn",
        .valid = "error, warn, info, debug, trace (any case)",
        .doc = "Messages above this level are not logged"
    },
    {
        .key = "log_file", .env = "UCX_CPG_LOG_FILE",
        .type = UCPG_CONFIG_TYPE_PATH, UCPG_CONFIG_FIELD(log_file),
        .min = 0, .max = UCPG_CONFIG_PATH_MAX - 1,
        .def = "",
        .valid = "a file path, or empty for stderr",
        .doc = "File the log is appended to (created with mode 0600); "
               "empty means stderr"
    },
    {
        .key = "boot", .env = "UCX_CPG_BOOT",
        .type = UCPG_CONFIG_TYPE_ENUM, UCPG_CONFIG_FIELD(boot),
        .allowed = ucpg_config_boot_values,
        .def = "auto",
        .valid = "auto, local, pmix",
        .doc = "How processes find each other: local = registry in "
               "registry_dir (processes of one host); pmix = the job of a PMIx "
               "launcher (mpirun): peer id = rank, node id = the launcher's, "
               "hosts joined through the PMIx key-value store; auto = pmix "
               "under a launcher for MPI processes and for jobs on several "
               "hosts (if built with PMIx), else local. Under a launcher a "
               "domain left at its default name becomes the job's "
               "(job.<namespace>)"
    },
    {
        .key = "registry_dir", .env = "UCX_CPG_REGISTRY_DIR",
        .type = UCPG_CONFIG_TYPE_PATH, UCPG_CONFIG_FIELD(registry_dir),
        .min = 1, .max = UCPG_CONFIG_PATH_MAX - 1, .flags = UCPG_CONFIG_F_ABSOLUTE,
        .def = "/dev/shm",
        .valid = "an absolute path",
        .doc = "Directory holding the registry file of the local boot"
    },
    {
        .key = "max_procs", .env = "UCX_CPG_MAX_PROCS",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(max_procs),
        .min = 2, .max = 1024,
        .def = "64",
        .valid = "2..1024",
        .doc = "Process slots of a newly created registry; an existing registry "
               "keeps its size"
    },
    {
        .key = "progress_spin_us", .env = "UCX_CPG_PROGRESS_SPIN_US",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(progress_spin_us),
        .min = 0, .max = 1000000,
        .def = "20",
        .valid = "0..1000000",
        .doc = "Microseconds the progress thread busy-polls before it sleeps; "
               "more means lower latency and more CPU"
    },
    {
        .key = "progress_spin_yield", .env = "UCX_CPG_PROGRESS_SPIN_YIELD",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(progress_spin_yield),
        .min = 0, .max = 1,
        .def = "1",
        .valid = "0 or 1",
        .doc = "1: the progress thread yields the CPU (sched_yield) between the "
               "polls of its busy-poll, so the host's other runnable threads run "
               "meanwhile; 0: it polls without yielding"
    },
    {
        .key = "connect_timeout_ms", .env = "UCX_CPG_CONNECT_TIMEOUT_MS",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(connect_timeout_ms),
        .min = 100, .max = 600000,
        .def = "5000",
        .valid = "100..600000",
        .doc = "Milliseconds allowed for connecting to a peer (a process of "
               "this host that is stopped or still registered is waited for "
               "in the background)"
    },
    {
        .key = "keepalive_ms", .env = "UCX_CPG_KEEPALIVE_MS",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(keepalive_ms),
        .min = 100, .max = 60000,
        .def = "1000",
        .valid = "100..60000",
        .doc = "UCX keepalive interval in milliseconds: bounds the time to "
               "notice a dead peer that the local boot's pidfd cannot see "
               "(e.g. on another host); across hosts, twice it is the wait "
               "for the rest of a host going down (one NODEDOWN confchg) and "
               "the group directory's grace period"
    },
    {
        .key = "shm_pool_mb", .env = "UCX_CPG_SHM_POOL_MB",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(shm_pool_mb),
        .min = 0, .max = 65536,
        .def = "256",
        .valid = "0..65536",
        .doc = "MiB of address space (rounded down to a power of two) for the "
               "shared memory through which message bodies of 32 KiB and more "
               "reach processes on this host: one copy instead of three. Pages "
               "are used only as messages fill them; 0 = send them through UCX"
    },
    {
        .key = "relay", .env = "UCX_CPG_RELAY",
        .type = UCPG_CONFIG_TYPE_PATH, UCPG_CONFIG_FIELD(relay),
        .min = 0, .max = UCPG_CONFIG_PATH_MAX - 1, .flags = UCPG_CONFIG_F_ABSOLUTE,
        .def = UCPG_RELAY_PATH,
        .valid = "an absolute path, or empty",
        .doc = "The relay program that serves the CPG handles of a process "
               "forked while its parent had a domain (UCX cannot run in such "
               "a process); empty: such handles fail with CS_ERR_LIBRARY"
    },
    {
        .key = "rsm_segmentid_file", .env = "UCX_CPG_RSM_SEGMENTID_FILE",
        .type = UCPG_CONFIG_TYPE_PATH, UCPG_CONFIG_FIELD(rsm_segmentid_file),
        .min = 1, .max = UCPG_CONFIG_PATH_MAX - 1, .flags = UCPG_CONFIG_F_ABSOLUTE,
        .def = "/etc/rsm/rsm.segmentid",
        .valid = "an absolute path",
        .doc = "File of RSMAPI segment-id reservations (\"reserved <appid> "
               "<hex base> <decimal length>\" lines) read by "
               "rsm_get_segmentid_range"
    },
    {
        .key = "rsm_direct", .env = "UCX_CPG_RSM_DIRECT",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(rsm_direct),
        .min = 0, .max = 1,
        .def = "1",
        .valid = "0 or 1",
        .doc = "1: RSM put/get/atomics to an exporter on this host copy "
               "through a shared mapping of its memory; 0: always UCP RMA"
    },
    {
        .key = "group_max_msg", .env = "UCX_CPG_GROUP_MAX_MSG",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_max_msg),
        .min = 0, .max = 1073741824,
        .def = "67108864",
        .valid = "0..1073741824",
        .doc = "Largest CPG message in bytes (cpg_max_atomic_msgsize_get); "
               "larger sends fail with CS_ERR_TOO_BIG"
    },
    {
        .key = "group_window", .env = "UCX_CPG_GROUP_WINDOW",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_window),
        .min = 16, .max = 1048576,
        .def = "4096",
        .valid = "16..1048576",
        .doc = "CPG messages a group may have ordered but not yet read by its "
               "slowest member; beyond it senders get CS_ERR_TRY_AGAIN"
    },
    {
        .key = "group_window_mb", .env = "UCX_CPG_GROUP_WINDOW_MB",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_window_mb),
        .min = 1, .max = 4095,
        .def = "16",
        .valid = "1..4095",
        .doc = "MiB of CPG messages a group may have ordered but not yet read "
               "by its slowest member (a single larger message still passes)"
    },
    {
        .key = "group_stall_timeout_ms", .env = "UCX_CPG_GROUP_STALL_TIMEOUT_MS",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_stall_timeout_ms),
        .min = 0, .max = 3600000,
        .def = "10000",
        .valid = "0..3600000",
        .doc = "Milliseconds a member may keep its group's window full without "
               "reading before it is removed (PROCDOWN); also how long a silent "
               "sequencer, and a group whose members are all stopped processes of "
               "a joiner's host, are waited for; 0 = never"
    },
    {
        .key = "group_join_timeout_ms", .env = "UCX_CPG_GROUP_JOIN_TIMEOUT_MS",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_join_timeout_ms),
        .min = 100, .max = 600000,
        .def = "10000",
        .valid = "100..600000",
        .doc = "Milliseconds cpg_join waits for the group to order the join "
               "before it returns CS_ERR_TRY_AGAIN"
    },
    {
        .key = "group_tree_fanout", .env = "UCX_CPG_GROUP_TREE_FANOUT",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_tree_fanout),
        .min = 0, .max = 64,
        .def = "2",
        .valid = "0..64",
        .doc = "Members each member forwards a CPG message of the sequencer's "
               "own to (the delivery tree's fan-out); 0 = the sequencer sends "
               "to every member itself"
    },
    {
        .key = "group_tree_relay_fanout", .env = "UCX_CPG_GROUP_TREE_RELAY_FANOUT",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_tree_relay_fanout),
        .min = 0, .max = 64,
        .def = "8",
        .valid = "0..64",
        .doc = "The delivery tree's fan-out for the CPG messages the sequencer "
               "orders for other members; 0 = it sends them to every member itself"
    },
    {
        .key = "group_handover_events", .env = "UCX_CPG_GROUP_HANDOVER_EVENTS",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_handover_events),
        .min = 0, .max = 1048576,
        .def = "256",
        .valid = "0..1048576",
        .doc = "The sequencer hands its role to a member that sent at least 7/8 "
               "of a round of this many CPG messages (and 50 ms) it ordered, so "
               "that member's messages come back to it without a round trip; "
               "0 = never"
    },
    {
        .key = "group_host_log_mb", .env = "UCX_CPG_GROUP_HOST_LOG_MB",
        .type = UCPG_CONFIG_TYPE_UINT, UCPG_CONFIG_FIELD(group_host_log_mb),
        .min = 0, .max = 4096,
        .def = "0",
        .valid = "0..4096",
        .doc = "MiB (rounded down to a power of two) of the shared log of each "
               "CPG group when the domain runs on one host: its members then "
               "read every message where the sender wrote it, with no sequencer "
               "(host groups); the largest message is a quarter of it. cpg_join "
               "fails with CS_ERR_NOT_SUPPORTED while the domain has processes "
               "on other hosts; 0 = every group uses the sequencer engine"
    },
};

#define UCPG_CONFIG_NUM_KEYS \
    (sizeof(ucpg_config_keys) / sizeof(ucpg_config_keys[0]))

_Static_assert(UCPG_CONFIG_NUM_KEYS <= UCPG_CONFIG_MAX_KEYS,
               "raise UCPG_CONFIG_MAX_KEYS in config.h");

/* A parsed and validated value, not yet stored. */
typedef struct ucpg_config_value {
    unsigned long    u;       /* UINT, NODEID */
    ucpg_log_level_t level;   /* LOGLEVEL */
    const char      *s;       /* STRING, ENUM, PATH: text to copy, length checked */
} ucpg_config_value_t;

/* Longest part of a bad value quoted in an error message. */
#define UCPG_CONFIG_QUOTE_MAX 128

static const char ucpg_config_name_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";


/* --- lookup --------------------------------------------------------------- */

/* The row whose file key or environment name is name[0..len), or NULL. */
static const ucpg_config_key_t *ucpg_config_find(const char *name, size_t len)
{
    const ucpg_config_key_t *k;

    for (k = ucpg_config_keys; k < ucpg_config_keys + UCPG_CONFIG_NUM_KEYS; ++k) {
        if (((strncmp(name, k->key, len) == 0) && (k->key[len] == '\0')) ||
            ((strncmp(name, k->env, len) == 0) && (k->env[len] == '\0'))) {
            return k;
        }
    }
    return NULL;
}

static size_t ucpg_config_index(const ucpg_config_key_t *k)
{
    return (size_t)(k - ucpg_config_keys);
}


/* --- parsing and validation ----------------------------------------------- */

/*
 * strtoul alone accepts leading blanks, a sign (and negates!), and a second
 * "0x" after ours; so the text is checked to be nothing but digits of its base
 * before strtoul converts it, and strtoul is left to detect overflow only.
 */
const char *ucpg_config_parse_uint(const char *text, unsigned long min, unsigned long max,
                                   unsigned long *value_p)
{
    const char *digits = text;
    const char *charset = "0123456789";
    unsigned long value;
    char *end;
    int base = 10;

    if ((text[0] == '0') && ((text[1] == 'x') || (text[1] == 'X'))) {
        digits  = text + 2;
        charset = "0123456789abcdefABCDEF";
        base    = 16;
    }

    if ((digits[0] == '\0') || (digits[strspn(digits, charset)] != '\0')) {
        return "not an unsigned integer";
    }

    errno = 0;
    value = strtoul(digits, &end, base);
    if ((errno == ERANGE) || (*end != '\0') || (value < min) || (value > max)) {
        return "out of range";
    }

    *value_p = value;
    return NULL;
}

/* Check text for key k; on success fill *value_p. Returns NULL or the reason. */
static const char *ucpg_config_parse(const ucpg_config_key_t *k, const char *text,
                                     ucpg_config_value_t *value_p)
{
    size_t len = strlen(text);
    const char *const *allowed;

    switch (k->type) {
    case UCPG_CONFIG_TYPE_UINT:
    case UCPG_CONFIG_TYPE_NODEID:
        return ucpg_config_parse_uint(text, k->min, k->max, &value_p->u);

    case UCPG_CONFIG_TYPE_LOGLEVEL:
        if (ucpg_log_level_parse(text, &value_p->level) != UCPG_OK) {
            return "unknown log level";
        }
        return NULL;

    case UCPG_CONFIG_TYPE_ENUM:
        for (allowed = k->allowed; *allowed != NULL; ++allowed) {
            if (strcasecmp(text, *allowed) == 0) {
                value_p->s = *allowed;   /* store the canonical spelling */
                return NULL;
            }
        }
        return "unknown value";

    case UCPG_CONFIG_TYPE_STRING:
        if (len < k->min) {
            return "too short";
        }
        if (len > k->max) {
            return "too long";
        }
        if (text[strspn(text, ucpg_config_name_chars)] != '\0') {
            return "invalid character";
        }
        value_p->s = text;
        return NULL;

    case UCPG_CONFIG_TYPE_PATH:
        if (len < k->min) {
            return "empty";
        }
        if (len > k->max) {
            return "too long";
        }
        if ((k->flags & UCPG_CONFIG_F_ABSOLUTE) && (text[0] != '\0') && (text[0] != '/')) {
            return "not an absolute path";
        }
        value_p->s = text;
        return NULL;
    }

    return "unsupported key type";   /* table error; not reached */
}

static void ucpg_config_store_uint(void *field, size_t size, unsigned long value)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    /* The table's max fits the field, so the narrowing below cannot lose bits. */
    assert((size == sizeof(u16)) || (size == sizeof(u32)) || (size == sizeof(u64)));
    switch (size) {
    case sizeof(u16):
        u16 = (uint16_t)value;
        memcpy(field, &u16, sizeof(u16));
        break;
    case sizeof(u32):
        u32 = (uint32_t)value;
        memcpy(field, &u32, sizeof(u32));
        break;
    case sizeof(u64):
        u64 = (uint64_t)value;
        memcpy(field, &u64, sizeof(u64));
        break;
    }
}

static unsigned long ucpg_config_load_uint(const void *field, size_t size)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    assert((size == sizeof(u16)) || (size == sizeof(u32)) || (size == sizeof(u64)));
    switch (size) {
    case sizeof(u16):
        memcpy(&u16, field, sizeof(u16));
        return u16;
    case sizeof(u32):
        memcpy(&u32, field, sizeof(u32));
        return u32;
    case sizeof(u64):
        memcpy(&u64, field, sizeof(u64));
        return (unsigned long)u64;
    }
    return 0;
}

/* Remember where a value came from; a long origin keeps its end ("x.conf:12"). */
static void ucpg_config_set_origin(ucpg_config_t *cfg, const ucpg_config_key_t *k,
                                   const char *origin)
{
    char *dest  = cfg->origin[ucpg_config_index(k)];
    size_t len  = strlen(origin);
    size_t keep = UCPG_CONFIG_ORIGIN_MAX - 4;   /* "..." and the NUL */

    if (len < UCPG_CONFIG_ORIGIN_MAX) {
        memcpy(dest, origin, len + 1);
    } else {
        memcpy(dest, "...", 3);
        memcpy(dest + 3, origin + len - keep, keep + 1);
    }
}

static void ucpg_config_store(ucpg_config_t *cfg, const ucpg_config_key_t *k,
                              const ucpg_config_value_t *value, const char *origin)
{
    char *field = (char*)cfg + k->offset;

    switch (k->type) {
    case UCPG_CONFIG_TYPE_UINT:
    case UCPG_CONFIG_TYPE_NODEID:
        ucpg_config_store_uint(field, k->size, value->u);
        break;
    case UCPG_CONFIG_TYPE_LOGLEVEL:
        assert(k->size == sizeof(value->level));
        memcpy(field, &value->level, sizeof(value->level));
        break;
    case UCPG_CONFIG_TYPE_STRING:
    case UCPG_CONFIG_TYPE_ENUM:
    case UCPG_CONFIG_TYPE_PATH:
        assert(strlen(value->s) < k->size);
        memcpy(field, value->s, strlen(value->s) + 1);
        break;
    }

    ucpg_config_set_origin(cfg, k, origin);
}

/* Validate and store one value, or log why not and change nothing. */
static ucpg_status_t ucpg_config_apply(ucpg_config_t *cfg, const ucpg_config_key_t *k,
                                       const char *value, const char *origin)
{
    ucpg_config_value_t parsed;
    const char *reason;
    int quote_len;

    reason = ucpg_config_parse(k, value, &parsed);
    if (reason != NULL) {
        /* Quote at most a prefix: the value may be a pasted megabyte. */
        quote_len = (int)strnlen(value, UCPG_CONFIG_QUOTE_MAX);
        ucpg_error("invalid value \"%.*s%s\" for %s (%s) from %s: %s; valid: %s",
                   quote_len, value, (value[quote_len] != '\0') ? "..." : "",
                   k->env, k->key, origin, reason, k->valid);
        return UCPG_ERR_CONFIG;
    }

    ucpg_config_store(cfg, k, &parsed, origin);
    return UCPG_OK;
}


/* --- defaults and single keys --------------------------------------------- */

void ucpg_config_defaults(ucpg_config_t *cfg)
{
    const ucpg_config_key_t *k;
    ucpg_config_value_t value;
    const char *reason;

    if (cfg == NULL) {
        return;
    }

    /* Zero padding too, so that two configurations compare equal with memcmp. */
    memset(cfg, 0, sizeof(*cfg));

    for (k = ucpg_config_keys; k < ucpg_config_keys + UCPG_CONFIG_NUM_KEYS; ++k) {
        memset(&value, 0, sizeof(value));
        if (k->type == UCPG_CONFIG_TYPE_NODEID) {
            value.u = ucpg_config_default_nodeid();
        } else {
            reason = ucpg_config_parse(k, k->def, &value);
            assert(reason == NULL);   /* the table's defaults are valid */
            (void)reason;
        }
        ucpg_config_store(cfg, k, &value, "default");
    }
}

ucpg_status_t ucpg_config_set(ucpg_config_t *cfg, const char *key,
                              const char *value, const char *origin)
{
    const ucpg_config_key_t *k;

    if ((cfg == NULL) || (key == NULL) || (value == NULL)) {
        ucpg_error("ucpg_config_set: NULL argument");
        return UCPG_ERR_INVALID_PARAM;
    }
    if (origin == NULL) {
        origin = "caller";
    }

    k = ucpg_config_find(key, strlen(key));
    if (k == NULL) {
        ucpg_error("unknown configuration key \"%.*s\" from %s",
                   UCPG_CONFIG_QUOTE_MAX, key, origin);
        return UCPG_ERR_CONFIG;
    }

    return ucpg_config_apply(cfg, k, value, origin);
}


/* --- configuration file --------------------------------------------------- */

static char *ucpg_config_skip_space(char *p)
{
    while (isspace((unsigned char)*p)) {
        ++p;
    }
    return p;
}

/* Cut trailing blanks of [start, end) and return the new end. */
static char *ucpg_config_trim_end(char *start, char *end)
{
    while ((end > start) && isspace((unsigned char)end[-1])) {
        --end;
    }
    *end = '\0';
    return end;
}

/*
 * One line of a file: "key = value", "key = \"value\"", either with a trailing
 * "# comment", or a blank or comment line. The line is edited in place.
 */
static ucpg_status_t ucpg_config_parse_line(ucpg_config_t *cfg, char *line,
                                            size_t len, const char *origin)
{
    char *key, *sep, *value, *close;

    if (strlen(line) != len) {
        ucpg_error("%s: NUL byte in line", origin);
        return UCPG_ERR_CONFIG;
    }

    key = ucpg_config_skip_space(line);
    if ((*key == '\0') || (*key == '#')) {
        return UCPG_OK;
    }

    /* A '#' before the '=' means the key is followed by a comment, not a value. */
    sep = key + strcspn(key, "=#");
    if (*sep != '=') {
        ucpg_error("%s: syntax error: expected \"key = value\"", origin);
        return UCPG_ERR_CONFIG;
    }
    ucpg_config_trim_end(key, sep);
    if (*key == '\0') {
        ucpg_error("%s: syntax error: no key before '='", origin);
        return UCPG_ERR_CONFIG;
    }

    value = ucpg_config_skip_space(sep + 1);
    if (*value == '"') {
        /* Quoted: everything up to the next quote, then only a comment. */
        ++value;
        close = strchr(value, '"');
        if (close == NULL) {
            ucpg_error("%s: syntax error: unterminated quoted value", origin);
            return UCPG_ERR_CONFIG;
        }
        *close = '\0';
        close  = ucpg_config_skip_space(close + 1);
        if ((*close != '\0') && (*close != '#')) {
            ucpg_error("%s: syntax error: text after the closing quote", origin);
            return UCPG_ERR_CONFIG;
        }
    } else {
        ucpg_config_trim_end(value, value + strcspn(value, "#"));
    }

    return ucpg_config_set(cfg, key, value, origin);
}

ucpg_status_t ucpg_config_read_file(ucpg_config_t *cfg, const char *path,
                                    int must_exist)
{
    char origin[UCPG_CONFIG_PATH_MAX + 16];
    ucpg_status_t status = UCPG_OK;
    ucpg_config_t *work;
    char *line = NULL;
    size_t line_cap = 0;
    unsigned line_no = 0;
    ssize_t line_len;
    FILE *file;

    if ((cfg == NULL) || (path == NULL)) {
        ucpg_error("ucpg_config_read_file: NULL argument");
        return UCPG_ERR_INVALID_PARAM;
    }
    if ((path[0] == '\0') || (strlen(path) >= UCPG_CONFIG_PATH_MAX)) {
        ucpg_error("configuration file name is empty or longer than %d bytes",
                   UCPG_CONFIG_PATH_MAX - 1);
        return UCPG_ERR_CONFIG;
    }

    file = fopen(path, "re");
    if (file == NULL) {
        if ((errno == ENOENT) && !must_exist) {
            ucpg_debug("no configuration file %s", path);
            return UCPG_OK;
        }
        ucpg_error("cannot open configuration file %s: %s", path, strerror(errno));
        return UCPG_ERR_CONFIG;
    }

    /* Work on a copy (it is large, so not on the stack): all lines or none. */
    work = malloc(sizeof(*work));
    if (work == NULL) {
        ucpg_error("no memory to read configuration file %s", path);
        status = UCPG_ERR_NO_MEMORY;
        goto out_close;
    }
    memcpy(work, cfg, sizeof(*work));

    /* Report every bad line, not just the first: one edit-and-retry cycle. */
    while ((line_len = getline(&line, &line_cap, file)) >= 0) {
        ++line_no;
        snprintf(origin, sizeof(origin), "%s:%u", path, line_no);
        if (ucpg_config_parse_line(work, line, (size_t)line_len, origin) != UCPG_OK) {
            status = UCPG_ERR_CONFIG;
        }
    }
    if (!feof(file)) {
        /* e.g. EISDIR: fopen() of a directory succeeds, reading it does not. */
        ucpg_error("cannot read configuration file %s: %s", path, strerror(errno));
        status = UCPG_ERR_CONFIG;
    }

    if (status == UCPG_OK) {
        memcpy(work->config_file, path, strlen(path) + 1);
        memcpy(cfg, work, sizeof(*cfg));
        ucpg_debug("read configuration file %s (%u lines)", path, line_no);
    }

    free(line);
    free(work);
out_close:
    fclose(file);
    return status;
}


/* --- environment ---------------------------------------------------------- */

#define UCPG_CONFIG_ENV_PREFIX "UCX_CPG_"

ucpg_status_t ucpg_config_read_env(ucpg_config_t *cfg, char *const *envp)
{
    static const size_t prefix_len = sizeof(UCPG_CONFIG_ENV_PREFIX) - 1;
    const ucpg_config_key_t *k;
    ucpg_status_t status = UCPG_OK;
    ucpg_config_t *work;
    char *const *var;
    const char *eq;
    size_t name_len;

    if ((cfg == NULL) || (envp == NULL)) {
        ucpg_error("ucpg_config_read_env: NULL argument");
        return UCPG_ERR_INVALID_PARAM;
    }

    work = malloc(sizeof(*work));
    if (work == NULL) {
        ucpg_error("no memory to read the environment");
        return UCPG_ERR_NO_MEMORY;
    }
    memcpy(work, cfg, sizeof(*work));

    for (var = envp; *var != NULL; ++var) {
        if (strncmp(*var, UCPG_CONFIG_ENV_PREFIX, prefix_len) != 0) {
            continue;
        }
        eq = strchr(*var, '=');
        if (eq == NULL) {
            continue;           /* not "NAME=value": not ours to judge */
        }
        name_len = (size_t)(eq - *var);

        if ((name_len == strlen(UCPG_CONFIG_ENV_FILE)) &&
            (strncmp(*var, UCPG_CONFIG_ENV_FILE, name_len) == 0)) {
            continue;           /* the file name, used by ucpg_config_load */
        }

        k = ucpg_config_find(*var, name_len);
        if (k == NULL) {
            /* Not an error: another version may know it. But it is likely a
             * typo that would otherwise silently have no effect. */
            ucpg_warn("unknown environment variable %.*s ignored (misspelled?)",
                      (int)name_len, *var);
            continue;
        }

        if (ucpg_config_apply(work, k, eq + 1, "environment") != UCPG_OK) {
            status = UCPG_ERR_CONFIG;
        }
    }

    if (status == UCPG_OK) {
        memcpy(cfg, work, sizeof(*cfg));
    }
    free(work);
    return status;
}


/* --- everything together -------------------------------------------------- */

ucpg_status_t ucpg_config_load(ucpg_config_t *cfg)
{
    ucpg_config_t *work;
    ucpg_status_t status;
    const char *path;

    if (cfg == NULL) {
        ucpg_error("ucpg_config_load: NULL argument");
        return UCPG_ERR_INVALID_PARAM;
    }

    work = malloc(sizeof(*work));
    if (work == NULL) {
        ucpg_error("no memory to load the configuration");
        return UCPG_ERR_NO_MEMORY;
    }
    ucpg_config_defaults(work);

    path = getenv(UCPG_CONFIG_ENV_FILE);
    if (path == NULL) {
        status = ucpg_config_read_file(work, UCPG_CONFIG_DEFAULT_FILE, 0);
    } else if (path[0] != '\0') {
        /* Named explicitly: a missing file is a mistake worth stopping for. */
        status = ucpg_config_read_file(work, path, 1);
    } else {
        status = UCPG_OK;    /* UCX_CPG_CONFIG="" : read no file at all */
    }

    if (status == UCPG_OK) {
        status = ucpg_config_read_env(work, environ);
    }

    if (status == UCPG_OK) {
        memcpy(cfg, work, sizeof(*cfg));
    }
    free(work);
    return status;
}

const char *ucpg_config_origin(const ucpg_config_t *cfg, const char *key)
{
    const ucpg_config_key_t *k = ucpg_config_find(key, strlen(key));

    return (k == NULL) ? NULL : cfg->origin[ucpg_config_index(k)];
}

void ucpg_config_print(const ucpg_config_t *cfg, FILE *stream)
{
    const ucpg_config_key_t *k;
    const char *text = "";
    ucpg_log_level_t level;
    const char *field;
    char number[24];

    if ((cfg == NULL) || (stream == NULL)) {
        return;
    }

    for (k = ucpg_config_keys; k < ucpg_config_keys + UCPG_CONFIG_NUM_KEYS; ++k) {
        field = (const char*)cfg + k->offset;

        switch (k->type) {
        case UCPG_CONFIG_TYPE_UINT:
        case UCPG_CONFIG_TYPE_NODEID:
            snprintf(number, sizeof(number), "%lu",
                     ucpg_config_load_uint(field, k->size));
            text = number;
            break;
        case UCPG_CONFIG_TYPE_LOGLEVEL:
            memcpy(&level, field, sizeof(level));
            text = ucpg_log_level_name(level);
            break;
        case UCPG_CONFIG_TYPE_STRING:
        case UCPG_CONFIG_TYPE_ENUM:
        case UCPG_CONFIG_TYPE_PATH:
            /* Show an empty string as "" so the line does not look cut off. */
            text = (field[0] != '\0') ? field : "\"\"";
            break;
        }

        fprintf(stream, "%s = %s   (%s)\n", k->env, text,
                cfg->origin[ucpg_config_index(k)]);
    }
}


/* --- default node id ------------------------------------------------------ */

/* First line of a file without its line end; 0 if it was there and not empty. */
static int ucpg_config_first_line(const char *path, char *buf, size_t size)
{
    FILE *file;
    char *got;

    file = fopen(path, "re");
    if (file == NULL) {
        return -1;
    }
    got = fgets(buf, (int)size, file);
    fclose(file);
    if (got == NULL) {
        return -1;
    }

    ucpg_config_trim_end(buf, buf + strlen(buf));
    return (buf[0] != '\0') ? 0 : -1;
}

uint32_t ucpg_config_default_nodeid(void)
{
    /* machine-id is 32 hex digits; host names are at most 64 bytes on Linux. */
    char id[256];
    const unsigned char *p;
    uint32_t hash = 2166136261u;            /* FNV-1a 32-bit offset basis */

    if ((ucpg_config_first_line("/etc/machine-id", id, sizeof(id)) != 0) &&
        (ucpg_config_first_line("/var/lib/dbus/machine-id", id, sizeof(id)) != 0)) {
        if (gethostname(id, sizeof(id)) != 0) {
            id[0] = '\0';
        }
        id[sizeof(id) - 1] = '\0';          /* gethostname may not terminate */
    }

    for (p = (const unsigned char*)id; *p != '\0'; ++p) {
        hash ^= *p;
        hash *= 16777619u;                  /* FNV 32-bit prime */
    }

    /* 31 bits: node ids travel as positive int32 in the CPG API; 0 is invalid. */
    hash &= 0x7fffffffu;
    return (hash != 0) ? hash : 1;
}


/* --- key table for documentation ------------------------------------------ */

size_t ucpg_config_num_keys(void)
{
    return UCPG_CONFIG_NUM_KEYS;
}

ucpg_status_t ucpg_config_key_info(size_t i, const char **key_p, const char **env_p,
                                   const char **default_p, const char **doc_p)
{
    const ucpg_config_key_t *k;

    if (i >= UCPG_CONFIG_NUM_KEYS) {
        return UCPG_ERR_INVALID_PARAM;
    }

    k = &ucpg_config_keys[i];
    if (key_p != NULL) {
        *key_p = k->key;
    }
    if (env_p != NULL) {
        *env_p = k->env;
    }
    if (default_p != NULL) {
        *default_p = k->def;
    }
    if (doc_p != NULL) {
        *doc_p = k->doc;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_config_key_valid(size_t i, const char **valid_p)
{
    if (i >= UCPG_CONFIG_NUM_KEYS) {
        return UCPG_ERR_INVALID_PARAM;
    }
    if (valid_p != NULL) {
        *valid_p = ucpg_config_keys[i].valid;
    }
    return UCPG_OK;
}
