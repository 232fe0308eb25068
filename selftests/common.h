/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the sharedsock selftests.
 */
#ifndef SHAREDSOCK_SELFTEST_COMMON_H
#define SHAREDSOCK_SELFTEST_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <linux/sharedsock.h>
#include <sharedsock.h>

/* A fresh descriptor for /dev/sharedsock (tests use raw ioctls on it). */
int dev_open(void);

/* Raw ioctls with the size field filled in; return ioctl()'s result. */
int raw_duplicate(int dev, int fd, pid_t pid, unsigned int ttl_ms,
		  struct sharedsock_info *info);
int raw_redeem(int dev, const struct sharedsock_info *info, unsigned int flags);
int raw_revoke(int dev, const struct sharedsock_info *info);

/*
 * A connected pair of sockets of @family/@type: over loopback for
 * AF_INET/AF_INET6 (UDP sockets are connected to each other), a socketpair
 * for AF_UNIX.  Returns 0 or -1.
 */
int socket_pair(int family, int type, int sv[2]);

/*
 * A TCP socket listening on an ephemeral loopback port, whose address
 * (and its length) go to @addr and @len.  Returns it, or -1.
 */
int loopback_listener(struct sockaddr_in *addr, socklen_t *len);

/* Send @len bytes on @fd and check they arrive intact on @peer. */
bool transfer_ok(int fd, int peer, const char *msg);

/* True when @fd reports end of file (or reset) within @ms milliseconds. */
bool peer_eof_within(int fd, int ms);
/* True when @fd stays open (no EOF, no data) for @ms milliseconds. */
bool peer_open_for(int fd, int ms);

/* Plain-bytes transport of a protocol info over a pipe. */
int send_info(int fd, const struct ss_protocol_info *info);
int recv_info(int fd, struct ss_protocol_info *info);

/* Wait for @pid; its exit status, or 128 + signal, or -1. */
int wait_exit(pid_t pid);

/* Drop to an unprivileged uid/gid (all of real, effective, saved). */
int become_user(uid_t uid);

/* Number of descriptors referring to sockets in this process. */
int count_socket_fds(void);

/* SHAREDSOCK_IOC_STATUS on @dev into a zeroed @st. */
int dev_status(int dev, struct sharedsock_status *st);

/* /sys/module/sharedsock/refcnt, or -1. */
long module_refcnt(void);

/* "sockets: used" of this network namespace (/proc/net/sockstat), or -1. */
long sockets_used(void);

/* Bring the loopback interface of this network namespace up. */
int lo_up(void);

/* In a child: unless @cond holds, say so and exit with @code. */
#define CHILD_CHECK(cond, code)						\
	do {								\
		if (!(cond)) {						\
			dprintf(2, "# child %d, line %d: %s failed (errno %d)\n", \
				getpid(), __LINE__, #cond, errno);	\
			_exit(code);					\
		}							\
	} while (0)

/* splitmix64: the next value of the seeded sequence @s; one in [0, @n). */
uint64_t rnd(uint64_t *s);
unsigned int below(uint64_t *s, unsigned int n);

/* CLOCK_MONOTONIC in microseconds. */
long now_us(void);

#define PARAM_DIR	"/sys/module/sharedsock/parameters/"

/* A module parameter as a string (without the newline), or set it. */
int param_read(const char *name, char *buf, size_t len);
int param_write(const char *name, const char *val);

#endif
