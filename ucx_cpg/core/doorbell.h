/*
 * doorbell.h - waking a process of this host that sleeps in poll(2), by a
 * name both agree on: a datagram socket in Linux's abstract namespace.
 *
 * Why a socket: the sleeper needs a descriptor it can poll with everything
 * else (a CPG handle's fd), and a ringer in another process needs no
 * descriptor of the sleeper's to ring it (an eventfd would have to be passed
 * over a socket first). An abstract name needs no file and vanishes with the
 * socket, so a crash leaves nothing behind. A ring is one sendto(2) that
 * never blocks: a full queue already wakes the sleeper, and a name nobody
 * holds (the sleeper died) is no error.
 *
 * Anyone in the same network namespace can ring a name: a stray ring only
 * costs the sleeper a spurious wake-up, so nothing is trusted from a ring.
 */
#ifndef UCPG_CORE_DOORBELL_H
#define UCPG_CORE_DOORBELL_H

#include <stddef.h>

#include "status.h"

#define UCPG_DOORBELL_NAME_MAX 100u

/* The bell of the name (1..UCPG_DOORBELL_NAME_MAX bytes), bound by its
 * sleeper. UCPG_ERR_EXISTS if another socket holds the name (its owner has
 * not closed it yet), UCPG_ERR_IO for other failures (logged). */
ucpg_status_t ucpg_doorbell_open(const char *name, int *fd_p);
void          ucpg_doorbell_close(int fd);
/* Takes every ring queued, so that the descriptor stops being readable. */
void          ucpg_doorbell_drain(int fd);
/* Rings the bell of name from socket fd (any datagram socket of ours, e.g.
 * our own bell). Never blocks; a bell nobody holds is not an error. */
void          ucpg_doorbell_ring(int fd, const char *name);
/* An unbound socket to ring with (-1 if the system refuses it; logged). */
int           ucpg_doorbell_ringer(void);

#endif
