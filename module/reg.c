// SPDX-License-Identifier: GPL-2.0
/*
 * One event registration: the Winsock state of an underlying socket (kept
 * by the rules of rules.c) and its delivery to a sink.  How a registration
 * learns what happens on its socket is attach.c's, skprot.c's and
 * unixops.c's: they call in here with wake-ups and re-enabling calls.  The
 * registrations as a whole (their table, list, listing) are registry.c's.
 */
#include <linux/eventfd.h>
#include <net/sock.h>

#include "compat.h"
#include "reg.h"
#include "sharedsock.h"
#include "sockstate.h"

/*
 * Wake-up callback on the socket's wait queue, under the queue's lock.
 * inet_release() clears sock->sk before it calls the protocol's close,
 * where the registration is taken off: a wake-up in between finds no sock
 * and records nothing, the socket being in its last close.
 */
static int ss_reg_wake(wait_queue_entry_t *wait, unsigned int mode, int sync,
		       void *key)
{
	struct ss_reg *reg = container_of(wait, struct ss_reg, wait);
	struct sock *sk = READ_ONCE(reg->sock->sk);

	if (sk)
		ss_reg_event(reg, sk, key_to_poll(key));
	return 0;
}

static void ss_reg_signal_work(struct work_struct *work)
{
	struct ss_reg *reg = container_of(work, struct ss_reg, signal_work);

	spin_lock_irq(&reg->lock);
	if (reg->sink.kind == SS_SINK_EVENTFD)
		eventfd_signal(reg->sink.evt);
	spin_unlock_irq(&reg->lock);
}

/*
 * @connected: the connection exists or existed; @connecting: a connect()
 * goes on; @connected_before: made by the socket's own connect().
 */
void ss_reg_init(struct ss_reg *reg, struct socket *sock, bool connected,
		 bool connecting, bool connected_before)
{
	reg->sock = sock;
	spin_lock_init(&reg->lock);
	INIT_LIST_HEAD(&reg->queue_link);
	INIT_WORK(&reg->signal_work, ss_reg_signal_work);
	init_waitqueue_func_entry(&reg->wait, ss_reg_wake);
	ss_rules_init(&reg->st, ss_sock_is_stream(sock), connected, connecting);
	if (connected_before)
		ss_rules_connected_before(&reg->st);
	ss_qentry_init(&reg->qe, SOCK_INODE(sock)->i_ino);
	reg->qe.sockfd = -1;
}

/* Deliver what is pending and selected; @fresh: newly recorded events. */
static void ss_reg_deliver(struct ss_reg *reg, u32 fresh)
{
	s16 errors[SS_ERR_SLOTS];
	u32 events;

	switch (reg->sink.kind) {
	case SS_SINK_EVENTFD:
		if (!ss_rules_signals(&reg->st, fresh))
			break;
		if (eventfd_signal_allowed())
			eventfd_signal(reg->sink.evt);
		else
			schedule_work(&reg->signal_work);
		break;
	case SS_SINK_QUEUE:
		events = ss_rules_fetch(&reg->st, errors);
		if (events)
			ss_queue_post(reg->sink.queue, &reg->qe, events, errors);
		break;
	}
}

/* Record @events as the rules allow, with @errs, and deliver. */
static void ss_reg_record(struct ss_reg *reg, u32 events,
			  const struct ss_errs *errs)
{
	u32 fresh, recorded;

	lockdep_assert_held(&reg->lock);
	recorded = ss_rules_record(&reg->st, events, errs, &fresh);
	if (!recorded)
		return;
	ss_stat_add(SS_STAT_EVENTS, hweight32(recorded));
	ss_reg_deliver(reg, fresh);
}

/*
 * A wake-up of @reg's socket @sk, whose @key names the condition that
 * changed (0: a state change).  From the registration's wait entry, under
 * the wait queue's lock, in softirq or process context; no allocation, no
 * sleeping lock.
 *
 * The look at armed events that may skip it is made without the lock:
 * whoever re-arms looks at the level afterwards, past a full barrier that
 * pairs with the one the waker passed between changing the level and
 * getting here (skwq_has_sleeper()'s).
 */
void ss_reg_event(struct ss_reg *reg, struct sock *sk, __poll_t key)
{
	struct ss_errs errs = {};
	struct ss_obs obs = {};
	unsigned long flags;
	u32 events;

	if (ss_rules_wake_is_noop(&reg->st, ss_wake_pure(key)))
		return;
	spin_lock_irqsave(&reg->lock, flags);
	ss_sock_observe(reg->sock, sk, &obs);
	obs.space = key & EPOLLOUT;
	obs.space_wake = obs.space;
	events = ss_rules_on_wake(&reg->st, &obs, ss_wake_classes(key), &errs);
	ss_reg_record(reg, events, &errs);
	spin_unlock_irqrestore(&reg->lock, flags);
}

static void ss_reg_arm(struct ss_reg *reg, u32 events)
{
	unsigned long flags;

	if (!events)
		return;
	spin_lock_irqsave(&reg->lock, flags);
	ss_rules_arm(&reg->st, events);
	spin_unlock_irqrestore(&reg->lock, flags);
}

/*
 * Arm @rearm, then record the conditions in @which that hold now (process
 * context): at registration, and right after a re-enabling call, so that an
 * event whose condition persists is raised again at once.
 */
void ss_reg_check(struct ss_reg *reg, u32 which, u32 rearm)
{
	struct socket *sock = reg->sock;
	struct ss_errs errs = {};
	struct ss_obs obs = {};
	unsigned long flags;
	u32 events;

	/*
	 * The protocol's poll, which says whether there is send space, is not
	 * called under our lock: arm first, so that a write-space wake-up
	 * coming after the poll finds the event armed.
	 */
	if (which & SS_FD(WRITE)) {
		ss_reg_arm(reg, rearm);
		rearm = 0;
		/* Pairs with the barrier before ss_reg_event()'s lockless look. */
		smp_mb();
		obs.space = READ_ONCE(sock->ops)->poll(sock->file, sock, NULL) &
			    EPOLLOUT;
	}

	spin_lock_irqsave(&reg->lock, flags);
	ss_rules_arm(&reg->st, rearm);
	/*
	 * Pairs with the barrier a data wake-up passes between queueing the
	 * data and the lockless look at armed in ss_reg_event() (the one in
	 * skwq_has_sleeper()): it sees the event armed, or we see the data.
	 */
	smp_mb();
	ss_sock_observe(sock, sock->sk, &obs);
	events = ss_rules_holding(&reg->st, &obs, which, &errs);
	ss_reg_record(reg, events, &errs);
	spin_unlock_irqrestore(&reg->lock, flags);
}

/* Re-enabling @calls (enum ss_call) were made: arm, then look at the level. */
void ss_reg_called(struct ss_reg *reg, unsigned int calls)
{
	u32 events = ss_rules_reenabled_by(&reg->st, calls);

	if (events)
		ss_reg_check(reg, events, events);
}

/*
 * After a recv(), re-enabling FD_READ changes nothing, and needs no lock,
 * when data remains and FD_READ is recorded, not fetched yet, and so not
 * armed: ss_reg_called() would record it again at once, into the same
 * pending bit, which signals nothing (it is not fresh) and posts nothing
 * (an event stays pending in a queue's registration only while it is not
 * selected).
 *
 * No FD_READ is lost: the pending state is read after this recv() began
 * (its path takes the socket's or the queue's lock, an acquire), so the
 * FD_READ seen pending is handed to the application -- fetched by
 * SHAREDSOCK_IOC_ENUM, the eventfd staying signalled until then, or
 * posted -- after that point, and the application reads again: that
 * recv() re-arms.  Another reader may drain the data meanwhile: its own
 * recv() then re-arms.
 */
static bool ss_reg_read_rearm_is_noop(struct ss_reg *reg)
{
	struct sock *sk = reg->sock->sk;

	if (ss_sock_listening(sk) || !ss_sock_readable(sk))
		return false;
	if (!ss_rules_read_rearm_is_noop(&reg->st))
		return false;
	/* As ss_reg_record() would count it. */
	ss_stat_add(SS_STAT_EVENTS, 1);
	return true;
}

/*
 * A recv() (with MSG_OOB: @oob) returned; @fault: it failed for its buffer
 * (EFAULT), which re-enables FD_READ in message mode only (Windows).
 */
void ss_reg_received(struct ss_reg *reg, bool oob, bool fault)
{
	if (fault)
		ss_reg_called(reg, SS_CALL_RECV_FAULT);
	else if (oob)
		ss_reg_called(reg, SS_CALL_RECV_OOB);
	else if (!ss_reg_read_rearm_is_noop(reg))
		ss_reg_called(reg, SS_CALL_RECV);
}

/* The socket was bound: a datagram socket's FD_WRITE may hold now. */
void ss_reg_bound(struct ss_reg *reg)
{
	ss_reg_check(reg, SS_FD(WRITE), 0);
}

void ss_reg_connect_start(struct ss_reg *reg)
{
	unsigned long flags;

	spin_lock_irqsave(&reg->lock, flags);
	ss_rules_connect_start(&reg->st);
	spin_unlock_irqrestore(&reg->lock, flags);
}

void ss_reg_connect_end(struct ss_reg *reg, enum ss_connect_end end, int err)
{
	struct ss_errs errs = {};
	unsigned long flags;
	u32 events;

	spin_lock_irqsave(&reg->lock, flags);
	events = ss_rules_connect_end(&reg->st, end, err, &errs);
	ss_reg_record(reg, events, &errs);
	spin_unlock_irqrestore(&reg->lock, flags);
}

void ss_reg_local_shutdown(struct ss_reg *reg, u8 how)
{
	unsigned long flags;

	spin_lock_irqsave(&reg->lock, flags);
	ss_rules_local_shutdown(&reg->st, how);
	spin_unlock_irqrestore(&reg->lock, flags);
}

/*
 * Install @sink and @mask on @reg (and, for a queue, the descriptor @sockfd
 * and message value @msg that its messages carry), and deliver what was
 * recorded while it was not selected; the previous sink is returned in
 * @sink for the caller to put outside the locks, and in *@look the events
 * whose condition the caller must look at now (ss_rules_select()).
 * Messages still waiting in the previous queue are taken back, their
 * events recorded again (ss_rules_unfetch()).  A queue whose file has
 * begun to close is refused: its closed callback may have run already, and
 * would not cancel this registration.
 */
int ss_reg_set_sink(struct ss_reg *reg, struct ss_sink *sink, u32 mask,
		    int sockfd, u32 msg, u32 *look)
{
	s16 errors[SS_ERR_SLOTS];
	struct ss_sink old;
	unsigned long flags;
	u32 queued;

	lockdep_assert_held(&ss_reg_mutex);
	if (sink->kind == SS_SINK_QUEUE && ss_queue_closed(sink->queue))
		return -EINVAL;
	spin_lock_irqsave(&reg->lock, flags);
	/* First: what it forgets is not what was posted and is taken back. */
	*look = ss_rules_select(&reg->st, mask, sink->kind == SS_SINK_QUEUE);
	old = reg->sink;
	if (old.kind == SS_SINK_QUEUE) {
		queued = ss_queue_unlink(old.queue, &reg->qe, errors);
		ss_rules_unfetch(&reg->st, queued, errors);
	}
	reg->sink = *sink;
	/* On no ready list: taken off the old queue above, or never posted. */
	reg->qe.sockfd = sockfd;
	reg->qe.msg = msg;
	ss_reg_deliver(reg, reg->st.pending);
	spin_unlock_irqrestore(&reg->lock, flags);

	if (old.kind == SS_SINK_QUEUE)
		list_del_init(&reg->queue_link);
	if (reg->sink.kind == SS_SINK_QUEUE)
		list_add_tail(&reg->queue_link, ss_queue_regs(reg->sink.queue));
	*sink = old;
	return 0;
}

/* The calling process made the registration. */
void ss_reg_set_registrant(struct ss_reg *reg)
{
	lockdep_assert_held(&ss_reg_mutex);
	put_pid(reg->registrant);
	reg->registrant = get_task_pid(current, PIDTYPE_TGID);
	reg->registrant_uid = current_uid();
}

/*
 * Whether a socket accepted from @parent's listener inherits something: a
 * sink, and not a queue that is closing.  Under ss_reg_mutex, which every
 * sink change holds.
 */
bool ss_reg_may_inherit(struct ss_reg *parent)
{
	lockdep_assert_held(&ss_reg_mutex);
	switch (parent->sink.kind) {
	case SS_SINK_EVENTFD:
		return true;
	case SS_SINK_QUEUE:
		return !ss_queue_closed(parent->sink.queue);
	default:
		return false;
	}
}

/*
 * @child, just published for the socket that descriptor @fd names, was
 * accepted from @parent's listener: it takes its sink and mask.
 */
void ss_reg_inherit_sink(struct ss_reg *child, struct ss_reg *parent, int fd)
{
	unsigned long flags;

	lockdep_assert_held(&ss_reg_mutex);
	put_pid(child->registrant);
	child->registrant = get_pid(parent->registrant);
	child->registrant_uid = parent->registrant_uid;
	spin_lock_irqsave(&parent->lock, flags);
	spin_lock_nested(&child->lock, SINGLE_DEPTH_NESTING);
	ss_sink_dup(&child->sink, &parent->sink);
	child->st.mask = parent->st.mask;
	WRITE_ONCE(child->st.queue, parent->st.queue);
	child->qe.msg = parent->qe.msg;
	child->qe.sockfd = fd;
	spin_unlock(&child->lock);
	spin_unlock_irqrestore(&parent->lock, flags);
	if (child->sink.kind == SS_SINK_QUEUE)
		list_add_tail(&child->queue_link,
			      ss_queue_regs(child->sink.queue));
}

/* The queue's file is closing: cancel every registration posting to it. */
void ss_regs_queue_closed(struct ss_queue *queue)
{
	struct ss_reg *reg, *next;

	mutex_lock(&ss_reg_mutex);
	list_for_each_entry_safe(reg, next, ss_queue_regs(queue), queue_link) {
		struct ss_sink none = {};

		u32 look;

		ss_reg_set_sink(reg, &none, 0, -1, 0, &look);
		/* Our caller still holds the queue: this put cannot free it. */
		ss_sink_put(&none);
	}
	mutex_unlock(&ss_reg_mutex);
}
