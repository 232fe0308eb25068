/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsharedsock: hand a live socket to another process, Winsock style.
 *
 * Every call returns -1 (or NULL) and sets errno on failure, like libc.
 * The library opens /dev/sharedsock itself, lazily, once per process.
 */
#ifndef SHAREDSOCK_H
#define SHAREDSOCK_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Network events: Winsock's values. */
#define SS_FD_READ_BIT				0
#define SS_FD_WRITE_BIT				1
#define SS_FD_OOB_BIT				2
#define SS_FD_ACCEPT_BIT			3
#define SS_FD_CONNECT_BIT			4
#define SS_FD_CLOSE_BIT				5
#define SS_FD_QOS_BIT				6
#define SS_FD_GROUP_QOS_BIT			7
#define SS_FD_ROUTING_INTERFACE_CHANGE_BIT	8
#define SS_FD_ADDRESS_LIST_CHANGE_BIT		9
#define SS_FD_MAX_EVENTS			10

#define SS_FD_READ				0x001
#define SS_FD_WRITE				0x002
#define SS_FD_OOB				0x004
#define SS_FD_ACCEPT				0x008
#define SS_FD_CONNECT				0x010
#define SS_FD_CLOSE				0x020
#define SS_FD_QOS				0x040
#define SS_FD_GROUP_QOS				0x080
#define SS_FD_ROUTING_INTERFACE_CHANGE		0x100
#define SS_FD_ADDRESS_LIST_CHANGE		0x200
#define SS_FD_ALL_EVENTS			0x3FF

#define SS_TOKEN_SECRET_SIZE			16

/* Most sockets one token carries (ss_duplicate_sockets). */
#define SS_MAX_TOKEN_SOCKETS			253

/*
 * What the target needs to redeem a duplicate.  Fixed size, plain bytes:
 * send it over any IPC.  The token fields are opaque.
 */
struct ss_protocol_info {
	int family;		/* AF_INET, AF_INET6, AF_UNIX, ... */
	int type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, ... */
	int protocol;		/* IPPROTO_TCP, IPPROTO_UDP, 0, ... */
	unsigned int reserved;
	unsigned long long token_id;
	unsigned char token_secret[SS_TOKEN_SECRET_SIZE];
};

struct ss_network_events {
	long network_events;			/* SS_FD_* bits */
	int error_code[SS_FD_MAX_EVENTS];	/* errno, by SS_FD_*_BIT */
};

/* One posted network event (WSAAsyncSelect). */
struct ss_message {
	int socket;		/* the fd number given to ss_async_select */
	unsigned int msg;	/* the msg given to ss_async_select */
	long event;		/* one SS_FD_* bit */
	int error;		/* errno value, 0 = none */
	unsigned long long socket_ino;	/* inode of the socket */
};

/* Export @sockfd as a single-use token that only @target_pid can redeem. */
int ss_duplicate_socket(int sockfd, pid_t target_pid,
			struct ss_protocol_info *info);

/* The same, with a token lifetime in milliseconds (0: module default). */
int ss_duplicate_socket_ttl(int sockfd, pid_t target_pid,
			    unsigned int ttl_ms,
			    struct ss_protocol_info *info);

/*
 * Redeem a token into a new descriptor; @flags is 0 or O_CLOEXEC.  A token
 * of several sockets gives its next one.
 */
int ss_socket_from_info(const struct ss_protocol_info *info, int flags);

/*
 * Export @count sockets (1 to SS_MAX_TOKEN_SOCKETS) as ONE token for
 * @target_pid: a batch handoff in one call and one IPC message.  @ttl_ms 0
 * selects the module default.  @info's family/type/protocol describe the
 * first socket.  All sockets are exported, or none.
 */
int ss_duplicate_sockets(const int *sockfds, unsigned int count,
			 pid_t target_pid, unsigned int ttl_ms,
			 struct ss_protocol_info *info);

/*
 * Redeem up to @max of a token's sockets into @fds, in export order;
 * returns how many.  Sockets beyond @max or a full descriptor table stay
 * in the token for the next call; the token ends with its last socket.
 * ss_socket_from_info() takes them one at a time.  @flags: 0 or O_CLOEXEC.
 */
int ss_sockets_from_info(const struct ss_protocol_info *info, int *fds,
			 unsigned int max, int flags);

/* Withdraw an unredeemed token: only the process that exported it may. */
int ss_revoke(const struct ss_protocol_info *info);

/*
 * Register @network_events of the underlying socket to signal @eventfd
 * (WSAEventSelect); replaces any registration made through any descriptor
 * of the socket, in any process.  A mask of 0 cancels.  Sets O_NONBLOCK.
 */
int ss_event_select(int sockfd, int eventfd, long network_events);

/*
 * Fetch and clear the recorded events that are selected; only the error
 * slots of reported events are written.  Resets @eventfd unless it is -1.
 */
int ss_enum_network_events(int sockfd, int eventfd,
			   struct ss_network_events *ne);

/*
 * The mask of the socket's current registration, 0 if it has none; nothing
 * is fetched or reset.  Returns -1 with errno on failure.
 */
long ss_registered_events(int sockfd);

/*
 * Whether the socket's registration still delivers to @sink_fd (an eventfd
 * or a queue): 1 if so, 0 if it was cancelled or replaced by a registration
 * made through any descriptor, in any process.  -1 with errno on failure.
 */
int ss_registration_current(int sockfd, int sink_fd);

/* A message queue descriptor; @flags: 0|O_CLOEXEC|O_NONBLOCK. */
int ss_queue_create(int flags);

/* Register @network_events to post messages to @queuefd (WSAAsyncSelect). */
int ss_async_select(int sockfd, int queuefd, unsigned int msg,
		    long network_events);

/* Read up to @max messages; blocks unless the queue is O_NONBLOCK. */
ssize_t ss_queue_read(int queuefd, struct ss_message *msgs, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* SHAREDSOCK_H */
