/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event registrations (reg.c) and message queues (queue.c).
 */
#ifndef _SHAREDSOCK_EVENT_H
#define _SHAREDSOCK_EVENT_H

#include <linux/kref.h>
#include <linux/net.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/sharedsock.h>

struct eventfd_ctx;
struct ss_queue;

enum ss_sink_kind {
	SS_SINK_NONE,
	SS_SINK_EVENTFD,
	SS_SINK_QUEUE,
};

/**
 * struct ss_sink - where a registration delivers its events
 * @kind:     enum ss_sink_kind
 * @msg:      queue: the message value
 * @sockfd:   queue: the socket's descriptor as registered
 * @evt_file: eventfd: a reference to the eventfd's file (kept so that an
 *            accepted socket can take its own reference to the context)
 * @evt:      eventfd: a reference to its context
 * @queue:    queue: a reference to the queue
 */
struct ss_sink {
	u8 kind;
	u32 msg;
	int sockfd;
	union {
		struct {
			struct file *evt_file;
			struct eventfd_ctx *evt;
		};
		struct ss_queue *queue;
	};
};

/*
 * Only FD_CONNECT and FD_CLOSE are ever recorded with an error: a
 * registration keeps one error per such event, in these slots.
 */
enum ss_err_slot {
	SS_ERR_CONNECT,
	SS_ERR_CLOSE,
	SS_ERR_SLOTS,
};

/* The slot of the error of event @bit, or -1 if it never has one. */
static inline int ss_err_slot(unsigned int bit)
{
	switch (bit) {
	case SHAREDSOCK_FD_CONNECT_BIT:
		return SS_ERR_CONNECT;
	case SHAREDSOCK_FD_CLOSE_BIT:
		return SS_ERR_CLOSE;
	default:
		return -1;
	}
}

/**
 * struct ss_reg - the event registration of one underlying socket
 * @sock:       the socket; its inode's i_private points here, and its
 *              sock->ops at its protocol's struct ss_ops (reg.c), while
 *              the registration exists
 * @wait:       unless @hooked: on the socket's wait queue (sock->wq.wait)
 * @rcu:        frees the object a grace period after the socket's last
 *              close, for the sock callbacks that may still be reading it
 * @node:       on the list of all registrations, under ss_reg_mutex
 * @queue_link: on @sink.queue's registration list, under ss_reg_mutex
 * @registrant: process that made the current registration (a reference),
 *              and @registrant_uid its user; under ss_reg_mutex
 * @lock:       protects every field below, and @sink
 * @sink:       delivery; replaced by each registration made on the socket
 * @mask:       selected events (SHAREDSOCK_FD_*); 0 when cancelled
 * @armed:      events that may be recorded now: an event is disarmed when
 *              recorded and re-armed by its Winsock re-enabling call
 * @pending:    recorded events not yet fetched (eventfd) or posted (queue)
 * @errors:     errno of each recorded event, by slot (enum ss_err_slot)
 * @close_err:  error seen when the connection ended (reset), kept for the
 *              FD_CLOSE raised once the remaining data is read
 * @connecting: a connect() is in progress
 * @connected:  the socket has been connected (stream) or is datagram
 * @unresolved: accepted socket whose descriptor is not known yet; nothing
 *              is posted to a queue until it is
 * @local_shut: shutdown() directions done locally (RCV/SEND_SHUTDOWN)
 * @hooked:     readiness comes from the sock's callbacks, not from @wait
 *              (which is then on no queue); under ss_reg_mutex, changed
 *              when a stream socket connects or listens
 * @signal_work: signals the eventfd where eventfd_signal() may not recurse
 * @resolve:    task work that learns an accepted socket's descriptor
 * @ready_link: on @sink.queue's ready list, under the queue's lock
 * @queued:     events with a message in that queue, under the queue's lock
 * @queued_err: their errors by slot; written under the queue's lock and
 *              reg->lock both (ss_queue_post() runs under the latter),
 *              so readable under either: ss_queue_pop() takes the queue's,
 *              ss_reg_unpost() reg->lock once the messages are taken back
 *
 * Lifetime: created by the first registration made on a socket and kept,
 * whatever later registrations change, until the socket's last close: the
 * release wrapper gives the sock back its callbacks (or removes the wait
 * entry), detaches the sink, clears i_private and gives the socket back
 * its protocol's ops, all under ss_reg_mutex, then frees the object a
 * grace period after the protocol's release.  It never holds a reference
 * to the socket.  The socket holds a reference to this module through the
 * table's ops.owner, which __sock_release() drops after the release
 * wrapper.
 *
 * Size: 224 bytes on Debian's kernel (18 per slab page); keep it at most
 * 256, the memory target per registration.
 */
struct ss_reg {
	struct socket *sock;
	union {
		wait_queue_entry_t wait;
		struct rcu_head rcu;
	};
	struct list_head node;
	struct list_head queue_link;
	struct pid *registrant;
	kuid_t registrant_uid;

	spinlock_t lock;		/* the fields below */
	struct ss_sink sink;
	u32 mask;
	u32 armed;
	u32 pending;
	s16 errors[SS_ERR_SLOTS];
	s16 close_err;
	bool connecting;
	bool connected;
	bool unresolved;
	u8 local_shut;
	bool hooked;
	struct work_struct signal_work;
	struct callback_head resolve;

	struct list_head ready_link;
	u32 queued;
	s16 queued_err[SS_ERR_SLOTS];
};

/* reg.c */
int ss_regs_init(void);
void ss_regs_exit(void);
int ss_reg_select(struct socket *sock, int sockfd,
		  const struct sharedsock_select *args);
void ss_reg_enum(struct socket *sock, struct eventfd_ctx *evt,
		 struct ss_queue *queue, struct sharedsock_enum *args);
void ss_reg_enum_undo(struct socket *sock, struct eventfd_ctx *evt,
		      const struct sharedsock_enum *args);
void ss_regs_queue_closed(struct ss_queue *queue);
u32 ss_regs_count(void);
u32 ss_regs_list(struct sharedsock_reg_entry *entries, u32 room);

/* queue.c */
int ss_queue_create(unsigned int flags);
struct ss_queue *ss_queue_from_fd(int fd);
ssize_t ss_queue_read_fd(int fd, struct sharedsock_message __user *umsgs,
			 u32 count);
void ss_queue_get(struct ss_queue *queue);
void ss_queue_put(struct ss_queue *queue);
struct list_head *ss_queue_regs(struct ss_queue *queue);
void ss_queue_post(struct ss_queue *queue, struct ss_reg *reg, u32 events);
u32 ss_queue_unlink(struct ss_queue *queue, struct ss_reg *reg);

#endif /* _SHAREDSOCK_EVENT_H */
