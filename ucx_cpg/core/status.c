/* status.c - text for ucpg_status_t. */
#include "status.h"

const char *ucpg_status_string(ucpg_status_t status)
{
    switch (status) {
    case UCPG_OK:                return "success";
    case UCPG_INPROGRESS:        return "operation in progress";
    case UCPG_ERR_INVALID_PARAM: return "invalid parameter";
    case UCPG_ERR_NO_MEMORY:     return "out of memory";
    case UCPG_ERR_CONFIG:        return "invalid configuration";
    case UCPG_ERR_TRANSPORT:     return "transport (UCX) error";
    case UCPG_ERR_REGISTRY:      return "boot registry error";
    case UCPG_ERR_ACCESS:        return "permission denied";
    case UCPG_ERR_PEER_DOWN:     return "peer is down";
    case UCPG_ERR_TIMEOUT:       return "timed out";
    case UCPG_ERR_NOT_FOUND:     return "not found";
    case UCPG_ERR_FORKED:        return "object belongs to the parent process (fork)";
    case UCPG_ERR_MESSAGE:       return "malformed message";
    case UCPG_ERR_NO_RESOURCE:   return "resource limit reached";
    case UCPG_ERR_BUSY:          return "busy";
    case UCPG_ERR_SHUTDOWN:      return "shutting down";
    case UCPG_ERR_UNSUPPORTED:   return "not supported";
    case UCPG_ERR_EXISTS:        return "already exists";
    case UCPG_ERR_IO:            return "system call failed";
    case UCPG_ERR_TRY_AGAIN:     return "window full, try again";
    case UCPG_ERR_TOO_BIG:       return "larger than the configured maximum";
    }
    return "unknown status";
}
