// SPDX-License-Identifier: GPL-2.0
/*
 * Event registrations: WSAEventSelect / WSAAsyncSelect on the underlying
 * socket, whichever descriptor or process registers.
 *
 * A registered socket's sock->ops points at a copy of its protocol's
 * proto_ops, one struct ss_ops per protocol shared by all its registered
 * sockets (as kTLS shares its tables), in which a few operations are
 * wrapped; the socket inode's i_private points at the registration, which
 * the wrappers thus find in O(1) from any descriptor:
 *  - release: the socket's last close; the registration is torn down
 *    synchronously, before the protocol's own release;
 *  - recvmsg, sendmsg, sendpage, accept, connect: Winsock's re-enabling
 *    calls, whichever syscall reached them (read, recv, io_uring, ...);
 *  - shutdown: to tell a local shutdown from the peer's;
 *  - setsockopt: to refuse TCP_ULP and IPV6_ADDRFORM, which would replace
 *    sock->ops behind our back.
 * Readiness of UDP sockets, and of connected TCP and AF_UNIX stream
 * sockets, comes from their sock callbacks (sk_data_ready, sk_write_space,
 * sk_state_change, sk_error_report), which the registration wraps as
 * sunrpc and kTLS do: every wake-up of these sockets goes through one of
 * them, and a socket nobody sleeps on then takes no wait-queue wake-up per
 * packet.  Other sockets -- listeners, whose TCP children would be clones
 * of our callbacks; AF_UNIX datagrams, whose writers are also woken
 * through their peer's queue -- use a wait entry on the socket's wait
 * queue, the one poll and epoll wait on.  Either way a wake-up key says
 * what changed.
 */
#include <linux/eventfd.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/indirect_call_wrapper.h>
#include <linux/module.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <net/inet_common.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "compat.h"
#include "event.h"
#include "sharedsock.h"

#define SS_FD(name)	SHAREDSOCK_FD_##name
#define SS_EV_ALL	SHAREDSOCK_FD_ALL_EVENTS
/* The key of sock_def_readable(): data or a connection arrived. */
#define SS_DATA_WAKE	(EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND)
/* The key of sock_def_write_space() and sk_stream_write_space(): space. */
#define SS_SPACE_WAKE	(EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)

/* The sock callbacks a registration may wrap, in the order of ss_sk_hooks. */
enum ss_sk_cb {
	SS_SK_DATA_READY,
	SS_SK_WRITE_SPACE,
	SS_SK_STATE_CHANGE,
	SS_SK_ERROR_REPORT,
	SS_SK_CBS
};

/**
 * struct ss_ops - the wrapped proto_ops of one protocol
 * @ops:   *@orig with a few operations wrapped; sock->ops of every
 *         registered socket of the protocol points here
 * @orig:  the protocol's own proto_ops
 * @node:  on ss_ops_tables, under ss_reg_mutex
 * @sk_cb: the protocol's own sock callbacks (enum ss_sk_cb), learnt from
 *         the first registered socket of a kind that may be hooked, under
 *         ss_reg_mutex before its ops are published, and constant after;
 *         only sockets that have these are hooked
 *
 * Lifetime: created by the first registration of a socket of the protocol
 * and freed at module exit, never before: besides registered sockets,
 * sockets without a registration may point here and reach ss_release() --
 * one that accept() created with the listener's ops and then released
 * without calling ours (a failed allocation or security hook, possibly
 * after the listener is gone), one a kernel accept() gave them -- and no
 * count of them can be kept.  Every one of them holds this module, as
 * @ops.owner, so none is left at module exit.  Nothing but @sk_cb, learnt
 * once, changes after creation.  A few such tables exist: one per protocol
 * ever registered.
 */
struct ss_ops {
	struct proto_ops ops;		/* a writable copy, not const */
	const struct proto_ops *orig;
	struct list_head node;

	void (*sk_cb[SS_SK_CBS])(struct sock *sk);
};

/* Serialises registration changes, attach/detach and queue membership. */
static DEFINE_MUTEX(ss_reg_mutex);
static LIST_HEAD(ss_regs);
static u32 ss_regs_nr;		/* on ss_regs, under ss_reg_mutex */
static LIST_HEAD(ss_ops_tables);	/* under ss_reg_mutex */
static struct kmem_cache *ss_reg_cache;

static int ss_release(struct socket *sock);
static int ss_accept(struct socket *sock, struct socket *newsock,
		     struct proto_accept_arg *arg);
SS_DEFINE_ACCEPT_OP(ss_accept)

/* The table of a socket whose sock->ops are ours. */
static struct ss_ops *ss_ops_of(struct socket *sock)
{
	return container_of(READ_ONCE(sock->ops), struct ss_ops, ops);
}

static const struct proto_ops *ss_orig(struct socket *sock)
{
	return ss_ops_of(sock)->orig;
}

/* --- What holds on the socket (lockless reads of protocol state) --- */

static bool ss_is_tcp(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP;
}

static bool ss_is_udp(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_DGRAM &&
	       (sk->sk_protocol == IPPROTO_UDP ||
		sk->sk_protocol == IPPROTO_UDPLITE);
}

static bool ss_is_stream(const struct socket *sock)
{
	return sock->type == SOCK_STREAM || sock->type == SOCK_SEQPACKET;
}

static bool ss_listening(const struct sock *sk)
{
	return READ_ONCE(sk->sk_state) == TCP_LISTEN;
}

static bool ss_accept_pending(struct sock *sk)
{
	if (sk->sk_family == AF_INET || sk->sk_family == AF_INET6)
		return !reqsk_queue_empty(&inet_csk(sk)->icsk_accept_queue);
	return !skb_queue_empty_lockless(&sk->sk_receive_queue);
}

/*
 * What tcp_poll() calls readable, less the FIN and without SO_RCVLOWAT
 * (FD_READ means any data): a recv() would return data.  An urgent byte
 * not read inline is skipped by recv(), so at the head of the stream it
 * takes one more byte after it to count; data beyond an urgent mark counts
 * (tcp_inq() stops at the mark).
 */
static bool ss_tcp_readable(struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	int state = READ_ONCE(sk->sk_state);
	u32 copied = READ_ONCE(tp->copied_seq);
	int avail = READ_ONCE(tp->rcv_nxt) - copied;
	int target = 1;

	if ((1 << state) & (TCPF_SYN_SENT | TCPF_LISTEN))
		return false;
	/* A passive Fast Open child has data in SYN_RECV already. */
	if (state == TCP_SYN_RECV && !rcu_access_pointer(tp->fastopen_rsk))
		return false;
	if (avail > 0 && sock_flag(sk, SOCK_DONE))
		avail--;
	if (READ_ONCE(tp->urg_data) && READ_ONCE(tp->urg_seq) == copied &&
	    !sock_flag(sk, SOCK_URGINLINE))
		target++;
	return avail >= target;
}

/* Data (not merely an end of file) is waiting to be read. */
static bool ss_readable(struct sock *sk)
{
	if (ss_is_tcp(sk))
		return ss_tcp_readable(sk);
	if (ss_is_udp(sk) &&
	    !skb_queue_empty_lockless(&udp_sk(sk)->reader_queue))
		return true;
	return !skb_queue_empty_lockless(&sk->sk_receive_queue);
}

/* TCP urgent data is waiting and is not read inline: FD_OOB. */
static bool ss_urgent(struct sock *sk)
{
	return ss_is_tcp(sk) && !sock_flag(sk, SOCK_URGINLINE) &&
	       (READ_ONCE(tcp_sk(sk)->urg_data) & TCP_URG_VALID);
}

static bool ss_established(const struct socket *sock, const struct sock *sk)
{
	int state = READ_ONCE(sk->sk_state);

	if (!ss_is_stream(sock))
		return true;
	/* A passive Fast Open child may send before the handshake ends. */
	if (state == TCP_SYN_RECV && ss_is_tcp(sk))
		return rcu_access_pointer(tcp_sk(sk)->fastopen_rsk);
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT;
}

/*
 * At registration: the stream socket's connection exists, or existed and
 * has ended already (a reset, or FINs both ways), so that its FD_CLOSE
 * is recorded at once.  Accepted and blocking-connected sockets are
 * SS_CONNECTED for good; TCP reaches the FIN states only from a connection
 * (a full socket leaves TIME_WAIT to its timewait sock and is closed).
 */
static bool ss_was_connected(const struct socket *sock, const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	if (ss_established(sock, sk) || READ_ONCE(sock->state) == SS_CONNECTED)
		return true;
	if (!ss_is_tcp(sk))
		return false;
	if ((1 << READ_ONCE(sk->sk_state)) &
	    (TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 | TCPF_LAST_ACK | TCPF_CLOSING))
		return true;
	/*
	 * Closed: a non-blocking connect leaves the socket SS_CONNECTING for
	 * good, so ask TCP whether its SYN was ever acknowledged (a refused
	 * or failed attempt was not; a disconnect clears the count).
	 */
	return READ_ONCE(sk->sk_state) == TCP_CLOSE &&
	       (READ_ONCE(tp->bytes_acked) || READ_ONCE(tp->bytes_received));
}

/* The peer shut down its sending side, closed, or reset the connection. */
static bool ss_peer_closed(const struct ss_reg *reg, struct sock *sk)
{
	int state = READ_ONCE(sk->sk_state);

	if (!ss_is_stream(reg->sock) || !reg->connected)
		return false;
	if (ss_is_tcp(sk))
		return (1 << state) & (TCPF_CLOSE_WAIT | TCPF_LAST_ACK |
				       TCPF_CLOSING | TCPF_TIME_WAIT |
				       TCPF_CLOSE);
	return (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) &&
	       !(reg->local_shut & RCV_SHUTDOWN);
}

/* --- Recording and delivery (under reg->lock) --- */

static void ss_reg_signal_work(struct work_struct *work)
{
	struct ss_reg *reg = container_of(work, struct ss_reg, signal_work);

	spin_lock_irq(&reg->lock);
	if (reg->sink.kind == SS_SINK_EVENTFD)
		eventfd_signal(reg->sink.evt);
	spin_unlock_irq(&reg->lock);
}

/* Deliver what is pending and selected; @fresh: newly recorded events. */
static void ss_reg_deliver(struct ss_reg *reg, u32 fresh)
{
	u32 ready = reg->pending & reg->mask;

	if (!ready)
		return;
	switch (reg->sink.kind) {
	case SS_SINK_EVENTFD:
		if (!(fresh & reg->mask))
			break;
		if (eventfd_signal_allowed())
			eventfd_signal(reg->sink.evt);
		else
			schedule_work(&reg->signal_work);
		break;
	case SS_SINK_QUEUE:
		if (reg->unresolved)
			break;
		ss_queue_post(reg->sink.queue, reg, ready);
		reg->pending &= ~ready;
		break;
	}
}

/*
 * Record @events that are armed, with their errors from @errs (NULL: none),
 * and deliver.  An event recorded is disarmed until its re-enabling call.
 */
static void ss_reg_record(struct ss_reg *reg, u32 events, const int *errs)
{
	unsigned long bit, bits;
	u32 fresh;

	lockdep_assert_held(&reg->lock);
	events &= reg->armed;
	if (!events)
		return;
	reg->armed &= ~events;
	/* An event recorded again before it was fetched signals nothing new. */
	fresh = events & ~reg->pending;
	reg->pending |= events;
	ss_stat_add(SS_STAT_EVENTS, hweight32(events));
	bits = events;
	for_each_set_bit(bit, &bits, SHAREDSOCK_FD_MAX_EVENTS) {
		int slot = ss_err_slot(bit);

		if (slot >= 0)
			reg->errors[slot] = errs ? errs[bit] : 0;
	}
	ss_reg_deliver(reg, fresh);
}

/*
 * FD_CLOSE once the peer closed and the data before it has been read.  A
 * reset's error is kept, since recv() consumes sk_err on the way.
 */
static u32 ss_reg_close_event(struct ss_reg *reg, struct sock *sk, int *errs)
{
	int err = READ_ONCE(sk->sk_err);

	if (!ss_peer_closed(reg, sk))
		return 0;
	if (err && !reg->close_err)
		reg->close_err = err;
	if (ss_readable(sk))
		return 0;
	errs[SHAREDSOCK_FD_CLOSE_BIT] = reg->close_err;
	return SS_FD(CLOSE);
}

/* A connect() in progress finished: FD_CONNECT (and FD_WRITE on success). */
static u32 ss_reg_connect_event(struct ss_reg *reg, struct sock *sk, int *errs)
{
	int err;

	if (!reg->connecting)
		return 0;
	if (ss_established(reg->sock, sk)) {
		reg->connecting = false;
		reg->connected = true;
		return SS_FD(CONNECT) | SS_FD(WRITE);
	}
	err = READ_ONCE(sk->sk_err);
	if (READ_ONCE(sk->sk_state) != TCP_CLOSE || !err)
		return 0;
	reg->connecting = false;
	errs[SHAREDSOCK_FD_CONNECT_BIT] = err;
	return SS_FD(CONNECT);
}

/*
 * A wake-up with key @keyed while nothing it could raise is armed: data or
 * space, when no connect() is in progress.  Read without the lock: whoever
 * re-arms looks at the level afterwards, past a full barrier that pairs
 * with the one the waker passed between changing the level and getting
 * here (skwq_has_sleeper()'s, or ss_sk_event()'s).
 */
static bool ss_reg_event_is_noop(const struct ss_reg *reg, __poll_t keyed)
{
	u32 could = 0;

	if (!keyed || (keyed & ~(SS_DATA_WAKE | SS_SPACE_WAKE)))
		return false;
	if (keyed & SS_DATA_WAKE)
		could |= SS_FD(READ) | SS_FD(OOB) | SS_FD(ACCEPT);
	if (keyed & SS_SPACE_WAKE)
		could |= SS_FD(WRITE);
	return !READ_ONCE(reg->connecting) && !(READ_ONCE(reg->armed) & could);
}

/*
 * A wake-up of @reg's socket @sk, whose key @keyed names the condition that
 * changed (0: a state change).  Softirq or process context; no allocation,
 * no sleeping lock.  @sk is passed rather than read from reg->sock, which
 * a sock callback racing with the last close may find released.
 */
static void ss_reg_catch(struct ss_reg *reg, struct sock *sk, __poll_t keyed)
{
	__poll_t changed = keyed ?: ~(__poll_t)0;
	int errs[SHAREDSOCK_FD_MAX_EVENTS] = {};
	unsigned long flags;
	u32 events = 0;

	spin_lock_irqsave(&reg->lock, flags);
	if (ss_listening(sk)) {
		if ((changed & EPOLLIN) && ss_accept_pending(sk))
			events |= SS_FD(ACCEPT);
	} else {
		events |= ss_reg_connect_event(reg, sk, errs);
		if ((changed & EPOLLIN) && ss_readable(sk))
			events |= SS_FD(READ);
		if ((changed & (EPOLLIN | EPOLLPRI)) && ss_urgent(sk))
			events |= SS_FD(OOB);
		/* Only a write-space wake-up means space: a state change
		 * (FIN, reset) does not.
		 */
		if ((keyed & EPOLLOUT) && reg->connected)
			events |= SS_FD(WRITE);
		events |= ss_reg_close_event(reg, sk, errs);
	}
	ss_reg_record(reg, events, errs);
	spin_unlock_irqrestore(&reg->lock, flags);
}

static void ss_reg_event(struct ss_reg *reg, struct sock *sk, __poll_t keyed)
{
	if (!ss_reg_event_is_noop(reg, keyed))
		ss_reg_catch(reg, sk, keyed);
}

/* Wake-up callback on the socket's wait queue, under the queue's lock. */
static int ss_reg_wake(wait_queue_entry_t *wait, unsigned int mode, int sync,
		       void *key)
{
	struct ss_reg *reg = container_of(wait, struct ss_reg, wait);

	ss_reg_event(reg, reg->sock->sk, key_to_poll(key));
	return 0;
}

static void ss_reg_arm(struct ss_reg *reg, u32 events)
{
	unsigned long flags;

	if (!events)
		return;
	spin_lock_irqsave(&reg->lock, flags);
	reg->armed |= events;
	spin_unlock_irqrestore(&reg->lock, flags);
}

/*
 * Arm @rearm, then record the conditions in @which that hold now (process
 * context): at registration, and right after a re-enabling call, so that an
 * event whose condition persists is raised again at once.
 */
static void ss_reg_check(struct ss_reg *reg, u32 which, u32 rearm)
{
	struct socket *sock = reg->sock;
	struct sock *sk = sock->sk;
	int errs[SHAREDSOCK_FD_MAX_EVENTS] = {};
	bool writable = false;
	unsigned long flags;
	u32 events = 0;

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
		writable = ss_orig(sock)->poll(sock->file, sock, NULL) & EPOLLOUT;
	}

	spin_lock_irqsave(&reg->lock, flags);
	reg->armed |= rearm;
	/*
	 * Pairs with the barrier a data wake-up passes between queueing the
	 * data and the lockless look at armed in ss_reg_wake() (the one in
	 * skwq_has_sleeper()): it sees the event armed, or we see the data.
	 */
	smp_mb();
	if (ss_listening(sk)) {
		if (ss_accept_pending(sk))
			events |= SS_FD(ACCEPT);
	} else {
		if (ss_readable(sk))
			events |= SS_FD(READ);
		if (ss_urgent(sk))
			events |= SS_FD(OOB);
		/* Not on a connection that has ended before it. */
		if (writable && reg->connected && ss_established(sock, sk))
			events |= SS_FD(WRITE);
		events |= ss_reg_close_event(reg, sk, errs);
	}
	ss_reg_record(reg, events & which, errs);
	spin_unlock_irqrestore(&reg->lock, flags);
}

/* A re-enabling call was made: arm @events, then look at the level. */
static void ss_reg_rearm(struct ss_reg *reg, u32 events)
{
	ss_reg_check(reg, events | SS_FD(CLOSE), events);
}

/* --- Wrapped socket operations --- */

/*
 * The registration of a socket whose sock->ops are ours, or NULL (a socket
 * accept() created, see struct ss_ops).  It is kept in the socket inode's
 * i_private, which neither sockfs nor the network stack use: a sockfs
 * inode is set up by sock_alloc_inode() and inode_init_always(), which
 * clears i_private, and nothing under net/ touches it.  ss_reg_attach()
 * refuses a socket on which someone else has set it.
 */
static struct ss_reg *ss_reg_of(struct socket *sock)
{
	return READ_ONCE(SOCK_INODE(sock)->i_private);
}

/* The registration of @sock, or NULL; the caller holds a file reference. */
static struct ss_reg *ss_reg_lookup(struct socket *sock)
{
	/* Pairs with ss_reg_publish(): our ops imply i_private is set. */
	if (smp_load_acquire(&sock->ops)->release != ss_release)
		return NULL;
	return ss_reg_of(sock);
}

/* --- Sock callbacks --- */

/*
 * From a sock callback, in an RCU read-side section: the table and
 * registration of the socket that @sk belongs to.  Both the socket (a
 * sockfs inode) and the registration are freed after a grace period.
 * Neither is found only while accept() sets a new socket up and during a
 * socket's last close, when nobody can be waiting on it.
 */
static struct ss_reg *ss_sk_reg(struct sock *sk, struct ss_ops **table)
{
	struct socket *sock = READ_ONCE(sk->sk_socket);
	const struct proto_ops *ops;

	*table = NULL;
	if (!sock)
		return NULL;
	/* Pairs with ss_reg_publish(): our ops imply i_private is set. */
	ops = smp_load_acquire(&sock->ops);
	if (!ops || ops->release != ss_release)
		return NULL;
	*table = container_of(ops, struct ss_ops, ops);
	return ss_reg_of(sock);
}

/* The wake-up key each callback stands for; 0: a state change. */
static const __poll_t ss_sk_keys[SS_SK_CBS] = {
	[SS_SK_DATA_READY] = SS_DATA_WAKE,
	[SS_SK_WRITE_SPACE] = SS_SPACE_WAKE,
	[SS_SK_STATE_CHANGE] = 0,
	[SS_SK_ERROR_REPORT] = EPOLLERR,
};

/*
 * Room to send, as the protocol's write-space callback judges it before it
 * wakes anyone (sk_stream_write_space(), unix_write_space(),
 * sock_def_write_space()): it is called on every freed send buffer (UDP,
 * AF_UNIX), or whenever some space came back (TCP).
 */
static bool ss_sk_writable(struct sock *sk)
{
	int wmem = refcount_read(&sk->sk_wmem_alloc);

	if (ss_is_tcp(sk))
		return __sk_stream_is_writeable(sk, 1);
	if (sk->sk_family == AF_UNIX)
		return (wmem << 2) <= READ_ONCE(sk->sk_sndbuf);
	return (wmem << 1) <= READ_ONCE(sk->sk_sndbuf);
}

/* Callback @which of a hooked sock: the protocol's own, then ours. */
static void ss_sk_event(struct sock *sk, enum ss_sk_cb which)
{
	struct ss_ops *table;
	struct ss_reg *reg;

	/*
	 * The sched flavour: grace periods wait for it since v4.20, and it
	 * costs no call on a preemptible-RCU kernel, once per packet.
	 */
	rcu_read_lock_sched();
	reg = ss_sk_reg(sk, &table);
	if (table)
		table->sk_cb[which](sk);
	if (reg && (which != SS_SK_WRITE_SPACE || ss_sk_writable(sk))) {
		/* What the wait-queue path gets from skwq_has_sleeper(). */
		smp_mb();
		ss_reg_event(reg, sk, ss_sk_keys[which]);
	}
	rcu_read_unlock_sched();
}

static void ss_sk_data_ready(struct sock *sk)
{
	ss_sk_event(sk, SS_SK_DATA_READY);
}

static void ss_sk_write_space(struct sock *sk)
{
	ss_sk_event(sk, SS_SK_WRITE_SPACE);
}

static void ss_sk_state_change(struct sock *sk)
{
	ss_sk_event(sk, SS_SK_STATE_CHANGE);
}

static void ss_sk_error_report(struct sock *sk)
{
	ss_sk_event(sk, SS_SK_ERROR_REPORT);
}

static void (*const ss_sk_hooks[SS_SK_CBS])(struct sock *sk) = {
	[SS_SK_DATA_READY] = ss_sk_data_ready,
	[SS_SK_WRITE_SPACE] = ss_sk_write_space,
	[SS_SK_STATE_CHANGE] = ss_sk_state_change,
	[SS_SK_ERROR_REPORT] = ss_sk_error_report,
};

/* The callbacks of @sk, in enum ss_sk_cb order; under sk_callback_lock. */
static void ss_sk_get_cbs(const struct sock *sk,
			  void (*cb[SS_SK_CBS])(struct sock *sk))
{
	cb[SS_SK_DATA_READY] = sk->sk_data_ready;
	cb[SS_SK_WRITE_SPACE] = sk->sk_write_space;
	cb[SS_SK_STATE_CHANGE] = sk->sk_state_change;
	cb[SS_SK_ERROR_REPORT] = sk->sk_error_report;
}

static void ss_sk_set_cbs(struct sock *sk,
			  void (*const cb[SS_SK_CBS])(struct sock *sk))
{
	WRITE_ONCE(sk->sk_data_ready, cb[SS_SK_DATA_READY]);
	WRITE_ONCE(sk->sk_write_space, cb[SS_SK_WRITE_SPACE]);
	WRITE_ONCE(sk->sk_state_change, cb[SS_SK_STATE_CHANGE]);
	WRITE_ONCE(sk->sk_error_report, cb[SS_SK_ERROR_REPORT]);
}

/*
 * Sockets every wake-up of which goes through the four callbacks.  Not
 * AF_UNIX datagram sockets: a writer waiting for room in its peer's queue
 * is woken through the peer's wait queue, straight into its own.
 */
static bool ss_sk_hookable(const struct socket *sock)
{
	struct sock *sk = sock->sk;

	return ss_is_tcp(sk) || ss_is_udp(sk) ||
	       (sk->sk_family == AF_UNIX && sock->type == SOCK_STREAM);
}

/*
 * Not a listener, nor a stream socket that may still become one: TCP
 * children are clones of their listener, callbacks and sk_user_data
 * included, and accept() may hand them out through the protocol's own ops
 * (one that began before the registration), with ours and no way back.
 * listen() needs SS_UNCONNECTED and runs under the socket lock, which the
 * caller holds.
 */
static bool ss_sk_hookable_now(const struct socket *sock)
{
	return sock->type != SOCK_STREAM ||
	       READ_ONCE(sock->state) != SS_UNCONNECTED;
}

/*
 * While a sock's callbacks are ours, its sk_user_data points at
 * ss_sk_hooks; a clone of a hooked listener copies both.  The kernel users
 * that stack on sock callbacks (BPF sockmap, KCM, L2TP, ...) take only a
 * sock whose sk_user_data is free, so none of them can save ours, to put
 * them back after the registration or the module is gone.
 */
static void *ss_sk_owner(struct sock *sk)
{
	return __locked_read_sk_user_data_with_flags(sk, 0);
}

/*
 * Learn the protocol's own callbacks from @sock, the first of its table
 * that could be hooked, before its ops are published: a callback finds
 * @table through them (an acquire), then reads these.
 */
static void ss_sk_learn(struct socket *sock, struct ss_ops *table)
{
	struct sock *sk = sock->sk;

	lockdep_assert_held(&ss_reg_mutex);
	if (table->sk_cb[0] || !ss_sk_hookable(sock))
		return;
	write_lock_bh(&sk->sk_callback_lock);
	if (!ss_sk_owner(sk) && sk->sk_data_ready != ss_sk_data_ready)
		ss_sk_get_cbs(sk, table->sk_cb);
	write_unlock_bh(&sk->sk_callback_lock);
}

/*
 * Wrap @sock's callbacks if it may be hooked now, they are its protocol's
 * own and no other kernel user holds the sock; or keep them if they are
 * ours already (a TCP socket cloned from a listener hooked before it
 * listened).  Returns whether they are ours.
 */
static bool ss_sk_hook(struct socket *sock, struct ss_ops *table)
{
	void (*cb[SS_SK_CBS])(struct sock *sk);
	struct sock *sk = sock->sk;
	bool hooked = false;
	void *owner;

	lockdep_assert_held(&ss_reg_mutex);
	if (!ss_sk_hookable(sock) || !table->sk_cb[0])
		return false;
	lock_sock(sk);
	write_lock_bh(&sk->sk_callback_lock);
	ss_sk_get_cbs(sk, cb);
	owner = ss_sk_owner(sk);
	if (owner == ss_sk_hooks) {
		hooked = !memcmp(cb, ss_sk_hooks, sizeof(cb));
	} else if (!owner && ss_sk_hookable_now(sock) &&
		   !memcmp(cb, table->sk_cb, sizeof(cb))) {
		ss_sk_set_cbs(sk, ss_sk_hooks);
		rcu_assign_sk_user_data(sk, ss_sk_hooks);
		hooked = true;
	}
	write_unlock_bh(&sk->sk_callback_lock);
	release_sock(sk);
	return hooked;
}

/*
 * Give @sk back its protocol's callbacks where they are still ours; the
 * mark goes only if it is ours (a kernel user that does not look at it
 * may have replaced it, and put our callbacks back since).
 */
static void ss_sk_unhook(struct sock *sk, const struct ss_ops *table)
{
	void (*cb[SS_SK_CBS])(struct sock *sk);
	int i;

	write_lock_bh(&sk->sk_callback_lock);
	ss_sk_get_cbs(sk, cb);
	for (i = 0; i < SS_SK_CBS; i++)
		if (cb[i] == ss_sk_hooks[i] && table->sk_cb[i])
			cb[i] = table->sk_cb[i];
	ss_sk_set_cbs(sk, cb);
	if (ss_sk_owner(sk) == ss_sk_hooks)
		rcu_assign_sk_user_data(sk, NULL);
	write_unlock_bh(&sk->sk_callback_lock);
}

/*
 * Move @reg's readiness from the wait entry to the sock callbacks, if they
 * can be hooked now.  The callbacks start before the entry goes: a wake-up
 * in between is recorded twice at worst, which records nothing new.
 */
static void ss_reg_try_hook(struct ss_reg *reg, struct ss_ops *table)
{
	lockdep_assert_held(&ss_reg_mutex);
	if (reg->hooked || !ss_sk_hook(reg->sock, table))
		return;
	remove_wait_queue(&reg->sock->wq.wait, &reg->wait);
	reg->hooked = true;
}

/* And back, the entry first. */
static void ss_reg_unhook(struct ss_reg *reg, struct ss_ops *table)
{
	lockdep_assert_held(&ss_reg_mutex);
	if (!reg->hooked)
		return;
	add_wait_queue(&reg->sock->wq.wait, &reg->wait);
	ss_sk_unhook(reg->sock->sk, table);
	reg->hooked = false;
}

/*
 * After a recv(), re-enabling FD_READ changes nothing, and needs no lock,
 * when data remains and FD_READ is recorded, not fetched yet, and so not
 * armed: ss_reg_rearm() would record it again at once, into the same
 * pending bit, which signals nothing (it is not fresh) and posts nothing
 * (an event stays pending in a queue's registration only while it is not
 * selected or the descriptor is unresolved).  With sk_err clear, its look
 * at FD_CLOSE changes nothing either.
 *
 * No FD_READ is lost: @pending is read after this recv() began (its path
 * takes the socket's or the queue's lock, an acquire), so the FD_READ
 * seen pending is handed to the application -- fetched by
 * SHAREDSOCK_IOC_ENUM, the eventfd staying signalled until then, or
 * posted -- after that point, and the application reads again: that
 * recv() re-arms.  Another reader may drain the data meanwhile: its own
 * recv() then re-arms.
 */
static bool ss_reg_read_rearm_is_noop(struct ss_reg *reg)
{
	struct sock *sk = reg->sock->sk;

	if (READ_ONCE(sk->sk_err) || ss_listening(sk) || !ss_readable(sk))
		return false;
	if (!(READ_ONCE(reg->pending) & ~READ_ONCE(reg->armed) & SS_FD(READ)))
		return false;
	/* As ss_reg_record() would count it. */
	ss_stat_add(SS_STAT_EVENTS, 1);
	return true;
}

static int ss_recvmsg(struct socket *sock, struct msghdr *m, size_t len,
		      int flags)
{
	struct ss_reg *reg = ss_reg_of(sock);
	/* A direct call for IPv4, as sock_recvmsg() makes without us. */
	int ret = INDIRECT_CALL_1(ss_orig(sock)->recvmsg, inet_recvmsg,
				  sock, m, len, flags);

	if (!reg)
		return ret;
	if (flags & MSG_OOB)
		ss_reg_rearm(reg, SS_FD(OOB));
	else if (!ss_reg_read_rearm_is_noop(reg))
		ss_reg_rearm(reg, SS_FD(READ));
	return ret;
}

static void ss_reg_send_done(struct ss_reg *reg, long ret)
{
	/* Only a send that would block re-enables FD_WRITE. */
	if (reg && ret == -EAGAIN)
		ss_reg_rearm(reg, SS_FD(WRITE));
}

static int ss_sendmsg(struct socket *sock, struct msghdr *m, size_t len)
{
	struct ss_reg *reg = ss_reg_of(sock);
	int ret = INDIRECT_CALL_1(ss_orig(sock)->sendmsg, inet_sendmsg,
				  sock, m, len);

	ss_reg_send_done(reg, ret);
	return ret;
}

#ifdef SHAREDSOCK_HAVE_SENDPAGE
static ssize_t ss_sendpage(struct socket *sock, struct page *page, int offset,
			   size_t size, int flags)
{
	struct ss_reg *reg = ss_reg_of(sock);
	ssize_t ret = ss_orig(sock)->sendpage(sock, page, offset, size, flags);

	ss_reg_send_done(reg, ret);
	return ret;
}
#endif

/* A socket that connects, or tried to, may now be hooked. */
static void ss_reg_connected(struct socket *sock, struct ss_reg *reg)
{
	if (!reg || READ_ONCE(reg->hooked) || !ss_sk_hookable(sock))
		return;
	mutex_lock(&ss_reg_mutex);
	ss_reg_try_hook(reg, ss_ops_of(sock));
	mutex_unlock(&ss_reg_mutex);
}

/*
 * A connect() that was tried and failed at once (an AF_UNIX peer that does
 * not listen, no route): on Windows, where the socket is non-blocking, that
 * is an FD_CONNECT with the error.  Not a call refused for its arguments.
 */
static bool ss_connect_failed(int ret)
{
	switch (ret) {
	case -ECONNREFUSED:
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
	case -ECONNRESET:
		return true;
	default:
		return false;
	}
}

/*
 * Whether this connect() starts a connection of a stream socket: not one
 * that asks how an attempt in progress went (EALREADY, or its outcome once
 * more: that outcome has been recorded as it came), nor a disconnect.
 */
static bool ss_connect_starts(struct socket *sock,
			      struct sockaddr_unsized *addr, int len)
{
	return ss_is_stream(sock) && READ_ONCE(sock->state) == SS_UNCONNECTED &&
	       len >= (int)sizeof(addr->sa_family) &&
	       addr->sa_family != AF_UNSPEC;
}

/* After connect() returned @ret, the attempt is still under way. */
static bool ss_connect_goes_on(struct socket *sock, int ret)
{
	if (ret == -EINPROGRESS || ret == -EALREADY)
		return true;
	/* A signal ends the wait of a blocking TCP connect, not the attempt. */
	return (ret == -EINTR || ret == -ERESTARTSYS) && ss_is_tcp(sock->sk);
}

static int ss_connect(struct socket *sock, struct sockaddr_unsized *addr,
		      int len, int flags)
{
	const struct proto_ops *orig = ss_orig(sock);
	struct ss_reg *reg = ss_reg_of(sock);
	unsigned long irqflags;
	int ret;

	if (!reg || !ss_connect_starts(sock, addr, len)) {
		ret = orig->connect(sock, addr, len, flags);
		ss_reg_connected(sock, reg);
		return ret;
	}

	spin_lock_irqsave(&reg->lock, irqflags);
	reg->connecting = true;
	reg->armed |= SS_FD(CONNECT);
	spin_unlock_irqrestore(&reg->lock, irqflags);

	ret = orig->connect(sock, addr, len, flags);

	spin_lock_irqsave(&reg->lock, irqflags);
	if (reg->connecting && !ss_connect_goes_on(sock, ret)) {
		reg->connecting = false;
		if (!ret) {
			reg->connected = true;
			ss_reg_record(reg, SS_FD(CONNECT) | SS_FD(WRITE), NULL);
		} else if (ss_connect_failed(ret)) {
			int errs[SHAREDSOCK_FD_MAX_EVENTS] = {};

			errs[SHAREDSOCK_FD_CONNECT_BIT] = -ret;
			ss_reg_record(reg, SS_FD(CONNECT), errs);
		}
	}
	spin_unlock_irqrestore(&reg->lock, irqflags);
	ss_reg_connected(sock, reg);
	return ret;
}

/* A stream socket that listens gets a wait entry: see ss_sk_hookable_now(). */
static int ss_listen(struct socket *sock, int backlog)
{
	struct ss_reg *reg = ss_reg_of(sock);

	if (reg && READ_ONCE(reg->hooked)) {
		mutex_lock(&ss_reg_mutex);
		ss_reg_unhook(reg, ss_ops_of(sock));
		mutex_unlock(&ss_reg_mutex);
	}
	return ss_orig(sock)->listen(sock, backlog);
}

static int ss_shutdown(struct socket *sock, int how)
{
	struct ss_reg *reg = ss_reg_of(sock);
	unsigned long flags;

	if (reg && how >= SHUT_RD && how <= SHUT_RDWR) {
		spin_lock_irqsave(&reg->lock, flags);
		reg->local_shut |= (how + 1) & SHUTDOWN_MASK;
		spin_unlock_irqrestore(&reg->lock, flags);
	}
	return ss_orig(sock)->shutdown(sock, how);
}

static int ss_setsockopt(struct socket *sock, int level, int optname,
			 sockptr_t optval, unsigned int optlen)
{
	/* Both would replace sock->ops, and with it the registration. */
	if ((level == SOL_TCP && optname == TCP_ULP) ||
	    (level == SOL_IPV6 && optname == IPV6_ADDRFORM))
		return -EBUSY;
	return ss_orig(sock)->setsockopt(sock, level, optname, optval, optlen);
}

/* --- Sinks --- */

static int ss_sink_get(struct ss_sink *sink, const struct sharedsock_select *args,
		       int sockfd)
{
	memset(sink, 0, sizeof(*sink));
	if (!args->events)
		return 0;
	sink->msg = args->msg;
	sink->sockfd = sockfd;
	switch (args->sink) {
	case SHAREDSOCK_SINK_EVENTFD:
		sink->evt_file = fget(args->sink_fd);
		if (!sink->evt_file)
			return -EINVAL;
		sink->evt = eventfd_ctx_fileget(sink->evt_file);
		if (IS_ERR(sink->evt)) {
			fput(sink->evt_file);
			return -EINVAL;
		}
		sink->kind = SS_SINK_EVENTFD;
		return 0;
	case SHAREDSOCK_SINK_QUEUE:
		sink->queue = ss_queue_from_fd(args->sink_fd);
		if (IS_ERR(sink->queue))
			return PTR_ERR(sink->queue);
		sink->kind = SS_SINK_QUEUE;
		return 0;
	default:
		return -EINVAL;
	}
}

/* A second reference to @from, for an accepted socket. */
static void ss_sink_dup(struct ss_sink *to, const struct ss_sink *from)
{
	*to = *from;
	switch (to->kind) {
	case SS_SINK_EVENTFD:
		get_file(to->evt_file);
		to->evt = eventfd_ctx_fileget(to->evt_file);
		break;
	case SS_SINK_QUEUE:
		ss_queue_get(to->queue);
		break;
	}
}

static void ss_sink_put(struct ss_sink *sink)
{
	switch (sink->kind) {
	case SS_SINK_EVENTFD:
		eventfd_ctx_put(sink->evt);
		fput(sink->evt_file);
		break;
	case SS_SINK_QUEUE:
		ss_queue_put(sink->queue);
		break;
	}
	sink->kind = SS_SINK_NONE;
}

/*
 * Messages taken back from a queue were never read: their events, errors
 * included, are recorded again for whatever the registration reports to
 * next (Windows leaves posted messages in the window's queue; an FD_CLOSE
 * or FD_CONNECT lost here would never come again).  Under reg->lock.
 */
static void ss_reg_unpost(struct ss_reg *reg, u32 queued)
{
	unsigned long bit, bits = queued;

	lockdep_assert_held(&reg->lock);
	for_each_set_bit(bit, &bits, SHAREDSOCK_FD_MAX_EVENTS) {
		int slot = ss_err_slot(bit);

		if (slot >= 0)
			reg->errors[slot] = reg->queued_err[slot];
	}
	reg->pending |= queued;
}

/*
 * Install @sink (and @mask) on @reg; the previous sink is returned in
 * @sink for the caller to put outside the locks.  Under ss_reg_mutex.
 */
static void ss_reg_swap_sink(struct ss_reg *reg, struct ss_sink *sink, u32 mask)
{
	struct ss_sink old;
	unsigned long flags;

	lockdep_assert_held(&ss_reg_mutex);
	spin_lock_irqsave(&reg->lock, flags);
	old = reg->sink;
	if (old.kind == SS_SINK_QUEUE)
		ss_reg_unpost(reg, ss_queue_unlink(old.queue, reg));
	reg->sink = *sink;
	reg->mask = mask;
	spin_unlock_irqrestore(&reg->lock, flags);

	if (old.kind == SS_SINK_QUEUE)
		list_del_init(&reg->queue_link);
	if (reg->sink.kind == SS_SINK_QUEUE)
		list_add_tail(&reg->queue_link, ss_queue_regs(reg->sink.queue));
	*sink = old;
}

/* --- Shared proto_ops tables --- */

static void ss_ops_wrap(struct proto_ops *ops, const struct proto_ops *orig)
{
	/* memcpy(), padding included, for ss_ops_get() to compare. */
	memcpy(ops, orig, sizeof(*ops));
	ops->owner = THIS_MODULE;
	ops->release = ss_release;
	ops->recvmsg = ss_recvmsg;
	ops->sendmsg = ss_sendmsg;
#ifdef SHAREDSOCK_HAVE_SENDPAGE
	if (orig->sendpage)
		ops->sendpage = ss_sendpage;
#endif
	/*
	 * An operation the protocol lacks stays NULL, for the socket layer
	 * to refuse (AF_UNIX has no setsockopt): a wrapper would call NULL.
	 */
	if (orig->connect)
		ops->connect = ss_connect;
	if (orig->listen)
		ops->listen = ss_listen;
	if (orig->shutdown)
		ops->shutdown = ss_shutdown;
	if (orig->setsockopt)
		ops->setsockopt = ss_setsockopt;
	if (orig->accept)
		ops->accept = SS_ACCEPT_OP(ss_accept);
}

/*
 * The table wrapping @orig, created on first use.  A table is looked up by
 * its contents, not only by @orig: after a protocol module is unloaded
 * another one may have its proto_ops at the same address.
 */
static struct ss_ops *ss_ops_get(const struct proto_ops *orig)
{
	struct ss_ops *table, *fresh;

	lockdep_assert_held(&ss_reg_mutex);
	/* Not charged to a cgroup: the table is shared. */
	fresh = kmalloc(sizeof(*fresh), GFP_KERNEL);
	if (!fresh)
		return NULL;
	ss_ops_wrap(&fresh->ops, orig);
	fresh->orig = orig;
	list_for_each_entry(table, &ss_ops_tables, node) {
		if (table->orig == orig &&
		    !memcmp(&table->ops, &fresh->ops, sizeof(fresh->ops))) {
			kfree(fresh);
			return table;
		}
	}
	list_add(&fresh->node, &ss_ops_tables);
	return fresh;
}

static void ss_ops_free_all(void)
{
	struct ss_ops *table, *next;

	list_for_each_entry_safe(table, next, &ss_ops_tables, node) {
		list_del(&table->node);
		kfree(table);
	}
}

/*
 * accept() gave @newsock the listener's ops (and took a reference on their
 * owner, this module), and its sock may have cloned the listener's hooked
 * callbacks, but it gets no registration: give it its protocol's.
 */
static void ss_ops_disown(struct socket *newsock, struct ss_ops *table)
{
	if (newsock->sk)
		ss_sk_unhook(newsock->sk, table);
	if (READ_ONCE(newsock->ops) != &table->ops)
		return;
	__module_get(table->orig->owner);
	WRITE_ONCE(newsock->ops, table->orig);
	module_put(THIS_MODULE);
}

/* --- Attach, inherit, detach --- */

static void ss_set_nonblock(struct file *file)
{
	spin_lock(&file->f_lock);
	file->f_flags |= O_NONBLOCK;
	spin_unlock(&file->f_lock);
}

static void ss_reg_init(struct ss_reg *reg, struct socket *sock)
{
	reg->sock = sock;
	spin_lock_init(&reg->lock);
	INIT_LIST_HEAD(&reg->queue_link);
	INIT_LIST_HEAD(&reg->ready_link);
	INIT_WORK(&reg->signal_work, ss_reg_signal_work);
	init_waitqueue_func_entry(&reg->wait, ss_reg_wake);
	reg->armed = SS_EV_ALL;
	reg->sink.sockfd = -1;
}

/* Point @reg's socket at it and at @table: from here on it reports to it. */
static void ss_reg_publish(struct ss_reg *reg, struct ss_ops *table)
{
	struct socket *sock = reg->sock;

	lockdep_assert_held(&ss_reg_mutex);
	list_add_tail(&reg->node, &ss_regs);
	ss_regs_nr++;
	ss_stat_add(SS_STAT_REGS_CREATED, 1);
	ss_sk_learn(sock, table);
	add_wait_queue(&sock->wq.wait, &reg->wait);
	/* Whoever reads i_private sees an initialised @reg... */
	smp_store_release(&SOCK_INODE(sock)->i_private, reg);
	/* ...and whoever sees our ops sees i_private (ss_reg_lookup()). */
	smp_store_release(&sock->ops, &table->ops);
	/* After the ops, through which a hooked callback finds the table. */
	ss_reg_try_hook(reg, table);
}

/*
 * The socket kinds the event layer serves: TCP and UDP over IPv4 and IPv6,
 * AF_UNIX stream, datagram and seqpacket.  Its readiness and re-enabling
 * rules read those protocols' state; on any other kind (MPTCP, SCTP, raw
 * and ping, packet, netlink, vsock, ...) they would be wrong or unsafe, so
 * registration refuses it as a whole.
 */
static bool ss_sk_served(const struct socket *sock, const struct sock *sk)
{
	if (sk->sk_family == AF_UNIX)
		return sock->type == SOCK_STREAM || sock->type == SOCK_DGRAM ||
		       sock->type == SOCK_SEQPACKET;
	return ss_is_tcp(sk) || ss_is_udp(sk);
}

static struct ss_reg *ss_reg_attach(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct ss_ops *table;
	struct ss_reg *reg;

	lockdep_assert_held(&ss_reg_mutex);
	if (!sk)
		return ERR_PTR(-EINVAL);
	if (!ss_sk_served(sock, sk))
		return ERR_PTR(-EOPNOTSUPP);
	/* A ULP (kTLS, ...) owns sock->ops already. */
	if (ss_is_tcp(sk) && inet_csk(sk)->icsk_ulp_ops)
		return ERR_PTR(-EOPNOTSUPP);
	/* Someone else's i_private (see ss_reg_of()), or our ops without a
	 * registration (a kernel accept()'s socket): not ours to take.
	 */
	if (SOCK_INODE(sock)->i_private || sock->ops->release == ss_release)
		return ERR_PTR(-EBUSY);

	reg = kmem_cache_zalloc(ss_reg_cache, GFP_KERNEL_ACCOUNT);
	if (!reg)
		return ERR_PTR(-ENOMEM);
	table = ss_ops_get(sock->ops);
	if (!table) {
		kmem_cache_free(ss_reg_cache, reg);
		return ERR_PTR(-ENOMEM);
	}
	ss_reg_init(reg, sock);
	reg->connected = ss_was_connected(sock, sk);
	reg->connecting = ss_is_tcp(sk) && READ_ONCE(sk->sk_state) == TCP_SYN_SENT;

	/* The socket now holds this module, as it holds its protocol's. */
	__module_get(THIS_MODULE);
	ss_reg_publish(reg, table);
	return reg;
}

static void ss_reg_resolve(struct callback_head *head);

static int ss_match_file(const void *file, struct file *f, unsigned int fd)
{
	return f == file ? fd + 1 : 0;
}

/*
 * A socket accepted from a registered listener inherits its registration
 * (same sink, same mask) and reports FD_WRITE.  @child was allocated before
 * the connection was taken, so this cannot fail.
 */
static void ss_reg_inherit(struct ss_reg *parent, struct ss_ops *table,
			   struct ss_reg *child, struct socket *newsock)
{
	/*
	 * do_accept() copied the listener's ops into newsock and took a
	 * reference on their owner -- ours, unless the listener was
	 * registered between that copy and the call to us.
	 */
	bool holds_us = READ_ONCE(newsock->ops) == &table->ops;
	unsigned long flags;

	ss_reg_init(child, newsock);
	mutex_lock(&ss_reg_mutex);
	child->registrant = get_pid(parent->registrant);
	child->registrant_uid = parent->registrant_uid;
	spin_lock_irqsave(&parent->lock, flags);
	ss_sink_dup(&child->sink, &parent->sink);
	child->sink.sockfd = -1;
	child->mask = parent->mask;
	spin_unlock_irqrestore(&parent->lock, flags);

	if (child->sink.kind == SS_SINK_NONE) {
		/* Nothing to inherit: give the socket back its own ops. */
		ss_ops_disown(newsock, table);
		mutex_unlock(&ss_reg_mutex);
		put_pid(child->registrant);
		kmem_cache_free(ss_reg_cache, child);
		return;
	}

	child->connected = true;
	/* The socket holds this module and its protocol's, one of them
	 * taken by do_accept(); the protocol's is dropped in ss_release().
	 */
	__module_get(holds_us ? table->orig->owner : THIS_MODULE);
	if (child->sink.kind == SS_SINK_QUEUE) {
		list_add_tail(&child->queue_link, ss_queue_regs(child->sink.queue));
		/* The message carries the descriptor, known once accept()
		 * installs it: learn it on the way back to userspace.
		 */
		child->unresolved = true;
		init_task_work(&child->resolve, ss_reg_resolve);
		get_file(newsock->file);
		if (task_work_add(current, &child->resolve, TWA_RESUME)) {
			fput(newsock->file);
			child->unresolved = false;
		}
	}
	/* Registered sockets are non-blocking, inherited ones included. */
	ss_set_nonblock(newsock->file);
	ss_reg_publish(child, table);
	mutex_unlock(&ss_reg_mutex);
	ss_reg_check(child, SS_EV_ALL, 0);
}

static void ss_reg_resolve(struct callback_head *head)
{
	struct ss_reg *reg = container_of(head, struct ss_reg, resolve);
	struct file *file = reg->sock->file;
	int fd = iterate_fd(current->files, 0, ss_match_file, file) - 1;
	unsigned long flags;

	spin_lock_irqsave(&reg->lock, flags);
	if (reg->sink.kind == SS_SINK_QUEUE && reg->sink.sockfd < 0)
		reg->sink.sockfd = fd;
	reg->unresolved = false;
	ss_reg_deliver(reg, 0);
	spin_unlock_irqrestore(&reg->lock, flags);
	fput(file);
}

static int ss_accept(struct socket *sock, struct socket *newsock,
		     struct proto_accept_arg *arg)
{
	struct ss_ops *table = ss_ops_of(sock);
	struct ss_reg *reg = ss_reg_of(sock);
	struct ss_reg *child = NULL;
	int ret;

	/*
	 * Allocated first so that an accepted connection is never lost.  The
	 * socket a kernel accept() (@arg->kern) creates has no file and gets no
	 * registration; kernel_accept() gives it our ops after we return.
	 */
	if (reg && !arg->kern) {
		child = kmem_cache_zalloc(ss_reg_cache, GFP_KERNEL_ACCOUNT);
		if (!child) {
			ss_ops_disown(newsock, table);
			return -ENOMEM;
		}
	}
	ret = proto_ops_accept(table->orig, sock, newsock, arg);
	if (ret >= 0 && child) {
		ss_reg_inherit(reg, table, child, newsock);
	} else {
		if (child)
			kmem_cache_free(ss_reg_cache, child);
		ss_ops_disown(newsock, table);
	}
	if (reg)
		ss_reg_rearm(reg, SS_FD(ACCEPT));
	return ret;
}

/* Tear the registration down; the socket is in its last close. */
static void ss_reg_detach(struct ss_reg *reg, struct ss_ops *table)
{
	struct socket *sock = reg->sock;
	struct ss_sink none = {}, old;

	mutex_lock(&ss_reg_mutex);
	list_del(&reg->node);
	ss_regs_nr--;
	if (reg->hooked)
		ss_sk_unhook(sock->sk, table);
	else
		remove_wait_queue(&sock->wq.wait, &reg->wait);
	old = none;
	ss_reg_swap_sink(reg, &old, 0);
	WRITE_ONCE(SOCK_INODE(sock)->i_private, NULL);
	/* The protocol's ops back, if they are still ours (as kTLS does). */
	if (READ_ONCE(sock->ops) == &table->ops)
		WRITE_ONCE(sock->ops, table->orig);
	mutex_unlock(&ss_reg_mutex);
	cancel_work_sync(&reg->signal_work);
	ss_sink_put(&old);
}

/* A sock callback that began before the last close may still read it. */
static void ss_reg_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(ss_reg_cache, container_of(head, struct ss_reg, rcu));
}

static int ss_release(struct socket *sock)
{
	struct ss_ops *table = ss_ops_of(sock);
	const struct proto_ops *orig = table->orig;
	struct ss_reg *reg = ss_reg_of(sock);
	int ret;

	/* A socket with our ops but no registration (see struct ss_ops)
	 * holds this module instead of its protocol's; its sock may be a
	 * clone that carries our callbacks (see ss_sk_hookable_now()).
	 */
	if (!reg) {
		if (sock->sk)
			ss_sk_unhook(sock->sk, table);
		return orig->release(sock);
	}

	ss_reg_detach(reg, table);
	ret = orig->release(sock);
	module_put(orig->owner);
	put_pid(reg->registrant);
	call_rcu(&reg->rcu, ss_reg_free_rcu);
	return ret;
}

/* --- Entry points --- */

/**
 * ss_reg_select - register (or cancel) events on the underlying socket
 * @sock:   the socket (the caller holds a reference to its file)
 * @sockfd: the descriptor it was named by, for queue messages
 * @args:   sink, mask and message
 *
 * Replaces whatever registration the socket had, made through any
 * descriptor by any process; the previous sink receives nothing further.
 * Recorded events that were not fetched are kept.
 */
int ss_reg_select(struct socket *sock, int sockfd,
		  const struct sharedsock_select *args)
{
	struct ss_sink sink;
	unsigned long flags;
	struct ss_reg *reg;
	int err;

	err = ss_sink_get(&sink, args, sockfd);
	if (err)
		return err;

	mutex_lock(&ss_reg_mutex);
	reg = ss_reg_lookup(sock);
	if (!reg && args->events) {
		reg = ss_reg_attach(sock);
		if (IS_ERR(reg)) {
			err = PTR_ERR(reg);
			goto out_unlock;
		}
	}
	ss_set_nonblock(sock->file);
	if (!reg)
		goto out_unlock;

	ss_reg_swap_sink(reg, &sink, args->events);
	if (sink.kind != SS_SINK_NONE)
		ss_stat_add(SS_STAT_REGS_REPLACED, 1);
	/* Connected meanwhile by a connect() that began before us? */
	ss_reg_try_hook(reg, ss_ops_of(sock));
	put_pid(reg->registrant);
	reg->registrant = get_task_pid(current, PIDTYPE_TGID);
	reg->registrant_uid = current_uid();
	spin_lock_irqsave(&reg->lock, flags);
	/* A new window registration re-posts current conditions. */
	if (reg->sink.kind == SS_SINK_QUEUE)
		reg->armed |= SS_FD(READ) | SS_FD(OOB) | SS_FD(ACCEPT) |
			      SS_FD(WRITE);
	/* Deliver what was recorded while it was not selected. */
	ss_reg_deliver(reg, reg->pending);
	spin_unlock_irqrestore(&reg->lock, flags);
	ss_reg_check(reg, SS_EV_ALL, 0);
out_unlock:
	mutex_unlock(&ss_reg_mutex);
	ss_sink_put(&sink);
	return err;
}

/* Reads per reset of an EFD_SEMAPHORE eventfd, which gives one per read. */
#define SS_EVENTFD_RESET_MAX	64

/*
 * Reset an eventfd as WSAEnumNetworkEvents resets its event object:
 * eventfd_ctx_remove_wait_queue() reads the counter to zero under the
 * eventfd's lock, and removing an entry that is on no list does nothing.
 */
static void ss_eventfd_reset(struct eventfd_ctx *evt)
{
	wait_queue_entry_t unqueued;
	int reads = SS_EVENTFD_RESET_MAX;
	u64 count;

	do {
		INIT_LIST_HEAD(&unqueued.entry);
	} while (!eventfd_ctx_remove_wait_queue(evt, &unqueued, &count) &&
		 --reads);
}

/**
 * ss_reg_enum - fetch and clear the recorded events that are selected
 * @sock: the socket (the caller holds a reference to its file)
 * @evt:   eventfd to reset (or, peeking, to compare), or NULL
 * @queue: peeking: queue to compare, or NULL
 * @args:  @events, @mask, @errors and @sink_current are filled in
 *
 * Fetching and resetting happen under the registration's lock, so an event
 * recorded meanwhile is either fetched now or signalled afresh.
 */
void ss_reg_enum(struct socket *sock, struct eventfd_ctx *evt,
		 struct ss_queue *queue, struct sharedsock_enum *args)
{
	struct ss_reg *reg = ss_reg_lookup(sock);
	bool peek = args->flags & SHAREDSOCK_ENUM_PEEK;
	unsigned long flags, bit, bits;
	u32 events;

	args->events = 0;
	args->mask = 0;
	args->sink_current = 0;
	memset(args->errors, 0, sizeof(args->errors));
	if (!reg) {
		if (evt && !peek)
			ss_eventfd_reset(evt);
		return;
	}
	spin_lock_irqsave(&reg->lock, flags);
	args->mask = reg->mask;
	events = reg->pending & reg->mask;
	bits = events;
	for_each_set_bit(bit, &bits, SHAREDSOCK_FD_MAX_EVENTS) {
		int slot = ss_err_slot(bit);

		if (slot >= 0)
			args->errors[bit] = reg->errors[slot];
	}
	if (!peek) {
		reg->pending &= ~events;
		if (evt)
			ss_eventfd_reset(evt);
	} else if (reg->mask) {
		args->sink_current = (evt && reg->sink.kind == SS_SINK_EVENTFD &&
				 reg->sink.evt == evt) ||
				(queue && reg->sink.kind == SS_SINK_QUEUE &&
				 reg->sink.queue == queue);
	}
	spin_unlock_irqrestore(&reg->lock, flags);
	args->events = events;
}

/* Put back what ss_reg_enum() took, when it could not be handed out. */
void ss_reg_enum_undo(struct socket *sock, struct eventfd_ctx *evt,
		      const struct sharedsock_enum *args)
{
	struct ss_reg *reg = ss_reg_lookup(sock);
	unsigned long flags;

	if (!reg || (args->flags & SHAREDSOCK_ENUM_PEEK) || !args->events)
		return;
	spin_lock_irqsave(&reg->lock, flags);
	reg->pending |= args->events;
	if (evt)
		eventfd_signal(evt);
	spin_unlock_irqrestore(&reg->lock, flags);
}

/* The queue's file is closing: cancel every registration posting to it. */
void ss_regs_queue_closed(struct ss_queue *queue)
{
	struct ss_reg *reg, *next;

	mutex_lock(&ss_reg_mutex);
	list_for_each_entry_safe(reg, next, ss_queue_regs(queue), queue_link) {
		struct ss_sink none = {};

		ss_reg_swap_sink(reg, &none, 0);
		/* Our caller still holds the queue: this put cannot free it. */
		ss_sink_put(&none);
	}
	mutex_unlock(&ss_reg_mutex);
}

u32 ss_regs_count(void)
{
	return READ_ONCE(ss_regs_nr);
}

static void ss_reg_list_one(struct ss_reg *reg, struct sharedsock_reg_entry *e,
			    struct pid_namespace *ns)
{
	struct sock *sk = reg->sock->sk;
	unsigned long flags;

	memset(e, 0, sizeof(*e));
	e->socket_ino = SOCK_INODE(reg->sock)->i_ino;
	e->registrant_pid = pid_nr_ns(reg->registrant, ns);
	e->uid = from_kuid_munged(current_user_ns(), reg->registrant_uid);
	e->family = READ_ONCE(sk->sk_family);
	e->type = reg->sock->type;
	spin_lock_irqsave(&reg->lock, flags);
	switch (reg->sink.kind) {
	case SS_SINK_EVENTFD:
		e->sink = SHAREDSOCK_SINK_EVENTFD;
		break;
	case SS_SINK_QUEUE:
		e->sink = SHAREDSOCK_SINK_QUEUE;
		break;
	default:
		e->sink = ~0U;
	}
	e->mask = reg->mask;
	e->pending = reg->pending;
	spin_unlock_irqrestore(&reg->lock, flags);
}

/**
 * ss_regs_list - describe the registrations the caller may see
 * @entries: room for @room entries
 * @room:    size of @entries
 *
 * Return: the number of visible registrations, which may exceed @room.
 */
u32 ss_regs_list(struct sharedsock_reg_entry *entries, u32 room)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	bool all = capable(CAP_SYS_ADMIN);
	kuid_t uid = current_uid();
	struct ss_reg *reg;
	u32 total = 0;

	mutex_lock(&ss_reg_mutex);
	list_for_each_entry(reg, &ss_regs, node) {
		if (!all && !uid_eq(reg->registrant_uid, uid))
			continue;
		if (total < room)
			ss_reg_list_one(reg, &entries[total], ns);
		total++;
	}
	mutex_unlock(&ss_reg_mutex);
	return total;
}

int ss_regs_init(void)
{
	ss_reg_cache = kmem_cache_create("sharedsock_reg", sizeof(struct ss_reg),
					 0, SLAB_ACCOUNT, NULL);
	return ss_reg_cache ? 0 : -ENOMEM;
}

/* Every registered socket holds the module: none can be left here. */
void ss_regs_exit(void)
{
	WARN_ON(!list_empty(&ss_regs));
	/*
	 * Registrations still to free; and callbacks still running: a process
	 * context caller (AF_UNIX) may have called one and not yet got to its
	 * read-side section when the socket's last close unhooked it.
	 */
	rcu_barrier();
	synchronize_rcu_tasks();
	ss_ops_free_all();
	kmem_cache_destroy(ss_reg_cache);
}
