/*
 * boot.h - how the process-wide domain comes to life.
 *
 * ucpg_boot_domain_get() is the single entry point of every upper layer: the
 * first call loads the configuration, creates the domain, lets the boot
 * method (the local registry; under a PMIx launcher the job, in a domain
 * named after it) find the peers, and
 * waits until every peer found has answered or timed out. Later calls only
 * take a reference. The last ucpg_boot_domain_put() tears it down; so does
 * process exit, so that peers see a clean departure. After the exit handler
 * ran, ucpg_boot_domain_get() answers UCPG_ERR_SHUTDOWN: a thread that
 * outlives exit() must not start a domain nothing would tear down.
 *
 * fork(): a child never touches its parent's domain. Objects that point to
 * it answer UCPG_ERR_FORKED (ucpg_domain_check_owner), and so does
 * ucpg_boot_domain_get() in a child forked while the parent's domain was
 * alive, because UCX is not fork-safe (a new UCP context there can deadlock
 * on locks the parent's threads held at the fork). Such a child must exec().
 * A child forked after the parent released its domain (or before it had
 * one) gets a domain of its own as usual.
 */
#ifndef UCPG_BOOT_BOOT_H
#define UCPG_BOOT_BOOT_H

#include "core/domain.h"

ucpg_status_t ucpg_boot_domain_get(ucpg_domain_t **domain_p);
void          ucpg_boot_domain_put(ucpg_domain_t *domain);

/* A boot method: one file each in boot/. */
typedef struct ucpg_boot_method {
    const char *name;
    /* Before the domain exists: allocates the method's context, and may
     * adjust the configuration (the PMIx method sets the node id). */
    ucpg_status_t (*init)(ucpg_config_t *config, void **ctx_p);
    /* Registers the domain, starts it (ucpg_domain_start) and the registry
     * query service (ucpg_boot_remote_start), then connects to the peers
     * already there. On failure cleanup still follows. */
    ucpg_status_t (*join)(void *ctx, ucpg_domain_t *d, const ucpg_config_t *config);
    /* Unregisters, so no newcomer connects any more (domain still running). */
    void          (*leave)(void *ctx);
    /* Frees what init and join allocated (domain stopped or never started). */
    void          (*cleanup)(void *ctx);
    /* The host registry of this domain (segment ids live there), or NULL. */
    struct ucpg_registry *(*registry)(void *ctx);
} ucpg_boot_method_t;

extern const ucpg_boot_method_t ucpg_boot_local;
#ifdef UCPG_HAVE_PMIX
extern const ucpg_boot_method_t ucpg_boot_pmix;
/* Has this process initialized PMIx already (an MPI process)? */
int ucpg_boot_pmix_initialized(void);
#endif

/* fn(arg) runs when the process-wide domain is torn down while an upper
 * layer still has objects in it (the application exits without freeing
 * them): after the peers were told, before UCX is cleaned up, so the layer
 * can release its UCX resources (UCX aborts on memory still registered).
 * Registering the same fn again only updates arg; at most 4 layers. */
void ucpg_boot_on_teardown(void (*fn)(void *arg), void *arg);

/* The host registry of the process-wide domain d, or NULL if its boot method
 * keeps none. Valid while d is held. */
struct ucpg_registry *ucpg_boot_registry(ucpg_domain_t *d);

/*
 * In a process forked while its parent's domain was alive (where
 * ucpg_boot_domain_get answers UCPG_ERR_FORKED): UCPG_OK, and the name and
 * boot method of that domain, so the process can ask a relay to join it in
 * its place (cpg/relay_client.c). UCPG_ERR_NOT_FOUND in any other process.
 * Touches nothing of UCX.
 */
ucpg_status_t ucpg_boot_inherited(char *domain, size_t len, const char **method_p);

/* Name of the boot method the domain uses ("local", "pmix"), or NULL. */
const char *ucpg_boot_method_name(void);

#endif
