/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event registrations: one registration (reg.c), the registrations as a
 * whole (registry.c), fetching their events (fetch.c) and their sinks
 * (sink.c).
 */
#ifndef _SHAREDSOCK_REG_H
#define _SHAREDSOCK_REG_H

#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/rhashtable-types.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/sharedsock.h>

#include "queue.h"
#include "rules.h"

struct eventfd_ctx;

enum ss_sink_kind {
	SS_SINK_NONE,
	SS_SINK_EVENTFD,
	SS_SINK_QUEUE,
};

/**
 * struct ss_sink - where a registration delivers its events
 * @kind:     enum ss_sink_kind
 * @evt_file: eventfd: a reference to the eventfd's file (kept so that an
 *            accepted socket can take its own reference to the context)
 * @evt:      eventfd: a reference to its context
 * @queue:    queue: a reference to the queue
 */
struct ss_sink {
	u8 kind;
	union {
		struct {
			struct file *evt_file;
			struct eventfd_ctx *evt;
		};
		struct ss_queue *queue;
	};
};

/**
 * struct ss_reg - the event registration of one underlying socket
 * @sock:       the socket, kept valid by a reference to its inode (rule 2 of
 *              the design: a released socket's memory outlives it)
 * @wait:       if @waiting, on the socket's wait queue (sock->wq.wait), put
 *              there by the protocol's own poll (attach.c), until the
 *              socket's last close; a TCP socket's wrapped callbacks
 *              (sockcb.c) stand for it
 * @rcu:        frees the object a grace period after it is unpublished, for
 *              the socket operations that looked it up (reg.c)
 * @hnode:      in the table of registrations by socket, under ss_reg_mutex
 *              (looked up under RCU)
 * @node:       on the list of all registrations, under ss_reg_mutex
 * @queue_link: on @sink.queue's registration list, under ss_reg_mutex
 * @registrant: process that made the current registration (a reference),
 *              and @registrant_uid its user; under ss_reg_mutex
 * @lock:       protects @sink and @st
 * @sink:       delivery; replaced by each registration made on the socket
 * @st:         the Winsock state (rules.c)
 * @kind:       how the socket is watched (enum ss_watch_kind, attach.h)
 * @family:     the socket's address family when it was registered
 * @waiting:    @wait is on the socket's wait queue; under ss_reg_mutex
 * @signal_work: signals the eventfd where eventfd_signal() may not recurse
 * @qe:         its messages in @sink.queue, under the queue's lock, and
 *              the descriptor and message value they carry, set under
 *              @lock while on no queue's ready list
 *
 * Lifetime: created by the first registration made on a socket and kept,
 * whatever later registrations change, until the socket's last close (see
 * attach.c), then freed a grace period later.  It holds a reference to the
 * socket's inode and to this module until then, never to the socket's file.
 *
 * Size: at most 256 bytes (checked at build time), the memory target per
 * registration.
 */
struct ss_reg {
	struct socket *sock;
	union {
		wait_queue_entry_t wait;
		struct rcu_head rcu;
	};
	struct rhash_head hnode;
	struct list_head node;
	struct list_head queue_link;
	struct pid *registrant;
	kuid_t registrant_uid;

	spinlock_t lock;		/* @sink, @st */
	struct ss_sink sink;
	struct ss_rstate st;
	u8 kind;
	u8 family;
	bool waiting;
	struct work_struct signal_work;

	struct ss_qentry qe;
};

/*
 * Serialises registration changes: the list of registrations, sinks and
 * queue membership.  Never held across lock_sock(), a user copy or an
 * allocation: the close path of one socket never waits for another.
 */
extern struct mutex ss_reg_mutex;

/* registry.c */
int ss_regs_init(void);
void ss_regs_exit(void);
struct ss_reg *ss_reg_alloc(void);
void ss_reg_free(struct ss_reg *reg);
void ss_reg_free_rcu(struct ss_reg *reg);
struct ss_reg *ss_reg_lookup(const struct socket *sock);
int ss_reg_link(struct ss_reg *reg);
void ss_reg_unlink(struct ss_reg *reg);

/**
 * struct ss_regs_cursor - a place in the list of registrations
 * @link: on the list of cursors in use, under ss_reg_mutex
 * @pos:  the last registration passed, or NULL before the first
 *
 * A walk over the list (the sweep, LIST) drops ss_reg_mutex between its
 * steps.  A registration unlinked meanwhile moves the cursors standing on
 * it back to the one before it, so every step goes on where the last one
 * stopped, at no cost for the registrations already passed.
 */
struct ss_regs_cursor {
	struct list_head link;
	struct ss_reg *pos;
};

void ss_regs_cursor_open(struct ss_regs_cursor *c);
void ss_regs_cursor_close(struct ss_regs_cursor *c);
struct ss_reg *ss_regs_next_dead(struct ss_regs_cursor *c,
				 unsigned int *budget);
u32 ss_regs_count(void);
int ss_regs_list(struct sharedsock_reg_entry __user *uentries, u32 room,
		 u32 *total);

/* reg.c */
void ss_reg_init(struct ss_reg *reg, struct socket *sock, bool connected,
		 bool connecting, bool connected_before);
void ss_reg_event(struct ss_reg *reg, struct sock *sk, __poll_t key);
void ss_reg_check(struct ss_reg *reg, u32 which, u32 rearm);
void ss_reg_called(struct ss_reg *reg, unsigned int calls);
void ss_reg_received(struct ss_reg *reg, bool oob, bool fault);
void ss_reg_bound(struct ss_reg *reg);
void ss_reg_connect_start(struct ss_reg *reg);
void ss_reg_connect_end(struct ss_reg *reg, enum ss_connect_end end, int err);
void ss_reg_local_shutdown(struct ss_reg *reg, u8 how);
int ss_reg_set_sink(struct ss_reg *reg, struct ss_sink *sink, u32 mask,
		    int sockfd, u32 msg, u32 *look);
void ss_reg_set_registrant(struct ss_reg *reg);
bool ss_reg_may_inherit(struct ss_reg *parent);
void ss_reg_inherit_sink(struct ss_reg *child, struct ss_reg *parent, int fd);
void ss_regs_queue_closed(struct ss_queue *queue);

/* fetch.c */
void ss_reg_enum(struct ss_reg *reg, struct eventfd_ctx *evt,
		 struct ss_queue *queue, struct sharedsock_enum *args);
void ss_reg_enum_undo(struct ss_reg *reg, struct eventfd_ctx *evt,
		      const struct sharedsock_enum *args);
void ss_eventfd_reset(struct eventfd_ctx *evt);

/* sink.c */
int ss_sink_get(struct ss_sink *sink, const struct sharedsock_select *args);
void ss_sink_dup(struct ss_sink *to, const struct ss_sink *from);
void ss_sink_put(struct ss_sink *sink);

#endif /* _SHAREDSOCK_REG_H */
