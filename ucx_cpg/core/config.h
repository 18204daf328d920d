/*
 * config.h - the library's configuration: keys, defaults, sources.
 *
 * Every setting has a key used in the configuration file ("nodeid") and an
 * environment variable (UCX_CPG_NODEID). ucpg_config_load() applies, in this
 * order, the built-in defaults, one configuration file, and the environment,
 * so the environment wins. Every value is validated when it is set; a bad
 * value is reported with its key, where it came from, and what would have
 * been valid, and the configuration is left as it was.
 *
 * All keys live in one table in config.c; docs/configuration.md lists them
 * for users. A ucpg_config_t is plain data: fill one with ucpg_config_load()
 * (or ucpg_config_defaults() and the readers) and then only read it, from any
 * thread.
 */
#ifndef UCPG_CORE_CONFIG_H
#define UCPG_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "status.h"

#define UCPG_CONFIG_PATH_MAX    1024

/* Longest origin text kept per key; longer ones keep their tail (file:line). */
#define UCPG_CONFIG_ORIGIN_MAX  128

/* Room for keys in ucpg_config_t's origin array; config.c checks the table fits. */
#define UCPG_CONFIG_MAX_KEYS    32

/* The environment variable naming the configuration file to read. */
#define UCPG_CONFIG_ENV_FILE    "UCX_CPG_CONFIG"

/* The file read when UCPG_CONFIG_ENV_FILE is not set; may be absent. */
#ifndef UCPG_CONFIG_DEFAULT_FILE
#define UCPG_CONFIG_DEFAULT_FILE "/etc/ucx_cpg.conf"
#endif

typedef struct ucpg_config {
    /* Name that separates independent groups of processes on the same hosts
     * (it is part of the registry and group names): 1..63 of [A-Za-z0-9._-]. */
    char             domain[64];
    /* This host's id in the cluster, 1..2147483647; every process on the host
     * must use the same value. Default: ucpg_config_default_nodeid(). */
    uint32_t         nodeid;
    /* Threshold and destination for ucpg_log_configure; "" = stderr. */
    ucpg_log_level_t log_level;
    char             log_file[UCPG_CONFIG_PATH_MAX];
    /* How processes find each other: "auto", "local" or "pmix". */
    char             boot[16];
    /* Absolute directory holding the local boot registry. */
    char             registry_dir[UCPG_CONFIG_PATH_MAX];
    /* Slots of a newly created registry, 2..1024. */
    unsigned         max_procs;
    /* Busy-poll time before the progress thread sleeps, 0..1000000 us. */
    unsigned         progress_spin_us;
    /* 1: the progress thread yields the CPU between the polls of that spin,
     * so other runnable threads of the host run meanwhile; 0: it does not. */
    unsigned         progress_spin_yield;
    /* Limit for connecting to a peer, 100..600000 ms. */
    unsigned         connect_timeout_ms;
    /* UCX keepalive interval, 100..60000 ms: bounds how long a dead peer that
     * the local boot's pidfd cannot see (another host) goes unnoticed. */
    unsigned         keepalive_ms;
    /* MiB of address space for this process's pool of shared memory through
     * which large message bodies reach peers on this host (shm_pool.c),
     * 0..65536 (rounded down to a power of two); 0 = no pool. */
    unsigned         shm_pool_mb;
    /* Absolute path of the RSMAPI segment-id reservation file read by
     * rsm_get_segmentid_range. */
    char             rsm_segmentid_file[UCPG_CONFIG_PATH_MAX];
    /* 1: transfers to an exporter on this host copy through a shared mapping
     * of its memory; 0: always UCP RMA (for measurement and testing). */
    unsigned         rsm_direct;
    /* CPG groups (group/): the largest message, 0..1 GiB. */
    unsigned         group_max_msg;
    /* Messages a group may have in flight between the sequencer and its
     * slowest reader before senders get TRY_AGAIN, 16..1048576. */
    unsigned         group_window;
    /* Bytes of messages in flight per group, 1 MiB..4 GiB-1 (in MiB here). */
    unsigned         group_window_mb;
    /* Milliseconds a member may hold the group's window full without
     * reading before it is removed (0 = never), 0..3600000. */
    unsigned         group_stall_timeout_ms;
    /* Milliseconds cpg_join waits for its join to be ordered, 100..600000. */
    unsigned         group_join_timeout_ms;
    /* Members each member forwards a message of the sequencer's own to (the
     * delivery tree's fan-out), 0..64; 0 = the sequencer sends to every member. */
    unsigned         group_tree_fanout;
    /* The same for messages the sequencer orders for other members, 0..64. */
    unsigned         group_tree_relay_fanout;
    /* The sequencer hands its role to a member that sent 7/8 of a round of
     * this many messages (and 50 ms) it ordered, 0..1048576; 0 = never. */
    unsigned         group_handover_events;
    /* MiB of each CPG group's host log when the domain runs on one host
     * (group/host.h), rounded down to a power of two, 0..4096; 0 = none:
     * every group uses the sequencer engine. */
    unsigned         group_host_log_mb;

    /* Absolute path of ucx_cpg_relay, which serves the CPG handles of a
     * process forked while its parent had a domain; "" = such a process
     * cannot open handles (CS_ERR_LIBRARY). */
    char             relay[UCPG_CONFIG_PATH_MAX];

    /* The configuration file that was read, "" if none. Not a key. */
    char             config_file[UCPG_CONFIG_PATH_MAX];

    /* private: where each key's value came from ("default", "environment",
     * "<file>:<line>"), indexed like the key table; for ucpg_config_print. */
    char             origin[UCPG_CONFIG_MAX_KEYS][UCPG_CONFIG_ORIGIN_MAX];
} ucpg_config_t;

/* Every key at its default, origin "default", config_file "". */
void ucpg_config_defaults(ucpg_config_t *cfg);

/*
 * Set one key from text. key is the lower-case file key ("nodeid") or the
 * environment name ("UCX_CPG_NODEID"), matched exactly. origin says where the
 * value came from ("environment", "/etc/ucx_cpg.conf:12") and is used in
 * messages and by ucpg_config_print. An unknown key or a bad value is logged
 * with ucpg_error (key, origin, value, what is valid) and returns
 * UCPG_ERR_CONFIG with cfg unchanged. Values are taken literally: no
 * whitespace is trimmed here. cfg must have been set up by
 * ucpg_config_defaults().
 */
ucpg_status_t ucpg_config_set(ucpg_config_t *cfg, const char *key,
                              const char *value, const char *origin);

/* Where key's value came from ("default", "environment", "file:line"), or
 * NULL for an unknown key. */
const char *ucpg_config_origin(const ucpg_config_t *cfg, const char *key);

/*
 * Read a configuration file: one "key = value" per line; '#' starts a comment
 * (whole line or trailing, but not inside a quoted value); blank lines are
 * ignored; whitespace around key and value is trimmed; a value may be wrapped
 * in double quotes to keep '#' or surrounding blanks (there are no escapes).
 * Keys are those of ucpg_config_set; a key given twice takes the later value.
 *
 * If the file does not exist and must_exist is 0, returns UCPG_OK having read
 * nothing. Any other failure to open it, a line without '=', an unknown key or
 * a bad value returns UCPG_ERR_CONFIG; every bad line is reported (as
 * path:line) before returning, and cfg is left unchanged. On success cfg
 * holds the file's values and cfg->config_file is path.
 */
ucpg_status_t ucpg_config_read_file(ucpg_config_t *cfg, const char *path,
                                    int must_exist);

/*
 * Apply every known UCX_CPG_* variable of envp, a NULL-terminated array of
 * "NAME=value" strings (pass environ). UCX_CPG_CONFIG names the file and is
 * skipped. An unknown UCX_CPG_* name gets a warning (probably a typo) and is
 * otherwise ignored. A bad value returns UCPG_ERR_CONFIG after all bad
 * variables were reported, with cfg unchanged.
 */
ucpg_status_t ucpg_config_read_env(ucpg_config_t *cfg, char *const *envp);

/*
 * The full configuration of this process: defaults, then the file named by
 * UCX_CPG_CONFIG (which must then exist; set but empty means "read no file")
 * or else UCPG_CONFIG_DEFAULT_FILE if present, then the environment. On
 * failure cfg is unchanged. Reads the environment, so it must not run
 * concurrently with setenv().
 */
ucpg_status_t ucpg_config_load(ucpg_config_t *cfg);

/* One line per key, "UCX_CPG_NODEID = 42   (environment)", in table order. */
void ucpg_config_print(const ucpg_config_t *cfg, FILE *stream);

/*
 * The default node id of this host: the 32-bit FNV-1a hash of the first line
 * of /etc/machine-id (else /var/lib/dbus/machine-id, else the host name),
 * masked to 31 bits, with 0 mapped to 1. Every process on the host computes
 * the same value. Two hosts may collide (the chance for n hosts is about
 * n^2 / 2^32), and cloned images may share a machine-id: large clusters
 * should set nodeid explicitly.
 */
uint32_t ucpg_config_default_nodeid(void);

/*
 * The key table, for documentation and tools. For index i < num_keys, returns
 * the file key, the environment name, the default as text, a one-line
 * description, and the valid values as text. Any output pointer may be NULL.
 * UCPG_ERR_INVALID_PARAM if i is out of range (outputs untouched).
 */
size_t        ucpg_config_num_keys(void);
ucpg_status_t ucpg_config_key_info(size_t i, const char **key_p, const char **env_p,
                                   const char **default_p, const char **doc_p);
ucpg_status_t ucpg_config_key_valid(size_t i, const char **valid_p);

/* An unsigned number in min..max, decimal or 0x hex, and nothing else (no
 * blanks, no sign): NULL, or why not. Also for the programs in contrib. */
const char *ucpg_config_parse_uint(const char *text, unsigned long min, unsigned long max,
                                   unsigned long *value_p);

#endif
