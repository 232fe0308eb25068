// SPDX-License-Identifier: GPL-2.0
/*
 * Readiness of connected sockets from their sock callbacks.
 *
 * Readiness of UDP sockets, and of connected TCP and AF_UNIX stream
 * sockets, comes from their sock callbacks (sk_data_ready, sk_write_space,
 * sk_state_change, sk_error_report), which the registration wraps as
 * sunrpc and kTLS do: every wake-up of these sockets goes through one of
 * them, and a socket nobody sleeps on then takes no wait-queue wake-up per
 * packet.  Other sockets -- listeners, whose TCP children would be clones
 * of our callbacks; AF_UNIX datagrams, whose writers are also woken
 * through their peer's queue -- use the registration's wait entry on the
 * socket's wait queue, the one poll and epoll wait on (reg.c).  Either way
 * a wake-up key says what changed.
 *
 * Hooking and unhooking are serialised by the socket's own lock: never
 * under ss_reg_mutex, so that a socket whose lock is held (a send stalled
 * on a page fault) holds up only itself.
 */
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <net/sock.h>

#include "sockstate.h"
#include "watch.h"

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
	/*
	 * Pairs with ss_reg_publish(): our ops imply i_private is set.  Our
	 * tables are the only proto_ops this module owns.
	 */
	ops = smp_load_acquire(&sock->ops);
	if (!ops || ops->owner != THIS_MODULE)
		return NULL;
	*table = container_of(ops, struct ss_ops, ops);
	return READ_ONCE(SOCK_INODE(sock)->i_private);
}

/* The wake-up key each callback stands for; 0: a state change. */
static const __poll_t ss_sk_keys[SS_SK_CBS] = {
	[SS_SK_DATA_READY] = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND,
	[SS_SK_WRITE_SPACE] = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND,
	[SS_SK_STATE_CHANGE] = 0,
	[SS_SK_ERROR_REPORT] = EPOLLERR,
};

/*
 * Callback @which of a hooked sock: ours, then the protocol's own.  Ours
 * first, so that it looks at the socket before anyone the protocol wakes
 * (a thread asleep in poll() or recv()) can take the data away: the data
 * that raised the callback is there to be recorded.
 */
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
	if (reg && (which != SS_SK_WRITE_SPACE || ss_sock_writable(sk))) {
		/* What the wait-queue path gets from skwq_has_sleeper(). */
		smp_mb();
		ss_reg_event(reg, sk, ss_sk_keys[which]);
	}
	if (table)
		table->sk_cb[which](sk);
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

	return ss_sock_is_tcp(sk) || ss_sock_is_udp(sk) ||
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
void ss_sk_learn(struct socket *sock, struct ss_ops *table)
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
 * listened).  Returns whether they are ours.  Under the socket's lock.
 */
static bool ss_sk_hook(struct socket *sock, struct ss_ops *table)
{
	void (*cb[SS_SK_CBS])(struct sock *sk);
	struct sock *sk = sock->sk;
	bool hooked = false;
	void *owner;

	if (!ss_sk_hookable(sock) || !table->sk_cb[0])
		return false;
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
	return hooked;
}

/*
 * Give @sk back its protocol's callbacks where they are still ours; the
 * mark goes only if it is ours (a kernel user that does not look at it
 * may have replaced it, and put our callbacks back since).
 */
void ss_sk_unhook(struct sock *sk, const struct ss_ops *table)
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
 * in between is recorded twice at worst, which records nothing new.  The
 * caller holds the socket's file; the socket's lock serialises this with
 * ss_sk_unhook_reg() and with listen().
 */
void ss_sk_try_hook(struct ss_reg *reg, struct ss_ops *table)
{
	struct socket *sock = reg->sock;

	if (READ_ONCE(reg->hooked) || !ss_sk_hookable(sock) || !table->sk_cb[0])
		return;
	lock_sock(sock->sk);
	if (!reg->hooked && ss_sk_hook(sock, table)) {
		remove_wait_queue(&sock->wq.wait, &reg->wait);
		WRITE_ONCE(reg->hooked, true);
	}
	release_sock(sock->sk);
}

/* And back, the entry first: @reg's socket is about to listen. */
void ss_sk_unhook_reg(struct ss_reg *reg, struct ss_ops *table)
{
	struct socket *sock = reg->sock;

	if (!READ_ONCE(reg->hooked))
		return;
	lock_sock(sock->sk);
	if (reg->hooked) {
		add_wait_queue(&sock->wq.wait, &reg->wait);
		ss_sk_unhook(sock->sk, table);
		WRITE_ONCE(reg->hooked, false);
	}
	release_sock(sock->sk);
}

/*
 * At module exit: callbacks still running.  A process context caller
 * (AF_UNIX) may have called one and not yet got to its read-side section
 * when the socket's last close unhooked it.
 */
void ss_sk_exit(void)
{
	synchronize_rcu_tasks();
}
