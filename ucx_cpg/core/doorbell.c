/*
 * doorbell.c - abstract-namespace datagram sockets as cross-process wake-ups
 * (see doorbell.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "doorbell.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* The address of name: sun_path starts with a NUL (abstract namespace), and
 * the length counts the name's bytes only, so no padding is part of it. */
static socklen_t ucpg_doorbell_addr(const char *name, struct sockaddr_un *sa)
{
    size_t len = strnlen(name, UCPG_DOORBELL_NAME_MAX);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path + 1, name, len);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

int ucpg_doorbell_ringer(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        ucpg_error("doorbell: socket: %m");
    }
    return fd;
}

ucpg_status_t ucpg_doorbell_open(const char *name, int *fd_p)
{
    struct sockaddr_un sa;
    socklen_t salen;
    int fd;

    if ((name[0] == '\0') || (strnlen(name, UCPG_DOORBELL_NAME_MAX + 1) >
                              UCPG_DOORBELL_NAME_MAX)) {
        return UCPG_ERR_INVALID_PARAM;
    }
    fd = ucpg_doorbell_ringer();
    if (fd < 0) {
        return UCPG_ERR_IO;
    }
    salen = ucpg_doorbell_addr(name, &sa);
    if (bind(fd, (struct sockaddr*)&sa, salen) != 0) {
        int err = errno;

        close(fd);
        if (err == EADDRINUSE) {
            return UCPG_ERR_EXISTS;
        }
        ucpg_error("doorbell %s: bind: %s", name, strerror(err));
        return UCPG_ERR_IO;
    }
    *fd_p = fd;
    return UCPG_OK;
}

void ucpg_doorbell_close(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}

void ucpg_doorbell_drain(int fd)
{
    char buf[64];

    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0) {
    }
}

void ucpg_doorbell_ring(int fd, const char *name)
{
    struct sockaddr_un sa;
    socklen_t salen = ucpg_doorbell_addr(name, &sa);
    char one        = 1;

    /* EAGAIN: rings are queued already, the sleeper will wake; ECONNREFUSED
     * or ENOENT: nobody holds the name (it died or left). Neither matters. */
    (void)sendto(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr*)&sa, salen);
}
