// SPDX-License-Identifier: GPL-2.0
/*
 * Message queues: the WSAAsyncSelect window, as a file descriptor.
 *
 * A queue holds at most one message per registration and event: each
 * registration with messages waiting is on the queue's ready list with a
 * bitmask of its events, so posting is O(1), needs no allocation, and
 * nothing is ever dropped -- an event raised again before its message was
 * read updates that message instead.
 */
#include <linux/anon_inodes.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/sock.h>

#include "compat.h"
#include "event.h"
#include "sharedsock.h"

/* Messages copied out per locked pass of read(). */
#define SS_QUEUE_READ_BATCH	16

/**
 * struct ss_queue - a message queue
 * @lock:  protects @ready and the ready_link/queued fields of registrations
 * @ready: registrations with messages waiting, oldest first
 * @wait:  readers and pollers
 * @regs:  registrations posting here, under ss_reg_mutex (reg.c)
 * @ref:   one for the file, one per registration posting here
 */
struct ss_queue {
	spinlock_t lock;		/* ready list and reg->queued* */
	struct list_head ready;
	wait_queue_head_t wait;
	struct list_head regs;
	struct kref ref;
};

static const struct file_operations ss_queue_fops;

/* Winsock's order for the events of one socket: a connection is reported
 * before its readiness, data before the close.
 */
static const u8 ss_event_order[SHAREDSOCK_FD_MAX_EVENTS] = {
	SHAREDSOCK_FD_CONNECT_BIT, SHAREDSOCK_FD_ACCEPT_BIT,
	SHAREDSOCK_FD_READ_BIT, SHAREDSOCK_FD_OOB_BIT,
	SHAREDSOCK_FD_WRITE_BIT, SHAREDSOCK_FD_CLOSE_BIT,
	SHAREDSOCK_FD_QOS_BIT, SHAREDSOCK_FD_GROUP_QOS_BIT,
	SHAREDSOCK_FD_ROUTING_INTERFACE_CHANGE_BIT,
	SHAREDSOCK_FD_ADDRESS_LIST_CHANGE_BIT,
};

static void ss_queue_free(struct kref *ref)
{
	kfree(container_of(ref, struct ss_queue, ref));
}

void ss_queue_get(struct ss_queue *queue)
{
	kref_get(&queue->ref);
}

void ss_queue_put(struct ss_queue *queue)
{
	kref_put(&queue->ref, ss_queue_free);
}

struct list_head *ss_queue_regs(struct ss_queue *queue)
{
	return &queue->regs;
}

/* A reference to the queue behind @fd, or ERR_PTR(-EINVAL). */
struct ss_queue *ss_queue_from_fd(int fd)
{
	struct ss_queue *queue = ERR_PTR(-EINVAL);
	struct fd f = fdget(fd);
	struct file *file = fd_file(f);

	if (!file)
		return queue;
	if (file->f_op == &ss_queue_fops) {
		queue = file->private_data;
		ss_queue_get(queue);
	}
	fdput(f);
	return queue;
}

/* Post @events of @reg; its errors are in reg->errors.  Any context. */
void ss_queue_post(struct ss_queue *queue, struct ss_reg *reg, u32 events)
{
	unsigned long flags, bit, bits = events;

	spin_lock_irqsave(&queue->lock, flags);
	for_each_set_bit(bit, &bits, SHAREDSOCK_FD_MAX_EVENTS) {
		int slot = ss_err_slot(bit);

		if (slot >= 0)
			reg->queued_err[slot] = reg->errors[slot];
	}
	ss_stat_add(SS_STAT_MESSAGES, hweight32(events & ~reg->queued));
	reg->queued |= events;
	if (list_empty(&reg->ready_link))
		list_add_tail(&reg->ready_link, &queue->ready);
	spin_unlock_irqrestore(&queue->lock, flags);
	wake_up_poll(&queue->wait, EPOLLIN | EPOLLRDNORM);
}

/*
 * Take the messages of @reg still waiting in @queue out of it.  Returns
 * their events; their errors stay in reg->queued_err.
 */
u32 ss_queue_unlink(struct ss_queue *queue, struct ss_reg *reg)
{
	unsigned long flags;
	u32 queued;

	spin_lock_irqsave(&queue->lock, flags);
	list_del_init(&reg->ready_link);
	queued = reg->queued;
	reg->queued = 0;
	spin_unlock_irqrestore(&queue->lock, flags);
	return queued;
}

/* Take the next message, round-robin across sockets.  Under queue->lock. */
static bool ss_queue_pop(struct ss_queue *queue, struct sharedsock_message *m)
{
	struct ss_reg *reg;
	unsigned int i, bit;
	int slot;

	reg = list_first_entry_or_null(&queue->ready, struct ss_reg, ready_link);
	if (!reg)
		return false;
	for (i = 0; i < SHAREDSOCK_FD_MAX_EVENTS; i++) {
		bit = ss_event_order[i];
		if (reg->queued & BIT(bit))
			break;
	}
	memset(m, 0, sizeof(*m));
	m->socket = reg->sink.sockfd;
	m->msg = reg->sink.msg;
	m->event = BIT(bit);
	slot = ss_err_slot(bit);
	m->error = slot >= 0 ? reg->queued_err[slot] : 0;
	m->socket_ino = SOCK_INODE(reg->sock)->i_ino;
	reg->queued &= ~BIT(bit);
	if (reg->queued)
		list_move_tail(&reg->ready_link, &queue->ready);
	else
		list_del_init(&reg->ready_link);
	return true;
}

/*
 * Take up to @max messages into @umsgs, waiting for the first unless
 * @nonblock.  Returns how many, or an error when none was taken.
 */
static ssize_t ss_queue_take(struct ss_queue *queue, bool nonblock,
			     struct sharedsock_message __user *umsgs,
			     size_t max)
{
	struct sharedsock_message msgs[SS_QUEUE_READ_BATCH];
	bool writable = false;
	size_t done = 0, room, n;
	int err;

	if (!max)
		return -EINVAL;
	for (;;) {
		room = min_t(size_t, ARRAY_SIZE(msgs), max - done);
		spin_lock_irq(&queue->lock);
		/*
		 * A message taken is gone: when there is one, make sure it can
		 * be stored before taking it (only a racing munmap() can still
		 * lose one).  An empty queue leaves the buffer alone.
		 */
		if (!writable && !list_empty(&queue->ready)) {
			spin_unlock_irq(&queue->lock);
			if (fault_in_writeable((char __user *)(umsgs + done),
					       room * sizeof(msgs[0])))
				return done ?: -EFAULT;
			writable = true;
			continue;
		}
		for (n = 0; n < room; n++)
			if (!ss_queue_pop(queue, &msgs[n]))
				break;
		spin_unlock_irq(&queue->lock);
		writable = false;

		if (copy_to_user(umsgs + done, msgs, n * sizeof(msgs[0])))
			return done ?: -EFAULT;
		done += n;
		if (done == max || (done && n < ARRAY_SIZE(msgs)))
			return done;
		if (done)
			continue;
		if (nonblock)
			return -EAGAIN;
		err = wait_event_interruptible(queue->wait,
					       !list_empty_careful(&queue->ready));
		if (err)
			return err;
	}
}

static ssize_t ss_queue_read(struct file *file, char __user *buf,
			     size_t count, loff_t *ppos)
{
	ssize_t n = ss_queue_take(file->private_data,
				  file->f_flags & O_NONBLOCK,
				  (struct sharedsock_message __user *)buf,
				  count / sizeof(struct sharedsock_message));

	return n < 0 ? n : n * sizeof(struct sharedsock_message);
}

/*
 * SHAREDSOCK_IOC_QUEUE_READ: read(2) of @fd, if it is a queue.  Returns
 * the number of messages, -EBADF for no open descriptor, -EINVAL for one
 * that is not a queue.
 */
ssize_t ss_queue_read_fd(int fd, struct sharedsock_message __user *umsgs,
			 u32 count)
{
	struct fd f = fdget(fd);
	struct file *file = fd_file(f);
	ssize_t n = -EINVAL;

	if (!file)
		return -EBADF;
	if (file->f_op == &ss_queue_fops && (file->f_mode & FMODE_READ)) {
		/* The LSM's say on reading it, as read(2) asks. */
		n = rw_verify_area(READ, file, NULL,
				   count * sizeof(struct sharedsock_message));
		if (!n)
			n = ss_queue_take(file->private_data,
					  file->f_flags & O_NONBLOCK, umsgs,
					  count);
	}
	fdput(f);
	return n;
}

static __poll_t ss_queue_poll(struct file *file, poll_table *wait)
{
	struct ss_queue *queue = file->private_data;

	poll_wait(file, &queue->wait, wait);
	return list_empty_careful(&queue->ready) ? 0 : EPOLLIN | EPOLLRDNORM;
}

static int ss_queue_release(struct inode *inode, struct file *file)
{
	struct ss_queue *queue = file->private_data;

	ss_regs_queue_closed(queue);
	ss_queue_put(queue);
	return 0;
}

static const struct file_operations ss_queue_fops = {
	.owner		= THIS_MODULE,
	.read		= ss_queue_read,
	.poll		= ss_queue_poll,
	.release	= ss_queue_release,
	.llseek		= noop_llseek,
};

int ss_queue_create(unsigned int flags)
{
	struct ss_queue *queue;
	int fd;

	queue = kzalloc(sizeof(*queue), GFP_KERNEL_ACCOUNT);
	if (!queue)
		return -ENOMEM;
	spin_lock_init(&queue->lock);
	INIT_LIST_HEAD(&queue->ready);
	init_waitqueue_head(&queue->wait);
	INIT_LIST_HEAD(&queue->regs);
	kref_init(&queue->ref);

	fd = anon_inode_getfd("[sharedsock-queue]", &ss_queue_fops, queue,
			      O_RDONLY |
			      (flags & SHAREDSOCK_QUEUE_CLOEXEC ? O_CLOEXEC : 0) |
			      (flags & SHAREDSOCK_QUEUE_NONBLOCK ? O_NONBLOCK : 0));
	if (fd < 0)
		kfree(queue);
	return fd;
}
