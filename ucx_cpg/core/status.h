/*
 * status.h - the one status type of the library.
 *
 * Every internal function that can fail returns a ucpg_status_t. The public
 * façades (rsm_*, cpg_*) translate it into RSMERR_* / cs_error_t at their
 * boundary; nothing below them knows about those codes. The function that
 * first decides an error logs it; callers only propagate.
 */
#ifndef UCPG_CORE_STATUS_H
#define UCPG_CORE_STATUS_H

typedef enum ucpg_status {
    UCPG_OK                 =   0,
    UCPG_INPROGRESS         =   1,  /* operation started, completes later */
    UCPG_ERR_INVALID_PARAM  =  -1,  /* bad argument from the caller */
    UCPG_ERR_NO_MEMORY      =  -2,
    UCPG_ERR_CONFIG         =  -3,  /* invalid configuration value or file */
    UCPG_ERR_TRANSPORT      =  -4,  /* UCX reported a failure */
    UCPG_ERR_REGISTRY       =  -5,  /* boot registry unusable (full, corrupt, I/O) */
    UCPG_ERR_ACCESS         =  -6,  /* permission denied (registry owner, ACL) */
    UCPG_ERR_PEER_DOWN      =  -7,  /* the peer left or died */
    UCPG_ERR_TIMEOUT        =  -8,
    UCPG_ERR_NOT_FOUND      =  -9,
    UCPG_ERR_FORKED         = -10,  /* object belongs to the parent of a fork() */
    UCPG_ERR_MESSAGE        = -11,  /* malformed message received from the wire */
    UCPG_ERR_NO_RESOURCE    = -12,  /* a configured limit was reached */
    UCPG_ERR_BUSY           = -13,
    UCPG_ERR_SHUTDOWN       = -14,  /* the domain is being torn down */
    UCPG_ERR_UNSUPPORTED    = -15,
    UCPG_ERR_EXISTS         = -16,
    UCPG_ERR_IO             = -17,  /* a system call failed (errno logged) */
    UCPG_ERR_TRY_AGAIN      = -18,  /* a window is full: retry later (flow control) */
    UCPG_ERR_TOO_BIG        = -19   /* larger than the configured maximum */
} ucpg_status_t;

/* Short human-readable text for a status; never NULL. */
const char *ucpg_status_string(ucpg_status_t status);

#endif
