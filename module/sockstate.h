/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What holds on a socket of a served kind: lockless reads of the
 * protocol's state, as its own poll makes them.  The readers of the hot
 * paths (every wake-up, every recv) are inline here; sockstate.c has the
 * rest.
 */
#ifndef _SHAREDSOCK_SOCKSTATE_H
#define _SHAREDSOCK_SOCKSTATE_H

#include <linux/net.h>
#include <linux/poll.h>
#include <linux/udp.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "rules.h"

/* The key of sock_def_readable(): data or a connection arrived. */
#define SS_DATA_WAKE	(EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND)
/* The key of sock_def_write_space() and sk_stream_write_space(): space. */
#define SS_SPACE_WAKE	(EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)

static inline bool ss_sock_is_tcp(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP;
}

static inline bool ss_sock_is_udp(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_DGRAM &&
	       (sk->sk_protocol == IPPROTO_UDP ||
		sk->sk_protocol == IPPROTO_UDPLITE);
}

static inline bool ss_sock_is_stream(const struct socket *sock)
{
	return sock->type == SOCK_STREAM || sock->type == SOCK_SEQPACKET;
}

static inline bool ss_sock_listening(const struct sock *sk)
{
	return READ_ONCE(sk->sk_state) == TCP_LISTEN;
}

static inline bool ss_sock_accept_pending(struct sock *sk)
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
static inline bool ss_tcp_readable(struct sock *sk)
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
static inline bool ss_sock_readable(struct sock *sk)
{
	if (ss_sock_is_tcp(sk))
		return ss_tcp_readable(sk);
	if (ss_sock_is_udp(sk) &&
	    !skb_queue_empty_lockless(&udp_sk(sk)->reader_queue))
		return true;
	return !skb_queue_empty_lockless(&sk->sk_receive_queue);
}

/* TCP urgent data is waiting and is not read inline: FD_OOB. */
static inline bool ss_sock_urgent(struct sock *sk)
{
	return ss_sock_is_tcp(sk) && !sock_flag(sk, SOCK_URGINLINE) &&
	       (READ_ONCE(tcp_sk(sk)->urg_data) & TCP_URG_VALID);
}

/*
 * A connection is up; for a datagram socket, it can send: an AF_UNIX one
 * always, a UDP one once bound (Windows reports FD_WRITE from the bind).
 */
static inline bool ss_sock_established(const struct socket *sock, const struct sock *sk)
{
	int state = READ_ONCE(sk->sk_state);

	if (!ss_sock_is_stream(sock))
		return sk->sk_family == AF_UNIX ||
		       READ_ONCE(inet_sk(sk)->inet_num);
	/* A passive Fast Open child may send before the handshake ends. */
	if (state == TCP_SYN_RECV && ss_sock_is_tcp(sk))
		return rcu_access_pointer(tcp_sk(sk)->fastopen_rsk);
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT;
}

/*
 * Room to send, as the protocol's write-space callback judges it before it
 * wakes anyone (sk_stream_write_space(), unix_write_space(),
 * sock_def_write_space()): it is called on every freed send buffer (UDP,
 * AF_UNIX), or whenever some space came back (TCP).
 */
static inline bool ss_sock_writable(struct sock *sk)
{
	int wmem = refcount_read(&sk->sk_wmem_alloc);

	if (ss_sock_is_tcp(sk))
		return __sk_stream_is_writeable(sk, 1);
	if (sk->sk_family == AF_UNIX)
		return (wmem << 2) <= READ_ONCE(sk->sk_sndbuf);
	return (wmem << 1) <= READ_ONCE(sk->sk_sndbuf);
}

/*
 * Look at @sk for the rules (rules.c); @obs->space and @obs->space_wake
 * are the caller's, from the wake-up key or from poll.
 */
static inline void ss_sock_observe(const struct socket *sock,
				   struct sock *sk, struct ss_obs *obs)
{
	int state = READ_ONCE(sk->sk_state);

	obs->listening = state == TCP_LISTEN;
	obs->sk_err = READ_ONCE(sk->sk_err);
	if (obs->listening) {
		obs->accept_pending = ss_sock_accept_pending(sk);
		return;
	}
	obs->readable = ss_sock_readable(sk);
	obs->urgent = ss_sock_urgent(sk);
	obs->established = ss_sock_established(sock, sk);
	obs->connect_failed = state == TCP_CLOSE && obs->sk_err;
	if (ss_sock_is_tcp(sk))
		obs->peer_closed = (1 << state) &
				   (TCPF_CLOSE_WAIT | TCPF_LAST_ACK |
				    TCPF_CLOSING | TCPF_TIME_WAIT | TCPF_CLOSE);
	else
		obs->rcv_shutdown = READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN;
}

/* What a wake-up with @key (0: a state change) may have changed. */
static inline unsigned int ss_wake_classes(__poll_t key)
{
	unsigned int wake = 0;

	if (!key)
		return SS_WAKE_IN | SS_WAKE_PRI;
	if (key & EPOLLIN)
		wake |= SS_WAKE_IN;
	if (key & (EPOLLIN | EPOLLPRI))
		wake |= SS_WAKE_PRI;
	if (key & EPOLLOUT)
		wake |= SS_WAKE_OUT;
	return wake;
}

/*
 * The classes of a wake-up whose key names only data and/or space, for
 * ss_rules_wake_is_noop(); 0 for any other (a state change, an error).
 */
static inline unsigned int ss_wake_pure(__poll_t key)
{
	if (!key || (key & ~(SS_DATA_WAKE | SS_SPACE_WAKE)))
		return 0;
	return ss_wake_classes(key);
}

/*
 * Whether a connect() that failed at once with @err tried to connect (no
 * route, refused, ...): Winsock reports that, on a non-blocking socket, as
 * FD_CONNECT with the error; an error for the arguments is nothing.
 */
static inline bool ss_connect_err_is_attempt(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ETIMEDOUT:
	case ECONNRESET:
		return true;
	default:
		return false;
	}
}

bool ss_sock_was_connected(const struct socket *sock, const struct sock *sk);
bool ss_sock_connecting(const struct sock *sk);
bool ss_sock_connected_before(const struct socket *sock, struct sock *sk);

#endif /* _SHAREDSOCK_SOCKSTATE_H */
