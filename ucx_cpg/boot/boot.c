/*
 * boot.c - the process-wide domain singleton: lazy creation, reference
 * counting, teardown at the last release or at exit, and fork handling.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "boot.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "remote.h"

/* Guards everything below. Re-initialized in a forked child, where another
 * thread of the parent may have held it at the time of fork(). */
static pthread_mutex_t ucpg_boot_lock = PTHREAD_MUTEX_INITIALIZER;
static ucpg_domain_t            *ucpg_boot_domain;
static const ucpg_boot_method_t *ucpg_boot_method;
static void                     *ucpg_boot_ctx;
static unsigned                  ucpg_boot_refs;
static pid_t                     ucpg_boot_owner;
static int                       ucpg_boot_hooks_installed;
/* The exit handler ran: no new domain in this process (another thread
 * would otherwise create one that nothing ever tears down). */
static int                       ucpg_boot_exited;

typedef struct ucpg_boot_teardown_hook {
    void (*fn)(void *arg);
    void  *arg;
} ucpg_boot_teardown_hook_t;

#define UCPG_BOOT_TEARDOWN_HOOKS 4
static ucpg_boot_teardown_hook_t ucpg_boot_teardown_hooks[UCPG_BOOT_TEARDOWN_HOOKS];

static void ucpg_boot_atfork_child(void)
{
    pthread_mutex_init(&ucpg_boot_lock, NULL);
}

/* at_exit: the process's other threads still run and may hold the domain
 * through a handle (ucpg_domain_abandon). */
static void ucpg_boot_teardown_locked(int at_exit)
{
    ucpg_domain_t *d = ucpg_boot_domain;
    unsigned i;

    ucpg_boot_domain = NULL;
    ucpg_boot_refs   = 0;
    ucpg_boot_remote_stop();
    ucpg_boot_method->leave(ucpg_boot_ctx);
    ucpg_domain_stop(d);
    for (i = 0; i < UCPG_BOOT_TEARDOWN_HOOKS; ++i) {
        if (ucpg_boot_teardown_hooks[i].fn != NULL) {
            ucpg_boot_teardown_hooks[i].fn(ucpg_boot_teardown_hooks[i].arg);
        }
    }
    ucpg_boot_method->cleanup(ucpg_boot_ctx);
    if (at_exit) {
        ucpg_domain_abandon(d);
    } else {
        ucpg_domain_destroy(d);
    }
    ucpg_boot_ctx    = NULL;
    ucpg_boot_method = NULL;
    ucpg_log_close();
}

/* At exit peers should see a clean BYE, not a crash. */
static void ucpg_boot_atexit(void)
{
    pthread_mutex_lock(&ucpg_boot_lock);
    if ((ucpg_boot_domain != NULL) && (ucpg_boot_owner == getpid())) {
        ucpg_boot_teardown_locked(1);
    }
    ucpg_boot_exited = 1;
    pthread_mutex_unlock(&ucpg_boot_lock);
}

/* Set by mpirun, prterun and srun in every process they start. */
static int ucpg_boot_under_pmix(void)
{
    const char *nspace = getenv("PMIX_NAMESPACE");

    return (nspace != NULL) && (nspace[0] != '\0') && (getenv("PMIX_RANK") != NULL);
}

#ifdef UCPG_HAVE_PMIX
/*
 * auto under a launcher: the PMIx boot where it is needed or costs nothing.
 * Once a process has initialized PMIx, Open MPI's mpirun expects every rank
 * to, and fails the job when one exits without: a non-MPI program in which
 * only some ranks use the library would fail. So a process that has not
 * initialized PMIx yet (not an MPI process) uses the PMIx boot only when
 * its job spans hosts, which the local registry cannot serve. Open MPI says
 * so in OMPI_COMM_WORLD_LOCAL_SIZE < OMPI_COMM_WORLD_SIZE; without those
 * (another launcher) the job may span hosts.
 */
static int ucpg_boot_auto_wants_pmix(void)
{
    const char *size  = getenv("OMPI_COMM_WORLD_SIZE");
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");

    if (!ucpg_boot_under_pmix()) {
        return 0;
    }
    if (ucpg_boot_pmix_initialized() || (size == NULL) || (local == NULL)) {
        return 1;
    }
    return strtoul(local, NULL, 10) < strtoul(size, NULL, 10);
}
#endif

static ucpg_status_t ucpg_boot_select(const ucpg_config_t *config,
                                      const ucpg_boot_method_t **method_p)
{
    int is_auto = (strcmp(config->boot, "auto") == 0);

#ifdef UCPG_HAVE_PMIX
    if ((strcmp(config->boot, "pmix") == 0) || (is_auto && ucpg_boot_auto_wants_pmix())) {
        if (!ucpg_boot_under_pmix()) {
            ucpg_error("UCX_CPG_BOOT=pmix, but this process was not started by a PMIx "
                       "launcher (PMIX_NAMESPACE and PMIX_RANK are not set)");
            return UCPG_ERR_UNSUPPORTED;
        }
        *method_p = &ucpg_boot_pmix;
        return UCPG_OK;
    }
#endif
    if (is_auto || (strcmp(config->boot, "local") == 0)) {
        *method_p = &ucpg_boot_local;
        return UCPG_OK;
    }
    ucpg_error("UCX_CPG_BOOT=%s is not available in this build (available: auto, local%s)",
               config->boot,
#ifdef UCPG_HAVE_PMIX
               ", pmix"
#else
               ""
#endif
               );
    return UCPG_ERR_UNSUPPORTED;
}

/* The method's init; under auto, a PMIx server that cannot be reached is
 * not fatal: the processes of this host still meet through the registry. */
static ucpg_status_t ucpg_boot_init_method(ucpg_config_t *config,
                                           const ucpg_boot_method_t **method_p, void **ctx_p)
{
    ucpg_status_t status = (*method_p)->init(config, ctx_p);

    if ((status != UCPG_OK) && (*method_p != &ucpg_boot_local) &&
        (strcmp(config->boot, "auto") == 0)) {
        ucpg_warn("boot method %s failed (%s); using the local registry only",
                  (*method_p)->name, ucpg_status_string(status));
        *method_p = &ucpg_boot_local;
        status    = (*method_p)->init(config, ctx_p);
    }
    return status;
}

/*
 * Under a PMIx launcher (mpirun, prterun and srun export PMIX_NAMESPACE) a
 * domain left at its default name becomes the job's, "job.<namespace>": the
 * ranks of one job meet with no configuration, and two jobs, or a job and
 * other programs of the user, never meet (boot = auto or pmix; with pmix a
 * shared name would also make ranks compete with other processes for the
 * registry slots of their ranks). An explicit UCX_CPG_DOMAIN, or
 * boot = local, keeps the name as it is.
 */
static void ucpg_boot_scope_to_job(ucpg_config_t *config)
{
    const char *nspace = getenv("PMIX_NAMESPACE");
    char name[sizeof(config->domain)];
    size_t i, len;

    if (!ucpg_boot_under_pmix() || (strcmp(config->boot, "local") == 0) ||
        (strcmp(ucpg_config_origin(config, "domain"), "default") != 0)) {
        return;
    }
    len = (size_t)snprintf(name, sizeof(name), "job.%s", nspace);
    if (len >= sizeof(name)) {
        /* too long for a domain name: keep its tail, the unique part */
        len = (size_t)snprintf(name, sizeof(name), "job.%s",
                               nspace + strlen(nspace) - (sizeof(name) - 5));
    }
    for (i = 4; i < len; ++i) {
        if (!isalnum((unsigned char)name[i]) && (strchr("._-", name[i]) == NULL)) {
            name[i] = '_';                /* e.g. the '@' of prterun namespaces */
        }
    }
    if (ucpg_config_set(config, "domain", name, "PMIX_NAMESPACE") == UCPG_OK) {
        ucpg_debug("PMIx job %s: domain '%s'", nspace, name);
    }
}

static ucpg_status_t ucpg_boot_create_locked(void)
{
    const ucpg_boot_method_t *method;
    ucpg_config_t config;
    ucpg_domain_t *d;
    ucpg_status_t status;
    void *ctx = NULL;

    status = ucpg_config_load(&config);
    if (status != UCPG_OK) {
        return status;            /* ucpg_config_load named the key and range */
    }
    ucpg_boot_scope_to_job(&config);
    status = ucpg_log_configure(config.log_level, config.log_file);
    if (status == UCPG_OK) {
        status = ucpg_boot_select(&config, &method);
    }
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_boot_init_method(&config, &method, &ctx);
    if (status != UCPG_OK) {
        return status;
    }
    status = ucpg_domain_create(&config, &d);
    if (status != UCPG_OK) {
        method->cleanup(ctx);
        return status;
    }
    status = method->join(ctx, d, &config);
    if (status != UCPG_OK) {
        ucpg_boot_remote_stop();          /* if join started it */
        ucpg_domain_stop(d);
        method->cleanup(ctx);
        ucpg_domain_destroy(d);
        return status;
    }
    ucpg_boot_ctx = ctx;
    /* Bounded: each unanswered HELLO is waited for connect_timeout_ms at
     * most; a stopped local peer's not at all. Those of local peers that
     * are stopped, or run and are still registered, then finish in the
     * background once the peer answers; the rest are given up on. */
    if (ucpg_domain_wait_settled(d, config.connect_timeout_ms + 1000) != UCPG_OK) {
        ucpg_warn("some peers of domain '%s' did not answer yet", config.domain);
    }
    ucpg_boot_domain = d;
    ucpg_boot_method = method;
    ucpg_boot_owner  = getpid();
    if (!ucpg_boot_hooks_installed) {
        pthread_atfork(NULL, NULL, ucpg_boot_atfork_child);
        atexit(ucpg_boot_atexit);
        ucpg_boot_hooks_installed = 1;
    }
    return UCPG_OK;
}

ucpg_status_t ucpg_boot_domain_get(ucpg_domain_t **domain_p)
{
    ucpg_status_t status = UCPG_OK;

    if (domain_p == NULL) {
        return UCPG_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&ucpg_boot_lock);
    if ((ucpg_boot_domain != NULL) && (ucpg_boot_owner != getpid())) {
        /* A child forked while the parent's domain was alive. UCX is not
         * fork-safe: its global locks (e.g. the memory-hook rwlock) may have
         * been held by the parent's progress thread at the fork, and its
         * async thread does not exist here, so a new UCP context in this
         * child can deadlock. Refuse, and leave the parent's domain alone. */
        pthread_mutex_unlock(&ucpg_boot_lock);
        ucpg_error("process %d was forked while its parent %d had a ucx_cpg domain; "
                   "UCX cannot be used in such a child: exec() a new program, or "
                   "release the domain before fork()", (int)getpid(), (int)ucpg_boot_owner);
        return UCPG_ERR_FORKED;
    }
    if ((ucpg_boot_domain == NULL) && ucpg_boot_exited) {
        status = UCPG_ERR_SHUTDOWN;       /* called by a thread outliving exit() */
    } else if (ucpg_boot_domain == NULL) {
        status = ucpg_boot_create_locked();
    }
    if (status == UCPG_OK) {
        ++ucpg_boot_refs;
        *domain_p = ucpg_boot_domain;
    }
    pthread_mutex_unlock(&ucpg_boot_lock);
    return status;
}

void ucpg_boot_domain_put(ucpg_domain_t *domain)
{
    pthread_mutex_lock(&ucpg_boot_lock);
    if ((domain != NULL) && (domain == ucpg_boot_domain) && (ucpg_boot_refs > 0) &&
        (ucpg_boot_owner == getpid()) && (--ucpg_boot_refs == 0)) {
        ucpg_boot_teardown_locked(0);
    }
    pthread_mutex_unlock(&ucpg_boot_lock);
}

void ucpg_boot_on_teardown(void (*fn)(void *arg), void *arg)
{
    unsigned i, free_i = UCPG_BOOT_TEARDOWN_HOOKS;

    pthread_mutex_lock(&ucpg_boot_lock);
    for (i = 0; i < UCPG_BOOT_TEARDOWN_HOOKS; ++i) {
        if (ucpg_boot_teardown_hooks[i].fn == fn) {
            break;
        }
        if ((ucpg_boot_teardown_hooks[i].fn == NULL) && (free_i == UCPG_BOOT_TEARDOWN_HOOKS)) {
            free_i = i;
        }
    }
    if (i == UCPG_BOOT_TEARDOWN_HOOKS) {
        i = free_i;
    }
    if (i < UCPG_BOOT_TEARDOWN_HOOKS) {
        ucpg_boot_teardown_hooks[i].fn  = fn;
        ucpg_boot_teardown_hooks[i].arg = arg;
    } else {
        ucpg_error("no room for another teardown hook");
    }
    pthread_mutex_unlock(&ucpg_boot_lock);
}

struct ucpg_registry *ucpg_boot_registry(ucpg_domain_t *d)
{
    struct ucpg_registry *reg = NULL;

    pthread_mutex_lock(&ucpg_boot_lock);
    if ((d != NULL) && (d == ucpg_boot_domain) && (ucpg_boot_method->registry != NULL)) {
        reg = ucpg_boot_method->registry(ucpg_boot_ctx);
    }
    pthread_mutex_unlock(&ucpg_boot_lock);
    return reg;
}

ucpg_status_t ucpg_boot_inherited(char *domain, size_t len, const char **method_p)
{
    ucpg_status_t status = UCPG_ERR_NOT_FOUND;

    pthread_mutex_lock(&ucpg_boot_lock);
    if ((ucpg_boot_domain != NULL) && (ucpg_boot_owner != getpid())) {
        snprintf(domain, len, "%s", ucpg_domain_config(ucpg_boot_domain)->domain);
        *method_p = ucpg_boot_method->name;
        status    = UCPG_OK;
    }
    pthread_mutex_unlock(&ucpg_boot_lock);
    return status;
}

const char *ucpg_boot_method_name(void)
{
    const char *name;

    pthread_mutex_lock(&ucpg_boot_lock);
    name = (ucpg_boot_method != NULL) ? ucpg_boot_method->name : NULL;
    pthread_mutex_unlock(&ucpg_boot_lock);
    return name;
}
