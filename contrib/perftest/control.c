/*
 * control.c - the control channel between server and client: one TCP
 * connection on the loopback, carrying proto.c's text lines.
 *
 * ucx_perftest exchanges its parameters and addresses over TCP port 13337;
 * ucx_cpg_perftest does the same on port 13338, but its processes meet in a
 * ucx_cpg domain, which is host-local. So the client first checks that the
 * host it was given is this host (pt_host_is_local) and then always
 * connects to 127.0.0.1; the server listens on 127.0.0.1 only. Nothing is
 * reachable from other hosts, and nothing is ever sent to them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "perftest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- is HOST this host? ------------------------------------------------------ */

static int pt_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in*)(const void*)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6*)(const void*)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
            return 1;
        }
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && (b[12] == 127);
    }
    return 0;
}

static int pt_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    if ((a == NULL) || (b == NULL) || (a->sa_family != b->sa_family)) {
        return 0;
    }
    if (a->sa_family == AF_INET) {
        return ((const struct sockaddr_in*)(const void*)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in*)(const void*)b)->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        return memcmp(&((const struct sockaddr_in6*)(const void*)a)->sin6_addr,
                      &((const struct sockaddr_in6*)(const void*)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    }
    return 0;
}

/* Is the address one of this host's interface addresses? */
static int pt_addr_is_ours(const struct sockaddr *sa)
{
    struct ifaddrs *ifs, *i;
    int found = 0;

    if (getifaddrs(&ifs) != 0) {
        return 0;
    }
    for (i = ifs; (i != NULL) && !found; i = i->ifa_next) {
        found = pt_addr_equal(i->ifa_addr, sa);
    }
    freeifaddrs(ifs);
    return found;
}

int pt_host_is_local(const char *host, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *a;
    char self[256];
    int ret, local = 0;

    if ((strcasecmp(host, "localhost") == 0) || (strcasecmp(host, "localhost.") == 0)) {
        return 1;
    }
    if (gethostname(self, sizeof(self)) == 0) {
        self[sizeof(self) - 1] = '\0';
        if (strcasecmp(host, self) == 0) {
            return 1;
        }
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family   = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags    = AI_NUMERICHOST;       /* an address: no name service at all */
    ret = getaddrinfo(host, NULL, &hints, &res);
    if (ret == EAI_NONAME) {
        hints.ai_flags = AI_ADDRCONFIG;
        ret            = getaddrinfo(host, NULL, &hints, &res);
    }
    if (ret != 0) {
        snprintf(err, errlen, "cannot resolve host '%s': %s", host, gai_strerror(ret));
        return -1;
    }
    for (a = res; (a != NULL) && !local; a = a->ai_next) {
        local = pt_addr_is_loopback(a->ai_addr) || pt_addr_is_ours(a->ai_addr);
    }
    freeaddrinfo(res);
    return local;
}

/* --- sockets -------------------------------------------------------------------- */

static int pt_ms_left(uint64_t deadline_ns, int slice_ms)
{
    uint64_t now;

    if (deadline_ns == 0) {
        return slice_ms;
    }
    now = pt_clock_ns();
    if (now >= deadline_ns) {
        return 0;
    }
    return ((deadline_ns - now) / 1000000u < (uint64_t)slice_ms)
               ? (int)((deadline_ns - now) / 1000000u) + 1 : slice_ms;
}

static void pt_loopback_addr(struct sockaddr_in *sin, unsigned port)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family      = AF_INET;
    sin->sin_port        = htons((uint16_t)port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int pt_control_listen(unsigned port, char *err, size_t errlen)
{
    struct sockaddr_in sin;
    int fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    pt_loopback_addr(&sin, port);
    if (bind(fd, (struct sockaddr*)&sin, sizeof(sin)) != 0) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%u: %s%s", port, strerror(errno),
                 (errno == EADDRINUSE) ? " (another server? choose a port with -p)" : "");
        close(fd);
        return -1;
    }
    if (listen(fd, 4) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int pt_control_port(int lfd, unsigned *port_p)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    if (getsockname(lfd, (struct sockaddr*)&sin, &len) != 0) {
        return -1;
    }
    *port_p = ntohs(sin.sin_port);
    return 0;
}

static void pt_conn_setup(pt_conn_t *c, int fd, const struct sockaddr_in *peer)
{
    int one = 1;
    char ip[INET_ADDRSTRLEN] = "?";

    memset(c, 0, sizeof(*c));
    c->fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof(ip));
    snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, (unsigned)ntohs(peer->sin_port));
}

int pt_control_accept(int lfd, pt_conn_t *c, uint64_t deadline_ns, char *err, size_t errlen)
{
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);

    for (;;) {
        struct pollfd pfd = {lfd, POLLIN, 0};
        int ms = pt_ms_left(deadline_ns, 500), ret, fd;

        if (ms == 0) {
            snprintf(err, errlen, "no client connected within the time limit");
            return -2;
        }
        ret = poll(&pfd, 1, ms);
        if ((ret < 0) && (errno != EINTR)) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
        if (ret <= 0) {
            continue;
        }
        fd = accept4(lfd, (struct sockaddr*)&peer, &plen, SOCK_CLOEXEC);
        if (fd >= 0) {
            pt_conn_setup(c, fd, &peer);
            return 0;
        }
        if ((errno != EINTR) && (errno != EAGAIN) && (errno != ECONNABORTED)) {
            snprintf(err, errlen, "accept: %s", strerror(errno));
            return -1;
        }
    }
}

int pt_control_connect(unsigned port, unsigned retry_ms, pt_conn_t *c, char *err,
                       size_t errlen)
{
    uint64_t until = pt_clock_ns() + (uint64_t)retry_ms * 1000000u;
    struct sockaddr_in sin;

    pt_loopback_addr(&sin, port);
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timespec pause = {0, 50 * 1000 * 1000};

        if (fd < 0) {
            snprintf(err, errlen, "socket: %s", strerror(errno));
            return -1;
        }
        int saved;

        if (connect(fd, (struct sockaddr*)&sin, sizeof(sin)) == 0) {
            pt_conn_setup(c, fd, &sin);
            return 0;
        }
        saved = errno;
        snprintf(err, errlen, "cannot connect to the server at 127.0.0.1:%u: %s%s", port,
                 strerror(saved),
                 (saved == ECONNREFUSED) ? " (is 'ucx_cpg_perftest' running as the server, "
                                           "with the same -p?)" : "");
        close(fd);
        if ((saved != ECONNREFUSED) || (pt_clock_ns() >= until)) {
            return -1;
        }
        nanosleep(&pause, NULL);
    }
}

int pt_control_send(pt_conn_t *c, const pt_msg_t *m)
{
    char line[PT_LINE_MAX];
    size_t off = 0;
    int n = pt_msg_encode(m, line, sizeof(line));

    if (n < 0) {
        return -1;
    }
    while (off < (size_t)n) {
        ssize_t w = send(c->fd, line + off, (size_t)n - off, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

int pt_control_recv(pt_conn_t *c, pt_msg_t *m, uint64_t deadline_ns)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        struct pollfd pfd = {c->fd, POLLIN, 0};
        ssize_t r;
        int ret, ms;

        if (nl != NULL) {
            size_t line_len = (size_t)(nl - c->buf) + 1;
            int    decoded  = pt_msg_decode_bytes(c->buf, line_len, m);

            memmove(c->buf, c->buf + line_len, c->len - line_len);
            c->len -= line_len;
            return (decoded == 0) ? 0 : -3;
        }
        if (c->len == sizeof(c->buf) - 1) {
            return -3;                 /* a line longer than any message */
        }
        ms = pt_ms_left(deadline_ns, 1000);
        if (ms == 0) {
            return -2;
        }
        ret = poll(&pfd, 1, ms);
        if ((ret < 0) && (errno != EINTR)) {
            return -1;
        }
        if (ret <= 0) {
            continue;
        }
        r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
        if (r == 0) {
            return -1;
        }
        if (r < 0) {
            if ((errno == EINTR) || (errno == EAGAIN)) {
                continue;
            }
            return -1;
        }
        c->len += (size_t)r;
    }
}

int pt_control_peer_gone(pt_conn_t *c)
{
    const char *line = c->buf;
    int gone = 0;

    /* Take in what has arrived (later pt_control_recv calls read it from the
     * buffer): the end of the connection may sit behind a last message. */
    while (!gone) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        ssize_t r;

        if ((c->len >= sizeof(c->buf) - 1) || (poll(&pfd, 1, 0) <= 0)) {
            break;
        }
        if (pfd.revents & (POLLERR | POLLNVAL)) {
            gone = 1;
            break;
        }
        r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
        if (r > 0) {
            c->len += (size_t)r;
        } else if ((r == 0) || ((errno != EAGAIN) && (errno != EINTR))) {
            gone = 1;                             /* end of file or a broken connection */
        } else {
            break;
        }
    }
    /* a peer that failed says so before it closes */
    while ((line != NULL) && (line < c->buf + c->len)) {
        const char *nl = memchr(line, '\n', (size_t)(c->buf + c->len - line));
        pt_msg_t m;

        if (nl == NULL) {
            break;
        }
        if (strncmp(line, "ERROR", 5) == 0) {
            if ((pt_msg_decode_bytes(line, (size_t)(nl - line) + 1, &m) == 0) &&
                (pt_msg_get(&m, "msg") != NULL)) {
                snprintf(c->error, sizeof(c->error), "%s", pt_msg_get(&m, "msg"));
            } else {
                snprintf(c->error, sizeof(c->error), "(no reason given)");
            }
            return 1;
        }
        line = nl + 1;
    }
    return gone;
}

void pt_control_close(pt_conn_t *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

void pt_control_send_error(pt_conn_t *c, const char *text)
{
    pt_msg_t m;

    pt_msg_init(&m, "ERROR");
    pt_msg_set(&m, "msg", text);
    pt_control_send(c, &m);
}
