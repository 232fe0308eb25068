/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Message queues (queue.c): the WSAAsyncSelect window, as a descriptor.
 */
#ifndef _SHAREDSOCK_QUEUE_H
#define _SHAREDSOCK_QUEUE_H

#include <linux/list.h>
#include <linux/types.h>
#include <linux/sharedsock.h>

#include "rules.h"

struct ss_queue;

/**
 * struct ss_qentry - what one socket has waiting in a queue
 * @ready_link: on the queue's ready list while @queued is not 0
 * @queued:     events with a message waiting
 * @queued_err: their errors by slot (enum ss_err_slot)
 * @sockfd:     the descriptor the messages name
 * @msg:        the message value
 * @ino:        the socket's inode number
 *
 * Embedded in the registration that posts; @ready_link, @queued and
 * @queued_err are under the queue's lock; @sockfd and @msg are the
 * registration's, changed only while the entry is on no ready list.
 */
struct ss_qentry {
	struct list_head ready_link;
	u32 queued;
	s16 queued_err[SS_ERR_SLOTS];
	int sockfd;
	u32 msg;
	unsigned long ino;
};

/* Called once when the queue's file is closing, before the file's
 * reference to the queue is dropped.
 */
typedef void (*ss_queue_closed_fn)(struct ss_queue *queue);

int ss_queue_create(unsigned int flags, ss_queue_closed_fn closed);
struct ss_queue *ss_queue_from_fd(int fd);
ssize_t ss_queue_read_fd(int fd, struct sharedsock_message __user *umsgs,
			 u32 count);
void ss_queue_get(struct ss_queue *queue);
void ss_queue_put(struct ss_queue *queue);
bool ss_queue_closed(const struct ss_queue *queue);
struct list_head *ss_queue_regs(struct ss_queue *queue);
void ss_qentry_init(struct ss_qentry *qe, unsigned long ino);
void ss_queue_post(struct ss_queue *queue, struct ss_qentry *qe, u32 events,
		   const s16 errors[SS_ERR_SLOTS]);
u32 ss_queue_unlink(struct ss_queue *queue, struct ss_qentry *qe,
		    s16 errors[SS_ERR_SLOTS]);

#endif /* _SHAREDSOCK_QUEUE_H */
