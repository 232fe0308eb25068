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
#include "queue.h"
#include "sharedsock.h"

/* Messages copied out per locked pass of read(). */
#define SS_QUEUE_READ_BATCH	16

/**
 * struct ss_queue - a message queue
 * @lock:   protects @ready and the entries on it (struct ss_qentry)
 * @ready:  entries with messages waiting, oldest first
 * @wait:   readers and pollers
 * @regs:   registrations posting here; the list is the registrations'
 *          (reg.c), under their lock
 * @closed: called as the file closes
 * @is_closed: set before @closed is called
 * @ref:    one for the file, one per registration posting here
 */
struct ss_queue {
	spinlock_t lock;		/* ready list and its entries */
	struct list_head ready;
	wait_queue_head_t wait;
	struct list_head regs;
	ss_queue_closed_fn closed;
	bool is_closed;
	struct kref ref;
};

static const struct file_operations ss_queue_fops;

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

/*
 * The queue's file has begun to close: a registration made after the
 * closed callback ran would never be cancelled.
 */
bool ss_queue_closed(const struct ss_queue *queue)
{
	return READ_ONCE(queue->is_closed);
}

void ss_qentry_init(struct ss_qentry *qe, unsigned long ino)
{
	INIT_LIST_HEAD(&qe->ready_link);
	qe->ino = ino;
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

/*
 * Post @events of @qe, with @errors by slot; an event with a message
 * waiting already updates that message.  Any context.
 */
void ss_queue_post(struct ss_queue *queue, struct ss_qentry *qe, u32 events,
		   const s16 errors[SS_ERR_SLOTS])
{
	unsigned long flags, bit, bits = events;

	spin_lock_irqsave(&queue->lock, flags);
	for_each_set_bit(bit, &bits, SHAREDSOCK_FD_MAX_EVENTS) {
		int slot = ss_rules_err_slot(bit);

		if (slot >= 0)
			qe->queued_err[slot] = errors[slot];
	}
	ss_stat_add(SS_STAT_MESSAGES, hweight32(events & ~qe->queued));
	qe->queued |= events;
	if (list_empty(&qe->ready_link))
		list_add_tail(&qe->ready_link, &queue->ready);
	spin_unlock_irqrestore(&queue->lock, flags);
	wake_up_poll(&queue->wait, EPOLLIN | EPOLLRDNORM);
}

/*
 * Take the messages of @qe still waiting in @queue out of it.  Returns
 * their events, and their errors by slot in @errors.
 */
u32 ss_queue_unlink(struct ss_queue *queue, struct ss_qentry *qe,
		    s16 errors[SS_ERR_SLOTS])
{
	unsigned long flags;
	u32 queued;

	spin_lock_irqsave(&queue->lock, flags);
	list_del_init(&qe->ready_link);
	queued = qe->queued;
	qe->queued = 0;
	memcpy(errors, qe->queued_err, sizeof(qe->queued_err));
	spin_unlock_irqrestore(&queue->lock, flags);
	return queued;
}

/* Take the next message, round-robin across sockets.  Under queue->lock. */
static bool ss_queue_pop(struct ss_queue *queue, struct sharedsock_message *m)
{
	struct ss_qentry *qe;
	unsigned int bit;
	int slot;

	qe = list_first_entry_or_null(&queue->ready, struct ss_qentry,
				      ready_link);
	if (!qe)
		return false;
	bit = ss_rules_next_message(qe->queued);
	memset(m, 0, sizeof(*m));
	m->socket = qe->sockfd;
	m->msg = qe->msg;
	m->event = BIT(bit);
	slot = ss_rules_err_slot(bit);
	m->error = slot >= 0 ? qe->queued_err[slot] : 0;
	m->socket_ino = qe->ino;
	qe->queued &= ~BIT(bit);
	if (qe->queued)
		list_move_tail(&qe->ready_link, &queue->ready);
	else
		list_del_init(&qe->ready_link);
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

	WRITE_ONCE(queue->is_closed, true);
	queue->closed(queue);
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

int ss_queue_create(unsigned int flags, ss_queue_closed_fn closed)
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
	queue->closed = closed;
	kref_init(&queue->ref);

	fd = anon_inode_getfd("[sharedsock-queue]", &ss_queue_fops, queue,
			      O_RDONLY |
			      (flags & SHAREDSOCK_QUEUE_CLOEXEC ? O_CLOEXEC : 0) |
			      (flags & SHAREDSOCK_QUEUE_NONBLOCK ? O_NONBLOCK : 0));
	if (fd < 0)
		kfree(queue);
	return fd;
}
