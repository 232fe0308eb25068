// SPDX-License-Identifier: GPL-2.0
/*
 * Readiness of TCP sockets from their sock callbacks, owned through the
 * module's ULP.
 *
 * A socket that carries the sharedsock ULP is the module's in the kernel's
 * own terms (ulp.c), as a kTLS or espintcp socket is kTLS's or espintcp's;
 * and as those ULPs replace the sock callbacks of the sockets they own
 * (tls_sw's sk_data_ready and sk_write_space, espintcp's sk_data_ready),
 * the ULP's init replaces sk_data_ready, sk_write_space, sk_state_change
 * and sk_error_report here, under the socket's lock and sk_callback_lock.
 * Every wake-up of a TCP socket goes through one of the four, so the
 * registration learns what changed without a wait entry on the socket's
 * queue, whose wake-up (an IRQ-saving lock, the walk, an indirect call)
 * would otherwise cost every packet of a socket nobody sleeps on
 * (Documentation/performance.rst).  UDP and AF_UNIX sockets, which have no
 * such owner, use the wait entry that their protocol's poll queues
 * (attach.c).
 *
 * The wrappers call the protocol's own callback after recording: first, so
 * that the data that raised the callback is there to be recorded before a
 * woken reader can take it away.  TCP's callbacks are the same for every
 * socket that nobody else hooked, IPv4 or IPv6; they are learnt from the
 * first socket hooked and never change, so that a wrapper still running as
 * the socket's close gives them back calls the right ones.  A socket whose
 * callbacks differ is not hooked, and gets the wait entry instead.
 *
 * A listener's children are clones that carry the hooked callbacks, the
 * ULP and the module's struct proto; each one's close gives the callbacks
 * back, and until it is destroyed it holds the module through the ULP.  A
 * kernel user that saved the hooked callbacks and puts them back after the
 * close (KCM) puts back wrappers that find no registration and call the
 * protocol's callbacks, in a module the socket still holds.
 */
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <net/sock.h>

#include "sockcb.h"
#include "sockstate.h"
#include "ulp.h"

enum ss_sk_cb {
	SS_SK_DATA_READY,
	SS_SK_WRITE_SPACE,
	SS_SK_STATE_CHANGE,
	SS_SK_ERROR_REPORT,
	SS_SK_CBS
};

/* TCP's own callbacks, in enum ss_sk_cb order; learnt once, then constant. */
static void (*ss_tcp_cb[SS_SK_CBS])(struct sock *sk);
static DEFINE_SPINLOCK(ss_tcp_cb_lock);
static bool ss_tcp_cb_learnt;

/* The wake-up key each callback stands for; 0: a state change. */
static const __poll_t ss_sk_keys[SS_SK_CBS] = {
	[SS_SK_DATA_READY] = SS_DATA_WAKE,
	[SS_SK_WRITE_SPACE] = SS_SPACE_WAKE,
	[SS_SK_STATE_CHANGE] = 0,
	[SS_SK_ERROR_REPORT] = EPOLLERR,
};

static void ss_sk_event(struct sock *sk, enum ss_sk_cb which)
{
	struct ss_reg *reg;

	rcu_read_lock();
	reg = ss_ulp_reg(sk);
	if (reg && (which != SS_SK_WRITE_SPACE || ss_sock_writable(sk))) {
		/* What the wait-queue path gets from skwq_has_sleeper(). */
		smp_mb();
		ss_reg_event(reg, sk, ss_sk_keys[which]);
	}
	rcu_read_unlock();
	ss_tcp_cb[which](sk);
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

/* Learn TCP's callbacks from @cb, once; whether @cb are they. */
static bool ss_tcp_cb_match(void (*const cb[SS_SK_CBS])(struct sock *sk))
{
	bool match;

	spin_lock(&ss_tcp_cb_lock);
	if (!ss_tcp_cb_learnt && cb[0] != ss_sk_data_ready) {
		memcpy(ss_tcp_cb, cb, sizeof(ss_tcp_cb));
		ss_tcp_cb_learnt = true;
	}
	match = ss_tcp_cb_learnt && !memcmp(cb, ss_tcp_cb, sizeof(ss_tcp_cb));
	spin_unlock(&ss_tcp_cb_lock);
	return match;
}

/*
 * The ULP's init, under the socket's lock: wrap @sk's callbacks if they
 * are TCP's own.
 */
void ss_sockcb_hook(struct sock *sk)
{
	void (*cb[SS_SK_CBS])(struct sock *sk);

	sock_owned_by_me(sk);
	write_lock_bh(&sk->sk_callback_lock);
	ss_sk_get_cbs(sk, cb);
	/*
	 * Not a sock another kernel user holds (KCM marks it so): its
	 * callbacks are that user's, and are not learnt as TCP's.
	 */
	if (!__locked_read_sk_user_data_with_flags(sk, 0) && ss_tcp_cb_match(cb))
		ss_sk_set_cbs(sk, ss_sk_hooks);
	write_unlock_bh(&sk->sk_callback_lock);
}

/* At the socket's close, under its lock: TCP's own back where ours are. */
void ss_sockcb_unhook(struct sock *sk)
{
	void (*cb[SS_SK_CBS])(struct sock *sk);
	int i;

	sock_owned_by_me(sk);
	write_lock_bh(&sk->sk_callback_lock);
	ss_sk_get_cbs(sk, cb);
	for (i = 0; i < SS_SK_CBS; i++)
		if (cb[i] == ss_sk_hooks[i])
			cb[i] = ss_tcp_cb[i];
	ss_sk_set_cbs(sk, cb);
	write_unlock_bh(&sk->sk_callback_lock);
}

/* Whether @sk's readiness comes from the wrapped callbacks. */
bool ss_sockcb_hooked(const struct sock *sk)
{
	return READ_ONCE(sk->sk_data_ready) == ss_sk_data_ready;
}
