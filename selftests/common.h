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

/*
 * How long a test waits for something that must happen (an event, an EOF,
 * a message, another process's step) before it calls it a hang.  Never the
 * expected wait: each such wait ends as soon as the thing happens, so that
 * a slow or loaded machine only takes longer.  Below the harness's 30 s per
 * test, so that a hang fails as the check that waited, and well below the
 * module's default token lifetime (60 s), so that an EOF within it still
 * proves that no token held the socket.
 */
#define WAIT_MS		10000
/*
 * A timer or timeout that fires is late only past this: an upper bound a
 * loaded, emulated machine does not reach, and still far below what a
 * coarse sweep or a missed wake-up (a wait to the hang guard) would take.
 */
#define LATE_MS		(WAIT_MS / 2)

/* The state letter of a process (or "self/task/TID") from /proc, or 0. */
char proc_state_of(const char *dir);
char proc_state(pid_t pid);

/* True when @fd reports end of file (or reset) within @ms milliseconds. */
bool peer_eof_within(int fd, int ms);
/*
 * True when @fd stays open (no EOF, no data) for @ms milliseconds: a check
 * that something does not happen, which only a short wait can make.
 */
bool peer_open_for(int fd, int ms);

/* @fd has at least @len bytes queued for reading, within @ms. */
bool inq_at_least(int fd, int len, int ms);

/*
 * Every other thread of this process sleeps (state S: blocked in a call),
 * within @ms.  For a test whose point is a wake-up: the thread it started
 * is in its blocking call, not merely about to make it.
 */
bool threads_asleep(int ms);

/* Plain-bytes transport of a protocol info over a pipe. */
int send_info(int fd, const struct ss_protocol_info *info);
int recv_info(int fd, struct ss_protocol_info *info);

/* Wait for @pid; its exit status, or 128 + signal, or -1. */
int wait_exit(pid_t pid);

/*
 * Drop to an unprivileged uid/gid (all of real, effective, saved), staying
 * dumpable.
 */
int become_user(uid_t uid);

/* Number of descriptors referring to sockets in this process. */
int count_socket_fds(void);

/* SHAREDSOCK_IOC_STATUS on @dev into a zeroed @st. */
int dev_status(int dev, struct sharedsock_status *st);

/*
 * tokens_pending once no pending token is bound to a process that has
 * exited, or -1 if that takes over @ms.  The module frees such tokens from
 * a work item a moment after the exit: tokens of an earlier test may still
 * go while a later one counts.  Only root sees every token in LIST; for
 * anyone else this is tokens_pending at once.
 */
long tokens_settled(int ms);

/*
 * Whether LIST shows the token @id (the caller sees its own user's); true
 * when LIST fails, so that a wait for the token's end fails rather than
 * passes.
 */
bool token_listed(int dev, unsigned long long id);

/*
 * The socket inodes of the registrations LIST shows, up to @room of them
 * into @inos; how many there are, or -1.
 */
/* Every entry of LIST @kind (entries of @entry bytes) into *@out (malloc). */
int list_all(int dev, unsigned int kind, size_t entry, void **out);
int registration_inos(int dev, unsigned long long *inos, int room);

/* /sys/module/sharedsock/refcnt, or -1. */
long module_refcnt(void);

/*
 * module_refcnt once it is back to @want, or as it is after @ms.  A
 * registered TCP socket carries the sharedsock ULP, which holds the module
 * until the socket is destroyed: a moment after its last close.
 */
long module_refcnt_back_to(long want, int ms);

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
