/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sharedsock: hand a live socket to another process, Winsock style.
 *
 * Open /dev/sharedsock and issue the ioctls below.  Every structure begins
 * with a @size field that the caller sets to sizeof(struct); the kernel
 * accepts any size from the first published version upwards, provided the
 * bytes it does not know about are zero (E2BIG otherwise).  Every field named @reserved and
 * every undefined @flags bit must be zero.
 */
#ifndef _UAPI_LINUX_SHAREDSOCK_H
#define _UAPI_LINUX_SHAREDSOCK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHAREDSOCK_DEVICE_PATH	"/dev/sharedsock"

/* Size of the token secret in bytes (128 random bits). */
#define SHAREDSOCK_SECRET_SIZE	16

/**
 * struct sharedsock_info - what the target needs to redeem a duplicate
 * @family:   address family of the socket (AF_INET, AF_UNIX, ...)
 * @type:     socket type (SOCK_STREAM, SOCK_DGRAM, ...)
 * @protocol: protocol of the socket (IPPROTO_TCP, 0, ...)
 * @reserved: must be zero
 * @id:       public token identifier, never reused while the module is loaded
 * @secret:   random bytes proving possession of the token
 *
 * Plain bytes: the exporter sends it to the target over any IPC.
 */
struct sharedsock_info {
	__s32 family;
	__s32 type;
	__s32 protocol;
	__u32 reserved;
	__u64 id;
	__u8 secret[SHAREDSOCK_SECRET_SIZE];
};

/**
 * struct sharedsock_duplicate - SHAREDSOCK_IOC_DUPLICATE argument
 * @size:     sizeof(struct sharedsock_duplicate)
 * @flags:    must be zero
 * @fd:       in: the socket to duplicate
 * @pid:      in: the target process, in the caller's pid namespace
 * @ttl_ms:   in: token lifetime in milliseconds; 0 selects the module's
 *            default_ttl_ms, values above max_ttl_ms are rejected
 * @reserved: must be zero
 * @info:     out: the token for the target
 */
struct sharedsock_duplicate {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__s32 pid;
	__u32 ttl_ms;
	__u32 reserved;
	struct sharedsock_info info;
};

/* Redeem flags. */
#define SHAREDSOCK_REDEEM_CLOEXEC	0x1U

/**
 * struct sharedsock_redeem - SHAREDSOCK_IOC_REDEEM argument
 * @size:     sizeof(struct sharedsock_redeem)
 * @flags:    SHAREDSOCK_REDEEM_* bits
 * @info:     in: the token, as returned to the exporter
 *
 * The ioctl returns the new descriptor, as pidfd_getfd(2) does.  A token
 * from SHAREDSOCK_IOC_DUPLICATE_VEC gives its next socket.
 */
struct sharedsock_redeem {
	__u32 size;
	__u32 flags;
	struct sharedsock_info info;
};

/**
 * struct sharedsock_revoke - SHAREDSOCK_IOC_REVOKE argument
 * @size:     sizeof(struct sharedsock_revoke)
 * @flags:    must be zero
 * @info:     in: the token to withdraw
 */
struct sharedsock_revoke {
	__u32 size;
	__u32 flags;
	struct sharedsock_info info;
};

/* Most sockets one token carries (SCM_RIGHTS's limit per message). */
#define SHAREDSOCK_VEC_MAX	253

/**
 * struct sharedsock_duplicate_vec - SHAREDSOCK_IOC_DUPLICATE_VEC argument
 * @size:     sizeof(struct sharedsock_duplicate_vec)
 * @flags:    must be zero
 * @fds:      in: user pointer to @count __s32 socket descriptors
 * @count:    in: 1 to SHAREDSOCK_VEC_MAX
 * @pid:      in: the target process, in the caller's pid namespace
 * @ttl_ms:   in: as in struct sharedsock_duplicate
 * @reserved: must be zero
 * @info:     out: one token for all the sockets; @family, @type and
 *            @protocol describe the first
 *
 * Every socket counts against the caller's token cap.  Either one token
 * carries them all, or nothing is exported.
 */
struct sharedsock_duplicate_vec {
	__u32 size;
	__u32 flags;
	__u64 fds;
	__u32 count;
	__s32 pid;
	__u32 ttl_ms;
	__u32 reserved;
	struct sharedsock_info info;
};

/**
 * struct sharedsock_redeem_vec - SHAREDSOCK_IOC_REDEEM_VEC argument
 * @size:     sizeof(struct sharedsock_redeem_vec)
 * @flags:    SHAREDSOCK_REDEEM_* bits
 * @fds:      in: user pointer to room for @count __s32; out: the new
 *            descriptors, in the order the sockets were exported
 * @count:    in: room in @fds, at least 1
 * @reserved: must be zero
 * @info:     in: the token
 *
 * The ioctl returns how many descriptors it installed: the token's
 * remaining sockets, or fewer when @count or the descriptor table runs out
 * of room.  Sockets not installed stay in the token for a later redeem
 * (SHAREDSOCK_IOC_REDEEM takes them one at a time); the token ends with
 * its last socket.  EFAULT (the slots to fill cannot be written) is found
 * before any descriptor is installed, and then nothing is.
 */
struct sharedsock_redeem_vec {
	__u32 size;
	__u32 flags;
	__u64 fds;
	__u32 count;
	__u32 reserved;
	struct sharedsock_info info;
};

/* Network events: Winsock's FD_* values and bit numbers. */
#define SHAREDSOCK_FD_READ_BIT				0
#define SHAREDSOCK_FD_WRITE_BIT				1
#define SHAREDSOCK_FD_OOB_BIT				2
#define SHAREDSOCK_FD_ACCEPT_BIT			3
#define SHAREDSOCK_FD_CONNECT_BIT			4
#define SHAREDSOCK_FD_CLOSE_BIT				5
#define SHAREDSOCK_FD_QOS_BIT				6
#define SHAREDSOCK_FD_GROUP_QOS_BIT			7
#define SHAREDSOCK_FD_ROUTING_INTERFACE_CHANGE_BIT	8
#define SHAREDSOCK_FD_ADDRESS_LIST_CHANGE_BIT		9
#define SHAREDSOCK_FD_MAX_EVENTS			10

#define SHAREDSOCK_FD_READ			0x001
#define SHAREDSOCK_FD_WRITE			0x002
#define SHAREDSOCK_FD_OOB			0x004
#define SHAREDSOCK_FD_ACCEPT			0x008
#define SHAREDSOCK_FD_CONNECT			0x010
#define SHAREDSOCK_FD_CLOSE			0x020
#define SHAREDSOCK_FD_QOS			0x040
#define SHAREDSOCK_FD_GROUP_QOS			0x080
#define SHAREDSOCK_FD_ROUTING_INTERFACE_CHANGE	0x100
#define SHAREDSOCK_FD_ADDRESS_LIST_CHANGE	0x200
#define SHAREDSOCK_FD_ALL_EVENTS		0x3FF

/* How a registration delivers events. */
#define SHAREDSOCK_SINK_EVENTFD	0	/* WSAEventSelect: signal an eventfd */
#define SHAREDSOCK_SINK_QUEUE	1	/* WSAAsyncSelect: post to a queue fd */

/**
 * struct sharedsock_select - SHAREDSOCK_IOC_SELECT argument
 * @size:     sizeof(struct sharedsock_select)
 * @flags:    must be zero
 * @fd:       the socket; the registration belongs to the underlying socket
 *            and replaces any previous one, made through any descriptor
 * @sink:     SHAREDSOCK_SINK_EVENTFD or SHAREDSOCK_SINK_QUEUE
 * @sink_fd:  an eventfd, or a queue fd from SHAREDSOCK_IOC_QUEUE_CREATE;
 *            ignored when @events is 0
 * @events:   SHAREDSOCK_FD_* mask; 0 cancels the registration
 * @msg:      queue sink: the value every message carries in its @msg
 * @reserved: must be zero
 */
struct sharedsock_select {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 sink;
	__s32 sink_fd;
	__u32 events;
	__u32 msg;
	__u32 reserved;
};

/**
 * struct sharedsock_enum - SHAREDSOCK_IOC_ENUM argument
 * @size:     sizeof(struct sharedsock_enum)
 * @flags:    SHAREDSOCK_ENUM_PEEK or 0
 * @fd:       the socket
 * @eventfd:  an eventfd to reset, or -1
 * @events:   out: recorded events in the current mask, now cleared
 * @mask:     out: the mask of the socket's registration (0: none, or
 *            cancelled)
 * @errors:   out: errno of each reported event, by SHAREDSOCK_FD_*_BIT;
 *            slots of events not reported are zero
 * @sink_current: out, with SHAREDSOCK_ENUM_PEEK: 1 if the registration
 *            delivers to @eventfd (an eventfd or a queue fd), 0 if it was
 *            cancelled or replaced by a registration to something else
 * @reserved: zero
 *
 * With SHAREDSOCK_ENUM_PEEK in @flags nothing is cleared or reset, and
 * @eventfd may also name a queue: a registrant learns this way whether its
 * registration is still the socket's.
 */
struct sharedsock_enum {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__s32 eventfd;
	__u32 events;
	__u32 mask;
	__s32 errors[SHAREDSOCK_FD_MAX_EVENTS];
	__u32 sink_current;
	__u32 reserved;
};

#define SHAREDSOCK_ENUM_PEEK	0x1U

/* Queue flags. */
#define SHAREDSOCK_QUEUE_CLOEXEC	0x1U
#define SHAREDSOCK_QUEUE_NONBLOCK	0x2U

/**
 * struct sharedsock_queue_create - SHAREDSOCK_IOC_QUEUE_CREATE argument
 * @size:     sizeof(struct sharedsock_queue_create)
 * @flags:    SHAREDSOCK_QUEUE_* bits
 *
 * The ioctl returns a queue descriptor: read(2) returns whole
 * struct sharedsock_message records; poll/epoll/io_uring report EPOLLIN
 * while messages are queued.  Closing it cancels every registration that
 * posts to it.
 */
struct sharedsock_queue_create {
	__u32 size;
	__u32 flags;
};

/**
 * struct sharedsock_message - one network event read from a queue
 * @socket:    the socket's descriptor as registered (for a socket accepted
 *             from a registered listener: its descriptor in the accepting
 *             process, or -1 if it could not be determined)
 * @msg:       the @msg given at registration
 * @event:     one SHAREDSOCK_FD_* bit
 * @error:     errno of the event, 0 for none
 * @socket_ino: inode number of the socket (as in /proc/PID/fd "socket:[N]")
 *
 * A queue holds at most one message per socket and event: an event raised
 * again before its message was read updates that message.
 */
struct sharedsock_message {
	__s32 socket;
	__u32 msg;
	__u32 event;
	__s32 error;
	__u64 socket_ino;
};

/**
 * struct sharedsock_queue_read - SHAREDSOCK_IOC_QUEUE_READ argument
 * @size:     sizeof(struct sharedsock_queue_read)
 * @queue_fd: a queue descriptor from SHAREDSOCK_IOC_QUEUE_CREATE
 * @msgs:     user pointer to room for @count struct sharedsock_message
 * @count:    room in @msgs, at least 1
 * @flags:    must be 0
 *
 * read(2) of @queue_fd, which must be a queue: any other descriptor is
 * refused with EINVAL and left as it was (read(2) would take whatever it
 * holds).  Blocks while the queue is empty unless @queue_fd is
 * non-blocking (EAGAIN then).  Returns the number of messages.
 */
struct sharedsock_queue_read {
	__u32 size;
	__s32 queue_fd;
	__u64 msgs;
	__u32 count;
	__u32 flags;
};

/**
 * struct sharedsock_status - SHAREDSOCK_IOC_STATUS result
 * @size:                   sizeof(struct sharedsock_status)
 * @flags:                  must be zero
 * @tokens_pending:         tokens pending now (all users)
 * @registrations:          registered sockets now (all users)
 * @tokens_exported:        counters since the module was loaded ...
 * @tokens_redeemed:        ...
 * @tokens_revoked:         ...
 * @tokens_expired:         ...
 * @tokens_reaped:          freed because their target exited or on unload
 * @registrations_created:  sockets that got a registration (accepted
 *                          sockets inheriting one included)
 * @registrations_replaced: registrations cancelled by a later one
 * @events_recorded:        network events recorded
 * @messages_posted:        messages posted to queues
 * @version:                module version, NUL-terminated
 */
struct sharedsock_status {
	__u32 size;
	__u32 flags;
	__u32 tokens_pending;
	__u32 registrations;
	__u64 tokens_exported;
	__u64 tokens_redeemed;
	__u64 tokens_revoked;
	__u64 tokens_expired;
	__u64 tokens_reaped;
	__u64 registrations_created;
	__u64 registrations_replaced;
	__u64 events_recorded;
	__u64 messages_posted;
	char version[16];
};

#define SHAREDSOCK_LIST_TOKENS		1
#define SHAREDSOCK_LIST_REGISTRATIONS	2

/**
 * struct sharedsock_token_entry - one pending token (SHAREDSOCK_LIST_TOKENS)
 * @id:           public token id
 * @exporter_pid: exporting process in the caller's pid namespace, 0 if gone
 *                or not visible
 * @target_pid:   target process, likewise
 * @uid:          user charged for the token
 * @family:       socket family
 * @type:         socket type
 * @protocol:     socket protocol
 * @age_ms:       time since export
 * @ttl_left_ms:  time until expiry
 */
struct sharedsock_token_entry {
	__u64 id;
	__s32 exporter_pid;
	__s32 target_pid;
	__u32 uid;
	__s32 family;
	__s32 type;
	__s32 protocol;
	__u64 age_ms;
	__u64 ttl_left_ms;
};

/**
 * struct sharedsock_reg_entry - one registration (SHAREDSOCK_LIST_REGISTRATIONS)
 * @socket_ino:     inode number of the socket
 * @registrant_pid: process that made the registration, in the caller's pid
 *                  namespace, 0 if gone or not visible
 * @uid:            its user
 * @sink:           SHAREDSOCK_SINK_EVENTFD, _QUEUE, or ~0 once cancelled
 * @mask:           selected events
 * @pending:        recorded events not yet fetched or posted
 * @family:         socket family
 * @type:           socket type
 * @reserved:       zero
 */
struct sharedsock_reg_entry {
	__u64 socket_ino;
	__s32 registrant_pid;
	__u32 uid;
	__u32 sink;
	__u32 mask;
	__u32 pending;
	__s32 family;
	__s32 type;
	__u32 reserved;
};

/**
 * struct sharedsock_list - SHAREDSOCK_IOC_LIST argument
 * @size:    sizeof(struct sharedsock_list)
 * @flags:   must be zero
 * @kind:    SHAREDSOCK_LIST_TOKENS or SHAREDSOCK_LIST_REGISTRATIONS
 * @count:   in: room in @entries; out: entries visible to the caller
 *           (may exceed the room: call again with more)
 * @entries: user pointer to an array of the entry type of @kind
 *
 * Unprivileged callers see the tokens charged to their user and the
 * registrations their user made; CAP_SYS_ADMIN sees all.  The ioctl
 * returns the number of entries written.
 */
struct sharedsock_list {
	__u32 size;
	__u32 flags;
	__u32 kind;
	__u32 count;
	__u64 entries;
};

#define SHAREDSOCK_IOC_MAGIC	0xB8

#define SHAREDSOCK_IOC_DUPLICATE \
	_IOWR(SHAREDSOCK_IOC_MAGIC, 0x01, struct sharedsock_duplicate)
#define SHAREDSOCK_IOC_REDEEM \
	_IOW(SHAREDSOCK_IOC_MAGIC, 0x02, struct sharedsock_redeem)
#define SHAREDSOCK_IOC_REVOKE \
	_IOW(SHAREDSOCK_IOC_MAGIC, 0x03, struct sharedsock_revoke)
#define SHAREDSOCK_IOC_DUPLICATE_VEC \
	_IOWR(SHAREDSOCK_IOC_MAGIC, 0x04, struct sharedsock_duplicate_vec)
#define SHAREDSOCK_IOC_REDEEM_VEC \
	_IOWR(SHAREDSOCK_IOC_MAGIC, 0x05, struct sharedsock_redeem_vec)
#define SHAREDSOCK_IOC_SELECT \
	_IOW(SHAREDSOCK_IOC_MAGIC, 0x10, struct sharedsock_select)
#define SHAREDSOCK_IOC_ENUM \
	_IOWR(SHAREDSOCK_IOC_MAGIC, 0x11, struct sharedsock_enum)
#define SHAREDSOCK_IOC_QUEUE_CREATE \
	_IOW(SHAREDSOCK_IOC_MAGIC, 0x12, struct sharedsock_queue_create)
#define SHAREDSOCK_IOC_QUEUE_READ \
	_IOW(SHAREDSOCK_IOC_MAGIC, 0x13, struct sharedsock_queue_read)
#define SHAREDSOCK_IOC_STATUS \
	_IOWR(SHAREDSOCK_IOC_MAGIC, 0x20, struct sharedsock_status)
#define SHAREDSOCK_IOC_LIST \
	_IOWR(SHAREDSOCK_IOC_MAGIC, 0x21, struct sharedsock_list)

#endif /* _UAPI_LINUX_SHAREDSOCK_H */
